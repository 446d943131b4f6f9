/* rng.h - a small, fast, seedable random number generator (xoshiro256**) with the
 * distributions the simulator needs.
 *
 * Streams: mf_rng_seed(r, seed, stream) gives independent sequences for the same seed, so
 * patient k of a cohort draws from stream k whatever thread simulates it (deterministic output
 * for any thread count).  Not for cryptography.
 */
#ifndef MF_CORE_RNG_H
#define MF_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

struct mf_rng {
    uint64_t s[4];
};

void mf_rng_seed(struct mf_rng *r, uint64_t seed, uint64_t stream);
uint64_t mf_rng_u64(struct mf_rng *r);
/* Uniform on [0, 1) with 53 random bits. */
double mf_rng_uniform(struct mf_rng *r);
/* Uniform integer on [0, n); n > 0. */
uint64_t mf_rng_below(struct mf_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double mf_rng_normal(struct mf_rng *r);
/* Exponential with rate 1. */
double mf_rng_exp(struct mf_rng *r);
/* True with probability p. */
int mf_rng_bernoulli(struct mf_rng *r, double p);
/* An index drawn from weights w[0..n) (need not sum to 1; all >= 0, sum > 0). */
size_t mf_rng_weighted(struct mf_rng *r, const double *w, size_t n);
/* An index from a cumulative table cdf[0..n) (non-decreasing, cdf[n-1] > 0): binary search. */
size_t mf_rng_cdf(struct mf_rng *r, const double *cdf, size_t n);

#endif
