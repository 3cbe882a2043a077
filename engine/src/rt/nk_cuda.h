/* nk_cuda.h - the CUDA backend's side of generated code: how a kernel is
 * declared, the atomics, the argument structs the engine fills, and the
 * kernels that are the same for every network (spike delivery, adding a
 * buffer of source input).
 *
 * The same text is compiled two ways. With NVRTC (__CUDACC_RTC__) each
 * NK_KERNEL is a __global__ function taking its argument struct by value, and
 * thread nk_tid is blockIdx.x * blockDim.x + threadIdx.x. In the host
 * emulation (NKSHELL_CUDA=emulate, for testing the backend where there is no
 * GPU) the text is C11 compiled by the CPU backend's compiler, and each
 * kernel is `void name(const void *args, int64_t nthreads, int order)`,
 * which runs threads 0 .. nthreads-1 one after the other, in the order
 * nk_emu_stride's comment describes. Kernels therefore never wait
 * for each other's threads (no barriers, no shared memory): each thread's
 * work must be complete on its own, and whatever threads share is combined
 * with the atomics below, whose results do not depend on order (integer
 * sums, minimum) except for the order of appends to spike lists, which the
 * engine sorts when it needs them.
 *
 * Kernel code uses the rest of the runtime (nk_kernel.h, nk_math.h,
 * nk_philox.h), which is pasted before this header. */
#ifndef NK_CUDA_H
#define NK_CUDA_H

#ifndef NK_CUDA_STRUCTS_ONLY /* the engine includes the structs alone */
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define NK_ON_GPU 1
#define NK_UNROLL _Pragma("unroll")
#define NK_DEV static __device__ __forceinline__
#define NK_KERNEL(name, T)                                                                   \
    static __device__ void name##_body(const T *a, int64_t nk_tid);                          \
    extern "C" __global__ void name(const T nk_A)                                            \
    {                                                                                        \
        name##_body(&nk_A, (int64_t)blockIdx.x * (int64_t)blockDim.x + (int64_t)threadIdx.x); \
    }                                                                                        \
    static __device__ void name##_body(const T *a, int64_t nk_tid)
/* A kernel's body alone, called by another kernel (the populations' updates,
 * called by nk_update_all: no entry point of their own for NVRTC to compile) */
#define NK_BODY(name, T) static __device__ void name##_body(const T *a, int64_t nk_tid)
/* A population's update, called by nk_update_all with the population's
 * nk_dkargs on the device, the step and its time (ms) */
#define NK_UBODY(name)                                                                        \
    static __device__ void name##_body(const nk_dkargs *a, int64_t nk_tid, int64_t nk_s,       \
                                       double nk_ts)
NK_DEV unsigned long long nk_atomic_inc(unsigned long long *p)
{
    return atomicAdd(p, 1ull);
}
NK_DEV unsigned long long nk_atomic_add_u64(unsigned long long *p, unsigned long long v)
{
    return atomicAdd(p, v);
}
/* nk_atomic_inc for many threads of a warp at once (a step's spikes): the
 * threads of the warp that increment the same counter together add their
 * number with one atomic, and each takes its own place after it. Every
 * thread of a step's update that spikes incremented one counter before,
 * each on its own: fly-scale's 2,800 spikes a step (and as many records)
 * queued on one word. */
NK_DEV unsigned long long nk_atomic_inc_warp(unsigned long long *p)
{
#if __CUDA_ARCH__ >= 700
    const unsigned act = __activemask();
    const unsigned same = __match_any_sync(act, (unsigned long long)(size_t)p);
    const unsigned lane = threadIdx.x & 31u;
    const int lead = __ffs(same) - 1;
    unsigned long long base = 0;
    if ((int)lane == lead)
        base = atomicAdd(p, (unsigned long long)__popc(same));
    base = __shfl_sync(same, base, lead);
    return base + (unsigned long long)__popc(same & ((1u << lane) - 1u));
#else
    return atomicAdd(p, 1ull);
#endif
}
NK_DEV void nk_atomic_add_i64(int64_t *p, int64_t v)
{
    atomicAdd((unsigned long long *)p, (unsigned long long)v);
}
NK_DEV void nk_atomic_min_i64(int64_t *p, int64_t v)
{
    atomicMin((long long *)p, (long long)v);
}
#else
#define NK_DEV static inline
#define NK_UNROLL
/* The emulation's order of a launch's threads: 0 runs them 0, 1, 2, ...;
 * 1 runs them last to first; 2 runs them in steps of a stride coprime to
 * the count, so neighbours are far apart (NKSHELL_CUDA_EMU_ORDER, dev.c).
 * On a GPU the threads run at once and their appends land in any order;
 * running the suite in the three orders shows a result that depends on
 * which thread went first. */
NK_DEV int64_t nk_emu_stride(int64_t n)
{
    int64_t s = n / 2 + n / 8 + 1; /* about 0.62 n */
    for (;; s++) {
        int64_t x = s, y = n;
        while (y) {
            const int64_t r = x % y;
            x = y;
            y = r;
        }
        if (x == 1)
            return s;
    }
}
#define NK_KERNEL(name, T)                                                                   \
    static void name##_body(const T *a, int64_t nk_tid);                                     \
    void name(const void *nk_A, int64_t nk_nthreads, int nk_order)                           \
    {                                                                                        \
        const int64_t nk_s = nk_order == 2 && nk_nthreads > 2 ? nk_emu_stride(nk_nthreads) : 1; \
        for (int64_t nk_t = 0, nk_j = 0; nk_t < nk_nthreads; nk_t++) {                       \
            name##_body((const T *)nk_A, nk_order == 1 ? nk_nthreads - 1 - nk_t : nk_j);     \
            nk_j += nk_s;                                                                    \
            if (nk_j >= nk_nthreads)                                                         \
                nk_j -= nk_nthreads;                                                         \
        }                                                                                    \
    }                                                                                        \
    static void name##_body(const T *a, int64_t nk_tid)
#define NK_BODY(name, T) static void name##_body(const T *a, int64_t nk_tid)
#define NK_UBODY(name)                                                                        \
    static void name##_body(const nk_dkargs *a, int64_t nk_tid, int64_t nk_s, double nk_ts)
NK_DEV unsigned long long nk_atomic_inc(unsigned long long *p)
{
    return (*p)++;
}
NK_DEV unsigned long long nk_atomic_add_u64(unsigned long long *p, unsigned long long v)
{
    const unsigned long long old = *p;
    *p = old + v;
    return old;
}
NK_DEV unsigned long long nk_atomic_inc_warp(unsigned long long *p)
{
    return (*p)++;
}
NK_DEV void nk_atomic_add_i64(int64_t *p, int64_t v)
{
    *p = (int64_t)((uint64_t)*p + (uint64_t)v);
}
NK_DEV void nk_atomic_min_i64(int64_t *p, int64_t v)
{
    if (v < *p)
        *p = v;
}
#endif

/* A word that other threads of the same launch may change with an atomic
 * (the halt step, lowered by nk_atomic_min_i64 when a state diverges), read
 * once as it is: a volatile load on the GPU, so that it is not a plain read
 * racing an atomic; either value it sees gives the same answer where it is
 * used. */
NK_DEV int64_t nk_load_shared_i64(const int64_t *p)
{
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
    return *(const volatile int64_t *)p;
#else
    return *p;
#endif
}

/* Weight w in Q32.32, rounded to nearest, as the CPU backend converts it. */
NK_DEV int64_t nk_dfix(double w)
{
    double s = w * NK_FIX_ONE;
    return (int64_t)(s < 0 ? s - 0.5 : s + 0.5);
}
/* Any w (a graded synapse's weight x value), clamped as the CPU's
 * nk_fix_from_any clamps it. */
NK_DEV int64_t nk_dfix_any(double w)
{
    double s = w * NK_FIX_ONE;
    s = s < 0 ? s - 0.5 : s + 0.5;
    s = s > 0x1p63 - 0x1p10 ? 0x1p63 - 0x1p10 : s;
    s = s < -0x1p63 + 0x1p10 ? -0x1p63 + 0x1p10 : s;
    return s == s ? (int64_t)s : 0;
}

/* Which of n records a thread j of a flattened launch belongs to: the last
 * one whose int64 field `first` is <= j. first0 points at record 0's field
 * (which holds 0), the records lie stride bytes apart and are sorted by it. */
NK_DEV int nk_last_first(const int64_t *first0, int64_t stride, int n, int64_t j)
{
    const char *b = (const char *)first0;
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const int m = (lo + hi + 1) / 2;
        if (*(const int64_t *)(b + m * stride) <= j)
            lo = m;
        else
            hi = m - 1;
    }
    return lo;
}
#endif

/* Delivery of the spikes of every projection but the graded ones: a spike
 * is cut into pieces of its rows where it fires (nk_plan_spike, called by
 * the update), and nk_deliver_all delivers the pieces, one launch a step
 * whatever the number of projections.
 *
 * A row of NK_WARP_ROW (32) connections or more goes in pieces of NK_PIECE
 * connections, each a warp's (NK_PIECE / 32 per thread, their loads issued
 * together), a shorter row whole, a thread's; a piece goes to the next free
 * place of its list (an atomic count).
 *
 * nk_deliver_all delivers the pieces: every warp takes warp pieces q =
 * warp, warp + warps, ..., then every thread thread pieces likewise. The
 * work of a step is so spread over the device by connections, not by
 * spikes: a spike of ten thousand connections is 79 warps' work for one
 * round, not one warp's for 313 rounds, and the projections are delivered
 * at once (one thread took spike j of every projection in turn before: a
 * network of 64 projections, the microcircuit, queued 64 rows behind each
 * other on the same warps).
 *
 * Input is added with 64-bit atomics (fixed point), so the order in which
 * pieces are cut and delivered does not change a sum. Nothing is delivered
 * in or after a step that diverged (the pieces a step cut before one of its
 * neurons diverged are left). */
#define NK_PIECE 128
#define NK_WARP_ROW 32

/* A piece of a row: connections e0 .. e0 + len - 1 of projection k. */
typedef struct nk_dpiece {
    int32_t k, len;
    int64_t e0;
} nk_dpiece;

/* A projection from a population, as the population's update cuts its
 * spikes: projection k (in nk_deliver_all's projs), whose rows are those
 * of the neurons pre_lo .. pre_hi - 1. */
typedef struct nk_dout {
    const int64_t *row;
    int64_t pre_lo, pre_hi;
    int32_t k, pad_;
} nk_dout;

/* A population's update: one thread per neuron i0 + nk_tid < n (the step and
 * its time are the update's arguments: NK_UBODY). */
typedef struct nk_dkargs {
    int64_t n, i0;
    double dt;             /* ms */
    uint64_t seed;
    uint32_t stream;
    int32_t refr_steps;
    int32_t ring_len;
    int32_t pad_;
    void *const *state;    /* the state arrays: neuron's, then each receptor's */
    const double *param;   /* shared parameters, then codegen's extras */
    int64_t *const *ring;  /* per receptor: ring_len slots of n, Q32.32 */
    const void *i_ext;     /* external current (NULL: none) */
    int64_t *refr;         /* as nk_kargs.refr (nk_kernel.h) */
    int64_t *spk;          /* out: this step's spikes, in no particular order */
    unsigned long long *nspk;
    int64_t *bad;          /* out: lowest i * (nvars + 1) + variable that became non-finite
                              (variable nvars: a per-neuron refractory period < 0 or NaN) */
    int64_t *halt;         /* the first step that diverged (INT64_MAX: none): later steps
                              do nothing, so the states stay as they were after it */
    const uint8_t *rec_mask; /* spike recording on the device (NULL: none): the neurons */
    int64_t *rec_step;     /* out: (step, neuron) of each recorded spike, in no order */
    uint32_t *rec_id;
    unsigned long long *nrec;
    double *cst;           /* the update's per-step constants (exponential factors,
                              reciprocals of parameters): written once at build by the
                              population's nk_consts_P (nk_consts_all), read by every thread */
    /* the projections from the population (nout of them), and where a spike's
     * pieces go (nk_plan_spike) */
    const nk_dout *out;
    nk_dpiece *pieces;     /* warp pieces from 0, thread pieces from tbase */
    unsigned long long *npieces; /* [0] warp pieces, [1] thread pieces, [2] the step's
                              synaptic events (nk_step_begin zeroes them) */
    int64_t tbase;
    int32_t nout, pad2_;
} nk_dkargs;

#ifndef NK_CUDA_STRUCTS_ONLY
/* Neuron i of the population fired: its rows of every projection from it,
 * cut into pieces (above), and its synaptic events counted. NK_PLAN_W
 * projections at a time: their rows' bounds are loaded together, then one
 * atomic for each list reserves their pieces. Two, not more: the group
 * costs the update registers, and the update runs for every neuron, this
 * only for the few that fire (sm_90, ptxas -v: fly-scale's update has 40
 * registers at one, 48 at two, 56 at four, where its 542 blocks of 256 no
 * longer fit in one wave of an H100's 132 multiprocessors; docs/cuda.md). */
#ifndef NK_PLAN_W
#define NK_PLAN_W 2
#endif
NK_DEV void nk_plan_spike(const nk_dkargs *a, int64_t i)
{
    unsigned long long ev = 0;
    for (int32_t q0 = 0; q0 < a->nout; q0 += NK_PLAN_W) {
        int64_t e0[NK_PLAN_W], len[NK_PLAN_W];
        int32_t k[NK_PLAN_W];
        NK_UNROLL
        for (int j = 0; j < NK_PLAN_W; j++) {
            e0[j] = 0;
            len[j] = 0;
            k[j] = 0;
            if (q0 + j < a->nout) {
                const nk_dout *o = a->out + q0 + j;
                k[j] = o->k;
                if (i >= o->pre_lo && i < o->pre_hi) {
                    e0[j] = o->row[i - o->pre_lo];
                    len[j] = o->row[i - o->pre_lo + 1] - e0[j];
                }
            }
        }
        unsigned long long nw = 0, nt = 0;
        NK_UNROLL
        for (int j = 0; j < NK_PLAN_W; j++) {
            ev += (unsigned long long)len[j];
            if (len[j] >= NK_WARP_ROW)
                nw += (unsigned long long)((len[j] + NK_PIECE - 1) / NK_PIECE);
            else if (len[j] > 0)
                nt++;
        }
        nk_dpiece *pw = nw ? a->pieces + nk_atomic_add_u64(a->npieces, nw) : a->pieces;
        nk_dpiece *pt = nt ? a->pieces + a->tbase + nk_atomic_add_u64(a->npieces + 1, nt)
                           : a->pieces;
        NK_UNROLL
        for (int j = 0; j < NK_PLAN_W; j++) {
            if (len[j] >= NK_WARP_ROW) {
                const int64_t np = (len[j] + NK_PIECE - 1) / NK_PIECE;
                for (int64_t q = 0; q < np; q++) {
                    pw[q].k = k[j];
                    pw[q].len = (int32_t)(q + 1 < np ? NK_PIECE : len[j] - q * NK_PIECE);
                    pw[q].e0 = e0[j] + q * NK_PIECE;
                }
                pw += np;
            } else if (len[j] > 0) {
                pt->k = k[j];
                pt->len = (int32_t)len[j];
                pt->e0 = e0[j];
                pt++;
            }
        }
    }
    if (ev)
        nk_atomic_add_u64(a->npieces + 2, ev);
}
#endif

/* Every population's update in one launch (the module's nk_update_all):
 * population k has the threads [first_k, first_k + its blocks), and each
 * thread runs the update body of population k, or of the first population
 * with the same code, with pops[k] (on the device) for this step. */
typedef struct nk_duargs {
    const nk_dkargs *pops;
    const int64_t *stepp;  /* the step, on the device (nk_step_begin) */
    double dt;
} nk_duargs;

/* The start of a step on the device: the step counter goes to this step and
 * the populations' spike counts to 0. Kernels read the step from the
 * device, so that the launches of a step are the same for every step and
 * can be captured once in a CUDA graph. */
typedef struct nk_dbargs {
    int64_t *stepp;
    unsigned long long *nspk;
    unsigned long long *npieces; /* delivery's piece counts and the step's events
                                    (nk_plan_spike), to 0 */
    int64_t npops;
} nk_dbargs;

#ifndef NK_CUDA_STRUCTS_ONLY
NK_KERNEL(nk_step_begin, nk_dbargs)
{
    if (nk_tid == 0) {
        ++*a->stepp;
        a->npieces[0] = a->npieces[1] = a->npieces[2] = 0;
    }
    if (nk_tid < a->npops)
        a->nspk[nk_tid] = 0;
}
#endif

/* A projection's delivery (nk_deliver_all, above nk_dkargs). */
typedef struct nk_ddargs {
    const uint32_t *col;
    const float *w;
    const uint16_t *delay; /* NULL when every edge has udelay */
    int64_t *ring;
    int64_t n;             /* neurons of the target population */
    int32_t ring_len, udelay;
} nk_ddargs;

typedef struct nk_dfargs {
    const nk_ddargs *projs;
    const int64_t *halt;
    const int64_t *stepp;
    const nk_dpiece *pieces;
    const unsigned long long *npieces; /* as nk_dkargs.npieces */
    int64_t tbase;
    int64_t nthreads;      /* a multiple of 32 */
    /* a profiled run's counts (tot NULL: none): tot[0] += the step's spikes
     * (nspk of every population), tot[1] += its synaptic events (each
     * spike's rows, npieces[2], and graded_syn for the graded projections),
     * as the CPU backend counts them */
    int64_t *tot;
    const unsigned long long *nspk;
    int64_t npops, graded_syn;
} nk_dfargs;

#ifndef NK_CUDA_STRUCTS_ONLY
/* Connections e, e + stride, ... < end of projection d, from this step's
 * spike: four at a time, their loads before their atomics, so that a
 * thread has four loads in flight rather than one. */
NK_DEV void nk_deliver_run(const nk_ddargs *d, int64_t step, int64_t e, int64_t end,
                           int64_t stride)
{
    const int64_t base = step % d->ring_len, n = d->n, len = d->ring_len;
    const uint32_t *col = d->col;
    const float *w = d->w;
    const uint16_t *delay = d->delay;
    int64_t *ring = d->ring;
    const int32_t ud = d->udelay;
    for (; e < end; e += 4 * stride) {
        uint32_t c[4];
        int64_t v[4];
        int32_t dl[4];
        NK_UNROLL
        for (int j = 0; j < 4; j++) {
            const int64_t x = e + j * stride;
            c[j] = 0;
            v[j] = 0;
            dl[j] = ud;
            if (x < end) {
                c[j] = col[x];
                v[j] = nk_dfix((double)w[x] * 1.0);
                if (!ud)
                    dl[j] = delay[x];
            }
        }
        NK_UNROLL
        for (int j = 0; j < 4; j++)
            if (e + j * stride < end) {
                int64_t slot = base + dl[j];
                if (slot >= len)
                    slot -= len;
                nk_atomic_add_i64(ring + slot * n + c[j], v[j]);
            }
    }
}

NK_KERNEL(nk_deliver_all, nk_dfargs)
{
    const int64_t step = *a->stepp;
    if (*a->halt <= step)
        return;
    if (a->tot && nk_tid == 0) {
        int64_t sp = 0;
        for (int64_t q = 0; q < a->npops; q++)
            sp += (int64_t)a->nspk[q];
        if (sp)
            nk_atomic_add_i64(a->tot, sp);
        const int64_t ev = (int64_t)a->npieces[2] + a->graded_syn;
        if (ev)
            nk_atomic_add_i64(a->tot + 1, ev);
    }
    const int64_t nw = (int64_t)a->npieces[0], nt = (int64_t)a->npieces[1];
    const int64_t lane = nk_tid % 32, warps = a->nthreads / 32;
    for (int64_t q = nk_tid / 32; q < nw; q += warps) {
        const nk_dpiece p = a->pieces[q];
        nk_deliver_run(a->projs + p.k, step, p.e0 + lane, p.e0 + p.len, 32);
    }
    for (int64_t q = nk_tid; q < nt; q += a->nthreads) {
        const nk_dpiece p = a->pieces[a->tbase + q];
        nk_deliver_run(a->projs + p.k, step, p.e0, p.e0 + p.len, 1);
    }
}
#endif

/* Steps in one launch (NKSHELL_CUDA_BLOCK, cuda.c): a window's steps as
 * one launch, nk_block_run (written into the module after nk_update_all,
 * for the GPU alone), which runs each step's launches as ops, every thread
 * of the launch taking thread ids t0, t0 + T, ... of the op's launch (t0
 * its id in the grid, T the grid's threads), with a barrier between ops: no
 * launch and no graph node between phases. One block, the barrier is
 * __syncthreads; more blocks, all resident at once (a cooperative launch),
 * nk_grid_sync. An op's arguments are on the device. Kernels never wait for
 * each other's threads (above), so running a launch's threads in rounds is
 * running the launch. */
typedef struct nk_dop {
    int32_t fn, pad_;      /* which kernel (cuda.c, BLOCK_FNS) */
    int64_t nthreads;      /* its launch's threads */
    const void *args;      /* its argument struct */
} nk_dop;

typedef struct nk_dbrun {
    const nk_dop *ops;
    int64_t nsteps;        /* times the ops run, in order */
    unsigned int *bar;     /* nk_grid_sync's two words, 0 at the first launch */
    unsigned long long *stuck; /* a counter: 1 when a block gave up waiting (nk_grid_sync) */
    int32_t nops, pad_;
} nk_dbrun;

/* How long a block waits at nk_grid_sync for the others before it gives
 * up: all the launch's blocks are resident (cuda.c counts them, and the
 * launch is cooperative), so the others are only running their share of
 * an op, which takes micro- to milliseconds. A block that waits longer
 * waits for blocks that are not running (the device shared under MPS, a
 * driver that does not keep its word): without a limit the run would hang
 * with nothing to say why. */
#define NK_GRID_WAIT_NS 60000000000ull

#if !defined(NK_CUDA_STRUCTS_ONLY) && defined(NK_ON_GPU)
NK_DEV unsigned long long nk_globaltimer(void)
{
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* The barrier between two ops of nk_block_run: the block's, then, with more
 * than one block, the grid's. bar[0] counts the blocks that arrived; the
 * last to arrive sets it back to 0 and then advances bar[1], the
 * generation, which the others wait on. A block reads the generation before
 * it arrives, so it cannot miss the advance; no block arrives at the next
 * barrier before the count is back to 0. The fences order each block's
 * writes before its arrival, and the reads after the barrier after the
 * advance (the same pattern as a cooperative group's grid sync).
 *
 * b not NULL: the next op is nk_step_begin (n threads), which the barrier
 * runs, so that it needs no barrier of its own: the last block to arrive
 * runs it, on one thread, before the advance (one block: its threads, then
 * __syncthreads). Nothing else runs then, and it only writes the step
 * counter and zeroes counts (a few words).
 *
 * Returns 1 (to every thread of the block) when the launch is to end: this
 * block waited NK_GRID_WAIT_NS, or another did (*stuck, which the host
 * reads with the counters and reports; looked at only while waiting, every
 * 4096 turns, so that a barrier that does not wait costs no more). The
 * blocks still waiting see it and end too; a block that starts later runs
 * its ops until it waits at a barrier, then sees it and ends. */
NK_DEV int nk_grid_sync(unsigned int *bar, unsigned long long *stuck, const nk_dbargs *b,
                        int64_t n)
{
    __syncthreads();
    if (gridDim.x == 1) {
        if (b) {
            for (int64_t t = threadIdx.x; t < n; t += blockDim.x)
                nk_step_begin_body(b, t);
            __syncthreads();
        }
        return 0;
    }
    __shared__ int nk_gave_up;
    if (threadIdx.x == 0) {
        volatile unsigned int *gen = bar + 1;
        volatile unsigned long long *st = stuck;
        int up = 0;
        const unsigned int g = *gen;
        __threadfence();
        if (atomicAdd(bar, 1u) == gridDim.x - 1) {
            /* its threads past the populations do nothing */
            const int64_t m = b && b->npops > 1 ? b->npops : 1;
            for (int64_t t = 0; b && t < n && t < m; t++)
                nk_step_begin_body(b, t);
            atomicExch(bar, 0u);
            __threadfence();
            atomicAdd(bar + 1, 1u);
        } else {
            unsigned long long t0 = 0;
            for (unsigned int k = 1; *gen == g; k++) {
                if (k % 4096)
                    continue;
                if (*st) {
                    up = 1;
                    break;
                }
                const unsigned long long now = nk_globaltimer();
                if (!t0) {
                    t0 = now;
                } else if (now - t0 > NK_GRID_WAIT_NS) {
                    atomicExch(stuck, 1ull);
                    up = 1;
                    break;
                }
            }
        }
        __threadfence();
        nk_gave_up = up;
    }
    __syncthreads();
    return nk_gave_up;
}
#endif

/* dst[i] += src[i] for i < n (source input staged by the host). */
typedef struct nk_daargs {
    int64_t *dst;
    const int64_t *src;
    int64_t n;
} nk_daargs;

#ifndef NK_CUDA_STRUCTS_ONLY
NK_KERNEL(nk_add_i64, nk_daargs)
{
    if (nk_tid < a->n)
        a->dst[nk_tid] += a->src[nk_tid];
}
#endif

/* Drawn source input (poisson, bernoulli): one launch per step for every
 * part of every drawn source, one thread per entry. Thread j belongs to the
 * part whose `first` is the last <= j; it adds its count (nk_draw_one: the
 * numbers the CPU draws) x wfix to the step's slot of neuron idx[e] (or
 * plo + e), e = j - first. A part is drawn while start - 1e-9 dt <= t <
 * stop - 1e-9 dt, as on the host. Nothing is drawn for a step after one
 * that diverged. */
typedef struct nk_dpart {
    const int64_t *idx;    /* NULL: the part is plo, plo + 1, ... */
    int64_t *ring;         /* the receptor's ring buffer (ring_len x npop) */
    int64_t npop, plo, n, first, wfix;
    double start, stop;    /* ms */
    int32_t tab;           /* its source's table in tabs[] */
    uint32_t stream, off, pad_;
} nk_dpart;

typedef struct nk_dsargs {
    const nk_dpart *parts;
    const nk_draw_tab *tabs;
    const int64_t *halt;
    const int64_t *stepp;
    uint64_t seed;
    int64_t total;         /* the parts' entries */
    double dt;
    int32_t nparts, ring_len;
} nk_dsargs;

#ifndef NK_CUDA_STRUCTS_ONLY
/* Entry j's draw: by its source's table (ptrs 0: nk_draw_k), or, where the
 * table would be too long (a mean of 10 or more a step), by PTRS (ptrs 1:
 * nk_draw_big_k, which cuda.c launches only while a source needs it). Each
 * kernel skips the other's entries. Two kernels, as the PTRS path takes
 * 88 registers a thread and the table's 30 (sm_90, ptxas -v), and a step
 * in one launch (nk_block_run) has the registers of its largest op. */
NK_DEV void nk_draw_entry(const nk_dsargs *a, int64_t j, int ptrs)
{
    const int64_t step = *a->stepp;
    if (j >= a->total || *a->halt < step)
        return;
    const nk_dpart *p =
        a->parts + nk_last_first(&a->parts[0].first, (int64_t)sizeof *a->parts, a->nparts, j);
    const double t = (double)step * a->dt;
    if (!(t >= p->start - 1e-9 * a->dt && t < p->stop - 1e-9 * a->dt))
        return;
    const nk_draw_tab *tab = a->tabs + p->tab;
    if ((tab->K < 0) != ptrs)
        return;
    const int64_t e = j - p->first;
    const uint32_t c =
        ptrs ? nk_draw_by_ptrs(tab, a->seed, p->stream, (uint64_t)step, p->off + (uint32_t)e)
             : nk_draw_by_tab(tab, a->seed, p->stream, (uint64_t)step, p->off + (uint32_t)e);
    if (c)
        nk_atomic_add_i64(p->ring + (step % a->ring_len) * p->npop +
                              (p->idx ? p->idx[e] : p->plo + e),
                          (int64_t)c * p->wfix);
}

NK_KERNEL(nk_draw_k, nk_dsargs)
{
    nk_draw_entry(a, nk_tid, 0);
}

NK_KERNEL(nk_draw_big_k, nk_dsargs)
{
    nk_draw_entry(a, nk_tid, 1);
}
#endif

/* Current sources on the device (dc, step, ramp, ac, a global sine, noise,
 * array): one thread per neuron of every population with an external
 * current sets it, each step, to the sum of its sources' values, added in
 * the order the host adds them (stim.c's nk_sources_apply: by source, then
 * part, then entry; in float when the state is float), from the same
 * formulas, so that the bits are the host's. Neuron i of a population has
 * the entries row[i] .. row[i + 1] - 1 of ent: (source, index of the
 * neuron within the source). */
enum { NK_DC_DC, NK_DC_STEP, NK_DC_RAMP, NK_DC_SINE, NK_DC_NOISE, NK_DC_ARRAY, NK_DC_EQ };
typedef struct nk_dcsrc {
    int32_t kind, on;      /* on: 0 once the source is removed */
    double start, stop;    /* ms: on while start - 1e-9 dt <= t < stop - 1e-9 dt */
    double amplitude, from, to, frequency, phase, offset, mean, std;
    const int64_t *tstep;  /* step: the steps of the switches ... */
    const double *tab;     /* ... and their amplitudes; array: rows x cols values */
    int64_t ntab, rows, cols;
    int64_t s0, per;       /* noise, array: the first step, steps per interval */
    int32_t hold;          /* array: the last row holds after the end */
    uint32_t stream;
    int32_t src, pad_;     /* the source's number (equation: nk_eq_value's k) */
} nk_dcsrc;

typedef struct nk_dcent {
    int32_t src;
    uint32_t j;            /* the neuron's index within the source */
} nk_dcent;

typedef struct nk_dcpop {
    void *iext;
    const int64_t *row;    /* n + 1 */
    const nk_dcent *ent;
    const double *pos;     /* positions (x, y, z per neuron), for equations; or NULL */
    int64_t n, first;
    int32_t pop;
    int32_t heavy;         /* a noise or equation source: nk_cur_heavy_k's (below) */
} nk_dcpop;

typedef struct nk_dcargs {
    const nk_dcpop *pops;
    const nk_dcsrc *srcs;
    const int64_t *halt;
    const int64_t *stepp;
    uint64_t seed;
    double dt;
    int64_t total;
    int32_t npops, dbl;
} nk_dcargs;

#ifndef NK_CUDA_STRUCTS_ONLY
/* Equation sources: generated into the module (codegen.c,
 * nk_codegen_eqsrc_cuda). */
NK_DEV double nk_eq_value(int32_t k, int32_t pop, int64_t i, uint32_t j, double t, int64_t step,
                          uint64_t seed, const double *pos);

/* Source c's value for neuron i of population p, its neuron j, at step s
 * (t = s dt); 0 with *skip set when it adds nothing. heavy 0: p has no
 * noise or equation source, whose paths are then left out (a constant where
 * it is inlined). */
NK_DEV double nk_dc_value(const nk_dcargs *a, const nk_dcsrc *c, const nk_dcpop *p, int64_t i,
                          uint32_t j, int64_t s, int *skip, int heavy)
{
    const double t = (double)s * a->dt;
    *skip = 0;
    switch (c->kind) {
    case NK_DC_EQ:
        if (!heavy)
            return 0;
        return nk_eq_value(c->src, p->pop, i, j, t, s, a->seed, p->pos);
    case NK_DC_DC:
        return c->amplitude;
    case NK_DC_STEP: {
        int64_t x = 0, y = c->ntab; /* the last switch at or before s */
        while (x < y) {
            const int64_t m = (x + y) / 2;
            if (c->tstep[m] <= s)
                x = m + 1;
            else
                y = m;
        }
        const double v = x ? c->tab[x - 1] : 0;
        *skip = v == 0;
        return v;
    }
    case NK_DC_RAMP:
        return c->from + (c->to - c->from) * (t - c->start) / (c->stop - c->start);
    case NK_DC_SINE:
        return c->offset + c->amplitude * nk_sin(2 * 3.14159265358979323846 * c->frequency * t /
                                                     1000.0 +
                                                 c->phase * 3.14159265358979323846 / 180.0);
    case NK_DC_NOISE: {
        if (!heavy)
            return 0;
        nk_rng r;
        nk_rng_init(&r, a->seed, c->stream, (uint64_t)((s - c->s0) / c->per), j);
        return c->mean + c->std * nk_rng_normal(&r);
    }
    default: { /* NK_DC_ARRAY */
        int64_t row = (s - c->s0) / c->per;
        if (row >= c->rows && c->hold)
            row = c->rows - 1;
        if (row < 0 || row >= c->rows) {
            *skip = 1;
            return 0;
        }
        return c->tab[row * c->cols + (c->cols == 1 ? 0 : (int64_t)j)];
    }
    }
}

/* Neuron j's current (of every population with one, in turn): nk_cur_k
 * for the populations without a noise or equation source, nk_cur_heavy_k
 * for those with one (cuda.c launches it only then), each skipping the
 * other's. Two kernels, as the noise's normal draw takes the kernel from 48
 * registers a thread to 74 (sm_90, ptxas -v), and a step in one launch
 * (nk_block_run) has the registers of its largest op. A neuron's sources
 * are all summed by one kernel, in the host's order. */
NK_DEV void nk_cur_entry(const nk_dcargs *a, int64_t j, int heavy)
{
    const int64_t step = *a->stepp;
    if (j >= a->total || *a->halt < step)
        return;
    const nk_dcpop *p =
        a->pops + nk_last_first(&a->pops[0].first, (int64_t)sizeof *a->pops, a->npops, j);
    if (p->heavy != heavy)
        return;
    const int64_t i = j - p->first;
    const double t = (double)step * a->dt;
    double xd = 0;
    float xf = 0;
    for (int64_t e = p->row[i]; e < p->row[i + 1]; e++) {
        const nk_dcsrc *c = a->srcs + p->ent[e].src;
        if (!c->on || !(t >= c->start - 1e-9 * a->dt && t < c->stop - 1e-9 * a->dt))
            continue;
        int skip;
        const double v = nk_dc_value(a, c, p, i, p->ent[e].j, step, &skip, heavy);
        if (skip)
            continue;
        if (a->dbl)
            xd += v;
        else
            xf += (float)v;
    }
    if (a->dbl)
        ((double *)p->iext)[i] = xd;
    else
        ((float *)p->iext)[i] = xf;
}

NK_KERNEL(nk_cur_k, nk_dcargs)
{
    nk_cur_entry(a, nk_tid, 0);
}

NK_KERNEL(nk_cur_heavy_k, nk_dcargs)
{
    nk_cur_entry(a, nk_tid, 1);
}
#endif

/* Spike-time sources on the device: each source's events, sorted by step,
 * each with the ring slot row it adds to (the receptor's ring, the
 * population's size, the neuron). Source q has threads q * lanes ..
 * q * lanes + lanes - 1; each finds the source's first event of this step
 * by binary search and adds wfix for every lanes-th event of the step, as
 * the host adds them (the sums are fixed point: the order does not matter).
 * A source adds while it is on (its window, not removed). */
typedef struct nk_dstev {
    int64_t step;
    int64_t *ring;         /* the receptor's ring buffer (ring_len x npop) */
    int64_t npop, i;
} nk_dstev;

typedef struct nk_dstsrc {
    const nk_dstev *ev;
    int64_t nev, wfix;
    double start, stop;
    int32_t on, pad_;
} nk_dstsrc;

typedef struct nk_dstargs {
    const nk_dstsrc *srcs;
    const int64_t *halt;
    const int64_t *stepp;
    double dt;
    int64_t lanes;
    int32_t nsrcs, ring_len;
} nk_dstargs;

#ifndef NK_CUDA_STRUCTS_ONLY
NK_KERNEL(nk_stimes_k, nk_dstargs)
{
    const int64_t q = nk_tid / a->lanes, lane = nk_tid % a->lanes, step = *a->stepp;
    if (q >= a->nsrcs || *a->halt < step)
        return;
    const nk_dstsrc *c = a->srcs + q;
    const double t = (double)step * a->dt;
    if (!c->on || !(t >= c->start - 1e-9 * a->dt && t < c->stop - 1e-9 * a->dt))
        return;
    int64_t x = 0, y = c->nev; /* the first event at or after this step */
    while (x < y) {
        const int64_t m = (x + y) / 2;
        if (c->ev[m].step < step)
            x = m + 1;
        else
            y = m;
    }
    for (int64_t e = x + lane; e < c->nev && c->ev[e].step == step; e += a->lanes) {
        const nk_dstev *v = c->ev + e;
        nk_atomic_add_i64(v->ring + (step % a->ring_len) * v->npop + v->i, c->wfix);
    }
}
#endif

/* Sampled monitors (state, field) on the device: one launch per step, at
 * its start, for every (monitor, variable) pair, a "column" of the
 * monitor's n neurons. Thread j belongs to the column whose `first` is the
 * last <= j and copies entry e = j - first: the state of neuron idx[e] (or
 * lo + e). A monitor samples step s when s >= start and (s - start) % every
 * == 0, into row r = (s - start) / every of its buffer, at slot r % rows
 * (the host fetches rows at least every `rows` - 1 samples). Values keep
 * the state's type (dbl: double, else float). Nothing is sampled after a
 * step that diverged; the step that diverged is sampled, as on the host,
 * where sampling comes first. */
typedef struct nk_dscol {
    const void *var;       /* the state array */
    const int64_t *idx;    /* NULL: the neurons are lo, lo + 1, ... */
    void *buf;             /* rows x n x nvars values */
    int64_t lo, n, first, start, every;
    int32_t nvars, v, rows, pad_;
} nk_dscol;

typedef struct nk_dsmargs {
    const nk_dscol *cols;
    const int64_t *halt;
    const int64_t *stepp;
    int64_t total;         /* the columns' entries */
    int32_t ncols, dbl;
} nk_dsmargs;

#ifndef NK_CUDA_STRUCTS_ONLY
NK_KERNEL(nk_sample_k, nk_dsmargs)
{
    const int64_t j = nk_tid, step = *a->stepp;
    if (j >= a->total || *a->halt < step)
        return;
    const nk_dscol *c =
        a->cols + nk_last_first(&a->cols[0].first, (int64_t)sizeof *a->cols, a->ncols, j);
    if (step < c->start || (step - c->start) % c->every)
        return;
    const int64_t e = j - c->first, i = c->idx ? c->idx[e] : c->lo + e;
    const int64_t at = (((step - c->start) / c->every % c->rows) * c->n + e) * c->nvars + c->v;
    if (a->dbl)
        ((double *)c->buf)[at] = ((const double *)c->var)[i];
    else
        ((float *)c->buf)[at] = ((const float *)c->var)[i];
}
#endif

/* Rate monitors on the device: after the update, monitor m's NK_RATE_LANES
 * threads (tid / NK_RATE_LANES = m) count the step's spikes of its
 * population that are its neurons (in [lo, hi), and in the sorted idx when
 * there is one) into count[step % NK_RATE_SLOTS]; the host reads the
 * counts at least every NK_RATE_SLOTS steps and clears them. Integer sums:
 * the order does not matter. Nothing is counted after a step that
 * diverged. */
#define NK_RATE_LANES 256
#define NK_RATE_SLOTS 128
typedef struct nk_drmon {
    const int64_t *spk;    /* the population's spikes this step ... */
    const unsigned long long *nspk; /* ... and how many */
    const int64_t *idx;    /* NULL: every neuron of [lo, hi) */
    int64_t lo, hi, n;     /* n: entries of idx */
    unsigned long long *count; /* NK_RATE_SLOTS per-step counts */
} nk_drmon;

typedef struct nk_drargs {
    const nk_drmon *mons;
    const int64_t *halt;
    const int64_t *stepp;
    int64_t nmons;
} nk_drargs;

#ifndef NK_CUDA_STRUCTS_ONLY
NK_KERNEL(nk_rate_k, nk_drargs)
{
    const int64_t m = nk_tid / NK_RATE_LANES, lane = nk_tid % NK_RATE_LANES;
    const int64_t step = *a->stepp;
    if (m >= a->nmons || *a->halt < step)
        return;
    const nk_drmon *d = a->mons + m;
    const int64_t ns = (int64_t)*d->nspk;
    unsigned long long c = 0;
    for (int64_t q = lane; q < ns; q += NK_RATE_LANES) {
        const int64_t id = d->spk[q];
        if (id < d->lo || id >= d->hi)
            continue;
        if (d->idx) {
            int64_t x = 0, y = d->n;
            while (x < y) {
                const int64_t h = (x + y) / 2;
                if (d->idx[h] < id)
                    x = h + 1;
                else
                    y = h;
            }
            if (x == d->n || d->idx[x] != id)
                continue;
        }
        c++;
    }
    if (c)
        nk_atomic_add_i64((int64_t *)(d->count + step % NK_RATE_SLOTS), (int64_t)c);
}
#endif

/* Graded transmission of one projection: one thread per presynaptic neuron
 * computes its value g from the presynaptic states after this step's update
 * and adds w * g along its row (the generated nk_graded_P kernels). The
 * step is read from the device, as every kernel reads it, so that the
 * launches are those of any step (a CUDA graph's). */
typedef struct nk_dgargs {
    void *const *pre_state;
    const double *param;   /* the receptor's parameters */
    int64_t pre_lo, pre_hi;
    const int64_t *row;
    const uint32_t *col;
    const float *w;
    const uint16_t *delay;
    int64_t *ring;
    int64_t n;
    const int64_t *stepp;  /* the step, on the device (nk_step_begin) */
    const int64_t *halt;
    int32_t ring_len, udelay;
} nk_dgargs;

#ifndef NK_CUDA_STRUCTS_ONLY
NK_DEV void nk_graded_row(const nk_dgargs *a, int64_t j, int64_t step, double g)
{
    if (g == 0)
        return;
    const int64_t base = step % a->ring_len;
    const int64_t e0 = a->row[j - a->pre_lo], e1 = a->row[j - a->pre_lo + 1];
    for (int64_t e = e0; e < e1; e++) {
        int64_t slot = base + (a->udelay ? a->udelay : a->delay[e]);
        if (slot >= a->ring_len)
            slot -= a->ring_len;
        nk_atomic_add_i64(a->ring + slot * a->n + a->col[e], nk_dfix_any((double)a->w[e] * g));
    }
}
#endif

#endif
