/* cmd_label.c - `medfm label`: label a store's patients for a task definition (ACES YAML) and
 * write LABELS.csv (the MEDS label schema). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/log.h"
#include "store/store.h"
#include "tasks/task.h"
#include "token/token.h"

struct split_filter {
    const struct mf_vocab *v;
    enum mf_split split;
};

static int keep_split(void *ctx, const char *subject, size_t n)
{
    const struct split_filter *f = ctx;
    return mf_vocab_split(f->v, subject, n) == f->split;
}

int cmd_label(int argc, char **argv)
{
    const char *store = NULL, *task = NULL, *out = NULL, *model = NULL, *split = NULL;
    const char *seed_s = NULL;
    int per_patient = 0, quiet = 0;
    const struct opt opts[] = {
        {"store", OPT_STRING, &store, "STORE", "the event store to label"},
        {"task", OPT_STRING, &task, "TASK.yaml", "the task definition (ACES YAML; docs/tasks.md)"},
        {"out", OPT_STRING, &out, "LABELS.csv", "the labels to write (replaced atomically)"},
        {"model", OPT_STRING, &model, "DIR", "a model folder: its vocab.json gives the splits"},
        {"split", OPT_STRING, &split, "S",
         "train, tuning, held_out or all (default all; other than all needs --model)"},
        {"per-patient", OPT_INT, &per_patient, "K",
         "keep at most K samples per patient, chosen by --seed (default: all)"},
        {"seed", OPT_STRING, &seed_s, "N",
         "seed of the per-patient choice (default 1, as predict, embed and probe)"},
        {"quiet", OPT_FLAG, &quiet, NULL, "no progress or summary on stderr"},
    };
    const struct cmd_help help = {
        "medfm label --store STORE --task TASK.yaml --out LABELS.csv [--model DIR --split S]\n"
        "            [--per-patient K] [--seed N] [--quiet]",
        "Find every sample of a task in an event store and write its labels.  A task file\n"
        "(the ACES language of the MEDS ecosystem) names a trigger (the events that start a\n"
        "sample), windows around it with count constraints, the prediction time\n"
        "(index_timestamp) and the outcome (label); tasks/ holds the shipped ones and\n"
        "docs/tasks.md describes the language.  LABELS.csv has one row per sample:\n"
        "subject_id, prediction_time (ISO 8601, UTC) and boolean_value (true/false; empty when\n"
        "the task has no label).  Every code test of the task must match some code of the\n"
        "store, so a typo or a task for another source fails instead of labeling everything\n"
        "negative.  A summary line (samples, patients, positives) goes to stderr.",
        opts, sizeof opts / sizeof opts[0],
        "examples:\n"
        "  medfm label --store mimic/ --task tasks/mimic_inhospital_death.yaml --out death.csv\n"
        "  medfm label --store store/ --task tasks/readmission_30d.yaml --model model/ \\\n"
        "      --split held_out --per-patient 1 --seed 7 --out readmission.csv"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !store || !task || !out) {
        fprintf(stderr,
                "medfm: label needs --store, --task and --out (and no other arguments)\n"
                "usage: %s\n",
                help.usage);
        return 2;
    }
    int want_split = -1; /* -1: all */
    if (split && strcmp(split, "all") != 0) {
        want_split = mf_split_parse(split);
        if (want_split < 0) {
            fprintf(stderr, "medfm: --split must be train, tuning, held_out or all\n");
            return 2;
        }
        if (!model) {
            fprintf(stderr, "medfm: --split %s needs --model (its vocab.json defines the splits)\n",
                    split);
            return 2;
        }
    }
    if (per_patient < 0) {
        fprintf(stderr, "medfm: --per-patient must be 0 (all) or more\n");
        return 2;
    }
    uint64_t seed = 1;
    if (seed_s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed_s, &end, 10);
        if (errno || end == seed_s || *end || seed_s[0] == '-') {
            fprintf(stderr, "medfm: --seed needs a whole number\n");
            return 2;
        }
        seed = (uint64_t)v;
    }
    if (quiet)
        mf_log_set_level(MF_LOG_WARN);

    struct mf_err err = {0};
    struct mf_task *t = NULL;
    struct mf_vocab *v = NULL;
    struct mf_store *s = NULL;
    uint64_t *masks = NULL;
    struct mf_task_row *rows = NULL;
    size_t n = 0;
    int rc = 1;
    if (mf_task_load(task, &t, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    if (model) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/vocab.json", model) >= (int)sizeof path) {
            fprintf(stderr, "medfm: the model folder's path is too long\n");
            goto out;
        }
        if (mf_vocab_load(path, &v, &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            goto out;
        }
    }
    if (mf_store_open(store, &s, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    /* every code test must match some code the store holds */
    if (mf_task_store_masks(t, s, &masks, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    uint64_t known = 0;
    for (uint32_t i = 0; i < mf_store_n_codes(s); i++)
        if (mf_store_code_count(s, i) > 0)
            known |= masks[i];
    if (mf_task_check_known(t, known, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    struct split_filter filt = {v, (enum mf_split)(want_split < 0 ? 0 : want_split)};
    struct mf_task_store_opts o = {0};
    if (want_split >= 0) {
        o.keep = keep_split;
        o.keep_ctx = &filt;
    }
    o.per_patient = (size_t)per_patient;
    o.seed = seed;
    if (mf_task_label_store(t, s, &o, &rows, &n, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    if (mf_task_write_labels(s, rows, n, out, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        goto out;
    }
    if (!quiet) {
        size_t patients = 0, pos_n = 0;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || rows[i].shard != rows[i - 1].shard ||
                rows[i].patient != rows[i - 1].patient)
                patients++;
            pos_n += rows[i].label > 0;
        }
        if (mf_task_has_label(t))
            fprintf(stderr, "label: %s: %zu samples from %zu patients, %zu positive (%.1f%%)\n",
                    mf_task_name(t), n, patients, pos_n, n ? 100.0 * (double)pos_n / (double)n : 0);
        else
            fprintf(stderr, "label: %s: %zu samples from %zu patients (the task has no label)\n",
                    mf_task_name(t), n, patients);
    }
    rc = 0;
out:
    free(rows);
    free(masks);
    mf_store_close(s);
    mf_vocab_free(v);
    mf_task_free(t);
    return rc;
}
