/* test_philox.c - tests for rt/nk_philox.h: Philox4x32-10 known answers,
 * the engine's counter layout, and the statistics of the derived
 * variates (uniform, normal, Poisson, binomial, bounded integers). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "rt/nk_philox.h"

/* ---- known-answer tests --------------------------------------------------
 * Random123's published known-answer vectors for philox4x32 with 10
 * rounds: the "philox4x32 10" lines of the file tests/kat_vectors of the
 * Random123 distribution (D. E. Shaw Research), as quoted verbatim in
 * DEShawResearch/Random123-Boost, libs/random/test/test_philox.cpp
 * (commit 916db91a, "cut-and-pasted from the kat_vectors file in the
 * original Random123 distribution"). Columns: counter[4] key[2] -> out[4]. */
static const uint32_t kat[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
     0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
     0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
     0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
};

static void test_kat(void)
{
    int i, j;
    for (i = 0; i < 3; i++) {
        uint32_t out[4];
        nk_philox4x32_10(&kat[i][0], &kat[i][4], out);
        for (j = 0; j < 4; j++)
            CHECK_EQ_INT(out[j], kat[i][6 + j]);
    }
}

/* ---- counter layout and purity ------------------------------------------ */

static int same4(const uint32_t *a, const uint32_t *b)
{
    return memcmp(a, b, 4 * sizeof *a) == 0;
}

static void test_layout(void)
{
    const uint64_t seed = 0x0123456789abcdefull;
    const uint64_t step = 0x0000abcd12345678ull;
    uint32_t a[4], b[4], ref[4], ctr[4], key[2];
    nk_rng r;
    int i;

    /* explicit layout */
    key[0] = 0x89abcdefu;
    key[1] = 0x01234567u;
    ctr[0] = 7;          /* draw */
    ctr[1] = 123456;     /* index */
    ctr[2] = 0x12345678u; /* step low */
    ctr[3] = (0x0042u << 16) | 0xabcdu; /* stream, step high */
    nk_philox4x32_10(ctr, key, ref);
    nk_rng_block(seed, 0x42, step, 123456, 7, a);
    CHECK(same4(a, ref));

    /* pure: same inputs, same outputs */
    nk_rng_block(seed, 0x42, step, 123456, 7, b);
    CHECK(same4(a, b));

    /* every field changes the output */
    nk_rng_block(seed + 1, 0x42, step, 123456, 7, b);
    CHECK(!same4(a, b));
    nk_rng_block(seed ^ (1ull << 40), 0x42, step, 123456, 7, b);
    CHECK(!same4(a, b));
    nk_rng_block(seed, 0x43, step, 123456, 7, b);
    CHECK(!same4(a, b));
    nk_rng_block(seed, 0x42, step + 1, 123456, 7, b);
    CHECK(!same4(a, b));
    nk_rng_block(seed, 0x42, step + (1ull << 32), 123456, 7, b);
    CHECK(!same4(a, b));
    nk_rng_block(seed, 0x42, step, 123457, 7, b);
    CHECK(!same4(a, b));
    nk_rng_block(seed, 0x42, step, 123456, 8, b);
    CHECK(!same4(a, b));
    /* the stream id is 16 bits: higher bits are ignored */
    nk_rng_block(seed, 0x42 | 0x10000u, step, 123456, 7, b);
    CHECK(same4(a, b));

    /* nk_rng consumes block 0 words 0..3, then block 1, ... */
    nk_rng_init(&r, seed, 0x42, step, 123456);
    for (i = 0; i < 12; i++) {
        uint32_t blk[4];
        nk_rng_block(seed, 0x42, step, 123456, (uint32_t)(i / 4), blk);
        CHECK_EQ_INT(nk_rng_u32(&r), blk[i % 4]);
    }
    CHECK_EQ_INT(r.draw, 3);
}

static void test_u01(void)
{
    CHECK(nk_u01(0) > 0.0);
    CHECK(nk_u01(0) == 0x1p-33);
    CHECK(nk_u01(0xFFFFFFFFu) < 1.0);
    CHECK(nk_u01(0xFFFFFFFFu) == 1.0 - 0x1p-33);
    CHECK(nk_u01(0x80000000u) == 0.5 + 0x1p-33);
}

/* ---- statistics ------------------------------------------------------------ */

/* |mean - mu| within 5 standard errors, |var - sigma2| too, where
 * m4c = fourth central moment (var of the sample variance ~ (m4c-s^4)/n) */
static void check_moments(const char *what, double sum, double sum2, long n,
                          double mu, double sigma2, double m4c)
{
    double mean = sum / n;
    double var = sum2 / n - mean * mean;
    double se_mean = sqrt(sigma2 / n);
    double se_var = sqrt((m4c - sigma2 * sigma2) / n);
    int ok_m = fabs(mean - mu) <= 5.0 * se_mean + 1e-12;
    int ok_v = fabs(var - sigma2) <= 5.0 * se_var + 1e-12;
    printf("  %-26s mean %.6f (exp %.6f, %+.2f se)  var %.6f (exp %.6f, "
           "%+.2f se)\n",
           what, mean, mu, se_mean > 0 ? (mean - mu) / se_mean : 0.0, var,
           sigma2, se_var > 0 ? (var - sigma2) / se_var : 0.0);
    CHECK(ok_m);
    CHECK(ok_v);
}

/* chi-square of observed counts obs[0..kmax] against pmf (N draws); bins
 * with expectation < 5 are pooled. Checks chi2 < df + 6 sqrt(2 df). */
static void check_chi2(const char *what, const long *obs, const double *pmf,
                       int kmax, long n)
{
    double chi2 = 0.0, eacc = 0.0, oacc = 0.0;
    int k, df = -1;
    for (k = 0; k <= kmax; k++) {
        eacc += pmf[k] * n;
        oacc += obs[k];
        if (eacc >= 5.0) {
            chi2 += (oacc - eacc) * (oacc - eacc) / eacc;
            df++;
            eacc = oacc = 0.0;
        }
    }
    if (eacc > 0.0 || oacc > 0.0) { /* remaining tail, pooled */
        if (eacc < 1e-300)
            eacc = 1e-300;
        chi2 += (oacc - eacc) * (oacc - eacc) / eacc;
        df++;
    }
    printf("  %-26s chi2 %.1f, df %d (bound %.1f)\n", what, chi2, df,
           df + 6.0 * sqrt(2.0 * df));
    CHECK(chi2 < df + 6.0 * sqrt(2.0 * df));
}

static void test_uniform_normal(void)
{
    nk_rng r;
    long i, n = 1000000, tail = 0;
    double s = 0, s2 = 0, lo = 1, hi = 0;
    nk_rng_init(&r, 42, 1, 0, 0);
    for (i = 0; i < n; i++) {
        double u = nk_rng_uniform(&r);
        s += u;
        s2 += u * u;
        if (u < lo)
            lo = u;
        if (u > hi)
            hi = u;
    }
    CHECK(lo > 0.0 && hi < 1.0);
    check_moments("uniform", s, s2, n, 0.5, 1.0 / 12, 1.0 / 80);

    s = s2 = 0;
    n = 400000; /* normals are dearer (log + cos) */
    nk_rng_init(&r, 42, 2, 0, 0);
    for (i = 0; i < n; i++) {
        double z = nk_rng_normal(&r);
        s += z;
        s2 += z * z;
        if (fabs(z) > 1.959963984540054)
            tail++;
    }
    check_moments("normal", s, s2, n, 0.0, 1.0, 3.0);
    /* P(|z| > 1.96) = 0.05, se = sqrt(0.05 * 0.95 / n) */
    CHECK(fabs((double)tail / n - 0.05) < 5 * sqrt(0.05 * 0.95 / n));

    /* adjacent indices are uncorrelated */
    {
        double sxy = 0, sx = 0, sy = 0;
        long m = 200000;
        for (i = 0; i < m; i++) {
            nk_rng a, b;
            double x, y;
            nk_rng_init(&a, 7, 3, (uint64_t)i, 10);
            nk_rng_init(&b, 7, 3, (uint64_t)i, 11);
            x = nk_rng_uniform(&a) - 0.5;
            y = nk_rng_uniform(&b) - 0.5;
            sx += x;
            sy += y;
            sxy += x * y;
        }
        /* corr ~ N(0, 1/m) */
        CHECK(fabs((sxy / m - sx / m * sy / m) * 12.0) < 5.0 / sqrt((double)m));
    }
}

static void poisson_pmf(double lambda, double *pmf, int kmax)
{
    int k;
    for (k = 0; k <= kmax; k++)
        pmf[k] = exp(k * log(lambda) - lambda - lgamma(k + 1.0));
}

#define KMAX 1200

static long obs[KMAX + 1];
static double pmf[KMAX + 1];

static void test_poisson(void)
{
    static const double lambdas[] = {0.05, 0.5, 3, 9.9, 10, 37, 500};
    unsigned li;
    nk_rng r;
    for (li = 0; li < sizeof lambdas / sizeof lambdas[0]; li++) {
        double lam = lambdas[li], s = 0, s2 = 0;
        long i, n = 200000;
        char name[64];
        memset(obs, 0, sizeof obs);
        for (i = 0; i < n; i++) {
            uint32_t k;
            if (i % 1000 == 0) /* also exercise many (step, index) */
                nk_rng_init(&r, 99, 4, (uint64_t)i, (uint32_t)li);
            k = nk_rng_poisson(&r, lam);
            s += k;
            s2 += (double)k * k;
            if (k <= KMAX)
                obs[k]++;
        }
        snprintf(name, sizeof name, "poisson(%g)", lam);
        check_moments(name, s, s2, n, lam, lam, lam * (1 + 3 * lam));
        poisson_pmf(lam, pmf, KMAX);
        check_chi2(name, obs, pmf, KMAX, n);
    }
    nk_rng_init(&r, 1, 1, 1, 1);
    CHECK_EQ_INT(nk_rng_poisson(&r, 0.0), 0);
    CHECK_EQ_INT(nk_rng_poisson(&r, -3.0), 0);
    CHECK_EQ_INT(nk_rng_poisson(&r, NAN), 0);
    {
        uint32_t k = nk_rng_poisson(&r, 1e9);
        CHECK(k > 1e9 - 6 * sqrt(1e9) && k < 1e9 + 6 * sqrt(1e9));
    }
}

static void binom_pmf(uint32_t nn, double p, double *out, int kmax)
{
    int k;
    for (k = 0; k <= kmax; k++)
        out[k] = ((uint32_t)k > nn) ? 0.0
                               : exp(lgamma(nn + 1.0) - lgamma(k + 1.0) -
                                     lgamma(nn - k + 1.0) + k * log(p) +
                                     (nn - k) * log1p(-p));
}

static void test_binomial(void)
{
    static const struct {
        uint32_t n;
        double p;
    } cases[] = {
        {1, 0.3},     {10, 0.3},     {50, 0.9},     {1000, 0.01},
        {200, 0.14},  {1000, 0.2},   {1000, 0.5},   {100000, 0.7},
        {4000000000u, 1e-8}, {1000000, 0.001},
    };
    unsigned ci;
    nk_rng r;
    for (ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        uint32_t nn = cases[ci].n;
        double p = cases[ci].p, q = 1 - p, s = 0, s2 = 0;
        double mu = nn * p, v = nn * p * q;
        long i, n = 100000;
        int chi = mu + 10 * sqrt(v) < KMAX, ok = 1;
        char name[64];
        memset(obs, 0, sizeof obs);
        for (i = 0; i < n; i++) {
            uint32_t k;
            if (i % 1000 == 0)
                nk_rng_init(&r, 5, 6, (uint64_t)i, (uint32_t)ci);
            k = nk_rng_binomial(&r, nn, p);
            if (k > nn)
                ok = 0;
            s += k;
            s2 += (double)k * k;
            if (k <= KMAX)
                obs[k]++;
        }
        CHECK(ok);
        snprintf(name, sizeof name, "binomial(%u, %g)", nn, p);
        check_moments(name, s, s2, n, mu, v, v * (1 + 3 * (nn - 2.0) * p * q));
        if (chi) {
            binom_pmf(nn, p, pmf, KMAX);
            check_chi2(name, obs, pmf, KMAX, n);
        }
    }
    nk_rng_init(&r, 1, 1, 1, 1);
    CHECK_EQ_INT(nk_rng_binomial(&r, 0, 0.5), 0);
    CHECK_EQ_INT(nk_rng_binomial(&r, 10, 0.0), 0);
    CHECK_EQ_INT(nk_rng_binomial(&r, 10, -1.0), 0);
    CHECK_EQ_INT(nk_rng_binomial(&r, 10, NAN), 0);
    CHECK_EQ_INT(nk_rng_binomial(&r, 10, 1.0), 10);
    CHECK_EQ_INT(nk_rng_binomial(&r, 4000000000u, 1.0), 4000000000u);
}

static void test_below(void)
{
    nk_rng r;
    long i, cnt10[10] = {0}, n = 200000;
    static long cnt1000[1000];
    double chi2 = 0, s = 0;
    int k, ok = 1;
    nk_rng_init(&r, 3, 7, 0, 0);
    for (i = 0; i < n; i++) {
        uint32_t v = nk_rng_below(&r, 10);
        if (v >= 10)
            ok = 0;
        else
            cnt10[v]++;
    }
    CHECK(ok);
    for (k = 0; k < 10; k++) {
        double e = n / 10.0;
        chi2 += (cnt10[k] - e) * (cnt10[k] - e) / e;
    }
    printf("  below(10)                  chi2 %.1f, df 9 (bound 40)\n", chi2);
    CHECK(chi2 < 40.0);

    chi2 = 0;
    n = 1000000;
    memset(cnt1000, 0, sizeof cnt1000);
    for (i = 0; i < n; i++) {
        uint32_t v = nk_rng_below(&r, 1000);
        if (v >= 1000)
            ok = 0;
        else
            cnt1000[v]++;
    }
    CHECK(ok);
    for (k = 0; k < 1000; k++) {
        double e = n / 1000.0;
        chi2 += (cnt1000[k] - e) * (cnt1000[k] - e) / e;
    }
    printf("  below(1000)                chi2 %.1f, df 999 (bound %.1f)\n",
           chi2, 999 + 6 * sqrt(2 * 999.0));
    CHECK(chi2 < 999 + 6 * sqrt(2 * 999.0));

    /* n just above 2^31: half the words would be rejected by naive
     * rejection, Lemire's rejects ~50% too; mean must be n/2 */
    {
        uint32_t big = 0x80000001u;
        long m = 200000;
        for (i = 0; i < m; i++) {
            uint32_t v = nk_rng_below(&r, big);
            if (v >= big)
                ok = 0;
            s += v;
        }
        CHECK(ok);
        CHECK(fabs(s / m / big - 0.5) < 5 * sqrt(1.0 / 12 / m));
    }
    for (i = 0; i < 100; i++)
        CHECK_EQ_INT(nk_rng_below(&r, 1), 0);
    CHECK_EQ_INT(nk_rng_below(&r, 0), 0);
}

static void test_determinism(void)
{
    nk_rng a, b;
    int i, ok = 1;
    nk_rng_init(&a, 11, 12, 13, 14);
    nk_rng_init(&b, 11, 12, 13, 14);
    for (i = 0; i < 2000; i++) {
        double x = nk_rng_normal(&a), y = nk_rng_normal(&b);
        uint32_t p1 = nk_rng_poisson(&a, 0.1 * i), p2 = nk_rng_poisson(&b, 0.1 * i);
        uint32_t b1 = nk_rng_binomial(&a, 1000u + i, 0.3), b2 = nk_rng_binomial(&b, 1000u + i, 0.3);
        if (memcmp(&x, &y, sizeof x) != 0 || p1 != p2 || b1 != b2)
            ok = 0;
    }
    CHECK(ok);
    CHECK(a.draw == b.draw && a.left == b.left);
}

int main(void)
{
    test_kat();
    test_layout();
    test_u01();
    test_uniform_normal();
    test_poisson();
    test_binomial();
    test_below();
    test_determinism();
    return check_finish("philox");
}
