/* test_deid_eval.c - corpora and metrics of `medfm deid eval`: the HIPAA rules applied to gold
 * spans, code-point offsets, the synth folder reader, and the counting of true, false and
 * ignored spans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "deid/eval.h"

#include "testutil.h"

static void write_file(const char *name, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void gold_rules(void **state)
{
    (void)state;
#define D(s) mf_deid_eval_date_is_phi(s, strlen(s))
    assert_true(D("2000-04-16 11:34:35"));
    assert_true(D("2/16/1942"));
    assert_true(D("March 2014"));
    assert_true(D("the 3rd of sept"));
    assert_false(D("2001"));
    assert_false(D("Saturday"));
    assert_false(D("the 1990s"));
    assert_false(D("11:34:35"));
    assert_false(D("at 7 pm"));
    assert_false(D("Marching season")); /* not a month word */
#undef D
#define A(s) mf_deid_eval_age_is_phi(s, strlen(s))
    assert_true(A("90"));
    assert_true(A("101"));
    assert_false(A("89"));
    assert_false(A("74 years"));
    assert_true(A("ninety")); /* no number: kept */
#undef A
}

static void presidio_offsets_and_metrics(void **state)
{
    (void)state;
    /* code points: "Ödön" is 4 code points, 6 bytes; the phone starts at cp 22 */
    write_file("p.json",
               "[{\"full_text\":\"Ödön Kovács can be at 617-555-0123.\",\"spans\":["
               "{\"entity_type\":\"PHONE_NUMBER\",\"start_position\":22,\"end_position\":34},"
               "{\"entity_type\":\"PERSON\",\"start_position\":0,\"end_position\":11}]},"
               "{\"full_text\":\"Seen 2016-05-02 by the blue house.\",\"spans\":["
               "{\"entity_type\":\"DATE_TIME\",\"start_position\":5,\"end_position\":9},"
               "{\"entity_type\":\"PERSON\",\"start_position\":19,\"end_position\":33}]},"
               "{\"full_text\":\"Acme Corp called.\",\"spans\":["
               "{\"entity_type\":\"ORGANIZATION\",\"start_position\":0,\"end_position\":9}]}]");
    char spec[600];
    snprintf(spec, sizeof spec, "presidio:%s/p.json", tmpdir);
    struct mf_deid_corpus c = {0};
    struct mf_err err = {0};
    assert_int_equal(mf_deid_corpus_load(spec, &c, &err), 0);
    assert_int_equal((int)c.n, 3);
    const struct mf_deid_doc *d = &c.docs[0];
    assert_int_equal((int)d->ngold, 2);
    assert_int_equal(d->gold[0].cat, MF_DEID_PHONE);
    assert_memory_equal(d->text + d->gold[0].start, "617-555-0123", 12);
    assert_int_equal(d->gold[0].end - d->gold[0].start, 12);
    assert_memory_equal(d->text + d->gold[1].start, "Ödön Kovács", strlen("Ödön Kovács"));
    /* the bare year is ignored; ORGANIZATION is ignored */
    assert_int_equal(c.docs[1].gold[0].cat, MF_DEID_EVAL_IGNORED);
    assert_int_equal(c.docs[2].gold[0].cat, MF_DEID_EVAL_IGNORED);

    struct mf_deid_lexicon *lex = NULL;
    assert_int_equal(mf_deid_lexicon_load(NULL, &lex, &err), 0);
    struct mf_deid_tagger *t = mf_deid_tagger_new(lex);
    struct mf_deid_eval_result r;
    assert_int_equal(mf_deid_eval_run(t, &c, MF_DEID_EVAL_ALL, &r, NULL, &err), 0);
    assert_int_equal((int)r.docs, 3);
    assert_int_equal((int)r.gold, 3);    /* phone, person, "the blue house" */
    assert_int_equal((int)r.ignored, 2); /* the year, the organisation */
    assert_int_equal((int)r.any.n_gold, 3);
    assert_int_equal((int)r.any.tp_gold, 2); /* "the blue house" is missed */
    /* the date overlaps only the ignored year: neither true nor false */
    assert_true(r.ignored_pred >= 1);
    assert_int_equal((int)r.any.tp_pred, (int)r.any.n_pred);
    assert_int_equal((int)r.cat_gold[MF_DEID_PHONE], 1);
    assert_int_equal((int)r.cat_hit[MF_DEID_PHONE], 1);
    assert_true(r.strict.tp_gold >= 1); /* the phone is exact */
    /* halves */
    struct mf_deid_eval_result even, odd;
    assert_int_equal(mf_deid_eval_run(t, &c, MF_DEID_EVAL_EVEN, &even, NULL, &err), 0);
    assert_int_equal(mf_deid_eval_run(t, &c, MF_DEID_EVAL_ODD, &odd, NULL, &err), 0);
    assert_int_equal((int)(even.docs + odd.docs), 3);
    assert_int_equal((int)(even.gold + odd.gold), (int)r.gold);
    /* JSON */
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_deid_eval_json(&r, "presidio:x", &b), 0);
    assert_non_null(strstr(b.data, "\"recall\":"));
    assert_non_null(strstr(b.data, "\"per_category\":{"));
    assert_non_null(strstr(b.data, "\"mb_per_s\":"));
    mf_buf_release(&b);
    mf_deid_tagger_free(t);
    mf_deid_lexicon_free(lex);
    mf_deid_corpus_free(&c);
}

static void synth_folder(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/s/truth", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_fs_mkdir_p(p, &err), 0);
    /* "Age 93, Jo." base64 */
    write_file("s/DocumentReference.ndjson",
               "{\"resourceType\":\"DocumentReference\",\"id\":\"p1-d0\",\"content\":[{"
               "\"attachment\":{\"data\":\"QWdlIDkzLCBKby4=\"}}]}\n");
    write_file("s/truth/phi.ndjson",
               "{\"resource_type\":\"DocumentReference\",\"resource_id\":\"p1-d0\",\"start\":4,"
               "\"end\":6,\"category\":\"AGE\"}\n"
               "{\"resource_type\":\"DocumentReference\",\"resource_id\":\"p1-d0\",\"start\":8,"
               "\"end\":10,\"category\":\"NAME\"}\n");
    char spec[600];
    snprintf(spec, sizeof spec, "synth:%s/s", tmpdir);
    struct mf_deid_corpus c = {0};
    assert_int_equal(mf_deid_corpus_load(spec, &c, &err), 0);
    assert_int_equal((int)c.n, 1);
    assert_int_equal((int)c.docs[0].n, 11);
    assert_memory_equal(c.docs[0].text, "Age 93, Jo.", 11);
    assert_int_equal((int)c.docs[0].ngold, 2);
    assert_int_equal(c.docs[0].gold[0].cat, MF_DEID_AGE);
    mf_deid_corpus_free(&c);
    /* a span outside its note is an error naming the line, not the value */
    write_file("s/truth/phi.ndjson",
               "{\"resource_type\":\"DocumentReference\",\"resource_id\":\"p1-d0\",\"start\":4,"
               "\"end\":60,\"category\":\"AGE\"}\n");
    mf_err_clear(&err);
    assert_int_equal(mf_deid_corpus_load(spec, &c, &err), MF_EPARSE);
    assert_non_null(strstr(err.msg, ":1:"));
    mf_deid_corpus_free(&c);
    /* an unknown spec */
    assert_int_equal(mf_deid_corpus_load("other:x", &c, &err), MF_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gold_rules),
        cmocka_unit_test(presidio_offsets_and_metrics),
        cmocka_unit_test(synth_folder),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
