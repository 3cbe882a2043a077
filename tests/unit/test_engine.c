/* test_engine.c - CSR construction, ring buffers and fixed-point
 * accumulation, looked at from inside the engine. */
#include "check.h"
#include "internal.h"
#include "../backends/backend.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nk_ctx *ctx;

/* CSR rows are by presynaptic neuron, targets ascending within a row, and
 * row pointers add up to the synapse count. */
static void test_csr(void)
{
    nk_net_opts o;
    nk_net_opts_init(&o);
    o.seed = 42;
    nk_net *net = nk_net_new(ctx, &o);
    int a = nk_pop_add(net, "lif", 50, "a", NULL);
    int b = nk_pop_add(net, "lif", 80, "b", NULL);
    CHECK(a == 0 && b == 1);
    nk_conn_opts c;
    nk_conn_opts_init(&c);
    c.rule = NK_RULE_BERNOULLI;
    c.p = 0.2;
    c.weight = 3.5;
    c.delay = 0.25; /* 2.5 steps: rounds to 3 (half away from zero) */
    nk_range pre = {a, 10, 40}, post = {b, 5, 75};
    int pj = nk_connect(net, pre, post, &c);
    CHECK(pj == 0);
    nk_proj *p = &net->projs[pj];
    CHECK_EQ_INT(p->row[0], 0);
    CHECK_EQ_INT(p->row[30], p->nsyn);
    int sorted = 1, inrange = 1, wok = 1, dok = 1;
    for (int64_t r = 0; r < 30; r++) {
        CHECK(p->row[r] <= p->row[r + 1]);
        for (int64_t e = p->row[r]; e < p->row[r + 1]; e++) {
            if (e > p->row[r] && p->col[e] <= p->col[e - 1])
                sorted = 0;
            if (p->col[e] < 5 || p->col[e] >= 75)
                inrange = 0;
            if (p->w[e] != 3.5f)
                wok = 0;
            if (p->delay[e] != 3)
                dok = 0;
        }
    }
    CHECK(sorted);
    CHECK(inrange);
    CHECK(wok);
    CHECK(dok);
    CHECK(p->nsyn > 300 && p->nsyn < 540); /* 2100 * 0.2 = 420 */

    /* fixed_indegree: every target has exactly K sources, distinct when
     * multapses are off; rebuilt from CSR by counting. */
    c.rule = NK_RULE_FIXED_INDEGREE;
    c.indegree = 7;
    c.allow_multapses = 0;
    c.allow_autapses = 0;
    nk_range all_a = {a, 0, 50};
    pj = nk_connect(net, all_a, all_a, &c);
    p = &net->projs[pj];
    CHECK_EQ_INT(p->nsyn, 7 * 50);
    int indeg[50] = {0}, dup = 0, aut = 0;
    unsigned char seen[50][50];
    memset(seen, 0, sizeof seen);
    for (int64_t r = 0; r < 50; r++)
        for (int64_t e = p->row[r]; e < p->row[r + 1]; e++) {
            indeg[p->col[e]]++;
            if (seen[r][p->col[e]]++)
                dup = 1;
            if ((int64_t)p->col[e] == r)
                aut = 1;
        }
    int all7 = 1;
    for (int k = 0; k < 50; k++)
        all7 &= indeg[k] == 7;
    CHECK(all7);
    CHECK(!dup);
    CHECK(!aut);
    nk_net_free(net);
}

/* Fixed point: the sum does not depend on the order of additions, and
 * converts back within half an ulp of Q32.32. */
static void test_fixed_point(void)
{
    enum { N = 10000 };
    static double w[N];
    uint64_t x = 12345;
    for (int k = 0; k < N; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        w[k] = ((double)(x >> 11) / 9007199254740992.0 - 0.5) * 200.0;
    }
    int64_t fwd = 0, bwd = 0, odd = 0;
    double dfwd = 0;
    for (int k = 0; k < N; k++) {
        fwd += nk_fix_from(w[k]);
        dfwd += w[k];
    }
    for (int k = N - 1; k >= 0; k--) {
        bwd += nk_fix_from(w[k]);
    }
    for (int k = 1; k < N; k += 2)
        odd += nk_fix_from(w[k]);
    for (int k = 0; k < N; k += 2)
        odd += nk_fix_from(w[k]);
    CHECK_EQ_INT(fwd, bwd);
    CHECK_EQ_INT(fwd, odd);
    CHECK_NEAR((double)fwd * NK_FIX_INV, dfwd, 1e-6);
    CHECK_EQ_INT(nk_fix_from(1.0), (int64_t)1 << 32);
    CHECK_EQ_INT(nk_fix_from(-1.0), -((int64_t)1 << 32));
    CHECK_EQ_INT(nk_fix_from(0.5 / 4294967296.0), 1); /* rounds half away from zero */
    CHECK_NEAR((double)nk_fix_from(16.2) * NK_FIX_INV, 16.2, 1.2e-10);
}

/* Ring buffers: a spike at step s with delay D lands in slot (s + D) mod L of
 * the target receptor, and a slot is cleared after its step reads it. */
static void test_ring(void)
{
    nk_net_opts o;
    nk_net_opts_init(&o);
    o.dt = 0.1;
    nk_net *net = nk_net_new(ctx, &o);
    int pre = nk_pop_add(net, "lif", 1, "pre", NULL);
    int post = nk_pop_add(net, "lif", 3, "post", NULL);
    /* the presynaptic neuron starts above threshold: it fires in step 0 */
    nk_range r0 = {pre, 0, 1};
    CHECK(nk_pop_set_state(net, r0, "v", -40) == 0);
    nk_conn_opts c;
    nk_conn_opts_init(&c);
    c.rule = NK_RULE_ONE_TO_ONE;
    double delays[3] = {0.1, 0.2, 0.5};
    double weights[3] = {1.5, 2.5, 4.0};
    for (int k = 0; k < 3; k++) {
        nk_range tgt = {post, k, k + 1};
        c.delay = delays[k];
        c.weight = weights[k];
        CHECK(nk_connect(net, r0, tgt, &c) >= 0);
    }
    CHECK(nk_net_build(net) == 0);
    CHECK_EQ_INT(net->ring_len, 6); /* longest delay 5 steps + 1 */
    CHECK(net->be->step(net, ctx->err, sizeof ctx->err) == 0);
    CHECK_EQ_INT(net->pops[pre].nspk, 1);
    nk_pop *p = &net->pops[post];
    CHECK_EQ_INT(p->nrx, 1);
    int64_t *ring = p->rx[0].ring;
    /* entry of target j in slot d, wherever the layout puts it (nk_lay) */
#define RING(d, j) ring[(d) * p->lay.len + nk_at(&p->lay, j)]
    /* slot 0 was read in step 0 and cleared */
    for (int j = 0; j < 3; j++)
        CHECK_EQ_INT(RING(0, j), 0);
    CHECK_EQ_INT(RING(1, 0), nk_fix_from(1.5));
    CHECK_EQ_INT(RING(2, 1), nk_fix_from(2.5));
    CHECK_EQ_INT(RING(5, 2), nk_fix_from(4.0));
    CHECK_EQ_INT(RING(1, 1), 0);
    /* step 1 consumes slot 1: target 0's synaptic current jumps by 1.5 pA
     * and then decays over the step: isyn = 1.5 exp(-0.1/2) */
    CHECK(net->be->step(net, ctx->err, sizeof ctx->err) == 0);
    CHECK_EQ_INT(RING(1, 0), 0);
#undef RING
    int64_t e0 = nk_at(&p->lay, 0), e1 = nk_at(&p->lay, 1);
    double isyn = net->dbl ? ((double *)p->rx[0].state[0])[e0] : ((float *)p->rx[0].state[0])[e0];
    CHECK_NEAR(isyn, 1.5 * exp(-0.05), 1e-6);
    /* target 1 has not received anything yet */
    double isyn1 = ((float *)p->rx[0].state[0])[e1];
    CHECK_NEAR(isyn1, 0.0, 0.0);
    nk_net_free(net);
}

/* Layouts (nk_lay): moving an array between dense and chunked layouts
 * keeps every neuron's value where nk_at says, leaves the gaps untouched,
 * and comes back to the same dense array; empty chunks included. */
static void test_layout(void)
{
    enum { N = 130 };
    int64_t cut_b[4] = {0, 64, 64, N}, cut_c[3] = {0, 128, N};
    nk_lay a = {0, N, 1, NULL}, b = {3, N + 4 * 3, 3, cut_b}, c = {16, N + 3 * 16, 2, cut_c};
    int64_t dense[N], back[N];
    int64_t *eb = calloc((size_t)b.len, sizeof *eb), *ec = calloc((size_t)c.len, sizeof *ec);
    CHECK(eb && ec);
    if (!eb || !ec)
        goto out;
    for (int i = 0; i < N; i++)
        dense[i] = 1000 + i;
    nk_lay_scatter(&b, eb, sizeof *eb, N, dense);
    int at_ok = 1, gaps_ok = 1;
    for (int i = 0; i < N; i++)
        at_ok &= eb[nk_at(&b, i)] == 1000 + i;
    CHECK(at_ok);
    CHECK_EQ_INT(nk_at(&b, 0), 3);
    CHECK_EQ_INT(nk_at(&b, 63), 66);
    CHECK_EQ_INT(nk_at(&b, 64), 64 + 3 * 3); /* chunk 1 is empty: neuron 64 is chunk 2's */
    CHECK_EQ_INT(nk_at(&b, N - 1), N - 1 + 9);
    int64_t zeros = 0;
    for (int64_t e = 0; e < b.len; e++)
        zeros += eb[e] == 0;
    CHECK_EQ_INT(zeros, b.len - N); /* the gaps stay as allocated */
    nk_lay_move(&b, eb, &c, ec, sizeof *eb, N);
    for (int i = 0; i < N; i++)
        gaps_ok &= ec[nk_at(&c, i)] == 1000 + i;
    CHECK(gaps_ok);
    CHECK_EQ_INT(nk_at(&c, 128), 128 + 32);
    memset(back, 0, sizeof back);
    nk_lay_gather(&c, ec, sizeof *ec, N, back);
    CHECK(memcmp(back, dense, sizeof dense) == 0);
    memset(back, 0, sizeof back);
    nk_lay_move(&c, ec, &a, back, sizeof *ec, N);
    CHECK(memcmp(back, dense, sizeof dense) == 0);
out:
    free(eb);
    free(ec);
}

/* nk_snprintf prints what snprintf prints (the length it returns too, and
 * what fits a short buffer), except a NaN: "nan", whatever its sign. */
#define SAME(fmt, ...)                                                        \
    do {                                                                      \
        char a_[64], b_[64], c_[8], d_[8];                                    \
        volatile size_t short_ = sizeof d_; /* (no truncation warning) */     \
        int na_ = nk_snprintf(a_, sizeof a_, fmt, __VA_ARGS__);               \
        int nb_ = snprintf(b_, sizeof b_, fmt, __VA_ARGS__);                  \
        int nc_ = nk_snprintf(c_, sizeof c_, fmt, __VA_ARGS__);               \
        int nd_ = snprintf(d_, short_, fmt, __VA_ARGS__);                     \
        CHECK(na_ == nb_ && nc_ == nd_ && !strcmp(a_, b_) && !strcmp(c_, d_)); \
        if (strcmp(a_, b_))                                                   \
            fprintf(stderr, "  '%s' vs '%s'\n", a_, b_);                      \
    } while (0)

static void test_messages(void)
{
    SAME("plain %s", "text");
    SAME("%d%% of %u, %lld, %lu, %zu, %td", -3, 7u, -9000000000LL, 12ul, (size_t)5,
         (ptrdiff_t)-4);
    SAME("%5d|%-5d|%05d|%+d|%x|%#X|%o|%c", 42, 42, 42, 42, 255u, 255u, 8u, 'z');
    SAME("%hhd %hd %jd %ju", 300, 70000, (intmax_t)-1, (uintmax_t)1);
    SAME("%.*s|%*d|%-*d|%.*f", 3, "abcdef", 6, 1, 4, 2, -1, 0.5);
    SAME("%g %.17g %10.3f %e %a %G %Lg", 1e6, 0.1, 3.14159, 1234.5, 1.0, 1e-10, 2.5L);
    SAME("%s=%g, %s", "w", INFINITY, "done");
    SAME("%p %s", (void *)0, "end");
    char buf[64];
    nk_snprintf(buf, sizeof buf, "got %g, %.3f, %e, %5.1g, %Lg.", -NAN, NAN, -NAN, -NAN,
                (long double)-NAN);
    CHECK(!strcmp(buf, "got nan, nan, nan, nan, nan."));
    CHECK(nk_snprintf(NULL, 0, "%g|%g", -NAN, 1.5) == 7);

    static const struct {
        double v;
        const char *s;
    } nums[] = {{1000001, "1000001"}, {-1000000.5, "-1000000.5"}, {1e6, "1e+06"},
                {1.0000001, "1.0000001"}, {0.1, "0.1"}, {100, "100"}, {-0.25, "-0.25"},
                {0.1 + 0.2, "0.30000000000000004"}, {4294967296.0, "4294967296"},
                {INFINITY, "inf"}, {-INFINITY, "-inf"}, {-NAN, "nan"}, {NAN, "nan"}};
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        nk_fmt_num(nums[k].v, buf, 32);
        CHECK(!strcmp(buf, nums[k].s));
        if (strcmp(buf, nums[k].s))
            fprintf(stderr, "  nk_fmt_num: '%s', expected '%s'\n", buf, nums[k].s);
    }
}

int main(void)
{
    ctx = nk_ctx_new();
    CHECK(ctx != NULL);
    CHECK(nk_model_count(ctx) >= 2);
    test_csr();
    test_fixed_point();
    test_ring();
    test_layout();
    test_messages();
    nk_ctx_free(ctx);
    return check_finish("engine");
}
