/* chunks.c - how a population's per-neuron arrays lie in memory (nk_lay in
 * internal.h): dense, or spread out into the CPU backend's thread chunks
 * with unused entries between them.
 *
 * Why: when two threads update neighbouring chunks of one array, the first
 * thread's hardware prefetcher runs past the end of its chunk and takes the
 * first lines of the next, which the other thread has just written and
 * writes again in the next step; each such line then costs that thread a
 * miss. On CUBA (2 threads) that was a quarter of the run
 * (scripts/bench/chunk_gap.sh, docs/performance.md). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steps *c to the chunk of layout l holding neuron i; returns the end of
 * the run from i in which l's shift is the same (at most end), the shift
 * in *off. */
static int64_t run_of(const nk_lay *l, int *c, int64_t i, int64_t end, int64_t *off)
{
    *off = 0;
    if (!l->gap)
        return end;
    while (*c < l->nc - 1 && l->cut[*c + 1] <= i)
        ++*c;
    *off = nk_lay_off(l, *c);
    return l->cut[*c + 1] < end ? l->cut[*c + 1] : end;
}

void nk_lay_move(const nk_lay *from, const void *src, const nk_lay *to, void *dst, size_t es,
                 int64_t n)
{
    int cf = 0, ct = 0;
    for (int64_t i = 0; i < n;) {
        int64_t of, ot;
        int64_t end = run_of(to, &ct, i, run_of(from, &cf, i, n, &of), &ot);
        memcpy((char *)dst + (size_t)(i + ot) * es, (const char *)src + (size_t)(i + of) * es,
               (size_t)(end - i) * es);
        i = end;
    }
}

void nk_lay_gather(const nk_lay *l, const void *arr, size_t es, int64_t n, void *dense)
{
    nk_lay d = {0, n, 1, NULL};
    nk_lay_move(l, arr, &d, dense, es, n);
}

void nk_lay_scatter(const nk_lay *l, void *arr, size_t es, int64_t n, const void *dense)
{
    nk_lay d = {0, n, 1, NULL};
    nk_lay_move(&d, dense, l, arr, es, n);
}

static int same_lay(const nk_lay *a, const nk_lay *b)
{
    if (a->gap != b->gap || a->len != b->len)
        return 0;
    if (!a->gap)
        return 1;
    if (a->nc != b->nc)
        return 0;
    for (int c = 0; c <= a->nc; c++)
        if (a->cut[c] != b->cut[c])
            return 0;
    return 1;
}

/* One array to lay out anew: where its pointer is, and its entries. */
typedef struct relay {
    void **at;
    size_t es;
    int slots;               /* ring slots (1 for the other arrays) */
    void *fresh;
} relay;

/* The same chunks and gaps, other cuts: only the neurons whose chunk
 * changed move, within the arrays. Their entries are copied out first, then
 * to their places: a run's new place may be where another run was. The
 * balance of the threads re-cuts this way every few hundred steps, and the
 * next re-cut waits 50 times as long as this one took: with fresh arrays
 * and every row's bounds searched anew (cpu.c, cut_tables) a re-cut of
 * CUBA's population took 120-360 us; the move in place takes 4-10 us. */
static int move_in_place(const nk_lay *from, const nk_lay *to, const relay *a, int m, int64_t n)
{
    int64_t moved = 0;
    int cf = 0, ct = 0;
    for (int64_t i = 0; i < n;) {
        int64_t of, ot;
        int64_t end = run_of(to, &ct, i, run_of(from, &cf, i, n, &of), &ot);
        moved += of != ot ? end - i : 0;
        i = end;
    }
    if (!moved)
        return 0;
    size_t most = 0;
    for (int k = 0; k < m; k++)
        most = a[k].es > most ? a[k].es : most;
    char *tmp = malloc((size_t)moved * most);
    if (!tmp)
        return NK_ENOMEM;
    for (int k = 0; k < m; k++) {
        const size_t es = a[k].es;
        for (int sl = 0; sl < a[k].slots; sl++) {
            char *base = (char *)*a[k].at + (size_t)sl * (size_t)from->len * es;
            for (int pass = 0; pass < 2; pass++) {
                size_t q = 0;
                cf = ct = 0;
                for (int64_t i = 0; i < n;) {
                    int64_t of, ot;
                    int64_t end = run_of(to, &ct, i, run_of(from, &cf, i, n, &of), &ot);
                    if (of != ot) {
                        size_t b = (size_t)(end - i) * es;
                        if (pass == 0)
                            memcpy(tmp + q, base + (size_t)(i + of) * es, b);
                        else
                            memcpy(base + (size_t)(i + ot) * es, tmp + q, b);
                        q += b;
                    }
                    i = end;
                }
            }
        }
    }
    free(tmp);
    return 0;
}

int nk_pop_relayout(nk_net *net, nk_pop *p, int nc, const int64_t *cut, int64_t gap, char *err,
                    size_t errlen)
{
    nk_lay to = {gap, p->n, 1, NULL};
    if (gap > 0) {
        to.nc = nc;
        to.len = p->n + (int64_t)(nc + 1) * gap;
        to.cut = nk_xcalloc((size_t)nc + 1, sizeof *to.cut);
        if (!to.cut) {
            snprintf(err, errlen, "out of memory");
            return NK_ENOMEM;
        }
        memcpy(to.cut, cut, ((size_t)nc + 1) * sizeof *to.cut);
    } else
        to.gap = 0;
    if (same_lay(&p->lay, &to)) {
        free(to.cut);
        return 0;
    }
    int na = p->model->nstates + 1;
    for (int r = 0; r < p->nrx; r++)
        na += p->rx[r].syn->nstates + 1;
    relay *a = nk_xcalloc((size_t)na, sizeof *a);
    if (!a) {
        free(to.cut);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    int m = 0;
    for (int k = 0; k < p->model->nstates; k++)
        a[m++] = (relay){&p->state[k], net->real_size, 1, NULL};
    a[m++] = (relay){(void **)&p->refr, sizeof *p->refr, 1, NULL};
    for (int r = 0; r < p->nrx; r++) {
        nk_receptor *x = &p->rx[r];
        for (int k = 0; k < x->syn->nstates; k++)
            a[m++] = (relay){&x->state[k], net->real_size, 1, NULL};
        if (x->ring)
            a[m++] = (relay){(void **)&x->ring, sizeof *x->ring, net->ring_len, NULL};
    }
    if (p->lay.gap && to.gap == p->lay.gap && to.nc == p->lay.nc && to.len == p->lay.len) {
        int rc = move_in_place(&p->lay, &to, a, m, p->n);
        free(a);
        if (rc) {
            free(to.cut);
            snprintf(err, errlen, "out of memory");
            return rc;
        }
        free(p->lay.cut);
        p->lay = to;
        return 0;
    }
    int ok = 1;
    for (int k = 0; ok && k < m; k++) {
        a[k].fresh = nk_xcalloc64((size_t)to.len * (size_t)a[k].slots, a[k].es);
        ok = a[k].fresh != NULL;
    }
    if (!ok) {
        for (int k = 0; k < m; k++)
            free(a[k].fresh);
        free(a);
        free(to.cut);
        snprintf(err, errlen, "out of memory for the state of population '%s'", p->name);
        return NK_ENOMEM;
    }
    for (int k = 0; k < m; k++) {
        const char *src = *a[k].at;
        char *dst = a[k].fresh;
        for (int s = 0; s < a[k].slots; s++)
            nk_lay_move(&p->lay, src + (size_t)s * (size_t)p->lay.len * a[k].es, &to,
                        dst + (size_t)s * (size_t)to.len * a[k].es, a[k].es, p->n);
        /* monitors hold the arrays they sample */
        for (int q = 0; q < net->nmons; q++)
            for (int v = 0; net->mons[q].varr && v < net->mons[q].nvars; v++)
                if (net->mons[q].varr[v] == *a[k].at)
                    net->mons[q].varr[v] = a[k].fresh;
        free(*a[k].at);
        *a[k].at = a[k].fresh;
    }
    free(a);
    free(p->lay.cut);
    p->lay = to;
    return 0;
}
