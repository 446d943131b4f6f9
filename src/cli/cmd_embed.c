/* cmd_embed.c - `medfm embed`: patient embeddings as raw float32 and an index CSV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/infer_cli.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/timeutil.h"

/* One row per patient of the split, the whole record (index INT64_MAX). */
static int patient_rows(struct infer_ctx *c, struct mf_task_row **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    for (size_t s = 0; s < mf_store_n_shards(c->store); s++)
        for (uint64_t i = 0; i < mf_store_shard_patients(c->store, s); i++) {
            struct mf_timeline tl;
            if (mf_store_shard_timeline(c->store, s, i, &tl) != 0)
                return -1;
            if (!infer_ctx_keep(c, tl.subject.p, tl.subject.n))
                continue;
            if (*n == cap) {
                cap = cap ? 2 * cap : 256;
                struct mf_task_row *r = realloc(*out, cap * sizeof *r);
                if (r == NULL)
                    return -1;
                *out = r;
            }
            (*out)[(*n)++] = (struct mf_task_row){(uint32_t)s, i, INT64_MAX, INT64_MAX, -1};
        }
    return 0;
}

int cmd_embed(int argc, char **argv)
{
    const char *model = NULL, *store = NULL, *task = NULL, *out = NULL, *index = NULL;
    const char *split = "all";
    int per_patient = 1, seed = 1, allow = 0;
    const struct opt opts[] = {
        {"model", OPT_STRING, &model, "DIR", "the model folder"},
        {"store", OPT_STRING, &store, "STORE", "the event store"},
        {"at-task", OPT_STRING, &task, "TASK.yaml",
         "embed at the task's prediction times (default: each patient's whole record)"},
        {"out", OPT_STRING, &out, "EMB.f32", "the embeddings: rows of dim float32, little-endian"},
        {"index", OPT_STRING, &index, "FILE.csv", "the index (default: OUT with .csv)"},
        {"split", OPT_STRING, &split, "NAME", "train, tuning, held_out or all (default all)"},
        {"per-patient", OPT_INT, &per_patient, "K",
         "with --at-task: samples per patient at most (default 1; 0: all)"},
        {"seed", OPT_INT, &seed, "N", "which samples --per-patient keeps (default 1)"},
        {"allow-vocabulary-mismatch", OPT_FLAG, &allow, NULL,
         "go on when the store's codes are unknown to the model"},
    };
    const struct cmd_help help = {
        "medfm embed --model M --store S [--at-task TASK.yaml] --out EMB.f32 [--index EMB.csv]",
        "Write one embedding per patient (or per task sample with --at-task): the model's\n"
        "final normalized hidden state after the record up to that time, `dim` float32\n"
        "values per row.  The index CSV gives each row's subject_id, time and, with a task,\n"
        "its label: row, subject_id, time, label.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm embed --model model/ --store store/ --at-task tasks/death_1y.yaml \\\n"
        "      --out emb.f32"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !model || !store || !out) {
        fprintf(stderr, "medfm: embed needs --model, --store and --out\nusage: %s\n", help.usage);
        return 2;
    }
    if (per_patient < 0) {
        fprintf(stderr, "medfm: --per-patient must be 0 or more\n");
        return 2;
    }
    char index_path[4096];
    if (index == NULL) {
        size_t n = strlen(out);
        if (n > 4 && strcmp(out + n - 4, ".f32") == 0)
            n -= 4;
        if (snprintf(index_path, sizeof index_path, "%.*s.csv", (int)n, out) >=
            (int)sizeof index_path) {
            fprintf(stderr, "medfm: --out is too long\n");
            return 2;
        }
        index = index_path;
    }
    struct infer_ctx c;
    if (infer_ctx_open(&c, model, store, task, 1, allow) != 0)
        return 1;
    r = infer_ctx_split(&c, split);
    if (r) {
        infer_ctx_close(&c);
        return r;
    }
    struct mf_err err = {0};
    struct mf_task_row *rows = NULL;
    size_t n = 0;
    float *emb = NULL;
    struct mf_buf b = MF_BUF_INIT;
    int rc = 1;
    const size_t dim = (size_t)mf_infer_config(c.in)->dim;
    if (c.task) {
        struct mf_task_store_opts lo = {infer_ctx_keep, &c, (size_t)per_patient, (uint64_t)seed};
        if (mf_task_label_store(c.task, c.store, &lo, &rows, &n, &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            goto out;
        }
    } else if (patient_rows(&c, &rows, &n) != 0) {
        fprintf(stderr, "medfm: out of memory, or a damaged store\n");
        goto out;
    }
    emb = malloc((n ? n : 1) * dim * sizeof *emb);
    if (emb == NULL) {
        fprintf(stderr, "medfm: out of memory\n");
        goto out;
    }
    if (infer_embed_rows(&c, rows, n, emb) != 0)
        goto out;
    mf_buf_puts(&b, "row,subject_id,time,label\n");
    for (size_t i = 0; i < n; i++) {
        struct mf_timeline tl;
        char ts[32];
        if (mf_store_shard_timeline(c.store, rows[i].shard, rows[i].patient, &tl) != 0) {
            fprintf(stderr, "medfm: cannot read a timeline of the store\n");
            goto out;
        }
        mf_time_format(rows[i].index, ts);
        mf_buf_printf(&b, "%zu,", i);
        infer_csv_field(&b, tl.subject.p, tl.subject.n);
        mf_buf_printf(&b, ",%s,%s\n", ts, rows[i].label < 0 ? "" : rows[i].label ? "1" : "0");
    }
    if (mf_fs_write_file_atomic(out, emb, n * dim * sizeof *emb, &err) != 0 ||
        mf_fs_write_file_atomic(index, b.data, b.len, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        remove(out);
        goto out;
    }
    fprintf(stderr, "medfm: %zu embeddings of %zu float32 values\n", n, dim);
    rc = 0;
out:
    free(rows);
    free(emb);
    mf_buf_release(&b);
    infer_ctx_close(&c);
    return rc;
}
