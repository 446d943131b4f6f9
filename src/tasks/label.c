/* label.c - the labeler: one patient's events through a task's windows.
 *
 * Events are grouped by timestamp (static facts aside).  For every predicate the evaluation
 * needs, a prefix sum of its per-timestamp counts turns a window's count into one subtraction
 * and "the next timestamp where p holds" into a binary search, so a trigger costs
 * O(windows * log timestamps) after one pass over the events.  Also here: the code and value
 * tests, the known-code check and the small accessors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/event.h"
#include "tasks/task_int.h"

const char *mf_task_name(const struct mf_task *t)
{
    return t->name;
}

int mf_task_has_label(const struct mf_task *t)
{
    return t->label_win >= 0;
}

size_t mf_task_n_plain(const struct mf_task *t)
{
    return t->n_plain;
}

const char *mf_task_plain_name(const struct mf_task *t, size_t i)
{
    return i < t->n_plain ? t->preds[t->plain[i]].name : NULL;
}

int64_t mf_task_horizon(const struct mf_task *t)
{
    return t->horizon;
}

int task_code_matches(const struct task_pred *p, const char *code, size_t n)
{
    switch (p->code_kind) {
    case CODE_LITERAL:
    case CODE_ANY: { /* codes are sorted by strcmp (parse.c) */
        size_t lo = 0, hi = p->n_codes;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const char *c = p->codes[mid];
            size_t cn = strlen(c);
            int r = memcmp(c, code, cn < n ? cn : n);
            if (r == 0)
                r = cn < n ? -1 : cn > n;
            if (r == 0)
                return 1;
            if (r < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return 0;
    }
    case CODE_REGEX: {
        char small[256];
        char *s = n < sizeof small ? small : malloc(n + 1);
        if (s == NULL)
            return 0;
        memcpy(s, code, n);
        s[n] = '\0';
        int m = regexec(&p->re, s, 0, NULL, 0) == 0;
        if (s != small)
            free(s);
        return m;
    }
    }
    return 0;
}

uint64_t mf_task_match_code(const struct mf_task *t, const char *code, size_t n)
{
    uint64_t m = 0;
    for (size_t i = 0; i < t->n_plain; i++)
        if (task_code_matches(&t->preds[t->plain[i]], code, n))
            m |= UINT64_C(1) << i;
    return m;
}

uint64_t mf_task_match_value(const struct mf_task *t, uint64_t mask, double v)
{
    uint64_t out = 0;
    for (uint64_t m = mask; m; m &= m - 1) {
        int bit = __builtin_ctzll(m);
        if ((size_t)bit >= t->n_plain)
            continue;
        const struct task_pred *p = &t->preds[t->plain[bit]];
        int ok;
        if (!p->has_min && !p->has_max)
            ok = 1;
        else if (isnan(v))
            ok = 0;
        else
            ok = (!p->has_min || v > p->vmin || (p->min_incl && v == p->vmin)) &&
                 (!p->has_max || v < p->vmax || (p->max_incl && v == p->vmax));
        if (ok)
            out |= UINT64_C(1) << bit;
    }
    return out;
}

int mf_task_check_known(const struct mf_task *t, uint64_t known, struct mf_err *err)
{
    known |= mf_task_match_code(t, MF_CODE_DEATH, strlen(MF_CODE_DEATH));
    known |= mf_task_match_code(t, MF_CODE_BIRTH, strlen(MF_CODE_BIRTH));
    for (size_t i = 0; i < t->n_plain; i++) {
        if (known & (UINT64_C(1) << i))
            continue;
        const struct task_pred *p = &t->preds[t->plain[i]];
        return mf_err_set(err, MF_ENOTFOUND,
                          "%s: %s.%s: predicate '%s' matches no code in the data (a typo, or a "
                          "task written for another source?)",
                          t->errname, p->is_static ? "patient_demographics" : "predicates", p->name,
                          p->name);
    }
    return 0;
}

/* A node's time: finite, or before (-1) / after (+1) every event. */
struct tv {
    int64_t t;
    int inf;
};

struct ctx {
    const struct mf_task *t;
    size_t ng;
    int64_t *gt;   /* [ng] the timestamps */
    int64_t *pre;  /* [n_rows][ng + 1] prefix sums of per-timestamp counts */
    int *row;      /* predicate -> row of pre, or -1 */
    struct tv *nv; /* node values */
    int demo_ok;
    void *block;
};

static void mark_row(struct ctx *c, int pred, int *n_rows)
{
    if (pred >= 0 && c->row[pred] < 0)
        c->row[pred] = (*n_rows)++;
}

/* Group ev by timestamp and fill the prefix sums.  0, or MF_ENOMEM / MF_EINVAL (unsorted). */
static int ctx_build(struct ctx *c, const struct mf_task *t, const struct mf_task_events *ev)
{
    memset(c, 0, sizeof *c);
    c->t = t;
    size_t ng = 0;
    int64_t prev = MF_TIME_NONE;
    uint64_t have_static = 0;
    for (size_t i = 0; i < ev->n; i++) {
        int64_t ti = ev->time[i];
        if (ti == MF_TIME_NONE) {
            have_static |= ev->mask[i];
            continue;
        }
        if (ng > 0 && ti < prev)
            return MF_EINVAL;
        if (ng == 0 || ti != prev)
            ng++;
        prev = ti;
    }
    c->demo_ok = (have_static & t->static_mask) == t->static_mask;
    c->ng = ng;
    size_t nn = 1 + 2 * t->n_win;
    /* rows: predicates counted over windows or searched for by bounds */
    int *row = malloc(t->n_preds * sizeof *row);
    if (row == NULL)
        return MF_ENOMEM;
    for (size_t i = 0; i < t->n_preds; i++)
        row[i] = -1;
    c->row = row;
    int n_rows = 0;
    mark_row(c, t->trigger, &n_rows);
    for (size_t w = 0; w < t->n_win; w++) {
        const struct task_window *win = &t->win[w];
        mark_row(c, win->b[0].pred, &n_rows);
        mark_row(c, win->b[1].pred, &n_rows);
        mark_row(c, win->label, &n_rows);
        for (size_t k = 0; k < win->n_has; k++)
            mark_row(c, win->has[k].pred, &n_rows);
    }
    size_t sz_pre = (size_t)n_rows * (ng + 1) * sizeof(int64_t);
    size_t sz =
        ng * sizeof(int64_t) + sz_pre + nn * sizeof(struct tv) + t->n_preds * sizeof(int64_t);
    char *blk = malloc(sz ? sz : 1);
    if (blk == NULL) {
        free(row);
        c->row = NULL;
        return MF_ENOMEM;
    }
    c->block = blk;
    c->gt = (int64_t *)blk;
    c->pre = (int64_t *)(blk + ng * sizeof(int64_t));
    c->nv = (struct tv *)(blk + ng * sizeof(int64_t) + sz_pre);
    memset(c->nv, 0, nn * sizeof *c->nv);
    int64_t *cur = (int64_t *)(blk + ng * sizeof(int64_t) + sz_pre + nn * sizeof(struct tv));
    for (int r = 0; r < n_rows; r++)
        c->pre[(size_t)r * (ng + 1)] = 0;
    size_t g = 0, i = 0;
    while (i < ev->n) {
        if (ev->time[i] == MF_TIME_NONE) {
            i++;
            continue;
        }
        int64_t ti = ev->time[i];
        int64_t bits[MF_TASK_MAX_PLAIN];
        memset(bits, 0, sizeof bits);
        for (; i < ev->n && (ev->time[i] == ti || ev->time[i] == MF_TIME_NONE); i++) {
            if (ev->time[i] == MF_TIME_NONE)
                continue;
            for (uint64_t m = ev->mask[i]; m; m &= m - 1)
                bits[__builtin_ctzll(m)]++;
        }
        c->gt[g] = ti;
        for (size_t k = 0; k < t->n_eval; k++) {
            int pi = t->eval[k];
            const struct task_pred *p = &t->preds[pi];
            int64_t v = 0;
            switch (p->kind) {
            case PRED_PLAIN:
                v = p->bit >= 0 ? bits[p->bit] : 0;
                break;
            case PRED_ANY_EVENT:
                v = 1;
                break;
            case PRED_RECORD_START:
                v = g == 0;
                break;
            case PRED_RECORD_END:
                v = g + 1 == ng;
                break;
            case PRED_OR:
                for (size_t a = 0; a < p->n_args; a++)
                    v += cur[p->args[a]];
                break;
            case PRED_AND:
                v = INT64_MAX;
                for (size_t a = 0; a < p->n_args; a++)
                    if (cur[p->args[a]] < v)
                        v = cur[p->args[a]];
                break;
            }
            cur[pi] = v;
            if (c->row[pi] >= 0) {
                int64_t *pr = c->pre + (size_t)c->row[pi] * (ng + 1);
                pr[g + 1] = pr[g] + v;
            }
        }
        g++;
    }
    return 0;
}

static void ctx_free(struct ctx *c)
{
    free(c->row);
    free(c->block);
}

static const int64_t *prefix(const struct ctx *c, int pred)
{
    return c->pre + (size_t)c->row[pred] * (c->ng + 1);
}

/* First timestamp index with time >= x (lower) or > x (upper). */
static size_t lower(const struct ctx *c, int64_t x)
{
    size_t lo = 0, hi = c->ng;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->gt[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t upper(const struct ctx *c, int64_t x)
{
    size_t lo = 0, hi = c->ng;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->gt[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The first timestamp index >= g0 where pred's count is positive, or SIZE_MAX. */
static size_t next_pos(const struct ctx *c, int pred, size_t g0)
{
    const int64_t *p = prefix(c, pred);
    if (g0 >= c->ng || p[c->ng] == p[g0])
        return SIZE_MAX;
    size_t lo = g0, hi = c->ng - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p[mid + 1] > p[g0])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The last timestamp index < g1 where pred's count is positive, or SIZE_MAX. */
static size_t prev_pos(const struct ctx *c, int pred, size_t g1)
{
    const int64_t *p = prefix(c, pred);
    if (g1 == 0 || p[g1] == p[0])
        return SIZE_MAX;
    int64_t total = p[g1];
    size_t lo = 0, hi = g1 - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (p[mid] < total)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static struct tv tv_add(struct tv a, int64_t off)
{
    if (a.inf)
        return a;
    int64_t r;
    if (__builtin_add_overflow(a.t, off, &r) || r == MF_TIME_NONE)
        return (struct tv){0, off > 0 ? 1 : -1};
    return (struct tv){r, 0};
}

/* Timestamp range [lo, hi) of window w. */
static void window_range(const struct ctx *c, const struct task_window *win, struct tv s,
                         struct tv e, size_t *lo, size_t *hi)
{
    size_t a = s.inf < 0 ? 0 : s.inf > 0 ? c->ng : win->incl[0] ? lower(c, s.t) : upper(c, s.t);
    size_t b = e.inf > 0 ? c->ng : e.inf < 0 ? 0 : win->incl[1] ? upper(c, e.t) : lower(c, e.t);
    *lo = a;
    *hi = b < a ? a : b;
}

/* Evaluate the windows for a trigger at time trig: the label (0/1, or -1 without a label)
 * with *index set, or MF_TASK_EXCLUDED. */
static int eval_trigger(const struct ctx *c, int64_t trig, int64_t *index)
{
    const struct mf_task *t = c->t;
    struct tv *nv = c->nv;
    nv[0] = (struct tv){trig, 0};
    for (size_t k = 0; k < t->n_order; k++) {
        int n = t->order[k];
        const struct task_window *win = &t->win[(n - 1) / 2];
        int side = (n - 1) % 2;
        const struct task_bound *b = &win->b[side];
        struct tv r = b->kind == BOUND_NONE ? (struct tv){0, 0} : nv[b->ref];
        int allow_eq = b->ref_self && win->incl[0] && win->incl[1];
        size_t g;
        switch (b->kind) {
        case BOUND_NONE:
            nv[n] = (struct tv){0, side ? 1 : -1};
            break;
        case BOUND_AT:
            nv[n] = tv_add(r, b->off);
            break;
        case BOUND_NEXT:
            g = r.inf < 0 ? 0 : r.inf > 0 ? c->ng : allow_eq ? lower(c, r.t) : upper(c, r.t);
            g = next_pos(c, b->pred, g);
            if (g == SIZE_MAX)
                return MF_TASK_EXCLUDED;
            nv[n] = (struct tv){c->gt[g], 0};
            break;
        case BOUND_PREV:
            g = r.inf > 0 ? c->ng : r.inf < 0 ? 0 : allow_eq ? upper(c, r.t) : lower(c, r.t);
            g = prev_pos(c, b->pred, g);
            if (g == SIZE_MAX)
                return MF_TASK_EXCLUDED;
            nv[n] = (struct tv){c->gt[g], 0};
            break;
        }
    }
    int label = -1;
    for (size_t w = 0; w < t->n_win; w++) {
        const struct task_window *win = &t->win[w];
        size_t lo, hi;
        window_range(c, win, nv[task_node((int)w, 0)], nv[task_node((int)w, 1)], &lo, &hi);
        for (size_t k = 0; k < win->n_has; k++) {
            const int64_t *p = prefix(c, win->has[k].pred);
            int64_t cnt = p[hi] - p[lo];
            if ((win->has[k].min >= 0 && cnt < win->has[k].min) ||
                (win->has[k].max >= 0 && cnt > win->has[k].max))
                return MF_TASK_EXCLUDED;
        }
        if (win->label >= 0) {
            const int64_t *p = prefix(c, win->label);
            label = p[hi] - p[lo] > 0;
        }
    }
    struct tv ix = nv[t->index_node];
    if (ix.inf)
        return MF_TASK_EXCLUDED;
    *index = ix.t;
    return label;
}

int mf_task_label(const struct mf_task *t, const struct mf_task_events *ev,
                  struct mf_task_sample **out, size_t *n, size_t *cap, struct mf_err *err)
{
    struct ctx c;
    int rc = ctx_build(&c, t, ev);
    if (rc) {
        ctx_free(&c);
        return rc == MF_EINVAL
                   ? mf_err_set(err, MF_EINVAL, "%s: the events are not sorted by time", t->errname)
                   : mf_err_set(err, MF_ENOMEM, "%s: out of memory", t->errname);
    }
    if (c.demo_ok && c.ng > 0) {
        const int64_t *tp = prefix(&c, t->trigger);
        for (size_t g = 0; g < c.ng; g++) {
            if (tp[g + 1] == tp[g])
                continue;
            int64_t index = 0;
            int lab = eval_trigger(&c, c.gt[g], &index);
            if (lab == MF_TASK_EXCLUDED)
                continue;
            if (*n == *cap) {
                size_t nc = *cap ? 2 * *cap : 16;
                struct mf_task_sample *ns = realloc(*out, nc * sizeof *ns);
                if (ns == NULL) {
                    rc = mf_err_set(err, MF_ENOMEM, "%s: out of memory", t->errname);
                    break;
                }
                *out = ns;
                *cap = nc;
            }
            (*out)[(*n)++] = (struct mf_task_sample){c.gt[g], index, lab};
        }
    }
    ctx_free(&c);
    return rc;
}

int mf_task_label_at(const struct mf_task *t, const struct mf_task_events *ev, int64_t trigger,
                     int64_t *index)
{
    struct ctx c;
    int rc = ctx_build(&c, t, ev);
    int lab = MF_TASK_EXCLUDED;
    if (rc == 0 && c.demo_ok)
        lab = eval_trigger(&c, trigger, index);
    ctx_free(&c);
    return lab;
}

static uint64_t pred_bits(const struct mf_task *t, int p, int depth)
{
    const struct task_pred *q = &t->preds[p];
    if (q->kind == PRED_PLAIN)
        return q->bit >= 0 ? 1ull << q->bit : 0;
    uint64_t m = 0;
    if ((q->kind == PRED_AND || q->kind == PRED_OR) && depth < TASK_MAX_PREDS)
        for (size_t i = 0; i < q->n_args; i++)
            m |= pred_bits(t, q->args[i], depth + 1);
    return m;
}

uint64_t mf_task_label_mask(const struct mf_task *t)
{
    if (t->label_win < 0 || t->win[t->label_win].label < 0)
        return 0;
    return pred_bits(t, t->win[t->label_win].label, 0);
}
