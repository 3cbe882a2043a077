/* test_cudadev.c - the CUDA backend's device layer (engine/backends/cuda/dev.c).
 *
 * Part 1 runs everywhere: the host emulation (NKSHELL_CUDA=emulate) through
 * the whole interface: memory round trips, a kernel compiled by the CPU JIT,
 * launched and checked, a graph recorded (copies and waits refused while
 * recording) and replayed, the threads' order of NKSHELL_CUDA_EMU_ORDER,
 * then everything freed by nk_dev_close (LeakSanitizer watches in the
 * sanitizer build).
 *
 * Part 2 needs NVRTC only (no GPU): a real kernel compiles for sm_90, a
 * syntax error fails with NVRTC's log. Skipped, with the reason printed,
 * where no NVRTC can be loaded.
 *
 * Part 3 asks for a real device and prints the answer; it asserts only that
 * a machine without libcuda.so.1 gets a refusal with a message. */
#include "check.h"
#include "../backends/cuda/dev.h"
#include "nk/nk.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Emulation form: the kernel loops over its thread ids itself, in the
 * order it is given (NKSHELL_CUDA_EMU_ORDER: 0 forward, 1 reverse, 2
 * scatter); "order" stores the order it was given. */
static const char *emu_src =
    "#include <stdint.h>\n"
    "typedef struct { uint64_t x, y; double a; int64_t n; } axpy_args;\n"
    "void axpy(const void *args, int64_t nthreads, int order)\n"
    "{\n"
    "    const axpy_args *p = args;\n"
    "    double *x = (double *)(uintptr_t)p->x, *y = (double *)(uintptr_t)p->y;\n"
    "    for (int64_t i = 0; i < nthreads; i++)\n"
    "        if (i < p->n)\n"
    "            y[i] += p->a * x[i];\n"
    "    (void)order;\n"
    "}\n"
    "void count(const void *args, int64_t nthreads, int order)\n"
    "{\n"
    "    uint64_t *c = (uint64_t *)(uintptr_t)*(const uint64_t *)args;\n"
    "    *c += (uint64_t)nthreads;\n"
    "    (void)order;\n"
    "}\n"
    "void order(const void *args, int64_t nthreads, int order)\n"
    "{\n"
    "    *(int64_t *)(uintptr_t)*(const uint64_t *)args = order;\n"
    "    (void)nthreads;\n"
    "}\n";

typedef struct {
    uint64_t x, y;
    double a;
    int64_t n;
} axpy_args;

static void test_emulation(void)
{
    char err[2048] = "";
    setenv("NKSHELL_CUDA", "emulate", 1);
    CHECK_EQ_INT(nk_dev_probe(err, sizeof err), 0);
    nk_dev *d = nk_dev_open(err, sizeof err);
    CHECK(d != NULL);
    if (!d) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    CHECK(nk_dev_emulated(d));
    char name[64];
    int maj = -1, min = -1, sms = 0;
    size_t total = 0, fr = 0;
    nk_dev_info(d, name, sizeof name, &maj, &min, &sms, &total, &fr);
    CHECK(!strcmp(name, "host emulation"));
    CHECK(sms >= 1 && total > 0 && fr <= total);

    /* Memory: zero-filled, aligned, round trips. */
    enum { N = 1000 };
    nk_dptr x = 0, y = 0, z = 0;
    CHECK_EQ_INT(nk_dev_alloc(d, &x, N * sizeof(double), err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_alloc(d, &y, N * sizeof(double), err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_alloc(d, &z, 0, err, sizeof err), 0);
    CHECK(x && y && z == 0);
    CHECK(x % 64 == 0 && y % 64 == 0);
    double hx[N], hy[N];
    CHECK_EQ_INT(nk_dev_get(d, hy, y, sizeof hy, err, sizeof err), 0);
    int zero = 1;
    for (int i = 0; i < N; i++)
        zero &= hy[i] == 0.0;
    CHECK(zero);
    for (int i = 0; i < N; i++) {
        hx[i] = i * 0.5;
        hy[i] = 1.0;
    }
    CHECK_EQ_INT(nk_dev_put(d, x, hx, sizeof hx, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_put(d, y, hy, sizeof hy, err, sizeof err), 0);
    double back[N];
    CHECK_EQ_INT(nk_dev_get(d, back, x, sizeof back, err, sizeof err), 0);
    CHECK(!memcmp(back, hx, sizeof back));
    CHECK_EQ_INT(nk_dev_zero(d, x + 10 * sizeof(double), 5 * sizeof(double), err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_get(d, back, x, sizeof back, err, sizeof err), 0);
    CHECK(back[9] == 4.5 && back[10] == 0.0 && back[14] == 0.0 && back[15] == 7.5);
    CHECK_EQ_INT(nk_dev_put(d, x, hx, sizeof hx, err, sizeof err), 0);

    /* Pinned memory and asynchronous copies. */
    double *pin = nk_dev_host_alloc(d, N * sizeof(double));
    CHECK(pin != NULL && (uintptr_t)pin % 64 == 0);
    void *pin2 = nk_dev_host_alloc(d, 100); /* left for nk_dev_close */
    CHECK(pin2 != NULL);
    if (pin) {
        CHECK_EQ_INT(nk_dev_get_async(d, pin, x, N * sizeof(double), err, sizeof err), 0);
        CHECK_EQ_INT(nk_dev_sync(d, err, sizeof err), 0);
        CHECK(pin[3] == 1.5);
        pin[3] = -1.0;
        CHECK_EQ_INT(nk_dev_put_async(d, x, pin, N * sizeof(double), err, sizeof err), 0);
        CHECK_EQ_INT(nk_dev_sync(d, err, sizeof err), 0);
        CHECK_EQ_INT(nk_dev_get(d, back, x, sizeof back, err, sizeof err), 0);
        CHECK(back[3] == -1.0);
        nk_dev_host_free(d, pin);
    }
    nk_dev_free(d, 0); /* no-op */

    /* A kernel: y += a x over 1000 elements, launched as 4 x 256 threads. */
    nk_dmod *m = NULL;
    nk_dfn *f = NULL, *f2 = NULL, *cnt = NULL;
    int rc = nk_dev_load(d, emu_src, &m, err, sizeof err);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "load: %s\n", err);
        nk_dev_close(d);
        return;
    }
    CHECK_EQ_INT(nk_dev_fn(d, m, "axpy", &f, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_fn(d, m, "axpy", &f2, err, sizeof err), 0);
    CHECK(f && f == f2);
    CHECK_EQ_INT(nk_dev_fn_max_threads(f), 1024);
    CHECK_EQ_INT(nk_dev_fn(d, m, "nosuch", &f2, err, sizeof err), NK_ECOMPILE);
    CHECK(strstr(err, "nosuch") != NULL && !strncmp(err, "CUDA", 4));
    axpy_args a = {x, y, 2.0, N};
    CHECK_EQ_INT(nk_dev_launch(d, f, (N + 255) / 256, 256, &a, sizeof a, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_sync(d, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_get(d, back, y, sizeof back, err, sizeof err), 0);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= back[i] == 1.0 + 2.0 * (i == 3 ? -1.0 : i * 0.5);
    CHECK(ok);
    /* Too many threads per block is refused, with the kernel's name. */
    CHECK_EQ_INT(nk_dev_launch(d, f, 1, 2048, &a, sizeof a, err, sizeof err), NK_EINVAL);
    CHECK(strstr(err, "axpy") != NULL);
    /* Nothing to do: no call. */
    CHECK_EQ_INT(nk_dev_launch(d, f, 0, 256, &a, sizeof a, err, sizeof err), 0);

    /* nthreads is blocks x threads. */
    nk_dptr c = 0;
    CHECK_EQ_INT(nk_dev_alloc(d, &c, sizeof(uint64_t), err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_fn(d, m, "count", &cnt, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_launch(d, cnt, 3, 7, &c, sizeof c, err, sizeof err), 0);
    uint64_t hc = 0;
    CHECK_EQ_INT(nk_dev_get(d, &hc, c, sizeof hc, err, sizeof err), 0);
    CHECK_EQ_INT(hc, 21);

    /* A graph: launches and zeroings are recorded, not run; a copy or a
     * wait while recording is refused, and the recording goes on. */
    CHECK_EQ_INT(nk_dev_capture_begin(d, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_capture_begin(d, err, sizeof err), NK_EINVAL);
    CHECK_EQ_INT(nk_dev_launch(d, cnt, 2, 5, &c, sizeof c, err, sizeof err), 0);
    err[0] = 0;
    CHECK_EQ_INT(nk_dev_put(d, c, &hc, sizeof hc, err, sizeof err), NK_ENOTSUP);
    CHECK(strstr(err, "copying to the device while a graph is being recorded") != NULL);
    err[0] = 0;
    CHECK_EQ_INT(nk_dev_get_async(d, &hc, c, sizeof hc, err, sizeof err), NK_ENOTSUP);
    CHECK(strstr(err, "copying from the device while a graph") != NULL);
    err[0] = 0;
    CHECK_EQ_INT(nk_dev_sync(d, err, sizeof err), NK_ENOTSUP);
    CHECK(strstr(err, "waiting for the device while a graph") != NULL);
    CHECK_EQ_INT(nk_dev_launch(d, cnt, 1, 4, &c, sizeof c, err, sizeof err), 0);
    nk_dgraph *g = NULL;
    CHECK_EQ_INT(nk_dev_capture_end(d, &g, err, sizeof err), 0);
    CHECK(g != NULL);
    hc = 0;
    CHECK_EQ_INT(nk_dev_get(d, &hc, c, sizeof hc, err, sizeof err), 0);
    CHECK_EQ_INT(hc, 21); /* recorded, not run */
    CHECK_EQ_INT(nk_dev_graph_launch(d, g, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_graph_launch(d, g, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_get(d, &hc, c, sizeof hc, err, sizeof err), 0);
    CHECK_EQ_INT(hc, 21 + 2 * (10 + 4));
    nk_dev_graph_free(d, g);
    CHECK_EQ_INT(nk_dev_capture_end(d, &g, err, sizeof err), NK_EINVAL);

    /* Memory freed while recording stays until the recording ends, which
     * then fails: the graph could use it. A later recording goes on. */
    nk_dptr late = 0;
    CHECK_EQ_INT(nk_dev_alloc(d, &late, 64, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_capture_begin(d, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_launch(d, cnt, 1, 4, &c, sizeof c, err, sizeof err), 0);
    nk_dev_free(d, late);
    CHECK_EQ_INT(*(const uint8_t *)(uintptr_t)late, 0); /* not yet freed (ASan) */
    err[0] = 0;
    g = (nk_dgraph *)&g;
    CHECK_EQ_INT(nk_dev_capture_end(d, &g, err, sizeof err), NK_ENOTSUP);
    CHECK(g == NULL);
    CHECK(strstr(err, "device memory was freed while a graph was being recorded") != NULL);
    CHECK_EQ_INT(nk_dev_capture_begin(d, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_launch(d, cnt, 1, 4, &c, sizeof c, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_capture_end(d, &g, err, sizeof err), 0);
    CHECK(g != NULL);
    nk_dev_graph_free(d, g);

    /* The threads' order reaches the kernel: forward unless asked. */
    nk_dfn *ord = NULL;
    int64_t ho = -1;
    CHECK_EQ_INT(nk_dev_fn(d, m, "order", &ord, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_launch(d, ord, 1, 1, &c, sizeof c, err, sizeof err), 0);
    CHECK_EQ_INT(nk_dev_get(d, &ho, c, sizeof ho, err, sizeof err), 0);
    CHECK_EQ_INT(ho, 0);
    nk_dev_free(d, c);

    /* A second module from the same text (the JIT's cache), unloaded; the
     * first is left loaded and with y still allocated, for nk_dev_close. */
    nk_dmod *m2 = NULL;
    CHECK_EQ_INT(nk_dev_load(d, emu_src, &m2, err, sizeof err), 0);
    nk_dev_unload(d, m2);
    nk_dev_unload(d, NULL);
    nk_dev_free(d, x);
    nk_dev_close(d);
    nk_dev_close(NULL);

    /* NKSHELL_CUDA_EMU_ORDER: each name gives its order; anything else is
     * refused at opening, with the value and what was expected. */
    static const char *const orders[] = {"forward", "reverse", "scatter"};
    for (int k = 0; k < 3; k++) {
        setenv("NKSHELL_CUDA_EMU_ORDER", orders[k], 1);
        nk_dev *e = nk_dev_open(err, sizeof err);
        CHECK(e != NULL);
        if (!e)
            continue;
        nk_dmod *me = NULL;
        nk_dfn *fo = NULL;
        nk_dptr o = 0;
        int64_t got = -1;
        CHECK_EQ_INT(nk_dev_load(e, emu_src, &me, err, sizeof err), 0);
        if (me && !nk_dev_fn(e, me, "order", &fo, err, sizeof err) &&
            !nk_dev_alloc(e, &o, sizeof got, err, sizeof err) &&
            !nk_dev_launch(e, fo, 1, 1, &o, sizeof o, err, sizeof err))
            CHECK_EQ_INT(nk_dev_get(e, &got, o, sizeof got, err, sizeof err), 0);
        CHECK_EQ_INT(got, k);
        nk_dev_close(e);
    }
    setenv("NKSHELL_CUDA_EMU_ORDER", "sideways", 1);
    err[0] = 0;
    CHECK(nk_dev_open(err, sizeof err) == NULL);
    CHECK(strstr(err, "NKSHELL_CUDA_EMU_ORDER is 'sideways'; expected forward, reverse or "
                      "scatter") != NULL);
    unsetenv("NKSHELL_CUDA_EMU_ORDER");
    unsetenv("NKSHELL_CUDA");
}

static const char *cuda_src =
    "struct args { unsigned long long *count; const double *num; double *out; int n; };\n"
    "extern \"C\" __global__ void k(args a)\n"
    "{\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i >= a.n)\n"
    "        return;\n"
    "    a.out[i] = a.num[i] / (double)(i + 1);\n"
    "    atomicAdd(a.count, 1ull);\n"
    "}\n"
    "extern \"C\" __global__ void fma_probe(const double *x, double *y)\n"
    "{\n"
    "    y[threadIdx.x] = x[0] * x[1] + x[2];\n"
    "}\n";

static void test_nvrtc(void)
{
    char err[4096] = "";
    int rc = nk_dev_nvrtc_check(cuda_src, 90, err, sizeof err);
    if (rc == NK_ENOTSUP) {
        printf("NVRTC part skipped: %s\n", err);
        return;
    }
    CHECK_EQ_INT(rc, 0);
    if (rc)
        fprintf(stderr, "nvrtc: %s\n", err);
    /* --fmad=false: a * b + c stays a multiply and an add. */
    char *ptx = NULL;
    CHECK_EQ_INT(nk_dev_nvrtc_ptx(cuda_src, 90, &ptx, err, sizeof err), 0);
    CHECK(ptx && strstr(ptx, ".entry k(") && strstr(ptx, "atom.global.add.u64"));
    CHECK(ptx && strstr(ptx, "mul.rn.f64") && !strstr(ptx, "fma.rn.f64"));
    free(ptx);
    /* NK_CUDA is defined for the source. */
    CHECK_EQ_INT(nk_dev_nvrtc_check("#ifndef NK_CUDA\n#error no NK_CUDA\n#endif\n", 90, err,
                                    sizeof err),
                 0);

    const char *bad = "extern \"C\" __global__ void k(int *x) { x[0] = 1 }\n";
    rc = nk_dev_nvrtc_check(bad, 90, err, sizeof err);
    CHECK_EQ_INT(rc, NK_ECOMPILE);
    CHECK(!strncmp(err, "CUDA: compiling kernels for sm_90", 33));
    CHECK(strstr(err, "NVRTC_ERROR_COMPILATION") != NULL);
    CHECK(strstr(err, "nk_kernels.cu(1)") != NULL && strstr(err, "expected a \";\"") != NULL);
    printf("a syntax error, as NVRTC reports it:\n%s\n", err);
}

static void test_probe(void)
{
    char err[2048] = "";
    unsetenv("NKSHELL_CUDA");
    int rc = nk_dev_probe(err, sizeof err);
    printf("nk_dev_probe: %d%s%s\n", rc, rc ? ": " : "", err);
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        dlclose(h);
        if (rc == 0) {
            /* A driver and a device: open and close it (the GPU suite does the rest). */
            nk_dev *d = nk_dev_open(err, sizeof err);
            CHECK(d != NULL);
            if (!d)
                fprintf(stderr, "open: %s\n", err);
            nk_dev_close(d);
        } else {
            CHECK(rc == NK_ENOTSUP && err[0]);
        }
        return;
    }
    CHECK_EQ_INT(rc, NK_ENOTSUP);
    CHECK(strstr(err, "libcuda.so.1") != NULL);
    CHECK(nk_dev_open(err, sizeof err) == NULL && err[0]);
}

int main(void)
{
    test_emulation();
    test_nvrtc();
    test_probe();
    return check_finish("cudadev");
}
