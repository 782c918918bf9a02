/* Faster CPU versions of slow libtorch operators (fast_ops.cpp). */
#ifndef VSR_FAST_OPS_H
#define VSR_FAST_OPS_H

#include <torch/script.h>

/* Send the module's aten::pixel_shuffle calls to this library's version
 * (registered on the first call); returns how many were rewritten. */
int vsrt_use_fast_ops(torch::jit::Module &module);

#endif
