"""libvsr's pixel shuffle (shim/fast_ops.cpp), which loaded models use
instead of libtorch's on the CPU, against torch's own: the same values
(bit for bit), shapes and dtype for the factors, sizes and dtypes models
use, and libtorch's own result where it hands over.

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

