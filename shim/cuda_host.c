/*
 * CUDA runtime calls that need no libtorch CUDA headers: device count,
 * pinned host memory and device memory queries. Without the runtime
 * linked (meson -Dcuda=disabled) they report "not available"; with it
 * linked but no driver or GPU present, every call fails cleanly with the
 * runtime's own reason.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "torch_shim.h"

#if VSR_HAVE_CUDART
#include <cuda_runtime_api.h>

int vsrt_cudart_device_count(char *why, size_t why_len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        /* Without a driver the runtime says "driver version is insufficient",
         * which reads like an upgrade hint; say what it means here. */
        const char *plain = e == cudaErrorInsufficientDriver ? "no NVIDIA driver found"
                          : e == cudaErrorNoDevice           ? "no CUDA device found"
                                                             : cudaGetErrorString(e);
        if (why)
            snprintf(why, why_len, "CUDA runtime: %s (%s)", plain, cudaGetErrorName(e));
        /* clear the sticky error state so later calls start clean */
        cudaGetLastError();
        return 0;
    }
    if (n == 0 && why)
        snprintf(why, why_len, "CUDA runtime: no CUDA device found");
    return n;
}

void *vsrt_cudart_host_alloc(size_t bytes)
{
    void *p = NULL;
    if (cudaHostAlloc(&p, bytes, cudaHostAllocDefault) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    return p;
}

void vsrt_cudart_host_free(void *p)
{
    if (p && cudaFreeHost(p) != cudaSuccess)
        cudaGetLastError();
}

int vsrt_cudart_mem_info(int device, int64_t *free_bytes, int64_t *total_bytes)
{
    int prev = 0;
    size_t f = 0, t = 0;
    if (cudaGetDevice(&prev) != cudaSuccess || cudaSetDevice(device) != cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    cudaError_t e = cudaMemGetInfo(&f, &t);
    if (cudaSetDevice(prev) != cudaSuccess || e != cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    *free_bytes = (int64_t)f;
    *total_bytes = (int64_t)t;
    return 0;
}

#else

int vsrt_cudart_device_count(char *why, size_t why_len)
{
    if (why)
        snprintf(why, why_len, "libvsr was built without the CUDA runtime (meson -Dcuda)");
    return 0;
}

void *vsrt_cudart_host_alloc(size_t bytes)
{
    (void)bytes;
    return NULL;
}

void vsrt_cudart_host_free(void *p)
{
    (void)p;
}

int vsrt_cudart_mem_info(int device, int64_t *free_bytes, int64_t *total_bytes)
{
    (void)device;
    *free_bytes = *total_bytes = -1;
    return -1;
}

#endif
