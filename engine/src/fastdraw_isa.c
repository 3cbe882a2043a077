/* fastdraw_isa.c - the kernels of fastdraw.c, built once for each
 * instruction set it may pick (engine/meson.build): NKFD_ISA names the build
 * and suffixes its functions' names (fastdraw.h), and the compiler's flags
 * (-mavx512f; -mavx2 -mfma; none) say what the code below may use. The same
 * source, so the same operations: where the target has a fused multiply-add
 * (__FP_FAST_FMA), a product's exact error term comes from it, here and in
 * nk_math.h's nkm_two_prod, and it is the same double as Dekker's
 * splitting gives elsewhere (exact either way). */
#include <stdint.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "fastdraw.h"

#ifndef NKFD_ISA
#error "fastdraw_isa.c is built with -DNKFD_ISA=<name> (engine/meson.build)"
#endif

/* ---- eight at a time ---------------------------------------------------- */

/* The arithmetic below is on gcc's vectors of eight doubles: the same IEEE
 * operations, lane by lane, as the scalar formulas they follow, so the same
 * doubles. No branch: a lane's condition is a mask of all ones or zeros
 * (what a comparison of vectors gives), and a select takes bits by it. gcc
 * cuts the eight lanes into what the target's registers hold. */
typedef double vd __attribute__((vector_size(64)));
typedef uint64_t vu __attribute__((vector_size(64)));
typedef int64_t vl __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(32)));
typedef uint32_t vw __attribute__((vector_size(32)));

#define VN 8
/* These pass vectors only to functions inlined into their callers, so no
 * call's ABI depends on the target (the build gives -Wno-psabi). */
#define INLINE static inline __attribute__((always_inline))

INLINE vd vsel(vl m, vd a, vd b) { return (vd)(((vu)a & (vu)m) | ((vu)b & ~(vu)m)); }
INLINE vd vsplat(double x) { return (vd){x, x, x, x, x, x, x, x}; }

INLINE void vtwo_sum(vd a, vd b, vd *s, vd *e)
{
    const vd x = a + b, bv = x - a;
    *e = (a - (x - bv)) + (b - bv);
    *s = x;
}

INLINE void vfast_two_sum(vd a, vd b, vd *s, vd *e)
{
    const vd x = a + b;
    *e = b - (x - a);
    *s = x;
}

/* nkm_two_prod's exact error term: by a fused multiply-add where the target
 * has one (gcc makes the lanes' calls one vector instruction), else by
 * Dekker's product; exact either way, so the same bits */
INLINE void vtwo_prod(vd a, vd b, vd *p, vd *e)
{
#if defined(__FP_FAST_FMA)
    const vd x = a * b;
    vd r;
    for (int k = 0; k < VN; k++)
        r[k] = __builtin_fma(a[k], b[k], -x[k]);
    *e = r;
    *p = x;
#else
    const vd x = a * b, ca = 134217729.0 * a, cb = 134217729.0 * b;
    const vd ah = ca - (ca - a), bh = cb - (cb - b);
    const vd al = a - ah, bl = b - bh;
    *e = ((ah * bh - x) + ah * bl + al * bh) + al * bl;
    *p = x;
#endif
}

/* the uniforms of eight words, as nk_u01: (w + 1/2) 2^-32, w as a double
 * by way of a signed conversion (exact) */
INLINE vd vu01(const uint32_t *w)
{
    vw x;
    memcpy(&x, w, sizeof x);
    const vd d = __builtin_convertvector((vi)(x ^ 0x80000000u), vd) + 2147483648.0;
    return (d + 0.5) * 2.3283064365386963e-10;
}

/* log c for the lanes' table indices i, high parts to *th, low to *tl: by
 * the target's gather where it has one (lanes written one at a time and then
 * read as a vector wait for the stores: a tenth of a normal draw's time) */
INLINE void vgather(vi i, vd *th, vd *tl)
{
    const double *hi = nkfd_log_tab[0], *lo = nkfd_log_tab[1];
#if defined(__AVX512F__)
    *th = (vd)_mm512_i32gather_pd((__m256i)i, hi, 8);
    *tl = (vd)_mm512_i32gather_pd((__m256i)i, lo, 8);
#elif defined(__AVX2__)
    const __m128i i0 = _mm256_castsi256_si128((__m256i)i), i1 = _mm256_extracti128_si256((__m256i)i, 1);
    const __m256d h0 = _mm256_i32gather_pd(hi, i0, 8), h1 = _mm256_i32gather_pd(hi, i1, 8);
    const __m256d l0 = _mm256_i32gather_pd(lo, i0, 8), l1 = _mm256_i32gather_pd(lo, i1, 8);
    memcpy(th, &h0, sizeof h0);
    memcpy((char *)th + sizeof h0, &h1, sizeof h1);
    memcpy(tl, &l0, sizeof l0);
    memcpy((char *)tl + sizeof l0, &l1, sizeof l1);
#else
    for (int k = 0; k < VN; k++) {
        (*th)[k] = hi[i[k]];
        (*tl)[k] = lo[i[k]];
    }
#endif
}

/* The approximation of log x for positive normal finite x, and the lanes
 * where it is certain to be nk_log's double (all ones; elsewhere the
 * caller takes nk_log). */
INLINE vl vlog_approx(const vd *xp, vd *r)
{
    const vd x = *xp;
    vu b = (vu)x;
    /* the exponent field as a double, exactly: (2^52 + e) - 2^52 */
    vd kd = (vd)(b >> 52 | 0x4330000000000000ull) - 4503599627370496.0 - 1023.0;
    b = (b & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* [1, 2) */
    const vl fold = (vl)(b > 0x3ff6a09e667f3bcdull); /* m > sqrt(2): m / 2, k + 1 */
    b -= (vu)fold & 0x0010000000000000ull;
    kd += vsel(fold, vsplat(1.0), vsplat(0.0));
    const vd m = (vd)b;
    const vi j = __builtin_convertvector(m * 128.0 + 0.5, vi); /* NKFD_LOG_J0..J1 */
    const vd c = __builtin_convertvector(j, vd) * 0.0078125, g = m - c; /* exact */
    /* s = g / (m + c) as sh + sl: one division, sh within an ulp or so,
     * sl from the remainder (exact: the two products) */
    vd dh, dl, p, pe;
    vtwo_sum(m, c, &dh, &dl);
    const vd inv = 1.0 / dh, sh = g * inv;
    vtwo_prod(sh, dh, &p, &pe);
    const vd sl = (((g - p) - pe) - sh * dl) * inv;
    const vd z = sh * sh;
    const vd poly = z * (0.3333333333333333 + z * (0.2 + z * 0.14285714285714285));
    vd th, tl;
    vgather(j - NKFD_LOG_J0, &th, &tl);
    /* k ln2_hi + log c + 2s, the large parts, as h + e exactly */
    vd h1, e1, h2, e2;
    vtwo_sum(kd * NKM_LN2_HI, th, &h1, &e1);
    vtwo_sum(h1, 2.0 * sh, &h2, &e2);
    const vd lo = e1 + e2 + (kd * NKM_LN2_LO + tl) + 2.0 * sl + 2.0 * sh * poly;
    vd h, l;
    vfast_two_sum(h2, lo, &h, &l);
    const vd v = h + l;
    const vd bound = (vd)((vu)h & 0x7fffffffffffffffull) * 0x1p-60;
    *r = v;
    /* positive normal finite x, and both ends of the interval round to v */
    const vu xb = (vu)x;
    return (vl)(xb >= 0x0010000000000000ull) & (vl)(xb < 0x7ff0000000000000ull) &
           (h + (l + bound) == v) & (h + (l - bound) == v);
}

__attribute__((flatten)) static void log_block(const double *x, double *out)
{
    vd v, r;
    memcpy(&v, x, sizeof v);
    const vl ok = vlog_approx(&v, &r);
    memcpy(out, &r, sizeof r);
    for (int k = 0; k < VN; k++)
        if (!ok[k])
            out[k] = nk_log(x[k]);
}

void NKFD(log_n)(const double *x, double *out, int64_t n)
{
    int64_t i = 0;
    for (; i + VN <= n; i += VN)
        log_block(x + i, out + i);
    if (i < n) {
        double xt[VN] = {1, 1, 1, 1, 1, 1, 1, 1}, ot[VN];
        memcpy(xt, x + i, (size_t)(n - i) * sizeof *xt);
        log_block(xt, ot);
        memcpy(out + i, ot, (size_t)(n - i) * sizeof *ot);
    }
}

/* ---- normal draws, many at once ---------------------------------------- */

#define NORM_BLOCK 64

/* The words of NORM_BLOCK draws (two each: u1, u2) to out: -2 log u1 and
 * nk_cos's reduction of x = 2 pi u2 in vectors, then nkm_sin_dd and
 * nkm_cos_dd over the block (loops gcc vectorises: they have no branch;
 * their nkm_two_prod takes the FMA where the build has one),
 * then each lane's side and sign, in vectors again. Lanes where the
 * logarithm was not certain take nk_log's. (nk_rng_normal's product is
 * the square root times the cosine: the same double either way round.) */
__attribute__((flatten)) static void normals_block(const uint32_t *w, double *out)
{
    double rh[NORM_BLOCK] __attribute__((aligned(64))), rl[NORM_BLOCK] __attribute__((aligned(64)));
    double sh[NORM_BLOCK], sl[NORM_BLOCK], ch[NORM_BLOCK], cl[NORM_BLOCK];
    double lgs[NORM_BLOCK] __attribute__((aligned(64)));
    vl ok[NORM_BLOCK / VN], quad[NORM_BLOCK / VN];
    for (int v = 0; v < NORM_BLOCK / VN; v++) {
        uint32_t w1[VN], w2[VN];
        for (int k = 0; k < VN; k++) {
            w1[k] = w[2 * (VN * v + k)];
            w2[k] = w[2 * (VN * v + k) + 1];
        }
        vd lg;
        const vd u1 = vu01(w1);
        ok[v] = vlog_approx(&u1, &lg);
        memcpy(&lgs[VN * v], &lg, sizeof lg);
        /* nkm_rem_pio2 for 0 < x < 2 pi: its nearest n (nkm_round_away) is
         * the truncation of x 2/pi + 1/2 */
        const vd x = 6.283185307179586 * vu01(w2);
        const vi ni = __builtin_convertvector(x * NKM_2_OVER_PI + 0.5, vi);
        const vd n = __builtin_convertvector(ni, vd);
        vd h, e, h2, e2, th, tl;
        const vd a = x - n * NKM_PIO2_1; /* exact */
        vtwo_sum(a, -(n * NKM_PIO2_2), &h, &e);
        vtwo_sum(h, -(n * NKM_PIO2_3), &h2, &e2);
        const vd lo = (e + e2) - n * NKM_PIO2_4;
        vtwo_sum(h2, lo, &th, &tl);
        const vl small = x <= NKM_PI_4;
        const vd rhv = vsel(small, x, th), rlv = vsel(small, vsplat(0.0), tl);
        memcpy(&rh[VN * v], &rhv, sizeof rhv);
        memcpy(&rl[VN * v], &rlv, sizeof rlv);
        quad[v] = __builtin_convertvector(ni, vl) & ~small & 3;
    }
    for (int i = 0; i < NORM_BLOCK; i++)
        nkm_sin_dd(rh[i], rl[i], &sh[i], &sl[i]);
    for (int i = 0; i < NORM_BLOCK; i++)
        nkm_cos_dd(rh[i], rl[i], &ch[i], &cl[i]);
    for (int v = 0; v < NORM_BLOCK / VN; v++) {
        vd s, sv, c, cv;
        memcpy(&s, &sh[VN * v], sizeof s);
        memcpy(&sv, &sl[VN * v], sizeof sv);
        memcpy(&c, &ch[VN * v], sizeof c);
        memcpy(&cv, &cl[VN * v], sizeof cv);
        /* nk_cos: odd quadrants take the sine; quadrants 1 and 2 are
         * negative. (Below 2^-27 nk_cos returns 1 without this: so does
         * nkm_cos_dd, as x >= 2 pi 2^-33 and x^2 / 2 < 2^-55.) */
        const vl q = quad[v];
        vd cosx = vsel((q & 1) != 0, s + sv, c + cv);
        cosx = (vd)((vu)cosx ^ ((vu)((q + 1) & 2) << 62));
        memcpy(&out[VN * v], &cosx, sizeof cosx);
    }
    /* the logarithms that were not certain, from nk_log itself */
    for (int v = 0; v < NORM_BLOCK / VN; v++) {
        vl none = ok[v];
        for (int k = 1; k < VN; k++)
            none[0] &= ok[v][k];
        if (!none[0])
            for (int k = 0; k < VN; k++)
                if (!ok[v][k])
                    lgs[VN * v + k] = nk_log(nk_u01(w[2 * (VN * v + k)]));
    }
    for (int i = 0; i < NORM_BLOCK; i++)
        out[i] *= nk_sqrt(-2.0 * lgs[i]);
}

void NKFD(normals)(const uint32_t *w, double *out, int64_t n)
{
    int64_t i = 0;
    for (; i + NORM_BLOCK <= n; i += NORM_BLOCK)
        normals_block(w + 2 * i, out + i);
    if (i < n) { /* the last few: a block's words, the rest of them zero */
        uint32_t wt[2 * NORM_BLOCK] = {0};
        double ot[NORM_BLOCK];
        memcpy(wt, w + 2 * i, (size_t)(n - i) * 2 * sizeof *wt);
        normals_block(wt, ot);
        memcpy(out + i, ot, (size_t)(n - i) * sizeof *ot);
    }
}

/* ---- words of a stream, many at once ----------------------------------- */

typedef uint64_t vq __attribute__((vector_size(64))); /* eight 64-bit products */

/* a[k] m as 64-bit products: the multiply of the low 32 bits of 64-bit
 * lanes where the target has it (gcc's own form of the product is three
 * multiplies: it does not see that the high halves are zero) */
INLINE vq vmul32(vw a, uint32_t m)
{
#if defined(__AVX512F__)
    return (vq)_mm512_mul_epu32(_mm512_cvtepu32_epi64((__m256i)a), _mm512_set1_epi64(m));
#elif defined(__AVX2__)
    const __m256i mm = _mm256_set1_epi64x(m);
    const __m128i lo = _mm256_castsi256_si128((__m256i)a),
                  hi = _mm256_extracti128_si256((__m256i)a, 1);
    const __m256i p0 = _mm256_mul_epu32(_mm256_cvtepu32_epi64(lo), mm),
                  p1 = _mm256_mul_epu32(_mm256_cvtepu32_epi64(hi), mm);
    vq r;
    memcpy(&r, &p0, sizeof p0);
    memcpy((char *)&r + sizeof p0, &p1, sizeof p1);
    return r;
#else
    return __builtin_convertvector(a, vq) * m;
#endif
}

/* Philox's ten rounds are a chain: each round's multiply waits for the
 * last round. PHILOX_G groups of eight blocks go through them side by side
 * so that the core has independent work (on the development machine's
 * AVX-512, a normal draw's two words took 2.9 ns with one group, 1.7-1.9 ns
 * with four: fastdraw.c). */
#define PHILOX_G 4
#define PHILOX_BLOCKS (PHILOX_G * VN)

/* Blocks draw0 .. draw0 + PHILOX_BLOCKS - 1 of r's stream: nk_philox4x32_10
 * on PHILOX_BLOCKS counters at once, out[4 b + k] word k of block b. */
INLINE void philox_run(const nk_rng *r, uint32_t draw0, uint32_t *out)
{
    vw c0[PHILOX_G], c1[PHILOX_G], c2[PHILOX_G], c3[PHILOX_G];
    const uint32_t hi = ((r->stream & 0xFFFFu) << 16) | (uint32_t)((r->step >> 32) & 0xFFFFu);
    for (int g = 0; g < PHILOX_G; g++) {
        c0[g] = (vw){0, 1, 2, 3, 4, 5, 6, 7} + (draw0 + (uint32_t)(VN * g));
        c1[g] = (vw){0} + r->index;
        c2[g] = (vw){0} + (uint32_t)r->step;
        c3[g] = (vw){0} + hi;
    }
    uint32_t k0 = (uint32_t)r->seed, k1 = (uint32_t)(r->seed >> 32);
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += NK_PHILOX_W0;
            k1 += NK_PHILOX_W1;
        }
#pragma GCC unroll 8
        for (int g = 0; g < PHILOX_G; g++) {
            const vq p0 = vmul32(c0[g], NK_PHILOX_M0);
            const vq p1 = vmul32(c2[g], NK_PHILOX_M1);
            c0[g] = __builtin_convertvector(p1 >> 32, vw) ^ c1[g] ^ k0;
            c1[g] = __builtin_convertvector(p1, vw);
            c2[g] = __builtin_convertvector(p0 >> 32, vw) ^ c3[g] ^ k1;
            c3[g] = __builtin_convertvector(p0, vw);
        }
    }
    for (int g = 0; g < PHILOX_G; g++)
        for (int b = 0; b < VN; b++) {
            uint32_t *o = out + 4 * (VN * g + b);
            o[0] = c0[g][b];
            o[1] = c1[g][b];
            o[2] = c2[g][b];
            o[3] = c3[g][b];
        }
}

void NKFD(blocks)(const nk_rng *r, uint32_t draw0, uint32_t *out, int64_t nblocks)
{
    int64_t i = 0;
    for (; i + PHILOX_BLOCKS <= nblocks; i += PHILOX_BLOCKS)
        philox_run(r, draw0 + (uint32_t)i, out + 4 * i);
    if (i < nblocks) { /* the last few: a run made whole, and the rest left */
        uint32_t t[4 * PHILOX_BLOCKS];
        philox_run(r, draw0 + (uint32_t)i, t);
        memcpy(out + 4 * i, t, (size_t)(nblocks - i) * 4 * sizeof *t);
    }
}
