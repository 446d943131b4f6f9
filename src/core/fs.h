/* fs.h - files and folders: whole-file reads with a size limit, recursive listing, removal,
 * atomic replacement of a folder, and a buffered reader that opens plain or gzip files alike.
 *
 * All functions that fail put the path (never file contents) into err.
 */
#ifndef MF_CORE_FS_H
#define MF_CORE_FS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Read a whole file into out (appending).  Files over max bytes fail with MF_ETOOBIG. */
int mf_fs_read_file(const char *path, size_t max, struct mf_buf *out, struct mf_err *err);

/* Write data to path through a temporary file and rename, with fsync. */
int mf_fs_write_file_atomic(const char *path, const void *data, size_t n, struct mf_err *err);

int mf_fs_is_dir(const char *path);
int mf_fs_exists(const char *path);
int mf_fs_mkdir_p(const char *path, struct mf_err *err);
/* Remove a file or a folder tree; a missing path is not an error. */
int mf_fs_rm_rf(const char *path);
int mf_fs_fsync_dir(const char *path);
/* Write all n bytes to fd, retrying short writes and EINTR.  0, or -1 with errno set. */
int mf_fs_write_all(int fd, const void *data, size_t n);
/* Start writing a file's range to disk now, without waiting (Linux; elsewhere nothing), so a
 * large output's final fsync does not write it all at once at the end. */
void mf_fs_start_writeback(int fd, int64_t off, int64_t len);

/* A list of paths; mf_strlist_free releases paths and array. */
struct mf_strlist {
    char **items;
    size_t n, cap;
};
int mf_strlist_push(struct mf_strlist *l, const char *s);
void mf_strlist_sort(struct mf_strlist *l);
void mf_strlist_free(struct mf_strlist *l);

/* Append to out every regular file under path (path itself when it is a file) whose name ends
 * with one of the NULL-terminated suffixes (NULL suffixes: every file), sorted by path so the
 * order is stable.  Hidden files (leading '.') are skipped. */
int mf_fs_list(const char *path, const char *const *suffixes, struct mf_strlist *out,
               struct mf_err *err);

/* Atomically put the folder tmp in place of dst: when dst exists, the two are exchanged in one
 * step (renameat2 RENAME_EXCHANGE) and the old one removed, so there is never a moment with no
 * dst or a half-written dst. */
int mf_fs_replace_dir(const char *tmp, const char *dst, struct mf_err *err);

/* A buffered reader over a plain or gzip-compressed file (detected by content, not by name).
 * A truncated or corrupt gzip stream is an MF_EPARSE error naming the path and offset. */
struct mf_reader {
    void *gz;
    const char *path;
    char *buf;
    size_t cap, pos, len;
    int eof;
    int64_t offset; /* uncompressed bytes handed out so far */
    int64_t line;   /* 1-based number of the last line returned by mf_reader_line */
    size_t max_line;
    struct mf_buf carry;
};

int mf_reader_open(struct mf_reader *r, const char *path, struct mf_err *err);
/* Next line without its "\n" (and "\r"); *line points into the reader, valid until the next
 * call.  Returns 1 with a line, 0 at end of file, negative on error.  Lines over max_line
 * (default 64 MiB) fail with MF_ETOOBIG. */
int mf_reader_line(struct mf_reader *r, char **line, size_t *len, struct mf_err *err);
void mf_reader_close(struct mf_reader *r);

/* The folder of medfm's data files, DIR/sub (DIR itself when sub is NULL or empty): DIR is
 * $MEDFM_DATA_DIR when set, else the build's share/medfm.  The result lives in a per-thread buffer
 * until the next call. */
const char *mf_data_dir(const char *sub);

#endif
