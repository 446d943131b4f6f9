/* fuzz_eval_report.c - libFuzzer target for metrics.json checking and report.html drawing
 * (src/eval/report.c, src/eval/svg.c).
 *
 * The input is parsed as JSON; a document that mf_report_check accepts is drawn as report.html
 * into a scratch file, which must then exist and hold no tag taken from the input (every
 * string is escaped, so "<script" or "<img" can only appear if escaping failed).  A rejected
 * document must come with an error message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/json.h"
#include "eval/report.h"

#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether the page holds a tag the page itself never writes. */
static int foreign_tag(const char *s, size_t n)
{
    static const char *const tags[] = {"<script", "<img", "<iframe", "<object", "<link"};
    for (size_t i = 0; i < n; i++)
        if (s[i] == '<')
            for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++) {
                size_t l = strlen(tags[k]);
                if (i + l <= n && strncasecmp(s + i, tags[k], l) == 0)
                    return 1;
            }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = mf_json_parse((const char *)data, size, NULL);
    if (root == NULL)
        return 0;
    struct mf_err err = {0};
    if (mf_report_check(root, "metrics.json", &err) != 0) {
        if (err.msg[0] == '\0')
            abort();
    } else {
        const char *path = scratch_path("fuzz_eval_report", ".html");
        struct mf_buf b = MF_BUF_INIT;
        if (mf_report_write_html(root, path, &err) != 0 ||
            mf_fs_read_file(path, (size_t)1 << 30, &b, &err) != 0 || b.len == 0 ||
            foreign_tag(b.data, b.len))
            abort();
        mf_buf_release(&b);
        unlink(path);
    }
    mf_json_release(root);
    return 0;
}
