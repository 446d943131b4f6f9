/* fuzz_nn_config.c - libFuzzer target for the config.json reader (src/nn/config.c).
 *
 * The input is a whole config.json.  A refused file must say why, naming the file; an accepted
 * one must pass the shape check, so a model of that shape can be sized without overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "nn/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = mf_json_parse((const char *)data, size, NULL);
    if (root == NULL)
        return 0; /* the JSON parser has targets of its own */
    struct mf_model_config c;
    memset(&c, 0, sizeof c);
    struct mf_err err = {0};
    int rc = mf_model_config_from_json(root, "fuzz", &c, &err);
    mf_json_release(root);
    if (rc != 0) {
        if (rc > 0 || strstr(err.msg, "fuzz") == NULL)
            abort();
        return 0;
    }
    struct mf_err e2 = {0};
    if (mf_model_config_check(&c, &e2) != 0)
        abort();
    return 0;
}
