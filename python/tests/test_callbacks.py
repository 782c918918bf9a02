"""Tracker event/progress callbacks, cancelling from Python, and log callbacks."""
import os
import threading
import time

import pytest


# Records made by vsr_upscale_file's own stages (the session's upload,
# inference and download records are checked separately below).
PIPELINE_STAGES = {"decode", "preprocess", "postprocess", "encode", "run"}


@pytest.fixture
def tracker(vsr):
    with vsr.Tracker(granularity="operation", sampler_interval_ms=20) as t:
        yield t


@pytest.fixture
def session(vsr, tiny_model, tracker):
    with vsr.Session(model_path=tiny_model, tracker=tracker, precision="fp32") as s:
        yield s


@pytest.mark.parametrize("pipelined", [True, False])
def test_events_and_progress(vsr, session, tracker, small_clip, tmp_path, pipelined):
    src, n = small_clip
    events, progress, threads = [], [], set()

    def on_event(rec):
        events.append(rec)
        threads.add(threading.get_ident())

    def on_progress(p):
        progress.append(p)
        return False  # carry on

    tracker.on_event(on_event)
    tracker.on_progress(on_progress)
    res = session.upscale_file(src, tmp_path / "o.mkv", pipelined=pipelined, preset="ultrafast")
    assert res.frames_written == n and not res.cancelled

    # progress: one call per frame written, counting up to n
    assert [p.frames_done for p in progress] == list(range(1, n + 1))
    run_ids = {p.run_id for p in progress}
    assert len(run_ids) == 1 and run_ids != {0}
    for p in progress:
        # an estimate from the container (-1 if unknown)
        assert p.frames_total == -1 or abs(p.frames_total - n) <= 1, p.frames_total
        assert p.elapsed_s >= 0 and p.fps >= 0
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(progress, progress[1:]))

    # events: every stage, sane times and sizes, one successful run record
    types = {e.type for e in events}
    for t in (vsr.OpType.DECODE, vsr.OpType.PREPROCESS, vsr.OpType.INFERENCE,
              vsr.OpType.ENCODE, vsr.OpType.RUN):
        assert t in types, f"no {t.name} event"
    name = session.card.name
    for e in events:
        assert e.strategy == name
        assert e.duration_ns >= 0 and e.end_ns >= e.start_ns
        if e.type in PIPELINE_STAGES:  # see test_session_records_carry_run_id
            assert e.run_id in run_ids
    runs = [e for e in events if e.type == vsr.OpType.RUN]
    assert len(runs) == 1 and runs[0].success and runs[0].frames == n
    assert (runs[0].in_width * 2, runs[0].in_height * 2) == (runs[0].out_width, runs[0].out_height)
    assert sum(e.frames for e in events if e.type == vsr.OpType.INFERENCE) == n
    assert threading.get_ident() not in threads  # library threads, not the caller's

    st = tracker.stats("inference")
    assert st.count >= 1 and st.frames == n and st.mean_ms > 0 and st.fps > 0
    assert tracker.stats(vsr.OpType.RUN, name).count == 1
    assert len(tracker.history()) == len(events)
    assert "libvsr" in tracker.export_string("prometheus")
    assert tracker.resources().peak_rss_bytes > 0


def test_session_records_carry_run_id(vsr, session, tracker, small_clip, tmp_path):
    events = []
    tracker.on_event(events.append)
    session.upscale_file(small_clip[0], tmp_path / "r.mkv", preset="ultrafast", max_frames=2)
    run = [e for e in events if e.type == vsr.OpType.RUN][0]
    infer = [e for e in events if e.type == vsr.OpType.INFERENCE]
    assert infer and all(e.run_id == run.run_id for e in infer)


@pytest.mark.parametrize("pipelined", [True, False])
def test_progress_returning_true_cancels(vsr, session, tracker, small_clip, tmp_path,
                                         frame_counter, pipelined):
    src, n = small_clip
    assert n > 4
    seen = []

    def stop_after_3(p):
        seen.append(p.frames_done)
        return p.frames_done >= 3

    tracker.on_progress(stop_after_3)
    out = tmp_path / "cut.mkv"
    res = session.upscale_file(src, out, pipelined=pipelined, preset="ultrafast")
    assert res.cancelled
    assert res.frames_written == 3
    assert seen[-1] == 3 and len(seen) == 3  # no progress after the cancel
    # The output is finished and holds exactly the frames written.
    assert out.is_file()
    assert frame_counter(out) == res.frames_written


def test_raising_callback_cancels(vsr, session, tracker, small_clip, tmp_path, frame_counter):
    src, n = small_clip

    class Boom(Exception):
        pass

    def explode(p):
        if p.frames_done == 2:
            raise Boom("from the progress callback")
        return False

    tracker.on_progress(explode)
    out = tmp_path / "boom.mkv"
    with pytest.raises(vsr.CancelledError) as ei:
        session.upscale_file(src, out, preset="ultrafast")
    e = ei.value
    assert isinstance(e.__cause__, Boom)
    assert "Boom" in str(e)
    assert e.code == vsr.structs.VSR_ERROR_CANCELLED
    assert e.result is not None and e.result.cancelled
    assert e.result.frames_written == 2
    assert frame_counter(out) == 2
    assert tracker.callback_error is None  # handed over to the exception

    # The next run is not affected by the earlier exception.
    tracker.on_progress(None)
    res = session.upscale_file(src, tmp_path / "again.mkv", preset="ultrafast", max_frames=3)
    assert res.frames_written == 3 and not res.cancelled


def test_raising_event_callback_cancels(vsr, session, tracker, small_clip, tmp_path):
    src, _ = small_clip

    def bad(rec):
        if rec.type == vsr.OpType.ENCODE:
            raise ValueError("from the event callback")

    tracker.on_event(bad)
    with pytest.raises(vsr.CancelledError) as ei:
        session.upscale_file(src, tmp_path / "ev.mkv", preset="ultrafast")
    assert isinstance(ei.value.__cause__, ValueError)


def test_cancel_from_another_thread(vsr, session, tracker, small_clip, tmp_path, frame_counter):
    src, n = small_clip
    first = threading.Event()

    def progress(p):
        first.set()
        time.sleep(0.1)  # a slow encoding stage (the callback runs on it), so the cancel lands mid-run

    tracker.on_progress(progress)
    out = tmp_path / "c.mkv"

    def canceller():
        first.wait(30)
        session.cancel()

    th = threading.Thread(target=canceller)
    th.start()
    res = session.upscale_file(src, out, preset="ultrafast")
    th.join()
    assert res.cancelled
    assert 1 <= res.frames_written < n
    assert frame_counter(out) == res.frames_written


def test_log_callback(vsr, tiny_model, tmp_path):
    messages = []
    vsr.set_log_callback(lambda level, msg: messages.append((level, msg)))
    vsr.set_log_level("debug")
    try:
        with vsr.Session(model_path=tiny_model):
            pass
        with pytest.raises(vsr.InputError):
            vsr.Input(tmp_path / "missing.mp4")
    finally:
        vsr.set_log_level("warning")
        vsr.set_log_callback(None)
    assert messages, "no log message arrived"
    assert all(isinstance(m, str) and isinstance(lvl, vsr.LogLevel) for lvl, m in messages)
    assert any(lvl == vsr.LogLevel.INFO and "tiny-x2" in m for lvl, m in messages), messages
    # failures are logged too (at debug level: the caller gets them as exceptions)
    assert any("missing.mp4" in m for lvl, m in messages), messages
    # After set_log_callback(None) the Python sink gets nothing more.
    count = len(messages)
    with pytest.raises(vsr.InputError):
        vsr.Input(tmp_path / "missing2.mp4")
    assert len(messages) == count


def test_log_callback_exception_is_contained(vsr, tmp_path):
    def bad(level, msg):
        raise RuntimeError("sink failed")

    vsr.set_log_callback(bad)
    try:
        with pytest.raises(vsr.InputError) as ei:
            vsr.Input(tmp_path / "nothing.mp4")
        assert "nothing.mp4" in str(ei.value)
    finally:
        vsr.set_log_callback(None)


def test_per_session_log_callback(vsr, tiny_model, small_clip, tmp_path):
    got = []
    with vsr.Session(model_path=tiny_model, log_callback=lambda lvl, m: got.append(m)) as s:
        s.upscale_file(small_clip[0], tmp_path / "l.mkv", preset="ultrafast", max_frames=1)
    # The session sink is unregistered on close.
    from libvsr import log as _log
    assert all(k == 0 for k in _log._sinks)


CTRL_C_CHILD = r"""
import sys
import time
import libvsr
model, src, out = sys.argv[1:4]
t = libvsr.Tracker()


def progress(p):
    print("progress", p.frames_done, flush=True)
    time.sleep(0.15)  # a slow encoding stage: the run lasts until the signal comes


t.on_progress(progress)
s = libvsr.Session(model_path=model, tracker=t)
try:
    s.upscale_file(src, out, preset="ultrafast")
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    s.close()
    sys.exit(130)
"""


def test_ctrl_c_cancels_cleanly(vsr, tiny_model, small_clip, tmp_path, frame_counter):
    """SIGINT during upscale_file: the run is cancelled, the output finished, no crash."""
    import signal
    import subprocess
    import sys
    src, n = small_clip
    out = tmp_path / "int.mkv"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    p = subprocess.Popen([sys.executable, "-c", CTRL_C_CHILD, tiny_model, src, str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = p.stdout.readline()
        assert line.startswith("progress"), f"child said {line!r}"
        p.send_signal(signal.SIGINT)
        rest, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, f"child exited with {p.returncode}: {rest!r}"
    assert "interrupted" in rest
    assert out.is_file()
    assert 1 <= frame_counter(out) < n


def test_objects_dropped_inside_a_log_callback(vsr, tmp_path):
    """Garbage collected inside a callback (libvsr's log lock held): released later, no deadlock."""
    import gc
    gc.collect()
    before = vsr.live_handles()
    victims = [vsr.Frame.alloc(vsr.PixFmt.RGB24, 8, 8) for _ in range(3)]
    victims[0].to_numpy()  # plus a view that dies with it

    def sink(level, msg):
        victims.clear()     # the last references go here
        gc.collect()

    vsr.set_log_callback(sink)
    vsr.set_log_level("debug")
    try:
        with pytest.raises(vsr.InputError):
            vsr.Input(tmp_path / "missing.mp4")
    finally:
        vsr.set_log_level("warning")
        vsr.set_log_callback(None)
    assert victims == []
    assert vsr.live_handles() == before


def test_quality_and_export(vsr, session, tracker, small_clip, tmp_path):
    import json
    src, n = small_clip
    ref = tmp_path / "ref.mkv"
    # lossless 4:4:4: the reference is the session's output (8-bit rounded)
    session.upscale_file(src, ref, codec="ffv1", pix_fmt="yuv444p")
    tracker.reset()
    session.upscale_file(src, tmp_path / "q.mkv", reference=ref, preset="ultrafast")
    q = tracker.quality()
    assert q.frames == n
    assert q.psnr_min > 45 and q.ssim_min > 0.99, q  # the same pictures
    path = tmp_path / "stats.json"
    tracker.export("json", path)
    doc = json.loads(path.read_text())
    assert "stats" in doc and "history" in doc
    csv = tracker.export_string(vsr.ExportFormat.CSV).splitlines()
    assert csv[0].startswith("run_id,type") and len(csv) == 1 + len(tracker.history())
    assert csv[0].split(",")[-4:] == ["id", "quality", "peak_rss_bytes", "peak_device_bytes"]
    tracker.record_quality(n, 30.0, 0.9)
    assert tracker.quality().frames == n + 1
