/* rng.c - xoshiro256** seeded through splitmix64, and distributions (see rng.h). */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mf_rng_seed(struct mf_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    x = splitmix64(&x) ^ stream;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t mf_rng_u64(struct mf_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mf_rng_uniform(struct mf_rng *r)
{
    return (double)(mf_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t mf_rng_below(struct mf_rng *r, uint64_t n)
{
    /* rejection keeps it unbiased */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = mf_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double mf_rng_normal(struct mf_rng *r)
{
    double u = 1.0 - mf_rng_uniform(r), v = mf_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * 3.14159265358979323846 * v);
}

double mf_rng_exp(struct mf_rng *r)
{
    return -log(1.0 - mf_rng_uniform(r));
}

int mf_rng_bernoulli(struct mf_rng *r, double p)
{
    return mf_rng_uniform(r) < p;
}

size_t mf_rng_weighted(struct mf_rng *r, const double *w, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    double x = mf_rng_uniform(r) * sum;
    for (size_t i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

size_t mf_rng_cdf(struct mf_rng *r, const double *cdf, size_t n)
{
    double x = mf_rng_uniform(r) * cdf[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}
