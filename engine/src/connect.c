/* connect.c - connectivity rules, built into CSR by presynaptic neuron.
 *
 * Every rule draws from Philox with the network seed and the projection's
 * own stream, with the presynaptic (bernoulli) or postsynaptic
 * (fixed_indegree) neuron as the counter's index: the synapses of one neuron
 * never depend on how many threads build the others, nor on other
 * projections. Within a row, synapses are in increasing target order. */
#include "internal.h"
#include "rt/nk_philox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing list of (pre, post) pairs, pre relative to the pre range. */
typedef struct pairs {
    uint32_t *pre, *post;
    int64_t n, cap;
} pairs;

static int pairs_add(pairs *p, uint32_t a, uint32_t b)
{
    if (p->n == p->cap) {
        int64_t nc = p->cap ? p->cap * 2 : 1024;
        uint32_t *x = realloc(p->pre, (size_t)nc * sizeof *x);
        if (!x)
            return -1;
        p->pre = x;
        uint32_t *y = realloc(p->post, (size_t)nc * sizeof *y);
        if (!y)
            return -1;
        p->post = y;
        p->cap = nc;
    }
    p->pre[p->n] = a;
    p->post[p->n] = b;
    p->n++;
    return 0;
}

/* Bernoulli: for each presynaptic neuron, the gaps between chosen targets are
 * geometric, so the cost is proportional to the synapses made. */
static int rule_bernoulli(const nk_net *net, nk_proj *pj, uint32_t stream, double p, int autapses,
                          pairs *out)
{
    int same = pj->pre.pop == pj->post.pop;
    int64_t npre = pj->pre.hi - pj->pre.lo, npost = pj->post.hi - pj->post.lo;
    if (p <= 0)
        return 0;
    double lq = p < 1 ? nk_log1p(-p) : 0;
    for (int64_t a = 0; a < npre; a++) {
        int64_t self = pj->pre.lo + a;
        nk_rng r;
        nk_rng_init(&r, net->seed, stream, 0, (uint32_t)self);
        int64_t j = -1;
        for (;;) {
            if (p >= 1) {
                j++;
            } else {
                double gap = nk_floor(nk_log(nk_rng_uniform(&r)) / lq);
                if (gap >= (double)npost)
                    break;
                j += (int64_t)gap + 1;
            }
            if (j >= npost)
                break;
            int64_t post = pj->post.lo + j;
            if (same && !autapses && post == self)
                continue;
            if (pairs_add(out, (uint32_t)a, (uint32_t)post))
                return -1;
        }
    }
    return 0;
}

/* fixed_indegree: each postsynaptic neuron draws K sources; without
 * multapses by Floyd's sampling (K distinct out of the candidates). */
static int rule_indegree(const nk_net *net, nk_proj *pj, uint32_t stream, int64_t K,
                         int autapses, int multapses, pairs *out, char *err, size_t errlen)
{
    int same = pj->pre.pop == pj->post.pop;
    int64_t npre = pj->pre.hi - pj->pre.lo, npost = pj->post.hi - pj->post.lo;
    uint32_t *stamp = NULL;
    uint32_t *chosen = NULL;
    if (!multapses) {
        stamp = nk_xcalloc((size_t)npre, sizeof *stamp);
        chosen = nk_xcalloc((size_t)K, sizeof *chosen);
        if (!stamp || !chosen) {
            free(stamp);
            free(chosen);
            return -1;
        }
    }
    int rc = 0;
    for (int64_t b = 0; b < npost && !rc; b++) {
        int64_t post = pj->post.lo + b;
        /* Candidates are the pre range less the neuron itself when autapses
         * are excluded: index c maps past it. */
        int64_t self = (same && !autapses && post >= pj->pre.lo && post < pj->pre.hi)
                           ? post - pj->pre.lo
                           : -1;
        int64_t ncand = npre - (self >= 0);
        if (K > 0 && ncand <= 0) {
            snprintf(err, errlen, "fixed_indegree: no source neuron left for target %lld",
                     (long long)post + 1);
            rc = -2;
            break;
        }
        if (!multapses && K > ncand) {
            snprintf(err, errlen,
                     "fixed_indegree: indegree %lld is more than the %lld candidate sources",
                     (long long)K, (long long)ncand);
            rc = -2;
            break;
        }
        nk_rng r;
        nk_rng_init(&r, net->seed, stream, 0, (uint32_t)post);
        if (multapses) {
            for (int64_t k = 0; k < K && !rc; k++) {
                int64_t c = nk_rng_below(&r, (uint32_t)ncand);
                if (self >= 0 && c >= self)
                    c++;
                rc = pairs_add(out, (uint32_t)c, (uint32_t)post);
            }
        } else {
            uint32_t mark = (uint32_t)b + 1;
            int64_t m = 0;
            for (int64_t t = ncand - K; t < ncand; t++) {
                int64_t c = nk_rng_below(&r, (uint32_t)(t + 1));
                int64_t cc = (self >= 0 && c >= self) ? c + 1 : c;
                if (stamp[cc] == mark) {
                    c = t;
                    cc = (self >= 0 && c >= self) ? c + 1 : c;
                }
                stamp[cc] = mark;
                chosen[m++] = (uint32_t)cc;
            }
            for (int64_t k = 0; k < m && !rc; k++)
                rc = pairs_add(out, chosen[k], (uint32_t)post);
        }
    }
    free(stamp);
    free(chosen);
    return rc;
}

int nk_connect_build(nk_net *net, nk_proj *pj, const nk_conn_opts *o, char *err, size_t errlen)
{
    uint32_t stream = NK_STREAM_CONN + (uint32_t)(pj - net->projs);
    int same = pj->pre.pop == pj->post.pop;
    int64_t npre = pj->pre.hi - pj->pre.lo, npost = pj->post.hi - pj->post.lo;
    pairs pr = {0};
    int rc = 0;
    switch (o->rule) {
    case NK_RULE_ALL_TO_ALL:
        for (int64_t a = 0; a < npre && !rc; a++)
            for (int64_t b = 0; b < npost && !rc; b++) {
                int64_t post = pj->post.lo + b;
                if (same && !o->allow_autapses && post == pj->pre.lo + a)
                    continue;
                rc = pairs_add(&pr, (uint32_t)a, (uint32_t)post);
            }
        break;
    case NK_RULE_ONE_TO_ONE:
        for (int64_t a = 0; a < npre && !rc; a++) {
            int64_t post = pj->post.lo + a;
            if (same && !o->allow_autapses && post == pj->pre.lo + a)
                continue;
            rc = pairs_add(&pr, (uint32_t)a, (uint32_t)post);
        }
        break;
    case NK_RULE_BERNOULLI:
        rc = rule_bernoulli(net, pj, stream, o->p, o->allow_autapses, &pr);
        break;
    case NK_RULE_FIXED_INDEGREE:
        rc = rule_indegree(net, pj, stream, o->indegree, o->allow_autapses, o->allow_multapses,
                           &pr, err, errlen);
        break;
    default:
        snprintf(err, errlen, "unknown rule");
        rc = -2;
    }
    if (rc) {
        free(pr.pre);
        free(pr.post);
        if (rc == -1)
            snprintf(err, errlen, "out of memory building the projection");
        return rc == -1 ? NK_ENOMEM : NK_EINVAL;
    }
    /* Counting sort by presynaptic neuron (stable: keeps target order). */
    pj->nsyn = pr.n;
    pj->row = nk_xcalloc((size_t)npre + 1, sizeof *pj->row);
    pj->col = nk_xcalloc((size_t)pr.n, sizeof *pj->col);
    pj->w = nk_xcalloc((size_t)pr.n, sizeof *pj->w);
    pj->delay = nk_xcalloc((size_t)pr.n, sizeof *pj->delay);
    if (!pj->row || !pj->col || !pj->w || !pj->delay) {
        free(pr.pre);
        free(pr.post);
        snprintf(err, errlen, "out of memory for %lld synapses", (long long)pr.n);
        return NK_ENOMEM;
    }
    for (int64_t k = 0; k < pr.n; k++)
        pj->row[pr.pre[k] + 1]++;
    for (int64_t a = 0; a < npre; a++)
        pj->row[a + 1] += pj->row[a];
    int64_t *fill = nk_xcalloc((size_t)npre, sizeof *fill);
    if (!fill) {
        free(pr.pre);
        free(pr.post);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    for (int64_t k = 0; k < pr.n; k++) {
        uint32_t a = pr.pre[k];
        int64_t at = pj->row[a] + fill[a]++;
        pj->col[at] = pr.post[k];
        pj->w[at] = (float)o->weight;
        pj->delay[at] = (uint16_t)o->delay;
    }
    free(fill);
    free(pr.pre);
    free(pr.post);
    return 0;
}
