/* cpu.c - the CPU backend: generated C kernels loaded with dlopen, ring
 * buffers in host memory, net->threads threads. The order of work in a step
 * is the one written down in backends/backend.h.
 *
 * Threads. Every population's neurons are cut into one contiguous chunk per
 * thread (on 64-neuron boundaries). A step has two kinds of task, one of
 * each per chunk number c: "update chunk c of every population" (the kernel
 * clears the ring slot it reads as it goes and lists the chunk's spikes in
 * the chunk's own part of the population's spike array) and, once every
 * update task is done, "deliver all of this step's spikes to the targets in
 * chunk c of every population", so no two tasks ever add to the same ring
 * entry and no atomic add is needed. Both tasks of a chunk go to the thread
 * that claims the chunk: each thread claims its own chunk first (its data
 * stays in its cache), then any chunk not yet claimed; the calling thread
 * works too, so a worker the system has not yet scheduled holds nobody up.
 * A thread delivers the spikes of a chunk it updated to that chunk before it
 * waits for the others' updates. Each chunk's state in a step is on cache
 * lines that only its thread writes, so waiting for the others costs one
 * transfer per chunk. The calling thread then joins the chunks' spike lists,
 * in neuron order, and records; where it can, it starts the next step
 * before its own delivery, so that a step has one meeting of the threads
 * (see publish). What a task computes does not depend on which thread runs it,
 * random numbers are keyed by neuron and step, and fixed-point sums do not
 * depend on the order of their terms: results are the same bits for any
 * thread count.
 *
 * Workers wait for a step by spinning for a while, then on a condition
 * variable, so an idle session costs no CPU time. */
#include "../../src/internal.h"
#include "../../src/rt/nk_philox.h"
#include "../backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Spins (pause instructions, tens of microseconds in all) before a waiting
 * thread yields the CPU or, between steps, sleeps. */
#define SPIN_WAIT 4000

/* Spins before a thread that has done its own chunk takes another thread's
 * (about 10 us on a Zen 3 VM, where a pause takes 40 ns): long enough that a
 * thread merely finishing the last step's work keeps its chunk and its
 * chunk's data in its cache, short against a thread the system has not
 * scheduled. */
#define STEAL_WAIT 256

/* What one update task found in one step. */
typedef struct tres {
    int rc;                  /* 0, or NK_EDIVERGED */
    int pop;                 /* the lowest population that diverged ... */
    int var;                 /* ... its variable ... */
    int64_t index;           /* ... and its lowest neuron */
} tres;

/* One chunk number's work in a step, on cache lines of its own. The thread
 * that claims chunk c in step generation g (claim: g) updates it and, once
 * every chunk's update is done, delivers to it; udone and ddone then hold g.
 * Claims only move forward, so a thread still on an older step (a worker
 * that woke late) finds nothing to claim. Only the chunk's thread writes
 * the lines in a step. What the update found is kept per step parity
 * (res[g & 1]): a step may start before the calling thread has read the
 * last one's (see publish).
 *
 * What only the claiming thread reads in a step (the claim, its counters)
 * has a pair of lines of its own, apart from the pair the other threads
 * spin on and read (udone, ddone, res): a pair, because x86 prefetchers
 * may fetch a line's neighbour in its 128-byte pair along with it. Were
 * the claim on the spinning threads' lines, every step's claim (a
 * locked compare-and-swap) would wait for the line to come back from their
 * caches: a round trip between the cores, which this project's VM takes
 * 110 ns for in calm spells and 350-400 ns in others (docs/performance.md,
 * item 29). */
typedef struct task {
    _Alignas(128) _Atomic unsigned claim;
    unsigned own;            /* the generation whose delivery of the chunk's */
                             /* own spikes to itself is done (see OWN) */
    uint64_t busy;           /* ticks its update and delivery took since the */
                             /* last look at the balance (see rebalance) */
    int64_t events;          /* synaptic events its deliveries made (profiled */
                             /* runs), read at steps that wait for them all */
    _Alignas(128) _Atomic unsigned udone; /* (_Alignas of a declaration */
    _Atomic unsigned ddone;               /* applies to each of its names) */
    tres res[2];
} task;
_Static_assert(sizeof(task) == 256, "a task is two pairs of cache lines");

/* What a task needs of a population, copied at build into memory that
 * nothing writes during a run: the population's own struct shares cache
 * lines with what the calling thread updates every step (spike counts,
 * recording), and reading those lines from another core costs a transfer
 * each time. */
typedef struct kdesc {
    nk_update_fn update;
    nk_draw_fn draw;         /* the module's nk_draw */
    int64_t n;
    int64_t gap, len;        /* the population's layout (nk_lay): chunk c's */
                             /* entries start (c + 1) x gap further on */
    void **ck;               /* per chunk: the kernel's state arrays, shifted */
    int ns;                  /* ... ns of them */
    const double *kparam;
    const void *iext;        /* NULL: the kernel was built not to read one */
    int64_t *refr;
    int64_t *spk[2];         /* the chunks' spike lists, laid out likewise, */
                             /* one per step parity (with one thread and no */
                             /* gaps, both are the population's own list) */
    int own_spk;             /* spk[] are the pool's */
    int64_t **ring;          /* per receptor */
    int32_t refr_steps;
    int nrx;
} kdesc;

typedef struct cpu_pool {
    nk_net *net;
    kdesc *kd;               /* per population (64-byte aligned) */
    void *kd_mem;
    double dt;               /* the network's, copied (see kdesc) */
    uint64_t seed;
    int ring_len;
    nk_proj *projs;
    int nt;                  /* threads, the calling one included; also chunks */
    pthread_t *th;
    int started;             /* workers running */
    /* per population: chunk bounds (npops x (nt + 1)), and spikes per chunk
     * and step parity */
    int64_t *cut;
    int64_t *nspk;
    int npops;
    /* per projection whose rows are sorted by target, where each row's part
     * for each chunk lies. part (long rows): as edge indices, row a's part
     * for chunk t is [part[a * pstride + t], part[a * pstride + t + 1]), so
     * that a thread finds it with one scattered read. split (short rows,
     * where part would take more than a tenth of the edges' memory): where
     * the parts for chunks 1..nt-1 start, as offsets into the row (npre x
     * (nt - 1)). */
    int64_t **part;
    int32_t **split;
    unsigned char *sorted;   /* per projection: its rows are sorted by target */
    int pstride;
    int nprojs;
    task *tasks;             /* per chunk (64-byte aligned) */
    void *tasks_mem;
    int nstride;             /* nspk is [parity][chunk][population], rows */
                             /* of nstride */
    int ahead_never;         /* this run's steps all start on the calling */
                             /* thread alone (see may_publish) */
    int64_t bal_from;        /* the step the chunks' busy times count from */
    uint64_t bal_after;      /* no re-cut before this tick (see rebalance) */
    int recut_test;          /* NKSHELL_RECUT: re-cut every this many steps */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Everything above is written at build only; what changes every step
     * starts on a cache line of its own, so that writing it does not take
     * the lines above away from the other threads' caches. What only the
     * calling thread reads and writes comes first, apart from the line the
     * workers spin on. */
    _Alignas(64) int64_t *ev_seen; /* per chunk: its events counted so far */
    uint64_t serial_from;    /* when the calling thread's own work between */
                             /* an early-published step and its share began */
    uint64_t serial;         /* ticks of that work since the last look at the */
                             /* balance, counted as chunk 0's (see rebalance) */
    /* The step of each of the last four generations (gstep[gen & 3]). */
    _Alignas(64) int64_t gstep[4];
    /* A step is generation gen (tasks carry it too, see task). */
    _Atomic unsigned gen;
    _Atomic int sleepers;
    _Atomic int counted;     /* workers started */
    _Atomic unsigned bad_gen;/* the generation whose update diverged */
    _Atomic int quit;
} cpu_pool;

static int cpu_available(char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return 0;
}

/* ---- the pool ------------------------------------------------------------ */

static void *worker_main(void *arg);

typedef struct warg {
    cpu_pool *P;
    int id;
} warg;

static void pool_stop(cpu_pool *P)
{
    if (!P)
        return;
    if (P->started) {
        pthread_mutex_lock(&P->mu);
        atomic_store(&P->quit, 1);
        atomic_fetch_add(&P->gen, 1);
        pthread_cond_broadcast(&P->cv);
        pthread_mutex_unlock(&P->mu);
        for (int t = 1; t < P->nt; t++)
            pthread_join(P->th[t], NULL);
    }
    pthread_mutex_destroy(&P->mu);
    pthread_cond_destroy(&P->cv);
    free(P->th);
    free(P->cut);
    free(P->nspk);
    for (int k = 0; k < P->nprojs; k++) {
        if (P->part)
            free(P->part[k]);
        if (P->split)
            free(P->split[k]);
    }
    free(P->part);
    free(P->split);
    free(P->sorted);
    if (P->kd)
        for (int k = 0; k < P->npops; k++) {
            free(P->kd[k].ring);
            free(P->kd[k].ck);
            if (P->kd[k].own_spk)
                for (int q = 0; q < 2; q++)
                    free(P->kd[k].spk[q]);
        }
    free(P->kd_mem);
    free(P->tasks_mem);
    free(P->ev_seen);
    free(P);
}

static cpu_pool *pool_new(nk_net *net, int nt, char *err, size_t errlen)
{
    cpu_pool *P = nk_xcalloc64(1, sizeof *P);
    if (!P) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    P->net = net;
    P->nt = nt;
    pthread_mutex_init(&P->mu, NULL);
    pthread_cond_init(&P->cv, NULL);
    P->th = nk_xcalloc((size_t)nt, sizeof *P->th);
    P->tasks_mem = nk_xcalloc((size_t)nt + 1, sizeof *P->tasks);
    P->ev_seen = nk_xcalloc((size_t)nt, sizeof *P->ev_seen);
    if (P->tasks_mem)
        P->tasks = (task *)(((uintptr_t)P->tasks_mem + 127) & ~(uintptr_t)127);
    warg *wa = nk_xcalloc((size_t)nt, sizeof *wa);
    if (!P->th || !P->tasks_mem || !P->ev_seen || !wa) {
        free(wa);
        pool_stop(P);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (int t = 1; t < nt; t++) {
        wa[t].P = P;
        wa[t].id = t;
    }
    P->started = 1;
    for (int t = 1; t < nt; t++) {
        int rc = pthread_create(&P->th[t], NULL, worker_main, &wa[t]);
        if (rc) {
            P->nt = t; /* join the ones that started */
            pool_stop(P);
            free(wa);
            snprintf(err, errlen, "cannot start CPU worker thread %d: %s", t, strerror(rc));
            return NULL;
        }
    }
    /* Each worker copies its argument, then counts in. */
    while (atomic_load(&P->counted) < nt - 1)
        sched_yield();
    free(wa);
    return P;
}

/* A cheap clock for the balance of the threads: the time-stamp counter
 * where there is one (a constant rate on the CPUs of this decade), else
 * nanoseconds. Only ratios of its readings are used. */
static inline uint64_t ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* Whether generation a comes before b (generations wrap around). */
static inline int gen_before(unsigned a, unsigned b)
{
    return (int)(a - b) < 0;
}

static void update_part(cpu_pool *P, int t, unsigned gen);
static void deliver_part(cpu_pool *P, int t, int tid, unsigned gen, int what);

/* What a delivery task delivers to its chunk t: all of the step's spikes
 * and graded values, only the spikes of chunk t itself (OWN), or the rest
 * (REST). The thread that updates a chunk delivers the chunk's own spikes
 * to it at once, before it waits for the other chunks' updates: nobody
 * else adds to that chunk in a step, and what was a wait at the meeting
 * becomes part of the delivery (graded values need every chunk's states,
 * so they wait). UNDO takes an OWN delivery back when the step diverged:
 * each add subtracted, which the fixed-point sums undo exactly. */
enum { ALL, OWN, REST, UNDO };

/* The update phase of generation gen for thread tid: it claims and updates
 * its own chunk, then waits until every chunk's update is done, updating
 * any chunk nobody has claimed yet (a worker the system has not scheduled
 * holds nobody up). The chunks it updated go into mine. Returns how many,
 * or -1 when the pool stops. */
static int share_update(cpu_pool *P, unsigned gen, int tid, int *mine)
{
    int nm = 0;
    for (int k = 0; k < P->nt; k++) {
        int u = (tid + k) % P->nt;
        task *T = &P->tasks[u];
        for (long w = 0;; w++) {
            unsigned ud = atomic_load_explicit(&T->udone, memory_order_acquire);
            if (!gen_before(ud, gen))
                break;
            /* A step published early (see publish) may find the last
             * step's delivery to this chunk still going on, by the thread
             * that updated it then (ddone follows udone once it is done,
             * or never when that step diverged): the update reads and
             * clears what that delivery adds, so it waits for it. */
            int delivering = atomic_load_explicit(&T->ddone, memory_order_acquire) != ud &&
                             atomic_load_explicit(&P->bad_gen, memory_order_relaxed) != ud;
            unsigned c;
            if (!delivering && (k == 0 || w >= STEAL_WAIT) &&
                gen_before(c = atomic_load_explicit(&T->claim, memory_order_relaxed), gen) &&
                atomic_compare_exchange_strong_explicit(&T->claim, &c, gen, memory_order_acq_rel,
                                                        memory_order_relaxed)) {
                uint64_t k0 = ticks();
                update_part(P, u, gen);
                if (!T->res[gen & 1].rc) {
                    deliver_part(P, u, tid, gen, OWN);
                    T->own = gen;
                }
                T->busy += ticks() - k0;
                atomic_store_explicit(&T->udone, gen, memory_order_release);
                mine[nm++] = u;
                break;
            }
            if (atomic_load_explicit(&P->quit, memory_order_relaxed))
                return -1;
            if (w < SPIN_WAIT)
                cpu_relax();
            else
                sched_yield();
        }
    }
    return nm;
}

/* ---- one thread's share of a step --------------------------------------- */

/* Update task t of generation gen: chunk t of every population. */
static void update_part(cpu_pool *P, int t, unsigned gen)
{
    const nk_net *net = P->net;
    const int par = gen & 1;
    int64_t s = P->gstep[gen & 3];
    double time = (double)s * P->dt;
    tres *r = &P->tasks[t].res[par];
    r->rc = 0;
    for (int k = 0; k < P->npops; k++) {
        const kdesc *d = &P->kd[k];
        int64_t lo = P->cut[k * (P->nt + 1) + t], hi = P->cut[k * (P->nt + 1) + t + 1];
        int64_t ns = 0;
        if (lo < hi) {
            int64_t off = (int64_t)(t + 1) * d->gap; /* where the chunk's entries are */
            int64_t *rx[d->nrx + 1];
            for (int q = 0; q < d->nrx; q++)
                rx[q] = d->ring[q] + (size_t)(s % P->ring_len) * (size_t)d->len + off;
            /* 1. the drawn sources' input to this chunk (the rest came
             * from nk_sources_apply before the step's tasks) */
            for (int j = 0; j < net->nsrcs; j++) {
                const nk_source *src = &net->srcs[j];
                if (!nk_source_drawn(src) || !nk_source_on(net, src, s))
                    continue;
                for (int q = 0; q < src->nparts; q++)
                    if (src->parts[q].pop == k)
                        nk_source_draw(net, j, q, s, lo, hi, rx[src->parts[q].rx], d->draw);
            }
            nk_kargs a = {
                .n = d->n, .step = s, .t = time, .dt = P->dt, .seed = P->seed,
                .stream = NK_STREAM_MODEL + (uint32_t)k,
                .refr_steps = d->refr_steps,
                .state = d->ck + (size_t)t * (size_t)d->ns, .param = d->kparam, .rx_in = rx,
                .i_ext = d->iext, .refr = d->refr + off,
                .bad_index = -1, .bad_var = -1,
            };
            if (d->update(&a, lo, hi, d->spk[par] + off + lo, &ns) && !r->rc) {
                r->rc = NK_EDIVERGED;
                r->pop = k;
                r->index = a.bad_index;
                r->var = a.bad_var;
                atomic_store(&P->bad_gen, gen);
            }
        }
        P->nspk[(par * P->nt + t) * P->nstride + k] = ns;
    }
}

/* First edge of row [e0, e1) whose target is >= c (rows sorted by target). */
static int64_t lower_bound(const uint32_t *col, int64_t e0, int64_t e1, int64_t c)
{
    while (e0 < e1) {
        int64_t m = e0 + (e1 - e0) / 2;
        if ((int64_t)col[m] < c)
            e0 = m + 1;
        else
            e1 = m;
    }
    return e0;
}

/* Adds weight x value of edges [e0, e1) of pj (whole: all of them; else
 * those whose targets lie in [c0, c1)). g is 1 for a spike, which keeps
 * every term in the fixed-point range; a graded value can be anything, and
 * its terms are clamped to the range (graded). uni: a spike, and every
 * edge's weight is the one whose Q32.32 value is wu, so that no weight is
 * read or converted (COBA, one thread: delivery 0.068 -> 0.048 s per 5 s,
 * docs/performance.md item 21). */
static inline void add_row(const nk_proj *pj, int64_t e0, int64_t e1, int64_t c0, int64_t c1,
                           int64_t *ring, size_t n, int64_t s, int L, double g, int whole,
                           int graded, int uni, int64_t wu)
{
    const uint32_t *col = pj->col;
    const float *w = pj->w;
    if (graded) {
        int base = (int)(s % L);
        for (int64_t e = e0; e < e1; e++) {
            if (!whole && (col[e] < c0 || col[e] >= c1))
                continue;
            int slot = base + (pj->udelay ? pj->udelay : pj->delay[e]);
            if (slot >= L)
                slot -= L;
            int64_t *d = ring + (size_t)slot * n + col[e];
            *d = nk_fix_add(*d, nk_fix_from_any((double)w[e] * g));
        }
        return;
    }
    if (pj->udelay) {
        int64_t *dst = ring + (size_t)((s + pj->udelay) % L) * n;
        if (whole) {
            /* the targets are scattered: ask for their lines ahead */
            int64_t e = e0;
            for (; e + 16 < e1; e++) {
                __builtin_prefetch(dst + col[e + 16], 1, 3);
                dst[col[e]] = nk_fix_add(dst[col[e]], (uni ? wu : nk_fix_from((double)w[e] * g)));
            }
            for (; e < e1; e++)
                dst[col[e]] = nk_fix_add(dst[col[e]], (uni ? wu : nk_fix_from((double)w[e] * g)));
        }
        else
            for (int64_t e = e0; e < e1; e++)
                if (col[e] >= c0 && col[e] < c1)
                    dst[col[e]] = nk_fix_add(dst[col[e]], (uni ? wu : nk_fix_from((double)w[e] * g)));
        return;
    }
    int base = (int)(s % L);
    for (int64_t e = e0; e < e1; e++) {
        if (!whole && (col[e] < c0 || col[e] >= c1))
            continue;
        int slot = base + pj->delay[e];
        if (slot >= L)
            slot -= L;
        int64_t *d = ring + (size_t)slot * n + col[e];
        *d = nk_fix_add(*d, (uni ? wu : nk_fix_from((double)w[e] * g)));
    }
}

/* How many of edges [e0, e1) have their target in [c0, c1). */
static int64_t count_in(const uint32_t *col, int64_t e0, int64_t e1, int64_t c0, int64_t c1)
{
    int64_t m = 0;
    for (int64_t e = e0; e < e1; e++)
        m += col[e] >= c0 && col[e] < c1;
    return m;
}

/* How far ahead delivery asks for a row (PF1 spikes) and for its bounds
 * (PF2): chosen on the fly-scale network, where
 * two-thread delivery went from 3.0 to 2.6-2.7 s per 300 ms (1, 2: 3.2 s;
 * 4, 8: 2.7-2.8 s; 8, 16: 2.7-2.9 s). */
#define PF1 6
#define PF2 12

/* Row a's part for chunk t, [*e0, *e1): from the part table sp, the split
 * table so, or (neither) the whole row. */
static inline void part_of(const nk_proj *pj, const int64_t *sp, const int32_t *so, int S, int nt,
                           int t, int64_t a, int64_t *e0, int64_t *e1)
{
    if (sp) {
        *e0 = sp[a * S + t];
        *e1 = sp[a * S + t + 1];
        return;
    }
    int64_t b = pj->row[a];
    *e0 = b;
    *e1 = pj->row[a + 1];
    if (so) {
        if (t < nt - 1)
            *e1 = b + so[a * (nt - 1) + t];
        if (t > 0)
            *e0 = b + so[a * (nt - 1) + t - 1];
    }
}

/* Deliver task t of generation gen: every spike of the step (what: ALL,
 * OWN or REST) to the targets in chunk t of every population; graded
 * values go through thread tid's buffer. */
static void deliver_part(cpu_pool *P, int t, int tid, unsigned gen, int what)
{
    nk_net *net = P->net;
    const int par = gen & 1;
    int64_t s = P->gstep[gen & 3];
    int L = P->ring_len, nt = P->nt;
    /* a profiled run's events, counted here where the rows are read anyway
     * (nk_count_events reading every spike's row again cost fly-scale's
     * profiled run 0.17 s per 300 ms) */
    const int counting = net->profiling;
    const double g = what == UNDO ? -1.0 : 1.0; /* a spike's sign */
    int64_t ev = 0;
    for (int k = 0; k < P->nprojs; k++) {
        nk_proj *pj = &P->projs[k];
        int pre_i = pj->pre.pop, post_i = pj->post.pop;
        const kdesc *pre = &P->kd[pre_i];
        const kdesc *post = &P->kd[post_i];
        /* chunk t's targets, where their entries are */
        int64_t *ring = post->ring[pj->rx] + (t + 1) * post->gap;
        size_t n = (size_t)post->len;
        int64_t c0 = P->cut[post_i * (nt + 1) + t], c1 = P->cut[post_i * (nt + 1) + t + 1];
        if (c0 >= c1)
            continue;
        /* Each row's part for this chunk: all of it with one thread, from
         * the part or split table when rows are sorted, else filtered edge
         * by edge. */
        const int64_t *sp = P->part ? P->part[k] : NULL;
        const int32_t *so = P->split ? P->split[k] : NULL;
        const int S = P->pstride;
        int whole = nt == 1 || sp || so;
        if (pj->graded) {
            if (what == OWN || what == UNDO)
                continue;
            /* Every connection sends weight x the graded value of its
             * presynaptic neuron's state after this step's update. Each
             * thread computes the values into its own buffer. */
            nk_receptor *x = &net->pops[post_i].rx[pj->rx];
            int64_t npre = pj->pre.hi - pj->pre.lo;
            double *g = pj->gbuf + (size_t)tid * (size_t)(npre + 1);
            for (int u = 0; u < nt; u++) { /* the presynaptic chunks' states */
                int64_t j0 = P->cut[pre_i * (nt + 1) + u], j1 = P->cut[pre_i * (nt + 1) + u + 1];
                j0 = j0 > pj->pre.lo ? j0 : pj->pre.lo;
                j1 = j1 < pj->pre.hi ? j1 : pj->pre.hi;
                if (j0 < j1)
                    pj->graded(pre->ck + (size_t)u * (size_t)pre->ns, x->param, j0, j1,
                               g + (j0 - pj->pre.lo));
            }
            for (int64_t a = 0; a < npre; a++) {
                if (g[a] == 0)
                    continue;
                int64_t e0, e1;
                part_of(pj, sp, so, S, nt, t, a, &e0, &e1);
                add_row(pj, e0, e1, c0, c1, ring, n, s, L, g[a], whole, 1, 0, 0);
            }
            continue; /* graded events: counted by nk_count_events */
        }
        const int uni = pj->uweight;
        const int64_t wu = what == UNDO ? (int64_t)(0 - (uint64_t)pj->uwfix) : pj->uwfix;
        for (int u = 0; u < nt; u++) {
            if (((what == OWN || what == UNDO) && u != t) || (what == REST && u == t))
                continue;
            const int64_t *spk =
                pre->spk[par] + (u + 1) * pre->gap + P->cut[pre_i * (nt + 1) + u];
            int64_t m = P->nspk[(par * nt + u) * P->nstride + pre_i];
            for (int64_t q = 0; q < m; q++) {
                int64_t i = spk[q];
                /* Rows are scattered: ask for the bounds of the row (or
                 * its part) of the spike PF2 ahead, and for the row of the
                 * spike PF1 ahead, while this one is delivered. */
                if (q + PF2 < m && spk[q + PF2] >= pj->pre.lo && spk[q + PF2] < pj->pre.hi) {
                    int64_t a2 = spk[q + PF2] - pj->pre.lo;
                    __builtin_prefetch(sp ? sp + a2 * S + t : pj->row + a2, 0, 3);
                    if (so)
                        __builtin_prefetch(so + a2 * (nt - 1), 0, 3);
                }
                if (q + PF1 < m && spk[q + PF1] >= pj->pre.lo && spk[q + PF1] < pj->pre.hi) {
                    int64_t a1 = spk[q + PF1] - pj->pre.lo;
                    int64_t r1, r2;
                    part_of(pj, sp, so, S, nt, t, a1, &r1, &r2);
                    /* the part, non-temporal: a row is read once a step,
                     * and kept out of the way it leaves the cache to the
                     * ring slot the adds go to (fly-scale, two threads:
                     * delivery 2.80 -> 2.34 s per 300 ms; with ordinary
                     * prefetches 2.49 s). At most 256 edges (2 KB): the
                     * hardware prefetcher takes a long row's rest, and six
                     * long rows asked for whole would not fit in L1. */
                    if (r2 - r1 > 256)
                        r2 = r1 + 256;
                    for (int64_t r = r1; r < r2; r += 16) {
                        __builtin_prefetch(pj->col + r, 0, 0);
                        if (!uni)
                            __builtin_prefetch(pj->w + r, 0, 0);
                    }
                }
                if (i < pj->pre.lo || i >= pj->pre.hi)
                    continue;
                int64_t a = i - pj->pre.lo;
                int64_t e0, e1;
                part_of(pj, sp, so, S, nt, t, a, &e0, &e1);
                if (uni) /* two copies of add_row, each with its own loops */
                    add_row(pj, e0, e1, c0, c1, ring, n, s, L, 1.0, whole, 0, 1, wu);
                else
                    add_row(pj, e0, e1, c0, c1, ring, n, s, L, g, whole, 0, 0, 0);
                if (counting)
                    ev += whole ? e1 - e0 : count_in(pj->col, e0, e1, c0, c1);
            }
        }
    }
    P->tasks[t].events += what == UNDO ? -ev : ev;
}

/* Delivery of generation gen to the chunks in mine (nm of them). */
static void deliver_mine(cpu_pool *P, unsigned gen, int tid, const int *mine, int nm)
{
    for (int j = 0; j < nm; j++) {
        uint64_t k0 = ticks();
        deliver_part(P, mine[j], tid, gen, P->tasks[mine[j]].own == gen ? REST : ALL);
        P->tasks[mine[j]].busy += ticks() - k0;
        atomic_store_explicit(&P->tasks[mine[j]].ddone, gen, memory_order_release);
    }
}

/* Worker tid's share of step generation gen: the update phase, then, when
 * no update diverged, delivery to the chunks it updated (cpu_step has the
 * calling thread's). */
static void run_share(cpu_pool *P, unsigned gen, int tid)
{
    int mine[P->nt];
    int nm = share_update(P, gen, tid, mine);
    if (nm < 0 || atomic_load(&P->bad_gen) == gen)
        return;
    deliver_mine(P, gen, tid, mine, nm);
}

static void *worker_main(void *arg)
{
    warg w = *(warg *)arg;
    cpu_pool *P = w.P;
    unsigned seen = atomic_load(&P->gen);
    atomic_fetch_add(&P->counted, 1); /* argument copied */
    for (;;) {
        for (long k = 0; atomic_load(&P->gen) == seen; k++) {
            if (k < SPIN_WAIT) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&P->mu);
            atomic_fetch_add(&P->sleepers, 1);
            while (atomic_load(&P->gen) == seen)
                pthread_cond_wait(&P->cv, &P->mu);
            atomic_fetch_sub(&P->sleepers, 1);
            pthread_mutex_unlock(&P->mu);
            break;
        }
        seen = atomic_load(&P->gen);
        if (atomic_load(&P->quit))
            return NULL;
        run_share(P, seen, w.id);
    }
}

/* ---- building ------------------------------------------------------------ */

static void release_pop(nk_pop *p)
{
    if (p->dl)
        dlclose(p->dl);
    p->dl = NULL;
    p->update = NULL;
    free(p->code);
    p->code = NULL;
    p->code_dup = 0;
    free(p->kstate);
    p->kstate = NULL;
    free(p->kparam);
    p->kparam = NULL;
    free(p->kextra);
    p->kextra = NULL;
    p->nkextra = 0;
}

static void cpu_release(nk_net *net)
{
    pool_stop(net->bk);
    net->bk = NULL;
    net->bk_bytes = 0;
    for (int k = 0; k < net->nprojs; k++) {
        free(net->projs[k].gbuf);
        net->projs[k].gbuf = NULL;
        net->projs[k].graded = NULL;
    }
    for (int k = 0; k < net->npops; k++)
        release_pop(&net->pops[k]);
}

/* The population's C: its kernel and the equation sources on it. */
static int gen_pop(nk_net *net, nk_pop *p, int pi, char *err, size_t errlen)
{
    release_pop(p);
    int rc;
    p->refr_steps = nk_refractory_steps(net, p, err, errlen, &rc);
    if (rc)
        return rc;
    double t0 = nk_now();
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
    net->prof_build[NK_PROFB_CODEGEN] += nk_now() - t0;
    return 0;
}

/* A hash of a text, eight bytes at a time. */
static uint64_t text_hash(const char *s, size_t len)
{
    uint64_t h = len * 0x9e3779b97f4a7c15ull;
    size_t k = 0;
    for (; k + 8 <= len; k += 8) {
        uint64_t w;
        memcpy(&w, s + k, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    for (; k < len; k++)
        h = (h ^ (unsigned char)s[k]) * 0x100000001b3ull;
    return h ^ (h >> 32);
}

/* Populations whose text equals an earlier one's (the same model, options
 * and receptors; a connectome may have tens of thousands of such) keep no
 * copy of it (code_dup), and share its module: a text is 50 kB, and hashing
 * each for the code cache took most of the build of 2,000 populations. */
static int share_codes(nk_net *net)
{
    size_t cap = 64;
    while (cap < 2 * (size_t)net->npops)
        cap *= 2;
    int *slot = nk_xcalloc(cap, sizeof *slot);
    uint64_t *hs = nk_xcalloc((size_t)net->npops + 1, sizeof *hs);
    size_t *lens = nk_xcalloc((size_t)net->npops + 1, sizeof *lens);
    if (!slot || !hs || !lens) {
        free(slot);
        free(hs);
        free(lens);
        return -1;
    }
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        lens[k] = strlen(p->code);
        hs[k] = text_hash(p->code, lens[k]);
        size_t i = (size_t)hs[k] & (cap - 1);
        for (; slot[i]; i = (i + 1) & (cap - 1)) {
            int j = slot[i] - 1;
            if (hs[j] == hs[k] && lens[j] == lens[k] && !memcmp(net->pops[j].code, p->code, lens[k]))
                break;
        }
        if (slot[i]) {
            free(p->code);
            p->code = NULL;
            p->code_dup = slot[i];
        } else {
            slot[i] = k + 1;
        }
    }
    free(slot);
    free(hs);
    free(lens);
    return 0;
}

/* Loads the population's compiled code and sets up what its kernel sees. */
static int load_pop(nk_net *net, nk_pop *p, int pi, int nt, char *err, size_t errlen)
{
    double t1 = nk_now();
    int rc = 0;
    if (p->code_dup) {
        /* the module of the population with the same text, opened again
         * (counted by the loader, so each population closes its own) */
        const nk_pop *q = &net->pops[p->code_dup - 1];
        Dl_info di;
        void *sym;
        memcpy(&sym, &q->update, sizeof sym);
        p->dl = dladdr(sym, &di) && di.dli_fname ? dlopen(di.dli_fname, RTLD_NOW | RTLD_LOCAL)
                                                 : NULL;
        p->update = q->update;
        if (!p->dl) {
            const char *why = dlerror();
            snprintf(err, errlen, "cannot load the generated code of '%s' again: %s", q->name,
                     why ? why : "no file");
            rc = NK_ECOMPILE;
        }
    } else {
        rc = nk_jit_load(p->code, &p->dl, &p->update, err, errlen);
    }
    net->prof_build[NK_PROFB_COMPILE] += nk_now() - t1;
    if (rc)
        return rc;
    if ((rc = nk_bind_eqsrc(net, pi, p->dl, err, errlen)))
        return rc;
    int ns = p->model->nstates, np = p->model->nparams;
    for (int r = 0; r < p->nrx; r++) {
        ns += p->rx[r].syn->nstates;
        np += p->rx[r].syn->nparams;
    }
    /* the kernel's state arrays are filled in by view_pop (build_pool) */
    p->kstate = nk_xcalloc((size_t)ns, sizeof *p->kstate);
    p->kparam = nk_xcalloc((size_t)np + (size_t)p->nkextra + 1, sizeof *p->kparam);
    if (!p->kstate || !p->kparam) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    int q = 0;
    for (int k = 0; k < p->model->nparams; k++)
        p->kparam[q++] = p->param[k];
    for (int r = 0; r < p->nrx; r++)
        for (int k = 0; k < p->rx[r].syn->nparams; k++)
            p->kparam[q++] = p->rx[r].param[k];
    for (int k = 0; k < p->nkextra; k++)
        p->kparam[q++] = p->kextra[k];
    /* Graded projections onto this population: their functions live here,
     * with one value buffer per thread. */
    for (int k = 0; k < net->nprojs; k++) {
        nk_proj *pj = &net->projs[k];
        if (pj->post.pop != pi || !p->rx[pj->rx].syn->graded)
            continue;
        char sym[64];
        snprintf(sym, sizeof sym, "nk_graded_%d", k);
        *(void **)&pj->graded = dlsym(p->dl, sym);
        int64_t npre = pj->pre.hi - pj->pre.lo;
        free(pj->gbuf);
        pj->gbuf = nk_xcalloc((size_t)nt * (size_t)(npre + 1), sizeof *pj->gbuf);
        if (!pj->graded || !pj->gbuf) {
            snprintf(err, errlen, "generated code for '%s' lacks %s (or out of memory)", p->name,
                     sym);
            return NK_ECOMPILE;
        }
    }
    return 0;
}

/* How many times a neuron's step evaluates its equations: the method's
 * stages times the sub-steps (the model's or a receptor's max_dt below dt).
 * rk45 counts its six stages once, though it may take more steps. */
static double step_evals(const nk_net *net, const nk_pop *p)
{
    double max_dt = p->model->max_dt;
    for (int r = 0; r < p->nrx; r++) {
        const double md = p->rx[r].syn->max_dt;
        if (md > 0 && (max_dt == 0 || md < max_dt))
            max_dt = md;
    }
    static const struct {
        const char *name;
        int stages;
    } st[] = {{"midpoint", 2}, {"heun", 2}, {"rk4", 4}, {"rk45", 6}};
    int stages = 1; /* euler, exponential_euler, exact */
    for (size_t k = 0; k < sizeof st / sizeof *st; k++)
        if (p->method && !strcmp(p->method, st[k].name))
            stages = st[k].stages;
    return stages * nk_substeps(net->dt, max_dt);
}

/* The threads a network gets: the number asked for, but no more than one
 * per 64 neurons (chunks are cut on 64-neuron boundaries); when none was
 * asked for (one per CPU), no more than one per 1024 evaluations of the
 * neurons' equations a step (step_evals): below that, waiting for each
 * other costs more than the work saves. A network of 2,048 LIF neurons
 * (one evaluation each) may have two threads, one of 1,000 HH neurons (rk4,
 * ten sub-steps: 40 evaluations each) up to 16, one per 64 neurons: on the
 * 2-core development machine, 50 ms of those 1,000 HH neurons took 0.38 s
 * on the one thread they had before and 0.21 s on two. */
static int threads_for(nk_net *net)
{
    int64_t neurons = 0;
    double evals = 0;
    for (int k = 0; k < net->npops; k++) {
        neurons += net->pops[k].n;
        evals += (double)net->pops[k].n * step_evals(net, &net->pops[k]);
    }
    int64_t most = (neurons + 63) / 64;
    if (net->threads == 0 && evals / 1024 < (double)most)
        most = (int64_t)(evals / 1024);
    if (most < 1)
        most = 1;
    int nt = nk_net_threads(net);
    return nt < most ? nt : (int)most;
}

/* Population k's arrays as the kernel and the tasks see them: after the
 * build, and again after rebalance has laid them out anew. */
static void view_pop(nk_net *net, cpu_pool *P, int k)
{
    nk_pop *p = &net->pops[k];
    kdesc *d = &P->kd[k];
    int s = 0;
    for (int v = 0; v < p->model->nstates; v++)
        p->kstate[s++] = p->state[v];
    for (int r = 0; r < p->nrx; r++)
        for (int v = 0; v < p->rx[r].syn->nstates; v++)
            p->kstate[s++] = p->rx[r].state[v];
    d->refr = p->refr;
    for (int t = 0; t < P->nt; t++)
        for (int v = 0; v < d->ns; v++)
            d->ck[t * d->ns + v] = (char *)p->kstate[v] +
                                   (size_t)((t + 1) * d->gap) * net->real_size;
    for (int r = 0; r < p->nrx; r++)
        d->ring[r] = p->rx[r].ring;
}

/* Where each row of projection k whose rows are sorted by target starts its
 * part for each chunk of its targets (P->part or P->split; neither when the
 * rows are not sorted, or when there is no memory for one: each thread then
 * picks its targets out of every row). bk_bytes counts them. */
static void cut_tables(nk_net *net, cpu_pool *P, int k)
{
    nk_proj *pj = &net->projs[k];
    const int nt = P->nt;
    const int64_t npre = pj->pre.hi - pj->pre.lo;
    if (P->split[k] || P->part[k]) {
        /* Cut anew (rebalance): each bound moves from where it was, a few
         * edges at most, reading one line of each row where a binary
         * search from scratch read several, one after the other (CUBA's
         * re-cut: 100-160 us, most of it here). */
        const int64_t *cut = P->cut + pj->post.pop * (nt + 1);
        const uint32_t *col = pj->col;
        int32_t *so = P->split[k];
        int64_t *sp = P->part[k];
        const int S = P->pstride;
        for (int64_t a = 0; a < npre; a++) {
            const int64_t e0 = pj->row[a], e1 = pj->row[a + 1];
            if (a + 8 < npre) /* the rows are scattered in the cache, if there */
                __builtin_prefetch(col + (so ? pj->row[a + 8] + so[(a + 8) * (nt - 1)]
                                             : sp[(a + 8) * S + 1]));
            for (int t = 1; t < nt; t++) {
                int64_t x = so ? e0 + so[a * (nt - 1) + t - 1] : sp[a * S + t];
                const int64_t c = cut[t];
                while (x < e1 && (int64_t)col[x] < c)
                    x++;
                while (x > e0 && (int64_t)col[x - 1] >= c)
                    x--;
                if (so)
                    so[a * (nt - 1) + t - 1] = (int32_t)(x - e0);
                else
                    sp[a * S + t] = x;
            }
        }
        return;
    }
    if (nt < 2 || !P->sorted[k])
        return;
    const int64_t *cut = P->cut + pj->post.pop * (nt + 1);
    /* the part table's 8 x pstride bytes per row against the edges' 10
     * bytes each: at most a tenth of them, else the split table's 4 x
     * (nt - 1) (a one-to-one projection would otherwise triple) */
    if (pj->nsyn < (int64_t)8 * P->pstride * npre) {
        int32_t *so = nk_xcalloc64((size_t)npre * (size_t)(nt - 1) + 1, sizeof *so);
        if (!so)
            return;
        for (int64_t a = 0; a < npre; a++)
            for (int t = 1; t < nt; t++)
                so[a * (nt - 1) + t - 1] =
                    (int32_t)(lower_bound(pj->col, pj->row[a], pj->row[a + 1], cut[t]) -
                              pj->row[a]);
        P->split[k] = so;
        net->bk_bytes += npre * (nt - 1) * (int64_t)sizeof *so;
        return;
    }
    const int S = P->pstride;
    int64_t *sp = nk_xcalloc64((size_t)npre * (size_t)S + 1, sizeof *sp);
    if (!sp)
        return;
    for (int64_t a = 0; a < npre; a++) {
        sp[a * S] = pj->row[a];
        for (int t = 1; t < nt; t++)
            sp[a * S + t] = lower_bound(pj->col, pj->row[a], pj->row[a + 1], cut[t]);
        sp[a * S + nt] = pj->row[a + 1];
    }
    P->part[k] = sp;
    net->bk_bytes += npre * S * (int64_t)sizeof *sp;
}

/* Takes cut (chunk_cuts) whatever happens. */
static int build_pool(nk_net *net, int nt, int64_t *cut, char *err, size_t errlen)
{
    cpu_pool *P = pool_new(net, nt, err, errlen);
    if (!P) {
        free(cut);
        return NK_ENOMEM;
    }
    net->bk = P;
    net->bk_bytes = 0;
    P->cut = cut;
    P->npops = net->npops;
    P->nprojs = net->nprojs;
    if (P->projs != net->projs)
        P->projs = net->projs;
    P->dt = net->dt;
    P->bal_from = net->step;
    const char *rt = getenv("NKSHELL_RECUT");
    if (rt && *rt) {
        char *end;
        long v = strtol(rt, &end, 10);
        if (*end || v < 1 || v > 1000000) {
            snprintf(err, errlen, "NKSHELL_RECUT: expected a number of steps from 1 to 1000000, "
                                  "got '%s'", rt);
            return NK_EINVAL;
        }
        P->recut_test = (int)v;
    }
    P->seed = net->seed;
    P->ring_len = net->ring_len;
    P->kd_mem = nk_xcalloc((size_t)net->npops + 1, sizeof *P->kd + 64);
    if (!P->kd_mem) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    P->kd = (kdesc *)(((uintptr_t)P->kd_mem + 63) & ~(uintptr_t)63);
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        kdesc *d = &P->kd[k];
        d->update = p->update;
        *(void **)&d->draw = p->dl ? dlsym(p->dl, "nk_draw") : NULL;
        d->n = p->n;
        d->gap = p->lay.gap;
        d->len = p->lay.len;
        d->kparam = p->kparam;
        d->iext = p->i_ext;
        d->refr = p->refr;
        d->refr_steps = p->refr_steps;
        d->nrx = p->nrx;
        d->ns = p->model->nstates;
        for (int r = 0; r < p->nrx; r++)
            d->ns += p->rx[r].syn->nstates;
        d->ring = nk_xcalloc((size_t)p->nrx + 1, sizeof *d->ring);
        d->ck = nk_xcalloc((size_t)nt * (size_t)d->ns + 1, sizeof *d->ck);
        /* With one thread and no gaps the kernel lists its spikes in the
         * population's own list; else in the chunks' lists, one per step
         * parity, joined into it after each step. */
        d->own_spk = nt > 1 || d->gap;
        for (int q = 0; q < 2; q++) {
            d->spk[q] = d->own_spk ? nk_xcalloc64((size_t)d->len, sizeof *d->spk[q]) : p->spk;
            net->bk_bytes += d->own_spk ? d->len * (int64_t)sizeof *d->spk[q] : 0;
        }
        if (!d->ring || !d->ck || !d->spk[0] || !d->spk[1]) {
            snprintf(err, errlen, "out of memory");
            return NK_ENOMEM;
        }
        view_pop(net, P, k);
    }
    P->nstride = (net->npops + 7) / 8 * 8 + 8; /* rows on separate cache lines */
    P->nspk = nk_xcalloc((size_t)P->nstride * (size_t)nt * 2 + 1, sizeof *P->nspk);
    P->split = nk_xcalloc((size_t)net->nprojs + 1, sizeof *P->split);
    P->part = nk_xcalloc((size_t)net->nprojs + 1, sizeof *P->part);
    P->sorted = nk_xcalloc((size_t)net->nprojs + 1, sizeof *P->sorted);
    /* nt + 1 bounds per row, padded to 4 or 8 so that a row's two bounds
     * for a chunk rarely straddle a cache line */
    P->pstride = nt + 1 <= 4 ? 4 : nt + 1 <= 8 ? 8 : nt + 1;
    if (!P->nspk || !P->part || !P->split || !P->sorted) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    for (int k = 0; k < net->nprojs; k++) {
        nk_proj *pj = &net->projs[k];
        int sorted = nt > 1;
        for (int64_t a = 0; sorted && a < pj->pre.hi - pj->pre.lo; a++)
            for (int64_t e = pj->row[a] + 1; sorted && e < pj->row[a + 1]; e++)
                sorted = pj->col[e - 1] <= pj->col[e];
        P->sorted[k] = (unsigned char)sorted;
        cut_tables(net, P, k);
        /* One weight for the whole projection (the same bits): no weight
         * read or converted per event. */
        pj->uweight = pj->nsyn > 0;
        for (int64_t e = 1; pj->uweight && e < pj->nsyn; e++)
            pj->uweight = !memcmp(&pj->w[e], &pj->w[0], sizeof *pj->w);
        pj->uwfix = pj->uweight ? nk_fix_from((double)pj->w[0]) : 0;
        /* One delay for the whole projection: no per-edge slot arithmetic. */
        pj->udelay = pj->nsyn > 0 ? pj->delay[0] : 1;
        for (int64_t e = 1; pj->udelay && e < pj->nsyn; e++)
            if (pj->delay[e] != pj->udelay)
                pj->udelay = 0;
    }
    return 0;
}

/* Every population's chunk bounds, nt + 1 each (on 64-neuron boundaries). */
static int64_t *chunk_cuts(const nk_net *net, int nt)
{
    int64_t *cut = nk_xcalloc((size_t)net->npops * (size_t)(nt + 1) + 1, sizeof *cut);
    for (int k = 0; cut && k < net->npops; k++) {
        int64_t n = net->pops[k].n, blocks = (n + 63) / 64;
        for (int t = 0; t <= nt; t++) {
            int64_t c = blocks * t / nt * 64;
            cut[k * (nt + 1) + t] = c < n ? c : n;
        }
    }
    return cut;
}

/* Entries left unused before, between and after the thread chunks of a
 * population's arrays (nk_lay). 256 (1 KB of float, 2 KB of int64) took
 * away the whole cost of neighbouring chunks in scripts/bench/chunk_gap.sh
 * (64 took part of it), and multiples of 16 keep every chunk on 64-byte
 * lines. With one thread, or a population smaller than its gaps, none.
 * NKSHELL_CHUNK_GAP=N sets N for every population, with one thread too
 * (tests use it); 0 turns the gaps off. -1: a bad value (message in err). */
static int64_t chunk_gap(int64_t n, int nt, char *err, size_t errlen)
{
    const char *e = getenv("NKSHELL_CHUNK_GAP");
    if (e && *e) {
        char *end;
        errno = 0;
        long long g = strtoll(e, &end, 10);
        if (errno || *end || g < 0 || g > (1 << 20)) {
            snprintf(err, errlen,
                     "NKSHELL_CHUNK_GAP: expected a whole number of entries from 0 to %d, got '%s'",
                     1 << 20, e);
            return -1;
        }
        return g;
    }
    return nt > 1 && n >= 256 * (int64_t)(nt + 1) ? 256 : 0;
}

static int cpu_build(nk_net *net, char *err, size_t errlen)
{
    pool_stop(net->bk);
    net->bk = NULL;
    net->bk_bytes = 0;
    int rc = nk_build_rings(net, err, errlen);
    if (rc)
        return rc;
    int nt = threads_for(net);
    for (int k = 0; k < net->npops; k++)
        if ((rc = gen_pop(net, &net->pops[k], k, err, errlen)))
            return rc;
    /* Compile what is not cached, several populations at once. */
    const char **codes = nk_xcalloc((size_t)net->npops + 1, sizeof *codes);
    if (!codes || share_codes(net)) {
        free(codes);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    int ncodes = 0;
    for (int k = 0; k < net->npops; k++)
        if (net->pops[k].code)
            codes[ncodes++] = net->pops[k].code;
    double t0 = nk_now();
    rc = nk_jit_compile_all(codes, ncodes, nk_net_threads(net), err, errlen);
    net->prof_build[NK_PROFB_COMPILE] += nk_now() - t0;
    free(codes);
    if (rc)
        return rc;
    /* Each population's arrays laid out for its chunks, then its kernel's
     * view of them. */
    int64_t *cut = chunk_cuts(net, nt);
    if (!cut) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    for (int k = 0; !rc && k < net->npops; k++) {
        int64_t gap = chunk_gap(net->pops[k].n, nt, err, errlen);
        rc = gap < 0 ? NK_EINVAL
                     : nk_pop_relayout(net, &net->pops[k], nt, cut + k * (nt + 1), gap, err,
                                       errlen);
    }
    for (int k = 0; !rc && k < net->npops; k++)
        rc = load_pop(net, &net->pops[k], k, nt, err, errlen);
    if (rc) {
        free(cut);
        return rc;
    }
    return build_pool(net, nt, cut, err, errlen);
}

/* ---- balancing the threads --------------------------------------------- */

/* Chunks are cut evenly at build, which balances the threads only when
 * their CPUs run equally fast. On a virtual machine they often do not: two
 * copies of one kernel run at once on its two CPUs differ by 4-20 %, and
 * which CPU is the slower one changes from run to run (docs/performance.md).
 * Every BAL_STEPS steps the step looks at how long each chunk's update and
 * delivery took (the calling thread's own work between steps counted as
 * its chunk's). When the slowest chunk took more than BAL_SLACK longer
 * than the mean, every population is cut anew, each chunk's share moved
 * half the way towards its thread's speed (neurons per tick): the entries
 * of the neurons that change chunks move within the arrays (nk_pop_relayout,
 * ring slots and all), and the rows' bounds for each chunk move from where
 * they were (cut_tables). The next re-cut waits at least 50 times as long
 * as this one took: at most 2 % of a run. On CUBA a re-cut took 120-360 us
 * when it copied every array into fresh memory and searched every row's
 * bounds from scratch, which held the balance back for thousands of steps
 * while the CPUs' speeds changed; it takes 60-100 us now.
 * Results do not depend on where the cuts lie. NKSHELL_RECUT=N (tests)
 * cuts anew every N steps instead, at shares that change each time. */
#define BAL_STEPS 256
#define BAL_SLACK 0.02
/* Re-cuts move chunk bounds in steps of CUT_UNIT neurons (chunks still
 * start on 64-byte lines: 16 entries of 4 bytes). At 64, the unit of the
 * cuts at build, one step moved about 240 ticks of CUBA's update from one
 * thread to the other, more than the slack. */
#define CUT_UNIT 16

/* Lays every population out for the chunk shares share[0..nt-1] (summing
 * to 1). A population that cannot be laid out anew (memory) keeps its cuts. */
static void recut(nk_net *net, cpu_pool *P, const double *share)
{
    const int nt = P->nt;
    int64_t c[nt + 1];
    unsigned char *moved = nk_xcalloc((size_t)net->npops + 1, 1);
    if (!moved)
        return;
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        int64_t *cut = P->cut + k * (nt + 1);
        int64_t blocks = (p->n + CUT_UNIT - 1) / CUT_UNIT;
        double f = 0;
        c[0] = 0;
        for (int t = 1; t < nt; t++) {
            f += share[t - 1];
            int64_t b = (int64_t)(f * (double)blocks + 0.5);
            int64_t x = b * CUT_UNIT < p->n ? b * CUT_UNIT : p->n;
            c[t] = x > c[t - 1] ? x : c[t - 1];
        }
        c[nt] = p->n;
        if (!memcmp(c, cut, sizeof c))
            continue;
        char e2[256]; /* a dense population (too small for gaps) moves nothing */
        if (p->lay.gap && nk_pop_relayout(net, p, nt, c, p->lay.gap, e2, sizeof e2))
            continue;
        memcpy(cut, c, sizeof c);
        view_pop(net, P, k);
        moved[k] = 1;
    }
    for (int k = 0; k < net->nprojs; k++)
        if (moved[net->projs[k].post.pop])
            cut_tables(net, P, k);
    free(moved);
}

/* At the start of step s, every chunk's work of the last steps done. */
static void rebalance(nk_net *net, cpu_pool *P, int64_t s)
{
    const int nt = P->nt;
    if (s - P->bal_from < (P->recut_test ? P->recut_test : BAL_STEPS)) {
        if (s < P->bal_from) /* a checkpoint restored, or the step counted anew */
            P->bal_from = s;
        return;
    }
    P->bal_from = s;
    double share[nt], busy[nt], speed[nt], sum = 0, mean = 0, most = 0;
    for (int t = 0; t < nt; t++) {
        busy[t] = (double)P->tasks[t].busy;
        P->tasks[t].busy = 0;
    }
    busy[0] += (double)P->serial; /* the calling thread's own work */
    P->serial = 0;
    if (P->recut_test) { /* shares that change from cut to cut */
        uint64_t x = (uint64_t)s * 0x9e3779b97f4a7c15u;
        for (int t = 0; t < nt; t++) {
            x ^= x >> 29;
            x *= 0xbf58476d1ce4e5b9u;
            share[t] = 0.2 + (double)(x >> 40) * 0x1p-24;
            sum += share[t];
        }
        for (int t = 0; t < nt; t++)
            share[t] /= sum;
        recut(net, P, share);
        return;
    }
    /* each chunk's neurons, all populations together */
    double n[nt];
    for (int t = 0; t < nt; t++) {
        n[t] = 0;
        for (int k = 0; k < net->npops; k++)
            n[t] += (double)(P->cut[k * (nt + 1) + t + 1] - P->cut[k * (nt + 1) + t]);
        mean += busy[t] / nt;
        most = busy[t] > most ? busy[t] : most;
    }
    if (!(mean > 0) || most <= (1 + BAL_SLACK) * mean)
        return;
    double total = 0;
    for (int t = 0; t < nt; t++) {
        if (!(n[t] > 0) || !(busy[t] > 0))
            return; /* an empty chunk says nothing of its thread's speed */
        speed[t] = n[t] / busy[t];
        sum += speed[t];
        total += n[t];
    }
    for (int t = 0; t < nt; t++) /* half the way from the shares of now */
        share[t] = 0.5 * (n[t] / total) + 0.5 * (speed[t] / sum);
    uint64_t k0 = ticks();
    if (k0 < P->bal_after)
        return;
    recut(net, P, share);
    uint64_t k1 = ticks();
    P->bal_after = k1 + 50 * (k1 - k0);
}

/* ---- a step -------------------------------------------------------------- */

/* Publishing a step early. Once step s's updates are all done, the calling
 * thread starts step s + 1 (publishes its generation) before it delivers
 * its own share of step s, when nothing of its own has to happen at the
 * start of step s + 1: a worker then goes from its delivery of step s
 * straight on to its update of step s + 1, while the calling thread
 * delivers, joins the spike lists, records and comes back, and a step has
 * one meeting of the threads instead of two. What rules it out for a step:
 * a sampled monitor's sample (it reads the states), sources the calling
 * thread applies (external currents, spike times, functions and equations
 * write what the update reads), graded projections (their delivery reads
 * the presynaptic states, which the next update changes), a look at the
 * threads' balance (it may move the chunks), a checkpoint after step s, the
 * engine's progress report and flush after it, the run's end, and an
 * interrupt. The spike lists, counts and results a step's tasks write
 * alternate with the step's parity, so step s + 1's updates leave step
 * s's for its deliveries and the join. The balance then counts the calling
 * thread's own work between the two steps as its chunk's, so that its
 * chunk shrinks by as much. */
static int ahead_never(const nk_net *net)
{
    for (int k = 0; k < net->nsrcs; k++)
        if (!net->srcs[k].removed && !nk_source_drawn(&net->srcs[k]))
            return 1;
    for (int k = 0; k < net->npops; k++)
        if (net->pops[k].i_ext)
            return 1;
    for (int k = 0; k < net->nprojs; k++)
        if (net->pops[net->projs[k].post.pop].rx[net->projs[k].rx].syn->graded)
            return 1;
    return 0;
}

static int may_publish(const nk_net *net, const cpu_pool *P, int64_t s)
{
    const int64_t n = s + 1, r = n - net->run_step0;
    if (P->nt < 2 || P->ahead_never || n >= net->run_until ||
        (net->run_interrupt && *net->run_interrupt) ||
        (net->run_ck_every > 0 && r % net->run_ck_every == 0) || (r & 63) == 0 ||
        n - P->bal_from >= (P->recut_test ? P->recut_test : BAL_STEPS))
        return 0;
    for (int k = 0; k < net->nmons; k++) {
        const nk_monitor *m = &net->mons[k];
        if ((m->kind == NK_MON_STATE || m->kind == NK_MON_FIELD || m->kind == NK_MON_OUTPUT) &&
            n >= m->start_step && (n - m->start_step) % m->every == 0)
            return 0;
    }
    return 1;
}

/* Starts generation gen as step s for every thread. The store is a
 * release, not sequentially consistent: on x86 that is a plain store,
 * which the calling thread does not wait for, where a locked exchange would
 * hold it until the workers spinning on the line had given it up (a round
 * trip between the cores, every step). So the load of sleepers below may
 * come before the workers see the new generation, and a worker that goes
 * to sleep in that window (after SPIN_WAIT spins without a step, and only
 * then) is not woken by this step: its chunk is then taken by a thread
 * that finished its own (share_update, after STEAL_WAIT spins), and the
 * next step wakes it, sleepers being counted with a locked add before the
 * worker looks at gen a last time. */
static void publish(cpu_pool *P, unsigned gen, int64_t s)
{
    P->gstep[gen & 3] = s;
    atomic_store_explicit(&P->gen, gen, memory_order_release);
    if (P->nt > 1 && atomic_load_explicit(&P->sleepers, memory_order_relaxed)) {
        pthread_mutex_lock(&P->mu);
        pthread_cond_broadcast(&P->cv);
        pthread_mutex_unlock(&P->mu);
    }
}

/* A profiled run: the synaptic events of the deliveries since the last
 * call, every one of them done. Each chunk's count is written by the thread
 * delivering to it, on that thread's lines, and read here only at steps
 * that wait for every delivery (not those the next step started early
 * from, at least one in 64), so that reading it costs no step a transfer
 * between the cores. */
static void count_delivered(nk_net *net, cpu_pool *P)
{
    for (int t = 0; t < P->nt; t++) {
        net->run_events += P->tasks[t].events - P->ev_seen[t];
        P->ev_seen[t] = P->tasks[t].events;
    }
}

static int cpu_step(nk_net *net, char *err, size_t errlen)
{
    cpu_pool *P = net->bk;
    int64_t s = net->step;
    double *prof = net->profiling ? net->prof : NULL;
    double t0 = prof ? nk_now() : 0, t1;
    int rc;
    /* published early by the last step (the generation now in P->gen),
     * with nothing to do first */
    const int early = net->ahead;
    unsigned gen = atomic_load(&P->gen);
    net->ahead = 0;
    if (early) {
        P->serial += ticks() - P->serial_from;
        if (prof)
            prof[NK_PROF_EARLY] += 1;
    } else {
        if (s == net->run_step0)
            P->ahead_never = ahead_never(net);
        /* room for all the step can record, before anything changes: a
         * step never fails half-way for want of memory */
        if ((rc = nk_rec_room(net, 1, NULL, err, errlen)))
            return rc;
        if (P->nt > 1)
            rebalance(net, P, s);
        /* 0. sampled monitors see the state at the start of the step */
        if ((rc = nk_monitors_sample(net, s, err, errlen)))
            return rc;
        if (prof) {
            t1 = nk_now();
            prof[NK_PROF_RECORD] += t1 - t0;
            t0 = t1;
        }
        /* 1. sources, but for the drawn ones: each update task draws those
         * for its own chunk */
        if ((rc = nk_sources_apply(net, s, 0, err, errlen)))
            return rc;
        if (prof) {
            t1 = nk_now();
            prof[NK_PROF_SOURCES] += t1 - t0;
            t0 = t1;
        }
        /* 2.-4. update (and clear), deliver: every thread its share */
        publish(P, ++gen, s);
    }
    const int par = gen & 1;

    /* The calling thread takes its share too (timed as update and
     * delivery). */
    int mine[P->nt];
    int nm = share_update(P, gen, 0, mine);
    const uint64_t met = ticks();
    double t_upd = prof ? nk_now() : 0;
    const tres *bad = NULL;
    /* (a diverged update says so in bad_gen before its udone: the tasks'
     * results are read only then, and otherwise stay in their caches) */
    if (atomic_load_explicit(&P->bad_gen, memory_order_relaxed) == gen)
        for (int t = 0; t < P->nt; t++) {
            const tres *r = &P->tasks[t].res[par];
            if (r->rc &&
                (!bad || r->pop < bad->pop || (r->pop == bad->pop && r->index < bad->index)))
                bad = r;
        }
    /* A step that diverged delivers nothing (as with one thread, and on
     * the GPU), but the tasks that did not diverge have delivered their
     * own chunks' spikes already (the workers deliver no more: they see
     * bad_gen): those adds are taken back, before the join below moves the
     * chunks' spike lists. */
    if (bad)
        for (int t = 0; t < P->nt; t++)
            if (P->tasks[t].own == gen && !P->tasks[t].res[par].rc)
                deliver_part(P, t, 0, gen, UNDO);
    /* This step's records have room (made before it started). The next
     * step starts before they are made only with room for both: else it
     * starts after, and makes its own room or says why it cannot. */
    int ahead = !bad && may_publish(net, P, s);
    if (ahead) {
        int64_t pend[net->npops + 1]; /* (+ 1: never a zero-length array) */
        for (int k = 0; k < net->npops; k++) {
            pend[k] = 0;
            for (int t = 0; net->pops[k].rec_mask && t < P->nt; t++)
                pend[k] += P->nspk[(par * P->nt + t) * P->nstride + k];
        }
        char e2[8];
        ahead = !nk_rec_room(net, 1, pend, e2, sizeof e2);
    }
    if (ahead) {
        net->ahead = 1;
        publish(P, gen + 1, s + 1);
        P->serial += ticks() - met; /* the checks above, the workers busy */
    }
    if (!bad)
        deliver_mine(P, gen, 0, mine, nm);
    P->serial_from = ticks();
    /* Unless the next step has started, every chunk's delivery is waited
     * for: what comes between steps sees this one whole. */
    if (!ahead && !bad)
        for (int u = 0; u < P->nt; u++)
            for (long w = 0; gen_before(atomic_load_explicit(&P->tasks[u].ddone,
                                                             memory_order_acquire), gen); w++) {
                if (w < SPIN_WAIT)
                    cpu_relax();
                else
                    sched_yield();
            }
    if (!ahead && net->profiling) /* (a step that diverged: the undone too) */
        count_delivered(net, P);
    if (prof) {
        t1 = nk_now();
        prof[NK_PROF_UPDATE] += t_upd - t0;
        prof[NK_PROF_DELIVER] += t1 - t_upd;
        t0 = t1;
    }

    /* The chunks' spikes, joined in neuron order. */
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        const kdesc *d = &P->kd[k];
        int64_t m = 0;
        for (int t = 0; t < P->nt; t++) {
            const int64_t *from = d->spk[par] + (t + 1) * d->gap + P->cut[k * (P->nt + 1) + t];
            int64_t q = P->nspk[(par * P->nt + t) * P->nstride + k];
            if (q && from != p->spk + m)
                memmove(p->spk + m, from, (size_t)q * sizeof *p->spk);
            m += q;
        }
        p->nspk = bad ? 0 : m;
    }
    if (bad) {
        nk_diverged(net, bad->pop, bad->index, bad->var, s, err, errlen);
        return NK_EDIVERGED;
    }
    if (net->profiling)
        nk_count_events(net);

    /* 5. record (room was made before the step) */
    rc = nk_record_spikes(net, s, err, errlen);
    if (prof) {
        t1 = nk_now();
        prof[NK_PROF_RECORD] += t1 - t0;
        prof[NK_PROF_STEPS] += 1;
    }
    if (rc)
        return rc;
    net->step = s + 1;
    return 0;
}

static int cpu_threads(const nk_net *net)
{
    cpu_pool *P = net->bk;
    return P ? P->nt : 1;
}

const nk_backend nk_backend_cpu = {
    .name = "cpu",
    .available = cpu_available,
    .build = cpu_build,
    .step = cpu_step,
    .release = cpu_release,
    .threads = cpu_threads,
};
