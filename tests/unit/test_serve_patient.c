/* test_serve_patient.c - unit tests for the server's request bodies (src/serve/patient.c):
 * events JSON in its three shapes, FHIR Bundles, limits, and errors that name the JSON path
 * without echoing values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "serve/patient.h"
#include "serve/serve.h"
#include "store/store.h"

static struct mf_serve_limits limits(void)
{
    struct mf_serve_opts o;
    memset(&o, 0, sizeof o);
    mf_serve_opts_defaults(&o);
    return o.limits;
}

static int parse(const char *text, struct mf_serve_limits lim, struct mf_patients *p,
                 struct mf_err *err)
{
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    mf_err_clear(err);
    int rc = mf_patients_parse(root, text, strlen(text), &lim, p, err);
    cJSON_Delete(root);
    return rc;
}

static void events_json_shapes(void **state)
{
    (void)state;
    const char *bodies[] = {
        "{\"subject_id\":\"p1\",\"events\":[{\"time\":null,\"code\":\"GENDER/FEMALE\"},"
        "{\"time\":\"2020-01-02T03:04:05Z\",\"code\":\"LOINC/4548-4\",\"numeric_value\":7.1,"
        "\"unit\":\"%\"},{\"time\":\"2019-01-01\",\"code\":\"SNOMED/1\",\"text_value\":\"x\"}]}",
        "{\"patient\":{\"subject_id\":\"p1\",\"events\":[{\"time\":null,\"code\":"
        "\"GENDER/FEMALE\"},{\"time\":\"2020-01-02T03:04:05Z\",\"code\":\"LOINC/4548-4\","
        "\"numeric_value\":7.1,\"unit\":\"%\"},{\"time\":\"2019-01-01\",\"code\":\"SNOMED/1\","
        "\"text_value\":\"x\"}]},\"tasks\":[\"death_1y\"]}",
    };
    for (size_t k = 0; k < 2; k++) {
        struct mf_patients p;
        struct mf_err err;
        assert_int_equal(parse(bodies[k], limits(), &p, &err), 0);
        assert_int_equal(p.n, 1);
        assert_int_equal(p.events, 3);
        assert_false(p.fhir);
        struct mf_timeline tl;
        assert_int_equal(mf_store_find(p.store, "p1", 2, &tl), 0);
        /* static first, then by time */
        assert_int_equal(tl.time[0], MF_TIME_NONE);
        assert_true(tl.time[1] < tl.time[2]);
        struct mf_str c = mf_store_code(p.store, tl.code[2]);
        assert_int_equal(c.n, 12);
        assert_memory_equal(c.p, "LOINC/4548-4", 12);
        assert_true(fabs(tl.value[2] - 7.1) < 1e-12);
        struct mf_str u = mf_store_unit(p.store, tl.unit[2]);
        assert_int_equal(u.n, 1);
        mf_patients_free(&p);
    }
    struct mf_patients p;
    struct mf_err err;
    assert_int_equal(parse("{\"patients\":[{\"subject_id\":7,\"events\":[{\"code\":\"A/1\","
                           "\"time\":\"2020-01-01\"}]},{\"subject_id\":\"b\",\"events\":[{"
                           "\"code\":\"A/2\",\"time\":\"2020-01-01\"}]}]}",
                           limits(), &p, &err),
                     0);
    assert_int_equal(p.n, 2);
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(p.store, "7", 1, &tl), 0);
    mf_patients_free(&p);
}

static void fhir_bundle(void **state)
{
    (void)state;
    const char *b =
        "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
        "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":\"female\","
        "\"birthDate\":\"1970-01-01\"}},"
        "{\"resource\":{\"resourceType\":\"Condition\",\"id\":\"c1\",\"subject\":{\"reference\":"
        "\"Patient/a\"},\"code\":{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":"
        "\"44054006\"}]},\"onsetDateTime\":\"2019-02-03\"}}]}";
    struct mf_patients p;
    struct mf_err err;
    assert_int_equal(parse(b, limits(), &p, &err), 0);
    assert_true(p.fhir);
    assert_int_equal(p.n, 1);
    assert_true(p.events >= 3); /* gender, birth, condition */
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(p.store, "a", 1, &tl), 0);
    int found = 0;
    for (size_t i = 0; i < tl.n; i++) {
        struct mf_str c = mf_store_code(p.store, tl.code[i]);
        found |= c.n == 15 && memcmp(c.p, "SNOMED/44054006", 15) == 0;
    }
    assert_true(found);
    mf_patients_free(&p);
}

static void bad_bodies(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int rc;
        const char *msg; /* a part of the message */
    } cases[] = {
        {"[1,2]", MF_EPARSE, "object"},
        {"{\"tasks\":[]}", MF_EINVAL, "no patient"},
        {"{\"subject_id\":\"p\",\"events\":{}}", MF_EPARSE, "$.events"},
        {"{\"events\":[]}", MF_EPARSE, "subject_id"},
        {"{\"subject_id\":\"p\",\"events\":[]}", MF_EINVAL, "no event"},
        {"{\"subject_id\":\"p\",\"events\":[3]}", MF_EPARSE, "events[0]"},
        {"{\"subject_id\":\"p\",\"events\":[{\"time\":\"secret-2020-99-99\",\"code\":\"A/1\"}]}",
         MF_EPARSE, "events[0].time"},
        {"{\"subject_id\":\"p\",\"events\":[{\"time\":5,\"code\":\"A/1\"}]}", MF_EPARSE,
         "events[0].time"},
        {"{\"subject_id\":\"p\",\"events\":[{\"time\":null}]}", MF_EPARSE, "events[0].code"},
        {"{\"subject_id\":\"p\",\"events\":[{\"code\":\"A\",\"numeric_value\":\"7\"}]}", MF_EPARSE,
         "numeric_value"},
        {"{\"subject_id\":\"p\",\"events\":[{\"code\":\"A\",\"unit\":7}]}", MF_EPARSE, "unit"},
        {"{\"patients\":{}}", MF_EPARSE, "patients"},
        {"{\"patient\":[]}", MF_EPARSE, "patient"},
        {"{\"resourceType\":7}", MF_EPARSE, "resourceType"},
        {"{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":3}]}", MF_EINVAL, "no event"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mf_patients p;
        struct mf_err err;
        int rc = parse(cases[i].body, limits(), &p, &err);
        if (rc != cases[i].rc || strstr(err.msg, cases[i].msg) == NULL)
            fail_msg("case %zu: rc %d, message '%s'", i, rc, err.msg);
        assert_null(p.store);
        assert_null(strstr(err.msg, "secret"));
    }
}

static void limits_hold(void **state)
{
    (void)state;
    struct mf_serve_limits lim = limits();
    lim.max_events = 2;
    lim.max_patients = 1;
    struct mf_patients p;
    struct mf_err err;
    assert_int_equal(parse("{\"subject_id\":\"p\",\"events\":[{\"code\":\"A\"},{\"code\":\"B\"},"
                           "{\"code\":\"C\"}]}",
                           lim, &p, &err),
                     MF_ETOOBIG);
    assert_int_equal(parse("{\"patients\":[{\"subject_id\":\"p\",\"events\":[{\"code\":\"A\"}]},"
                           "{\"subject_id\":\"q\",\"events\":[{\"code\":\"A\"}]}]}",
                           lim, &p, &err),
                     MF_ETOOBIG);
    /* a FHIR Bundle with two patients over the limit */
    assert_int_equal(parse("{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
                           "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"a\",\"gender\":"
                           "\"male\",\"birthDate\":\"1970-01-01\"}},"
                           "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"b\",\"gender\":"
                           "\"male\",\"birthDate\":\"1970-01-01\"}}]}",
                           lim, &p, &err),
                     MF_ETOOBIG);
}

static void json_depth(void **state)
{
    (void)state;
    cJSON *j = cJSON_Parse("[[[[1]]],{\"a\":{\"b\":2}}]");
    assert_int_equal(mf_json_depth(j, 100), 5);
    assert_int_equal(mf_json_depth(j, 3), 3); /* stops early */
    cJSON_Delete(j);
    j = cJSON_Parse("7");
    assert_int_equal(mf_json_depth(j, 10), 1);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_json_shapes), cmocka_unit_test(fhir_bundle),
        cmocka_unit_test(bad_bodies),         cmocka_unit_test(limits_hold),
        cmocka_unit_test(json_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
