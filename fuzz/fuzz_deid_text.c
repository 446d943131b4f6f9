/* fuzz_deid_text.c - libFuzzer target for the clinical-text PHI tagger (src/deid/tagger.c).
 *
 * The input is tagged twice: without a context, and with a small record context (a name, an
 * MRN, a phone, a birth date, a city).  Checks invariants: entities sorted, not overlapping,
 * not empty, inside the text, with a valid category and confidence; and tagging the same text
 * twice gives the same entities (no state leaks between calls).  The text is a copy without a
 * terminating NUL, so a read past its end is caught by the sanitizers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deid/tagger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mf_deid_lexicon *lex;
static struct mf_deid_tagger *tagger;
static struct mf_deid_context *ctx;

static void check(const char *text, size_t n, const struct mf_deid_entities *e)
{
    for (size_t i = 0; i < e->n; i++) {
        const struct mf_deid_entity *x = &e->v[i];
        if (x->start >= x->end || x->end > n || (unsigned)x->cat >= MF_DEID__NCAT ||
            (i && e->v[i - 1].end > x->start) || !(x->confidence >= 0 && x->confidence <= 1))
            abort();
        volatile char touch = 0; /* read every byte of the span, for the sanitizers */
        for (size_t k = x->start; k < x->end; k++)
            touch = (char)(touch ^ text[k]);
        (void)touch;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (lex == NULL) {
        struct mf_err err = {0};
        if (mf_deid_lexicon_load(NULL, &lex, &err) != 0) {
            fprintf(stderr, "fuzz_deid_text: %s\n", err.msg);
            abort();
        }
        tagger = mf_deid_tagger_new(lex);
        ctx = mf_deid_context_new();
        if (tagger == NULL || ctx == NULL)
            abort();
        mf_deid_context_add(ctx, MF_DEID_NAME, "Jane Qwertz", 11);
        mf_deid_context_add(ctx, MF_DEID_MRN, "AB-1234-77", 10);
        mf_deid_context_add(ctx, MF_DEID_PHONE, "617-555-0123", 12);
        mf_deid_context_add(ctx, MF_DEID_DATE, "1950-03-07", 10);
        mf_deid_context_add(ctx, MF_DEID_CITY, "Lake Troy", 9);
    }
    char *text = malloc(size ? size : 1);
    if (text == NULL)
        return 0;
    if (size)
        memcpy(text, data, size);
    struct mf_deid_entities a = {0}, b = {0};
    struct mf_err err = {0};
    if (mf_deid_tag(tagger, NULL, text, size, &a, &err) == 0)
        check(text, size, &a);
    if (mf_deid_tag(tagger, ctx, text, size, &b, &err) == 0)
        check(text, size, &b);
    struct mf_deid_entities c = {0};
    if (mf_deid_tag(tagger, NULL, text, size, &c, &err) == 0) {
        if (c.n != a.n || (c.n && memcmp(c.v, a.v, c.n * sizeof *c.v) != 0))
            abort(); /* deterministic: no state leaks between calls */
    }
    mf_deid_entities_free(&a);
    mf_deid_entities_free(&b);
    mf_deid_entities_free(&c);
    free(text);
    return 0;
}
