/* parse_int.h - what parse.c and windows.c share while reading a task file (private to
 * src/tasks/): the parser's state, the YAML node helpers and the error helper. */
#ifndef MF_TASKS_PARSE_INT_H
#define MF_TASKS_PARSE_INT_H

#include <stddef.h>
#include <string.h>

#include <yaml.h>

#include "core/err.h"
#include "core/strmap.h"
#include "tasks/task_int.h"

struct P {
    yaml_document_t *doc;
    const char *name; /* the file, for errors */
    struct mf_err *err;
    struct mf_task *t;
    struct mf_strmap preds; /* predicate name -> index + 1 */
    size_t cap_preds;
};

/* _ANY_EVENT, _RECORD_START, _RECORD_END: the last three predicates of a task. */
extern const char *const tp_special_names[3];

static inline yaml_node_t *node_at(struct P *p, int i)
{
    return yaml_document_get_node(p->doc, i);
}

static inline int line_of(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static inline int is_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE;
}

static inline const char *sval(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static inline size_t slen(const yaml_node_t *n)
{
    return n->data.scalar.length;
}

/* A plain scalar that YAML reads as null (also None, as ACES users write it). */
static inline int is_null(const yaml_node_t *n)
{
    if (n == NULL)
        return 1;
    if (!is_scalar(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = sval(n);
    return slen(n) == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0 || strcmp(s, "None") == 0;
}

/* Set the error "FILE:LINE: PATH: message" (no line when line is 0); returns MF_EPARSE. */
int tp_fail(struct P *p, int line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int tp_oom(struct P *p);
/* A string from the file for a message: printable ASCII only, at most 48 bytes shown. */
const char *tp_shown(const char *s, size_t n, char out[64]);
/* Predicate and window names: letters, digits and '_' (as ACES), at most TASK_MAX_NAME. */
int tp_valid_name(const char *s, size_t n);
/* A copy of s[0..n) with a NUL (malloc'd), or NULL. */
char *tp_dup(const char *s, size_t n);
/* n must be a string scalar without NUL bytes. */
int tp_want_string(struct P *p, const yaml_node_t *n, const char *path, const char *what);
/* The values of mapping m's keys: vals[i] for allowed[i], NULL when absent; unknown keys and
 * keys given twice are errors. */
int tp_map_get(struct P *p, const yaml_node_t *m, const char *path, const char *const *allowed,
               size_t n_allowed, yaml_node_t **vals, const char *what);
/* A mapping of user-named entries (valid names, each once, at most TASK_MAX_KEYS). */
int tp_named_map(struct P *p, const yaml_node_t *m, const char *path, const char *what);
/* true/True/TRUE/false/False/FALSE; null or absent gives def. */
int tp_parse_bool(struct P *p, const yaml_node_t *n, const char *path, int def, int *out);
/* A new zeroed predicate at the end of p->t->preds (NULL when out of memory). */
struct task_pred *tp_new_pred(struct P *p);

/* windows.c */
int tp_parse_windows(struct P *p, const yaml_node_t *m);
/* Resolve every name (the special predicates are appended first), mark the predicates in use
 * and give the plain ones their bits. */
int tp_resolve(struct P *p, const char *trigger_name);

#endif
