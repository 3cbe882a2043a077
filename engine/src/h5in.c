/* h5in.c - reading input arrays from HDF5 files (array sources).
 *
 * Accepts a 1-D or 2-D numeric dataset. Without a dataset name it looks for
 * Neurokernel's input-file layout: a group per input variable holding
 * `data` (T x N) and `uids` (N), e.g. /I/data; then for a dataset `/array`
 * (Neurokernel's older layout); else, if the file holds exactly one
 * dataset, that one. */
#include "internal.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct found {
    char path[512];
    int count;
} found;

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *ud)
{
    (void)obj;
    found *f = ud;
    if (info->type == H5O_TYPE_DATASET) {
        if (!f->count)
            snprintf(f->path, sizeof f->path, "/%s", name);
        f->count++;
    }
    return 0;
}

_Static_assert(sizeof(hid_t) == sizeof(int64_t), "nk_h5_missing_filter takes a hid_t as int64_t");

/* nk.h. HDF5 may note errors while it looks for a plugin: the caller has
 * HDF5's error printing off. */
int nk_h5_missing_filter(int64_t d, char *msg, size_t len)
{
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0)
        return 0;
    int nf = H5Pget_nfilters(dcpl), missing = 0;
    for (int i = 0; i < nf && !missing; i++) {
        unsigned flags;
        size_t ncd = 0;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, NULL, sizeof name, name,
                                         NULL);
        if (id < 0 || H5Zfilter_avail(id) > 0)
            continue;
        missing = 1;
        char named[80] = "";
        if (name[0])
            snprintf(named, sizeof named, "'%s' ", name);
        snprintf(msg, len, "compressed with filter %s(id %d), which this HDF5 library does not "
                           "have (install its plugin; HDF5_PLUGIN_PATH says where HDF5 looks)",
                 named, (int)id);
    }
    H5Pclose(dcpl);
    return missing;
}

int nk_read_matrix(const char *path, const char *dataset, double **vals, int64_t *rows,
                   int64_t *cols, char *err, size_t errlen)
{
    *vals = NULL;
    *rows = *cols = 0;
    H5E_auto2_t fn;
    void *fd;
    H5Eget_auto2(H5E_DEFAULT, &fn, &fd);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = NK_EIO;
    hid_t f = -1, d = -1, sp = -1;
    const char *what = nk_not_regular(path);
    if (what) { /* reading a FIFO would wait for a writer */
        snprintf(err, errlen, "'%s' is %s, not an HDF5 file", path, what);
        goto done;
    }
    if (H5Fis_hdf5(path) <= 0) {
        FILE *t = fopen(path, "rb");
        if (t) {
            fclose(t);
            snprintf(err, errlen, "'%s' is not an HDF5 file", path);
        } else {
            snprintf(err, errlen, "cannot open '%s'", path);
        }
        goto done;
    }
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(err, errlen, "cannot open '%s' as HDF5", path);
        goto done;
    }
    char name[512];
    if (dataset) {
        snprintf(name, sizeof name, "%s", dataset);
    } else if (H5Lexists(f, "I", H5P_DEFAULT) > 0 && H5Lexists(f, "/I/data", H5P_DEFAULT) > 0) {
        snprintf(name, sizeof name, "/I/data");
    } else if (H5Lexists(f, "array", H5P_DEFAULT) > 0) {
        snprintf(name, sizeof name, "/array");
    } else {
        found fo = {{0}, 0};
        H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit, &fo);
        if (fo.count != 1) {
            snprintf(err, errlen,
                     "'%s' holds %d datasets and none at /I/data (Neurokernel's layout) or "
                     "/array; name one with the option dataset", path, fo.count);
            goto done;
        }
        snprintf(name, sizeof name, "%s", fo.path);
    }
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        snprintf(err, errlen, "'%s' has no dataset '%s'", path, name);
        rc = NK_EINVAL;
        goto done;
    }
    /* it is there: say what it is, if not a dataset (a group once was
     * "no dataset" too) */
    hid_t o = H5Oexists_by_name(f, name, H5P_DEFAULT) > 0 ? H5Oopen(f, name, H5P_DEFAULT) : -1;
    H5I_type_t ot = o >= 0 ? H5Iget_type(o) : H5I_BADID;
    if (o >= 0)
        H5Oclose(o);
    if (ot != H5I_DATASET || (d = H5Dopen2(f, name, H5P_DEFAULT)) < 0) {
        if (ot == H5I_GROUP)
            snprintf(err, errlen, "'%s' in '%s' is a group, not a dataset; name one of the "
                                  "datasets in it (nk.read('%s') lists them)", name, path, path);
        else if (o < 0)
            snprintf(err, errlen, "'%s' in '%s' is a link to nothing this file holds (a "
                                  "dangling or external link), not a dataset", name, path);
        else
            snprintf(err, errlen, "'%s' in '%s' is not a dataset", name, path);
        rc = NK_EINVAL;
        goto done;
    }
    hid_t ty = H5Dget_type(d);
    H5T_class_t cl = H5Tget_class(ty);
    H5Tclose(ty);
    if (cl != H5T_FLOAT && cl != H5T_INTEGER) {
        snprintf(err, errlen, "dataset '%s' of '%s' is not numeric", name, path);
        rc = NK_EINVAL;
        goto done;
    }
    sp = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[2] = {0, 1};
    if (nd < 1 || nd > 2) {
        snprintf(err, errlen, "dataset '%s' of '%s' has %d dimensions; expected 1 (one value "
                              "per step) or 2 (steps x neurons)", name, path, nd);
        rc = NK_EINVAL;
        goto done;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    if (dims[0] == 0 || dims[1] == 0) {
        snprintf(err, errlen, "dataset '%s' of '%s' is empty", name, path);
        rc = NK_EINVAL;
        goto done;
    }
    /* the values as doubles, twice (the caller keeps a copy), within the
     * memory available: a file of a few kB may declare 2^61 rows (the
     * size wrapped, and HDF5 wrote past a small buffer) */
    int64_t avail = nk_mem_available();
    double bytes = (double)dims[0] * (double)dims[1] * (double)sizeof(double);
    double limit = avail < 0 ? 0x1p62 : (double)avail; /* unknown: what can be counted */
    if (bytes * 2 > limit) {
        char need[32], have[32];
        snprintf(err, errlen,
                 "dataset '%s' of '%s' has %llu x %llu values, %s as doubles (twice: read and "
                 "kept), more than the %s of memory available",
                 name, path, (unsigned long long)dims[0], (unsigned long long)dims[1],
                 nk_fmt_bytes(bytes, need, sizeof need),
                 nk_fmt_bytes(limit, have, sizeof have));
        rc = NK_ENOMEM;
        goto done;
    }
    size_t n = (size_t)dims[0] * (size_t)dims[1];
    double *v = malloc(n * sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory for %zu values of '%s'", n, name);
        rc = NK_ENOMEM;
        goto done;
    }
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        char why[256];
        free(v);
        if (nk_h5_missing_filter(d, why, sizeof why))
            snprintf(err, errlen, "dataset '%s' of '%s' is %s", name, path, why);
        else
            snprintf(err, errlen, "cannot read dataset '%s' of '%s'", name, path);
        goto done;
    }
    *vals = v;
    *rows = (int64_t)dims[0];
    *cols = (int64_t)dims[1];
    rc = 0;
done:
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, fn, fd);
    return rc;
}
