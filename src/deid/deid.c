/* deid.c - keys, keyed pseudonyms and date shifts, and the event de-identifier (see deid.h). */
#include "deid/deid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/hmac.h>

#include "core/fs.h"
#include "core/timeutil.h"

static const char hexd[] = "0123456789abcdef";

int mf_deid_key_generate(const char *path, struct mf_err *err)
{
    struct mf_deid_key key;
    size_t got = 0;
    while (got < sizeof key.bytes) {
        ssize_t k = getrandom(key.bytes + got, sizeof key.bytes - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return mf_err_set(err, MF_EIO, "cannot read random bytes: %s", strerror(errno));
        got += (size_t)k;
    }
    char text[2 * MF_DEID_KEY_BYTES + 1];
    for (size_t i = 0; i < MF_DEID_KEY_BYTES; i++) {
        text[2 * i] = hexd[key.bytes[i] >> 4];
        text[2 * i + 1] = hexd[key.bytes[i] & 15];
    }
    text[2 * MF_DEID_KEY_BYTES] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return mf_err_set(err, errno == EEXIST ? MF_EEXIST : MF_EIO,
                          errno == EEXIST ? "'%s' exists; a key file is never overwritten"
                                          : "cannot create '%s'",
                          path);
    int rc = 0;
    if (fchmod(fd, 0600) != 0 || write(fd, text, sizeof text) != (ssize_t)sizeof text ||
        fsync(fd) != 0)
        rc = mf_err_set(err, MF_EIO, "cannot write '%s'", path);
    close(fd);
    if (rc)
        unlink(path);
    memset(&key, 0, sizeof key);
    memset(text, 0, sizeof text);
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mf_deid_key_load(const char *path, struct mf_deid_key *key, struct mf_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return mf_err_set(err, MF_ENOTFOUND,
                          "no key file at '%s' (make one with 'medfm deid "
                          "keygen --out FILE')",
                          path);
    if (!S_ISREG(st.st_mode))
        return mf_err_set(err, MF_EINVAL, "key file '%s' is not a regular file", path);
    if (st.st_mode & 077)
        return mf_err_set(err, MF_EINVAL,
                          "key file '%s' can be read or written by others; run chmod 600 on it",
                          path);
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, 256, &b, err);
    if (rc)
        return rc;
    size_t n = b.len;
    while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
        n--;
    if (n != 2 * MF_DEID_KEY_BYTES)
        rc = mf_err_set(err, MF_EPARSE, "key file '%s' is not a medfm key (64 hex digits)", path);
    for (size_t i = 0; rc == 0 && i < MF_DEID_KEY_BYTES; i++) {
        int hi = hexval(b.data[2 * i]), lo = hexval(b.data[2 * i + 1]);
        if (hi < 0 || lo < 0)
            rc = mf_err_set(err, MF_EPARSE, "key file '%s' is not a medfm key (64 hex digits)",
                            path);
        else
            key->bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    memset(b.data, 0, b.len);
    mf_buf_release(&b);
    return rc;
}

/* HMAC-SHA256(key, label + "\0" + id). */
static void keyed(const struct mf_deid_key *key, const char *label, const char *id, size_t n,
                  uint8_t out[SHA256_DIGEST_SIZE])
{
    struct hmac_sha256_ctx c;
    hmac_sha256_set_key(&c, sizeof key->bytes, key->bytes);
    hmac_sha256_update(&c, strlen(label) + 1, (const uint8_t *)label);
    hmac_sha256_update(&c, n, (const uint8_t *)id);
    hmac_sha256_digest(&c, SHA256_DIGEST_SIZE, out);
}

void mf_deid_pseudonym(const struct mf_deid_key *key, const char *id, size_t n, char out[33])
{
    uint8_t d[SHA256_DIGEST_SIZE];
    keyed(key, "subject", id, n, d);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hexd[d[i] >> 4];
        out[2 * i + 1] = hexd[d[i] & 15];
    }
    out[32] = '\0';
}

int64_t mf_deid_shift(const struct mf_deid_key *key, const char *id, size_t n)
{
    uint8_t d[SHA256_DIGEST_SIZE];
    keyed(key, "shift", id, n, d);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | d[i];
    int64_t days = (int64_t)(x % 730) - 365; /* -365 .. 364 */
    if (days >= 0)
        days++; /* never 0: -365 .. -1, 1 .. 365 */
    return days * MF_USEC_PER_DAY;
}

int mf_deid_text_is_code(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    const char *slash = memchr(s, '/', n);
    if (slash == NULL || slash == s || slash == s + n - 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f)
            return 0;
    }
    for (const char *p = s; p < slash; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* Pseudonym and shift; text kept when keep_text, else only when code-shaped. */
static int event_deid(const struct mf_deid_key *key, struct mf_event *ev, struct mf_buf *scratch,
                      int keep_text, struct mf_err *err)
{
    char pseudo[33];
    mf_deid_pseudonym(key, ev->subject, ev->subject_len, pseudo);
    if (ev->time != MF_TIME_NONE)
        ev->time += mf_deid_shift(key, ev->subject, ev->subject_len);
    mf_buf_reset(scratch);
    if (mf_buf_append(scratch, pseudo, 32) != 0)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    ev->subject = scratch->data;
    ev->subject_len = 32;
    if (!keep_text && ev->text && !mf_deid_text_is_code(ev->text, ev->text_len)) {
        ev->text = NULL;
        ev->text_len = 0;
    }
    return 0;
}

int mf_deid_event_hook(void *ctx, struct mf_event *ev, struct mf_buf *scratch, struct mf_err *err)
{
    return event_deid(ctx, ev, scratch, 0, err);
}

int mf_deid_event_hook_text(void *ctx, struct mf_event *ev, struct mf_buf *scratch,
                            struct mf_err *err)
{
    return event_deid(ctx, ev, scratch, 1, err);
}

const char *mf_deid_event_profile(void)
{
    return "medfm event de-identification v1: subject=hmac-sha256(key,subject)[0:16] hex; "
           "time+=per-subject shift of +-1..365 whole days from hmac-sha256(key,shift); "
           "text kept only when code-shaped (VOCAB/CODE, <= 64 bytes), else dropped";
}
