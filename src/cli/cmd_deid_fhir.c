/* cmd_deid_fhir.c - `medfm deid fhir`: FHIR Bundles or Bulk NDJSON to de-identified NDJSON. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/log.h"
#include "deid/fhirdeid.h"

int cmd_deid_fhir(int argc, char **argv)
{
    const char *key_file = NULL, *config = NULL, *out = NULL, *mode = NULL, *ref = NULL;
    int threads = 0, strict = 0, quiet = 0;
    const struct opt opts[] = {
        {"key-file", OPT_STRING, &key_file, "KEY", "the secret key (medfm deid keygen)"},
        {"config", OPT_STRING, &config, "CFG",
         "rules: safe-harbor (default), limited-data-set, or a rule file (.json)"},
        {"out", OPT_STRING, &out, "DIR", "output folder (replaced atomically when complete)"},
        {"text-mode", OPT_STRING, &mode, "M",
         "free text: surrogate (default, realistic fakes) or redact ([NAME])"},
        {"reference-date", OPT_STRING, &ref, "DATE",
         "ages are computed at this date, YYYY-MM-DD (default: today)"},
        {"threads", OPT_INT, &threads, "N", "worker threads (default: all cores)"},
        {"strict", OPT_FLAG, &strict, NULL, "stop at the first malformed record"},
        {"quiet", OPT_FLAG, &quiet, NULL, "no progress or summary on stderr"},
    };
    const struct cmd_help help = {
        "medfm deid fhir --key-file KEY [--config CFG] --out DIR IN...",
        "De-identify FHIR R4 data: IN is a Bundle (.json), Bulk Data NDJSON (.ndjson,\n"
        ".ndjson.gz) or a folder of them.  The output is Bulk Data NDJSON, one file per\n"
        "resource type, with export.json (so `medfm ingest --format ndjson DIR` reads it) and\n"
        "deid.json (the rules and settings used, never the key).  Ids and references become\n"
        "keyed pseudonyms that still resolve; each patient's dates move by one keyed shift;\n"
        "names, addresses, telecom and identifiers are removed or hashed as the rules say;\n"
        "ZIP codes keep three digits; ages over 89 become 90; free text (notes, narratives,\n"
        "comments) is de-identified knowing the patient's own identifiers.  Malformed records\n"
        "are skipped and listed in DIR.errors.ndjson.  The same key gives the same output.",
        opts, sizeof opts / sizeof opts[0],
        "examples:\n"
        "  medfm deid keygen --out deid.key\n"
        "  medfm deid fhir --key-file deid.key --out deid/ synthea/fhir/\n"
        "  medfm deid fhir --key-file deid.key --config limited-data-set --out lds/ export/"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    if (key_file == NULL || out == NULL || npos == 0) {
        fprintf(stderr, "medfm: deid fhir needs --key-file, --out and at least one input\n");
        fprintf(stderr, "usage: %s\n", help.usage);
        return 2;
    }
    struct mf_deid_fhir_opts o = {0};
    o.session.text_mode = MF_DEID_MODE_SURROGATE;
    if (mode && (mf_deid_text_mode_parse(mode, &o.session.text_mode) != 0 ||
                 o.session.text_mode == MF_DEID_MODE_TAG)) {
        fprintf(stderr, "medfm: --text-mode is surrogate or redact\n");
        return 2;
    }
    if (opts_reference_date(ref, &o.session.reference_time) != 0)
        return 2;
    struct mf_deid_key key;
    struct mf_err err = {0};
    if (mf_deid_key_load(key_file, &key, &err) != 0) {
        fprintf(stderr, "medfm: %s\n", err.msg);
        return 1;
    }
    if (quiet)
        mf_log_set_level(MF_LOG_WARN);
    o.paths = pos;
    o.n_paths = (size_t)npos;
    o.out = out;
    o.session.key = &key;
    o.session.rules = config;
    o.threads = threads;
    o.strict = strict;
    struct mf_deid_fhir_result res;
    int failed = mf_deid_fhir_run(&o, &res, &err) != 0;
    memset(&key, 0, sizeof key);
    if (failed) {
        fprintf(stderr, "medfm: deid fhir failed: %s\n", err.msg[0] ? err.msg : "unknown error");
        fprintf(stderr, "medfm: nothing was written; any previous '%s' is unchanged\n", out);
        return 1;
    }
    if (!quiet) {
        double mb = (double)res.bytes_in / 1e6;
        fprintf(stderr,
                "medfm: de-identified %lld resources (%lld patients, %lld ages over 89 "
                "grouped) from %lld files (%.1f MB) in %.2f s (%.1f MB/s)\n",
                (long long)res.resources, (long long)res.patients, (long long)res.ages_capped,
                (long long)res.files, mb, res.seconds, res.seconds > 0 ? mb / res.seconds : 0);
        if (res.skipped)
            fprintf(stderr, "medfm: %lld records skipped; see '%s.errors.ndjson'\n",
                    (long long)res.skipped, out);
    }
    return 0;
}
