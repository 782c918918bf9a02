"""The binding of job.h: libvsr.Job (plan, info, segments, a session with the
plan's settings, run_segment, stitch), Session.upscale_range, and the
errors IncompleteError and MismatchError. Everything runs in this process,
segments in shuffled order; the stitched file must decode to exactly the
frames (and pts) of one Session.upscale_file() with the same settings."""
import os
import random

import numpy as np
import pytest

SETTINGS = dict(batch=2, chunk=6, overlap=2, tile=0)
OUTPUT = dict(codec="ffv1")


def frames_of(vsr, path):
    """[(pts, RGB float array)] of every decoded frame."""
    out = []
    with vsr.Input(path) as inp:
        for f in inp:
            with f:
                with f.convert(vsr.PixFmt.RGBF32) as g:
                    out.append((f.pts, g.to_numpy().copy()))
    return out


def assert_same_frames(vsr, got_path, want_path, first=0, count=None):
    got, want = frames_of(vsr, got_path), frames_of(vsr, want_path)
    want = want[first:None if count is None else first + count]
    assert len(got) == len(want), f"{len(got)} frames, expected {len(want)}"
    for i, ((gp, g), (wp, w)) in enumerate(zip(got, want)):
        assert gp == wp, f"frame {i}: pts {gp}, expected {wp}"
        assert np.array_equal(g, w), f"frame {i} differs (max {np.abs(g - w).max()})"


@pytest.fixture(scope="module")
def recurrent(vsr, test_model):
    return vsr.Model(test_model("recurrent-x2.pt"), precision="fp32")


@pytest.fixture(scope="module")
def single_run(vsr, recurrent, small_clip, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("single") / "single.mkv")
    with vsr.Session(recurrent, **SETTINGS) as s:
        s.upscale_file(small_clip[0], out, **OUTPUT)
    return out


def plan(vsr, recurrent, clip, tmp_path, segment_frames=4):
    plan_path = str(tmp_path / "job.plan")
    out = str(tmp_path / "out.mkv")
    with vsr.Session(recurrent, **SETTINGS) as s:
        assert vsr.Job.plan(s, clip, out, plan_path, segment_frames=segment_frames, **OUTPUT) == plan_path
    return plan_path, out


def test_plan_run_stitch_equals_single_run(vsr, recurrent, small_clip, single_run, tmp_path):
    clip, n = small_clip
    plan_path, out = plan(vsr, recurrent, clip, tmp_path)
    with vsr.Job(plan_path) as job:
        info = job.info()
        assert (info.frames, info.committed, info.frames_done) == (n, 0, 0)
        assert info.stitch == vsr.StitchMode.COPY
        segs = job.segments()
        assert len(segs) == info.segments >= 2
        assert [s.first_frame for s in segs] == [sum(t.frames for t in segs[:i]) for i in range(len(segs))]
        assert all(s.feed_first <= s.first_frame and s.seek_frame <= s.feed_first and not s.committed
                   for s in segs)
        order = list(range(len(segs)))
        random.Random(15).shuffle(order)
        with job.open_session(model=recurrent) as ses:
            for k in order:
                r = job.run_segment(ses, k)
                assert r.frames_written == segs[k].frames
            again = job.run_segment(ses, order[0])   # committed: returns at once
            assert again.frames_decoded == 0
        info = job.info()
        assert (info.committed, info.frames_done) == (len(segs), n)
        assert all(s.committed for s in job.segments())
        res = job.stitch()
        assert res.frames_written == n
    assert_same_frames(vsr, out, single_run)


def test_stitch_names_missing_segments(vsr, recurrent, small_clip, tmp_path):
    plan_path, out = plan(vsr, recurrent, small_clip[0], tmp_path)
    with vsr.Job(plan_path) as job:
        with job.open_session() as ses:
            job.run_segment(ses, 0)
        missing = job.info().segments - 1
        with pytest.raises(vsr.IncompleteError) as ei:
            job.stitch()
        assert ei.value.code == vsr.structs.VSR_ERROR_INCOMPLETE
        assert str(missing) in str(ei.value)
    assert not os.path.exists(out)


def test_cached_model_of_another_file_is_refused(vsr, recurrent, small_clip, tmp_path, tiny_model):
    plan_path, _ = plan(vsr, recurrent, small_clip[0], tmp_path)
    with vsr.Job(plan_path) as job, vsr.Model(tiny_model, precision="fp32") as other:
        with pytest.raises(vsr.MismatchError) as ei:
            job.open_session(model=other)
        assert ei.value.code == vsr.structs.VSR_ERROR_MISMATCH


def test_upscale_range_equals_the_same_frames_of_a_whole_run(vsr, recurrent, small_clip, single_run, tmp_path):
    out = str(tmp_path / "range.mkv")
    with vsr.Session(recurrent, **SETTINGS) as s:
        r = s.upscale_range(small_clip[0], out, 5, 4, **OUTPUT)
    assert r.frames_written == 4
    assert_same_frames(vsr, out, single_run, first=5, count=4)
