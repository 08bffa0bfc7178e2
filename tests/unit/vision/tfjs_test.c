/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TF.js loader: a small in-memory graph model checked against a naive
 * evaluation (HWIO filter transposed, base64 attributes, float16 weights,
 * Sub with a constant on either side, an Identity output, post-processing
 * cut off), malformed models rejected, and CenterNet compared with a numpy
 * evaluation when PW_MODEL_DIR is set.
 */
#include "core/base.h"

#include <math.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/err.h"
#include "vision/tfjs.h"

/*
 * x [1,4,4,2] -> conv 3x3 stride 2 SAME + bias + Relu -> y [1,2,2,3]
 * -> sub = y - c -> rsub = c2 - sub -> out (Identity) -> TopKV2 (not
 * loaded).  "U0FNRQ==" is SAME, "TkhXQw==" NHWC, "Qmlhc0FkZA==" BiasAdd,
 * "UmVsdQ==" Relu.  Weights: w float32 [3,3,2,3], b float16 [3], c float32
 * scalar, c2 float16 scalar.
 */
static const char model_json[] =
    "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":"
    "{\"dim\":[{\"size\":\"-1\"},{\"size\":\"4\"},{\"size\":\"4\"},"
    "{\"size\":\"2\"}]}}}},"
    "{\"name\":\"w\",\"op\":\"Const\"},{\"name\":\"b\",\"op\":\"Const\"},"
    "{\"name\":\"c\",\"op\":\"Const\"},{\"name\":\"c2\",\"op\":\"Const\"},"
    "{\"name\":\"k\",\"op\":\"Const\"},"
    "{\"name\":\"y\",\"op\":\"_FusedConv2D\",\"input\":[\"x\",\"w\",\"b\"],"
    "\"attr\":{\"strides\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}},"
    "\"padding\":{\"s\":\"U0FNRQ==\"},\"data_format\":{\"s\":\"TkhXQw==\"},"
    "\"dilations\":{\"list\":{\"i\":[1,1,1,1]}},"
    "\"fused_ops\":{\"list\":{\"s\":[\"Qmlhc0FkZA==\",\"UmVsdQ==\"]}}}},"
    "{\"name\":\"sub\",\"op\":\"Sub\",\"input\":[\"y\",\"c\"]},"
    "{\"name\":\"rsub\",\"op\":\"Sub\",\"input\":[\"c2\",\"sub:0\"]},"
    "{\"name\":\"out\",\"op\":\"Identity\",\"input\":[\"rsub\"]},"
    "{\"name\":\"topk\",\"op\":\"TopKV2\",\"input\":[\"out\",\"k\"]}"
    "]},\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":["
    "{\"name\":\"w\",\"shape\":[3,3,2,3],\"dtype\":\"float32\"},"
    "{\"name\":\"b\",\"shape\":[3],\"dtype\":\"float32\","
    "\"quantization\":{\"dtype\":\"float16\",\"original_dtype\":\"float32\"}},"
    "{\"name\":\"c\",\"shape\":[],\"dtype\":\"float32\"},"
    "{\"name\":\"c2\",\"shape\":[],\"dtype\":\"float32\","
    "\"quantization\":{\"dtype\":\"float16\"}},"
    "{\"name\":\"k\",\"shape\":[],\"dtype\":\"int32\"}"
    "]}]}";

#define N_W       (3 * 3 * 2 * 3)
#define SHARD_LEN (N_W * 4 + 3 * 2 + 4 + 2 + 4)

struct small_model {
    float w[N_W];   /* HWIO */
    float b[3];     /* exactly representable in float16 */
    float c, c2;
    uint8_t shard[SHARD_LEN];
};

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t v;

    memcpy(&v, &f, 4);
    put_u16(p, (uint16_t)v);
    put_u16(p + 2, (uint16_t)(v >> 16));
}

static void make_small_model(struct small_model *m)
{
    /* float16 bit patterns of 0.5, -0.25, 1.5 and 2.0. */
    const uint16_t b16[3] = {0x3800, 0xb400, 0x3e00};
    uint8_t *p = m->shard;

    for (int i = 0; i < N_W; i++) {
        m->w[i] = (float)((i * 7) % 11 - 5) / 8.0f;
        put_f32(p, m->w[i]);
        p += 4;
    }
    m->b[0] = 0.5f;
    m->b[1] = -0.25f;
    m->b[2] = 1.5f;
    for (int i = 0; i < 3; i++) {
        put_u16(p, b16[i]);
        p += 2;
    }
    m->c = 0.75f;
    put_f32(p, m->c);
    p += 4;
    m->c2 = 2.0f;
    put_u16(p, 0x4000);
    p += 2;
    put_f32(p, 0); /* k: an int32 zero has the same bytes */
}

static void test_small_model_matches_naive(void **state)
{
    const char *outputs[] = {"out"};
    struct small_model m;
    struct nn_graph g;
    struct nn_exec *e = NULL;
    float x[32];
    const float *y;

    (void)state;
    make_small_model(&m);
    for (int i = 0; i < 32; i++)
        x[i] = (float)((i * 5) % 9) - 4.0f;
    assert_int_equal(tfjs_load_mem(model_json, strlen(model_json), m.shard,
                                   sizeof(m.shard), outputs, 1, &g),
                     0);
    assert_string_equal(g.tensors[g.outputs[0]].name, "out");
    assert_int_equal(g.tensors[g.outputs[0]].dims[1], 2);
    assert_int_equal(g.tensors[g.outputs[0]].dims[3], 3);
    assert_int_equal(nn_exec_new(&g, NN_BACKEND_REFERENCE, 1, &e), 0);
    assert_int_equal(nn_exec_run(e, x), 0);
    y = nn_exec_output(e, 0);

    /* SAME at stride 2 on 4 pixels: no padding on top/left, one row and
     * column of zeros at the bottom/right. */
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++)
            for (int o = 0; o < 3; o++) {
                double acc = m.b[o];
                float want;
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                        for (int c = 0; c < 2; c++) {
                            int iy = oy * 2 + ky, ix = ox * 2 + kx;
                            if (iy > 3 || ix > 3)
                                continue;
                            acc += x[(iy * 4 + ix) * 2 + c] *
                                   m.w[((ky * 3 + kx) * 2 + c) * 3 + o];
                        }
                want = m.c2 - (MAX((float)acc, 0.0f) - m.c);
                assert_float_equal(y[(oy * 2 + ox) * 3 + o], want, 1e-5);
            }
    nn_exec_free(e);
    nn_graph_release(&g);
}

static int load_small(const char *json, size_t shard_len, const char *output)
{
    struct small_model m;
    struct nn_graph g;
    int rc;

    make_small_model(&m);
    rc = tfjs_load_mem(json, strlen(json), m.shard, shard_len,
                       (const char *[]){output}, 1, &g);
    nn_graph_release(&g);
    return rc;
}

/* model_json with its first occurrence of from replaced by to. */
static char *edited(const char *from, const char *to)
{
    const char *at = strstr(model_json, from);

    assert_non_null(at);
    return xasprintf("%.*s%s%s", (int)(at - model_json), model_json, to,
                     at + strlen(from));
}

static void test_rejects_bad_models(void **state)
{
    char *json;

    (void)state;
    assert_int_equal(load_small(model_json, SHARD_LEN, "nope"),
                     ERR_NOT_FOUND);
    /* Post-processing past the cut is unsupported when asked for. */
    assert_int_equal(load_small(model_json, SHARD_LEN, "topk"), ERR_UNSUPPORTED);
    /* The shard is shorter than the manifest says. */
    assert_int_equal(load_small(model_json, 20, "out"), ERR_CORRUPT);
    assert_int_equal(load_small("{\"modelTopology\":", SHARD_LEN, "out"),
                     ERR_CORRUPT);
    assert_int_equal(load_small("[]", SHARD_LEN, "out"), ERR_CORRUPT);

    /* A cycle: y reads out. */
    json = edited("[\"x\",\"w\",\"b\"]", "[\"out\",\"w\",\"b\"]");
    assert_int_equal(load_small(json, SHARD_LEN, "out"), ERR_CORRUPT);
    free(json);

    /* Bad base64 in the padding attribute. */
    json = edited("U0FNRQ==", "U0F*RQ==");
    assert_int_equal(load_small(json, SHARD_LEN, "out"), ERR_CORRUPT);
    free(json);

    /* EXPLICIT padding is not handled. */
    json = edited("U0FNRQ==", "RVhQTElDSVQ=");
    assert_int_equal(load_small(json, SHARD_LEN, "out"), ERR_UNSUPPORTED);
    free(json);

    /* Strides of the wrong length. */
    json = edited("[\"1\",\"2\",\"2\",\"1\"]", "[\"2\",\"2\"]");
    assert_int_equal(load_small(json, SHARD_LEN, "out"), ERR_CORRUPT);
    free(json);

    /* An input naming no node. */
    json = edited("[\"rsub\"]", "[\"ghost\"]");
    assert_int_equal(load_small(json, SHARD_LEN, "out"), ERR_CORRUPT);
    free(json);

    /* A negative dimension in the manifest. */
    json = edited("[3,3,2,3]", "[3,-3,2,3]");
    assert_int_equal(load_small(json, SHARD_LEN, "out"), ERR_CORRUPT);
    free(json);

    /* Duplicate node names. */
    json = edited("\"name\":\"c2\"", "\"name\":\"c\"");
    assert_int_equal(load_small(json, SHARD_LEN, "out"), ERR_CORRUPT);
    free(json);
}

static void test_shard_paths_checked(void **state)
{
    char dir[] = "/tmp/tfjs_test_XXXXXX";
    char *json_path, *bin_path, *json;
    struct small_model m;
    struct nn_graph g;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    json_path = xasprintf("%s/model.json", dir);
    bin_path = xasprintf("%s/m.bin", dir);
    make_small_model(&m);
    f = fopen(bin_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m.shard, 1, sizeof(m.shard), f), sizeof(m.shard));
    fclose(f);

    f = fopen(json_path, "wb");
    assert_non_null(f);
    fputs(model_json, f);
    fclose(f);
    assert_int_equal(tfjs_load(json_path, (const char *[]){"out"}, 1, &g), 0);
    nn_graph_release(&g);

    json = edited("m.bin", "../m.bin");
    f = fopen(json_path, "wb");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    assert_int_equal(tfjs_load(json_path, (const char *[]){"out"}, 1, &g),
                     ERR_CORRUPT);
    free(json);

    remove(json_path);
    remove(bin_path);
    rmdir(dir);
    free(json_path);
    free(bin_path);
}

/*
 * CenterNet from @vladmandic/human 3.3.6 on x[i] = (i * 37) % 255 (RGB
 * 0..255, 1x512x512x3).  Expected values from a throwaway numpy evaluation
 * of the same JSON graph (float16 weights widened, TF SAME padding, legacy
 * bilinear resize): for each output, f = y.ravel() and
 * f[k * 7919 % f.size] for k = 0..5, plus f.min() and f.max().
 */
static void test_centernet_matches_numpy(void **state)
{
    static const char *const outputs[] = {"tower_0/keypoints", "tower_0/wh"};
    static const float want[2][8] = {
        {0.023551f, 0.001517f, 0.000465f, 0.001517f, 0.001199f, 0.000590f,
         0.000008f, 0.347100f},
        {1.747883f, 54.937061f, 35.015091f, 183.764313f, 63.588715f,
         205.599197f, -0.808062f, 315.355591f},
    };
    static const int want_c[2] = {80, 4};
    const char *dir = getenv("PW_MODEL_DIR");
    struct nn_graph g;
    struct nn_exec *e = NULL;
    char *path;
    float *x;

    (void)state;
    if (!dir || !*dir)
        skip();
    path = xasprintf("%s/centernet.json", dir);
    assert_int_equal(tfjs_load(path, outputs, 2, &g), 0);
    assert_int_equal(nn_tensor_count(&g.tensors[g.input]), 512 * 512 * 3);
    x = xmalloc(512 * 512 * 3 * sizeof(float));
    for (size_t i = 0; i < 512 * 512 * 3; i++)
        x[i] = (float)((i * 37) % 255);
    assert_int_equal(nn_exec_new(&g, NN_BACKEND_REFERENCE, 1, &e), 0);
    assert_int_equal(nn_exec_run(e, x), 0);

    for (int o = 0; o < 2; o++) {
        const struct nn_tensor *t = &g.tensors[g.outputs[o]];
        const float *y = nn_exec_output(e, o);
        size_t count = nn_tensor_count(t);
        float lo = y[0], hi = y[0];

        assert_string_equal(t->name, outputs[o]);
        assert_int_equal(t->rank, 4);
        assert_int_equal(t->dims[1], 128);
        assert_int_equal(t->dims[2], 128);
        assert_int_equal(t->dims[3], want_c[o]);
        for (size_t i = 0; i < count; i++) {
            lo = MIN(lo, y[i]);
            hi = MAX(hi, y[i]);
        }
        if (o == 0) {
            /* Sigmoid outputs. */
            assert_true(lo >= 0.0f);
            assert_true(hi <= 1.0f);
        }
        for (size_t k = 0; k < 6; k++)
            assert_float_equal(y[k * 7919 % count], want[o][k],
                               1e-4f * (1 + fabsf(want[o][k])));
        assert_float_equal(lo, want[o][6], 1e-4f * (1 + fabsf(want[o][6])));
        assert_float_equal(hi, want[o][7], 1e-4f * (1 + fabsf(want[o][7])));
    }
    nn_exec_free(e);
    nn_graph_release(&g);
    free(x);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_model_matches_naive),
        cmocka_unit_test(test_rejects_bad_models),
        cmocka_unit_test(test_shard_paths_checked),
        cmocka_unit_test(test_centernet_matches_numpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
