/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Graph building, validation and shape inference, and the dispatch from
 * nn_exec_* to a back end.  nn_graph_finish() is the single gate between
 * untrusted loader output and the kernels: after it succeeds every index is
 * in range, every activation has one producer that runs before its readers,
 * and every op's dims are consistent, so back ends need no checks of their
 * own.
 */
#include "core/base.h"
#include "vision/nn.h"

#include <math.h>

#include "core/err.h"
#include "vision/nn_int.h"

/* Largest element count of one tensor: 2^28 floats is 1 GiB. */
#define NN_MAX_ELEMENTS ((size_t)1 << 28)

struct nn_exec {
    const struct nn_backend_ops *ops;
    void *state;
    const struct nn_graph *graph;
};

void nn_graph_init(struct nn_graph *g)
{
    memset(g, 0, sizeof(*g));
    g->input = -1;
}

void nn_graph_release(struct nn_graph *g)
{
    for (int i = 0; i < g->n_tensors; i++) {
        free(g->tensors[i].name);
        free(g->tensors[i].data);
    }
    free(g->tensors);
    free(g->nodes);
    nn_graph_init(g);
}

static bool dims_valid(int rank, const int *dims)
{
    size_t count = 1;

    if (rank < 1 || rank > NN_MAX_RANK)
        return false;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1 || (size_t)dims[i] > NN_MAX_ELEMENTS)
            return false;
        count *= (size_t)dims[i];
        if (count > NN_MAX_ELEMENTS)
            return false;
    }
    return true;
}

int nn_graph_add_tensor(struct nn_graph *g, const char *name, int rank,
                        const int *dims, float *data)
{
    struct nn_tensor *t;

    if (!dims_valid(rank, dims) || g->n_tensors == INT_MAX)
        return ERR_INVALID;
    if (g->n_tensors == g->cap_tensors) {
        int cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
        g->tensors = xrealloc(g->tensors, (size_t)cap * sizeof(*g->tensors));
        g->cap_tensors = cap;
    }
    t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof(*t));
    t->name = xstrdup(name ? name : "");
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof(int));
    t->data = data;
    g->finished = false;
    return g->n_tensors++;
}

int nn_graph_add_node(struct nn_graph *g, const struct nn_node *node)
{
    if (node->n_in < 1 || node->n_in > NN_MAX_INPUTS || g->n_nodes == INT_MAX)
        return ERR_INVALID;
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        g->nodes = xrealloc(g->nodes, (size_t)cap * sizeof(*g->nodes));
        g->cap_nodes = cap;
    }
    g->nodes[g->n_nodes] = *node;
    g->finished = false;
    return g->n_nodes++;
}

size_t nn_tensor_count(const struct nn_tensor *t)
{
    size_t count = 1;

    for (int i = 0; i < t->rank; i++)
        count *= (size_t)t->dims[i];
    return count;
}

/*
 * Output size of a window op along one axis.  SAME gives ceil(in / stride)
 * whatever the window; VALID needs the dilated window to fit at least once.
 */
static int window_out(int in, int k, int stride, int dilation,
                      enum nn_padding padding)
{
    long span = (long)(k - 1) * dilation + 1;

    if (padding == NN_PAD_SAME)
        return (int)(((long)in + stride - 1) / stride);
    if (span > in)
        return 0;
    return (int)((in - span) / stride + 1);
}

static bool set_dims(struct nn_tensor *out, int rank, const int *dims)
{
    if (!dims_valid(rank, dims))
        return false;
    out->rank = rank;
    memcpy(out->dims, dims, (size_t)rank * sizeof(int));
    return true;
}

static bool window_params_valid(const struct nn_node *n, bool dilated)
{
    if (n->stride_h < 1 || n->stride_w < 1 || n->stride_h > 64 ||
        n->stride_w > 64)
        return false;
    if (dilated && (n->dilation_h < 1 || n->dilation_w < 1 ||
                    n->dilation_h > 64 || n->dilation_w > 64))
        return false;
    return n->padding == NN_PAD_SAME || n->padding == NN_PAD_VALID;
}

static bool activation_valid(enum nn_activation act)
{
    return act == NN_ACT_NONE || act == NN_ACT_RELU || act == NN_ACT_RELU6;
}

static int infer_conv(struct nn_graph *g, const struct nn_node *n,
                      bool depthwise)
{
    const struct nn_tensor *x = &g->tensors[n->in[0]];
    const struct nn_tensor *w;
    int out[4];

    if (n->n_in < 2 || n->n_in > 3 || !window_params_valid(n, true) ||
        !activation_valid(n->activation))
        return ERR_CORRUPT;
    w = &g->tensors[n->in[1]];
    if (x->rank != 4 || w->rank != 4 || !w->data)
        return ERR_CORRUPT;
    if (depthwise && (w->dims[0] != 1 || w->dims[3] != x->dims[3]))
        return ERR_CORRUPT;
    if (!depthwise && w->dims[3] != x->dims[3])
        return ERR_CORRUPT;
    if (n->n_in == 3) {
        const struct nn_tensor *b = &g->tensors[n->in[2]];
        size_t want = (size_t)(depthwise ? w->dims[3] : w->dims[0]);
        if (!b->data || nn_tensor_count(b) != want)
            return ERR_CORRUPT;
    }

    out[0] = x->dims[0];
    out[1] = window_out(x->dims[1], w->dims[1], n->stride_h, n->dilation_h,
                        n->padding);
    out[2] = window_out(x->dims[2], w->dims[2], n->stride_w, n->dilation_w,
                        n->padding);
    out[3] = depthwise ? x->dims[3] : w->dims[0];
    return set_dims(&g->tensors[n->out], 4, out) ? 0 : ERR_CORRUPT;
}

/* in[1] matches in[0], or is one value, or C values with leading ones. */
static bool broadcast_valid(const struct nn_tensor *a,
                            const struct nn_tensor *b)
{
    size_t nb = nn_tensor_count(b);

    if (nb == 1)
        return true;
    if (a->rank == b->rank &&
        memcmp(a->dims, b->dims, (size_t)a->rank * sizeof(int)) == 0)
        return true;
    if (nb != (size_t)a->dims[a->rank - 1] || b->rank > a->rank)
        return false;
    for (int i = 0; i < b->rank - 1; i++)
        if (b->dims[i] != 1)
            return false;
    return true;
}

/*
 * ADD and MUL commute, so the operands are put in the order the kernels
 * expect: a constant, or the smaller of two activations, in in[1].  Loaders
 * cannot always do this themselves because activation dims are only known
 * here.
 */
static int infer_binary(struct nn_graph *g, struct nn_node *n)
{
    const struct nn_tensor *a, *b;

    if (n->n_in != 2 || !activation_valid(n->activation))
        return ERR_CORRUPT;
    a = &g->tensors[n->in[0]];
    b = &g->tensors[n->in[1]];
    if ((a->data && !b->data) ||
        (!b->data && nn_tensor_count(a) < nn_tensor_count(b))) {
        int tmp = n->in[0];
        n->in[0] = n->in[1];
        n->in[1] = tmp;
        a = b;
    }
    if (!broadcast_valid(a, &g->tensors[n->in[1]]))
        return ERR_CORRUPT;
    return set_dims(&g->tensors[n->out], a->rank, a->dims) ? 0 : ERR_CORRUPT;
}

static int infer_pool(struct nn_graph *g, const struct nn_node *n)
{
    const struct nn_tensor *x = &g->tensors[n->in[0]];
    int out[4];

    if (n->n_in != 1 || x->rank != 4 || !window_params_valid(n, false) ||
        n->pool_h < 1 || n->pool_w < 1 || n->pool_h > 64 || n->pool_w > 64)
        return ERR_CORRUPT;
    out[0] = x->dims[0];
    out[1] = window_out(x->dims[1], n->pool_h, n->stride_h, 1, n->padding);
    out[2] = window_out(x->dims[2], n->pool_w, n->stride_w, 1, n->padding);
    out[3] = x->dims[3];
    return set_dims(&g->tensors[n->out], 4, out) ? 0 : ERR_CORRUPT;
}

static int infer_pad(struct nn_graph *g, const struct nn_node *n)
{
    const struct nn_tensor *x = &g->tensors[n->in[0]];
    int out[NN_MAX_RANK];

    if (n->n_in != 1)
        return ERR_CORRUPT;
    for (int i = 0; i < x->rank; i++) {
        long d = (long)x->dims[i] + n->pad_before[i] + n->pad_after[i];
        if (n->pad_before[i] < 0 || n->pad_after[i] < 0 ||
            d > (long)NN_MAX_ELEMENTS)
            return ERR_CORRUPT;
        out[i] = (int)d;
    }
    return set_dims(&g->tensors[n->out], x->rank, out) ? 0 : ERR_CORRUPT;
}

static int infer_concat(struct nn_graph *g, struct nn_node *n)
{
    const struct nn_tensor *x = &g->tensors[n->in[0]];
    int out[NN_MAX_RANK];
    int axis = n->axis;
    long sum = 0;

    if (axis < 0)
        axis += x->rank;
    if (axis < 0 || axis >= x->rank)
        return ERR_CORRUPT;
    for (int i = 0; i < n->n_in; i++) {
        const struct nn_tensor *t = &g->tensors[n->in[i]];
        if (t->rank != x->rank)
            return ERR_CORRUPT;
        for (int d = 0; d < x->rank; d++)
            if (d != axis && t->dims[d] != x->dims[d])
                return ERR_CORRUPT;
        sum += t->dims[axis];
    }
    if (sum > (long)NN_MAX_ELEMENTS)
        return ERR_CORRUPT;
    memcpy(out, x->dims, sizeof(out));
    out[axis] = (int)sum;
    n->axis = axis;
    return set_dims(&g->tensors[n->out], x->rank, out) ? 0 : ERR_CORRUPT;
}

static int infer_node(struct nn_graph *g, struct nn_node *n)
{
    const struct nn_tensor *x = &g->tensors[n->in[0]];
    struct nn_tensor *y = &g->tensors[n->out];
    int out[4];

    switch (n->op) {
    case NN_OP_CONV2D:
        return infer_conv(g, n, false);
    case NN_OP_DEPTHWISE_CONV2D:
        return infer_conv(g, n, true);
    case NN_OP_ADD:
    case NN_OP_MUL:
        return infer_binary(g, n);
    case NN_OP_RELU:
    case NN_OP_RELU6:
    case NN_OP_SIGMOID:
        if (n->n_in != 1)
            return ERR_CORRUPT;
        return set_dims(y, x->rank, x->dims) ? 0 : ERR_CORRUPT;
    case NN_OP_MEAN:
        if (n->n_in != 1 || x->rank != 4)
            return ERR_CORRUPT;
        out[0] = x->dims[0];
        out[1] = 1;
        out[2] = 1;
        out[3] = x->dims[3];
        return set_dims(y, 4, out) ? 0 : ERR_CORRUPT;
    case NN_OP_MAX_POOL2D:
        return infer_pool(g, n);
    case NN_OP_PAD:
        return infer_pad(g, n);
    case NN_OP_CONCAT:
        return infer_concat(g, n);
    case NN_OP_RESHAPE:
        /* The loader sets the new dims on the output tensor. */
        if (n->n_in != 1 || nn_tensor_count(x) != nn_tensor_count(y))
            return ERR_CORRUPT;
        return 0;
    case NN_OP_RESIZE_BILINEAR:
        if (n->n_in != 1 || x->rank != 4 || n->out_h < 1 || n->out_w < 1 ||
            (n->half_pixel_centers && n->align_corners))
            return ERR_CORRUPT;
        out[0] = x->dims[0];
        out[1] = n->out_h;
        out[2] = n->out_w;
        out[3] = x->dims[3];
        return set_dims(y, 4, out) ? 0 : ERR_CORRUPT;
    }
    return ERR_UNSUPPORTED;
}

int nn_graph_finish(struct nn_graph *g)
{
    bool *ready = NULL;
    int err = ERR_CORRUPT;

    g->finished = false;
    if (g->n_tensors < 1 || g->n_nodes < 1 || g->input < 0 ||
        g->input >= g->n_tensors || g->n_outputs < 1 ||
        g->n_outputs > NN_MAX_INPUTS)
        return ERR_CORRUPT;
    if (g->tensors[g->input].data || g->tensors[g->input].rank != 4)
        return ERR_CORRUPT;

    ready = xcalloc((size_t)g->n_tensors, sizeof(*ready));
    for (int i = 0; i < g->n_tensors; i++)
        ready[i] = g->tensors[i].data != NULL;
    ready[g->input] = true;

    for (int i = 0; i < g->n_nodes; i++) {
        struct nn_node *n = &g->nodes[i];

        if (n->n_in < 1 || n->n_in > NN_MAX_INPUTS)
            goto out_free_ready;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] < 0 || n->in[k] >= g->n_tensors || !ready[n->in[k]])
                goto out_free_ready;
        if (n->out < 0 || n->out >= g->n_tensors || ready[n->out])
            goto out_free_ready;
        err = infer_node(g, n);
        if (err < 0)
            goto out_free_ready;
        err = ERR_CORRUPT;
        /* Data comes from activations: constants only fill the weight,
         * bias and broadcast slots, or join a concat. */
        if (g->tensors[n->in[0]].data && n->op != NN_OP_CONCAT)
            goto out_free_ready;
        ready[n->out] = true;
    }

    for (int i = 0; i < g->n_outputs; i++) {
        int t = g->outputs[i];
        if (t < 0 || t >= g->n_tensors || !ready[t] || t == g->input ||
            g->tensors[t].data)
            goto out_free_ready;
    }
    g->finished = true;
    err = 0;

out_free_ready:
    free(ready);
    return err;
}

int nn_graph_find(const struct nn_graph *g, const char *name)
{
    for (int i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return i;
    return ERR_NOT_FOUND;
}

double nn_graph_macs(const struct nn_graph *g)
{
    double macs = 0;

    for (int i = 0; i < g->n_nodes; i++) {
        const struct nn_node *n = &g->nodes[i];
        const struct nn_tensor *y = &g->tensors[n->out];
        const struct nn_tensor *w;

        if (n->op != NN_OP_CONV2D && n->op != NN_OP_DEPTHWISE_CONV2D)
            continue;
        w = &g->tensors[n->in[1]];
        macs += (double)nn_tensor_count(y) * w->dims[1] * w->dims[2] *
                (n->op == NN_OP_CONV2D ? w->dims[3] : 1);
    }
    return macs;
}

int nn_exec_new(const struct nn_graph *g, enum nn_backend backend,
                int threads, struct nn_exec **out)
{
    struct nn_exec *e;
    int err;

    *out = NULL;
    if (!g->finished)
        return ERR_INVALID;
    e = xcalloc(1, sizeof(*e));
    e->graph = g;
    switch (backend) {
    case NN_BACKEND_REFERENCE:
        e->ops = &nn__reference_ops;
        break;
    case NN_BACKEND_XNNPACK:
        e->ops = &nn__xnnpack_ops;
        break;
    default:
        free(e);
        return ERR_INVALID;
    }
    err = e->ops->prepare(g, threads < 1 ? 1 : threads, &e->state);
    if (err < 0) {
        free(e);
        return err;
    }
    *out = e;
    return 0;
}

int nn_exec_run(struct nn_exec *e, const float *input)
{
    return e->ops->run(e->state, input);
}

const float *nn_exec_output(const struct nn_exec *e, int i)
{
    if (i < 0 || i >= e->graph->n_outputs)
        return NULL;
    return e->ops->output(e->state, i);
}

void nn_exec_free(struct nn_exec *e)
{
    if (!e)
        return;
    e->ops->release(e->state);
    free(e);
}

float nn__half_to_float(uint16_t h)
{
    int exponent = (h >> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    float v;

    if (exponent == 0)
        v = ldexpf((float)mantissa, -24); /* zero or subnormal */
    else if (exponent == 31)
        v = mantissa ? NAN : INFINITY;
    else
        v = ldexpf((float)(mantissa | 0x400), exponent - 25);
    return (h & 0x8000) ? -v : v;
}

