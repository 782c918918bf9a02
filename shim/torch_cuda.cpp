/* CUDA-only shim parts (see torch_cuda.h). */
#include <c10/cuda/CUDACachingAllocator.h>

#include "torch_cuda.h"

int64_t vsrt_cuda_allocator_peak(int device)
{
    try {
        auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
        /* index 0 is the aggregate over small and large pools */
        return stats.allocated_bytes[0].peak;
    } catch (...) {
        return -1;
    }
}
