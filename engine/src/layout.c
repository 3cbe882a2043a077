/* layout.c - where neurons are (positions in um) and what they are called
 * outside (external ids, e.g. a connectome's root ids).
 *
 * Random layouts draw from Philox with the network seed and the population's
 * own stream, neuron i taking counter index i: the same seed gives the same
 * positions whatever else the network holds. */
#include "internal.h"
#include "rt/nk_philox.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nk_layout_init(nk_layout *l)
{
    memset(l, 0, sizeof *l);
    l->kind = "grid";
    l->size[0] = l->size[1] = l->size[2] = 1;
}

static int check_pop(nk_net *net, int pop)
{
    if (pop < 0 || pop >= net->npops)
        return nk_fail(net->ctx, NK_EINVAL, "no population %d in this network", pop);
    return 0;
}

static int store(nk_net *net, int pop, double *xyz)
{
    nk_pop *p = &net->pops[pop];
    free(p->pos);
    p->pos = xyz;
    (void)net;
    return 0;
}

int nk_pop_set_positions(nk_net *net, int pop, const double *xyz, int64_t n)
{
    if (nk_busy(net, "positions"))
        return NK_EINVAL;
    int rc = check_pop(net, pop);
    if (rc)
        return rc;
    nk_pop *p = &net->pops[pop];
    if (n != p->n)
        return nk_fail(net->ctx, NK_EINVAL,
                       "positions: population '%s' has %lld neurons, got %lld positions", p->name,
                       (long long)p->n, (long long)n);
    for (int64_t i = 0; i < 3 * n; i++)
        if (!isfinite(xyz[i]))
            return nk_fail(net->ctx, NK_EINVAL,
                           "positions: coordinate %c of neuron %lld is %g (expected a finite "
                           "number of um)",
                           "xyz"[i % 3], (long long)(i / 3) + 1, xyz[i]);
    double *copy = malloc((size_t)n * 3 * sizeof *copy);
    if (!copy)
        return nk_fail(net->ctx, NK_ENOMEM, "out of memory for %lld positions", (long long)n);
    memcpy(copy, xyz, (size_t)n * 3 * sizeof *copy);
    return store(net, pop, copy);
}

const double *nk_pop_positions(const nk_net *net, int pop)
{
    if (pop < 0 || pop >= net->npops)
        return NULL;
    return net->pops[pop].pos;
}

/* Grid counts: as given, or the most cube-like factorisation-free fill: a
 * side of ceil(cbrt(n)) along x and y, as many layers along z as needed. */
static int grid_shape(nk_net *net, const nk_pop *p, const nk_layout *l, int64_t s[3])
{
    int given = l->shape[0] || l->shape[1] || l->shape[2];
    if (!given) {
        int64_t side = (int64_t)ceil(cbrt((double)p->n) - 1e-9);
        if (side < 1)
            side = 1;
        s[0] = side;
        s[1] = side;
        s[2] = (p->n + side * side - 1) / (side * side);
        return 0;
    }
    for (int k = 0; k < 3; k++) {
        if (l->shape[k] < 0)
            return nk_fail(net->ctx, NK_EINVAL, "grid: shape[%d] must be >= 1, got %lld", k + 1,
                           (long long)l->shape[k]);
        s[k] = l->shape[k] ? l->shape[k] : 1;
    }
    int64_t s01, s012;
    if (__builtin_mul_overflow(s[0], s[1], &s01) || __builtin_mul_overflow(s01, s[2], &s012))
        return nk_fail(net->ctx, NK_EINVAL,
                       "grid: shape %lld x %lld x %lld holds more neurons than can be counted; "
                       "population '%s' has %lld",
                       (long long)s[0], (long long)s[1], (long long)s[2], p->name,
                       (long long)p->n);
    if (s012 != p->n)
        return nk_fail(net->ctx, NK_EINVAL,
                       "grid: shape %lld x %lld x %lld holds %lld neurons; population '%s' has "
                       "%lld",
                       (long long)s[0], (long long)s[1], (long long)s[2],
                       (long long)(s[0] * s[1] * s[2]), p->name, (long long)p->n);
    return 0;
}

int nk_pop_layout(nk_net *net, int pop, const nk_layout *l)
{
    if (nk_busy(net, "positions"))
        return NK_EINVAL;
    int rc = check_pop(net, pop);
    if (rc)
        return rc;
    nk_ctx *ctx = net->ctx;
    nk_pop *p = &net->pops[pop];
    const char *kind = l->kind ? l->kind : "grid";
    for (int k = 0; k < 3; k++)
        if (!isfinite(l->center[k]) || !isfinite(l->size[k]))
            return nk_fail(ctx, NK_EINVAL, "%s: center and %s must be finite (um)", kind,
                           l->kind && !strcmp(l->kind, "grid") ? "spacing" : "size");
    int box = !strcmp(kind, "box"), grid = !strcmp(kind, "grid"),
        sphere = !strcmp(kind, "sphere"), cyl = !strcmp(kind, "cylinder");
    if (!box && !grid && !sphere && !cyl)
        return nk_fail(ctx, NK_EINVAL,
                       "unknown layout '%s' (expected grid, box, sphere or cylinder)", kind);
    if (box)
        for (int k = 0; k < 3; k++)
            if (!(l->size[k] >= 0))
                return nk_fail(ctx, NK_EINVAL, "box: size must be >= 0 um, got %g", l->size[k]);
    if (grid)
        for (int k = 0; k < 3; k++)
            if (!(l->size[k] > 0))
                return nk_fail(ctx, NK_EINVAL, "grid: spacing must be > 0 um, got %g",
                               l->size[k]);
    if ((sphere || cyl) && !(l->radius > 0 && isfinite(l->radius)))
        return nk_fail(ctx, NK_EINVAL, "%s: radius must be a finite number > 0 um, got %g", kind,
                       l->radius);
    if (cyl && !(l->height >= 0 && isfinite(l->height)))
        return nk_fail(ctx, NK_EINVAL, "cylinder: height must be a finite number >= 0 um, got %g",
                       l->height);
    int64_t s[3] = {1, 1, 1};
    if (grid && (rc = grid_shape(net, p, l, s)))
        return rc;
    double *xyz = malloc((size_t)p->n * 3 * sizeof *xyz);
    if (!xyz)
        return nk_fail(ctx, NK_ENOMEM, "out of memory for %lld positions", (long long)p->n);
    uint32_t stream = NK_STREAM_POS + (uint32_t)pop;
    for (int64_t i = 0; i < p->n; i++) {
        double *x = xyz + 3 * i;
        nk_rng r;
        nk_rng_init(&r, net->seed, stream, 0, (uint32_t)i);
        if (grid) {
            /* centred on center, x fastest */
            int64_t ix = i % s[0], iy = (i / s[0]) % s[1], iz = i / (s[0] * s[1]);
            x[0] = l->center[0] + ((double)ix - 0.5 * (double)(s[0] - 1)) * l->size[0];
            x[1] = l->center[1] + ((double)iy - 0.5 * (double)(s[1] - 1)) * l->size[1];
            x[2] = l->center[2] + ((double)iz - 0.5 * (double)(s[2] - 1)) * l->size[2];
        } else if (box) {
            for (int k = 0; k < 3; k++)
                x[k] = l->center[k] + (nk_rng_uniform(&r) - 0.5) * l->size[k];
        } else if (sphere) {
            /* uniform in the ball: direction from a normal triple, radius
             * R * u^(1/3) */
            double g[3], norm;
            do {
                norm = 0;
                for (int k = 0; k < 3; k++) {
                    g[k] = nk_rng_normal(&r);
                    norm += g[k] * g[k];
                }
            } while (norm < 1e-300);
            double rad = l->radius * cbrt(nk_rng_uniform(&r)) / sqrt(norm);
            for (int k = 0; k < 3; k++)
                x[k] = l->center[k] + g[k] * rad;
        } else {
            /* uniform in the disc (radius R*sqrt(u)) times uniform height */
            double rad = l->radius * sqrt(nk_rng_uniform(&r));
            double phi = 2 * M_PI * nk_rng_uniform(&r);
            x[0] = l->center[0] + rad * cos(phi);
            x[1] = l->center[1] + rad * sin(phi);
            x[2] = l->center[2] + (nk_rng_uniform(&r) - 0.5) * l->height;
        }
        /* finite center and sizes may still reach past the range of a
         * double (a grid spacing of 1e308): positions are finite, as a
         * list's must be (inf made inf - inf = NaN distances) */
        for (int k = 0; k < 3; k++)
            if (!isfinite(x[k])) {
                double bad = x[k];
                free(xyz);
                return nk_fail(ctx, NK_EINVAL,
                               "%s: coordinate %c of neuron %lld is %g: the layout reaches "
                               "beyond the range of a double (expected finite positions, um)",
                               kind, "xyz"[k], (long long)i + 1, bad);
            }
    }
    return store(net, pop, xyz);
}

/* ---- external ids ------------------------------------------------------------ */

static int cmp_pair(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

int nk_pop_set_ids(nk_net *net, int pop, const int64_t *ids, int64_t n)
{
    int rc = check_pop(net, pop);
    if (rc)
        return rc;
    nk_pop *p = &net->pops[pop];
    if (n != p->n)
        return nk_fail(net->ctx, NK_EINVAL, "ids: population '%s' has %lld neurons, got %lld ids",
                       p->name, (long long)p->n, (long long)n);
    int64_t *copy = malloc((size_t)n * sizeof *copy);
    int64_t *pairs = malloc((size_t)n * 2 * sizeof *pairs);
    int64_t *sorted = malloc((size_t)n * sizeof *sorted);
    int64_t *at = malloc((size_t)n * sizeof *at);
    if (!copy || !pairs || !sorted || !at) {
        free(copy);
        free(pairs);
        free(sorted);
        free(at);
        return nk_fail(net->ctx, NK_ENOMEM, "out of memory for %lld ids", (long long)n);
    }
    memcpy(copy, ids, (size_t)n * sizeof *copy);
    for (int64_t i = 0; i < n; i++) {
        pairs[2 * i] = ids[i];
        pairs[2 * i + 1] = i;
    }
    qsort(pairs, (size_t)n, 2 * sizeof *pairs, cmp_pair);
    for (int64_t i = 0; i < n; i++) {
        sorted[i] = pairs[2 * i];
        at[i] = pairs[2 * i + 1];
        if (i > 0 && sorted[i] == sorted[i - 1]) {
            int64_t id = sorted[i], a = at[i - 1], b = at[i];
            free(copy);
            free(pairs);
            free(sorted);
            free(at);
            return nk_fail(net->ctx, NK_EINVAL,
                           "ids: id %lld is given twice (neurons %lld and %lld); ids must be "
                           "distinct",
                           (long long)id, (long long)(a < b ? a : b) + 1,
                           (long long)(a < b ? b : a) + 1);
        }
    }
    free(pairs);
    free(p->ids);
    free(p->ids_sorted);
    free(p->ids_at);
    p->ids = copy;
    p->ids_sorted = sorted;
    p->ids_at = at;
    return 0;
}

const int64_t *nk_pop_ids(const nk_net *net, int pop)
{
    if (pop < 0 || pop >= net->npops)
        return NULL;
    return net->pops[pop].ids;
}

int64_t nk_pop_index_of(const nk_net *net, int pop, int64_t id)
{
    if (pop < 0 || pop >= net->npops || !net->pops[pop].ids)
        return -1;
    const nk_pop *p = &net->pops[pop];
    int64_t lo = 0, hi = p->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (p->ids_sorted[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->n && p->ids_sorted[lo] == id ? p->ids_at[lo] : -1;
}
