/* nk_kernel.h - the interface between the engine and generated model code.
 *
 * This header is embedded into every generated source file (and compiled into
 * the engine), so both sides agree on one struct. Generated code is a set of
 * stateless functions over the engine's arrays: it never allocates.
 *
 * For one population the engine calls
 *     int nk_update(nk_kargs *a, int64_t i0, int64_t i1, int64_t *spk, int64_t *nspk);
 * once per step over neurons [i0, i1). For each neuron it: adds the synaptic
 * input arriving this step to each receptor (the synapse's on_pre statements,
 * with w = the summed weight), integrates every state variable over one step
 * from the values at the step's start, tests the threshold (outside the
 * refractory period), applies the reset, and appends the neuron's index to spk
 * when it fired. It returns 0, or -1 when a state variable became NaN or
 * infinite (a->bad_index and a->bad_var say where: the lowest such neuron of
 * [i0, i1) and its first such variable; every neuron was updated all the
 * same, so the states after the step do not depend on how [0, n) was split).
 */
#ifndef NK_KERNEL_H
#define NK_KERNEL_H

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

/* Q32.32 fixed point: synaptic input is summed as 64-bit integers so that the
 * order of additions never changes the result. */
#define NK_FIX_ONE 4294967296.0
#define NK_FIX_INV (1.0 / 4294967296.0)

/* NK_FIX_REAL(x): the Q32.32 value x as a double, rounded once. x86 has a
 * vector conversion from 64-bit integers only with AVX-512DQ; with AVX2 alone
 * GCC leaves (double)x scalar, so there the halves of x are placed into the
 * mantissas of two doubles with integer operations that stay in their 64-bit
 * lanes: hi + 2^31 (hi = x >> 32, signed) under the exponent of 2^52 gives
 * 2^52 + 2^31 + hi, and lo (the low 32 bits) under the exponent of 2^20 gives
 * 2^20 + lo 2^-32. Taking 2^52 + 2^31 and 2^20 away is exact, so x 2^-32 =
 * hi + lo 2^-32 is the sum of two exact terms, rounded once, as (double)x is
 * (and scaling by 2^-32 is exact): the same bits as the plain form. An earlier
 * split through 32-bit integer conversions needed two lane shuffles per half,
 * and this form made a one-thread CUBA run about 1.4x faster on an AVX2 machine
 * (docs/performance.md, item 23). With SSE2 alone the plain form stays. */
#if defined(__AVX2__) && !defined(__AVX512DQ__) && !defined(__CUDACC__) && \
    !defined(__CUDACC_RTC__)
static inline double nk_fix_real_avx2(int64_t x)
{
    const uint64_t hb = ((uint64_t)x >> 32) ^ 0x4330000080000000ull;
    const uint64_t lb = ((uint64_t)x & 0xffffffffull) | 0x4130000000000000ull;
    double h, l;
    __builtin_memcpy(&h, &hb, sizeof h);
    __builtin_memcpy(&l, &lb, sizeof l);
    return (h - 4503601774854144.0) + (l - 1048576.0); /* 2^52 + 2^31, 2^20 */
}
#define NK_FIX_REAL(x) nk_fix_real_avx2(x)
#else
#define NK_FIX_REAL(x) ((double)(x) * NK_FIX_INV)
#endif

/* NK_FIX_REAL_SMALL(x): the same for |x| < 2^51 (an input below 2^19), the
 * generated CPU code's choice for a receptor whose input the engine has
 * bounded (nk_receptor.small_in). x added to the bits of 2^20 + 2^19 stays
 * inside the mantissa of that double, whose last place is 2^-32: the double
 * is 2^20 + 2^19 + x 2^-32, and taking 2^20 + 2^19 away is exact. One
 * integer add and one subtraction, vectorised with SSE2 or AVX2 alike,
 * where NK_FIX_REAL takes seven instructions with AVX2; the result is the
 * same bits (x 2^-32 is exact for |x| < 2^53). */
#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
static inline double nk_fix_real_small(int64_t x)
{
    const uint64_t b = (uint64_t)x + 0x4138000000000000ull;
    double d;
    __builtin_memcpy(&d, &b, sizeof d);
    return d - 1572864.0; /* 2^20 + 2^19 */
}
#define NK_FIX_REAL_SMALL(x) nk_fix_real_small(x)
#endif

typedef struct nk_kargs {
    int64_t n;             /* neurons in the population */
    int64_t step;          /* index of the step being taken */
    double t;              /* ms at the start of the step */
    double dt;             /* ms */
    uint64_t seed;         /* network seed (for rand()/randn()) */
    uint32_t stream;       /* this population's random stream */
    int32_t refr_steps;    /* refractory period, in steps */
    void **state;          /* state arrays (real), neuron's then each receptor's */
    const double *param;   /* shared parameters, neuron's then each receptor's */
    int64_t **rx_in;       /* per receptor: Q32.32 input arriving this step (cleared as read) */
    const void *i_ext;     /* external current (real, pA); NULL when the population has
                              none, and then its kernel does not read it */
    int64_t *refr;         /* per neuron: the step at which its refractory period
                              ends (refractory while step < refr[i]; 0: never
                              fired); with a period that is a condition, 1 while
                              the condition is checked, else 0 */
    int64_t bad_index;     /* out: neuron whose state became non-finite */
    int32_t bad_var;       /* out: index of that variable in state[] */
} nk_kargs;

typedef int (*nk_update_fn)(nk_kargs *a, int64_t i0, int64_t i1, int64_t *spk,
                            int64_t *nspk);

/* Graded transmission of projection P onto this population: the module also
 * defines, for each such projection,
 *     void nk_graded_P(void *const *pre_state, const double *param,
 *                      int64_t j0, int64_t j1, double *out);
 * which sets out[j - j0] to the synapse's graded expression for presynaptic
 * neuron j in [j0, j1), from the presynaptic population's state arrays and
 * the receptor's parameters. */
typedef void (*nk_graded_fn)(void *const *pre_state, const double *param, int64_t j0,
                             int64_t j1, double *out);

#endif
