"""libvsr's pixel shuffle and bicubic resize (shim/fast_ops.cpp), which
loaded models use instead of libtorch's on the CPU, against torch's own:
the pixel shuffle gives the same values (bit for bit), shapes and dtype for
the factors, sizes and dtypes models use; the bf16/fp16 resize is torch's
fp32 resize rounded once (and at least as close to the exact resize as
torch's own reduced-precision one); both give libtorch's own result where
they hand over.

Its registration: under a namespace of each loaded copy of libvsr, so two
copies in one process (two files, loaded RTLD_LOCAL) each load a model and
give the same output, where a fixed TORCH_LIBRARY(vsr) aborted the process
as soon as the second copy was loaded."""
import os
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from conftest import tmodel

# One process, several copies of libvsr (argv: model, library paths): the
# binding is imported afresh for each copy and runs a frame through a
# session of each; the outputs must agree.
TWO_COPIES = r"""
import os, sys
import numpy as np
model, libs = sys.argv[1], sys.argv[2:]
outs = []
for path in libs:
    for name in [m for m in sys.modules if m == "libvsr" or m.startswith("libvsr.")]:
        del sys.modules[name]
    os.environ["VSR_LIBRARY"] = path
    import libvsr
    assert libvsr.library_path == path, libvsr.library_path
    frame = np.random.default_rng(1).random((3, 16, 24), dtype=np.float32)
    with libvsr.Session(model_path=model, precision="fp32") as s:
        outs.append(list(s.process([frame], as_numpy=True))[0])
    print("copy", len(outs), "ran the model", flush=True)
assert all(np.array_equal(outs[0], o) for o in outs), "the copies' outputs differ"
print("ok")
"""


def library():
    lib = os.environ.get("VSR_LIBRARY")
    if not lib or not os.path.exists(lib):
        pytest.fail("VSR_LIBRARY is not set or missing; run through meson test")
    return lib


@pytest.fixture(scope="module")
def vsr_ops(test_models):
    library()
    import libvsr
    # loading a model registers the operators with this process's libtorch,
    # under a namespace of this copy of libvsr
    libvsr.Model(tmodel(test_models, "tiny-x2.pt"), precision="fp32").close()
    spaces = {s.name.split("::")[0] for s in torch._C._jit_get_all_schemas()
              if s.name.startswith("vsr_fast_") and s.name.endswith("::pixel_shuffle")}
    assert len(spaces) == 1, f"libvsr's pixel_shuffle is registered as {spaces}"
    resizes = {s.overload_name for s in torch._C._jit_get_all_schemas()
               if s.name == next(iter(spaces)) + "::upsample_bicubic2d"}
    assert resizes == {"", "vec"}, f"libvsr's upsample_bicubic2d overloads: {resizes}"
    assert not [s.name for s in torch._C._jit_get_all_schemas() if s.name.startswith("vsr::")], \
        "libvsr still registers the shared vsr:: namespace"
    return getattr(torch.ops, spaces.pop())


def test_two_copies_in_one_process(test_models, tmp_path):
    lib = library()
    copy = str(tmp_path / "libvsr-second-copy.so")
    shutil.copyfile(lib, copy)
    env = dict(os.environ, VSR_FAST_OPS="1")
    p = subprocess.run([sys.executable, "-c", TWO_COPIES, tmodel(test_models, "tiny-x2.pt"), lib, copy],
                       capture_output=True, text=True, timeout=300, env=env)
    err = "\n".join(line for line in p.stderr.splitlines() if not line.startswith("frame #"))
    assert p.returncode == 0, f"exit {p.returncode} with two copies of libvsr loaded:\n{p.stdout}\n{err[-3000:]}"
    assert p.stdout.strip().endswith("ok"), p.stdout


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("r,shape", [(2, (1, 12, 90, 160)), (2, (3, 4, 7, 5)), (3, (2, 27, 11, 13)),
                                     (4, (1, 48, 9, 17)), (1, (1, 3, 5, 6))])
def test_same_as_torch(vsr_ops, dtype, r, shape):
    g = torch.Generator().manual_seed(sum(shape) + r)
    x = torch.rand(shape, generator=g).to(dtype)
    want = F.pixel_shuffle(x, r)
    got = vsr_ops.pixel_shuffle(x, r)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert torch.equal(got, want)


def test_non_contiguous_input_hands_over(vsr_ops):
    x = torch.rand(1, 8, 6, 10).permute(0, 1, 3, 2)  # a transposed view
    assert not x.is_contiguous()
    assert torch.equal(vsr_ops.pixel_shuffle(x, 2), F.pixel_shuffle(x, 2))


def test_bad_channel_count_is_an_error_not_a_crash(vsr_ops):
    x = torch.rand(1, 6, 4, 4)  # 6 is not a multiple of 2*2
    with pytest.raises(RuntimeError):
        vsr_ops.pixel_shuffle(x, 2)



# ---------------------------------------------------------------------------
# upsample_bicubic2d in bf16/fp16: libvsr resizes in fp32 and rounds once

def exact_bicubic(x, **kw):
    return F.interpolate(x.double(), mode="bicubic", **kw)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("kw", [dict(scale_factor=0.5, align_corners=False),     # realesr-animevideov3-x2's tail
                                dict(scale_factor=0.75, align_corners=False),    # -x3's
                                dict(scale_factor=2.0, align_corners=True),
                                dict(size=(13, 29), align_corners=False)])
def test_bicubic_is_the_fp32_resize_rounded_once(vsr_ops, dtype, channels_last, kw):
    g = torch.Generator().manual_seed(7)
    x = torch.rand(1, 3, 48, 80, generator=g).to(dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if "size" in kw:
        got = vsr_ops.upsample_bicubic2d(x, list(kw["size"]), kw["align_corners"], None)
    else:
        got = vsr_ops.upsample_bicubic2d(x, None, kw["align_corners"], [kw["scale_factor"]] * 2)
    want = F.interpolate(x.float(), mode="bicubic", **kw).to(dtype)
    assert got.dtype == dtype and got.shape == want.shape
    assert got.stride() == want.stride()
    assert torch.equal(got, want)
    if dtype == torch.float16:
        return  # libtorch 1.13 has no fp16 bicubic on the CPU at all ("not implemented for 'Half'")
    # and at least as close to the exact resize as libtorch's own reduced-precision path
    torch_own = F.interpolate(x, mode="bicubic", **kw)
    assert got.stride() == torch_own.stride()
    exact = exact_bicubic(x, **kw)
    err_fast = (got.double() - exact).abs().max().item()
    err_torch = (torch_own.double() - exact).abs().max().item()
    assert err_fast <= err_torch, f"fp32-then-round error {err_fast} > libtorch's {dtype} error {err_torch}"


def test_bicubic_sizes_overload(vsr_ops):
    x = torch.rand(2, 3, 10, 12, generator=torch.Generator().manual_seed(8)).to(torch.bfloat16)
    got = vsr_ops.upsample_bicubic2d(x, [20, 24], False, None, None)
    assert torch.equal(got, torch._C._nn.upsample_bicubic2d(x.float(), [20, 24], False, None, None).bfloat16())


def test_bicubic_fp32_hands_over(vsr_ops):
    x = torch.rand(1, 3, 17, 23, generator=torch.Generator().manual_seed(9))
    got = vsr_ops.upsample_bicubic2d(x, None, False, [0.5, 0.5])
    assert torch.equal(got, F.interpolate(x, scale_factor=0.5, mode="bicubic", align_corners=False))
