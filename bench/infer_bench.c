/* infer_bench.c - times medfm's sampling of futures for bench/infer.sh, and writes the same
 * prompt for the PyTorch baseline (bench/infer_torch.py).
 *
 * usage: infer_bench MODEL STORE SAMPLES MAX_NEW REPEAT OUT_DIR [PATIENTS]
 *
 * Picks the held-out patient with the longest record (or, with PATIENTS, the first PATIENTS
 * held-out patients), writes OUT_DIR/prompt.txt (token ids), OUT_DIR/prefix_len.txt,
 * OUT_DIR/durations.txt ("id microseconds" per time token) and OUT_DIR/stop_ids.txt, then
 * prints JSON lines:
 *   {"mode":"no_stop", ...}  SAMPLES futures of exactly MAX_NEW tokens, best of REPEAT runs
 *   {"mode":"risk_1y", ...}  per patient: SAMPLES futures until death, the end of the
 *                            timeline or 1 year (at most MAX_NEW tokens), from the last event
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"
#include "core/timeutil.h"
#include "infer/infer.h"

static int fail(const char *what, const struct mf_err *err)
{
    fprintf(stderr, "infer_bench: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

static int write_prompt(const char *dir, const struct mf_infer *in, const struct mf_prompt *p)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/prompt.txt", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < p->n; i++)
        fprintf(f, "%u%c", p->tok[i], i + 1 < p->n ? ' ' : '\n');
    fclose(f);
    snprintf(path, sizeof path, "%s/prefix_len.txt", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fprintf(f, "%zu\n", p->n_prefix);
    fclose(f);
    const struct mf_vocab *v = mf_infer_vocab(in);
    snprintf(path, sizeof path, "%s/durations.txt", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    for (uint32_t t = 0; t < mf_vocab_size(v); t++)
        if (mf_vocab_duration(v, t) > 0)
            fprintf(f, "%u %" PRId64 "\n", t, mf_vocab_duration(v, t));
    fclose(f);
    snprintf(path, sizeof path, "%s/stop_ids.txt", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    int64_t death = mf_vocab_id(v, "MEDS_DEATH", 10);
    fprintf(f, "%u,%" PRId64 "\n", MF_TOK_TIMELINE_END, death);
    fclose(f);
    return 0;
}

static int arg_int(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 0 || v > 1 << 20 ? -1 : (int)v;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr,
                "usage: infer_bench MODEL STORE SAMPLES MAX_NEW REPEAT OUT_DIR [PATIENTS]\n");
        return 2;
    }
    int samples = arg_int(argv[3]), max_new = arg_int(argv[4]), repeat = arg_int(argv[5]);
    int patients = argc > 7 ? arg_int(argv[7]) : 0;
    if (samples < 1 || max_new < 1 || repeat < 1 || patients < 0) {
        fprintf(stderr, "infer_bench: SAMPLES, MAX_NEW, REPEAT must be positive numbers\n");
        return 2;
    }
    struct mf_err err = {0};
    struct mf_infer *in = NULL;
    struct mf_store *s = NULL;
    if (mf_infer_open(argv[1], samples, &in, &err) != 0)
        return fail("model", &err);
    if (mf_store_open(argv[2], &s, &err) != 0)
        return fail("store", &err);
    const struct mf_vocab *v = mf_infer_vocab(in);
    /* held-out patients in store order; the one with the most events first */
    size_t cap = 1024, n = 0, best = 0, best_n = 0;
    struct mf_timeline *tls = malloc(cap * sizeof *tls);
    for (size_t sh = 0; sh < mf_store_n_shards(s); sh++)
        for (uint64_t i = 0; i < mf_store_shard_patients(s, sh); i++) {
            struct mf_timeline tl;
            if (mf_store_shard_timeline(s, sh, i, &tl) != 0)
                return fail("timeline", NULL);
            if (mf_vocab_split(v, tl.subject.p, tl.subject.n) != MF_SPLIT_HELD_OUT)
                continue;
            if (n == cap)
                tls = realloc(tls, (cap *= 2) * sizeof *tls);
            if (tl.n > best_n) {
                best_n = tl.n;
                best = n;
            }
            tls[n++] = tl;
        }
    if (n == 0)
        return fail("no held-out patient", NULL);
    struct mf_tokens tk = {0};
    struct mf_prompt pr = {0};
    struct mf_futures fs = {0};
    if (mf_tokenize(v, s, &tls[best], &tk, &err) || mf_infer_prompt(in, &tk, INT64_MAX, &pr, &err))
        return fail("prompt", &err);
    if (write_prompt(argv[6], in, &pr) != 0)
        return fail("writing the prompt", NULL);

    struct mf_sim_opts o = {samples, max_new, 0, 1.0f, 1.0f, 1, 1};
    double best_s = 1e30;
    uint64_t gen = 0, pre = 0;
    for (int r = 0; r < repeat; r++) {
        if (mf_infer_simulate(in, &pr, &o, &fs, &err) != 0)
            return fail("simulate", &err);
        if (fs.seconds < best_s)
            best_s = fs.seconds;
        gen = fs.tokens_generated;
        pre = fs.tokens_prefill;
    }
    printf("{\"mode\":\"no_stop\",\"prompt_tokens\":%zu,\"futures\":%d,\"generated_tokens\":%llu,"
           "\"model_tokens\":%llu,\"seconds\":%.4f,\"tokens_per_second\":%.1f,"
           "\"memory_mb\":%.1f}\n",
           pr.n, samples, (unsigned long long)gen, (unsigned long long)pre, best_s,
           (double)gen / best_s, (double)mf_infer_memory(in) / 1048576.0);

    /* 1-year risks: per patient, from the end of the record */
    if (patients > 0) {
        struct mf_sim_opts rk = {samples, max_new, 365 * MF_USEC_PER_DAY, 1.0f, 1.0f, 1, 0};
        double total = 0, worst = 0;
        uint64_t tokens = 0, steps = 0, cuts = 0;
        int done = 0;
        for (size_t i = 0; i < n && done < patients; i++) {
            double t0 = mf_now();
            if (mf_tokenize(v, s, &tls[i], &tk, &err) != 0 ||
                mf_infer_prompt(in, &tk, INT64_MAX, &pr, &err) != 0)
                continue;
            if (mf_infer_simulate(in, &pr, &rk, &fs, &err) != 0)
                return fail("simulate", &err);
            double dt = mf_now() - t0;
            total += dt;
            worst = dt > worst ? dt : worst;
            tokens += fs.tokens_generated;
            steps += fs.steps;
            cuts += fs.cuts;
            done++;
        }
        printf("{\"mode\":\"risk_1y\",\"patients\":%d,\"futures\":%d,\"seconds\":%.3f,"
               "\"seconds_per_patient\":%.4f,\"worst_patient_seconds\":%.4f,"
               "\"patients_per_second\":%.3f,\"generated_tokens\":%llu,"
               "\"tokens_per_second\":%.1f,\"steps_per_patient\":%.1f,\"cuts_per_patient\":%.2f}\n",
               done, samples, total, done ? total / done : 0.0, worst,
               total > 0 ? done / total : 0.0, (unsigned long long)tokens,
               total > 0 ? (double)tokens / total : 0.0, done ? (double)steps / done : 0.0,
               done ? (double)cuts / done : 0.0);
    }
    mf_futures_free(&fs);
    mf_prompt_free(&pr);
    mf_tokens_free(&tk);
    free(tls);
    mf_vocab_unbind(v, s);
    mf_store_close(s);
    mf_infer_free(in);
    return 0;
}
