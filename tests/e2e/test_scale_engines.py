"""libvsr.scale on real engines: a job planned, run by 2 Dask workers or 2
Slurm array tasks at a time, stitched, equals one plain vsr-cli run; and it
still does when a worker is killed mid-segment or the Slurm node goes down.

Equality is checked on the stitched file against the single run's: every
decoded video frame (content and pts, ffmpeg's framemd5), every audio and
subtitle packet (data and timestamps), the chapters, the container's and
streams' metadata and the attachment. The clips are made from real
photographs: scale_streams.mkv (96 frames of open-GOP H.264 with B-frames,
AAC audio longer than the video, SRT subtitles, two chapters, a title;
segments cut mid-GOP) for the engines' identity runs, streams.mkv (24
frames, AAC, SRT, a font attachment, two chapters, a title) and its first
12 frames for the rest.

Kills are deterministic: the test freezes (SIGSTOP) the process an attempt
names in its progress file, checks that the attempt is mid-way and not
committed (a frozen process cannot commit), and only then kills it. Slow
runs come from the slow-x2 test model, not from sleeps or test hooks.

This module loads libvsr into Python (the driver, Dask workers), so it is
in its own meson suite ('scale'), which the sanitizer builds leave out.
"""
import json
import os
import signal
import time

import pytest

from conftest import clip, need_file, run, run_cli, tmodel

from libvsr.scale import DaskRunner, Job, JobError, LocalRunner, SlurmRunner, plan_many

# Every setting that could be "auto" is given, for the reference run and the
# plan alike: fp32, one inference thread, whole frames, chunks of 10 frames
# overlapping by 2 (sequence models), pairs of frames per pass. FFV1 output:
# the stitch copies packets (mode copy).
SETTINGS = dict(precision="fp32", threads=1, batch=2, chunk=10, overlap=2, tile=0, codec="ffv1")
SEGMENT_FRAMES = 8     # streams.mkv has 24 frames: 3 segments, 2 workers
CLIP = "streams.mkv"
# The engines' identity runs: 96 frames of open-GOP H.264 (3 B-frames,
# keyframes every 12) with AAC audio longer than the video, subtitles,
# chapters and a title, in segments of about 20 frames: cut mid-GOP.
OPEN_GOP_CLIP = "scale_streams.mkv"
OPEN_GOP_SEGMENT_FRAMES = 20
# The kill tests: slow-x2 spends a few tenths of a second per forward pass;
# one frame a pass and the clip's first 12 frames in segments of 4 give
# every attempt a window of 3 passes to be caught in, at a small cost.
SLOW = dict(batch=1)
SLOW_SEGMENT_FRAMES = 4


def cli_args(settings):
    """vsr-cli's spelling of keyword settings."""
    return [a for k, v in settings.items() for a in ("--" + k.replace("_", "-"), str(v))]


# ---------------------------------------------------------------------------
# What "identical" compares

def _ffprobe(path, *args):
    p = run(["ffprobe", "-v", "error", "-of", "json", *args, path])
    if p.returncode != 0:
        pytest.fail(f"ffprobe {path}: {p.stderr[-2000:]}")
    return json.loads(p.stdout or "{}")


def video_frames(path):
    """framemd5 rows of the decoded video: pts, duration, size and MD5 of every frame."""
    p = run(["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
             "-f", "framemd5", "-"])
    if p.returncode != 0:
        pytest.fail(f"ffmpeg framemd5 {path}: {p.stderr[-2000:]}")
    return [line for line in p.stdout.splitlines() if line and not line.startswith("#")]


def packets(path, sel):
    j = _ffprobe(path, "-select_streams", sel, "-show_packets", "-show_data_hash", "MD5")
    return [(p.get("pts"), p.get("dts"), p.get("duration"), p.get("flags"), p.get("data_hash"))
            for p in j.get("packets", [])]


def signature(path):
    """Everything that must equal between the stitched and the single run."""
    need_file(path, "output")
    info = _ffprobe(path, "-show_streams", "-show_format", "-show_chapters")
    streams = [{k: s.get(k) for k in ("index", "codec_type", "codec_name", "width", "height", "pix_fmt",
                                      "sample_rate", "channels", "time_base", "r_frame_rate", "disposition",
                                      "extradata_size")}
               for s in info.get("streams", [])]
    # Matroska's per-stream DURATION tag is not metadata but the muxer's
    # sum of the last timestamp and duration, in a finer time base than
    # the file's milliseconds: a single run's encoder knows the last
    # frame's exact duration (41.67 ms), packets copied from segment files
    # only its rounded one (41 ms), so the tags differ by 1 ms. The frames'
    # pts and durations themselves are compared above (framemd5).
    for st, s in zip(streams, info.get("streams", [])):
        st["tags"] = {k: v for k, v in (s.get("tags") or {}).items() if k != "DURATION"}
    chapters = [(c.get("start"), c.get("end"), c.get("time_base"), c.get("tags")) for c in info.get("chapters", [])]
    return {"video": video_frames(path), "audio": packets(path, "a"), "subtitles": packets(path, "s"),
            "chapters": chapters, "streams": streams, "format_tags": info.get("format", {}).get("tags")}


def assert_identical(out, ref):
    got, want = signature(out), signature(ref)
    assert len(want["video"]) >= 12 and want["audio"] and want["subtitles"] and len(want["chapters"]) == 2, \
        f"the reference lacks what the test compares: {ref}"
    for key in want:
        if got[key] != want[key]:
            g, w = got[key], want[key]
            first = next((i for i, (a, b) in enumerate(zip(g, w)) if a != b), min(len(g), len(w))) \
                if isinstance(w, list) else None
            pytest.fail(f"{key} differs from the single run: {len(g) if isinstance(g, list) else ''} vs "
                        f"{len(w) if isinstance(w, list) else ''} entries; first difference at {first}:\n"
                        f"stitched: {g[first] if first is not None and first < len(g) else g}\n"
                        f"single:   {w[first] if first is not None and first < len(w) else w}")


# ---------------------------------------------------------------------------
# Jobs and their work directories

_refs = {}


@pytest.fixture(scope="module")
def short_clip(data_dir, tmp_path_factory):
    """streams.mkv's first 12 frames with the other streams (packets copied)."""
    out = str(tmp_path_factory.mktemp("short") / "short.mkv")
    p = run(["ffmpeg", "-v", "error", "-nostdin", "-i", clip(data_dir, CLIP), "-map", "0", "-c", "copy",
             "-frames:v", "12", out])
    if p.returncode != 0:
        pytest.fail(f"could not cut {CLIP}: {p.stderr[-2000:]}")
    return out


def reference(cli, src, test_models, model, tmp_path_factory, **extra):
    """One plain vsr-cli run of src with the model and SETTINGS (updated
    with extra), cached per module."""
    key = (src, model, tuple(sorted(extra.items())))
    if key not in _refs:
        out = str(tmp_path_factory.mktemp("ref") / f"ref-{model}.mkv")
        run_cli(cli, ["-i", src, "-o", out, "-m", tmodel(test_models, model), *cli_args(dict(SETTINGS, **extra))])
        _refs[key] = out
    return _refs[key]


def plan(src, test_models, tmp_path, model, segment_frames=SEGMENT_FRAMES, **extra):
    out = str(tmp_path / "out.mkv")
    job = Job.plan(src, out, segment_frames=segment_frames, model=tmodel(test_models, model),
                   **dict(SETTINGS, **extra))
    return job, out


def attempts(work_dir):
    """[(attempt dir, progress record)] of the attempts that have a progress file."""
    found = []
    for name in sorted(os.listdir(work_dir)) if os.path.isdir(work_dir) else []:
        if ".attempt-" in name:
            try:
                with open(os.path.join(work_dir, name, "progress.json")) as f:
                    found.append((os.path.join(work_dir, name), json.load(f)))
            except (OSError, ValueError):
                pass
    return found


def check_commits(job):
    """Before the stitch: one committed directory per segment, each with its
    manifest naming the segment's frames; then stitch and check that no
    attempt directory, .partial file or work directory is left."""
    segs = job.segments()
    committed = sorted(n for n in os.listdir(job.work_dir) if n.startswith("seg-") and ".attempt-" not in n)
    assert committed == sorted(f"seg-{s.index}" for s in segs), f"commits: {committed}"
    for s in segs:
        with open(os.path.join(job.work_dir, f"seg-{s.index}", "manifest.json")) as f:
            m = json.load(f)
        assert m["frames"] == s.frames, f"segment {s.index}: manifest {m}"
    res = job.stitch()
    assert res.frames_written == sum(s.frames for s in segs)
    assert not os.path.exists(job.work_dir), f"the stitch left {os.listdir(job.work_dir)}"
    assert not os.path.exists(job.output + ".partial")
    return res


class Freezer:
    """on_progress hook: once an attempt is mid-way (0 < frames_done <
    frames), SIGSTOP its process, make sure the attempt is still not
    committed, then act (kill it, take its node down, ...)."""

    def __init__(self, job, allowed_pids, act):
        self.job = job
        self.allowed = allowed_pids      # callable: the pids it may freeze
        self.act = act
        self.done = None                 # (attempt dir, record) once acted

    def __call__(self, progress):
        if self.done:
            return
        pids = self.allowed()
        for d, rec in attempts(self.job.work_dir):
            pid = int(rec.get("pid", 0))
            if pid not in pids or not 0 < rec["frames_done"] < rec["frames"]:
                continue
            os.kill(pid, signal.SIGSTOP)
            if os.path.isdir(d):  # still an attempt: frozen, it cannot commit now
                self.act(pid, d, rec)
                self.done = (d, rec)
                return
            os.kill(pid, signal.SIGCONT)   # it committed just before: try another


def wait_dead(pid, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.05)
    pytest.fail(f"process {pid} still alive {timeout} s after it was killed")


def assert_not_committed_by(attempt_dir):
    """The attempt whose directory this is did not commit its segment (it
    may have removed its directory: a SIGTERM cancels cleanly)."""
    work, name = os.path.split(attempt_dir)
    seg, attempt = name.split(".attempt-")
    try:
        with open(os.path.join(work, seg, "manifest.json")) as f:
            by = json.load(f).get("attempt")
    except FileNotFoundError:
        return
    assert by != attempt, f"the stopped attempt {attempt} committed {seg}"


def kill(pid, attempt_dir, rec):
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    assert_not_committed_by(attempt_dir)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def slurm_task_pids(cluster):
    return lambda: {p for p in cluster.processes() if "--segment" in cmdline(p) and "vsr-cli" in cmdline(p)}


def slurm_runner(cluster, cli, **kw):
    return SlurmRunner(cluster.partition, gres="gpu:1", max_parallel=2, cli=cli, env=cluster.env, **kw)


# ---------------------------------------------------------------------------
# Identity

@pytest.mark.parametrize("model", ["recurrent-x2.pt", "tiny-x2.pt"])
def test_dask_identical_to_single_run(dask_cluster, cli, data_dir, test_models, tmp_path, tmp_path_factory, model):
    src = clip(data_dir, OPEN_GOP_CLIP)
    ref = reference(cli, src, test_models, model, tmp_path_factory)
    job, out = plan(src, test_models, tmp_path, model, OPEN_GOP_SEGMENT_FRAMES)
    assert job.info().segments >= 4
    seen = []
    job.run(DaskRunner(dask_cluster.client), on_progress=seen.append, stitch=False)
    check_commits(job)
    assert_identical(out, ref)
    last = seen[-1]
    assert (last.frames_done, last.frames_total, last.committed) == (96, 96, job.info().segments)


@pytest.mark.parametrize("model", ["recurrent-x2.pt", "tiny-x2.pt"])
def test_slurm_identical_to_single_run(slurm_cluster, cli, data_dir, test_models, tmp_path, tmp_path_factory,
                                       model):
    src = clip(data_dir, OPEN_GOP_CLIP)
    ref = reference(cli, src, test_models, model, tmp_path_factory)
    job, out = plan(src, test_models, tmp_path, model, OPEN_GOP_SEGMENT_FRAMES)
    assert job.info().segments >= 4
    # with the per-frame model, as if MaxArraySize were 2: segments 0-1 in
    # one array, the rest in others with an offset added to the task index
    runner = slurm_runner(slurm_cluster, cli, max_array_size=2 if model == "tiny-x2.pt" else None)
    job.run(runner, stitch=False)
    if model == "tiny-x2.pt":
        assert len({job_id for job_id, _ in runner.tasks}) >= 2, runner.tasks
    check_commits(job)
    assert_identical(out, ref)


def test_command_line_local_identical(cli, data_dir, test_models, tmp_path, tmp_path_factory):
    """python3 -m libvsr.scale --engine local --workers 2: same output, and
    plain progress lines when stderr is not a terminal."""
    ref = reference(cli, clip(data_dir, CLIP), test_models, "recurrent-x2.pt", tmp_path_factory)
    out = str(tmp_path / "cli.mkv")
    p = run([os.environ.get("VSR_PYTHON", "python3"), "-m", "libvsr.scale", "-i", clip(data_dir, CLIP), "-o", out,
             "--engine", "local", "--workers", "2", "--segment-frames", str(SEGMENT_FRAMES), "--cli", cli,
             "-m", tmodel(test_models, "recurrent-x2.pt"), *cli_args(SETTINGS)])
    assert p.returncode == 0, p.stderr
    assert "segments: 3/3 committed" in p.stderr and "\r" not in p.stderr, p.stderr
    assert_identical(out, ref)
    assert not os.path.exists(out + ".vsr-plan.json.work")


# ---------------------------------------------------------------------------
# Faults

def test_dask_worker_killed_mid_segment(dask_cluster, cli, short_clip, test_models, tmp_path, tmp_path_factory):
    """SIGKILL the Dask worker process running a segment: the nanny starts a
    new worker, the scheduler reruns the task, the output is the same."""
    ref = reference(cli, short_clip, test_models, "slow-x2.pt", tmp_path_factory, **SLOW)
    job, out = plan(short_clip, test_models, tmp_path, "slow-x2.pt", SLOW_SEGMENT_FRAMES, **SLOW)
    freezer = Freezer(job, lambda: set(dask_cluster.worker_pids().values()), kill)
    job.run(DaskRunner(dask_cluster.client), on_progress=freezer, poll_interval=0.1, stitch=False)
    assert freezer.done, "no worker was caught mid-segment"
    check_commits(job)
    assert_identical(out, ref)


def test_slurm_task_killed_mid_segment(slurm_cluster, cli, short_clip, test_models, tmp_path, tmp_path_factory):
    """SIGKILL the vsr-cli of an array task: the task fails, the driver sees
    the segment neither committed nor queued and submits it again."""
    ref = reference(cli, short_clip, test_models, "slow-x2.pt", tmp_path_factory, **SLOW)
    job, out = plan(short_clip, test_models, tmp_path, "slow-x2.pt", SLOW_SEGMENT_FRAMES, **SLOW)
    freezer = Freezer(job, slurm_task_pids(slurm_cluster), kill)
    seen = []

    def progress(p):
        seen.append(p)
        freezer(p)

    job.run(slurm_runner(slurm_cluster, cli), on_progress=progress, poll_interval=0.1, stitch=False)
    assert freezer.done, "no task was caught mid-segment"
    assert seen[-1].retried >= 1, "the killed segment was not submitted again"
    check_commits(job)
    assert_identical(out, ref)


def test_slurm_node_down_mid_run(slurm_cluster, cli, short_clip, test_models, tmp_path, tmp_path_factory):
    """The node goes down under a running task: Slurm requeues the tasks
    (--requeue) and holds them (Reason=BeginTime); once the node is back,
    the runner releases the hold, and the job ends as a single run would."""
    s = slurm_cluster
    ref = reference(cli, short_clip, test_models, "slow-x2.pt", tmp_path_factory, **SLOW)
    job, out = plan(short_clip, test_models, tmp_path, "slow-x2.pt", SLOW_SEGMENT_FRAMES, **SLOW)
    runner = slurm_runner(s, cli)

    def node_down(pid, attempt_dir, rec):
        s.run("scontrol", "update", f"nodename={s.node}", "state=down", "reason=libvsr-test")
        wait_dead(pid)   # slurmd ends the (frozen) task: SIGCONT, SIGTERM, then SIGKILL
        assert_not_committed_by(attempt_dir)
        # ReturnToService=2 may have brought the node back already (then
        # "resume" is refused as invalid); otherwise resume it
        s.run("scontrol", "update", f"nodename={s.node}", "state=resume", check=False)
        deadline = time.monotonic() + 60
        while s.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.strip() not in ("idle", "mixed",
                                                                                          "allocated"):
            assert time.monotonic() < deadline, "the node did not come back"
            time.sleep(0.1)

    freezer = Freezer(job, slurm_task_pids(s), node_down)
    job.run(runner, on_progress=freezer, poll_interval=0.1, stitch=False)
    assert freezer.done, "no task was caught mid-segment"
    assert runner.held_released, "no requeued task was held by Slurm and released by the runner"
    check_commits(job)
    assert_identical(out, ref)


def test_segment_failing_every_time_ends_after_max_attempts(cli, data_dir, test_models, tmp_path):
    """throws-after-3 raises on its 4th forward pass; loading it makes two
    (checks), so a process upscales one frame and fails on the second. Of
    the first 5 frames cut in 4 + 1, the 4-frame segment fails in every
    attempt (a fresh process each time), the other succeeds. The run ends
    with an error naming the segment after 3 attempts (no endless
    resubmission); the other segment stays committed for a later run."""
    job, out = plan(clip(data_dir, CLIP), test_models, tmp_path, "throws-after-3.pt", segment_frames=4, batch=1,
                    max_frames=5)
    segs = job.segments()
    assert [s.frames for s in segs] == [4, 1], segs
    poison = [0]
    runner = LocalRunner(processes=2, cli=cli)
    submitted = []
    real_submit = runner.submit

    def counting_submit(tasks):
        submitted.extend(tasks)
        real_submit(tasks)

    runner.submit = counting_submit
    with pytest.raises(JobError) as ei:
        job.run(runner, max_attempts=3)
    msg = str(ei.value)
    for k in poison:
        assert f"segment {k} failed 3 time(s)" in msg, msg
        assert sum(1 for t in submitted if t.segment == k) == 3, submitted
    assert "deliberate failure" in msg, f"the model's error is not in the message: {msg}"
    assert ei.value.segments == tuple(poison)
    assert job.committed() == {s.index for s in segs if s.frames <= 3}
    assert not os.path.exists(out)


def test_many_files_one_bad(slurm_cluster, cli, data_dir, test_models, tmp_path, tmp_path_factory):
    """A batch of 3 inputs, one of them not a video: it is reported, the
    other two are planned, run as (file, segment) tasks of one array and
    stitched."""
    ref = reference(cli, clip(data_dir, CLIP), test_models, "tiny-x2.pt", tmp_path_factory)
    inputs = [clip(data_dir, CLIP), clip(data_dir, "text.mp4"), clip(data_dir, CLIP)]
    outputs = [str(tmp_path / f"out{i}.mkv") for i in range(3)]
    batch = plan_many(inputs, outputs, segment_frames=12, model=tmodel(test_models, "tiny-x2.pt"),
                      **SETTINGS)
    assert len(batch.jobs) == 2
    results = batch.run(slurm_runner(slurm_cluster, cli))
    assert [r.ok for r in results] == [True, False, True], results
    assert "text.mp4" in results[1].error and "planning failed" in results[1].error
    assert_identical(outputs[0], ref)
    assert_identical(outputs[2], ref)
    assert not os.path.exists(outputs[1])
