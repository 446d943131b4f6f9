/* test_deid_textdeid.c - unit tests for rewriting tagged text: modes, redaction, the JSON of the
 * spans (byte and code-point offsets), and the surrogates of every category: shape, keyed
 * consistency across spellings and calls, another key or patient giving others, dates moved by
 * exactly the shift in the same format, and no surrogate equal to its original.
 *
 * Entities are built by hand so that these tests do not depend on the tagger's quality; the
 * real lexicon (built into share/medfm/deid/lexicon) gives the surrogate names and places. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "core/fs.h"
#include "core/timeutil.h"
#include "deid/deid.h"
#include "deid/tagger.h"
#include "deid/textdeid.h"

#include "testutil.h"

static struct mf_deid_lexicon *lex;
static struct mf_deid_key key1, key2;

/* Fixed keys, so that a failure can be replayed. */
static int write_key(const char *name, const char *hex, struct mf_deid_key *k)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    if (f == NULL || fputs(hex, f) < 0 || fclose(f) != 0 || chmod(p, 0600) != 0)
        return -1;
    return mf_deid_key_load(p, k, NULL);
}

static int setup(void **state)
{
    if (setup_tmp(state))
        return -1;
    struct mf_err err = {0};
    if (mf_deid_lexicon_load(NULL, &lex, &err) != 0) {
        fprintf(stderr, "lexicon: %s\n", err.msg);
        return -1;
    }
    if (write_key("k1", "3f1c0a9e5b7d2468ace013579bdf02468ace13579bdf0246813579bdf02468ac\n",
                  &key1) ||
        write_key("k2", "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc\n",
                  &key2))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    mf_deid_lexicon_free(lex);
    return teardown_tmp(state);
}

/* --- helpers ------------------------------------------------------------------------------- */

struct spans {
    struct mf_deid_entities e;
    size_t from;
};

/* Tag the next occurrence of what in text (after the previous span) as cat. */
static void span(struct spans *s, const char *text, const char *what, enum mf_deid_cat cat)
{
    const char *p = strstr(text + s->from, what);
    assert_non_null(p);
    if (s->e.n == s->e.cap) {
        s->e.cap = s->e.cap ? 2 * s->e.cap : 8;
        s->e.v = realloc(s->e.v, s->e.cap * sizeof *s->e.v);
        assert_non_null(s->e.v);
    }
    struct mf_deid_entity *e = &s->e.v[s->e.n++];
    e->start = (size_t)(p - text);
    e->end = e->start + strlen(what);
    e->cat = cat;
    e->confidence = 0.9f;
    s->from = e->end;
}

/* Rewrite text in mode with the spans; the result is malloc'd. */
static char *rewrite(const struct mf_deid_key *key, const char *pid, int64_t shift_days,
                     enum mf_deid_text_mode mode, const char *text, const struct spans *s)
{
    struct mf_deid_subject subj = {key, pid, pid ? strlen(pid) : 0, shift_days * MF_USEC_PER_DAY};
    struct mf_buf out = MF_BUF_INIT;
    struct mf_err err = {0};
    int rc = mf_deid_text_rewrite(lex, &subj, mode, text, strlen(text), &s->e, &out, &err);
    if (rc)
        fprintf(stderr, "rewrite: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(out.data);
    return mf_buf_detach(&out, NULL);
}

/* The surrogate of one value of cat for patient pid under key (shift 100 days). */
static char *sur_of(const struct mf_deid_key *key, const char *pid, enum mf_deid_cat cat,
                    const char *value)
{
    struct spans s = {0};
    span(&s, value, value, cat);
    char *r = rewrite(key, pid, 100, MF_DEID_MODE_SURROGATE, value, &s);
    mf_deid_entities_free(&s.e);
    return r;
}

#define SUR(cat, v) sur_of(&key1, "patient-1", cat, v)

static int only(const char *s, const char *chars)
{
    return strspn(s, chars) == strlen(s);
}

static int same_shape(const char *a, const char *b)
{
    if (strlen(a) != strlen(b))
        return 0;
    for (size_t i = 0; a[i]; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (isdigit(x)   ? !isdigit(y)
            : isalpha(x) ? !isalpha(y) || !!isupper(x) != !!isupper(y)
                         : x != y)
            return 0;
    }
    return 1;
}

static char *digits_of(const char *s, char *out)
{
    char *o = out;
    for (; *s; s++)
        if (isdigit((unsigned char)*s))
            *o++ = *s;
    *o = '\0';
    return out;
}

/* --- modes, redaction, JSON ---------------------------------------------------------------- */

static void modes_parse(void **state)
{
    (void)state;
    enum mf_deid_text_mode m;
    assert_int_equal(mf_deid_text_mode_parse("tag", &m), 0);
    assert_int_equal(m, MF_DEID_MODE_TAG);
    assert_int_equal(mf_deid_text_mode_parse("redact", &m), 0);
    assert_int_equal(m, MF_DEID_MODE_REDACT);
    assert_int_equal(mf_deid_text_mode_parse("surrogate", &m), 0);
    assert_int_equal(m, MF_DEID_MODE_SURROGATE);
    assert_int_equal(mf_deid_text_mode_parse("Redact", &m), MF_EINVAL);
    assert_int_equal(mf_deid_text_mode_parse("", &m), MF_EINVAL);
    assert_int_equal(mf_deid_text_mode_parse(NULL, &m), MF_EINVAL);
}

static void redact_replaces_each_span(void **state)
{
    (void)state;
    const char *t = "Seen by John Smith on 2024-03-05, MRN 00123456; call (617) 432-1987.";
    struct spans s = {0};
    span(&s, t, "John Smith", MF_DEID_NAME);
    span(&s, t, "2024-03-05", MF_DEID_DATE);
    span(&s, t, "00123456", MF_DEID_MRN);
    span(&s, t, "(617) 432-1987", MF_DEID_PHONE);
    char *r = rewrite(NULL, NULL, 0, MF_DEID_MODE_REDACT, t, &s);
    assert_string_equal(r, "Seen by [NAME] on [DATE], MRN [MRN]; call [PHONE].");
    free(r);
    /* no spans: the text unchanged */
    struct spans none = {0};
    r = rewrite(NULL, NULL, 0, MF_DEID_MODE_REDACT, t, &none);
    assert_string_equal(r, t);
    free(r);
    /* bad spans and missing key are refused; tag is no rewrite mode */
    struct mf_buf out = MF_BUF_INIT;
    struct mf_deid_subject subj = {NULL, NULL, 0, 0};
    assert_int_equal(
        mf_deid_text_rewrite(lex, &subj, MF_DEID_MODE_SURROGATE, t, strlen(t), &s.e, &out, NULL),
        MF_EINVAL);
    assert_int_equal(
        mf_deid_text_rewrite(lex, &subj, MF_DEID_MODE_TAG, t, strlen(t), &s.e, &out, NULL),
        MF_EINVAL);
    struct mf_deid_entity bad = s.e.v[0];
    s.e.v[0] = s.e.v[1];
    s.e.v[1] = bad; /* out of order */
    assert_int_equal(
        mf_deid_text_rewrite(lex, &subj, MF_DEID_MODE_REDACT, t, strlen(t), &s.e, &out, NULL),
        MF_EINVAL);
    s.e.v[1] = s.e.v[0];
    s.e.v[0] = bad;
    s.e.v[3].end = strlen(t) + 1; /* past the end */
    assert_int_equal(
        mf_deid_text_rewrite(lex, &subj, MF_DEID_MODE_REDACT, t, strlen(t), &s.e, &out, NULL),
        MF_EINVAL);
    assert_int_equal(out.len, 0);
    mf_buf_release(&out);
    mf_deid_entities_free(&s.e);
}

/* Code points in s[0..b): bytes that do not continue a sequence (valid input only). */
static size_t cps(const char *s, size_t b)
{
    size_t c = 0;
    for (size_t i = 0; i < b; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static void json_offsets_bytes_and_code_points(void **state)
{
    (void)state;
    const char *t = "Zoë Ångström (née «Müller») saw José \"Pepe\" García on 5/3/2024\n日本 x";
    struct spans s = {0};
    span(&s, t, "Zoë Ångström", MF_DEID_NAME);
    span(&s, t, "Müller", MF_DEID_NAME);
    span(&s, t, "José \"Pepe\" García", MF_DEID_NAME);
    span(&s, t, "5/3/2024\n日本", MF_DEID_DATE);
    s.e.v[1].confidence = 0.5f;
    struct mf_buf out = MF_BUF_INIT;
    assert_int_equal(mf_deid_entities_json(t, strlen(t), &s.e, &out), 0);
    cJSON *root = cJSON_Parse(out.data);
    assert_non_null(root);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "entities");
    assert_int_equal(cJSON_GetArraySize(arr), 4);
    for (int i = 0; i < 4; i++) {
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        const struct mf_deid_entity *x = &s.e.v[i];
        assert_string_equal(cJSON_GetObjectItem(e, "category")->valuestring,
                            mf_deid_cat_name(x->cat));
        assert_int_equal(cJSON_GetObjectItem(e, "start")->valuedouble, x->start);
        assert_int_equal(cJSON_GetObjectItem(e, "end")->valuedouble, x->end);
        assert_int_equal(cJSON_GetObjectItem(e, "start_cp")->valuedouble, cps(t, x->start));
        assert_int_equal(cJSON_GetObjectItem(e, "end_cp")->valuedouble, cps(t, x->end));
        const char *text = cJSON_GetObjectItem(e, "text")->valuestring;
        assert_int_equal(strlen(text), x->end - x->start);
        assert_memory_equal(text, t + x->start, x->end - x->start);
        assert_true(cJSON_IsNumber(cJSON_GetObjectItem(e, "confidence")));
    }
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 1), "confidence")->valuedouble == 0.5);
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "confidence")->valuedouble == 0.9);
    /* "Zoë Ångström": 12 code points, 15 bytes */
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "end_cp")->valuedouble, 12);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "end")->valuedouble, 15);
    cJSON_Delete(root);
    mf_deid_entities_free(&s.e);

    /* invalid UTF-8: each bad byte one code point, shown as U+FFFD; the JSON stays valid */
    const char bad[] = "a\xff\xfe Bob \xc3 Lee";
    struct spans b = {0};
    span(&b, bad, "Bob \xc3 Lee", MF_DEID_NAME);
    mf_buf_reset(&out);
    assert_int_equal(mf_deid_entities_json(bad, strlen(bad), &b.e, &out), 0);
    root = cJSON_Parse(out.data);
    assert_non_null(root);
    const cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "entities"), 0);
    assert_int_equal(cJSON_GetObjectItem(e0, "start")->valuedouble, 4);
    assert_int_equal(cJSON_GetObjectItem(e0, "start_cp")->valuedouble, 4);
    assert_int_equal(cJSON_GetObjectItem(e0, "end_cp")->valuedouble, 13);
    assert_string_equal(cJSON_GetObjectItem(e0, "text")->valuestring, "Bob \xef\xbf\xbd Lee");
    cJSON_Delete(root);
    /* no entities */
    struct mf_deid_entities none = {0};
    mf_buf_reset(&out);
    assert_int_equal(mf_deid_entities_json("x", 1, &none, &out), 0);
    assert_string_equal(out.data, "{\"entities\":[]}");
    mf_buf_release(&out);
    mf_deid_entities_free(&b.e);
}

/* --- names --------------------------------------------------------------------------------- */

static int eq_ci(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

static char *cased(const char *s, int up)
{
    char *r = strdup(s);
    assert_non_null(r);
    for (char *p = r; *p; p++)
        *p = (char)(up ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
    return r;
}

/* Whether w occurs in s as a whole word (not inside a longer word). */
static int has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = strstr(s, w); p; p = strstr(p + 1, w))
        if ((p == s || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[n]))
            return 1;
    return 0;
}

static void names_keep_person_sex_case_and_shape(void **state)
{
    (void)state;
    const char *t = "John Smith saw Mary Smith. Later SMITH, JOHN and Mr. Smith; J. Smith "
                    "signed; john smith replied; Dr. Smith's note.";
    struct spans s = {0};
    span(&s, t, "John Smith", MF_DEID_NAME);
    span(&s, t, "Mary Smith", MF_DEID_NAME);
    span(&s, t, "SMITH, JOHN", MF_DEID_NAME);
    span(&s, t, "Mr. Smith", MF_DEID_NAME);
    span(&s, t, "J. Smith", MF_DEID_NAME);
    span(&s, t, "john smith", MF_DEID_NAME);
    span(&s, t, "Dr. Smith's", MF_DEID_NAME);
    char *r = rewrite(&key1, "p-7", 10, MF_DEID_MODE_SURROGATE, t, &s);
    /* each word maps on its own, so the whole is the words' surrogates in place */
    char *g = sur_of(&key1, "p-7", MF_DEID_NAME, "John");
    char *f = sur_of(&key1, "p-7", MF_DEID_NAME, "Smith");
    char *m = sur_of(&key1, "p-7", MF_DEID_NAME, "Mary");
    char *gu = cased(g, 1), *fu = cased(f, 1), *gl = cased(g, 0), *fl = cased(f, 0);
    char want[1024];
    snprintf(want, sizeof want,
             "%s %s saw %s %s. Later %s, %s and Mr. %s; %c. %s signed; %s %s replied; Dr. %s's "
             "note.",
             g, f, m, f, fu, gu, f, g[0], f, gl, fl, f);
    assert_string_equal(r, want);
    assert_false(eq_ci(g, "John") || eq_ci(f, "Smith") || eq_ci(m, "Mary"));
    assert_true(mf_deid_lexicon_given_sex(lex, g, strlen(g)) & 2); /* John: still male */
    assert_true(mf_deid_lexicon_given_sex(lex, m, strlen(m)) & 1); /* Mary: still female */
    assert_true(isupper((unsigned char)g[0]) && isupper((unsigned char)f[0]));
    assert_false(has_word(r, "Smith") || has_word(r, "SMITH") || has_word(r, "smith"));
    assert_false(has_word(r, "John") || has_word(r, "Mary"));
    /* across calls: the same; another key or another patient: other names */
    char *r2 = rewrite(&key1, "p-7", 10, MF_DEID_MODE_SURROGATE, t, &s);
    assert_string_equal(r, r2);
    char *r3 = rewrite(&key2, "p-7", 10, MF_DEID_MODE_SURROGATE, t, &s);
    char *r4 = rewrite(&key1, "p-8", 10, MF_DEID_MODE_SURROGATE, t, &s);
    assert_string_not_equal(r, r3);
    assert_string_not_equal(r, r4);
    char *f3 = sur_of(&key2, "p-7", MF_DEID_NAME, "Smith");
    assert_string_not_equal(f, f3);
    free(r);
    free(r2);
    free(r3);
    free(r4);
    free(g);
    free(f);
    free(m);
    free(f3);
    free(gu);
    free(fu);
    free(gl);
    free(fl);
    mf_deid_entities_free(&s.e);

    /* an initial with no full name beside it: another letter, same case, same every time */
    char *a = SUR(MF_DEID_NAME, "K. Jones"), *b = SUR(MF_DEID_NAME, "K. Jones");
    assert_string_equal(a, b);
    assert_true(isupper((unsigned char)a[0]) && a[0] != 'K' && a[1] == '.' && a[2] == ' ');
    free(a);
    free(b);
    /* hyphenated names map part by part; particles kept */
    a = SUR(MF_DEID_NAME, "Anna Smith-Jones");
    b = SUR(MF_DEID_NAME, "Jones");
    const char *hy = strchr(a, '-');
    assert_non_null(hy);
    assert_string_equal(hy + 1, b);
    free(a);
    free(b);
    a = SUR(MF_DEID_NAME, "Ludwig van Beethoven");
    assert_non_null(strstr(a, " van "));
    assert_null(strstr(a, "Beethoven"));
    free(a);
    /* accented capitals fold like ASCII: one value */
    a = SUR(MF_DEID_NAME, "José Núñez");
    b = SUR(MF_DEID_NAME, "JOSÉ NÚÑEZ");
    char *au = cased(a, 1);
    assert_string_equal(au, b);
    free(au);
    free(a);
    free(b);
    /* a span of titles only cannot be replaced: redacted */
    a = SUR(MF_DEID_NAME, "Dr.");
    assert_string_equal(a, "[NAME]");
    free(a);
}

static void name_surrogates_never_equal_the_original(void **state)
{
    (void)state;
    static const enum mf_deid_list lists[] = {MF_DEID_LIST_GIVEN_FEMALE, MF_DEID_LIST_GIVEN_MALE,
                                              MF_DEID_LIST_FAMILY};
    for (int l = 0; l < 3; l++)
        for (uint64_t h = 0; h < 400; h++) {
            size_t len;
            const char *e = mf_deid_lexicon_pick(lex, lists[l], h * 7919, &len);
            char v[128];
            assert_true(len > 0 && len < sizeof v);
            memcpy(v, e, len);
            v[len] = '\0';
            char *r = SUR(MF_DEID_NAME, v);
            assert_false(eq_ci(r, v));
            assert_null(strchr(r, '\n'));
            assert_true(r[0] != '[');
            free(r);
        }
}

/* --- dates --------------------------------------------------------------------------------- */

/* date + days with the C library (independent of timeutil), in a struct tm. */
static struct tm add_days(int y, int m, int d, int days)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d + days;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    struct tm out;
    gmtime_r(&t, &out);
    return out;
}

static void upcase(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

static const char *ordinal(int d)
{
    return d % 10 == 1 && d != 11   ? "st"
           : d % 10 == 2 && d != 12 ? "nd"
           : d % 10 == 3 && d != 13 ? "rd"
                                    : "th";
}

/* Format tm as a note would: fmt is strftime's, with "%O" for an ordinal day ("5th"). */
static void fmt_date(const char *fmt, const struct tm *tm, int up, char *out, size_t cap)
{
    char f2[128];
    const char *o = strstr(fmt, "%O");
    if (o) {
        snprintf(f2, sizeof f2, "%.*s%d%s%s", (int)(o - fmt), fmt, tm->tm_mday,
                 ordinal(tm->tm_mday), o + 2);
        fmt = f2;
    }
    strftime(out, cap, fmt, tm);
    if (up)
        upcase(out);
}

/* fmt with every day and month field zero-padded ("%d", "%m": pad) or not ("%-d", "%-m"), and
 * month names in full ("%B": full) or abbreviated ("%b"). */
static void fmt_variant(const char *fmt, int pad, int full, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = fmt; *p && o + 4 < cap; p++) {
        int dash = p[0] == '%' && p[1] == '-';
        if (p[0] == '%' && (p[1 + dash] == 'd' || p[1 + dash] == 'm')) {
            p += 1 + dash;
            out[o++] = '%';
            if (!pad)
                out[o++] = '-';
            out[o++] = *p;
        } else if (p[0] == '%' && (p[1] == 'b' || p[1] == 'B')) {
            out[o++] = *p++;
            out[o++] = full ? 'B' : 'b';
        } else if (p[0] == '%' && p[1]) {
            out[o++] = *p++;
            out[o++] = *p;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* The date y-m-d written with fmt, moved by days (month-only formats: from the 15th), must
 * come back exactly as the C library writes the moved date, in fmt or in a variant of it that
 * writes the input the same way: where the input shows no zero padding either way (its day and
 * month are >= 10) or no choice of month name ("May"), either is right. */
static void check_date(int y, int m, int d, const char *fmt, int up, int days, int month_only)
{
    struct tm orig = add_days(y, m, d, 0);
    struct tm moved = add_days(y, m, month_only ? 15 : d, days);
    char in[128], want[128];
    fmt_date(fmt, &orig, up, in, sizeof in);
    fmt_date(fmt, &moved, up, want, sizeof want);
    struct spans s = {0};
    span(&s, in, in, MF_DEID_DATE);
    char *r = rewrite(&key1, "p", days, MF_DEID_MODE_SURROGATE, in, &s);
    int ok = strcmp(r, want) == 0;
    for (int v = 0; v < 4 && !ok; v++) {
        char f[128], vin[128], vout[128];
        fmt_variant(fmt, v & 1, v >> 1, f, sizeof f);
        fmt_date(f, &orig, up, vin, sizeof vin);
        fmt_date(f, &moved, up, vout, sizeof vout);
        ok = strcmp(vin, in) == 0 && strcmp(vout, r) == 0;
    }
    if (!ok)
        fprintf(stderr, "date '%s' %+d days: got '%s', want '%s'\n", in, days, r, want);
    assert_true(ok);
    free(r);
    mf_deid_entities_free(&s.e);
}

static void dates_move_by_the_shift_in_the_same_format(void **state)
{
    (void)state;
    static const char *const formats[] = {"%Y-%m-%d",
                                          "%m/%d/%Y",
                                          "%-m/%-d/%Y",
                                          "%-m/%-d/%y",
                                          "%m/%d/%y",
                                          "%Y/%m/%d",
                                          "%m-%d-%Y",
                                          "%Y%m%d",
                                          "%B %-d, %Y",
                                          "%b %-d %Y",
                                          "%b. %-d, %Y",
                                          "%B %O, %Y",
                                          "%-d %B %Y",
                                          "%d-%b-%Y",
                                          "%-d-%b-%y",
                                          "%O %B %Y",
                                          "%A, %B %-d, %Y",
                                          "%a %b %-d %Y",
                                          "%a, %d %b %Y",
                                          "%Y-%m-%dT%H:%M:%SZ",
                                          "%Y-%m-%d %H:%M",
                                          "%m/%d/%Y %H:%M",
                                          "%B %-d, %Y at %-I:%M %p",
                                          "%m/%d/%Y %I:%M %p",
                                          "%d %B, %Y"};
    static const char *const month_formats[] = {"%B %Y",  "%b %Y", "%b-%Y", "%m/%Y",
                                                "%-m/%Y", "%Y-%m", "%B, %Y"};
    static const char *const noyear_formats[] = {"%B %-d", "%b %O",  "%-m/%-d",
                                                 "%m/%d",  "%-d %B", "%A, %B %-d"};
    static const struct {
        int y, m, d;
    } dates[] = {{2024, 3, 5}, {2024, 2, 28}, {2023, 12, 31}, {2000, 2, 29},
                 {1999, 1, 9}, {2024, 12, 1}, {1945, 7, 4},   {2031, 10, 13}};
    static const int shifts[] = {1, -1, 30, -200, 365, -365, 7, -58};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++)
        for (size_t k = 0; k < sizeof dates / sizeof dates[0]; k++)
            for (size_t j = 0; j < sizeof shifts / sizeof shifts[0]; j++) {
                /* two-digit years print back as two digits: stay within one century */
                check_date(dates[k].y, dates[k].m, dates[k].d, formats[f], 0, shifts[j], 0);
                check_date(dates[k].y, dates[k].m, dates[k].d, formats[f], 1, shifts[j], 0);
            }
    /* month only: the 15th moves, so shifts that end near a month's first and last days */
    static const int month_shifts[] = {1, -1, 13, 14, 16, 17, -14, -15, -200, 365, -365};
    for (size_t f = 0; f < sizeof month_formats / sizeof month_formats[0]; f++)
        for (size_t k = 0; k < sizeof dates / sizeof dates[0]; k++)
            for (size_t j = 0; j < sizeof month_shifts / sizeof month_shifts[0]; j++)
                check_date(dates[k].y, dates[k].m, 1, month_formats[f], (int)(j & 1),
                           month_shifts[j], 1);
    /* no year: read in a reference year with a leap year before it (2001, like 2021) */
    for (size_t f = 0; f < sizeof noyear_formats / sizeof noyear_formats[0]; f++)
        for (int m = 1; m <= 12; m += 1)
            for (size_t j = 0; j < sizeof shifts / sizeof shifts[0]; j++)
                check_date(2021, m, 10 + m, noyear_formats[f], 0, shifts[j], 0);
    /* day-first when the first number cannot be a month */
    char *r;
    struct spans s = {0};
    span(&s, "25/12/2023", "25/12/2023", MF_DEID_DATE);
    r = rewrite(&key1, "p", 10, MF_DEID_MODE_SURROGATE, "25/12/2023", &s);
    assert_string_equal(r, "04/01/2024");
    free(r);
    mf_deid_entities_free(&s.e);
    /* what is no date becomes [DATE] */
    static const char *const bad[] = {
        "2/30/2024",      "13/13/2024", "next Tuesday", "spring 2020", "2024-03-05 and 2024-03-06",
        "Marchy 5, 2024", "5/3/202"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = SUR(MF_DEID_DATE, bad[i]);
        assert_string_equal(r, "[DATE]");
        free(r);
    }
    /* the library entry point: same format, nothing appended on failure */
    struct mf_buf out = MF_BUF_INIT;
    assert_int_equal(mf_deid_date_shift_text("MAR. 5TH, 2024", 14, -5, &out), 0);
    assert_string_equal(out.data, "FEB. 29TH, 2024");
    assert_int_equal(mf_deid_date_shift_text("Sept 30, 2024", 13, 1, &out), 0);
    assert_string_equal(out.data, "FEB. 29TH, 2024Oct 1, 2024");
    mf_buf_reset(&out);
    assert_int_equal(mf_deid_date_shift_text("Sept 3", 6, 1, &out), 0);
    assert_string_equal(out.data, "Sept 4");
    mf_buf_reset(&out);
    assert_int_equal(mf_deid_date_shift_text("tomorrow", 8, 1, &out), MF_EPARSE);
    assert_int_equal(out.len, 0);
    mf_buf_release(&out);
}

/* --- the other categories ------------------------------------------------------------------ */

static void ages_over_89_become_90(void **state)
{
    (void)state;
    static const char *const in[] = {"92",         "95-year-old", "age 101",      "97 y/o",
                                     "93.5 years", "ninety-two",  "Ninety Three", "90+"};
    static const char *const want[] = {"90",       "90-year-old", "age 90", "90 y/o",
                                       "90 years", "ninety",      "Ninety", "90+"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char *r = SUR(MF_DEID_AGE, in[i]);
        assert_string_equal(r, want[i]);
        free(r);
    }
}

static void phones_ssns_and_record_numbers_keep_their_shape(void **state)
{
    (void)state;
    char d1[64], d2[64];
    /* US phone numbers: area 2-9xx, exchange 555, line 01xx; one number in any spelling */
    char *a = SUR(MF_DEID_PHONE, "(617) 432-1987");
    char *b = SUR(MF_DEID_PHONE, "617.432.1987");
    char *c = SUR(MF_DEID_PHONE, "+1 617 432 1987");
    char *f = SUR(MF_DEID_FAX, "617-432-1987");
    assert_true(same_shape(a, "(617) 432-1987"));
    assert_true(same_shape(b, "617.432.1987"));
    assert_true(same_shape(c, "+1 617 432 1987"));
    digits_of(a, d1);
    assert_true(d1[0] >= '2' && strncmp(d1 + 3, "55501", 5) == 0);
    assert_string_equal(digits_of(b, d2), d1);
    assert_string_equal(digits_of(c, d2) + 1, d1);
    assert_int_equal(c[1], '1');
    digits_of(f, d2);
    assert_true(d2[0] >= '2' && strncmp(d2 + 3, "55501", 5) == 0);
    free(a);
    free(b);
    free(c);
    free(f);
    a = SUR(MF_DEID_PHONE, "432-1987");
    assert_true(strncmp(a, "555-01", 6) == 0 && same_shape(a, "432-1987"));
    free(a);
    a = SUR(MF_DEID_PHONE, "617-432-1987 ext. 204");
    assert_true(same_shape(a, "617-432-1987 ext. 204") && strstr(a, " ext. ") != NULL);
    free(a);
    /* SSN: area 900-999, never issued */
    a = SUR(MF_DEID_SSN, "123-45-6789");
    b = SUR(MF_DEID_SSN, "123456789");
    assert_true(same_shape(a, "123-45-6789") && a[0] == '9');
    assert_string_equal(digits_of(a, d1), b);
    assert_true(strncmp(a + 4, "00", 2) != 0 && strncmp(a + 7, "0000", 4) != 0);
    free(a);
    free(b);
    /* MRN, other ids, ZIP: digits for digits, letters for letters, separators and case kept */
    static const struct {
        enum mf_deid_cat cat;
        const char *v;
    } ids[] = {{MF_DEID_MRN, "00123456"}, {MF_DEID_MRN, "AB-12345-x"}, {MF_DEID_ID, "H123/45 C"},
               {MF_DEID_ZIP, "02115"},    {MF_DEID_ZIP, "02115-1234"}, {MF_DEID_ID, "7"},
               {MF_DEID_ZIP, "K1A 0B1"}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        a = sur_of(&key1, "patient-1", ids[i].cat, ids[i].v);
        b = sur_of(&key1, "patient-1", ids[i].cat, ids[i].v);
        c = sur_of(&key2, "patient-1", ids[i].cat, ids[i].v);
        assert_true(same_shape(a, ids[i].v));
        assert_string_not_equal(a, ids[i].v);
        assert_string_equal(a, b);
        if (strlen(ids[i].v) > 3)
            assert_string_not_equal(a, c);
        free(a);
        free(b);
        free(c);
    }
    /* never the original, over many numbers */
    for (int i = 0; i < 3000; i++) {
        char v[32];
        snprintf(v, sizeof v, "%d-%02d", i % 10, i % 97);
        a = SUR(MF_DEID_MRN, v);
        assert_string_not_equal(a, v);
        assert_true(same_shape(a, v));
        free(a);
        snprintf(v, sizeof v, "(%03d) 555-01%02d", 200 + i % 800, i % 100);
        a = SUR(MF_DEID_PHONE, v);
        assert_string_not_equal(a, v);
        free(a);
    }
}

static void emails_urls_and_ips_use_reserved_ranges(void **state)
{
    (void)state;
    char *a = SUR(MF_DEID_EMAIL, "john.smith@gmail.com");
    char *b = SUR(MF_DEID_EMAIL, "John.Smith@GMAIL.com");
    assert_string_equal(a, b);
    const char *at = strchr(a, '@');
    assert_non_null(at);
    assert_true(strcmp(at, "@example.com") == 0 || strcmp(at, "@example.org") == 0 ||
                strcmp(at, "@example.net") == 0);
    assert_true(at > a && only(a, "abcdefghijklmnopqrstuvwxyz0123456789.@"));
    free(a);
    free(b);
    a = SUR(MF_DEID_EMAIL, "jsmith42@hospital.org");
    at = strchr(a, '@');
    assert_true(isdigit((unsigned char)at[-1]) && isdigit((unsigned char)at[-2]));
    free(a);

    a = SUR(MF_DEID_URL, "https://mychart.partners.org/patient/12345");
    assert_true(strncmp(a, "https://www.example.org/", 24) == 0 && strlen(a) == 32);
    assert_true(only(a + 24, "abcdefghijklmnopqrstuvwxyz0123456789"));
    free(a);
    a = SUR(MF_DEID_URL, "www.smithfamily.net");
    assert_true(strncmp(a, "www.example.org/", 16) == 0 && strlen(a) == 24);
    free(a);
    a = SUR(MF_DEID_URL, "ftp://files.example.edu/x");
    assert_true(strncmp(a, "ftp://www.example.org/", 22) == 0);
    free(a);

    static const char *const v4[] = {"10.1.2.3", "192.168.0.14", "8.8.8.8"};
    for (size_t i = 0; i < 3; i++) {
        a = SUR(MF_DEID_IP, v4[i]);
        unsigned x, y;
        assert_true(sscanf(a, "192.0.2.%u", &x) == 1 || sscanf(a, "198.51.100.%u", &x) == 1 ||
                    sscanf(a, "203.0.113.%u", &x) == 1);
        assert_true(x >= 1 && x <= 254);
        (void)y;
        free(a);
    }
    a = SUR(MF_DEID_IP, "10.1.2.3:8080");
    assert_non_null(strstr(a, ":8080"));
    assert_true(strncmp(a, "192.0.2.", 8) == 0 || strncmp(a, "198.51.100.", 11) == 0 ||
                strncmp(a, "203.0.113.", 10) == 0);
    free(a);
    a = SUR(MF_DEID_IP, "fe80::1ff:fe23:4567:890a");
    assert_true(strncmp(a, "2001:db8:", 9) == 0);
    assert_true(only(a, "0123456789abcdef:"));
    free(a);
}

static void addresses_cities_and_hospitals(void **state)
{
    (void)state;
    const char *t = "Lives at 123 Main Street, Apt 4B\nBoston, MA 02115 near Boston; ZIP 02115.";
    struct spans s = {0};
    span(&s, t, "123 Main Street, Apt 4B\nBoston, MA 02115", MF_DEID_ADDRESS);
    span(&s, t, "Boston", MF_DEID_CITY);
    span(&s, t, "02115", MF_DEID_ZIP);
    char *r = rewrite(&key1, "p-1", 3, MF_DEID_MODE_SURROGATE, t, &s);
    assert_true(strncmp(r, "Lives at ", 9) == 0);
    char *end;
    unsigned long num = strtoul(r + 9, &end, 10);
    assert_true(num >= 100 && num <= 999 && num != 123 && *end == ' ');
    const char *st = strstr(end, " Street, Apt ");
    assert_non_null(st);
    assert_true(st > end + 1);
    assert_false(st - end - 1 == 4 && strncmp(end + 1, "Main", 4) == 0);
    const char *unit = st + 13;
    assert_true(isdigit((unsigned char)unit[0]) && unit[0] != '0' && unit[1] == 'B' &&
                unit[2] == '\n');
    const char *nl = strchr(r, '\n');
    assert_non_null(nl);
    assert_null(strchr(nl + 1, '\n'));
    /* the city in the address and the CITY span are one surrogate; so are the two ZIPs */
    const char *comma = strstr(nl, ", MA ");
    assert_non_null(comma);
    char city[64];
    snprintf(city, sizeof city, "%.*s", (int)(comma - nl - 1), nl + 1);
    assert_string_not_equal(city, "Boston");
    char zip[6];
    snprintf(zip, sizeof zip, "%s", comma + 5);
    assert_true(strlen(zip) == 5 && only(zip, "0123456789") && strcmp(zip, "02115") != 0);
    char want[256];
    snprintf(want, sizeof want, " near %s; ZIP %s.", city, zip);
    assert_non_null(strstr(r, want));
    free(r);
    mf_deid_entities_free(&s.e);

    char *a = SUR(MF_DEID_ADDRESS, "PO Box 1234");
    assert_true(strncmp(a, "PO Box ", 7) == 0 && same_shape(a, "PO Box 1234"));
    assert_string_not_equal(a, "PO Box 1234");
    free(a);
    a = SUR(MF_DEID_ADDRESS, "77 MASSACHUSETTS AVE");
    assert_true(isdigit((unsigned char)a[0]) && a[0] != '0' && isdigit((unsigned char)a[1]) &&
                a[2] == ' ');
    assert_true(strlen(a) > 7 && strcmp(a + strlen(a) - 4, " AVE") == 0);
    assert_int_equal(strlen(a + 3), strspn(a + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZ '-"));
    assert_null(strstr(a, "MASSACHUSETTS"));
    free(a);
    a = SUR(MF_DEID_ADDRESS, "1 W 5th Ave #12");
    assert_null(strstr(a, "5th"));
    assert_non_null(strstr(a, " W "));
    assert_non_null(strstr(a, " Ave #"));
    free(a);

    /* an unknown suffix ("Rue") goes with the name; one from the suffix list takes its place */
    a = SUR(MF_DEID_ADDRESS, "12 Rue Cler");
    assert_true(isdigit((unsigned char)a[0]) && isdigit((unsigned char)a[1]) && a[2] == ' ');
    assert_non_null(strchr(a + 3, ' '));
    assert_null(strstr(a, "Cler"));
    free(a);
    a = SUR(MF_DEID_ADDRESS, "12 Old Mill Road");
    assert_true(strlen(a) > 8 && strcmp(a + strlen(a) - 5, " Road") == 0);
    assert_null(strstr(a, "Mill"));
    free(a);
    a = SUR(MF_DEID_CITY, "BOSTON");
    char *b2 = SUR(MF_DEID_CITY, "Boston");
    for (size_t i = 0; b2[i]; i++)
        assert_int_equal(a[i], toupper((unsigned char)b2[i]));
    assert_string_not_equal(b2, "Boston");
    free(a);
    free(b2);
    a = SUR(MF_DEID_CITY, "Springfield, IL");
    assert_non_null(strstr(a, ", IL"));
    assert_null(strstr(a, "Springfield"));
    free(a);

    a = SUR(MF_DEID_HOSPITAL, "Massachusetts General Hospital");
    size_t n = strlen(a);
    assert_true(n > 17 && strcmp(a + n - 17, " General Hospital") == 0);
    assert_null(strstr(a, "Massachusetts"));
    free(a);
    a = SUR(MF_DEID_HOSPITAL, "ST. MARY'S MEDICAL CENTER");
    n = strlen(a);
    assert_true(n > 15 && strcmp(a + n - 15, " MEDICAL CENTER") == 0);
    assert_null(strstr(a, "MARY"));
    for (size_t i = 0; i < n; i++)
        assert_false(islower((unsigned char)a[i]));
    free(a);
    a = SUR(MF_DEID_HOSPITAL, "Hospital of the University of Pennsylvania");
    assert_true(strncmp(a, "Hospital of the University of ", 30) == 0);
    assert_null(strstr(a, "Pennsylvania"));
    free(a);
    a = SUR(MF_DEID_HOSPITAL, "Mayo");
    n = strlen(a);
    assert_true(n > 9 && strcmp(a + n - 9, " Hospital") == 0);
    free(a);
}

/* Every category, many values: never the original, never a new line, and stable. */
static void surrogates_differ_and_stay_on_one_line(void **state)
{
    (void)state;
    const char *t = "Pt Jane Q. Doe (DOB 04/07/1931, age 93) MRN 4477120 SSN 078-05-1120 "
                    "ph 212-555-0101 fax (212) 555 0199 jane.doe@aol.com http://doe.net "
                    "10.0.0.7 seen at Bellevue Hospital, 462 First Avenue, New York NY 10016.";
    struct spans s = {0};
    span(&s, t, "Jane Q. Doe", MF_DEID_NAME);
    span(&s, t, "04/07/1931", MF_DEID_DATE);
    span(&s, t, "93", MF_DEID_AGE);
    span(&s, t, "4477120", MF_DEID_MRN);
    span(&s, t, "078-05-1120", MF_DEID_SSN);
    span(&s, t, "212-555-0101", MF_DEID_PHONE);
    span(&s, t, "(212) 555 0199", MF_DEID_FAX);
    span(&s, t, "jane.doe@aol.com", MF_DEID_EMAIL);
    span(&s, t, "http://doe.net", MF_DEID_URL);
    span(&s, t, "10.0.0.7", MF_DEID_IP);
    span(&s, t, "Bellevue Hospital", MF_DEID_HOSPITAL);
    span(&s, t, "462 First Avenue", MF_DEID_ADDRESS);
    span(&s, t, "New York", MF_DEID_CITY);
    span(&s, t, "10016", MF_DEID_ZIP);
    for (int p = 0; p < 50; p++) {
        char pid[16];
        snprintf(pid, sizeof pid, "pt-%d", p);
        char *r = rewrite(&key1, pid, p + 1, MF_DEID_MODE_SURROGATE, t, &s);
        char *again = rewrite(&key1, pid, p + 1, MF_DEID_MODE_SURROGATE, t, &s);
        assert_string_equal(r, again);
        assert_null(strchr(r, '\n'));
        assert_null(strchr(r, '['));
        static const char *const gone[] = {
            "Jane",           "Doe",      "04/07/1931", "4477120",  "078-05-1120", "212-555-0101",
            "(212) 555 0199", "aol.com",  "doe.net",    "10.0.0.7", "Bellevue",    "462",
            "First",          "New York", "10016"};
        for (size_t g = 0; g < sizeof gone / sizeof gone[0]; g++) {
            if (has_word(r, gone[g]))
                fprintf(stderr, "'%s' survived in: %s\n", gone[g], r);
            assert_false(has_word(r, gone[g]));
        }
        assert_non_null(strstr(r, "age 90)"));
        free(r);
        free(again);
    }
    mf_deid_entities_free(&s.e);
}

static uint64_t xorshift(uint64_t *r)
{
    *r ^= *r << 13;
    *r ^= *r >> 7;
    *r ^= *r << 17;
    return *r;
}

static size_t count_byte(const char *s, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

/* Arbitrary bytes in arbitrary spans of every category: the text around a span is kept, and a
 * surrogate adds no line break or NUL that its span did not have. */
static void arbitrary_spans_are_safe(void **state)
{
    (void)state;
    static const char *const atoms[] = {
        "a", "Z", "7",  "0",    " ",    "-",   "/",   ".",   ",",  "\n",  "'",  "@", ":", "#",
        "é", "Ö", "日", "\xff", "\xc3", "Mar", "May", "Dr.", "St", "Apt", "th", "+", "x"};
    uint64_t r = 0x9e3779b97f4a7c15u;
    char text[256];
    for (int it = 0; it < 4000; it++) {
        size_t n = 0;
        size_t atoms_n = xorshift(&r) % 24;
        for (size_t k = 0; k < atoms_n; k++) {
            const char *a = atoms[xorshift(&r) % (sizeof atoms / sizeof atoms[0])];
            memcpy(text + n, a, strlen(a));
            n += strlen(a);
        }
        text[n] = '\0';
        xorshift(&r);
        size_t st = n ? r % n : 0, en = n ? st + (r >> 20) % (n - st + 1) : 0;
        struct mf_deid_entity e = {st, en, (enum mf_deid_cat)((r >> 40) % MF_DEID__NCAT), 1};
        struct mf_deid_entities es = {&e, 1, 1};
        struct mf_deid_subject subj = {&key1, "p", 1, (int64_t)((r >> 8) % 731) - 365};
        subj.shift *= MF_USEC_PER_DAY;
        struct mf_buf out = MF_BUF_INIT;
        assert_int_equal(
            mf_deid_text_rewrite(lex, &subj, MF_DEID_MODE_SURROGATE, text, n, &es, &out, NULL), 0);
        if (n == 0) {
            assert_int_equal(out.len, 0);
            mf_buf_release(&out);
            continue;
        }
        assert_true(out.len >= st + (n - en));
        assert_memory_equal(out.data, text, st);
        assert_memory_equal(out.data + out.len - (n - en), text + en, n - en);
        const char *sur = out.data + st;
        size_t sn = out.len - st - (n - en);
        assert_true(count_byte(sur, sn, '\n') <= count_byte(text + st, en - st, '\n'));
        assert_true(count_byte(sur, sn, '\0') <= count_byte(text + st, en - st, '\0'));
        mf_buf_release(&out);
    }
}

/* The one-call form with the real tagger: a name known from the record is found and replaced. */
static void apply_tags_then_rewrites(void **state)
{
    (void)state;
    struct mf_deid_tagger *tg = mf_deid_tagger_new(lex);
    struct mf_deid_context *ctx = mf_deid_context_new();
    assert_non_null(tg);
    assert_non_null(ctx);
    assert_int_equal(mf_deid_context_add(ctx, MF_DEID_NAME, "Odalys Quillfeather", 19), 0);
    const char *t = "Odalys Quillfeather was seen today.";
    struct mf_deid_entities scratch = {0};
    struct mf_buf out = MF_BUF_INIT;
    struct mf_deid_subject subj = {&key1, "pt-1", 4, mf_deid_shift(&key1, "pt-1", 4)};
    assert_int_equal(mf_deid_text_apply(tg, lex, ctx, &subj, MF_DEID_MODE_REDACT, t, strlen(t),
                                        &scratch, &out, NULL),
                     0);
    assert_string_equal(out.data, "[NAME] was seen today.");
    mf_buf_reset(&out);
    assert_int_equal(mf_deid_text_apply(tg, lex, ctx, &subj, MF_DEID_MODE_SURROGATE, t, strlen(t),
                                        &scratch, &out, NULL),
                     0);
    assert_null(strstr(out.data, "Quillfeather"));
    assert_null(strstr(out.data, "Odalys"));
    assert_non_null(strstr(out.data, " was seen today."));
    mf_buf_reset(&out);
    assert_int_equal(mf_deid_text_apply(tg, lex, ctx, &subj, MF_DEID_MODE_TAG, t, strlen(t),
                                        &scratch, &out, NULL),
                     0);
    assert_non_null(strstr(out.data, "\"text\":\"Odalys Quillfeather\""));
    mf_buf_release(&out);
    mf_deid_entities_free(&scratch);
    mf_deid_context_free(ctx);
    mf_deid_tagger_free(tg);
}

/* A surrogate is never one of the record's own names: with a third of the family-name list in
 * the record's context, no patient's surrogate for a tagged name holds one of them. */
static void surrogates_avoid_the_records_own_names(void **state)
{
    (void)state;
    struct mf_deid_tagger *tg = mf_deid_tagger_new(lex);
    struct mf_deid_context *ctx = mf_deid_context_new();
    assert_non_null(tg);
    assert_non_null(ctx);
    assert_int_equal(mf_deid_context_add(ctx, MF_DEID_NAME, "Odalys Quillfeather", 19), 0);
    assert_true(mf_deid_context_has_word(ctx, "QUILLFEATHER", 12));
    assert_false(mf_deid_context_has_word(ctx, "Quill", 5));
    for (uint64_t i = 0; i < 600; i++) {
        size_t len;
        const char *f =
            mf_deid_lexicon_pick(lex, MF_DEID_LIST_FAMILY, i * 0x9E3779B97F4A7C15u, &len);
        assert_non_null(f);
        assert_int_equal(mf_deid_context_add(ctx, MF_DEID_NAME, f, len), 0);
    }
    const char *t = "Odalys Quillfeather was seen today.";
    struct mf_deid_entities scratch = {0};
    struct mf_buf out = MF_BUF_INIT;
    for (int p = 0; p < 200; p++) {
        char pid[32];
        snprintf(pid, sizeof pid, "pt-%d", p);
        struct mf_deid_subject subj = {&key1, pid, strlen(pid), 0};
        mf_buf_reset(&out);
        assert_int_equal(mf_deid_text_apply(tg, lex, ctx, &subj, MF_DEID_MODE_SURROGATE, t,
                                            strlen(t), &scratch, &out, NULL),
                         0);
        const char *end = strstr(out.data, " was seen today.");
        assert_non_null(end);
        for (const char *w = out.data; w < end;) {
            while (w < end && (*w == ' ' || *w == '-' || *w == '[' || *w == ']'))
                w++;
            const char *e = w;
            while (e < end && *e != ' ' && *e != '-')
                e++;
            if (e > w && mf_deid_context_has_word(ctx, w, (size_t)(e - w)))
                fail_msg("patient %d: the surrogate '%.*s' is one of the record's own names", p,
                         (int)(e - w), w);
            w = e;
        }
    }
    mf_buf_release(&out);
    mf_deid_entities_free(&scratch);
    mf_deid_context_free(ctx);
    mf_deid_tagger_free(tg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(modes_parse),
        cmocka_unit_test(redact_replaces_each_span),
        cmocka_unit_test(json_offsets_bytes_and_code_points),
        cmocka_unit_test(names_keep_person_sex_case_and_shape),
        cmocka_unit_test(name_surrogates_never_equal_the_original),
        cmocka_unit_test(dates_move_by_the_shift_in_the_same_format),
        cmocka_unit_test(ages_over_89_become_90),
        cmocka_unit_test(phones_ssns_and_record_numbers_keep_their_shape),
        cmocka_unit_test(emails_urls_and_ips_use_reserved_ranges),
        cmocka_unit_test(addresses_cities_and_hospitals),
        cmocka_unit_test(surrogates_differ_and_stay_on_one_line),
        cmocka_unit_test(arbitrary_spans_are_safe),
        cmocka_unit_test(apply_tags_then_rewrites),
        cmocka_unit_test(surrogates_avoid_the_records_own_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
