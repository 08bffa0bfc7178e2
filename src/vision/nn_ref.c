/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plain-C reference back end: the ground truth the tests and the
 * XNNPACK back end are checked against, so every kernel is the direct loop
 * of its definition.  Two choices keep it fast enough to run whole models:
 *
 * - Conv weights are transposed once at prepare from OHWI to HWIO, so the
 *   innermost loop runs over output channels with unit stride in both the
 *   weights and the accumulator, which compilers vectorise without
 *   reassociating float sums.
 * - Activation buffers are planned by liveness: a tensor's buffer goes back
 *   to a free list after the last node that reads it, and a later tensor
 *   reuses the smallest free buffer that fits.  Graph outputs are never
 *   reused, so they stay readable after a run.
 *
 * Padding follows TensorFlow: SAME pads (total - total / 2) at the
 * bottom/right, which is the extra row or column at stride 2.
 */
#include "core/base.h"

#include <math.h>

#include "core/err.h"
#include "vision/nn_int.h"

struct ref_buffer {
    float *data;
    size_t count; /* capacity in floats */
};

struct ref_state {
    const struct nn_graph *g;
    float **values;          /* per tensor: constant data or buffer, or NULL */
    float **hwio;            /* per node: transposed conv weights, or NULL */
    struct ref_buffer *bufs; /* owned activation buffers */
    int n_bufs;
    int *buf_of;             /* per activation: index in bufs, or -1 */
    const float *input;      /* the caller's input during run */
};

static float apply_act(float v, enum nn_activation act)
{
    if (act == NN_ACT_RELU)
        return v > 0 ? v : 0;
    if (act == NN_ACT_RELU6)
        return v > 0 ? (v < 6 ? v : 6) : 0;
    return v;
}

/* TensorFlow SAME padding before the first row: the smaller half. */
static int pad_front(int in, int out, int k, int stride, int dilation,
                     enum nn_padding padding)
{
    long total;

    if (padding != NN_PAD_SAME)
        return 0;
    total = (long)(out - 1) * stride + (long)(k - 1) * dilation + 1 - in;
    return total > 0 ? (int)(total / 2) : 0;
}

static const float *value(const struct ref_state *s, int t)
{
    if (t == s->g->input)
        return s->input;
    return s->values[t];
}

static void run_conv(const struct ref_state *s, const struct nn_node *n,
                     const float *hwio)
{
    const struct nn_tensor *xt = &s->g->tensors[n->in[0]];
    const struct nn_tensor *wt = &s->g->tensors[n->in[1]];
    const struct nn_tensor *yt = &s->g->tensors[n->out];
    const float *x = value(s, n->in[0]);
    const float *bias = n->n_in == 3 ? value(s, n->in[2]) : NULL;
    float *y = s->values[n->out];
    int batch = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2];
    int ic = xt->dims[3], kh = wt->dims[1], kw = wt->dims[2];
    int oh = yt->dims[1], ow = yt->dims[2], oc = yt->dims[3];
    int pt = pad_front(ih, oh, kh, n->stride_h, n->dilation_h, n->padding);
    int pl = pad_front(iw, ow, kw, n->stride_w, n->dilation_w, n->padding);

    for (int b = 0; b < batch; b++) {
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                float *acc = y + (((long)b * oh + oy) * ow + ox) * oc;

                for (int o = 0; o < oc; o++)
                    acc[o] = bias ? bias[o] : 0;
                for (int ky = 0; ky < kh; ky++) {
                    int iy = oy * n->stride_h - pt + ky * n->dilation_h;
                    if (iy < 0 || iy >= ih)
                        continue;
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ox * n->stride_w - pl + kx * n->dilation_w;
                        const float *px, *wk;
                        if (ix < 0 || ix >= iw)
                            continue;
                        px = x + (((long)b * ih + iy) * iw + ix) * ic;
                        wk = hwio + ((long)ky * kw + kx) * ic * oc;
                        for (int c = 0; c < ic; c++) {
                            const float *wc = wk + (long)c * oc;
                            float v = px[c];
                            for (int o = 0; o < oc; o++)
                                acc[o] += v * wc[o];
                        }
                    }
                }
                for (int o = 0; o < oc; o++)
                    acc[o] = apply_act(acc[o], n->activation);
            }
        }
    }
}

static void run_depthwise(const struct ref_state *s, const struct nn_node *n)
{
    const struct nn_tensor *xt = &s->g->tensors[n->in[0]];
    const struct nn_tensor *wt = &s->g->tensors[n->in[1]];
    const struct nn_tensor *yt = &s->g->tensors[n->out];
    const float *x = value(s, n->in[0]);
    const float *w = value(s, n->in[1]);
    const float *bias = n->n_in == 3 ? value(s, n->in[2]) : NULL;
    float *y = s->values[n->out];
    int batch = xt->dims[0], ih = xt->dims[1], iw = xt->dims[2];
    int ch = xt->dims[3], kh = wt->dims[1], kw = wt->dims[2];
    int oh = yt->dims[1], ow = yt->dims[2];
    int pt = pad_front(ih, oh, kh, n->stride_h, n->dilation_h, n->padding);
    int pl = pad_front(iw, ow, kw, n->stride_w, n->dilation_w, n->padding);

    for (int b = 0; b < batch; b++) {
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                float *acc = y + (((long)b * oh + oy) * ow + ox) * ch;

                for (int c = 0; c < ch; c++)
                    acc[c] = bias ? bias[c] : 0;
                for (int ky = 0; ky < kh; ky++) {
                    int iy = oy * n->stride_h - pt + ky * n->dilation_h;
                    if (iy < 0 || iy >= ih)
                        continue;
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ox * n->stride_w - pl + kx * n->dilation_w;
                        const float *px, *wk;
                        if (ix < 0 || ix >= iw)
                            continue;
                        px = x + (((long)b * ih + iy) * iw + ix) * ch;
                        wk = w + ((long)ky * kw + kx) * ch;
                        for (int c = 0; c < ch; c++)
                            acc[c] += px[c] * wk[c];
                    }
                }
                for (int c = 0; c < ch; c++)
                    acc[c] = apply_act(acc[c], n->activation);
            }
        }
    }
}

static void run_binary(const struct ref_state *s, const struct nn_node *n)
{
    const float *a = value(s, n->in[0]);
    const float *b = value(s, n->in[1]);
    float *y = s->values[n->out];
    size_t count = nn_tensor_count(&s->g->tensors[n->out]);
    size_t nb = nn_tensor_count(&s->g->tensors[n->in[1]]);

    /* nb is count, 1 or the channel count: i % nb indexes all three. */
    for (size_t i = 0; i < count; i++) {
        float bv = b[nb == count ? i : i % nb];
        float v = n->op == NN_OP_ADD ? a[i] + bv : a[i] * bv;
        y[i] = apply_act(v, n->activation);
    }
}

static void run_unary(const struct ref_state *s, const struct nn_node *n)
{
    const float *x = value(s, n->in[0]);
    float *y = s->values[n->out];
    size_t count = nn_tensor_count(&s->g->tensors[n->out]);

    for (size_t i = 0; i < count; i++) {
        if (n->op == NN_OP_RELU)
            y[i] = apply_act(x[i], NN_ACT_RELU);
        else if (n->op == NN_OP_RELU6)
            y[i] = apply_act(x[i], NN_ACT_RELU6);
        else
            y[i] = 1.0f / (1.0f + expf(-x[i]));
    }
}

static void run_mean(const struct ref_state *s, const struct nn_node *n)
{
    const struct nn_tensor *xt = &s->g->tensors[n->in[0]];
    const float *x = value(s, n->in[0]);
    float *y = s->values[n->out];
    long hw = (long)xt->dims[1] * xt->dims[2];
    int ch = xt->dims[3];

    for (int b = 0; b < xt->dims[0]; b++) {
        const float *xb = x + (long)b * hw * ch;
        float *yb = y + (long)b * ch;

        for (int c = 0; c < ch; c++) {
            double sum = 0;
            for (long p = 0; p < hw; p++)
                sum += xb[p * ch + c];
            yb[c] = (float)(sum / (double)hw);
        }
    }
}

/* Padded positions are ignored, as in TensorFlow, not read as zeros. */
static void run_max_pool(const struct ref_state *s, const struct nn_node *n)
{
    const struct nn_tensor *xt = &s->g->tensors[n->in[0]];
    const struct nn_tensor *yt = &s->g->tensors[n->out];
    const float *x = value(s, n->in[0]);
    float *y = s->values[n->out];
    int ih = xt->dims[1], iw = xt->dims[2], ch = xt->dims[3];
    int oh = yt->dims[1], ow = yt->dims[2];
    int pt = pad_front(ih, oh, n->pool_h, n->stride_h, 1, n->padding);
    int pl = pad_front(iw, ow, n->pool_w, n->stride_w, 1, n->padding);

    for (int b = 0; b < xt->dims[0]; b++) {
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                float *out = y + (((long)b * oh + oy) * ow + ox) * ch;

                for (int c = 0; c < ch; c++)
                    out[c] = -INFINITY;
                for (int ky = 0; ky < n->pool_h; ky++) {
                    int iy = oy * n->stride_h - pt + ky;
                    if (iy < 0 || iy >= ih)
                        continue;
                    for (int kx = 0; kx < n->pool_w; kx++) {
                        int ix = ox * n->stride_w - pl + kx;
                        const float *px;
                        if (ix < 0 || ix >= iw)
                            continue;
                        px = x + (((long)b * ih + iy) * iw + ix) * ch;
                        for (int c = 0; c < ch; c++)
                            if (px[c] > out[c])
                                out[c] = px[c];
                    }
                }
            }
        }
    }
}

/* Walk every output index; copy the input value or write a zero. */
static void run_pad(const struct ref_state *s, const struct nn_node *n)
{
    const struct nn_tensor *xt = &s->g->tensors[n->in[0]];
    const struct nn_tensor *yt = &s->g->tensors[n->out];
    const float *x = value(s, n->in[0]);
    float *y = s->values[n->out];
    size_t count = nn_tensor_count(yt);
    int rank = yt->rank;

    for (size_t i = 0; i < count; i++) {
        size_t rest = i, src = 0, stride = 1;
        bool inside = true;

        for (int d = rank - 1; d >= 0; d--) {
            int coord = (int)(rest % (size_t)yt->dims[d]);
            int in_coord = coord - n->pad_before[d];
            rest /= (size_t)yt->dims[d];
            if (in_coord < 0 || in_coord >= xt->dims[d])
                inside = false;
            else
                src += (size_t)in_coord * stride;
            stride *= (size_t)xt->dims[d];
        }
        y[i] = inside ? x[src] : 0;
    }
}

static void run_concat(const struct ref_state *s, const struct nn_node *n)
{
    const struct nn_tensor *yt = &s->g->tensors[n->out];
    float *y = s->values[n->out];
    size_t outer = 1, inner = 1, offset = 0;

    for (int d = 0; d < n->axis; d++)
        outer *= (size_t)yt->dims[d];
    for (int d = n->axis + 1; d < yt->rank; d++)
        inner *= (size_t)yt->dims[d];

    for (int k = 0; k < n->n_in; k++) {
        const struct nn_tensor *xt = &s->g->tensors[n->in[k]];
        const float *x = value(s, n->in[k]);
        size_t run = (size_t)xt->dims[n->axis] * inner;
        size_t row = (size_t)yt->dims[n->axis] * inner;

        for (size_t o = 0; o < outer; o++)
            memcpy(y + o * row + offset, x + o * run, run * sizeof(float));
        offset += run;
    }
}

/*
 * Source coordinate of output index d for one axis, in TensorFlow's three
 * conventions: legacy (d * in / out), align_corners ((in-1)/(out-1)) and
 * half_pixel_centers ((d + 0.5) * in / out - 0.5).
 */
static void resize_coord(const struct nn_node *n, int d, int in, int out,
                         int *lo, int *hi, float *frac)
{
    float scale = (float)in / (float)out;
    float src;
    float fl;

    if (n->align_corners && out > 1)
        scale = (float)(in - 1) / (float)(out - 1);
    if (n->half_pixel_centers)
        src = ((float)d + 0.5f) * scale - 0.5f;
    else
        src = (float)d * scale;
    fl = floorf(src);
    *frac = src - fl;
    *lo = fl < 0 ? 0 : (int)fl;
    *hi = (int)fl + 1;
    if (*lo > in - 1)
        *lo = in - 1;
    if (*hi > in - 1)
        *hi = in - 1;
    if (*hi < 0)
        *hi = 0;
}

static void run_resize(const struct ref_state *s, const struct nn_node *n)
{
    const struct nn_tensor *xt = &s->g->tensors[n->in[0]];
    const float *x = value(s, n->in[0]);
    float *y = s->values[n->out];
    int ih = xt->dims[1], iw = xt->dims[2], ch = xt->dims[3];

    for (int b = 0; b < xt->dims[0]; b++) {
        const float *xb = x + (long)b * ih * iw * ch;
        for (int oy = 0; oy < n->out_h; oy++) {
            int y0, y1;
            float fy;
            resize_coord(n, oy, ih, n->out_h, &y0, &y1, &fy);
            for (int ox = 0; ox < n->out_w; ox++) {
                int x0, x1;
                float fx;
                const float *p00, *p01, *p10, *p11;
                float *out = y + (((long)b * n->out_h + oy) * n->out_w +
                                  ox) * ch;

                resize_coord(n, ox, iw, n->out_w, &x0, &x1, &fx);
                p00 = xb + ((long)y0 * iw + x0) * ch;
                p01 = xb + ((long)y0 * iw + x1) * ch;
                p10 = xb + ((long)y1 * iw + x0) * ch;
                p11 = xb + ((long)y1 * iw + x1) * ch;
                for (int c = 0; c < ch; c++) {
                    float top = p00[c] + (p01[c] - p00[c]) * fx;
                    float bot = p10[c] + (p11[c] - p10[c]) * fx;
                    out[c] = top + (bot - top) * fy;
                }
            }
        }
    }
}

static int ref_run(void *state, const float *input)
{
    struct ref_state *s = state;
    const struct nn_graph *g = s->g;

    s->input = input;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct nn_node *n = &g->nodes[i];

        switch (n->op) {
        case NN_OP_CONV2D:
            run_conv(s, n, s->hwio[i]);
            break;
        case NN_OP_DEPTHWISE_CONV2D:
            run_depthwise(s, n);
            break;
        case NN_OP_ADD:
        case NN_OP_MUL:
            run_binary(s, n);
            break;
        case NN_OP_RELU:
        case NN_OP_RELU6:
        case NN_OP_SIGMOID:
            run_unary(s, n);
            break;
        case NN_OP_MEAN:
            run_mean(s, n);
            break;
        case NN_OP_MAX_POOL2D:
            run_max_pool(s, n);
            break;
        case NN_OP_PAD:
            run_pad(s, n);
            break;
        case NN_OP_CONCAT:
            run_concat(s, n);
            break;
        case NN_OP_RESHAPE:
            memcpy(s->values[n->out], value(s, n->in[0]),
                   nn_tensor_count(&g->tensors[n->out]) * sizeof(float));
            break;
        case NN_OP_RESIZE_BILINEAR:
            run_resize(s, n);
            break;
        }
    }
    s->input = NULL;
    return 0;
}

static const float *ref_output(const void *state, int i)
{
    const struct ref_state *s = state;
    return s->values[s->g->outputs[i]];
}

static void ref_release(void *state)
{
    struct ref_state *s = state;

    if (!s)
        return;
    for (int i = 0; i < s->g->n_nodes; i++)
        free(s->hwio[i]);
    for (int i = 0; i < s->n_bufs; i++)
        free(s->bufs[i].data);
    free(s->bufs);
    free(s->buf_of);
    free(s->hwio);
    free(s->values);
    free(s);
}

static float *transpose_ohwi(const struct nn_tensor *w)
{
    long oc = w->dims[0], ic = w->dims[3];
    long khw = (long)w->dims[1] * w->dims[2];
    float *out = malloc(nn_tensor_count(w) * sizeof(float));

    if (!out)
        return NULL;
    for (long o = 0; o < oc; o++)
        for (long k = 0; k < khw; k++)
            for (long c = 0; c < ic; c++)
                out[(k * ic + c) * oc + o] = w->data[(o * khw + k) * ic + c];
    return out;
}

/* Give tensor t a buffer: the smallest free one that fits, else a new one. */
static void assign_buffer(struct ref_state *s, bool *free_buf, int t)
{
    size_t need = nn_tensor_count(&s->g->tensors[t]);
    int best = -1;

    for (int b = 0; b < s->n_bufs; b++) {
        if (!free_buf[b] || s->bufs[b].count < need)
            continue;
        if (best < 0 || s->bufs[b].count < s->bufs[best].count)
            best = b;
    }
    if (best < 0) {
        best = s->n_bufs++;
        s->bufs[best].count = need;
    }
    free_buf[best] = false;
    s->buf_of[t] = best;
}

/*
 * Plan buffers by liveness, then allocate them and point each activation's
 * value at its buffer; 0 or ERR_NOMEM.  A node's output is assigned before
 * its inputs are freed, so no kernel writes over what it reads.
 */
static int plan_buffers(struct ref_state *s)
{
    const struct nn_graph *g = s->g;
    int *last_use = NULL;
    bool *free_buf = NULL, *keep = NULL;
    int err = ERR_NOMEM;

    last_use = xmalloc((size_t)g->n_tensors * sizeof(*last_use));
    keep = xcalloc((size_t)g->n_tensors, sizeof(*keep));
    free_buf = xcalloc((size_t)g->n_nodes, sizeof(*free_buf));
    s->bufs = xcalloc((size_t)g->n_nodes, sizeof(*s->bufs));
    for (int i = 0; i < g->n_tensors; i++)
        last_use[i] = -1;
    for (int i = 0; i < g->n_outputs; i++)
        keep[g->outputs[i]] = true;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            last_use[g->nodes[i].in[k]] = i;

    for (int i = 0; i < g->n_nodes; i++) {
        const struct nn_node *n = &g->nodes[i];

        assign_buffer(s, free_buf, n->out);
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (last_use[t] == i && s->buf_of[t] >= 0 && !keep[t])
                free_buf[s->buf_of[t]] = true;
        }
        /* An output that no later node reads is dead at once. */
        if (last_use[n->out] <= i && !keep[n->out])
            free_buf[s->buf_of[n->out]] = true;
    }

    for (int b = 0; b < s->n_bufs; b++) {
        s->bufs[b].data = malloc(s->bufs[b].count * sizeof(float));
        if (!s->bufs[b].data)
            goto out_free_plan;
    }
    for (int i = 0; i < g->n_tensors; i++) {
        if (g->tensors[i].data)
            s->values[i] = g->tensors[i].data;
        else if (s->buf_of[i] >= 0)
            s->values[i] = s->bufs[s->buf_of[i]].data;
    }
    err = 0;

out_free_plan:
    free(free_buf);
    free(keep);
    free(last_use);
    return err;
}

static int ref_prepare(const struct nn_graph *g, int threads, void **state)
{
    struct ref_state *s;
    int err;

    (void)threads;
    s = xcalloc(1, sizeof(*s));
    s->g = g;
    s->values = xcalloc((size_t)g->n_tensors, sizeof(*s->values));
    s->hwio = xcalloc((size_t)g->n_nodes, sizeof(*s->hwio));
    s->buf_of = xmalloc((size_t)g->n_tensors * sizeof(*s->buf_of));
    for (int i = 0; i < g->n_tensors; i++)
        s->buf_of[i] = -1;

    err = plan_buffers(s);
    if (err < 0)
        goto out_release;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op != NN_OP_CONV2D)
            continue;
        s->hwio[i] = transpose_ohwi(&g->tensors[g->nodes[i].in[1]]);
        if (!s->hwio[i]) {
            err = ERR_NOMEM;
            goto out_release;
        }
    }
    *state = s;
    return 0;

out_release:
    ref_release(s);
    return err;
}

const struct nn_backend_ops nn__reference_ops = {
    .name = "reference",
    .prepare = ref_prepare,
    .run = ref_run,
    .output = ref_output,
    .release = ref_release,
};
