/* timeutil.c - ISO-8601 parsing and formatting of event times (see timeutil.h). */
#include "core/timeutil.h"
#include "core/err.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t mf_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void mf_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t mf_time_from_date(int64_t y, unsigned m, unsigned d)
{
    return mf_days_from_civil(y, m, d) * MF_USEC_PER_DAY;
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Read exactly k decimal digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, int k, unsigned *out)
{
    unsigned v = 0;
    for (int j = 0; j < k; j++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[*i] - '0');
        (*i)++;
    }
    *out = v;
    return 0;
}

int mf_time_parse(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    unsigned y, mo = 1, d = 1, hh = 0, mm = 0, ss = 0;
    int64_t frac = 0, off = 0;
    if (digits(s, n, &i, 4, &y) || y < 1)
        return MF_EPARSE;
    if (i < n && s[i] == '-') {
        i++;
        if (digits(s, n, &i, 2, &mo) || mo < 1 || mo > 12)
            return MF_EPARSE;
        if (i < n && s[i] == '-') {
            i++;
            if (digits(s, n, &i, 2, &d) || d < 1 || d > days_in_month(y, mo))
                return MF_EPARSE;
            if (i < n && (s[i] == 'T' || s[i] == ' ')) {
                i++;
                if (digits(s, n, &i, 2, &hh) || hh > 23 || i >= n || s[i++] != ':' ||
                    digits(s, n, &i, 2, &mm) || mm > 59)
                    return MF_EPARSE;
                if (i < n && s[i] == ':') {
                    i++;
                    /* 60 only as a leap second; it folds into the next minute */
                    if (digits(s, n, &i, 2, &ss) || ss > 60)
                        return MF_EPARSE;
                    if (i < n && s[i] == '.') {
                        i++;
                        int nd = 0;
                        int64_t scale = 100000;
                        while (i < n && s[i] >= '0' && s[i] <= '9') {
                            if (nd < 6) {
                                frac += (s[i] - '0') * scale;
                                scale /= 10;
                            }
                            nd++;
                            i++;
                        }
                        if (nd == 0)
                            return MF_EPARSE;
                    }
                }
                if (i < n && s[i] == 'Z') {
                    i++;
                } else if (i < n && (s[i] == '+' || s[i] == '-')) {
                    int sign = s[i] == '-' ? -1 : 1;
                    unsigned oh, om;
                    i++;
                    if (digits(s, n, &i, 2, &oh) || oh > 14 || i >= n || s[i++] != ':' ||
                        digits(s, n, &i, 2, &om) || om > 59)
                        return MF_EPARSE;
                    off = sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
                }
            }
        }
    }
    if (i != n)
        return MF_EPARSE;
    int64_t secs = mf_days_from_civil(y, mo, d) * 86400 + (int64_t)hh * 3600 + (int64_t)mm * 60 +
                   (int64_t)ss - off;
    *out = secs * MF_USEC_PER_SEC + frac;
    return 0;
}

void mf_time_format(int64_t t, char out[32])
{
    if (t == MF_TIME_NONE) {
        out[0] = '\0';
        return;
    }
    int64_t days = t / MF_USEC_PER_DAY;
    int64_t rem = t % MF_USEC_PER_DAY;
    if (rem < 0) {
        rem += MF_USEC_PER_DAY;
        days--;
    }
    int64_t y;
    unsigned m, d;
    mf_civil_from_days(days, &y, &m, &d);
    int64_t secs = rem / MF_USEC_PER_SEC, us = rem % MF_USEC_PER_SEC;
    int hh = (int)(secs / 3600), mm = (int)(secs / 60 % 60), ss = (int)(secs % 60);
    /* At most 30 characters (years of int64 microseconds have at most 6 digits and a sign);
     * formatted into a larger buffer so that the compiler can see nothing is cut. */
    char tmp[64];
    if (us)
        snprintf(tmp, sizeof tmp, "%04lld-%02u-%02uT%02d:%02d:%02d.%06lldZ", (long long)y, m, d, hh,
                 mm, ss, (long long)us);
    else
        snprintf(tmp, sizeof tmp, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d, hh, mm,
                 ss);
    size_t n = strlen(tmp);
    n = n < 31 ? n : 31;
    memcpy(out, tmp, n);
    out[n] = '\0';
}

int mf_duration_parse(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        double usec;
    } units[] = {
        {"s", 1e6},
        {"min", 60e6},
        {"h", 3600e6},
        {"d", 86400e6},
        {"w", 7 * 86400e6},
        {"mo", 30.4375 * 86400e6},
        {"y", 365.25 * 86400e6},
    };
    if (s == NULL || *s == '\0')
        return MF_EPARSE;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0) || v > 1e6)
        return MF_EPARSE;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            *out = (int64_t)llround(v * units[i].usec);
            return 0;
        }
    return MF_EPARSE;
}
