/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TF.js graph model loader.  The JSON is parsed with jansson under a size
 * cap; the weight manifest's entries are laid end to end over the
 * concatenated shards and each one is checked against their total length
 * before any byte is read.  Only nodes reachable from the requested outputs
 * are translated, in an order found by an iterative depth-first walk (no
 * recursion, so a hostile chain cannot exhaust the stack), which also
 * rejects cycles.  Integer constants (axes, sizes, shapes) become node
 * parameters rather than tensors.
 */
#include "core/base.h"
#include "vision/tfjs.h"

#include <jansson.h>

#include "core/err.h"
#include "core/file.h"
#include "vision/nn_int.h"

#define MAX_NODES        100000
#define MAX_WEIGHTS      100000
#define MAX_CONST_FLOATS ((size_t)64 << 20) /* 256 MiB of float32 */
#define MAX_INTS         8                  /* per integer constant */

enum weight_kind {
    WK_FLOAT32,
    WK_INT32,
    WK_FLOAT16,
    WK_UINT8, /* affine: value = q * scale + min */
    WK_UINT16,
};

struct weight {
    const char *name; /* borrowed from the JSON */
    int rank;         /* 0..NN_MAX_RANK */
    int dims[NN_MAX_RANK];
    size_t count;
    enum weight_kind kind;
    double scale, min; /* affine kinds */
    size_t offset;     /* into the concatenated shards */
};

enum value_kind {
    VAL_NONE,   /* not translated yet */
    VAL_TENSOR, /* a graph tensor */
    VAL_WEIGHT, /* a float constant not yet in the graph */
    VAL_INTS,   /* a small integer constant */
};

struct value {
    enum value_kind kind;
    int tensor;         /* VAL_TENSOR; also the cached graph copy of a weight */
    int weight;         /* VAL_WEIGHT */
    int ints[MAX_INTS]; /* VAL_INTS */
    int n_ints;
};

struct tf_node {
    const char *name;
    const char *op;
    json_t *inputs; /* array, borrowed */
    json_t *attr;   /* object or NULL, borrowed */
    struct value val;
};

struct loader {
    struct nn_graph *g;
    const uint8_t *wdata;
    size_t wlen;
    struct weight *w;
    size_t n_w;
    struct tf_node *nodes;
    size_t n_nodes;
    int *by_name; /* node indices sorted by name */
    size_t const_floats;
};

/* ---- small JSON and attribute helpers ---- */

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decode base64 text into out (NUL-terminated); false on bad input. */
static bool b64_decode(const char *in, char *out, size_t out_size)
{
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (const char *p = in; *p && *p != '='; p++) {
        int v = b64_value((unsigned char)*p);
        if (v < 0)
            return false;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= out_size)
                return false;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    return strlen(out) == n; /* no embedded NUL */
}

static json_t *attr_get(const struct tf_node *n, const char *key)
{
    return n->attr ? json_object_get(n->attr, key) : NULL;
}

/* An integer given as a JSON number or a decimal string. */
static bool json_to_int(const json_t *v, long min, long max, int *out)
{
    long x;

    if (json_is_integer(v)) {
        json_int_t j = json_integer_value(v);
        if (j < min || j > max)
            return false;
        *out = (int)j;
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        x = strtol(s, &end, 10);
        if (errno || end == s || *end || x < min || x > max)
            return false;
        *out = (int)x;
        return true;
    }
    return false;
}

/* attr[key].list.i into out[0..max); -1 if absent, ERR_CORRUPT if bad. */
static int attr_ints(const struct tf_node *n, const char *key, int *out,
                     int max)
{
    json_t *a = attr_get(n, key), *list, *v;
    size_t i;

    if (!a)
        return -1;
    list = json_object_get(json_object_get(a, "list"), "i");
    if (!json_is_array(list) || json_array_size(list) > (size_t)max)
        return ERR_CORRUPT;
    json_array_foreach(list, i, v) {
        if (!json_to_int(v, INT_MIN, INT_MAX, &out[i]))
            return ERR_CORRUPT;
    }
    return (int)json_array_size(list);
}

/* attr[key].s decoded into out; false if absent or bad. */
static bool attr_string(const struct tf_node *n, const char *key, char *out,
                        size_t size)
{
    json_t *s = json_object_get(attr_get(n, key), "s");

    return json_is_string(s) && b64_decode(json_string_value(s), out, size);
}

static bool attr_bool(const struct tf_node *n, const char *key, bool def)
{
    json_t *b = json_object_get(attr_get(n, key), "b");

    return json_is_boolean(b) ? json_is_true(b) : def;
}

/* ---- weight manifest ---- */

static int parse_weight(struct loader *ld, json_t *jw, size_t *offset)
{
    struct weight *w = &ld->w[ld->n_w];
    json_t *shape = json_object_get(jw, "shape"), *q, *d;
    const char *dtype = json_string_value(json_object_get(jw, "dtype"));
    size_t elem, i;

    memset(w, 0, sizeof(*w));
    w->name = json_string_value(json_object_get(jw, "name"));
    if (!w->name || !dtype || !json_is_array(shape) ||
        json_array_size(shape) > NN_MAX_RANK)
        return ERR_CORRUPT;
    w->rank = (int)json_array_size(shape);
    w->count = 1;
    json_array_foreach(shape, i, d) {
        if (!json_to_int(d, 0, 1 << 24, &w->dims[i]))
            return ERR_CORRUPT;
        w->count *= (size_t)w->dims[i];
        if (w->count > MAX_CONST_FLOATS)
            return ERR_TOO_BIG;
    }

    if (strcmp(dtype, "float32") == 0) {
        w->kind = WK_FLOAT32;
    } else if (strcmp(dtype, "int32") == 0) {
        w->kind = WK_INT32;
    } else {
        return ERR_UNSUPPORTED; /* strings have no fixed size: stop here */
    }
    elem = 4;
    q = json_object_get(jw, "quantization");
    if (q) {
        const char *qt = json_string_value(json_object_get(q, "dtype"));
        if (!qt || w->kind != WK_FLOAT32)
            return ERR_UNSUPPORTED;
        if (strcmp(qt, "float16") == 0) {
            w->kind = WK_FLOAT16;
            elem = 2;
        } else if (strcmp(qt, "uint8") == 0 || strcmp(qt, "uint16") == 0) {
            w->kind = qt[4] == '8' ? WK_UINT8 : WK_UINT16;
            elem = w->kind == WK_UINT8 ? 1 : 2;
            w->scale = json_number_value(json_object_get(q, "scale"));
            w->min = json_number_value(json_object_get(q, "min"));
        } else {
            return ERR_UNSUPPORTED;
        }
    }
    w->offset = *offset;
    if (w->count * elem > ld->wlen - *offset)
        return ERR_CORRUPT;
    *offset += w->count * elem;
    ld->n_w++;
    return 0;
}

static int cmp_weights(const void *a, const void *b)
{
    return strcmp(((const struct weight *)a)->name,
                  ((const struct weight *)b)->name);
}

static int parse_manifest(struct loader *ld, json_t *root)
{
    json_t *groups = json_object_get(root, "weightsManifest"), *grp, *jw;
    size_t gi, wi, total = 0, offset = 0;
    int err;

    if (!groups)
        return 0;
    if (!json_is_array(groups))
        return ERR_CORRUPT;
    json_array_foreach(groups, gi, grp) {
        json_t *ws = json_object_get(grp, "weights");
        if (!json_is_array(ws))
            return ERR_CORRUPT;
        total += json_array_size(ws);
        if (total > MAX_WEIGHTS)
            return ERR_TOO_BIG;
    }
    ld->w = xcalloc(total ? total : 1, sizeof(*ld->w));
    json_array_foreach(groups, gi, grp) {
        json_array_foreach(json_object_get(grp, "weights"), wi, jw) {
            err = parse_weight(ld, jw, &offset);
            if (err < 0)
                return err;
        }
    }
    /* Offsets are fixed now, so sorting for lookup loses nothing. */
    qsort(ld->w, ld->n_w, sizeof(*ld->w), cmp_weights);
    for (size_t i = 1; i < ld->n_w; i++)
        if (strcmp(ld->w[i - 1].name, ld->w[i].name) == 0)
            return ERR_CORRUPT;
    return 0;
}

/* Binary search; parse_manifest() sorted the entries by name. */
static const struct weight *find_weight(const struct loader *ld,
                                        const char *name)
{
    size_t lo = 0, hi = ld->n_w;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ld->w[mid].name);
        if (c == 0)
            return &ld->w[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Decode weight w into a new float array the caller frees, or NULL. */
static float *weight_floats(struct loader *ld, const struct weight *w,
                            int *err)
{
    const uint8_t *p = ld->wdata + w->offset;
    float *out;

    *err = ERR_TOO_BIG;
    if (w->count > MAX_CONST_FLOATS - ld->const_floats)
        return NULL;
    *err = ERR_NOMEM;
    out = malloc((w->count ? w->count : 1) * sizeof(float));
    if (!out)
        return NULL;
    ld->const_floats += w->count;
    for (size_t i = 0; i < w->count; i++) {
        uint32_t bits;
        switch (w->kind) {
        case WK_FLOAT32:
            bits = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                   (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
            memcpy(&out[i], &bits, 4);
            break;
        case WK_FLOAT16:
            out[i] = nn__half_to_float(
                (uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
            break;
        case WK_UINT8:
            out[i] = (float)(p[i] * w->scale + w->min);
            break;
        case WK_UINT16:
            out[i] = (float)((p[2 * i] | p[2 * i + 1] << 8) * w->scale +
                             w->min);
            break;
        case WK_INT32:
            free(out);
            *err = ERR_UNSUPPORTED;
            return NULL;
        }
    }
    *err = 0;
    return out;
}

/* ---- nodes ---- */

static int cmp_loader_nodes(const void *a, const void *b, void *arg)
{
    const struct loader *ld = arg;
    return strcmp(ld->nodes[*(const int *)a].name,
                  ld->nodes[*(const int *)b].name);
}

static int find_node(const struct loader *ld, const char *name)
{
    size_t lo = 0, hi = ld->n_nodes;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, ld->nodes[ld->by_name[mid]].name);
        if (c == 0)
            return ld->by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

/*
 * Node index named by input string ref ("name" or "name:0"); -2 for a
 * control input ("^name"), ERR_UNSUPPORTED for a second output ("name:1"),
 * ERR_CORRUPT for an unknown name.
 */
static int resolve_input(const struct loader *ld, const char *ref)
{
    char buf[512];
    const char *colon;
    int idx;

    if (ref[0] == '^')
        return -2;
    colon = strrchr(ref, ':');
    if (colon) {
        size_t len = (size_t)(colon - ref);
        if (strcmp(colon, ":0") != 0)
            return ERR_UNSUPPORTED;
        if (len >= sizeof(buf))
            return ERR_CORRUPT;
        memcpy(buf, ref, len);
        buf[len] = '\0';
        ref = buf;
    }
    idx = find_node(ld, ref);
    return idx >= 0 ? idx : ERR_CORRUPT;
}

static int parse_nodes(struct loader *ld, json_t *root)
{
    json_t *arr = json_object_get(json_object_get(root, "modelTopology"),
                                  "node");
    json_t *jn;
    size_t i;

    if (!json_is_array(arr) || json_array_size(arr) < 1)
        return ERR_CORRUPT;
    if (json_array_size(arr) > MAX_NODES)
        return ERR_TOO_BIG;
    ld->n_nodes = json_array_size(arr);
    ld->nodes = xcalloc(ld->n_nodes, sizeof(*ld->nodes));
    ld->by_name = xcalloc(ld->n_nodes, sizeof(*ld->by_name));
    json_array_foreach(arr, i, jn) {
        struct tf_node *n = &ld->nodes[i];
        json_t *in = json_object_get(jn, "input"), *v;
        size_t k;

        n->name = json_string_value(json_object_get(jn, "name"));
        n->op = json_string_value(json_object_get(jn, "op"));
        n->attr = json_object_get(jn, "attr");
        if (!n->name || !n->op || (n->attr && !json_is_object(n->attr)))
            return ERR_CORRUPT;
        if (in && !json_is_array(in))
            return ERR_CORRUPT;
        n->inputs = in;
        json_array_foreach(in, k, v) {
            if (!json_is_string(v))
                return ERR_CORRUPT;
        }
        ld->by_name[i] = (int)i;
    }
    qsort_r(ld->by_name, ld->n_nodes, sizeof(int), cmp_loader_nodes, ld);
    for (i = 1; i < ld->n_nodes; i++)
        if (strcmp(ld->nodes[ld->by_name[i - 1]].name,
                   ld->nodes[ld->by_name[i]].name) == 0)
            return ERR_CORRUPT;
    return 0;
}

static size_t n_inputs(const struct tf_node *n)
{
    return n->inputs ? json_array_size(n->inputs) : 0;
}

static const char *input_ref(const struct tf_node *n, size_t k)
{
    return json_string_value(json_array_get(n->inputs, k));
}

/*
 * Post-order of the nodes the outputs depend on, written to order[] (one
 * entry per reachable node).  Iterative, with mark 1 = on the stack and
 * 2 = done, so a cycle shows as an edge to a node marked 1.
 */
static int topo_order(struct loader *ld, const int *roots, int n_roots,
                      int *order, size_t *n_order)
{
    unsigned char *mark = xcalloc(ld->n_nodes, 1);
    int *stack = xmalloc(ld->n_nodes * sizeof(int));
    size_t *next = xcalloc(ld->n_nodes, sizeof(size_t));
    size_t depth = 0;
    int err = 0;

    *n_order = 0;
    for (int r = 0; r < n_roots && !err; r++) {
        if (mark[roots[r]])
            continue;
        stack[depth++] = roots[r];
        mark[roots[r]] = 1;
        while (depth && !err) {
            int cur = stack[depth - 1];
            struct tf_node *n = &ld->nodes[cur];
            int dep;

            if (next[cur] == n_inputs(n)) {
                mark[cur] = 2;
                order[(*n_order)++] = cur;
                depth--;
                continue;
            }
            dep = resolve_input(ld, input_ref(n, next[cur]++));
            if (dep == -2)
                continue;
            if (dep < 0)
                err = dep;
            else if (mark[dep] == 1)
                err = ERR_CORRUPT;
            else if (mark[dep] == 0) {
                mark[dep] = 1;
                stack[depth++] = dep;
            }
        }
    }
    free(next);
    free(stack);
    free(mark);
    return err;
}

/* ---- translation ---- */

static int new_activation(struct loader *ld, const char *name)
{
    int t = nn_graph_add_tensor(ld->g, name, 1, (int[]){1}, NULL);
    return t < 0 ? ERR_CORRUPT : t;
}

/* Value of input k of node n (control inputs do not count). */
static struct value *input_value(struct loader *ld, const struct tf_node *n,
                                 size_t k)
{
    size_t seen = 0;

    for (size_t i = 0; i < n_inputs(n); i++) {
        int idx = resolve_input(ld, input_ref(n, i));
        if (idx == -2)
            continue;
        if (idx < 0)
            return NULL;
        if (seen++ == k)
            return &ld->nodes[idx].val;
    }
    return NULL;
}

static size_t data_inputs(struct loader *ld, const struct tf_node *n)
{
    size_t count = 0;

    for (size_t i = 0; i < n_inputs(n); i++)
        if (resolve_input(ld, input_ref(n, i)) != -2)
            count++;
    return count;
}

/* Graph tensor of v: an activation, or the weight copied as it is. */
static int tensor_of(struct loader *ld, struct value *v)
{
    const struct weight *w;
    float *data;
    int err, t;

    if (v->kind == VAL_TENSOR)
        return v->tensor;
    if (v->kind != VAL_WEIGHT)
        return ERR_UNSUPPORTED;
    if (v->tensor >= 0)
        return v->tensor;
    w = &ld->w[v->weight];
    if (w->count == 0)
        return ERR_UNSUPPORTED;
    data = weight_floats(ld, w, &err);
    if (!data)
        return err;
    if (w->rank == 0)
        t = nn_graph_add_tensor(ld->g, w->name, 1, (int[]){1}, data);
    else
        t = nn_graph_add_tensor(ld->g, w->name, w->rank, w->dims, data);
    if (t < 0) {
        free(data);
        return ERR_CORRUPT;
    }
    v->tensor = t;
    return t;
}

/* Conv filter [kh,kw,ci,co] as a new OHWI tensor. */
static int conv_filter(struct loader *ld, const struct value *v)
{
    const struct weight *w;
    float *hwio, *ohwi;
    int err, t, kh, kw, ci, co;

    if (v->kind != VAL_WEIGHT)
        return ERR_UNSUPPORTED;
    w = &ld->w[v->weight];
    if (w->rank != 4 || w->count == 0)
        return ERR_CORRUPT;
    hwio = weight_floats(ld, w, &err);
    if (!hwio)
        return err;
    ohwi = malloc(w->count * sizeof(float));
    if (!ohwi) {
        free(hwio);
        return ERR_NOMEM;
    }
    kh = w->dims[0];
    kw = w->dims[1];
    ci = w->dims[2];
    co = w->dims[3];
    for (long y = 0; y < kh; y++)
        for (long x = 0; x < kw; x++)
            for (long c = 0; c < ci; c++)
                for (long o = 0; o < co; o++)
                    ohwi[((o * kh + y) * kw + x) * ci + c] =
                        hwio[((y * kw + x) * ci + c) * co + o];
    free(hwio);
    t = nn_graph_add_tensor(ld->g, w->name, 4, (int[]){co, kh, kw, ci}, ohwi);
    if (t < 0) {
        free(ohwi);
        return ERR_CORRUPT;
    }
    return t;
}

/* Depthwise filter [kh,kw,C,1]: the same bytes as [1,kh,kw,C]. */
static int depthwise_filter(struct loader *ld, const struct value *v)
{
    const struct weight *w;
    float *data;
    int err, t;

    if (v->kind != VAL_WEIGHT)
        return ERR_UNSUPPORTED;
    w = &ld->w[v->weight];
    if (w->rank != 4 || w->count == 0)
        return ERR_CORRUPT;
    if (w->dims[3] != 1)
        return ERR_UNSUPPORTED;
    data = weight_floats(ld, w, &err);
    if (!data)
        return err;
    t = nn_graph_add_tensor(ld->g, w->name, 4,
                            (int[]){1, w->dims[0], w->dims[1], w->dims[2]},
                            data);
    if (t < 0) {
        free(data);
        return ERR_CORRUPT;
    }
    return t;
}

static int window_attrs(const struct tf_node *tn, struct nn_node *n,
                        bool pool)
{
    int v[4], count;
    char s[16];

    if (attr_string(tn, "data_format", s, sizeof(s)) && strcmp(s, "NHWC"))
        return ERR_UNSUPPORTED;
    if (!attr_string(tn, "padding", s, sizeof(s)))
        return ERR_CORRUPT;
    if (strcmp(s, "SAME") == 0)
        n->padding = NN_PAD_SAME;
    else if (strcmp(s, "VALID") == 0)
        n->padding = NN_PAD_VALID;
    else
        return ERR_UNSUPPORTED;

    count = attr_ints(tn, "strides", v, 4);
    if (count != 4 || v[0] != 1 || v[3] != 1)
        return ERR_CORRUPT;
    n->stride_h = v[1];
    n->stride_w = v[2];
    if (pool) {
        count = attr_ints(tn, "ksize", v, 4);
        if (count != 4 || v[0] != 1 || v[3] != 1)
            return ERR_CORRUPT;
        n->pool_h = v[1];
        n->pool_w = v[2];
        return 0;
    }
    count = attr_ints(tn, "dilations", v, 4);
    if (count == -1)
        return 0;
    if (count != 4 || v[0] != 1 || v[3] != 1)
        return ERR_CORRUPT;
    n->dilation_h = v[1];
    n->dilation_w = v[2];
    return 0;
}

/* fused_ops: empty, or BiasAdd optionally followed by Relu or Relu6. */
static int fused_ops(const struct tf_node *tn, bool *bias,
                     enum nn_activation *act)
{
    json_t *list = json_object_get(
        json_object_get(attr_get(tn, "fused_ops"), "list"), "s");
    char s[32];
    size_t n = json_is_array(list) ? json_array_size(list) : 0;
    const char *first = json_string_value(json_array_get(list, 0));
    const char *second = json_string_value(json_array_get(list, 1));

    *bias = false;
    *act = NN_ACT_NONE;
    if (n == 0)
        return 0;
    if (n > 2)
        return ERR_UNSUPPORTED;
    if (!first || !b64_decode(first, s, sizeof(s)) ||
        strcmp(s, "BiasAdd") != 0)
        return ERR_UNSUPPORTED;
    *bias = true;
    if (n == 1)
        return 0;
    if (!second || !b64_decode(second, s, sizeof(s)))
        return ERR_CORRUPT;
    if (strcmp(s, "Relu") == 0)
        *act = NN_ACT_RELU;
    else if (strcmp(s, "Relu6") == 0)
        *act = NN_ACT_RELU6;
    else
        return ERR_UNSUPPORTED;
    return 0;
}

static int emit(struct loader *ld, struct nn_node *n, struct tf_node *tn)
{
    int out = new_activation(ld, tn->name);

    if (out < 0)
        return out;
    n->out = out;
    if (nn_graph_add_node(ld->g, n) < 0)
        return ERR_CORRUPT;
    tn->val.kind = VAL_TENSOR;
    tn->val.tensor = out;
    return 0;
}

static int translate_conv(struct loader *ld, struct tf_node *tn, bool dw,
                          struct nn_node *n)
{
    struct value *x = input_value(ld, tn, 0), *f = input_value(ld, tn, 1);
    bool bias = false;
    int err;

    if (!x || !f)
        return ERR_CORRUPT;
    err = window_attrs(tn, n, false);
    if (err < 0)
        return err;
    err = fused_ops(tn, &bias, &n->activation);
    if (err < 0)
        return err;
    n->op = dw ? NN_OP_DEPTHWISE_CONV2D : NN_OP_CONV2D;
    n->n_in = bias ? 3 : 2;
    n->in[0] = tensor_of(ld, x);
    if (n->in[0] < 0)
        return n->in[0];
    n->in[1] = dw ? depthwise_filter(ld, f) : conv_filter(ld, f);
    if (n->in[1] < 0)
        return n->in[1];
    if (bias) {
        struct value *b = input_value(ld, tn, 2);
        if (!b || b->kind != VAL_WEIGHT)
            return ERR_UNSUPPORTED;
        n->in[2] = tensor_of(ld, b);
        if (n->in[2] < 0)
            return n->in[2];
    }
    return emit(ld, n, tn);
}

/* A new constant holding -1 * weight v (for Sub). */
static int negated(struct loader *ld, struct value *v)
{
    const struct weight *w = &ld->w[v->weight];
    float *data;
    int err, t;

    if (w->count == 0)
        return ERR_UNSUPPORTED;
    data = weight_floats(ld, w, &err);
    if (!data)
        return err;
    for (size_t i = 0; i < w->count; i++)
        data[i] = -data[i];
    t = nn_graph_add_tensor(ld->g, w->name, w->rank ? w->rank : 1,
                            w->rank ? w->dims : (int[]){1}, data);
    if (t < 0) {
        free(data);
        return ERR_CORRUPT;
    }
    return t;
}

static int translate_binary(struct loader *ld, struct tf_node *tn,
                            struct nn_node *n)
{
    struct value *a = input_value(ld, tn, 0), *b = input_value(ld, tn, 1);
    bool sub = strcmp(tn->op, "Sub") == 0;
    int ta, tb;

    if (!a || !b || data_inputs(ld, tn) != 2)
        return ERR_CORRUPT;
    if (a->kind != VAL_TENSOR && b->kind != VAL_TENSOR)
        return ERR_UNSUPPORTED;
    n->op = strcmp(tn->op, "Mul") == 0 ? NN_OP_MUL : NN_OP_ADD;
    n->n_in = 2;

    if (sub && b->kind == VAL_WEIGHT) {
        /* x - c = x + (-c) */
        ta = tensor_of(ld, a);
        tb = negated(ld, b);
    } else if (sub && a->kind == VAL_WEIGHT) {
        /* c - x = (x * -1) + c */
        struct nn_node neg = *n;
        float *minus_one = xmalloc(sizeof(float));
        int t_neg;

        *minus_one = -1;
        neg.op = NN_OP_MUL;
        neg.in[0] = tensor_of(ld, b);
        neg.in[1] = nn_graph_add_tensor(ld->g, "minus_one", 1, (int[]){1},
                                        minus_one);
        if (neg.in[0] < 0 || neg.in[1] < 0) {
            if (neg.in[1] < 0)
                free(minus_one);
            return neg.in[0] < 0 ? neg.in[0] : ERR_CORRUPT;
        }
        t_neg = new_activation(ld, tn->name);
        if (t_neg < 0)
            return t_neg;
        neg.out = t_neg;
        if (nn_graph_add_node(ld->g, &neg) < 0)
            return ERR_CORRUPT;
        ta = t_neg;
        tb = tensor_of(ld, a);
    } else if (sub) {
        return ERR_UNSUPPORTED;
    } else {
        ta = tensor_of(ld, a);
        tb = tensor_of(ld, b);
    }
    if (ta < 0)
        return ta;
    if (tb < 0)
        return tb;

    n->in[0] = ta;
    n->in[1] = tb;
    return emit(ld, n, tn);
}

static int ints_input(struct loader *ld, const struct tf_node *tn, size_t k,
                      const struct value **out)
{
    const struct value *v = input_value(ld, tn, k);

    if (!v)
        return ERR_CORRUPT;
    if (v->kind != VAL_INTS)
        return ERR_UNSUPPORTED;
    *out = v;
    return 0;
}

static int translate_placeholder(struct loader *ld, struct tf_node *tn)
{
    json_t *dims, *d;
    int shape[4];
    size_t i;
    int t;

    dims = json_object_get(json_object_get(attr_get(tn, "shape"), "shape"),
                           "dim");
    if (ld->g->input >= 0)
        return ERR_UNSUPPORTED; /* one input only */
    if (!json_is_array(dims) || json_array_size(dims) != 4)
        return ERR_UNSUPPORTED;
    json_array_foreach(dims, i, d) {
        if (!json_to_int(json_object_get(d, "size"), -1, 1 << 24, &shape[i]))
            return ERR_CORRUPT;
        if (shape[i] == -1 && i == 0)
            shape[i] = 1; /* batch of one */
        if (shape[i] < 1)
            return ERR_UNSUPPORTED;
    }
    t = nn_graph_add_tensor(ld->g, tn->name, 4, shape, NULL);
    if (t < 0)
        return ERR_CORRUPT;
    ld->g->input = t;
    tn->val.kind = VAL_TENSOR;
    tn->val.tensor = t;
    return 0;
}

static int translate_const(struct loader *ld, struct tf_node *tn)
{
    const struct weight *w = find_weight(ld, tn->name);
    const uint8_t *p;

    if (!w)
        return ERR_CORRUPT;
    if (w->kind != WK_INT32) {
        tn->val.kind = VAL_WEIGHT;
        tn->val.weight = (int)(w - ld->w);
        tn->val.tensor = -1;
        return 0;
    }
    if (w->count > MAX_INTS)
        return ERR_UNSUPPORTED;
    p = ld->wdata + w->offset;
    for (size_t i = 0; i < w->count; i++)
        tn->val.ints[i] = (int32_t)((uint32_t)p[4 * i] |
                                    (uint32_t)p[4 * i + 1] << 8 |
                                    (uint32_t)p[4 * i + 2] << 16 |
                                    (uint32_t)p[4 * i + 3] << 24);
    tn->val.n_ints = (int)w->count;
    tn->val.kind = VAL_INTS;
    return 0;
}

static int translate_simple(struct loader *ld, struct tf_node *tn,
                            enum nn_op op, struct nn_node *n)
{
    struct value *x = input_value(ld, tn, 0);

    if (!x)
        return ERR_CORRUPT;
    n->op = op;
    n->n_in = 1;
    n->in[0] = tensor_of(ld, x);
    if (n->in[0] < 0)
        return n->in[0];
    return emit(ld, n, tn);
}

static int translate_reshape(struct loader *ld, struct tf_node *tn,
                             struct nn_node *n)
{
    const struct value *shape;
    int err = ints_input(ld, tn, 1, &shape), out;

    if (err < 0)
        return err;
    if (shape->n_ints < 1 || shape->n_ints > NN_MAX_RANK)
        return ERR_UNSUPPORTED;
    /* NEEDSWORK: a -1 (inferred) dimension is rejected because input dims
     * are only known after nn_graph_finish(); supporting it needs a
     * "reshape to N x ... x -1" parameter in struct nn_node.  Models whose
     * needed part reshapes with -1 fail to load with ERR_UNSUPPORTED. */
    for (int i = 0; i < shape->n_ints; i++)
        if (shape->ints[i] < 1)
            return ERR_UNSUPPORTED;
    err = translate_simple(ld, tn, NN_OP_RESHAPE, n);
    if (err < 0)
        return err;
    out = tn->val.tensor;
    ld->g->tensors[out].rank = shape->n_ints;
    memcpy(ld->g->tensors[out].dims, shape->ints,
           (size_t)shape->n_ints * sizeof(int));
    return 0;
}

static int translate(struct loader *ld, struct tf_node *tn)
{
    const char *op = tn->op;
    const struct value *iv;
    struct nn_node n;
    int err;

    memset(&n, 0, sizeof(n));
    n.stride_h = n.stride_w = n.dilation_h = n.dilation_w = 1;

    if (strcmp(op, "Const") == 0)
        return translate_const(ld, tn);
    if (strcmp(op, "Placeholder") == 0)
        return translate_placeholder(ld, tn);
    if (strcmp(op, "Identity") == 0) {
        struct value *x = input_value(ld, tn, 0);
        if (!x)
            return ERR_CORRUPT;
        tn->val = *x;
        return 0;
    }
    if (strcmp(op, "_FusedConv2D") == 0 || strcmp(op, "Conv2D") == 0)
        return translate_conv(ld, tn, false, &n);
    if (strcmp(op, "FusedDepthwiseConv2dNative") == 0 ||
        strcmp(op, "DepthwiseConv2dNative") == 0)
        return translate_conv(ld, tn, true, &n);
    if (strcmp(op, "Add") == 0 || strcmp(op, "AddV2") == 0 ||
        strcmp(op, "BiasAdd") == 0 || strcmp(op, "Mul") == 0 ||
        strcmp(op, "Sub") == 0)
        return translate_binary(ld, tn, &n);
    if (strcmp(op, "Relu") == 0)
        return translate_simple(ld, tn, NN_OP_RELU, &n);
    if (strcmp(op, "Relu6") == 0)
        return translate_simple(ld, tn, NN_OP_RELU6, &n);
    if (strcmp(op, "Sigmoid") == 0)
        return translate_simple(ld, tn, NN_OP_SIGMOID, &n);
    if (strcmp(op, "Reshape") == 0)
        return translate_reshape(ld, tn, &n);
    if (strcmp(op, "MaxPool") == 0) {
        err = window_attrs(tn, &n, true);
        return err < 0 ? err : translate_simple(ld, tn, NN_OP_MAX_POOL2D, &n);
    }
    if (strcmp(op, "Mean") == 0) {
        err = ints_input(ld, tn, 1, &iv);
        if (err < 0)
            return err;
        if (iv->n_ints != 2 || iv->ints[0] != 1 || iv->ints[1] != 2 ||
            !attr_bool(tn, "keep_dims", false))
            return ERR_UNSUPPORTED;
        return translate_simple(ld, tn, NN_OP_MEAN, &n);
    }
    if (strcmp(op, "ResizeBilinear") == 0) {
        err = ints_input(ld, tn, 1, &iv);
        if (err < 0)
            return err;
        if (iv->n_ints != 2)
            return ERR_CORRUPT;
        n.out_h = iv->ints[0];
        n.out_w = iv->ints[1];
        n.align_corners = attr_bool(tn, "align_corners", false);
        n.half_pixel_centers = attr_bool(tn, "half_pixel_centers", false);
        return translate_simple(ld, tn, NN_OP_RESIZE_BILINEAR, &n);
    }
    if (strcmp(op, "ConcatV2") == 0) {
        size_t count = data_inputs(ld, tn);
        if (count < 2 || count - 1 > NN_MAX_INPUTS)
            return ERR_UNSUPPORTED;
        err = ints_input(ld, tn, count - 1, &iv);
        if (err < 0)
            return err;
        if (iv->n_ints != 1)
            return ERR_CORRUPT;
        n.op = NN_OP_CONCAT;
        n.axis = iv->ints[0];
        n.n_in = (int)count - 1;
        for (int k = 0; k < n.n_in; k++) {
            struct value *v = input_value(ld, tn, (size_t)k);
            n.in[k] = v ? tensor_of(ld, v) : ERR_CORRUPT;
            if (n.in[k] < 0)
                return n.in[k];
        }
        return emit(ld, &n, tn);
    }
    return ERR_UNSUPPORTED;
}

/* Name the graph outputs and check each is a computed tensor. */
static int set_outputs(struct loader *ld, const int *roots,
                       const char *const *names, int n_outputs)
{
    struct nn_graph *g = ld->g;

    g->n_outputs = n_outputs;
    for (int i = 0; i < n_outputs; i++) {
        const struct value *v = &ld->nodes[roots[i]].val;
        struct nn_tensor *t;
        bool named = false;

        if (v->kind != VAL_TENSOR || v->tensor == g->input)
            return ERR_UNSUPPORTED;
        g->outputs[i] = v->tensor;
        for (int k = 0; k < i; k++)
            named |= g->outputs[k] == v->tensor;
        if (named)
            continue;
        /* An Identity output aliases its input: give it the requested name. */
        t = &g->tensors[v->tensor];
        free(t->name);
        t->name = xstrdup(names[i]);
    }
    return 0;
}

static int load(struct loader *ld, json_t *root, const char *const *names,
                int n_outputs)
{
    int roots[NN_MAX_INPUTS];
    int *order = NULL;
    size_t n_order;
    int err;

    err = parse_manifest(ld, root);
    if (err < 0)
        return err;
    err = parse_nodes(ld, root);
    if (err < 0)
        return err;
    for (int i = 0; i < n_outputs; i++) {
        roots[i] = resolve_input(ld, names[i]);
        if (roots[i] < 0)
            return roots[i] == ERR_CORRUPT ? ERR_NOT_FOUND : ERR_UNSUPPORTED;
    }

    order = xmalloc(ld->n_nodes * sizeof(*order));
    err = topo_order(ld, roots, n_outputs, order, &n_order);
    for (size_t i = 0; i < n_order && err == 0; i++)
        err = translate(ld, &ld->nodes[order[i]]);
    free(order);
    if (err < 0)
        return err;
    if (ld->g->input < 0)
        return ERR_UNSUPPORTED;
    err = set_outputs(ld, roots, names, n_outputs);
    if (err < 0)
        return err;
    return nn_graph_finish(ld->g);
}

int tfjs_load_mem(const char *json, size_t json_len, const uint8_t *weights,
                  size_t weights_len, const char *const *output_names,
                  int n_outputs, struct nn_graph *g)
{
    struct loader ld;
    json_error_t jerr;
    json_t *root;
    int err;

    nn_graph_init(g);
    if (n_outputs < 1 || n_outputs > NN_MAX_INPUTS)
        return ERR_INVALID;
    if (json_len > TFJS_MAX_JSON_BYTES || weights_len > TFJS_MAX_WEIGHTS_BYTES)
        return ERR_TOO_BIG;
    root = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ERR_CORRUPT;

    memset(&ld, 0, sizeof(ld));
    ld.g = g;
    ld.wdata = weights;
    ld.wlen = weights ? weights_len : 0;
    err = json_is_object(root) ? load(&ld, root, output_names, n_outputs)
                               : ERR_CORRUPT;

    free(ld.by_name);
    free(ld.nodes);
    free(ld.w);
    json_decref(root);
    if (err < 0)
        nn_graph_release(g);
    return err;
}

/* A shard path from the manifest, joined to dir; NULL if it escapes dir. */
static char *shard_path(const char *dir, const char *rel)
{
    if (!*rel || rel[0] == '/' || strstr(rel, "..") || strchr(rel, '\\'))
        return NULL;
    return xasprintf("%s/%s", dir, rel);
}

/* Read every shard the manifest names, concatenated in order. */
static int read_shards(const char *json_path, json_t *root, uint8_t **out,
                       size_t *out_len)
{
    json_t *groups = json_object_get(root, "weightsManifest"), *grp, *p;
    const char *slash = strrchr(json_path, '/');
    char *dir = slash ? xstrndup(json_path, (size_t)(slash - json_path))
                      : xstrdup(".");
    uint8_t *all = NULL;
    size_t total = 0, gi, pi;
    int err = 0;

    json_array_foreach(groups, gi, grp) {
        json_array_foreach(json_object_get(grp, "paths"), pi, p) {
            char *path;
            uint8_t *data, *grown;
            size_t len;

            if (!json_is_string(p)) {
                err = ERR_CORRUPT;
                goto out_free;
            }
            path = shard_path(dir, json_string_value(p));
            if (!path) {
                err = ERR_CORRUPT;
                goto out_free;
            }
            err = file_read_all(path, TFJS_MAX_WEIGHTS_BYTES - total, &data,
                                &len);
            free(path);
            if (err < 0)
                goto out_free;
            grown = realloc(all, total + len + 1);
            if (!grown) {
                free(data);
                err = ERR_NOMEM;
                goto out_free;
            }
            all = grown;
            memcpy(all + total, data, len);
            total += len;
            free(data);
        }
    }
    *out = all;
    *out_len = total;
    all = NULL;

out_free:
    free(all);
    free(dir);
    return err;
}

int tfjs_load(const char *json_path, const char *const *output_names,
              int n_outputs, struct nn_graph *g)
{
    uint8_t *json = NULL, *weights = NULL;
    size_t json_len, weights_len = 0;
    json_error_t jerr;
    json_t *root;
    int err;

    nn_graph_init(g);
    err = file_read_all(json_path, TFJS_MAX_JSON_BYTES, &json, &json_len);
    if (err < 0)
        return err;
    root = json_loadb((const char *)json, json_len, 0, &jerr);
    if (!root) {
        err = ERR_CORRUPT;
        goto out_free_json;
    }
    err = read_shards(json_path, root, &weights, &weights_len);
    json_decref(root);
    if (err < 0)
        goto out_free_json;
    err = tfjs_load_mem((const char *)json, json_len, weights, weights_len,
                        output_names, n_outputs, g);
    free(weights);

out_free_json:
    free(json);
    return err;
}
