/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Graph validation and the reference back end.  Each kernel is checked on
 * small random tensors against a naive formula written differently here
 * (explicit zero-padded copies, per-element index arithmetic), plus
 * hand-computed cases for SAME padding at stride 2 and both resize modes.
 */
#include "core/base.h"

#include <math.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "vision/nn.h"

static uint32_t rng_state = 12345;

static float rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *rnd_array(size_t n)
{
    float *a = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        a[i] = rnd();
    return a;
}

static float *copy_array(const float *src, size_t n)
{
    float *a = xmalloc(n * sizeof(float));
    memcpy(a, src, n * sizeof(float));
    return a;
}

static int add_act(struct nn_graph *g, const char *name, int rank,
                   const int *dims)
{
    int t = nn_graph_add_tensor(g, name, rank, dims, NULL);
    assert_true(t >= 0);
    return t;
}

static int add_const(struct nn_graph *g, int rank, const int *dims,
                     float *data)
{
    int t = nn_graph_add_tensor(g, "const", rank, dims, data);
    assert_true(t >= 0);
    return t;
}

static struct nn_node node_of(enum nn_op op, int in0, int out)
{
    struct nn_node n;

    memset(&n, 0, sizeof(n));
    n.op = op;
    n.n_in = 1;
    n.in[0] = in0;
    n.out = out;
    n.stride_h = n.stride_w = 1;
    n.dilation_h = n.dilation_w = 1;
    return n;
}

/* Finish g (one output), run it on input and copy the output out. */
static float *run_graph(struct nn_graph *g, const float *input)
{
    struct nn_exec *e = NULL;
    const struct nn_tensor *o;
    float *out;

    assert_int_equal(nn_graph_finish(g), 0);
    assert_int_equal(nn_exec_new(g, NN_BACKEND_REFERENCE, 1, &e), 0);
    assert_int_equal(nn_exec_run(e, input), 0);
    o = &g->tensors[g->outputs[0]];
    out = copy_array(nn_exec_output(e, 0), nn_tensor_count(o));
    nn_exec_free(e);
    return out;
}

static void assert_close(const float *got, const float *want, size_t n,
                         float tol)
{
    for (size_t i = 0; i < n; i++) {
        if (fabsf(got[i] - want[i]) > tol * (1.0f + fabsf(want[i])))
            fail_msg("element %zu: got %.6f, want %.6f", i, (double)got[i],
                     (double)want[i]);
    }
}

/*
 * Naive conv: copy the input into a zero-padded array with the padding
 * computed from the TensorFlow formula, then slide a VALID window.
 * depthwise uses w[ky][kx][c]; conv uses w[o][ky][kx][c].
 */
static float *naive_conv(const float *x, int h, int w, int c, const float *wt,
                         const float *bias, int oc, int k, int stride,
                         int dil, bool same, bool depthwise, int *oh_out,
                         int *ow_out)
{
    int span = (k - 1) * dil + 1;
    int oh = same ? (h + stride - 1) / stride : (h - span) / stride + 1;
    int ow = same ? (w + stride - 1) / stride : (w - span) / stride + 1;
    int th = same ? MAX((oh - 1) * stride + span - h, 0) : 0;
    int tw = same ? MAX((ow - 1) * stride + span - w, 0) : 0;
    int ph = h + th, pw = w + tw;
    float *padded = xcalloc((size_t)(ph * pw * c), sizeof(float));
    int out_c = depthwise ? c : oc;
    float *y = xcalloc((size_t)(oh * ow * out_c), sizeof(float));

    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++)
            for (int cc = 0; cc < c; cc++)
                padded[((yy + th / 2) * pw + xx + tw / 2) * c + cc] =
                    x[(yy * w + xx) * c + cc];

    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
            for (int o = 0; o < out_c; o++) {
                double sum = bias ? bias[o] : 0;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int py = oy * stride + ky * dil;
                        int px = ox * stride + kx * dil;
                        if (depthwise) {
                            sum += padded[(py * pw + px) * c + o] *
                                   wt[(ky * k + kx) * c + o];
                            continue;
                        }
                        for (int cc = 0; cc < c; cc++)
                            sum += padded[(py * pw + px) * c + cc] *
                                   wt[((o * k + ky) * k + kx) * c + cc];
                    }
                y[(oy * ow + ox) * out_c + o] = (float)sum;
            }
    free(padded);
    *oh_out = oh;
    *ow_out = ow;
    return y;
}

static void test_conv_same_stride2_by_hand(void **state)
{
    struct nn_graph g;
    float x[16], *w = xmalloc(9 * sizeof(float)), *y;
    const float want[4] = {54, 45, 72, 54};
    struct nn_node n;
    int in, wi, out;

    (void)state;
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++)
        w[i] = 1;
    nn_graph_init(&g);
    in = add_act(&g, "x", 4, (int[]){1, 4, 4, 1});
    wi = add_const(&g, 4, (int[]){1, 3, 3, 1}, w);
    out = add_act(&g, "y", 4, (int[]){1, 1, 1, 1});
    n = node_of(NN_OP_CONV2D, in, out);
    n.n_in = 2;
    n.in[1] = wi;
    n.stride_h = n.stride_w = 2;
    n.padding = NN_PAD_SAME;
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    g.input = in;
    g.n_outputs = 1;
    g.outputs[0] = out;
    y = run_graph(&g, x);
    assert_int_equal(g.tensors[out].dims[1], 2);
    assert_int_equal(g.tensors[out].dims[2], 2);
    assert_close(y, want, 4, 0);
    free(y);
    nn_graph_release(&g);
}

static void check_conv_random(bool depthwise, int h, int w, int c, int oc,
                              int k, int stride, int dil, bool same,
                              enum nn_activation act)
{
    struct nn_graph g;
    size_t wn = depthwise ? (size_t)(k * k * c) : (size_t)(oc * k * k * c);
    int out_c = depthwise ? c : oc;
    float *x = rnd_array((size_t)(h * w * c));
    float *wt = rnd_array(wn), *bias = rnd_array((size_t)out_c);
    float *want, *got;
    int oh, ow, in, out;
    struct nn_node n;

    want = naive_conv(x, h, w, c, wt, bias, oc, k, stride, dil, same,
                      depthwise, &oh, &ow);
    for (int i = 0; i < oh * ow * out_c; i++) {
        if (act == NN_ACT_RELU)
            want[i] = MAX(want[i], 0.0f);
        else if (act == NN_ACT_RELU6)
            want[i] = MIN(MAX(want[i], 0.0f), 6.0f);
    }

    nn_graph_init(&g);
    in = add_act(&g, "x", 4, (int[]){1, h, w, c});
    out = add_act(&g, "y", 4, (int[]){1, 1, 1, 1});
    n = node_of(depthwise ? NN_OP_DEPTHWISE_CONV2D : NN_OP_CONV2D, in, out);
    n.n_in = 3;
    n.in[1] = add_const(&g, 4,
                        depthwise ? (int[]){1, k, k, c} : (int[]){oc, k, k, c},
                        copy_array(wt, wn));
    n.in[2] = add_const(&g, 1, (int[]){out_c}, copy_array(bias,
                                                           (size_t)out_c));
    n.stride_h = n.stride_w = stride;
    n.dilation_h = n.dilation_w = dil;
    n.padding = same ? NN_PAD_SAME : NN_PAD_VALID;
    n.activation = act;
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    g.input = in;
    g.n_outputs = 1;
    g.outputs[0] = out;
    got = run_graph(&g, x);
    assert_int_equal(g.tensors[out].dims[1], oh);
    assert_int_equal(g.tensors[out].dims[2], ow);
    assert_close(got, want, (size_t)(oh * ow * out_c), 1e-4f);

    free(got);
    free(want);
    free(x);
    free(wt);
    free(bias);
    nn_graph_release(&g);
}

static void test_conv_matches_naive(void **state)
{
    (void)state;
    check_conv_random(false, 7, 6, 3, 5, 3, 1, 1, true, NN_ACT_NONE);
    check_conv_random(false, 7, 6, 3, 5, 3, 2, 1, true, NN_ACT_RELU);
    check_conv_random(false, 8, 8, 4, 2, 5, 2, 1, true, NN_ACT_RELU6);
    check_conv_random(false, 9, 7, 2, 3, 3, 2, 1, false, NN_ACT_NONE);
    check_conv_random(false, 9, 9, 2, 3, 3, 1, 2, true, NN_ACT_NONE);
    check_conv_random(false, 5, 5, 6, 4, 1, 1, 1, true, NN_ACT_NONE);
}

static void test_depthwise_matches_naive(void **state)
{
    (void)state;
    check_conv_random(true, 7, 6, 3, 0, 3, 1, 1, true, NN_ACT_NONE);
    check_conv_random(true, 8, 7, 5, 0, 3, 2, 1, true, NN_ACT_RELU);
    check_conv_random(true, 9, 9, 4, 0, 5, 2, 1, true, NN_ACT_RELU6);
    check_conv_random(true, 9, 8, 2, 0, 3, 2, 1, false, NN_ACT_NONE);
    check_conv_random(true, 9, 9, 2, 0, 3, 1, 3, true, NN_ACT_NONE);
}

/* One binary op with in[1] of shape b_dims; compare with a[i] op b[...]. */
static void check_binary(enum nn_op op, int b_rank, const int *b_dims,
                         bool b_const, enum nn_activation act)
{
    struct nn_graph g;
    const int h = 3, w = 4, c = 5;
    size_t count = (size_t)(h * w * c), nb = 1;
    float *x, *bv, *got, *want = xmalloc(count * sizeof(float));
    int in, out, bi;
    struct nn_node n;

    for (int i = 0; i < b_rank; i++)
        nb *= (size_t)b_dims[i];
    x = rnd_array(count);
    bv = rnd_array(nb);
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++)
            for (int cc = 0; cc < c; cc++) {
                int i = (yy * w + xx) * c + cc;
                float b = nb == 1 ? bv[0] : nb == (size_t)c ? bv[cc] : bv[i];
                float v = op == NN_OP_ADD ? x[i] + b : x[i] * b;
                want[i] = act == NN_ACT_RELU ? MAX(v, 0.0f) : v;
            }

    nn_graph_init(&g);
    in = add_act(&g, "x", 4, (int[]){1, h, w, c});
    if (b_const) {
        bi = add_const(&g, b_rank, b_dims, copy_array(bv, nb));
    } else {
        /* A second activation: the input times one. */
        struct nn_node m = node_of(NN_OP_MUL, in, 0);
        int one = add_const(&g, 1, (int[]){1}, copy_array((float[]){1}, 1));
        bi = add_act(&g, "b", 4, (int[]){1, h, w, c});
        m.n_in = 2;
        m.in[1] = one;
        m.out = bi;
        assert_true(nn_graph_add_node(&g, &m) >= 0);
        memcpy(bv, x, count * sizeof(float));
        for (size_t i = 0; i < count; i++) {
            float v = op == NN_OP_ADD ? x[i] + x[i] : x[i] * x[i];
            want[i] = act == NN_ACT_RELU ? MAX(v, 0.0f) : v;
        }
    }
    out = add_act(&g, "y", 1, (int[]){1});
    n = node_of(op, in, out);
    n.n_in = 2;
    n.in[1] = bi;
    n.activation = act;
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    g.input = in;
    g.n_outputs = 1;
    g.outputs[0] = out;
    got = run_graph(&g, x);
    assert_close(got, want, count, 1e-6f);

    free(got);
    free(want);
    free(x);
    free(bv);
    nn_graph_release(&g);
}

static void test_binary_broadcasting(void **state)
{
    (void)state;
    check_binary(NN_OP_ADD, 1, (int[]){1}, true, NN_ACT_NONE);
    check_binary(NN_OP_ADD, 1, (int[]){5}, true, NN_ACT_RELU);
    check_binary(NN_OP_MUL, 4, (int[]){1, 1, 1, 5}, true, NN_ACT_NONE);
    check_binary(NN_OP_MUL, 4, (int[]){1, 3, 4, 5}, true, NN_ACT_NONE);
    check_binary(NN_OP_ADD, 4, (int[]){1, 3, 4, 5}, false, NN_ACT_RELU);
    check_binary(NN_OP_MUL, 4, (int[]){1, 3, 4, 5}, false, NN_ACT_NONE);
}

static void test_binary_rejects_bad_broadcast(void **state)
{
    struct nn_graph g;
    struct nn_node n;
    int in, out;

    (void)state;
    nn_graph_init(&g);
    in = add_act(&g, "x", 4, (int[]){1, 3, 4, 5});
    out = add_act(&g, "y", 1, (int[]){1});
    n = node_of(NN_OP_ADD, in, out);
    n.n_in = 2;
    n.in[1] = add_const(&g, 2, (int[]){1, 4},
                        copy_array((float[]){1, 2, 3, 4}, 4));
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    g.input = in;
    g.n_outputs = 1;
    g.outputs[0] = out;
    assert_int_equal(nn_graph_finish(&g), ERR_CORRUPT);
    nn_graph_release(&g);
}

static float *run_unary(enum nn_op op, const float *x, int rank,
                        const int *dims, struct nn_node *params,
                        struct nn_graph *g)
{
    struct nn_node n = *params;
    int in, out;

    nn_graph_init(g);
    in = add_act(g, "x", rank, dims);
    out = add_act(g, "y", 1, (int[]){1});
    n.op = op;
    n.n_in = 1;
    n.in[0] = in;
    n.out = out;
    assert_true(nn_graph_add_node(g, &n) >= 0);
    g->input = in;
    g->n_outputs = 1;
    g->outputs[0] = out;
    return run_graph(g, x);
}

static void test_activations(void **state)
{
    const float x[8] = {-7, -1, -0.5f, 0, 0.5f, 3, 6, 9};
    const int dims[4] = {1, 1, 2, 4};
    struct nn_node p = node_of(NN_OP_RELU, 0, 0);
    struct nn_graph g;
    float *y, want[8];

    (void)state;
    y = run_unary(NN_OP_RELU, x, 4, dims, &p, &g);
    for (int i = 0; i < 8; i++)
        want[i] = x[i] < 0 ? 0 : x[i];
    assert_close(y, want, 8, 0);
    free(y);
    nn_graph_release(&g);

    y = run_unary(NN_OP_RELU6, x, 4, dims, &p, &g);
    for (int i = 0; i < 8; i++)
        want[i] = x[i] < 0 ? 0 : x[i] > 6 ? 6 : x[i];
    assert_close(y, want, 8, 0);
    free(y);
    nn_graph_release(&g);

    y = run_unary(NN_OP_SIGMOID, x, 4, dims, &p, &g);
    for (int i = 0; i < 8; i++)
        want[i] = (float)(exp(x[i]) / (1.0 + exp(x[i])));
    assert_close(y, want, 8, 1e-6f);
    free(y);
    nn_graph_release(&g);
}

static void test_mean_over_hw(void **state)
{
    const int dims[4] = {1, 3, 2, 4};
    struct nn_node p = node_of(NN_OP_MEAN, 0, 0);
    struct nn_graph g;
    float *x = rnd_array(24), *y, want[4] = {0};

    (void)state;
    for (int i = 0; i < 24; i++)
        want[i % 4] += x[i] / 6.0f;
    y = run_unary(NN_OP_MEAN, x, 4, dims, &p, &g);
    assert_int_equal(g.tensors[g.outputs[0]].dims[1], 1);
    assert_int_equal(g.tensors[g.outputs[0]].dims[3], 4);
    assert_close(y, want, 4, 1e-5f);
    free(y);
    free(x);
    nn_graph_release(&g);
}

static void test_max_pool_same_by_hand(void **state)
{
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float want_same[4] = {5, 6, 8, 9};
    const float want_valid[1] = {5};
    struct nn_node p = node_of(NN_OP_MAX_POOL2D, 0, 0);
    struct nn_graph g;
    float *y;

    (void)state;
    p.pool_h = p.pool_w = 2;
    p.stride_h = p.stride_w = 2;
    p.padding = NN_PAD_SAME;
    y = run_unary(NN_OP_MAX_POOL2D, x, 4, (int[]){1, 3, 3, 1}, &p, &g);
    assert_close(y, want_same, 4, 0);
    free(y);
    nn_graph_release(&g);

    p.padding = NN_PAD_VALID;
    y = run_unary(NN_OP_MAX_POOL2D, x, 4, (int[]){1, 3, 3, 1}, &p, &g);
    assert_int_equal(g.tensors[g.outputs[0]].dims[1], 1);
    assert_close(y, want_valid, 1, 0);
    free(y);
    nn_graph_release(&g);
}

static void test_pad_channels(void **state)
{
    struct nn_node p = node_of(NN_OP_PAD, 0, 0);
    struct nn_graph g;
    float *x = rnd_array(12), *y;

    (void)state;
    p.pad_before[1] = 1;
    p.pad_after[3] = 2;
    y = run_unary(NN_OP_PAD, x, 4, (int[]){1, 2, 2, 3}, &p, &g);
    assert_int_equal(g.tensors[g.outputs[0]].dims[1], 3);
    assert_int_equal(g.tensors[g.outputs[0]].dims[3], 5);
    for (int yy = 0; yy < 3; yy++)
        for (int xx = 0; xx < 2; xx++)
            for (int c = 0; c < 5; c++) {
                float got = y[(yy * 2 + xx) * 5 + c];
                float want = yy >= 1 && c < 3 ? x[((yy - 1) * 2 + xx) * 3 + c]
                                              : 0;
                assert_true(got == want);
            }
    free(y);
    free(x);
    nn_graph_release(&g);
}

static void test_concat_and_reshape(void **state)
{
    struct nn_graph g;
    struct nn_node n;
    float *x = rnd_array(12), *y;
    int in, mid, out;

    (void)state;
    nn_graph_init(&g);
    in = add_act(&g, "x", 4, (int[]){1, 2, 2, 3});
    mid = add_act(&g, "cat", 1, (int[]){1});
    out = add_act(&g, "flat", 2, (int[]){4, 5});
    n = node_of(NN_OP_CONCAT, in, mid);
    n.n_in = 2;
    n.in[1] = add_const(&g, 4, (int[]){1, 2, 2, 2},
                        copy_array((float[]){10, 11, 12, 13, 14, 15, 16, 17},
                                   8));
    n.axis = -1;
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    n = node_of(NN_OP_RESHAPE, mid, out);
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    g.input = in;
    g.n_outputs = 1;
    g.outputs[0] = out;
    y = run_graph(&g, x);
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 5; c++) {
            float want = c < 3 ? x[p * 3 + c] : (float)(10 + p * 2 + c - 3);
            assert_true(y[p * 5 + c] == want);
        }
    free(y);
    free(x);
    nn_graph_release(&g);
}

static void test_resize_modes_by_hand(void **state)
{
    const float x[4] = {0, 1, 2, 3};
    /* Legacy: src = d / 2 -> 0, 0.5, 1, 1.5 with the upper index clamped. */
    const float legacy_row0[4] = {0, 0.5f, 1, 1};
    const float legacy_col0[4] = {0, 1, 2, 2};
    /* Half-pixel: src = (d + 0.5) / 2 - 0.5 -> -0.25, 0.25, 0.75, 1.25. */
    const float half_row0[4] = {0, 0.25f, 0.75f, 1};
    const float half_col0[4] = {0, 0.5f, 1.5f, 2};
    /* align_corners: src = d / 3. */
    const float corner_row0[4] = {0, 1.0f / 3, 2.0f / 3, 1};
    struct nn_node p = node_of(NN_OP_RESIZE_BILINEAR, 0, 0);
    struct nn_graph g;
    float *y, col[4];

    (void)state;
    p.out_h = p.out_w = 4;
    y = run_unary(NN_OP_RESIZE_BILINEAR, x, 4, (int[]){1, 2, 2, 1}, &p, &g);
    assert_close(y, legacy_row0, 4, 1e-6f);
    for (int i = 0; i < 4; i++)
        col[i] = y[i * 4];
    assert_close(col, legacy_col0, 4, 1e-6f);
    free(y);
    nn_graph_release(&g);

    p.half_pixel_centers = true;
    y = run_unary(NN_OP_RESIZE_BILINEAR, x, 4, (int[]){1, 2, 2, 1}, &p, &g);
    assert_close(y, half_row0, 4, 1e-6f);
    for (int i = 0; i < 4; i++)
        col[i] = y[i * 4];
    assert_close(col, half_col0, 4, 1e-6f);
    free(y);
    nn_graph_release(&g);

    p.half_pixel_centers = false;
    p.align_corners = true;
    y = run_unary(NN_OP_RESIZE_BILINEAR, x, 4, (int[]){1, 2, 2, 1}, &p, &g);
    assert_close(y, corner_row0, 4, 1e-6f);
    free(y);
    nn_graph_release(&g);
}

/* A skip connection keeps its buffer alive across reused ones. */
static void test_buffers_reused_safely(void **state)
{
    struct nn_graph g;
    struct nn_node n;
    float x[6] = {-3, -1, 0, 1, 2, 8}, *y, want[6];
    int t[6];

    (void)state;
    nn_graph_init(&g);
    t[0] = add_act(&g, "x", 4, (int[]){1, 1, 2, 3});
    for (int i = 1; i < 6; i++)
        t[i] = add_act(&g, "t", 1, (int[]){1});
    n = node_of(NN_OP_RELU, t[0], t[1]);
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    n = node_of(NN_OP_RELU6, t[1], t[2]);
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    n = node_of(NN_OP_SIGMOID, t[2], t[3]);
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    n = node_of(NN_OP_RELU, t[3], t[4]);
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    n = node_of(NN_OP_ADD, t[4], t[5]);
    n.n_in = 2;
    n.in[1] = t[1];
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    g.input = t[0];
    g.n_outputs = 1;
    g.outputs[0] = t[5];
    y = run_graph(&g, x);
    for (int i = 0; i < 6; i++) {
        float r = MAX(x[i], 0.0f);
        want[i] = r + 1.0f / (1.0f + expf(-MIN(r, 6.0f)));
    }
    assert_close(y, want, 6, 1e-6f);
    free(y);
    nn_graph_release(&g);
}

static void test_finish_rejects_bad_graphs(void **state)
{
    struct nn_graph g;
    struct nn_node n;
    int in, a, b;

    (void)state;
    nn_graph_init(&g);
    in = add_act(&g, "x", 4, (int[]){1, 2, 2, 3});
    a = add_act(&g, "a", 1, (int[]){1});
    b = add_act(&g, "b", 1, (int[]){1});
    g.input = in;
    g.n_outputs = 1;
    g.outputs[0] = b;

    /* b is read before it is produced. */
    n = node_of(NN_OP_RELU, b, a);
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    n = node_of(NN_OP_RELU, in, b);
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    assert_int_equal(nn_graph_finish(&g), ERR_CORRUPT);

    /* An index out of range. */
    g.nodes[0].in[0] = 99;
    assert_int_equal(nn_graph_finish(&g), ERR_CORRUPT);

    /* Two producers of one tensor. */
    g.nodes[0].in[0] = in;
    g.nodes[0].out = b;
    assert_int_equal(nn_graph_finish(&g), ERR_CORRUPT);

    /* Conv weights whose channels do not match the input. */
    g.nodes[0].out = a;
    g.nodes[1] = node_of(NN_OP_CONV2D, a, b);
    g.nodes[1].n_in = 2;
    g.nodes[1].in[1] = add_const(&g, 4, (int[]){1, 1, 1, 2},
                                 copy_array((float[]){1, 2}, 2));
    assert_int_equal(nn_graph_finish(&g), ERR_CORRUPT);

    /* Stride zero. */
    g.nodes[1].in[1] = add_const(&g, 4, (int[]){1, 1, 1, 3},
                                 copy_array((float[]){1, 2, 3}, 3));
    g.nodes[1].stride_h = 0;
    assert_int_equal(nn_graph_finish(&g), ERR_CORRUPT);
    g.nodes[1].stride_h = 1;
    assert_int_equal(nn_graph_finish(&g), 0);
    assert_true(nn_graph_macs(&g) == 4.0 * 3.0);
    assert_int_equal(nn_graph_find(&g, "b"), b);
    assert_int_equal(nn_graph_find(&g, "nope"), ERR_NOT_FOUND);
    nn_graph_release(&g);
}

static void test_add_tensor_rejects_bad_dims(void **state)
{
    struct nn_graph g;

    (void)state;
    nn_graph_init(&g);
    assert_int_equal(nn_graph_add_tensor(&g, "a", 0, (int[]){1}, NULL),
                     ERR_INVALID);
    assert_int_equal(nn_graph_add_tensor(&g, "a", 5,
                                         (int[]){1, 1, 1, 1, 1}, NULL),
                     ERR_INVALID);
    assert_int_equal(nn_graph_add_tensor(&g, "a", 2, (int[]){0, 3}, NULL),
                     ERR_INVALID);
    assert_int_equal(nn_graph_add_tensor(&g, "a", 4,
                                         (int[]){65536, 65536, 65536, 2},
                                         NULL),
                     ERR_INVALID);
    nn_graph_release(&g);
}

static void test_exec_rejects_unknown_backend(void **state)
{
    struct nn_graph g;
    struct nn_exec *e = (struct nn_exec *)&g;
    struct nn_node n;
    int in, out;

    (void)state;
    nn_graph_init(&g);
    in = add_act(&g, "x", 4, (int[]){1, 1, 1, 1});
    out = add_act(&g, "y", 4, (int[]){1, 1, 1, 1});
    n = node_of(NN_OP_RELU, in, out);
    assert_true(nn_graph_add_node(&g, &n) >= 0);
    g.input = in;
    g.n_outputs = 1;
    g.outputs[0] = out;
    assert_int_equal(nn_graph_finish(&g), 0);
    assert_int_equal(nn_exec_new(&g, (enum nn_backend)7, 1, &e), ERR_INVALID);
    assert_null(e);
    nn_graph_release(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_same_stride2_by_hand),
        cmocka_unit_test(test_conv_matches_naive),
        cmocka_unit_test(test_depthwise_matches_naive),
        cmocka_unit_test(test_binary_broadcasting),
        cmocka_unit_test(test_binary_rejects_bad_broadcast),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_mean_over_hw),
        cmocka_unit_test(test_max_pool_same_by_hand),
        cmocka_unit_test(test_pad_channels),
        cmocka_unit_test(test_concat_and_reshape),
        cmocka_unit_test(test_resize_modes_by_hand),
        cmocka_unit_test(test_buffers_reused_safely),
        cmocka_unit_test(test_finish_rejects_bad_graphs),
        cmocka_unit_test(test_add_tensor_rejects_bad_dims),
        cmocka_unit_test(test_exec_rejects_unknown_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
