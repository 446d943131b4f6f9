/* test_token.c - unit tests for the tokenizer: splits, time-gap tokens, deciles, rare codes,
 * training-only fitting, the static prefix, token order, vocab.json round trip and damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/log.h"
#include "store/store.h"
#include "token/token.h"

static char tmpdir[512];

#include "teststore.h"

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("MEDFM_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_token-%ld", base && *base ? base : "/tmp",
             (long)getpid());
    struct mf_err err = {0};
    mf_log_set_level(MF_LOG_QUIET);
    return mf_fs_mkdir_p(tmpdir, &err);
}

static int teardown(void **state)
{
    (void)state;
    mf_fs_rm_rf(tmpdir);
    return 0;
}

#define MIN  (INT64_C(60) * 1000000)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

/* The split rule computed here independently of the library. */
static enum mf_split split_of(const char *id, double tuning, double held)
{
    struct sha256_ctx c;
    uint8_t d[32];
    sha256_init(&c);
    sha256_update(&c, 15, (const uint8_t *)"medfm-split-v1\0");
    sha256_update(&c, strlen(id), (const uint8_t *)id);
    sha256_digest(&c, 32, d);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | d[i];
    double u = (double)x / 18446744073709551616.0;
    return u < held ? MF_SPLIT_HELD_OUT : u < held + tuning ? MF_SPLIT_TUNING : MF_SPLIT_TRAIN;
}

/* The k-th id "pat-N" in split sp under the default fractions (static storage, 8 slots). */
static const char *id_in(enum mf_split sp, int k)
{
    static char ids[8][32];
    static int next;
    char *out = ids[next++ % 8];
    for (int i = 0;; i++) {
        snprintf(out, 32, "pat-%d", i);
        if (split_of(out, 0.1, 0.1) == sp && k-- == 0)
            return out;
    }
}

static struct mf_vocab *fit(const struct mf_store *s, uint32_t min_count, int use_race)
{
    struct mf_tok_opts o = MF_TOK_OPTS_DEFAULT;
    o.min_count = min_count;
    o.use_race = use_race;
    struct mf_vocab *v = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_vocab_fit(s, &o, &v, &err), 0);
    return v;
}

/* Tokenize one patient into an array of token texts joined by spaces. */
static char *tokens_of(const struct mf_vocab *v, const struct mf_store *s, const char *id,
                       struct mf_tokens *tk)
{
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(s, id, strlen(id), &tl), 0);
    struct mf_err err = {0};
    assert_int_equal(mf_tokenize(v, s, &tl, tk, &err), 0);
    struct mf_buf b = MF_BUF_INIT;
    for (size_t i = 0; i < tk->n; i++) {
        const char *t = mf_vocab_token(v, tk->tok[i]);
        assert_non_null(t);
        mf_buf_puts(&b, i ? " " : "");
        mf_buf_puts(&b, t);
    }
    return mf_buf_detach(&b, NULL);
}

#define assert_tokens(v, s, id, want)                                                              \
    do {                                                                                           \
        struct mf_tokens tk_ = {0};                                                                \
        char *got_ = tokens_of(v, s, id, &tk_);                                                    \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
        mf_tokens_free(&tk_);                                                                      \
    } while (0)

/* Splits */

static void split_is_deterministic_with_the_right_fractions(void **state)
{
    (void)state;
    struct ev evs[] = {{id_in(MF_SPLIT_TRAIN, 0), 0, "X/a", NAN}};
    write_store("split", evs, 1);
    struct mf_store *s = open_store("split");
    struct mf_vocab *v = fit(s, 1, 0);
    struct mf_tok_opts o = MF_TOK_OPTS_DEFAULT;
    o.tuning_frac = 0.25;
    o.held_out_frac = 0.05;
    struct mf_vocab *v2 = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_vocab_fit(s, &o, &v2, &err), 0);
    int count[3] = {0}, count2[3] = {0};
    char id[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "subject-%d", i);
        enum mf_split sp = mf_vocab_split(v, id, strlen(id));
        assert_int_equal(sp, mf_vocab_split(v, id, strlen(id)));
        assert_int_equal(sp, split_of(id, 0.1, 0.1));
        count[sp]++;
        enum mf_split sp2 = mf_vocab_split(v2, id, strlen(id));
        assert_int_equal(sp2, split_of(id, 0.25, 0.05));
        count2[sp2]++;
    }
    assert_true(fabs(count[MF_SPLIT_TRAIN] / 10000.0 - 0.8) <= 0.015);
    assert_true(fabs(count[MF_SPLIT_TUNING] / 10000.0 - 0.1) <= 0.015);
    assert_true(fabs(count[MF_SPLIT_HELD_OUT] / 10000.0 - 0.1) <= 0.015);
    assert_true(fabs(count2[MF_SPLIT_TRAIN] / 10000.0 - 0.7) <= 0.015);
    assert_true(fabs(count2[MF_SPLIT_TUNING] / 10000.0 - 0.25) <= 0.015);
    assert_true(fabs(count2[MF_SPLIT_HELD_OUT] / 10000.0 - 0.05) <= 0.015);
    for (int sp = 0; sp < 3; sp++)
        assert_int_equal(mf_split_parse(mf_split_name((enum mf_split)sp)), sp);
    assert_string_equal(mf_split_name(MF_SPLIT_HELD_OUT), "held_out");
    assert_int_equal(mf_split_parse("test"), -1);
    assert_int_equal(mf_split_parse(NULL), -1);
    /* bad fractions */
    o.tuning_frac = 0.6;
    o.held_out_frac = 0.6;
    mf_err_clear(&err);
    struct mf_vocab *bad = NULL;
    assert_int_not_equal(mf_vocab_fit(s, &o, &bad, &err), 0);
    assert_null(bad);
    mf_vocab_free(v);
    mf_vocab_free(v2);
    mf_store_close(s);
}

/* Time-gap tokens */

static void time_tokens_at_every_band_edge(void **state)
{
    (void)state;
    static const int64_t edges[] = {5 * MIN, 15 * MIN, HOUR,     2 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
                                    3 * DAY, 7 * DAY,  14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY};
    static const char *names[] = {"TIME/5m-15m", "TIME/15m-1h", "TIME/1h-2h",   "TIME/2h-6h",
                                  "TIME/6h-12h", "TIME/12h-1d", "TIME/1d-3d",   "TIME/3d-1w",
                                  "TIME/1w-2w",  "TIME/2w-1mo", "TIME/1mo-3mo", "TIME/3mo-6mo",
                                  "TIME/6mo"};
    /* gaps: each edge, each edge less 1 us, then 14 months and two long remainders */
    int64_t gaps[40];
    size_t ng = 0;
    for (int i = 0; i < 13; i++) {
        gaps[ng++] = edges[i];
        gaps[ng++] = edges[i] - 1;
    }
    gaps[ng++] = 426 * DAY;               /* 14 months: 6mo 6mo then 62 days */
    gaps[ng++] = 364 * DAY + 5 * MIN - 1; /* 6mo 6mo and no remainder token */
    gaps[ng++] = 364 * DAY + 5 * MIN;     /* 6mo 6mo 5m-15m */
    gaps[ng++] = 0;
    const char *p = id_in(MF_SPLIT_TRAIN, 0);
    struct ev evs[64];
    size_t n = 0;
    int64_t t = 1000 * DAY;
    evs[n++] = (struct ev){p, t, "X/a", NAN};
    for (size_t i = 0; i < ng; i++) {
        t += gaps[i];
        evs[n++] = (struct ev){p, t, "X/a", NAN};
    }
    write_store("time", evs, n);
    struct mf_store *s = open_store("time");
    struct mf_vocab *v = fit(s, 1, 0);
    struct mf_buf want = MF_BUF_INIT;
    mf_buf_puts(&want, "X/a");
    for (int i = 0; i < 13; i++) {
        mf_buf_printf(&want, " %s X/a", names[i]);
        if (i == 0)
            mf_buf_puts(&want, " X/a"); /* 5 min less 1 us: no token */
        else
            mf_buf_printf(&want, " %s X/a", names[i - 1]);
    }
    mf_buf_puts(&want, " TIME/6mo TIME/6mo TIME/1mo-3mo X/a");
    mf_buf_puts(&want, " TIME/6mo TIME/6mo X/a");
    mf_buf_puts(&want, " TIME/6mo TIME/6mo TIME/5m-15m X/a");
    mf_buf_puts(&want, " X/a TIMELINE_END");
    assert_tokens(v, s, p, want.data);
    mf_buf_release(&want);
    /* times: a time token carries the time of the event after the gap; the end the last one */
    struct mf_tokens tk = {0};
    free(tokens_of(v, s, p, &tk));
    assert_int_equal(tk.time[0], 1000 * DAY);
    assert_int_equal(tk.time[1], 1000 * DAY + 5 * MIN);
    assert_int_equal(tk.time[tk.n - 1], t);
    for (size_t i = 1; i < tk.n; i++)
        assert_true(tk.time[i] >= tk.time[i - 1]);
    mf_tokens_free(&tk);
    /* durations are the lower edges */
    for (int i = 0; i < 13; i++) {
        int64_t id = mf_vocab_id(v, names[i], strlen(names[i]));
        assert_true(id >= 0);
        assert_int_equal(mf_vocab_kind(v, (uint32_t)id), MF_TOK_TIME);
        assert_int_equal(mf_vocab_duration(v, (uint32_t)id), edges[i]);
    }
    assert_int_equal(mf_vocab_duration(v, MF_TOK_UNK), 0);
    assert_int_equal(mf_vocab_duration(v, (uint32_t)mf_vocab_id(v, "X/a", 3)), 0);
    assert_int_equal(mf_vocab_duration(v, 1u << 30), 0);
    mf_vocab_free(v);
    mf_store_close(s);
}

/* Deciles */

static void decile_cut_points_and_ties(void **state)
{
    (void)state;
    const char *p = id_in(MF_SPLIT_TRAIN, 0), *q = id_in(MF_SPLIT_TUNING, 0);
    struct ev evs[256];
    size_t n = 0;
    int64_t t = 0;
    for (int i = 1; i <= 10; i++) /* LAB/a: 1..10, cut points 1..9 */
        evs[n++] = (struct ev){p, t += DAY, "LAB/a", i};
    for (int i = 0; i < 20; i++) /* LAB/tie: twenty 7s: every cut point 7 */
        evs[n++] = (struct ev){p, t += DAY, "LAB/tie", 7};
    for (int i = 1; i <= 9; i++) /* LAB/few: 9 values: no cut points */
        evs[n++] = (struct ev){p, t += DAY, "LAB/few", i};
    for (int i = 1; i <= 100; i++) /* LAB/h: 1..100: cut points 10, 20, ... 90 */
        evs[n++] = (struct ev){p, t += DAY, "LAB/h", i};
    /* tuning patient: values at, below and above the cut points */
    static const double a_vals[] = {0.5, 1, 1.5, 5, 9, 9.5, 100, NAN};
    for (size_t i = 0; i < 8; i++)
        evs[n++] = (struct ev){q, (int64_t)i, "LAB/a", a_vals[i]};
    evs[n++] = (struct ev){q, 10, "LAB/tie", 6};
    evs[n++] = (struct ev){q, 11, "LAB/tie", 7};
    evs[n++] = (struct ev){q, 12, "LAB/tie", 7.5};
    evs[n++] = (struct ev){q, 13, "LAB/few", 5};
    evs[n++] = (struct ev){q, 14, "LAB/h", 10};
    evs[n++] = (struct ev){q, 15, "LAB/h", 10.5};
    evs[n++] = (struct ev){q, 16, "LAB/h", 90};
    evs[n++] = (struct ev){q, 17, "LAB/h", 91};
    write_store("decile", evs, n);
    struct mf_store *s = open_store("decile");
    struct mf_vocab *v = fit(s, 1, 0);
    assert_tokens(v, s, q,
                  "LAB/a Q1 LAB/a Q1 LAB/a Q2 LAB/a Q5 LAB/a Q9 LAB/a Q10 LAB/a Q10 LAB/a "
                  "LAB/tie Q1 LAB/tie Q1 LAB/tie Q10 LAB/few "
                  "LAB/h Q1 LAB/h Q2 LAB/h Q9 LAB/h Q10 TIMELINE_END");
    /* the cut points as vocab.json holds them */
    char path[1024];
    snprintf(path, sizeof path, "%s/decile-vocab.json", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_vocab_save(v, path, &err), 0);
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(path, 1 << 20, &b, &err), 0);
    assert_non_null(strstr(b.data, "\"text\": \"LAB/a\", \"kind\": \"code\", \"count\": 10, "
                                   "\"cuts\": [1, 2, 3, 4, 5, 6, 7, 8, 9]}"));
    assert_non_null(strstr(b.data, "\"cuts\": [10, 20, 30, 40, 50, 60, 70, 80, 90]}"));
    assert_non_null(strstr(b.data, "\"cuts\": [7, 7, 7, 7, 7, 7, 7, 7, 7]}"));
    assert_non_null(strstr(b.data, "\"text\": \"LAB/few\", \"kind\": \"code\", \"count\": 9}"));
    mf_buf_release(&b);
    mf_vocab_free(v);
    mf_store_close(s);
}

/* Rare codes, unknown vocabularies, fitting on training patients only */

static void rare_codes_unknown_vocabularies_and_training_only(void **state)
{
    (void)state;
    const char *p0 = id_in(MF_SPLIT_TRAIN, 0), *p1 = id_in(MF_SPLIT_TRAIN, 1);
    const char *tu = id_in(MF_SPLIT_TUNING, 0), *ho = id_in(MF_SPLIT_HELD_OUT, 0);
    struct ev evs[512];
    size_t n = 0;
    for (int i = 0; i < 3; i++) { /* 6 in training: a token at min_count 5 */
        evs[n++] = (struct ev){p0, i * MIN, "SNOMED/common", NAN};
        evs[n++] = (struct ev){p1, i * MIN, "SNOMED/common", NAN};
    }
    for (int i = 0; i < 4; i++) /* 4 in training: rare */
        evs[n++] = (struct ev){p0, 10 * MIN + i, "SNOMED/rare", NAN};
    for (int i = 0; i < 50; i++) { /* only outside training: not a token */
        evs[n++] = (struct ev){tu, i * MIN, "LOINC/tuneonly", 1.0 * i};
        evs[n++] = (struct ev){ho, i * MIN, "LOINC/tuneonly", 1.0 * i};
        evs[n++] = (struct ev){tu, i * MIN, "SNOMED/tuneonly", NAN};
    }
    evs[n++] = (struct ev){tu, 100 * MIN, "SNOMED/common", NAN};
    evs[n++] = (struct ev){tu, 110 * MIN, "SNOMED/rare", NAN};
    evs[n++] = (struct ev){tu, 120 * MIN, "ZZZ/new", NAN};
    evs[n++] = (struct ev){tu, 130 * MIN, "MEDS_DEATH", NAN};
    write_store("rare", evs, n);
    struct mf_store *s = open_store("rare");
    struct mf_vocab *v = fit(s, 0, 0); /* default min_count 5 */
    assert_int_equal(mf_vocab_id(v, "SNOMED/rare", 11), -1);
    assert_int_equal(mf_vocab_id(v, "SNOMED/tuneonly", 15), -1);
    assert_int_equal(mf_vocab_id(v, "LOINC/tuneonly", 14), -1);
    assert_int_equal(mf_vocab_id(v, "LOINC/<rare>", 12), -1);
    assert_true(mf_vocab_id(v, "SNOMED/<rare>", 13) >= 0);
    assert_true(mf_vocab_id(v, "SNOMED/common", 13) >= 0);
    /* MEDS_DEATH is an outcome: a token even when training never saw it */
    int64_t death = mf_vocab_id(v, "MEDS_DEATH", 10);
    assert_true(death >= 0);
    assert_int_equal(mf_vocab_kind(v, (uint32_t)death), MF_TOK_CODE);
    struct mf_tokens tk = {0};
    char *got = tokens_of(v, s, tu, &tk);
    /* the tuning patient: 50 LOINC/tuneonly (UNK), 50 SNOMED/tuneonly (SNOMED/<rare>), ... */
    size_t unk = 0, rare = 0;
    for (size_t i = 0; i < tk.n; i++) {
        unk += tk.tok[i] == MF_TOK_UNK;
        rare += strcmp(mf_vocab_token(v, tk.tok[i]), "SNOMED/<rare>") == 0;
        assert_int_not_equal(mf_vocab_kind(v, tk.tok[i]), MF_TOK_QUANTILE); /* no cut points */
    }
    assert_int_equal(unk, 51);  /* LOINC/tuneonly x50, ZZZ/new */
    assert_int_equal(rare, 51); /* SNOMED/tuneonly x50, SNOMED/rare */
    assert_non_null(strstr(got, "TIME/15m-1h SNOMED/common TIME/5m-15m SNOMED/<rare> TIME/5m-15m "
                                "UNK TIME/5m-15m MEDS_DEATH TIMELINE_END"));
    free(got);
    mf_tokens_free(&tk);
    mf_vocab_free(v);
    mf_store_close(s);
}

/* The static prefix */

static int64_t date(int y, unsigned m, unsigned d)
{
    return mf_time_from_date(y, m, d);
}

static void prefix_gender_age_race(void **state)
{
    (void)state;
    const char *p = id_in(MF_SPLIT_TRAIN, 0), *q = id_in(MF_SPLIT_TUNING, 0);
    const char *r = id_in(MF_SPLIT_TRAIN, 1);
    struct ev evs[] = {
        {p, MF_TIME_NONE, "GENDER/F", NAN},
        {p, MF_TIME_NONE, "RACE/2106-3", NAN},
        {p, MF_TIME_NONE, "ETHNICITY/2186-5", NAN},
        {p, MF_TIME_NONE, "ZIP3/021", NAN},
        {p, date(1950, 6, 15), "MEDS_BIRTH", NAN},
        {p, date(2000, 6, 14), "X/a", NAN},
        {p, date(2000, 6, 14), "MEDS_DEATH", NAN},
        {q, MF_TIME_NONE, "GENDER/UNKNOWN", NAN}, /* a value training never saw: UNK */
        {q, MF_TIME_NONE, "RACE/2106-3", NAN},
        {r, MF_TIME_NONE, "GENDER/M", NAN}, /* no birth: no age token */
    };
    write_store("prefix", evs, sizeof evs / sizeof evs[0]);
    struct mf_store *s = open_store("prefix");
    struct mf_vocab *v = fit(s, 1, 0);
    struct mf_vocab *vr = fit(s, 1, 1);
    assert_int_equal(mf_vocab_prefix_max(v), 2);
    assert_int_equal(mf_vocab_prefix_max(vr), 4);
    assert_int_equal(mf_vocab_id(v, "RACE/2106-3", 11), -1);
    assert_int_equal(mf_vocab_id(v, "ZIP3/021", 8), -1);
    assert_int_equal(mf_vocab_id(v, "MEDS_BIRTH", 10), -1);
    assert_int_equal(mf_vocab_kind(vr, (uint32_t)mf_vocab_id(vr, "RACE/2106-3", 11)),
                     MF_TOK_PREFIX);
    /* the body: no static facts, no MEDS_BIRTH; MEDS_DEATH stays */
    assert_tokens(v, s, p, "MEDS_DEATH X/a TIMELINE_END");
    struct mf_tokens tk = {0};
    free(tokens_of(v, s, p, &tk));
    assert_int_equal(tk.birth, date(1950, 6, 15));
    assert_int_equal(tk.n_static, 3);
    assert_int_equal(tk.static_tok[1], UINT32_MAX); /* no race without use_race */
    assert_int_equal(tk.static_tok[2], UINT32_MAX);
    uint32_t pre[4];
    struct {
        int64_t at;
        const char *age;
    } cases[] = {
        {date(2000, 6, 14), "AGE/45-49"}, /* a day before the 50th birthday */
        {date(2000, 6, 15), "AGE/50-54"}, {date(1950, 6, 15), "AGE/0-4"},
        {date(1940, 1, 1), "AGE/0-4"}, /* before birth */
        {date(2039, 6, 14), "AGE/85-89"}, {date(2040, 6, 15), "AGE/90+"},
        {date(2100, 1, 1), "AGE/90+"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(mf_tokens_prefix(v, &tk, cases[i].at, pre), 2);
        assert_string_equal(mf_vocab_token(v, pre[0]), "GENDER/F");
        assert_string_equal(mf_vocab_token(v, pre[1]), cases[i].age);
        assert_int_equal(mf_vocab_kind(v, pre[1]), MF_TOK_PREFIX);
    }
    assert_int_equal(mf_tokens_prefix(v, &tk, MF_TIME_NONE, pre), 1);
    mf_tokens_free(&tk);
    /* with race and ethnicity */
    free(tokens_of(vr, s, p, &tk));
    assert_int_equal(tk.n_static, 3);
    assert_string_equal(mf_vocab_token(vr, tk.static_tok[1]), "RACE/2106-3");
    assert_string_equal(mf_vocab_token(vr, tk.static_tok[2]), "ETHNICITY/2186-5");
    assert_int_equal(mf_tokens_prefix(vr, &tk, date(2000, 6, 14), pre), 4);
    assert_string_equal(mf_vocab_token(vr, pre[0]), "GENDER/F");
    assert_string_equal(mf_vocab_token(vr, pre[1]), "AGE/45-49");
    assert_string_equal(mf_vocab_token(vr, pre[2]), "RACE/2106-3");
    assert_string_equal(mf_vocab_token(vr, pre[3]), "ETHNICITY/2186-5");
    mf_tokens_free(&tk);
    /* an unseen gender value, a patient without events: just the prefix and the end */
    assert_tokens(vr, s, q, "TIMELINE_END");
    free(tokens_of(vr, s, q, &tk));
    assert_int_equal(tk.time[0], MF_TIME_NONE);
    assert_int_equal(mf_tokens_prefix(vr, &tk, date(2000, 1, 1), pre), 2);
    assert_int_equal(pre[0], MF_TOK_UNK);
    assert_string_equal(mf_vocab_token(vr, pre[1]), "RACE/2106-3");
    mf_tokens_free(&tk);
    free(tokens_of(v, s, r, &tk));
    assert_int_equal(tk.birth, MF_TIME_NONE);
    assert_int_equal(mf_tokens_prefix(v, &tk, date(2000, 1, 1), pre), 1);
    assert_string_equal(mf_vocab_token(v, pre[0]), "GENDER/M");
    mf_tokens_free(&tk);
    mf_vocab_free(v);
    mf_vocab_free(vr);
    mf_store_close(s);
}

/* Token order, save/load */

/* A store with a bit of everything, patients in every split. */
static void write_mixed(const char *name)
{
    struct ev evs[2048];
    size_t n = 0;
    static const char *codes[] = {"SNOMED/1", "SNOMED/2",      "LOINC/1-1",  "LOINC/2-2",
                                  "RxNorm/7", "ICD10CM/E11.9", "MEDS_DEATH", "NOTE/LOINC/1"};
    static char ids[60][32];
    for (int p = 0; p < 60; p++) {
        snprintf(ids[p], 32, "mixed-%d", p);
        evs[n++] = (struct ev){ids[p], MF_TIME_NONE, p % 2 ? "GENDER/F" : "GENDER/M", NAN};
        evs[n++] = (struct ev){ids[p], MF_TIME_NONE, p % 3 ? "RACE/a" : "RACE/b", NAN};
        evs[n++] = (struct ev){ids[p], date(1930 + p, 1 + p % 12, 1), "MEDS_BIRTH", NAN};
        int64_t t = date(2010, 1, 1) + p * HOUR;
        for (int k = 0; k < 25; k++) {
            t += (int64_t)((p * 7919 + k * 104729) % 5000) * MIN;
            const char *c = codes[(p + k * k) % 8];
            double val = c[0] == 'L' ? (double)((p * 31 + k * 17) % 97) / 3.0 : NAN;
            evs[n++] = (struct ev){ids[p], t, c, val};
        }
    }
    write_store(name, evs, n);
}

static void token_order_and_determinism(void **state)
{
    (void)state;
    write_mixed("mixed");
    struct mf_store *s = open_store("mixed");
    struct mf_vocab *v = fit(s, 3, 1);
    assert_string_equal(mf_vocab_token(v, 0), "TIMELINE_END");
    assert_string_equal(mf_vocab_token(v, 1), "UNK");
    assert_null(mf_vocab_token(v, mf_vocab_size(v)));
    /* kinds in order; GENDER before AGE before RACE; codes sorted by text */
    int64_t g = mf_vocab_id(v, "GENDER/M", 8), a = mf_vocab_id(v, "AGE/0-4", 7),
            r = mf_vocab_id(v, "RACE/a", 6), a90 = mf_vocab_id(v, "AGE/90+", 7);
    assert_true(g > 1 && g < a && a < a90 && a90 < r);
    assert_int_equal(a90 - a, 18);
    for (uint32_t i = 1; i < mf_vocab_size(v); i++) {
        assert_true(mf_vocab_kind(v, i) >= mf_vocab_kind(v, i - 1));
        if (mf_vocab_kind(v, i) == MF_TOK_CODE && mf_vocab_kind(v, i - 1) == MF_TOK_CODE)
            assert_true(strcmp(mf_vocab_token(v, i - 1), mf_vocab_token(v, i)) < 0);
        const char *t = mf_vocab_token(v, i);
        assert_int_equal(mf_vocab_id(v, t, strlen(t)), i);
    }
    int64_t q1 = mf_vocab_id(v, "Q1", 2), q10 = mf_vocab_id(v, "Q10", 3);
    assert_int_equal(q10 - q1, 9);
    assert_int_equal(mf_vocab_kind(v, (uint32_t)q1 - 1), MF_TOK_TIME);
    assert_int_equal(mf_vocab_kind(v, (uint32_t)q10 + 1), MF_TOK_CODE);
    /* the same store and options give the same bytes */
    char p1[1024], p2[1024];
    snprintf(p1, sizeof p1, "%s/v1.json", tmpdir);
    snprintf(p2, sizeof p2, "%s/v2.json", tmpdir);
    struct mf_vocab *v2 = fit(s, 3, 1);
    struct mf_err err = {0};
    assert_int_equal(mf_vocab_save(v, p1, &err), 0);
    assert_int_equal(mf_vocab_save(v2, p2, &err), 0);
    struct mf_buf b1 = MF_BUF_INIT, b2 = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(p1, 1 << 24, &b1, &err), 0);
    assert_int_equal(mf_fs_read_file(p2, 1 << 24, &b2, &err), 0);
    assert_int_equal(b1.len, b2.len);
    assert_memory_equal(b1.data, b2.data, b1.len);
    mf_buf_release(&b1);
    mf_buf_release(&b2);
    mf_vocab_free(v2);
    mf_vocab_free(v);
    mf_store_close(s);
}

static void save_load_round_trip(void **state)
{
    (void)state;
    write_mixed("mixed2");
    struct mf_store *s = open_store("mixed2");
    struct mf_vocab *v = fit(s, 2, 1);
    char path[1024];
    snprintf(path, sizeof path, "%s/rt.json", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_vocab_save(v, path, &err), 0);
    struct mf_vocab *w = NULL;
    assert_int_equal(mf_vocab_load(path, &w, &err), 0);
    assert_int_equal(mf_vocab_size(v), mf_vocab_size(w));
    assert_int_equal(mf_vocab_prefix_max(v), mf_vocab_prefix_max(w));
    for (uint32_t i = 0; i < mf_vocab_size(v); i++) {
        assert_string_equal(mf_vocab_token(v, i), mf_vocab_token(w, i));
        assert_int_equal(mf_vocab_kind(v, i), mf_vocab_kind(w, i));
        assert_int_equal(mf_vocab_duration(v, i), mf_vocab_duration(w, i));
    }
    struct mf_tokens a = {0}, b = {0};
    uint32_t pa[4], pb[4];
    size_t nq = 0;
    for (size_t sh = 0; sh < mf_store_n_shards(s); sh++)
        for (uint64_t i = 0; i < mf_store_shard_patients(s, sh); i++) {
            struct mf_timeline tl;
            assert_int_equal(mf_store_shard_timeline(s, sh, i, &tl), 0);
            assert_int_equal(mf_vocab_split(v, tl.subject.p, tl.subject.n),
                             mf_vocab_split(w, tl.subject.p, tl.subject.n));
            assert_int_equal(mf_tokenize(v, s, &tl, &a, &err), 0);
            assert_int_equal(mf_tokenize(w, s, &tl, &b, &err), 0);
            assert_int_equal(a.n, b.n);
            assert_memory_equal(a.tok, b.tok, a.n * sizeof *a.tok);
            assert_memory_equal(a.time, b.time, a.n * sizeof *a.time);
            assert_int_equal(a.tok[a.n - 1], MF_TOK_TIMELINE_END);
            for (size_t k = 0; k < a.n; k++)
                nq += mf_vocab_kind(v, a.tok[k]) == MF_TOK_QUANTILE;
            size_t na = mf_tokens_prefix(v, &a, a.time[0], pa);
            assert_int_equal(na, mf_tokens_prefix(w, &b, b.time[0], pb));
            assert_int_equal(na, 3); /* GENDER, AGE, RACE (no ethnicity in this store) */
            assert_memory_equal(pa, pb, na * sizeof *pa);
        }
    assert_true(nq > 100); /* the LOINC values got deciles */
    /* saving the loaded vocabulary gives the same file */
    char path2[1024];
    snprintf(path2, sizeof path2, "%s/rt2.json", tmpdir);
    assert_int_equal(mf_vocab_save(w, path2, &err), 0);
    struct mf_buf b1 = MF_BUF_INIT, b2 = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(path, 1 << 24, &b1, &err), 0);
    assert_int_equal(mf_fs_read_file(path2, 1 << 24, &b2, &err), 0);
    assert_string_equal(b1.data, b2.data);
    mf_buf_release(&b1);
    mf_buf_release(&b2);
    mf_tokens_free(&a);
    mf_tokens_free(&b);
    mf_vocab_free(v);
    mf_vocab_free(w);
    mf_store_close(s);
}

/* Replace the first occurrence of from with to in src; returns a new string. */
static char *replace(const char *src, const char *from, const char *to)
{
    const char *at = strstr(src, from);
    assert_non_null(at);
    struct mf_buf b = MF_BUF_INIT;
    mf_buf_append(&b, src, (size_t)(at - src));
    mf_buf_puts(&b, to);
    mf_buf_puts(&b, at + strlen(from));
    return mf_buf_detach(&b, NULL);
}

static void load_errors_name_the_file_and_field(void **state)
{
    (void)state;
    write_mixed("mixed3");
    struct mf_store *s = open_store("mixed3");
    struct mf_vocab *v = fit(s, 2, 0);
    char good[1024], badp[1024];
    snprintf(good, sizeof good, "%s/good.json", tmpdir);
    snprintf(badp, sizeof badp, "%s/damaged-vocab.json", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_vocab_save(v, good, &err), 0);
    struct mf_buf g = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(good, 1 << 24, &g, &err), 0);
    struct {
        const char *from, *to, *field;
    } cases[] = {
        {"\"format\": \"medfm-vocab\"", "\"format\": \"other\"", "format"},
        {"\"version\": 1", "\"version\": 7", "version"},
        {"\"min_count\": 2", "\"min_count\": -2", "min_count"},
        {"\"use_race\": false", "\"use_race\": 0", "use_race"},
        {"\"tuning_frac\": 0.1", "\"tuning_frac\": 1.5", "split.tuning_frac"},
        {"\"held_out_frac\": 0.1", "\"held_out_frac\": 0.95", "split"},
        {"\"salt\": \"medfm-split-v1\"", "\"salt\": \"x\"", "split.salt"},
        {"\"tokens\": [", "\"tokenz\": [", "tokens"},
        {"{\"id\": 3,", "{\"id\": 4,", "tokens[3].id"},
        {"\"text\": \"GENDER/M\"", "\"text\": \"GENDER/F\"", "tokens[3].text"},
        {"\"text\": \"AGE/0-4\"", "\"text\": \"SEX/0-4\"", "tokens[4].text"},
        {"\"text\": \"AGE/0-4\", \"kind\": \"prefix\"", "\"text\": \"AGE/0-4\", \"kind\": \"pre\"",
         "tokens[4].kind"},
        {"\"duration_us\": 300000000", "\"duration_us\": 300000001", ".duration_us"},
        {"\"text\": \"Q7\"", "\"text\": \"Q77\"", "Q7"},
        {"\"cuts\": [", "\"cuts\": [1e400, ", ".cuts"},
        {"\"cuts\": [", "\"cuts\": [99999, ", ".cuts"},
        {"\"kind\": \"code\", \"count\": ", "\"kind\": \"code\", \"count\": 1.5, \"x\": ",
         ".count"},
        {"\"text\": \"TIMELINE_END\"", "\"text\": \"END\"", "tokens"},
        {"\n]\n}", "\n]\n", "not valid JSON"},
        {"{\n", "[\n", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = replace(g.data, cases[i].from, cases[i].to);
        mf_err_clear(&err);
        assert_int_equal(mf_fs_write_file_atomic(badp, d, strlen(d), &err), 0);
        free(d);
        struct mf_vocab *w = (struct mf_vocab *)1;
        int rc = mf_vocab_load(badp, &w, &err);
        if (rc == 0 || strstr(err.msg, "damaged-vocab.json") == NULL ||
            strstr(err.msg, cases[i].field) == NULL)
            fail_msg("case %zu: rc %d, message '%s'", i, rc, err.msg);
        assert_null(w);
    }
    /* truncated and empty files, a missing file */
    for (size_t cut = 0; cut < g.len; cut += g.len / 7 + 1) {
        mf_err_clear(&err);
        assert_int_equal(mf_fs_write_file_atomic(badp, g.data, cut, &err), 0);
        struct mf_vocab *w = NULL;
        assert_int_not_equal(mf_vocab_load(badp, &w, &err), 0);
        assert_non_null(strstr(err.msg, "damaged-vocab.json"));
    }
    char missing[1024];
    snprintf(missing, sizeof missing, "%s/nothing-here/vocab.json", tmpdir);
    mf_err_clear(&err);
    struct mf_vocab *w = NULL;
    assert_int_equal(mf_vocab_load(missing, &w, &err), MF_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nothing-here/vocab.json"));
    mf_buf_release(&g);
    mf_vocab_free(v);
    mf_store_close(s);
}

/* A vocabulary used with several stores, and from several threads */

struct job {
    const struct mf_vocab *v;
    const struct mf_store *s;
    int ok;
};

static void *tokenize_all(void *arg)
{
    struct job *j = arg;
    struct mf_tokens tk = {0};
    struct mf_err err = {0};
    j->ok = 1;
    for (int rep = 0; rep < 3; rep++)
        for (uint64_t i = 0; i < mf_store_shard_patients(j->s, 0); i++) {
            struct mf_timeline tl;
            if (mf_store_shard_timeline(j->s, 0, i, &tl) != 0 ||
                mf_tokenize(j->v, j->s, &tl, &tk, &err) != 0 || tk.n == 0 ||
                tk.tok[tk.n - 1] != MF_TOK_TIMELINE_END)
                j->ok = 0;
        }
    mf_tokens_free(&tk);
    return NULL;
}

static void several_stores_and_threads(void **state)
{
    (void)state;
    write_mixed("mixed4");
    const char *p = id_in(MF_SPLIT_TRAIN, 0);
    struct ev other[] = {{p, 0, "LOINC/2-2", NAN}, {p, 1, "SNOMED/1", NAN}};
    write_store("other", other, 2);
    struct mf_store *s = open_store("mixed4");
    struct mf_vocab *v = fit(s, 1, 0);
    pthread_t th[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){v, s, 0};
        assert_int_equal(pthread_create(&th[i], NULL, tokenize_all, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(jobs[i].ok);
    }
    /* another store: codes are matched by text, not by the other store's ids */
    struct mf_store *o = open_store("other");
    struct mf_err err = {0};
    assert_int_equal(mf_vocab_bind(v, o, &err), 0);
    assert_tokens(v, o, p, "LOINC/2-2 SNOMED/1 TIMELINE_END");
    mf_vocab_unbind(v, o);
    mf_store_close(o);
    mf_vocab_unbind(v, s);
    mf_store_close(s);
    o = open_store("other"); /* possibly at the same address */
    assert_tokens(v, o, p, "LOINC/2-2 SNOMED/1 TIMELINE_END");
    mf_store_close(o);
    mf_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_is_deterministic_with_the_right_fractions),
        cmocka_unit_test(time_tokens_at_every_band_edge),
        cmocka_unit_test(decile_cut_points_and_ties),
        cmocka_unit_test(rare_codes_unknown_vocabularies_and_training_only),
        cmocka_unit_test(prefix_gender_age_race),
        cmocka_unit_test(token_order_and_determinism),
        cmocka_unit_test(save_load_round_trip),
        cmocka_unit_test(load_errors_name_the_file_and_field),
        cmocka_unit_test(several_stores_and_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
