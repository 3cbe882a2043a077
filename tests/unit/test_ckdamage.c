/* test_ckdamage.c - a checkpoint whose numbers are damaged is refused, not
 * trusted (engine/src/checkpoint.c).
 *
 * Builds a small network through the C API (two populations, two
 * projections, poisson, array and callback sources, spike, state and rate
 * monitors, a results file), runs it and writes a checkpoint. Then, for
 * each damaged value (a step of -1 or 2^63-1, a ring length of -1, counts
 * and sizes of -1, 2^31 or 2^63-1, indices outside the network, numbers
 * that a cast to int would wrap into range), copies the file, overwrites
 * the one attribute with the HDF5 C API and checks that nk_restore (what
 * nk.restore calls) and, where the value is part of the state rather than
 * the description, nk_checkpoint_apply (what nkshell --resume calls) fail
 * with a message that says the file is damaged and names the attribute,
 * the resumed network left at step 0.
 * The undamaged file restores, resumes and runs on. Under the sanitizers
 * this also checks that no damaged value reaches an allocation, an index
 * or an overflowing sum first, and that a refused restore leaks nothing.
 * Each damaged case runs in a child process: one that crashes fails alone.
 *
 * Also the run id that ties a checkpoint to its results file: a restore
 * (or --resume) that would continue a file of another run, one without a
 * run id, or a checkpoint older than run ids into a file that has one, is
 * refused and leaves the file as it was; a checkpoint and a file both older
 * than run ids go on as before.
 *
 * Files live in a fresh temporary directory, removed at the end
 * (KEEP_CKDAMAGE_TMP=1 keeps it). */
#define _XOPEN_SOURCE 700

#include "nk/nk.h"

#include "check.h"

#include <errno.h>
#include <ftw.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static nk_ctx *ctx;
static char tmpdir[512];
static char base_ck[600];  /* the undamaged checkpoint */
static char base_out[600]; /* the results file as it was when it was written */
static int64_t base_step, base_nrec, base_rows;

static void pathf(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

/* The callback source: 1 pA to every target neuron. */
static int cb_one(void *ud, double t_ms, int64_t n, double *values, char *err, size_t errlen)
{
    (void)ud;
    (void)t_ms;
    (void)err;
    (void)errlen;
    for (int64_t k = 0; k < n; k++)
        values[k] = 1.0;
    return 0;
}

/* The network, the same every time (the script that --resume runs again):
 * pops a (20 lif) and b (5 lif); proj0 a -> b, proj1 b -> a; src0 poisson
 * on a, src1 array on b (2 x 5), src2 callback on b; mon0 spikes of a,
 * mon1 state v of b, mon2 rate of a. NULL on failure. */
static nk_net *make_net(const char *output)
{
    nk_net_opts no;
    nk_net_opts_init(&no);
    no.seed = 7;
    no.output = output;
    nk_net *net = nk_net_new(ctx, &no);
    if (!net)
        return NULL;
    int a = nk_pop_add(net, "lif", 20, "a", NULL);
    int b = nk_pop_add(net, "lif", 5, "b", NULL);
    nk_conn_opts c;
    nk_conn_opts_init(&c);
    c.rule = NK_RULE_BERNOULLI;
    c.p = 0.5;
    c.weight = 50;
    c.delay = 1.0; /* 10 steps: the ring holds 11 */
    int ok = a == 0 && b == 1 && nk_connect(net, (nk_range){a, 0, 20}, (nk_range){b, 0, 5}, &c) == 0;
    c.rule = NK_RULE_ALL_TO_ALL;
    c.weight = -5;
    c.delay = 0.5;
    ok = ok && nk_connect(net, (nk_range){b, 0, 5}, (nk_range){a, 0, 20}, &c) == 1;
    nk_source_opts so;
    nk_source_opts_init(&so);
    so.rate = 3000;
    so.weight = 200;
    ok = ok && nk_source_add(net, "poisson", (nk_range){a, 0, 20}, &so) == 0;
    static const double vals[10] = {100, 200, 300, 400, 500, 500, 400, 300, 200, 100};
    nk_source_opts_init(&so);
    so.values = vals;
    so.rows = 2;
    so.cols = 5;
    so.interval = 5;
    ok = ok && nk_source_add(net, "array", (nk_range){b, 0, 5}, &so) == 1;
    nk_source_opts_init(&so);
    so.fn = cb_one;
    so.every = 2;
    ok = ok && nk_source_add(net, "callback", (nk_range){b, 0, 5}, &so) == 2;
    static const double st[2] = {1, 2}, sa[2] = {10, 20};
    nk_source_opts_init(&so);
    so.times = st;
    so.amplitudes = sa;
    so.ntimes = 2;
    ok = ok && nk_source_add(net, "step", (nk_range){a, 0, 20}, &so) == 3;
    ok = ok && nk_monitor_add(net, "spikes", (nk_range){a, 0, 20}) == 0;
    nk_monitor_opts mo;
    nk_monitor_opts_init(&mo);
    const char *v[] = {"v"};
    mo.vars = v;
    mo.nvars = 1;
    ok = ok && nk_monitor_add_sel(net, "state", &(nk_sel){b, 0, 5, NULL, 5}, &mo) == 1;
    nk_monitor_opts_init(&mo);
    mo.bin = 1.0;
    ok = ok && nk_monitor_add_sel(net, "rate", &(nk_sel){a, 0, 20, NULL, 20}, &mo) == 2;
    if (!ok) {
        fprintf(stderr, "make_net: %s\n", nk_errmsg(ctx));
        nk_net_free(net);
        return NULL;
    }
    return net;
}

static int read_i(hid_t f, const char *obj, const char *name, int64_t *v)
{
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    hid_t a = o >= 0 ? H5Aopen(o, name, H5P_DEFAULT) : -1;
    int rc = a < 0 || H5Aread(a, H5T_NATIVE_INT64, v) < 0;
    if (a >= 0)
        H5Aclose(a);
    if (o >= 0)
        H5Oclose(o);
    return rc;
}

static int64_t ds_len(hid_t f, const char *path)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t s = H5Dget_space(d);
    int64_t n = (int64_t)H5Sget_simple_extent_npoints(s);
    H5Sclose(s);
    H5Dclose(d);
    return n;
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int rc = !in || !out;
    char buf[65536];
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fwrite(buf, 1, n, out) != n;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = 1;
    return rc;
}

/* A copy of the checkpoint, at path, with attribute name of object obj
 * ("/", "/mon1") overwritten by value (type: H5T_NATIVE_INT64 or _DOUBLE),
 * or with elem >= 0, entry elem of dataset obj/name. */
static int damage(const char *path, const char *obj, const char *name, int64_t elem,
                  hid_t type, const void *value)
{
    if (copy_file(base_ck, path))
        return 1;
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 1;
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    int rc;
    if (elem < 0) {
        hid_t a = o >= 0 ? H5Aopen(o, name, H5P_DEFAULT) : -1;
        rc = a < 0 || H5Awrite(a, type, value) < 0;
        if (a >= 0)
            H5Aclose(a);
    } else {
        hid_t d = o >= 0 ? H5Dopen2(o, name, H5P_DEFAULT) : -1;
        hid_t fs = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t at = (hsize_t)elem, one = 1;
        hid_t ms = H5Screate_simple(1, &one, NULL);
        rc = fs < 0 || ms < 0 ||
             H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL) < 0 ||
             H5Dwrite(d, type, ms, fs, H5P_DEFAULT, value) < 0;
        if (ms >= 0)
            H5Sclose(ms);
        if (fs >= 0)
            H5Sclose(fs);
        if (d >= 0)
            H5Dclose(d);
    }
    if (o >= 0)
        H5Oclose(o);
    if (H5Fclose(f) < 0)
        rc = 1;
    return rc;
}

/* The root attribute name of the file at path set to the string value
 * (NULL: removed), as an older nkshell or another run would have left it. */
static int set_root_str(const char *path, const char *name, const char *value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return 1;
    int rc = H5Aexists(f, name) > 0 && H5Adelete(f, name) < 0;
    if (!rc && value) {
        hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
        H5Tset_size(t, H5T_VARIABLE);
        hid_t a = H5Acreate2(f, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
        rc = a < 0 || H5Awrite(a, t, &value) < 0;
        if (a >= 0)
            H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(t);
    }
    if (H5Fclose(f) < 0)
        rc = 1;
    return rc;
}

/* The whole file at path (NULL when unreadable); its size in *n. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    *n = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
        if (buf && (fseek(f, 0, SEEK_SET) || fread(buf, 1, (size_t)len, f) != (size_t)len)) {
            free(buf);
            buf = NULL;
        }
        *n = buf ? (size_t)len : 0;
    }
    if (f)
        fclose(f);
    return buf;
}

/* Whether the files at a and b hold the same bytes. */
static int same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* The undamaged network runs, checkpoints, and its checkpoint restores,
 * resumes and runs on. */
static void test_base(void)
{
    char out[600], out2[600];
    pathf(out, sizeof out, "run.h5");
    pathf(out2, sizeof out2, "restored.h5");
    pathf(base_ck, sizeof base_ck, "base.ck.h5");
    nk_net *net = make_net(out);
    CHECK(net != NULL);
    if (!net)
        return;
    CHECK(nk_run(net, 20, NULL) == 0);
    CHECK(nk_checkpoint(net, base_ck) == 0);
    nk_net_free(net);
    pathf(base_out, sizeof base_out, "base.run.h5");
    CHECK(copy_file(out, base_out) == 0);

    hid_t f = H5Fopen(base_ck, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    if (f < 0)
        return;
    CHECK(read_i(f, "/", "step", &base_step) == 0);
    CHECK(read_i(f, "/mon1", "rows", &base_rows) == 0);
    base_nrec = ds_len(f, "/pop0/rec_step");
    H5Fclose(f);
    CHECK_EQ_INT(base_step, 200);
    CHECK_EQ_INT(base_rows, 200);
    CHECK(base_nrec > 0); /* spikes were recorded (and written: nwritten) */

    /* an undamaged copy restores and runs */
    char ck[600];
    pathf(ck, sizeof ck, "copy.ck.h5");
    CHECK(copy_file(base_ck, ck) == 0);
    nk_net *r = nk_restore(ctx, ck, out2);
    CHECK(r != NULL);
    if (r) {
        CHECK(nk_source_set_fn(r, 2, cb_one, NULL, NULL) == 0);
        CHECK(nk_run(r, 5, NULL) == 0);
        CHECK_EQ_INT(nk_net_step(r), 250);
        nk_net_free(r);
    } else {
        fprintf(stderr, "restore: %s\n", nk_errmsg(ctx));
    }
    /* ... and resumes into the network built again, continuing its results
     * file (as --resume does) */
    r = make_net(out);
    CHECK(r != NULL);
    if (r) {
        CHECK(nk_checkpoint_apply(r, ck) == 0);
        CHECK(nk_run(r, 5, NULL) == 0);
        CHECK_EQ_INT(nk_net_step(r), 250);
        nk_net_free(r);
    }
}

typedef struct dcase {
    const char *obj, *name; /* the attribute */
    int64_t value;          /* its damaged value */
    int state;              /* 1: part of the state, so --resume reads it too */
    int dbl;                /* 1: a floating-point attribute, given dvalue */
    double dvalue;
    int64_t elem;           /* >= 0: entry elem of the dataset name, given dvalue */
} dcase;

/* The damaged value, for messages. */
static const char *val_str(const dcase *d, char *buf, size_t n)
{
    if (d->dbl)
        snprintf(buf, n, "%g", d->dvalue);
    else
        snprintf(buf, n, "%lld", (long long)d->value);
    return buf;
}

/* Restores (and with state, resumes) the damaged copy: refused, with a
 * message that says so and names the attribute; the context goes on. */
static void expect_damaged(const dcase *d)
{
    char ck[600], out[600], want[128], vs[32];
    pathf(ck, sizeof ck, "damaged.ck.h5");
    pathf(out, sizeof out, "damaged.out.h5");
    char at[32] = "";
    if (d->elem >= 0)
        snprintf(at, sizeof at, "[%lld]", (long long)d->elem + 1);
    snprintf(want, sizeof want, "(%s%s%s%s is ", d->obj[1] ? d->obj + 1 : "",
             d->obj[1] ? "/" : "", d->name, at);
    int ok = damage(ck, d->obj, d->name, d->elem, d->dbl ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64,
                    d->dbl ? (const void *)&d->dvalue : (const void *)&d->value) == 0;
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  cannot damage %s %s\n", d->obj, d->name);
        return;
    }
    nk_net *r = nk_restore(ctx, ck, out);
    const char *msg = nk_errmsg(ctx);
    int refused = r == NULL && strstr(msg, "damaged") && strstr(msg, want);
    CHECK(refused);
    if (!refused)
        fprintf(stderr, "  restore with %s %s = %s: %s (%s)\n", d->obj, d->name,
                val_str(d, vs, sizeof vs), r ? "accepted" : "refused", r ? "" : msg);
    if (r)
        nk_net_free(r);
    if (!d->state)
        return;
    /* --resume: the script's network, continuing the results file (as it
     * was written, without what an earlier case's run left) */
    char part[620];
    snprintf(part, sizeof part, "%s.part", out);
    remove(part);
    CHECK(copy_file(base_out, out) == 0);
    nk_net *net = make_net(out);
    CHECK(net != NULL);
    if (!net)
        return;
    int rc = nk_checkpoint_apply(net, ck);
    msg = nk_errmsg(ctx);
    refused = rc != 0 && strstr(msg, "damaged") && strstr(msg, want);
    CHECK(refused);
    CHECK_EQ_INT(nk_net_step(net), 0); /* refused before any of the state was loaded */
    if (!refused) {
        fprintf(stderr, "  resume with %s %s = %s: %s (%s)\n", d->obj, d->name,
                val_str(d, vs, sizeof vs), rc ? "refused" : "accepted", rc ? msg : "");
        /* what --resume does next, where a damaged value would be used
         * (0 ms: the results file is opened, cut back and written to) */
        if (!rc)
            nk_run(net, 0, NULL);
    }
    nk_net_free(net);
}

/* One case in a child process, so that a damaged value that crashes (or
 * that a sanitizer reports, or that leaks at exit) fails that case and the
 * others still run. */
static void run_case(const dcase *d)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int before = check_failures_;
        expect_damaged(d);
        nk_ctx_free(ctx);
        H5close();
        exit(check_failures_ > before ? 1 : 0);
    }
    int st = 0;
    char vs[32];
    int ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  case %s %s = %s failed (%s %d)\n", d->obj, d->name,
                val_str(d, vs, sizeof vs), WIFSIGNALED(st) ? "signal" : "exit status",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* An integer attribute's damaged value (state: 1 when --resume reads it
 * too), or a floating-point one's. */
#define I(obj, name, v, state) {obj, name, v, state, 0, 0, -1}
#define D(obj, name, v) {obj, name, 0, 0, 1, v, -1}
/* entry k (0-based) of a dataset of doubles or floats */
#define E(obj, name, k, v) {obj, name, 0, 0, 1, v, k}

static void test_damaged(void)
{
    const int64_t big = INT64_MAX, two31 = (int64_t)1 << 31, two32 = (int64_t)1 << 32;
    const dcase cases[] = {
        /* the step: slots step + d of the ring; step * dt */
        I("/", "step", -1, 1),
        I("/", "step", big, 1),
        I("/", "step", ((int64_t)1 << 62) + 1, 1),
        /* ring slots: at most what the network's delays need */
        I("/", "ring_len", -1, 1),
        I("/", "ring_len", 0, 1),
        I("/", "ring_len", 1000, 1),
        /* counts of groups */
        I("/", "npops", -1, 1),
        I("/", "nmons", big, 1),
        I("/", "nprojs", two32, 1),
        /* spikes in the results file: at most those recorded */
        I("/pop0", "nwritten", -1, 1),
        I("/pop0", "nwritten", -2, 1),
        I("/pop0", "nrx", -1, 0),
        /* monitors' records: rows as many as 'data' holds */
        I("/mon1", "rows", -1, 1),
        I("/mon1", "rows", two31, 1),
        I("/mon1", "rows", big, 1),
        I("/mon2", "rows", -1, 1),
        I("/mon1", "rows_out", -1, 1),
        I("/mon1", "start_step", -1, 1),
        I("/mon1", "start_step", big, 1),
        I("/mon2", "bin_count", -1, 1),
        I("/mon2", "bin_count", big, 1),
        /* monitors' descriptions */
        I("/mon1", "lo", big, 0),
        I("/mon1", "lo", -1, 0),
        I("/mon1", "hi", big, 0),
        I("/mon1", "pop", two32, 0),
        I("/mon1", "every", 0, 0),
        I("/mon1", "every", two32 + 1, 0),
        I("/mon2", "bin_steps", two32 + 10, 0),
        /* projections: nsyn sizes four arrays */
        I("/proj0", "nsyn", big, 0),
        I("/proj0", "nsyn", -1, 0),
        I("/proj0", "nsyn", two31, 0),
        I("/proj0", "pre_pop", two32, 0),
        I("/proj0", "post_pop", two32 + 1, 0),
        I("/proj0", "pre_hi", big, 0),
        I("/proj0", "post_lo", -1, 0),
        I("/proj0", "post_hi", 1000, 0),
        I("/proj0", "rx", two32, 0),
        I("/proj0", "max_delay", two32 + 20, 0),
        I("/proj0", "max_delay", 0, 0),
        /* sources: rows x cols of an array source */
        I("/src1", "rows", two31, 0),
        I("/src1", "rows", big, 0),
        I("/src1", "rows", -1, 0),
        I("/src1", "cols", two31, 0),
        I("/src1", "cols", big, 0),
        I("/src1", "cols", -1, 0),
        I("/src2", "every", 0, 0),
        I("/src2", "every", two32 + 2, 0),
        I("/src1", "hold", 2, 0),
        I("/src0", "nparts", big, 0),
        I("/src0", "kind", two32 + 9, 0),
        /* start and interval become steps */
        D("/src2", "start", -INFINITY),
        D("/src2", "start", NAN),
        D("/src0", "stop", -1),
        D("/src1", "interval", INFINITY),
        /* what net:source refuses: a weight past 1e6 (once converted to
         * fixed point unchecked), a rate that is not a finite number >= 0
         * or whose count a step cannot hold (once restored and run) */
        D("/src0", "weight", 1e18),
        D("/src0", "weight", NAN),
        D("/src0", "rate", INFINITY),
        D("/src0", "rate", NAN),
        D("/src0", "rate", -1),
        D("/src0", "rate", 1e20),
        /* rk45's tolerances, as net:population checks them */
        D("/pop0", "rtol", NAN),
        D("/pop1", "atol", -1e300),
        D("/pop0", "rtol", 1e-20),
        /* weights and a step source's times become fixed point and steps */
        E("/proj0", "w", 0, NAN),
        E("/proj1", "w", 3, -INFINITY),
        E("/src3", "times", 1, NAN),
        E("/src3", "times", 1, -1e300),
        E("/src3", "times", 1, 0.5), /* before times[1] */
        E("/src3", "amps", 0, INFINITY),
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        run_case(&cases[k]);
    /* one more spike than were recorded: the next write would hand over a
     * negative count (--resume then its first run) */
    run_case(&(dcase)I("/pop0", "nwritten", base_nrec + 1, 1));
    run_case(&(dcase)I("/mon1", "rows_out", base_rows + 1, 1));
    run_case(&(dcase)I("/mon1", "start_step", base_step + 1, 1));
}

/* A value a source does not use is not looked at: a step source's weight of
 * 1e18 (restored, it was converted to fixed point, past the range of an
 * int64: undefined behaviour, which the sanitized build stops at) */
static void test_unused_field(void)
{
    char ck[600], out[600];
    pathf(ck, sizeof ck, "damaged.ck.h5");
    pathf(out, sizeof out, "unused.out.h5");
    const double w = 1e18;
    CHECK(damage(ck, "/src3", "weight", -1, H5T_NATIVE_DOUBLE, &w) == 0);
    nk_net *r = nk_restore(ctx, ck, out);
    CHECK(r != NULL);
    if (!r) {
        fprintf(stderr, "  restore with /src3 weight = 1e18: %s\n", nk_errmsg(ctx));
        return;
    }
    nk_net_free(r);
}

/* An attribute taken out of the checkpoint: refused, naming it (the
 * message once said "a source's description is missing", naming none). */
static void test_missing(void)
{
    static const char *const gone[][2] = {
        {"/src0", "rate"}, {"/src1", "cols"}, {"/mon1", "every"}, {"/proj0", "nsyn"},
        {"/pop1", "model"}, {"/pop0", "nrx"},
    };
    char ck[600], out[600], want[128];
    pathf(ck, sizeof ck, "missing.ck.h5");
    pathf(out, sizeof out, "missing.out.h5");
    for (size_t k = 0; k < sizeof gone / sizeof *gone; k++) {
        CHECK(copy_file(base_ck, ck) == 0);
        hid_t f = H5Fopen(ck, H5F_ACC_RDWR, H5P_DEFAULT);
        int gone_ok = f >= 0 && H5Adelete_by_name(f, gone[k][0], gone[k][1], H5P_DEFAULT) >= 0;
        if (f >= 0)
            gone_ok = H5Fclose(f) >= 0 && gone_ok;
        CHECK(gone_ok);
        nk_net *r = nk_restore(ctx, ck, out);
        snprintf(want, sizeof want, "is damaged (%s/%s is missing or does not read back)",
                 gone[k][0] + 1, gone[k][1]);
        int refused = r == NULL && strstr(nk_errmsg(ctx), want);
        CHECK(refused);
        if (!refused)
            fprintf(stderr, "  restore without %s %s: %s (%s)\n", gone[k][0], gone[k][1],
                    r ? "accepted" : "refused", r ? "" : nk_errmsg(ctx));
        if (r)
            nk_net_free(r);
    }
}

/* Restores ck without an output into the file it names (run.h5, set up
 * from base_out by the caller): refused with a message holding want, the
 * file unchanged (compared with the copy at keep). */
static void expect_file_refused(const char *ck, const char *run, const char *keep,
                                const char *want)
{
    nk_net *r = nk_restore(ctx, ck, NULL);
    const char *msg = nk_errmsg(ctx);
    int refused = r == NULL && strstr(msg, want) && strstr(msg, "so it is left as it is");
    CHECK(refused);
    if (!refused)
        fprintf(stderr, "  restore of %s: %s (%s), expected a refusal saying '%s'\n", ck,
                r ? "accepted" : "refused", r ? "" : msg, want);
    if (r) {
        nk_source_set_fn(r, 2, cb_one, NULL, NULL);
        nk_run(r, 5, NULL);
        nk_net_free(r);
    }
    CHECK(same_bytes(run, keep));
}

/* The run id: the checkpoint's must be the results file's. */
static void test_run_id(void)
{
    char run[600], keep[600], ck[600];
    pathf(run, sizeof run, "run.h5"); /* the output base_ck names */
    pathf(keep, sizeof keep, "keep.h5");
    pathf(ck, sizeof ck, "runid.ck.h5");
    char part[620];
    snprintf(part, sizeof part, "%s.part", run);

    /* a file of another run */
    CHECK(copy_file(base_out, run) == 0);
    CHECK(set_root_str(run, "run_id", "0123456789abcdef0123456789abcdef") == 0);
    CHECK(copy_file(run, keep) == 0);
    expect_file_refused(base_ck, run, keep,
                        "was written by another run (its run_id is "
                        "0123456789abcdef0123456789abcdef, the checkpoint's ");
    /* ... and --resume into it: the state loads, the run refuses */
    nk_net *net = make_net(run);
    CHECK(net != NULL);
    if (net) {
        CHECK(nk_checkpoint_apply(net, base_ck) == 0);
        CHECK(nk_run(net, 5, NULL) != 0);
        const char *msg = nk_errmsg(ctx);
        int said = strstr(msg, "was written by another run") &&
                   strstr(msg, "or give the network another output") != NULL;
        CHECK(said);
        if (!said)
            fprintf(stderr, "  --resume into another run's file: %s\n", msg);
        CHECK_EQ_INT(nk_net_step(net), base_step);
        nk_net_free(net);
    }
    CHECK(same_bytes(run, keep));
    CHECK(access(part, F_OK) != 0);

    /* a file without a run id (an older nkshell's, another program's) */
    CHECK(copy_file(base_out, run) == 0);
    CHECK(set_root_str(run, "run_id", NULL) == 0);
    CHECK(copy_file(run, keep) == 0);
    expect_file_refused(base_ck, run, keep, "has no run_id");

    /* a checkpoint older than run ids, into a file that has one */
    CHECK(copy_file(base_ck, ck) == 0);
    CHECK(set_root_str(ck, "run_id", NULL) == 0);
    CHECK(copy_file(base_out, run) == 0);
    CHECK(copy_file(run, keep) == 0);
    expect_file_refused(ck, run, keep, "the checkpoint is older than run ids");

    /* ... into a file without one: as before run ids, continued, and the
     * file stays without one (so the checkpoint continues it again) */
    CHECK(set_root_str(run, "run_id", NULL) == 0);
    nk_net *r = nk_restore(ctx, ck, NULL);
    CHECK(r != NULL);
    if (r) {
        CHECK(nk_source_set_fn(r, 2, cb_one, NULL, NULL) == 0);
        CHECK(nk_run(r, 5, NULL) == 0);
        CHECK_EQ_INT(nk_net_step(r), base_step + 50);
        nk_net_free(r);
    } else {
        fprintf(stderr, "  restore of a checkpoint older than run ids: %s\n", nk_errmsg(ctx));
    }
    hid_t f = H5Fopen(run, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0 && H5Aexists(f, "run_id") == 0);
    if (f >= 0)
        H5Fclose(f);
    r = nk_restore(ctx, ck, NULL);
    CHECK(r != NULL);
    if (r)
        nk_net_free(r);

    /* a damaged run id */
    CHECK(copy_file(base_ck, ck) == 0);
    CHECK(set_root_str(ck, "run_id", "../etc") == 0);
    r = nk_restore(ctx, ck, NULL);
    CHECK(r == NULL && strstr(nk_errmsg(ctx), "is damaged (run_id is not 32 hexadecimal digits)"));
    if (r)
        nk_net_free(r);
}

int main(void)
{
    const char *tbase = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_ckdamage.XXXXXX", tbase && tbase[0] ? tbase : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }
    ctx = nk_ctx_new();
    CHECK(ctx != NULL);
    if (ctx) {
        test_base();
        if (base_nrec > 0)
            test_damaged();
        if (base_nrec > 0)
            test_unused_field();
        if (base_nrec > 0)
            test_missing();
        test_run_id();
        nk_ctx_free(ctx);
    }
    if (getenv("KEEP_CKDAMAGE_TMP"))
        printf("kept %s\n", tmpdir);
    else
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    H5close();
    return check_finish("ckdamage");
}
