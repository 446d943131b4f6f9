/* opts.c - option parsing and generated help (see opts.h). */
#include "cli/opts.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/timeutil.h"

void opts_usage(const struct cmd_help *h)
{
    printf("usage: %s\n\n%s\n", h->usage, h->summary);
    if (h->n_opts)
        printf("\noptions:\n");
    for (size_t i = 0; i < h->n_opts; i++) {
        const struct opt *o = &h->opts[i];
        char left[64];
        if (o->type == OPT_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->argname ? o->argname : "X");
        printf("  %-24s %s\n", left, o->help);
    }
    printf("  %-24s %s\n", "-h, --help", "show this help");
    if (h->epilog)
        printf("\n%s\n", h->epilog);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1ULL << 10;
    else if (*end == 'M' || *end == 'm')
        mul = 1ULL << 20;
    else if (*end == 'G' || *end == 'g')
        mul = 1ULL << 30;
    else if (*end != '\0')
        return -1;
    if (*end && end[1] != '\0')
        return -1;
    if (v > (unsigned long long)SIZE_MAX / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

int opts_parse(int argc, char **argv, const struct cmd_help *h, const char **pos, int *npos)
{
    *npos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            opts_usage(h);
            return 1;
        }
        if (a[1] != '-') {
            fprintf(stderr, "medfm: unknown option '%s'\n", a);
            goto usage;
        }
        const char *name = a + 2, *val = NULL;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = NULL;
        for (size_t k = 0; k < h->n_opts; k++)
            if (strlen(h->opts[k].name) == nlen && strncmp(h->opts[k].name, name, nlen) == 0)
                o = &h->opts[k];
        if (o == NULL) {
            fprintf(stderr, "medfm: unknown option '--%.*s'\n", (int)nlen, name);
            goto usage;
        }
        if (o->type == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "medfm: option '--%s' takes no value\n", o->name);
                goto usage;
            }
            *(int *)o->dest = 1;
            continue;
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "medfm: option '--%s' needs a value\n", o->name);
            goto usage;
        }
        if (o->type == OPT_STRING) {
            *(const char **)o->dest = val;
        } else if (o->type == OPT_LIST) {
            struct opt_list *l = o->dest;
            if (l->n == OPT_LIST_MAX) {
                fprintf(stderr, "medfm: option '--%s' given more than %d times\n", o->name,
                        OPT_LIST_MAX);
                goto usage;
            }
            l->v[l->n++] = val;
        } else if (o->type == OPT_INT) {
            char *end;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || end == val || *end || v < INT_MIN || v > INT_MAX) {
                fprintf(stderr, "medfm: option '--%s' needs an integer\n", o->name);
                goto usage;
            }
            *(int *)o->dest = (int)v;
        } else if (parse_size(val, (size_t *)o->dest) != 0) {
            fprintf(stderr, "medfm: option '--%s' needs a size like 512M\n", o->name);
            goto usage;
        }
    }
    return 0;
usage:
    fprintf(stderr, "usage: %s\n(see '%s --help')\n", h->usage, argv[0]);
    return 2;
}

int opts_reference_date(const char *s, int64_t *out)
{
    if (s == NULL) {
        int64_t now = (int64_t)time(NULL);
        *out = (now - now % 86400) * MF_USEC_PER_SEC;
        return 0;
    }
    if (strlen(s) == 10 && mf_time_parse(s, 10, out) == 0)
        return 0;
    fprintf(stderr, "medfm: --reference-date takes a date as YYYY-MM-DD\n");
    return -1;
}
