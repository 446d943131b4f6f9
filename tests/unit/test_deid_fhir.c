/* test_deid_fhir.c - the FHIR de-identification session and workers: ages over 89, whose a
 * resource is, per-patient shift across resources, the patient table as text context, and the
 * same key giving the same output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"
#include "core/timeutil.h"
#include "deid/deid.h"
#include "deid/fhirdeid.h"

static int64_t day(int y, unsigned m, unsigned d)
{
    return mf_time_from_date(y, m, d);
}

static char *cap(const char *json, int64_t ref, int *rc)
{
    cJSON *p = cJSON_Parse(json);
    *rc = mf_deid_cap_age(p, ref);
    const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(p, "birthDate"));
    char *out = strdup(b ? b : "");
    cJSON_Delete(p);
    return out;
}

static void ages_over_89(void **state)
{
    (void)state;
    int rc;
    char *b;
    /* 104 at the reference: born 90 years before it */
    b = cap("{\"birthDate\":\"1921-07-04\"}", day(2026, 1, 1), &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(b, "1936-01-01");
    free(b);
    /* 89 and 364 days: unchanged; 90 exactly: grouped (to itself) */
    b = cap("{\"birthDate\":\"1936-01-02\"}", day(2026, 1, 1), &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(b, "1936-01-02");
    free(b);
    b = cap("{\"birthDate\":\"1936-01-01\"}", day(2026, 1, 1), &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(b, "1936-01-01");
    free(b);
    /* precision kept: a year stays a year, a month a month */
    b = cap("{\"birthDate\":\"1901\"}", day(2026, 6, 1), &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(b, "1936");
    free(b);
    b = cap("{\"birthDate\":\"1901-02\"}", day(2026, 6, 1), &rc);
    assert_string_equal(b, "1936-06");
    free(b);
    /* age at death, when earlier than the reference */
    b = cap("{\"birthDate\":\"1920-03-01\",\"deceasedDateTime\":\"2012-05-05T10:00:00Z\"}",
            day(2026, 1, 1), &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(b, "1922-05-05");
    free(b);
    b = cap("{\"birthDate\":\"1930-03-01\",\"deceasedDateTime\":\"2012-05-05\"}", day(2026, 1, 1),
            &rc);
    assert_int_equal(rc, 0);
    free(b);
    /* 29 February of the reference year */
    b = cap("{\"birthDate\":\"1900-01-01\"}", day(2024, 2, 29), &rc);
    assert_string_equal(b, "1934-02-28");
    free(b);
    /* not a date; no birth date */
    b = cap("{\"birthDate\":\"soon\"}", day(2026, 1, 1), &rc);
    assert_int_equal(rc, MF_EPARSE);
    free(b);
    b = cap("{\"gender\":\"male\"}", day(2026, 1, 1), &rc);
    assert_int_equal(rc, 0);
    free(b);
}

static const char *no_lookup(void *arg, const char *ref, size_t *n)
{
    (void)arg;
    if (strcmp(ref, "urn:uuid:abc") == 0) {
        *n = 1;
        return "q";
    }
    return NULL;
}

static void resource_subject(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"resourceType\":\"Patient\",\"id\":\"p1\"}", "p1"},
        {"{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Patient/p2\"}}", "p2"},
        {"{\"resourceType\":\"Claim\",\"patient\":{\"reference\":\"https://h/fhir/Patient/p3/"
         "_history/2\"}}",
         "p3"},
        {"{\"resourceType\":\"Coverage\",\"beneficiary\":{\"reference\":\"Patient/p4\"}}", "p4"},
        {"{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"urn:uuid:abc\"}}", "q"},
        {"{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"Group/g\"}}", NULL},
        {"{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"XPatient/p\"}}", NULL},
        {"{\"resourceType\":\"Organization\",\"id\":\"o\"}", NULL},
        {"{\"resourceType\":\"Patient\"}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *r = cJSON_Parse(cases[i].json);
        const char *id = NULL;
        size_t n = 0;
        int got = mf_deid_resource_subject(r, no_lookup, NULL, &id, &n);
        if (cases[i].want == NULL) {
            assert_int_equal(got, 0);
        } else {
            assert_int_equal(got, 1);
            assert_int_equal(n, strlen(cases[i].want));
            assert_memory_equal(id, cases[i].want, n);
        }
        cJSON_Delete(r);
    }
}

/* De-identify a resource with a fresh session; returns the printed result. */
static char *deid(struct mf_deid_session *s, const char *json, const char *subject)
{
    struct mf_deid_worker *w = mf_deid_worker_new(s);
    assert_non_null(w);
    cJSON *r = mf_json_parse(json, strlen(json), NULL);
    assert_non_null(r);
    struct mf_err err = {0, {0}};
    int rc = mf_deid_worker_resource(w, r, subject, subject ? strlen(subject) : 0, NULL, &err);
    if (rc)
        fail_msg("%s", err.msg);
    char *s1 = cJSON_PrintUnformatted(r);
    char *out = strdup(s1);
    mf_json_release(r);
    mf_deid_worker_free(w);
    return out;
}

static struct mf_deid_session *open_session(const struct mf_deid_key *k, int text_only)
{
    struct mf_deid_session_opts o = {0};
    o.key = k;
    o.text_mode = MF_DEID_MODE_REDACT;
    o.reference_time = day(2026, 1, 1);
    o.text_only = text_only;
    struct mf_deid_session *s = NULL;
    struct mf_err err = {0, {0}};
    if (mf_deid_session_open(&o, &s, &err) != 0)
        fail_msg("%s", err.msg);
    return s;
}

static void add_patient(struct mf_deid_session *s)
{
    cJSON *p = cJSON_Parse("{\"resourceType\":\"Patient\",\"id\":\"src-7\",\"name\":[{"
                           "\"family\":\"Quillfeather\",\"given\":[\"Orsolya\"]}],"
                           "\"birthDate\":\"1971-02-03\"}");
    assert_int_equal(mf_deid_session_add_patient(s, p), 0);
    cJSON_Delete(p);
}

static void session_rules_and_context(void **state)
{
    (void)state;
    struct mf_deid_key k1, k2;
    memset(k1.bytes, 7, sizeof k1.bytes);
    memset(k2.bytes, 9, sizeof k2.bytes);
    struct mf_deid_session *s = open_session(&k1, 0);
    assert_string_equal(mf_deid_session_rules_name(s), "safe-harbor");
    assert_int_equal(strlen(mf_deid_session_config_sha256(s)), 64);

    /* the patient table gives a note its patient's names as context */
    add_patient(s);
    assert_int_equal(mf_deid_session_patients(s), 1);
    const char *obs = "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"subject\":{"
                      "\"reference\":\"Patient/src-7\"},\"effectiveDateTime\":\"2020-01-10\","
                      "\"valueString\":\"Seen with Quillfeather today, Orsolya agrees.\"}";
    char *a = deid(s, obs, "src-7");
    assert_null(strstr(a, "Quillfeather"));
    assert_null(strstr(a, "Orsolya"));
    assert_null(strstr(a, "src-7"));
    assert_null(strstr(a, "2020-01-10"));
    /* the same key gives the same bytes */
    char *b = deid(s, obs, "src-7");
    assert_string_equal(a, b);
    /* the date moved by the patient's shift */
    int64_t t0, shift = mf_deid_shift(&k1, "src-7", 5);
    mf_time_parse("2020-01-10", 10, &t0);
    char want[32];
    mf_time_format(t0 + shift, want);
    want[10] = '\0';
    assert_non_null(strstr(a, want));
    free(b);
    mf_deid_session_free(s);

    /* another key: other output */
    s = open_session(&k2, 0);
    b = deid(s, obs, "src-7");
    assert_string_not_equal(a, b);
    free(b);
    mf_deid_session_free(s);

    /* text only (ingest): ids and dates untouched, text de-identified */
    s = open_session(&k1, 1);
    add_patient(s);
    assert_string_not_equal(mf_deid_session_config_sha256(s), "");
    b = deid(s, obs, "src-7");
    assert_non_null(strstr(b, "src-7"));
    assert_non_null(strstr(b, "2020-01-10"));
    assert_null(strstr(b, "Quillfeather"));
    free(b);
    mf_deid_session_free(s);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ages_over_89),
        cmocka_unit_test(resource_subject),
        cmocka_unit_test(session_rules_and_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
