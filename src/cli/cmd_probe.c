/* cmd_probe.c - `medfm probe`: fit a linear probe on patient embeddings for a task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/infer_cli.h"
#include "cli/opts.h"
#include "infer/probe.h"

int cmd_probe(int argc, char **argv)
{
    const char *model = NULL, *store = NULL, *task = NULL, *out = NULL;
    int shots = 0, per_patient = 1, seed = 1, allow = 0;
    const struct opt opts[] = {
        {"model", OPT_STRING, &model, "DIR", "the model folder"},
        {"store", OPT_STRING, &store, "STORE", "the event store (its train and tuning splits)"},
        {"task", OPT_STRING, &task, "TASK.yaml", "the task definition (ACES YAML)"},
        {"out", OPT_STRING, &out, "PROBE_DIR", "where to write probe.json"},
        {"shots", OPT_INT, &shots, "K",
         "fit on K positive and K negative samples (default 0: all)"},
        {"per-patient", OPT_INT, &per_patient, "K",
         "samples per patient at most (default 1; 0: all)"},
        {"seed", OPT_INT, &seed, "N", "which samples are kept and which are the shots"},
        {"allow-vocabulary-mismatch", OPT_FLAG, &allow, NULL,
         "go on when the store's codes are unknown to the model"},
    };
    const struct cmd_help help = {
        "medfm probe --model M --store S --task TASK.yaml [--shots K] --out PROBE_DIR",
        "Fit L2-regularized logistic regression (liblinear) on the model's embeddings at the\n"
        "task's prediction times: trained on the store's train split (by the model's split\n"
        "rule), the regularization strength chosen on the tuning split.  --shots K fits on K\n"
        "positives and K negatives, as EHRSHOT's few-shot evaluation.  `medfm predict --probe\n"
        "PROBE_DIR` then predicts with it.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm probe --model model/ --store store/ --task tasks/death_1y.yaml \\\n"
        "      --shots 32 --out probe-death/"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !model || !store || !task || !out) {
        fprintf(stderr, "medfm: probe needs --model, --store, --task and --out\nusage: %s\n",
                help.usage);
        return 2;
    }
    if (shots < 0 || per_patient < 0) {
        fprintf(stderr, "medfm: --shots and --per-patient must be 0 or more\n");
        return 2;
    }
    struct infer_ctx c;
    if (infer_ctx_open(&c, model, store, task, 1, allow) != 0)
        return 1;
    struct mf_err err = {0};
    struct mf_task_row *rows = NULL;
    size_t n = 0;
    float *emb = NULL, *xt = NULL, *xu = NULL;
    int *yt = NULL, *yu = NULL;
    struct mf_probe *probe = NULL;
    int rc = 1;
    const size_t dim = (size_t)mf_infer_config(c.in)->dim;
    if (!mf_task_has_label(c.task)) {
        fprintf(stderr, "medfm: the task has no label predicate to fit a probe on\n");
        goto out;
    }
    /* train and tuning samples (held_out is left for evaluation) */
    c.split = -1;
    struct mf_task_store_opts lo = {infer_ctx_keep, &c, (size_t)per_patient, (uint64_t)seed};
    if (mf_task_label_store(c.task, c.store, &lo, &rows, &n, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct mf_timeline tl;
        if (mf_store_shard_timeline(c.store, rows[i].shard, rows[i].patient, &tl) != 0) {
            fprintf(stderr, "medfm: cannot read a timeline of the store\n");
            goto out;
        }
        enum mf_split sp = mf_vocab_split(mf_infer_vocab(c.in), tl.subject.p, tl.subject.n);
        if (sp == MF_SPLIT_HELD_OUT)
            continue;
        rows[i].trigger = sp; /* reused: the row's split */
        rows[m++] = rows[i];
    }
    n = m;
    emb = malloc((n ? n : 1) * dim * sizeof *emb);
    xt = malloc((n ? n : 1) * dim * sizeof *xt);
    xu = malloc((n ? n : 1) * dim * sizeof *xu);
    yt = malloc((n ? n : 1) * sizeof *yt);
    yu = malloc((n ? n : 1) * sizeof *yu);
    if (!emb || !xt || !xu || !yt || !yu) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    if (infer_embed_rows(&c, rows, n, emb) != 0)
        goto out;
    size_t nt = 0, nu = 0, pt = 0, pu = 0;
    for (size_t i = 0; i < n; i++) {
        int tune = rows[i].trigger == MF_SPLIT_TUNING;
        float *dst = tune ? xu + nu * dim : xt + nt * dim;
        memcpy(dst, emb + i * dim, dim * sizeof *dst);
        if (tune) {
            pu += rows[i].label == 1;
            yu[nu++] = rows[i].label == 1;
        } else {
            pt += rows[i].label == 1;
            yt[nt++] = rows[i].label == 1;
        }
    }
    fprintf(stderr, "medfm: %zu training samples (%zu positive), %zu tuning (%zu positive)\n", nt,
            pt, nu, pu);
    struct mf_probe_opts po = {(size_t)shots, (uint64_t)seed, NULL, 0};
    if (mf_probe_fit(xt, yt, nt, xu, yu, nu, dim, &po, &probe, &err) != 0 ||
        mf_probe_set_meta(probe, mf_task_name(c.task), mf_infer_model_sha256(c.in)) != 0 ||
        mf_probe_save(probe, out, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg[0] ? err.msg : "out of memory");
        goto out;
    }
    fprintf(stderr, "medfm: probe written to %s/probe.json\n", out);
    rc = 0;
out:
    mf_probe_free(probe);
    free(rows);
    free(emb);
    free(xt);
    free(xu);
    free(yt);
    free(yu);
    infer_ctx_close(&c);
    return rc;
}
