/* test_deid_risk.c - unit tests for deid/risk: k-anonymity and l-diversity on a small store
 * with hand-computed classes, missing values, several facts of one kind, birth years before
 * 1970, the records listed below k, shards, and bad options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/timeutil.h"
#include "deid/risk.h"
#include "store/store.h"

#include "testutil.h"

/* The test cohort: (subject, time or NULL for a static fact, code). */
static const char *const cohort[][3] = {
    {"a1", NULL, "GENDER/MALE"},
    {"a1", NULL, "ZIP3/021"},
    {"a1", "1950-03-01", "MEDS_BIRTH"},
    {"a1", NULL, "RACE/2106-3"},
    {"a1", NULL, "ETHNICITY/2186-5"},
    {"a1", "2000-01-01", "ICD10CM/E11"},

    {"a2", NULL, "GENDER/MALE"},
    {"a2", NULL, "ZIP3/021"},
    {"a2", "1950-12-31T23:59:59Z", "MEDS_BIRTH"},
    {"a2", NULL, "RACE/2106-3"},
    {"a2", NULL, "ETHNICITY/2186-5"},
    {"a2", "2001-01-01", "ICD10CM/I10"},
    {"a2", "2002-01-01", "ICD10CM/E11"},

    {"a3", NULL, "GENDER/MALE"},
    {"a3", NULL, "GENDER/MALE"}, /* the same fact twice counts once */
    {"a3", NULL, "ZIP3/021"},
    {"a3", "1950-01-01T00:00:00Z", "MEDS_BIRTH"},
    {"a3", NULL, "RACE/2106-3"},
    {"a3", NULL, "ETHNICITY/2186-5"},
    {"a3", "2003-01-01", "ICD10CM/E11"},
    {"a3", "2004-01-01", "LOINC/1-1"},

    {"b1", NULL, "GENDER/FEMALE"},
    {"b1", NULL, "ZIP3/100"},
    {"b1", "1960-06-01", "MEDS_BIRTH"},
    {"b1", NULL, "RACE/2054-5"},
    {"b1", "2005-01-01", "SNOMED/123"},

    {"b2", NULL, "GENDER/FEMALE"},
    {"b2", NULL, "ZIP3/100"},
    {"b2", "1960-07-01", "MEDS_BIRTH"},
    {"b2", NULL, "RACE/2054-5"},

    {"c1", NULL, "GENDER/FEMALE"},
    {"c1", "1960-01-01", "MEDS_BIRTH"},
    {"c1", NULL, "RACE/2106-3"}, /* two races: "2054-5+2106-3" */
    {"c1", NULL, "RACE/2054-5"},
    {"c1", "2010-01-01", "ICD10CM/E11"},

    {"d1", NULL, "ZIP3/021"},
    {"d1", "1949-12-31T23:59:59Z", "MEDS_BIRTH"},
    {"d1", "2011-01-01", "ICD10CM/Z00"},

    {"e1", NULL, "GENDER/MALE"}, /* no birth event */
    {"e1", NULL, "ZIP3/021"},
    {"e1", NULL, "RACE/2106-3"},
    {"e1", NULL, "ETHNICITY/2186-5"},
};

#define N_COHORT (sizeof cohort / sizeof cohort[0])

/* Write the cohort to tmpdir/name (added in reverse order, shard_events per shard). */
static void write_cohort(const char *name, uint64_t shard_events, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", tmpdir, name);
    struct mf_store_writer *w;
    struct mf_err err = {0};
    struct mf_store_writer_opts o = {0, shard_events, 0};
    assert_int_equal(mf_store_writer_open(&w, path, 1, &o, &err), 0);
    for (size_t i = N_COHORT; i-- > 0;) {
        int64_t t = MF_TIME_NONE;
        if (cohort[i][1])
            assert_int_equal(mf_time_parse(cohort[i][1], strlen(cohort[i][1]), &t), 0);
        struct mf_event e = mf_event_make(cohort[i][0], t, cohort[i][2], NAN, NULL, NULL);
        assert_int_equal(mf_store_batch_add(mf_store_writer_batch(w, 0), &e), 0);
    }
    assert_int_equal(mf_store_writer_commit(w, &err), 0);
    mf_store_writer_free(w);
}

static struct mf_store *open_cohort(uint64_t shard_events)
{
    char path[512];
    char name[64];
    snprintf(name, sizeof name, "cohort-%llu", (unsigned long long)shard_events);
    write_cohort(name, shard_events, path, sizeof path);
    struct mf_store *s = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_store_open(path, &s, &err), 0);
    return s;
}

static struct mf_risk_opts make_opts(const char *quasi, uint64_t k, const char *sensitive,
                                     uint64_t l, int list)
{
    struct mf_risk_opts o;
    memset(&o, 0, sizeof o);
    struct mf_err err = {0};
    assert_int_equal(mf_risk_parse_quasi(quasi, o.quasi, &o.n_quasi, &err), 0);
    o.k = k;
    o.sensitive = sensitive;
    o.l = l;
    o.list = list;
    return o;
}

/* Class i has the given size, l and values (a "|"-joined string). */
static void check_class(const struct mf_risk_result *r, size_t i, uint64_t size, uint64_t l,
                        const char *values)
{
    assert_true(i < r->n_classes);
    const struct mf_risk_class *c = &r->classes[i];
    char got[256] = "";
    size_t n = 0;
    for (size_t p = 0; p < r->opts.n_quasi; p++)
        n += (size_t)snprintf(got + n, sizeof got - n, "%s%s", p ? "|" : "", c->values[p]);
    assert_string_equal(got, values);
    assert_int_equal(c->size, size);
    assert_int_equal(c->l, l);
}

/* All five quasi-identifiers, k = 2, sensitive ICD10CM/ with l = 2. */
static void risk_all_quasi(void **state)
{
    (void)state;
    struct mf_store *s = open_cohort(0);
    struct mf_risk_opts o = make_opts("sex,birth_year,zip3,race,ethnicity", 2, "ICD10CM/", 2, 1);
    struct mf_risk_result r;
    struct mf_err err = {0};
    assert_int_equal(mf_risk_compute(s, &o, &r, &err), 0);

    assert_int_equal(r.patients, 8);
    assert_int_equal(r.n_classes, 5);
    assert_int_equal(r.k_min, 1);
    assert_int_equal(r.classes_below_k, 3);
    assert_int_equal(r.patients_below_k, 3);
    assert_true(mf_risk_prosecutor_max(&r) == 1.0);
    assert_true(mf_risk_average(&r) == 5.0 / 8.0);
    /* sex: d1; birth_year: e1; zip3: c1; race: d1; ethnicity: b1 b2 c1 d1 */
    assert_int_equal(r.missing[0], 1);
    assert_int_equal(r.missing[1], 1);
    assert_int_equal(r.missing[2], 1);
    assert_int_equal(r.missing[3], 1);
    assert_int_equal(r.missing[4], 4);

    /* smallest first, then by values ("*" < "FEMALE" < "MALE") */
    check_class(&r, 0, 1, 1, "*|1949|021|*|*");
    check_class(&r, 1, 1, 1, "FEMALE|1960|*|2054-5+2106-3|*");
    check_class(&r, 2, 1, 1, "MALE|*|021|2106-3|2186-5");
    check_class(&r, 3, 2, 1, "FEMALE|1960|100|2054-5|*");
    check_class(&r, 4, 3, 2, "MALE|1950|021|2106-3|2186-5"); /* E11, I10, E11 */

    assert_int_equal(r.hist_classes[0], 3); /* size 1 */
    assert_int_equal(r.hist_patients[0], 3);
    assert_int_equal(r.hist_classes[1], 1); /* size 2 */
    assert_int_equal(r.hist_patients[1], 2);
    assert_int_equal(r.hist_classes[2], 1); /* size 3 */
    assert_int_equal(r.hist_patients[2], 3);
    for (int b = 3; b < MF_RISK_BUCKETS; b++)
        assert_int_equal(r.hist_classes[b], 0);

    assert_int_equal(r.l_min, 1);
    assert_int_equal(r.classes_below_l, 4);
    assert_int_equal(r.patients_below_l, 5);
    assert_int_equal(r.sensitive_values, 4);  /* E11, I10, Z00, none */
    assert_int_equal(r.without_sensitive, 3); /* b1, b2, e1 */

    /* the records of classes below k, in class order */
    assert_int_equal(r.n_below_k, 3);
    assert_string_equal(r.below_k[0].subject, "d1");
    assert_int_equal(r.below_k[0].cls, 0);
    assert_string_equal(r.below_k[1].subject, "c1");
    assert_int_equal(r.below_k[1].cls, 1);
    assert_string_equal(r.below_k[2].subject, "e1");
    assert_int_equal(r.below_k[2].cls, 2);

    mf_risk_result_free(&r);
    mf_store_close(s);
}

/* Fewer quasi-identifiers merge classes; a whole code as the prefix is presence/absence. */
static void risk_sex_birth_year(void **state)
{
    (void)state;
    struct mf_store *s = open_cohort(0);
    struct mf_risk_opts o = make_opts("birth_year,sex", 3, "ICD10CM/E11", 2, 1);
    struct mf_risk_result r;
    struct mf_err err = {0};
    assert_int_equal(mf_risk_compute(s, &o, &r, &err), 0);
    assert_int_equal(r.patients, 8);
    assert_int_equal(r.n_classes, 4);
    assert_int_equal(r.k_min, 1);
    assert_int_equal(r.classes_below_k, 2);
    assert_int_equal(r.patients_below_k, 2);
    check_class(&r, 0, 1, 1, "*|MALE");      /* e1 */
    check_class(&r, 1, 1, 1, "1949|*");      /* d1 */
    check_class(&r, 2, 3, 1, "1950|MALE");   /* a1 a2 a3: all have E11 (a2's comes second) */
    check_class(&r, 3, 3, 2, "1960|FEMALE"); /* b1 b2: none; c1: E11 */
    assert_int_equal(r.l_min, 1);
    assert_int_equal(r.classes_below_l, 3);
    assert_int_equal(r.patients_below_l, 5);
    assert_int_equal(r.sensitive_values, 2);
    assert_int_equal(r.n_below_k, 2);
    assert_string_equal(r.below_k[0].subject, "e1");
    assert_string_equal(r.below_k[1].subject, "d1");
    mf_risk_result_free(&r);

    /* k = 1 is always met; without --list nothing is listed; no sensitive: no l */
    o = make_opts("zip3", 1, NULL, 2, 0);
    assert_int_equal(mf_risk_compute(s, &o, &r, &err), 0);
    assert_int_equal(r.n_classes, 3);
    check_class(&r, 0, 1, 0, "*");
    check_class(&r, 1, 2, 0, "100");
    check_class(&r, 2, 5, 0, "021");
    assert_int_equal(r.classes_below_k, 0);
    assert_int_equal(r.patients_below_k, 0);
    assert_int_equal(r.n_below_k, 0);
    assert_int_equal(r.l_min, 0);
    assert_int_equal(r.sensitive_values, 0);
    assert_int_equal(r.hist_classes[4], 1); /* 5-9 */
    assert_int_equal(r.hist_patients[4], 5);
    mf_risk_result_free(&r);

    /* a class of exactly k is not below k */
    o = make_opts("sex", 3, NULL, 1, 1);
    assert_int_equal(mf_risk_compute(s, &o, &r, &err), 0);
    check_class(&r, 0, 1, 0, "*");
    check_class(&r, 1, 3, 0, "FEMALE");
    check_class(&r, 2, 4, 0, "MALE");
    assert_int_equal(r.classes_below_k, 1);
    assert_int_equal(r.n_below_k, 1);
    assert_string_equal(r.below_k[0].subject, "d1");
    mf_risk_result_free(&r);
    mf_store_close(s);
}

/* The same result whatever the sharding. */
static void risk_across_shards(void **state)
{
    (void)state;
    struct mf_store *one = open_cohort(0), *many = open_cohort(4);
    assert_true(mf_store_n_shards(many) > 2);
    struct mf_risk_opts o = make_opts("sex,birth_year,zip3,race,ethnicity", 2, "ICD10CM/", 2, 1);
    struct mf_risk_result a, b;
    struct mf_err err = {0};
    assert_int_equal(mf_risk_compute(one, &o, &a, &err), 0);
    assert_int_equal(mf_risk_compute(many, &o, &b, &err), 0);
    assert_int_equal(a.n_classes, b.n_classes);
    assert_int_equal(a.patients, b.patients);
    for (size_t i = 0; i < a.n_classes; i++) {
        assert_int_equal(a.classes[i].size, b.classes[i].size);
        assert_int_equal(a.classes[i].l, b.classes[i].l);
        for (size_t p = 0; p < o.n_quasi; p++)
            assert_string_equal(a.classes[i].values[p], b.classes[i].values[p]);
    }
    assert_int_equal(a.n_below_k, b.n_below_k);
    for (size_t i = 0; i < a.n_below_k; i++)
        assert_string_equal(a.below_k[i].subject, b.below_k[i].subject);
    mf_risk_result_free(&a);
    mf_risk_result_free(&b);
    mf_store_close(one);
    mf_store_close(many);
}

static void risk_bad_options(void **state)
{
    (void)state;
    enum mf_risk_quasi q[MF_RISK__N];
    size_t n = 0;
    struct mf_err err = {0};
    assert_int_equal(mf_risk_parse_quasi("sex,zipcode", q, &n, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "zipcode"));
    assert_non_null(strstr(err.msg, "birth_year"));
    mf_err_clear(&err);
    assert_int_equal(mf_risk_parse_quasi("sex,sex", q, &n, &err), MF_EINVAL);
    mf_err_clear(&err);
    assert_int_equal(mf_risk_parse_quasi("", q, &n, &err), MF_EINVAL);
    mf_err_clear(&err);
    assert_int_equal(mf_risk_parse_quasi("sex,", q, &n, &err), MF_EINVAL);
    mf_err_clear(&err);
    assert_int_equal(mf_risk_parse_quasi("ethnicity,race,zip3,birth_year,sex", q, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(q[0], MF_RISK_ETHNICITY);
    assert_int_equal(q[4], MF_RISK_SEX);

    struct mf_store *s = open_cohort(0);
    struct mf_risk_opts o = make_opts("sex", 0, NULL, 1, 0);
    struct mf_risk_result r;
    assert_int_equal(mf_risk_compute(s, &o, &r, &err), MF_EINVAL);
    mf_risk_result_free(&r);
    o = make_opts("sex", 2, "", 1, 0);
    assert_int_equal(mf_risk_compute(s, &o, &r, &err), MF_EINVAL);
    mf_risk_result_free(&r);
    mf_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(risk_all_quasi),
        cmocka_unit_test(risk_sex_birth_year),
        cmocka_unit_test(risk_across_shards),
        cmocka_unit_test(risk_bad_options),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
