/* Parts of the shim that need a CUDA build of libtorch (its c10/cuda and
 * ATen/cuda libraries). Linked in only with meson -Dtorch_cuda=true; on a
 * CPU-only libtorch that ships the headers (Debian's), shim/meson.build
 * still compiles them, without linking, as a check. */
#ifndef VSR_TORCH_CUDA_H
#define VSR_TORCH_CUDA_H

#include <cstdint>

#include <torch/script.h>

/* The module's forward on x, checked to return a tensor (torch_shim.cpp;
 * the graph capture below runs the model through it too). */
torch::Tensor vsrt_module_forward(torch::jit::Module &module, const torch::Tensor &x);

/* Peak bytes allocated by libtorch's CUDA caching allocator on a device. */
int64_t vsrt_cuda_allocator_peak(int device);

/*
 * CUDA graphs for fixed-shape forward passes: the first pass at a shape
 * warms up (cuDNN's algorithm search runs then) and captures the module
 * into a graph; later passes at that shape copy the input into the
 * graph's own input tensor and replay it. A few shapes are kept (whole
 * frames, edge tiles, the last partial chunk); others run eagerly.
 */
struct vsrt_graph_cache;
vsrt_graph_cache *vsrt_graph_cache_new();
void vsrt_graph_cache_free(vsrt_graph_cache *c);
/* y = module(x) for a device tensor x, through a graph when possible.
 * y is a tensor of its own (not the graph's output buffer). */
torch::Tensor vsrt_graph_forward(vsrt_graph_cache *c, torch::jit::Module &module, const torch::Tensor &x);

#endif
