/* cmd_ingest.c - `medfm ingest`: source files to an event store. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/hash.h"
#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "deid/deid.h"
#include "deid/fhirdeid.h"
#include "ingest/ingest.h"

/* De-identification during a FHIR ingest: the resource hook groups ages over 89 and runs the
 * rules' free-text method (with the patient's own identifiers as context); the event hook
 * replaces the patient id by its pseudonym and shifts every time. */
struct ingest_deid {
    struct mf_deid_key key;
    struct mf_deid_session *session;
};

static int resource_hook(void *ctx, struct cJSON *r, const char *subject, size_t n,
                         struct mf_err *err)
{
    struct ingest_deid *x = ctx;
    return mf_deid_session_hook(x->session, r, subject, n, err);
}

static int event_hook(void *ctx, struct mf_event *ev, struct mf_buf *scratch, struct mf_err *err)
{
    struct ingest_deid *x = ctx;
    return x->session ? mf_deid_event_hook_text(&x->key, ev, scratch, err)
                      : mf_deid_event_hook(&x->key, ev, scratch, err);
}

/* NDJSON inputs: remember every patient's identifiers before ingest starts, so notes are
 * de-identified knowing them.  Files named Patient* are read when there are any, else all. */
static int scan_patients(struct mf_deid_session *s, const char *const *paths, size_t n,
                         struct mf_err *err)
{
    static const char *const sfx[] = {".ndjson", ".ndjson.gz", NULL};
    struct mf_strlist files = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = mf_fs_is_dir(paths[i]) ? mf_json_bulk_export_files(paths[i], &files, err) : 0;
        rc = rc == 0 ? mf_fs_list(paths[i], sfx, &files, err) : rc < 0 ? rc : 0;
    }
    if (rc == 0)
        rc = mf_deid_session_scan_files(s, (const char *const *)files.items, files.n, err);
    mf_strlist_free(&files);
    return rc;
}

int cmd_ingest(int argc, char **argv)
{
    const char *format = NULL, *out = NULL, *key_file = NULL, *config = NULL, *ref = NULL;
    int strict = 0, no_deid = 0, threads = 0, quiet = 0;
    size_t mem = 0;
    const struct opt opts[] = {
        {"format", OPT_STRING, &format, "F", "fhir (Bundles), ndjson (Bulk Data) or mimic-iv"},
        {"out", OPT_STRING, &out, "STORE", "the event store folder to write (replaced atomically)"},
        {"strict", OPT_FLAG, &strict, NULL, "stop at the first bad record (default: skip, report)"},
        {"key-file", OPT_STRING, &key_file, "KEY", "de-identify with this key (medfm deid keygen)"},
        {"deid-config", OPT_STRING, &config, "CFG",
         "de-identification rules: safe-harbor (default), limited-data-set or a .json file"},
        {"reference-date", OPT_STRING, &ref, "DATE",
         "ages over 89 are grouped as of this date, YYYY-MM-DD (default: today)"},
        {"no-deid", OPT_FLAG, &no_deid, NULL, "build an identified store (never the default)"},
        {"threads", OPT_INT, &threads, "N", "parser threads (default: all cores)"},
        {"mem", OPT_SIZE, &mem, "SIZE", "event buffer before spilling to disk (default 64M)"},
        {"quiet", OPT_FLAG, &quiet, NULL, "no progress or summary on stderr"},
    };
    const struct cmd_help help = {
        "medfm ingest --format fhir|ndjson|mimic-iv --out STORE [options] PATH...",
        "Read patient records into an event store: one event per diagnosis, medication, lab,\n"
        "procedure, encounter... sorted by patient and time.  PATH is a file or a folder\n"
        "(searched recursively for .json, .ndjson or .ndjson.gz; for mimic-iv the folder that\n"
        "holds hosp/ and icu/).  Bad records are skipped, counted and listed in\n"
        "STORE.errors.ndjson; the store is written all or nothing, and a failed run leaves a\n"
        "previous store untouched.  Ingest de-identifies: patient ids become keyed pseudonyms,\n"
        "each patient's dates move by one keyed shift, ages over 89 become 90, and free text\n"
        "(notes, comments) is de-identified knowing the patient's own identifiers (MIMIC-IV\n"
        "free text is dropped); building an identified store takes an explicit --no-deid.",
        opts, sizeof opts / sizeof opts[0],
        "examples:\n"
        "  medfm deid keygen --out deid.key\n"
        "  medfm ingest --format fhir --key-file deid.key --out store synthea/fhir/\n"
        "  medfm ingest --format mimic-iv --no-deid --out mimic mimic-iv-demo-2.2/"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    struct mf_ingest_opts o = {0};
    if (format == NULL || out == NULL || npos == 0) {
        fprintf(stderr, "medfm: ingest needs --format, --out and at least one PATH\n");
        fprintf(stderr, "usage: %s\n", help.usage);
        return 2;
    }
    if (strcmp(format, "fhir") == 0)
        o.format = MF_FORMAT_FHIR;
    else if (strcmp(format, "ndjson") == 0)
        o.format = MF_FORMAT_NDJSON;
    else if (strcmp(format, "mimic-iv") == 0 || strcmp(format, "mimic") == 0)
        o.format = MF_FORMAT_MIMIC_IV;
    else {
        fprintf(stderr, "medfm: unknown format '%s' (fhir, ndjson or mimic-iv)\n", format);
        return 2;
    }
    if (key_file && no_deid) {
        fprintf(stderr, "medfm: --key-file and --no-deid contradict each other\n");
        return 2;
    }
    if ((config || ref) && !key_file) {
        fprintf(stderr, "medfm: --deid-config and --reference-date need --key-file\n");
        return 2;
    }
    struct ingest_deid x = {0};
    struct mf_ingest_deid hooks = {&x, NULL, event_hook};
    char config_sha[65];
    struct mf_err kerr = {0};
    if (key_file) {
        struct mf_deid_session_opts so = {0};
        so.key = &x.key;
        so.rules = config;
        so.text_mode = MF_DEID_MODE_SURROGATE;
        so.text_only = 1;
        if (opts_reference_date(ref, &so.reference_time) != 0)
            return 2;
        if (mf_deid_key_load(key_file, &x.key, &kerr) != 0) {
            fprintf(stderr, "medfm: %s\n", kerr.msg);
            return 1;
        }
        if (o.format == MF_FORMAT_MIMIC_IV) {
            if (config) {
                fprintf(stderr, "medfm: --deid-config applies to FHIR input only\n");
                return 2;
            }
            const char *profile = mf_deid_event_profile();
            mf_sha256_hex(profile, strlen(profile), config_sha);
        } else {
            if (mf_deid_session_open(&so, &x.session, &kerr) != 0 ||
                (o.format == MF_FORMAT_NDJSON &&
                 scan_patients(x.session, pos, (size_t)npos, &kerr) != 0)) {
                fprintf(stderr, "medfm: %s\n", kerr.msg);
                mf_deid_session_free(x.session);
                memset(&x.key, 0, sizeof x.key);
                return 1;
            }
            hooks.fhir_resource = resource_hook;
            memcpy(config_sha, mf_deid_session_config_sha256(x.session), 65);
        }
        o.deid = &hooks;
        o.deid_config_sha256 = config_sha;
    }
    if (quiet)
        mf_log_set_level(MF_LOG_WARN);
    o.paths = pos;
    o.n_paths = (size_t)npos;
    o.out = out;
    o.strict = strict;
    o.no_deid = no_deid;
    o.threads = threads;
    o.mem_limit = mem;
    struct mf_ingest_result res;
    struct mf_err err = {0};
    int failed = mf_ingest_run(&o, &res, &err) != 0;
    mf_deid_session_free(x.session);
    memset(&x.key, 0, sizeof x.key);
    if (failed) {
        fprintf(stderr, "medfm: ingest failed: %s\n", err.msg[0] ? err.msg : "unknown error");
        if (!strict && err.code == MF_EPARSE)
            fprintf(stderr, "medfm: nothing was written; any previous store is unchanged\n");
        return 1;
    }
    if (!quiet) {
        double mb = (double)res.bytes / 1e6;
        fprintf(stderr,
                "medfm: ingested %lld patients, %lld events from %lld records in %lld files "
                "(%.1f MB) in %.2f s (%.1f MB/s, %.0f events/s)\n",
                (long long)res.subjects, (long long)res.events, (long long)res.records,
                (long long)res.files, mb, res.seconds, res.seconds > 0 ? mb / res.seconds : 0,
                res.seconds > 0 ? (double)res.events / res.seconds : 0);
        int64_t bad = 0;
        for (int k = 0; k < MF_ISSUE__COUNT; k++)
            bad += res.issues[k];
        if (bad) {
            fprintf(stderr, "medfm: %lld issues, %lld records skipped:", (long long)bad,
                    (long long)res.skipped);
            for (int k = 0; k < MF_ISSUE__COUNT; k++)
                if (res.issues[k])
                    fprintf(stderr, " %s %lld", mf_issue_kind_name((enum mf_issue_kind)k),
                            (long long)res.issues[k]);
            fprintf(stderr, "; see '%s.errors.ndjson'\n", out);
        }
    }
    return 0;
}
