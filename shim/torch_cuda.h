/* Parts of the shim that need a CUDA build of libtorch (its c10/cuda
 * headers). Built only with meson -Dtorch_cuda=true; not compiled on a
 * CPU-only libtorch such as Debian's. */
#ifndef VSR_TORCH_CUDA_H
#define VSR_TORCH_CUDA_H

#include <cstdint>

/* Peak bytes allocated by libtorch's CUDA caching allocator on a device. */
int64_t vsrt_cuda_allocator_peak(int device);

#endif
