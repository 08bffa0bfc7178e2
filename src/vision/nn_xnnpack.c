/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XNNPACK back end: translates a finished nn_graph into one XNNPACK subgraph
 * and runs it as one runtime (libxnnpack 0.0~git20220216).  The graph's
 * constant data is borrowed as static values, so the graph must outlive the
 * exec.  Each exec owns its runtime, thread pool and I/O buffers, so
 * separate execs of one graph may run concurrently.
 *
 * How each op maps (this XNNPACK version lacks a concatenate node):
 *   conv, depthwise     convolution_2d / depthwise_convolution_2d with the
 *                       TensorFlow SAME padding given explicitly, because
 *                       for stride 2 the extra row and column go at the
 *                       bottom and right; fused activation = output clamp
 *   add, mul            add2 / multiply2 (numpy broadcasting), clamp fused
 *   relu, relu6         clamp [0, inf] / [0, 6]
 *   sigmoid             sigmoid
 *   mean                global_average_pooling_2d
 *   max pool            max_pooling_2d with explicit SAME padding
 *   pad                 static_constant_pad with 0
 *   reshape             static_reshape
 *   resize bilinear     static_resize_bilinear_2d: no flag is half-pixel
 *                       centers, TENSORFLOW_LEGACY_MODE is the TF1 default,
 *                       ALIGN_CORNERS is align_corners
 *   concat              each input zero-padded to the output shape along
 *                       the axis, then the padded tensors summed with add2;
 *                       x + 0 is exact, so the result equals a copy
 *
 * XNNPACK may read XNN_EXTRA_BYTES past any buffer it is given, so the
 * input, the outputs and every constant used as a plain operand (not as
 * packed weights) live in buffers of ours with that slack.
 */
#include "core/base.h"

#include <math.h>
#include <pthread.h>

#include <xnnpack.h>

#include "core/err.h"
#include "vision/nn_int.h"

struct xnnpack_state {
    const struct nn_graph *g;  /* borrowed */
    xnn_subgraph_t subgraph;   /* owned until the runtime is created */
    xnn_runtime_t runtime;     /* owned */
    pthreadpool_t pool;        /* owned; NULL runs on the caller's thread */
    uint32_t *value_ids;       /* per tensor, XNN_INVALID_VALUE_ID if unset */
    bool *operand_use;         /* per tensor: a constant read unpacked */
    float *input;              /* owned copy of the input, with slack */
    float **outputs;           /* owned, g->n_outputs buffers with slack */
    float **owned;             /* constant copies and zero biases */
    int n_owned;
    int cap_owned;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static enum xnn_status init_status;

static void init_xnnpack(void)
{
    init_status = xnn_initialize(NULL);
}

static int map_status(enum xnn_status s)
{
    switch (s) {
    case xnn_status_success:
        return 0;
    case xnn_status_out_of_memory:
        return ERR_NOMEM;
    case xnn_status_invalid_parameter:
    case xnn_status_unsupported_parameter:
    case xnn_status_unsupported_hardware:
        return ERR_UNSUPPORTED;
    default:
        return ERR_INTERNAL;
    }
}

static size_t tensor_count(const struct nn_tensor *t)
{
    size_t n = 1;

    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

/* Allocate count floats plus XNNPACK's read slack; NULL on failure. */
static float *alloc_slack(size_t count)
{
    return calloc(1, count * sizeof(float) + XNN_EXTRA_BYTES);
}

static float *own(struct xnnpack_state *st, float *p)
{
    if (!p)
        return NULL;
    if (st->n_owned == st->cap_owned) {
        st->cap_owned = st->cap_owned ? 2 * st->cap_owned : 16;
        st->owned = xrealloc(st->owned,
                             (size_t)st->cap_owned * sizeof(*st->owned));
    }
    st->owned[st->n_owned++] = p;
    return p;
}

static int output_slot(const struct nn_graph *g, int t)
{
    for (int i = 0; i < g->n_outputs; i++) {
        if (g->outputs[i] == t)
            return i;
    }
    return -1;
}

/* Define a value of rank/dims not tied to a graph tensor (concat steps). */
static int define_internal(struct xnnpack_state *st,
                           const struct nn_tensor *like, uint32_t *id)
{
    size_t dims[NN_MAX_RANK];

    for (int i = 0; i < like->rank; i++)
        dims[i] = (size_t)like->dims[i];
    return map_status(xnn_define_tensor_value(
        st->subgraph, xnn_datatype_fp32, (size_t)like->rank, dims, NULL,
        XNN_INVALID_VALUE_ID, 0, id));
}

/*
 * Return (defining it on first use) the XNNPACK value of tensor t.  The
 * graph input is external value 0 and output i is external value 1 + i.
 */
static int value_of(struct xnnpack_state *st, int t, uint32_t *id)
{
    const struct nn_graph *g = st->g;
    const struct nn_tensor *tensor = &g->tensors[t];
    size_t dims[NN_MAX_RANK];
    const void *data = NULL;
    uint32_t external = XNN_INVALID_VALUE_ID;
    uint32_t flags = 0;
    int slot;
    int ret;

    if (st->value_ids[t] != XNN_INVALID_VALUE_ID) {
        *id = st->value_ids[t];
        return 0;
    }

    for (int i = 0; i < tensor->rank; i++)
        dims[i] = (size_t)tensor->dims[i];

    slot = output_slot(g, t);
    if (tensor->data) {
        if (slot >= 0)
            return ERR_UNSUPPORTED;
        data = tensor->data;
        if (st->operand_use[t]) {
            size_t n = tensor_count(tensor);
            float *copy = own(st, alloc_slack(n));

            if (!copy)
                return ERR_NOMEM;
            memcpy(copy, tensor->data, n * sizeof(float));
            data = copy;
        }
    } else if (t == g->input) {
        if (slot >= 0)
            return ERR_UNSUPPORTED;
        external = 0;
        flags = XNN_VALUE_FLAG_EXTERNAL_INPUT;
    } else if (slot >= 0) {
        external = (uint32_t)slot + 1;
        flags = XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
    }

    ret = map_status(xnn_define_tensor_value(
        st->subgraph, xnn_datatype_fp32, (size_t)tensor->rank, dims, data,
        external, flags, id));
    if (ret)
        return ret;
    st->value_ids[t] = *id;
    return 0;
}

static void activation_range(enum nn_activation act, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (act == NN_ACT_RELU || act == NN_ACT_RELU6)
        *lo = 0.0f;
    if (act == NN_ACT_RELU6)
        *hi = 6.0f;
}

/*
 * Split TensorFlow SAME padding for one spatial axis: the output is
 * ceil(in / stride) and the odd padding element goes after the data.
 */
static void same_padding(enum nn_padding mode, int in, int kernel, int stride,
                         int dilation, uint32_t *before, uint32_t *after)
{
    int out, need, total;

    *before = 0;
    *after = 0;
    if (mode != NN_PAD_SAME)
        return;
    out = (in + stride - 1) / stride;
    need = (out - 1) * stride + (kernel - 1) * dilation + 1;
    total = MAX(need - in, 0);
    *before = (uint32_t)(total / 2);
    *after = (uint32_t)(total - total / 2);
}

static int define_conv(struct xnnpack_state *st, const struct nn_node *n)
{
    const struct nn_graph *g = st->g;
    const struct nn_tensor *in = &g->tensors[n->in[0]];
    const struct nn_tensor *w = &g->tensors[n->in[1]];
    bool depthwise = n->op == NN_OP_DEPTHWISE_CONV2D;
    uint32_t in_id, w_id, b_id, out_id;
    uint32_t top, bottom, left, right;
    uint32_t kh = (uint32_t)w->dims[1], kw = (uint32_t)w->dims[2];
    size_t in_c = (size_t)in->dims[3];
    size_t out_c = depthwise ? in_c : (size_t)w->dims[0];
    float lo, hi;
    int ret;

    if (w->rank != 4 || in->rank != 4 || !w->data)
        return ERR_UNSUPPORTED;

    ret = value_of(st, n->in[0], &in_id);
    if (!ret)
        ret = value_of(st, n->in[1], &w_id);
    if (!ret && n->n_in > 2 && n->in[2] >= 0) {
        ret = value_of(st, n->in[2], &b_id);
    } else if (!ret) {
        /* A convolution node here needs a bias value; give it zeros. */
        float *zeros = own(st, alloc_slack(out_c));
        size_t dim = out_c;

        if (!zeros)
            return ERR_NOMEM;
        ret = map_status(xnn_define_tensor_value(
            st->subgraph, xnn_datatype_fp32, 1, &dim, zeros,
            XNN_INVALID_VALUE_ID, 0, &b_id));
    }
    if (!ret)
        ret = value_of(st, n->out, &out_id);
    if (ret)
        return ret;

    same_padding(n->padding, in->dims[1], (int)kh, n->stride_h,
                 n->dilation_h, &top, &bottom);
    same_padding(n->padding, in->dims[2], (int)kw, n->stride_w,
                 n->dilation_w, &left, &right);
    activation_range(n->activation, &lo, &hi);

    if (depthwise)
        return map_status(xnn_define_depthwise_convolution_2d(
            st->subgraph, top, right, bottom, left, kh, kw,
            (uint32_t)n->stride_h, (uint32_t)n->stride_w,
            (uint32_t)n->dilation_h, (uint32_t)n->dilation_w, 1, in_c, lo,
            hi, in_id, w_id, b_id, out_id, 0));
    return map_status(xnn_define_convolution_2d(
        st->subgraph, top, right, bottom, left, kh, kw,
        (uint32_t)n->stride_h, (uint32_t)n->stride_w,
        (uint32_t)n->dilation_h, (uint32_t)n->dilation_w, 1, in_c, out_c, lo,
        hi, in_id, w_id, b_id, out_id, 0));
}

static int define_binary(struct xnnpack_state *st, const struct nn_node *n)
{
    uint32_t a_id, b_id, out_id;
    float lo, hi;
    int ret;

    ret = value_of(st, n->in[0], &a_id);
    if (!ret)
        ret = value_of(st, n->in[1], &b_id);
    if (!ret)
        ret = value_of(st, n->out, &out_id);
    if (ret)
        return ret;

    activation_range(n->activation, &lo, &hi);
    if (n->op == NN_OP_ADD)
        return map_status(xnn_define_add2(st->subgraph, lo, hi, a_id, b_id,
                                          out_id, 0));
    return map_status(xnn_define_multiply2(st->subgraph, lo, hi, a_id, b_id,
                                           out_id, 0));
}

static int define_max_pool(struct xnnpack_state *st, const struct nn_node *n)
{
    const struct nn_tensor *in = &st->g->tensors[n->in[0]];
    uint32_t in_id, out_id;
    uint32_t top, bottom, left, right;
    int ret;

    ret = value_of(st, n->in[0], &in_id);
    if (!ret)
        ret = value_of(st, n->out, &out_id);
    if (ret)
        return ret;

    same_padding(n->padding, in->dims[1], n->pool_h, n->stride_h, 1, &top,
                 &bottom);
    same_padding(n->padding, in->dims[2], n->pool_w, n->stride_w, 1, &left,
                 &right);
    return map_status(xnn_define_max_pooling_2d(
        st->subgraph, top, right, bottom, left, (uint32_t)n->pool_h,
        (uint32_t)n->pool_w, (uint32_t)n->stride_h, (uint32_t)n->stride_w, 1,
        1, -INFINITY, INFINITY, in_id, out_id, 0));
}

static int define_pad(struct xnnpack_state *st, const struct nn_node *n)
{
    int rank = st->g->tensors[n->in[0]].rank;
    size_t before[NN_MAX_RANK], after[NN_MAX_RANK];
    uint32_t in_id, out_id;
    int ret;

    ret = value_of(st, n->in[0], &in_id);
    if (!ret)
        ret = value_of(st, n->out, &out_id);
    if (ret)
        return ret;

    for (int i = 0; i < rank; i++) {
        before[i] = (size_t)n->pad_before[i];
        after[i] = (size_t)n->pad_after[i];
    }
    return map_status(xnn_define_static_constant_pad(
        st->subgraph, before, after, 0.0f, in_id, out_id, 0));
}

static int define_reshape(struct xnnpack_state *st, int in, int out)
{
    const struct nn_tensor *t = &st->g->tensors[out];
    size_t dims[NN_MAX_RANK];
    uint32_t in_id, out_id;
    int ret;

    ret = value_of(st, in, &in_id);
    if (!ret)
        ret = value_of(st, out, &out_id);
    if (ret)
        return ret;

    for (int i = 0; i < t->rank; i++)
        dims[i] = (size_t)t->dims[i];
    return map_status(xnn_define_static_reshape(
        st->subgraph, (size_t)t->rank, dims, in_id, out_id, 0));
}

static int define_resize(struct xnnpack_state *st, const struct nn_node *n)
{
    uint32_t in_id, out_id;
    uint32_t flags = 0;
    int ret;

    if (n->align_corners && n->half_pixel_centers)
        return ERR_UNSUPPORTED;
    if (n->align_corners)
        flags = XNN_FLAG_ALIGN_CORNERS;
    else if (!n->half_pixel_centers)
        flags = XNN_FLAG_TENSORFLOW_LEGACY_MODE;

    ret = value_of(st, n->in[0], &in_id);
    if (!ret)
        ret = value_of(st, n->out, &out_id);
    if (ret)
        return ret;
    return map_status(xnn_define_static_resize_bilinear_2d(
        st->subgraph, (size_t)n->out_h, (size_t)n->out_w, in_id, out_id,
        flags));
}

/*
 * Concatenate by padding each input with zeros to the output shape at its
 * offset along the axis and summing the padded tensors (see the header).
 */
static int define_concat(struct xnnpack_state *st, const struct nn_node *n)
{
    const struct nn_tensor *out = &st->g->tensors[n->out];
    int axis = n->axis < 0 ? n->axis + out->rank : n->axis;
    size_t before[NN_MAX_RANK] = {0}, after[NN_MAX_RANK] = {0};
    uint32_t sum_id = XNN_INVALID_VALUE_ID;
    uint32_t out_id;
    int offset = 0;
    int ret;

    if (axis < 0 || axis >= out->rank)
        return ERR_UNSUPPORTED;
    if (n->n_in == 1)
        return define_reshape(st, n->in[0], n->out);

    ret = value_of(st, n->out, &out_id);
    if (ret)
        return ret;

    for (int i = 0; i < n->n_in; i++) {
        int size = st->g->tensors[n->in[i]].dims[axis];
        uint32_t in_id, padded_id, next_id;

        ret = value_of(st, n->in[i], &in_id);
        if (!ret)
            ret = define_internal(st, out, &padded_id);
        if (ret)
            return ret;

        before[axis] = (size_t)offset;
        after[axis] = (size_t)(out->dims[axis] - offset - size);
        ret = map_status(xnn_define_static_constant_pad(
            st->subgraph, before, after, 0.0f, in_id, padded_id, 0));
        if (ret)
            return ret;
        offset += size;

        if (i == 0) {
            sum_id = padded_id;
            continue;
        }
        next_id = out_id;
        if (i < n->n_in - 1) {
            ret = define_internal(st, out, &next_id);
            if (ret)
                return ret;
        }
        ret = map_status(xnn_define_add2(st->subgraph, -INFINITY, INFINITY,
                                         sum_id, padded_id, next_id, 0));
        if (ret)
            return ret;
        sum_id = next_id;
    }
    return 0;
}

static int define_unary(struct xnnpack_state *st, const struct nn_node *n)
{
    uint32_t in_id, out_id;
    int ret;

    ret = value_of(st, n->in[0], &in_id);
    if (!ret)
        ret = value_of(st, n->out, &out_id);
    if (ret)
        return ret;

    switch (n->op) {
    case NN_OP_RELU:
        return map_status(xnn_define_clamp(st->subgraph, 0.0f, INFINITY,
                                           in_id, out_id, 0));
    case NN_OP_RELU6:
        return map_status(xnn_define_clamp(st->subgraph, 0.0f, 6.0f, in_id,
                                           out_id, 0));
    case NN_OP_SIGMOID:
        return map_status(xnn_define_sigmoid(st->subgraph, in_id, out_id, 0));
    case NN_OP_MEAN:
        return map_status(xnn_define_global_average_pooling_2d(
            st->subgraph, -INFINITY, INFINITY, in_id, out_id, 0));
    default:
        return ERR_UNSUPPORTED;
    }
}

static int define_node(struct xnnpack_state *st, const struct nn_node *n)
{
    switch (n->op) {
    case NN_OP_CONV2D:
    case NN_OP_DEPTHWISE_CONV2D:
        return define_conv(st, n);
    case NN_OP_ADD:
    case NN_OP_MUL:
        return define_binary(st, n);
    case NN_OP_RELU:
    case NN_OP_RELU6:
    case NN_OP_SIGMOID:
    case NN_OP_MEAN:
        return define_unary(st, n);
    case NN_OP_MAX_POOL2D:
        return define_max_pool(st, n);
    case NN_OP_PAD:
        return define_pad(st, n);
    case NN_OP_CONCAT:
        return define_concat(st, n);
    case NN_OP_RESHAPE:
        return define_reshape(st, n->in[0], n->out);
    case NN_OP_RESIZE_BILINEAR:
        return define_resize(st, n);
    }
    return ERR_UNSUPPORTED;
}

/* Mark constants that XNNPACK reads as they are rather than packing them. */
static void mark_operand_uses(struct xnnpack_state *st)
{
    const struct nn_graph *g = st->g;

    for (int i = 0; i < g->n_nodes; i++) {
        const struct nn_node *n = &g->nodes[i];
        bool conv = n->op == NN_OP_CONV2D ||
                    n->op == NN_OP_DEPTHWISE_CONV2D;

        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] < 0 || (conv && j > 0))
                continue;
            if (g->tensors[n->in[j]].data)
                st->operand_use[n->in[j]] = true;
        }
    }
}

static void backend_release(void *state)
{
    struct xnnpack_state *st = state;

    if (!st)
        return;
    if (st->runtime)
        xnn_delete_runtime(st->runtime);
    if (st->subgraph)
        xnn_delete_subgraph(st->subgraph);
    if (st->pool)
        pthreadpool_destroy(st->pool);
    for (int i = 0; i < st->n_owned; i++)
        free(st->owned[i]);
    free(st->owned);
    if (st->outputs) {
        for (int i = 0; i < st->g->n_outputs; i++)
            free(st->outputs[i]);
    }
    free(st->outputs);
    free(st->input);
    free(st->operand_use);
    free(st->value_ids);
    free(st);
}

static int setup_io(struct xnnpack_state *st)
{
    const struct nn_graph *g = st->g;
    struct xnn_external_value ext[NN_MAX_INPUTS + 1];

    st->input = alloc_slack(tensor_count(&g->tensors[g->input]));
    if (!st->input)
        return ERR_NOMEM;
    ext[0].id = 0;
    ext[0].data = st->input;

    st->outputs = xcalloc((size_t)g->n_outputs, sizeof(*st->outputs));
    for (int i = 0; i < g->n_outputs; i++) {
        st->outputs[i] = alloc_slack(tensor_count(&g->tensors[g->outputs[i]]));
        if (!st->outputs[i])
            return ERR_NOMEM;
        ext[i + 1].id = (uint32_t)i + 1;
        ext[i + 1].data = st->outputs[i];
    }
    return map_status(xnn_setup_runtime(st->runtime,
                                        (size_t)g->n_outputs + 1, ext));
}

static int backend_prepare(const struct nn_graph *g, int threads,
                           void **state)
{
    struct xnnpack_state *st;
    uint32_t input_id;
    int ret;

    pthread_once(&init_once, init_xnnpack);
    if (init_status != xnn_status_success)
        return map_status(init_status);
    if (g->n_outputs < 1 || g->n_outputs > NN_MAX_INPUTS)
        return ERR_UNSUPPORTED;
    for (int i = 0; i < g->n_outputs; i++) {
        if (output_slot(g, g->outputs[i]) != i)
            return ERR_UNSUPPORTED; /* one tensor listed twice */
    }

    st = xcalloc(1, sizeof(*st));
    st->g = g;
    st->value_ids = xmalloc((size_t)g->n_tensors * sizeof(*st->value_ids));
    for (int i = 0; i < g->n_tensors; i++)
        st->value_ids[i] = XNN_INVALID_VALUE_ID;
    st->operand_use = xcalloc((size_t)g->n_tensors, sizeof(bool));
    mark_operand_uses(st);

    ret = map_status(xnn_create_subgraph((uint32_t)g->n_outputs + 1, 0,
                                         &st->subgraph));
    if (ret)
        goto out_release;
    ret = value_of(st, g->input, &input_id);
    if (ret)
        goto out_release;
    for (int i = 0; i < g->n_nodes; i++) {
        ret = define_node(st, &g->nodes[i]);
        if (ret)
            goto out_release;
    }

    if (threads > 1) {
        st->pool = pthreadpool_create((size_t)threads);
        if (!st->pool) {
            ret = ERR_NOMEM;
            goto out_release;
        }
    }
    ret = map_status(xnn_create_runtime_v2(st->subgraph, st->pool, 0,
                                           &st->runtime));
    if (ret)
        goto out_release;
    xnn_delete_subgraph(st->subgraph);
    st->subgraph = NULL;

    ret = setup_io(st);
    if (ret)
        goto out_release;
    *state = st;
    return 0;

out_release:
    backend_release(st);
    return ret;
}

static int backend_run(void *state, const float *input)
{
    struct xnnpack_state *st = state;
    const struct nn_graph *g = st->g;

    memcpy(st->input, input,
           tensor_count(&g->tensors[g->input]) * sizeof(float));
    return map_status(xnn_invoke_runtime(st->runtime));
}

static const float *backend_output(const void *state, int i)
{
    const struct xnnpack_state *st = state;

    return st->outputs[i];
}

const struct nn_backend_ops nn__xnnpack_ops = {
    .name = "xnnpack",
    .prepare = backend_prepare,
    .run = backend_run,
    .output = backend_output,
    .release = backend_release,
};
