/* test_ingest.c - unit tests for the ingest driver: the de-identification seam and its guard,
 * issues and the error report, strict mode, record rollback, empty input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fs.h"
#include "ingest/ingest.h"
#include "store/store.h"

#include "testutil.h"

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

/* Three patients as Bulk Data lines; the third Observation has an impossible date. */
static const char *ndjson =
    "{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"female\",\"birthDate\":\"1980-01-01\"}"
    "\n"
    "{\"resourceType\":\"Patient\",\"id\":\"b\",\"gender\":\"male\",\"birthDate\":\"1990-01-01\"}\n"
    "\n"
    "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"status\":\"final\",\"code\":{\"coding\":"
    "[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},\"subject\":{\"reference\":"
    "\"Patient/a\"},\"effectiveDateTime\":\"2020-01-01T10:00:00Z\",\"valueQuantity\":"
    "{\"value\":72,\"unit\":\"/min\"}}\n"
    "{\"resourceType\":\"Observation\",\"id\":\"o2\",\"status\":\"final\",\"code\":{\"coding\":"
    "[{\"system\":\"http://loinc.org\",\"code\":\"8867-4\"}]},\"subject\":{\"reference\":"
    "\"Patient/b\"},\"effectiveDateTime\":\"2020-02-30T10:00:00Z\",\"valueQuantity\":"
    "{\"value\":61,\"unit\":\"/min\"}}\n";

static void run(const char *in, const char *out, int strict, int no_deid,
                const struct mf_ingest_deid *deid, int expect_rc, struct mf_ingest_result *res)
{
    const char *paths[] = {in};
    struct mf_ingest_opts o = {0};
    o.format = MF_FORMAT_NDJSON;
    o.paths = paths;
    o.n_paths = 1;
    o.out = out;
    o.strict = strict;
    o.no_deid = no_deid;
    o.threads = 2;
    o.deid = deid;
    struct mf_err err = {0};
    assert_int_equal(mf_ingest_run(&o, res, &err), expect_rc);
}

static void refuses_without_deid_or_no_deid(void **state)
{
    (void)state;
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/guard.ndjson", tmpdir);
    snprintf(out, sizeof out, "%s/guard-store", tmpdir);
    write_file(in, ndjson);
    struct mf_ingest_result res;
    run(in, out, 0, 0, NULL, MF_EINVAL, &res);
    assert_false(mf_fs_exists(out));
}

/* A stand-in de-identifier: replaces each patient id by "pseudo-<id>" and counts events. */
static int hook_calls;

static int fake_deid(void *ctx, struct mf_event *ev, struct mf_buf *scratch, struct mf_err *err)
{
    (void)ctx;
    (void)err;
    __atomic_add_fetch(&hook_calls, 1, __ATOMIC_RELAXED);
    mf_buf_puts(scratch, "pseudo-");
    mf_buf_append(scratch, ev->subject, ev->subject_len);
    ev->subject = scratch->data;
    ev->subject_len = scratch->len;
    return 0;
}

static void every_event_passes_the_deid_seam(void **state)
{
    (void)state;
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/seam.ndjson", tmpdir);
    snprintf(out, sizeof out, "%s/seam-store", tmpdir);
    write_file(in, ndjson);
    struct mf_ingest_deid deid = {NULL, NULL, fake_deid};
    struct mf_ingest_result res;
    hook_calls = 0;
    run(in, out, 0, 0, &deid, 0, &res);
    assert_int_equal(hook_calls, res.events);
    struct mf_store *s;
    assert_int_equal(mf_store_open(out, &s, NULL), 0);
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(s, "a", 1, &tl), MF_ENOTFOUND);
    assert_int_equal(mf_store_find(s, "pseudo-a", 8, &tl), 0);
    mf_store_close(s);
}

static void bad_records_are_skipped_and_reported(void **state)
{
    (void)state;
    char in[512], out[512], report[600];
    snprintf(in, sizeof in, "%s/bad.ndjson", tmpdir);
    snprintf(out, sizeof out, "%s/bad-store", tmpdir);
    snprintf(report, sizeof report, "%s.errors.ndjson", out);
    write_file(in, ndjson);
    struct mf_ingest_result res;
    run(in, out, 0, 1, NULL, 0, &res);
    assert_int_equal(res.issues[MF_ISSUE_BAD_DATE], 1);
    assert_int_equal(res.skipped, 1);
    assert_int_equal(res.subjects, 2);
    /* the report names file, line and path, never the value */
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(report, 1 << 20, &b, NULL), 0);
    cJSON *j = cJSON_Parse(b.data);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring, "bad-date");
    assert_int_equal(cJSON_GetObjectItem(j, "line")->valuedouble, 5);
    assert_string_equal(cJSON_GetObjectItem(j, "path")->valuestring,
                        "Observation.effectiveDateTime");
    assert_null(strstr(b.data, "2020-02-30"));
    cJSON_Delete(j);
    mf_buf_release(&b);
    /* the manifest counts it */
    struct mf_store *s;
    assert_int_equal(mf_store_open(out, &s, NULL), 0);
    const cJSON *src = cJSON_GetArrayItem(cJSON_GetObjectItem(mf_store_manifest(s), "sources"), 0);
    assert_int_equal(cJSON_GetObjectItem(src, "skipped")->valuedouble, 1);
    assert_int_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(src, "issues"), "bad-date")->valuedouble, 1);
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(s, "b", 1, &tl), 0);
    assert_int_equal(tl.n, 2); /* sex and birth: the bad observation is gone */
    mf_store_close(s);

    /* strict: fails, writes nothing, keeps the previous store and its report */
    char sha_before[65];
    assert_int_equal(mf_store_open(out, &s, NULL), 0);
    snprintf(sha_before, sizeof sha_before, "%s", mf_store_manifest_sha256(s));
    mf_store_close(s);
    run(in, out, 1, 1, NULL, MF_EPARSE, &res);
    assert_int_equal(mf_store_open(out, &s, NULL), 0);
    assert_string_equal(mf_store_manifest_sha256(s), sha_before);
    mf_store_close(s);
    assert_true(mf_fs_exists(report));

    /* a clean run replaces the store and removes the stale report */
    write_file(in, "{\"resourceType\":\"Patient\",\"id\":\"c\",\"birthDate\":\"2000-01-01\"}\n");
    run(in, out, 1, 1, NULL, 0, &res);
    assert_false(mf_fs_exists(report));
}

static void nothing_readable_is_an_error(void **state)
{
    (void)state;
    char in[512], out[512];
    snprintf(in, sizeof in, "%s/junk.ndjson", tmpdir);
    snprintf(out, sizeof out, "%s/junk-store", tmpdir);
    write_file(in, "not json\n{\"also\": \"not a resource\"}\n");
    struct mf_ingest_result res;
    run(in, out, 0, 1, NULL, MF_EPARSE, &res);
    assert_false(mf_fs_exists(out));
    char empty[512];
    snprintf(empty, sizeof empty, "%s/emptydir", tmpdir);
    assert_int_equal(mf_fs_mkdir_p(empty, NULL), 0);
    run(empty, out, 0, 1, NULL, MF_ENOTFOUND, &res);
}

static void issue_kinds_have_names(void **state)
{
    (void)state;
    for (int k = 0; k < MF_ISSUE__COUNT; k++)
        assert_string_not_equal(mf_issue_kind_name((enum mf_issue_kind)k), "unknown");
    assert_string_equal(mf_issue_kind_name(MF_ISSUE_CSV_COLUMNS), "csv-columns");
    assert_string_equal(mf_issue_kind_name(MF_ISSUE__COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refuses_without_deid_or_no_deid),
        cmocka_unit_test(every_event_passes_the_deid_seam),
        cmocka_unit_test(bad_records_are_skipped_and_reported),
        cmocka_unit_test(nothing_readable_is_an_error),
        cmocka_unit_test(issue_kinds_have_names),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
