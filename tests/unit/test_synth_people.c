/* test_synth_people.c - unit tests for src/synth/people.c and notes.c: the name and place
 * lists, identities, and visit notes with their PHI spans.
 *
 * The lists are written by scripts/synth-lists.py (found from this file's path) into a
 * temporary folder, so the suite needs /usr/bin/python3 with python3-fake-factory.  The
 * simulator is not used: a small life is built by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/timeutil.h"
#include "synth/synth.h"

static char g_dir[4096]; /* temporary folder; lists in g_dir/synth */
static struct mf_buf g_female = MF_BUF_INIT, g_male = MF_BUF_INIT;

/* Run the list script into dir/synth; 0 on success. */
static int make_lists(const char *dir)
{
    const char *file = __FILE__;
    const char *tail = strstr(file, "tests/unit/test_synth_people.c");
    int root = tail ? (int)(tail - file) : 0;
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%.*sscripts/synth-lists.py' '%s/synth' >/dev/null 2>&1", root, file,
             dir);
    return system(cmd);
}

static int group_setup(void **state)
{
    (void)state;
    const char *base = getenv("MEDFM_TEST_TMP");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (mf_fs_mkdir_p(base, NULL) != 0)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s/synth-people-XXXXXX", base);
    if (mkdtemp(g_dir) == NULL || make_lists(g_dir) != 0)
        return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/synth/given-female.tsv", g_dir);
    /* a leading newline lets a lookup search for "\nName\t" */
    if (mf_buf_putc(&g_female, '\n') || mf_fs_read_file(path, 1 << 20, &g_female, NULL))
        return -1;
    snprintf(path, sizeof path, "%s/synth/given-male.tsv", g_dir);
    if (mf_buf_putc(&g_male, '\n') || mf_fs_read_file(path, 1 << 20, &g_male, NULL))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mf_buf_release(&g_female);
    mf_buf_release(&g_male);
    mf_fs_rm_rf(g_dir);
    return 0;
}

static struct mf_synth_lists *load(void)
{
    struct mf_synth_lists *l = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_synth_lists_load(g_dir, &l, &err), 0);
    assert_non_null(l);
    return l;
}

static int in_list(const struct mf_buf *b, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s\t", name);
    return strstr(b->data, key) != NULL;
}

/* --- lists -------------------------------------------------------------------------------- */

static void lists_load_and_fail_clearly(void **state)
{
    (void)state;
    struct mf_synth_lists *l = load();
    mf_synth_lists_free(l);
    mf_synth_lists_free(NULL);

    /* a folder without lists: not found, naming the file */
    char empty[4200];
    snprintf(empty, sizeof empty, "%s/empty", g_dir);
    assert_int_equal(mf_fs_mkdir_p(empty, NULL), 0);
    struct mf_err err = {0};
    l = (struct mf_synth_lists *)1;
    assert_int_equal(mf_synth_lists_load(empty, &l, &err), MF_ENOTFOUND);
    assert_null(l);
    assert_non_null(strstr(err.msg, "given-female.tsv"));

    /* a malformed weight: a parse error naming the file and line */
    char bad[4200], path[4300];
    snprintf(bad, sizeof bad, "%s/bad", g_dir);
    assert_int_equal(make_lists(bad), 0);
    snprintf(path, sizeof path, "%s/synth/family.tsv", bad);
    static const char text[] = "Smith\t0.02\nJones\tlots\n";
    assert_int_equal(mf_fs_write_file_atomic(path, text, sizeof text - 1, NULL), 0);
    mf_err_clear(&err);
    assert_int_equal(mf_synth_lists_load(bad, &l, &err), MF_EPARSE);
    assert_non_null(strstr(err.msg, "family.tsv"));
    assert_non_null(strstr(err.msg, "line 2"));
    assert_null(strstr(err.msg, "Jones"));

    /* an empty list and a bad state row */
    assert_int_equal(mf_fs_write_file_atomic(path, "\n", 1, NULL), 0);
    mf_err_clear(&err);
    assert_int_equal(mf_synth_lists_load(bad, &l, &err), MF_EPARSE);
    assert_non_null(strstr(err.msg, "family.tsv"));
    assert_int_equal(make_lists(bad), 0);
    snprintf(path, sizeof path, "%s/synth/states.tsv", bad);
    assert_int_equal(mf_fs_write_file_atomic(path, "MA\t010\n", 7, NULL), 0);
    mf_err_clear(&err);
    assert_int_equal(mf_synth_lists_load(bad, &l, &err), MF_EPARSE);
    assert_non_null(strstr(err.msg, "states.tsv"));
    mf_fs_rm_rf(bad);
}

static void data_dir_follows_env(void **state)
{
    (void)state;
    const char *old = getenv("MEDFM_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("MEDFM_DATA_DIR", "/some/where", 1);
    assert_string_equal(mf_data_dir("synth"), "/some/where/synth");
    unsetenv("MEDFM_DATA_DIR");
    assert_true(strlen(mf_data_dir("synth")) > 0);
    if (saved)
        setenv("MEDFM_DATA_DIR", saved, 1);
    free(saved);
}

/* --- people ------------------------------------------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int is_phone(const char *s)
{
    return strlen(s) == 12 && all_digits(s, 3) && s[3] == '-' && all_digits(s + 4, 3) &&
           s[7] == '-' && all_digits(s + 8, 4) && s[0] >= '2' && s[4] >= '2';
}

static int is_ssn(const char *s, size_t n)
{
    if (n != 11 || !all_digits(s, 3) || s[3] != '-' || !all_digits(s + 4, 2) || s[6] != '-' ||
        !all_digits(s + 7, 4))
        return 0;
    int area = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return area != 0 && area != 666 && area < 900 && memcmp(s + 4, "00", 2) != 0 &&
           memcmp(s + 7, "0000", 4) != 0;
}

static void persons_are_well_formed(void **state)
{
    (void)state;
    struct mf_synth_lists *l = load();
    struct mf_rng rng;
    mf_rng_seed(&rng, 7, 0);
    int relations[6] = {0};
    static const char *const rel[] = {"spouse", "daughter", "son", "sister", "brother", "friend"};
    for (int i = 0; i < 20000; i++) {
        struct mf_synth_person p;
        memset(&p, 0x55, sizeof p);
        int female = i % 2;
        mf_synth_person_make(l, &rng, female, &p);
        assert_true(in_list(female ? &g_female : &g_male, p.name.given));
        assert_true(in_list(&g_female, p.mother.given));
        assert_true(strlen(p.name.family) > 0 && isupper((unsigned char)p.name.family[0]));
        assert_true(strlen(p.mother.family) > 0 && strlen(p.contact.given) > 0);
        int r = -1;
        for (int k = 0; k < 6; k++)
            if (strcmp(p.contact_relation, rel[k]) == 0)
                r = k;
        assert_true(r >= 0);
        relations[r]++;
        if (r == 1 || r == 3)
            assert_true(in_list(&g_female, p.contact.given));
        if (r == 2 || r == 4)
            assert_true(in_list(&g_male, p.contact.given));
        assert_true(isdigit((unsigned char)p.line[0]) && strchr(p.line, ' ') != NULL);
        assert_true(strlen(p.city) > 2);
        assert_true(strlen(p.state) == 2 && isupper((unsigned char)p.state[0]));
        assert_true(strlen(p.zip) == 5 && all_digits(p.zip, 5));
        assert_true(is_phone(p.phone) && is_phone(p.contact_phone) && is_phone(p.fax));
        assert_true(is_ssn(p.ssn, strlen(p.ssn)));
        assert_true(strlen(p.mrn) == 8 && all_digits(p.mrn, 8));
        const char *at = strchr(p.email, '@');
        assert_true(at != NULL && at > p.email && strchr(at, '.') != NULL &&
                    strchr(at + 1, '@') == NULL);
        for (const char *q = p.email; *q; q++)
            assert_true(islower((unsigned char)*q) || isdigit((unsigned char)*q) ||
                        strchr("@._", *q));
        if (strcmp(p.state, "MA") == 0)
            assert_true(p.zip[0] == '0' && p.zip[1] <= '2');
    }
    for (int k = 0; k < 6; k++)
        assert_true(relations[k] > 100);

    /* the same stream gives the same person */
    struct mf_synth_person a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    mf_rng_seed(&rng, 99, 5);
    mf_synth_person_make(l, &rng, 1, &a);
    mf_rng_seed(&rng, 99, 5);
    mf_synth_person_make(l, &rng, 1, &b);
    assert_memory_equal(&a, &b, sizeof a);
    mf_synth_lists_free(l);
}

/* --- notes -------------------------------------------------------------------------------- */

#define DAY(y, m, d) mf_time_from_date((y), (m), (d))
#define HOUR         (3600 * MF_USEC_PER_SEC)

/* A small life: two earlier conditions and a medication, a visit with a new condition, labs,
 * a medication and a procedure, and a second visit with nothing linked to it. */
static void life_make(struct mf_syn_life *life, struct mf_syn_item items[12], int female,
                      int birth_year, enum mf_syn_class cls)
{
    int64_t visit = DAY(2016, 5, 2) + 14 * HOUR;
    const struct mf_syn_item v[] = {
        {MF_SYN_CONDITION, DAY(2005, 3, 9), MF_TIME_NONE, "59621000",
         "Essential hypertension (disorder)", NAN, NULL, -1, MF_SYN_AMB},
        {MF_SYN_CONDITION, DAY(2009, 11, 20), MF_TIME_NONE, "44054006",
         "Diabetes mellitus type 2 (disorder)", NAN, NULL, -1, MF_SYN_AMB},
        {MF_SYN_MEDICATION, DAY(2009, 11, 20), MF_TIME_NONE, "860975",
         "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", NAN, NULL, -1,
         MF_SYN_AMB},
        {MF_SYN_ENCOUNTER, visit, visit + 3 * 24 * HOUR, "185349003", "Encounter for check up", NAN,
         NULL, -1, cls},
        {MF_SYN_CONDITION, visit, MF_TIME_NONE, "10509002", "Acute bronchitis (disorder)", NAN,
         NULL, 3, MF_SYN_AMB},
        {MF_SYN_OBSERVATION, visit, MF_TIME_NONE, "4548-4",
         "Hemoglobin A1c/Hemoglobin.total in Blood", 7.2, "%", 3, MF_SYN_AMB},
        {MF_SYN_OBSERVATION, visit, MF_TIME_NONE, "2339-0", "Glucose [Mass/volume] in Blood", 142.0,
         "mg/dL", 3, MF_SYN_AMB},
        {MF_SYN_OBSERVATION, visit, MF_TIME_NONE, "8480-6", "Systolic blood pressure", 132.0,
         "mm[Hg]", 3, MF_SYN_AMB},
        {MF_SYN_MEDICATION, visit, MF_TIME_NONE, "308182", "amoxicillin 250 MG Oral Capsule", NAN,
         NULL, 3, MF_SYN_AMB},
        {MF_SYN_PROCEDURE, visit, MF_TIME_NONE, "399208008", "Plain chest X-ray (procedure)", NAN,
         NULL, 3, MF_SYN_AMB},
        {MF_SYN_ENCOUNTER, visit + 40 * 24 * HOUR, visit + 40 * 24 * HOUR + HOUR, "185349003",
         "Encounter for check up", NAN, NULL, -1, cls},
    };
    memcpy(items, v, sizeof v);
    memset(life, 0, sizeof *life);
    life->female = female;
    life->birth = DAY(birth_year, 7, 14);
    life->death = MF_TIME_NONE;
    life->race = "2106-3";
    life->ethnicity = "2186-5";
    life->smoker = birth_year % 2;
    life->items = items;
    life->n_items = sizeof v / sizeof v[0];
}

static const char *const months[12] = {"January",   "February", "March",    "April",
                                       "May",       "June",     "July",     "August",
                                       "September", "October",  "November", "December"};

/* Does s[0..n) read as one of the date forms notes use? */
static int is_date(const char *s, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    unsigned a = 0, b = 0, c = 0;
    int k = -1;
    char word[16];
    if ((sscanf(buf, "%4u-%2u-%2u%n", &a, &b, &c, &k) == 3 && k == (int)n))
        return b >= 1 && b <= 12 && c >= 1 && c <= 31 && a > 1800;
    k = -1;
    if (sscanf(buf, "%2u/%2u/%4u%n", &a, &b, &c, &k) == 3 && k == (int)n)
        return a >= 1 && a <= 12 && b >= 1 && b <= 31;
    k = -1;
    if (sscanf(buf, "%2u/%4u%n", &a, &c, &k) == 2 && k == (int)n)
        return a >= 1 && a <= 12 && c > 1800;
    k = -1;
    if (sscanf(buf, "%2u-%3[A-Za-z]-%4u%n", &b, word, &c, &k) == 3 && k == (int)n) {
        for (int i = 0; i < 12; i++)
            if (strlen(word) == 3 && strncmp(word, months[i], 3) == 0)
                return b >= 1 && b <= 31;
        return 0;
    }
    k = -1;
    if (sscanf(buf, "%15[A-Za-z] %2u, %4u%n", word, &b, &c, &k) == 3 && k == (int)n) {
        for (int i = 0; i < 12; i++)
            if (strcmp(word, months[i]) == 0)
                return b >= 1 && b <= 31;
        return 0;
    }
    k = -1;
    if (sscanf(buf, "%2u %15[A-Za-z] %4u%n", &b, word, &c, &k) == 3 && k == (int)n) {
        for (int i = 0; i < 12; i++)
            if (strcmp(word, months[i]) == 0)
                return b >= 1 && b <= 31;
        return 0;
    }
    k = -1;
    if (sscanf(buf, "%15[A-Za-z] %4u%n", word, &c, &k) == 2 && k == (int)n) {
        for (int i = 0; i < 12; i++)
            if (strcmp(word, months[i]) == 0)
                return c > 1800;
        return 0;
    }
    return 0;
}

static int chars_in(const char *s, size_t n, const char *allowed_punct, int letters, int digits)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((letters && isalpha(ch)) || (digits && isdigit(ch)) || strchr(allowed_punct, ch))
            continue;
        return 0;
    }
    return 1;
}

/* Does the span's text look like its category? */
static int span_looks_right(const char *s, size_t n, enum mf_phi_category c, int *age)
{
    size_t digits = 0;
    for (size_t i = 0; i < n; i++)
        digits += isdigit((unsigned char)s[i]) != 0;
    switch (c) {
    case MF_PHI_NAME:
        return isupper((unsigned char)s[0]) && chars_in(s, n, " ,.'-", 1, 0);
    case MF_PHI_DATE:
        return is_date(s, n);
    case MF_PHI_AGE:
        if (n > 3 || digits != n)
            return 0;
        *age = (int)strtol(s, NULL, 10);
        return 1;
    case MF_PHI_PHONE:
    case MF_PHI_FAX:
        return digits == 10 && chars_in(s, n, "()-. ", 0, 1);
    case MF_PHI_EMAIL:
        return memchr(s, '@', n) != NULL && chars_in(s, n, "@._-", 1, 1);
    case MF_PHI_SSN:
        return is_ssn(s, n);
    case MF_PHI_MRN:
        return n == 8 && digits == 8;
    case MF_PHI_ID:
        return n >= 6 && chars_in(s, n, "", 1, 1) && digits >= 6;
    case MF_PHI_ADDRESS:
        return isdigit((unsigned char)s[0]) && chars_in(s, n, " .", 1, 1);
    case MF_PHI_ZIP:
        return n == 5 && digits == 5;
    case MF_PHI_CITY:
        return isupper((unsigned char)s[0]) && chars_in(s, n, " ", 1, 0);
    case MF_PHI_HOSPITAL:
        return isupper((unsigned char)s[0]) && chars_in(s, n, " .'-", 1, 0);
    case MF_PHI_URL:
        return n > 8 && strncmp(s, "https://", 8) == 0 && memchr(s, ' ', n) == NULL;
    case MF_PHI_IP: {
        unsigned o[4];
        int k = -1;
        char buf[32];
        if (n >= sizeof buf)
            return 0;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return sscanf(buf, "%3u.%3u.%3u.%3u%n", &o[0], &o[1], &o[2], &o[3], &k) == 4 &&
               k == (int)n && o[0] < 256 && o[1] < 256 && o[2] < 256 && o[3] < 256;
    }
    default:
        return 0;
    }
}

static int covered(const struct mf_phi_spans *sp, size_t start, size_t end)
{
    for (size_t i = 0; i < sp->n; i++)
        if (sp->v[i].start <= start && end <= sp->v[i].end)
            return 1;
    return 0;
}

/* Every whole-word occurrence of word (as written and upper-cased) lies inside a span. */
static void assert_word_covered(const char *text, const struct mf_phi_spans *sp, const char *word)
{
    char upper[64];
    size_t n = strlen(word);
    if (n == 0 || n >= sizeof upper)
        return;
    for (size_t i = 0; i <= n; i++)
        upper[i] = (char)toupper((unsigned char)word[i]);
    const char *forms[2] = {word, upper};
    for (int f = 0; f < 2; f++) {
        for (const char *q = strstr(text, forms[f]); q; q = strstr(q + 1, forms[f])) {
            int before = q > text && isalnum((unsigned char)q[-1]);
            int after = isalnum((unsigned char)q[n]);
            if (before || after)
                continue;
            size_t s = (size_t)(q - text);
            if (!covered(sp, s, s + n))
                fail_msg("untagged '%s' at byte %zu in:\n%s", forms[f], s, text);
        }
    }
}

/* Every occurrence of value (any context) lies inside a span. */
static void assert_value_covered(const char *text, const struct mf_phi_spans *sp, const char *value)
{
    size_t n = strlen(value);
    if (n == 0)
        return;
    for (const char *q = strstr(text, value); q; q = strstr(q + 1, value)) {
        size_t s = (size_t)(q - text);
        if (!covered(sp, s, s + n))
            fail_msg("untagged value at byte %zu in:\n%s", s, text);
    }
}

static void notes_tag_all_phi(void **state)
{
    (void)state;
    struct mf_synth_lists *l = load();
    struct mf_buf text = MF_BUF_INIT;
    struct mf_phi_spans spans = {0};
    size_t seen[MF_PHI__COUNT] = {0};
    int max_age = 0, kinds[3] = {0};
    for (int i = 0; i < 1500; i++) {
        struct mf_rng rng;
        mf_rng_seed(&rng, 2024, (uint64_t)i);
        struct mf_syn_item items[12];
        struct mf_syn_life life;
        life_make(&life, items, i % 2, 1915 + (i * 7) % 80, (enum mf_syn_class)(i % 3));
        struct mf_synth_person p, doc;
        mf_synth_person_make(l, &rng, life.female, &p);
        mf_synth_person_make(l, &rng, i % 3 == 0, &doc);
        char clinician[128], hospital[128];
        snprintf(clinician, sizeof clinician, "Dr. %s %s", doc.name.given, doc.name.family);
        snprintf(hospital, sizeof hospital, "%s %s", doc.city,
                 i % 2 ? "General Hospital" : "Medical Center");
        struct mf_synth_visit v = {&life, &p, (size_t)(i % 5 == 4 ? 10 : 3), clinician,
                                   i % 7 == 6 ? NULL : hospital};
        assert_int_equal(mf_synth_note_write(l, &rng, &v, &text, &spans), 0);
        kinds[i % 3]++;
        const char *t = text.data;
        assert_int_equal(strlen(t), text.len);
        size_t prev_end = 0;
        for (size_t k = 0; k < spans.n; k++) {
            const struct mf_phi_span *s = &spans.v[k];
            assert_true(s->start >= prev_end && s->start < s->end && s->end <= text.len);
            prev_end = s->end;
            int age = -1;
            if (!span_looks_right(t + s->start, s->end - s->start, s->category, &age))
                fail_msg("bad %s span '%.*s'", mf_phi_category_name(s->category),
                         (int)(s->end - s->start), t + s->start);
            if (age > max_age && s->category == MF_PHI_AGE)
                max_age = age;
            seen[s->category]++;
        }
        const char *words[] = {p.name.given,    p.name.family,    p.mother.given, p.mother.family,
                               p.contact.given, p.contact.family, doc.name.given, doc.name.family};
        for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
            assert_word_covered(t, &spans, words[k]);
        const char *values[] = {p.mrn,  p.ssn, p.email,     p.line,
                                p.city, p.zip, p.phone + 8, hospital};
        for (size_t k = 0; k < sizeof values / sizeof values[0]; k++)
            assert_value_covered(t, &spans, values[k]);
        /* the visit's content is there */
        if (v.encounter == 3) {
            assert_non_null(strstr(t, "cute bronchitis"));
            assert_non_null(strstr(t, "Hemoglobin A1c"));
            assert_non_null(strstr(t, "mmHg"));
        }
        assert_non_null(strstr(t, "ypertension"));
    }
    for (int c = 0; c < MF_PHI__COUNT; c++)
        if (seen[c] == 0)
            fail_msg("no %s span in 1500 notes", mf_phi_category_name((enum mf_phi_category)c));
    assert_true(max_age >= 95);
    free(spans.v);
    mf_buf_release(&text);
    mf_synth_lists_free(l);
}

static void notes_are_deterministic(void **state)
{
    (void)state;
    struct mf_synth_lists *l = load();
    struct mf_buf t1 = MF_BUF_INIT, t2 = MF_BUF_INIT;
    struct mf_phi_spans s1 = {0}, s2 = {0};
    struct mf_syn_item items[12];
    struct mf_syn_life life;
    life_make(&life, items, 1, 1930, MF_SYN_IMP);
    struct mf_synth_person p;
    struct mf_rng rng;
    mf_rng_seed(&rng, 5, 5);
    mf_synth_person_make(l, &rng, 1, &p);
    struct mf_synth_visit v = {&life, &p, 3, "Dr. Ann Lee", "Lakeview Medical Center"};
    for (int rep = 0; rep < 2; rep++) {
        mf_rng_seed(&rng, 11, 3);
        assert_int_equal(mf_synth_note_write(l, &rng, &v, rep ? &t2 : &t1, rep ? &s2 : &s1), 0);
    }
    assert_int_equal(t1.len, t2.len);
    assert_memory_equal(t1.data, t2.data, t1.len);
    assert_int_equal(s1.n, s2.n);
    assert_memory_equal(s1.v, s2.v, s1.n * sizeof *s1.v);

    /* writing again replaces text and spans */
    mf_rng_seed(&rng, 12, 3);
    assert_int_equal(mf_synth_note_write(l, &rng, &v, &t1, &s1), 0);
    assert_true(s1.n > 0 && s1.v[s1.n - 1].end <= t1.len);

    /* an encounter index out of range is refused */
    v.encounter = life.n_items;
    assert_int_equal(mf_synth_note_write(l, &rng, &v, &t1, &s1), MF_EINVAL);
    free(s1.v);
    free(s2.v);
    mf_buf_release(&t1);
    mf_buf_release(&t2);
    mf_synth_lists_free(l);
}

static void phi_category_names(void **state)
{
    (void)state;
    assert_string_equal(mf_phi_category_name(MF_PHI_NAME), "NAME");
    assert_string_equal(mf_phi_category_name(MF_PHI_HOSPITAL), "HOSPITAL");
    assert_string_equal(mf_phi_category_name(MF_PHI_IP), "IP");
    assert_string_equal(mf_phi_category_name(MF_PHI__COUNT), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_load_and_fail_clearly), cmocka_unit_test(data_dir_follows_env),
        cmocka_unit_test(persons_are_well_formed),     cmocka_unit_test(notes_tag_all_phi),
        cmocka_unit_test(notes_are_deterministic),     cmocka_unit_test(phi_category_names),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
