/* compile.c - the last step of parsing a task: the window graph.
 *
 * Resolves window references into nodes, rejects windows that can never be satisfied (a bound
 * on the wrong side of the other, a cycle, an unbounded index, a fixed-length window whose end
 * comes before its start, a `has` that needs events in a window that is always empty), picks
 * the index node, orders the nodes and the predicates for evaluation, and computes the
 * horizon (mf_task_horizon).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/task_int.h"

#define INF (INT64_MAX / 4)

static int cfail(const struct mf_task *t, struct mf_err *err, int line, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int cfail(const struct mf_task *t, struct mf_err *err, int line, const char *path,
                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return mf_err_set(err, MF_EPARSE, "%s:%d: %s: %s", t->errname, line, path, msg);
    return mf_err_set(err, MF_EPARSE, "%s: %s: %s", t->errname, path, msg);
}

static int64_t sat_add(int64_t a, int64_t b)
{
    if (a >= INF || b >= INF)
        return (a <= -INF || b <= -INF) ? 0 : INF;
    if (a <= -INF || b <= -INF)
        return -INF;
    int64_t r = a + b; /* |a|, |b| < INF: no overflow */
    return r >= INF ? INF : r <= -INF ? -INF : r;
}

static const struct task_bound *bound_of(const struct mf_task *t, int node)
{
    return &t->win[(node - 1) / 2].b[(node - 1) % 2];
}

static void node_path(const struct mf_task *t, int node, char *out, size_t n)
{
    snprintf(out, n, "windows.%s.%s", t->win[(node - 1) / 2].name,
             (node - 1) % 2 ? "end" : "start");
}

/* Each node's position: base (the trigger, or the node itself for an event bound or an
 * unbounded one) + off, and bounds [lo, hi] relative to the trigger. */
struct pos {
    int base;
    int64_t off, lo, hi;
};

static void positions(const struct mf_task *t, struct pos *ps)
{
    ps[0] = (struct pos){0, 0, 0, 0};
    for (size_t k = 0; k < t->n_order; k++) {
        int n = t->order[k];
        const struct task_bound *b = bound_of(t, n);
        int side = (n - 1) % 2;
        struct pos *q = &ps[n];
        switch (b->kind) {
        case BOUND_NONE:
            *q = (struct pos){n, 0, side ? INF : -INF, side ? INF : -INF};
            break;
        case BOUND_AT:
            q->base = ps[b->ref].base;
            q->off = sat_add(ps[b->ref].off, b->off);
            q->lo = sat_add(ps[b->ref].lo, b->off);
            q->hi = sat_add(ps[b->ref].hi, b->off);
            break;
        case BOUND_NEXT:
            *q = (struct pos){n, 0, ps[b->ref].lo, INF};
            break;
        case BOUND_PREV:
            *q = (struct pos){n, 0, -INF, ps[b->ref].hi};
            break;
        }
    }
}

static int order_nodes(struct mf_task *t, struct mf_err *err)
{
    size_t nn = 1 + 2 * t->n_win;
    unsigned char *state = calloc(nn, 1);
    int *stack = malloc(nn * sizeof *stack);
    t->order = malloc(nn * sizeof *t->order);
    t->n_order = 0;
    int rc = 0;
    if (state == NULL || stack == NULL || t->order == NULL) {
        mf_err_set(err, MF_ENOMEM, "%s: out of memory", t->errname);
        rc = MF_ENOMEM;
        goto out;
    }
    state[0] = 2;
    for (size_t start = 1; start < nn && rc == 0; start++) {
        /* follow the chain of references to a done node, then emit it backwards */
        size_t depth = 0;
        int n = (int)start;
        while (state[n] == 0) {
            state[n] = 1;
            stack[depth++] = n;
            const struct task_bound *b = bound_of(t, n);
            if (b->kind == BOUND_NONE)
                break;
            n = b->ref;
        }
        if (state[n] == 1 &&
            !(depth > 0 && stack[depth - 1] == n && bound_of(t, n)->kind == BOUND_NONE)) {
            char path[320];
            node_path(t, n, path, sizeof path);
            rc = cfail(t, err, bound_of(t, n)->line, path,
                       "windows refer to each other in a cycle through window '%s'",
                       t->win[(n - 1) / 2].name);
            break;
        }
        while (depth > 0) {
            int m = stack[--depth];
            state[m] = 2;
            t->order[t->n_order++] = m;
        }
    }
out:
    free(state);
    free(stack);
    return rc;
}

static int check_windows(struct mf_task *t, struct mf_err *err)
{
    for (size_t w = 0; w < t->n_win; w++) {
        struct task_window *win = &t->win[w];
        char path[320];
        for (int side = 0; side < 2; side++) {
            struct task_bound *b = &win->b[side];
            snprintf(path, sizeof path, "windows.%s.%s", win->name, side ? "end" : "start");
            if (b->kind == BOUND_NONE)
                continue;
            if (b->ref_self) {
                b->ref = task_node((int)w, b->ref_side);
                if (win->b[b->ref_side].kind == BOUND_NONE)
                    return cfail(t, err, b->line, path,
                                 "refers to the window's %s, which is unbounded (null): use "
                                 "another window or the trigger",
                                 side ? "start" : "end");
                if (side == 0 && (b->kind == BOUND_NEXT || (b->kind == BOUND_AT && b->off > 0)))
                    return cfail(t, err, b->line, path,
                                 "the start would come after the end: the window can never be "
                                 "satisfied (use 'end - DURATION' or 'end <- PREDICATE')");
                if (side == 1 && (b->kind == BOUND_PREV || (b->kind == BOUND_AT && b->off < 0)))
                    return cfail(t, err, b->line, path,
                                 "the end would come before the start: the window can never be "
                                 "satisfied (use 'start + DURATION' or 'start -> PREDICATE')");
            } else if (b->ref_window) {
                size_t k = 0;
                while (k < t->n_win && strcmp(t->win[k].name, b->ref_window) != 0)
                    k++;
                if (k == t->n_win)
                    return cfail(t, err, b->line, path, "unknown window '%s'", b->ref_window);
                b->ref = task_node((int)k, b->ref_side);
            } else {
                b->ref = 0;
            }
        }
        if (win->b[0].kind == BOUND_NONE && win->b[1].kind == BOUND_NONE) {
            snprintf(path, sizeof path, "windows.%s", win->name);
            return cfail(t, err, win->line, path,
                         "both start and end are unbounded: the window must be tied to the "
                         "trigger or another window");
        }
        if (win->b[0].ref_self && win->b[1].ref_self) {
            snprintf(path, sizeof path, "windows.%s", win->name);
            return cfail(t, err, win->line, path,
                         "start and end refer to each other: one of them must refer to the "
                         "trigger or another window");
        }
    }
    return 0;
}

/* Fixed-length windows whose end is before their start, and `has` constraints that need
 * events in a window that is always empty. */
static int check_satisfiable(struct mf_task *t, const struct pos *ps, struct mf_err *err)
{
    for (size_t w = 0; w < t->n_win; w++) {
        struct task_window *win = &t->win[w];
        const struct pos *a = &ps[task_node((int)w, 0)], *b = &ps[task_node((int)w, 1)];
        if (a->base != b->base || win->b[0].kind == BOUND_NONE || win->b[1].kind == BOUND_NONE)
            continue;
        char path[320];
        snprintf(path, sizeof path, "windows.%s", win->name);
        if (b->off < a->off)
            return cfail(t, err, win->line, path,
                         "the end always comes before the start: the window can never be "
                         "satisfied");
        if (b->off == a->off && !(win->incl[0] && win->incl[1]))
            for (size_t k = 0; k < win->n_has; k++)
                if (win->has[k].min > 0)
                    return cfail(t, err, win->has[k].line, path,
                                 "the window is always empty (zero length, not inclusive at "
                                 "both ends), so has '%s' can never be satisfied",
                                 t->preds[win->has[k].pred].name);
    }
    return 0;
}

static int pick_index(struct mf_task *t, const struct pos *ps, struct mf_err *err)
{
    int found = -1;
    for (size_t w = 0; w < t->n_win; w++) {
        struct task_window *win = &t->win[w];
        if (win->index < 0)
            continue;
        char path[320];
        snprintf(path, sizeof path, "windows.%s.index_timestamp", win->name);
        if (found >= 0)
            return cfail(t, err, win->index_line, path,
                         "only one window can have index_timestamp (window '%s' has one too)",
                         t->win[found].name);
        found = (int)w;
        int n = task_node((int)w, win->index);
        if (ps[n].base != 0 && bound_of(t, ps[n].base)->kind == BOUND_NONE)
            return cfail(t, err, win->index_line, path,
                         "the %s of this window is unbounded (null): it cannot be the "
                         "prediction time",
                         win->index ? "end" : "start");
        t->index_node = n;
    }
    if (found < 0)
        return cfail(t, err, 0, "windows",
                     "no window has index_timestamp: one window's start or end must be the "
                     "prediction time");
    return 0;
}

static void horizon(struct mf_task *t, const struct pos *ps)
{
    const struct pos *ix = &ps[t->index_node];
    int64_t h = 0;
    for (size_t n = 1; n < 1 + 2 * t->n_win; n++) {
        const struct pos *q = &ps[n];
        int64_t d = q->base == ix->base
                        ? sat_add(q->off, -ix->off)
                        : (ix->lo <= -INF ? (q->hi <= -INF ? -INF : INF) : sat_add(q->hi, -ix->lo));
        if (d > h)
            h = d;
    }
    t->horizon = h >= INF ? -1 : h;
}

static int add_eval(struct mf_task *t, int i, unsigned char *seen)
{
    if (seen[i])
        return 0;
    seen[i] = 1;
    const struct task_pred *pr = &t->preds[i];
    for (size_t k = 0; k < pr->n_args; k++)
        add_eval(t, pr->args[k], seen);
    t->eval[t->n_eval++] = i;
    return 0;
}

int task_compile(struct mf_task *t, struct mf_err *err)
{
    int rc = check_windows(t, err);
    if (rc == 0)
        rc = order_nodes(t, err);
    if (rc)
        return rc;
    struct pos *ps = calloc(1 + 2 * t->n_win, sizeof *ps);
    unsigned char *seen = calloc(t->n_preds, 1);
    t->eval = malloc(t->n_preds * sizeof *t->eval);
    if (ps == NULL || seen == NULL || t->eval == NULL) {
        mf_err_set(err, MF_ENOMEM, "%s: out of memory", t->errname);
        rc = MF_ENOMEM;
        goto out;
    }
    positions(t, ps);
    if ((rc = check_satisfiable(t, ps, err)) != 0 || (rc = pick_index(t, ps, err)) != 0)
        goto out;
    horizon(t, ps);
    for (size_t i = 0; i < t->n_preds; i++)
        if (t->preds[i].used && !t->preds[i].is_static)
            add_eval(t, (int)i, seen);
out:
    free(ps);
    free(seen);
    return rc;
}
