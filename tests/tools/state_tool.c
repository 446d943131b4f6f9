/* state_tool.c - test tool: write to the server's state through the library (src/serve/state.c)
 * as the server would, for tests/integration/keys_audit.sh and state_postgres.sh.
 *
 *     state_tool append DB N [TAG]     append N audit rows (request ids TAG-1 ... TAG-N)
 *     state_tool pseudonym DB REF      print the keyed pseudonym of REF
 *     state_tool feedback DB CARD KEY  record feedback; prints "created" or "exists"
 *
 * DB is a SQLite file or a postgresql:// URL.  Exit 0, 1 on a failure, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "serve/state.h"

static int usage(void)
{
    fprintf(stderr, "usage: state_tool append DB N [TAG] | pseudonym DB REF | "
                    "feedback DB CARD KEY\n");
    return 2;
}

static int append(struct mf_state *st, long n, const char *tag)
{
    static const int statuses[] = {200, 200, 200, 400, 401, 429, 503, 200};
    static const char *const outcomes[] = {
        "ok", "ok", "ok", "bad-request", "unauthorized", "rate-limited", "unavailable", "ok"};
    static const char *const routes[] = {"POST /v1/predict", "POST /v1/simulate",
                                         "POST /cds-services/medfm-risk",
                                         "POST /cds-services/medfm-risk/feedback", "GET /v1/model"};
    for (long i = 1; i <= n; i++) {
        struct mf_audit_row row;
        memset(&row, 0, sizeof row);
        struct mf_err err = {0};
        row.time = INT64_C(1767225600000000) + i * 1000003;
        snprintf(row.request_id, sizeof row.request_id, "%.16s-%ld%s", tag, i,
                 i % 47 == 0 ? "\t\xff\\" : ""); /* now and then bytes that need care */
        snprintf(row.key_id, sizeof row.key_id, "%s", i % 5 == 0 ? "-" : "0123456789ab");
        snprintf(row.route, sizeof row.route, "%s", routes[i % 5]);
        if (i % 3 != 0) {
            char ref[64];
            int k = snprintf(ref, sizeof ref, "Patient/%ld", i % 17);
            mf_state_pseudonym(st, ref, (size_t)k, row.patient);
        }
        char body[64];
        int k = snprintf(body, sizeof body, "{\"body\":%ld}", i);
        mf_sha256_hex(body, (size_t)k, row.input_sha256);
        snprintf(row.model, sizeof row.model, "medfm/test 0.1.0+abcdef012345");
        row.status = statuses[i % 8];
        snprintf(row.outcome, sizeof row.outcome, "%s", outcomes[i % 8]);
        row.latency_us = 1000 + i * 7;
        if (mf_state_audit_append(st, &row, &err) != 0) {
            fprintf(stderr, "state_tool: %s\n", err.msg);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    const char *cmd = argv[1], *db = argv[2];
    struct mf_state *st = NULL;
    struct mf_err err = {0};
    int rc = 0;
    if (strcmp(cmd, "append") == 0) {
        char *end;
        errno = 0;
        long n = strtol(argv[3], &end, 10);
        if (errno || end == argv[3] || *end || n < 0 || argc > 5)
            return usage();
        if (mf_state_open(db, &st, &err) != 0) {
            fprintf(stderr, "state_tool: %s\n", err.msg);
            return 1;
        }
        rc = append(st, n, argc > 4 ? argv[4] : "req");
    } else if (strcmp(cmd, "pseudonym") == 0 && argc == 4) {
        if (mf_state_open(db, &st, &err) != 0) {
            fprintf(stderr, "state_tool: %s\n", err.msg);
            return 1;
        }
        char p[65];
        mf_state_pseudonym(st, argv[3], strlen(argv[3]), p);
        printf("%s\n", p);
    } else if (strcmp(cmd, "feedback") == 0 && argc == 5) {
        if (mf_state_open(db, &st, &err) != 0) {
            fprintf(stderr, "state_tool: %s\n", err.msg);
            return 1;
        }
        int created = 0;
        if (mf_state_feedback(st, argv[3], argv[4], "medfm-risk", "accepted",
                              "{\"outcome\":\"accepted\"}", &created, &err) != 0) {
            fprintf(stderr, "state_tool: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%s\n", created ? "created" : "exists");
        }
    } else {
        return usage();
    }
    mf_state_close(st);
    return rc;
}
