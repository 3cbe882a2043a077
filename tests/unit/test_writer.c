/* test_writer.c - unit test of the writer thread (engine/src/writer.c).
 *
 * Queues spikes and rows from this (the producer) thread, flushes, syncs
 * and finishes, then reads the file back with the HDF5 C API and checks
 * that it holds exactly what was queued, in order. Also: a SWMR reader
 * (this program re-executed with --swmr-reader) sees the data after a
 * flush + sync while the writer runs; back-pressure with a tiny limit;
 * argument errors; a real write failure (a child process, re-executed
 * with --fsize-child, under a small RLIMIT_FSIZE, so write() fails with
 * EFBIG as it would with ENOSPC on a full disk); a really full disk (a
 * child, --enospc-child, in its own mount namespace with a 2 MiB tmpfs;
 * skipped where that is not permitted, e.g. not root); another h5out
 * handle used by this thread while the writer thread writes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "writer.h"

#include "check.h"

#include <errno.h>
#include <ftw.h>
#include <hdf5.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char tmpdir[512];
static char self_exe[4096];

/* ---- helpers ----------------------------------------------------------- */

static void pathf(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

/* Runs this program with the given arguments; returns its exit status or
 * -1 when it did not exit normally. */
static int run_self(const char *a1, const char *a2, const char *a3)
{
    char *argv[] = {self_exe, (char *)a1, (char *)a2, (char *)a3, NULL};
    pid_t pid;
    if (posix_spawn(&pid, self_exe, NULL, NULL, argv, environ) != 0)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Spike k: t = k * 0.125 ms, node k % 977. Row r, column c: r * 10 + c +
 * 0.25 (exact in float32 for the sizes used here). */
static double tval(size_t k) { return (double)k * 0.125; }
static uint64_t idval(size_t k) { return (uint64_t)(k % 977); }
static double rval(size_t r, size_t c) { return (double)r * 10.0 + (double)c + 0.25; }

/* Queues spikes [first, first + n) for idx; returns the call's rc. */
static int q_spikes(nk_writer *w, int idx, size_t first, size_t n)
{
    double *t = n ? malloc(n * sizeof *t) : NULL;
    uint64_t *id = n ? malloc(n * sizeof *id) : NULL;
    for (size_t i = 0; i < n; i++) {
        t[i] = tval(first + i);
        id[i] = idval(first + i);
    }
    return nk_writer_spikes(w, idx, t, id, n);
}

/* Queues rows [first, first + n) of WIDTH columns for idx. */
static int q_rows(nk_writer *w, int idx, size_t width, size_t first, size_t n)
{
    double *v = n ? malloc(n * width * sizeof *v) : NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < width; c++)
            v[i * width + c] = rval(first + i, c);
    return nk_writer_rows(w, idx, v, n);
}

/* Reads the 1-D or 2-D dataset PATH of FID as doubles; returns its rows
 * (or -1) and sets *cols (0 for 1-D) and *vals (caller frees). */
static long long read_ds(hid_t fid, const char *path, size_t *cols, double **vals)
{
    *vals = NULL;
    *cols = 0;
    hid_t d = H5Dopen2(fid, path, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t s = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_ndims(s);
    H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    *cols = rank == 2 ? (size_t)dims[1] : 0;
    size_t nv = (size_t)dims[0] * (rank == 2 ? (size_t)dims[1] : 1);
    *vals = malloc((nv ? nv : 1) * sizeof **vals);
    long long n = (long long)dims[0];
    if (nv && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *vals) < 0)
        n = -1;
    H5Dclose(d);
    return n;
}

/* Checks that dataset PATH holds rows [0, n) of WIDTH columns (0: 1-D). */
static void check_rows(hid_t fid, const char *path, size_t width, long long n)
{
    size_t cols;
    double *v;
    long long got = read_ds(fid, path, &cols, &v);
    CHECK_EQ_INT(got, n);
    CHECK_EQ_INT(cols, width);
    size_t w = width ? width : 1, bad = 0;
    if (got == n && cols == width)
        for (long long r = 0; r < n; r++)
            for (size_t c = 0; c < w; c++)
                bad += v[(size_t)r * w + c] != rval((size_t)r, c);
    CHECK_EQ_INT(bad, 0);
    free(v);
}

/* Checks that /spikes/POP holds spikes [0, n). */
static void check_spikes(hid_t fid, const char *pop, long long n)
{
    char name[256];
    size_t cols;
    double *t, *id;
    snprintf(name, sizeof name, "/spikes/%s/timestamps", pop);
    long long nt = read_ds(fid, name, &cols, &t);
    snprintf(name, sizeof name, "/spikes/%s/node_ids", pop);
    long long ni = read_ds(fid, name, &cols, &id);
    CHECK_EQ_INT(nt, n);
    CHECK_EQ_INT(ni, n);
    size_t bad = 0;
    if (nt == n && ni == n)
        for (long long k = 0; k < n; k++)
            bad += t[k] != tval((size_t)k) || id[k] != (double)idval((size_t)k);
    CHECK_EQ_INT(bad, 0);
    free(t);
    free(id);
}

#define RCOLS 3

/* Opens PATH fresh with population "pop" (spike index 0), report
 * /report/r of RCOLS columns (table 0) and 1-D float64 table /t1 (table
 * 1), and begins writing. NULL on failure. */
static nk_h5out *make_file(const char *path)
{
    char err[512];
    nk_h5out *h = nk_h5out_open(path, 0, err, sizeof err);
    uint64_t nodes[RCOLS] = {0, 1, 2};
    if (!h || nk_h5out_spikes(h, "pop", NK_H5_SORT_BY_TIME, err, sizeof err) != 0 ||
        nk_h5out_report(h, "/report/r", nodes, RCOLS, NULL, NULL, RCOLS, 0.0, 0.1, "mV", "v", err, sizeof err) !=
            0 ||
        nk_h5out_table(h, "/t1", 0, 1, "Hz", err, sizeof err) != 1 || nk_h5out_begin(h, err, sizeof err) != 0) {
        fprintf(stderr, "make_file %s: %s\n", path, err);
        nk_h5out_close(h, 0, NULL, 0);
        return NULL;
    }
    return h;
}

/* ---- child modes ------------------------------------------------------- */

/* SWMR reader: /report/r/data of PART has exactly N rows of the sequence. */
static int reader_main(const char *part, long long n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fid = H5Fopen(part, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (fid < 0)
        return 2;
    check_rows(fid, "/report/r/data", RCOLS, n);
    H5Fclose(fid);
    H5close();
    return check_failures_ ? 3 : 0;
}

/* Disk-full stand-in: under RLIMIT_FSIZE of 1 MiB, queue far more than
 * that; the writer must fail with a message naming the file and the
 * reason, drop the rest, and leave PATH.part at finish. Exits (without
 * leak checks: HDF5 may keep memory after a failed write) with 0 when
 * every check passed. */
static int fsize_main(const char *path)
{
    char part[1100];
    snprintf(part, sizeof part, "%s.part", path);
    nk_h5out *h = make_file(path);
    if (!h)
        _exit(2);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {1 << 20, 1 << 20};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        _exit(2);
    char err[1024] = "";
    nk_writer *w = nk_writer_start(h, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        _exit(2);
    int rc = 0;
    size_t r = 0;
    for (int i = 0; i < 20000 && rc == 0; i++) {
        rc = q_rows(w, 0, RCOLS, r, 100);
        r += 100;
        if (i % 50 == 49 && rc == 0)
            rc = nk_writer_flush(w);
    }
    if (rc == 0)
        rc = nk_writer_sync(w, err, sizeof err);
    CHECK_EQ_INT(rc, NK_H5OUT_EIO);
    err[0] = '\0';
    CHECK_EQ_INT(nk_writer_error(w, err, sizeof err), NK_H5OUT_EIO);
    CHECK(strstr(err, part) != NULL);
    CHECK(strstr(err, "File too large") != NULL);
    if (!strstr(err, "File too large"))
        fprintf(stderr, "fsize child: message: %s\n", err);
    /* Later work is refused (and its arrays freed). */
    CHECK_EQ_INT(q_spikes(w, 0, 0, 10), NK_H5OUT_EIO);
    CHECK_EQ_INT(nk_writer_flush(w), NK_H5OUT_EIO);
    err[0] = '\0';
    CHECK_EQ_INT(nk_writer_finish(w, 1, err, sizeof err), NK_H5OUT_EIO);
    CHECK(strstr(err, "File too large") != NULL);
    CHECK(strstr(err, "partial results are left in") != NULL);
    CHECK(exists(part));
    CHECK(!exists(path));
    fflush(stderr);
    _exit(check_failures_ ? 3 : 0);
}

/* Copies file FROM to TO; 0 or -1. */
static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int rc = a && b ? 0 : -1;
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n)
            rc = -1;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        rc = -1;
    return rc;
}

/* A full disk: DIR gets a 2 MiB tmpfs in a private mount namespace (exit
 * 77 when that is not permitted). Rows are queued, flushed and synced
 * until the writer fails with ENOSPC; the message names the file; finish
 * leaves PATH.part, HDF5 closes cleanly (H5close here does not crash),
 * and a copy of the .part outside the tmpfs is recovered by append mode
 * with at least the rows of the last successful flush + sync. */
static int enospc_main(const char *dir, const char *copy)
{
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=2m") != 0)
        _exit(77);
    char path[1100], part[1100];
    snprintf(path, sizeof path, "%s/full.h5", dir);
    snprintf(part, sizeof part, "%s/full.h5.part", dir);
    nk_h5out *h = make_file(path);
    if (!h)
        _exit(2);
    char err[1024] = "";
    nk_writer *w = nk_writer_start(h, err, sizeof err);
    if (!w)
        _exit(2);
    size_t r = 0, durable = 0;
    int rc = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rc = q_rows(w, 0, RCOLS, r, 200);
        r += 200;
        if (rc == 0 && i % 10 == 9) {
            rc = nk_writer_flush(w);
            if (rc == 0)
                rc = nk_writer_sync(w, NULL, 0);
            if (rc == 0)
                durable = r;
        }
    }
    CHECK(rc != 0);
    err[0] = '\0';
    CHECK_EQ_INT(nk_writer_error(w, err, sizeof err), NK_H5OUT_EIO);
    CHECK(strstr(err, part) != NULL);
    CHECK(strstr(err, "No space left on device") != NULL);
    printf("full disk, as expected: %s\n", err);
    CHECK_EQ_INT(nk_writer_finish(w, 1, err, sizeof err), NK_H5OUT_EIO);
    CHECK(strstr(err, "partial results are left in") != NULL);
    CHECK(exists(part));
    CHECK(!exists(path));
    CHECK(durable > 0);
    CHECK_EQ_INT(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL), 0);

    /* Recover a copy elsewhere. */
    char cpart[1100];
    snprintf(cpart, sizeof cpart, "%s.part", copy);
    CHECK_EQ_INT(copy_file(part, cpart), 0);
    h = nk_h5out_open(copy, 1, err, sizeof err);
    CHECK(h != NULL);
    if (!h)
        fprintf(stderr, "recovering the full disk's file: %s\n", err);
    uint64_t nodes[RCOLS] = {0, 1, 2};
    int t = h ? nk_h5out_report(h, "/report/r", nodes, RCOLS, NULL, NULL, RCOLS, 0.0, 0.1, NULL, NULL, err,
                                sizeof err)
              : -1;
    CHECK_EQ_INT(t, 0);
    int64_t got = t == 0 ? nk_h5out_rows(h, t) : -1;
    CHECK(got >= (int64_t)durable);
    CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);
    hid_t fid = H5Fopen(copy, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        size_t cols;
        double *v;
        long long n = read_ds(fid, "/report/r/data", &cols, &v);
        size_t bad = 0;
        for (size_t k = 0; n >= (long long)durable && k < durable; k++)
            for (size_t c = 0; c < RCOLS; c++)
                bad += v[k * RCOLS + c] != rval(k, c);
        CHECK_EQ_INT(bad, 0);
        free(v);
        H5Fclose(fid);
    }
    H5close(); /* with a file left half-closed, HDF5 1.10 would crash here */
    fflush(stdout);
    fflush(stderr);
    _exit(check_failures_ ? 3 : 0); /* no leak check: HDF5 leaks on its error paths */
}

/* ---- tests ------------------------------------------------------------- */

#define NITER 4000

/* Many small appends, flushes now and then, a sync, a SWMR reader, another
 * h5out handle used by this thread meanwhile, and finish. */
static void test_basic(void)
{
    char err[512] = "";
    char p[1024], part[1024], p2[1024];
    pathf(p, sizeof p, "basic.h5");
    pathf(part, sizeof part, "basic.h5.part");
    pathf(p2, sizeof p2, "other.h5");
    nk_h5out *h = make_file(p);
    CHECK(h != NULL);
    if (!h)
        return;
    nk_writer *w = nk_writer_start(h, err, sizeof err);
    CHECK(w != NULL);
    if (!w) {
        fprintf(stderr, "start: %s\n", err);
        nk_h5out_close(h, 0, NULL, 0);
        return;
    }
    /* Meanwhile this thread writes another file with its own handle. */
    nk_h5out *h2 = nk_h5out_open(p2, 0, err, sizeof err);
    CHECK(h2 != NULL);
    int t2 = h2 ? nk_h5out_table(h2, "/x", 0, 1, NULL, err, sizeof err) : -1;
    CHECK_EQ_INT(t2, 0);
    CHECK_EQ_INT(nk_h5out_begin(h2, err, sizeof err), 0);

    size_t ns = 0, nr = 0, n1 = 0;
    int rc = 0;
    for (int i = 0; i < NITER; i++) {
        size_t k = (size_t)(i % 5); /* 0..4 spikes per step, 0 included */
        rc |= q_spikes(w, 0, ns, k);
        ns += k;
        rc |= q_rows(w, 0, RCOLS, nr, 1);
        nr += 1;
        if (i % 3 == 0) {
            rc |= q_rows(w, 1, 1, n1, 2);
            n1 += 2;
        }
        if (i % 500 == 499)
            rc |= nk_writer_flush(w);
        double x = (double)i;
        rc |= nk_h5out_append_rows(h2, 0, &x, 1, err, sizeof err);
        if (i == NITER / 2) {
            /* Flushed and synced: a SWMR reader sees exactly what was
             * queued so far. */
            rc |= nk_writer_flush(w);
            rc |= nk_writer_sync(w, err, sizeof err);
            char nbuf[32];
            snprintf(nbuf, sizeof nbuf, "%zu", nr);
            CHECK_EQ_INT(run_self("--swmr-reader", part, nbuf), 0);
            nk_writer_stats st;
            nk_writer_get_stats(w, &st);
            CHECK_EQ_INT(st.queued_bytes, 0);
            CHECK(st.jobs_done == st.jobs_queued);
            CHECK(st.jobs_queued > 0);
        }
    }
    CHECK_EQ_INT(rc, 0);
    /* Zero-length work is accepted and frees what it is given. */
    CHECK_EQ_INT(nk_writer_spikes(w, 0, malloc(8), malloc(8), 0), 0);
    CHECK_EQ_INT(nk_writer_rows(w, 1, malloc(8), 0), 0);
    CHECK_EQ_INT(nk_writer_rows(w, 1, NULL, 0), 0);
    CHECK_EQ_INT(nk_writer_flush(w), 0);
    CHECK_EQ_INT(nk_writer_flush(w), 0); /* coalesced or queued: both fine */
    CHECK_EQ_INT(nk_writer_sync(w, err, sizeof err), 0);
    CHECK_EQ_INT(nk_writer_error(w, err, sizeof err), 0);
    CHECK(exists(part));
    CHECK_EQ_INT(nk_writer_finish(w, 1, err, sizeof err), 0);
    CHECK(exists(p));
    CHECK(!exists(part));
    CHECK_EQ_INT(nk_h5out_close(h2, 1, err, sizeof err), 0);

    hid_t fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        check_spikes(fid, "pop", (long long)ns);
        check_rows(fid, "/report/r/data", RCOLS, (long long)nr);
        check_rows(fid, "/t1", 0, (long long)n1);
        hid_t d = H5Dopen2(fid, "/report/r/mapping/time", H5P_DEFAULT);
        double tv[3] = {0, 0, 0};
        CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) >= 0);
        H5Dclose(d);
        CHECK_NEAR(tv[1], (double)nr * 0.1, 1e-9);
        H5Fclose(fid);
    }
    fid = H5Fopen(p2, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        size_t cols;
        double *v;
        long long n = read_ds(fid, "/x", &cols, &v);
        CHECK_EQ_INT(n, NITER);
        size_t bad = 0;
        for (long long i = 0; n == NITER && i < n; i++)
            bad += v[i] != (double)i;
        CHECK_EQ_INT(bad, 0);
        free(v);
        H5Fclose(fid);
    }
}

/* A tiny limit: queuing waits for the writer, the queue never holds more
 * than the limit (or one larger piece alone), nothing is lost. */
static void test_backpressure(void)
{
    char err[512] = "";
    char p[1024];
    pathf(p, sizeof p, "bp.h5");
    nk_h5out *h = make_file(p);
    CHECK(h != NULL);
    if (!h)
        return;
    nk_writer *w = nk_writer_start(h, err, sizeof err);
    CHECK(w != NULL);
    if (!w) {
        nk_h5out_close(h, 0, NULL, 0);
        return;
    }
    const size_t limit = 1024; /* 42 one-row jobs of 3 doubles */
    nk_writer_set_limit(w, limit);
    size_t nr = 0, over = 0;
    nk_writer_stats st;
    int rc = 0;
    for (int i = 0; i < 200000 && rc == 0; i++) {
        rc = q_rows(w, 0, RCOLS, nr, 1);
        nr++;
        if (i % 1000 == 999)
            rc |= nk_writer_flush(w); /* an fsync: the writer falls behind */
        nk_writer_get_stats(w, &st);
        over += st.queued_bytes > limit;
        if (i >= 20000 && st.waits > 0)
            break;
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(over, 0);
    nk_writer_get_stats(w, &st);
    CHECK(st.waits > 0);
    CHECK(st.max_bytes <= limit);
    /* A piece larger than the limit waits for an empty queue, then goes. */
    CHECK_EQ_INT(q_rows(w, 0, RCOLS, nr, 1000), 0);
    nr += 1000;
    nk_writer_get_stats(w, &st);
    CHECK(st.max_bytes <= 1000 * RCOLS * sizeof(double));
    CHECK_EQ_INT(q_rows(w, 0, RCOLS, nr, 5), 0);
    nr += 5;
    nk_writer_set_limit(w, 0); /* no limit */
    CHECK_EQ_INT(q_rows(w, 0, RCOLS, nr, 3000), 0);
    nr += 3000;
    CHECK_EQ_INT(nk_writer_sync(w, err, sizeof err), 0);
    nk_writer_get_stats(w, &st);
    CHECK_EQ_INT(st.queued_bytes, 0);
    CHECK_EQ_INT(nk_writer_finish(w, 1, err, sizeof err), 0);
    hid_t fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        check_rows(fid, "/report/r/data", RCOLS, (long long)nr);
        H5Fclose(fid);
    }
}

/* Argument errors, a failure met by the thread, incomplete finish. */
static void test_errors(void)
{
    char err[1024] = "";
    char p[1024], part[1024];

    /* NULLs. */
    err[0] = '\0';
    CHECK(nk_writer_start(NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "no output file") != NULL);
    CHECK_EQ_INT(nk_writer_spikes(NULL, 0, malloc(8), malloc(8), 1), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_writer_rows(NULL, 0, malloc(8), 1), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_writer_flush(NULL), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_writer_sync(NULL, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_writer_error(NULL, err, sizeof err), 0);
    CHECK_EQ_INT(nk_writer_finish(NULL, 1, err, sizeof err), 0);

    /* A handle still in its setup phase is refused and stays the
     * caller's. */
    pathf(p, sizeof p, "setup.h5");
    nk_h5out *h = nk_h5out_open(p, 0, err, sizeof err);
    CHECK(h != NULL);
    err[0] = '\0';
    CHECK(nk_writer_start(h, err, sizeof err) == NULL);
    CHECK(strstr(err, "setup phase") != NULL);
    CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);
    CHECK(exists(p));

    /* A bad index fails the writer: work queued before it is written,
     * later work is refused, finish keeps PATH.part. */
    pathf(p, sizeof p, "bad.h5");
    pathf(part, sizeof part, "bad.h5.part");
    h = make_file(p);
    CHECK(h != NULL);
    nk_writer *w = h ? nk_writer_start(h, err, sizeof err) : NULL;
    CHECK(w != NULL);
    if (!w) {
        nk_h5out_close(h, 0, NULL, 0);
        return;
    }
    CHECK_EQ_INT(q_rows(w, 0, RCOLS, 0, 10), 0);
    CHECK_EQ_INT(q_spikes(w, 0, 0, 4), 0);
    CHECK_EQ_INT(q_rows(w, 2, 1, 0, 1), NK_H5OUT_EINVAL);
    err[0] = '\0';
    CHECK_EQ_INT(nk_writer_error(w, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "invalid table handle 2") != NULL);
    CHECK(strstr(err, "bad.h5.part") != NULL);
    CHECK_EQ_INT(q_rows(w, 0, RCOLS, 10, 1), NK_H5OUT_EINVAL); /* refused, freed */
    CHECK_EQ_INT(q_spikes(w, 5, 0, 1), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_writer_spikes(w, 0, NULL, NULL, 3), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_writer_flush(w), NK_H5OUT_EINVAL);
    err[0] = '\0';
    CHECK_EQ_INT(nk_writer_sync(w, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "invalid table handle 2") != NULL);
    err[0] = '\0';
    CHECK_EQ_INT(nk_writer_finish(w, 1, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "invalid table handle 2") != NULL);
    CHECK(strstr(err, "partial results are left in") && strstr(err, "bad.h5.part"));
    CHECK(exists(part));
    CHECK(!exists(p));
    hid_t fid = H5Fopen(part, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        check_rows(fid, "/report/r/data", RCOLS, 10); /* queued before the error: kept */
        check_spikes(fid, "pop", 4);
        H5Fclose(fid);
    }

    /* Spike index errors, and NULL data. */
    pathf(p, sizeof p, "bad2.h5");
    h = make_file(p);
    w = h ? nk_writer_start(h, err, sizeof err) : NULL;
    CHECK(w != NULL);
    if (w) {
        CHECK_EQ_INT(q_spikes(w, 1, 0, 2), NK_H5OUT_EINVAL);
        CHECK_EQ_INT(nk_writer_error(w, err, sizeof err), NK_H5OUT_EINVAL);
        CHECK(strstr(err, "invalid spike handle 1") != NULL);
        CHECK_EQ_INT(nk_writer_finish(w, 0, err, sizeof err), NK_H5OUT_EINVAL);
        CHECK(strstr(err, "partial results") == NULL); /* incomplete was asked for */
    }
    pathf(p, sizeof p, "bad3.h5");
    h = make_file(p);
    w = h ? nk_writer_start(h, err, sizeof err) : NULL;
    CHECK(w != NULL);
    if (w) {
        CHECK_EQ_INT(nk_writer_rows(w, 0, NULL, 2), NK_H5OUT_EINVAL);
        CHECK_EQ_INT(nk_writer_error(w, err, sizeof err), NK_H5OUT_EINVAL);
        CHECK(strstr(err, "no row data") != NULL);
        nk_writer_finish(w, 1, err, sizeof err);
    }

    /* complete=0 without a failure: PATH.part with everything queued. */
    pathf(p, sizeof p, "inc.h5");
    pathf(part, sizeof part, "inc.h5.part");
    h = make_file(p);
    w = h ? nk_writer_start(h, err, sizeof err) : NULL;
    CHECK(w != NULL);
    if (w) {
        CHECK_EQ_INT(q_rows(w, 1, 1, 0, 77), 0);
        CHECK_EQ_INT(nk_writer_finish(w, 0, err, sizeof err), 0);
    }
    CHECK(exists(part));
    CHECK(!exists(p));
    fid = H5Fopen(part, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        check_rows(fid, "/t1", 0, 77);
        H5Fclose(fid);
    }

    /* A write failure in the thread (file size limit, in a child). */
    pathf(p, sizeof p, "big.h5");
    CHECK_EQ_INT(run_self("--fsize-child", p, ""), 0);

    /* A full disk (a tmpfs in a child's mount namespace, where allowed). */
    char dir[1024], copy[1024];
    pathf(dir, sizeof dir, "small");
    pathf(copy, sizeof copy, "rescued.h5");
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    int st = run_self("--enospc-child", dir, copy);
    if (st == 77)
        printf("cannot mount a small tmpfs here (not root?): skipping the full-disk test\n");
    else
        CHECK_EQ_INT(st, 0);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--swmr-reader") == 0)
        return reader_main(argv[2], atoll(argv[3]));
    if (argc == 4 && strcmp(argv[1], "--fsize-child") == 0)
        return fsize_main(argv[2]);
    if (argc == 4 && strcmp(argv[1], "--enospc-child") == 0)
        return enospc_main(argv[2], argv[3]);

    ssize_t len = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (len <= 0) {
        fprintf(stderr, "cannot find this program's path\n");
        return 1;
    }
    self_exe[len] = '\0';
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_writer.XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }

    /* HDF5's automatic error printing stays on: any HDF5 error dump on
     * stderr means h5out failed to suppress it (in either thread). */
    test_basic();
    test_backpressure();
    test_errors();

    if (getenv("KEEP_H5OUT_TMP"))
        printf("kept %s\n", tmpdir);
    else
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    H5close();
    return check_finish("writer");
}
