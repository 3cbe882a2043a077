/* fastdraw.h - the host's random draws and logarithms, many at once: the
 * same numbers as nk_philox.h's and nk_math.h's functions one at a time,
 * bit for bit, several times as fast (fastdraw.c: vectors, picked for the
 * CPU at load time). For construction, which draws a weight and a delay
 * per synapse. */
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

#endif
