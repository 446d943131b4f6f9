/* tagger_int.h - internals shared by tagger.c and tagger_lexicon.c (not a public interface). */
#ifndef MF_DEID_TAGGER_INT_H
#define MF_DEID_TAGGER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/strmap.h"
#include "deid/tagger.h"

#define MF_TG_MAXWORD   96
#define MF_TG_MAXPHRASE 6
#define MF_TG_MAXSHAPE  40 /* longest phone or postcode shape looked up */

/* What a shape is: bits of the lexicon's shape table. */
#define MF_TG_S_PHONE    1u /* a phone number of some locale: "+99 99 999 9999" */
#define MF_TG_S_POSTCODE 2u /* a postal code: "9999-999", "A9A 9A9" */

/* What a folded word is: bits of the lexicon's word table. */
#define MF_TG_L_GF        (1ull << 0)  /* female given name */
#define MF_TG_L_GM        (1ull << 1)  /* male given name */
#define MF_TG_L_GA        (1ull << 2)  /* given name, sex unknown */
#define MF_TG_L_FAM       (1ull << 3)  /* family name */
#define MF_TG_L_CITY      (1ull << 4)  /* city (or first word of one: see PHRASE) */
#define MF_TG_L_COUNTRY   (1ull << 5)  /* country */
#define MF_TG_L_SUBDIV    (1ull << 6)  /* subdivision (not US states) */
#define MF_TG_L_STSUF     (1ull << 7)  /* street suffix: Street, St, Ave */
#define MF_TG_L_STWORD    (1ull << 8)  /* other street word: Rua, Via, Allee */
#define MF_TG_L_WORD      (1ull << 9)  /* common English word (lower case in the dictionary) */
#define MF_TG_L_ALLOW     (1ull << 10) /* medical term or eponym: not a name by itself */
#define MF_TG_L_PHRASE    (1ull << 11) /* first word of a phrase entry */
#define MF_TG_L_MONTH     (1ull << 12)
#define MF_TG_L_WEEKDAY   (1ull << 13)
#define MF_TG_L_TITLE     (1ull << 14) /* Dr, Mrs */
#define MF_TG_L_NCUE      (1ull << 15) /* a name follows: "named", "by", "patient" */
#define MF_TG_L_WCUE      (1ull << 16) /* weaker: "with", "and" */
#define MF_TG_L_PCUE      (1ull << 17) /* a place follows: "in", "from" */
#define MF_TG_L_REL       (1ull << 18) /* relative: "daughter" */
#define MF_TG_L_HOSP      (1ull << 19) /* Hospital, Clinic */
#define MF_TG_L_HOSPWEAK  (1ull << 20) /* Center: needs a qualifier */
#define MF_TG_L_IDCUE     (1ull << 21)
#define MF_TG_L_MRNCUE    (1ull << 22)
#define MF_TG_L_SSNCUE    (1ull << 23)
#define MF_TG_L_PHCUE     (1ull << 24)
#define MF_TG_L_FAXCUE    (1ull << 25)
#define MF_TG_L_ZIPCUE    (1ull << 26)
#define MF_TG_L_AGECUE    (1ull << 27)
#define MF_TG_L_UNIT      (1ull << 28) /* Apt, Suite, Box */
#define MF_TG_L_TLD       (1ull << 29)
#define MF_TG_L_PROPER    (1ull << 30) /* capitalised dictionary entry: English, Christmas */
#define MF_TG_L_STAFFIX   (1ull << 31) /* "-stigen": ending of a compound street name */
#define MF_TG_L_CITYAFFIX (1ull << 32) /* "-borg", "-side": ending of a compound town name */
#define MF_TG_MONTH_SHIFT 40
#define MF_TG_L_GIVEN     (MF_TG_L_GF | MF_TG_L_GM | MF_TG_L_GA)
#define MF_TG_L_NAME      (MF_TG_L_GIVEN | MF_TG_L_FAM)
#define MF_TG_L_PLACE     (MF_TG_L_CITY | MF_TG_L_COUNTRY | MF_TG_L_SUBDIV)

struct mf_tg_ref {
    uint32_t off, len;
};
struct mf_tg_pick {
    struct mf_tg_ref *v;
    size_t n, cap;
};

struct mf_deid_lexicon {
    struct mf_strmap words;   /* folded word -> MF_TG_L_* bits */
    struct mf_strmap phrases; /* folded words joined by ' ' -> MF_TG_L_* bits */
    struct mf_strmap shapes;  /* phone and postcode shapes -> MF_TG_S_* bits */
    size_t max_phrase;
    struct mf_tg_pick pick[MF_DEID_LIST__COUNT];
    struct mf_buf text; /* pick entries, NUL-separated */
};

/* Fold s[0..n) into out (at most cap bytes; same length); 0 when n > cap. */
size_t mf_tg_fold(const char *s, size_t n, char *out, size_t cap);
/* 1 first letter upper case, 2 lower case, 0 caseless or not a letter. */
int mf_tg_case(const char *s, size_t n);
/* The MF_TG_L_STAFFIX / MF_TG_L_CITYAFFIX bits of the endings of folded word w[0..n) that are
 * at least min bytes long and leave at least 3 bytes before them. */
uint64_t mf_tg_affix(const struct mf_deid_lexicon *lex, const char *w, size_t n, size_t min);
/* The MF_TG_S_* bits of shape s[0..n) (digit '9', upper-case letter 'A', a space, "+()-./"). */
uint64_t mf_tg_shape(const struct mf_deid_lexicon *lex, const char *s, size_t n);
/* The bits of a word (any case), 0 when unknown. */
uint64_t mf_tg_lookup(const struct mf_deid_lexicon *lex, const char *s, size_t n);

#endif
