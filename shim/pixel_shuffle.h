/* Faster pixel shuffle for loaded models (pixel_shuffle.cpp). */
#ifndef VSR_PIXEL_SHUFFLE_H
#define VSR_PIXEL_SHUFFLE_H

#include <torch/script.h>

/* Send the module's aten::pixel_shuffle calls to vsr::pixel_shuffle;
 * returns how many were rewritten. */
int vsrt_use_fast_pixel_shuffle(torch::jit::Module &module);

#endif
