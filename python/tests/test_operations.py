"""The application's own operations in a tracker: Tracker.operation() as a
context manager, the @Tracker.track decorator, statistics per type and per
strategy, trends, listing and the operations in flight."""
import json
import math
import threading

import pytest


@pytest.fixture
def tracker(vsr):
    # no sampler thread: the memory peaks come from the readings at begin and end
    with vsr.Tracker(sampler_interval_ms=0, history_length=100) as t:
        yield t


def test_context_manager_records_a_success(vsr, tracker):
    t = tracker
    t.set_meta("service", "api")
    with t.operation("analysis", "degradation_router") as op:
        assert [r.type for r in t.in_flight()] == ["analysis"]
        op.update(frames=24, in_size=(640, 360), out_size=(1280, 720), quality=0.87,
                  meta={"scene": "night", "request": 17})
        live = t.in_flight()[0]
        assert (live.frames, live.in_width, live.out_height, live.scale) == (24, 640, 720, 2)
        assert live.end_ns == 0 and not live.success and live.meta == {"scene": "night", "request": "17"}
    assert op.ended
    assert t.in_flight() == []
    [r] = t.history()
    assert (r.type, r.strategy, r.success, r.error_code, r.error_message) == \
        ("analysis", "degradation_router", True, 0, None)
    assert (r.frames, r.in_width, r.in_height, r.out_width, r.out_height, r.scale) == \
        (24, 640, 360, 1280, 720, 2)
    assert r.quality == 0.87 and r.id == live.id
    assert r.meta == {"service": "api", "scene": "night", "request": "17"}
    assert r.end_ns >= r.start_ns and r.duration_ns == r.end_ns - r.start_ns
    assert r.peak_rss_bytes is not None and r.peak_rss_bytes > 0
    assert r.peak_device_bytes is None  # no device here

    st = t.stats("analysis")
    assert (st.count, st.successes, st.failures, st.frames, st.success_rate) == (1, 1, 0, 24, 1.0)
    assert st.peak_rss_bytes == r.peak_rss_bytes


def test_exception_is_recorded_as_failure_and_reraised(vsr, tracker):
    t = tracker

    class ModelDiverged(Exception):
        pass

    with pytest.raises(ModelDiverged, match="NaN in the output"):
        with t.operation("enhancement", "vsrm") as op:
            op.update(frames=3)
            raise ModelDiverged("NaN in the output")
    [r] = t.history()
    assert not r.success and r.frames == 3
    assert r.error_code == vsr.tracker.EXCEPTION_CODE
    assert r.error_message == "ModelDiverged: NaN in the output"
    st = t.stats("enhancement", "vsrm")
    assert (st.count, st.failures, st.success_rate) == (1, 1, 0.0)

    # a libvsr error keeps its own code
    with pytest.raises(vsr.InputError):
        with t.operation("enhancement", "vsrm"):
            vsr.Input("/nonexistent/clip.mp4")
    r = t.history()[-1]
    assert r.error_code == vsr.structs.VSR_ERROR_INPUT and "clip.mp4" in r.error_message
    assert t.in_flight() == []


def test_decorator(vsr, tracker):
    t = tracker
    calls = []

    @t.track("enhancement", "vsrm")
    def enhance(clip, scale=2):
        """Upscale a clip."""
        calls.append(clip)
        if clip == "bad":
            raise ValueError(f"cannot read {clip}")
        assert [r.type for r in t.in_flight()] == ["enhancement"]
        return clip * scale

    assert enhance.__name__ == "enhance" and enhance.__doc__ == "Upscale a clip."
    assert enhance("ab") == "abab"
    assert enhance("c", scale=3) == "ccc"
    with pytest.raises(ValueError, match="cannot read bad"):
        enhance("bad")
    assert calls == ["ab", "c", "bad"]
    recs = t.history()
    assert [(r.type, r.strategy, r.success) for r in recs] == \
        [("enhancement", "vsrm", True)] * 2 + [("enhancement", "vsrm", False)]
    assert recs[2].error_message == "ValueError: cannot read bad"
    st = t.stats("enhancement", "vsrm")
    assert (st.count, st.successes, st.failures) == (3, 2, 1)
    assert math.isclose(st.success_rate, 2 / 3)
    assert t.in_flight() == []


def test_fail_without_exception_and_explicit_end(vsr, tracker):
    t = tracker
    with t.operation("analysis") as op:
        op.fail("too dark to analyse", code=-42)
    op2 = t.operation("request", "fast")
    op2.update(out_size=(200, 100))
    op2.update(in_size=(100, 50))  # the output size given earlier stays
    op2.end()
    op2.end()  # idempotent
    r1, r2 = t.history()
    assert (r1.success, r1.error_code, r1.error_message, r1.strategy) == (False, -42, "too dark to analyse", None)
    assert r2.success and r2.scale == 2 and (r2.in_width, r2.out_width) == (100, 200)
    with pytest.raises(ValueError):
        op2.update(frames=1)  # ended
    with pytest.raises(vsr.InvalidArgumentError):
        t.operation("")
    with pytest.raises(vsr.InvalidArgumentError):
        with t.operation("x") as op3:
            op3.update(frames=-1)
    assert t.in_flight() == []


def test_stats_per_type_and_strategy_trends_and_lists(vsr, tracker):
    t = tracker
    for i in range(6):
        with t.operation("enhancement", "vsrm" if i % 2 else "fast") as op:
            op.update(frames=i)
    with pytest.raises(RuntimeError):
        with t.operation("analysis", "vsrm"):
            raise RuntimeError("x")
    assert t.types() == ["analysis", "enhancement"]
    assert t.strategies() == ["fast", "vsrm"]
    assert t.stats("enhancement").count == 6
    assert t.stats("enhancement", "vsrm").frames == 1 + 3 + 5
    assert t.stats(None, "vsrm").count == 4  # three enhancements and the analysis
    assert t.stats().count == 7
    assert set(t.all_stats()) == {"analysis", "enhancement"}
    per = t.strategy_stats()
    assert per["vsrm"].failures == 1 and per["fast"].failures == 0
    tr = t.trend("enhancement", window=2)
    assert (tr.window, tr.recent_count, tr.previous_count) == (2, 2, 2)
    assert tr.recent_success_rate == 1.0 and tr.recent_mean_ms > 0
    tr = t.trend(None, "vsrm", window=1)
    assert tr.recent_success_rate == 0.0 and tr.previous_success_rate == 1.0
    empty = t.trend("nothing", window=5)
    assert empty.recent_count == 0 and math.isnan(empty.recent_mean_ms)
    with pytest.raises(vsr.InvalidArgumentError):
        t.trend(window=0)
    assert t.stats("nothing").count == 0 and math.isnan(t.stats("nothing").success_rate)
    # OpType values are the type names
    assert t.stats(vsr.OpType.DECODE).count == 0 and str(vsr.OpType.RUN) == "run"


def test_exports_cover_caller_types(vsr, tracker):
    t = tracker
    with t.operation("analysis", "degradation_router") as op:
        op.update(frames=2)
    pending = t.operation('odd "type"', "s\\1")
    try:
        doc = json.loads(t.export_string("json"))
        a = doc["stats"]["analysis"]
        assert a["count"] == 1 and a["frames"] == 2 and a["success_rate"] == 1
        assert a["by_strategy"]["degradation_router"]["count"] == 1
        assert a["trend"]["recent_count"] == 1 and a["trend"]["previous_mean_ms"] is None
        assert doc["strategies"]["degradation_router"]["count"] == 1
        assert [r["type"] for r in doc["in_flight"]] == ['odd "type"']
        prom = t.export_string("prometheus")
        assert ('libvsr_operations_total{type="analysis",strategy="degradation_router",'
                'result="success"} 1') in prom
        assert 'libvsr_operations_in_flight{type="odd \\"type\\"",strategy="s\\\\1"} 1' in prom
        csv = t.export_string("csv").splitlines()
        assert len(csv) == 2 and ",analysis,degradation_router," in csv[1]
    finally:
        pending.end()


def test_many_threads(vsr, tracker):
    """Threads record operations at once (the GIL is released in the C calls)."""
    t = tracker
    errors = []

    @t.track("request", "threaded")
    def work(i):
        if i % 5 == 0:
            raise KeyError(i)
        t.in_flight()
        return i

    def worker(k):
        for i in range(50):
            try:
                work(k * 50 + i)
            except KeyError:
                pass
            except Exception as e:  # anything else is a bug
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    st = t.stats("request", "threaded")
    assert (st.count, st.failures) == (400, 80)
    assert t.in_flight() == []


def test_abandoned_operation_is_recorded_on_collection(vsr, tracker):
    import gc
    t = tracker
    op = t.operation("forgotten")
    del op
    gc.collect()
    [r] = t.history()
    assert r.type == "forgotten" and not r.success and "never ended" in r.error_message
