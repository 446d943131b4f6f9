/* zip3.c - three-digit ZIP codes with the restricted areas as "000" (see zip3.h). */
#include "deid/zip3.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"

static unsigned char restricted[1000];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;

static int isdig(char c)
{
    return c >= '0' && c <= '9';
}

/* Parse the list: comments (#) and blank lines, else exactly three digits a line. */
static int parse(const char *path, const char *s, size_t n, unsigned char *set, struct mf_err *err)
{
    size_t line = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '\n')
            j++;
        line++;
        size_t e = j;
        while (e > i && (s[e - 1] == '\r' || s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (e > i && s[i] != '#') {
            if (e - i != 3 || !isdig(s[i]) || !isdig(s[i + 1]) || !isdig(s[i + 2]))
                return mf_err_set(err, MF_EPARSE,
                                  "%s:%zu: expected a three-digit ZIP area or a # comment", path,
                                  line);
            set[(s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0')] = 1;
        }
        i = j + 1;
    }
    return 0;
}

int mf_deid_zip3_init(const char *path, struct mf_err *err)
{
    pthread_mutex_lock(&lock);
    int rc = 0;
    if (!loaded) {
        char own[4096];
        if (path == NULL) {
            snprintf(own, sizeof own, "%s", mf_data_dir("deid/zip3-restricted.txt"));
            path = own;
        }
        struct mf_buf b = MF_BUF_INIT;
        unsigned char set[1000] = {0};
        rc = mf_fs_read_file(path, 1u << 20, &b, err);
        if (rc == 0)
            rc = parse(path, b.data, b.len, set, err);
        if (rc == 0) {
            memcpy(restricted, set, sizeof set);
            loaded = 1;
        }
        mf_buf_release(&b);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int mf_deid_zip3(const char *zip, size_t n, char out[4])
{
    memcpy(out, "000", 4);
    if (n < 3 || !isdig(zip[0]) || !isdig(zip[1]) || !isdig(zip[2]))
        return MF_EINVAL;
    int z = (zip[0] - '0') * 100 + (zip[1] - '0') * 10 + (zip[2] - '0');
    if (!restricted[z])
        memcpy(out, zip, 3);
    return 0;
}
