/* cmd_deid_text.c - `medfm deid text`: find, redact or replace the PHI in clinical text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/json.h"
#include "deid/deid.h"
#include "deid/tagger.h"
#include "deid/textdeid.h"

#define MAX_INPUT ((size_t)64 << 20)

/* Standard input, whole, up to the limit. */
static int read_stdin(struct mf_buf *b, struct mf_err *err)
{
    for (;;) {
        if (b->cap - b->len <= 1 && mf_buf_grow(b, 65536) != 0)
            return mf_err_set(err, MF_ENOMEM, "cannot hold standard input in memory");
        ssize_t k = read(STDIN_FILENO, b->data + b->len, b->cap - b->len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return mf_err_set(err, MF_EIO, "cannot read standard input: %s", strerror(errno));
        if (k == 0)
            break;
        b->len += (size_t)k;
        b->data[b->len] = '\0';
        if (b->len > MAX_INPUT)
            return mf_err_set(err, MF_ETOOBIG,
                              "standard input is larger than the limit of %zu bytes", MAX_INPUT);
    }
    if (b->data == NULL && mf_buf_grow(b, 1) != 0)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    return 0;
}

static int is_stdin(const char *path)
{
    return strcmp(path, "-") == 0;
}

/* The last component of a path ("stdin" for "-"); NULL when there is none ("dir/"). */
static const char *base_name(const char *path)
{
    if (is_stdin(path))
        return "stdin";
    const char *s = strrchr(path, '/');
    s = s ? s + 1 : path;
    return *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 ? s : NULL;
}

static int add_resource(struct mf_deid_context *ctx, const cJSON *res, const char *path,
                        struct mf_err *err)
{
    if (mf_deid_context_add_fhir(ctx, res) != 0)
        return mf_err_set(err, MF_ENOMEM, "cannot hold the identifiers of '%s' in memory", path);
    return 0;
}

/* Read a FHIR Patient (or a Bundle holding one) into ctx; *id gets the first Patient's id
 * (malloc'd, "" when it has none). */
static int load_context(const char *path, struct mf_deid_context *ctx, char **id,
                        struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, MAX_INPUT, &b, err);
    if (rc) {
        mf_buf_release(&b);
        return rc;
    }
    size_t off = 0;
    cJSON *root = mf_json_parse(b.data, b.len, &off);
    if (root == NULL) {
        mf_buf_release(&b);
        return mf_err_set(err, MF_EPARSE,
                          "patient context '%s' is not valid JSON (error at byte %zu)", path, off);
    }
    const char *rt = mf_json_str(root, "resourceType");
    const char *pid = NULL;
    int patients = 0;
    if (rt && strcmp(rt, "Patient") == 0) {
        rc = add_resource(ctx, root, path, err);
        pid = mf_json_str(root, "id");
        patients = 1;
    } else if (rt && strcmp(rt, "Bundle") == 0) {
        const cJSON *entries = mf_json_arr(root, "entry"), *e;
        cJSON_ArrayForEach(e, entries)
        {
            const cJSON *res = mf_json_obj(e, "resource");
            const char *t = res ? mf_json_str(res, "resourceType") : NULL;
            if (t == NULL || rc)
                continue;
            if (strcmp(t, "Patient") == 0) {
                if (patients++ == 0)
                    pid = mf_json_str(res, "id");
                rc = add_resource(ctx, res, path, err);
            } else if (strcmp(t, "RelatedPerson") == 0 || strcmp(t, "Practitioner") == 0) {
                rc = add_resource(ctx, res, path, err);
            }
        }
    } else {
        rc = mf_err_set(err, MF_EPARSE, "patient context '%s' is not a FHIR Patient or Bundle",
                        path);
    }
    if (rc == 0 && patients == 0)
        rc = mf_err_set(err, MF_EPARSE, "patient context '%s' holds no Patient resource", path);
    if (rc == 0) {
        *id = strdup(pid ? pid : "");
        if (*id == NULL)
            rc = mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    mf_json_release(root);
    memset(b.data, 0, b.len);
    mf_buf_release(&b);
    return rc;
}

struct run {
    enum mf_deid_text_mode mode;
    const struct mf_deid_lexicon *lex;
    struct mf_deid_tagger *tagger;
    const struct mf_deid_context *ctx;
    const struct mf_deid_subject *subj;
    struct mf_deid_entities ents;
    struct mf_buf in, out;
    size_t spans;
};

/* Tag one input and put its result (rewritten text, or the JSON of its spans) in r->out. */
static int process(struct run *r, const char *path, int ndjson, struct mf_err *err)
{
    mf_buf_reset(&r->in);
    mf_buf_reset(&r->out);
    int rc =
        is_stdin(path) ? read_stdin(&r->in, err) : mf_fs_read_file(path, MAX_INPUT, &r->in, err);
    if (rc)
        return rc;
    rc = mf_deid_tag(r->tagger, r->ctx, r->in.data, r->in.len, &r->ents, err);
    if (rc)
        return rc;
    r->spans += r->ents.n;
    if (r->mode != MF_DEID_MODE_TAG)
        return mf_deid_text_rewrite(r->lex, r->subj, r->mode, r->in.data, r->in.len, &r->ents,
                                    &r->out, err);
    if (ndjson) {
        if (mf_buf_puts(&r->out, "{\"file\":") || mf_buf_json_string(&r->out, path, strlen(path)) ||
            mf_buf_putc(&r->out, ','))
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        size_t at = r->out.len;
        if (mf_deid_entities_json(r->in.data, r->in.len, &r->ents, &r->out))
            return mf_err_set(err, MF_ENOMEM, "cannot hold the entities of '%s' in memory", path);
        memmove(r->out.data + at, r->out.data + at + 1, r->out.len - at); /* drop its '{' */
        r->out.len--;
    } else if (mf_deid_entities_json(r->in.data, r->in.len, &r->ents, &r->out)) {
        return mf_err_set(err, MF_ENOMEM, "cannot hold the entities of '%s' in memory", path);
    }
    return mf_buf_putc(&r->out, '\n') ? mf_err_set(err, MF_ENOMEM, "out of memory") : 0;
}

static int write_stdout(const struct mf_buf *b, struct mf_err *err)
{
    if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len)
        return mf_err_set(err, MF_EIO, "cannot write standard output: %s", strerror(errno));
    return 0;
}

int cmd_deid_text(int argc, char **argv)
{
    const char *key_file = NULL, *mode_s = "surrogate", *ctx_file = NULL, *out_dir = NULL;
    int force = 0;
    const struct opt opts[] = {
        {"key-file", OPT_STRING, &key_file, "KEYFILE",
         "secret key (medfm deid keygen); needed for surrogate"},
        {"mode", OPT_STRING, &mode_s, "MODE", "tag, redact or surrogate (default surrogate)"},
        {"patient-context", OPT_STRING, &ctx_file, "FILE",
         "FHIR Patient (or Bundle) whose identifiers the text is searched for"},
        {"out", OPT_STRING, &out_dir, "DIR", "write one result per input FILE into DIR"},
        {"force", OPT_FLAG, &force, NULL, "replace an existing --out DIR"},
    };
    const struct cmd_help help = {
        "medfm deid text [--key-file KEYFILE] [--mode tag|redact|surrogate]\n"
        "                       [--patient-context FILE] [--out DIR [--force]] [FILE...]",
        "Find the PHI in clinical text (names, dates, ages over 89, phone, fax, email, SSN,\n"
        "record and other numbers, URLs, IP addresses, street addresses, cities, ZIP codes,\n"
        "hospitals) and print it as JSON (tag), replace each span by [CATEGORY] (redact), or by\n"
        "a realistic fake of the same shape (surrogate, the default): names by names of the same\n"
        "sex, dates moved by the patient's date shift in the same format, numbers by keyed\n"
        "numbers.  The same value of the same patient gets the same surrogate, under the same\n"
        "key, in every note and every run.  With --patient-context the identifiers in the\n"
        "patient's record are found in any spelling, and surrogates and the date shift are\n"
        "those of its Patient id.  Reads standard input when no FILE is given (or FILE is -);\n"
        "one input is written to standard output, several need --out DIR, which is written\n"
        "whole or not at all.  Each input is at most 64 MiB.",
        opts, sizeof opts / sizeof opts[0],
        "examples:\n"
        "  medfm deid text --key-file k.key < note.txt\n"
        "  medfm deid text --mode tag note.txt\n"
        "  medfm deid text --key-file k.key --patient-context patient.json --out deid/ "
        "notes/*.txt"};
    const char *pos[argc > 0 ? argc : 1];
    int npos = 0;
    int r = opts_parse(argc, argv, &help, pos, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    enum mf_deid_text_mode mode;
    if (mf_deid_text_mode_parse(mode_s, &mode) != 0) {
        fprintf(stderr, "medfm: --mode must be tag, redact or surrogate\nusage: %s\n", help.usage);
        return 2;
    }
    if (mode == MF_DEID_MODE_SURROGATE && key_file == NULL) {
        fprintf(stderr, "medfm: surrogate mode needs --key-file KEYFILE\nusage: %s\n", help.usage);
        return 2;
    }
    if (npos > 1 && out_dir == NULL && mode != MF_DEID_MODE_TAG) {
        fprintf(stderr, "medfm: several inputs need --out DIR\nusage: %s\n", help.usage);
        return 2;
    }
    if (out_dir && npos == 0) {
        fprintf(stderr,
                "medfm: --out needs input FILEs (standard input goes to standard output)\n");
        return 2;
    }
    if (force && out_dir == NULL) {
        fprintf(stderr, "medfm: --force goes with --out DIR\n");
        return 2;
    }
    const char *stdin_only[1] = {"-"};
    const char **inputs = npos ? pos : stdin_only;
    int n_in = npos ? npos : 1, n_stdin = 0;
    for (int i = 0; i < n_in; i++) {
        n_stdin += is_stdin(inputs[i]);
        if (out_dir && base_name(inputs[i]) == NULL) {
            fprintf(stderr, "medfm: input '%s' has no file name\n", inputs[i]);
            return 2;
        }
        for (int j = 0; out_dir && j < i; j++)
            if (strcmp(base_name(inputs[i]), base_name(inputs[j])) == 0) {
                fprintf(stderr, "medfm: inputs '%s' and '%s' have the same file name\n", inputs[j],
                        inputs[i]);
                return 2;
            }
    }
    if (n_stdin > 1) {
        fprintf(stderr, "medfm: standard input can be read once\n");
        return 2;
    }
    if (out_dir && mf_fs_exists(out_dir) && !force) {
        fprintf(stderr, "medfm: '%s' exists; pass --force to replace it\n", out_dir);
        return 1;
    }

    struct mf_err err = {0};
    struct mf_deid_key key;
    struct mf_deid_lexicon *lex = NULL;
    struct mf_deid_context *ctx = NULL;
    char *pid = NULL, tmp[4096] = "";
    struct run run = {mode, NULL, NULL, NULL, NULL, {0}, MF_BUF_INIT, MF_BUF_INIT, 0};
    int rc = 0;
    if (key_file && (rc = mf_deid_key_load(key_file, &key, &err)) != 0)
        goto done;
    if ((rc = mf_deid_lexicon_load(NULL, &lex, &err)) != 0)
        goto done;
    ctx = mf_deid_context_new();
    run.tagger = mf_deid_tagger_new(lex);
    if (ctx == NULL || run.tagger == NULL) {
        rc = mf_err_set(&err, MF_ENOMEM, "out of memory");
        goto done;
    }
    if (ctx_file && (rc = load_context(ctx_file, ctx, &pid, &err)) != 0)
        goto done;
    const char *id = pid ? pid : "";
    struct mf_deid_subject subj = {key_file ? &key : NULL, id, strlen(id),
                                   key_file ? mf_deid_shift(&key, id, strlen(id)) : 0};
    run.lex = lex;
    run.ctx = ctx;
    run.subj = &subj;

    if (out_dir) {
        size_t len = strlen(out_dir);
        while (len > 1 && out_dir[len - 1] == '/')
            len--;
        if ((size_t)snprintf(tmp, sizeof tmp, "%.*s.tmp-XXXXXX", (int)len, out_dir) >= sizeof tmp) {
            tmp[0] = '\0';
            rc = mf_err_set(&err, MF_EINVAL, "path too long '%s'", out_dir);
            goto done;
        }
        if (mkdtemp(tmp) == NULL) {
            rc = mf_err_set(&err, MF_EIO, "cannot create a folder beside '%s': %s", out_dir,
                            strerror(errno));
            tmp[0] = '\0';
            goto done;
        }
    }
    for (int i = 0; i < n_in && rc == 0; i++) {
        rc = process(&run, inputs[i], out_dir == NULL && n_in > 1, &err);
        if (rc)
            break;
        if (out_dir) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s%s", tmp, base_name(inputs[i]),
                     mode == MF_DEID_MODE_TAG ? ".json" : "");
            rc = mf_fs_write_file_atomic(path, run.out.data, run.out.len, &err);
        } else {
            rc = write_stdout(&run.out, &err);
        }
    }
    if (rc == 0 && out_dir) {
        if (mf_fs_exists(out_dir) && !force)
            rc = mf_err_set(&err, MF_EEXIST, "'%s' exists; pass --force to replace it", out_dir);
        else if ((rc = mf_fs_replace_dir(tmp, out_dir, &err)) == 0)
            tmp[0] = '\0';
    }
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        rc = mf_err_set(&err, MF_EIO, "cannot write standard output");
    if (rc == 0 && out_dir)
        fprintf(stderr, "medfm: wrote %d file%s (%zu spans %s) to '%s'\n", n_in,
                n_in == 1 ? "" : "s", run.spans,
                mode == MF_DEID_MODE_TAG      ? "tagged"
                : mode == MF_DEID_MODE_REDACT ? "redacted"
                                              : "replaced",
                out_dir);
done:
    if (tmp[0])
        mf_fs_rm_rf(tmp);
    if (rc)
        fprintf(stderr, "medfm: %s\n", err.msg[0] ? err.msg : mf_strerror(rc));
    if (run.in.data)
        memset(run.in.data, 0, run.in.len);
    mf_buf_release(&run.in);
    mf_buf_release(&run.out);
    mf_deid_entities_free(&run.ents);
    mf_deid_tagger_free(run.tagger);
    mf_deid_context_free(ctx);
    mf_deid_lexicon_free(lex);
    free(pid);
    memset(&key, 0, sizeof key);
    return rc ? 1 : 0;
}
