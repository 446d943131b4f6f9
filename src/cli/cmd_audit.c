/* cmd_audit.c - `medfm audit`: the server's audit log (verify its hash chain, export it as FHIR
 * AuditEvents).  docs/serve-state.md */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/state_cli.h"
#include "core/buf.h"
#include "core/fs.h"
#include "serve/state.h"

static int audit_verify(int argc, char **argv)
{
    const char *db = NULL;
    const struct opt opts[] = {
        {"db", OPT_STRING, &db, "STATE", STATE_DB_HELP},
    };
    const struct cmd_help help = {
        "medfm audit verify [--db STATE]",
        "Recompute the audit log's hash chain.  Prints \"intact, N rows\" and exits 0 when every\n"
        "row links to the one before it, matches its own hash and the log ends where it was\n"
        "last written; otherwise names the first bad row and exits 1.  A log rewritten as a\n"
        "whole (every hash recomputed) is caught only by comparing the last hash with a copy\n"
        "kept elsewhere (`medfm audit export` prints it).",
        opts, sizeof opts / sizeof opts[0], NULL};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos) {
        fprintf(stderr, "medfm: audit verify takes no arguments\nusage: %s\n", help.usage);
        return 2;
    }
    struct mf_state *st = state_cli_open(db, 0);
    if (st == NULL)
        return 1;
    struct mf_err err = {0};
    struct mf_audit_check chk;
    int rc = mf_state_audit_verify(st, &chk, &err);
    mf_state_close(st);
    if (rc != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    if (chk.first_bad) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        printf("broken at row %" PRId64 "\n", chk.first_bad);
        return 1;
    }
    printf("intact, %" PRId64 " rows\n", chk.rows);
    return 0;
}

struct export_ctx {
    struct mf_buf out;
    int64_t n;
    char last[65];
    int rc;
};

static int export_row(void *vctx, const struct mf_audit_row *row)
{
    struct export_ctx *x = vctx;
    if ((x->rc = mf_audit_row_fhir(row, &x->out)) != 0 || (x->rc = mf_buf_putc(&x->out, '\n')) != 0)
        return 1;
    x->n++;
    memcpy(x->last, row->hash, sizeof x->last);
    return 0;
}

static int audit_export(int argc, char **argv)
{
    const char *db = NULL, *format = NULL, *out = NULL;
    const struct opt opts[] = {
        {"db", OPT_STRING, &db, "STATE", STATE_DB_HELP},
        {"format", OPT_STRING, &format, "F", "fhir-auditevent (the only one, and the default)"},
        {"out", OPT_STRING, &out, "FILE.ndjson", "where to write (replaced atomically)"},
    };
    const struct cmd_help help = {
        "medfm audit export [--db STATE] [--format fhir-auditevent] --out FILE.ndjson",
        "Write the audit log as FHIR R4 AuditEvent resources, one a line (NDJSON), oldest\n"
        "first.  Each carries the row's fields and its place in the hash chain (seq, prev_hash,\n"
        "hash), so the export can be checked without the database (docs/serve-state.md).  The\n"
        "patient appears only as its keyed pseudonym.  The last row's hash is printed: kept\n"
        "elsewhere, it shows later whether the log was rewritten.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm audit export --db state.sqlite --format fhir-auditevent --out "
        "audit.ndjson"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos || !out) {
        fprintf(stderr, "medfm: audit export needs --out FILE\nusage: %s\n", help.usage);
        return 2;
    }
    if (format && strcmp(format, "fhir-auditevent") != 0) {
        fprintf(stderr, "medfm: unknown --format '%s' (known: fhir-auditevent)\n", format);
        return 2;
    }
    struct mf_state *st = state_cli_open(db, 0);
    if (st == NULL)
        return 1;
    struct mf_err err = {0};
    struct export_ctx x;
    memset(&x, 0, sizeof x);
    snprintf(x.last, sizeof x.last, "-");
    int rc = mf_state_audit_each(st, export_row, &x, &err);
    mf_state_close(st);
    if (rc < 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        mf_buf_release(&x.out);
        return 1;
    }
    if (x.rc) {
        fprintf(stderr, "medfm: out of memory exporting the audit log\n");
        mf_buf_release(&x.out);
        return 1;
    }
    rc = mf_fs_write_file_atomic(out, x.out.data ? x.out.data : "", x.out.len, &err);
    mf_buf_release(&x.out);
    if (rc != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "medfm: wrote %" PRId64 " AuditEvents to '%s'; the last row's hash is %s\n",
            x.n, out, x.last);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    static const char usage[] = "usage: medfm audit <command> [options]\n\n"
                                "The server's audit log (docs/serve-state.md).\n\ncommands:\n"
                                "  verify     check the log's hash chain\n"
                                "  export     write the log as FHIR AuditEvents (NDJSON)\n\n"
                                "'medfm audit <command> --help' explains a command.\n";
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"verify", audit_verify}, {"export", audit_export}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "medfm: unknown audit command '%s'\n", argv[1]);
    fputs(usage, stderr);
    return 2;
}
