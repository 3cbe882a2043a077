/* checkpoint.c - the complete state of a network in one HDF5 file, and back.
 *
 * A checkpoint holds the network's description (populations with their
 * parameters, receptors, projections as CSR arrays, sources, monitors) and
 * its state: every state variable, refractory counters, ring buffers (in
 * step order from the current step), the step, everything the monitors
 * recorded and how much of it the results file held, and the last values
 * of callback sources. Random numbers are counter-based (a function of
 * seed, stream, step and neuron), so no generator state needs saving.
 *
 * nk_checkpoint_apply loads the state into a network built the same way
 * (the script run again, for --resume) and refuses one that differs, naming
 * the difference; nk_restore builds the network from the file first. Both
 * continue bit-identically to a network that was never stopped.
 *
 * Layout: root attributes (format, version, dt, seed, ...), groups pop<K>
 * (attributes, parameter and state datasets, rx<R> subgroups with ring),
 * proj<K>, src<K>, mon<K>, meta. Written as PATH.part, renamed when
 * complete. */
#include "internal.h"

#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CK_FORMAT "nkshell checkpoint"
#define CK_VERSION 1

/* ---- small HDF5 helpers (errors silenced by the caller) ----------------------------- */

static int put_attr(hid_t loc, const char *name, hid_t type, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, type, v) < 0;
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int put_i(hid_t loc, const char *name, int64_t v)
{
    return put_attr(loc, name, H5T_NATIVE_INT64, &v);
}

static int put_d(hid_t loc, const char *name, double v)
{
    return put_attr(loc, name, H5T_NATIVE_DOUBLE, &v);
}

static int put_s(hid_t loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const char *s = v ? v : "";
    int rc = put_attr(loc, name, t, &s);
    H5Tclose(t);
    return rc;
}

static int get_i(hid_t loc, const char *name, int64_t *v)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    int rc = a < 0 || H5Aread(a, H5T_NATIVE_INT64, v) < 0;
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

/* For messages: "GROUP/NAME" of attribute name on loc ("mon1/rows"; "step" at the root). */
static const char *attr_name(hid_t loc, const char *name, char *buf, size_t len)
{
    char g[128] = "";
    if (H5Iget_name(loc, g, sizeof g) <= 0)
        g[0] = 0;
    const char *gn = g[0] == '/' ? g + 1 : g;
    snprintf(buf, len, "%s%s%s", gn, *gn ? "/" : "", name);
    return buf;
}

/* Checks a number read from attribute name of loc against the range
 * lo..hi the network allows, before anything is computed or allocated
 * from it: 0, or 1 with the reason in why ("mon1/rows is -1, expected
 * 0..200 (the rows in mon1/data)"; note, in parentheses, may be NULL). */
static int out_of(hid_t loc, const char *name, int64_t v, int64_t lo, int64_t hi,
                  const char *note, char *why, size_t len)
{
    if (v >= lo && v <= hi)
        return 0;
    char an[192], range[64];
    if (lo == hi)
        snprintf(range, sizeof range, "%lld", (long long)lo);
    else if (hi == INT64_MAX)
        snprintf(range, sizeof range, ">= %lld", (long long)lo);
    else
        snprintf(range, sizeof range, "%lld..%lld", (long long)lo, (long long)hi);
    snprintf(why, len, "%s is %lld, expected %s%s%s%s", attr_name(loc, name, an, sizeof an),
             (long long)v, range, note ? " (" : "", note ? note : "", note ? ")" : "");
    return 1;
}

/* build_*: a damaged value's message for err, which nk_restore completes as
 * "restore: 'PATH' is damaged (WHY)". Returns NK_EINVAL. */
#define DAMAGED_ERR "is damaged ("
static int damaged_err(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, DAMAGED_ERR "%s)", why);
    return NK_EINVAL;
}

/* "restore: PATH is damaged (src0/rate is missing or does not read back)": for
 * an attribute name of loc that did not read back. */
static int missing_err(hid_t loc, const char *name, char *err, size_t errlen)
{
    char an[192], why[256];
    snprintf(why, sizeof why, "%s is missing or does not read back",
             attr_name(loc, name, an, sizeof an));
    return damaged_err(err, errlen, why);
}

/* malloc of n entries of es bytes (at least one entry), NULL when n is
 * negative or n * es is more than an object may hold. */
static void *alloc_n(int64_t n, size_t es)
{
    if (n < 0 || (uint64_t)n > (uint64_t)PTRDIFF_MAX / es)
        return NULL;
    return malloc((size_t)(n ? n : 1) * es);
}

static int get_d(hid_t loc, const char *name, double *v)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    int rc = a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0;
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

/* A malloc'd copy of a string attribute, or NULL. */
static char *get_s(hid_t loc, const char *name)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return NULL;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *s = NULL, *out = NULL;
    if (H5Aread(a, t, &s) >= 0 && s) {
        out = nk_strdup(s);
        H5free_memory(s);
    }
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

/* A 1-D dataset of n values (n may be 0). */
static int put_arr(hid_t loc, const char *name, hid_t type, const void *v, int64_t n)
{
    hsize_t d = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = ds < 0 || (n > 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(sp);
    return rc;
}

/* Writes population p's per-neuron array arr (es bytes an entry), its
 * neurons in order whatever its layout (nk_lay). */
static int put_parr(hid_t loc, const char *name, hid_t type, const nk_pop *p, const void *arr,
                    size_t es)
{
    if (!p->lay.gap)
        return put_arr(loc, name, type, arr, p->n);
    void *d = malloc((size_t)p->n * es + 1);
    if (!d)
        return 1;
    nk_lay_gather(&p->lay, arr, es, p->n, d);
    int rc = put_arr(loc, name, type, d, p->n);
    free(d);
    return rc;
}

/* Reads a 1-D dataset that must hold exactly n values into v. */
static int get_arr(hid_t loc, const char *name, hid_t type, void *v, int64_t n)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return 1;
    hid_t sp = H5Dget_space(ds);
    hssize_t have = H5Sget_simple_extent_npoints(sp);
    int rc = have != n || (n > 0 && H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0);
    H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

static int64_t arr_len(hid_t loc, const char *name)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t sp = H5Dget_space(ds);
    int64_t n = (int64_t)H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Dclose(ds);
    return n;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t k = 0; k < n; k++) {
        h ^= c[k];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t proj_hash(const nk_proj *pj)
{
    uint64_t h = 0xcbf29ce484222325ull;
    int64_t npre = pj->pre.hi - pj->pre.lo;
    h = fnv(h, pj->row, (size_t)(npre + 1) * sizeof *pj->row);
    h = fnv(h, pj->col, (size_t)pj->nsyn * sizeof *pj->col);
    h = fnv(h, pj->w, (size_t)pj->nsyn * sizeof *pj->w);
    h = fnv(h, pj->delay, (size_t)pj->nsyn * sizeof *pj->delay);
    return h;
}

#define REAL(net) ((net)->dbl ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT)

typedef struct esave {
    H5E_auto2_t fn;
    void *data;
} esave;

static void quiet(esave *e)
{
    H5Eget_auto2(H5E_DEFAULT, &e->fn, &e->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void loud(esave *e) { H5Eset_auto2(H5E_DEFAULT, e->fn, e->data); }

/* Reads population p's per-neuron array arr (es bytes an entry) back. */
static int get_parr(hid_t loc, const char *name, hid_t type, const nk_pop *p, void *arr, size_t es)
{
    if (!p->lay.gap)
        return get_arr(loc, name, type, arr, p->n);
    void *d = malloc((size_t)p->n * es + 1);
    if (!d)
        return 1;
    int rc = get_arr(loc, name, type, d, p->n);
    if (!rc)
        nk_lay_scatter(&p->lay, arr, es, p->n, d);
    free(d);
    return rc;
}

/* The refractory state as a checkpoint keeps it: per neuron, in neuron
 * order, the steps of refractoriness left after the last step taken (a
 * count that the next step decrements first: 2 or more, refractory then),
 * or, for a period that is a condition, the condition's flag. In memory it
 * is the step at which the period ends (nk_kargs.refr); step is the next
 * step to take. The file's form is the one it had when memory held the
 * count too, so checkpoints of either build read in the other. */
static int put_refr(hid_t g, const nk_pop *p, int64_t step)
{
    const int64_t len = p->lay.len; /* laid out as p->refr: put_parr gathers */
    int32_t *left = malloc((size_t)len * sizeof *left + 1);
    if (!left)
        return 1;
    for (int64_t i = 0; i < len; i++) {
        int64_t l = p->model->refr_cond ? p->refr[i] : p->refr[i] - step + 1;
        left[i] = l <= 0 ? 0 : l > INT32_MAX ? INT32_MAX : (int32_t)l;
    }
    int rc = put_parr(g, "refr", H5T_NATIVE_INT32, p, left, sizeof *left);
    free(left);
    return rc;
}

static int get_refr(hid_t g, nk_pop *p, int64_t step)
{
    const int64_t len = p->lay.len; /* get_parr scatters; the gaps stay 0 */
    int32_t *left = calloc((size_t)len + 1, sizeof *left);
    int rc = !left || get_parr(g, "refr", H5T_NATIVE_INT32, p, left, sizeof *left);
    for (int64_t i = 0; !rc && i < len; i++)
        p->refr[i] = p->model->refr_cond ? left[i] : left[i] > 0 ? left[i] + step - 1 : 0;
    free(left);
    return rc;
}

/* ---- writing --------------------------------------------------------------------- */

static int write_pop(nk_net *net, hid_t f, int k)
{
    nk_pop *p = &net->pops[k];
    char name[32];
    snprintf(name, sizeof name, "pop%d", k);
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return 1;
    int rc = put_s(g, "name", p->name) || put_s(g, "model", p->model->name) ||
             put_s(g, "describe", p->model->describe) || put_s(g, "method", p->method) ||
             put_i(g, "n", p->n) || put_d(g, "rtol", p->rtol) || put_d(g, "atol", p->atol) ||
             put_i(g, "nrx", p->nrx) || put_i(g, "nwritten", p->nwritten) ||
             put_arr(g, "param", H5T_NATIVE_DOUBLE, p->param, p->model->nparams) ||
             put_refr(g, p, net->step) ||
             put_arr(g, "rec_step", H5T_NATIVE_INT64, p->rec_step, p->nrec) ||
             put_arr(g, "rec_id", H5T_NATIVE_UINT32, p->rec_id, p->nrec);
    for (int s = 0; !rc && s < p->model->nstates; s++) {
        char sn[160];
        snprintf(sn, sizeof sn, "s_%s", p->model->sname[s]);
        rc = put_parr(g, sn, REAL(net), p, p->state[s], net->real_size);
    }
    if (!rc && p->pos)
        rc = put_arr(g, "pos", H5T_NATIVE_DOUBLE, p->pos, 3 * p->n);
    if (!rc && p->ids)
        rc = put_arr(g, "ids", H5T_NATIVE_INT64, p->ids, p->n);
    int64_t *ring = NULL;
    if (!rc && p->nrx) {
        ring = malloc((size_t)net->ring_len * (size_t)p->n * sizeof *ring);
        rc = !ring;
    }
    for (int r = 0; !rc && r < p->nrx; r++) {
        nk_receptor *x = &p->rx[r];
        char rn[32];
        snprintf(rn, sizeof rn, "rx%d", r);
        hid_t rg = H5Gcreate2(g, rn, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (rg < 0) {
            rc = 1;
            break;
        }
        rc = put_s(rg, "name", x->name) || put_s(rg, "synapse", x->syn->name) ||
             put_s(rg, "describe", x->syn->describe) ||
             put_arr(rg, "param", H5T_NATIVE_DOUBLE, x->param, x->syn->nparams);
        for (int s = 0; !rc && s < x->syn->nstates; s++) {
            char sn[160];
            snprintf(sn, sizeof sn, "s_%s", x->syn->sname[s]);
            rc = put_parr(rg, sn, REAL(net), p, x->state[s], net->real_size);
        }
        /* The ring in step order: slot d holds step net->step + d. */
        for (int d = 0; !rc && d < net->ring_len; d++) {
            const int64_t *src = x->ring ? nk_ring_slot(p, r, net->ring_len, net->step + d) : NULL;
            if (src)
                nk_lay_gather(&p->lay, src, sizeof *ring, p->n, ring + (size_t)d * (size_t)p->n);
            else
                memset(ring + (size_t)d * (size_t)p->n, 0, (size_t)p->n * sizeof *ring);
        }
        if (!rc)
            rc = put_arr(rg, "ring", H5T_NATIVE_INT64, ring, (int64_t)net->ring_len * p->n);
        H5Gclose(rg);
    }
    free(ring);
    H5Gclose(g);
    return rc;
}

static int write_proj(nk_net *net, hid_t f, int k)
{
    nk_proj *pj = &net->projs[k];
    char name[32];
    snprintf(name, sizeof name, "proj%d", k);
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return 1;
    int64_t npre = pj->pre.hi - pj->pre.lo;
    int rc = put_i(g, "pre_pop", pj->pre.pop) || put_i(g, "pre_lo", pj->pre.lo) ||
             put_i(g, "pre_hi", pj->pre.hi) || put_i(g, "post_pop", pj->post.pop) ||
             put_i(g, "post_lo", pj->post.lo) || put_i(g, "post_hi", pj->post.hi) ||
             put_i(g, "rx", pj->rx) || put_i(g, "nsyn", pj->nsyn) ||
             put_i(g, "max_delay", pj->max_delay) || put_s(g, "desc", pj->desc) ||
             put_i(g, "hash", (int64_t)proj_hash(pj)) ||
             put_arr(g, "row", H5T_NATIVE_INT64, pj->row, npre + 1) ||
             put_arr(g, "col", H5T_NATIVE_UINT32, pj->col, pj->nsyn) ||
             put_arr(g, "w", H5T_NATIVE_FLOAT, pj->w, pj->nsyn) ||
             put_arr(g, "delay", H5T_NATIVE_UINT16, pj->delay, pj->nsyn);
    H5Gclose(g);
    return rc;
}

static const char *const src_fields[] = {"start", "stop",   "rate",      "weight", "amplitude",
                                         "from",  "to",     "frequency", "phase",  "offset",
                                         "mean",  "std",    "interval",  "p",      NULL};

static double *src_field(nk_source *s, int k)
{
    double *f[] = {&s->start, &s->stop,      &s->rate,  &s->weight, &s->amplitude,
                   &s->from,  &s->to,        &s->frequency, &s->phase, &s->offset,
                   &s->mean,  &s->std,       &s->interval,  &s->p};
    return f[k];
}

/* The index in src_fields of field name. */
static int src_index(const char *name)
{
    int k = 0;
    while (src_fields[k] && strcmp(src_fields[k], name))
        k++;
    return k;
}

static int write_src(nk_net *net, hid_t f, int k)
{
    nk_source *s = &net->srcs[k];
    char name[32];
    snprintf(name, sizeof name, "src%d", k);
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return 1;
    int rc = put_i(g, "kind", s->kind) || put_i(g, "removed", s->removed);
    if (!rc && !s->removed) {
        for (int q = 0; !rc && src_fields[q]; q++)
            rc = put_d(g, src_fields[q], *src_field(s, q));
        rc = rc || put_i(g, "hold", s->hold) || put_i(g, "every", s->every) ||
             put_i(g, "cb_called", s->cb_called) ||
             put_i(g, "nparts", s->nparts) || put_i(g, "ntotal", s->ntotal) ||
             put_i(g, "rows", s->rows) || put_i(g, "cols", s->cols) ||
             put_s(g, "expr", s->expr ? s->expr : "") ||
             put_arr(g, "times", H5T_NATIVE_DOUBLE, s->times, s->times ? s->ntimes : 0) ||
             put_arr(g, "amps", H5T_NATIVE_DOUBLE, s->amps, s->amps ? s->ntimes : 0) ||
             put_arr(g, "ev_step", H5T_NATIVE_INT64, s->ev_step, s->nev) ||
             put_arr(g, "ev_at", H5T_NATIVE_INT64, s->ev_at, s->nev) ||
             put_arr(g, "arr", H5T_NATIVE_DOUBLE, s->arr, s->arr ? s->rows * s->cols : 0) ||
             put_arr(g, "cb_vals", H5T_NATIVE_DOUBLE, s->cb_vals, s->cb_vals ? s->ntotal : 0);
        int64_t *pt = malloc((size_t)s->nparts * 5 * sizeof *pt);
        rc = rc || !pt;
        for (int q = 0; !rc && q < s->nparts; q++) {
            nk_src_part *p = &s->parts[q];
            int64_t row[5] = {p->pop, p->lo, p->hi, p->idx ? p->n : -1, p->rx};
            memcpy(pt + 5 * q, row, sizeof row);
            if (p->idx) {
                char in[32];
                snprintf(in, sizeof in, "idx%d", q);
                rc = put_arr(g, in, H5T_NATIVE_INT64, p->idx, p->n);
            }
        }
        rc = rc || put_arr(g, "parts", H5T_NATIVE_INT64, pt, 5 * (int64_t)s->nparts);
        free(pt);
    }
    H5Gclose(g);
    return rc;
}

static int write_mon(nk_net *net, hid_t f, int k)
{
    nk_monitor *m = &net->mons[k];
    char name[32];
    snprintf(name, sizeof name, "mon%d", k);
    hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return 1;
    char vars[2048] = "";
    for (int v = 0; v < m->nvars; v++) {
        size_t l = strlen(vars);
        snprintf(vars + l, sizeof vars - l, "%s%s", v ? "," : "", m->vname[v]);
    }
    int rc = put_i(g, "kind", m->kind) || put_s(g, "name", m->name ? m->name : "") ||
             put_i(g, "pop", m->target.pop) || put_i(g, "lo", m->target.lo) ||
             put_i(g, "hi", m->target.hi) || put_i(g, "n", m->n) ||
             put_i(g, "has_idx", m->idx != NULL) || put_i(g, "start_step", m->start_step) ||
             put_i(g, "every", m->every) || put_i(g, "op_sum", m->op_sum) ||
             put_i(g, "bin_steps", m->bin_steps) || put_i(g, "bin_count", m->bin_count) ||
             put_i(g, "ncols", m->ncols) || put_i(g, "rows", m->rows) ||
             put_i(g, "rows_out", m->rows_out) || put_s(g, "vars", vars) ||
             put_arr(g, "idx", H5T_NATIVE_INT64, m->idx, m->idx ? m->n : 0) ||
             put_arr(g, "data", H5T_NATIVE_DOUBLE, m->data, m->rows * m->ncols);
    H5Gclose(g);
    return rc;
}

/* Whether a checkpoint may be written to path: never over a results file
 * (or its .part, which a run writes), the network's own or that of another
 * open network of the session (ctx->live holds them all, this one too);
 * not over what is not a regular file; and only over an earlier
 * checkpoint (nk_replace_check). 0, or an error code with the message set. */
int nk_checkpoint_path_ok(nk_net *net, const char *path)
{
    nk_ctx *ctx = net->ctx;
    size_t pl = strlen(path);
    char *part = malloc(pl + 6);
    if (!part)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    snprintf(part, pl + 6, "%s.part", path);
    for (int k = 0; k < ctx->nlive; k++) {
        const nk_net *o = ctx->live[k];
        if (!o->output)
            continue;
        size_t ol = strlen(o->output);
        char *opart = malloc(ol + 6);
        if (!opart) {
            free(part);
            return nk_fail(ctx, NK_ENOMEM, "out of memory");
        }
        snprintf(opart, ol + 6, "%s.part", o->output);
        int clash = nk_same_path(path, o->output) || nk_same_path(path, opart) ||
                    nk_same_path(part, o->output) || nk_same_path(part, opart);
        free(opart);
        if (clash) {
            free(part);
            return nk_fail(ctx, NK_EINVAL,
                           "checkpoint: '%s' would overwrite %s results file '%s'; give the "
                           "checkpoint another name",
                           path, o == net ? "the network's" : "another open network's",
                           o->output);
        }
    }
    const char *what = nk_not_regular(path);
    if (!what)
        what = nk_not_regular(part);
    if (what) {
        free(part);
        return nk_fail(ctx, NK_EINVAL, "checkpoint: '%s' (or its .part) exists and is %s; give "
                                       "the path of a regular file or of a new one", path, what);
    }
    char why[1024];
    nk_replace_check(path, 1, why, sizeof why);
    if (why[0]) {
        free(part);
        return nk_fail(ctx, NK_EINVAL, "checkpoint: %s, and it would be replaced, so it is left "
                                       "as it is: give the checkpoint another name, or move the "
                                       "file away", why);
    }
    free(part);
    return 0;
}

int nk_checkpoint(nk_net *net, const char *path)
{
    nk_ctx *ctx = net->ctx;
    if (!path || !*path)
        return nk_fail(ctx, NK_EINVAL, "checkpoint: needs a file name");
    /* The results file must hold what the checkpoint says it holds. */
    int rc = nk_output_sync(net);
    if (rc)
        return rc;
    if ((rc = nk_net_build(net)))
        return rc;
    if ((rc = nk_checkpoint_path_ok(net, path)))
        return rc;
    size_t pl = strlen(path);
    char *part = malloc(pl + 6);
    if (!part)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    snprintf(part, pl + 6, "%s.part", path);
    esave e;
    quiet(&e);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(part, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        loud(&e);
        free(part);
        return nk_fail(ctx, NK_EIO, "checkpoint: cannot create '%s.part' (does the directory "
                                    "exist and is it writable?)", path);
    }
    int bad = put_s(f, "format", CK_FORMAT) || put_i(f, "format_version", CK_VERSION) ||
              put_s(f, "nkshell_version", nk_version()) || put_d(f, "dt", net->dt) ||
              put_i(f, "seed", (int64_t)net->seed) || put_i(f, "double", net->dbl) ||
              put_i(f, "backend", net->backend_req) || put_i(f, "step", net->step) ||
              put_i(f, "ring_len", net->ring_len) || put_s(f, "output", net->output) ||
              put_i(f, "output_started", net->output_started) ||
              put_s(f, "run_id", net->run_id) ||
              put_i(f, "npops", net->npops) || put_i(f, "nprojs", net->nprojs) ||
              put_i(f, "nsrcs", net->nsrcs) || put_i(f, "nmons", net->nmons) ||
              put_d(f, "time", nk_net_time(net));
    for (int k = 0; !bad && k < net->npops; k++)
        bad = write_pop(net, f, k);
    for (int k = 0; !bad && k < net->nprojs; k++)
        bad = write_proj(net, f, k);
    for (int k = 0; !bad && k < net->nsrcs; k++)
        bad = write_src(net, f, k);
    for (int k = 0; !bad && k < net->nmons; k++)
        bad = write_mon(net, f, k);
    if (!bad) {
        hid_t g = H5Gcreate2(f, "meta", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        bad = g < 0;
        for (int k = 0; !bad && k < net->nmeta; k++)
            bad = put_s(g, net->meta_key[k], net->meta_val[k]);
        if (g >= 0)
            H5Gclose(g);
    }
    if (H5Fclose(f) < 0) { /* a full disk: HDF5 keeps a broken ID (nk_hdf5_taint) */
        bad = 1;
        nk_hdf5_taint();
    }
    loud(&e);
    if (!bad) {
        /* durable before it replaces the last good checkpoint */
        FILE *fp = fopen(part, "rb+");
        if (!fp || fsync(fileno(fp)))
            bad = 1;
        if (fp)
            fclose(fp);
    }
    if (bad || rename(part, path)) {
        unlink(part);
        free(part);
        return nk_fail(ctx, NK_EIO, "checkpoint: writing '%s' failed (disk full?); the last "
                                    "good checkpoint, if any, is unchanged", path);
    }
    free(part);
    return 0;
}

/* ---- reading --------------------------------------------------------------------- */

typedef struct ck {
    hid_t f;
    int64_t step, ring_len, npops, nprojs, nsrcs, nmons;
} ck;

static int ck_open(nk_ctx *ctx, const char *path, ck *c)
{
    memset(c, 0, sizeof *c);
    c->f = -1;
    const char *what = nk_not_regular(path);
    if (what) /* reading a FIFO would wait for a writer */
        return nk_fail(ctx, NK_EINVAL, "restore: '%s' is %s, not a checkpoint file", path, what);
    if (access(path, R_OK))
        return nk_fail(ctx, NK_EIO, "restore: cannot read '%s'", path);
    if (H5Fis_hdf5(path) <= 0)
        return nk_fail(ctx, NK_EINVAL, "restore: '%s' is not an HDF5 file", path);
    c->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (c->f < 0)
        return nk_fail(ctx, NK_EIO, "restore: cannot open '%s' (a damaged or truncated HDF5 "
                                    "file?)", path);
    char *fmt = get_s(c->f, "format");
    int ok = fmt && !strcmp(fmt, CK_FORMAT);
    free(fmt);
    if (!ok)
        return nk_fail(ctx, NK_EINVAL, "restore: '%s' is not an nkshell checkpoint (no format "
                                       "attribute '" CK_FORMAT "'; a results file cannot be "
                                       "restored from)", path);
    int64_t v = 0;
    char *ver = get_s(c->f, "nkshell_version");
    if (get_i(c->f, "format_version", &v) || v != CK_VERSION || !ver ||
        strcmp(ver, nk_version())) {
        int rc = nk_fail(ctx, NK_EINVAL,
                         "restore: '%s' was written by nkshell %s (checkpoint format %lld); this "
                         "is nkshell %s (format %d): a checkpoint continues bit-identically only "
                         "in the version that wrote it", path, ver ? ver : "?", (long long)v,
                         nk_version(), CK_VERSION);
        free(ver);
        return rc;
    }
    free(ver);
    if (get_i(c->f, "step", &c->step) || get_i(c->f, "ring_len", &c->ring_len) ||
        get_i(c->f, "npops", &c->npops) || get_i(c->f, "nprojs", &c->nprojs) ||
        get_i(c->f, "nsrcs", &c->nsrcs) || get_i(c->f, "nmons", &c->nmons))
        return nk_fail(ctx, NK_EINVAL, "restore: '%s' is damaged (missing root attributes)", path);
    /* a network takes at most 2^62 steps (nk_run), so step + ring slots and
     * step * dt stay far from overflowing */
    char why[512];
    if (out_of(c->f, "step", c->step, 0, (int64_t)1 << 62, "a network takes at most 2^62 steps",
               why, sizeof why) ||
        out_of(c->f, "npops", c->npops, 0, INT_MAX, NULL, why, sizeof why) ||
        out_of(c->f, "nprojs", c->nprojs, 0, INT_MAX, NULL, why, sizeof why) ||
        out_of(c->f, "nsrcs", c->nsrcs, 0, INT_MAX, NULL, why, sizeof why) ||
        out_of(c->f, "nmons", c->nmons, 0, INT_MAX, NULL, why, sizeof why))
        return nk_fail(ctx, NK_EINVAL, "restore: '%s' is damaged (%s)", path, why);
    return 0;
}

static hid_t grp(hid_t f, const char *fmt, int k)
{
    char name[32];
    snprintf(name, sizeof name, fmt, k);
    return H5Gopen2(f, name, H5P_DEFAULT);
}

/* Compares the network with the checkpoint; 0, or a refusal naming the
 * first difference. */
static int ck_compare(nk_net *net, ck *c, const char *path)
{
    nk_ctx *ctx = net->ctx;
    double dt;
    int64_t seed, dbl;
    if (get_d(c->f, "dt", &dt) || get_i(c->f, "seed", &seed) || get_i(c->f, "double", &dbl))
        return nk_fail(ctx, NK_EINVAL, "restore: '%s' is damaged", path);
#define REFUSE(...)                                                                           \
    do {                                                                                      \
        char why_[1024];                                                                      \
        nk_snprintf(why_, sizeof why_, __VA_ARGS__);                                          \
        return nk_fail(ctx, NK_EINVAL,                                                        \
                       "restore: '%s' is the checkpoint of a different network: %s", path,   \
                       why_);                                                                 \
    } while (0)
    if (dt != net->dt)
        REFUSE("dt is %g ms there, %g ms here", dt, net->dt);
    if ((uint64_t)seed != net->seed)
        REFUSE("the seed is %llu there, %llu here", (unsigned long long)seed,
               (unsigned long long)net->seed);
    if ((dbl != 0) != net->dbl)
        REFUSE("the precision is %s there, %s here", dbl ? "float64" : "float32",
               net->dbl ? "float64" : "float32");
    if (c->npops != net->npops)
        REFUSE("%lld populations there, %d here", (long long)c->npops, net->npops);
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        hid_t g = grp(c->f, "pop%d", k);
        if (g < 0)
            REFUSE("population %d is missing", k + 1);
        char *name = get_s(g, "name"), *model = get_s(g, "model"), *desc = get_s(g, "describe");
        int64_t n = -1, nrx = -1;
        get_i(g, "n", &n);
        get_i(g, "nrx", &nrx);
        double *param = malloc(((size_t)p->model->nparams + 1) * sizeof *param);
        int pbad = !param || get_arr(g, "param", H5T_NATIVE_DOUBLE, param, p->model->nparams);
        int diff = 0;
        char why[512] = "";
        if (!name || strcmp(name, p->name) || !model || strcmp(model, p->model->name) ||
            n != p->n)
            snprintf(why, sizeof why, "population %d is '%s' with %lld %s neurons there, '%s' "
                                      "with %lld %s neurons here", k + 1, name ? name : "?",
                     (long long)n, model ? model : "?", p->name, (long long)p->n,
                     p->model->name), diff = 1;
        else if (!desc || strcmp(desc, p->model->describe))
            snprintf(why, sizeof why, "model '%s' is defined differently", model), diff = 1;
        else if (pbad || memcmp(param, p->param, (size_t)p->model->nparams * sizeof *param))
            snprintf(why, sizeof why, "the parameters of population '%s' differ", p->name),
                diff = 1;
        else if (nrx != p->nrx)
            snprintf(why, sizeof why, "population '%s' has %lld receptors there, %d here",
                     p->name, (long long)nrx, p->nrx), diff = 1;
        for (int r = 0; !diff && r < p->nrx; r++) {
            hid_t rg = grp(g, "rx%d", r);
            char *rn = rg >= 0 ? get_s(rg, "name") : NULL;
            char *rs = rg >= 0 ? get_s(rg, "synapse") : NULL;
            if (!rn || !rs || strcmp(rn, p->rx[r].name) || strcmp(rs, p->rx[r].syn->name))
                snprintf(why, sizeof why, "receptor %d of '%s' is '%s' (%s) there, '%s' (%s) "
                                          "here", r + 1, p->name, rn ? rn : "?", rs ? rs : "?",
                         p->rx[r].name, p->rx[r].syn->name), diff = 1;
            free(rn);
            free(rs);
            if (rg >= 0)
                H5Gclose(rg);
        }
        free(name);
        free(model);
        free(desc);
        free(param);
        H5Gclose(g);
        if (diff)
            REFUSE("%s", why);
    }
    if (c->nprojs != net->nprojs)
        REFUSE("%lld projections there, %d here", (long long)c->nprojs, net->nprojs);
    for (int k = 0; k < net->nprojs; k++) {
        hid_t g = grp(c->f, "proj%d", k);
        int64_t nsyn = -1, h = 0;
        if (g >= 0) {
            get_i(g, "nsyn", &nsyn);
            get_i(g, "hash", &h);
            H5Gclose(g);
        }
        if (nsyn != net->projs[k].nsyn)
            REFUSE("projection %d (%s) has %lld synapses there, %lld here", k + 1,
                   net->projs[k].desc, (long long)nsyn, (long long)net->projs[k].nsyn);
        if ((uint64_t)h != proj_hash(&net->projs[k]))
            REFUSE("projection %d (%s) connects differently (same count, other synapses, "
                   "weights or delays)", k + 1, net->projs[k].desc);
    }
    if (c->nsrcs != net->nsrcs)
        REFUSE("%lld sources there, %d here", (long long)c->nsrcs, net->nsrcs);
    for (int k = 0; k < net->nsrcs; k++) {
        hid_t g = grp(c->f, "src%d", k);
        int64_t kind = -1, removed = 0, ntotal = -1;
        if (g >= 0) {
            get_i(g, "kind", &kind);
            get_i(g, "removed", &removed);
            get_i(g, "ntotal", &ntotal);
            H5Gclose(g);
        }
        nk_source *s = &net->srcs[k];
        if (removed != s->removed || (!removed && (kind != s->kind || ntotal != s->ntotal)))
            REFUSE("source %d differs (%s there, %s here)", k + 1,
                   removed ? "removed"
                           : (kind >= 0 && kind < NK_SRC_NKINDS ? nk_source_kinds[kind] : "?"),
                   s->removed ? "removed" : nk_source_kinds[s->kind]);
    }
    if (c->nmons != net->nmons)
        REFUSE("%lld monitors there, %d here", (long long)c->nmons, net->nmons);
    for (int k = 0; k < net->nmons; k++) {
        hid_t g = grp(c->f, "mon%d", k);
        int64_t kind = -1, pop = -1, n = -1, ncols = -1;
        if (g >= 0) {
            get_i(g, "kind", &kind);
            get_i(g, "pop", &pop);
            get_i(g, "n", &n);
            get_i(g, "ncols", &ncols);
            H5Gclose(g);
        }
        nk_monitor *m = &net->mons[k];
        if (kind != m->kind || pop != m->target.pop || n != m->n || ncols != m->ncols)
            REFUSE("monitor %d differs (%s on %lld neurons there, %s on %lld here)", k + 1,
                   kind >= 0 && kind < NK_MON_NKINDS ? nk_monitor_kinds[kind] : "?",
                   (long long)n, nk_monitor_kinds[m->kind], (long long)m->n);
    }
#undef REFUSE
    return 0;
}

/* Checks the numbers of the state that count, index or size something
 * against the built network, before any of the state is loaded: 0, or a
 * refusal naming the attribute (the network is then unchanged). */
static int ck_check_state(nk_net *net, ck *c, const char *path)
{
    char why[512] = "";
    int bad = out_of(c->f, "ring_len", c->ring_len, 1, net->ring_len,
                     "the ring buffer slots this network's delays need", why, sizeof why);
    for (int k = 0; !bad && k < net->npops; k++) {
        /* nwritten: how many of the recorded spikes the results file
         * holds; the next write hands over the rest */
        hid_t g = grp(c->f, "pop%d", k);
        if (g < 0)
            continue; /* ck_load_state says so */
        int64_t nrec = arr_len(g, "rec_step"), nw = 0;
        get_i(g, "nwritten", &nw);
        bad = nrec >= 0 && out_of(g, "nwritten", nw, 0, nrec, "the spikes it recorded", why,
                                  sizeof why);
        H5Gclose(g);
    }
    for (int k = 0; !bad && k < net->nmons; k++) {
        /* rows of ncols values in 'data', rows_out of them in the results
         * file; recording began at start_step, not after the checkpoint's
         * step; a rate bin holds at most n spikes a step */
        const nk_monitor *m = &net->mons[k];
        hid_t g = grp(c->f, "mon%d", k);
        if (g < 0)
            continue;
        int64_t rows = 0, rows_out = 0, start = 0, bc = 0;
        if (!get_i(g, "rows", &rows) && !get_i(g, "rows_out", &rows_out) &&
            !get_i(g, "start_step", &start) && !get_i(g, "bin_count", &bc)) {
            int64_t have = m->ncols ? arr_len(g, "data") : 0;
            int64_t want = m->ncols && have > 0 ? have / m->ncols : 0;
            int64_t maxbc = m->kind == NK_MON_RATE ? m->n * m->bin_steps : INT64_MAX;
            bad = out_of(g, "rows", rows, want, m->ncols ? want : INT64_MAX,
                         m->ncols ? "the rows in its data" : NULL, why, sizeof why) ||
                  out_of(g, "rows_out", rows_out, 0, rows, "its rows", why, sizeof why) ||
                  out_of(g, "start_step", start, 0, c->step, "the checkpoint's step", why,
                         sizeof why) ||
                  out_of(g, "bin_count", bc, 0, maxbc, NULL, why, sizeof why);
        }
        H5Gclose(g);
    }
    if (bad)
        return nk_fail(net->ctx, NK_EINVAL, "restore: '%s' is damaged (%s)", path, why);
    return 0;
}

/* Loads the state (the structure is known to match). */
static int ck_load_state(nk_net *net, ck *c, const char *path)
{
    nk_ctx *ctx = net->ctx;
#define DAMAGED(what)                                                                          \
    return nk_fail(ctx, NK_EINVAL, "restore: '%s' is damaged (%s)", path, what)
    int rc = nk_net_build(net);
    if (rc || (rc = ck_check_state(net, c, path)))
        return rc;
    /* the run whose results file this continues; none in a checkpoint older
     * than run ids */
    char run_id[NK_RUN_ID_LEN + 1] = "";
    char *rid = get_s(c->f, "run_id");
    int rid_ok = !rid || !*rid || nk_run_id_ok(rid);
    if (rid && rid_ok)
        snprintf(run_id, sizeof run_id, "%s", rid);
    free(rid);
    if (!rid_ok)
        DAMAGED("run_id is not 32 hexadecimal digits");
    char *from = nk_strdup(path);
    if (!from)
        return nk_fail(ctx, NK_ENOMEM, "out of memory");
    free(net->ck_from);
    net->ck_from = from;
    net->step = c->step;
    int64_t started = 0;
    get_i(c->f, "output_started", &started);
    for (int k = 0; k < net->npops; k++) {
        nk_pop *p = &net->pops[k];
        hid_t g = grp(c->f, "pop%d", k);
        if (g < 0)
            DAMAGED("a population group is missing");
        int bad = get_refr(g, p, c->step);
        for (int s = 0; !bad && s < p->model->nstates; s++) {
            char sn[160];
            snprintf(sn, sizeof sn, "s_%s", p->model->sname[s]);
            bad = get_parr(g, sn, REAL(net), p, p->state[s], net->real_size);
        }
        int64_t nrec = arr_len(g, "rec_step");
        if (!bad && nrec >= 0) {
            int64_t nw = 0; /* 0..nrec (ck_check_state) */
            get_i(g, "nwritten", &nw);
            int64_t *st = alloc_n(nrec, sizeof *st);
            uint32_t *id = alloc_n(nrec, sizeof *id);
            bad = !st || !id || get_arr(g, "rec_step", H5T_NATIVE_INT64, st, nrec) ||
                  get_arr(g, "rec_id", H5T_NATIVE_UINT32, id, nrec);
            if (bad) {
                free(st);
                free(id);
            } else {
                free(p->rec_step);
                free(p->rec_id);
                p->rec_step = st;
                p->rec_id = id;
                p->nrec = p->caprec = nrec ? nrec : 1;
                p->nrec = nrec;
                p->nwritten = nw;
            }
        }
        /* ring_len <= net->ring_len: the network holds as much already */
        int64_t *ring = alloc_n(c->ring_len * p->n, sizeof *ring);
        bad = bad || !ring;
        for (int r = 0; !bad && r < p->nrx; r++) {
            nk_receptor *x = &p->rx[r];
            hid_t rg = grp(g, "rx%d", r);
            if (rg < 0) {
                bad = 1;
                break;
            }
            for (int s = 0; !bad && s < x->syn->nstates; s++) {
                char sn[160];
                snprintf(sn, sizeof sn, "s_%s", x->syn->sname[s]);
                bad = get_parr(rg, sn, REAL(net), p, x->state[s], net->real_size);
            }
            bad = bad || get_arr(rg, "ring", H5T_NATIVE_INT64, ring, c->ring_len * p->n);
            if (!bad) {
                memset(x->ring, 0, (size_t)net->ring_len * (size_t)p->lay.len * sizeof *x->ring);
                for (int d = 0; d < c->ring_len; d++)
                    nk_lay_scatter(&p->lay, nk_ring_slot(p, r, net->ring_len, net->step + d),
                                   sizeof *ring, p->n, ring + (size_t)d * (size_t)p->n);
                net->in_changed = 1; /* the kernel's bound on the input (nk_net_build) */
            }
            H5Gclose(rg);
        }
        free(ring);
        H5Gclose(g);
        if (bad)
            DAMAGED("a population's state does not read back");
    }
    for (int k = 0; k < net->nsrcs; k++) {
        nk_source *s = &net->srcs[k];
        s->ev_pos = 0;
        if (s->removed || !s->cb_vals)
            continue;
        hid_t g = grp(c->f, "src%d", k);
        int64_t called = 0;
        int bad = g < 0 || get_arr(g, "cb_vals", H5T_NATIVE_DOUBLE, s->cb_vals, s->ntotal) ||
                  get_i(g, "cb_called", &called);
        s->cb_called = called != 0;
        if (g >= 0)
            H5Gclose(g);
        if (bad)
            DAMAGED("a callback source's values do not read back");
    }
    for (int k = 0; k < net->nmons; k++) {
        nk_monitor *m = &net->mons[k];
        hid_t g = grp(c->f, "mon%d", k);
        if (g < 0)
            DAMAGED("a monitor group is missing");
        int64_t rows = 0, rows_out = 0, start = 0, bc = 0;
        int bad = get_i(g, "rows", &rows) || get_i(g, "rows_out", &rows_out) ||
                  get_i(g, "start_step", &start) || get_i(g, "bin_count", &bc);
        double *d = NULL; /* rows * ncols: no more than 'data' holds (ck_check_state) */
        if (!bad && m->ncols) {
            d = alloc_n((rows ? rows : 1) * m->ncols, sizeof *d); /* cap: at least a row */
            bad = !d || get_arr(g, "data", H5T_NATIVE_DOUBLE, d, rows * m->ncols);
        }
        H5Gclose(g);
        if (bad) {
            free(d);
            DAMAGED("a monitor's records do not read back");
        }
        if (m->ncols) {
            free(m->data);
            m->data = d;
            m->rows = rows;
            m->cap = rows ? rows : 1;
        }
        m->rows_out = rows_out;
        m->start_step = start;
        m->bin_count = bc;
    }
    net->output_started = started != 0;
    net->trunc_pending = 1; /* cut the results file back to what the checkpoint knew */
    memcpy(net->run_id, run_id, sizeof run_id);
#undef DAMAGED
    return 0;
}

int nk_checkpoint_apply(nk_net *net, const char *path)
{
    if (nk_busy(net, "restore"))
        return NK_EINVAL;
    ck c;
    esave e;
    quiet(&e);
    int rc = ck_open(net->ctx, path, &c);
    if (!rc)
        rc = ck_compare(net, &c, path);
    if (!rc)
        rc = ck_load_state(net, &c, path);
    if (c.f >= 0)
        H5Fclose(c.f);
    loud(&e);
    if (!rc) /* the results file is checked when the run opens it */
        net->ck_resumed = 1;
    return rc;
}

/* ---- building a network from a checkpoint ----------------------------------------- */

static int build_pop(nk_net *net, hid_t g, char *err, size_t errlen)
{
    char *name = get_s(g, "name"), *model = get_s(g, "model"), *desc = get_s(g, "describe"),
         *method = get_s(g, "method");
    int64_t n = 0, nrx = 0;
    double rtol = 1e-6, atol = 1e-6;
    int rc = NK_EINVAL;
    const char *miss = !name ? "name" : !model ? "model" : !desc ? "describe"
                       : !method ? "method" : get_i(g, "n", &n) ? "n"
                       : get_i(g, "nrx", &nrx) ? "nrx" : NULL;
    if (miss) {
        rc = missing_err(g, miss, err, errlen);
        goto out;
    }
    char why[512];
    if (out_of(g, "nrx", nrx, 0, INT_MAX, NULL, why, sizeof why)) {
        rc = damaged_err(err, errlen, why);
        goto out;
    }
    get_d(g, "rtol", &rtol);
    get_d(g, "atol", &atol);
    const nk_model *m = nk_model_find(net->ctx, model);
    if (!m) {
        snprintf(err, errlen, "it uses model '%s', which is not defined in this session (define "
                              "it with nk.model before restoring)", model);
        goto out;
    }
    if (strcmp(m->describe, desc)) {
        snprintf(err, errlen, "model '%s' is defined differently in this session than when the "
                              "checkpoint was written", model);
        goto out;
    }
    int k = nk_pop_add(net, model, n, name, method);
    if (k < 0) {
        snprintf(err, errlen, "%s", nk_errmsg(net->ctx));
        rc = k;
        goto out;
    }
    nk_pop *p = &net->pops[k];
    if (nk_pop_set_tolerance(net, k, rtol, atol)) {
        char an[192];
        const int a_bad = rtol > 0 && isfinite(rtol) && !(atol > 0 && isfinite(atol));
        nk_snprintf(why, sizeof why, "%s is %g: %s", attr_name(g, a_bad ? "atol" : "rtol", an,
                    sizeof an), a_bad ? atol : rtol, nk_errmsg(net->ctx));
        rc = damaged_err(err, errlen, why);
        goto out;
    }
    if (get_arr(g, "param", H5T_NATIVE_DOUBLE, p->param, m->nparams)) {
        snprintf(err, errlen, "the parameters of '%s' do not read back", name);
        goto out;
    }
    if (arr_len(g, "pos") == 3 * n) {
        double *pos = malloc((size_t)n * 3 * sizeof *pos);
        if (!pos || get_arr(g, "pos", H5T_NATIVE_DOUBLE, pos, 3 * n) ||
            nk_pop_set_positions(net, k, pos, n)) {
            free(pos);
            snprintf(err, errlen, "the positions of '%s' do not read back", name);
            goto out;
        }
        free(pos);
    }
    if (arr_len(g, "ids") == n) {
        int64_t *ids = malloc((size_t)n * sizeof *ids);
        if (!ids || get_arr(g, "ids", H5T_NATIVE_INT64, ids, n) || nk_pop_set_ids(net, k, ids, n)) {
            free(ids);
            snprintf(err, errlen, "the ids of '%s' do not read back", name);
            goto out;
        }
        free(ids);
    }
    for (int r = 0; r < nrx; r++) {
        hid_t rg = grp(g, "rx%d", r);
        char *rn = rg >= 0 ? get_s(rg, "name") : NULL, *rs = rg >= 0 ? get_s(rg, "synapse") : NULL;
        const nk_model *sm = rs ? nk_model_find(net->ctx, rs) : NULL;
        int ok = rn && rs && sm;
        double *pv = ok ? malloc(((size_t)sm->nparams + 1) * sizeof *pv) : NULL;
        ok = ok && pv && !get_arr(rg, "param", H5T_NATIVE_DOUBLE, pv, sm->nparams);
        int got = ok && *rn ? nk_receptor_get(net, k, rn, rs, (const char *const *)sm->pname,
                                              pv, sm->nparams)
                            : -1;
        /* why not: no name, a synapse model this session lacks, what
         * nk_receptor_get said, or a name given twice */
        const char *because = !rn || !rs ? ": its name or synapse is missing"
                              : !sm ? ": its synapse model is not defined in this session (define "
                                      "it with nk.model before restoring)"
                              : !ok ? ": its parameters do not read back"
                              : !*rn ? ": its name is empty"
                              : got < 0 ? ": "
                                        : ": an earlier receptor has its name";
        if (got != r)
            snprintf(err, errlen, "receptor %d of '%s' (%s, %s) cannot be made again%s%s", r + 1,
                     name, rn ? rn : "?", rs ? rs : "?", because,
                     got < 0 && ok && *rn ? nk_errmsg(net->ctx) : "");
        free(rn);
        free(rs);
        free(pv);
        if (rg >= 0)
            H5Gclose(rg);
        if (got != r)
            goto out;
    }
    rc = 0;
out:
    free(name);
    free(model);
    free(desc);
    free(method);
    return rc;
}

static int build_proj(nk_net *net, hid_t g, char *err, size_t errlen)
{
    nk_proj pj = {0};
    int64_t v[9];
    const char *keys[] = {"pre_pop", "pre_lo", "pre_hi", "post_pop", "post_lo", "post_hi",
                          "rx", "nsyn", "max_delay"};
    for (int k = 0; k < 9; k++)
        if (get_i(g, keys[k], &v[k]))
            return missing_err(g, keys[k], err, errlen);
    /* in range before any of them is narrowed to an int or sizes an
     * array: populations and receptors that exist, non-empty neuron ranges
     * inside them, as many synapses as 'col' holds, 16-bit delays */
    char why[512];
    int64_t npop = net->npops, ncol = arr_len(g, "col");
    if (ncol < 0) {
        snprintf(err, errlen, "a projection's synapses do not read back or are inconsistent");
        return NK_EINVAL;
    }
    if (out_of(g, "pre_pop", v[0], 0, npop - 1, "the populations", why, sizeof why) ||
        out_of(g, "post_pop", v[3], 0, npop - 1, "the populations", why, sizeof why))
        return damaged_err(err, errlen, why);
    int64_t npre_pop = net->pops[v[0]].n, npost_pop = net->pops[v[3]].n;
    if (out_of(g, "pre_lo", v[1], 0, npre_pop - 1, "the presynaptic population", why,
               sizeof why) ||
        out_of(g, "pre_hi", v[2], v[1] + 1, npre_pop, "the presynaptic population", why,
               sizeof why) ||
        out_of(g, "post_lo", v[4], 0, npost_pop - 1, "the postsynaptic population", why,
               sizeof why) ||
        out_of(g, "post_hi", v[5], v[4] + 1, npost_pop, "the postsynaptic population", why,
               sizeof why) ||
        out_of(g, "rx", v[6], 0, net->pops[v[3]].nrx - 1, "the receptors of the postsynaptic "
               "population", why, sizeof why) ||
        out_of(g, "nsyn", v[7], ncol, ncol, "the synapses in its col", why, sizeof why) ||
        out_of(g, "max_delay", v[8], 1, UINT16_MAX, "delays in steps are 16-bit", why,
               sizeof why))
        return damaged_err(err, errlen, why);
    pj.pre = (nk_range){(int)v[0], v[1], v[2]};
    pj.post = (nk_range){(int)v[3], v[4], v[5]};
    pj.rx = (int)v[6];
    pj.nsyn = v[7];
    pj.max_delay = (int)v[8];
    char *desc = get_s(g, "desc");
    snprintf(pj.desc, sizeof pj.desc, "%s", desc ? desc : "");
    free(desc);
    int64_t npre = pj.pre.hi - pj.pre.lo;
    pj.row = alloc_n(npre + 1, sizeof *pj.row);
    pj.col = alloc_n(pj.nsyn, sizeof *pj.col);
    pj.w = alloc_n(pj.nsyn, sizeof *pj.w);
    pj.delay = alloc_n(pj.nsyn, sizeof *pj.delay);
    int bad = !pj.row || !pj.col || !pj.w || !pj.delay ||
              get_arr(g, "row", H5T_NATIVE_INT64, pj.row, npre + 1) ||
              get_arr(g, "col", H5T_NATIVE_UINT32, pj.col, pj.nsyn) ||
              get_arr(g, "w", H5T_NATIVE_FLOAT, pj.w, pj.nsyn) ||
              get_arr(g, "delay", H5T_NATIVE_UINT16, pj.delay, pj.nsyn);
    /* a damaged file must not send spikes out of bounds */
    int64_t npost = net->pops[pj.post.pop].n;
    for (int64_t a = 0; !bad && a <= npre; a++)
        bad = pj.row[a] < (a ? pj.row[a - 1] : 0) || pj.row[a] > pj.nsyn || (a == 0 && pj.row[0]);
    bad = bad || pj.row[npre] != pj.nsyn;
    for (int64_t e = 0; !bad && e < pj.nsyn; e++)
        bad = pj.col[e] >= npost || pj.delay[e] < 1 || pj.delay[e] > pj.max_delay;
    /* a weight that is not finite would become a fixed-point sum of nothing
     * in particular (net:connect refuses it) */
    for (int64_t e = 0; !bad && e < pj.nsyn; e++) {
        if (isfinite(pj.w[e]))
            continue;
        char an[192];
        snprintf(why, sizeof why, "%s[%lld] is %g, expected a finite weight (projection %.200s)",
                 attr_name(g, "w", an, sizeof an), (long long)e + 1, (double)pj.w[e], pj.desc);
        free(pj.row);
        free(pj.col);
        free(pj.w);
        free(pj.delay);
        return damaged_err(err, errlen, why);
    }
    if (bad || nk_grow((void **)&net->projs, net->nprojs, sizeof *net->projs)) {
        free(pj.row);
        free(pj.col);
        free(pj.w);
        free(pj.delay);
        snprintf(err, errlen, "a projection's synapses do not read back or are inconsistent");
        return NK_EINVAL;
    }
    net->projs[net->nprojs++] = pj;
    net->built = 0;
    return 0;
}

static int build_src(nk_net *net, hid_t g, char *err, size_t errlen)
{
    nk_source s = {0};
    int64_t kind = -1, removed = 0;
    get_i(g, "kind", &kind);
    get_i(g, "removed", &removed);
    if (removed) {
        s.removed = 1;
    } else {
        int64_t hold = 0, every = 1, nparts = 0, ntotal = 0, rows = 0, cols = 0;
        const char *const ik[] = {"hold", "every", "nparts", "ntotal", "rows", "cols"};
        int64_t *const iv[] = {&hold, &every, &nparts, &ntotal, &rows, &cols};
        for (int q = 0; q < 6; q++)
            if (get_i(g, ik[q], iv[q]))
                return missing_err(g, ik[q], err, errlen);
        for (int q = 0; src_fields[q]; q++)
            if (get_d(g, src_fields[q], src_field(&s, q)))
                return missing_err(g, src_fields[q], err, errlen);
        int bad = 0;
        /* rows and cols size an array source's values: checked against
         * 'arr' once the parts give the number of neurons */
        char why[512];
        if (out_of(g, "kind", kind, 0, NK_SRC_NKINDS - 1, NULL, why, sizeof why) ||
            out_of(g, "hold", hold, 0, 1, NULL, why, sizeof why) ||
            out_of(g, "every", every, kind == NK_SRC_CALLBACK, INT_MAX, "steps", why,
                   sizeof why) ||
            out_of(g, "nparts", nparts, 1, net->npops, "a part per population at most", why,
                   sizeof why) ||
            out_of(g, "rows", rows, 0, INT64_MAX, NULL, why, sizeof why) ||
            out_of(g, "cols", cols, 0, INT64_MAX, NULL, why, sizeof why))
            return damaged_err(err, errlen, why);
        /* start and interval become steps; what nk_source_add accepts */
        char an[192];
        const char *bad_ms = !(s.start >= 0) || !isfinite(s.start) ? "start"
                             : !(s.interval >= 0) || !isfinite(s.interval) ? "interval"
                             : NULL;
        if (bad_ms) {
            nk_snprintf(why, sizeof why, "%s is %g, expected a finite number of ms >= 0",
                        attr_name(g, bad_ms, an, sizeof an), *bad_ms == 's' ? s.start : s.interval);
            return damaged_err(err, errlen, why);
        }
        if (!(s.stop >= s.start)) {
            nk_snprintf(why, sizeof why, "%s is %g, expected >= start (%g ms)",
                        attr_name(g, "stop", an, sizeof an), s.stop, s.start);
            return damaged_err(err, errlen, why);
        }
        s.kind = (int)kind;
        s.hold = (int)hold;
        s.every = (int)every;
        s.rows = rows;
        s.cols = cols;
        /* the options net:source would refuse (a weight past 2^31 was
         * converted to fixed point unchecked; a rate of inf ran) */
        const char *want, *opt = nk_source_check(&s, net->dt, &want);
        if (opt) {
            nk_snprintf(why, sizeof why, "%s is %g, expected %s", attr_name(g, opt, an, sizeof an),
                        *src_field(&s, src_index(opt)), want);
            return damaged_err(err, errlen, why);
        }
        s.wfix = NK_SRC_IS_SPIKES(s.kind) ? nk_fix_from(s.weight) : 0;
        int64_t *pt = alloc_n(nparts * 5, sizeof *pt);
        s.parts = nk_xcalloc((size_t)nparts, sizeof *s.parts);
        s.nparts = (int)nparts;
        bad = !pt || !s.parts || get_arr(g, "parts", H5T_NATIVE_INT64, pt, 5 * nparts);
        for (int q = 0; !bad && q < nparts; q++) {
            nk_src_part *p = &s.parts[q];
            /* population, range, count and receptor in range before they
             * are narrowed or added up */
            int64_t pop = pt[5 * q], rx = pt[5 * q + 4];
            bad = pop < 0 || pop >= net->npops;
            if (bad)
                break;
            p->pop = (int)pop;
            p->lo = pt[5 * q + 1];
            p->hi = pt[5 * q + 2];
            p->off = s.ntotal;
            bad = p->lo < 0 || p->hi > net->pops[p->pop].n || p->lo >= p->hi ||
                  (NK_SRC_IS_SPIKES(s.kind) && (rx < 0 || rx >= net->pops[p->pop].nrx)) ||
                  (!NK_SRC_IS_SPIKES(s.kind) && (rx < INT_MIN || rx > INT_MAX)) ||
                  (pt[5 * q + 3] >= 0 && (pt[5 * q + 3] < 1 || pt[5 * q + 3] > p->hi - p->lo));
            if (bad)
                break;
            p->rx = (int)rx;
            if (pt[5 * q + 3] >= 0) {
                p->n = pt[5 * q + 3];
                char in[32];
                snprintf(in, sizeof in, "idx%d", q);
                p->idx = alloc_n(p->n, sizeof *p->idx);
                bad = !p->idx || get_arr(g, in, H5T_NATIVE_INT64, p->idx, p->n);
                for (int64_t j = 0; !bad && j < p->n; j++)
                    bad = p->idx[j] < p->lo || p->idx[j] >= p->hi;
            } else {
                p->n = p->hi - p->lo;
            }
            s.ntotal += p->n;
            if (!bad && !NK_SRC_IS_SPIKES(s.kind) && !net->pops[p->pop].i_ext) {
                net->pops[p->pop].i_ext = nk_state_alloc(net, net->pops[p->pop].n);
                bad = !net->pops[p->pop].i_ext;
                net->built = 0;
            }
        }
        free(pt);
        bad = bad || s.ntotal != ntotal;
        int64_t nt = arr_len(g, "times"), nev = arr_len(g, "ev_step");
        if (!bad && nt > 0) {
            s.ntimes = nt;
            s.times = alloc_n(nt, sizeof *s.times);
            s.amps = alloc_n(nt, sizeof *s.amps);
            bad = !s.times || !s.amps || get_arr(g, "times", H5T_NATIVE_DOUBLE, s.times, nt) ||
                  get_arr(g, "amps", H5T_NATIVE_DOUBLE, s.amps, nt);
            /* what net:source checks of a step source's times and amplitudes */
            for (int64_t k = 0; !bad && k < nt; k++) {
                int t_ok = isfinite(s.times[k]) && s.times[k] >= 0 &&
                           (!k || s.times[k] > s.times[k - 1]);
                if (t_ok && isfinite(s.amps[k]))
                    continue;
                snprintf(why, sizeof why, "%s[%lld] is %g, expected %s",
                         attr_name(g, t_ok ? "amps" : "times", an, sizeof an), (long long)k + 1,
                         t_ok ? s.amps[k] : s.times[k],
                         t_ok ? "a finite amplitude" : "finite times >= 0, strictly increasing");
                nk_source_free(&s);
                return damaged_err(err, errlen, why);
            }
        }
        if (!bad && nev >= 0 && s.kind == NK_SRC_SPIKE_TIMES) {
            s.nev = nev;
            s.ev_step = alloc_n(nev, sizeof *s.ev_step);
            s.ev_at = alloc_n(nev, sizeof *s.ev_at);
            bad = !s.ev_step || !s.ev_at ||
                  get_arr(g, "ev_step", H5T_NATIVE_INT64, s.ev_step, nev) ||
                  get_arr(g, "ev_at", H5T_NATIVE_INT64, s.ev_at, nev);
            for (int64_t e = 0; !bad && e < nev; e++)
                bad = s.ev_at[e] < 0 || s.ev_at[e] >= s.ntotal;
        }
        if (!bad && s.kind == NK_SRC_ARRAY) {
            /* rows of cols values (one for all neurons, or one per neuron),
             * no more than 'arr' holds */
            int64_t have = arr_len(g, "arr");
            if (cols != 1 && cols != s.ntotal) {
                snprintf(why, sizeof why, "%s is %lld, expected 1 or %lld (a value for every "
                                          "neuron or one per neuron)",
                         attr_name(g, "cols", an, sizeof an), (long long)cols,
                         (long long)s.ntotal);
                nk_source_free(&s);
                return damaged_err(err, errlen, why);
            }
            if (have >= cols && out_of(g, "rows", rows, have / cols, have / cols,
                                       "the rows in its arr", why, sizeof why)) {
                nk_source_free(&s);
                return damaged_err(err, errlen, why);
            }
            bad = have < cols;
            s.arr = bad ? NULL : alloc_n(rows * cols, sizeof *s.arr);
            bad = !s.arr || get_arr(g, "arr", H5T_NATIVE_DOUBLE, s.arr, rows * cols);
        }
        if (!bad && s.kind == NK_SRC_CALLBACK) {
            s.cb_vals = nk_xcalloc((size_t)s.ntotal, sizeof *s.cb_vals);
            bad = !s.cb_vals || s.every < 1;
        }
        char *expr = get_s(g, "expr");
        if (!bad && expr && *expr) {
            char e2[512];
            s.expr = expr;
            expr = NULL;
            s.ex = nk_expr_parse(s.expr, e2, sizeof e2);
            bad = !s.ex;
        }
        free(expr);
        if (bad) {
            nk_source_free(&s);
            snprintf(err, errlen, "a source does not read back or is inconsistent");
            return NK_EINVAL;
        }
        snprintf(s.desc, sizeof s.desc, "%s (restored)", nk_source_kinds[s.kind]);
    }
    if (nk_grow((void **)&net->srcs, net->nsrcs, sizeof *net->srcs)) {
        nk_source_free(&s);
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    net->srcs[net->nsrcs++] = s;
    return 0;
}

static int build_mon(nk_net *net, hid_t g, char *err, size_t errlen)
{
    int64_t kind = -1, pop = -1, lo = 0, hi = 0, n = 0, has_idx = 0, every = 1, op_sum = 0,
            bin_steps = 1;
    const char *const ik[] = {"kind",  "pop",    "lo",        "hi", "n", "has_idx",
                              "every", "op_sum", "bin_steps"};
    int64_t *const iv[] = {&kind, &pop, &lo, &hi, &n, &has_idx, &every, &op_sum, &bin_steps};
    for (int q = 0; q < 9; q++)
        if (get_i(g, ik[q], iv[q]))
            return missing_err(g, ik[q], err, errlen);
    int bad = 0;
    /* n neurons of the population from lo to hi (every one between them
     * without idx), steps that fit an int (every matters to state, field
     * and output monitors, bin_steps to rate monitors) */
    char why[512];
    int spk = kind == NK_MON_SPIKES || kind == NK_MON_RATE;
    if (out_of(g, "kind", kind, 0, NK_MON_NKINDS - 1, NULL, why, sizeof why) ||
        out_of(g, "pop", pop, 0, net->npops - 1, "the populations", why, sizeof why) ||
        out_of(g, "n", n, 1, net->pops[pop].n, "the neurons of its population", why,
               sizeof why) ||
        out_of(g, "lo", lo, 0, net->pops[pop].n - n, "the neurons of its population", why,
               sizeof why) ||
        out_of(g, "hi", hi, lo + n, has_idx ? net->pops[pop].n : lo + n,
               "the neurons of its population", why, sizeof why) ||
        out_of(g, "every", every, spk ? INT_MIN : 1, INT_MAX, "steps", why, sizeof why) ||
        out_of(g, "bin_steps", bin_steps, kind == NK_MON_RATE, INT_MAX, "steps", why,
               sizeof why))
        return damaged_err(err, errlen, why);
    char *name = get_s(g, "name"), *vars = get_s(g, "vars");
    int64_t *idx = NULL;
    if (has_idx) {
        idx = alloc_n(n, sizeof *idx);
        bad = !idx || get_arr(g, "idx", H5T_NATIVE_INT64, idx, n);
    }
    const char *vp[64];
    int nv = 0;
    char *vcopy = vars ? nk_strdup(vars) : NULL;
    if (!bad && vcopy && *vcopy)
        for (char *t = strtok(vcopy, ","); t && nv < 64; t = strtok(NULL, ","))
            vp[nv++] = t;
    int rc = NK_EINVAL;
    if (!bad) {
        nk_monitor_opts o;
        nk_monitor_opts_init(&o);
        o.vars = vp;
        o.nvars = nv;
        o.every = (int)every;
        o.bin = (double)bin_steps * net->dt;
        o.op = op_sum ? "sum" : "mean";
        o.name = name && *name ? name : NULL;
        if (kind == NK_MON_OUTPUT) {
            o.fn = nk_detached_output; /* a Lua function cannot be saved */
        }
        nk_sel t = {.pop = (int)pop, .lo = lo, .hi = hi, .idx = idx, .n = n};
        rc = nk_monitor_add_sel(net, nk_monitor_kinds[kind], &t, &o);
        if (rc >= 0)
            rc = 0;
        else
            snprintf(err, errlen, "a monitor cannot be made again: %s", nk_errmsg(net->ctx));
    } else {
        char an[192], why[256];
        snprintf(why, sizeof why, "%s does not read back (%lld neurons)",
                 attr_name(g, "idx", an, sizeof an), (long long)n);
        rc = damaged_err(err, errlen, why);
    }
    free(idx);
    free(name);
    free(vars);
    free(vcopy);
    return rc;
}

nk_net *nk_restore(nk_ctx *ctx, const char *path, const char *output)
{
    ck c;
    esave e;
    quiet(&e);
    nk_net *net = NULL;
    char err[1024] = "";
    int file_refused = 0; /* the results file is another run's: the checkpoint is fine */
    int rc = ck_open(ctx, path, &c);
    if (rc)
        goto out;
    nk_net_opts o;
    nk_net_opts_init(&o);
    int64_t seed = 1, dbl = 0, backend = 0;
    get_d(c.f, "dt", &o.dt);
    get_i(c.f, "seed", &seed);
    get_i(c.f, "double", &dbl);
    get_i(c.f, "backend", &backend);
    char why[512];
    if (out_of(c.f, "backend", backend, NK_BACKEND_AUTO, NK_BACKEND_CUDA, NULL, why,
               sizeof why)) {
        rc = nk_fail(ctx, NK_EINVAL, "restore: '%s' is damaged (%s)", path, why);
        goto out;
    }
    o.seed = (uint64_t)seed;
    o.double_precision = dbl != 0;
    o.backend = (nk_backend_kind)backend;
    char *out = get_s(c.f, "output");
    o.output = output ? output : (out && *out ? out : NULL);
    if (o.output && nk_same_path(o.output, path)) {
        /* the run's results would be renamed over the checkpoint */
        rc = nk_fail(ctx, NK_EINVAL, "restore: the results file '%s' is the checkpoint "
                                     "itself; give another output", o.output);
        free(out);
        goto out;
    }
    /* Another results file than the checkpointed run's: it starts afresh and
     * receives everything the monitors hold, so there is nothing to cut back. */
    int fresh_output = output && (!out || strcmp(output, out));
    net = nk_net_new(ctx, &o);
    free(out);
    if (!net)
        goto out;
    for (int k = 0; !rc && k < c.npops; k++) {
        hid_t g = grp(c.f, "pop%d", k);
        rc = g < 0 ? (snprintf(err, sizeof err, "population %d is missing", k + 1), NK_EINVAL)
                   : build_pop(net, g, err, sizeof err);
        if (g >= 0)
            H5Gclose(g);
    }
    for (int k = 0; !rc && k < c.nprojs; k++) {
        hid_t g = grp(c.f, "proj%d", k);
        rc = g < 0 ? (snprintf(err, sizeof err, "projection %d is missing", k + 1), NK_EINVAL)
                   : build_proj(net, g, err, sizeof err);
        if (g >= 0)
            H5Gclose(g);
    }
    for (int k = 0; !rc && k < c.nsrcs; k++) {
        hid_t g = grp(c.f, "src%d", k);
        rc = g < 0 ? (snprintf(err, sizeof err, "source %d is missing", k + 1), NK_EINVAL)
                   : build_src(net, g, err, sizeof err);
        if (g >= 0)
            H5Gclose(g);
    }
    for (int k = 0; !rc && k < c.nmons; k++) {
        hid_t g = grp(c.f, "mon%d", k);
        rc = g < 0 ? (snprintf(err, sizeof err, "monitor %d is missing", k + 1), NK_EINVAL)
                   : build_mon(net, g, err, sizeof err);
        if (g >= 0)
            H5Gclose(g);
    }
    hid_t mg = rc ? -1 : H5Gopen2(c.f, "meta", H5P_DEFAULT);
    if (mg >= 0) {
        H5O_info_t info;
        if (H5Oget_info2(mg, &info, H5O_INFO_NUM_ATTRS) >= 0)
            for (hsize_t a = 0; a < info.num_attrs; a++) {
                char an[256];
                if (H5Aget_name_by_idx(mg, ".", H5_INDEX_NAME, H5_ITER_INC, a, an, sizeof an,
                                       H5P_DEFAULT) < 0)
                    continue;
                char *v = get_s(mg, an);
                if (v)
                    nk_net_set_meta(net, an, v);
                free(v);
            }
        H5Gclose(mg);
    }
    if (rc) {
        if (!strncmp(err, DAMAGED_ERR, strlen(DAMAGED_ERR)))
            nk_fail(ctx, rc, "restore: '%s' %s", path, err);
        else
            nk_fail(ctx, rc, "restore: '%s': %s", path, err);
        goto out;
    }
    rc = ck_load_state(net, &c, path);
    if (!rc && fresh_output) { /* a new file of a run of its own */
        nk_output_restart(net);
        nk_run_id_new(net->run_id);
    } else if (!rc) {
        /* refused now rather than at the first run; checked again then */
        int missing;
        rc = nk_results_check(net, 1, &missing);
        file_refused = rc != 0;
    }
out:
    if (rc && net) {
        nk_net_free(net);
        net = NULL;
    }
    if (c.f >= 0)
        H5Fclose(c.f);
    if (rc && !file_refused)
        nk_hdf5_taint(); /* the file may be damaged (nk.h) */
    loud(&e);
    return net;
}
