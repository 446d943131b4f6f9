/* buf.h - growable byte buffers with a hard maximum size.
 *
 * Invariants: data is NUL-terminated whenever data != NULL (the NUL is not counted in len);
 * len <= max.  A buffer that would grow past max fails with MF_ETOOBIG, so untrusted input
 * cannot make one grow without bound.  Ownership: mf_buf_release frees; mf_buf_detach hands
 * data to the caller, who frees it with free().
 */
#ifndef MF_CORE_BUF_H
#define MF_CORE_BUF_H

#include <stddef.h>

struct mf_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 means SIZE_MAX / 2 */
};

#define MF_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Make room for n more bytes.  Returns 0, MF_ENOMEM or MF_ETOOBIG. */
int mf_buf_grow(struct mf_buf *b, size_t n);
int mf_buf_append(struct mf_buf *b, const void *data, size_t n);
int mf_buf_puts(struct mf_buf *b, const char *s);
int mf_buf_putc(struct mf_buf *b, char c);
int mf_buf_printf(struct mf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as the body of a JSON string (quotes not included), escaping as RFC 8259 asks. */
int mf_buf_json_escape(struct mf_buf *b, const char *s, size_t n);
/* Append v with the fewest significant digits (up to 17) that read back as the same double;
 * NaN and infinities, which JSON cannot carry, append "null". */
int mf_buf_put_double(struct mf_buf *b, double v);
/* Append s as a JSON string, quotes included. */
int mf_buf_json_string(struct mf_buf *b, const char *s, size_t n);
/* Decode base64 (the standard alphabet, or the URL-safe one some senders use; whitespace
 * ignored, padding optional) into b, replacing its contents.  0, MF_EPARSE for bad input, or a
 * buffer error. */
int mf_base64_decode(const char *s, size_t n, struct mf_buf *b);
void mf_buf_reset(struct mf_buf *b);
void mf_buf_release(struct mf_buf *b);
char *mf_buf_detach(struct mf_buf *b, size_t *len);

#endif
