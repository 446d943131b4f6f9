/* svg.c - the report page's text sink, HTML escaping and SVG line plots (see svg.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "eval/svg.h"

/* ---- the text sink -------------------------------------------------------------------------- */

void mf_svg_puts(struct mf_svg_doc *d, const char *s)
{
    if (d->rc == 0 && s)
        d->rc = mf_buf_puts(&d->b, s);
}

void mf_svg_printf(struct mf_svg_doc *d, const char *fmt, ...)
{
    if (d->rc)
        return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        d->rc = MF_EINVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        d->rc = mf_buf_append(&d->b, small, (size_t)n);
        return;
    }
    if ((d->rc = mf_buf_grow(&d->b, (size_t)n)) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(d->b.data + d->b.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    d->b.len += (size_t)n;
}

static void text_n(struct mf_svg_doc *d, const char *s, size_t n)
{
    size_t run = 0; /* bytes copied as they are, appended in one go */
    for (size_t i = 0; i < n && d->rc == 0; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '&':
            e = "&amp;";
            break;
        case '"':
            e = "&quot;";
            break;
        case '\'':
            e = "&#39;";
            break;
        default:
            run++;
            continue;
        }
        d->rc = mf_buf_append(&d->b, s + i - run, run);
        run = 0;
        mf_svg_puts(d, e);
    }
    if (d->rc == 0 && run)
        d->rc = mf_buf_append(&d->b, s + n - run, run);
}

void mf_svg_text(struct mf_svg_doc *d, const char *s)
{
    if (s)
        text_n(d, s, strlen(s));
}

void mf_svg_text_cut(struct mf_svg_doc *d, const char *s, size_t max_chars)
{
    if (s == NULL)
        return;
    size_t i = 0, chars = 0;
    while (s[i] && chars < max_chars) {
        i++;
        while ((s[i] & 0xC0) == 0x80) /* continuation bytes of the same character */
            i++;
        chars++;
    }
    text_n(d, s, i);
    if (s[i])
        mf_svg_puts(d, "\xE2\x80\xA6"); /* … */
}

/* ---- geometry ------------------------------------------------------------------------------- */

/* The page: plot area AW x AH at (ML, MT); tick labels and the axis label below and left; the
 * legend under it all, one line per entry. */
#define W           372
#define ML          56
#define MR          16
#define MT          30
#define AW          (W - ML - MR)
#define AH          250
#define MB          42
#define LEGEND_LINE 15

static const char *const PALETTE[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                      "#E69F00", "#56B4E9", "#000000"};
#define N_PALETTE (int)(sizeof PALETTE / sizeof PALETTE[0])
/* Five dash patterns against seven colours: 35 series before a style repeats. */
static const char *const DASHES[] = {"", "7 3", "2 2", "9 3 2 3", "4 2"};
#define N_DASHES  (int)(sizeof DASHES / sizeof DASHES[0])
#define REF_COLOR "#888888"

const char *mf_svg_color(int i)
{
    return PALETTE[(i < 0 ? -i : i) % N_PALETTE];
}

static const char *dash_of(const struct mf_svg_series *s)
{
    switch (s->kind) {
    case MF_SVG_LINE:
    case MF_SVG_MARKERS:
        return DASHES[(s->index < 0 ? -s->index : s->index) % N_DASHES];
    case MF_SVG_REF_DASHED:
    case MF_SVG_DIAGONAL:
        return "5 4";
    case MF_SVG_REF_DOTTED:
    case MF_SVG_HLINE:
        return "1.5 3";
    }
    return "";
}

static const char *color_of(const struct mf_svg_series *s)
{
    return s->kind == MF_SVG_LINE || s->kind == MF_SVG_MARKERS ? mf_svg_color(s->index) : REF_COLOR;
}

/* Page coordinates, kept within a margin around the page so that numbers stay short (the clip
 * path hides what is outside the plot area). */
static double clampd(double v)
{
    return v < -1000 ? -1000 : v > W + 1000 ? W + 1000 : v;
}

static double px(const struct mf_svg_plot *p, double x)
{
    return clampd(ML + (x - p->x0) / (p->x1 - p->x0) * AW);
}

static double py(const struct mf_svg_plot *p, double y)
{
    return clampd(MT + AH - (y - p->y0) / (p->y1 - p->y0) * AH);
}

size_t mf_svg_decimate(const double *x, const double *y, size_t n, double sx, double sy, size_t max,
                       size_t *keep)
{
    size_t m = 0, first = n, last = n;
    double len = 0, lx = 0, ly = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            continue;
        if (m)
            len += hypot((x[i] - lx) * sx, (y[i] - ly) * sy);
        lx = x[i];
        ly = y[i];
        first = m ? first : i;
        last = i;
        m++;
    }
    if (max < 2)
        max = 2;
    size_t k = 0;
    if (m <= max) {
        for (size_t i = 0; i < n; i++)
            if (isfinite(x[i]) && isfinite(y[i]))
                keep[k++] = i;
        return k;
    }
    /* every kept point but the ends has at least `step` of curve behind it since the last one,
     * so at most max - 2 of them fit in len */
    double step = len / (double)(max - 2), acc = 0;
    keep[k++] = first;
    lx = x[first];
    ly = y[first];
    for (size_t i = first + 1; i < last; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            continue;
        acc += hypot((x[i] - lx) * sx, (y[i] - ly) * sy);
        lx = x[i];
        ly = y[i];
        if (acc >= step && step > 0 && k < max - 1) {
            keep[k++] = i;
            acc = 0;
        }
    }
    keep[k++] = last;
    return k;
}

double mf_svg_tick_step(double lo, double hi, int target, int *digits)
{
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span) || target < 1) {
        *digits = 1;
        return 1;
    }
    double raw = span / target, p = pow(10, floor(log10(raw))), f = raw / p;
    double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
    int dg = (int)-floor(log10(step) + 1e-9);
    *digits = dg < 0 ? 0 : dg > 6 ? 6 : dg;
    return step;
}

/* ---- drawing -------------------------------------------------------------------------------- */

static void axes(struct mf_svg_doc *d, const struct mf_svg_plot *p)
{
    int dg;
    double st = mf_svg_tick_step(p->x0, p->x1, 5, &dg);
    double t0 = ceil(p->x0 / st - 1e-9) * st;
    for (int k = 0; k < 40 && t0 + k * st <= p->x1 + st * 1e-9; k++) {
        double t = t0 + k * st, v = fabs(t) < st * 1e-6 ? 0 : t, x = px(p, v);
        mf_svg_printf(d,
                      "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>"
                      "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n",
                      x, MT, x, MT + AH, x, MT + AH + 14, dg, v);
    }
    st = mf_svg_tick_step(p->y0, p->y1, 5, &dg);
    t0 = ceil(p->y0 / st - 1e-9) * st;
    for (int k = 0; k < 40 && t0 + k * st <= p->y1 + st * 1e-9; k++) {
        double t = t0 + k * st, v = fabs(t) < st * 1e-6 ? 0 : t, y = py(p, v);
        mf_svg_printf(d,
                      "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>"
                      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                      ML, y, ML + AW, y, v == 0 ? "#bbbbbb" : "#e4e4e4", ML - 4, y + 3.5, dg, v);
    }
    mf_svg_printf(d,
                  "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                  "stroke=\"#444444\"/>\n<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" "
                  "font-size=\"12\">",
                  ML, MT, AW, AH, ML + AW / 2.0, MT + AH + 32);
    mf_svg_text(d, p->xlabel);
    mf_svg_printf(d,
                  "</text>\n<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" "
                  "transform=\"rotate(-90 14 %.1f)\">",
                  MT + AH / 2.0, MT + AH / 2.0);
    mf_svg_text(d, p->ylabel);
    mf_svg_puts(d, "</text>\n");
}

static void stroke_attrs(struct mf_svg_doc *d, const struct mf_svg_series *s)
{
    int ref = s->kind != MF_SVG_LINE && s->kind != MF_SVG_MARKERS;
    mf_svg_printf(d, "fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"", color_of(s),
                  ref ? "1.3" : "1.9");
    if (dash_of(s)[0])
        mf_svg_printf(d, " stroke-dasharray=\"%s\"", dash_of(s));
}

static void series(struct mf_svg_doc *d, const struct mf_svg_plot *p, const struct mf_svg_series *s,
                   size_t *keep, double *gx, double *gy)
{
    if (s->kind == MF_SVG_DIAGONAL || s->kind == MF_SVG_HLINE) {
        double lo = p->x0, hi = p->x1;
        if (s->kind == MF_SVG_DIAGONAL) {
            lo = p->x0 > p->y0 ? p->x0 : p->y0;
            hi = p->x1 < p->y1 ? p->x1 : p->y1;
        }
        double y0 = s->kind == MF_SVG_DIAGONAL ? lo : s->level;
        double y1 = s->kind == MF_SVG_DIAGONAL ? hi : s->level;
        if (!isfinite(y0) || !(hi > lo))
            return;
        mf_svg_printf(d, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" ", px(p, lo),
                      py(p, y0), px(p, hi), py(p, y1));
        stroke_attrs(d, s);
        mf_svg_puts(d, "/>\n");
        return;
    }
    if (s->n == 0 || s->x == NULL || s->y == NULL)
        return;
    /* in page coordinates, so that thinning follows what the reader sees */
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        gx[i] = isfinite(s->x[i]) ? px(p, s->x[i]) : NAN;
        gy[i] = isfinite(s->y[i]) ? py(p, s->y[i]) : NAN;
    }
    n = mf_svg_decimate(gx, gy, s->n, 1, 1, MF_SVG_MAX_POINTS, keep);
    if (n == 0)
        return;
    mf_svg_puts(d, "<polyline ");
    stroke_attrs(d, s);
    mf_svg_puts(d, " points=\"");
    for (size_t k = 0; k < n; k++)
        mf_svg_printf(d, "%s%.1f,%.1f", k ? " " : "", gx[keep[k]], gy[keep[k]]);
    mf_svg_puts(d, "\"/>\n");
    if (s->kind == MF_SVG_MARKERS)
        for (size_t k = 0; k < n; k++)
            mf_svg_printf(d, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.8\" fill=\"%s\"/>", gx[keep[k]],
                          gy[keep[k]], color_of(s));
    if (s->kind == MF_SVG_MARKERS)
        mf_svg_puts(d, "\n");
}

static void legend(struct mf_svg_doc *d, const struct mf_svg_series *s, size_t ns)
{
    double y = MT + AH + MB + 8;
    for (size_t i = 0; i < ns; i++, y += LEGEND_LINE) {
        mf_svg_printf(d, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" ", ML, y, ML + 26, y);
        stroke_attrs(d, &s[i]);
        mf_svg_puts(d, "/>");
        if (s[i].kind == MF_SVG_MARKERS)
            mf_svg_printf(d, "<circle cx=\"%d\" cy=\"%.1f\" r=\"2.8\" fill=\"%s\"/>", ML + 13, y,
                          color_of(&s[i]));
        mf_svg_printf(d, "<text x=\"%d\" y=\"%.1f\">", ML + 32, y + 4);
        mf_svg_text_cut(d, s[i].name ? s[i].name : "", 44);
        mf_svg_puts(d, "</text>\n");
    }
}

void mf_svg_line_plot(struct mf_svg_doc *d, const struct mf_svg_plot *p0,
                      const struct mf_svg_series *s, size_t ns)
{
    struct mf_svg_plot p = *p0;
    if (!(p.x1 > p.x0) || !isfinite(p.x1 - p.x0)) {
        p.x0 = 0;
        p.x1 = 1;
    }
    if (!(p.y1 > p.y0) || !isfinite(p.y1 - p.y0)) {
        p.y0 = 0;
        p.y1 = 1;
    }
    size_t most = 0;
    for (size_t i = 0; i < ns; i++)
        most = s[i].n > most ? s[i].n : most;
    size_t *keep = most ? malloc(most * sizeof *keep) : NULL;
    double *g = most ? malloc(2 * most * sizeof *g) : NULL;
    if (most && (keep == NULL || g == NULL)) {
        free(keep);
        free(g);
        d->rc = d->rc ? d->rc : MF_ENOMEM;
        return;
    }
    int h = MT + AH + MB + 8 + (int)ns * LEGEND_LINE;
    mf_svg_printf(d,
                  "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
                  "font-size=\"10.5\" role=\"img\" aria-labelledby=\"t%d\">\n<title id=\"t%d\">",
                  W, h, W, h, p.id, p.id);
    mf_svg_text(d, p.title);
    mf_svg_printf(d,
                  "</title>\n<defs><clipPath id=\"c%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
                  "height=\"%d\"/></clipPath></defs>\n<rect width=\"%d\" height=\"%d\" "
                  "fill=\"#ffffff\"/>\n<text x=\"%d\" y=\"18\" font-size=\"13\" "
                  "font-weight=\"bold\">",
                  p.id, ML, MT, AW, AH, W, h, ML);
    mf_svg_text(d, p.title);
    mf_svg_puts(d, "</text>\n");
    axes(d, &p);
    mf_svg_printf(d, "<g clip-path=\"url(#c%d)\">\n", p.id);
    /* references first, so that the predictors are drawn over them */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < ns; i++) {
            int ref = s[i].kind != MF_SVG_LINE && s[i].kind != MF_SVG_MARKERS;
            if (ref == (pass == 0))
                series(d, &p, &s[i], keep, g, g + most);
        }
    mf_svg_puts(d, "</g>\n");
    legend(d, s, ns);
    mf_svg_puts(d, "</svg></figure>\n");
    free(keep);
    free(g);
}
