/* parse.c - task files: ACES YAML (read with libyaml's document loader) into struct mf_task.
 *
 * This file reads the document, walks its top level and the predicates, and holds the YAML
 * helpers; windows.c reads the windows and resolves names (predicates, windows) into indexes;
 * compile.c then checks the window graph and orders the evaluation.
 * Errors name the file, the line (libyaml's marks) and the YAML path.  Left out: ACES's
 * `other_cols` predicates, nested and()/or(), and a separate predicates file.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/strmap.h"
#include "store/event.h"
#include "tasks/parse_int.h"
#include "tasks/task_int.h"

const char *const tp_special_names[3] = {"_ANY_EVENT", "_RECORD_START", "_RECORD_END"};

int tp_fail(struct P *p, int line, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        return mf_err_set(p->err, MF_EPARSE, "%s:%d: %s: %s", p->name, line, path, msg);
    return mf_err_set(p->err, MF_EPARSE, "%s: %s: %s", p->name, path, msg);
}

/* A YAML string for a message: printable ASCII only, at most 48 bytes. */
const char *tp_shown(const char *s, size_t n, char out[64])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 48; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > 48 && k == 48) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static int is_placeholder(const yaml_node_t *n)
{
    return is_scalar(n) && slen(n) >= 3 && strncmp(sval(n), "\?\?\?", 3) == 0;
}

/* A string scalar: no NUL inside (the loader keeps "\0" escapes). */
int tp_want_string(struct P *p, const yaml_node_t *n, const char *path, const char *what)
{
    if (!is_scalar(n))
        return tp_fail(p, line_of(n), path, "expected %s", what);
    if (strlen(sval(n)) != slen(n))
        return tp_fail(p, line_of(n), path, "contains a NUL byte");
    return 0;
}

int tp_valid_name(const char *s, size_t n)
{
    if (n == 0 || n > TASK_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

char *tp_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int tp_oom(struct P *p)
{
    return mf_err_set(p->err, MF_ENOMEM, "%s: out of memory", p->name);
}

/* The values of mapping m's keys: vals[i] for allowed[i], NULL when absent.  Keys must be
 * plain strings from allowed, each at most once. */
int tp_map_get(struct P *p, const yaml_node_t *m, const char *path, const char *const *allowed,
               size_t n_allowed, yaml_node_t **vals, const char *what)
{
    for (size_t i = 0; i < n_allowed; i++)
        vals[i] = NULL;
    if (m == NULL || m->type != YAML_MAPPING_NODE)
        return tp_fail(p, line_of(m), path, "expected a mapping (%s)", what);
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node_at(p, pr->key), *v = node_at(p, pr->value);
        if (!is_scalar(k))
            return tp_fail(p, line_of(k), path, "a key is not a string");
        size_t i = 0;
        while (i < n_allowed && strcmp(sval(k), allowed[i]) != 0)
            i++;
        char buf[64];
        if (i == n_allowed || strlen(sval(k)) != slen(k))
            return tp_fail(p, line_of(k), path, "unknown key '%s' (expected %s)",
                           tp_shown(sval(k), slen(k), buf), what);
        if (vals[i] != NULL)
            return tp_fail(p, line_of(k), path, "key '%s' given twice", allowed[i]);
        vals[i] = v;
    }
    return 0;
}

/* A mapping of user-named entries: checks the names, counts and duplicates. */
int tp_named_map(struct P *p, const yaml_node_t *m, const char *path, const char *what)
{
    if (m == NULL || m->type != YAML_MAPPING_NODE)
        return tp_fail(p, line_of(m), path, "expected a mapping of %s", what);
    size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
    if (n > TASK_MAX_KEYS)
        return tp_fail(p, line_of(m), path, "more than %d entries", TASK_MAX_KEYS);
    struct mf_strmap seen;
    mf_strmap_init(&seen);
    int rc = 0;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start;
         rc == 0 && pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node_at(p, pr->key);
        char buf[64];
        if (!is_scalar(k) || !tp_valid_name(sval(k), slen(k))) {
            rc = tp_fail(p, line_of(k), path,
                         "name '%s' is not letters, digits and '_' (at most %d bytes)",
                         is_scalar(k) ? tp_shown(sval(k), slen(k), buf) : "", TASK_MAX_NAME);
            break;
        }
        int added = 0;
        if (mf_strmap_upsert(&seen, sval(k), slen(k), &added) == NULL)
            rc = tp_oom(p);
        else if (!added)
            rc = tp_fail(p, line_of(k), path, "'%s' given twice", sval(k));
    }
    mf_strmap_free(&seen);
    return rc;
}

int tp_parse_bool(struct P *p, const yaml_node_t *n, const char *path, int def, int *out)
{
    if (is_null(n)) {
        *out = def;
        return 0;
    }
    if (is_scalar(n) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        const char *s = sval(n);
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
            *out = 1;
            return 0;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
            *out = 0;
            return 0;
        }
    }
    return tp_fail(p, line_of(n), path, "expected true or false");
}

static int parse_number(struct P *p, const yaml_node_t *n, const char *path, int *has, double *v)
{
    *has = 0;
    if (is_null(n))
        return 0;
    if (is_scalar(n) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && slen(n) < 64) {
        char *end;
        errno = 0;
        double d = strtod(sval(n), &end);
        if (end != sval(n) && *end == '\0' && errno != ERANGE && isfinite(d) &&
            !isalpha((unsigned char)sval(n)[0]) &&
            !(sval(n)[0] == '0' && (sval(n)[1] | 32) == 'x')) {
            *has = 1;
            *v = d;
            return 0;
        }
    }
    return tp_fail(p, line_of(n), path, "expected a number or null");
}

/* Regular expressions go to glibc's regcomp, which expands repetitions when it compiles: "a+"
 * becomes "aa*" and "a{3,5}" five copies of a, nested ones multiplying, so "((a+)+)+..." or
 * "(a{99}){99}" take time and memory exponential in the nesting, and stacked or nested stars
 * make its closure computations slow.  This refuses stacked repetitions ("a+*", undefined in
 * POSIX anyway) and estimates the size of the expanded tree (atoms counted once, each
 * repetition doubling the atom or group before it, a bound {m,n} multiplying it by n + 1),
 * refusing expressions over a limit far above what a code pattern needs. */
static int regex_too_complex(const char *s)
{
    enum { DEPTH = 64 };
    const double limit = 2000;
    double total[DEPTH], last[DEPTH];
    int d = 0;
    total[0] = last[0] = 0;
    for (const char *c = s; *c; c++) {
        double atom = -1; /* >= 0: an atom of that cost ends here */
        if ((*c == '*' || *c == '+' || *c == '?' || *c == '{') && c > s &&
            (c[-1] == '*' || c[-1] == '+' || c[-1] == '?' || c[-1] == '}') &&
            !(c - 1 > s && c[-2] == '\\'))
            return 1; /* stacked repetitions ("a+*", undefined in POSIX) */
        switch (*c) {
        case '\\':
            if (c[1])
                c++;
            atom = 1;
            break;
        case '[': /* a bracket expression: one atom */
            c++;
            if (*c == '^')
                c++;
            if (*c == ']')
                c++;
            while (*c && *c != ']') {
                if (*c == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '=')) {
                    char close = c[1];
                    c += 2;
                    while (*c && !(*c == close && c[1] == ']'))
                        c++;
                    if (*c)
                        c++;
                }
                if (*c)
                    c++;
            }
            if (*c == '\0')
                return 0; /* unbalanced: regcomp refuses it */
            atom = 1;
            break;
        case '(':
            if (++d == DEPTH)
                return 1;
            total[d] = last[d] = 0;
            break;
        case ')':
            if (d == 0)
                return 0; /* unbalanced: regcomp refuses it */
            atom = total[d--];
            break;
        case '|':
            last[d] = 0;
            break;
        case '*': /* stacked ones cost glibc time too ("a****b" is cubic) */
        case '?':
        case '+':
            total[d] += last[d];
            last[d] *= 2;
            break;
        case '{': {
            double k = 0;
            for (const char *e = c + 1; *e && *e != '}'; e++)
                if (isdigit((unsigned char)*e)) {
                    double v = 0;
                    while (isdigit((unsigned char)*e) && v < 1e6)
                        v = v * 10 + (*e++ - '0');
                    e--;
                    if (v > k)
                        k = v;
                }
            k += 1;
            total[d] += last[d] * (k - 1);
            last[d] *= k;
            while (c[1] && *c != '}')
                c++;
            break;
        }
        default:
            atom = 1;
        }
        if (atom >= 0) {
            total[d] += atom;
            last[d] = atom;
        }
        if (total[d] > limit || last[d] > limit)
            return 1;
    }
    return 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_code(struct P *p, struct task_pred *pr, const yaml_node_t *n, const char *path)
{
    char sub[400];
    if (is_placeholder(n))
        return tp_fail(
            p, line_of(n), path,
            "placeholder '\?\?\?': the predicate's code is undefined (write it for the data "
            "this task runs on)");
    if (is_scalar(n)) {
        if (is_null(n) || slen(n) == 0)
            return tp_fail(p, line_of(n), path, "the code is empty");
        int rc = tp_want_string(p, n, path, "a code");
        if (rc)
            return rc;
        if (slen(n) > MF_MAX_CODE_LEN)
            return tp_fail(p, line_of(n), path, "the code is longer than %d bytes",
                           MF_MAX_CODE_LEN);
        pr->code_kind = CODE_LITERAL;
        pr->codes = calloc(1, sizeof *pr->codes);
        if (pr->codes == NULL || (pr->codes[0] = tp_dup(sval(n), slen(n))) == NULL)
            return tp_oom(p);
        pr->n_codes = 1;
        return 0;
    }
    static const char *const keys[] = {"regex", "any"};
    yaml_node_t *v[2];
    int rc = tp_map_get(p, n, path, keys, 2, v, "a code, {regex: ...} or {any: [...]}");
    if (rc)
        return rc;
    if ((v[0] != NULL) == (v[1] != NULL))
        return tp_fail(p, line_of(n), path, "give exactly one of regex and any");
    if (v[0]) {
        snprintf(sub, sizeof sub, "%s.regex", path);
        if (is_placeholder(v[0]))
            return tp_fail(p, line_of(v[0]), sub,
                           "placeholder '\?\?\?': the predicate is undefined");
        if ((rc = tp_want_string(p, v[0], sub, "a regular expression")) != 0)
            return rc;
        if (slen(v[0]) == 0 || is_null(v[0]))
            return tp_fail(p, line_of(v[0]), sub, "the regular expression is empty");
        if (slen(v[0]) > TASK_MAX_REGEX)
            return tp_fail(p, line_of(v[0]), sub, "the regular expression is longer than %d bytes",
                           TASK_MAX_REGEX);
        if (regex_too_complex(sval(v[0])))
            return tp_fail(
                p, line_of(v[0]), sub,
                "the regular expression's repetitions are nested too deeply or too large");
        int e = regcomp(&pr->re, sval(v[0]), REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
            char why[128];
            regerror(e, NULL, why, sizeof why);
            return tp_fail(p, line_of(v[0]), sub, "bad regular expression: %s", why);
        }
        pr->have_re = 1;
        pr->code_kind = CODE_REGEX;
        return 0;
    }
    snprintf(sub, sizeof sub, "%s.any", path);
    if (v[1]->type != YAML_SEQUENCE_NODE)
        return tp_fail(p, line_of(v[1]), sub, "expected a list of codes");
    size_t k = (size_t)(v[1]->data.sequence.items.top - v[1]->data.sequence.items.start);
    if (k == 0)
        return tp_fail(p, line_of(v[1]), sub, "the list is empty");
    if (k > TASK_MAX_ANY)
        return tp_fail(p, line_of(v[1]), sub, "more than %d codes", TASK_MAX_ANY);
    pr->code_kind = CODE_ANY;
    pr->codes = calloc(k, sizeof *pr->codes);
    if (pr->codes == NULL)
        return tp_oom(p);
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *c = node_at(p, v[1]->data.sequence.items.start[i]);
        char item[448];
        snprintf(item, sizeof item, "%s[%zu]", sub, i);
        if (is_placeholder(c))
            return tp_fail(p, line_of(c), item, "placeholder '\?\?\?': the predicate is undefined");
        if ((rc = tp_want_string(p, c, item, "a code")) != 0)
            return rc;
        if (slen(c) == 0 || is_null(c))
            return tp_fail(p, line_of(c), item, "the code is empty");
        if (slen(c) > MF_MAX_CODE_LEN)
            return tp_fail(p, line_of(c), item, "the code is longer than %d bytes",
                           MF_MAX_CODE_LEN);
        if ((pr->codes[i] = tp_dup(sval(c), slen(c))) == NULL)
            return tp_oom(p);
        pr->n_codes = i + 1;
    }
    qsort(pr->codes, pr->n_codes, sizeof *pr->codes, by_string); /* label.c searches it */
    return 0;
}

/* expr: and(a, b, ...) or or(a, b, ...). */
static int parse_expr(struct P *p, struct task_pred *pr, const yaml_node_t *n, const char *path)
{
    int rc = tp_want_string(p, n, path, "and(...) or or(...)");
    if (rc)
        return rc;
    const char *s = sval(n), *e = s + slen(n);
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    size_t open;
    if ((size_t)(e - s) > 4 && strncmp(s, "and(", 4) == 0) {
        pr->kind = PRED_AND;
        open = 4;
    } else if ((size_t)(e - s) > 3 && strncmp(s, "or(", 3) == 0) {
        pr->kind = PRED_OR;
        open = 3;
    } else {
        return tp_fail(p, line_of(n), path, "expected and(a, b, ...) or or(a, b, ...)");
    }
    if (e[-1] != ')')
        return tp_fail(p, line_of(n), path, "expected ')' at the end");
    s += open;
    e--;
    pr->arg_names = calloc(TASK_MAX_ARGS, sizeof *pr->arg_names);
    if (pr->arg_names == NULL)
        return tp_oom(p);
    for (;;) {
        const char *c = memchr(s, ',', (size_t)(e - s));
        const char *a = s, *b = c ? c : e;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        char buf[64];
        if (!tp_valid_name(a, (size_t)(b - a)))
            return tp_fail(p, line_of(n), path, "'%s' is not a predicate name%s",
                           tp_shown(a, (size_t)(b - a), buf),
                           memchr(a, '(', (size_t)(b - a)) ? " (and()/or() cannot be nested)" : "");
        if (pr->n_args == TASK_MAX_ARGS)
            return tp_fail(p, line_of(n), path, "more than %d arguments", TASK_MAX_ARGS);
        if ((pr->arg_names[pr->n_args] = tp_dup(a, (size_t)(b - a))) == NULL)
            return tp_oom(p);
        pr->n_args++;
        if (c == NULL)
            break;
        s = c + 1;
    }
    if (pr->n_args < 2)
        return tp_fail(p, line_of(n), path, "and()/or() needs at least two predicates");
    return 0;
}

struct task_pred *tp_new_pred(struct P *p)
{
    struct mf_task *t = p->t;
    if (t->n_preds == p->cap_preds) {
        size_t cap = p->cap_preds ? 2 * p->cap_preds : 16;
        struct task_pred *np = realloc(t->preds, cap * sizeof *np);
        if (np == NULL)
            return NULL;
        t->preds = np;
        p->cap_preds = cap;
    }
    struct task_pred *pr = &t->preds[t->n_preds++];
    memset(pr, 0, sizeof *pr);
    pr->bit = -1;
    return pr;
}

static int parse_preds(struct P *p, const yaml_node_t *m, int is_static)
{
    const char *sect = is_static ? "patient_demographics" : "predicates";
    int rc = tp_named_map(p, m, sect, "predicates");
    if (rc)
        return rc;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node_at(p, pr->key), *v = node_at(p, pr->value);
        char path[256];
        snprintf(path, sizeof path, "%s.%s", sect, sval(k));
        for (int i = 0; i < 3; i++)
            if (strcmp(sval(k), tp_special_names[i]) == 0)
                return tp_fail(p, line_of(k), path, "'%s' is a reserved name", tp_special_names[i]);
        int added = 0;
        struct mf_strmap_slot *slot = mf_strmap_upsert(&p->preds, sval(k), slen(k), &added);
        if (slot == NULL)
            return tp_oom(p);
        if (!added)
            return tp_fail(p, line_of(k), path, "predicate '%s' is defined twice", sval(k));
        if (p->t->n_preds >= TASK_MAX_PREDS)
            return tp_fail(p, line_of(k), path, "more than %d predicates", TASK_MAX_PREDS);
        slot->value = p->t->n_preds + 1;
        struct task_pred *d = tp_new_pred(p);
        if (d == NULL || (d->name = tp_dup(sval(k), slen(k))) == NULL)
            return tp_oom(p);
        d->line = line_of(k);
        d->is_static = is_static;
        if (is_placeholder(v))
            return tp_fail(
                p, line_of(v), path,
                "placeholder '\?\?\?': the predicate is undefined (write its code for the "
                "data this task runs on)");
        static const char *const keys[] = {
            "code", "expr", "value_min", "value_max", "value_min_inclusive", "value_max_inclusive"};
        yaml_node_t *f[6];
        rc = tp_map_get(p, v, path, keys, 6, f,
                        "code, expr, value_min, value_max, value_min_inclusive, "
                        "value_max_inclusive");
        if (rc)
            return rc;
        char sub[320];
        if (f[1] != NULL) {
            for (int i = 0; i < 6; i++)
                if (i != 1 && f[i] != NULL)
                    return tp_fail(p, line_of(f[i]), path,
                                   "a derived predicate (expr) cannot also have '%s'", keys[i]);
            if (is_static)
                return tp_fail(p, line_of(f[1]), path,
                               "patient_demographics predicates must be plain (code)");
            snprintf(sub, sizeof sub, "%s.expr", path);
            if ((rc = parse_expr(p, d, f[1], sub)) != 0)
                return rc;
            continue;
        }
        if (f[0] == NULL)
            return tp_fail(p, line_of(v), path, "a predicate needs code (plain) or expr (derived)");
        d->kind = PRED_PLAIN;
        snprintf(sub, sizeof sub, "%s.code", path);
        if ((rc = parse_code(p, d, f[0], sub)) != 0)
            return rc;
        snprintf(sub, sizeof sub, "%s.value_min", path);
        if ((rc = parse_number(p, f[2], sub, &d->has_min, &d->vmin)) != 0)
            return rc;
        snprintf(sub, sizeof sub, "%s.value_max", path);
        if ((rc = parse_number(p, f[3], sub, &d->has_max, &d->vmax)) != 0)
            return rc;
        snprintf(sub, sizeof sub, "%s.value_min_inclusive", path);
        if ((rc = tp_parse_bool(p, f[4], sub, 0, &d->min_incl)) != 0)
            return rc;
        snprintf(sub, sizeof sub, "%s.value_max_inclusive", path);
        if ((rc = tp_parse_bool(p, f[5], sub, 0, &d->max_incl)) != 0)
            return rc;
        if (d->has_min && d->has_max &&
            (d->vmin > d->vmax || (d->vmin == d->vmax && !(d->min_incl && d->max_incl))))
            return tp_fail(p, line_of(v), path,
                           "no value can satisfy value_min and value_max: the predicate can never "
                           "be true");
    }
    return 0;
}

static const char *base_name(const char *path, size_t *len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".yaml") == 0)
        n -= 5;
    else if (n > 4 && strcmp(b + n - 4, ".yml") == 0)
        n -= 4;
    *len = n;
    return b;
}

static int parse_doc(struct P *p)
{
    yaml_node_t *root = yaml_document_get_root_node(p->doc);
    if (root == NULL || is_null(root))
        return tp_fail(p, 0, "(file)", "the task is empty: no trigger");
    static const char *const keys[] = {"predicates", "patient_demographics", "trigger", "windows",
                                       "metadata",   "description"};
    yaml_node_t *f[6];
    int rc =
        tp_map_get(p, root, "(top level)", keys, 6, f,
                   "predicates, patient_demographics, trigger, windows, metadata, description");
    if (rc)
        return rc;
    if (f[0] != NULL && !is_null(f[0]) && (rc = parse_preds(p, f[0], 0)) != 0)
        return rc;
    if (f[1] != NULL && !is_null(f[1]) && (rc = parse_preds(p, f[1], 1)) != 0)
        return rc;
    if (f[2] == NULL || is_null(f[2]))
        return tp_fail(p, 0, "trigger",
                       "no trigger: the task must say which events start a sample");
    if ((rc = tp_want_string(p, f[2], "trigger", "a predicate name")) != 0)
        return rc;
    p->t->trigger_line = line_of(f[2]);
    char buf[64];
    if (!tp_valid_name(sval(f[2]), slen(f[2])))
        return tp_fail(p, line_of(f[2]), "trigger", "'%s' is not a predicate name",
                       tp_shown(sval(f[2]), slen(f[2]), buf));
    if (f[3] == NULL || is_null(f[3]))
        return tp_fail(p, 0, "windows",
                       "no windows: one window must give the prediction time (index_timestamp)");
    if ((rc = tp_parse_windows(p, f[3])) != 0)
        return rc;
    if ((rc = tp_resolve(p, sval(f[2]))) != 0)
        return rc;
    return task_compile(p->t, p->err);
}

int mf_task_parse(const char *text, size_t n, const char *name, struct mf_task **out,
                  struct mf_err *err)
{
    *out = NULL;
    if (name == NULL)
        name = "task";
    if (n > TASK_MAX_TEXT)
        return mf_err_set(err, MF_ETOOBIG, "%s: the task file is larger than %u bytes", name,
                          TASK_MAX_TEXT);
    struct mf_task *t = calloc(1, sizeof *t);
    if (t == NULL)
        return mf_err_set(err, MF_ENOMEM, "%s: out of memory", name);
    size_t bl;
    const char *b = base_name(name, &bl);
    t->name = tp_dup(b, bl);
    t->errname = tp_dup(name, strlen(name));
    t->trigger = -1;
    t->label_win = -1;
    struct P p = {0};
    p.name = name;
    p.err = err;
    p.t = t;
    mf_strmap_init(&p.preds);
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_doc = 0, rc = 0;
    if (t->name == NULL || t->errname == NULL) {
        rc = tp_oom(&p);
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = tp_oom(&p);
        goto out;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    if (!yaml_parser_load(&parser, &doc)) {
        if (parser.error == YAML_MEMORY_ERROR)
            rc = tp_oom(&p);
        else
            rc = mf_err_set(err, MF_EPARSE, "%s:%zu:%zu: malformed YAML: %s%s%s", name,
                            parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "syntax error",
                            parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        goto out;
    }
    have_doc = 1;
    /* a second document is an error (a task is one document) */
    yaml_document_t doc2;
    if (yaml_document_get_root_node(&doc) != NULL) {
        if (!yaml_parser_load(&parser, &doc2)) {
            rc = mf_err_set(err, MF_EPARSE, "%s:%zu:%zu: malformed YAML: %s", name,
                            parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "syntax error");
        } else {
            if (yaml_document_get_root_node(&doc2) != NULL)
                rc = mf_err_set(err, MF_EPARSE, "%s:%zu: more than one YAML document", name,
                                doc2.start_mark.line + 1);
            yaml_document_delete(&doc2);
        }
    }
    yaml_parser_delete(&parser);
    if (rc)
        goto out;
    p.doc = &doc;
    rc = parse_doc(&p);
out:
    if (have_doc)
        yaml_document_delete(&doc);
    mf_strmap_free(&p.preds);
    if (rc) {
        mf_task_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int mf_task_load(const char *path, struct mf_task **out, struct mf_err *err)
{
    *out = NULL;
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, TASK_MAX_TEXT, &b, err);
    if (rc == 0)
        rc = mf_task_parse(b.data ? b.data : "", b.len, path, out, err);
    mf_buf_release(&b);
    return rc;
}

void mf_task_free(struct mf_task *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_preds; i++) {
        struct task_pred *pr = &t->preds[i];
        free(pr->name);
        for (size_t k = 0; k < pr->n_codes; k++)
            free(pr->codes[k]);
        free(pr->codes);
        if (pr->have_re)
            regfree(&pr->re);
        free(pr->args);
        if (pr->arg_names)
            for (size_t k = 0; k < pr->n_args; k++)
                free(pr->arg_names[k]);
        free(pr->arg_names);
    }
    free(t->preds);
    for (size_t w = 0; w < t->n_win; w++) {
        struct task_window *win = &t->win[w];
        free(win->name);
        for (int s = 0; s < 2; s++) {
            free(win->b[s].ref_window);
            free(win->b[s].pred_name);
        }
        for (size_t k = 0; k < win->n_has; k++)
            free(win->has[k].pred_name);
        free(win->has);
        free(win->label_name);
    }
    free(t->win);
    free(t->order);
    free(t->eval);
    free(t->name);
    free(t->errname);
    free(t);
}
