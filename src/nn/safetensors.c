/* safetensors.c - model.safetensors: writing the parameter block and reading it back.
 *
 * The format (Hugging Face safetensors): 8 bytes, N, the little-endian length of a JSON header;
 * N bytes of header, a JSON object mapping each tensor name to {"dtype", "shape",
 * "data_offsets": [begin, end)} with offsets relative to the data section that follows, plus an
 * optional "__metadata__" object of strings; the header may be padded with spaces.  We write
 * every tensor as F32 in the order of the parameter block, pad the header so the data starts
 * 8-byte aligned, and add "format": "pt" to the metadata (what the Python ecosystem expects).
 *
 * The reader treats the file as untrusted: the header length is checked against the file, the
 * JSON must be exactly one object, every tensor must be present once with dtype F32 and its
 * shape, offsets must lie inside the data section, match the size, not overlap, and together
 * cover the data section with no holes; no other tensor may be present.  Nothing is copied into
 * the parameters until all of that holds.  Errors name the file and the tensor.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "nn/model.h"
#include "nn/nn_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define MAX_HEADER ((size_t)100 << 20)

static size_t tensor_count(const struct mf_tensor_info *t)
{
    return (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
}

int mf_model_save_safetensors(const struct mf_model *m, const char *path, const char *const *meta,
                              size_t n_meta, struct mf_err *err)
{
    struct mf_buf h = MF_BUF_INIT;
    uint8_t *file = NULL;
    int rc = mf_buf_puts(&h, "{\"__metadata__\":{");
    int has_format = 0;
    for (size_t i = 0; i < n_meta && meta; i++)
        if (meta[2 * i] && strcmp(meta[2 * i], "format") == 0)
            has_format = 1;
    if (!rc && !has_format)
        rc = mf_buf_puts(&h, "\"format\":\"pt\"");
    for (size_t i = 0; !rc && meta && i < n_meta; i++) {
        const char *k = meta[2 * i], *v = meta[2 * i + 1];
        if (k == NULL || v == NULL) {
            mf_buf_release(&h);
            return mf_err_set(err, MF_EINVAL, "'%s': metadata pair %zu has a NULL string", path, i);
        }
        if ((i > 0 || !has_format) && (rc = mf_buf_putc(&h, ',')))
            break;
        if ((rc = mf_buf_json_string(&h, k, strlen(k))) || (rc = mf_buf_putc(&h, ':')) ||
            (rc = mf_buf_json_string(&h, v, strlen(v))))
            break;
    }
    if (!rc)
        rc = mf_buf_putc(&h, '}');
    size_t off = 0;
    size_t nt = mf_model_n_tensors(m);
    for (size_t i = 0; !rc && i < nt; i++) {
        const struct mf_tensor_info *t = mf_model_tensor(m, i);
        size_t bytes = tensor_count(t) * sizeof(float);
        rc = mf_buf_printf(&h, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", t->name);
        if (!rc)
            rc = t->ndim == 2 ? mf_buf_printf(&h, "%d,%d", t->shape[0], t->shape[1])
                              : mf_buf_printf(&h, "%d", t->shape[0]);
        if (!rc)
            rc = mf_buf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        off += bytes;
    }
    if (!rc)
        rc = mf_buf_putc(&h, '}');
    while (!rc && (8 + h.len) % 8 != 0)
        rc = mf_buf_putc(&h, ' ');
    if (rc) {
        mf_buf_release(&h);
        return mf_err_set(err, rc, "'%s': cannot build the safetensors header", path);
    }
    size_t total = 8 + h.len + off;
    file = malloc(total);
    if (file == NULL) {
        mf_buf_release(&h);
        return mf_err_set(err, MF_ENOMEM, "'%s': out of memory for %zu bytes", path, total);
    }
    uint64_t hl = (uint64_t)h.len;
    for (int i = 0; i < 8; i++)
        file[i] = (uint8_t)(hl >> (8 * i));
    memcpy(file + 8, h.data, h.len);
    const float *p = mf_model_params((struct mf_model *)m);
    uint8_t *d = file + 8 + h.len;
    for (size_t i = 0; i < nt; i++) {
        const struct mf_tensor_info *t = mf_model_tensor(m, i);
        size_t bytes = tensor_count(t) * sizeof(float);
        memcpy(d, p + t->offset, bytes);
        d += bytes;
    }
    rc = mf_fs_write_file_atomic(path, file, total, err);
    free(file);
    mf_buf_release(&h);
    return rc;
}

/* a tensor name from the file, safe to print: at most 64 bytes, printable ASCII */
static const char *show(const char *s, char *buf, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap && i < 64; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

/* a JSON number that is a non-negative integer below 2^53 */
static int get_index(const cJSON *it, uint64_t *out)
{
    if (!cJSON_IsNumber(it))
        return -1;
    double v = it->valuedouble;
    if (!(v >= 0) || v > 9007199254740992.0 || v != floor(v))
        return -1;
    *out = (uint64_t)v;
    return 0;
}

struct range {
    uint64_t begin, end;
    size_t tensor;
};

static int cmp_range(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

int mf_nn_safetensors_parse(struct mf_model *m, const uint8_t *data, size_t n, const char *name,
                            struct mf_err *err)
{
    char nb[72];
    if (n < 8)
        return mf_err_set(err, MF_EPARSE, "'%s': %zu bytes is too short for a safetensors file",
                          name, n);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)data[i] << (8 * i);
    if (hl > n - 8)
        return mf_err_set(err, MF_EPARSE,
                          "'%s': header length %llu is past the end of the file (%zu bytes)", name,
                          (unsigned long long)hl, n);
    if (hl > MAX_HEADER)
        return mf_err_set(err, MF_ETOOBIG, "'%s': header length %llu is over the limit of %zu",
                          name, (unsigned long long)hl, MAX_HEADER);
    const char *hdr = (const char *)data + 8;
    size_t hlen = (size_t)hl;
    if (hlen < 2 || hdr[0] != '{')
        return mf_err_set(err, MF_EPARSE, "'%s': the header does not start with '{'", name);
    while (hlen > 0 && hdr[hlen - 1] == ' ')
        hlen--;
    const uint8_t *body = data + 8 + hl;
    size_t body_len = n - 8 - (size_t)hl;

    size_t nt = mf_model_n_tensors(m);
    struct range *rg = calloc(nt ? nt : 1, sizeof *rg);
    unsigned char *seen = calloc(nt ? nt : 1, 1);
    const char *end = NULL;
    cJSON *root = NULL;
    int rc = 0;
    if (rg == NULL || seen == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "'%s': out of memory", name);
        goto out;
    }
    root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (root == NULL || end != hdr + hlen) {
        size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
        rc = mf_err_set(err, MF_EPARSE, "'%s': invalid JSON header at byte %zu", name, 8 + at);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = mf_err_set(err, MF_EPARSE, "'%s': the header is not a JSON object", name);
        goto out;
    }
    int had_meta = 0;
    size_t nr = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        if (strcmp(key, "__metadata__") == 0) {
            if (had_meta++ || !cJSON_IsObject(it)) {
                rc = mf_err_set(err, MF_EPARSE, "'%s': bad or repeated __metadata__", name);
                goto out;
            }
            for (const cJSON *kv = it->child; kv; kv = kv->next)
                if (!cJSON_IsString(kv)) {
                    rc = mf_err_set(err, MF_EPARSE, "'%s': __metadata__ value '%s' is not a string",
                                    name, show(kv->string ? kv->string : "", nb, sizeof nb));
                    goto out;
                }
            continue;
        }
        size_t ti = 0;
        while (ti < nt && strcmp(mf_model_tensor(m, ti)->name, key) != 0)
            ti++;
        if (ti == nt) {
            rc = mf_err_set(err, MF_EPARSE, "'%s': unexpected tensor '%s'", name,
                            show(key, nb, sizeof nb));
            goto out;
        }
        const struct mf_tensor_info *t = mf_model_tensor(m, ti);
        if (seen[ti]) {
            rc = mf_err_set(err, MF_EPARSE, "'%s': tensor '%s' appears twice", name, t->name);
            goto out;
        }
        seen[ti] = 1;
        if (!cJSON_IsObject(it)) {
            rc = mf_err_set(err, MF_EPARSE, "'%s': tensor '%s' is not an object", name, t->name);
            goto out;
        }
        for (const cJSON *f = it->child; f; f = f->next)
            if (!f->string || (strcmp(f->string, "dtype") != 0 && strcmp(f->string, "shape") != 0 &&
                               strcmp(f->string, "data_offsets") != 0)) {
                rc = mf_err_set(err, MF_EPARSE, "'%s': tensor '%s' has an unknown field '%s'", name,
                                t->name, show(f->string ? f->string : "", nb, sizeof nb));
                goto out;
            }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "F32") != 0) {
            rc = mf_err_set(err, MF_EUNSUPPORTED, "'%s': tensor '%s' is not of dtype F32", name,
                            t->name);
            goto out;
        }
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        int ok = cJSON_IsArray(sh) && cJSON_GetArraySize(sh) == t->ndim;
        int d = 0;
        for (const cJSON *e = ok ? sh->child : NULL; e; e = e->next, d++) {
            uint64_t v;
            if (get_index(e, &v) || v != (uint64_t)t->shape[d])
                ok = 0;
        }
        if (!ok) {
            if (t->ndim == 2)
                rc = mf_err_set(err, MF_EPARSE, "'%s': tensor '%s' does not have shape [%d, %d]",
                                name, t->name, t->shape[0], t->shape[1]);
            else
                rc = mf_err_set(err, MF_EPARSE, "'%s': tensor '%s' does not have shape [%d]", name,
                                t->name, t->shape[0]);
            goto out;
        }
        const cJSON *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        uint64_t b = 0, e = 0;
        if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || get_index(of->child, &b) ||
            get_index(of->child->next, &e) || b > e) {
            rc =
                mf_err_set(err, MF_EPARSE, "'%s': tensor '%s' has bad data_offsets", name, t->name);
            goto out;
        }
        if (e > body_len) {
            rc = mf_err_set(err, MF_EPARSE,
                            "'%s': tensor '%s' data_offsets end %llu is past the data section "
                            "(%zu bytes)",
                            name, t->name, (unsigned long long)e, body_len);
            goto out;
        }
        if (e - b != (uint64_t)tensor_count(t) * sizeof(float)) {
            rc = mf_err_set(err, MF_EPARSE,
                            "'%s': tensor '%s' data_offsets span %llu bytes, its shape needs %zu",
                            name, t->name, (unsigned long long)(e - b),
                            tensor_count(t) * sizeof(float));
            goto out;
        }
        rg[nr].begin = b;
        rg[nr].end = e;
        rg[nr].tensor = ti;
        nr++;
    }
    for (size_t i = 0; i < nt; i++)
        if (!seen[i]) {
            rc = mf_err_set(err, MF_EPARSE, "'%s': tensor '%s' is missing", name,
                            mf_model_tensor(m, i)->name);
            goto out;
        }
    qsort(rg, nr, sizeof *rg, cmp_range);
    uint64_t covered = 0;
    for (size_t i = 0; i < nr; i++) {
        if (i > 0 && rg[i].begin < rg[i - 1].end) {
            rc = mf_err_set(err, MF_EPARSE, "'%s': tensors '%s' and '%s' overlap", name,
                            mf_model_tensor(m, rg[i - 1].tensor)->name,
                            mf_model_tensor(m, rg[i].tensor)->name);
            goto out;
        }
        covered += rg[i].end - rg[i].begin;
    }
    if (covered != body_len) {
        rc = mf_err_set(err, MF_EPARSE,
                        "'%s': the data section has %zu bytes, the tensors cover %llu", name,
                        body_len, (unsigned long long)covered);
        goto out;
    }
    float *p = mf_model_params(m);
    for (size_t i = 0; i < nr; i++) {
        const struct mf_tensor_info *t = mf_model_tensor(m, rg[i].tensor);
        memcpy(p + t->offset, body + rg[i].begin, (size_t)(rg[i].end - rg[i].begin));
    }
out:
    cJSON_Delete(root);
    free(rg);
    free(seen);
    return rc;
}

int mf_model_load_safetensors_sha256(struct mf_model *m, const char *path, char sha256[65],
                                     struct mf_err *err)
{
    struct mf_buf b = MF_BUF_INIT;
    size_t max = 8 + MAX_HEADER + mf_model_n_params(m) * sizeof(float);
    int rc = mf_fs_read_file(path, max, &b, err);
    const uint8_t *data = (const uint8_t *)(b.data ? b.data : "");
    if (rc == 0)
        rc = mf_nn_safetensors_parse(m, data, b.len, path, err);
    if (rc == 0 && sha256 && mf_sha256_hex(data, b.len, sha256) != 0)
        rc = mf_err_set(err, MF_ENOMEM, "%s: cannot hash the file", path);
    mf_buf_release(&b);
    return rc;
}

int mf_model_load_safetensors(struct mf_model *m, const char *path, struct mf_err *err)
{
    return mf_model_load_safetensors_sha256(m, path, NULL, err);
}
