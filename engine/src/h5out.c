/* h5out.c - the HDF5 results writer (SONATA spike reports); see h5out.h.
 *
 * Errors: every public function replaces HDF5's automatic error printer on
 * entry (eoff) by capture_cb, which prints nothing but records the most
 * specific description of the failing HDF5 call in h5_last, and restores
 * the caller's printer on exit (eon). Recording at failure time matters:
 * any later successful HDF5 call (closing a property list, say) clears the
 * error stack. h5fail() then builds our message from h5_last.
 *
 * Locking: besides HDF5's own flock() (which HDF5 drops once SWMR writing
 * starts, so that readers can open the file), a handle holds an exclusive
 * open-file-description lock (fcntl F_OFD_SETLK, Linux) on PATH.part for
 * its whole life. It is what tells a live writer's PATH.part from one left
 * by a crash, so append mode never "recovers" (clears the flags of) a file
 * that another process, or another handle, is still writing. OFD locks do
 * not interact with flock() on local file systems, so SWMR readers are not
 * affected. Where F_OFD_SETLK is missing the check is skipped.
 *
 * Tables (reports' data and plain tables) buffer rows in the file's element
 * type (float or double), about 1 MiB per table, a whole number of chunks
 * when a chunk holds several rows, so full-buffer writes are chunk-aligned.
 * Chunks hold whole rows (~256 KiB) unless a row is bigger; a row bigger
 * than 4 MiB is split across column chunks. The report's time[1] is derived
 * from the rows written (t0 + rows * step), never accumulated, so it can
 * always be recomputed from the file (recovery does). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "h5out.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Elements per chunk of both datasets. Every population costs at least one
 * chunk per dataset on disk, however few spikes it has, so this is a
 * trade-off between the size of small files and per-chunk overhead:
 * 16 Ki elements = 128 KiB chunks (256 KiB per population at minimum). */
#ifndef NK_H5OUT_CHUNK
#define NK_H5OUT_CHUNK ((size_t)16384)
#endif

/* Elements buffered per population before a write: 64 Ki (512 KiB per
 * dataset), a whole number of chunks, so writes are chunk-aligned and
 * large however small the appends are. */
#define NK_H5OUT_BUF ((size_t)65536)

/* Tables (reports and plain datasets): target bytes per chunk when a row
 * is small (a chunk then holds whole rows), the largest chunk when a row
 * is enormous (then split across columns), and the write buffer size. */
#define NK_H5OUT_TCHUNK ((size_t)256 << 10)
#define NK_H5OUT_TCHUNK_MAX ((size_t)4 << 20)
#define NK_H5OUT_TBUF ((size_t)1 << 20)

#define SONATA_MAGIC 0x0A7Au

struct pop {
    char *name;      /* owned */
    hid_t grp;       /* /spikes/<name> */
    hid_t ts;        /* timestamps dataset */
    hid_t ids;       /* node_ids dataset */
    hsize_t n;       /* elements in the datasets */
    double *bt;      /* write buffer, NK_H5OUT_BUF elements, owned */
    uint64_t *bi;    /* write buffer, NK_H5OUT_BUF elements, owned */
    size_t nb;       /* elements in the buffers */
};

/* A report's data or a plain table: a float dataset growing by rows. */
struct table {
    char *name;      /* as declared (report group or dataset path), owned */
    int report;      /* 1: NAME is a report group, d its data */
    hid_t d;         /* the growing dataset */
    hid_t time;      /* report: mapping/time, float64[3]; else invalid */
    size_t ncols;    /* 0: 1-D */
    size_t width;    /* values per row: ncols, or 1 for 1-D */
    int f64;         /* element type in the file and the buffer */
    hsize_t n;       /* rows in the dataset */
    void *buf;       /* write buffer (float or double), cap rows, owned, allocated on first use */
    size_t nb, cap;  /* rows buffered, buffer capacity in rows */
    double t0, step; /* report: time axis (ms) */
};

struct nk_h5out {
    char *path;      /* owned */
    char *part;      /* path + ".part", owned */
    int lockfd;      /* fd on PATH.part holding the writer lock, or -1 */
    hid_t fid;
    hid_t spikes;    /* /spikes group or H5I_INVALID_HID until needed */
    int begun;       /* setup phase over, SWMR writing started */
    int failed;      /* a write failed: never rename to PATH */
    int renamed;     /* PATH was renamed to PATH.part to append to it (see nk_h5out_close) */
    struct pop *pops;
    int npops, cap;
    struct table *tabs;
    int ntabs, tcap;
};

/* ---- messages ---------------------------------------------------------- */

/* Writes a formatted message into err (when err && errlen). */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Description of the last failed HDF5 call inside a public function. Per
 * thread, like HDF5's error stacks (and its automatic error handler) in a
 * thread-safe build, so handles used by different threads do not mix up
 * their messages. */
static _Thread_local char h5_last[320];

/* Saved automatic error handler of the default error stack. */
typedef struct {
    H5E_auto2_t func;
    void *data;
    int saved;
} esave;

static herr_t capture_cb(hid_t estack, void *data);

/* Turns HDF5's automatic error printing off (replacing it by capture_cb),
 * saving the previous setting, and forgets the last HDF5 error. */
static void eoff(esave *s)
{
    s->saved = H5Eget_auto2(H5E_DEFAULT, &s->func, &s->data) >= 0;
    H5Eset_auto2(H5E_DEFAULT, capture_cb, NULL);
    h5_last[0] = '\0';
}

/* Restores the setting saved by eoff and returns rc (for `return eon(..)`). */
static int eon(esave *s, int rc)
{
    if (s->saved)
        H5Eset_auto2(H5E_DEFAULT, s->func, s->data);
    return rc;
}

struct inner {
    char text[256];
    int got;
};

/* H5Ewalk2 callback: keeps the innermost (most specific) entry. A system
 * call failure (the sec2 driver's "file write failed: time = ..., errno =
 * 28, error message = 'No space left on device', ...", several lines long)
 * is shortened to "No space left on device (file write failed)", so that
 * the reason survives truncation. */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    struct inner *in = data;
    if (n != 0)
        return 0;
    char minor[128] = "";
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0)
        minor[0] = '\0';
    const char *desc = e->desc ? e->desc : "";
    const char *en = strstr(desc, "errno = ");
    const char *colon = strchr(desc, ':');
    int code = en ? atoi(en + 8) : 0;
    if (code > 0 && colon) {
        char buf[128];
        const char *why = strerror_r(code, buf, sizeof buf); /* GNU variant */
        snprintf(in->text, sizeof in->text, "%s (%.*s)", why, (int)(colon - desc), desc);
    } else if (minor[0] && desc[0]) {
        snprintf(in->text, sizeof in->text, "%s (%s)", desc, minor);
    } else {
        snprintf(in->text, sizeof in->text, "%s", desc[0] ? desc : minor);
    }
    for (char *c = in->text; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    in->got = 1;
    return 0;
}

/* HDF5 automatic error handler installed by eoff: prints nothing, records
 * the innermost description of the failed call's stack in h5_last. */
static herr_t capture_cb(hid_t estack, void *data)
{
    (void)data;
    struct inner in = {"", 0};
    H5Ewalk2(estack, H5E_WALK_UPWARD, walk_cb, &in);
    if (in.got && in.text[0])
        snprintf(h5_last, sizeof h5_last, "%s", in.text);
    return 0;
}

/* Forgets an HDF5 failure that is expected and handled (clears the stack
 * and h5_last, so a later message does not give it as the reason). */
static void forget(void)
{
    H5Eclear2(H5E_DEFAULT);
    h5_last[0] = '\0';
}

/* Formats "<our message>: <description of the last failed HDF5 call>" into
 * err, clears the HDF5 error stack and returns NK_H5OUT_EIO. */
static int h5fail(char *err, size_t errlen, const char *fmt, ...)
{
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    H5Eclear2(H5E_DEFAULT);
    if (h5_last[0])
        set_err(err, errlen, "%s: %s", head, h5_last);
    else
        set_err(err, errlen, "%s: HDF5 error", head);
    return NK_H5OUT_EIO;
}

/* ---- small helpers ----------------------------------------------------- */

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Returns a malloc'ed "<path>.part" or NULL. */
static char *part_name(const char *path)
{
    size_t n = strlen(path);
    char *p = malloc(n + 6);
    if (p) {
        memcpy(p, path, n);
        memcpy(p + n, ".part", 6);
    }
    return p;
}

/* Returns a malloc'ed directory part of path ("." when there is no '/'),
 * or NULL when out of memory. */
static char *dir_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return dupstr(".");
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1; /* "/x" -> "/" */
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
    if (*id >= 0)
        fn(*id);
    *id = H5I_INVALID_HID;
}

/* Set (nk_hdf5_taint) once H5Fclose failed on a file (a write failed: a
 * full disk, a file-size limit, where make_closable cannot help), or a
 * damaged file was read: HDF5 1.10 then crashes closing the library at
 * exit (SIGSEGV in H5F__close_cb, a broken file ID), or prints "infinite
 * loop closing library" and leaks. So HDF5's own exit handler is replaced
 * by h5_exit, which closes the library only when nothing of the kind
 * happened, and otherwise leaves the rest to the system, on every way out
 * of the process (os.exit too). */
static volatile int g_tainted;

void nk_hdf5_taint(void) { g_tainted = 1; }

static void h5_exit(void)
{
    if (!g_tainted)
        H5close();
}

__attribute__((constructor)) static void h5_exit_setup(void)
{
    H5dont_atexit(); /* before the library's first use, which this precedes */
    atexit(h5_exit);
}

/* H5Fclose, noting a failure (g_tainted). */
static herr_t close_file(hid_t fid)
{
    herr_t r = H5Fclose(fid);
    if (r < 0)
        nk_hdf5_taint();
    return r;
}

/* fsyncs the directory holding path; errors are ignored (best effort:
 * some file systems do not support it). */
static void sync_dir(const char *path)
{
    char *dir = dir_name(path);
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* The enum type of the SONATA `sorting` attribute; caller closes it. */
static hid_t sorting_type(void)
{
    hid_t t = H5Tenum_create(H5T_STD_U8LE);
    if (t < 0)
        return t;
    static const char *names[] = {"none", "by_id", "by_time"};
    for (unsigned char v = 0; v < 3; v++) {
        if (H5Tenum_insert(t, names[v], &v) < 0) {
            H5Tclose(t);
            return H5I_INVALID_HID;
        }
    }
    return t;
}

/* Writes (replacing) attribute NAME on object OBJ with file type FTYPE,
 * dataspace SPACE, memory type MTYPE and data BUF. Returns HDF5 status. */
static herr_t put_attr(hid_t obj, const char *name, hid_t ftype, hid_t space, hid_t mtype, const void *buf)
{
    htri_t ex = H5Aexists(obj, name);
    if (ex < 0)
        return -1;
    if (ex > 0 && H5Adelete(obj, name) < 0)
        return -1;
    hid_t a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return -1;
    herr_t rc = H5Awrite(a, mtype, buf);
    if (H5Aclose(a) < 0)
        rc = -1;
    return rc;
}

/* Scalar attribute helpers; return HDF5 status. */
static herr_t put_scalar(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *buf)
{
    hid_t s = H5Screate(H5S_SCALAR);
    if (s < 0)
        return -1;
    herr_t rc = put_attr(obj, name, ftype, s, mtype, buf);
    H5Sclose(s);
    return rc;
}

static herr_t put_string(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    herr_t rc = -1;
    if (H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0)
        rc = put_scalar(obj, name, t, t, &value);
    H5Tclose(t);
    return rc;
}

static herr_t put_sorting(hid_t grp, int sorting)
{
    hid_t t = sorting_type();
    if (t < 0)
        return -1;
    unsigned char v = (unsigned char)sorting;
    herr_t rc = put_scalar(grp, "sorting", t, t, &v);
    H5Tclose(t);
    return rc;
}

/* Writes the SONATA header attributes magic and version on the root. */
static herr_t put_header(hid_t fid)
{
    uint32_t magic = SONATA_MAGIC;
    if (put_scalar(fid, "magic", H5T_STD_U32LE, H5T_NATIVE_UINT32, &magic) < 0)
        return -1;
    uint32_t version[2] = {0, 1};
    hsize_t two = 2;
    hid_t s = H5Screate_simple(1, &two, NULL);
    if (s < 0)
        return -1;
    herr_t rc = put_attr(fid, "version", H5T_STD_U32LE, s, H5T_NATIVE_UINT32, version);
    H5Sclose(s);
    return rc;
}

/* A file access property list for this module: latest format (SWMR needs
 * it) and strong close. clear_flags: open despite the superblock's "open for
 * write" flags (what h5clear -s does, via the same property). */
static hid_t make_fapl(int clear_flags)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return fapl;
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    if (clear_flags) {
        /* "clear_status_flags" is the (registered but undocumented) file
         * access property that the h5clear tool sets; present in 1.10.x. */
        hbool_t yes = 1;
        if (H5Pset(fapl, "clear_status_flags", &yes) < 0) {
            H5Pclose(fapl);
            return H5I_INVALID_HID;
        }
    }
    return fapl;
}

/* Stores the length of 1-D dataset d in *n and whether its maximum size is
 * unlimited in *unlimited. Returns 0, or -1 when not 1-D or on error. */
static int dset_len(hid_t d, hsize_t *n, int *unlimited)
{
    hid_t s = H5Dget_space(d);
    if (s < 0)
        return -1;
    hsize_t dims[1], maxd[1];
    int rc = -1;
    if (H5Sget_simple_extent_ndims(s) == 1 && H5Sget_simple_extent_dims(s, dims, maxd) == 1) {
        *n = dims[0];
        *unlimited = maxd[0] == H5S_UNLIMITED;
        rc = 0;
    }
    H5Sclose(s);
    return rc;
}

/* Makes h->fid closable after a write failure. HDF5 1.10 cannot close a
 * file whose last writes fail (a full disk): H5Fclose fails but frees the
 * file's state anyway and leaves its ID behind, and at exit the library
 * then crashes on it or prints "infinite loop closing library" (fixed in
 * HDF5 1.14.1); the file also stays "open" for the rest of the process.
 * So: if flushing fails, HDF5's remaining writes are diverted into an
 * anonymous memory file (Linux memfd, put in place of the sec2 driver's
 * descriptor with dup3) and thrown away at close. PATH.part then keeps
 * what was written before, like after a crash, which append mode
 * recovers. (Reads HDF5 might make during the close see zeros there; with
 * metadata that HDF5 has evicted, the close can still fail.) Assumes
 * errors off. */
static void make_closable(nk_h5out *h)
{
    if (H5Fflush(h->fid, H5F_SCOPE_LOCAL) >= 0)
        return;
    forget();
#ifdef MFD_CLOEXEC
    void *vfd = NULL;
    if (H5Fget_vfd_handle(h->fid, H5P_DEFAULT, &vfd) < 0 || !vfd) {
        forget(); /* not the sec2 driver */
        return;
    }
    int m = memfd_create("nk_h5out-discard", MFD_CLOEXEC);
    if (m >= 0) {
        (void)dup3(m, *(int *)vfd, O_CLOEXEC);
        close(m);
    }
#endif
}

/* ---- verify ---------------------------------------------------------------- */

static herr_t visit_cb(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    (void)obj, (void)name, (void)info, (void)data;
    return 0;
}

int nk_h5out_verify(const char *path, char *err, size_t errlen)
{
    esave es;
    eoff(&es);
    int rc = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        rc = h5fail(err, errlen, "cannot open '%s'", path);
    else if (H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit_cb, NULL, H5O_INFO_BASIC) < 0)
        rc = h5fail(err, errlen, "cannot read the objects of '%s'", path);
    if (f >= 0)
        H5Fclose(f);
    if (rc)
        nk_hdf5_taint();
    return eon(&es, rc);
}

/* ---- root_str ---------------------------------------------------------- */

/* Attribute a (open) as a string into buf: 1, or NK_H5OUT_EIO. */
static int read_str_attr(hid_t a, char *buf, size_t buflen)
{
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    int rc = NK_H5OUT_EIO;
    if (t < 0 || s < 0) {
        /* rc stays EIO */
    } else if (H5Tget_class(t) != H5T_STRING || H5Sget_simple_extent_type(s) != H5S_SCALAR) {
        set_err(buf, buflen, "(not a string)");
        rc = 1;
    } else if (H5Tis_variable_str(t) > 0) {
        hid_t m = H5Tcopy(H5T_C_S1);
        char *v = NULL;
        if (m >= 0 && H5Tset_size(m, H5T_VARIABLE) >= 0 &&
            H5Tset_cset(m, H5Tget_cset(t)) >= 0 && H5Aread(a, m, &v) >= 0) {
            set_err(buf, buflen, "%s", v ? v : "");
            rc = 1;
        }
        if (v)
            H5free_memory(v);
        if (m >= 0)
            H5Tclose(m);
    } else {
        size_t n = H5Tget_size(t);
        char *v = n ? calloc(n + 1, 1) : NULL;
        if (v && H5Aread(a, t, v) >= 0) {
            set_err(buf, buflen, "%s", v);
            rc = 1;
        }
        free(v);
    }
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
    return rc;
}

int nk_h5out_root_str(const char *path, const char *name, char *buf, size_t buflen, char *err,
                      size_t errlen)
{
    if (buf && buflen)
        buf[0] = '\0';
    esave es;
    eoff(&es);
    htri_t is = H5Fis_hdf5(path);
    if (is == 0) {
        forget();
        set_err(err, errlen, "'%s' is not an HDF5 file", path);
        return eon(&es, NK_H5OUT_EINVAL);
    }
    hid_t f = is > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : H5I_INVALID_HID;
    if (is > 0 && f < 0) { /* marked as open for writing: a .part */
        forget();
        f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    }
    if (f < 0) {
        nk_hdf5_taint(); /* it may be damaged */
        return eon(&es, h5fail(err, errlen, "cannot open '%s'", path));
    }
    int rc = 0;
    htri_t has = H5Aexists(f, name);
    if (has < 0) {
        rc = h5fail(err, errlen, "cannot read the attributes of '%s'", path);
    } else if (has) {
        hid_t a = H5Aopen(f, name, H5P_DEFAULT);
        rc = a < 0 ? NK_H5OUT_EIO : read_str_attr(a, buf, buflen);
        if (a >= 0)
            H5Aclose(a);
        if (rc < 0)
            rc = h5fail(err, errlen, "cannot read attribute '%s' of '%s'", name, path);
    }
    if (H5Fclose(f) < 0)
        forget();
    return eon(&es, rc);
}

/* ---- check_writable ---------------------------------------------------- */

/* 1, with err filled, when the last component of part (the name a run
 * writes: NAME.part) is longer than directory dir allows, or the whole
 * path longer than the system's limit; creating it would fail at the first
 * run. */
static int name_too_long(const char *part, const char *dir, char *err, size_t errlen)
{
    const char *base = strrchr(part, '/');
    base = base ? base + 1 : part;
    long most = pathconf(dir, _PC_NAME_MAX);
    if (most > 0 && (long)strlen(base) > most) {
        set_err(err, errlen,
                "the output file name '%.60s...' is %zu characters, and with '.part' (the name a "
                "run writes until it is complete) %zu, more than the %ld its directory allows",
                base, strlen(base) - 5, strlen(base), most);
        return 1;
    }
    long pmost = pathconf(dir, _PC_PATH_MAX);
    if (pmost > 0 && (long)strlen(part) >= pmost) {
        set_err(err, errlen,
                "the output path '%.60s...' is %zu characters with '.part' (the name a run "
                "writes until it is complete), more than the %ld the system allows",
                part, strlen(part), pmost - 1);
        return 1;
    }
    return 0;
}

int nk_h5out_check_writable(const char *path, char *err, size_t errlen)
{
    if (!path || !path[0]) {
        set_err(err, errlen, "no output file name given");
        return NK_H5OUT_EINVAL;
    }
    size_t len = strlen(path);
    if (path[len - 1] == '/') {
        set_err(err, errlen, "output file name '%s' names a directory", path);
        return NK_H5OUT_EINVAL;
    }
    char *part = part_name(path);
    char *dir = dir_name(path);
    int rc = 0;
    struct stat st;
    if (!part || !dir) {
        set_err(err, errlen, "cannot check '%s': out of memory", path);
        rc = NK_H5OUT_EIO;
    } else if (stat(dir, &st) != 0) {
        set_err(err, errlen, "cannot create '%s': %s", part, strerror(errno));
        rc = NK_H5OUT_EIO;
    } else if (!S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "cannot create '%s': %s", part, strerror(ENOTDIR));
        rc = NK_H5OUT_EIO;
    } else if (access(dir, W_OK | X_OK) != 0) {
        set_err(err, errlen, "cannot create '%s': %s", part, strerror(errno));
        rc = NK_H5OUT_EIO;
    } else if (name_too_long(part, dir, err, errlen)) {
        rc = NK_H5OUT_EINVAL;
    } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "cannot write '%s': %s", path, strerror(EISDIR));
        rc = NK_H5OUT_EIO;
    } else if (stat(part, &st) == 0 && S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "cannot create '%s': %s", part, strerror(EISDIR));
        rc = NK_H5OUT_EIO;
    } else if ((stat(path, &st) == 0 && !S_ISREG(st.st_mode)) ||
               (stat(part, &st) == 0 && !S_ISREG(st.st_mode))) {
        /* a FIFO, a device or a socket: the finished file would replace it */
        set_err(err, errlen, "'%s' exists and is not a regular file (a FIFO, a device or a "
                             "socket); give the path of a regular file or of a new one",
                stat(path, &st) == 0 && !S_ISREG(st.st_mode) ? path : part);
        rc = NK_H5OUT_EINVAL;
    }
    free(part);
    free(dir);
    return rc;
}

/* ---- open -------------------------------------------------------------- */

/* Frees h and everything it owns; closes whatever HDF5 ids are open. */
static void destroy(nk_h5out *h)
{
    for (int i = 0; i < h->npops; i++) {
        struct pop *p = &h->pops[i];
        close_id(&p->ts, H5Dclose);
        close_id(&p->ids, H5Dclose);
        close_id(&p->grp, H5Gclose);
        free(p->name);
        free(p->bt);
        free(p->bi);
    }
    free(h->pops);
    for (int i = 0; i < h->ntabs; i++) {
        struct table *t = &h->tabs[i];
        close_id(&t->d, H5Dclose);
        close_id(&t->time, H5Dclose);
        free(t->name);
        free(t->buf);
    }
    free(h->tabs);
    close_id(&h->spikes, H5Gclose);
    close_id(&h->fid, close_file);
    if (h->lockfd >= 0)
        close(h->lockfd);
    free(h->path);
    free(h->part);
    free(h);
}

/* Recovery: makes timestamps and node_ids of the population group NAME in
 * SPIKES equally long (the shorter length). Returns HDF5 status. */
static herr_t reconcile_one(hid_t spikes, const char *name)
{
    hid_t g = H5Gopen2(spikes, name, H5P_DEFAULT);
    if (g < 0) {
        forget(); /* not a group: not ours to repair */
        return 0;
    }
    herr_t rc = 0;
    hid_t ts = H5Dopen2(g, "timestamps", H5P_DEFAULT);
    hid_t ids = ts >= 0 ? H5Dopen2(g, "node_ids", H5P_DEFAULT) : H5I_INVALID_HID;
    if (ts >= 0 && ids >= 0) {
        hsize_t a, b;
        int ua, ub;
        if (dset_len(ts, &a, &ua) == 0 && dset_len(ids, &b, &ub) == 0 && a != b && ua && ub) {
            hsize_t m = a < b ? a : b;
            if (H5Dset_extent(ts, &m) < 0 || H5Dset_extent(ids, &m) < 0)
                rc = -1;
        }
    }
    if (rc == 0)
        forget(); /* missing datasets: not ours to repair */
    if (ids >= 0)
        H5Dclose(ids);
    if (ts >= 0)
        H5Dclose(ts);
    H5Gclose(g);
    return rc;
}

/* Recovery: reconcile_one on every link in SPIKES (by index, which reads
 * the same in HDF5 1.10 and later, unlike H5Literate). */
static herr_t reconcile_all(hid_t spikes)
{
    H5G_info_t gi;
    if (H5Gget_info(spikes, &gi) < 0)
        return -1;
    for (hsize_t i = 0; i < gi.nlinks; i++) {
        char name[1024];
        ssize_t len = H5Lget_name_by_idx(spikes, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                         H5P_DEFAULT);
        if (len < 0)
            return -1;
        if ((size_t)len >= sizeof name)
            continue; /* not a name this module writes */
        if (reconcile_one(spikes, name) < 0)
            return -1;
    }
    return 0;
}

/* Reads the float64[3] time dataset T (the report's mapping/time) into tv.
 * Returns 0, or -1 when T has another shape or type or on error. */
static int time_read(hid_t t, double tv[3])
{
    hid_t s = H5Dget_space(t), ft = H5Dget_type(t);
    hsize_t dim = 0;
    int ok = s >= 0 && ft >= 0 && H5Tget_class(ft) == H5T_FLOAT && H5Sget_simple_extent_ndims(s) == 1 &&
             H5Sget_simple_extent_dims(s, &dim, NULL) == 1 && dim == 3;
    if (ft >= 0)
        H5Tclose(ft);
    if (s >= 0)
        H5Sclose(s);
    if (!ok || H5Dread(t, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) < 0)
        return -1;
    return 0;
}

/* Number of rows (first dimension) of dataset D, or -1. */
static int64_t dset_rows(hid_t d)
{
    hid_t s = H5Dget_space(d);
    if (s < 0)
        return -1;
    hsize_t dims[H5S_MAX_RANK];
    int nd = H5Sget_simple_extent_ndims(s);
    int64_t n = -1;
    if (nd >= 1 && nd <= H5S_MAX_RANK && H5Sget_simple_extent_dims(s, dims, NULL) == nd)
        n = (int64_t)dims[0];
    H5Sclose(s);
    return n;
}

/* Recovery: when group G looks like a report (a dataset "data" and a
 * float[3] dataset "mapping/time" with a positive step), rewrites its
 * time[1] as time[0] + rows * step. Anything else is left alone. Returns
 * HDF5 status (-1 only when the write fails). */
static herr_t fix_report_time(hid_t g)
{
    if (H5Lexists(g, "data", H5P_DEFAULT) <= 0 || H5Lexists(g, "mapping", H5P_DEFAULT) <= 0 ||
        H5Lexists(g, "mapping/time", H5P_DEFAULT) <= 0) {
        forget();
        return 0;
    }
    hid_t d = H5Dopen2(g, "data", H5P_DEFAULT);
    hid_t t = d >= 0 ? H5Dopen2(g, "mapping/time", H5P_DEFAULT) : H5I_INVALID_HID;
    herr_t rc = 0;
    double tv[3];
    int64_t rows = d >= 0 ? dset_rows(d) : -1;
    if (t >= 0 && rows >= 0 && time_read(t, tv) == 0 && tv[2] > 0 && isfinite(tv[0]) && isfinite(tv[2])) {
        double stop = tv[0] + (double)rows * tv[2];
        if (stop != tv[1]) {
            tv[1] = stop;
            rc = H5Dwrite(t, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) < 0 ? -1 : 0;
        }
    }
    if (rc == 0)
        forget(); /* not a report of ours: not ours to repair */
    if (t >= 0)
        H5Dclose(t);
    if (d >= 0)
        H5Dclose(d);
    return rc;
}

/* Recovery: fix_report_time on G and, through hard links, every group
 * below it (to a depth of 16; names longer than 1 KiB are skipped).
 * Returns HDF5 status. */
static herr_t fix_report_times(hid_t g, int depth)
{
    if (fix_report_time(g) < 0)
        return -1;
    if (depth >= 16)
        return 0;
    H5G_info_t gi;
    if (H5Gget_info(g, &gi) < 0)
        return -1;
    for (hsize_t i = 0; i < gi.nlinks; i++) {
        char name[1024];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        if (len < 0)
            return -1;
        if ((size_t)len >= sizeof name)
            continue;
        H5L_info_t li;
        if (H5Lget_info(g, name, &li, H5P_DEFAULT) < 0 || li.type != H5L_TYPE_HARD) {
            forget();
            continue;
        }
        hid_t o = H5Oopen(g, name, H5P_DEFAULT);
        if (o < 0) {
            forget();
            continue;
        }
        herr_t rc = H5Iget_type(o) == H5I_GROUP ? fix_report_times(o, depth + 1) : 0;
        H5Oclose(o);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Opens h->part (creating it empty when create and it is missing) and
 * takes the writer lock on it (see the top of this file). Sets *busy when
 * another writer holds the lock. Returns 0, or NK_H5OUT_EIO with err
 * filled (file not openable, or busy). */
static int lock_part(nk_h5out *h, int create, int *busy, char *err, size_t errlen)
{
    *busy = 0;
    int fd = open(h->part, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0666);
    if (fd < 0) {
        set_err(err, errlen, "cannot %s '%s': %s", create ? "create" : "open", h->part, strerror(errno));
        return NK_H5OUT_EIO;
    }
    h->lockfd = fd;
#ifdef F_OFD_SETLK
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file */
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        if (errno == EAGAIN || errno == EACCES) {
            *busy = 1;
            set_err(err, errlen, "cannot write '%s': it is being written by another process "
                                 "(or another open output handle)",
                    h->part);
            return NK_H5OUT_EIO;
        }
        /* ENOLCK, EINVAL...: the file system cannot lock; go on unlocked. */
    }
#endif
    return 0;
}

/* Creates h->part fresh. Returns 0 or NK_H5OUT_EIO with err filled. */
static int create_file(nk_h5out *h, char *err, size_t errlen)
{
    hid_t fapl = make_fapl(0);
    if (fapl < 0)
        return h5fail(err, errlen, "cannot create '%s'", h->part);
    h->fid = H5Fcreate(h->part, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (h->fid < 0)
        return h5fail(err, errlen, "cannot create '%s'", h->part);
    if (put_header(h->fid) < 0)
        return h5fail(err, errlen, "cannot write the SONATA header attributes of '%s'", h->part);
    return 0;
}

/* Opens the existing h->part read-write. recovering: it is left from a
 * crashed run (clear flags, raise EOA, reconcile lengths). SHOWN is the
 * file name for messages (PATH when PATH.part will be renamed back on
 * failure). Returns 0 or NK_H5OUT_EIO with err filled. */
static int open_existing(nk_h5out *h, int recovering, const char *shown, char *err, size_t errlen)
{
    htri_t is = H5Fis_hdf5(h->part);
    if (is <= 0) {
        forget();
        set_err(err, errlen, "cannot append to '%s': not an HDF5 file", shown);
        return NK_H5OUT_EIO;
    }
    hid_t fapl = make_fapl(recovering);
    if (fapl < 0)
        return h5fail(err, errlen, "cannot open '%s'", shown);
    h->fid = H5Fopen(h->part, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (h->fid < 0)
        return h5fail(err, errlen, "cannot open '%s' for appending", shown);

    H5F_info2_t info;
    if (H5Fget_info2(h->fid, &info) < 0)
        return h5fail(err, errlen, "cannot inspect '%s'", shown);
    if (info.super.version < 3) {
        set_err(err, errlen,
                "cannot append to '%s': it uses an HDF5 file format older than 1.10 "
                "(superblock version %u), which cannot be written in SWMR mode",
                shown, info.super.version);
        return NK_H5OUT_EIO;
    }
    if (recovering && H5Fincrement_filesize(h->fid, 0) < 0)
        return h5fail(err, errlen, "cannot recover '%s'", shown);

    htri_t has_magic = H5Aexists(h->fid, "magic");
    if (has_magic < 0)
        return h5fail(err, errlen, "cannot read the attributes of '%s'", shown);
    if (!has_magic && put_header(h->fid) < 0)
        return h5fail(err, errlen, "cannot write the SONATA header attributes of '%s'", shown);

    htri_t has_spikes = H5Lexists(h->fid, "spikes", H5P_DEFAULT);
    if (has_spikes < 0)
        return h5fail(err, errlen, "cannot read '%s'", shown);
    if (has_spikes) {
        h->spikes = H5Gopen2(h->fid, "spikes", H5P_DEFAULT);
        if (h->spikes < 0)
            return h5fail(err, errlen, "cannot open group /spikes in '%s'", shown);
        if (recovering && reconcile_all(h->spikes) < 0)
            return h5fail(err, errlen, "cannot repair the spike datasets of '%s'", shown);
    }
    if (recovering) {
        hid_t root = H5Gopen2(h->fid, "/", H5P_DEFAULT);
        herr_t rc = root < 0 ? -1 : fix_report_times(root, 0);
        if (root >= 0)
            H5Gclose(root);
        if (rc < 0)
            return h5fail(err, errlen, "cannot repair the report time axes of '%s'", shown);
    }
    return 0;
}

nk_h5out *nk_h5out_open(const char *path, int append, char *err, size_t errlen)
{
    if (nk_h5out_check_writable(path, err, errlen) < 0)
        return NULL;
    nk_h5out *h = calloc(1, sizeof *h);
    if (!h || !(h->path = dupstr(path)) || !(h->part = part_name(path))) {
        set_err(err, errlen, "cannot open '%s': out of memory", path);
        if (h) {
            free(h->path);
            free(h);
        }
        return NULL;
    }
    h->fid = H5I_INVALID_HID;
    h->spikes = H5I_INVALID_HID;
    h->lockfd = -1;

    esave es;
    eoff(&es);
    struct stat st;
    int have_path = stat(h->path, &st) == 0;
    int have_part = stat(h->part, &st) == 0;
    int rc;
    int renamed = 0, created = 0, busy = 0;
    if (!append || (!have_path && !have_part)) {
        rc = lock_part(h, 1, &busy, err, errlen);
        created = !have_part && h->lockfd >= 0;
        if (rc == 0)
            rc = create_file(h, err, errlen);
    } else if (have_path && have_part) {
        rc = lock_part(h, 0, &busy, err, errlen); /* a live writer's? say so */
        if (rc == 0)
            set_err(err, errlen,
                    "cannot append to '%s': '%s' also exists (left by an interrupted run); "
                    "remove one of them",
                    h->path, h->part);
        rc = NK_H5OUT_EIO;
    } else if (have_path) {
        if (rename(h->path, h->part) != 0) {
            set_err(err, errlen, "cannot rename '%s' to '%s': %s", h->path, h->part, strerror(errno));
            rc = NK_H5OUT_EIO;
        } else {
            renamed = 1;
            rc = lock_part(h, 0, &busy, err, errlen);
            if (rc == 0)
                rc = open_existing(h, 0, h->path, err, errlen);
        }
    } else {
        rc = lock_part(h, 0, &busy, err, errlen);
        if (rc == 0)
            rc = open_existing(h, 1, h->part, err, errlen);
    }
    h->renamed = renamed;
    if (rc < 0) {
        /* Close HDF5, then undo the rename / remove the fresh file unless
         * another writer holds it (then it is theirs now). */
        close_id(&h->spikes, H5Gclose);
        if (h->fid >= 0)
            make_closable(h);
        close_id(&h->fid, close_file);
        if (renamed && !busy)
            (void)rename(h->part, h->path);
        if (created && !busy)
            (void)unlink(h->part);
        destroy(h);
        forget();
        eon(&es, 0);
        return NULL;
    }
    eon(&es, 0);
    return h;
}

/* ---- setup phase ------------------------------------------------------- */

/* Common argument / phase check for setup functions. */
static int setup_ok(nk_h5out *h, const char *what, char *err, size_t errlen)
{
    if (!h) {
        set_err(err, errlen, "%s: no output file", what);
        return 0;
    }
    if (h->begun) {
        set_err(err, errlen, "%s: '%s' is already being written (after begin, nothing can be added)", what,
                h->part);
        return 0;
    }
    return 1;
}

static int valid_pop_name(const char *s)
{
    return s && s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Opens the existing datasets of population P (group already open) and
 * checks them. Returns 0 or NK_H5OUT_EIO with err filled. */
static int open_pop(nk_h5out *h, struct pop *p, char *err, size_t errlen)
{
    p->ts = H5Dopen2(p->grp, "timestamps", H5P_DEFAULT);
    if (p->ts < 0)
        return h5fail(err, errlen, "cannot open /spikes/%s/timestamps in '%s'", p->name, h->part);
    p->ids = H5Dopen2(p->grp, "node_ids", H5P_DEFAULT);
    if (p->ids < 0)
        return h5fail(err, errlen, "cannot open /spikes/%s/node_ids in '%s'", p->name, h->part);
    hid_t tt = H5Dget_type(p->ts), it = H5Dget_type(p->ids);
    int ok = tt >= 0 && it >= 0 && H5Tget_class(tt) == H5T_FLOAT && H5Tget_size(tt) == 8 &&
             H5Tget_class(it) == H5T_INTEGER && H5Tget_size(it) == 8;
    if (tt >= 0)
        H5Tclose(tt);
    if (it >= 0)
        H5Tclose(it);
    if (!ok) {
        forget();
        set_err(err, errlen,
                "cannot append to /spikes/%s in '%s': timestamps must be 8-byte floats and "
                "node_ids 8-byte integers",
                p->name, h->part);
        return NK_H5OUT_EIO;
    }
    hsize_t a, b;
    int ua, ub;
    if (dset_len(p->ts, &a, &ua) < 0 || dset_len(p->ids, &b, &ub) < 0) {
        forget();
        set_err(err, errlen, "cannot append to /spikes/%s in '%s': datasets are not 1-D", p->name, h->part);
        return NK_H5OUT_EIO;
    }
    if (!ua || !ub) {
        set_err(err, errlen, "cannot append to /spikes/%s in '%s': datasets are not extendible", p->name,
                h->part);
        return NK_H5OUT_EIO;
    }
    if (a != b) {
        set_err(err, errlen,
                "cannot append to /spikes/%s in '%s': timestamps (%llu) and node_ids (%llu) "
                "differ in length",
                p->name, h->part, (unsigned long long)a, (unsigned long long)b);
        return NK_H5OUT_EIO;
    }
    p->n = a;
    htri_t hu = H5Aexists(p->ts, "units");
    if (hu < 0 || (!hu && put_string(p->ts, "units", "ms") < 0))
        return h5fail(err, errlen, "cannot set units of /spikes/%s/timestamps in '%s'", p->name, h->part);
    return 0;
}

/* Creates one extendible chunked 1-D dataset NAME of type FTYPE in G. */
static hid_t make_dset(hid_t g, const char *name, hid_t ftype)
{
    hsize_t zero = 0, unl = H5S_UNLIMITED, chunk = NK_H5OUT_CHUNK;
    hid_t s = H5Screate_simple(1, &zero, &unl);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = H5I_INVALID_HID;
    if (s >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0)
        d = H5Dcreate2(g, name, ftype, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (s >= 0)
        H5Sclose(s);
    return d;
}

/* Creates the datasets of the new population P (group already open).
 * Returns 0 or NK_H5OUT_EIO with err filled. */
static int create_pop(nk_h5out *h, struct pop *p, char *err, size_t errlen)
{
    p->ts = make_dset(p->grp, "timestamps", H5T_IEEE_F64LE);
    if (p->ts < 0)
        return h5fail(err, errlen, "cannot create /spikes/%s/timestamps in '%s'", p->name, h->part);
    if (put_string(p->ts, "units", "ms") < 0)
        return h5fail(err, errlen, "cannot set units of /spikes/%s/timestamps in '%s'", p->name, h->part);
    p->ids = make_dset(p->grp, "node_ids", H5T_STD_U64LE);
    if (p->ids < 0)
        return h5fail(err, errlen, "cannot create /spikes/%s/node_ids in '%s'", p->name, h->part);
    p->n = 0;
    return 0;
}

int nk_h5out_spikes(nk_h5out *h, const char *population, int sorting, char *err, size_t errlen)
{
    if (!setup_ok(h, "cannot add a spike population", err, errlen))
        return NK_H5OUT_EINVAL;
    if (!valid_pop_name(population)) {
        set_err(err, errlen, "invalid spike population name '%s'", population ? population : "(null)");
        return NK_H5OUT_EINVAL;
    }
    if (sorting < NK_H5_SORT_NONE || sorting > NK_H5_SORT_BY_TIME) {
        set_err(err, errlen, "invalid sorting %d for spike population '%s'", sorting, population);
        return NK_H5OUT_EINVAL;
    }
    esave es;
    eoff(&es);
    for (int i = 0; i < h->npops; i++) {
        if (strcmp(h->pops[i].name, population) == 0) {
            if (put_sorting(h->pops[i].grp, sorting) < 0)
                return eon(&es, h5fail(err, errlen, "cannot set sorting of /spikes/%s in '%s'", population,
                                       h->part));
            return eon(&es, i);
        }
    }
    if (h->npops == h->cap) {
        int cap = h->cap ? 2 * h->cap : 4;
        struct pop *np = realloc(h->pops, (size_t)cap * sizeof *np);
        if (!np) {
            set_err(err, errlen, "cannot add spike population '%s': out of memory", population);
            return eon(&es, NK_H5OUT_EIO);
        }
        h->pops = np;
        h->cap = cap;
    }
    if (h->spikes < 0) {
        htri_t ex = H5Lexists(h->fid, "spikes", H5P_DEFAULT);
        h->spikes = ex > 0 ? H5Gopen2(h->fid, "spikes", H5P_DEFAULT)
                  : ex == 0 ? H5Gcreate2(h->fid, "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                            : H5I_INVALID_HID;
        if (h->spikes < 0)
            return eon(&es, h5fail(err, errlen, "cannot create group /spikes in '%s'", h->part));
    }
    struct pop p = {NULL, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, 0, NULL, NULL, 0};
    if (!(p.name = dupstr(population))) {
        set_err(err, errlen, "cannot add spike population '%s': out of memory", population);
        return eon(&es, NK_H5OUT_EIO);
    }
    int rc;
    htri_t ex = H5Lexists(h->spikes, population, H5P_DEFAULT);
    if (ex < 0) {
        rc = h5fail(err, errlen, "cannot look up /spikes/%s in '%s'", population, h->part);
    } else if (ex > 0) {
        p.grp = H5Gopen2(h->spikes, population, H5P_DEFAULT);
        rc = p.grp < 0 ? h5fail(err, errlen, "cannot open group /spikes/%s in '%s'", population, h->part)
                       : open_pop(h, &p, err, errlen);
    } else {
        p.grp = H5Gcreate2(h->spikes, population, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        rc = p.grp < 0 ? h5fail(err, errlen, "cannot create group /spikes/%s in '%s'", population, h->part)
                       : create_pop(h, &p, err, errlen);
    }
    if (rc == 0 && put_sorting(p.grp, sorting) < 0)
        rc = h5fail(err, errlen, "cannot set sorting of /spikes/%s in '%s'", population, h->part);
    if (rc < 0) {
        /* A half-created population stays in the file but unused; the
         * caller gets the error and normally closes with complete=0. */
        close_id(&p.ts, H5Dclose);
        close_id(&p.ids, H5Dclose);
        close_id(&p.grp, H5Gclose);
        free(p.name);
        forget();
        return eon(&es, rc);
    }
    h->pops[h->npops] = p;
    return eon(&es, h->npops++);
}

/* Common checks for the attribute setters. */
static int attr_ok(nk_h5out *h, const char *name, char *err, size_t errlen)
{
    if (!setup_ok(h, "cannot set a metadata attribute", err, errlen))
        return 0;
    if (!name || !name[0] || strcmp(name, "magic") == 0 || strcmp(name, "version") == 0) {
        set_err(err, errlen, "invalid metadata attribute name '%s'", name ? name : "(null)");
        return 0;
    }
    return 1;
}

int nk_h5out_attr_str(nk_h5out *h, const char *name, const char *value, char *err, size_t errlen)
{
    if (!attr_ok(h, name, err, errlen))
        return NK_H5OUT_EINVAL;
    if (!value) {
        set_err(err, errlen, "metadata attribute '%s' has no value", name);
        return NK_H5OUT_EINVAL;
    }
    esave es;
    eoff(&es);
    if (put_string(h->fid, name, value) < 0)
        return eon(&es, h5fail(err, errlen, "cannot write attribute '%s' in '%s'", name, h->part));
    return eon(&es, 0);
}

int nk_h5out_attr_double(nk_h5out *h, const char *name, double value, char *err, size_t errlen)
{
    if (!attr_ok(h, name, err, errlen))
        return NK_H5OUT_EINVAL;
    esave es;
    eoff(&es);
    if (put_scalar(h->fid, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value) < 0)
        return eon(&es, h5fail(err, errlen, "cannot write attribute '%s' in '%s'", name, h->part));
    return eon(&es, 0);
}

int nk_h5out_attr_u64(nk_h5out *h, const char *name, uint64_t value, char *err, size_t errlen)
{
    if (!attr_ok(h, name, err, errlen))
        return NK_H5OUT_EINVAL;
    esave es;
    eoff(&es);
    if (put_scalar(h->fid, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &value) < 0)
        return eon(&es, h5fail(err, errlen, "cannot write attribute '%s' in '%s'", name, h->part));
    return eon(&es, 0);
}

/* ---- reports and tables: setup ---------------------------------------- */

/* An absolute HDF5 path of '/'-separated names, none empty, "." or "..". */
static int valid_abs_path(const char *s)
{
    if (!s || s[0] != '/' || !s[1])
        return 0;
    const char *c = s + 1;
    for (;;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        if (!e)
            return 1;
        c = e + 1;
    }
}

/* Whether the object at absolute PATH exists: 1 yes, 0 no (PATH or one of
 * its parents missing), -1 HDF5 error, -2 a parent exists but is not a
 * group (its path is written into bad). */
static int path_state(hid_t fid, const char *path, char *bad, size_t badlen)
{
    char *buf = dupstr(path);
    if (!buf)
        return -1;
    int rc = 1;
    for (size_t i = 1; rc == 1; i++) {
        char c = buf[i];
        if (c != '/' && c != '\0')
            continue;
        buf[i] = '\0';
        htri_t ex = H5Lexists(fid, buf, H5P_DEFAULT);
        if (ex <= 0) {
            rc = ex < 0 ? -1 : 0;
        } else if (c == '/') {
            hid_t o = H5Oopen(fid, buf, H5P_DEFAULT);
            if (o < 0) {
                rc = -1;
            } else {
                if (H5Iget_type(o) != H5I_GROUP) {
                    snprintf(bad, badlen, "%s", buf);
                    rc = -2;
                }
                H5Oclose(o);
            }
        }
        buf[i] = c;
        if (c == '\0')
            break;
    }
    free(buf);
    return rc;
}

/* Link creation properties: missing parent groups are created, names are
 * UTF-8. Caller closes. */
static hid_t make_lcpl(void)
{
    hid_t l = H5Pcreate(H5P_LINK_CREATE);
    if (l >= 0 && (H5Pset_create_intermediate_group(l, 1) < 0 || H5Pset_char_encoding(l, H5T_CSET_UTF8) < 0)) {
        H5Pclose(l);
        return H5I_INVALID_HID;
    }
    return l;
}

/* Chunk shape of a table of WIDTH values per row of ESIZE bytes: whole rows
 * of about NK_H5OUT_TCHUNK bytes, one row of up to NK_H5OUT_TCHUNK_MAX, or a
 * part of one row of NK_H5OUT_TCHUNK_MAX. chunk[1] is unused for 1-D. */
static void table_chunk(size_t width, size_t esize, hsize_t chunk[2])
{
    size_t rb = width * esize;
    chunk[1] = width;
    if (rb <= NK_H5OUT_TCHUNK) {
        chunk[0] = NK_H5OUT_TCHUNK / rb;
    } else {
        chunk[0] = 1;
        if (rb > NK_H5OUT_TCHUNK_MAX)
            chunk[1] = NK_H5OUT_TCHUNK_MAX / esize;
    }
}

/* Sets t->cap: rows in about NK_H5OUT_TBUF bytes (at least 1), a whole
 * number of CHUNK_ROWS when it holds at least that many, so that the
 * writes of full buffers are chunk-aligned. */
static void table_cap(struct table *t, hsize_t chunk_rows)
{
    size_t rb = t->width * (t->f64 ? 8 : 4);
    size_t cap = NK_H5OUT_TBUF / rb;
    if (cap == 0)
        cap = 1;
    if (chunk_rows > 0 && chunk_rows <= cap)
        cap -= cap % (size_t)chunk_rows;
    t->cap = cap;
}

/* Creates the empty growing dataset NAME (relative to LOC, or absolute) of
 * table T (t->ncols, t->f64 set) and sets t->d and t->cap. Returns HDF5
 * status. */
static herr_t create_table_dset(hid_t loc, const char *name, struct table *t)
{
    int rank = t->ncols ? 2 : 1;
    size_t esize = t->f64 ? 8 : 4;
    hsize_t dims[2] = {0, t->ncols}, maxd[2] = {H5S_UNLIMITED, t->ncols}, chunk[2];
    table_chunk(t->width, esize, chunk);
    hid_t s = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t lcpl = make_lcpl();
    if (s >= 0 && dcpl >= 0 && lcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0)
        t->d = H5Dcreate2(loc, name, t->f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, s, lcpl, dcpl, H5P_DEFAULT);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (s >= 0)
        H5Sclose(s);
    table_cap(t, chunk[0]);
    t->n = 0;
    return t->d < 0 ? -1 : 0;
}

/* The dataset path of table T for messages ("GROUP/data" for a report). */
static void table_dset_name(const struct table *t, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s", t->name, t->report ? "/data" : "");
}

/* Checks the existing dataset t->d of table T (t->ncols set): a chunked
 * float32/64 dataset of rank 1 (ncols 0) or 2 with ncols columns and
 * unlimited rows. Takes its rows (t->n), type (t->f64) and chunking
 * (t->cap). Returns 0, NK_H5OUT_EINVAL (other width) or NK_H5OUT_EIO
 * (other kind of dataset) with err filled. */
static int check_table_dset(nk_h5out *h, struct table *t, char *err, size_t errlen)
{
    const char *kind = t->report ? "report" : "table";
    char dn[1100];
    table_dset_name(t, dn, sizeof dn);
    hid_t ft = H5Dget_type(t->d), s = H5Dget_space(t->d), dcpl = H5Dget_create_plist(t->d);
    int rc = 0;
    hsize_t dims[2] = {0, 0}, maxd[2] = {0, 0}, chunk[2] = {0, 0};
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    size_t esize = ft >= 0 ? H5Tget_size(ft) : 0;
    if (ft < 0 || s < 0 || dcpl < 0 || rank < 0) {
        rc = h5fail(err, errlen, "cannot inspect %s in '%s'", dn, h->part);
    } else if (H5Tget_class(ft) != H5T_FLOAT || (esize != 4 && esize != 8)) {
        set_err(err, errlen, "cannot append to %s %s in '%s': %s is not a float32 or float64 dataset", kind,
                t->name, h->part, dn);
        rc = NK_H5OUT_EIO;
    } else if (rank < 1 || rank > 2 || H5Sget_simple_extent_dims(s, dims, maxd) != rank) {
        set_err(err, errlen, "cannot append to %s %s in '%s': %s has %d dimensions", kind, t->name, h->part,
                dn, rank);
        rc = NK_H5OUT_EIO;
    } else if ((rank == 1) != (t->ncols == 0) || (rank == 2 && dims[1] != t->ncols)) {
        char have[48], want[48];
        if (rank == 1)
            snprintf(have, sizeof have, "is 1-D");
        else
            snprintf(have, sizeof have, "has %llu columns", (unsigned long long)dims[1]);
        if (t->ncols == 0)
            snprintf(want, sizeof want, "not 1-D");
        else
            snprintf(want, sizeof want, "not %zu", t->ncols);
        set_err(err, errlen, "cannot append to %s %s in '%s': it %s, %s", kind, t->name, h->part, have, want);
        rc = NK_H5OUT_EINVAL;
    } else if (maxd[0] != H5S_UNLIMITED || H5Pget_layout(dcpl) != H5D_CHUNKED ||
               H5Pget_chunk(dcpl, rank, chunk) != rank) {
        forget();
        set_err(err, errlen, "cannot append to %s %s in '%s': %s is not extendible", kind, t->name, h->part,
                dn);
        rc = NK_H5OUT_EIO;
    } else {
        t->n = dims[0];
        t->f64 = esize == 8;
        table_cap(t, chunk[0]);
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (s >= 0)
        H5Sclose(s);
    if (ft >= 0)
        H5Tclose(ft);
    if (rc != 0)
        forget();
    return rc;
}

/* Index of the table declared as NAME, or -1. */
static int find_table(const nk_h5out *h, const char *name)
{
    for (int i = 0; i < h->ntabs; i++)
        if (strcmp(h->tabs[i].name, name) == 0)
            return i;
    return -1;
}

/* Room for one more table. Returns 0 or -1 (out of memory). */
static int grow_tables(nk_h5out *h)
{
    if (h->ntabs < h->tcap)
        return 0;
    int cap = h->tcap ? 2 * h->tcap : 4;
    struct table *nt = realloc(h->tabs, (size_t)cap * sizeof *nt);
    if (!nt)
        return -1;
    h->tabs = nt;
    h->tcap = cap;
    return 0;
}

/* Checks and registers NAME for a new table: setup phase, valid path, not
 * declared yet, room in the array. Returns 0 or NK_H5OUT_EINVAL /
 * NK_H5OUT_EIO with err filled. */
static int table_ok(nk_h5out *h, const char *kind, const char *name, char *err, size_t errlen)
{
    char what[64];
    snprintf(what, sizeof what, "cannot add a %s", kind);
    if (!setup_ok(h, what, err, errlen))
        return NK_H5OUT_EINVAL;
    if (!valid_abs_path(name)) {
        set_err(err, errlen, "invalid %s path '%s' (expected an absolute path such as '/report/exc')", kind,
                name ? name : "(null)");
        return NK_H5OUT_EINVAL;
    }
    if (find_table(h, name) >= 0) {
        set_err(err, errlen, "cannot add %s %s to '%s': it is already declared", kind, name, h->part);
        return NK_H5OUT_EINVAL;
    }
    if (grow_tables(h) < 0) {
        set_err(err, errlen, "cannot add %s %s: out of memory", kind, name);
        return NK_H5OUT_EIO;
    }
    return 0;
}

/* Creates the fixed-size 1-D dataset NAME[n] of file type FTYPE in G from
 * BUF (memory type MTYPE). Returns the open dataset or a negative id. */
static hid_t make_fixed(hid_t g, const char *name, hid_t ftype, size_t n, hid_t mtype, const void *buf)
{
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    if (s < 0)
        return H5I_INVALID_HID;
    hid_t d = H5Dcreate2(g, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(s);
    if (d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        H5Dclose(d);
        return H5I_INVALID_HID;
    }
    return d;
}

/* Compares the 1-D dataset NAME of G with WANT[n] (memory type MTYPE of
 * ESIZE bytes). Returns 1 equal, 0 different (or another length), -1 on
 * error. */
static int same_array(hid_t g, const char *name, hid_t mtype, size_t esize, const void *want, size_t n)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0)
        return -1;
    int rc = -1;
    hsize_t len = 0;
    int unl;
    if (dset_len(d, &len, &unl) == 0) {
        if (len != n) {
            rc = 0;
        } else {
            void *got = malloc(n * esize);
            if (got && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0)
                rc = memcmp(got, want, n * esize) == 0;
            free(got);
        }
    }
    H5Dclose(d);
    return rc;
}

/* The report's mapping in full (defaults filled in). */
struct mapping {
    const uint64_t *node_ids;
    size_t nnodes;
    const uint64_t *ip;  /* [nnodes + 1] */
    const uint32_t *eid; /* [ncols] */
};

/* Creates report group T->name (t->ncols set) and its datasets; sets t->d,
 * t->time. Returns 0 or NK_H5OUT_EIO with err filled. */
static int create_report(nk_h5out *h, struct table *t, const struct mapping *m, const char *units,
                         const char *variables, char *err, size_t errlen)
{
    hid_t lcpl = make_lcpl();
    hid_t g = lcpl >= 0 ? H5Gcreate2(h->fid, t->name, lcpl, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (g < 0)
        return h5fail(err, errlen, "cannot create group %s in '%s'", t->name, h->part);
    int rc = 0;
    const char *what = NULL;
    hid_t mg = H5I_INVALID_HID, d;
    double tv[3] = {t->t0, t->t0, t->step};
    if (create_table_dset(g, "data", t) < 0) {
        what = "data";
    } else if (units && put_string(t->d, "units", units) < 0) {
        what = "data units";
    } else if (variables && put_string(g, "variables", variables) < 0) {
        what = "variables attribute";
    } else if ((mg = H5Gcreate2(g, "mapping", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        what = "mapping";
    } else if ((d = make_fixed(mg, "node_ids", H5T_STD_U64LE, m->nnodes, H5T_NATIVE_UINT64, m->node_ids)) < 0 ||
               H5Dclose(d) < 0) {
        what = "mapping/node_ids";
    } else if ((d = make_fixed(mg, "index_pointers", H5T_STD_U64LE, m->nnodes + 1, H5T_NATIVE_UINT64, m->ip)) <
                   0 ||
               H5Dclose(d) < 0) {
        what = "mapping/index_pointers";
    } else if ((d = make_fixed(mg, "element_ids", H5T_STD_U32LE, t->ncols, H5T_NATIVE_UINT32, m->eid)) < 0 ||
               H5Dclose(d) < 0) {
        what = "mapping/element_ids";
    } else if ((t->time = make_fixed(mg, "time", H5T_IEEE_F64LE, 3, H5T_NATIVE_DOUBLE, tv)) < 0 ||
               put_string(t->time, "units", "ms") < 0) {
        what = "mapping/time";
    }
    if (what)
        rc = h5fail(err, errlen, "cannot create %s/%s in '%s'", t->name, what, h->part);
    if (mg >= 0)
        H5Gclose(mg);
    H5Gclose(g);
    return rc;
}

/* Reopens the existing report group T->name (t->ncols, t->step set):
 * checks its data width, step and mapping, takes t0 and the rows from the
 * file and rewrites time[1]. Returns 0 or NK_H5OUT_EINVAL / NK_H5OUT_EIO
 * with err filled. */
static int reopen_report(nk_h5out *h, struct table *t, const struct mapping *m, const char *units,
                         const char *variables, char *err, size_t errlen)
{
    hid_t g = H5Oopen(h->fid, t->name, H5P_DEFAULT);
    if (g < 0)
        return h5fail(err, errlen, "cannot open %s in '%s'", t->name, h->part);
    int rc = 0;
    double tv[3];
    if (H5Iget_type(g) != H5I_GROUP || H5Lexists(g, "data", H5P_DEFAULT) <= 0 ||
        H5Lexists(g, "mapping", H5P_DEFAULT) <= 0 || H5Lexists(g, "mapping/time", H5P_DEFAULT) <= 0) {
        forget();
        set_err(err, errlen, "cannot append to report %s in '%s': it exists but is not a report group "
                             "(with data and mapping/time)",
                t->name, h->part);
        rc = NK_H5OUT_EIO;
    } else if ((t->d = H5Dopen2(g, "data", H5P_DEFAULT)) < 0) {
        rc = h5fail(err, errlen, "cannot open %s/data in '%s'", t->name, h->part);
    } else if ((rc = check_table_dset(h, t, err, errlen)) != 0) {
        /* err filled */
    } else if ((t->time = H5Dopen2(g, "mapping/time", H5P_DEFAULT)) < 0) {
        rc = h5fail(err, errlen, "cannot open %s/mapping/time in '%s'", t->name, h->part);
    } else if (time_read(t->time, tv) < 0 || !(tv[2] > 0) || !isfinite(tv[0]) || !isfinite(tv[2])) {
        forget();
        set_err(err, errlen, "cannot append to report %s in '%s': mapping/time is not {start, stop, step}",
                t->name, h->part);
        rc = NK_H5OUT_EIO;
    } else if (fabs(tv[2] - t->step) > 1e-9 * (tv[2] > t->step ? tv[2] : t->step)) {
        set_err(err, errlen, "cannot append to report %s in '%s': it is sampled every %.17g ms, not %.17g ms",
                t->name, h->part, tv[2], t->step);
        rc = NK_H5OUT_EINVAL;
    } else {
        static const char *names[3] = {"mapping/node_ids", "mapping/index_pointers", "mapping/element_ids"};
        hid_t types[3] = {H5T_NATIVE_UINT64, H5T_NATIVE_UINT64, H5T_NATIVE_UINT32};
        size_t sizes[3] = {8, 8, 4}, lens[3] = {m->nnodes, m->nnodes + 1, t->ncols};
        const void *want[3] = {m->node_ids, m->ip, m->eid};
        for (int k = 0; k < 3 && rc == 0; k++) {
            int same = same_array(g, names[k], types[k], sizes[k], want[k], lens[k]);
            if (same < 0) {
                rc = h5fail(err, errlen, "cannot read %s/%s in '%s'", t->name, names[k], h->part);
            } else if (!same) {
                set_err(err, errlen, "cannot append to report %s in '%s': its %s differ from the ones given",
                        t->name, h->part, names[k]);
                rc = NK_H5OUT_EINVAL;
            }
        }
        t->t0 = tv[0];
        t->step = tv[2];
        tv[1] = t->t0 + (double)t->n * t->step;
        if (rc == 0 && H5Dwrite(t->time, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) < 0)
            rc = h5fail(err, errlen, "cannot write %s/mapping/time in '%s'", t->name, h->part);
        if (rc == 0 && units && put_string(t->d, "units", units) < 0)
            rc = h5fail(err, errlen, "cannot set the units of %s/data in '%s'", t->name, h->part);
        if (rc == 0 && variables && put_string(g, "variables", variables) < 0)
            rc = h5fail(err, errlen, "cannot set the variables of %s in '%s'", t->name, h->part);
    }
    H5Oclose(g);
    return rc;
}

/* Frees what a table that failed to be added holds. */
static void drop_table(struct table *t)
{
    close_id(&t->d, H5Dclose);
    close_id(&t->time, H5Dclose);
    free(t->name);
    free(t->buf);
}

/* Looks up T->name and creates or reopens it with CREATE / REOPEN (for a
 * plain table, REOPEN may be NULL: open the dataset and check it). On
 * success the table is added to h and its index returned. Assumes errors
 * off; on failure frees t and returns the code with err filled. */
static int add_table(nk_h5out *h, struct table *t, const struct mapping *m, const char *units,
                     const char *variables, char *err, size_t errlen)
{
    char bad[1024] = "";
    const char *kind = t->report ? "report" : "table";
    int rc, st = path_state(h->fid, t->name, bad, sizeof bad);
    if (st == -1) {
        rc = h5fail(err, errlen, "cannot look up %s in '%s'", t->name, h->part);
    } else if (st == -2) {
        forget();
        set_err(err, errlen, "cannot add %s %s to '%s': %s is not a group", kind, t->name, h->part, bad);
        rc = NK_H5OUT_EINVAL;
    } else if (t->report) {
        rc = st ? reopen_report(h, t, m, units, variables, err, errlen)
                : create_report(h, t, m, units, variables, err, errlen);
    } else if (st == 0) {
        rc = 0;
        if (create_table_dset(h->fid, t->name, t) < 0)
            rc = h5fail(err, errlen, "cannot create %s in '%s'", t->name, h->part);
        else if (units && put_string(t->d, "units", units) < 0)
            rc = h5fail(err, errlen, "cannot set the units of %s in '%s'", t->name, h->part);
    } else {
        hid_t o = H5Oopen(h->fid, t->name, H5P_DEFAULT);
        if (o < 0) {
            rc = h5fail(err, errlen, "cannot open %s in '%s'", t->name, h->part);
        } else if (H5Iget_type(o) != H5I_DATASET) {
            H5Oclose(o);
            set_err(err, errlen, "cannot append to table %s in '%s': it exists but is not a dataset", t->name,
                    h->part);
            rc = NK_H5OUT_EIO;
        } else {
            t->d = o;
            rc = check_table_dset(h, t, err, errlen);
            if (rc == 0 && units && put_string(t->d, "units", units) < 0)
                rc = h5fail(err, errlen, "cannot set the units of %s in '%s'", t->name, h->part);
        }
    }
    if (rc != 0) {
        drop_table(t);
        forget();
        return rc;
    }
    h->tabs[h->ntabs] = *t;
    return h->ntabs++;
}

static struct table new_table(void)
{
    struct table t;
    memset(&t, 0, sizeof t);
    t.d = H5I_INVALID_HID;
    t.time = H5I_INVALID_HID;
    return t;
}

int nk_h5out_report(nk_h5out *h, const char *group, const uint64_t *node_ids, size_t nnodes,
                    const uint64_t *index_pointers, const uint32_t *element_ids, size_t ncols, double t0,
                    double step_ms, const char *units, const char *variables, char *err, size_t errlen)
{
    int rc = table_ok(h, "report", group, err, errlen);
    if (rc)
        return rc;
    if (ncols == 0 || nnodes == 0 || !node_ids) {
        set_err(err, errlen, "cannot add report %s: it needs at least one node and one column (got %zu and %zu)",
                group, nnodes, ncols);
        return NK_H5OUT_EINVAL;
    }
    if (!(step_ms > 0) || !isfinite(step_ms) || !isfinite(t0)) {
        set_err(err, errlen, "cannot add report %s: invalid time axis (start %g ms, step %g ms)", group, t0,
                step_ms);
        return NK_H5OUT_EINVAL;
    }
    if (index_pointers) {
        int ok = index_pointers[0] == 0 && index_pointers[nnodes] == ncols;
        for (size_t k = 0; ok && k < nnodes; k++)
            ok = index_pointers[k] <= index_pointers[k + 1];
        if (!ok) {
            set_err(err, errlen,
                    "cannot add report %s: index_pointers must start at 0, not decrease and end at the "
                    "number of columns (%zu)",
                    group, ncols);
            return NK_H5OUT_EINVAL;
        }
    } else if (nnodes != ncols) {
        set_err(err, errlen,
                "cannot add report %s: without index_pointers there must be one column per node (%zu nodes, "
                "%zu columns)",
                group, nnodes, ncols);
        return NK_H5OUT_EINVAL;
    }
    uint64_t *ip = NULL;
    uint32_t *eid = NULL;
    struct table t = new_table();
    if (!index_pointers && (ip = malloc((nnodes + 1) * sizeof *ip)))
        for (size_t k = 0; k <= nnodes; k++)
            ip[k] = k;
    if (!element_ids)
        eid = calloc(ncols, sizeof *eid);
    t.name = dupstr(group);
    if ((!index_pointers && !ip) || (!element_ids && !eid) || !t.name) {
        free(ip);
        free(eid);
        free(t.name);
        set_err(err, errlen, "cannot add report %s: out of memory", group);
        return NK_H5OUT_EIO;
    }
    struct mapping m = {node_ids, nnodes, index_pointers ? index_pointers : ip, element_ids ? element_ids : eid};
    t.report = 1;
    t.ncols = ncols;
    t.width = ncols;
    t.t0 = t0;
    t.step = step_ms;
    esave es;
    eoff(&es);
    rc = add_table(h, &t, &m, units, variables, err, errlen);
    free(ip);
    free(eid);
    return eon(&es, rc);
}

int nk_h5out_table(nk_h5out *h, const char *path, size_t ncols, int f64, const char *units, char *err,
                   size_t errlen)
{
    int rc = table_ok(h, "table", path, err, errlen);
    if (rc)
        return rc;
    struct table t = new_table();
    if (!(t.name = dupstr(path))) {
        set_err(err, errlen, "cannot add table %s: out of memory", path);
        return NK_H5OUT_EIO;
    }
    t.ncols = ncols;
    t.width = ncols ? ncols : 1;
    t.f64 = f64 != 0;
    esave es;
    eoff(&es);
    return eon(&es, add_table(h, &t, NULL, units, NULL, err, errlen));
}

/* Common checks of the object attribute setters; opens the object at PATH
 * into *o (errors must be off). Returns 0 or NK_H5OUT_EINVAL /
 * NK_H5OUT_EIO with err filled. */
static int obj_open(nk_h5out *h, const char *path, const char *name, hid_t *o, char *err, size_t errlen)
{
    if (!setup_ok(h, "cannot set an attribute", err, errlen))
        return NK_H5OUT_EINVAL;
    int root = path && strcmp(path, "/") == 0;
    if (!root && !valid_abs_path(path)) {
        set_err(err, errlen, "cannot set an attribute: invalid object path '%s'", path ? path : "(null)");
        return NK_H5OUT_EINVAL;
    }
    if (!name || !name[0] || (root && (strcmp(name, "magic") == 0 || strcmp(name, "version") == 0))) {
        set_err(err, errlen, "invalid attribute name '%s' for %s", name ? name : "(null)", path);
        return NK_H5OUT_EINVAL;
    }
    char bad[1024];
    int st = root ? 1 : path_state(h->fid, path, bad, sizeof bad);
    if (st == -1)
        return h5fail(err, errlen, "cannot look up %s in '%s'", path, h->part);
    if (st != 1) {
        forget();
        set_err(err, errlen, "cannot set attribute '%s' of %s in '%s': no such object", name, path, h->part);
        return NK_H5OUT_EINVAL;
    }
    *o = H5Oopen(h->fid, path, H5P_DEFAULT);
    if (*o < 0)
        return h5fail(err, errlen, "cannot open %s in '%s'", path, h->part);
    return 0;
}

int nk_h5out_obj_attr_str(nk_h5out *h, const char *path, const char *name, const char *value, char *err,
                          size_t errlen)
{
    if (!value) {
        set_err(err, errlen, "attribute '%s' of %s has no value", name ? name : "(null)", path ? path : "(null)");
        return NK_H5OUT_EINVAL;
    }
    esave es;
    eoff(&es);
    hid_t o;
    int rc = obj_open(h, path, name, &o, err, errlen);
    if (rc)
        return eon(&es, rc);
    if (put_string(o, name, value) < 0)
        rc = h5fail(err, errlen, "cannot write attribute '%s' of %s in '%s'", name, path, h->part);
    H5Oclose(o);
    return eon(&es, rc);
}

int nk_h5out_obj_attr_double(nk_h5out *h, const char *path, const char *name, const double *values, size_t n,
                             char *err, size_t errlen)
{
    if (!values || n == 0) {
        set_err(err, errlen, "attribute '%s' of %s has no value", name ? name : "(null)", path ? path : "(null)");
        return NK_H5OUT_EINVAL;
    }
    esave es;
    eoff(&es);
    hid_t o;
    int rc = obj_open(h, path, name, &o, err, errlen);
    if (rc)
        return eon(&es, rc);
    hsize_t dim = n;
    hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    if (s < 0 || put_attr(o, name, H5T_IEEE_F64LE, s, H5T_NATIVE_DOUBLE, values) < 0)
        rc = h5fail(err, errlen, "cannot write attribute '%s' of %s in '%s'", name, path, h->part);
    if (s >= 0)
        H5Sclose(s);
    H5Oclose(o);
    return eon(&es, rc);
}

/* ---- write phase ------------------------------------------------------- */

int nk_h5out_begin(nk_h5out *h, char *err, size_t errlen)
{
    if (!setup_ok(h, "cannot begin writing", err, errlen))
        return NK_H5OUT_EINVAL;
    for (int i = 0; i < h->npops; i++) {
        struct pop *p = &h->pops[i];
        p->bt = malloc(NK_H5OUT_BUF * sizeof *p->bt);
        p->bi = malloc(NK_H5OUT_BUF * sizeof *p->bi);
        if (!p->bt || !p->bi) {
            h->failed = 1;
            set_err(err, errlen, "cannot begin writing '%s': out of memory", h->part);
            return NK_H5OUT_EIO;
        }
    }
    esave es;
    eoff(&es);
    h->begun = 1;
    if (H5Fstart_swmr_write(h->fid) < 0) {
        h->failed = 1;
        return eon(&es, h5fail(err, errlen, "cannot start SWMR writing of '%s'", h->part));
    }
    return eon(&es, 0);
}

/* Appends m elements to P's datasets. Returns 0 or NK_H5OUT_EIO (err filled,
 * h marked failed). */
static int write_block(nk_h5out *h, struct pop *p, const double *t, const uint64_t *ids, size_t m, char *err,
                       size_t errlen)
{
    if (m == 0)
        return 0;
    hsize_t start = p->n, count = (hsize_t)m, end = p->n + (hsize_t)m;
    hid_t ms = H5I_INVALID_HID, fs = H5I_INVALID_HID;
    int rc = 0;
    const char *what = "extend";
    if (H5Dset_extent(p->ts, &end) < 0 || H5Dset_extent(p->ids, &end) < 0) {
        rc = -1;
    } else {
        what = "write";
        ms = H5Screate_simple(1, &count, NULL);
        fs = H5Dget_space(p->ts);
        if (ms < 0 || fs < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
            H5Dwrite(p->ts, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, t) < 0 ||
            H5Dwrite(p->ids, H5T_NATIVE_UINT64, ms, fs, H5P_DEFAULT, ids) < 0)
            rc = -1;
    }
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    if (rc < 0) {
        h->failed = 1;
        return h5fail(err, errlen, "cannot %s the spikes of /spikes/%s in '%s'", what, p->name, h->part);
    }
    p->n = end;
    return 0;
}

/* Writes P's buffered spikes. Returns 0 or NK_H5OUT_EIO. */
static int drain(nk_h5out *h, struct pop *p, char *err, size_t errlen)
{
    int rc = write_block(h, p, p->bt, p->bi, p->nb, err, errlen);
    if (rc == 0)
        p->nb = 0;
    return rc;
}

static int failed_msg(nk_h5out *h, char *err, size_t errlen)
{
    set_err(err, errlen, "'%s' is unusable after an earlier write error", h->part);
    return NK_H5OUT_EIO;
}

int nk_h5out_append_spikes(nk_h5out *h, int idx, const double *t_ms, const uint64_t *node_ids, size_t n,
                           char *err, size_t errlen)
{
    if (!h) {
        set_err(err, errlen, "cannot append spikes: no output file");
        return NK_H5OUT_EINVAL;
    }
    if (!h->begun) {
        set_err(err, errlen, "cannot append spikes to '%s' before writing has begun", h->part);
        return NK_H5OUT_EINVAL;
    }
    if (idx < 0 || idx >= h->npops) {
        set_err(err, errlen, "cannot append spikes to '%s': invalid spike handle %d", h->part, idx);
        return NK_H5OUT_EINVAL;
    }
    if (n > 0 && (!t_ms || !node_ids)) {
        set_err(err, errlen, "cannot append spikes to '%s': no data given", h->part);
        return NK_H5OUT_EINVAL;
    }
    if (h->failed)
        return failed_msg(h, err, errlen);
    if (n == 0)
        return 0;
    struct pop *p = &h->pops[idx];
    esave es;
    eoff(&es);
    while (n > 0) {
        if (p->nb == 0 && n >= NK_H5OUT_BUF) {
            /* Large batch: write whole multiples of the buffer directly. */
            size_t m = n - n % NK_H5OUT_BUF;
            if (write_block(h, p, t_ms, node_ids, m, err, errlen) < 0)
                return eon(&es, NK_H5OUT_EIO);
            t_ms += m;
            node_ids += m;
            n -= m;
            continue;
        }
        size_t room = NK_H5OUT_BUF - p->nb;
        size_t m = n < room ? n : room;
        memcpy(p->bt + p->nb, t_ms, m * sizeof *t_ms);
        memcpy(p->bi + p->nb, node_ids, m * sizeof *node_ids);
        p->nb += m;
        t_ms += m;
        node_ids += m;
        n -= m;
        if (p->nb == NK_H5OUT_BUF && drain(h, p, err, errlen) < 0)
            return eon(&es, NK_H5OUT_EIO);
    }
    return eon(&es, 0);
}

/* ---- reports and tables: write phase ----------------------------------- */

/* Appends m buffered rows BUF (t's element type) to table T. Returns 0 or
 * NK_H5OUT_EIO (err filled, h marked failed). Assumes errors off. */
static int write_rows(nk_h5out *h, struct table *t, const void *buf, size_t m, char *err, size_t errlen)
{
    if (m == 0)
        return 0;
    int rank = t->ncols ? 2 : 1;
    hsize_t start[2] = {t->n, 0}, count[2] = {(hsize_t)m, t->ncols}, end[2] = {t->n + (hsize_t)m, t->ncols};
    hid_t ms = H5I_INVALID_HID, fs = H5I_INVALID_HID;
    int rc = 0;
    const char *what = "extend";
    if (H5Dset_extent(t->d, end) < 0) {
        rc = -1;
    } else {
        what = "write";
        ms = H5Screate_simple(rank, count, NULL);
        fs = H5Dget_space(t->d);
        if (ms < 0 || fs < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(t->d, t->f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, buf) < 0)
            rc = -1;
    }
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    if (rc < 0) {
        h->failed = 1;
        char dn[1100];
        table_dset_name(t, dn, sizeof dn);
        return h5fail(err, errlen, "cannot %s the rows of %s in '%s'", what, dn, h->part);
    }
    t->n = end[0];
    return 0;
}

/* Writes T's buffered rows. Returns 0 or NK_H5OUT_EIO. */
static int drain_table(nk_h5out *h, struct table *t, char *err, size_t errlen)
{
    int rc = write_rows(h, t, t->buf, t->nb, err, errlen);
    if (rc == 0)
        t->nb = 0;
    return rc;
}

/* Report T: writes time = {t0, t0 + rows * step, step} for the rows in the
 * file. Returns 0 or NK_H5OUT_EIO (err filled, h marked failed). */
static int write_time(nk_h5out *h, struct table *t, char *err, size_t errlen)
{
    if (!t->report)
        return 0;
    double tv[3] = {t->t0, t->t0 + (double)t->n * t->step, t->step};
    if (H5Dwrite(t->time, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tv) < 0) {
        h->failed = 1;
        return h5fail(err, errlen, "cannot write %s/mapping/time in '%s'", t->name, h->part);
    }
    return 0;
}

/* double -> float32 rounding to nearest, with magnitudes beyond float's
 * range (after rounding) going to +-inf instead of being undefined. */
static float to_f32(double v)
{
    static const double lim = (double)FLT_MAX + 0x1p103; /* FLT_MAX + half an ulp */
    if (v >= lim)
        return INFINITY;
    if (v <= -lim)
        return -INFINITY;
    return (float)v;
}

int nk_h5out_append_rows(nk_h5out *h, int idx, const double *values, size_t nrows, char *err, size_t errlen)
{
    if (!h) {
        set_err(err, errlen, "cannot append rows: no output file");
        return NK_H5OUT_EINVAL;
    }
    if (!h->begun) {
        set_err(err, errlen, "cannot append rows to '%s' before writing has begun", h->part);
        return NK_H5OUT_EINVAL;
    }
    if (idx < 0 || idx >= h->ntabs) {
        set_err(err, errlen, "cannot append rows to '%s': invalid table handle %d", h->part, idx);
        return NK_H5OUT_EINVAL;
    }
    if (nrows > 0 && !values) {
        set_err(err, errlen, "cannot append rows to '%s': no data given", h->part);
        return NK_H5OUT_EINVAL;
    }
    if (h->failed)
        return failed_msg(h, err, errlen);
    if (nrows == 0)
        return 0;
    struct table *t = &h->tabs[idx];
    size_t esize = t->f64 ? 8 : 4;
    if (!t->buf && !(t->buf = malloc(t->cap * t->width * esize))) {
        h->failed = 1;
        set_err(err, errlen, "cannot append rows to %s in '%s': out of memory", t->name, h->part);
        return NK_H5OUT_EIO;
    }
    esave es;
    eoff(&es);
    while (nrows > 0) {
        size_t m = nrows < t->cap - t->nb ? nrows : t->cap - t->nb;
        size_t nv = m * t->width, at = t->nb * t->width;
        if (t->f64) {
            memcpy((double *)t->buf + at, values, nv * sizeof *values);
        } else {
            float *f = (float *)t->buf + at;
            for (size_t i = 0; i < nv; i++)
                f[i] = to_f32(values[i]);
        }
        t->nb += m;
        values += nv;
        nrows -= m;
        if (t->nb == t->cap && drain_table(h, t, err, errlen) < 0)
            return eon(&es, NK_H5OUT_EIO);
    }
    return eon(&es, 0);
}

int64_t nk_h5out_rows(const nk_h5out *h, int idx)
{
    if (!h || idx < 0 || idx >= h->ntabs)
        return NK_H5OUT_EINVAL;
    return (int64_t)(h->tabs[idx].n + h->tabs[idx].nb);
}

int nk_h5out_nspikes(const nk_h5out *h) { return h ? h->npops : 0; }

int nk_h5out_ntables(const nk_h5out *h) { return h ? h->ntabs : 0; }

int64_t nk_h5out_width(const nk_h5out *h, int idx)
{
    if (!h || idx < 0 || idx >= h->ntabs)
        return NK_H5OUT_EINVAL;
    return (int64_t)h->tabs[idx].width;
}

int nk_h5out_writing(const nk_h5out *h) { return h && h->begun; }

const char *nk_h5out_file(const nk_h5out *h) { return h ? h->part : NULL; }

/* Writes buffers, flushes the file (every dataset's data and metadata with
 * it), fsyncs. Assumes errors off. Returns 0 or NK_H5OUT_EIO (h marked
 * failed). (An H5Dflush per dataset before the file's flush added nothing
 * and cost HDF5 1.10 a pass over its whole metadata cache each: a file of
 * 2,000 spike monitors took 3.7 s to flush.) */
static int flush_all(nk_h5out *h, char *err, size_t errlen)
{
    for (int i = 0; i < h->npops; i++)
        if (drain(h, &h->pops[i], err, errlen) < 0)
            return NK_H5OUT_EIO;
    for (int i = 0; i < h->ntabs; i++) {
        struct table *t = &h->tabs[i];
        if (drain_table(h, t, err, errlen) < 0 || write_time(h, t, err, errlen) < 0)
            return NK_H5OUT_EIO;
    }
    if (H5Fflush(h->fid, H5F_SCOPE_LOCAL) < 0) {
        h->failed = 1;
        return h5fail(err, errlen, "cannot flush '%s'", h->part);
    }
    void *vfd = NULL;
    if (H5Fget_vfd_handle(h->fid, H5P_DEFAULT, &vfd) >= 0 && vfd) {
        if (fsync(*(int *)vfd) != 0 && errno != EINVAL && errno != EROFS) {
            h->failed = 1;
            set_err(err, errlen, "cannot sync '%s': %s", h->part, strerror(errno));
            return NK_H5OUT_EIO;
        }
    } else {
        forget(); /* not the sec2 driver: no fd, skip fsync */
    }
    return 0;
}

int nk_h5out_flush(nk_h5out *h, char *err, size_t errlen)
{
    if (!h) {
        set_err(err, errlen, "cannot flush: no output file");
        return NK_H5OUT_EINVAL;
    }
    if (h->failed)
        return failed_msg(h, err, errlen);
    esave es;
    eoff(&es);
    return eon(&es, flush_all(h, err, errlen));
}

int nk_h5out_close(nk_h5out *h, int complete, char *err, size_t errlen)
{
    if (!h)
        return 0;
    esave es;
    eoff(&es);
    int rc = 0;
    if (complete) {
        if (h->failed)
            rc = failed_msg(h, err, errlen);
        else
            rc = flush_all(h, err, errlen);
    } else if (!h->failed) {
        /* Best effort: keep what was appended; an error here is not
         * reported, the caller is already handling a failure. */
        for (int i = 0; i < h->npops && !h->failed; i++)
            (void)drain(h, &h->pops[i], NULL, 0);
        for (int i = 0; i < h->ntabs && !h->failed; i++)
            if (drain_table(h, &h->tabs[i], NULL, 0) == 0)
                (void)write_time(h, &h->tabs[i], NULL, 0);
        forget();
    }
    if (h->failed)
        make_closable(h);
    for (int i = 0; i < h->npops; i++) {
        struct pop *p = &h->pops[i];
        close_id(&p->ts, H5Dclose);
        close_id(&p->ids, H5Dclose);
        close_id(&p->grp, H5Gclose);
    }
    for (int i = 0; i < h->ntabs; i++) {
        close_id(&h->tabs[i].d, H5Dclose);
        close_id(&h->tabs[i].time, H5Dclose);
    }
    close_id(&h->spikes, H5Gclose);
    herr_t cr = close_file(h->fid);
    h->fid = H5I_INVALID_HID;
    if (cr < 0 && rc == 0)
        rc = h5fail(err, errlen, "cannot close '%s'", h->part);
    forget();
    if (complete && rc == 0) {
        if (rename(h->part, h->path) != 0) {
            set_err(err, errlen, "cannot rename '%s' to '%s': %s", h->part, h->path, strerror(errno));
            rc = NK_H5OUT_EIO;
        } else if (!h->renamed) {
            /* The directory is synced when PATH is new. A file that was PATH
             * before this run and was renamed to PATH.part for it keeps its
             * inode: its data are synced (flush_all), and whichever of the two
             * names a power cut leaves holds them, so that rename need not be
             * (it cost 1-5 ms per run, half of a short run's file work). */
            sync_dir(h->path);
        }
    } else if (complete && rc < 0) {
        /* Say where the data is. */
        size_t len = err ? strlen(err) : 0;
        if (err && len + 1 < errlen)
            snprintf(err + len, errlen - len, "; the partial results are left in '%s'", h->part);
    }
    destroy(h);
    return eon(&es, rc);
}

/* ---- cutting back (resuming from a checkpoint) ------------------------------------------- */

int nk_h5out_truncate_spikes(nk_h5out *h, int idx, int64_t n, char *err, size_t errlen)
{
    if (!setup_ok(h, "truncate", err, errlen))
        return NK_H5OUT_EINVAL;
    if (idx < 0 || idx >= h->npops || n < 0) {
        set_err(err, errlen, "truncate: invalid spike handle %d or length %lld", idx, (long long)n);
        return NK_H5OUT_EINVAL;
    }
    struct pop *p = &h->pops[idx];
    if ((hsize_t)n >= p->n)
        return 0;
    esave s;
    eoff(&s);
    hsize_t len = (hsize_t)n;
    if (H5Dset_extent(p->ts, &len) < 0 || H5Dset_extent(p->ids, &len) < 0)
        return eon(&s, h5fail(err, errlen, "cannot cut /spikes/%s of '%s' back to %lld spikes",
                              p->name, h->part, (long long)n));
    p->n = len;
    return eon(&s, 0);
}

int nk_h5out_truncate_rows(nk_h5out *h, int idx, int64_t rows, char *err, size_t errlen)
{
    if (!setup_ok(h, "truncate", err, errlen))
        return NK_H5OUT_EINVAL;
    if (idx < 0 || idx >= h->ntabs || rows < 0) {
        set_err(err, errlen, "truncate: invalid table handle %d or length %lld", idx,
                (long long)rows);
        return NK_H5OUT_EINVAL;
    }
    struct table *t = &h->tabs[idx];
    if ((hsize_t)rows >= t->n)
        return 0;
    esave s;
    eoff(&s);
    hsize_t dims[2] = {(hsize_t)rows, t->ncols};
    if (H5Dset_extent(t->d, dims) < 0)
        return eon(&s, h5fail(err, errlen, "cannot cut %s of '%s' back to %lld rows", t->name,
                              h->part, (long long)rows));
    t->n = (hsize_t)rows;
    if (t->report && write_time(h, t, err, errlen) < 0)
        return eon(&s, NK_H5OUT_EIO);
    return eon(&s, 0);
}
