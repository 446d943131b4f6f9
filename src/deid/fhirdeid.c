/* fhirdeid.c - the de-identification session, per-thread workers, and the `deid fhir` driver
 * (see fhirdeid.h).
 *
 * The driver is a pipeline: the calling thread reads the inputs in order and cuts them into
 * tasks (a whole Bundle file, or a block of NDJSON lines), worker threads de-identify tasks,
 * and the calling thread appends finished tasks to the output files strictly in task order, so
 * the output does not depend on the number of threads.
 */
#include "deid/fhirdeid.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/strmap.h"
#include "core/timeutil.h"
#include "deid/rules.h"
#include "deid/tagger.h"

#define BLOCK_BYTES     ((size_t)4 << 20)   /* NDJSON lines per task */
#define DOC_MAX_BYTES   ((size_t)1 << 30)   /* largest Bundle file */
#define LINE_MAX_LEN    ((size_t)256 << 20) /* longest NDJSON line */
#define OUT_BUF_BYTES   ((size_t)1 << 20)   /* stdio buffer of each output file */
#define WRITEBACK_BYTES ((int64_t)8 << 20)  /* start writing a file to disk every 8 MiB */

/* --- session ------------------------------------------------------------------------------- */

struct mf_deid_session {
    struct mf_deid_key key;
    enum mf_deid_text_mode text_mode;
    int64_t reference_time;
    struct mf_deid_rules *rules;
    struct mf_deid_lexicon *lex;
    struct mf_strmap patients; /* source id -> offset of its identity JSON in blob */
    struct mf_buf blob;        /* [uint32 length][identity JSON]... */
    char sha[65];
    uint64_t serial; /* unique per session in the process, for per-thread workers */
    int text_only;
};

/* The parts of a Patient that identify it, as a small JSON object (references to the original
 * items, printed). */
static int identity_json(const cJSON *p, struct mf_buf *out)
{
    static const char *const keys[] = {"resourceType", "id",      "name",      "identifier",
                                       "telecom",      "address", "birthDate", "contact"};
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return MF_ENOMEM;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(p, keys[i]);
        if (v && !cJSON_AddItemReferenceToObject(o, keys[i], v)) {
            cJSON_Delete(o);
            return MF_ENOMEM;
        }
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        return MF_ENOMEM;
    int rc = mf_buf_puts(out, s);
    cJSON_free(s);
    return rc ? MF_ENOMEM : 0;
}

int mf_deid_session_open(const struct mf_deid_session_opts *o, struct mf_deid_session **out,
                         struct mf_err *err)
{
    *out = NULL;
    if (o->key == NULL)
        return mf_err_set(err, MF_EINVAL, "de-identification needs a key");
    if (o->text_mode == MF_DEID_MODE_TAG)
        return mf_err_set(err, MF_EINVAL, "FHIR text is redacted or replaced, not tagged");
    struct mf_deid_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    s->key = *o->key;
    s->text_mode = o->text_mode;
    s->reference_time = o->reference_time;
    s->text_only = o->text_only;
    static uint64_t serials;
    s->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
    mf_strmap_init(&s->patients);
    int rc = mf_deid_rules_load(o->rules ? o->rules : "safe-harbor", &s->rules, err);
    if (rc == 0)
        rc = mf_deid_lexicon_load(o->lexicon_dir, &s->lex, err);
    if (rc == 0) {
        char ref[32];
        mf_time_format(o->reference_time, ref);
        struct mf_buf b = MF_BUF_INIT;
        mf_buf_printf(&b, "rules %s\ntext %s%s\nreference %.10s\n%s\n",
                      mf_deid_rules_sha256(s->rules),
                      o->text_mode == MF_DEID_MODE_REDACT ? "redact" : "surrogate",
                      o->text_only ? " (text rules only)" : "", ref, mf_deid_event_profile());
        mf_sha256_hex(b.data, b.len, s->sha);
        mf_buf_release(&b);
    }
    if (rc) {
        mf_deid_session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void mf_deid_session_free(struct mf_deid_session *s)
{
    if (s == NULL)
        return;
    mf_deid_rules_free(s->rules);
    mf_deid_lexicon_free(s->lex);
    mf_strmap_free(&s->patients);
    mf_buf_release(&s->blob);
    memset(&s->key, 0, sizeof s->key);
    free(s);
}

const char *mf_deid_session_config_sha256(const struct mf_deid_session *s)
{
    return s->sha;
}

const char *mf_deid_session_rules_name(const struct mf_deid_session *s)
{
    return mf_deid_rules_name(s->rules);
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static int is_ndjson(const char *path);

int mf_deid_session_scan_files(struct mf_deid_session *s, const char *const *paths, size_t n,
                               struct mf_err *err)
{
    size_t named = 0;
    for (size_t i = 0; i < n; i++)
        named += is_ndjson(paths[i]) && strncmp(base_name(paths[i]), "Patient", 7) == 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (is_ndjson(paths[i]) && (named == 0 || strncmp(base_name(paths[i]), "Patient", 7) == 0))
            rc = mf_deid_session_scan_ndjson(s, paths[i], err);
    return rc;
}

size_t mf_deid_session_patients(const struct mf_deid_session *s)
{
    return s->patients.n;
}

int mf_deid_session_add_patient(struct mf_deid_session *s, const cJSON *patient)
{
    const char *id = mf_json_str(patient, "id");
    if (id == NULL || id[0] == '\0')
        return 0;
    size_t off = s->blob.len;
    uint32_t len = 0;
    if (mf_buf_append(&s->blob, &len, sizeof len) != 0 || identity_json(patient, &s->blob) != 0)
        return MF_ENOMEM;
    if (s->blob.data == NULL)
        return MF_ENOMEM;
    len = (uint32_t)(s->blob.len - off - sizeof len);
    memcpy(s->blob.data + off, &len, sizeof len);
    int added;
    struct mf_strmap_slot *slot = mf_strmap_upsert(&s->patients, id, strlen(id), &added);
    if (slot == NULL)
        return MF_ENOMEM;
    slot->value = off; /* a later Patient with the same id wins */
    return 0;
}

/* Whether an NDJSON line may hold a Patient (a cheap test before parsing). */
static int maybe_patient(const char *s, size_t n)
{
    static const char pat[] = "\"Patient\"";
    for (size_t i = 0; i + sizeof pat - 1 <= n; i++)
        if (s[i] == '"' && memcmp(s + i, pat, sizeof pat - 1) == 0)
            return 1;
    return 0;
}

int mf_deid_session_scan_ndjson(struct mf_deid_session *s, const char *path, struct mf_err *err)
{
    struct mf_reader r;
    int rc = mf_reader_open(&r, path, err);
    if (rc)
        return rc;
    r.max_line = LINE_MAX_LEN;
    char *line;
    size_t n;
    while ((rc = mf_reader_line(&r, &line, &n, err)) == 1) {
        if (!maybe_patient(line, n))
            continue;
        cJSON *j = mf_json_parse(line, n, NULL);
        const char *t = mf_json_str(j, "resourceType");
        if (t && strcmp(t, "Patient") == 0 && mf_deid_session_add_patient(s, j) != 0)
            rc = mf_err_set(err, MF_ENOMEM, "out of memory reading '%s'", path);
        if (j)
            mf_json_release(j);
        if (rc < 0)
            break;
    }
    mf_reader_close(&r);
    return rc < 0 ? rc : 0;
}

/* --- ages over 89 ------------------------------------------------------------------------ */

/* Parse a FHIR date's parts: y, and m / d when present (prec 1, 2, 3). */
static int date_parts(const char *s, int64_t *y, unsigned *m, unsigned *d, int *prec)
{
    size_t n = strlen(s);
    int64_t t;
    if (n < 4 || mf_time_parse(s, n, &t) != 0)
        return MF_EPARSE;
    *prec = n >= 10 ? 3 : n >= 7 ? 2 : 1;
    int64_t yy;
    unsigned mm, dd;
    mf_civil_from_days(t >= 0 ? t / MF_USEC_PER_DAY
                              : -((-t + MF_USEC_PER_DAY - 1) / MF_USEC_PER_DAY),
                       &yy, &mm, &dd);
    *y = yy;
    *m = mm;
    *d = dd;
    return 0;
}

int mf_deid_cap_age(cJSON *patient, int64_t ref)
{
    cJSON *b = cJSON_GetObjectItemCaseSensitive(patient, "birthDate");
    if (!cJSON_IsString(b))
        return 0;
    int64_t by, ry;
    unsigned bm, bd, rm, rd;
    int prec, rprec;
    if (date_parts(b->valuestring, &by, &bm, &bd, &prec) != 0)
        return MF_EPARSE;
    const char *dead = mf_json_str(patient, "deceasedDateTime");
    int64_t dt;
    if (dead && mf_time_parse(dead, strlen(dead), &dt) == 0 && dt < ref)
        ref = dt;
    char tmp[32];
    mf_time_format(ref, tmp);
    if (date_parts(tmp, &ry, &rm, &rd, &rprec) != 0)
        return 0;
    /* Age in whole years at ref; a partial birth date counts from its first day. */
    int64_t age = ry - by - ((rm < bm || (rm == bm && rd < bd)) ? 1 : 0);
    if (age < 90)
        return 0;
    int64_t ny = ry - 90;
    unsigned nd = rd;
    if (rm == 2 && rd == 29)
        nd = 28; /* 90 years earlier may not be a leap year */
    char out[48];
    if (prec == 1)
        snprintf(out, sizeof out, "%04lld", (long long)ny);
    else if (prec == 2)
        snprintf(out, sizeof out, "%04lld-%02u", (long long)ny, rm);
    else
        snprintf(out, sizeof out, "%04lld-%02u-%02u", (long long)ny, rm, nd);
    if (cJSON_SetValuestring(b, out) == NULL)
        return MF_ENOMEM;
    return 1;
}

/* --- which patient a resource belongs to --------------------------------------------------- */

int mf_deid_patient_ref(const char *ref, const char **id, size_t *n)
{
    size_t len = strlen(ref);
    const char *h = strstr(ref, "/_history/");
    if (h)
        len = (size_t)(h - ref);
    const char *slash = NULL;
    for (size_t i = len; i > 0; i--)
        if (ref[i - 1] == '/') {
            slash = ref + i - 1;
            break;
        }
    if (slash == NULL || slash - ref < 7 || memcmp(slash - 7, "Patient", 7) != 0 ||
        (slash - 7 > ref && slash[-8] != '/'))
        return 0;
    *id = slash + 1;
    *n = len - (size_t)(slash + 1 - ref);
    return *n > 0;
}

int mf_deid_resource_subject(const cJSON *r,
                             const char *(*lookup)(void *arg, const char *ref, size_t *n),
                             void *arg, const char **id, size_t *n)
{
    const char *t = mf_json_str(r, "resourceType");
    if (t && strcmp(t, "Patient") == 0) {
        const char *pid = mf_json_str(r, "id");
        if (pid == NULL || pid[0] == '\0')
            return 0;
        *id = pid;
        *n = strlen(pid);
        return 1;
    }
    static const char *const keys[] = {"subject", "patient", "beneficiary"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *ref = mf_json_str(mf_json_obj(r, keys[i]), "reference");
        if (ref == NULL)
            continue;
        if (strncmp(ref, "urn:", 4) == 0) {
            const char *got = lookup ? lookup(arg, ref, n) : NULL;
            if (got) {
                *id = got;
                return 1;
            }
            continue;
        }
        if (mf_deid_patient_ref(ref, id, n))
            return 1;
    }
    return 0;
}

/* --- worker -------------------------------------------------------------------------------- */

struct mf_deid_worker {
    struct mf_deid_session *s;
    struct mf_deid_tagger *tagger;
    struct mf_deid_context *ctx;
    struct mf_deid_entities ents;
    struct mf_buf subject; /* the patient whose identifiers ctx holds */
    int have_ctx;
    int64_t shift;   /* the date shift of the patient in subject */
    int capped;      /* the last resource was a Patient whose age was capped */
    uint64_t serial; /* the session's */
    /* a Bundle's fullUrl -> "Type/id" map and its own Patients, reused across Bundles */
    struct mf_strmap urls, pats;
    struct mf_buf urlvals, ids;
    struct mf_deid_subject subj;
};

struct mf_deid_worker *mf_deid_worker_new(struct mf_deid_session *s)
{
    struct mf_deid_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->s = s;
    w->serial = s->serial;
    mf_strmap_init(&w->urls);
    mf_strmap_init(&w->pats);
    w->tagger = mf_deid_tagger_new(s->lex);
    w->ctx = mf_deid_context_new();
    if (w->tagger == NULL || w->ctx == NULL) {
        mf_deid_worker_free(w);
        return NULL;
    }
    return w;
}

void mf_deid_worker_free(struct mf_deid_worker *w)
{
    if (w == NULL)
        return;
    mf_deid_tagger_free(w->tagger);
    mf_deid_context_free(w->ctx);
    mf_deid_entities_free(&w->ents);
    mf_buf_release(&w->subject);
    mf_strmap_free(&w->urls);
    mf_strmap_free(&w->pats);
    mf_buf_release(&w->urlvals);
    mf_buf_release(&w->ids);
    free(w);
}

static int worker_text(void *arg, const char *in, size_t n, struct mf_buf *out, struct mf_err *err)
{
    struct mf_deid_worker *w = arg;
    return mf_deid_text_apply(w->tagger, w->s->lex, w->ctx, &w->subj, w->s->text_mode, in, n,
                              &w->ents, out, err);
}

/* Load the identifiers of the patient into the worker's context (cached per patient). */
static int worker_context(struct mf_deid_worker *w, const char *subject, size_t n,
                          const cJSON *patient)
{
    if (w->have_ctx && w->subject.len == n && memcmp(w->subject.data, subject, n) == 0)
        return 0;
    mf_deid_context_clear(w->ctx);
    mf_buf_reset(&w->subject);
    w->have_ctx = 0;
    w->shift = mf_deid_shift(&w->s->key, subject, n);
    if (mf_buf_append(&w->subject, subject, n) != 0)
        return MF_ENOMEM;
    int rc = 0;
    if (patient) {
        rc = mf_deid_context_add_fhir(w->ctx, patient);
    } else {
        const struct mf_strmap_slot *slot = mf_strmap_get(&w->s->patients, subject, n);
        if (slot) {
            uint32_t len;
            memcpy(&len, w->s->blob.data + slot->value, sizeof len);
            cJSON *j = mf_json_parse(w->s->blob.data + slot->value + sizeof len, len, NULL);
            if (j) {
                rc = mf_deid_context_add_fhir(w->ctx, j);
                mf_json_release(j);
            }
        }
    }
    w->have_ctx = rc == 0;
    return rc;
}

int mf_deid_worker_resource(struct mf_deid_worker *w, cJSON *r, const char *subject,
                            size_t subject_len, const cJSON *patient, struct mf_err *err)
{
    struct mf_deid_session *s = w->s;
    const char *t = mf_json_str(r, "resourceType");
    w->capped = 0;
    if (t && strcmp(t, "Patient") == 0) {
        int rc = mf_deid_cap_age(r, s->reference_time);
        if (rc < 0)
            return mf_err_set(err, MF_EPARSE, "Patient.birthDate is not a FHIR date");
        w->capped = rc;
    }
    if (subject == NULL) {
        subject = "";
        subject_len = 0;
    }
    if (worker_context(w, subject, subject_len, patient) != 0)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    /* the worker's own copy of the id: the rules rewrite the tree the caller's points into */
    w->subj.key = &s->key;
    w->subj.id = w->subject.data;
    w->subj.id_len = w->subject.len;
    w->subj.shift = w->shift; /* computed when the context changed to this patient */
    struct mf_deid_apply a = {&s->key, w->subj.shift, worker_text, w, s->text_only};
    return mf_deid_rules_apply(s->rules, &a, r, err);
}

/* A worker per thread for mf_deid_session_hook, freed when the thread exits. */
static pthread_key_t hook_key;
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;
static _Thread_local struct mf_deid_worker *hook_worker;

static void hook_worker_free(void *w)
{
    mf_deid_worker_free(w);
}

static void hook_key_make(void)
{
    pthread_key_create(&hook_key, hook_worker_free);
}

int mf_deid_session_hook(struct mf_deid_session *s, cJSON *r, const char *subject, size_t n,
                         struct mf_err *err)
{
    pthread_once(&hook_once, hook_key_make);
    if (hook_worker && (hook_worker->s != s || hook_worker->serial != s->serial)) {
        mf_deid_worker_free(hook_worker);
        hook_worker = NULL;
        pthread_setspecific(hook_key, NULL);
    }
    if (hook_worker == NULL) {
        hook_worker = mf_deid_worker_new(s);
        if (hook_worker == NULL)
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        pthread_setspecific(hook_key, hook_worker);
    }
    return mf_deid_worker_resource(hook_worker, r, subject, n, NULL, err);
}

/* --- the driver ---------------------------------------------------------------------------- */

enum task_state { T_FREE, T_READY, T_BUSY, T_DONE };

/* One resource type's output lines of a task, in input order. */
struct tgroup {
    char type[72];
    struct mf_buf lines;
    int64_t count;
};

struct task {
    enum task_state state;
    int64_t seq;
    size_t file;
    int doc;            /* 1: a whole JSON document; 0: NDJSON lines */
    int64_t first_line; /* line number of the first line (NDJSON) */
    struct mf_buf in;
    struct tgroup *groups; /* the output, by resource type (kept across uses of the slot) */
    size_t ngroups, capgroups;
    struct mf_buf issues; /* NDJSON lines */
    int64_t resources, skipped, patients, capped, nissues;
    int rc;
    struct mf_err err;
};

struct run {
    const struct mf_deid_fhir_opts *o;
    struct mf_deid_session *s;
    struct mf_strlist files;
    struct task *slots;
    size_t nslots;
    int64_t next_seq;   /* next task the reader makes */
    int64_t next_write; /* next task the writer appends */
    int done_reading;
    int stop; /* a worker failed, or --strict met an issue */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    struct mf_progress prog;
};

/* An issue against a record: file, line (0: unknown), entry index (-1: none), reason. */
static void task_issue(struct run *run, struct task *t, int64_t line, int64_t entry,
                       const char *reason)
{
    struct mf_buf *b = &t->issues;
    mf_buf_puts(b, "{\"file\":");
    const char *f = run->files.items[t->file];
    mf_buf_json_string(b, f, strlen(f));
    if (line > 0)
        mf_buf_printf(b, ",\"line\":%lld", (long long)line);
    if (entry >= 0)
        mf_buf_printf(b, ",\"entry\":%lld", (long long)entry);
    mf_buf_puts(b, ",\"reason\":");
    mf_buf_json_string(b, reason, strlen(reason));
    mf_buf_puts(b, "}\n");
    t->skipped++;
    if (t->nissues++ == 0 && run->o->strict) {
        t->rc = MF_EPARSE;
        if (entry >= 0)
            mf_err_set(&t->err, MF_EPARSE, "'%s': entry %lld: %s", f, (long long)entry, reason);
        else
            mf_err_set(&t->err, MF_EPARSE, "'%s': line %lld: %s", f, (long long)line, reason);
    }
}

static int valid_type(const char *t)
{
    if (t == NULL || t[0] < 'A' || t[0] > 'Z')
        return 0;
    size_t n = 0;
    for (; t[n]; n++)
        if (!((t[n] >= 'A' && t[n] <= 'Z') || (t[n] >= 'a' && t[n] <= 'z')) || n > 64)
            return 0;
    return 1;
}

/* The task's output group of a resource type, added when new. */
static struct tgroup *task_group(struct task *t, const char *type)
{
    for (size_t i = 0; i < t->ngroups; i++)
        if (strcmp(t->groups[i].type, type) == 0)
            return &t->groups[i];
    if (t->ngroups == t->capgroups) {
        size_t cap = t->capgroups ? 2 * t->capgroups : 16;
        struct tgroup *g = realloc(t->groups, cap * sizeof *g);
        if (g == NULL)
            return NULL;
        for (size_t i = t->capgroups; i < cap; i++) {
            g[i].lines = (struct mf_buf)MF_BUF_INIT;
            g[i].count = 0;
        }
        t->groups = g;
        t->capgroups = cap;
    }
    struct tgroup *g = &t->groups[t->ngroups++];
    snprintf(g->type, sizeof g->type, "%s", type);
    mf_buf_reset(&g->lines);
    g->count = 0;
    return g;
}

/* De-identify one resource and append its JSON line to the task's group of its type.  Returns 0
 * when done or skipped (issue recorded), else a hard error in t->rc. */
static int one_resource(struct run *run, struct task *t, struct mf_deid_worker *w, cJSON *r,
                        const cJSON *patient, int64_t line, int64_t entry)
{
    const char *type = mf_json_str(r, "resourceType");
    if (!valid_type(type)) {
        task_issue(run, t, line, entry, "missing or invalid resourceType");
        return t->rc;
    }
    char typebuf[72];
    snprintf(typebuf, sizeof typebuf, "%s", type); /* the rules may touch the tree */
    const char *sid = NULL;
    size_t sn = 0;
    mf_deid_resource_subject(r, NULL, NULL, &sid, &sn);
    struct mf_err e = {0, {0}};
    int rc = mf_deid_worker_resource(w, r, sid, sn, patient, &e);
    if (rc == MF_ENOMEM) {
        t->rc = rc;
        t->err = e;
        return rc;
    }
    if (rc) {
        task_issue(run, t, line, entry, e.msg[0] ? e.msg : "cannot be de-identified");
        return t->rc;
    }
    if (strcmp(typebuf, "Patient") == 0) {
        t->patients++;
        t->capped += w->capped;
    }
    struct tgroup *g = task_group(t, typebuf);
    if (g == NULL || mf_json_print(r, &g->lines) != 0 || mf_buf_putc(&g->lines, '\n') != 0)
        return t->rc = mf_err_set(&t->err, MF_ENOMEM, "out of memory");
    g->count++;
    t->resources++;
    return t->rc;
}

/* A Bundle's fullUrl -> "Type/id" map, for rewriting urn:uuid references before the rules. */
struct urlmap {
    struct mf_strmap *m;
    struct mf_buf *vals; /* NUL-terminated "Type/id" strings */
};

static const char *urlmap_lookup(void *arg, const char *ref, size_t *n)
{
    struct urlmap *u = arg;
    const struct mf_strmap_slot *s = mf_strmap_get(u->m, ref, strlen(ref));
    if (s == NULL)
        return NULL;
    const char *v = u->vals->data + s->value;
    *n = strlen(v);
    return v;
}

/* Rewrite every "reference" that names a Bundle entry by its fullUrl to "Type/id". */
static int rewrite_refs(cJSON *node, struct urlmap *u)
{
    for (cJSON *c = node->child; c; c = c->next) {
        if (cJSON_IsString(c) && c->string && c->string[0] == 'r' &&
            strcmp(c->string, "reference") == 0) {
            size_t n;
            const char *v = urlmap_lookup(u, c->valuestring, &n);
            if (v && cJSON_SetValuestring(c, v) == NULL)
                return MF_ENOMEM;
        } else if (c->child && rewrite_refs(c, u) != 0) {
            return MF_ENOMEM;
        }
    }
    return 0;
}

static int do_bundle(struct run *run, struct task *t, struct mf_deid_worker *w, cJSON *b)
{
    cJSON *entries = cJSON_GetObjectItemCaseSensitive(b, "entry");
    if (entries == NULL)
        return 0;
    if (!cJSON_IsArray(entries)) {
        task_issue(run, t, 0, -1, "Bundle.entry is not an array");
        return t->rc;
    }
    struct urlmap u = {&w->urls, &w->urlvals};
    mf_strmap_clear(u.m);
    mf_buf_reset(u.vals);
    struct mf_buf *ids = &w->ids;      /* the Bundle's own Patients: identity JSON, NUL-separated */
    struct mf_strmap *pats = &w->pats; /* source id -> offset in ids */
    mf_strmap_clear(pats);
    mf_buf_reset(ids);
    int rc = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, entries)
    {
        cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "resource");
        const char *url = mf_json_str(e, "fullUrl");
        const char *type = mf_json_str(r, "resourceType"), *id = mf_json_str(r, "id");
        if (url && valid_type(type) && id && id[0]) {
            int added;
            struct mf_strmap_slot *s = mf_strmap_upsert(u.m, url, strlen(url), &added);
            if (s == NULL ||
                (s->value = u.vals->len,
                 mf_buf_printf(u.vals, "%s/%s", type, id) != 0 || mf_buf_putc(u.vals, '\0') != 0)) {
                rc = MF_ENOMEM;
                break;
            }
        }
        if (type && id && id[0] && strcmp(type, "Patient") == 0) {
            int added;
            size_t off = ids->len;
            if (identity_json(r, ids) != 0 || mf_buf_putc(ids, '\0') != 0) {
                rc = MF_ENOMEM;
                break;
            }
            struct mf_strmap_slot *s = mf_strmap_upsert(pats, id, strlen(id), &added);
            if (s == NULL) {
                rc = MF_ENOMEM;
                break;
            }
            s->value = off;
        }
    }
    int64_t entry = 0;
    for (e = entries->child; rc == 0 && e && t->rc == 0; e = e->next, entry++) {
        cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "resource");
        if (!cJSON_IsObject(r))
            continue; /* e.g. a DELETE request of a transaction */
        if (rewrite_refs(r, &u) != 0) {
            rc = MF_ENOMEM;
            break;
        }
        const char *sid = NULL;
        size_t sn = 0;
        cJSON *pj = NULL;
        int cached = 0;
        if (mf_deid_resource_subject(r, NULL, NULL, &sid, &sn))
            cached = w->have_ctx && w->subject.len == sn && memcmp(w->subject.data, sid, sn) == 0;
        if (sid && !cached) {
            /* the worker's context is not this patient's yet: give it the Bundle's own */
            const struct mf_strmap_slot *s = mf_strmap_get(pats, sid, sn);
            if (s)
                pj = mf_json_parse(ids->data + s->value, strlen(ids->data + s->value), NULL);
        }
        one_resource(run, t, w, r, pj, 0, entry);
        if (pj)
            mf_json_release(pj);
    }
    if (rc)
        return t->rc = mf_err_set(&t->err, rc, "out of memory");
    return t->rc;
}

/* in: the worker's own buffer for the documents it reads (one per worker rather than one per
 * slot: fewer pages to fault in) */
static void do_task(struct run *run, struct task *t, struct mf_deid_worker *w, struct mf_buf *in)
{
    if (t->doc) {
        const char *path = run->files.items[t->file];
        mf_buf_reset(in);
        if ((t->rc = mf_fs_read_file(path, DOC_MAX_BYTES, in, &t->err)) != 0)
            return;
        mf_progress_add(&run->prog, (int64_t)in->len);
        size_t off = 0;
        const char *d = in->data;
        size_t n = in->len;
        if (n >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0) {
            d += 3;
            n -= 3;
        }
        cJSON *j = mf_json_parse(d, n, &off);
        if (j == NULL) {
            char why[64];
            snprintf(why, sizeof why, "malformed JSON at byte %zu", off);
            task_issue(run, t, 0, -1, why);
            return;
        }
        const char *type = mf_json_str(j, "resourceType");
        if (type && strcmp(type, "Bundle") == 0)
            do_bundle(run, t, w, j);
        else
            one_resource(run, t, w, j, NULL, 0, -1);
        mf_json_release(j);
        return;
    }
    int64_t line = t->first_line;
    const char *p = t->in.data, *end = t->in.data + t->in.len;
    while (p < end && t->rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);
        const char *q = p;
        while (q < p + n && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < p + n) {
            size_t off = 0;
            cJSON *j = mf_json_parse(p, n, &off);
            if (j == NULL) {
                char why[64];
                snprintf(why, sizeof why, "malformed JSON at byte %zu of the line", off);
                task_issue(run, t, line, -1, why);
            } else {
                one_resource(run, t, w, j, NULL, line, -1);
                mf_json_release(j);
            }
        }
        p = nl + 1;
        line++;
    }
}

static void *worker_main(void *arg)
{
    struct run *run = arg;
    struct mf_deid_worker *w = mf_deid_worker_new(run->s);
    struct mf_buf in = MF_BUF_INIT;
    pthread_mutex_lock(&run->mu);
    if (w == NULL)
        run->stop = 1;
    for (;;) {
        struct task *t = NULL;
        while (!run->stop) {
            /* the oldest ready task */
            for (size_t i = 0; i < run->nslots; i++) {
                struct task *c = &run->slots[i];
                if (c->state == T_READY && (t == NULL || c->seq < t->seq))
                    t = c;
            }
            if (t || run->done_reading)
                break;
            pthread_cond_wait(&run->cv_work, &run->mu);
        }
        if (t == NULL || run->stop)
            break;
        t->state = T_BUSY;
        pthread_mutex_unlock(&run->mu);
        do_task(run, t, w, &in);
        pthread_mutex_lock(&run->mu);
        t->state = T_DONE;
        if (t->rc)
            run->stop = 1;
        pthread_cond_broadcast(&run->cv_done);
        if (run->stop)
            pthread_cond_broadcast(&run->cv_work);
    }
    pthread_cond_broadcast(&run->cv_done);
    pthread_mutex_unlock(&run->mu);
    mf_deid_worker_free(w);
    mf_buf_release(&in);
    return NULL;
}

/* Output files, one per resource type, in the temporary folder. */
struct ofile {
    int fd;
    int64_t count;
    int64_t written, kicked; /* bytes written; bytes sent to disk so far */
};

struct outputs {
    const char *dir;
    struct mf_strmap types; /* type -> index */
    struct ofile *f;
    size_t n, cap;
    int64_t bytes;
};

/* Append a finished task's groups to their files: one write per type, straight from the
 * worker's buffer. */
static int outputs_write(struct outputs *o, const struct task *t, struct mf_err *err)
{
    for (size_t gi = 0; gi < t->ngroups; gi++) {
        const struct tgroup *g = &t->groups[gi];
        if (g->count == 0)
            continue;
        size_t tn = strlen(g->type);
        int added;
        struct mf_strmap_slot *s = mf_strmap_upsert(&o->types, g->type, tn, &added);
        if (s == NULL)
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        if (added) {
            if (o->n == o->cap) {
                size_t cap = o->cap ? 2 * o->cap : 16;
                struct ofile *f = realloc(o->f, cap * sizeof *f);
                if (f == NULL)
                    return mf_err_set(err, MF_ENOMEM, "out of memory");
                o->f = f;
                o->cap = cap;
            }
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s.ndjson", o->dir, g->type);
            s->value = o->n;
            struct ofile *f = &o->f[o->n];
            memset(f, 0, sizeof *f);
            f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (f->fd < 0)
                return mf_err_set(err, MF_EIO, "cannot create '%s'", path);
            o->n++;
        }
        struct ofile *f = &o->f[s->value];
        if (mf_fs_write_all(f->fd, g->lines.data, g->lines.len) != 0)
            return mf_err_set(err, MF_EIO, "cannot write into '%s'", o->dir);
        f->count += g->count;
        f->written += (int64_t)g->lines.len;
        o->bytes += (int64_t)g->lines.len;
        if (f->written - f->kicked >= WRITEBACK_BYTES) {
            /* the disk writes while the workers go on: the final fsync has little left */
            mf_fs_start_writeback(f->fd, f->kicked, f->written - f->kicked);
            f->kicked = f->written;
        }
    }
    return 0;
}

static int outputs_close(struct outputs *o, struct mf_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < o->n; i++) {
        if (o->f[i].fd < 0)
            continue;
        if (fsync(o->f[i].fd) != 0 && rc == 0)
            rc = mf_err_set(err, MF_EIO, "cannot write into '%s'", o->dir);
        if (close(o->f[i].fd) != 0 && rc == 0)
            rc = mf_err_set(err, MF_EIO, "cannot write into '%s'", o->dir);
        o->f[i].fd = -1;
    }
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* export.json (a Bulk Data manifest, so `medfm ingest --format ndjson DIR` reads it) and
 * deid.json (how the output was made; never the key). */
static int write_manifests(const struct run *run, struct outputs *o,
                           const struct mf_deid_fhir_result *res, struct mf_err *err)
{
    /* the map's keys are not NUL-terminated: copy the type names out, then sort them */
    size_t k = 0;
    char(*names)[72] = calloc(o->n ? o->n : 1, sizeof *names);
    if (names == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    for (size_t i = 0; i < o->types.cap; i++) {
        const struct mf_strmap_slot *s = &o->types.slots[i];
        if (s->key_off != UINT64_MAX)
            snprintf(names[k++], sizeof names[0], "%.*s", (int)s->key_len,
                     mf_strmap_key(&o->types, s));
    }
    struct mf_buf b = MF_BUF_INIT;
    char now[32];
    mf_time_format((int64_t)time(NULL) * MF_USEC_PER_SEC, now);
    qsort(names, k, sizeof names[0], cmp_name);
    mf_buf_printf(&b, "{\"transactionTime\":\"%s\",\"request\":\"medfm deid fhir\",", now);
    mf_buf_puts(&b, "\"requiresAccessToken\":false,\"output\":[");
    for (size_t i = 0; i < k; i++) {
        const struct mf_strmap_slot *s = mf_strmap_get(&o->types, names[i], strlen(names[i]));
        mf_buf_printf(&b, "%s{\"type\":\"%s\",\"url\":\"%s.ndjson\",\"count\":%lld}", i ? "," : "",
                      names[i], names[i], (long long)o->f[s->value].count);
    }
    mf_buf_puts(&b, "],\"error\":[]}\n");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/export.json", o->dir);
    int rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_reset(&b);
    char ref[32];
    mf_time_format(run->o->session.reference_time, ref);
    mf_buf_printf(&b,
                  "{\"tool\":\"medfm deid fhir\",\"rules\":\"%s\",\"rules_sha256\":\"%s\","
                  "\"config_sha256\":\"%s\",\"text_mode\":\"%s\",\"reference_date\":\"%.10s\","
                  "\"resources\":%lld,\"patients\":%lld,\"ages_capped\":%lld,\"skipped\":%lld}\n",
                  mf_deid_session_rules_name(run->s), mf_deid_rules_sha256(run->s->rules),
                  mf_deid_session_config_sha256(run->s),
                  run->s->text_mode == MF_DEID_MODE_REDACT ? "redact" : "surrogate", ref,
                  (long long)res->resources, (long long)res->patients, (long long)res->ages_capped,
                  (long long)res->skipped);
    snprintf(path, sizeof path, "%s/deid.json", o->dir);
    if (rc == 0)
        rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_release(&b);
    free(names);
    return rc;
}

/* Wait for a free slot, appending finished tasks to the output in order meanwhile. */
static int drain(struct run *run, struct outputs *out, struct mf_buf *issues,
                 struct mf_deid_fhir_result *res, int all, struct mf_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&run->mu);
    for (;;) {
        struct task *t = &run->slots[run->next_write % (int64_t)run->nslots];
        if (run->next_write < run->next_seq && t->state == T_DONE && t->seq == run->next_write) {
            pthread_mutex_unlock(&run->mu);
            if (t->rc)
                rc = mf_err_set(err, t->rc, "%s", t->err.msg);
            if (rc == 0)
                rc = outputs_write(out, t, err);
            if (rc == 0 && mf_buf_append(issues, t->issues.data, t->issues.len) != 0)
                rc = mf_err_set(err, MF_ENOMEM, "out of memory");
            res->resources += t->resources;
            res->skipped += t->skipped;
            res->patients += t->patients;
            res->ages_capped += t->capped;
            mf_buf_reset(&t->in);
            t->ngroups = 0;
            mf_buf_reset(&t->issues);
            pthread_mutex_lock(&run->mu);
            t->state = T_FREE;
            run->next_write++;
            if (rc) {
                run->stop = 1;
                pthread_cond_broadcast(&run->cv_work);
                break;
            }
            continue;
        }
        if (run->stop && !all)
            break;
        int64_t in_flight = run->next_seq - run->next_write;
        if (all ? in_flight == 0 : in_flight < (int64_t)run->nslots)
            break;
        if (run->stop && all) {
            /* wait only for busy tasks to finish */
            int busy = 0;
            for (size_t i = 0; i < run->nslots; i++)
                busy |= run->slots[i].state == T_BUSY;
            if (!busy)
                break;
        }
        pthread_cond_wait(&run->cv_done, &run->mu);
    }
    int stopped = run->stop;
    pthread_mutex_unlock(&run->mu);
    if (rc == 0 && stopped) {
        /* a worker failed: find its error */
        for (size_t i = 0; i < run->nslots && rc == 0; i++)
            if (run->slots[i].rc)
                rc = mf_err_set(err, run->slots[i].rc, "%s", run->slots[i].err.msg);
        if (rc == 0)
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    return rc;
}

/* Hand the slot of the next sequence number (filled by the caller) to the workers. */
static struct task *next_slot(struct run *run)
{
    struct task *t = &run->slots[run->next_seq % (int64_t)run->nslots];
    t->seq = run->next_seq;
    t->resources = t->skipped = t->patients = t->capped = t->nissues = 0;
    t->ngroups = 0;
    t->rc = 0;
    t->err.code = 0;
    t->err.msg[0] = '\0';
    return t;
}

static void submit(struct run *run, struct task *t)
{
    pthread_mutex_lock(&run->mu);
    t->state = T_READY;
    run->next_seq++;
    pthread_cond_signal(&run->cv_work);
    pthread_mutex_unlock(&run->mu);
}

static int is_ndjson(const char *path)
{
    size_t n = strlen(path);
    return (n > 7 && strcmp(path + n - 7, ".ndjson") == 0) ||
           (n > 10 && strcmp(path + n - 10, ".ndjson.gz") == 0);
}

/* The inputs: files and folders (recursively); a folder with export.json gives the files its
 * manifest lists. */
static int list_inputs(const struct mf_deid_fhir_opts *o, struct mf_strlist *files, int64_t *bytes,
                       struct mf_err *err)
{
    static const char *const sfx[] = {".json", ".ndjson", ".ndjson.gz", NULL};
    for (size_t i = 0; i < o->n_paths; i++) {
        size_t before = files->n;
        int rc = mf_fs_is_dir(o->paths[i]) ? mf_json_bulk_export_files(o->paths[i], files, err) : 0;
        if (rc == 0)
            rc = mf_fs_list(o->paths[i], sfx, files, err);
        if (rc < 0)
            return rc;
        if (files->n == before)
            return mf_err_set(err, MF_ENOTFOUND, "no .json or .ndjson files found in '%s'",
                              o->paths[i]);
    }
    *bytes = 0;
    for (size_t i = 0; files->items && i < files->n; i++) {
        struct stat st;
        if (stat(files->items[i], &st) == 0)
            *bytes += st.st_size;
    }
    return 0;
}

/* Read every input into tasks. */
static int produce(struct run *run, struct outputs *out, struct mf_buf *issues,
                   struct mf_deid_fhir_result *res, struct mf_err *err)
{
    int rc = 0;
    for (size_t f = 0; f < run->files.n && rc == 0; f++) {
        const char *path = run->files.items[f];
        if ((rc = drain(run, out, issues, res, 0, err)) != 0)
            break;
        if (!is_ndjson(path)) {
            struct task *t = next_slot(run);
            t->file = f;
            t->doc = 1;
            t->first_line = 0;
            /* the worker reads the file: reading runs in parallel too */
            submit(run, t);
            continue;
        }
        struct mf_reader r;
        if ((rc = mf_reader_open(&r, path, err)) != 0)
            break;
        r.max_line = LINE_MAX_LEN;
        struct task *t = NULL;
        char *line;
        size_t n;
        int64_t off = 0;
        while ((rc = mf_reader_line(&r, &line, &n, err)) == 1) {
            if (t == NULL) {
                t = next_slot(run);
                t->file = f;
                t->doc = 0;
                t->first_line = r.line;
                mf_buf_reset(&t->in);
            }
            if (mf_buf_append(&t->in, line, n) != 0 || mf_buf_putc(&t->in, '\n') != 0) {
                rc = mf_err_set(err, MF_ENOMEM, "out of memory");
                break;
            }
            if (t->in.len >= BLOCK_BYTES) {
                submit(run, t);
                t = NULL;
                mf_progress_add(&run->prog, r.offset - off);
                off = r.offset;
                if ((rc = drain(run, out, issues, res, 0, err)) != 0)
                    break;
            }
        }
        if (rc == 0 && t)
            submit(run, t);
        else if (t) /* the slot was taken but never submitted: give it back */
            t->state = T_FREE;
        mf_progress_add(&run->prog, r.offset - off);
        mf_reader_close(&r);
    }
    return rc;
}

int mf_deid_fhir_run(const struct mf_deid_fhir_opts *o, struct mf_deid_fhir_result *res,
                     struct mf_err *err)
{
    struct mf_deid_fhir_result tmp_res;
    if (res == NULL)
        res = &tmp_res;
    memset(res, 0, sizeof *res);
    double t0 = mf_now();
    struct run run;
    memset(&run, 0, sizeof run);
    run.o = o;
    int rc = list_inputs(o, &run.files, &res->bytes_in, err);
    if (rc) {
        mf_strlist_free(&run.files);
        return rc;
    }
    res->files = (int64_t)run.files.n;
    if ((rc = mf_deid_session_open(&o->session, &run.s, err)) != 0 || run.s == NULL) {
        mf_strlist_free(&run.files);
        return rc ? rc : mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    /* Pass 1: the patients' own identifiers, from the NDJSON inputs. */
    rc = mf_deid_session_scan_files(run.s, (const char *const *)run.files.items, run.files.n, err);

    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.partial-%ld", o->out, (long)getpid());
    mf_fs_rm_rf(tmp);
    if (rc == 0)
        rc = mf_fs_mkdir_p(tmp, err);
    struct outputs out;
    memset(&out, 0, sizeof out);
    out.dir = tmp;
    mf_strmap_init(&out.types);
    struct mf_buf issues = MF_BUF_INIT;

    int threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > 256)
        threads = 256;
    run.nslots =
        (size_t)threads * 4 + 4; /* room for a large file to finish while later ones wait */
    run.slots = calloc(run.nslots, sizeof *run.slots);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (rc == 0 && (run.slots == NULL || tids == NULL))
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    for (size_t i = 0; run.slots && i < run.nslots; i++) {
        run.slots[i].in = (struct mf_buf)MF_BUF_INIT;
        run.slots[i].issues = (struct mf_buf)MF_BUF_INIT;
    }
    pthread_mutex_init(&run.mu, NULL);
    pthread_cond_init(&run.cv_work, NULL);
    pthread_cond_init(&run.cv_done, NULL);
    int started = 0;
    if (rc == 0 && tids) {
        mf_progress_start(&run.prog, "de-identifying", "B", res->bytes_in);
        for (; started < threads; started++)
            if (pthread_create(&tids[started], NULL, worker_main, &run) != 0)
                break;
        if (started == 0)
            rc = mf_err_set(err, MF_ENOMEM, "cannot start worker threads");
    }
    if (rc == 0)
        rc = produce(&run, &out, &issues, res, err);
    pthread_mutex_lock(&run.mu);
    run.done_reading = 1;
    if (rc)
        run.stop = 1;
    pthread_cond_broadcast(&run.cv_work);
    pthread_mutex_unlock(&run.mu);
    struct mf_err e2 = {0, {0}};
    int rc2 = started ? drain(&run, &out, &issues, res, 1, rc ? &e2 : err) : 0;
    if (rc == 0)
        rc = rc2;
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    if (started)
        mf_progress_finish(&run.prog);
    int rc3 = outputs_close(&out, rc ? &e2 : err);
    if (rc == 0)
        rc = rc3;
    res->bytes_out = out.bytes;
    res->seconds = mf_now() - t0;
    if (rc == 0)
        rc = write_manifests(&run, &out, res, err);
    if (rc == 0 && mf_fs_fsync_dir(tmp) != 0)
        rc = mf_err_set(err, MF_EIO, "cannot sync '%s'", tmp);
    char errpath[PATH_MAX];
    snprintf(errpath, sizeof errpath, "%s.errors.ndjson", o->out);
    if (rc == 0 && issues.len)
        rc = mf_fs_write_file_atomic(errpath, issues.data, issues.len, err);
    if (rc == 0)
        rc = mf_fs_replace_dir(tmp, o->out, err);
    if (rc == 0 && issues.len == 0)
        unlink(errpath);
    if (rc)
        mf_fs_rm_rf(tmp);
    res->seconds = mf_now() - t0;

    for (size_t i = 0; run.slots && i < run.nslots; i++) {
        mf_buf_release(&run.slots[i].in);
        for (size_t g = 0; g < run.slots[i].capgroups; g++)
            mf_buf_release(&run.slots[i].groups[g].lines);
        free(run.slots[i].groups);
        mf_buf_release(&run.slots[i].issues);
    }
    free(run.slots);
    free(tids);
    free(out.f);
    mf_strmap_free(&out.types);
    mf_buf_release(&issues);
    pthread_mutex_destroy(&run.mu);
    pthread_cond_destroy(&run.cv_work);
    pthread_cond_destroy(&run.cv_done);
    mf_deid_session_free(run.s);
    mf_strlist_free(&run.files);
    return rc;
}
