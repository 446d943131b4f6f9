/* test_train.c - unit tests for src/train: training windows (prefix, counted targets, padding,
 * patients drawn in proportion to their length), a short training run and its model dir, the
 * errors, and the single-process data-parallel layer. */
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
#include "store/store.h"
#include "train/dist.h"
#include "train/train.h"

#include "testutil.h"

#define DAY (INT64_C(86400) * 1000000)

/* n_pat patients "tp-K"; patient K has 5 + 7 K events of code "A/k<K mod 3>" a day apart */
static void write_store(const char *name, int n_pat)
{
    char dst[512];
    snprintf(dst, sizeof dst, "%s/%s", tmpdir, name);
    struct mf_store_writer *w;
    struct mf_err err = {0};
    assert_int_equal(mf_store_writer_open(&w, dst, 1, NULL, &err), 0);
    struct mf_store_batch *b = mf_store_writer_batch(w, 0);
    for (int p = 0; p < n_pat; p++) {
        char id[32], code[32];
        snprintf(id, sizeof id, "tp-%d", p);
        snprintf(code, sizeof code, "A/k%d", p % 3);
        struct mf_event e =
            mf_event_make(id, INT64_MIN, p % 2 ? "GENDER/F" : "GENDER/M", NAN, NULL, NULL);
        assert_int_equal(mf_store_batch_add(b, &e), 0);
        e = mf_event_make(id, 0, "MEDS_BIRTH", NAN, NULL, NULL);
        assert_int_equal(mf_store_batch_add(b, &e), 0);
        for (int k = 0; k < 5 + 7 * p; k++) {
            e = mf_event_make(id, (int64_t)(k + 1) * 300 * DAY, code, k % 4 ? NAN : k, NULL, NULL);
            assert_int_equal(mf_store_batch_add(b, &e), 0);
        }
    }
    assert_int_equal(mf_store_writer_commit(w, &err), 0);
    mf_store_writer_free(w);
}

static struct mf_store *open_store(const char *name)
{
    char dst[512];
    snprintf(dst, sizeof dst, "%s/%s", tmpdir, name);
    struct mf_store *s;
    struct mf_err err = {0};
    assert_int_equal(mf_store_open(dst, &s, &err), 0);
    return s;
}

static void windows_count_the_right_targets(void **state)
{
    (void)state;
    write_store("w", 40);
    struct mf_store *s = open_store("w");
    struct mf_tok_opts to = MF_TOK_OPTS_DEFAULT;
    to.min_count = 1;
    struct mf_vocab *v = NULL;
    struct mf_err err = {0};
    assert_int_equal(mf_vocab_fit(s, &to, &v, &err), 0);
    struct mf_corpus c;
    assert_int_equal(mf_corpus_build(v, s, MF_SPLIT_TRAIN, &c, &err), 0);
    /* every training-split patient, none of the others */
    size_t want = 0;
    for (int p = 0; p < 40; p++) {
        char id[32];
        snprintf(id, sizeof id, "tp-%d", p);
        want += mf_vocab_split(v, id, strlen(id)) == MF_SPLIT_TRAIN;
    }
    assert_int_equal(c.n_pat, want);
    assert_true(want > 20);

    enum { T = 48 };
    uint32_t tok[T], tgt[T], tok2[T], tgt2[T];
    size_t np = mf_vocab_prefix_max(v);
    int starts = 0, padded = 0, mid = 0;
    for (uint64_t r = 0; r < 2000; r++) {
        int n = mf_corpus_window(v, &c, r * 7919, T, tok, tgt);
        int counted = 0, first_counted = -1, last_real = -1;
        for (int i = 0; i < T; i++) {
            if (tgt[i] != MF_NN_IGNORE) {
                counted++;
                if (first_counted < 0)
                    first_counted = i;
                assert_int_equal(tgt[i], tok[i + 1]); /* the next token */
                last_real = i + 1;
            }
        }
        assert_int_equal(n, counted);
        for (size_t i = 0; i < np; i++)
            assert_int_equal(mf_vocab_kind(v, tok[i]), MF_TOK_PREFIX);
        assert_true(first_counted == (int)np - 1 || first_counted == (int)np);
        starts += first_counted == (int)np - 1; /* the run starts the timeline */
        mid += first_counted == (int)np;
        /* after the run: padding, never counted */
        for (int i = last_real + 1; i < T; i++) {
            assert_int_equal(tok[i], MF_TOK_TIMELINE_END);
            assert_int_equal(tgt[i], MF_NN_IGNORE);
            padded++;
        }
        /* the same number, the same window */
        assert_int_equal(mf_corpus_window(v, &c, r * 7919, T, tok2, tgt2), n);
        assert_memory_equal(tok, tok2, sizeof tok);
        assert_memory_equal(tgt, tgt2, sizeof tgt);
    }
    assert_true(starts > 0 && mid > 0 && padded > 0);

    /* patients in proportion to their length: the share of windows of code k0's patients */
    int64_t k0 = mf_vocab_id(v, "A/k0", 4);
    assert_true(k0 >= 0);
    uint64_t tok_k0 = 0;
    for (size_t p = 0; p < c.n_pat; p++)
        for (uint64_t i = c.off[p]; i < c.off[p + 1]; i++)
            if (c.tok[i] == (uint32_t)k0) {
                tok_k0 += c.off[p + 1] - c.off[p];
                break;
            }
    double expect = (double)tok_k0 / (double)c.n, hits = 0;
    const int N = 6000;
    for (int r = 0; r < N; r++) {
        mf_corpus_window(v, &c, 0x9e37ull * (uint64_t)r + 11, T, tok, tgt);
        for (int i = 0; i < T; i++)
            if (tok[i] == (uint32_t)k0) {
                hits++;
                break;
            }
    }
    assert_true(fabs(hits / N - expect) < 0.03);
    mf_corpus_free(&c);
    mf_vocab_free(v);
    mf_store_close(s);
}

static void a_short_run_learns_and_writes_the_model_dir(void **state)
{
    (void)state;
    write_store("r", 40);
    char store[512], out[512], p[600];
    snprintf(store, sizeof store, "%s/r", tmpdir);
    snprintf(out, sizeof out, "%s/model", tmpdir);
    struct mf_train_opts o;
    mf_train_opts_default(&o);
    assert_int_equal(mf_model_preset("tiny", &o.model), 0);
    o.model.context = 32;
    o.tok.min_count = 1;
    o.store = store;
    o.out = out;
    o.steps = 200;
    o.batch = 4;
    o.lr = 1e-2f;
    o.threads = 1;
    o.eval_every = 100;
    o.eval_windows = 8;
    o.quiet = 1;
    struct mf_train_result res;
    struct mf_err err = {0};
    assert_int_equal(mf_train_run(&o, &res, &err), 0);
    assert_int_equal(res.step, 200);
    assert_false(res.interrupted);
    assert_true(isfinite(res.train_loss) && isfinite(res.val_loss));
    assert_true(res.tokens_per_second > 0 && res.peak_gflops > 0);
    /* these timelines are regular: the model beats the unigram baseline quickly */
    if (!(res.val_loss < res.unigram_loss))
        fail_msg("val %f unigram %f bigram %f train %f", res.val_loss, res.unigram_loss,
                 res.bigram_loss, res.train_loss);
    const char *files[] = {"config.json", "vocab.json", "model.safetensors", "optimizer.bin",
                           "training.json"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        assert_true(mf_fs_exists(p));
    }

    /* bad settings: refused before anything is written */
    o.out = p;
    snprintf(p, sizeof p, "%s/never", tmpdir);
    o.steps = 0;
    assert_int_equal(mf_train_run(&o, &res, &err), MF_EINVAL);
    o.steps = 2;
    o.model.context = 2; /* shorter than the prefix */
    mf_err_clear(&err);
    assert_int_not_equal(mf_train_run(&o, &res, &err), 0);
    if (strstr(err.msg, "context") == NULL)
        fail_msg("%s", err.msg);
    o.model.context = 32;
    o.store = "/nonexistent/store";
    assert_int_not_equal(mf_train_run(&o, &res, &err), 0);
    assert_false(mf_fs_exists(p));
}

static void one_process_is_a_job_of_one(void **state)
{
    (void)state;
    assert_int_equal(mf_dist_init(), 0);
    assert_int_equal(mf_dist_rank(), 0);
    assert_int_equal(mf_dist_size(), 1);
    float f[3] = {1, 2, 3};
    double d = 4;
    int m = 5;
    assert_int_equal(mf_dist_sum_f32(f, 3), 0);
    assert_int_equal(mf_dist_sum_f64(&d, 1), 0);
    assert_int_equal(mf_dist_max_int(&m), 0);
    assert_true(f[0] == 1 && f[2] == 3 && d == 4 && m == 5);
    assert_int_equal(mf_dist_same_u64(42), 1);
    mf_dist_finalize();
    assert_true(mf_train_sgemm_peak(128) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(windows_count_the_right_targets),
        cmocka_unit_test(a_short_run_learns_and_writes_the_model_dir),
        cmocka_unit_test(one_process_is_a_job_of_one),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
