/* cmd_card.c - `medfm card`: the model card from a model folder and its evaluation reports. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "eval/report.h"

int cmd_card(int argc, char **argv)
{
    const char *model = NULL, *out = NULL;
    struct opt_list reports = {0};
    const struct opt opts[] = {
        {"model", OPT_STRING, &model, "DIR", "the model folder"},
        {"report", OPT_LIST, &reports, "REPORT_DIR",
         "an evaluation report (from medfm eval); repeat for more"},
        {"out", OPT_STRING, &out, "CARD_DIR", "where to write model_card.json and model_card.md"},
    };
    const struct cmd_help help = {
        "medfm card --model M [--report REPORT_DIR]... --out CARD_DIR",
        "Write the model card: the CHAI Applied Model Card sections and the ONC HTI-1 source\n"
        "attributes of a predictive decision support intervention (45 CFR 170.315(b)(11)),\n"
        "filled from the model's config.json, vocab.json (which demographics are inputs) and\n"
        "training.json (data lineage, the training data's demographic make-up) and from the\n"
        "reports' metrics (internal and external validation, subgroup gaps).  Fixed text is\n"
        "medfm's default, marked for review by the deploying organization; anything unknown\n"
        "says \"not available\".  Every report must be of this model's weights.  CARD_DIR is\n"
        "written as a whole once everything is checked; an existing CARD_DIR is replaced only\n"
        "when it is empty or holds an earlier card.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm card --model model/ --report report/ --report report-external/ \\\n"
        "      --out card/"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos != 0 || !model || !out) {
        fprintf(stderr, "medfm: card needs --model and --out\nusage: %s\n", help.usage);
        return 2;
    }
    struct mf_err err = {0};
    if (mf_card_write(model, (const char *const *)reports.v, (size_t)reports.n, out, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "medfm: wrote %s/model_card.json and %s/model_card.md\n", out, out);
    return 0;
}
