"""Open/close cycles must not leak memory or handles.

Method: run 100 cycles; RSS (VmRSS from /proc/self/status) is read after
cycle 20, when caches, allocator pools and libtorch's one-time state have
settled, and after cycle 100. The growth over those 80 cycles must stay
below RSS_BOUND_MB. Besides memory, the binding's live-handle counters must
return to where they started and the Python objects must be collectable.
"""
import gc
import weakref

import numpy as np
import pytest

CYCLES = 100
WARMUP = 20
RSS_BOUND_MB = 20  # growth allowed between cycle 20 and cycle 100


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    pytest.fail("no VmRSS in /proc/self/status")


def run_cycles(vsr, one_cycle):
    gc.collect()
    base_handles = vsr.live_handles()
    refs = []
    rss_warm = None
    for i in range(1, CYCLES + 1):
        obj = one_cycle(i)
        if obj is not None:
            refs.append(weakref.ref(obj))
            del obj
        if i == WARMUP:
            gc.collect()
            rss_warm = rss_mb()
    gc.collect()
    rss_end = rss_mb()
    growth = rss_end - rss_warm
    assert growth < RSS_BOUND_MB, (
        f"RSS grew {growth:.1f} MB from cycle {WARMUP} ({rss_warm:.1f} MB) to cycle {CYCLES} "
        f"({rss_end:.1f} MB); bound {RSS_BOUND_MB} MB")
    assert vsr.live_handles() == base_handles, "handles left open"
    alive = sum(1 for r in refs if r() is not None)
    assert alive == 0, f"{alive} wrapper objects not collectable"
    print(f"RSS growth {growth:.2f} MB ({rss_warm:.0f} -> {rss_end:.0f})")
    return growth


def test_session_cycles(vsr, tiny_model):
    x = np.random.default_rng(0).random((3, 24, 32), dtype=np.float32)

    def cycle(i):
        s = vsr.Session(model_path=tiny_model, precision="fp32")
        outs = list(s.process([x], as_numpy=True))
        assert len(outs) == 1 and outs[0].shape == (3, 48, 64)
        del outs
        s.close()
        assert s.closed
        return s

    run_cycles(vsr, cycle)


def test_session_with_tracker_cycles(vsr, tiny_model):
    x = np.random.default_rng(1).random((3, 16, 16), dtype=np.float32)

    def cycle(i):
        t = vsr.Tracker(sampler_interval_ms=0)
        t.on_event(lambda rec: None)
        with vsr.Session(model_path=tiny_model, precision="fp32", tracker=t) as s:
            for o in s.process([x, x]):
                o.close()
        t.close()
        return t

    run_cycles(vsr, cycle)


def test_input_and_frame_cycles(vsr, small_clip):
    src, _ = small_clip

    def cycle(i):
        inp = vsr.Input(src, max_frames=3)
        for f in inp:
            planes = f.planes()
            assert planes[0].std() > 0
            with f.convert(vsr.PixFmt.RGBF32) as g:
                a = g.to_numpy()
                assert a.shape[0] == 3
            f.close()
            del planes, a
        inp.close()
        return inp

    run_cycles(vsr, cycle)


def test_input_buffer_cycles(vsr, small_clip):
    data = open(small_clip[0], "rb").read()

    def cycle(i):
        with vsr.Input.open_buffer(data, max_frames=2) as inp:
            for f in inp:
                f.close()
        return inp

    run_cycles(vsr, cycle)


def test_wrapped_frame_cycles(vsr):
    """1 MB arrays wrapped 100 times: every one released, every callback fired."""
    freed = []
    base = vsr.wrapped_arrays()

    def cycle(i):
        a = np.full((3, 256, 341), i / CYCLES, dtype=np.float32)
        f = vsr.Frame.from_numpy(a, on_free=lambda: freed.append(i))
        with f.convert(vsr.PixFmt.RGB24) as c:
            assert c.to_numpy().shape == (256, 341, 3)
        f.close()
        return f

    run_cycles(vsr, cycle)
    assert len(freed) == CYCLES and sorted(freed) == list(range(1, CYCLES + 1))
    assert vsr.wrapped_arrays() == base
