/* gen_flyscale.c - writes a synthetic connectome the size and shape of FlyWire's.
 *
 *   nk-flyscale-gen [--neurons N] [--mean-degree K] [--seed S]
 *                   [--edges FILE] [--nodes FILE] [--isolated M] [--quiet] [--histogram]
 *
 * Two CSV files in the shape of FlyWire's published tables (Dorkenwald et al.
 * 2024; the file Shiu et al. 2024 load):
 *
 *   edges: pre_root_id,post_root_id,neuropil,syn_count,nt_type
 *          720575940613083542,720575940630223381,ME_R,12,ACH
 *   nodes: root_id
 *          720575940613083542
 *
 * The defaults give FlyWire's 138,639 neurons and about 15 million rows.
 *
 * How the graph is drawn. Every neuron gets an out-propensity and an
 * in-propensity, both lognormal (sigma 1.2 and 1.0, log-correlation 0.5: big
 * neurons both send and receive a lot), so degrees are heavy-tailed as in
 * FlyWire (a few neurons with thousands of partners, a median far below the
 * mean). The total number of distinct (pre, post) pairs, N * K, is shared out
 * among presynaptic neurons in proportion to their out-propensity (exactly,
 * by rounding the cumulative sum); each one then draws its targets from a
 * Walker/Vose alias table over the in-propensities, without self-loops and
 * without repeats (a target drawn twice is drawn again). A row then goes out per pair; with probability 1 % the pair gets
 * a second row in another neuropil, as FlyWire's table has one row per
 * (pre, post, neuropil). --isolated M neurons (40 at fly scale) get no
 * connection at all but are in the nodes file.
 *
 * Per row: syn_count is a discretised Pareto, floor(5 * U^(-1/1.7)), capped at
 * 2400: never below FlyWire's threshold of 5, median 7, mean about 11, a long
 * tail. neuropil: the postsynaptic neuron's home neuropil (85 %) or the
 * presynaptic one's. Per presynaptic neuron (Dale's law): nt_type, drawn with
 * about FlyWire's proportions (ACH 60 %, GABA 18 %, GLUT 15 %, DA 5 %,
 * SER 1.2 %, OCT 0.8 %). Root ids are distinct 18-digit numbers
 * 720575940xxxxxxxxx, non-contiguous, in random order.
 *
 * Randomness: splitmix64 (Steele, Lea & Flood 2014), one stream per purpose
 * and neuron, keyed by the seed, so the files are a function of the options
 * alone. Rows are grouped by presynaptic neuron, in the nodes file's order.
 *
 * Each file is written as FILE.part and renamed when complete (a FILE that
 * exists and is not a regular file, /dev/null say, is written directly); on
 * an error the message names the file and the system's reason, and no .part
 * file is left behind. A summary goes to stderr. Exit status: 0, 1 on an I/O
 * error (or out of memory), 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* stat */
#endif
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- random numbers ----------------------------------------------------------------------- */

typedef struct {
    uint64_t s;
} rng;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A generator for (seed, purpose, index): independent streams without state
 * shared between neurons. */
static rng rng_stream(uint64_t seed, uint64_t purpose, uint64_t index)
{
    rng r = {mix64(mix64(seed ^ (purpose * 0xd1342543de82ef95ULL)) + index * 0x9e3779b97f4a7c15ULL)};
    return r;
}

static uint64_t rng_u64(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

/* Uniform in [0, 1). */
static double rng_unif(rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

/* Uniform in (0, 1]. */
static double rng_unif_pos(rng *r) { return (double)((rng_u64(r) >> 11) + 1) * 0x1.0p-53; }

/* Uniform integer in [0, n), n < 2^32 (Lemire's multiply; the bias is < n / 2^64). */
static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

/* Two independent standard normals (Box-Muller). */
static void rng_normal2(rng *r, double *a, double *b)
{
    double rad = sqrt(-2.0 * log(rng_unif_pos(r)));
    double th = 6.283185307179586 * rng_unif(r);
    *a = rad * cos(th);
    *b = rad * sin(th);
}

enum { S_IDS = 1, S_SHUFFLE, S_NEURON, S_ISOLATED, S_TARGETS, S_ROWS };

/* ---- the tables FlyWire's columns take values from ---------------------------------------- */

static const char *const nt_names[] = {"ACH", "GABA", "GLUT", "DA", "SER", "OCT"};
static const double nt_share[] = {0.600, 0.180, 0.150, 0.050, 0.012, 0.008};
enum { N_NT = 6 };

/* A subset of FlyWire's 78 neuropils, weighted roughly by how many neurons
 * have their arbour there (the optic lobes hold most). */
static const char *const np_names[] = {
    "ME_R",   "ME_L",   "LO_R",   "LO_L",   "LOP_R",  "LOP_L",  "AME_R",  "LA_R",
    "AL_R",   "AL_L",   "MB_CA_R", "MB_ML_L", "LH_R",  "LH_L",   "SMP_R",  "SMP_L",
    "SLP_R",  "SIP_L",  "AVLP_R", "AVLP_L", "PVLP_R", "PVLP_L", "LAL_R",  "LAL_L",
    "FB",     "EB",     "PB",     "NO",     "GNG",    "SAD",    "SPS_R",  "IPS_L",
};
static const double np_share[] = {
    14, 14, 7, 7, 4, 4, 0.5, 1,
    3, 3, 2, 2, 1.5, 1.5, 3, 3,
    2, 2, 3, 3, 2.5, 2.5, 1, 1,
    1.5, 0.8, 0.6, 0.3, 4, 1.5, 1.5, 1.5,
};
enum { N_NP = (int)(sizeof np_names / sizeof np_names[0]) };

/* Index drawn from weights w[0..n) (not normalised) with u uniform in [0, 1). */
static int pick(const double *w, int n, double u)
{
    double tot = 0;
    for (int i = 0; i < n; i++)
        tot += w[i];
    double x = u * tot;
    for (int i = 0; i < n - 1; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ---- Walker/Vose alias table -------------------------------------------------------------- */

typedef struct {
    uint32_t n;
    float *prob;      /* acceptance probability of the column's own index */
    uint32_t *alias;  /* the other index of the column */
} alias_table;

/* Builds the table for weights w[0..n) (not all zero). Returns 0, -1 when out
 * of memory (t then holds nothing). Free it with alias_free. */
static int alias_build(alias_table *t, const double *w, uint32_t n)
{
    t->n = n;
    t->prob = malloc(n * sizeof *t->prob);
    t->alias = malloc(n * sizeof *t->alias);
    double *p = malloc(n * sizeof *p);
    uint32_t *small = malloc(n * sizeof *small), *large = malloc(n * sizeof *large);
    if (!t->prob || !t->alias || !p || !small || !large) {
        free(t->prob);
        free(t->alias);
        t->prob = NULL;
        t->alias = NULL;
        free(p);
        free(small);
        free(large);
        return -1;
    }
    double tot = 0;
    for (uint32_t i = 0; i < n; i++)
        tot += w[i];
    uint32_t ns = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++) {
        p[i] = w[i] * n / tot;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[--nl];
        t->prob[s] = (float)p[s];
        t->alias[s] = l;
        p[l] = (p[l] + p[s]) - 1.0;
        if (p[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    while (nl) {
        uint32_t l = large[--nl];
        t->prob[l] = 1.0f;
        t->alias[l] = l;
    }
    while (ns) { /* only rounding leaves these: they are worth one column each */
        uint32_t s = small[--ns];
        t->prob[s] = p[s] > 0 ? 1.0f : 0.0f;
        t->alias[s] = s;
    }
    free(p);
    free(small);
    free(large);
    return 0;
}

static void alias_free(alias_table *t)
{
    free(t->prob);
    free(t->alias);
    t->prob = NULL;
    t->alias = NULL;
}

static uint32_t alias_draw(const alias_table *t, rng *r)
{
    uint64_t x = rng_u64(r);
    uint32_t col = (uint32_t)(((x >> 32) * (uint64_t)t->n) >> 32);
    float u = (float)(x & 0xffffff) * 0x1.0p-24f;
    return u < t->prob[col] ? col : t->alias[col];
}

/* ---- output ------------------------------------------------------------------------------- */

typedef struct {
    FILE *f;
    char *buf;
    size_t len, cap;
    int err;         /* errno of the first failed write, 0 while none failed */
    uint64_t bytes;
} outbuf;

/* Writes out what o holds. Returns 0, or the errno of a failed write (kept
 * in o->err; after one, nothing more is written). */
static int out_flush(outbuf *o)
{
    if (o->len && !o->err) {
        errno = 0;
        if (fwrite(o->buf, 1, o->len, o->f) != o->len)
            o->err = errno ? errno : EIO;
    }
    o->bytes += o->len;
    o->len = 0;
    return o->err;
}

/* Flushes and closes o's file (o->f is NULL after). Returns 0, or the errno
 * of the first failed write or of the close. */
static int out_close(outbuf *o)
{
    out_flush(o);
    errno = 0;
    if (fclose(o->f) && !o->err)
        o->err = errno ? errno : EIO;
    o->f = NULL;
    return o->err;
}

/* Says that the WHAT file FILE, written as PART, could not be written. */
static void write_error(const char *what, const char *file, const char *part, int err)
{
    if (strcmp(file, part))
        fprintf(stderr, "nk-flyscale-gen: cannot write the %s file '%s' (as '%s'): %s\n", what,
                file, part, strerror(err));
    else
        fprintf(stderr, "nk-flyscale-gen: cannot write the %s file '%s': %s\n", what, file,
                strerror(err));
}

/* Writes v (>= 0) in decimal at p; returns the number of characters. */
static int put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* ---- options ------------------------------------------------------------------------------ */

typedef struct {
    long long neurons;
    double mean_degree;
    uint64_t seed;
    const char *edges, *nodes;
    long long isolated;
    int quiet, histogram;
} options;

static void usage(FILE *f)
{
    fputs("usage: nk-flyscale-gen [options]\n"
          "Writes a synthetic connectome the size and shape of FlyWire's: an edges CSV\n"
          "(pre_root_id,post_root_id,neuropil,syn_count,nt_type) and a nodes CSV (root_id),\n"
          "heavy-tailed in- and out-degrees, syn_count >= 5, one nt_type per presynaptic\n"
          "neuron. The same options always give the same files.\n"
          "\n"
          "  -n, --neurons N       neurons (default 138639, FlyWire's count)\n"
          "  -k, --mean-degree K   distinct postsynaptic partners per neuron, on average\n"
          "                        (default 108: about 15 million rows with the defaults)\n"
          "  -s, --seed S          seed (default 1)\n"
          "  -o, --edges FILE      edges file (default flyscale_edges.csv)\n"
          "  -m, --nodes FILE      nodes file (default flyscale_neurons.csv)\n"
          "  -i, --isolated M      neurons without any connection (default 40 for 138639\n"
          "                        neurons, in proportion for other counts)\n"
          "  -q, --quiet           no summary on stderr\n"
          "  -H, --histogram       add the in- and out-degree histograms (powers of 2) to it\n"
          "  -h, --help            this text\n",
          f);
}

/* Parses an integer or a number with an optional k/M suffix ("15M"). */
static int parse_num(const char *s, double *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || errno)
        return -1;
    if (*end == 'k' || *end == 'K')
        x *= 1e3, end++;
    else if (*end == 'M')
        x *= 1e6, end++;
    if (*end)
        return -1;
    *v = x;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct {
        const char *lng;
        char shrt;
    } opts[] = {{"neurons", 'n'}, {"mean-degree", 'k'}, {"seed", 's'}, {"edges", 'o'},
                {"nodes", 'm'},   {"isolated", 'i'},    {"quiet", 'q'}, {"histogram", 'H'},
                {"help", 'h'}};
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a], *val = NULL;
        char c = 0;
        if (arg[0] == '-' && arg[1] == '-') {
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
                if (strlen(opts[i].lng) == len && !strncmp(arg + 2, opts[i].lng, len))
                    c = opts[i].shrt;
            if (eq)
                val = eq + 1;
        } else if (arg[0] == '-' && arg[1] && !arg[2]) {
            for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
                if (arg[1] == opts[i].shrt)
                    c = opts[i].shrt;
        }
        if (!c) {
            fprintf(stderr, "nk-flyscale-gen: unknown argument '%s' (try --help)\n", arg);
            return -1;
        }
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c == 'q' || c == 'H') {
            *(c == 'q' ? &o->quiet : &o->histogram) = 1;
            continue;
        }
        if (!val) {
            if (a + 1 >= argc) {
                fprintf(stderr, "nk-flyscale-gen: option '%s' needs a value\n", arg);
                return -1;
            }
            val = argv[++a];
        }
        double x;
        if (c == 'o' || c == 'm') {
            if (!*val) {
                fprintf(stderr, "nk-flyscale-gen: option '%s' needs a file name\n", arg);
                return -1;
            }
            *(c == 'o' ? &o->edges : &o->nodes) = val;
            continue;
        }
        if (parse_num(val, &x)) {
            fprintf(stderr, "nk-flyscale-gen: option '%s' expects a number, got '%s'\n", arg, val);
            return -1;
        }
        if (c == 'n') {
            if (x < 2 || x > 100e6 || x != floor(x)) {
                fprintf(stderr, "nk-flyscale-gen: --neurons must be an integer in [2, 1e8], got '%s'\n", val);
                return -1;
            }
            o->neurons = (long long)x;
        } else if (c == 'k') {
            if (!(x >= 0 && x <= 1e5)) {
                fprintf(stderr, "nk-flyscale-gen: --mean-degree must be in [0, 1e5], got '%s'\n", val);
                return -1;
            }
            o->mean_degree = x;
        } else if (c == 's') {
            if (x < 0 || x != floor(x) || x >= 0x1p64) {
                fprintf(stderr, "nk-flyscale-gen: --seed must be a non-negative integer, got '%s'\n", val);
                return -1;
            }
            o->seed = strtoull(val, NULL, 10);
        } else if (c == 'i') {
            if (x < 0 || x != floor(x)) {
                fprintf(stderr, "nk-flyscale-gen: --isolated must be a non-negative integer, got '%s'\n", val);
                return -1;
            }
            o->isolated = (long long)x;
        }
    }
    if (o->isolated < 0) { /* not given: 40 at FlyWire's size, in proportion otherwise */
        o->isolated = llround(40.0 * (double)o->neurons / 138639.0);
        if (o->isolated == 0 && o->neurons >= 10)
            o->isolated = 1;
    }
    if (!strcmp(o->edges, o->nodes)) {
        fprintf(stderr, "nk-flyscale-gen: the edges and nodes files must differ ('%s')\n", o->edges);
        return -1;
    }
    if (o->isolated > o->neurons - 2) {
        fprintf(stderr, "nk-flyscale-gen: --isolated %lld leaves fewer than 2 connected neurons\n", o->isolated);
        return -1;
    }
    if (o->mean_degree > 0.5 * (double)(o->neurons - o->isolated - 1)) {
        fprintf(stderr, "nk-flyscale-gen: --mean-degree %g is too dense for %lld neurons "
                        "(at most half the connected neurons)\n", o->mean_degree, o->neurons);
        return -1;
    }
    return 0;
}

/* ---- statistics --------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts d[0..n) in place and prints its mean, median, 99th percentile and max. */
static void degree_line(const char *what, uint32_t *d, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += d[i];
    qsort(d, n, sizeof *d, cmp_u32);
    size_t zero = 0;
    while (zero < n && d[zero] == 0)
        zero++;
    fprintf(stderr, "  %-10s mean %.1f  median %u  p99 %u  max %u  (%zu neurons with none)\n", what,
            sum / (double)n, d[n / 2], d[(size_t)(0.99 * (double)(n - 1))], d[n - 1], zero);
}

/* The name to write FILE under: FILE.part when FILE is absent or a regular
 * file (renamed once complete), FILE itself otherwise. Caller frees. */
static char *part_name(const char *file)
{
    struct stat st;
    size_t len = strlen(file);
    char *p = malloc(len + 6);
    if (!p)
        return NULL;
    if (stat(file, &st) == 0 && !S_ISREG(st.st_mode))
        memcpy(p, file, len + 1);
    else
        snprintf(p, len + 6, "%s.part", file);
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the generator ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    options o = {.neurons = 138639, .mean_degree = 108, .seed = 1, .edges = "flyscale_edges.csv",
                 .nodes = "flyscale_neurons.csv", .isolated = -1};
    if (parse_args(argc, argv, &o))
        return 2;

    const double sigma_out = 1.2, sigma_in = 1.0, rho = 0.5; /* lognormal propensities */
    const double dup_p = 0.01;                                /* a second row, another neuropil */
    const double post_np_p = 0.85;                            /* neuropil of the postsynaptic side */
    const double pareto_a = 1.7, syn_min = 5, syn_max = 2400;

    /* Everything below is freed at "done", on success and on failure alike;
     * a failure also removes the .part files made (npart_made, epart_made). */
    int status = 1;
    double t0 = now();
    uint32_t n = (uint32_t)o.neurons;
    alias_table at = {0};
    uint32_t *tg = NULL, *mark = NULL;
    char *epart = NULL, *npart = NULL;
    int npart_made = 0, epart_made = 0;
    outbuf ob = {.cap = 8u << 20};
    uint64_t *ids = malloc(n * sizeof *ids);
    char *idstr = malloc((size_t)n * 18);
    double *pout = malloc(n * sizeof *pout), *pin = malloc(n * sizeof *pin);
    uint8_t *nt = malloc(n), *home = malloc(n);
    uint32_t *kout = malloc(n * sizeof *kout), *indeg = calloc(n, sizeof *indeg);
    uint32_t *outrows = malloc(n * sizeof *outrows);
    if (!ids || !idstr || !pout || !pin || !nt || !home || !kout || !indeg || !outrows) {
        fprintf(stderr, "nk-flyscale-gen: out of memory for %u neurons\n", n);
        goto done;
    }

    /* Root ids: ascending with random gaps (so distinct) over 720575940300000000..
     * 720575940700000000 whatever n, then shuffled. */
    {
        rng r = rng_stream(o.seed, S_IDS, 0);
        uint64_t span = 400000000ULL, gap = span / n;
        if (gap < 1)
            gap = 1;
        uint64_t id = 720575940300000000ULL;
        for (uint32_t i = 0; i < n; i++) {
            id += 1 + (gap > 1 ? rng_below(&r, (uint32_t)(2 * gap - 1)) : 0);
            ids[i] = id;
        }
        rng s = rng_stream(o.seed, S_SHUFFLE, 0);
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = rng_below(&s, i + 1);
            uint64_t t = ids[i];
            ids[i] = ids[j];
            ids[j] = t;
        }
        for (uint32_t i = 0; i < n; i++) {
            char tmp[24];
            int len = put_u64(tmp, ids[i]);
            if (len != 18) {
                fprintf(stderr, "nk-flyscale-gen: root id %" PRIu64 " is not 18 digits\n", ids[i]);
                goto done;
            }
            memcpy(idstr + (size_t)i * 18, tmp, 18);
        }
    }

    /* Per neuron: propensities, transmitter, home neuropil. */
    for (uint32_t i = 0; i < n; i++) {
        rng r = rng_stream(o.seed, S_NEURON, i);
        double z1, z2;
        rng_normal2(&r, &z1, &z2);
        pout[i] = exp(sigma_out * z1);
        pin[i] = exp(sigma_in * (rho * z1 + sqrt(1 - rho * rho) * z2));
        nt[i] = (uint8_t)pick(nt_share, N_NT, rng_unif(&r));
        home[i] = (uint8_t)pick(np_share, N_NP, rng_unif(&r));
    }
    {
        rng r = rng_stream(o.seed, S_ISOLATED, 0);
        for (long long m = 0; m < o.isolated;) {
            uint32_t i = rng_below(&r, n);
            if (pout[i] == 0)
                continue;
            pout[i] = pin[i] = 0;
            m++;
        }
    }

    /* Out-degrees: N*K pairs in proportion to out-propensity, each capped at
     * half the connected neurons (the cap never binds at fly-scale settings). */
    uint32_t connected = n - (uint32_t)o.isolated, cap = (connected - 1) / 2;
    uint64_t pairs_target = (uint64_t)llround(o.mean_degree * n);
    {
        double tot = 0, cum = 0;
        for (uint32_t i = 0; i < n; i++)
            tot += pout[i];
        uint64_t prev = 0;
        for (uint32_t i = 0; i < n; i++) {
            cum += pout[i];
            uint64_t upto = (uint64_t)floor((double)pairs_target * (cum / tot) + 0.5);
            if (upto > pairs_target)
                upto = pairs_target;
            uint64_t k = upto > prev ? upto - prev : 0;
            prev = upto > prev ? upto : prev;
            kout[i] = (uint32_t)(k > cap ? cap : k);
        }
    }

    if (alias_build(&at, pin, n)) {
        fprintf(stderr, "nk-flyscale-gen: out of memory for the alias table\n");
        goto done;
    }
    uint32_t kmax = 0;
    for (uint32_t i = 0; i < n; i++)
        kmax = kout[i] > kmax ? kout[i] : kmax;
    tg = malloc(((size_t)kmax + 1) * sizeof *tg);
    double t_setup = now() - t0;

    /* The nodes file. */
    epart = part_name(o.edges);
    npart = part_name(o.nodes);
    ob.buf = malloc(ob.cap);
    if (!tg || !epart || !npart || !ob.buf) {
        fprintf(stderr, "nk-flyscale-gen: out of memory\n");
        goto done;
    }
    ob.f = fopen(npart, "wb");
    if (!ob.f) {
        write_error("nodes", o.nodes, npart, errno);
        goto done;
    }
    npart_made = strcmp(npart, o.nodes) != 0;
    memcpy(ob.buf, "root_id\n", 8);
    ob.len = 8;
    for (uint32_t i = 0; i < n; i++) {
        if (ob.len + 32 > ob.cap && out_flush(&ob))
            break;
        memcpy(ob.buf + ob.len, idstr + (size_t)i * 18, 18);
        ob.buf[ob.len + 18] = '\n';
        ob.len += 19;
    }
    if (out_close(&ob)) {
        write_error("nodes", o.nodes, npart, ob.err);
        goto done;
    }
    uint64_t nodes_bytes = ob.bytes;

    /* The edges file. */
    ob.f = fopen(epart, "wb");
    ob.bytes = 0;
    if (!ob.f) {
        write_error("edges", o.edges, epart, errno);
        goto done;
    }
    epart_made = strcmp(epart, o.edges) != 0;
    static const char header[] = "pre_root_id,post_root_id,neuropil,syn_count,nt_type\n";
    memcpy(ob.buf, header, sizeof header - 1);
    ob.len = sizeof header - 1;
    size_t np_len[N_NP], nt_len[N_NT];
    for (int j = 0; j < N_NP; j++)
        np_len[j] = strlen(np_names[j]);
    for (int j = 0; j < N_NT; j++)
        nt_len[j] = strlen(nt_names[j]);

    /* syn_count = floor(5 * U^(-1/a)) is >= s exactly when U <= (5/s)^a: a
     * table of those bounds answers the common small counts without pow(). */
    enum { SYN_TAB = 64 };
    double syn_bound[SYN_TAB + 1];
    for (int c = 0; c <= SYN_TAB; c++)
        syn_bound[c] = c <= syn_min ? 1.0 : pow(syn_min / c, pareto_a);

    /* mark[t] == i: t is already a target of i (or t is i itself);
     * mark[t] == UINT32_MAX: t is isolated and never a target. */
    mark = malloc(n * sizeof *mark);
    if (!mark) {
        fprintf(stderr, "nk-flyscale-gen: out of memory\n");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        mark[i] = pin[i] == 0 ? UINT32_MAX : UINT32_MAX - 1; /* n < 2^32 - 1 */

    uint64_t rows = 0, pairs = 0, repeats = 0, synapses = 0, short_of = 0;
    uint32_t syn_hi = 0;
    uint64_t syn_hist[4] = {0}; /* 5-9, 10-99, 100-999, >= 1000 */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = kout[i];
        outrows[i] = 0;
        if (!k)
            continue;
        /* Distinct targets in the order drawn; repeats and self are drawn again. */
        rng r = rng_stream(o.seed, S_TARGETS, i);
        uint32_t self_mark = mark[i];
        mark[i] = i;
        uint32_t have = 0;
        for (uint64_t tries = 0; have < k && tries < 64 * (uint64_t)k; tries++) {
            uint32_t t = alias_draw(&at, &r);
            if (mark[t] == i || mark[t] == UINT32_MAX)
                continue;
            mark[t] = i;
            tg[have++] = t;
        }
        mark[i] = self_mark == UINT32_MAX ? UINT32_MAX : i;
        short_of += k - have;
        rng rr = rng_stream(o.seed, S_ROWS, i);
        const char *pre = idstr + (size_t)i * 18;
        const char *ntn = nt_names[nt[i]];
        size_t ntl = nt_len[nt[i]];
        for (uint32_t j = 0; j < have; j++) {
            if (j + 8 < have) { /* the ids are 2.5 MB read in random order */
                __builtin_prefetch(idstr + (size_t)tg[j + 8] * 18);
                __builtin_prefetch(home + tg[j + 8]);
            }
            uint32_t post = tg[j];
            int np = rng_unif(&rr) < post_np_p ? home[post] : home[i];
            int nrow = rng_unif(&rr) < dup_p ? 2 : 1;
            for (int row = 0; row < nrow; row++) {
                if (row == 1) { /* another neuropil than the first row's */
                    int other = (int)rng_below(&rr, N_NP - 1);
                    np = other >= np ? other + 1 : other;
                    repeats++;
                }
                double u = rng_unif_pos(&rr);
                uint32_t sc = (uint32_t)syn_min;
                while (sc < SYN_TAB && u <= syn_bound[sc + 1])
                    sc++;
                if (sc == SYN_TAB) {
                    double syn = floor(syn_min * pow(u, -1.0 / pareto_a));
                    sc = (uint32_t)(syn > syn_max ? syn_max : syn);
                }
                if (ob.len + 128 > ob.cap && out_flush(&ob))
                    goto close_edges;
                char *p = ob.buf + ob.len;
                memcpy(p, pre, 18);
                p[18] = ',';
                memcpy(p + 19, idstr + (size_t)post * 18, 18);
                p[37] = ',';
                p += 38;
                memcpy(p, np_names[np], np_len[np]);
                p += np_len[np];
                *p++ = ',';
                p += put_u64(p, sc);
                *p++ = ',';
                memcpy(p, ntn, ntl);
                p += ntl;
                *p++ = '\n';
                ob.len = (size_t)(p - ob.buf);
                synapses += sc;
                syn_hi = sc > syn_hi ? sc : syn_hi;
                syn_hist[sc < 10 ? 0 : sc < 100 ? 1 : sc < 1000 ? 2 : 3]++;
                rows++;
            }
            indeg[post]++;
            pairs++;
        }
        outrows[i] = have;
    }
close_edges:
    if (out_close(&ob)) {
        write_error("edges", o.edges, epart, ob.err);
        goto done;
    }
    /* Both complete: renamed, nodes first (a .part not renamed is removed at
     * "done"). */
    if (npart_made && rename(npart, o.nodes)) {
        fprintf(stderr, "nk-flyscale-gen: cannot rename '%s' to '%s': %s\n", npart, o.nodes,
                strerror(errno));
        goto done;
    }
    npart_made = 0;
    if (epart_made && rename(epart, o.edges)) {
        fprintf(stderr, "nk-flyscale-gen: cannot rename '%s' to '%s': %s\n", epart, o.edges,
                strerror(errno));
        goto done;
    }
    epart_made = 0;
    double t_total = now() - t0;

    if (!o.quiet) {
        size_t isolated = 0, nt_count[N_NT] = {0};
        for (uint32_t i = 0; i < n; i++) {
            isolated += outrows[i] == 0 && indeg[i] == 0;
            nt_count[nt[i]]++;
        }
        fprintf(stderr, "nk-flyscale-gen: seed %" PRIu64 ", %.2f s (%.2f s setup, %.2f s edges)\n", o.seed,
                t_total, t_setup, t_total - t_setup);
        fprintf(stderr, "  neurons    %u (%zu without any connection)\n", n, isolated);
        fprintf(stderr, "  rows       %" PRIu64 " (%" PRIu64 " distinct pre/post pairs, %" PRIu64
                        " repeated in a second neuropil)\n", rows, pairs, repeats);
        if (short_of)
            fprintf(stderr, "  note       %" PRIu64 " pairs could not be drawn distinct\n", short_of);
        if (o.histogram) {
            uint64_t hin[34] = {0}, hout[34] = {0};
            int top = 0;
            for (uint32_t i = 0; i < n; i++) {
                int bo = 0, bi = 0;
                while (bo < 33 && (1u << bo) <= outrows[i])
                    bo++;
                while (bi < 33 && (1u << bi) <= indeg[i])
                    bi++;
                hout[bo]++;
                hin[bi]++;
                top = bo > top ? bo : top;
                top = bi > top ? bi : top;
            }
            fprintf(stderr, "  degree histogram (distinct partners): range, neurons by out-degree, by in-degree\n");
            for (int b = 0; b <= top; b++) {
                char range[32];
                if (b == 0)
                    snprintf(range, sizeof range, "0");
                else if (b == 1)
                    snprintf(range, sizeof range, "1");
                else
                    snprintf(range, sizeof range, "%u-%u", 1u << (b - 1), (1u << b) - 1);
                fprintf(stderr, "    %-12s %8" PRIu64 " %8" PRIu64 "\n", range, hout[b], hin[b]);
            }
        }
        fprintf(stderr, "  degrees (distinct partners):\n");
        degree_line("out", outrows, n);
        degree_line("in", indeg, n);
        fprintf(stderr, "  synapses   %" PRIu64 " (syn_count mean %.2f, max %u; 5-9: %.1f%%, 10-99: %.1f%%, "
                        "100-999: %.2f%%, >=1000: %.4f%%)\n", synapses, rows ? (double)synapses / (double)rows : 0,
                syn_hi, 100.0 * (double)syn_hist[0] / (double)(rows ? rows : 1),
                100.0 * (double)syn_hist[1] / (double)(rows ? rows : 1),
                100.0 * (double)syn_hist[2] / (double)(rows ? rows : 1),
                100.0 * (double)syn_hist[3] / (double)(rows ? rows : 1));
        fprintf(stderr, "  nt_type   ");
        for (int j = 0; j < N_NT; j++)
            fprintf(stderr, " %s %.1f%%", nt_names[j], 100.0 * (double)nt_count[j] / n);
        fprintf(stderr, " (of neurons)\n");
        fprintf(stderr, "  files      %s %.1f MB, %s %.1f MB\n", o.edges, (double)ob.bytes / 1e6, o.nodes,
                (double)nodes_bytes / 1e6);
    }
    status = 0;
done:
    if (ob.f)
        fclose(ob.f);
    if (npart_made)
        remove(npart);
    if (epart_made)
        remove(epart);
    free(ids);
    free(idstr);
    free(pout);
    free(pin);
    free(nt);
    free(home);
    free(kout);
    free(indeg);
    free(outrows);
    alias_free(&at);
    free(tg);
    free(mark);
    free(epart);
    free(npart);
    free(ob.buf);
    return status;
}
