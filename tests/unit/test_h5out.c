/* test_h5out.c - unit test of the HDF5 results writer (engine/src/h5out.c).
 *
 * Writes files into a fresh temporary directory (removed at the end) and
 * reads them back with the HDF5 C API: the SONATA layout and types, the
 * .part/rename protocol, append mode, recovery of a crashed .part, a SWMR
 * reader seeing flushed data while the writer is open, and error paths;
 * then the same for reports and tables (layout, types, chunk shapes,
 * attributes on objects, float32 rounding, appending across runs with
 * width / step / mapping checks, a crashed table writer, a stale time[1]),
 * plus h5dump reading the result when it is installed.
 *
 * The SWMR readers and the crashing writers run as separate processes (this
 * program re-executed with --swmr-reader / --crash-writer / --swmr-tables /
 * --crash-tables), because HDF5
 * will not open one file twice with different SWMR flags in one process. */
#define _XOPEN_SOURCE 700

#include "h5out.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hdf5.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char tmpdir[512];
static char self_exe[4096];

/* ---- helpers ----------------------------------------------------------- */

static void pathf(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

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

/* Value used for spike i: t = i * 0.25 ms, node id = i % 1000. */
static double tval(size_t i) { return (double)i * 0.25; }
static uint64_t idval(size_t i) { return (uint64_t)(i % 1000); }

/* Appends n spikes numbered from first; returns the append's rc. */
static int append_seq(nk_h5out *h, int idx, size_t first, size_t n, char *err, size_t errlen)
{
    double *t = malloc((n ? n : 1) * sizeof *t);
    uint64_t *id = malloc((n ? n : 1) * sizeof *id);
    for (size_t i = 0; i < n; i++) {
        t[i] = tval(first + i);
        id[i] = idval(first + i);
    }
    int rc = nk_h5out_append_spikes(h, idx, t, id, n, err, errlen);
    free(t);
    free(id);
    return rc;
}

/* Reads /spikes/POP's datasets of open file FID; returns their common
 * length (or -1), and checks them against the sequence: element k equals
 * sequence element seq0 + k for k < len (the caller knows the layout). */
static long long read_pop(hid_t fid, const char *pop, double **t_out, uint64_t **id_out)
{
    char name[256];
    snprintf(name, sizeof name, "/spikes/%s/timestamps", pop);
    hid_t ts = H5Dopen2(fid, name, H5P_DEFAULT);
    snprintf(name, sizeof name, "/spikes/%s/node_ids", pop);
    hid_t ids = H5Dopen2(fid, name, H5P_DEFAULT);
    if (ts < 0 || ids < 0)
        return -1;
    hid_t s1 = H5Dget_space(ts), s2 = H5Dget_space(ids);
    hsize_t n1 = 0, n2 = 0;
    H5Sget_simple_extent_dims(s1, &n1, NULL);
    H5Sget_simple_extent_dims(s2, &n2, NULL);
    H5Sclose(s1);
    H5Sclose(s2);
    long long n = n1 == n2 ? (long long)n1 : -1;
    if (n >= 0) {
        *t_out = malloc((size_t)(n ? n : 1) * sizeof **t_out);
        *id_out = malloc((size_t)(n ? n : 1) * sizeof **id_out);
        if (n > 0) {
            H5Dread(ts, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *t_out);
            H5Dread(ids, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, *id_out);
        }
    }
    H5Dclose(ts);
    H5Dclose(ids);
    return n;
}

/* Counts mismatches of t/id[k] against the sequence starting at seq0. */
static size_t mismatches(const double *t, const uint64_t *id, size_t from, size_t n, size_t seq0)
{
    size_t bad = 0;
    for (size_t k = 0; k < n; k++)
        if (t[from + k] != tval(seq0 + k) || id[from + k] != idval(seq0 + k))
            bad++;
    return bad;
}

/* Reads the scalar vlen/fixed string attribute NAME of OBJ into buf. */
static int read_str_attr(hid_t obj, const char *name, char *buf, size_t n)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t ft = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(ft));
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, n, "%s", s);
                H5free_memory(s);
                rc = 0;
            }
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(ft);
            char *s = calloc(sz + 1, 1);
            if (H5Aread(a, ft, s) >= 0) {
                snprintf(buf, n, "%s", s);
                rc = 0;
            }
            free(s);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

/* Returns 1 when attribute NAME of OBJ has a type equal to T. */
static int attr_type_is(hid_t obj, const char *name, hid_t t)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return 0;
    hid_t ft = H5Aget_type(a);
    int eq = H5Tequal(ft, t) > 0;
    H5Tclose(ft);
    H5Aclose(a);
    return eq;
}

static int read_attr(hid_t obj, const char *name, hid_t mt, void *buf)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    int rc = H5Aread(a, mt, buf) < 0 ? -1 : 0;
    H5Aclose(a);
    return rc;
}

/* Checks /spikes/POP's sorting attribute: enum over uint8 with
 * none=0, by_id=1, by_time=2 and the value WANT. */
static void check_sorting(hid_t fid, const char *pop, int want)
{
    char name[256];
    snprintf(name, sizeof name, "/spikes/%s", pop);
    hid_t g = H5Gopen2(fid, name, H5P_DEFAULT);
    CHECK(g >= 0);
    hid_t a = H5Aopen(g, "sorting", H5P_DEFAULT);
    CHECK(a >= 0);
    hid_t t = H5Aget_type(a);
    CHECK_EQ_INT(H5Tget_class(t), H5T_ENUM);
    hid_t base = H5Tget_super(t);
    CHECK(H5Tequal(base, H5T_STD_U8LE) > 0);
    H5Tclose(base);
    CHECK_EQ_INT(H5Tget_nmembers(t), 3);
    static const char *names[] = {"none", "by_id", "by_time"};
    for (unsigned i = 0; i < 3; i++) {
        char *mn = H5Tget_member_name(t, i);
        unsigned char v = 99;
        H5Tget_member_value(t, i, &v);
        CHECK(mn && strcmp(mn, names[i]) == 0);
        CHECK_EQ_INT(v, i);
        H5free_memory(mn);
    }
    hid_t sp = H5Aget_space(a);
    CHECK_EQ_INT(H5Sget_simple_extent_type(sp), H5S_SCALAR);
    H5Sclose(sp);
    unsigned char v = 99;
    CHECK(H5Aread(a, t, &v) >= 0);
    CHECK_EQ_INT(v, want);
    H5Tclose(t);
    H5Aclose(a);
    H5Gclose(g);
}

/* Checks the datasets' types, layout and units of /spikes/POP. */
static void check_dsets(hid_t fid, const char *pop)
{
    char name[256];
    snprintf(name, sizeof name, "/spikes/%s/timestamps", pop);
    hid_t ts = H5Dopen2(fid, name, H5P_DEFAULT);
    snprintf(name, sizeof name, "/spikes/%s/node_ids", pop);
    hid_t ids = H5Dopen2(fid, name, H5P_DEFAULT);
    CHECK(ts >= 0 && ids >= 0);
    hid_t t1 = H5Dget_type(ts), t2 = H5Dget_type(ids);
    CHECK(H5Tequal(t1, H5T_IEEE_F64LE) > 0);
    CHECK(H5Tequal(t2, H5T_STD_U64LE) > 0);
    H5Tclose(t1);
    H5Tclose(t2);
    hid_t d[2] = {ts, ids};
    for (int i = 0; i < 2; i++) {
        hid_t s = H5Dget_space(d[i]);
        hsize_t dim, maxd;
        CHECK_EQ_INT(H5Sget_simple_extent_ndims(s), 1);
        H5Sget_simple_extent_dims(s, &dim, &maxd);
        CHECK(maxd == H5S_UNLIMITED);
        H5Sclose(s);
        hid_t pl = H5Dget_create_plist(d[i]);
        CHECK_EQ_INT(H5Pget_layout(pl), H5D_CHUNKED);
        hsize_t chunk = 0;
        CHECK_EQ_INT(H5Pget_chunk(pl, 1, &chunk), 1);
        CHECK(chunk >= 1024);
        H5Pclose(pl);
    }
    char units[32] = "";
    CHECK_EQ_INT(read_str_attr(ts, "units", units, sizeof units), 0);
    CHECK(strcmp(units, "ms") == 0);
    H5Dclose(ts);
    H5Dclose(ids);
}

/* ---- child modes ------------------------------------------------------- */

/* SWMR reader: opens PART with H5F_ACC_SWMR_READ while its writer is still
 * running and checks /spikes/cortex holds exactly N spikes of the
 * sequence. Exit 0 when so. */
static int reader_main(const char *part, long long n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fid = H5Fopen(part, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (fid < 0) {
        fprintf(stderr, "reader: cannot open %s with SWMR_READ\n", part);
        return 2;
    }
    double *t = NULL;
    uint64_t *id = NULL;
    long long got = read_pop(fid, "cortex", &t, &id);
    int rc = 0;
    if (got != n) {
        fprintf(stderr, "reader: %lld spikes, expected %lld\n", got, n);
        rc = 3;
    } else if (mismatches(t, id, 0, (size_t)n, 0) != 0) {
        fprintf(stderr, "reader: wrong values\n");
        rc = 4;
    }
    free(t);
    free(id);
    H5Fclose(fid);
    H5close();
    return rc;
}

/* Crashing writer: writes 10 flushed spikes and NLOST unflushed ones to
 * population "p" of PATH, then exits without closing. */
static int crash_main(const char *path, size_t nlost)
{
    char err[512];
    nk_h5out *h = nk_h5out_open(path, 0, err, sizeof err);
    if (!h)
        return 2;
    if (nk_h5out_spikes(h, "p", NK_H5_SORT_BY_TIME, err, sizeof err) != 0 ||
        nk_h5out_begin(h, err, sizeof err) != 0 || append_seq(h, 0, 0, 10, err, sizeof err) != 0 ||
        nk_h5out_flush(h, err, sizeof err) != 0 || append_seq(h, 0, 10, nlost, err, sizeof err) != 0)
        return 3;
    _exit(0); /* the crash: no close, no atexit handlers */
}

/* ---- tests ------------------------------------------------------------- */

static void test_errors(void)
{
    char err[512] = "";
    char p[1024], f[1024];

    pathf(p, sizeof p, "ok.h5");
    CHECK_EQ_INT(nk_h5out_check_writable(p, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_check_writable(NULL, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_check_writable("", err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(!exists(p)); /* nothing created */

    /* Nonexistent directory. */
    pathf(p, sizeof p, "nodir/x.h5");
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_check_writable(p, err, sizeof err), NK_H5OUT_EIO);
    CHECK(strstr(err, "nodir/x.h5.part") != NULL);
    CHECK(strstr(err, "No such file or directory") != NULL);
    err[0] = '\0';
    nk_h5out *h = nk_h5out_open(p, 0, err, sizeof err);
    CHECK(h == NULL);
    CHECK(strstr(err, "nodir/x.h5.part") != NULL);
    CHECK(strstr(err, "No such file or directory") != NULL);
    h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h == NULL);

    /* Parent is a regular file. */
    pathf(f, sizeof f, "plainfile");
    FILE *fp = fopen(f, "w");
    fputs("x", fp);
    fclose(fp);
    pathf(p, sizeof p, "plainfile/x.h5");
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_check_writable(p, err, sizeof err), NK_H5OUT_EIO);
    CHECK(strstr(err, "plainfile/x.h5.part") != NULL);
    CHECK(strstr(err, "Not a directory") != NULL);
    err[0] = '\0';
    h = nk_h5out_open(p, 0, err, sizeof err);
    CHECK(h == NULL);
    CHECK(strstr(err, "plainfile/x.h5.part") != NULL);

    /* Output path is a directory. */
    CHECK_EQ_INT(nk_h5out_check_writable(tmpdir, err, sizeof err), NK_H5OUT_EIO);

    /* Appending to something that is not HDF5 fails and leaves it as is. */
    pathf(p, sizeof p, "plainfile");
    err[0] = '\0';
    h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h == NULL);
    CHECK(strstr(err, "not an HDF5 file") != NULL);
    CHECK(exists(p));
    pathf(f, sizeof f, "plainfile.part");
    CHECK(!exists(f));
    remove(p);

    /* NULL handle. */
    CHECK_EQ_INT(nk_h5out_close(NULL, 1, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_append_spikes(NULL, 0, NULL, NULL, 0, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_flush(NULL, err, sizeof err), NK_H5OUT_EINVAL);
}

#define N1 3
#define N2 70000  /* fills the write buffer (64 Ki) through the copy path */
#define N3 140000 /* on an empty buffer: two buffers' worth written directly */

static void test_write_and_read(void)
{
    char err[512] = "";
    char p[1024], part[1024];
    pathf(p, sizeof p, "run.h5");
    pathf(part, sizeof part, "run.h5.part");

    nk_h5out *h = nk_h5out_open(p, 0, err, sizeof err);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    CHECK(exists(part));
    CHECK(!exists(p));

    /* A second writer on the same file is refused, in both modes, and does
     * not disturb the first. */
    err[0] = '\0';
    CHECK(nk_h5out_open(p, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "being written") != NULL);
    err[0] = '\0';
    CHECK(nk_h5out_open(p, 1, err, sizeof err) == NULL);
    CHECK(strstr(err, "being written") != NULL);
    CHECK(exists(part));

    CHECK_EQ_INT(nk_h5out_spikes(h, "cortex", NK_H5_SORT_BY_TIME, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_spikes(h, "thalamus", NK_H5_SORT_NONE, err, sizeof err), 1);
    CHECK_EQ_INT(nk_h5out_spikes(h, "thalamus", NK_H5_SORT_BY_ID, err, sizeof err), 1);
    CHECK_EQ_INT(nk_h5out_spikes(h, "bad/name", 0, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_spikes(h, "", 0, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_spikes(h, "x", 7, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_attr_str(h, "nkshell_version", "0.1.0", err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_attr_u64(h, "seed", 12345678901234ULL, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_attr_double(h, "dt", 0.025, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_attr_str(h, "backend", "cpu", err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_attr_str(h, "models", "lif,izh", err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_attr_str(h, "script", "net = nk.network()\n-- ü\n", err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_attr_str(h, "backend", "cpu-simd", err, sizeof err), 0); /* overwrite */
    CHECK_EQ_INT(nk_h5out_attr_str(h, "magic", "x", err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_attr_str(h, "x", NULL, err, sizeof err), NK_H5OUT_EINVAL);

    /* Append before begin is refused. */
    CHECK_EQ_INT(append_seq(h, 0, 0, 1, err, sizeof err), NK_H5OUT_EINVAL);

    CHECK_EQ_INT(nk_h5out_begin(h, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_begin(h, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_spikes(h, "late", 0, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_attr_double(h, "late", 1.0, err, sizeof err), NK_H5OUT_EINVAL);

    /* Invalid indices / data. */
    err[0] = '\0';
    CHECK_EQ_INT(append_seq(h, 2, 0, 1, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "invalid spike handle") != NULL);
    CHECK_EQ_INT(append_seq(h, -1, 0, 1, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_append_spikes(h, 0, NULL, NULL, 5, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_append_spikes(h, 0, NULL, NULL, 0, err, sizeof err), 0);

    /* Two appends to cortex, one to thalamus. */
    CHECK_EQ_INT(append_seq(h, 0, 0, N1, err, sizeof err), 0);
    CHECK_EQ_INT(append_seq(h, 0, N1, N2, err, sizeof err), 0);
    CHECK_EQ_INT(append_seq(h, 1, 500, 4, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_flush(h, err, sizeof err), 0);

    /* A SWMR reader in another process sees the flushed data now. */
    char nbuf[32];
    snprintf(nbuf, sizeof nbuf, "%d", N1 + N2);
    CHECK_EQ_INT(run_self("--swmr-reader", part, nbuf), 0);

    /* More data, flushed again: the reader sees the growth. */
    CHECK_EQ_INT(append_seq(h, 0, N1 + N2, N3, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_flush(h, err, sizeof err), 0);
    snprintf(nbuf, sizeof nbuf, "%d", N1 + N2 + N3);
    CHECK_EQ_INT(run_self("--swmr-reader", part, nbuf), 0);

    CHECK(exists(part));
    CHECK(!exists(p));
    CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);
    CHECK(exists(p));
    CHECK(!exists(part));

    /* Read back. */
    hid_t fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid < 0)
        return;
    CHECK(attr_type_is(fid, "magic", H5T_STD_U32LE));
    uint32_t magic = 0, version[2] = {9, 9};
    CHECK_EQ_INT(read_attr(fid, "magic", H5T_NATIVE_UINT32, &magic), 0);
    CHECK_EQ_INT(magic, 0x0A7A);
    CHECK(attr_type_is(fid, "version", H5T_STD_U32LE));
    hid_t va = H5Aopen(fid, "version", H5P_DEFAULT);
    hid_t vs = H5Aget_space(va);
    hsize_t vdim = 0;
    CHECK_EQ_INT(H5Sget_simple_extent_ndims(vs), 1);
    H5Sget_simple_extent_dims(vs, &vdim, NULL);
    CHECK_EQ_INT(vdim, 2);
    H5Sclose(vs);
    H5Aclose(va);
    CHECK_EQ_INT(read_attr(fid, "version", H5T_NATIVE_UINT32, version), 0);
    CHECK_EQ_INT(version[0], 0);
    CHECK_EQ_INT(version[1], 1);

    char s[256] = "";
    CHECK_EQ_INT(read_str_attr(fid, "nkshell_version", s, sizeof s), 0);
    CHECK(strcmp(s, "0.1.0") == 0);
    CHECK_EQ_INT(read_str_attr(fid, "backend", s, sizeof s), 0);
    CHECK(strcmp(s, "cpu-simd") == 0);
    CHECK_EQ_INT(read_str_attr(fid, "script", s, sizeof s), 0);
    CHECK(strcmp(s, "net = nk.network()\n-- ü\n") == 0);
    CHECK_EQ_INT(read_str_attr(fid, "models", s, sizeof s), 0);
    CHECK(strcmp(s, "lif,izh") == 0);
    CHECK(attr_type_is(fid, "seed", H5T_STD_U64LE));
    CHECK(attr_type_is(fid, "dt", H5T_IEEE_F64LE));
    uint64_t seed = 0;
    double dt = 0;
    read_attr(fid, "seed", H5T_NATIVE_UINT64, &seed);
    read_attr(fid, "dt", H5T_NATIVE_DOUBLE, &dt);
    CHECK(seed == 12345678901234ULL);
    CHECK_NEAR(dt, 0.025, 0);

    check_sorting(fid, "cortex", NK_H5_SORT_BY_TIME);
    check_sorting(fid, "thalamus", NK_H5_SORT_BY_ID);
    check_dsets(fid, "cortex");
    check_dsets(fid, "thalamus");

    double *t = NULL;
    uint64_t *id = NULL;
    long long n = read_pop(fid, "cortex", &t, &id);
    CHECK_EQ_INT(n, N1 + N2 + N3);
    if (n == N1 + N2 + N3)
        CHECK_EQ_INT(mismatches(t, id, 0, (size_t)n, 0), 0);
    free(t);
    free(id);
    n = read_pop(fid, "thalamus", &t, &id);
    CHECK_EQ_INT(n, 4);
    if (n == 4)
        CHECK_EQ_INT(mismatches(t, id, 0, 4, 500), 0);
    free(t);
    free(id);
    H5Fclose(fid);
}

/* Second run on run.h5 with append=1. */
static void test_append(void)
{
    char err[512] = "";
    char p[1024], part[1024];
    pathf(p, sizeof p, "run.h5");
    pathf(part, sizeof part, "run.h5.part");

    nk_h5out *h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "append open: %s\n", err);
        return;
    }
    CHECK(exists(part));
    CHECK(!exists(p));
    CHECK_EQ_INT(nk_h5out_spikes(h, "new", NK_H5_SORT_NONE, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_spikes(h, "cortex", NK_H5_SORT_NONE, err, sizeof err), 1);
    CHECK_EQ_INT(nk_h5out_attr_u64(h, "seed", 7, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_attr_double(h, "backend", 2.5, err, sizeof err), 0); /* type change */
    CHECK_EQ_INT(nk_h5out_attr_str(h, "run2", "yes", err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_begin(h, err, sizeof err), 0);
    CHECK_EQ_INT(append_seq(h, 1, N1 + N2 + N3, 5, err, sizeof err), 0);
    CHECK_EQ_INT(append_seq(h, 0, 900, 2, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);
    CHECK(exists(p));
    CHECK(!exists(part));

    hid_t fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid < 0)
        return;
    double *t = NULL;
    uint64_t *id = NULL;
    long long n = read_pop(fid, "cortex", &t, &id);
    CHECK_EQ_INT(n, N1 + N2 + N3 + 5);
    if (n == N1 + N2 + N3 + 5)
        CHECK_EQ_INT(mismatches(t, id, 0, (size_t)n, 0), 0); /* old data kept, new after it */
    free(t);
    free(id);
    n = read_pop(fid, "thalamus", &t, &id); /* untouched population kept */
    CHECK_EQ_INT(n, 4);
    if (n == 4)
        CHECK_EQ_INT(mismatches(t, id, 0, 4, 500), 0);
    free(t);
    free(id);
    n = read_pop(fid, "new", &t, &id);
    CHECK_EQ_INT(n, 2);
    if (n == 2)
        CHECK_EQ_INT(mismatches(t, id, 0, 2, 900), 0);
    free(t);
    free(id);
    check_sorting(fid, "cortex", NK_H5_SORT_NONE);
    check_sorting(fid, "thalamus", NK_H5_SORT_BY_ID);
    check_sorting(fid, "new", NK_H5_SORT_NONE);
    check_dsets(fid, "new");
    uint64_t seed = 0;
    double b = 0;
    read_attr(fid, "seed", H5T_NATIVE_UINT64, &seed);
    CHECK(seed == 7);
    CHECK(attr_type_is(fid, "backend", H5T_IEEE_F64LE));
    read_attr(fid, "backend", H5T_NATIVE_DOUBLE, &b);
    CHECK_NEAR(b, 2.5, 0);
    char s[64] = "";
    CHECK_EQ_INT(read_str_attr(fid, "nkshell_version", s, sizeof s), 0); /* old metadata kept */
    CHECK(strcmp(s, "0.1.0") == 0);
    H5Fclose(fid);
}

/* A crashed writer leaves PATH.part; append=1 recovers it. */
static void test_crash_recovery(void)
{
    char err[512] = "";
    char p[1024], part[1024];
    pathf(p, sizeof p, "crash.h5");
    pathf(part, sizeof part, "crash.h5.part");

    CHECK_EQ_INT(run_self("--crash-writer", p, "5"), 0);
    CHECK(exists(part));
    CHECK(!exists(p));

    /* Plain HDF5 refuses the file (still marked open for SWMR write). */
    hid_t fid = H5I_INVALID_HID;
    H5E_BEGIN_TRY { fid = H5Fopen(part, H5F_ACC_RDWR, H5P_DEFAULT); } H5E_END_TRY;
    CHECK(fid < 0);
    if (fid >= 0)
        H5Fclose(fid);

    nk_h5out *h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "recover open: %s\n", err);
        return;
    }
    CHECK_EQ_INT(nk_h5out_spikes(h, "p", NK_H5_SORT_BY_TIME, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_begin(h, err, sizeof err), 0);
    CHECK_EQ_INT(append_seq(h, 0, 10, 1, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);
    CHECK(exists(p));
    CHECK(!exists(part));

    fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid < 0)
        return;
    double *t = NULL;
    uint64_t *id = NULL;
    long long n = read_pop(fid, "p", &t, &id);
    /* The 10 flushed spikes survive; the 5 unflushed ones were lost in
     * the crash (they were only buffered); then 1 more. */
    CHECK_EQ_INT(n, 11);
    if (n == 11)
        CHECK_EQ_INT(mismatches(t, id, 0, 11, 0), 0);
    free(t);
    free(id);
    H5Fclose(fid);
}

/* complete=0 leaves PATH.part; with both PATH and PATH.part present,
 * append=1 refuses. */
static void test_incomplete_and_ambiguous(void)
{
    char err[512] = "";
    char p[1024], part[1024];
    pathf(p, sizeof p, "run.h5");
    pathf(part, sizeof part, "run.h5.part");

    nk_h5out *h = nk_h5out_open(p, 0, err, sizeof err);
    CHECK(h != NULL);
    if (!h)
        return;
    CHECK_EQ_INT(nk_h5out_spikes(h, "cortex", NK_H5_SORT_NONE, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_begin(h, err, sizeof err), 0);
    CHECK_EQ_INT(append_seq(h, 0, 0, 3, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_close(h, 0, err, sizeof err), 0);
    CHECK(exists(part));
    CHECK(exists(p)); /* the earlier complete file is untouched */

    err[0] = '\0';
    h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h == NULL);
    CHECK(strstr(err, "run.h5.part") != NULL);
    CHECK(exists(part));
    CHECK(exists(p));

    /* The incomplete file is still a readable HDF5 file with the spikes. */
    hid_t fid = H5Fopen(part, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        double *t = NULL;
        uint64_t *id = NULL;
        CHECK_EQ_INT(read_pop(fid, "cortex", &t, &id), 3);
        free(t);
        free(id);
        H5Fclose(fid);
    }

    /* append=0 truncates the stale .part and its complete close replaces
     * PATH. */
    h = nk_h5out_open(p, 0, err, sizeof err);
    CHECK(h != NULL);
    if (!h)
        return;
    CHECK_EQ_INT(nk_h5out_spikes(h, "only", NK_H5_SORT_NONE, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0); /* close without begin */
    CHECK(!exists(part));
    fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        CHECK(H5Lexists(fid, "/spikes/only", H5P_DEFAULT) > 0);
        CHECK(H5Lexists(fid, "/spikes/cortex", H5P_DEFAULT) == 0);
        double *t = NULL;
        uint64_t *id = NULL;
        CHECK_EQ_INT(read_pop(fid, "only", &t, &id), 0);
        free(t);
        free(id);
        H5Fclose(fid);
    }
}

/* Writes a complete NAME with 10 spikes in population "p". */
static int make_small(const char *p)
{
    char err[512];
    nk_h5out *h = nk_h5out_open(p, 0, err, sizeof err);
    if (!h)
        return -1;
    int rc = nk_h5out_spikes(h, "p", NK_H5_SORT_BY_TIME, err, sizeof err);
    if (rc == 0)
        rc = nk_h5out_begin(h, err, sizeof err);
    if (rc == 0)
        rc = append_seq(h, 0, 0, 10, err, sizeof err);
    int rc2 = nk_h5out_close(h, 1, err, sizeof err);
    return rc ? rc : rc2;
}

/* Unequal dataset lengths: refused in a complete file (which is then left
 * as it was), cut to the shorter one when recovering a .part. A damaged
 * file gives a message with HDF5's reason. */
static void test_repair_and_damage(void)
{
    char err[512] = "";
    char p[1024], part[1024];
    pathf(p, sizeof p, "rec.h5");
    pathf(part, sizeof part, "rec.h5.part");
    CHECK_EQ_INT(make_small(p), 0);
    hid_t fid = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(fid, "/spikes/p/timestamps", H5P_DEFAULT);
    hsize_t n13 = 13;
    CHECK(H5Dset_extent(d, &n13) >= 0);
    H5Dclose(d);
    H5Fclose(fid);

    err[0] = '\0';
    nk_h5out *h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h != NULL); /* the file opens; the population is checked on use */
    if (h) {
        CHECK_EQ_INT(nk_h5out_spikes(h, "p", NK_H5_SORT_NONE, err, sizeof err), NK_H5OUT_EIO);
        CHECK(strstr(err, "differ in length") != NULL);
        CHECK_EQ_INT(nk_h5out_close(h, 0, err, sizeof err), 0);
    }
    CHECK(exists(part)); /* complete=0 after an append open leaves .part */
    CHECK(!exists(p));

    /* Now it is a .part: append recovers it and cuts to 10. */
    h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h != NULL);
    if (h) {
        CHECK_EQ_INT(nk_h5out_spikes(h, "p", NK_H5_SORT_NONE, err, sizeof err), 0);
        CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);
    }
    fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid >= 0) {
        double *t = NULL;
        uint64_t *id = NULL;
        long long n = read_pop(fid, "p", &t, &id);
        CHECK_EQ_INT(n, 10);
        if (n == 10)
            CHECK_EQ_INT(mismatches(t, id, 0, 10, 0), 0);
        free(t);
        free(id);
        H5Fclose(fid);
    }

    /* A truncated file: HDF5 refuses it; the message says why, and the
     * file keeps its name. */
    struct stat st;
    CHECK_EQ_INT(stat(p, &st), 0);
    CHECK_EQ_INT(truncate(p, st.st_size / 2), 0);
    err[0] = '\0';
    h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h == NULL);
    CHECK(strstr(err, "rec.h5") != NULL);
    CHECK(strstr(err, "HDF5 error") == NULL); /* a real reason is given */
    CHECK(exists(p));
    CHECK(!exists(part));
}

/* ---- reports and tables ------------------------------------------------ */

/* Value of row r, column c of every table: exact in float32 for r < 10^5. */
static double rval(size_t r, size_t c) { return (double)r * 10.0 + (double)c + 0.5; }

/* Appends rows [first, first + n) of WIDTH columns to table idx, in
 * appends of PER rows; returns the first failing rc or 0. */
static int append_rowseq(nk_h5out *h, int idx, size_t width, size_t first, size_t n, size_t per, char *err,
                         size_t errlen)
{
    double *v = malloc((per ? per : 1) * width * sizeof *v);
    int rc = 0;
    for (size_t r = first; r < first + n && rc == 0; r += per) {
        size_t m = first + n - r < per ? first + n - r : per;
        for (size_t i = 0; i < m; i++)
            for (size_t c = 0; c < width; c++)
                v[i * width + c] = rval(r + i, c);
        rc = nk_h5out_append_rows(h, idx, v, m, err, errlen);
    }
    free(v);
    return rc;
}

/* Reads dataset PATH of FID as doubles: returns its rows (or -1) and sets
 * *cols (0 for 1-D) and *vals (caller frees). */
static long long read_table(hid_t fid, const char *path, size_t *cols, double **vals)
{
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
    if (nv > 0 && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *vals) < 0)
        n = -1;
    H5Dclose(d);
    return n;
}

/* Counts values of V (rows x width) that differ from rval(seq0 + row). */
static size_t row_mismatches(const double *v, size_t rows, size_t width, size_t seq0)
{
    size_t bad = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < width; c++)
            if (v[r * width + c] != rval(seq0 + r, c))
                bad++;
    return bad;
}

/* Reads mapping/time of report GROUP into tv. */
static int read_time(hid_t fid, const char *group, double tv[3])
{
    char name[256];
    snprintf(name, sizeof name, "%s/mapping/time", group);
    hid_t d = H5Dopen2(fid, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    int rc = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) < 0 ? -1 : 0;
    H5Dclose(d);
    return rc;
}

/* Chunk dims of dataset PATH (rank returned, -1 when not chunked). */
static int chunk_of(hid_t fid, const char *path, hsize_t chunk[2])
{
    hid_t d = H5Dopen2(fid, path, H5P_DEFAULT);
    if (d < 0)
        return -1;
    hid_t pl = H5Dget_create_plist(d);
    int r = H5Pget_layout(pl) == H5D_CHUNKED ? H5Pget_chunk(pl, 2, chunk) : -1;
    H5Pclose(pl);
    H5Dclose(d);
    return r;
}

static int type_is(hid_t fid, const char *path, hid_t t)
{
    hid_t d = H5Dopen2(fid, path, H5P_DEFAULT);
    if (d < 0)
        return 0;
    hid_t ft = H5Dget_type(d);
    int eq = H5Tequal(ft, t) > 0;
    H5Tclose(ft);
    H5Dclose(d);
    return eq;
}

/* Runs the program argv[0] (looked up in PATH) with ARGV, its stdout to
 * /dev/null; returns its exit status, -1 on failure to run, -2 when the
 * program is not installed. */
static int run_prog(char *const argv[])
{
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc == ENOENT)
        return -2;
    if (rc != 0)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return -2; /* spawnp's child could not exec */
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The report used by the table tests: 3 nodes with 1, 2 and 1 columns. */
static const uint64_t rep_nodes[3] = {7, 3, 11};
static const uint64_t rep_ip[4] = {0, 1, 3, 4};
static const uint32_t rep_eids[4] = {0, 0, 1, 0};
#define REP_COLS 4
#define REP_T0 5.0
#define REP_STEP 0.5
#define BIG_COLS 1500000 /* 6 MB float32 rows: chunks split across columns */
#define MID_COLS 100000  /* 400 KB rows: one row per chunk */

/* SWMR reader of tables: checks /report/exc/data has N rows of the value
 * sequence and /output/rate N rows (1-D), while the writer runs. */
static int table_reader_main(const char *part, long long n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fid = H5Fopen(part, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (fid < 0)
        return 2;
    int rc = 0;
    size_t cols = 0;
    double *v = NULL;
    long long got = read_table(fid, "/report/exc/data", &cols, &v);
    if (got != n || cols != REP_COLS || row_mismatches(v, (size_t)n, REP_COLS, 0) != 0) {
        fprintf(stderr, "table reader: report has %lld rows x %zu, expected %lld x %d\n", got, cols, n,
                REP_COLS);
        rc = 3;
    }
    free(v);
    v = NULL;
    got = read_table(fid, "/output/rate", &cols, &v);
    if (got != n || cols != 0 || row_mismatches(v, (size_t)n, 1, 0) != 0) {
        fprintf(stderr, "table reader: rate has %lld rows, expected %lld\n", got, n);
        rc = 4;
    }
    free(v);
    double tv[3] = {0, 0, 0};
    if (read_time(fid, "/report/exc", tv) != 0 || tv[1] != REP_T0 + (double)n * REP_STEP) {
        fprintf(stderr, "table reader: time[1] %g, expected %g\n", tv[1], REP_T0 + (double)n * REP_STEP);
        rc = 5;
    }
    H5Fclose(fid);
    H5close();
    return rc;
}

/* Declares the report and the rate table on h; returns the first rc. */
static int declare_two(nk_h5out *h, int *rep, int *rate, char *err, size_t errlen)
{
    *rep = nk_h5out_report(h, "/report/exc", rep_nodes, 3, rep_ip, rep_eids, REP_COLS, REP_T0, REP_STEP, "mV",
                           "v,g_exc", err, errlen);
    if (*rep < 0)
        return *rep;
    *rate = nk_h5out_table(h, "/output/rate", 0, 1, "Hz", err, errlen);
    return *rate < 0 ? *rate : 0;
}

/* Crashing table writer: 20 flushed rows in the report and the rate
 * table, NLOST more unflushed, then exit without closing. */
static int crash_tables_main(const char *path, size_t nlost)
{
    char err[512];
    nk_h5out *h = nk_h5out_open(path, 0, err, sizeof err);
    int rep, rate;
    if (!h || declare_two(h, &rep, &rate, err, sizeof err) != 0 || nk_h5out_begin(h, err, sizeof err) != 0 ||
        append_rowseq(h, rep, REP_COLS, 0, 20, 3, err, sizeof err) != 0 ||
        append_rowseq(h, rate, 1, 0, 20, 20, err, sizeof err) != 0 || nk_h5out_flush(h, err, sizeof err) != 0 ||
        append_rowseq(h, rep, REP_COLS, 20, nlost, 1, err, sizeof err) != 0 ||
        append_rowseq(h, rate, 1, 20, nlost, 1, err, sizeof err) != 0) {
        fprintf(stderr, "crash writer: %s\n", err);
        return 3;
    }
    _exit(0);
}

#define TR1 70000 /* report rows in the first run: more than one buffer (65536 rows of 4 floats) */

static void test_tables(void)
{
    char err[512] = "";
    char p[1024], part[1024];
    pathf(p, sizeof p, "tab.h5");
    pathf(part, sizeof part, "tab.h5.part");
    nk_h5out *h = nk_h5out_open(p, 0, err, sizeof err);
    CHECK(h != NULL);
    if (!h)
        return;
    int rep, rate;
    CHECK_EQ_INT(nk_h5out_spikes(h, "cortex", NK_H5_SORT_BY_TIME, err, sizeof err), 0);
    CHECK_EQ_INT(declare_two(h, &rep, &rate, err, sizeof err), 0);
    CHECK_EQ_INT(rep, 0);
    CHECK_EQ_INT(rate, 1);
    int mat = nk_h5out_table(h, "/output/mat", 3, 0, NULL, err, sizeof err);
    CHECK_EQ_INT(mat, 2);
    int deep = nk_h5out_table(h, "/deep/a/b/c", 0, 0, "1", err, sizeof err);
    CHECK_EQ_INT(deep, 3);
    int big = nk_h5out_table(h, "/output/big", BIG_COLS, 0, NULL, err, sizeof err);
    CHECK_EQ_INT(big, 4);
    int mid = nk_h5out_table(h, "/output/mid", MID_COLS, 1, NULL, err, sizeof err);
    CHECK_EQ_INT(mid, 5);
    /* A report without index_pointers / element_ids: one column per node. */
    uint64_t inh_nodes[2] = {0, 1};
    int inh = nk_h5out_report(h, "/report/inh", inh_nodes, 2, NULL, NULL, 2, 0.0, 0.1, NULL, NULL, err,
                              sizeof err);
    CHECK_EQ_INT(inh, 6);

    /* Invalid declarations. */
    static const char *badpaths[] = {"report/x", "/", "/a//b", "/a/./b", "/a/../b", "/a/", ""};
    for (size_t i = 0; i < sizeof badpaths / sizeof *badpaths; i++) {
        CHECK_EQ_INT(nk_h5out_table(h, badpaths[i], 0, 0, NULL, err, sizeof err), NK_H5OUT_EINVAL);
        CHECK_EQ_INT(nk_h5out_report(h, badpaths[i], rep_nodes, 3, rep_ip, rep_eids, REP_COLS, 0, 1, NULL, NULL,
                                     err, sizeof err),
                     NK_H5OUT_EINVAL);
    }
    CHECK_EQ_INT(nk_h5out_table(h, NULL, 0, 0, NULL, err, sizeof err), NK_H5OUT_EINVAL);
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_table(h, "/output/rate", 0, 1, NULL, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "already declared") != NULL);
    CHECK_EQ_INT(nk_h5out_report(h, "/output/rate", rep_nodes, 3, rep_ip, rep_eids, REP_COLS, 0, 1, NULL, NULL,
                                 err, sizeof err),
                 NK_H5OUT_EINVAL);
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_table(h, "/output/rate/x", 0, 0, NULL, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "/output/rate is not a group") != NULL);
    CHECK_EQ_INT(nk_h5out_report(h, "/r/nocols", rep_nodes, 3, rep_ip, rep_eids, 0, 0, 1, NULL, NULL, err,
                                 sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_report(h, "/r/nonodes", rep_nodes, 0, rep_ip, rep_eids, 4, 0, 1, NULL, NULL, err,
                                 sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_report(h, "/r/step0", rep_nodes, 3, rep_ip, rep_eids, 4, 0, 0, NULL, NULL, err,
                                 sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_report(h, "/r/stepnan", rep_nodes, 3, rep_ip, rep_eids, 4, 0, NAN, NULL, NULL, err,
                                 sizeof err),
                 NK_H5OUT_EINVAL);
    uint64_t bad_ip[4] = {0, 2, 1, 4}, short_ip[4] = {0, 1, 2, 3};
    CHECK_EQ_INT(nk_h5out_report(h, "/r/badip", rep_nodes, 3, bad_ip, rep_eids, 4, 0, 1, NULL, NULL, err,
                                 sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_report(h, "/r/shortip", rep_nodes, 3, short_ip, rep_eids, 4, 0, 1, NULL, NULL, err,
                                 sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_report(h, "/r/noip", rep_nodes, 3, NULL, NULL, 4, 0, 1, NULL, NULL, err, sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK(H5Fis_hdf5(part) > 0);

    /* Attributes on objects. */
    double dt3[3] = {0.1, 0.2, 0.3}, one = 0.025;
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "/report/exc", "kind", "compartment", err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "/report/exc", "kind", "soma", err, sizeof err), 0); /* replaced */
    CHECK_EQ_INT(nk_h5out_obj_attr_double(h, "/output/rate", "dt", &one, 1, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_obj_attr_double(h, "/report", "three", dt3, 3, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_obj_attr_double(h, "/report/exc", "kind", dt3, 2, err, sizeof err), 0); /* type change */
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "/", "note", "root", err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "/", "magic", "x", err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "/output", "", "x", err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "/output", "x", NULL, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_obj_attr_double(h, "/output", "x", dt3, 0, err, sizeof err), NK_H5OUT_EINVAL);
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "/nope/x", "a", "b", err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "no such object") != NULL);
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "relative", "a", "b", err, sizeof err), NK_H5OUT_EINVAL);

    /* Before begin: no rows. */
    CHECK_EQ_INT(append_rowseq(h, rep, REP_COLS, 0, 1, 1, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_rows(h, rep), 0);
    CHECK_EQ_INT(nk_h5out_rows(h, 99), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_rows(NULL, 0), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_ntables(h), 7);
    CHECK_EQ_INT(nk_h5out_nspikes(h), 1);
    CHECK_EQ_INT(nk_h5out_width(h, mat), 3);
    CHECK_EQ_INT(nk_h5out_width(h, rate), 1);
    CHECK_EQ_INT(nk_h5out_width(h, 7), NK_H5OUT_EINVAL);
    CHECK(!nk_h5out_writing(h));
    CHECK(nk_h5out_file(h) && strcmp(nk_h5out_file(h), part) == 0);

    CHECK_EQ_INT(nk_h5out_begin(h, err, sizeof err), 0);
    CHECK(nk_h5out_writing(h));
    CHECK_EQ_INT(nk_h5out_table(h, "/late", 0, 0, NULL, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_report(h, "/late", rep_nodes, 3, rep_ip, rep_eids, 4, 0, 1, NULL, NULL, err,
                                 sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_obj_attr_str(h, "/report", "late", "x", err, sizeof err), NK_H5OUT_EINVAL);
    err[0] = '\0';
    CHECK_EQ_INT(append_rowseq(h, 7, 1, 0, 1, 1, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "invalid table handle 7") != NULL);
    CHECK_EQ_INT(append_rowseq(h, -1, 1, 0, 1, 1, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_append_rows(h, rep, NULL, 2, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK_EQ_INT(nk_h5out_append_rows(h, rep, NULL, 0, err, sizeof err), 0);

    /* Many one-row appends, then batches that cross the buffer. */
    CHECK_EQ_INT(append_rowseq(h, rep, REP_COLS, 0, 1000, 1, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_rows(h, rep), 1000);
    CHECK_EQ_INT(append_rowseq(h, rep, REP_COLS, 1000, TR1 - 1000, 7777, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_rows(h, rep), TR1);
    CHECK_EQ_INT(append_rowseq(h, rate, 1, 0, TR1, 1, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, mat, 3, 0, 5, 2, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, big, BIG_COLS, 0, 2, 1, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, mid, MID_COLS, 0, 5, 2, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, inh, 2, 0, 3, 3, err, sizeof err), 0);
    double odd[4] = {1e300, -1e300, NAN, 3.0000001};
    CHECK_EQ_INT(nk_h5out_append_rows(h, deep, odd, 4, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_flush(h, err, sizeof err), 0);

    /* A SWMR reader sees the flushed rows and time axis while writing. */
    char nbuf[32];
    snprintf(nbuf, sizeof nbuf, "%d", TR1);
    CHECK_EQ_INT(run_self("--swmr-tables", part, nbuf), 0);
    CHECK_EQ_INT(append_rowseq(h, rep, REP_COLS, TR1, 10, 10, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, rate, 1, TR1, 10, 3, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_flush(h, err, sizeof err), 0);
    snprintf(nbuf, sizeof nbuf, "%d", TR1 + 10);
    CHECK_EQ_INT(run_self("--swmr-tables", part, nbuf), 0);
    CHECK_EQ_INT(append_rowseq(h, rep, REP_COLS, TR1 + 10, 5, 1, err, sizeof err), 0); /* buffered only */
    CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);
    CHECK(exists(p));
    CHECK(!exists(part));

    hid_t fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid < 0)
        return;
    size_t cols = 0;
    double *v = NULL;
    long long n = read_table(fid, "/report/exc/data", &cols, &v);
    CHECK_EQ_INT(n, TR1 + 15);
    CHECK_EQ_INT(cols, REP_COLS);
    if (n == TR1 + 15 && cols == REP_COLS)
        CHECK_EQ_INT(row_mismatches(v, (size_t)n, REP_COLS, 0), 0);
    free(v);
    n = read_table(fid, "/output/rate", &cols, &v);
    CHECK_EQ_INT(n, TR1 + 10);
    CHECK_EQ_INT(cols, 0);
    if (n == TR1 + 10)
        CHECK_EQ_INT(row_mismatches(v, (size_t)n, 1, 0), 0);
    free(v);
    n = read_table(fid, "/output/mat", &cols, &v);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(cols, 3);
    if (n == 5 && cols == 3)
        CHECK_EQ_INT(row_mismatches(v, 5, 3, 0), 0);
    free(v);
    n = read_table(fid, "/output/big", &cols, &v);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(cols, BIG_COLS);
    if (n == 2 && cols == BIG_COLS)
        CHECK_EQ_INT(row_mismatches(v, 2, BIG_COLS, 0), 0);
    free(v);
    n = read_table(fid, "/output/mid", &cols, &v);
    CHECK_EQ_INT(n, 5);
    if (n == 5 && cols == MID_COLS)
        CHECK_EQ_INT(row_mismatches(v, 5, MID_COLS, 0), 0);
    free(v);
    n = read_table(fid, "/report/inh/data", &cols, &v);
    CHECK_EQ_INT(n, 3);
    if (n == 3 && cols == 2)
        CHECK_EQ_INT(row_mismatches(v, 3, 2, 0), 0);
    free(v);
    n = read_table(fid, "/deep/a/b/c", &cols, &v);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        CHECK(isinf(v[0]) && v[0] > 0);
        CHECK(isinf(v[1]) && v[1] < 0);
        CHECK(isnan(v[2]));
        CHECK(v[3] == (double)(float)3.0000001);
    }
    free(v);

    /* Types, chunking, units, mapping, time. */
    CHECK(type_is(fid, "/report/exc/data", H5T_IEEE_F32LE));
    CHECK(type_is(fid, "/output/rate", H5T_IEEE_F64LE));
    CHECK(type_is(fid, "/output/mat", H5T_IEEE_F32LE));
    CHECK(type_is(fid, "/output/mid", H5T_IEEE_F64LE));
    CHECK(type_is(fid, "/report/exc/mapping/node_ids", H5T_STD_U64LE));
    CHECK(type_is(fid, "/report/exc/mapping/index_pointers", H5T_STD_U64LE));
    CHECK(type_is(fid, "/report/exc/mapping/element_ids", H5T_STD_U32LE));
    CHECK(type_is(fid, "/report/exc/mapping/time", H5T_IEEE_F64LE));
    hsize_t ch[2] = {0, 0};
    CHECK_EQ_INT(chunk_of(fid, "/report/exc/data", ch), 2);
    CHECK_EQ_INT(ch[0], 16384); /* 256 KiB of 16-byte rows */
    CHECK_EQ_INT(ch[1], REP_COLS);
    CHECK_EQ_INT(chunk_of(fid, "/output/rate", ch), 1);
    CHECK_EQ_INT(ch[0], 32768);
    CHECK_EQ_INT(chunk_of(fid, "/output/mid", ch), 2);
    CHECK_EQ_INT(ch[0], 1);
    CHECK_EQ_INT(ch[1], MID_COLS);
    CHECK_EQ_INT(chunk_of(fid, "/output/big", ch), 2);
    CHECK_EQ_INT(ch[0], 1);
    CHECK_EQ_INT(ch[1], 1048576); /* 4 MiB of float32 */
    char s[64] = "";
    hid_t d = H5Dopen2(fid, "/report/exc/data", H5P_DEFAULT);
    CHECK_EQ_INT(read_str_attr(d, "units", s, sizeof s), 0);
    CHECK(strcmp(s, "mV") == 0);
    H5Dclose(d);
    d = H5Dopen2(fid, "/report/exc/mapping/time", H5P_DEFAULT);
    CHECK_EQ_INT(read_str_attr(d, "units", s, sizeof s), 0);
    CHECK(strcmp(s, "ms") == 0);
    H5Dclose(d);
    d = H5Dopen2(fid, "/output/rate", H5P_DEFAULT);
    CHECK_EQ_INT(read_str_attr(d, "units", s, sizeof s), 0);
    CHECK(strcmp(s, "Hz") == 0);
    double dtv = 0;
    CHECK_EQ_INT(read_attr(d, "dt", H5T_NATIVE_DOUBLE, &dtv), 0);
    CHECK_NEAR(dtv, 0.025, 0);
    H5Dclose(d);
    d = H5Dopen2(fid, "/output/mat", H5P_DEFAULT);
    CHECK(H5Aexists(d, "units") == 0);
    H5Dclose(d);
    hid_t g = H5Gopen2(fid, "/report/exc", H5P_DEFAULT);
    CHECK_EQ_INT(read_str_attr(g, "variables", s, sizeof s), 0);
    CHECK(strcmp(s, "v,g_exc") == 0);
    CHECK(attr_type_is(g, "kind", H5T_IEEE_F64LE));
    H5Gclose(g);
    g = H5Gopen2(fid, "/report", H5P_DEFAULT);
    double got3[3] = {0, 0, 0};
    CHECK_EQ_INT(read_attr(g, "three", H5T_NATIVE_DOUBLE, got3), 0);
    CHECK(got3[0] == 0.1 && got3[1] == 0.2 && got3[2] == 0.3);
    H5Gclose(g);
    CHECK_EQ_INT(read_str_attr(fid, "note", s, sizeof s), 0);
    CHECK(strcmp(s, "root") == 0);
    uint64_t nodes[3] = {0, 0, 0}, ip[4] = {9, 9, 9, 9};
    uint32_t eids[4] = {9, 9, 9, 9};
    d = H5Dopen2(fid, "/report/exc/mapping/node_ids", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, nodes) >= 0);
    H5Dclose(d);
    d = H5Dopen2(fid, "/report/exc/mapping/index_pointers", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ip) >= 0);
    H5Dclose(d);
    d = H5Dopen2(fid, "/report/exc/mapping/element_ids", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_UINT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, eids) >= 0);
    H5Dclose(d);
    CHECK(memcmp(nodes, rep_nodes, sizeof nodes) == 0);
    CHECK(memcmp(ip, rep_ip, sizeof ip) == 0);
    CHECK(memcmp(eids, rep_eids, sizeof eids) == 0);
    d = H5Dopen2(fid, "/report/inh/mapping/index_pointers", H5P_DEFAULT);
    CHECK(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ip) >= 0);
    H5Dclose(d);
    CHECK(ip[0] == 0 && ip[1] == 1 && ip[2] == 2);
    double tv[3] = {0, 0, 0};
    CHECK_EQ_INT(read_time(fid, "/report/exc", tv), 0);
    CHECK_NEAR(tv[0], REP_T0, 0);
    CHECK_NEAR(tv[1], REP_T0 + (TR1 + 15) * REP_STEP, 0);
    CHECK_NEAR(tv[2], REP_STEP, 0);
    CHECK_EQ_INT(read_time(fid, "/report/inh", tv), 0);
    CHECK_NEAR(tv[1], 3 * 0.1, 1e-15);
    double *t = NULL;
    uint64_t *id = NULL;
    CHECK_EQ_INT(read_pop(fid, "cortex", &t, &id), 0); /* spikes still there, empty */
    free(t);
    free(id);
    H5Fclose(fid);

    /* h5dump reads the file: all headers, and two datasets (when it is
     * installed). */
    char *dump[] = {"h5dump", "-H", p, NULL};
    int drc = run_prog(dump);
    if (drc == -2) {
        printf("h5dump not installed: skipping the h5dump check\n");
    } else {
        CHECK_EQ_INT(drc, 0);
        char *dump2[] = {"h5dump", "-d", "/report/exc/mapping/time", "-d", "/output/mat", p, NULL};
        CHECK_EQ_INT(run_prog(dump2), 0);
    }
}

/* Second run on tab.h5: reports and tables are reopened and continue. */
static void test_tables_append(void)
{
    char err[512] = "";
    char p[1024], part[1024];
    pathf(p, sizeof p, "tab.h5");
    pathf(part, sizeof part, "tab.h5.part");

    /* A stale time[1] in the complete file is recomputed on reopen. */
    hid_t fid = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(fid >= 0);
    hid_t d = H5Dopen2(fid, "/report/exc/mapping/time", H5P_DEFAULT);
    double stale[3] = {REP_T0, 1.0, REP_STEP};
    CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, stale) >= 0);
    H5Dclose(d);
    H5Fclose(fid);

    nk_h5out *h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h != NULL);
    if (!h)
        return;
    /* Mismatches are refused and leave the handle usable. */
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_table(h, "/output/mat", 5, 0, NULL, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "/output/mat") && strstr(err, "3 columns") && strstr(err, "not 5"));
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_table(h, "/output/rate", 2, 1, NULL, err, sizeof err), NK_H5OUT_EINVAL);
    CHECK(strstr(err, "/output/rate") && strstr(err, "1-D") && strstr(err, "not 2"));
    CHECK_EQ_INT(nk_h5out_table(h, "/output/mat", 0, 0, NULL, err, sizeof err), NK_H5OUT_EINVAL);
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_report(h, "/report/exc", rep_nodes, 3, rep_ip, rep_eids, REP_COLS, 0, 0.25, NULL,
                                 NULL, err, sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK(strstr(err, "sampled every 0.5 ms") != NULL);
    uint64_t other_nodes[3] = {7, 3, 12};
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_report(h, "/report/exc", other_nodes, 3, rep_ip, rep_eids, REP_COLS, 0, REP_STEP,
                                 NULL, NULL, err, sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK(strstr(err, "mapping/node_ids") != NULL);
    uint64_t ip5[6] = {0, 1, 2, 3, 4, 5};
    uint32_t e5[5] = {0, 0, 0, 0, 0};
    uint64_t n5[5] = {1, 2, 3, 4, 5};
    err[0] = '\0';
    CHECK_EQ_INT(nk_h5out_report(h, "/report/exc", n5, 5, ip5, e5, 5, 0, REP_STEP, NULL, NULL, err, sizeof err),
                 NK_H5OUT_EINVAL);
    CHECK(strstr(err, "/report/exc") && strstr(err, "4 columns") && strstr(err, "not 5"));
    CHECK_EQ_INT(nk_h5out_table(h, "/report/exc", 0, 0, NULL, err, sizeof err), NK_H5OUT_EIO);
    CHECK_EQ_INT(nk_h5out_report(h, "/output/rate", rep_nodes, 3, rep_ip, rep_eids, REP_COLS, 0, 1, NULL, NULL,
                                 err, sizeof err),
                 NK_H5OUT_EIO);
    CHECK_EQ_INT(nk_h5out_report(h, "/report", rep_nodes, 3, rep_ip, rep_eids, REP_COLS, 0, 1, NULL, NULL, err,
                                 sizeof err),
                 NK_H5OUT_EIO); /* a group, but not a report */

    int rep = nk_h5out_report(h, "/report/exc", rep_nodes, 3, rep_ip, rep_eids, REP_COLS, 123.0, REP_STEP, NULL,
                              "v", err, sizeof err);
    CHECK_EQ_INT(rep, 0);
    int rate = nk_h5out_table(h, "/output/rate", 0, 0 /* file keeps f64 */, "1/s", err, sizeof err);
    CHECK_EQ_INT(rate, 1);
    int mat = nk_h5out_table(h, "/output/mat", 3, 1, NULL, err, sizeof err);
    CHECK_EQ_INT(mat, 2);
    CHECK_EQ_INT(nk_h5out_rows(h, rep), TR1 + 15);
    CHECK_EQ_INT(nk_h5out_rows(h, rate), TR1 + 10);
    CHECK_EQ_INT(nk_h5out_rows(h, mat), 5);
    CHECK_EQ_INT(nk_h5out_begin(h, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, rep, REP_COLS, TR1 + 15, 20, 3, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, rate, 1, TR1 + 10, 5, 5, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, mat, 3, 5, 2, 1, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_rows(h, rep), TR1 + 35);
    CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);

    fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid < 0)
        return;
    size_t cols;
    double *v = NULL;
    long long n = read_table(fid, "/report/exc/data", &cols, &v);
    CHECK_EQ_INT(n, TR1 + 35);
    if (n == TR1 + 35 && cols == REP_COLS)
        CHECK_EQ_INT(row_mismatches(v, (size_t)n, REP_COLS, 0), 0);
    free(v);
    n = read_table(fid, "/output/rate", &cols, &v);
    CHECK_EQ_INT(n, TR1 + 15);
    if (n == TR1 + 15)
        CHECK_EQ_INT(row_mismatches(v, (size_t)n, 1, 0), 0);
    free(v);
    n = read_table(fid, "/output/mat", &cols, &v);
    CHECK_EQ_INT(n, 7);
    if (n == 7 && cols == 3)
        CHECK_EQ_INT(row_mismatches(v, 7, 3, 0), 0);
    free(v);
    n = read_table(fid, "/output/big", &cols, &v); /* not redeclared: kept */
    CHECK_EQ_INT(n, 2);
    free(v);
    CHECK(type_is(fid, "/output/rate", H5T_IEEE_F64LE));
    CHECK(type_is(fid, "/output/mat", H5T_IEEE_F32LE));
    double tv[3];
    CHECK_EQ_INT(read_time(fid, "/report/exc", tv), 0);
    CHECK_NEAR(tv[0], REP_T0, 0); /* kept from the file, not 123 */
    CHECK_NEAR(tv[1], REP_T0 + (TR1 + 35) * REP_STEP, 0);
    CHECK_NEAR(tv[2], REP_STEP, 0);
    char s[64] = "";
    hid_t g = H5Gopen2(fid, "/report/exc", H5P_DEFAULT);
    CHECK_EQ_INT(read_str_attr(g, "variables", s, sizeof s), 0);
    CHECK(strcmp(s, "v") == 0);
    H5Gclose(g);
    d = H5Dopen2(fid, "/report/exc/data", H5P_DEFAULT);
    CHECK_EQ_INT(read_str_attr(d, "units", s, sizeof s), 0); /* not given: kept */
    CHECK(strcmp(s, "mV") == 0);
    H5Dclose(d);
    d = H5Dopen2(fid, "/output/rate", H5P_DEFAULT);
    CHECK_EQ_INT(read_str_attr(d, "units", s, sizeof s), 0);
    CHECK(strcmp(s, "1/s") == 0);
    H5Dclose(d);
    H5Fclose(fid);
}

/* A crashed table writer's .part: rows up to the last flush survive,
 * time[1] is right; a stale time[1] in a .part is recomputed even when
 * the report is not redeclared. */
static void test_tables_crash(void)
{
    char err[512] = "";
    char p[1024], part[1024];
    pathf(p, sizeof p, "tcrash.h5");
    pathf(part, sizeof part, "tcrash.h5.part");
    CHECK_EQ_INT(run_self("--crash-tables", p, "7"), 0);
    CHECK(exists(part));
    CHECK(!exists(p));

    nk_h5out *h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h != NULL);
    if (!h) {
        fprintf(stderr, "recover: %s\n", err);
        return;
    }
    int rep, rate;
    CHECK_EQ_INT(declare_two(h, &rep, &rate, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_rows(h, rep), 20); /* the 7 unflushed rows are lost */
    CHECK_EQ_INT(nk_h5out_rows(h, rate), 20);
    CHECK_EQ_INT(nk_h5out_begin(h, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, rep, REP_COLS, 20, 1, 1, err, sizeof err), 0);
    CHECK_EQ_INT(append_rowseq(h, rate, 1, 20, 1, 1, err, sizeof err), 0);
    CHECK_EQ_INT(nk_h5out_close(h, 0, err, sizeof err), 0); /* leave a .part again */
    CHECK(exists(part));

    /* Make time[1] stale in the .part, as a crash between a data flush and
     * the time rewrite could, then recover without redeclaring. */
    hid_t fid = H5Fopen(part, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(fid >= 0);
    hid_t d = H5Dopen2(fid, "/report/exc/mapping/time", H5P_DEFAULT);
    double stale[3] = {REP_T0, 99.0, REP_STEP};
    CHECK(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, stale) >= 0);
    H5Dclose(d);
    H5Fclose(fid);
    h = nk_h5out_open(p, 1, err, sizeof err);
    CHECK(h != NULL);
    if (h)
        CHECK_EQ_INT(nk_h5out_close(h, 1, err, sizeof err), 0);

    fid = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0);
    if (fid < 0)
        return;
    size_t cols;
    double *v = NULL;
    long long n = read_table(fid, "/report/exc/data", &cols, &v);
    CHECK_EQ_INT(n, 21);
    if (n == 21 && cols == REP_COLS)
        CHECK_EQ_INT(row_mismatches(v, 21, REP_COLS, 0), 0);
    free(v);
    n = read_table(fid, "/output/rate", &cols, &v);
    CHECK_EQ_INT(n, 21);
    if (n == 21)
        CHECK_EQ_INT(row_mismatches(v, 21, 1, 0), 0);
    free(v);
    double tv[3];
    CHECK_EQ_INT(read_time(fid, "/report/exc", tv), 0);
    CHECK_NEAR(tv[1], REP_T0 + 21 * REP_STEP, 0);
    H5Fclose(fid);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--swmr-reader") == 0)
        return reader_main(argv[2], atoll(argv[3]));
    if (argc == 4 && strcmp(argv[1], "--crash-writer") == 0)
        return crash_main(argv[2], (size_t)atoll(argv[3]));
    if (argc == 4 && strcmp(argv[1], "--swmr-tables") == 0)
        return table_reader_main(argv[2], atoll(argv[3]));
    if (argc == 4 && strcmp(argv[1], "--crash-tables") == 0)
        return crash_tables_main(argv[2], (size_t)atoll(argv[3]));

    ssize_t len = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (len <= 0) {
        fprintf(stderr, "cannot find this program's path\n");
        return 1;
    }
    self_exe[len] = '\0';
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_h5out.XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }

    /* HDF5's automatic error printing stays on here: any HDF5 error dump on
     * stderr during the run means h5out failed to suppress it. */
    test_errors();
    test_write_and_read();
    test_append();
    test_crash_recovery();
    test_incomplete_and_ambiguous();
    test_repair_and_damage();
    test_tables();
    test_tables_append();
    test_tables_crash();

    if (getenv("KEEP_H5OUT_TMP"))
        printf("kept %s\n", tmpdir);
    else
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    H5close();
    return check_finish("h5out");
}
