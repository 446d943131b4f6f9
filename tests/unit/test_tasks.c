/* test_tasks.c - unit tests for the task language and the labeler (src/tasks/): every window
 * rule on hand-made event lists (fixed offsets, inclusive and exclusive edges at exactly the
 * boundary, has constraints, event bounds found and not found, and/or at one timestamp, value
 * ranges, patient_demographics, the special predicates), label_at on an appended future, the
 * horizon, a hand-made store (per-patient choice, LABELS.csv, the known-code check), parse
 * errors for every kind of bad input, and every ACES example and shipped task parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/log.h"
#include "store/store.h"
#include "tasks/task.h"

static char tmpdir[512];

#include "teststore.h"

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("MEDFM_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_tasks-%ld", base && *base ? base : "/tmp",
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

#define US   INT64_C(1)
#define HOUR (INT64_C(3600) * 1000000)
#define DAY  (24 * HOUR)
#define T0   (INT64_C(1600000000) * 1000000) /* some instant in 2020 */

static struct mf_task *task_of(const char *yaml)
{
    struct mf_task *t = NULL;
    struct mf_err err = {0};
    int rc = mf_task_parse(yaml, strlen(yaml), "t.yaml", &t, &err);
    if (rc != 0)
        fail_msg("parse failed: %s", err.msg);
    return t;
}

/* The parse fails and the message holds every one of the NULL-terminated strings. */
static void parse_fails(const char *yaml, ...)
{
    struct mf_task *t = NULL;
    struct mf_err err = {0};
    int rc = mf_task_parse(yaml, strlen(yaml), "bad.yaml", &t, &err);
    if (rc == 0)
        fail_msg("parse succeeded for:\n%s", yaml);
    assert_null(t);
    va_list ap;
    va_start(ap, yaml);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (strstr(err.msg, s) == NULL)
            fail_msg("error '%s' lacks '%s'", err.msg, s);
    va_end(ap);
}

/* The mask of a comma-separated list of plain predicate names. */
static uint64_t M(const struct mf_task *t, const char *names)
{
    uint64_t m = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *save = NULL, *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < mf_task_n_plain(t) && strcmp(mf_task_plain_name(t, i), s) != 0)
            i++;
        if (i == mf_task_n_plain(t))
            fail_msg("no plain predicate '%s'", s);
        m |= UINT64_C(1) << i;
    }
    return m;
}

struct want {
    int64_t trigger, index;
    int label;
};

/* Label n events (times relative to T0 unless MF_TIME_NONE) and compare with the samples. */
static void expect(const struct mf_task *t, const int64_t *time, const uint64_t *mask, size_t n,
                   const struct want *w, size_t nw)
{
    int64_t tm[64];
    assert_true(n <= 64);
    for (size_t i = 0; i < n; i++)
        tm[i] = time[i] == MF_TIME_NONE ? MF_TIME_NONE : T0 + time[i];
    struct mf_task_events ev = {n, tm, mask};
    struct mf_task_sample *s = NULL;
    size_t ns = 0, cap = 0;
    struct mf_err err = {0};
    assert_int_equal(mf_task_label(t, &ev, &s, &ns, &cap, &err), 0);
    if (ns != nw) {
        for (size_t i = 0; i < ns; i++)
            print_message("got trigger %+.3fh index %+.3fh label %d\n",
                          (double)(s[i].trigger - T0) / HOUR, (double)(s[i].index - T0) / HOUR,
                          s[i].label);
        fail_msg("%zu samples, expected %zu", ns, nw);
    }
    for (size_t i = 0; i < nw; i++) {
        assert_int_equal(s[i].trigger, T0 + w[i].trigger);
        assert_int_equal(s[i].index, T0 + w[i].index);
        assert_int_equal(s[i].label, w[i].label);
    }
    free(s);
}

#define EXPECT(t, times, masks, ...)                                                               \
    do {                                                                                           \
        const struct want w_[] = {__VA_ARGS__};                                                    \
        expect(t, times, masks, sizeof(times) / sizeof(times)[0], w_, sizeof w_ / sizeof w_[0]);   \
    } while (0)

#define EXPECT_NONE(t, times, masks)                                                               \
    expect(t, times, masks, sizeof(times) / sizeof(times)[0], NULL, 0)

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    va_list ap;
    va_start(ap, f);
    vsnprintf(b, sizeof buf[0], f, ap);
    va_end(ap);
    return b;
}

/* A trigger `a`; input from null to trigger + 2h (index); target after it for 10 hours. */
static const char *fixed_task(const char *s_incl, const char *e_incl)
{
    return fmt("predicates:\n"
               "  a: {code: A}\n"
               "  b: {code: B}\n"
               "trigger: a\n"
               "windows:\n"
               "  input:\n"
               "    start: NULL\n"
               "    end: trigger + 2h\n"
               "    index_timestamp: end\n"
               "  target:\n"
               "    start: input.end\n"
               "    end: start + 10 hours\n"
               "    start_inclusive: %s\n"
               "    end_inclusive: %s\n"
               "    label: b\n",
               s_incl, e_incl);
}

static void fixed_offsets_and_edges(void **state)
{
    (void)state;
    struct mf_task *t = task_of(fixed_task("False", "True"));
    uint64_t a = M(t, "a"), b = M(t, "b");
    assert_int_equal(mf_task_horizon(t), 10 * HOUR);
    assert_int_equal(mf_task_has_label(t), 1);
    {
        int64_t tm[] = {0, 2 * HOUR}; /* b exactly at the start: excluded */
        uint64_t mk[] = {a, b};
        EXPECT(t, tm, mk, {0, 2 * HOUR, 0});
    }
    {
        int64_t tm[] = {0, 12 * HOUR}; /* exactly at the end: included */
        uint64_t mk[] = {a, b};
        EXPECT(t, tm, mk, {0, 2 * HOUR, 1});
    }
    {
        int64_t tm[] = {0, 12 * HOUR + US}; /* just after */
        uint64_t mk[] = {a, b};
        EXPECT(t, tm, mk, {0, 2 * HOUR, 0});
    }
    {
        int64_t tm[] = {0, 2 * HOUR + US}; /* just inside */
        uint64_t mk[] = {a, b};
        EXPECT(t, tm, mk, {0, 2 * HOUR, 1});
    }
    {
        /* two triggers at one timestamp are one sample; a second trigger later is another */
        int64_t tm[] = {0, 0, 5 * HOUR, 12 * HOUR};
        uint64_t mk[] = {a, a, a, b};
        EXPECT(t, tm, mk, {0, 2 * HOUR, 1}, {5 * HOUR, 7 * HOUR, 1});
    }
    mf_task_free(t);
    t = task_of(fixed_task("true", "false"));
    a = M(t, "a");
    b = M(t, "b");
    {
        int64_t tm[] = {0, 2 * HOUR};
        uint64_t mk[] = {a, b};
        EXPECT(t, tm, mk, {0, 2 * HOUR, 1});
    }
    {
        int64_t tm[] = {0, 12 * HOUR};
        uint64_t mk[] = {a, b};
        EXPECT(t, tm, mk, {0, 2 * HOUR, 0});
    }
    {
        int64_t tm[] = {0, 12 * HOUR - US};
        uint64_t mk[] = {a, b};
        EXPECT(t, tm, mk, {0, 2 * HOUR, 1});
    }
    mf_task_free(t);
    /* a window before the trigger: start: end - 1 day */
    t = task_of("predicates:\n  a: {code: A}\n  b: {code: B}\n"
                "trigger: a\n"
                "windows:\n"
                "  past:\n"
                "    start: end - 1 day\n"
                "    end: trigger\n"
                "    start_inclusive: true\n"
                "    end_inclusive: false\n"
                "    index_timestamp: end\n"
                "    label: b\n");
    a = M(t, "a");
    b = M(t, "b");
    assert_int_equal(mf_task_horizon(t), 0);
    {
        int64_t tm[] = {-DAY, 0};
        uint64_t mk[] = {b, a};
        EXPECT(t, tm, mk, {0, 0, 1});
    }
    {
        int64_t tm[] = {-DAY - US, 0};
        uint64_t mk[] = {b, a};
        EXPECT(t, tm, mk, {0, 0, 0});
    }
    {
        int64_t tm[] = {0, 0}; /* at the trigger itself, end exclusive */
        uint64_t mk[] = {b, a};
        EXPECT(t, tm, mk, {0, 0, 0});
    }
    mf_task_free(t);
}

static const char *has_task(const char *range)
{
    return fmt("predicates:\n  a: {code: A}\n  c: {code: C}\n"
               "trigger: a\n"
               "windows:\n"
               "  input:\n"
               "    start: null\n"
               "    end: trigger\n"
               "    start_inclusive: true\n"
               "    end_inclusive: true\n"
               "    index_timestamp: end\n"
               "    has:\n"
               "      c: %s\n",
               range);
}

static void has_constraints(void **state)
{
    (void)state;
    struct mf_task *t = task_of(has_task("(None, 0)"));
    uint64_t a = M(t, "a"), c = M(t, "c");
    assert_int_equal(mf_task_has_label(t), 0);
    {
        /* c before the first trigger only: the first trigger has none, the second one has */
        int64_t tm[] = {0, HOUR, 2 * HOUR};
        uint64_t mk[] = {a, c, a};
        EXPECT(t, tm, mk, {0, 0, -1});
    }
    {
        int64_t tm[] = {0, 0}; /* c at the trigger's own timestamp, inside (inclusive) */
        uint64_t mk[] = {a, c};
        EXPECT_NONE(t, tm, mk);
    }
    mf_task_free(t);
    t = task_of(has_task("(1, None)"));
    a = M(t, "a");
    c = M(t, "c");
    {
        int64_t tm[] = {0, HOUR, 2 * HOUR};
        uint64_t mk[] = {a, c, a};
        EXPECT(t, tm, mk, {2 * HOUR, 2 * HOUR, -1});
    }
    mf_task_free(t);
    t = task_of(has_task("(2, 3)"));
    a = M(t, "a");
    c = M(t, "c");
    {
        /* c counts 1, 2, 3, 4 up to the triggers */
        int64_t tm[] = {0, 1, 2, 3, 4, 5, 6, 7};
        uint64_t mk[] = {c, a, c, a, c, a, c, a};
        EXPECT(t, tm, mk, {3, 3, -1}, {5, 5, -1});
    }
    {
        /* two events at one timestamp count 2 */
        int64_t tm[] = {0, 0, 1};
        uint64_t mk[] = {c, c, a};
        EXPECT(t, tm, mk, {1, 1, -1});
    }
    mf_task_free(t);
    t = task_of(has_task("(+1, )"));
    a = M(t, "a");
    c = M(t, "c");
    {
        int64_t tm[] = {0, 1};
        uint64_t mk[] = {c, a};
        EXPECT(t, tm, mk, {1, 1, -1});
    }
    mf_task_free(t);
}

static void event_bounds(void **state)
{
    (void)state;
    /* readmission: stay from the admission to the next discharge, then 30 days */
    struct mf_task *t = task_of("predicates:\n"
                                "  adm: {code: {regex: \"ADMISSION//.*\"}}\n"
                                "  dis: {code: {any: [DISCHARGE//HOME, DISCHARGE//DIED]}}\n"
                                "trigger: adm\n"
                                "windows:\n"
                                "  input:\n"
                                "    start: trigger\n"
                                "    end: start -> dis\n"
                                "    start_inclusive: False\n"
                                "    end_inclusive: True\n"
                                "    index_timestamp: end\n"
                                "  target:\n"
                                "    start: input.end\n"
                                "    end: start + 30d\n"
                                "    start_inclusive: False\n"
                                "    end_inclusive: True\n"
                                "    label: adm\n");
    assert_int_equal(mf_task_horizon(t), 30 * DAY);
    uint64_t adm = M(t, "adm"), dis = M(t, "dis");
    /* the regex is matched anywhere in the code; `any` lists exact codes */
    assert_int_equal(mf_task_match_code(t, "HOSPITAL_ADMISSION//X", 21), adm);
    assert_int_equal(mf_task_match_code(t, "ADMISSION/X", 11), 0);
    assert_int_equal(mf_task_match_code(t, "DISCHARGE//DIED", 15), dis);
    assert_int_equal(mf_task_match_code(t, "DISCHARGE//DIE", 14), 0);
    {
        int64_t tm[] = {0, 5 * DAY, 35 * DAY, 36 * DAY, 40 * DAY};
        uint64_t mk[] = {adm, dis, adm, dis, adm};
        /* the last admission has no discharge: no sample */
        EXPECT(t, tm, mk, {0, 5 * DAY, 1}, {35 * DAY, 36 * DAY, 1});
    }
    {
        int64_t tm[] = {0, 5 * DAY, 35 * DAY + US, 36 * DAY};
        uint64_t mk[] = {adm, dis, adm, dis};
        EXPECT(t, tm, mk, {0, 5 * DAY, 0}, {35 * DAY + US, 36 * DAY, 0});
    }
    {
        /* a discharge at the admission's own time is not "after" it */
        int64_t tm[] = {0, 0, 3 * DAY};
        uint64_t mk[] = {adm, dis, dis};
        EXPECT(t, tm, mk, {0, 3 * DAY, 0});
    }
    mf_task_free(t);

    /* end <- pred: from the last admission before a discharge trigger */
    t = task_of("predicates:\n  adm: {code: ADM}\n  dis: {code: DIS}\n  x: {code: X}\n"
                "trigger: dis\n"
                "windows:\n"
                "  stay:\n"
                "    start: end <- adm\n"
                "    end: trigger\n"
                "    start_inclusive: true\n"
                "    end_inclusive: true\n"
                "    index_timestamp: start\n"
                "    label: x\n");
    adm = M(t, "adm");
    dis = M(t, "dis");
    uint64_t x = M(t, "x");
    {
        int64_t tm[] = {-10, 0, 1, 2, 3};
        uint64_t mk[] = {x, adm, 0, adm, dis};
        EXPECT(t, tm, mk, {3, 2, 0});
    }
    {
        int64_t tm[] = {0, 1, 2, 3};
        uint64_t mk[] = {adm, x, adm | x, dis};
        EXPECT(t, tm, mk, {3, 2, 1});
    }
    {
        int64_t tm[] = {0, 3}; /* no admission before: no sample */
        uint64_t mk[] = {x, dis};
        EXPECT_NONE(t, tm, mk);
    }
    mf_task_free(t);

    /* ACES: with both ends inclusive, the referenced time itself may end the window (a point
     * window); with an exclusive start the search begins after it */
    for (int incl = 0; incl < 2; incl++) {
        t = task_of(fmt("predicates:\n  p: {code: P}\n  q: {code: Q}\n"
                        "trigger: p\n"
                        "windows:\n"
                        "  w:\n"
                        "    start: trigger\n"
                        "    end: start -> p\n"
                        "    start_inclusive: %s\n"
                        "    end_inclusive: true\n"
                        "    index_timestamp: end\n"
                        "    label: q\n",
                        incl ? "true" : "false"));
        uint64_t p = M(t, "p"), q = M(t, "q");
        int64_t tm[] = {0, 0, 7, 9};
        uint64_t mk[] = {p, q, q, p};
        if (incl)
            EXPECT(t, tm, mk, {0, 0, 1}, {9, 9, 0});
        else
            EXPECT(t, tm, mk, {0, 9, 1});
        mf_task_free(t);
    }
}

static void derived_predicates(void **state)
{
    (void)state;
    struct mf_task *t = task_of("predicates:\n"
                                "  t: {code: T}\n"
                                "  p1: {code: P1}\n"
                                "  p2: {code: P2}\n"
                                "  both:\n"
                                "    expr: and(p1, p2)\n"
                                "  either:\n"
                                "    expr: or(p1, p2)\n"
                                "  any_both:\n"
                                "    expr: or(both, t)\n"
                                "trigger: t\n"
                                "windows:\n"
                                "  w:\n"
                                "    start: trigger\n"
                                "    end: start + 10h\n"
                                "    start_inclusive: false\n"
                                "    index_timestamp: start\n"
                                "    has:\n"
                                "      either: (2, None)\n"
                                "    label: both\n");
    uint64_t tt = M(t, "t"), p1 = M(t, "p1"), p2 = M(t, "p2");
    {
        /* p1 and p2 at one timestamp: both = 1; either counts 2 */
        int64_t tm[] = {0, HOUR, HOUR};
        uint64_t mk[] = {tt, p1, p2};
        EXPECT(t, tm, mk, {0, 0, 1});
    }
    {
        /* at two timestamps: and is 0 at each; or sums to 2 */
        int64_t tm[] = {0, HOUR, 2 * HOUR};
        uint64_t mk[] = {tt, p1, p2};
        EXPECT(t, tm, mk, {0, 0, 0});
    }
    {
        /* one event matching both codes' tests would need one code: here p1 alone, twice */
        int64_t tm[] = {0, HOUR, HOUR};
        uint64_t mk[] = {tt, p1, p1};
        EXPECT(t, tm, mk, {0, 0, 0});
    }
    {
        int64_t tm[] = {0, HOUR}; /* or = 1 < 2: excluded */
        uint64_t mk[] = {tt, p1};
        EXPECT_NONE(t, tm, mk);
    }
    mf_task_free(t);
}

static void value_ranges(void **state)
{
    (void)state;
    struct mf_task *t = task_of("predicates:\n"
                                "  lab: {code: L}\n"
                                "  lo:\n"
                                "    code: L\n"
                                "    value_max: 5\n"
                                "    value_max_inclusive: False\n"
                                "  lo_incl:\n"
                                "    code: L\n"
                                "    value_max: 5\n"
                                "    value_max_inclusive: True\n"
                                "  mid:\n"
                                "    code: L\n"
                                "    value_min: 5\n"
                                "    value_max: 7.5\n"
                                "    value_min_inclusive: true\n"
                                "    value_max_inclusive: true\n"
                                "  hi_default:\n"
                                "    code: {regex: '^L$'}\n"
                                "    value_min: 7.5\n"
                                "    value_max: null\n"
                                "trigger: lab\n"
                                "windows:\n"
                                "  w:\n"
                                "    start: trigger\n"
                                "    end: start + 1h\n"
                                "    index_timestamp: start\n"
                                "    has:\n"
                                "      lo: (None, None)\n"
                                "      lo_incl: (None, None)\n"
                                "      mid: (None, None)\n"
                                "      hi_default: (None, None)\n");
    uint64_t all = M(t, "lab,lo,lo_incl,mid,hi_default");
    assert_int_equal(mf_task_match_code(t, "L", 1), all);
    assert_int_equal(mf_task_match_value(t, all, 4.999), M(t, "lab,lo,lo_incl"));
    assert_int_equal(mf_task_match_value(t, all, 5), M(t, "lab,lo_incl,mid"));
    assert_int_equal(mf_task_match_value(t, all, 5.001), M(t, "lab,mid"));
    assert_int_equal(mf_task_match_value(t, all, 7.5), M(t, "lab,mid"));
    assert_int_equal(mf_task_match_value(t, all, 7.5001), M(t, "lab,hi_default"));
    /* no value: only predicates without a range */
    assert_int_equal(mf_task_match_value(t, all, NAN), M(t, "lab"));
    assert_int_equal(mf_task_match_value(t, M(t, "mid"), 6), M(t, "mid"));
    mf_task_free(t);
}

static void demographics_and_special_predicates(void **state)
{
    (void)state;
    struct mf_task *t = task_of("predicates:\n  a: {code: A}\n"
                                "patient_demographics:\n  female: {code: GENDER/F}\n"
                                "trigger: a\n"
                                "windows:\n"
                                "  w:\n    start: trigger\n    end: start + 1h\n"
                                "    index_timestamp: start\n");
    uint64_t a = M(t, "a"), f = M(t, "female");
    {
        int64_t tm[] = {MF_TIME_NONE, 0};
        uint64_t mk[] = {f, a};
        EXPECT(t, tm, mk, {0, 0, -1});
    }
    {
        int64_t tm[] = {MF_TIME_NONE, 0, 1}; /* the code with a time does not count */
        uint64_t mk[] = {0, a, f};
        EXPECT_NONE(t, tm, mk);
    }
    mf_task_free(t);

    /* _ANY_EVENT: one per timestamp (as ACES); static facts are not events */
    t = task_of("predicates:\n  a: {code: A}\n"
                "trigger: a\n"
                "windows:\n"
                "  input:\n    start: NULL\n    end: trigger\n    index_timestamp: end\n"
                "    has: {_ANY_EVENT: \"(3, None)\"}\n");
    a = M(t, "a");
    {
        int64_t tm[] = {MF_TIME_NONE, MF_TIME_NONE, 0, 0, 0, 5, 6, 7};
        uint64_t mk[] = {0, 0, 0, 0, a, a, a, a};
        EXPECT(t, tm, mk, {6, 6, -1}, {7, 7, -1});
    }
    mf_task_free(t);
    /* _ANY_EVENT as the trigger and in a window; _RECORD_START and _RECORD_END */
    t = task_of("predicates:\n  a: {code: A}\n"
                "trigger: _ANY_EVENT\n"
                "windows:\n"
                "  target:\n    start: trigger\n    end: start + 2h\n"
                "    start_inclusive: false\n    end_inclusive: true\n"
                "    index_timestamp: start\n    label: a\n"
                "    has: {_ANY_EVENT: \"(1, None)\"}\n");
    a = M(t, "a");
    {
        int64_t tm[] = {MF_TIME_NONE, 0, HOUR, 2 * HOUR, 5 * HOUR};
        uint64_t mk[] = {a, 0, 0, a, 0};
        EXPECT(t, tm, mk, {0, 0, 1}, {HOUR, HOUR, 1});
    }
    mf_task_free(t);
    t = task_of("predicates:\n  a: {code: A}\n"
                "trigger: _RECORD_START\n"
                "windows:\n"
                "  all:\n    start: trigger\n    end: start -> _RECORD_END\n"
                "    index_timestamp: start\n    label: a\n");
    assert_int_equal(mf_task_horizon(t), -1);
    a = M(t, "a");
    {
        int64_t tm[] = {MF_TIME_NONE, 3, 4, 9};
        uint64_t mk[] = {a, 0, 0, a};
        EXPECT(t, tm, mk, {3, 3, 1});
    }
    {
        int64_t tm[] = {MF_TIME_NONE, 3}; /* one timestamp: no end after the start */
        uint64_t mk[] = {a, 0};
        EXPECT(t, tm, mk, {3, 3, 0});
    }
    mf_task_free(t);
    t = task_of("predicates:\n  a: {code: A}\n"
                "trigger: _RECORD_END\n"
                "windows:\n"
                "  last:\n    start: end - 1h\n    end: trigger\n"
                "    index_timestamp: end\n    label: a\n");
    a = M(t, "a");
    {
        int64_t tm[] = {0, 2 * HOUR, 3 * HOUR};
        uint64_t mk[] = {a, a, 0};
        EXPECT(t, tm, mk, {3 * HOUR, 3 * HOUR, 1});
    }
    mf_task_free(t);
}

/* The medfm extension: both bounds tied to outside events; a window whose end comes first is
 * empty (mimic_long_stay.yaml). */
static void both_bounds_outside(void **state)
{
    (void)state;
    struct mf_task *t = task_of("predicates:\n  adm: {code: ADM}\n  dis: {code: DIS}\n"
                                "trigger: adm\n"
                                "windows:\n"
                                "  input:\n    start: null\n    end: trigger + 24h\n"
                                "    index_timestamp: end\n"
                                "  stay:\n    start: trigger\n    end: start -> dis\n"
                                "    start_inclusive: false\n"
                                "  target:\n    start: trigger + 7 days\n    end: stay.end\n"
                                "    start_inclusive: false\n    end_inclusive: true\n"
                                "    label: dis\n");
    uint64_t adm = M(t, "adm"), dis = M(t, "dis");
    assert_int_equal(mf_task_horizon(t), -1);
    {
        int64_t tm[] = {0, 3 * DAY, 10 * DAY, 7 * DAY + 10 * DAY + US, 20 * DAY, 27 * DAY};
        uint64_t mk[] = {adm, dis, adm, dis, adm, dis};
        EXPECT(t, tm, mk, {0, DAY, 0}, {10 * DAY, 11 * DAY, 1}, {20 * DAY, 21 * DAY, 0});
    }
    mf_task_free(t);
}

static void label_at_on_an_appended_future(void **state)
{
    (void)state;
    struct mf_task *t = task_of("predicates:\n  enc: {code: ENC}\n  death: {code: MEDS_DEATH}\n"
                                "trigger: enc\n"
                                "windows:\n"
                                "  input:\n    start: null\n    end: trigger\n"
                                "    index_timestamp: end\n"
                                "    has: {death: \"(None, 0)\"}\n"
                                "  target:\n    start: trigger\n    end: start + 365 days\n"
                                "    start_inclusive: false\n    label: death\n");
    assert_int_equal(mf_task_horizon(t), 365 * DAY);
    uint64_t enc = M(t, "enc"), death = M(t, "death");
    /* a history up to the trigger, then a simulated future (no trigger code at the trigger
     * time is needed: label_at takes the trigger time as given) */
    int64_t tm[] = {T0 - DAY, T0, T0 + 100 * DAY, T0 + 364 * DAY};
    uint64_t mk[] = {enc, 0, 0, death};
    struct mf_task_events ev = {4, tm, mk};
    int64_t index = 0;
    assert_int_equal(mf_task_label_at(t, &ev, T0, &index), 1);
    assert_int_equal(index, T0);
    ev.n = 3; /* the future without the death */
    assert_int_equal(mf_task_label_at(t, &ev, T0, &index), 0);
    /* a death in the history excludes the trigger */
    uint64_t mk2[] = {death, 0, 0, 0};
    struct mf_task_events ev2 = {4, tm, mk2};
    assert_int_equal(mf_task_label_at(t, &ev2, T0, &index), MF_TASK_EXCLUDED);
    /* a trigger time between events */
    assert_int_equal(mf_task_label_at(t, &ev, T0 + 50 * DAY, &index), 0);
    assert_int_equal(index, T0 + 50 * DAY);
    mf_task_free(t);
}

static void horizons(void **state)
{
    (void)state;
    static const struct {
        const char *windows;
        int64_t h;
    } cases[] = {
        /* index at the trigger, label a year later */
        {"  a:\n    start: null\n    end: trigger\n    index_timestamp: end\n"
         "  b:\n    start: trigger\n    end: start + 365d\n",
         365 * DAY},
        /* index 24h in; the last window ends 48h + 24h in */
        {"  a:\n    start: null\n    end: trigger + 24h\n    index_timestamp: end\n"
         "  b:\n    start: trigger\n    end: start + 48h\n"
         "  c:\n    start: b.end\n    end: start + 24h\n",
         48 * HOUR},
        /* nothing after the index */
        {"  a:\n    start: end - 1y\n    end: trigger\n    index_timestamp: end\n", 0},
        /* index at an event bound; the target is fixed from it */
        {"  a:\n    start: trigger\n    end: start -> x\n    index_timestamp: end\n"
         "  b:\n    start: a.end\n    end: start + 30 days\n",
         30 * DAY},
        /* an event bound after the index */
        {"  a:\n    start: null\n    end: trigger\n    index_timestamp: end\n"
         "  b:\n    start: trigger\n    end: start -> x\n",
         -1},
        /* an unbounded end */
        {"  a:\n    start: null\n    end: trigger\n    index_timestamp: end\n"
         "  b:\n    start: trigger + 1d\n    end: null\n",
         -1},
        /* a backward event bound reaches no further than its anchor */
        {"  a:\n    start: trigger\n    end: start + 2h\n    index_timestamp: start\n"
         "  b:\n    start: end <- x\n    end: a.end\n",
         2 * HOUR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mf_task *t =
            task_of(fmt("predicates:\n  x: {code: X}\ntrigger: x\nwindows:\n%s", cases[i].windows));
        if (mf_task_horizon(t) != cases[i].h)
            fail_msg("case %zu: horizon %lld, expected %lld", i, (long long)mf_task_horizon(t),
                     (long long)cases[i].h);
        mf_task_free(t);
    }
}

/* Hand-made stores */

static const char *const store_task =
    "predicates:\n"
    "  enc: {code: {regex: \"^ENCOUNTER/\"}}\n"
    "  high: {code: LAB/1, value_min: 10, value_min_inclusive: true}\n"
    "  death: {code: MEDS_DEATH}\n"
    "trigger: enc\n"
    "windows:\n"
    "  input:\n    start: null\n    end: trigger\n    index_timestamp: end\n"
    "    has: {death: \"(None, 0)\"}\n"
    "  target:\n    start: trigger\n    end: start + 10 days\n    start_inclusive: false\n"
    "    label: high\n";

static void labels_of_a_store(void **state)
{
    (void)state;
    const struct ev evs[] = {
        {"p,1", MF_TIME_NONE, "GENDER/F", NAN},
        {"p,1", T0, "ENCOUNTER/AMB", NAN},
        {"p,1", T0 + DAY, "LAB/1", 10.0}, /* at the range's inclusive edge */
        {"p,1", T0 + 20 * DAY, "ENCOUNTER/AMB", NAN},
        {"p,1", T0 + 21 * DAY, "LAB/1", 9.99},
        {"q\"2", T0, "ENCOUNTER/IMP", NAN},
        {"q\"2", T0 + 2 * DAY, "MEDS_DEATH", NAN},
        {"q\"2", T0 + 3 * DAY, "ENCOUNTER/IMP", NAN}, /* after the death: excluded */
        {"r3", T0, "LAB/1", 50},
    };
    write_store("s1", evs, sizeof evs / sizeof evs[0]);
    struct mf_store *s = open_store("s1");
    struct mf_task *t = task_of(store_task);
    struct mf_err err = {0};
    uint64_t *masks = NULL;
    assert_int_equal(mf_task_store_masks(t, s, &masks, &err), 0);
    uint64_t known = 0;
    for (uint32_t i = 0; i < mf_store_n_codes(s); i++)
        known |= masks[i];
    assert_int_equal(mf_task_check_known(t, known, &err), 0);
    /* MEDS_DEATH counts as known even where nobody died */
    assert_int_equal(mf_task_check_known(t, known & ~M(t, "death"), &err), 0);
    assert_int_not_equal(mf_task_check_known(t, known & ~M(t, "high"), &err), 0);
    assert_non_null(strstr(err.msg, "'high'"));
    free(masks);

    struct mf_task_row *rows = NULL;
    size_t n = 0;
    mf_err_clear(&err);
    assert_int_equal(mf_task_label_store(t, s, NULL, &rows, &n, &err), 0);
    assert_int_equal(n, 3);
    char path[1024];
    snprintf(path, sizeof path, "%s/labels.csv", tmpdir);
    assert_int_equal(mf_task_write_labels(s, rows, n, path, &err), 0);
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(path, 1 << 20, &b, &err), 0);
    assert_string_equal(b.data, "subject_id,prediction_time,boolean_value\n"
                                "\"p,1\",2020-09-13T12:26:40Z,true\n"
                                "\"p,1\",2020-10-03T12:26:40Z,false\n"
                                "\"q\"\"2\",2020-09-13T12:26:40Z,false\n");
    mf_buf_release(&b);
    free(rows);
    /* the same through the evbuf, up to a time */
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(s, "p,1", 3, &tl), 0);
    assert_int_equal(mf_task_store_masks(t, s, &masks, &err), 0);
    struct mf_task_evbuf eb = {0};
    assert_int_equal(mf_task_evbuf_timeline(t, masks, &tl, T0 + DAY, &eb), 0);
    assert_int_equal(eb.n, 3); /* the static fact, the encounter, the lab */
    assert_int_equal(eb.mask[2], M(t, "high"));
    struct mf_task_events ev = mf_task_evbuf_events(&eb);
    int64_t index;
    assert_int_equal(mf_task_label_at(t, &ev, T0, &index), 1);
    mf_task_evbuf_free(&eb);
    free(masks);
    mf_task_free(t);
    mf_store_close(s);
}

static int keep_not_r(void *ctx, const char *subject, size_t n)
{
    (void)ctx;
    return !(n >= 1 && subject[0] == 'r');
}

/* Rows compared field by field (their padding bytes are unspecified). */
static int rows_equal(const struct mf_task_row *a, const struct mf_task_row *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].shard != b[i].shard || a[i].patient != b[i].patient ||
            a[i].trigger != b[i].trigger || a[i].index != b[i].index || a[i].label != b[i].label)
            return 0;
    return 1;
}

static void per_patient_choice(void **state)
{
    (void)state;
    struct ev evs[80];
    size_t n = 0;
    static const char *const subj[] = {"a", "b", "r"};
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < 20; k++)
            evs[n++] = (struct ev){subj[p], T0 + k * DAY, "ENCOUNTER/AMB", NAN};
    write_store("s2", evs, n);
    struct mf_store *s = open_store("s2");
    struct mf_task *t = task_of(store_task);
    struct mf_task_store_opts o = {keep_not_r, NULL, 3, 42};
    struct mf_task_row *r1 = NULL, *r2 = NULL, *r3 = NULL;
    size_t n1, n2, n3;
    struct mf_err err = {0};
    assert_int_equal(mf_task_label_store(t, s, &o, &r1, &n1, &err), 0);
    assert_int_equal(mf_task_label_store(t, s, &o, &r2, &n2, &err), 0);
    assert_int_equal(n1, 6);
    assert_int_equal(n2, 6);
    assert_true(rows_equal(r1, r2, n1));
    for (size_t i = 1; i < n1; i++) /* store order, then trigger order */
        assert_true(r1[i].patient > r1[i - 1].patient ||
                    (r1[i].patient == r1[i - 1].patient && r1[i].trigger > r1[i - 1].trigger));
    o.seed = 43;
    assert_int_equal(mf_task_label_store(t, s, &o, &r3, &n3, &err), 0);
    assert_int_equal(n3, 6);
    assert_false(rows_equal(r1, r3, n1));
    free(r1);
    free(r2);
    free(r3);
    /* k at least the number of samples: all of them */
    o.per_patient = 50;
    o.keep = NULL;
    assert_int_equal(mf_task_label_store(t, s, &o, &r1, &n1, &err), 0);
    assert_int_equal(n1, 60);
    free(r1);
    mf_task_free(t);
    mf_store_close(s);
}

static void unsorted_events_are_an_error(void **state)
{
    (void)state;
    struct mf_task *t = task_of(store_task);
    int64_t tm[] = {T0 + DAY, T0};
    uint64_t mk[] = {M(t, "enc"), M(t, "enc")};
    struct mf_task_events ev = {2, tm, mk};
    struct mf_task_sample *s = NULL;
    size_t n = 0, cap = 0;
    struct mf_err err = {0};
    assert_int_not_equal(mf_task_label(t, &ev, &s, &n, &cap, &err), 0);
    assert_non_null(strstr(err.msg, "sorted"));
    free(s);
    mf_task_free(t);
}

/* Parse errors */

#define HEAD "predicates:\n  a: {code: A}\n  b: {code: B}\ntrigger: a\n"
#define WIN0 "windows:\n  w:\n    start: trigger\n    end: start + 1h\n    index_timestamp: start\n"

static void parse_errors(void **state)
{
    (void)state;
    parse_fails("", "bad.yaml", "no trigger", NULL);
    parse_fails("predicates:\n  a: {code: A}\n", "no trigger", NULL);
    parse_fails(HEAD, "no windows", NULL);
    parse_fails("predicates:\n  a: {code: A\ntrigger: a\n", "bad.yaml:", "malformed YAML", NULL);
    parse_fails("predicates:\n  a: {code: A}\ntrigger: a\nwindows: [\n",
                "bad.yaml:5:1:", "malformed YAML", NULL);
    parse_fails("- a\n- b\n", "expected a mapping", NULL);
    parse_fails(HEAD WIN0 "---\nfoo: 1\n", "more than one YAML document", NULL);
    /* unknown keys, with their path */
    parse_fails(HEAD WIN0 "extra: 1\n", "bad.yaml:10: (top level): unknown key 'extra'", NULL);
    parse_fails("predicates:\n  a: {code: A, valu_min: 3}\ntrigger: a\n" WIN0,
                "bad.yaml:2: predicates.a: unknown key 'valu_min'", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    ends: start + 1h\n",
                "bad.yaml:8: windows.w: unknown key 'ends'", NULL);
    parse_fails("predicates:\n  a: {code: {regex: A, anyy: [B]}}\ntrigger: a\n" WIN0,
                "predicates.a.code: unknown key 'anyy'", NULL);
    parse_fails(HEAD "trigger: b\n" WIN0, "key 'trigger' given twice", NULL);
    /* predicates */
    parse_fails(HEAD "  a: {code: C}\n" WIN0, NULL); /* a YAML key twice in one mapping */
    parse_fails("predicates:\n  a: {code: A}\npatient_demographics:\n  a: {code: B}\n"
                "trigger: a\n" WIN0,
                "patient_demographics.a", "defined twice", NULL);
    parse_fails("predicates:\n  a: ???\ntrigger: a\n" WIN0, "bad.yaml:2: predicates.a",
                "placeholder", "undefined", NULL);
    parse_fails("predicates:\n  a:\n    code: ???\ntrigger: a\n" WIN0, "predicates.a.code",
                "placeholder", NULL);
    parse_fails("predicates:\n  a: {code: {any: []}}\ntrigger: a\n" WIN0, "predicates.a.code.any",
                "empty", NULL);
    parse_fails("predicates:\n  a: {code: {regex: \"(\"}}\ntrigger: a\n" WIN0,
                "predicates.a.code.regex", "bad regular expression", NULL);
    parse_fails("predicates:\n  a: {code: {regex: \"a{1000}{1000}\"}}\ntrigger: a\n" WIN0,
                "predicates.a.code.regex", "too large", NULL);
    parse_fails("predicates:\n  a: {code: {regex: \"^E+*X\"}}\ntrigger: a\n" WIN0,
                "predicates.a.code.regex", "nested too deeply", NULL);
    parse_fails("predicates:\n  a: {code: {regex: \"((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)\"}}\n"
                "trigger: a\n" WIN0,
                "predicates.a.code.regex", "nested too deeply", NULL);
    parse_fails("predicates:\n  a: {code: {regex: A, any: [B]}}\ntrigger: a\n" WIN0,
                "exactly one of regex and any", NULL);
    parse_fails("predicates:\n  a: {value_min: 3}\ntrigger: a\n" WIN0, "needs code", NULL);
    parse_fails("predicates:\n  a: {code: A, value_min: high}\ntrigger: a\n" WIN0,
                "predicates.a.value_min", "expected a number", NULL);
    parse_fails("predicates:\n  a: {code: A, value_min: 5, value_max: 4}\ntrigger: a\n" WIN0,
                "predicates.a", "never be true", NULL);
    parse_fails("predicates:\n  a: {code: A, value_min: 5, value_max: 5}\ntrigger: a\n" WIN0,
                "never be true", NULL);
    parse_fails("predicates:\n  a: {code: A, value_min_inclusive: yes}\ntrigger: a\n" WIN0,
                "predicates.a.value_min_inclusive", "true or false", NULL);
    parse_fails("predicates:\n  a: {code: A}\n  c: {expr: \"and(a)\"}\ntrigger: c\n" WIN0,
                "predicates.c.expr", "at least two", NULL);
    parse_fails("predicates:\n  a: {code: A}\n  c: {expr: \"xor(a, a)\"}\ntrigger: c\n" WIN0,
                "predicates.c.expr", NULL);
    parse_fails("predicates:\n  a: {code: A}\n  c: {expr: \"or(a, and(a, a))\"}\ntrigger: c\n" WIN0,
                "cannot be nested", NULL);
    parse_fails("predicates:\n  a: {code: A}\n  c: {expr: \"or(a, zz)\"}\ntrigger: c\n" WIN0,
                "predicates.c.expr", "unknown predicate 'zz'", NULL);
    parse_fails("predicates:\n  a: {code: A}\n  c: {expr: \"or(a, d)\"}\n"
                "  d: {expr: \"and(a, c)\"}\ntrigger: a\n" WIN0,
                "cycle", NULL);
    parse_fails("predicates:\n  a: {code: A, expr: \"or(a, a)\"}\ntrigger: a\n" WIN0,
                "cannot also have 'code'", NULL);
    parse_fails("predicates:\n  _ANY_EVENT: {code: A}\ntrigger: _ANY_EVENT\n" WIN0, "reserved",
                NULL);
    parse_fails("predicates:\n  a b: {code: A}\ntrigger: a\n" WIN0, "not letters", NULL);
    parse_fails(HEAD "patient_demographics:\n  f: {expr: \"or(a, b)\"}\n" WIN0, "must be plain",
                NULL);
    /* references */
    parse_fails("predicates:\n  a: {code: A}\ntrigger: zz\n" WIN0, "bad.yaml:3: trigger",
                "unknown predicate 'zz'", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start + 1h\n"
                     "    index_timestamp: start\n    has: {zz: \"(1, None)\"}\n",
                "windows.w.has.zz", "unknown predicate 'zz'", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start -> zz\n"
                     "    index_timestamp: start\n",
                "bad.yaml:8: windows.w.end", "unknown predicate 'zz'", NULL);
    parse_fails(HEAD WIN0 "    label: zz\n", "windows.w.label", "unknown predicate", NULL);
    parse_fails(HEAD "patient_demographics:\n  f: {code: F}\n"
                     "windows:\n  w:\n    start: trigger\n    end: start + 1h\n"
                     "    index_timestamp: start\n    label: f\n",
                "windows.w.label", "patient_demographics", NULL);
    parse_fails(HEAD WIN0 "  target:\n    start: gapp.end\n    end: start + 1h\n",
                "bad.yaml:11: windows.target.start: unknown window 'gapp'", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: y.end\n    end: start + 1h\n"
                          "  y:\n    start: x.end\n    end: start + 1h\n",
                "cycle", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: end - 1h\n    end: start + 1h\n", "windows.x",
                "refer to each other", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: trigger.foo\n    end: start + 1h\n", "windows.x.start",
                NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: trigger\n    end: start\n    label: a\n"
                          "    start_inclusive: false\n    has: {a: \"(1, None)\"}\n",
                "windows.x", "always empty", NULL);
    /* windows that can never be satisfied */
    parse_fails(HEAD WIN0 "  x:\n    start: w.end\n    end: start - 1d\n", "windows.x.end",
                "never be satisfied", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: end + 1d\n    end: w.end\n", "windows.x.start",
                "never be satisfied", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: end -> a\n    end: w.end\n", "windows.x.start",
                "never be satisfied", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: w.end\n    end: start <- a\n", "windows.x.end",
                "never be satisfied", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: trigger + 2d\n    end: trigger + 1d\n", "windows.x",
                "never be satisfied", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: w.start\n    end: w.start - 1h\n", "windows.x",
                "never be satisfied", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: trigger\n    end: start + 1h\n"
                          "    has: {a: \"(3, 2)\"}\n",
                "windows.x.has.a", "never be satisfied", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: trigger\n    end: start + 1h\n"
                          "    has: {a: \"(-1, 2)\"}\n",
                "windows.x.has.a", "count range", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: trigger\n    end: start + 1h\n    has: {a: (1)}\n",
                "count range", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: null\n    end: null\n", "windows.x", "unbounded", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: null\n    end: start + 1h\n", "windows.x.end",
                "unbounded", NULL);
    /* durations */
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start + 24 parsecs\n",
                "bad.yaml:8: windows.w.end", "bad duration", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start + 1.5 days\n",
                "bad duration", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start + \n", "bad duration",
                NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start + 99999999999d\n",
                "bad duration", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start + 1d - 1h\n",
                "both '+' and '-'", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start -> a <- b\n",
                "both '->' and '<-'", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: start\n    end: trigger\n", "itself", NULL);
    /* index and label */
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start + 1h\n",
                "no window has index_timestamp", NULL);
    parse_fails(HEAD WIN0 "  x:\n    start: trigger\n    end: start + 1h\n"
                          "    index_timestamp: end\n",
                "windows.x.index_timestamp", "only one window", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: trigger\n    end: start + 1h\n"
                     "    index_timestamp: middle\n",
                "windows.w.index_timestamp", "start or end", NULL);
    parse_fails(HEAD "windows:\n  w:\n    start: null\n    end: trigger\n"
                     "    index_timestamp: start\n",
                "windows.w.index_timestamp", "unbounded", NULL);
    parse_fails(HEAD WIN0 "    label: a\n  x:\n    start: trigger\n    end: start + 1h\n"
                          "    label: b\n",
                "windows.x.label", "only one window", NULL);
    /* 64 plain predicates in use are fine, 65 are not */
    for (int k = 64; k <= 65; k++) {
        struct mf_buf b = MF_BUF_INIT;
        mf_buf_puts(&b, "predicates:\n");
        for (int i = 0; i < k; i++)
            mf_buf_printf(&b, "  p%d: {code: C%d}\n", i, i);
        mf_buf_puts(&b, "  unused: {code: U}\ntrigger: p0\n"
                        "windows:\n  w:\n    start: trigger\n    end: start + 1h\n"
                        "    index_timestamp: start\n    has:\n");
        for (int i = 0; i < k; i++)
            mf_buf_printf(&b, "      p%d: (None, None)\n", i);
        if (k == 64) {
            struct mf_task *t = task_of(b.data);
            assert_int_equal(mf_task_n_plain(t), 64); /* `unused` takes no bit */
            mf_task_free(t);
        } else {
            parse_fails(b.data, "more than 64 plain predicates", NULL);
        }
        mf_buf_release(&b);
    }
}

static void names_and_files(void **state)
{
    (void)state;
    struct mf_task *t = NULL;
    struct mf_err err = {0};
    const char *y = HEAD WIN0;
    assert_int_equal(mf_task_parse(y, strlen(y), "some/dir/death_1y.yaml", &t, &err), 0);
    assert_string_equal(mf_task_name(t), "death_1y");
    mf_task_free(t);
    assert_int_equal(mf_task_parse(y, strlen(y), "x.yml", &t, &err), 0);
    assert_string_equal(mf_task_name(t), "x");
    mf_task_free(t);
    char path[1024];
    snprintf(path, sizeof path, "%s/missing.yaml", tmpdir);
    assert_int_not_equal(mf_task_load(path, &t, &err), 0);
    assert_null(t);
    assert_non_null(strstr(err.msg, "missing.yaml"));
}

/* Every YAML file of a folder: those named in `fails` must fail with the given text, the
 * others must parse.  Returns how many files were read. */
static int parse_folder(const char *dir, const char *const (*fails)[2], size_t n_fails)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct mf_task *t = NULL;
        struct mf_err err = {0};
        int rc = mf_task_load(path, &t, &err);
        const char *want = NULL;
        for (size_t k = 0; k < n_fails; k++)
            if (strcmp(fails[k][0], e->d_name) == 0)
                want = fails[k][1];
        if (want) {
            if (rc == 0 || strstr(err.msg, want) == NULL)
                fail_msg("%s: expected an error with '%s', got '%s'", path, want,
                         rc ? err.msg : "success");
        } else if (rc != 0) {
            fail_msg("%s: %s", path, err.msg);
        } else {
            assert_true(mf_task_n_plain(t) > 0 || t != NULL);
        }
        mf_task_free(t);
        n++;
    }
    closedir(d);
    return n;
}

static void aces_examples_parse(void **state)
{
    (void)state;
    const char *shared = getenv("MEDFM_SHARED_DATA");
    char dir[1024];
    if (shared == NULL || !*shared) {
        print_message("MEDFM_SHARED_DATA unset: skipping the ACES examples\n");
        return;
    }
    snprintf(dir, sizeof dir, "%s/interop/aces-configs", shared);
    if (!mf_fs_is_dir(dir)) {
        print_message("no %s: skipping the ACES examples\n", dir);
        return;
    }
    assert_int_equal(parse_folder(dir, NULL, 0), 6);
    static const char *const meds_dev[][2] = {
        {"abnormal_lab-cbc-anemia-first_24h.yaml", "placeholder"},
        {"mortality-in_icu-first_24h.yaml", "placeholder"},
        {"readmission-general_hospital-30d.yaml", "placeholder"},
        {"datasets-MIMIC-IV-predicates.yaml", "no trigger"},
    };
    snprintf(dir, sizeof dir, "%s/interop/meds-dev-tasks", shared);
    if (mf_fs_is_dir(dir))
        assert_int_equal(parse_folder(dir, meds_dev, 4), 4);
    /* the in-hospital mortality example: horizon -1 (the target ends at an event) */
    snprintf(dir, sizeof dir, "%s/interop/aces-configs/inhospital_mortality.yaml", shared);
    struct mf_task *t = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_task_load(dir, &t, &err), 0);
    assert_int_equal(mf_task_horizon(t), -1);
    assert_int_equal(mf_task_n_plain(t), 4); /* admission, discharge, death, male */
    mf_task_free(t);
}

static void shipped_tasks_parse(void **state)
{
    (void)state;
    const char *src = getenv("MEDFM_SOURCE_DIR");
    if (src == NULL || !*src) {
        print_message("MEDFM_SOURCE_DIR unset: skipping the shipped tasks\n");
        return;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tasks", src);
    assert_true(parse_folder(dir, NULL, 0) >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_offsets_and_edges),
        cmocka_unit_test(has_constraints),
        cmocka_unit_test(event_bounds),
        cmocka_unit_test(derived_predicates),
        cmocka_unit_test(value_ranges),
        cmocka_unit_test(demographics_and_special_predicates),
        cmocka_unit_test(both_bounds_outside),
        cmocka_unit_test(label_at_on_an_appended_future),
        cmocka_unit_test(horizons),
        cmocka_unit_test(labels_of_a_store),
        cmocka_unit_test(per_patient_choice),
        cmocka_unit_test(unsorted_events_are_an_error),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(names_and_files),
        cmocka_unit_test(aces_examples_parse),
        cmocka_unit_test(shipped_tasks_parse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
