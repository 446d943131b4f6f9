/* windows.c - task files, second half: the windows (bounds, durations, count ranges) and the
 * resolution of every predicate and window name into an index (see parse.c for the first
 * half and the YAML helpers, compile.c for the window graph).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "tasks/parse_int.h"
#include "tasks/task_int.h"

/* Durations: one or more "<integer> <unit>" terms ("24h", "7 days", "1 day 2 hours"); units
 * s/sec/second(s), m/min/minute(s), h/hr/hour(s), d/day(s), w/week(s), y/yr/year(s) = 365
 * days. */
static int parse_duration(const char *s, size_t n, int64_t *out)
{
    static const struct {
        const char *name;
        int64_t usec;
    } units[] = {
        {"s", MF_USEC_PER_SEC},
        {"sec", MF_USEC_PER_SEC},
        {"secs", MF_USEC_PER_SEC},
        {"second", MF_USEC_PER_SEC},
        {"seconds", MF_USEC_PER_SEC},
        {"m", 60 * MF_USEC_PER_SEC},
        {"min", 60 * MF_USEC_PER_SEC},
        {"mins", 60 * MF_USEC_PER_SEC},
        {"minute", 60 * MF_USEC_PER_SEC},
        {"minutes", 60 * MF_USEC_PER_SEC},
        {"h", 3600 * MF_USEC_PER_SEC},
        {"hr", 3600 * MF_USEC_PER_SEC},
        {"hrs", 3600 * MF_USEC_PER_SEC},
        {"hour", 3600 * MF_USEC_PER_SEC},
        {"hours", 3600 * MF_USEC_PER_SEC},
        {"d", MF_USEC_PER_DAY},
        {"day", MF_USEC_PER_DAY},
        {"days", MF_USEC_PER_DAY},
        {"w", 7 * MF_USEC_PER_DAY},
        {"week", 7 * MF_USEC_PER_DAY},
        {"weeks", 7 * MF_USEC_PER_DAY},
        {"y", 365 * MF_USEC_PER_DAY},
        {"yr", 365 * MF_USEC_PER_DAY},
        {"year", 365 * MF_USEC_PER_DAY},
        {"years", 365 * MF_USEC_PER_DAY},
    };
    const int64_t cap = (int64_t)TASK_MAX_DAYS * MF_USEC_PER_DAY;
    int64_t total = 0;
    size_t i = 0, terms = 0;
    for (;;) {
        while (i < n && (isspace((unsigned char)s[i]) || s[i] == ','))
            i++;
        if (i == n)
            break;
        if (!isdigit((unsigned char)s[i]))
            return -1;
        int64_t v = 0;
        while (i < n && isdigit((unsigned char)s[i])) {
            v = v * 10 + (s[i++] - '0');
            if (v > cap)
                return -1;
        }
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        size_t u = i;
        while (i < n && isalpha((unsigned char)s[i]))
            i++;
        size_t ulen = i - u, k = 0;
        for (; k < sizeof units / sizeof units[0]; k++)
            if (strlen(units[k].name) == ulen && strncasecmp(units[k].name, s + u, ulen) == 0)
                break;
        if (k == sizeof units / sizeof units[0])
            return -1;
        if (v > cap / units[k].usec)
            return -1;
        total += v * units[k].usec;
        if (total > cap)
            return -1;
        terms++;
    }
    if (terms == 0)
        return -1;
    *out = total;
    return 0;
}

static void trim(const char **a, const char **b)
{
    while (*a < *b && isspace((unsigned char)**a))
        (*a)++;
    while (*b > *a && isspace((unsigned char)(*b)[-1]))
        (*b)--;
}

/* A window bound: NULL | REF | REF +/- DURATION | REF -> PRED | REF <- PRED, where REF is
 * trigger, start, end, W.start or W.end. */
static int parse_bound(struct P *p, const yaml_node_t *n, const char *path, int side,
                       struct task_bound *b)
{
    memset(b, 0, sizeof *b);
    b->ref_side = -1;
    b->pred = -1;
    b->line = n ? line_of(n) : 0;
    if (n == NULL || is_null(n)) {
        b->kind = BOUND_NONE;
        return 0;
    }
    int rc = tp_want_string(p, n, path, "a window bound");
    if (rc)
        return rc;
    const char *s = sval(n), *e = s + slen(n);
    const char *fwd = strstr(s, "->"), *back = strstr(s, "<-");
    const char *ra = s, *rb = e;
    char buf[64];
    if (fwd && back)
        return tp_fail(p, b->line, path, "a bound cannot have both '->' and '<-'");
    if (fwd || back) {
        const char *op = fwd ? fwd : back;
        b->kind = fwd ? BOUND_NEXT : BOUND_PREV;
        rb = op;
        const char *pa = op + 2, *pb = e;
        trim(&pa, &pb);
        if (!tp_valid_name(pa, (size_t)(pb - pa)))
            return tp_fail(p, b->line, path, "'%s' is not a predicate name",
                           tp_shown(pa, (size_t)(pb - pa), buf));
        if ((b->pred_name = tp_dup(pa, (size_t)(pb - pa))) == NULL)
            return tp_oom(p);
    } else {
        const char *plus = memchr(s, '+', slen(n)), *minus = memchr(s, '-', slen(n));
        b->kind = BOUND_AT;
        if (plus && minus)
            return tp_fail(p, b->line, path, "a bound cannot have both '+' and '-'");
        if (plus || minus) {
            const char *op = plus ? plus : minus;
            rb = op;
            const char *da = op + 1, *db = e;
            trim(&da, &db);
            int64_t d;
            if (parse_duration(da, (size_t)(db - da), &d) != 0)
                return tp_fail(p, b->line, path,
                               "bad duration '%s' (e.g. 24h, 2 hours, 7 days, 1 day 12 hours)",
                               tp_shown(da, (size_t)(db - da), buf));
            b->off = minus ? -d : d;
        }
    }
    trim(&ra, &rb);
    size_t rn = (size_t)(rb - ra);
    const char *dot = memchr(ra, '.', rn);
    if (dot == NULL) {
        if (rn == 7 && strncmp(ra, "trigger", 7) == 0) {
            b->ref_side = -1;
        } else if ((rn == 5 && strncmp(ra, "start", 5) == 0) ||
                   (rn == 3 && strncmp(ra, "end", 3) == 0)) {
            b->ref_side = ra[0] == 's' ? 0 : 1;
            b->ref_self = 1;
            if (b->ref_side == side)
                return tp_fail(p, b->line, path, "a bound cannot refer to itself");
        } else {
            return tp_fail(p, b->line, path,
                           "'%s' is not trigger, start, end, WINDOW.start or WINDOW.end",
                           tp_shown(ra, rn, buf));
        }
        return 0;
    }
    size_t wn = (size_t)(dot - ra), en = rn - wn - 1;
    if (!tp_valid_name(ra, wn) || !((en == 5 && strncmp(dot + 1, "start", 5) == 0) ||
                                    (en == 3 && strncmp(dot + 1, "end", 3) == 0)))
        return tp_fail(p, b->line, path,
                       "'%s' is not trigger, start, end, WINDOW.start or WINDOW.end",
                       tp_shown(ra, rn, buf));
    b->ref_side = dot[1] == 's' ? 0 : 1;
    if ((b->ref_window = tp_dup(ra, wn)) == NULL)
        return tp_oom(p);
    return 0;
}

/* "(min, max)" with None (or nothing) for an open end. */
static int parse_count_range(const char *s, size_t n, int64_t *lo, int64_t *hi)
{
    const char *a = s, *b = s + n;
    trim(&a, &b);
    if (b - a < 2 || *a != '(' || b[-1] != ')')
        return -1;
    a++;
    b--;
    const char *c = memchr(a, ',', (size_t)(b - a));
    if (c == NULL || memchr(c + 1, ',', (size_t)(b - c - 1)))
        return -1;
    const char *part[2][2] = {{a, c}, {c + 1, b}};
    int64_t *dst[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
        const char *x = part[i][0], *y = part[i][1];
        trim(&x, &y);
        size_t len = (size_t)(y - x);
        if (len == 0 || (len == 4 && strncmp(x, "None", 4) == 0) ||
            (len == 4 && strncmp(x, "null", 4) == 0)) {
            *dst[i] = -1;
            continue;
        }
        if (*x == '+') {
            x++;
            len--;
        }
        if (len == 0 || len > 9)
            return -1;
        int64_t v = 0;
        for (size_t k = 0; k < len; k++) {
            if (!isdigit((unsigned char)x[k]))
                return -1;
            v = v * 10 + (x[k] - '0');
        }
        *dst[i] = v;
    }
    return 0;
}

static int parse_window(struct P *p, struct task_window *w, const yaml_node_t *m, const char *path)
{
    static const char *const keys[] = {"start", "end",   "start_inclusive", "end_inclusive",
                                       "has",   "label", "index_timestamp"};
    yaml_node_t *f[7];
    int rc = tp_map_get(p, m, path, keys, 7, f,
                        "start, end, start_inclusive, end_inclusive, has, label, index_timestamp");
    if (rc)
        return rc;
    char sub[320];
    w->label = -1;
    w->index = -1;
    for (int side = 0; side < 2; side++) {
        snprintf(sub, sizeof sub, "%s.%s", path, keys[side]);
        if ((rc = parse_bound(p, f[side], sub, side, &w->b[side])) != 0)
            return rc;
        if (w->b[side].line == 0)
            w->b[side].line = w->line;
        snprintf(sub, sizeof sub, "%s.%s", path, keys[2 + side]);
        if ((rc = tp_parse_bool(p, f[2 + side], sub, 1, &w->incl[side])) != 0)
            return rc;
    }
    if (f[4] != NULL && !is_null(f[4])) {
        snprintf(sub, sizeof sub, "%s.has", path);
        if ((rc = tp_named_map(p, f[4], sub, "predicate: \"(min, max)\"")) != 0)
            return rc;
        size_t k = (size_t)(f[4]->data.mapping.pairs.top - f[4]->data.mapping.pairs.start);
        w->has = calloc(k ? k : 1, sizeof *w->has);
        if (w->has == NULL)
            return tp_oom(p);
        for (size_t i = 0; i < k; i++) {
            yaml_node_pair_t *pr = &f[4]->data.mapping.pairs.start[i];
            yaml_node_t *kn = node_at(p, pr->key), *vn = node_at(p, pr->value);
            struct task_has *h = &w->has[w->n_has++];
            h->pred = -1;
            h->line = line_of(kn);
            if ((h->pred_name = tp_dup(sval(kn), slen(kn))) == NULL)
                return tp_oom(p);
            snprintf(sub, sizeof sub, "%s.has.%s", path, sval(kn));
            if (!is_scalar(vn) || parse_count_range(sval(vn), slen(vn), &h->min, &h->max) != 0)
                return tp_fail(p, line_of(vn), sub,
                               "expected a count range \"(min, max)\" with whole numbers or None");
            if (h->min >= 0 && h->max >= 0 && h->min > h->max)
                return tp_fail(p, line_of(vn), sub,
                               "min is larger than max: the window can never be satisfied");
        }
    }
    if (f[5] != NULL && !is_null(f[5])) {
        snprintf(sub, sizeof sub, "%s.label", path);
        if ((rc = tp_want_string(p, f[5], sub, "a predicate name")) != 0)
            return rc;
        char buf[64];
        if (!tp_valid_name(sval(f[5]), slen(f[5])))
            return tp_fail(p, line_of(f[5]), sub, "'%s' is not a predicate name",
                           tp_shown(sval(f[5]), slen(f[5]), buf));
        if ((w->label_name = tp_dup(sval(f[5]), slen(f[5]))) == NULL)
            return tp_oom(p);
        w->label_line = line_of(f[5]);
    }
    if (f[6] != NULL && !is_null(f[6])) {
        snprintf(sub, sizeof sub, "%s.index_timestamp", path);
        if (is_scalar(f[6]) && strcmp(sval(f[6]), "start") == 0)
            w->index = 0;
        else if (is_scalar(f[6]) && strcmp(sval(f[6]), "end") == 0)
            w->index = 1;
        else
            return tp_fail(p, line_of(f[6]), sub, "expected start or end");
        w->index_line = line_of(f[6]);
    }
    return 0;
}

int tp_parse_windows(struct P *p, const yaml_node_t *m)
{
    int rc = tp_named_map(p, m, "windows", "windows");
    if (rc)
        return rc;
    size_t k = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    if (k > TASK_MAX_WINDOWS)
        return tp_fail(p, line_of(m), "windows", "more than %d windows", TASK_MAX_WINDOWS);
    struct mf_task *t = p->t;
    t->win = calloc(k ? k : 1, sizeof *t->win);
    if (t->win == NULL)
        return tp_oom(p);
    for (size_t i = 0; i < k; i++) {
        yaml_node_pair_t *pr = &m->data.mapping.pairs.start[i];
        yaml_node_t *kn = node_at(p, pr->key);
        struct task_window *w = &t->win[t->n_win++];
        w->label = w->index = -1;
        w->b[0].pred = w->b[1].pred = -1;
        if ((w->name = tp_dup(sval(kn), slen(kn))) == NULL)
            return tp_oom(p);
        w->line = line_of(kn);
        char path[256];
        snprintf(path, sizeof path, "windows.%s", w->name);
        if ((rc = parse_window(p, w, node_at(p, pr->value), path)) != 0)
            return rc;
    }
    return 0;
}

/* The index of a predicate by name (the special ones included), or -1. */
static int find_pred(struct P *p, const char *name)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, tp_special_names[i]) == 0)
            return (int)p->t->n_preds - 3 + i;
    struct mf_strmap_slot *s = mf_strmap_get(&p->preds, name, strlen(name));
    return s ? (int)s->value - 1 : -1;
}

/* A reference to a predicate with a time: defined, and not a patient_demographics one. */
static int resolve_pred(struct P *p, const char *name, int line, const char *path, int *out)
{
    int i = find_pred(p, name);
    if (i < 0)
        return tp_fail(p, line, path, "unknown predicate '%s'", name);
    if (p->t->preds[i].is_static)
        return tp_fail(
            p, line, path,
            "'%s' is a patient_demographics predicate: it has no time and cannot be used "
            "here",
            name);
    *out = i;
    return 0;
}

static void mark_used(struct mf_task *t, int i, int depth)
{
    struct task_pred *pr = &t->preds[i];
    if (pr->used || depth > TASK_MAX_PREDS)
        return;
    pr->used = 1;
    for (size_t k = 0; k < pr->n_args; k++)
        mark_used(t, pr->args[k], depth + 1);
}

/* Derived predicates form a DAG: 0 unvisited, 1 on the path, 2 done. */
static int pred_cycle(struct P *p, int i, unsigned char *state)
{
    struct task_pred *pr = &p->t->preds[i];
    if (state[i] == 2)
        return 0;
    if (state[i] == 1) {
        char path[256];
        snprintf(path, sizeof path, "predicates.%s.expr", pr->name);
        return tp_fail(p, pr->line, path, "predicates form a cycle through '%s'", pr->name);
    }
    state[i] = 1;
    for (size_t k = 0; k < pr->n_args; k++) {
        int rc = pred_cycle(p, pr->args[k], state);
        if (rc)
            return rc;
    }
    state[i] = 2;
    return 0;
}

int tp_resolve(struct P *p, const char *trigger_name)
{
    struct mf_task *t = p->t;
    int rc;
    for (int i = 0; i < 3; i++) {
        struct task_pred *sp = tp_new_pred(p);
        if (sp == NULL ||
            (sp->name = tp_dup(tp_special_names[i], strlen(tp_special_names[i]))) == NULL)
            return tp_oom(p);
        sp->kind = (enum pred_kind)(PRED_ANY_EVENT + i);
    }
    size_t n_def = t->n_preds - 3;
    for (size_t i = 0; i < n_def; i++) {
        struct task_pred *pr = &t->preds[i];
        if (pr->n_args == 0)
            continue;
        char path[256];
        snprintf(path, sizeof path, "predicates.%s.expr", pr->name);
        pr->args = calloc(pr->n_args, sizeof *pr->args);
        if (pr->args == NULL)
            return tp_oom(p);
        for (size_t k = 0; k < pr->n_args; k++)
            if ((rc = resolve_pred(p, pr->arg_names[k], pr->line, path, &pr->args[k])) != 0)
                return rc;
    }
    unsigned char *state = calloc(t->n_preds, 1);
    if (state == NULL)
        return tp_oom(p);
    rc = 0;
    for (size_t i = 0; i < n_def && rc == 0; i++)
        rc = pred_cycle(p, (int)i, state);
    free(state);
    if (rc)
        return rc;
    if ((rc = resolve_pred(p, trigger_name, t->trigger_line, "trigger", &t->trigger)) != 0)
        return rc;
    mark_used(t, t->trigger, 0);
    t->label_win = -1;
    for (size_t w = 0; w < t->n_win; w++) {
        struct task_window *win = &t->win[w];
        char path[320];
        for (int side = 0; side < 2; side++) {
            struct task_bound *b = &win->b[side];
            snprintf(path, sizeof path, "windows.%s.%s", win->name, side ? "end" : "start");
            if (b->pred_name) {
                if ((rc = resolve_pred(p, b->pred_name, b->line, path, &b->pred)) != 0)
                    return rc;
                mark_used(t, b->pred, 0);
            }
        }
        for (size_t k = 0; k < win->n_has; k++) {
            struct task_has *h = &win->has[k];
            snprintf(path, sizeof path, "windows.%s.has.%s", win->name, h->pred_name);
            if ((rc = resolve_pred(p, h->pred_name, h->line, path, &h->pred)) != 0)
                return rc;
            mark_used(t, h->pred, 0);
        }
        if (win->label_name) {
            snprintf(path, sizeof path, "windows.%s.label", win->name);
            if ((rc = resolve_pred(p, win->label_name, win->label_line, path, &win->label)) != 0)
                return rc;
            mark_used(t, win->label, 0);
            if (t->label_win >= 0)
                return tp_fail(p, win->label_line, path,
                               "only one window can have a label (window '%s' has one too)",
                               t->win[t->label_win].name);
            t->label_win = (int)w;
        }
    }
    /* bits: the plain predicates in use, and every patient_demographics one */
    for (size_t i = 0; i < n_def; i++) {
        struct task_pred *pr = &t->preds[i];
        if (pr->is_static)
            pr->used = 1;
        if (pr->kind != PRED_PLAIN || !pr->used)
            continue;
        if (t->n_plain == MF_TASK_MAX_PLAIN) {
            char path[256];
            snprintf(path, sizeof path, "%s.%s",
                     pr->is_static ? "patient_demographics" : "predicates", pr->name);
            return tp_fail(p, pr->line, path, "more than %d plain predicates are used",
                           MF_TASK_MAX_PLAIN);
        }
        pr->bit = (int)t->n_plain;
        t->plain[t->n_plain++] = (int)i;
        if (pr->is_static)
            t->static_mask |= UINT64_C(1) << pr->bit;
    }
    return 0;
}
