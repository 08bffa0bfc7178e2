/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the TF.js loader.  The input is the model JSON, a
 * NUL byte, then one weight shard; without a NUL it is all JSON and no
 * weights.  The output node is always "out", as in the seed corpus.  A
 * model that loads and is small enough is also run on the reference back
 * end.
 */
#include "core/base.h"

#include "vision/tfjs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    static const char *const outputs[] = {"out"};
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *shard = nul ? nul + 1 : NULL;
    size_t shard_len = nul ? size - json_len - 1 : 0;
    struct nn_graph g;
    struct nn_exec *e = NULL;
    float *input;

    if (tfjs_load_mem((const char *)data, json_len, shard, shard_len, outputs,
                      1, &g) < 0)
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
