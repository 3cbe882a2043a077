/* step.c - what every backend does around its kernels: ring buffers sized
 * for the longest delay, refractory periods in steps, recording the spikes
 * of a step, counting events for net:profile(), and the message for a
 * diverged update. */
#include "internal.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 0 when the ring buffers fit in memory with `len` slots (a slot a step of
 * the longest delay, and one more), else an error with err filled: every
 * receptor of every population has one, 8 bytes a neuron a slot, so one long
 * delay anywhere makes them all long, and a network's rings can exceed its
 * synapses by far (200,000 neurons and a delay of 65,535 steps: 105 GB). */
int nk_rings_fit(const nk_net *net, int len, char *err, size_t errlen)
{
    if (len <= net->ring_len)
        return 0;
    double inputs = 0; /* neurons times receptors, the layouts' padding too */
    for (int k = 0; k < net->npops; k++) {
        const nk_pop *p = &net->pops[k];
        inputs += (double)p->nrx * (double)(p->lay.len > p->n ? p->lay.len : p->n);
    }
    const double bytes = inputs * (double)len * sizeof(int64_t);
    if (bytes < 1e8)
        return 0;
    const int64_t avail = nk_mem_available();
    if (avail < 0 || bytes <= (double)avail)
        return 0;
    char nb[32], ab[32];
    snprintf(err, errlen,
             "the longest delay, %d steps (%g ms at dt = %g ms), needs ring buffers of %s (a slot "
             "a step for each of the network's %.0f receptor inputs, neurons times receptors, "
             "8 bytes each), more than the %s of memory available: use shorter delays or a "
             "larger dt",
             len - 1, (len - 1) * net->dt, net->dt, nk_fmt_bytes(bytes, nb, sizeof nb), inputs,
             nk_fmt_bytes((double)avail, ab, sizeof ab));
    return NK_ENOMEM;
}

/* The slots the ring buffers need for the projections' delays. */
int nk_rings_needed(const nk_net *net)
{
    int need = 2;
    for (int k = 0; k < net->nprojs; k++)
        if (net->projs[k].max_delay + 1 > need)
            need = net->projs[k].max_delay + 1;
    return need;
}

/* Sizes every ring buffer for the longest delay, keeping input already
 * scheduled for future steps in its place. */
int nk_build_rings(nk_net *net, char *err, size_t errlen)
{
    const int need = nk_rings_needed(net);
    int old = net->ring_len;
    int len = need > old ? need : old;
    int rc = nk_rings_fit(net, len, err, errlen);
    if (rc)
        return rc;
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        for (int r = 0; r < p->nrx; r++) {
            nk_receptor *x = &p->rx[r];
            if (x->ring && len == old)
                continue;
            int64_t *ring = nk_xcalloc64((size_t)len * (size_t)p->lay.len, sizeof *ring);
            if (!ring) {
                snprintf(err, errlen, "out of memory for the ring buffers of '%s'", p->name);
                return NK_ENOMEM;
            }
            if (x->ring) {
                for (int d = 0; d < old; d++) {
                    int64_t s = net->step + d;
                    memcpy(ring + (size_t)(s % len) * (size_t)p->lay.len,
                           x->ring + (size_t)(s % old) * (size_t)p->lay.len,
                           (size_t)p->lay.len * sizeof *ring);
                }
                free(x->ring);
            }
            x->ring = ring;
        }
    }
    net->ring_len = len;
    return 0;
}

static int any_name(const char *name, int line, int col, void *ud)
{
    (void)name;
    (void)line;
    (void)col;
    (void)ud;
    return 1;
}

int32_t nk_refractory_steps(nk_net *net, nk_pop *p, char *err, size_t errlen, int *rc)
{
    *rc = 0;
    if (!p->model->refractory || p->model->refr_cond || p->model->refr_per_neuron)
        return 0;
    double ms;
    if (nk_eval_param_expr(p->model->refractory, p->model, p->param, net->dt, &ms, err, errlen)) {
        *rc = NK_EINVAL;
        return 0;
    }
    if (!(ms >= 0) || ms / net->dt > NK_MAX_REFR_STEPS) {
        /* the expression, unless it is a number: "t_ref = 1e+09 ms" */
        char ex[256] = "";
        if (nk_expr_walk_vars(p->model->refractory, any_name, NULL) &&
            nk_expr_to_str(p->model->refractory, ex, sizeof ex - 3) > 0)
            strcat(ex, " = ");
        char val[32];
        nk_fmt_num(ms, val, sizeof val);
        snprintf(err, errlen,
                 "population '%s': the refractory period %s%s ms is out of range (expected 0 to "
                 "%g ms: at most 1e9 steps of dt = %g ms)",
                 p->name, ex, val, NK_MAX_REFR_STEPS * net->dt, net->dt);
        *rc = NK_EINVAL;
        return 0;
    }
    return (int32_t)floor(ms / net->dt + 0.5);
}

double nk_substeps(double dt, double max_dt)
{
    if (!(max_dt > 0) || dt <= max_dt)
        return 1;
    return ceil(dt / max_dt - 1e-9);
}

/* The message for a diverged update. */
void nk_diverged(nk_net *net, int pop, int64_t index, int var, int64_t s, char *err, size_t errlen)
{
    nk_pop *p = &net->pops[pop];
    const nk_model *m = p->model;
    const char *vname = "?";
    int v = var;
    if (var == -2) { /* the kernels' code for a per-neuron refractory period */
        snprintf(err, errlen,
                 "population '%s': neuron %lld of %lld: its refractory period (model '%s') "
                 "evaluated to NaN or to less than 0 ms at a spike at step %lld (t = %g ms); it "
                 "must be >= 0 ms. The run stopped and what was recorded is kept",
                 p->name, (long long)index + 1, (long long)p->n, m->name, (long long)s,
                 (double)s * net->dt);
        return;
    }
    if (v < m->nstates) {
        vname = m->sname[v];
    } else {
        v -= m->nstates;
        for (int q = 0; q < p->nrx; q++) {
            if (v < p->rx[q].syn->nstates) {
                vname = p->rx[q].syn->sname[v];
                break;
            }
            v -= p->rx[q].syn->nstates;
        }
    }
    int n = snprintf(err, errlen,
                     "population '%s': neuron %lld of %lld: variable '%s' became NaN or infinite "
                     "at step %lld (t = %g ms); the run stopped and what was recorded is kept",
                     p->name, (long long)index + 1, (long long)p->n, vname, (long long)s,
                     (double)s * net->dt);
    /* rk45 gives up (NaN) when a million tries in one step do not meet its
     * tolerances, so the divergence may be theirs, not the model's. */
    const char *method = p->method ? p->method : m->method;
    if (n >= 0 && (size_t)n < errlen && method && !strcmp(method, "rk45"))
        snprintf(err + n, errlen - (size_t)n,
                 ". Under rk45 this also happens when no step size meets the tolerances "
                 "(rtol = %g, atol = %g): loosen them if the model itself stays finite there",
                 p->rtol, p->atol);
}

int nk_rec_reserve(nk_pop *p, int64_t more, char *err, size_t errlen)
{
    if (p->nrec + more <= p->caprec)
        return 0;
    int64_t nc = p->caprec ? p->caprec : 4096;
    while (nc < p->nrec + more)
        nc *= 2;
    int64_t *a = realloc(p->rec_step, (size_t)nc * sizeof *a);
    if (a)
        p->rec_step = a;
    uint32_t *b = realloc(p->rec_id, (size_t)nc * sizeof *b);
    if (b)
        p->rec_id = b;
    if (!a || !b) {
        snprintf(err, errlen, "out of memory recording spikes of '%s'", p->name);
        return NK_ENOMEM;
    }
    p->caprec = nc;
    return 0;
}

int nk_rec_room(nk_net *net, int64_t steps, const int64_t *pending, char *err, size_t errlen)
{
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        if (!p->rec_mask)
            continue;
        int rc = nk_rec_reserve(p, (pending ? pending[k] : 0) + steps * p->n, err, errlen);
        if (rc)
            return rc;
    }
    return nk_monitors_room(net, steps, err, errlen);
}

int nk_record_spikes(nk_net *net, int64_t s, char *err, size_t errlen)
{
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        if (!p->rec_mask || !p->nspk)
            continue;
        /* room for every spike of the step at once, not one at a time */
        int rc = nk_rec_reserve(p, p->nspk, err, errlen);
        if (rc)
            return rc;
        int64_t r = p->nrec;
        for (int64_t q = 0; q < p->nspk; q++) {
            int64_t i = p->spk[q];
            p->rec_step[r] = s;
            p->rec_id[r] = (uint32_t)i;
            r += p->rec_mask[i] != 0;
        }
        p->nrec = r;
    }
    nk_monitors_spikes(net, s);
    return 0;
}

/* Spikes and graded events of this step, for net:profile() (counted only
 * in profiled runs). The events of spikes are counted where they are
 * delivered: reading every spike's row again here cost fly-scale's profiled
 * run a scattered read per spike. */
void nk_count_events(nk_net *net)
{
    for (int k = 0; k < net->npops; k++)
        net->run_spikes += net->pops[k].nspk;
    for (int k = 0; k < net->nprojs; k++) {
        const nk_proj *pj = &net->projs[k];
        if (net->pops[pj->post.pop].rx[pj->rx].syn->graded)
            net->run_events += pj->nsyn;
    }
}

int nk_bind_eqsrc(nk_net *net, int pi, void *dl, char *err, size_t errlen)
{
    for (int k = 0; k < net->nsrcs; k++) {
        nk_source *src = &net->srcs[k];
        if (src->removed || src->kind != NK_SRC_EQUATION)
            continue;
        for (int q = 0; q < src->nparts; q++) {
            if (src->parts[q].pop != pi)
                continue;
            char sym[64];
            snprintf(sym, sizeof sym, "nk_eqsrc_%d_%d", k, q);
            *(void **)&src->parts[q].eq = dlsym(dl, sym);
            if (!src->parts[q].eq) {
                snprintf(err, errlen, "generated code for '%s' lacks %s", net->pops[pi].name,
                         sym);
                return NK_ECOMPILE;
            }
        }
    }
    return 0;
}
