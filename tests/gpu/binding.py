"""Everything the GPU suite and bench/gpu do with libvsr in-process, through
the ctypes binding (python/libvsr):

* video I/O without the ffmpeg programs (a GPU node has none, and carrying
  them with their libraries would not fit in 64 MiB): write_clip() encodes
  numpy frames, decode16() reads every frame as 16-bit RGB with its exact
  timestamp, codec_floor() decodes, resizes and encodes with no model
  (libvsr's own FFmpeg path: the floor a run cannot beat);
* runs that must give equal frames, done in one process: cuDNN's
  benchmark mode (always on in libvsr) times its algorithms per process,
  so two processes may convolve differently and round differently; in
  one process each shape gets one algorithm, and only what is under test
  differs (copy/compute pipelining, CUDA graphs, NVDEC, threads);
* two sessions in two threads of one process;
* the tracker's peak device memory next to the CUDA allocator's own
  figure (torch imported into the same process shares libtorch, and with
  it the allocator, with a libvsr built with -Dtorch_dir=auto);
* the model alone on frames held in memory (bench/gpu).

Kept apart on purpose: this is the only GPU test and benchmark code that
depends on the C API's shape, so it is the one place to adapt when that
API changes. Run as a program it prints one JSON object:

    python3 binding.py runs SPEC.json     (a list of {"session": {...},
        "input": path, "output": path, "run": {...}}: Session settings and
        upscale_file arguments; the outputs are FFV1 gbrp16le)
    python3 binding.py threads MODEL DEVICE PRECISION IN1 SERIAL1 PARALLEL1 IN2 SERIAL2 PARALLEL2
    python3 binding.py peak MODEL DEVICE PRECISION IN OUT
"""
import json
import sys
import threading
import time
from fractions import Fraction

import numpy as np


def _libvsr():
    import libvsr
    return libvsr


# ---------------------------------------------------------------------------
# Video I/O

def write_clip(path, frames, fps=24, codec="libx264", pix_fmt="yuv420p", crf=16, preset="veryfast"):
    """Encode an iterable of (H, W, 3) uint8 RGB frames."""
    L = _libvsr()
    n = 0
    with L.Output(str(path), codec=codec, pix_fmt=pix_fmt, crf=crf, preset=preset, frame_rate=fps,
                  overwrite=True) as out:
        for i, a in enumerate(frames):
            with L.Frame.from_numpy(np.ascontiguousarray(a, dtype=np.uint8), pts=i, time_base=(1, fps)) as f:
                out.write(f)
            n += 1
    return n


def decode16(path, hwdec=None):
    """(frames uint16 [n, h, w, 3] RGB, [pts as exact Fractions of a second])."""
    L = _libvsr()
    frames, pts = [], []
    with L.Input(str(path), hwdec=hwdec) as inp:
        for f in inp:
            with f:
                num, den = f.time_base
                pts.append(None if f.pts is None else Fraction(f.pts * num, den))
                with f.convert("rgb48") as g:
                    frames.append(np.array(g.to_numpy()))
    if not frames:
        return np.zeros((0, 0, 0, 3), np.uint16), pts
    return np.stack(frames), pts


def decode_rgb24(path, max_frames=None):
    """(H, W, 3) uint8 frames, for feeding models."""
    L = _libvsr()
    out = []
    with L.Input(str(path), max_frames=max_frames) as inp:
        for f in inp:
            with f, f.convert("rgb24") as g:
                out.append(np.array(g.to_numpy()))
    return np.stack(out)


def codec_floor(inp, out, width, height, codec, pix_fmt, crf=None, preset=None, threads=0, max_frames=None):
    """Decode inp, resize every frame to width x height (bicubic, in 16-bit
    RGB as libvsr hands frames to the encoder) and encode: a run with no
    model. Returns (frames, seconds)."""
    L = _libvsr()
    t0 = time.perf_counter()
    n = 0
    with L.Input(str(inp), max_frames=max_frames) as src, \
            L.Output(str(out), codec=codec, pix_fmt=pix_fmt, crf=crf, preset=preset, threads=threads,
                     overwrite=True, copy_streams=False) as dst:
        for f in src:
            with f, f.convert("rgb48", width, height) as g:
                g.pts, g.time_base = f.pts, f.time_base
                dst.write(g)
            n += 1
    return n, time.perf_counter() - t0


# ---------------------------------------------------------------------------
# Sessions

def session(model, device, precision, tracker=None):
    return _libvsr().Session(model_path=model, device=device, precision=precision, tracker=tracker)


def upscale(s, inp, out, **run):
    return s.upscale_file(str(inp), str(out), codec="ffv1", pix_fmt="gbrp16le", overwrite=True, **run)


def runs(specs):
    """Each spec's run in turn, in this process; [{frames} or {error}]."""
    out = []
    for spec in specs:
        try:
            with _libvsr().Session(**spec["session"]) as s:
                r = upscale(s, spec["input"], spec["output"], **spec.get("run", {}))
            out.append({"frames": r.frames_written})
        except Exception as e:  # the caller fails the test with this
            out.append({"error": f"{type(e).__name__}: {e}"})
    return out


def model_alone(model, device, precision, frames, repeat):
    """Frames per second of the model alone (send/receive), best of repeat
    passes over frames held in memory, after a two-frame warm-up."""
    s = session(model, device, precision)
    try:
        list(s.process(list(frames[:2]), as_numpy=True))
        best = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            n = sum(1 for _ in s.process(list(frames), as_numpy=True))
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        assert n == len(frames)
        return len(frames) / best
    finally:
        s.close()


def two_threads(model, device, precision, jobs):
    """jobs: [(input, serial_output, parallel_output)]. Each job is run once
    alone, one after another, then all at once, one session and thread
    each."""
    for inp, serial_out, _ in jobs:
        with session(model, device, precision) as s:
            upscale(s, inp, serial_out)
    errors = [None] * len(jobs)
    frames = [0] * len(jobs)
    sessions = [session(model, device, precision) for _ in jobs]
    barrier = threading.Barrier(len(jobs))

    def work(i, inp, out):
        try:
            barrier.wait()
            frames[i] = upscale(sessions[i], inp, out).frames_written
        except Exception as e:  # reported to the caller, who fails the test
            errors[i] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=work, args=(i, a, c)) for i, (a, _, c) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sessions:
        s.close()
    return {"frames": frames, "errors": errors}


def peak(model, device, precision, inp, out):
    import torch  # first: libvsr then shares this process's libtorch
    L = _libvsr()
    index = int(device.split(":")[1]) if ":" in device else 0
    torch.cuda.reset_peak_memory_stats(index)
    tracker = L.Tracker(sampler_interval_ms=10)
    with session(model, device, precision, tracker) as s:
        upscale(s, inp, out)
    tracker_peak = tracker.resources().peak_device_bytes
    tracker.close()
    return {"tracker_peak": int(tracker_peak), "torch_peak": int(torch.cuda.max_memory_allocated(index)),
            "torch_version": torch.__version__}


def main(argv):
    what = argv[1]
    if what == "runs":
        with open(argv[2]) as f:
            print(json.dumps(runs(json.load(f))))
    elif what == "threads":
        model, device, precision = argv[2:5]
        rest = argv[5:]
        print(json.dumps(two_threads(model, device, precision, list(zip(rest[0::3], rest[1::3], rest[2::3])))))
    elif what == "peak":
        print(json.dumps(peak(*argv[2:7])))
    else:
        sys.exit(f"binding.py: unknown check {what!r}")


if __name__ == "__main__":
    main(sys.argv)
