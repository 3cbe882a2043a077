/* scripts/bench/chunk_gap.c: what two threads lose when their chunks of a
 * population are neighbours in memory (run it through chunk_gap.sh).
 *
 * It drives one generated nk_update kernel (CUBA's excitatory population,
 * which chunk_gap.sh takes from `net:code`) over N neurons for S steps, as
 * the CPU backend does: every step each thread adds sparse fixed-point input
 * to its chunk's two receptor slots, all threads meet, each updates its
 * chunk with one kernel call (timed), and all meet again. Three layouts:
 *
 *   solo    one thread, all N neurons;
 *   halves  two threads (pinned to CPUs 0 and 1), neurons [0, N/2) and
 *           [N/2, N) of the same arrays: the engine's layout today;
 *   gap     two threads, the second chunk moved G entries further on in
 *           arrays of N + G entries, so no cache line of one chunk lies
 *           within G entries of the other's.
 *
 *   chunk_gap N STEPS ROUNDS G
 *
 * prints, per layout, the median over ROUNDS (the layouts alternate within
 * each round) of the wall time of the steps and of each chunk's kernel call
 * in microseconds. It reports; it asserts nothing. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nk_kernel.h"

int nk_update(nk_kargs *a, int64_t i0, int64_t i1, int64_t *spk, int64_t *nspk);

enum { SOLO, HALVES, GAP, NLAYOUT };
static const char *const layout_name[NLAYOUT] = {"solo", "halves", "gap"};

typedef struct {
    int nthreads;
    int64_t n, steps, gap;
    float *v, *isyn0, *isyn1;
    int64_t *in0, *in1;
    int32_t *refr;
    double param[11];
    _Alignas(64) atomic_int count;
    _Alignas(64) atomic_int gen;
} shared;

typedef struct {
    _Alignas(64) shared *S;
    int id;
    int64_t lo, hi; /* the chunk's entries in the arrays */
    double call_s;
    int64_t spikes;
} worker;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void meet(shared *S)
{
    int g = atomic_load(&S->gen);
    if (atomic_fetch_add(&S->count, 1) == S->nthreads - 1) {
        atomic_store(&S->count, 0);
        atomic_fetch_add(&S->gen, 1);
    } else {
        while (atomic_load(&S->gen) == g)
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#else
            ;
#endif
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *work(void *arg)
{
    worker *w = arg;
    shared *S = w->S;
    if (S->nthreads > 1) {
        cpu_set_t cs;
        CPU_ZERO(&cs);
        CPU_SET(w->id, &cs);
        pthread_setaffinity_np(pthread_self(), sizeof cs, &cs);
    }
    void *state[3] = {S->v, S->isyn0, S->isyn1};
    int64_t *rx[2] = {S->in0, S->in1};
    nk_kargs a = {.n = S->n + S->gap, .dt = 0.1, .seed = 1, .stream = 7, .refr_steps = 50,
                  .state = state, .param = S->param, .rx_in = rx, .refr = S->refr};
    int64_t n = w->hi - w->lo;
    int64_t *spk = malloc((size_t)n * sizeof *spk);
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
    /* CUBA's input per step: about 5 % of the neurons get excitatory
     * input, 1.25 % inhibitory (16.2 and -90 pA in Q32.32) */
    const int64_t we = (int64_t)(16.2 * NK_FIX_ONE), wi = (int64_t)(-90.0 * NK_FIX_ONE);
    for (int64_t k = 0; k < S->steps; k++) {
        for (int64_t e = 0; e < n / 20; e++)
            S->in0[w->lo + (int64_t)(xorshift(&seed) % (uint64_t)n)] += we;
        for (int64_t e = 0; e < n / 80; e++)
            S->in1[w->lo + (int64_t)(xorshift(&seed) % (uint64_t)n)] += wi;
        meet(S);
        a.step = k;
        a.t = 0.1 * (double)k;
        int64_t ns = 0;
        double t0 = now();
        nk_update(&a, w->lo, w->hi, spk, &ns);
        w->call_s += now() - t0;
        w->spikes += ns;
        meet(S);
    }
    free(spk);
    return NULL;
}

/* One run of a layout: wall seconds, and each chunk's mean call in us. */
static double run(int layout, int64_t n, int64_t steps, int64_t gap, double us[2], int64_t *spikes)
{
    shared *S = aligned_alloc(64, sizeof *S);
    memset(S, 0, sizeof *S);
    S->nthreads = layout == SOLO ? 1 : 2;
    S->n = n;
    S->steps = steps;
    S->gap = layout == GAP ? gap : 0;
    /* tau_m, C_m, v_rest, v_reset, v_thresh, t_ref, I_e, the receptors'
     * tau_syn, rtol, atol: samples/cuba.lua's */
    const double param[11] = {20, 200, -49, -60, -50, 5, 0, 5, 10, 1e-3, 1e-6};
    memcpy(S->param, param, sizeof param);
    size_t m = (size_t)(n + S->gap);
    S->v = calloc(m, sizeof *S->v);
    S->isyn0 = calloc(m, sizeof *S->isyn0);
    S->isyn1 = calloc(m, sizeof *S->isyn1);
    S->in0 = calloc(m, sizeof *S->in0);
    S->in1 = calloc(m, sizeof *S->in1);
    S->refr = calloc(m, sizeof *S->refr);
    if (!S->v || !S->isyn0 || !S->isyn1 || !S->in0 || !S->in1 || !S->refr) {
        fprintf(stderr, "chunk_gap: out of memory\n");
        exit(1);
    }
    uint64_t seed = 12345;
    for (size_t i = 0; i < m; i++) /* Brian2's CUBA: uniform in [v_reset, v_thresh) */
        S->v[i] = (float)(-60.0 + 10.0 * (double)(xorshift(&seed) >> 11) * 0x1p-53);
    worker w[2];
    memset(w, 0, sizeof w);
    for (int t = 0; t < S->nthreads; t++) {
        w[t].S = S;
        w[t].id = t;
        w[t].lo = n * t / S->nthreads + (t ? S->gap : 0);
        w[t].hi = n * (t + 1) / S->nthreads + (t ? S->gap : 0);
    }
    pthread_t th[2];
    double t0 = now();
    for (int t = 0; t < S->nthreads; t++)
        if (pthread_create(&th[t], NULL, work, &w[t])) {
            fprintf(stderr, "chunk_gap: cannot start a thread\n");
            exit(1);
        }
    for (int t = 0; t < S->nthreads; t++)
        pthread_join(th[t], NULL);
    double wall = now() - t0;
    *spikes = 0;
    for (int t = 0; t < 2; t++) {
        us[t] = t < S->nthreads ? w[t].call_s * 1e6 / (double)steps : 0;
        *spikes += w[t].spikes;
    }
    free(S->v);
    free(S->isyn0);
    free(S->isyn1);
    free(S->in0);
    free(S->in1);
    free(S->refr);
    free(S);
    return wall;
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(double *x, int k)
{
    qsort(x, (size_t)k, sizeof *x, cmp);
    return k % 2 ? x[k / 2] : 0.5 * (x[k / 2 - 1] + x[k / 2]);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: chunk_gap N STEPS ROUNDS GAP\n");
        return 2;
    }
    int64_t n = atoll(argv[1]), steps = atoll(argv[2]), gap = atoll(argv[4]);
    int rounds = atoi(argv[3]);
    if (n < 128 || steps < 1 || rounds < 1 || rounds > 1000 || gap < 0) {
        fprintf(stderr, "chunk_gap: N >= 128, STEPS >= 1, 1 <= ROUNDS <= 1000, GAP >= 0\n");
        return 2;
    }
    double wall[NLAYOUT][1000], us[NLAYOUT][2][1000];
    int64_t spikes[NLAYOUT] = {0};
    for (int r = 0; r < rounds; r++)
        for (int l = 0; l < NLAYOUT; l++) {
            double u[2];
            int64_t sp;
            wall[l][r] = run(l, n, steps, gap, u, &sp);
            us[l][0][r] = u[0];
            us[l][1][r] = u[1];
            spikes[l] += sp;
        }
    printf("| layout | wall s | chunk 1 us/call | chunk 2 us/call | spikes per run |\n");
    printf("| --- | --- | --- | --- | --- |\n");
    for (int l = 0; l < NLAYOUT; l++) {
        double w = median(wall[l], rounds), u0 = median(us[l][0], rounds);
        printf("| %s | %.3f | %.2f (%lld neurons) |", layout_name[l], w, u0,
               (long long)(l == SOLO ? n : n / 2));
        if (l == SOLO)
            printf(" | %lld |\n", (long long)(spikes[l] / rounds));
        else
            printf(" %.2f (%lld neurons) | %lld |\n", median(us[l][1], rounds),
                   (long long)(n - n / 2), (long long)(spikes[l] / rounds));
    }
    return 0;
}
