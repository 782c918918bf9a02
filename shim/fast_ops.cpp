/*
 * Faster CPU versions of libtorch 1.13 operators that super-resolution
 * networks lean on, where libtorch's measured slow here. So far one:
 * pixel_shuffle, a generic permute-and-copy in libtorch (1.3 ms for a
 * 12x180x320 fp32 tensor, x2; 9.9 ms for 48x180x320, x4, as in
 * realesr-animevideov3's tail), against 0.07 and 2.0 ms row by row here:
 * it is only data movement, and each output row interleaves r input rows
 * and is written once. (prelu looked slow in a profile taken under load;
 * measured alone, libtorch's runs at memory speed and stays.)
 *
 * vsrt_use_fast_ops() rewrites a loaded module's forward graph to call
 * these versions. Each handles the common layouts and dtypes exactly
 * (bit for bit, tests/e2e/test_fast_ops.py) and hands anything else to
 * libtorch's own operator.
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
 * Returns the fast pixel_shuffle's name for graphs. */
c10::Symbol fast_shuffle_symbol()
{
    static const torch::Library library = [] {
        torch::Library lib(torch::Library::DEF, op_namespace(), c10::nullopt, __FILE__, __LINE__);
        lib.def("pixel_shuffle(Tensor self, int upscale_factor) -> Tensor", fast_pixel_shuffle);
        return lib;
    }();
    (void)library;
    static const c10::Symbol symbol = c10::Symbol::fromQualString(op_namespace() + "::pixel_shuffle");
    return symbol;
}

int rewrite_block(torch::jit::Block *b, c10::Symbol fast_shuffle)
{
    static const c10::Symbol shuffle = c10::Symbol::fromQualString("aten::pixel_shuffle");
    int count = 0;
    for (auto it = b->nodes().begin(); it != b->nodes().end();) {
        torch::jit::Node *node = *it;
        ++it;
        for (torch::jit::Block *sub : node->blocks())
            count += rewrite_block(sub, fast_shuffle);
        if (node->kind() != shuffle || node->inputs().size() != 2 || node->outputs().size() != 1)
            continue;
        torch::jit::Node *fast =
            b->owningGraph()->create(fast_shuffle, node->inputs(), 1);
        fast->insertBefore(node);
        fast->output()->setType(node->output()->type());
        node->output()->replaceAllUsesWith(fast->output());
        node->destroy();
        count++;
    }
    return count;
}

}

int vsrt_use_fast_ops(torch::jit::Module &module)
{
    return rewrite_block(module.get_method("forward").graph()->block(), fast_shuffle_symbol());
}
