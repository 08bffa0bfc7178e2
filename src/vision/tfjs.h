/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TF.js graph model loader: model JSON (topology + weight manifest) and its
 * weight shards.  Only the nodes the named outputs depend on are loaded, so
 * a model's own post-processing (TopK, gathers, casts) is cut off by naming
 * the tensors before it.  HWIO conv filters become OHWI, [kh,kw,C,1]
 * depthwise filters become [1,kh,kw,C], float16 weights become float32.
 *
 * Operators: _FusedConv2D (BiasAdd, optional Relu/Relu6), Conv2D,
 * FusedDepthwiseConv2dNative, DepthwiseConv2dNative, Add, AddV2, BiasAdd,
 * Mul, Sub (one operand constant), Relu, Relu6, Sigmoid, Mean over H and
 * W, MaxPool, ConcatV2, ResizeBilinear, Identity, Reshape (static shape).
 */
#ifndef PW_VISION_TFJS_H
#define PW_VISION_TFJS_H

#include "vision/nn.h"

/* Largest model JSON and largest total of weight shards read. */
#define TFJS_MAX_JSON_BYTES    ((size_t)16 << 20)
#define TFJS_MAX_WEIGHTS_BYTES ((size_t)256 << 20)

/*
 * Load the graph in json[0..json_len) up to the nodes named in
 * output_names[0..n_outputs) into g, which must be freshly initialised.
 * weights holds every shard of every manifest group concatenated in
 * manifest order.  All buffers are borrowed during the call only.  Graph
 * output i is output_names[i], and its tensor carries that name.  Returns
 * 0, ERR_CORRUPT, ERR_UNSUPPORTED, ERR_NOT_FOUND (an output name is not a
 * node), ERR_INVALID (n_outputs out of 1..NN_MAX_INPUTS) or ERR_TOO_BIG.
 * On error g is released and left initialised.
 */
int tfjs_load_mem(const char *json, size_t json_len, const uint8_t *weights,
                  size_t weights_len, const char *const *output_names,
                  int n_outputs, struct nn_graph *g);

/*
 * Read the model JSON at json_path and the shards its manifest names
 * (relative to the JSON's directory; absolute paths and ".." are rejected),
 * then load as tfjs_load_mem() does.  ERR_IO or ERR_NOT_FOUND when a file
 * cannot be read.
 */
int tfjs_load(const char *json_path, const char *const *output_names,
              int n_outputs, struct nn_graph *g);

#endif
