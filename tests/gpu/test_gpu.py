"""GPU test suite (meson test --suite gpu, registered with -Dgpu_tests=true;
scripts/gpu-check runs it). Not part of CI, which has no GPU.

Each test drives vsr-cli on CUDA (VSR_GPU_DEVICE, default cuda:0) and
checks its output frames against a reference run. Clips are made, and
outputs decoded, with libvsr itself (tests/gpu/binding.py): a GPU node has
no ffmpeg programs.
Without a CUDA device every CUDA test is skipped with the reason libvsr
gives ("no CUDA device ..."); two tests need no GPU and run everywhere, so
a CPU dry run (scripts/gpu-check --cpu, in the normal test suite) still
exercises this file: the comparison helpers on CPU output, and the error
for a CUDA device index that does not exist.

Runs that must give equal frames are done in one process, through the
binding (in_process below): libvsr keeps cuDNN's benchmark mode on, which
times convolution algorithms per process, so two processes may compute
the same layer with different algorithms and round differently. In one
process each shape gets one algorithm, and only what is under test
differs. "Equal" then allows one step of the 16-bit output (FFV1
gbrp16le) for a rounding flip; each comparison message says how far apart
the runs were. Runs compared by PSNR use vsr-cli.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import binding  # noqa: E402
import clips  # noqa: E402
DEVICE = os.environ.get("VSR_GPU_DEVICE", "cuda:0")
RUN_TIMEOUT = 900


def env(name, what):
    v = os.environ.get(name)
    if not v or not os.path.exists(v):
        pytest.fail(f"{name}={v!r} ({what}) is not set or does not exist: run through meson test or scripts/gpu-check")
    return v


def run(cmd, timeout=RUN_TIMEOUT, **kw):
    return subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **kw)


def cli_run(cli, args, expect_ok=True):
    p = run([cli, *args])
    if p.returncode < 0:
        pytest.fail(f"vsr-cli died of signal {-p.returncode}: {' '.join(map(str, args))}\n{p.stderr[-3000:]}")
    if expect_ok and p.returncode != 0:
        pytest.fail(f"vsr-cli exited {p.returncode}: {' '.join(map(str, args))}\n{p.stderr[-3000:]}")
    return p


def upscale(cli, inp, out, model, *extra, precision="fp32", device=DEVICE, stats=None):
    args = ["-i", inp, "-o", out, "-m", model, "--device", device, "--precision", precision,
            "--codec", "ffv1", "--pix-fmt", "gbrp16le", "-q", *extra]
    if stats:
        args += ["--stats-json", stats]
    return cli_run(cli, args)


def frames16(path):
    """Every frame of the first video stream as uint16 RGB [n, h, w, 3]."""
    return binding.decode16(path)[0]


def pts(path):
    """Every frame's timestamp, as an exact fraction of a second."""
    return binding.decode16(path)[1]


def in_process(specs, tmp_path):
    """binding.runs(specs) in a child process (a fresh libvsr and libtorch):
    each spec {"session": {...}, "input": ..., "output": ..., "run": {...}}."""
    spec_file = tmp_path / "runs.json"
    spec_file.write_text(json.dumps(specs, default=str))
    p = run([os.environ.get("VSR_PYTHON", sys.executable), os.path.join(HERE, "binding.py"), "runs", spec_file])
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    errors = [r["error"] for r in res if "error" in r]
    assert not errors, errors
    return res


def spec(model, inp, out, precision="fp32", run=None, device=DEVICE, **session):
    return {"session": {"model_path": model, "device": device, "precision": precision, **session},
            "input": str(inp), "output": str(out), "run": run or {}}


def psnr16(a, b):
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10 * np.log10(65535.0 ** 2 / mse)


def compare(a_path, b_path, max_diff=1, what="runs"):
    """Fail unless both files hold the same number of frames, each within
    max_diff steps of 16 bits of the other. Returns (max_diff, psnr)."""
    a, b = frames16(a_path), frames16(b_path)
    assert a.shape == b.shape, f"{what}: {a.shape} frames vs {b.shape}"
    diff = int(np.max(np.abs(a.astype(np.int32) - b.astype(np.int32)))) if a.size else 0
    p = psnr16(a, b)
    assert diff <= max_diff, (f"{what}: frames differ by up to {diff} steps of 65535 (PSNR {p:.1f} dB); "
                              f"allowed {max_diff}")
    return diff, p


# ---------------------------------------------------------------------------
# Fixtures

@pytest.fixture(scope="session")
def cli():
    return env("VSR_CLI", "the vsr-cli program")


@pytest.fixture(scope="session")
def test_models():
    return env("VSR_TEST_MODELS", "test models (tools/make_test_models.py)")


@pytest.fixture(scope="session")
def real_model():
    m = os.path.join(env("VSR_MODELS_DIR", "the realesr-animevideov3 models"), "realesr-animevideov3-x2.pt")
    if not os.path.exists(m):
        pytest.fail(f"{m} is missing (scripts/fetch-models)")
    return m


@pytest.fixture(scope="session")
def tiny(test_models):
    return os.path.join(test_models, "tiny-x2.pt")


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("clips")


def make_clip(clip_dir, name, w, h, n, **kw):
    """A clip of real photographs (bench/clips.py's pan over scikit-image's
    pictures, scene cuts included), encoded by libvsr; made once."""
    path = clip_dir / name
    if not path.exists():
        assert binding.write_clip(path, clips.frames_rgb(w, h, n), 24, **kw) == n
    return str(path)


@pytest.fixture(scope="session")
def small_clip(clip_dir):
    return make_clip(clip_dir, "small_h264.mp4", 256, 144, 24)


@pytest.fixture(scope="session")
def real_clip(clip_dir):
    return make_clip(clip_dir, "real_640x360.mp4", 640, 360, 24)


@pytest.fixture(scope="session")
def cuda(cli, small_clip, tiny, tmp_path_factory):
    """Skip (with libvsr's reason) where there is no CUDA device; fail where
    there is one but a one-frame run on it fails."""
    out = tmp_path_factory.mktemp("probe") / "probe.mkv"
    p = run([cli, "-i", small_clip, "-o", out, "-m", tiny, "--device", DEVICE,
             "--precision", "fp32", "--max-frames", "1", "-q"])
    if p.returncode != 0:
        reason = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
        if "no CUDA device" in p.stderr:
            pytest.skip(f"no CUDA device: {reason}")
        pytest.fail(f"a one-frame run on {DEVICE} failed: {reason}")
    return DEVICE


# ---------------------------------------------------------------------------
# Run everywhere (so the dry run exercises this file)

def test_compare_helpers_on_cpu(cli, small_clip, tiny, tmp_path):
    """Two identical CPU runs compare equal; a run of another model does not."""
    clip = small_clip
    a, b, c = tmp_path / "a.mkv", tmp_path / "b.mkv", tmp_path / "c.mkv"
    upscale(cli, clip, a, tiny, "--max-frames", "6", device="cpu")
    upscale(cli, clip, b, tiny, "--max-frames", "6", device="cpu")
    diff, _ = compare(a, b, what="two CPU runs")
    assert diff == 0
    assert pts(a) == pts(b) and len(pts(a)) == 6
    smooth = os.path.join(os.path.dirname(tiny), "tiny-smooth-x2.pt")
    upscale(cli, clip, c, smooth, "--max-frames", "6", device="cpu")
    with pytest.raises(AssertionError, match="frames differ"):
        compare(a, c)


def test_binding_helpers_on_cpu(cli, small_clip, tiny, tmp_path):
    """The in-process runs and the two-thread run (tests/gpu/binding.py)
    on the CPU: they must agree with vsr-cli, and with each other."""
    ref, one, serial, par = (tmp_path / f"{n}.mkv" for n in ("ref", "one", "serial", "par"))
    upscale(cli, small_clip, ref, tiny, device="cpu")
    res = in_process([spec(tiny, small_clip, one, device="cpu", run={"pipelined": False}, batch=2)], tmp_path)
    assert res == [{"frames": 24}]
    assert compare(one, ref, what="binding vs vsr-cli")[0] == 0
    p = run([os.environ.get("VSR_PYTHON", sys.executable), os.path.join(HERE, "binding.py"), "threads",
             tiny, "cpu", "fp32", small_clip, serial, par])
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads(p.stdout.strip().splitlines()[-1]) == {"frames": [24], "errors": [None]}
    assert compare(par, ref, what="threaded run vs vsr-cli")[0] == 0
    assert compare(serial, ref, what="serial run vs vsr-cli")[0] == 0


def test_wrong_device_index_is_clear_error(cli, small_clip, tiny, tmp_path):
    """--device cuda:N past the last device: a clear error naming the
    device, no output file, no crash (on a CPU machine the reason is that
    there is no CUDA device at all)."""
    out = tmp_path / "never.mkv"
    p = cli_run(cli, ["-i", small_clip, "-o", out, "-m", tiny, "--device", "cuda:57",
                      "--precision", "fp32", "-q"], expect_ok=False)
    assert p.returncode != 0
    assert "cuda:57" in p.stderr and "not available" in p.stderr, p.stderr[-2000:]
    assert ("CUDA device(s) present" in p.stderr) or ("no CUDA device" in p.stderr), p.stderr[-2000:]
    assert not out.exists() or out.stat().st_size == 0


# ---------------------------------------------------------------------------
# CUDA

def test_fp16_vs_fp32_psnr(cli, cuda, real_model, real_clip, tmp_path):
    """FP16 output against FP32 output of the real model on real content: >= 45 dB."""
    f32, f16, stats = tmp_path / "fp32.mkv", tmp_path / "fp16.mkv", tmp_path / "fp16.json"
    upscale(cli, real_clip, f32, real_model, precision="fp32")
    upscale(cli, real_clip, f16, real_model, "--reference", f32, precision="fp16", stats=stats)
    a, b = frames16(f32), frames16(f16)
    assert a.shape == b.shape and a.shape[0] == 24
    worst = min(psnr16(a[i], b[i]) for i in range(a.shape[0]))
    assert worst >= 45.0, f"fp16 vs fp32: worst frame {worst:.2f} dB (< 45)"
    q = json.load(open(stats))["quality"]
    assert q["frames"] == 24 and q["psnr_min"] >= 45.0, q


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_pipelined_copies_equal_serial(cuda, real_model, real_clip, tmp_path, precision):
    """Batches of 4 go through the copy stream + compute stream + events
    pipeline (upload of item i+1 and download of i-1 overlap compute of i);
    batch 1 without the stage pipeline is the plain one-at-a-time path."""
    piped, serial = tmp_path / "piped.mkv", tmp_path / "serial.mkv"
    in_process([spec(real_model, real_clip, piped, precision, batch=4),
                spec(real_model, real_clip, serial, precision, {"pipelined": False}, batch=1)], tmp_path)
    compare(piped, serial, what=f"pipelined vs serial ({precision})")
    assert pts(piped) == pts(serial) and len(pts(piped)) == 24


def test_cuda_graphs_equal_eager(cuda, real_model, real_clip, tmp_path):
    graph, eager = tmp_path / "graph.mkv", tmp_path / "eager.mkv"
    in_process([spec(real_model, real_clip, eager, "fp16", batch=2),
                spec(real_model, real_clip, graph, "fp16", batch=2, cuda_graph=True)], tmp_path)
    compare(graph, eager, what="CUDA graphs vs eager")
    assert pts(graph) == pts(eager) and len(pts(graph)) == 24


@pytest.mark.parametrize("codec", ["h264", "hevc10"])
def test_hwdec_cuda_same_frames_and_pts(cuda, clip_dir, tiny, tmp_path, codec):
    """NVDEC decoding gives the frames and timestamps software decoding gives."""
    if codec == "h264":
        clip = make_clip(clip_dir, "hw_h264.mp4", 640, 360, 24)
    else:
        clip = make_clip(clip_dir, "hw_hevc10.mkv", 640, 360, 24, codec="libx265", pix_fmt="yuv420p10le")
    hw, sw = tmp_path / "hw.mkv", tmp_path / "sw.mkv"
    in_process([spec(tiny, clip, sw, run={"hwdec": "none"}), spec(tiny, clip, hw, run={"hwdec": "cuda"})], tmp_path)
    compare(hw, sw, what=f"--hwdec cuda vs software ({codec})")
    assert pts(hw) == pts(sw)
    assert len(pts(hw)) == 24


def test_mem_limit_tiles_lose_nothing(cli, cuda, real_model, real_clip, tmp_path):
    """A memory limit far too small for whole frames: libvsr shrinks the
    tiles until a pass fits; every frame comes out, at its timestamp, and
    (the tile padding covering the model's receptive field) the picture
    matches whole-frame inference up to float rounding."""
    whole, tiled, stats = tmp_path / "whole.mkv", tmp_path / "tiled.mkv", tmp_path / "tiled.json"
    upscale(cli, real_clip, whole, real_model)
    upscale(cli, real_clip, tiled, real_model, "--mem-limit", "48M", stats=stats)
    a, b = frames16(whole), frames16(tiled)
    assert a.shape == b.shape
    assert pts(whole) == pts(tiled)
    assert psnr16(a, b) >= 60.0, f"tiled run: PSNR {psnr16(a, b):.1f} dB against whole frames"
    passes = [r for r in json.load(open(stats))["history"] if r.get("type") == "inference"]
    assert len(passes) > a.shape[0], f"the small limit did not make libvsr tile ({len(passes)} passes)"


HOG = r"""
import sys, torch
dev = torch.device(sys.argv[1]); keep = int(sys.argv[2])
free, total = torch.cuda.mem_get_info(dev)
hog = torch.empty(max(free - keep, 0), dtype=torch.uint8, device=dev)
print(free - keep, flush=True)
sys.stdin.read()
"""


def test_oom_recovery_same_frames(cli, cuda, real_model, real_clip, tmp_path):
    """Real CUDA out-of-memory: another process takes all but ~1.5 GB of the
    device, and vsr-cli is told it may use far more. The whole-frame pass
    fails with OOM; libvsr retries the same frames with smaller tiles and
    loses none of them."""
    python = os.environ.get("VSR_PYTHON", sys.executable)
    ref, out, stats = tmp_path / "ref.mkv", tmp_path / "oom.mkv", tmp_path / "oom.json"
    big = make_clip(tmp_path, "big.mp4", 1920, 1080, 4)
    upscale(cli, big, ref, real_model, "--max-frames", "4")
    hog = subprocess.Popen([python, "-c", HOG, DEVICE, str(1536 << 20)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = hog.stdout.readline()
        if not line.strip():
            pytest.fail(f"the memory hog did not start: {hog.stderr.read()[-2000:]}")
        p = cli_run(cli, ["-i", big, "-o", out, "-m", real_model, "--device", DEVICE, "--precision", "fp32",
                          "--codec", "ffv1", "--pix-fmt", "gbrp16le", "--mem-limit", "64G", "--tile", "0",
                          "--max-frames", "4", "--stats-json", stats, "-v"])
    finally:
        hog.stdin.close()
        hog.wait(timeout=120)
    # With a 64G limit the planner keeps whole 1080p frames (~4 GB), so a
    # smaller tile can only come from the out-of-memory retry.
    assert "not enough memory" in p.stderr, (
        "the run never ran out of memory, so recovery was not exercised:\n" + p.stderr[-2000:])
    a, b = frames16(ref), frames16(out)
    assert a.shape == b.shape and a.shape[0] == 4
    assert pts(ref) == pts(out)
    assert psnr16(a, b) >= 60.0, f"after OOM recovery: PSNR {psnr16(a, b):.1f} dB against the reference"


def test_two_sessions_two_threads_equal_serial(cuda, real_model, clip_dir, real_clip, tmp_path):
    """Two sessions on one GPU in two threads of one process give what the
    same two runs give one after the other (in that process, first)."""
    inputs = [real_clip, make_clip(clip_dir, "long_320x180.mp4", 320, 180, 96)]
    serial = [tmp_path / f"serial{i}.mkv" for i in range(2)]
    par = [tmp_path / f"par{i}.mkv" for i in range(2)]
    args = [os.environ.get("VSR_PYTHON", sys.executable), os.path.join(HERE, "binding.py"), "threads",
            real_model, DEVICE, "fp16"]
    for i in range(2):
        args += [inputs[i], serial[i], par[i]]
    p = run(args)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["errors"] == [None, None], res
    for i in range(2):
        compare(par[i], serial[i], what=f"thread {i} vs serial")
        assert pts(par[i]) == pts(serial[i])


def test_tracker_peak_matches_allocator(cuda, real_model, real_clip, tmp_path):
    """The tracker's peak device memory is the CUDA caching allocator's
    own peak (torch.cuda.max_memory_allocated in the same process)."""
    p = run([os.environ.get("VSR_PYTHON", sys.executable), os.path.join(HERE, "binding.py"), "peak",
             real_model, DEVICE, "fp16", real_clip, tmp_path / "peak.mkv"])
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["torch_peak"] > 0, r
    assert r["tracker_peak"] > 0, f"the tracker reports no device peak: {r}"
    assert abs(r["tracker_peak"] - r["torch_peak"]) <= max(1 << 20, r["torch_peak"] // 100), r
