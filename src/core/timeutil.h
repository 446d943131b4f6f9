/* timeutil.h - event times: microseconds since 1970-01-01T00:00:00Z in an int64_t.
 *
 * Parses the date forms found in clinical sources: FHIR date, dateTime and instant
 * (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff]][Z|+hh:mm|-hh:mm]) and the
 * space-separated form of MIMIC-IV CSVs (YYYY-MM-DD hh:mm:ss).  Partial dates resolve to their
 * first instant.  A dateTime without a zone is read as UTC.  Impossible dates (month 13,
 * February 30, hour 25) fail; years run 0001 to 9999.
 */
#ifndef MF_CORE_TIMEUTIL_H
#define MF_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* The time of a static fact (sex, race): it has none.  Sorts before every real time. */
#define MF_TIME_NONE INT64_MIN

#define MF_USEC_PER_SEC INT64_C(1000000)
#define MF_USEC_PER_DAY (INT64_C(86400) * MF_USEC_PER_SEC)

/* Parse s[0..n) into *out.  Returns 0 or MF_EPARSE. */
int mf_time_parse(const char *s, size_t n, int64_t *out);

/* Write t as ISO-8601 UTC with a Z ("2019-05-31T16:16:03Z", fractional seconds only when
 * present) into out, which holds at least 32 bytes.  MF_TIME_NONE writes "". */
void mf_time_format(int64_t t, char out[32]);

/* Days since 1970-01-01 of a proleptic Gregorian date; month 1..12. */
int64_t mf_days_from_civil(int64_t y, unsigned m, unsigned d);
/* Inverse of mf_days_from_civil. */
void mf_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* A duration such as "1y", "6mo", "30d", "24h", "90min", "45s", "2w" (one number and a unit:
 * s, min, h, d, w, mo = 30.4375 days, y = 365.25 days) into microseconds.  0 or MF_EPARSE. */
int mf_duration_parse(const char *s, int64_t *out);

/* Build a time from a date at midnight UTC. */
int64_t mf_time_from_date(int64_t y, unsigned m, unsigned d);

#endif
