/* config.c - the model configuration: presets, the shape check, and config.json.
 *
 * config.json names the architecture ("medfm-decoder") and a format version, then the sizes:
 *   {"architecture": "medfm-decoder", "version": 1, "vocab": 512, "dim": 384, "layers": 6,
 *    "heads": 6, "hidden": 1024, "context": 512, "tied": true, "rope_theta": 10000,
 *    "norm_eps": 1e-05}
 * Every field is required on load; unknown fields are refused so a typo is not silently ignored.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/json.h"
#include "nn/model.h"

#define ARCH    "medfm-decoder"
#define VERSION 1

int mf_model_preset(const char *name, struct mf_model_config *c)
{
    struct mf_model_config z = {0};
    z.tied = 1;
    z.rope_theta = 10000.0f;
    z.norm_eps = 1e-5f;
    if (name == NULL)
        return MF_EINVAL;
    if (strcmp(name, "tiny") == 0) {
        z.dim = 32, z.layers = 2, z.heads = 2, z.hidden = 96, z.context = 64;
    } else if (strcmp(name, "small") == 0) {
        z.dim = 192, z.layers = 4, z.heads = 4, z.hidden = 512, z.context = 256;
    } else if (strcmp(name, "base") == 0) {
        z.dim = 384, z.layers = 6, z.heads = 6, z.hidden = 1024, z.context = 512;
    } else
        return MF_EINVAL;
    *c = z;
    return 0;
}

static int check_int(const char *field, int v, int max, struct mf_err *err)
{
    if (v <= 0)
        return mf_err_set(err, MF_EINVAL, "model config: %s must be positive (is %d)", field, v);
    if (v > max)
        return mf_err_set(err, MF_EINVAL, "model config: %s is over the limit of %d (is %d)", field,
                          max, v);
    return 0;
}

int mf_model_config_check(const struct mf_model_config *c, struct mf_err *err)
{
    int rc;
    if ((rc = check_int("vocab", c->vocab, 1 << 24, err)) ||
        (rc = check_int("dim", c->dim, 1 << 16, err)) ||
        (rc = check_int("layers", c->layers, 1024, err)) ||
        (rc = check_int("heads", c->heads, 1024, err)) ||
        (rc = check_int("hidden", c->hidden, 1 << 18, err)) ||
        (rc = check_int("context", c->context, 1 << 20, err)))
        return rc;
    if (c->dim % c->heads != 0)
        return mf_err_set(err, MF_EINVAL, "model config: dim (%d) is not divisible by heads (%d)",
                          c->dim, c->heads);
    if ((c->dim / c->heads) % 2 != 0)
        return mf_err_set(err, MF_EINVAL,
                          "model config: dim / heads (%d) must be even for rotary positions",
                          c->dim / c->heads);
    if (c->tied != 0 && c->tied != 1)
        return mf_err_set(err, MF_EINVAL, "model config: tied must be 0 or 1");
    if (!isfinite(c->rope_theta) || c->rope_theta < 0 || (c->rope_theta > 0 && c->rope_theta <= 1))
        return mf_err_set(err, MF_EINVAL, "model config: rope_theta must be over 1 (or 0)");
    if (!isfinite(c->norm_eps) || c->norm_eps < 0 || c->norm_eps > 1)
        return mf_err_set(err, MF_EINVAL, "model config: norm_eps must be in [0, 1]");
    /* the largest products of sizes must fit an int (BLAS dimensions) */
    if ((long long)c->vocab * c->dim > (1LL << 31) - 1 ||
        (long long)c->hidden * c->dim > (1LL << 31) - 1)
        return mf_err_set(err, MF_EINVAL, "model config: vocab * dim or hidden * dim too large");
    return 0;
}

int mf_model_config_save(const struct mf_model_config *c, const char *path, struct mf_err *err)
{
    int rc = mf_model_config_check(c, err);
    if (rc)
        return rc;
    struct mf_buf b = MF_BUF_INIT;
    rc = mf_buf_printf(&b,
                       "{\n  \"architecture\": \"%s\",\n  \"version\": %d,\n  \"vocab\": %d,\n"
                       "  \"dim\": %d,\n  \"layers\": %d,\n  \"heads\": %d,\n  \"hidden\": %d,\n"
                       "  \"context\": %d,\n  \"tied\": %s,\n  \"rope_theta\": ",
                       ARCH, VERSION, c->vocab, c->dim, c->layers, c->heads, c->hidden, c->context,
                       c->tied ? "true" : "false");
    if (!rc)
        rc = mf_buf_put_double(&b, c->rope_theta > 0 ? (double)c->rope_theta : 10000.0);
    if (!rc)
        rc = mf_buf_puts(&b, ",\n  \"norm_eps\": ");
    if (!rc)
        rc = mf_buf_put_double(&b, c->norm_eps > 0 ? (double)c->norm_eps : 1e-5);
    if (!rc)
        rc = mf_buf_puts(&b, "\n}\n");
    if (rc)
        rc = mf_err_set(err, rc, "cannot build '%s'", path);
    else
        rc = mf_fs_write_file_atomic(path, b.data, b.len, err);
    mf_buf_release(&b);
    return rc;
}

static int get_int(const cJSON *root, const char *path, const char *key, int *out,
                   struct mf_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (it == NULL)
        return mf_err_set(err, MF_EPARSE, "'%s': missing field '%s'", path, key);
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < -2147483647.0 || v > 2147483647.0)
        return mf_err_set(err, MF_EPARSE, "'%s': field '%s' must be an integer", path, key);
    *out = (int)v;
    return 0;
}

static int get_float(const cJSON *root, const char *path, const char *key, float *out,
                     struct mf_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (it == NULL)
        return mf_err_set(err, MF_EPARSE, "'%s': missing field '%s'", path, key);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || fabs(it->valuedouble) > 1e30)
        return mf_err_set(err, MF_EPARSE, "'%s': field '%s' must be a number", path, key);
    *out = (float)it->valuedouble;
    return 0;
}

int mf_model_config_load(const char *path, struct mf_model_config *c, struct mf_err *err)
{
    cJSON *root = mf_json_read_file(path, 1 << 20, err);
    if (root == NULL)
        return err && err->code ? err->code : MF_EPARSE;
    int rc = mf_model_config_from_json(root, path, c, err);
    mf_json_release(root);
    return rc;
}

int mf_model_config_from_json(const cJSON *root, const char *path, struct mf_model_config *c,
                              struct mf_err *err)
{
    static const char *const known[] = {"architecture", "version",    "vocab",   "dim",
                                        "layers",       "heads",      "hidden",  "context",
                                        "tied",         "rope_theta", "norm_eps"};
    int rc = 0;
    struct mf_model_config z = {0};
    int version = 0;
    if (!cJSON_IsObject(root)) {
        rc = mf_err_set(err, MF_EPARSE, "'%s': not a JSON object", path);
        goto out;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k], it->string) != 0)
            k++;
        if (k == sizeof known / sizeof known[0]) {
            rc = mf_err_set(err, MF_EPARSE, "'%s': unknown field '%.64s'", path, it->string);
            goto out;
        }
    }
    const char *arch = mf_json_str(root, "architecture");
    if (arch == NULL || strcmp(arch, ARCH) != 0) {
        rc = mf_err_set(err, MF_EUNSUPPORTED, "'%s': field 'architecture' is not \"%s\"", path,
                        ARCH);
        goto out;
    }
    if ((rc = get_int(root, path, "version", &version, err)))
        goto out;
    if (version != VERSION) {
        rc = mf_err_set(err, MF_EUNSUPPORTED, "'%s': field 'version' %d is not supported", path,
                        version);
        goto out;
    }
    if ((rc = get_int(root, path, "vocab", &z.vocab, err)) ||
        (rc = get_int(root, path, "dim", &z.dim, err)) ||
        (rc = get_int(root, path, "layers", &z.layers, err)) ||
        (rc = get_int(root, path, "heads", &z.heads, err)) ||
        (rc = get_int(root, path, "hidden", &z.hidden, err)) ||
        (rc = get_int(root, path, "context", &z.context, err)) ||
        (rc = get_float(root, path, "rope_theta", &z.rope_theta, err)) ||
        (rc = get_float(root, path, "norm_eps", &z.norm_eps, err)))
        goto out;
    const cJSON *tied = cJSON_GetObjectItemCaseSensitive(root, "tied");
    if (!cJSON_IsBool(tied)) {
        rc = mf_err_set(err, MF_EPARSE, "'%s': field 'tied' must be true or false", path);
        goto out;
    }
    z.tied = cJSON_IsTrue(tied) ? 1 : 0;
    struct mf_err e2 = {0};
    if ((rc = mf_model_config_check(&z, &e2)) != 0) {
        rc = mf_err_set(err, rc, "'%s': %s", path, e2.msg);
        goto out;
    }
    *c = z;
out:
    return rc;
}
