/* h5attrs.c - writes an HDF5 file whose group /g has N double attributes
 * (a0000000 = 0, a0000001 = 1, ...), stored densely (the latest file
 * format), for the tests of a long nk.read.
 *
 *   h5attrs N FILE */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[1]) < 0) {
        fprintf(stderr, "usage: h5attrs N FILE\n");
        return 2;
    }
    int n = atoi(argv[1]);
    hid_t fa = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fa, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(argv[2], H5F_ACC_TRUNC, H5P_DEFAULT, fa);
    hid_t g = f < 0 ? -1 : H5Gcreate2(f, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t s = H5Screate(H5S_SCALAR);
    int bad = g < 0 || s < 0;
    for (int i = 0; i < n && !bad; i++) {
        char name[32];
        double x = i;
        snprintf(name, sizeof name, "a%07d", i);
        hid_t a = H5Acreate2(g, name, H5T_NATIVE_DOUBLE, s, H5P_DEFAULT, H5P_DEFAULT);
        bad = a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &x) < 0;
        if (a >= 0)
            H5Aclose(a);
    }
    if (s >= 0)
        H5Sclose(s);
    if (g >= 0)
        H5Gclose(g);
    if (f >= 0)
        bad |= H5Fclose(f) < 0;
    H5Pclose(fa);
    if (bad || f < 0)
        fprintf(stderr, "h5attrs: cannot write %s\n", argv[2]);
    return bad || f < 0;
}
