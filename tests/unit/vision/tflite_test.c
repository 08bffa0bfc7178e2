/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TFLite loader: float16 conversion, rejection of malformed bytes, and the
 * MediaPipe BlazeFace models run on the reference back end against values
 * from the numpy oracle.  Model tests need PW_MODEL_DIR and skip without it.
 */
#include "core/base.h"

#include <math.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/file.h"
#include "vision/nn_int.h"
#include "vision/tflite.h"

static void test_half_to_float(void **state)
{
    (void)state;
    assert_true(nn__half_to_float(0x0000) == 0.0f);
    assert_true(signbit(nn__half_to_float(0x8000)));
    assert_true(nn__half_to_float(0x3c00) == 1.0f);
    assert_true(nn__half_to_float(0xc000) == -2.0f);
    assert_true(nn__half_to_float(0x3555) == 0x1.554p-2f);
    assert_true(nn__half_to_float(0x7bff) == 65504.0f);
    /* Smallest subnormal 2^-24 and largest subnormal 1023 * 2^-24. */
    assert_true(nn__half_to_float(0x0001) == 0x1p-24f);
    assert_true(nn__half_to_float(0x03ff) == 1023.0f * 0x1p-24f);
    assert_true(nn__half_to_float(0x0400) == 0x1p-14f);
    assert_true(isinf(nn__half_to_float(0x7c00)));
    assert_true(nn__half_to_float(0xfc00) < 0);
    assert_true(isinf(nn__half_to_float(0xfc00)));
    assert_true(isnan(nn__half_to_float(0x7e00)));
    assert_true(isnan(nn__half_to_float(0x7c01)));
}

static void test_rejects_garbage(void **state)
{
    struct nn_graph g;
    uint8_t buf[64] = {0};

    (void)state;
    assert_int_equal(tflite_load_mem(buf, 0, &g), ERR_CORRUPT);

    /* Right identifier, root offset past the end. */
    memset(buf, 0, sizeof(buf));
    memcpy(buf + 4, "TFL3", 4);
    buf[0] = 0xf0;
    assert_int_equal(tflite_load_mem(buf, sizeof(buf), &g), ERR_CORRUPT);

    /* Root table whose vtable offset points before the buffer. */
    buf[0] = 8;
    buf[8] = 0x40;
    assert_int_equal(tflite_load_mem(buf, sizeof(buf), &g), ERR_CORRUPT);

    /* Wrong identifier. */
    memcpy(buf + 4, "XXXX", 4);
    assert_int_equal(tflite_load_mem(buf, sizeof(buf), &g), ERR_CORRUPT);
    assert_int_equal(g.n_tensors, 0);
}

static void test_missing_file(void **state)
{
    struct nn_graph g;

    (void)state;
    assert_int_equal(tflite_load("/nonexistent/model.tflite", &g),
                     ERR_NOT_FOUND);
}

static char *model_path(const char *file)
{
    const char *dir = getenv("PW_MODEL_DIR");

    if (!dir || !*dir)
        return NULL;
    return xasprintf("%s/%s", dir, file);
}

/* The deterministic input the expected values below were computed on. */
static float *synthetic_input(size_t n)
{
    float *x = xmalloc(n * sizeof(float));

    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 37) % 255) / 127.5f - 1.0f;
    return x;
}

struct expected_output {
    const char *name;
    int rank;
    int dims[3];
    float at[6]; /* values at flat index k * 97 % count, k = 0..5 */
};

/*
 * Run model file on synthetic_input() and compare with the numpy oracle:
 *   x = (((np.arange(n) * 37) % 255).astype(np.float32)
 *        / np.float32(127.5) - 1).reshape(1, size, size, 3)
 *   outs, names = tflite_np.Model(path).run(x)
 * printing f[k * 97 % f.size] for k in 0..5 of each flattened output.
 */
static void check_model(const char *file, int size,
                        const struct expected_output *want)
{
    char *path = model_path(file);
    struct nn_graph g;
    struct nn_exec *e = NULL;
    const struct nn_tensor *in;
    float *x;

    if (!path)
        skip();
    assert_int_equal(tflite_load(path, &g), 0);
    in = &g.tensors[g.input];
    assert_int_equal(in->dims[1], size);
    assert_int_equal(in->dims[2], size);
    assert_int_equal(in->dims[3], 3);
    assert_int_equal(g.n_outputs, 2);

    x = synthetic_input(nn_tensor_count(in));
    assert_int_equal(nn_exec_new(&g, NN_BACKEND_REFERENCE, 1, &e), 0);
    assert_int_equal(nn_exec_run(e, x), 0);
    for (int o = 0; o < 2; o++) {
        const struct nn_tensor *t = &g.tensors[g.outputs[o]];
        const float *y = nn_exec_output(e, o);
        size_t count = nn_tensor_count(t);

        assert_string_equal(t->name, want[o].name);
        assert_int_equal(t->rank, want[o].rank);
        assert_memory_equal(t->dims, want[o].dims, sizeof(want[o].dims));
        for (size_t k = 0; k < 6; k++) {
            float got = y[k * 97 % count], exp = want[o].at[k];
            if (fabsf(got - exp) > 1e-4f * (1 + fabsf(exp)))
                fail_msg("%s[%zu]: got %.6f, want %.6f", t->name,
                         k * 97 % count, (double)got, (double)exp);
        }
    }
    nn_exec_free(e);
    nn_graph_release(&g);
    free(x);
    free(path);
}

static void test_full_range_matches_oracle(void **state)
{
    static const struct expected_output want[2] = {
        {"reshaped_regressor_face_4", 3, {1, 2304, 16},
         {-3.064083f, -1.888833f, 10.475738f, 11.243990f, -5.235095f,
          -3.778359f}},
        {"reshaped_classifier_face_4", 3, {1, 2304, 1},
         {-7.714449f, -4.324010f, -4.614822f, -4.431470f, -4.353992f,
          -4.882804f}},
    };

    (void)state;
    check_model("face_detection_full_range.tflite", 192, want);
}

static void test_short_range_matches_oracle(void **state)
{
    static const struct expected_output want[2] = {
        {"regressors", 3, {1, 896, 16},
         {0.614340f, 0.135148f, 23.005939f, 24.158833f, -3.786872f,
          -3.503488f}},
        {"classificators", 3, {1, 896, 1},
         {-4.665186f, -3.397909f, -3.873860f, -3.096527f, -3.812905f,
          -3.464492f}},
    };

    (void)state;
    check_model("face_detection_short_range.tflite", 128, want);
}

/*
 * Truncations and byte flips of a real model load or fail cleanly; under
 * the sanitizer build this is where a missed bounds check would show.
 */
static void test_damaged_model_fails_cleanly(void **state)
{
    char *path = model_path("face_detection_short_range.tflite");
    uint8_t *data, *copy;
    size_t len;
    uint32_t seed = 7;
    struct nn_graph g;

    (void)state;
    if (!path)
        skip();
    assert_int_equal(file_read_all(path, TFLITE_MAX_FILE_BYTES, &data, &len),
                     0);
    copy = xmalloc(len);
    for (size_t cut = 0; cut < len; cut += len / 40 + 1) {
        int rc = tflite_load_mem(data, cut, &g);
        assert_true(rc < 0);
        assert_int_equal(g.n_tensors, 0);
    }
    for (int round = 0; round < 60; round++) {
        int rc;
        memcpy(copy, data, len);
        for (int k = 0; k < 8; k++) {
            /* Half the flips land in the first and last 8 KiB, where the
             * root table and the tensor and operator tables sit. */
            size_t span = k % 2 ? len : MIN(len, (size_t)8192);
            size_t pos;
            seed = seed * 1103515245u + 12345u;
            pos = (seed >> 8) % span;
            if (k % 4 == 2)
                pos = len - 1 - pos;
            copy[pos] ^= (uint8_t)(seed >> 3 | 1);
        }
        rc = tflite_load_mem(copy, len, &g);
        assert_true(rc == 0 || rc == ERR_CORRUPT || rc == ERR_UNSUPPORTED ||
                    rc == ERR_TOO_BIG);
        nn_graph_release(&g);
    }
    free(copy);
    free(data);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_to_float),
        cmocka_unit_test(test_rejects_garbage),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_full_range_matches_oracle),
        cmocka_unit_test(test_short_range_matches_oracle),
        cmocka_unit_test(test_damaged_model_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
