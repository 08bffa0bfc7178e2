/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TFLite flatbuffer loader.  Reads one model (subgraph 0) into a finished
 * struct nn_graph: float16 weights become float32, DEQUANTIZE of constants
 * is folded, and every flatbuffer offset, vector and buffer is checked
 * against the input length, so hostile bytes give an error, never a crash.
 *
 * Operators: ADD, CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D (multiplier
 * 1), DEQUANTIZE (of constants), LOGISTIC, MAX_POOL_2D, MEAN (over H, W),
 * MUL, PAD, RELU, RELU6, RESHAPE, RESIZE_BILINEAR.
 */
#ifndef PW_VISION_TFLITE_H
#define PW_VISION_TFLITE_H

#include "vision/nn.h"

/* Largest model file tflite_load() reads. */
#define TFLITE_MAX_FILE_BYTES ((size_t)256 << 20)

/*
 * Load the model in buf[0..len) into g, which must be freshly initialised
 * (nn_graph_init); buf is only borrowed during the call.  On success g is
 * finished and its tensors are named as in the model.  Returns 0,
 * ERR_CORRUPT (malformed flatbuffer or inconsistent shapes),
 * ERR_UNSUPPORTED (an operator, type or option not handled) or
 * ERR_TOO_BIG.  On error g is released and left initialised.
 */
int tflite_load_mem(const uint8_t *buf, size_t len, struct nn_graph *g);

/* Read the file at path (at most TFLITE_MAX_FILE_BYTES) and load it as
 * tflite_load_mem() does; ERR_IO or ERR_NOT_FOUND when it cannot be read. */
int tflite_load(const char *path, struct nn_graph *g);

#endif
