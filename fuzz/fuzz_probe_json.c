/* fuzz_probe_json.c - libFuzzer target for the probe.json reader (src/infer/probe.c).
 *
 * The input is a whole probe.json.  A refused file must say why, naming the file; an accepted
 * one must predict a finite probability in [0, 1] for any finite embedding.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "infer/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = mf_json_parse((const char *)data, size, NULL);
    if (root == NULL)
        return 0; /* the JSON parser has targets of its own */
    struct mf_probe *p = NULL;
    struct mf_err err = {0};
    int rc = mf_probe_from_json(root, "fuzz", &p, &err);
    mf_json_release(root);
    if (rc != 0) {
        if (rc > 0 || p != NULL || strstr(err.msg, "fuzz") == NULL)
            abort();
        return 0;
    }
    size_t dim = mf_probe_dim(p);
    float *x = calloc(dim, sizeof *x);
    if (x == NULL)
        abort();
    for (size_t i = 0; i < dim; i++)
        x[i] = (float)((int)(i % 7) - 3);
    double q = mf_probe_predict(p, x);
    if (!(q >= 0 && q <= 1))
        abort();
    free(x);
    mf_probe_free(p);
    return 0;
}
