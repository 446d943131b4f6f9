/* record.h - the in-memory and on-disk record of one event while a store is being written
 * (internal to src/store). */
#ifndef MF_STORE_RECORD_H
#define MF_STORE_RECORD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Followed by subject, code, unit and text bytes, in that order. */
struct rec_hdr {
    int64_t time;
    double value;
    uint32_t subj_len, code_len, unit_len, text_len;
};

struct rec_view {
    struct rec_hdr h;
    const char *subj, *code, *unit, *text;
};

static inline void rec_view_at(struct rec_view *v, const char *p)
{
    memcpy(&v->h, p, sizeof v->h);
    v->subj = p + sizeof v->h;
    v->code = v->subj + v->h.subj_len;
    v->unit = v->code + v->h.code_len;
    v->text = v->unit + v->h.unit_len;
}

static inline int rec_bytes_cmp(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* The store's total order: patient, time, code, value (none first), unit, text. */
static inline int rec_cmp(const struct rec_view *a, const struct rec_view *b)
{
    int c = rec_bytes_cmp(a->subj, a->h.subj_len, b->subj, b->h.subj_len);
    if (c)
        return c;
    if (a->h.time != b->h.time)
        return a->h.time < b->h.time ? -1 : 1;
    if ((c = rec_bytes_cmp(a->code, a->h.code_len, b->code, b->h.code_len)) != 0)
        return c;
    int an = isnan(a->h.value), bn = isnan(b->h.value);
    if (an != bn)
        return an ? -1 : 1;
    if (!an && a->h.value != b->h.value)
        return a->h.value < b->h.value ? -1 : 1;
    if ((c = rec_bytes_cmp(a->unit, a->h.unit_len, b->unit, b->h.unit_len)) != 0)
        return c;
    return rec_bytes_cmp(a->text, a->h.text_len, b->text, b->h.text_len);
}

#endif
