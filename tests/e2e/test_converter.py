"""Tests of the model tooling: the ncnn converter and its self-check, the
converted realesr-animevideov3 models, the small test models and the test
clip manifest.

Environment (set by meson): VSR_SOURCE_ROOT, VSR_MODELS_DIR, VSR_TEST_MODELS,
VSR_TEST_DATA. The converted models come from scripts/fetch-models; when they
are missing the tests that need them fail and say so.
"""
import json
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
TEST_MODELS = os.environ.get("VSR_TEST_MODELS")
TEST_DATA = os.environ.get("VSR_TEST_DATA")
sys.path.insert(0, str(ROOT / "tools"))

import convert_ncnn  # noqa: E402
import modelcard  # noqa: E402

NAME = "realesr-animevideov3"
RF = {2: 19, 3: 19, 4: 18}
FETCH_HINT = "run scripts/fetch-models to download and convert the models"


def model_path(scale):
    p = MODELS / f"{NAME}-x{scale}.pt"
    if not p.exists():
        pytest.fail(f"{p} is missing: {FETCH_HINT}")
    return p


def ncnn_files(scale):
    d = MODELS / ".cache" / NAME
    param, bin_ = d / f"{NAME}-x{scale}.param", d / f"{NAME}-x{scale}.bin"
    if not (param.exists() and bin_.exists()):
        pytest.fail(f"ncnn files missing in {d}: {FETCH_HINT}")
    return param, bin_


def need_dir(var, what):
    if not var or not os.path.isdir(var):
        pytest.fail(f"{what} directory missing ({var!r}): build the meson test-models and "
                    "test-data targets (meson test builds them)")
    return pathlib.Path(var)


# ---------------------------------------------------------------------------
# Converted models

@pytest.mark.parametrize("scale", [2, 3, 4])
def test_converted_model_card_and_shape(scale):
    module, card = modelcard.load(model_path(scale))
    assert card["name"] == f"{NAME}-x{scale}"
    assert card["scale"] == scale
    assert (card["frames_in"], card["frames_out"], card["layout"]) == (1, "all", "NCHW")
    assert card["receptive_field"] == {"spatial": RF[scale], "temporal": 0}
    assert card["size_multiple"] == 1
    assert card["license"] == "BSD-3-Clause"
    assert card["converter"] == "tools/convert_ncnn.py"
    x = torch.rand(2, 3, 20, 28)
    with torch.no_grad():
        y = module(x)
    assert tuple(y.shape) == (2, 3, 20 * scale, 28 * scale)
    assert y.dtype == torch.float32


@pytest.mark.parametrize("scale", [2, 4])
def test_converted_model_upscales_a_photo(scale):
    """Real weights: on a downscaled photo the output must be close to the
    original (a wrongly read .bin gives noise far below 20 dB)."""
    from skimage import data
    module, _ = modelcard.load(model_path(scale))
    img = torch.from_numpy(data.astronaut()[96:288, 96:288].astype(np.float32) / 255)
    img = img.permute(2, 0, 1)[None]
    lr = F.interpolate(img, scale_factor=1 / scale, mode="area")
    with torch.no_grad():
        y = module(lr).clamp(0, 1)
    psnr = float(10 * torch.log10(1 / ((y - img) ** 2).mean()))
    assert psnr > 20, f"x{scale} PSNR {psnr:.1f} dB"


@pytest.mark.parametrize("scale", [2, 3])
def test_receptive_field_is_a_safe_tile_pad(scale):
    """A tile padded by the card's radius reproduces the whole-frame output."""
    module, card = modelcard.load(model_path(scale))
    r = card["receptive_field"]["spatial"]
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        full = module(x)
        # Tile: rows/cols 24..35 of the input, with r pixels of context.
        t0, t1 = 24, 36
        tile = module(x[:, :, t0 - r:t1 + r, t0 - r:t1 + r])
    s = scale
    inner = tile[:, :, r * s:(r + t1 - t0) * s, r * s:(r + t1 - t0) * s]
    ref = full[:, :, t0 * s:t1 * s, t0 * s:t1 * s]
    assert float((inner - ref).abs().max()) < 1e-4


# ---------------------------------------------------------------------------
# The converter and its self-check

def run_converter(tmp_path, param_text, bin_bytes, extra=()):
    param, bin_ = tmp_path / "m.param", tmp_path / "m.bin"
    param.write_text(param_text)
    bin_.write_bytes(bin_bytes)
    out = tmp_path / "m.pt"
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "convert_ncnn.py"), "--param", str(param),
                        "--bin", str(bin_), "--name", "broken", "--out", str(out), *extra],
                       capture_output=True, text=True)
    return r, out


def expect_failure(tmp_path, param_text, bin_bytes, *needles):
    r, out = run_converter(tmp_path, param_text, bin_bytes)
    assert r.returncode != 0, r.stdout
    for n in needles:
        assert n in r.stderr, f"{n!r} not in: {r.stderr}"
    assert not out.exists(), "a failed conversion left a model behind"
    assert list(tmp_path.glob("m.pt*")) == [], "a failed conversion left a temporary file behind"


@pytest.fixture(scope="module")
def x2_source():
    param, bin_ = ncnn_files(2)
    return param.read_text(), bin_.read_bytes()


def test_converter_end_to_end(tmp_path, x2_source):
    text, data = x2_source
    r, out = run_converter(tmp_path, text, data)
    assert r.returncode == 0, r.stderr
    assert "self-check: astronaut crop 3x24x20 -> 3x48x40: max |torch - numpy| =" in r.stdout
    assert "measured by autograd = 19" in r.stdout
    _, card = modelcard.load(out)
    assert (card["name"], card["scale"], card["receptive_field"]["spatial"]) == ("broken", 2, 19)
    assert "global_pool" not in card and card["self_check"]["rf_autograd"] == 19
    # A plain network stays a flat graph of aten operators, as the converter made
    # it before the zoo: no control flow, no calls left (what libvsr's graph
    # rewrites and CUDA graphs see), and the conv2d form that carries no cuDNN flags.
    module, _ = modelcard.load(out)
    kinds = [n.kind() for n in module.inlined_graph.nodes()]
    assert set(kinds) - {"prim::Constant", "prim::GetAttr", "prim::ListConstruct"} == {
        "aten::conv2d", "aten::prelu", "aten::pixel_shuffle", "aten::upsample_bicubic2d",
        "aten::upsample_nearest2d", "aten::add"}, sorted(set(kinds))
    assert kinds.count("aten::conv2d") == 18 and kinds.count("aten::prelu") == 17


def test_converter_refuses_unknown_layer_type(tmp_path, x2_source):
    text, data = x2_source
    bad = text.replace("PReLU                    PRelu_1 ", "Swish                    PRelu_1 ", 1)
    assert bad != text
    expect_failure(tmp_path, bad, data, "unsupported layer type 'Swish'", "PRelu_1")


def test_converter_refuses_unknown_param_key(tmp_path, x2_source):
    text, data = x2_source
    bad = text.replace("0=64 1=3 4=1 5=1 6=1728", "0=64 1=3 4=1 5=1 6=1728 23=1", 1)
    expect_failure(tmp_path, bad, data, "Conv_0", "unsupported param key 23")


def test_converter_refuses_unknown_interp_mode(tmp_path, x2_source):
    text, data = x2_source
    bad = text.replace("output 0=3 ", "output 0=4 ", 1)
    expect_failure(tmp_path, bad, data, "Resize_40", "resize_type=4")


def test_converter_refuses_truncated_bin(tmp_path, x2_source):
    text, data = x2_source
    expect_failure(tmp_path, text, data[:-100], "m.bin: ends at byte", "Conv_34")


def test_converter_refuses_unused_bin_bytes(tmp_path, x2_source):
    text, data = x2_source
    expect_failure(tmp_path, text, data + bytes(8), "8 unused bytes")


def test_converter_refuses_unknown_storage_tag(tmp_path, x2_source):
    text, data = x2_source
    # ncnn's int8 quantised storage tag in place of the first conv's fp16 tag.
    assert data[:4] == (0x01306B47).to_bytes(4, "little")
    bad = (0x000D4B38).to_bytes(4, "little") + data[4:]
    expect_failure(tmp_path, text, bad, "unsupported storage tag 0x000D4B38", "Conv_0")


def test_self_check_catches_a_tampered_weight(x2_source):
    """The NumPy reference and the torch module must agree; give the reference
    a single bias value off by 0.01 and the comparison must fail."""
    text, data = x2_source
    layers = convert_ncnn.parse_param(text)
    weights = convert_ncnn.read_weights(layers, data)
    g = convert_ncnn.analyse(layers)
    edge = convert_ncnn.Edge()
    module = convert_ncnn.build_module(layers, weights, g, edge)
    lines = []
    convert_ncnn.self_check(layers, weights, module, g, edge, log=lines.append)
    assert "max |torch - numpy|" in lines[0]
    tampered = {k: {n: a.copy() for n, a in w.items()} for k, w in weights.items()}
    tampered["Conv_34"]["bias"][5] += 0.01
    with pytest.raises(convert_ncnn.ConvertError, match="self-check failed"):
        convert_ncnn.self_check(layers, tampered, module, g, edge, log=lines.append)


@pytest.mark.parametrize("n_in,factor", [(96, 0.5), (80, 0.75), (37, 4.0), (24, 2.0)])
def test_numpy_bicubic_matches_torch(n_in, factor):
    """The converter maps ncnn's bicubic Interp onto F.interpolate(bicubic,
    align_corners=False): check that against the independent NumPy version
    (Keys a=-0.75, half-pixel centres, clamped edges)."""
    x = np.random.default_rng(3).random((2, n_in, n_in + 8))
    p = {"resize_type": 3, "height_scale": factor, "width_scale": factor}
    ref = convert_ncnn.np_interp(x, p)
    got = F.interpolate(torch.from_numpy(x)[None], scale_factor=factor, mode="bicubic",
                        align_corners=False)[0].numpy()
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < 1e-9


# ---------------------------------------------------------------------------
# Test models

def example_input(card):
    if card["layout"] == "NCHW":
        return torch.rand(2, 3, 20, 28)
    return torch.rand(2, card["frames_in"] or 6, 3, 20, 28)


GOOD_TEST_MODELS = ["tiny-x2", "spatial-rf4-x2", "temporal-r2-x2", "window5-center-x2",
                    "throws-after-3", "multiple4-x2"]


@pytest.mark.parametrize("name", GOOD_TEST_MODELS)
def test_test_model_shape_matches_card(name):
    d = need_dir(TEST_MODELS, "test models")
    module, card = modelcard.load(d / f"{name}.pt")
    assert card["name"] == name
    x = example_input(card)
    with torch.no_grad():
        y = module(x)
    assert tuple(y.shape) == modelcard.output_shape(card, tuple(x.shape))


def test_wrong_shape_model_disagrees_with_its_card():
    d = need_dir(TEST_MODELS, "test models")
    module, card = modelcard.load(d / "wrong-shape-x2.pt")
    assert card["scale"] == 2
    with torch.no_grad():
        y = module(torch.rand(1, 3, 20, 28))
    assert tuple(y.shape) == (1, 3, 60, 84)


@pytest.mark.parametrize("name,needle", [("bad-card", "not valid JSON"), ("no-card", "no libvsr.json"),
                                         ("card-bad-scale", '"scale"')])
def test_broken_cards_are_refused(name, needle):
    d = need_dir(TEST_MODELS, "test models")
    with pytest.raises(modelcard.CardError, match=needle):
        modelcard.load(d / f"{name}.pt")
    torch.jit.load(str(d / f"{name}.pt"))  # the module itself is fine


@pytest.mark.parametrize("frozen", [False, True])
def test_throwing_model_fails_on_call_4(frozen):
    d = need_dir(TEST_MODELS, "test models")
    module, _ = modelcard.load(d / "throws-after-3.pt")
    if frozen:
        module = torch.jit.optimize_for_inference(torch.jit.freeze(module.eval()))
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        for _ in range(3):
            module(x)
        with pytest.raises(Exception, match="deliberate failure on call 4"):
            module(x)


def test_multiple4_model_refuses_other_sizes():
    d = need_dir(TEST_MODELS, "test models")
    module, card = modelcard.load(d / "multiple4-x2.pt")
    assert card["size_multiple"] == 4
    with pytest.raises(Exception, match="multiples of 4"):
        with torch.no_grad():
            module(torch.rand(1, 3, 18, 28))


# ---------------------------------------------------------------------------
# Test clips

def manifest():
    d = need_dir(TEST_DATA, "test data")
    with open(d / "manifest.json") as f:
        return json.load(f)


def probe_pts(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                        "frame=pts", "-of", "json", path], capture_output=True, text=True)
    return [f.get("pts") for f in json.loads(r.stdout).get("frames", [])]


def test_manifest_lists_the_expected_files():
    names = {e["name"] for e in manifest()["files"]}
    want = {"real_h264.mp4", "real_bt601.mkv", "full_range.mkv", "yuv444_ffv1.mkv", "rgb_ffv1.mkv",
            "hevc10.mkv", "prores.mov", "vp9.webm", "av1.mkv", "ffv1_10bit.mkv", "vfr.mkv",
            "streams.mkv", "hdr10.mkv", "odd_321x239.mkv", "single_frame.mp4", "long_120.mkv",
            "zero_length.mp4", "text.mp4", "truncated.mkv", "corrupt.mkv", "truncated_moov.mp4",
            "huge_dims.y4m", "missing.mp4"}
    assert want <= names, want - names


def test_good_clips_match_the_manifest():
    for e in manifest()["files"]:
        if e["kind"] != "good":
            continue
        assert os.path.exists(e["path"]), e["name"]
        pts = probe_pts(e["path"])
        assert len(pts) == e["frames"], e["name"]
        assert pts == e["pts"], e["name"]
        if e.get("source_rgb"):
            size = os.path.getsize(e["source_rgb"])
            assert size == e["width"] * e["height"] * 3 * e["frames"], e["name"]


def test_special_clips():
    m = {e["name"]: e for e in manifest()["files"]}
    assert len(set(np.diff(m["vfr.mkv"]["pts"]).tolist())) > 1
    s = m["streams.mkv"]
    assert s["has_audio"] and s["has_subtitles"] and s["n_attachments"] == 1
    assert s["n_chapters"] == 2 and s["title"]
    kinds = {sd["side_data_type"] for sd in m["hdr10.mkv"]["frame_side_data"]}
    assert "Mastering display metadata" in kinds and "Content light level metadata" in kinds
    assert (m["odd_321x239.mkv"]["width"], m["odd_321x239.mkv"]["height"]) == (321, 239)
    assert m["single_frame.mp4"]["frames"] == 1 and m["long_120.mkv"]["frames"] == 120
    assert not os.path.exists(m["missing.mp4"]["path"])
    assert os.path.getsize(m["zero_length.mp4"]["path"]) == 0
    for name in ("truncated.mkv", "corrupt.mkv"):
        assert m[name]["expected"] == "damaged"
        assert 0 < m[name]["ffmpeg_decoded_frames"] <= 24
    assert m["truncated_moov.mp4"]["ffmpeg_decoded_frames"] == 0
