/* textdeid.c - rewriting tagged clinical text: redaction, realistic surrogates and the JSON of
 * the spans (see textdeid.h).
 *
 * Every surrogate is drawn from a keyed byte stream: HMAC-SHA256 over the key, the patient id,
 * the category, a label and the value's normalised form (case-folded; for numbers only the
 * letters and digits), expanded with SHA-256 in counter mode.  So the same value of the same
 * patient gets the same surrogate whatever its spelling, and another key or another patient
 * gets another.  A surrogate that happens to equal the original is drawn again with a salt.
 * Dates are not hashed: they move by the patient's shift (textdeid_date.c).
 */
#include "deid/textdeid.h"

#include <math.h>
#include <string.h>

#include <nettle/hmac.h>
#include <nettle/sha2.h>

#include "core/timeutil.h"

/* --- characters ------------------------------------------------------------------------------ */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(unsigned char c)
{
    return is_digit(c) || is_alpha(c);
}

static int is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static char lower(char c)
{
    return is_upper((unsigned char)c) ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
    return is_lower((unsigned char)c) ? (char)(c - 'a' + 'A') : c;
}

/* A byte of a word: an ASCII letter or digit, or any byte of a multi-byte character. */
static int word_byte(unsigned char c)
{
    return is_alnum(c) || c >= 0x80;
}

static int eq_ci(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return 0;
    for (size_t i = 0; i < an; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

/* Whether s[0..n) is one of the NULL-terminated lowercase words. */
static int in_set(const char *s, size_t n, const char *const *set)
{
    for (; *set; set++)
        if (eq_ci(s, n, *set, strlen(*set)))
            return 1;
    return 0;
}

/* Put the buffer back to len bytes (keeping it NUL-terminated). */
static void truncate_to(struct mf_buf *b, size_t len)
{
    if (b->data) {
        b->len = len;
        b->data[len] = '\0';
    }
}

/* --- keyed streams --------------------------------------------------------------------------- */

struct ks {
    uint8_t seed[SHA256_DIGEST_SIZE];
    uint8_t block[SHA256_DIGEST_SIZE];
    uint32_t ctr;
    unsigned pos;
};

static void ks_init(struct ks *k, const struct mf_deid_subject *sj, enum mf_deid_cat cat,
                    const char *label, const char *norm, size_t n, uint32_t salt)
{
    static const char domain[] = "medfm text surrogate v1";
    struct hmac_sha256_ctx c;
    hmac_sha256_set_key(&c, sizeof sj->key->bytes, sj->key->bytes);
    hmac_sha256_update(&c, sizeof domain, (const uint8_t *)domain);
    size_t idn = sj->id ? sj->id_len : 0;
    uint8_t hdr[13];
    for (int i = 0; i < 8; i++)
        hdr[i] = (uint8_t)((uint64_t)idn >> (56 - 8 * i));
    hdr[8] = (uint8_t)cat;
    for (int i = 0; i < 4; i++)
        hdr[9 + i] = (uint8_t)(salt >> (24 - 8 * i));
    hmac_sha256_update(&c, sizeof hdr, hdr);
    if (idn)
        hmac_sha256_update(&c, idn, (const uint8_t *)sj->id);
    hmac_sha256_update(&c, strlen(label) + 1, (const uint8_t *)label);
    if (n)
        hmac_sha256_update(&c, n, (const uint8_t *)norm);
    hmac_sha256_digest(&c, SHA256_DIGEST_SIZE, k->seed);
    k->ctr = 0;
    k->pos = SHA256_DIGEST_SIZE;
}

static uint8_t ks_byte(struct ks *k)
{
    if (k->pos == SHA256_DIGEST_SIZE) {
        struct sha256_ctx c;
        uint8_t ctr[4] = {(uint8_t)(k->ctr >> 24), (uint8_t)(k->ctr >> 16), (uint8_t)(k->ctr >> 8),
                          (uint8_t)k->ctr};
        sha256_init(&c);
        sha256_update(&c, sizeof k->seed, k->seed);
        sha256_update(&c, sizeof ctr, ctr);
        sha256_digest(&c, SHA256_DIGEST_SIZE, k->block);
        k->ctr++;
        k->pos = 0;
    }
    return k->block[k->pos++];
}

static uint64_t ks_u64(struct ks *k)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | ks_byte(k);
    return x;
}

/* Uniform in [0, m), m > 0. */
static unsigned ks_below(struct ks *k, unsigned m)
{
    const uint64_t range = UINT64_C(1) << 32, limit = range - range % m;
    for (;;) {
        uint64_t x = 0;
        for (int i = 0; i < 4; i++)
            x = x << 8 | ks_byte(k);
        if (x < limit)
            return (unsigned)(x % m);
    }
}

/* --- the rewriter ---------------------------------------------------------------------------- */

struct rw {
    const struct mf_deid_lexicon *lex;
    const struct mf_deid_subject *sj;
    const struct mf_deid_context *own; /* the record's identifiers: never a surrogate (or NULL) */
    const char *text;
    size_t n;
    const struct mf_deid_entities *ents;
    size_t cur;         /* the entity being rewritten */
    struct mf_buf norm; /* normalised forms */
    struct mf_buf tmp;  /* a surrogate made on the side */
};

/* Surrogate makers append to out and return 0, a negative MF_E* code, or NO_SURROGATE when no
 * surrogate can be made (the span is then redacted). */
#define NO_SURROGATE 1
#define MAX_SALT     16

/* Lowercase letters and digits only. */
static int norm_alnum(struct mf_buf *b, const char *s, size_t n)
{
    mf_buf_reset(b);
    for (size_t i = 0; i < n; i++)
        if (is_alnum((unsigned char)s[i]) && mf_buf_putc(b, lower(s[i])))
            return MF_ENOMEM;
    return 0;
}

/* The case-folded byte s[i]: ASCII and the Latin-1 letters (U+00C0..U+00DE, "É" after 0xC3)
 * lowered, so that "JOSÉ" and "José" are one value. */
static char fold_at(const char *s, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (i > 0 && (unsigned char)s[i - 1] == 0xc3 && c >= 0x80 && c <= 0x9e && c != 0x97)
        return (char)(c + 0x20);
    return lower((char)c);
}

/* Lowercase words separated by single blanks (punctuation and spacing folded). */
static int norm_words(struct mf_buf *b, const char *s, size_t n)
{
    mf_buf_reset(b);
    int gap = 0;
    for (size_t i = 0; i < n; i++) {
        if (word_byte((unsigned char)s[i])) {
            if (gap && b->len && mf_buf_putc(b, ' '))
                return MF_ENOMEM;
            gap = 0;
            if (mf_buf_putc(b, fold_at(s, i)))
                return MF_ENOMEM;
        } else if (s[i] != '\'') {
            gap = 1;
        }
    }
    return 0;
}

enum { CASE_OTHER, CASE_UPPER, CASE_LOWER };

static int case_of(const char *s, size_t n)
{
    size_t up = 0, lo = 0;
    for (size_t i = 0; i < n; i++) {
        up += is_upper((unsigned char)s[i]);
        lo += is_lower((unsigned char)s[i]);
    }
    if (up && !lo)
        return CASE_UPPER;
    if (lo && !up)
        return CASE_LOWER;
    return CASE_OTHER;
}

/* Append s in case pattern cp: all upper, all lower, or as written with each word's first
 * letter upper. */
static int put_cased(struct mf_buf *b, const char *s, size_t n, int cp)
{
    int start = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (cp == CASE_LOWER)
            c = lower(c);
        else if (cp == CASE_UPPER || start)
            c = upper(c);
        start = c == ' ' || c == '-';
        if (mf_buf_putc(b, c))
            return MF_ENOMEM;
    }
    return 0;
}

/* An entry of list l that is printable on one line and is not one of the record's own
 * identifiers (a surrogate that happened to be the patient's real surname would put it back),
 * or NULL. */
static const char *pick(const struct rw *w, enum mf_deid_list l, struct ks *k, size_t *len)
{
    for (int tries = 0; tries < 8; tries++) {
        const char *e = mf_deid_lexicon_pick(w->lex, l, ks_u64(k), len);
        int ok = e != NULL && *len > 0;
        for (size_t i = 0; ok && i < *len; i++)
            ok = (unsigned char)e[i] >= 0x20 && e[i] != 0x7f;
        if (ok && w->own && mf_deid_context_has_word(w->own, e, *len))
            ok = 0;
        if (ok)
            return e;
    }
    return NULL;
}

/* --- names ----------------------------------------------------------------------------------- */

static const char *const name_titles[] = {
    "mr",  "mrs", "ms",  "miss", "mx",   "dr",   "prof", "sir",    "dame", "rev", "fr",  "sr",
    "jr",  "ii",  "iii", "iv",   "md",   "do",   "phd",  "rn",     "np",   "pa",  "dds", "dmd",
    "mba", "mph", "dpm", "lpn",  "facs", "facp", "crna", "pharmd", "esq",  NULL};
static const char *const name_particles[] = {"van", "von", "de", "del", "della", "der",
                                             "den", "la",  "le", "da",  "di",    "du",
                                             "dos", "das", "y",  NULL};

/* The next word of a name or place at *i: letters, digits, multi-byte characters and inner
 * apostrophes, without a possessive "'s". */
static int next_word(const char *s, size_t n, size_t *i, size_t *ts, size_t *tn)
{
    size_t p = *i;
    while (p < n && !word_byte((unsigned char)s[p]))
        p++;
    if (p >= n) {
        *i = n;
        return 0;
    }
    size_t j = p;
    while (j < n && (word_byte((unsigned char)s[j]) ||
                     (s[j] == '\'' && j + 1 < n && word_byte((unsigned char)s[j + 1]))))
        j++;
    size_t len = j - p;
    if (len > 3 && s[p + len - 2] == '\'' && lower(s[p + len - 1]) == 's')
        len -= 2;
    else if (len > 5 && memcmp(s + p + len - 4, "\xe2\x80\x99s", 4) == 0)
        len -= 4;
    *ts = p;
    *tn = len;
    *i = j;
    return 1;
}

enum { NT_WORD, NT_INITIAL, NT_KEEP };

static int name_kind(const char *s, size_t n)
{
    if (n == 1 && is_alpha((unsigned char)s[0]))
        return NT_INITIAL;
    if (in_set(s, n, name_titles))
        return NT_KEEP;
    if (case_of(s, n) == CASE_LOWER && in_set(s, n, name_particles))
        return NT_KEEP;
    return NT_WORD;
}

/* The surrogate of one name word: a given name of the same sex when it is a known given name,
 * else a family name; case pattern kept. */
static int name_word(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    mf_buf_reset(&w->norm);
    for (size_t i = 0; i < n; i++)
        if (mf_buf_putc(&w->norm, fold_at(s, i)))
            return MF_ENOMEM;
    int sex = mf_deid_lexicon_given_sex(w->lex, s, n);
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, MF_DEID_NAME, "name", w->norm.data, w->norm.len, salt);
        enum mf_deid_list l = MF_DEID_LIST_FAMILY;
        if (sex == 1)
            l = MF_DEID_LIST_GIVEN_FEMALE;
        else if (sex == 2)
            l = MF_DEID_LIST_GIVEN_MALE;
        else if (sex == 3)
            l = ks_byte(&k) & 1 ? MF_DEID_LIST_GIVEN_FEMALE : MF_DEID_LIST_GIVEN_MALE;
        size_t len;
        const char *e = pick(w, l, &k, &len);
        if (e == NULL)
            return NO_SURROGATE;
        if (!eq_ci(e, len, s, n))
            return put_cased(out, e, len, case_of(s, n));
    }
    return NO_SURROGATE;
}

/* Whether the name span a[0..an) holds word t (any case) as a full word. */
static int span_has_word(const char *a, size_t an, const char *t, size_t tn)
{
    size_t i = 0, ws, wn;
    while (next_word(a, an, &i, &ws, &wn))
        if (name_kind(a + ws, wn) == NT_WORD && eq_ci(a + ws, wn, t, tn))
            return 1;
    return 0;
}

/* The surrogate of an initial in name span s[0..n): when another name span of the text shares
 * a full word with this one ("J. Smith" beside "John Smith") and holds a full word with this
 * initial, the initial of that word's surrogate; else a keyed other letter. */
static int name_initial(struct rw *w, const char *s, size_t n, char letter, struct mf_buf *out)
{
    const struct mf_deid_entities *es = w->ents;
    size_t lo = w->cur > 256 ? w->cur - 256 : 0, hi = w->cur + 257 < es->n ? w->cur + 257 : es->n;
    for (size_t j = lo; j < hi; j++) {
        const struct mf_deid_entity *e = &es->v[j];
        if (j == w->cur || e->cat != MF_DEID_NAME)
            continue;
        const char *o = w->text + e->start;
        size_t on = e->end - e->start, i = 0, ws, wn;
        int shared = 0;
        while (!shared && next_word(s, n, &i, &ws, &wn))
            shared = name_kind(s + ws, wn) == NT_WORD && span_has_word(o, on, s + ws, wn);
        if (!shared)
            continue;
        i = 0;
        while (next_word(o, on, &i, &ws, &wn)) {
            if (name_kind(o + ws, wn) != NT_WORD || lower(o[ws]) != lower(letter) ||
                span_has_word(s, n, o + ws, wn))
                continue;
            mf_buf_reset(&w->tmp);
            int rc = name_word(w, o + ws, wn, &w->tmp);
            if (rc < 0)
                return rc;
            if (rc == 0 && w->tmp.len && is_alpha((unsigned char)w->tmp.data[0]))
                return mf_buf_putc(out, is_upper((unsigned char)letter) ? upper(w->tmp.data[0])
                                                                        : lower(w->tmp.data[0]))
                           ? MF_ENOMEM
                           : 0;
        }
    }
    char l = lower(letter);
    struct ks k;
    ks_init(&k, w->sj, MF_DEID_NAME, "initial", &l, 1, 0);
    char c = (char)('a' + (l - 'a' + 1 + (int)ks_below(&k, 25)) % 26);
    return mf_buf_putc(out, is_upper((unsigned char)letter) ? upper(c) : c) ? MF_ENOMEM : 0;
}

static int sur_name(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    size_t i = 0, prev = 0, ts, tn;
    while (next_word(s, n, &i, &ts, &tn)) {
        if (mf_buf_append(out, s + prev, ts - prev))
            return MF_ENOMEM;
        int kind = name_kind(s + ts, tn), rc = 0;
        if (kind == NT_INITIAL)
            rc = name_initial(w, s, n, s[ts], out);
        else if (kind == NT_WORD)
            rc = name_word(w, s + ts, tn, out);
        else
            rc = mf_buf_append(out, s + ts, tn) ? MF_ENOMEM : 0;
        if (rc)
            return rc;
        prev = ts + tn;
    }
    return mf_buf_append(out, s + prev, n - prev) ? MF_ENOMEM : 0;
}

/* --- numbers and codes ----------------------------------------------------------------------- */

/* Whether the category keeps letters (phone extensions "x", "ext") and where a kept country
 * code '1' of a US phone number is (SIZE_MAX when none). */
static size_t country_digit(enum mf_deid_cat cat, const char *s, size_t n)
{
    if (cat != MF_DEID_PHONE && cat != MF_DEID_FAX)
        return SIZE_MAX;
    size_t nd = 0, first = SIZE_MAX;
    for (size_t i = 0; i < n && !is_alpha((unsigned char)s[i]); i++)
        if (is_digit((unsigned char)s[i])) {
            if (first == SIZE_MAX)
                first = i;
            nd++;
        }
    return nd == 11 && s[first] == '1' ? first : SIZE_MAX;
}

/* The normal form of a number: its letters and digits, lowercase, without a US country code. */
static int chars_norm(struct mf_buf *b, const char *s, size_t n, size_t skip)
{
    mf_buf_reset(b);
    for (size_t i = 0; i < n; i++)
        if (i != skip && is_alnum((unsigned char)s[i]) && mf_buf_putc(b, lower(s[i])))
            return MF_ENOMEM;
    return 0;
}

/* Keyed digits for digits and (but in phone numbers) letters for letters; separators and
 * length kept.  SSNs get an area in 900-999 (never issued); a 10-digit US phone number gets
 * exchange 555 and line 01xx (reserved for fiction), a 7-digit one 555-01xx. */
static int sur_chars(struct rw *w, enum mf_deid_cat cat, const char *s, size_t n,
                     struct mf_buf *out)
{
    int phone = cat == MF_DEID_PHONE || cat == MF_DEID_FAX;
    size_t skip = country_digit(cat, s, n);
    if (chars_norm(&w->norm, s, n, skip))
        return MF_ENOMEM;
    if (w->norm.len == 0)
        return NO_SURROGATE;
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, cat, "chars", w->norm.data, w->norm.len, salt);
        size_t mark = out->len, nd = 0, main_nd = 0;
        int in_main = 1;
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (i != skip && is_digit((unsigned char)c)) {
                c = (char)('0' + ks_below(&k, 10));
                nd++;
                main_nd += in_main;
            } else if (i != skip && is_alpha((unsigned char)c)) {
                in_main = 0;
                if (!phone) {
                    char r = (char)('a' + ks_below(&k, 26));
                    c = is_upper((unsigned char)c) ? upper(r) : r;
                }
            }
            if (mf_buf_putc(out, c))
                return MF_ENOMEM;
        }
        /* the digits of the surrogate, in order (the country digit excluded) */
        char *d[16];
        size_t m = 0;
        for (size_t i = 0; i < n && m < 16; i++)
            if (i != skip && is_digit((unsigned char)out->data[mark + i]))
                d[m++] = &out->data[mark + i];
        if (cat == MF_DEID_SSN && nd == 9) {
            *d[0] = '9';
            if (*d[3] == '0' && *d[4] == '0')
                *d[4] = (char)('1' + ks_below(&k, 9));
            if (*d[5] == '0' && *d[6] == '0' && *d[7] == '0' && *d[8] == '0')
                *d[8] = (char)('1' + ks_below(&k, 9));
        } else if (phone && main_nd == 10) {
            *d[0] = (char)('2' + ks_below(&k, 8));
            *d[3] = '5';
            *d[4] = '5';
            *d[5] = '5';
            *d[6] = '0';
            *d[7] = '1';
        } else if (phone && main_nd == 7) {
            *d[0] = '5';
            *d[1] = '5';
            *d[2] = '5';
            *d[3] = '0';
            *d[4] = '1';
        }
        struct mf_buf sn = MF_BUF_INIT;
        int same;
        if (chars_norm(&sn, out->data + mark, n, skip)) {
            mf_buf_release(&sn);
            return MF_ENOMEM;
        }
        same = sn.len == w->norm.len && memcmp(sn.data, w->norm.data, sn.len) == 0;
        mf_buf_release(&sn);
        if (!same)
            return 0;
        truncate_to(out, mark);
    }
    return NO_SURROGATE;
}

/* --- email, URL, IP -------------------------------------------------------------------------- */

static int put_ascii_lower_alnum(struct mf_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_alnum((unsigned char)s[i]) && mf_buf_putc(b, lower(s[i])))
            return MF_ENOMEM;
    return 0;
}

/* given.family[NN]@example.{com,org,net}: digits when the original's local part had some. */
static int sur_email(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    mf_buf_reset(&w->norm);
    for (size_t i = 0; i < n; i++)
        if (mf_buf_putc(&w->norm, lower(s[i])))
            return MF_ENOMEM;
    const char *at = memchr(s, '@', n);
    size_t local = at ? (size_t)(at - s) : n;
    int digits = 0;
    for (size_t i = 0; i < local; i++)
        digits |= is_digit((unsigned char)s[i]);
    static const char *const tld[] = {"com", "org", "net"};
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, MF_DEID_EMAIL, "email", w->norm.data, w->norm.len, salt);
        size_t gl, fl, mark = out->len;
        const char *g =
            pick(w, ks_byte(&k) & 1 ? MF_DEID_LIST_GIVEN_FEMALE : MF_DEID_LIST_GIVEN_MALE, &k, &gl);
        const char *f = pick(w, MF_DEID_LIST_FAMILY, &k, &fl);
        if (g == NULL || f == NULL)
            return NO_SURROGATE;
        if (put_ascii_lower_alnum(out, g, gl))
            return MF_ENOMEM;
        if (out->len > mark && mf_buf_putc(out, '.'))
            return MF_ENOMEM;
        size_t before = out->len;
        if (put_ascii_lower_alnum(out, f, fl))
            return MF_ENOMEM;
        if (out->len == before && out->len > mark)
            truncate_to(out, out->len - 1); /* no family part: drop the dot */
        if (out->len == mark && mf_buf_puts(out, "user"))
            return MF_ENOMEM;
        if ((digits || out->len - mark <= 4) && mf_buf_printf(out, "%02u", ks_below(&k, 100)))
            return MF_ENOMEM;
        if (mf_buf_printf(out, "@example.%s", tld[ks_below(&k, 3)]))
            return MF_ENOMEM;
        if (!eq_ci(out->data + mark, out->len - mark, s, n))
            return 0;
        truncate_to(out, mark);
    }
    return NO_SURROGATE;
}

/* [scheme://]www.example.org/<8 keyed letters and digits>. */
static int sur_url(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    static const char an[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t scheme = 0;
    for (size_t i = 0; i + 2 < n && i < 16; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            scheme = i > 0 && is_alpha((unsigned char)s[0]) ? i + 3 : 0;
            break;
        }
        if (!is_alnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
            break;
    }
    mf_buf_reset(&w->norm);
    for (size_t i = 0; i < n; i++)
        if (mf_buf_putc(&w->norm, lower(s[i])))
            return MF_ENOMEM;
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, MF_DEID_URL, "url", w->norm.data, w->norm.len, salt);
        size_t mark = out->len;
        if (mf_buf_append(out, s, scheme) || mf_buf_puts(out, "www.example.org/"))
            return MF_ENOMEM;
        for (int i = 0; i < 8; i++)
            if (mf_buf_putc(out, an[ks_below(&k, 36)]))
                return MF_ENOMEM;
        if (!eq_ci(out->data + mark, out->len - mark, s, n))
            return 0;
        truncate_to(out, mark);
    }
    return NO_SURROGATE;
}

/* Length of a dotted IPv4 address at the start of s, or 0. */
static size_t ipv4_len(const char *s, size_t n)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part && (i >= n || s[i++] != '.'))
            return 0;
        unsigned v = 0, k = 0;
        while (i < n && is_digit((unsigned char)s[i]) && k < 4) {
            v = v * 10 + (unsigned)(s[i++] - '0');
            k++;
        }
        if (k == 0 || k > 3 || v > 255)
            return 0;
    }
    return i < n && is_digit((unsigned char)s[i]) ? 0 : i;
}

/* Length of an IPv6 address at the start of s (hex digits, colons, dots), or 0. */
static size_t ipv6_len(const char *s, size_t n, int *upper_hex)
{
    size_t i = 0, colons = 0;
    *upper_hex = 0;
    while (i < n && (is_digit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.' ||
                     (lower(s[i]) >= 'a' && lower(s[i]) <= 'f'))) {
        colons += s[i] == ':';
        *upper_hex |= is_upper((unsigned char)s[i]);
        i++;
    }
    return colons >= 2 ? i : 0;
}

/* An address in the documentation ranges: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, or
 * 2001:db8::/32 for IPv6; a port or prefix length after it is kept. */
static int sur_ip(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    static const char *const nets[] = {"192.0.2.", "198.51.100.", "203.0.113."};
    int up = 0;
    size_t len4 = ipv4_len(s, n), len6 = len4 ? 0 : ipv6_len(s, n, &up);
    size_t len = len4 ? len4 : len6 ? len6 : n;
    if (norm_alnum(&w->norm, s, len) || mf_buf_putc(&w->norm, len6 ? '6' : '4'))
        return MF_ENOMEM;
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, MF_DEID_IP, "ip", w->norm.data, w->norm.len, salt);
        size_t mark = out->len;
        if (len6) {
            if (mf_buf_puts(out, up ? "2001:DB8" : "2001:db8"))
                return MF_ENOMEM;
            for (int g = 0; g < 6; g++)
                if (mf_buf_printf(out, up ? ":%X" : ":%x", ks_below(&k, 65536)))
                    return MF_ENOMEM;
        } else if (mf_buf_printf(out, "%s%u", nets[ks_below(&k, 3)], 1 + ks_below(&k, 254))) {
            return MF_ENOMEM;
        }
        if (!eq_ci(out->data + mark, out->len - mark, s, len))
            return mf_buf_append(out, s + len, len4 || len6 ? n - len : 0) ? MF_ENOMEM : 0;
        truncate_to(out, mark);
    }
    return NO_SURROGATE;
}

/* --- ages ------------------------------------------------------------------------------------ */

/* Every age over 89 becomes 90: the number (or the spelled-out number) is replaced, the words
 * around it ("-year-old", "y/o", "+") kept. */
static int sur_age(const char *s, size_t n, struct mf_buf *out)
{
    static const char *const numw[] = {"one",     "two",       "three",    "four",     "five",
                                       "six",     "seven",     "eight",    "nine",     "ten",
                                       "eleven",  "twelve",    "thirteen", "fourteen", "fifteen",
                                       "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
                                       "thirty",  "forty",     "fifty",    "sixty",    "seventy",
                                       "eighty",  "ninety",    "hundred",  "and",      NULL};
    size_t i = 0;
    while (i < n && !is_digit((unsigned char)s[i]))
        i++;
    if (i < n) {
        size_t j = i;
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        if (j + 1 < n && s[j] == '.' && is_digit((unsigned char)s[j + 1]))
            for (j++; j < n && is_digit((unsigned char)s[j]); j++)
                ;
        if (mf_buf_append(out, s, i) || mf_buf_puts(out, "90") || mf_buf_append(out, s + j, n - j))
            return MF_ENOMEM;
        return 0;
    }
    size_t p = 0, ts, tn, first = SIZE_MAX, last = 0;
    while (next_word(s, n, &p, &ts, &tn)) {
        int is_num =
            in_set(s + ts, tn, numw) && !(first == SIZE_MAX && eq_ci(s + ts, tn, "and", 3));
        if (is_num && first == SIZE_MAX)
            first = ts;
        if (is_num)
            last = ts + tn;
        else if (first != SIZE_MAX)
            break;
    }
    if (first == SIZE_MAX)
        return mf_buf_puts(out, "90") ? MF_ENOMEM : 0;
    if (mf_buf_append(out, s, first) ||
        put_cased(out, "ninety", 6, case_of(s + first, last - first)) ||
        mf_buf_append(out, s + last, n - last))
        return MF_ENOMEM;
    return 0;
}

/* --- places ---------------------------------------------------------------------------------- */

/* A place name from the city list (for CITY spans, cities inside addresses and hospital names,
 * keyed under cat), case pattern of s kept. */
static int city_name(struct rw *w, enum mf_deid_cat cat, const char *s, size_t n,
                     struct mf_buf *out)
{
    if (norm_words(&w->norm, s, n))
        return MF_ENOMEM;
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, cat, "city", w->norm.data, w->norm.len, salt);
        size_t len;
        const char *e = pick(w, MF_DEID_LIST_CITY, &k, &len);
        if (e == NULL)
            return NO_SURROGATE;
        if (!eq_ci(e, len, s, n))
            return put_cased(out, e, len, case_of(s, n));
    }
    return NO_SURROGATE;
}

/* A street name from the street list; with_suffix (the original's words held a suffix that is
 * not a known one: "Rue Cler") adds one from the suffix list. */
static int street_name(struct rw *w, const char *s, size_t n, int with_suffix, struct mf_buf *out)
{
    if (norm_words(&w->norm, s, n))
        return MF_ENOMEM;
    int cp = case_of(s, n);
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, MF_DEID_ADDRESS, "street", w->norm.data, w->norm.len, salt);
        size_t len, slen = 0;
        const char *e = pick(w, MF_DEID_LIST_STREET, &k, &len), *suf = NULL;
        if (e && with_suffix)
            suf = pick(w, MF_DEID_LIST_STREET_SUFFIX, &k, &slen);
        if (e == NULL || (with_suffix && suf == NULL))
            return NO_SURROGATE;
        if (eq_ci(e, len, s, n))
            continue;
        if (put_cased(out, e, len, cp))
            return MF_ENOMEM;
        if (suf && (mf_buf_putc(out, ' ') || put_cased(out, suf, slen, cp)))
            return MF_ENOMEM;
        return 0;
    }
    return NO_SURROGATE;
}

/* A house, unit or box number: keyed digits of the same count (no new leading zero), letters
 * and separators kept. */
static int addr_number(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    if (norm_alnum(&w->norm, s, n))
        return MF_ENOMEM;
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, MF_DEID_ADDRESS, "number", w->norm.data, w->norm.len, salt);
        size_t mark = out->len;
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (is_digit((unsigned char)c)) {
                c = first && c != '0' ? (char)('1' + ks_below(&k, 9))
                                      : (char)('0' + ks_below(&k, 10));
                first = 0;
            }
            if (mf_buf_putc(out, c))
                return MF_ENOMEM;
        }
        if (memcmp(out->data + mark, s, n) != 0)
            return 0;
        truncate_to(out, mark);
    }
    return NO_SURROGATE;
}

static const char *const addr_units[] = {
    "apt", "apartment", "unit", "suite",    "ste",   "rm",   "room",
    "fl",  "floor",     "bldg", "building", "box",   "po",   "p",
    "o",   "lot",       "no",   "number",   "space", "trlr", NULL};
static const char *const addr_suffixes[] = {
    "street",  "st",    "avenue",  "ave",      "av",       "road",  "rd",         "boulevard",
    "blvd",    "drive", "dr",      "lane",     "ln",       "way",   "court",      "ct",
    "place",   "pl",    "terrace", "ter",      "circle",   "cir",   "parkway",    "pkwy",
    "highway", "hwy",   "square",  "sq",       "trail",    "trl",   "loop",       "path",
    "pike",    "alley", "aly",     "crescent", "cres",     "row",   "plaza",      "plz",
    "point",   "pt",    "ridge",   "run",      "crossing", "xing",  "expressway", "expy",
    "freeway", "fwy",   "route",   "rte",      "turnpike", "tpke",  "center",     "ctr",
    "commons", "cmns",  "heights", "hts",      "walk",     "green", "grove",      "hill",
    "park",    "pass",  "view",    NULL};
static const char *const addr_dirs[] = {"n",         "s",    "e",         "w",         "ne",
                                        "nw",        "se",   "sw",        "north",     "south",
                                        "east",      "west", "northeast", "northwest", "southeast",
                                        "southwest", "usa",  "us",        NULL};
static const char *const us_states[] = {"alabama",
                                        "alaska",
                                        "arizona",
                                        "arkansas",
                                        "california",
                                        "colorado",
                                        "connecticut",
                                        "delaware",
                                        "florida",
                                        "georgia",
                                        "hawaii",
                                        "idaho",
                                        "illinois",
                                        "indiana",
                                        "iowa",
                                        "kansas",
                                        "kentucky",
                                        "louisiana",
                                        "maine",
                                        "maryland",
                                        "massachusetts",
                                        "michigan",
                                        "minnesota",
                                        "mississippi",
                                        "missouri",
                                        "montana",
                                        "nebraska",
                                        "nevada",
                                        "new hampshire",
                                        "new jersey",
                                        "new mexico",
                                        "new york",
                                        "north carolina",
                                        "north dakota",
                                        "ohio",
                                        "oklahoma",
                                        "oregon",
                                        "pennsylvania",
                                        "rhode island",
                                        "south carolina",
                                        "south dakota",
                                        "tennessee",
                                        "texas",
                                        "utah",
                                        "vermont",
                                        "virginia",
                                        "washington",
                                        "west virginia",
                                        "wisconsin",
                                        "wyoming",
                                        "district of columbia",
                                        "puerto rico",
                                        NULL};

enum { AT_NAME, AT_NUMBER, AT_KEEP };

struct atok {
    size_t s, n;
    int cls, seg, unit;
};

#define MAX_ATOK 96

static int has_digit(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_digit((unsigned char)s[i]))
            return 1;
    return 0;
}

/* Street addresses keep their shape: the house number becomes a keyed number of as many
 * digits, the street name one from the street list, suffixes ("St", "Avenue"), directions and
 * unit words ("Apt", "Suite", "#") are kept and unit numbers keyed.  After a comma or line
 * break, words are a city (from the city list, as CITY spans), a state is kept and a five-digit
 * number is a ZIP code (as ZIP spans). */
static int sur_address(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    struct atok t[MAX_ATOK];
    size_t nt = 0, i = 0, prev = 0, ts, tn;
    int seg = 0, in_seg = 0, unit_next = 0;
    while (next_word(s, n, &i, &ts, &tn)) {
        if (nt == MAX_ATOK)
            return NO_SURROGATE;
        for (size_t q = prev; q < ts; q++) {
            if (s[q] == ',' || s[q] == '\n' || s[q] == ';') {
                seg++;
                in_seg = 0;
            }
            if (s[q] == '#')
                unit_next = 1;
        }
        struct atok *a = &t[nt++];
        a->s = ts;
        a->n = tn;
        a->seg = seg;
        a->unit = unit_next;
        const char *x = s + ts;
        int digit = has_digit(x, tn);
        int ordinal = digit && tn >= 3 && is_digit((unsigned char)x[tn - 3]) &&
                      (eq_ci(x + tn - 2, 2, "st", 2) || eq_ci(x + tn - 2, 2, "nd", 2) ||
                       eq_ci(x + tn - 2, 2, "rd", 2) || eq_ci(x + tn - 2, 2, "th", 2));
        int unit_word = !digit && in_set(x, tn, addr_units);
        int keep = unit_word || (in_seg > 0 && in_set(x, tn, addr_suffixes)) ||
                   in_set(x, tn, addr_dirs) ||
                   (seg > 0 && tn == 2 && is_upper((unsigned char)x[0]) &&
                    is_upper((unsigned char)x[1])); /* a state: IL */
        if (ordinal && in_seg > 0 && !a->unit)
            a->cls = AT_NAME; /* 5th Avenue */
        else
            a->cls = digit ? AT_NUMBER : keep ? AT_KEEP : AT_NAME;
        unit_next = unit_word;
        in_seg++;
        prev = ts + tn;
    }
    int changed = 0;
    prev = 0;
    for (size_t k = 0; k < nt; k++) {
        if (t[k].cls == AT_KEEP)
            continue;
        if (mf_buf_append(out, s + prev, t[k].s - prev))
            return MF_ENOMEM;
        size_t end = t[k].s + t[k].n;
        int rc;
        int kept = 0;
        if (t[k].cls == AT_NUMBER) {
            if (t[k].seg > 0 && t[k].n == 5 && !t[k].unit && case_of(s + t[k].s, 5) == CASE_OTHER)
                rc = sur_chars(w, MF_DEID_ZIP, s + t[k].s, 5, out); /* no letters: a ZIP */
            else
                rc = addr_number(w, s + t[k].s, t[k].n, out);
        } else {
            size_t r = k;
            while (r + 1 < nt && t[r + 1].cls == AT_NAME && t[r + 1].seg == t[k].seg) {
                int blank = 1;
                for (size_t q = t[r].s + t[r].n; q < t[r + 1].s; q++)
                    blank &= s[q] == ' ' || s[q] == '.';
                if (!blank)
                    break;
                r++;
            }
            end = t[r].s + t[r].n;
            if (norm_words(&w->norm, s + t[k].s, end - t[k].s))
                return MF_ENOMEM;
            kept = t[k].seg > 0 && in_set(w->norm.data, w->norm.len, us_states);
            if (kept)
                rc = mf_buf_append(out, s + t[k].s, end - t[k].s) ? MF_ENOMEM : 0;
            else if (t[k].seg > 0)
                rc = city_name(w, MF_DEID_CITY, s + t[k].s, end - t[k].s, out);
            else {
                /* several words and no known suffix after them: one of them was the suffix */
                int suffix_after = r + 1 < nt && t[r + 1].seg == t[k].seg &&
                                   in_set(s + t[r + 1].s, t[r + 1].n, addr_suffixes);
                rc = street_name(w, s + t[k].s, end - t[k].s, r > k && !suffix_after, out);
            }
            k = r;
        }
        if (rc == 0 && !kept)
            changed = 1;
        if (rc)
            return rc;
        prev = end;
    }
    if (!changed)
        return NO_SURROGATE;
    return mf_buf_append(out, s + prev, n - prev) ? MF_ENOMEM : 0;
}

/* A city: the part before a comma becomes a city from the list; a state after it is kept. */
static int sur_city(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    const char *comma = memchr(s, ',', n);
    size_t head = comma ? (size_t)(comma - s) : n;
    while (head > 0 && s[head - 1] == ' ')
        head--;
    if (head == 0)
        return NO_SURROGATE;
    int rc = city_name(w, MF_DEID_CITY, s, head, out);
    return rc ? rc : mf_buf_append(out, s + head, n - head) ? MF_ENOMEM : 0;
}

static const char *const care_words[] = {
    "hospital",   "hospitals",    "general",    "medical",    "center",      "centre",
    "clinic",     "clinics",      "health",     "healthcare", "system",      "systems",
    "memorial",   "regional",     "community",  "university", "children",    "childrens",
    "women",      "womens",       "infirmary",  "institute",  "care",        "urgent",
    "family",     "practice",     "associates", "nursing",    "home",        "rehabilitation",
    "rehab",      "hospice",      "pediatrics", "pediatric",  "cancer",      "heart",
    "surgical",   "surgery",      "specialty",  "emergency",  "department",  "dept",
    "er",         "ed",           "icu",        "unit",       "services",    "physicians",
    "group",      "partners",     "campus",     "behavioral", "psychiatric", "mental",
    "va",         "veterans",     "affairs",    "facility",   "office",      "lab",
    "laboratory", "laboratories", "pharmacy",   "of",         "the",         "and",
    "for",        "at",           NULL};
static const char *const care_links[] = {"of", "the", "and", "for", "at", NULL};

/* A care site: "<surrogate city> <the span's trailing kind words>" ("General Hospital",
 * "Medical Center", "Clinic"); with leading kind words instead ("Hospital of the University
 * of ...") "<those words> <city>"; else "<city> Hospital".  The city is keyed on the whole
 * name, so one hospital keeps one surrogate. */
static int sur_hospital(struct rw *w, const char *s, size_t n, struct mf_buf *out)
{
    size_t i = 0, ts, tn, first_non = SIZE_MAX, tail = SIZE_MAX;
    while (next_word(s, n, &i, &ts, &tn)) {
        if (in_set(s + ts, tn, care_words)) {
            if (tail == SIZE_MAX && !in_set(s + ts, tn, care_links))
                tail = ts;
        } else {
            if (first_non == SIZE_MAX)
                first_non = ts;
            tail = SIZE_MAX;
        }
    }
    if (norm_words(&w->norm, s, n))
        return MF_ENOMEM;
    int cp = case_of(s, n);
    for (uint32_t salt = 0; salt < MAX_SALT; salt++) {
        struct ks k;
        ks_init(&k, w->sj, MF_DEID_HOSPITAL, "city", w->norm.data, w->norm.len, salt);
        size_t len, mark = out->len;
        const char *city = pick(w, MF_DEID_LIST_CITY, &k, &len);
        if (city == NULL)
            return NO_SURROGATE;
        int rc;
        if (tail != SIZE_MAX) {
            rc = put_cased(out, city, len, CASE_OTHER) || mf_buf_putc(out, ' ') ||
                 mf_buf_append(out, s + tail, n - tail);
        } else if (first_non != SIZE_MAX && first_non > 0) {
            rc = mf_buf_append(out, s, first_non) || put_cased(out, city, len, CASE_OTHER);
        } else {
            rc = put_cased(out, city, len, CASE_OTHER) || mf_buf_puts(out, " Hospital");
        }
        if (rc)
            return MF_ENOMEM;
        if (cp != CASE_OTHER)
            for (size_t q = mark; q < out->len; q++)
                out->data[q] = cp == CASE_UPPER ? upper(out->data[q]) : lower(out->data[q]);
        if (!eq_ci(out->data + mark, out->len - mark, s, n))
            return 0;
        truncate_to(out, mark);
    }
    return NO_SURROGATE;
}

/* --- dispatch -------------------------------------------------------------------------------- */

static int surrogate(struct rw *w, const struct mf_deid_entity *e, struct mf_buf *out)
{
    const char *s = w->text + e->start;
    size_t n = e->end - e->start, mark = out->len;
    int rc;
    switch (e->cat) {
    case MF_DEID_NAME:
        rc = sur_name(w, s, n, out);
        break;
    case MF_DEID_DATE:
        rc = mf_deid_date_shift_text(s, n, w->sj->shift / MF_USEC_PER_DAY, out);
        if (rc == MF_EPARSE)
            rc = NO_SURROGATE;
        break;
    case MF_DEID_AGE:
        rc = sur_age(s, n, out);
        break;
    case MF_DEID_PHONE:
    case MF_DEID_FAX:
    case MF_DEID_SSN:
    case MF_DEID_MRN:
    case MF_DEID_ID:
    case MF_DEID_ZIP:
        rc = sur_chars(w, e->cat, s, n, out);
        break;
    case MF_DEID_EMAIL:
        rc = sur_email(w, s, n, out);
        break;
    case MF_DEID_URL:
        rc = sur_url(w, s, n, out);
        break;
    case MF_DEID_IP:
        rc = sur_ip(w, s, n, out);
        break;
    case MF_DEID_ADDRESS:
        rc = sur_address(w, s, n, out);
        break;
    case MF_DEID_CITY:
        rc = sur_city(w, s, n, out);
        break;
    case MF_DEID_HOSPITAL:
        rc = sur_hospital(w, s, n, out);
        break;
    default:
        rc = NO_SURROGATE;
    }
    if (rc < 0)
        return rc;
    /* a name or place surrogate that came out equal to the original (all of its words kept) */
    if (rc == 0 && e->cat != MF_DEID_DATE && e->cat != MF_DEID_AGE && out->len - mark == n &&
        memcmp(out->data + mark, s, n) == 0)
        rc = NO_SURROGATE;
    if (rc == NO_SURROGATE) {
        truncate_to(out, mark);
        return mf_buf_printf(out, "[%s]", mf_deid_cat_name(e->cat)) ? MF_ENOMEM : 0;
    }
    return 0;
}

int mf_deid_text_mode_parse(const char *s, enum mf_deid_text_mode *out)
{
    if (s == NULL)
        return MF_EINVAL;
    if (strcmp(s, "tag") == 0)
        *out = MF_DEID_MODE_TAG;
    else if (strcmp(s, "redact") == 0)
        *out = MF_DEID_MODE_REDACT;
    else if (strcmp(s, "surrogate") == 0)
        *out = MF_DEID_MODE_SURROGATE;
    else
        return MF_EINVAL;
    return 0;
}

static int check_entities(size_t n, const struct mf_deid_entities *ents, struct mf_err *err)
{
    size_t prev = 0;
    for (size_t i = 0; ents && i < ents->n; i++) {
        const struct mf_deid_entity *e = &ents->v[i];
        if (e->start < prev || e->end < e->start || e->end > n ||
            (unsigned)e->cat >= (unsigned)MF_DEID__NCAT)
            return mf_err_set(err, MF_EINVAL,
                              "entity %zu is out of order, overlapping or out of range", i);
        prev = e->end;
    }
    return 0;
}

static int rewrite(const struct mf_deid_lexicon *lex, const struct mf_deid_subject *subj,
                   const struct mf_deid_context *own, enum mf_deid_text_mode mode, const char *text,
                   size_t n, const struct mf_deid_entities *ents, struct mf_buf *out,
                   struct mf_err *err)
{
    if (mode != MF_DEID_MODE_REDACT && mode != MF_DEID_MODE_SURROGATE)
        return mf_err_set(err, MF_EINVAL, "text rewrite needs mode redact or surrogate");
    if (mode == MF_DEID_MODE_SURROGATE && (lex == NULL || subj == NULL || subj->key == NULL))
        return mf_err_set(err, MF_EINVAL, "surrogates need a key and a lexicon");
    int rc = check_entities(n, ents, err);
    if (rc)
        return rc;
    struct rw w = {lex, subj, own, text, n, ents, 0, MF_BUF_INIT, MF_BUF_INIT};
    size_t pos = 0, start_len = out->len;
    for (size_t i = 0; rc == 0 && ents && i < ents->n; i++) {
        const struct mf_deid_entity *e = &ents->v[i];
        if (e->end == e->start)
            continue;
        w.cur = i;
        rc = mf_buf_append(out, text + pos, e->start - pos);
        if (rc == 0) {
            if (mode == MF_DEID_MODE_REDACT)
                rc = mf_buf_printf(out, "[%s]", mf_deid_cat_name(e->cat));
            else
                rc = surrogate(&w, e, out);
        }
        pos = e->end;
    }
    if (rc == 0)
        rc = mf_buf_append(out, text + pos, n - pos);
    mf_buf_release(&w.norm);
    mf_buf_release(&w.tmp);
    if (rc) {
        truncate_to(out, start_len);
        return mf_err_set(err, rc, "cannot hold the rewritten text in memory");
    }
    return 0;
}

/* --- JSON ------------------------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0; /* overlong, surrogate or past U+10FFFF */
    return len;
}

/* Code points in text[0..target), counting each invalid byte as one; cursor caches the last
 * answer so that ascending targets cost one pass in all. */
struct cpcursor {
    size_t byte, cp;
};

static size_t cp_at(const char *text, size_t n, struct cpcursor *c, size_t target)
{
    if (target < c->byte) {
        c->byte = 0;
        c->cp = 0;
    }
    while (c->byte < target) {
        size_t k = utf8_seq((const unsigned char *)text + c->byte, n - c->byte);
        c->byte += k ? k : 1;
        c->cp++;
    }
    return c->cp;
}

/* A JSON string body of s, invalid UTF-8 bytes as U+FFFD. */
static int json_text(struct mf_buf *b, const char *s, size_t n)
{
    size_t i = 0, start = 0;
    while (i < n) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k) {
            i += k;
            continue;
        }
        if (mf_buf_json_escape(b, s + start, i - start) || mf_buf_puts(b, "\\ufffd"))
            return MF_ENOMEM;
        start = ++i;
    }
    return mf_buf_json_escape(b, s + start, n - start);
}

int mf_deid_entities_json(const char *text, size_t n, const struct mf_deid_entities *ents,
                          struct mf_buf *out)
{
    if (check_entities(n, ents, NULL))
        return MF_EINVAL;
    size_t mark = out->len;
    struct cpcursor c = {0, 0};
    int rc = mf_buf_puts(out, "{\"entities\":[");
    for (size_t i = 0; rc == 0 && ents && i < ents->n; i++) {
        const struct mf_deid_entity *e = &ents->v[i];
        size_t scp = cp_at(text, n, &c, e->start), ecp = cp_at(text, n, &c, e->end);
        double conf = e->confidence;
        if (isfinite(conf))
            conf = round(conf * 1000.0) / 1000.0;
        rc = mf_buf_printf(out,
                           "%s{\"category\":\"%s\",\"start\":%zu,\"end\":%zu,\"start_cp\":%zu,"
                           "\"end_cp\":%zu,\"text\":\"",
                           i ? "," : "", mf_deid_cat_name(e->cat), e->start, e->end, scp, ecp);
        if (rc == 0)
            rc = json_text(out, text + e->start, e->end - e->start);
        if (rc == 0)
            rc = mf_buf_puts(out, "\",\"confidence\":");
        if (rc == 0)
            rc = mf_buf_put_double(out, conf);
        if (rc == 0)
            rc = mf_buf_putc(out, '}');
    }
    if (rc == 0)
        rc = mf_buf_puts(out, "]}");
    if (rc)
        truncate_to(out, mark);
    return rc ? MF_ENOMEM : 0;
}

int mf_deid_text_rewrite(const struct mf_deid_lexicon *lex, const struct mf_deid_subject *subj,
                         enum mf_deid_text_mode mode, const char *text, size_t n,
                         const struct mf_deid_entities *ents, struct mf_buf *out,
                         struct mf_err *err)
{
    return rewrite(lex, subj, NULL, mode, text, n, ents, out, err);
}

int mf_deid_text_apply(struct mf_deid_tagger *t, const struct mf_deid_lexicon *lex,
                       const struct mf_deid_context *ctx, const struct mf_deid_subject *subj,
                       enum mf_deid_text_mode mode, const char *text, size_t n,
                       struct mf_deid_entities *scratch, struct mf_buf *out, struct mf_err *err)
{
    int rc = mf_deid_tag(t, ctx, text, n, scratch, err);
    if (rc)
        return rc;
    if (mode == MF_DEID_MODE_TAG) {
        rc = mf_deid_entities_json(text, n, scratch, out);
        return rc ? mf_err_set(err, rc, "cannot hold the entities in memory") : 0;
    }
    return rewrite(lex, subj, ctx, mode, text, n, scratch, out, err);
}
