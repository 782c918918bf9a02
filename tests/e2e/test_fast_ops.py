"""libvsr's pixel shuffle (shim/fast_ops.cpp), which loaded models use
instead of libtorch's on the CPU, against torch's own: the same values
(bit for bit), shapes and dtype for the factors, sizes and dtypes models
use, and libtorch's own result where it hands over."""
import ctypes
import os

import pytest
import torch
import torch.nn.functional as F


@pytest.fixture(scope="module")
def vsr_ops():
    lib = os.environ.get("VSR_LIBRARY")
    if not lib or not os.path.exists(lib):
        pytest.fail("VSR_LIBRARY is not set or missing; run through meson test")
    # loading libvsr registers its operators with this process's libtorch
    ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
    return torch.ops.vsr


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

