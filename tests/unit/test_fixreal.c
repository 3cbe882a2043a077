/* test_fixreal.c - NK_FIX_REAL (rt/nk_kernel.h), the conversion of Q32.32
 * synaptic input to double that generated kernels use, against the plain
 * (double)x * 2^-32, bit for bit; and NK_FIX_REAL_SMALL, its short form for
 * |x| < 2^51, the same way over that range (and, to show that the range is
 * needed, that it goes wrong just past it).
 *
 * meson.build compiles this test with -mavx2 on x86-64, so that it checks the
 * split form that kernels built for AVX2 without AVX-512 use; it is skipped
 * (77) on a CPU without AVX2. Elsewhere it checks the direct form. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "rt/nk_kernel.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rnd64(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

enum { N = 1 << 20 };
static int64_t x[N];
static double got[N];

/* How many of got[] differ in any bit from (double)x * 2^-32 (the first few
 * are printed, named what). */
static long differ(const char *what)
{
    long bad = 0;
    for (size_t k = 0; k < N; k++) {
        const double want = (double)x[k] * NK_FIX_INV;
        uint64_t a, b;
        memcpy(&a, &got[k], 8);
        memcpy(&b, &want, 8);
        if (a != b && bad++ < 5)
            fprintf(stderr, "%s(%lld) = %a, want %a\n", what, (long long)x[k], got[k], want);
    }
    return bad;
}

int main(void)
{
#if defined(__AVX2__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) {
        printf("fixreal: this CPU has no AVX2, skipped\n");
        return 77;
    }
#endif
    static const int64_t edge[] = {0, 1, -1, INT64_MAX, INT64_MIN, INT64_MIN + 1,
                                   (int64_t)1 << 32, -((int64_t)1 << 32),
                                   ((int64_t)1 << 53) + 1, -((int64_t)1 << 53) - 1,
                                   ((int64_t)1 << 62) + 3, (int64_t)0x7fffffff,
                                   (int64_t)0x80000000, -(int64_t)0x80000000,
                                   (int64_t)0xffffffff, -(int64_t)0xffffffff};
    const size_t nedge = sizeof edge / sizeof edge[0];
    for (size_t k = 0; k < N; k++) {
        /* every magnitude from 1 bit to 64, both signs, and the edges */
        const uint64_t r = rnd64();
        x[k] = k < nedge ? edge[k] : (int64_t)(rnd64() >> (r % 64));
        if (k >= nedge && (r >> 6) & 1)
            x[k] = -x[k]; /* |x| < 2^63 here */
    }
    for (size_t k = 0; k < N; k++) /* a loop the compiler vectorises */
        got[k] = NK_FIX_REAL(x[k]);
    CHECK_EQ_INT(differ("NK_FIX_REAL"), 0);

    /* the short form: every magnitude from 1 bit to 51, both signs, and the
     * range's ends */
    static const int64_t sedge[] = {0, 1, -1, ((int64_t)1 << 51) - 1, -((int64_t)1 << 51),
                                    -((int64_t)1 << 51) + 1, (int64_t)1 << 32,
                                    -((int64_t)1 << 32), (int64_t)0xffffffff};
    const size_t nsedge = sizeof sedge / sizeof sedge[0];
    for (size_t k = 0; k < N; k++) {
        const uint64_t r = rnd64();
        x[k] = k < nsedge ? sedge[k] : (int64_t)(rnd64() >> (13 + r % 51));
        if (k >= nsedge && (r >> 6) & 1)
            x[k] = -x[k]; /* |x| < 2^51 here */
    }
    for (size_t k = 0; k < N; k++)
        got[k] = NK_FIX_REAL_SMALL(x[k]);
    CHECK_EQ_INT(differ("NK_FIX_REAL_SMALL"), 0);
    const int64_t above = ((int64_t)1 << 51) + ((int64_t)1 << 32) + 1;
    const int64_t below = -((int64_t)1 << 51) - 1;
    CHECK(NK_FIX_REAL_SMALL(above) != (double)above * NK_FIX_INV);
    CHECK(NK_FIX_REAL_SMALL(below) != (double)below * NK_FIX_INV);
#if defined(__AVX2__) && !defined(__AVX512DQ__)
    printf("fixreal: the split form, %d values compared\n", (int)N);
#else
    printf("fixreal: the direct form, %d values compared\n", (int)N);
#endif
    return check_finish("fixreal");
}
