/* fastdraw.h - the host's random draws and logarithms, many at once: the
 * same numbers as nk_philox.h's and nk_math.h's functions one at a time,
 * bit for bit, several times as fast (fastdraw.c: vectors, built for more
 * than one instruction set and picked for the CPU on first use). For
 * construction, which draws a weight and a delay per synapse. */
#ifndef NK_FASTDRAW_H
#define NK_FASTDRAW_H

#include <stdint.h>

#include "rt/nk_philox.h"

/* out[i] = nk_log(x[i]), i < n, for every double. */
void nk_log_fast_n(const double *x, double *out, int64_t n);

/* w[i], i < n: the next n words of r, as n calls of nk_rng_u32 give them;
 * r is left where those calls leave it. */
void nk_rng_words(nk_rng *r, uint32_t *w, int64_t n);

/* out[i], i < n: nk_rng_normal of the words w[2i], w[2i + 1]. */
void nk_normals_u32(const uint32_t *w, double *out, int64_t n);

/* out[i] = nk_rng_below(r, n + i step), i < k, in that order: the same
 * values, and r left where those calls leave it. */
void nk_rng_below_n(nk_rng *r, uint32_t n, uint32_t step, uint32_t *out, int64_t k);

/* The instruction set the functions above use: "avx512", "avx2" or "base"
 * (plain code for the target the library was built for). */
const char *nk_fastdraw_isa(void);

/* Makes the functions above use the instruction set `isa` (one of the names
 * above), for the tests, which check each against the scalar functions.
 * Returns 0, or -1 when this build or this CPU has no such set (nothing
 * changes then). Not while another thread draws. */
int nk_fastdraw_pick(const char *isa);

/* ---- inside: fastdraw.c and the builds of fastdraw_isa.c ---------------- */

/* log(j / 128) as hi + lo double-doubles, j = NKFD_LOG_J0..NKFD_LOG_J1
 * (the nearest multiples of 1/128 to [sqrt(1/2), sqrt(2))): [0] the high
 * parts, [1] the low, made by nkm_log_dd before the first call above */
#define NKFD_LOG_J0 90  /* 128 sqrt(1/2) = 90.5 */
#define NKFD_LOG_J1 182 /* 128 sqrt(2) = 181.02 */
#define NKFD_LOG_N (NKFD_LOG_J1 - NKFD_LOG_J0 + 1)
extern double nkfd_log_tab[2][NKFD_LOG_N];

/* One build's kernels, named nkfd_<kernel>_<isa>: log_n and normals as
 * nk_log_fast_n and nk_normals_u32; blocks writes the 4 words of each of
 * the blocks draw0 .. draw0 + nblocks - 1 of r's stream to out. */
#define NKFD_CAT(a, b, c) a##b##_##c
#define NKFD_NAME(kernel, isa) NKFD_CAT(nkfd_, kernel, isa)
#ifdef NKFD_ISA
#define NKFD(kernel) NKFD_NAME(kernel, NKFD_ISA)
#endif
#define NKFD_DECLARE(isa)                                                                  \
    void NKFD_NAME(log_n, isa)(const double *x, double *out, int64_t n);                  \
    void NKFD_NAME(normals, isa)(const uint32_t *w, double *out, int64_t n);             \
    void NKFD_NAME(blocks, isa)(const nk_rng *r, uint32_t draw0, uint32_t *out, int64_t nblocks);
NKFD_DECLARE(base)
NKFD_DECLARE(avx2)
NKFD_DECLARE(avx512)

#endif
