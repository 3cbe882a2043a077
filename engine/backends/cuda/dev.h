/* dev.h - the CUDA backend's device layer: one GPU, its memory, its kernels.
 *
 * Everything the CUDA backend asks of the NVIDIA driver and of NVRTC goes
 * through here. Nothing is linked: libcuda.so.1 and libnvrtc are loaded with
 * dlopen at first use (and stay loaded), so an nkshell built on a machine
 * without CUDA runs everywhere and says what is missing when asked for a GPU.
 *
 * With NKSHELL_CUDA=emulate the "device" is this host: memory is host memory
 * (an nk_dptr is then a host address), copies are memcpy, and a module is the
 * same source compiled as C11 by the CPU backend's JIT, in which a kernel is
 *     void name(const void *args, int64_t nthreads)
 * that loops over the thread ids itself. Tests use it to run the backend's
 * logic on machines without a GPU.
 *
 * Errors: every function that can fail returns 0 or a negative NK_E code
 * (nk/nk.h) and writes a message "CUDA: <what was being done>: <driver's
 * name>: <driver's description>" into err: NK_ENOTSUP (no usable device),
 * NK_ENOMEM (out of device or pinned memory), NK_ECOMPILE (NVRTC failed or
 * the module did not load), NK_EINVAL (a bad launch: too many threads, an
 * argument struct of the wrong size), NK_EIO (any other driver failure,
 * including a kernel that faulted; the driver then refuses all further work
 * on this device: close it).
 *
 * Threads: a device may be used from any thread (each call makes the
 * device's context current in the calling thread), but not from two at once,
 * except that the bookkeeping of allocations and modules is locked. */
#ifndef NK_CUDA_DEV_H
#define NK_CUDA_DEV_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t nk_dptr;          /* a device address (emulation: a host address) */
typedef struct nk_dev nk_dev;      /* one device, its context and one stream */
typedef struct nk_dmod nk_dmod;    /* a loaded module */
typedef struct nk_dfn nk_dfn;      /* a kernel in a module */

/* 0 when a device can be used here (or NKSHELL_CUDA=emulate), else NK_ENOTSUP
 * (-7) and a message that says what is missing: no libcuda.so.1 (no NVIDIA
 * driver), cuInit failed, no device, no NVRTC (and where it was looked for),
 * a driver older than NVRTC's CUDA major version, or NKSHELL_CUDA=off; or
 * NK_EINVAL (-1) when NKSHELL_CUDA has a value it does not know. The
 * libraries are loaded once per process; the second call is cheap. */
int nk_dev_probe(char *err, size_t errlen);

/* Opens device $NKSHELL_CUDA_DEVICE (default 0): retains its primary context
 * and creates one stream. NULL and a message on failure. Close with
 * nk_dev_close. */
nk_dev *nk_dev_open(char *err, size_t errlen);

/* Frees every allocation and pinned buffer still held, unloads every module,
 * destroys the stream and releases the context. NULL is a no-op. */
void nk_dev_close(nk_dev *d);

/* 1 when d is the host emulation. */
int nk_dev_emulated(const nk_dev *d);

/* The device's name ("NVIDIA H100 80GB HBM3"; emulation: "host emulation"),
 * compute capability (emulation: 0.0), multiprocessor count (emulation: CPUs),
 * total and currently free memory in bytes. Any pointer may be NULL. */
void nk_dev_info(nk_dev *d, char *name, size_t namelen, int *cc_major, int *cc_minor, int *sms,
                 size_t *total, size_t *free_bytes);

/* Allocates bytes of device memory, zero-filled (the zeroing is queued on the
 * stream, so it is done before anything queued later). 0 bytes gives *p = 0.
 * On failure the message names the size and the free memory. Free with
 * nk_dev_free (or leave it to nk_dev_close). */
int nk_dev_alloc(nk_dev *d, nk_dptr *p, size_t bytes, char *err, size_t errlen);
/* Frees an allocation of nk_dev_alloc, after waiting for the work queued on
 * the stream; 0, or an address it did not return, is a no-op. */
void nk_dev_free(nk_dev *d, nk_dptr p);

/* Synchronous copies: they wait for all work queued on the stream, copy, and
 * return when the copy is complete. */
int nk_dev_put(nk_dev *d, nk_dptr dst, const void *src, size_t bytes, char *err, size_t errlen);
int nk_dev_get(nk_dev *d, void *dst, nk_dptr src, size_t bytes, char *err, size_t errlen);
/* Zeroes bytes at p, queued on the stream. */
int nk_dev_zero(nk_dev *d, nk_dptr p, size_t bytes, char *err, size_t errlen);

/* Pinned (page-locked) host memory, 64-byte aligned at least; NULL when it
 * cannot be had. Copies from and to it with the _async functions overlap
 * with kernels. Free with nk_dev_host_free (or leave it to nk_dev_close);
 * freeing first waits for the stream. */
void *nk_dev_host_alloc(nk_dev *d, size_t bytes);
void nk_dev_host_free(nk_dev *d, void *p);
/* Copies queued on the stream: the host side must stay untouched (put) or
 * is not complete (get) until nk_dev_sync. From pageable (not pinned) memory
 * the driver may copy synchronously instead. */
int nk_dev_get_async(nk_dev *d, void *dst, nk_dptr src, size_t bytes, char *err, size_t errlen);
int nk_dev_put_async(nk_dev *d, nk_dptr dst, const void *src, size_t bytes, char *err,
                     size_t errlen);

/* Compiles CUDA C++ source src with NVRTC for this device's architecture
 * (--gpu-architecture=sm_<cc> --fmad=false --std=c++17 -DNK_CUDA=1; no
 * headers: src must include none) and loads it. The cubin is cached under
 * <cache>/cuda/ by a hash of the source, the options and NVRTC's version.
 * Emulation: compiles src as C11 with the CPU JIT (also cached). On a
 * compile failure the message holds the start of NVRTC's log and the path
 * where the source was kept. Unload with nk_dev_unload (or nk_dev_close). */
int nk_dev_load(nk_dev *d, const char *src, nk_dmod **m, char *err, size_t errlen);
/* Unloads m (after waiting for the stream); its nk_dfn handles become
 * invalid. NULL is a no-op. */
void nk_dev_unload(nk_dev *d, nk_dmod *m);
/* Finds kernel name (declared extern "C" in the source) in m. The handle
 * belongs to m; asking twice gives the same handle. */
int nk_dev_fn(nk_dev *d, nk_dmod *m, const char *name, nk_dfn **f, char *err, size_t errlen);
/* The most threads per block f can be launched with (its register use may
 * make this less than 1024). */
int nk_dev_fn_max_threads(const nk_dfn *f);

/* Queues f on the stream with blocks x threads threads (0 of either: nothing
 * to do). The kernel's one parameter is a struct passed by value: args points
 * to its host copy, argsize is its size; the driver copies it at the call, so
 * args may be reused at once. Where the driver can tell the kernel's
 * parameter size (CUDA 12.4 and later), a different argsize is refused.
 * Emulation: calls name(args, blocks * threads) before returning. Faults in
 * the kernel show at the next nk_dev_sync (or synchronous copy). */
int nk_dev_launch(nk_dev *d, nk_dfn *f, uint32_t blocks, uint32_t threads, const void *args,
                  size_t argsize, char *err, size_t errlen);
/* As nk_dev_launch, with every block resident at once (a cooperative
 * launch), so that the blocks may wait for each other: at most
 * nk_dev_fn_resident blocks. Emulation: as nk_dev_launch. */
int nk_dev_launch_resident(nk_dev *d, nk_dfn *f, uint32_t blocks, uint32_t threads,
                           const void *args, size_t argsize, char *err, size_t errlen);
/* The most blocks of f, of threads threads each, that the device holds at
 * once, and so a cooperative launch may have, but no more than want; 0 where
 * the device or driver has no cooperative launch. Emulation: want, at most
 * 1024. */
int nk_dev_fn_resident(nk_dev *d, const nk_dfn *f, uint32_t threads, int want);
/* Waits for everything queued on the stream; reports a kernel fault with the
 * driver's message. */
int nk_dev_sync(nk_dev *d, char *err, size_t errlen);

/* CUDA graphs: the launches and zeroings queued between nk_dev_capture_begin
 * and nk_dev_capture_end are recorded, not run, into a graph that
 * nk_dev_graph_launch queues as a whole, with the arguments they had when
 * recorded (stream capture; emulation: a list of the calls, replayed).
 * capture_begin gives NK_ENOTSUP where the driver has no graphs (before CUDA
 * 11.4). Nothing else may use the device while capturing: copies to or
 * from it and nk_dev_sync give NK_ENOTSUP then (the capture goes on; the
 * caller ends it and does without the graph). nk_dev_free then frees
 * nothing until the capture ends, and the capture fails, as the graph
 * could use what was freed. */
typedef struct nk_dgraph nk_dgraph;
int nk_dev_capture_begin(nk_dev *d, char *err, size_t errlen);
int nk_dev_capture_end(nk_dev *d, nk_dgraph **g, char *err, size_t errlen);
int nk_dev_graph_launch(nk_dev *d, nk_dgraph *g, char *err, size_t errlen);
void nk_dev_graph_free(nk_dev *d, nk_dgraph *g);

/* Marks on the stream, to time the device's work: nk_dev_mark queues
 * mark m (a CUDA event) behind what is queued; nk_dev_mark_ms gives the
 * milliseconds from mark a to mark b once the device has passed both (after
 * nk_dev_sync or a synchronous copy), -1 if it cannot tell. Emulation: the
 * host's clock when a mark is queued (the kernels have run by then).
 * Marking while a graph is recorded gives NK_ENOTSUP. */
typedef struct nk_dmark nk_dmark;
int nk_dev_mark_new(nk_dev *d, nk_dmark **m, char *err, size_t errlen);
int nk_dev_mark(nk_dev *d, nk_dmark *m, char *err, size_t errlen);
double nk_dev_mark_ms(nk_dev *d, const nk_dmark *a, const nk_dmark *b);
void nk_dev_mark_free(nk_dev *d, nk_dmark *m);

/* NVRTC alone, no device needed: compiles src for compute capability cc (90
 * for sm_90) to a cubin with the options of nk_dev_load and stores it in the
 * code cache, where a device of that capability finds it; a cubin already
 * there (the same text, options and NVRTC version) has passed, and src is
 * not compiled again. 0, or NK_ECOMPILE and a message with the start of
 * NVRTC's log, or NK_ENOTSUP when no NVRTC can be loaded. For tests. */
int nk_dev_nvrtc_check(const char *src, int cc, char *err, size_t errlen);
/* The same, to PTX for compute_<cc>: *ptx is the NUL-terminated text, which
 * the caller frees with free(). For tests that look at the generated code. */
int nk_dev_nvrtc_ptx(const char *src, int cc, char **ptx, char *err, size_t errlen);

#endif
