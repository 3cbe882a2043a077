/* cpu.c - the CPU backend: generated C kernels loaded with dlopen, ring
 * buffers in host memory, one thread. The order of work in a step is the one
 * written down in backends/backend.h. */
#include "../../src/internal.h"
#include "../../src/rt/nk_philox.h"
#include "../backend.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cpu_available(char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return 0;
}

static void release_pop(nk_pop *p)
{
    if (p->dl)
        dlclose(p->dl);
    p->dl = NULL;
    p->update = NULL;
    free(p->code);
    p->code = NULL;
    free(p->kstate);
    p->kstate = NULL;
    free(p->krx);
    p->krx = NULL;
    free(p->kparam);
    p->kparam = NULL;
    free(p->kextra);
    p->kextra = NULL;
    p->nkextra = 0;
}

static void cpu_release(nk_net *net)
{
    for (int k = 0; k < net->nprojs; k++) {
        free(net->projs[k].gbuf);
        net->projs[k].gbuf = NULL;
        net->projs[k].graded = NULL;
    }
    for (int k = 0; k < net->npops; k++)
        release_pop(&net->pops[k]);
}

/* Sizes every ring buffer for the longest delay, keeping input already
 * scheduled for future steps in its place. */
static int build_rings(nk_net *net, char *err, size_t errlen)
{
    int need = 2;
    for (int k = 0; k < net->nprojs; k++)
        if (net->projs[k].max_delay + 1 > need)
            need = net->projs[k].max_delay + 1;
    int old = net->ring_len;
    int len = need > old ? need : old;
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        for (int r = 0; r < p->nrx; r++) {
            nk_receptor *x = &p->rx[r];
            if (x->ring && len == old)
                continue;
            int64_t *ring = nk_xcalloc((size_t)len * (size_t)p->n, sizeof *ring);
            if (!ring) {
                snprintf(err, errlen, "out of memory for the ring buffers of '%s'", p->name);
                return NK_ENOMEM;
            }
            if (x->ring) {
                for (int d = 0; d < old; d++) {
                    int64_t s = net->step + d;
                    memcpy(ring + (size_t)(s % len) * (size_t)p->n,
                           x->ring + (size_t)(s % old) * (size_t)p->n,
                           (size_t)p->n * sizeof *ring);
                }
                free(x->ring);
            }
            x->ring = ring;
        }
    }
    net->ring_len = len;
    return 0;
}

static int32_t refractory_steps(nk_net *net, nk_pop *p, char *err, size_t errlen, int *rc);

static int build_pop(nk_net *net, nk_pop *p, int pi, char *err, size_t errlen)
{
    release_pop(p);
    int rc;
    p->refr_steps = refractory_steps(net, p, err, errlen, &rc);
    if (rc)
        return rc;
    p->code = nk_codegen_pop(net, pi, err, errlen);
    if (!p->code)
        return NK_EINVAL;
    /* Equation sources on this population are compiled with its code. */
    char *eq = NULL;
    if ((rc = nk_codegen_eqsrc(net, pi, &eq, err, errlen)))
        return rc;
    if (eq) {
        size_t a = strlen(p->code), b = strlen(eq);
        char *both = realloc(p->code, a + b + 1);
        if (!both) {
            free(eq);
            snprintf(err, errlen, "out of memory");
            return NK_ENOMEM;
        }
        memcpy(both + a, eq, b + 1);
        p->code = both;
        free(eq);
    }
    rc = nk_jit_load(p->code, &p->dl, &p->update, err, errlen);
    if (rc)
        return rc;
    for (int k = 0; k < net->nsrcs; k++) {
        nk_source *src = &net->srcs[k];
        if (src->removed || src->kind != NK_SRC_EQUATION)
            continue;
        for (int q = 0; q < src->nparts; q++) {
            if (src->parts[q].pop != pi)
                continue;
            char sym[64];
            snprintf(sym, sizeof sym, "nk_eqsrc_%d_%d", k, q);
            *(void **)&src->parts[q].eq = dlsym(p->dl, sym);
            if (!src->parts[q].eq) {
                snprintf(err, errlen, "generated code for '%s' lacks %s", p->name, sym);
                return NK_ECOMPILE;
            }
        }
    }
    int ns = p->model->nstates, np = p->model->nparams;
    for (int r = 0; r < p->nrx; r++) {
        ns += p->rx[r].syn->nstates;
        np += p->rx[r].syn->nparams;
    }
    p->kstate = nk_xcalloc((size_t)ns, sizeof *p->kstate);
    p->kparam = nk_xcalloc((size_t)np + (size_t)p->nkextra + 1, sizeof *p->kparam);
    p->krx = nk_xcalloc((size_t)p->nrx, sizeof *p->krx);
    if (!p->kstate || !p->kparam || !p->krx) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    int s = 0, q = 0;
    for (int k = 0; k < p->model->nstates; k++)
        p->kstate[s++] = p->state[k];
    for (int k = 0; k < p->model->nparams; k++)
        p->kparam[q++] = p->param[k];
    for (int r = 0; r < p->nrx; r++) {
        for (int k = 0; k < p->rx[r].syn->nstates; k++)
            p->kstate[s++] = p->rx[r].state[k];
        for (int k = 0; k < p->rx[r].syn->nparams; k++)
            p->kparam[q++] = p->rx[r].param[k];
    }
    for (int k = 0; k < p->nkextra; k++)
        p->kparam[q++] = p->kextra[k];
    /* Graded projections onto this population: their functions live here. */
    for (int k = 0; k < net->nprojs; k++) {
        nk_proj *pj = &net->projs[k];
        if (pj->post.pop != pi || !p->rx[pj->rx].syn->graded)
            continue;
        char sym[64];
        snprintf(sym, sizeof sym, "nk_graded_%d", k);
        *(void **)&pj->graded = dlsym(p->dl, sym);
        int64_t npre = pj->pre.hi - pj->pre.lo;
        free(pj->gbuf);
        pj->gbuf = nk_xcalloc((size_t)npre + 1, sizeof *pj->gbuf);
        if (!pj->graded || !pj->gbuf) {
            snprintf(err, errlen, "generated code for '%s' lacks %s (or out of memory)", p->name,
                     sym);
            return NK_ECOMPILE;
        }
    }
    return 0;
}

static int cpu_build(nk_net *net, char *err, size_t errlen)
{
    int rc = build_rings(net, err, errlen);
    if (rc)
        return rc;
    for (int k = 0; k < net->npops; k++)
        if ((rc = build_pop(net, &net->pops[k], k, err, errlen)))
            return rc;
    return 0;
}

static int32_t refractory_steps(nk_net *net, nk_pop *p, char *err, size_t errlen, int *rc)
{
    *rc = 0;
    if (!p->model->refractory || p->model->refr_cond || p->model->refr_per_neuron)
        return 0;
    double ms;
    if (nk_eval_param_expr(p->model->refractory, p->model, p->param, net->dt, &ms, err, errlen)) {
        *rc = NK_EINVAL;
        return 0;
    }
    if (!(ms >= 0) || ms / net->dt > 1e9) {
        snprintf(err, errlen, "population '%s': refractory period must be >= 0 ms, got %g",
                 p->name, ms);
        *rc = NK_EINVAL;
        return 0;
    }
    return (int32_t)floor(ms / net->dt + 0.5);
}

static int cpu_step(nk_net *net, char *err, size_t errlen)
{
    int64_t s = net->step;
    double t = (double)s * net->dt;
    int L = net->ring_len;

    /* 0. sampled monitors see the state at the start of the step */
    int rc = nk_monitors_sample(net, s, err, errlen);
    if (rc)
        return rc;

    /* 1. sources */
    if ((rc = nk_sources_apply(net, s, err, errlen)))
        return rc;

    /* 2. update */
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        nk_kargs a = {
            .n = p->n, .step = s, .t = t, .dt = net->dt, .seed = net->seed,
            .stream = NK_STREAM_MODEL + (uint32_t)k,
            .refr_steps = p->refr_steps,
            .state = p->kstate, .param = p->kparam, .rx_in = p->krx,
            .i_ext = p->i_ext, .refr = p->refr, .bad_index = -1, .bad_var = -1,
        };
        for (int r = 0; r < p->nrx; r++)
            p->krx[r] = nk_ring_slot(p, r, L, s);
        p->nspk = 0;
        if (p->update(&a, 0, p->n, p->spk, &p->nspk)) {
            const nk_model *m = p->model;
            const char *var = "?";
            int v = a.bad_var;
            if (v < m->nstates) {
                var = m->sname[v];
            } else {
                v -= m->nstates;
                for (int r = 0; r < p->nrx; r++) {
                    if (v < p->rx[r].syn->nstates) {
                        var = p->rx[r].syn->sname[v];
                        break;
                    }
                    v -= p->rx[r].syn->nstates;
                }
            }
            snprintf(err, errlen,
                     "population '%s': neuron %lld of %lld: variable '%s' became NaN or infinite "
                     "at step %lld (t = %g ms); the run stopped and what was recorded is kept",
                     p->name, (long long)a.bad_index + 1, (long long)p->n, var, (long long)s, t);
            p->nspk = 0;
            return NK_EDIVERGED;
        }
    }

    /* 3. clear this step's slot: it becomes step s + L's */
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        for (int r = 0; r < p->nrx; r++)
            memset(nk_ring_slot(p, r, L, s), 0, (size_t)p->n * sizeof(int64_t));
    }

    /* 4. deliver */
    for (int k = 0; k < net->nprojs; k++) {
        nk_proj *pj = &net->projs[k];
        nk_pop *pre = &net->pops[pj->pre.pop];
        nk_pop *post = &net->pops[pj->post.pop];
        int64_t *ring = post->rx[pj->rx].ring;
        size_t n = (size_t)post->n;
        if (pj->graded) {
            /* Every connection sends weight x the graded value of its
             * presynaptic neuron's state after this step's update. */
            nk_receptor *x = &post->rx[pj->rx];
            pj->graded(pre->state, x->param, pj->pre.lo, pj->pre.hi, pj->gbuf);
            for (int64_t a = 0; a < pj->pre.hi - pj->pre.lo; a++) {
                double g = pj->gbuf[a];
                if (g == 0)
                    continue;
                for (int64_t e = pj->row[a]; e < pj->row[a + 1]; e++) {
                    size_t slot = (size_t)((s + pj->delay[e]) % L);
                    ring[slot * n + pj->col[e]] += nk_fix_from((double)pj->w[e] * g);
                }
            }
            continue;
        }
        for (int64_t q = 0; q < pre->nspk; q++) {
            int64_t i = pre->spk[q];
            if (i < pj->pre.lo || i >= pj->pre.hi)
                continue;
            int64_t a = i - pj->pre.lo;
            for (int64_t e = pj->row[a]; e < pj->row[a + 1]; e++) {
                size_t slot = (size_t)((s + pj->delay[e]) % L);
                ring[slot * n + pj->col[e]] += nk_fix_from((double)pj->w[e]);
            }
        }
    }

    /* 5. record */
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        if (!p->rec_mask)
            continue;
        for (int64_t q = 0; q < p->nspk; q++) {
            int64_t i = p->spk[q];
            if (!p->rec_mask[i])
                continue;
            if (p->nrec == p->caprec) {
                int64_t nc = p->caprec ? p->caprec * 2 : 4096;
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
            }
            p->rec_step[p->nrec] = s;
            p->rec_id[p->nrec] = (uint32_t)i;
            p->nrec++;
        }
    }
    nk_monitors_spikes(net, s);
    net->step = s + 1;
    return 0;
}

const nk_backend nk_backend_cpu = {
    .name = "cpu",
    .available = cpu_available,
    .build = cpu_build,
    .step = cpu_step,
    .release = cpu_release,
};
