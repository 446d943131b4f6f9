/* risk.c - what simulated futures say about a task: the share in which the outcome happens,
 * with its interval; and how much of a store's coding the model knows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer/infer.h"
#include "tasks/task.h"

double mf_infer_overlap(const struct mf_infer *in, const struct mf_store *s)
{
    const struct mf_vocab *v = mf_infer_vocab(in);
    double known = 0, total = 0;
    for (uint32_t c = 0; c < mf_store_n_codes(s); c++) {
        struct mf_str code = mf_store_code(s, c);
        double n = (double)mf_store_code_count(s, c);
        total += n;
        int64_t id = mf_vocab_id(v, code.p, code.n);
        if (id >= 0 && mf_vocab_kind(v, (uint32_t)id) == MF_TOK_CODE)
            known += n;
    }
    return total > 0 ? known / total : 0;
}

int mf_infer_task_masks(const struct mf_vocab *v, const struct mf_task *t, uint64_t **out,
                        struct mf_err *err)
{
    uint32_t V = mf_vocab_size(v);
    uint64_t *m = calloc(V, sizeof *m);
    if (m == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < V; i++)
        if (mf_vocab_kind(v, i) == MF_TOK_CODE) {
            const char *text = mf_vocab_token(v, i);
            m[i] = mf_task_match_code(t, text, strlen(text));
        }
    *out = m;
    return 0;
}

int mf_infer_task_risk(const struct mf_task *t, const struct mf_vocab *v, const uint64_t *tok_masks,
                       const struct mf_task_events *history, int64_t trigger, int64_t at,
                       const struct mf_futures *fs, struct mf_risk *out, struct mf_err *err)
{
    memset(out, 0, sizeof *out);
    struct mf_task_evbuf b = {0};
    int rc = 0;
    for (size_t i = 0; i < history->n && rc == 0; i++)
        rc = mf_task_evbuf_push(&b, history->time[i], history->mask[i]);
    for (size_t f = 0; f < fs->n && rc == 0; f++) {
        const struct mf_future *fu = &fs->f[f];
        b.n = history->n;
        for (size_t i = 0; i < fu->n && rc == 0; i++) {
            uint64_t m = tok_masks[fu->tok[i]];
            if (m)
                m = mf_task_match_value(t, m, NAN);
            /* every generated code is an event (also with no predicate: _ANY_EVENT counts it);
             * time and decile tokens are not */
            if (mf_vocab_kind(v, fu->tok[i]) == MF_TOK_CODE)
                rc = mf_task_evbuf_push(&b, at + fu->dt[i] + 1, m);
        }
        if (rc)
            break;
        struct mf_task_events ev = mf_task_evbuf_events(&b);
        int64_t index;
        int label = mf_task_label_at(t, &ev, trigger, &index);
        out->futures++;
        if (label == MF_TASK_EXCLUDED)
            continue;
        out->decided++;
        out->positive += label == 1;
    }
    mf_task_evbuf_free(&b);
    if (rc)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    if (out->decided == 0) {
        out->p = out->lo = out->hi = NAN;
    } else {
        out->p = (double)out->positive / out->decided;
        mf_binom_ci(out->positive, out->decided, 0.95, &out->lo, &out->hi);
    }
    return 0;
}
