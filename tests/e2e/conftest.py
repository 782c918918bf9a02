"""Shared helpers for the end-to-end tests that drive the built programs.

These tests run vsr-cli (and vsr-bench) as subprocesses and check their
output with ffprobe/ffmpeg and numpy/torch. They must not import the ctypes
binding (python/libvsr): the same tests run against an AddressSanitizer
build of vsr-cli.

Everything comes from the environment `meson test` sets (VSR_CLI,
VSR_TEST_DATA, VSR_TEST_MODELS, VSR_MODELS_DIR, ...). A missing variable or
file fails the test with a message saying what is missing; nothing is
skipped.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess

import numpy as np
import pytest

# Throw-away Slurm and Dask clusters for the scale-out tests (fixtures).
from cluster import dask_cluster, dask_gpu_cluster, slurm_cluster  # noqa: F401

# Generous: the machine is slow and shared with other test runs. No test
# asserts on timing; this only keeps a hung program from hanging the suite.
RUN_TIMEOUT = 900

# Seen on stderr when a program crashed or a sanitizer fired.
CRASH_MARKERS = (
    "Traceback (most recent call last)",
    "terminate called",
    "Segmentation fault",
    "core dumped",
    "Aborted",
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "Exception raised from",   # a libtorch C++ stack trace leaking out
    "frame #0:",
)


# ---------------------------------------------------------------------------
# Environment

def env_path(name, what, must_exist=True):
    v = os.environ.get(name)
    if not v:
        pytest.fail(f"environment variable {name} is not set ({what}); run the tests through "
                    f"`meson test` or set it by hand")
    if must_exist and not os.path.exists(v):
        pytest.fail(f"{name}={v} ({what}) does not exist: build it first "
                    f"(ninja -C BUILD, which also makes the test data and test models)")
    return v


def api_major():
    """The library's major version (its SONAME is libvsr.so.<major>), from version.h."""
    src = env_path("VSR_SOURCE_ROOT", "the source tree")
    text = open(os.path.join(src, "include", "libvsr", "version.h")).read()
    return int(re.search(r"#define VSR_API_VERSION_MAJOR (\d+)", text).group(1))


def need_file(path, what):
    if not os.path.exists(path):
        pytest.fail(f"{what} '{path}' does not exist")
    return path


def need_program(name):
    p = shutil.which(name)
    if not p:
        pytest.fail(f"'{name}' is not on PATH: the e2e tests need it (apt-get install ffmpeg)")
    return p


@pytest.fixture(scope="session")
def cli():
    path = env_path("VSR_CLI", "the vsr-cli program")
    if not os.access(path, os.X_OK):
        pytest.fail(f"VSR_CLI={path} is not executable")
    need_program("ffmpeg")
    need_program("ffprobe")
    return path


@pytest.fixture(scope="session")
def data_dir():
    d = env_path("VSR_TEST_DATA", "test clips made by tools/make_test_data.py")
    need_file(os.path.join(d, "manifest.json"), "test data manifest")
    return d


@pytest.fixture(scope="session")
def manifest(data_dir):
    with open(os.path.join(data_dir, "manifest.json")) as f:
        m = json.load(f)
    files = {e["name"]: e for e in m["files"]}
    if not files:
        pytest.fail("the test data manifest lists no files")
    return files


@pytest.fixture(scope="session")
def test_models():
    return env_path("VSR_TEST_MODELS", "test models made by tools/make_test_models.py")


@pytest.fixture(scope="session")
def models_dir():
    return env_path("VSR_MODELS_DIR", "directory of the realesr-animevideov3 models")


def tmodel(test_models, name):
    return need_file(os.path.join(test_models, name), "test model")


def real_model(models_dir, scale=2):
    return need_file(os.path.join(models_dir, f"realesr-animevideov3-x{scale}.pt"),
                     f"real x{scale} model (scripts/fetch-models)")


def clip(data_dir, name):
    return need_file(os.path.join(data_dir, name), "test clip")


# ---------------------------------------------------------------------------
# Running programs

def check_no_crash(proc, what="vsr-cli"):
    """A negative return code means the process died of a signal."""
    rc = proc.returncode
    err = proc.stderr if isinstance(proc.stderr, str) else ""
    if rc is not None and rc < 0:
        pytest.fail(f"{what} was killed by signal {-rc} ({signal.Signals(-rc).name});\n"
                    f"stderr:\n{err[-4000:]}")
    for m in CRASH_MARKERS:
        if m in err:
            pytest.fail(f"{what}: stderr shows a crash or sanitizer report ({m!r}):\n{err[-4000:]}")


def run(cmd, timeout=RUN_TIMEOUT, **kw):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(map(str, cmd))} did not finish in {timeout} s "
                    f"(stderr: {(e.stderr or b'')[-2000:]!r})")


def run_cli(cli, args, expect=0, timeout=RUN_TIMEOUT, **kw):
    """Run vsr-cli with args; fail unless it exits with `expect` (an int,
    a collection of ints, or None for any non-signal code).

    Without a --precision in args the run is fp32: "auto" times fp32 against
    bf16 at load, and on a CPU with bf16 instructions two runs of a model
    where both are close may choose differently, so tests that compare runs
    would compare different computations. Tests of auto say so."""
    args = [str(a) for a in args]
    if "--precision" not in args and "--help" not in args and "--version" not in args:
        args += ["--precision", "fp32"]
    cmd = [cli] + args
    p = run(cmd, timeout=timeout, **kw)
    check_no_crash(p)
    ok = (expect is None or (p.returncode in expect if isinstance(expect, (tuple, list, set))
                             else p.returncode == expect))
    if not ok:
        pytest.fail(f"vsr-cli exited {p.returncode}, expected {expect}\ncommand: {' '.join(cmd)}\n"
                    f"stderr:\n{p.stderr[-4000:]}")
    return p


def upscale(cli, inp, out, model, *extra, expect=0, lossless=True, timeout=RUN_TIMEOUT):
    """vsr-cli -i inp -o out -m model [ffv1 gbrp16le] extra..."""
    args = ["-i", inp, "-o", out, "-m", model]
    if lossless:
        args += ["--codec", "ffv1", "--pix-fmt", "gbrp16le"]
    args += list(extra)
    return run_cli(cli, args, expect=expect, timeout=timeout)


# ---------------------------------------------------------------------------
# Probing

def ffprobe_json(path, *args):
    p = run(["ffprobe", "-v", "error", "-of", "json", *args, path])
    if p.returncode != 0:
        pytest.fail(f"ffprobe {path} failed ({p.returncode}): {p.stderr[-2000:]}")
    return json.loads(p.stdout or "{}")


def streams(path):
    return ffprobe_json(path, "-show_streams", "-show_format")


def video_stream(path):
    info = streams(path)
    vs = [s for s in info.get("streams", []) if s.get("codec_type") == "video"
          and not s.get("disposition", {}).get("attached_pic")]
    if not vs:
        pytest.fail(f"{path} has no video stream")
    return vs[0]


def frame_times(path):
    """pts (seconds) of every decoded frame of the first video stream, as
    FFmpeg decodes it."""
    j = ffprobe_json(path, "-select_streams", "v:0", "-show_entries",
                     "frame=pts_time,best_effort_timestamp_time")
    out = []
    for f in j.get("frames", []):
        t = f.get("pts_time", f.get("best_effort_timestamp_time"))
        if t in (None, "N/A"):
            t = f.get("best_effort_timestamp_time")
        out.append(float(t))
    return out


def packet_times(path, sel):
    j = ffprobe_json(path, "-select_streams", sel, "-show_entries", "packet=pts_time,duration_time")
    return [(float(p["pts_time"]), float(p.get("duration_time") or 0))
            for p in j.get("packets", []) if p.get("pts_time") not in (None, "N/A")]


def start_shift(path):
    """How far a remux into Matroska moves every timestamp: muxers do not
    write negative timestamps, so a stream that starts before 0 (AAC
    priming samples in MP4) shifts the whole file by that much, as
    `ffmpeg -c copy` does too. 0 for files that start at or after 0."""
    j = ffprobe_json(path, "-show_entries", "packet=pts_time,stream_index")
    ts = [float(p["pts_time"]) for p in j.get("packets", []) if p.get("pts_time") not in (None, "N/A")]
    return max(0.0, -min(ts)) if ts else 0.0


def assert_same_times(out_t, in_t, shift=0.0, tol=0.0011, what=""):
    """Frame for frame, out = in + shift within tol seconds (Matroska stores
    milliseconds)."""
    assert len(out_t) == len(in_t), f"{what}: {len(out_t)} output frames, input has {len(in_t)}"
    d = np.abs(np.asarray(out_t) - (np.asarray(in_t) + shift))
    if len(d) and d.max() > tol:
        i = int(d.argmax())
        pytest.fail(f"{what}: frame {i} has pts {out_t[i]:.6f} s, input {in_t[i]:.6f} s (+ shift "
                    f"{shift:.6f}); max difference {d.max():.6f} s > {tol}\nout: {out_t[:8]}...\n"
                    f"in: {in_t[:8]}...")


def assert_no_output(out):
    left = [p for p in (out, out + ".partial") if os.path.exists(p)]
    d = os.path.dirname(out) or "."
    if os.path.isdir(d):
        base = os.path.basename(out)
        left += [os.path.join(d, n) for n in os.listdir(d) if n.startswith(base) and
                 os.path.join(d, n) not in left and not n.endswith(".vsr-resume")]
    assert not left, f"output left behind after a failure: {left}"


# ---------------------------------------------------------------------------
# Pixels

def decode_rgb(path, bits=16, max_frames=None):
    """Decode the first video stream to float RGB in [0, 1], shape (N, 3, H, W),
    planes in R, G, B order. 16 bits: exact for our gbrp16le outputs."""
    v = video_stream(path)
    w, h = int(v["width"]), int(v["height"])
    fmt, dt, scale = ("gbrp16le", "<u2", 65535.0) if bits == 16 else ("gbrp", "u1", 255.0)
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0"]
    if max_frames:
        cmd += ["-frames:v", str(max_frames)]
    # passthrough: one raw frame per decoded frame (the default would
    # duplicate or drop frames to make the rate constant)
    cmd += ["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", fmt, "-"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    if p.returncode != 0:
        pytest.fail(f"ffmpeg could not decode {path}: {p.stderr.decode(errors='replace')[-2000:]}")
    a = np.frombuffer(p.stdout, dtype=dt)
    per = 3 * w * h
    if a.size % per:
        pytest.fail(f"{path}: decoded {a.size} samples, not a multiple of 3x{w}x{h}")
    a = a.reshape(-1, 3, h, w).astype(np.float64) / scale
    return a[:, [2, 0, 1]]  # planes G, B, R -> R, G, B


def source_frames(manifest, name, n=None, crop=None):
    """The real-photograph source frames a manifest clip was made from:
    uint8 (N, H, W, 3) RGB. crop = (x, y, w, h)."""
    e = manifest.get(name)
    if not e or not e.get("source_rgb"):
        pytest.fail(f"the manifest has no source frames for {name}")
    path = need_file(e["source_rgb"], "source frames")
    w, h = e["width"], e["height"]
    a = np.fromfile(path, dtype=np.uint8)
    a = a.reshape(-1, h, w, 3)
    if n is not None:
        if len(a) < n:
            pytest.fail(f"{path} has {len(a)} frames, need {n}")
        a = a[:n]
    if crop:
        x, y, cw, ch = crop
        a = a[:, y:y + ch, x:x + cw]
    return np.ascontiguousarray(a)


def write_rgb_clip(path, frames, fps=24, codec="ffv1", pix_fmt="bgr0", audio_seconds=None, vfr_pts=None):
    """Write uint8 RGB frames (N, H, W, 3) as a lossless clip: decoding gives
    back exactly frames / 255 in RGB. Optionally with a sine audio track."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    n, h, w, _ = frames.shape
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-"]
    if audio_seconds:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={audio_seconds}",
                "-c:a", "flac"]
    cmd += ["-map", "0:v"] + (["-map", "1:a"] if audio_seconds else [])
    cmd += ["-c:v", codec, "-pix_fmt", pix_fmt, path]
    p = subprocess.run(cmd, input=frames.tobytes(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=RUN_TIMEOUT)
    if p.returncode != 0:
        pytest.fail(f"could not write {path}: {p.stderr.decode(errors='replace')[-2000:]}")
    return path


def framemd5(path, stream="v:0"):
    """Per-frame MD5s of the decoded stream (timestamps dropped)."""
    p = run(["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", "0:" + stream, "-fps_mode", "passthrough",
             "-f", "framemd5", "-"])
    if p.returncode != 0:
        pytest.fail(f"ffmpeg framemd5 {path}: {p.stderr[-2000:]}")
    rows = [l.split(",") for l in p.stdout.splitlines() if l and not l.startswith("#")]
    return [r[-1].strip() for r in rows]


def file_md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def psnr(a, b, peak=1.0):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak * peak / mse)


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def stats_json(path):
    need_file(path, "statistics JSON")
    with open(path) as f:
        return json.load(f)
