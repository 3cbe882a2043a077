/* fastdraw.c - the host's draws for construction, many at once, the same
 * numbers as nk_philox.h's and nk_math.h's functions one at a time
 * (fastdraw.h): the words of a Philox stream, eight blocks at once; normal
 * draws, 64 at a time; and the logarithm, eight at a time, which the
 * normal draws take. On the 2-core development machine (a scratch
 * benchmark of 4 M draws, 2026-11-23) a normal draw took 55 ns one at a
 * time (nk_rng_normal with the scalar form of the logarithm below) and
 * 17-18 ns here, its two words 9.3 ns one at a time and 5.5 ns here.
 *
 * The logarithm. nk_log rounds a double-double approximation of relative
 * error about 2^-65 (nkm_log_dd). Here a shorter one is made, with a bound
 * E on its error: when every value within E of it, widened by nkm_log_dd's
 * own error, rounds to one double r, the logarithm rounds to r and so does
 * nkm_log_dd's approximation, so r is nk_log's result. Otherwise (about
 * one call in a hundred) nk_log itself is taken. Rounding is monotone, so
 * it is enough that the interval's two ends round to r.
 *
 * The approximation: x = 2^k m, m in [sqrt(1/2), sqrt(2)); c = j / 128 the
 * nearest multiple of 1/128 to m (|m - c| <= 1/256, m - c exact);
 * log x = k ln 2 + log c + log(m / c), log(m / c) = 2 atanh(s), s = (m - c)
 * / (m + c) as a double-double (|s| < 2^-8), 2 atanh(s) = 2s + 2s z (1/3 +
 * z/5 + z^2/7) with z = s^2 < 2^-16 (truncated after 2^-67 of 2s). log c
 * comes from a table of double-doubles made once by nkm_log_dd. The error,
 * relative to the result: the table's 2^-65 of log c, where |log c| <= 3.4
 * |log x| when j != 128, about 2^-63, the polynomial's 2^-67 and the
 * sums' 2^-100; the test allows 2^-60. tests/unit/test_math.c compares
 * the two on millions of arguments, and `test_math --log-u01` on all 2^32
 * of the random streams' uniforms (and the normal draws on all 2^32 words
 * of their second uniform). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "fastdraw.h"

#define LOG_J0 90  /* 128 sqrt(1/2) = 90.5 */
#define LOG_J1 182 /* 128 sqrt(2) = 181.02 */
#define LOG_N (LOG_J1 - LOG_J0 + 1)

/* log c as hi + lo for c = j / 128, j = LOG_J0..LOG_J1 (index j - LOG_J0) */
static double log_hi[LOG_N], log_lo[LOG_N];
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int log_ready; /* the table is made (read with acquire) */

static void log_tab_make(void)
{
    for (int j = LOG_J0; j <= LOG_J1; j++) {
        if (j == 128) {
            log_hi[j - LOG_J0] = log_lo[j - LOG_J0] = 0;
            continue;
        }
        nkm_log_dd((double)j / 128.0, &log_hi[j - LOG_J0], &log_lo[j - LOG_J0]);
    }
    __atomic_store_n(&log_ready, 1, __ATOMIC_RELEASE);
}

static void log_tab_need(void)
{
    if (!__atomic_load_n(&log_ready, __ATOMIC_ACQUIRE))
        pthread_once(&log_once, log_tab_make);
}

/* ---- eight at a time ---------------------------------------------------- */

/* The arithmetic below is on gcc's vectors of eight doubles: the same IEEE
 * operations, lane by lane, as the scalar formulas they follow, so the same
 * doubles. No branch: a lane's condition is a mask of all ones or zeros
 * (what a comparison of vectors gives), and a select takes bits by it. The
 * functions that call these are built for AVX-512, AVX2 and plain x86-64
 * and one is picked by the CPU at load time (target_clones); gcc cuts the
 * eight lanes into what the target's registers hold. */
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

/* nkm_two_prod's error term by Dekker's product (exact, so the same bits
 * as an FMA would give) */
INLINE void vtwo_prod(vd a, vd b, vd *p, vd *e)
{
    const vd x = a * b, ca = 134217729.0 * a, cb = 134217729.0 * b;
    const vd ah = ca - (ca - a), bh = cb - (cb - b);
    const vd al = a - ah, bl = b - bh;
    *e = ((ah * bh - x) + ah * bl + al * bh) + al * bl;
    *p = x;
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
    const vi j = __builtin_convertvector(m * 128.0 + 0.5, vi); /* LOG_J0..LOG_J1 */
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
    for (int k = 0; k < VN; k++) {
        th[k] = log_hi[j[k] - LOG_J0];
        tl[k] = log_lo[j[k] - LOG_J0];
    }
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

__attribute__((target_clones("avx512f", "avx2", "default"), flatten)) static void
log_block(const double *x, double *out)
{
    vd v, r;
    memcpy(&v, x, sizeof v);
    const vl ok = vlog_approx(&v, &r);
    memcpy(out, &r, sizeof r);
    for (int k = 0; k < VN; k++)
        if (!ok[k])
            out[k] = nk_log(x[k]);
}

void nk_log_fast_n(const double *x, double *out, int64_t n)
{
    log_tab_need();
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
 * nkm_cos_dd over the block (loops gcc vectorises: they have no branch),
 * then each lane's side and sign, in vectors again. Lanes where the
 * logarithm was not certain take nk_rng_normal's formula itself. */
__attribute__((target_clones("avx512f", "avx2", "default"), flatten)) static void
normals_block(const uint32_t *w, double *out)
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
        /* nkm_rem_pio2 for 0 < x < 2 pi: its nearest n (nkm_iround) is
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
    for (int i = 0; i < NORM_BLOCK; i++)
        out[i] *= nk_sqrt(-2.0 * lgs[i]);
    for (int v = 0; v < NORM_BLOCK / VN; v++)
        for (int k = 0; k < VN; k++)
            if (!ok[v][k]) {
                const int i = VN * v + k;
                out[i] = nk_sqrt(-2.0 * nk_log(nk_u01(w[2 * i]))) *
                         nk_cos(6.283185307179586 * nk_u01(w[2 * i + 1]));
            }
}

void nk_normals_u32(const uint32_t *w, double *out, int64_t n)
{
    log_tab_need();
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

/* Blocks draw0 .. draw0 + 7 of r's stream: nk_philox4x32_10 on eight
 * counters at once, each lane one block, out[4 b + k] word k of block b. */
INLINE void philox8(const nk_rng *r, uint32_t draw0, uint32_t *out)
{
    vw c0 = (vw){0, 1, 2, 3, 4, 5, 6, 7} + draw0;
    vw c1 = (vw){0} + r->index, c2 = (vw){0} + (uint32_t)r->step;
    vw c3 = (vw){0} + (((r->stream & 0xFFFFu) << 16) | (uint32_t)((r->step >> 32) & 0xFFFFu));
    uint32_t k0 = (uint32_t)r->seed, k1 = (uint32_t)(r->seed >> 32);
    for (int round = 0; round < 10; round++) {
        const vq p0 = __builtin_convertvector(c0, vq) * NK_PHILOX_M0;
        const vq p1 = __builtin_convertvector(c2, vq) * NK_PHILOX_M1;
        if (round > 0) {
            k0 += NK_PHILOX_W0;
            k1 += NK_PHILOX_W1;
        }
        c0 = __builtin_convertvector(p1 >> 32, vw) ^ c1 ^ k0;
        c1 = __builtin_convertvector(p1, vw);
        c2 = __builtin_convertvector(p0 >> 32, vw) ^ c3 ^ k1;
        c3 = __builtin_convertvector(p0, vw);
    }
    for (int b = 0; b < VN; b++) {
        out[4 * b] = c0[b];
        out[4 * b + 1] = c1[b];
        out[4 * b + 2] = c2[b];
        out[4 * b + 3] = c3[b];
    }
}

__attribute__((target_clones("avx512f", "avx2", "default"), flatten)) static void
rng_blocks(const nk_rng *r, uint32_t draw0, uint32_t *out, int64_t nb8)
{
    for (int64_t i = 0; i < nb8; i++)
        philox8(r, draw0 + (uint32_t)(VN * i), out + 4 * VN * i);
}

void nk_rng_words(nk_rng *r, uint32_t *w, int64_t n)
{
    int64_t i = 0;
    while (i < n && r->left > 0) /* the rest of the block begun */
        w[i++] = nk_rng_u32(r);
    const int64_t nb8 = (n - i) / (4 * VN); /* whole blocks, eight at a time */
    rng_blocks(r, r->draw, w + i, nb8);
    r->draw += (uint32_t)(VN * nb8);
    i += 4 * VN * nb8;
    while (i < n)
        w[i++] = nk_rng_u32(r);
}
