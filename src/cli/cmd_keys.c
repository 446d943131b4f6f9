/* cmd_keys.c - `medfm keys`: the server's API keys (create, list, revoke).  docs/serve-state.md */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/state_cli.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "serve/state.h"

/* A time in whole seconds, ISO 8601 UTC. */
static void fmt_time(int64_t us, char out[32])
{
    mf_time_format(us - us % MF_USEC_PER_SEC, out);
}

static int keys_create(int argc, char **argv)
{
    const char *db = NULL, *name = NULL, *scopes_s = NULL;
    int rate = 0;
    const struct opt opts[] = {
        {"db", OPT_STRING, &db, "STATE", STATE_DB_HELP},
        {"name", OPT_STRING, &name, "NAME", "who the key is for (shown in lists; no secrets)"},
        {"scopes", OPT_STRING, &scopes_s, "LIST",
         "comma-separated: predict, simulate, feedback, admin"},
        {"rate", OPT_INT, &rate, "N", "requests per minute (default 0: the server's --rate)"},
    };
    const struct cmd_help help = {
        "medfm keys create [--db STATE] --name NAME --scopes LIST [--rate N]",
        "Make an API key for `medfm serve`.  The key is printed once, alone on the last line of\n"
        "standard output; the database keeps only its SHA-256, so a lost key cannot be shown\n"
        "again (revoke it and make another).  Callers send it as `Authorization: Bearer KEY`.\n"
        "Scopes: predict (risks, embeddings), simulate (futures), feedback (card outcomes),\n"
        "admin (everything).  A new SQLite database is made (mode 0600) when absent.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm keys create --db state.sqlite --name ehr --scopes predict,feedback "
        "--rate 120"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos || !name || !scopes_s) {
        fprintf(stderr, "medfm: keys create needs --name and --scopes\nusage: %s\n", help.usage);
        return 2;
    }
    struct mf_err err = {0};
    unsigned scopes = 0;
    if (mf_scopes_parse(scopes_s, &scopes, &err) != 0) {
        fprintf(stderr, "medfm: --scopes: %s\n", err.msg);
        return 2;
    }
    if (rate < 0) {
        fprintf(stderr, "medfm: --rate must be 0 or more\n");
        return 2;
    }
    int ctl = 0;
    for (const char *c = name; *c; c++)
        ctl |= (unsigned char)*c < 0x20 || *c == 0x7f;
    if (name[0] == '\0' || strlen(name) > 127 || ctl) {
        fprintf(stderr, "medfm: --name must have 1 to 127 bytes and no control characters\n");
        return 2;
    }
    struct mf_state *st = state_cli_open(db, 1);
    if (st == NULL)
        return 1;
    char key[MF_KEY_MAX_LEN + 1];
    struct mf_key_info ki;
    int rc = mf_state_key_create(st, name, scopes, rate, key, &ki, &err);
    mf_state_close(st);
    if (rc != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return rc == MF_EINVAL ? 2 : 1;
    }
    char sc[64];
    mf_scopes_format(ki.scopes, sc, sizeof sc);
    fprintf(stderr, "medfm: created key %s for '%s' (scopes %s, ", ki.id, ki.name, sc);
    if (ki.rate_per_min)
        fprintf(stderr, "%d requests per minute)\n", ki.rate_per_min);
    else
        fprintf(stderr, "the server's rate limit)\n");
    fprintf(stderr, "medfm: the key follows; it is shown only now (the database keeps its hash)\n");
    printf("%s\n", key);
    explicit_bzero(key, sizeof key);
    return fflush(stdout) == 0 ? 0 : 1;
}

static void list_json(const struct mf_key_info *k, size_t n, struct mf_buf *b)
{
    static const char *const names[] = {"predict", "simulate", "feedback", "admin"};
    mf_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        char t[32];
        mf_buf_puts(b, i ? ",\n {\"id\":" : "\n {\"id\":");
        mf_buf_json_string(b, k[i].id, strlen(k[i].id));
        mf_buf_puts(b, ",\"name\":");
        mf_buf_json_string(b, k[i].name, strlen(k[i].name));
        mf_buf_puts(b, ",\"scopes\":[");
        int first = 1;
        for (unsigned j = 0; j < 4; j++) {
            if (!(k[i].scopes & (1u << j)))
                continue;
            mf_buf_printf(b, "%s\"%s\"", first ? "" : ",", names[j]);
            first = 0;
        }
        fmt_time(k[i].created, t);
        mf_buf_printf(b, "],\"rate_per_min\":%d,\"created\":\"%s\",\"revoked\":", k[i].rate_per_min,
                      t);
        if (k[i].revoked) {
            fmt_time(k[i].revoked, t);
            mf_buf_printf(b, "\"%s\"}", t);
        } else {
            mf_buf_puts(b, "null}");
        }
    }
    mf_buf_puts(b, n ? "\n]\n" : "]\n");
}

static int keys_list(int argc, char **argv)
{
    const char *db = NULL;
    int json = 0;
    const struct opt opts[] = {
        {"db", OPT_STRING, &db, "STATE", STATE_DB_HELP},
        {"json", OPT_FLAG, &json, NULL, "print a JSON array instead of a table"},
    };
    const struct cmd_help help = {
        "medfm keys list [--db STATE] [--json]",
        "List the API keys, oldest first: id, name, scopes, rate limit (0: the server's),\n"
        "creation and revocation times (UTC).  Keys themselves and their hashes are never\n"
        "shown.",
        opts, sizeof opts / sizeof opts[0], NULL};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos) {
        fprintf(stderr, "medfm: keys list takes no arguments\nusage: %s\n", help.usage);
        return 2;
    }
    struct mf_state *st = state_cli_open(db, 0);
    if (st == NULL)
        return 1;
    struct mf_err err = {0};
    struct mf_key_info *k = NULL;
    size_t n = 0;
    int rc = mf_state_key_list(st, &k, &n, &err);
    mf_state_close(st);
    if (rc != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    if (json) {
        struct mf_buf b = MF_BUF_INIT;
        list_json(k, n, &b);
        if (b.data)
            fputs(b.data, stdout);
        mf_buf_release(&b);
    } else {
        size_t w = 4;
        for (size_t i = 0; i < n; i++)
            w = strlen(k[i].name) > w ? strlen(k[i].name) : w;
        printf("%-12s  %-*s  %-30s  %6s  %-20s  %s\n", "ID", (int)w, "NAME", "SCOPES", "RATE",
               "CREATED", "REVOKED");
        for (size_t i = 0; i < n; i++) {
            char sc[64], c[32], rv[32];
            mf_scopes_format(k[i].scopes, sc, sizeof sc);
            fmt_time(k[i].created, c);
            if (k[i].revoked)
                fmt_time(k[i].revoked, rv);
            else
                snprintf(rv, sizeof rv, "-");
            printf("%-12s  %-*s  %-30s  %6d  %-20s  %s\n", k[i].id, (int)w, k[i].name, sc,
                   k[i].rate_per_min, c, rv);
        }
    }
    free(k);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int keys_revoke(int argc, char **argv)
{
    const char *db = NULL;
    const struct opt opts[] = {
        {"db", OPT_STRING, &db, "STATE", STATE_DB_HELP},
    };
    const struct cmd_help help = {
        "medfm keys revoke ID [--db STATE]",
        "Revoke the API key with this id (the 12 hex digits after \"mfk_\", as `medfm keys\n"
        "list` shows): from now on it is refused (401) by every server sharing the database.\n"
        "Its row stays, so the audit log's key ids keep their meaning.  Revoking a revoked key\n"
        "is not an error; an unknown id is (exit 1).",
        opts, sizeof opts / sizeof opts[0], NULL};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 1) {
        fprintf(stderr, "medfm: keys revoke needs one key id\nusage: %s\n", help.usage);
        return 2;
    }
    struct mf_state *st = state_cli_open(db, 0);
    if (st == NULL)
        return 1;
    struct mf_err err = {0};
    int rc = mf_state_key_revoke(st, pos[0], &err);
    mf_state_close(st);
    if (rc != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "medfm: key %s is revoked\n", pos[0]);
    return 0;
}

int cmd_keys(int argc, char **argv)
{
    static const char usage[] = "usage: medfm keys <command> [options]\n\n"
                                "The server's API keys (docs/serve-state.md).\n\ncommands:\n"
                                "  create     make a key (printed once; the database keeps its "
                                "hash)\n"
                                "  list       list the keys (never the keys themselves)\n"
                                "  revoke     revoke a key by its id\n\n"
                                "'medfm keys <command> --help' explains a command.\n";
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
    } cmds[] = {{"create", keys_create}, {"list", keys_list}, {"revoke", keys_revoke}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "medfm: unknown keys command '%s'\n", argv[1]);
    fputs(usage, stderr);
    return 2;
}
