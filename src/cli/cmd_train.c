/* cmd_train.c - `medfm train`: fit the tokenizer and train the transformer on an event store. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "train/dist.h"
#include "train/train.h"

static int parse_float(const char *name, const char *s, float *out)
{
    if (s == NULL)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "medfm: --%s needs a number\n", name);
        return -1;
    }
    *out = (float)v;
    return 0;
}

/* --resume: the run's own settings from training.json, as defaults the command line may
 * override (giving the same ones is what makes a resumed run exact). */
static int resume_defaults(const char *dir, struct mf_train_opts *o)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/training.json", dir);
    struct mf_err e = {0};
    cJSON *j = mf_json_read_file(p, (size_t)256 << 20, &e);
    if (j == NULL)
        return -1;
    const cJSON *hp = cJSON_GetObjectItemCaseSensitive(j, "hyperparameters");
    if (!cJSON_IsObject(hp)) {
        mf_json_release(j);
        return -1;
    }
#define NUM(key, dst, type)                                                                        \
    do {                                                                                           \
        const cJSON *v_ = cJSON_GetObjectItemCaseSensitive(hp, key);                               \
        if (cJSON_IsNumber(v_))                                                                    \
            (dst) = (type)v_->valuedouble;                                                         \
    } while (0)
    NUM("batch", o->batch, int);
    NUM("accum", o->accum, int);
    NUM("lr", o->lr, float);
    NUM("min_lr_frac", o->min_lr_frac, float);
    NUM("warmup", o->warmup, int64_t);
    NUM("weight_decay", o->weight_decay, float);
    NUM("clip", o->clip, float);
    NUM("beta1", o->beta1, float);
    NUM("beta2", o->beta2, float);
    NUM("eval_windows", o->eval_windows, int);
    NUM("eval_every", o->eval_every, int64_t);
#undef NUM
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "steps_planned");
    if (cJSON_IsNumber(sp))
        o->steps = (int64_t)sp->valuedouble;
    mf_json_release(j);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    const char *store = NULL, *out = NULL, *config = NULL, *preset = NULL, *seed_s = NULL;
    const char *lr_s = NULL, *wd_s = NULL, *clip_s = NULL;
    int steps = -1, batch = -1, context = -1, threads = 0, resume = 0, accum = -1, warmup = -2;
    int eval_every = 0, log_every = 0, ckpt_every = 0, stop_at = 0, eval_windows = -1;
    int min_count = -1, use_race = 0, quiet = 0;
    const struct opt opts[] = {
        {"store", OPT_STRING, &store, "STORE", "the event store to train on (required)"},
        {"out", OPT_STRING, &out, "MODEL_DIR", "the model dir to write (required)"},
        {"preset", OPT_STRING, &preset, "NAME", "tiny, small (default) or base"},
        {"config", OPT_STRING, &config, "FILE",
         "the architecture as a config.json (instead of --preset; its vocab is replaced by "
         "the fitted vocabulary's size)"},
        {"steps", OPT_INT, &steps, "N", "optimizer steps (default 1000)"},
        {"batch", OPT_INT, &batch, "B", "windows per micro-batch (default 8)"},
        {"accum", OPT_INT, &accum, "K",
         "micro-batches per step (gradient accumulation; default 1)"},
        {"context", OPT_INT, &context, "T", "tokens per window (default: the preset's)"},
        {"lr", OPT_STRING, &lr_s, "X", "peak learning rate (default 0.001)"},
        {"warmup", OPT_INT, &warmup, "N", "linear warmup steps (default 5% of the steps)"},
        {"weight-decay", OPT_STRING, &wd_s, "X", "AdamW's decoupled weight decay (default 0.1)"},
        {"clip", OPT_STRING, &clip_s, "X", "clip the gradient norm at X (default 1; 0: never)"},
        {"threads", OPT_INT, &threads, "K", "threads (default: all cores)"},
        {"seed", OPT_STRING, &seed_s, "S", "random seed for weights and windows (default 1)"},
        {"min-count", OPT_INT, &min_count, "N",
         "codes seen fewer times in training fold into <VOCAB>/<rare> (default 5)"},
        {"use-race", OPT_FLAG, &use_race, NULL,
         "put race and ethnicity in the static prefix (off by default)"},
        {"eval-every", OPT_INT, &eval_every, "N", "validation loss every N steps (default 10%)"},
        {"eval-windows", OPT_INT, &eval_windows, "N", "validation windows (default 64)"},
        {"log-every", OPT_INT, &log_every, "N", "a progress line every N steps (default 10)"},
        {"checkpoint-every", OPT_INT, &ckpt_every, "N",
         "write the model dir every N steps (default: at the end and on Ctrl-C)"},
        {"stop-at", OPT_INT, &stop_at, "N",
         "stop after step N with a checkpoint; --resume goes on (for time-limited jobs)"},
        {"resume", OPT_FLAG, &resume, NULL,
         "go on from MODEL_DIR's checkpoint, with its settings unless given again"},
        {"quiet", OPT_FLAG, &quiet, NULL, "no progress lines"},
    };
    const struct cmd_help help = {
        "medfm train --store STORE --out MODEL_DIR [--preset tiny|small|base | --config FILE]\n"
        "                   [--steps N] [--batch B] [--context T] [--threads K] [--resume] "
        "[--seed S]",
        "Fit the tokenizer on the store's training split and train a decoder-only transformer\n"
        "by next-token prediction.  Progress lines give the step, the training and validation\n"
        "loss, tokens/s, achieved GFLOP/s and the share of this machine's measured sgemm peak,\n"
        "with an ETA.  MODEL_DIR (config.json, vocab.json, model.safetensors, optimizer.bin,\n"
        "training.json) is replaced atomically at each checkpoint and at the end; Ctrl-C or a\n"
        "TERM signal finishes the step and checkpoints.  --resume with the same settings gives\n"
        "the same losses and weights as an uninterrupted run, bit for bit at the same thread\n"
        "count.",
        opts, sizeof opts / sizeof opts[0],
        "examples:\n  medfm train --store store --out model --preset small --steps 2000\n"
        "  medfm train --store store --out model --resume"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos || store == NULL || out == NULL) {
        fprintf(stderr, "medfm: train needs --store STORE and --out MODEL_DIR\nusage: %s\n",
                help.usage);
        return 2;
    }
    if (preset && config) {
        fprintf(stderr, "medfm: give --preset or --config, not both\n");
        return 2;
    }
    struct mf_train_opts o;
    mf_train_opts_default(&o);
    o.store = store;
    o.out = out;
    struct mf_err err = {0};
    if (resume) {
        if (preset || config || context > 0 || min_count >= 0 || use_race) {
            fprintf(stderr, "medfm: --resume keeps the model's architecture and vocabulary: "
                            "drop --preset, --config, --context, --min-count and --use-race\n");
            return 2;
        }
        if (resume_defaults(out, &o) != 0) {
            fprintf(stderr, "medfm: --resume: '%s' holds no training run to resume\n", out);
            return 1;
        }
    } else if (config) {
        if (mf_model_config_load(config, &o.model, &err) != 0) {
            fprintf(stderr, "medfm: %s\n", err.msg);
            return 1;
        }
    } else if (preset && mf_model_preset(preset, &o.model) != 0) {
        fprintf(stderr, "medfm: unknown --preset '%s' (tiny, small or base)\n", preset);
        return 2;
    }
    if (context > 0)
        o.model.context = context;
    if (steps >= 0)
        o.steps = steps;
    if (batch >= 0)
        o.batch = batch;
    if (accum >= 0)
        o.accum = accum;
    if (warmup >= -1)
        o.warmup = warmup;
    if (eval_windows >= 0)
        o.eval_windows = eval_windows;
    if (min_count >= 0)
        o.tok.min_count = (uint32_t)min_count;
    o.tok.use_race = use_race;
    o.threads = threads;
    if (eval_every > 0)
        o.eval_every = eval_every;
    o.log_every = log_every;
    o.checkpoint_every = ckpt_every;
    o.stop_at = stop_at;
    o.resume = resume;
    o.quiet = quiet;
    if (parse_float("lr", lr_s, &o.lr) || parse_float("weight-decay", wd_s, &o.weight_decay) ||
        parse_float("clip", clip_s, &o.clip))
        return 2;
    if (seed_s) {
        char *end;
        errno = 0;
        unsigned long long sd = strtoull(seed_s, &end, 10);
        if (errno || end == seed_s || *end || seed_s[0] == '-') {
            fprintf(stderr, "medfm: --seed needs a non-negative integer\n");
            return 2;
        }
        o.seed = sd;
    }
    if (o.steps < 1 || o.batch < 1 || o.accum < 1 || threads < 0 || stop_at < 0 || eval_every < 0 ||
        log_every < 0 || ckpt_every < 0) {
        fprintf(stderr, "medfm: --steps, --batch and --accum must be at least 1, and counts not "
                        "negative\n");
        return 2;
    }
    if (mf_dist_init() != 0) {
        fprintf(stderr, "medfm: cannot join the MPI job\n");
        return 1;
    }
    if (quiet || mf_dist_rank() != 0)
        mf_log_set_level(MF_LOG_WARN);
    struct mf_train_result res;
    int rc = mf_train_run(&o, &res, &err);
    int lead = mf_dist_rank() == 0;
    mf_dist_finalize();
    if (rc != 0) {
        fprintf(stderr, "medfm: train failed: %s\n", err.msg);
        return 1;
    }
    if (!lead)
        return res.interrupted ? 130 : 0;
    if (res.interrupted) {
        fprintf(stderr, "medfm: interrupted at step %lld; '%s' holds the checkpoint\n",
                (long long)res.step, out);
        return 130;
    }
    if (!quiet)
        fprintf(stderr,
                "medfm: trained %lld steps in %.1f s: loss %.4f, validation %.4f (unigram "
                "%.4f, bigram %.4f); %.0f tokens/s, %.2f GFLOP/s (%.0f%% of the sgemm peak)\n",
                (long long)res.step, res.seconds, res.train_loss, res.val_loss, res.unigram_loss,
                res.bigram_loss, res.tokens_per_second, res.gflops,
                res.peak_gflops > 0 ? 100 * res.gflops / res.peak_gflops : 0);
    return 0;
}
