/* test_state.c - unit tests for src/serve/state*.c: scopes, API keys, pseudonyms, the audit
 * chain (appends, verification, tampering found by editing the SQLite file directly), the FHIR
 * AuditEvent form, feedback, concurrency, and database errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/hmac.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "serve/state.h"
#include "serve/state_int.h"

static char tmpdir[512];

static int setup_tmp(void **state)
{
    (void)state;
    const char *base = getenv("MEDFM_TEST_TMP");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    if (mf_fs_mkdir_p(base, NULL) != 0)
        return -1;
    snprintf(tmpdir, sizeof tmpdir, "%s/test_state-XXXXXX", base);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    return mf_fs_rm_rf(tmpdir);
}

/* A fresh database path per test. */
static const char *db_path(const char *name)
{
    static char p[600];
    snprintf(p, sizeof p, "%s/%s.sqlite", tmpdir, name);
    return p;
}

static struct mf_state *open_db(const char *path)
{
    struct mf_state *st = NULL;
    struct mf_err err = {0};
    int rc = mf_state_open(path, &st, &err);
    if (rc)
        fprintf(stderr, "open: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(st);
    return st;
}

static void sql(const char *path, const char *stmt, int want_ok)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, stmt, NULL, NULL, &msg);
    if (want_ok && rc != SQLITE_OK)
        fprintf(stderr, "sql: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    if (want_ok)
        assert_int_equal(rc, SQLITE_OK);
    else
        assert_int_not_equal(rc, SQLITE_OK);
}

static void fill_row(struct mf_state *st, struct mf_audit_row *row, int i)
{
    memset(row, 0, sizeof *row);
    row->time = INT64_C(1767225600000000) + i * 1000;
    snprintf(row->request_id, sizeof row->request_id, "req-%d", i);
    snprintf(row->key_id, sizeof row->key_id, "0123456789ab");
    snprintf(row->route, sizeof row->route, "POST /v1/predict");
    char ref[32];
    int k = snprintf(ref, sizeof ref, "Patient/%d", i);
    mf_state_pseudonym(st, ref, (size_t)k, row->patient);
    mf_sha256_hex(ref, (size_t)k, row->input_sha256);
    snprintf(row->model, sizeof row->model, "medfm/m 0.1.0+abc");
    row->status = 200;
    snprintf(row->outcome, sizeof row->outcome, "ok");
    row->latency_us = 1234 + i;
}

static void append_n(struct mf_state *st, int n)
{
    for (int i = 0; i < n; i++) {
        struct mf_audit_row row;
        struct mf_err err = {0};
        fill_row(st, &row, i);
        assert_int_equal(mf_state_audit_append(st, &row, &err), 0);
    }
}

static struct mf_audit_check verify(struct mf_state *st, struct mf_err *err)
{
    struct mf_audit_check c;
    assert_int_equal(mf_state_audit_verify(st, &c, err), 0);
    return c;
}

static const char *find(const char *hay, size_t n, const char *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

/* Scopes */

static void scopes_parse_and_format(void **state)
{
    (void)state;
    struct mf_err err = {0};
    unsigned s = 0;
    assert_int_equal(mf_scopes_parse("predict", &s, &err), 0);
    assert_int_equal(s, MF_SCOPE_PREDICT);
    assert_int_equal(mf_scopes_parse("predict,simulate,feedback,admin", &s, &err), 0);
    assert_int_equal(s, MF_SCOPE_ALL);
    assert_int_equal(mf_scopes_parse("admin, predict ,predict", &s, &err), 0);
    assert_int_equal(s, MF_SCOPE_ADMIN | MF_SCOPE_PREDICT);
    char out[64];
    mf_scopes_format(MF_SCOPE_FEEDBACK | MF_SCOPE_PREDICT, out, sizeof out);
    assert_string_equal(out, "predict,feedback");
    mf_scopes_format(MF_SCOPE_ALL, out, sizeof out);
    assert_string_equal(out, "predict,simulate,feedback,admin");
    assert_int_equal(mf_scopes_parse(out, &s, &err), 0);
    assert_int_equal(s, MF_SCOPE_ALL);
    mf_scopes_format(0, out, sizeof out);
    assert_string_equal(out, "");
    char small[10];
    mf_scopes_format(MF_SCOPE_ALL, small, sizeof small);
    assert_true(strlen(small) < sizeof small);

    const char *bad[] = {"",        ",",        "predict,", ",predict", "predict,,simulate",
                         "Predict", "predictx", "pre dict", "all",      " "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mf_err e = {0};
        s = 77;
        assert_int_equal(mf_scopes_parse(bad[i], &s, &e), MF_EINVAL);
        assert_int_equal(s, 77);
        assert_true(e.msg[0] != '\0');
    }
    struct mf_err e = {0};
    assert_int_equal(mf_scopes_parse("predict,frobnicate", &s, &e), MF_EINVAL);
    assert_non_null(strstr(e.msg, "'frobnicate'"));
}

/* Keys */

static void keys_create_check_revoke_list(void **state)
{
    (void)state;
    const char *path = db_path("keys");
    struct mf_state *st = open_db(path);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    struct mf_err err = {0};
    char k1[MF_KEY_MAX_LEN + 1], k2[MF_KEY_MAX_LEN + 1];
    struct mf_key_info i1, i2, got;
    assert_int_equal(
        mf_state_key_create(st, "ehr one", MF_SCOPE_PREDICT | MF_SCOPE_FEEDBACK, 30, k1, &i1, &err),
        0);
    assert_int_equal(mf_state_key_create(st, "admin", MF_SCOPE_ADMIN, 0, k2, &i2, &err), 0);
    /* the form: mfk_<12 hex>_<43 base64url> */
    assert_int_equal(strlen(k1), 4 + 12 + 1 + 43);
    assert_memory_equal(k1, "mfk_", 4);
    assert_memory_equal(k1 + 4, i1.id, 12);
    assert_int_equal(k1[16], '_');
    for (size_t i = 17; i < strlen(k1); i++)
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", k1[i]));
    assert_string_not_equal(i1.id, i2.id);
    assert_string_not_equal(k1 + 17, k2 + 17);
    assert_int_equal(i1.revoked, 0);
    assert_true(i1.created > INT64_C(1600000000000000));

    assert_int_equal(mf_state_key_check(st, k1, strlen(k1), &got, &err), 0);
    assert_string_equal(got.id, i1.id);
    assert_string_equal(got.name, "ehr one");
    assert_int_equal(got.scopes, MF_SCOPE_PREDICT | MF_SCOPE_FEEDBACK);
    assert_int_equal(got.rate_per_min, 30);
    assert_int_equal(got.created, i1.created);

    struct mf_key_info *list = NULL;
    size_t n = 0;
    assert_int_equal(mf_state_key_list(st, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, i1.id); /* oldest first */
    assert_string_equal(list[1].id, i2.id);
    free(list);

    /* the database never holds the secret */
    mf_state_close(st);
    struct mf_buf file = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(path, 1 << 24, &file, &err), 0);
    assert_null(find(file.data, file.len, k1 + 17, 43));
    assert_null(find(file.data, file.len, k2 + 17, 43));
    mf_buf_release(&file);
    st = open_db(path);

    assert_int_equal(mf_state_key_revoke(st, i1.id, &err), 0);
    assert_int_equal(mf_state_key_revoke(st, i1.id, &err), 0); /* twice: fine */
    struct mf_err e = {0};
    assert_int_equal(mf_state_key_check(st, k1, strlen(k1), &got, &e), MF_ENOTFOUND);
    assert_string_equal(e.msg, "unknown or revoked API key");
    assert_int_equal(mf_state_key_check(st, k2, strlen(k2), &got, &err), 0);
    assert_int_equal(mf_state_key_list(st, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_true(list[0].revoked >= list[0].created);
    assert_int_equal(list[1].revoked, 0);
    free(list);

    mf_err_clear(&e);
    assert_int_equal(mf_state_key_revoke(st, "000000000000", &e), MF_ENOTFOUND);
    mf_err_clear(&e);
    assert_int_equal(mf_state_key_revoke(st, "not-an-id", &e), MF_ENOTFOUND);

    /* bad arguments */
    mf_err_clear(&e);
    assert_int_equal(mf_state_key_create(st, "", MF_SCOPE_PREDICT, 0, k1, NULL, &e), MF_EINVAL);
    mf_err_clear(&e);
    assert_int_equal(mf_state_key_create(st, "x", 0, 0, k1, NULL, &e), MF_EINVAL);
    mf_err_clear(&e);
    assert_int_equal(mf_state_key_create(st, "x", 1u << 9, 0, k1, NULL, &e), MF_EINVAL);
    mf_err_clear(&e);
    assert_int_equal(mf_state_key_create(st, "x", MF_SCOPE_PREDICT, -1, k1, NULL, &e), MF_EINVAL);
    mf_err_clear(&e);
    assert_int_equal(mf_state_key_create(st, "a\nb", MF_SCOPE_PREDICT, 0, k1, NULL, &e), MF_EINVAL);
    mf_state_close(st);
}

static void keys_reject_bad_presentations(void **state)
{
    (void)state;
    struct mf_state *st = open_db(db_path("keys_bad"));
    struct mf_err err = {0};
    char k[MF_KEY_MAX_LEN + 1];
    struct mf_key_info ki;
    assert_int_equal(mf_state_key_create(st, "ehr", MF_SCOPE_PREDICT, 0, k, &ki, &err), 0);
    size_t n = strlen(k);
    char bad[MF_KEY_MAX_LEN + 8];

    struct {
        const char *what;
        char text[MF_KEY_MAX_LEN + 8];
        size_t len;
    } cases[12];
    int nc = 0;
    /* wrong secret: last character changed */
    memcpy(cases[nc].text, k, n + 1);
    cases[nc].text[n - 1] = cases[nc].text[n - 1] == 'A' ? 'B' : 'A';
    cases[nc].len = n;
    cases[nc++].what = "wrong secret";
    /* wrong secret: first character changed */
    memcpy(cases[nc].text, k, n + 1);
    cases[nc].text[17] = cases[nc].text[17] == 'A' ? 'B' : 'A';
    cases[nc].len = n;
    cases[nc++].what = "wrong secret (first)";
    /* unknown id */
    memcpy(cases[nc].text, k, n + 1);
    cases[nc].text[4] = cases[nc].text[4] == '0' ? '1' : '0';
    cases[nc].len = n;
    cases[nc++].what = "unknown id";
    /* uppercase id */
    memcpy(cases[nc].text, k, n + 1);
    for (int i = 4; i < 16; i++)
        if (cases[nc].text[i] >= 'a')
            cases[nc].text[i] = (char)(cases[nc].text[i] - 32);
    cases[nc].len = n;
    cases[nc++].what = "uppercase id";
    /* truncated */
    memcpy(cases[nc].text, k, n + 1);
    cases[nc].len = n - 1;
    cases[nc].text[n - 1] = '\0';
    cases[nc++].what = "short";
    /* one too many */
    snprintf(cases[nc].text, sizeof cases[nc].text, "%sA", k);
    cases[nc].len = n + 1;
    cases[nc++].what = "long";
    /* wrong prefix */
    memcpy(cases[nc].text, k, n + 1);
    cases[nc].text[0] = 'x';
    cases[nc].len = n;
    cases[nc++].what = "prefix";
    /* a bad character in the secret */
    memcpy(cases[nc].text, k, n + 1);
    cases[nc].text[20] = '+';
    cases[nc].len = n;
    cases[nc++].what = "not base64url";
    /* the separator */
    memcpy(cases[nc].text, k, n + 1);
    cases[nc].text[16] = '-';
    cases[nc].len = n;
    cases[nc++].what = "separator";
    /* empty */
    cases[nc].text[0] = '\0';
    cases[nc].len = 0;
    cases[nc++].what = "empty";
    /* an embedded NUL within the length */
    memcpy(cases[nc].text, k, n + 1);
    cases[nc].text[30] = '\0';
    cases[nc].len = n;
    cases[nc++].what = "NUL";
    for (int i = 0; i < nc; i++) {
        struct mf_err e = {0};
        memcpy(bad, cases[i].text,
               sizeof bad < sizeof cases[i].text ? sizeof bad : sizeof cases[i].text);
        int rc = mf_state_key_check(st, bad, cases[i].len, &ki, &e);
        if (rc != MF_ENOTFOUND)
            fprintf(stderr, "case %s: %d\n", cases[i].what, rc);
        assert_int_equal(rc, MF_ENOTFOUND);
        assert_string_equal(e.msg, "unknown or revoked API key");
    }
    struct mf_err e = {0};
    assert_int_equal(mf_state_key_check(st, NULL, 0, &ki, &e), MF_ENOTFOUND);
    /* and the real one still passes */
    assert_int_equal(mf_state_key_check(st, k, n, &ki, &err), 0);
    mf_state_close(st);
}

/* Pseudonyms */

static void pseudonyms_deterministic_and_keyed(void **state)
{
    (void)state;
    char pa[600];
    snprintf(pa, sizeof pa, "%s", db_path("pseudo_a"));
    char a1[65], a2[65], a3[65], b1[65];
    struct mf_state *st = open_db(pa);
    mf_state_pseudonym(st, "Patient/1", 9, a1);
    mf_state_pseudonym(st, "Patient/2", 9, a3);
    mf_state_close(st);
    st = open_db(pa); /* the secret persists */
    mf_state_pseudonym(st, "Patient/1", 9, a2);
    mf_state_close(st);
    st = open_db(db_path("pseudo_b"));
    mf_state_pseudonym(st, "Patient/1", 9, b1);
    mf_state_close(st);
    assert_int_equal(strlen(a1), 64);
    assert_string_equal(a1, a2);
    assert_string_not_equal(a1, a3);
    assert_string_not_equal(a1, b1); /* another database, another key */

    /* it is HMAC-SHA256 under the secret kept in meta, and not a plain hash */
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(pa, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = 'secret'", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    unsigned char key[32];
    assert_int_equal(mf_state_unhex((const char *)sqlite3_column_text(q, 0), key, sizeof key), 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    struct hmac_sha256_ctx h;
    uint8_t md[32];
    char want[65], plain[65];
    hmac_sha256_set_key(&h, sizeof key, key);
    hmac_sha256_update(&h, 9, (const uint8_t *)"Patient/1");
    hmac_sha256_digest(&h, sizeof md, md);
    mf_state_hex(md, sizeof md, want);
    assert_string_equal(a1, want);
    mf_sha256_hex("Patient/1", 9, plain);
    assert_string_not_equal(a1, plain);
}

/* The audit chain */

static void audit_chain_appends_and_verifies(void **state)
{
    (void)state;
    struct mf_state *st = open_db(db_path("chain"));
    struct mf_err err = {0};
    struct mf_audit_check c = verify(st, &err);
    assert_int_equal(c.rows, 0);
    assert_int_equal(c.first_bad, 0);

    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    for (int i = 0; i < 10; i++) {
        struct mf_audit_row row;
        fill_row(st, &row, i);
        assert_int_equal(mf_state_audit_append(st, &row, &err), 0);
        assert_int_equal(row.seq, i + 1);
        assert_string_equal(row.prev_hash, prev);
        assert_int_equal(strlen(row.hash), 64);
        memcpy(prev, row.hash, sizeof prev);
    }
    c = verify(st, &err);
    assert_int_equal(c.rows, 10);
    assert_int_equal(c.first_bad, 0);

    /* bytes that are not UTF-8 are stored as '?' (the row is kept, the chain holds) */
    struct mf_audit_row row;
    fill_row(st, &row, 11);
    snprintf(row.request_id, sizeof row.request_id,
             "a\xff\xc3"
             "b\xe2\x82\xac");
    assert_int_equal(mf_state_audit_append(st, &row, &err), 0);
    assert_string_equal(row.request_id, "a?"
                                        "?b\xe2\x82\xac");
    int created = 0;
    assert_int_equal(mf_state_feedback(st, "card\xff", "k", "medfm-risk", "accepted",
                                       "{\"x\":\"\xfe\"}", &created, &err),
                     0);
    assert_int_equal(created, 1);
    c = verify(st, &err);
    assert_int_equal(c.rows, 11);
    assert_int_equal(c.first_bad, 0);
    mf_state_close(st);
}

/* The documented definition, computed independently: SHA-256 over
 * prev_hash "\n" seq "\t" time "\t" request_id ... latency_us, with \\ \t \n \r escaped. */
static void audit_hash_definition(void **state)
{
    (void)state;
    struct mf_audit_row row;
    memset(&row, 0, sizeof row);
    row.seq = 7;
    row.time = 1767225600123456;
    snprintf(row.request_id, sizeof row.request_id, "a\tb\\c");
    snprintf(row.key_id, sizeof row.key_id, "-");
    snprintf(row.route, sizeof row.route, "GET /v1/model");
    snprintf(row.model, sizeof row.model, "m\n1");
    row.status = 404;
    snprintf(row.outcome, sizeof row.outcome, "not-found");
    row.latency_us = 55;
    memset(row.prev_hash, 'f', 64);
    const char text[] = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n"
                        "7\t1767225600123456\ta\\tb\\\\c\t-\tGET /v1/model\t\t\tm\\n1\t404\t"
                        "not-found\t55";
    char want[65], got[65];
    mf_sha256_hex(text, sizeof text - 1, want);
    assert_int_equal(mf_audit_row_hash(&row, got), 0);
    assert_string_equal(got, want);
    /* a tab moved from one field to the next changes the hash */
    struct mf_audit_row r2 = row;
    snprintf(r2.request_id, sizeof r2.request_id, "a");
    snprintf(r2.key_id, sizeof r2.key_id, "b\\c\t-");
    char h2[65];
    assert_int_equal(mf_audit_row_hash(&r2, h2), 0);
    assert_string_not_equal(h2, got);
}

static void audit_tamper_detected(void **state)
{
    (void)state;
    const char *path = db_path("tamper");
    struct mf_state *st = open_db(path);
    append_n(st, 5);
    mf_state_close(st);

    /* the triggers refuse changes */
    sql(path, "UPDATE audit SET status = 201 WHERE seq = 2", 0);
    sql(path, "DELETE FROM audit WHERE seq = 5", 0);
    st = open_db(path);
    struct mf_err err = {0};
    struct mf_audit_check c = verify(st, &err);
    assert_int_equal(c.first_bad, 0);
    assert_int_equal(c.rows, 5);
    mf_state_close(st);

    /* past them, a changed field of row 2 is found */
    sql(path, "DROP TRIGGER audit_no_update; UPDATE audit SET status = 201 WHERE seq = 2", 1);
    st = open_db(path);
    c = verify(st, &err);
    assert_int_equal(c.first_bad, 2);
    assert_non_null(strstr(err.msg, "row 2"));
    assert_null(strstr(err.msg, "201")); /* names the row, not the values */
    mf_state_close(st);

    /* a changed row whose hash is recomputed by someone who knows the rule: the next row's
     * link breaks */
    path = db_path("tamper_rehash");
    st = open_db(path);
    append_n(st, 5);
    mf_state_close(st);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER audit_no_update", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT seq, time, request_id, key_id, route, patient,"
                                        " input_sha256, model, status, outcome, latency_us,"
                                        " prev_hash FROM audit WHERE seq = 2",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    struct mf_audit_row row;
    memset(&row, 0, sizeof row);
    row.seq = sqlite3_column_int64(q, 0);
    row.time = sqlite3_column_int64(q, 1);
    snprintf(row.request_id, sizeof row.request_id, "%s", sqlite3_column_text(q, 2));
    snprintf(row.key_id, sizeof row.key_id, "%s", sqlite3_column_text(q, 3));
    snprintf(row.route, sizeof row.route, "%s", sqlite3_column_text(q, 4));
    snprintf(row.patient, sizeof row.patient, "%s", sqlite3_column_text(q, 5));
    snprintf(row.input_sha256, sizeof row.input_sha256, "%s", sqlite3_column_text(q, 6));
    snprintf(row.model, sizeof row.model, "%s", sqlite3_column_text(q, 7));
    row.status = 500; /* the change */
    snprintf(row.outcome, sizeof row.outcome, "%s", sqlite3_column_text(q, 9));
    row.latency_us = sqlite3_column_int64(q, 10);
    snprintf(row.prev_hash, sizeof row.prev_hash, "%s", sqlite3_column_text(q, 11));
    sqlite3_finalize(q);
    char h[65], upd[300];
    assert_int_equal(mf_audit_row_hash(&row, h), 0);
    snprintf(upd, sizeof upd, "UPDATE audit SET status = 500, hash = '%s' WHERE seq = 2", h);
    assert_int_equal(sqlite3_exec(db, upd, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    st = open_db(path);
    mf_err_clear(&err);
    c = verify(st, &err);
    assert_int_equal(c.first_bad, 3);
    assert_non_null(strstr(err.msg, "link"));
    mf_state_close(st);
}

static void audit_tamper_variants(void **state)
{
    (void)state;
    struct mf_err err;
    struct mf_audit_check c;
    const struct {
        const char *name, *sql;
        int64_t first_bad;
    } cases[] = {
        {"t_patient", "UPDATE audit SET patient = 'x' WHERE seq = 4", 4},
        {"t_time", "UPDATE audit SET time = time + 1 WHERE seq = 1", 1},
        {"t_hash", "UPDATE audit SET hash = (SELECT hash FROM audit WHERE seq = 2) WHERE seq = 3",
         3},
        {"t_prev",
         "UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE seq = 5) WHERE seq = 5", 5},
        {"t_delete_middle", "DELETE FROM audit WHERE seq = 3", 3},
        {"t_truncate", "DELETE FROM audit WHERE seq >= 5", 5},
        {"t_truncate_all", "DELETE FROM audit", 1},
        {"t_swap",
         "UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3;"
         " UPDATE audit SET seq = 3 WHERE seq = 100",
         2},
        {"t_meta", "UPDATE meta SET v = '3' WHERE k = 'audit_seq'", 4},
        {"t_long", "UPDATE audit SET outcome = outcome || printf('%.100c', 'x') WHERE seq = 6", 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = db_path(cases[i].name);
        struct mf_state *st = open_db(path);
        append_n(st, 6);
        mf_state_close(st);
        char s[600];
        snprintf(s, sizeof s, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; %s",
                 cases[i].sql);
        sql(path, s, 1);
        st = open_db(path);
        mf_err_clear(&err);
        c = verify(st, &err);
        if (c.first_bad != cases[i].first_bad)
            fprintf(stderr, "%s: first_bad %lld (%s)\n", cases[i].name, (long long)c.first_bad,
                    err.msg);
        assert_int_equal(c.first_bad, cases[i].first_bad);
        /* the server goes on appending; the damage stays visible (but for the recorded tail
         * moved back: no row was lost, and the next append records the true tail again) */
        append_n(st, 2);
        if (strcmp(cases[i].name, "t_meta") == 0) {
            mf_state_close(st);
            continue;
        }
        mf_err_clear(&err);
        c = verify(st, &err);
        assert_int_not_equal(c.first_bad, 0);
        mf_state_close(st);
    }
}

/* FHIR AuditEvent */

static const cJSON *find_entity(const cJSON *ev, const char *system)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, mf_json_arr(ev, "entity"))
    {
        const cJSON *id = mf_json_obj(mf_json_obj(e, "what"), "identifier");
        const char *s = mf_json_str(id, "system");
        if (s && strstr(s, system))
            return e;
    }
    return NULL;
}

static const char *detail(const cJSON *entity, const char *type)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, mf_json_arr(entity, "detail"))
    {
        const char *t = mf_json_str(d, "type");
        if (t && strcmp(t, type) == 0)
            return mf_json_str(d, "valueString");
    }
    return NULL;
}

static cJSON *fhir_of(const struct mf_audit_row *row)
{
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_audit_row_fhir(row, &b), 0);
    assert_null(memchr(b.data, '\n', b.len)); /* one NDJSON line */
    cJSON *ev = cJSON_ParseWithLength(b.data, b.len);
    mf_buf_release(&b);
    assert_non_null(ev);
    return ev;
}

static void audit_fhir_event(void **state)
{
    (void)state;
    struct mf_state *st = open_db(db_path("fhir"));
    struct mf_audit_row row;
    struct mf_err err = {0};
    fill_row(st, &row, 3);
    snprintf(row.request_id, sizeof row.request_id, "r\"1\t\\");
    assert_int_equal(mf_state_audit_append(st, &row, &err), 0);
    mf_state_close(st);

    cJSON *ev = fhir_of(&row);
    assert_string_equal(mf_json_str(ev, "resourceType"), "AuditEvent");
    assert_string_equal(mf_json_str(ev, "id"), "medfm-audit-1");
    const cJSON *type = mf_json_obj(ev, "type");
    assert_string_equal(mf_json_str(type, "system"),
                        "http://terminology.hl7.org/CodeSystem/audit-event-type");
    assert_string_equal(mf_json_str(type, "code"), "rest");
    const cJSON *sub = cJSON_GetArrayItem(mf_json_arr(ev, "subtype"), 0);
    assert_string_equal(mf_json_str(sub, "code"), "POST /v1/predict");
    assert_string_equal(mf_json_str(ev, "action"), "E");
    assert_string_equal(mf_json_str(ev, "recorded"), "2026-01-01T00:00:00.003000Z");
    assert_string_equal(mf_json_str(ev, "outcome"), "0");
    const cJSON *agent = cJSON_GetArrayItem(mf_json_arr(ev, "agent"), 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(agent, "requestor")));
    assert_string_equal(mf_json_str(mf_json_obj(mf_json_obj(agent, "who"), "identifier"), "value"),
                        "0123456789ab");
    assert_string_equal(mf_json_str(mf_json_obj(mf_json_obj(ev, "source"), "observer"), "display"),
                        "medfm");
    const cJSON *pat = find_entity(ev, "patient-pseudonym");
    assert_non_null(pat);
    assert_string_equal(mf_json_str(mf_json_obj(mf_json_obj(pat, "what"), "identifier"), "value"),
                        row.patient);
    assert_null(mf_json_str(mf_json_obj(pat, "what"), "reference"));
    assert_string_equal(mf_json_str(mf_json_obj(pat, "role"), "code"), "1");
    const cJSON *in = find_entity(ev, "input-sha256");
    assert_string_equal(mf_json_str(mf_json_obj(mf_json_obj(in, "what"), "identifier"), "value"),
                        row.input_sha256);
    const cJSON *model = find_entity(ev, "/model");
    assert_string_equal(mf_json_str(mf_json_obj(mf_json_obj(model, "what"), "identifier"), "value"),
                        "medfm/m 0.1.0+abc");
    const cJSON *log = find_entity(ev, "audit-log");
    assert_non_null(log);
    assert_string_equal(detail(log, "seq"), "1");
    assert_string_equal(detail(log, "request_id"), "r\"1\t\\");
    assert_string_equal(detail(log, "hash"), row.hash);
    assert_string_equal(detail(log, "prev_hash"), row.prev_hash);
    assert_string_equal(detail(log, "latency_us"), "1237");
    assert_string_equal(detail(log, "status"), "200");
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)row.time);
    assert_string_equal(detail(log, "time_us"), t);
    cJSON_Delete(ev);

    /* bytes that are not UTF-8: the chained value survives as base64Binary, other elements
     * are cleaned, and the line is still JSON */
    snprintf(row.request_id, sizeof row.request_id, "a\xff\xc3");
    snprintf(row.route, sizeof row.route, "GET /x\xe9");
    ev = fhir_of(&row);
    log = find_entity(ev, "audit-log");
    assert_null(detail(log, "request_id"));
    const cJSON *d;
    int found = 0;
    cJSON_ArrayForEach(d, mf_json_arr(log, "detail"))
    {
        if (strcmp(mf_json_str(d, "type"), "request_id") == 0) {
            assert_string_equal(mf_json_str(d, "valueBase64Binary"), "Yf/D");
            found = 1;
        }
    }
    assert_true(found);
    assert_string_equal(mf_json_str(cJSON_GetArrayItem(mf_json_arr(ev, "subtype"), 0), "code"),
                        "GET /x?");
    cJSON_Delete(ev);

    /* outcomes, actions, an unauthenticated caller, no patient */
    const struct {
        const char *route;
        int status;
        const char *action, *outcome;
    } cases[] = {
        {"GET /v1/model", 200, "R", "0"},
        {"POST /cds-services/medfm-risk/feedback", 201, "C", "0"},
        {"POST /v1/simulate", 429, "E", "4"},
        {"POST /v1/predict", 503, "E", "8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mf_audit_row r;
        memset(&r, 0, sizeof r);
        r.seq = 2;
        r.time = 0;
        snprintf(r.route, sizeof r.route, "%s", cases[i].route);
        snprintf(r.key_id, sizeof r.key_id, "-");
        r.status = cases[i].status;
        cJSON *e = fhir_of(&r);
        assert_string_equal(mf_json_str(e, "action"), cases[i].action);
        assert_string_equal(mf_json_str(e, "outcome"), cases[i].outcome);
        assert_string_equal(mf_json_str(e, "recorded"), "1970-01-01T00:00:00Z");
        assert_null(find_entity(e, "patient-pseudonym"));
        const cJSON *a = cJSON_GetArrayItem(mf_json_arr(e, "agent"), 0);
        assert_non_null(mf_json_str(mf_json_obj(a, "who"), "display"));
        /* FHIR strings are never empty */
        const cJSON *lg = find_entity(e, "audit-log");
        assert_null(detail(lg, "patient"));
        cJSON_Delete(e);
    }
}

/* Feedback */

static void feedback_is_idempotent(void **state)
{
    (void)state;
    struct mf_state *st = open_db(db_path("feedback"));
    struct mf_err err = {0};
    int created = -1;
    const char *card = "1f0e8c0a-2b3c-4d5e-8f90-123456789abc";
    assert_int_equal(mf_state_feedback(st, card, "0123456789ab", "medfm-risk", "accepted",
                                       "{\"card\":\"x\"}", &created, &err),
                     0);
    assert_int_equal(created, 1);
    assert_int_equal(mf_state_feedback(st, card, "0123456789ab", "medfm-risk", "accepted",
                                       "{\"card\":\"x\"}", &created, &err),
                     0);
    assert_int_equal(created, 0);
    /* a later, different outcome for the same (card, caller) changes nothing either */
    assert_int_equal(mf_state_feedback(st, card, "0123456789ab", "medfm-risk", "overridden", "{}",
                                       &created, &err),
                     0);
    assert_int_equal(created, 0);
    assert_int_equal(mf_state_feedback(st, card, "jwt:abcdef012345", "medfm-risk", "overridden",
                                       "{}", &created, &err),
                     0);
    assert_int_equal(created, 1);
    struct mf_err e = {0};
    assert_int_equal(mf_state_feedback(st, card, "k", "medfm-risk", "maybe", "{}", &created, &e),
                     MF_EINVAL);
    mf_err_clear(&e);
    assert_int_equal(mf_state_feedback(st, "", "k", "medfm-risk", "accepted", "{}", &created, &e),
                     MF_EINVAL);
    mf_state_close(st);
}

/* Concurrency: threads sharing one state, and threads with their own connections to one file
 * (as several processes would be). */

struct worker {
    struct mf_state *st;
    const char *path;
    int n, failed;
};

static void *append_worker(void *arg)
{
    struct worker *w = arg;
    struct mf_state *own = NULL;
    struct mf_err err = {0};
    struct mf_state *st = w->st;
    if (st == NULL) {
        if (mf_state_open(w->path, &own, &err) != 0) {
            w->failed = 1;
            return NULL;
        }
        st = own;
    }
    for (int i = 0; i < w->n; i++) {
        struct mf_audit_row row;
        fill_row(st, &row, i);
        if (mf_state_audit_append(st, &row, &err) != 0) {
            fprintf(stderr, "append: %s\n", err.msg);
            w->failed = 1;
            break;
        }
        if (i % 10 == 0) {
            char k[MF_KEY_MAX_LEN + 1];
            struct mf_key_info ki;
            if (mf_state_key_create(st, "t", MF_SCOPE_PREDICT, 0, k, &ki, &err) != 0 ||
                mf_state_key_check(st, k, strlen(k), NULL, &err) != 0)
                w->failed = 1;
        }
    }
    mf_state_close(own);
    return NULL;
}

static void audit_concurrent_appends(void **state)
{
    (void)state;
    const char *path = db_path("concurrent");
    struct mf_state *st = open_db(path);
    enum { T = 8, N = 40 };
    pthread_t th[T];
    struct worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (struct worker){i % 2 ? st : NULL, path, N, 0};
        assert_int_equal(pthread_create(&th[i], NULL, append_worker, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failed, 0);
    }
    struct mf_err err = {0};
    struct mf_audit_check c = verify(st, &err);
    assert_int_equal(c.rows, T * N);
    assert_int_equal(c.first_bad, 0);
    mf_state_close(st);
}

/* Database errors */

static void open_errors(void **state)
{
    (void)state;
    struct mf_err err = {0};
    struct mf_state *st = NULL;
    /* not a database */
    const char *junk = db_path("junk");
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fputs("this is not a database, not even close; it is long enough to have a header\n", f);
    for (int i = 0; i < 100; i++)
        fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    assert_true(mf_state_open(junk, &st, &err) < 0);
    assert_null(st);
    assert_non_null(strstr(err.msg, junk));

    /* someone else's SQLite database */
    const char *other = db_path("other");
    sql(other, "CREATE TABLE t (x)", 1);
    mf_err_clear(&err);
    assert_true(mf_state_open(other, &st, &err) < 0);
    assert_non_null(strstr(err.msg, "not medfm"));

    /* a newer schema */
    const char *newer = db_path("newer");
    st = open_db(newer);
    mf_state_close(st);
    st = NULL;
    sql(newer, "UPDATE meta SET v = '99' WHERE k = 'schema_version'", 1);
    mf_err_clear(&err);
    assert_int_equal(mf_state_open(newer, &st, &err), MF_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "newer"));
    assert_null(st);

    /* a folder, and a path in a missing folder */
    mf_err_clear(&err);
    assert_true(mf_state_open(tmpdir, &st, &err) < 0);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.sqlite", tmpdir);
    mf_err_clear(&err);
    assert_true(mf_state_open(missing, &st, &err) < 0);
    mf_err_clear(&err);
    assert_true(mf_state_open("", &st, &err) < 0);
}

static void pg_errors_hide_the_password(void **state)
{
    (void)state;
    assert_true(mf_state_where_is_pg("postgresql://h/db"));
    assert_true(mf_state_where_is_pg("postgres://h/db"));
    assert_false(mf_state_where_is_pg("state.sqlite"));
    assert_false(mf_state_where_is_pg("postgresql.sqlite"));
    const char *urls[] = {
        "postgresql://medfm:Sup3rSecretPw@127.0.0.1:1/medfm?connect_timeout=2",
        "postgres://medfm:Sup3r%53ecretPw@127.0.0.1:1/medfm",
        "postgresql://127.0.0.1:1/medfm?user=medfm&password=Sup3rSecretPw",
        "postgresql://medfm:Sup3rSecretPw@[::1:1/medfm",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        struct mf_err err = {0};
        struct mf_state *st = NULL;
        assert_true(mf_state_open(urls[i], &st, &err) < 0);
        assert_null(st);
        assert_true(err.msg[0] != '\0');
        assert_null(strstr(err.msg, "Sup3r"));
        assert_null(strstr(err.msg, "ecretPw"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scopes_parse_and_format),
        cmocka_unit_test(keys_create_check_revoke_list),
        cmocka_unit_test(keys_reject_bad_presentations),
        cmocka_unit_test(pseudonyms_deterministic_and_keyed),
        cmocka_unit_test(audit_chain_appends_and_verifies),
        cmocka_unit_test(audit_hash_definition),
        cmocka_unit_test(audit_tamper_detected),
        cmocka_unit_test(audit_tamper_variants),
        cmocka_unit_test(audit_fhir_event),
        cmocka_unit_test(feedback_is_idempotent),
        cmocka_unit_test(audit_concurrent_appends),
        cmocka_unit_test(open_errors),
        cmocka_unit_test(pg_errors_hide_the_password),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
