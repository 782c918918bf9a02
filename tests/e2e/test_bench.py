"""vsr-bench end to end: a tiny benchmark matrix produces report.json,
report.csv that agrees with it, real PNG charts and the side-by-side
picture; bad configurations are refused with exit code 2 and a message
naming the field.

vsr-bench is Python over the binding (python/libvsr/bench); VSR_BENCH is
its launcher in the build tree.

Environment (set by meson test): VSR_BENCH, VSR_SOURCE_ROOT, VSR_PYTHON,
VSR_MODELS_DIR (the real realesr-animevideov3-x2.pt), VSR_TEST_MODELS
(tiny-x2.pt; built here with torch when that directory does not have it).
Clips are made here with ffmpeg from scikit-image photographs: 64x48, 6
and 12 frames, plus a 128x96 reference of the first (the frames before
downscaling) for PSNR/SSIM. Missing prerequisites fail; nothing is skipped.
"""
import csv
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import pytest

TIMES = ("frame_extraction_time", "super_resolution_time", "video_recomposition_time")
ALL_METRICS = ("frames", "chunks", "tiles") + TIMES + ("total_time", "fps", "cpu_time", "peak_rss_bytes",
                                                      "peak_vram_bytes", "psnr", "ssim", "consistency_psnr",
                                                      "sharpness")
# The real model on the astronaut clip (measured values in docs/bench.md)
CONSISTENCY_DB = 25.0
SHARPNESS_RATIO = 1.0
CHARTS = ("total_time.png", "stage_breakdown.png", "time_vs_duration.png", "fps.png", "quality.png")


def env_path(name, what):
    v = os.environ.get(name)
    if not v:
        pytest.fail(f"environment variable {name} is not set ({what}); run through `meson test`")
    return v


def python():
    return os.environ.get("VSR_PYTHON") or sys.executable


@pytest.fixture(scope="module")
def bench():
    path = env_path("VSR_BENCH", "path of the built vsr-bench")
    if not os.access(path, os.X_OK):
        pytest.fail(f"VSR_BENCH={path} is not an executable: build the examples first")
    return path


MAKE_CLIPS = r'''
import subprocess, sys
import numpy as np
from skimage import data, transform
out = sys.argv[1]
def clip(img, w, h, n, name, ref):
    H, W = img.shape[:2]
    big = []
    for i in range(n):  # a slow pan across the photograph, at twice the size
        x = int((W - 2 * w) * i / max(1, n - 1))
        y = (H - 2 * h) // 2
        big.append(img[y:y + 2 * h, x:x + 2 * w])
    big = np.stack(big).astype(np.uint8)
    small = np.stack([(transform.resize(f, (h, w), anti_aliasing=True) * 255).round().astype(np.uint8)
                      for f in big])
    jobs = [(small, name, w, h, ["-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p"])]
    if ref:
        jobs.append((big, ref, 2 * w, 2 * h, ["-c:v", "ffv1", "-pix_fmt", "yuv444p"]))
    for arr, path, ww, hh, codec in jobs:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{ww}x{hh}",
                        "-r", "24", "-i", "-"] + codec + [out + "/" + path], input=arr.tobytes(), check=True)
clip(data.astronaut(), 64, 48, 6, "astronaut.mp4", "astronaut_ref.mkv")
clip(data.coffee(), 64, 48, 12, "coffee.mp4", None)
'''

MAKE_TINY = r'''
import sys, torch
sys.path.insert(0, sys.argv[1] + "/tools")
import modelcard
class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(3, 12, 3, padding=1)
    def forward(self, x):
        return torch.nn.functional.pixel_shuffle(self.c(x), 2)
torch.manual_seed(0)
modelcard.save(torch.jit.script(Tiny().eval()), sys.argv[2], modelcard.make_card("tiny-x2", 2, rf_spatial=1))
'''


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Clips, their reference, and the models."""
    d = tmp_path_factory.mktemp("bench-assets")
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg (the command) is needed to make the test clips")
    (d / "make_clips.py").write_text(MAKE_CLIPS)
    p = subprocess.run([python(), str(d / "make_clips.py"), str(d)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.fail(f"making the test clips failed (needs numpy, scikit-image, ffmpeg):\n{p.stderr}")
    tiny = os.path.join(os.environ.get("VSR_TEST_MODELS", ""), "tiny-x2.pt")
    if not os.environ.get("VSR_TEST_MODELS") or not os.path.exists(tiny):
        tiny = str(d / "tiny-x2.pt")
        (d / "make_tiny.py").write_text(MAKE_TINY)
        p = subprocess.run([python(), str(d / "make_tiny.py"), env_path("VSR_SOURCE_ROOT", "source tree"), tiny],
                           capture_output=True, text=True)
        if p.returncode != 0:
            pytest.fail(f"building the tiny test model failed:\n{p.stderr}")
    real = os.path.join(env_path("VSR_MODELS_DIR", "real models"), "realesr-animevideov3-x2.pt")
    if not os.path.exists(real):
        pytest.fail(f"{real} is missing: run scripts/fetch-models (or tools/convert_ncnn.py)")
    return {"dir": d, "tiny": tiny, "real": real}


def run_bench(bench, args, timeout=900, env=None):
    return subprocess.run([bench] + args, capture_output=True, text=True, timeout=timeout, env=env)


def write_config(path, cfg):
    path.write_text(json.dumps(cfg, indent=1) if not isinstance(cfg, str) else cfg)
    return str(path)


# ---------------------------------------------------------------- PNG checks

def png_size(path):
    with open(path, "rb") as f:
        head = f.read(33)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG (signature {head[:8]!r})"
    length, kind = struct.unpack(">I4s", head[8:16])
    assert kind == b"IHDR" and length == 13, f"{path}: first chunk is {kind!r}, not IHDR"
    return struct.unpack(">II", head[16:24])


def check_charts(out, videos=2):
    for name in CHARTS:
        path = out / name
        assert path.exists(), f"{name} was not written"
        w, h = png_size(path)
        assert w >= 300 and h >= 200, f"{name} is only {w}x{h}"
        assert path.stat().st_size > 5000, f"{name} is only {path.stat().st_size} bytes: an empty chart?"
    pictures = sorted(out.glob("side_by_side-*.png"))
    assert len(pictures) == videos, f"one side-by-side picture per video: {pictures}"
    for path in pictures:
        w, h = png_size(path)
        assert w >= 600 and h >= 200, f"{path.name} is only {w}x{h}"


# ------------------------------------------------------------- the main run

@pytest.fixture(scope="module")
def main_run(bench, assets, tmp_path_factory):
    d = assets["dir"]
    out = tmp_path_factory.mktemp("bench-out")
    cfg = {
        "name": "e2e tiny matrix",
        "videos": [
            {"path": "astronaut.mp4", "description": "astronaut pan, 6 frames", "reference": "astronaut_ref.mkv"},
            {"path": "coffee.mp4", "description": "coffee pan, 12 frames"},
        ],
        "models": [{"path": assets["tiny"], "name": "tiny"}],
        "precisions": ["fp32", "bf16"],
        "devices": ["cpu"],
        "encoders": [{"codec": "libx264", "crf": 23, "preset": "veryfast", "pix_fmt": "yuv420p"}],
        "iterations": 2,
        "warmup": 1,
        "output": {"keep_videos": False},
    }
    config = write_config(d / "main.json", cfg)
    p = run_bench(bench, ["--config", config, "--output-dir", str(out)])
    return {"proc": p, "out": out, "cfg": cfg}


def test_main_run_succeeds(main_run):
    p = main_run["proc"]
    assert p.returncode == 0, f"exit {p.returncode}\nstderr:\n{p.stderr}"
    assert "iteration 2/2" in p.stderr, "progress goes to stderr"
    assert p.stdout == "", "nothing on stdout"


def load_report(main_run):
    path = main_run["out"] / "report.json"
    assert path.exists(), "report.json was not written:\n" + main_run["proc"].stderr
    with open(path) as f:
        return json.load(f)


def test_report_system(main_run):
    rep = load_report(main_run)
    assert rep["format"] == "libvsr-bench-report" and rep["version"] == 1
    s = rep["system"]
    assert s["cpu_model"] and s["cpu_model"] != "unknown"
    assert s["logical_cores"] >= 1 and s["online_cores"] >= s["logical_cores"]
    assert s["ram_total_bytes"] > 100 << 20
    assert "libtorch" in s["build_info"] and "libavcodec" in s["build_info"]
    assert s["libvsr_version"].count(".") == 2
    assert s["gpu"] is None or isinstance(s["gpu"], dict)
    assert s["recommendation"]["device"] in ("cpu",) or s["recommendation"]["device"].startswith("cuda")
    assert s["recommendation"]["reasons"], "the recommendation carries its reasons"
    assert [v["frames"] for v in rep["videos"]] == [6, 12]
    assert rep["videos"][0]["duration_s"] == pytest.approx(0.25, abs=0.05)
    assert rep["config"]["iterations"] == 2 and rep["config"]["warmup"] == 1
    assert rep["units"]["total_time"] == "s" and rep["units"]["peak_rss_bytes"] == "bytes"


def test_report_runs(main_run):
    rep = load_report(main_run)
    runs = rep["runs"]
    # the cross product: 2 videos x 1 model x 2 precisions x 1 device x 1 setting x 1 encoder
    assert len(runs) == 4
    assert {(r["video"], r["precision"]) for r in runs} == {
        (v, p) for v in ("astronaut.mp4", "coffee.mp4") for p in ("fp32", "bf16")}
    for r in runs:
        assert r["status"] == "ok", r["error"]
        assert r["model"] == "tiny"
        assert r["used"]["device"] == "cpu"
        assert r["used"]["precision"] == r["precision"], "an explicit precision is used as asked"
        assert r["used"]["scale"] == 2
        frames = 6 if r["video"] == "astronaut.mp4" else 12
        its = r["iterations"]
        assert [i["iteration"] for i in its] == [1, 2], "warm-up is not counted"
        for it in its:
            assert set(ALL_METRICS) <= set(it)
            assert it["frames"] == frames
            assert it["chunks"] == frames, "per-frame model, batch 1: one chunk per frame"
            assert it["tiles"] >= it["chunks"]
            for k in TIMES:
                assert it[k] > 0, f"{k} is {it[k]}"
            stages = sum(it[k] for k in TIMES)
            assert stages <= it["total_time"] + 1e-6, f"stages {stages} > total {it['total_time']}"
            assert it["fps"] == pytest.approx(frames / it["total_time"], rel=1e-4)
            ncpu = len(os.sched_getaffinity(0))
            assert 0 < it["cpu_time"] <= it["total_time"] * (ncpu + 1) + 0.05, "process CPU time"
            assert 10 << 20 < it["peak_rss_bytes"] < 64 << 30
            assert it["peak_vram_bytes"] is None, "no GPU used"
            if r["video"] == "astronaut.mp4":
                assert it["psnr"] is not None and 0 < it["psnr"] <= 100
                assert it["ssim"] is not None and -1 <= it["ssim"] <= 1
            else:
                assert it["psnr"] is None and it["ssim"] is None, "no reference, no quality"
            # measured on the output file: downscaled back vs the input, gradient energy vs bicubic
            assert it["consistency_psnr"] is not None and 10 < it["consistency_psnr"] <= 100
            assert it["sharpness"] is not None and it["sharpness"] > 0
        summ = r["summary"]
        for m in ALL_METRICS:
            vals = [it[m] for it in its if it[m] is not None]
            s = summ[m]
            if not vals:
                assert s == {"min": None, "median": None, "max": None, "mean": None}
                continue
            assert s["min"] == pytest.approx(min(vals), rel=1e-6, abs=1e-9)
            assert s["max"] == pytest.approx(max(vals), rel=1e-6, abs=1e-9)
            assert s["min"] <= s["median"] <= s["max"]
            assert s["mean"] == pytest.approx(sum(vals) / len(vals), rel=1e-6, abs=1e-9)
        assert r["output_file"] is None, "keep_videos false"
        # the crop of the side-by-side picture: the middle frame, a centred third of the 64x48 input, x2
        c = r["crop"]
        assert (c["frame"], c["scale"]) == ((frames - 1) // 2, 2)
        assert (c["x"], c["y"], c["width"], c["height"]) == (21, 16, 22, 16)
        assert png_size(main_run["out"] / c["file"]) == (2 * c["width"], 2 * c["height"])
    assert not any((main_run["out"] / "videos").glob("*")), "output videos are removed"
    for i, v in enumerate(rep["videos"]):
        crops = v["crops"]
        assert png_size(main_run["out"] / crops["input"]) == (22, 16)
        assert png_size(main_run["out"] / crops["bicubic"]["2"]) == (44, 32)


def num(text):
    return None if text == "" else float(text)


def test_csv_agrees_with_json(main_run):
    rep = load_report(main_run)
    with open(main_run["out"] / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by_id = {r["id"]: r for r in rep["runs"]}
    it_rows = [r for r in rows if r["row"] == "iteration"]
    sum_rows = [r for r in rows if r["row"] in ("min", "median", "max", "mean")]
    assert len(it_rows) == sum(len(r["iterations"]) for r in rep["runs"]) == 8
    assert len(sum_rows) == 4 * len(rep["runs"])
    assert {r["row"] for r in rows} == {"iteration", "min", "median", "max", "mean"}
    for row in it_rows:
        run = by_id[row["run_id"]]
        it = run["iterations"][int(row["iteration"]) - 1]
        assert row["video"] == run["video"] and row["precision"] == run["precision"]
        assert row["model"] == run["model"] and row["status"] == "ok"
        assert row["used_precision"] == run["used"]["precision"]
        for m in ALL_METRICS:
            assert num(row[m]) == it[m], f"{row['run_id']} iteration {row['iteration']} {m}: {row[m]} vs {it[m]}"
    for row in sum_rows:
        run = by_id[row["run_id"]]
        assert row["iteration"] == ""
        for m in ALL_METRICS:
            assert num(row[m]) == run["summary"][m][row["row"]], f"{row['run_id']} {row['row']} {m}"


def test_charts(main_run):
    check_charts(main_run["out"])


def test_redraw_from_report(bench, main_run, tmp_path):
    """The charts and pictures can be drawn again from a report alone (python3 -m libvsr.bench too)."""
    p = run_bench(bench, ["--from-report", str(main_run["out"] / "report.json"), "--output-dir", str(tmp_path)])
    assert p.returncode == 0, p.stderr
    check_charts(tmp_path)
    p = subprocess.run([python(), "-m", "libvsr.bench", "--from-report", str(main_run["out"] / "report.json"),
                        "--table"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = [line for line in p.stdout.splitlines() if line.startswith("| astronaut.mp4") or
            line.startswith("| coffee.mp4")]
    assert len(rows) == 4, p.stdout


def test_real_model_once(bench, assets, tmp_path):
    """One cheap run of the real model: it upscales much better than the tiny random one."""
    d = assets["dir"]
    cfg = {
        "videos": [{"path": "astronaut.mp4", "reference": "astronaut_ref.mkv"}],
        "models": [{"path": assets["real"]}],
        "precisions": ["fp32"],
        "iterations": 1,
        "warmup": 0,
        "metrics": ["frames", "total_time", "fps", "psnr", "ssim", "consistency_psnr", "sharpness"] + list(TIMES),
        "output": {"keep_videos": True, "charts": False},
    }
    p = run_bench(bench, ["--config", write_config(d / "real.json", cfg), "--output-dir", str(tmp_path), "-q"])
    assert p.returncode == 0, p.stderr
    assert p.stderr == "", "-q: no progress"
    with open(tmp_path / "report.json") as f:
        rep = json.load(f)
    (run,) = rep["runs"]
    assert run["model"] == "realesr-animevideov3-x2", "the name comes from the model card"
    it = run["iterations"][0]
    assert set(it) == {"iteration", "frames", "total_time", "fps", "psnr", "ssim", "consistency_psnr",
                       "sharpness"} | set(TIMES), "only the metrics asked for"
    assert it["frames"] == 6
    assert it["psnr"] > 22 and it["ssim"] > 0.6, f"real model: PSNR {it['psnr']} dB, SSIM {it['ssim']}"
    # no ground truth needed: the output keeps the input (downscaled back) and is sharper than bicubic
    assert it["consistency_psnr"] > CONSISTENCY_DB, it["consistency_psnr"]
    assert it["sharpness"] > SHARPNESS_RATIO, it["sharpness"]
    assert run["output_file"] and os.path.exists(run["output_file"]), "keep_videos true keeps the output"
    assert not (tmp_path / "total_time.png").exists(), "output.charts false"
    with open(tmp_path / "report.csv", newline="") as f:
        header = next(csv.reader(f))
    assert "peak_rss_bytes" not in header and "psnr" in header


def test_settings_tiles_and_pipelined(bench, assets, tmp_path):
    d = assets["dir"]
    cfg = {
        "videos": ["coffee.mp4"],
        "models": [assets["tiny"]],
        "precisions": ["fp32"],
        "settings": [{"name": "tiled", "tile": 32, "tile_pad": 2},
                     {"name": "pipelined", "pipelined": True, "queue_depth": 2},
                     {"name": "bf16 batch 4", "precision": "bf16", "batch": 4}],
        "iterations": 1,
        "warmup": 0,
        "output": {"charts": False},
    }
    p = run_bench(bench, ["--config", write_config(d / "settings.json", cfg), "--output-dir", str(tmp_path)])
    assert p.returncode == 0, p.stderr
    with open(tmp_path / "report.json") as f:
        runs = {r["setting"]["name"]: r for r in json.load(f)["runs"]}
    assert set(runs) == {"tiled", "pipelined", "bf16 batch 4"}
    tiled = runs["tiled"]
    assert tiled["used"]["tile"] == 32 and tiled["used"]["tile_pad"] == 2
    assert tiled["iterations"][0]["tiles"] == 12 * 4, "64x48 in 32-pixel tiles: 4 per frame"
    assert runs["pipelined"]["setting"]["pipelined"] is True
    assert runs["pipelined"]["iterations"][0]["frames"] == 12
    b4 = runs["bf16 batch 4"]
    assert b4["precision"] == "bf16" and b4["used"]["precision"] == "bf16" and b4["used"]["batch"] == 4
    assert b4["iterations"][0]["chunks"] == 3, "12 frames in batches of 4"


def test_default_run_without_config(bench, assets, tmp_path):
    """No --config: synthetic sample clips are written and benchmarked."""
    p = run_bench(bench, ["--output-dir", str(tmp_path), "--model", assets["tiny"], "--iterations", "1",
                          "--warmup", "0", "--no-charts"])
    assert p.returncode == 0, p.stderr
    with open(tmp_path / "report.json") as f:
        rep = json.load(f)
    assert len(rep["videos"]) == 2 and rep["videos"][0]["width"] == 160
    assert [r["iterations"][0]["frames"] for r in rep["runs"]] == [12, 24]
    assert all(os.path.exists(os.path.join(tmp_path, "samples", os.path.basename(v["path"])))
               for v in rep["videos"])


def test_no_matplotlib_is_reported(bench, assets, tmp_path):
    """Without matplotlib (a stand-in package that fails to import comes first on the path) the
    report and CSV are still written, and the message says why there are no charts."""
    fake = tmp_path / "fake"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib hidden by the test')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(fake) + os.pathsep + env.get("PYTHONPATH", "")
    cfg = {"videos": ["astronaut.mp4"], "models": [assets["tiny"]], "precisions": ["fp32"], "iterations": 1,
           "warmup": 0}
    out = tmp_path / "out"
    p = run_bench(bench, ["--config", write_config(assets["dir"] / "nompl.json", cfg), "--output-dir",
                          str(out)], env=env)
    assert p.returncode == 0, p.stderr
    assert "matplotlib is not available (matplotlib hidden by the test)" in p.stderr
    assert (out / "report.json").exists() and (out / "report.csv").exists()
    assert not (out / "total_time.png").exists()


def test_failed_run_is_reported(bench, assets, tmp_path):
    broken = assets["dir"] / "broken.pt"
    broken.write_bytes(b"not a model\n")
    cfg = {"videos": ["astronaut.mp4"], "models": [{"path": "broken.pt"}, {"path": assets["tiny"]}],
           "precisions": ["fp32"], "iterations": 1, "warmup": 0, "output": {"charts": False}}
    p = run_bench(bench, ["--config", write_config(assets["dir"] / "broken.json", cfg), "--output-dir",
                          str(tmp_path), "-q"])
    assert p.returncode == 1, p.stderr
    assert "broken.pt" in p.stderr
    with open(tmp_path / "report.json") as f:
        runs = json.load(f)["runs"]
    assert [r["status"] for r in runs] == ["error", "ok"], "one failed run does not stop the others"
    assert "broken.pt" in runs[0]["error"]
    with open(tmp_path / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["status"] for r in rows if r["row"] == "iteration"] == ["error", "ok"]


# ---------------------------------------------------------- bad configurations

def good_config(assets):
    return {"videos": [{"path": "astronaut.mp4"}, {"path": "coffee.mp4"}], "models": [{"path": assets["tiny"]}],
            "iterations": 1, "warmup": 0}


BAD = [
    ("missing video", lambda c: c["videos"].__setitem__(1, {"path": "nope.mp4"}),
     "videos[1].path: file 'nope.mp4' does not exist"),
    ("unknown model key", lambda c: c["models"].__setitem__(0, {"pth": "x.pt"}),
     "models[0]: unknown key 'pth'"),
    ("string for integer", lambda c: c.__setitem__("iterations", "3"),
     'iterations: expected an integer, got "3"'),
    ("fraction for integer", lambda c: c.__setitem__("warmup", 1.5), "warmup: expected an integer, got 1.5"),
    ("out of range", lambda c: c.__setitem__("iterations", 0), "iterations: 0 is out of range 1..1000"),
    ("unknown top-level key", lambda c: c.__setitem__("iteration", 2), "unknown key 'iteration' at the top level"),
    ("missing models", lambda c: c.pop("models"), "missing key 'models'"),
    ("empty videos", lambda c: c.__setitem__("videos", []), "videos: must not be empty"),
    ("bad precision", lambda c: c.__setitem__("precisions", ["fp32", "fp8"]), "precisions[1]: 'fp8' is not one of"),
    ("bad device", lambda c: c.__setitem__("devices", ["gpu"]), "devices[0]: 'gpu' is not a device"),
    ("bad setting type", lambda c: c.__setitem__("settings", [{"batch": "4"}]),
     'settings[0].batch: expected an integer or "auto", got "4"'),
    ("setting out of range", lambda c: c.__setitem__("settings", [{"name": "x", "batch": 0}]),
     "settings[0].batch: 0 is out of range 1..256"),
    ("unknown setting key", lambda c: c.__setitem__("settings", [{"tiles": 64}]), "settings[0]: unknown key 'tiles'"),
    ("bad encoder", lambda c: c.__setitem__("encoders", [{"codec": "libx264", "crf": "18"}]),
     'encoders[0].crf: expected an integer, got "18"'),
    ("unknown metric", lambda c: c.__setitem__("metrics", ["fps", "speed"]), "metrics[1]: 'speed' is not one of"),
    ("output type", lambda c: c.__setitem__("output", {"keep_videos": "no"}),
     'output.keep_videos: expected true or false, got "no"'),
    ("video not an object", lambda c: c["videos"].__setitem__(0, 42),
     "videos[0]: expected an object"),
    ("missing reference", lambda c: c["videos"][0].__setitem__("reference", "ref.mkv"),
     "videos[0].reference: file 'ref.mkv' does not exist"),
    ("not a video", lambda c: c["videos"].__setitem__(0, {"path": "bad.json"}),
     "videos[0].path: 'bad.json' is not a readable video"),
    ("both video lists", lambda c: c.__setitem__("test_videos", ["coffee.mp4"]),
     "'videos' and 'test_videos' are the same list"),
    ("seed key names the field", lambda c: c.__setitem__("test_videos", c.pop("videos")[:1] + [{"pth": "x"}]),
     "test_videos[1]: unknown key 'pth'"),
    ("bad output format", lambda c: c.__setitem__("output_formats", ["json", "pdf"]),
     "output_formats[1]: 'pdf' is not one of json, csv, png"),
    ("bad sample", lambda c: c["videos"].__setitem__(1, {"sample": {"width": 8}}),
     "videos[1].sample.width: 8 is out of range 16..7680"),
    ("path and sample", lambda c: c["videos"][1].__setitem__("sample", {}),
     "videos[1]: needs exactly one of 'path'"),
    ("bad picture", lambda c: c.__setitem__("picture", {"frame": -1}), "picture.frame: -1 is out of range"),
    ("missing model with --strict", lambda c: c["models"].append({"path": "absent.pt"}),
     "models[1].path: file 'absent.pt' does not exist"),
]


@pytest.mark.parametrize("name,mutate,message", BAD, ids=[b[0] for b in BAD])
def test_bad_config(bench, assets, tmp_path, name, mutate, message):
    cfg = good_config(assets)
    mutate(cfg)
    config = write_config(assets["dir"] / "bad.json", cfg)
    p = run_bench(bench, ["--config", config, "--output-dir", str(tmp_path / "out"), "--strict"], timeout=120)
    assert p.returncode == 2, f"{name}: exit {p.returncode}, stderr:\n{p.stderr}"
    assert message in p.stderr, f"{name}: expected {message!r} in:\n{p.stderr}"
    assert p.stderr.startswith(config + ": "), "the message starts with the config file's name"
    assert p.stderr.count("\n") == 1, f"one line:\n{p.stderr}"
    assert not (tmp_path / "out" / "report.json").exists()


def test_bad_json_syntax(bench, assets, tmp_path):
    config = write_config(assets["dir"] / "syntax.json", '{"videos": [\n  {"path": "a.mp4",}\n]}')
    p = run_bench(bench, ["--config", config, "--output-dir", str(tmp_path)])
    assert p.returncode == 2
    assert "line 2" in p.stderr, p.stderr
    # a key given twice is refused, not silently the last one
    config = write_config(assets["dir"] / "dup.json", '{"videos": ["coffee.mp4"], "models": ["x.pt"],\n'
                                                     ' "iterations": 1, "iterations": 5}')
    p = run_bench(bench, ["--config", config, "--output-dir", str(tmp_path)])
    assert p.returncode == 2 and "duplicate key 'iterations'" in p.stderr, p.stderr


def test_bad_command_line(bench, tmp_path):
    p = run_bench(bench, ["--config", str(tmp_path / "missing.json"), "--output-dir", str(tmp_path)])
    assert p.returncode == 2 and "missing.json" in p.stderr
    p = run_bench(bench, ["--frobnicate"])
    assert p.returncode == 2 and "--frobnicate" in p.stderr
    p = run_bench(bench, ["--config", "x.json"])
    assert p.returncode == 2 and "--output-dir" in p.stderr
    p = run_bench(bench, ["--help"])
    assert p.returncode == 0 and "--config FILE" in p.stdout and "--from-report" in p.stdout


def test_check_only(bench, assets):
    cfg = good_config(assets)
    cfg["precisions"] = ["fp32", "bf16"]
    p = run_bench(bench, ["--config", write_config(assets["dir"] / "check.json", cfg), "--check"])
    assert p.returncode == 0, p.stderr
    assert "valid; 4 run(s)" in p.stdout


# ------------------------------------------------- seed format and model zoo

def test_seed_format_and_output_formats(bench, assets, tmp_path):
    """The seed's key names: test_videos for videos, output_formats choosing the files."""
    cfg = {"test_videos": ["astronaut.mp4"], "models": [assets["tiny"]], "precisions": ["fp32"],
           "iterations": 1, "warmup": 0, "metrics": ["frames", "fps"], "output_formats": ["csv"]}
    p = run_bench(bench, ["--config", write_config(assets["dir"] / "seed.json", cfg), "--output-dir",
                          str(tmp_path), "-q"])
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in tmp_path.iterdir()) == ["report.csv"], "only the CSV was asked for"
    with open(tmp_path / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["frames"] for r in rows if r["row"] == "iteration"] == ["6"]


def test_models_side_by_side(bench, assets, tmp_path):
    """The zoo comparison: several models on one clip vsr-bench writes itself, a model that is
    not there skipped (and said so), fps/quality charts and one picture with every model."""
    smooth = os.path.join(os.path.dirname(assets["tiny"]), "tiny-smooth-x2.pt")
    if not os.path.exists(smooth):
        pytest.fail(f"{smooth} is missing: build the test models (ninja -C BUILD tests/models.stamp)")
    cfg = {"name": "zoo e2e",
           "test_videos": [{"sample": {"content": "photos", "width": 96, "height": 64, "frames": 5}}],
           "models": [{"path": assets["tiny"], "name": "tiny"}, {"path": "not-converted-yet.pt"},
                      {"path": smooth, "name": "smooth"}],
           "precisions": ["fp32"], "iterations": 1, "warmup": 0,
           "picture": {"frame": 2, "x": 10, "y": 8, "width": 40, "height": 24}}
    config = write_config(assets["dir"] / "zoo.json", cfg)
    p = run_bench(bench, ["--config", config, "--output-dir", str(tmp_path)])
    assert p.returncode == 0, p.stderr
    assert (f"{config}: models[1].path: file 'not-converted-yet.pt' does not exist (looked for "
            in p.stderr), p.stderr
    assert "skipped (--strict makes this an error)" in p.stderr
    with open(tmp_path / "report.json") as f:
        rep = json.load(f)
    assert [s["index"] for s in rep["skipped_models"]] == [1]
    assert "not-converted-yet.pt" in rep["skipped_models"][0]["reason"]
    assert [r["model"] for r in rep["runs"]] == ["tiny", "smooth"]
    (video,) = rep["videos"]
    assert (video["width"], video["height"], video["frames"]) == (96, 64, 5)
    assert os.path.exists(tmp_path / "samples" / os.path.basename(video["path"]))
    for r in rep["runs"]:
        assert r["status"] == "ok", r["error"]
        assert (r["crop"]["frame"], r["crop"]["x"], r["crop"]["y"]) == (2, 10, 8)
        assert png_size(tmp_path / r["crop"]["file"]) == (80, 48)
    # different models, different pictures
    a, b = (open(tmp_path / r["crop"]["file"], "rb").read() for r in rep["runs"])
    assert a != b
    check_charts(tmp_path, videos=1)
    (pic,) = tmp_path.glob("side_by_side-*.png")
    w, h = png_size(pic)
    assert w >= 4 * 200, f"four panels (input, bicubic, two models) side by side: {w}x{h}"
    # --strict: the missing model is a configuration error
    p = run_bench(bench, ["--config", config, "--output-dir", str(tmp_path / "strict"), "--strict"])
    assert p.returncode == 2 and "models[1].path: file 'not-converted-yet.pt' does not exist" in p.stderr


@pytest.mark.parametrize("name", ["default.json", "zoo.json"])
def test_shipped_configs_are_valid(bench, name):
    """bench/configs: valid, and every model the configuration names is one of models/ (present or
    skipped with a line saying so)."""
    src = env_path("VSR_SOURCE_ROOT", "source tree")
    path = os.path.join(src, "bench", "configs", name)
    p = run_bench(bench, ["--config", path, "--check"])
    assert p.returncode == 0, p.stderr
    with open(path) as f:
        cfg = json.load(f)
    names = [os.path.basename(m["path"]) for m in cfg["models"]]
    present = [n for n in names if os.path.exists(os.path.join(src, "models", n))]
    assert "realesr-animevideov3-x2.pt" in present
    assert f"valid; {len(present) * len(cfg['test_videos'])} run(s)" in p.stdout, p.stdout
    for n in names:
        assert (n in present) == (f"file '../../models/{n}' does not exist" not in p.stderr), n
