/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XNNPACK back end: each op on small random graphs against naive formulas
 * written here, including TensorFlow SAME padding at stride 2 and the three
 * bilinear resize conventions, and against the reference back end.
 */
#include "core/base.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "core/err.h"
#include "vision/nn.h"
#include "vision/tfjs.h"
#include "vision/tflite.h"

/* Single-op results differ from the naive sums by rounding order only. */
#define OP_ABS_TOL 1e-4f
#define OP_REL_TOL 1e-4f

/*
 * Whole models: XNNPACK sums in another order and with FMA, and the
 * differences grow through the layers, so its outputs may differ from the
 * reference back end's by MODEL_ABS_TOL + MODEL_REL_TOL * |reference|.
 */
#define MODEL_ABS_TOL 2e-3f
#define MODEL_REL_TOL 1e-3f

static uint32_t rng_state = 12345;

static float rand_float(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *rand_data(size_t n)
{
    float *p = xmalloc(n * sizeof(float));

    for (size_t i = 0; i < n; i++)
        p[i] = rand_float();
    return p;
}

static size_t count_of(int rank, const int *dims)
{
    size_t n = 1;

    for (int i = 0; i < rank; i++)
        n *= (size_t)dims[i];
    return n;
}

static void graph_init(struct nn_graph *g)
{
    nn_graph_init(g);
}

/* Append a tensor; data (malloc'ed or NULL) is taken over by the graph. */
static int graph_tensor(struct nn_graph *g, int rank, const int *dims,
                        float *data)
{
    char name[16];
    int t;

    snprintf(name, sizeof(name), "t%d", g->n_tensors);
    t = nn_graph_add_tensor(g, name, rank, dims, data);
    assert_true(t >= 0);
    return t;
}

static void graph_node(struct nn_graph *g, const struct nn_node *n)
{
    assert_true(nn_graph_add_node(g, n) >= 0);
}

static void graph_free(struct nn_graph *g)
{
    nn_graph_release(g);
}

static struct nn_node node_of(enum nn_op op)
{
    struct nn_node n;

    memset(&n, 0, sizeof(n));
    n.op = op;
    n.stride_h = n.stride_w = 1;
    n.dilation_h = n.dilation_w = 1;
    return n;
}

static void assert_close_tol(const float *got, const float *want, size_t n,
                             float abs_tol, float rel_tol)
{
    for (size_t i = 0; i < n; i++) {
        float tol = abs_tol + rel_tol * fabsf(want[i]);

        if (fabsf(got[i] - want[i]) > tol)
            fail_msg("element %zu: got %.7g, expected %.7g", i,
                     (double)got[i], (double)want[i]);
    }
}

static void assert_close(const float *got, const float *want, size_t n)
{
    assert_close_tol(got, want, n, OP_ABS_TOL, OP_REL_TOL);
}

/*
 * Finish g, check that the inferred output dims are the ones the test
 * expects, then run g on input with both back ends: XNNPACK must match the
 * naive result and the reference back end.
 */
static void run_and_check(struct nn_graph *g, const float *input,
                          const float *want)
{
    const struct nn_tensor *out = &g->tensors[g->outputs[0]];
    int expected_dims[NN_MAX_RANK];
    int expected_rank = out->rank;
    struct nn_exec *ref = NULL, *xnn = NULL;
    size_t count;

    memcpy(expected_dims, out->dims, sizeof(expected_dims));
    assert_int_equal(nn_graph_finish(g), 0);
    out = &g->tensors[g->outputs[0]];
    assert_int_equal(out->rank, expected_rank);
    for (int i = 0; i < expected_rank; i++)
        assert_int_equal(out->dims[i], expected_dims[i]);
    count = nn_tensor_count(out);

    assert_int_equal(nn_exec_new(g, NN_BACKEND_REFERENCE, 1, &ref), 0);
    assert_int_equal(nn_exec_new(g, NN_BACKEND_XNNPACK, 1, &xnn), 0);
    assert_int_equal(nn_exec_run(ref, input), 0);
    assert_int_equal(nn_exec_run(xnn, input), 0);
    assert_close(nn_exec_output(xnn, 0), want, count);
    assert_close(nn_exec_output(xnn, 0), nn_exec_output(ref, 0), count);
    nn_exec_free(xnn);
    nn_exec_free(ref);
}

static float act(enum nn_activation a, float x)
{
    if (a == NN_ACT_RELU || a == NN_ACT_RELU6)
        x = MAX(x, 0.0f);
    if (a == NN_ACT_RELU6)
        x = MIN(x, 6.0f);
    return x;
}

static int same_before(enum nn_padding p, int in, int k, int s, int d)
{
    int out = (in + s - 1) / s;
    int total = MAX((out - 1) * s + (k - 1) * d + 1 - in, 0);

    return p == NN_PAD_SAME ? total / 2 : 0;
}

static int out_size(enum nn_padding p, int in, int k, int s, int d)
{
    if (p == NN_PAD_SAME)
        return (in + s - 1) / s;
    return (in - (k - 1) * d - 1) / s + 1;
}

struct conv_case {
    bool depthwise;
    int h, w, c, oc, k, stride, dilation;
    enum nn_padding padding;
    enum nn_activation activation;
    bool bias;
};

/* Naive NHWC convolution, OHWI weights or [1,kh,kw,c] depthwise weights. */
static float *naive_conv(const struct conv_case *cc, const float *in,
                         const float *w, const float *b, int oh, int ow)
{
    int oc = cc->depthwise ? cc->c : cc->oc;
    int pt = same_before(cc->padding, cc->h, cc->k, cc->stride, cc->dilation);
    int pl = same_before(cc->padding, cc->w, cc->k, cc->stride, cc->dilation);
    float *out = xcalloc((size_t)(oh * ow * oc), sizeof(float));

    for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++)
    for (int o = 0; o < oc; o++) {
        float sum = b ? b[o] : 0.0f;

        for (int ky = 0; ky < cc->k; ky++)
        for (int kx = 0; kx < cc->k; kx++) {
            int iy = y * cc->stride + ky * cc->dilation - pt;
            int ix = x * cc->stride + kx * cc->dilation - pl;

            if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w)
                continue;
            if (cc->depthwise) {
                sum += in[(iy * cc->w + ix) * cc->c + o] *
                       w[(ky * cc->k + kx) * cc->c + o];
                continue;
            }
            for (int i = 0; i < cc->c; i++)
                sum += in[(iy * cc->w + ix) * cc->c + i] *
                       w[((o * cc->k + ky) * cc->k + kx) * cc->c + i];
        }
        out[(y * ow + x) * oc + o] = act(cc->activation, sum);
    }
    return out;
}

static void check_conv(const struct conv_case *cc)
{
    struct nn_graph g;
    struct nn_node n = node_of(cc->depthwise ? NN_OP_DEPTHWISE_CONV2D
                                             : NN_OP_CONV2D);
    int oc = cc->depthwise ? cc->c : cc->oc;
    int oh = out_size(cc->padding, cc->h, cc->k, cc->stride, cc->dilation);
    int ow = out_size(cc->padding, cc->w, cc->k, cc->stride, cc->dilation);
    int in_dims[4] = {1, cc->h, cc->w, cc->c};
    int w_dims[4] = {cc->depthwise ? 1 : cc->oc, cc->k, cc->k,
                     cc->c};
    int b_dims[1] = {oc};
    int out_dims[4] = {1, oh, ow, oc};
    float *input = rand_data(count_of(4, in_dims));
    float *w = rand_data(count_of(4, w_dims));
    float *b = cc->bias ? rand_data((size_t)oc) : NULL;
    float *want = naive_conv(cc, input, w, b, oh, ow);

    graph_init(&g);
    g.input = graph_tensor(&g, 4, in_dims, NULL);
    n.n_in = cc->bias ? 3 : 2;
    n.in[0] = g.input;
    n.in[1] = graph_tensor(&g, 4, w_dims, w);
    if (cc->bias)
        n.in[2] = graph_tensor(&g, 1, b_dims, b);
    n.out = graph_tensor(&g, 4, out_dims, NULL);
    n.stride_h = n.stride_w = cc->stride;
    n.dilation_h = n.dilation_w = cc->dilation;
    n.padding = cc->padding;
    n.activation = cc->activation;
    graph_node(&g, &n);
    g.n_outputs = 1;
    g.outputs[0] = n.out;

    run_and_check(&g, input, want);
    graph_free(&g);
    free(input);
    free(want);
}

static void test_conv__same_and_valid(void **unused)
{
    static const struct conv_case cases[] = {
        {false, 7, 6, 3, 5, 3, 1, 1, NN_PAD_SAME, NN_ACT_NONE, true},
        {false, 8, 8, 4, 6, 3, 2, 1, NN_PAD_SAME, NN_ACT_RELU, true},
        {false, 9, 7, 3, 4, 3, 2, 1, NN_PAD_SAME, NN_ACT_RELU6, false},
        {false, 8, 9, 2, 3, 5, 2, 1, NN_PAD_SAME, NN_ACT_NONE, true},
        {false, 9, 9, 3, 4, 3, 1, 2, NN_PAD_SAME, NN_ACT_NONE, true},
        {false, 7, 8, 3, 4, 3, 2, 1, NN_PAD_VALID, NN_ACT_NONE, true},
        {false, 5, 5, 8, 7, 1, 1, 1, NN_PAD_VALID, NN_ACT_RELU, true},
    };

    (void)unused;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        check_conv(&cases[i]);
}

static void test_depthwise__same_and_valid(void **unused)
{
    static const struct conv_case cases[] = {
        {true, 7, 6, 5, 0, 3, 1, 1, NN_PAD_SAME, NN_ACT_NONE, true},
        {true, 8, 8, 4, 0, 3, 2, 1, NN_PAD_SAME, NN_ACT_RELU, true},
        {true, 9, 7, 3, 0, 5, 2, 1, NN_PAD_SAME, NN_ACT_RELU6, false},
        {true, 9, 9, 6, 0, 3, 1, 2, NN_PAD_SAME, NN_ACT_NONE, true},
        {true, 8, 7, 4, 0, 3, 2, 1, NN_PAD_VALID, NN_ACT_NONE, false},
    };

    (void)unused;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        check_conv(&cases[i]);
}

/* in[1] broadcast kinds: same shape, scalar, per-channel. */
static void check_binary(enum nn_op op, int b_rank, const int *b_dims,
                         bool b_const, enum nn_activation activation)
{
    struct nn_graph g;
    struct nn_node n = node_of(op);
    int dims[4] = {1, 4, 5, 6};
    size_t count = count_of(4, dims);
    size_t b_count = count_of(b_rank, b_dims);
    float *input = rand_data(count);
    float *b = rand_data(b_count);
    float *want = xmalloc(count * sizeof(float));

    for (size_t i = 0; i < count; i++) {
        float y = b[i % b_count];

        want[i] = act(activation, op == NN_OP_ADD ? input[i] + y
                                                  : input[i] * y);
    }

    graph_init(&g);
    g.input = graph_tensor(&g, 4, dims, NULL);
    n.n_in = 2;
    n.in[0] = g.input;
    n.activation = activation;
    if (b_const) {
        n.in[1] = graph_tensor(&g, b_rank, b_dims, b);
    } else {
        /* An activation operand: the input itself, same shape. */
        n.in[1] = g.input;
        for (size_t i = 0; i < count; i++)
            want[i] = act(activation, op == NN_OP_ADD ? input[i] + input[i]
                                                      : input[i] * input[i]);
        free(b);
    }
    n.out = graph_tensor(&g, 4, dims, NULL);
    graph_node(&g, &n);
    g.n_outputs = 1;
    g.outputs[0] = n.out;

    run_and_check(&g, input, want);
    graph_free(&g);
    free(input);
    free(want);
}

static void test_add_mul__broadcast(void **unused)
{
    static const int same[4] = {1, 4, 5, 6};
    static const int scalar[1] = {1};
    static const int channel[1] = {6};
    static const int channel4[4] = {1, 1, 1, 6};
    static const enum nn_op ops[2] = {NN_OP_ADD, NN_OP_MUL};

    (void)unused;
    for (int i = 0; i < 2; i++) {
        check_binary(ops[i], 4, same, true, NN_ACT_NONE);
        check_binary(ops[i], 1, scalar, true, NN_ACT_RELU);
        check_binary(ops[i], 1, channel, true, NN_ACT_RELU6);
        check_binary(ops[i], 4, channel4, true, NN_ACT_NONE);
        check_binary(ops[i], 4, same, false, NN_ACT_NONE);
    }
}

/* One-input ops whose output has the input's shape or a fixed new one. */
static void check_unary(struct nn_node n, int rank, const int *in_dims,
                        int out_rank, const int *out_dims, const float *input,
                        const float *want)
{
    struct nn_graph g;

    graph_init(&g);
    g.input = graph_tensor(&g, rank, in_dims, NULL);
    n.n_in = 1;
    n.in[0] = g.input;
    n.out = graph_tensor(&g, out_rank, out_dims, NULL);
    graph_node(&g, &n);
    g.n_outputs = 1;
    g.outputs[0] = n.out;
    run_and_check(&g, input, want);
    graph_free(&g);
}

static void test_activations__elementwise(void **unused)
{
    static const int dims[4] = {1, 3, 5, 7};
    size_t count = count_of(4, dims);
    float *input = rand_data(count);
    float *want = xmalloc(count * sizeof(float));

    (void)unused;
    for (size_t i = 0; i < count; i++)
        input[i] *= 8.0f; /* reach past 6 for RELU6 */

    for (size_t i = 0; i < count; i++)
        want[i] = MAX(input[i], 0.0f);
    check_unary(node_of(NN_OP_RELU), 4, dims, 4, dims, input, want);

    for (size_t i = 0; i < count; i++)
        want[i] = MIN(MAX(input[i], 0.0f), 6.0f);
    check_unary(node_of(NN_OP_RELU6), 4, dims, 4, dims, input, want);

    for (size_t i = 0; i < count; i++)
        want[i] = 1.0f / (1.0f + expf(-input[i]));
    check_unary(node_of(NN_OP_SIGMOID), 4, dims, 4, dims, input, want);

    free(input);
    free(want);
}

static void test_mean__over_height_width(void **unused)
{
    static const int dims[4] = {1, 6, 5, 9};
    static const int out_dims[4] = {1, 1, 1, 9};
    float *input = rand_data(count_of(4, dims));
    float want[9] = {0};

    (void)unused;
    for (int p = 0; p < 30; p++) {
        for (int c = 0; c < 9; c++)
            want[c] += input[p * 9 + c] / 30.0f;
    }
    check_unary(node_of(NN_OP_MEAN), 4, dims, 4, out_dims, input, want);
    free(input);
}

static void check_max_pool(int h, int w, int k, int s, enum nn_padding p)
{
    struct nn_node n = node_of(NN_OP_MAX_POOL2D);
    int c = 3;
    int oh = out_size(p, h, k, s, 1), ow = out_size(p, w, k, s, 1);
    int pt = same_before(p, h, k, s, 1), pl = same_before(p, w, k, s, 1);
    int dims[4] = {1, h, w, c};
    int out_dims[4] = {1, oh, ow, c};
    float *input = rand_data(count_of(4, dims));
    float *want = xmalloc(count_of(4, out_dims) * sizeof(float));

    for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++)
    for (int ch = 0; ch < c; ch++) {
        float m = -INFINITY;

        for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++) {
            int iy = y * s + ky - pt, ix = x * s + kx - pl;

            if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                m = MAX(m, input[(iy * w + ix) * c + ch]);
        }
        want[(y * ow + x) * c + ch] = m;
    }

    n.pool_h = n.pool_w = k;
    n.stride_h = n.stride_w = s;
    n.padding = p;
    check_unary(n, 4, dims, 4, out_dims, input, want);
    free(input);
    free(want);
}

static void test_max_pool__same_and_valid(void **unused)
{
    (void)unused;
    check_max_pool(7, 6, 3, 1, NN_PAD_SAME);
    check_max_pool(8, 7, 3, 2, NN_PAD_SAME);
    check_max_pool(8, 8, 2, 2, NN_PAD_VALID);
}

static void test_pad__zero_fill(void **unused)
{
    struct nn_node n = node_of(NN_OP_PAD);
    static const int dims[4] = {1, 3, 4, 2};
    static const int out_dims[4] = {1, 6, 5, 2};
    float *input = rand_data(count_of(4, dims));
    float *want = xcalloc(count_of(4, out_dims), sizeof(float));

    (void)unused;
    n.pad_before[1] = 1;
    n.pad_after[1] = 2;
    n.pad_after[2] = 1;
    for (int y = 0; y < 3; y++)
    for (int x = 0; x < 4; x++)
    for (int c = 0; c < 2; c++)
        want[((y + 1) * 5 + x) * 2 + c] = input[(y * 4 + x) * 2 + c];
    check_unary(n, 4, dims, 4, out_dims, input, want);
    free(input);
    free(want);
}

static void test_reshape__keeps_order(void **unused)
{
    static const int dims[4] = {1, 4, 3, 2};
    static const int out_dims[3] = {1, 12, 2};
    float *input = rand_data(24);

    (void)unused;
    check_unary(node_of(NN_OP_RESHAPE), 4, dims, 3, out_dims, input, input);
    free(input);
}

/* Naive bilinear resize with TensorFlow's three coordinate conventions. */
static float *naive_resize(const float *in, int h, int w, int c, int oh,
                           int ow, bool half_pixel, bool align)
{
    float *out = xmalloc((size_t)(oh * ow * c) * sizeof(float));
    float sy = align && oh > 1 ? (float)(h - 1) / (float)(oh - 1)
                               : (float)h / (float)oh;
    float sx = align && ow > 1 ? (float)(w - 1) / (float)(ow - 1)
                               : (float)w / (float)ow;

    for (int y = 0; y < oh; y++)
    for (int x = 0; x < ow; x++) {
        float fy = half_pixel ? ((float)y + 0.5f) * sy - 0.5f : (float)y * sy;
        float fx = half_pixel ? ((float)x + 0.5f) * sx - 0.5f : (float)x * sx;
        int y0, x0, y1, x1;
        float dy, dx;

        fy = MAX(fy, 0.0f);
        fx = MAX(fx, 0.0f);
        y0 = (int)fy;
        x0 = (int)fx;
        y1 = MIN(y0 + 1, h - 1);
        x1 = MIN(x0 + 1, w - 1);
        dy = fy - (float)y0;
        dx = fx - (float)x0;
        for (int ch = 0; ch < c; ch++) {
            float a = in[(y0 * w + x0) * c + ch];
            float b = in[(y0 * w + x1) * c + ch];
            float d = in[(y1 * w + x0) * c + ch];
            float e = in[(y1 * w + x1) * c + ch];
            float top = a + (b - a) * dx;
            float bottom = d + (e - d) * dx;

            out[(y * ow + x) * c + ch] = top + (bottom - top) * dy;
        }
    }
    return out;
}

static void test_resize__three_conventions(void **unused)
{
    static const int dims[4] = {1, 4, 5, 3};
    static const int out_dims[4] = {1, 8, 10, 3};
    static const bool modes[3][2] = {{false, false}, {true, false},
                                     {false, true}};
    float *input = rand_data(count_of(4, dims));

    (void)unused;
    for (int i = 0; i < 3; i++) {
        struct nn_node n = node_of(NN_OP_RESIZE_BILINEAR);
        float *want = naive_resize(input, 4, 5, 3, 8, 10, modes[i][0],
                                   modes[i][1]);

        n.out_h = 8;
        n.out_w = 10;
        n.half_pixel_centers = modes[i][0];
        n.align_corners = modes[i][1];
        check_unary(n, 4, dims, 4, out_dims, input, want);
        free(want);
    }
    free(input);
}

/* Concat of the input with constants along axis, in three pieces. */
static void check_concat(int axis)
{
    struct nn_graph g;
    struct nn_node n = node_of(NN_OP_CONCAT);
    int a[4] = {1, 3, 4, 2};
    int b[4] = {1, 3, 4, 2};
    int c[4] = {1, 3, 4, 2};
    int out[4] = {1, 3, 4, 2};
    int sizes[3] = {a[axis], 2, 3};
    const float *parts[3];
    float *input, *pb, *pc, *want;
    size_t outer = 1, inner = 1, pos = 0;

    b[axis] = sizes[1];
    c[axis] = sizes[2];
    out[axis] = sizes[0] + sizes[1] + sizes[2];
    input = rand_data(count_of(4, a));
    pb = rand_data(count_of(4, b));
    pc = rand_data(count_of(4, c));
    parts[0] = input;
    parts[1] = pb;
    parts[2] = pc;

    for (int i = 0; i < axis; i++)
        outer *= (size_t)out[i];
    for (int i = axis + 1; i < 4; i++)
        inner *= (size_t)out[i];
    want = xmalloc(count_of(4, out) * sizeof(float));
    for (size_t o = 0; o < outer; o++) {
        for (int p = 0; p < 3; p++) {
            size_t len = (size_t)sizes[p] * inner;

            memcpy(want + pos, parts[p] + o * len, len * sizeof(float));
            pos += len;
        }
    }

    graph_init(&g);
    g.input = graph_tensor(&g, 4, a, NULL);
    n.n_in = 3;
    n.in[0] = g.input;
    n.in[1] = graph_tensor(&g, 4, b, pb);
    n.in[2] = graph_tensor(&g, 4, c, pc);
    n.axis = axis == 3 ? -1 : axis;
    n.out = graph_tensor(&g, 4, out, NULL);
    graph_node(&g, &n);
    g.n_outputs = 1;
    g.outputs[0] = n.out;

    run_and_check(&g, input, want);
    graph_free(&g);
    free(input);
    free(want);
}

static void test_concat__each_axis(void **unused)
{
    (void)unused;
    for (int axis = 1; axis < 4; axis++)
        check_concat(axis);
}

/*
 * Two outputs, one of them also read by a later node, on a thread pool of
 * two: conv -> relu6 (output 0) -> mean (output 1).
 */
static void test_graph__two_outputs_threads(void **unused)
{
    struct nn_graph g;
    struct nn_node conv = node_of(NN_OP_CONV2D);
    struct nn_node relu = node_of(NN_OP_RELU6);
    struct nn_node mean = node_of(NN_OP_MEAN);
    static const struct conv_case cc = {false, 8, 8, 3, 4, 3, 2, 1,
                                        NN_PAD_SAME, NN_ACT_NONE, true};
    int in_dims[4] = {1, 8, 8, 3}, w_dims[4] = {4, 3, 3, 3}, b_dims[1] = {4};
    int mid_dims[4] = {1, 4, 4, 4}, mean_dims[4] = {1, 1, 1, 4};
    float *input = rand_data(192);
    float *w = rand_data(108), *b = rand_data(4);
    float *want = naive_conv(&cc, input, w, b, 4, 4);
    float want_mean[4] = {0};
    struct nn_exec *xnn = NULL;

    (void)unused;
    for (int i = 0; i < 64; i++) {
        want[i] = MIN(MAX(want[i], 0.0f), 6.0f);
        want_mean[i % 4] += want[i] / 16.0f;
    }

    graph_init(&g);
    g.input = graph_tensor(&g, 4, in_dims, NULL);
    conv.n_in = 3;
    conv.in[0] = g.input;
    conv.in[1] = graph_tensor(&g, 4, w_dims, w);
    conv.in[2] = graph_tensor(&g, 1, b_dims, b);
    conv.out = graph_tensor(&g, 4, mid_dims, NULL);
    conv.stride_h = conv.stride_w = 2;
    conv.padding = NN_PAD_SAME;
    graph_node(&g, &conv);
    relu.n_in = 1;
    relu.in[0] = conv.out;
    relu.out = graph_tensor(&g, 4, mid_dims, NULL);
    graph_node(&g, &relu);
    mean.n_in = 1;
    mean.in[0] = relu.out;
    mean.out = graph_tensor(&g, 4, mean_dims, NULL);
    graph_node(&g, &mean);
    g.n_outputs = 2;
    g.outputs[0] = relu.out;
    g.outputs[1] = mean.out;

    assert_int_equal(nn_graph_finish(&g), 0);
    assert_int_equal(nn_exec_new(&g, NN_BACKEND_XNNPACK, 2, &xnn), 0);
    for (int run = 0; run < 2; run++) {
        assert_int_equal(nn_exec_run(xnn, input), 0);
        assert_close(nn_exec_output(xnn, 0), want, 64);
        assert_close(nn_exec_output(xnn, 1), want_mean, 4);
    }
    nn_exec_free(xnn);
    graph_free(&g);
    free(input);
    free(want);
}

/*
 * Run a loaded model on both back ends with a deterministic input in
 * [-1, 1] and compare every output element.
 */
static void check_model(struct nn_graph *g)
{
    size_t count = nn_tensor_count(&g->tensors[g->input]);
    float *input = xmalloc(count * sizeof(float));
    struct nn_exec *ref = NULL, *xnn = NULL;
    double max_diff = 0.0;

    for (size_t i = 0; i < count; i++)
        input[i] = (float)((i * 7919) % 255) / 127.5f - 1.0f;

    assert_int_equal(nn_exec_new(g, NN_BACKEND_REFERENCE, 1, &ref), 0);
    assert_int_equal(nn_exec_new(g, NN_BACKEND_XNNPACK, 1, &xnn), 0);
    assert_int_equal(nn_exec_run(ref, input), 0);
    assert_int_equal(nn_exec_run(xnn, input), 0);
    for (int i = 0; i < g->n_outputs; i++) {
        size_t n = nn_tensor_count(&g->tensors[g->outputs[i]]);
        const float *want = nn_exec_output(ref, i);
        const float *got = nn_exec_output(xnn, i);

        for (size_t j = 0; j < n; j++)
            max_diff = MAX(max_diff, fabs((double)got[j] - want[j]));
        assert_close_tol(got, want, n, MODEL_ABS_TOL, MODEL_REL_TOL);
    }
    print_message("max |xnnpack - reference| = %.3g\n", max_diff);
    nn_exec_free(xnn);
    nn_exec_free(ref);
    free(input);
}

/* Return the path of file in $PW_MODEL_DIR, or skip the test when unset. */
static char *model_path(const char *file)
{
    const char *dir = getenv("PW_MODEL_DIR");

    if (!dir || !*dir)
        skip();
    return xasprintf("%s/%s", dir, file);
}

static void check_face_model(const char *file)
{
    char *path = model_path(file);
    struct nn_graph g;

    nn_graph_init(&g);
    assert_int_equal(tflite_load(path, &g), 0);
    check_model(&g);
    nn_graph_release(&g);
    free(path);
}

static void test_model__face_full_range(void **unused)
{
    (void)unused;
    check_face_model("face_detection_full_range.tflite");
}

static void test_model__face_short_range(void **unused)
{
    (void)unused;
    check_face_model("face_detection_short_range.tflite");
}

static void test_model__centernet(void **unused)
{
    static const char *const outputs[] = {"tower_0/keypoints", "tower_0/wh"};
    char *path = model_path("centernet.json");
    struct nn_graph g;

    (void)unused;
    nn_graph_init(&g);
    assert_int_equal(tfjs_load(path, outputs, 2, &g), 0);
    check_model(&g);
    nn_graph_release(&g);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv__same_and_valid),
        cmocka_unit_test(test_depthwise__same_and_valid),
        cmocka_unit_test(test_add_mul__broadcast),
        cmocka_unit_test(test_activations__elementwise),
        cmocka_unit_test(test_mean__over_height_width),
        cmocka_unit_test(test_max_pool__same_and_valid),
        cmocka_unit_test(test_pad__zero_fill),
        cmocka_unit_test(test_reshape__keeps_order),
        cmocka_unit_test(test_resize__three_conventions),
        cmocka_unit_test(test_concat__each_axis),
        cmocka_unit_test(test_graph__two_outputs_threads),
        cmocka_unit_test(test_model__face_full_range),
        cmocka_unit_test(test_model__face_short_range),
        cmocka_unit_test(test_model__centernet),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
