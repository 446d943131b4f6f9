/* rules.c - structured de-identification of FHIR resources by rules written as data (see
 * rules.h and docs/deid-rules.md).
 *
 * How a resource is walked.  Every JSON member of the resource is a node with a FHIR path
 * (ResourceType.element.element, array items sharing their array's path) and a FHIR data type,
 * taken from the element table of rules_types.c (parent type + element name -> type; choice
 * elements by their type suffix; elements of type Resource by their resourceType) or, where the
 * table does not know the element, from the JSON shape and the primitive's format.  Element
 * names and types are interned to small integers once per process, so matching a node costs a
 * hash of its key and a few integer compares: rules are bucketed by the last name of their path
 * and by their type, and each bucket is sorted by rule number.
 *
 * Which rule decides a leaf.  Walking down, every rule that matches a node is pushed on a
 * stack for the node's subtree.  A leaf (string, number, boolean) is decided by the rule with
 * the lowest number among those on the stack whose method applies to it: keep, redact and
 * substitute apply to everything ("all-claiming"), dateshift and generalize year/month to
 * date/dateTime/instant, perturb to numbers, cryptohash to ids, identifier values and
 * references, text to strings, markdown, xhtml and attachment data; a rule matched directly on
 * the leaf applies to any string.  So a rule decides the parts of a node it knows how to treat
 * and leaves the rest to later rules; an earlier rule on a descendant beats a later rule on an
 * ancestor (a keep of Patient.address.state survives a later "Address: redact"); nothing that
 * no rule decides is changed.  Objects and arrays emptied by redaction are removed with them.
 *
 * Allocation: strings that do not grow are rewritten in place; longer ones and new nodes come
 * from cJSON's allocator (cJSON_malloc), which is the per-thread arena of core/json.c while an
 * arena tree is alive, so edited trees are released as usual.  Rule sets keep no cJSON.
 *
 * Errors name the rule (rules: "origin: rule N: ...") or the FHIR path (apply), never a value.
 */
#include "deid/rules.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <nettle/base64.h>
#include <nettle/hmac.h>

#include "core/fs.h"
#include "core/hash.h"
#include "core/timeutil.h"
#include "deid/zip3.h"

extern const char *const mf_deid_rules_type_table[];

#define MAX_RULES       4096
#define MAX_DEPTH       512
#define MAX_MATCH       4096
#define MAX_PATH_NAMES  64
#define MAX_RULES_BYTES ((size_t)16 << 20)
#define T_CHOICE        0xFFFFu

/* --- interned names ------------------------------------------------------------------------ */

struct name {
    char *s;
    uint32_t len, hash;
};

/* An open-addressing table of names; ids run from base + 1. */
struct names {
    struct name *v;
    uint32_t n, cap, base;
    uint32_t *slot; /* index + 1 into v, 0 empty */
    uint32_t mask;
};

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h ^ (h >> 15);
}

static uint32_t names_find(const struct names *t, const char *s, size_t n, uint32_t h)
{
    if (t->n == 0)
        return 0;
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        uint32_t k = t->slot[i];
        if (k == 0)
            return 0;
        const struct name *e = &t->v[k - 1];
        if (e->hash == h && e->len == n && memcmp(e->s, s, n) == 0)
            return t->base + k;
    }
}

static int names_rehash(struct names *t, uint32_t size)
{
    uint32_t *slot = calloc(size, sizeof *slot);
    if (slot == NULL)
        return MF_ENOMEM;
    free(t->slot);
    t->slot = slot;
    t->mask = size - 1;
    for (uint32_t k = 0; k < t->n; k++) {
        uint32_t i = t->v[k].hash & t->mask;
        while (t->slot[i])
            i = (i + 1) & t->mask;
        t->slot[i] = k + 1;
    }
    return 0;
}

/* The id of s[0..n), added when absent.  0 on allocation failure. */
static uint32_t names_add(struct names *t, const char *s, size_t n)
{
    uint32_t h = hash_bytes(s, n);
    uint32_t id = names_find(t, s, n, h);
    if (id)
        return id;
    if (n > 0xFFFF || t->n + 1 >= 0xFFFF - t->base)
        return 0;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? 2 * t->cap : 64;
        struct name *v = realloc(t->v, cap * sizeof *v);
        if (v == NULL)
            return 0;
        t->v = v;
        t->cap = cap;
    }
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, s, n);
    copy[n] = '\0';
    t->v[t->n++] = (struct name){copy, (uint32_t)n, h};
    if (t->slot == NULL || 2 * t->n > t->mask + 1) {
        uint32_t size = 64;
        while (size < 4 * t->n)
            size *= 2;
        if (names_rehash(t, size) != 0) {
            free(copy);
            t->n--;
            return 0;
        }
    } else {
        uint32_t i = h & t->mask;
        while (t->slot[i])
            i = (i + 1) & t->mask;
        t->slot[i] = t->n;
    }
    return t->base + t->n;
}

static void names_free(struct names *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        free(t->v[i].s);
    free(t->v);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* --- the FHIR type system (built once from rules_types.c) ----------------------------------- */

enum kind { K_NONE, K_PRIMITIVE, K_COMPLEX, K_BACKBONE, K_RESOURCE };

struct ftype {
    const char *name;
    uint8_t kind;
    uint8_t full; /* every element is tabled (not so for the 'L' resources and Resource) */
};

struct child {
    uint32_t key; /* parent type << 16 | element name id; 0 empty */
    uint16_t type;
    uint16_t alt; /* choice: name id of "prefix[x]" */
};

static struct {
    int ok;
    struct names names;
    struct ftype *types;
    uint32_t ntypes;
    uint16_t *name_type; /* by name id: the type of that name, 0 none */
    uint32_t name_type_n;
    struct child *child;
    uint32_t cmask;
    /* types and names the engine uses by id */
    uint16_t t_string, t_markdown, t_xhtml, t_date, t_datetime, t_instant, t_id, t_oid, t_uuid,
        t_uri, t_url, t_canonical, t_decimal, t_integer, t_positive, t_unsigned, t_boolean,
        t_base64, t_reference, t_identifier, t_attachment, t_extension, t_element, t_resource,
        t_humanname, t_address, t_contactpoint, t_codeableconcept, t_coding, t_quantity,
        t_narrative, t_period, t_annotation;
    uint32_t n_reference, n_value, n_data, n_postalcode, n_url, n_contenttype, n_fullurl, n_id;
} G;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static uint16_t type_by_name(const char *s, size_t n)
{
    uint32_t id = names_find(&G.names, s, n, hash_bytes(s, n));
    return id && id < G.name_type_n ? G.name_type[id] : 0;
}

static const struct child *child_find(uint32_t pt, uint32_t name)
{
    if (name == 0 || name > 0xFFFF || pt == 0)
        return NULL;
    uint32_t key = pt << 16 | name;
    uint32_t h = key * 2654435761u;
    for (uint32_t i = (h ^ (h >> 16)) & G.cmask;; i = (i + 1) & G.cmask) {
        if (G.child[i].key == key)
            return &G.child[i];
        if (G.child[i].key == 0)
            return NULL;
    }
}

static int child_put(uint32_t pt, uint32_t name, uint16_t type, uint16_t alt)
{
    if (name == 0 || name > 0xFFFF)
        return -1;
    uint32_t key = pt << 16 | name;
    uint32_t h = key * 2654435761u;
    for (uint32_t i = (h ^ (h >> 16)) & G.cmask;; i = (i + 1) & G.cmask) {
        if (G.child[i].key == key)
            return 0; /* explicit entries win over inherited ones */
        if (G.child[i].key == 0) {
            G.child[i] = (struct child){key, type, alt};
            return 0;
        }
    }
}

static int add_type(const char *s, size_t n, uint8_t kind)
{
    uint32_t id = names_add(&G.names, s, n);
    if (id == 0)
        return -1;
    if (id >= G.name_type_n) {
        uint32_t m = G.name_type_n ? G.name_type_n : 256;
        while (m <= id)
            m *= 2;
        uint16_t *v = realloc(G.name_type, m * sizeof *v);
        if (v == NULL)
            return -1;
        memset(v + G.name_type_n, 0, (m - G.name_type_n) * sizeof *v);
        G.name_type = v;
        G.name_type_n = m;
    }
    if (G.name_type[id])
        return G.name_type[id];
    G.types[G.ntypes] = (struct ftype){G.names.v[id - 1].s, kind, 1};
    G.name_type[id] = (uint16_t)G.ntypes;
    return (int)G.ntypes++;
}

static int add_alias(const char *s, size_t n, uint16_t t)
{
    uint32_t id = names_add(&G.names, s, n);
    if (id == 0 || id >= G.name_type_n)
        return -1;
    G.name_type[id] = t;
    return 0;
}

/* Insert the element "name:Type" or "name[x]" of type t. */
static int add_element(uint16_t t, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (colon == NULL) {
        if (n < 4 || memcmp(s + n - 3, "[x]", 3) != 0)
            return -1;
        uint32_t pre = names_add(&G.names, s, n - 3), alt = names_add(&G.names, s, n);
        return pre && alt && alt <= 0xFFFF ? child_put(t, pre, T_CHOICE, (uint16_t)alt) : -1;
    }
    uint32_t name = names_add(&G.names, s, (size_t)(colon - s));
    uint16_t ct = type_by_name(colon + 1, (size_t)(s + n - colon - 1));
    return name && ct ? child_put(t, name, ct, 0) : -1;
}

static void g_init(void)
{
    const char *const *tab = mf_deid_rules_type_table;
    size_t words = 0, ntab = 0;
    for (; tab[ntab]; ntab++)
        for (const char *p = tab[ntab]; *p; p++)
            words += *p == ' ';
    G.types = calloc(words + 16, sizeof *G.types);
    G.cmask = 8191;
    while (G.cmask + 1 < 4 * (words + 16 * 512))
        G.cmask = 2 * G.cmask + 1;
    G.child = calloc(G.cmask + 1, sizeof *G.child);
    if (G.types == NULL || G.child == NULL)
        return;
    G.ntypes = 1; /* 0: unknown */
    G.types[0] = (struct ftype){"", K_NONE, 0};
    /* pass 1: the types */
    for (size_t i = 0; i < ntab; i++) {
        const char *p = tab[i] + 2;
        char k = tab[i][0];
        uint8_t kind = k == 'P'   ? K_PRIMITIVE
                       : k == 'C' ? K_COMPLEX
                       : k == 'B' ? K_BACKBONE
                                  : K_RESOURCE;
        for (;;) {
            const char *e = strchr(p, ' ');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            int t = add_type(p, n, kind);
            if (t < 0)
                return;
            if (k == 'L')
                G.types[t].full = 0;
            if (kind == K_PRIMITIVE) { /* "String" for valueString */
                char cap[32];
                if (n >= sizeof cap)
                    return;
                memcpy(cap, p, n);
                cap[0] = (char)(cap[0] - 'a' + 'A');
                if (add_alias(cap, n, (uint16_t)t) != 0)
                    return;
            }
            if (k != 'L' || e == NULL)
                break;
            p = e + 1;
        }
    }
#define T(field, s) G.field = type_by_name(s, strlen(s))
    T(t_string, "string");
    T(t_markdown, "markdown");
    T(t_xhtml, "xhtml");
    T(t_date, "date");
    T(t_datetime, "dateTime");
    T(t_instant, "instant");
    T(t_id, "id");
    T(t_oid, "oid");
    T(t_uuid, "uuid");
    T(t_uri, "uri");
    T(t_url, "url");
    T(t_canonical, "canonical");
    T(t_decimal, "decimal");
    T(t_integer, "integer");
    T(t_positive, "positiveInt");
    T(t_unsigned, "unsignedInt");
    T(t_boolean, "boolean");
    T(t_base64, "base64Binary");
    T(t_reference, "Reference");
    T(t_identifier, "Identifier");
    T(t_attachment, "Attachment");
    T(t_extension, "Extension");
    T(t_element, "Element");
    T(t_resource, "Resource");
    T(t_humanname, "HumanName");
    T(t_address, "Address");
    T(t_contactpoint, "ContactPoint");
    T(t_codeableconcept, "CodeableConcept");
    T(t_coding, "Coding");
    T(t_quantity, "Quantity");
    T(t_narrative, "Narrative");
    T(t_period, "Period");
    T(t_annotation, "Annotation");
#undef T
    if (add_alias("DomainResource", 14, G.t_resource) != 0)
        return;
    G.types[G.t_resource].full = 0;
    /* pass 2: the elements, then the inherited ones */
    for (size_t i = 0; i < ntab; i++) {
        char k = tab[i][0];
        if (k == 'P' || k == 'L')
            continue;
        const char *p = tab[i] + 2, *e = strchr(p, ' ');
        uint16_t t = type_by_name(p, e ? (size_t)(e - p) : strlen(p));
        while (e) {
            p = e + 1;
            e = strchr(p, ' ');
            if (add_element(t, p, e ? (size_t)(e - p) : strlen(p)) != 0)
                return;
        }
    }
    static const char *const inh_element[] = {"id:string", "extension:Extension", NULL};
    static const char *const inh_backbone[] = {"id:string", "extension:Extension",
                                               "modifierExtension:Extension", NULL};
    static const char *const inh_resource[] = {"id:id",
                                               "meta:Meta",
                                               "implicitRules:uri",
                                               "language:code",
                                               "text:Narrative",
                                               "contained:Resource",
                                               "extension:Extension",
                                               "modifierExtension:Extension",
                                               NULL};
    for (uint32_t t = 1; t < G.ntypes; t++) {
        const char *const *inh = G.types[t].kind == K_COMPLEX    ? inh_element
                                 : G.types[t].kind == K_BACKBONE ? inh_backbone
                                 : G.types[t].kind == K_RESOURCE ? inh_resource
                                                                 : NULL;
        for (; inh && *inh; inh++)
            if (add_element((uint16_t)t, *inh, strlen(*inh)) != 0)
                return;
    }
#define N(field, s) G.field = names_add(&G.names, s, strlen(s))
    N(n_reference, "reference");
    N(n_value, "value");
    N(n_data, "data");
    N(n_postalcode, "postalCode");
    N(n_url, "url");
    N(n_contenttype, "contentType");
    N(n_fullurl, "fullUrl");
    N(n_id, "id");
#undef N
    G.ok = 1;
}

static int g_ready(struct mf_err *err)
{
    pthread_once(&g_once, g_init);
    return G.ok ? 0 : mf_err_set(err, MF_ENOMEM, "cannot build the FHIR type table");
}

static int is_resource_type(uint16_t t)
{
    return t && G.types[t].kind == K_RESOURCE;
}

static int is_date_type(uint16_t t)
{
    return t && (t == G.t_date || t == G.t_datetime || t == G.t_instant);
}

/* The type of the choice element k[0..n) of type pt ("valueQuantity" of Observation:
 * Quantity; "multipleBirthInteger" of Patient: integer), with *alt the name id of its
 * "prefix[x]"; 0 when k is not a choice element of pt. */
static uint16_t choice_type(uint16_t pt, const char *k, size_t n, uint32_t *alt)
{
    for (size_t u = 1; u < n; u++) {
        if (!(k[u] >= 'A' && k[u] <= 'Z'))
            continue;
        const struct child *c = child_find(pt, names_find(&G.names, k, u, hash_bytes(k, u)));
        if (c && c->type == T_CHOICE) {
            uint16_t t = type_by_name(k + u, n - u);
            if (t) {
                *alt = c->alt;
                return t;
            }
        }
    }
    return 0;
}

/* --- FHIR dates ------------------------------------------------------------------------------ */

struct fdate {
    int64_t y;
    unsigned m, d;
    int prec;       /* 1 year, 2 year-month, 3 date (maybe with a time) */
    int has_time;   /* a "T..." tail follows the date */
    size_t datelen; /* 4, 7 or 10 */
};

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static unsigned num2(const char *s)
{
    return (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
}

static int days_in_month(int64_t y, unsigned m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Parse a FHIR date, dateTime or instant: YYYY, YYYY-MM, YYYY-MM-DD, or
 * YYYY-MM-DDThh:mm[:ss[.f+]][Z|(+|-)hh:mm].  0 or -1. */
static int fdate_parse(const char *s, size_t n, struct fdate *f)
{
    memset(f, 0, sizeof *f);
    if (n < 4 || !digits(s, 4))
        return -1;
    f->y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    if (f->y < 1)
        return -1;
    f->prec = 1;
    f->datelen = 4;
    f->m = f->d = 1;
    if (n == 4)
        return 0;
    if (n < 7 || s[4] != '-' || !digits(s + 5, 2))
        return -1;
    f->m = num2(s + 5);
    if (f->m < 1 || f->m > 12)
        return -1;
    f->prec = 2;
    f->datelen = 7;
    if (n == 7)
        return 0;
    if (n < 10 || s[7] != '-' || !digits(s + 8, 2))
        return -1;
    f->d = num2(s + 8);
    if (f->d < 1 || (int)f->d > days_in_month(f->y, f->m))
        return -1;
    f->prec = 3;
    f->datelen = 10;
    if (n == 10)
        return 0;
    /* the time */
    const char *p = s + 10, *end = s + n;
    if (end - p < 6 || p[0] != 'T' || !digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2))
        return -1;
    if (num2(p + 1) > 23 || num2(p + 4) > 59)
        return -1;
    p += 6;
    if (p < end && *p == ':') {
        if (end - p < 3 || !digits(p + 1, 2) || num2(p + 1) > 60)
            return -1;
        p += 3;
        if (p < end && *p == '.') {
            const char *q = ++p;
            while (p < end && *p >= '0' && *p <= '9')
                p++;
            if (p == q)
                return -1;
        }
    }
    if (p < end && *p == 'Z')
        p++;
    else if (p < end && (*p == '+' || *p == '-')) {
        if (end - p < 6 || !digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2) ||
            num2(p + 1) > 14 || num2(p + 4) > 59)
            return -1;
        p += 6;
    }
    if (p != end)
        return -1;
    f->has_time = 1;
    return 0;
}

static void put_digits(char *out, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Shift f by days, keeping its precision: the first day of the period it names moves, and the
 * result is printed to the same precision.  Writes f->datelen bytes to out; -1 when the
 * result leaves the years 0001-9999. */
static int fdate_shift(const struct fdate *f, int64_t days, char *out)
{
    int64_t z = mf_days_from_civil(f->y, f->prec >= 2 ? f->m : 1, f->prec >= 3 ? f->d : 1) + days;
    int64_t y;
    unsigned m, d;
    mf_civil_from_days(z, &y, &m, &d);
    if (y < 1 || y > 9999)
        return -1;
    put_digits(out, y, 4);
    if (f->prec >= 2) {
        out[4] = '-';
        put_digits(out + 5, m, 2);
    }
    if (f->prec >= 3) {
        out[7] = '-';
        put_digits(out + 8, d, 2);
    }
    return 0;
}

/* --- rule sets ------------------------------------------------------------------------------- */

enum method {
    M_KEEP,
    M_REDACT,
    M_DATESHIFT,
    M_CRYPTOHASH,
    M_SUBSTITUTE,
    M_GENERALIZE,
    M_PERTURB,
    M_TEXT
};
static const char *const method_names[] = {"keep",       "redact",     "dateshift", "cryptohash",
                                           "substitute", "generalize", "perturb",   "text"};
enum { G_YEAR = 1, G_MONTH, G_ZIP3 };

struct rule {
    uint8_t method, to, proportional, keep_year, has_path, all;
    int8_t round_to; /* -1: no rounding */
    uint16_t type;   /* 0: no type selector */
    uint16_t root;   /* path: the type it starts from (t_resource: any resource) */
    uint16_t n;      /* path: number of element names */
    uint32_t elems[MAX_PATH_NAMES];
    char *url; /* extension url selector */
    double span;
    char *value; /* substitute: the value as JSON text */
    int value_is_string;
    size_t value_len;
};

struct mf_deid_rules {
    char *name;
    char sha[65];
    size_t n;
    struct rule *rules;
    struct names extra; /* path names the type table does not know */
    /* rule numbers by the last name of their path, by type, and for any resource (CSR) */
    uint32_t nkeys;
    uint32_t *key_off;
    uint16_t *key_rules;
    uint32_t *type_off;
    uint16_t *type_rules;
};

static int rerr(struct mf_err *err, const char *origin, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int rerr(struct mf_err *err, const char *origin, size_t i, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mf_err_set(err, MF_EPARSE, "%s: rule %zu: %s", origin, i + 1, msg);
}

static uint32_t name_id_any(const struct mf_deid_rules *r, const char *s, size_t n, uint32_t h)
{
    uint32_t id = names_find(&G.names, s, n, h);
    if (id == 0 && r->extra.n)
        id = names_find(&r->extra, s, n, h);
    return id;
}

/* Parse and check a path selector into ru. */
static int parse_path(struct mf_deid_rules *r, struct rule *ru, const char *path,
                      const char *origin, size_t i, struct mf_err *err)
{
    const char *p = path, *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    uint16_t t = n ? type_by_name(p, n) : 0;
    if (t == 0 || G.types[t].kind == K_BACKBONE)
        return rerr(err, origin, i,
                    "path '%s' must start with a resource type, 'Resource' or a data type", path);
    if (G.types[t].kind == K_PRIMITIVE && dot)
        return rerr(err, origin, i, "path '%s': a primitive type has no elements", path);
    ru->root = t;
    ru->has_path = 1;
    uint16_t cur = t; /* the type reached so far; 0 once unknown */
    while (dot) {
        p = dot + 1;
        dot = strchr(p, '.');
        n = dot ? (size_t)(dot - p) : strlen(p);
        int ok = n > 0 && ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z'));
        for (size_t k = 1; ok && k < n; k++) {
            char c = p[k];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (c == '[' && k + 3 == n && p[k + 1] == 'x' && p[k + 2] == ']');
            if (c == '[')
                break;
        }
        if (!ok)
            return rerr(err, origin, i, "path '%s' has a bad element name", path);
        if (ru->n == MAX_PATH_NAMES)
            return rerr(err, origin, i, "path '%s' is too long", path);
        uint32_t id = names_find(&G.names, p, n, hash_bytes(p, n));
        uint16_t next = 0;
        if (cur) {
            const struct child *c = child_find(cur, id);
            if (c && c->type != T_CHOICE)
                next = c->type;
            else if (n > 3 && memcmp(p + n - 3, "[x]", 3) == 0 &&
                     (c = child_find(cur, names_find(&G.names, p, n - 3, hash_bytes(p, n - 3)))) !=
                         NULL &&
                     c->type == T_CHOICE)
                next = 0; /* any of the choice's types */
            else {
                uint32_t alt_unused;
                uint16_t st = choice_type(cur, p, n, &alt_unused);
                if (st == 0 && G.types[cur].full) {
                    char tn[96];
                    snprintf(tn, sizeof tn, "%s", G.types[cur].name);
                    char msg[256];
                    snprintf(msg, sizeof msg, "path '%s': '%.*s' is not an element of %s", path,
                             (int)(n > 64 ? 64 : n), p, tn);
                    return rerr(err, origin, i, "%s", msg);
                }
                next = st;
            }
            if (next && is_resource_type(next) && next == G.t_resource)
                next = 0; /* contained: any resource */
            if (next && G.types[next].kind == K_PRIMITIVE && dot)
                return rerr(err, origin, i, "path '%s' goes below a primitive element", path);
        }
        if (id == 0) {
            id = names_add(&r->extra, p, n);
            if (id == 0)
                return mf_err_set(err, MF_ENOMEM, "out of memory");
        }
        ru->elems[ru->n++] = id;
        cur = next;
    }
    return 0;
}

static int is_key(const char *k, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(k, *allowed) == 0)
            return 1;
    return 0;
}

static int parse_rule(struct mf_deid_rules *r, struct rule *ru, const cJSON *o, const char *origin,
                      size_t i, struct mf_err *err)
{
    if (!cJSON_IsObject(o))
        return rerr(err, origin, i, "not an object");
    memset(ru, 0, sizeof *ru);
    ru->round_to = -1;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "method");
    if (m == NULL)
        return rerr(err, origin, i, "no method");
    if (!cJSON_IsString(m))
        return rerr(err, origin, i, "method must be a string");
    size_t mi = 0;
    while (mi < sizeof method_names / sizeof *method_names &&
           strcmp(m->valuestring, method_names[mi]) != 0)
        mi++;
    if (mi == sizeof method_names / sizeof *method_names) {
        char shown[40];
        snprintf(shown, sizeof shown, "%.32s", m->valuestring);
        return rerr(err, origin, i, "unknown method '%s'", shown);
    }
    ru->method = (uint8_t)mi;
    ru->all = mi == M_KEEP || mi == M_REDACT || mi == M_SUBSTITUTE;
    static const char *const common[] = {"path",    "type",        "url", "method",
                                         "comment", "description", NULL};
    static const char *const p_redact[] = {"keep_year", NULL};
    static const char *const p_subst[] = {"value", NULL};
    static const char *const p_gen[] = {"to", NULL};
    static const char *const p_perturb[] = {"span", "range_type", "round_to", NULL};
    static const char *const p_none[] = {NULL};
    const char *const *params = mi == M_REDACT       ? p_redact
                                : mi == M_SUBSTITUTE ? p_subst
                                : mi == M_GENERALIZE ? p_gen
                                : mi == M_PERTURB    ? p_perturb
                                                     : p_none;
    for (const cJSON *k = o->child; k; k = k->next) {
        if (is_key(k->string, common) || is_key(k->string, params))
            continue;
        char shown[40];
        snprintf(shown, sizeof shown, "%.32s", k->string);
        return rerr(err, origin, i, "'%s' is not a parameter of method '%s'", shown,
                    method_names[mi]);
    }
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(o, "path");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(o, "url");
    if (!path && !type && !url)
        return rerr(err, origin, i, "no selector (path, type or url)");
    if ((path && !cJSON_IsString(path)) || (type && !cJSON_IsString(type)) ||
        (url && !cJSON_IsString(url)))
        return rerr(err, origin, i, "path, type and url must be strings");
    if (type) {
        ru->type = type_by_name(type->valuestring, strlen(type->valuestring));
        if (ru->type == 0 || G.types[ru->type].kind == K_BACKBONE ||
            (type->valuestring[0] >= 'A' && type->valuestring[0] <= 'Z' &&
             G.types[ru->type].kind == K_PRIMITIVE)) {
            char shown[72];
            snprintf(shown, sizeof shown, "%.64s", type->valuestring);
            return rerr(err, origin, i, "unknown type '%s'", shown);
        }
    }
    if (path) {
        int rc = parse_path(r, ru, path->valuestring, origin, i, err);
        if (rc)
            return rc;
        if (ru->n == 0) { /* "Patient": the resource itself, a type selector */
            if (ru->type && ru->type != ru->root)
                return rerr(err, origin, i, "path and type select different types");
            ru->type = ru->root;
            ru->has_path = 0;
        }
    }
    if (url) {
        if (url->valuestring[0] == '\0')
            return rerr(err, origin, i, "url is empty");
        if (ru->type && ru->type != G.t_extension)
            return rerr(err, origin, i,
                        "a url selector selects extensions; type must be Extension");
        if (!ru->has_path)
            ru->type = G.t_extension;
        ru->url = strdup(url->valuestring);
        if (ru->url == NULL)
            return mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    switch (mi) {
    case M_REDACT: {
        const cJSON *ky = cJSON_GetObjectItemCaseSensitive(o, "keep_year");
        if (ky && !cJSON_IsBool(ky))
            return rerr(err, origin, i, "keep_year must be true or false");
        ru->keep_year = cJSON_IsTrue(ky);
        break;
    }
    case M_SUBSTITUTE: {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
        if (v == NULL)
            return rerr(err, origin, i, "substitute needs a 'value'");
        char *text = cJSON_PrintUnformatted(v);
        if (text == NULL)
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        if (cJSON_IsString(v)) {
            ru->value_is_string = 1;
            ru->value_len = strlen(v->valuestring);
            ru->value = strdup(v->valuestring);
        } else {
            ru->value_len = strlen(text);
            ru->value = strdup(text);
        }
        cJSON_free(text);
        if (ru->value == NULL)
            return mf_err_set(err, MF_ENOMEM, "out of memory");
        break;
    }
    case M_GENERALIZE: {
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(o, "to");
        if (to == NULL)
            return rerr(err, origin, i, "generalize needs 'to' (year, month or zip3)");
        const char *s = cJSON_IsString(to) ? to->valuestring : "";
        ru->to = strcmp(s, "year") == 0    ? G_YEAR
                 : strcmp(s, "month") == 0 ? G_MONTH
                 : strcmp(s, "zip3") == 0  ? G_ZIP3
                                           : 0;
        if (ru->to == 0)
            return rerr(err, origin, i, "'to' must be year, month or zip3");
        if (ru->to == G_ZIP3) {
            int rc = mf_deid_zip3_init(NULL, err);
            if (rc)
                return rc;
        }
        break;
    }
    case M_PERTURB: {
        const cJSON *span = cJSON_GetObjectItemCaseSensitive(o, "span");
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(o, "range_type");
        const cJSON *rd = cJSON_GetObjectItemCaseSensitive(o, "round_to");
        if (span == NULL)
            return rerr(err, origin, i, "perturb needs a 'span'");
        if (!cJSON_IsNumber(span) || !(span->valuedouble >= 0) || !isfinite(span->valuedouble))
            return rerr(err, origin, i, "span must be a number >= 0");
        ru->span = span->valuedouble;
        if (rt) {
            const char *s = cJSON_IsString(rt) ? rt->valuestring : "";
            if (strcmp(s, "proportional") == 0)
                ru->proportional = 1;
            else if (strcmp(s, "fixed") != 0)
                return rerr(err, origin, i, "range_type must be fixed or proportional");
        }
        if (rd) {
            if (!cJSON_IsNumber(rd) || rd->valuedouble < 0 || rd->valuedouble > 12 ||
                rd->valuedouble != floor(rd->valuedouble))
                return rerr(err, origin, i, "round_to must be a whole number from 0 to 12");
            ru->round_to = (int8_t)rd->valuedouble;
        }
        if (ru->proportional && ru->span > 1)
            return rerr(err, origin, i, "a proportional span is at most 1");
        break;
    }
    default:
        break;
    }
    return 0;
}

/* Build the CSR buckets: rule numbers by last path name, by type (index ntypes: "Resource"). */
static int build_buckets(struct mf_deid_rules *r, struct mf_err *err)
{
    r->nkeys = G.names.n + r->extra.n + 1;
    uint32_t nt = G.ntypes + 1;
    r->key_off = calloc(r->nkeys + 1, sizeof *r->key_off);
    r->type_off = calloc(nt + 1, sizeof *r->type_off);
    r->key_rules = malloc((r->n + 1) * sizeof *r->key_rules);
    r->type_rules = malloc((r->n + 1) * sizeof *r->type_rules);
    if (!r->key_off || !r->type_off || !r->key_rules || !r->type_rules)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < r->n; i++) {
            const struct rule *ru = &r->rules[i];
            uint32_t *off;
            uint16_t *v;
            uint32_t at;
            if (ru->has_path) {
                off = r->key_off;
                v = r->key_rules;
                at = ru->elems[ru->n - 1];
            } else {
                off = r->type_off;
                v = r->type_rules;
                at = ru->type == G.t_resource ? G.ntypes : ru->type;
            }
            if (pass == 0)
                off[at + 1]++;
            else
                v[off[at]++] = (uint16_t)i;
        }
        if (pass == 0) {
            for (uint32_t k = 0; k < r->nkeys; k++)
                r->key_off[k + 1] += r->key_off[k];
            for (uint32_t k = 0; k < nt; k++)
                r->type_off[k + 1] += r->type_off[k];
        } else {
            /* off[k] now holds the end of bucket k: shift back */
            memmove(r->key_off + 1, r->key_off, r->nkeys * sizeof *r->key_off);
            r->key_off[0] = 0;
            memmove(r->type_off + 1, r->type_off, nt * sizeof *r->type_off);
            r->type_off[0] = 0;
        }
    }
    return 0;
}

int mf_deid_rules_parse(const char *json, size_t n, const char *origin, struct mf_deid_rules **out,
                        struct mf_err *err)
{
    *out = NULL;
    if (origin == NULL)
        origin = "rules";
    int rc = g_ready(err);
    if (rc)
        return rc;
    if (json == NULL)
        return mf_err_set(err, MF_EINVAL, "%s: no rules text", origin);
    if (n > MAX_RULES_BYTES)
        return mf_err_set(err, MF_ETOOBIG, "%s: rules over %zu bytes", origin, MAX_RULES_BYTES);
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, n, &end, 0);
    if (doc == NULL)
        return mf_err_set(err, MF_EPARSE, "%s: not valid JSON (byte %zu)", origin,
                          end && end >= json ? (size_t)(end - json) : (size_t)0);
    struct mf_deid_rules *r = calloc(1, sizeof *r);
    if (r == NULL) {
        cJSON_Delete(doc);
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    }
    r->extra.base = G.names.n;
    const cJSON *rules = NULL, *name = NULL;
    if (!cJSON_IsObject(doc)) {
        rc = mf_err_set(err, MF_EPARSE, "%s: a rule set is a JSON object", origin);
        goto done;
    }
    static const char *const top[] = {"name", "version", "description", "comment", "rules", NULL};
    for (const cJSON *k = doc->child; k; k = k->next)
        if (!is_key(k->string, top)) {
            rc = mf_err_set(err, MF_EPARSE, "%s: unknown key '%.32s'", origin, k->string);
            goto done;
        }
    name = cJSON_GetObjectItemCaseSensitive(doc, "name");
    rules = cJSON_GetObjectItemCaseSensitive(doc, "rules");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(doc, "version");
    if ((name && !cJSON_IsString(name)) || (version && !cJSON_IsNumber(version))) {
        rc = mf_err_set(err, MF_EPARSE, "%s: name must be a string and version a number", origin);
        goto done;
    }
    if (!cJSON_IsArray(rules)) {
        rc = mf_err_set(err, MF_EPARSE, "%s: no \"rules\" array", origin);
        goto done;
    }
    int count = cJSON_GetArraySize(rules);
    if (count > MAX_RULES) {
        rc = mf_err_set(err, MF_ETOOBIG, "%s: more than %d rules", origin, MAX_RULES);
        goto done;
    }
    r->rules = calloc((size_t)count + 1, sizeof *r->rules);
    if (r->rules == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto done;
    }
    for (const cJSON *o = rules->child; o; o = o->next) {
        rc = parse_rule(r, &r->rules[r->n], o, origin, r->n, err);
        r->n++; /* so that free releases what the rule holds */
        if (rc)
            goto done;
    }
    if (name && name->valuestring[0])
        r->name = strdup(name->valuestring);
    else {
        const char *b = strrchr(origin, '/');
        b = b ? b + 1 : origin;
        size_t bl = strlen(b);
        if (bl > 5 && strcmp(b + bl - 5, ".json") == 0)
            bl -= 5;
        r->name = strndup(b, bl);
    }
    if (r->name == NULL) {
        rc = mf_err_set(err, MF_ENOMEM, "out of memory");
        goto done;
    }
    rc = mf_sha256_hex(json, n, r->sha);
    if (rc) {
        mf_err_set(err, rc, "cannot hash the rules");
        goto done;
    }
    rc = build_buckets(r, err);
done:
    cJSON_Delete(doc);
    if (rc) {
        mf_deid_rules_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int mf_deid_rules_load(const char *name_or_path, struct mf_deid_rules **out, struct mf_err *err)
{
    *out = NULL;
    if (name_or_path == NULL || name_or_path[0] == '\0')
        return mf_err_set(err, MF_EINVAL, "no de-identification profile named");
    size_t n = strlen(name_or_path);
    char path[4096];
    if (strchr(name_or_path, '/') || (n > 5 && strcmp(name_or_path + n - 5, ".json") == 0)) {
        if (n >= sizeof path)
            return mf_err_set(err, MF_EINVAL, "rule file path too long");
        memcpy(path, name_or_path, n + 1);
    } else {
        for (size_t i = 0; i < n; i++) {
            char c = name_or_path[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.'))
                return mf_err_set(err, MF_EINVAL, "'%.64s' is not a profile name", name_or_path);
        }
        int k =
            snprintf(path, sizeof path, "%s/%s.json", mf_data_dir("deid/profiles"), name_or_path);
        if (k < 0 || (size_t)k >= sizeof path)
            return mf_err_set(err, MF_EINVAL, "profile path too long");
        if (!mf_fs_exists(path))
            return mf_err_set(err, MF_ENOTFOUND,
                              "no de-identification profile '%s' (looked for '%s')", name_or_path,
                              path);
    }
    struct mf_buf b = MF_BUF_INIT;
    int rc = mf_fs_read_file(path, MAX_RULES_BYTES, &b, err);
    if (rc == 0)
        rc = mf_deid_rules_parse(b.data ? b.data : "", b.len, path, out, err);
    mf_buf_release(&b);
    return rc;
}

void mf_deid_rules_free(struct mf_deid_rules *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->rules[i].url);
        free(r->rules[i].value);
    }
    free(r->rules);
    free(r->name);
    names_free(&r->extra);
    free(r->key_off);
    free(r->key_rules);
    free(r->type_off);
    free(r->type_rules);
    free(r);
}

const char *mf_deid_rules_name(const struct mf_deid_rules *r)
{
    return r ? r->name : NULL;
}

const char *mf_deid_rules_sha256(const struct mf_deid_rules *r)
{
    return r ? r->sha : NULL;
}

/* --- references ----------------------------------------------------------------------------- */

/* Pseudonyms with the HMAC key schedule and label computed once per resource: the same bytes as
 * mf_deid_pseudonym (HMAC-SHA256(key, "subject\0" + id), 16 bytes as hex), at half the cost.
 * Short ids are also cached per thread (a resource's subject and encounter recur in every
 * resource of a patient); the cache holds one key's pseudonyms and is emptied when the key
 * changes. */
struct pseu {
    const struct mf_deid_key *key;
    int ready;
    struct hmac_sha256_ctx ctx;
};

#define PCACHE_SLOTS 256
#define PCACHE_ID    54

static _Thread_local struct {
    uint8_t key[MF_DEID_KEY_BYTES];
    struct {
        uint8_t len; /* id length + 1; 0: empty */
        char id[PCACHE_ID];
        char hex[32];
    } e[PCACHE_SLOTS];
} pcache;

static void pseu_hex(struct pseu *p, const char *s, size_t n, char out[33])
{
    static const char hexd[] = "0123456789abcdef";
    if (!p->ready) {
        hmac_sha256_set_key(&p->ctx, sizeof p->key->bytes, p->key->bytes);
        hmac_sha256_update(&p->ctx, 8, (const uint8_t *)"subject");
        if (memcmp(pcache.key, p->key->bytes, sizeof pcache.key) != 0) {
            memset(&pcache, 0, sizeof pcache);
            memcpy(pcache.key, p->key->bytes, sizeof pcache.key);
        }
        p->ready = 1;
    }
    size_t slot = PCACHE_SLOTS;
    if (n > 0 && n <= PCACHE_ID) {
        slot = hash_bytes(s, n) & (PCACHE_SLOTS - 1);
        if (pcache.e[slot].len == n + 1 && memcmp(pcache.e[slot].id, s, n) == 0) {
            memcpy(out, pcache.e[slot].hex, 32);
            out[32] = '\0';
            return;
        }
    }
    struct hmac_sha256_ctx c = p->ctx;
    hmac_sha256_update(&c, n, (const uint8_t *)s);
    uint8_t d[SHA256_DIGEST_SIZE];
    hmac_sha256_digest(&c, sizeof d, d);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hexd[d[i] >> 4];
        out[2 * i + 1] = hexd[d[i] & 15];
    }
    out[32] = '\0';
    if (slot < PCACHE_SLOTS) {
        pcache.e[slot].len = (uint8_t)(n + 1);
        memcpy(pcache.e[slot].id, s, n);
        memcpy(pcache.e[slot].hex, out, 32);
    }
}

static int put_pseudo(struct pseu *key, const char *s, size_t n, struct mf_buf *out)
{
    char p[33];
    pseu_hex(key, s, n, p);
    return mf_buf_append(out, p, 32);
}

static int is_type_segment(const char *s, size_t n)
{
    if (n == 0 || !(s[0] >= 'A' && s[0] <= 'Z'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static int has_prefix(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && memcmp(s, p, k) == 0;
}

static int ref_rewrite(struct pseu *key, const char *ref, size_t n, struct mf_buf *out)
{
    if (n == 0)
        return 0;
    if (ref[0] == '#') /* a contained resource; "#" alone is the container */
        return n == 1 ? mf_buf_putc(out, '#')
               : (mf_buf_putc(out, '#') || put_pseudo(key, ref + 1, n - 1, out)) ? MF_ENOMEM
                                                                                 : 0;
    if (has_prefix(ref, n, "urn:uuid:")) {
        char p[33];
        pseu_hex(key, ref + 9, n - 9, p);
        char u[36];
        size_t k = 0;
        for (int i = 0; i < 32; i++) {
            if (i == 8 || i == 12 || i == 16 || i == 20)
                u[k++] = '-';
            u[k++] = p[i];
        }
        return mf_buf_append(out, "urn:uuid:", 9) || mf_buf_append(out, u, 36) ? MF_ENOMEM : 0;
    }
    if (has_prefix(ref, n, "urn:")) { /* other URNs: keep the namespace */
        const char *c = ref + n;
        while (c > ref + 4 && c[-1] != ':')
            c--;
        if (c == ref + 4)
            return put_pseudo(key, ref, n, out);
        return mf_buf_append(out, ref, (size_t)(c - ref)) ||
                       put_pseudo(key, c, (size_t)(ref + n - c), out)
                   ? MF_ENOMEM
                   : 0;
    }
    const char *q = memchr(ref, '?', n);
    if (q) { /* conditional: Type?name=value&name=system|value */
        if (mf_buf_append(out, ref, (size_t)(q - ref + 1)))
            return MF_ENOMEM;
        const char *p = q + 1, *end = ref + n;
        while (p < end) {
            const char *amp = memchr(p, '&', (size_t)(end - p));
            const char *e = amp ? amp : end;
            const char *eq = memchr(p, '=', (size_t)(e - p));
            if (eq == NULL) {
                if (put_pseudo(key, p, (size_t)(e - p), out))
                    return MF_ENOMEM;
            } else {
                const char *v = eq + 1;
                const char *bar = memchr(v, '|', (size_t)(e - v));
                const char *h = bar ? bar + 1 : v;
                if (mf_buf_append(out, p, (size_t)(h - p)) ||
                    (e > h && put_pseudo(key, h, (size_t)(e - h), out)))
                    return MF_ENOMEM;
            }
            if (amp && mf_buf_putc(out, '&'))
                return MF_ENOMEM;
            p = amp ? amp + 1 : end;
        }
        return 0;
    }
    /* [base/]Type/id[/_history/version] */
    size_t m = n;
    const char *hist = NULL;
    for (size_t i = 0; i + 10 <= n; i++)
        if (memcmp(ref + i, "/_history/", 10) == 0) {
            hist = ref + i;
            m = i;
            break;
        }
    const char *slash = m ? memchr(ref, '/', m) : NULL;
    const char *last = NULL;
    for (size_t i = m; i > 0; i--)
        if (ref[i - 1] == '/') {
            last = ref + i - 1;
            break;
        }
    if (slash && last && last + 1 < ref + m) {
        const char *tstart = last;
        while (tstart > ref && tstart[-1] != '/')
            tstart--;
        if (is_type_segment(tstart, (size_t)(last - tstart))) {
            if (mf_buf_append(out, ref, (size_t)(last + 1 - ref)) ||
                put_pseudo(key, last + 1, (size_t)(ref + m - last - 1), out) ||
                (hist && mf_buf_append(out, hist, (size_t)(ref + n - hist))))
                return MF_ENOMEM;
            return 0;
        }
    }
    return put_pseudo(key, ref, n, out);
}

int mf_deid_rules_reference(const struct mf_deid_key *key, const char *ref, size_t n,
                            struct mf_buf *out)
{
    if (key == NULL || (ref == NULL && n))
        return MF_EINVAL;
    struct pseu p;
    p.key = key;
    p.ready = 0;
    return ref_rewrite(&p, ref, n, out);
}

/* --- applying -------------------------------------------------------------------------------- */

struct level {
    const char *name;  /* the JSON key */
    uint32_t key, alt; /* name ids (alt: "value[x]" for a choice) */
    uint16_t type;
    uint16_t klen;
};

struct match {
    uint16_t rule, depth;
};

struct walk {
    const struct mf_deid_rules *r;
    const struct mf_deid_apply *a;
    struct mf_err *err;
    int64_t days;
    uint32_t bound; /* lowest all-claiming rule on the stack (r->n: none) */
    int probe;      /* substitute probe: decide leaves, change nothing */
    uint32_t probe_rule;
    int probe_other;
    size_t nm;
    struct match m[MAX_MATCH];
    struct level lv[MAX_DEPTH];
    struct mf_buf s1, s2;
    struct pseu pseu;
};

/* The FHIR path of the node at depth d (from its resource), for errors.  Names the table and
 * the rules do not know are printed as "?": a key of malformed input could hold anything. */
static const char *path_of(const struct walk *w, int d, char *buf, size_t cap)
{
    int root = d;
    while (root > 0 && !is_resource_type(w->lv[root].type))
        root--;
    size_t k = 0;
    int wrote = snprintf(buf, cap, "%s", G.types[w->lv[root].type].name);
    k = wrote > 0 ? (size_t)wrote : 0;
    for (int i = root + 1; i <= d && k < cap; i++) {
        const struct level *L = &w->lv[i];
        if (L->key || L->alt)
            wrote =
                snprintf(buf + k, cap - k, ".%.*s", (int)(L->klen > 64 ? 64 : L->klen), L->name);
        else
            wrote = snprintf(buf + k, cap - k, ".?");
        k += wrote > 0 ? (size_t)wrote : 0;
    }
    return buf;
}

static int node_err(struct walk *w, int d, int code, const char *what)
{
    char p[512];
    return mf_err_set(w->err, code, "%s: %s", path_of(w, d, p, sizeof p), what);
}

/* Shape-based typing for objects the table does not know. */
static uint16_t shape_type(const cJSON *o)
{
    unsigned f = 0;
    enum {
        F_REF = 1,
        F_DISPLAY = 2,
        F_NAME = 4,
        F_ADDR = 8,
        F_CODING = 16,
        F_SYSTEM = 32,
        F_CODE = 64,
        F_NUMVAL = 128,
        F_STRVAL = 256,
        F_DIV = 512,
        F_ATT = 1024,
        F_PERIOD = 2048,
        F_URL = 4096,
        F_VALUEX = 8192,
        F_TEXT = 16384,
        F_AUTHOR = 32768,
        F_OTHER = 65536
    };
    const char *system = NULL;
    for (const cJSON *c = o->child; c; c = c->next) {
        const char *k = c->string;
        if (k == NULL)
            continue;
        if (strcmp(k, "reference") == 0)
            f |= F_REF;
        else if (strcmp(k, "display") == 0)
            f |= F_DISPLAY;
        else if (strcmp(k, "family") == 0 || strcmp(k, "given") == 0)
            f |= F_NAME;
        else if (strcmp(k, "line") == 0 || strcmp(k, "city") == 0 || strcmp(k, "postalCode") == 0 ||
                 strcmp(k, "district") == 0)
            f |= F_ADDR;
        else if (strcmp(k, "coding") == 0)
            f |= F_CODING;
        else if (strcmp(k, "system") == 0) {
            f |= F_SYSTEM;
            system = cJSON_IsString(c) ? c->valuestring : NULL;
        } else if (strcmp(k, "code") == 0)
            f |= F_CODE;
        else if (strcmp(k, "value") == 0)
            f |= cJSON_IsNumber(c) ? F_NUMVAL : cJSON_IsString(c) ? F_STRVAL : F_OTHER;
        else if (strcmp(k, "div") == 0)
            f |= F_DIV;
        else if (strcmp(k, "contentType") == 0 || strcmp(k, "data") == 0)
            f |= F_ATT;
        else if (strcmp(k, "start") == 0 || strcmp(k, "end") == 0)
            f |= F_PERIOD;
        else if (strcmp(k, "url") == 0)
            f |= F_URL;
        else if (strncmp(k, "value", 5) == 0 && k[5] >= 'A' && k[5] <= 'Z')
            f |= F_VALUEX;
        else if (strcmp(k, "text") == 0)
            f |= F_TEXT;
        else if (strncmp(k, "author", 6) == 0 || strcmp(k, "time") == 0)
            f |= F_AUTHOR;
    }
    if (f & F_NAME)
        return G.t_humanname;
    if (f & F_ADDR)
        return G.t_address;
    if (f & F_DIV)
        return G.t_narrative;
    if (f & F_REF)
        return G.t_reference;
    if (f & F_CODING)
        return G.t_codeableconcept;
    if (f & F_ATT)
        return G.t_attachment;
    if ((f & F_URL) && (f & F_VALUEX))
        return G.t_extension;
    if ((f & F_NUMVAL) && (f & (F_CODE | F_SYSTEM)))
        return G.t_quantity;
    if ((f & F_STRVAL) && system &&
        (strcmp(system, "phone") == 0 || strcmp(system, "fax") == 0 ||
         strcmp(system, "email") == 0 || strcmp(system, "pager") == 0 ||
         strcmp(system, "url") == 0 || strcmp(system, "sms") == 0 || strcmp(system, "other") == 0))
        return G.t_contactpoint;
    if (f & F_STRVAL)
        return G.t_identifier;
    if ((f & F_CODE) && (f & (F_SYSTEM | F_DISPLAY)))
        return G.t_coding;
    if ((f & F_TEXT) && (f & F_AUTHOR))
        return G.t_annotation;
    if (f & F_PERIOD)
        return G.t_period;
    if ((f & F_DISPLAY) && !(f & ~(F_DISPLAY)))
        return G.t_reference;
    return 0;
}

static uint16_t resource_type_of(const cJSON *o)
{
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(o, "resourceType");
    if (!cJSON_IsString(rt))
        return G.t_resource;
    uint16_t t = type_by_name(rt->valuestring, strlen(rt->valuestring));
    return is_resource_type(t) ? t : G.t_resource;
}

/* The FHIR type of v, the value of member k (name id kid) of an object of type pt. */
static uint16_t child_type(uint16_t pt, const struct level *L, const cJSON *v, uint32_t *alt)
{
    *alt = 0;
    uint16_t t = 0;
    const char *k = L->name;
    size_t kl = L->klen;
    if (pt) {
        const struct child *c = child_find(pt, L->key);
        if (c && c->type != T_CHOICE)
            t = c->type;
        else {
            t = choice_type(pt, k, kl, alt);
        }
    }
    if (t == 0 && k[0] == '_' && cJSON_IsObject(v))
        return G.t_element;
    if (t) {
        uint8_t kind = G.types[t].kind;
        if (kind == K_RESOURCE)
            return cJSON_IsObject(v) ? resource_type_of(v) : 0;
        if (kind == K_PRIMITIVE) {
            if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
                return t;
        } else if (cJSON_IsObject(v))
            return t;
    }
    /* fallback: the JSON shape */
    if (cJSON_IsObject(v)) {
        if (cJSON_GetObjectItemCaseSensitive(v, "resourceType"))
            return resource_type_of(v);
        for (size_t u = 1; u < kl; u++)
            if (k[u] >= 'A' && k[u] <= 'Z') {
                uint16_t st = type_by_name(k + u, kl - u);
                if (st && G.types[st].kind == K_COMPLEX)
                    return st;
            }
        return shape_type(v);
    }
    if (cJSON_IsString(v)) {
        struct fdate f;
        size_t n = strlen(v->valuestring);
        if (n >= 7 && fdate_parse(v->valuestring, n, &f) == 0)
            return f.has_time ? G.t_datetime : G.t_date;
        return G.t_string;
    }
    if (cJSON_IsNumber(v))
        return G.t_decimal;
    if (cJSON_IsBool(v))
        return G.t_boolean;
    return 0;
}

static int rule_matches(const struct walk *w, const struct rule *ru, const cJSON *node, int d)
{
    const struct level *lv = w->lv;
    if (ru->type) {
        uint16_t t = lv[d].type;
        if (ru->type == G.t_resource ? !is_resource_type(t) : ru->type != t)
            return 0;
    }
    if (ru->has_path) {
        int n = ru->n;
        if (n > d)
            return 0;
        for (int i = 0; i < n; i++) {
            const struct level *L = &lv[d - n + 1 + i];
            if (ru->elems[i] != L->key && ru->elems[i] != L->alt)
                return 0;
        }
        uint16_t rt = lv[d - n].type;
        if (ru->root == G.t_resource ? !is_resource_type(rt) : ru->root != rt)
            return 0;
    }
    if (ru->url) {
        const cJSON *u =
            cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, "url") : NULL;
        if (u == NULL || !cJSON_IsString(u) || strcmp(u->valuestring, ru->url) != 0)
            return 0;
    }
    return 1;
}

/* Push every rule matching the node at depth d whose number is below the bound, in order,
 * stopping after an all-claiming one (which lowers the bound). */
static int match_node(struct walk *w, const cJSON *node, int d)
{
    const struct mf_deid_rules *r = w->r;
    const struct level *L = &w->lv[d];
    const uint16_t *list[4];
    size_t len[4], pos[4] = {0, 0, 0, 0};
    int nl = 0;
    if (L->key && L->key < r->nkeys && r->key_off[L->key + 1] > r->key_off[L->key]) {
        list[nl] = r->key_rules + r->key_off[L->key];
        len[nl++] = r->key_off[L->key + 1] - r->key_off[L->key];
    }
    if (L->alt && L->alt < r->nkeys && r->key_off[L->alt + 1] > r->key_off[L->alt]) {
        list[nl] = r->key_rules + r->key_off[L->alt];
        len[nl++] = r->key_off[L->alt + 1] - r->key_off[L->alt];
    }
    if (L->type && r->type_off[L->type + 1] > r->type_off[L->type]) {
        list[nl] = r->type_rules + r->type_off[L->type];
        len[nl++] = r->type_off[L->type + 1] - r->type_off[L->type];
    }
    if (is_resource_type(L->type) && r->type_off[G.ntypes + 1] > r->type_off[G.ntypes]) {
        list[nl] = r->type_rules + r->type_off[G.ntypes];
        len[nl++] = r->type_off[G.ntypes + 1] - r->type_off[G.ntypes];
    }
    while (nl) {
        int best = -1;
        uint32_t bi = w->bound;
        for (int j = 0; j < nl; j++)
            if (pos[j] < len[j] && list[j][pos[j]] < bi) {
                bi = list[j][pos[j]];
                best = j;
            }
        if (best < 0)
            break;
        pos[best]++;
        const struct rule *ru = &r->rules[bi];
        if (!rule_matches(w, ru, node, d))
            continue;
        if (w->nm == MAX_MATCH)
            return node_err(w, d, MF_ETOOBIG, "too many rules match along this path");
        w->m[w->nm++] = (struct match){(uint16_t)bi, (uint16_t)d};
        if (ru->all) {
            w->bound = bi;
            break;
        }
    }
    return 0;
}

/* Whether rule ru (matched at depth md) applies to the leaf v at depth d. */
static int applies(const struct walk *w, const struct rule *ru, const cJSON *v, int d, int md)
{
    const struct level *L = &w->lv[d];
    uint16_t t = L->type, pt = d > 0 ? w->lv[d - 1].type : 0;
    int direct = md == d, str = cJSON_IsString(v);
    switch (ru->method) {
    case M_KEEP:
    case M_REDACT:
    case M_SUBSTITUTE:
        return 1;
    case M_DATESHIFT:
        return is_date_type(t) || (direct && str);
    case M_GENERALIZE:
        if (ru->to == G_ZIP3)
            return str && (direct || (L->key == G.n_postalcode && pt == G.t_address));
        return is_date_type(t) || (direct && str);
    case M_PERTURB:
        return cJSON_IsNumber(v);
    case M_CRYPTOHASH:
        return direct || t == G.t_id || t == G.t_oid || t == G.t_uuid ||
               (pt == G.t_identifier && L->key == G.n_value) ||
               (pt == G.t_reference && L->key == G.n_reference);
    case M_TEXT:
        return str && (direct || t == G.t_string || t == G.t_markdown || t == G.t_xhtml ||
                       (pt == G.t_attachment && L->key == G.n_data));
    }
    return 0;
}

/* Replace the string of node (old length oldlen) by s[0..n). */
static int set_str(cJSON *node, size_t oldlen, const char *s, size_t n)
{
    if (n <= oldlen) {
        memmove(node->valuestring, s, n);
        node->valuestring[n] = '\0';
        return 0;
    }
    char *p = cJSON_malloc(n + 1);
    if (p == NULL)
        return MF_ENOMEM;
    memcpy(p, s, n);
    p[n] = '\0';
    cJSON_free(node->valuestring);
    node->valuestring = p;
    return 0;
}

/* Put repl in the place of node in parent (the key moves over); node is deleted. */
static void replace_node(cJSON *parent, cJSON *node, cJSON *repl)
{
    repl->string = node->string;
    repl->type = (repl->type & ~cJSON_StringIsConst) | (node->type & cJSON_StringIsConst);
    node->string = NULL;
    node->type &= ~cJSON_StringIsConst;
    cJSON_ReplaceItemViaPointer(parent, node, repl);
}

static int substitute(struct walk *w, const struct rule *ru, cJSON *parent, cJSON *node, int d)
{
    if (ru->value_is_string && cJSON_IsString(node))
        return set_str(node, strlen(node->valuestring), ru->value, ru->value_len);
    cJSON *v = ru->value_is_string ? cJSON_CreateString(ru->value)
                                   : cJSON_ParseWithLength(ru->value, ru->value_len);
    if (v == NULL)
        return node_err(w, d, MF_ENOMEM, "out of memory");
    if (parent == NULL) {
        cJSON_Delete(v);
        return node_err(w, d, MF_EINVAL, "substitute cannot replace a whole resource");
    }
    replace_node(parent, node, v);
    return 0;
}

/* HMAC noise in [-1, 1) for perturb. */
static double noise(const struct walk *w, int d, double v)
{
    char p[512];
    path_of(w, d, p, sizeof p);
    char num[40];
    int nn = snprintf(num, sizeof num, "%.17g", v);
    struct hmac_sha256_ctx c;
    hmac_sha256_set_key(&c, sizeof w->a->key->bytes, w->a->key->bytes);
    hmac_sha256_update(&c, 8, (const uint8_t *)"perturb");
    hmac_sha256_update(&c, strlen(p) + 1, (const uint8_t *)p);
    hmac_sha256_update(&c, (size_t)(nn > 0 ? nn : 0), (const uint8_t *)num);
    uint8_t dg[SHA256_DIGEST_SIZE];
    hmac_sha256_digest(&c, sizeof dg, dg);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | dg[i];
    return (double)(x >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

static int perturb(struct walk *w, const struct rule *ru, cJSON *node, int d)
{
    double v = node->valuedouble;
    if (!isfinite(v))
        return 0;
    double u = noise(w, d, v);
    double nv = v + u * (ru->proportional ? ru->span * fabs(v) : ru->span);
    uint16_t t = w->lv[d].type;
    int whole = t == G.t_integer || t == G.t_positive || t == G.t_unsigned;
    if (whole)
        nv = round(nv);
    else if (ru->round_to >= 0) {
        double s = pow(10.0, ru->round_to);
        double r = round(nv * s) / s;
        if (isfinite(r))
            nv = r;
    }
    if (t == G.t_positive && nv < 1)
        nv = 1;
    if (t == G.t_unsigned && nv < 0)
        nv = 0;
    cJSON_SetNumberValue(node, nv);
    return 0;
}

static int b64_encode(const char *s, size_t n, struct mf_buf *out)
{
    mf_buf_reset(out);
    size_t k = BASE64_ENCODE_RAW_LENGTH(n);
    if (mf_buf_grow(out, k + 1))
        return MF_ENOMEM;
    base64_encode_raw(out->data, n, (const uint8_t *)s);
    out->len = k;
    out->data[k] = '\0';
    return 0;
}

static int utf8_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\n' && c != '\r' && c != '\t')
                return 0;
            i++;
            continue;
        }
        size_t k = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
        if (k == 0 || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

static int call_text(struct walk *w, const char *s, size_t n, struct mf_buf *out, int d)
{
    int rc = w->a->text(w->a->text_arg, s, n, out, w->err);
    if (rc)
        return w->err && w->err->code ? rc : node_err(w, d, rc, "text de-identification failed");
    return 0;
}

/* Narrative XHTML: text runs de-identified one by one; tags kept without their attributes
 * (but xmlns, colspan and rowspan); comments and processing instructions dropped. */
static int text_xhtml(struct walk *w, const char *s, size_t n, struct mf_buf *out, int d)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] == '<') {
            size_t j = i + 1;
            char quote = 0;
            while (j < n && (quote || s[j] != '>')) {
                if (quote && s[j] == quote)
                    quote = 0;
                else if (!quote && (s[j] == '"' || s[j] == '\''))
                    quote = s[j];
                j++;
            }
            if (j >= n)
                break; /* unterminated: the rest is dropped */
            const char *t = s + i + 1, *te = s + j;
            if (t < te && (*t == '!' || *t == '?')) {
                if (te - t >= 3 && memcmp(t, "!--", 3) == 0) {
                    const char *e = NULL;
                    for (size_t k = i + 4; k + 2 < n; k++)
                        if (memcmp(s + k, "-->", 3) == 0) {
                            e = s + k;
                            break;
                        }
                    i = e ? (size_t)(e - s) + 3 : n;
                } else
                    i = j + 1;
                continue;
            }
            int closing = t < te && *t == '/';
            if (closing)
                t++;
            const char *ne = t;
            while (ne < te && ((*ne >= 'a' && *ne <= 'z') || (*ne >= 'A' && *ne <= 'Z') ||
                               (*ne >= '0' && *ne <= '9')))
                ne++;
            int self = te > t && te[-1] == '/';
            if (mf_buf_putc(out, '<') || (closing && mf_buf_putc(out, '/')) ||
                mf_buf_append(out, t, (size_t)(ne - t)))
                return node_err(w, d, MF_ENOMEM, "out of memory");
            /* the attributes worth keeping */
            const char *p = ne;
            while (!closing && p < te) {
                while (p < te && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                    p++;
                const char *an = p;
                while (p < te && *p != '=' && *p != ' ' && *p != '/' && *p != '>')
                    p++;
                size_t al = (size_t)(p - an);
                if (p < te && *p == '=') {
                    p++;
                    const char *vs = p, *ve;
                    if (p < te && (*p == '"' || *p == '\'')) {
                        char qc = *p++;
                        vs = p;
                        while (p < te && *p != qc)
                            p++;
                        ve = p;
                        if (p < te)
                            p++;
                    } else {
                        while (p < te && *p != ' ' && *p != '/')
                            p++;
                        ve = p;
                    }
                    int keep = 0;
                    if (al == 5 && memcmp(an, "xmlns", 5) == 0)
                        keep = (size_t)(ve - vs) == 28 &&
                               memcmp(vs, "http://www.w3.org/1999/xhtml", 28) == 0;
                    else if ((al == 7 && memcmp(an, "colspan", 7) == 0) ||
                             (al == 7 && memcmp(an, "rowspan", 7) == 0))
                        keep = ve > vs && ve - vs < 4 && digits(vs, (size_t)(ve - vs));
                    if (keep &&
                        (mf_buf_putc(out, ' ') || mf_buf_append(out, an, al) ||
                         mf_buf_append(out, "=\"", 2) ||
                         mf_buf_append(out, vs, (size_t)(ve - vs)) || mf_buf_putc(out, '"')))
                        return node_err(w, d, MF_ENOMEM, "out of memory");
                } else if (al == 0 && p < te)
                    p++;
            }
            if ((self && mf_buf_putc(out, '/')) || mf_buf_putc(out, '>'))
                return node_err(w, d, MF_ENOMEM, "out of memory");
            i = j + 1;
            continue;
        }
        size_t j = i;
        int blank = 1;
        while (j < n && s[j] != '<') {
            blank &= s[j] == ' ' || s[j] == '\n' || s[j] == '\r' || s[j] == '\t';
            j++;
        }
        if (blank) {
            if (mf_buf_append(out, s + i, j - i))
                return node_err(w, d, MF_ENOMEM, "out of memory");
        } else {
            mf_buf_reset(&w->s2);
            int rc = call_text(w, s + i, j - i, &w->s2, d);
            if (rc)
                return rc;
            for (size_t k = 0; k < w->s2.len; k++) {
                char c = w->s2.data[k];
                int e = c == '<'   ? mf_buf_append(out, "&lt;", 4)
                        : c == '>' ? mf_buf_append(out, "&gt;", 4)
                                   : mf_buf_putc(out, c);
                if (e)
                    return node_err(w, d, MF_ENOMEM, "out of memory");
            }
        }
        i = j;
    }
    return 0;
}

/* Method text on a string leaf.  1: remove the node. */
static int text_leaf(struct walk *w, cJSON *parent, cJSON *node, int d, size_t n)
{
    if (w->a->text == NULL)
        return 1;
    const struct level *L = &w->lv[d];
    uint16_t pt = d > 0 ? w->lv[d - 1].type : 0;
    struct mf_buf *out = &w->s1;
    mf_buf_reset(out);
    int rc;
    if (pt == G.t_attachment && L->key == G.n_data) {
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(parent, "contentType");
        const char *cts = cJSON_IsString(ct) ? ct->valuestring : NULL;
        if (cts && strncasecmp(cts, "text/", 5) != 0)
            return 1; /* binary content cannot be de-identified */
        rc = mf_base64_decode(node->valuestring, n, &w->s2);
        if (rc == MF_ENOMEM)
            return node_err(w, d, rc, "out of memory");
        if (rc)
            return node_err(w, d, MF_EPARSE, "attachment data is not valid base64");
        if (cts == NULL && !utf8_text(w->s2.data, w->s2.len))
            return 1;
        /* s2 is reused by text_xhtml only; copy the decoded text out of it */
        struct mf_buf plain = MF_BUF_INIT;
        rc = mf_buf_append(&plain, w->s2.data ? w->s2.data : "", w->s2.len);
        if (rc == 0)
            rc = call_text(w, plain.data, plain.len, out, d);
        mf_buf_release(&plain);
        if (rc)
            return rc;
        rc = b64_encode(out->data ? out->data : "", out->len, &w->s2);
        if (rc)
            return node_err(w, d, rc, "out of memory");
        return set_str(node, n, w->s2.data, w->s2.len) ? node_err(w, d, MF_ENOMEM, "out of memory")
                                                       : 0;
    }
    if (L->type == G.t_xhtml)
        rc = text_xhtml(w, node->valuestring, n, out, d);
    else
        rc = call_text(w, node->valuestring, n, out, d);
    if (rc)
        return rc;
    return set_str(node, n, out->data ? out->data : "", out->len)
               ? node_err(w, d, MF_ENOMEM, "out of memory")
               : 0;
}

/* Decide and treat a leaf.  0 keep, 1 remove, < 0 error. */
static int leaf(struct walk *w, cJSON *parent, cJSON *node, int d)
{
    uint32_t best = UINT32_MAX;
    int direct = 0;
    for (size_t i = 0; i < w->nm; i++) {
        uint32_t ri = w->m[i].rule;
        if (ri < best && applies(w, &w->r->rules[ri], node, d, w->m[i].depth)) {
            best = ri;
            direct = w->m[i].depth == d;
        } else if (ri == best && w->m[i].depth == d)
            direct = 1;
    }
    if (w->probe) {
        if (best != w->probe_rule)
            w->probe_other = 1;
        return 0;
    }
    if (best == UINT32_MAX)
        return 0;
    const struct rule *ru = &w->r->rules[best];
    if (ru->method == M_KEEP || (w->a->only_text && ru->method != M_TEXT))
        return 0;
    int str = cJSON_IsString(node);
    size_t n = str ? strlen(node->valuestring) : 0;
    struct fdate f;
    switch (ru->method) {
    case M_KEEP:
        return 0;
    case M_REDACT:
        if (ru->keep_year && str && (is_date_type(w->lv[d].type) || direct) &&
            fdate_parse(node->valuestring, n, &f) == 0) {
            node->valuestring[4] = '\0';
            return 0;
        }
        return 1;
    case M_SUBSTITUTE: /* matched on an ancestor that could not be replaced whole: removed */
        return direct ? substitute(w, ru, parent, node, d) : 1;
    case M_DATESHIFT:
    case M_GENERALIZE:
        if (ru->method == M_GENERALIZE && ru->to == G_ZIP3) {
            char z[4];
            mf_deid_zip3(node->valuestring, n, z);
            return set_str(node, n, z, 3);
        }
        if (!str || fdate_parse(node->valuestring, n, &f) != 0) {
            char what[64];
            snprintf(what, sizeof what, "rule %u (%s): not a FHIR date", best + 1,
                     method_names[ru->method]);
            return node_err(w, d, MF_EPARSE, what);
        }
        if (ru->method == M_GENERALIZE) {
            size_t keep = ru->to == G_YEAR ? 4 : f.prec >= 2 ? 7 : 4;
            node->valuestring[keep] = '\0';
            return 0;
        }
        if (fdate_shift(&f, w->days, node->valuestring) != 0)
            return node_err(w, d, MF_EPARSE, "the shifted date leaves the years 0001-9999");
        return 0;
    case M_PERTURB:
        return perturb(w, ru, node, d);
    case M_CRYPTOHASH: {
        if (!str) {
            char what[64];
            snprintf(what, sizeof what, "rule %u (cryptohash): not a string", best + 1);
            return node_err(w, d, MF_EPARSE, what);
        }
        const struct level *L = &w->lv[d];
        uint16_t pt = d > 0 ? w->lv[d - 1].type : 0;
        int ref = (pt == G.t_reference && L->key == G.n_reference) || L->type == G.t_uri ||
                  L->type == G.t_url || L->type == G.t_canonical;
        mf_buf_reset(&w->s1);
        int rc = ref ? ref_rewrite(&w->pseu, node->valuestring, n, &w->s1)
                     : put_pseudo(&w->pseu, node->valuestring, n, &w->s1);
        if (rc == 0)
            rc = set_str(node, n, w->s1.data ? w->s1.data : "", w->s1.len);
        return rc ? node_err(w, d, MF_ENOMEM, "out of memory") : 0;
    }
    case M_TEXT:
        return text_leaf(w, parent, node, d, n);
    }
    return 0;
}

static int walk_value(struct walk *w, cJSON *parent, cJSON *node, int d);

static int walk_member(struct walk *w, cJSON *obj, cJSON *c, int d)
{
    uint16_t pt = w->lv[d - 1].type;
    if (cJSON_IsArray(c)) {
        int had = c->child != NULL;
        for (cJSON *it = c->child, *next; it; it = next) {
            next = it->next;
            int rc;
            if (cJSON_IsArray(it))
                rc = walk_member(w, c, it, d);
            else {
                uint32_t alt;
                w->lv[d].type = child_type(pt, &w->lv[d], it, &alt);
                w->lv[d].alt = alt;
                rc = walk_value(w, c, it, d);
            }
            if (rc < 0)
                return rc;
            if (rc == 1 && !w->probe) {
                cJSON_DetachItemViaPointer(c, it);
                cJSON_Delete(it);
            }
        }
        return had && c->child == NULL && !w->probe ? 1 : 0;
    }
    uint32_t alt;
    w->lv[d].type = child_type(pt, &w->lv[d], c, &alt);
    w->lv[d].alt = alt;
    return walk_value(w, obj, c, d);
}

static int walk_children(struct walk *w, cJSON *node, int d)
{
    if (d + 1 >= MAX_DEPTH)
        return node_err(w, d, MF_ETOOBIG, "nested too deeply");
    int had = node->child != NULL;
    struct level *L = &w->lv[d + 1];
    for (cJSON *c = node->child, *next; c; c = next) {
        next = c->next;
        const char *k = c->string;
        if (k == NULL)
            continue;
        uint32_t h = 2166136261u;
        size_t kl = 0;
        for (; k[kl]; kl++)
            h = (h ^ (unsigned char)k[kl]) * 16777619u;
        h ^= h >> 15;
        if (kl == 12 && memcmp(k, "resourceType", 12) == 0)
            continue;
        L->name = k;
        L->klen = (uint16_t)(kl > 0xFFFF ? 0xFFFF : kl);
        L->key = kl > 0xFFFF ? 0 : name_id_any(w->r, k, kl, h);
        int rc = walk_member(w, node, c, d + 1);
        if (rc < 0)
            return rc;
        if (rc == 1 && !w->probe) {
            cJSON_DetachItemViaPointer(node, c);
            cJSON_Delete(c);
        }
    }
    return had && node->child == NULL && !w->probe ? 1 : 0;
}

static int walk_value(struct walk *w, cJSON *parent, cJSON *node, int d)
{
    size_t nm0 = w->nm;
    uint32_t bound0 = w->bound;
    int rc = match_node(w, node, d);
    if (rc == 0) {
        if (cJSON_IsObject(node)) {
            const struct rule *ru = w->bound < bound0 ? &w->r->rules[w->bound] : NULL;
            if (ru && ru->method == M_SUBSTITUTE && !w->probe && parent && !w->a->only_text) {
                /* replace the whole node, unless an earlier rule decides part of it */
                w->probe = 1;
                w->probe_rule = w->bound;
                w->probe_other = 0;
                rc = walk_children(w, node, d);
                w->probe = 0;
                if (rc >= 0 && !w->probe_other) {
                    rc = substitute(w, ru, parent, node, d);
                    w->nm = nm0;
                    w->bound = bound0;
                    return rc;
                }
            }
            if (rc >= 0)
                rc = walk_children(w, node, d);
        } else if (cJSON_IsArray(node)) {
            rc = 0; /* arrays are walked by walk_member */
        } else
            rc = leaf(w, parent, node, d);
    }
    w->nm = nm0;
    w->bound = bound0;
    return rc;
}

int mf_deid_rules_apply(const struct mf_deid_rules *r, const struct mf_deid_apply *a,
                        struct cJSON *resource, struct mf_err *err)
{
    if (r == NULL || a == NULL || a->key == NULL || resource == NULL)
        return mf_err_set(err, MF_EINVAL, "no rules, key or resource");
    if (!cJSON_IsObject(resource))
        return mf_err_set(err, MF_EINVAL, "a FHIR resource is a JSON object");
    struct walk *w = malloc(sizeof *w);
    if (w == NULL)
        return mf_err_set(err, MF_ENOMEM, "out of memory");
    w->r = r;
    w->a = a;
    w->err = err;
    w->days = a->shift / MF_USEC_PER_DAY;
    w->bound = (uint32_t)r->n;
    w->probe = 0;
    w->probe_rule = 0;
    w->probe_other = 0;
    w->nm = 0;
    w->s1 = (struct mf_buf)MF_BUF_INIT;
    w->s2 = (struct mf_buf)MF_BUF_INIT;
    w->pseu.key = a->key;
    w->pseu.ready = 0;
    uint16_t t = resource_type_of(resource);
    w->lv[0] = (struct level){G.types[t].name, 0, 0, t, (uint16_t)strlen(G.types[t].name)};
    int rc = walk_value(w, NULL, resource, 0);
    mf_buf_release(&w->s1);
    mf_buf_release(&w->s2);
    free(w);
    return rc < 0 ? rc : 0;
}
