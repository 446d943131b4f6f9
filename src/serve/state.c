/* state.c - the server's durable state, the parts that do not depend on the database: scopes,
 * API keys (format, hashing, checks), pseudonyms, the audit log's hash chain and its FHIR
 * AuditEvent form, and dispatch to the backends (state_sqlite.c, state_pg.c).  See state.h and
 * docs/serve-state.md. */
#include "serve/state.h"
#include "serve/state_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <nettle/hmac.h>
#include <nettle/memops.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/timeutil.h"

static const char ZERO_HASH[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Scopes */

static const struct {
    const char *name;
    unsigned bit;
} SCOPES[] = {
    {"predict", MF_SCOPE_PREDICT},
    {"simulate", MF_SCOPE_SIMULATE},
    {"feedback", MF_SCOPE_FEEDBACK},
    {"admin", MF_SCOPE_ADMIN},
};

int mf_scopes_parse(const char *s, unsigned *out, struct mf_err *err)
{
    unsigned bits = 0;
    if (s == NULL)
        return mf_err_set(err, MF_EINVAL, "no scopes given");
    const char *p = s;
    for (;;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        const char *q = e;
        while (*q == ' ')
            q++;
        if (*q && *q != ',')
            return mf_err_set(err, MF_EINVAL, "a space inside a scope name");
        if (n == 0)
            return mf_err_set(err, MF_EINVAL,
                              "an empty scope in the list (give a comma-separated list of "
                              "predict, simulate, feedback, admin)");
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof SCOPES / sizeof SCOPES[0]; i++)
            if (strlen(SCOPES[i].name) == n && memcmp(SCOPES[i].name, p, n) == 0)
                bit = SCOPES[i].bit;
        if (bit == 0) {
            /* a scope name is not sensitive; shown cut short and without control bytes */
            char shown[33];
            size_t k = 0;
            for (size_t i = 0; i < n && k < sizeof shown - 1; i++)
                shown[k++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
            shown[k] = '\0';
            return mf_err_set(err, MF_EINVAL,
                              "unknown scope '%s%s' (known: predict, simulate, feedback, admin)",
                              shown, n > k ? "..." : "");
        }
        bits |= bit;
        if (*q == '\0')
            break;
        p = q + 1;
    }
    *out = bits;
    return 0;
}

void mf_scopes_format(unsigned scopes, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < sizeof SCOPES / sizeof SCOPES[0]; i++) {
        if (!(scopes & SCOPES[i].bit))
            continue;
        int k = snprintf(out + len, cap - len, "%s%s", len ? "," : "", SCOPES[i].name);
        if (k < 0 || (size_t)k >= cap - len) {
            out[len] = '\0';
            return;
        }
        len += (size_t)k;
    }
}

/* Small helpers shared with the backends */

int mf_state_random(void *out, size_t n, struct mf_err *err)
{
    unsigned char *p = out;
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(p + got, n - got, 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return mf_err_set(err, MF_EIO, "cannot read random bytes: %s", strerror(errno));
        }
        got += (size_t)k;
    }
    return 0;
}

void mf_state_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digit[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digit[in[i] >> 4];
        out[2 * i + 1] = digit[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mf_state_unhex(const char *hex, unsigned char *out, size_t n)
{
    if (hex == NULL || strlen(hex) != 2 * n)
        return MF_EPARSE;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return MF_EPARSE;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int64_t mf_state_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Open, close, pseudonyms */

int mf_state_where_is_pg(const char *where)
{
    return where &&
           (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0);
}

int mf_state_open(const char *where, struct mf_state **out, struct mf_err *err)
{
    *out = NULL;
    if (where == NULL || where[0] == '\0')
        return mf_err_set(err, MF_EINVAL, "no state database given");
    struct mf_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    int rc = mf_state_where_is_pg(where) ? mf_state_open_pg(st, where, err)
                                         : mf_state_open_sqlite(st, where, err);
    if (rc) {
        free(st);
        return rc;
    }
    *out = st;
    return 0;
}

void mf_state_close(struct mf_state *st)
{
    if (st == NULL)
        return;
    if (st->ops)
        st->ops->close(st);
    explicit_bzero(st->secret, sizeof st->secret);
    free(st);
}

void mf_state_pseudonym(const struct mf_state *st, const char *ref, size_t n, char out[65])
{
    struct hmac_sha256_ctx h;
    uint8_t md[SHA256_DIGEST_SIZE];
    hmac_sha256_set_key(&h, sizeof st->secret, st->secret);
    hmac_sha256_update(&h, n, (const uint8_t *)ref);
    hmac_sha256_digest(&h, sizeof md, md);
    mf_state_hex(md, sizeof md, out);
}

/* API keys */

#define KEY_PREFIX     "mfk_"
#define KEY_SECRET_LEN 43 /* 32 bytes, base64url without padding */
#define KEY_LEN        (4 + MF_KEY_ID_LEN + 1 + KEY_SECRET_LEN)

/* base64 of in into out (4 * ceil(n / 3) + 1 bytes): url 1 for the URL-safe alphabet without
 * padding, 0 for the standard one with padding. */
static void base64(const unsigned char *in, size_t n, char *out, int url)
{
    const char *alpha = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                            : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        if (!url) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
}

/* The length of the well-formed UTF-8 sequence at s[0..n) (no overlong forms, surrogates or
 * values past U+10FFFF), or 0 when none starts there. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0], min, v;
    size_t k;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        k = 1, min = 0x80, v = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        k = 2, min = 0x800, v = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        k = 3, min = 0x10000, v = c & 0x07;
    else
        return 0;
    if (k >= n)
        return 0;
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[j] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    return k + 1;
}

static int utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* Replace in place each byte of s that is not part of well-formed UTF-8 with '?'. */
static void utf8_clean(char *str)
{
    unsigned char *s = (unsigned char *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0) {
            s[i++] = '?';
            continue;
        }
        i += k;
    }
}

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Split a presented key into id and secret; 0 when it has the form, else -1. */
static int key_split(const char *key, size_t n, char id[MF_KEY_ID_LEN + 1], const char **secret)
{
    if (key == NULL || n != KEY_LEN || memcmp(key, KEY_PREFIX, 4) != 0 ||
        key[4 + MF_KEY_ID_LEN] != '_')
        return -1;
    for (size_t i = 0; i < MF_KEY_ID_LEN; i++) {
        char c = key[4 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
        id[i] = c;
    }
    id[MF_KEY_ID_LEN] = '\0';
    *secret = key + 4 + MF_KEY_ID_LEN + 1;
    for (size_t i = 0; i < KEY_SECRET_LEN; i++)
        if (!is_b64url((*secret)[i]))
            return -1;
    return 0;
}

static int check_name(const char *name, struct mf_err *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return mf_err_set(err, MF_EINVAL, "a key needs a name");
    if (n >= sizeof((struct mf_key_info *)0)->name)
        return mf_err_set(err, MF_EINVAL, "a key's name has at most %zu bytes",
                          sizeof((struct mf_key_info *)0)->name - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return mf_err_set(err, MF_EINVAL, "a key's name may not hold control characters");
    if (!utf8_valid(name, n))
        return mf_err_set(err, MF_EINVAL, "a key's name must be UTF-8");
    return 0;
}

int mf_state_key_create(struct mf_state *st, const char *name, unsigned scopes, int rate_per_min,
                        char key_out[MF_KEY_MAX_LEN + 1], struct mf_key_info *info,
                        struct mf_err *err)
{
    int rc = check_name(name, err);
    if (rc)
        return rc;
    if (scopes == 0 || (scopes & ~(unsigned)MF_SCOPE_ALL))
        return mf_err_set(err, MF_EINVAL, "a key needs one or more known scopes");
    if (rate_per_min < 0)
        return mf_err_set(err, MF_EINVAL, "a key's rate limit must be 0 or more");
    struct mf_key_info ki;
    memset(&ki, 0, sizeof ki);
    snprintf(ki.name, sizeof ki.name, "%s", name);
    ki.scopes = scopes;
    ki.rate_per_min = rate_per_min;
    for (int attempt = 0;; attempt++) {
        unsigned char idb[MF_KEY_ID_LEN / 2], sec[32];
        char secret[KEY_SECRET_LEN + 1], sha[65];
        if ((rc = mf_state_random(idb, sizeof idb, err)) != 0 ||
            (rc = mf_state_random(sec, sizeof sec, err)) != 0)
            return rc;
        mf_state_hex(idb, sizeof idb, ki.id);
        base64(sec, sizeof sec, secret, 1);
        memset(sec, 0, sizeof sec);
        if ((rc = mf_sha256_hex(secret, KEY_SECRET_LEN, sha)) != 0)
            return mf_err_set(err, rc, "out of memory");
        ki.created = mf_state_now_us();
        struct mf_err e2 = {0};
        rc = st->ops->key_insert(st, &ki, sha, &e2);
        if (rc == MF_EEXIST && attempt < 4) {
            memset(secret, 0, sizeof secret);
            continue; /* 48-bit ids: a collision is rare, try another */
        }
        if (rc) {
            memset(secret, 0, sizeof secret);
            return mf_err_set(err, rc, "%s", e2.msg);
        }
        snprintf(key_out, MF_KEY_MAX_LEN + 1, KEY_PREFIX "%s_%s", ki.id, secret);
        memset(secret, 0, sizeof secret);
        break;
    }
    if (info)
        *info = ki;
    return 0;
}

int mf_state_key_list(struct mf_state *st, struct mf_key_info **out, size_t *n, struct mf_err *err)
{
    *out = NULL;
    *n = 0;
    return st->ops->key_list(st, out, n, err);
}

static int valid_id(const char *id)
{
    if (id == NULL || strlen(id) != MF_KEY_ID_LEN)
        return 0;
    for (size_t i = 0; i < MF_KEY_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

int mf_state_key_revoke(struct mf_state *st, const char *id, struct mf_err *err)
{
    if (!valid_id(id))
        return mf_err_set(err, MF_ENOTFOUND, "no such key (a key id is 12 hex digits)");
    return st->ops->key_revoke(st, id, mf_state_now_us(), err);
}

int mf_state_key_check(struct mf_state *st, const char *key, size_t n, struct mf_key_info *info,
                       struct mf_err *err)
{
    static const char refused[] = "unknown or revoked API key";
    char id[MF_KEY_ID_LEN + 1], want[65] = {0}, got[65];
    const char *secret = NULL;
    if (key_split(key, n, id, &secret) != 0)
        return mf_err_set(err, MF_ENOTFOUND, refused);
    struct mf_key_info ki;
    struct mf_err e2 = {0};
    int rc = st->ops->key_get(st, id, &ki, want, &e2);
    if (rc == MF_ENOTFOUND)
        return mf_err_set(err, MF_ENOTFOUND, refused);
    if (rc)
        return mf_err_set(err, rc, "%s", e2.msg);
    if (mf_sha256_hex(secret, KEY_SECRET_LEN, got) != 0)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    int same = nettle_memeql_sec(want, got, 64);
    if (!same || ki.revoked != 0)
        return mf_err_set(err, MF_ENOTFOUND, refused);
    if (info)
        *info = ki;
    return 0;
}

/* The audit chain */

/* Append a field of the canonical text: '\\', '\t', '\n' and '\r' escaped so that fields can
 * never run into each other. */
static void canon_field(struct mf_sha256 *h, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = s[i] == '\\'   ? "\\\\"
                          : s[i] == '\t' ? "\\t"
                          : s[i] == '\n' ? "\\n"
                          : s[i] == '\r' ? "\\r"
                                         : NULL;
        if (esc == NULL)
            continue;
        mf_sha256_update(h, s + start, i - start);
        mf_sha256_update(h, esc, 2);
        start = i + 1;
    }
    mf_sha256_update(h, s + start, n - start);
}

int mf_audit_row_hash(const struct mf_audit_row *row, char out[65])
{
    struct mf_sha256 h;
    if (mf_sha256_init(&h) != 0)
        return MF_ENOMEM;
    char num[32];
#define STR(f)                                                                                     \
    do {                                                                                           \
        mf_sha256_update(&h, "\t", 1);                                                             \
        canon_field(&h, row->f, sizeof row->f);                                                    \
    } while (0)
#define NUM(v)                                                                                     \
    do {                                                                                           \
        int k_ = snprintf(num, sizeof num, "\t%" PRId64, (int64_t)(v));                            \
        mf_sha256_update(&h, num, (size_t)k_);                                                     \
    } while (0)
    mf_sha256_update(&h, row->prev_hash, strnlen(row->prev_hash, 64));
    mf_sha256_update(&h, "\n", 1);
    int k = snprintf(num, sizeof num, "%" PRId64, row->seq); /* the first field: no tab */
    mf_sha256_update(&h, num, (size_t)k);
    NUM(row->time);
    STR(request_id);
    STR(key_id);
    STR(route);
    STR(patient);
    STR(input_sha256);
    STR(model);
    NUM(row->status);
    STR(outcome);
    NUM(row->latency_us);
#undef STR
#undef NUM
    return mf_sha256_final(&h, out);
}

void mf_state_chain_tail(int64_t meta_seq, const char *meta_hash, int64_t last_seq,
                         const char *last_hash, int64_t *seq, char hash[65])
{
    const char *h = meta_hash;
    *seq = meta_seq;
    if (last_seq > meta_seq) {
        *seq = last_seq;
        h = last_hash;
    }
    if (*seq <= 0 || h == NULL || strlen(h) != 64) {
        if (*seq < 0)
            *seq = 0;
        h = *seq == 0 ? ZERO_HASH : (h ? h : ZERO_HASH);
    }
    snprintf(hash, 65, "%s", h);
}

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

int mf_state_audit_append(struct mf_state *st, struct mf_audit_row *row, struct mf_err *err)
{
    if (!terminated(row->request_id, sizeof row->request_id) ||
        !terminated(row->key_id, sizeof row->key_id) ||
        !terminated(row->route, sizeof row->route) ||
        !terminated(row->patient, sizeof row->patient) ||
        !terminated(row->input_sha256, sizeof row->input_sha256) ||
        !terminated(row->model, sizeof row->model) ||
        !terminated(row->outcome, sizeof row->outcome))
        return mf_err_set(err, MF_EINVAL, "an audit row's field is not terminated");
    /* Text is stored as UTF-8 (PostgreSQL refuses anything else, and FHIR is UTF-8): a stray
     * byte in, say, a request id must not cost the request its audit row. */
    utf8_clean(row->request_id);
    utf8_clean(row->key_id);
    utf8_clean(row->route);
    utf8_clean(row->patient);
    utf8_clean(row->input_sha256);
    utf8_clean(row->model);
    utf8_clean(row->outcome);
    return st->ops->audit_append(st, row, err);
}

int mf_state_audit_each(struct mf_state *st, int (*fn)(void *ctx, const struct mf_audit_row *row),
                        void *ctx, struct mf_err *err)
{
    return st->ops->audit_scan(st, fn, ctx, NULL, NULL, err);
}

struct verify_ctx {
    int64_t rows, expect, first_bad, last_seq;
    char prev[65];
    char why[200];
};

static int verify_row(void *vctx, const struct mf_audit_row *row)
{
    struct verify_ctx *v = vctx;
    v->rows++;
    if (row->seq != v->expect) {
        v->first_bad = v->expect;
        if (row->seq > v->expect)
            snprintf(v->why, sizeof v->why,
                     "row %" PRId64 " is missing (row %" PRId64 " follows row %" PRId64 ")",
                     v->expect, row->seq, v->expect - 1);
        else
            snprintf(v->why, sizeof v->why, "row %" PRId64 " has the sequence number %" PRId64,
                     v->expect, row->seq);
        return 1;
    }
    if (strcmp(row->prev_hash, v->prev) != 0) {
        v->first_bad = row->seq;
        snprintf(v->why, sizeof v->why,
                 "row %" PRId64 " does not link to the row before it (its prev_hash differs)",
                 row->seq);
        return 1;
    }
    char h[65];
    if (mf_audit_row_hash(row, h) != 0)
        return 2; /* out of memory */
    if (strcmp(h, row->hash) != 0) {
        v->first_bad = row->seq;
        snprintf(v->why, sizeof v->why,
                 "row %" PRId64 " does not match its hash (the row or its hash was changed)",
                 row->seq);
        return 1;
    }
    memcpy(v->prev, row->hash, sizeof v->prev);
    v->last_seq = row->seq;
    v->expect++;
    return 0;
}

int mf_state_audit_verify(struct mf_state *st, struct mf_audit_check *out, struct mf_err *err)
{
    struct verify_ctx v;
    memset(&v, 0, sizeof v);
    v.expect = 1;
    memcpy(v.prev, ZERO_HASH, sizeof v.prev);
    out->rows = 0;
    out->first_bad = 0;
    int64_t tail_seq = 0;
    char tail_hash[65] = "";
    int rc = st->ops->audit_scan(st, verify_row, &v, &tail_seq, tail_hash, err);
    if (rc < 0)
        return rc;
    if (rc == 2)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    out->rows = v.rows;
    if (v.first_bad == 0) {
        /* the rows chain; do they reach the tail recorded when the last row was written? */
        if (tail_seq > v.last_seq) {
            v.first_bad = v.last_seq + 1;
            snprintf(v.why, sizeof v.why,
                     "row %" PRId64 " is missing: the log ends at row %" PRId64 " but %" PRId64
                     " rows were written (rows were removed from its end)",
                     v.last_seq + 1, v.last_seq, tail_seq);
        } else if (tail_seq < v.last_seq) {
            v.first_bad = tail_seq + 1;
            snprintf(v.why, sizeof v.why,
                     "row %" PRId64 " was not recorded as written (the log's recorded end is row "
                     "%" PRId64 ")",
                     tail_seq + 1, tail_seq);
        } else if (v.last_seq > 0 && strcmp(tail_hash, v.prev) != 0) {
            v.first_bad = v.last_seq;
            snprintf(v.why, sizeof v.why,
                     "row %" PRId64 " differs from the row written (its hash is not the one "
                     "recorded)",
                     v.last_seq);
        }
    }
    out->first_bad = v.first_bad;
    if (v.first_bad)
        mf_err_set(err, MF_EPARSE, "audit log broken: %s", v.why);
    return 0;
}

/* FHIR AuditEvent */

/* "key":"val"; bytes that are not UTF-8 (which JSON cannot carry) become '?'. */
static int json_pair(struct mf_buf *b, const char *key, const char *val)
{
    size_t n = strlen(val);
    int rc = mf_buf_json_string(b, key, strlen(key)) | mf_buf_putc(b, ':');
    if (utf8_valid(val, n))
        return rc | mf_buf_json_string(b, val, n);
    char clean[256];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof clean - 1; i++)
        clean[k++] = (unsigned char)val[i] < 0x80 ? val[i] : '?';
    return rc | mf_buf_json_string(b, clean, k);
}

/* An entity.detail: valueString, or valueBase64Binary for a value that is not UTF-8, so that the
 * exact bytes of every chained field survive the export. */
static int detail(struct mf_buf *b, int *first, const char *type, const char *val)
{
    size_t n = strlen(val);
    if (n == 0)
        return 0; /* FHIR strings are never empty: an absent detail reads as "" */
    int rc = *first ? 0 : mf_buf_putc(b, ',');
    *first = 0;
    rc |= mf_buf_putc(b, '{') | json_pair(b, "type", type) | mf_buf_putc(b, ',');
    if (utf8_valid(val, n)) {
        rc |= json_pair(b, "valueString", val);
    } else {
        char enc[4 * (256 / 3 + 1) + 1];
        if (n > 255)
            return MF_ETOOBIG;
        base64((const unsigned char *)val, n, enc, 0);
        rc |= json_pair(b, "valueBase64Binary", enc);
    }
    return rc | mf_buf_putc(b, '}');
}

static const char *row_action(const char *route)
{
    if (strncmp(route, "GET ", 4) == 0 || strncmp(route, "HEAD ", 5) == 0)
        return "R";
    if (strncmp(route, "PUT ", 4) == 0 || strncmp(route, "PATCH ", 6) == 0)
        return "U";
    if (strncmp(route, "DELETE ", 7) == 0)
        return "D";
    if (strncmp(route, "POST ", 5) == 0 && strstr(route, "/feedback") != NULL)
        return "C";
    return "E";
}

#define MF_FHIR_BASE "https://medfm.invalid/fhir/"

int mf_audit_row_fhir(const struct mf_audit_row *row, struct mf_buf *out)
{
    char t[32], num[32];
    int rc = 0;
    size_t start = out->len;
    mf_time_format(row->time, t);
    rc |= mf_buf_printf(out, "{\"resourceType\":\"AuditEvent\",\"id\":\"medfm-audit-%" PRId64 "\",",
                        row->seq);
    rc |= mf_buf_puts(out,
                      "\"type\":{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                      "audit-event-type\",\"code\":\"rest\",\"display\":\"RESTful Operation\"},");
    if (row->route[0]) {
        rc |= mf_buf_puts(out, "\"subtype\":[{\"system\":\"" MF_FHIR_BASE "route\",");
        rc |= json_pair(out, "code", row->route);
        rc |= mf_buf_puts(out, "}],");
    }
    rc |= mf_buf_printf(out, "\"action\":\"%s\",\"recorded\":\"%s\",", row_action(row->route), t);
    rc |= mf_buf_printf(out, "\"outcome\":\"%s\",",
                        row->status >= 500   ? "8"
                        : row->status >= 400 ? "4"
                        : row->status > 0    ? "0"
                                             : "8");
    char desc[96];
    snprintf(desc, sizeof desc, "%s, HTTP %d", row->outcome[0] ? row->outcome : "-", row->status);
    rc |= json_pair(out, "outcomeDesc", desc);
    /* agent: the caller */
    rc |= mf_buf_puts(out, ",\"agent\":[{\"who\":{");
    if (row->key_id[0] == '\0' || strcmp(row->key_id, "-") == 0) {
        rc |= mf_buf_puts(out, "\"display\":\"unauthenticated caller\"");
    } else {
        int jwt = strncmp(row->key_id, "jwt:", 4) == 0;
        rc |= mf_buf_printf(out, "\"identifier\":{\"system\":\"" MF_FHIR_BASE "%s\",",
                            jwt ? "jwt-issuer" : "api-key");
        rc |= json_pair(out, "value", row->key_id);
        rc |= mf_buf_putc(out, '}');
    }
    rc |= mf_buf_puts(out, "},\"requestor\":true}],");
    /* source: this server */
    rc |=
        mf_buf_puts(out, "\"source\":{\"observer\":{\"display\":\"medfm\"},\"type\":[{\"system\":"
                         "\"http://terminology.hl7.org/CodeSystem/security-source-type\",\"code\":"
                         "\"4\",\"display\":\"Application Server\"}]},");
    /* entities: the patient (pseudonym only), the input (its hash), the model, the log row */
    rc |= mf_buf_puts(out, "\"entity\":[");
    if (row->patient[0]) {
        rc |= mf_buf_puts(out, "{\"what\":{\"identifier\":{\"system\":\"" MF_FHIR_BASE
                               "patient-pseudonym\",");
        rc |= json_pair(out, "value", row->patient);
        rc |=
            mf_buf_puts(out, "}},\"type\":{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                             "audit-entity-type\",\"code\":\"1\",\"display\":\"Person\"},\"role\":{"
                             "\"system\":\"http://terminology.hl7.org/CodeSystem/object-role\","
                             "\"code\":\"1\",\"display\":\"Patient\"}},");
    }
    if (row->input_sha256[0]) {
        rc |= mf_buf_puts(out, "{\"what\":{\"identifier\":{\"system\":\"" MF_FHIR_BASE
                               "input-sha256\",");
        rc |= json_pair(out, "value", row->input_sha256);
        rc |= mf_buf_puts(out, "}},\"type\":{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                               "audit-entity-type\",\"code\":\"2\",\"display\":\"System Object\"},"
                               "\"name\":\"request body\",\"description\":\"SHA-256 of the request "
                               "body\"},");
    }
    if (row->model[0]) {
        rc |= mf_buf_puts(out, "{\"what\":{\"identifier\":{\"system\":\"" MF_FHIR_BASE "model\",");
        rc |= json_pair(out, "value", row->model);
        rc |= mf_buf_puts(out, "}},\"type\":{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                               "audit-entity-type\",\"code\":\"2\",\"display\":\"System Object\"},"
                               "\"name\":\"model\"},");
    }
    /* the row itself, with every field of the chain's canonical text, so that an export can be
     * re-verified without the database (docs/serve-state.md) */
    snprintf(num, sizeof num, "%" PRId64, row->seq);
    rc |= mf_buf_puts(out, "{\"what\":{\"identifier\":{\"system\":\"" MF_FHIR_BASE "audit-log\",");
    rc |= json_pair(out, "value", num);
    rc |= mf_buf_puts(out, "}},\"type\":{\"system\":\"http://terminology.hl7.org/CodeSystem/"
                           "audit-entity-type\",\"code\":\"2\",\"display\":\"System Object\"},"
                           "\"name\":\"medfm audit log row\",\"detail\":[");
    int first = 1;
    rc |= detail(out, &first, "seq", num);
    snprintf(num, sizeof num, "%" PRId64, row->time);
    rc |= detail(out, &first, "time_us", num);
    rc |= detail(out, &first, "request_id", row->request_id);
    rc |= detail(out, &first, "key_id", row->key_id);
    rc |= detail(out, &first, "route", row->route);
    rc |= detail(out, &first, "patient", row->patient);
    rc |= detail(out, &first, "input_sha256", row->input_sha256);
    rc |= detail(out, &first, "model", row->model);
    snprintf(num, sizeof num, "%d", row->status);
    rc |= detail(out, &first, "status", num);
    rc |= detail(out, &first, "outcome", row->outcome);
    snprintf(num, sizeof num, "%" PRId64, row->latency_us);
    rc |= detail(out, &first, "latency_us", num);
    rc |= detail(out, &first, "prev_hash", row->prev_hash);
    rc |= detail(out, &first, "hash", row->hash);
    rc |= mf_buf_puts(out, "]}]}");
    if (rc) {
        /* a buffer error: leave out as it was */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return MF_ENOMEM;
    }
    return 0;
}

/* Feedback */

int mf_state_feedback(struct mf_state *st, const char *card_uuid, const char *key_id,
                      const char *service, const char *outcome, const char *body, int *created,
                      struct mf_err *err)
{
    *created = 0;
    if (card_uuid == NULL || card_uuid[0] == '\0' || strlen(card_uuid) > 128)
        return mf_err_set(err, MF_EINVAL, "feedback needs a card id (at most 128 bytes)");
    if (key_id == NULL || service == NULL || body == NULL)
        return mf_err_set(err, MF_EINVAL, "feedback needs a caller, a service and a body");
    if (outcome == NULL || (strcmp(outcome, "accepted") != 0 && strcmp(outcome, "overridden") != 0))
        return mf_err_set(err, MF_EINVAL, "feedback outcome must be accepted or overridden");
    if (strlen(body) > MF_STATE_FEEDBACK_MAX)
        return mf_err_set(err, MF_ETOOBIG, "feedback body over %d bytes", MF_STATE_FEEDBACK_MAX);
    /* stored as UTF-8, as audit rows are */
    char *c[4] = {NULL, NULL, NULL, NULL};
    const char *in[4] = {card_uuid, key_id, service, body};
    int rc = 0;
    for (int i = 0; i < 4; i++) {
        if (utf8_valid(in[i], strlen(in[i])))
            continue;
        if ((c[i] = strdup(in[i])) == NULL) {
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            break;
        }
        utf8_clean(c[i]);
        in[i] = c[i];
    }
    if (rc == 0)
        rc = st->ops->feedback(st, in[0], in[1], in[2], outcome, in[3], mf_state_now_us(), created,
                               err);
    for (int i = 0; i < 4; i++)
        free(c[i]);
    return rc;
}
