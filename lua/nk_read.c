/* nk_read.c - nk.read(path [, subpath] [, opts]): an HDF5 file's contents as
 * Lua tables (results files, or any HDF5 file).
 *
 * What the file becomes:
 *   group    a table keyed by member name, plus `attrs`.
 *   dataset  by rank: 0 (scalar) -> its value; 1 -> a sequence; 2 -> a
 *            sequence of rows, each a sequence; 3 or more -> a flat
 *            sequence (C order, last index fastest) plus `shape` =
 *            {d1, d2, ...}; a null dataspace -> an empty table. A dataset
 *            that becomes a table also gets `attrs`.
 *   values   integers -> Lua integers (uint64 above 2^63-1 -> floats);
 *            floats -> numbers (read as double); strings, fixed or
 *            variable length -> Lua strings, without the trailing NULs (and
 *            for space-padded ones, spaces) of their padding; enums -> their
 *            integer value. Values are the file's: node_ids stay 0-based.
 *   attrs    a table of the object's attributes by name, each converted
 *            like a dataset (scalar -> value, 1-D -> sequence, ...). The
 *            root group's attributes are result.attrs.
 *   anything else  a table {unsupported = WHAT}, WHAT being the type class
 *            ("compound", "opaque", "reference", "bitfield", "vlen",
 *            "array", "time"), "named datatype", "external link", "dangling
 *            link" or "link to an enclosing group" (a cycle), in place of
 *            an error.
 * Two things cannot be represented and are left out: the attributes of a
 * scalar dataset (its value is not a table), and the attributes of a group
 * that has a member named "attrs" (the member wins).
 *
 * subpath (a string such as "/spikes/exc"; "/" or "" is the root) reads only
 * that group or dataset and returns its value as above.
 * opts.max_values (integer >= 0, default 50 million, math.huge for no limit):
 * the number of dataset elements (a string is one) read in total; attributes
 * are not counted. A dataset that would pass it raises an error naming it
 * and its shape, before anything is allocated for it.
 *
 * Files being written: nkshell writes NAME.h5.part in SWMR mode, and its
 * superblock says "open for write" until the writer closes it (or forever,
 * if the writer crashed). A plain read-only open of such a file fails; it is
 * then opened again with H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, which sees the
 * data of the writer's last flush. When PATH is missing but PATH.part
 * exists, the error says so.
 *
 * Errors are Lua errors "where: nk.read: MESSAGE" naming the file and the
 * object (not a file, empty, not HDF5, cannot be opened with HDF5's reason,
 * no such object with the members that do exist, over max_values, ...).
 * HDF5's own error printing is off for the whole call (its innermost message
 * is kept for ours) and the caller's handler is restored afterwards.
 *
 * Resources. Lua errors longjmp, so everything the call holds (open HDF5
 * ids, the value buffer, names being collected, variable-length strings not
 * yet reclaimed, the caller's HDF5 error handler) hangs off one userdata made
 * before any of it and marked to-be-closed: its __close (and __gc, as a
 * backstop) releases it all whether the call returns or raises, and our own
 * errors release it before raising. No Lua function is called from inside an
 * HDF5 callback (the H5Literate / H5Aiterate2 callbacks only copy names into
 * C memory), so no longjmp ever crosses HDF5's frames. */
#include "nk_api.h"
#include "nk_lua.h"
#include "nk_read.h"

#include "nk/nk.h"

#include <hdf5.h>
#include <lauxlib.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_MT "nk.read.state"
#define DEFAULT_MAX_VALUES 50000000
#define MAX_DEPTH 200  /* nested groups */
#define MAX_LISTED 20  /* members named in a "no such object" error */

#if H5_VERSION_GE(1, 12, 0)
typedef H5O_token_t objaddr;
#else
typedef haddr_t objaddr;
#endif

/* Everything one nk.read call holds; see "Resources" above. */
typedef struct rstate {
    const char *path;           /* the file, as given (argument 1 keeps it) */
    hid_t *ids;                 /* open HDF5 ids, closed last-first */
    int nids, capids;
    unsigned char *buf;         /* values of the object being read */
    size_t bufcap;
    char **names;               /* member names being collected */
    size_t nnames, capnames;
    int names_oom;
    int vl_pending;             /* buf holds vlen strings to reclaim with: */
    hid_t vl_type, vl_space;
    objaddr *anc;               /* the groups being walked (cycle check) */
    int nanc, capanc;
    lua_Integer max_values, nvalues;
    int memo;                   /* stack index of the table: object address -> its value */
    H5E_auto2_t efunc;          /* the caller's HDF5 error handler */
    void *edata;
    int esaved;
    int open_for_write;         /* the last failure said "open for write" */
    char h5msg[320];            /* innermost message of the last failure */
} rstate;

/* ---- errors and cleanup ----------------------------------------------------- */

static void close_id(hid_t id)
{
    switch (H5Iget_type(id)) {
    case H5I_FILE: H5Fclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    default: H5Idec_ref(id); break;
    }
}

static void free_names(rstate *st)
{
    for (size_t k = 0; k < st->nnames; k++)
        free(st->names[k]);
    free(st->names);
    st->names = NULL;
    st->nnames = st->capnames = 0;
    st->names_oom = 0;
}

/* Releases everything st holds; may be called any number of times. */
static void rs_release(rstate *st)
{
    if (st->vl_pending) {
        st->vl_pending = 0;
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(st->vl_type, st->vl_space, H5P_DEFAULT, st->buf);
#else
        H5Dvlen_reclaim(st->vl_type, st->vl_space, H5P_DEFAULT, st->buf);
#endif
    }
    free_names(st);
    while (st->nids > 0)
        close_id(st->ids[--st->nids]);
    free(st->ids);
    st->ids = NULL;
    st->capids = 0;
    free(st->buf);
    st->buf = NULL;
    st->bufcap = 0;
    free(st->anc);
    st->anc = NULL;
    st->nanc = st->capanc = 0;
    if (st->esaved) {
        st->esaved = 0;
        H5Eset_auto2(H5E_DEFAULT, st->efunc, st->edata);
    }
}

static int rs_gc(lua_State *L)
{
    rs_release(luaL_checkudata(L, 1, READ_MT));
    return 0;
}

/* Releases st and raises "where: nk.read: MESSAGE". */
static int rs_fail(lua_State *L, rstate *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rs_fail(lua_State *L, rstate *st, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (st)
        rs_release(st);
    nk_hdf5_taint(); /* the file may be damaged (nk.h) */
    luaL_where(L, 1);
    lua_pushstring(L, "nk.read: ");
    lua_pushstring(L, msg);
    lua_concat(L, 3);
    return lua_error(L);
}

/* Ctrl-C (or SIGTERM) while a long read goes on: HDF5 listing thousands of
 * attributes kept in an object's header takes time that grows with the
 * square of their number (each is found by name from the first), and a
 * dataset of millions of values takes seconds to become Lua values. The
 * read stops between objects and every few thousand values, releases what
 * it holds and raises, as net:run does; the file is not suspect. */
static void check_interrupt(lua_State *L, rstate *st)
{
    if (!nk_lua_interrupted)
        return;
    nk_lua_consume_interrupt();
    rs_release(st);
    luaL_where(L, 1);
    lua_pushfstring(L, "nk.read: interrupted while reading '%s'", st->path);
    lua_concat(L, 2);
    lua_error(L);
}

/* The innermost HDF5 message of the last failure, or a stand-in. */
static const char *h5msg(const rstate *st)
{
    return st->h5msg[0] ? st->h5msg : "HDF5 error";
}

/* H5Ewalk2 callback: keeps the innermost description, notes "open for
 * write" anywhere in the stack. */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    rstate *st = data;
    const char *desc = e->desc ? e->desc : "";
    if (strstr(desc, "open for write"))
        st->open_for_write = 1;
    if (n == 0) {
        char minor[128] = "";
        if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0)
            minor[0] = '\0';
        if (desc[0] && minor[0])
            snprintf(st->h5msg, sizeof st->h5msg, "%s (%s)", desc, minor);
        else
            snprintf(st->h5msg, sizeof st->h5msg, "%s", desc[0] ? desc : minor);
    }
    return 0;
}

/* HDF5's automatic error handler during the call: prints nothing, records. */
static herr_t capture_cb(hid_t estack, void *data)
{
    rstate *st = data;
    st->h5msg[0] = '\0';
    st->open_for_write = 0;
    H5Ewalk2(estack, H5E_WALK_UPWARD, walk_cb, st);
    return 0;
}

/* Takes ownership of id (closing it at release); returns it. A negative id
 * raises "cannot WHAT: <HDF5's reason>". */
static hid_t track(lua_State *L, rstate *st, hid_t id, const char *what)
{
    if (id < 0)
        rs_fail(L, st, "cannot %s in '%s': %s", what, st->path, h5msg(st));
    if (st->nids == st->capids) {
        int cap = st->capids ? 2 * st->capids : 16;
        hid_t *p = realloc(st->ids, (size_t)cap * sizeof *p);
        if (!p) {
            close_id(id);
            rs_fail(L, st, "out of memory");
        }
        st->ids = p;
        st->capids = cap;
    }
    st->ids[st->nids++] = id;
    return id;
}

/* Closes a tracked id. */
static void untrack(rstate *st, hid_t id)
{
    for (int k = st->nids - 1; k >= 0; k--) {
        if (st->ids[k] == id) {
            memmove(st->ids + k, st->ids + k + 1, (size_t)(st->nids - k - 1) * sizeof *st->ids);
            st->nids--;
            break;
        }
    }
    close_id(id);
}

/* ---- member names ------------------------------------------------------------- */

static herr_t add_name(rstate *st, const char *name)
{
    if (nk_lua_interrupted)
        return 1; /* stops the iteration; collect_names raises */
    if (st->nnames == st->capnames) {
        size_t cap = st->capnames ? 2 * st->capnames : 16;
        char **p = realloc(st->names, cap * sizeof *p);
        if (!p) {
            st->names_oom = 1;
            return -1;
        }
        st->names = p;
        st->capnames = cap;
    }
    size_t n = strlen(name) + 1;
    char *s = malloc(n);
    if (!s) {
        st->names_oom = 1;
        return -1;
    }
    memcpy(s, name, n);
    st->names[st->nnames++] = s;
    return 0;
}

static herr_t link_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    (void)info;
    return add_name(data, name);
}

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)loc;
    (void)info;
    return add_name(data, name);
}

/* Collects the names of obj's links (attrs = 0), in name order, or of its
 * attributes (attrs = 1), in the order HDF5 keeps them, into st->names.
 * Attributes become a table keyed by name, which needs no order, and asking
 * for name order made HDF5 sort a densely stored object's attributes by
 * opening every one first (100,000 attributes took 2.7 s to read, now 1.6). */
static void collect_names(lua_State *L, rstate *st, hid_t obj, int attrs, const char *path)
{
    free_names(st);
    hsize_t idx = 0;
    herr_t rc = attrs ? H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, attr_cb, st)
                      : H5Literate(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, link_cb, st);
    check_interrupt(L, st);
    if (st->names_oom)
        rs_fail(L, st, "out of memory listing '%s' in '%s'", path, st->path);
    if (rc < 0)
        rs_fail(L, st, "cannot list the %s of '%s' in '%s': %s", attrs ? "attributes" : "members",
                path, st->path, h5msg(st));
}

/* Pushes st->names as a Lua sequence and frees them. */
static void push_names(lua_State *L, rstate *st)
{
    lua_createtable(L, st->nnames < INT_MAX ? (int)st->nnames : 0, 0);
    for (size_t k = 0; k < st->nnames; k++) {
        if ((k & 4095) == 4095)
            check_interrupt(L, st);
        lua_pushstring(L, st->names[k]);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    free_names(st);
}

/* ---- values ------------------------------------------------------------------ */

enum { K_INT, K_UINT, K_DBL, K_VSTR, K_FSTR };

/* How a dataset's or attribute's elements are read and pushed. */
typedef struct plan {
    int kind;
    hid_t mem;          /* memory type */
    hid_t made[2];      /* ids made for the plan (tracked), or -1 */
    hid_t conv_from;    /* enums: their native base type, converted to 64 bits after reading */
    size_t esize;       /* bytes per element in st->buf */
    H5T_str_t pad;      /* fixed strings */
    const char *unsupported;
} plan;

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_TIME: return "time";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_VLEN: return "vlen";
    case H5T_ARRAY: return "array";
    default: return "unknown type";
    }
}

static void make_plan(lua_State *L, rstate *st, hid_t ftype, const char *what, plan *p)
{
    memset(p, 0, sizeof *p);
    p->made[0] = p->made[1] = H5I_INVALID_HID;
    p->conv_from = H5I_INVALID_HID;
    p->esize = 8;
    H5T_class_t c = H5Tget_class(ftype);
    switch (c) {
    case H5T_INTEGER: {
        H5T_sign_t s = H5Tget_sign(ftype);
        if (s == H5T_SGN_ERROR)
            rs_fail(L, st, "cannot read the type of %s in '%s': %s", what, st->path, h5msg(st));
        p->kind = s == H5T_SGN_NONE ? K_UINT : K_INT;
        p->mem = s == H5T_SGN_NONE ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64;
        break;
    }
    case H5T_FLOAT:
        p->kind = K_DBL;
        p->mem = H5T_NATIVE_DOUBLE;
        break;
    case H5T_ENUM: {
        /* HDF5 1.10's H5Tget_native_type writes past its buffer for an enum
         * over integers wider than 64 bits: such an enum is not read. */
        hid_t base = track(L, st, H5Tget_super(ftype), "read a type");
        size_t bsz = H5Tget_size(base);
        untrack(st, base);
        if (bsz == 0)
            rs_fail(L, st, "cannot read the type of %s in '%s': %s", what, st->path, h5msg(st));
        if (bsz > 8) {
            p->unsupported = "enum wider than 64 bits";
            break;
        }
        p->mem = p->made[0] =
            track(L, st, H5Tget_native_type(ftype, H5T_DIR_ASCEND), "read a type");
        p->conv_from = p->made[1] = track(L, st, H5Tget_super(p->mem), "read a type");
        H5T_sign_t s = H5Tget_sign(p->conv_from);
        size_t sz = H5Tget_size(p->mem);
        if (s == H5T_SGN_ERROR || sz == 0)
            rs_fail(L, st, "cannot read the type of %s in '%s': %s", what, st->path, h5msg(st));
        p->kind = s == H5T_SGN_NONE ? K_UINT : K_INT;
        p->esize = sz > 8 ? sz : 8;
        break;
    }
    case H5T_STRING: {
        htri_t var = H5Tis_variable_str(ftype);
        if (var < 0)
            rs_fail(L, st, "cannot read the type of %s in '%s': %s", what, st->path, h5msg(st));
        if (var) {
            p->kind = K_VSTR;
            p->mem = p->made[0] = track(L, st, H5Tcopy(H5T_C_S1), "make a string type");
            H5T_cset_t cs = H5Tget_cset(ftype);
            if (cs < 0 || H5Tset_size(p->mem, H5T_VARIABLE) < 0 || H5Tset_cset(p->mem, cs) < 0)
                rs_fail(L, st, "cannot read the type of %s in '%s': %s", what, st->path, h5msg(st));
            p->esize = sizeof(char *);
        } else {
            p->kind = K_FSTR;
            p->mem = p->made[0] = track(L, st, H5Tcopy(ftype), "copy a string type");
            p->esize = H5Tget_size(ftype);
            p->pad = H5Tget_strpad(ftype);
            if (p->esize == 0 || p->pad == H5T_STR_ERROR)
                rs_fail(L, st, "cannot read the type of %s in '%s': %s", what, st->path, h5msg(st));
        }
        break;
    }
    case H5T_NO_CLASS:
    case H5T_NCLASSES:
        rs_fail(L, st, "cannot read the type of %s in '%s': %s", what, st->path, h5msg(st));
        break;
    default:
        p->unsupported = class_name(c);
        break;
    }
}

static void plan_done(rstate *st, plan *p)
{
    for (int k = 1; k >= 0; k--)
        if (p->made[k] >= 0)
            untrack(st, p->made[k]);
}

/* Pushes element i of st->buf. */
static void push_elem(lua_State *L, const plan *p, const unsigned char *buf, size_t i)
{
    switch (p->kind) {
    case K_INT: {
        int64_t v;
        memcpy(&v, buf + i * 8, 8);
        lua_pushinteger(L, (lua_Integer)v);
        break;
    }
    case K_UINT: {
        uint64_t v;
        memcpy(&v, buf + i * 8, 8);
        if (v > (uint64_t)LUA_MAXINTEGER)
            lua_pushnumber(L, (lua_Number)v);
        else
            lua_pushinteger(L, (lua_Integer)v);
        break;
    }
    case K_DBL: {
        double v;
        memcpy(&v, buf + i * 8, 8);
        lua_pushnumber(L, v);
        break;
    }
    case K_VSTR: {
        const char *s;
        memcpy(&s, buf + i * sizeof s, sizeof s);
        lua_pushstring(L, s ? s : "");
        break;
    }
    default: { /* K_FSTR */
        const char *s = (const char *)buf + i * p->esize;
        size_t n = p->esize;
        if (p->pad == H5T_STR_NULLTERM) {
            const char *z = memchr(s, '\0', n);
            if (z)
                n = (size_t)(z - s);
        } else {
            while (n > 0 && (s[n - 1] == '\0' || (p->pad == H5T_STR_SPACEPAD && s[n - 1] == ' ')))
                n--;
        }
        lua_pushlstring(L, s, n);
        break;
    }
    }
}

/* Pushes a sequence of elements [first, first + n) of st->buf. */
static void push_seq(lua_State *L, rstate *st, const plan *p, const unsigned char *buf,
                     size_t first, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t j = 0; j < n; j++) {
        if ((j & 65535) == 65535)
            check_interrupt(L, st);
        push_elem(L, p, buf, first + j);
        lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
}

/* "3 x 4" into out. */
static void fmt_shape(char *out, size_t len, int rank, const hsize_t *dims)
{
    size_t at = 0;
    out[0] = '\0';
    if (rank == 0)
        snprintf(out, len, "scalar");
    for (int k = 0; k < rank && at < len; k++) {
        int w = snprintf(out + at, len - at, "%s%llu", k ? " x " : "", (unsigned long long)dims[k]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

/* Pushes the value of obj, a dataset (is_attr = 0) or an attribute, whose
 * file dataspace is space and file type ftype; `what` names it in messages.
 * Returns 1 when the value pushed is a table. */
static int push_data(lua_State *L, rstate *st, hid_t obj, int is_attr, hid_t space, hid_t ftype,
                     const char *what)
{
    hsize_t dims[H5S_MAX_RANK];
    int rank = 0;
    H5S_class_t sc = H5Sget_simple_extent_type(space);
    if (sc == H5S_NULL) {
        lua_newtable(L);
        return 1;
    }
    if (sc == H5S_SIMPLE)
        rank = H5Sget_simple_extent_dims(space, dims, NULL);
    else if (sc != H5S_SCALAR)
        rank = -1;
    hssize_t np = H5Sget_simple_extent_npoints(space);
    if (rank < 0 || np < 0)
        rs_fail(L, st, "cannot read the shape of %s in '%s': %s", what, st->path, h5msg(st));
    plan p;
    make_plan(L, st, ftype, what, &p);
    if (p.unsupported) {
        plan_done(st, &p);
        lua_createtable(L, 0, 2);
        lua_pushstring(L, p.unsupported);
        lua_setfield(L, -2, "unsupported");
        return 1;
    }
    size_t n = (size_t)np;
    /* What the Lua value holds: its values, or, for a 2-D dataset without
     * columns (1e12 x 0), its empty rows. */
    const int rows_only = rank == 2 && n == 0 && dims[0] > 0;
    size_t cells = rows_only ? (size_t)dims[0] : n;
    const char *unit = rows_only ? "rows" : "values";
    if ((!is_attr || rows_only) && (lua_Integer)cells > st->max_values - st->nvalues) {
        char shape[256];
        fmt_shape(shape, sizeof shape, rank, dims);
        char before[96] = "";
        if (st->nvalues > 0)
            snprintf(before, sizeof before, " (with the %lld values read before it)",
                     (long long)st->nvalues);
        rs_fail(L, st,
                "%s in '%s' has %llu %s (shape %s), more than max_values = %lld allows%s; "
                "read one part with nk.read('%s', subpath) or give a larger max_values",
                what, st->path, (unsigned long long)cells, unit, shape,
                (long long)st->max_values, before, st->path);
    }
    if (cells > INT_MAX || n > SIZE_MAX / p.esize)
        rs_fail(L, st, "%s in '%s' has %llu %s, too many for a Lua table", what, st->path,
                (unsigned long long)cells, unit);
    size_t bytes = (n ? n : 1) * p.esize;
    if (bytes > st->bufcap) {
        free(st->buf);
        st->buf = malloc(bytes);
        st->bufcap = st->buf ? bytes : 0;
        if (!st->buf)
            rs_fail(L, st, "out of memory reading %s in '%s' (%llu values)", what, st->path,
                    (unsigned long long)n);
    }
    if (n > 0) {
        if (p.kind == K_VSTR) {
            memset(st->buf, 0, bytes);
            st->vl_type = p.mem;
            st->vl_space = space;
            st->vl_pending = 1;
        }
        herr_t rc = is_attr ? H5Aread(obj, p.mem, st->buf)
                            : H5Dread(obj, p.mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->buf);
        char why[256];
        if (rc < 0 && !is_attr && nk_h5_missing_filter(obj, why, sizeof why))
            rs_fail(L, st, "%s in '%s' is %s", what, st->path, why);
        if (rc < 0)
            rs_fail(L, st, "cannot read %s in '%s': %s", what, st->path, h5msg(st));
        if (p.conv_from >= 0 &&
            H5Tconvert(p.conv_from, p.kind == K_UINT ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, n,
                       st->buf, NULL, H5P_DEFAULT) < 0)
            rs_fail(L, st, "cannot convert the enum values of %s in '%s': %s", what, st->path,
                    h5msg(st));
    }
    if (!is_attr || rows_only)
        st->nvalues += (lua_Integer)cells;
    int table = 1;
    if (rank == 0) {
        push_elem(L, &p, st->buf, 0);
        table = 0;
    } else if (rank == 1) {
        push_seq(L, st, &p, st->buf, 0, n);
    } else if (rank == 2) {
        size_t rows = (size_t)dims[0], cols = (size_t)dims[1];
        lua_createtable(L, (int)rows, 0);
        for (size_t r = 0; r < rows; r++) {
            if ((r & 4095) == 4095)
                check_interrupt(L, st);
            push_seq(L, st, &p, st->buf, r * cols, cols);
            lua_rawseti(L, -2, (lua_Integer)r + 1);
        }
    } else {
        push_seq(L, st, &p, st->buf, 0, n);
        lua_createtable(L, rank, 0);
        for (int k = 0; k < rank; k++) {
            lua_pushinteger(L, (lua_Integer)dims[k]);
            lua_rawseti(L, -2, k + 1);
        }
        lua_setfield(L, -2, "shape");
    }
    if (st->vl_pending) {
        st->vl_pending = 0;
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(p.mem, space, H5P_DEFAULT, st->buf);
#else
        H5Dvlen_reclaim(p.mem, space, H5P_DEFAULT, st->buf);
#endif
    }
    plan_done(st, &p);
    return table;
}

/* Pushes the table of obj's attributes; path names obj in messages. */
static void push_attrs(lua_State *L, rstate *st, hid_t obj, const char *path)
{
    collect_names(L, st, obj, 1, path);
    push_names(L, st);
    int names = lua_gettop(L);
    lua_Integer n = luaL_len(L, names);
    lua_createtable(L, 0, (int)n);
    int res = lua_gettop(L);
    for (lua_Integer k = 1; k <= n; k++) {
        check_interrupt(L, st);
        lua_rawgeti(L, names, k);
        const char *name = lua_tostring(L, -1);
        const char *what = lua_pushfstring(L, "attribute '%s' of '%s'", name, path);
        hid_t a = track(L, st, H5Aopen(obj, name, H5P_DEFAULT), "open an attribute");
        hid_t t = track(L, st, H5Aget_type(a), "read an attribute's type");
        hid_t s = track(L, st, H5Aget_space(a), "read an attribute's shape");
        push_data(L, st, a, 1, s, t, what);
        untrack(st, s);
        untrack(st, t);
        untrack(st, a);
        lua_setfield(L, res, name);
        lua_pop(L, 2); /* name, what */
    }
    lua_remove(L, names);
}

/* ---- objects ----------------------------------------------------------------- */

static void push_unsupported(lua_State *L, const char *what)
{
    lua_createtable(L, 0, 1);
    lua_pushstring(L, what);
    lua_setfield(L, -2, "unsupported");
}

static int obj_addr(hid_t id, objaddr *a)
{
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t oi;
    if (H5Oget_info3(id, &oi, H5O_INFO_BASIC) < 0)
        return -1;
    *a = oi.token;
#else
    H5O_info_t oi;
    if (H5Oget_info2(id, &oi, H5O_INFO_BASIC) < 0)
        return -1;
    *a = oi.addr;
#endif
    return 0;
}

static void push_opened(lua_State *L, rstate *st, hid_t obj, const char *path, int depth);

/* Pushes the value of group gid (at path). */
static void push_group(lua_State *L, rstate *st, hid_t gid, const char *path, int depth)
{
    luaL_checkstack(L, 8, "nk.read: groups nested too deeply");
    if (depth > MAX_DEPTH)
        rs_fail(L, st, "'%s' in '%s' is nested more than %d groups deep", path, st->path,
                MAX_DEPTH);
    objaddr a;
    memset(&a, 0, sizeof a);
    if (obj_addr(gid, &a) < 0)
        rs_fail(L, st, "cannot read '%s' in '%s': %s", path, st->path, h5msg(st));
    for (int k = 0; k < st->nanc; k++) {
        if (!memcmp(&st->anc[k], &a, sizeof a)) {
            push_unsupported(L, "link to an enclosing group");
            return;
        }
    }
    if (st->nanc == st->capanc) {
        int cap = st->capanc ? 2 * st->capanc : 16;
        objaddr *p = realloc(st->anc, (size_t)cap * sizeof *p);
        if (!p)
            rs_fail(L, st, "out of memory");
        st->anc = p;
        st->capanc = cap;
    }
    st->anc[st->nanc++] = a;

    collect_names(L, st, gid, 0, path);
    push_names(L, st);
    int names = lua_gettop(L);
    lua_Integer n = luaL_len(L, names);
    lua_createtable(L, 0, (int)n + 1);
    int res = lua_gettop(L);
    for (lua_Integer k = 1; k <= n; k++) {
        check_interrupt(L, st);
        lua_rawgeti(L, names, k);
        const char *name = lua_tostring(L, -1);
        const char *cpath = lua_pushfstring(L, "%s/%s", strcmp(path, "/") ? path : "", name);
        H5L_info_t li;
        if (H5Lget_info(gid, name, &li, H5P_DEFAULT) < 0)
            rs_fail(L, st, "cannot read the link '%s' in '%s': %s", cpath, st->path, h5msg(st));
        if (li.type == H5L_TYPE_EXTERNAL) {
            push_unsupported(L, "external link");
        } else if (li.type != H5L_TYPE_HARD && li.type != H5L_TYPE_SOFT) {
            push_unsupported(L, "user-defined link");
        } else if (li.type == H5L_TYPE_SOFT && H5Oexists_by_name(gid, name, H5P_DEFAULT) <= 0) {
            push_unsupported(L, "dangling link");
        } else {
            hid_t obj = track(L, st, H5Oopen(gid, name, H5P_DEFAULT), "open an object");
            push_opened(L, st, obj, cpath, depth + 1);
            untrack(st, obj);
        }
        lua_setfield(L, res, name);
        lua_pop(L, 2); /* name, cpath */
    }
    if (lua_getfield(L, res, "attrs") == LUA_TNIL) {
        push_attrs(L, st, gid, path);
        lua_setfield(L, res, "attrs");
    }
    lua_pop(L, 1);
    lua_remove(L, names);
    st->nanc--;
}

/* Pushes the value of dataset did (at path). */
static void push_dataset(lua_State *L, rstate *st, hid_t did, const char *path)
{
    const char *what = lua_pushfstring(L, "dataset '%s'", path);
    hid_t space = track(L, st, H5Dget_space(did), "read a dataset's shape");
    hid_t type = track(L, st, H5Dget_type(did), "read a dataset's type");
    int table = push_data(L, st, did, 0, space, type, what);
    untrack(st, type);
    untrack(st, space);
    if (table) {
        push_attrs(L, st, did, path);
        lua_setfield(L, -2, "attrs");
    }
    lua_remove(L, -2); /* what */
}

/* A group or dataset that several links reach (hard links, soft links) is
 * read once: every link gets the same value. Without this, a chain of
 * groups each linking twice to the next would be read 2^n times. */
static void push_opened(lua_State *L, rstate *st, hid_t obj, const char *path, int depth)
{
    H5I_type_t type = H5Iget_type(obj);
    if (type != H5I_GROUP && type != H5I_DATASET) {
        push_unsupported(L, type == H5I_DATATYPE ? "named datatype" : "unknown object");
        return;
    }
    objaddr a;
    memset(&a, 0, sizeof a);
    if (obj_addr(obj, &a) < 0)
        rs_fail(L, st, "cannot read '%s' in '%s': %s", path, st->path, h5msg(st));
    luaL_checkstack(L, 8, "nk.read: groups nested too deeply");
    lua_pushlstring(L, (const char *)&a, sizeof a);
    if (lua_rawget(L, st->memo) != LUA_TNIL)
        return;
    lua_pop(L, 1);
    if (type == H5I_GROUP)
        push_group(L, st, obj, path, depth);
    else
        push_dataset(L, st, obj, path);
    lua_pushlstring(L, (const char *)&a, sizeof a);
    lua_pushvalue(L, -2);
    lua_rawset(L, st->memo);
}

/* Raises "no object SUB" for the member `name` missing from group gid (at
 * path), listing the members that exist. */
static void fail_missing(lua_State *L, rstate *st, hid_t gid, const char *path, const char *name)
{
    collect_names(L, st, gid, 0, path);
    char list[1600];
    size_t at = 0;
    list[0] = '\0';
    for (size_t k = 0; k < st->nnames && k < MAX_LISTED && at < sizeof list; k++) {
        int w = snprintf(list + at, sizeof list - at, "%s'%s'", k ? ", " : "", st->names[k]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    if (st->nnames > MAX_LISTED && at < sizeof list)
        snprintf(list + at, sizeof list - at, " and %zu more", st->nnames - MAX_LISTED);
    const char *slash = strcmp(path, "/") ? "/" : "";
    if (st->nnames == 0)
        rs_fail(L, st, "'%s' has no object '%s%s%s' (the group '%s' is empty)", st->path, path,
                slash, name, path);
    rs_fail(L, st, "'%s' has no object '%s%s%s' (the group '%s' has: %s)", st->path, path, slash,
            name, path, list);
}

/* Opens the object at sub (components separated by '/'), leaving it tracked;
 * pushes its normalized path ("/a/b"). */
static hid_t open_subpath(lua_State *L, rstate *st, hid_t fid, const char *sub)
{
    hid_t cur = track(L, st, H5Oopen(fid, "/", H5P_DEFAULT), "open the root group");
    lua_pushliteral(L, "/");
    const char *p = sub;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        if (e == p)
            break;
        if (e - p == 1 && *p == '.') {
            p = e;
            continue;
        }
        const char *here = lua_tostring(L, -1);
        lua_pushlstring(L, p, (size_t)(e - p));
        const char *comp = lua_tostring(L, -1);
        if (H5Iget_type(cur) != H5I_GROUP)
            rs_fail(L, st, "'%s' in '%s' is not a group, so it has no member '%s'", here,
                    st->path, comp);
        htri_t ex = H5Lexists(cur, comp, H5P_DEFAULT);
        if (ex < 0)
            rs_fail(L, st, "cannot look up '%s' in '%s': %s", comp, st->path, h5msg(st));
        if (ex == 0)
            fail_missing(L, st, cur, here, comp);
        const char *next = lua_pushfstring(L, "%s%s%s", here, strcmp(here, "/") ? "/" : "", comp);
        hid_t obj = H5Oopen(cur, comp, H5P_DEFAULT);
        if (obj < 0)
            rs_fail(L, st, "cannot open '%s' in '%s': %s", next, st->path, h5msg(st));
        track(L, st, obj, "open an object");
        untrack(st, cur);
        cur = obj;
        lua_replace(L, -3); /* here <- next */
        lua_pop(L, 1);      /* comp */
        p = e;
    }
    return cur;
}

/* ---- arguments and the file ----------------------------------------------------- */

static lua_Integer opt_max_values(lua_State *L, int t)
{
    if (t == 0)
        return DEFAULT_MAX_VALUES;
    /* the options are nk_api.c's list, as help() shows it */
    const nk_api_opt *opts = nk_api_opts("nk.read", NULL);
    const char *known[16];
    int n = 0;
    for (; opts[n].name && n < 15; n++)
        known[n] = opts[n].name;
    known[n] = NULL;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            rs_fail(L, NULL, "option names must be strings, got a %s key", luaL_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        int found = 0;
        for (int j = 0; j < n && !found; j++)
            found = !strcmp(k, known[j]);
        if (!found) {
            const char *s = nk_suggest(k, known, n);
            if (s)
                rs_fail(L, NULL,
                        "unknown option '%s' (did you mean '%s'? the options are: max_values)", k,
                        s);
            rs_fail(L, NULL, "unknown option '%s' (the options are: max_values)", k);
        }
    }
    lua_Integer v = DEFAULT_MAX_VALUES;
    lua_getfield(L, t, "max_values");
    if (lua_isinteger(L, -1)) {
        v = lua_tointeger(L, -1);
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
        double d = lua_tonumber(L, -1);
        if (d == HUGE_VAL)
            v = LUA_MAXINTEGER;
        else if (d == floor(d) && d >= 0 && d < 9.2e18)
            v = (lua_Integer)d;
        else
            v = -1;
    } else if (!lua_isnil(L, -1)) {
        rs_fail(L, NULL, "option 'max_values' must be an integer >= 0 (or math.huge), got %s",
                luaL_typename(L, -1));
    }
    if (v < 0) {
        char nb[32]; /* "nan", not printf's "-nan" */
        rs_fail(L, NULL, "option 'max_values' must be an integer >= 0 (or math.huge), got %s",
                nk_fmt_num(lua_tonumber(L, -1), nb, sizeof nb));
    }
    lua_pop(L, 1);
    return v;
}

/* Raises the error for a path that cannot be read as a file, if it cannot. */
static void check_file(lua_State *L, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int err = errno;
        if (err == ENOENT) {
            struct stat sp;
            char part[4096];
            if (snprintf(part, sizeof part, "%s.part", path) < (int)sizeof part &&
                stat(part, &sp) == 0 && S_ISREG(sp.st_mode))
                rs_fail(L, NULL,
                        "'%s' does not exist; '%s' is the file of a run in progress or one "
                        "that stopped abnormally: nk.read('%s')",
                        path, part, part);
            rs_fail(L, NULL, "'%s' does not exist", path);
        }
        rs_fail(L, NULL, "cannot open '%s': %s", path, strerror(err));
    }
    if (S_ISDIR(sb.st_mode))
        rs_fail(L, NULL, "'%s' is a directory, not an HDF5 file", path);
    if (!S_ISREG(sb.st_mode))
        rs_fail(L, NULL, "'%s' is not a regular file", path);
    if (sb.st_size == 0)
        rs_fail(L, NULL, "'%s' is empty (0 bytes), not an HDF5 file", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        rs_fail(L, NULL, "cannot open '%s': %s", path, strerror(err));
    }
    close(fd);
}

int nk_lua_read(lua_State *L)
{
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    if (strlen(path) != len || len == 0)
        return luaL_argerror(L, 1, len ? "the path contains a NUL byte" : "the path is empty");
    const char *sub = NULL;
    int t = 0;
    if (lua_type(L, 2) == LUA_TSTRING) {
        sub = lua_tolstring(L, 2, &len);
        if (strlen(sub) != len)
            return luaL_argerror(L, 2, "the subpath contains a NUL byte");
        t = 3;
    } else if (lua_istable(L, 2)) {
        if (!lua_isnoneornil(L, 3))
            return luaL_argerror(L, 3, "nothing expected after the options table");
        t = 2;
    } else if (lua_isnoneornil(L, 2)) {
        t = 3;
    } else {
        return luaL_typeerror(L, 2, "subpath (string) or options (table)");
    }
    if (lua_isnoneornil(L, t))
        t = 0;
    else if (!lua_istable(L, t))
        return luaL_typeerror(L, t, "options table");
    lua_settop(L, 3);
    lua_Integer max_values = opt_max_values(L, t);
    check_file(L, path);

    /* From here on everything is held by st (index 4, to-be-closed). */
    rstate *st = lua_newuserdatauv(L, sizeof *st, 0);
    memset(st, 0, sizeof *st);
    st->path = path;
    st->max_values = max_values;
    if (luaL_newmetatable(L, READ_MT)) {
        lua_pushcfunction(L, rs_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, rs_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    lua_toclose(L, -1);
    lua_newtable(L);
    st->memo = lua_gettop(L);
    if (H5Eget_auto2(H5E_DEFAULT, &st->efunc, &st->edata) >= 0) {
        st->esaved = 1;
        H5Eset_auto2(H5E_DEFAULT, capture_cb, st);
    }

    htri_t is = H5Fis_hdf5(path);
    if (is == 0)
        rs_fail(L, st, "'%s' is not an HDF5 file (no HDF5 signature in it)", path);
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid < 0 && st->open_for_write) {
        char first[sizeof st->h5msg];
        memcpy(first, st->h5msg, sizeof first);
        fid = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
        if (fid < 0)
            rs_fail(L, st,
                    "cannot open '%s': it is marked as open for writing (%s), and reading it in "
                    "SWMR mode failed too (%s); to look at it, copy it and run `h5clear -s` on "
                    "the copy",
                    path, first, h5msg(st));
    }
    if (fid < 0)
        rs_fail(L, st, "cannot open '%s' as an HDF5 file: %s%s", path, h5msg(st),
                strstr(h5msg(st), "unable to lock") ? " (another program is writing it)"
                                          : "");
    track(L, st, fid, "open the file");

    hid_t obj = open_subpath(L, st, fid, sub ? sub : "/");
    push_opened(L, st, obj, lua_tostring(L, -1), 0);
    rs_release(st);
    return 1;
}
