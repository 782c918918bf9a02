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

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <fstream>
#include <new>
#include <string>
#include <vector>

#include "config.h"
#include "torch_shim.h"

#if VSR_HAVE_TORCH_CUDA
#include "torch_cuda.h"
#endif

struct vsrt_model {
    torch::jit::Module module;
    torch::Device device{torch::kCPU};
    torch::ScalarType dtype = torch::kFloat;
    int precision = VSRT_FP32;
    bool channels_last = false;
    std::string device_name;
    std::atomic<int64_t> peak_device_bytes{-1};
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
        m->precision = precision;
        m->dtype = precision == VSRT_BF16 ? torch::kBFloat16
                 : precision == VSRT_FP16 ? torch::kHalf
                                          : torch::kFloat;

        if (o->threads > 0)
            at::set_num_threads(o->threads);
        if (m->device.is_cuda()) {
            at::globalContext().setBenchmarkCuDNN(o->cudnn_benchmark != 0);
            /* Whatever stays fp32 may use TF32 tensor cores. */
            at::globalContext().setAllowTF32CuDNN(true);
            at::globalContext().setAllowTF32CuBLAS(true);
        }

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
             * unfrozen then. */
            try {
                mod = torch::jit::freeze(mod);
            } catch (const std::exception &) {
            }
            /* Then the inference passes: on CPU they move convolutions to
             * oneDNN's blocked layout between layers, which made
             * realesr-animevideov3 about 30% faster here (docs/performance.md).
             * A model they cannot handle keeps its frozen graph. */
            try {
                mod = torch::jit::optimize_for_inference(mod);
            } catch (const std::exception &) {
            }
        }
        m->module = mod;
        m->channels_last = o->channels_last != 0;
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
        int64_t t0 = now_ns();
        torch::Tensor x = torch::from_blob(const_cast<float *>(input), dims, torch::kFloat);
        if (m->device.is_cuda())
            x = x.to(m->device, m->dtype, /*non_blocking=*/true);
        else if (m->dtype != torch::kFloat)
            x = x.to(m->dtype);
        if (m->channels_last && ndim == 4)
            x = x.contiguous(at::MemoryFormat::ChannelsLast);
        int64_t t1 = now_ns();
        torch::jit::IValue yv = m->module.forward({x});
        if (!yv.isTensor())
            throw std::runtime_error("the model returned " + yv.tagKind() + ", not a tensor");
        torch::Tensor y = yv.toTensor();
        if (m->device.is_cuda())
            torch::cuda::synchronize(m->device.index());
        int64_t t2 = now_ns();
        y = y.to(torch::kCPU, torch::kFloat).contiguous();
        if (!y.is_contiguous() || y.data_ptr() == x.data_ptr())
            y = y.clone();
        y.clamp_(lo, hi);
        int64_t t3 = now_ns();
        t.upload_ns = t1 - t0;
        t.infer_ns = t2 - t1;
        t.download_ns = t3 - t2;
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
