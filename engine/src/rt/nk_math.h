/* nk_math.h - deterministic double-precision elementary functions for the
 * nkshell runtime.
 *
 * This header is pasted verbatim into the C that nkshell generates (built
 * with `cc -O2 -ffp-contract=off`) and into CUDA C built by NVRTC
 * (`-fmad=false`).  It includes only <stdint.h> (NVRTC: built-in
 * typedefs).  Every function is built from IEEE-754 double +, -, *, /,
 * integer operations, bit manipulation and the exactly rounded sqrt,
 * floor, ceil, fabs, trunc (__builtin_* under GCC/Clang, the CUDA device
 * functions under nvcc/NVRTC); fmin/fmax are written out.  With
 * round-to-nearest, no FMA contraction and no excess precision
 * (FLT_EVAL_METHOD == 0: SSE2 on x86-64, AArch64, CUDA GPUs) a call gives
 * the same bits on the CPU and on the GPU.  The one place that may use a
 * fused multiply-add, nkm_two_prod, computes an exact error term, so its
 * bits do not depend on it.  Compiling with contraction enabled (nvcc
 * without -fmad=false, gcc -ffp-contract=fast on an FMA target) keeps
 * the accuracy below but may change last bits, i.e. breaks CPU/GPU
 * equality.  Under GCC the generated object may reference libm's `sqrt`
 * (errno path for negative arguments), nothing else from libm.
 *
 * Techniques: Cody-Waite range reduction with split constants, Taylor
 * polynomials in Horner form, and double-double ("dd", an unevaluated sum
 * hi + lo) arithmetic built from the error-free transformations two_sum
 * (Knuth) and two_prod (Dekker/Veltkamp or FMA).  The internal log, exp
 * and sin/cos kernels carry about 2^-58 relative error or less, so the
 * final rounding dominates: every function stays below 0.6 ulp.
 *
 * Accuracy figures below are the maximum errors measured (about 10^6
 * points per function, tests/unit/test_math.c with enlarged NRAND/NSWEEP)
 * against glibc's long double (x87, 64-bit significand) functions, in
 * units of the last place of the correctly rounded double result.
 *
 * Names starting with nkm_ are internal helpers.
 *
 * NK_RT_FN is `static inline` in C and `static __device__ __forceinline__`
 * in CUDA; define it before including this file to override. */
#ifndef NK_MATH_H
#define NK_MATH_H

#if defined(__CUDACC_RTC__)
#ifndef NK_RT_HAVE_STDINT
/* NVRTC ships no <stdint.h>; these match the CUDA data model. */
#define NK_RT_HAVE_STDINT
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef long long int64_t;
typedef int int32_t;
typedef unsigned short uint16_t;
typedef unsigned char uint8_t;
#endif
#else
#include <stdint.h>
#endif

#ifndef NK_RT_FN
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define NK_RT_FN static __device__ __forceinline__
#else
#define NK_RT_FN static inline
#endif
#endif

/* ---- exact IEEE operations ------------------------------------------- */

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define NKM_SQRT(x) sqrt(x)
#define NKM_FLOOR(x) floor(x)
#define NKM_CEIL(x) ceil(x)
#define NKM_FABS(x) fabs(x)
#define NKM_TRUNC(x) trunc(x)
#elif defined(__GNUC__) || defined(__clang__)
#define NKM_SQRT(x) __builtin_sqrt(x)
#define NKM_FLOOR(x) __builtin_floor(x)
#define NKM_CEIL(x) __builtin_ceil(x)
#define NKM_FABS(x) __builtin_fabs(x)
#define NKM_TRUNC(x) __builtin_trunc(x)
#else
double sqrt(double);
double floor(double);
double ceil(double);
double fabs(double);
double trunc(double);
#define NKM_SQRT(x) sqrt(x)
#define NKM_FLOOR(x) floor(x)
#define NKM_CEIL(x) ceil(x)
#define NKM_FABS(x) fabs(x)
#define NKM_TRUNC(x) trunc(x)
#endif

/* nk_sqrt: correctly rounded square root (IEEE); sqrt(x<0) = NaN. */
NK_RT_FN double nk_sqrt(double x) { return NKM_SQRT(x); }
/* nk_floor: largest integer <= x (exact). */
NK_RT_FN double nk_floor(double x) { return NKM_FLOOR(x); }
/* nk_ceil: smallest integer >= x (exact). */
NK_RT_FN double nk_ceil(double x) { return NKM_CEIL(x); }
/* nk_fabs: |x| (exact). */
NK_RT_FN double nk_fabs(double x) { return NKM_FABS(x); }
/* nk_trunc: x rounded toward zero to an integer (exact). */
NK_RT_FN double nk_trunc(double x) { return NKM_TRUNC(x); }

/* ---- bit access -------------------------------------------------------- */

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
NK_RT_FN uint64_t nkm_bits(double x) { return (uint64_t)__double_as_longlong(x); }
NK_RT_FN double nkm_from_bits(uint64_t u) { return __longlong_as_double((long long)u); }
#else
NK_RT_FN uint64_t nkm_bits(double x)
{
    union { double d; uint64_t u; } v;
    v.d = x;
    return v.u;
}
NK_RT_FN double nkm_from_bits(uint64_t u)
{
    union { double d; uint64_t u; } v;
    v.u = u;
    return v.d;
}
#endif

#define NKM_ABS_MASK 0x7fffffffffffffffull
#define NKM_EXP_MASK 0x7ff0000000000000ull
#define NKM_SIGN_MASK 0x8000000000000000ull

NK_RT_FN double nkm_inf(void) { return nkm_from_bits(NKM_EXP_MASK); }

/* nk_fmin: smaller of x, y; a NaN argument is ignored (C99 fmin);
 * fmin(-0, +0) = -0.  Written out (exact comparisons) rather than calling
 * libm so that the signed-zero choice is the same on CPU and GPU. */
NK_RT_FN double nk_fmin(double x, double y)
{
    if (x != x)
        return y;
    if (y != y)
        return x;
    if (x == y) /* equal, or +-0: -0 wins */
        return nkm_from_bits(nkm_bits(x) | nkm_bits(y));
    return x < y ? x : y;
}

/* nk_fmax: larger of x, y; a NaN argument is ignored (C99 fmax);
 * fmax(-0, +0) = +0.  Exact, no libm call. */
NK_RT_FN double nk_fmax(double x, double y)
{
    if (x != x)
        return y;
    if (y != y)
        return x;
    if (x == y) /* equal, or +-0: +0 wins */
        return nkm_from_bits(nkm_bits(x) & nkm_bits(y));
    return x > y ? x : y;
}
NK_RT_FN double nkm_nan(void) { return nkm_from_bits(0x7ff8000000000000ull); }

/* nk_isfinite: 1 when x is neither infinite nor NaN, else 0 (bit test). */
NK_RT_FN int nk_isfinite(double x)
{
    return (nkm_bits(x) & NKM_EXP_MASK) != NKM_EXP_MASK;
}

/* nk_sign: -1.0 for x < 0, +1.0 for x > 0; returns x itself for +-0 and
 * NaN (so the sign of zero and NaN propagate). Exact. */
NK_RT_FN double nk_sign(double x)
{
    return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : x);
}

/* nk_clip: x limited to [lo, hi] (assumes lo <= hi): lo if x < lo, hi if
 * x > hi, else x. A NaN x is returned unchanged. Exact. */
NK_RT_FN double nk_clip(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* ---- error-free transformations -------------------------------------- */

/* s + e == a + b exactly, s = fl(a + b) (Knuth). */
NK_RT_FN void nkm_two_sum(double a, double b, double *s, double *e)
{
    double x = a + b;
    double bv = x - a;
    *e = (a - (x - bv)) + (b - bv);
    *s = x;
}

/* Same as nkm_two_sum, valid when |a| >= |b| or a == 0 (Dekker). */
NK_RT_FN void nkm_fast_two_sum(double a, double b, double *s, double *e)
{
    double x = a + b;
    *e = b - (x - a);
    *s = x;
}

/* p + e == a * b exactly.  Valid for |a|, |b| < 2^996 and products far
 * from underflow.  The error term is exact, so it has the same bits
 * whichever way it is computed: with a fused multiply-add where the
 * target has one (CUDA, or __FP_FAST_FMA: -march=haswell, AArch64), else
 * Dekker's product with Veltkamp splitting.  Using the FMA there also
 * keeps the splitting from being broken by FMA contraction (nvcc without
 * -fmad=false, gcc -ffp-contract=fast), which would cost accuracy. */
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
NK_RT_FN void nkm_two_prod(double a, double b, double *p, double *e)
{
    double x = a * b;
    *e = fma(a, b, -x);
    *p = x;
}
#elif defined(__FP_FAST_FMA) && (defined(__GNUC__) || defined(__clang__))
NK_RT_FN void nkm_two_prod(double a, double b, double *p, double *e)
{
    double x = a * b;
    *e = __builtin_fma(a, b, -x);
    *p = x;
}
#else
NK_RT_FN void nkm_two_prod(double a, double b, double *p, double *e)
{
    double x = a * b;
    double ca = 134217729.0 * a, cb = 134217729.0 * b;
    double ah = ca - (ca - a), bh = cb - (cb - b);
    double al = a - ah, bl = b - bh;
    *e = ((ah * bh - x) + ah * bl + al * bh) + al * bl;
    *p = x;
}
#endif

/* ---- without branches ---------------------------------------------------
 *
 * exp, expm1, log, log10, log1p, pow, sinh, cosh and tanh below, and the
 * kernels they use, take no branch that depends on their argument: every
 * path is computed and the result selected at the end, so that GCC
 * vectorises a loop over neurons whose model code calls them, and a warp
 * on the GPU does not diverge. The selected path's operations are those a branch
 * would have taken, in the same order, so the bits are those of the
 * branching form (tests/unit/test_math.c pins a checksum of every result).
 * Integers live in doubles (a conversion between double and a 64-bit
 * integer vectorises on x86 only with AVX-512DQ). A path that is not
 * selected may compute garbage from an argument outside its range; it is
 * only doubles and unsigned bits, so nothing traps or is undefined. */

/* 2^k for an integer-valued double k in [-1022, 1023]. k + 1.5 * 2^52 + 1023
 * holds k + 1023 in the low bits of its mantissa, and shifting those into
 * the exponent's place gives 2^k. */
NK_RT_FN double nkm_fpow2(double k)
{
    return nkm_from_bits(nkm_bits(k + 6755399441056767.0) << 52);
}

/* The integer nearest v, ties away from zero, for |v| < 2^31, as a
 * double. */
NK_RT_FN double nkm_round_away(double v)
{
    return NKM_TRUNC(v + (v < 0.0 ? -0.5 : 0.5));
}

/* y * 2^k with a single rounding, for y near 1 and an integer k,
 * -1100 < k < 2000 (factors of 2^0 = 1 change nothing). */
NK_RT_FN double nkm_scale(double y, double k)
{
    double a = k > 1000.0 ? 1000.0 : (k < -1000.0 ? -1000.0 : 0.0);
    double b = k > 2000.0 ? 1000.0 : 0.0;
    y = (y * nkm_fpow2(a)) * nkm_fpow2(b);
    return y * nkm_fpow2((k - a) - b);
}

/* ---- constants ---------------------------------------------------------- */

/* ln 2 = NKM_LN2_HI + NKM_LN2_LO + O(2^-96); HI has 42 significant bits so
 * k * NKM_LN2_HI is exact for |k| < 2^11. */
#define NKM_LN2_HI 0.6931471805598903
#define NKM_LN2_LO 5.497923018708371e-14
#define NKM_INV_LN2 1.4426950408889634
/* 1/ln 10 as a double-double. */
#define NKM_INV_LN10_HI 0.4342944819032518
#define NKM_INV_LN10_LO 1.098319650216765e-17
/* pi/2 = P1 + P2 + P3 + P4 + O(2^-150); P1..P3 have 33 significant bits,
 * so n * Pi is exact for |n| < 2^20. */
#define NKM_PIO2_1 1.5707963267341256
#define NKM_PIO2_2 6.077100506303966e-11
#define NKM_PIO2_3 2.0222662487111665e-21
#define NKM_PIO2_4 8.4784276603689e-32
#define NKM_2_OVER_PI 0.6366197723675814
#define NKM_PI_4 0.7853981633974483
/* |x| below NKM_TRIG_BIG: fast reduction (n < 2^20); below
 * NKM_TRIG_HUGE: 21-bit-piece reduction (n < 2^32); above: approximate. */
#define NKM_TRIG_BIG 1.6e6
#define NKM_TRIG_HUGE 6.7e9

/* ---- exp kernels --------------------------------------------------------- */

/* sum_{j>=3} r^(j-3)/j! truncated after 1/14! (|r| <= 0.35: error 2^-63). */
NK_RT_FN double nkm_exp_poly(double r)
{
    return 0.16666666666666666 +
           r * (0.041666666666666664 +
           r * (0.008333333333333333 +
           r * (0.001388888888888889 +
           r * (0.0001984126984126984 +
           r * (2.48015873015873e-05 +
           r * (2.7557319223985893e-06 +
           r * (2.755731922398589e-07 +
           r * (2.505210838544172e-08 +
           r * (2.08767569878681e-09 +
           r * (1.6059043836821613e-10 +
           r * 1.1470745597729725e-11))))))))));
}

/* exp(rh + rl) as *eh + *el for |rh| <= 0.36, |rl| <= 2^-52 |rh|.
 * Relative error about 2^-59. */
NK_RT_FN void nkm_exp_core(double rh, double rl, double *eh, double *el)
{
    double qh, ql, p, a, ae, b, be, lo;
    nkm_two_prod(rh, rh, &qh, &ql);
    p = rh * qh * nkm_exp_poly(rh);
    nkm_fast_two_sum(1.0, rh, &a, &ae);
    nkm_fast_two_sum(a, 0.5 * qh, &b, &be);
    lo = p + ((ae + be) + 0.5 * ql + rl * (1.0 + rh + 0.5 * qh));
    nkm_fast_two_sum(b, lo, eh, el);
}

/* Reduce xh + xl = k ln2 + (rh + rl), |rh| <= ~0.35; returns k.
 * Needs |xh| < 1400. */
NK_RT_FN double nkm_exp_reduce(double xh, double xl, double *rh, double *rl)
{
    double kd = nkm_round_away(xh * NKM_INV_LN2);
    double h = xh - kd * NKM_LN2_HI; /* exact */
    double l = xl - kd * NKM_LN2_LO;
    nkm_two_sum(h, l, rh, rl);
    return kd;
}

/* exp(xh + xl) * 2^adj rounded to double, for finite -746 < xh < 711.
 * Overflows to inf and underflows to subnormals/0 naturally. */
NK_RT_FN double nkm_exp_dd(double xh, double xl, double adj)
{
    double rh, rl, eh, el, s, yh, yl, hi, lo, sub;
    double k = nkm_exp_reduce(xh, xl, &rh, &rl) + adj;
    nkm_exp_core(rh, rl, &eh, &el);
    /* Possibly subnormal (k < -1021): with Y = e^r 2^(k+1022) the result
     * is Y * 2^-1022, and rounding 1 + Y to double rounds Y exactly at the
     * subnormal spacing, so the result is rounded only once. */
    s = nkm_fpow2(k < -1021.0 ? k + 1022.0 : 0.0);
    yh = eh * s;
    yl = el * s;
    nkm_fast_two_sum(1.0, yh, &hi, &lo);
    sub = ((hi + (lo + yl)) - 1.0) * 2.2250738585072014e-308;
    hi = nkm_scale(eh + el, k);
    sub = yh < 1.0 ? sub : hi;
    return k < -1021.0 ? sub : hi;
}

/* exp(x) as a double-double *h + *l, for |x| <= 700 (no scaling issues). */
NK_RT_FN void nkm_exp_pair(double x, double *h, double *l)
{
    double rh, rl, eh, el, s;
    double k = nkm_exp_reduce(x, 0.0, &rh, &rl);
    nkm_exp_core(rh, rl, &eh, &el);
    s = nkm_fpow2(k);
    *h = eh * s;
    *l = el * s;
}

/* expm1(x) as a double-double, for -40 <= x <= 709.8. */
NK_RT_FN void nkm_expm1_dd(double x, double *h, double *l)
{
    double rh, rl, eh, el, qh, ql, p, b, be, lo, zh, zl, s2, a, bl, s, e, th, tl, w;
    double k = nkm_exp_reduce(x, 0.0, &rh, &rl);
    /* k = 0: e^x - 1 = x + x^2/2 + x^3 P(x) */
    nkm_two_prod(x, x, &qh, &ql);
    p = x * qh * nkm_exp_poly(x);
    nkm_fast_two_sum(x, 0.5 * qh, &b, &be);
    lo = p + (be + 0.5 * ql);
    nkm_fast_two_sum(b, lo, &zh, &zl);
    /* otherwise 2^k e^r - 1 */
    nkm_exp_core(rh, rl, &eh, &el);
    s2 = nkm_fpow2(k < 1023.0 ? k : 0.0);
    a = eh * s2;
    bl = el * s2;
    nkm_two_sum(a, -1.0, &s, &e);
    nkm_fast_two_sum(s, e + bl, &th, &tl);
    w = nkm_scale(eh + el, k);
    *h = k == 0.0 ? zh : (k < 1023.0 ? th : w);
    *l = k == 0.0 ? zl : (k < 1023.0 ? tl : 0.0);
}

/* nk_exp: e^x.  Domain: all doubles; exp(x > 709.78) = +inf,
 * exp(x < -745.13) = 0, subnormal results in between (rounded once),
 * NaN -> NaN, exp(-inf) = 0.  Measured max error 0.52 ulp. */
NK_RT_FN double nk_exp(double x)
{
    double xc = x > 709.8 ? 709.8 : (x < -745.2 ? -745.2 : x);
    double r = nkm_exp_dd(xc == xc ? xc : 0.0, 0.0, 0.0);
    r = x > 709.8 ? nkm_inf() : (x < -745.2 ? 0.0 : r);
    return x == x ? r : x + x;
}

/* nk_expm1: e^x - 1 with full relative precision near 0
 * (expm1(1e-10) = 1.00000000005e-10).  Domain: all doubles;
 * expm1(x < -38) = -1, overflow to +inf above 709.78, sign of zero kept,
 * NaN -> NaN.  Measured max error 0.57 ulp. */
NK_RT_FN double nk_expm1(double x)
{
    double h, l, r;
    double xc = x > 709.8 ? 709.8 : (x < -38.0 ? -38.0 : x);
    nkm_expm1_dd(xc == xc ? xc : 0.0, &h, &l);
    r = x > 709.8 ? nkm_inf() : (x < -38.0 ? -1.0 : h + l);
    r = nk_fabs(x) < 5.551115123125783e-17 ? x : r; /* |x| < 2^-54, +-0 */
    return x == x ? r : x + x;
}

/* ---- log kernel --------------------------------------------------------- */

/* log(x) as a double-double *h + *l for finite x > 0 (incl. subnormal).
 * Relative error about 2^-65: x = 2^k m, m in [sqrt(1/2), sqrt(2)),
 * f = m - 1, s = f/(2+f) (in dd), log m = 2 atanh s = 2s + 2s z W(z),
 * z = s^2 <= 0.0295, W = 1/3 + z/5 + z^2 U(z), U = 1/7 + z/9 + ... + z^9/25
 * (truncation 2^-71). */
NK_RT_FN void nkm_log_dd(double x, double *h, double *l)
{
    int sub = x < 2.2250738585072014e-308; /* subnormal: scale by 2^54 */
    uint64_t b = nkm_bits(sub ? x * 18014398509481984.0 : x);
    double m, f, dh, dl, sh, sl, p, pe, rem, zh, zl, u, ah, al, wh, wl, t;
    double ph, pl, qh, ql, lh, ll, kd, hh, he;
    int big;
    int k = (int)(b >> 52) - 1023 - (sub ? 54 : 0);
    b = (b & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* [1,2) */
    big = (int64_t)b > (int64_t)0x3ff6a09e667f3bcdll; /* m > sqrt(2): m/2, k+1 */
    b = big ? b - 0x0010000000000000ull : b;
    kd = (double)(k + big);
    m = nkm_from_bits(b);
    f = m - 1.0; /* exact */
    /* s = f / (2 + f) as sh + sl */
    nkm_fast_two_sum(2.0, f, &dh, &dl);
    sh = f / dh;
    nkm_two_prod(sh, dh, &p, &pe);
    rem = ((f - p) - pe) - sh * dl;
    sl = rem / dh;
    /* z = s^2 */
    nkm_two_prod(sh, sh, &zh, &zl);
    zl += 2.0 * sh * sl;
    nkm_fast_two_sum(zh, zl, &zh, &zl);
    /* U(z) = 1/7 + z/9 + ... + z^9/25 */
    u = 0.14285714285714285 +
        zh * (0.1111111111111111 +
        zh * (0.09090909090909091 +
        zh * (0.07692307692307693 +
        zh * (0.06666666666666667 +
        zh * (0.058823529411764705 +
        zh * (0.05263157894736842 +
        zh * (0.047619047619047616 +
        zh * (0.043478260869565216 +
        zh * 0.04))))))));
    /* W = 1/3 + z * (1/5) + z^2 * U in dd */
    nkm_two_prod(zh, 0.2, &ah, &al);
    al += zh * -1.1102230246251566e-17 + zl * 0.2;
    nkm_fast_two_sum(0.3333333333333333, ah, &wh, &wl);
    wl += 1.850371707708594e-17 + al + zh * zh * u;
    /* P = z * W */
    nkm_two_prod(zh, wh, &ph, &pl);
    pl += zh * wl + zl * wh;
    /* Q = s * P */
    nkm_two_prod(sh, ph, &qh, &ql);
    ql += sh * pl + sl * ph;
    /* L = s + Q (then doubled) */
    nkm_fast_two_sum(sh, qh, &lh, &ll);
    ll += sl + ql;
    lh *= 2.0;
    ll *= 2.0;
    /* + k ln 2 */
    nkm_two_sum(kd * NKM_LN2_HI, lh, &hh, &he);
    t = he + (ll + kd * NKM_LN2_LO);
    nkm_fast_two_sum(hh, t, h, l);
}

/* nk_log: natural logarithm.  log(0) = -inf, log(x<0) = NaN,
 * log(+inf) = +inf, NaN -> NaN; subnormals handled.
 * Measured max error 0.50 ulp. */
NK_RT_FN double nk_log(double x)
{
    double h, l, r;
    nkm_log_dd(x, &h, &l);
    r = x == nkm_inf() ? x : h + l;
    r = x == 0.0 ? -nkm_inf() : r;
    return x >= 0.0 ? r : nkm_nan(); /* x < 0 or NaN */
}

/* nk_exprel: (e^x - 1)/x, continuous at 0 where it is 1 (Brian2's
 * exprel). Rate functions of HH-type models have removable singularities of
 * the form x/(e^x - 1) = 1/exprel(x). */
NK_RT_FN double nk_exprel(double x)
{
    double xb = x > 709.0 ? x : 709.0;
    double big = nk_exp(xb - nk_log(xb)), r = nk_expm1(x) / x;
    r = x > 709.0 ? big : r;
    return x == 0.0 ? 1.0 : r;
}


/* nk_log1p: log(1 + x) with full relative precision near 0.
 * log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(+inf) = +inf, sign of
 * zero kept.  Measured max error 0.50 ulp. */
NK_RT_FN double nk_log1p(double x)
{
    double uh, ul, h, l, r, t, ax = nk_fabs(x);
    nkm_two_sum(1.0, x, &uh, &ul); /* 1 + x = uh + ul exactly */
    nkm_log_dd(uh, &h, &l);
    /* log(uh + ul) = log(uh) + ul/uh + O((ul/uh)^2) */
    nkm_fast_two_sum(h, l + ul / uh, &h, &l);
    /* |x| < 2^-16: Taylor to x^5 */
    t = x + x * x * (-0.5 + x * (0.3333333333333333 + x * (-0.25 + x * 0.2)));
    r = ax < 1.52587890625e-05 ? t : h + l;
    r = x == nkm_inf() ? x : r;
    r = x > -1.0 ? r : (x == -1.0 ? -nkm_inf() : nkm_nan());
    return ax < 5.551115123125783e-17 ? x : r; /* |x| < 2^-54, +-0 */
}

/* nk_log10: base-10 logarithm (exact for powers of 10 up to 1e22).
 * Special values as nk_log.  Measured max error 0.50 ulp. */
NK_RT_FN double nk_log10(double x)
{
    double h, l, ph, pl, r;
    nkm_log_dd(x, &h, &l);
    nkm_two_prod(h, NKM_INV_LN10_HI, &ph, &pl);
    pl += h * NKM_INV_LN10_LO + l * NKM_INV_LN10_HI;
    r = x == nkm_inf() ? x : ph + pl;
    r = x == 0.0 ? -nkm_inf() : r;
    return x >= 0.0 ? r : nkm_nan(); /* x < 0 or NaN */
}

/* nk_pow: x^y.  Computed as exp(y log|x|) with log in double-double.
 * Special cases follow C99 Annex F: pow(x, +-0) = 1 (even for NaN x),
 * pow(1, y) = 1 (even for NaN y), pow(-1, +-inf) = 1, NaN propagates
 * otherwise, x < 0 with non-integer y gives NaN, x < 0 with integer y
 * gives the sign of (-1)^y, pow(+-0, y) and pow(+-inf, y) and y = +-inf
 * as in C99, overflow -> +-inf, underflow -> subnormal/+-0.
 * y = 1, 2, -1 return x, x*x, 1/x (correctly rounded).
 * Measured max error 0.52 ulp (incl. results near overflow/underflow). */
NK_RT_FN double nk_pow(double x, double y)
{
    /* Flags are doubles, and conditions nest rather than join with && and
     * ||: GCC vectorises a select on one comparison, not on a combination. */
    double ax = nk_fabs(x), hy = 0.5 * y, lh, ll, p0, ph, pe, r, s, sign;
    /* y odd: an integer whose half is not one (|y| >= 2^53 is even) */
    double yint = nk_trunc(y) == y ? 1.0 : 0.0;
    double yodd = yint * (nk_trunc(hy) != hy ? 1.0 : 0.0);
    sign = x < 0.0 ? 1.0 - 2.0 * yodd : 1.0;
    nkm_log_dd(ax, &lh, &ll);
    p0 = y * lh;
    nkm_two_prod(y, lh, &ph, &pe);
    pe += y * ll;
    nkm_fast_two_sum(ph, pe, &ph, &pe);
    r = sign * nkm_exp_dd(ph, pe, 0.0);
    /* |x| = 1: Dekker's product (no FMA) overflows for |y| > 2^996 */
    r = ax == 1.0 ? sign : r;
    /* the special cases, the first that applies last */
    r = p0 < -746.0 ? sign * 0.0 : r;
    r = p0 > 710.0 ? sign * nkm_inf() : r;
    r = y == -1.0 ? 1.0 / x : r;
    r = y == 2.0 ? x * x : r;
    r = y == 1.0 ? x : r;
    r = (x < 0.0 ? 1.0 - yint : 0.0) != 0.0 ? nkm_nan() : r; /* x < 0, y not whole */
    s = y < 0.0 ? (yodd != 0.0 ? -0.0 : 0.0) : (yodd != 0.0 ? x : -x);
    s = x > 0.0 ? (y < 0.0 ? 0.0 : x) : s;
    r = ax == nkm_inf() ? s : r; /* x = +-inf */
    s = y < 0.0 ? (yodd != 0.0 ? 1.0 / x : nkm_inf()) : (yodd != 0.0 ? x : 0.0);
    r = x == 0.0 ? s : r; /* 1/(+-0) = +-inf */
    s = ax < 1.0 ? (y < 0.0 ? nkm_inf() : 0.0) : (y < 0.0 ? 0.0 : nkm_inf());
    s = ax == 1.0 ? 1.0 : s;
    r = nk_fabs(y) == nkm_inf() ? s : r; /* y = +-inf */
    r = y == y ? r : x + y;
    r = x == x ? r : x + y;
    r = x == 1.0 ? 1.0 : r;
    return y == 0.0 ? 1.0 : r;
}

/* ---- trigonometric kernels --------------------------------------------- */

/* sin(rh + rl) as *h + *l for |rh| <= pi/4 + small. Taylor to r^21;
 * r^3, the leading -1/6 and r^3 * S(z) are kept in double-double. */
NK_RT_FN void nkm_sin_dd(double rh, double rl, double *h, double *l)
{
    double zh, zl, ch, cl, th, tl, a, e, z, sz, se, sv;
    nkm_two_prod(rh, rh, &zh, &zl);
    nkm_two_prod(rh, zh, &ch, &cl);
    cl += rh * zl; /* r^3 = ch + cl */
    z = zh;
    /* S(z) = -1/6 + z (1/120 - z/5040 + ...), -1/6 kept in dd */
    sv = z * (0.008333333333333333 +
         z * (-0.0001984126984126984 +
         z * (2.7557319223985893e-06 +
         z * (-2.505210838544172e-08 +
         z * (1.6059043836821613e-10 +
         z * (-7.647163731819816e-13 +
         z * (2.8114572543455206e-15 +
         z * (-8.22063524662433e-18 +
         z * 1.9572941063391263e-20))))))));
    nkm_fast_two_sum(-0.16666666666666666, sv, &sz, &se);
    se += -9.25185853854297e-18;
    nkm_two_prod(ch, sz, &th, &tl);
    tl += ch * se + cl * sz;
    nkm_fast_two_sum(rh, th, &a, &e);
    nkm_fast_two_sum(a, e + (tl + rl * (1.0 - 0.5 * z)), h, l);
}

/* cos(rh + rl) as *h + *l for |rh| <= pi/4 + small. Taylor to r^20. */
NK_RT_FN void nkm_cos_dd(double rh, double rl, double *h, double *l)
{
    double zh, zl, a, e, t;
    nkm_two_prod(rh, rh, &zh, &zl);
    zl += 2.0 * rh * rl;
    nkm_fast_two_sum(1.0, -0.5 * zh, &a, &e);
    t = zh * zh *
        (0.041666666666666664 +
        zh * (-0.001388888888888889 +
        zh * (2.48015873015873e-05 +
        zh * (-2.755731922398589e-07 +
        zh * (2.08767569878681e-09 +
        zh * (-1.1470745597729725e-11 +
        zh * (4.779477332387385e-14 +
        zh * (-1.5619206968586225e-16 +
        zh * 4.110317623312165e-19))))))));
    nkm_fast_two_sum(a, t + (e - 0.5 * zl), h, l);
}

/* nkm_rem_pio2's reduction for |x| < 1.6e6: x = n pi/2 + (rh + rl), n the
 * integer nearest x 2/pi (ties away from zero), returned as a double. */
NK_RT_FN double nkm_rem_pio2_mid(double x, double *rh, double *rl)
{
    double h, e, h2, e2;
    const double n = nkm_round_away(x * NKM_2_OVER_PI);
    const double a = x - n * NKM_PIO2_1; /* exact */
    nkm_two_sum(a, -(n * NKM_PIO2_2), &h, &e);
    nkm_two_sum(h, -(n * NKM_PIO2_3), &h2, &e2);
    nkm_two_sum(h2, (e + e2) - n * NKM_PIO2_4, rh, rl);
    return n;
}

/* x = n pi/2 + (rh + rl), |rh| <= pi/4 (+ rounding); returns n mod 4 (as
 * a double, 0 to 3), without a branch. x must be finite (else the result
 * is garbage, for the caller to replace). Cody-Waite with pi/2 split in
 * pieces whose products with n are exact, accumulated in double-double
 * (absolute error of the reduced argument < 2^-100):
 *   |x| <= pi/4:  x itself;
 *   |x| < 1.6e6:  3 pieces of 33 bits + 1 of 53 bits (n < 2^20);
 *   |x| < 6.7e9:  7 pieces of 21 bits + 1 of 53 bits (n < 2^32).
 * Larger |x| are first replaced by their remainder modulo 2^32 (exact, the
 * sign kept), which keeps the result finite, bounded and deterministic but
 * makes it meaningless (the rounding error of x itself exceeds pi there
 * anyway; an argument so large is an error in the model). Each path is
 * computed, and the one that applies selected. */
NK_RT_FN double nkm_rem_pio2(double x, double *rh, double *rl)
{
    double ax = nk_fabs(x), n, h, e, lo, mh, ml, bh, bl, bq;
    /* |x| >= 6.7e9: |x| mod 2^32 (2^-32 |x| and its whole part times 2^32
     * are exact, and so is the difference, below 2^32 <= |x|) */
    const double m32 = ax - NKM_TRUNC(ax * 2.3283064365386963e-10) * 4294967296.0;
    x = ax >= NKM_TRIG_HUGE ? (x < 0.0 ? -m32 : m32) : x;
    /* |x| < 1.6e6 */
    n = nkm_rem_pio2_mid(x, &mh, &ml);
    const double mq = n - 4.0 * nk_floor(n * 0.25);
    /* |x| < 6.7e9 */
    n = nk_floor(x * NKM_2_OVER_PI + 0.5);
    bq = n - 4.0 * nk_floor(n * 0.25);
    h = x - n * 1.570796012878418; /* exact */
    lo = 0.0;
    nkm_two_sum(h, -(n * 3.139164164167596e-07), &h, &e);
    lo += e;
    nkm_two_sum(h, -(n * 6.22337468017542e-14), &h, &e);
    lo += e;
    nkm_two_sum(h, -(n * -2.5082791584901525e-20), &h, &e);
    lo += e;
    nkm_two_sum(h, -(n * 3.521561362568105e-27), &h, &e);
    lo += e;
    nkm_two_sum(h, -(n * -1.4973851116957393e-33), &h, &e);
    lo += e;
    lo -= n * 2.0683655787896814e-40;
    lo -= n * 1.1687494729364403e-47;
    nkm_two_sum(h, lo, &bh, &bl);
    /* (comparisons in each select, not flags of type int: GCC vectorised
     * no loop over floats calling nk_tan with those) */
    const double bx = nk_fabs(x);
    *rh = ax <= NKM_PI_4 ? x : bx >= NKM_TRIG_BIG ? bh : mh;
    *rl = ax <= NKM_PI_4 ? 0.0 : bx >= NKM_TRIG_BIG ? bl : ml;
    return ax <= NKM_PI_4 ? 0.0 : bx >= NKM_TRIG_BIG ? bq : mq;
}

/* The reduced sine or cosine of quadrant q (nkm_rem_pio2): sin x for
 * cosine = 0, cos x for 1. Odd quadrants swap the two; the sine is
 * negative in quadrants 2 and 3, the cosine in 1 and 2. Both kernels are
 * computed, and the one that applies selected (one select of four each:
 * GCC vectorises no select on `a || b`). */
NK_RT_FN double nkm_sincos_q(double rh, double rl, double q, int cosine)
{
    double sh, sl, ch, cl;
    nkm_sin_dd(rh, rl, &sh, &sl);
    nkm_cos_dd(rh, rl, &ch, &cl);
    const double s = sh + sl, c = ch + cl;
    if (cosine)
        return q == 1.0 ? -s : q == 2.0 ? -c : q == 3.0 ? s : c;
    return q == 1.0 ? c : q == 2.0 ? -s : q == 3.0 ? -c : s;
}

/* nk_sin: sine.  Accurate for |x| < 6.7e9 (tested on random points and
 * on the doubles nearest n pi/2); larger |x| give a bounded,
 * deterministic but meaningless value.  sin(+-inf) = NaN, sin(+-0) = +-0.
 * Measured max error 0.58 ulp. No branch (nkm_rem_pio2). */
NK_RT_FN double nk_sin(double x)
{
    double rh, rl;
    const double q = nkm_rem_pio2(x, &rh, &rl), r = nkm_sincos_q(rh, rl, q, 0);
    const double ax = nk_fabs(x);
    /* below 2^-27: x; +-inf and NaN: NaN */
    return ax < 7.450580596923828e-09 ? x : ax == ax && ax != nkm_inf() ? r : x - x;
}

/* nk_cos: cosine.  Domain and accuracy range as nk_sin;
 * cos(+-inf) = NaN.  Measured max error 0.59 ulp. No branch. */
NK_RT_FN double nk_cos(double x)
{
    double rh, rl;
    const double q = nkm_rem_pio2(x, &rh, &rl), r = nkm_sincos_q(rh, rl, q, 1);
    const double ax = nk_fabs(x);
    return ax < 7.450580596923828e-09 ? 1.0 : ax == ax && ax != nkm_inf() ? r : x - x;
}

/* nk_tan: tangent = sin/cos in double-double.  Domain and accuracy range
 * as nk_sin; tan(+-inf) = NaN, tan(+-0) = +-0.
 * Measured max error 0.60 ulp. No branch. */
NK_RT_FN double nk_tan(double x)
{
    double rh, rl, sh, sl, ch, cl, p, pe;
    const double q = nkm_rem_pio2(x, &rh, &rl);
    nkm_sin_dd(rh, rl, &sh, &sl);
    nkm_cos_dd(rh, rl, &ch, &cl);
    /* odd quadrants: -cos/sin (odd = 1 there: GCC merges the selects of
     * `q == 1.0 ? a : q == 3.0 ? a : b` into a flag with which it
     * vectorised no loop over floats) */
    const double odd = q - 2.0 * nk_floor(q * 0.5);
    const double nh = odd == 1.0 ? -ch : sh, nl = odd == 1.0 ? -cl : sl;
    const double dh = odd == 1.0 ? sh : ch, dl = odd == 1.0 ? sl : cl;
    const double qv = nh / dh;
    nkm_two_prod(qv, dh, &p, &pe);
    const double rem = ((nh - p) - pe) + (nl - qv * dl);
    const double r = qv + rem / dh, ax = nk_fabs(x);
    return ax < 7.450580596923828e-09 ? x : ax == ax && ax != nkm_inf() ? r : x - x;
}

/* nkm_cos_2pi: nk_cos(6.283185307179586 * u) for 0 < u < 1, bit for bit,
 * without a branch: the cosine of the normal draws (nk_rng_normal), so that
 * a loop over neurons that draws them vectorises. For 0 < x < 2 pi,
 * nkm_rem_pio2 takes x as it is up to pi/4, else its first reduction, with
 * n = 0..4 (4 is quadrant 0); both are computed, and both of nk_cos's
 * kernels, and the quadrant selects. Below 2^-27 nk_cos returns 1 without
 * the kernels, and so does nkm_cos_dd (x >= 2 pi 2^-33 here, and x^2 / 2 <
 * 2^-55 rounds away against 1). tests/unit/test_math.c compares the two. */
NK_RT_FN double nkm_cos_2pi(double u)
{
    double th, tl;
    const double x = 6.283185307179586 * u, n = nkm_rem_pio2_mid(x, &th, &tl);
    const double rh = x <= NKM_PI_4 ? x : th, rl = x <= NKM_PI_4 ? 0.0 : tl;
    /* (n = 4 selects as quadrant 0 in nkm_sincos_q) */
    return nkm_sincos_q(rh, rl, x <= NKM_PI_4 ? 0.0 : n, 1);
}

/* ---- hyperbolic functions ---------------------------------------------- */

/* 1/(h + l) as a double-double, h > 0 normal. */
NK_RT_FN void nkm_recip_dd(double h, double l, double *rh, double *rl)
{
    double q = 1.0 / h, p, pe;
    nkm_two_prod(q, h, &p, &pe);
    *rh = q;
    *rl = (((1.0 - p) - pe) - q * l) * q;
}

/* nk_sinh: hyperbolic sine.  Overflows to +-inf for |x| > 710.4758,
 * sign of zero kept, NaN -> NaN.  Measured max error 0.54 ulp. */
NK_RT_FN double nk_sinh(double x)
{
    double a = nk_fabs(x), ac = a <= 22.0 ? a : 22.0, ab = a < 711.0 ? a : 0.0;
    double eh, el, ih, il, dh, de, r, z, t, big;
    nkm_exp_pair(ac, &eh, &el);
    nkm_recip_dd(eh, el, &ih, &il);
    nkm_two_sum(eh, -ih, &dh, &de);
    r = 0.5 * (dh + (de + (el - il)));
    big = nkm_exp_dd(ab, 0.0, -1.0); /* e^a / 2 */
    r = a <= 22.0 ? r : (a < 711.0 ? big : nkm_inf());
    r = x < 0.0 ? -r : r;
    z = x * x;
    t = x * z *
        (0.16666666666666666 +
        z * (0.008333333333333333 +
        z * (0.0001984126984126984 +
        z * (2.7557319223985893e-06 +
        z * (2.505210838544172e-08 +
        z * (1.6059043836821613e-10 +
        z * 7.647163731819816e-13))))));
    r = a < 0.25 ? x + t : r;
    r = a < 3.725290298461914e-09 ? x : r; /* 2^-28: sinh x = x */
    return a == a ? r : x + x;
}

/* nk_cosh: hyperbolic cosine.  cosh(+-inf) = +inf, overflow above
 * |x| > 710.4758, NaN -> NaN.  Measured max error 0.52 ulp. */
NK_RT_FN double nk_cosh(double x)
{
    double a = nk_fabs(x), ac = a <= 22.0 ? a : 22.0, ab = a < 711.0 ? a : 0.0;
    double eh, el, ih, il, sh, se, r, big;
    nkm_exp_pair(ac, &eh, &el);
    nkm_recip_dd(eh, el, &ih, &il);
    nkm_fast_two_sum(eh, ih, &sh, &se);
    r = 0.5 * (sh + (se + (el + il)));
    big = nkm_exp_dd(ab, 0.0, -1.0);
    r = a <= 22.0 ? r : (a < 711.0 ? big : nkm_inf());
    r = a < 7.450580596923828e-09 ? 1.0 : r; /* 2^-27: cosh x = 1 */
    return a == a ? r : x + x;
}

/* nk_tanh: hyperbolic tangent = E/(E+2), E = expm1(2|x|) in
 * double-double.  tanh(+-inf) = +-1, |x| > 22 gives +-1 exactly, sign of
 * zero kept, NaN -> NaN.  Measured max error 0.55 ulp. */
NK_RT_FN double nk_tanh(double x)
{
    double a = nk_fabs(x), ac = a <= 22.0 ? a : 22.0;
    double mh, ml, dh, dl, qv, p, pe, rem, r;
    nkm_expm1_dd(2.0 * ac, &mh, &ml);
    nkm_two_sum(mh, 2.0, &dh, &dl);
    dl += ml;
    qv = mh / dh;
    nkm_two_prod(qv, dh, &p, &pe);
    rem = ((mh - p) - pe) + (ml - qv * dl);
    r = a > 22.0 ? 1.0 : qv + rem / dh;
    r = x < 0.0 ? -r : r;
    r = a < 3.725290298461914e-09 ? x : r; /* 2^-28: tanh x = x */
    return a == a ? r : x + x;
}


/* ---- branch-free exponentials for the per-neuron loop ------------------
 *
 * nk_fexp, nk_fexpm1 and nk_fexprel compute what nk_exp, nk_expm1 and
 * nk_exprel do, without branches (special cases are selected at the end),
 * in plain double arithmetic rather than double-double, so that a compiler
 * vectorises the loop that calls them: generated model code uses these
 * (the accurate ones are for the rest of the runtime). Cody-Waite reduction
 * x = k ln2 + r, |r| <= ln2/2, e^r by its Taylor polynomial to degree 13
 * (truncation below 2^-57 relative) in Horner form, 2^k applied as two
 * exact powers of two so that a subnormal result is rounded once. Built
 * from IEEE +, -, *, / and bit operations only, like everything here, so
 * every backend computes the same bits. Accuracy measured in
 * tests/unit/test_math.c (max errors there, about 1 ulp). */

/* e^r - 1 for |r| <= 0.35, without the cancellation: r + r^2/2 + ... */
NK_RT_FN double nkm_fexpm1_poly(double r)
{
    double p = 1.0 / 6227020800.0;
    p = 1.0 / 479001600.0 + r * p;
    p = 1.0 / 39916800.0 + r * p;
    p = 1.0 / 3628800.0 + r * p;
    p = 1.0 / 362880.0 + r * p;
    p = 1.0 / 40320.0 + r * p;
    p = 1.0 / 5040.0 + r * p;
    p = 1.0 / 720.0 + r * p;
    p = 1.0 / 120.0 + r * p;
    p = 1.0 / 24.0 + r * p;
    p = 1.0 / 6.0 + r * p;
    p = 0.5 + r * p;
    return r + (r * r) * p;
}

/* k = round(x / ln 2) for |x| < 2^40 (as a double) and r = x - k ln 2. */
NK_RT_FN double nkm_freduce(double x, double *r)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: rounds to integer */
    double k = (x * NKM_INV_LN2 + shift) - shift;
    *r = (x - k * NKM_LN2_HI) - k * NKM_LN2_LO;
    return k;
}


NK_RT_FN double nk_fexp(double x)
{
    double xc = x > 709.8 ? 709.8 : x < -745.2 ? -745.2 : x;
    xc = xc == xc ? xc : 0.0;
    double r, k = nkm_freduce(xc, &r);
    double h = k * 0.5;
    double k1 = (h + 6755399441055744.0) - 6755399441055744.0; /* round(k/2) */
    double y = (1.0 + nkm_fexpm1_poly(r)) * nkm_fpow2(k1) * nkm_fpow2(k - k1);
    y = x > 709.782712893384 ? nkm_inf() : y;
    y = x < -745.1332191019412 ? 0.0 : y;
    return x == x ? y : x + x;
}

NK_RT_FN double nk_fexpm1(double x)
{
    double xc = x > 709.8 ? 709.8 : x < -40.0 ? -40.0 : x;
    xc = xc == xc ? xc : 0.0;
    double r, k = nkm_freduce(xc, &r);
    double q = nkm_fexpm1_poly(r);
    /* e^x - 1 = (2^k - 1) + 2^k q; 2^k - 1 is exact for k <= 53 */
    double kk = k > 1000.0 ? 1000.0 : k;
    double s = nkm_fpow2(kk);
    double y = (s - 1.0) + s * q;
    double kb = k > 1000.0 ? k - 1000.0 : 0.0;
    y = k > 1000.0 ? ((1.0 + q) * nkm_fpow2(1000.0)) * nkm_fpow2(kb) : y;
    y = x > 709.782712893384 ? nkm_inf() : y;
    y = x < -38.0 ? -1.0 : y;
    y = x == 0.0 ? x : y; /* keeps the sign of zero */
    return x == x ? y : x + x;
}

NK_RT_FN double nk_fexprel(double x)
{
    double d = x == 0.0 ? 1.0 : x;
    double y = nk_fexpm1(x) / d;
    /* above 709 e^x overflows while e^x / x may not: e^(x/2) / x * e^(x/2) */
    double xb = x > 709.0 ? x : 709.0;
    double hb = nk_fexp(0.5 * xb);
    y = x > 709.0 ? (hb / xb) * hb : y;
    y = x > 1e300 ? x : y; /* +inf */
    return x == 0.0 ? 1.0 : y;
}

#endif /* NK_MATH_H */
