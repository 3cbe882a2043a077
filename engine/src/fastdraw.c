/* fastdraw.c - the host's draws for construction, many at once, the same
 * numbers as nk_philox.h's and nk_math.h's functions one at a time
 * (fastdraw.h): the words of a Philox stream, 32 blocks at once; normal
 * draws, 64 at a time; and the logarithm, eight at a time, which the
 * normal draws take. The work is done by fastdraw_isa.c, built once for
 * each instruction set that may be picked (on x86-64: AVX-512, AVX2 with
 * FMA, and plain x86-64; elsewhere the one build for the target); this
 * file picks one for the CPU on first use and holds what the builds share.
 *
 * Measured on the 2-core development machine (AMD EPYC with AVX-512; a
 * scratch benchmark of 4 M draws, 2026-11-24): a normal draw took 55 ns
 * one at a time (nk_rng_normal with the scalar form of the logarithm
 * below); 16.1 ns 64 at a time with Dekker's products and target_clones
 * (the previous form of this file); 9.6-10.7 ns with the FMA's. Its two
 * words: 9.3 ns one at a time; 5.4 ns eight blocks at a time with gcc's
 * 64-bit products; 2.9 ns with the 32-bit multiply; 1.7 ns with four runs
 * of eight blocks side by side.
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
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "fastdraw.h"

double nkfd_log_tab[2][NKFD_LOG_N];

typedef struct {
    const char *name;
    void (*log_n)(const double *, double *, int64_t);
    void (*normals)(const uint32_t *, double *, int64_t);
    void (*blocks)(const nk_rng *, uint32_t, uint32_t *, int64_t);
} isa_kernels;

#define ISA(isa) {#isa, NKFD_NAME(log_n, isa), NKFD_NAME(normals, isa), NKFD_NAME(blocks, isa)}
/* best first */
static const isa_kernels isas[] = {
#if NKFD_HAVE_AVX512
    ISA(avx512),
#endif
#if NKFD_HAVE_AVX2
    ISA(avx2),
#endif
    ISA(base),
};
#define NISA (sizeof isas / sizeof *isas)

static const isa_kernels *use; /* set once by prepare (read with acquire) */
static pthread_once_t prep_once = PTHREAD_ONCE_INIT;

/* whether this CPU (and its operating system: gcc's test looks at what the
 * kernel saves) runs the build `name` */
static int cpu_runs(const char *name)
{
#if NKFD_HAVE_AVX2 || NKFD_HAVE_AVX512
    __builtin_cpu_init();
    if (!strcmp(name, "avx512"))
        return __builtin_cpu_supports("avx512f");
    if (!strcmp(name, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return !strcmp(name, "base");
}

static void prepare(void)
{
    for (int j = NKFD_LOG_J0; j <= NKFD_LOG_J1; j++) {
        double *hi = &nkfd_log_tab[0][j - NKFD_LOG_J0], *lo = &nkfd_log_tab[1][j - NKFD_LOG_J0];
        if (j == 128)
            *hi = *lo = 0;
        else
            nkm_log_dd((double)j / 128.0, hi, lo);
    }
    size_t k = 0;
    while (!cpu_runs(isas[k].name)) /* base, the last, always runs */
        k++;
    __atomic_store_n(&use, &isas[k], __ATOMIC_RELEASE);
}

static const isa_kernels *kernels(void)
{
    const isa_kernels *u = __atomic_load_n(&use, __ATOMIC_ACQUIRE);
    if (!u) {
        pthread_once(&prep_once, prepare);
        u = __atomic_load_n(&use, __ATOMIC_ACQUIRE);
    }
    return u;
}

const char *nk_fastdraw_isa(void)
{
    return kernels()->name;
}

int nk_fastdraw_pick(const char *isa)
{
    kernels(); /* the table made */
    for (size_t k = 0; k < NISA; k++)
        if (!strcmp(isas[k].name, isa)) {
            if (!cpu_runs(isa))
                return -1;
            __atomic_store_n(&use, &isas[k], __ATOMIC_RELEASE);
            return 0;
        }
    return -1;
}

void nk_log_fast_n(const double *x, double *out, int64_t n)
{
    kernels()->log_n(x, out, n);
}

void nk_normals_u32(const uint32_t *w, double *out, int64_t n)
{
    kernels()->normals(w, out, n);
}

void nk_rng_words(nk_rng *r, uint32_t *w, int64_t n)
{
    int64_t i = 0;
    while (i < n && r->left > 0) /* the rest of the block begun */
        w[i++] = nk_rng_u32(r);
    const int64_t nb = (n - i) / 4; /* whole blocks */
    if (nb > 0) {
        kernels()->blocks(r, r->draw, w + i, nb);
        r->draw += (uint32_t)nb;
        i += 4 * nb;
    }
    while (i < n)
        w[i++] = nk_rng_u32(r);
}

/* Lemire's multiply-and-reject, as nk_rng_below, over words drawn in runs.
 * A word whose low product is below n may be rejected (a probability below
 * n / 2^32), and n = 0 takes no word: there the stream goes back to just
 * after the words taken, and nk_rng_below itself draws that value (the
 * runs shrink while that happens often: n near 2^32). */
void nk_rng_below_n(nk_rng *r, uint32_t n, uint32_t step, uint32_t *out, int64_t k)
{
    enum { RUN = 256 };
    uint32_t w[RUN];
    int64_t i = 0, run = RUN; /* shorter while words are turned back */
    while (i < k) {
        const int64_t m = k - i < run ? k - i : run;
        const nk_rng r0 = *r;
        nk_rng_words(r, w, m);
        int64_t j = 0;
        for (; j < m; j++, i++) {
            const uint32_t nn = n + (uint32_t)i * step;
            const uint64_t p = (uint64_t)w[j] * nn;
            if ((uint32_t)p < nn || nn == 0)
                break;
            out[i] = (uint32_t)(p >> 32);
        }
        if (j < m) {
            *r = r0;
            nk_rng_words(r, w, j);
            out[i] = nk_rng_below(r, n + (uint32_t)i * step);
            i++;
            run = run > 8 ? run / 2 : 8;
        } else if (run < RUN) {
            run *= 2;
        }
    }
}
