/* cmd_predict.c - `medfm predict`: a task's risk for every sample of a store, from simulated
 * futures (zero-shot) or from a linear probe on embeddings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/infer_cli.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/progress.h"
#include "core/timeutil.h"
#include "infer/probe.h"

static void put_prob(struct mf_buf *b, double v)
{
    mf_buf_putc(b, ',');
    if (!isnan(v))
        mf_buf_printf(b, "%.6g", v);
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *store = NULL, *task = NULL, *out = NULL, *split = NULL;
    const char *probe_dir = NULL, *horizon_s = NULL, *temp_s = NULL, *top_p_s = NULL;
    int samples = 20, per_patient = 1, seed = 1, max_new = 512, allow = 0, limit = 0;
    const struct opt opts[] = {
        {"model", OPT_STRING, &model, "DIR", "the model folder"},
        {"store", OPT_STRING, &store, "STORE", "the event store"},
        {"task", OPT_STRING, &task, "TASK.yaml", "the task definition (ACES YAML)"},
        {"out", OPT_STRING, &out, "PRED.csv", "where to write the predictions"},
        {"samples", OPT_INT, &samples, "N", "futures per prediction (default 20)"},
        {"split", OPT_STRING, &split, "NAME",
         "train, tuning, held_out (default) or all (a store the model never saw)"},
        {"per-patient", OPT_INT, &per_patient, "K",
         "samples per patient at most, chosen by --seed (default 1; 0: all)"},
        {"limit", OPT_INT, &limit, "N", "predict the first N samples only (default: all)"},
        {"probe", OPT_STRING, &probe_dir, "DIR",
         "use the linear probe in DIR (from medfm probe) instead of simulation"},
        {"horizon", OPT_STRING, &horizon_s, "DUR",
         "how far futures run for tasks whose windows end at an event (default 1y)"},
        {"max-new", OPT_INT, &max_new, "N", "tokens per future at most (default 512)"},
        {"temperature", OPT_STRING, &temp_s, "T", "sampling temperature (default 1)"},
        {"top-p", OPT_STRING, &top_p_s, "P", "nucleus sampling mass (default 1: off)"},
        {"seed", OPT_INT, &seed, "N", "random seed (default 1)"},
        {"allow-vocabulary-mismatch", OPT_FLAG, &allow, NULL,
         "go on when the store's codes are unknown to the model"},
    };
    const struct cmd_help help = {
        "medfm predict --model M --store S --task TASK.yaml [--samples 20] [--split held_out]\n"
        "                     [--probe DIR] --out PRED.csv",
        "Predict a task for the store's samples (the triggers `medfm label` finds, at most\n"
        "--per-patient per patient) of the patients in --split, by the model's split rule.\n"
        "Zero-shot, each prediction samples --samples futures from the record up to the\n"
        "prediction time and counts those in which the task's outcome happens: the risk is\n"
        "that share, with a 95% Wilson interval (futures in which the task's windows cannot\n"
        "hold are left out).  With --probe, the risk is the probe's on the patient's\n"
        "embedding (no interval).  PRED.csv: subject_id, prediction_time, probability,\n"
        "ci_low, ci_high, label (the store's own label).",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm predict --model model/ --store store/ --task tasks/death_1y.yaml \\\n"
        "      --samples 20 --out pred.csv"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !model || !store || !task || !out) {
        fprintf(stderr, "medfm: predict needs --model, --store, --task and --out\nusage: %s\n",
                help.usage);
        return 2;
    }
    if (samples < 1 || samples > 4096 || max_new < 1 || max_new > 1 << 20 || per_patient < 0 ||
        limit < 0) {
        fprintf(stderr, "medfm: --samples must be 1..4096, --max-new 1..1048576, "
                        "--per-patient and --limit 0 or more\n");
        return 2;
    }
    int64_t horizon = 0;
    double temp = 1, top_p = 1;
    if (infer_parse_sampling(horizon_s, temp_s, top_p_s, &horizon, &temp, &top_p) != 0)
        return 2;

    struct infer_ctx c;
    if (infer_ctx_open(&c, model, store, task, probe_dir ? 1 : samples, allow) != 0)
        return 1;
    r = infer_ctx_split(&c, split);
    if (r) {
        infer_ctx_close(&c);
        return r;
    }
    struct mf_err err = {0};
    struct mf_probe *probe = NULL;
    struct mf_task_row *rows = NULL;
    size_t nrows = 0;
    struct mf_tokens tk = {0};
    struct mf_prompt pr = {0};
    struct mf_futures fs = {0};
    struct mf_task_evbuf hist = {0};
    struct mf_buf b = MF_BUF_INIT;
    float *emb = NULL;
    int rc = 1;
    const struct mf_model_config *cfg = mf_infer_config(c.in);
    const struct mf_vocab *v = mf_infer_vocab(c.in);
    if (probe_dir) {
        if (mf_probe_load(probe_dir, &probe, &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            goto out;
        }
        const char *ms = mf_probe_model_sha256(probe);
        if (mf_probe_dim(probe) != (size_t)cfg->dim ||
            (ms && strcmp(ms, mf_infer_model_sha256(c.in)) != 0)) {
            fprintf(stderr, "medfm: the probe in %s was fitted on another model's embeddings\n",
                    probe_dir);
            goto out;
        }
        const char *pt = mf_probe_task(probe);
        if (pt && strcmp(pt, mf_task_name(c.task)) != 0)
            fprintf(stderr, "medfm: warning: the probe was fitted for task '%s', not '%s'\n", pt,
                    mf_task_name(c.task));
        emb = malloc((size_t)cfg->dim * sizeof *emb);
        if (emb == NULL) {
            fprintf(stderr, "medfm: out of memory\n");
            goto out;
        }
    }
    struct mf_task_store_opts lo = {infer_ctx_keep, &c, (size_t)per_patient, (uint64_t)seed};
    if (mf_task_label_store(c.task, c.store, &lo, &rows, &nrows, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    if (limit > 0 && nrows > (size_t)limit)
        nrows = (size_t)limit;
    if (nrows == 0)
        fprintf(stderr, "medfm: warning: no samples of this task in the chosen split\n");
    int64_t th = mf_task_horizon(c.task);
    struct mf_sim_opts so = {
        samples, max_new, th > 0 ? th : horizon, (float)temp, (float)top_p, (uint64_t)seed, 0};
    mf_buf_puts(&b, "subject_id,prediction_time,probability,ci_low,ci_high,label\n");
    struct mf_progress prog;
    mf_progress_start(&prog, "predict", "samples", (int64_t)nrows);
    uint64_t gen = 0, undecided = 0;
    double sim_s = 0;
    struct mf_timeline tl = {0};
    for (size_t i = 0; i < nrows; i++) {
        const struct mf_task_row *row = &rows[i];
        if (i == 0 || row->shard != rows[i - 1].shard || row->patient != rows[i - 1].patient) {
            if (mf_store_shard_timeline(c.store, row->shard, row->patient, &tl) != 0 ||
                mf_tokenize(v, c.store, &tl, &tk, &err) != 0) {
                fprintf(stderr, "medfm: %s\n", err.msg[0] ? err.msg : "cannot read a timeline");
                goto out;
            }
        }
        if (mf_infer_prompt(c.in, &tk, row->index, &pr, &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            goto out;
        }
        double p, ci_lo = NAN, ci_hi = NAN;
        if (probe) {
            if (mf_infer_embed(c.in, &pr, emb, &err) != 0) {
                fprintf(stderr, "medfm: %s\n", err.msg);
                goto out;
            }
            p = mf_probe_predict(probe, emb);
        } else {
            hist.n = 0;
            struct mf_risk risk;
            if (mf_task_evbuf_timeline(c.task, c.store_masks, &tl, row->index, &hist) != 0) {
                fprintf(stderr, "medfm: out of memory\n");
                goto out;
            }
            struct mf_task_events hev = mf_task_evbuf_events(&hist);
            if (mf_infer_simulate(c.in, &pr, &so, &fs, &err) != 0 ||
                mf_infer_task_risk(c.task, v, c.tok_masks, &hev, row->trigger, row->index, &fs,
                                   &risk, &err) != 0) {
                fprintf(stderr, "medfm: %s\n", err.msg);
                goto out;
            }
            gen += fs.tokens_generated;
            sim_s += fs.seconds;
            undecided += risk.decided == 0;
            p = risk.p;
            ci_lo = risk.lo;
            ci_hi = risk.hi;
        }
        char ts[32];
        mf_time_format(row->index, ts);
        infer_csv_field(&b, tl.subject.p, tl.subject.n);
        mf_buf_printf(&b, ",%s", ts);
        put_prob(&b, p);
        put_prob(&b, ci_lo);
        put_prob(&b, ci_hi);
        mf_buf_puts(&b, row->label < 0 ? ",\n" : row->label ? ",1\n" : ",0\n");
        mf_progress_add(&prog, 1);
    }
    mf_progress_finish(&prog);
    if (mf_fs_write_file_atomic(out, b.data, b.len, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    if (probe)
        fprintf(stderr, "medfm: %zu predictions from the probe\n", nrows);
    else
        fprintf(
            stderr,
            "medfm: %zu predictions, %d futures each, %llu tokens generated in %.1f s "
            "(%.0f/s)%s\n",
            nrows, samples, (unsigned long long)gen, sim_s, sim_s > 0 ? (double)gen / sim_s : 0.0,
            undecided ? "; some predictions had no future in which the task could be decided" : "");
    rc = 0;
out:
    free(rows);
    free(emb);
    mf_probe_free(probe);
    mf_buf_release(&b);
    mf_task_evbuf_free(&hist);
    mf_futures_free(&fs);
    mf_prompt_free(&pr);
    mf_tokens_free(&tk);
    infer_ctx_close(&c);
    return rc;
}
