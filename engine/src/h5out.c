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
 * affected. Where F_OFD_SETLK is missing the check is skipped. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "h5out.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct nk_h5out {
    char *path;      /* owned */
    char *part;      /* path + ".part", owned */
    int lockfd;      /* fd on PATH.part holding the writer lock, or -1 */
    hid_t fid;
    hid_t spikes;    /* /spikes group or H5I_INVALID_HID until needed */
    int begun;       /* setup phase over, SWMR writing started */
    int failed;      /* a write failed: never rename to PATH */
    struct pop *pops;
    int npops, cap;
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

/* Description of the last failed HDF5 call inside a public function
 * (module state: like serial HDF5 itself, not thread-safe). */
static char h5_last[320];

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

/* H5Ewalk2 callback: keeps the innermost (most specific) entry. */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    struct inner *in = data;
    if (n != 0)
        return 0;
    char minor[128] = "";
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0)
        minor[0] = '\0';
    const char *desc = e->desc ? e->desc : "";
    if (minor[0] && desc[0])
        snprintf(in->text, sizeof in->text, "%s (%s)", desc, minor);
    else
        snprintf(in->text, sizeof in->text, "%s", desc[0] ? desc : minor);
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

/* ---- check_writable ---------------------------------------------------- */

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
    } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "cannot write '%s': %s", path, strerror(EISDIR));
        rc = NK_H5OUT_EIO;
    } else if (stat(part, &st) == 0 && S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "cannot create '%s': %s", part, strerror(EISDIR));
        rc = NK_H5OUT_EIO;
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
    close_id(&h->spikes, H5Gclose);
    close_id(&h->fid, H5Fclose);
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
    if (rc < 0) {
        /* Close HDF5, then undo the rename / remove the fresh file unless
         * another writer holds it (then it is theirs now). */
        close_id(&h->spikes, H5Gclose);
        close_id(&h->fid, H5Fclose);
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

/* Writes buffers, flushes datasets and file, fsyncs. Assumes errors off.
 * Returns 0 or NK_H5OUT_EIO (h marked failed). */
static int flush_all(nk_h5out *h, char *err, size_t errlen)
{
    for (int i = 0; i < h->npops; i++) {
        struct pop *p = &h->pops[i];
        if (drain(h, p, err, errlen) < 0)
            return NK_H5OUT_EIO;
        if (H5Dflush(p->ts) < 0 || H5Dflush(p->ids) < 0) {
            h->failed = 1;
            return h5fail(err, errlen, "cannot flush /spikes/%s in '%s'", p->name, h->part);
        }
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
        for (int i = 0; i < h->npops; i++)
            if (drain(h, &h->pops[i], NULL, 0) < 0)
                break;
        forget();
    }
    for (int i = 0; i < h->npops; i++) {
        struct pop *p = &h->pops[i];
        close_id(&p->ts, H5Dclose);
        close_id(&p->ids, H5Dclose);
        close_id(&p->grp, H5Gclose);
    }
    close_id(&h->spikes, H5Gclose);
    herr_t cr = H5Fclose(h->fid);
    h->fid = H5I_INVALID_HID;
    if (cr < 0 && rc == 0)
        rc = h5fail(err, errlen, "cannot close '%s'", h->part);
    forget();
    if (complete && rc == 0) {
        if (rename(h->part, h->path) != 0) {
            set_err(err, errlen, "cannot rename '%s' to '%s': %s", h->part, h->path, strerror(errno));
            rc = NK_H5OUT_EIO;
        } else {
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
