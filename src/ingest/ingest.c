/* ingest.c - the ingest driver: finds input files, runs a format's parser on every core,
 * collects bad-input issues into an error report, and commits the store atomically.
 *
 * Parsers see one struct mf_ingest_ctx per thread (ingest.h).  The de-identification seam is
 * here too: mf_ingest_emit hands every event to the de-identification hook before the store
 * sees it.
 */
#include "ingest/ingest.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "core/fs.h"
#include "core/json.h"
#include "core/log.h"
#include "core/progress.h"
#include "store/store.h"

/* The error report: counts per kind and one NDJSON line per issue in a temporary file. */
struct mf_ingest_log {
    pthread_mutex_t mu;
    FILE *f;
    char *path, *tmp_path;
    int64_t counts[MF_ISSUE__COUNT];
    int64_t total;
    int printed;
};

static const char *const kind_names[MF_ISSUE__COUNT] = {
    "json",      "resource-type", "missing-field", "bad-date", "bad-value", "code-system",
    "reference", "compression",   "csv-columns",   "too-big",  "io"};

const char *mf_issue_kind_name(enum mf_issue_kind kind)
{
    return (unsigned)kind < MF_ISSUE__COUNT ? kind_names[kind] : "unknown";
}

void mf_ingest_begin_record(struct mf_ingest_ctx *c)
{
    c->mark = mf_store_batch_mark(c->out);
    c->record_bad = 0;
}

int mf_ingest_emit(struct mf_ingest_ctx *c, const struct mf_event *ev)
{
    struct mf_event e = *ev;
    if (c->record_bad)
        return 0;
    if (c->deid && c->deid->event) {
        mf_buf_reset(&c->scratch);
        int rc = c->deid->event(c->deid->ctx, &e, &c->scratch, &c->err);
        if (rc)
            return rc;
    }
    struct mf_issue_loc loc = {c->file, c->line, c->offset, NULL};
    if (e.subject_len == 0 || e.code_len == 0)
        return mf_ingest_issue(c, MF_ISSUE_MISSING_FIELD, &loc, "event without a %s",
                               e.subject_len == 0 ? "patient id" : "code");
    if (e.subject_len > MF_MAX_SUBJECT_LEN || e.code_len > MF_MAX_CODE_LEN ||
        (e.unit && e.unit_len > MF_MAX_UNIT_LEN) || (e.text && e.text_len > MF_MAX_TEXT_LEN))
        return mf_ingest_issue(c, MF_ISSUE_TOO_BIG, &loc,
                               "an id, code, unit or text is longer "
                               "than medfm's limit");
    int rc = mf_store_batch_add(c->out, &e);
    if (rc)
        return mf_err_set(&c->err, rc, "cannot buffer events: %s", mf_strerror(rc));
    c->events++;
    return 0;
}

void mf_ingest_drop_record(struct mf_ingest_ctx *c)
{
    size_t now = mf_store_batch_mark(c->out);
    if (now > c->mark)
        mf_store_batch_rollback(c->out, c->mark);
    c->skipped++;
    c->record_bad = 0;
}

int mf_ingest_end_record(struct mf_ingest_ctx *c)
{
    if (c->record_bad) {
        mf_ingest_drop_record(c);
        return 0;
    }
    if (mf_store_batch_mark(c->out) > c->mark)
        c->records++;
    return mf_store_batch_maybe_spill(c->out, &c->err);
}

/* "'file': line 3, byte 120: Patient.birthDate: " */
static void format_loc(char *out, size_t n, const struct mf_issue_loc *loc)
{
    size_t k = 0;
    out[0] = '\0';
    if (loc->file)
        k += (size_t)snprintf(out + k, n - k, "'%s': ", loc->file);
    if (k < n && loc->line > 0)
        k += (size_t)snprintf(out + k, n - k, "line %lld%s", (long long)loc->line,
                              loc->offset >= 0 ? ", " : ": ");
    if (k < n && loc->offset >= 0)
        k += (size_t)snprintf(out + k, n - k, "byte %lld: ", (long long)loc->offset);
    if (k < n && loc->path)
        snprintf(out + k, n - k, "%s: ", loc->path);
}

int mf_ingest_issue(struct mf_ingest_ctx *c, enum mf_issue_kind kind,
                    const struct mf_issue_loc *loc, const char *fmt, ...)
{
    char msg[512], where[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->record_bad = 1;
    struct mf_ingest_log *lg = c->log;
    if (lg) {
        struct mf_buf line = MF_BUF_INIT;
        mf_buf_printf(&line, "{\"kind\":\"%s\",\"file\":", mf_issue_kind_name(kind));
        if (loc->file) {
            mf_buf_putc(&line, '"');
            mf_buf_json_escape(&line, loc->file, strlen(loc->file));
            mf_buf_putc(&line, '"');
        } else {
            mf_buf_puts(&line, "null");
        }
        if (loc->line > 0)
            mf_buf_printf(&line, ",\"line\":%lld", (long long)loc->line);
        else
            mf_buf_puts(&line, ",\"line\":null");
        if (loc->offset >= 0)
            mf_buf_printf(&line, ",\"offset\":%lld", (long long)loc->offset);
        else
            mf_buf_puts(&line, ",\"offset\":null");
        mf_buf_puts(&line, ",\"path\":");
        if (loc->path) {
            mf_buf_putc(&line, '"');
            mf_buf_json_escape(&line, loc->path, strlen(loc->path));
            mf_buf_putc(&line, '"');
        } else {
            mf_buf_puts(&line, "null");
        }
        mf_buf_puts(&line, ",\"message\":\"");
        mf_buf_json_escape(&line, msg, strlen(msg));
        mf_buf_puts(&line, "\"}\n");
        pthread_mutex_lock(&lg->mu);
        if ((unsigned)kind < MF_ISSUE__COUNT)
            lg->counts[kind]++;
        lg->total++;
        if (lg->f && line.data)
            fputs(line.data, lg->f);
        int show = !c->strict && lg->printed < 5;
        if (show)
            lg->printed++;
        pthread_mutex_unlock(&lg->mu);
        mf_buf_release(&line);
        if (show) {
            format_loc(where, sizeof where, loc);
            mf_log_warn("skipped: %s%s (%s)", where, msg, mf_issue_kind_name(kind));
        }
    }
    if (!c->strict)
        return 0;
    format_loc(where, sizeof where, loc);
    mf_err_set(&c->err, MF_EPARSE, "%s%s (%s)", where, msg, mf_issue_kind_name(kind));
    return MF_EPARSE;
}

static int log_open(struct mf_ingest_log *lg, const char *out, struct mf_err *err)
{
    memset(lg, 0, sizeof *lg);
    pthread_mutex_init(&lg->mu, NULL);
    size_t n = strlen(out) + 48;
    lg->path = malloc(n);
    lg->tmp_path = malloc(n);
    if (!lg->path || !lg->tmp_path)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    snprintf(lg->path, n, "%s.errors.ndjson", out);
    /* named like the store writer's temporary folder, so a killed run's file is cleaned up */
    snprintf(lg->tmp_path, n, "%s.tmp-%ld.errors.ndjson", out, (long)getpid());
    lg->f = fopen(lg->tmp_path, "w");
    if (lg->f == NULL)
        return mf_err_set(err, MF_EIO, "cannot create '%s': %s", lg->tmp_path, strerror(errno));
    return 0;
}

/* Put the report in place after a successful commit (or remove a stale one). */
static int log_finish(struct mf_ingest_log *lg, int keep, struct mf_err *err)
{
    int rc = 0;
    if (lg->f && fclose(lg->f) != 0 && keep)
        rc = mf_err_set(err, MF_EIO, "cannot write '%s'", lg->tmp_path);
    lg->f = NULL;
    if (rc == 0 && keep && lg->total > 0) {
        if (rename(lg->tmp_path, lg->path) != 0)
            rc = mf_err_set(err, MF_EIO, "cannot write '%s': %s", lg->path, strerror(errno));
    } else if (!keep && lg->total > 0) {
        /* a failed run: its issues go beside the report of the store it did not replace */
        size_t n = strlen(lg->path) + 16;
        char *failed = malloc(n);
        if (failed) {
            snprintf(failed, n, "%.*s.failed.ndjson", (int)(strlen(lg->path) - 7), lg->path);
            if (rename(lg->tmp_path, failed) == 0)
                mf_log_warn("the issues of this failed run are listed in '%s'", failed);
            else
                unlink(lg->tmp_path);
            free(failed);
        }
    } else {
        unlink(lg->tmp_path);
        if (keep)
            unlink(lg->path); /* it described the store being replaced */
    }
    return rc;
}

static void log_free(struct mf_ingest_log *lg)
{
    if (lg->f) {
        fclose(lg->f);
        unlink(lg->tmp_path);
    }
    free(lg->path);
    free(lg->tmp_path);
    pthread_mutex_destroy(&lg->mu);
}

static const char *format_name(enum mf_ingest_format f)
{
    switch (f) {
    case MF_FORMAT_FHIR:
        return "fhir";
    case MF_FORMAT_NDJSON:
        return "ndjson";
    case MF_FORMAT_MIMIC_IV:
        return "mimic-iv";
    }
    return "unknown";
}

static int first_error(struct mf_ingest_ctx *ctxs, int n, struct mf_err *err)
{
    for (int t = 0; t < n; t++)
        if (ctxs[t].err.code)
            return mf_err_set(err, ctxs[t].err.code, "%s", ctxs[t].err.msg);
    return 0;
}

/* FHIR JSON documents, one per file, spread over the threads. */
/* stop: set after the first hard error (or the first issue under --strict) so the other
 * threads stop taking work. */
static int run_fhir(struct mf_ingest_ctx *ctxs, int n, const struct mf_strlist *files,
                    struct mf_progress *prog, int *stop)
{
#pragma omp parallel for schedule(dynamic, 1) num_threads(n)
    for (size_t i = 0; i < files->n; i++) {
        if (__atomic_load_n(stop, __ATOMIC_RELAXED))
            continue;
        struct mf_ingest_ctx *c = &ctxs[omp_get_thread_num()];
        struct mf_buf data = MF_BUF_INIT;
        struct mf_err e = {0};
        c->file = files->items[i];
        c->line = 0;
        c->offset = -1;
        int rc = mf_fs_read_file(files->items[i], (size_t)2 << 30, &data, &e);
        if (rc) {
            struct mf_issue_loc loc = {files->items[i], 0, -1, NULL};
            rc = mf_ingest_issue(c, rc == MF_ETOOBIG ? MF_ISSUE_TOO_BIG : MF_ISSUE_IO, &loc,
                                 "cannot read the file");
            c->record_bad = 0;
        } else {
            rc = mf_fhir_ingest_json(c, files->items[i], data.data, data.len);
            mf_progress_add(prog, (int64_t)data.len);
        }
        mf_buf_release(&data);
        if (rc) {
            if (c->err.code == 0)
                mf_err_set(&c->err, rc, "'%s': %s", files->items[i], mf_strerror(rc));
            __atomic_store_n(stop, 1, __ATOMIC_RELAXED);
        }
    }
    return 0;
}

/* One line of an NDJSON chunk. */
struct line {
    size_t off, len;
    int64_t lineno, byte;
};

/* FHIR Bulk Data NDJSON: each file is read in chunks of whole lines; a chunk's lines are
 * parsed on every thread. */
static int run_ndjson(struct mf_ingest_ctx *ctxs, int n, const struct mf_strlist *files,
                      struct mf_progress *prog, int *stop, struct mf_err *err)
{
    const size_t chunk_bytes = (size_t)16 << 20;
    struct mf_buf chunk = MF_BUF_INIT;
    struct line *lines = NULL;
    size_t nl = 0, cap = 0;
    int rc = 0;
    for (size_t fi = 0; fi < files->n && rc == 0 && !__atomic_load_n(stop, __ATOMIC_RELAXED);
         fi++) {
        struct mf_reader r;
        const char *file = files->items[fi];
        if ((rc = mf_reader_open(&r, file, err)) != 0)
            break;
        for (int done = 0; !done && rc == 0 && !__atomic_load_n(stop, __ATOMIC_RELAXED);) {
            mf_buf_reset(&chunk);
            nl = 0;
            int64_t start_off = r.offset;
            while (chunk.len < chunk_bytes) {
                char *s;
                size_t k;
                struct mf_err e = {0};
                int64_t byte = r.offset;
                int got = mf_reader_line(&r, &s, &k, &e);
                if (got < 0) {
                    struct mf_issue_loc loc = {file, r.line + 1, r.offset, NULL};
                    rc = mf_ingest_issue(&ctxs[0],
                                         got == MF_EPARSE    ? MF_ISSUE_COMPRESSION
                                         : got == MF_ETOOBIG ? MF_ISSUE_TOO_BIG
                                                             : MF_ISSUE_IO,
                                         &loc, "%s",
                                         got == MF_EPARSE
                                             ? "compressed data ends early or is corrupt"
                                         : got == MF_ETOOBIG ? "line too long"
                                                             : "cannot read the file");
                    ctxs[0].record_bad = 0;
                    done = 1;
                    break;
                }
                if (got == 0) {
                    done = 1;
                    break;
                }
                if (k == 0 || (k == 1 && s[0] == '\r'))
                    continue; /* blank lines are allowed between resources */
                if (nl == cap) {
                    cap = cap ? cap * 2 : 4096;
                    struct line *p = realloc(lines, cap * sizeof *p);
                    if (p == NULL) {
                        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
                        break;
                    }
                    lines = p;
                }
                lines[nl].off = chunk.len;
                lines[nl].len = k;
                lines[nl].lineno = r.line;
                lines[nl].byte = byte;
                nl++;
                if (mf_buf_append(&chunk, s, k) || mf_buf_putc(&chunk, '\0')) {
                    rc = mf_err_set(err, MF_ENOMEM, "out of memory");
                    break;
                }
            }
            if (rc)
                break;
#pragma omp parallel for schedule(dynamic, 64) num_threads(n)
            for (size_t i = 0; i < nl; i++) {
                if (__atomic_load_n(stop, __ATOMIC_RELAXED))
                    continue;
                struct mf_ingest_ctx *c = &ctxs[omp_get_thread_num()];
                c->file = file;
                c->line = lines[i].lineno;
                c->offset = lines[i].byte;
                int r2 = mf_fhir_ingest_ndjson_line(c, file, lines[i].lineno, lines[i].byte,
                                                    chunk.data + lines[i].off, lines[i].len);
                if (r2) {
                    if (c->err.code == 0)
                        mf_err_set(&c->err, r2, "'%s': line %lld: %s", file,
                                   (long long)lines[i].lineno, mf_strerror(r2));
                    __atomic_store_n(stop, 1, __ATOMIC_RELAXED);
                }
            }
            mf_progress_add(prog, r.offset - start_off);
        }
        mf_reader_close(&r);
    }
    mf_buf_release(&chunk);
    free(lines);
    return rc;
}

static int list_inputs(const struct mf_ingest_opts *o, struct mf_strlist *files, int64_t *bytes,
                       struct mf_err *err)
{
    static const char *const json_sfx[] = {".json", NULL};
    static const char *const ndjson_sfx[] = {".ndjson", ".ndjson.gz", NULL};
    const char *const *sfx = o->format == MF_FORMAT_FHIR ? json_sfx : ndjson_sfx;
    for (size_t i = 0; i < o->n_paths; i++) {
        size_t before = files->n;
        int rc = 0;
        if (o->format == MF_FORMAT_NDJSON && mf_fs_is_dir(o->paths[i]))
            rc = mf_json_bulk_export_files(o->paths[i], files, err);
        if (rc < 0)
            return rc;
        if (rc == 0 && (rc = mf_fs_list(o->paths[i], sfx, files, err)) != 0)
            return rc;
        if (files->n == before)
            return mf_err_set(err, MF_ENOTFOUND, "no %s files found in '%s'",
                              o->format == MF_FORMAT_FHIR ? "FHIR .json" : ".ndjson", o->paths[i]);
    }
    *bytes = 0;
    for (size_t i = 0; i < files->n; i++) {
        struct stat st;
        if (stat(files->items[i], &st) == 0)
            *bytes += st.st_size;
    }
    return 0;
}

int mf_ingest_run(const struct mf_ingest_opts *o, struct mf_ingest_result *res, struct mf_err *err)
{
    struct mf_ingest_result tmp_res;
    if (res == NULL)
        res = &tmp_res;
    memset(res, 0, sizeof *res);
    if (o->out == NULL || o->out[0] == '\0')
        return mf_err_set(err, MF_EINVAL, "no output store given");
    if (o->n_paths == 0)
        return mf_err_set(err, MF_EINVAL, "no input given");
    if (!o->no_deid && (o->deid == NULL || (!o->deid->event && !o->deid->fhir_resource)))
        return mf_err_set(err, MF_EINVAL,
                          "ingest de-identifies by default: pass --key-file KEY (make one with "
                          "'medfm deid keygen'), or --no-deid to build an identified store "
                          "knowingly");
    if (o->format == MF_FORMAT_MIMIC_IV && o->n_paths != 1)
        return mf_err_set(err, MF_EINVAL, "mimic-iv takes exactly one folder");

    double t0 = mf_now();
    int n = o->threads > 0 ? o->threads : omp_get_max_threads();
    if (n > 256)
        n = 256;
    struct mf_strlist files = {0};
    struct mf_store_writer *w = NULL;
    struct mf_ingest_ctx *ctxs = NULL;
    struct mf_ingest_log lg;
    struct mf_progress prog;
    int rc = 0, log_ok = 0;
    int stop = 0;

    if (o->format == MF_FORMAT_MIMIC_IV) {
        if (!mf_fs_is_dir(o->paths[0])) {
            rc = mf_err_set(err, MF_ENOTFOUND, "'%s' is not a folder", o->paths[0]);
            goto out;
        }
        static const char *const tables[] = {".csv", ".csv.gz", NULL};
        if (mf_fs_list(o->paths[0], tables, &files, err) == 0)
            for (size_t i = 0; i < files.n; i++) {
                struct stat st;
                if (stat(files.items[i], &st) == 0)
                    res->bytes += st.st_size;
            }
        mf_err_clear(err);
        res->files = (int64_t)files.n;
        mf_strlist_free(&files);
    } else {
        if ((rc = list_inputs(o, &files, &res->bytes, err)) != 0)
            goto out;
        res->files = (int64_t)files.n;
    }
    /* the writer first: it removes what killed runs left, then the report starts */
    struct mf_store_writer_opts wo = {o->mem_limit, 0, 0};
    if ((rc = mf_store_writer_open(&w, o->out, n, &wo, err)) != 0)
        goto out;
    log_ok = 1;
    if ((rc = log_open(&lg, o->out, err)) != 0)
        goto out;
    ctxs = calloc((size_t)n, sizeof *ctxs);
    if (ctxs == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    for (int t = 0; t < n; t++) {
        ctxs[t].out = mf_store_writer_batch(w, t);
        ctxs[t].log = &lg;
        ctxs[t].deid = o->no_deid ? NULL : o->deid;
        ctxs[t].strict = o->strict;
        ctxs[t].offset = -1;
    }

    mf_progress_start(&prog, "ingest", "bytes", res->bytes);
    switch (o->format) {
    case MF_FORMAT_FHIR:
        rc = run_fhir(ctxs, n, &files, &prog, &stop);
        break;
    case MF_FORMAT_NDJSON:
        rc = run_ndjson(ctxs, n, &files, &prog, &stop, err);
        break;
    case MF_FORMAT_MIMIC_IV:
        rc = mf_mimic_ingest_dir(ctxs, n, o->paths[0], err);
        break;
    }
    mf_progress_finish(&prog);
    if (rc == 0)
        rc = first_error(ctxs, n, err);
    else
        first_error(ctxs, n, err);
    if (rc)
        goto out;
    for (int t = 0; t < n; t++) {
        res->records += ctxs[t].records;
        res->events += ctxs[t].events;
        res->skipped += ctxs[t].skipped;
    }
    for (int k = 0; k < MF_ISSUE__COUNT; k++)
        res->issues[k] = lg.counts[k];
    if (res->events == 0) {
        rc = mf_err_set(err, MF_EPARSE, "no events could be read from the input (%lld issues)",
                        (long long)lg.total);
        goto out;
    }

    cJSON *src = cJSON_CreateObject();
    cJSON_AddStringToObject(src, "format", format_name(o->format));
    cJSON_AddNumberToObject(src, "files", (double)res->files);
    cJSON_AddNumberToObject(src, "bytes", (double)res->bytes);
    cJSON_AddNumberToObject(src, "records", (double)res->records);
    cJSON_AddNumberToObject(src, "events", (double)res->events);
    cJSON_AddNumberToObject(src, "skipped", (double)res->skipped);
    cJSON *issues = cJSON_AddObjectToObject(src, "issues");
    for (int k = 0; k < MF_ISSUE__COUNT; k++)
        if (lg.counts[k])
            cJSON_AddNumberToObject(issues, mf_issue_kind_name((enum mf_issue_kind)k),
                                    (double)lg.counts[k]);
    mf_store_writer_add_source(w, src);
    mf_store_writer_set_deid(w, o->no_deid              ? NULL
                                : o->deid_config_sha256 ? o->deid_config_sha256
                                                        : "unknown");
    if ((rc = mf_store_writer_commit(w, err)) != 0)
        goto out;
    res->subjects = (int64_t)mf_store_writer_patients(w);
    rc = log_finish(&lg, 1, err);
out:
    if (log_ok) {
        if (rc)
            log_finish(&lg, 0, NULL);
        log_free(&lg);
    }
    for (int t = 0; ctxs && t < n; t++)
        mf_buf_release(&ctxs[t].scratch);
    free(ctxs);
    mf_store_writer_free(w);
    mf_strlist_free(&files);
    res->seconds = mf_now() - t0;
    return rc;
}
