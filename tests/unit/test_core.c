/* test_core.c - unit tests for src/core: times, buffers, string map, hashes, files, reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/rng.h"
#include "core/strmap.h"
#include "core/timeutil.h"

#include "testutil.h"

static int64_t parse(const char *s)
{
    int64_t t = 0;
    assert_int_equal(mf_time_parse(s, strlen(s), &t), 0);
    return t;
}

static void time_parses_fhir_forms(void **state)
{
    (void)state;
    assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse("1970-01-02"), MF_USEC_PER_DAY);
    assert_int_equal(parse("1970"), 0);
    assert_int_equal(parse("1970-02"), 31 * MF_USEC_PER_DAY);
    assert_int_equal(parse("2000-03-01T00:00:00Z") - parse("2000-02-28T00:00:00Z"),
                     2 * MF_USEC_PER_DAY);
    assert_int_equal(parse("2019-05-31T16:16:03-04:00"), parse("2019-05-31T20:16:03Z"));
    assert_int_equal(parse("2019-05-31T16:16:03+05:30"), parse("2019-05-31T10:46:03Z"));
    assert_int_equal(parse("2019-05-31T16:16:03.25Z") - parse("2019-05-31T16:16:03Z"), 250000);
    assert_int_equal(parse("2180-07-23 14:00:00"), parse("2180-07-23T14:00:00Z"));
    assert_int_equal(parse("1900-01-01"), INT64_C(-2208988800) * MF_USEC_PER_SEC);
    assert_int_equal(parse("2019-05-31T16:16"), parse("2019-05-31T16:16:00Z"));
}

static void time_rejects_impossible(void **state)
{
    (void)state;
    const char *bad[] = {"2019-02-29",
                         "2019-13-01",
                         "2019-00-10",
                         "2019-04-31",
                         "2019-05-31T24:00:00Z",
                         "2019-05-31T10:61:00Z",
                         "19-05-31",
                         "",
                         "2019-05-31T10:00:00+15:00",
                         "2019-05-31X",
                         "abcd",
                         "2019-5-1",
                         "0000-01-01",
                         "2019-05-31T10:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        assert_int_equal(mf_time_parse(bad[i], strlen(bad[i]), &t), MF_EPARSE);
    }
    int64_t t;
    assert_int_equal(mf_time_parse("2020-02-29", 10, &t), 0); /* leap year */
    assert_int_equal(mf_time_parse("2000-02-29", 10, &t), 0);
    assert_int_equal(mf_time_parse("1900-02-29", 10, &t), MF_EPARSE);
}

static void time_formats_round_trip(void **state)
{
    (void)state;
    char out[32];
    mf_time_format(parse("2019-05-31T16:16:03Z"), out);
    assert_string_equal(out, "2019-05-31T16:16:03Z");
    mf_time_format(parse("1850-12-31T23:59:59.5Z"), out);
    assert_string_equal(out, "1850-12-31T23:59:59.500000Z");
    mf_time_format(MF_TIME_NONE, out);
    assert_string_equal(out, "");
    for (int64_t d = -800000; d < 800000; d += 997) {
        int64_t y;
        unsigned m, dd;
        mf_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(mf_days_from_civil(y, m, dd), d);
    }
}

static void buf_grows_and_limits(void **state)
{
    (void)state;
    struct mf_buf b = MF_BUF_INIT;
    b.max = 10;
    assert_int_equal(mf_buf_puts(&b, "hello"), 0);
    assert_int_equal(mf_buf_printf(&b, "%d", 12345), 0);
    assert_string_equal(b.data, "hello12345");
    assert_int_equal(mf_buf_putc(&b, 'x'), MF_ETOOBIG);
    assert_int_equal(b.len, 10);
    mf_buf_reset(&b);
    b.max = 0;
    assert_int_equal(mf_buf_json_escape(&b, "a\"b\\c\n\x01", 7), 0);
    assert_string_equal(b.data, "a\\\"b\\\\c\\n\\u0001");
    size_t n;
    char *p = mf_buf_detach(&b, &n);
    assert_int_equal(n, strlen(p));
    free(p);
    assert_null(b.data);
}

/* The escaper skips plain bytes 8 at a time: every special byte at every position, among
 * plain ASCII and UTF-8 bytes, must come out exactly as a byte-by-byte escaper writes it. */
static void json_escape_every_position(void **state)
{
    (void)state;
    static const unsigned char special[] = {'"', '\\', '\n', '\r', '\t', 0x01, 0x1f, 0x00};
    static const unsigned char plain[] = {'a', ' ', 0x7f, 0xc3, 0xa9, 0xff, 0x20, '~'};
    struct mf_buf got = MF_BUF_INIT, want = MF_BUF_INIT;
    char in[40];
    for (size_t len = 1; len < sizeof in; len++)
        for (size_t pos = 0; pos < len; pos++)
            for (size_t k = 0; k < sizeof special; k++) {
                for (size_t i = 0; i < len; i++)
                    in[i] = (char)plain[(i * 7 + len) % sizeof plain];
                in[pos] = (char)special[k];
                mf_buf_reset(&got);
                mf_buf_reset(&want);
                assert_int_equal(mf_buf_json_escape(&got, in, len), 0);
                for (size_t i = 0; i < len; i++) {
                    unsigned char c = (unsigned char)in[i];
                    if (c == '"' || c == '\\')
                        mf_buf_printf(&want, "\\%c", c);
                    else if (c == '\n')
                        mf_buf_puts(&want, "\\n");
                    else if (c == '\r')
                        mf_buf_puts(&want, "\\r");
                    else if (c == '\t')
                        mf_buf_puts(&want, "\\t");
                    else if (c < 0x20)
                        mf_buf_printf(&want, "\\u%04x", c);
                    else
                        mf_buf_putc(&want, (char)c);
                }
                assert_int_equal(got.len, want.len);
                assert_memory_equal(got.data, want.data, want.len);
            }
    mf_buf_release(&got);
    mf_buf_release(&want);
}

/* Base64 in both alphabets, with and without padding and with line breaks; bad input refused. */
static void base64_decodes(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } ok[] = {{"aGVsbG8gd29ybGQ=", "hello world"},
              {"aGVsbG8gd29ybGQ", "hello world"},
              {"aGVs\nbG8g\r\nd29y bGQ=", "hello world"},
              {"Pz8-", "?\?>"},
              {"Pz8+", "?\?>"},
              {"Pz8_", "?\??"},
              {"", ""}};
    struct mf_buf b = MF_BUF_INIT;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(mf_base64_decode(ok[i].in, strlen(ok[i].in), &b), 0);
        assert_int_equal(b.len, strlen(ok[i].want));
        assert_memory_equal(b.data, ok[i].want, b.len);
    }
    assert_int_equal(mf_base64_decode("a", 1, &b), MF_EPARSE);
    assert_int_equal(mf_base64_decode("ab$c", 4, &b), MF_EPARSE);
    mf_buf_release(&b);
}

static void strmap_inserts_and_finds(void **state)
{
    (void)state;
    struct mf_strmap m;
    mf_strmap_init(&m);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "LOINC/%d", i);
        int added;
        struct mf_strmap_slot *s = mf_strmap_upsert(&m, key, (size_t)n, &added);
        assert_non_null(s);
        assert_true(added);
        s->value = (uint64_t)i;
    }
    assert_int_equal(m.n, 5000);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "LOINC/%d", i);
        struct mf_strmap_slot *s = mf_strmap_get(&m, key, (size_t)n);
        assert_non_null(s);
        assert_int_equal(s->value, i);
        assert_memory_equal(mf_strmap_key(&m, s), key, (size_t)n);
    }
    assert_null(mf_strmap_get(&m, "LOINC/5000", 10));
    int added = 1;
    mf_strmap_upsert(&m, "LOINC/7", 7, &added);
    assert_false(added);
    mf_strmap_free(&m);
}

static void sha256_known_vector(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(mf_sha256_hex("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(mf_hash64("a", 1) != mf_hash64("b", 1));
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void reader_reads_lines(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/lines.txt", tmpdir);
    /* a long line crosses the reader's buffer boundary */
    size_t big = 700000;
    char *data = malloc(big + 64);
    size_t n = 0;
    n += (size_t)snprintf(data + n, 64, "first\r\n\n");
    memset(data + n, 'x', big);
    n += big;
    n += (size_t)snprintf(data + n, 64, "\nlast");
    write_file(path, data, n);
    struct mf_reader r;
    struct mf_err err = {0};
    assert_int_equal(mf_reader_open(&r, path, &err), 0);
    char *line;
    size_t len;
    assert_int_equal(mf_reader_line(&r, &line, &len, &err), 1);
    assert_int_equal(len, 5);
    assert_memory_equal(line, "first", 5);
    assert_int_equal(mf_reader_line(&r, &line, &len, &err), 1);
    assert_int_equal(len, 0);
    assert_int_equal(mf_reader_line(&r, &line, &len, &err), 1);
    assert_int_equal(len, big);
    assert_int_equal(r.line, 3);
    assert_int_equal(mf_reader_line(&r, &line, &len, &err), 1);
    assert_memory_equal(line, "last", 4);
    assert_int_equal(mf_reader_line(&r, &line, &len, &err), 0);
    mf_reader_close(&r);
    free(data);
}

static void reader_reads_gzip_and_detects_truncation(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/t.csv.gz", tmpdir);
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    for (int i = 0; i < 20000; i++)
        gzprintf(g, "row,%d,%d\n", i, i * 7919 % 10007);
    gzclose(g);
    struct mf_reader r;
    struct mf_err err = {0};
    char *line;
    size_t len;
    int rows = 0, rc;
    assert_int_equal(mf_reader_open(&r, path, &err), 0);
    while ((rc = mf_reader_line(&r, &line, &len, &err)) == 1)
        rows++;
    assert_int_equal(rc, 0);
    assert_int_equal(rows, 20000);
    mf_reader_close(&r);

    struct mf_buf b = MF_BUF_INIT;
    assert_int_equal(mf_fs_read_file(path, 1 << 30, &b, &err), 0);
    write_file(path, b.data, b.len / 2);
    mf_buf_release(&b);
    assert_int_equal(mf_reader_open(&r, path, &err), 0);
    while ((rc = mf_reader_line(&r, &line, &len, &err)) == 1)
        ;
    assert_int_equal(rc, MF_EPARSE);
    assert_non_null(strstr(err.msg, "truncated"));
    mf_reader_close(&r);
}

static void fs_lists_sorted_and_filters(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/tree/b", tmpdir);
    struct mf_err err = {0};
    assert_int_equal(mf_fs_mkdir_p(p, &err), 0);
    const char *names[] = {"tree/b/z.json", "tree/a.json", "tree/c.txt", "tree/.hidden.json"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        write_file(p, "{}", 2);
    }
    struct mf_strlist l = {0};
    static const char *const sfx[] = {".json", NULL};
    snprintf(p, sizeof p, "%s/tree", tmpdir);
    assert_int_equal(mf_fs_list(p, sfx, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_non_null(strstr(l.items[0], "tree/a.json"));
    assert_non_null(strstr(l.items[1], "tree/b/z.json"));
    mf_strlist_free(&l);
    snprintf(p, sizeof p, "%s/missing", tmpdir);
    assert_int_equal(mf_fs_list(p, sfx, &l, &err), MF_ENOTFOUND);
}

static void fs_read_file_limit(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/big", tmpdir);
    write_file(p, "0123456789", 10);
    struct mf_buf b = MF_BUF_INIT;
    struct mf_err err = {0};
    assert_int_equal(mf_fs_read_file(p, 9, &b, &err), MF_ETOOBIG);
    mf_err_clear(&err);
    assert_int_equal(mf_fs_read_file(p, 10, &b, &err), 0);
    assert_int_equal(b.len, 10);
    mf_buf_release(&b);
}

static void json_arena_parse(void **state)
{
    (void)state;
    const char *doc = "{\"a\": [1, 2, {\"b\": \"c\"}], \"d\": \"e\"}";
    for (int i = 0; i < 3; i++) {
        cJSON *j = mf_json_parse(doc, strlen(doc), NULL);
        assert_non_null(j);
        assert_string_equal(mf_json_str(j, "d"), "e");
        assert_non_null(mf_json_arr(j, "a"));
        assert_null(mf_json_obj(j, "a"));
        mf_json_release(j);
    }
    size_t off = 0;
    assert_null(mf_json_parse("{\"a\": [1, }", 11, &off));
    assert_true(off >= 9 && off <= 11);
    /* trees built outside the arena still use malloc and free */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "k", "v");
    cJSON_Delete(o);
}

static void rng_streams_and_distributions(void **state)
{
    (void)state;
    struct mf_rng a, b, c;
    mf_rng_seed(&a, 42, 7);
    mf_rng_seed(&b, 42, 7);
    mf_rng_seed(&c, 42, 8);
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = mf_rng_u64(&a);
        assert_int_equal(x, mf_rng_u64(&b));
        same += x == mf_rng_u64(&c);
    }
    assert_true(same < 2); /* another stream is another sequence */
    /* moments: uniform mean 1/2, normal mean 0 and variance 1, exponential mean 1 */
    double su = 0, sn = 0, sn2 = 0, se = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = mf_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        su += u;
        double z = mf_rng_normal(&a);
        sn += z;
        sn2 += z * z;
        se += mf_rng_exp(&a);
    }
    assert_true(fabs(su / n - 0.5) < 0.005);
    assert_true(fabs(sn / n) < 0.01);
    assert_true(fabs(sn2 / n - 1) < 0.02);
    assert_true(fabs(se / n - 1) < 0.01);
    /* below, weighted and cdf draws hit each outcome at its share */
    int hits[4] = {0};
    const double w[4] = {1, 2, 3, 4}, cdf[4] = {1, 3, 6, 10};
    for (int i = 0; i < 100000; i++) {
        hits[mf_rng_weighted(&a, w, 4)]++;
        assert_int_equal(mf_rng_cdf(&a, cdf, 4) < 4, 1);
        assert_true(mf_rng_below(&a, 3) < 3);
    }
    for (int k = 0; k < 4; k++)
        assert_true(fabs(hits[k] / 100000.0 - w[k] / 10) < 0.01);
}

static const char *put_double(struct mf_buf *b, double v)
{
    mf_buf_reset(b);
    assert_int_equal(mf_buf_put_double(b, v), 0);
    return b->data;
}

static void buf_put_double_round_trips(void **state)
{
    (void)state;
    struct mf_buf b = MF_BUF_INIT;
    assert_string_equal(put_double(&b, 98.6), "98.6");
    assert_string_equal(put_double(&b, -0.25), "-0.25");
    assert_string_equal(put_double(&b, 0.001), "0.001");
    assert_string_equal(put_double(&b, 120), "120");
    assert_string_equal(put_double(&b, -7), "-7");
    assert_string_equal(put_double(&b, 1.0 / 3), "0.3333333333333333");
    assert_string_equal(put_double(&b, 0.1 + 0.2), "0.30000000000000004");
    assert_string_equal(put_double(&b, NAN), "null");
    assert_string_equal(put_double(&b, -0.0), "-0");
    /* random values at every scale, with few and many decimals: the text reads back exactly
     * and is never longer than printf's shortest round-trip form */
    struct mf_rng r;
    mf_rng_seed(&r, 5, 0);
    for (int i = 0; i < 200000; i++) {
        double scale = pow(10, (double)mf_rng_below(&r, 24) - 12);
        double v = (mf_rng_uniform(&r) - 0.5) * scale;
        if (i % 2)
            v = nearbyint(v * 1000) / 1000; /* three decimals, as lab values have */
        const char *s = put_double(&b, v);
        assert_true(strtod(s, NULL) == v);
        char ref[40];
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(ref, sizeof ref, "%.*g", prec, v);
            if (strtod(ref, NULL) == v)
                break;
        }
        if (strchr(ref, 'e') == NULL) /* exponent forms are shorter than any plain decimal */
            if (strlen(s) > strlen(ref))
                fail_msg("%s vs %s", s, ref);
    }
    mf_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_parses_fhir_forms),
        cmocka_unit_test(time_rejects_impossible),
        cmocka_unit_test(time_formats_round_trip),
        cmocka_unit_test(buf_grows_and_limits),
        cmocka_unit_test(buf_put_double_round_trips),
        cmocka_unit_test(json_escape_every_position),
        cmocka_unit_test(base64_decodes),
        cmocka_unit_test(strmap_inserts_and_finds),
        cmocka_unit_test(sha256_known_vector),
        cmocka_unit_test(reader_reads_lines),
        cmocka_unit_test(reader_reads_gzip_and_detects_truncation),
        cmocka_unit_test(fs_lists_sorted_and_filters),
        cmocka_unit_test(fs_read_file_limit),
        cmocka_unit_test(json_arena_parse),
        cmocka_unit_test(rng_streams_and_distributions),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
