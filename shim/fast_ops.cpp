/*
 * Faster CPU versions of libtorch 1.13 operators that super-resolution
 * networks lean on, where libtorch's measured slow here. Two so far:
 * - pixel_shuffle, a generic permute-and-copy in libtorch (1.3 ms for a
 *   12x180x320 fp32 tensor, x2; 9.9 ms for 48x180x320, x4, as in
 *   realesr-animevideov3's tail), against 0.07 and 2.0 ms row by row here:
 *   it is only data movement, and each output row interleaves r input rows
 *   and is written once. Bit for bit libtorch's result.
 * - upsample_bicubic2d in bf16/fp16: libtorch 1.13 has no vectorised
 *   reduced-precision kernel (17.9 ms to halve a 3x720x1280 bf16 tensor,
 *   2.1 ms in fp32, measured here; it is the resize that ends
 *   realesr-animevideov3-x2 and -x3, about 15% of their bf16 frame time).
 *   Here the resize runs in fp32 and rounds once to the input's dtype: the
 *   result is libtorch's fp32 resize, rounded, which is at least as close
 *   to the exact resize as libtorch's bf16 path (tests/e2e/test_fast_ops.py
 *   checks both).
 * (prelu looked slow in a profile; measured alone, libtorch's runs at
 * memory speed and stays.)
 *
 * vsrt_use_fast_ops() rewrites a loaded module's forward graph to call
 * these versions. Each handles the common layouts and dtypes and hands
 * anything else to libtorch's own operator.
 *
 * The operators are registered on first use under a namespace of this copy
 * of libvsr alone ("vsr_fast_<address>"), and unregistered when it is
 * unloaded. A static TORCH_LIBRARY(vsr, ...) at load time made libtorch
 * abort the process when a second libvsr (another version, or the same
 * file loaded under two names) or anything else defining vsr:: shared it.
 */
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/script.h>
#include <torch/csrc/jit/ir/ir.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "fast_ops.h"

namespace {

template <typename T>
void shuffle_rows(const T *in, T *out, int64_t n_c, int64_t r, int64_t h, int64_t w)
{
    const int64_t ow = w * r, oh = h * r;
    /* one task per output row: (image*channel, output row) */
    at::parallel_for(0, n_c * oh, 64, [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; row++) {
            int64_t nc = row / oh, y = row % oh;
            int64_t i = y % r, iy = y / r;
            T *dst = out + row * ow;
            const T *src0 = in + ((nc * r * r + i * r) * h + iy) * w;
            if (r == 2) {
                const T *a = src0, *b = src0 + h * w;
                for (int64_t x = 0; x < w; x++) {
                    dst[2 * x] = a[x];
                    dst[2 * x + 1] = b[x];
                }
                continue;
            }
            for (int64_t j = 0; j < r; j++) {
                const T *s = src0 + j * h * w;
                for (int64_t x = 0; x < w; x++)
                    dst[x * r + j] = s[x];
            }
        }
    });
}

at::Tensor fast_pixel_shuffle(const at::Tensor &self, int64_t r)
{
    if (self.dim() != 4 || r < 1 || !self.is_contiguous() || self.device().type() != c10::DeviceType::CPU ||
        self.size(1) % (r * r) != 0 || self.requires_grad())
        return at::pixel_shuffle(self, r);
    int64_t n = self.size(0), c = self.size(1) / (r * r), h = self.size(2), w = self.size(3);
    at::Tensor out = at::empty({n, c, h * r, w * r}, self.options());
    switch (self.element_size()) {
    case 4:
        shuffle_rows(static_cast<const uint32_t *>(self.data_ptr()), static_cast<uint32_t *>(out.data_ptr()),
                     n * c, r, h, w);
        break;
    case 2:
        shuffle_rows(static_cast<const uint16_t *>(self.data_ptr()), static_cast<uint16_t *>(out.data_ptr()),
                     n * c, r, h, w);
        break;
    default:
        return at::pixel_shuffle(self, r);
    }
    return out;
}

bool reduced_cpu(const at::Tensor &t)
{
    return t.device().type() == c10::DeviceType::CPU && !t.requires_grad() &&
           (t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf);
}

/* Runs resize(x) in fp32 and rounds once to x's dtype (the layout is what
 * libtorch's fp32 resize gives: contiguous, as its bf16 one); other
 * tensors go to libtorch's resize as they are. */
template <typename Resize>
at::Tensor resize_in_fp32(const at::Tensor &self, Resize resize)
{
    if (!reduced_cpu(self))
        return resize(self);
    return resize(self.to(at::kFloat)).to(self.scalar_type());
}

at::Tensor fast_bicubic(const at::Tensor &self, at::OptionalIntArrayRef output_size, bool align_corners,
                        c10::optional<at::ArrayRef<double>> scale_factors)
{
    return resize_in_fp32(self, [&](const at::Tensor &x) {
        return at::upsample_bicubic2d(x, output_size, align_corners, scale_factors);
    });
}

at::Tensor fast_bicubic_sizes(const at::Tensor &self, at::IntArrayRef output_size, bool align_corners,
                              c10::optional<double> scales_h, c10::optional<double> scales_w)
{
    return resize_in_fp32(self, [&](const at::Tensor &x) {
        return at::upsample_bicubic2d(x, output_size, align_corners, scales_h, scales_w);
    });
}

}

namespace {

/* The address of a function in this copy of the library tells loaded
 * copies apart: two copies never share one. */
std::string op_namespace()
{
    char name[64];
    std::snprintf(name, sizeof(name), "vsr_fast_%" PRIxPTR, reinterpret_cast<uintptr_t>(&fast_pixel_shuffle));
    return name;
}

/* Registers the operators once (thread-safe: a function-local static);
 * the Library's destructor unregisters them when this copy is unloaded.
 * Returns, for each libtorch operator replaced, the name of its fast
 * version; each keeps libtorch's schema (overloads included), so the
 * graph's node resolves to the matching one. */
const std::vector<std::pair<c10::Symbol, c10::Symbol>> &fast_symbols()
{
    static const torch::Library library = [] {
        torch::Library lib(torch::Library::DEF, op_namespace(), c10::nullopt, __FILE__, __LINE__);
        lib.def("pixel_shuffle(Tensor self, int upscale_factor) -> Tensor", fast_pixel_shuffle);
        lib.def("upsample_bicubic2d.vec(Tensor input, int[]? output_size, bool align_corners, "
                "float[]? scale_factors) -> Tensor",
                fast_bicubic);
        lib.def("upsample_bicubic2d(Tensor self, int[2] output_size, bool align_corners, "
                "float? scales_h=None, float? scales_w=None) -> Tensor",
                fast_bicubic_sizes);
        return lib;
    }();
    (void)library;
    static const std::vector<std::pair<c10::Symbol, c10::Symbol>> symbols = [] {
        std::vector<std::pair<c10::Symbol, c10::Symbol>> v;
        for (const char *op : {"pixel_shuffle", "upsample_bicubic2d"})
            v.emplace_back(c10::Symbol::fromQualString(std::string("aten::") + op),
                           c10::Symbol::fromQualString(op_namespace() + "::" + op));
        return v;
    }();
    return symbols;
}

int rewrite_block(torch::jit::Block *b)
{
    int count = 0;
    for (auto it = b->nodes().begin(); it != b->nodes().end();) {
        torch::jit::Node *node = *it;
        ++it;
        for (torch::jit::Block *sub : node->blocks())
            count += rewrite_block(sub);
        const c10::Symbol *fast_op = nullptr;
        for (const auto &pair : fast_symbols())
            if (node->kind() == pair.first)
                fast_op = &pair.second;
        /* only a functional node (one output) that resolved to a schema */
        if (!fast_op || node->outputs().size() != 1 || !node->maybeSchema())
            continue;
        torch::jit::Node *fast = b->owningGraph()->create(*fast_op, node->inputs(), 1);
        fast->insertBefore(node);
        fast->output()->setType(node->output()->type());
        /* the fast operator must have the overload the node used */
        if (!fast->maybeSchema() || fast->maybeSchema()->overload_name() != node->maybeSchema()->overload_name()) {
            fast->destroy();
            continue;
        }
        node->output()->replaceAllUsesWith(fast->output());
        node->destroy();
        count++;
    }
    return count;
}

}

int vsrt_use_fast_ops(torch::jit::Module &module)
{
    return rewrite_block(module.get_method("forward").graph()->block());
}
