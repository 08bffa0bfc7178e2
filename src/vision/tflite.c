/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TFLite flatbuffer loader.  The reader below never trusts an offset: every
 * table, vtable, vector and string is checked against the buffer length,
 * and a failed check sets a sticky flag in struct fb and yields a default,
 * so parsing code reads straight through and checks the flag once per
 * step.  The TFLite schema field numbers used here are those of
 * tensorflow/lite/schema/schema.fbs (schema version 3).
 */
#include "core/base.h"
#include "vision/tflite.h"

#include "core/err.h"
#include "core/file.h"
#include "vision/nn_int.h"

#define MAX_TFL_TENSORS   100000
#define MAX_TFL_OPS       100000
#define MAX_CONST_FLOATS  ((size_t)64 << 20) /* 256 MiB of float32 */
#define MAX_NAME_BYTES    1024

/* Builtin operator codes (enum BuiltinOperator). */
enum {
    OP_ADD = 0,
    OP_CONCATENATION = 2,
    OP_CONV_2D = 3,
    OP_DEPTHWISE_CONV_2D = 4,
    OP_DEQUANTIZE = 6,
    OP_LOGISTIC = 14,
    OP_MAX_POOL_2D = 17,
    OP_MUL = 18,
    OP_RELU = 19,
    OP_RELU6 = 21,
    OP_RESHAPE = 22,
    OP_RESIZE_BILINEAR = 23,
    OP_PAD = 34,
    OP_MEAN = 40,
};

/* Tensor element types (enum TensorType). */
enum {
    TYPE_FLOAT32 = 0,
    TYPE_FLOAT16 = 1,
    TYPE_INT32 = 2,
};

struct fb {
    const uint8_t *b;
    size_t len;
    bool bad; /* set by any out-of-range read */
};

struct fb_table {
    size_t pos;    /* table start */
    size_t vt;     /* its vtable */
    uint16_t vlen; /* vtable bytes */
    uint16_t tlen; /* table bytes */
};

static bool fb_has(struct fb *f, size_t off, size_t n)
{
    if (off > f->len || f->len - off < n) {
        f->bad = true;
        return false;
    }
    return true;
}

static uint32_t fb_u32(struct fb *f, size_t off)
{
    const uint8_t *p;

    if (!fb_has(f, off, 4))
        return 0;
    p = f->b + off;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint16_t fb_u16(struct fb *f, size_t off)
{
    if (!fb_has(f, off, 2))
        return 0;
    return (uint16_t)(f->b[off] | f->b[off + 1] << 8);
}

/* Parse the table at pos; false (and f->bad) when it does not fit. */
static bool fb_table_at(struct fb *f, size_t pos, struct fb_table *t)
{
    int32_t soff = (int32_t)fb_u32(f, pos);
    int64_t vt = (int64_t)pos - soff;

    memset(t, 0, sizeof(*t));
    if (f->bad || vt < 0 || (uint64_t)vt > f->len) {
        f->bad = true;
        return false;
    }
    t->pos = pos;
    t->vt = (size_t)vt;
    t->vlen = fb_u16(f, t->vt);
    t->tlen = fb_u16(f, t->vt + 2);
    if (f->bad || t->vlen < 4 || t->tlen < 4 || !fb_has(f, t->vt, t->vlen) ||
        !fb_has(f, pos, t->tlen)) {
        f->bad = true;
        return false;
    }
    return true;
}

/* Absolute position of field id holding size bytes, or 0 if absent. */
static size_t fb_field(struct fb *f, const struct fb_table *t, int id,
                       size_t size)
{
    size_t slot = 4 + 2 * (size_t)id;
    uint16_t off;

    if (!t->vlen || slot + 2 > t->vlen)
        return 0;
    off = fb_u16(f, t->vt + slot);
    if (!off)
        return 0;
    if ((size_t)off + size > t->tlen) {
        f->bad = true;
        return 0;
    }
    return t->pos + off;
}

static int32_t fb_i32(struct fb *f, const struct fb_table *t, int id,
                      int32_t def)
{
    size_t p = fb_field(f, t, id, 4);
    return p ? (int32_t)fb_u32(f, p) : def;
}

static uint32_t fb_uint(struct fb *f, const struct fb_table *t, int id,
                        uint32_t def)
{
    size_t p = fb_field(f, t, id, 4);
    return p ? fb_u32(f, p) : def;
}

static int fb_byte(struct fb *f, const struct fb_table *t, int id, int def)
{
    size_t p = fb_field(f, t, id, 1);
    return p ? f->b[p] : def;
}

static uint64_t fb_u64(struct fb *f, const struct fb_table *t, int id)
{
    size_t p = fb_field(f, t, id, 8);
    return p ? (uint64_t)fb_u32(f, p) | (uint64_t)fb_u32(f, p + 4) << 32 : 0;
}

/* Follow the offset in field id; 0 if absent or out of range. */
static size_t fb_ref(struct fb *f, const struct fb_table *t, int id)
{
    size_t p = fb_field(f, t, id, 4);
    uint32_t rel;

    if (!p)
        return 0;
    rel = fb_u32(f, p);
    if (f->bad || rel > f->len - p) {
        f->bad = true;
        return 0;
    }
    return p + rel;
}

static bool fb_subtable(struct fb *f, const struct fb_table *t, int id,
                        struct fb_table *out)
{
    size_t p = fb_ref(f, t, id);

    memset(out, 0, sizeof(*out));
    return p && fb_table_at(f, p, out);
}

/* Vector in field id: start of its elements and their count, checked. */
static bool fb_vector(struct fb *f, const struct fb_table *t, int id,
                      size_t elem, size_t *start, size_t *count)
{
    size_t p = fb_ref(f, t, id);
    uint32_t n;

    *start = 0;
    *count = 0;
    if (!p)
        return false;
    n = fb_u32(f, p);
    if (f->bad || (f->len - p - 4) / elem < n) {
        f->bad = true;
        return false;
    }
    *start = p + 4;
    *count = n;
    return true;
}

static bool fb_vector_table(struct fb *f, size_t start, size_t k,
                            struct fb_table *out)
{
    size_t p = start + 4 * k;
    uint32_t rel = fb_u32(f, p);

    if (f->bad || rel > f->len - p) {
        f->bad = true;
        return false;
    }
    return fb_table_at(f, p + rel, out);
}

/* Copy the string in field id into a new string, or NULL if absent. */
static char *fb_string(struct fb *f, const struct fb_table *t, int id)
{
    size_t start, count;

    if (!fb_vector(f, t, id, 1, &start, &count))
        return NULL;
    if (count > MAX_NAME_BYTES)
        count = MAX_NAME_BYTES;
    return xstrndup((const char *)f->b + start, count);
}

struct tfl_tensor {
    int rank;              /* declared rank, 0..4, or -1 if unusable */
    int dims[NN_MAX_RANK]; /* declared dims */
    int type;
    const uint8_t *data;   /* constant bytes in the model, or NULL */
    size_t bytes;
    char *name;
    int graph;             /* index in the nn_graph, or -1 */
};

struct loader {
    struct fb f;
    struct nn_graph *g;
    struct tfl_tensor *t;
    size_t n_tensors;
    size_t const_floats; /* running total, capped by MAX_CONST_FLOATS */
};

static size_t declared_count(const struct tfl_tensor *t)
{
    size_t n = 1;

    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

static int read_tensors(struct loader *ld, const struct fb_table *sg,
                        size_t n_buffers, size_t buffers)
{
    struct fb *f = &ld->f;
    size_t start, count;

    if (!fb_vector(f, sg, 0, 4, &start, &count) || count > MAX_TFL_TENSORS)
        return ERR_CORRUPT;
    ld->t = xcalloc(count ? count : 1, sizeof(*ld->t));
    ld->n_tensors = count;
    for (size_t i = 0; i < count; i++) {
        struct tfl_tensor *tt = &ld->t[i];
        struct fb_table t, buf;
        size_t s_start, s_count, d_start, d_count;
        uint32_t bi;

        tt->graph = -1;
        if (!fb_vector_table(f, start, i, &t))
            return ERR_CORRUPT;
        fb_vector(f, &t, 0, 4, &s_start, &s_count);
        tt->rank = s_count <= NN_MAX_RANK ? (int)s_count : -1;
        for (int d = 0; d < tt->rank; d++) {
            int32_t v = (int32_t)fb_u32(f, s_start + 4 * (size_t)d);
            tt->dims[d] = v;
            if (v < 1 || v > (1 << 24))
                tt->rank = -1;
        }
        if (tt->rank > 0 && declared_count(tt) > MAX_CONST_FLOATS)
            tt->rank = -1;
        tt->type = fb_byte(f, &t, 1, 0);
        tt->name = fb_string(f, &t, 3);
        bi = fb_uint(f, &t, 2, 0);
        if (f->bad)
            return ERR_CORRUPT;

        /* Buffer 0 is the empty sentinel: no data. */
        if (bi == 0)
            continue;
        if (bi >= n_buffers || !fb_vector_table(f, buffers, bi, &buf))
            return ERR_CORRUPT;
        if (fb_vector(f, &buf, 0, 1, &d_start, &d_count) && d_count) {
            tt->data = f->b + d_start;
            tt->bytes = d_count;
        } else {
            /* Models over 2 GiB keep data after the flatbuffer. */
            uint64_t off = fb_u64(f, &buf, 1), size = fb_u64(f, &buf, 2);
            if (off > 1 && size) {
                if (off > f->len || size > f->len - off)
                    return ERR_CORRUPT;
                tt->data = f->b + off;
                tt->bytes = (size_t)size;
            }
        }
        if (f->bad)
            return ERR_CORRUPT;
    }
    return 0;
}

/* Convert constant tensor ti to float32 and add it to the graph. */
static int add_constant(struct loader *ld, int ti, const char *name)
{
    struct tfl_tensor *tt = &ld->t[ti];
    size_t n, elem;
    float *data;
    int idx;

    if (tt->rank < 0)
        return ERR_UNSUPPORTED;
    if (tt->type != TYPE_FLOAT32 && tt->type != TYPE_FLOAT16)
        return ERR_UNSUPPORTED;
    elem = tt->type == TYPE_FLOAT32 ? 4 : 2;
    n = declared_count(tt);
    if (tt->bytes != n * elem)
        return ERR_CORRUPT;
    if (n > MAX_CONST_FLOATS - ld->const_floats)
        return ERR_TOO_BIG;
    ld->const_floats += n;

    data = malloc(n * sizeof(float));
    if (!data)
        return ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = tt->data + i * elem;
        if (elem == 2) {
            data[i] = nn__half_to_float((uint16_t)(p[0] | p[1] << 8));
        } else {
            uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                            (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&data[i], &bits, 4);
        }
    }
    if (tt->rank == 0)
        idx = nn_graph_add_tensor(ld->g, name, 1, (int[]){1}, data);
    else
        idx = nn_graph_add_tensor(ld->g, name, tt->rank, tt->dims, data);
    if (idx < 0) {
        free(data);
        return ERR_CORRUPT;
    }
    return idx;
}

/* Graph tensor for model tensor ti, created on first use. */
static int graph_tensor(struct loader *ld, int32_t ti)
{
    struct tfl_tensor *tt;
    char fallback[32];
    const char *name;
    int idx;

    if (ti < 0 || (size_t)ti >= ld->n_tensors)
        return ERR_CORRUPT;
    tt = &ld->t[ti];
    if (tt->graph >= 0)
        return tt->graph;
    snprintf(fallback, sizeof(fallback), "tensor_%d", (int)ti);
    name = tt->name ? tt->name : fallback;
    if (tt->data) {
        idx = add_constant(ld, ti, name);
    } else {
        if (tt->type != TYPE_FLOAT32)
            return ERR_UNSUPPORTED;
        /* Shape inference sets activation dims; keep valid hints. */
        if (tt->rank >= 1)
            idx = nn_graph_add_tensor(ld->g, name, tt->rank, tt->dims, NULL);
        else
            idx = nn_graph_add_tensor(ld->g, name, 1, (int[]){1}, NULL);
        if (idx < 0)
            idx = ERR_CORRUPT;
    }
    if (idx >= 0)
        tt->graph = idx;
    return idx;
}

/* Read a small int32 constant (pads, sizes, axes) into vals[0..max). */
static int int_constant(struct loader *ld, int32_t ti, int *vals, int max,
                        int *count)
{
    struct tfl_tensor *tt;
    size_t n;

    if (ti < 0 || (size_t)ti >= ld->n_tensors)
        return ERR_CORRUPT;
    tt = &ld->t[ti];
    if (!tt->data || tt->type != TYPE_INT32 || tt->rank < 0)
        return ERR_UNSUPPORTED;
    n = declared_count(tt);
    if (n > (size_t)max || tt->bytes != n * 4)
        return ERR_CORRUPT;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = tt->data + 4 * i;
        vals[i] = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                            (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    }
    *count = (int)n;
    return 0;
}

static int activation_of(int code, enum nn_activation *act)
{
    switch (code) {
    case 0:
        *act = NN_ACT_NONE;
        return 0;
    case 1:
        *act = NN_ACT_RELU;
        return 0;
    case 3:
        *act = NN_ACT_RELU6;
        return 0;
    }
    return ERR_UNSUPPORTED;
}

static int padding_of(int code, enum nn_padding *padding)
{
    if (code != 0 && code != 1)
        return ERR_UNSUPPORTED;
    *padding = code == 0 ? NN_PAD_SAME : NN_PAD_VALID;
    return 0;
}

struct tfl_op {
    int code;
    int32_t in[NN_MAX_INPUTS];
    int n_in;
    int32_t out;
    struct fb_table opt; /* builtin options; vlen 0 when absent */
};

/* Fill node n (op already set) from a windowed op's options. */
static int window_options(struct loader *ld, const struct tfl_op *op,
                          struct nn_node *n, bool depthwise)
{
    struct fb *f = &ld->f;
    const struct fb_table *o = &op->opt;
    int err = padding_of(fb_byte(f, o, 0, 0), &n->padding);

    if (err < 0)
        return err;
    n->stride_w = fb_i32(f, o, 1, 1);
    n->stride_h = fb_i32(f, o, 2, 1);
    if (op->code == OP_MAX_POOL_2D) {
        n->pool_w = fb_i32(f, o, 3, 1);
        n->pool_h = fb_i32(f, o, 4, 1);
        return fb_byte(f, o, 5, 0) == 0 ? 0 : ERR_UNSUPPORTED;
    }
    if (depthwise) {
        /* A multiplier other than 1 shows up as a channel mismatch. */
        n->dilation_w = fb_i32(f, o, 5, 1);
        n->dilation_h = fb_i32(f, o, 6, 1);
        return activation_of(fb_byte(f, o, 4, 0), &n->activation);
    }
    n->dilation_w = fb_i32(f, o, 4, 1);
    n->dilation_h = fb_i32(f, o, 5, 1);
    return activation_of(fb_byte(f, o, 3, 0), &n->activation);
}

/* Translate one operator into at most one graph node. */
static int add_op(struct loader *ld, const struct tfl_op *op)
{
    struct fb *f = &ld->f;
    struct nn_node n;
    int vals[2 * NN_MAX_RANK], count = 0, err = 0;

    memset(&n, 0, sizeof(n));
    n.stride_h = n.stride_w = n.dilation_h = n.dilation_w = 1;
    if (op->n_in < 1)
        return ERR_CORRUPT;

    if (op->code == OP_DEQUANTIZE) {
        /* Fold: the output becomes a float32 constant. */
        int32_t ti = op->in[0], to = op->out;
        if (ti < 0 || (size_t)ti >= ld->n_tensors || to < 0 ||
            (size_t)to >= ld->n_tensors)
            return ERR_CORRUPT;
        if (!ld->t[ti].data || ld->t[to].graph >= 0)
            return ERR_UNSUPPORTED;
        err = add_constant(ld, ti, ld->t[to].name ? ld->t[to].name : "");
        if (err < 0)
            return err;
        ld->t[to].graph = err;
        return 0;
    }

    switch (op->code) {
    case OP_CONV_2D:
    case OP_DEPTHWISE_CONV_2D:
        n.op = op->code == OP_CONV_2D ? NN_OP_CONV2D : NN_OP_DEPTHWISE_CONV2D;
        if (op->n_in < 2 || op->n_in > 3)
            return ERR_CORRUPT;
        n.n_in = op->n_in == 3 && op->in[2] >= 0 ? 3 : 2;
        err = window_options(ld, op, &n, op->code == OP_DEPTHWISE_CONV_2D);
        break;
    case OP_MAX_POOL_2D:
        n.op = NN_OP_MAX_POOL2D;
        n.n_in = 1;
        err = window_options(ld, op, &n, false);
        break;
    case OP_ADD:
    case OP_MUL:
        n.op = op->code == OP_ADD ? NN_OP_ADD : NN_OP_MUL;
        if (op->n_in != 2)
            return ERR_CORRUPT;
        n.n_in = 2;
        err = activation_of(fb_byte(f, &op->opt, 0, 0), &n.activation);
        break;
    case OP_RELU:
    case OP_RELU6:
    case OP_LOGISTIC:
        n.op = op->code == OP_RELU    ? NN_OP_RELU
               : op->code == OP_RELU6 ? NN_OP_RELU6
                                      : NN_OP_SIGMOID;
        n.n_in = 1;
        break;
    case OP_RESHAPE:
        n.op = NN_OP_RESHAPE;
        n.n_in = 1;
        /* The new dims are the output's declared shape. */
        if (op->out < 0 || (size_t)op->out >= ld->n_tensors ||
            ld->t[op->out].rank < 1)
            return ERR_UNSUPPORTED;
        break;
    case OP_PAD: {
        const struct tfl_tensor *x;
        n.op = NN_OP_PAD;
        n.n_in = 1;
        if (op->n_in != 2 || op->in[0] < 0 ||
            (size_t)op->in[0] >= ld->n_tensors)
            return ERR_CORRUPT;
        x = &ld->t[op->in[0]];
        err = int_constant(ld, op->in[1], vals, 2 * NN_MAX_RANK, &count);
        if (err < 0)
            return err;
        if (x->rank < 1 || count != 2 * x->rank)
            return ERR_UNSUPPORTED;
        for (int d = 0; d < x->rank; d++) {
            n.pad_before[d] = vals[2 * d];
            n.pad_after[d] = vals[2 * d + 1];
        }
        break;
    }
    case OP_RESIZE_BILINEAR:
        n.op = NN_OP_RESIZE_BILINEAR;
        n.n_in = 1;
        if (op->n_in != 2)
            return ERR_CORRUPT;
        err = int_constant(ld, op->in[1], vals, 2, &count);
        if (err < 0)
            return err;
        if (count != 2)
            return ERR_CORRUPT;
        n.out_h = vals[0];
        n.out_w = vals[1];
        n.align_corners = fb_byte(f, &op->opt, 2, 0) != 0;
        n.half_pixel_centers = fb_byte(f, &op->opt, 3, 0) != 0;
        break;
    case OP_CONCATENATION:
        n.op = NN_OP_CONCAT;
        n.n_in = op->n_in;
        n.axis = fb_i32(f, &op->opt, 0, 0);
        if (fb_byte(f, &op->opt, 1, 0) != 0)
            return ERR_UNSUPPORTED;
        break;
    case OP_MEAN:
        n.op = NN_OP_MEAN;
        n.n_in = 1;
        if (op->n_in != 2)
            return ERR_CORRUPT;
        err = int_constant(ld, op->in[1], vals, 2, &count);
        if (err < 0)
            return err;
        if (count != 2 || vals[0] != 1 || vals[1] != 2 ||
            fb_byte(f, &op->opt, 0, 0) == 0)
            return ERR_UNSUPPORTED;
        break;
    default:
        return ERR_UNSUPPORTED;
    }
    if (err < 0)
        return err;
    if (f->bad)
        return ERR_CORRUPT;

    for (int k = 0; k < n.n_in; k++) {
        n.in[k] = graph_tensor(ld, op->in[k]);
        if (n.in[k] < 0)
            return n.in[k];
    }
    n.out = graph_tensor(ld, op->out);
    if (n.out < 0)
        return n.out;
    if (ld->g->tensors[n.out].data)
        return ERR_CORRUPT;
    return nn_graph_add_node(ld->g, &n) < 0 ? ERR_CORRUPT : 0;
}

static int read_op(struct loader *ld, size_t ops, size_t k, size_t n_codes,
                   size_t codes, struct tfl_op *op)
{
    struct fb *f = &ld->f;
    struct fb_table t, code;
    size_t start, count;
    uint32_t ci;
    int dep, builtin;

    memset(op, 0, sizeof(*op));
    if (!fb_vector_table(f, ops, k, &t))
        return ERR_CORRUPT;
    ci = fb_uint(f, &t, 0, 0);
    if (ci >= n_codes || !fb_vector_table(f, codes, ci, &code))
        return ERR_CORRUPT;
    /* Old models put the code in an int8 field; new ones in an int32. */
    dep = (int8_t)fb_byte(f, &code, 0, 0);
    builtin = fb_i32(f, &code, 3, 0);
    op->code = MAX(dep, builtin);

    if (!fb_vector(f, &t, 1, 4, &start, &count) || count > NN_MAX_INPUTS)
        return f->bad ? ERR_CORRUPT : ERR_UNSUPPORTED;
    op->n_in = (int)count;
    for (size_t i = 0; i < count; i++)
        op->in[i] = (int32_t)fb_u32(f, start + 4 * i);
    if (!fb_vector(f, &t, 2, 4, &start, &count) || count != 1)
        return f->bad ? ERR_CORRUPT : ERR_UNSUPPORTED;
    op->out = (int32_t)fb_u32(f, start);
    fb_subtable(f, &t, 4, &op->opt);
    return f->bad ? ERR_CORRUPT : 0;
}

/* Check each activation's inferred dims against the model's declaration. */
static int check_declared_shapes(const struct loader *ld)
{
    for (size_t i = 0; i < ld->n_tensors; i++) {
        const struct tfl_tensor *tt = &ld->t[i];
        const struct nn_tensor *t;

        if (tt->graph < 0 || tt->data || tt->rank < 1)
            continue;
        t = &ld->g->tensors[tt->graph];
        if (t->rank != tt->rank ||
            memcmp(t->dims, tt->dims, (size_t)t->rank * sizeof(int)) != 0)
            return ERR_CORRUPT;
    }
    return 0;
}

static int load_subgraph(struct loader *ld, const struct fb_table *root)
{
    struct fb *f = &ld->f;
    struct fb_table sg;
    size_t codes, n_codes, sgs, n_sgs, bufs, n_bufs, ops, n_ops, v, n_v;
    int err;

    if (!fb_vector(f, root, 1, 4, &codes, &n_codes) ||
        !fb_vector(f, root, 2, 4, &sgs, &n_sgs) || n_sgs < 1 ||
        !fb_vector(f, root, 4, 4, &bufs, &n_bufs))
        return ERR_CORRUPT;
    if (!fb_vector_table(f, sgs, 0, &sg))
        return ERR_CORRUPT;
    err = read_tensors(ld, &sg, n_bufs, bufs);
    if (err < 0)
        return err;

    if (!fb_vector(f, &sg, 1, 4, &v, &n_v) || n_v != 1)
        return f->bad ? ERR_CORRUPT : ERR_UNSUPPORTED;
    ld->g->input = graph_tensor(ld, (int32_t)fb_u32(f, v));
    if (ld->g->input < 0)
        return ld->g->input;

    if (!fb_vector(f, &sg, 3, 4, &ops, &n_ops) || n_ops > MAX_TFL_OPS)
        return ERR_CORRUPT;
    for (size_t k = 0; k < n_ops; k++) {
        struct tfl_op op;
        err = read_op(ld, ops, k, n_codes, codes, &op);
        if (err < 0)
            return err;
        err = add_op(ld, &op);
        if (err < 0)
            return err;
    }

    if (!fb_vector(f, &sg, 2, 4, &v, &n_v) || n_v < 1 || n_v > NN_MAX_INPUTS)
        return f->bad ? ERR_CORRUPT : ERR_UNSUPPORTED;
    ld->g->n_outputs = (int)n_v;
    for (size_t i = 0; i < n_v; i++) {
        int32_t ti = (int32_t)fb_u32(f, v + 4 * i);
        if (f->bad || ti < 0 || (size_t)ti >= ld->n_tensors ||
            ld->t[ti].graph < 0)
            return ERR_CORRUPT;
        ld->g->outputs[i] = ld->t[ti].graph;
    }

    err = nn_graph_finish(ld->g);
    if (err < 0)
        return err;
    return check_declared_shapes(ld);
}

int tflite_load_mem(const uint8_t *buf, size_t len, struct nn_graph *g)
{
    struct loader ld;
    struct fb_table root;
    int err;

    memset(&ld, 0, sizeof(ld));
    ld.f.b = buf;
    ld.f.len = len;
    ld.g = g;
    nn_graph_init(g);
    if (len < 8 || memcmp(buf + 4, "TFL3", 4) != 0)
        return ERR_CORRUPT;
    if (!fb_table_at(&ld.f, fb_u32(&ld.f, 0), &root))
        return ERR_CORRUPT;

    err = load_subgraph(&ld, &root);
    for (size_t i = 0; i < ld.n_tensors; i++)
        free(ld.t[i].name);
    free(ld.t);
    if (err < 0)
        nn_graph_release(g);
    return err;
}

int tflite_load(const char *path, struct nn_graph *g)
{
    uint8_t *data;
    size_t len;
    int err;

    nn_graph_init(g);
    err = file_read_all(path, TFLITE_MAX_FILE_BYTES, &data, &len);
    if (err < 0)
        return err;
    err = tflite_load_mem(data, len, g);
    free(data);
    return err;
}
