/* dev.c - the CUDA backend's device layer (see dev.h).
 *
 * No CUDA header is included and no CUDA library linked: the few driver-API
 * and NVRTC types and entry points used are declared below as function
 * pointers and filled in with dlsym from libcuda.so.1 and libnvrtc, loaded
 * once per process (pthread_once) and never closed. The driver symbols are
 * the versioned ones where the driver has several (_v2): those are what
 * cuda.h's macros name for a 64-bit build with the legacy default stream.
 *
 * All device work goes on the device's one stream, so it runs in the order
 * it was queued; the synchronous copies wait for the stream first. The
 * stream is a blocking one (it also waits for the legacy default stream), in
 * case a library in the same process uses that.
 *
 * Compiled kernels are cached as cubins under <cache>/cuda/, named by a
 * 64-bit FNV-1a hash of the source, the NVRTC options and NVRTC's version
 * (the architecture is one of the options). A write goes to a private
 * temporary name and is renamed into place, as in jit.c, so concurrent
 * processes never read half a file; a cubin the driver refuses (damaged, or
 * from another NVRTC) is compiled again and replaced. */
#include "dev.h"
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NK_CUDA_LIBDIR
#define NK_CUDA_LIBDIR ""
#endif

/* ---- the driver API, declared by hand ----------------------------------- */

typedef int cu_result;                    /* CUresult: 0 is success */
typedef int cu_device;                    /* CUdevice: a device ordinal */
typedef struct cu_context_s *cu_context;  /* CUcontext */
typedef struct cu_stream_s *cu_stream;    /* CUstream */
typedef struct cu_module_s *cu_module;    /* CUmodule */
typedef struct cu_function_s *cu_function;/* CUfunction */
typedef unsigned long long cu_dptr;       /* CUdeviceptr (64-bit host) */
typedef struct cu_graph_s *cu_graph;      /* CUgraph */
typedef struct cu_graph_exec_s *cu_graph_exec; /* CUgraphExec */
typedef struct cu_event_s *cu_event;      /* CUevent */

enum {
    CU_OK = 0,
    CU_ERR_OUT_OF_MEMORY = 2,
    CU_ERR_NO_DEVICE = 100,
    CU_ERR_COOP_TOO_LARGE = 720,
    CU_ERR_NOT_SUPPORTED = 801,
    /* CUdevice_attribute */
    CU_DEV_MAX_THREADS_PER_BLOCK = 1,
    CU_DEV_MULTIPROCESSOR_COUNT = 16,
    CU_DEV_CC_MAJOR = 75,
    CU_DEV_CC_MINOR = 76,
    CU_DEV_COOPERATIVE_LAUNCH = 95,
    /* CUfunction_attribute */
    CU_FUNC_MAX_THREADS_PER_BLOCK = 0,
    /* CUstream_flags */
    CU_STREAM_BLOCKING = 0,
    /* CUstreamCaptureMode */
    CU_STREAM_CAPTURE_MODE_RELAXED = 2,
};

static struct {
    cu_result (*Init)(unsigned flags);
    cu_result (*DriverGetVersion)(int *version);
    cu_result (*DeviceGetCount)(int *count);
    cu_result (*DeviceGet)(cu_device *dev, int ordinal);
    cu_result (*DeviceGetName)(char *name, int len, cu_device dev);
    cu_result (*DeviceGetAttribute)(int *value, int attrib, cu_device dev);
    cu_result (*DeviceTotalMem)(size_t *bytes, cu_device dev);
    cu_result (*PrimaryCtxRetain)(cu_context *ctx, cu_device dev);
    cu_result (*PrimaryCtxRelease)(cu_device dev);
    cu_result (*CtxSetCurrent)(cu_context ctx);
    cu_result (*CtxGetCurrent)(cu_context *ctx);
    cu_result (*StreamCreate)(cu_stream *stream, unsigned flags);
    cu_result (*StreamSynchronize)(cu_stream stream);
    cu_result (*StreamDestroy)(cu_stream stream);
    cu_result (*MemAlloc)(cu_dptr *p, size_t bytes);
    cu_result (*MemFree)(cu_dptr p);
    cu_result (*MemcpyHtoDAsync)(cu_dptr dst, const void *src, size_t bytes, cu_stream stream);
    cu_result (*MemcpyDtoHAsync)(void *dst, cu_dptr src, size_t bytes, cu_stream stream);
    cu_result (*MemsetD8Async)(cu_dptr p, unsigned char value, size_t n, cu_stream stream);
    cu_result (*MemAllocHost)(void **p, size_t bytes);
    cu_result (*MemFreeHost)(void *p);
    cu_result (*MemGetInfo)(size_t *free_bytes, size_t *total);
    cu_result (*ModuleLoadData)(cu_module *mod, const void *image);
    cu_result (*ModuleUnload)(cu_module mod);
    cu_result (*ModuleGetFunction)(cu_function *fn, cu_module mod, const char *name);
    cu_result (*FuncGetAttribute)(int *value, int attrib, cu_function fn);
    cu_result (*FuncGetParamInfo)(cu_function fn, size_t index, size_t *offset, size_t *size);
    cu_result (*LaunchKernel)(cu_function fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                              unsigned by, unsigned bz, unsigned shared_bytes, cu_stream stream,
                              void **params, void **extra);
    cu_result (*LaunchCooperativeKernel)(cu_function fn, unsigned gx, unsigned gy, unsigned gz,
                                         unsigned bx, unsigned by, unsigned bz,
                                         unsigned shared_bytes, cu_stream stream, void **params);
    cu_result (*OccupancyMaxActiveBlocks)(int *blocks, cu_function fn, int threads,
                                          size_t shared_bytes);
    cu_result (*GetErrorName)(cu_result r, const char **s);
    cu_result (*GetErrorString)(cu_result r, const char **s);
    cu_result (*StreamBeginCapture)(cu_stream stream, int mode);
    cu_result (*StreamEndCapture)(cu_stream stream, cu_graph *graph);
    cu_result (*GraphInstantiate)(cu_graph_exec *exec, cu_graph graph, unsigned long long flags);
    cu_result (*GraphLaunch)(cu_graph_exec exec, cu_stream stream);
    cu_result (*GraphExecDestroy)(cu_graph_exec exec);
    cu_result (*GraphDestroy)(cu_graph graph);
    cu_result (*EventCreate)(cu_event *ev, unsigned flags);
    cu_result (*EventRecord)(cu_event ev, cu_stream stream);
    cu_result (*EventElapsedTime)(float *ms, cu_event start, cu_event end);
    cu_result (*EventDestroy)(cu_event ev);
} cu;

/* ---- NVRTC, declared by hand -------------------------------------------- */

typedef int nv_result;                    /* nvrtcResult: 0 is success */
typedef struct nv_program_s *nv_program;  /* nvrtcProgram */

static struct {
    nv_result (*Version)(int *major, int *minor);
    nv_result (*CreateProgram)(nv_program *prog, const char *src, const char *name, int nheaders,
                               const char *const *headers, const char *const *include_names);
    nv_result (*CompileProgram)(nv_program prog, int nopts, const char *const *opts);
    nv_result (*GetProgramLogSize)(nv_program prog, size_t *size);
    nv_result (*GetProgramLog)(nv_program prog, char *log);
    nv_result (*GetCUBINSize)(nv_program prog, size_t *size);
    nv_result (*GetCUBIN)(nv_program prog, char *cubin);
    nv_result (*GetPTXSize)(nv_program prog, size_t *size);
    nv_result (*GetPTX)(nv_program prog, char *ptx);
    nv_result (*DestroyProgram)(nv_program *prog);
    const char *(*GetErrorString)(nv_result r);
    nv_result (*GetNumSupportedArchs)(int *n);
    nv_result (*GetSupportedArchs)(int *archs);
} nv;

/* A symbol to resolve into a function pointer (slot points at it). */
typedef struct dl_sym {
    const char *name;
    void *slot;
    int optional;
} dl_sym;

_Static_assert(sizeof cu.Init == sizeof(void *), "function and data pointers differ in size");

static const dl_sym cu_syms[] = {
    {"cuInit", &cu.Init, 0},
    {"cuDriverGetVersion", &cu.DriverGetVersion, 0},
    {"cuDeviceGetCount", &cu.DeviceGetCount, 0},
    {"cuDeviceGet", &cu.DeviceGet, 0},
    {"cuDeviceGetName", &cu.DeviceGetName, 0},
    {"cuDeviceGetAttribute", &cu.DeviceGetAttribute, 0},
    {"cuDeviceTotalMem_v2", &cu.DeviceTotalMem, 0},
    {"cuDevicePrimaryCtxRetain", &cu.PrimaryCtxRetain, 0},
    {"cuDevicePrimaryCtxRelease_v2", &cu.PrimaryCtxRelease, 0},
    {"cuCtxSetCurrent", &cu.CtxSetCurrent, 0},
    {"cuCtxGetCurrent", &cu.CtxGetCurrent, 0},
    {"cuStreamCreate", &cu.StreamCreate, 0},
    {"cuStreamSynchronize", &cu.StreamSynchronize, 0},
    {"cuStreamDestroy_v2", &cu.StreamDestroy, 0},
    {"cuMemAlloc_v2", &cu.MemAlloc, 0},
    {"cuMemFree_v2", &cu.MemFree, 0},
    {"cuMemcpyHtoDAsync_v2", &cu.MemcpyHtoDAsync, 0},
    {"cuMemcpyDtoHAsync_v2", &cu.MemcpyDtoHAsync, 0},
    {"cuMemsetD8Async", &cu.MemsetD8Async, 0},
    {"cuMemAllocHost_v2", &cu.MemAllocHost, 0},
    {"cuMemFreeHost", &cu.MemFreeHost, 0},
    {"cuMemGetInfo_v2", &cu.MemGetInfo, 0},
    {"cuModuleLoadData", &cu.ModuleLoadData, 0},
    {"cuModuleUnload", &cu.ModuleUnload, 0},
    {"cuModuleGetFunction", &cu.ModuleGetFunction, 0},
    {"cuFuncGetAttribute", &cu.FuncGetAttribute, 0},
    {"cuFuncGetParamInfo", &cu.FuncGetParamInfo, 1}, /* CUDA 12.4 and later */
    {"cuLaunchKernel", &cu.LaunchKernel, 0},
    {"cuLaunchCooperativeKernel", &cu.LaunchCooperativeKernel, 1},
    {"cuOccupancyMaxActiveBlocksPerMultiprocessor", &cu.OccupancyMaxActiveBlocks, 1},
    {"cuGetErrorName", &cu.GetErrorName, 0},
    {"cuGetErrorString", &cu.GetErrorString, 0},
    /* graphs: CUDA 11.4 and later */
    {"cuStreamBeginCapture_v2", &cu.StreamBeginCapture, 1},
    {"cuStreamEndCapture", &cu.StreamEndCapture, 1},
    {"cuGraphInstantiateWithFlags", &cu.GraphInstantiate, 1},
    {"cuGraphLaunch", &cu.GraphLaunch, 1},
    {"cuGraphExecDestroy", &cu.GraphExecDestroy, 1},
    {"cuGraphDestroy", &cu.GraphDestroy, 1},
    {"cuEventCreate", &cu.EventCreate, 0},
    {"cuEventRecord", &cu.EventRecord, 0},
    {"cuEventElapsedTime", &cu.EventElapsedTime, 0},
    {"cuEventDestroy_v2", &cu.EventDestroy, 0},
};

static const dl_sym nv_syms[] = {
    {"nvrtcVersion", &nv.Version, 0},
    {"nvrtcCreateProgram", &nv.CreateProgram, 0},
    {"nvrtcCompileProgram", &nv.CompileProgram, 0},
    {"nvrtcGetProgramLogSize", &nv.GetProgramLogSize, 0},
    {"nvrtcGetProgramLog", &nv.GetProgramLog, 0},
    {"nvrtcGetCUBINSize", &nv.GetCUBINSize, 0},
    {"nvrtcGetCUBIN", &nv.GetCUBIN, 0},
    {"nvrtcGetPTXSize", &nv.GetPTXSize, 0},
    {"nvrtcGetPTX", &nv.GetPTX, 0},
    {"nvrtcDestroyProgram", &nv.DestroyProgram, 0},
    {"nvrtcGetErrorString", &nv.GetErrorString, 0},
    {"nvrtcGetNumSupportedArchs", &nv.GetNumSupportedArchs, 1},
    {"nvrtcGetSupportedArchs", &nv.GetSupportedArchs, 1},
};

/* Fills the slots of syms from library h (named lib); on a missing symbol
 * that is not optional, writes a message and returns -1. */
static int resolve(void *h, const char *lib, const dl_sym *syms, size_t n, char *msg,
                   size_t msglen)
{
    for (size_t k = 0; k < n; k++) {
        void *p = dlsym(h, syms[k].name);
        if (!p && !syms[k].optional) {
            snprintf(msg, msglen, "CUDA: %s has no %s (it is too old for nkshell)", lib,
                     syms[k].name);
            return -1;
        }
        memcpy(syms[k].slot, &p, sizeof p);
    }
    return 0;
}

/* ---- loading the libraries (once per process) ---------------------------- */

static pthread_once_t cu_once = PTHREAD_ONCE_INIT;
static int cu_rc;            /* 0 or NK_ENOTSUP, with cu_msg */
static char cu_msg[768];
static int cu_version;       /* the driver's CUDA version, 1000 * major + 10 * minor */
static int cu_count;         /* devices the driver sees */

static pthread_once_t nv_once = PTHREAD_ONCE_INIT;
static int nv_rc;            /* 0 or NK_ENOTSUP, with nv_msg */
static char nv_msg[1536];
static int nv_major, nv_minor;

/* "NAME: description" for a driver result. */
static void cu_errtext(cu_result r, char *buf, size_t len)
{
    const char *name = NULL, *desc = NULL;
    if (cu.GetErrorName && cu.GetErrorName(r, &name) != CU_OK)
        name = NULL;
    if (cu.GetErrorString && cu.GetErrorString(r, &desc) != CU_OK)
        desc = NULL;
    if (name)
        snprintf(buf, len, "%s: %s", name, desc ? desc : "no description");
    else
        snprintf(buf, len, "CUDA driver error %d (unknown to this driver)", r);
}

/* Writes "CUDA: <what>: <driver's name and description of r>" into err and
 * returns code (NK_ENOMEM instead when the driver ran out of memory). */
static int cu_fail(int code, cu_result r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int cu_fail(int code, cu_result r, char *err, size_t errlen, const char *fmt, ...)
{
    char what[512], why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    cu_errtext(r, why, sizeof why);
    snprintf(err, errlen, "CUDA: %s: %s", what, why);
    return r == CU_ERR_OUT_OF_MEMORY ? NK_ENOMEM : code;
}

static void cu_load(void)
{
    cu_rc = NK_ENOTSUP;
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(cu_msg, sizeof cu_msg,
                 "CUDA: no NVIDIA driver: libcuda.so.1 cannot be loaded (%s)", dlerror());
        return;
    }
    if (resolve(h, "the NVIDIA driver's libcuda.so.1", cu_syms,
                sizeof cu_syms / sizeof *cu_syms, cu_msg, sizeof cu_msg))
        return;
    cu_result r = cu.Init(0);
    if (r == CU_ERR_NO_DEVICE) {
        cu_fail(0, r, cu_msg, sizeof cu_msg, "no CUDA device (cuInit)");
        return;
    }
    if (r) {
        cu_fail(0, r, cu_msg, sizeof cu_msg, "cuInit failed");
        return;
    }
    if ((r = cu.DriverGetVersion(&cu_version))) {
        cu_fail(0, r, cu_msg, sizeof cu_msg, "asking the driver's version");
        return;
    }
    if ((r = cu.DeviceGetCount(&cu_count))) {
        cu_fail(0, r, cu_msg, sizeof cu_msg, "counting devices");
        return;
    }
    if (cu_count < 1) {
        snprintf(cu_msg, sizeof cu_msg, "CUDA: no CUDA device (the NVIDIA driver, CUDA %d.%d, sees none)",
                 cu_version / 1000, cu_version % 1000 / 10);
        return;
    }
    cu_rc = 0;
}

/* Whether h is an NVRTC that a driver of CUDA major version max_major
 * (0: any) can take cubins from: its major version is not newer. */
static int nv_fits(void *h, int max_major)
{
    nv_result (*version)(int *, int *);
    *(void **)&version = dlsym(h, "nvrtcVersion");
    int ma = 0, mi = 0;
    return max_major <= 0 || !version || version(&ma, &mi) || ma <= max_major;
}

/* Keeps h when it fits (nv_fits) or is the first that loaded (*first, the
 * fallback, whose error message then names both versions); 1 when h is the
 * one to use. */
static int nv_take(void *h, int max_major, void **first)
{
    if (!h)
        return 0;
    if (nv_fits(h, max_major)) {
        if (*first && *first != h)
            dlclose(*first);
        *first = h;
        return 1;
    }
    if (!*first)
        *first = h;
    else if (*first != h)
        dlclose(h);
    return 0;
}

/* dlopen's an NVRTC: $NKSHELL_NVRTC, else the first of the names on the
 * library path, then in the CUDA library directories, whose major version
 * the driver (CUDA major version max_major, 0: unknown) takes, else the
 * first that loads. tried gets where it looked. */
static void *nv_open(int max_major, char *tried, size_t len)
{
    static const char *const names[] = {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"};
    const size_t nnames = sizeof names / sizeof *names;
    size_t at = 0;
    void *h;
    tried[0] = 0;
    const char *env = getenv("NKSHELL_NVRTC");
    if (env && *env) {
        if ((h = dlopen(env, RTLD_NOW | RTLD_LOCAL)))
            return h;
        at += (size_t)snprintf(tried + at, len - at, "$NKSHELL_NVRTC '%s' (%s); ", env, dlerror());
        if (at >= len)
            at = len - 1;
    }
    void *first = NULL;
    for (size_t k = 0; k < nnames; k++)
        if (nv_take(dlopen(names[k], RTLD_NOW | RTLD_LOCAL), max_major, &first))
            return first;
    char home[512] = "";
    const char *ch = getenv("CUDA_HOME");
    if (ch && *ch)
        snprintf(home, sizeof home, "%s/lib64", ch);
    const char *dirs[] = {NK_CUDA_LIBDIR, home, "/usr/local/cuda/lib64"};
    const size_t ndirs = sizeof dirs / sizeof *dirs;
    const char *looked[3];
    size_t nlooked = 0;
    for (size_t k = 0; k < ndirs; k++) {
        int seen = !dirs[k][0];
        for (size_t q = 0; !seen && q < nlooked; q++)
            seen = !strcmp(looked[q], dirs[k]);
        if (seen)
            continue;
        looked[nlooked++] = dirs[k];
        for (size_t q = 0; q < nnames; q++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dirs[k], names[q]);
            if (nv_take(dlopen(path, RTLD_NOW | RTLD_LOCAL), max_major, &first))
                return first;
        }
    }
    if (first)
        return first;
    at += (size_t)snprintf(tried + at, len - at, "libnvrtc.so.13, .so.12 and .so on the library path");
    for (size_t k = 0; k < nlooked && at < len; k++)
        at += (size_t)snprintf(tried + at, len - at, "%s%s", k + 1 < nlooked ? ", " : " and ",
                               looked[k]);
    return NULL;
}

/* NKSHELL_CUDA: unset or empty, the GPU; "emulate", the host stands in for
 * it (tests); "off", no GPU is used (backend "auto" runs on the CPU, "cuda"
 * is refused); anything else is refused, naming what is expected. */
enum { MODE_GPU, MODE_EMULATE, MODE_OFF, MODE_BAD };

static int cuda_mode(void)
{
    const char *e = getenv("NKSHELL_CUDA");
    if (!e || !*e)
        return MODE_GPU;
    if (!strcmp(e, "emulate"))
        return MODE_EMULATE;
    return strcmp(e, "off") ? MODE_BAD : MODE_OFF;
}

static int emulating(void)
{
    return cuda_mode() == MODE_EMULATE;
}

static void nv_load(void)
{
    nv_rc = NK_ENOTSUP;
    char tried[1024];
    /* with a driver, an NVRTC whose cubins it loads, where there is one */
    int max_major = 0;
    if (!emulating()) {
        pthread_once(&cu_once, cu_load);
        if (!cu_rc)
            max_major = cu_version / 1000;
    }
    void *h = nv_open(max_major, tried, sizeof tried);
    if (!h) {
        snprintf(nv_msg, sizeof nv_msg,
                 "CUDA: no NVRTC library found (looked for %s); install the CUDA toolkit's "
                 "NVRTC or set NKSHELL_NVRTC to the path of libnvrtc.so",
                 tried);
        return;
    }
    if (resolve(h, "libnvrtc", nv_syms, sizeof nv_syms / sizeof *nv_syms, nv_msg, sizeof nv_msg))
        return;
    if (nv.Version(&nv_major, &nv_minor)) {
        snprintf(nv_msg, sizeof nv_msg, "CUDA: NVRTC does not tell its version");
        return;
    }
    nv_rc = 0;
}

static int nv_ready(char *err, size_t errlen)
{
    pthread_once(&nv_once, nv_load);
    if (nv_rc)
        snprintf(err, errlen, "%s", nv_msg);
    return nv_rc;
}

int nk_dev_probe(char *err, size_t errlen)
{
    switch (cuda_mode()) {
    case MODE_EMULATE:
        return 0;
    case MODE_OFF:
        snprintf(err, errlen, "CUDA: turned off (NKSHELL_CUDA=off)");
        return NK_ENOTSUP;
    case MODE_BAD:
        snprintf(err, errlen,
                 "CUDA: NKSHELL_CUDA is '%.40s'; expected nothing (the GPU), 'emulate' (the host "
                 "stands in for a GPU, for tests) or 'off' (no GPU is used)",
                 getenv("NKSHELL_CUDA"));
        return NK_EINVAL;
    default:
        break;
    }
    pthread_once(&cu_once, cu_load);
    if (cu_rc) {
        snprintf(err, errlen, "%s", cu_msg);
        return cu_rc;
    }
    if (nv_ready(err, errlen))
        return NK_ENOTSUP;
    /* A cubin from NVRTC x.y loads on any driver of CUDA major version x
     * (minor version compatibility), not on an older major. */
    int dmaj = cu_version / 1000, dmin = cu_version % 1000 / 10;
    if (dmaj < nv_major) {
        snprintf(err, errlen,
                 "CUDA: the NVIDIA driver (CUDA %d.%d) is too old for NVRTC %d.%d: update the "
                 "driver, or set NKSHELL_NVRTC to an NVRTC of CUDA %d",
                 dmaj, dmin, nv_major, nv_minor, dmaj);
        return NK_ENOTSUP;
    }
    return 0;
}

/* ---- sizes and files ------------------------------------------------------ */

/* bytes as "1.50 GiB" (or MiB, KiB, bytes). */
static const char *human(size_t bytes, char *buf, size_t len)
{
    double b = (double)bytes;
    if (b >= 1024.0 * 1024 * 1024)
        snprintf(buf, len, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024)
        snprintf(buf, len, "%.2f MiB", b / (1024.0 * 1024));
    else if (b >= 1024.0)
        snprintf(buf, len, "%.2f KiB", b / 1024.0);
    else
        snprintf(buf, len, "%zu bytes", bytes);
    return buf;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t k = 0; k < n; k++) {
        h ^= s[k];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The whole of file path in a malloc'd buffer (NULL when it cannot be read). */
static void *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    void *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size))) {
        if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
            free(buf);
            buf = NULL;
        }
        *n = (size_t)st.st_size;
    }
    fclose(f);
    return buf;
}

/* Writes n bytes to path through a private temporary name and rename();
 * 0 or -1. */
static int write_file(const char *path, const void *data, size_t n)
{
    static _Atomic unsigned counter;
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int bad = fwrite(data, 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* <cache>/cuda/<hash><ext> in path (the directory created when missing);
 * -1 when there is no cache directory. */
static int cache_path(uint64_t h, const char *ext, char *path, size_t len)
{
    char dir[1024], e[8];
    if (nk_jit_cache_dir(dir, sizeof dir, e, sizeof e))
        return -1;
    size_t n = strlen(dir);
    if (n + 6 >= sizeof dir)
        return -1;
    memcpy(dir + n, "/cuda", 6);
    if (mkdir(dir, 0700) && errno != EEXIST)
        return -1;
    snprintf(path, len, "%s/%016llx%s", dir, (unsigned long long)h, ext);
    return 0;
}

/* ---- NVRTC ------------------------------------------------------------------ */

#define NV_MAXOPTS 4

/* The NVRTC options for compute capability cc (e.g. 90): a cubin for sm_<cc>,
 * or PTX for compute_<cc>. arch holds the first option's text. */
static int nv_options(int cc, int cubin, char *arch, size_t archlen, const char **opts)
{
    snprintf(arch, archlen, "--gpu-architecture=%s_%d", cubin ? "sm" : "compute", cc);
    opts[0] = arch;
    opts[1] = "--fmad=false";
    opts[2] = "--std=c++17";
    opts[3] = "-DNK_CUDA=1";
    return NV_MAXOPTS;
}

/* Copies the first maxlines lines of log into out (len bytes). */
static void log_head(const char *log, char *out, size_t len, int maxlines)
{
    size_t k = 0;
    int lines = 0;
    while (log[k] && k + 1 < len && lines < maxlines) {
        if (log[k] == '\n')
            lines++;
        k++;
    }
    while (k > 0 && (log[k - 1] == '\n' || log[k - 1] == ' '))
        k--;
    memcpy(out, log, k);
    out[k] = 0;
}

/* Compiles src for cc (cubin or PTX) into a malloc'd *out of *outlen bytes
 * (PTX: with its NUL). 0, NK_ENOTSUP (no NVRTC), NK_ENOMEM or NK_ECOMPILE
 * with err holding the start of NVRTC's log. */
static int nv_compile(const char *src, int cc, int cubin, char **out, size_t *outlen, char *err,
                      size_t errlen)
{
    if (nv_ready(err, errlen))
        return NK_ENOTSUP;
    char arch[64];
    const char *opts[NV_MAXOPTS];
    int nopts = nv_options(cc, cubin, arch, sizeof arch, opts);
    nv_program prog = NULL;
    nv_result r = nv.CreateProgram(&prog, src, "nk_kernels.cu", 0, NULL, NULL);
    if (r) {
        snprintf(err, errlen, "CUDA: NVRTC %d.%d could not take the kernels' source: %s", nv_major,
                 nv_minor, nv.GetErrorString(r));
        return NK_ECOMPILE;
    }
    r = nv.CompileProgram(prog, nopts, opts);
    if (r) {
        size_t n = 0;
        char *log = NULL;
        if (nv.GetProgramLogSize(prog, &n) == 0 && n > 0 && (log = malloc(n + 1))) {
            if (nv.GetProgramLog(prog, log))
                log[0] = 0;
            log[n] = 0;
        }
        char head[1536];
        log_head(log ? log : "", head, sizeof head, 24);
        snprintf(err, errlen, "CUDA: compiling kernels for %s_%d with NVRTC %d.%d: %s:\n%s",
                 cubin ? "sm" : "compute", cc, nv_major, nv_minor, nv.GetErrorString(r), head);
        free(log);
        nv.DestroyProgram(&prog);
        return NK_ECOMPILE;
    }
    size_t n = 0;
    r = cubin ? nv.GetCUBINSize(prog, &n) : nv.GetPTXSize(prog, &n);
    char *buf = r || !n ? NULL : malloc(n);
    if (buf)
        r = cubin ? nv.GetCUBIN(prog, buf) : nv.GetPTX(prog, buf);
    nv.DestroyProgram(&prog);
    if (r || !buf) {
        free(buf);
        snprintf(err, errlen, "CUDA: taking the compiled kernels from NVRTC: %s",
                 r ? nv.GetErrorString(r) : "out of memory");
        return r ? NK_ECOMPILE : NK_ENOMEM;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

/* The cache's key for the cubin of src for sm_<cc>: the text, NVRTC's
 * options and NVRTC's version. */
static uint64_t cubin_key(const char *src, int cc)
{
    char arch[64];
    const char *opts[NV_MAXOPTS];
    int nopts = nv_options(cc, 1, arch, sizeof arch, opts);
    uint64_t h = fnv1a(0xcbf29ce484222325ull, src, strlen(src) + 1);
    for (int k = 0; k < nopts; k++)
        h = fnv1a(h, opts[k], strlen(opts[k]) + 1);
    int ver[2] = {nv_major, nv_minor};
    return fnv1a(h, ver, sizeof ver);
}

int nk_dev_nvrtc_check(const char *src, int cc, char *err, size_t errlen)
{
    char *bin, path[1200];
    size_t n;
    if (nv_ready(err, errlen))
        return NK_ENOTSUP;
    /* Only a module that compiled is in the cache, under a key made of its
     * text, NVRTC's options and NVRTC's version: there it has passed. (The
     * GPU suite under emulation builds 116 modules, 51 of them different;
     * NVRTC takes 0.3-11 s each on a CI machine.) */
    const int cached = cache_path(cubin_key(src, cc), ".cubin", path, sizeof path) == 0;
    struct stat st;
    if (cached && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        return 0;
    int rc = nv_compile(src, cc, 1, &bin, &n, err, errlen);
    if (rc)
        return rc;
    /* into the cache, where a device of compute capability cc finds it (the
     * same text is what the device compiles) */
    if (cached)
        (void)write_file(path, bin, n);
    free(bin);
    return 0;
}

int nk_dev_nvrtc_ptx(const char *src, int cc, char **ptx, char *err, size_t errlen)
{
    size_t n;
    *ptx = NULL;
    return nv_compile(src, cc, 0, ptx, &n, err, errlen);
}

/* ---- devices ---------------------------------------------------------------- */

typedef void (*emu_kernel)(const void *args, int64_t nthreads, int order);

struct nk_dfn {
    nk_dfn *next;            /* the module's list */
    cu_function fn;
    emu_kernel emu;          /* emulation: the host function */
    size_t argsize;          /* the kernel's parameter in bytes (0: unknown) */
    int max_threads;         /* per block */
    char name[];
};

struct nk_dmod {
    nk_dmod *next;           /* the device's list */
    cu_module mod;
    void *dl;                /* emulation: the JIT's shared object */
    nk_dfn *fns;
};

/* A growable list of live allocations (device addresses or host pointers). */
typedef struct nk_dlist {
    uintptr_t *v;
    size_t n, cap;
} nk_dlist;

struct nk_dev {
    int emu;
    int emu_order;           /* emulation: the threads' order (nk_cuda.h's NK_KERNEL) */
    cu_device dev;
    cu_context ctx;          /* the primary context, retained when not NULL */
    cu_stream stream;
    char name[256];
    int cc_major, cc_minor, sms, max_threads;
    size_t total;
    pthread_mutex_t mu;      /* guards the three lists below */
    nk_dlist mem;            /* device allocations */
    nk_dlist host;           /* pinned host buffers */
    nk_dmod *mods;
    char last[64];           /* the last kernel launched, for fault messages */
    nk_dgraph *rec;          /* emulation: the graph being recorded */
    int capturing;
    int freed_capturing;     /* nk_dev_free was called while recording */
    nk_dptr *late;           /* ... and these wait for the recording's end */
    size_t nlate, caplate;
};

/* Emulation's graph: the calls, in order. */
typedef struct emu_op {
    nk_dfn *f;               /* a launch of f with args and nthreads; NULL: a zeroing */
    void *args;
    size_t argsize;
    int64_t nthreads;
    nk_dptr p;               /* zeroing: p and bytes */
    size_t bytes;
} emu_op;

struct nk_dgraph {
    cu_graph graph;
    cu_graph_exec exec;
    emu_op *ops;
    size_t nops, cap;
    int bad;                 /* emulation: out of memory while recording */
};

static void emu_record(nk_dev *d, nk_dfn *f, const void *args, size_t argsize, int64_t nthreads,
                       nk_dptr p, size_t bytes)
{
    nk_dgraph *g = d->rec;
    if (g->nops == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        emu_op *v = realloc(g->ops, cap * sizeof *v);
        if (!v) {
            g->bad = 1;
            return;
        }
        g->ops = v;
        g->cap = cap;
    }
    emu_op *o = &g->ops[g->nops];
    *o = (emu_op){.f = f, .argsize = argsize, .nthreads = nthreads, .p = p, .bytes = bytes};
    if (argsize && !(o->args = malloc(argsize))) {
        g->bad = 1;
        return;
    }
    if (argsize)
        memcpy(o->args, args, argsize);
    g->nops++;
}

static int list_add(nk_dev *d, nk_dlist *l, uintptr_t p)
{
    pthread_mutex_lock(&d->mu);
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        uintptr_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&d->mu);
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = p;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

/* Removes p from l (the newest first: buffers tend to go in reverse); 0 when
 * it was there. */
static int list_remove(nk_dev *d, nk_dlist *l, uintptr_t p)
{
    int found = 0;
    pthread_mutex_lock(&d->mu);
    for (size_t k = l->n; k-- > 0;) {
        if (l->v[k] == p) {
            l->v[k] = l->v[--l->n];
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return found ? 0 : -1;
}

/* Makes d's context current in this thread. */
static int bind(nk_dev *d, char *err, size_t errlen)
{
    cu_context c = NULL;
    if (cu.CtxGetCurrent(&c) == CU_OK && c == d->ctx)
        return 0;
    cu_result r = cu.CtxSetCurrent(d->ctx);
    if (r)
        return cu_fail(NK_EIO, r, err, errlen, "making the device current in this thread");
    return 0;
}

static void bind_quiet(nk_dev *d)
{
    char e[8];
    (void)bind(d, e, sizeof e);
}

/* 64-byte aligned host memory, zero-filled (emulation). */
static void *host_zalloc(size_t bytes)
{
    size_t n = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n ? n : 64);
    if (p)
        memset(p, 0, n ? n : 64);
    return p;
}

nk_dev *nk_dev_open(char *err, size_t errlen)
{
    if (nk_dev_probe(err, errlen))
        return NULL;
    nk_dev *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "CUDA: opening the device: out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    if (emulating()) {
        d->emu = 1;
        static const char *const orders[] = {"forward", "reverse", "scatter"};
        const char *o = getenv("NKSHELL_CUDA_EMU_ORDER");
        if (o && *o) {
            d->emu_order = -1;
            for (int k = 0; k < 3; k++)
                if (!strcmp(o, orders[k]))
                    d->emu_order = k;
            if (d->emu_order < 0) {
                snprintf(err, errlen,
                         "CUDA (emulation): NKSHELL_CUDA_EMU_ORDER is '%.40s'; expected forward, "
                         "reverse or scatter (the order a launch's threads run in)",
                         o);
                pthread_mutex_destroy(&d->mu);
                free(d);
                return NULL;
            }
        }
        snprintf(d->name, sizeof d->name, "host emulation");
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        d->sms = cpus > 0 ? (int)cpus : 1;
        d->total = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
        d->max_threads = 1024;
        return d;
    }
    int ord = 0;
    const char *e = getenv("NKSHELL_CUDA_DEVICE");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end || v < 0 || v >= cu_count) {
            snprintf(err, errlen,
                     "CUDA: NKSHELL_CUDA_DEVICE is '%s': expected a device number from 0 to %d", e,
                     cu_count - 1);
            nk_dev_close(d);
            return NULL;
        }
        ord = (int)v;
    }
    cu_result r;
    if ((r = cu.DeviceGet(&d->dev, ord))) {
        cu_fail(0, r, err, errlen, "opening device %d", ord);
        goto fail;
    }
    if ((r = cu.DeviceGetName(d->name, (int)sizeof d->name, d->dev)) ||
        (r = cu.DeviceGetAttribute(&d->cc_major, CU_DEV_CC_MAJOR, d->dev)) ||
        (r = cu.DeviceGetAttribute(&d->cc_minor, CU_DEV_CC_MINOR, d->dev)) ||
        (r = cu.DeviceGetAttribute(&d->sms, CU_DEV_MULTIPROCESSOR_COUNT, d->dev)) ||
        (r = cu.DeviceGetAttribute(&d->max_threads, CU_DEV_MAX_THREADS_PER_BLOCK, d->dev)) ||
        (r = cu.DeviceTotalMem(&d->total, d->dev))) {
        cu_fail(0, r, err, errlen, "asking about device %d", ord);
        goto fail;
    }
    /* NVRTC compiles only for the architectures it knows: say so now rather
     * than at the first compile. */
    int cc = d->cc_major * 10 + d->cc_minor, narch = 0;
    if (nv.GetNumSupportedArchs && nv.GetSupportedArchs && !nv.GetNumSupportedArchs(&narch) &&
        narch > 0 && narch < 1024) {
        int archs[1024], known = 0;
        if (!nv.GetSupportedArchs(archs)) {
            for (int k = 0; k < narch; k++)
                known |= archs[k] == cc;
            if (!known) {
                snprintf(err, errlen,
                         "CUDA: NVRTC %d.%d cannot compile for the %s (sm_%d); it knows sm_%d to "
                         "sm_%d: set NKSHELL_NVRTC to an %s CUDA toolkit's NVRTC",
                         nv_major, nv_minor, d->name, cc, archs[0], archs[narch - 1],
                         cc < archs[0] ? "older" : "newer");
                goto fail;
            }
        }
    }
    if ((r = cu.PrimaryCtxRetain(&d->ctx, d->dev))) {
        d->ctx = NULL;
        cu_fail(0, r, err, errlen, "creating a context on the %s", d->name);
        goto fail;
    }
    if ((r = cu.CtxSetCurrent(d->ctx))) {
        cu_fail(0, r, err, errlen, "making the %s's context current", d->name);
        goto fail;
    }
    if ((r = cu.StreamCreate(&d->stream, CU_STREAM_BLOCKING))) {
        d->stream = NULL;
        cu_fail(0, r, err, errlen, "creating a stream on the %s", d->name);
        goto fail;
    }
    return d;
fail:
    nk_dev_close(d);
    return NULL;
}

static void fns_free(nk_dfn *f)
{
    while (f) {
        nk_dfn *next = f->next;
        free(f);
        f = next;
    }
}

/* Unloads one module (already off the device's list). */
static void mod_free(nk_dev *d, nk_dmod *m)
{
    if (d->emu) {
        if (m->dl)
            dlclose(m->dl);
    } else if (m->mod) {
        cu.ModuleUnload(m->mod);
    }
    fns_free(m->fns);
    free(m);
}

void nk_dev_close(nk_dev *d)
{
    if (!d)
        return;
    if (d->rec) { /* a recording never ended */
        nk_dev_graph_free(d, d->rec);
        d->rec = NULL;
    }
    if (!d->emu && d->ctx) {
        bind_quiet(d);
        if (d->capturing && d->stream) {
            cu_graph g = NULL;
            cu.StreamEndCapture(d->stream, &g);
            if (g)
                cu.GraphDestroy(g);
        }
        if (d->stream)
            cu.StreamSynchronize(d->stream);
    }
    for (size_t k = 0; k < d->mem.n; k++) {
        if (d->emu)
            free((void *)d->mem.v[k]);
        else
            cu.MemFree((cu_dptr)d->mem.v[k]);
    }
    for (size_t k = 0; k < d->host.n; k++) {
        if (d->emu)
            free((void *)d->host.v[k]);
        else
            cu.MemFreeHost((void *)d->host.v[k]);
    }
    while (d->mods) {
        nk_dmod *m = d->mods;
        d->mods = m->next;
        mod_free(d, m);
    }
    if (d->stream)
        cu.StreamDestroy(d->stream);
    if (d->ctx)
        cu.PrimaryCtxRelease(d->dev);
    free(d->mem.v);
    free(d->late);
    free(d->host.v);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

int nk_dev_emulated(const nk_dev *d) { return d->emu; }

void nk_dev_info(nk_dev *d, char *name, size_t namelen, int *cc_major, int *cc_minor, int *sms,
                 size_t *total, size_t *free_bytes)
{
    if (name && namelen)
        snprintf(name, namelen, "%s", d->name);
    if (cc_major)
        *cc_major = d->cc_major;
    if (cc_minor)
        *cc_minor = d->cc_minor;
    if (sms)
        *sms = d->sms;
    if (total)
        *total = d->total;
    if (free_bytes) {
        size_t f = 0, t = 0;
        if (d->emu) {
            long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
            f = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
        } else {
            bind_quiet(d);
            if (cu.MemGetInfo(&f, &t))
                f = 0;
        }
        *free_bytes = f;
    }
}

/* ---- memory ------------------------------------------------------------------ */

int nk_dev_alloc(nk_dev *d, nk_dptr *p, size_t bytes, char *err, size_t errlen)
{
    char sz[32], fr[32], tot[32];
    *p = 0;
    if (!bytes)
        return 0;
    if (d->emu) {
        void *q = host_zalloc(bytes);
        if (!q || list_add(d, &d->mem, (uintptr_t)q)) {
            free(q);
            size_t f;
            nk_dev_info(d, NULL, 0, NULL, NULL, NULL, NULL, &f);
            snprintf(err, errlen, "CUDA (emulation): allocating %s: out of host memory (%s free)",
                     human(bytes, sz, sizeof sz), human(f, fr, sizeof fr));
            return NK_ENOMEM;
        }
        *p = (nk_dptr)(uintptr_t)q;
        return 0;
    }
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    cu_dptr q = 0;
    cu_result r = cu.MemAlloc(&q, bytes);
    if (r) {
        size_t f = 0, t = 0;
        cu.MemGetInfo(&f, &t);
        return cu_fail(NK_EIO, r, err, errlen, "allocating %s on the %s (%s free of %s)",
                       human(bytes, sz, sizeof sz), d->name, human(f, fr, sizeof fr),
                       human(d->total, tot, sizeof tot));
    }
    if ((r = cu.MemsetD8Async(q, 0, bytes, d->stream))) {
        cu.MemFree(q);
        return cu_fail(NK_EIO, r, err, errlen, "zeroing %s of new device memory",
                       human(bytes, sz, sizeof sz));
    }
    if (list_add(d, &d->mem, (uintptr_t)q)) {
        cu.MemFree(q);
        snprintf(err, errlen, "CUDA: allocating %s: out of host memory for the bookkeeping",
                 human(bytes, sz, sizeof sz));
        return NK_ENOMEM;
    }
    *p = q;
    return 0;
}

void nk_dev_free(nk_dev *d, nk_dptr p)
{
    if (!p)
        return;
    if (d->capturing) {
        /* the graph being recorded may use it: it is freed when the
         * recording ends, which then fails (or, should the list not grow,
         * at nk_dev_close) */
        d->freed_capturing = 1;
        if (d->nlate == d->caplate) {
            size_t nc = d->caplate ? 2 * d->caplate : 8;
            nk_dptr *x = realloc(d->late, nc * sizeof *x);
            if (!x)
                return;
            d->late = x;
            d->caplate = nc;
        }
        d->late[d->nlate++] = p;
        return;
    }
    if (list_remove(d, &d->mem, (uintptr_t)p))
        return;
    if (d->emu) {
        free((void *)(uintptr_t)p);
        return;
    }
    bind_quiet(d);
    cu.StreamSynchronize(d->stream); /* no queued kernel or copy may still use it */
    cu.MemFree(p);
}

/* While a graph is recorded only launches and zeroings may be queued
 * (dev.h): a copy would be recorded to run at every replay, from whatever
 * the host buffer then holds (the emulation would have copied once, at
 * once), and a synchronisation ends the driver's capture with an error. So
 * both refuse, on a GPU and in the emulation alike, and the step that asked
 * goes without a graph. */
static int refuse_capturing(const nk_dev *d, const char *what, char *err, size_t errlen)
{
    if (!d->capturing)
        return 0;
    snprintf(err, errlen,
             "CUDA: %s while a graph is being recorded (a graph holds only launches and "
             "zeroings)",
             what);
    return NK_ENOTSUP;
}

int nk_dev_put_async(nk_dev *d, nk_dptr dst, const void *src, size_t bytes, char *err,
                     size_t errlen)
{
    if (!bytes)
        return 0;
    if (refuse_capturing(d, "copying to the device", err, errlen))
        return NK_ENOTSUP;
    if (d->emu) {
        memcpy((void *)(uintptr_t)dst, src, bytes);
        return 0;
    }
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    cu_result r = cu.MemcpyHtoDAsync(dst, src, bytes, d->stream);
    if (r) {
        char sz[32];
        return cu_fail(NK_EIO, r, err, errlen, "copying %s to the device",
                       human(bytes, sz, sizeof sz));
    }
    return 0;
}

int nk_dev_get_async(nk_dev *d, void *dst, nk_dptr src, size_t bytes, char *err, size_t errlen)
{
    if (!bytes)
        return 0;
    if (refuse_capturing(d, "copying from the device", err, errlen))
        return NK_ENOTSUP;
    if (d->emu) {
        memcpy(dst, (const void *)(uintptr_t)src, bytes);
        return 0;
    }
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    cu_result r = cu.MemcpyDtoHAsync(dst, src, bytes, d->stream);
    if (r) {
        char sz[32];
        return cu_fail(NK_EIO, r, err, errlen, "copying %s from the device",
                       human(bytes, sz, sizeof sz));
    }
    return 0;
}

int nk_dev_put(nk_dev *d, nk_dptr dst, const void *src, size_t bytes, char *err, size_t errlen)
{
    int rc = nk_dev_put_async(d, dst, src, bytes, err, errlen);
    if (rc || !bytes || d->emu)
        return rc;
    return nk_dev_sync(d, err, errlen);
}

int nk_dev_get(nk_dev *d, void *dst, nk_dptr src, size_t bytes, char *err, size_t errlen)
{
    int rc = nk_dev_get_async(d, dst, src, bytes, err, errlen);
    if (rc || !bytes || d->emu)
        return rc;
    return nk_dev_sync(d, err, errlen);
}

int nk_dev_zero(nk_dev *d, nk_dptr p, size_t bytes, char *err, size_t errlen)
{
    if (!bytes)
        return 0;
    if (d->emu) {
        if (d->capturing)
            emu_record(d, NULL, NULL, 0, 0, p, bytes);
        else
            memset((void *)(uintptr_t)p, 0, bytes);
        return 0;
    }
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    cu_result r = cu.MemsetD8Async(p, 0, bytes, d->stream);
    if (r) {
        char sz[32];
        return cu_fail(NK_EIO, r, err, errlen, "zeroing %s of device memory",
                       human(bytes, sz, sizeof sz));
    }
    return 0;
}

void *nk_dev_host_alloc(nk_dev *d, size_t bytes)
{
    void *p = NULL;
    if (d->emu) {
        p = host_zalloc(bytes);
    } else {
        bind_quiet(d);
        if (cu.MemAllocHost(&p, bytes ? bytes : 1))
            p = NULL;
    }
    if (p && list_add(d, &d->host, (uintptr_t)p)) {
        if (d->emu)
            free(p);
        else
            cu.MemFreeHost(p);
        p = NULL;
    }
    return p;
}

void nk_dev_host_free(nk_dev *d, void *p)
{
    if (!p || list_remove(d, &d->host, (uintptr_t)p))
        return;
    if (d->emu) {
        free(p);
        return;
    }
    bind_quiet(d);
    cu.StreamSynchronize(d->stream); /* no copy may still be using it */
    cu.MemFreeHost(p);
}

/* ---- modules and kernels ------------------------------------------------------ */

/* Loads the cubin for src: from the cache when it is there and the driver
 * takes it, else compiled with NVRTC (and cached). */
static int load_cubin(nk_dev *d, const char *src, cu_module *mod, char *err, size_t errlen)
{
    if (nv_ready(err, errlen))
        return NK_ENOTSUP;
    int cc = d->cc_major * 10 + d->cc_minor;
    char path[1200];
    uint64_t h = cubin_key(src, cc);
    int cached = cache_path(h, ".cubin", path, sizeof path) == 0;

    size_t n = 0;
    char *bin = cached ? read_file(path, &n) : NULL;
    if (bin) {
        if (cu.ModuleLoadData(mod, bin) == CU_OK) {
            free(bin);
            return 0;
        }
        free(bin); /* damaged, or not for this driver: compile again */
    }
    int rc = nv_compile(src, cc, 1, &bin, &n, err, errlen);
    if (rc) {
        char srcpath[1200];
        size_t len = strlen(err);
        if (rc == NK_ECOMPILE && cache_path(h, ".cu", srcpath, sizeof srcpath) == 0 &&
            write_file(srcpath, src, strlen(src)) == 0 && len + 1 < errlen)
            snprintf(err + len, errlen - len, "\n(the source is kept at %s)", srcpath);
        return rc;
    }
    if (cached)
        (void)write_file(path, bin, n); /* a cache that cannot be written only costs time */
    cu_result r = cu.ModuleLoadData(mod, bin);
    free(bin);
    if (r)
        return cu_fail(NK_ECOMPILE, r, err, errlen, "loading the kernels compiled for sm_%d onto the %s",
                       cc, d->name);
    return 0;
}

int nk_dev_load(nk_dev *d, const char *src, nk_dmod **m, char *err, size_t errlen)
{
    *m = NULL;
    nk_dmod *mod = calloc(1, sizeof *mod);
    if (!mod) {
        snprintf(err, errlen, "CUDA: loading kernels: out of memory");
        return NK_ENOMEM;
    }
    int rc;
    if (d->emu) {
        rc = nk_jit_load(src, &mod->dl, NULL, err, errlen);
    } else {
        rc = bind(d, err, errlen);
        if (!rc)
            rc = load_cubin(d, src, &mod->mod, err, errlen);
    }
    if (rc) {
        free(mod);
        return rc;
    }
    pthread_mutex_lock(&d->mu);
    mod->next = d->mods;
    d->mods = mod;
    pthread_mutex_unlock(&d->mu);
    *m = mod;
    return 0;
}

void nk_dev_unload(nk_dev *d, nk_dmod *m)
{
    if (!m)
        return;
    int found = 0;
    pthread_mutex_lock(&d->mu);
    for (nk_dmod **pp = &d->mods; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
    if (!found)
        return;
    if (!d->emu) {
        bind_quiet(d);
        cu.StreamSynchronize(d->stream); /* no queued kernel of m may still run */
    }
    mod_free(d, m);
}

int nk_dev_fn(nk_dev *d, nk_dmod *m, const char *name, nk_dfn **f, char *err, size_t errlen)
{
    *f = NULL;
    for (nk_dfn *g = m->fns; g; g = g->next) {
        if (!strcmp(g->name, name)) {
            *f = g;
            return 0;
        }
    }
    size_t len = strlen(name);
    nk_dfn *g = calloc(1, sizeof *g + len + 1);
    if (!g) {
        snprintf(err, errlen, "CUDA: finding kernel '%s': out of memory", name);
        return NK_ENOMEM;
    }
    memcpy(g->name, name, len + 1);
    g->max_threads = d->max_threads;
    if (d->emu) {
        dlerror();
        void *sym = dlsym(m->dl, name);
        if (!sym) {
            const char *why = dlerror();
            snprintf(err, errlen, "CUDA (emulation): no kernel '%s' in the loaded code: %s", name,
                     why ? why : "the symbol is NULL");
            free(g);
            return NK_ECOMPILE;
        }
        memcpy(&g->emu, &sym, sizeof sym);
    } else {
        int rc = bind(d, err, errlen);
        if (rc) {
            free(g);
            return rc;
        }
        cu_result r = cu.ModuleGetFunction(&g->fn, m->mod, name);
        if (r) {
            free(g);
            return cu_fail(NK_ECOMPILE, r, err, errlen,
                           "finding kernel '%s' (is it declared extern \"C\" __global__?)", name);
        }
        int mt = 0;
        if (cu.FuncGetAttribute(&mt, CU_FUNC_MAX_THREADS_PER_BLOCK, g->fn) == CU_OK && mt > 0)
            g->max_threads = mt;
        size_t off = 0, size = 0;
        if (cu.FuncGetParamInfo && cu.FuncGetParamInfo(g->fn, 0, &off, &size) == CU_OK) {
            g->argsize = size;
            if (cu.FuncGetParamInfo(g->fn, 1, &off, &size) == CU_OK) {
                snprintf(err, errlen,
                         "CUDA: kernel '%s' takes more than one parameter; kernels here take one "
                         "struct by value",
                         name);
                free(g);
                return NK_EINVAL;
            }
        }
    }
    g->next = m->fns;
    m->fns = g;
    *f = g;
    return 0;
}

int nk_dev_fn_max_threads(const nk_dfn *f) { return f->max_threads; }

int nk_dev_fn_resident(nk_dev *d, const nk_dfn *f, uint32_t threads, int want)
{
    if (d->emu) /* no limit but a number to print */
        return want < 1024 ? want : 1024;
    int coop = 0, per = 0;
    if (!cu.LaunchCooperativeKernel || !cu.OccupancyMaxActiveBlocks)
        return 0;
    bind_quiet(d);
    if (cu.DeviceGetAttribute(&coop, CU_DEV_COOPERATIVE_LAUNCH, d->dev) != CU_OK || !coop ||
        cu.OccupancyMaxActiveBlocks(&per, f->fn, (int)threads, 0) != CU_OK || per <= 0)
        return 0;
    const int64_t most = (int64_t)per * (d->sms > 0 ? d->sms : 1);
    return want < most ? want : (int)most;
}

static int launch(nk_dev *d, nk_dfn *f, uint32_t blocks, uint32_t threads, const void *args,
                  size_t argsize, int coop, char *err, size_t errlen)
{
    if (!blocks || !threads)
        return 0;
    if (threads > (uint32_t)f->max_threads) {
        snprintf(err, errlen,
                 "CUDA: launching kernel '%s' with %u threads per block: it can have at most %d",
                 f->name, threads, f->max_threads);
        return NK_EINVAL;
    }
    if (blocks > 0x7fffffffu) {
        snprintf(err, errlen, "CUDA: launching kernel '%s' with %u blocks: at most 2^31 - 1",
                 f->name, blocks);
        return NK_EINVAL;
    }
    if (f->argsize && argsize != f->argsize) {
        snprintf(err, errlen,
                 "CUDA: launching kernel '%s': its argument struct is %zu bytes on the host but "
                 "%zu on the device (the two declarations differ)",
                 f->name, argsize, f->argsize);
        return NK_EINVAL;
    }
    if (d->emu) {
        if (d->capturing)
            emu_record(d, f, args, argsize, (int64_t)blocks * threads, 0, 0);
        else
            f->emu(args, (int64_t)blocks * threads, d->emu_order);
        return 0;
    }
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    void *params[1] = {(void *)(uintptr_t)args}; /* the driver only reads it */
    cu_result r;
    if (coop && !cu.LaunchCooperativeKernel) {
        snprintf(err, errlen, "CUDA: this driver has no cooperative launch (cuLaunchCooperativeKernel)");
        return NK_ENOTSUP;
    }
    if (coop)
        r = cu.LaunchCooperativeKernel(f->fn, blocks, 1, 1, threads, 1, 1, 0, d->stream,
                                       argsize ? params : NULL);
    else
        r = cu.LaunchKernel(f->fn, blocks, 1, 1, threads, 1, 1, 0, d->stream,
                            argsize ? params : NULL, NULL);
    /* a cooperative launch refused (too many blocks for the device as it
     * is shared now, under MPS, say): nothing ran, and the caller can go
     * another way */
    if (r)
        return cu_fail(coop && (r == CU_ERR_COOP_TOO_LARGE || r == CU_ERR_NOT_SUPPORTED)
                           ? NK_ENOTSUP : NK_EIO,
                       r, err, errlen, "launching kernel '%s' (%u blocks of %u threads%s)",
                       f->name, blocks, threads, coop ? ", all resident" : "");
    snprintf(d->last, sizeof d->last, "%s", f->name);
    return 0;
}

int nk_dev_launch(nk_dev *d, nk_dfn *f, uint32_t blocks, uint32_t threads, const void *args,
                  size_t argsize, char *err, size_t errlen)
{
    return launch(d, f, blocks, threads, args, argsize, 0, err, errlen);
}

int nk_dev_launch_resident(nk_dev *d, nk_dfn *f, uint32_t blocks, uint32_t threads,
                           const void *args, size_t argsize, char *err, size_t errlen)
{
    return launch(d, f, blocks, threads, args, argsize, 1, err, errlen);
}

int nk_dev_capture_begin(nk_dev *d, char *err, size_t errlen)
{
    if (d->capturing) {
        snprintf(err, errlen, "CUDA: a graph is already being recorded");
        return NK_EINVAL;
    }
    if (d->emu) {
        if (!(d->rec = calloc(1, sizeof *d->rec))) {
            snprintf(err, errlen, "out of memory");
            return NK_ENOMEM;
        }
        d->capturing = 1;
        return 0;
    }
    if (!cu.StreamBeginCapture || !cu.StreamEndCapture || !cu.GraphInstantiate ||
        !cu.GraphLaunch || !cu.GraphExecDestroy || !cu.GraphDestroy) {
        snprintf(err, errlen, "CUDA: this driver has no graphs (they need CUDA 11.4)");
        return NK_ENOTSUP;
    }
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    cu_result r = cu.StreamBeginCapture(d->stream, CU_STREAM_CAPTURE_MODE_RELAXED);
    if (r)
        return cu_fail(NK_ENOTSUP, r, err, errlen, "starting to record a graph");
    d->capturing = 1;
    return 0;
}

void nk_dev_graph_free(nk_dev *d, nk_dgraph *g)
{
    if (!g)
        return;
    if (!d->emu) {
        bind_quiet(d);
        if (g->exec)
            cu.GraphExecDestroy(g->exec);
        if (g->graph)
            cu.GraphDestroy(g->graph);
    }
    for (size_t k = 0; k < g->nops; k++)
        free(g->ops[k].args);
    free(g->ops);
    free(g);
}

static int capture_end(nk_dev *d, nk_dgraph **out, char *err, size_t errlen)
{
    d->capturing = 0;
    if (d->emu) {
        nk_dgraph *g = d->rec;
        d->rec = NULL;
        if (g->bad) {
            nk_dev_graph_free(d, g);
            snprintf(err, errlen, "out of memory");
            return NK_ENOMEM;
        }
        *out = g;
        return 0;
    }
    nk_dgraph *g = calloc(1, sizeof *g);
    int rc = bind(d, err, errlen);
    cu_graph graph = NULL;
    cu_result r = cu.StreamEndCapture(d->stream, &graph); /* ends it, whatever else failed */
    if (!g || rc) {
        if (graph)
            cu.GraphDestroy(graph);
        free(g);
        if (!rc)
            snprintf(err, errlen, "out of memory");
        return rc ? rc : NK_ENOMEM;
    }
    if (r) {
        free(g);
        return cu_fail(NK_ENOTSUP, r, err, errlen, "recording a graph");
    }
    g->graph = graph;
    if ((r = cu.GraphInstantiate(&g->exec, graph, 0))) {
        g->exec = NULL;
        nk_dev_graph_free(d, g);
        return cu_fail(NK_ENOTSUP, r, err, errlen, "instantiating a graph");
    }
    *out = g;
    return 0;
}

int nk_dev_capture_end(nk_dev *d, nk_dgraph **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!d->capturing) {
        snprintf(err, errlen, "CUDA: no graph is being recorded");
        return NK_EINVAL;
    }
    int rc = capture_end(d, out, err, errlen);
    if (d->freed_capturing) {
        if (!rc) {
            nk_dev_graph_free(d, *out);
            *out = NULL;
            snprintf(err, errlen,
                     "CUDA: device memory was freed while a graph was being recorded (the "
                     "graph could use it)");
            rc = NK_ENOTSUP;
        }
        d->freed_capturing = 0;
        for (size_t k = 0; k < d->nlate; k++)
            nk_dev_free(d, d->late[k]);
        d->nlate = 0;
    }
    return rc;
}

int nk_dev_graph_launch(nk_dev *d, nk_dgraph *g, char *err, size_t errlen)
{
    if (d->emu) {
        for (size_t k = 0; k < g->nops; k++) {
            const emu_op *o = &g->ops[k];
            if (o->f)
                o->f->emu(o->args, o->nthreads, d->emu_order);
            else
                memset((void *)(uintptr_t)o->p, 0, o->bytes);
        }
        return 0;
    }
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    cu_result r = cu.GraphLaunch(g->exec, d->stream);
    if (r)
        return cu_fail(NK_EIO, r, err, errlen, "launching a graph");
    snprintf(d->last, sizeof d->last, "a graph of steps");
    return 0;
}

struct nk_dmark {
    cu_event ev;
    double t;                /* emulation: the host's clock when queued */
};

int nk_dev_mark_new(nk_dev *d, nk_dmark **m, char *err, size_t errlen)
{
    *m = calloc(1, sizeof **m);
    if (!*m) {
        snprintf(err, errlen, "out of memory");
        return NK_ENOMEM;
    }
    if (d->emu)
        return 0;
    int rc = bind(d, err, errlen);
    cu_result r = rc ? 0 : cu.EventCreate(&(*m)->ev, 0);
    if (rc || r) {
        free(*m);
        *m = NULL;
        return rc ? rc : cu_fail(NK_EIO, r, err, errlen, "creating an event");
    }
    return 0;
}

int nk_dev_mark(nk_dev *d, nk_dmark *m, char *err, size_t errlen)
{
    if (refuse_capturing(d, "marking the stream", err, errlen))
        return NK_ENOTSUP;
    if (d->emu) {
        m->t = nk_now();
        return 0;
    }
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    cu_result r = cu.EventRecord(m->ev, d->stream);
    return r ? cu_fail(NK_EIO, r, err, errlen, "recording an event") : 0;
}

double nk_dev_mark_ms(nk_dev *d, const nk_dmark *a, const nk_dmark *b)
{
    if (d->emu)
        return 1e3 * (b->t - a->t);
    float ms = 0;
    char err[64];
    if (bind(d, err, sizeof err) || cu.EventElapsedTime(&ms, a->ev, b->ev))
        return -1;
    return ms;
}

void nk_dev_mark_free(nk_dev *d, nk_dmark *m)
{
    if (!m)
        return;
    if (!d->emu && m->ev) {
        char err[64];
        if (!bind(d, err, sizeof err))
            cu.EventDestroy(m->ev);
    }
    free(m);
}

int nk_dev_sync(nk_dev *d, char *err, size_t errlen)
{
    if (refuse_capturing(d, "waiting for the device", err, errlen))
        return NK_ENOTSUP;
    if (d->emu)
        return 0;
    int rc = bind(d, err, errlen);
    if (rc)
        return rc;
    cu_result r = cu.StreamSynchronize(d->stream);
    if (r) {
        if (d->last[0])
            return cu_fail(NK_EIO, r, err, errlen,
                           "running on the %s (the last kernel launched was '%s')", d->name,
                           d->last);
        return cu_fail(NK_EIO, r, err, errlen, "running on the %s", d->name);
    }
    return 0;
}
