/*
 * libtorch side of libvsr: load a TorchScript model with its card, run it
 * on CPU or CUDA at the requested precision. Every exception is caught
 * here and reported as a code plus a one-line message.
 */
#include <torch/script.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/core/Allocator.h>
#include <c10/core/Event.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <c10/util/ThreadLocalDebugInfo.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "fast_ops.h"
#include "torch_cuda.h" /* no CUDA headers: its definitions need -Dtorch_cuda */
#include "torch_shim.h"

struct vsrt_model {
    torch::jit::Module module;
    torch::Device device{torch::kCPU};
    torch::ScalarType dtype = torch::kFloat;
    int precision = VSRT_FP32;
    bool channels_last = false;
    std::string device_name;
    std::atomic<int64_t> peak_device_bytes{-1};
#if VSR_HAVE_TORCH_CUDA
    vsrt_graph_cache *graphs = nullptr;
    ~vsrt_model() { vsrt_graph_cache_free(graphs); }
#endif
};

struct vsrt_result {
    torch::Tensor tensor;
    std::vector<int64_t> shape;
};

namespace {

void set_msg(char *buf, size_t len, const std::string &msg)
{
    if (!buf || !len)
        return;
    std::snprintf(buf, len, "%s", msg.c_str());
}

/* TorchScript errors carry a multi-line interpreter traceback; the line
 * that says what went wrong is the last non-empty one. Other errors put it
 * first. */
std::string one_line(const std::string &what)
{
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= what.size()) {
        size_t end = what.find('\n', start);
        if (end == std::string::npos)
            end = what.size();
        std::string line = what.substr(start, end - start);
        if (line.find_first_not_of(" \t\r") != std::string::npos)
            lines.push_back(line);
        start = end + 1;
    }
    if (lines.empty())
        return "unknown error";
    bool traceback = what.find("Traceback") != std::string::npos;
    std::string line = traceback ? lines.back() : lines.front();
    size_t first = line.find_first_not_of(" \t");
    return line.substr(first);
}

bool looks_like_oom(const std::string &what)
{
    return what.find("out of memory") != std::string::npos ||
           what.find("can't allocate memory") != std::string::npos ||
           what.find("Tried to allocate") != std::string::npos;
}

/* The inference passes pay off when oneDNN convolutions outnumber the
 * changes into oneDNN's layout (see vsrt_load). */
bool worth_onednn(torch::jit::Module &opt)
{
    static const c10::Symbol conv = c10::Symbol::fromQualString("prim::mkldnn_convolution");
    static const c10::Symbol into = c10::Symbol::fromQualString("aten::to_mkldnn");
    int convs = 0, changes = 0;
    for (torch::jit::Node *n : opt.get_method("forward").graph()->nodes()) {
        convs += n->kind() == conv;
        changes += n->kind() == into;
    }
    return convs > changes;
}

int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/* Resolve "cpu", "cuda", "cuda:N", "auto" into a device, or explain why not. */
int resolve_device(const char *spec, torch::Device *dev, std::string *why)
{
    std::string s = spec && *spec ? spec : "cpu";
    if (s == "cpu") {
        *dev = torch::Device(torch::kCPU);
        return VSRT_OK;
    }
    bool want_auto = s == "auto";
    if (!want_auto && s.rfind("cuda", 0) != 0) {
        *why = "device '" + s + "' is not one of cpu, cuda, cuda:N, auto";
        return VSRT_E_INVAL;
    }
    int index = 0;
    if (s.size() > 4) {
        if (s[4] != ':' || s.size() == 5) {
            *why = "device '" + s + "' is not one of cpu, cuda, cuda:N, auto";
            return VSRT_E_INVAL;
        }
        char *end = nullptr;
        long v = std::strtol(s.c_str() + 5, &end, 10);
        if (*end || v < 0 || v > 1024) {
            *why = "device '" + s + "': the CUDA device index must be a small non-negative integer";
            return VSRT_E_INVAL;
        }
        index = (int)v;
    }
    char rt_why[256] = "";
    int rt_count = vsrt_cudart_device_count(rt_why, sizeof(rt_why));
    bool torch_cuda = torch::cuda::is_available();
    if (!torch_cuda) {
        if (want_auto) {
            *dev = torch::Device(torch::kCPU);
            return VSRT_OK;
        }
        std::string reason = VSR_HAVE_TORCH_CUDA ? "libtorch sees no CUDA device"
                                                 : "this libtorch is a CPU-only build";
        if (rt_count == 0 && rt_why[0])
            reason += std::string("; ") + rt_why;
        *why = "device '" + s + "' is not available: no CUDA device (" + reason + ")";
        return VSRT_E_DEVICE;
    }
    int count = (int)torch::cuda::device_count();
    if (index >= count) {
        *why = "device '" + s + "' is not available: only " + std::to_string(count) +
               " CUDA device(s) present";
        return VSRT_E_DEVICE;
    }
    *dev = torch::Device(torch::kCUDA, (c10::DeviceIndex)index);
    return VSRT_OK;
}

} // namespace

extern "C" const char *vsrt_torch_version(void)
{
    return TORCH_VERSION;
}

extern "C" int vsrt_torch_has_cuda(void)
{
    try {
        return torch::cuda::is_available() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

extern "C" int vsrt_cuda_device_count(char *why, size_t why_len)
{
    try {
        if (torch::cuda::is_available())
            return (int)torch::cuda::device_count();
    } catch (...) {
    }
    return vsrt_cudart_device_count(why, why_len);
}

extern "C" int vsrt_get_num_threads(void)
{
    return at::get_num_threads();
}

extern "C" void vsrt_use_threads(int n)
{
    try {
        if (n > 0 && at::get_num_threads() != n)
            at::set_num_threads(n);
    } catch (...) {
        /* a refused change leaves the pool as it was: slower, still right */
    }
}

extern "C" int vsrt_process_configure(int threads, int tf32, int cudnn_benchmark, char *err, size_t err_len)
{
    try {
        if (threads > 0)
            at::set_num_threads(threads);
        at::globalContext().setAllowTF32CuBLAS(tf32 != 0);
        at::globalContext().setAllowTF32CuDNN(tf32 != 0);
        at::globalContext().setBenchmarkCuDNN(cudnn_benchmark != 0);
    } catch (const std::exception &e) {
        set_msg(err, err_len, one_line(e.what()));
        return VSRT_E_INVAL;
    }
    return VSRT_OK;
}

extern "C" void vsrt_process_get(int *threads, int *tf32, int *cudnn_benchmark)
{
    *threads = at::get_num_threads();
    *tf32 = at::globalContext().allowTF32CuBLAS() && at::globalContext().allowTF32CuDNN() ? 1 : 0;
    *cudnn_benchmark = at::globalContext().benchmarkCuDNN() ? 1 : 0;
}

extern "C" int vsrt_load(const vsrt_load_options *o, vsrt_model **out, char **card,
                         char *notice, size_t notice_len, char *err, size_t err_len)
{
    *out = nullptr;
    *card = nullptr;
    set_msg(notice, notice_len, "");
    if (!o || !o->path) {
        set_msg(err, err_len, "no model path");
        return VSRT_E_INVAL;
    }
    std::string path = o->path;
    {
        std::ifstream probe(path, std::ios::binary);
        if (!probe) {
            set_msg(err, err_len, "model '" + path + "': " + std::strerror(errno));
            return VSRT_E_LOAD;
        }
    }
    auto *m = new (std::nothrow) vsrt_model();
    if (!m) {
        set_msg(err, err_len, "out of memory");
        return VSRT_E_OOM;
    }
    try {
        std::string why;
        int rc = resolve_device(o->device, &m->device, &why);
        if (rc != VSRT_OK) {
            set_msg(err, err_len, why);
            delete m;
            return rc;
        }
        m->device_name = m->device.is_cuda() ? "cuda:" + std::to_string(m->device.index()) : "cpu";

        int precision = o->precision;
        if (precision == VSRT_FP16 && !m->device.is_cuda()) {
            /* CPU kernels for half are slow or missing; fp32 gives the
             * same result at full precision. */
            set_msg(notice, notice_len,
                    "precision fp16 is for CUDA devices; running on the CPU in fp32 instead");
            precision = VSRT_FP32;
        }
        if (o->cuda_graph && !m->device.is_cuda()) {
            set_msg(err, err_len, "cuda_graph: CUDA graphs are for CUDA devices, and the model runs on " +
                                      m->device_name);
            delete m;
            return VSRT_E_INVAL;
        }
        if (o->cuda_graph && !VSR_HAVE_TORCH_CUDA) {
            set_msg(err, err_len, "cuda_graph: this libvsr was built without CUDA libtorch support "
                                  "(rebuild with meson -Dtorch_dir=<CUDA libtorch> -Dtorch_cuda=true)");
            delete m;
            return VSRT_E_INVAL;
        }
        m->precision = precision;
        m->dtype = precision == VSRT_BF16 ? torch::kBFloat16
                 : precision == VSRT_FP16 ? torch::kHalf
                                          : torch::kFloat;


        torch::jit::ExtraFilesMap extra{{"libvsr.json", ""}};
        torch::jit::Module mod = torch::jit::load(path, torch::Device(torch::kCPU), extra);
        const std::string &card_text = extra["libvsr.json"];
        if (!card_text.empty()) {
            *card = (char *)std::malloc(card_text.size() + 1);
            if (!*card)
                throw std::bad_alloc();
            std::memcpy(*card, card_text.c_str(), card_text.size() + 1);
        }
        mod.eval();
        if (m->dtype != torch::kFloat)
            mod.to(m->dtype);
        if (m->device.is_cuda())
            mod.to(m->device);
        if (o->optimize) {
            /* Freezing inlines weights as constants and folds what it can;
             * a model that mutates its own state may refuse: keep it
             * unfrozen then (and without the inference passes). */
            try {
                torch::jit::Module loaded = mod;
                mod = torch::jit::freeze(loaded);
                /* Then the inference passes: on CPU they move runs of
                 * convolutions into oneDNN's blocked layout, with a layout
                 * change at each end. That made realesr-animevideov3
                 * (18 convolutions) about 30% faster here, and the tiny
                 * one-convolution test model 1.6x slower at 320x180 (two
                 * layout changes, nothing saved between them): keep the
                 * passes only where a run holds several convolutions. The
                 * rule is fixed rather than timed at load, so the same
                 * model gives the same output on every run. The passes
                 * rewrite the graph they are given, hence a second freeze.
                 * A model they cannot handle keeps its frozen graph. */
                try {
                    torch::jit::Module second = torch::jit::freeze(loaded);
                    torch::jit::Module opt = torch::jit::optimize_for_inference(second);
                    if (m->device.is_cuda() || worth_onednn(opt))
                        mod = opt;
                } catch (const std::exception &) {
                }
            } catch (const std::exception &) {
            }
            /* VSR_FAST_OPS=0 keeps libtorch's own operators: the A/B
             * switch of bench/fast-ops */
            const char *fast = std::getenv("VSR_FAST_OPS");
            if (!m->device.is_cuda() && !(fast && std::strcmp(fast, "0") == 0))
                vsrt_use_fast_ops(mod);
        }
        m->module = mod;
        m->channels_last = o->channels_last != 0;
#if VSR_HAVE_TORCH_CUDA
        if (o->cuda_graph)
            m->graphs = vsrt_graph_cache_new();
#endif
    } catch (const c10::Error &e) {
        set_msg(err, err_len, "model '" + path + "': " + one_line(e.what_without_backtrace()));
        std::free(*card);
        *card = nullptr;
        delete m;
        return VSRT_E_LOAD;
    } catch (const std::exception &e) {
        set_msg(err, err_len, "model '" + path + "': " + one_line(e.what()));
        std::free(*card);
        *card = nullptr;
        delete m;
        return VSRT_E_LOAD;
    }
    *out = m;
    return VSRT_OK;
}

extern "C" void vsrt_free(vsrt_model *m)
{
    delete m;
}

extern "C" const char *vsrt_device_name(const vsrt_model *m)
{
    return m->device_name.c_str();
}

extern "C" int vsrt_precision(const vsrt_model *m)
{
    return m->precision;
}

extern "C" int vsrt_is_cuda(const vsrt_model *m)
{
    return m->device.is_cuda() ? 1 : 0;
}

torch::Tensor vsrt_module_forward(torch::jit::Module &module, const torch::Tensor &x)
{
    torch::jit::IValue yv = module.forward({x});
    if (!yv.isTensor())
        throw std::runtime_error("the model returned " + yv.tagKind() + ", not a tensor");
    return yv.toTensor();
}

namespace {

void wait_event(const c10::Event &e)
{
    /* c10::Event (1.13) has no blocking wait; its query is cheap. */
    while (!e.query())
        std::this_thread::sleep_for(std::chrono::microseconds(20));
}

/*
 * CUDA: the batch goes through in pieces of one item so that copies
 * overlap compute. Uploads and downloads run on a stream of their own,
 * taken from libtorch's pool; the model runs on the thread's current
 * stream. Events order them: piece i computes only after its upload, and
 * is downloaded only after its compute, while piece i+1 uploads and piece
 * i-1 downloads. Only device-generic c10 calls are used, so this compiles
 * against a CPU-only libtorch and is chosen when the model is on CUDA.
 *
 * The timing is the critical path: upload until the first piece can
 * compute, compute until the last piece is done, and the download tail.
 */
torch::Tensor forward_cuda(vsrt_model *m, const torch::Tensor &host_in, float lo, float hi, vsrt_timing *t)
{
    c10::impl::VirtualGuardImpl impl(c10::DeviceType::CUDA);
    c10::Stream compute = impl.getStream(m->device);
    c10::Stream copy = impl.getStreamFromGlobalPool(m->device);
    int64_t batch = host_in.size(0);
    /* Device tensors stay referenced until the copy stream is drained:
     * the caching allocator must not hand them out while another stream
     * may still read them. */
    std::vector<torch::Tensor> keep;
    std::vector<c10::Event> events;
    events.reserve((size_t)batch * 2);
    torch::Tensor out;
    int64_t t0 = now_ns();
    try {
        for (int64_t i = 0; i < batch; i++) {
            torch::Tensor x;
            {
                c10::StreamGuard on_copy(copy);
                /* pinned source (vsrt_host_alloc): an asynchronous copy */
                x = host_in.narrow(0, i, 1).to(m->device, torch::kFloat, /*non_blocking=*/true);
            }
            events.emplace_back(c10::DeviceType::CUDA);
            events.back().record(copy);
            events.back().block(compute);
            keep.push_back(x);
            torch::Tensor xin = m->dtype != torch::kFloat ? x.to(m->dtype) : x;
            if (m->channels_last && xin.dim() == 4)
                xin = xin.contiguous(at::MemoryFormat::ChannelsLast);
#if VSR_HAVE_TORCH_CUDA
            torch::Tensor y = m->graphs ? vsrt_graph_forward(m->graphs, m->module, xin)
                                        : vsrt_module_forward(m->module, xin);
#else
            torch::Tensor y = vsrt_module_forward(m->module, xin);
#endif
            y = y.to(torch::kFloat).clamp_(lo, hi).contiguous();
            if (!out.defined()) {
                std::vector<int64_t> dims(y.sizes().begin(), y.sizes().end());
                if (dims.empty() || dims[0] != 1)
                    throw std::runtime_error("the model's output does not keep the batch dimension");
                dims[0] = batch;
                out = torch::empty(dims, torch::TensorOptions().dtype(torch::kFloat).pinned_memory(true));
            } else if (y.sizes().slice(1) != out.sizes().slice(1)) {
                throw std::runtime_error("the model's output shape changed between items of one batch");
            }
            events.emplace_back(c10::DeviceType::CUDA);
            events.back().record(compute);
            events.back().block(copy);
            keep.push_back(y);
            c10::StreamGuard on_copy(copy);
            out.narrow(0, i, 1).copy_(y, /*non_blocking=*/true);
        }
    } catch (...) {
        /* in-flight copies and kernels may still use the tensors about to
         * be released: let them finish before the allocator reuses them */
        copy.synchronize();
        compute.synchronize();
        throw;
    }
    wait_event(events[0]);
    int64_t t1 = now_ns();
    wait_event(events.back());
    int64_t t2 = now_ns();
    copy.synchronize();
    int64_t t3 = now_ns();
    t->upload_ns = t1 - t0;
    t->infer_ns = t2 - t1;
    t->download_ns = t3 - t2;
    return out;
}

torch::Tensor forward_cpu(vsrt_model *m, const torch::Tensor &host_in, float lo, float hi, vsrt_timing *t)
{
    int64_t t0 = now_ns();
    torch::Tensor x = host_in;
    /* dtype and layout in one pass: to() then contiguous() was two (0.30
     * against 0.16 ms for a 3x180x320 frame here) */
    if (m->channels_last && x.dim() == 4)
        x = x.to(m->dtype, false, false, at::MemoryFormat::ChannelsLast);
    else if (m->dtype != torch::kFloat)
        x = x.to(m->dtype);
    int64_t t1 = now_ns();
    torch::Tensor y = vsrt_module_forward(m->module, x);
    int64_t t2 = now_ns();
    y = y.to(torch::kFloat).contiguous();
    /* the result must own its memory: the input belongs to the caller */
    if (y.is_alias_of(host_in))
        y = y.clone();
    y.clamp_(lo, hi);
    int64_t t3 = now_ns();
    t->upload_ns = t1 - t0;
    t->infer_ns = t2 - t1;
    t->download_ns = t3 - t2;
    return y;
}
}

extern "C" int vsrt_forward(vsrt_model *m, const float *input, const int64_t *shape, int ndim,
                            float lo, float hi, vsrt_result **res, vsrt_timing *timing,
                            char *err, size_t err_len)
{
    *res = nullptr;
    if (ndim < 1 || ndim > 6) {
        set_msg(err, err_len, "input must have 1 to 6 dimensions");
        return VSRT_E_INVAL;
    }
    vsrt_timing t{0, 0, 0};
    try {
        c10::InferenceMode guard;
        /* TorchScript's profiling optimiser re-specialises for each new
         * shape and made this kind of model 2x slower here (measured on
         * realesr-animevideov3: 0.9 s vs 2.0 s per 320x180 frame); the
         * frozen graph runs best as it is. The guard is scoped. */
        torch::jit::GraphOptimizerEnabledGuard no_profiling(false);
        std::vector<int64_t> dims(shape, shape + ndim);
        torch::Tensor x = torch::from_blob(const_cast<float *>(input), dims, torch::kFloat);
        torch::Tensor y = m->device.is_cuda() ? forward_cuda(m, x, lo, hi, &t) : forward_cpu(m, x, lo, hi, &t);
        auto *r = new vsrt_result();
        r->tensor = y;
        r->shape.assign(y.sizes().begin(), y.sizes().end());
        *res = r;
    } catch (const c10::Error &e) {
        std::string what = e.what_without_backtrace();
        set_msg(err, err_len, one_line(what));
        return looks_like_oom(what) ? VSRT_E_OOM : VSRT_E_RUN;
    } catch (const std::bad_alloc &) {
        set_msg(err, err_len, "out of memory");
        return VSRT_E_OOM;
    } catch (const std::exception &e) {
        std::string what = e.what();
        set_msg(err, err_len, one_line(what));
        return looks_like_oom(what) ? VSRT_E_OOM : VSRT_E_RUN;
    }
    if (timing)
        *timing = t;
    return VSRT_OK;
}

namespace {

/* Bytes handed out by libtorch's allocator for one device type while
 * installed as this thread's memory reporter, and their peak. */
struct peak_meter : public c10::MemoryReportingInfoBase {
    explicit peak_meter(c10::DeviceType t) : type(t) {}
    void reportMemoryUsage(void *, int64_t alloc_size, int64_t, int64_t, c10::Device device) override
    {
        if (device.type() != type)
            return;
        seen = true;
        current += alloc_size;
        if (current > peak)
            peak = current;
    }
    bool memoryProfilingEnabled() const override { return true; }
    c10::DeviceType type;
    int64_t current = 0, peak = 0;
    bool seen = false;
};

} // namespace

extern "C" int vsrt_forward_measure(vsrt_model *m, const float *input, const int64_t *shape, int ndim,
                                    float lo, float hi, int64_t *out_shape, int *out_ndim, int64_t *peak_bytes,
                                    char *err, size_t err_len)
{
    *peak_bytes = -1;
    *out_ndim = 0;
    std::shared_ptr<peak_meter> meter;
    try {
        meter = std::make_shared<peak_meter>(m->device.type());
    } catch (const std::exception &) {
        set_msg(err, err_len, "out of memory");
        return VSRT_E_OOM;
    }
    int rc;
    {
        /* The hook is thread-local and scoped: libtorch calls it for the
         * allocations of this thread until the guard goes. */
        c10::DebugInfoGuard guard(c10::DebugInfoKind::PROFILER_STATE, meter);
        vsrt_result *res = nullptr;
        rc = vsrt_forward(m, input, shape, ndim, lo, hi, &res, nullptr, err, err_len);
        if (rc == VSRT_OK) {
            int n = (int)res->shape.size();
            *out_ndim = n < 6 ? n : 6;
            for (int i = 0; i < *out_ndim; i++)
                out_shape[i] = res->shape[(size_t)i];
            vsrt_result_free(res);
        }
    }
    if (rc == VSRT_OK && meter->seen)
        *peak_bytes = meter->peak;
    return rc;
}

extern "C" const float *vsrt_result_data(const vsrt_result *r)
{
    return r->tensor.data_ptr<float>();
}

extern "C" int vsrt_result_ndim(const vsrt_result *r)
{
    return (int)r->shape.size();
}

extern "C" const int64_t *vsrt_result_shape(const vsrt_result *r)
{
    return r->shape.data();
}

extern "C" void vsrt_result_free(vsrt_result *r)
{
    delete r;
}

extern "C" void *vsrt_host_alloc(const vsrt_model *m, size_t bytes)
{
    /* No silent fallback to pageable memory on CUDA: vsrt_host_free must
     * know which allocator owns the pointer. */
    if (m && m->device.is_cuda())
        return vsrt_cudart_host_alloc(bytes);
    /* 64-byte alignment suits AVX-512 loads; round the size up as
     * aligned_alloc requires. */
    size_t n = (bytes + 63) & ~(size_t)63;
    return std::aligned_alloc(64, n ? n : 64);
}

extern "C" void vsrt_host_free(const vsrt_model *m, void *p)
{
    if (!p)
        return;
    if (m && m->device.is_cuda()) {
        vsrt_cudart_host_free(p);
        return;
    }
    std::free(p);
}

extern "C" int vsrt_device_memory(const vsrt_model *m, int64_t *free_bytes, int64_t *total_bytes,
                                  int64_t *peak_bytes)
{
    *free_bytes = *total_bytes = *peak_bytes = -1;
    if (!m || !m->device.is_cuda())
        return -1;
#if VSR_HAVE_TORCH_CUDA
    *peak_bytes = vsrt_cuda_allocator_peak(m->device.index());
#endif
    return vsrt_cudart_mem_info(m->device.index(), free_bytes, total_bytes);
}
