#!/usr/bin/python3
"""Test clips for the benchmarks, made from real photographs.

    bench/clips.py --out clip.mp4 [--size 320x180] [--frames 48] [--fps 24]

scikit-image's sample photographs (astronaut, coffee, chelsea) are panned
and cropped with numpy (python/libvsr/bench/samples.py, which vsr-bench's
own sample clips use too) (a slow sub-pixel pan, one picture per two-second
scene, so the clip has motion and scene cuts), piped to ffmpeg as raw RGB
and encoded with libx264 (yuv420p, crf 16, preset veryfast) together with
an AAC sine tone, so the audio-copy path is exercised too. The result is
deterministic for given arguments.

Also importable: ``clips.make_clip(path, width, height, frames, fps)`` and
``clips.frames_rgb(width, height, frames)`` (a generator of HxWx3 uint8),
plus the few helpers the bench/ scripts share (finding the tree, the build
directory and its programs, the test models; running and timing commands;
Markdown tables).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

def _load_samples():
    """python/libvsr/bench/samples.py, loaded by path: it generates the frames
    (the bench scripts run without the package on sys.path, and importing
    the package would need the built library)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python", "libvsr",
                        "bench", "samples.py")
    spec = importlib.util.spec_from_file_location("vsr_bench_samples", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_samples = _load_samples()
PICTURES = _samples.PHOTOS
SCENE_SECONDS = _samples.SCENE_SECONDS


def frames_rgb(width, height, frames, fps=24):
    """Yield `frames` HxWx3 uint8 pictures: a pan over each photograph in turn."""
    return _samples.photo_frames(width, height, frames, fps)


def make_clip(path, width=320, height=180, frames=48, fps=24, audio=True, crf=16):
    """Write the clip to `path` (the container follows the extension)."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps),
           "-i", "-"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={frames / fps:.3f}"]
    cmd += ["-map", "0:v"] + (["-map", "1:a", "-c:a", "aac", "-b:a", "96k"] if audio else [])
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-g", str(2 * fps), path]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    try:
        for img in frames_rgb(width, height, frames, fps):
            proc.stdin.write(img.tobytes())
    except BrokenPipeError:
        pass
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed making {path}")
    return path


# ---------------------------------------------------------------------------
# Helpers shared by the bench/ scripts

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REAL_MODEL = os.path.join(ROOT, "models", "realesr-animevideov3-x2.pt")


class BenchError(RuntimeError):
    """A real failure (a program failed, a file is missing): the scripts exit 1."""


def build_dir(arg):
    """--build DIR: absolute, relative to the current directory if it exists
    there, else relative to the source tree."""
    if os.path.isabs(arg):
        d = arg
    elif os.path.isdir(arg) and os.path.exists(os.path.join(arg, "build.ninja")):
        d = os.path.abspath(arg)
    else:
        d = os.path.join(ROOT, arg)
    if not os.path.isdir(d):
        raise BenchError(f"build directory {d} not found: meson setup {arg} && ninja -C {arg}")
    return d


def program(build, rel):
    """A built program, e.g. program(b, 'examples/vsr-cli')."""
    p = os.path.join(build, rel)
    if not os.access(p, os.X_OK):
        raise BenchError(f"{p} not found: build it with ninja -C {build}")
    return p


def _own_test_model(name, path):
    """Build tiny-x2, tiny-smooth-x2 or temporal-r2-x2 here, the way tools/make_test_models.py does."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import modelcard
    torch.manual_seed(0)
    if name == "tiny-x2":
        net = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.PixelShuffle(2)).eval()
        m = torch.jit.trace(net, torch.rand(1, 3, 16, 16))
        card = modelcard.make_card("tiny-x2", 2, rf_spatial=1, license="CC0-1.0",
                                   source="synthetic test model", converter="bench/clips.py")
    elif name == "tiny-smooth-x2":
        from make_test_models import TinySmoothX2
        m = torch.jit.script(TinySmoothX2().eval())
        card = modelcard.make_card("tiny-smooth-x2", 2, rf_spatial=1, license="CC0-1.0",
                                   source="synthetic test model", converter="bench/clips.py")
    elif name == "temporal-r2-x2":
        class Temporal(nn.Module):
            def __init__(self):
                super().__init__()
                self.c1 = nn.Conv3d(3, 8, 3, padding=1)
                self.c2 = nn.Conv3d(8, 12, 3, padding=1)
                self.shuffle = nn.PixelShuffle(2)

            def forward(self, x):
                b, t, c, h, w = x.shape
                y = self.c2(F.leaky_relu(self.c1(x.permute(0, 2, 1, 3, 4)), 0.1))
                y = self.shuffle(y.permute(0, 2, 1, 3, 4).reshape(b * t, 12, h, w))
                base = F.interpolate(x.reshape(b * t, c, h, w), scale_factor=2.0, mode="nearest")
                return (y + base).reshape(b, t, c, 2 * h, 2 * w)
        with torch.no_grad():
            net = Temporal().eval()
            for prm in net.parameters():
                prm.mul_(0.1)
        m = torch.jit.script(net)
        card = modelcard.make_card("temporal-r2-x2", 2, frames_in=0, rf_spatial=2, rf_temporal=2,
                                   license="CC0-1.0", source="synthetic test model",
                                   converter="bench/clips.py")
    else:
        raise BenchError(f"no recipe for test model {name}")
    modelcard.save(m, path, card)
    return path


def test_model(name, build, tmpdir, given_dir=None):
    """Path of a test model (tiny-x2, tiny-smooth-x2, temporal-r2-x2): --models DIR, then
    BUILD/tests/models (made by the build), then tools/make_test_models.py
    into tmpdir, then a copy built here."""
    fname = name + ".pt"
    for d in (given_dir, os.path.join(build, "tests", "models") if build else None):
        if d and os.path.exists(os.path.join(d, fname)):
            return os.path.join(d, fname)
    out = os.path.join(tmpdir, "test-models")
    if not os.path.exists(os.path.join(out, fname)):
        os.makedirs(out, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_test_models.py"), "--out", out,
                        "--stamp", os.path.join(out, "stamp")], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        # the builder writes models one by one: a later check failing leaves earlier ones usable,
        # but only trust a file when the whole run succeeded
        if not os.path.exists(os.path.join(out, "stamp")) and os.path.exists(os.path.join(out, fname)):
            os.remove(os.path.join(out, fname))
    if not os.path.exists(os.path.join(out, fname)):
        _own_test_model(name, os.path.join(out, fname))
    return os.path.join(out, fname)


def real_model(given=None):
    p = given or REAL_MODEL
    if not os.path.exists(p):
        raise BenchError(f"{p} not found: run scripts/fetch-models or pass --model")
    return p


_last_cpu = [0.0]


def last_cpu():
    """CPU seconds (user + system) of the last run(), its children included."""
    return _last_cpu[0]


def run(cmd, what=None, env=None, capture=True):
    """Run a command; return (wall seconds, stdout). Raise BenchError on failure."""
    import resource
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE,
                       env=env, text=True)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    _last_cpu[0] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode != 0:
        tail = "\n".join((p.stderr or "").strip().splitlines()[-8:])
        raise BenchError(f"{what or os.path.basename(cmd[0])} failed (exit {p.returncode}): "
                         f"{' '.join(cmd)}\n{tail}")
    return dt, p.stdout


def probe_video(path):
    """(frames, width, height) of the first video stream, counting packets."""
    _, out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                  "stream=nb_read_packets,width,height", "-of", "json", path], "ffprobe")
    st = json.loads(out)["streams"][0]
    return int(st["nb_read_packets"]), int(st["width"]), int(st["height"])


def machine():
    """What the numbers were measured on."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    fl = line.split()
                    flags = " ".join(x for x in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if x in fl)
                    break
    except OSError:
        pass
    mem = 0
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "simd": flags, "memory_gb": round(mem / 2**30, 1),
            "os": platform.platform(), "loadavg_start": list(os.getloadavg())}


def md_table(headers, rows):
    """A Markdown table; cells are str()-ed."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |"
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


def matmul_gflops(threads, precision, size=2048, reps=5):
    """GFLOP/s of torch.mm of two size x size matrices (fp32 or bf16) with `threads` threads, best
    of `reps` after a warm-up: the reference the benchmarks hold a model's rate against."""
    import torch
    torch.set_num_threads(threads)
    dt = torch.float32 if precision == "fp32" else torch.bfloat16
    g = torch.Generator().manual_seed(0)
    a = torch.rand(size, size, generator=g).to(dt)
    b = torch.rand(size, size, generator=g).to(dt)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * size ** 3 / best / 1e9


def median(v):
    v = sorted(v)
    n = len(v)
    return 0.0 if not n else v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def spread_pct(v):
    """(max - min) / median of a list of times, in %: the noise of repetitions."""
    m = median(v)
    return 100.0 * (max(v) - min(v)) / m if v and m > 0 else 0.0


def parse_size(s):
    try:
        w, h = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{s}' is not WIDTHxHEIGHT")
    if w < 2 or h < 2 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"'{s}': width and height must be even and >= 2")
    return w, h


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output file (.mp4, .mkv, ...)")
    ap.add_argument("--size", type=parse_size, default=(320, 180), help="WIDTHxHEIGHT (default 320x180)")
    ap.add_argument("--frames", type=int, default=48, help="number of frames (default 48)")
    ap.add_argument("--fps", type=int, default=24, help="frame rate (default 24)")
    ap.add_argument("--no-audio", action="store_true", help="video only")
    a = ap.parse_args()
    if a.frames < 1:
        ap.error("--frames must be at least 1")
    make_clip(a.out, a.size[0], a.size[1], a.frames, a.fps, audio=not a.no_audio)
    print(os.path.abspath(a.out))


if __name__ == "__main__":
    sys.exit(main())
