/* fuzz_token_vocab.c - libFuzzer target for the vocab.json reader (src/token/vocab.c).
 *
 * The input is a whole vocab.json.  A refused file must say why, naming the file; an accepted
 * one must be a usable vocabulary: TIMELINE_END and UNK at their fixed ids, every token found
 * again by its text, every kind valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "token/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = mf_json_parse((const char *)data, size, NULL);
    if (root == NULL)
        return 0; /* the JSON parser has targets of its own */
    struct mf_vocab *v = NULL;
    struct mf_err err = {0};
    int rc = mf_vocab_from_json(root, "fuzz", &v, &err);
    mf_json_release(root);
    if (rc != 0) {
        if (rc > 0 || v != NULL || strstr(err.msg, "fuzz") == NULL)
            abort();
        return 0;
    }
    uint32_t n = mf_vocab_size(v);
    if (n < 2 || strcmp(mf_vocab_token(v, MF_TOK_TIMELINE_END), "TIMELINE_END") != 0 ||
        strcmp(mf_vocab_token(v, MF_TOK_UNK), "UNK") != 0 || mf_vocab_token(v, n) != NULL)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        const char *t = mf_vocab_token(v, i);
        if (t == NULL || mf_vocab_id(v, t, strlen(t)) != (int64_t)i ||
            (unsigned)mf_vocab_kind(v, i) > MF_TOK_CODE || mf_vocab_duration(v, i) < 0)
            abort();
    }
    mf_vocab_free(v);
    return 0;
}
