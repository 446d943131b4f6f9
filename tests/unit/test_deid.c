/* test_deid.c - unit tests for keys, keyed pseudonyms, date shifts and the event
 * de-identifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "deid/deid.h"

#include "testutil.h"

static void make_key(const char *name, struct mf_deid_key *key)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    struct mf_err err = {0};
    assert_int_equal(mf_deid_key_generate(p, &err), 0);
    assert_int_equal(mf_deid_key_load(p, key, &err), 0);
}

static void keys_are_private_and_checked(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/k", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_deid_key_generate(p, &err), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    mf_err_clear(&err);
    assert_int_equal(mf_deid_key_generate(p, &err), MF_EEXIST); /* never overwritten */
    struct mf_deid_key a, b;
    assert_int_equal(mf_deid_key_load(p, &a, NULL), 0);
    /* readable by others: refused */
    assert_int_equal(chmod(p, 0644), 0);
    mf_err_clear(&err);
    assert_int_equal(mf_deid_key_load(p, &b, &err), MF_EINVAL);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_int_equal(chmod(p, 0600), 0);
    /* missing, malformed */
    snprintf(p, sizeof p, "%s/missing", tmpdir);
    assert_int_equal(mf_deid_key_load(p, &b, NULL), MF_ENOTFOUND);
    snprintf(p, sizeof p, "%s/bad", tmpdir);
    FILE *f = fopen(p, "w");
    fputs("not a key\n", f);
    fclose(f);
    chmod(p, 0600);
    assert_int_equal(mf_deid_key_load(p, &b, NULL), MF_EPARSE);
    /* two new keys differ */
    make_key("k2", &b);
    assert_memory_not_equal(a.bytes, b.bytes, sizeof a.bytes);
}

static void pseudonyms_and_shifts_are_keyed(void **state)
{
    (void)state;
    struct mf_deid_key a, b;
    make_key("pa", &a);
    make_key("pb", &b);
    char p1[33], p2[33], p3[33], p4[33];
    mf_deid_pseudonym(&a, "patient-1", 9, p1);
    mf_deid_pseudonym(&a, "patient-1", 9, p2);
    mf_deid_pseudonym(&a, "patient-2", 9, p3);
    mf_deid_pseudonym(&b, "patient-1", 9, p4);
    assert_string_equal(p1, p2);
    assert_string_not_equal(p1, p3);
    assert_string_not_equal(p1, p4);
    assert_int_equal(strlen(p1), 32);
    assert_null(strstr(p1, "patient"));
    /* shifts: whole days, never zero, within a year, and spread over the range */
    int64_t lo = 0, hi = 0;
    char id[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(id, sizeof id, "p%d", i);
        int64_t s = mf_deid_shift(&a, id, (size_t)n);
        assert_int_equal(s % MF_USEC_PER_DAY, 0);
        assert_true(s != 0 && llabs(s) <= 365 * MF_USEC_PER_DAY);
        assert_int_equal(s, mf_deid_shift(&a, id, (size_t)n));
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
    }
    assert_true(lo < -300 * MF_USEC_PER_DAY && hi > 300 * MF_USEC_PER_DAY);
}

static void text_kept_only_when_code_shaped(void **state)
{
    (void)state;
    assert_true(mf_deid_text_is_code("SNOMED/266919005", 16));
    assert_true(mf_deid_text_is_code("LOINC/LA6576-8", 14));
    assert_false(mf_deid_text_is_code("Seen by Dr. Smith on 3/4", 24));
    assert_false(mf_deid_text_is_code("NEG", 3));
    assert_false(mf_deid_text_is_code("/x", 2));
    assert_false(mf_deid_text_is_code("A B/C", 5));
    assert_false(mf_deid_text_is_code("see http://x/y", 14));
}

static void event_hook_rewrites_subject_time_text(void **state)
{
    (void)state;
    struct mf_deid_key k;
    make_key("ek", &k);
    struct mf_buf scratch = MF_BUF_INIT;
    struct mf_event e1 =
        mf_event_make("id-9", 1000 * MF_USEC_PER_DAY, "LOINC/1", 5, "mg", "John Doe called");
    struct mf_event e2 =
        mf_event_make("id-9", 1003 * MF_USEC_PER_DAY, "LOINC/2", NAN, NULL, "SNOMED/1");
    struct mf_event e3 = mf_event_make("id-9", MF_TIME_NONE, "GENDER/FEMALE", NAN, NULL, NULL);
    assert_int_equal(mf_deid_event_hook(&k, &e1, &scratch, NULL), 0);
    char subj1[33];
    memcpy(subj1, e1.subject, 32);
    subj1[32] = '\0';
    assert_int_equal(mf_deid_event_hook(&k, &e2, &scratch, NULL), 0);
    assert_memory_equal(subj1, e2.subject, 32);
    assert_int_equal(e2.time - e1.time, 3 * MF_USEC_PER_DAY); /* intervals exact */
    assert_true(e1.time != 1000 * MF_USEC_PER_DAY);
    assert_null(e1.text); /* free text dropped */
    assert_string_equal(e1.unit, "mg");
    assert_true(e1.value == 5);
    assert_string_equal(e2.text, "SNOMED/1"); /* coded value kept */
    assert_int_equal(mf_deid_event_hook(&k, &e3, &scratch, NULL), 0);
    assert_int_equal(e3.time, MF_TIME_NONE); /* static facts have no time to shift */
    mf_buf_release(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keys_are_private_and_checked),
        cmocka_unit_test(pseudonyms_and_shifts_are_keyed),
        cmocka_unit_test(text_kept_only_when_code_shaped),
        cmocka_unit_test(event_hook_rewrites_subject_time_text),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
