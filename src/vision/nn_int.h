/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private interface between nn.c and the back ends (nn_ref.c,
 * nn_xnnpack.c).  Each back end fills one struct nn_backend_ops; nn.c picks
 * it by enum nn_backend and keeps the state pointer in the nn_exec.
 */
#ifndef PW_VISION_NN_INT_H
#define PW_VISION_NN_INT_H

#include "vision/nn.h"

struct nn_backend_ops {
    const char *name;

    /* Build back-end state for finished graph g (borrowed); 0 or ERR_*. */
    int (*prepare)(const struct nn_graph *g, int threads, void **state);

    /* Run on input (the graph input's element count); 0 or ERR_*. */
    int (*run)(void *state, const float *input);

    /* Output i of the last run, owned by the state. */
    const float *(*output)(const void *state, int i);

    void (*release)(void *state);
};

/*
 * Convert one IEEE binary16 value to float, subnormals, inf and NaN
 * included; shared by the loaders (tflite.c, tfjs.c), defined in nn.c.
 */
float nn__half_to_float(uint16_t h);

extern const struct nn_backend_ops nn__reference_ops;
extern const struct nn_backend_ops nn__xnnpack_ops;

#endif
