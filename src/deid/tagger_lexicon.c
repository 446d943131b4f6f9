/* tagger_lexicon.c - the text de-identifier's dictionaries (see tagger.h, docs/deid-text.md).
 *
 * File format: every file in the lexicon folder is UTF-8 text, one entry per line; blank lines
 * and lines starting with '#' are ignored; surrounding spaces are trimmed; an entry of several
 * words (a city "San Jose") is matched as a phrase, word by word.  Entries are compared without
 * case (ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic letters are folded).  Generated
 * at build time by scripts/deid-lexicon.py (*.txt) or hand-written in data/deid/lexicon
 * (*.list):
 *   given-female.txt given-male.txt given-any.txt family.txt   names (Faker, all locales)
 *   city.txt country.txt subdivision.txt                       places (Faker, iso-codes)
 *   street.txt street-suffix.txt street-word.txt               streets (Faker; surrogates)
 *   street-affix.txt city-affix.txt                            endings of compound street
 *                                                              and town names (Faker)
 *   phone-shape.txt postcode-shape.txt                         shapes of phone numbers and
 *                                                              postal codes of every locale
 *                                                              (Faker): digit '9', upper-case
 *                                                              letter 'A', one ' ' per space
 *                                                              run, "+()-./" kept; stored as
 *                                                              they are in a table of their own
 *   words.txt proper.txt                                       common English words and
 *                                                              capitalised ones (wamerican)
 *   medical.list                                               drugs, diseases, anatomy,
 *                                                              eponyms: never a name by itself
 * All words go into one hash table from folded word to a bit set of what it is (name, place,
 * common word, cue...), so the tagger looks a token up once.
 */
#include "deid/tagger_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/fs.h"

/* --- case folding ------------------------------------------------------------------------ */

static unsigned fold_cp(unsigned c)
{
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 0x20;
    if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138) {
        int odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
        if (odd_upper)
            return (c & 1) ? c + 1 : c;
        return (c & 1) ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
        return c + 0x20;
    if (c >= 0x410 && c <= 0x42F)
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    return c;
}

size_t mf_tg_fold(const char *s, size_t n, char *out, size_t cap)
{
    if (n > cap)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) {
            out[k++] = (char)((b >= 'A' && b <= 'Z') ? b | 0x20 : b);
        } else if ((b & 0xE0) == 0xC0 && i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
            unsigned c = ((b & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu);
            unsigned f = fold_cp(c);
            if (f >= 0x80 && f < 0x800) {
                out[k++] = (char)(0xC0 | (f >> 6));
                out[k++] = (char)(0x80 | (f & 0x3F));
            } else {
                out[k++] = s[i];
                out[k++] = s[i + 1];
            }
            i++;
        } else {
            out[k++] = (char)b;
        }
    }
    return k;
}

/* 1 when the first letter of s is an upper-case letter, 2 when lower, 0 caseless. */
int mf_tg_case(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char b = (unsigned char)s[0];
    if (b >= 'A' && b <= 'Z')
        return 1;
    if (b >= 'a' && b <= 'z')
        return 2;
    if ((b & 0xE0) == 0xC0 && n > 1) {
        unsigned c = ((b & 0x1Fu) << 6) | ((unsigned char)s[1] & 0x3Fu);
        unsigned f = fold_cp(c);
        if (f != c)
            return 1;
        if ((c >= 0xDF && c <= 0xFF) || (c >= 0x100 && c <= 0x17F) || (c >= 0x3B1 && c <= 0x3C9) ||
            (c >= 0x430 && c <= 0x45F))
            return 2;
    }
    return 0;
}

/* --- the word table ---------------------------------------------------------------------- */

static int add_word(struct mf_deid_lexicon *lex, const char *s, size_t n, uint64_t flags)
{
    char tmp[MF_TG_MAXWORD];
    size_t k = mf_tg_fold(s, n, tmp, sizeof tmp);
    if (k == 0)
        return 0;
    int added;
    struct mf_strmap_slot *sl = mf_strmap_upsert(&lex->words, tmp, k, &added);
    if (sl == NULL)
        return MF_ENOMEM;
    sl->value |= flags;
    return 0;
}

/* A phrase: its words folded, joined by one space, into the phrase table; its first word
 * flagged so the tagger tries phrases only there. */
static int add_phrase(struct mf_deid_lexicon *lex, const char *s, size_t n, uint64_t flags)
{
    char tmp[256];
    size_t k = 0, words = 0;
    size_t i = 0;
    size_t first_s = 0, first_n = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '-'))
            i++;
        size_t st = i;
        while (i < n && s[i] != ' ' && s[i] != '-')
            i++;
        if (i == st)
            break;
        if (words == 0) {
            first_s = st;
            first_n = i - st;
        }
        if (k + (i - st) + 1 > sizeof tmp)
            return 0;
        if (words)
            tmp[k++] = ' ';
        size_t f = mf_tg_fold(s + st, i - st, tmp + k, sizeof tmp - k);
        k += f;
        words++;
    }
    if (words < 2)
        return words == 1 ? add_word(lex, s + first_s, first_n, flags) : 0;
    int added;
    struct mf_strmap_slot *sl = mf_strmap_upsert(&lex->phrases, tmp, k, &added);
    if (sl == NULL)
        return MF_ENOMEM;
    sl->value |= flags;
    if (words > lex->max_phrase)
        lex->max_phrase = words > MF_TG_MAXPHRASE ? MF_TG_MAXPHRASE : words;
    return add_word(lex, s + first_s, first_n, MF_TG_L_PHRASE);
}

static int is_plain_ascii_name(const char *s, size_t n)
{
    if (n < 2 || n > 40 || s[0] < 'A' || s[0] > 'Z')
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ' ' || c == '-' ||
              c == '\''))
            return 0;
    }
    return 1;
}

static int pick_add(struct mf_deid_lexicon *lex, int list, const char *s, size_t n)
{
    struct mf_tg_pick *p = &lex->pick[list];
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        struct mf_tg_ref *v = realloc(p->v, cap * sizeof *v);
        if (v == NULL)
            return MF_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n].off = lex->text.len;
    p->v[p->n].len = (uint32_t)n;
    p->n++;
    int rc = mf_buf_append(&lex->text, s, n);
    return rc ? rc : mf_buf_putc(&lex->text, '\0');
}

struct lexfile {
    const char *name;
    uint64_t flags;
    int pick; /* list for surrogates, or -1 */
    int required;
    int affix;      /* entries are word endings: stored as "-ending" (no token holds a '-') */
    uint64_t shape; /* entries are shapes (MF_TG_S_*): stored unfolded in lex->shapes */
};

static const struct lexfile FILES[] = {
    {"given-female.txt", MF_TG_L_GF, MF_DEID_LIST_GIVEN_FEMALE, 1, 0, 0},
    {"given-male.txt", MF_TG_L_GM, MF_DEID_LIST_GIVEN_MALE, 1, 0, 0},
    {"given-any.txt", MF_TG_L_GA, -1, 1, 0, 0},
    {"family.txt", MF_TG_L_FAM, MF_DEID_LIST_FAMILY, 1, 0, 0},
    {"city.txt", MF_TG_L_CITY, MF_DEID_LIST_CITY, 1, 0, 0},
    {"country.txt", MF_TG_L_COUNTRY, -1, 1, 0, 0},
    {"subdivision.txt", MF_TG_L_SUBDIV, -1, 1, 0, 0},
    {"street.txt", 0, MF_DEID_LIST_STREET, 1, 0, 0},
    {"street-suffix.txt", MF_TG_L_STSUF, MF_DEID_LIST_STREET_SUFFIX, 1, 0, 0},
    {"street-word.txt", MF_TG_L_STWORD, -1, 1, 0, 0},
    {"street-affix.txt", MF_TG_L_STAFFIX, -1, 1, 1, 0},
    {"city-affix.txt", MF_TG_L_CITYAFFIX, -1, 1, 1, 0},
    {"phone-shape.txt", 0, -1, 1, 0, MF_TG_S_PHONE},
    {"postcode-shape.txt", 0, -1, 1, 0, MF_TG_S_POSTCODE},
    {"words.txt", MF_TG_L_WORD, -1, 1, 0, 0},
    {"proper.txt", MF_TG_L_PROPER, -1, 1, 0, 0},
    {"medical.list", MF_TG_L_ALLOW, -1, 1, 0, 0},
};

static int load_file(struct mf_deid_lexicon *lex, const char *dir, const struct lexfile *f,
                     struct mf_err *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, f->name) >= sizeof path)
        return mf_err_set(err, MF_EINVAL, "lexicon folder path too long");
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, (size_t)64 << 20, &b, err);
    if (rc) {
        mf_buf_release(&b);
        return mf_err_set(err, rc, "cannot read lexicon file '%s'", path);
    }
    const char *p = b.data ? b.data : "";
    size_t n = b.len, line = 0, i = 0;
    while (i < n && rc == 0) {
        size_t st = i;
        while (i < n && p[i] != '\n')
            i++;
        size_t e = i++;
        line++;
        while (st < e && (p[st] == ' ' || p[st] == '\t' || p[st] == '\r'))
            st++;
        while (e > st && (p[e - 1] == ' ' || p[e - 1] == '\t' || p[e - 1] == '\r'))
            e--;
        if (e == st || p[st] == '#')
            continue;
        if (memchr(p + st, '\0', e - st) != NULL) {
            rc = mf_err_set(err, MF_EPARSE, "lexicon file '%s' line %zu: NUL byte", path, line);
            break;
        }
        if (f->shape) {
            if (e - st > MF_TG_MAXSHAPE)
                continue; /* longer than any candidate the tagger builds */
            int added;
            struct mf_strmap_slot *sl = mf_strmap_upsert(&lex->shapes, p + st, e - st, &added);
            if (sl == NULL)
                rc = MF_ENOMEM;
            else
                sl->value |= f->shape;
        } else if (f->affix) {
            char tmp[MF_TG_MAXWORD];
            tmp[0] = '-';
            size_t k = mf_tg_fold(p + st, e - st, tmp + 1, sizeof tmp - 1);
            if (k) {
                int added;
                struct mf_strmap_slot *sl = mf_strmap_upsert(&lex->words, tmp, k + 1, &added);
                if (sl == NULL)
                    rc = MF_ENOMEM;
                else
                    sl->value |= f->flags;
            }
        } else if (f->flags) {
            rc = add_phrase(lex, p + st, e - st, f->flags);
        }
        if (rc == 0 && f->pick >= 0 && is_plain_ascii_name(p + st, e - st))
            rc = pick_add(lex, f->pick, p + st, e - st);
    }
    mf_buf_release(&b);
    if (rc == 0 && f->pick >= 0 && lex->pick[f->pick].n == 0)
        rc = mf_err_set(err, MF_EPARSE, "lexicon file '%s' has no usable entry", path);
    if (rc == MF_ENOMEM)
        mf_err_set(err, rc, "out of memory loading lexicon file '%s'", path);
    return rc;
}

/* Cue words the tagger needs, with their flags: part of the code, not of the data. */
struct cue {
    const char *w;
    uint64_t f;
};

#define MON(m) (MF_TG_L_MONTH | ((uint64_t)(m) << MF_TG_MONTH_SHIFT))
static const struct cue CUES[] = {
    {"january", MON(1)},
    {"jan", MON(1)},
    {"february", MON(2)},
    {"feb", MON(2)},
    {"march", MON(3)},
    {"mar", MON(3)},
    {"april", MON(4)},
    {"apr", MON(4)},
    {"may", MON(5)},
    {"june", MON(6)},
    {"jun", MON(6)},
    {"july", MON(7)},
    {"jul", MON(7)},
    {"august", MON(8)},
    {"aug", MON(8)},
    {"september", MON(9)},
    {"sep", MON(9)},
    {"sept", MON(9)},
    {"october", MON(10)},
    {"oct", MON(10)},
    {"november", MON(11)},
    {"nov", MON(11)},
    {"december", MON(12)},
    {"dec", MON(12)},
    {"monday", MF_TG_L_WEEKDAY},
    {"tuesday", MF_TG_L_WEEKDAY},
    {"wednesday", MF_TG_L_WEEKDAY},
    {"thursday", MF_TG_L_WEEKDAY},
    {"friday", MF_TG_L_WEEKDAY},
    {"saturday", MF_TG_L_WEEKDAY},
    {"sunday", MF_TG_L_WEEKDAY},
    {"mon", MF_TG_L_WEEKDAY},
    {"tue", MF_TG_L_WEEKDAY},
    {"tues", MF_TG_L_WEEKDAY},
    {"wed", MF_TG_L_WEEKDAY},
    {"thu", MF_TG_L_WEEKDAY},
    {"thur", MF_TG_L_WEEKDAY},
    {"thurs", MF_TG_L_WEEKDAY},
    {"fri", MF_TG_L_WEEKDAY},
    {"sat", MF_TG_L_WEEKDAY},
    {"sun", MF_TG_L_WEEKDAY},
    {"dr", MF_TG_L_TITLE},
    {"mr", MF_TG_L_TITLE},
    {"mrs", MF_TG_L_TITLE},
    {"ms", MF_TG_L_TITLE},
    {"miss", MF_TG_L_TITLE},
    {"mx", MF_TG_L_TITLE},
    {"prof", MF_TG_L_TITLE},
    {"professor", MF_TG_L_TITLE},
    {"doctor", MF_TG_L_TITLE},
    {"sir", MF_TG_L_TITLE},
    {"madam", MF_TG_L_TITLE},
    {"dame", MF_TG_L_TITLE},
    {"nurse", MF_TG_L_TITLE},
    {"rev", MF_TG_L_TITLE},
    {"name", MF_TG_L_NCUE},
    {"named", MF_TG_L_NCUE},
    {"called", MF_TG_L_NCUE},
    {"surname", MF_TG_L_NCUE},
    {"signed", MF_TG_L_NCUE},
    {"says", MF_TG_L_NCUE},
    {"said", MF_TG_L_NCUE},
    {"by", MF_TG_L_NCUE},
    {"dear", MF_TG_L_NCUE},
    {"hello", MF_TG_L_NCUE},
    {"hi", MF_TG_L_NCUE},
    {"cc", MF_TG_L_NCUE},
    {"attn", MF_TG_L_NCUE},
    {"attending", MF_TG_L_NCUE},
    {"pcp", MF_TG_L_NCUE},
    {"patient", MF_TG_L_NCUE},
    {"pt", MF_TG_L_NCUE},
    {"with", MF_TG_L_WCUE},
    {"and", MF_TG_L_WCUE},
    {"to", MF_TG_L_WCUE | MF_TG_L_PCUE},
    {"from", MF_TG_L_WCUE | MF_TG_L_PCUE},
    {"for", MF_TG_L_WCUE},
    {"under", MF_TG_L_WCUE},
    {"per", MF_TG_L_WCUE},
    {"thanks", MF_TG_L_WCUE},
    {"in", MF_TG_L_PCUE},
    {"at", MF_TG_L_PCUE},
    {"near", MF_TG_L_PCUE},
    {"of", MF_TG_L_PCUE},
    {"visit", MF_TG_L_PCUE},
    {"visiting", MF_TG_L_PCUE},
    {"daughter", MF_TG_L_REL},
    {"son", MF_TG_L_REL},
    {"wife", MF_TG_L_REL},
    {"husband", MF_TG_L_REL},
    {"spouse", MF_TG_L_REL},
    {"mother", MF_TG_L_REL},
    {"father", MF_TG_L_REL},
    {"sister", MF_TG_L_REL},
    {"brother", MF_TG_L_REL},
    {"friend", MF_TG_L_REL},
    {"partner", MF_TG_L_REL},
    {"caregiver", MF_TG_L_REL},
    {"niece", MF_TG_L_REL},
    {"nephew", MF_TG_L_REL},
    {"grandson", MF_TG_L_REL},
    {"granddaughter", MF_TG_L_REL},
    {"grandmother", MF_TG_L_REL},
    {"grandfather", MF_TG_L_REL},
    {"aunt", MF_TG_L_REL},
    {"uncle", MF_TG_L_REL},
    {"cousin", MF_TG_L_REL},
    {"guardian", MF_TG_L_REL},
    {"fiance", MF_TG_L_REL},
    {"boyfriend", MF_TG_L_REL},
    {"girlfriend", MF_TG_L_REL},
    {"neighbor", MF_TG_L_REL},
    {"roommate", MF_TG_L_REL},
    {"contact", MF_TG_L_REL},
    {"hospital", MF_TG_L_HOSP},
    {"clinic", MF_TG_L_HOSP},
    {"infirmary", MF_TG_L_HOSP},
    {"hospice", MF_TG_L_HOSP},
    {"sanatorium", MF_TG_L_HOSP},
    {"healthcare", MF_TG_L_HOSP},
    {"center", MF_TG_L_HOSP | MF_TG_L_HOSPWEAK},
    {"centre", MF_TG_L_HOSP | MF_TG_L_HOSPWEAK},
    {"mrn", MF_TG_L_IDCUE | MF_TG_L_MRNCUE},
    {"record", MF_TG_L_IDCUE | MF_TG_L_MRNCUE},
    {"chart", MF_TG_L_IDCUE | MF_TG_L_MRNCUE},
    {"account", MF_TG_L_IDCUE},
    {"acct", MF_TG_L_IDCUE},
    {"member", MF_TG_L_IDCUE},
    {"policy", MF_TG_L_IDCUE},
    {"plan", MF_TG_L_IDCUE},
    {"id", MF_TG_L_IDCUE},
    {"license", MF_TG_L_IDCUE},
    {"licence", MF_TG_L_IDCUE},
    {"dea", MF_TG_L_IDCUE},
    {"npi", MF_TG_L_IDCUE},
    {"serial", MF_TG_L_IDCUE},
    {"device", MF_TG_L_IDCUE},
    {"number", MF_TG_L_IDCUE},
    {"no", MF_TG_L_IDCUE},
    {"card", MF_TG_L_IDCUE},
    {"iban", MF_TG_L_IDCUE},
    {"certificate", MF_TG_L_IDCUE},
    {"vin", MF_TG_L_IDCUE},
    {"plate", MF_TG_L_IDCUE},
    {"passport", MF_TG_L_IDCUE},
    {"ssn", MF_TG_L_SSNCUE},
    {"social", MF_TG_L_SSNCUE},
    {"phone", MF_TG_L_PHCUE},
    {"tel", MF_TG_L_PHCUE},
    {"telephone", MF_TG_L_PHCUE},
    {"call", MF_TG_L_PHCUE},
    {"cell", MF_TG_L_PHCUE},
    {"mobile", MF_TG_L_PHCUE},
    {"pager", MF_TG_L_PHCUE},
    {"reached", MF_TG_L_PHCUE},
    {"contact", MF_TG_L_PHCUE},
    {"fax", MF_TG_L_PHCUE | MF_TG_L_FAXCUE},
    {"faxed", MF_TG_L_PHCUE | MF_TG_L_FAXCUE},
    {"zip", MF_TG_L_ZIPCUE},
    {"postal", MF_TG_L_ZIPCUE},
    {"postcode", MF_TG_L_ZIPCUE},
    {"aged", MF_TG_L_AGECUE},
    {"age", MF_TG_L_AGECUE},
    {"apt", MF_TG_L_UNIT},
    {"apartment", MF_TG_L_UNIT},
    {"suite", MF_TG_L_UNIT},
    {"ste", MF_TG_L_UNIT},
    {"unit", MF_TG_L_UNIT},
    {"floor", MF_TG_L_UNIT},
    {"fl", MF_TG_L_UNIT},
    {"room", MF_TG_L_UNIT},
    {"rm", MF_TG_L_UNIT},
    {"bldg", MF_TG_L_UNIT},
    {"building", MF_TG_L_UNIT},
    {"box", MF_TG_L_UNIT},
    {"st", MF_TG_L_STSUF},
    {"ave", MF_TG_L_STSUF},
    {"av", MF_TG_L_STSUF},
    {"rd", MF_TG_L_STSUF},
    {"blvd", MF_TG_L_STSUF},
    {"ln", MF_TG_L_STSUF},
    {"ct", MF_TG_L_STSUF},
    {"pl", MF_TG_L_STSUF},
    {"ter", MF_TG_L_STSUF},
    {"cir", MF_TG_L_STSUF},
    {"pkwy", MF_TG_L_STSUF},
    {"hwy", MF_TG_L_STSUF},
    {"sq", MF_TG_L_STSUF},
    {"str", MF_TG_L_STSUF},
    {"dr", MF_TG_L_STSUF},
    {"trl", MF_TG_L_STSUF},
    {"rue", MF_TG_L_STWORD},
    {"rua", MF_TG_L_STWORD},
    {"via", MF_TG_L_STWORD},
    {"viale", MF_TG_L_STWORD},
    {"calle", MF_TG_L_STWORD},
    {"avenida", MF_TG_L_STWORD},
    {"avenue", MF_TG_L_STWORD},
    {"piazza", MF_TG_L_STWORD},
    {"plaza", MF_TG_L_STWORD},
    {"ulica", MF_TG_L_STWORD},
    {"ul", MF_TG_L_STWORD},
    {"utca", MF_TG_L_STWORD},
    {"strasse", MF_TG_L_STWORD},
    {"straße", MF_TG_L_STWORD},
    {"camino", MF_TG_L_STWORD},
    {"carrer", MF_TG_L_STWORD},
    {"praça", MF_TG_L_STWORD},
    {"travessa", MF_TG_L_STWORD},
    {"largo", MF_TG_L_STWORD},
    {"boulevard", MF_TG_L_STWORD},
    {"chemin", MF_TG_L_STWORD},
    {"allée", MF_TG_L_STWORD},
    {"vicolo", MF_TG_L_STWORD},
    {"corso", MF_TG_L_STWORD},
    {"u", MF_TG_L_STWORD},
    {"tér", MF_TG_L_STWORD},
    {"út", MF_TG_L_STWORD},
    {"útja", MF_TG_L_STWORD},
    {"körút", MF_TG_L_STWORD},
    {"sor", MF_TG_L_STWORD},
    {"köz", MF_TG_L_STWORD},
    {"odos", MF_TG_L_STWORD},
    {"com", MF_TG_L_TLD},
    {"org", MF_TG_L_TLD},
    {"net", MF_TG_L_TLD},
    {"edu", MF_TG_L_TLD},
    {"gov", MF_TG_L_TLD},
    {"io", MF_TG_L_TLD},
    {"info", MF_TG_L_TLD},
    {"biz", MF_TG_L_TLD},
    {"us", MF_TG_L_TLD},
    {"uk", MF_TG_L_TLD},
    {"de", MF_TG_L_TLD},
    {"fr", MF_TG_L_TLD},
    {"it", MF_TG_L_TLD},
    {"es", MF_TG_L_TLD},
    {"nl", MF_TG_L_TLD},
    {"be", MF_TG_L_TLD},
    {"br", MF_TG_L_TLD},
    {"se", MF_TG_L_TLD},
    {"dk", MF_TG_L_TLD},
    {"ee", MF_TG_L_TLD},
    {"si", MF_TG_L_TLD},
    {"cz", MF_TG_L_TLD},
    {"pl", MF_TG_L_TLD},
    {"au", MF_TG_L_TLD},
    {"ca", MF_TG_L_TLD},
    {"ch", MF_TG_L_TLD},
    {"at", MF_TG_L_TLD},
    {"fi", MF_TG_L_TLD},
    {"no", MF_TG_L_TLD},
    {"jp", MF_TG_L_TLD},
    {"ru", MF_TG_L_TLD},
    {"cn", MF_TG_L_TLD},
    {"in", MF_TG_L_TLD},
    {"hu", MF_TG_L_TLD},
    {"is", MF_TG_L_TLD},
    {"ie", MF_TG_L_TLD},
    {"nz", MF_TG_L_TLD},
    {"pt", MF_TG_L_TLD},
    {"gr", MF_TG_L_TLD},
    {"mx", MF_TG_L_TLD},
    {"ar", MF_TG_L_TLD},
    {"za", MF_TG_L_TLD},
    {"kr", MF_TG_L_TLD},
    {"il", MF_TG_L_TLD},
    {"tr", MF_TG_L_TLD},
    {"ua", MF_TG_L_TLD},
    {"ro", MF_TG_L_TLD},
    {"hr", MF_TG_L_TLD},
    {"sk", MF_TG_L_TLD},
    {"lt", MF_TG_L_TLD},
    {"lv", MF_TG_L_TLD},
    {"co", MF_TG_L_TLD},
    {"tv", MF_TG_L_TLD},
    {"me", MF_TG_L_TLD},
    {"health", MF_TG_L_TLD},
};

int mf_deid_lexicon_load(const char *dir, struct mf_deid_lexicon **out, struct mf_err *err)
{
    *out = NULL;
    struct mf_deid_lexicon *lex = calloc(1, sizeof *lex);
    if (lex == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory loading the lexicon");
    mf_strmap_init(&lex->words);
    mf_strmap_init(&lex->phrases);
    mf_strmap_init(&lex->shapes);
    /* the installed lists hold about 130,000 words: size the table once instead of doubling
     * it a dozen times */
    if (mf_strmap_reserve(&lex->words, (size_t)1 << 17) != 0) {
        mf_deid_lexicon_free(lex);
        return mf_err_set(err, MF_ENOMEM, "out of memory loading the lexicon");
    }
    if (dir == NULL)
        dir = mf_data_dir("deid/lexicon");
    char dirbuf[4096];
    if ((size_t)snprintf(dirbuf, sizeof dirbuf, "%s", dir) >= sizeof dirbuf) {
        mf_deid_lexicon_free(lex);
        return mf_err_set(err, MF_EINVAL, "lexicon folder path too long");
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0] && rc == 0; i++)
        rc = load_file(lex, dirbuf, &FILES[i], err);
    for (size_t i = 0; i < sizeof CUES / sizeof CUES[0] && rc == 0; i++)
        rc = add_word(lex, CUES[i].w, strlen(CUES[i].w), CUES[i].f);
    if (rc) {
        if (rc == MF_ENOMEM)
            mf_err_set(err, rc, "out of memory loading the lexicon");
        mf_deid_lexicon_free(lex);
        return rc;
    }
    *out = lex;
    return 0;
}

void mf_deid_lexicon_free(struct mf_deid_lexicon *lex)
{
    if (lex == NULL)
        return;
    mf_strmap_free(&lex->words);
    mf_strmap_free(&lex->phrases);
    mf_strmap_free(&lex->shapes);
    for (int i = 0; i < MF_DEID_LIST__COUNT; i++)
        free(lex->pick[i].v);
    mf_buf_release(&lex->text);
    free(lex);
}

const char *mf_deid_lexicon_pick(const struct mf_deid_lexicon *lex, enum mf_deid_list l, uint64_t h,
                                 size_t *len)
{
    if (lex == NULL || (unsigned)l >= MF_DEID_LIST__COUNT || lex->pick[l].n == 0) {
        if (len)
            *len = 0;
        return "";
    }
    const struct mf_tg_ref *r = &lex->pick[l].v[h % lex->pick[l].n];
    if (len)
        *len = r->len;
    return lex->text.data + r->off;
}

uint64_t mf_tg_affix(const struct mf_deid_lexicon *lex, const char *w, size_t n, size_t min)
{
    char tmp[17];
    uint64_t r = 0;
    for (size_t m = min; m <= 16 && m + 3 <= n; m++) {
        tmp[0] = '-';
        memcpy(tmp + 1, w + n - m, m);
        const struct mf_strmap_slot *sl = mf_strmap_get(&lex->words, tmp, m + 1);
        if (sl)
            r |= sl->value & (MF_TG_L_STAFFIX | MF_TG_L_CITYAFFIX);
    }
    return r;
}

uint64_t mf_tg_shape(const struct mf_deid_lexicon *lex, const char *s, size_t n)
{
    if (n == 0 || n > MF_TG_MAXSHAPE || lex->shapes.n == 0)
        return 0;
    const struct mf_strmap_slot *sl = mf_strmap_get(&lex->shapes, s, n);
    return sl ? sl->value : 0;
}

uint64_t mf_tg_lookup(const struct mf_deid_lexicon *lex, const char *s, size_t n)
{
    char tmp[MF_TG_MAXWORD];
    size_t k = mf_tg_fold(s, n, tmp, sizeof tmp);
    if (k == 0)
        return 0;
    const struct mf_strmap_slot *sl = mf_strmap_get(&lex->words, tmp, k);
    return sl ? sl->value : 0;
}

int mf_deid_lexicon_given_sex(const struct mf_deid_lexicon *lex, const char *s, size_t n)
{
    if (lex == NULL || s == NULL)
        return 0;
    uint64_t f = mf_tg_lookup(lex, s, n);
    int r = 0;
    if (f & MF_TG_L_GF)
        r |= 1;
    if (f & MF_TG_L_GM)
        r |= 2;
    if (r == 0 && (f & MF_TG_L_GA))
        r = 3;
    return r;
}
