/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Neural-network graph and runtime.  A loader (TFLite flatbuffer, TF.js
 * graph) turns a model file into one struct nn_graph: float32 tensors in
 * NHWC layout, constant weights converted from float16 at load, and nodes in
 * execution order.  nn_graph_finish() checks every reference and infers
 * every shape, so a back end may trust a finished graph.  A back end
 * (plain-C reference, XNNPACK) prepares a finished graph into an nn_exec
 * that owns its activation buffers and runs one input at a time.
 *
 * Canonical constant layouts, whatever the source format:
 *   conv weights        [out_c, kh, kw, in_c]   (OHWI)
 *   depthwise weights   [1, kh, kw, c]          (channel multiplier 1 only)
 *   biases              [c]
 */
#ifndef PW_VISION_NN_H
#define PW_VISION_NN_H

#include "core/base.h"

#define NN_MAX_RANK   4
#define NN_MAX_INPUTS 8

enum nn_op {
    NN_OP_CONV2D,           /* in[0] data, in[1] weights, in[2] bias (opt) */
    NN_OP_DEPTHWISE_CONV2D, /* in[0] data, in[1] weights, in[2] bias (opt) */
    NN_OP_ADD,              /* in[0] + in[1]; in[1] may broadcast */
    NN_OP_MUL,              /* in[0] * in[1]; in[1] may broadcast */
    NN_OP_RELU,
    NN_OP_RELU6,
    NN_OP_SIGMOID,
    NN_OP_MEAN,             /* mean over H and W, keeps dims: [1,1,1,C] */
    NN_OP_MAX_POOL2D,
    NN_OP_PAD,              /* zero padding by pad_before/pad_after */
    NN_OP_CONCAT,           /* along axis */
    NN_OP_RESHAPE,          /* same element count, new dims */
    NN_OP_RESIZE_BILINEAR,  /* to out_h x out_w */
};

/*
 * Broadcasting for ADD and MUL: in[1] has the same shape as in[0], or is a
 * scalar (one element), or is per-channel (C elements, any leading ones).
 * nn_graph_finish() swaps the operands when in[0] is the constant or the
 * smaller one, so loaders may give them in either order.
 */

enum nn_padding {
    NN_PAD_VALID,
    NN_PAD_SAME, /* TensorFlow SAME: extra row/column at the bottom/right */
};

enum nn_activation {
    NN_ACT_NONE,
    NN_ACT_RELU,
    NN_ACT_RELU6,
};

struct nn_tensor {
    char *name;            /* owned; for messages and output lookup */
    int rank;              /* 1..NN_MAX_RANK */
    int dims[NN_MAX_RANK]; /* NHWC when rank is 4 */
    float *data;           /* owned constant values, or NULL for activations */
};

struct nn_node {
    enum nn_op op;
    int n_in;
    int in[NN_MAX_INPUTS]; /* tensor indices */
    int out;               /* tensor index; each tensor has one producer */

    /* Parameters; each op reads only its own. */
    int stride_h, stride_w;          /* conv, depthwise, max pool */
    int dilation_h, dilation_w;      /* conv, depthwise; 1 if unused */
    int pool_h, pool_w;              /* max pool window */
    enum nn_padding padding;         /* conv, depthwise, max pool */
    enum nn_activation activation;   /* fused: conv, depthwise, add, mul */
    int pad_before[NN_MAX_RANK];     /* pad */
    int pad_after[NN_MAX_RANK];      /* pad */
    int axis;                        /* concat; negative counts from the end */
    int out_h, out_w;                /* resize */
    bool half_pixel_centers;         /* resize: TF2 / BlazeFace convention */
    bool align_corners;              /* resize */
};

struct nn_graph {
    struct nn_tensor *tensors;
    int n_tensors;
    struct nn_node *nodes; /* in execution order */
    int n_nodes;
    int input;             /* the one input tensor, NHWC */
    int n_outputs;
    int outputs[NN_MAX_INPUTS];

    /* private to nn.c */
    int cap_tensors, cap_nodes;
    bool finished;
};

/* Initialise an empty graph; nn_graph_release() frees what it then owns. */
void nn_graph_init(struct nn_graph *g);
void nn_graph_release(struct nn_graph *g);

/*
 * Append a tensor and return its index.  name is copied; data, if not NULL,
 * is taken over (allocated with malloc) and must hold the product of dims.
 * Returns ERR_INVALID for a bad rank or dimension.
 */
int nn_graph_add_tensor(struct nn_graph *g, const char *name, int rank,
                        const int *dims, float *data);

/* Append a copy of node and return its index (>= 0) or ERR_INVALID. */
int nn_graph_add_node(struct nn_graph *g, const struct nn_node *node);

/*
 * Check a loaded graph and infer the dims of every activation tensor from
 * the input's: every index in range, every activation produced once before
 * it is read, every op's shapes and parameters consistent.  Returns 0,
 * ERR_CORRUPT (naming nothing; the graph is unusable) or ERR_UNSUPPORTED.
 */
int nn_graph_finish(struct nn_graph *g);

/* Return the index of the tensor called name, or ERR_NOT_FOUND. */
int nn_graph_find(const struct nn_graph *g, const char *name);

/* Number of elements of tensor t (the product of its dims). */
size_t nn_tensor_count(const struct nn_tensor *t);

/* Multiply-accumulate count of one run, for GFLOP/s figures (2 per MAC). */
double nn_graph_macs(const struct nn_graph *g);

enum nn_backend {
    NN_BACKEND_REFERENCE, /* plain C, the ground truth of the tests */
    NN_BACKEND_XNNPACK,   /* XNNPACK operators on a pthreadpool */
};

struct nn_exec;

/*
 * Prepare finished graph g on a back end.  g is borrowed and must outlive
 * the exec.  threads is the worker count for back ends that use threads
 * (1 = run on the caller's thread).  Returns 0 and a new exec in *out, freed
 * with nn_exec_free(), or ERR_NOMEM / ERR_UNSUPPORTED.  An exec is used by
 * one thread at a time; separate execs of one graph may run concurrently.
 */
int nn_exec_new(const struct nn_graph *g, enum nn_backend backend,
                int threads, struct nn_exec **out);

/*
 * Run the graph on input, which holds nn_tensor_count() of the graph's input
 * tensor in NHWC order.  Returns 0 or a negative ERR_*.
 */
int nn_exec_run(struct nn_exec *e, const float *input);

/*
 * Return the values of output i (0 <= i < g->n_outputs) of the last run,
 * owned by the exec and valid until the next run or nn_exec_free().
 */
const float *nn_exec_output(const struct nn_exec *e, int i);

void nn_exec_free(struct nn_exec *e);

#endif
