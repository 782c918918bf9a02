"""Scale-out through vsr-cli (--plan with --segment-frames, --segment, --stitch,
--status): a job planned, its segments run by separate vsr-cli processes in a
shuffled order (two at a time), then stitched, against one plain vsr-cli run
of the same settings.

Identity is checked with FFmpeg: `ffmpeg -f framemd5` of the decoded video
(content and pts of every frame), of the audio and subtitle packets (copied:
their data and timestamps), and ffprobe's chapters and tags. Muxer statistics
tags (Matroska's DURATION, NUMBER_OF_FRAMES, BPS, ...) are left out: they
describe the file, and the last frame's duration comes out 1 ms apart
(Matroska stores durations in ms; a segment's demuxer gives 41 ms where the
encoder had 42).

* Models: tiny-x2 (per-frame, batch 3), window5-center-x2 (window, batch 2),
  recurrent-x2 (a state carried along the whole chunk: only the exact chunk
  grid reproduces it), on scale_streams.mkv (96 frames of open-GOP H.264
  with B-frames, keyframes every 12: every cut is mid-GOP; AAC audio longer
  than the video, SRT subtitles, chapters, a title). The recurrent plan's
  last segment (12 frames) is shorter than its chunk (16).
* A clip shorter than a chunk (one segment whatever --segment-frames says),
  a one-frame clip, VFR H.264 with B-frames, open-GOP H.264 in MP4 (a
  demuxer that indexes keyframes by dts), HEVC with CRA keyframes and
  leading pictures.
* ffv1 output (stitch mode copy) equals the plain run; x264 output (closed
  GOP per segment) is packet for packet the output of a --resume run with
  the same segments, in .mkv and in .mp4 (B-frames: the decode timestamps
  must keep increasing across the joins), and not the plain run (which is
  one GOP structure for the whole clip).
* --status JSON; a committed segment holds its video and manifest only; the
  command line refuses settings where the plan gives them.
* Faults: two concurrent processes on one segment both succeed and leave one
  commit; a plan reused against a changed input, a changed model file or
  other settings is refused naming what changed; a segment on a full disk
  (ulimit -f: writes fail with EFBIG) fails, leaves nothing committed and no
  attempt directory, and a retry commits; stitch with a segment missing
  exits 4 naming it; a worker SIGKILLed mid-segment (slow-x2, its attempt's
  progress.json showing frames done) leaves no commit, and a rerun removes
  the dead attempt and commits once; the stitched output is still identical.
"""
import concurrent.futures
import glob
import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest

from conftest import RUN_TIMEOUT, check_no_crash, clip, run, run_cli, tmodel

SEED = 15


# ---------------------------------------------------------------------------
# Helpers

def job_cli(cli, args, expect=0):
    """vsr-cli with a plan's action: no settings are added (they come from
    the plan)."""
    args = [str(a) for a in args]
    p = run([cli] + args)
    check_no_crash(p)
    if p.returncode != expect:
        pytest.fail(f"vsr-cli {' '.join(args)} exited {p.returncode}, expected {expect}:\n{p.stderr[-4000:]}")
    return p


def status(cli, plan):
    return json.loads(job_cli(cli, ["--plan", plan, "--status"]).stdout)


def plan_job(cli, inp, out, plan, model, settings, segment_frames, expect=0):
    return run_cli(cli, ["-i", inp, "-o", out, "-m", model, *settings, "--plan", plan,
                         "--segment-frames", segment_frames], expect=expect)


def run_segments(cli, plan, ks, workers=2):
    """Each segment by its own vsr-cli process, in the order given, `workers` at once."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        list(ex.map(lambda k: job_cli(cli, ["--plan", plan, "--segment", k]), ks))


def scaled_job(cli, inp, out, plan, model, settings, segment_frames, seed=SEED):
    """Plan, every segment in a shuffled order, stitch. Returns the status
    before the stitch."""
    plan_job(cli, inp, out, plan, model, settings, segment_frames)
    st = status(cli, plan)
    ks = list(range(st["segments"]))
    random.Random(seed).shuffle(ks)
    run_segments(cli, plan, ks)
    st = status(cli, plan)
    job_cli(cli, ["--plan", plan, "--stitch"])
    assert not os.path.exists(plan + ".work"), "the stitch left the work directory"
    assert not os.path.exists(out + ".partial")
    return st


def framemd5_rows(path, sel, copy=False):
    """`ffmpeg -f framemd5` rows of one stream: decoded frames, or with copy
    the packets as they are (timestamps, size and MD5 of every one)."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", "0:" + sel]
    cmd += ["-c", "copy"] if copy else ["-fps_mode", "passthrough"]
    p = run(cmd + ["-f", "framemd5", "-"])
    if p.returncode != 0:
        pytest.fail(f"ffmpeg framemd5 {path} {sel}: {p.stderr[-2000:]}")
    return [tuple(c.strip() for c in line.split(",")) for line in p.stdout.splitlines()
            if line and not line.startswith("#")]


STATISTICS_TAGS = ("DURATION", "NUMBER_OF_FRAMES", "NUMBER_OF_BYTES", "BPS", "_STATISTICS_")


def description(path):
    """Chapters, container tags, and each stream's kind, codec, disposition
    and tags (without muxer statistics)."""
    p = run(["ffprobe", "-v", "error", "-of", "json", "-show_chapters", "-show_format", "-show_streams", path])
    j = json.loads(p.stdout)
    streams = [(s["codec_type"], s.get("codec_name"), json.dumps(s.get("disposition"), sort_keys=True),
                {k: v for k, v in s.get("tags", {}).items() if not k.upper().startswith(STATISTICS_TAGS)})
               for s in j["streams"]]
    chapters = [(c["start_time"], c["end_time"], c.get("tags")) for c in j.get("chapters", [])]
    return chapters, j["format"].get("tags"), streams


def assert_identical(out, ref, what, audio=True, subtitles=True):
    a, b = framemd5_rows(out, "v:0"), framemd5_rows(ref, "v:0")
    assert len(a) == len(b) and len(a) > 0, f"{what}: {len(a)} frames, the plain run {len(b)}"
    bad = [i for i in range(len(a)) if a[i] != b[i]]
    assert not bad, f"{what}: frames {bad[:10]} differ in content or pts from the plain run: {a[bad[0]]} vs {b[bad[0]]}"
    for sel, present in (("a:0", audio), ("s:0", subtitles)):
        if present:
            pa, pb = framemd5_rows(out, sel, copy=True), framemd5_rows(ref, sel, copy=True)
            assert pa == pb and len(pa) > 0, f"{what}: the {sel} packets differ ({len(pa)} vs {len(pb)})"
    da, db = description(out), description(ref)
    assert da == db, f"{what}: chapters or tags differ:\n{da}\n{db}"
    return len(a)


# ---------------------------------------------------------------------------
# Identity with a plain run

LOSSLESS = ["--codec", "ffv1", "--threads", "1", "--precision", "fp32"]

CASES = [
    # name, clip, model, settings, segment frames, (audio, subtitles), segments expected
    ("per-frame", "scale_streams.mkv", "tiny-x2.pt", ["--batch", "3"], 20, (True, True), 5),
    ("window", "scale_streams.mkv", "window5-center-x2.pt", ["--batch", "2"], 25, (True, True), 4),
    ("recurrent", "scale_streams.mkv", "recurrent-x2.pt", ["--chunk", "16", "--overlap", "4"], 30, (True, True), 4),
    ("clip-shorter-than-chunk", "scale_streams.mkv", "recurrent-x2.pt", ["--chunk", "128", "--overlap", "8"], 10,
     (True, True), 1),
    ("one-frame", "single_frame.mp4", "tiny-x2.pt", [], 10, (False, False), 1),
    ("vfr", "seek_vfr.mkv", "tiny-x2.pt", ["--batch", "2"], 17, (False, False), 5),
    ("h264-open-gop-mp4", "seek_h264_open_gop.mp4", "window5-center-x2.pt", [], 17, (False, False), 6),
    ("hevc-cra", "seek_hevc_cra.mkv", "recurrent-x2.pt", ["--chunk", "12", "--overlap", "4"], 20, (False, False), 6),
]


@pytest.mark.parametrize("name,clipname,model,settings,seg,streams_,n_segments", CASES, ids=[c[0] for c in CASES])
def test_identity(cli, data_dir, test_models, tmp_path, name, clipname, model, settings, seg, streams_, n_segments):
    inp = clip(data_dir, clipname)
    m = tmodel(test_models, model)
    ref = str(tmp_path / "plain.mkv")
    out = str(tmp_path / "stitched.mkv")
    plan = str(tmp_path / "job.json")
    run_cli(cli, ["-i", inp, "-o", ref, "-m", m, *LOSSLESS, *settings])
    st = scaled_job(cli, inp, out, plan, m, [*LOSSLESS, *settings], seg)
    assert st["segments"] == n_segments and st["committed"] == n_segments, st
    assert st["frames_done"] == st["frames"] and st["stitch"] == "copy", st
    firsts = [s["first_frame"] for s in st["segment"]]
    print(f"\n{name}: {st['frames']} frames in {st['segments']} segments starting at {firsts}")
    n = assert_identical(out, ref, name, *streams_)
    assert n == st["frames"]
    if name == "recurrent":
        # the last segment is shorter than a chunk, and the cuts are mid-GOP
        assert st["segment"][-1]["frames"] < 16, st["segment"][-1]
        assert any(f % 12 for f in firsts[1:]), firsts


def test_status_and_command_line(cli, data_dir, test_models, tmp_path):
    inp = clip(data_dir, "scale_streams.mkv")
    m = tmodel(test_models, "tiny-x2.pt")
    plan, out = str(tmp_path / "job.json"), str(tmp_path / "out.mkv")
    plan_job(cli, inp, out, plan, m, [*LOSSLESS, "--batch", "4"], 40)
    st = status(cli, plan)
    assert (st["segments"], st["committed"], st["frames"], st["frames_done"]) == (3, 0, 96, 0), st
    assert [s["state"] for s in st["segment"]] == ["pending"] * 3
    assert sum(s["frames"] for s in st["segment"]) == 96
    job_cli(cli, ["--plan", plan, "--segment", 2])
    st = status(cli, plan)
    assert st["committed"] == 1 and st["frames_done"] == st["segment"][2]["frames"], st
    assert [s["state"] for s in st["segment"]] == ["pending", "pending", "committed"]
    # a commit holds the video and its manifest, not the attempt's progress file
    assert sorted(os.listdir(plan + ".work/seg-2")) == ["manifest.json", "video.mkv"]
    # what the plan gives is refused on the command line (exit 2)
    for bad in (["--plan", plan, "--segment", 0, "--codec", "ffv1"], ["--plan", plan, "--segment", 0, "-m", m],
                ["--plan", plan, "--stitch", "--device", "cpu"], ["--plan", plan],
                ["--segment", 0], ["--plan", plan, "--segment", 0, "--stitch"],
                ["--plan", plan, "--segment-frames", 10], ["--plan", plan, "--segment", -1],
                ["-i", inp, "-o", out, "-m", m, "-ss", "1", "--plan", plan, "--segment-frames", 10],
                ["--plan", plan, "--segment", 0, "-progress", "pipe:1"]):
        p = job_cli(cli, bad, expect=2)
        assert "vsr-cli:" in p.stderr, p.stderr
    job_cli(cli, ["--plan", plan, "--segment", 3], expect=1)  # no such segment
    job_cli(cli, ["--plan", plan, "--segment", 0, "--device", "cpu"])
    assert status(cli, plan)["committed"] == 2


# ---------------------------------------------------------------------------
# Long-GOP output: closed GOPs, equal to a resumable run with the same segments

@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_closed_gop_x264(cli, data_dir, test_models, tmp_path, ext):
    inp = clip(data_dir, "scale_streams.mkv")
    m = tmodel(test_models, "tiny-x2.pt")
    x264 = ["--codec", "libx264", "--preset", "veryfast", "--threads", "1", "--precision", "fp32"]
    plain, resumed = str(tmp_path / f"plain.{ext}"), str(tmp_path / f"resumed.{ext}")
    out, plan = str(tmp_path / f"stitched.{ext}"), str(tmp_path / "job.json")
    run_cli(cli, ["-i", inp, "-o", plain, "-m", m, *x264])
    run_cli(cli, ["-i", inp, "-o", resumed, "-m", m, *x264, "--resume"])
    st = scaled_job(cli, inp, out, plan, m, x264, 48)  # resume's segments: 48 frames
    assert st["stitch"] == "closed-gop" and st["segments"] == 2, st
    a, b = framemd5_rows(out, "v:0", copy=True), framemd5_rows(resumed, "v:0", copy=True)
    assert a == b and len(a) == 96, f"x264 .{ext}: the stitched packets differ from the resumable run's"
    assert framemd5_rows(out, "a:0", copy=True) == framemd5_rows(plain, "a:0", copy=True)
    # every frame keeps its pts; in MP4 (which stores decode timestamps) they
    # increase across the join although the encoder delays frames (B-frames)
    p = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=dts,pts,flags",
             "-of", "json", out])
    pk = json.loads(p.stdout)["packets"]
    if ext == "mp4":
        dts = [int(x["dts"]) for x in pk]
        assert all(x < y for x, y in zip(dts, dts[1:])), f"dts do not increase: {dts}"
        assert dts[0] < int(pk[0]["pts"]), "no B-frame delay: the test does not test the join"
    assert sorted(int(x["pts"]) for x in pk) == sorted(int(r[2]) for r in framemd5_rows(plain, "v:0", copy=True))
    # a keyframe where the second segment starts; the plain run is one GOP structure, so it differs
    first2 = st["segment"][1]["first_frame"]
    key_pts = sorted(int(x["pts"]) for x in pk if "K" in x["flags"])
    all_pts = sorted(int(x["pts"]) for x in pk)
    assert all_pts[first2] in key_pts, f"no keyframe at frame {first2}"
    assert framemd5_rows(plain, "v:0", copy=True) != a


# ---------------------------------------------------------------------------
# Faults

def attempts(plan, k=None):
    return glob.glob(plan + ".work/seg-" + ("*" if k is None else str(k)) + ".attempt-*")


def test_concurrent_attempts(cli, data_dir, test_models, tmp_path):
    inp = clip(data_dir, "scale_streams.mkv")
    m = tmodel(test_models, "tiny-x2.pt")
    ref, out, plan = str(tmp_path / "plain.mkv"), str(tmp_path / "out.mkv"), str(tmp_path / "job.json")
    run_cli(cli, ["-i", inp, "-o", ref, "-m", m, *LOSSLESS])
    plan_job(cli, inp, out, plan, m, LOSSLESS, 48)
    procs = [subprocess.Popen([cli, "--plan", plan, "--segment", "1", "-v"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=RUN_TIMEOUT)[1] for p in procs]
    for p, e in zip(procs, errs):
        assert p.returncode == 0, f"a concurrent attempt failed ({p.returncode}):\n{e}"
    how = ["committed by another worker first" in e or "already committed" in e for e in errs]
    print(f"\nthe second attempt: {'lost the commit race' if any('another worker' in e for e in errs) else 'found it committed'}")
    assert sum(how) == 1, f"exactly one attempt must have committed:\n{errs}"
    assert os.path.isdir(plan + ".work/seg-1") and not attempts(plan)
    assert status(cli, plan)["committed"] == 1
    job_cli(cli, ["--plan", plan, "--segment", 0])
    job_cli(cli, ["--plan", plan, "--stitch"])
    assert_identical(out, ref, "after concurrent attempts")


def test_changed_input_model_settings_refused(cli, data_dir, test_models, tmp_path):
    inp = str(tmp_path / "in.mkv")
    shutil.copy2(clip(data_dir, "scale_streams.mkv"), inp)
    m = str(tmp_path / "model.pt")
    shutil.copy2(tmodel(test_models, "tiny-x2.pt"), m)
    out, plan = str(tmp_path / "out.mkv"), str(tmp_path / "job.json")
    plan_job(cli, inp, out, plan, m, LOSSLESS, 48)
    # other settings for the same plan: refused, naming them
    p = plan_job(cli, inp, out, plan, m, [*LOSSLESS, "--tile", "64"], 48, expect=1)
    assert "exists for another job" in p.stderr and "tile size changed" in p.stderr, p.stderr
    p = plan_job(cli, inp, out, plan, m, LOSSLESS, 30, expect=1)
    assert "the segments changed" in p.stderr, p.stderr
    plan_job(cli, inp, out, plan, m, LOSSLESS, 48)  # the same job: kept
    # a changed model file (touched), then as planned again
    with open(plan) as f:
        mtime = json.load(f)["model"]["mtime_ns"]
    os.utime(m, ns=(mtime + 10**9, mtime + 10**9))
    p = job_cli(cli, ["--plan", plan, "--segment", 0], expect=1)
    assert "model file" in p.stderr and "changed since the plan" in p.stderr, p.stderr
    assert not attempts(plan) and status(cli, plan)["committed"] == 0
    os.utime(m, ns=(mtime, mtime))
    job_cli(cli, ["--plan", plan, "--segment", 0])
    # a changed input (same path, other content)
    shutil.copy2(clip(data_dir, "long_120.mkv"), inp)
    p = job_cli(cli, ["--plan", plan, "--segment", 1], expect=1)
    assert "input file" in p.stderr and "changed since the plan" in p.stderr, p.stderr
    p = job_cli(cli, ["--plan", plan, "--stitch"], expect=4)  # segment 1 is missing either way
    st = status(cli, plan)
    assert st["committed"] == 1 and not attempts(plan)


def test_disk_full_segment(cli, data_dir, test_models, tmp_path):
    inp = clip(data_dir, "scale_streams.mkv")
    m = tmodel(test_models, "tiny-x2.pt")
    ref, out, plan = str(tmp_path / "plain.mkv"), str(tmp_path / "out.mkv"), str(tmp_path / "job.json")
    run_cli(cli, ["-i", inp, "-o", ref, "-m", m, *LOSSLESS])
    plan_job(cli, inp, out, plan, m, LOSSLESS, 48)
    # 200 KiB per file: the plan is read, the segment's video (about 1.5 MB) cannot be written
    cmd = f"ulimit -f 200; exec '{cli}' --plan '{plan}' --segment 0"
    p = run(["bash", "-c", cmd])
    check_no_crash(p)
    assert p.returncode == 1, f"exit {p.returncode} with the disk full:\n{p.stderr}"
    assert "writ" in p.stderr.lower(), f"the message does not say writing failed:\n{p.stderr}"
    assert not os.path.exists(plan + ".work/seg-0") and not attempts(plan), os.listdir(plan + ".work")
    assert status(cli, plan)["committed"] == 0
    job_cli(cli, ["--plan", plan, "--segment", 0])  # the retry
    p = job_cli(cli, ["--plan", plan, "--stitch"], expect=4)
    assert "segment 1" in p.stderr and "not committed" in p.stderr, p.stderr
    assert not os.path.exists(out) and not os.path.exists(out + ".partial")
    job_cli(cli, ["--plan", plan, "--segment", 1])
    job_cli(cli, ["--plan", plan, "--stitch"])
    assert_identical(out, ref, "after a full disk")


def test_killed_worker(cli, data_dir, test_models, tmp_path):
    inp = clip(data_dir, "scale_streams.mkv")
    m = tmodel(test_models, "slow-x2.pt")  # a fraction of a second per frame: time to kill it mid-way
    ref, out, plan = str(tmp_path / "plain.mkv"), str(tmp_path / "out.mkv"), str(tmp_path / "job.json")
    settings = [*LOSSLESS, "--max-frames", "48"]
    plan_job(cli, inp, out, plan, m, settings, 24)
    st = status(cli, plan)
    frames0 = st["segment"][0]["frames"]
    p = subprocess.Popen([cli, "--plan", plan, "--segment", "0"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    done = 0
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline and p.poll() is None:
            for a in attempts(plan, 0):
                try:
                    with open(os.path.join(a, "progress.json")) as f:
                        done = json.load(f)["frames_done"]
                except (OSError, ValueError, KeyError):
                    pass
            if done > 0:
                break
            time.sleep(0.05)
        finished = p.poll() is not None
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read()
    assert not finished and 0 < done < frames0, f"not killed mid-segment ({done} of {frames0} done):\n{err}"
    print(f"\nkilled with {done} of {frames0} frames of segment 0 done")
    assert not os.path.exists(plan + ".work/seg-0"), "a killed worker left a commit"
    assert len(attempts(plan, 0)) == 1, "the killed attempt's directory should be there (stale)"
    assert status(cli, plan)["committed"] == 0
    p = job_cli(cli, ["--plan", plan, "--segment", 0, "-v"])
    assert "left by a process that is gone" in p.stderr, p.stderr
    assert os.path.isdir(plan + ".work/seg-0") and not attempts(plan)
    run_segments(cli, plan, range(1, st["segments"]))
    job_cli(cli, ["--plan", plan, "--stitch"])
    run_cli(cli, ["-i", inp, "-o", ref, "-m", m, *settings])
    assert_identical(out, ref, "after a killed worker")
