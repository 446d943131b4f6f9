/* csv.c - RFC 4180 CSV records over struct mf_reader (see csv.h).
 *
 * Two paths: a line without a double quote (nearly every line of MIMIC-IV) is split in place
 * with memchr; a line with one is copied into c->rec and run through a small state machine that
 * unescapes in place (the write index never passes the read index) and pulls in more lines
 * while a quoted field is open.
 */
#include "ingest/csv.h"

#include <stdlib.h>
#include <string.h>

/* States of the quoted-record scanner. */
enum { ST_FIELD_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE_SEEN };

/* Remember a fatal failure so that every later call reports it again. */
static int fail(struct mf_csv *c, enum mf_csv_error e, int rc)
{
    c->error = e;
    c->failed = 1;
    c->fail_rc = rc;
    return rc;
}

int mf_csv_open(struct mf_csv *c, const char *path, const struct mf_csv_opts *opts,
                struct mf_err *err)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->max_fields = opts && opts->max_fields ? opts->max_fields : MF_CSV_DEFAULT_MAX_FIELDS;
    c->max_record = opts && opts->max_record ? opts->max_record : MF_CSV_DEFAULT_MAX_RECORD;
    c->line = 0;
    c->offset = -1;
    int rc = mf_reader_open(&c->r, path, err);
    if (rc)
        return fail(c, MF_CSV_ERR_IO, rc);
    c->r.max_line = c->max_record;
    c->open = 1;
    return 0;
}

/* Next physical line from the reader, with its errors sorted into kinds. */
static int read_line(struct mf_csv *c, char **line, size_t *len, struct mf_err *err)
{
    int rc = mf_reader_line(&c->r, line, len, err);
    if (rc >= 0)
        return rc;
    if (rc == MF_EPARSE)
        return fail(c, MF_CSV_ERR_COMPRESSION, rc);
    if (rc == MF_ETOOBIG)
        return fail(c, MF_CSV_ERR_RECORD_SIZE, rc);
    return fail(c, MF_CSV_ERR_IO, rc);
}

/* Make room for one more field.  Returns 0, 1 when the record is over max_fields (the field is
 * then not kept), or MF_ENOMEM. */
static int reserve_field(struct mf_csv *c)
{
    if (c->nf < c->f_cap)
        return 0;
    if (c->nf >= c->max_fields)
        return 1;
    size_t cap = c->f_cap ? c->f_cap * 2 : 32;
    if (cap > c->max_fields)
        cap = c->max_fields;
    struct mf_csv_field *f = realloc(c->f, cap * sizeof *f);
    if (f == NULL)
        return MF_ENOMEM;
    c->f = f;
    size_t *pos = realloc(c->pos, cap * sizeof *pos);
    if (pos == NULL)
        return MF_ENOMEM;
    c->pos = pos;
    c->f_cap = cap;
    return 0;
}

/* Split a line without quotes where it lies. */
static int split_plain(struct mf_csv *c, const char *line, size_t len, int *too_many)
{
    const char *s = line, *end = line + len;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *fe = comma ? comma : end;
        int rc = reserve_field(c);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            c->f[c->nf].p = s;
            c->f[c->nf].n = (size_t)(fe - s);
            c->nf++;
        } else {
            *too_many = 1;
        }
        if (comma == NULL)
            return 0;
        s = comma + 1;
    }
}

/* End the field that started at write index *start and runs to w. */
static int end_field(struct mf_csv *c, size_t *start, size_t w, int *too_many)
{
    int rc = reserve_field(c);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        c->pos[c->nf] = *start;
        c->f[c->nf].n = w - *start;
        c->nf++;
    } else {
        *too_many = 1;
    }
    *start = w;
    return 0;
}

/* Parse a record that holds quotes: copy it into c->rec, unescape in place, and read further
 * lines while a quoted field is open. */
static int split_quoted(struct mf_csv *c, const char *line, size_t len, int *too_many,
                        int *bad_quotes, struct mf_err *err)
{
    mf_buf_reset(&c->rec);
    if (mf_buf_append(&c->rec, line, len))
        return fail(c, MF_CSV_ERR_IO, mf_err_set(err, MF_ENOMEM, "out of memory"));
    size_t i = 0, w = 0, start = 0;
    int st = ST_FIELD_START;
    for (;;) {
        if (i == c->rec.len) {
            if (st != ST_QUOTED)
                break;
            /* a line break inside quotes: the record goes on on the next line */
            char *more;
            size_t n;
            int rc = read_line(c, &more, &n, err);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return fail(c, MF_CSV_ERR_UNTERMINATED,
                            mf_err_set(err, MF_EPARSE,
                                       "'%s': line %lld: quoted field not closed at the end "
                                       "of the file",
                                       c->path, (long long)c->line));
            if (c->rec.len + 1 + n > c->max_record)
                return fail(c, MF_CSV_ERR_RECORD_SIZE,
                            mf_err_set(err, MF_ETOOBIG,
                                       "'%s': line %lld: record is longer than %zu bytes", c->path,
                                       (long long)c->line, c->max_record));
            if (mf_buf_putc(&c->rec, '\n') || mf_buf_append(&c->rec, more, n))
                return fail(c, MF_CSV_ERR_IO, mf_err_set(err, MF_ENOMEM, "out of memory"));
            continue;
        }
        char ch = c->rec.data[i++];
        int rc = 0;
        switch (st) {
        case ST_FIELD_START:
            if (ch == '"') {
                st = ST_QUOTED;
            } else if (ch == ',') {
                rc = end_field(c, &start, w, too_many);
            } else {
                c->rec.data[w++] = ch;
                st = ST_UNQUOTED;
            }
            break;
        case ST_UNQUOTED:
            if (ch == ',') {
                rc = end_field(c, &start, w, too_many);
                st = ST_FIELD_START;
            } else {
                if (ch == '"')
                    *bad_quotes = 1;
                c->rec.data[w++] = ch;
            }
            break;
        case ST_QUOTED:
            if (ch == '"')
                st = ST_QUOTE_SEEN;
            else
                c->rec.data[w++] = ch;
            break;
        default: /* ST_QUOTE_SEEN: a doubled quote or the closing one */
            if (ch == '"') {
                c->rec.data[w++] = '"';
                st = ST_QUOTED;
            } else if (ch == ',') {
                rc = end_field(c, &start, w, too_many);
                st = ST_FIELD_START;
            } else {
                *bad_quotes = 1;
                c->rec.data[w++] = ch;
                st = ST_UNQUOTED;
            }
            break;
        }
        if (rc < 0)
            return fail(c, MF_CSV_ERR_IO, mf_err_set(err, rc, "out of memory"));
    }
    int rc = end_field(c, &start, w, too_many);
    if (rc < 0)
        return fail(c, MF_CSV_ERR_IO, mf_err_set(err, rc, "out of memory"));
    for (size_t k = 0; k < c->nf; k++)
        c->f[k].p = c->rec.data + c->pos[k];
    return 0;
}

int mf_csv_next(struct mf_csv *c, struct mf_err *err)
{
    if (c->failed)
        return mf_err_set(err, c->fail_rc, "'%s': reading stopped after an earlier error", c->path);
    c->error = MF_CSV_ERR_NONE;
    c->nf = 0;
    char *line;
    size_t len;
    for (;;) {
        int64_t at = c->r.offset;
        int rc = read_line(c, &line, &len, err);
        if (rc <= 0)
            return rc;
        c->line = c->r.line;
        c->offset = at;
        if (c->r.line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
        if (len > 0)
            break;
    }
    int too_many = 0, bad_quotes = 0, rc;
    if (memchr(line, '"', len) == NULL) {
        rc = split_plain(c, line, len, &too_many);
        if (rc < 0)
            return fail(c, MF_CSV_ERR_IO, mf_err_set(err, rc, "out of memory"));
    } else {
        rc = split_quoted(c, line, len, &too_many, &bad_quotes, err);
        if (rc < 0)
            return rc;
    }
    c->n_records++;
    if (too_many) {
        c->error = MF_CSV_ERR_FIELDS;
        c->nf = 0;
        return mf_err_set(err, MF_ETOOBIG, "'%s': line %lld: record has more than %zu fields",
                          c->path, (long long)c->line, c->max_fields);
    }
    if (bad_quotes) {
        c->error = MF_CSV_ERR_QUOTES;
        c->nf = 0;
        return mf_err_set(err, MF_EPARSE,
                          "'%s': line %lld: quote inside an unquoted field or after a closing "
                          "quote",
                          c->path, (long long)c->line);
    }
    return 1;
}

int mf_csv_read_header(struct mf_csv *c, struct mf_err *err)
{
    int rc = mf_csv_next(c, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return fail(c, MF_CSV_ERR_NO_HEADER,
                    mf_err_set(err, MF_EPARSE, "'%s': no header row", c->path));
    c->names = calloc(c->nf ? c->nf : 1, sizeof *c->names);
    if (c->names == NULL)
        return fail(c, MF_CSV_ERR_IO, mf_err_set(err, MF_ENOMEM, "out of memory"));
    c->n_names = c->nf;
    for (size_t k = 0; k < c->nf; k++) {
        c->names[k] = malloc(c->f[k].n + 1);
        if (c->names[k] == NULL)
            return fail(c, MF_CSV_ERR_IO, mf_err_set(err, MF_ENOMEM, "out of memory"));
        memcpy(c->names[k], c->f[k].p, c->f[k].n);
        c->names[k][c->f[k].n] = '\0';
    }
    return 0;
}

int mf_csv_column(const struct mf_csv *c, const char *name)
{
    for (size_t k = 0; k < c->n_names && k < (size_t)INT32_MAX; k++)
        if (strcmp(c->names[k], name) == 0)
            return (int)k;
    return -1;
}

struct mf_csv_field mf_csv_get(const struct mf_csv *c, int i)
{
    struct mf_csv_field none = {"", 0};
    if (i < 0 || (size_t)i >= c->nf)
        return none;
    return c->f[i];
}

int mf_csv_recoverable(const struct mf_csv *c)
{
    return !c->failed && (c->error == MF_CSV_ERR_QUOTES || c->error == MF_CSV_ERR_FIELDS);
}

void mf_csv_close(struct mf_csv *c)
{
    if (c->open)
        mf_reader_close(&c->r);
    c->open = 0;
    for (size_t k = 0; k < c->n_names; k++)
        free(c->names[k]);
    free(c->names);
    c->names = NULL;
    c->n_names = 0;
    free(c->f);
    free(c->pos);
    c->f = NULL;
    c->pos = NULL;
    c->nf = c->f_cap = 0;
    mf_buf_release(&c->rec);
}
