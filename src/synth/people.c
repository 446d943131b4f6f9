/* people.c - identities for the synthetic cohort: names, relatives, addresses, phones,
 * email, SSN and MRN, drawn from public name and place lists (see synth.h).
 *
 * The lists are plain text files written at build time by scripts/synth-lists.py from Debian's
 * python3-fake-factory (US Census name frequencies, Faker's US address parts) into
 * <data dir>/synth/.  Loading parses them once into read-only tables, so any number of threads
 * may draw from one set of lists.  Drawing a person allocates nothing: every field is a fixed
 * array in struct mf_synth_person.
 *
 * Left out: real place names (cities are composed the way Faker composes them), area codes
 * that match the state (any valid-format area code is drawn), and ZIP codes that exist (the
 * first three digits fall in the state's USPS range; the last two are random).
 */
#include "synth/synth.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"

/* Largest list file accepted, and the longest entry (names land in char[48] fields). */
#define LIST_MAX_BYTES (4u << 20)
#define ENTRY_MAX      40

/* One list: entries point into mem; cdf is the running sum of weights (NULL: uniform). */
struct list {
    char *mem;
    const char **v;
    double *cdf;
    size_t n;
};

struct state {
    char abbr[4];
    int zip3_lo, zip3_hi;
};

struct mf_synth_lists {
    struct list given_female, given_male, family;
    struct list street_suffixes, city_prefixes, city_suffixes, email_domains;
    struct list states_raw;
    struct state *states;
    size_t n_states;
};

static void list_free(struct list *l)
{
    free(l->mem);
    free(l->v);
    free(l->cdf);
    memset(l, 0, sizeof *l);
}

void mf_synth_lists_free(struct mf_synth_lists *l)
{
    if (l == NULL)
        return;
    list_free(&l->given_female);
    list_free(&l->given_male);
    list_free(&l->family);
    list_free(&l->street_suffixes);
    list_free(&l->city_prefixes);
    list_free(&l->city_suffixes);
    list_free(&l->email_domains);
    list_free(&l->states_raw);
    free(l->states);
    free(l);
}

/* An entry is printable ASCII without tabs, 1 to ENTRY_MAX bytes. */
static int entry_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENTRY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* Read dir/synth/name into l: one entry a line; with weighted, "entry<TAB>weight" lines and
 * l->cdf filled; with fields > 0, lines of exactly fields tab-separated fields kept whole (the
 * caller parses them).  Blank lines are skipped.  The file must hold at least one entry. */
static int list_load(const char *dir, const char *name, int weighted, int fields, struct list *l,
                     struct mf_err *err)
{
    char path[4096];
    struct mf_buf b = MF_BUF_INIT;
    int rc = 0;
    memset(l, 0, sizeof *l);
    if (snprintf(path, sizeof path, "%s/synth/%s", dir, name) >= (int)sizeof path) {
        rc = mf_err_set(err, MF_EINVAL, "data folder path too long for list '%s'", name);
        goto out;
    }
    if ((rc = mf_fs_read_file(path, LIST_MAX_BYTES, &b, err)) != 0) {
        if (rc == MF_ENOTFOUND)
            mf_err_set(err, rc, "missing list '%s' (run scripts/synth-lists.py)", path);
        goto out;
    }
    size_t lines = 1;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    l->v = calloc(lines, sizeof *l->v);
    l->cdf = weighted ? malloc(lines * sizeof *l->cdf) : NULL;
    if (l->v == NULL || (weighted && l->cdf == NULL)) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto out;
    }
    double sum = 0;
    size_t lineno = 0;
    char *p = b.data, *end = b.data + b.len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        lineno++;
        *e = '\0';
        if (e > p && e[-1] == '\r')
            e[-1] = '\0';
        char *line = p;
        p = e + 1;
        if (line[0] == '\0')
            continue;
        if (weighted) {
            char *tab = strchr(line, '\t');
            char *stop = NULL;
            double w = tab ? strtod(tab + 1, &stop) : 0;
            if (tab == NULL || stop == tab + 1 || *stop != '\0' || !(w > 0) || !isfinite(w)) {
                rc = mf_err_set(err, MF_EPARSE, "malformed weight on line %zu of '%s'", lineno,
                                path);
                goto out;
            }
            *tab = '\0';
            sum += w;
            l->cdf[l->n] = sum;
        } else if (fields > 0) {
            int tabs = 0;
            for (const char *q = line; *q; q++)
                tabs += *q == '\t';
            if (tabs != fields - 1) {
                rc = mf_err_set(err, MF_EPARSE, "expected %d fields on line %zu of '%s'", fields,
                                lineno, path);
                goto out;
            }
        }
        if (fields == 0 && !entry_ok(line)) {
            rc = mf_err_set(err, MF_EPARSE, "malformed entry on line %zu of '%s'", lineno, path);
            goto out;
        }
        l->v[l->n++] = line;
    }
    if (l->n == 0) {
        rc = mf_err_set(err, MF_EPARSE, "empty list '%s'", path);
        goto out;
    }
    l->mem = mf_buf_detach(&b, NULL);
out:
    mf_buf_release(&b);
    if (rc)
        list_free(l);
    return rc;
}

/* A three-digit ZIP prefix field ("021"). */
static int zip3_parse(const char *s, const char *stop, int *out)
{
    if (stop - s != 3)
        return -1;
    int v = 0;
    for (const char *q = s; q < stop; q++) {
        if (*q < '0' || *q > '9')
            return -1;
        v = v * 10 + (*q - '0');
    }
    *out = v;
    return 0;
}

/* states.tsv: "abbr<TAB>zip3_lo<TAB>zip3_hi" lines. */
static int states_load(const char *dir, struct mf_synth_lists *l, struct mf_err *err)
{
    int rc = list_load(dir, "states.tsv", 0, 3, &l->states_raw, err);
    if (rc)
        return rc;
    l->states = calloc(l->states_raw.n, sizeof *l->states);
    if (l->states == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->states_raw.n; i++) {
        const char *s = l->states_raw.v[i];
        const char *t1 = s ? strchr(s, '\t') : NULL, *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        struct state *st = &l->states[i];
        if (t1 == NULL || t2 == NULL || t1 - s != 2 || !isupper((unsigned char)s[0]) ||
            !isupper((unsigned char)s[1]) || zip3_parse(t1 + 1, t2, &st->zip3_lo) != 0 ||
            zip3_parse(t2 + 1, t2 + 1 + strlen(t2 + 1), &st->zip3_hi) != 0 ||
            st->zip3_lo > st->zip3_hi) {
            return mf_err_set(err, MF_EPARSE, "malformed state on entry %zu of '%s/synth/%s'",
                              i + 1, dir, "states.tsv");
        }
        st->abbr[0] = s[0];
        st->abbr[1] = s[1];
        st->abbr[2] = '\0';
    }
    l->n_states = l->states_raw.n;
    return 0;
}

int mf_synth_lists_load(const char *dir, struct mf_synth_lists **out, struct mf_err *err)
{
    int rc = 0;
    *out = NULL;
    struct mf_synth_lists *l = calloc(1, sizeof *l);
    if (l == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    if ((rc = list_load(dir, "given-female.tsv", 1, 0, &l->given_female, err)) != 0 ||
        (rc = list_load(dir, "given-male.tsv", 1, 0, &l->given_male, err)) != 0 ||
        (rc = list_load(dir, "family.tsv", 1, 0, &l->family, err)) != 0 ||
        (rc = list_load(dir, "street-suffixes.txt", 0, 0, &l->street_suffixes, err)) != 0 ||
        (rc = list_load(dir, "city-prefixes.txt", 0, 0, &l->city_prefixes, err)) != 0 ||
        (rc = list_load(dir, "city-suffixes.txt", 0, 0, &l->city_suffixes, err)) != 0 ||
        (rc = list_load(dir, "email-domains.txt", 0, 0, &l->email_domains, err)) != 0 ||
        (rc = states_load(dir, l, err)) != 0)
        goto out;
    *out = l;
    l = NULL;
out:
    mf_synth_lists_free(l);
    return rc;
}

/* --- drawing ------------------------------------------------------------------------------ */

static const char *pick(struct mf_rng *rng, const struct list *l)
{
    if (l->cdf)
        return l->v[mf_rng_cdf(rng, l->cdf, l->n)];
    return l->v[mf_rng_below(rng, l->n)];
}

/* Copy s into dst[n], truncating. */
static void copy(char *dst, size_t n, const char *s)
{
    size_t k = strlen(s);
    if (k >= n)
        k = n - 1;
    memcpy(dst, s, k);
    dst[k] = '\0';
}

static void name_draw(const struct mf_synth_lists *l, struct mf_rng *rng, int female,
                      struct mf_synth_name *nm)
{
    copy(nm->given, sizeof nm->given, pick(rng, female ? &l->given_female : &l->given_male));
    copy(nm->family, sizeof nm->family, pick(rng, &l->family));
}

/* A city the way Faker composes US ones: "North Maryton", "Lake Anna", "Smithville"... */
static void city_draw(const struct mf_synth_lists *l, struct mf_rng *rng, char *out, size_t n)
{
    const char *given = pick(rng, mf_rng_below(rng, 2) ? &l->given_female : &l->given_male);
    switch (mf_rng_below(rng, 4)) {
    case 0:
        snprintf(out, n, "%s %s%s", pick(rng, &l->city_prefixes), given,
                 pick(rng, &l->city_suffixes));
        break;
    case 1:
        snprintf(out, n, "%s %s", pick(rng, &l->city_prefixes), given);
        break;
    case 2:
        snprintf(out, n, "%s%s", given, pick(rng, &l->city_suffixes));
        break;
    default:
        snprintf(out, n, "%s%s", pick(rng, &l->family), pick(rng, &l->city_suffixes));
        break;
    }
}

/* "1234 Maple Street", sometimes with "Apt. 5" / "Suite 210" / "Unit 3B". */
static void line_draw(const struct mf_synth_lists *l, struct mf_rng *rng, char *out, size_t n)
{
    static const unsigned lo[] = {100, 1000, 10000};
    size_t digits = mf_rng_below(rng, 3);
    unsigned number = lo[digits] + (unsigned)mf_rng_below(rng, lo[digits] * 9);
    const char *street = mf_rng_below(rng, 2)
                             ? pick(rng, &l->family)
                             : pick(rng, mf_rng_below(rng, 2) ? &l->given_female : &l->given_male);
    const char *suffix = pick(rng, &l->street_suffixes);
    int k = snprintf(out, n, "%u %s %s", number, street, suffix);
    if (k < 0 || (size_t)k >= n || mf_rng_uniform(rng) >= 0.25)
        return;
    unsigned unit = 1 + (unsigned)mf_rng_below(rng, 400);
    switch (mf_rng_below(rng, 4)) {
    case 0:
        snprintf(out + k, n - (size_t)k, " Apt. %u", unit);
        break;
    case 1:
        snprintf(out + k, n - (size_t)k, " Apt %u", unit % 40 + 1);
        break;
    case 2:
        snprintf(out + k, n - (size_t)k, " Suite %u", unit + 100);
        break;
    default:
        snprintf(out + k, n - (size_t)k, " Unit %u%c", unit % 12 + 1,
                 (char)('A' + mf_rng_below(rng, 4)));
        break;
    }
}

/* A NANP area code: NXX with N 2-9, not N11, middle digit not 9 (a block kept unassigned). */
static unsigned area_draw(struct mf_rng *rng)
{
    for (;;) {
        unsigned a = 2 + (unsigned)mf_rng_below(rng, 8);
        unsigned b = (unsigned)mf_rng_below(rng, 9);
        unsigned c = (unsigned)mf_rng_below(rng, 10);
        if (!(b == 1 && c == 1))
            return a * 100 + b * 10 + c;
    }
}

/* A number "617-555-0123" in area: the exchange is NXX (N 2-9) and not N11. */
static void phone_draw(struct mf_rng *rng, unsigned area, char out[16])
{
    unsigned ex;
    do
        ex = 200 + (unsigned)mf_rng_below(rng, 800);
    while (ex % 100 == 11);
    snprintf(out, 16, "%03u-%03u-%04u", area % 1000, ex % 1000, (unsigned)mf_rng_below(rng, 10000));
}

/* Lower-case letters of s appended to out (bounded). */
static size_t put_lower(char *out, size_t k, size_t n, const char *s)
{
    for (; *s && k + 1 < n; s++)
        if (isalnum((unsigned char)*s))
            out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
    return k;
}

/* Append c to out (bounded). */
static size_t put_ch(char *out, size_t k, size_t n, char c)
{
    if (k + 1 < n)
        out[k++] = c;
    out[k] = '\0';
    return k;
}

/* jane.smith@, jsmith@, smith.jane@, jane_smith42@, janesmith@ at a free or family domain. */
static void email_draw(const struct mf_synth_lists *l, struct mf_rng *rng,
                       const struct mf_synth_name *nm, char *out, size_t n)
{
    size_t k = 0;
    char g1[2] = {nm->given[0], '\0'};
    switch (mf_rng_below(rng, 5)) {
    case 0:
        k = put_lower(out, k, n, nm->given);
        k = put_ch(out, k, n, '.');
        k = put_lower(out, k, n, nm->family);
        break;
    case 1:
        k = put_lower(out, k, n, g1);
        k = put_lower(out, k, n, nm->family);
        break;
    case 2:
        k = put_lower(out, k, n, nm->family);
        k = put_ch(out, k, n, '.');
        k = put_lower(out, k, n, nm->given);
        break;
    case 3:
        k = put_lower(out, k, n, nm->given);
        k = put_ch(out, k, n, '_');
        k = put_lower(out, k, n, nm->family);
        break;
    default:
        k = put_lower(out, k, n, nm->given);
        k = put_lower(out, k, n, nm->family);
        break;
    }
    if (mf_rng_uniform(rng) < 0.4 && k + 3 < n)
        k += (size_t)snprintf(out + k, n - k, "%02u", (unsigned)mf_rng_below(rng, 100));
    if (mf_rng_uniform(rng) < 0.7) {
        snprintf(out + k, n - k, "@%s", pick(rng, &l->email_domains));
    } else {
        static const char *const tld[] = {"com", "net", "org"};
        int m = snprintf(out + k, n - k, "@");
        if (m > 0 && k + (size_t)m < n)
            k = put_lower(out, k + (size_t)m, n, pick(rng, &l->family));
        snprintf(out + k, n - k, ".%s", tld[mf_rng_below(rng, 3)]);
    }
}

/* A valid-range SSN: area 001-899 but 666, group 01-99, serial 0001-9999. */
static void ssn_draw(struct mf_rng *rng, char out[12])
{
    unsigned area;
    do
        area = 1 + (unsigned)mf_rng_below(rng, 899);
    while (area == 666);
    unsigned group = 1 + (unsigned)mf_rng_below(rng, 99);
    unsigned serial = 1 + (unsigned)mf_rng_below(rng, 9999);
    snprintf(out, 12, "%03u-%02u-%04u", area % 1000, group % 100, serial % 10000);
}

void mf_synth_person_make(const struct mf_synth_lists *l, struct mf_rng *rng, int female,
                          struct mf_synth_person *p)
{
    static const char *const rel[] = {"spouse", "daughter", "son", "sister", "brother", "friend"};
    static const double rel_cdf[] = {0.35, 0.55, 0.70, 0.80, 0.88, 1.0};
    name_draw(l, rng, female, &p->name);
    name_draw(l, rng, 1, &p->mother); /* maiden name: a family name of its own */

    size_t r = mf_rng_cdf(rng, rel_cdf, 6);
    int contact_female = r == 1 || r == 3 ? 1 : r == 2 || r == 4 ? 0 : (int)mf_rng_below(rng, 2);
    if (r == 0)
        contact_female = mf_rng_uniform(rng) < 0.95 ? !female : female;
    name_draw(l, rng, contact_female, &p->contact);
    if (r != 5 && mf_rng_uniform(rng) < 0.7)
        copy(p->contact.family, sizeof p->contact.family, p->name.family);
    copy(p->contact_relation, sizeof p->contact_relation, rel[r]);

    line_draw(l, rng, p->line, sizeof p->line);
    city_draw(l, rng, p->city, sizeof p->city);
    const struct state *st = &l->states[mf_rng_below(rng, l->n_states)];
    copy(p->state, sizeof p->state, st->abbr);
    unsigned zip3 = (unsigned)st->zip3_lo +
                    (unsigned)mf_rng_below(rng, (uint64_t)(st->zip3_hi - st->zip3_lo) + 1);
    snprintf(p->zip, sizeof p->zip, "%03u%02u", zip3 % 1000, (unsigned)mf_rng_below(rng, 100));

    unsigned area = area_draw(rng);
    phone_draw(rng, area, p->phone);
    phone_draw(rng, mf_rng_uniform(rng) < 0.6 ? area : area_draw(rng), p->contact_phone);
    phone_draw(rng, mf_rng_uniform(rng) < 0.7 ? area : area_draw(rng), p->fax);
    email_draw(l, rng, &p->name, p->email, sizeof p->email);
    ssn_draw(rng, p->ssn);
    snprintf(p->mrn, sizeof p->mrn, "%08u", (unsigned)mf_rng_below(rng, 100000000));
}
