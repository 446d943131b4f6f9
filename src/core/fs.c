/* fs.c - files and folders, atomic folder replacement, plain/gzip reader (see fs.h). */
#define _GNU_SOURCE
#include "core/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

int mf_fs_read_file(const char *path, size_t max, struct mf_buf *out, struct mf_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mf_err_set(err, errno == ENOENT ? MF_ENOTFOUND : MF_EIO, "cannot open '%s': %s",
                          path, strerror(errno));
    int rc = 0;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = mf_err_set(err, MF_EIO, "cannot stat '%s': %s", path, strerror(errno));
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = mf_err_set(err, MF_ETOOBIG, "'%s' is larger than the limit of %zu bytes", path, max);
        goto out;
    }
    /* one byte more than the file, so the read that sees the end needs no growth (growing
     * would copy the whole file) */
    rc = mf_buf_grow(out, (size_t)st.st_size + 1);
    if (rc) {
        rc = mf_err_set(err, rc, "cannot hold '%s' in memory", path);
        goto out;
    }
    for (;;) {
        if (out->cap - out->len <= 1 && (rc = mf_buf_grow(out, 65536)) != 0) {
            rc = mf_err_set(err, rc, "'%s' is larger than the limit of %zu bytes", path, max);
            goto out;
        }
        ssize_t k = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            rc = mf_err_set(err, MF_EIO, "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (k == 0)
            break;
        out->len += (size_t)k;
        if (out->len > max) {
            rc = mf_err_set(err, MF_ETOOBIG, "'%s' is larger than the limit of %zu bytes", path,
                            max);
            goto out;
        }
    }
    out->data[out->len] = '\0';
out:
    close(fd);
    return rc;
}

int mf_fs_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int mf_fs_write_file_atomic(const char *path, const void *data, size_t n, struct mf_err *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return mf_err_set(err, MF_EINVAL, "path too long '%s'", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return mf_err_set(err, MF_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    if (mf_fs_write_all(fd, data, n) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return mf_err_set(err, MF_EIO, "cannot write '%s': %s", tmp, strerror(e));
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return mf_err_set(err, MF_EIO, "cannot flush '%s'", tmp);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return mf_err_set(err, MF_EIO, "cannot rename to '%s': %s", path, strerror(e));
    }
    return 0;
}

int mf_fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int mf_fs_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int mf_fs_mkdir_p(const char *path, struct mf_err *err)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return mf_err_set(err, MF_EINVAL, "bad folder path");
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return mf_err_set(err, MF_EIO, "cannot create folder '%s': %s", tmp, strerror(errno));
        tmp[i] = c;
    }
    return 0;
}

int mf_fs_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : MF_EIO;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 ? 0 : MF_EIO;
    DIR *d = opendir(path);
    if (d == NULL)
        return MF_EIO;
    int rc = 0;
    struct dirent *de;
    char child[4096];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(child, sizeof child, "%s/%s", path, de->d_name) >= (int)sizeof child) {
            rc = MF_EINVAL;
            continue;
        }
        if (mf_fs_rm_rf(child) != 0)
            rc = MF_EIO;
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = MF_EIO;
    return rc;
}

int mf_fs_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return MF_EIO;
    int rc = fsync(fd) == 0 ? 0 : MF_EIO;
    close(fd);
    return rc;
}

void mf_fs_start_writeback(int fd, int64_t off, int64_t len)
{
#ifdef SYNC_FILE_RANGE_WRITE
    (void)sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE); /* advice: failure is harmless */
#else
    (void)fd;
    (void)off;
    (void)len;
#endif
}

int mf_strlist_push(struct mf_strlist *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->items, cap * sizeof *p);
        if (p == NULL)
            return MF_ENOMEM;
        l->items = p;
        l->cap = cap;
    }
    char *c = strdup(s);
    if (c == NULL)
        return MF_ENOMEM;
    l->items[l->n++] = c;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void mf_strlist_sort(struct mf_strlist *l)
{
    if (l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, cmp_str);
}

void mf_strlist_free(struct mf_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

static int has_suffix(const char *name, const char *const *suffixes)
{
    if (suffixes == NULL)
        return 1;
    size_t n = strlen(name);
    for (; *suffixes; suffixes++) {
        size_t k = strlen(*suffixes);
        if (n >= k && strcmp(name + n - k, *suffixes) == 0)
            return 1;
    }
    return 0;
}

static int list_rec(const char *path, const char *const *suffixes, struct mf_strlist *out,
                    struct mf_err *err, int depth)
{
    if (depth > 32)
        return mf_err_set(err, MF_EINVAL, "folders nested too deep under '%s'", path);
    DIR *d = opendir(path);
    if (d == NULL)
        return mf_err_set(err, MF_EIO, "cannot read folder '%s': %s", path, strerror(errno));
    struct dirent *de;
    char child[4096];
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t pl = strlen(path);
        const char *sep = pl && path[pl - 1] == '/' ? "" : "/";
        if (snprintf(child, sizeof child, "%s%s%s", path, sep, de->d_name) >= (int)sizeof child) {
            rc = mf_err_set(err, MF_EINVAL, "path too long under '%s'", path);
            break;
        }
        struct stat st;
        if (stat(child, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = list_rec(child, suffixes, out, err, depth + 1);
        else if (S_ISREG(st.st_mode) && has_suffix(de->d_name, suffixes))
            rc = mf_strlist_push(out, child) ? mf_err_set(err, MF_ENOMEM, "out of memory") : 0;
    }
    closedir(d);
    return rc;
}

int mf_fs_list(const char *path, const char *const *suffixes, struct mf_strlist *out,
               struct mf_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return mf_err_set(err, MF_ENOTFOUND, "cannot find '%s'", path);
    size_t before = out->n;
    int rc;
    if (S_ISDIR(st.st_mode))
        rc = list_rec(path, suffixes, out, err, 0);
    else
        rc = mf_strlist_push(out, path) ? mf_err_set(err, MF_ENOMEM, "out of memory") : 0;
    if (rc == 0 && out->n > before + 1)
        qsort(out->items + before, out->n - before, sizeof *out->items, cmp_str);
    return rc;
}

int mf_fs_replace_dir(const char *tmp, const char *dst, struct mf_err *err)
{
    if (!mf_fs_exists(dst)) {
        if (rename(tmp, dst) != 0)
            return mf_err_set(err, MF_EIO, "cannot rename into '%s': %s", dst, strerror(errno));
        return 0;
    }
    if (!mf_fs_is_dir(dst))
        return mf_err_set(err, MF_EEXIST, "'%s' exists and is not a folder", dst);
#ifdef SYS_renameat2
    if (syscall(SYS_renameat2, AT_FDCWD, tmp, AT_FDCWD, dst, 2 /* RENAME_EXCHANGE */) == 0) {
        mf_fs_rm_rf(tmp); /* now holds the old store */
        return 0;
    }
#endif
    /* Fallback for file systems without exchange: move the old one aside first; a crash in
     * between leaves it under the aside name, never half of either. */
    char aside[4096];
    if (snprintf(aside, sizeof aside, "%s.old-%ld", dst, (long)getpid()) >= (int)sizeof aside)
        return mf_err_set(err, MF_EINVAL, "path too long '%s'", dst);
    if (rename(dst, aside) != 0)
        return mf_err_set(err, MF_EIO, "cannot move '%s' aside: %s", dst, strerror(errno));
    if (rename(tmp, dst) != 0) {
        int e = errno;
        rename(aside, dst);
        return mf_err_set(err, MF_EIO, "cannot rename into '%s': %s", dst, strerror(e));
    }
    mf_fs_rm_rf(aside);
    return 0;
}

int mf_reader_open(struct mf_reader *r, const char *path, struct mf_err *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->max_line = (size_t)64 << 20;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mf_err_set(err, errno == ENOENT ? MF_ENOTFOUND : MF_EIO, "cannot open '%s': %s",
                          path, strerror(errno));
    r->gz = gzdopen(fd, "rb");
    if (r->gz == NULL) {
        close(fd);
        return mf_err_set(err, MF_ENOMEM, "cannot open '%s'", path);
    }
    gzbuffer(r->gz, 1 << 17);
    r->cap = 1 << 18;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        mf_reader_close(r);
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    return 0;
}

static int fill(struct mf_reader *r, struct mf_err *err)
{
    int k = gzread(r->gz, r->buf, (unsigned)r->cap);
    if (k < 0) {
        int zerr;
        gzerror(r->gz, &zerr);
        return mf_err_set(err, MF_EPARSE, "'%s': byte %lld: corrupt compressed data", r->path,
                          (long long)r->offset);
    }
    if (k == 0) {
        /* zlib reports a truncated stream as Z_BUF_ERROR once input runs out */
        int zerr = 0;
        gzerror(r->gz, &zerr);
        if (zerr == Z_BUF_ERROR || zerr == Z_DATA_ERROR)
            return mf_err_set(err, MF_EPARSE,
                              "'%s': byte %lld: compressed data ends early (truncated file)",
                              r->path, (long long)r->offset);
        r->eof = 1;
    }
    r->pos = 0;
    r->len = (size_t)k;
    return 0;
}

int mf_reader_line(struct mf_reader *r, char **line, size_t *len, struct mf_err *err)
{
    mf_buf_reset(&r->carry);
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof)
                break;
            int rc = fill(r, err);
            if (rc)
                return rc;
            continue;
        }
        char *s = r->buf + r->pos;
        char *nl = memchr(s, '\n', r->len - r->pos);
        size_t k = nl ? (size_t)(nl - s) : r->len - r->pos;
        if (nl && r->carry.len == 0) {
            /* the common case: the whole line is in the buffer */
            r->pos += k + 1;
            r->offset += (int64_t)k + 1;
            r->line++;
            if (k && s[k - 1] == '\r')
                k--;
            if (k > r->max_line)
                return mf_err_set(err, MF_ETOOBIG, "'%s': line %lld is longer than %zu bytes",
                                  r->path, (long long)r->line, r->max_line);
            *line = s;
            *len = k;
            return 1;
        }
        if (r->carry.len + k > r->max_line)
            return mf_err_set(err, MF_ETOOBIG, "'%s': line %lld is longer than %zu bytes", r->path,
                              (long long)r->line + 1, r->max_line);
        if (mf_buf_append(&r->carry, s, k))
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        r->pos += k + (nl ? 1 : 0);
        r->offset += (int64_t)k + (nl ? 1 : 0);
        if (nl)
            break;
    }
    /* nothing carried at end of file: no more lines (a final "\n" ends the last line) */
    if (r->carry.len == 0 && r->eof && r->pos == r->len)
        return 0;
    r->line++;
    size_t k = r->carry.len;
    if (k && r->carry.data[k - 1] == '\r')
        k--;
    *line = r->carry.data;
    *len = k;
    return 1;
}

void mf_reader_close(struct mf_reader *r)
{
    if (r->gz)
        gzclose(r->gz);
    r->gz = NULL;
    free(r->buf);
    r->buf = NULL;
    mf_buf_release(&r->carry);
}

#ifndef MEDFM_DATA_DIR
#define MEDFM_DATA_DIR "share/medfm"
#endif

const char *mf_data_dir(const char *sub)
{
    static _Thread_local char path[4096];
    const char *d = getenv("MEDFM_DATA_DIR");
    const char *base = d && *d ? d : MEDFM_DATA_DIR;
    if (sub == NULL || sub[0] == '\0')
        snprintf(path, sizeof path, "%s", base);
    else
        snprintf(path, sizeof path, "%s/%s", base, sub);
    return path;
}
