/* fuzz_eval_report.c - libFuzzer target for metrics.json checking and report.html drawing
 * (src/eval/report.c).
 *
 * The input is parsed as JSON; a document that mf_report_check accepts is drawn as
 * report.html into a scratch file, which must then exist.  A rejected document must come with
 * an error message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/json.h"
#include "eval/report.h"

#include "scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        if (mf_report_write_html(root, path, &err) != 0 || !mf_fs_exists(path))
            abort();
        unlink(path);
    }
    mf_json_release(root);
    return 0;
}
