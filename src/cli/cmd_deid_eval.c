/* cmd_deid_eval.c - `medfm deid eval`: the PHI tagger's recall and precision on a corpus. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "deid/eval.h"
#include "deid/tagger.h"

int cmd_deid_eval(int argc, char **argv)
{
    const char *corpus = NULL, *half = "all", *lexdir = NULL;
    int json = 0, show = 0;
    const struct opt opts[] = {
        {"corpus", OPT_STRING, &corpus, "SPEC",
         "presidio:FILE (Presidio synthetic PII JSON) or synth:DIR (a `medfm synth` folder)"},
        {"json", OPT_FLAG, &json, NULL, "print one JSON object instead of the text report"},
        {"half", OPT_STRING, &half, "H",
         "all (default), even or odd: documents of even or odd index only (development half "
         "and held-out half)"},
        {"lexicon", OPT_STRING, &lexdir, "DIR", "the lexicon folder (default: the build's)"},
        {"show-errors", OPT_FLAG, &show, NULL,
         "print each missed gold span and each false positive with its text to stderr (for "
         "synthetic corpora only: it prints corpus text)"},
    };
    const struct cmd_help help = {
        "medfm deid eval --corpus presidio:FILE|synth:DIR [--json] [--half all|even|odd]",
        "Tag every document of an annotated corpus and report entity-level recall and precision\n"
        "with any overlap, category-agnostic (the primary figure: a removed span is removed\n"
        "whatever its label), the same requiring the category to match, token-level and\n"
        "strict-span figures, recall per category, and tagging throughput (MB/s, one thread).\n"
        "Gold spans that are not HIPAA identifiers (Presidio ORGANIZATION, TITLE, NRP; ages of 89\n"
        "or less; a bare year, weekday or time of day) are ignored: see docs/deid-text.md.\n"
        "Exits 0 whatever the scores.",
        opts, sizeof opts / sizeof opts[0],
        "example: medfm deid eval --corpus synth:cohort --json"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    enum mf_deid_eval_half h = MF_DEID_EVAL_ALL;
    if (strcmp(half, "even") == 0)
        h = MF_DEID_EVAL_EVEN;
    else if (strcmp(half, "odd") == 0)
        h = MF_DEID_EVAL_ODD;
    else if (strcmp(half, "all") != 0)
        corpus = NULL;
    if (corpus == NULL || npos) {
        fprintf(stderr,
                "medfm: deid eval needs --corpus SPEC (and --half all|even|odd)\n"
                "usage: %s\n",
                help.usage);
        return 2;
    }
    struct mf_err err = {0};
    struct mf_deid_corpus c = {0};
    struct mf_deid_lexicon *lex = NULL;
    struct mf_deid_tagger *t = NULL;
    struct mf_deid_eval_result res;
    struct mf_buf out = MF_BUF_INIT;
    int rc = mf_deid_corpus_load(corpus, &c, &err);
    if (rc == 0)
        rc = mf_deid_lexicon_load(lexdir, &lex, &err);
    if (rc == 0 && (t = mf_deid_tagger_new(lex)) == NULL)
        rc = mf_err_set(&err, MF_ENOMEM, "out of memory");
    if (rc == 0)
        rc = mf_deid_eval_run(t, &c, h, &res, show ? stderr : NULL, &err);
    if (rc == 0)
        rc = json ? mf_deid_eval_json(&res, corpus, &out) : mf_deid_eval_text(&res, corpus, &out);
    if (rc == 0)
        fwrite(out.data, 1, out.len, stdout);
    else
        fprintf(stderr, "medfm: deid eval: %s\n", err.msg[0] ? err.msg : mf_strerror(rc));
    mf_buf_release(&out);
    mf_deid_tagger_free(t);
    mf_deid_lexicon_free(lex);
    mf_deid_corpus_free(&c);
    return rc ? 1 : 0;
}
