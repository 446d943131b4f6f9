/* state.h - the server's durable state: API keys, the audit log, physician feedback.
 *
 * One schema on two backends: SQLite (a file, the default) and PostgreSQL (libpq, when several
 * servers share one database: a "postgresql://" or "postgres://" URL).  Every function is
 * thread-safe (one state object is shared by all the server's threads).
 *
 * API keys.  A key is "mfk_<id>_<secret>": id is 12 lowercase hex digits (public: it names the
 * key in lists, logs and the audit), secret is 43 base64url characters (32 random bytes).  The
 * database keeps the id, the name, the scopes, the rate limit, the creation and revocation
 * times and SHA-256(secret) (hex) - never the secret, which is shown once at creation.
 *
 * The audit log is append-only and hash-chained: row i stores
 *     hash_i = SHA-256(hash_{i-1} || "\n" || the row's canonical text)
 * (hash_0 = 64 zeros), where the canonical text is the row's fields joined by '\t' in a fixed
 * order.  Changing, removing or reordering a row breaks every later hash; mf_state_audit_verify
 * finds the first broken row.  Rows hold no PHI: the patient appears only as a keyed pseudonym
 * (HMAC-SHA256 under the state's secret key) and the input only as its SHA-256.
 *
 * Feedback: one row per (card uuid, key id), recorded once; a second identical call is a no-op
 * reported as such (CDS Hooks feedback is idempotent per card).
 */
#ifndef MF_SERVE_STATE_H
#define MF_SERVE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Scopes, as a bit set. */
enum {
    MF_SCOPE_PREDICT = 1u << 0,
    MF_SCOPE_SIMULATE = 1u << 1,
    MF_SCOPE_FEEDBACK = 1u << 2,
    MF_SCOPE_ADMIN = 1u << 3,
};
#define MF_SCOPE_ALL (MF_SCOPE_PREDICT | MF_SCOPE_SIMULATE | MF_SCOPE_FEEDBACK | MF_SCOPE_ADMIN)

/* "predict,simulate" -> bits; MF_EINVAL (err names the unknown scope) on an unknown name or an
 * empty list. */
int mf_scopes_parse(const char *s, unsigned *out, struct mf_err *err);
/* bits -> "predict,simulate,..." into out (cap >= 64). */
void mf_scopes_format(unsigned scopes, char *out, size_t cap);

struct mf_state;

/* 1 when `where` names a PostgreSQL database (a "postgresql://" or "postgres://" URL), else 0
 * (a SQLite file). */
int mf_state_where_is_pg(const char *where);

/* Open (creating the schema when absent) the database at `where`: a file path for SQLite, or a
 * postgresql:// URL.  The secret key for patient pseudonyms is made (32 random bytes) on the
 * first open and kept in the database. */
int mf_state_open(const char *where, struct mf_state **out, struct mf_err *err);
void mf_state_close(struct mf_state *st);

/* The keyed pseudonym of a patient reference: HMAC-SHA256(secret, ref), 64 hex digits. */
void mf_state_pseudonym(const struct mf_state *st, const char *ref, size_t n, char out[65]);

#define MF_KEY_ID_LEN  12
#define MF_KEY_MAX_LEN 80

struct mf_key_info {
    char id[MF_KEY_ID_LEN + 1];
    char name[128];
    unsigned scopes;
    int rate_per_min; /* requests per minute; 0: the server's default */
    int64_t created;  /* microseconds since the epoch */
    int64_t revoked;  /* 0: active */
};

/* Make a key: returns it (NUL-terminated) in key_out, and its row in info (may be NULL). */
int mf_state_key_create(struct mf_state *st, const char *name, unsigned scopes, int rate_per_min,
                        char key_out[MF_KEY_MAX_LEN + 1], struct mf_key_info *info,
                        struct mf_err *err);
/* All keys, oldest first (free with free()). */
int mf_state_key_list(struct mf_state *st, struct mf_key_info **out, size_t *n, struct mf_err *err);
/* Revoke by id: MF_ENOTFOUND when no such key; revoking twice is not an error. */
int mf_state_key_revoke(struct mf_state *st, const char *id, struct mf_err *err);
/* Check a presented key: 0 and its info when it is well formed, known, not revoked and its
 * secret's hash matches (compared in constant time); MF_ENOTFOUND otherwise (err says
 * "unknown or revoked API key" - the same for every failure, so callers learn nothing). */
int mf_state_key_check(struct mf_state *st, const char *key, size_t n, struct mf_key_info *info,
                       struct mf_err *err);

/* One audited request.  Strings may be empty, never NULL. */
struct mf_audit_row {
    int64_t seq;                     /* assigned on append (1, 2, ...) */
    int64_t time;                    /* microseconds since the epoch */
    char request_id[40];             /* the x-request-id */
    char key_id[MF_KEY_ID_LEN + 16]; /* API key id, "jwt:<iss>" digest, or "-" */
    char route[96];                  /* e.g. "POST /v1/predict" */
    char patient[65];                /* mf_state_pseudonym of the patient reference, or "" */
    char input_sha256[65];
    char model[96];   /* model name and version */
    int status;       /* HTTP status */
    char outcome[32]; /* "ok", "bad-request", "unauthorized", "rate-limited", ... */
    int64_t latency_us;
    char prev_hash[65], hash[65]; /* set on append */
};

/* Append a row (seq, prev_hash and hash are filled in; bytes of its text fields that are not
 * UTF-8 are replaced by '?', as stored).  Serialized across threads and, on PostgreSQL, across
 * servers. */
int mf_state_audit_append(struct mf_state *st, struct mf_audit_row *row, struct mf_err *err);

struct mf_audit_check {
    int64_t rows;      /* rows checked */
    int64_t first_bad; /* seq of the first row whose hash or link is wrong, or 0 */
};
/* Recompute the chain.  Returns 0 with first_bad == 0 when intact, 0 with first_bad set when
 * tampered (err says which row and what is wrong), negative on a database error. */
int mf_state_audit_verify(struct mf_state *st, struct mf_audit_check *out, struct mf_err *err);

/* Call fn for every row in order (stops early when fn returns non-zero, returning that).  The
 * rows come from one snapshot; fn runs while the state is locked, so it must not call the
 * state. */
int mf_state_audit_each(struct mf_state *st, int (*fn)(void *ctx, const struct mf_audit_row *row),
                        void *ctx, struct mf_err *err);

/* A row as a FHIR R4 AuditEvent (one line of NDJSON, no trailing newline) into out. */
struct mf_buf;
int mf_audit_row_fhir(const struct mf_audit_row *row, struct mf_buf *out);

/* Feedback on a card.  outcome is "accepted" or "overridden"; body the JSON as received
 * (kept, it carries no PHI: card uuid, outcome, override reasons).  *created is 1 when it was
 * recorded now, 0 when the same (card, key) was recorded before (nothing changes). */
int mf_state_feedback(struct mf_state *st, const char *card_uuid, const char *key_id,
                      const char *service, const char *outcome, const char *body, int *created,
                      struct mf_err *err);

#endif
