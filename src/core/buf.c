/* buf.c - growable byte buffers with a hard maximum (see buf.h). */
#include "core/buf.h"
#include "core/err.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base64.h>

int mf_buf_grow(struct mf_buf *b, size_t n)
{
    size_t max = b->max ? b->max : SIZE_MAX / 2;
    if (n > max || b->len > max - n)
        return MF_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap < SIZE_MAX / 4 ? cap * 2 : need;
    char *p;
    if (b->len == 0) {
        /* nothing to keep: realloc would copy the old capacity's stale bytes */
        free(b->data);
        b->data = NULL;
        b->cap = 0;
        p = malloc(cap);
    } else {
        p = realloc(b->data, cap);
    }
    if (p == NULL)
        return MF_ENOMEM;
    if (b->len == 0)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return 0;
}

int mf_buf_append(struct mf_buf *b, const void *data, size_t n)
{
    int rc = mf_buf_grow(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mf_buf_puts(struct mf_buf *b, const char *s)
{
    return mf_buf_append(b, s, strlen(s));
}

int mf_buf_putc(struct mf_buf *b, char c)
{
    return mf_buf_append(b, &c, 1);
}

int mf_buf_printf(struct mf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MF_EINVAL;
    if ((size_t)n < sizeof small)
        return mf_buf_append(b, small, (size_t)n);
    int rc = mf_buf_grow(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int mf_buf_json_escape(struct mf_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    int rc = mf_buf_grow(b, n + 2); /* the common case: nothing to escape */
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* skip 8 plain bytes at a time: none below 0x20, no '"', no '\\' */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
            uint64_t ctl = (w - ones * 0x20) & ~w; /* high bit set: byte < 0x20 */
            uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
            uint64_t hit = ctl | ((q - ones) & ~q) | ((bs - ones) & ~bs);
            if (hit & highs)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = mf_buf_append(b, s + start, i - start);
        if (rc)
            break;
        start = i + 1;
        switch (c) {
        case '"':
            rc = mf_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            rc = mf_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            rc = mf_buf_append(b, "\\n", 2);
            break;
        case '\r':
            rc = mf_buf_append(b, "\\r", 2);
            break;
        case '\t':
            rc = mf_buf_append(b, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = mf_buf_append(b, u, 6);
        }
        }
    }
    if (rc == 0)
        rc = mf_buf_append(b, s + start, n - start);
    return rc;
}

int mf_buf_put_double(struct mf_buf *b, double v)
{
    if (isnan(v) || isinf(v))
        return mf_buf_puts(b, "null");
    if (v == (double)(int64_t)v && v > -1e15 && v < 1e15 && !(v == 0 && signbit(v))) {
        /* a whole number: its digits, without printf */
        char d[24];
        int k = 0;
        int64_t x = (int64_t)v;
        uint64_t u = x < 0 ? (uint64_t)(-x) : (uint64_t)x;
        do {
            d[k++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (x < 0)
            d[k++] = '-';
        char out[24];
        for (int i = 0; i < k; i++)
            out[i] = d[k - 1 - i];
        return mf_buf_append(b, out, (size_t)k);
    }
    /* A few decimals (most clinical values): m / 10^d with m < 2^53 is the division of two exact
     * doubles, so it is correctly rounded, as strtod of the decimal text is; when it gives back
     * v, those digits are v's shortest text for that d (Clinger's fast path, run backwards). */
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    double a = fabs(v);
    for (int d = 1; a != 0 && d <= 9 && a * p10[d] < 9007199254740992.0; d++) {
        double m = nearbyint(a * p10[d]);
        if (m / p10[d] != a)
            continue;
        char digits[24], out[40];
        int k = 0, o = 0;
        uint64_t u = (uint64_t)m;
        do {
            digits[k++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (k <= d) /* at least one digit before the point */
            digits[k++] = '0';
        if (v < 0)
            out[o++] = '-';
        for (int i = k - 1; i >= 0; i--) {
            out[o++] = digits[i];
            if (i == d)
                out[o++] = '.';
        }
        return mf_buf_append(b, out, (size_t)o);
    }
    char s[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, v);
        if (prec == 17 || strtod(s, NULL) == v)
            break;
    }
    return mf_buf_puts(b, s);
}

int mf_buf_json_string(struct mf_buf *b, const char *s, size_t n)
{
    int rc = mf_buf_putc(b, '"');
    if (rc == 0)
        rc = mf_buf_json_escape(b, s, n);
    return rc ? rc : mf_buf_putc(b, '"');
}

void mf_buf_reset(struct mf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void mf_buf_release(struct mf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *mf_buf_detach(struct mf_buf *b, size_t *len)
{
    if (b->data == NULL && mf_buf_grow(b, 0) != 0)
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

/* Decode s with one of Nettle's base64 alphabets into out (replacing its contents). */
static int base64_try(const char *s, size_t n, struct mf_buf *out, int url)
{
    struct base64_decode_ctx ctx;
    if (url)
        base64url_decode_init(&ctx);
    else
        base64_decode_init(&ctx);
    mf_buf_reset(out);
    int rc = mf_buf_grow(out, BASE64_DECODE_LENGTH(n) + 1);
    if (rc)
        return rc;
    size_t k = BASE64_DECODE_LENGTH(n);
    if (!base64_decode_update(&ctx, &k, (uint8_t *)out->data, n, s))
        return MF_EPARSE;
    /* padding is optional for some senders: supply what is missing */
    size_t digits = 0;
    for (size_t i = 0; i < n; i++)
        digits += s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t';
    size_t pad = (4 - digits % 4) % 4, k2 = 0;
    if (pad == 3 ||
        (pad && !base64_decode_update(&ctx, &k2, (uint8_t *)out->data + k, pad, "==")) ||
        !base64_decode_final(&ctx))
        return MF_EPARSE;
    out->len = k + k2;
    out->data[out->len] = '\0';
    return 0;
}

int mf_base64_decode(const char *s, size_t n, struct mf_buf *out)
{
    int rc = base64_try(s, n, out, 0);
    return rc == MF_EPARSE ? base64_try(s, n, out, 1) : rc;
}
