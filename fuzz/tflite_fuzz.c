/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the TFLite loader: any bytes must load or fail with
 * an error, never crash.  A model that loads and is small enough is also
 * run once on the reference back end, so shapes that nn_graph_finish()
 * accepts are proven safe for the kernels too.
 */
#include "core/base.h"

#include "vision/tflite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run only graphs whose activations and work stay small. */
static bool is_small(const struct nn_graph *g)
{
    size_t total = 0;

    for (int i = 0; i < g->n_tensors; i++)
        if (!g->tensors[i].data)
            total += nn_tensor_count(&g->tensors[i]);
    return total <= ((size_t)1 << 20) && nn_graph_macs(g) <= 1e7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nn_graph g;
    struct nn_exec *e = NULL;
    float *input;

    if (tflite_load_mem(data, size, &g) < 0)
        return 0;
    if (is_small(&g) &&
        nn_exec_new(&g, NN_BACKEND_REFERENCE, 1, &e) == 0) {
        input = xcalloc(nn_tensor_count(&g.tensors[g.input]), sizeof(float));
        nn_exec_run(e, input);
        free(input);
        nn_exec_free(e);
    }
    nn_graph_release(&g);
    return 0;
}
