/* nk_philox.h - counter-based random numbers for the nkshell runtime.
 *
 * Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as
 * easy as 1, 2, 3", SC11; the Random123 library) maps a 128-bit counter
 * and a 64-bit key to 128 random bits.  Nothing is stored between calls:
 * a number is a pure function of (seed, stream, step, index, draw), so CPU
 * and GPU runs, any thread layout and any order of evaluation give the
 * same numbers.
 *
 * Counter layout used by the whole engine:
 *   key[0] = seed bits 0..31          key[1] = seed bits 32..63
 *   ctr[0] = draw   (sub-counter for several blocks at one (step, index))
 *   ctr[1] = index  (neuron or presynaptic index)
 *   ctr[2] = step bits 0..31
 *   ctr[3] = (stream << 16) | (step bits 32..47)
 * stream is a 16-bit stream id (one per use site: noise, Poisson input,
 * connectivity, ...); step must be < 2^48.
 *
 * Derived variates (uniform, normal, Poisson, binomial, bounded integer)
 * use only IEEE double arithmetic and the functions of nk_math.h, so they
 * are bit-identical on CPU and GPU.  Like nk_math.h this header is pasted
 * into generated C and CUDA code; it includes nk_math.h itself unless that
 * was already pasted/included before it (NK_MATH_H defined).
 *
 * NK_RT_FN is `static inline` in C and `static __device__ __forceinline__`
 * in CUDA; define it before including this file to override. */
#ifndef NK_PHILOX_H
#define NK_PHILOX_H

#ifndef NK_MATH_H
#include "nk_math.h"
#endif

/* NK_RT_DRAW: the draws model code makes per neuron, always inlined under
 * GCC, so that a loop over neurons drawing more than one vectorises (GCC
 * inlined nk_rng_normal where a loop called it once, not twice, and the
 * call kept the loop scalar). */
#if defined(__GNUC__) && !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
#define NK_RT_DRAW NK_RT_FN __attribute__((always_inline))
#else
#define NK_RT_DRAW NK_RT_FN
#endif

#define NK_PHILOX_M0 0xD2511F53u
#define NK_PHILOX_M1 0xCD9E8D57u
#define NK_PHILOX_W0 0x9E3779B9u
#define NK_PHILOX_W1 0xBB67AE85u

/* nk_philox4x32_10: the Philox4x32 block function with 10 rounds, as
 * Random123's philox4x32_R(10, ctr, key); reproduces Random123's
 * known-answer vectors. out may not alias ctr. */
NK_RT_DRAW void nk_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                                 uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    int round;
    for (round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)NK_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)NK_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        if (round > 0) { /* key schedule: bump before rounds 2..10 */
            k0 += NK_PHILOX_W0;
            k1 += NK_PHILOX_W1;
        }
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* nk_rng_block: the 4 words of block `draw` at (seed, stream, step, index),
 * with the counter layout described at the top of this file. */
NK_RT_DRAW void nk_rng_block(uint64_t seed, uint32_t stream, uint64_t step,
                             uint32_t index, uint32_t draw, uint32_t out[4])
{
    uint32_t ctr[4], key[2];
    key[0] = (uint32_t)seed;
    key[1] = (uint32_t)(seed >> 32);
    ctr[0] = draw;
    ctr[1] = index;
    ctr[2] = (uint32_t)step;
    ctr[3] = ((stream & 0xFFFFu) << 16) | (uint32_t)((step >> 32) & 0xFFFFu);
    nk_philox4x32_10(ctr, key, out);
}

/* nk_u01: uniform double in the open interval (0, 1): (x + 0.5) 2^-32.
 * Exact; smallest 2^-33, largest 1 - 2^-33. */
NK_RT_DRAW double nk_u01(uint32_t x)
{
    return ((double)x + 0.5) * 2.3283064365386963e-10;
}

/* A stream of numbers at one (seed, stream, step, index): successive
 * blocks draw = 0, 1, 2, ... each give 4 words. */
typedef struct {
    uint64_t seed;
    uint32_t stream;
    uint64_t step;
    uint32_t index;
    uint32_t draw; /* next block to generate */
    uint32_t buf[4];
    int left; /* unread words in buf (the last `left` ones) */
} nk_rng;

/* nk_rng_init: start the stream at draw 0. */
NK_RT_DRAW void nk_rng_init(nk_rng *r, uint64_t seed, uint32_t stream,
                            uint64_t step, uint32_t index)
{
    r->seed = seed;
    r->stream = stream;
    r->step = step;
    r->index = index;
    r->draw = 0;
    r->buf[0] = r->buf[1] = r->buf[2] = r->buf[3] = 0;
    r->left = 0;
}

/* nk_rng_u32: next 32-bit word: out[0..3] of block 0, then of block 1...
 * The word is picked by comparisons, not by indexing buf with a variable:
 * on a GPU an array indexed so lives in the thread's local memory (a stack
 * frame in every kernel that draws), while selects keep it in registers. */
NK_RT_DRAW uint32_t nk_rng_u32(nk_rng *r)
{
    if (r->left <= 0) {
        nk_rng_block(r->seed, r->stream, r->step, r->index, r->draw, r->buf);
        r->draw++;
        r->left = 4;
    }
    const int k = 4 - r->left--;
    return k == 0 ? r->buf[0] : k == 1 ? r->buf[1] : k == 2 ? r->buf[2] : r->buf[3];
}

/* nk_rng_uniform: uniform double in (0, 1), one word per call. */
NK_RT_DRAW double nk_rng_uniform(nk_rng *r)
{
    return nk_u01(nk_rng_u32(r));
}

/* nk_rng_normal: standard normal variate (Box-Muller, cosine branch):
 * sqrt(-2 log u1) cos(2 pi u2); two words per call.  |result| <= 6.77
 * (u1 >= 2^-33). The host draws many at once with nk_rng_normals
 * (fastdraw.h), the same doubles. No branch depends on the words (the
 * cosine is nkm_cos_2pi, nk_cos's bits), so that model code drawing one
 * per neuron vectorises. */
NK_RT_DRAW double nk_rng_normal(nk_rng *r)
{
    double u1 = nk_rng_uniform(r);
    double u2 = nk_rng_uniform(r);
    return nk_sqrt(-2.0 * nk_log(u1)) * nkm_cos_2pi(u2);
}

/* nk_rng_below: uniform integer in [0, n) without bias (Lemire's
 * multiply-and-reject); n == 0 gives 0. */
NK_RT_FN uint32_t nk_rng_below(nk_rng *r, uint32_t n)
{
    uint64_t m;
    uint32_t lo;
    if (n == 0)
        return 0;
    m = (uint64_t)nk_rng_u32(r) * n;
    lo = (uint32_t)m;
    if (lo < n) {
        uint32_t t = (uint32_t)(0u - n) % n; /* 2^32 mod n */
        while (lo < t) {
            m = (uint64_t)nk_rng_u32(r) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* log(k!) for integer-valued k >= 0: exact product below 16, Stirling
 * series (4 terms, error < 1e-15 relative) above. */
NK_RT_FN double nkm_log_factorial(double k)
{
    double x, ix, ix2;
    if (k < 16.0) {
        double p = 1.0, i;
        for (i = 2.0; i <= k; i += 1.0)
            p *= i;
        return nk_log(p);
    }
    x = k + 1.0;
    ix = 1.0 / x;
    ix2 = ix * ix;
    return (x - 0.5) * nk_log(x) - x + 0.9189385332046728 +
           ix * (0.08333333333333333 -
           ix2 * (0.002777777777777778 -
           ix2 * (0.0007936507936507937 - ix2 * 0.0005952380952380953)));
}

/* What a Poisson variate of mean lambda needs that does not depend on the
 * draw: made once by nk_poisson_prep, then used for any number of draws
 * (a source's lambda is the same for all its neurons in a step). */
typedef struct {
    double lambda;
    double lim;                      /* lambda < 10: exp(-lambda) */
    double slam, loglam, b, a, inv_alpha, vr, log_inv_alpha; /* PTRS */
} nk_poisson_k;

/* nk_poisson_prep: the constants of nk_rng_poisson_k for mean lambda. */
NK_RT_FN void nk_poisson_prep(nk_poisson_k *k, double lambda)
{
    k->lambda = lambda;
    k->lim = 0.0;
    k->slam = k->loglam = k->b = k->a = k->inv_alpha = k->vr = k->log_inv_alpha = 0.0;
    if (!(lambda > 0.0))
        return;
    if (lambda < 10.0) {
        k->lim = nk_exp(-lambda);
        return;
    }
    k->slam = nk_sqrt(lambda);
    k->loglam = nk_log(lambda);
    k->b = 0.931 + 2.53 * k->slam;
    k->a = -0.059 + 0.02483 * k->b;
    k->inv_alpha = 1.1239 + 1.1328 / (k->b - 3.4);
    k->vr = 0.9277 - 3.6224 / (k->b - 2.0);
    k->log_inv_alpha = nk_log(k->inv_alpha);
}

/* nk_rng_poisson_k: Poisson variate with the mean nk_poisson_prep was
 * given.  lambda <= 0 (or NaN) gives 0.  lambda < 10: Knuth's
 * multiplication method (lambda + 1 words on average).  lambda >= 10:
 * Hormann's PTRS transformed rejection ("The transformed rejection method
 * for generating Poisson random variables", 1993; ~2.3 words on average).
 * Results saturate at 2^32 - 1 (lambda must stay well below 4e9). */
NK_RT_FN uint32_t nk_rng_poisson_k(nk_rng *r, const nk_poisson_k *q)
{
    const double lambda = q->lambda;
    if (!(lambda > 0.0))
        return 0;
    if (lambda < 10.0) {
        double lim = q->lim, p = 1.0;
        uint32_t k = 0;
        for (;;) {
            p *= nk_rng_uniform(r);
            if (p <= lim)
                return k;
            k++;
        }
    } else {
        const double b = q->b, a = q->a, vr = q->vr;
        for (;;) {
            double u = nk_rng_uniform(r) - 0.5;
            double v = nk_rng_uniform(r);
            double us = 0.5 - nk_fabs(u);
            double k = nk_floor((2.0 * a / us + b) * u + lambda + 0.43);
            if (us >= 0.07 && v <= vr)
                return k >= 4294967295.0 ? 4294967295u : (uint32_t)k;
            if (k < 0.0 || (us < 0.013 && v > us))
                continue;
            if (nk_log(v) + q->log_inv_alpha - nk_log(a / (us * us) + b) <=
                -lambda + k * q->loglam - nkm_log_factorial(k))
                return k >= 4294967295.0 ? 4294967295u : (uint32_t)k;
        }
    }
}

/* nk_rng_poisson: Poisson variate with mean lambda (nk_rng_poisson_k's
 * method; the same draws give the same result). */
NK_RT_FN uint32_t nk_rng_poisson(nk_rng *r, double lambda)
{
    nk_poisson_k q;
    nk_poisson_prep(&q, lambda);
    return nk_rng_poisson_k(r, &q);
}

/* Binomial(n, p) for 0 < p <= 0.5 (see nk_rng_binomial). */
NK_RT_FN uint32_t nkm_binomial_half(nk_rng *r, uint32_t n, double p)
{
    double q = 1.0 - p, dn = (double)n, np = dn * p;
    if (np < 30.0) {
        /* inversion: walk the pmf f(x+1) = f(x) (a/(x+1) - s) */
        double s = p / q, a = (dn + 1.0) * s;
        double f0 = nk_exp(dn * nk_log1p(-p)); /* q^n >= e^-42 here */
        double bound = nk_fmin(dn, np + 10.0 * nk_sqrt(np * q + 1.0));
        for (;;) {
            double u = nk_rng_uniform(r), f = f0, x = 0.0;
            for (;;) {
                if (u <= f)
                    return (uint32_t)x;
                u -= f;
                x += 1.0;
                if (x > bound)
                    break; /* far tail (P < 1e-20): restart */
                f *= a / x - s;
            }
        }
    } else {
        /* BTRS: Hormann, "The generation of binomial random variates",
         * J. Stat. Comput. Simul. 46, 1993 */
        double spq = nk_sqrt(np * q);
        double b = 1.15 + 2.53 * spq;
        double a = -0.0873 + 0.0248 * b + 0.01 * p;
        double c = np + 0.5;
        double vr = 0.92 - 4.2 / b;
        double alpha = (2.83 + 5.1 / b) * spq;
        double lpq = nk_log(p / q);
        double m = nk_floor((dn + 1.0) * p);
        double h = nkm_log_factorial(m) + nkm_log_factorial(dn - m);
        for (;;) {
            double u = nk_rng_uniform(r) - 0.5;
            double v = nk_rng_uniform(r);
            double us = 0.5 - nk_fabs(u);
            double k = nk_floor((2.0 * a / us + b) * u + c);
            if (k < 0.0 || k > dn)
                continue;
            if (us >= 0.07 && v <= vr)
                return (uint32_t)k;
            v = nk_log(v * alpha / (a / (us * us) + b));
            if (v <= h - nkm_log_factorial(k) - nkm_log_factorial(dn - k) +
                         (k - m) * lpq)
                return (uint32_t)k;
        }
    }
}

/* nk_rng_binomial: Binomial(n, p) variate (number of successes in n
 * Bernoulli(p) trials).  p <= 0 (or NaN) gives 0, p >= 1 gives n.
 * For p > 1/2 returns n - Binomial(n, 1 - p).  With p' = min(p, 1-p):
 * n p' < 30 uses inversion (n p' + 1 words on average), otherwise
 * Hormann's BTRS transformed rejection (~2.3 words on average). */
NK_RT_FN uint32_t nk_rng_binomial(nk_rng *r, uint32_t n, double p)
{
    if (!(p > 0.0) || n == 0)
        return 0;
    if (p >= 1.0)
        return n;
    if (p > 0.5)
        return n - nkm_binomial_half(r, n, 1.0 - p);
    return nkm_binomial_half(r, n, p);
}

/* ---- drawn spike input (poisson and bernoulli sources) ------------------- */

/* A source's spike count for one neuron and step is drawn by inversion: one
 * uniform u (53 bits, from the first two words of block 0 at (seed, stream,
 * step, index)) and the table of the count's cumulative distribution,
 * count = #{k < K : cdf[k] < u}. The table is the same for all the source's
 * neurons in a step, so the draws of many neurons are the same operations
 * on different data: a loop the compiler vectorises, or one GPU thread
 * each. Where the table would be too long (a Poisson mean of 10 or more
 * per step) K is -1 and the count comes from nk_rng_poisson_k. */
#define NK_DRAW_KMAX 48
typedef struct nk_draw_tab {
    int32_t K, pad_;
    double cdf[NK_DRAW_KMAX];
    nk_poisson_k pk;                 /* K == -1 */
} nk_draw_tab;

/* nk_draw_u: the uniform in (0, 1) of entry `index` at (seed, stream, step). */
NK_RT_FN double nk_draw_u(uint64_t seed, uint32_t stream, uint64_t step, uint32_t index)
{
    uint32_t out[4];
    nk_rng_block(seed, stream, step, index, 0, out);
    return ((double)(((uint64_t)out[0] << 21) | (uint64_t)(out[1] >> 11)) + 0.5) *
           1.1102230246251565e-16; /* 2^-53 */
}

/* nk_draw_one's count where the table is long enough (t->K >= 0) ... */
NK_RT_FN uint32_t nk_draw_by_tab(const nk_draw_tab *t, uint64_t seed, uint32_t stream,
                                 uint64_t step, uint32_t index)
{
    const double u = nk_draw_u(seed, stream, step, index);
    uint32_t c = 0;
    for (int k = 0; k < t->K; k++)
        c += t->cdf[k] < u;
    return c;
}

/* ... and where it is not (t->K == -1): a GPU kernel with this path needs
 * three times the registers (nk_cuda.h, nk_draw_big_k) */
NK_RT_FN uint32_t nk_draw_by_ptrs(const nk_draw_tab *t, uint64_t seed, uint32_t stream,
                                  uint64_t step, uint32_t index)
{
    nk_rng r;
    nk_rng_init(&r, seed, stream, step, index);
    return nk_rng_poisson_k(&r, &t->pk);
}

/* nk_draw_one: the count of entry `index` (what a vectorised loop over the
 * entries computes for each of them). */
NK_RT_FN uint32_t nk_draw_one(const nk_draw_tab *t, uint64_t seed, uint32_t stream,
                              uint64_t step, uint32_t index)
{
    return t->K < 0 ? nk_draw_by_ptrs(t, seed, stream, step, index)
                    : nk_draw_by_tab(t, seed, stream, step, index);
}

#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
/* nk_draw_part: adds count x wfix to slot[i] for the entries j in [j0, j1)
 * of a part of a drawn source whose neuron i (idx[j], or plo + j when idx
 * is NULL) lies in [lo, hi); entry j is index off + j of the source. The
 * CPU's generated modules export it as nk_draw, compiled for the host's
 * vector units. */
NK_RT_FN void nk_draw_part(const nk_draw_tab *t, uint64_t seed, uint32_t stream,
                           uint64_t step, uint32_t off, int64_t j0, int64_t j1,
                           const int64_t *idx, int64_t plo, int64_t lo, int64_t hi,
                           int64_t wfix, int64_t *slot)
{
    double u[256];
    uint32_t c[256];
    for (int64_t b = j0; b < j1; b += 256) {
        const int n = j1 - b < 256 ? (int)(j1 - b) : 256;
        const uint32_t i0 = off + (uint32_t)b;
        if (t->K < 0) {
            for (int j = 0; j < n; j++)
                c[j] = nk_draw_one(t, seed, stream, step, i0 + (uint32_t)j);
        } else {
            /* nk_draw_one's steps, a loop over the entries each */
            for (int j = 0; j < n; j++) {
                u[j] = nk_draw_u(seed, stream, step, i0 + (uint32_t)j);
                c[j] = 0;
            }
            for (int k = 0; k < t->K; k++) {
                const double ck = t->cdf[k];
                for (int j = 0; j < n; j++)
                    c[j] += ck < u[j];
            }
        }
        if (!idx) {
            int64_t *d = slot + plo + b;
            for (int j = 0; j < n; j++)
                d[j] += (int64_t)c[j] * wfix;
        } else {
            for (int j = 0; j < n; j++) {
                const int64_t i = idx[b + j];
                if (c[j] && i >= lo && i < hi)
                    slot[i] += (int64_t)c[j] * wfix;
            }
        }
    }
}
#endif

#endif /* NK_PHILOX_H */
