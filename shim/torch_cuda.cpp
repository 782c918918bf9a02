/* CUDA-only shim parts (see torch_cuda.h). */
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cuda_runtime_api.h>

#include <memory>
#include <mutex>
#include <vector>

#include "torch_cuda.h"

int64_t vsrt_cuda_allocator_peak(int device)
{
    try {
        /* 1.13 takes an int, 2.x a c10::DeviceIndex (and returns
         * c10::CachingDeviceAllocator::DeviceStats): the cast suits both,
         * as do the fields read below. */
        auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
        /* index 0 is the aggregate over small and large pools */
        return stats.allocated_bytes[0].peak;
    } catch (...) {
        return -1;
    }
}

namespace {

struct captured {
    std::vector<int64_t> shape;
    at::ScalarType dtype;
    at::MemoryFormat format;
    at::cuda::CUDAGraph graph;
    torch::Tensor in, out;
};

/* Warm-up passes before capture: cuDNN's benchmark search and the
 * allocator's first allocations must not happen inside the capture. */
constexpr int warmup_passes = 3;
constexpr size_t max_shapes = 4;

}

struct vsrt_graph_cache {
    /* One graph's input and output buffers are shared by every caller:
     * copy-in, replay and copy-out of one pass must not interleave with
     * another's. */
    std::mutex lock;
    std::vector<std::unique_ptr<captured>> graphs;
};

vsrt_graph_cache *vsrt_graph_cache_new()
{
    return new vsrt_graph_cache();
}

void vsrt_graph_cache_free(vsrt_graph_cache *c)
{
    delete c;
}

static captured *find(vsrt_graph_cache *c, const torch::Tensor &x, at::MemoryFormat format)
{
    for (auto &g : c->graphs)
        if (g->shape == x.sizes().vec() && g->dtype == x.scalar_type() && g->format == format)
            return g.get();
    return nullptr;
}

static captured *capture(vsrt_graph_cache *c, torch::jit::Module &module, const torch::Tensor &x,
                         at::MemoryFormat format)
{
    auto g = std::make_unique<captured>();
    g->shape = x.sizes().vec();
    g->dtype = x.scalar_type();
    g->format = format;
    g->in = torch::empty_like(x, x.options(), format);
    g->in.copy_(x);
    /* Capture is not allowed on the legacy default stream: use a side
     * stream that first waits for the caller's work (the copy above). */
    at::cuda::CUDAStream caller = at::cuda::getCurrentCUDAStream(x.device().index());
    at::cuda::CUDAStream side = at::cuda::getStreamFromPool(false, x.device().index());
    at::cuda::CUDAEvent ready;
    ready.record(caller);
    ready.block(side);
    {
        c10::cuda::CUDAStreamGuard on_side(side);
        for (int i = 0; i < warmup_passes; i++)
            vsrt_module_forward(module, g->in);
        g->graph.capture_begin();
        try {
            g->out = vsrt_module_forward(module, g->in);
        } catch (...) {
            /* leave the stream out of capture mode before reporting */
            cudaGraph_t partial = nullptr;
            if (cudaStreamEndCapture(side.stream(), &partial) == cudaSuccess && partial)
                cudaGraphDestroy(partial);
            cudaGetLastError();
            throw;
        }
        g->graph.capture_end();
    }
    at::cuda::CUDAEvent captured_done;
    captured_done.record(side);
    captured_done.block(caller);
    captured *raw = g.get();
    c->graphs.push_back(std::move(g));
    return raw;
}

torch::Tensor vsrt_graph_forward(vsrt_graph_cache *c, torch::jit::Module &module, const torch::Tensor &x)
{
    at::MemoryFormat format = x.is_contiguous(at::MemoryFormat::ChannelsLast) && x.dim() == 4 &&
                                      !x.is_contiguous()
                                  ? at::MemoryFormat::ChannelsLast
                                  : at::MemoryFormat::Contiguous;
    std::lock_guard<std::mutex> hold(c->lock);
    captured *g = find(c, x, format);
    if (!g && c->graphs.size() < max_shapes) {
        try {
            g = capture(c, module, x, format);
        } catch (const std::exception &e) {
            /* A model that syncs with the host or branches on values
             * cannot be captured; it was asked for, so say so. */
            throw std::runtime_error(std::string("CUDA graph capture failed (run without cuda_graph): ") +
                                     e.what());
        }
    }
    if (!g)
        return vsrt_module_forward(module, x);
    g->in.copy_(x);
    g->graph.replay();
    /* the graph overwrites its output at the next replay: hand out a copy
     * made on the caller's stream, ordered after this replay */
    return g->out.clone();
}
