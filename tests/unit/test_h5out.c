/* test_h5out.c - unit test of the HDF5 results writer (engine/src/h5out.c).
 *
 * Writes files into a fresh temporary directory (removed at the end) and
 * reads them back with the HDF5 C API: the SONATA layout and types, the
 * .part/rename protocol, append mode, recovery of a crashed .part, a SWMR
 * reader seeing flushed data while the writer is open, and error paths.
 *
 * The SWMR reader and the crashing writer run as separate processes (this
 * program re-executed with --swmr-reader / --crash-writer), because HDF5
 * will not open one file twice with different SWMR flags in one process. */
#define _XOPEN_SOURCE 700

#include "h5out.h"

#include "check.h"

#include <errno.h>
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

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--swmr-reader") == 0)
        return reader_main(argv[2], atoll(argv[3]));
    if (argc == 4 && strcmp(argv[1], "--crash-writer") == 0)
        return crash_main(argv[2], (size_t)atoll(argv[3]));

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

    if (getenv("KEEP_H5OUT_TMP"))
        printf("kept %s\n", tmpdir);
    else
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    H5close();
    return check_finish("h5out");
}
