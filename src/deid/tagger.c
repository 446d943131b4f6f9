/* tagger.c - finding PHI in clinical text (see tagger.h and docs/deid-text.md).
 *
 * One pass splits the text into tokens (words, numbers, mixed, single punctuation bytes), each
 * looked up once in the lexicon's hash table (tagger_lexicon.c).  Then, over the token array:
 *   1. emails and URLs (byte patterns around '@', "://", "www.", known top-level domains);
 *   2. numbers: a run of digit groups with separators is classified by shape and by the cue
 *      words before it (IP, date, SSN, card with Luhn, phone or fax, ZIP, MRN, other id, age);
 *      dates with month names; street addresses, PO boxes and the city/ZIP that follow;
 *      hospital names; record identifiers from the context;
 *   3. names and places: runs of capitalised words, judged by the dictionaries (given and
 *      family names, places, common English words, medical allow-list) and by cues (titles,
 *      "named", relatives, "lives in").
 * Candidates are sorted and overlapping ones merged (the union, labelled by the most
 * confident).  Long texts are cut into segments of about 32-64 KiB at line ends, so scratch
 * space stays bounded and time linear.  Entity boundaries fall on ASCII bytes or segment
 * ends, which are never inside a UTF-8 sequence.
 */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "deid/tagger_int.h"

#define MAX_TEXT ((size_t)64 << 20)
#define SEG_MIN  32768
#define SEG_MAX  65536

/* --- categories and entity lists ----------------------------------------------------------- */

static const char *const CAT_NAMES[MF_DEID__NCAT] = {
    "NAME", "DATE",    "AGE", "PHONE", "FAX",      "EMAIL", "SSN", "MRN",
    "ID",   "ADDRESS", "ZIP", "CITY",  "HOSPITAL", "URL",   "IP"};

const char *mf_deid_cat_name(enum mf_deid_cat c)
{
    return (unsigned)c < MF_DEID__NCAT ? CAT_NAMES[c] : "UNKNOWN";
}

int mf_deid_cat_parse(const char *s, size_t n, enum mf_deid_cat *out)
{
    for (int i = 0; i < MF_DEID__NCAT; i++)
        if (strlen(CAT_NAMES[i]) == n && memcmp(CAT_NAMES[i], s, n) == 0) {
            *out = (enum mf_deid_cat)i;
            return 0;
        }
    return MF_EINVAL;
}

void mf_deid_entities_free(struct mf_deid_entities *e)
{
    if (e == NULL)
        return;
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

static int ents_push(struct mf_deid_entities *e, size_t s, size_t en, enum mf_deid_cat c,
                     float conf)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        struct mf_deid_entity *v = realloc(e->v, cap * sizeof *v);
        if (v == NULL)
            return MF_ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = (struct mf_deid_entity){s, en, c, conf};
    return 0;
}

/* --- words of a value: shared by the tokenizer and the context ----------------------------- */

static int is_wordbyte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Length of a multi-byte sequence at s that is punctuation or space rather than a letter:
 * U+2000..U+206F (E2 80..81 xx), no-break space (C2 A0), the Hebrew-mojibake "ג€" is left. */
static size_t upunct_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 3 && u[0] == 0xE2 && (u[1] == 0x80 || u[1] == 0x81) && (u[2] & 0xC0) == 0x80)
        return 3;
    if (n >= 2 && u[0] == 0xC2 && (u[1] == 0xA0 || u[1] == 0xAB || u[1] == 0xBB))
        return 2;
    return 0;
}

/* The end of the word starting at s[i] (a word byte): letters, digits, non-ASCII letters, and
 * an apostrophe between letters unless it is a trailing possessive "'s". */
static size_t word_end(const char *s, size_t n, size_t i)
{
    size_t j = i;
    while (j < n) {
        unsigned char c = (unsigned char)s[j];
        if (c >= 0x80) {
            if (upunct_len(s + j, n - j))
                break;
            j++;
        } else if (is_wordbyte(c) ||
                   (c == '\'' && j > i && j + 1 < n && is_wordbyte((unsigned char)s[j + 1]) &&
                    (unsigned char)s[j + 1] < 0x80 &&
                    !((s[j + 1] == 's' || s[j + 1] == 'S') &&
                      (j + 2 >= n || !is_wordbyte((unsigned char)s[j + 2]))))) {
            j++;
        } else {
            break;
        }
    }
    return j;
}

/* --- the record's context ------------------------------------------------------------------- */

struct mf_deid_context {
    struct mf_strmap words;   /* folded word -> category + 1 */
    struct mf_strmap phrases; /* folded words joined by ' ' -> category + 1 */
    struct mf_strmap first;   /* first word of a phrase -> most words */
    struct mf_strmap digits;  /* letters and digits only, folded -> category + 1 */
    size_t n;
};

struct mf_deid_context *mf_deid_context_new(void)
{
    struct mf_deid_context *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    mf_strmap_init(&c->words);
    mf_strmap_init(&c->phrases);
    mf_strmap_init(&c->first);
    mf_strmap_init(&c->digits);
    return c;
}

void mf_deid_context_free(struct mf_deid_context *c)
{
    if (c == NULL)
        return;
    mf_strmap_free(&c->words);
    mf_strmap_free(&c->phrases);
    mf_strmap_free(&c->first);
    mf_strmap_free(&c->digits);
    free(c);
}

void mf_deid_context_clear(struct mf_deid_context *c)
{
    if (c == NULL)
        return;
    /* keep the tables' memory: a worker clears its context for every patient */
    mf_strmap_clear(&c->words);
    mf_strmap_clear(&c->phrases);
    mf_strmap_clear(&c->first);
    mf_strmap_clear(&c->digits);
    c->n = 0;
}

int mf_deid_context_has_word(const struct mf_deid_context *c, const char *s, size_t n)
{
    if (c == NULL || c->words.n == 0 || n == 0)
        return 0;
    char tmp[MF_TG_MAXWORD];
    size_t f = mf_tg_fold(s, n, tmp, sizeof tmp); /* as mf_deid_context_add folds name words */
    return f > 0 && mf_strmap_get(&c->words, tmp, f) != NULL;
}

size_t mf_deid_context_size(const struct mf_deid_context *c)
{
    return c ? c->n : 0;
}

static int map_put(struct mf_strmap *m, const char *k, size_t n, uint64_t v, int keep_max)
{
    int added;
    struct mf_strmap_slot *sl = mf_strmap_upsert(m, k, n, &added);
    if (sl == NULL)
        return MF_ENOMEM;
    if (added || !keep_max || v > sl->value)
        sl->value = v;
    return 0;
}

static int ctx_digits(struct mf_deid_context *c, enum mf_deid_cat cat, const char *s, size_t n)
{
    if (n < 4)
        return 0;
    int rc = map_put(&c->digits, s, n, (uint64_t)cat + 1, 0);
    if (rc == 0)
        c->n++;
    return rc;
}

/* Birth dates and other dates: every digit-only spelling of YYYY-MM-DD. */
static int ctx_date(struct mf_deid_context *c, const char *s, size_t n)
{
    unsigned y = 0, m = 0, d = 0;
    if (n < 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
    m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    /* year first, month first, day first; padded or not; 4- or 2-digit years */
    char buf[16];
    int rc = 0;
    unsigned ys[2] = {y, y % 100};
    for (int yi = 0; yi < 2 && rc == 0; yi++) {
        for (int order = 0; order < 2 && rc == 0; order++) {
            unsigned p = order ? d : m, q = order ? m : d;
            for (int pad = 0; pad < 2 && rc == 0; pad++) {
                int k;
                if (pad)
                    k = snprintf(buf, sizeof buf, "%02u%02u%0*u", p, q, yi ? 2 : 4, ys[yi]);
                else
                    k = snprintf(buf, sizeof buf, "%u%u%0*u", p, q, yi ? 2 : 4, ys[yi]);
                if (k > 0 && (size_t)k < sizeof buf)
                    rc = map_put(&c->digits, buf, (size_t)k, MF_DEID_DATE + 1, 0);
            }
        }
    }
    if (rc == 0) {
        int k = snprintf(buf, sizeof buf, "%04u%02u%02u", y, m, d);
        rc = map_put(&c->digits, buf, (size_t)k, MF_DEID_DATE + 1, 0);
    }
    if (rc == 0)
        c->n++;
    return rc;
}

int mf_deid_context_add(struct mf_deid_context *c, enum mf_deid_cat cat, const char *s, size_t n)
{
    if (c == NULL || s == NULL || n < 2 || (unsigned)cat >= MF_DEID__NCAT)
        return 0;
    if (n > 1024)
        n = 1024;
    if (cat == MF_DEID_DATE)
        return ctx_date(c, s, n);
    /* letters and digits only, folded */
    char norm[1024];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (is_wordbyte(b))
            norm[k++] = (char)((b >= 'A' && b <= 'Z') ? b | 0x20 : b);
    }
    int rc = 0;
    int wordy = cat == MF_DEID_NAME || cat == MF_DEID_CITY || cat == MF_DEID_HOSPITAL ||
                cat == MF_DEID_ADDRESS;
    if (!wordy) {
        rc = ctx_digits(c, cat, norm, k);
        if (rc == 0 && (cat == MF_DEID_PHONE || cat == MF_DEID_FAX) && k == 11 && norm[0] == '1')
            rc = ctx_digits(c, cat, norm + 1, 10);
        return rc;
    }
    /* words: each name part alone; the whole as a phrase */
    char ph[1024];
    size_t pk = 0, words = 0, i = 0;
    char firstw[MF_TG_MAXWORD];
    size_t firstn = 0;
    while (i < n && rc == 0) {
        if (!is_wordbyte((unsigned char)s[i]) || upunct_len(s + i, n - i)) {
            size_t u = upunct_len(s + i, n - i);
            i += u ? u : 1;
            continue;
        }
        size_t e = word_end(s, n, i);
        char tmp[MF_TG_MAXWORD];
        size_t f = mf_tg_fold(s + i, e - i, tmp, sizeof tmp);
        if (f > 0) {
            if (cat == MF_DEID_NAME && f >= 2)
                rc = map_put(&c->words, tmp, f, (uint64_t)cat + 1, 0);
            if (words == 0) {
                memcpy(firstw, tmp, f);
                firstn = f;
            }
            if (pk + f + 1 < sizeof ph) {
                if (words)
                    ph[pk++] = ' ';
                memcpy(ph + pk, tmp, f);
                pk += f;
                words++;
            }
        }
        i = e;
    }
    if (rc == 0 && words == 1 && cat == MF_DEID_CITY)
        rc = map_put(&c->words, firstw, firstn, (uint64_t)cat + 1, 0);
    if (rc == 0 && words >= 2) {
        rc = map_put(&c->phrases, ph, pk, (uint64_t)cat + 1, 0);
        if (rc == 0)
            rc = map_put(&c->first, firstw, firstn, words > 12 ? 12 : words, 1);
    }
    if (rc == 0 && words)
        c->n++;
    return rc;
}

static int add_str(struct mf_deid_context *c, enum mf_deid_cat cat, const char *s)
{
    return s ? mf_deid_context_add(c, cat, s, strlen(s)) : 0;
}

static int add_name(struct mf_deid_context *c, const cJSON *name)
{
    int rc = add_str(c, MF_DEID_NAME, mf_json_str(name, "family"));
    if (rc == 0)
        rc = add_str(c, MF_DEID_NAME, mf_json_str(name, "text"));
    const cJSON *g = mf_json_arr(name, "given");
    const cJSON *it;
    char full[512];
    size_t k = 0;
    cJSON_ArrayForEach(it, g)
    {
        if (rc == 0 && cJSON_IsString(it)) {
            rc = add_str(c, MF_DEID_NAME, it->valuestring);
            int w = snprintf(full + k, sizeof full - k, "%s ", it->valuestring);
            if (w > 0 && (size_t)w < sizeof full - k)
                k += (size_t)w;
        }
    }
    const char *fam = mf_json_str(name, "family");
    if (rc == 0 && fam && k > 0) {
        int w = snprintf(full + k, sizeof full - k, "%s", fam);
        if (w > 0 && (size_t)w < sizeof full - k)
            rc = mf_deid_context_add(c, MF_DEID_NAME, full, k + (size_t)w);
    }
    return rc;
}

static int add_telecom(struct mf_deid_context *c, const cJSON *arr)
{
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, arr)
    {
        const char *sys = mf_json_str(it, "system");
        enum mf_deid_cat cat = MF_DEID_PHONE;
        if (sys && strcmp(sys, "fax") == 0)
            cat = MF_DEID_FAX;
        else if (sys && strcmp(sys, "email") == 0)
            cat = MF_DEID_EMAIL;
        else if (sys && strcmp(sys, "url") == 0)
            cat = MF_DEID_URL;
        if (rc == 0)
            rc = add_str(c, cat, mf_json_str(it, "value"));
    }
    return rc;
}

static int add_address(struct mf_deid_context *c, const cJSON *a)
{
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, mf_json_arr(a, "line"))
    {
        if (rc == 0 && cJSON_IsString(it))
            rc = add_str(c, MF_DEID_ADDRESS, it->valuestring);
    }
    if (rc == 0)
        rc = add_str(c, MF_DEID_CITY, mf_json_str(a, "city"));
    if (rc == 0)
        rc = add_str(c, MF_DEID_CITY, mf_json_str(a, "district"));
    if (rc == 0)
        rc = add_str(c, MF_DEID_ZIP, mf_json_str(a, "postalCode"));
    return rc;
}

int mf_deid_context_add_fhir(struct mf_deid_context *c, const struct cJSON *resource)
{
    if (c == NULL || resource == NULL || !cJSON_IsObject(resource))
        return 0;
    int rc = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, mf_json_arr(resource, "name"))
    {
        if (rc == 0)
            rc = add_name(c, it);
    }
    const cJSON *one = mf_json_obj(resource, "name"); /* Organization-like single name */
    if (rc == 0 && one)
        rc = add_name(c, one);
    cJSON_ArrayForEach(it, mf_json_arr(resource, "identifier"))
    {
        const char *v = mf_json_str(it, "value");
        const char *code = NULL;
        const cJSON *type = mf_json_obj(it, "type");
        const cJSON *cd;
        cJSON_ArrayForEach(cd, mf_json_arr(type, "coding"))
        {
            if (code == NULL)
                code = mf_json_str(cd, "code");
        }
        enum mf_deid_cat cat = MF_DEID_ID;
        if (code && strcmp(code, "MR") == 0)
            cat = MF_DEID_MRN;
        else if (code && strcmp(code, "SS") == 0)
            cat = MF_DEID_SSN;
        const char *sys = mf_json_str(it, "system");
        if (sys && strstr(sys, "us-ssn"))
            cat = MF_DEID_SSN;
        if (rc == 0)
            rc = add_str(c, cat, v);
    }
    if (rc == 0)
        rc = add_telecom(c, mf_json_arr(resource, "telecom"));
    cJSON_ArrayForEach(it, mf_json_arr(resource, "address"))
    {
        if (rc == 0)
            rc = add_address(c, it);
    }
    const cJSON *addr1 = mf_json_obj(resource, "address");
    if (rc == 0 && addr1)
        rc = add_address(c, addr1);
    if (rc == 0)
        rc = add_str(c, MF_DEID_DATE, mf_json_str(resource, "birthDate"));
    cJSON_ArrayForEach(it, mf_json_arr(resource, "contact"))
    {
        const cJSON *nm = mf_json_obj(it, "name");
        if (rc == 0 && nm)
            rc = add_name(c, nm);
        if (rc == 0)
            rc = add_telecom(c, mf_json_arr(it, "telecom"));
        const cJSON *ad = mf_json_obj(it, "address");
        if (rc == 0 && ad)
            rc = add_address(c, ad);
    }
    return rc;
}

/* --- tokens --------------------------------------------------------------------------------- */

enum { K_WORD, K_NUM, K_MIX, K_PUNCT };
/* name classes */
enum { C_NONE, C_NAME, C_AMBIG, C_UNK, C_INIT, C_CTX, C_LNAME, C_PLACE, C_UNKCAPS };

struct tok {
    uint32_t s, e;
    uint64_t lf;
    uint8_t kind, cap, sp, used, nm;
    uint8_t fx; /* a word in a script other than Latin: Greek, Cyrillic, CJK, Arabic... */
    int8_t ctx; /* context category + 1 of the word, 0 none */
    uint8_t cls;
};

struct mf_deid_tagger {
    const struct mf_deid_lexicon *lex;
    struct tok *t;
    size_t nt, capt;
    struct mf_deid_entities cand;
    const char *x; /* the text */
    const struct mf_deid_context *ctx;
    int rc;
    int speakers;            /* sure "Name:" speaker labels in the segment */
    size_t nlatin, nforeign; /* words of the segment starting with an ASCII letter; fx words */
};

struct mf_deid_tagger *mf_deid_tagger_new(const struct mf_deid_lexicon *lex)
{
    struct mf_deid_tagger *t = calloc(1, sizeof *t);
    if (t)
        t->lex = lex;
    return t;
}

void mf_deid_tagger_free(struct mf_deid_tagger *t)
{
    if (t == NULL)
        return;
    free(t->t);
    mf_deid_entities_free(&t->cand);
    free(t);
}

static int tok_push(struct mf_deid_tagger *T, size_t s, size_t e, int kind, int sp)
{
    if (T->nt == T->capt) {
        size_t cap = T->capt ? T->capt * 2 : 1024;
        struct tok *v = realloc(T->t, cap * sizeof *v);
        if (v == NULL)
            return MF_ENOMEM;
        T->t = v;
        T->capt = cap;
    }
    struct tok *k = &T->t[T->nt++];
    memset(k, 0, sizeof *k);
    k->s = (uint32_t)s;
    k->e = (uint32_t)e;
    k->kind = (uint8_t)kind;
    k->sp = (uint8_t)sp;
    return 0;
}

static int tokenize(struct mf_deid_tagger *T, size_t a, size_t b)
{
    const char *x = T->x;
    T->nt = 0;
    int sp = 2;
    size_t i = a;
    while (i < b) {
        unsigned char c = (unsigned char)x[i];
        if (c == '\n') {
            sp = 2;
            i++;
            continue;
        }
        if (c < 0x20 || c == ' ' || c == 0x7F) {
            if (sp < 1)
                sp = 1;
            i++;
            continue;
        }
        size_t u = c >= 0x80 ? upunct_len(x + i, b - i) : 0;
        if (u) {
            if (c == 0xC2 && (unsigned char)x[i + 1] == 0xA0) {
                if (sp < 1)
                    sp = 1;
            } else if (tok_push(T, i, i + u, K_PUNCT, sp)) {
                return MF_ENOMEM;
            } else {
                sp = 0;
            }
            i += u;
            continue;
        }
        if (!is_wordbyte(c)) {
            if (tok_push(T, i, i + 1, K_PUNCT, sp))
                return MF_ENOMEM;
            sp = 0;
            i++;
            continue;
        }
        size_t e = word_end(x, b, i);
        int dig = 0, let = 0;
        for (size_t j = i; j < e; j++) {
            unsigned char d = (unsigned char)x[j];
            if (d >= '0' && d <= '9')
                dig++;
            else
                let++;
        }
        int kind = let == 0 ? K_NUM : dig == 0 ? K_WORD : K_MIX;
        if (tok_push(T, i, e, kind, sp))
            return MF_ENOMEM;
        sp = 0;
        i = e;
    }
    return 0;
}

static const uint64_t CUE_BITS = MF_TG_L_TITLE | MF_TG_L_NCUE | MF_TG_L_WCUE | MF_TG_L_PCUE |
                                 MF_TG_L_REL | MF_TG_L_HOSP | MF_TG_L_IDCUE | MF_TG_L_SSNCUE |
                                 MF_TG_L_PHCUE | MF_TG_L_ZIPCUE | MF_TG_L_AGECUE | MF_TG_L_UNIT |
                                 MF_TG_L_STSUF | MF_TG_L_WEEKDAY;

/* --- token helpers ---------------------------------------------------------------------------- */

#define TK(i)   (&T->t[(i)])
#define TLEN(i) ((size_t)(T->t[(i)].e - T->t[(i)].s))
#define TS(i)   (T->x + T->t[(i)].s)

static int is_p(const struct mf_deid_tagger *T, size_t i, char ch)
{
    return i < T->nt && T->t[i].kind == K_PUNCT && T->t[i].e - T->t[i].s == 1 &&
           T->x[T->t[i].s] == ch;
}

/* Token i equals the lower-case ASCII word w (any case). */
static int is_w(const struct mf_deid_tagger *T, size_t i, const char *w)
{
    if (i >= T->nt || T->t[i].kind == K_PUNCT || TLEN(i) == 0)
        return 0;
    const char *s = TS(i);
    char c0 = s[0] >= 'A' && s[0] <= 'Z' ? (char)(s[0] | 0x20) : s[0];
    if (c0 != w[0]) /* most calls end here, before measuring w */
        return 0;
    size_t n = strlen(w);
    if (TLEN(i) != n)
        return 0;
    for (size_t k = 0; k < n; k++) {
        char c = s[k];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c | 0x20);
        if (c != w[k])
            return 0;
    }
    return 1;
}

static int is_upper_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return n > 0;
}

static unsigned num_val(const struct mf_deid_tagger *T, size_t i)
{
    if (i >= T->nt || T->t[i].kind != K_NUM || TLEN(i) > 6)
        return 100000000u;
    unsigned v = 0;
    for (size_t k = 0; k < TLEN(i); k++)
        v = v * 10 + (unsigned)(TS(i)[k] - '0');
    return v;
}

static int add(struct mf_deid_tagger *T, size_t s, size_t e, enum mf_deid_cat c, float conf)
{
    if (e <= s)
        return 0;
    int rc = ents_push(&T->cand, s, e, c, conf);
    if (rc)
        T->rc = rc;
    return rc;
}

static int is_p(const struct mf_deid_tagger *T, size_t i, char ch);
static size_t shape_match(const struct mf_deid_tagger *T, size_t a, uint64_t want);

/* Add tokens [a, b] inclusive as one entity and mark them used; after a place, a postal code
 * ("Acquapendente 1021", "ÖVERTURINGEN 840 24") too. */
static void add_toks(struct mf_deid_tagger *T, size_t a, size_t b, enum mf_deid_cat c, float conf)
{
    if (a > b || b >= T->nt)
        return;
    add(T, T->t[a].s, T->t[b].e, c, conf);
    for (size_t k = a; k <= b; k++) {
        T->t[k].used = 1;
        T->t[k].nm = c == MF_DEID_NAME;
    }
    if (c != MF_DEID_CITY)
        return;
    size_t j = b + 1;
    if (is_p(T, j, ','))
        j++;
    if (j >= T->nt || T->t[j].used || T->t[j].kind != K_NUM || T->t[j].sp == 2)
        return;
    size_t n = TLEN(j), k = j;
    {
        /* "Pottier, 42 693": any locale's postcode shape of more than one token */
        size_t z = shape_match(T, j, MF_TG_S_POSTCODE);
        if (z > j + 1 && !is_p(T, z, '/') && !is_p(T, z, '%')) {
            add(T, T->t[j].s, T->t[z - 1].e, MF_DEID_ZIP, 0.6f);
            for (size_t q = j; q < z; q++)
                T->t[q].used = 1;
            return;
        }
    }
    if (n < 3 || n > 6)
        return;
    if (n == 4) {
        unsigned v = 0;
        for (size_t q = 0; q < 4; q++)
            v = v * 10 + (unsigned)(TS(j)[q] - '0');
        if (v >= 1900 && v <= 2099)
            return; /* a year */
    }
    if (k + 2 < T->nt && is_p(T, k + 1, '-') && T->t[k + 1].sp == 0 && T->t[k + 2].kind == K_NUM &&
        T->t[k + 2].sp == 0)
        k += 2;
    else if (k + 1 < T->nt && T->t[k + 1].kind == K_NUM && T->t[k + 1].sp == 1 &&
             TLEN(k + 1) <= 3 && n <= 3)
        k++;
    add(T, T->t[j].s, T->t[k].e, MF_DEID_ZIP, 0.6f);
    for (size_t q = j; q <= k; q++)
        T->t[q].used = 1;
}

/* Flags of the (up to) n word tokens before token i on the same line. */
static uint64_t cues_before(const struct mf_deid_tagger *T, size_t i, int n)
{
    uint64_t f = 0;
    size_t k = i;
    int words = 0, steps = 0;
    while (k > 0 && words < n && steps++ < 24) {
        if (T->t[k].sp == 2 && !is_p(T, k - 1, ':'))
            break;
        k--;
        if (T->t[k].kind == K_PUNCT) {
            char c = T->x[T->t[k].s];
            if (c == '.' || c == '?' || c == '!' || c == ';')
                break;
            continue;
        }
        f |= T->t[k].lf;
        words++;
    }
    return f;
}

/* The previous token that is not ':' or ',' (index + 1; 0 none), on the same line. */
static size_t prev_word(const struct mf_deid_tagger *T, size_t i)
{
    size_t k = i;
    while (k > 0) {
        if (T->t[k].sp == 2 && !(k < T->nt && T->t[k].kind == K_PUNCT))
            return 0;
        k--;
        if (T->t[k].kind == K_PUNCT) {
            char c = T->x[T->t[k].s];
            if (c == ':' || c == ',' || c == '#' || c == '-')
                continue;
            return 0;
        }
        return k + 1;
    }
    return 0;
}

static int sentence_start(const struct mf_deid_tagger *T, size_t i)
{
    if (i == 0 || T->t[i].sp == 2)
        return 1;
    const struct tok *p = &T->t[i - 1];
    if (p->kind != K_PUNCT)
        return 0;
    char c = T->x[p->s];
    return c == '.' || c == '!' || c == '?' || c == ':' || c == ';' || c == '"' || c == '(' ||
           c == '*' || c == '-' || (unsigned char)c >= 0x80;
}

/* --- emails and URLs ---------------------------------------------------------------------------
 */

static void find_emails(struct mf_deid_tagger *T)
{
    for (size_t i = 1; i + 1 < T->nt; i++) {
        if (!is_p(T, i, '@') || T->t[i].sp || T->t[i + 1].sp || T->t[i + 1].kind == K_PUNCT)
            continue;
        size_t a = i;
        while (a > 0 && T->t[a].sp == 0 && i - a < 64) {
            const struct tok *p = &T->t[a - 1];
            if (p->kind == K_PUNCT && !(is_p(T, a - 1, '.') || is_p(T, a - 1, '_') ||
                                        is_p(T, a - 1, '-') || is_p(T, a - 1, '+')))
                break;
            a--;
        }
        if (a == i || T->t[a].kind == K_PUNCT)
            continue;
        size_t b = i + 1, last = i + 1;
        int dots = 0;
        while (b + 1 < T->nt && T->t[b + 1].sp == 0) {
            if ((is_p(T, b + 1, '.') || is_p(T, b + 1, '-')) && b + 2 < T->nt &&
                T->t[b + 2].sp == 0 && T->t[b + 2].kind != K_PUNCT) {
                dots += is_p(T, b + 1, '.');
                b += 2;
                last = b;
                continue;
            }
            break;
        }
        if (dots == 0)
            continue;
        add_toks(T, a, last, MF_DEID_EMAIL, 0.95f);
        i = last;
    }
}

static int is_url_char(unsigned char c)
{
    return c > 0x20 && c != '"' && c != '<' && c != '>' && c != '\'' && c != 0x7F;
}

/* A URL from token a (its scheme or "www"): to the next white space, less trailing punctuation. */
static void url_from(struct mf_deid_tagger *T, size_t a, size_t seg_end)
{
    size_t s = T->t[a].s, e = s;
    while (e < seg_end && is_url_char((unsigned char)T->x[e]) && !upunct_len(T->x + e, seg_end - e))
        e++;
    while (e > s && strchr(".,;:!?)]", T->x[e - 1]) != NULL)
        e--;
    add(T, s, e, MF_DEID_URL, 0.95f);
    for (size_t k = a; k < T->nt && T->t[k].s < e; k++)
        T->t[k].used = 1;
}

static void find_urls(struct mf_deid_tagger *T, size_t seg_end)
{
    for (size_t i = 0; i < T->nt; i++) {
        if (T->t[i].used || T->t[i].kind != K_WORD)
            continue;
        if ((is_w(T, i, "http") || is_w(T, i, "https") || is_w(T, i, "ftp")) &&
            is_p(T, i + 1, ':') && is_p(T, i + 2, '/') && is_p(T, i + 3, '/') &&
            T->t[i + 1].sp == 0) {
            url_from(T, i, seg_end);
            continue;
        }
        if (is_w(T, i, "www") && is_p(T, i + 1, '.') && T->t[i + 1].sp == 0) {
            url_from(T, i, seg_end);
            continue;
        }
        /* bare domain: label(.label)+ ending in a known top-level domain, no spaces */
        if (i + 2 < T->nt && is_p(T, i + 1, '.') && T->t[i + 1].sp == 0 && T->t[i + 2].sp == 0 &&
            (i == 0 || T->t[i].sp || !is_p(T, i - 1, '.'))) {
            size_t b = i, lastlabel = i;
            while (b + 2 < T->nt && is_p(T, b + 1, '.') && T->t[b + 1].sp == 0 &&
                   T->t[b + 2].sp == 0 && T->t[b + 2].kind != K_PUNCT) {
                b += 2;
                lastlabel = b;
            }
            if (lastlabel > i && (T->t[lastlabel].lf & MF_TG_L_TLD) &&
                T->t[lastlabel].kind == K_WORD && mf_tg_case(TS(lastlabel), TLEN(lastlabel)) != 1 &&
                TLEN(i) >= 3 && mf_tg_case(TS(i), TLEN(i)) != 0) {
                size_t e = lastlabel;
                /* a path after the domain */
                if (e + 1 < T->nt && is_p(T, e + 1, '/') && T->t[e + 1].sp == 0) {
                    url_from(T, i, seg_end);
                    continue;
                }
                add_toks(T, i, e, MF_DEID_URL, 0.8f);
                i = e;
            }
        }
    }
}

/* --- numbers -----------------------------------------------------------------------------------
 */

struct chunk {
    size_t tok[12];   /* token index of each digit group */
    unsigned len[12]; /* digits per group */
    char sep[12];     /* separator before group g: '-', '.', '/', ' ', 'p' paren, '?' other */
    int g;            /* groups */
    int plus, paren;  /* begins with '+' or '(' */
};

/* Digit groups from NUM token i joined by short separators on one line. */
static void chunk_build(const struct mf_deid_tagger *T, size_t i, struct chunk *c)
{
    memset(c, 0, sizeof *c);
    if (i > 0 && T->t[i].sp == 0 && is_p(T, i - 1, '+'))
        c->plus = 1;
    if (i > 0 && T->t[i].sp == 0 && is_p(T, i - 1, '('))
        c->paren = 1;
    c->tok[0] = i;
    c->len[0] = (unsigned)TLEN(i);
    c->g = 1;
    size_t k = i;
    while (c->g < 12) {
        /* separator tokens between k and the next NUM */
        size_t j = k + 1;
        int spaces = 0, nsep = 0;
        char sep = 0;
        int ok = 1;
        while (j < T->nt && T->t[j].kind == K_PUNCT) {
            if (T->t[j].sp == 2) {
                ok = 0;
                break;
            }
            spaces += T->t[j].sp;
            char ch = T->x[T->t[j].s];
            if (TLEN(j) != 1 || !strchr("-./()", ch)) {
                ok = 0;
                break;
            }
            sep = (ch == '(' || ch == ')') ? 'p' : (sep && sep != ch && sep != 'p') ? '?' : ch;
            if (++nsep > 2) {
                ok = 0;
                break;
            }
            j++;
        }
        if (!ok || j >= T->nt || T->t[j].kind != K_NUM || T->t[j].sp == 2)
            break;
        spaces += T->t[j].sp;
        if (spaces > 1)
            break;
        if (nsep == 0)
            sep = ' ';
        else if (spaces && sep != 'p')
            sep = sep == '-' ? '-' : '?';
        c->tok[c->g] = j;
        c->len[c->g] = (unsigned)TLEN(j);
        c->sep[c->g] = sep;
        c->g++;
        k = j;
    }
}

static unsigned gval(const struct mf_deid_tagger *T, const struct chunk *c, int g)
{
    return num_val(T, c->tok[g]);
}

static int valid_md(unsigned m, unsigned d)
{
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int luhn(const struct mf_deid_tagger *T, const struct chunk *c, int g)
{
    int sum = 0, dbl = 0, nd = 0;
    for (int k = g - 1; k >= 0; k--) {
        const char *s = TS(c->tok[k]);
        for (size_t q = TLEN(c->tok[k]); q-- > 0;) {
            int d = s[q] - '0';
            if (dbl) {
                d *= 2;
                if (d > 9)
                    d -= 9;
            }
            sum += d;
            dbl = !dbl;
            nd++;
        }
    }
    return nd >= 13 && nd <= 19 && sum % 10 == 0;
}

/* Digits of groups [0, g) (letters folded for context lookups) into buf; its length. */
static size_t chunk_digits(const struct mf_deid_tagger *T, const struct chunk *c, int g, char *buf,
                           size_t cap)
{
    size_t k = 0;
    for (int q = 0; q < g; q++) {
        size_t n = TLEN(c->tok[q]);
        if (k + n > cap)
            return 0;
        memcpy(buf + k, TS(c->tok[q]), n);
        k += n;
    }
    return k;
}

static int ctx_digits_cat(const struct mf_deid_tagger *T, const char *s, size_t n)
{
    if (T->ctx == NULL || n < 4 || T->ctx->digits.n == 0)
        return 0;
    const struct mf_strmap_slot *sl = mf_strmap_get(&T->ctx->digits, s, n);
    return sl ? (int)sl->value : 0;
}

static size_t end_tok(const struct chunk *c, int g)
{
    return c->tok[g - 1];
}

/* Start token of a chunk: the '(' or '+' before it. */
static size_t start_tok(const struct chunk *c)
{
    return c->tok[0] - (size_t)(c->plus || c->paren);
}

/* An age word after number token i: "-year-old", "year old", "yo", "y/o", "yrs". */
static int age_after(const struct mf_deid_tagger *T, size_t i)
{
    size_t j = i + 1;
    if (is_p(T, j, '-'))
        j++;
    if (is_w(T, j, "year") || is_w(T, j, "years") || is_w(T, j, "yo") || is_w(T, j, "yr") ||
        is_w(T, j, "yrs") || is_w(T, j, "yoa"))
        return 1;
    if (is_w(T, j, "y") && (is_p(T, j + 1, '/') || is_p(T, j + 1, '.')))
        return 1;
    return 0;
}

/* A number chunk from token a to token b read as a measurement: a lab, vital or value word in
 * the four words before it, or a unit or '%' right after it; with near, also a function word
 * ("was", "of") in the two words before it. */
static int value_context(const struct mf_deid_tagger *T, size_t a, size_t b, int near_words)
{
    static const char *const before[] = {
        "reading",   "readings", "value",     "values", "level",  "levels",    "range",   "count",
        "counts",    "score",    "scores",    "dose",   "doses",  "result",    "results", "sugar",
        "sugars",    "pressure", "pressures", "bp",     "hr",     "rr",        "labs",    "lab",
        "trend",     "trending", "weight",    "height", "gave",   "given",     "took",    "glucose",
        "platelets", "plt",      "wbc",       "hgb",    "sodium", "potassium", "temp",    "sat",
        "sats",      "volume",   "rate",      "output", "intake"};
    /* function words that introduce a value when right before it: "was 110 120 135" */
    static const char *const near[] = {"was",  "were", "is", "are",  "of",  "between",
                                       "from", "to",   "x",  "then", "now", "and"};
    static const char *const after[] = {
        "mg",   "mcg",    "g",      "kg",   "ml",   "l",    "mmol",  "mol",   "units", "u",
        "iu",   "meq",    "mm",     "cm",   "mmhg", "bpm",  "times", "x",     "cells", "ng",
        "pg",   "ug",     "lbs",    "lb",   "oz",   "min",  "mins",  "hours", "hrs",   "h",
        "days", "d",      "copies", "k",    "mu",   "mosm", "sec",   "s",     "ms",    "cc",
        "gm",   "mmol/l", "nmol",   "pmol", "umol", "kcal", "cal",   "kj"};
    size_t e = b + 1;
    if (e < T->nt && T->t[e].sp < 2) {
        if (is_p(T, e, '%') || is_p(T, e, '/'))
            return 1;
        if (T->t[e].kind == K_WORD || T->t[e].kind == K_MIX) {
            if (T->t[e].lf & MF_TG_L_ALLOW)
                return 1;
            for (size_t k = 0; k < sizeof after / sizeof after[0]; k++)
                if (is_w(T, e, after[k]))
                    return 1;
        }
    }
    size_t k = a;
    int words = 0;
    while (k > 0 && words < 4 && T->t[k].sp != 2) {
        k--;
        if (T->t[k].kind == K_PUNCT) {
            char ch = T->x[T->t[k].s];
            if (ch == '.' || ch == '?' || ch == '!' || ch == ';')
                break;
            if (ch == '=' || ch == '>' || ch == '<' || ch == '~')
                return 1;
            continue;
        }
        if (T->t[k].kind == K_NUM)
            return 1; /* a series of values */
        words++;
        if (T->t[k].lf & MF_TG_L_ALLOW)
            return 1;
        for (size_t q = 0; q < sizeof before / sizeof before[0]; q++)
            if (is_w(T, k, before[q]))
                return 1;
        for (size_t q = 0; near_words && words <= 2 && q < sizeof near / sizeof near[0]; q++)
            if (is_w(T, k, near[q]))
                return 1;
    }
    return 0;
}

/* Words that may stand right before a local phone number without a phone cue: "reach me at",
 * "on my registered", "text us". */
static int local_cue(const struct mf_deid_tagger *T, size_t i)
{
    static const char *const w[] = {"at",       "on",   "registered", "dial",   "dialed",
                                    "dialled",  "ring", "text",       "reach",  "line",
                                    "landline", "home", "work",       "office", "via",
                                    "me",       "us",   "him",        "her",    "them"};
    size_t p = prev_word(T, i);
    if (!p || T->t[p - 1].kind != K_WORD)
        return 0;
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        if (is_w(T, p - 1, w[k]))
            return 1;
    return 0;
}

/* --- phone and postcode shapes ----------------------------------------------------------------
 * The lexicon holds the shapes of every locale's phone numbers and postal codes (Faker's
 * formats): a digit is '9', an ASCII upper-case letter 'A', the space between two tokens ' ',
 * and '+', '(', ')', '-', '.', '/' stand for themselves. A candidate's shape is built token by
 * token in one pass and looked up after each token, so the longest match wins. */

/* Append the shape of token k (after one ' ' when it is apart from the previous one) to
 * out[0..n); the new length, 0 when a byte has no shape or it does not fit. */
static size_t shape_tok(const struct mf_deid_tagger *T, size_t k, char *out, size_t n)
{
    if (n > 0 && T->t[k].sp) {
        if (n >= MF_TG_MAXSHAPE)
            return 0;
        out[n++] = ' ';
    }
    const char *s = TS(k);
    for (size_t q = 0; q < TLEN(k); q++) {
        char ch = s[q], c = 0;
        if (ch >= '0' && ch <= '9')
            c = '9';
        else if (ch >= 'A' && ch <= 'Z')
            c = 'A';
        else if (ch == '+' || ch == '(' || ch == ')' || ch == '-' || ch == '.' || ch == '/')
            c = ch;
        if (c == 0 || n >= MF_TG_MAXSHAPE)
            return 0;
        out[n++] = c;
    }
    return n;
}

/* The tokens from a on one line, at most one space apart, whose shape is the longest one with
 * a bit of want: the index of the last token + 1, 0 when none. Words (upper-case letters) take
 * part only in postcodes ("7412 SL"). */
static size_t shape_match(const struct mf_deid_tagger *T, size_t a, uint64_t want)
{
    char buf[MF_TG_MAXSHAPE];
    size_t n = 0, best = 0;
    for (size_t k = a; k < T->nt; k++) {
        if (k > a && T->t[k].sp == 2)
            break;
        if (T->t[k].kind == K_WORD && !(want & MF_TG_S_POSTCODE))
            break;
        n = shape_tok(T, k, buf, n);
        if (n == 0)
            break;
        if (T->t[k].kind != K_PUNCT && (mf_tg_shape(T->lex, buf, n) & want))
            best = k + 1;
    }
    return best;
}

/* Money: a currency sign before token a or a currency word after token b. */
static int money_context(const struct mf_deid_tagger *T, size_t a, size_t b)
{
    static const char *const cur[] = {"usd", "eur", "euro",   "euros", "gbp", "chf",     "sek",
                                      "nok", "dkk", "kr",     "yen",   "jpy", "dollars", "pounds",
                                      "rub", "inr", "rupees", "cad",   "aud", "pln",     "huf"};
    if (a > 0 && T->t[a - 1].kind == K_PUNCT && T->t[a].sp == 0) {
        const char *s = TS(a - 1);
        if (s[0] == '$' || (TLEN(a - 1) > 1 && (unsigned char)s[0] >= 0xC2))
            return 1; /* $ or a non-ASCII sign: euro, pound, yen */
    }
    if (b + 1 < T->nt && T->t[b + 1].sp < 2)
        for (size_t k = 0; k < sizeof cur / sizeof cur[0]; k++)
            if (is_w(T, b + 1, cur[k]))
                return 1;
    return 0;
}

/* A phone number of another country's shape starting at chunk c ("49/507 1275", "+(370)
 * 61234567", "06-1/234 5678"): the last token, 0 when none. A shape that only a phone has
 * (after '+', or 9+ digits after a trunk '0' or an area code in parentheses, or 10+ digits)
 * stands alone unless a value word or unit says otherwise; a shorter one ("931 25 988",
 * "1439.5067") needs a phone cue, a local cue ("reach me at") or a number cue ("my number is"). */
static size_t shape_phone(const struct mf_deid_tagger *T, const struct chunk *c, uint64_t cues)
{
    size_t a = start_tok(c);
    if (c->paren && a > 0 && T->t[a].sp == 0 && is_p(T, a - 1, '+'))
        a--; /* "+(370)" */
    size_t e1 = shape_match(T, a, MF_TG_S_PHONE);
    if (e1 == 0 || e1 - 1 < c->tok[0])
        return 0;
    size_t e = e1 - 1;
    unsigned digits = 0;
    int years = 1;
    for (size_t k = a; k <= e; k++) {
        if (T->t[k].kind != K_NUM)
            continue;
        digits += (unsigned)TLEN(k);
        unsigned v = num_val(T, k);
        years &= TLEN(k) == 4 && v >= 1900 && v <= 2099;
    }
    if (years || money_context(T, a, e))
        return 0; /* "in 2018 2019 2020", "$1 250 000" */
    if (is_p(T, a, '+'))
        return e;
    int lead0 = TS(c->tok[0])[0] == '0';
    int strong = digits >= 10 || (digits >= 9 && (lead0 || is_p(T, a, '(')));
    if (strong)
        return value_context(T, a, e, 0) ? 0 : e;
    if (cues & MF_TG_L_PHCUE)
        return e;
    /* a cue in the three words after it: "604 327 061 is my number" */
    int after = 0;
    for (size_t k = e + 1, w = 0; k < T->nt && w < 3 && T->t[k].sp < 2 && !after; k++) {
        if (T->t[k].kind == K_PUNCT)
            break;
        w++;
        after = (T->t[k].lf & MF_TG_L_PHCUE) || is_w(T, k, "number");
    }
    if ((after || (local_cue(T, a) && !value_context(T, a, e, 1)) ||
         ((cues & MF_TG_L_IDCUE) && !value_context(T, a, e, 0))))
        return e;
    return 0;
}

static size_t zip_before_place(struct mf_deid_tagger *T, size_t i);

static void find_number(struct mf_deid_tagger *T, size_t i, size_t *next)
{
    struct chunk c;
    chunk_build(T, i, &c);
    char dig[128];
    *next = i + 1;
    uint64_t cues = cues_before(T, start_tok(&c), 4);
    /* record-aware: the longest prefix that is a known identifier, also with the letters
     * before it ("AB-1234-77" written "ab 1234 77") */
    size_t lp = start_tok(&c);
    if (T->ctx && T->ctx->digits.n && lp > 0 && T->t[lp].sp < 2) {
        size_t w = lp - 1;
        if (is_p(T, w, '-') && w > 0 && T->t[w].sp == 0)
            w--;
        if (!T->t[w].used && (T->t[w].kind == K_WORD || T->t[w].kind == K_MIX) && TLEN(w) <= 6) {
            size_t wn = mf_tg_fold(TS(w), TLEN(w), dig, sizeof dig);
            for (int g = c.g; g >= 1 && wn; g--) {
                size_t n = chunk_digits(T, &c, g, dig + wn, sizeof dig - wn);
                int cat = n ? ctx_digits_cat(T, dig, wn + n) : 0;
                if (cat) {
                    add_toks(T, w, end_tok(&c, g), (enum mf_deid_cat)(cat - 1), 0.98f);
                    *next = end_tok(&c, g) + 1;
                    return;
                }
            }
        }
    }
    for (int g = c.g; g >= 1; g--) {
        size_t n = chunk_digits(T, &c, g, dig, sizeof dig);
        int cat = ctx_digits_cat(T, dig, n);
        if (cat == 0 && (n == 11 && dig[0] == '1'))
            cat = ctx_digits_cat(T, dig + 1, n - 1);
        if (cat) {
            add_toks(T, start_tok(&c), end_tok(&c, g), (enum mf_deid_cat)(cat - 1), 0.98f);
            *next = end_tok(&c, g) + 1;
            return;
        }
    }
    unsigned v0 = gval(T, &c, 0);
    /* IPv4 */
    if (c.g >= 4 && c.sep[1] == '.' && c.sep[2] == '.' && c.sep[3] == '.' && c.len[0] <= 3 &&
        c.len[1] <= 3 && c.len[2] <= 3 && c.len[3] <= 3 && v0 < 256 && gval(T, &c, 1) < 256 &&
        gval(T, &c, 2) < 256 && gval(T, &c, 3) < 256) {
        add_toks(T, i, c.tok[3], MF_DEID_IP, 0.95f);
        *next = c.tok[3] + 1;
        return;
    }
    /* numeric dates */
    if (c.g >= 3 && c.sep[1] == c.sep[2] &&
        (c.sep[1] == '-' || c.sep[1] == '/' || c.sep[1] == '.')) {
        unsigned a = v0, b = gval(T, &c, 1), d = gval(T, &c, 2);
        int ymd = c.len[0] == 4 && c.len[1] <= 2 && c.len[2] <= 2 && valid_md(b, d) && a >= 1800 &&
                  a <= 2199;
        int mdy = c.len[0] <= 2 && c.len[1] <= 2 &&
                  (c.len[2] == 4 || (c.len[2] == 2 && c.sep[1] != '.')) &&
                  (valid_md(a, b) || valid_md(b, a)) && (c.len[2] == 2 || (d >= 1800 && d <= 2199));
        int ok = ymd || mdy;
        if (ok && !c.plus) {
            add_toks(T, i, c.tok[2], MF_DEID_DATE, 0.95f);
            *next = c.tok[2] + 1;
            return;
        }
    }
    /* SSN */
    if (c.g >= 3 && c.len[0] == 3 && c.len[1] == 2 && c.len[2] == 4 && c.sep[1] == c.sep[2] &&
        (c.sep[1] == '-' || c.sep[1] == ' ') && !(c.g > 3 && c.sep[3] == c.sep[1])) {
        enum mf_deid_cat cat =
            (cues & MF_TG_L_IDCUE) && !(cues & MF_TG_L_SSNCUE) ? MF_DEID_ID : MF_DEID_SSN;
        add_toks(T, i, c.tok[2], cat, 0.9f);
        *next = c.tok[2] + 1;
        return;
    }
    /* payment card: 13-19 digits, uniformly grouped, Luhn */
    {
        int same = 1;
        for (int g = 2; g < c.g; g++)
            same &= c.sep[g] == c.sep[1];
        if (same && (c.g == 1 || c.sep[1] == ' ' || c.sep[1] == '-') && !c.plus && !c.paren &&
            luhn(T, &c, c.g)) {
            add_toks(T, i, c.tok[c.g - 1], MF_DEID_ID, 0.9f);
            *next = c.tok[c.g - 1] + 1;
            return;
        }
    }
    /* ID with a cue word before it */
    if ((cues & (MF_TG_L_IDCUE | MF_TG_L_SSNCUE)) && !(cues & MF_TG_L_PHCUE)) {
        int g = c.g;
        /* keep date-like or small trailing groups out: only groups joined without a space */
        for (int q = 1; q < c.g; q++)
            if (c.sep[q] == ' ' || c.sep[q] == '/') {
                g = q;
                break;
            }
        size_t n = chunk_digits(T, &c, g, dig, sizeof dig);
        if (n >= 4) {
            enum mf_deid_cat cat = (cues & MF_TG_L_SSNCUE)   ? MF_DEID_SSN
                                   : (cues & MF_TG_L_MRNCUE) ? MF_DEID_MRN
                                                             : MF_DEID_ID;
            add_toks(T, i, c.tok[g - 1], cat, 0.85f);
            *next = c.tok[g - 1] + 1;
            return;
        }
    }
    /* ZIP+4 */
    if (c.g == 2 && c.len[0] == 5 && c.len[1] == 4 && c.sep[1] == '-' && !c.paren && !c.plus) {
        add_toks(T, i, c.tok[1], MF_DEID_ZIP, 0.85f);
        *next = c.tok[1] + 1;
        return;
    }
    /* phones */
    for (int g = c.g < 6 ? c.g : 6; g >= 2; g--) {
        unsigned total = 0, small = 0;
        int slash = 0, dots = 0, other = 0;
        for (int q = 0; q < g; q++) {
            total += c.len[q];
            /* one-digit groups: a country code after '+', an area code right after it
             * ("+64 4 944 3122") */
            if (c.len[q] < 2 && !(q == 0 && (c.plus || c.paren)) && !(q > 0 && c.sep[q] == 'p') &&
                !(q == 1 && c.plus && g >= 3))
                small++;
            if (q) {
                slash += c.sep[q] == '/';
                dots += c.sep[q] == '.';
                other += c.sep[q] != '.';
            }
        }
        /* one slash after the area code ("06-87/417 6536") in an international or trunk-prefixed
         * number, or after a phone cue */
        int zero = TS(c.tok[0])[0] == '0';
        if (slash == 1 && total >= 8 && (c.plus || zero || (cues & MF_TG_L_PHCUE))) {
            slash = 0;
            other = dots = 0;
        }
        if (total < 7 || total > 15 || slash || small || (dots && other))
            continue;
        int us = (g == 3 && c.len[0] == 3 && c.len[1] == 3 && c.len[2] == 4) ||
                 (g == 4 && c.len[0] == 1 && c.len[1] == 3 && c.len[2] == 3 && c.len[3] == 4) ||
                 (g == 4 && c.len[0] == 3 && c.len[1] == 3 && c.len[2] == 3 && c.len[3] == 4);
        int intl = (c.plus || c.paren || TS(c.tok[0])[0] == '0') && total >= 8;
        int cued = (cues & MF_TG_L_PHCUE) != 0;
        int pairs = g >= 4 && total >= 8;
        for (int q = 0; q < g && pairs; q++)
            pairs = c.len[q] >= 2 && c.len[q] <= 4 && (q == 0 || c.sep[q] == c.sep[1]);
        us |= pairs;
        /* a local number without a cue: "668 5702", "374 780 163", "0412 345 678"; not after a
         * lab, vital or value word, nor before a unit */
        int local = ((g == 2 && c.len[0] == 3 && c.len[1] == 4) ||
                     (g == 3 && c.len[0] == 3 && c.len[1] == 3 && c.len[2] == 3) ||
                     (g == 3 && c.len[0] == 4 && c.len[1] == 3 && c.len[2] == 3)) &&
                    (g == 2 || c.sep[2] == c.sep[1]) && c.sep[1] != '?' && c.sep[1] != 'p' &&
                    local_cue(T, start_tok(&c)) &&
                    !value_context(T, start_tok(&c), c.tok[g - 1], 1);
        if (!us && !intl && !cued && !local && !(dots == g - 1 && total >= 9))
            continue;
        size_t e = c.tok[g - 1];
        /* extension: x123, ext 123 */
        if (e + 1 < T->nt && T->t[e + 1].sp == 0 && T->t[e + 1].kind == K_MIX &&
            (TS(e + 1)[0] == 'x' || TS(e + 1)[0] == 'X'))
            e++;
        else if (is_w(T, e + 1, "ext") && num_val(T, e + 2 + is_p(T, e + 2, '.')) < 100000)
            e += 2 + (size_t)is_p(T, e + 2, '.');
        add_toks(T, start_tok(&c), e, (cues & MF_TG_L_FAXCUE) ? MF_DEID_FAX : MF_DEID_PHONE, 0.9f);
        *next = e + 1;
        return;
    }
    {
        size_t e = shape_phone(T, &c, cues);
        if (e) {
            size_t a = start_tok(&c);
            if (c.paren && a > 0 && T->t[a].sp == 0 && is_p(T, a - 1, '+'))
                a--;
            if (e + 1 < T->nt && T->t[e + 1].sp == 0 && T->t[e + 1].kind == K_MIX &&
                (TS(e + 1)[0] == 'x' || TS(e + 1)[0] == 'X'))
                e++;
            add_toks(T, a, e, (cues & MF_TG_L_FAXCUE) ? MF_DEID_FAX : MF_DEID_PHONE, 0.8f);
            *next = e + 1;
            return;
        }
    }
    /* month/year: 03/2024, 2024-03 */
    if (c.g >= 2 && (c.sep[1] == '/' || c.sep[1] == '-')) {
        unsigned b = gval(T, &c, 1);
        if ((c.len[0] <= 2 && c.len[1] == 4 && v0 >= 1 && v0 <= 12 && b >= 1900 && b <= 2099) ||
            (c.len[0] == 4 && c.len[1] <= 2 && c.sep[1] == '-' && v0 >= 1900 && v0 <= 2099 &&
             b >= 1 && b <= 12)) {
            add_toks(T, i, c.tok[1], MF_DEID_DATE, 0.85f);
            *next = c.tok[1] + 1;
            return;
        }
        /* m/d without a year after a date word */
        if (c.sep[1] == '/' && c.len[0] <= 2 && c.len[1] <= 2 && valid_md(v0, b)) {
            size_t p = prev_word(T, i);
            if (p && (is_w(T, p - 1, "on") || is_w(T, p - 1, "since") || is_w(T, p - 1, "dated") ||
                      is_w(T, p - 1, "until") || is_w(T, p - 1, "date") || is_w(T, p - 1, "dos") ||
                      is_w(T, p - 1, "admitted") || is_w(T, p - 1, "discharged"))) {
                add_toks(T, i, c.tok[1], MF_DEID_DATE, 0.7f);
                *next = c.tok[1] + 1;
                return;
            }
        }
    }
    /* a postal code of any locale's shape after "postal code" ("5474869", "12-345"), or before
     * a place ("104 32 Hlinsko", "94952 Uelzen") */
    if (!c.plus && !c.paren) {
        size_t z = (cues & MF_TG_L_ZIPCUE) ? shape_match(T, i, MF_TG_S_POSTCODE) : 0;
        if (z > i + 1 || (z && c.len[0] > 6)) {
            add_toks(T, i, z - 1, MF_DEID_ZIP, 0.8f);
            *next = z;
            return;
        }
        z = zip_before_place(T, i);
        if (z) {
            *next = z;
            return;
        }
    }
    /* single group */
    if (c.len[0] == 5 && !c.plus && !c.paren) {
        size_t p = prev_word(T, i);
        int state = p && TLEN(p - 1) == 2 && is_upper_ascii(TS(p - 1), 2);
        if (state || (cues & MF_TG_L_ZIPCUE)) {
            add_toks(T, i, i, MF_DEID_ZIP, 0.85f);
            return;
        }
    }
    if ((cues & MF_TG_L_ZIPCUE) && c.len[0] >= 3 && c.len[0] <= 6) {
        size_t e = i;
        if (c.g >= 2 && (c.sep[1] == ' ' || c.sep[1] == '-') && c.len[1] <= 4)
            e = c.tok[1];
        else if (e + 1 < T->nt && T->t[e + 1].sp == 1 && TLEN(e + 1) == 2 &&
                 is_upper_ascii(TS(e + 1), 2))
            e++; /* 7412 SL */
        add_toks(T, i, e, MF_DEID_ZIP, 0.8f);
        *next = e + 1;
        return;
    }
    if (c.len[0] <= 3 && v0 >= 90 && v0 <= 130) {
        size_t p = prev_word(T, i);
        int cue = p && (T->t[p - 1].lf & MF_TG_L_AGECUE);
        if (!cue && p && is_w(T, p - 1, "of") && p >= 2 && (T->t[p - 2].lf & MF_TG_L_AGECUE))
            cue = 1;
        if (cue || age_after(T, i)) {
            add_toks(T, i, i, MF_DEID_AGE, 0.9f);
            return;
        }
    }
    if (c.len[0] >= 8 && c.g == 1) {
        add_toks(T, i, i, (cues & MF_TG_L_MRNCUE) ? MF_DEID_MRN : MF_DEID_ID, 0.6f);
        return;
    }
}

/* Letters-and-digits tokens: ids, IBANs, "92yo". */
static void find_mixed(struct mf_deid_tagger *T, size_t i, size_t *next)
{
    *next = i + 1;
    const char *s = TS(i);
    size_t n = TLEN(i);
    char buf[MF_TG_MAXWORD];
    size_t f = mf_tg_fold(s, n, buf, sizeof buf);
    int cat = f ? ctx_digits_cat(T, buf, f) : 0;
    if (cat) {
        add_toks(T, i, i, (enum mf_deid_cat)(cat - 1), 0.98f);
        return;
    }
    size_t digits = 0, lead = 0;
    while (lead < n && s[lead] >= '0' && s[lead] <= '9')
        lead++;
    for (size_t k = 0; k < n; k++)
        digits += s[k] >= '0' && s[k] <= '9';
    /* age: 92yo, 95y */
    if (lead >= 2 && lead <= 3) {
        unsigned v = 0;
        for (size_t k = 0; k < lead; k++)
            v = v * 10 + (unsigned)(s[k] - '0');
        const char *r = s + lead;
        size_t rn = n - lead;
        if (v >= 90 && v <= 130 &&
            ((rn == 2 && (r[0] | 0x20) == 'y' && (r[1] | 0x20) == 'o') ||
             (rn == 1 && (r[0] | 0x20) == 'y') ||
             (rn == 2 && (r[0] | 0x20) == 'y' && r[1] == 'r'))) {
            add_toks(T, i, i, MF_DEID_AGE, 0.9f);
            return;
        }
    }
    /* IBAN split in groups of four: GB29 NWBK 6016 1331 9268 19 */
    if (n == 4 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && digits == 2 &&
        lead == 0) {
        size_t j = i, total = 4;
        while (j + 1 < T->nt && T->t[j + 1].sp == 1 && T->t[j + 1].kind != K_PUNCT &&
               TLEN(j + 1) <= 4) {
            j++;
            total += TLEN(j);
        }
        if (total >= 15) {
            add_toks(T, i, j, MF_DEID_ID, 0.85f);
            *next = j + 1;
            return;
        }
    }
    uint64_t cues = cues_before(T, i, 4);
    /* a postal code with letters ("K1L 4J4", "S7 9FY") after "postal code" or before a place */
    if (cues & MF_TG_L_ZIPCUE) {
        size_t z = shape_match(T, i, MF_TG_S_POSTCODE);
        if (z) {
            add_toks(T, i, z - 1, MF_DEID_ZIP, 0.8f);
            *next = z;
            return;
        }
    }
    {
        size_t z = zip_before_place(T, i);
        if (z) {
            *next = z;
            return;
        }
    }
    if ((digits >= 5 && n >= 6 && lead < n) || (digits >= 3 && (cues & MF_TG_L_IDCUE))) {
        /* codes like "E11.9", "ICD-10" have few digits; "2nd", "5th" are ordinals */
        size_t e = i;
        while (e + 2 < T->nt && is_p(T, e + 1, '-') && T->t[e + 1].sp == 0 && T->t[e + 2].sp == 0 &&
               T->t[e + 2].kind != K_PUNCT)
            e += 2;
        add_toks(T, i, e,
                 (cues & MF_TG_L_MRNCUE)   ? MF_DEID_MRN
                 : (cues & MF_TG_L_SSNCUE) ? MF_DEID_SSN
                                           : MF_DEID_ID,
                 0.8f);
        *next = e + 1;
    }
}

/* --- dates with month names --------------------------------------------------------------------
 */

static int is_day(const struct mf_deid_tagger *T, size_t i)
{
    if (i >= T->nt)
        return 0;
    if (T->t[i].kind == K_NUM)
        return TLEN(i) <= 2 && num_val(T, i) >= 1 && num_val(T, i) <= 31;
    if (T->t[i].kind == K_MIX && TLEN(i) >= 3 && TLEN(i) <= 4) {
        const char *s = TS(i);
        size_t n = TLEN(i), d = 0;
        unsigned v = 0;
        while (d < n && s[d] >= '0' && s[d] <= '9')
            v = v * 10 + (unsigned)(s[d++] - '0');
        if (d == 0 || d > 2 || n - d != 2 || v < 1 || v > 31)
            return 0;
        char a = (char)(s[d] | 0x20), b = (char)(s[d + 1] | 0x20);
        return (a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') ||
               (a == 't' && b == 'h');
    }
    return 0;
}

static int is_year(const struct mf_deid_tagger *T, size_t i)
{
    if (i >= T->nt || T->t[i].kind != K_NUM || TLEN(i) != 4)
        return 0;
    unsigned v = num_val(T, i);
    return v >= 1800 && v <= 2199;
}

static int is_month(const struct mf_deid_tagger *T, size_t i)
{
    return i < T->nt && T->t[i].kind == K_WORD && (T->t[i].lf & MF_TG_L_MONTH) &&
           mf_tg_case(TS(i), TLEN(i)) == 1;
}

/* After a month at token m: the last token of the date, or 0. */
static size_t month_tail(const struct mf_deid_tagger *T, size_t m, int have_day)
{
    size_t j = m + 1;
    if (is_p(T, j, '.') && T->t[j].sp == 0)
        j++;
    if (is_p(T, j, '-') && T->t[j].sp == 0)
        j++;
    if (!have_day && is_day(T, j) && T->t[j].sp != 2) {
        size_t d = j;
        size_t y = j + 1;
        if (is_p(T, y, ','))
            y++;
        if (is_year(T, y) && T->t[y].sp != 2)
            return y;
        if (is_p(T, y, '\'') && num_val(T, y + 1) < 100 && TLEN(y + 1) == 2)
            return y + 1;
        return d;
    }
    size_t y = j;
    if (is_p(T, y, ','))
        y++;
    if (is_year(T, y) && T->t[y].sp != 2)
        return y;
    if (is_p(T, y, '\'') && y + 1 < T->nt && TLEN(y + 1) == 2 && T->t[y + 1].kind == K_NUM)
        return y + 1;
    return 0;
}

static int find_textdate(struct mf_deid_tagger *T, size_t i, size_t *next)
{
    size_t a = i, j = i;
    if ((T->t[i].lf & MF_TG_L_WEEKDAY) && mf_tg_case(TS(i), TLEN(i)) == 1) {
        j = i + 1;
        if (is_p(T, j, '.'))
            j++;
        if (is_p(T, j, ','))
            j++;
        if (is_w(T, j, "the"))
            j++;
    }
    size_t end = 0;
    if (is_month(T, j)) {
        end = month_tail(T, j, 0);
    } else if (is_day(T, j)) {
        size_t m = j + 1;
        if (is_p(T, m, '-') || is_p(T, m, '/') || is_w(T, m, "of"))
            m++;
        if (is_month(T, m)) {
            end = month_tail(T, m, 1);
            if (end == 0)
                end = m + (is_p(T, m + 1, '.') && T->t[m + 1].sp == 0);
        }
    }
    if (end == 0)
        return 0;
    add_toks(T, a, end, MF_DEID_DATE, 0.9f);
    *next = end + 1;
    return 1;
}

/* --- addresses and hospitals -------------------------------------------------------------------
 */

static const char *const STREET_AFFIX[] = {
    "katu",  "kuja",      "tie",    "gatan",   "gata",   "vägen",   "väg",     "vej",
    "veien", "vegen",     "straße", "strasse", "weg",    "gasse",   "laan",    "straat",
    "utca",  "allee",     "platz",  "gade",    "polku",  "kaari",   "rinne",   "tori",
    "ranta", "stræde",    "torget", "plein",   "steeg",  "gracht",  "ulica",   "iela",
    "gatve", "tänav",     "street", "road",    "avenue", "lane",    "drive",   "court",
    "way",   "boulevard", "place",  "terrace", "square", "parkway", "highway", "trail"};

static int street_affix(const struct mf_deid_tagger *T, size_t i)
{
    if (TLEN(i) < 5) /* the shortest affix (3 bytes) after at least 3 more */
        return 0;
    char buf[MF_TG_MAXWORD];
    size_t n = mf_tg_fold(TS(i), TLEN(i), buf, sizeof buf);
    if (n == 0) /* longer than any word */
        return 0;
    for (size_t k = 0; k < sizeof STREET_AFFIX / sizeof STREET_AFFIX[0]; k++) {
        const char *x = STREET_AFFIX[k];
        if (buf[n - 1] != x[strlen(x) - 1]) /* the last letters differ: most words end here */
            continue;
        size_t m = strlen(x);
        if (n > m + 2 && memcmp(buf + n - m, x, m) == 0)
            return 1;
    }
    /* the endings Faker's locales glue to a name ("Industristigen", "Nilsenhagen"), for
     * words no dictionary knows (compound street names are in none) */
    if (!(T->t[i].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | MF_TG_L_NAME | MF_TG_L_PROPER |
                        MF_TG_L_PLACE | MF_TG_L_MONTH | CUE_BITS)) &&
        (mf_tg_affix(T->lex, buf, n, 4) & MF_TG_L_STAFFIX))
        return 1;
    return 0;
}

/* A house number with a letter: "6c", "12B". */
static int house_mix(const struct mf_deid_tagger *T, size_t i)
{
    if (i >= T->nt)
        return 0;
    const char *s = TS(i);
    size_t n = TLEN(i), d = 0;
    if (T->t[i].kind != K_MIX || n > 5)
        return 0;
    while (d < n && s[d] >= '0' && s[d] <= '9')
        d++;
    if (d == 0 || d > 4 || n - d != 1)
        return 0;
    return ((s[d] | 0x20) >= 'a' && (s[d] | 0x20) <= 'z') ? 1 : 0;
}

static int is_connector(const struct mf_deid_tagger *T, size_t i)
{
    static const char *const w[] = {"de",  "do",  "da",  "dos", "das", "del", "la", "di", "van",
                                    "von", "der", "des", "du",  "of",  "the", "le", "el", "y"};
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        if (is_w(T, i, w[k]))
            return 1;
    return 0;
}

static int capword(const struct mf_deid_tagger *T, size_t i)
{
    return i < T->nt && (T->t[i].kind == K_WORD || T->t[i].kind == K_MIX) &&
           mf_tg_case(TS(i), TLEN(i)) == 1;
}

static int is_direction(const struct mf_deid_tagger *T, size_t i)
{
    static const char *const w[] = {"n",  "s",  "e",     "w",     "ne",   "nw",
                                    "se", "sw", "north", "south", "east", "west"};
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        if (is_w(T, i, w[k]))
            return 1;
    return 0;
}

/* Street suffixes strong enough to make an address without a house number or in lower case. */
static int strong_suffix(const struct mf_deid_tagger *T, size_t i)
{
    static const char *const w[] = {"street", "avenue", "road",    "boulevard",
                                    "lane",   "drive",  "highway", "parkway"};
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        if (is_w(T, i, w[k]))
            return 1;
    return 0;
}

/* Words that make "3 blocks down the road" or "10 minute drive" a distance, not an address. */
static int street_stop(const struct mf_deid_tagger *T, size_t i)
{
    static const char *const w[] = {
        "the", "a",      "an",    "down",  "up",    "along",  "across", "my",     "his",
        "her", "their",  "this",  "that",  "per",   "mile",   "miles",  "minute", "minutes",
        "min", "mins",   "hour",  "hours", "block", "blocks", "km",     "yards",  "feet",
        "ft",  "meters", "times", "day",   "days",  "way",    "lane",   "lanes"};
    if (T->t[i].lf & (MF_TG_L_ALLOW | (CUE_BITS & ~MF_TG_L_STSUF)))
        return 1;
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        if (is_w(T, i, w[k]))
            return 1;
    return 0;
}

static int us_state(const char *s, size_t n);
static int medical_shape(const char *s, size_t n);

static int is_upper_letter(char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_upper_alnum(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_upper_letter(s[i]) && !(s[i] >= '0' && s[i] <= '9'))
            return 0;
    return n > 0;
}

/* Postal codes of other shapes at token i, in an address tail: "00-856", "H-4955", "3693UT",
 * "L2H 2DY", "SW1A 1AA". The token after the code, or 0. */
static size_t tail_postcode(const struct mf_deid_tagger *T, size_t i)
{
    if (i + 2 < T->nt && T->t[i + 1].sp == 0 && T->t[i + 2].sp == 0 && is_p(T, i + 1, '-') &&
        T->t[i + 2].kind == K_NUM) {
        /* 00-856 (Poland); H-4955 (Hungary), D-10115, CH-8001 */
        if (T->t[i].kind == K_NUM && TLEN(i) == 2 && TLEN(i + 2) == 3)
            return i + 3;
        if (T->t[i].kind == K_WORD && TLEN(i) <= 2 && is_upper_ascii(TS(i), TLEN(i)) &&
            TLEN(i + 2) >= 4 && TLEN(i + 2) <= 5)
            return i + 3;
        return 0;
    }
    {
        /* any locale's shape of more than one token ("394 13", "42 693", "104 32") or with
         * letters ("A9A 9A9", "9999AA") */
        size_t z = shape_match(T, i, MF_TG_S_POSTCODE);
        if (z > i + 1 || (z && T->t[i].kind == K_MIX))
            return z;
    }
    if (T->t[i].kind != K_MIX)
        return 0;
    const char *s = TS(i);
    size_t n = TLEN(i), d = 0;
    while (d < n && s[d] >= '0' && s[d] <= '9')
        d++;
    /* 3693UT (the Netherlands) */
    if (d == 4 && n == 6 && is_upper_letter(s[4]) && is_upper_letter(s[5]))
        return i + 1;
    /* UK and Canada: an outward code (letter first, 2-4 characters), space, an inward code
     * (digit and two letters): L2H 2DY, SW1A 1AA, K1A 0B1 */
    if (d == 0 && n >= 2 && n <= 4 && is_upper_letter(s[0]) && is_upper_alnum(s, n) &&
        i + 1 < T->nt && T->t[i + 1].sp == 1 && T->t[i + 1].kind == K_MIX && TLEN(i + 1) == 3) {
        const char *u = TS(i + 1);
        if (u[0] >= '0' && u[0] <= '9' && is_upper_alnum(u, 3) &&
            ((is_upper_letter(u[1]) && is_upper_letter(u[2])) ||
             (is_upper_letter(u[1]) && u[2] >= '0' && u[2] <= '9')))
            return i + 2;
    }
    return 0;
}

/* A postal code of any locale's shape at token i right before a place on the same line
 * ("Send it to 104 32 Hlinsko", "94952 Uelzen", "L4P 1L6 Port Hope"): a dictionary place, or
 * a capitalised word that no dictionary knows (not English, medical, a name or a cue). One
 * digit group needs 4+ digits and is no year; no value word or unit, no money. Tags the code
 * and the place; the token after them, 0 when none. */
static size_t zip_before_place(struct mf_deid_tagger *T, size_t i)
{
    size_t z = shape_match(T, i, MF_TG_S_POSTCODE);
    if (z == 0 || z >= T->nt || T->t[z].sp != 1 || T->t[z].kind != K_WORD || T->t[z].used)
        return 0;
    int lettered = 0; /* letters or a hyphen in the code: "H-1948 nyékvárad" */
    for (size_t q = i; q < z; q++)
        lettered |= T->t[q].kind != K_NUM;
    int cs = mf_tg_case(TS(z), TLEN(z));
    if (cs != 1 && !(lettered && cs == 2 && TLEN(z) >= 4 &&
                     !(T->t[z].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS | MF_TG_L_MONTH)) &&
                     !medical_shape(TS(z), TLEN(z))))
        return 0;
    if (z == i + 1 && T->t[i].kind == K_NUM) {
        unsigned v = num_val(T, i);
        if (TLEN(i) < 4 || (TLEN(i) == 4 && v >= 1900 && v <= 2099))
            return 0;
    }
    if (T->t[z].lf & (CUE_BITS | MF_TG_L_MONTH | MF_TG_L_ALLOW))
        return 0;
    /* the place: up to three capitalised words, one of them a place or unknown */
    size_t k = z;
    while (cs == 1 && k + 1 < T->nt && k - z < 2 && T->t[k + 1].sp == 1 &&
           T->t[k + 1].kind == K_WORD && mf_tg_case(TS(k + 1), TLEN(k + 1)) == 1 &&
           !(T->t[k + 1].lf & (CUE_BITS | MF_TG_L_MONTH | MF_TG_L_ALLOW)))
        k++;
    int ok = cs == 2;
    for (size_t q = z; q <= k && !ok; q++) {
        uint64_t lf = T->t[q].lf;
        ok = (lf & MF_TG_L_PLACE) ||
             (!(lf & (MF_TG_L_WORD | MF_TG_L_NAME | MF_TG_L_PROPER | MF_TG_L_STWORD)) &&
              !medical_shape(TS(q), TLEN(q)) && TLEN(q) >= 3);
    }
    if (!ok)
        return 0;
    if (value_context(T, i, z - 1, 0) || money_context(T, i, z - 1) ||
        (i > 0 && T->t[i].sp == 0 && (is_p(T, i - 1, '#') || is_p(T, i - 1, '-'))))
        return 0;
    add_toks(T, i, z - 1, MF_DEID_ZIP, 0.7f);
    add_toks(T, z, k, MF_DEID_CITY, 0.7f);
    return k + 1;
}

/* City, state, ZIP and unit lines after an address ending at token e; returns the last token
 * consumed. */
static size_t address_tail(struct mf_deid_tagger *T, size_t e)
{
    size_t j = e + 1, last = e;
    int lines = 0, zip_last = 0;
    for (int steps = 0; steps < 14 && j < T->nt; steps++) {
        if (T->t[j].sp == 2 && ++lines > 4)
            break;
        if (is_p(T, j, ',') || is_p(T, j, '>') || is_p(T, j, '|') || is_p(T, j, '?') ||
            is_p(T, j, '/') || (is_p(T, j, '.') && j == last + 1 && T->t[j].sp == 0)) {
            j++;
            continue;
        }
        /* unit: Apt 5, Suite 501, # 4 */
        if ((T->t[j].lf & MF_TG_L_UNIT) || is_p(T, j, '#')) {
            size_t k = j + 1;
            if (is_p(T, k, '.'))
                k++;
            if (is_p(T, k, '#'))
                k++;
            if (k < T->nt && (T->t[k].kind == K_NUM || T->t[k].kind == K_MIX ||
                              (TLEN(k) == 1 && capword(T, k)))) {
                add_toks(T, j, k, MF_DEID_ADDRESS, 0.85f);
                last = j = k;
                j++;
                continue;
            }
            break;
        }
        size_t zq = tail_postcode(T, j);
        if (zq) {
            add_toks(T, j, zq - 1, MF_DEID_ZIP, 0.75f);
            last = zq - 1;
            j = zq;
            zip_last = 1;
            continue;
        }
        /* "H-4123 györgyvég": a lower-case word no dictionary knows after the postal code or
         * alone on its line */
        if (T->t[j].kind == K_WORD && T->t[j].cap == 2 && TLEN(j) >= 4 &&
            !(T->t[j].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS | MF_TG_L_MONTH)) &&
            (zip_last || T->t[j].sp == 2) && !medical_shape(TS(j), TLEN(j))) {
            add_toks(T, j, j, MF_DEID_CITY, 0.6f);
            last = j++;
            zip_last = 0;
            continue;
        }
        zip_last = 0;
        if (T->t[j].kind == K_NUM) {
            size_t k = j;
            unsigned len = (unsigned)TLEN(j);
            if (len < 3 || len > 6)
                break;
            /* 394 13, 3610-114, 75534-030 */
            if (k + 2 < T->nt && is_p(T, k + 1, '-') && T->t[k + 2].kind == K_NUM &&
                T->t[k + 1].sp == 0)
                k += 2;
            /* 394 13; 7412 SL */
            else if (k + 1 < T->nt && T->t[k + 1].sp == 1 &&
                     ((T->t[k + 1].kind == K_NUM && TLEN(k + 1) <= 3 && len <= 3) ||
                      (TLEN(k + 1) == 2 && is_upper_ascii(TS(k + 1), 2) &&
                       T->t[k + 1].kind == K_WORD)))
                k += 1;
            add_toks(T, j, k, MF_DEID_ZIP, 0.8f);
            last = k;
            j = k + 1;
            zip_last = 1;
            continue;
        }
        if ((T->t[j].lf & MF_TG_L_STSUF) && j == last + 1) {
            size_t k = j + (is_p(T, j + 1, '.') && T->t[j + 1].sp == 0);
            if (j == e + 1 && T->cand.n && T->cand.v[T->cand.n - 1].end == T->t[e].e) {
                T->cand.v[T->cand.n - 1].end = T->t[k].e; /* "Ringvej 144 St." */
                for (size_t q = j; q <= k; q++)
                    T->t[q].used = 1;
            } else {
                add_toks(T, j, k, MF_DEID_ADDRESS, 0.8f);
            }
            last = k;
            j = k + 1;
            continue;
        }
        if (T->t[j].kind == K_WORD && TLEN(j) == 2 && is_upper_ascii(TS(j), 2)) {
            /* a state or province code: not PHI, but part of the address; a non-US region
             * code ("LAPPEENRANTA SK 53650") is tagged with it, US states never are */
            if (!us_state(TS(j), TLEN(j)))
                add_toks(T, j, j, MF_DEID_CITY, 0.6f);
            last = j;
            j++;
            continue;
        }
        if (capword(T, j) || (T->t[j].kind == K_WORD && (T->t[j].lf & MF_TG_L_PLACE))) {
            size_t k = j;
            /* "útja 62. St. Stephen's": a cue word after a period starts a sentence */
            if (is_p(T, j - 1, '.') && (T->t[j].lf & CUE_BITS) && !(T->t[j].lf & MF_TG_L_PLACE))
                break;
            while (k + 1 < T->nt && T->t[k + 1].sp == 1 &&
                   (capword(T, k + 1) || (is_connector(T, k + 1) && capword(T, k + 2))) &&
                   !tail_postcode(T, k + 1) && k - j < 4)
                k++;
            /* a run of common words is prose, not a place */
            int plausible = 0;
            for (size_t q = j; q <= k; q++)
                if (!(T->t[q].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW)) || (T->t[q].lf & MF_TG_L_PLACE))
                    plausible = 1;
            /* a whole field of its own ("> Pines Beach >", a line) is a place whatever words */
            size_t nx = k + 1;
            if ((T->t[j].sp == 2 || (j > 0 && T->t[j - 1].kind == K_PUNCT)) &&
                (nx >= T->nt || T->t[nx].sp == 2 || is_p(T, nx, ',') || is_p(T, nx, '>') ||
                 is_p(T, nx, '|')))
                plausible = 1;
            if (!plausible)
                break;
            add_toks(T, j, k, MF_DEID_CITY, 0.75f);
            last = k;
            j = k + 1;
            continue;
        }
        break;
    }
    return last;
}

static int find_address(struct mf_deid_tagger *T, size_t i, size_t *next)
{
    size_t j = i;
    int numbered = T->t[i].kind == K_NUM;
    if (numbered) {
        if (TLEN(i) > 6 || T->t[i + 1 < T->nt ? i + 1 : i].sp != 1)
            return 0;
        j = i + 1;
        /* "975 3968 Bay Street": a building number before the house number */
        if (j + 1 < T->nt && T->t[j].kind == K_NUM && TLEN(j) <= 5 && T->t[j + 1].sp == 1)
            j++;
        if (is_direction(T, j) && T->t[j + 1 < T->nt ? j + 1 : j].sp == 1)
            j++;
    }
    /* "3747 fourth avenue": a lower-case street name ending in a strong suffix */
    if (numbered && j < T->nt && T->t[j].kind == K_WORD && T->t[j].cap == 2 && T->t[j].sp == 1) {
        for (size_t q = j; q < T->nt && q < j + 4 && T->t[q].sp == 1 && T->t[q].kind == K_WORD;
             q++) {
            if (q > j && strong_suffix(T, q)) {
                add_toks(T, i, q, MF_DEID_ADDRESS, 0.7f);
                *next = address_tail(T, q) + 1;
                return 1;
            }
            if (street_stop(T, q))
                break;
        }
    }
    /* words of the street name */
    size_t k = j, suffix = 0, stword = 0;
    int words = 0, plain = 0;
    while (k < T->nt && words < 6) {
        if (k > j && T->t[k].sp != 1) {
            /* the period of an abbreviation: "u. 12", "ul. Miła" */
            if (words && is_p(T, k, '.') && T->t[k].sp == 0 && k + 1 < T->nt &&
                T->t[k + 1].sp == 1) {
                k++;
                continue;
            }
            break;
        }
        if (capword(T, k) || (T->t[k].kind == K_MIX && is_day(T, k)) ||
            (T->t[k].kind == K_WORD &&
             ((T->t[k].lf & MF_TG_L_STWORD) || (k > j && (T->t[k].lf & MF_TG_L_STSUF))))) {
            if (T->t[k].lf & MF_TG_L_STSUF)
                suffix = k + 1;
            if ((T->t[k].lf & MF_TG_L_STWORD) || street_affix(T, k))
                stword = k + 1;
            if (!(T->t[k].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW)))
                plain++;
            words++;
            k++;
            continue;
        }
        if (k > j && is_connector(T, k) && capword(T, k + 1)) {
            k++;
            continue;
        }
        /* "Árpád fejedelem útja 62": lower-case words no dictionary knows, then a street
         * word within two words */
        if (words && !stword && T->t[k].kind == K_WORD && T->t[k].cap == 2 &&
            !(T->t[k].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS)) &&
            ((k + 1 < T->nt && T->t[k + 1].sp == 1 &&
              ((T->t[k + 1].lf & MF_TG_L_STWORD) || street_affix(T, k + 1))) ||
             (k + 2 < T->nt && T->t[k + 1].sp == 1 && T->t[k + 2].sp == 1 &&
              T->t[k + 1].kind == K_WORD && !(T->t[k + 1].lf & (MF_TG_L_WORD | CUE_BITS)) &&
              ((T->t[k + 2].lf & MF_TG_L_STWORD) || street_affix(T, k + 2))))) {
            words++;
            k++;
            continue;
        }
        /* "rue des lieutemants Thomazo": after a street word, words no dictionary knows */
        if (stword && T->t[k].kind == K_WORD &&
            (is_connector(T, k) || !(T->t[k].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS)))) {
            if (!is_connector(T, k))
                words++;
            k++;
            continue;
        }
        break;
    }
    if (words == 0)
        return 0;
    size_t end = 0;
    if (suffix && suffix - 1 > j) {
        end = suffix - 1;
        if (is_p(T, end + 1, '.') && T->t[end + 1].sp == 0)
            end++;
    } else if (stword) {
        end = k - 1;
    }
    /* "Koskikatu 25", "Rua do Arenque 1634": a house number after the name ("6c", "5/5",
     * "6b/2") */
    if (end && end + 1 < T->nt && T->t[end + 1].sp == 1 &&
        (T->t[end + 1].kind == K_NUM || house_mix(T, end + 1)) && TLEN(end + 1) <= 5) {
        end++;
        if (end + 2 < T->nt && is_p(T, end + 1, '/') && T->t[end + 1].sp == 0 &&
            T->t[end + 2].sp == 0 && (T->t[end + 2].kind == K_NUM || house_mix(T, end + 2)) &&
            TLEN(end + 2) <= 4)
            end += 2;
    } else if (!end && numbered && plain == words && k < T->nt && T->t[k].kind == K_NUM &&
               T->t[k].sp == 1 && TLEN(k) <= 4)
        end = k; /* "20789 Allika 46" */
    if (!end)
        return 0;
    if (!numbered) {
        /* without a leading number: the street word must be a real street word and a number
         * must follow ("Via Franscini 71") */
        if (T->t[end].kind != K_NUM)
            return 0;
        /* "Brezova ulica 14b": a lower-case street word after the name also does */
        int lower_stword = stword > i + 1 && T->t[stword - 1].cap == 2 &&
                           (T->t[stword - 1].lf & MF_TG_L_STWORD) && TLEN(stword - 1) >= 3;
        if (sentence_start(T, i) == 0 && !(T->t[i].lf & MF_TG_L_STWORD) && !street_affix(T, i) &&
            !lower_stword && !(cues_before(T, i, 2) & (MF_TG_L_PCUE | MF_TG_L_WCUE)))
            return 0;
    }
    add_toks(T, i, end, MF_DEID_ADDRESS, 0.85f);
    *next = address_tail(T, end) + 1;
    return 1;
}

static int us_state(const char *s, size_t n)
{
    static const char codes[] = "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI "
                                "MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT "
                                "VT VA WA WV WI WY DC PR GU VI AS MP ";
    if (n != 2 || !is_upper_ascii(s, 2))
        return 0;
    for (size_t i = 0; i + 2 < sizeof codes; i += 3)
        if (codes[i] == s[0] && codes[i + 1] == s[1])
            return 1;
    return 0;
}

/* "Lake Troy, NV": the capitalised words before ", ST" are a city. */
static void city_before_state(struct mf_deid_tagger *T, size_t i)
{
    if (i < 2 || !us_state(TS(i), TLEN(i)) || !is_p(T, i - 1, ',') || T->t[i].sp != 1)
        return;
    if (i + 1 < T->nt && T->t[i + 1].sp == 0 && T->t[i + 1].kind != K_PUNCT)
        return;
    /* MD and PA are also credentials ("J. Smith, MD"): a ZIP must follow */
    if ((memcmp(TS(i), "MD", 2) == 0 || memcmp(TS(i), "PA", 2) == 0) &&
        !(i + 1 < T->nt && T->t[i + 1].kind == K_NUM && TLEN(i + 1) == 5))
        return;
    size_t b = i - 2, a = b;
    if (T->t[b].used || !capword(T, b) || (T->t[b].lf & (MF_TG_L_UNIT | MF_TG_L_STSUF)))
        return;
    while (a > 0 && b - a < 3 && T->t[a].sp == 1 && capword(T, a - 1) && !T->t[a - 1].used &&
           !(T->t[a - 1].lf & (MF_TG_L_PCUE | MF_TG_L_NCUE | MF_TG_L_TITLE)))
        a--;
    add_toks(T, a, b, MF_DEID_CITY, 0.8f);
}

/* "on Berg Hills Street": capitalised words and a capitalised strong street suffix (token i)
 * after a preposition, without a house number. */
static int find_named_street(struct mf_deid_tagger *T, size_t i, size_t *next)
{
    if (!capword(T, i) || !strong_suffix(T, i) || i < 2)
        return 0;
    size_t a = i;
    while (a > 0 && i - a < 3 && T->t[a].sp == 1 && capword(T, a - 1) && !T->t[a - 1].used &&
           !(T->t[a - 1].lf & (CUE_BITS & ~MF_TG_L_STSUF)))
        a--;
    if (a == i || a == 0 || T->t[a].sp != 1)
        return 0;
    static const char *const prep[] = {"on", "at", "in", "along", "off", "near", "down", "from"};
    int ok = 0;
    for (size_t k = 0; k < sizeof prep / sizeof prep[0]; k++)
        ok |= is_w(T, a - 1, prep[k]) && T->t[a - 1].cap == 2;
    if (!ok)
        return 0;
    add_toks(T, a, i, MF_DEID_ADDRESS, 0.7f);
    *next = address_tail(T, i) + 1;
    return 1;
}

/* "apt. 999", "Suite 501": a unit outside a recognised street line. */
static int find_unit(struct mf_deid_tagger *T, size_t i, size_t *next)
{
    if (!(is_w(T, i, "apt") || is_w(T, i, "apartment") || is_w(T, i, "suite") || is_w(T, i, "ste")))
        return 0;
    size_t k = i + 1;
    if (is_p(T, k, '.') && T->t[k].sp == 0)
        k++;
    if (is_p(T, k, '#'))
        k++;
    if (k >= T->nt || T->t[k].sp == 2 || !(T->t[k].kind == K_NUM || T->t[k].kind == K_MIX) ||
        TLEN(k) > 6)
        return 0;
    add_toks(T, i, k, MF_DEID_ADDRESS, 0.7f);
    *next = address_tail(T, k) + 1;
    return 1;
}

/* PO Box 123, P.O. Box 5, PSC 6293, Box 8158, APO AP 04336 */
static int find_pobox(struct mf_deid_tagger *T, size_t i, size_t *next)
{
    size_t j = i;
    if (is_w(T, i, "po") || (is_w(T, i, "p") && is_p(T, i + 1, '.') && is_w(T, i + 2, "o"))) {
        j = is_w(T, i, "po") ? i + 1 : i + 3;
        if (is_p(T, j, '.'))
            j++;
    } else if ((is_w(T, i, "psc") || is_w(T, i, "cmr") || is_w(T, i, "unit")) &&
               num_val(T, i + 1) < 100000 &&
               (is_w(T, i + 2, "box") || (is_p(T, i + 2, ',') && is_w(T, i + 3, "box")))) {
        j = is_w(T, i + 2, "box") ? i + 2 : i + 3;
    } else if ((is_w(T, i, "apo") || is_w(T, i, "fpo") || is_w(T, i, "dpo")) && i + 2 < T->nt &&
               TLEN(i + 1) == 2 && T->t[i + 2].kind == K_NUM) {
        add_toks(T, i, i + 2, MF_DEID_ADDRESS, 0.85f);
        *next = i + 3;
        return 1;
    }
    if (!is_w(T, j, "box") || j + 1 >= T->nt || T->t[j + 1].kind != K_NUM)
        return 0;
    if (j == i && mf_tg_case(TS(i), TLEN(i)) != 1)
        return 0;
    size_t e = j + 1;
    /* "45818 P.O. Box 242": a postal code before the box on its line */
    if (i > 0 && T->t[i].sp == 1 && T->t[i - 1].kind == K_NUM && !T->t[i - 1].used &&
        TLEN(i - 1) >= 4 && TLEN(i - 1) <= 6)
        i--;
    /* military: "Box 0219 DPO AP 51065" */
    if ((is_w(T, e + 1, "apo") || is_w(T, e + 1, "fpo") || is_w(T, e + 1, "dpo")) &&
        e + 3 < T->nt && TLEN(e + 2) == 2 && T->t[e + 3].kind == K_NUM)
        e += 3;
    add_toks(T, i, e, MF_DEID_ADDRESS, 0.85f);
    *next = address_tail(T, e) + 1;
    return 1;
}

static int hosp_qualifier(const struct mf_deid_tagger *T, size_t i)
{
    static const char *const w[] = {"medical",    "health",         "cancer",     "care",
                                    "surgical",   "rehabilitation", "heart",      "eye",
                                    "dialysis",   "wellness",       "trauma",     "birth",
                                    "nursing",    "treatment",      "children's", "kidney",
                                    "diagnostic", "imaging",        "regional",   "community"};
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        if (is_w(T, i, w[k]))
            return 1;
    return 0;
}

static void find_hospital(struct mf_deid_tagger *T, size_t i)
{
    if (mf_tg_case(TS(i), TLEN(i)) != 1 || i == 0)
        return;
    if ((T->t[i].lf & MF_TG_L_HOSPWEAK) && !hosp_qualifier(T, i - 1))
        return;
    size_t a = i;
    int distinct = 0, words = 0;
    while (a > 0 && words < 6 && T->t[a].sp != 2) {
        size_t p = a - 1;
        if (capword(T, p)) {
            if ((!(T->t[p].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW)) ||
                 (T->t[p].lf & (MF_TG_L_PLACE | MF_TG_L_NAME))) &&
                !hosp_qualifier(T, p) && !is_w(T, p, "general") && !is_w(T, p, "memorial") &&
                !is_w(T, p, "university") && !is_w(T, p, "county") && !is_w(T, p, "state"))
                distinct = 1;
            if (T->t[p].lf & (MF_TG_L_TITLE | MF_TG_L_MONTH))
                break;
            a = p;
            words++;
            continue;
        }
        /* Mary's, St. */
        if (is_w(T, p, "s") && p > 0 && is_p(T, p - 1, '\'') && T->t[p].sp == 0 && p >= 2 &&
            capword(T, p - 2)) {
            a = p - 1;
            continue;
        }
        if (is_p(T, p, '.') && p > 0 && (is_w(T, p - 1, "st") || is_w(T, p - 1, "mt"))) {
            a = p;
            continue;
        }
        if ((is_w(T, p, "of") || is_w(T, p, "and") || is_p(T, p, '&')) && p > 0 &&
            capword(T, p - 1)) {
            a = p;
            continue;
        }
        break;
    }
    while (a < i && !capword(T, a))
        a++;
    if (a == i || !distinct)
        return;
    size_t e = i;
    if (is_w(T, e + 1, "of") && capword(T, e + 2)) {
        e += 2;
        while (capword(T, e + 1) && T->t[e + 1].sp == 1 && e - i < 6)
            e++;
    }
    add_toks(T, a, e, MF_DEID_HOSPITAL, 0.85f);
}

/* --- names and places ---------------------------------------------------------------------- */

static int medical_shape(const char *s, size_t n)
{
    static const char *const suf[] = {
        "mab",      "pril",   "olol",   "statin",   "itis",    "osis",    "emia",    "azole",
        "cillin",   "mycin",  "sartan", "pine",     "ectomy",  "otomy",   "plasty",  "scopy",
        "gram",     "pathy",  "algia",  "oma",      "ase",     "tidine",  "prazole", "floxacin",
        "cycline",  "vir",    "parin",  "dronate",  "gliptin", "glutide", "zepam",   "azepam",
        "barbital", "caine",  "profen", "phylline", "terol",   "sone",    "olone",   "uria",
        "emia",     "plegia", "trophy", "megaly",   "rrhea",   "lysis",   "genic",   "itis",
        "ine",      "ate",    "ide",    "ular",     "able",    "ible",    "ium",     "ical",
        "ous",      "ive",    "ol",     "um",       "ial",     "ology",   "iatry",   "ics",
        "ism",      "ment",   "tion",   "sion",     "ary",     "ory",     "oid",     "gen",
        "cyte",     "ema",    "esis"};
    if (n < 6)
        return 0;
    for (size_t k = 0; k < sizeof suf / sizeof suf[0]; k++) {
        size_t m = strlen(suf[k]);
        if (n > m + 2 && strncmp(s + n - m, suf[k], m) == 0)
            return 1;
    }
    return 0;
}

static int classify(const struct mf_deid_tagger *T, size_t i)
{
    const struct tok *k = &T->t[i];
    if (k->ctx == MF_DEID_NAME + 1 && k->kind == K_WORD)
        return C_CTX;
    if (k->kind != K_WORD)
        return C_NONE;
    size_t n = TLEN(i);
    const char *s = TS(i);
    int cs = k->cap;
    uint64_t lf = k->lf;
    if (n == 1)
        return cs == 1 && s[0] != 'I' ? C_INIT : C_NONE;
    /* a word of another script in an English text ("from πεντέλης", "Dr 王"): a proper noun,
     * whatever its case; not in a text mostly of that script */
    if (k->fx && !(lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS)) &&
        T->nlatin >= 2 * T->nforeign + 2) {
        if (lf & MF_TG_L_PLACE)
            return C_PLACE;
        return (lf & MF_TG_L_NAME) ? C_NAME : C_UNK;
    }
    if (cs != 1) {
        if (cs == 2 && (lf & MF_TG_L_NAME) && !(lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS)))
            return C_LNAME;
        if (cs == 2 && (lf & MF_TG_L_PLACE) && !(lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS)))
            return C_PLACE;
        return C_NONE;
    }
    if (lf & (MF_TG_L_TITLE | MF_TG_L_HOSP))
        return C_NONE;
    int upper = is_upper_ascii(s, n);
    if (lf & MF_TG_L_NAME) {
        if (lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | MF_TG_L_MONTH | CUE_BITS))
            return C_AMBIG;
        if (upper && n <= 3)
            return C_AMBIG;
        return C_NAME;
    }
    if (lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | MF_TG_L_MONTH | CUE_BITS))
        return C_NONE;
    if ((lf & MF_TG_L_PLACE) && !(upper && n <= 3))
        return C_PLACE;
    if (lf & MF_TG_L_PROPER)
        return upper ? C_NONE : C_AMBIG;
    if (upper)
        return n >= 4 ? C_UNKCAPS : C_NONE;
    if (n <= 3)
        return C_NONE;
    if (medical_shape(s, n)) {
        /* "Anneside", "Eastgate": a town's ending (Faker's compound town names) outweighs a
         * drug-like one (-ide, -ate) */
        char buf[MF_TG_MAXWORD];
        size_t f = mf_tg_fold(s, n, buf, sizeof buf);
        if (!f || !(mf_tg_affix(T->lex, buf, f, 4) & MF_TG_L_CITYAFFIX))
            return C_NONE;
    }
    return C_UNK;
}

static int namey(int c)
{
    return c == C_NAME || c == C_AMBIG || c == C_UNK || c == C_INIT || c == C_CTX;
}

/* Lexicon phrase (a multi-word place) starting at token i: the last token, or 0. */
static size_t lex_phrase(const struct mf_deid_tagger *T, size_t i, uint64_t *flags, int lower)
{
    char key[256];
    size_t k = 0, best = 0, j = i;
    size_t words = 0;
    while (j < T->nt && words < T->lex->max_phrase) {
        if (words && T->t[j].sp == 2)
            break;
        if (T->t[j].kind == K_PUNCT) {
            if (words && (is_p(T, j, '-') || is_p(T, j, '.'))) {
                j++;
                continue;
            }
            break;
        }
        if (words && !capword(T, j) && !is_connector(T, j) &&
            !(lower && T->t[j].kind == K_WORD && T->t[j].cap == 2))
            break;
        if (k + TLEN(j) + 1 >= sizeof key)
            break;
        if (words)
            key[k++] = ' ';
        size_t f = mf_tg_fold(TS(j), TLEN(j), key + k, sizeof key - k);
        if (f == 0)
            break;
        k += f;
        words++;
        if (words >= 2) {
            const struct mf_strmap_slot *sl = mf_strmap_get(&T->lex->phrases, key, k);
            if (sl) {
                best = j;
                *flags = sl->value;
            }
        }
        j++;
    }
    return best;
}

/* "Quinta de São Tiago 3610-114", "Bergen 5003.": a postal code right after a place that
 * ends at token e, before the end of the clause; the last token consumed. */
static size_t zip_after_place(struct mf_deid_tagger *T, size_t e)
{
    size_t j = e + 1;
    if (j >= T->nt || T->t[j].sp != 1 || T->t[j].used)
        return e;
    size_t z = tail_postcode(T, j);
    int lettered = 0; /* a shape with letters or a hyphen: "7116XY", "H-5002", "22-601" */
    if (z) {
        z--;
        for (size_t q = j; q <= z; q++)
            lettered |= T->t[q].kind != K_NUM && !(T->t[q].kind == K_PUNCT && !is_p(T, q, '-'));
    } else if (T->t[j].kind == K_NUM && TLEN(j) >= 4 && TLEN(j) <= 6) {
        unsigned v = num_val(T, j);
        if (TLEN(j) == 4 && v >= 1900 && v <= 2099)
            return e; /* a year */
        z = j;
        if (z + 2 < T->nt && is_p(T, z + 1, '-') && T->t[z + 1].sp == 0 && T->t[z + 2].sp == 0 &&
            T->t[z + 2].kind == K_NUM && TLEN(z + 2) <= 4)
            z += 2; /* 3610-114 */
    } else {
        return e;
    }
    size_t n = z + 1;
    static const char *const fw[] = {"in",   "and", "or", "for",  "on",  "at",    "is",    "was",
                                     "with", "to",  "of", "from", "but", "where", "which", "until"};
    int ok = n >= T->nt || T->t[n].sp == 2 ||
             (T->t[n].kind == K_PUNCT && !is_p(T, n, '%') && !is_p(T, n, '/'));
    /* such a shape needs no clause end after it ("moved to Muntendam 7882EM last year") */
    if (!ok && lettered && T->t[n].kind != K_PUNCT && !value_context(T, j, z, 0))
        ok = 1;
    for (size_t q = 0; !ok && q < sizeof fw / sizeof fw[0]; q++)
        ok = is_w(T, n, fw[q]);
    if (!ok)
        return e;
    add_toks(T, j, z, MF_DEID_ZIP, 0.6f);
    return z;
}

/* Context phrase (a known name, address, city, hospital) at token i. */
static size_t ctx_phrase(const struct mf_deid_tagger *T, size_t i, int *cat)
{
    const struct mf_deid_context *c = T->ctx;
    char key[512];
    size_t k = mf_tg_fold(TS(i), TLEN(i), key, sizeof key);
    if (k == 0)
        return 0;
    const struct mf_strmap_slot *fs = mf_strmap_get(&c->first, key, k);
    if (fs == NULL)
        return 0;
    size_t maxw = (size_t)fs->value, words = 1, best = 0, j = i + 1;
    while (j < T->nt && words < maxw) {
        if (T->t[j].kind == K_PUNCT) {
            if (is_p(T, j, ',') || is_p(T, j, '.') || is_p(T, j, '-')) {
                j++;
                continue;
            }
            break;
        }
        if (k + TLEN(j) + 1 >= sizeof key)
            break;
        key[k++] = ' ';
        size_t f = mf_tg_fold(TS(j), TLEN(j), key + k, sizeof key - k);
        if (f == 0)
            break;
        k += f;
        words++;
        const struct mf_strmap_slot *sl = mf_strmap_get(&c->phrases, key, k);
        if (sl) {
            best = j;
            *cat = (int)sl->value;
        }
        j++;
    }
    return best;
}

/* A lower-case particle inside a name: "Willemine ten Pas", "Ana de Souza". */
static int name_particle(const struct mf_deid_tagger *T, size_t i)
{
    static const char *const w[] = {"van", "von", "der", "den", "ten",   "ter", "de",  "da", "di",
                                    "du",  "del", "dos", "das", "della", "le",  "bin", "al", "af"};
    if (i >= T->nt || T->t[i].cap != 2 || T->t[i].kind != K_WORD || T->t[i].sp != 1)
        return 0;
    for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
        if (is_w(T, i, w[k]))
            return 1;
    return 0;
}

/* "my name is X", "name: X", "call me X", "calls me X", "named X" before token i. */
static int strong_cue(const struct mf_deid_tagger *T, size_t i)
{
    size_t p = prev_word(T, i);
    if (p == 0)
        return 0;
    size_t w = p - 1;
    if (is_w(T, w, "named") || is_w(T, w, "surname"))
        return 1;
    if (is_w(T, w, "name") && i > 0 && is_p(T, i - 1, ':'))
        return 1;
    size_t q = prev_word(T, w);
    if (q == 0)
        return 0;
    return (is_w(T, w, "is") && is_w(T, q - 1, "name")) ||
           (is_w(T, w, "me") && (is_w(T, q - 1, "call") || is_w(T, q - 1, "calls")));
}

/* The word of the list item before token i ("x, i", "x and i", "x, and i") on the same line:
 * index + 1, or 0. */
static size_t prev_item(const struct mf_deid_tagger *T, size_t i)
{
    if (i < 2 || T->t[i].sp == 2)
        return 0;
    size_t k = i - 1;
    int sep = 0;
    if (is_w(T, k, "and") || is_w(T, k, "or")) {
        sep = 1;
        if (T->t[k].sp == 2 || k == 0)
            return 0;
        k--;
    }
    if (is_p(T, k, ',')) {
        sep = 1;
        if (T->t[k].sp == 2 || k == 0)
            return 0;
        k--;
    }
    if (!sep || T->t[k].kind != K_WORD)
        return 0;
    return k + 1;
}

/* The word of the list item after token i: index + 1, or 0. */
static size_t next_item(const struct mf_deid_tagger *T, size_t i)
{
    size_t k = i + 1;
    int sep = 0;
    if (is_p(T, k, ',') && T->t[k].sp != 2) {
        sep = 1;
        k++;
    }
    if ((is_w(T, k, "and") || is_w(T, k, "or")) && T->t[k].sp != 2) {
        sep = 1;
        k++;
    }
    if (!sep || k >= T->nt || T->t[k].kind != K_WORD || T->t[k].sp == 2)
        return 0;
    return k + 1;
}

static int item_name(const struct mf_deid_tagger *T, size_t j1)
{
    if (j1 == 0)
        return 0;
    const struct tok *k = &T->t[j1 - 1];
    return k->nm || k->cls == C_LNAME || k->cls == C_NAME || k->cls == C_CTX;
}

/* How many of the two list items before and the two after token i are names. */
static int list_names(const struct mf_deid_tagger *T, size_t i)
{
    int n = 0;
    size_t p = prev_item(T, i), q = next_item(T, i);
    n += item_name(T, p) + item_name(T, q);
    if (p && item_name(T, p))
        n += item_name(T, prev_item(T, p - 1));
    if (q && item_name(T, q))
        n += item_name(T, next_item(T, q - 1));
    return n;
}

/* "roberto's daughter": a possessive before a relative. */
static int poss_rel(const struct mf_deid_tagger *T, size_t i)
{
    return is_p(T, i + 1, '\'') && T->t[i + 1].sp == 0 && is_w(T, i + 2, "s") &&
           T->t[i + 2].sp == 0 && i + 3 < T->nt && (T->t[i + 3].lf & MF_TG_L_REL);
}

/* A speaker label: "Tracy: ...", at the start of a sentence or line. */
static int speaker(const struct mf_deid_tagger *T, size_t i)
{
    return sentence_start(T, i) && is_p(T, i + 1, ':') && T->t[i + 1].sp == 0 && i + 2 < T->nt &&
           T->t[i + 2].sp != 2;
}

/* "lives in X", "returned to X", "born in X": token i follows a residence or travel verb and
 * "in", "to" or "from". */
static int place_verb(const struct mf_deid_tagger *T, size_t i)
{
    static const char *const verbs[] = {
        "live",      "lives",   "lived",     "living",    "moved",      "moving",    "returned",
        "returning", "went",    "travelled", "traveled",  "travelling", "traveling", "flew",
        "born",      "raised",  "relocated", "stays",     "stayed",     "staying",   "back",
        "trip",      "drove",   "arrived",   "emigrated", "immigrated", "up",        "came",
        "comes",     "resides", "resided",   "residing"};
    size_t p = prev_word(T, i);
    if (!p || !(is_w(T, p - 1, "in") || is_w(T, p - 1, "to") || is_w(T, p - 1, "from")))
        return 0;
    size_t v = prev_word(T, p - 1);
    if (!v)
        return 0;
    for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
        if (is_w(T, v - 1, verbs[k]))
            return 1;
    return 0;
}

/* A lower-case word no dictionary knows, long enough not to be an abbreviation. */
static int lower_unknown(const struct mf_deid_tagger *T, size_t i)
{
    return i < T->nt && T->t[i].kind == K_WORD && T->t[i].cap == 2 && T->t[i].lf == 0 &&
           TLEN(i) >= 4 && !medical_shape(TS(i), TLEN(i));
}

/* Tokens i and i + 1 are a lower-case given and family name that the C_LNAME rules miss. */
static int lower_pair(const struct mf_deid_tagger *T, size_t i)
{
    const struct tok *a = &T->t[i], *b = &T->t[i + 1];
    const uint64_t no = MF_TG_L_ALLOW | CUE_BITS | MF_TG_L_MONTH;
    if (b->kind != K_WORD || b->cap != 2 || b->used || TLEN(i) < 3 || TLEN(i + 1) < 4 ||
        (a->lf & no) || (b->lf & (no | MF_TG_L_WORD)) || medical_shape(TS(i + 1), TLEN(i + 1)))
        return 0;
    /* the second word: a family name or a proper noun that is no English word, or unknown */
    int b_name = (b->lf & (MF_TG_L_FAM | MF_TG_L_PROPER)) != 0;
    if ((a->lf & MF_TG_L_GIVEN) && b_name)
        return 1; /* "frank freud": a given name even if also a word */
    /* (two unknown words alone are not enough: "pt zyxwa qwertz seen") */
    if (lower_unknown(T, i) && TLEN(i) >= 5 && !medical_shape(TS(i), TLEN(i)) &&
        (b->lf & MF_TG_L_FAM))
        return 1;
    return 0;
}

static uint32_t fold_hash(const struct mf_deid_tagger *T, size_t i)
{
    char buf[MF_TG_MAXWORD];
    size_t n = mf_tg_fold(TS(i), TLEN(i), buf, sizeof buf);
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < n; k++)
        h = (h ^ (unsigned char)buf[k]) * 16777619u;
    return h ^ (uint32_t)n;
}

/* A word of a multi-word name found in the segment names its other capitalised occurrences:
 * "Brad L Key ... starring Key". Eponyms and cue words are left out. */
static void corefer_names(struct mf_deid_tagger *T)
{
    enum { MAXN = 64 };
    uint32_t h[MAXN];
    int n = 0;
    const uint64_t no = MF_TG_L_ALLOW | MF_TG_L_MONTH | (CUE_BITS & ~MF_TG_L_STSUF);
    for (size_t i = 0; i < T->nt && n < MAXN; i++) {
        const struct tok *k = &T->t[i];
        if (!k->nm || k->kind != K_WORD || k->cap != 1 || TLEN(i) < 3 || (k->lf & no))
            continue;
        int multi =
            (i > 0 && T->t[i - 1].nm && T->t[i].sp == 1 && T->t[i - 1].kind == K_WORD) ||
            (i + 1 < T->nt && T->t[i + 1].nm && T->t[i + 1].sp == 1 && T->t[i + 1].kind == K_WORD);
        if (multi)
            h[n++] = fold_hash(T, i);
    }
    if (n == 0)
        return;
    for (size_t i = 0; i < T->nt; i++) {
        const struct tok *k = &T->t[i];
        if (k->used || k->kind != K_WORD || k->cap != 1 || TLEN(i) < 3 || (k->lf & no))
            continue;
        uint32_t x = fold_hash(T, i);
        for (int q = 0; q < n; q++)
            if (h[q] == x) {
                add_toks(T, i, i, MF_DEID_NAME, 0.5f);
                break;
            }
    }
}

static void find_names(struct mf_deid_tagger *T)
{
    for (size_t i = 0; i < T->nt; i++) {
        if (T->t[i].used)
            continue;
        T->t[i].cls = (uint8_t)classify(T, i);
    }
    /* "Willemine ten Pas", "Dr. Clementine": a capitalised word no dictionary knows that
     * only looks like a drug (-ine, -ate) is a name before a family name or a particle, or
     * after a title */
    for (size_t i = 0; i < T->nt; i++) {
        struct tok *k = &T->t[i];
        if (k->used || k->cls != C_NONE || k->kind != K_WORD || k->cap != 1 || TLEN(i) < 5 ||
            (k->lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | MF_TG_L_NAME | MF_TG_L_PROPER | MF_TG_L_PLACE |
                      MF_TG_L_MONTH | CUE_BITS)) ||
            is_upper_ascii(TS(i), TLEN(i)))
            continue;
        size_t p = prev_word(T, i);
        int before = i + 1 < T->nt && T->t[i + 1].sp == 1 &&
                     ((T->t[i + 1].cls == C_NAME && (T->t[i + 1].lf & MF_TG_L_FAM)) ||
                      (name_particle(T, i + 1) && capword(T, i + 2) && T->t[i + 2].sp == 1));
        int after = p && (T->t[p - 1].lf & MF_TG_L_TITLE) && capword(T, p - 1);
        if (before || after)
            k->cls = C_UNK;
    }
    T->speakers = 0;
    for (size_t i = 0; i < T->nt; i++)
        if ((T->t[i].cls == C_NAME || T->t[i].cls == C_LNAME) && (T->t[i].lf & MF_TG_L_GIVEN) &&
            speaker(T, i))
            T->speakers++;
    for (size_t i = 0; i < T->nt; i++) {
        struct tok *k = &T->t[i];
        if (k->used || k->kind == K_PUNCT)
            continue;
        /* the record's own phrases and words */
        if (T->ctx && T->ctx->first.n) {
            int cat = 0;
            size_t e = ctx_phrase(T, i, &cat);
            if (e) {
                add_toks(T, i, e, (enum mf_deid_cat)(cat - 1), 0.98f);
                i = e;
                continue;
            }
        }
        if (k->ctx && k->ctx != MF_DEID_NAME + 1) {
            add_toks(T, i, i, (enum mf_deid_cat)(k->ctx - 1), 0.95f);
            continue;
        }
        /* multi-word places; in lower case ("barra de carrasco") when a word of it is no
         * English word */
        if ((k->lf & MF_TG_L_PHRASE) && (capword(T, i) || (k->kind == K_WORD && k->cap == 2))) {
            uint64_t f = 0;
            int lower = k->cap == 2;
            size_t e = lex_phrase(T, i, &f, lower);
            int plain = 0;
            for (size_t q = i; lower && e && q <= e; q++)
                if (T->t[q].kind == K_WORD && !is_connector(T, q) &&
                    !(T->t[q].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS)))
                    plain = 1;
            if (e && (f & MF_TG_L_PLACE) && (!lower || plain)) {
                add_toks(T, i, e, MF_DEID_CITY, 0.75f);
                i = zip_after_place(T, e);
                continue;
            }
        }
        int cls = k->cls;
        /* after "my name is", "name:", "call me": the next words, any case, unless common */
        if (k->kind == K_WORD && k->cap != 1 &&
            !(k->lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS)) && strong_cue(T, i)) {
            size_t e = i;
            while (
                e + 1 < T->nt && T->t[e + 1].sp == 1 && T->t[e + 1].kind == K_WORD &&
                !T->t[e + 1].used && e - i < 4 &&
                (TLEN(e + 1) == 1 || !(T->t[e + 1].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS))))
                e += 1 + (size_t)(TLEN(e + 1) == 1 && is_p(T, e + 2, '.') && T->t[e + 2].sp == 0);
            while (e > i && T->t[e].kind == K_PUNCT)
                e--;
            add_toks(T, i, e, MF_DEID_NAME, 0.6f);
            i = e;
            continue;
        }
        /* "lives in kiel", "returned to harburg": a lower-case unknown word after a residence
         * or travel verb */
        if (k->kind == K_WORD && k->cap == 2 && TLEN(i) >= 4 &&
            !(k->lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS)) &&
            !medical_shape(TS(i), TLEN(i)) && place_verb(T, i)) {
            add_toks(T, i, i, MF_DEID_CITY, 0.5f);
            continue;
        }
        /* "leidy t muris": two unknown lower-case words around an initial */
        if (lower_unknown(T, i) && i + 2 < T->nt && T->t[i + 1].sp == 1 &&
            T->t[i + 1].kind == K_WORD && TLEN(i + 1) == 1 && T->t[i + 1].cap == 2 &&
            !is_w(T, i + 1, "a") && !is_w(T, i + 1, "i") && T->t[i + 2].sp == 1 &&
            (lower_unknown(T, i + 2) || T->t[i + 2].cls == C_LNAME)) {
            add_toks(T, i, i + 2, MF_DEID_NAME, 0.45f);
            i += 2;
            continue;
        }
        /* lower-case full names whose parts are English words or in no list: "frank
         * freud" (a given name, then a proper noun or family name that is no English word),
         * "nijito tanaka" (a long word no dictionary knows and a family name) */
        if (k->kind == K_WORD && k->cap == 2 && !k->fx && i + 1 < T->nt && T->t[i + 1].sp == 1 &&
            lower_pair(T, i)) {
            add_toks(T, i, i + 1, MF_DEID_NAME, 0.45f);
            i++;
            continue;
        }
        /* lower-case list items among names: "kristina, chad and caleb", "leonti, terrence,
         * pamela" */
        if (k->kind == K_WORD && k->cap == 2 && cls != C_LNAME && TLEN(i) >= 3 &&
            !(k->lf & (MF_TG_L_ALLOW | CUE_BITS | MF_TG_L_MONTH)) &&
            ((k->lf & MF_TG_L_GIVEN) || lower_unknown(T, i)) && list_names(T, i) >= 2) {
            add_toks(T, i, i, MF_DEID_NAME, 0.45f);
            continue;
        }
        if (cls == C_PLACE || cls == C_UNKCAPS) {
            size_t p = prev_word(T, i);
            uint64_t pf = p ? T->t[p - 1].lf : 0;
            if ((k->cap == 1 || k->fx) && cls == C_PLACE) {
                add_toks(T, i, i, MF_DEID_CITY, 0.7f);
                i = zip_after_place(T, i);
            } else if (pf & MF_TG_L_PCUE) {
                add_toks(T, i, i, MF_DEID_CITY, 0.5f);
                i = zip_after_place(T, i);
            } else if (cls == C_UNKCAPS && (pf & (MF_TG_L_TITLE | MF_TG_L_NCUE | MF_TG_L_REL)))
                add_toks(T, i, i, MF_DEID_NAME, 0.5f);
            continue;
        }
        if (cls == C_LNAME) {
            /* lower-case names: a given name followed by a family name, a name after a cue,
             * or names in a list */
            if (i + 1 < T->nt && T->t[i + 1].sp == 1 && !T->t[i + 1].used &&
                (T->t[i + 1].cls == C_LNAME ||
                 ((k->lf & MF_TG_L_GIVEN) && T->t[i + 1].kind == K_WORD && T->t[i + 1].cap == 2 &&
                  TLEN(i + 1) > 2 &&
                  !(T->t[i + 1].lf & (MF_TG_L_WORD | MF_TG_L_ALLOW | CUE_BITS))))) {
                /* "patricia desrosiers": a given name and a word no dictionary knows */
                add_toks(T, i, i + 1, MF_DEID_NAME, 0.5f);
                i++;
                continue;
            }
            /* "emidio p lombardo": a given name, an initial and a family or unknown word */
            if ((k->lf & MF_TG_L_GIVEN) && i + 2 < T->nt && T->t[i + 1].sp == 1 &&
                T->t[i + 1].kind == K_WORD && TLEN(i + 1) == 1 && T->t[i + 1].cap == 2 &&
                !is_w(T, i + 1, "a") && !is_w(T, i + 1, "i") && T->t[i + 2].sp == 1 &&
                (lower_unknown(T, i + 2) || T->t[i + 2].cls == C_LNAME)) {
                add_toks(T, i, i + 2, MF_DEID_NAME, 0.5f);
                i += 2;
                continue;
            }
            size_t p = prev_word(T, i);
            uint64_t pf = p ? T->t[p - 1].lf : 0;
            int cue = (pf & (MF_TG_L_TITLE | MF_TG_L_NCUE | MF_TG_L_REL)) ||
                      (p && is_w(T, p - 1, "is") && p >= 2 && is_w(T, p - 2, "name")) ||
                      (p && is_w(T, p - 1, "me") && p >= 2 && is_w(T, p - 2, "call")) ||
                      poss_rel(T, i) || speaker(T, i);
            /* a given name of five letters or more that is no English word or medical term */
            /* (not a month: "april", "june") */
            int month = (k->lf & (MF_TG_L_MONTH | MF_TG_L_WEEKDAY)) != 0;
            if ((k->lf & MF_TG_L_GIVEN) && TLEN(i) >= 5 && !month)
                cue = 1;
            /* four letters when the English dictionary also knows it as a proper noun ("nina"),
             * so not an abbreviation */
            if ((k->lf & MF_TG_L_GIVEN) && (k->lf & MF_TG_L_PROPER) && TLEN(i) == 4 && !month)
                cue = 1;
            size_t q = i + 1;
            if (is_p(T, q, ',') || is_w(T, q, "and"))
                q++;
            size_t pp = p && is_w(T, p - 1, "and") ? prev_word(T, p - 1) : 0;
            int list = (q < T->nt && q != i + 1 && T->t[q].cls == C_LNAME) ||
                       (p && T->t[p - 1].cls == C_LNAME) || (pp && T->t[pp - 1].cls == C_LNAME) ||
                       list_names(T, i) >= 1;
            if (cue || (list && !month))
                add_toks(T, i, i, MF_DEID_NAME, 0.5f);
            continue;
        }
        if (!namey(cls))
            continue;
        /* the run of name-like tokens */
        size_t a = i, b = i;
        int n_name = 0, n_amb = 0, n_unk = 0, words = 0;
        uint64_t allflags = 0;
        for (;;) {
            int c = T->t[b].cls;
            n_name += c == C_NAME || c == C_CTX;
            n_amb += c == C_AMBIG;
            n_unk += c == C_UNK;
            words++;
            allflags |= T->t[b].lf;
            size_t nx = b + 1;
            if (c == C_INIT && is_p(T, nx, '.') && T->t[nx].sp == 0)
                nx++;
            if (nx < T->nt && is_p(T, nx, '-') && T->t[nx].sp == 0 && nx + 1 < T->nt &&
                T->t[nx + 1].sp == 0 && namey(T->t[nx + 1].cls) && !T->t[nx + 1].used) {
                b = nx + 1;
                continue;
            }
            if (nx < T->nt && T->t[nx].sp == 1 && namey(T->t[nx].cls) && !T->t[nx].used &&
                words < 6) {
                b = nx;
                continue;
            }
            /* "Ana de Souza", "Willemine ten Pas": a particle and a capitalised word */
            if (c != C_INIT && name_particle(T, nx) && nx + 1 < T->nt && capword(T, nx + 1) &&
                T->t[nx + 1].sp == 1 && !T->t[nx + 1].used && T->t[nx + 1].kind == K_WORD &&
                !(T->t[nx + 1].lf & (MF_TG_L_ALLOW | CUE_BITS | MF_TG_L_MONTH)) && words < 6) {
                b = nx + 1;
                continue;
            }
            if (c == C_INIT && nx != b + 1)
                b = nx; /* keep the initial's period */
            break;
        }
        /* what comes before */
        size_t p = prev_word(T, a);
        uint64_t pf = p ? T->t[p - 1].lf : 0;
        int title = p && (pf & MF_TG_L_TITLE) && capword(T, p - 1);
        if (!title && a >= 2 && is_p(T, a - 1, '.') && (T->t[a - 2].lf & MF_TG_L_TITLE) &&
            T->t[a].sp == 1)
            title = 1;
        int ncue = (pf & (MF_TG_L_NCUE | MF_TG_L_REL)) != 0;
        if (p && is_w(T, p - 1, "is") && p >= 2 && is_w(T, p - 2, "name"))
            ncue = 1;
        if (p && (is_w(T, p - 1, "name") || is_w(T, p - 1, "surname")))
            ncue = 1;
        int wcue = (pf & MF_TG_L_WCUE) != 0;
        int pcue = (pf & MF_TG_L_PCUE) != 0 && !(pf & MF_TG_L_WCUE && pf & MF_TG_L_REL);
        int start = sentence_start(T, a) && !title && !ncue;
        int content = n_name + n_amb + n_unk;
        /* a possessive or a disease after an eponym: "Parkinson disease", "Crohn's" */
        size_t after = b + 1;
        int disease = 0;
        if (after < T->nt) {
            if (is_p(T, after, '\'') && is_w(T, after + 1, "s") && content == 1 && n_name == 0 &&
                (allflags & MF_TG_L_ALLOW))
                disease = 1;
            static const char *const dz[] = {"disease",  "syndrome", "sign",           "test",
                                             "score",    "palsy",    "phenomenon",     "criteria",
                                             "maneuver", "reflex",   "classification", "scale",
                                             "catheter"};
            for (size_t q = 0; q < sizeof dz / sizeof dz[0]; q++)
                if (is_w(T, after, dz[q]) || (is_p(T, after, '\'') && is_w(T, after + 2, dz[q])))
                    disease = 1;
        }
        float conf = 0;
        enum mf_deid_cat cat = MF_DEID_NAME;
        /* "Allan Björk Scale": a given name and a family name, neither an eponym, are a name
         * even before "scale" or "score" */
        if (disease && n_name >= 2 && (T->t[a].lf & MF_TG_L_GIVEN) && (T->t[b].lf & MF_TG_L_FAM) &&
            !(allflags & MF_TG_L_ALLOW))
            disease = 0;
        if (content == 0 || (!title && disease && !ncue)) {
            conf = 0; /* initials alone; an eponym */
        } else if (title) {
            conf = 0.9f;
        } else if (n_name > 0) {
            conf = words == 1 && start ? 0.6f : 0.85f;
        } else if (ncue) {
            conf = 0.7f;
        } else if (pcue && (allflags & MF_TG_L_PROPER)) {
            conf = 0.5f; /* "from Kenosha": a proper noun after a place cue */
            cat = MF_DEID_CITY;
        } else if (p && (is_w(T, p - 1, "and") || is_w(T, p - 1, "or") || is_p(T, a - 1, '&')) &&
                   prev_word(T, p - 1) && T->t[prev_word(T, p - 1) - 1].nm) {
            conf = 0.6f; /* "Usamov and Bowers" */
        } else if ((words == 1 && n_amb == 1 && T->speakers && (T->t[a].lf & MF_TG_L_GIVEN) &&
                    !(T->t[a].lf & (MF_TG_L_ALLOW | MF_TG_L_MONTH | CUE_BITS)) &&
                    speaker(T, a)) /* "Ella: ... Destiny: ...": a speaker label among others */
                   ||
                   (words == 1 && n_amb == 1 && !start && (T->t[a].lf & MF_TG_L_GIVEN) &&
                    !(T->t[a].lf & (MF_TG_L_ALLOW | MF_TG_L_MONTH | CUE_BITS)) &&
                    !is_upper_ascii(TS(a), TLEN(a)) && p && T->t[p - 1].cap == 2 &&
                    !is_w(T, p - 1, "the") && !is_w(T, p - 1, "a") && !is_w(T, p - 1, "an") &&
                    !is_w(T, p - 1, "this") && !is_w(T, p - 1, "that") && !is_w(T, p - 1, "its") &&
                    !(b + 1 < T->nt &&
                      (is_w(T, b + 1, "i") || is_w(T, b + 1, "you") || is_w(T, b + 1, "we"))))) {
            conf = 0.45f; /* or a given name capitalised mid-sentence: "Remember me, Maria?" */
        } else if ((words == 1 && (T->t[a].lf & MF_TG_L_FAM) && is_p(T, b + 1, ',') &&
                    b + 2 < T->nt && T->t[b + 2].sp == 1 && (T->t[b + 2].lf & MF_TG_L_GIVEN) &&
                    T->t[b + 2].cap == 1 && namey(T->t[b + 2].cls) &&
                    !(T->t[a].lf & (MF_TG_L_ALLOW | CUE_BITS))) ||
                   (n_amb && words >= 2 && (T->t[a].lf & MF_TG_L_GIVEN) &&
                    (T->t[b].lf & MF_TG_L_FAM))) {
            conf = 0.55f; /* "Young, Maria" (family, comma, given); "Bill Brown" */
        } else if (n_unk >= 1 && content >= 2) {
            conf = 0.5f;
            if (pcue && n_amb == 0)
                cat = MF_DEID_CITY;
        } else if (n_unk == 1) {
            if (pcue) {
                conf = 0.5f;
                cat = MF_DEID_CITY;
            } else {
                conf = wcue ? 0.5f : 0.4f;
            }
        }
        if (conf > 0) {
            /* an initial at the start of a sentence is an article or pronoun, not a name */
            size_t aa = a;
            if (T->t[aa].cls == C_INIT && !is_p(T, aa + 1, '.') && aa < b)
                aa++;
            size_t bb = b;
            while (bb > aa && T->t[bb].kind == K_PUNCT &&
                   !(is_p(T, bb, '.') && T->t[bb - 1].cls == C_INIT))
                bb--;
            /* "Smith, John": a family name, a comma and a given name */
            if (bb + 2 < T->nt && is_p(T, bb + 1, ',') && T->t[bb + 2].sp == 1 && content <= 2 &&
                !T->t[bb + 2].used &&
                ((T->t[bb + 2].lf & MF_TG_L_GIVEN) || T->t[bb + 2].cls == C_CTX) &&
                namey(T->t[bb + 2].cls)) {
                bb += 2;
                if (bb + 1 < T->nt && T->t[bb + 1].sp == 1 && namey(T->t[bb + 1].cls))
                    bb++;
            }
            add_toks(T, aa, bb, cat, conf);
            if ((cat == MF_DEID_CITY || pcue) && bb == b)
                b = zip_after_place(T, b);
        }
        i = b;
    }
    corefer_names(T);
}

/* --- the tagger --------------------------------------------------------------------------------
 */

/* A word of at least two letters of a script other than Latin (Greek, Cyrillic, Hebrew,
 * Arabic, Indic, Thai, Georgian, Hangul, kana, CJK), with no Latin letter: "πεντέλης",
 * "東京". Mojibake such as "ג€" (one letter and symbols) is not one. */
static int foreign_word(const char *s, size_t n)
{
    size_t letters = 0, other = 0;
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        unsigned cp;
        size_t l;
        if (b < 0x80)
            return 0;
        if ((b & 0xE0) == 0xC0)
            cp = b & 0x1Fu, l = 2;
        else if ((b & 0xF0) == 0xE0)
            cp = b & 0x0Fu, l = 3;
        else if ((b & 0xF8) == 0xF0)
            cp = b & 0x07u, l = 4;
        else
            return 0;
        if (i + l > n)
            return 0;
        for (size_t k = 1; k < l; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if ((c & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (c & 0x3Fu);
        }
        if (cp < 0x370)
            return 0; /* Latin-1, Latin Extended, IPA */
        if (cp < 0x2000 || (cp >= 0x3040 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF))
            letters++;
        else
            other++;
        i += l;
    }
    return letters >= 2 && letters > other;
}

static void lookup_tokens(struct mf_deid_tagger *T)
{
    const struct mf_deid_context *c = T->ctx;
    int ctxwords = c && c->words.n;
    char buf[MF_TG_MAXWORD];
    T->nlatin = T->nforeign = 0;
    for (size_t i = 0; i < T->nt; i++) {
        struct tok *k = &T->t[i];
        if (k->kind == K_PUNCT)
            continue;
        size_t n = k->e - k->s;
        if (n > MF_TG_MAXWORD)
            continue;
        size_t f = mf_tg_fold(T->x + k->s, n, buf, sizeof buf);
        if (f == 0)
            continue;
        if (k->kind != K_NUM) {
            const struct mf_strmap_slot *sl = mf_strmap_get(&T->lex->words, buf, f);
            k->lf = sl ? sl->value : 0;
            k->cap = (uint8_t)mf_tg_case(T->x + k->s, n);
            unsigned char b0 = (unsigned char)T->x[k->s];
            k->fx = 0;
            if (b0 >= 0xCD && k->kind == K_WORD)
                k->fx = (uint8_t)foreign_word(T->x + k->s, n);
            else if (k->kind == K_WORD && ((b0 | 0x20) >= 'a' && (b0 | 0x20) <= 'z'))
                T->nlatin++;
            T->nforeign += k->fx;
        }
        if (ctxwords && k->kind == K_WORD) {
            const struct mf_strmap_slot *sl = mf_strmap_get(&c->words, buf, f);
            if (sl && !(k->cap == 2 && (k->lf & (MF_TG_L_WORD | CUE_BITS))))
                k->ctx = (int8_t)sl->value;
        }
    }
}

static void tag_segment(struct mf_deid_tagger *T, size_t seg_end)
{
    lookup_tokens(T);
    find_emails(T);
    find_urls(T, seg_end);
    /* IPv6: hex groups and colons */
    for (size_t i = 0; i < T->nt; i++) {
        if (T->t[i].used || T->t[i].kind == K_PUNCT ||
            (i > 0 && T->t[i].sp == 0 && is_p(T, i - 1, ':')))
            continue;
        size_t j = i, colons = 0, dbl = 0, groups = 1, last = i;
        int hexletter = 0, bad = 0;
        while (j + 1 < T->nt && is_p(T, j + 1, ':') && T->t[j + 1].sp == 0) {
            if (j + 2 < T->nt && is_p(T, j + 2, ':') && T->t[j + 2].sp == 0) {
                dbl++;
                colons++;
                j++;
            }
            colons++;
            if (j + 2 < T->nt && T->t[j + 2].sp == 0 && T->t[j + 2].kind != K_PUNCT) {
                j += 2;
                groups++;
                last = j;
            } else {
                break;
            }
        }
        for (size_t q = i; q <= last && !bad; q++) {
            if (T->t[q].kind == K_PUNCT)
                continue;
            if (TLEN(q) > 4)
                bad = 1;
            for (size_t z = 0; z < TLEN(q); z++) {
                char ch = TS(q)[z];
                if ((ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))
                    hexletter = 1;
                else if (!(ch >= '0' && ch <= '9'))
                    bad = 1;
            }
        }
        if (!bad && ((colons >= 5 && groups >= 4) || (dbl == 1 && groups >= 2 && hexletter))) {
            add_toks(T, i, last, MF_DEID_IP, 0.9f);
            i = last;
        }
    }
    /* numbers, dates, addresses, hospitals */
    for (size_t i = 0; i < T->nt;) {
        size_t next = i + 1;
        struct tok *k = &T->t[i];
        if (k->used || k->kind == K_PUNCT) {
            i = next;
            continue;
        }
        if (k->kind == K_NUM) {
            if (!find_textdate(T, i, &next) && !find_address(T, i, &next))
                find_number(T, i, &next);
        } else if (k->kind == K_MIX) {
            if (!find_textdate(T, i, &next))
                find_mixed(T, i, &next);
        } else {
            int done = (k->lf & (MF_TG_L_MONTH | MF_TG_L_WEEKDAY)) && find_textdate(T, i, &next);
            if (!done && TLEN(i) == 2)
                city_before_state(T, i);
            if (!done)
                done = find_pobox(T, i, &next);
            /* "H-6842 kisbarát": a postal code with a letter prefix before a place */
            if (!done && TLEN(i) <= 2 && k->cap == 1 && is_p(T, i + 1, '-')) {
                size_t z = zip_before_place(T, i);
                if (z) {
                    next = z;
                    done = 1;
                }
            }
            if (!done && (k->lf & MF_TG_L_STSUF))
                done = find_named_street(T, i, &next);
            if (!done && (k->lf & MF_TG_L_UNIT))
                done = find_unit(T, i, &next);
            if (!done && capword(T, i) &&
                ((k->lf & MF_TG_L_STWORD) || street_affix(T, i) ||
                 (i + 1 < T->nt && T->t[i + 1].sp == 1 && T->t[i + 1].cap == 2 &&
                  T->t[i + 1].kind == K_WORD && (T->t[i + 1].lf & MF_TG_L_STWORD) &&
                  TLEN(i + 1) >= 3)))
                done = find_address(T, i, &next);
            if (!done && (k->lf & MF_TG_L_HOSP))
                find_hospital(T, i);
        }
        i = next > i ? next : i + 1;
    }
    find_names(T);
}

static int cmp_ent(const void *a, const void *b)
{
    const struct mf_deid_entity *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end > y->end ? -1 : 1;
    return 0;
}

int mf_deid_tag(struct mf_deid_tagger *t, const struct mf_deid_context *ctx, const char *text,
                size_t n, struct mf_deid_entities *out, struct mf_err *err)
{
    out->n = 0;
    if (t == NULL || t->lex == NULL || (text == NULL && n > 0))
        return mf_err_set(err, MF_EINVAL, "tagger: no lexicon or no text");
    if (n > MAX_TEXT)
        return mf_err_set(err, MF_ETOOBIG, "text of %zu bytes is over the 64 MiB limit", n);
    t->x = text;
    t->ctx = ctx;
    t->rc = 0;
    t->cand.n = 0;
    size_t a = 0;
    while (a < n) {
        size_t b = n;
        if (n - a > SEG_MAX) {
            size_t lo = a + SEG_MIN, hi = a + SEG_MAX;
            const char *nl = memchr(text + lo, '\n', hi - lo);
            if (nl) {
                b = (size_t)(nl - text) + 1;
            } else {
                b = hi;
                for (size_t q = hi; q > lo; q--)
                    if (text[q - 1] == ' ' || text[q - 1] == '\t') {
                        b = q;
                        break;
                    }
                if (b == hi)
                    while (b > lo && ((unsigned char)text[b] & 0xC0) == 0x80)
                        b--;
            }
        }
        if (tokenize(t, a, b) != 0)
            return mf_err_set(err, MF_ENOMEM, "tagger: out of memory");
        tag_segment(t, b);
        if (t->rc)
            return mf_err_set(err, t->rc, "tagger: out of memory");
        a = b;
    }
    /* sort and merge overlaps */
    struct mf_deid_entities *c = &t->cand;
    if (c->n > 1)
        qsort(c->v, c->n, sizeof *c->v, cmp_ent);
    for (size_t i = 0; i < c->n; i++) {
        struct mf_deid_entity e = c->v[i];
        if (out->n && e.start < out->v[out->n - 1].end) {
            struct mf_deid_entity *l = &out->v[out->n - 1];
            if (e.confidence > l->confidence ||
                (e.confidence == l->confidence && e.end - e.start > l->end - l->start)) {
                l->cat = e.cat;
                l->confidence = e.confidence;
            }
            if (e.end > l->end)
                l->end = e.end;
            continue;
        }
        if (ents_push(out, e.start, e.end, e.cat, e.confidence))
            return mf_err_set(err, MF_ENOMEM, "tagger: out of memory");
    }
    return 0;
}
