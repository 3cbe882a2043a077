/* make_sonata.c - writes the hand-made SONATA test inputs of
 * tests/lua/test_sonata.lua: a small valid circuit in odd/ whose ids use
 * every integer width and signedness (as other tools write them), a plain
 * one in simple/ (population v1 of 4 nodes, edges v1 -> v1), and malformed
 * files in bad/, one fault each, that refer to simple/'s v1.
 *
 *   cc make_sonata.c $(pkg-config --cflags --libs hdf5) -o make_sonata
 *   ./make_sonata tests/data/sonata
 *
 * The CSV, JSON and text files beside them are written by hand. The HDF5
 * files are named .hdf5 because the repository ignores *.h5 (results). */
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "make_sonata: %s failed\n", what);
    exit(1);
}

static hid_t create(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        die(path);
    uint32_t magic = 0x0A7A, version[2] = {0, 1};
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "magic", H5T_STD_U32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT32, &magic);
    H5Aclose(a);
    H5Sclose(s);
    hsize_t two = 2;
    s = H5Screate_simple(1, &two, NULL);
    a = H5Acreate2(f, "version", H5T_STD_U32LE, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_UINT32, version);
    H5Aclose(a);
    H5Sclose(s);
    return f;
}

static hid_t group(hid_t loc, const char *name)
{
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        die(name);
    return g;
}

/* A 1-D dataset of n values given as doubles, stored as ftype. */
static hid_t ds(hid_t loc, const char *name, hid_t ftype, int n, const double *v)
{
    hsize_t dims = (hsize_t)n;
    hid_t s = H5Screate_simple(1, &dims, NULL);
    hid_t d = H5Dcreate2(loc, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0)
        die(name);
    if (n && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        die(name);
    H5Sclose(s);
    return d;
}

static void put(hid_t loc, const char *name, hid_t ftype, int n, const double *v)
{
    H5Dclose(ds(loc, name, ftype, n, v));
}

/* Integer ids (exact in a double up to 2^53). */
static void put_ids(hid_t loc, const char *name, hid_t ftype, int n, const long long *v)
{
    double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    for (int k = 0; k < n; k++)
        d[k] = (double)v[k];
    put(loc, name, ftype, n, d);
    free(d);
}

static void attr_str(hid_t obj, const char *name, const char *value, int fixed)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (fixed)
        H5Tset_size(t, strlen(value));
    else
        H5Tset_size(t, H5T_VARIABLE);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, t, fixed ? (const void *)value : (const void *)&value) < 0)
        die(name);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
}

/* source_node_id / target_node_id with their node_population. */
static void put_end(hid_t g, const char *name, hid_t ftype, int n, const long long *v,
                    const char *pop, int fixed)
{
    double *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    for (int k = 0; k < n; k++)
        d[k] = (double)v[k];
    hid_t x = ds(g, name, ftype, n, d);
    if (pop)
        attr_str(x, "node_population", pop, fixed);
    H5Dclose(x);
    free(d);
}

/* odd/: a valid circuit. v1: 6 nodes of two types (lif, iaf_psc_alpha);
 * lgn: 3 virtual nodes with node_id 1000, 1003, 1006. */
static void odd(void)
{
    hid_t f = create("odd/v1_nodes.hdf5");
    hid_t nodes = group(f, "nodes"), v1 = group(nodes, "v1"), g0 = group(v1, "0");
    hid_t dyn = group(g0, "dynamics_params");
    long long type[] = {100, 101, 100, 101, 100, 100}, idx[] = {0, 1, 2, 3, 4, 5},
              zero[6] = {0};
    put_ids(v1, "node_type_id", H5T_STD_U16LE, 6, type);
    put_ids(v1, "node_id", H5T_STD_U32BE, 6, idx);
    put_ids(v1, "node_group_id", H5T_STD_U8LE, 6, zero);
    put_ids(v1, "node_group_index", H5T_STD_U32LE, 6, idx);
    double x[] = {0, 10, 20, 30, 40, 50}, y[] = {1, 2, 3, 4, 5, 6}, z[] = {-1, -2, -3, -4, -5, -6};
    put(g0, "x", H5T_IEEE_F32LE, 6, x);
    put(g0, "y", H5T_IEEE_F32LE, 6, y);
    put(g0, "z", H5T_IEEE_F64BE, 6, z);
    double tau[] = {15, 12, 15, 12, 15, 15};
    put(g0, "tau_m", H5T_IEEE_F64LE, 6, tau);
    double v[] = {-60, -61, -62, -63, -64, -65};
    put(dyn, "v", H5T_IEEE_F64LE, 6, v);
    H5Gclose(dyn);
    H5Gclose(g0);
    H5Gclose(v1);
    H5Gclose(nodes);
    H5Fclose(f);

    f = create("odd/lgn_nodes.hdf5");
    nodes = group(f, "nodes");
    hid_t lgn = group(nodes, "lgn");
    H5Gclose(group(lgn, "0"));
    long long lt[] = {200, 200, 200}, lid[] = {1000, 1003, 1006}, lz[3] = {0}, li[] = {0, 1, 2};
    put_ids(lgn, "node_type_id", H5T_STD_I64LE, 3, lt);
    put_ids(lgn, "node_id", H5T_STD_I64LE, 3, lid);
    put_ids(lgn, "node_group_id", H5T_STD_I16LE, 3, lz);
    put_ids(lgn, "node_group_index", H5T_STD_I64BE, 3, li);
    H5Gclose(lgn);
    H5Gclose(nodes);
    H5Fclose(f);

    f = create("odd/edges.hdf5");
    hid_t edges = group(f, "edges");
    hid_t e1 = group(edges, "lgn_to_v1"), e10 = group(e1, "0");
    long long src[] = {1000, 1003, 1006, 1000, 1003}, dst[] = {0, 1, 2, 3, 5},
              et[] = {300, 300, 301, 300, 301}, ez[5] = {0}, ei[] = {0, 1, 2, 3, 4};
    put_end(e1, "source_node_id", H5T_STD_U32LE, 5, src, "lgn", 1);
    put_end(e1, "target_node_id", H5T_STD_I64LE, 5, dst, "v1", 0);
    put_ids(e1, "edge_type_id", H5T_STD_I16LE, 5, et);
    put_ids(e1, "edge_group_id", H5T_STD_U8LE, 5, ez);
    put_ids(e1, "edge_group_index", H5T_STD_U64LE, 5, ei);
    double w[] = {2.5, -1.5, 4.0, 3.0, 2.0}, d[] = {1.0, 2.0, 0.5, 1.5, 3.0};
    put(e10, "syn_weight", H5T_IEEE_F64LE, 5, w);
    put(e10, "delay", H5T_IEEE_F32LE, 5, d);
    H5Gclose(e10);
    H5Gclose(e1);
    /* no groups, no group ids: weights and delays from edge_types.csv */
    hid_t e2 = group(edges, "v1_to_v1");
    long long s2[] = {0, 2, 4}, d2[] = {1, 3, 5}, t2[] = {302, 302, 302};
    put_end(e2, "source_node_id", H5T_STD_I8LE, 3, s2, "v1", 0);
    put_end(e2, "target_node_id", H5T_STD_U16BE, 3, d2, "v1", 0);
    put_ids(e2, "edge_type_id", H5T_STD_U64LE, 3, t2);
    H5Gclose(e2);
    H5Gclose(edges);
    H5Fclose(f);
}

/* simple/nodes.hdf5: a valid population v1 of 4 nodes (type 1), which the
 * malformed edges files refer to. */
static void simple_nodes(void)
{
    hid_t f = create("simple/nodes.hdf5");
    hid_t nodes = group(f, "nodes"), v1 = group(nodes, "v1");
    long long t[] = {1, 1, 1, 1}, z[4] = {0}, i[] = {0, 1, 2, 3};
    put_ids(v1, "node_type_id", H5T_STD_I32LE, 4, t);
    put_ids(v1, "node_group_id", H5T_STD_I32LE, 4, z);
    put_ids(v1, "node_group_index", H5T_STD_I32LE, 4, i);
    H5Gclose(group(v1, "0"));
    H5Gclose(v1);
    H5Gclose(nodes);
    H5Fclose(f);
}

/* simple/nodes_two_types.hdf5: population v3 of 4 nodes of types 1 and 2,
 * without groups or group ids (allowed when there is at most one group). */
static void simple_two_types(void)
{
    hid_t f = create("simple/nodes_two_types.hdf5");
    hid_t nodes = group(f, "nodes"), v3 = group(nodes, "v3");
    long long t[] = {1, 2, 1, 2};
    put_ids(v3, "node_type_id", H5T_STD_U8LE, 4, t);
    H5Gclose(v3);
    H5Gclose(nodes);
    H5Fclose(f);
}

/* A malformed nodes file: population v2 of 4 nodes, with one fault. */
static void bad_nodes_case(const char *rel, const char *fault)
{
    hid_t f = create(rel);
    hid_t nodes = group(f, "nodes"), v2 = group(nodes, "v2"), g0 = group(v2, "0");
    long long t[] = {1, 1, 1, 1}, z[4] = {0}, i[] = {0, 1, 2, 3};
    double tf[] = {1, 1, 1, 1}, x[] = {0, 1, 2, 3};
    if (!strcmp(fault, "float_type")) {
        put(v2, "node_type_id", H5T_IEEE_F64LE, 4, tf);
    } else if (!strcmp(fault, "2d")) {
        hsize_t dims[2] = {2, 2};
        hid_t s = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(v2, "node_type_id", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, tf);
        H5Dclose(d);
        H5Sclose(s);
    } else if (!strcmp(fault, "u64_type_id")) {
        /* 2^64 - 1 does not fit the int64 ids are read as */
        uint64_t u[] = {1, UINT64_MAX, 1, 1};
        hsize_t dims = 4;
        hid_t s = H5Screate_simple(1, &dims, NULL);
        hid_t d = H5Dcreate2(v2, "node_type_id", H5T_STD_U64LE, s, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, u);
        H5Dclose(d);
        H5Sclose(s);
    } else if (strcmp(fault, "no_type_id")) {
        put_ids(v2, "node_type_id", H5T_STD_I32LE, 4, t);
    }
    if (!strcmp(fault, "no_type_id"))
        put_ids(v2, "node_id", H5T_STD_I32LE, 4, i);
    int implicit = !strcmp(fault, "implicit_short"); /* no group ids: node i is row i */
    if (!implicit) {
        put_ids(v2, "node_group_id", H5T_STD_I32LE, !strcmp(fault, "group_length") ? 3 : 4, z);
        put_ids(v2, "node_group_index", H5T_STD_I32LE, 4, i);
    }
    put(g0, "x", H5T_IEEE_F64LE, implicit ? 3 : 4, x);
    put(g0, "y", H5T_IEEE_F64LE, !strcmp(fault, "xyz_length") || implicit ? 3 : 4, x);
    if (strcmp(fault, "no_z"))
        put(g0, "z", H5T_IEEE_F64LE, implicit ? 3 : 4, x);
    if (!strcmp(fault, "param_varies")) {
        double tau[] = {10, 10, 20, 10};
        put(g0, "tau_m", H5T_IEEE_F64LE, 4, tau);
    }
    if (!strcmp(fault, "param_nan")) { /* NaN for "no value", as some tools write */
        double tau[] = {NAN, NAN, NAN, NAN};
        put(g0, "tau_m", H5T_IEEE_F64LE, 4, tau);
    }
    if (!strcmp(fault, "dyn_2d") || !strcmp(fault, "dyn_strings")) {
        /* per-node values of the wrong shape or kind: V_m as 4 x 2
         * numbers (a name lif does not use), v as strings */
        hid_t dyn = group(g0, "dynamics_params");
        int two = !strcmp(fault, "dyn_2d");
        hsize_t dims[2] = {4, 2};
        hid_t ty = H5Tcopy(H5T_C_S1);
        H5Tset_size(ty, 2);
        hid_t s = H5Screate_simple(two ? 2 : 1, dims, NULL);
        hid_t d = H5Dcreate2(dyn, two ? "V_m" : "v", two ? H5T_IEEE_F64LE : ty, s, H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT);
        double vm[8] = {-65, -65, -65, -65, -65, -65, -65, -65};
        if (d < 0 || H5Dwrite(d, two ? H5T_NATIVE_DOUBLE : ty, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                              two ? (const void *)vm : (const void *)"a b c d ") < 0)
            die(fault);
        H5Dclose(d);
        H5Sclose(s);
        H5Tclose(ty);
        H5Gclose(dyn);
    }
    H5Gclose(g0);
    H5Gclose(v2);
    H5Gclose(nodes);
    H5Fclose(f);
}

/* A malformed edges file: population bad from v1 to v1, 3 edges, one fault. */
static void bad_edges_case(const char *rel, const char *fault)
{
    hid_t f = create(rel);
    hid_t edges = group(f, "edges"), e = group(edges, "bad"), g0 = group(e, "0");
    long long s[] = {0, 1, 2}, t[] = {1, 2, 3}, ty[] = {1, 1, 1}, z[3] = {0}, i[] = {0, 1, 2};
    if (!strcmp(fault, "two_types"))
        ty[2] = 2;
    if (!strcmp(fault, "out_of_range"))
        t[1] = 99;
    if (!strcmp(fault, "negative_id"))
        s[2] = -4;
    const char *pop = !strcmp(fault, "unknown_pop") ? "v9" : "v1";
    if (!strcmp(fault, "float_ids")) {
        double sf[] = {0, 1, 2};
        hid_t x = ds(e, "source_node_id", H5T_IEEE_F64LE, 3, sf);
        attr_str(x, "node_population", pop, 0);
        H5Dclose(x);
    } else {
        put_end(e, "source_node_id", H5T_STD_I64LE, 3, s, pop, 0);
    }
    if (strcmp(fault, "no_target"))
        put_end(e, "target_node_id", H5T_STD_U64LE, !strcmp(fault, "length") ? 2 : 3, t, "v1",
                0);
    put_ids(e, "edge_type_id", H5T_STD_I32LE, 3, ty);
    int implicit = !strcmp(fault, "implicit_short"); /* no group ids: edge i is row i */
    if (!implicit)
        put_ids(e, "edge_group_id", H5T_STD_I32LE, 3, z);
    if (!strcmp(fault, "group_index"))
        i[2] = 7;
    if (!implicit)
        put_ids(e, "edge_group_index", H5T_STD_I32LE, 3, i);
    double w[] = {1, 2, 3}, d[] = {1, 1, 1};
    if (!strcmp(fault, "nan_weight"))
        w[1] = NAN;
    if (!strcmp(fault, "negative_delay"))
        d[2] = -0.5;
    if (!strcmp(fault, "huge_delay"))
        d[0] = 1e9;
    put(g0, "syn_weight", H5T_IEEE_F32LE, implicit ? 2 : 3, w);
    put(g0, "delay", H5T_IEEE_F64LE, implicit ? 2 : 3, d);
    H5Gclose(g0);
    H5Gclose(e);
    H5Gclose(edges);
    H5Fclose(f);
}

int main(int argc, char **argv)
{
    root = argc > 1 ? argv[1] : ".";
    odd();
    simple_nodes();
    simple_two_types();
    bad_edges_case("simple/edges.hdf5", "none");
    static const char *const nfaults[] = {"no_type_id",  "float_type",     "2d",
                                          "group_length", "xyz_length",    "param_varies",
                                          "dyn_2d",       "dyn_strings",   "u64_type_id",
                                          "implicit_short", "param_nan",   "no_z"};
    for (size_t k = 0; k < sizeof nfaults / sizeof *nfaults; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "bad/nodes_%s.hdf5", nfaults[k]);
        bad_nodes_case(rel, nfaults[k]);
    }
    static const char *const efaults[] = {"out_of_range", "negative_id", "unknown_pop",
                                          "float_ids",    "no_target",   "length",
                                          "group_index",  "nan_weight",  "negative_delay",
                                          "huge_delay",   "two_types",   "implicit_short"};
    for (size_t k = 0; k < sizeof efaults / sizeof *efaults; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "bad/edges_%s.hdf5", efaults[k]);
        bad_edges_case(rel, efaults[k]);
    }
    return 0;
}
