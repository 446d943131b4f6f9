/* opts.h - command-line options declared as data beside their help text, so `--help` is
 * generated from the same table the parser reads (git's parse-options habit). */
#ifndef MF_CLI_OPTS_H
#define MF_CLI_OPTS_H

#include <stddef.h>
#include <stdint.h>

enum opt_type { OPT_FLAG, OPT_STRING, OPT_INT, OPT_SIZE, OPT_LIST };

/* The values of an option given several times (OPT_LIST), in order. */
#define OPT_LIST_MAX 32
struct opt_list {
    const char *v[OPT_LIST_MAX];
    int n;
};

struct opt {
    const char *name; /* long name without "--" */
    enum opt_type type;
    void *dest; /* int * for FLAG and INT, const char ** for STRING, size_t * for SIZE, struct
                  opt_list * for LIST */
    const char *argname; /* shown in help, e.g. "DIR" */
    const char *help;
};

struct cmd_help {
    const char *usage;   /* "medfm ingest --format F --out STORE PATH..." */
    const char *summary; /* one paragraph */
    const struct opt *opts;
    size_t n_opts;
    const char *epilog; /* examples, or NULL */
};

/* Parse argv[1..] (argv[0] is the verb).  Positional arguments are collected into pos (which
 * must hold argc entries).  Returns 0, 1 when --help was asked (help printed), or 2 after
 * printing an error (usage error, exit code 2). */
int opts_parse(int argc, char **argv, const struct cmd_help *h, const char **pos, int *npos);
void opts_usage(const struct cmd_help *h);

/* A --reference-date value: "YYYY-MM-DD" as microseconds at midnight UTC, or today's date when
 * s is NULL.  0, or -1 (with a message on stderr naming the option) when s is no such date. */
int opts_reference_date(const char *s, int64_t *out);

#endif
