/* eval.c - corpora and metrics for the PHI tagger (see eval.h and docs/deid-text.md). */
#include "deid/eval.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fs.h"
#include "core/json.h"
#include "core/strmap.h"

#define MAX_CORPUS ((size_t)1 << 30)

/* --- corpora ------------------------------------------------------------------------------ */

static int doc_add(struct mf_deid_corpus *c, const char *text, size_t n)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        struct mf_deid_doc *v = realloc(c->docs, cap * sizeof *v);
        if (v == NULL)
            return MF_ENOMEM;
        c->docs = v;
        c->cap = cap;
    }
    struct mf_deid_doc *d = &c->docs[c->n];
    memset(d, 0, sizeof *d);
    d->text = malloc(n + 1);
    if (d->text == NULL)
        return MF_ENOMEM;
    if (n)
        memcpy(d->text, text, n);
    d->text[n] = '\0';
    d->n = n;
    c->n++;
    return 0;
}

static int gold_add(struct mf_deid_doc *d, size_t s, size_t e, int cat)
{
    if (d->ngold == d->capgold) {
        size_t cap = d->capgold ? d->capgold * 2 : 8;
        struct mf_deid_gold *v = realloc(d->gold, cap * sizeof *v);
        if (v == NULL)
            return MF_ENOMEM;
        d->gold = v;
        d->capgold = cap;
    }
    d->gold[d->ngold++] = (struct mf_deid_gold){s, e, cat};
    return 0;
}

void mf_deid_corpus_free(struct mf_deid_corpus *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->docs[i].text);
        free(c->docs[i].gold);
    }
    free(c->docs);
    memset(c, 0, sizeof *c);
}

/* Byte offset of code point cp in s[0..n) (n when past the end). */
static size_t cp_to_byte(const char *s, size_t n, size_t cp)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (k == cp)
                return i;
            k++;
        }
    }
    return n;
}

/* A month name or its abbreviation ("Mar", "Sept", "March"), any case. */
static int month_word(const char *s, size_t n)
{
    static const char *const m[] = {"january",   "february", "march",    "april",
                                    "may",       "june",     "july",     "august",
                                    "september", "october",  "november", "december"};
    char w[12];
    if (n < 3 || n >= sizeof w)
        return 0;
    for (size_t i = 0; i < n; i++)
        w[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] | 0x20 : s[i]);
    for (size_t i = 0; i < 12; i++) {
        size_t k = strlen(m[i]);
        if ((n == k || n == 3 || (i == 8 && n == 4)) && n <= k && memcmp(w, m[i], n) == 0)
            return 1;
    }
    return 0;
}

int mf_deid_eval_date_is_phi(const char *s, size_t n)
{
    /* a month name as a word */
    for (size_t i = 0; i < n;) {
        if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')) {
            size_t j = i;
            while (j < n && ((s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= 'a' && s[j] <= 'z')))
                j++;
            if (month_word(s + i, j - i))
                return 1;
            i = j;
        } else {
            i++;
        }
    }
    /* two numbers joined by '/', '-' or '.', not part of a time of day (digits around ':') */
    for (size_t i = 0; i + 2 < n; i++) {
        if (s[i] >= '0' && s[i] <= '9' && (s[i + 1] == '/' || s[i + 1] == '-' || s[i + 1] == '.') &&
            s[i + 2] >= '0' && s[i + 2] <= '9') {
            size_t a = i;
            while (a > 0 && s[a - 1] >= '0' && s[a - 1] <= '9')
                a--;
            if (a > 0 && s[a - 1] == ':')
                continue;
            return 1;
        }
    }
    return 0;
}

int mf_deid_eval_age_is_phi(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            unsigned v = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9' && v < 100000)
                v = v * 10 + (unsigned)(s[i++] - '0');
            return v > 89;
        }
    }
    return 1;
}

static int presidio_cat(const char *t, const char *s, size_t n)
{
    static const struct {
        const char *type;
        int cat;
    } map[] = {{"PERSON", MF_DEID_NAME},
               {"STREET_ADDRESS", MF_DEID_ADDRESS},
               {"GPE", MF_DEID_CITY},
               {"DATE_TIME", MF_DEID_DATE},
               {"PHONE_NUMBER", MF_DEID_PHONE},
               {"AGE", MF_DEID_AGE},
               {"EMAIL_ADDRESS", MF_DEID_EMAIL},
               {"ZIP_CODE", MF_DEID_ZIP},
               {"US_SSN", MF_DEID_SSN},
               {"IP_ADDRESS", MF_DEID_IP},
               {"CREDIT_CARD", MF_DEID_ID},
               {"IBAN_CODE", MF_DEID_ID},
               {"US_DRIVER_LICENSE", MF_DEID_ID},
               {"DOMAIN_NAME", MF_DEID_URL}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(t, map[i].type) != 0)
            continue;
        if (map[i].cat == MF_DEID_DATE && !mf_deid_eval_date_is_phi(s, n))
            return MF_DEID_EVAL_IGNORED;
        if (map[i].cat == MF_DEID_AGE && !mf_deid_eval_age_is_phi(s, n))
            return MF_DEID_EVAL_IGNORED;
        return map[i].cat;
    }
    return MF_DEID_EVAL_IGNORED; /* ORGANIZATION, TITLE, NRP and anything unknown */
}

int mf_deid_corpus_load_presidio(const char *path, struct mf_deid_corpus *c, struct mf_err *err)
{
    cJSON *root = mf_json_read_file(path, MAX_CORPUS, err);
    if (root == NULL)
        return err && err->code ? err->code : MF_EPARSE;
    if (!cJSON_IsArray(root)) {
        mf_json_release(root);
        return mf_err_set(err, MF_EPARSE, "%s: expected a JSON array", path);
    }
    int rc = 0;
    size_t idx = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        const char *text = mf_json_str(it, "full_text");
        if (text == NULL) {
            rc = mf_err_set(err, MF_EPARSE, "%s: item %zu has no full_text", path, idx);
            break;
        }
        size_t n = strlen(text);
        if ((rc = doc_add(c, text, n)) != 0)
            break;
        struct mf_deid_doc *d = &c->docs[c->n - 1];
        const cJSON *sp;
        cJSON_ArrayForEach(sp, mf_json_arr(it, "spans"))
        {
            const char *type = mf_json_str(sp, "entity_type");
            const cJSON *s0 = cJSON_GetObjectItemCaseSensitive(sp, "start_position");
            const cJSON *e0 = cJSON_GetObjectItemCaseSensitive(sp, "end_position");
            if (type == NULL || !cJSON_IsNumber(s0) || !cJSON_IsNumber(e0) || s0->valuedouble < 0 ||
                e0->valuedouble < s0->valuedouble) {
                rc = mf_err_set(err, MF_EPARSE, "%s: item %zu has a malformed span", path, idx);
                break;
            }
            size_t s = cp_to_byte(text, n, (size_t)s0->valuedouble);
            size_t e = cp_to_byte(text, n, (size_t)e0->valuedouble);
            if (e <= s)
                continue;
            if ((rc = gold_add(d, s, e, presidio_cat(type, text + s, e - s))) != 0)
                break;
        }
        if (rc)
            break;
        idx++;
    }
    mf_json_release(root);
    if (rc == MF_ENOMEM)
        mf_err_set(err, rc, "%s: out of memory", path);
    return rc;
}

int mf_deid_corpus_load_synth(const char *dir, struct mf_deid_corpus *c, struct mf_err *err)
{
    char path[4096];
    struct mf_strmap ids;
    mf_strmap_init(&ids);
    struct mf_reader r;
    int rc;
    if ((size_t)snprintf(path, sizeof path, "%s/DocumentReference.ndjson", dir) >= sizeof path)
        return mf_err_set(err, MF_EINVAL, "corpus path too long");
    if ((rc = mf_reader_open(&r, path, err)) != 0)
        return rc;
    char *line;
    size_t len;
    struct mf_buf dec = MF_BUF_INIT;
    while ((rc = mf_reader_line(&r, &line, &len, err)) == 1) {
        if (len == 0)
            continue;
        size_t off = 0;
        cJSON *res = mf_json_parse(line, len, &off);
        if (res == NULL) {
            rc = mf_err_set(err, MF_EPARSE, "%s:%lld: JSON syntax error at byte %zu", path,
                            (long long)r.line, off);
            break;
        }
        const char *id = mf_json_str(res, "id");
        const cJSON *content = mf_json_arr(res, "content");
        const cJSON *c0 = content ? cJSON_GetArrayItem(content, 0) : NULL;
        const char *data = c0 ? mf_json_str(mf_json_obj(c0, "attachment"), "data") : NULL;
        if (id == NULL || data == NULL) {
            mf_json_release(res);
            continue;
        }
        rc = mf_base64_decode(data, strlen(data), &dec);
        if (rc) {
            mf_json_release(res);
            if (rc == MF_EPARSE)
                rc = mf_err_set(err, MF_EPARSE, "%s:%lld: attachment is not valid base64", path,
                                (long long)r.line);
            break;
        }
        size_t outn = dec.len;
        int added;
        struct mf_strmap_slot *sl = mf_strmap_upsert(&ids, id, strlen(id), &added);
        if (sl == NULL || doc_add(c, dec.data, outn) != 0) {
            mf_json_release(res);
            rc = MF_ENOMEM;
            break;
        }
        sl->value = c->n - 1;
        mf_json_release(res);
    }
    mf_reader_close(&r);
    mf_buf_release(&dec);
    if (rc < 0) {
        mf_strmap_free(&ids);
        return rc == MF_ENOMEM ? mf_err_set(err, rc, "%s: out of memory", path) : rc;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/truth/phi.ndjson", dir) >= sizeof path) {
        mf_strmap_free(&ids);
        return mf_err_set(err, MF_EINVAL, "corpus path too long");
    }
    if ((rc = mf_reader_open(&r, path, err)) != 0) {
        mf_strmap_free(&ids);
        return rc;
    }
    while ((rc = mf_reader_line(&r, &line, &len, err)) == 1) {
        if (len == 0)
            continue;
        size_t off = 0;
        cJSON *sp = mf_json_parse(line, len, &off);
        if (sp == NULL) {
            rc = mf_err_set(err, MF_EPARSE, "%s:%lld: JSON syntax error at byte %zu", path,
                            (long long)r.line, off);
            break;
        }
        const char *rt = mf_json_str(sp, "resource_type");
        const char *id = mf_json_str(sp, "resource_id");
        const char *cs = mf_json_str(sp, "category");
        const cJSON *s0 = cJSON_GetObjectItemCaseSensitive(sp, "start");
        const cJSON *e0 = cJSON_GetObjectItemCaseSensitive(sp, "end");
        if (rt == NULL || strcmp(rt, "DocumentReference") != 0) {
            mf_json_release(sp);
            continue;
        }
        enum mf_deid_cat cat;
        const struct mf_strmap_slot *sl = id ? mf_strmap_get(&ids, id, strlen(id)) : NULL;
        if (sl == NULL || cs == NULL || mf_deid_cat_parse(cs, strlen(cs), &cat) != 0 ||
            !cJSON_IsNumber(s0) || !cJSON_IsNumber(e0) || s0->valuedouble < 0 ||
            e0->valuedouble < s0->valuedouble) {
            mf_json_release(sp);
            rc = mf_err_set(err, MF_EPARSE, "%s:%lld: malformed or unmatched PHI span", path,
                            (long long)r.line);
            break;
        }
        struct mf_deid_doc *d = &c->docs[sl->value];
        size_t s = (size_t)s0->valuedouble, e = (size_t)e0->valuedouble;
        mf_json_release(sp);
        if (e > d->n || s >= e) {
            rc = mf_err_set(err, MF_EPARSE, "%s:%lld: PHI span outside its note", path,
                            (long long)r.line);
            break;
        }
        int gc = (int)cat;
        if (cat == MF_DEID_AGE && !mf_deid_eval_age_is_phi(d->text + s, e - s))
            gc = MF_DEID_EVAL_IGNORED;
        if ((rc = gold_add(d, s, e, gc)) != 0) {
            mf_err_set(err, rc, "%s: out of memory", path);
            break;
        }
    }
    mf_reader_close(&r);
    mf_strmap_free(&ids);
    return rc < 0 ? rc : 0;
}

int mf_deid_corpus_load(const char *spec, struct mf_deid_corpus *c, struct mf_err *err)
{
    if (strncmp(spec, "presidio:", 9) == 0)
        return mf_deid_corpus_load_presidio(spec + 9, c, err);
    if (strncmp(spec, "synth:", 6) == 0)
        return mf_deid_corpus_load_synth(spec + 6, c, err);
    return mf_err_set(err, MF_EINVAL, "corpus must be presidio:FILE or synth:DIR");
}

/* --- scoring ------------------------------------------------------------------------------ */

static int overlaps(size_t a0, size_t a1, size_t b0, size_t b1)
{
    return a0 < b1 && b0 < a1;
}

static int is_tokbyte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static void show_span(FILE *f, const char *what, const char *cat, const struct mf_deid_doc *d,
                      size_t di, size_t s, size_t e)
{
    fprintf(f, "%s\t%s\tdoc %zu\t[%zu,%zu)\t", what, cat, di, s, e);
    size_t a = s > 30 ? s - 30 : 0, b = e + 30 < d->n ? e + 30 : d->n;
    for (size_t i = a; i < b; i++) {
        char ch = d->text[i];
        if (i == s)
            fputs("<<", f);
        fputc(ch == '\n' || ch == '\t' ? ' ' : ch, f);
        if (i + 1 == e)
            fputs(">>", f);
    }
    fputc('\n', f);
}

static void score_doc(const struct mf_deid_doc *d, size_t di, const struct mf_deid_entities *p,
                      struct mf_deid_eval_result *r, FILE *show)
{
    r->docs++;
    r->bytes += d->n;
    /* gold side */
    for (size_t g = 0; g < d->ngold; g++) {
        const struct mf_deid_gold *G = &d->gold[g];
        if (G->cat < 0) {
            r->ignored++;
            continue;
        }
        r->gold++;
        r->cat_gold[G->cat]++;
        int any = 0, typed = 0, strict = 0;
        for (size_t k = 0; k < p->n; k++) {
            const struct mf_deid_entity *E = &p->v[k];
            if (E->start >= G->end)
                break;
            if (!overlaps(E->start, E->end, G->start, G->end))
                continue;
            any = 1;
            typed |= (int)E->cat == G->cat;
            strict |= E->start == G->start && E->end == G->end && (int)E->cat == G->cat;
        }
        r->any.n_gold++;
        r->typed.n_gold++;
        r->strict.n_gold++;
        r->any.tp_gold += (uint64_t)any;
        r->typed.tp_gold += (uint64_t)typed;
        r->strict.tp_gold += (uint64_t)strict;
        r->cat_hit[G->cat] += (uint64_t)any;
        if (!any && show)
            show_span(show, "MISS", mf_deid_cat_name((enum mf_deid_cat)G->cat), d, di, G->start,
                      G->end);
    }
    /* prediction side */
    for (size_t k = 0; k < p->n; k++) {
        const struct mf_deid_entity *E = &p->v[k];
        int any = 0, typed = 0, strict = 0, ign = 0;
        for (size_t g = 0; g < d->ngold; g++) {
            const struct mf_deid_gold *G = &d->gold[g];
            if (!overlaps(E->start, E->end, G->start, G->end))
                continue;
            if (G->cat < 0) {
                ign = 1;
                continue;
            }
            any = 1;
            typed |= (int)E->cat == G->cat;
            strict |= E->start == G->start && E->end == G->end && (int)E->cat == G->cat;
        }
        r->predicted++;
        if (!any && ign) {
            r->ignored_pred++;
            continue;
        }
        r->cat_pred[E->cat]++;
        r->any.n_pred++;
        r->typed.n_pred++;
        r->strict.n_pred++;
        r->any.tp_pred += (uint64_t)any;
        r->typed.tp_pred += (uint64_t)typed;
        r->strict.tp_pred += (uint64_t)strict;
        if (!any && show)
            show_span(show, "FP", mf_deid_cat_name(E->cat), d, di, E->start, E->end);
    }
    /* tokens; predictions are sorted and disjoint, so one moving index finds them */
    size_t pk = 0;
    for (size_t i = 0; i < d->n;) {
        if (!is_tokbyte((unsigned char)d->text[i])) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < d->n && is_tokbyte((unsigned char)d->text[i]))
            i++;
        int gold = 0, ign = 0, pred = 0;
        for (size_t g = 0; g < d->ngold; g++)
            if (overlaps(s, i, d->gold[g].start, d->gold[g].end)) {
                if (d->gold[g].cat < 0)
                    ign = 1;
                else
                    gold = 1;
            }
        while (pk < p->n && p->v[pk].end <= s)
            pk++;
        pred = pk < p->n && p->v[pk].start < i;
        if (gold) {
            r->token.n_gold++;
            r->token.tp_gold += (uint64_t)pred;
        }
        if (pred && (gold || !ign)) {
            r->token.n_pred++;
            r->token.tp_pred += (uint64_t)gold;
        }
    }
}

int mf_deid_eval_run(struct mf_deid_tagger *t, const struct mf_deid_corpus *c,
                     enum mf_deid_eval_half half, struct mf_deid_eval_result *r, FILE *show,
                     struct mf_err *err)
{
    memset(r, 0, sizeof *r);
    struct mf_deid_entities ents = {0};
    int rc = 0;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        if ((half == MF_DEID_EVAL_EVEN && i % 2) || (half == MF_DEID_EVAL_ODD && i % 2 == 0))
            continue;
        const struct mf_deid_doc *d = &c->docs[i];
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        rc = mf_deid_tag(t, NULL, d->text, d->n, &ents, err);
        clock_gettime(CLOCK_MONOTONIC, &b);
        r->seconds += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
        if (rc == 0)
            score_doc(d, i, &ents, r, show);
    }
    mf_deid_entities_free(&ents);
    return rc;
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 1.0;
}

static void put_prf(struct mf_buf *o, const char *name, const struct mf_deid_prf *p)
{
    mf_buf_printf(o, "\"%s\":{\"recall\":", name);
    mf_buf_put_double(o, ratio(p->tp_gold, p->n_gold));
    mf_buf_puts(o, ",\"precision\":");
    mf_buf_put_double(o, ratio(p->tp_pred, p->n_pred));
    mf_buf_printf(o,
                  ",\"gold\":%llu,\"gold_found\":%llu,\"predicted\":%llu,\"predicted_true\":%llu}",
                  (unsigned long long)p->n_gold, (unsigned long long)p->tp_gold,
                  (unsigned long long)p->n_pred, (unsigned long long)p->tp_pred);
}

int mf_deid_eval_json(const struct mf_deid_eval_result *r, const char *corpus, struct mf_buf *o)
{
    mf_buf_puts(o, "{\"corpus\":");
    mf_buf_json_string(o, corpus, strlen(corpus));
    mf_buf_printf(o,
                  ",\"documents\":%llu,\"bytes\":%llu,\"gold_spans\":%llu,\"ignored_gold_spans\":"
                  "%llu,\"predicted_spans\":%llu,\"predicted_on_ignored_only\":%llu,",
                  (unsigned long long)r->docs, (unsigned long long)r->bytes,
                  (unsigned long long)r->gold, (unsigned long long)r->ignored,
                  (unsigned long long)r->predicted, (unsigned long long)r->ignored_pred);
    mf_buf_puts(o, "\"recall\":");
    mf_buf_put_double(o, ratio(r->any.tp_gold, r->any.n_gold));
    mf_buf_puts(o, ",\"precision\":");
    mf_buf_put_double(o, ratio(r->any.tp_pred, r->any.n_pred));
    mf_buf_puts(o, ",");
    put_prf(o, "entity_any", &r->any);
    mf_buf_puts(o, ",");
    put_prf(o, "entity_typed", &r->typed);
    mf_buf_puts(o, ",");
    put_prf(o, "token", &r->token);
    mf_buf_puts(o, ",");
    put_prf(o, "strict", &r->strict);
    mf_buf_puts(o, ",\"per_category\":{");
    int first = 1;
    for (int k = 0; k < MF_DEID__NCAT; k++) {
        if (r->cat_gold[k] == 0 && r->cat_pred[k] == 0)
            continue;
        mf_buf_printf(o, "%s\"%s\":{\"gold\":%llu,\"found\":%llu,\"recall\":", first ? "" : ",",
                      mf_deid_cat_name((enum mf_deid_cat)k), (unsigned long long)r->cat_gold[k],
                      (unsigned long long)r->cat_hit[k]);
        mf_buf_put_double(o, ratio(r->cat_hit[k], r->cat_gold[k]));
        mf_buf_printf(o, ",\"predicted\":%llu}", (unsigned long long)r->cat_pred[k]);
        first = 0;
    }
    mf_buf_puts(o, "},\"seconds\":");
    mf_buf_put_double(o, r->seconds);
    mf_buf_puts(o, ",\"mb_per_s\":");
    return mf_buf_put_double(o, r->seconds > 0 ? (double)r->bytes / 1e6 / r->seconds : 0) ||
           mf_buf_puts(o, "}\n");
}

int mf_deid_eval_text(const struct mf_deid_eval_result *r, const char *corpus, struct mf_buf *o)
{
    mf_buf_printf(o, "corpus %s: %llu documents, %llu bytes, %llu gold spans (%llu ignored)\n",
                  corpus, (unsigned long long)r->docs, (unsigned long long)r->bytes,
                  (unsigned long long)r->gold, (unsigned long long)r->ignored);
    const struct {
        const char *name;
        const struct mf_deid_prf *p;
    } rows[] = {{"entity, any overlap (primary)", &r->any},
                {"entity, category must match", &r->typed},
                {"token", &r->token},
                {"strict span and category", &r->strict}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        mf_buf_printf(o, "  %-32s recall %.4f  precision %.4f\n", rows[i].name,
                      ratio(rows[i].p->tp_gold, rows[i].p->n_gold),
                      ratio(rows[i].p->tp_pred, rows[i].p->n_pred));
    mf_buf_puts(o, "  recall per category:\n");
    for (int k = 0; k < MF_DEID__NCAT; k++)
        if (r->cat_gold[k])
            mf_buf_printf(o, "    %-9s %6llu / %6llu  %.4f\n",
                          mf_deid_cat_name((enum mf_deid_cat)k), (unsigned long long)r->cat_hit[k],
                          (unsigned long long)r->cat_gold[k], ratio(r->cat_hit[k], r->cat_gold[k]));
    return mf_buf_printf(o, "  throughput %.1f MB/s (%.3f s tagging, one thread)\n",
                         r->seconds > 0 ? (double)r->bytes / 1e6 / r->seconds : 0, r->seconds);
}
