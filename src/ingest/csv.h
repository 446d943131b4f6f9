/* csv.h - an RFC 4180 CSV reader over plain or gzip files.
 *
 * Reads one record at a time through struct mf_reader (core/fs.h), so .csv and .csv.gz are
 * the same to the caller.  Fields are separated by commas; a field in double quotes may hold
 * commas, doubled quotes ("" for ") and line breaks, so one record may span several lines.
 * Fields come out as (pointer, length) pairs: a record without any quote is split where it lies
 * in the reader's buffer, without a copy; a record with quotes is unescaped into the reader's
 * own record buffer.  Either way the fields stay valid until the next call to mf_csv_next and
 * are not NUL-terminated.
 *
 *     struct mf_csv c;
 *     if (mf_csv_open(&c, path, NULL, &err) || mf_csv_read_header(&c, &err)) ...
 *     int icode = mf_csv_column(&c, "icd_code");        // -1 when the header lacks it
 *     while ((rc = mf_csv_next(&c, &err)) == 1) {
 *         struct mf_csv_field f = mf_csv_get(&c, icode); // c.line, c.offset locate the record
 *     }
 *     if (rc < 0 && mf_csv_recoverable(&c)) ...          // a bad record: call next again
 *     mf_csv_close(&c);
 *
 * Limits: a record over max_record bytes (all its lines together) and an unterminated quote at
 * the end of the file end the file; a record over max_fields fields and a record whose quotes
 * are malformed (a quote inside an unquoted field, text after a closing quote) are reported and
 * skipped, and reading goes on at the next record.
 *
 * Left out: other separators and quote characters, and a header that spans lines (handled, but
 * its line breaks are kept in the names).  Line ends are "\n" or "\r\n"; a "\r\n" inside a
 * quoted field reads as "\n".  Blank lines between records are skipped (a CSV with one column
 * cannot have an empty record).  A UTF-8 byte order mark before the header is dropped.
 */
#ifndef MF_INGEST_CSV_H
#define MF_INGEST_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/fs.h"

#define MF_CSV_DEFAULT_MAX_FIELDS 4096
#define MF_CSV_DEFAULT_MAX_RECORD ((size_t)64 << 20)

/* One field of the current record: n bytes at p (p is never NULL, "" when empty). */
struct mf_csv_field {
    const char *p;
    size_t n;
};

/* Hard limits; 0 means the default. */
struct mf_csv_opts {
    size_t max_fields;
    size_t max_record; /* bytes of one record, line breaks included */
};

/* What the last failure of mf_csv_next or mf_csv_read_header was. */
enum mf_csv_error {
    MF_CSV_ERR_NONE,
    MF_CSV_ERR_IO,           /* the file cannot be read (fatal) */
    MF_CSV_ERR_COMPRESSION,  /* truncated or corrupt gzip stream (fatal) */
    MF_CSV_ERR_RECORD_SIZE,  /* a record over max_record bytes (fatal) */
    MF_CSV_ERR_UNTERMINATED, /* a quoted field still open at the end of the file (fatal) */
    MF_CSV_ERR_NO_HEADER,    /* the file has no header row (fatal) */
    MF_CSV_ERR_QUOTES,       /* malformed quotes in one record (recoverable) */
    MF_CSV_ERR_FIELDS        /* a record over max_fields fields (recoverable) */
};

/* A reader; all fields are read-only for callers except through the functions below. */
struct mf_csv {
    struct mf_reader r;
    const char *path; /* borrowed; must outlive the reader */
    size_t max_fields, max_record;

    /* the current record */
    struct mf_csv_field *f;
    size_t nf;
    int64_t line;   /* 1-based line where the record starts */
    int64_t offset; /* byte offset of its first byte in the uncompressed file */
    int64_t n_records;

    /* header names (owned copies, NUL-terminated), set by mf_csv_read_header */
    char **names;
    size_t n_names;

    enum mf_csv_error error; /* kind of the last failure */
    int failed;              /* a fatal error happened: every later call returns it */
    int fail_rc;

    /* internal */
    size_t f_cap;
    size_t *pos; /* field start offsets into rec while a quoted record is parsed */
    struct mf_buf rec;
    int open;
};

/* Open path (plain or gzip).  opts may be NULL.  path is borrowed.  Release with mf_csv_close,
 * also after a failed open. */
int mf_csv_open(struct mf_csv *c, const char *path, const struct mf_csv_opts *opts,
                struct mf_err *err);

/* Read the next record.  Returns 1 with a record in c->f[0..c->nf), 0 at the end of the file,
 * or a negative MF_E* code with c->error saying what went wrong and err naming the file, line
 * and byte offset (never the data).  After a recoverable error (mf_csv_recoverable) the bad
 * record has been consumed and the next call reads the one after it; after a fatal one every
 * later call fails the same way. */
int mf_csv_next(struct mf_csv *c, struct mf_err *err);

/* Read the first record as the header and keep copies of its names.  A file with no record
 * fails with MF_EPARSE (MF_CSV_ERR_NO_HEADER). */
int mf_csv_read_header(struct mf_csv *c, struct mf_err *err);

/* The index of the header column called name (the first when repeated), or -1. */
int mf_csv_column(const struct mf_csv *c, const char *name);

/* Field i of the current record, or an empty field when i is negative or past the end. */
struct mf_csv_field mf_csv_get(const struct mf_csv *c, int i);

/* Whether the last failure left the reader able to go on with the next record. */
int mf_csv_recoverable(const struct mf_csv *c);

/* Close the file and free everything; safe on a zeroed or failed reader. */
void mf_csv_close(struct mf_csv *c);

#endif
