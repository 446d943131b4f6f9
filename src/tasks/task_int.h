/* task_int.h - the inside of a parsed task (private to src/tasks/).
 *
 * A task is a list of predicates and a list of windows.  Predicates are referred to by index:
 * plain ones (code tests) carry a bit of the event masks when the task uses them; derived
 * ones (and/or) list their arguments; three special entries stand for _ANY_EVENT,
 * _RECORD_START and _RECORD_END.  Window bounds are "nodes": node 0 is the trigger, node
 * 1 + 2w is window w's start and 2 + 2w its end; each bound refers to another node.
 * parse.c and windows.c build it from the YAML, compile.c checks the window graph, label.c
 * evaluates it for one patient, store.c runs it over a store.
 */
#ifndef MF_TASKS_TASK_INT_H
#define MF_TASKS_TASK_INT_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "tasks/task.h"

/* Hard limits on a task file (bad input beyond them). */
#define TASK_MAX_TEXT    (1u << 20) /* bytes of YAML */
#define TASK_MAX_PREDS   1024       /* predicates defined, of every kind */
#define TASK_MAX_WINDOWS 64
#define TASK_MAX_ARGS    64      /* arguments of one and()/or() */
#define TASK_MAX_ANY     65536   /* codes in one `any` list */
#define TASK_MAX_KEYS    1024    /* entries of any other YAML mapping */
#define TASK_MAX_REGEX   1024    /* bytes of one regular expression */
#define TASK_MAX_NAME    128     /* bytes of a predicate or window name */
#define TASK_MAX_DAYS    3660000 /* ~10 000 years: a larger offset is an error */

enum pred_kind {
    PRED_PLAIN,
    PRED_AND,
    PRED_OR,
    PRED_ANY_EVENT,    /* 1 at every timestamp (as ACES) */
    PRED_RECORD_START, /* 1 at the first timestamp */
    PRED_RECORD_END    /* 1 at the last timestamp */
};

enum code_kind { CODE_LITERAL, CODE_ANY, CODE_REGEX };

struct task_pred {
    char *name;
    enum pred_kind kind;
    int line;      /* of its definition (0 for the special ones) */
    int is_static; /* from patient_demographics */
    int used;      /* reachable from the trigger or a window */
    int bit;       /* plain and used: its bit in the masks; else -1 */
    /* plain */
    enum code_kind code_kind;
    char **codes; /* CODE_LITERAL: 1, CODE_ANY: n_codes */
    size_t n_codes;
    regex_t re; /* CODE_REGEX */
    int have_re;
    int has_min, has_max, min_incl, max_incl;
    double vmin, vmax;
    /* derived */
    int *args;
    size_t n_args;
    char **arg_names; /* until resolved */
};

enum bound_kind {
    BOUND_NONE, /* unbounded: before the first event (start) or after the last (end) */
    BOUND_AT,   /* node ref + off */
    BOUND_NEXT, /* the first timestamp after node ref where pred's count > 0 */
    BOUND_PREV  /* the last timestamp before node ref where pred's count > 0 */
};

struct task_bound {
    enum bound_kind kind;
    int ref; /* node */
    int64_t off;
    int pred;
    int line;
    char *ref_window; /* the window named, until resolved */
    int ref_side;     /* 0 start, 1 end, -1 trigger */
    int ref_self;     /* refers to the same window's other bound */
    char *pred_name;
};

struct task_has {
    int pred;
    int64_t min, max; /* -1: open */
    int line;
    char *pred_name;
};

struct task_window {
    char *name;
    int line;
    struct task_bound b[2]; /* [0] start, [1] end */
    int incl[2];
    struct task_has *has;
    size_t n_has;
    int label; /* predicate, or -1 */
    int label_line;
    char *label_name;
    int index; /* -1, 0 (start), 1 (end) */
    int index_line;
};

struct mf_task {
    char *name;    /* file name without folder and extension */
    char *errname; /* the name errors use */
    struct task_pred *preds;
    size_t n_preds; /* the last three are the special ones */
    int trigger;    /* predicate */
    int trigger_line;
    struct task_window *win;
    size_t n_win;
    int *order; /* window nodes (not the trigger) in evaluation order */
    size_t n_order;
    int *eval; /* used predicates, arguments before the derived ones using them */
    size_t n_eval;
    int label_win;  /* -1 without a label */
    int index_node; /* the node giving the prediction time */
    size_t n_plain;
    int plain[MF_TASK_MAX_PLAIN]; /* bit -> predicate */
    uint64_t static_mask;         /* bits of patient_demographics predicates */
    int64_t horizon;
};

static inline int task_node(int w, int side)
{
    return 1 + 2 * w + side;
}

/* Evaluate a plain predicate's code test on one code. */
int task_code_matches(const struct task_pred *p, const char *code, size_t n);
/* Fill t->order, t->eval, t->horizon and check the window graph (parse.c's last step). */
int task_compile(struct mf_task *t, struct mf_err *err);

#endif
