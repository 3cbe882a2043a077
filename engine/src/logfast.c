/* nk_log_fast: the natural logarithm, always the same double as nk_log
 * (rt/nk_math.h), in two thirds of its time (24.9 against 38.4 ns a call
 * on the 2-core development machine, arguments the random streams'
 * uniforms), for the host's loops that take many logarithms
 * (construction's normal draws: two per synapse).
 *
 * nk_log rounds a double-double approximation of relative error about
 * 2^-65 (nkm_log_dd). Here a shorter one is made, with a bound E on its
 * error: when every value within E of it, widened by nkm_log_dd's own
 * error, rounds to one double r, the logarithm rounds to r and so does
 * nkm_log_dd's approximation, so r is nk_log's result. Otherwise (about one
 * call in a hundred) nk_log itself is returned. Rounding is monotone, so
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
 * of the random streams' uniforms. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "internal.h"
#include "rt/nk_math.h"

#define LOG_J0 90  /* 128 sqrt(1/2) = 90.5 */
#define LOG_J1 182 /* 128 sqrt(2) = 181.02 */

static double log_tab[LOG_J1 - LOG_J0 + 1][2];
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static int log_ready; /* the table is made (read with acquire) */

static void log_tab_make(void)
{
    for (int j = LOG_J0; j <= LOG_J1; j++) {
        if (j == 128) {
            log_tab[j - LOG_J0][0] = log_tab[j - LOG_J0][1] = 0;
            continue;
        }
        nkm_log_dd((double)j / 128.0, &log_tab[j - LOG_J0][0], &log_tab[j - LOG_J0][1]);
    }
    __atomic_store_n(&log_ready, 1, __ATOMIC_RELEASE);
}

double nk_log_fast(double x)
{
    uint64_t b = nkm_bits(x);
    /* zero, negative, subnormal, infinite, NaN: nk_log */
    if (b < 0x0010000000000000ull || b >= 0x7ff0000000000000ull)
        return nk_log(x);
    if (!__atomic_load_n(&log_ready, __ATOMIC_ACQUIRE))
        pthread_once(&log_once, log_tab_make);
    int k = (int)(b >> 52) - 1023;
    b = (b & 0x000fffffffffffffull) | 0x3ff0000000000000ull; /* [1, 2) */
    if (b > 0x3ff6a09e667f3bcdull) { /* m > sqrt(2): m / 2, k + 1 */
        b -= 0x0010000000000000ull;
        k += 1;
    }
    const double m = nkm_from_bits(b);
    const int j = (int)(m * 128.0 + 0.5);
    const double c = (double)j * 0.0078125, g = m - c; /* exact */
    /* s = g / (m + c) as sh + sl: one division, sh within an ulp or so,
     * sl from the remainder (exact: nkm_two_prod) */
    double dh, dl, p, pe;
    nkm_two_sum(m, c, &dh, &dl);
    const double inv = 1.0 / dh, sh = g * inv;
    nkm_two_prod(sh, dh, &p, &pe);
    const double sl = (((g - p) - pe) - sh * dl) * inv;
    const double z = sh * sh;
    const double poly = z * (0.3333333333333333 + z * (0.2 + z * 0.14285714285714285));
    /* k ln2_hi + log c + 2s, the large parts, as h + e exactly */
    const double kd = (double)k;
    const double *t = log_tab[j - LOG_J0];
    double h1, e1, h2, e2;
    nkm_two_sum(kd * NKM_LN2_HI, t[0], &h1, &e1);
    nkm_two_sum(h1, 2.0 * sh, &h2, &e2);
    const double lo = e1 + e2 + (kd * NKM_LN2_LO + t[1]) + 2.0 * sl + 2.0 * sh * poly;
    double h, l;
    nkm_fast_two_sum(h2, lo, &h, &l);
    const double r = h + l;
    const double bound = fabs(h) * 0x1p-60;
    if (h + (l + bound) == r && h + (l - bound) == r)
        return r;
    return nk_log(x);
}
