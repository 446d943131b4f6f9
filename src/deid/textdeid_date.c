/* textdeid_date.c - date surrogates: a date written in one of the formats notes use is read,
 * moved by the patient's date shift and written back in the same format (see textdeid.h).
 *
 * The span is cut into tokens (digit runs, letter runs, separators); a small set of patterns
 * names which tokens are the weekday, day, month and year.  The output is the same token
 * sequence with those fields rewritten (same zero padding, month name or abbreviation, case,
 * ordinal suffix, two- or four-digit year) and every separator and any time of day copied.
 */
#include "deid/textdeid.h"

#include <string.h>

#include "core/timeutil.h"

enum { T_NUM, T_WORD, T_SEP };

struct dtok {
    int type;
    size_t s, n;
    int64_t val; /* T_NUM: its value (at most 9 digits are read) */
};

#define MAXTOK 40

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Whether s[0..n) equals the lowercase word w, ignoring ASCII case. */
static int eq_ci(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    if (k != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != w[i])
            return 0;
    return 1;
}

static int tokenize(const char *s, size_t n, struct dtok *t, int *nt)
{
    int k = 0;
    size_t i = 0;
    while (i < n) {
        if (k == MAXTOK)
            return -1;
        unsigned char c = (unsigned char)s[i];
        size_t j = i + 1;
        int type = is_digit(c) ? T_NUM : is_alpha(c) ? T_WORD : T_SEP;
        while (j < n) {
            unsigned char d = (unsigned char)s[j];
            int tj = is_digit(d) ? T_NUM : is_alpha(d) ? T_WORD : T_SEP;
            if (tj != type)
                break;
            j++;
        }
        t[k].type = type;
        t[k].s = i;
        t[k].n = j - i;
        t[k].val = 0;
        if (type == T_NUM)
            for (size_t q = i; q < j && q < i + 9; q++)
                t[k].val = t[k].val * 10 + (s[q] - '0');
        k++;
        i = j;
    }
    *nt = k;
    return 0;
}

static const char *const month_full[12] = {"january",   "february", "march",    "april",
                                           "may",       "june",     "july",     "august",
                                           "september", "october",  "november", "december"};
static const char *const wday_full[7] = {"monday", "tuesday",  "wednesday", "thursday",
                                         "friday", "saturday", "sunday"};

enum { STYLE_FULL, STYLE_ABBR, STYLE_SEPT };

/* 1..12 and the style, or 0. */
static int month_word(const char *s, size_t n, int *style)
{
    for (int m = 0; m < 12; m++) {
        if (eq_ci(s, n, month_full[m])) {
            *style = STYLE_FULL;
            return m + 1;
        }
        if (n == 3 && lower(s[0]) == month_full[m][0] && lower(s[1]) == month_full[m][1] &&
            lower(s[2]) == month_full[m][2]) {
            *style = STYLE_ABBR;
            return m + 1;
        }
    }
    if (eq_ci(s, n, "sept")) {
        *style = STYLE_SEPT;
        return 9;
    }
    return 0;
}

/* 0 (Monday) .. 6, or -1; *abbr set when abbreviated. */
static int weekday_word(const char *s, size_t n, int *abbr)
{
    static const char *const ab[] = {"mon",  "tue",   "tues", "wed", "thu",
                                     "thur", "thurs", "fri",  "sat", "sun"};
    static const int abd[] = {0, 1, 1, 2, 3, 3, 3, 4, 5, 6};
    for (int d = 0; d < 7; d++)
        if (eq_ci(s, n, wday_full[d])) {
            *abbr = 0;
            return d;
        }
    for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++)
        if (eq_ci(s, n, ab[k])) {
            *abbr = 1;
            return abd[k];
        }
    return -1;
}

/* A separator between date parts: short, made of blanks, commas, dashes, slashes and dots. */
static int date_sep(const char *s, const struct dtok *t)
{
    if (t->type != T_SEP || t->n > 3)
        return 0;
    for (size_t i = 0; i < t->n; i++)
        if (!strchr(" ,-/.", s[t->s + i]))
            return 0;
    return 1;
}

/* A separator between numeric parts: exactly one of - / . */
static int num_sep(const char *s, const struct dtok *t)
{
    return t->type == T_SEP && t->n == 1 && strchr("-/.", s[t->s]) != NULL;
}

static int same_tok(const char *s, const struct dtok *a, const struct dtok *b)
{
    return a->n == b->n && memcmp(s + a->s, s + b->s, a->n) == 0;
}

static int is_num(const struct dtok *t, int k, size_t lo, size_t hi)
{
    return k >= 0 && t[k].type == T_NUM && t[k].n >= lo && t[k].n <= hi;
}

static int is_ordinal(const char *s, const struct dtok *t)
{
    return t->type == T_WORD && (eq_ci(s + t->s, t->n, "st") || eq_ci(s + t->s, t->n, "nd") ||
                                 eq_ci(s + t->s, t->n, "rd") || eq_ci(s + t->s, t->n, "th"));
}

/* What follows the date: a time of day ("14:30", "2:30 PM", "T14:30:00Z", "at 0900 hrs"). */
static int time_ok(const char *s, const struct dtok *t, int from, int nt)
{
    static const char *const words[] = {"t",        "z",   "am",  "pm",  "a",   "p",   "m",
                                        "at",       "h",   "hr",  "hrs", "utc", "gmt", "noon",
                                        "midnight", "est", "edt", "cst", "cdt", "mst", "mdt",
                                        "pst",      "pdt", "et",  "ct",  "mt",  "pt"};
    for (int k = from; k < nt; k++) {
        const struct dtok *x = &t[k];
        if (x->type == T_NUM) {
            if (x->n > 9)
                return 0;
        } else if (x->type == T_WORD) {
            int ok = 0;
            for (size_t w = 0; w < sizeof words / sizeof words[0] && !ok; w++)
                ok = eq_ci(s + x->s, x->n, words[w]);
            if (!ok)
                return 0;
        } else {
            for (size_t i = 0; i < x->n; i++)
                if (!strchr(" :.,+-()", s[x->s + i]))
                    return 0;
        }
    }
    return 1;
}

enum { KIND_FULL, KIND_MONTH, KIND_NOYEAR, KIND_YEAR };

struct pdate {
    int kind;
    int64_t y;
    unsigned m, d;
    int wd, wd_abbr;  /* token index of the weekday or -1 */
    int tm, tm_style; /* month token; style for words */
    int td, tdo, ty;  /* day, its ordinal suffix, year; -1 when absent */
    int pad_m, pad_d; /* zero padding of numeric month and day */
    int end;          /* first token after the date */
};

static int64_t year_of(const struct dtok *t)
{
    if (t->n == 2)
        return t->val < 50 ? 2000 + t->val : 1900 + t->val;
    return t->val;
}

/* Padding of a numeric field: a leading zero pads, a single digit does not, two digits >= 10
 * say nothing and follow the other field (else dflt). */
static int pad_of(const struct dtok *t, const struct dtok *other, int dflt)
{
    if (t->n == 2 && t->val < 10)
        return 1;
    if (t->n == 1)
        return 0;
    if (other && other->type == T_NUM) {
        if (other->n == 2 && other->val < 10)
            return 1;
        if (other->n == 1)
            return 0;
    }
    return dflt;
}

static int parse(const char *s, const struct dtok *t, int nt, struct pdate *p)
{
    memset(p, 0, sizeof *p);
    p->wd = p->tm = p->td = p->tdo = p->ty = -1;
    int i = 0;
    if (nt > 0 && t[0].type == T_WORD && weekday_word(s + t[0].s, t[0].n, &p->wd_abbr) >= 0) {
        p->wd = 0;
        i = 1;
        if (i < nt && date_sep(s, &t[i]))
            i++;
    }
    if (i >= nt)
        return -1;
    int style;
    if (t[i].type == T_NUM && t[i].n == 4 && i + 2 < nt && num_sep(s, &t[i + 1]) &&
        is_num(t, i + 2, 1, 2)) {
        /* 2024-03-05, 2024/3/5, 2024-03 */
        p->ty = i;
        p->tm = i + 2;
        if (i + 4 < nt && same_tok(s, &t[i + 1], &t[i + 3]) && is_num(t, i + 4, 1, 2)) {
            p->td = i + 4;
            p->end = i + 5;
            p->kind = KIND_FULL;
        } else {
            p->end = i + 3;
            p->kind = KIND_MONTH;
        }
        p->pad_m = pad_of(&t[p->tm], p->td >= 0 ? &t[p->td] : NULL, 1);
        if (p->td >= 0)
            p->pad_d = pad_of(&t[p->td], &t[p->tm], 1);
    } else if (t[i].type == T_NUM && t[i].n <= 2 && i + 2 < nt && num_sep(s, &t[i + 1]) &&
               t[i + 2].type == T_NUM) {
        if (i + 4 < nt && t[i + 2].n <= 2 && same_tok(s, &t[i + 1], &t[i + 3]) &&
            (is_num(t, i + 4, 2, 2) || is_num(t, i + 4, 4, 4))) {
            /* 03/05/2024, 3/5/24; day first when the first part cannot be a month */
            int dmy = t[i].val > 12 && t[i + 2].val <= 12;
            p->tm = dmy ? i + 2 : i;
            p->td = dmy ? i : i + 2;
            p->ty = i + 4;
            p->end = i + 5;
            p->kind = KIND_FULL;
            p->pad_m = pad_of(&t[p->tm], &t[p->td], 1);
            p->pad_d = pad_of(&t[p->td], &t[p->tm], 1);
        } else if (t[i + 2].n == 4) {
            /* 03/2024 */
            p->tm = i;
            p->ty = i + 2;
            p->end = i + 3;
            p->kind = KIND_MONTH;
            p->pad_m = pad_of(&t[i], NULL, 1);
        } else if (t[i + 2].n <= 2 && s[t[i + 1].s] != '.') {
            /* 3/5: month and day, no year */
            p->tm = i;
            p->td = i + 2;
            p->end = i + 3;
            p->kind = KIND_NOYEAR;
            p->pad_m = pad_of(&t[p->tm], &t[p->td], 1);
            p->pad_d = pad_of(&t[p->td], &t[p->tm], 1);
        } else
            return -1;
    } else if (t[i].type == T_NUM && t[i].n <= 2) {
        /* 5 March 2024, 05-Mar-2024, 5th of March, 2024 */
        int k = i + 1;
        p->td = i;
        if (k < nt && is_ordinal(s, &t[k]))
            p->tdo = k++;
        if (k < nt && date_sep(s, &t[k]))
            k++;
        else
            return -1;
        if (k + 1 < nt && eq_ci(s + t[k].s, t[k].n, "of") && date_sep(s, &t[k + 1]))
            k += 2;
        if (k >= nt || t[k].type != T_WORD || !month_word(s + t[k].s, t[k].n, &style))
            return -1;
        p->tm = k++;
        p->tm_style = style;
        p->kind = KIND_NOYEAR;
        p->end = k;
        if (k + 1 < nt && date_sep(s, &t[k]) &&
            (is_num(t, k + 1, 2, 2) || is_num(t, k + 1, 4, 4))) {
            p->ty = k + 1;
            p->end = k + 2;
            p->kind = KIND_FULL;
        }
        int dash = i + 1 < nt && t[i + 1].type == T_SEP && s[t[i + 1].s] == '-';
        p->pad_d = pad_of(&t[p->td], NULL, dash);
    } else if (t[i].type == T_WORD && month_word(s + t[i].s, t[i].n, &style)) {
        /* March 5, 2024; Mar. 5th 2024; March 5; March 2024; Mar-2024 */
        p->tm = i;
        p->tm_style = style;
        int k = i + 1;
        if (k + 1 < nt && date_sep(s, &t[k]) && is_num(t, k + 1, 4, 4)) {
            p->ty = k + 1;
            p->end = k + 2;
            p->kind = KIND_MONTH;
        } else if (k + 1 < nt && date_sep(s, &t[k]) && is_num(t, k + 1, 1, 2)) {
            p->td = k + 1;
            k += 2;
            if (k < nt && is_ordinal(s, &t[k]))
                p->tdo = k++;
            p->end = k;
            p->kind = KIND_NOYEAR;
            if (k + 1 < nt && date_sep(s, &t[k]) &&
                (is_num(t, k + 1, 4, 4) || is_num(t, k + 1, 2, 2))) {
                p->ty = k + 1;
                p->end = k + 2;
                p->kind = KIND_FULL;
            }
            int dash = t[i + 1].type == T_SEP && s[t[i + 1].s] == '-';
            p->pad_d = pad_of(&t[p->td], NULL, dash);
        } else
            return -1;
    } else if (t[i].type == T_NUM && t[i].n == 8) {
        /* 20240305 */
        p->ty = p->tm = p->td = i;
        p->end = i + 1;
        p->kind = KIND_FULL;
        p->y = t[i].val / 10000;
        p->m = (unsigned)(t[i].val / 100 % 100);
        p->d = (unsigned)(t[i].val % 100);
    } else if (t[i].type == T_NUM && t[i].n == 4 && p->wd < 0) {
        p->ty = i;
        p->end = i + 1;
        p->kind = KIND_YEAR;
    } else
        return -1;
    if (!(t[i].type == T_NUM && t[i].n == 8)) {
        if (p->ty >= 0)
            p->y = year_of(&t[p->ty]);
        if (p->tm >= 0)
            p->m = t[p->tm].type == T_NUM
                       ? (unsigned)t[p->tm].val
                       : (unsigned)month_word(s + t[p->tm].s, t[p->tm].n, &style);
        if (p->td >= 0)
            p->d = (unsigned)t[p->td].val;
    }
    if (p->ty < 0)
        p->y = p->m == 2 && p->d == 29 ? 2000 : 2001; /* no year: a reference year */
    if (p->y < 1 || p->y > 9999)
        return -1;
    if (p->kind == KIND_YEAR) {
        p->m = 7;
        p->d = 2;
    } else if (p->kind == KIND_MONTH)
        p->d = 15;
    if (p->m < 1 || p->m > 12 || p->d < 1)
        return -1;
    int64_t yy;
    unsigned mm, dd;
    mf_civil_from_days(mf_days_from_civil(p->y, p->m, p->d), &yy, &mm, &dd);
    if (yy != p->y || mm != p->m || dd != p->d)
        return -1; /* February 30 */
    if (p->end < nt && !(t[p->end].type == T_SEP || t[p->end].type == T_WORD))
        return -1;
    return time_ok(s, t, p->end, nt) ? 0 : -1;
}

/* Append word w (lowercase) in the case of the token s[0..n). */
static int put_word(struct mf_buf *b, const char *w, size_t wn, const char *s, size_t n)
{
    int up = 0, lo = 0;
    for (size_t i = 0; i < n; i++) {
        up += s[i] >= 'A' && s[i] <= 'Z';
        lo += s[i] >= 'a' && s[i] <= 'z';
    }
    for (size_t i = 0; i < wn; i++) {
        char c = w[i];
        if ((lo == 0 && up > 0) || (i == 0 && s[0] >= 'A' && s[0] <= 'Z'))
            c = upper(c);
        if (mf_buf_putc(b, c))
            return MF_ENOMEM;
    }
    return 0;
}

static int put_num(struct mf_buf *b, int64_t v, int width)
{
    return mf_buf_printf(b, "%0*lld", width, (long long)v) ? MF_ENOMEM : 0;
}

int mf_deid_date_shift_text(const char *s, size_t n, int64_t shift_days, struct mf_buf *out)
{
    struct dtok t[MAXTOK];
    int nt;
    struct pdate p;
    if (tokenize(s, n, t, &nt) != 0 || parse(s, t, nt, &p) != 0)
        return MF_EPARSE;
    int64_t y;
    unsigned m, d;
    mf_civil_from_days(mf_days_from_civil(p.y, p.m, p.d) + shift_days, &y, &m, &d);
    if (y < 1 || y > 9999)
        return MF_EPARSE;
    int wd = -1;
    if (p.wd >= 0) {
        if (p.ty >= 0) {
            int64_t z = mf_days_from_civil(y, m, d); /* 1970-01-01 was a Thursday */
            wd = (int)(((z % 7) + 7 + 3) % 7);
        } else {
            int a;
            int64_t w0 = weekday_word(s + t[p.wd].s, t[p.wd].n, &a);
            wd = (int)(((w0 + shift_days) % 7 + 7) % 7);
        }
    }
    size_t mark = out->len;
    int rc = 0;
    for (int k = 0; k < nt && rc == 0; k++) {
        const char *ts = s + t[k].s;
        size_t tn = t[k].n;
        int field = k < p.end && (k == p.wd || k == p.ty || k == p.tm || k == p.td || k == p.tdo);
        if (!field) {
            rc = mf_buf_append(out, ts, tn) ? MF_ENOMEM : 0;
        } else if (t[k].n == 8 && k == p.ty && k == p.tm) {
            rc = mf_buf_printf(out, "%04lld%02u%02u", (long long)y, m, d) ? MF_ENOMEM : 0;
        } else if (k == p.wd) {
            const char *w = wday_full[wd];
            rc = put_word(out, w, p.wd_abbr ? 3 : strlen(w), ts, tn);
        } else if (k == p.ty) {
            rc = tn == 2 ? put_num(out, y % 100, 2) : put_num(out, y, 4);
        } else if (k == p.tm) {
            if (t[k].type == T_NUM)
                rc = put_num(out, m, p.pad_m ? 2 : 1);
            else {
                const char *w = month_full[m - 1];
                size_t wn = strlen(w);
                if (p.tm_style == STYLE_ABBR || (p.tm_style == STYLE_SEPT && m != 9))
                    wn = 3;
                else if (p.tm_style == STYLE_SEPT)
                    wn = 4;
                rc = put_word(out, w, wn, ts, tn);
            }
        } else if (k == p.td) {
            rc = put_num(out, d, p.pad_d ? 2 : 1);
        } else { /* the ordinal suffix */
            const char *suf = (d % 10 == 1 && d != 11)   ? "st"
                              : (d % 10 == 2 && d != 12) ? "nd"
                              : (d % 10 == 3 && d != 13) ? "rd"
                                                         : "th";
            rc = put_word(out, suf, 2, ts, tn);
        }
    }
    if (rc)
        out->len = mark;
    return rc;
}
