/* notes.c - synthetic visit notes that carry PHI the way real notes do, with every PHI span
 * recorded (see synth.h, mf_synth_note_write).
 *
 * A note is built by appending pieces to the text; each piece of PHI is appended through
 * phi(), which records its byte span, so the spans are exact by construction.  What a note
 * says comes from the visit's encounter and the items linked to it (conditions, medications,
 * labs with values, procedures) plus the patient's earlier conditions and medications, so the
 * note agrees with the structured record.  Three note kinds follow the encounter class: clinic
 * progress note (AMB), emergency department note (EMER), discharge summary (IMP); headers,
 * sentences, date and age formats vary within each.
 *
 * Span conventions (documented in docs/synth-people.md): titles ("Dr.", "Ms.") are outside
 * NAME spans; AGE spans cover the digits only ("67" in "67-year-old"), and every age is tagged
 * (Safe Harbor requires only ages over 89; filter on the value); a state abbreviation is not
 * tagged; times of day are outside DATE spans; a URL span covers the whole URL.
 *
 * Left out: free-text abbreviations, misspellings and OCR noise; notes in other languages.
 */
#include "synth/synth.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

#define MAX_ITEMS 8

const char *mf_phi_category_name(enum mf_phi_category c)
{
    static const char *const names[MF_PHI__COUNT] = {
        "NAME", "DATE",    "AGE", "PHONE", "FAX",      "EMAIL", "SSN", "MRN",
        "ID",   "ADDRESS", "ZIP", "CITY",  "HOSPITAL", "URL",   "IP"};
    if ((unsigned)c >= MF_PHI__COUNT)
        return "UNKNOWN";
    return names[c];
}

/* Items of one kind gathered for the note. */
struct items {
    const struct mf_syn_item *v[MAX_ITEMS];
    size_t n;
};

/* The note being written.  rc is sticky: after the first failure every append is skipped and
 * mf_synth_note_write returns it. */
struct note {
    const struct mf_synth_lists *l;
    struct mf_rng *rng;
    struct mf_buf *b;
    struct mf_phi_spans *sp;
    const struct mf_synth_visit *v;
    const struct mf_synth_person *p;
    const struct mf_syn_life *life;
    const struct mf_syn_item *enc;
    struct mf_synth_person other; /* other clinicians and places the note mentions */
    char hospital[128];           /* visit->hospital, or one made up */
    char doc[112];                /* the clinician's name without "Dr. " */
    const char *doc_family;       /* its last word, inside doc */
    int64_t day, end_day;         /* service (admission) and discharge day, days since epoch */
    int age, female, date_style;
    int ssn_written;
    struct items cond, hist, meds, prior_meds, labs, procs;
    int rc;
};

/* --- text and spans ----------------------------------------------------------------------- */

static void putn(struct note *n, const char *s, size_t k)
{
    if (n->rc == 0)
        n->rc = mf_buf_append(n->b, s, k);
}

static void put(struct note *n, const char *s)
{
    putn(n, s, strlen(s));
}

static void putf(struct note *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct note *n, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof tmp) {
        if (n->rc == 0)
            n->rc = MF_ETOOBIG;
        return;
    }
    putn(n, tmp, (size_t)k);
}

/* Record text[start, current end) as PHI of category c. */
static void span_close(struct note *n, size_t start, enum mf_phi_category c)
{
    if (n->rc != 0 || n->b->len == start)
        return;
    struct mf_phi_spans *sp = n->sp;
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 32;
        struct mf_phi_span *v = realloc(sp->v, cap * sizeof *v);
        if (v == NULL) {
            n->rc = MF_ENOMEM;
            return;
        }
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[sp->n++] = (struct mf_phi_span){start, n->b->len, c};
}

static void phin(struct note *n, enum mf_phi_category c, const char *s, size_t k)
{
    size_t start = n->b->len;
    putn(n, s, k);
    span_close(n, start, c);
}

static void phi(struct note *n, enum mf_phi_category c, const char *s)
{
    phin(n, c, s, strlen(s));
}

static void phif(struct note *n, enum mf_phi_category c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void phif(struct note *n, enum mf_phi_category c, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof tmp) {
        if (n->rc == 0)
            n->rc = MF_ETOOBIG;
        return;
    }
    phin(n, c, tmp, (size_t)k);
}

static size_t below(struct note *n, size_t k)
{
    return (size_t)mf_rng_below(n->rng, k);
}

static int chance(struct note *n, double p)
{
    return mf_rng_uniform(n->rng) < p;
}

/* One of the strings, uniformly. */
#define ONE_OF(n, ...)                                                                             \
    ((const char *const[]){__VA_ARGS__}[below((n), sizeof((const char *const[]){__VA_ARGS__}) /    \
                                                       sizeof(const char *))])

/* --- dates, ages, names ------------------------------------------------------------------- */

static const char *const month_name[12] = {"January",   "February", "March",    "April",
                                           "May",       "June",     "July",     "August",
                                           "September", "October",  "November", "December"};
static const char *const month_abbr[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int64_t day_of(int64_t t)
{
    int64_t d = t / MF_USEC_PER_DAY;
    return t % MF_USEC_PER_DAY < 0 ? d - 1 : d;
}

/* A date in one of the forms notes use; the whole date is one DATE span.  Styles: 0
 * 2016-05-02, 1 05/02/2016, 2 5/2/2016, 3 May 2, 2016, 4 2 May 2016, 5 02-May-2016, 6 5/2/16. */
static void put_date(struct note *n, int64_t day, int style)
{
    int64_t y;
    unsigned m, d;
    mf_civil_from_days(day, &y, &m, &d);
    long long yy = (long long)y;
    const enum mf_phi_category c = MF_PHI_DATE;
    switch (style) {
    case 0:
        phif(n, c, "%04lld-%02u-%02u", yy, m, d);
        break;
    case 1:
        phif(n, c, "%02u/%02u/%04lld", m, d, yy);
        break;
    case 2:
        phif(n, c, "%u/%u/%04lld", m, d, yy);
        break;
    case 3:
        phif(n, c, "%s %u, %lld", month_name[m - 1], d, yy);
        break;
    case 4:
        phif(n, c, "%u %s %lld", d, month_name[m - 1], yy);
        break;
    case 5:
        phif(n, c, "%02u-%s-%04lld", d, month_abbr[m - 1], yy);
        break;
    default:
        phif(n, c, "%u/%u/%02lld", m, d, ((yy % 100) + 100) % 100);
        break;
    }
}

/* A date in the note's usual style, now and then another. */
static void put_day(struct note *n, int64_t day)
{
    put_date(n, day, chance(n, 0.85) ? n->date_style : (int)below(n, 7));
}

/* "March 2014" or "03/2014": month and year, still a DATE under Safe Harbor. */
static void put_month_year(struct note *n, int64_t day)
{
    int64_t y;
    unsigned m, d;
    mf_civil_from_days(day, &y, &m, &d);
    if (chance(n, 0.7))
        phif(n, MF_PHI_DATE, "%s %lld", month_name[m - 1], (long long)y);
    else
        phif(n, MF_PHI_DATE, "%02u/%lld", m, (long long)y);
}

/* Whole years from birth day b to day d. */
static int years_between(int64_t b, int64_t d)
{
    int64_t y1, y2;
    unsigned m1, d1, m2, d2;
    mf_civil_from_days(b, &y1, &m1, &d1);
    mf_civil_from_days(d, &y2, &m2, &d2);
    int64_t age = y2 - y1 - ((m2 < m1 || (m2 == m1 && d2 < d1)) ? 1 : 0);
    return age < 0 ? 0 : (int)age;
}

static const char *man(const struct note *n)
{
    return n->female ? "woman" : "man";
}

static const char *he(const struct note *n, int cap)
{
    return n->female ? (cap ? "She" : "she") : (cap ? "He" : "he");
}

static const char *his(const struct note *n, int cap)
{
    return n->female ? (cap ? "Her" : "her") : (cap ? "His" : "his");
}

static const char *him(const struct note *n)
{
    return n->female ? "her" : "him";
}

/* "a 67-year-old woman", "an 84 yo female", "a 91 y/o F", "a woman aged 93": the AGE span
 * covers the number only. */
static void put_age_phrase(struct note *n, int age)
{
    int an = age / 10 == 8 || age == 8 || age == 11 || age == 18;
    switch (below(n, 4)) {
    case 0:
        put(n, an ? "an " : "a ");
        phif(n, MF_PHI_AGE, "%d", age);
        putf(n, "-year-old %s", man(n));
        break;
    case 1:
        put(n, an ? "an " : "a ");
        phif(n, MF_PHI_AGE, "%d", age);
        putf(n, " yo %s", n->female ? "female" : "male");
        break;
    case 2:
        put(n, an ? "an " : "a ");
        phif(n, MF_PHI_AGE, "%d", age);
        putf(n, " y/o %s", n->female ? "F" : "M");
        break;
    default:
        putf(n, "a %s aged ", man(n));
        phif(n, MF_PHI_AGE, "%d", age);
        break;
    }
}

/* A name as one NAME span: "Jane Smith", "Smith, Jane", "J. Smith" or "SMITH, JANE". */
static void put_name(struct note *n, const struct mf_synth_name *nm, int style)
{
    char tmp[112];
    switch (style) {
    case 1:
        snprintf(tmp, sizeof tmp, "%s, %s", nm->family, nm->given);
        break;
    case 2:
        snprintf(tmp, sizeof tmp, "%c. %s", nm->given[0], nm->family);
        break;
    case 3: {
        int k = snprintf(tmp, sizeof tmp, "%s, %s", nm->family, nm->given);
        for (int i = 0; i < k && i < (int)sizeof tmp; i++)
            if (tmp[i] >= 'a' && tmp[i] <= 'z')
                tmp[i] = (char)(tmp[i] - 'a' + 'A');
        break;
    }
    default:
        snprintf(tmp, sizeof tmp, "%s %s", nm->given, nm->family);
        break;
    }
    phi(n, MF_PHI_NAME, tmp);
}

/* How the body refers to the patient: "Ms. Smith", "Mr. Smith", "Jane Smith", "Jane". */
static void put_patient(struct note *n)
{
    switch (below(n, 4)) {
    case 0:
    case 1:
        put(n, n->female ? ONE_OF(n, "Ms. ", "Mrs. ") : "Mr. ");
        phi(n, MF_PHI_NAME, n->p->name.family);
        break;
    case 2:
        put_name(n, &n->p->name, 0);
        break;
    default:
        put(n, "The patient");
        break;
    }
}

/* "Dr. Jane Smith" (full) or "Dr. Smith". */
static void put_doc(struct note *n, int full)
{
    put(n, "Dr. ");
    phi(n, MF_PHI_NAME, full ? n->doc : n->doc_family);
}

/* Another clinician, "Dr. Ruth Jones". */
static void put_other_doc(struct note *n, const struct mf_synth_name *nm)
{
    put(n, "Dr. ");
    put_name(n, nm, 0);
}

/* "(617) 555-0123", "617-555-0123" or "617.555.0123" from the stored "617-555-0123". */
static void put_phone(struct note *n, enum mf_phi_category c, const char *num)
{
    if (strlen(num) != 12) {
        phi(n, c, num);
        return;
    }
    switch (below(n, 3)) {
    case 0:
        phif(n, c, "(%.3s) %.8s", num, num + 4);
        break;
    case 1:
        phi(n, c, num);
        break;
    default:
        phif(n, c, "%.3s.%.3s.%.4s", num, num + 4, num + 8);
        break;
    }
}

/* "1234 Maple Street, Northville, MA 02115": street line, city and ZIP are separate spans, the
 * state is not PHI. */
static void put_address(struct note *n)
{
    phi(n, MF_PHI_ADDRESS, n->p->line);
    put(n, ", ");
    phi(n, MF_PHI_CITY, n->p->city);
    putf(n, ", %s ", n->p->state);
    phi(n, MF_PHI_ZIP, n->p->zip);
}

/* A relative by relation: "daughter", "spouse"... */
static const char *relation(const struct note *n)
{
    return n->p->contact_relation[0] ? n->p->contact_relation : "friend";
}

/* --- clinical content --------------------------------------------------------------------- */

/* An item's display without a trailing semantic tag ("(disorder)"), first letter lowered
 * when lower and the word is not an acronym. */
static void put_display(struct note *n, const struct mf_syn_item *it, int lower)
{
    const char *s = it->display ? it->display : it->code ? it->code : "unspecified";
    size_t k = strlen(s);
    if (k > 2 && s[k - 1] == ')') {
        const char *open = strrchr(s, '(');
        if (open && open > s + 1 && open[-1] == ' ')
            k = (size_t)(open - 1 - s);
    }
    if (lower && k > 1 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'a' && s[1] <= 'z') {
        char c = (char)(s[0] - 'A' + 'a');
        putn(n, &c, 1);
        putn(n, s + 1, k - 1);
    } else {
        putn(n, s, k);
    }
}

/* "A, B and C". */
static void put_list(struct note *n, const struct items *it, int lower)
{
    for (size_t i = 0; i < it->n; i++) {
        if (i > 0)
            put(n, i + 1 == it->n ? " and " : ", ");
        put_display(n, it->v[i], lower);
    }
}

/* A value the way labs print it: 142, 7.2, 0.84. */
static void put_value(struct note *n, double v)
{
    if (isnan(v))
        put(n, "pending");
    else if (fabs(v) >= 100)
        putf(n, "%.0f", v);
    else if (fabs(v) >= 1)
        putf(n, "%.1f", v);
    else
        putf(n, "%.2f", v);
}

/* UCUM as a note prints it: "mm[Hg]" becomes "mmHg", annotations "{...}" go, "1" is none. */
static void put_unit(struct note *n, const char *u)
{
    if (u == NULL || u[0] == '\0' || strcmp(u, "1") == 0)
        return;
    if (u[0] != '%')
        put(n, " ");
    for (const char *q = u; *q; q++) {
        if (*q == '{') {
            while (*q && *q != '}')
                q++;
            if (*q == '\0')
                break;
        } else if (*q != '[' && *q != ']') {
            putn(n, q, 1);
        }
    }
}

static int same_code(const struct mf_syn_item *a, const struct mf_syn_item *b)
{
    if (a->code && b->code)
        return strcmp(a->code, b->code) == 0;
    return a->display && b->display && strcmp(a->display, b->display) == 0;
}

/* Add it unless full or already there (by code). */
static void items_add(struct items *s, const struct mf_syn_item *it)
{
    if (s->n == MAX_ITEMS)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (same_code(s->v[i], it))
            return;
    s->v[s->n++] = it;
}

/* Sort the life's items into what this visit did and what came before it. */
static void gather(struct note *n)
{
    const struct mf_syn_life *life = n->life;
    int e = (int)n->v->encounter;
    for (size_t i = 0; i < life->n_items; i++) {
        const struct mf_syn_item *it = &life->items[i];
        if (it->encounter == e) {
            switch (it->kind) {
            case MF_SYN_CONDITION:
                items_add(&n->cond, it);
                break;
            case MF_SYN_MEDICATION:
                items_add(&n->meds, it);
                break;
            case MF_SYN_OBSERVATION:
                items_add(&n->labs, it);
                break;
            case MF_SYN_PROCEDURE:
                items_add(&n->procs, it);
                break;
            default:
                break;
            }
        } else if (it->time <= n->enc->time && it->kind == MF_SYN_CONDITION) {
            items_add(&n->hist, it);
        } else if (it->time < n->enc->time && it->kind == MF_SYN_MEDICATION) {
            items_add(&n->prior_meds, it);
        }
    }
    /* a condition diagnosed at this visit is not also "history" */
    for (size_t i = 0; i < n->hist.n;) {
        int dup = 0;
        for (size_t j = 0; j < n->cond.n; j++)
            dup |= same_code(n->hist.v[i], n->cond.v[j]);
        if (dup)
            n->hist.v[i] = n->hist.v[--n->hist.n];
        else
            i++;
    }
}

/* --- sections ----------------------------------------------------------------------------- */

static void header(struct note *n, const char *title)
{
    const struct mf_synth_person *p = n->p;
    if (title)
        putf(n, "%s\n", title);
    switch (below(n, 3)) {
    case 0:
        put(n, "Patient: ");
        put_name(n, &p->name, 0);
        put(n, "   MRN: ");
        phi(n, MF_PHI_MRN, p->mrn);
        put(n, "   DOB: ");
        put_date(n, day_of(n->life->birth), n->date_style == 0 ? 0 : 1);
        put(n, "\nDate of service: ");
        put_day(n, n->day);
        put(n, "\n");
        break;
    case 1:
        put_name(n, &p->name, chance(n, 0.5) ? 3 : 1);
        put(n, "  (MRN ");
        phi(n, MF_PHI_MRN, p->mrn);
        put(n, ")\nDOB: ");
        put_date(n, day_of(n->life->birth), 1);
        put(n, "  Age: ");
        phif(n, MF_PHI_AGE, "%d", n->age);
        putf(n, "  Sex: %s\nVisit date: ", n->female ? "F" : "M");
        put_day(n, n->day);
        put(n, "  Location: ");
        phi(n, MF_PHI_HOSPITAL, n->hospital);
        put(n, "\n");
        break;
    default:
        put(n, "Name: ");
        put_name(n, &p->name, 0);
        put(n, "\nMedical record number: ");
        phi(n, MF_PHI_MRN, p->mrn);
        put(n, "\nDate of birth: ");
        put_day(n, day_of(n->life->birth));
        put(n, "\nAddress: ");
        put_address(n);
        put(n, "\nPhone: ");
        put_phone(n, MF_PHI_PHONE, p->phone);
        if (chance(n, 0.3)) {
            put(n, "   Fax: ");
            put_phone(n, MF_PHI_FAX, p->fax);
        }
        if (chance(n, 0.25)) {
            put(n, "\nSSN: ");
            phi(n, MF_PHI_SSN, p->ssn);
            n->ssn_written = 1;
        }
        put(n, "\nEncounter date: ");
        put_day(n, n->day);
        put(n, "\n");
        break;
    }
    put(n, "\n");
}

static void history_sentence(struct note *n)
{
    if (n->hist.n) {
        put(n, " with a history of ");
        put_list(n, &n->hist, 1);
    }
}

static void relative_sentence(struct note *n)
{
    const struct mf_synth_person *p = n->p;
    switch (below(n, 3)) {
    case 0:
        putf(n, " %s %s, ", his(n, 1), relation(n));
        put_name(n, &p->contact, 0);
        putf(n, ", accompanies %s today.", him(n));
        break;
    case 1:
        putf(n, " %s is accompanied by %s %s (", he(n, 1), his(n, 0), relation(n));
        put_name(n, &p->contact, 0);
        put(n, "), who can be reached at ");
        put_phone(n, MF_PHI_PHONE, p->contact_phone);
        put(n, ".");
        break;
    default:
        putf(n, " History obtained from the patient and %s %s, ", his(n, 0), relation(n));
        put_name(n, &p->contact, chance(n, 0.8) ? 0 : 2);
        put(n, ".");
        break;
    }
}

static void pmh_section(struct note *n)
{
    put(n, "PAST MEDICAL HISTORY\n");
    if (n->hist.n == 0 && n->cond.n == 0)
        put(n, "None on file.\n");
    for (size_t i = 0; i < n->hist.n; i++) {
        put(n, "- ");
        put_display(n, n->hist.v[i], 0);
        if (chance(n, 0.4)) {
            put(n, " (diagnosed ");
            put_month_year(n, day_of(n->hist.v[i]->time));
            put(n, ")");
        } else if (chance(n, 0.15)) {
            put(n, ", onset ");
            put_day(n, day_of(n->hist.v[i]->time));
        }
        put(n, "\n");
    }
    put(n, "\n");
}

static void family_social(struct note *n)
{
    const struct mf_synth_person *p = n->p;
    if (chance(n, 0.6)) {
        put(n, "FAMILY HISTORY\n");
        switch (below(n, n->age < 60 ? 3 : 2)) { /* a living mother only for the young */
        case 0:
            put(n, "Mother, ");
            put_name(n, &p->mother, 0);
            putf(n, ", with %s.\n",
                 ONE_OF(n, "hypertension", "breast cancer", "type 2 diabetes",
                        "coronary artery disease", "dementia"));
            break;
        case 1:
            put(n, "Mother (");
            put_name(n, &p->mother, 0);
            put(n, ") died at age ");
            phif(n, MF_PHI_AGE, "%d", 55 + (int)below(n, 45));
            putf(n, " of %s.\n",
                 ONE_OF(n, "a stroke", "heart failure", "colon cancer", "pneumonia",
                        "unknown causes"));
            break;
        default:
            putf(n, "Noncontributory. Mother alive, aged ");
            phif(n, MF_PHI_AGE, "%d", n->age + 18 + (int)below(n, 20));
            put(n, ".\n");
            break;
        }
        put(n, "\n");
    }
    put(n, "SOCIAL HISTORY\n");
    switch (below(n, 3)) {
    case 0:
        put(n, "Lives at ");
        put_address(n);
        putf(n, " with %s %s.", his(n, 0), relation(n));
        break;
    case 1:
        put(n, "Lives in ");
        phi(n, MF_PHI_CITY, p->city);
        putf(n, ", %s.", p->state);
        break;
    default:
        putf(n, "Lives alone; %s %s, ", his(n, 0), relation(n));
        put_name(n, &p->contact, 0);
        put(n, ", checks in daily.");
        break;
    }
    putf(n, " %s.\n\n",
         n->life->smoker ? ONE_OF(n, "Former smoker", "Current smoker, counseled")
                         : "Never smoker");
}

static void meds_section(struct note *n, const char *title, int new_too)
{
    putf(n, "%s\n", title);
    if (n->prior_meds.n == 0 && (!new_too || n->meds.n == 0))
        put(n, "None.\n");
    for (size_t i = 0; i < n->prior_meds.n; i++) {
        put(n, "- ");
        put_display(n, n->prior_meds.v[i], 0);
        put(n, "\n");
    }
    for (size_t i = 0; new_too && i < n->meds.n; i++) {
        put(n, "- ");
        put_display(n, n->meds.v[i], 0);
        put(n, " (new)\n");
    }
    put(n, "\n");
}

static void vitals(struct note *n)
{
    int sys = 105 + (int)below(n, 50), dia = 60 + (int)below(n, 30);
    putf(n,
         "Vitals: BP %d/%d, HR %d, T %.1f \xc2\xb0"
         "C, SpO2 %d%% on room air.\n",
         sys, dia, 58 + (int)below(n, 40), 36.3 + 0.1 * (double)below(n, 12),
         93 + (int)below(n, 7));
}

static void results_section(struct note *n, const char *title)
{
    if (n->labs.n == 0 && n->procs.n == 0)
        return;
    putf(n, "%s\n", title);
    for (size_t i = 0; i < n->labs.n; i++) {
        const struct mf_syn_item *it = n->labs.v[i];
        put_display(n, it, 0);
        put(n, ": ");
        put_value(n, it->value);
        put_unit(n, it->unit);
        if (chance(n, 0.3)) {
            put(n, " (");
            put_day(n, day_of(it->time));
            put(n, ")");
        }
        put(n, "\n");
    }
    if (n->procs.n) {
        put(n, "Procedures: ");
        put_list(n, &n->procs, 1);
        put(n, ".\n");
    }
    put(n, "\n");
}

/* Contact details, portal and identifiers: the lines real notes carry at the end. */
static void contact_lines(struct note *n)
{
    const struct mf_synth_person *p = n->p;
    if (chance(n, 0.5)) {
        put(n, "Emergency contact: ");
        put_name(n, &p->contact, 0);
        putf(n, " (%s), ", relation(n));
        put_phone(n, MF_PHI_PHONE, p->contact_phone);
        put(n, "\n");
    }
    if (chance(n, 0.3)) {
        putf(n, "%s prefers to be contacted by email at ", he(n, 1));
        phi(n, MF_PHI_EMAIL, p->email);
        put(n, " or by phone at ");
        put_phone(n, MF_PHI_PHONE, p->phone);
        put(n, ".\n");
    }
    if (chance(n, 0.15)) {
        put(n, "Records faxed to ");
        put_other_doc(n, &n->other.name);
        put(n, " at ");
        put_phone(n, MF_PHI_FAX, p->fax);
        put(n, ".\n");
    }
    if (chance(n, 0.2)) {
        put(n, ONE_OF(n, "Insurance member ID: ", "Health plan ID: ", "Account #: "));
        phif(n, MF_PHI_ID, "%c%c%c%09u", (char)('A' + below(n, 26)), (char)('A' + below(n, 26)),
             (char)('A' + below(n, 26)), (unsigned)below(n, 1000000000));
        put(n, "\n");
    }
    if (chance(n, 0.08)) {
        put(n, "Patient portal: ");
        char slug[64];
        size_t k = 0;
        for (const char *q = n->hospital; *q && k + 1 < sizeof slug; q++)
            if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z'))
                slug[k++] = (char)(*q | 0x20);
        slug[k] = '\0';
        phif(n, MF_PHI_URL, "https://portal.%s.org/chart/%s", slug, p->mrn);
        put(n, "; last login from ");
        phif(n, MF_PHI_IP, "%u.%u.%u.%u", 11 + (unsigned)below(n, 180), (unsigned)below(n, 256),
             (unsigned)below(n, 256), 1 + (unsigned)below(n, 254));
        put(n, "\n");
    } else if (chance(n, 0.04)) {
        put(n, "Home monitor (serial ");
        phif(n, MF_PHI_ID, "SN%08u", (unsigned)below(n, 100000000));
        put(n, ") uploads readings from ");
        phif(n, MF_PHI_IP, "%u.%u.%u.%u", 24 + (unsigned)below(n, 150), (unsigned)below(n, 256),
             (unsigned)below(n, 256), 1 + (unsigned)below(n, 254));
        put(n, ".\n");
    }
    if (chance(n, 0.06) && !n->ssn_written) {
        put(n, "SSN on file: ");
        phi(n, MF_PHI_SSN, p->ssn);
        put(n, "\n");
    }
}

/* "Signed: Dr. Jane Smith, 2016-05-02 14:32". */
static void signature(struct note *n, int64_t day)
{
    int64_t sec = (n->enc->time - day_of(n->enc->time) * MF_USEC_PER_DAY) / MF_USEC_PER_SEC;
    int minute = (int)(sec / 60) + 15 + (int)below(n, 180);
    if (minute > 23 * 60 + 59)
        minute = 23 * 60 + 59;
    put(n, "\n");
    if (chance(n, 0.5)) {
        put(n, "Signed: ");
        put_doc(n, 1);
        put(n, ", MD, ");
        put_day(n, day);
        putf(n, " %02d:%02d\n", minute / 60, minute % 60);
    } else {
        put(n, "Electronically signed by ");
        phi(n, MF_PHI_NAME, n->doc);
        put(n, ", MD on ");
        put_day(n, day);
        int h = minute / 60 % 12;
        putf(n, " at %d:%02d %s\n", h == 0 ? 12 : h, minute % 60, minute < 12 * 60 ? "AM" : "PM");
    }
}

static void plan_items(struct note *n)
{
    size_t k = 1;
    for (size_t i = 0; i < n->cond.n; i++, k++) {
        putf(n, "%zu. ", k);
        put_display(n, n->cond.v[i], 0);
        put(n, ": ");
        if (i < n->meds.n) {
            put(n, ONE_OF(n, "start ", "begin ", "prescribed "));
            put_display(n, n->meds.v[i], 1);
            put(n, ".");
        } else {
            put(n, ONE_OF(n, "continue current management.", "stable, no changes today.",
                          "monitor closely."));
        }
        put(n, "\n");
    }
    for (size_t i = n->cond.n; i < n->meds.n; i++, k++) {
        putf(n, "%zu. ", k);
        put(n, "Continue ");
        put_display(n, n->meds.v[i], 1);
        put(n, ".\n");
    }
    for (size_t i = 0; i < n->hist.n && i < 3; i++, k++) {
        putf(n, "%zu. ", k);
        put_display(n, n->hist.v[i], 0);
        put(n, ONE_OF(n, ": chronic, stable.\n", ": continue current regimen.\n",
                      ": followed by primary care.\n"));
    }
    if (n->labs.n) {
        put(n, "Recheck ");
        put_display(n, n->labs.v[below(n, n->labs.n)], 1);
        put(n, ONE_OF(n, " in 3 months.\n", " at next visit.\n", " before follow-up.\n"));
    }
}

static void follow_up(struct note *n, int64_t from)
{
    int weeks = (int)(2 + below(n, 25));
    switch (below(n, 3)) {
    case 0:
        putf(n, "Follow up with ");
        put_doc(n, chance(n, 0.5));
        putf(n, " in %d weeks.\n", weeks);
        break;
    case 1:
        put(n, "Return to clinic on ");
        put_day(n, from + 7 * weeks);
        put(n, " with ");
        put_doc(n, 0);
        put(n, ".\n");
        break;
    default:
        put(n, "Referred to ");
        put_other_doc(n, &n->other.mother);
        putf(n, " (%s); ",
             ONE_OF(n, "cardiology", "endocrinology", "nephrology", "neurology", "pulmonology"));
        put(n, "PCP follow-up with ");
        put_other_doc(n, &n->other.name);
        putf(n, " in %d weeks.\n", weeks);
        break;
    }
}

/* --- the three kinds of note ---------------------------------------------------------------- */

static void clinic_note(struct note *n)
{
    header(n,
           chance(n, 0.5) ? ONE_OF(n, "PROGRESS NOTE", "OUTPATIENT VISIT", "CLINIC NOTE") : NULL);
    put(n, "CHIEF COMPLAINT\n");
    if (n->cond.n) {
        put_display(n, n->cond.v[0], 0);
        put(n, "\n\n");
    } else {
        put(n, ONE_OF(n, "Routine follow-up.\n\n", "Annual examination.\n\n",
                      "Medication review.\n\n"));
    }
    put(n, "HISTORY OF PRESENT ILLNESS\n");
    put_patient(n);
    put(n, " is ");
    put_age_phrase(n, n->age);
    history_sentence(n);
    put(n, " seen at ");
    phi(n, MF_PHI_HOSPITAL, n->hospital);
    if (n->cond.n) {
        put(n, " for ");
        put(n, ONE_OF(n, "evaluation of ", "follow-up of ", "management of "));
        put_list(n, &n->cond, 1);
        put(n, ".");
    } else {
        put(n, " for a routine visit.");
    }
    if (chance(n, 0.5)) {
        putf(n, " %s was last seen on ", he(n, 1));
        put_day(n, n->day - 30 - (int64_t)below(n, 300));
        put(n, " by ");
        put_other_doc(n, &n->other.name);
        put(n, ".");
    }
    if (chance(n, 0.6))
        relative_sentence(n);
    putf(n, " %s\n\n",
         ONE_OF(n, "Denies chest pain or shortness of breath.",
                "Reports good adherence to medications.", "No new complaints today.",
                "Reports mild fatigue."));
    pmh_section(n);
    meds_section(n, "MEDICATIONS", 0);
    family_social(n);
    put(n, "PHYSICAL EXAM\n");
    vitals(n);
    put(n, "General: well appearing, in no distress.\n\n");
    results_section(n, ONE_OF(n, "RESULTS", "LABS", "DATA REVIEWED"));
    put(n, "ASSESSMENT AND PLAN\n");
    put_patient(n);
    put(n, " is ");
    put_age_phrase(n, n->age);
    put(n, ONE_OF(n, " seen today.\n", " here for follow-up.\n", ".\n"));
    plan_items(n);
    follow_up(n, n->day);
    contact_lines(n);
    signature(n, n->day);
}

static void ed_note(struct note *n)
{
    header(n, ONE_OF(n, "EMERGENCY DEPARTMENT NOTE", "ED PROVIDER NOTE"));
    put(n, "CHIEF COMPLAINT\n");
    if (n->cond.n)
        put_display(n, n->cond.v[0], 0);
    else
        put(n, ONE_OF(n, "Shortness of breath", "Chest pain", "Fall", "Weakness"));
    put(n, "\n\nHISTORY OF PRESENT ILLNESS\n");
    put_patient(n);
    put(n, " is ");
    put_age_phrase(n, n->age);
    history_sentence(n);
    if (chance(n, 0.5)) {
        put(n, " brought to the ");
        phi(n, MF_PHI_HOSPITAL, n->hospital);
        putf(n, " emergency department by %s %s, ", his(n, 0), relation(n));
        put_name(n, &n->p->contact, 0);
        put(n, ",");
    } else {
        put(n, " who presented to the emergency department at ");
        phi(n, MF_PHI_HOSPITAL, n->hospital);
    }
    put(n, " on ");
    put_day(n, n->day);
    putf(n, " with %s.",
         ONE_OF(n, "acute symptoms", "worsening symptoms over two days",
                "sudden onset of symptoms"));
    if (chance(n, 0.5))
        relative_sentence(n);
    put(n, "\n\n");
    pmh_section(n);
    meds_section(n, "HOME MEDICATIONS", 0);
    put(n, "EXAM\n");
    vitals(n);
    put(n, "\n");
    results_section(n, "ED COURSE");
    if (n->meds.n) {
        put(n, "Given: ");
        for (size_t i = 0; i < n->meds.n; i++) {
            if (i)
                put(n, "; ");
            put_display(n, n->meds.v[i], 1);
        }
        put(n, ".\n\n");
    }
    put(n, "ASSESSMENT AND PLAN\n");
    plan_items(n);
    put(n, "\nDISPOSITION\n");
    if (chance(n, 0.7)) {
        put(n, "Discharged home in stable condition. ");
        follow_up(n, n->day);
    } else {
        put(n, "Transferred to ");
        char other[128];
        snprintf(other, sizeof other, "%s %s", n->other.city,
                 ONE_OF(n, "Medical Center", "General Hospital", "Regional Hospital"));
        phi(n, MF_PHI_HOSPITAL, other);
        put(n, " for further care; accepting physician ");
        put_other_doc(n, &n->other.contact);
        put(n, ".\n");
    }
    contact_lines(n);
    signature(n, n->day);
}

static void discharge_note(struct note *n)
{
    putf(n, "%s\n", ONE_OF(n, "DISCHARGE SUMMARY", "Discharge Summary"));
    put(n, "Patient: ");
    put_name(n, &n->p->name, chance(n, 0.5) ? 0 : 1);
    put(n, "   MRN: ");
    phi(n, MF_PHI_MRN, n->p->mrn);
    put(n, "\nAdmission date: ");
    put_day(n, n->day);
    put(n, "   Discharge date: ");
    put_day(n, n->end_day);
    put(n, "\nAttending: ");
    put_doc(n, 1);
    put(n, "\nFacility: ");
    phi(n, MF_PHI_HOSPITAL, n->hospital);
    put(n, "\n\nHISTORY OF PRESENT ILLNESS\n");
    put_patient(n);
    put(n, " is ");
    put_age_phrase(n, n->age);
    history_sentence(n);
    put(n, " admitted");
    if (n->cond.n) {
        put(n, " with ");
        put_list(n, &n->cond, 1);
    }
    put(n, ".");
    if (chance(n, 0.5))
        relative_sentence(n);
    put(n, "\n\n");
    pmh_section(n);
    put(n, "HOSPITAL COURSE\n");
    putf(n, "%s was admitted to ", he(n, 1));
    phi(n, MF_PHI_HOSPITAL, n->hospital);
    put(n, " on ");
    put_day(n, n->day);
    put(n, ".");
    if (n->procs.n) {
        putf(n, " %s underwent ", he(n, 1));
        put_list(n, &n->procs, 1);
        put(n, ".");
    }
    if (n->labs.n) {
        put(n, " Notable labs: ");
        for (size_t i = 0; i < n->labs.n; i++) {
            if (i)
                put(n, ", ");
            put_display(n, n->labs.v[i], 0);
            put(n, " ");
            put_value(n, n->labs.v[i]->value);
            put_unit(n, n->labs.v[i]->unit);
        }
        put(n, ".");
    }
    putf(n, " %s was discharged on ", he(n, 1));
    put_day(n, n->end_day);
    put(n, " in stable condition.\n\n");
    meds_section(n, "DISCHARGE MEDICATIONS", 1);
    put(n, "FOLLOW-UP\n");
    follow_up(n, n->end_day);
    contact_lines(n);
    signature(n, n->end_day);
}

int mf_synth_note_write(const struct mf_synth_lists *l, struct mf_rng *rng,
                        const struct mf_synth_visit *visit, struct mf_buf *text,
                        struct mf_phi_spans *spans)
{
    if (visit == NULL || visit->life == NULL || visit->person == NULL ||
        visit->encounter >= visit->life->n_items)
        return MF_EINVAL;
    struct note note;
    struct note *n = &note;
    memset(n, 0, sizeof *n);
    mf_buf_reset(text);
    spans->n = 0;
    n->l = l;
    n->rng = rng;
    n->b = text;
    n->sp = spans;
    n->v = visit;
    n->p = visit->person;
    n->life = visit->life;
    n->enc = &visit->life->items[visit->encounter];
    n->female = visit->life->female;
    n->day = day_of(n->enc->time);
    n->end_day = n->enc->end_time != MF_TIME_NONE && n->enc->end_time > n->enc->time
                     ? day_of(n->enc->end_time)
                     : n->day + 1 + (int64_t)below(n, 6);
    n->age = years_between(day_of(n->life->birth), n->day);
    n->date_style = (int)below(n, 7);
    mf_synth_person_make(l, rng, (int)below(n, 2), &n->other);

    const char *doc = visit->clinician;
    if (doc == NULL || doc[0] == '\0') {
        snprintf(n->doc, sizeof n->doc, "%.47s %.47s", n->other.contact.given,
                 n->other.contact.family);
    } else {
        if (strncmp(doc, "Dr. ", 4) == 0)
            doc += 4;
        snprintf(n->doc, sizeof n->doc, "%s", doc);
    }
    const char *sp = strrchr(n->doc, ' ');
    n->doc_family = sp ? sp + 1 : n->doc;
    if (visit->hospital && visit->hospital[0])
        snprintf(n->hospital, sizeof n->hospital, "%s", visit->hospital);
    else
        snprintf(n->hospital, sizeof n->hospital, "%.63s General Hospital", n->other.city);

    gather(n);
    switch (n->enc->enc_class) {
    case MF_SYN_EMER:
        ed_note(n);
        break;
    case MF_SYN_IMP:
        discharge_note(n);
        break;
    default:
        clinic_note(n);
        break;
    }
    return n->rc;
}
