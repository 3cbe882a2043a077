/* connect.c - connectivity rules, built into CSR by presynaptic neuron.
 *
 * Determinism. Every rule draws from Philox with the network seed and the
 * projection's own stream; the counter's index is the neuron that owns the
 * draws (the presynaptic one, or the postsynaptic one for fixed_indegree)
 * and its step field says what is drawn:
 *
 *     step 0  structure (which pairs connect)
 *     step 1  weights, in row order, one row per presynaptic neuron
 *     step 2  delays, likewise
 *     step 3  fixed_total: the number of synapses of each source
 *
 * So the synapses of one neuron never depend on how many threads build the
 * others, nor on other projections. Within a row, synapses are in
 * increasing target order (a list keeps its own order among equal targets).
 *
 * Memory. Rules that go source by source (all but fixed_indegree and lists)
 * append to the target array as they go (bernoulli and distance: each
 * thread to a buffer of its own, the buffers then put together, so that the
 * targets are held twice for a moment: 8 bytes a synapse, less than the 10
 * they take once built, and a list per thread, not per source);
 * the other two count first and then fill, drawing the same numbers twice
 * rather than holding (pre, post) pairs.
 * A synapse costs 4 (target) + 4 (weight) + 2 (delay) bytes, plus 8 per
 * source for the row index; a request whose estimate exceeds the memory
 * available is refused before anything is allocated. */
#include "fastdraw.h"
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYN_BYTES 10 /* col + w + delay */

/* ---- expressions of the distance --------------------------------------------- */

typedef struct dvars {
    double d, dx, dy, dz;
} dvars;

static int dlookup(const char *name, double *v, void *ud)
{
    const dvars *x = ud;
    if (!strcmp(name, "d"))
        *v = x->d;
    else if (!strcmp(name, "dx"))
        *v = x->dx;
    else if (!strcmp(name, "dy"))
        *v = x->dy;
    else if (!strcmp(name, "dz"))
        *v = x->dz;
    else if (!strcmp(name, "pi"))
        *v = M_PI;
    else
        return -1;
    return 0;
}

typedef struct dctx {
    const char *src;
    char *err;
    size_t errlen;
    const char *what;
} dctx;

static int dcheck_var(const char *name, int line, int col, void *ud)
{
    dctx *c = ud;
    dvars probe = {0};
    double v;
    if (!dlookup(name, &v, &probe))
        return 0;
    char msg[512];
    nk_src_error(c->src, line, col, msg, sizeof msg,
                 "unknown name '%s' (an expression of the distance knows d, dx, dy, dz: um, "
                 "target minus source)",
                 name);
    snprintf(c->err, c->errlen, "%s: %s", c->what, msg);
    return -1;
}

/* Parses src as an expression of d; NULL with err filled. */
static nk_expr *dexpr_parse(const char *src, const char *what, char *err, size_t errlen)
{
    char msg[512];
    nk_expr *e = nk_expr_parse(src, msg, sizeof msg);
    if (!e) {
        snprintf(err, errlen, "%s: %s", what, msg);
        return NULL;
    }
    dctx c = {src, err, errlen, what};
    if (nk_expr_walk_vars(e, dcheck_var, &c)) {
        nk_expr_free(e);
        return NULL;
    }
    return e;
}

static int dexpr_eval(const nk_expr *e, const dvars *v, double *out, const char *what, char *err,
                      size_t errlen)
{
    char msg[256];
    if (nk_expr_eval(e, dlookup, (void *)v, out, msg, sizeof msg)) {
        snprintf(err, errlen, "%s: %s", what, msg);
        return -1;
    }
    return 0;
}

static int dcount_var(const char *name, int line, int col, void *ud)
{
    (void)line;
    (void)col;
    *(int *)ud += strcmp(name, "pi") != 0;
    return 0;
}

int nk_dexpr_const(const char *src, const char *what, int *is_const, double *value, char *err,
                   size_t errlen)
{
    *is_const = 0;
    nk_expr *e = dexpr_parse(src, what, err, errlen);
    if (!e)
        return -1;
    int nvars = 0;
    nk_expr_walk_vars(e, dcount_var, &nvars);
    int rc = 0;
    if (!nvars) {
        const dvars none = {0};
        rc = dexpr_eval(e, &none, value, what, err, errlen);
        *is_const = !rc;
    }
    nk_expr_free(e);
    return rc;
}

static void dist_of(const nk_net *net, const nk_proj *pj, int64_t a, uint32_t post, dvars *v)
{
    const double *p = net->pops[pj->pre.pop].pos + 3 * (pj->pre.lo + a);
    const double *q = net->pops[pj->post.pop].pos + 3 * (int64_t)post;
    v->dx = q[0] - p[0];
    v->dy = q[1] - p[1];
    v->dz = q[2] - p[2];
    v->d = sqrt(v->dx * v->dx + v->dy * v->dy + v->dz * v->dz);
}

/* ---- the CSR under construction ------------------------------------------------- */

typedef struct build {
    const nk_net *net;
    nk_proj *pj;
    const nk_conn_opts *o;
    const nk_list_src *ls;   /* list rule: edges from a file (else o's lists) */
    uint32_t stream;
    int64_t npre, npost;
    int same;                /* pre and post are one population */
    int autapses, multapses;
    int64_t *row;            /* npre + 1 */
    uint32_t *col;
    float *w;                /* allocated once the count is known (lists: at once) */
    uint16_t *delay;
    int64_t n, cap;
    int64_t limit;           /* synapses the memory available allows */
    char *err;
    size_t errlen;
} build;

static int too_many(build *b)
{
    snprintf(b->err, b->errlen,
             "more than %lld synapses (%.1f GB at %d bytes each) would not fit in the memory "
             "available",
             (long long)b->limit, (double)b->limit * SYN_BYTES / 1e9, SYN_BYTES);
    return -3;
}

/* ---- sorting ------------------------------------------------------------------------- */

/* An inlined quicksort (median of three) with insertion sort for short
 * runs, of unsigned integers of type T: about three times faster than
 * qsort with a comparison function, which was a fifth of the microcircuit's
 * construction (64 fixed_total projections, 30 M synapses at scale 0.1). */
#define DEFINE_SORT(name, T)                                                                     \
    static void name(T *a, int64_t n)                                                            \
    {                                                                                            \
        while (n > 24) {                                                                         \
            T x = a[0], y = a[n / 2], z = a[n - 1];                                              \
            T piv = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));       \
            int64_t i = 0, j = n - 1;                                                            \
            for (;;) {                                                                           \
                while (a[i] < piv)                                                               \
                    i++;                                                                         \
                while (a[j] > piv)                                                               \
                    j--;                                                                         \
                if (i >= j)                                                                      \
                    break;                                                                       \
                T t = a[i];                                                                      \
                a[i] = a[j];                                                                     \
                a[j] = t;                                                                        \
                i++;                                                                             \
                j--;                                                                             \
            }                                                                                    \
            /* recurse into the smaller side, loop on the larger */                              \
            if (j + 1 < n - j - 1) {                                                             \
                name(a, j + 1);                                                                  \
                a += j + 1;                                                                      \
                n -= j + 1;                                                                      \
            } else {                                                                             \
                name(a + j + 1, n - j - 1);                                                      \
                n = j + 1;                                                                       \
            }                                                                                    \
        }                                                                                        \
        for (int64_t i = 1; i < n; i++) {                                                        \
            T v = a[i];                                                                          \
            int64_t j = i - 1;                                                                   \
            while (j >= 0 && a[j] > v) {                                                         \
                a[j + 1] = a[j];                                                                 \
                j--;                                                                             \
            }                                                                                    \
            a[j + 1] = v;                                                                        \
        }                                                                                        \
    }

/* Targets of a row (repeats allowed). */
DEFINE_SORT(sort_u32, uint32_t)
/* Keys (target << 32 | position in the row) of a list's row: distinct, so
 * the order is the stable one. */
DEFINE_SORT(sort_keys, uint64_t)

/* Radix sorts of rows by target: LSD, as many passes as the targets' bits
 * need at 8 bits a pass at most, the bits shared evenly between them (a
 * target below 138,639 is 18 bits: three passes of 6 bits, 64 counts each,
 * which short rows need), the counts of every pass taken in one read. tmp:
 * room for n. Short rows go to the quicksorts above.
 *
 * sort_ids: n indices below lim. A sorted row is the same whatever sorts
 * it. On rows of hundreds of random targets sort_u32's branches are
 * guesses: the microcircuit's rows of about 480, among up to 21,915
 * targets (two passes), took 12.6 % of its construction's samples at scale
 * 0.3 (perf record) with sort_u32, 2.1 % with this.
 *
 * sort_keys_by_id: keys target << 32 | position, the targets below lim, by
 * target; an LSD radix sort is stable, so the keys come out in sort_keys's
 * order (the positions are distinct and in order). */
static int radix_plan(uint32_t lim, int *width)
{
    int bits = 1;
    while (bits < 32 && (lim - 1) >> bits)
        bits++;
    const int passes = (bits + 7) / 8;
    *width = (bits + passes - 1) / passes;
    return passes;
}

#define DEFINE_RADIX(name, T, shift, quick)                                                      \
    static void name(T *a, int64_t n, uint32_t lim, T *tmp)                                      \
    {                                                                                            \
        if (n < 64 || !tmp || lim < 2) {                                                         \
            quick(a, n);                                                                         \
            return;                                                                              \
        }                                                                                        \
        int w;                                                                                   \
        const int passes = radix_plan(lim, &w);                                                  \
        const uint32_t mask = (1u << w) - 1;                                                     \
        int64_t cnt[4][256];                                                                     \
        memset(cnt, 0, (size_t)passes * sizeof cnt[0]);                                          \
        for (int64_t i = 0; i < n; i++) {                                                        \
            const uint32_t id = (uint32_t)(a[i] >> (shift));                                     \
            for (int q = 0; q < passes; q++)                                                     \
                cnt[q][(id >> (w * q)) & mask]++;                                                \
        }                                                                                        \
        T *src = a, *dst = tmp;                                                                  \
        for (int q = 0; q < passes; q++) {                                                       \
            int64_t at = 0;                                                                      \
            for (uint32_t v = 0; v <= mask; v++) {                                               \
                const int64_t c = cnt[q][v];                                                     \
                cnt[q][v] = at;                                                                  \
                at += c;                                                                         \
            }                                                                                    \
            for (int64_t i = 0; i < n; i++) {                                                    \
                const T x = src[i];                                                              \
                dst[cnt[q][((uint32_t)(x >> (shift)) >> (w * q)) & mask]++] = x;                 \
            }                                                                                    \
            T *t = src;                                                                          \
            src = dst;                                                                           \
            dst = t;                                                                             \
        }                                                                                        \
        if (src != a)                                                                            \
            memcpy(a, src, (size_t)n * sizeof *a);                                               \
    }

DEFINE_RADIX(sort_ids, uint32_t, 0, sort_u32)
DEFINE_RADIX(sort_keys_by_id, uint64_t, 32, sort_keys)

/* ---- rows in parallel ------------------------------------------------------------------ */

/* Rows are independent: each draws from its own counter (the file's
 * comment), so threads may build them in any order and the result is the
 * same for any number of threads. A job is rows [lo, hi) for one thread,
 * with a copy of the build whose messages go to its own buffer. */
typedef int (*rows_fn)(build *b, int64_t lo, int64_t hi, void *arg, int *most);

typedef struct rows_job {
    build b;
    int64_t lo, hi;
    rows_fn fn;
    void *arg;
    int rc, most;            /* most: the largest value fn saw (a delay in steps) */
    char msg[512];
    pthread_t th;
    int started;             /* th runs it (else the calling thread does) */
} rows_job;

static void *rows_run(void *p)
{
    rows_job *j = p;
    j->rc = j->fn(&j->b, j->lo, j->hi, j->arg, &j->most);
    return NULL;
}

#define ROWS_MIN_WORK 65536 /* synapses per thread, at least */

/* fn over rows 0 .. npre - 1, on up to the network's thread count of
 * threads, each taking a run of rows of about the same work (off: the
 * rows' first synapses, off[npre] the total; or NULL: every row's work is
 * unit). The first failing run in row order gives the error, as one thread
 * going row by row would; *most (when given) becomes the largest of the
 * runs' values. */
static int par_rows_by(build *b, const int64_t *off, int64_t unit, rows_fn fn, void *arg,
                       int *most)
{
    int64_t work;
    if (off)
        work = off[b->npre] - off[0];
    else if (__builtin_mul_overflow(b->npre, unit, &work))
        work = INT64_MAX;
    int64_t nt = nk_net_threads(b->net);
    if (nt > work / ROWS_MIN_WORK + 1)
        nt = work / ROWS_MIN_WORK + 1;
    if (nt > b->npre)
        nt = b->npre > 0 ? b->npre : 1;
    rows_job *jobs = nk_xcalloc((size_t)nt, sizeof *jobs);
    if (!jobs) {
        snprintf(b->err, b->errlen, "out of memory");
        return -1;
    }
    int64_t lo = 0;
    for (int64_t t = 0; t < nt; t++) {
        rows_job *j = &jobs[t];
        /* the first row whose synapses start at or after t + 1 parts of the work */
        int64_t hi = b->npre;
        if (t + 1 < nt && !off) {
            hi = b->npre / nt * (t + 1) + b->npre % nt * (t + 1) / nt;
        } else if (t + 1 < nt) {
            const int64_t want = off[0] + work / nt * (t + 1);
            int64_t x = lo, y = b->npre;
            while (x < y) {
                const int64_t m = x + (y - x) / 2;
                if (off[m] < want)
                    x = m + 1;
                else
                    y = m;
            }
            hi = x;
        }
        j->b = *b;
        j->b.err = j->msg;
        j->b.errlen = sizeof j->msg;
        j->lo = lo;
        j->hi = hi;
        j->fn = fn;
        j->arg = arg;
        j->most = 0;
        lo = hi;
    }
    /* jobs 1.. on threads of their own (where one cannot start, here),
     * job 0 here */
    for (int64_t t = 1; t < nt; t++)
        jobs[t].started = pthread_create(&jobs[t].th, NULL, rows_run, &jobs[t]) == 0;
    for (int64_t t = 0; t < nt; t++)
        if (!jobs[t].started)
            rows_run(&jobs[t]);
    int rc = 0;
    for (int64_t t = 0; t < nt; t++) {
        if (jobs[t].started)
            pthread_join(jobs[t].th, NULL);
        if (most && jobs[t].most > *most)
            *most = jobs[t].most;
    }
    for (int64_t t = 0; t < nt && !rc; t++)
        if ((rc = jobs[t].rc))
            snprintf(b->err, b->errlen, "%s", jobs[t].msg);
    free(jobs);
    return rc;
}

static int par_rows(build *b, const int64_t *off, rows_fn fn, void *arg, int *most)
{
    return par_rows_by(b, off, 0, fn, arg, most);
}

/* The target (index in post's population) that is source a itself, when
 * autapses are excluded and it lies in the target range; else -1. */
static int64_t excluded_self(const build *b, int64_t a)
{
    if (!b->same || b->autapses)
        return -1;
    int64_t s = b->pj->pre.lo + a;
    return s >= b->pj->post.lo && s < b->pj->post.hi ? s : -1;
}

/* ---- rules that go source by source --------------------------------------------- */

/* b->row[a] holding row a's length for every source: the rows laid out
 * (row[a] becomes the row's first synapse, row[npre] the total) and col
 * allocated for them, for rules that know every row's length before they
 * fill it. */
static int lay_out_rows(build *b)
{
    int64_t n = 0;
    for (int64_t a = 0; a < b->npre; a++) {
        const int64_t len = b->row[a];
        b->row[a] = n;
        n += len;
    }
    b->row[b->npre] = n;
    if (n > b->limit)
        return too_many(b);
    b->col = malloc((size_t)(n ? n : 1) * sizeof *b->col);
    if (!b->col) {
        snprintf(b->err, b->errlen, "out of memory for %lld synapses", (long long)n);
        return -1;
    }
    b->n = b->cap = n;
    return 0;
}

/* all_to_all (every target but an excluded self) and one_to_one (source a
 * to target a): rows [lo, hi) (par_rows). */
static int all_rows(build *b, int64_t lo, int64_t hi, void *arg, int *most)
{
    const int one = *(const int *)arg;
    (void)most;
    for (int64_t a = lo; a < hi; a++) {
        uint32_t *c = b->col + b->row[a];
        const int64_t self = excluded_self(b, a);
        const int64_t first = b->pj->post.lo + (one ? a : 0);
        const int64_t last = one ? first + 1 : b->pj->post.hi;
        for (int64_t post = first; post < last; post++)
            if (post != self)
                *c++ = (uint32_t)post;
    }
    return 0;
}

/* Every row's length is known: the rows are laid out, then filled on
 * threads. */
static int rule_all(build *b, int one)
{
    for (int64_t a = 0; a < b->npre; a++) {
        const int64_t self = excluded_self(b, a);
        const int64_t first = b->pj->post.lo + (one ? a : 0);
        const int64_t last = one ? first + 1 : b->pj->post.hi;
        b->row[a] = last - first - (self >= first && self < last);
    }
    int rc = lay_out_rows(b);
    return rc ? rc : par_rows(b, b->row, all_rows, &one, NULL);
}

/* ---- rules that append each source's targets, in runs on threads ---------------- */

/* A list of targets that grows. */
typedef struct u32list {
    uint32_t *v;
    int64_t n, cap;
} u32list;

/* Room for need targets in g; -1 when out of memory. */
static int grow_u32(u32list *g, int64_t need)
{
    if (need <= g->cap)
        return 0;
    int64_t cap = g->cap ? g->cap + g->cap / 2 : 4096;
    if (cap < need)
        cap = need;
    uint32_t *v = realloc(g->v, (size_t)cap * sizeof *v);
    if (!v)
        return -1;
    g->v = v;
    g->cap = cap;
    return 0;
}

/* Appends target post (the neuron's index in the network) to g. */
static int put_u32(build *b, u32list *g, int64_t post)
{
    if (g->n == g->cap && grow_u32(g, g->n + 1)) {
        snprintf(b->err, b->errlen, "out of memory at %lld synapses", (long long)g->n);
        return -1;
    }
    g->v[g->n++] = (uint32_t)post;
    return 0;
}

/* Source a's targets, in increasing order, appended to out; 0, or an error
 * with b->err set. scratch: the run's own zeroed memory, of the size
 * par_append was given (NULL for none). */
typedef int (*row_fn)(build *b, int64_t a, void *arg, void *scratch, u32list *out);

/* A run of rows' targets (par_append): the run's first row, and the list. */
typedef struct append_run {
    int64_t lo;
    u32list g;
} append_run;

typedef struct append_arg {
    row_fn fn;
    void *arg;
    size_t scratch;          /* bytes of scratch memory a run needs */
    append_run *runs;        /* one a thread, taken in the order the threads start */
    int nruns;               /* taken (atomic) */
} append_arg;

/* Rows [lo, hi) (par_rows): their lengths to row[a + 1], their targets to
 * a run of their own. */
static int append_rows(build *b, int64_t lo, int64_t hi, void *arg, int *most)
{
    append_arg *x = arg;
    append_run *run = &x->runs[__atomic_fetch_add(&x->nruns, 1, __ATOMIC_RELAXED)];
    u32list *g = &run->g;
    run->lo = lo;
    (void)most;
    void *scratch = x->scratch ? nk_xcalloc(1, x->scratch) : NULL;
    if (x->scratch && !scratch) {
        snprintf(b->err, b->errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (int64_t a = lo; a < hi && !rc; a++) {
        const int64_t n0 = g->n;
        rc = x->fn(b, a, x->arg, scratch, g);
        if (!rc && g->n > b->limit)
            rc = too_many(b);
        b->row[a + 1] = g->n - n0;
    }
    free(scratch);
    return rc;
}

static int run_before(const void *p, const void *q)
{
    const int64_t a = ((const append_run *)p)->lo, c = ((const append_run *)q)->lo;
    return (a > c) - (a < c);
}

/* fn over every source, runs of sources on up to the network's thread count
 * (par_rows; work: what a row costs, the same for every row), each run into
 * a buffer of its own, the buffers then put together in source order: the
 * first run's buffer grown to hold them all, the others copied in, so that
 * the targets are held twice only while they are put together. The first
 * failing run in source order gives the error. */
static int par_append(build *b, int64_t work, row_fn fn, void *arg, size_t scratch)
{
    const int64_t unit = work < 1 ? 1 : work;
    const int nt = nk_net_threads(b->net) > 0 ? nk_net_threads(b->net) : 1;
    append_arg x = {fn, arg, scratch, nk_xcalloc((size_t)nt, sizeof(append_run)), 0};
    int rc = 0;
    if (!x.runs) {
        snprintf(b->err, b->errlen, "out of memory");
        rc = -1;
        goto out;
    }
    if ((rc = par_rows_by(b, NULL, unit, append_rows, &x, NULL)))
        goto out;
    qsort(x.runs, (size_t)x.nruns, sizeof *x.runs, run_before);
    b->row[0] = 0;
    for (int64_t a = 0; a < b->npre; a++)
        b->row[a + 1] += b->row[a];
    const int64_t n = b->row[b->npre];
    if (n > b->limit) {
        rc = too_many(b);
        goto out;
    }
    u32list *first = &x.runs[0].g;
    if (grow_u32(first, n > 0 ? n : 1)) {
        snprintf(b->err, b->errlen, "out of memory for %lld synapses", (long long)n);
        rc = -1;
        goto out;
    }
    for (int r = 1; r < x.nruns; r++)
        if (x.runs[r].g.n)
            memcpy(first->v + b->row[x.runs[r].lo], x.runs[r].g.v,
                   (size_t)x.runs[r].g.n * sizeof *first->v);
    b->col = first->v;
    b->n = b->cap = n;
    first->v = NULL;
out:
    for (int r = 0; x.runs && r < nt; r++)
        free(x.runs[r].g.v);
    free(x.runs);
    return rc;
}

/* Bernoulli: for each source the gaps between chosen targets are geometric,
 * floor(log u / log(1 - p)), so the cost is proportional to the synapses
 * made. The uniforms' logarithms are taken BERN_BLOCK at a time
 * (nk_log_fast_n: the same doubles as nk_log, so that the network does not
 * depend on the machine's libm). */
#define BERN_BLOCK 64

typedef struct bern_arg {
    double p, lq;            /* lq = log(1 - p), p < 1 */
} bern_arg;

static int bern_row(build *b, int64_t a, void *arg, void *scratch, u32list *g)
{
    const bern_arg *ga = arg;
    (void)scratch;
    const int64_t self = excluded_self(b, a), lo = b->pj->post.lo;
    if (ga->p <= 0)
        return 0;
    if (ga->p >= 1) {
        for (int64_t j = 0; j < b->npost; j++)
            if (lo + j != self && put_u32(b, g, lo + j))
                return -1;
        return 0;
    }
    nk_rng r;
    nk_rng_init(&r, b->net->seed, b->stream, 0, (uint32_t)(b->pj->pre.lo + a));
    uint32_t w[BERN_BLOCK];
    double u[BERN_BLOCK], lg[BERN_BLOCK];
    /* the first block about as long as the row is likely to be (its
     * synapses and the gap that ends it), the next ones whole: what a
     * row draws and does not use changes nothing */
    const double expect = ga->p * (double)b->npost + 4;
    int n = expect < BERN_BLOCK ? (int)expect : BERN_BLOCK, at = n;
    for (int64_t j = -1;;) {
        if (at == n) {
            if (j >= 0)
                n = BERN_BLOCK;
            nk_rng_words(&r, w, n);
            for (int i = 0; i < n; i++)
                u[i] = nk_u01(w[i]);
            nk_log_fast_n(u, lg, n);
            at = 0;
        }
        const double q = lg[at++] / ga->lq; /* >= 0 */
        if (!(q < (double)b->npost))     /* floor(q) >= npost */
            break;
        j += (int64_t)q + 1;
        if (j >= b->npost)
            break;
        if (lo + j != self && put_u32(b, g, lo + j))
            return -1;
    }
    return 0;
}

static int rule_bernoulli(build *b, double p)
{
    bern_arg g = {p, p < 1 ? log1p(-p) : 0};
    return par_append(b, p > 0 ? (int64_t)(p * (double)b->npost) : 0, bern_row, &g, 0);
}

/* K partners drawn with r among ncand candidates, written to out as indices
 * 0..ncand (skip, when >= 0, is passed over): uniformly with repeats
 * (multapses), or K distinct ones by Floyd's algorithm, stamp holding mark
 * where an index was taken. Returns K. */
static int64_t draw_partners(nk_rng *r, int64_t ncand, int64_t K, int64_t skip, int multapses,
                             uint32_t *stamp, uint32_t mark, uint32_t *out)
{
    int64_t m = 0;
    if (multapses) {
        nk_rng_below_n(r, (uint32_t)ncand, 0, out, K);
        if (skip >= 0)
            for (int64_t k = 0; k < K; k++)
                out[k] += out[k] >= (uint64_t)skip;
        return K;
    }
    /* the draws do not depend on the marks: made first, into out */
    nk_rng_below_n(r, (uint32_t)(ncand - K + 1), 1, out, K);
    for (int64_t t = ncand - K; t < ncand; t++) {
        int64_t c = out[m];
        int64_t cc = (skip >= 0 && c >= skip) ? c + 1 : c;
        if (stamp[cc] == mark) {
            c = t;
            cc = (skip >= 0 && c >= skip) ? c + 1 : c;
        }
        stamp[cc] = mark;
        out[m++] = (uint32_t)cc;
    }
    return m;
}

/* K targets of source a drawn with r: uniformly with repeats, or K distinct
 * ones by Floyd's algorithm (stamp: npost marks); written in target order
 * to its row, b->col + b->row[a] (room for K; tmp: room for K, or NULL). */
static int draw_targets(build *b, int64_t a, int64_t K, nk_rng *r, uint32_t *stamp,
                        uint32_t *tmp, const char *rule)
{
    int64_t self = excluded_self(b, a);
    int64_t skip = self >= 0 ? self - b->pj->post.lo : -1; /* index in the range */
    int64_t ncand = b->npost - (skip >= 0);
    if (K > 0 && ncand <= 0) {
        snprintf(b->err, b->errlen, "%s: no target neuron left for source %lld", rule,
                 (long long)(b->pj->pre.lo + a) + 1);
        return -2;
    }
    if (!b->multapses && K > ncand) {
        snprintf(b->err, b->errlen,
                 "%s: %lld distinct targets asked of source %lld, which has %lld candidates "
                 "(allow_multapses = true permits repeats)",
                 rule, (long long)K, (long long)(b->pj->pre.lo + a) + 1, (long long)ncand);
        return -2;
    }
    uint32_t *out = b->col + b->row[a];
    int64_t m = draw_partners(r, ncand, K, skip, b->multapses, stamp, (uint32_t)a + 1, out);
    sort_ids(out, m, (uint32_t)b->npost, tmp);
    const uint32_t lo = (uint32_t)b->pj->post.lo;
    for (int64_t k = 0; k < m; k++)
        out[k] += lo;
    return 0;
}

typedef struct out_arg {
    int64_t K;
    const int64_t *counts;
    const char *rule;
} out_arg;

/* Rows [lo, hi) of fixed_outdegree or fixed_total (par_rows). */
static int out_rows(build *b, int64_t lo, int64_t hi, void *arg, int *most)
{
    const out_arg *o = arg;
    (void)most;
    uint32_t *stamp = b->multapses ? NULL : nk_xcalloc((size_t)b->npost, sizeof *stamp);
    if (!b->multapses && !stamp) {
        snprintf(b->err, b->errlen, "out of memory");
        return -1;
    }
    int64_t longest = 1; /* the sort's room (none: sort_u32 sorts) */
    for (int64_t a = lo; a < hi; a++)
        if (b->row[a + 1] - b->row[a] > longest)
            longest = b->row[a + 1] - b->row[a];
    uint32_t *tmp = malloc((size_t)longest * sizeof *tmp);
    int rc = 0;
    for (int64_t a = lo; a < hi && !rc; a++) {
        nk_rng r;
        nk_rng_init(&r, b->net->seed, b->stream, 0, (uint32_t)(b->pj->pre.lo + a));
        rc = draw_targets(b, a, o->counts ? o->counts[a] : o->K, &r, stamp, tmp, o->rule);
    }
    free(tmp);
    free(stamp);
    return rc;
}

/* fixed_outdegree (counts == NULL: K each) and fixed_total (counts[a]).
 * The counts place every row, so the rows are drawn in parallel. */
static int rule_outdegree(build *b, int64_t K, const int64_t *counts, const char *rule)
{
    for (int64_t a = 0; a < b->npre; a++)
        b->row[a] = counts ? counts[a] : K;
    int rc = lay_out_rows(b);
    if (rc)
        return rc;
    out_arg o = {K, counts, rule};
    return par_rows(b, b->row, out_rows, &o, NULL);
}

static double lchoose(double n, double k)
{
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1);
}

/* A Hypergeometric(N, K, n) draw (successes among n drawn without
 * replacement from N items of which K are successes), by inversion searching
 * outward from the mode: about one standard deviation of steps. */
static int64_t hypergeometric(nk_rng *r, int64_t N, int64_t K, int64_t n)
{
    int64_t lo = n - (N - K) > 0 ? n - (N - K) : 0, hi = n < K ? n : K;
    if (lo >= hi)
        return lo;
    int64_t mode = (int64_t)floor(((double)n + 1) * ((double)K + 1) / ((double)N + 2));
    if (mode < lo)
        mode = lo;
    if (mode > hi)
        mode = hi;
    double pm = exp(lchoose((double)K, (double)mode) + lchoose((double)(N - K), (double)(n - mode)) -
                    lchoose((double)N, (double)n));
    double u = nk_rng_uniform(r) - pm;
    if (u <= 0)
        return mode;
    double pd = pm, pu = pm;
    int64_t kd = mode, ku = mode;
    for (;;) {
        int moved = 0;
        if (kd > lo) {
            pd *= (double)kd * (double)(N - K - n + kd) / ((double)(K - kd + 1) * (double)(n - kd + 1));
            kd--;
            if ((u -= pd) <= 0)
                return kd;
            moved = 1;
        }
        if (ku < hi) {
            pu *= (double)(K - ku) * (double)(n - ku) / ((double)(ku + 1) * (double)(N - K - n + ku + 1));
            ku++;
            if ((u -= pu) <= 0)
                return ku;
            moved = 1;
        }
        if (!moved)
            return mode; /* what rounding left over */
    }
}

/* fixed_total: the number of synapses of each source, drawn source by
 * source. With multapses the counts are multinomial (a chain of binomials);
 * without, the N pairs are distinct, and a source's count is hypergeometric:
 * the draws left, from the pairs left, of which its candidates are its own.
 * That never asks a source for more than it has, however close N is to all
 * the pairs. */
static int rule_total(build *b, int64_t N)
{
    int64_t *counts = nk_xcalloc((size_t)b->npre, sizeof *counts);
    if (!counts) {
        snprintf(b->err, b->errlen, "out of memory");
        return -1;
    }
    int64_t pairs = 0;
    for (int64_t a = 0; a < b->npre; a++)
        pairs += b->npost - (excluded_self(b, a) >= 0);
    if (!b->multapses && N > pairs) {
        free(counts);
        snprintf(b->err, b->errlen,
                 "fixed_total: %lld synapses are more than the %lld distinct pairs "
                 "(allow_multapses = true permits repeats)",
                 (long long)N, (long long)pairs);
        return -2;
    }
    int64_t left = N;
    for (int64_t a = 0; a < b->npre && left > 0; a++) {
        nk_rng r;
        nk_rng_init(&r, b->net->seed, b->stream, 3, (uint32_t)(b->pj->pre.lo + a));
        int64_t ncand = b->npost - (excluded_self(b, a) >= 0);
        int64_t c;
        if (b->multapses)
            c = a == b->npre - 1 ? left
                                 : nk_rng_binomial(&r, (uint32_t)left, 1.0 / (double)(b->npre - a));
        else
            c = hypergeometric(&r, pairs, ncand, left);
        counts[a] = c;
        left -= c;
        pairs -= ncand;
    }
    int rc = rule_outdegree(b, 0, counts, "fixed_total");
    free(counts);
    return rc;
}

static int need_positions(build *b, const char *rule)
{
    const nk_net *net = b->net;
    for (int k = 0; k < 2; k++) {
        const nk_pop *p = &net->pops[k ? b->pj->post.pop : b->pj->pre.pop];
        if (!p->pos) {
            snprintf(b->err, b->errlen,
                     "%s needs positions: population '%s' has none (give it 'positions')", rule,
                     p->name);
            return -2;
        }
    }
    return 0;
}

/* distance: each pair with probability p(d). */
typedef struct dist_arg {
    const nk_expr *e;
    const char *src;
} dist_arg;

/* distance: every target's p from its distance, one uniform each where
 * 0 < p < 1. */
static int dist_row(build *b, int64_t a, void *arg, void *scratch, u32list *g)
{
    const dist_arg *x = arg;
    (void)scratch;
    const int64_t self = excluded_self(b, a);
    nk_rng r;
    nk_rng_init(&r, b->net->seed, b->stream, 0, (uint32_t)(b->pj->pre.lo + a));
    for (int64_t j = 0; j < b->npost; j++) {
        const int64_t post = b->pj->post.lo + j;
        if (post == self)
            continue;
        dvars v;
        dist_of(b->net, b->pj, a, (uint32_t)post, &v);
        double p;
        if (dexpr_eval(x->e, &v, &p, "distance: p", b->err, b->errlen))
            return -2;
        if (isnan(p)) {
            snprintf(b->err, b->errlen, "distance: p = %s is NaN at d = %g um", x->src, v.d);
            return -2;
        }
        if ((p >= 1 || (p > 0 && nk_rng_uniform(&r) < p)) && put_u32(b, g, post))
            return -1;
    }
    return 0;
}

/* Every pair's p is evaluated: the rows take the same work, and run on
 * threads. */
static int rule_distance(build *b, const char *src)
{
    int rc = need_positions(b, "rule 'distance'");
    if (rc)
        return rc;
    nk_expr *e = dexpr_parse(src, "distance: p", b->err, b->errlen);
    if (!e)
        return -2;
    dist_arg x = {e, src};
    rc = par_append(b, b->npost, dist_row, &x, 0);
    nk_expr_free(e);
    return rc;
}

/* ---- shapes ---------------------------------------------------------------------- */

typedef struct shape {
    int kind;                /* 0 sphere, 1 box, 2 cylinder, 3 cone */
    double r, len, tan_a, half[3], u[3], off[3], p;
    double reach;            /* radius of a ball around the reference point holding it */
} shape;

static int shape_inside(const shape *s, const double v[3])
{
    switch (s->kind) {
    case 0:
        return v[0] * v[0] + v[1] * v[1] + v[2] * v[2] <= s->r * s->r;
    case 1:
        return fabs(v[0]) <= s->half[0] && fabs(v[1]) <= s->half[1] && fabs(v[2]) <= s->half[2];
    default: {
        double t = v[0] * s->u[0] + v[1] * s->u[1] + v[2] * s->u[2];
        if (t < 0 || t > s->len)
            return 0;
        double q[3] = {v[0] - t * s->u[0], v[1] - t * s->u[1], v[2] - t * s->u[2]};
        double rr = s->kind == 2 ? s->r : t * s->tan_a;
        return q[0] * q[0] + q[1] * q[1] + q[2] * q[2] <= rr * rr;
    }
    }
}

static int shape_setup(const nk_shape *in, shape *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    const char *k = in->kind ? in->kind : "";
    s->kind = !strcmp(k, "sphere") ? 0 : !strcmp(k, "box") ? 1 : !strcmp(k, "cylinder") ? 2
              : !strcmp(k, "cone")                           ? 3
                                                             : -1;
    if (s->kind < 0) {
        snprintf(err, errlen, "unknown shape '%s' (expected sphere, cone, box or cylinder)", k);
        return -2;
    }
    s->p = in->p;
    if (!(s->p >= 0 && s->p <= 1)) {
        char pb[32];
        snprintf(err, errlen, "shape: p must be in [0, 1], got %s",
                 nk_fmt_num(in->p, pb, sizeof pb));
        return -2;
    }
    for (int j = 0; j < 3; j++)
        if (!isfinite(in->offset[j])) {
            snprintf(err, errlen, "shape: offset must be finite (um)");
            return -2;
        }
    memcpy(s->off, in->offset, sizeof s->off);
    if (s->kind == 0 || s->kind == 2) {
        if (!(in->radius > 0 && isfinite(in->radius))) {
            nk_snprintf(err, errlen, "%s: radius must be a finite number > 0 um, got %g", k,
                        in->radius);
            return -2;
        }
        s->r = in->radius;
    }
    if (s->kind == 1) {
        for (int j = 0; j < 3; j++) {
            if (!(in->size[j] >= 0 && isfinite(in->size[j]))) {
                nk_snprintf(err, errlen, "box: size must be >= 0 um, got %g", in->size[j]);
                return -2;
            }
            s->half[j] = in->size[j] / 2;
        }
        s->reach = sqrt(s->half[0] * s->half[0] + s->half[1] * s->half[1] +
                        s->half[2] * s->half[2]);
    }
    if (s->kind >= 2) {
        if (!(in->length > 0 && isfinite(in->length))) {
            nk_snprintf(err, errlen, "%s: length (the range along the axis) must be > 0 um, got %g",
                        k, in->length);
            return -2;
        }
        s->len = in->length;
        double n = sqrt(in->axis[0] * in->axis[0] + in->axis[1] * in->axis[1] +
                        in->axis[2] * in->axis[2]);
        if (!(n > 0) || !isfinite(n)) {
            snprintf(err, errlen, "%s: axis must be a non-zero vector", k);
            return -2;
        }
        for (int j = 0; j < 3; j++)
            s->u[j] = in->axis[j] / n;
    }
    if (s->kind == 0)
        s->reach = s->r;
    if (s->kind == 2)
        s->reach = sqrt(s->r * s->r + s->len * s->len);
    if (s->kind == 3) {
        if (!(in->angle > 0 && in->angle < 90)) {
            char ab[32];
            snprintf(err, errlen, "cone: angle (half-angle, degrees) must be in (0, 90), got %s",
                     nk_fmt_num(in->angle, ab, sizeof ab));
            return -2;
        }
        s->tan_a = tan(in->angle * M_PI / 180);
        s->reach = s->len / cos(in->angle * M_PI / 180);
    }
    return 0;
}

/* A uniform grid of cells over the targets' positions; each cell lists its
 * targets in increasing order. */
typedef struct cells {
    double lo[3], size;
    int64_t dim[3];
    int64_t *start;          /* ncells + 1 */
    uint32_t *item;          /* target indices in the range */
} cells;

/* The cell along one axis of an offset off >= 0 from the grid's low corner:
 * off / size, within 0..dim - 1. With positions spread beyond the range of a
 * double, off is inf and so is size (one cell): inf / inf is NaN, which must
 * not be converted to an integer (undefined), and is cell 0. */
static int64_t cell_ix(double off, double size, int64_t dim)
{
    double d = off / size;
    if (!(d >= 0))
        return 0;
    return d >= (double)(dim - 1) ? dim - 1 : (int64_t)d;
}

static int cells_build(cells *g, const double *pos, int64_t n, double reach)
{
    double hi[3];
    for (int k = 0; k < 3; k++) {
        g->lo[k] = INFINITY;
        hi[k] = -INFINITY;
    }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            double x = pos[3 * i + k];
            if (x < g->lo[k])
                g->lo[k] = x;
            if (x > hi[k])
                hi[k] = x;
        }
    /* cells about the size of the shape, at most ~2 M of them */
    double ext = 0;
    for (int k = 0; k < 3; k++)
        if (hi[k] - g->lo[k] > ext)
            ext = hi[k] - g->lo[k];
    g->size = reach > 0 ? reach : 1;
    if (g->size < ext / 128)
        g->size = ext / 128;
    if (!(g->size > 0))
        g->size = 1;
    /* positions spread beyond the range of a double (an extent of inf), or
     * a reach of inf: one cell holds every target (a cell size of inf puts
     * every finite offset in cell 0) */
    if (!isfinite(ext) || !isfinite(g->size))
        g->size = INFINITY;
    int64_t ncells = 1;
    for (int k = 0; k < 3; k++) {
        double d = (hi[k] - g->lo[k]) / g->size; /* at most 128, or NaN, or -inf (no targets) */
        g->dim[k] = d >= 0 && d <= 128 ? (int64_t)d + 1 : 1;
        ncells *= g->dim[k];
    }
    g->start = nk_xcalloc((size_t)ncells + 1, sizeof *g->start);
    g->item = nk_xcalloc((size_t)n + 1, sizeof *g->item);
    int64_t *fill = nk_xcalloc((size_t)ncells + 1, sizeof *fill);
    if (!g->start || !g->item || !fill) {
        free(fill);
        return -1;
    }
#define CELL_OF(i)                                                                          \
    ((cell_ix(pos[3 * (i) + 2] - g->lo[2], g->size, g->dim[2]) * g->dim[1] +                  \
      cell_ix(pos[3 * (i) + 1] - g->lo[1], g->size, g->dim[1])) * g->dim[0] +                 \
     cell_ix(pos[3 * (i)] - g->lo[0], g->size, g->dim[0]))
    for (int64_t i = 0; i < n; i++)
        g->start[CELL_OF(i) + 1]++;
    for (int64_t c = 0; c < ncells; c++)
        g->start[c + 1] += g->start[c];
    for (int64_t i = 0; i < n; i++) {
        int64_t c = CELL_OF(i);
        g->item[g->start[c] + fill[c]++] = (uint32_t)i;
    }
#undef CELL_OF
    free(fill);
    return 0;
}

typedef struct shape_arg {
    shape s;
    cells g;
    const double *ppos, *qpos; /* qpos: the targets' range's first position */
} shape_arg;

/* Source a's targets: the cells around its shape's reach, their targets
 * sorted, each inside the shape taken with probability p. scratch: room
 * for npost + 1 candidates, then as many for the sort. */
static int shape_row(build *b, int64_t a, void *arg, void *scratch, u32list *out)
{
    const shape_arg *x = arg;
    const shape *s = &x->s;
    const cells *g = &x->g;
    uint32_t *cand = scratch, *tmp = cand + b->npost + 1;
    const int64_t self = excluded_self(b, a);
    const double *p = x->ppos + 3 * (b->pj->pre.lo + a);
    const double c[3] = {p[0] + s->off[0], p[1] + s->off[1], p[2] + s->off[2]};
    int64_t lo[3], hi[3];
    for (int k = 0; k < 3; k++) {
        double l = floor((c[k] - s->reach - g->lo[k]) / g->size);
        double h = floor((c[k] + s->reach - g->lo[k]) / g->size);
        if (l != l || h != h) { /* inf - inf or inf / inf: look in every cell */
            lo[k] = 0;
            hi[k] = g->dim[k] - 1;
            continue;
        }
        if (h < 0 || l > (double)(g->dim[k] - 1))
            return 0;
        lo[k] = l < 0 ? 0 : l > (double)(g->dim[k] - 1) ? g->dim[k] - 1 : (int64_t)l;
        hi[k] = h > (double)(g->dim[k] - 1) ? g->dim[k] - 1 : h < 0 ? 0 : (int64_t)h;
    }
    int64_t m = 0;
    for (int64_t z = lo[2]; z <= hi[2]; z++)
        for (int64_t y = lo[1]; y <= hi[1]; y++)
            for (int64_t xx = lo[0]; xx <= hi[0]; xx++) {
                int64_t cell = (z * g->dim[1] + y) * g->dim[0] + xx;
                for (int64_t e = g->start[cell]; e < g->start[cell + 1]; e++)
                    cand[m++] = g->item[e];
            }
    sort_ids(cand, m, (uint32_t)b->npost, tmp);
    nk_rng r;
    nk_rng_init(&r, b->net->seed, b->stream, 0, (uint32_t)(b->pj->pre.lo + a));
    for (int64_t k = 0; k < m; k++) {
        int64_t post = b->pj->post.lo + cand[k];
        if (post == self)
            continue;
        const double *q = x->qpos + 3 * (int64_t)cand[k];
        double v[3] = {q[0] - c[0], q[1] - c[1], q[2] - c[2]};
        if (!shape_inside(s, v))
            continue;
        if ((s->p >= 1 || nk_rng_uniform(&r) < s->p) && put_u32(b, out, post))
            return -1;
    }
    return 0;
}

/* Rows on threads (par_append), each with its own candidates; a row's
 * work is taken as the targets in the cells it looks at, on average. */
static int rule_shape(build *b, const nk_shape *in)
{
    int rc = need_positions(b, "rule 'shape'");
    if (rc)
        return rc;
    shape_arg x = {0};
    if (shape_setup(in, &x.s, b->err, b->errlen))
        return -2;
    x.ppos = b->net->pops[b->pj->pre.pop].pos;
    x.qpos = b->net->pops[b->pj->post.pop].pos + 3 * b->pj->post.lo;
    if (cells_build(&x.g, x.qpos, b->npost, x.s.reach)) {
        free(x.g.start);
        free(x.g.item);
        snprintf(b->err, b->errlen, "out of memory");
        return -1;
    }
    double looked = 1, all = 1; /* cells a row looks at, and all of them */
    for (int k = 0; k < 3; k++) {
        double span = floor(2 * x.s.reach / x.g.size) + 2;
        all *= (double)x.g.dim[k];
        looked *= span < (double)x.g.dim[k] ? span : (double)x.g.dim[k];
    }
    const double work = (double)b->npost * (looked < all ? looked / all : 1);
    rc = par_append(b, work < 1 ? 1 : (int64_t)work, shape_row, &x,
                    2 * ((size_t)b->npost + 1) * sizeof(uint32_t));
    free(x.g.start);
    free(x.g.item);
    return rc;
}

/* ---- rules that count first, then fill ---------------------------------------------- */

/* fixed_indegree over targets [lo, hi): each target draws K sources;
 * without multapses by Floyd's sampling. fill == 0: count into at[a];
 * else write col at at[a]++ (targets come in increasing order, so rows
 * come out sorted). */
static int indegree_pass(build *b, int64_t K, int64_t lo, int64_t hi, uint32_t *stamp,
                         uint32_t *chosen, int64_t *at, int fill)
{
    const nk_proj *pj = b->pj;
    for (int64_t j = lo; j < hi; j++) {
        int64_t post = pj->post.lo + j;
        /* candidates: the pre range less the neuron itself when autapses are
         * excluded: index c maps past it */
        int64_t self = (b->same && !b->autapses && post >= pj->pre.lo && post < pj->pre.hi)
                           ? post - pj->pre.lo
                           : -1;
        int64_t ncand = b->npre - (self >= 0);
        if (K > 0 && ncand <= 0) {
            snprintf(b->err, b->errlen, "fixed_indegree: no source neuron left for target %lld",
                     (long long)post + 1);
            return -2;
        }
        if (!b->multapses && K > ncand) {
            snprintf(b->err, b->errlen,
                     "fixed_indegree: indegree %lld is more than the %lld candidate sources",
                     (long long)K, (long long)ncand);
            return -2;
        }
        nk_rng r;
        nk_rng_init(&r, b->net->seed, b->stream, 0, (uint32_t)post);
        int64_t m = draw_partners(&r, ncand, K, self, b->multapses, stamp, (uint32_t)j + 1, chosen);
        for (int64_t k = 0; k < m; k++) {
            if (fill)
                b->col[at[chosen[k]]++] = (uint32_t)post;
            else
                at[chosen[k]]++;
        }
    }
    return 0;
}

/* Allocates col for n synapses, row already counted (row[a+1] = count). */
static int counted(build *b)
{
    for (int64_t a = 0; a < b->npre; a++)
        b->row[a + 1] += b->row[a];
    b->n = b->row[b->npre];
    if (b->n > b->limit)
        return too_many(b);
    b->col = malloc((size_t)(b->n ? b->n : 1) * sizeof *b->col);
    if (!b->col) {
        snprintf(b->err, b->errlen, "out of memory for %lld synapses", (long long)b->n);
        return -1;
    }
    b->cap = b->n;
    return 0;
}

/* ---- rules counted, then filled, in runs on threads ------------------------------ */

/* A run of the work (a list's pairs [lo, hi), or fixed_indegree's targets)
 * for one thread: counting its synapses by source, then putting them where
 * at says. Each source's synapses from a run come after those of the runs
 * before it, so a row holds its synapses in the order one thread would
 * have put them, whatever the number of threads. */
typedef struct pass_job {
    build b;                 /* a copy whose messages go to msg */
    int (*run)(struct pass_job *j); /* the rule's count (pass 0) or fill (pass 1) */
    int64_t lo, hi;
    int64_t *at;             /* by source: the count, then where its next synapse goes */
    int pass;
    int rc, most;            /* most: the longest delay, in steps */
    int64_t K;               /* fixed_indegree: the indegree, */
    uint32_t *stamp, *chosen; /* Floyd's marks by source (or NULL), a target's draws */
    char msg[512];
    pthread_t th;
    int started;
} pass_job;

static void *pass_run(void *p)
{
    pass_job *j = p;
    j->rc = j->run(j);
    return NULL;
}

/* One pass over every job, jobs 1.. on threads of their own (where one
 * cannot start, here). The first failing run in order gives the error, as
 * one thread going through the work in order would. */
static int run_pass(build *b, pass_job *jobs, int nt, int pass)
{
    for (int t = 0; t < nt; t++) {
        jobs[t].pass = pass;
        jobs[t].b.col = b->col;
        jobs[t].b.w = b->w;
        jobs[t].b.delay = b->delay;
        jobs[t].started = t > 0 && pthread_create(&jobs[t].th, NULL, pass_run, &jobs[t]) == 0;
    }
    for (int t = 0; t < nt; t++)
        if (!jobs[t].started)
            pass_run(&jobs[t]);
    for (int t = 0; t < nt; t++)
        if (jobs[t].started)
            pthread_join(jobs[t].th, NULL);
    for (int t = 0; t < nt; t++)
        if (jobs[t].rc) {
            snprintf(b->err, b->errlen, "%s", jobs[t].msg);
            return jobs[t].rc;
        }
    return 0;
}

/* nt jobs over the work [0, n), in runs of about the same size, each with a
 * copy of b and counts by source; NULL when out of memory (b->err says so). */
static pass_job *new_jobs(build *b, int64_t nt, int64_t n, int (*run)(pass_job *))
{
    pass_job *jobs = nk_xcalloc((size_t)nt, sizeof *jobs);
    int ok = jobs != NULL;
    for (int64_t t = 0; ok && t < nt; t++) {
        pass_job *j = &jobs[t];
        j->b = *b;
        j->b.err = j->msg;
        j->b.errlen = sizeof j->msg;
        j->run = run;
        j->lo = n / nt * t;
        j->hi = t + 1 == nt ? n : n / nt * (t + 1);
        ok = (j->at = nk_xcalloc((size_t)b->npre + 1, sizeof *j->at)) != NULL;
    }
    if (!ok) {
        for (int64_t t = 0; jobs && t < nt; t++)
            free(jobs[t].at);
        free(jobs);
        snprintf(b->err, b->errlen, "out of memory");
        return NULL;
    }
    return jobs;
}

/* After the count: the rows from the runs' counts, the target array, and
 * each run's counts turned into where its synapses of each source start. */
static int place_runs(build *b, pass_job *jobs, int64_t nt)
{
    for (int64_t a = 0; a < b->npre; a++)
        for (int64_t t = 0; t < nt; t++)
            b->row[a + 1] += jobs[t].at[a];
    int rc = counted(b);
    if (rc)
        return rc;
    for (int64_t a = 0; a < b->npre; a++) {
        int64_t at = b->row[a];
        for (int64_t t = 0; t < nt; t++) {
            const int64_t c = jobs[t].at[a];
            jobs[t].at[a] = at;
            at += c;
        }
    }
    return 0;
}


/* fixed_indegree's count or fill of a run of targets. */
static int indegree_runs(pass_job *j)
{
    if (j->stamp)
        memset(j->stamp, 0, (size_t)j->b.npre * sizeof *j->stamp);
    return indegree_pass(&j->b, j->K, j->lo, j->hi, j->stamp, j->chosen, j->at, j->pass);
}

#define INDEG_MIN_WORK ((int64_t)1 << 18)    /* synapses per thread, at least */
#define INDEG_MEM_MAX ((int64_t)256 << 20)   /* bytes of the runs' counts and marks */

/* fixed_indegree: the targets in runs on up to the network's thread count,
 * each run with counts (and Floyd's marks) of its own. */
static int rule_indegree(build *b, int64_t K)
{
    const int64_t per = (b->npre + 1) * ((int64_t)sizeof(int64_t) +
                                         (b->multapses ? 0 : (int64_t)sizeof(uint32_t)));
    int64_t nt = nk_net_threads(b->net);
    if (nt > K * b->npost / INDEG_MIN_WORK + 1)
        nt = K * b->npost / INDEG_MIN_WORK + 1;
    if (nt > b->npost)
        nt = b->npost;
    if (nt > INDEG_MEM_MAX / per)
        nt = INDEG_MEM_MAX / per;
    if (nt < 1)
        nt = 1;
    pass_job *jobs = new_jobs(b, nt, b->npost, indegree_runs);
    int rc = jobs ? 0 : -1;
    for (int64_t t = 0; t < nt && !rc; t++) {
        pass_job *j = &jobs[t];
        j->K = K;
        j->chosen = nk_xcalloc((size_t)K + 1, sizeof *j->chosen);
        j->stamp = b->multapses ? NULL : nk_xcalloc((size_t)b->npre + 1, sizeof *j->stamp);
        if (!j->chosen || (!b->multapses && !j->stamp)) {
            snprintf(b->err, b->errlen, "out of memory");
            rc = -1;
        }
    }
    if (!rc)
        rc = run_pass(b, jobs, (int)nt, 0);
    if (!rc)
        rc = place_runs(b, jobs, nt);
    if (!rc)
        rc = run_pass(b, jobs, (int)nt, 1);
    for (int64_t t = 0; jobs && t < nt; t++) {
        free(jobs[t].at);
        free(jobs[t].chosen);
        free(jobs[t].stamp);
    }
    free(jobs);
    return rc;
}

/* ---- values -------------------------------------------------------------------------- */

/* Delays: ms to whole steps, rounded to nearest with halves up (a tolerance
 * of 1e-9 steps, so 0.25 ms at dt 0.1 is 3 steps despite binary fractions),
 * never below one step. Returns the steps, or -1 when out of range. */
static int delay_steps(double ms, double dt)
{
    if (!(ms >= 0) || !isfinite(ms))
        return -1;
    const double q = ms / dt, t = q + 0.5 + 1e-9 * (q > 1 ? q : 1);
    if (!(t < 65536)) /* floor(t) > 65535 */
        return -1;
    const int s = (int)t; /* floor(t), t >= 0: without a call to floor (no
                             rounding instruction in plain x86-64) */
    return s < 1 ? 1 : s;
}

static int check_weight(build *b, double w, int64_t a, uint32_t post)
{
    if (isfinite(w) && fabs(w) <= 1e6)
        return 0;
    char wb[32];
    snprintf(b->err, b->errlen,
             "weight %s of synapse %lld -> %lld is out of range (a finite number, |weight| <= 1e6 "
             "in the synapse's unit)",
             nk_fmt_num(w, wb, sizeof wb), (long long)(b->pj->pre.lo + a) + 1, (long long)post + 1);
    return -2;
}

static int bad_delay(build *b, double ms, int64_t a, uint32_t post)
{
    char db[32];
    snprintf(b->err, b->errlen,
             "delay %s ms of synapse %lld -> %lld is out of range (expected 0 <= delay <= %g ms "
             "at dt = %g ms)",
             nk_fmt_num(ms, db, sizeof db), (long long)(b->pj->pre.lo + a) + 1,
             (long long)post + 1, 65535 * b->net->dt, b->net->dt);
    return -2;
}

/* A row's normal draws, made up to NORMQ at a time (fastdraw.h): the same
 * numbers in the same order as nk_rng_normal would take from the row's
 * stream. A normal weight and delay per synapse were three quarters
 * of the microcircuit's construction, and drawn one at a time each took a
 * logarithm, a square root and a cosine in turn. */
#define NORMQ 64
typedef struct normq {
    nk_rng *r;
    int at, n;
    uint32_t w[2 * NORMQ];
    double v[NORMQ];
} normq;

/* The next normal draw; want: how many more values the row needs at
 * least, so that a short row does not make a block of draws it throws
 * away (what a row leaves unread of its stream changes nothing). */
static void normq_fill(normq *q, int64_t want)
{
    const int k = want < 1 ? 1 : want > NORMQ ? NORMQ : (int)want;
    nk_rng_words(q->r, q->w, 2 * k);
    nk_normals_u32(q->w, q->v, k);
    q->n = k;
    q->at = 0;
}

static double normq_next(normq *q, int64_t want)
{
    if (q->at == q->n)
        normq_fill(q, want);
    return q->v[q->at++];
}

/* One draw of d (not NK_DIST_CONST / EXPR); normals from q, the row's
 * stream, of which the row needs at least `want` more values. */
static int draw_value(build *b, const nk_dist *d, normq *q, int64_t want, double *out,
                      const char *what)
{
    switch (d->kind) {
    case NK_DIST_UNIFORM:
        *out = d->a + (d->b - d->a) * nk_rng_uniform(q->r);
        return 0;
    case NK_DIST_NORMAL:
    case NK_DIST_LOGNORMAL:
        for (int tries = 0; tries < 1000; tries++) {
            double x = d->a + d->b * normq_next(q, want);
            if (d->kind == NK_DIST_LOGNORMAL)
                x = exp(x);
            if (x >= d->lo && x <= d->hi) {
                *out = x;
                return 0;
            }
        }
        nk_snprintf(b->err, b->errlen,
                    "%s: 1000 draws of %s(%g, %g) all fell outside [%g, %g]; the range is too "
                    "unlikely",
                    what, d->kind == NK_DIST_NORMAL ? "normal" : "lognormal", d->a, d->b, d->lo,
                    d->hi);
        return -2;
    default:
        *out = d->a;
        return 0;
    }
}

typedef struct fill_arg {
    const nk_dist *d;
    const nk_expr *e;        /* NK_DIST_EXPR: the expression of the distance */
    int delays;
    const char *what;
} fill_arg;

/* A row of n values of a normal distribution (not lognormal) into x: the
 * draws in the stream's order, as n calls of draw_value take them (a value
 * outside [lo, hi] is drawn again, 1000 times at most); *made: how many
 * were made (n, or fewer on an error). */
static int row_normals(build *b, const nk_dist *d, normq *q, int64_t n, double *x,
                       int64_t *made, const char *what)
{
    const double mu = d->a, sd = d->b, lo = d->lo, hi = d->hi;
    int64_t k = 0;
    int tries = 0;
    while (k < n) {
        if (q->at == q->n)
            normq_fill(q, n - k);
        const int m = q->n;
        int at = q->at;
        for (; at < m && k < n; at++) {
            const double v = mu + sd * q->v[at];
            if (v >= lo && v <= hi) {
                x[k++] = v;
                tries = 0;
            } else if (++tries == 1000) {
                q->at = at + 1;
                *made = k;
                nk_snprintf(b->err, b->errlen,
                            "%s: 1000 draws of normal(%g, %g) all fell outside [%g, %g]; the "
                            "range is too unlikely",
                            what, mu, sd, lo, hi);
                return -2;
            }
        }
        q->at = at;
    }
    *made = n;
    return 0;
}

/* Rows [lo, hi) of fill_values (par_rows); *most: the longest delay. A
 * row's values are made into a buffer first (by row_normals where they are
 * normal draws), then checked and stored; where both a value and a check
 * fail, the error named is the first in the row's order, as when each
 * value was made and checked in turn. */
static int fill_rows(build *b, int64_t lo, int64_t hi, void *arg, int *most)
{
    const fill_arg *f = arg;
    const nk_dist *d = f->d;
    const int delays = f->delays, steps = d->kind == NK_DIST_CONST; /* delay: already steps */
    int max_delay = 1, rc = 0;
    int64_t longest = 1;
    for (int64_t a = lo; a < hi; a++)
        if (b->row[a + 1] - b->row[a] > longest)
            longest = b->row[a + 1] - b->row[a];
    double *vals = malloc((size_t)longest * sizeof *vals);
    if (!vals) {
        snprintf(b->err, b->errlen, "out of memory");
        return -1;
    }
    for (int64_t a = lo; a < hi && !rc; a++) {
        const int64_t s0 = b->row[a], n = b->row[a + 1] - s0;
        int64_t made = 0;
        nk_rng r;
        nk_rng_init(&r, b->net->seed, b->stream, delays ? 2 : 1, (uint32_t)(b->pj->pre.lo + a));
        normq q; /* its buffers are filled before they are read */
        q.r = &r;
        q.at = q.n = 0;
        if (d->kind == NK_DIST_CONST) {
            const double c = delays ? b->o->delay : b->o->weight;
            for (; made < n; made++)
                vals[made] = c;
        } else if (d->kind == NK_DIST_NORMAL && !f->e) {
            rc = row_normals(b, d, &q, n, vals, &made, f->what);
        } else {
            for (; made < n && !rc; made++) {
                if (f->e) {
                    dvars v;
                    dist_of(b->net, b->pj, a, b->col[s0 + made], &v);
                    rc = dexpr_eval(f->e, &v, &vals[made], f->what, b->err, b->errlen) ? -2 : 0;
                } else {
                    rc = draw_value(b, d, &q, n - made, &vals[made], f->what);
                }
            }
            made -= rc != 0; /* the value that failed */
        }
        /* the values made, checked: an error here names an earlier synapse
         * than that of a failed draw (rc), so its message replaces that one */
        if (delays) {
            uint16_t *out = b->delay + s0;
            const double dt = b->net->dt;
            int row_max = 0;
            for (int64_t k = 0; k < made; k++) {
                const int st = steps ? (int)vals[k] : delay_steps(vals[k], dt);
                if (st < 0) {
                    rc = bad_delay(b, vals[k], a, b->col[s0 + k]);
                    break;
                }
                out[k] = (uint16_t)st;
                row_max = st > row_max ? st : row_max;
            }
            if (row_max > max_delay)
                max_delay = row_max;
        } else {
            float *out = b->w + s0;
            int ok = 1;
            for (int64_t k = 0; k < made; k++) {
                ok &= fabs(vals[k]) <= 1e6; /* check_weight's test (false for NaN) */
                out[k] = (float)vals[k];
            }
            for (int64_t k = 0; !ok && k < made; k++)
                if (check_weight(b, vals[k], a, b->col[s0 + k])) {
                    rc = -2;
                    break;
                }
        }
    }
    free(vals);
    *most = max_delay;
    return rc;
}

/* Fills w (weights) or delays for rows without list values, the rows in
 * parallel: a normal weight and delay per synapse (the log, square root and
 * cosine of two draws each) were two thirds of the microcircuit's
 * construction. */
static int fill_values(build *b, int delays)
{
    const nk_dist *d = delays ? &b->o->ddist : &b->o->wdist;
    const char *what = delays ? "delay" : "weight";
    nk_expr *e = NULL;
    if (d->kind == NK_DIST_EXPR) {
        int rc = need_positions(b, delays ? "a delay that depends on d" : "a weight that depends on d");
        if (rc)
            return rc;
        if (!d->expr) {
            snprintf(b->err, b->errlen, "%s: the expression is missing", what);
            return -2;
        }
        e = dexpr_parse(d->expr, what, b->err, b->errlen);
        if (!e)
            return -2;
    }
    fill_arg f = {d, e, delays, what};
    int max_delay = 1;
    int rc = par_rows(b, b->row, fill_rows, &f, &max_delay);
    nk_expr_free(e);
    if (delays && !rc)
        b->pj->max_delay = max_delay;
    return rc;
}

/* ---- lists ----------------------------------------------------------------------------- */

/* Pair k of the list: source a and target j (indices within the ranges) and
 * its weight; returns 0 to skip it (an edge source's other sign or unknown
 * ids), 1 to take it. */
static int list_pair(const build *b, int64_t k, int64_t *a, int64_t *j, double *w)
{
    const nk_list_src *ls = b->ls;
    if (!ls) {
        *a = b->o->list_pre[k];
        *j = b->o->list_post[k];
        *w = b->o->list_w ? b->o->list_w[k] : b->o->weight;
        return 1;
    }
    double x = ls->e->w[k];
    if ((ls->sign < 0) != (x < 0))
        return 0;
    int64_t p = ls->map_pre[ls->e->pre[k]], q = ls->map_post[ls->e->post[k]];
    if (p < 0 || q < 0)
        return 0;
    *a = p - b->pj->pre.lo;
    *j = q - b->pj->post.lo;
    *w = x * ls->scale;
    return 1;
}

static int list_count(pass_job *j)
{
    build *b = &j->b;
    for (int64_t k = j->lo; k < j->hi; k++) {
        int64_t a, t;
        double w;
        if (!list_pair(b, k, &a, &t, &w))
            continue;
        if (a < 0 || a >= b->npre) {
            snprintf(b->err, b->errlen,
                     "list: source %lld (pair %lld) is out of range: the source has %lld neurons "
                     "(1..%lld%s)",
                     (long long)a + 1, (long long)k + 1, (long long)b->npre, (long long)b->npre,
                     a == -1 ? ": indices count from 1" : "");
            return -2;
        }
        if (t < 0 || t >= b->npost) {
            snprintf(b->err, b->errlen,
                     "list: target %lld (pair %lld) is out of range: the target has %lld neurons "
                     "(1..%lld%s)",
                     (long long)t + 1, (long long)k + 1, (long long)b->npost, (long long)b->npost,
                     t == -1 ? ": indices count from 1" : "");
            return -2;
        }
        j->at[a]++;
    }
    return 0;
}

static int list_fill(pass_job *j)
{
    build *b = &j->b;
    const nk_conn_opts *o = b->o;
    const int has_w = b->ls || o->list_w;
    for (int64_t k = j->lo; k < j->hi; k++) {
        int64_t a, t;
        double w;
        if (!list_pair(b, k, &a, &t, &w))
            continue;
        int64_t at = j->at[a]++;
        uint32_t post = (uint32_t)(b->pj->post.lo + t);
        b->col[at] = post;
        int rc;
        if (has_w && (rc = check_weight(b, w, a, post)))
            return rc;
        b->w[at] = (float)w;
        int st = (int)o->delay;
        if (!b->ls && o->list_delay) {
            st = delay_steps(o->list_delay[k], b->net->dt);
            if (st < 0)
                return bad_delay(b, o->list_delay[k], a, post);
        }
        b->delay[at] = (uint16_t)st;
        if (st > j->most)
            j->most = st;
    }
    return 0;
}

/* The list's count (pass 0) or fill (pass 1) of a run of pairs. */
static int list_runs(pass_job *j)
{
    return j->pass ? list_fill(j) : list_count(j);
}

/* Sorts rows [lo, hi) by target, stably (fills keep the list's order). */
static int list_sort_rows(build *b, int64_t lo, int64_t hi, void *arg, int *most)
{
    (void)arg;
    (void)most;
    int64_t longest = 0;
    for (int64_t a = lo; a < hi; a++)
        if (b->row[a + 1] - b->row[a] > longest)
            longest = b->row[a + 1] - b->row[a];
    size_t m1 = (size_t)(longest ? longest : 1);
    uint64_t *key = malloc(m1 * sizeof *key);
    uint64_t *ktmp = malloc(m1 * sizeof *ktmp); /* NULL: sort_keys */
    float *tw = malloc(m1 * sizeof *tw);
    uint16_t *td = malloc(m1 * sizeof *td);
    int rc = 0;
    if (!key || !tw || !td) {
        snprintf(b->err, b->errlen, "out of memory");
        rc = -1;
    }
    for (int64_t a = lo; a < hi && !rc; a++) {
        int64_t s0 = b->row[a], m = b->row[a + 1] - s0, sorted = 1;
        for (int64_t k = 1; k < m && sorted; k++)
            sorted = b->col[s0 + k - 1] <= b->col[s0 + k];
        if (sorted)
            continue;
        for (int64_t k = 0; k < m; k++) {
            key[k] = (uint64_t)b->col[s0 + k] << 32 | (uint64_t)k;
            tw[k] = b->w[s0 + k];
            td[k] = b->delay[s0 + k];
        }
        sort_keys_by_id(key, m, (uint32_t)b->pj->post.hi, ktmp); /* col: post.lo + j */
        for (int64_t k = 0; k < m; k++) {
            uint32_t from = (uint32_t)key[k];
            b->col[s0 + k] = (uint32_t)(key[k] >> 32);
            b->w[s0 + k] = tw[from];
            b->delay[s0 + k] = td[from];
        }
    }
    free(key);
    free(ktmp);
    free(tw);
    free(td);
    return rc;
}

/* pairs per thread, at least; and the most memory the threads' counts by
 * source may take (8 bytes per source a thread) */
#define LIST_MIN_PAIRS ((int64_t)1 << 18)
#define LIST_COUNTS_MAX ((int64_t)256 << 20)

static int rule_list(build *b)
{
    const nk_conn_opts *o = b->o;
    int64_t n = b->ls ? b->ls->e->n : o->nlist;
    if (!b->ls && n > 0 && (!o->list_pre || !o->list_post)) {
        snprintf(b->err, b->errlen, "list: the pre and post lists are missing");
        return -2;
    }
    int64_t nt = nk_net_threads(b->net);
    if (nt > n / LIST_MIN_PAIRS + 1)
        nt = n / LIST_MIN_PAIRS + 1;
    if (nt > LIST_COUNTS_MAX / ((b->npre + 1) * 8))
        nt = LIST_COUNTS_MAX / ((b->npre + 1) * 8);
    if (nt < 1)
        nt = 1;
    pass_job *jobs = new_jobs(b, nt, n, list_runs);
    int rc = jobs ? 0 : -1;
    if (!rc)
        rc = run_pass(b, jobs, (int)nt, 0);
    if (!rc)
        rc = place_runs(b, jobs, nt);
    if (!rc) {
        int64_t nsyn = b->n;
        b->w = malloc((size_t)(nsyn ? nsyn : 1) * sizeof *b->w);
        b->delay = malloc((size_t)(nsyn ? nsyn : 1) * sizeof *b->delay);
        if (!b->w || !b->delay) {
            snprintf(b->err, b->errlen, "out of memory for %lld synapses", (long long)nsyn);
            rc = -1;
        }
    }
    if (!rc)
        rc = run_pass(b, jobs, (int)nt, 1);
    int max_delay = 1;
    for (int64_t t = 0; jobs && t < nt; t++) {
        if (jobs[t].most > max_delay)
            max_delay = jobs[t].most;
        free(jobs[t].at);
    }
    free(jobs);
    if (rc)
        return rc;
    b->pj->max_delay = max_delay;
    if ((rc = par_rows(b, b->row, list_sort_rows, NULL, NULL)))
        return rc;
    /* values the list does not give come from the distributions, per row */
    const int has_w = b->ls || o->list_w;
    if (!has_w && o->wdist.kind != NK_DIST_CONST && (rc = fill_values(b, 0)))
        return rc;
    if ((b->ls || !o->list_delay) && o->ddist.kind != NK_DIST_CONST && (rc = fill_values(b, 1)))
        return rc;
    return 0;
}

/* ---- the entry point ------------------------------------------------------------------- */

static int64_t estimate(const nk_net *net, nk_range pre, nk_range post, const nk_conn_opts *o)
{
    (void)net;
    double npre = (double)(pre.hi - pre.lo), npost = (double)(post.hi - post.lo);
    double n;
    switch (o->rule) {
    case NK_RULE_ALL_TO_ALL:
        n = npre * npost;
        break;
    case NK_RULE_ONE_TO_ONE:
        n = npre;
        break;
    case NK_RULE_BERNOULLI:
        n = o->p * npre * npost;
        break;
    case NK_RULE_FIXED_INDEGREE:
        n = (double)o->indegree * npost;
        break;
    case NK_RULE_FIXED_OUTDEGREE:
        n = (double)o->outdegree * npre;
        break;
    case NK_RULE_FIXED_TOTAL:
        n = (double)o->total;
        break;
    case NK_RULE_LIST:
        n = (double)o->nlist; /* an edge source: its own size, already in memory */
        break;
    default:
        n = 0; /* distance, shape: found while building */
    }
    return n > 9e18 ? INT64_MAX : (int64_t)n;
}

int nk_connect_build(nk_net *net, nk_proj *pj, const nk_conn_opts *o, const nk_list_src *ls,
                     char *err, size_t errlen)
{
    build b = {0};
    b.ls = ls;
    b.net = net;
    b.pj = pj;
    b.o = o;
    b.stream = NK_STREAM_CONN + (uint32_t)(pj - net->projs);
    b.npre = pj->pre.hi - pj->pre.lo;
    b.npost = pj->post.hi - pj->post.lo;
    b.same = pj->pre.pop == pj->post.pop;
    b.autapses = o->allow_autapses;
    b.multapses = o->allow_multapses;
    b.err = err;
    b.errlen = errlen;
    int64_t avail = nk_mem_available();
    b.limit = avail < 0 ? INT64_MAX : (avail - (b.npre + 1) * 8) / SYN_BYTES;
    if (b.limit < 0)
        b.limit = 0;
    if (b.limit > (int64_t)UINT32_MAX * 16)
        b.limit = (int64_t)UINT32_MAX * 16;
    int64_t est = estimate(net, pj->pre, pj->post, o);
    if (est > b.limit) {
        char need[32], have[32];
        snprintf(err, errlen,
                 "this projection would have about %lld synapses, %s at %d bytes each, more "
                 "than the %s of memory available",
                 (long long)est, nk_fmt_bytes((double)est * SYN_BYTES, need, sizeof need),
                 SYN_BYTES, nk_fmt_bytes((double)avail, have, sizeof have));
        return NK_ENOMEM;
    }
    b.row = nk_xcalloc((size_t)b.npre + 1, sizeof *b.row);
    if (!b.row) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    pj->max_delay = 1;
    int rc;
    int by_source = 1;
    switch (o->rule) {
    case NK_RULE_ALL_TO_ALL:
        rc = rule_all(&b, 0);
        break;
    case NK_RULE_ONE_TO_ONE:
        rc = rule_all(&b, 1);
        break;
    case NK_RULE_BERNOULLI:
        rc = rule_bernoulli(&b, o->p);
        break;
    case NK_RULE_FIXED_OUTDEGREE:
        rc = rule_outdegree(&b, o->outdegree, NULL, "fixed_outdegree");
        break;
    case NK_RULE_FIXED_TOTAL:
        rc = rule_total(&b, o->total);
        break;
    case NK_RULE_DISTANCE:
        rc = rule_distance(&b, o->p_expr ? o->p_expr : "");
        break;
    case NK_RULE_SHAPE:
        rc = rule_shape(&b, &o->shape);
        break;
    case NK_RULE_FIXED_INDEGREE:
        by_source = 0;
        rc = rule_indegree(&b, o->indegree);
        break;
    case NK_RULE_LIST:
        by_source = 0;
        rc = rule_list(&b);
        break;
    default:
        snprintf(err, errlen, "unknown rule %d", (int)o->rule);
        rc = -2;
    }
    if (!rc && by_source) {
        b.row[b.npre] = b.n;
        /* give back what the growth left over */
        if (b.cap > b.n) {
            uint32_t *x = realloc(b.col, (size_t)(b.n ? b.n : 1) * sizeof *x);
            if (x)
                b.col = x;
        }
    }
    if (!rc && !b.col)
        b.col = malloc(sizeof *b.col);
    if (!rc && !b.w) {
        b.w = malloc((size_t)(b.n ? b.n : 1) * sizeof *b.w);
        b.delay = malloc((size_t)(b.n ? b.n : 1) * sizeof *b.delay);
        if (!b.col || !b.w || !b.delay) {
            snprintf(err, errlen, "out of memory for %lld synapses", (long long)b.n);
            rc = -1;
        }
        if (!rc)
            rc = fill_values(&b, 0);
        if (!rc)
            rc = fill_values(&b, 1);
    }
    if (rc) {
        free(b.row);
        free(b.col);
        free(b.w);
        free(b.delay);
        return rc == -1 || rc == -3 ? NK_ENOMEM : NK_EINVAL;
    }
    pj->nsyn = b.n;
    pj->row = b.row;
    pj->col = b.col;
    pj->w = b.w;
    pj->delay = b.delay;
    return 0;
}
