/* cmd_synth.c - `medfm synth`: the built-in synthetic cohort with known ground truth. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/log.h"
#include "synth/synth.h"

int cmd_synth(int argc, char **argv)
{
    int patients = 0, start_year = 2010, years = 15, threads = 0, quiet = 0;
    const char *seed_s = NULL, *out = NULL;
    const struct opt opts[] = {
        {"patients", OPT_INT, &patients, "N", "how many patients to simulate"},
        {"seed", OPT_STRING, &seed_s, "S", "random seed (a non-negative integer; default 1)"},
        {"out", OPT_STRING, &out, "DIR", "a new or empty folder for the export and truth/"},
        {"start-year", OPT_INT, &start_year, "Y", "first year of follow-up (default 2010)"},
        {"years", OPT_INT, &years, "Y", "years of follow-up, at least 6 (default 15)"},
        {"threads", OPT_INT, &threads, "K", "simulation threads (default: all cores)"},
        {"quiet", OPT_FLAG, &quiet, NULL, "no progress or summary on stderr"},
    };
    const struct cmd_help help = {
        "medfm synth --patients N --seed S --out DIR [--start-year Y --years Y] [--threads K]",
        "Simulate a cohort with known ground truth.  DIR receives a FHIR R4 Bulk Data export\n"
        "(Patient, Encounter, Condition, Observation, MedicationRequest, Procedure and\n"
        "DocumentReference .ndjson files, and export.json, written last) that\n"
        "'medfm ingest --format ndjson' reads, and truth/: risk.csv (true 1- and 5-year risks\n"
        "at index dates), effects.csv (true risks under each candidate treatment) and\n"
        "phi.ndjson (every piece of PHI written into the notes, with its offsets).  The same\n"
        "seed gives the same bytes whatever the number of threads.",
        opts, sizeof opts / sizeof opts[0],
        "example:\n  medfm synth --patients 1000 --seed 7 --out cohort/\n"
        "  medfm ingest --format ndjson --no-deid --out store cohort/"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (npos) {
        fprintf(stderr, "medfm: synth takes no positional arguments\nusage: %s\n", help.usage);
        return 2;
    }
    if (patients <= 0 || out == NULL) {
        fprintf(stderr, "medfm: synth needs --patients N (at least 1) and --out DIR\nusage: %s\n",
                help.usage);
        return 2;
    }
    unsigned long long seed = 1;
    if (seed_s) {
        char *end;
        errno = 0;
        seed = strtoull(seed_s, &end, 10);
        if (errno || end == seed_s || *end || seed_s[0] == '-') {
            fprintf(stderr, "medfm: --seed needs a non-negative integer\n");
            return 2;
        }
    }
    if (quiet)
        mf_log_set_level(MF_LOG_WARN);
    struct mf_synth_opts o = {patients, seed, out, start_year, years, threads};
    struct mf_synth_result res;
    struct mf_err err = {0};
    if (mf_synth_run(&o, &res, &err) != 0) {
        fprintf(stderr, "medfm: synth failed: %s\n", err.msg);
        return 1;
    }
    if (!quiet)
        fprintf(stderr,
                "medfm: simulated %lld patients: %lld resources, %lld truth rows, %lld PHI spans, "
                "%.1f MB in %.2f s (%.0f patients/s, %.1f MB/s)\n",
                (long long)res.patients, (long long)res.resources, (long long)res.truth_rows,
                (long long)res.phi_spans, (double)res.bytes / 1e6, res.seconds,
                (double)res.patients / res.seconds, (double)res.bytes / 1e6 / res.seconds);
    return 0;
}
