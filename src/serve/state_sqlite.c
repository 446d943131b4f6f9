/* state_sqlite.c - the state on SQLite: one file (mode 0600), WAL journal, one connection per
 * state guarded by a mutex; writers in other processes (a `medfm keys` beside a running server,
 * several servers on one host) are serialized by SQLite's own lock (BEGIN IMMEDIATE, with a
 * busy timeout).  See docs/serve-state.md. */
#include "serve/state_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 15000

static const char SCHEMA[] =
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE api_keys ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes INTEGER NOT NULL,"
    " rate_per_min INTEGER NOT NULL, created INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
    " secret_sha256 TEXT NOT NULL);"
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, request_id TEXT NOT NULL,"
    " key_id TEXT NOT NULL, route TEXT NOT NULL, patient TEXT NOT NULL,"
    " input_sha256 TEXT NOT NULL, model TEXT NOT NULL, status INTEGER NOT NULL,"
    " outcome TEXT NOT NULL, latency_us INTEGER NOT NULL, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TABLE feedback ("
    " id INTEGER PRIMARY KEY, card_uuid TEXT NOT NULL, key_id TEXT NOT NULL,"
    " service TEXT NOT NULL, outcome TEXT NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL,"
    " UNIQUE (card_uuid, key_id));";

/* Statements, prepared once on first use. */
enum {
    Q_META_GET,
    Q_META_PUT,
    Q_KEY_INSERT,
    Q_KEY_GET,
    Q_KEY_LIST,
    Q_KEY_REVOKE,
    Q_KEY_EXISTS,
    Q_AUDIT_LAST,
    Q_AUDIT_INSERT,
    Q_AUDIT_ALL,
    Q_FEEDBACK,
    Q_N
};

static const char *const SQL[Q_N] = {
    [Q_META_GET] = "SELECT v FROM meta WHERE k = ?1",
    [Q_META_PUT] = "INSERT INTO meta (k, v) VALUES (?1, ?2)"
                   " ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    [Q_KEY_INSERT] = "INSERT INTO api_keys (id, name, scopes, rate_per_min, created, revoked,"
                     " secret_sha256) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
    [Q_KEY_GET] = "SELECT id, name, scopes, rate_per_min, created, revoked, secret_sha256"
                  " FROM api_keys WHERE id = ?1",
    [Q_KEY_LIST] = "SELECT id, name, scopes, rate_per_min, created, revoked, ''"
                   " FROM api_keys ORDER BY created, id",
    [Q_KEY_REVOKE] = "UPDATE api_keys SET revoked = ?2 WHERE id = ?1 AND revoked = 0",
    [Q_KEY_EXISTS] = "SELECT 1 FROM api_keys WHERE id = ?1",
    [Q_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit (seq, time, request_id, key_id, route, patient,"
                       " input_sha256, model, status, outcome, latency_us, prev_hash, hash)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [Q_AUDIT_ALL] = "SELECT seq, time, request_id, key_id, route, patient, input_sha256, model,"
                    " status, outcome, latency_us, prev_hash, hash FROM audit ORDER BY seq",
    [Q_FEEDBACK] = "INSERT INTO feedback (card_uuid, key_id, service, outcome, body, created)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (card_uuid, key_id) DO NOTHING",
};

struct sq {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *q[Q_N];
    char path[256]; /* for messages, cut short */
};

static struct sq *SQ(struct mf_state *st)
{
    return st->impl;
}

static int db_err(struct sq *s, struct mf_err *err, const char *what)
{
    int code = sqlite3_errcode(s->db);
    int rc = (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) ? MF_EPARSE : MF_EIO;
    const char *msg = sqlite3_errmsg(s->db);
    if (code == SQLITE_NOTADB)
        msg = "the file is not a SQLite database";
    return mf_err_set(err, rc, "state database '%s': %s: %s", s->path, what, msg);
}

static sqlite3_stmt *stmt(struct sq *s, int which, struct mf_err *err)
{
    if (s->q[which] == NULL && sqlite3_prepare_v3(s->db, SQL[which], -1, SQLITE_PREPARE_PERSISTENT,
                                                  &s->q[which], NULL) != SQLITE_OK) {
        db_err(s, err, "cannot prepare a statement");
        return NULL;
    }
    sqlite3_reset(s->q[which]);
    sqlite3_clear_bindings(s->q[which]);
    return s->q[which];
}

static int exec(struct sq *s, const char *sql, struct mf_err *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s, err, sql);
    return 0;
}

static void rollback(struct sq *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Copy a text column into a field; 1 when it did not fit (it is cut), else 0. */
static int col_text(sqlite3_stmt *q, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    int n = sqlite3_column_bytes(q, i);
    if (t == NULL || n <= 0) {
        dst[0] = '\0';
        return 0;
    }
    size_t k = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
    memcpy(dst, t, k);
    dst[k] = '\0';
    return (size_t)n > k || memchr(dst, '\0', k) != NULL;
}

/* meta */

static int meta_get(struct sq *s, const char *k, char *v, size_t cap, struct mf_err *err)
{
    sqlite3_stmt *q = stmt(s, Q_META_GET, err);
    if (q == NULL)
        return MF_EIO;
    sqlite3_bind_text(q, 1, k, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_DONE) {
        sqlite3_reset(q);
        return MF_ENOTFOUND;
    }
    if (r != SQLITE_ROW) {
        sqlite3_reset(q);
        return db_err(s, err, "cannot read meta");
    }
    col_text(q, 0, v, cap);
    sqlite3_reset(q);
    return 0;
}

static int meta_put(struct sq *s, const char *k, const char *v, struct mf_err *err)
{
    sqlite3_stmt *q = stmt(s, Q_META_PUT, err);
    if (q == NULL)
        return MF_EIO;
    sqlite3_bind_text(q, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, v, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    sqlite3_reset(q);
    return r == SQLITE_DONE ? 0 : db_err(s, err, "cannot write meta");
}

/* The tail recorded in meta: seq 0 and 64 zeros when none. */
static int meta_tail(struct sq *s, int64_t *seq, char hash[65], struct mf_err *err)
{
    char v[80];
    *seq = 0;
    memset(hash, '0', 64);
    hash[64] = '\0';
    int rc = meta_get(s, "audit_seq", v, sizeof v, err);
    if (rc == MF_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0)
        return mf_err_set(err, MF_EPARSE, "state database '%s': meta audit_seq is not a number",
                          s->path);
    *seq = n;
    rc = meta_get(s, "audit_hash", v, sizeof v, err);
    if (rc && rc != MF_ENOTFOUND)
        return rc;
    if (rc == 0) {
        if (strlen(v) == 64)
            memcpy(hash, v, 65);
        else
            hash[0] = '\0'; /* not a hash: matches no row */
    }
    return 0;
}

/* Keys */

static void read_key(sqlite3_stmt *q, struct mf_key_info *ki, char sha256[65])
{
    memset(ki, 0, sizeof *ki);
    col_text(q, 0, ki->id, sizeof ki->id);
    col_text(q, 1, ki->name, sizeof ki->name);
    ki->scopes = (unsigned)sqlite3_column_int64(q, 2) & MF_SCOPE_ALL;
    ki->rate_per_min = sqlite3_column_int(q, 3);
    ki->created = sqlite3_column_int64(q, 4);
    ki->revoked = sqlite3_column_int64(q, 5);
    if (sha256)
        col_text(q, 6, sha256, 65);
}

static int sq_key_insert(struct mf_state *st, const struct mf_key_info *ki, const char *sha256,
                         struct mf_err *err)
{
    struct sq *s = SQ(st);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *q = stmt(s, Q_KEY_INSERT, err);
    if (q == NULL) {
        rc = MF_EIO;
        goto out;
    }
    sqlite3_bind_text(q, 1, ki->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, ki->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, ki->scopes);
    sqlite3_bind_int(q, 4, ki->rate_per_min);
    sqlite3_bind_int64(q, 5, ki->created);
    sqlite3_bind_text(q, 6, sha256, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_CONSTRAINT)
        rc = mf_err_set(err, MF_EEXIST, "a key with this id exists");
    else if (r != SQLITE_DONE)
        rc = db_err(s, err, "cannot store the key");
    sqlite3_reset(q);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int sq_key_get(struct mf_state *st, const char *id, struct mf_key_info *ki, char sha256[65],
                      struct mf_err *err)
{
    struct sq *s = SQ(st);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *q = stmt(s, Q_KEY_GET, err);
    if (q == NULL) {
        rc = MF_EIO;
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW)
        read_key(q, ki, sha256);
    else if (r == SQLITE_DONE)
        rc = MF_ENOTFOUND;
    else
        rc = db_err(s, err, "cannot read the keys");
    sqlite3_reset(q);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int sq_key_list(struct mf_state *st, struct mf_key_info **out, size_t *n, struct mf_err *err)
{
    struct sq *s = SQ(st);
    int rc = 0;
    size_t cap = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *q = stmt(s, Q_KEY_LIST, err);
    if (q == NULL) {
        rc = MF_EIO;
        goto out;
    }
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            struct mf_key_info *p = realloc(*out, nc * sizeof *p);
            if (p == NULL) {
                rc = mf_err_set(err, MF_ENOMEM, "out of memory");
                break;
            }
            *out = p;
            cap = nc;
        }
        read_key(q, &(*out)[(*n)++], NULL);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = db_err(s, err, "cannot read the keys");
    sqlite3_reset(q);
out:
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int sq_key_revoke(struct mf_state *st, const char *id, int64_t now, struct mf_err *err)
{
    struct sq *s = SQ(st);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *q = stmt(s, Q_KEY_REVOKE, err);
    if (q == NULL) {
        rc = MF_EIO;
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, now);
    int r = sqlite3_step(q);
    sqlite3_reset(q);
    if (r != SQLITE_DONE) {
        rc = db_err(s, err, "cannot revoke the key");
        goto out;
    }
    if (sqlite3_changes(s->db) == 0) {
        /* revoked before, or no such key */
        q = stmt(s, Q_KEY_EXISTS, err);
        if (q == NULL) {
            rc = MF_EIO;
            goto out;
        }
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        r = sqlite3_step(q);
        sqlite3_reset(q);
        if (r == SQLITE_DONE)
            rc = mf_err_set(err, MF_ENOTFOUND, "no key with id %s", id);
        else if (r != SQLITE_ROW)
            rc = db_err(s, err, "cannot read the keys");
    }
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The audit log */

static int sq_audit_append(struct mf_state *st, struct mf_audit_row *row, struct mf_err *err)
{
    struct sq *s = SQ(st);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if ((rc = exec(s, "BEGIN IMMEDIATE", err)) != 0)
        goto out;
    int64_t meta_seq, last_seq = 0, seq;
    char meta_hash[65], last_hash[65] = "", prev[65];
    if ((rc = meta_tail(s, &meta_seq, meta_hash, err)) != 0)
        goto out;
    sqlite3_stmt *q = stmt(s, Q_AUDIT_LAST, err);
    if (q == NULL) {
        rc = MF_EIO;
        goto out;
    }
    int r = sqlite3_step(q);
    if (r == SQLITE_ROW) {
        last_seq = sqlite3_column_int64(q, 0);
        col_text(q, 1, last_hash, sizeof last_hash);
    } else if (r != SQLITE_DONE) {
        sqlite3_reset(q);
        rc = db_err(s, err, "cannot read the audit log");
        goto out;
    }
    sqlite3_reset(q);
    mf_state_chain_tail(meta_seq, meta_hash, last_seq, last_hash, &seq, prev);
    row->seq = seq + 1;
    memcpy(row->prev_hash, prev, sizeof row->prev_hash);
    if (mf_audit_row_hash(row, row->hash) != 0) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    if ((q = stmt(s, Q_AUDIT_INSERT, err)) == NULL) {
        rc = MF_EIO;
        goto out;
    }
    sqlite3_bind_int64(q, 1, row->seq);
    sqlite3_bind_int64(q, 2, row->time);
    sqlite3_bind_text(q, 3, row->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, row->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, row->route, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, row->patient, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, row->input_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, row->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 9, row->status);
    sqlite3_bind_text(q, 10, row->outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 11, row->latency_us);
    sqlite3_bind_text(q, 12, row->prev_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 13, row->hash, -1, SQLITE_STATIC);
    r = sqlite3_step(q);
    sqlite3_reset(q);
    if (r != SQLITE_DONE) {
        rc = db_err(s, err, "cannot append to the audit log");
        goto out;
    }
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, row->seq);
    if ((rc = meta_put(s, "audit_seq", num, err)) != 0 ||
        (rc = meta_put(s, "audit_hash", row->hash, err)) != 0)
        goto out;
    rc = exec(s, "COMMIT", err);
out:
    if (rc)
        rollback(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int sq_audit_scan(struct mf_state *st, mf_audit_row_fn fn, void *ctx, int64_t *tail_seq,
                         char tail_hash[65], struct mf_err *err)
{
    struct sq *s = SQ(st);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    /* one read transaction: the rows and the tail come from the same snapshot */
    if ((rc = exec(s, "BEGIN", err)) != 0)
        goto out;
    if (tail_seq) {
        if ((rc = meta_tail(s, tail_seq, tail_hash, err)) != 0)
            goto out;
    }
    sqlite3_stmt *q = stmt(s, Q_AUDIT_ALL, err);
    if (q == NULL) {
        rc = MF_EIO;
        goto out;
    }
    struct mf_audit_row row;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        memset(&row, 0, sizeof row);
        int cut = 0;
        row.seq = sqlite3_column_int64(q, 0);
        row.time = sqlite3_column_int64(q, 1);
        cut |= col_text(q, 2, row.request_id, sizeof row.request_id);
        cut |= col_text(q, 3, row.key_id, sizeof row.key_id);
        cut |= col_text(q, 4, row.route, sizeof row.route);
        cut |= col_text(q, 5, row.patient, sizeof row.patient);
        cut |= col_text(q, 6, row.input_sha256, sizeof row.input_sha256);
        cut |= col_text(q, 7, row.model, sizeof row.model);
        row.status = sqlite3_column_int(q, 8);
        cut |= col_text(q, 9, row.outcome, sizeof row.outcome);
        row.latency_us = sqlite3_column_int64(q, 10);
        cut |= col_text(q, 11, row.prev_hash, sizeof row.prev_hash);
        cut |= col_text(q, 12, row.hash, sizeof row.hash);
        if (cut)
            row.hash[0] = '\0'; /* a value no append writes: the row cannot verify */
        if ((rc = fn(ctx, &row)) != 0)
            break;
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = db_err(s, err, "cannot read the audit log");
    sqlite3_reset(q);
out:
    rollback(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Feedback */

static int sq_feedback(struct mf_state *st, const char *card_uuid, const char *key_id,
                       const char *service, const char *outcome, const char *body, int64_t now,
                       int *created, struct mf_err *err)
{
    struct sq *s = SQ(st);
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *q = stmt(s, Q_FEEDBACK, err);
    if (q == NULL) {
        rc = MF_EIO;
        goto out;
    }
    sqlite3_bind_text(q, 1, card_uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, service, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, outcome, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, now);
    int r = sqlite3_step(q);
    sqlite3_reset(q);
    if (r != SQLITE_DONE)
        rc = db_err(s, err, "cannot store the feedback");
    else
        *created = sqlite3_changes(s->db) > 0;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void sq_close(struct mf_state *st)
{
    struct sq *s = SQ(st);
    if (s == NULL)
        return;
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
    st->impl = NULL;
}

static const struct mf_state_ops SQLITE_OPS = {
    sq_key_insert,   sq_key_get,    sq_key_list, sq_key_revoke,
    sq_audit_append, sq_audit_scan, sq_feedback, sq_close,
};

/* Open */

/* Create the schema (an empty file), or check the one there; read or make the secret. */
static int init_schema(struct mf_state *st, struct mf_err *err)
{
    struct sq *s = SQ(st);
    int rc = exec(s, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*), sum(name = 'meta') FROM sqlite_master", -1, &q,
                           NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        rc = db_err(s, err, "cannot read the schema");
        sqlite3_finalize(q);
        goto out;
    }
    int64_t n_objects = sqlite3_column_int64(q, 0), has_meta = sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
    char v[80];
    if (!has_meta) {
        if (n_objects > 0) {
            rc = mf_err_set(err, MF_EPARSE,
                            "state database '%s': a SQLite database, but not medfm's (no meta "
                            "table)",
                            s->path);
            goto out;
        }
        unsigned char secret[32];
        char hex[65];
        if ((rc = exec(s, SCHEMA, err)) != 0 ||
            (rc = mf_state_random(secret, sizeof secret, err)) != 0)
            goto out;
        mf_state_hex(secret, sizeof secret, hex);
        explicit_bzero(secret, sizeof secret);
        snprintf(v, sizeof v, "%d", MF_STATE_SCHEMA_VERSION);
        if ((rc = meta_put(s, "schema_version", v, err)) != 0 ||
            (rc = meta_put(s, "secret", hex, err)) != 0 ||
            (rc = meta_put(s, "audit_seq", "0", err)) != 0 ||
            (rc = meta_put(s, "audit_hash",
                           "0000000000000000000000000000000000000000000000000000000000000000",
                           err)) != 0) {
            explicit_bzero(hex, sizeof hex);
            goto out;
        }
        explicit_bzero(hex, sizeof hex);
    }
    rc = meta_get(s, "schema_version", v, sizeof v, err);
    if (rc == MF_ENOTFOUND)
        rc = mf_err_set(err, MF_EPARSE, "state database '%s': no schema version in meta", s->path);
    if (rc)
        goto out;
    char *end;
    errno = 0;
    long ver = strtol(v, &end, 10);
    if (errno || end == v || *end || ver < 1) {
        rc = mf_err_set(err, MF_EPARSE, "state database '%s': a bad schema version in meta",
                        s->path);
        goto out;
    }
    if (ver > MF_STATE_SCHEMA_VERSION) {
        rc = mf_err_set(err, MF_EUNSUPPORTED,
                        "state database '%s' has schema version %ld, newer than this medfm's "
                        "(%d): use a newer medfm",
                        s->path, ver, MF_STATE_SCHEMA_VERSION);
        goto out;
    }
    rc = meta_get(s, "secret", v, sizeof v, err);
    if (rc == 0 && mf_state_unhex(v, st->secret, sizeof st->secret) != 0)
        rc = MF_EPARSE;
    explicit_bzero(v, sizeof v);
    if (rc == MF_ENOTFOUND || rc == MF_EPARSE) {
        rc = mf_err_set(err, MF_EPARSE,
                        "state database '%s': the pseudonym key in meta is "
                        "missing or malformed",
                        s->path);
        goto out;
    }
    if (rc)
        goto out;
    rc = exec(s, "COMMIT", err);
out:
    if (rc)
        rollback(s);
    return rc;
}

int mf_state_open_sqlite(struct mf_state *st, const char *path, struct mf_err *err)
{
    struct sq *s = calloc(1, sizeof *s);
    if (s == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    pthread_mutex_init(&s->mu, NULL);
    st->impl = s;
    st->ops = &SQLITE_OPS;
    int rc;
    /* A new file is made here, readable by its owner only: it holds the pseudonym key and the
     * keys' hashes.  SQLite gives its -wal and -shm files the same mode. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
    } else if (errno != EEXIST) {
        rc = mf_err_set(err, MF_EIO, "cannot create the state database '%s': %s", path,
                        strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        rc = mf_err_set(err, MF_EINVAL, "state database '%s' is a folder", path);
        goto fail;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK) {
        rc = s->db ? db_err(s, err, "cannot open")
                   : mf_err_set(err, MF_ENOMEM, "out of memory opening '%s'", path);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 0);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* WAL: readers (a verify, an export) never block the server's writes; synchronous=FULL:
     * an audit row that was answered is on disk. */
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        sqlite3_finalize(q);
        rc = db_err(s, err, "cannot set the journal mode");
        goto fail;
    }
    sqlite3_finalize(q);
    if ((rc = exec(s, "PRAGMA synchronous=FULL", err)) != 0 || (rc = init_schema(st, err)) != 0)
        goto fail;
    return 0;
fail:
    sq_close(st);
    st->ops = NULL;
    return rc;
}
