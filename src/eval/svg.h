/* svg.h - writing report.html: a text sink whose first failure sticks, HTML escaping, and line
 * plots drawn as inline SVG (axes with ticks, a legend, reference lines, a clip to the plot
 * area).
 *
 * Only what the evaluation report draws: x/y line plots of a few series, each series its own
 * colour *and* dash pattern, so that a black-and-white print still tells them apart.  Every
 * series is thinned to at most MF_SVG_MAX_POINTS points (keeping its shape: points are kept
 * evenly along the curve's length on the page), so a ROC curve of 100,000 samples costs a few
 * kilobytes.  The SVG is well-formed XML (every attribute quoted), so a plot can be cut out of
 * the page and opened on its own.
 *
 * Example:
 *
 *     struct mf_svg_doc d = MF_SVG_DOC_INIT;
 *     double x[] = {0, 0.2, 1}, y[] = {0, 0.7, 1};
 *     struct mf_svg_series s[] = {{"model", x, y, 3, MF_SVG_LINE, 0, 0},
 *                                 {"chance", NULL, NULL, 0, MF_SVG_DIAGONAL, 0, 0}};
 *     struct mf_svg_plot p = {"ROC curve", "1 - specificity", "sensitivity", 0, 1, 0, 1, 1};
 *     mf_svg_line_plot(&d, &p, s, 2);
 *     if (d.rc == 0) ... d.b.data ...
 *     mf_buf_release(&d.b);
 */
#ifndef MF_EVAL_SVG_H
#define MF_EVAL_SVG_H
#include <stddef.h>

#include "core/buf.h"

/* ---- the text sink -------------------------------------------------------------------------- */

/* Text being written: rc holds the first failure (MF_ENOMEM, MF_ETOOBIG) and later writes are
 * skipped, so a long run of writes is checked once at the end.  The caller releases b. */
struct mf_svg_doc {
    struct mf_buf b;
    int rc;
};

#define MF_SVG_DOC_INIT                                                                            \
    {                                                                                              \
        MF_BUF_INIT, 0                                                                             \
    }

void mf_svg_puts(struct mf_svg_doc *d, const char *s);
void mf_svg_printf(struct mf_svg_doc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s escaped for HTML text and attribute values (& < > " '); NULL writes nothing. */
void mf_svg_text(struct mf_svg_doc *d, const char *s);
/* The same, cut after max_chars characters (whole UTF-8 sequences) with an ellipsis. */
void mf_svg_text_cut(struct mf_svg_doc *d, const char *s, size_t max_chars);

/* ---- line plots ----------------------------------------------------------------------------- */

#define MF_SVG_MAX_POINTS 200

enum mf_svg_kind {
    MF_SVG_LINE,       /* a predictor's curve: palette colour and dash by index */
    MF_SVG_MARKERS,    /* the same, with a dot at every point (calibration bins) */
    MF_SVG_REF_DASHED, /* a grey dashed reference curve (treat all, ...) */
    MF_SVG_REF_DOTTED, /* a grey dotted reference curve (treat none, ...) */
    MF_SVG_DIAGONAL,   /* y = x over the plot, grey dashed (chance, ideal calibration) */
    MF_SVG_HLINE,      /* y = level across the plot, grey dotted (prevalence, zero) */
};

struct mf_svg_series {
    const char *name;    /* the legend's text (escaped here; long names are cut) */
    const double *x, *y; /* n points; a point with a coordinate that is not finite is skipped */
    size_t n;
    enum mf_svg_kind kind;
    int index;    /* LINE, MARKERS: which colour and dash */
    double level; /* HLINE: the y value */
};

struct mf_svg_plot {
    const char *title, *xlabel, *ylabel; /* escaped here */
    double x0, x1, y0, y1;               /* the axes' ranges; what falls outside is clipped */
    int id;                              /* unique within the page: names the clip path */
};

/* Append one plot (a <figure> holding an <svg>) to d. */
void mf_svg_line_plot(struct mf_svg_doc *d, const struct mf_svg_plot *p,
                      const struct mf_svg_series *s, size_t ns);

/* The colour of series index i ("#rrggbb"), for legends drawn outside a plot. */
const char *mf_svg_color(int i);

/* Thin a curve to at most max points (max >= 2) evenly spaced along its length, measured
 * after scaling x by sx and y by sy (the page's aspect).  Points that are not finite are
 * dropped.  Writes the kept indices, in order, to keep (room for max) and returns how many. */
size_t mf_svg_decimate(const double *x, const double *y, size_t n, double sx, double sy, size_t max,
                       size_t *keep);

/* Ticks for an axis from lo to hi: about target steps of 1, 2 or 5 times a power of ten.
 * Returns the step and sets *digits to the decimals that show it. */
double mf_svg_tick_step(double lo, double hi, int target, int *digits);

#endif
