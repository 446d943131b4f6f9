/* test_store.c - unit tests for the event store: write, spill and merge, read back, order,
 * determinism, rollback, atomic replacement, damage detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fs.h"
#include "store/store.h"
#include "store/writer_int.h"

#include "testutil.h"

/* A deterministic set of events: patient p has p % 7 + 1 events plus a static one. */
#define NPAT 300

static int make_event(int i, char *subj, char *code, struct mf_event *e)
{
    int p = i / 16, k = i % 16;
    if (k > p % 7 + 1)
        return 0;
    snprintf(subj, 32, "patient-%03d", p);
    if (k == 0) {
        snprintf(code, 32, "GENDER/%s", p % 2 ? "F" : "M");
        *e = mf_event_make(subj, MF_TIME_NONE, code, NAN, NULL, NULL);
    } else {
        snprintf(code, 32, "LOINC/%d-%d", 1000 + (p * 31 + k) % 40, k % 10);
        *e = mf_event_make(subj, (int64_t)(p % 5) * MF_USEC_PER_DAY + (16 - k) * 1000, code,
                           k % 3 ? (double)k * 1.5 : NAN, k % 3 ? "mg/dL" : NULL,
                           k % 4 == 0 ? "note text" : NULL);
    }
    return 1;
}

/* Write the events into dst with n batches, in an order given by stride, with a memory limit
 * that forces spills when small. */
/* How write_store lays the events out: batches, the order they come in (a stride through the
 * events), memory limit, shard size, merge fan-in, and a forced spill every spill_every events
 * (0: only when a batch is full). */
struct layout {
    int batches, stride;
    size_t mem;
    uint64_t shard;
    size_t fanin;
    int spill_every;
};

/* Write the test events into dst as laid out; returns the number of forced spills. */
static int write_store(const char *dst, struct layout l)
{
    struct mf_store_writer *w;
    struct mf_err err = {0};
    struct mf_store_writer_opts o = {l.mem, l.shard, l.fanin};
    assert_int_equal(mf_store_writer_open(&w, dst, l.batches, &o, &err), 0);
    int total = NPAT * 16, spills = 0;
    for (int j = 0; j < total; j++) {
        int i = (int)(((long)j * l.stride) % total);
        char subj[32], code[32];
        struct mf_event e;
        if (!make_event(i, subj, code, &e))
            continue;
        struct mf_store_batch *b = mf_store_writer_batch(w, i % l.batches);
        assert_int_equal(mf_store_batch_add(b, &e), 0);
        if (l.spill_every && j % l.spill_every == 0) {
            assert_int_equal(mf_store_batch_spill_all(b, &err), 0);
            spills++;
        } else {
            assert_int_equal(mf_store_batch_maybe_spill(b, &err), 0);
        }
    }
    assert_int_equal(mf_store_writer_commit(w, &err), 0);
    mf_store_writer_free(w);
    return spills;
}

static const struct layout plain = {1, 1, 0, 0, 0, 0};

static void store_round_trip(void **state)
{
    (void)state;
    char dst[512];
    snprintf(dst, sizeof dst, "%s/a", tmpdir);
    write_store(dst, plain);
    struct mf_store *s;
    struct mf_err err = {0};
    assert_int_equal(mf_store_open(dst, &s, &err), 0);
    assert_int_equal(mf_store_n_patients(s), NPAT);
    uint64_t expect = 0;
    for (int p = 0; p < NPAT; p++)
        expect += (uint64_t)(p % 7 + 2);
    assert_int_equal(mf_store_n_events(s), expect);
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(s, "patient-010", 11, &tl), 0);
    assert_int_equal(tl.n, 10 % 7 + 2);
    /* static first, then increasing time */
    assert_int_equal(tl.time[0], MF_TIME_NONE);
    struct mf_str c = mf_store_code(s, tl.code[0]);
    assert_memory_equal(c.p, "GENDER/M", c.n);
    for (size_t i = 1; i + 1 < tl.n; i++)
        assert_true(tl.time[i] <= tl.time[i + 1]);
    /* a value, its unit, and text */
    int saw_value = 0, saw_text = 0;
    for (size_t i = 1; i < tl.n; i++) {
        if (!isnan(tl.value[i])) {
            struct mf_str u = mf_store_unit(s, tl.unit[i]);
            assert_int_equal(u.n, 5);
            assert_memory_equal(u.p, "mg/dL", 5);
            saw_value = 1;
        } else {
            assert_int_equal(tl.unit[i], 0);
        }
        struct mf_str t = mf_timeline_text(&tl, i);
        if (t.p) {
            assert_memory_equal(t.p, "note text", 9);
            saw_text = 1;
        }
    }
    assert_true(saw_value && saw_text);
    assert_int_equal(mf_store_find(s, "patient-999", 11, &tl), MF_ENOTFOUND);
    assert_int_equal(mf_store_verify(s, &err), 0);
    /* the code dictionary is sorted and counted */
    uint64_t sum = 0;
    for (uint32_t i = 0; i < mf_store_n_codes(s); i++) {
        sum += mf_store_code_count(s, i);
        if (i) {
            struct mf_str a = mf_store_code(s, i - 1), b = mf_store_code(s, i);
            int cmp = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);
            assert_true(cmp < 0 || (cmp == 0 && a.n < b.n));
        }
        struct mf_str cc = mf_store_code(s, i);
        assert_int_equal(mf_store_code_id(s, cc.p, cc.n), i);
    }
    assert_int_equal(sum, expect);
    const cJSON *m = mf_store_manifest(s);
    assert_int_equal(cJSON_GetObjectItem(m, "patients")->valuedouble, NPAT);
    mf_store_close(s);
}

static int files_equal(const char *a, const char *b)
{
    struct mf_buf x = MF_BUF_INIT, y = MF_BUF_INIT;
    int eq = mf_fs_read_file(a, 1 << 30, &x, NULL) == 0 &&
             mf_fs_read_file(b, 1 << 30, &y, NULL) == 0 && x.len == y.len &&
             (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
    mf_buf_release(&x);
    mf_buf_release(&y);
    return eq;
}

static void store_is_deterministic(void **state)
{
    (void)state;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/det-a", tmpdir);
    snprintf(b, sizeof b, "%s/det-b", tmpdir);
    write_store(a, (struct layout){1, 1, 0, 500, 0, 0});
    /* other batch count, another order, spills every MiB of records per batch */
    write_store(b, (struct layout){3, 7919, 1, 500, 0, 0});
    struct mf_strlist fa = {0}, fb = {0};
    assert_int_equal(mf_fs_list(a, NULL, &fa, NULL), 0);
    assert_int_equal(mf_fs_list(b, NULL, &fb, NULL), 0);
    assert_int_equal(fa.n, fb.n);
    assert_true(fa.n > 10); /* several shards */
    for (size_t i = 0; i < fa.n; i++)
        assert_true(files_equal(fa.items[i], fb.items[i]));
    mf_strlist_free(&fa);
    mf_strlist_free(&fb);
    struct mf_store *s;
    assert_int_equal(mf_store_open(a, &s, NULL), 0);
    assert_true(mf_store_n_shards(s) > 1);
    /* every patient can be found whichever shard holds it */
    char id[32];
    for (int p = 0; p < NPAT; p++) {
        struct mf_timeline tl;
        snprintf(id, sizeof id, "patient-%03d", p);
        assert_int_equal(mf_store_find(s, id, strlen(id), &tl), 0);
        assert_int_equal(tl.n, p % 7 + 2);
    }
    mf_store_close(s);
}

static void store_spills_with_small_memory(void **state)
{
    (void)state;
    char dst[512];
    snprintf(dst, sizeof dst, "%s/spill", tmpdir);
    struct mf_store_writer *w;
    struct mf_err err = {0};
    struct mf_store_writer_opts o = {1, 0, 0}; /* 1 MiB floor per batch */
    assert_int_equal(mf_store_writer_open(&w, dst, 1, &o, &err), 0);
    struct mf_store_batch *b = mf_store_writer_batch(w, 0);
    char subj[32], code[32];
    for (int i = 0; i < 60000; i++) {
        snprintf(subj, sizeof subj, "s%05d", (i * 7) % 1000);
        snprintf(code, sizeof code, "C/%d", i % 97);
        struct mf_event e = mf_event_make(subj, i, code, i, NULL, NULL);
        assert_int_equal(mf_store_batch_add(b, &e), 0);
        assert_int_equal(mf_store_batch_maybe_spill(b, &err), 0);
    }
    char runs[600];
    snprintf(runs, sizeof runs, "%s.tmp-%ld/runs/b0-r1.run", dst, (long)getpid());
    assert_true(mf_fs_exists(runs)); /* at least two runs were spilled */
    assert_int_equal(mf_store_writer_commit(w, &err), 0);
    mf_store_writer_free(w);
    struct mf_store *s;
    assert_int_equal(mf_store_open(dst, &s, &err), 0);
    assert_int_equal(mf_store_n_events(s), 60000);
    assert_int_equal(mf_store_n_patients(s), 1000);
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(s, "s00007", 6, &tl), 0);
    assert_int_equal(tl.n, 60);
    for (size_t i = 0; i + 1 < tl.n; i++)
        assert_true(tl.time[i] < tl.time[i + 1]);
    mf_store_close(s);
}

static void store_merges_in_passes_when_many_runs(void **state)
{
    (void)state;
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/fan-a", tmpdir);
    snprintf(b, sizeof b, "%s/fan-b", tmpdir);
    write_store(a, plain);
    /* 3 batches spilling often, merged two runs at a time: several passes */
    assert_true(write_store(b, (struct layout){3, 7919, 3, 0, 2, 97}) > 8);
    const char *files[] = {"manifest.json", "codes.bin", "shard-00000/time.i64",
                           "shard-00000/code.u32", "shard-00000/text.bin"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char pa[600], pb[600];
        snprintf(pa, sizeof pa, "%s/%s", a, files[k]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[k]);
        assert_true(files_equal(pa, pb));
    }
}

static void store_rollback_forgets_events(void **state)
{
    (void)state;
    char dst[512];
    snprintf(dst, sizeof dst, "%s/rb", tmpdir);
    struct mf_store_writer *w;
    struct mf_err err = {0};
    assert_int_equal(mf_store_writer_open(&w, dst, 1, NULL, &err), 0);
    struct mf_store_batch *b = mf_store_writer_batch(w, 0);
    struct mf_event keep = mf_event_make("p1", 1, "A/1", NAN, NULL, NULL);
    struct mf_event drop = mf_event_make("p2", 2, "B/2", NAN, NULL, NULL);
    assert_int_equal(mf_store_batch_add(b, &keep), 0);
    size_t mark = mf_store_batch_mark(b);
    assert_int_equal(mf_store_batch_add(b, &drop), 0);
    assert_int_equal(mf_store_batch_add(b, &drop), 0);
    mf_store_batch_rollback(b, mark);
    /* bad events are refused */
    struct mf_event nosubj = mf_event_make("", 1, "A/1", NAN, NULL, NULL);
    assert_int_equal(mf_store_batch_add(b, &nosubj), MF_EINVAL);
    assert_int_equal(mf_store_writer_commit(w, &err), 0);
    mf_store_writer_free(w);
    struct mf_store *s;
    assert_int_equal(mf_store_open(dst, &s, &err), 0);
    assert_int_equal(mf_store_n_events(s), 1);
    assert_int_equal(mf_store_n_codes(s), 1); /* B/2 never reached the dictionary */
    mf_store_close(s);
}

static void store_replaces_atomically_and_aborts_cleanly(void **state)
{
    (void)state;
    char dst[512];
    snprintf(dst, sizeof dst, "%s/rep", tmpdir);
    write_store(dst, plain);
    /* an aborted writer leaves the old store as it was */
    struct mf_store_writer *w;
    struct mf_err err = {0};
    assert_int_equal(mf_store_writer_open(&w, dst, 2, NULL, &err), 0);
    struct mf_event e = mf_event_make("x", 1, "A/1", NAN, NULL, NULL);
    assert_int_equal(mf_store_batch_add(mf_store_writer_batch(w, 1), &e), 0);
    mf_store_writer_free(w);
    struct mf_store *s;
    assert_int_equal(mf_store_open(dst, &s, &err), 0);
    assert_int_equal(mf_store_n_patients(s), NPAT);
    mf_store_close(s);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dst, (long)getpid());
    assert_false(mf_fs_exists(tmp));
    /* a committed one replaces it whole */
    assert_int_equal(mf_store_writer_open(&w, dst, 2, NULL, &err), 0);
    assert_int_equal(mf_store_batch_add(mf_store_writer_batch(w, 1), &e), 0);
    assert_int_equal(mf_store_writer_commit(w, &err), 0);
    mf_store_writer_free(w);
    assert_int_equal(mf_store_open(dst, &s, &err), 0);
    assert_int_equal(mf_store_n_patients(s), 1);
    mf_store_close(s);
    assert_false(mf_fs_exists(tmp));
}

static void store_detects_damage(void **state)
{
    (void)state;
    char dst[512], p[600];
    snprintf(dst, sizeof dst, "%s/dmg", tmpdir);
    write_store(dst, plain);
    struct mf_store *s;
    struct mf_err err = {0};
    /* a changed byte: opens (sizes fine) but fails verification */
    snprintf(p, sizeof p, "%s/shard-00000/value.f64", dst);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, 8, SEEK_SET);
    fputc(0x7f, f);
    fclose(f);
    assert_int_equal(mf_store_open(dst, &s, &err), 0);
    assert_int_equal(mf_store_verify(s, &err), MF_EPARSE);
    assert_non_null(strstr(err.msg, "value.f64"));
    mf_store_close(s);
    /* a truncated column fails at open */
    snprintf(p, sizeof p, "%s/shard-00000/time.i64", dst);
    assert_int_equal(truncate(p, 16), 0);
    mf_err_clear(&err);
    assert_int_equal(mf_store_open(dst, &s, &err), MF_EPARSE);
    assert_non_null(strstr(err.msg, "damaged"));
    /* not a store at all */
    mf_err_clear(&err);
    assert_int_equal(mf_store_open(tmpdir, &s, &err), MF_ENOTFOUND);
}

/* A store made in memory from a batch holds exactly what the same events written to disk
 * hold, whatever order they came in. */
static void store_in_memory_equals_on_disk(void **state)
{
    (void)state;
    char dst[512];
    snprintf(dst, sizeof dst, "%s/mem-ref", tmpdir);
    write_store(dst, plain);
    struct mf_store *disk, *mem;
    struct mf_err err = {0};
    assert_int_equal(mf_store_open(dst, &disk, &err), 0);
    struct mf_store_batch *b = mf_store_batch_new();
    assert_non_null(b);
    int total = NPAT * 16;
    for (int j = 0; j < total; j++) {
        int i = (int)(((long)j * 7919) % total);
        char subj[32], code[32];
        struct mf_event e;
        if (make_event(i, subj, code, &e))
            assert_int_equal(mf_store_batch_add(b, &e), 0);
    }
    assert_int_equal(mf_store_batch_maybe_spill(b, &err), 0); /* never spills */
    assert_int_equal(mf_store_from_batch(b, &mem, &err), 0);
    mf_store_batch_free(b);
    assert_int_equal(mf_store_n_patients(mem), mf_store_n_patients(disk));
    assert_int_equal(mf_store_n_events(mem), mf_store_n_events(disk));
    assert_int_equal(mf_store_n_codes(mem), mf_store_n_codes(disk));
    for (uint32_t i = 0; i < mf_store_n_codes(mem); i++) {
        struct mf_str a = mf_store_code(mem, i), c = mf_store_code(disk, i);
        assert_int_equal(a.n, c.n);
        assert_memory_equal(a.p, c.p, a.n);
        assert_int_equal(mf_store_code_count(mem, i), mf_store_code_count(disk, i));
    }
    uint64_t k = 0;
    for (size_t sh = 0; sh < mf_store_n_shards(disk); sh++)
        for (uint64_t i = 0; i < mf_store_shard_patients(disk, sh); i++, k++) {
            struct mf_timeline x, y;
            assert_int_equal(mf_store_shard_timeline(disk, sh, i, &x), 0);
            assert_int_equal(mf_store_shard_timeline(mem, 0, k, &y), 0);
            assert_int_equal(x.subject.n, y.subject.n);
            assert_memory_equal(x.subject.p, y.subject.p, x.subject.n);
            assert_int_equal(x.n, y.n);
            for (size_t e = 0; e < x.n; e++) {
                assert_int_equal(x.time[e], y.time[e]);
                assert_int_equal(x.code[e], y.code[e]);
                assert_true((isnan(x.value[e]) && isnan(y.value[e])) || x.value[e] == y.value[e]);
                struct mf_str ux = mf_store_unit(disk, x.unit[e]),
                              uy = mf_store_unit(mem, y.unit[e]);
                assert_int_equal(ux.n, uy.n);
                if (ux.n)
                    assert_memory_equal(ux.p, uy.p, ux.n);
                struct mf_str tx = mf_timeline_text(&x, e), ty = mf_timeline_text(&y, e);
                assert_int_equal(tx.n, ty.n);
                if (tx.n)
                    assert_memory_equal(tx.p, ty.p, tx.n);
            }
        }
    struct mf_timeline tl;
    assert_int_equal(mf_store_find(mem, "patient-010", 11, &tl), 0);
    assert_int_equal(tl.n, 10 % 7 + 2);
    /* no files behind it: verification refuses it */
    mf_err_clear(&err);
    assert_int_not_equal(mf_store_verify(mem, &err), 0);
    mf_store_close(mem);
    mf_store_close(disk);
    /* an empty batch gives an empty store */
    b = mf_store_batch_new();
    assert_int_equal(mf_store_from_batch(b, &mem, &err), 0);
    assert_int_equal(mf_store_n_patients(mem), 0);
    assert_int_equal(mf_store_n_events(mem), 0);
    assert_int_equal(mf_store_find(mem, "x", 1, &tl), MF_ENOTFOUND);
    mf_store_close(mem);
    mf_store_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_round_trip),
        cmocka_unit_test(store_is_deterministic),
        cmocka_unit_test(store_spills_with_small_memory),
        cmocka_unit_test(store_merges_in_passes_when_many_runs),
        cmocka_unit_test(store_rollback_forgets_events),
        cmocka_unit_test(store_replaces_atomically_and_aborts_cleanly),
        cmocka_unit_test(store_detects_damage),
        cmocka_unit_test(store_in_memory_equals_on_disk),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
