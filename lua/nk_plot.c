/* nk_plot.c - nk.plot: raster, trace and rate plots of monitors.
 *
 *   nk.plot.raster(spike_monitor | {spike_monitor, ...}, [file], [opts])
 *   nk.plot.trace(state_monitor, [file], [opts])
 *   nk.plot.rate(spike_or_rate_monitor | {...}, [file], [opts])
 *
 * Each call works in three steps:
 *
 *   1. Gather (Lua-facing): check the arguments, read the monitors through
 *      libnk's C API (nk_monitor_spikes, nk_monitor_rows) into buffers that
 *      are Lua userdata, so an error raised at any point leaks nothing, and
 *      describe the plot as a `figure`: a list of series (dots, lines or
 *      steps), the data ranges, the labels.
 *   2. Draw: the same figure goes either to cairo (one drawing routine for
 *      the PNG image surface and the SVG and PDF vector surfaces) or to a
 *      braille canvas printed on stdout. Drawing calls no Lua function;
 *      every cairo object is destroyed before it returns.
 *   3. Report: the file name is returned, or the error raised (the path and
 *      strerror or cairo's status).
 *
 * Large data stays cheap: trace series point straight into the monitor's
 * rows (nothing is copied), lines are reduced to the first, lowest, highest
 * and last sample per pixel column (M4: exact at that resolution), and
 * raster dots that fall on a half-pixel cell already drawn in the same row
 * are skipped. */
#include "nk_api.h"
#include "nk_lua.h"
#include "nk_plot.h"

#include "nk/nk.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <lauxlib.h>

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_MONS 64
#define MAX_TRACES 1000
#define DEFAULT_TRACES 10
#define MAX_BINS 10000000
#define PREVIEW_ROWS 12

/* ---- errors and options ----------------------------------------------------------------- */

/* luaL_error with C's printf formats (nk_api.c). */
#define perr nk_api_error

/* Option key of table t as a finite number (def when absent). */
static double opt_num(lua_State *L, int t, const char *key, const char *fname, double def)
{
    lua_getfield(L, t, key);
    double v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            perr(L, "option '%s' for %s must be a number, got %s", key, fname,
                 luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
        if (!isfinite(v))
            perr(L, "option '%s' for %s must be a finite number, got %g", key, fname, v);
    }
    lua_pop(L, 1);
    return v;
}

/* Option key as a string kept alive by the option table (def when absent). */
static const char *opt_str(lua_State *L, int t, const char *key, const char *fname,
                           const char *def)
{
    lua_getfield(L, t, key);
    const char *v = def;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING)
            perr(L, "option '%s' for %s must be a string, got %s", key, fname,
                 luaL_typename(L, -1));
        size_t len;
        v = lua_tolstring(L, -1, &len);
        if (strlen(v) != len) /* cairo would draw it only up to there */
            perr(L, "option '%s' for %s holds a zero byte (\\0) at position %d", key, fname,
                 (int)strlen(v) + 1);
    }
    lua_pop(L, 1);
    return v;
}

/* Option key as {lo, hi} with lo < hi; returns 1 when given. */
static int opt_range(lua_State *L, int t, const char *key, const char *fname, double *lo,
                     double *hi)
{
    lua_getfield(L, t, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    double v[2];
    int ok = lua_istable(L, -1) && luaL_len(L, -1) == 2;
    for (int q = 0; ok && q < 2; q++) {
        lua_geti(L, -1, q + 1);
        ok = lua_type(L, -1) == LUA_TNUMBER && isfinite(v[q] = lua_tonumber(L, -1));
        lua_pop(L, 1);
    }
    if (!ok)
        perr(L, "option '%s' for %s must be a list of two finite numbers {min, max}, got %s",
             key, fname, lua_istable(L, -1) ? "another table" : luaL_typename(L, -1));
    if (!(v[0] < v[1]))
        perr(L, "option '%s' for %s: min (%g) must be less than max (%g)", key, fname, v[0],
             v[1]);
    if (!isfinite(v[1] - v[0]) || v[1] - v[0] < 1e-12 * fmax(fabs(v[0]), fabs(v[1])))
        perr(L, "option '%s' for %s: {%.15g, %.15g} is too %s to draw", key, fname, v[0], v[1],
             isfinite(v[1] - v[0]) ? "narrow" : "wide");
    lua_pop(L, 1);
    *lo = v[0];
    *hi = v[1];
    return 1;
}

/* ---- monitors ----------------------------------------------------------------------------- */

/* A monitor as nk_lua_tomonitor gives it. */
typedef struct pmon {
    nk_net *net;
    int k;
    const char *kind; /* "spikes", "state", ... */
} pmon;

/* The monitor at stack index idx into *m; 0 when the value is no monitor. */
static int to_monitor(lua_State *L, int idx, const char *fname, pmon *m)
{
    int k;
    nk_net *net = nk_lua_tomonitor(L, idx, &k);
    if (!net)
        return 0;
    if (k < 0 || k >= nk_monitor_count_all(net))
        perr(L, "%s: this monitor no longer exists in its network", fname);
    m->net = net;
    m->k = k;
    m->kind = nk_monitor_kind(net, k);
    return 1;
}

static int is_kind(const pmon *m, const char *kind) { return !strcmp(m->kind, kind); }

/* "a spike monitor", "an output monitor", ... */
static const char *a_monitor(lua_State *L, const pmon *m)
{
    if (is_kind(m, "spikes"))
        return "a spike monitor";
    return lua_pushfstring(L, "%s %s monitor", strchr("aeiou", m->kind[0]) ? "an" : "a",
                           m->kind);
}

/* Argument 1: one monitor or a list of them (at most MAX_MONS), each of a
 * kind that accept() takes. Returns how many, in mons. */
static int check_monitors(lua_State *L, const char *fname, const char *expected,
                          int (*accept)(lua_State *, const char *, const pmon *), pmon *mons)
{
    if (to_monitor(L, 1, fname, &mons[0])) {
        accept(L, fname, &mons[0]);
        return 1;
    }
    if (!lua_istable(L, 1))
        perr(L, "bad argument #1 to '%s' (%s expected, got %s)", fname, expected,
             luaL_typename(L, 1));
    lua_Integer n = luaL_len(L, 1);
    if (n < 1)
        perr(L, "bad argument #1 to '%s' (%s expected, got an empty list)", fname, expected);
    if (n > MAX_MONS)
        perr(L, "bad argument #1 to '%s': at most %d monitors in one plot, got %lld", fname,
             MAX_MONS, (long long)n);
    for (lua_Integer q = 1; q <= n; q++) {
        lua_geti(L, 1, q);
        if (!to_monitor(L, -1, fname, &mons[q - 1]))
            perr(L, "bad argument #1 to '%s' (item %lld is a %s; %s expected)", fname,
                 (long long)q, luaL_typename(L, -1), expected);
        lua_pop(L, 1); /* the list keeps it alive */
        accept(L, fname, &mons[q - 1]);
    }
    return (int)n;
}

static int accept_spikes(lua_State *L, const char *fname, const pmon *m)
{
    if (!is_kind(m, "spikes"))
        perr(L, "%s: %s records no spikes (plot it with nk.plot.%s)", fname, a_monitor(L, m),
             is_kind(m, "rate") ? "rate" : "trace");
    return 1;
}

static int accept_rate(lua_State *L, const char *fname, const pmon *m)
{
    if (!is_kind(m, "spikes") && !is_kind(m, "rate"))
        perr(L, "%s: %s has no rate (expected a spike or rate monitor; plot it with "
                "nk.plot.trace)", fname, a_monitor(L, m));
    return 1;
}

/* Number of neurons a monitor watches, and the first and last of them
 * (0-based within the population). */
static int64_t mon_span(const pmon *m, int64_t *first, int64_t *last)
{
    const int64_t *idx;
    int64_t lo;
    int64_t n = nk_monitor_neurons(m->net, m->k, &idx, &lo);
    *first = idx ? idx[0] : lo;
    *last = idx ? idx[n - 1] : lo + n - 1;
    return n;
}

/* Recorded time window of a monitor, ms. */
static void mon_window(const pmon *m, double *t0, double *t1)
{
    nk_monitor_rows(m->net, m->k, NULL, NULL, t0, NULL);
    *t1 = *t0 + nk_monitor_duration(m->net, m->k);
}

/* A scratch buffer owned by Lua (left on the stack): freed by the collector
 * whatever happens. */
static void *scratch(lua_State *L, size_t n, size_t size)
{
    if (n > (SIZE_MAX / 2) / size)
        perr(L, "out of memory (%zu values)", n);
    return lua_newuserdatauv(L, n ? n * size : 1, 0);
}

/* ---- the figure --------------------------------------------------------------------------- */

enum { SER_DOTS, SER_LINE, SER_STEPS };

/* A series of n points. Dots: x[i], y[i]. Lines and steps: x is implicit
 * (x0 + i*dx) and y[i*ystride]; a step holds y over [x, x + dx). */
typedef struct series {
    int kind;
    int color;
    int64_t n;
    const double *x, *y;
    int64_t ystride;
    double x0, dx;
    const char *label;
} series;

/* Rows [lo, hi] of a raster drawn in one colour and named: one monitor in a
 * stacked raster. */
typedef struct band {
    double lo, hi;
    const char *label;
    int color;
} band;

typedef struct figure {
    const char *fname; /* "nk.plot.raster", for messages */
    const char *title, *xlabel, *ylabel;
    double x0, x1, y0, y1;
    int integer_y;   /* ticks at whole numbers only (neuron indices) */
    int legend;      /* series labels in the right margin */
    int grid;
    series *ser;
    int nser;
    band bands[MAX_MONS];
    int nbands;
    const char *note;  /* written across an empty plot */
    const char *extra; /* a grey line under the legend */
    const char *yunit; /* appended to the preview's y labels */
    double width, height, font;
    char caption[512]; /* the preview's first line */
} figure;

/* tab10, matplotlib's default cycle: familiar in papers, tells ten series
 * apart, and every colour but grey is saturated. */
static const double palette[10][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
    {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
    {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
};

/* The number of points of a series (steps: 2 per value: where it starts
 * and where it ends). */
static inline int64_t ser_points(const series *s)
{
    return s->kind == SER_STEPS ? 2 * s->n : s->n;
}

/* Point i of series s. */
static inline void ser_point(const series *s, int64_t i, double *x, double *y)
{
    if (s->kind == SER_DOTS) {
        *x = s->x[i];
        *y = s->y[i];
    } else if (s->kind == SER_LINE) {
        *x = s->x0 + (double)i * s->dx;
        *y = s->y[i * s->ystride];
    } else {
        int64_t r = i / 2;
        *x = s->x0 + (double)(r + (i & 1)) * s->dx;
        *y = s->y[r * s->ystride];
    }
}

/* The points of series s that can show in [x0, x1]: [*a, *b). */
static void ser_visible(const series *s, double x0, double x1, int64_t *a, int64_t *b)
{
    int64_t n = ser_points(s);
    *a = 0;
    *b = n;
    if (s->kind == SER_DOTS || n == 0 || !(s->dx > 0))
        return;
    double per = s->kind == SER_STEPS ? 2.0 : 1.0;
    double lo = floor((x0 - s->x0) / s->dx) * per - 2;
    double hi = ceil((x1 - s->x0) / s->dx) * per + 3;
    *a = lo <= 0 ? 0 : lo >= (double)n ? n : (int64_t)lo;
    *b = hi <= 0 ? 0 : hi >= (double)n ? n : (int64_t)hi;
}

/* Data -> device: px = ax + bx*x, py = ay + by*y. */
typedef struct xform {
    double ax, bx, ay, by;
} xform;

/* Clamps a device coordinate far outside the page (cairo's fixed point and
 * int conversions want sane numbers). */
static inline double clampd(double v)
{
    return v < -1e6 ? -1e6 : v > 1e6 ? 1e6 : v;
}

/* Where a line goes: cairo or the braille canvas. */
typedef struct pen {
    void (*move)(void *c, double x, double y);
    void (*line)(void *c, double x, double y);
    void *c;
} pen;

/* One device column of a line being reduced: its first, lowest, highest and
 * last point (M4), kept with their indices to be drawn in order. */
typedef struct m4 {
    int have, down; /* points in the column; the pen is down */
    double col;
    double x[4], y[4];
    int64_t i[4];
} m4;

static void m4_flush(m4 *b, const pen *p)
{
    if (!b->have)
        return;
    int ord[4] = {0, 1, 2, 3};
    for (int u = 1; u < 4; u++) /* by index */
        for (int w = u; w > 0 && b->i[ord[w]] < b->i[ord[w - 1]]; w--) {
            int t = ord[w];
            ord[w] = ord[w - 1];
            ord[w - 1] = t;
        }
    for (int u = 0; u < 4; u++) {
        int k = ord[u];
        if (u && b->i[k] == b->i[ord[u - 1]])
            continue;
        (b->down ? p->line : p->move)(p->c, b->x[k], b->y[k]);
        b->down = 1;
    }
    b->have = 0;
}

/* Draws the line or step series s through pen p, reduced to at most four
 * points per device column (exact at that resolution), and broken where a
 * value is not finite. */
static void draw_line(const series *s, const xform *t, double x0, double x1, const pen *p)
{
    int64_t a, b;
    ser_visible(s, x0, x1, &a, &b);
    m4 m = {0};
    for (int64_t i = a; i < b; i++) {
        double x, y;
        ser_point(s, i, &x, &y);
        if (!isfinite(x) || !isfinite(y)) {
            m4_flush(&m, p);
            m.down = 0;
            continue;
        }
        double px = clampd(t->ax + t->bx * x), py = clampd(t->ay + t->by * y);
        if (m.have && floor(px) != m.col)
            m4_flush(&m, p);
        if (!m.have) {
            m.have = 1;
            m.col = floor(px);
            for (int k = 0; k < 4; k++)
                m.x[k] = px, m.y[k] = py, m.i[k] = i;
            continue;
        }
        m.x[3] = px, m.y[3] = py, m.i[3] = i;
        if (py < m.y[1])
            m.x[1] = px, m.y[1] = py, m.i[1] = i;
        if (py > m.y[2])
            m.x[2] = px, m.y[2] = py, m.i[2] = i;
    }
    m4_flush(&m, p);
}

/* ---- ticks and numbers ------------------------------------------------------------------- */

/* A step of 1, 2 or 5 times a power of ten giving about target intervals. */
static double nice_step(double range, double target, int integer)
{
    if (target < 1)
        target = 1;
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    if (integer && step < 1)
        step = 1;
    return step;
}

#define MAX_TICKS 64

/* The ticks in [lo, hi] at multiples of step; returns how many. */
static int ticks(double lo, double hi, double step, double *out)
{
    int n = 0;
    if (!(step > 0 && isfinite(step)))
        return 0;
    double k0 = ceil(lo / step - 1e-9);
    for (double k = k0; n < MAX_TICKS; k++) {
        double v = k * step;
        if (v > hi + step * 1e-9)
            break;
        if (fabs(v) < step * 1e-9)
            v = 0;
        out[n++] = v;
    }
    return n;
}

/* Formats tick value v for a tick step (as many decimals as the step needs);
 * minus is U+2212 when unicode. */
static void fmt_tick(char *buf, size_t len, double v, double step, int unicode)
{
    char tmp[48];
    double av = fabs(v);
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (av >= 1e7 || dec > 6)
        snprintf(tmp, sizeof tmp, "%g", v);
    else
        snprintf(tmp, sizeof tmp, "%.*f", dec, v);
    if (unicode && tmp[0] == '-')
        snprintf(buf, len, "\xe2\x88\x92%s", tmp + 1);
    else
        snprintf(buf, len, "%s", tmp);
}

/* A compact number for captions and the preview's axes (%g with up to 4
 * significant digits, -0 as 0). */
static void fmt_num(char *buf, size_t len, double v)
{
    if (fabs(v) < 1e-12)
        v = 0;
    snprintf(buf, len, "%.4g", v);
}

/* ---- drawing with cairo -------------------------------------------------------------------- */

static void pen_cairo_move(void *c, double x, double y) { cairo_move_to(c, x, y); }
static void pen_cairo_line(void *c, double x, double y) { cairo_line_to(c, x, y); }

static void set_color(cairo_t *cr, int c, double alpha)
{
    const double *p = palette[c % 10];
    cairo_set_source_rgba(cr, p[0] / 255, p[1] / 255, p[2] / 255, alpha);
}

/* Text with its anchor at (x, y): ax 0 left, 0.5 centre, 1 right; ay 0 top
 * (the font's ascent), 0.5 middle, 1 bottom (its descent). */
static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay)
{
    cairo_text_extents_t te;
    cairo_font_extents_t fe;
    cairo_text_extents(cr, s, &te);
    cairo_font_extents(cr, &fe);
    double h = fe.ascent + fe.descent;
    cairo_move_to(cr, x - ax * te.x_advance, y - ay * h + fe.ascent);
    cairo_show_text(cr, s);
}

static double text_w(cairo_t *cr, const char *s)
{
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    return te.x_advance;
}

static double font_h(cairo_t *cr)
{
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    return fe.ascent + fe.descent;
}

static void font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Raster dots are small rectangles, w x h device units, centred on the
 * spike. A series goes onto the page one of two ways:
 *   - as vector rectangles (SVG and PDF, when at most VECTOR_DOTS_SVG or
 *     VECTOR_DOTS_PDF of them show after dropping each dot whose half-unit
 *     cell in its row is already taken: such a dot would not change the
 *     picture). A dot costs about 90 bytes of SVG and 16 of PDF (deflated),
 *     a dense image of the data area 2 to 3 MB: the limits are where the
 *     image becomes the smaller file;
 *   - as an image (PNG always, and dense rasters in SVG and PDF, where a
 *     million rectangles would make a file of tens of megabytes): the data
 *     area at IMAGE_DPI (1 pixel per pixel for PNG), every dot adding its
 *     exact box coverage to the alpha of the series' colour. */
#define VECTOR_DOTS_SVG 30000
#define VECTOR_DOTS_PDF 100000
#define IMAGE_DPI 300.0
#define IMAGE_MAX 8192

typedef struct dotgeom {
    xform t;
    double X0, Y0, X1, Y1; /* the plot area */
    double w, h;
    double ylo, rowpx; /* the data y at the bottom; device units per row */
} dotgeom;

/* Counts (and with cr, adds to cr's path) the dots of s that show and are
 * not on a cell taken already. */
static int64_t dots_vector(cairo_t *cr, const series *s, const dotgeom *g)
{
    int64_t cw = (int64_t)((g->X1 - g->X0 + 2 * g->w) * 2) + 2;
    int64_t ch = g->rowpx >= 0.5 ? (int64_t)ceil((g->Y1 - g->Y0) / g->rowpx) + 3
                                 : (int64_t)((g->Y1 - g->Y0 + 2 * g->h) * 2) + 2;
    unsigned char *cells = calloc((size_t)((cw * ch + 7) / 8), 1); /* NULL: none dropped */
    int64_t kept = 0;
    for (int64_t i = 0; i < s->n; i++) {
        double x = g->t.ax + g->t.bx * s->x[i];
        double y = g->t.ay + g->t.by * s->y[i];
        if (!(x >= g->X0 - g->w && x <= g->X1 + g->w && y >= g->Y0 - g->h &&
              y <= g->Y1 + g->h))
            continue;
        double rx = (x - g->X0 + g->w) * 2;
        double ry = g->rowpx >= 0.5 ? floor(s->y[i] - g->ylo) + 1 : (y - g->Y0 + g->h) * 2;
        if (cells && rx >= 0 && rx < (double)cw && ry >= 0 && ry < (double)ch) {
            uint64_t bit = (uint64_t)ry * (uint64_t)cw + (uint64_t)rx;
            if (cells[bit >> 3] & (1u << (bit & 7)))
                continue;
            cells[bit >> 3] |= (unsigned char)(1u << (bit & 7));
        }
        kept++;
        if (cr)
            cairo_rectangle(cr, x - g->w / 2, y - g->h / 2, g->w, g->h);
    }
    free(cells);
    return kept;
}

/* Paints the dots of s as an image of k pixels per device unit: coverage
 * first, then the series' colour with that coverage as alpha. (An image as
 * the source, not cairo_mask_surface: cairo 1.16's SVG output loses a
 * mask's transformation.) Returns 0, or -1 when no image could be made. */
static int dots_image(cairo_t *cr, const series *s, const dotgeom *g, double k)
{
    double aw = g->X1 - g->X0, ah = g->Y1 - g->Y0;
    if (aw * k > IMAGE_MAX)
        k = IMAGE_MAX / aw;
    if (ah * k > IMAGE_MAX)
        k = IMAGE_MAX / ah;
    int mw = (int)ceil(aw * k), mh = (int)ceil(ah * k);
    unsigned char *cov = calloc((size_t)mw * (size_t)mh, 1);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, mw, mh);
    if (!cov || cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        free(cov);
        cairo_surface_destroy(img);
        return -1;
    }
    double hw = g->w * k / 2, hh = g->h * k / 2;
    for (int64_t i = 0; i < s->n; i++) {
        double x = (g->t.ax + g->t.bx * s->x[i] - g->X0) * k;
        double y = (g->t.ay + g->t.by * s->y[i] - g->Y0) * k;
        double x0 = x - hw, x1 = x + hw, y0 = y - hh, y1 = y + hh;
        if (!(x1 > 0 && x0 < mw && y1 > 0 && y0 < mh))
            continue;
        int ia = (int)floor(fmax(x0, 0)), ib = (int)ceil(fmin(x1, mw));
        int ja = (int)floor(fmax(y0, 0)), jb = (int)ceil(fmin(y1, mh));
        for (int j = ja; j < jb; j++) {
            double cy = fmin(y1, j + 1) - fmax(y0, j);
            unsigned char *row = cov + (size_t)j * (size_t)mw;
            for (int q = ia; q < ib; q++) {
                /* coverage adds up, saturating: abutting dots join seamlessly */
                double cx = fmin(x1, q + 1) - fmax(x0, q);
                int v = row[q] + (int)(cx * cy * 255 + 0.5);
                row[q] = (unsigned char)(v > 255 ? 255 : v);
            }
        }
    }
    cairo_surface_flush(img);
    unsigned char *px = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    const double *c = palette[s->color % 10];
    for (int j = 0; j < mh; j++) {
        uint32_t *row = (uint32_t *)(void *)(px + (size_t)j * (size_t)stride);
        const unsigned char *a = cov + (size_t)j * (size_t)mw;
        for (int q = 0; q < mw; q++) { /* premultiplied, native-endian ARGB */
            uint32_t al = a[q];
            row[q] = al << 24 | (uint32_t)(c[0] * al / 255 + 0.5) << 16 |
                     (uint32_t)(c[1] * al / 255 + 0.5) << 8 | (uint32_t)(c[2] * al / 255 + 0.5);
        }
    }
    free(cov);
    cairo_surface_mark_dirty(img);
    cairo_save(cr);
    cairo_translate(cr, g->X0, g->Y0);
    cairo_scale(cr, 1 / k, 1 / k);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_rectangle(cr, 0, 0, mw, mh);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
    return 0;
}

/* Draws figure f on cr (a page of f->width x f->height units). vector_dots:
 * the most raster dots drawn as vector shapes (0 for PNG). */
static void draw_figure(cairo_t *cr, const figure *f, int64_t vector_dots)
{
    double W = f->width, H = f->height, fs = f->font, u = fs / 12;
    const double ink = 0.13; /* axes and text: near black */

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    /* vertical layout: title, plot, tick labels, x label */
    double pad = 0.9 * fs, tick = 0.45 * fs;
    font(cr, 1.25 * fs, 1);
    double title_h = f->title && *f->title ? font_h(cr) : 0;
    font(cr, 1.08 * fs, 0);
    double label_h = font_h(cr);
    font(cr, fs, 0);
    double tick_h = font_h(cr);
    double top = pad + (title_h > 0 ? title_h + 0.7 * fs : 0.3 * fs);
    double bottom = pad + (f->xlabel && *f->xlabel ? label_h + 0.35 * fs : 0) + tick_h +
                    0.35 * fs + tick;
    double ph = H - top - bottom;
    if (ph < 4 * u)
        ph = 4 * u;

    /* y ticks, then the left margin from their widths */
    double yt[MAX_TICKS], xt[MAX_TICKS];
    double ystep = nice_step(f->y1 - f->y0, ph / (3.2 * fs), f->integer_y);
    int nyt = ticks(f->y0, f->y1, ystep, yt);
    char lab[64];
    double ylw = 0;
    for (int q = 0; q < nyt; q++) {
        fmt_tick(lab, sizeof lab, yt[q], ystep, 1);
        double w = text_w(cr, lab);
        if (w > ylw)
            ylw = w;
    }
    double left = pad + (f->ylabel && *f->ylabel ? label_h + 0.5 * fs : 0) + ylw + 0.35 * fs +
                  tick;

    /* the right margin: the legend, or the stacked raster's band names */
    double legend_w = 0;
    if (f->legend || f->nbands > 1) {
        for (int q = 0; q < (f->nbands > 1 ? f->nbands : f->nser); q++) {
            const char *s = f->nbands > 1 ? f->bands[q].label : f->ser[q].label;
            double w = s ? text_w(cr, s) : 0;
            if (w > legend_w)
                legend_w = w;
        }
        if (f->extra) {
            font(cr, 0.85 * fs, 0);
            double w = text_w(cr, f->extra);
            if (w > legend_w + 2 * fs)
                legend_w = w - 2 * fs;
            font(cr, fs, 0);
        }
        legend_w += f->nbands > 1 ? 0.6 * fs : 2.6 * fs;
    }
    double pw0 = W - left - pad;
    double xstep = nice_step(f->x1 - f->x0, pw0 / (6.5 * fs), 0);
    int nxt = ticks(f->x0, f->x1, xstep, xt);
    double half_last = 0;
    if (nxt) {
        fmt_tick(lab, sizeof lab, xt[nxt - 1], xstep, 1);
        half_last = text_w(cr, lab) / 2;
    }
    double right = pad + (legend_w > half_last ? legend_w : half_last);
    double pw = W - left - right;
    if (pw < 4 * u)
        pw = 4 * u;

    /* the plot area, on whole pixels */
    double X0 = round(left), Y0 = round(top), X1 = round(left + pw), Y1 = round(top + ph);
    if (X1 <= X0)
        X1 = X0 + 1;
    if (Y1 <= Y0)
        Y1 = Y0 + 1;
    xform t;
    t.bx = (X1 - X0) / (f->x1 - f->x0);
    t.ax = X0 - t.bx * f->x0;
    t.by = -(Y1 - Y0) / (f->y1 - f->y0);
    t.ay = Y1 - t.by * f->y0;
    double lw = u < 1 ? 1 : round(u);  /* axis lines: whole pixels, crisp */
    double hw = fmod(lw, 2) ? 0.5 : 0; /* centre of an odd-width line */

    if (f->grid) {
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_set_line_width(cr, lw);
        for (int q = 0; q < nxt; q++) {
            double x = round(t.ax + t.bx * xt[q]) + hw;
            cairo_move_to(cr, x, Y0);
            cairo_line_to(cr, x, Y1);
        }
        for (int q = 0; q < nyt; q++) {
            double y = round(t.ay + t.by * yt[q]) + hw;
            cairo_move_to(cr, X0, y);
            cairo_line_to(cr, X1, y);
        }
        cairo_stroke(cr);
    }

    /* the data, clipped to the plot area */
    cairo_save(cr);
    cairo_rectangle(cr, X0, Y0, X1 - X0, Y1 - Y0);
    cairo_clip(cr);
    if (f->nbands > 1) { /* separators between stacked populations */
        cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
        cairo_set_line_width(cr, lw);
        double dash[] = {3 * u, 3 * u};
        cairo_set_dash(cr, dash, 2, 0);
        for (int q = 1; q < f->nbands; q++) {
            double y = round(t.ay + t.by * f->bands[q].lo) + hw;
            cairo_move_to(cr, X0, y);
            cairo_line_to(cr, X1, y);
        }
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
    }
    double rowpx = -t.by; /* one neuron, in device units */
    for (int q = 0; q < f->nser; q++) {
        const series *s = &f->ser[q];
        if (s->kind == SER_DOTS) {
            dotgeom g = {t, X0, Y0, X1, Y1, 1.6 * u, 0.75 * rowpx, f->y0, rowpx};
            g.h = g.h < 1.6 * u ? 1.6 * u : g.h > 12 * u ? 12 * u : g.h;
            if (!vector_dots || dots_vector(NULL, s, &g) > vector_dots) {
                if (dots_image(cr, s, &g, vector_dots ? IMAGE_DPI / 72 : 1) == 0)
                    continue;
            }
            dots_vector(cr, s, &g);
            set_color(cr, s->color, 1);
            cairo_fill(cr);
        } else {
            pen p = {pen_cairo_move, pen_cairo_line, cr};
            draw_line(s, &t, f->x0, f->x1, &p);
            set_color(cr, s->color, 1);
            cairo_set_line_width(cr, (f->nser > 5 ? 1.0 : 1.4) * u);
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
            cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
            cairo_stroke(cr);
            if (s->n == 1) { /* a single sample: a dot */
                double x, y;
                ser_point(s, 0, &x, &y);
                cairo_arc(cr, clampd(t.ax + t.bx * x), clampd(t.ay + t.by * y), 2 * u, 0,
                          2 * M_PI);
                cairo_fill(cr);
            }
        }
    }
    cairo_restore(cr);

    /* frame, ticks, tick labels */
    cairo_set_source_rgb(cr, ink, ink, ink);
    cairo_set_line_width(cr, lw);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE);
    cairo_rectangle(cr, X0 + hw, Y0 + hw, X1 - X0 - 2 * hw, Y1 - Y0 - 2 * hw);
    cairo_stroke(cr);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    font(cr, fs, 0);
    for (int q = 0; q < nxt; q++) {
        double x = round(t.ax + t.bx * xt[q]) + hw;
        cairo_move_to(cr, x, Y1);
        cairo_line_to(cr, x, Y1 + tick);
        cairo_stroke(cr);
        fmt_tick(lab, sizeof lab, xt[q], xstep, 1);
        text_at(cr, x, Y1 + tick + 0.35 * fs, lab, 0.5, 0);
    }
    for (int q = 0; q < nyt; q++) {
        double y = round(t.ay + t.by * yt[q]) + hw;
        cairo_move_to(cr, X0, y);
        cairo_line_to(cr, X0 - tick, y);
        cairo_stroke(cr);
        fmt_tick(lab, sizeof lab, yt[q], ystep, 1);
        text_at(cr, X0 - tick - 0.35 * fs, y, lab, 1, 0.5);
    }

    /* axis labels and title */
    font(cr, 1.08 * fs, 0);
    if (f->xlabel && *f->xlabel)
        text_at(cr, (X0 + X1) / 2, H - pad, f->xlabel, 0.5, 1);
    if (f->ylabel && *f->ylabel) {
        cairo_save(cr);
        cairo_translate(cr, pad, (Y0 + Y1) / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, 0, 0, f->ylabel, 0.5, 0);
        cairo_restore(cr);
    }
    if (title_h > 0) {
        font(cr, 1.25 * fs, 1);
        text_at(cr, (X0 + X1) / 2, pad, f->title, 0.5, 0);
    }

    /* legend or band names, right of the plot */
    font(cr, fs, 0);
    if (f->nbands > 1) {
        for (int q = 0; q < f->nbands; q++) {
            const band *b = &f->bands[q];
            double lo = fmax(b->lo, f->y0), hi = fmin(b->hi, f->y1); /* the part shown */
            if (!(lo < hi))
                continue;
            double y = t.ay + t.by * (lo + hi) / 2;
            set_color(cr, b->color, 1);
            text_at(cr, X1 + 0.6 * fs, y, b->label, 0, 0.5);
        }
    } else if (f->legend) {
        double y = Y0 + 0.2 * fs, step = 1.35 * fs;
        int q = 0;
        for (; q < f->nser && y + step <= Y1 + 0.5 * step; q++, y += step) {
            set_color(cr, f->ser[q].color, 1);
            cairo_set_line_width(cr, 1.6 * u);
            cairo_move_to(cr, X1 + 0.6 * fs, y + 0.5 * tick_h);
            cairo_line_to(cr, X1 + 2.0 * fs, y + 0.5 * tick_h);
            cairo_stroke(cr);
            cairo_set_source_rgb(cr, ink, ink, ink);
            text_at(cr, X1 + 2.4 * fs, y, f->ser[q].label ? f->ser[q].label : "", 0, 0);
        }
        if (f->extra) {
            cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
            font(cr, 0.85 * fs, 0);
            text_at(cr, X1 + 0.6 * fs, y + 0.2 * fs, f->extra, 0, 0);
        }
    }

    if (f->note) {
        cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
        font(cr, 1.1 * fs, 0);
        text_at(cr, (X0 + X1) / 2, (Y0 + Y1) / 2, f->note, 0.5, 0.5);
    }
}

/* ---- files ----------------------------------------------------------------------------------- */

enum { FMT_PNG, FMT_SVG, FMT_PDF };

/* The format named by path's extension, or -1 (ext gets the extension). */
static int file_format(const char *path, char *ext, size_t len)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    ext[0] = 0;
    if (!dot || dot == (slash ? slash + 1 : path))
        return -1;
    size_t n = strlen(dot);
    if (n >= len)
        n = len - 1;
    for (size_t q = 0; q < n; q++)
        ext[q] = (char)tolower((unsigned char)dot[q]);
    ext[n] = 0;
    if (!strcmp(ext, ".png"))
        return FMT_PNG;
    if (!strcmp(ext, ".svg"))
        return FMT_SVG;
    if (!strcmp(ext, ".pdf"))
        return FMT_PDF;
    return -1;
}

typedef struct sink {
    FILE *f;
    int err; /* errno of the first failed write */
} sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len)
{
    sink *s = closure;
    if (s->err)
        return CAIRO_STATUS_WRITE_ERROR;
    errno = 0;
    if (fwrite(data, 1, len, s->f) != len) {
        s->err = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

/* Draws f into path (format fmt): a regular file through PATH.part, renamed
 * over path when complete, so that a failure (a full disk) leaves an
 * earlier figure of that name as it was; a character device (/dev/stdout)
 * directly. A directory, FIFO (its open would block for good) or socket is
 * refused. Returns 0, or -1 with a message in err. */
static int write_figure(const figure *f, const char *path, int fmt, char *err, size_t errlen)
{
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(EISDIR));
        return -1;
    }
    if (exists && !S_ISREG(sb.st_mode) && !S_ISCHR(sb.st_mode)) {
        snprintf(err, errlen, "cannot write '%s': it is not a regular file", path);
        return -1;
    }
    int direct = exists && S_ISCHR(sb.st_mode);
    char part[PATH_MAX];
    if (snprintf(part, sizeof part, "%s%s", path, direct ? "" : ".part") >= (int)sizeof part) {
        snprintf(err, errlen, "cannot write '%s': the name is too long", path);
        return -1;
    }
    if (!direct && stat(part, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "cannot write '%s': its .part is in the way (not a regular file)",
                 path);
        return -1;
    }
    sink s = {fopen(part, "wb"), 0};
    if (!s.f) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    cairo_surface_t *sf;
    if (fmt == FMT_PNG)
        sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)f->width, (int)f->height);
    else if (fmt == FMT_SVG)
        sf = cairo_svg_surface_create_for_stream(sink_write, &s, f->width, f->height);
    else
        sf = cairo_pdf_surface_create_for_stream(sink_write, &s, f->width, f->height);
    if (fmt == FMT_PDF && cairo_surface_status(sf) == CAIRO_STATUS_SUCCESS) {
        cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_CREATOR, "nkshell");
        if (f->title && *f->title)
            cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_TITLE, f->title);
    }
    cairo_t *cr = cairo_create(sf);
    draw_figure(cr, f, fmt == FMT_SVG ? VECTOR_DOTS_SVG : fmt == FMT_PDF ? VECTOR_DOTS_PDF : 0);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS) {
        if (fmt == FMT_PNG)
            st = cairo_surface_write_to_png_stream(sf, sink_write, &s);
        cairo_surface_finish(sf);
        if (st == CAIRO_STATUS_SUCCESS)
            st = cairo_surface_status(sf);
    }
    cairo_surface_destroy(sf);
    int ferr = s.err;
    if (fclose(s.f) && !ferr)
        ferr = errno ? errno : EIO;
    if (st == CAIRO_STATUS_SUCCESS && !ferr) {
        if (direct || rename(part, path) == 0)
            return 0;
        ferr = errno;
    }
    if (ferr)
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(ferr));
    else
        snprintf(err, errlen, "cannot draw '%s': %s", path, cairo_status_to_string(st));
    if (!direct)
        remove(part);
    return -1;
}

/* ---- the terminal preview ---------------------------------------------------------------- */

/* Braille canvas: w x h dots, 2 x 4 per character cell. */
typedef struct canvas {
    int w, h;
    unsigned char *bits; /* one byte (the braille dot pattern) per cell */
    double lx, ly;       /* the pen */
} canvas;

static void dot(canvas *c, double x, double y)
{
    if (!(x >= 0 && x < c->w && y >= 0 && y < c->h))
        return;
    int ix = (int)x, iy = (int)y;
    static const unsigned char bit[4][2] = {{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20},
                                            {0x40, 0x80}};
    c->bits[(iy / 4) * (c->w / 2) + ix / 2] |= bit[iy % 4][ix % 2];
}

static void canvas_move(void *cv, double x, double y)
{
    canvas *c = cv;
    c->lx = x;
    c->ly = y;
    dot(c, x, y);
}

static void canvas_line(void *cv, double x, double y)
{
    canvas *c = cv;
    double dx = x - c->lx, dy = y - c->ly;
    double n = ceil(fmax(fabs(dx), fabs(dy)));
    if (n > 4 * (c->w + c->h))
        n = 4 * (c->w + c->h);
    for (double q = 1; q <= n; q++)
        dot(c, c->lx + dx * q / n, c->ly + dy * q / n);
    canvas_move(c, x, y);
}

/* Columns of the terminal on stdout: TIOCGWINSZ, else $COLUMNS, else 80. */
static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *e = getenv("COLUMNS");
    long c = e ? strtol(e, NULL, 10) : 0;
    return c > 0 && c < 100000 ? (int)c : 80;
}

static void add_rep(luaL_Buffer *b, const char *s, int n)
{
    for (int q = 0; q < n; q++)
        luaL_addstring(b, s);
}

/* Prints f on stdout: a caption, rows of braille with the y range on the
 * left, the x axis and its range. cols x rows: the whole width in columns
 * and the braille rows. */
static void preview(lua_State *L, const figure *f, int cols, int rows)
{
    char ytop[64], ybot[64], xl[64], xr[64];
    char a[48], b[48];
    fmt_num(a, sizeof a, f->y1);
    fmt_num(b, sizeof b, f->y0);
    if (f->integer_y) {
        snprintf(a, sizeof a, "%.0f", floor(f->y1));
        snprintf(b, sizeof b, "%.0f", ceil(f->y0));
    }
    snprintf(ytop, sizeof ytop, "%s%s%s", a, f->yunit ? " " : "", f->yunit ? f->yunit : "");
    snprintf(ybot, sizeof ybot, "%s%s%s", b, f->yunit ? " " : "", f->yunit ? f->yunit : "");
    fmt_num(a, sizeof a, f->x0);
    fmt_num(b, sizeof b, f->x1);
    snprintf(xl, sizeof xl, "%s ms", a);
    snprintf(xr, sizeof xr, "%s ms", b);
    int gut = (int)(strlen(ytop) > strlen(ybot) ? strlen(ytop) : strlen(ybot));
    int cw = cols - gut - 2; /* "label" " " axis-char, then the cells */
    if (cw < 8)
        cw = 8;

    /* the dots, on a canvas made before the string buffer takes the top */
    canvas c = {2 * cw, 4 * rows, NULL, 0, 0};
    if (!f->note) {
        c.bits = scratch(L, (size_t)cw * (size_t)rows, 1);
        memset(c.bits, 0, (size_t)cw * (size_t)rows);
        /* dot centres: x0 -> 0, x1 -> w - 1; y1 -> 0, y0 -> h - 1 */
        xform t;
        t.bx = (c.w - 1) / (f->x1 - f->x0);
        t.ax = -t.bx * f->x0 + 0.5;
        t.by = -(c.h - 1) / (f->y1 - f->y0);
        t.ay = (c.h - 1) - t.by * f->y0 + 0.5;
        for (int q = 0; q < f->nser; q++) {
            const series *s = &f->ser[q];
            if (s->kind == SER_DOTS) {
                for (int64_t i = 0; i < s->n; i++)
                    dot(&c, t.ax + t.bx * s->x[i], t.ay + t.by * s->y[i]);
            } else {
                pen p = {canvas_move, canvas_line, &c};
                draw_line(s, &t, f->x0, f->x1, &p);
            }
        }
    }

    luaL_Buffer B;
    luaL_buffinit(L, &B);
    /* the caption, cut to the width (counting UTF-8 characters) */
    const char *cap = f->caption;
    int ncp = 0;
    size_t cut = 0;
    for (size_t q = 0; cap[q]; q++)
        if (((unsigned char)cap[q] & 0xc0) != 0x80 && ++ncp == cols)
            cut = q;
    if (ncp > cols) {
        luaL_addlstring(&B, cap, cut);
        luaL_addstring(&B, "\xe2\x80\xa6"); /* ... */
    } else {
        luaL_addstring(&B, cap);
    }
    luaL_addchar(&B, '\n');
    if (f->note) {
        luaL_addchar(&B, '(');
        luaL_addstring(&B, f->note);
        luaL_addstring(&B, ")\n");
        luaL_pushresult(&B);
        fwrite(lua_tostring(L, -1), 1, lua_rawlen(L, -1), stdout);
        fflush(stdout);
        lua_pop(L, 1);
        return;
    }

    for (int r = 0; r < rows; r++) {
        const char *lab = r == 0 ? ytop : r == rows - 1 ? ybot : "";
        add_rep(&B, " ", gut - (int)strlen(lab));
        luaL_addstring(&B, lab);
        luaL_addstring(&B, r == 0 || r == rows - 1 ? " \xe2\x94\xa4" : " \xe2\x94\x82");
        for (int x = 0; x < cw; x++) {
            unsigned char v = c.bits[r * cw + x];
            if (!v) {
                luaL_addchar(&B, ' ');
                continue;
            }
            char u8[3] = {(char)0xe2, (char)(0xa0 | (v >> 6)), (char)(0x80 | (v & 0x3f))};
            luaL_addlstring(&B, u8, 3);
        }
        luaL_addchar(&B, '\n');
    }
    add_rep(&B, " ", gut + 1);
    luaL_addstring(&B, "\xe2\x94\x94");
    add_rep(&B, "\xe2\x94\x80", cw);
    luaL_addchar(&B, '\n');
    add_rep(&B, " ", gut + 2);
    luaL_addstring(&B, xl);
    int space = cw - (int)strlen(xl) - (int)strlen(xr);
    add_rep(&B, " ", space > 1 ? space : 1);
    luaL_addstring(&B, xr);
    luaL_addchar(&B, '\n');
    luaL_pushresult(&B);
    fwrite(lua_tostring(L, -1), 1, lua_rawlen(L, -1), stdout);
    fflush(stdout);
    lua_pop(L, 1);
}

/* ---- arguments common to the three plots ------------------------------------------------- */

typedef struct common {
    const char *path; /* NULL: preview */
    int fmt;
    int t; /* the option table's index, 0 when none */
    int has_w, has_h, has_font;
    double width, height, font;
    int has_xlim, has_ylim;
    double xlim[2], ylim[2];
    const char *title, *xlabel, *ylabel;
    int grid;
} common;

/* Arguments 2 and 3: [file], [opts] (a table alone in second place is the
 * options). Leaves the options at index 3. */
static void check_common(lua_State *L, const char *fname, common *c)
{
    /* the options are lua/nk_api.c's, as help() and the reference show them */
    const nk_api_opt *opts = nk_api_opts(fname, NULL);
    char wb[32], hb[32]; /* numbers in messages (nk_fmt_num) */
    memset(c, 0, sizeof *c);
    lua_settop(L, 3);
    if (lua_istable(L, 2) && lua_isnil(L, 3)) {
        lua_pushvalue(L, 2);
        lua_replace(L, 3);
        lua_pushnil(L);
        lua_replace(L, 2);
    }
    if (!lua_isnil(L, 2) && lua_type(L, 2) != LUA_TSTRING)
        perr(L, "bad argument #2 to '%s' (file name (.png, .svg or .pdf) expected, got %s)",
             fname, luaL_typename(L, 2));
    if (!lua_isnil(L, 3) && !lua_istable(L, 3))
        perr(L, "bad argument #3 to '%s' (table of options expected, got %s)", fname,
             luaL_typename(L, 3));
    c->path = lua_tostring(L, 2);
    if (c->path) {
        char ext[16];
        if (!*c->path)
            perr(L, "bad argument #2 to '%s' (file name expected, got an empty string)", fname);
        if (strlen(c->path) != lua_rawlen(L, 2))
            perr(L, "bad argument #2 to '%s' (a file name cannot hold a NUL byte)", fname);
        c->fmt = file_format(c->path, ext, sizeof ext);
        if (c->fmt < 0 && !*ext)
            perr(L, "%s: '%s' has no file extension to tell the format by (expected .png, "
                    ".svg or .pdf)", fname, c->path);
        if (c->fmt < 0)
            perr(L, "%s: unsupported file extension '%s' in '%s' (expected .png, .svg or .pdf)",
                 fname, ext, c->path);
    }
    c->t = lua_istable(L, 3) ? 3 : 0;
    c->grid = 0;
    if (c->t) {
        nk_api_check(L, 3, fname, opts);
        lua_getfield(L, 3, "width");
        c->has_w = !lua_isnil(L, -1);
        lua_getfield(L, 3, "height");
        c->has_h = !lua_isnil(L, -1);
        lua_getfield(L, 3, "font_size");
        c->has_font = !lua_isnil(L, -1);
        lua_pop(L, 3);
        c->width = opt_num(L, 3, "width", fname, 0);
        c->height = opt_num(L, 3, "height", fname, 0);
        c->font = opt_num(L, 3, "font_size", fname, 0);
        c->has_xlim = opt_range(L, 3, "xlim", fname, &c->xlim[0], &c->xlim[1]);
        c->has_ylim = opt_range(L, 3, "ylim", fname, &c->ylim[0], &c->ylim[1]);
        c->title = opt_str(L, 3, "title", fname, NULL);
        c->xlabel = opt_str(L, 3, "xlabel", fname, NULL);
        c->ylabel = opt_str(L, 3, "ylabel", fname, NULL);
        lua_getfield(L, 3, "grid");
        if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
            perr(L, "option 'grid' for %s must be true or false, got %s", fname,
                 luaL_typename(L, -1));
        c->grid = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (c->has_font && !(c->font >= 4 && c->font <= 100))
            perr(L, "option 'font_size' for %s must be 4 to 100, got %s", fname,
                 nk_fmt_num(c->font, wb, sizeof wb));
    }
    if (c->path) {
        double lo = 50, hi = 10000;
        const char *unit = c->fmt == FMT_PNG ? "pixels" : "points";
        if (c->has_w && !(c->width >= lo && c->width <= hi))
            perr(L, "option 'width' for %s must be %g to %g %s, got %s", fname, lo, hi, unit,
                 nk_fmt_num(c->width, wb, sizeof wb));
        if (c->has_h && !(c->height >= lo && c->height <= hi))
            perr(L, "option 'height' for %s must be %g to %g %s, got %s", fname, lo, hi, unit,
                 nk_fmt_num(c->height, hb, sizeof hb));
        if (c->fmt == FMT_PNG && ((c->has_w && c->width != floor(c->width)) ||
                                  (c->has_h && c->height != floor(c->height))))
            perr(L, "%s: a PNG's width and height are whole numbers of pixels, got %s x %s",
                 fname, nk_fmt_num(c->has_w ? c->width : 800, wb, sizeof wb),
                 nk_fmt_num(c->has_h ? c->height : 500, hb, sizeof hb));
        if (!c->has_w)
            c->width = 800;
        if (!c->has_h)
            c->height = 500;
        if (c->fmt == FMT_PNG && c->width * c->height > 40e6)
            perr(L, "%s: a PNG of %g x %g pixels is too large (at most 40 million pixels)",
                 fname, c->width, c->height);
        double scale = fmin(c->width / 800, c->height / 500);
        scale = scale < 0.75 ? 0.75 : scale > 2 ? 2 : scale;
        if (!c->has_font)
            c->font = 12 * scale;
    } else {
        if (c->has_w && !(c->width >= 20 && c->width <= 1000 && c->width == floor(c->width)))
            perr(L, "option 'width' for %s (a preview: columns) must be a whole number from 20 "
                    "to 1000, got %s", fname, nk_fmt_num(c->width, wb, sizeof wb));
        if (c->has_h && !(c->height >= 2 && c->height <= 200 && c->height == floor(c->height)))
            perr(L, "option 'height' for %s (a preview: rows of braille) must be a whole number "
                    "from 2 to 200, got %s", fname, nk_fmt_num(c->height, hb, sizeof hb));
        if (!c->has_w) {
            int tc = term_columns();
            c->width = tc < 20 ? 20 : tc > 1000 ? 1000 : tc;
        }
        if (!c->has_h)
            c->height = PREVIEW_ROWS;
    }
}

/* Applies the common options to f: sizes, labels, limits. x0..x1 and
 * y0..y1 are the data's ranges. */
static void apply_common(const common *c, figure *f)
{
    f->width = c->width;
    f->height = c->height;
    f->font = c->font;
    f->grid = c->grid;
    if (c->title)
        f->title = c->title;
    if (c->xlabel)
        f->xlabel = c->xlabel;
    if (c->ylabel)
        f->ylabel = c->ylabel;
    if (c->has_xlim)
        f->x0 = c->xlim[0], f->x1 = c->xlim[1];
    if (c->has_ylim)
        f->y0 = c->ylim[0], f->y1 = c->ylim[1];
    if (!(f->x1 > f->x0)) { /* nothing recorded yet */
        double m = f->x0;
        f->x0 = m;
        f->x1 = m + 1;
    }
    /* data of any size: spans that stay finite */
    f->x0 = fmax(f->x0, -1e300), f->x1 = fmin(f->x1, 1e300);
    f->y0 = fmax(f->y0, -1e300), f->y1 = fmin(f->y1, 1e300);
    if (!(f->y1 > f->y0)) {
        double m = f->y0, d = fabs(m) > 1e-300 ? fabs(m) * 0.05 : 1;
        f->y0 = m - d;
        f->y1 = m + d;
    }
}

/* Draws the figure (file or preview) and pushes the results: the file name,
 * or nothing. */
static int finish(lua_State *L, const common *c, figure *f)
{
    if (!c->path) {
        preview(L, f, (int)c->width, (int)c->height);
        return 0;
    }
    char err[1024];
    if (write_figure(f, c->path, c->fmt, err, sizeof err))
        return perr(L, "%s: %s", f->fname, err);
    lua_pushvalue(L, 2);
    return 1;
}

/* The names of the monitored populations: "exc" or "exc, inh" (left on the
 * stack). */
static const char *pop_names(lua_State *L, const pmon *mons, int n)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int q = 0; q < n; q++) {
        const pmon *m = &mons[q];
        if (q)
            luaL_addstring(&b, ", ");
        luaL_addstring(&b, nk_pop_name(m->net, nk_monitor_target(m->net, m->k).pop));
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

/* ---- nk.plot.raster ------------------------------------------------------------------------ */

static int plot_raster(lua_State *L)
{
    const char *fname = "nk.plot.raster";
    pmon mons[MAX_MONS];
    int nm = check_monitors(L, fname, "a spike monitor or a list of them", accept_spikes, mons);
    common c;
    check_common(L, fname, &c);

    figure *f = scratch(L, 1, sizeof *f);
    memset(f, 0, sizeof *f);
    f->fname = fname;
    f->ser = scratch(L, (size_t)nm, sizeof *f->ser);
    f->nser = nm;
    f->integer_y = 1;
    f->xlabel = "time (ms)";
    f->ylabel = "neuron";
    const char *names = pop_names(L, mons, nm);
    f->title = lua_pushfstring(L, "Spikes \xe2\x80\x94 %s", names);

    int64_t total = 0, neurons = 0;
    double off = 0, t0 = HUGE_VAL, t1 = -HUGE_VAL;
    for (int q = 0; q < nm; q++) {
        pmon *m = &mons[q];
        int64_t first, last;
        int64_t nn = mon_span(m, &first, &last);
        int64_t n = nk_monitor_count(m->net, m->k);
        double *t = scratch(L, (size_t)n, sizeof *t);
        double *y = scratch(L, (size_t)n, sizeof *y);
        int64_t *ids = scratch(L, (size_t)n, sizeof *ids);
        n = nk_monitor_spikes(m->net, m->k, t, ids, n);
        /* one monitor: neuron numbers as in the population (1-based);
         * several: stacked, each from 1 past the one below */
        double base = nm == 1 ? 0 : off - (double)first;
        for (int64_t i = 0; i < n; i++)
            y[i] = base + (double)ids[i] + 1;
        lua_pop(L, 1); /* ids */
        series *s = &f->ser[q];
        s->kind = SER_DOTS;
        s->color = q;
        s->n = n;
        s->x = t;
        s->y = y;
        band *b = &f->bands[f->nbands++];
        b->lo = base + (double)first + 0.5;
        b->hi = base + (double)last + 1.5;
        b->label = nk_pop_name(m->net, nk_monitor_target(m->net, m->k).pop);
        b->color = q;
        off = b->hi - 0.5;
        double a, z;
        mon_window(m, &a, &z);
        t0 = fmin(t0, a);
        t1 = fmax(t1, z);
        total += n;
        neurons += nn;
    }
    f->x0 = t0;
    f->x1 = t1;
    f->y0 = f->bands[0].lo;
    f->y1 = f->bands[nm - 1].hi;
    if (total == 0)
        f->note = "no spikes recorded";
    apply_common(&c, f);
    char a[48], b[48], r[48];
    fmt_num(a, sizeof a, t0);
    fmt_num(b, sizeof b, t1);
    double dur = (t1 - t0) / 1000;
    fmt_num(r, sizeof r, dur > 0 && neurons ? (double)total / (double)neurons / dur : 0);
    /* "raster of exc: ..." or, stacked, "raster of exc 1-40, inh 41-60: ..." */
    luaL_Buffer nb;
    luaL_buffinit(L, &nb);
    for (int q = 0; q < nm; q++) {
        if (q)
            luaL_addstring(&nb, ", ");
        luaL_addstring(&nb, f->bands[q].label);
        if (nm > 1) {
            char rows[64];
            snprintf(rows, sizeof rows, " %.0f-%.0f", f->bands[q].lo + 0.5,
                     f->bands[q].hi - 0.5);
            luaL_addstring(&nb, rows);
        }
    }
    luaL_pushresult(&nb);
    snprintf(f->caption, sizeof f->caption,
             "raster of %s: %lld spikes from %lld neurons, %s to %s ms (%s Hz)",
             lua_tostring(L, -1), (long long)total, (long long)neurons, a, b, r);
    return finish(L, &c, f);
}

/* ---- nk.plot.trace ------------------------------------------------------------------------- */

static int plot_trace(lua_State *L)
{
    const char *fname = "nk.plot.trace";
    pmon m;
    if (!to_monitor(L, 1, fname, &m))
        perr(L, "bad argument #1 to '%s' (a state, output or field monitor expected, got %s)",
             fname, luaL_typename(L, 1));
    if (!is_kind(&m, "state") && !is_kind(&m, "output") && !is_kind(&m, "field"))
        perr(L, "%s: %s has no traces (expected a state, output or field monitor; "
                "plot it with nk.plot.%s)", fname, a_monitor(L, &m),
             is_kind(&m, "rate") ? "rate" : "raster or nk.plot.rate");
    common c;
    check_common(L, fname, &c);

    const char *const *names, *const *units;
    int nv = nk_monitor_vars(m.net, m.k, &names, &units);
    if (nv < 1)
        perr(L, "%s: this %s monitor records no variables", fname, m.kind);
    int v = 0;
    const char *var = c.t ? opt_str(L, 3, "var", fname, NULL) : NULL;
    if (var) {
        for (v = 0; v < nv && strcmp(names[v], var); v++)
            ;
        if (v == nv) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int q = 0; q < nv; q++) {
                if (q)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, names[q]);
            }
            luaL_pushresult(&b);
            perr(L, "option 'var' for %s: this monitor does not record '%s' (it records: %s)",
                 fname, var, lua_tostring(L, -1));
        }
    } else if (nv > 1) {
        perr(L, "%s: this monitor records %d variables (%s, ...): choose one with option 'var'",
             fname, nv, names[0]);
    }
    int64_t ncols;
    const double *d;
    double t0, step;
    int64_t rows = nk_monitor_rows(m.net, m.k, &ncols, &d, &t0, &step);
    int64_t nn = is_kind(&m, "field") ? 1 : ncols / nv;
    const int64_t *idx;
    int64_t lo;
    nk_monitor_neurons(m.net, m.k, &idx, &lo);

    /* which recorded neurons: positions within the monitor, as in mon:trace(j) */
    int64_t *pick;
    int np;
    int given = 0;
    if (c.t)
        lua_getfield(L, 3, "neurons");
    else
        lua_pushnil(L);
    if ((given = !lua_isnil(L, -1))) {
        if (!lua_istable(L, -1))
            perr(L, "option 'neurons' for %s must be a list of neurons (positions within the "
                    "monitor, 1..%lld), got %s", fname, (long long)nn, luaL_typename(L, -1));
        lua_Integer len = luaL_len(L, -1);
        if (len < 1 || len > MAX_TRACES)
            perr(L, "option 'neurons' for %s must list 1 to %d neurons, got %lld", fname,
                 MAX_TRACES, (long long)len);
        np = (int)len;
        pick = scratch(L, (size_t)np, sizeof *pick);
        for (int q = 0; q < np; q++) {
            lua_geti(L, -2, q + 1);
            int isnum = 0;
            lua_Integer j = lua_tointegerx(L, -1, &isnum);
            if (!isnum || lua_type(L, -1) != LUA_TNUMBER)
                perr(L, "option 'neurons' for %s: item %d must be a whole number, got %s",
                     fname, q + 1, luaL_typename(L, -1));
            if (j < 1 || j > nn)
                perr(L, "option 'neurons' for %s: neuron %lld is not among the %lld monitored "
                        "(positions within the monitor, as in mon:trace(j))", fname,
                     (long long)j, (long long)nn);
            pick[q] = j - 1;
            lua_pop(L, 1);
        }
    } else {
        np = nn < DEFAULT_TRACES ? (int)nn : DEFAULT_TRACES;
        pick = scratch(L, (size_t)np, sizeof *pick);
        for (int q = 0; q < np; q++)
            pick[q] = q;
    }

    figure *f = scratch(L, 1, sizeof *f);
    memset(f, 0, sizeof *f);
    f->fname = fname;
    f->ser = scratch(L, (size_t)np, sizeof *f->ser);
    f->nser = np;
    f->legend = np > 1;
    const char *pop = nk_pop_name(m.net, nk_monitor_target(m.net, m.k).pop);
    const char *unit = units && units[v] && *units[v] ? units[v] : NULL;
    const char *vname = names[v];
    f->xlabel = "time (ms)";
    f->ylabel = unit ? lua_pushfstring(L, "%s (%s)", vname, unit) : vname;
    f->yunit = unit;
    f->title = is_kind(&m, "field") ? lua_pushfstring(L, "%s \xe2\x80\x94 %s (field)", vname, pop)
                                    : lua_pushfstring(L, "%s \xe2\x80\x94 %s", vname, pop);
    double ymin = HUGE_VAL, ymax = -HUGE_VAL;
    double x0, x1;
    mon_window(&m, &x0, &x1);
    if (rows > 0 && x1 < t0 + (double)(rows - 1) * step)
        x1 = t0 + (double)(rows - 1) * step;
    double wx0 = c.has_xlim ? c.xlim[0] : x0, wx1 = c.has_xlim ? c.xlim[1] : x1;
    for (int q = 0; q < np; q++) {
        series *s = &f->ser[q];
        s->kind = SER_LINE;
        s->color = q;
        s->n = rows;
        s->y = d ? d + pick[q] * (is_kind(&m, "field") ? 1 : nv) + v : NULL;
        s->ystride = ncols;
        s->x0 = t0;
        s->dx = step;
        int64_t who = is_kind(&m, "field") ? -1 : (idx ? idx[pick[q]] : lo + pick[q]);
        s->label = who >= 0 ? lua_pushfstring(L, "neuron %I", (lua_Integer)(who + 1)) : vname;
        int64_t a, b;
        ser_visible(s, wx0, wx1, &a, &b);
        for (int64_t i = a; i < b; i++) {
            double x, y;
            ser_point(s, i, &x, &y);
            if (x < wx0 || x > wx1 || !isfinite(y))
                continue;
            ymin = fmin(ymin, y);
            ymax = fmax(ymax, y);
        }
    }
    if (rows == 0) {
        f->nser = 0;
        f->note = "no samples recorded";
    }
    if (np < nn && !given)
        f->extra = lua_pushfstring(L, "first %d of %I recorded", np, (lua_Integer)nn);
    f->x0 = x0;
    f->x1 = x1;
    if (ymin <= ymax) {
        double pad = (ymax - ymin) * 0.05;
        f->y0 = ymin - pad;
        f->y1 = ymax + pad;
    } else {
        f->y0 = 0;
        f->y1 = 1;
    }
    apply_common(&c, f);
    char a[48], b[48], lo_s[48], hi_s[48];
    fmt_num(a, sizeof a, x0);
    fmt_num(b, sizeof b, x1);
    fmt_num(lo_s, sizeof lo_s, ymin <= ymax ? ymin : 0);
    fmt_num(hi_s, sizeof hi_s, ymin <= ymax ? ymax : 0);
    snprintf(f->caption, sizeof f->caption,
             "%s of '%s'%s: %d of %lld neurons, %lld samples, %s to %s ms, %s to %s%s%s", vname,
             pop, is_kind(&m, "field") ? " (field)" : "", np, (long long)nn, (long long)rows, a,
             b, lo_s, hi_s, unit ? " " : "", unit ? unit : "");
    return finish(L, &c, f);
}

/* ---- nk.plot.rate -------------------------------------------------------------------------- */

static int plot_rate(lua_State *L)
{
    const char *fname = "nk.plot.rate";
    pmon mons[MAX_MONS];
    int nm = check_monitors(L, fname, "a spike or rate monitor or a list of them", accept_rate,
                            mons);
    common c;
    check_common(L, fname, &c);
    double bin = c.t ? opt_num(L, 3, "bin", fname, 5) : 5;
    if (!(bin > 0))
        perr(L, "option 'bin' for %s must be a positive number of ms, got %g", fname, bin);
    int has_bin = c.t && (lua_getfield(L, 3, "bin"), !lua_isnil(L, -1));

    figure *f = scratch(L, 1, sizeof *f);
    memset(f, 0, sizeof *f);
    f->fname = fname;
    f->ser = scratch(L, (size_t)nm, sizeof *f->ser);
    f->nser = nm;
    f->legend = nm > 1;
    f->xlabel = "time (ms)";
    f->ylabel = "rate (Hz)";
    f->yunit = "Hz";
    const char *names = pop_names(L, mons, nm);
    double t0 = HUGE_VAL, t1 = -HUGE_VAL, ymax = 0;
    int64_t samples = 0;
    double shown_bin = -1;
    int same_bins = 1;
    for (int q = 0; q < nm; q++) {
        pmon *m = &mons[q];
        series *s = &f->ser[q];
        s->kind = SER_STEPS;
        s->color = q;
        s->label = nk_pop_name(m->net, nk_monitor_target(m->net, m->k).pop);
        double a, z;
        mon_window(m, &a, &z);
        if (is_kind(m, "rate")) {
            if (has_bin)
                perr(L, "%s: option 'bin' is for spike monitors; a rate monitor has its own "
                        "bins (net:monitor('rate', pop, {bin = ...}))", fname);
            int64_t ncols;
            const double *d;
            double step;
            s->n = nk_monitor_rows(m->net, m->k, &ncols, &d, &a, &step);
            s->y = d;
            s->ystride = ncols > 0 ? ncols : 1;
            s->x0 = a;
            s->dx = step;
        } else {
            double dur = z - a;
            double nb = ceil(dur / bin - 1e-9);
            if (nb > MAX_BINS)
                perr(L, "%s: %g ms in bins of %g ms makes %.0f bins (at most %d): choose a "
                        "larger 'bin'", fname, dur, bin, nb, MAX_BINS);
            int64_t nbins = nb > 0 ? (int64_t)nb : 0;
            int64_t n = nk_monitor_count(m->net, m->k);
            double *t = scratch(L, (size_t)n, sizeof *t);
            n = nk_monitor_spikes(m->net, m->k, t, NULL, n);
            double *y = scratch(L, (size_t)nbins, sizeof *y);
            memset(y, 0, (size_t)nbins * sizeof *y);
            for (int64_t i = 0; i < n && nbins; i++) {
                double r = floor((t[i] - a) / bin);
                int64_t k = r < 0 ? 0 : r >= (double)nbins ? nbins - 1 : (int64_t)r;
                y[k] += 1;
            }
            int64_t first, last;
            double nn = (double)mon_span(m, &first, &last);
            for (int64_t k = 0; k < nbins; k++) {
                double w = fmin(bin, z - (a + (double)k * bin));
                y[k] = w > 0 ? y[k] / (nn * w / 1000) : 0;
            }
            lua_remove(L, -2); /* the times */
            s->n = nbins;
            s->y = y;
            s->ystride = 1;
            s->x0 = a;
            s->dx = bin;
        }
        double wx0 = c.has_xlim ? c.xlim[0] : -HUGE_VAL, wx1 = c.has_xlim ? c.xlim[1] : HUGE_VAL;
        for (int64_t i = 0; i < s->n; i++) {
            double x = s->x0 + (double)i * s->dx, y = s->y[i * s->ystride];
            if (x + s->dx >= wx0 && x <= wx1 && isfinite(y))
                ymax = fmax(ymax, y);
        }
        if (shown_bin >= 0 && fabs(s->dx - shown_bin) > 1e-9 * shown_bin)
            same_bins = 0;
        shown_bin = s->dx;
        samples += s->n;
        t0 = fmin(t0, a);
        t1 = fmax(t1, z);
    }
    char bs[48];
    fmt_num(bs, sizeof bs, shown_bin);
    f->title = same_bins ? lua_pushfstring(L, "Population rate \xe2\x80\x94 %s (%s ms bins)",
                                           names, bs)
                         : lua_pushfstring(L, "Population rate \xe2\x80\x94 %s", names);
    if (samples == 0)
        f->note = "no spikes recorded";
    f->x0 = t0;
    f->x1 = t1;
    f->y0 = 0;
    f->y1 = ymax > 0 ? ymax * 1.08 : 1;
    apply_common(&c, f);
    char a[48], b[48], mx[48];
    fmt_num(a, sizeof a, t0);
    fmt_num(b, sizeof b, t1);
    fmt_num(mx, sizeof mx, ymax);
    snprintf(f->caption, sizeof f->caption, "rate of %s in %s%s ms bins: %lld bins, %s to %s ms, "
             "peak %s Hz", names, same_bins ? "" : "mixed, ", same_bins ? bs : "...",
             (long long)samples, a, b, mx);
    return finish(L, &c, f);
}

/* At lua_close (a sentinel in the registry is collected then, and only
 * then): cairo's and fontconfig's caches go, so that leak checkers see
 * none. No cairo object lives between calls, and both libraries set
 * themselves up again if the process plots in another Lua state later. */
static int plot_gc(lua_State *L)
{
    (void)L;
    cairo_debug_reset_static_data();
    void (*fcfini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fcfini)
        fcfini();
    return 0;
}

int nk_plot_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"raster", plot_raster}, {"trace", plot_trace}, {"rate", plot_rate}, {NULL, NULL}};
    if (lua_getfield(L, LUA_REGISTRYINDEX, "nk.plot.sentinel") == LUA_TNIL) {
        lua_newuserdatauv(L, 1, 0);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, plot_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, "nk.plot.sentinel");
    }
    lua_pop(L, 1);
    luaL_newlib(L, fns);
    return 1;
}
