/* json.h - cJSON with a per-thread arena, and small lookup helpers.
 *
 * mf_json_parse builds the tree in a thread-local arena: one bump allocation per node instead
 * of a malloc each, and one reset instead of a free per node.  Trees from mf_json_parse must be
 * released with mf_json_release, never cJSON_Delete.
 *
 * While an arena tree is alive on a thread, every cJSON allocation of that thread comes from
 * the arena, so editing the tree (cJSON_SetValuestring, cJSON_AddItemToObject, cJSON_Delete of
 * a detached item: what a de-identification hook does) is safe; freeing arena memory is a
 * no-op.  Consequently a cJSON tree created on that thread in that window lives only until the
 * last arena tree is released.  Outside that window cJSON uses malloc and free as usual.
 */
#ifndef MF_CORE_JSON_H
#define MF_CORE_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/buf.h"

/* Parse data[0..len).  On a syntax error returns NULL and sets *err_offset (when not NULL) to
 * the byte offset where parsing stopped. */
cJSON *mf_json_parse(const char *data, size_t len, size_t *err_offset);
void mf_json_release(cJSON *root);
/* Read and parse a JSON file of at most max bytes (released with mf_json_release).  NULL with
 * an error naming the file (and the byte where parsing stopped) when it cannot be read or is
 * not JSON. */
struct mf_err;
cJSON *mf_json_read_file(const char *path, size_t max, struct mf_err *err);

/* Append the compact JSON text of item to out.  Numbers are printed with the fewest digits
 * that read back as the same double (cJSON's own printer can lose the last digit), so values
 * survive a parse and print exactly.  0 or MF_ENOMEM. */
int mf_json_print(const cJSON *item, struct mf_buf *out);

/* A Bulk Data export folder (one with export.json): append the files its manifest lists,
 * resolved by their last path segment inside dir.  Returns 1 when dir has a manifest, 0 when
 * not, or an error naming the manifest (no output list, an entry without a usable url, a
 * listed file that is missing). */
struct mf_strlist;
struct mf_err;
int mf_json_bulk_export_files(const char *dir, struct mf_strlist *files, struct mf_err *err);

/* The string value of obj[key], or NULL when absent or not a string. */
const char *mf_json_str(const cJSON *obj, const char *key);
/* obj[key] when it is an object / array, else NULL. */
const cJSON *mf_json_obj(const cJSON *obj, const char *key);
const cJSON *mf_json_arr(const cJSON *obj, const char *key);

#endif
