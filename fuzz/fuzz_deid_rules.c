/* fuzz_deid_rules.c - libFuzzer target for the FHIR de-identification rule engine
 * (src/deid/rules.c).
 *
 * The input is a rule set and a resource separated by the first NUL byte.  Without a NUL the
 * whole input is a resource and the shipped safe-harbor profile is the rule set (when it can be
 * loaded).  Both are parsed; when both parse the rules are applied, with a text de-identifier
 * or without one (the first input byte chooses), and the result is printed and parsed again.
 * Also fed to mf_deid_rules_reference: every string of the resource.  Checks invariants: a
 * rule set that parsed has a name and a 64-digit hash; an applied tree still prints as JSON;
 * "resourceType" is never touched; references keep a "urn:uuid:" prefix.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "deid/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int upper(void *arg, const char *in, size_t n, struct mf_buf *out, struct mf_err *err)
{
    (void)arg;
    (void)err;
    /* a text de-identifier that changes lengths and emits markup */
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z') {
            if (mf_buf_puts(out, "<X>"))
                return MF_ENOMEM;
        } else if (mf_buf_putc(out, c))
            return MF_ENOMEM;
    }
    return 0;
}

static void refs(const struct mf_deid_key *key, const cJSON *n, struct mf_buf *b)
{
    if (cJSON_IsString(n)) {
        mf_buf_reset(b);
        size_t len = strlen(n->valuestring);
        if (mf_deid_rules_reference(key, n->valuestring, len, b) == 0 && len > 9 &&
            strncmp(n->valuestring, "urn:uuid:", 9) == 0 &&
            (b->len != 45 || strncmp(b->data, "urn:uuid:", 9) != 0))
            abort();
        return;
    }
    for (const cJSON *c = n->child; c; c = c->next)
        refs(key, c, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mf_deid_rules *profile;
    static int tried;
    if (!tried) {
        tried = 1;
        if (mf_deid_rules_load("safe-harbor", &profile, NULL) != 0)
            profile = NULL;
    }
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    struct mf_deid_rules *r = NULL;
    const char *res;
    size_t res_len;
    if (nul) {
        struct mf_err err = {0};
        if (mf_deid_rules_parse(text, (size_t)(nul - text), "fuzz", &r, &err) == 0) {
            if (mf_deid_rules_name(r) == NULL || strlen(mf_deid_rules_sha256(r)) != 64)
                abort();
        } else if (err.msg[0] == '\0')
            abort(); /* a failure always says why */
        res = nul + 1;
        res_len = size - (size_t)(nul - text) - 1;
    } else {
        res = text;
        res_len = size;
    }
    const struct mf_deid_rules *use = nul ? r : profile;
    cJSON *doc = mf_json_parse(res, res_len, NULL);
    struct mf_deid_key key;
    for (size_t i = 0; i < sizeof key.bytes; i++)
        key.bytes[i] = (uint8_t)(i * 31 + 7);
    if (doc) {
        struct mf_buf b = MF_BUF_INIT;
        refs(&key, doc, &b);
        mf_buf_release(&b);
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(doc, "resourceType");
        char before[64] = "";
        if (cJSON_IsString(rt))
            snprintf(before, sizeof before, "%s", rt->valuestring);
        if (use) {
            struct mf_deid_apply a = {.key = &key,
                                      .shift = (int64_t)(size % 731 - 365) * 86400000000LL,
                                      .text = size && (data[0] & 1) ? upper : NULL,
                                      .only_text = size > 1 && (data[1] & 3) == 3};
            struct mf_err err = {0};
            if (mf_deid_rules_apply(use, &a, doc, &err) != 0 && err.msg[0] == '\0')
                abort();
            rt = cJSON_GetObjectItemCaseSensitive(doc, "resourceType");
            if (before[0] && (!cJSON_IsString(rt) || strncmp(rt->valuestring, before, 63) != 0))
                abort();
            char *out = cJSON_PrintUnformatted(doc);
            if (out) {
                cJSON *again = cJSON_Parse(out);
                if (again == NULL)
                    abort();
                cJSON_Delete(again);
                cJSON_free(out);
            }
        }
        mf_json_release(doc);
    }
    mf_deid_rules_free(r);
    return 0;
}
