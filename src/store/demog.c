/* demog.c - a patient's demographics from the store (see demog.h). */
#include <string.h>

#include "core/timeutil.h"
#include "store/demog.h"

static int take(struct mf_str code, const char *prefix, struct mf_str *out)
{
    size_t n = strlen(prefix);
    if (out->p || code.n <= n || memcmp(code.p, prefix, n) != 0)
        return 0;
    out->p = code.p + n;
    out->n = code.n - n;
    return 1;
}

void mf_demog_of(const struct mf_store *s, const struct mf_timeline *tl, struct mf_demog *d)
{
    memset(d, 0, sizeof *d);
    d->birth = MF_TIME_NONE;
    d->last = MF_TIME_NONE;
    for (size_t i = 0; i < tl->n; i++) {
        struct mf_str c = mf_store_code(s, tl->code[i]);
        if (tl->time[i] == MF_TIME_NONE) {
            if (!take(c, "GENDER/", &d->sex) && !take(c, "RACE/", &d->race))
                take(c, "ETHNICITY/", &d->ethnicity);
            continue;
        }
        d->last = tl->time[i];
        if (d->birth == MF_TIME_NONE && c.n == 10 && memcmp(c.p, "MEDS_BIRTH", 10) == 0)
            d->birth = tl->time[i];
    }
}

double mf_demog_age(const struct mf_demog *d, int64_t t)
{
    if (d->birth == MF_TIME_NONE || t == MF_TIME_NONE || t == INT64_MAX)
        return -1;
    double y = (double)(t - d->birth) / (365.25 * 86400e6);
    return y < 0 ? 0 : y;
}

const char *mf_demog_age_band(double years)
{
    if (years < 0)
        return "unknown";
    if (years < 18)
        return "<18";
    if (years < 40)
        return "18-39";
    if (years < 60)
        return "40-59";
    if (years < 75)
        return "60-74";
    return "75+";
}
