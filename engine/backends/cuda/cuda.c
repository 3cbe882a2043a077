/* cuda.c - the CUDA backend's table.
 *
 * The CUDA engine (NVRTC-compiled kernels, device-resident state, fixed-point
 * atomics) is not built yet: this table reports so, so that backend = "cuda"
 * gives a clear message and backend = "auto" falls back to the CPU. When the
 * build found nvcc (NK_HAVE_CUDA), it also says how many devices the CUDA
 * runtime sees, so the message tells the user what is there. */
#include "../backend.h"

#include <stdio.h>

#ifdef NK_HAVE_CUDA
int nk_cuda_device_count(void); /* cuda_probe.cu */
#endif

static int cuda_available(char *err, size_t errlen)
{
#ifdef NK_HAVE_CUDA
    int n = nk_cuda_device_count();
    snprintf(err, errlen,
             "the CUDA backend is not built yet (%d CUDA device%s visible); use backend = \"cpu\"",
             n < 0 ? 0 : n, n == 1 ? "" : "s");
#else
    snprintf(err, errlen,
             "the CUDA backend is not built into this nkshell (it was configured without a "
             "usable nvcc); use backend = \"cpu\"");
#endif
    return -7; /* NK_ENOTSUP */
}

static int cuda_build(struct nk_net *net, char *err, size_t errlen)
{
    (void)net;
    return cuda_available(err, errlen);
}

static int cuda_step(struct nk_net *net, char *err, size_t errlen)
{
    (void)net;
    return cuda_available(err, errlen);
}

static void cuda_release(struct nk_net *net) { (void)net; }

const nk_backend nk_backend_cuda = {
    .name = "cuda",
    .available = cuda_available,
    .build = cuda_build,
    .step = cuda_step,
    .release = cuda_release,
};
