/* state_pg.c - the state on PostgreSQL (libpq), for several servers sharing one database.
 *
 * One connection per state, guarded by a mutex (re-established when it breaks).  Every value
 * travels as a parameter of PQexecParams; SQL text is never built from values.  Audit appends
 * take a transaction-scoped advisory lock, so that servers on different hosts append one at a
 * time and the chain stays one line.  Messages name the database by host, port and name, never
 * by the URL (which may carry a password).  See docs/serve-state.md. */
#include "serve/state_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* Advisory lock keys ("medfm" and a number). */
#define LOCK_SCHEMA "7306916006047252481" /* 0x6564666d00000001 */
#define LOCK_AUDIT  "7306916006047252482"

#define FETCH_ROWS "1000"
#define FETCH_N    1000

static const char SCHEMA[] =
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE api_keys ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes INTEGER NOT NULL,"
    " rate_per_min INTEGER NOT NULL, created BIGINT NOT NULL, revoked BIGINT NOT NULL DEFAULT 0,"
    " secret_sha256 TEXT NOT NULL);"
    "CREATE TABLE audit ("
    " seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, request_id TEXT NOT NULL,"
    " key_id TEXT NOT NULL, route TEXT NOT NULL, patient TEXT NOT NULL,"
    " input_sha256 TEXT NOT NULL, model TEXT NOT NULL, status INTEGER NOT NULL,"
    " outcome TEXT NOT NULL, latency_us BIGINT NOT NULL, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    "CREATE FUNCTION medfm_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;"
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION medfm_audit_append_only();"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION medfm_audit_append_only();"
    "CREATE TABLE feedback ("
    " id BIGSERIAL PRIMARY KEY, card_uuid TEXT NOT NULL, key_id TEXT NOT NULL,"
    " service TEXT NOT NULL, outcome TEXT NOT NULL, body TEXT NOT NULL, created BIGINT NOT NULL,"
    " UNIQUE (card_uuid, key_id));";

struct pg {
    PGconn *conn;
    pthread_mutex_t mu;
    char where[256];  /* "database 'x' on host:port", for messages */
    char *secrets[2]; /* the password as given in the URL and as decoded: scrubbed from
                         messages */
};

static struct pg *PG(struct mf_state *st)
{
    return st->impl;
}

/* Copy a libpq message into out without the password and without line breaks. */
static void scrub(const struct pg *p, const char *msg, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    for (const char *c = msg ? msg : ""; *c && o + 1 < cap;) {
        int hit = 0;
        for (int i = 0; i < 2; i++) {
            const char *s = p->secrets[i];
            size_t n = s ? strlen(s) : 0;
            if (n && strncmp(c, s, n) == 0) {
                const char *r = "***";
                for (; *r && o + 1 < cap; r++)
                    out[o++] = *r;
                c += n;
                hit = 1;
                break;
            }
        }
        if (hit)
            continue;
        char ch = *c++;
        if (ch == '\n' || ch == '\r' || ch == '\t') {
            /* libpq's lines ("...\n\tIs the server running...") joined with "; " */
            int line = ch != '\t';
            while (*c == '\n' || *c == '\r' || *c == '\t' || *c == ' ') {
                line |= *c != '\t' && *c != ' ';
                c++;
            }
            if (*c == '\0')
                break;
            if (line && o + 2 < cap)
                out[o++] = ';';
            ch = ' ';
        }
        out[o++] = ch;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static int conn_err(struct pg *p, struct mf_err *err, const char *what)
{
    char m[400];
    scrub(p, PQerrorMessage(p->conn), m, sizeof m);
    return mf_err_set(err, MF_EIO, "PostgreSQL %s: %s: %s", p->where, what, m);
}

static int res_err(struct pg *p, PGresult *r, struct mf_err *err, const char *what)
{
    /* the primary message only: DETAIL lines may quote values */
    const char *prim = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (prim == NULL) {
        return conn_err(p, err, what);
    }
    char m[400];
    scrub(p, prim, m, sizeof m);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return mf_err_set(err, MF_EIO, "PostgreSQL %s: %s: %s%s%s%s", p->where, what, m,
                      state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

/* Reconnect when the connection broke (a server restart): the call that saw it failed, this
 * one goes on. */
static int ensure_conn(struct pg *p, struct mf_err *err)
{
    if (PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    PQreset(p->conn);
    if (PQstatus(p->conn) != CONNECTION_OK)
        return conn_err(p, err, "cannot reconnect");
    return 0;
}

/* Run sql with n text parameters; the result when its status is want, else NULL with err set. */
static PGresult *run(struct pg *p, const char *sql, int n, const char *const *vals,
                     ExecStatusType want, const char *what, struct mf_err *err)
{
    PGresult *r = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);
    if (r == NULL || PQresultStatus(r) != want) {
        res_err(p, r, err, what);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int cmd(struct pg *p, const char *sql, int n, const char *const *vals, const char *what,
               struct mf_err *err)
{
    PGresult *r = run(p, sql, n, vals, PGRES_COMMAND_OK, what, err);
    if (r == NULL)
        return MF_EIO;
    PQclear(r);
    return 0;
}

static void rollback(struct pg *p)
{
    if (PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(p->conn, "ROLLBACK");
        PQclear(r);
    }
}

static void copy(char *dst, size_t cap, const char *src, int *cut)
{
    size_t n = src ? strlen(src) : 0;
    size_t k = n < cap - 1 ? n : cap - 1;
    if (k)
        memcpy(dst, src, k);
    dst[k] = '\0';
    if (n > k && cut)
        *cut = 1;
}

static int64_t num(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s ? s : "", &end, 10);
    return errno || end == s ? 0 : (int64_t)v;
}

/* The tail recorded in meta (seq 0 and 64 zeros when none). */
static int meta_tail(struct pg *p, int64_t *seq, char hash[65], struct mf_err *err)
{
    *seq = 0;
    memset(hash, '0', 64);
    hash[64] = '\0';
    PGresult *r = run(p, "SELECT k, v FROM meta WHERE k IN ('audit_seq', 'audit_hash')", 0, NULL,
                      PGRES_TUPLES_OK, "cannot read meta", err);
    if (r == NULL)
        return MF_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *k = PQgetvalue(r, i, 0), *v = PQgetvalue(r, i, 1);
        if (strcmp(k, "audit_seq") == 0)
            *seq = num(v);
        else if (strlen(v) == 64)
            memcpy(hash, v, 65);
        else
            hash[0] = '\0'; /* not a hash: matches no row */
    }
    PQclear(r);
    return 0;
}

/* Keys */

static void read_key(PGresult *r, int i, struct mf_key_info *ki, char sha256[65])
{
    memset(ki, 0, sizeof *ki);
    copy(ki->id, sizeof ki->id, PQgetvalue(r, i, 0), NULL);
    copy(ki->name, sizeof ki->name, PQgetvalue(r, i, 1), NULL);
    ki->scopes = (unsigned)num(PQgetvalue(r, i, 2)) & MF_SCOPE_ALL;
    ki->rate_per_min = (int)num(PQgetvalue(r, i, 3));
    ki->created = num(PQgetvalue(r, i, 4));
    ki->revoked = num(PQgetvalue(r, i, 5));
    if (sha256)
        copy(sha256, 65, PQgetvalue(r, i, 6), NULL);
}

static int pg_key_insert(struct mf_state *st, const struct mf_key_info *ki, const char *sha256,
                         struct mf_err *err)
{
    struct pg *p = PG(st);
    char scopes[16], rate[16], created[32];
    snprintf(scopes, sizeof scopes, "%u", ki->scopes);
    snprintf(rate, sizeof rate, "%d", ki->rate_per_min);
    snprintf(created, sizeof created, "%" PRId64, ki->created);
    const char *v[] = {ki->id, ki->name, scopes, rate, created, sha256};
    pthread_mutex_lock(&p->mu);
    int rc = ensure_conn(p, err);
    if (rc == 0) {
        PGresult *r = PQexecParams(p->conn,
                                   "INSERT INTO api_keys (id, name, scopes, rate_per_min, created,"
                                   " revoked, secret_sha256) VALUES ($1, $2, $3, $4, $5, 0, $6)",
                                   6, NULL, v, NULL, NULL, 0);
        if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
            const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
            rc = state && strcmp(state, "23505") == 0
                     ? mf_err_set(err, MF_EEXIST, "a key with this id exists")
                     : res_err(p, r, err, "cannot store the key");
        }
        PQclear(r);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int pg_key_get(struct mf_state *st, const char *id, struct mf_key_info *ki, char sha256[65],
                      struct mf_err *err)
{
    struct pg *p = PG(st);
    const char *v[] = {id};
    pthread_mutex_lock(&p->mu);
    int rc = ensure_conn(p, err);
    if (rc == 0) {
        PGresult *r = run(p,
                          "SELECT id, name, scopes, rate_per_min, created, revoked, secret_sha256"
                          " FROM api_keys WHERE id = $1",
                          1, v, PGRES_TUPLES_OK, "cannot read the keys", err);
        if (r == NULL)
            rc = MF_EIO;
        else if (PQntuples(r) == 0)
            rc = MF_ENOTFOUND;
        else
            read_key(r, 0, ki, sha256);
        PQclear(r);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int pg_key_list(struct mf_state *st, struct mf_key_info **out, size_t *n, struct mf_err *err)
{
    struct pg *p = PG(st);
    pthread_mutex_lock(&p->mu);
    int rc = ensure_conn(p, err);
    if (rc == 0) {
        PGresult *r = run(p,
                          "SELECT id, name, scopes, rate_per_min, created, revoked FROM api_keys"
                          " ORDER BY created, id",
                          0, NULL, PGRES_TUPLES_OK, "cannot read the keys", err);
        if (r == NULL) {
            rc = MF_EIO;
        } else {
            int k = PQntuples(r);
            *out = malloc((size_t)(k > 0 ? k : 1) * sizeof **out);
            if (*out == NULL) {
                rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            } else {
                for (int i = 0; i < k; i++)
                    read_key(r, i, &(*out)[i], NULL);
                *n = (size_t)k;
            }
        }
        PQclear(r);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int pg_key_revoke(struct mf_state *st, const char *id, int64_t now, struct mf_err *err)
{
    struct pg *p = PG(st);
    char t[32];
    snprintf(t, sizeof t, "%" PRId64, now);
    const char *v[] = {id, t};
    pthread_mutex_lock(&p->mu);
    int rc = ensure_conn(p, err);
    if (rc == 0) {
        PGresult *r = run(p, "UPDATE api_keys SET revoked = $2 WHERE id = $1 AND revoked = 0", 2, v,
                          PGRES_COMMAND_OK, "cannot revoke the key", err);
        if (r == NULL) {
            rc = MF_EIO;
        } else if (strcmp(PQcmdTuples(r), "0") == 0) {
            PQclear(r);
            r = run(p, "SELECT 1 FROM api_keys WHERE id = $1", 1, v, PGRES_TUPLES_OK,
                    "cannot read the keys", err);
            if (r == NULL)
                rc = MF_EIO;
            else if (PQntuples(r) == 0)
                rc = mf_err_set(err, MF_ENOTFOUND, "no key with id %s", id);
        }
        PQclear(r);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* The audit log */

static int pg_audit_append(struct mf_state *st, struct mf_audit_row *row, struct mf_err *err)
{
    struct pg *p = PG(st);
    pthread_mutex_lock(&p->mu);
    int rc = ensure_conn(p, err);
    if (rc)
        goto out;
    /* BEGIN, then the lock: every server's appends queue here until the holder commits. */
    const char *lk[] = {LOCK_AUDIT};
    if ((rc = cmd(p, "BEGIN", 0, NULL, "cannot begin a transaction", err)) != 0)
        goto out;
    PGresult *r = run(p, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lk, PGRES_TUPLES_OK,
                      "cannot lock the audit log", err);
    if (r == NULL) {
        rc = MF_EIO;
        goto out;
    }
    PQclear(r);
    int64_t meta_seq, last_seq = 0, seq;
    char meta_hash[65], last_hash[65] = "", prev[65];
    if ((rc = meta_tail(p, &meta_seq, meta_hash, err)) != 0)
        goto out;
    r = run(p, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", 0, NULL, PGRES_TUPLES_OK,
            "cannot read the audit log", err);
    if (r == NULL) {
        rc = MF_EIO;
        goto out;
    }
    if (PQntuples(r) > 0) {
        last_seq = num(PQgetvalue(r, 0, 0));
        copy(last_hash, sizeof last_hash, PQgetvalue(r, 0, 1), NULL);
    }
    PQclear(r);
    mf_state_chain_tail(meta_seq, meta_hash, last_seq, last_hash, &seq, prev);
    row->seq = seq + 1;
    memcpy(row->prev_hash, prev, sizeof row->prev_hash);
    if (mf_audit_row_hash(row, row->hash) != 0) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    char s_seq[32], s_time[32], s_status[16], s_lat[32];
    snprintf(s_seq, sizeof s_seq, "%" PRId64, row->seq);
    snprintf(s_time, sizeof s_time, "%" PRId64, row->time);
    snprintf(s_status, sizeof s_status, "%d", row->status);
    snprintf(s_lat, sizeof s_lat, "%" PRId64, row->latency_us);
    const char *v[] = {s_seq,
                       s_time,
                       row->request_id,
                       row->key_id,
                       row->route,
                       row->patient,
                       row->input_sha256,
                       row->model,
                       s_status,
                       row->outcome,
                       s_lat,
                       row->prev_hash,
                       row->hash};
    if ((rc = cmd(p,
                  "INSERT INTO audit (seq, time, request_id, key_id, route, patient,"
                  " input_sha256, model, status, outcome, latency_us, prev_hash, hash)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                  13, v, "cannot append to the audit log", err)) != 0)
        goto out;
    const char *m[] = {s_seq, row->hash};
    if ((rc = cmd(p,
                  "INSERT INTO meta (k, v) VALUES ('audit_seq', $1), ('audit_hash', $2)"
                  " ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                  2, m, "cannot write meta", err)) != 0)
        goto out;
    rc = cmd(p, "COMMIT", 0, NULL, "cannot commit the audit row", err);
out:
    if (rc)
        rollback(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int pg_audit_scan(struct mf_state *st, mf_audit_row_fn fn, void *ctx, int64_t *tail_seq,
                         char tail_hash[65], struct mf_err *err)
{
    struct pg *p = PG(st);
    pthread_mutex_lock(&p->mu);
    int rc = ensure_conn(p, err);
    if (rc)
        goto out;
    /* one snapshot for the tail and every row; a cursor so that a long log is read in pieces */
    if ((rc = cmd(p, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
                  "cannot begin a transaction", err)) != 0)
        goto out;
    if (tail_seq && (rc = meta_tail(p, tail_seq, tail_hash, err)) != 0)
        goto out;
    if ((rc = cmd(p,
                  "DECLARE medfm_audit NO SCROLL CURSOR FOR SELECT seq, time, request_id, key_id,"
                  " route, patient, input_sha256, model, status, outcome, latency_us, prev_hash,"
                  " hash FROM audit ORDER BY seq",
                  0, NULL, "cannot read the audit log", err)) != 0)
        goto out;
    for (;;) {
        PGresult *r = run(p, "FETCH FORWARD " FETCH_ROWS " FROM medfm_audit", 0, NULL,
                          PGRES_TUPLES_OK, "cannot read the audit log", err);
        if (r == NULL) {
            rc = MF_EIO;
            goto out;
        }
        int k = PQntuples(r);
        struct mf_audit_row row;
        for (int i = 0; i < k && rc == 0; i++) {
            memset(&row, 0, sizeof row);
            int cut = 0;
            row.seq = num(PQgetvalue(r, i, 0));
            row.time = num(PQgetvalue(r, i, 1));
            copy(row.request_id, sizeof row.request_id, PQgetvalue(r, i, 2), &cut);
            copy(row.key_id, sizeof row.key_id, PQgetvalue(r, i, 3), &cut);
            copy(row.route, sizeof row.route, PQgetvalue(r, i, 4), &cut);
            copy(row.patient, sizeof row.patient, PQgetvalue(r, i, 5), &cut);
            copy(row.input_sha256, sizeof row.input_sha256, PQgetvalue(r, i, 6), &cut);
            copy(row.model, sizeof row.model, PQgetvalue(r, i, 7), &cut);
            row.status = (int)num(PQgetvalue(r, i, 8));
            copy(row.outcome, sizeof row.outcome, PQgetvalue(r, i, 9), &cut);
            row.latency_us = num(PQgetvalue(r, i, 10));
            copy(row.prev_hash, sizeof row.prev_hash, PQgetvalue(r, i, 11), &cut);
            copy(row.hash, sizeof row.hash, PQgetvalue(r, i, 12), &cut);
            if (cut)
                row.hash[0] = '\0'; /* a value no append writes: the row cannot verify */
            rc = fn(ctx, &row);
        }
        PQclear(r);
        if (rc || k < FETCH_N)
            break;
    }
out:
    rollback(p);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Feedback */

static int pg_feedback(struct mf_state *st, const char *card_uuid, const char *key_id,
                       const char *service, const char *outcome, const char *body, int64_t now,
                       int *created, struct mf_err *err)
{
    struct pg *p = PG(st);
    char t[32];
    snprintf(t, sizeof t, "%" PRId64, now);
    const char *v[] = {card_uuid, key_id, service, outcome, body, t};
    pthread_mutex_lock(&p->mu);
    int rc = ensure_conn(p, err);
    if (rc == 0) {
        PGresult *r = run(p,
                          "INSERT INTO feedback (card_uuid, key_id, service, outcome, body,"
                          " created) VALUES ($1, $2, $3, $4, $5, $6)"
                          " ON CONFLICT (card_uuid, key_id) DO NOTHING",
                          6, v, PGRES_COMMAND_OK, "cannot store the feedback", err);
        if (r == NULL)
            rc = MF_EIO;
        else
            *created = strcmp(PQcmdTuples(r), "0") != 0;
        PQclear(r);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void pg_close(struct mf_state *st)
{
    struct pg *p = PG(st);
    if (p == NULL)
        return;
    PQfinish(p->conn);
    pthread_mutex_destroy(&p->mu);
    for (int i = 0; i < 2; i++) {
        if (p->secrets[i])
            explicit_bzero(p->secrets[i], strlen(p->secrets[i]));
        free(p->secrets[i]);
    }
    free(p);
    st->impl = NULL;
}

static const struct mf_state_ops PG_OPS = {
    pg_key_insert,   pg_key_get,    pg_key_list, pg_key_revoke,
    pg_audit_append, pg_audit_scan, pg_feedback, pg_close,
};

/* Open */

/* The password as written in the URL's user info (percent-encoded as given), or NULL. */
static char *url_password(const char *url)
{
    const char *a = strstr(url, "://");
    if (a == NULL)
        return NULL;
    a += 3;
    size_t hostpart = strcspn(a, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < hostpart; i++)
        if (a[i] == '@')
            at = a + i;
    if (at == NULL)
        return NULL;
    const char *colon = memchr(a, ':', (size_t)(at - a));
    if (colon == NULL || colon + 1 == at)
        return NULL;
    size_t n = (size_t)(at - colon - 1);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, colon + 1, n);
        s[n] = '\0';
    }
    return s;
}

/* Parse the URL (libpq's parser) for the description and the password; no message here ever
 * repeats the URL. */
static int describe(struct pg *p, const char *url, struct mf_err *err)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (opts == NULL) {
        PQfreemem(perr);
        return mf_err_set(err, MF_EINVAL,
                          "the PostgreSQL URL is malformed (postgresql://[user[:password]@]host"
                          "[:port]/database[?param=value...])");
    }
    PQfreemem(perr);
    const char *host = NULL, *port = NULL, *db = NULL, *user = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "host") == 0 || (strcmp(o->keyword, "hostaddr") == 0 && !host))
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            user = o->val;
        else if (strcmp(o->keyword, "password") == 0 && o->val[0])
            p->secrets[1] = strdup(o->val);
    }
    snprintf(p->where, sizeof p->where, "database '%.60s'%s%.40s on %.100s%s%.10s",
             db ? db : (user ? user : "(default)"), user ? " as user " : "", user ? user : "",
             host ? host : "(default host)", port ? ":" : "", port ? port : "");
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && strcmp(o->keyword, "password") == 0)
            explicit_bzero(o->val, strlen(o->val));
    PQconninfoFree(opts);
    p->secrets[0] = url_password(url);
    return 0;
}

static int init_schema(struct mf_state *st, struct mf_err *err)
{
    struct pg *p = PG(st);
    const char *lk[] = {LOCK_SCHEMA};
    int rc = cmd(p, "BEGIN", 0, NULL, "cannot begin a transaction", err);
    if (rc)
        return rc;
    /* servers starting together: one makes the schema, the others wait and then read it */
    PGresult *r = run(p, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lk, PGRES_TUPLES_OK,
                      "cannot lock the schema", err);
    if (r == NULL) {
        rc = MF_EIO;
        goto out;
    }
    PQclear(r);
    r = run(p, "SELECT to_regclass('meta') IS NOT NULL", 0, NULL, PGRES_TUPLES_OK,
            "cannot read the schema", err);
    if (r == NULL) {
        rc = MF_EIO;
        goto out;
    }
    int has_meta = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!has_meta) {
        r = PQexec(p->conn, SCHEMA);
        if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
            rc = res_err(p, r, err, "cannot create the schema");
            PQclear(r);
            goto out;
        }
        PQclear(r);
        unsigned char secret[32];
        char hex[65], ver[16];
        if ((rc = mf_state_random(secret, sizeof secret, err)) != 0)
            goto out;
        mf_state_hex(secret, sizeof secret, hex);
        explicit_bzero(secret, sizeof secret);
        snprintf(ver, sizeof ver, "%d", MF_STATE_SCHEMA_VERSION);
        const char *v[] = {ver, hex};
        rc = cmd(p,
                 "INSERT INTO meta (k, v) VALUES ('schema_version', $1), ('secret', $2),"
                 " ('audit_seq', '0'), ('audit_hash', repeat('0', 64))",
                 2, v, "cannot write meta", err);
        explicit_bzero(hex, sizeof hex);
        if (rc)
            goto out;
    }
    r = run(p, "SELECT k, v FROM meta WHERE k IN ('schema_version', 'secret')", 0, NULL,
            PGRES_TUPLES_OK, "cannot read meta", err);
    if (r == NULL) {
        rc = MF_EIO;
        goto out;
    }
    int64_t ver = -1;
    int have_secret = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *k = PQgetvalue(r, i, 0), *v = PQgetvalue(r, i, 1);
        if (strcmp(k, "schema_version") == 0)
            ver = num(v);
        else
            have_secret = mf_state_unhex(v, st->secret, sizeof st->secret) == 0;
    }
    PQclear(r);
    if (ver < 1)
        rc = mf_err_set(err, MF_EPARSE,
                        "PostgreSQL %s: a table 'meta' without medfm's schema version (is this "
                        "medfm's database?)",
                        p->where);
    else if (ver > MF_STATE_SCHEMA_VERSION)
        rc = mf_err_set(err, MF_EUNSUPPORTED,
                        "PostgreSQL %s has schema version %" PRId64
                        ", newer than this medfm's (%d): use a newer medfm",
                        p->where, ver, MF_STATE_SCHEMA_VERSION);
    else if (!have_secret)
        rc = mf_err_set(err, MF_EPARSE,
                        "PostgreSQL %s: the pseudonym key in meta is missing or malformed",
                        p->where);
    if (rc)
        goto out;
    rc = cmd(p, "COMMIT", 0, NULL, "cannot commit the schema", err);
out:
    if (rc)
        rollback(p);
    return rc;
}

int mf_state_open_pg(struct mf_state *st, const char *url, struct mf_err *err)
{
    struct pg *p = calloc(1, sizeof *p);
    if (p == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    st->impl = p;
    st->ops = &PG_OPS;
    int rc = describe(p, url, err);
    if (rc)
        goto fail;
    /* defaults before the URL, which may override them */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"10", "medfm", url, NULL};
    p->conn = PQconnectdbParams(keys, vals, 1);
    if (p->conn == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto fail;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
        rc = conn_err(p, err, "cannot connect");
        goto fail;
    }
    if ((rc = init_schema(st, err)) != 0)
        goto fail;
    return 0;
fail:
    pg_close(st);
    st->ops = NULL;
    return rc;
}
