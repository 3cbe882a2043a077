/* stim.c - sources: currents and spike input applied at the start of a step.
 *
 * Every source drives the neurons of one or more parts (one per population).
 * Current sources add pA to the population's external current I_ext (zeroed
 * at the start of every step); spike sources add weight x count to a
 * receptor's ring-buffer slot of the step, as a projection would. Random
 * numbers come from Philox keyed by (seed, NK_STREAM_SOURCE + source index,
 * step or interval, the neuron's index within the source), so a source's
 * input does not depend on any other object, nor on the thread or backend
 * that computes it. Apart from a callback's last values, a source's input at
 * step s is a function of s alone: nothing else needs saving in a checkpoint.
 */
#include "internal.h"
#include "rt/nk_math.h"
#include "rt/nk_philox.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const nk_source_kinds[] = {"dc",       "step",   "ramp",      "ac",
                                       "noise",    "array",  "equation",  "callback",
                                       "global",   "poisson", "bernoulli", "spike_times",
                                       NULL};

void nk_source_opts_init(nk_source_opts *o)
{
    memset(o, 0, sizeof *o);
    o->stop = INFINITY;
    o->every = 1;
}

void nk_source_free(nk_source *s)
{
    for (int k = 0; k < s->nparts; k++)
        free(s->parts[k].idx);
    free(s->parts);
    free(s->times);
    free(s->amps);
    free(s->ev_step);
    free(s->ev_at);
    free(s->arr);
    free(s->expr);
    nk_expr_free(s->ex);
    free(s->cb_vals);
    if (s->ud_free)
        s->ud_free(s->ud);
    memset(s, 0, sizeof *s);
    s->removed = 1;
}

static int kind_index(nk_ctx *ctx, const char *kind)
{
    for (int k = 0; nk_source_kinds[k]; k++)
        if (!strcmp(kind, nk_source_kinds[k]))
            return k;
    int n = 0;
    while (nk_source_kinds[n])
        n++;
    const char *s = nk_suggest(kind, nk_source_kinds, n);
    char list[512] = "";
    for (int k = 0; k < n; k++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", nk_source_kinds[k]);
    }
    if (s)
        return nk_fail(ctx, NK_EINVAL, "unknown source kind '%s' (did you mean '%s'?); known kinds: %s",
                       kind, s, list);
    return nk_fail(ctx, NK_EINVAL, "unknown source kind '%s'; known kinds: %s", kind, list);
}

/* Copies and checks the parts. */
static int take_parts(nk_net *net, nk_source *s, const nk_sel *parts, int nparts)
{
    nk_ctx *ctx = net->ctx;
    if (nparts <= 0)
        return nk_fail(ctx, NK_EINVAL, "the target holds no neurons");
    s->parts = nk_xcalloc((size_t)nparts, sizeof *s->parts);
    if (!s->parts)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    s->nparts = nparts;
    for (int k = 0; k < nparts; k++) {
        const nk_sel *in = &parts[k];
        nk_src_part *p = &s->parts[k];
        if (in->pop < 0 || in->pop >= net->npops)
            return nk_fail(ctx, NK_EINVAL, "no such population in this network");
        for (int j = 0; j < k; j++)
            if (s->parts[j].pop == in->pop)
                return nk_fail(ctx, NK_EINVAL,
                               "population '%s' appears twice in the target",
                               net->pops[in->pop].name);
        int64_t n = net->pops[in->pop].n;
        p->pop = in->pop;
        p->off = s->ntotal;
        if (in->idx) {
            if (in->n <= 0)
                return nk_fail(ctx, NK_EINVAL, "an empty set of neurons of '%s'",
                               net->pops[in->pop].name);
            p->idx = malloc((size_t)in->n * sizeof *p->idx);
            if (!p->idx)
                return nk_fail(ctx, NK_ENOMEM, "out of memory");
            for (int64_t j = 0; j < in->n; j++) {
                int64_t i = in->idx[j];
                if (i < 0 || i >= n)
                    return nk_fail(ctx, NK_EINVAL,
                                   "neuron %lld is not in population '%s' (1..%lld)",
                                   (long long)i + 1, net->pops[in->pop].name, (long long)n);
                if (j && i <= in->idx[j - 1])
                    return nk_fail(ctx, NK_EINVAL,
                                   "the neurons of '%s' must be distinct and ascending "
                                   "(neuron %lld after %lld)",
                                   net->pops[in->pop].name, (long long)i + 1,
                                   (long long)in->idx[j - 1] + 1);
                p->idx[j] = i;
            }
            p->n = in->n;
            p->lo = p->idx[0];
            p->hi = p->idx[p->n - 1] + 1;
        } else {
            if (in->lo < 0 || in->hi > n || in->lo >= in->hi)
                return nk_fail(ctx, NK_EINVAL,
                               "neurons %lld..%lld are not a range of '%s' (1..%lld)",
                               (long long)in->lo + 1, (long long)in->hi,
                               net->pops[in->pop].name, (long long)n);
            p->lo = in->lo;
            p->hi = in->hi;
            p->n = in->hi - in->lo;
        }
        s->ntotal += p->n;
    }
    return 0;
}

static int need_iext(nk_net *net, int pop)
{
    nk_pop *p = &net->pops[pop];
    if (!p->i_ext) {
        p->i_ext = nk_state_alloc(net, p->n);
        if (!p->i_ext)
            return nk_fail(net->ctx, NK_ENOMEM, "out of memory");
        net->built = 0; /* the kernel now reads an external current */
    }
    return 0;
}

static int finite_opt(nk_ctx *ctx, const char *kind, const char *name, double v, const char *unit)
{
    if (!isfinite(v))
        return nk_fail(ctx, NK_EINVAL, "%s: '%s' must be a finite number%s%s, got %g", kind, name,
                       unit ? " of " : "", unit ? unit : "", v);
    return 0;
}

/* Variables an equation source may use. */
static int eq_var_ok(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    const char **bad = ud;
    static const char *const ok[] = {"t", "i", "N", "x", "y", "z", "pi", "e", "dt", NULL};
    for (int k = 0; ok[k]; k++)
        if (!strcmp(name, ok[k]))
            return 0;
    *bad = name;
    return 1;
}

static int global_var_ok(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    const char **bad = ud;
    if (!strcmp(name, "t") || !strcmp(name, "pi") || !strcmp(name, "e") || !strcmp(name, "dt"))
        return 0;
    *bad = name;
    return 1;
}

static int uses_pos(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    (void)ud;
    return !strcmp(name, "x") || !strcmp(name, "y") || !strcmp(name, "z");
}

static int has_rand(const nk_expr *e)
{
    if (!e)
        return 0;
    if (e->kind == NK_EX_CALL && (!strcmp(e->name, "rand") || !strcmp(e->name, "randn")))
        return 1;
    for (int k = 0; k < e->nargs; k++)
        if (has_rand(e->args[k]))
            return 1;
    return 0;
}

static int setup_expr(nk_net *net, nk_source *s, const char *kind, const char *expr, int global)
{
    nk_ctx *ctx = net->ctx;
    if (!expr || !*expr)
        return nk_fail(ctx, NK_EINVAL, "%s: needs the current as an expression (option I)", kind);
    char err[1024];
    s->ex = nk_expr_parse(expr, err, sizeof err);
    if (!s->ex)
        return nk_fail(ctx, NK_EPARSE, "%s: the expression does not parse: %s", kind, err);
    s->expr = nk_strdup(expr);
    if (!s->expr)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    const char *bad = NULL;
    if (nk_expr_walk_vars(s->ex, global ? global_var_ok : eq_var_ok, &bad))
        return nk_fail(ctx, NK_EINVAL,
                       "%s: unknown name '%s' in '%s' (an expression may use %s)", kind,
                       bad ? bad : "?", expr,
                       global ? "t (ms), dt, pi and e"
                              : "t (ms), i (1-based neuron index), N (population size), x, y, "
                                "z (um), dt, pi and e");
    if (global && has_rand(s->ex))
        return nk_fail(ctx, NK_EINVAL,
                       "global: rand() and randn() would give every neuron the same number; "
                       "use an equation source for per-neuron noise");
    if (!global && nk_expr_walk_vars(s->ex, uses_pos, NULL))
        for (int k = 0; k < s->nparts; k++)
            if (!net->pops[s->parts[k].pop].pos)
                return nk_fail(ctx, NK_EINVAL,
                               "%s: '%s' uses x, y or z but population '%s' has no positions "
                               "(give it some with the positions option or pop:place)",
                               kind, expr, net->pops[s->parts[k].pop].name);
    return 0;
}

/* The step of ms; from 2^62 steps on (which no network reaches, nk_run)
 * 2^62: a time or interval of 1e18 ms or more is "never", where the
 * conversion to int64_t overflowed (a step at 1e18 ms acted from t = 0). */
static int64_t step_of(double ms, double dt)
{
    double s = floor(ms / dt + 0.5 + 1e-9);
    if (!(s < 0x1p62)) /* and NaN, which nothing should hand here */
        return (int64_t)1 << 62;
    return s < -0x1p62 ? -((int64_t)1 << 62) : (int64_t)s;
}

/* First step at or after start (t = s*dt >= start, with a tolerance). */
static int64_t start_step(const nk_source *s, double dt)
{
    return (int64_t)ceil(s->start / dt - 1e-9);
}

/* Steps per interval of a noise or array source (at least 1). */
static int64_t interval_steps(const nk_source *s, double dt)
{
    int64_t per = s->interval > 0 ? step_of(s->interval, dt) : 1;
    return per < 1 ? 1 : per;
}

int64_t nk_source_first_step(const nk_net *net, const nk_source *src)
{
    return start_step(src, net->dt);
}

int64_t nk_source_interval_steps(const nk_net *net, const nk_source *src)
{
    return interval_steps(src, net->dt);
}

int64_t nk_source_switch_step(const nk_net *net, const nk_source *src, int64_t c)
{
    return step_of(src->times[c], net->dt);
}

/* Why a Poisson source of this rate and weight does not fit, or NULL: a
 * step's count, and that count times the weight, must stay below 2^31 (the
 * count is drawn as a 32-bit integer; the input of one step is held in
 * 64-bit fixed point below 2^31) but in a 10-sigma tail: counts are drawn
 * per step, so no rate bounds them for sure. Rates past 2^31 spikes a
 * step once gave counts that wrapped around, silently. */
static const char *poisson_unfit(double rate, double weight, double dt)
{
    double lambda = rate * dt * 1e-3;
    double top = lambda + 10 * sqrt(lambda) + 10;
    if (!(top < 2147483648.0))
        return "rate x dt (with its spread) would pass 2^31 input spikes in one step, more than "
               "a step's count holds; lower the rate (rate r with weight k w gives the input "
               "of rate k r with weight w)";
    if (!(fabs(weight) * top < 2147483648.0))
        return "rate x dt x |weight| (with its spread) would leave the range of one step's "
               "input, which is held in 64-bit fixed point below 2^31; lower the rate or the "
               "weight";
    return NULL;
}

static int fill_kind(nk_net *net, nk_source *s, const char *kind, const nk_source_opts *o)
{
    nk_ctx *ctx = net->ctx;
    int rc;
    switch (s->kind) {
    case NK_SRC_DC:
        if ((rc = finite_opt(ctx, kind, "amplitude", o->amplitude, "pA")))
            return rc;
        s->amplitude = o->amplitude;
        break;
    case NK_SRC_STEP:
        if (o->ntimes <= 0 || !o->times || !o->amplitudes)
            return nk_fail(ctx, NK_EINVAL, "step: needs 'times' (ms) and 'amplitudes' (pA), "
                                           "two lists of the same length >= 1");
        s->times = malloc((size_t)o->ntimes * sizeof *s->times);
        s->amps = malloc((size_t)o->ntimes * sizeof *s->amps);
        if (!s->times || !s->amps)
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        for (int64_t k = 0; k < o->ntimes; k++) {
            if (!(o->times[k] >= 0) || !isfinite(o->times[k]) ||
                (k && !(o->times[k] > o->times[k - 1])))
                return nk_fail(ctx, NK_EINVAL,
                               "step: times must be finite, >= 0 and strictly increasing "
                               "(times[%lld] = %g)", (long long)k + 1, o->times[k]);
            if ((rc = finite_opt(ctx, kind, "amplitudes", o->amplitudes[k], "pA")))
                return rc;
            s->times[k] = o->times[k];
            s->amps[k] = o->amplitudes[k];
        }
        s->ntimes = o->ntimes;
        break;
    case NK_SRC_RAMP:
        if (!isfinite(o->stop))
            return nk_fail(ctx, NK_EINVAL, "ramp: needs a finite 'stop' (ms): the ramp goes "
                                           "from 'from' at start to 'to' at stop");
        if ((rc = finite_opt(ctx, kind, "from", o->from, "pA")) ||
            (rc = finite_opt(ctx, kind, "to", o->to, "pA")))
            return rc;
        if (!(o->stop > o->start))
            return nk_fail(ctx, NK_EINVAL, "ramp: stop must be after start");
        s->from = o->from;
        s->to = o->to;
        break;
    case NK_SRC_AC:
    case NK_SRC_GLOBAL:
        if ((rc = finite_opt(ctx, kind, "amplitude", o->amplitude, "pA")) ||
            (rc = finite_opt(ctx, kind, "frequency", o->frequency, "Hz")) ||
            (rc = finite_opt(ctx, kind, "phase", o->phase, "degrees")) ||
            (rc = finite_opt(ctx, kind, "offset", o->offset, "pA")))
            return rc;
        if (o->frequency < 0)
            return nk_fail(ctx, NK_EINVAL, "%s: frequency must be >= 0 Hz, got %g", kind,
                           o->frequency);
        s->amplitude = o->amplitude;
        s->frequency = o->frequency;
        s->phase = o->phase;
        s->offset = o->offset;
        if (s->kind == NK_SRC_GLOBAL && o->expr && (rc = setup_expr(net, s, kind, o->expr, 1)))
            return rc;
        break;
    case NK_SRC_NOISE:
        if ((rc = finite_opt(ctx, kind, "mean", o->mean, "pA")) ||
            (rc = finite_opt(ctx, kind, "std", o->std, "pA")))
            return rc;
        if (o->std < 0)
            return nk_fail(ctx, NK_EINVAL, "noise: std must be >= 0 pA, got %g", o->std);
        if (!(o->interval >= 0) || !isfinite(o->interval))
            return nk_fail(ctx, NK_EINVAL, "noise: interval must be >= 0 ms, got %g",
                           o->interval);
        s->mean = o->mean;
        s->std = o->std;
        s->interval = o->interval;
        break;
    case NK_SRC_ARRAY:
        if (!o->values || o->rows <= 0 || o->cols <= 0)
            return nk_fail(ctx, NK_EINVAL, "array: needs values: rows (one per interval) of "
                                           "one value per target neuron (or one for all)");
        if (o->cols != 1 && o->cols != s->ntotal)
            return nk_fail(ctx, NK_EINVAL,
                           "array: each row must hold %lld values (one per target neuron) or 1, "
                           "got %lld", (long long)s->ntotal, (long long)o->cols);
        if (!(o->interval >= 0) || !isfinite(o->interval))
            return nk_fail(ctx, NK_EINVAL, "array: interval must be >= 0 ms, got %g",
                           o->interval);
        s->arr = malloc((size_t)o->rows * (size_t)o->cols * sizeof *s->arr);
        if (!s->arr)
            return nk_fail(ctx, NK_ENOMEM, "array: out of memory for %lld x %lld values",
                           (long long)o->rows, (long long)o->cols);
        for (int64_t k = 0; k < o->rows * o->cols; k++) {
            if (!isfinite(o->values[k]))
                return nk_fail(ctx, NK_EINVAL, "array: value %lld of row %lld is not finite",
                               (long long)(k % o->cols) + 1, (long long)(k / o->cols) + 1);
            s->arr[k] = o->values[k];
        }
        s->rows = o->rows;
        s->cols = o->cols;
        s->hold = o->hold;
        s->interval = o->interval;
        break;
    case NK_SRC_EQUATION:
        if ((rc = setup_expr(net, s, kind, o->expr, 0)))
            return rc;
        break;
    case NK_SRC_CALLBACK:
        if (!o->fn)
            return nk_fail(ctx, NK_EINVAL, "callback: needs a function");
        if (o->every < 1)
            return nk_fail(ctx, NK_EINVAL, "callback: every must be >= 1 step, got %d",
                           o->every);
        s->every = o->every;
        s->cb_vals = nk_xcalloc((size_t)s->ntotal, sizeof *s->cb_vals);
        if (!s->cb_vals)
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        break;
    case NK_SRC_POISSON:
        if (!(o->rate >= 0) || !isfinite(o->rate))
            return nk_fail(ctx, NK_EINVAL, "poisson: rate must be a finite number >= 0 Hz, got %g",
                           o->rate);
        s->rate = o->rate;
        break;
    case NK_SRC_BERNOULLI:
        if (!(o->p >= 0 && o->p <= 1)) {
            char pb[32];
            return nk_fail(ctx, NK_EINVAL,
                           "bernoulli: p (the probability of an input spike per step) must be "
                           "in [0, 1], got %s", nk_fmt_num(o->p, pb, sizeof pb));
        }
        s->p = o->p;
        break;
    case NK_SRC_SPIKE_TIMES: {
        if (o->ntimes < 0 || (o->ntimes && (!o->times || !o->neurons)))
            return nk_fail(ctx, NK_EINVAL, "spike_times: needs times (ms) and their neurons");
        int64_t n = o->ntimes;
        s->ev_step = malloc((size_t)(n ? n : 1) * sizeof *s->ev_step);
        s->ev_at = malloc((size_t)(n ? n : 1) * sizeof *s->ev_at);
        if (!s->ev_step || !s->ev_at)
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        for (int64_t k = 0; k < n; k++) {
            if (!(o->times[k] >= 0) || !isfinite(o->times[k]))
                return nk_fail(ctx, NK_EINVAL,
                               "spike_times: times must be finite and >= 0 ms, got %g",
                               o->times[k]);
            if (o->neurons[k] < 0 || o->neurons[k] >= s->ntotal)
                return nk_fail(ctx, NK_EINVAL,
                               "spike_times: neuron %lld is not in the target (1..%lld)",
                               (long long)o->neurons[k] + 1, (long long)s->ntotal);
            s->ev_step[k] = step_of(o->times[k], net->dt);
            s->ev_at[k] = o->neurons[k];
        }
        /* Sort by step (then neuron) with an index sort kept stable. */
        int64_t *ord = malloc((size_t)(n ? n : 1) * sizeof *ord);
        int64_t *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
        if (!ord || !tmp) {
            free(ord);
            free(tmp);
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        }
        for (int64_t k = 0; k < n; k++)
            ord[k] = k;
        /* merge sort of ord by (ev_step, ev_at) */
        for (int64_t w = 1; w < n; w *= 2) {
            for (int64_t a = 0; a < n; a += 2 * w) {
                int64_t m = a + w < n ? a + w : n, b = a + 2 * w < n ? a + 2 * w : n;
                int64_t i = a, j = m, q = a;
                while (i < m && j < b) {
                    int64_t x = ord[i], y = ord[j];
                    int le = s->ev_step[x] < s->ev_step[y] ||
                             (s->ev_step[x] == s->ev_step[y] && s->ev_at[x] <= s->ev_at[y]);
                    tmp[q++] = le ? ord[i++] : ord[j++];
                }
                while (i < m)
                    tmp[q++] = ord[i++];
                while (j < b)
                    tmp[q++] = ord[j++];
            }
            memcpy(ord, tmp, (size_t)n * sizeof *ord);
        }
        for (int64_t k = 0; k < n; k++)
            tmp[k] = s->ev_step[ord[k]];
        memcpy(s->ev_step, tmp, (size_t)n * sizeof *tmp);
        for (int64_t k = 0; k < n; k++)
            tmp[k] = s->ev_at[ord[k]];
        memcpy(s->ev_at, tmp, (size_t)n * sizeof *tmp);
        free(ord);
        free(tmp);
        s->nev = n;
        break;
    }
    }
    if (NK_SRC_IS_SPIKES(s->kind)) {
        char wb[32];
        if (!isfinite(o->weight) || fabs(o->weight) > 1e6)
            return nk_fail(ctx, NK_EINVAL,
                           "%s: weight must be finite with |weight| <= 1e6, got %s", kind,
                           nk_fmt_num(o->weight, wb, sizeof wb));
        const char *unfit =
            s->kind == NK_SRC_POISSON ? poisson_unfit(s->rate, o->weight, net->dt) : NULL;
        if (unfit)
            return nk_fail(ctx, NK_EINVAL, "poisson: %g Hz x weight %g: %s", s->rate, o->weight,
                           unfit);
        s->weight = o->weight;
        s->wfix = nk_fix_from(o->weight);
        for (int k = 0; k < s->nparts; k++) {
            int rx = nk_receptor_for(net, s->parts[k].pop, o->receptor, o->synapse, o->weight,
                                     o->syn_param_names, o->syn_param_values, o->n_syn_params);
            if (rx < 0)
                return rx;
            s->parts[k].rx = rx;
        }
    } else {
        for (int k = 0; k < s->nparts; k++)
            if ((rc = need_iext(net, s->parts[k].pop)))
                return rc;
    }
    return 0;
}

static void describe(nk_net *net, int k)
{
    nk_source *s = &net->srcs[k];
    char tgt[128];
    if (s->kind == NK_SRC_GLOBAL)
        snprintf(tgt, sizeof tgt, "every neuron (%lld)", (long long)s->ntotal);
    else if (s->nparts == 1)
        snprintf(tgt, sizeof tgt, "%lld of '%s'", (long long)s->ntotal,
                 net->pops[s->parts[0].pop].name);
    else
        snprintf(tgt, sizeof tgt, "%lld neurons of %d populations", (long long)s->ntotal,
                 s->nparts);
    char what[160] = "";
    switch (s->kind) {
    case NK_SRC_DC: snprintf(what, sizeof what, "%g pA", s->amplitude); break;
    case NK_SRC_STEP: snprintf(what, sizeof what, "%lld steps", (long long)s->ntimes); break;
    case NK_SRC_RAMP: snprintf(what, sizeof what, "%g -> %g pA", s->from, s->to); break;
    case NK_SRC_AC:
        snprintf(what, sizeof what, "%g + %g sin(2 pi %g Hz t + %g deg) pA", s->offset,
                 s->amplitude, s->frequency, s->phase);
        break;
    case NK_SRC_NOISE: snprintf(what, sizeof what, "mean %g, std %g pA", s->mean, s->std); break;
    case NK_SRC_ARRAY:
        snprintf(what, sizeof what, "%lld x %lld values", (long long)s->rows, (long long)s->cols);
        break;
    case NK_SRC_EQUATION: snprintf(what, sizeof what, "I = %.120s", s->expr); break;
    case NK_SRC_CALLBACK: snprintf(what, sizeof what, "a function every %d steps", s->every); break;
    case NK_SRC_GLOBAL:
        if (s->expr)
            snprintf(what, sizeof what, "I = %.120s", s->expr);
        else
            snprintf(what, sizeof what, "%g + %g sin(2 pi %g Hz t + %g deg) pA", s->offset,
                     s->amplitude, s->frequency, s->phase);
        break;
    case NK_SRC_POISSON: snprintf(what, sizeof what, "%g Hz x %g", s->rate, s->weight); break;
    case NK_SRC_BERNOULLI: snprintf(what, sizeof what, "p %g x %g", s->p, s->weight); break;
    case NK_SRC_SPIKE_TIMES:
        snprintf(what, sizeof what, "%lld spikes x %g", (long long)s->nev, s->weight);
        break;
    }
    char when[96] = "";
    if (s->start > 0 || isfinite(s->stop))
        snprintf(when, sizeof when, ", %g..%g ms", s->start, s->stop);
    snprintf(s->desc, sizeof s->desc, "%s on %s: %s%s", nk_source_kinds[s->kind], tgt, what, when);
}

int nk_source_add_sel(nk_net *net, const char *kind, const nk_sel *parts, int nparts,
                      const nk_source_opts *o)
{
    nk_ctx *ctx = net->ctx;
    nk_source s = {0};
    int rc;
    if (nk_busy(net, "source")) {
        if (o->ud_free)
            o->ud_free(o->ud);
        return NK_EINVAL;
    }
    s.ud_free = o->ud_free;
    s.ud = o->ud;
    s.fn = o->fn;
    int k = kind_index(ctx, kind);
    if (k < 0) {
        nk_source_free(&s);
        return k;
    }
    s.kind = k;
    s.start = o->start;
    s.stop = o->stop;
    if (!(o->start >= 0) || !isfinite(o->start) || isnan(o->stop) || o->stop < o->start) {
        nk_source_free(&s);
        return nk_fail(ctx, NK_EINVAL,
                       "%s: expected 0 <= start <= stop (ms), got start = %g, stop = %g", kind,
                       o->start, o->stop);
    }
    if (k == NK_SRC_GLOBAL) {
        if (net->npops == 0) {
            nk_source_free(&s);
            return nk_fail(ctx, NK_EINVAL, "global: the network has no neurons yet");
        }
        /* A target, when given, must be the whole network: anything less
         * would be silently widened. */
        int64_t given = 0, all_n = 0;
        for (int q = 0; parts && q < nparts; q++)
            given += parts[q].idx ? parts[q].n : parts[q].hi - parts[q].lo;
        for (int p = 0; p < net->npops; p++)
            all_n += net->pops[p].n;
        if (parts && given != all_n) {
            nk_source_free(&s);
            return nk_fail(ctx, NK_EINVAL,
                           "global: drives every neuron of the network (%lld), but the target "
                           "holds %lld; give no target, or use an ac or equation source on "
                           "part of the network", (long long)all_n, (long long)given);
        }
        nk_sel *all = nk_xcalloc((size_t)net->npops, sizeof *all);
        if (!all) {
            nk_source_free(&s);
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        }
        for (int p = 0; p < net->npops; p++)
            all[p] = (nk_sel){.pop = p, .lo = 0, .hi = net->pops[p].n};
        rc = take_parts(net, &s, all, net->npops);
        free(all);
    } else {
        rc = take_parts(net, &s, parts, nparts);
    }
    /* receptors a failed spike source made are taken away again */
    int *nrx0 = nk_xcalloc((size_t)net->npops + 1, sizeof *nrx0);
    if (!nrx0 && !rc)
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
    for (int p = 0; nrx0 && p < net->npops; p++)
        nrx0[p] = net->pops[p].nrx;
    if (!rc)
        rc = fill_kind(net, &s, kind, o);
    if (rc && nrx0)
        for (int p = 0; p < net->npops; p++)
            nk_receptor_drop_new(net, p, nrx0[p]);
    free(nrx0);
    if (!rc && nk_grow((void **)&net->srcs, net->nsrcs, sizeof *net->srcs))
        rc = nk_fail(ctx, NK_ENOMEM, "out of memory");
    if (rc) {
        nk_source_free(&s);
        return rc;
    }
    net->srcs[net->nsrcs] = s;
    describe(net, net->nsrcs);
    net->built = 0;
    return net->nsrcs++;
}

int nk_source_add(nk_net *net, const char *kind, nk_range target, const nk_source_opts *o)
{
    nk_sel sel = {.pop = target.pop, .lo = target.lo, .hi = target.hi};
    return nk_source_add_sel(net, kind, &sel, 1, o);
}

int nk_source_count(const nk_net *net) { return net->nsrcs; }

const char *nk_source_kind(const nk_net *net, int k)
{
    if (k < 0 || k >= net->nsrcs || net->srcs[k].removed)
        return NULL;
    return nk_source_kinds[net->srcs[k].kind];
}

int64_t nk_source_size(const nk_net *net, int k)
{
    return (k < 0 || k >= net->nsrcs) ? 0 : net->srcs[k].ntotal;
}

const char *nk_source_describe(nk_net *net, int k)
{
    if (k < 0 || k >= net->nsrcs)
        return "no such source";
    if (net->srcs[k].removed)
        return "a removed source";
    return net->srcs[k].desc;
}

static double *field_of(nk_source *s, const char *name)
{
    static const struct {
        const char *name;
        size_t off;
    } f[] = {
        {"rate", offsetof(nk_source, rate)},         {"weight", offsetof(nk_source, weight)},
        {"amplitude", offsetof(nk_source, amplitude)}, {"start", offsetof(nk_source, start)},
        {"stop", offsetof(nk_source, stop)},         {"from", offsetof(nk_source, from)},
        {"to", offsetof(nk_source, to)},             {"frequency", offsetof(nk_source, frequency)},
        {"phase", offsetof(nk_source, phase)},       {"offset", offsetof(nk_source, offset)},
        {"mean", offsetof(nk_source, mean)},         {"std", offsetof(nk_source, std)},
        {"p", offsetof(nk_source, p)},
    };
    for (size_t k = 0; k < sizeof f / sizeof *f; k++)
        if (!strcmp(name, f[k].name))
            return (double *)((char *)s + f[k].off);
    return NULL;
}

/* The options each kind has (for set/get). */
static int kind_has(int kind, const char *name)
{
    if (!strcmp(name, "start") || !strcmp(name, "stop"))
        return 1;
    switch (kind) {
    case NK_SRC_DC: return !strcmp(name, "amplitude");
    case NK_SRC_RAMP: return !strcmp(name, "from") || !strcmp(name, "to");
    case NK_SRC_AC:
    case NK_SRC_GLOBAL:
        return !strcmp(name, "amplitude") || !strcmp(name, "frequency") ||
               !strcmp(name, "phase") || !strcmp(name, "offset");
    case NK_SRC_NOISE: return !strcmp(name, "mean") || !strcmp(name, "std");
    case NK_SRC_POISSON: return !strcmp(name, "rate") || !strcmp(name, "weight");
    case NK_SRC_BERNOULLI: return !strcmp(name, "p") || !strcmp(name, "weight");
    case NK_SRC_SPIKE_TIMES: return !strcmp(name, "weight");
    }
    return 0;
}

static const char *const settable[] = {"rate", "weight", "amplitude", "start", "stop",
                                       "from", "to", "frequency", "phase", "offset",
                                       "mean", "std", "p", NULL};

/* What option name of a source takes when value is not that (net:source's
 * and src:set's checks, option by option), or NULL. */
static const char *field_want(const char *name, double value)
{
    if (!strcmp(name, "stop"))
        return isnan(value) ? "a number of ms, infinite for never" : NULL;
    if (!strcmp(name, "rate"))
        return !(value >= 0) || !isfinite(value) ? "a finite number >= 0 Hz" : NULL;
    if (!strcmp(name, "std") || !strcmp(name, "frequency"))
        return !(value >= 0) || !isfinite(value) ? "a finite number >= 0" : NULL;
    if (!strcmp(name, "p"))
        return !(value >= 0 && value <= 1) ? "a probability in [0, 1]" : NULL;
    if (!strcmp(name, "weight"))
        return !(fabs(value) <= 1e6) ? "a finite number with |weight| <= 1e6" : NULL;
    return !isfinite(value) ? "a finite number" : NULL;
}

const char *nk_source_check(const nk_source *s, double dt, const char **want)
{
    int kind = s->kind == NK_SRC_GLOBAL && s->ex ? NK_SRC_EQUATION : s->kind;
    for (int k = 0; settable[k]; k++)
        if (kind_has(kind, settable[k]) &&
            (*want = field_want(settable[k], *field_of((nk_source *)s, settable[k]))))
            return settable[k];
    if (s->kind == NK_SRC_POISSON && poisson_unfit(s->rate, s->weight, dt)) {
        *want = "a rate whose count of a step, and that count x |weight|, stay below 2^31 "
                "(with ten standard deviations of the count)";
        return "rate";
    }
    if (s->kind == NK_SRC_RAMP && !(isfinite(s->stop) && s->stop > s->start)) {
        *want = "a finite number of ms after start (a ramp's)";
        return "stop";
    }
    return NULL;
}

static int settable_list(int kind, char *buf, size_t len)
{
    const char *const *all = settable;
    buf[0] = 0;
    for (int k = 0; all[k]; k++)
        if (kind_has(kind, all[k])) {
            size_t l = strlen(buf);
            snprintf(buf + l, len - l, "%s%s", l ? ", " : "", all[k]);
        }
    return 0;
}

static int source_ok(nk_net *net, int k)
{
    if (k < 0 || k >= net->nsrcs)
        return nk_fail(net->ctx, NK_EINVAL, "no source %d in this network", k + 1);
    if (net->srcs[k].removed)
        return nk_fail(net->ctx, NK_EINVAL, "source %d was removed", k + 1);
    return 0;
}

int nk_source_get(const nk_net *net, int k, const char *name, double *value)
{
    int rc = source_ok((nk_net *)net, k);
    if (rc)
        return rc;
    nk_source *s = &net->srcs[k];
    /* a global source given as an expression has no sine options: only start and stop,
     * like an equation source (setting amplitude would silently do nothing) */
    int kind = s->kind == NK_SRC_GLOBAL && s->ex ? NK_SRC_EQUATION : s->kind;
    if (!kind_has(kind, name)) {
        char list[256];
        settable_list(kind, list, sizeof list);
        const char *kn = nk_source_kinds[s->kind];
        return nk_fail(net->ctx, NK_EINVAL, "%s %s source has no option '%s' (it has: %s)",
                       strchr("aeiou", kn[0]) ? "an" : "a", kn, name, list);
    }
    *value = *field_of(s, name);
    return 0;
}

int nk_source_set(nk_net *net, int k, const char *name, double value)
{
    double old;
    int rc = nk_source_get(net, k, name, &old);
    if (rc)
        return rc;
    nk_source *s = &net->srcs[k];
    const char *kind = nk_source_kinds[s->kind];
    double *f = field_of(s, name);
    *f = value;
    int bad = 0;
    const char *unfit = NULL;
    if (field_want(name, value))
        bad = 1;
    else if (!(s->start >= 0) || s->stop < s->start)
        bad = 2;
    else if (s->kind == NK_SRC_POISSON && (unfit = poisson_unfit(s->rate, s->weight, net->dt)))
        bad = 3;
    else if (s->kind == NK_SRC_RAMP && !(isfinite(s->stop) && s->stop > s->start))
        bad = 2;
    if (bad) {
        *f = old;
        char vb[32];
        nk_fmt_num(value, vb, sizeof vb);
        if (bad == 3)
            return nk_fail(net->ctx, NK_EINVAL, "%s: %s = %s: %s", kind, name, vb, unfit);
        if (bad == 2)
            return nk_fail(net->ctx, NK_EINVAL,
                           "%s: %s = %s would give start = %g, stop = %g (expected 0 <= start "
                           "<= stop%s)", kind, name, vb, !strcmp(name, "start") ? value : s->start,
                           !strcmp(name, "stop") ? value : s->stop,
                           s->kind == NK_SRC_RAMP ? ", stop finite and after start" : "");
        return nk_fail(net->ctx, NK_EINVAL, "%s: %s is not a valid value for '%s'", kind, vb,
                       name);
    }
    if (!strcmp(name, "weight"))
        s->wfix = nk_fix_from(value); /* the receptor stays the one chosen at creation */
    /* a larger weight or rate may bring a receptor more input than its
     * kernel was built for (nk_net_build looks again) */
    if (NK_SRC_IS_SPIKES(s->kind) && (!strcmp(name, "weight") || !strcmp(name, "rate")))
        net->in_changed = 1;
    describe(net, k);
    return 0;
}

int nk_source_set_fn(nk_net *net, int k, nk_source_fn fn, void *ud, void (*ud_free)(void *))
{
    int rc = source_ok(net, k);
    if (!rc && net->srcs[k].kind != NK_SRC_CALLBACK)
        rc = nk_fail(net->ctx, NK_EINVAL, "source %d is %s %s source, not a callback", k + 1,
                     strchr("aeiou", nk_source_kinds[net->srcs[k].kind][0]) ? "an" : "a",
                     nk_source_kinds[net->srcs[k].kind]);
    if (rc) {
        if (ud_free)
            ud_free(ud);
        return rc;
    }
    nk_source *s = &net->srcs[k];
    if (s->ud_free)
        s->ud_free(s->ud);
    s->fn = fn;
    s->ud = ud;
    s->ud_free = ud_free;
    return 0;
}

int nk_source_remove(nk_net *net, int k)
{
    int rc = nk_busy(net, "source:remove");
    if (!rc)
        rc = source_ok(net, k);
    if (rc)
        return rc;
    nk_source_free(&net->srcs[k]);
    net->built = 0;
    return 0;
}

/* ---- the step ---------------------------------------------------------------------- */

static inline void add_cur(nk_net *net, nk_pop *p, int64_t i, double v)
{
    if (net->dbl)
        ((double *)p->i_ext)[i] += v;
    else
        ((float *)p->i_ext)[i] += (float)v;
}

static void add_all(nk_net *net, nk_source *s, double v)
{
    for (int q = 0; q < s->nparts; q++) {
        nk_src_part *pt = &s->parts[q];
        nk_pop *p = &net->pops[pt->pop];
        for (int64_t j = 0; j < pt->n; j++)
            add_cur(net, p, nk_part_at(pt, j), v);
    }
}

static int lookup_t(const char *name, double *v, void *ud)
{
    const double *tv = ud;
    if (!strcmp(name, "t"))
        *v = tv[0];
    else if (!strcmp(name, "dt"))
        *v = tv[1];
    else if (!strcmp(name, "pi"))
        *v = 3.141592653589793;
    else if (!strcmp(name, "e"))
        *v = 2.718281828459045;
    else
        return 1;
    return 0;
}

/* ac, and global without an expression: pA at t ms. The sine is the
 * generated code's (rt/nk_math.h), so an equation source with the same
 * expression gives the same bits, on every backend. */
static double sine_value(const nk_source *src, double t)
{
    return src->offset + src->amplitude * nk_sin(2 * M_PI * src->frequency * t / 1000.0 +
                                                  src->phase * M_PI / 180.0);
}

/* Calls a callback source's function when it is due; 0, or an error. */
static int call_callback(nk_net *net, int k, int64_t s, double t, char *err, size_t errlen)
{
    nk_source *src = &net->srcs[k];
    int64_t s0 = start_step(src, net->dt);
    if (src->cb_called && (s - s0) % src->every != 0)
        return 0;
    if (!src->fn) {
        snprintf(err, errlen,
                 "callback source %d has no function (it came from a checkpoint, "
                 "which cannot hold a Lua function): attach one with "
                 "src:set_fn(f), or rerun the script with --resume", k + 1);
        return NK_EINVAL;
    }
    char e2[NK_ERRLEN - 64];
    e2[0] = 0;
    if (src->fn(src->ud, t, src->ntotal, src->cb_vals, e2, sizeof e2)) {
        snprintf(err, errlen, "callback source %d at t = %g ms: %s", k + 1, t, e2);
        return NK_EINVAL;
    }
    src->cb_called = 1;
    for (int64_t j = 0; j < src->ntotal; j++)
        if (!isfinite(src->cb_vals[j])) {
            nk_snprintf(err, errlen,
                        "callback source %d at t = %g ms: value %lld is %g (expected "
                        "finite currents, pA)", k + 1, t, (long long)j + 1, src->cb_vals[j]);
            return NK_EINVAL;
        }
    return 0;
}

int nk_source_drawn(const nk_source *src)
{
    return src->kind == NK_SRC_POISSON || src->kind == NK_SRC_BERNOULLI;
}

int nk_source_on(const nk_net *net, const nk_source *src, int64_t s)
{
    double t = (double)s * net->dt;
    return !src->removed && t >= src->start - 1e-9 * net->dt && t < src->stop - 1e-9 * net->dt;
}

void nk_source_tab(const nk_net *net, const nk_source *src, nk_draw_tab *t)
{
    memset(t, 0, sizeof *t);
    if (src->kind == NK_SRC_BERNOULLI) {
        t->K = 1;
        t->cdf[0] = 1.0 - src->p; /* count 1 when u > 1 - p */
        return;
    }
    double lambda = src->rate * net->dt * 1e-3;
    if (!(lambda > 0.0))
        return; /* K 0: no spikes */
    /* P(count <= k), until it stops growing past the mean; a mean that
     * needs more entries than the table has is drawn by PTRS instead */
    double pmf = nk_exp(-lambda), cdf = pmf;
    int k = 0;
    if (lambda < 10.0)
        for (; k < NK_DRAW_KMAX; k++) {
            t->cdf[k] = cdf;
            pmf *= lambda / (double)(k + 1);
            if (cdf + pmf == cdf && k > lambda) {
                t->K = k + 1;
                return;
            }
            cdf += pmf;
        }
    t->K = -1;
    nk_poisson_prep(&t->pk, lambda);
}

double nk_source_in_max(const nk_net *net, const nk_source *src)
{
    double w = fabs((double)src->wfix) * NK_FIX_INV;
    switch (src->kind) {
    case NK_SRC_BERNOULLI:
        return w;
    case NK_SRC_POISSON: {
        nk_draw_tab t;
        nk_source_tab(net, src, &t); /* a count is at most the table's length */
        return t.K < 0 ? INFINITY : t.K * w;
    }
    case NK_SRC_SPIKE_TIMES: {
        /* events sorted by (step, entry): an entry's events in one step
         * are adjacent */
        int64_t most = 0;
        for (int64_t e = 0, run = 0; e < src->nev; e++) {
            run = e && src->ev_step[e] == src->ev_step[e - 1] && src->ev_at[e] == src->ev_at[e - 1]
                      ? run + 1
                      : 1;
            most = run > most ? run : most;
        }
        return (double)most * w;
    }
    default:
        return 0;
    }
}

void nk_source_draw(const nk_net *net, int k, int q, int64_t s, int64_t lo, int64_t hi,
                    int64_t *slot, nk_draw_fn fn)
{
    const nk_source *src = &net->srcs[k];
    const nk_src_part *pt = &src->parts[q];
    nk_draw_tab tab;
    nk_source_tab(net, src, &tab);
    int64_t j0 = 0, j1 = pt->n;
    if (!pt->idx) { /* a range: its entries in [lo, hi) are one span */
        j0 = lo > pt->lo ? lo - pt->lo : 0;
        j1 = hi < pt->hi ? hi - pt->lo : pt->hi - pt->lo;
    }
    if (!fn)
        fn = nk_draw_part;
    fn(&tab, net->seed, NK_STREAM_SOURCE + (uint32_t)k, (uint64_t)s, (uint32_t)pt->off, j0, j1,
       pt->idx, pt->lo, lo, hi, src->wfix, slot);
}

int nk_sources_apply(nk_net *net, int64_t s, int drawn, char *err, size_t errlen)
{
    double t = (double)s * net->dt;
    /* The functions first: one that fails stops the run before any source
     * has added input, so the step can be run again from its start. */
    for (int k = 0; k < net->nsrcs; k++) {
        nk_source *src = &net->srcs[k];
        if (src->kind != NK_SRC_CALLBACK || !nk_source_on(net, src, s))
            continue;
        int rc = call_callback(net, k, s, t, err, errlen);
        if (rc)
            return rc;
    }
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        if (p->i_ext)
            memset(p->i_ext, 0, (size_t)p->n * net->real_size);
    }
    for (int k = 0; k < net->nsrcs; k++) {
        nk_source *src = &net->srcs[k];
        if (src->removed)
            continue;
        /* spike_times: drop events that are already in the past */
        if (src->kind == NK_SRC_SPIKE_TIMES)
            while (src->ev_pos < src->nev && src->ev_step[src->ev_pos] < s)
                src->ev_pos++;
        if (!nk_source_on(net, src, s))
            continue;
        uint32_t stream = NK_STREAM_SOURCE + (uint32_t)k;
        switch (src->kind) {
        case NK_SRC_DC:
            add_all(net, src, src->amplitude);
            break;
        case NK_SRC_STEP: {
            /* the last switch at or before s (times ascend, so their steps do) */
            int64_t a = 0, b = src->ntimes;
            while (a < b) {
                int64_t c = (a + b) / 2;
                if (step_of(src->times[c], net->dt) <= s)
                    a = c + 1;
                else
                    b = c;
            }
            double v = a ? src->amps[a - 1] : 0;
            if (v != 0)
                add_all(net, src, v);
            break;
        }
        case NK_SRC_RAMP:
            add_all(net, src,
                    src->from + (src->to - src->from) * (t - src->start) / (src->stop - src->start));
            break;
        case NK_SRC_AC:
            add_all(net, src, sine_value(src, t));
            break;
        case NK_SRC_GLOBAL: {
            double v;
            if (src->ex) {
                double tv[2] = {t, net->dt};
                char e2[512];
                if (nk_expr_eval(src->ex, lookup_t, tv, &v, e2, sizeof e2)) {
                    snprintf(err, errlen, "global source %d: cannot evaluate '%s': %s", k + 1,
                             src->expr, e2);
                    return NK_EINVAL;
                }
                if (!isfinite(v)) {
                    nk_snprintf(err, errlen,
                                "global source %d: '%s' is %g at t = %g ms (expected a finite "
                                "current)", k + 1, src->expr, v, t);
                    return NK_EDIVERGED;
                }
            } else {
                v = sine_value(src, t);
            }
            add_all(net, src, v);
            break;
        }
        case NK_SRC_NOISE: {
            int64_t per = interval_steps(src, net->dt);
            /* held intervals count from start (NEST's noise_generator draws at
             * the first active step, then every interval) */
            uint64_t slot = (uint64_t)((s - start_step(src, net->dt)) / per);
            for (int q = 0; q < src->nparts; q++) {
                nk_src_part *pt = &src->parts[q];
                nk_pop *p = &net->pops[pt->pop];
                for (int64_t j = 0; j < pt->n; j++) {
                    nk_rng r;
                    nk_rng_init(&r, net->seed, stream, slot, (uint32_t)(pt->off + j));
                    add_cur(net, p, nk_part_at(pt, j), src->mean + src->std * nk_rng_normal(&r));
                }
            }
            break;
        }
        case NK_SRC_ARRAY: {
            int64_t per = interval_steps(src, net->dt);
            int64_t row = (s - start_step(src, net->dt)) / per;
            if (row < 0)
                break;
            if (row >= src->rows) {
                if (!src->hold)
                    break;
                row = src->rows - 1;
            }
            const double *v = src->arr + (size_t)row * (size_t)src->cols;
            for (int q = 0; q < src->nparts; q++) {
                nk_src_part *pt = &src->parts[q];
                nk_pop *p = &net->pops[pt->pop];
                for (int64_t j = 0; j < pt->n; j++)
                    add_cur(net, p, nk_part_at(pt, j), src->cols == 1 ? v[0] : v[pt->off + j]);
            }
            break;
        }
        case NK_SRC_EQUATION:
            for (int q = 0; q < src->nparts; q++) {
                nk_src_part *pt = &src->parts[q];
                nk_pop *p = &net->pops[pt->pop];
                if (!pt->eq) {
                    snprintf(err, errlen, "equation source %d has no compiled code", k + 1);
                    return NK_ECOMPILE;
                }
                pt->eq(pt->lo, pt->hi, pt->idx, pt->n, t, s, net->seed, p->pos, p->i_ext);
            }
            break;
        case NK_SRC_CALLBACK: {
            for (int q = 0; q < src->nparts; q++) {
                nk_src_part *pt = &src->parts[q];
                nk_pop *p = &net->pops[pt->pop];
                for (int64_t j = 0; j < pt->n; j++)
                    add_cur(net, p, nk_part_at(pt, j), src->cb_vals[pt->off + j]);
            }
            break;
        }
        case NK_SRC_POISSON:
        case NK_SRC_BERNOULLI:
            for (int q = 0; drawn && q < src->nparts; q++) {
                nk_src_part *pt = &src->parts[q];
                nk_pop *p = &net->pops[pt->pop];
                int64_t *slot = nk_ring_slot(p, pt->rx, net->ring_len, s);
                if (!p->lay.gap)
                    nk_source_draw(net, k, q, s, 0, p->n, slot, NULL);
                else /* chunk by chunk, each where its entries are */
                    for (int c = 0; c < p->lay.nc; c++)
                        nk_source_draw(net, k, q, s, p->lay.cut[c], p->lay.cut[c + 1],
                                       slot + nk_lay_off(&p->lay, c), NULL);
            }
            break;
        case NK_SRC_SPIKE_TIMES:
            for (int64_t e = src->ev_pos; e < src->nev && src->ev_step[e] == s; e++) {
                int64_t at = src->ev_at[e];
                int q = 0;
                while (q + 1 < src->nparts && src->parts[q + 1].off <= at)
                    q++;
                nk_src_part *pt = &src->parts[q];
                nk_pop *p = &net->pops[pt->pop];
                nk_ring_slot(p, pt->rx, net->ring_len, s)[nk_at(&p->lay,
                                                                nk_part_at(pt, at - pt->off))] +=
                    src->wfix;
            }
            break;
        }
    }
    return 0;
}

/* ---- regions ---------------------------------------------------------------------- */

void nk_sel_free(nk_sel *parts, int nparts)
{
    if (!parts)
        return;
    for (int k = 0; k < nparts; k++)
        free((void *)parts[k].idx);
    free(parts);
}

static int inside(const nk_region_spec *r, const double *x)
{
    double dx = x[0] - r->center[0], dy = x[1] - r->center[1], dz = x[2] - r->center[2];
    if (!strcmp(r->kind, "sphere"))
        return dx * dx + dy * dy + dz * dz <= r->radius * r->radius;
    if (!strcmp(r->kind, "box"))
        return fabs(dx) <= r->size[0] / 2 && fabs(dy) <= r->size[1] / 2 &&
               fabs(dz) <= r->size[2] / 2;
    /* cylinder along z, centred */
    return dx * dx + dy * dy <= r->radius * r->radius && fabs(dz) <= r->height / 2;
}

int nk_region(nk_net *net, const nk_region_spec *r, nk_sel **out)
{
    nk_ctx *ctx = net->ctx;
    *out = NULL;
    if (!r->kind || (strcmp(r->kind, "sphere") && strcmp(r->kind, "box") &&
                     strcmp(r->kind, "cylinder")))
        return nk_fail(ctx, NK_EINVAL, "region: unknown shape '%s' (expected sphere, box or "
                                       "cylinder)", r->kind ? r->kind : "(none)");
    for (int k = 0; k < 3; k++)
        if (!isfinite(r->center[k]))
            return nk_fail(ctx, NK_EINVAL, "region: center must be three finite numbers (um)");
    if (strcmp(r->kind, "box") && !(r->radius > 0 && isfinite(r->radius)))
        return nk_fail(ctx, NK_EINVAL, "region: a %s needs a finite radius > 0 (um), got %g",
                       r->kind, r->radius);
    if (!strcmp(r->kind, "box"))
        for (int k = 0; k < 3; k++)
            if (!(r->size[k] >= 0 && isfinite(r->size[k])))
                return nk_fail(ctx, NK_EINVAL, "region: a box needs a size of three finite "
                                               "lengths >= 0 (um)");
    if (!strcmp(r->kind, "cylinder") && !(r->height >= 0 && isfinite(r->height)))
        return nk_fail(ctx, NK_EINVAL,
                       "region: a cylinder needs a finite height >= 0 (um), got %g", r->height);
    int npos = 0;
    for (int p = 0; p < net->npops; p++)
        npos += net->pops[p].pos != NULL;
    for (int k = 0; k < r->npops; k++) {
        int p = r->pops[k];
        if (p < 0 || p >= net->npops)
            return nk_fail(ctx, NK_EINVAL, "region: no such population in this network");
        if (!net->pops[p].pos)
            return nk_fail(ctx, NK_EINVAL,
                           "region: population '%s' has no positions (give it some with the "
                           "positions option or pop:place)", net->pops[p].name);
    }
    if (!npos)
        return nk_fail(ctx, NK_EINVAL, "region: no population of this network has positions "
                                       "(give them with the positions option or pop:place)");
    nk_sel *parts = nk_xcalloc((size_t)net->npops, sizeof *parts);
    if (!parts)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    int np = 0;
    for (int p = 0; p < net->npops; p++) {
        nk_pop *pp = &net->pops[p];
        if (!pp->pos)
            continue;
        if (r->npops) {
            int listed = 0;
            for (int k = 0; k < r->npops; k++)
                listed |= r->pops[k] == p;
            if (!listed)
                continue;
        }
        int64_t c = 0;
        for (int64_t i = 0; i < pp->n; i++)
            c += inside(r, pp->pos + 3 * i);
        if (!c)
            continue;
        int64_t *idx = malloc((size_t)c * sizeof *idx);
        if (!idx) {
            nk_sel_free(parts, np);
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        }
        c = 0;
        for (int64_t i = 0; i < pp->n; i++)
            if (inside(r, pp->pos + 3 * i))
                idx[c++] = i;
        parts[np++] = (nk_sel){.pop = p, .lo = idx[0], .hi = idx[c - 1] + 1, .idx = idx, .n = c};
    }
    *out = parts;
    return np;
}
