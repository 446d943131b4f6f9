/* state_int.h - the state's backends (SQLite, PostgreSQL) behind one small table of functions.
 * Private to src/serve/state*.c.
 *
 * state.c does what is the same on both: checking arguments, making keys and hashes, the audit
 * chain's canonical text and hashes, verification.  A backend stores and reads rows, and makes
 * each call atomic: the backend's mutex serializes the state's threads, and its database
 * transactions (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) serialize processes.
 */
#ifndef MF_SERVE_STATE_INT_H
#define MF_SERVE_STATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "serve/state.h"

/* The schema version this medfm writes; a database with a larger one is refused. */
#define MF_STATE_SCHEMA_VERSION 1

/* Limits on what is stored (checked in state.c). */
#define MF_STATE_FEEDBACK_MAX (64 * 1024)

/* Row callback of audit_scan (see mf_state_audit_each). */
typedef int (*mf_audit_row_fn)(void *ctx, const struct mf_audit_row *row);

struct mf_state_ops {
    /* Store a new key's row (id, name, scopes, rate, created; revoked 0) and the SHA-256 of its
     * secret (hex).  MF_EEXIST when the id is taken. */
    int (*key_insert)(struct mf_state *st, const struct mf_key_info *ki, const char *sha256,
                      struct mf_err *err);
    /* The row of key id and its secret's hash: 0, MF_ENOTFOUND, or a database error. */
    int (*key_get)(struct mf_state *st, const char *id, struct mf_key_info *ki, char sha256[65],
                   struct mf_err *err);
    int (*key_list)(struct mf_state *st, struct mf_key_info **out, size_t *n, struct mf_err *err);
    /* Set revoked = now where it is 0; MF_ENOTFOUND when there is no such key. */
    int (*key_revoke)(struct mf_state *st, const char *id, int64_t now, struct mf_err *err);
    /* In one transaction, serialized against every other writer: read the chain's tail
     * (mf_state_chain_tail), fill in row->seq, prev_hash and hash (mf_audit_row_hash), insert
     * the row and record the new tail in meta. */
    int (*audit_append)(struct mf_state *st, struct mf_audit_row *row, struct mf_err *err);
    /* Call fn for each row in seq order, from one consistent snapshot; when tail_seq is not NULL
     * also return the tail recorded in meta in that snapshot (0 and 64 zeros when none). */
    int (*audit_scan)(struct mf_state *st, mf_audit_row_fn fn, void *ctx, int64_t *tail_seq,
                      char tail_hash[65], struct mf_err *err);
    /* Insert unless (card_uuid, key_id) exists; *created 1 or 0. */
    int (*feedback)(struct mf_state *st, const char *card_uuid, const char *key_id,
                    const char *service, const char *outcome, const char *body, int64_t now,
                    int *created, struct mf_err *err);
    void (*close)(struct mf_state *st);
};

struct mf_state {
    const struct mf_state_ops *ops;
    void *impl;               /* the backend's connection and mutex */
    unsigned char secret[32]; /* the pseudonym key, from meta */
};

/* Backends: open `where`, create the schema when absent, read (or make) the secret into
 * st->secret, and set st->ops and st->impl.  st is zeroed by the caller; on failure the
 * backend frees what it made. */
int mf_state_open_sqlite(struct mf_state *st, const char *path, struct mf_err *err);
int mf_state_open_pg(struct mf_state *st, const char *url, struct mf_err *err);

/* Helpers for backends (state.c). */

/* n random bytes from getrandom(). */
int mf_state_random(void *out, size_t n, struct mf_err *err);
/* Bytes as lowercase hex (out holds 2n + 1), and back (MF_EPARSE unless exactly 2n hex). */
void mf_state_hex(const unsigned char *in, size_t n, char *out);
int mf_state_unhex(const char *hex, unsigned char *out, size_t n);
/* Microseconds since the epoch, now. */
int64_t mf_state_now_us(void);
/* The row's hash: SHA-256(row->prev_hash || "\n" || canonical text) as hex into out. */
int mf_audit_row_hash(const struct mf_audit_row *row, char out[65]);
/* Where the chain continues: given the tail recorded in meta and the last row present (seq 0
 * when none), the seq and hash the next row links to.  The meta tail wins unless rows run past
 * it, so that rows removed from the end are not papered over by the next append. */
void mf_state_chain_tail(int64_t meta_seq, const char *meta_hash, int64_t last_seq,
                         const char *last_hash, int64_t *seq, char hash[65]);

#endif
