/* zip3.h - ZIP codes cut to their first three digits, as HIPAA Safe Harbor allows, with "000"
 * for the three-digit areas of 20,000 people or fewer.  The restricted list is a data file,
 * data/deid/zip3-restricted.txt, which states the Census vintage it comes from. */
#ifndef MF_DEID_ZIP3_H
#define MF_DEID_ZIP3_H

#include <stddef.h>

#include "core/err.h"

/* Load the restricted list (path NULL: mf_data_dir("deid/zip3-restricted.txt")) once per
 * process; later calls return at once.  Thread-safe. */
int mf_deid_zip3_init(const char *path, struct mf_err *err);

/* The three-digit form of a US ZIP ("02139", "02139-4307", "021"): out gets 3 digits and a
 * NUL ("000" for restricted areas).  Returns 0, or MF_EINVAL when zip does not start with 3
 * digits (out is then "000").  mf_deid_zip3_init must have succeeded. */
int mf_deid_zip3(const char *zip, size_t n, char out[4]);

#endif
