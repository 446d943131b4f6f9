/* test_csv.c - unit tests of the RFC 4180 CSV reader (src/ingest/csv.c): quoting, line breaks
 * inside quotes, CRLF, locations, gzip and truncated gzip, limits, and messages without data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "core/fs.h"
#include "ingest/csv.h"

static char tmpdir[512];

/* A scratch folder under MEDFM_TEST_TMP (or /tmp), one per run. */
static int setup(void **state)
{
    (void)state;
    const char *base = getenv("MEDFM_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_csv-%ld", base && *base ? base : "/tmp",
             (long)getpid());
    struct mf_err err = {0};
    return mf_fs_mkdir_p(tmpdir, &err);
}

static int teardown(void **state)
{
    (void)state;
    mf_fs_rm_rf(tmpdir);
    return 0;
}

/* Write data to tmpdir/name, gzip-compressed when gz; returns the path (static storage, one
 * per call site is enough for these tests: the caller copies when it needs two). */
static const char *put(const char *name, const char *data, size_t n, int gz)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (n)
            assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
    return path;
}

/* Assert that field i of the current record is s. */
static void field_is(const struct mf_csv *c, int i, const char *s)
{
    struct mf_csv_field f = mf_csv_get(c, i);
    if (f.n != strlen(s) || memcmp(f.p, s, f.n) != 0)
        fail_msg("field %d: got '%.*s', want '%s'", i, (int)f.n, f.p, s);
}

static void test_plain(void **state)
{
    (void)state;
    const char *data = "a,b,c\n1,two,\n,,x\n";
    const char *path = put("plain.csv", data, strlen(data), 0);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    assert_int_equal(c.n_names, 3);
    assert_int_equal(mf_csv_column(&c, "a"), 0);
    assert_int_equal(mf_csv_column(&c, "c"), 2);
    assert_int_equal(mf_csv_column(&c, "d"), -1);

    assert_int_equal(mf_csv_next(&c, &err), 1);
    assert_int_equal(c.nf, 3);
    assert_int_equal(c.line, 2);
    assert_int_equal(c.offset, 6);
    field_is(&c, 0, "1");
    field_is(&c, 1, "two");
    field_is(&c, 2, "");
    field_is(&c, 7, ""); /* past the end */
    field_is(&c, -1, "");

    assert_int_equal(mf_csv_next(&c, &err), 1);
    assert_int_equal(c.line, 3);
    assert_int_equal(c.offset, 13);
    field_is(&c, 0, "");
    field_is(&c, 1, "");
    field_is(&c, 2, "x");
    assert_int_equal(mf_csv_next(&c, &err), 0);
    assert_int_equal(mf_csv_next(&c, &err), 0);
    mf_csv_close(&c);
    mf_csv_close(&c); /* twice is harmless */
}

static void test_quotes_and_line_breaks(void **state)
{
    (void)state;
    const char *data = "id,note,n\n"
                       "1,\"a, b\",2\n"
                       "2,\"say \"\"hi\"\"\",3\n"
                       "3,\"line one\nline two\n\",4\n"
                       "4,\"\",\"\"\n"
                       "5,\"\"\"\",x\n";
    const char *path = put("quotes.csv", data, strlen(data), 0);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);

    assert_int_equal(mf_csv_next(&c, &err), 1);
    assert_int_equal(c.nf, 3);
    field_is(&c, 1, "a, b");
    field_is(&c, 2, "2");

    assert_int_equal(mf_csv_next(&c, &err), 1);
    field_is(&c, 1, "say \"hi\"");
    field_is(&c, 2, "3");

    assert_int_equal(mf_csv_next(&c, &err), 1);
    assert_int_equal(c.line, 4);
    assert_int_equal(c.offset, (int64_t)(strstr(data, "3,\"line") - data));
    assert_int_equal(c.nf, 3);
    field_is(&c, 0, "3");
    field_is(&c, 1, "line one\nline two\n");
    field_is(&c, 2, "4");

    assert_int_equal(mf_csv_next(&c, &err), 1);
    assert_int_equal(c.line, 7); /* the record above took lines 4 to 6 */
    assert_int_equal(c.nf, 3);
    field_is(&c, 1, "");
    field_is(&c, 2, "");

    assert_int_equal(mf_csv_next(&c, &err), 1);
    field_is(&c, 1, "\"");
    field_is(&c, 2, "x");
    assert_int_equal(mf_csv_next(&c, &err), 0);
    mf_csv_close(&c);
}

static void test_crlf_bom_blank_lines(void **state)
{
    (void)state;
    const char *data = "\xEF\xBB\xBF"
                       "k,v\r\n"
                       "1,\"x\r\ny\"\r\n"
                       "\r\n"
                       "\n"
                       "2,z";
    const char *path = put("crlf.csv", data, strlen(data), 0);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    assert_int_equal(mf_csv_column(&c, "k"), 0);
    assert_string_equal(c.names[0], "k");
    assert_string_equal(c.names[1], "v");
    assert_int_equal(mf_csv_next(&c, &err), 1);
    field_is(&c, 1, "x\ny"); /* CRLF inside quotes reads as LF */
    assert_int_equal(mf_csv_next(&c, &err), 1);
    assert_int_equal(c.line, 6);
    field_is(&c, 0, "2");
    field_is(&c, 1, "z"); /* no final newline */
    assert_int_equal(mf_csv_next(&c, &err), 0);
    mf_csv_close(&c);
}

static void test_quoted_header(void **state)
{
    (void)state;
    const char *data = "\xEF\xBB\xBF\"a b\",\"c,d\"\n1,2\n";
    const char *path = put("qheader.csv", data, strlen(data), 0);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    assert_int_equal(mf_csv_column(&c, "a b"), 0);
    assert_int_equal(mf_csv_column(&c, "c,d"), 1);
    mf_csv_close(&c);
}

/* Many records with quoted line breaks over several reader buffers, plain and gzip. */
static void check_big(const char *name, int gz)
{
    struct mf_buf b = MF_BUF_INIT;
    const int n = 20000;
    assert_int_equal(mf_buf_puts(&b, "i,text,tail\n"), 0);
    for (int i = 0; i < n; i++) {
        if (i % 3 == 0)
            assert_int_equal(
                mf_buf_printf(&b, "%d,\"row %d,\n\"\"q\"\" %0*d\",t%d\n", i, i, i % 97, 0, i), 0);
        else
            assert_int_equal(mf_buf_printf(&b, "%d,plain %d %0*d,t%d\n", i, i, i % 89, 0, i), 0);
    }
    const char *path = put(name, b.data, b.len, gz);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    int64_t line = 2;
    for (int i = 0; i < n; i++) {
        char want[256], num[32], tail[32];
        assert_int_equal(mf_csv_next(&c, &err), 1);
        assert_int_equal(c.nf, 3);
        assert_int_equal(c.line, line);
        snprintf(num, sizeof num, "%d", i);
        snprintf(tail, sizeof tail, "t%d", i);
        field_is(&c, 0, num);
        if (i % 3 == 0) {
            snprintf(want, sizeof want, "row %d,\n\"q\" %0*d", i, i % 97, 0);
            line += 2;
        } else {
            snprintf(want, sizeof want, "plain %d %0*d", i, i % 89, 0);
            line += 1;
        }
        field_is(&c, 1, want);
        field_is(&c, 2, tail);
    }
    assert_int_equal(mf_csv_next(&c, &err), 0);
    mf_csv_close(&c);
    mf_buf_release(&b);
}

static void test_big_plain(void **state)
{
    (void)state;
    check_big("big.csv", 0);
}

static void test_big_gzip(void **state)
{
    (void)state;
    check_big("big.csv.gz", 1);
}

static void test_truncated_gzip(void **state)
{
    (void)state;
    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_buf_puts(&b, "a,b\n"), 0);
    for (int i = 0; i < 50000; i++)
        assert_int_equal(mf_buf_printf(&b, "%d,%d\n", i, i * 7919 % 10007), 0);
    const char *path = put("trunc.csv.gz", b.data, b.len, 1);
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    /* cut the file in half */
    struct mf_buf z = MF_BUF_INIT;
    struct mf_err err = {0};
    assert_int_equal(mf_fs_read_file(p, (size_t)1 << 30, &z, &err), 0);
    put("trunc.csv.gz", z.data, z.len / 2, 0);

    struct mf_csv c;
    assert_int_equal(mf_csv_open(&c, p, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    int rc, rows = 0;
    while ((rc = mf_csv_next(&c, &err)) == 1) {
        char want[32];
        snprintf(want, sizeof want, "%d", rows);
        field_is(&c, 0, want);
        rows++;
    }
    assert_int_equal(rc, MF_EPARSE);
    assert_int_equal(c.error, MF_CSV_ERR_COMPRESSION);
    assert_false(mf_csv_recoverable(&c));
    assert_true(rows > 0 && rows < 50000);
    assert_non_null(strstr(err.msg, "trunc.csv.gz"));
    mf_err_clear(&err);
    assert_int_equal(mf_csv_next(&c, &err), MF_EPARSE); /* sticky */
    mf_csv_close(&c);
    mf_buf_release(&b);
    mf_buf_release(&z);
}

static void test_bad_quotes_recoverable(void **state)
{
    (void)state;
    const char *data = "a,b\n"
                       "1,ab\"SECRETVALUE\n"
                       "2,\"SECRETVALUE\"tail\n"
                       "3,ok\n";
    const char *path = put("badq.csv", data, strlen(data), 0);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    assert_int_equal(mf_csv_next(&c, &err), MF_EPARSE);
    assert_int_equal(c.error, MF_CSV_ERR_QUOTES);
    assert_true(mf_csv_recoverable(&c));
    assert_int_equal(c.line, 2);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_null(strstr(err.msg, "SECRET"));
    mf_err_clear(&err);
    assert_int_equal(mf_csv_next(&c, &err), MF_EPARSE);
    assert_int_equal(c.line, 3);
    assert_null(strstr(err.msg, "SECRET"));
    mf_err_clear(&err);
    assert_int_equal(mf_csv_next(&c, &err), 1);
    assert_int_equal(c.line, 4);
    field_is(&c, 1, "ok");
    assert_int_equal(mf_csv_next(&c, &err), 0);
    mf_csv_close(&c);
}

static void test_unterminated(void **state)
{
    (void)state;
    const char *data = "a,b\n1,x\n2,\"never closed\nmore SECRETVALUE\n";
    const char *path = put("unterm.csv.gz", data, strlen(data), 1);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    assert_int_equal(mf_csv_next(&c, &err), 1);
    assert_int_equal(mf_csv_next(&c, &err), MF_EPARSE);
    assert_int_equal(c.error, MF_CSV_ERR_UNTERMINATED);
    assert_false(mf_csv_recoverable(&c));
    assert_non_null(strstr(err.msg, "line 3"));
    assert_null(strstr(err.msg, "SECRET"));
    mf_csv_close(&c);
}

static void test_limits(void **state)
{
    (void)state;
    const char *data = "a,b,c\n1,2,3\n1,2,3,4,5\n\"x\",\"y\",\"z\",\"w\"\n6,7,8\n"
                       "\"long\nlong\nlong\nlong\",1,2\n9,9,9\n";
    const char *path = put("limits.csv", data, strlen(data), 0);
    struct mf_csv_opts o = {3, 16};
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, &o, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    assert_int_equal(mf_csv_next(&c, &err), 1);
    field_is(&c, 2, "3");
    assert_int_equal(mf_csv_next(&c, &err), MF_ETOOBIG);
    assert_int_equal(c.error, MF_CSV_ERR_FIELDS);
    assert_true(mf_csv_recoverable(&c));
    assert_int_equal(c.nf, 0);
    mf_err_clear(&err);
    assert_int_equal(mf_csv_next(&c, &err), MF_ETOOBIG); /* quoted path too */
    assert_int_equal(c.error, MF_CSV_ERR_FIELDS);
    mf_err_clear(&err);
    assert_int_equal(mf_csv_next(&c, &err), 1);
    field_is(&c, 0, "6");
    assert_int_equal(mf_csv_next(&c, &err), MF_ETOOBIG); /* 25 bytes over 16 */
    assert_int_equal(c.error, MF_CSV_ERR_RECORD_SIZE);
    assert_false(mf_csv_recoverable(&c));
    mf_csv_close(&c);

    /* one physical line over the limit */
    const char *one = "a\n0123456789012345678901234567890123456789\n";
    path = put("longline.csv", one, strlen(one), 0);
    assert_int_equal(mf_csv_open(&c, path, &o, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    assert_int_equal(mf_csv_next(&c, &err), MF_ETOOBIG);
    assert_int_equal(c.error, MF_CSV_ERR_RECORD_SIZE);
    mf_csv_close(&c);
}

static void test_empty_and_missing(void **state)
{
    (void)state;
    const char *path = put("empty.csv", "", 0, 0);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), MF_EPARSE);
    assert_int_equal(c.error, MF_CSV_ERR_NO_HEADER);
    mf_csv_close(&c);

    path = put("empty.csv.gz", "", 0, 1);
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), MF_EPARSE);
    mf_csv_close(&c);

    char missing[1024];
    snprintf(missing, sizeof missing, "%s/nope.csv", tmpdir);
    mf_err_clear(&err);
    assert_int_equal(mf_csv_open(&c, missing, NULL, &err), MF_ENOTFOUND);
    assert_int_equal(c.error, MF_CSV_ERR_IO);
    assert_non_null(strstr(err.msg, "nope.csv"));
    assert_int_equal(mf_csv_next(&c, &err), MF_ENOTFOUND);
    mf_csv_close(&c);
}

/* Header names repeat: the first wins. */
static void test_duplicate_names(void **state)
{
    (void)state;
    const char *data = "x,y,x\n1,2,3\n";
    const char *path = put("dup.csv", data, strlen(data), 0);
    struct mf_csv c;
    struct mf_err err = {0};
    assert_int_equal(mf_csv_open(&c, path, NULL, &err), 0);
    assert_int_equal(mf_csv_read_header(&c, &err), 0);
    assert_int_equal(mf_csv_column(&c, "x"), 0);
    assert_int_equal(mf_csv_column(&c, "y"), 1);
    mf_csv_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_quotes_and_line_breaks),
        cmocka_unit_test(test_crlf_bom_blank_lines),
        cmocka_unit_test(test_quoted_header),
        cmocka_unit_test(test_big_plain),
        cmocka_unit_test(test_big_gzip),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_bad_quotes_recoverable),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_duplicate_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
