/* cuda_probe.cu - asks the CUDA runtime how many devices it sees (-1 when
 * the runtime or driver is missing). Built only when nvcc is found. */
#include <cuda_runtime.h>

extern "C" int nk_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess)
        return -1;
    return n;
}
