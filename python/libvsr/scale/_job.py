"""Job, Batch and the driver loop they share.

The driver trusts the committed segment directories, not the engine: each
round it asks the runner which tasks it still holds (queued or running),
then reads the commits, and submits every segment that is neither, up to
max_attempts times. The order matters: a task that ends between the two
reads is seen committed, never "lost".
"""
import json
import os
import time
from collections import namedtuple
from dataclasses import dataclass
from typing import Optional

from .. import job as _cjob
from ..errors import VsrError
from ..session import Model, RunResult, Session, configure
from . import _settings
from ._progress import Progress, attempt_progress

#: One unit of work for a runner: segment `segment` of the plan at `plan`.
Task = namedtuple("Task", "plan segment")


class JobError(RuntimeError):
    """A job could not be finished: segments that failed max_attempts times
    (named, with the last error the engine reported), or a failed stitch.
    Committed segments stay: Job.open(plan).run(...) goes on from them."""

    def __init__(self, message, plan=None, segments=()):
        super().__init__(message)
        self.plan = plan
        self.segments = tuple(segments)


@dataclass
class FileResult:
    """What became of one file of a Batch."""
    input: str
    output: str
    plan: Optional[str] = None
    result: Optional[RunResult] = None   # the stitch's, when it succeeded
    error: Optional[str] = None          # why it failed (planning, segments, stitch)
    failed_segments: tuple = ()          # segments that used up their attempts

    @property
    def ok(self):
        return self.error is None


def read_plan(plan_path):
    """The plan file as a dict (written by vsr_job_plan)."""
    with open(plan_path) as f:
        return json.load(f)


def _plan_work_dir(plan_path, plan):
    wd = plan.get("work_dir") if isinstance(plan, dict) else None
    if not wd:
        return str(plan_path) + ".work"
    return wd if os.path.isabs(wd) else os.path.join(os.path.dirname(os.path.abspath(plan_path)), wd)


def _open_planner(settings):
    """(model, session, run_kw, job_kw) for planning, from vsr-cli-like settings."""
    s = _settings.split(settings)
    if s["threads"] is not None:
        configure(threads=int(s["threads"]))
    model = Model(s["model"] or _settings.default_model(), **s["model_kw"])
    try:
        session = Session(model, **s["session_kw"])
    except BaseException:
        model.close()
        raise
    return model, session, s["run_kw"], s["job_kw"]


def _default_plan_path(output):
    return os.path.abspath(str(output)) + ".vsr-plan.json"


class Job:
    """A scale-out job: a plan file, its segments, and a run over a runner.

        job = Job.plan("film.mkv", "film-x2.mkv", segment_frames=1000,
                       model="x2.pt", precision="fp32", codec="ffv1")
        job.run(LocalRunner(processes=2), on_progress=print)

    Job.open(plan) takes up an existing plan (another run, a crash): the
    segments already committed are kept.
    """

    def __init__(self, plan_path):
        self.plan_path = os.path.abspath(str(plan_path))
        self._c = _cjob.Job(self.plan_path)
        self._plan = read_plan(self.plan_path)
        self.work_dir = _plan_work_dir(self.plan_path, self._plan)
        inp = self._plan.get("input")
        self.input = inp.get("path") if isinstance(inp, dict) else inp
        self.output = self._plan.get("output")

    # ---------------------------------------------------------------- plan
    @classmethod
    def plan(cls, input, output, *, segment_frames, work_dir=None, plan=None, **settings):
        """Plan the job of upscaling input into output: index the input, pin
        every setting that changes the output, cut segments of about
        segment_frames output frames. settings are vsr-cli's options with
        '_' for '-' (model, device, precision, threads, batch, chunk,
        overlap, tile, tile_pad, tile_blend, chunk_blend, mem_limit, codec,
        crf, preset, pix_fmt, encoder_options, no_copy_streams, hwdec,
        max_frames, max_size, stitch_mode ('auto', 'copy', 'closed-gop'),
        index_decode). plan: the plan file (default <output>.vsr-plan.json);
        work_dir: where segments are committed (default <plan>.work); both
        must be on storage every worker sees."""
        plan = plan or _default_plan_path(output)
        model, session, run_kw, job_kw = _open_planner(settings)
        try:
            _plan_one(session, input, output, plan, segment_frames, work_dir, run_kw, job_kw)
        finally:
            session.close()
            model.close()
        return cls(plan)

    @classmethod
    def open(cls, plan):
        """The job of an existing plan file."""
        return cls(plan)

    # ---------------------------------------------------------------- state
    def info(self):
        """libvsr.JobInfo (commits re-read from disk)."""
        return self._c.info()

    def segments(self):
        return self._c.segments()

    def committed(self):
        """Indices of the committed segments, as on disk now."""
        return {s.index for s in self._c.segments() if s.committed}

    def stitch(self):
        """Write the output from the committed segments (libvsr.Job.stitch)."""
        return self._c.stitch()

    def close(self):
        self._c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<libvsr.scale.Job {self.plan_path}>"

    # ------------------------------------------------------------------ run
    def run(self, runner, max_attempts=3, on_progress=None, poll_interval=0.5, stitch=True):
        """Run every segment not yet committed on runner, then stitch.

        on_progress(Progress) is called about every poll_interval seconds.
        Returns the stitch's RunResult (None with stitch=False: the caller
        stitches later, e.g. elsewhere). Raises JobError naming the
        segments that failed max_attempts times (after the others have
        finished, so a later run only redoes those) or the stitch's error."""
        results = _Driver([self], runner, max_attempts, on_progress, poll_interval, stitch).run()
        r = results[0]
        if r.error:
            raise JobError(r.error, self.plan_path, r.failed_segments)
        return r.result


def _plan_one(session, input, output, plan, segment_frames, work_dir, run_kw, job_kw):
    os.makedirs(os.path.dirname(os.path.abspath(plan)) or ".", exist_ok=True)
    _cjob.Job.plan(session, os.path.abspath(str(input)), os.path.abspath(str(output)), plan,
                   segment_frames=segment_frames,
                   work_dir=None if work_dir is None else os.path.abspath(str(work_dir)),
                   **job_kw, **run_kw)


class Batch:
    """Many files planned alike and run as one pool of (file, segment)
    tasks: a file that cannot be planned, or whose segments or stitch
    fail, is reported in its FileResult and does not stop the others."""

    def __init__(self, jobs, results):
        self.jobs = jobs          # the planned Jobs
        self.planned = results    # FileResult per input, in order (error set if planning failed)

    def run(self, runner, max_attempts=3, on_progress=None, poll_interval=0.5, stitch=True):
        """Run every job's segments on runner, stitching each job when its
        last segment commits. Returns a FileResult per input, in order."""
        done = iter(_Driver(self.jobs, runner, max_attempts, on_progress, poll_interval, stitch).run()
                    if self.jobs else [])
        out = []
        for fr in self.planned:
            out.append(next(done) if fr.error is None else fr)
        return out

    def close(self):
        for j in self.jobs:
            j.close()


def plan_many(inputs, outputs, *, segment_frames, plan_dir=None, **settings):
    """Plan a Batch: inputs[i] -> outputs[i], all with the same settings (one
    model load). A file that cannot be planned (unreadable, no video, ...)
    is kept in Batch.planned with its error; the others are planned.
    plan_dir: where the plan files go (default: next to each output)."""
    inputs, outputs = [str(i) for i in inputs], [str(o) for o in outputs]
    if len(inputs) != len(outputs):
        raise ValueError(f"plan_many: {len(inputs)} inputs but {len(outputs)} outputs")
    model, session, run_kw, job_kw = _open_planner(settings)
    jobs, planned = [], []
    try:
        for i, (inp, out) in enumerate(zip(inputs, outputs)):
            plan = (os.path.join(plan_dir, f"{i:05d}-{os.path.basename(out)}.vsr-plan.json") if plan_dir
                    else _default_plan_path(out))
            fr = FileResult(inp, out, plan)
            try:
                _plan_one(session, inp, out, plan, segment_frames, None, run_kw, job_kw)
                jobs.append(Job(plan))
            except (VsrError, OSError, ValueError) as e:
                fr.error = f"{inp}: planning failed: {e}"
            planned.append(fr)
    finally:
        session.close()
        model.close()
    return Batch(jobs, planned)


class _JobState:
    def __init__(self, job):
        self.job = job
        self.n = job.info().segments
        self.frames = [s.frames for s in job.segments()]
        self.total = sum(self.frames)
        self.committed = set()
        self.failed = {}         # segment -> last error
        self.result = FileResult(job.input or "", job.output or "", job.plan_path)
        self.finished = False


class _Driver:
    def __init__(self, jobs, runner, max_attempts, on_progress, poll_interval, stitch=True):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.states = [_JobState(j) for j in jobs]
        self.runner = runner
        self.max_attempts = max_attempts
        self.on_progress = on_progress
        self.poll = poll_interval
        self.attempts = {}        # Task -> submissions so far
        self.retried = 0
        self.stitch = stitch

    def run(self):
        self.runner.start([s.job for s in self.states])
        t0 = time.monotonic()
        for st in self.states:
            st.committed = st.job.committed()
        done_at_start = sum(self._done_frames(st, {}) for st in self.states)
        try:
            while True:
                active = set(self.runner.active())   # first: see the module's comment
                submit = []
                for st in self.states:
                    if not st.finished:
                        submit += self._round(st, active)
                if submit:
                    self.runner.submit(submit)
                    active |= set(submit)
                self._report(t0, done_at_start, active)
                if all(st.finished for st in self.states):
                    break
                time.sleep(self.poll)
        except BaseException:
            self.runner.cancel()
            raise
        finally:
            self.runner.close()
        return [st.result for st in self.states]

    def _round(self, st, active):
        st.committed = st.job.committed()
        mine = {t.segment for t in active if t.plan == st.job.plan_path}
        submit = []
        for k in range(st.n):
            if k in st.committed or k in mine or k in st.failed:
                continue
            t = Task(st.job.plan_path, k)
            n = self.attempts.get(t, 0)
            if n >= self.max_attempts:
                why = self.runner.last_error(t) or "the attempt ended without committing the segment"
                st.failed[k] = why
                continue
            if n:
                self.retried += 1
            self.attempts[t] = n + 1
            submit.append(t)
        if len(st.committed) == st.n:
            self._stitch(st)
        elif st.failed and not mine and not submit:
            # every other segment has ended: report the job
            names = ", ".join(f"segment {k} failed {self.attempts[Task(st.job.plan_path, k)]} "
                              f"time(s); last error: {why}" for k, why in sorted(st.failed.items()))
            st.result.error = f"{st.job.plan_path}: {names}"
            st.result.failed_segments = tuple(sorted(st.failed))
            st.finished = True
        return submit

    def _stitch(self, st):
        st.finished = True
        if not self.stitch:
            return
        try:
            st.result.result = st.job.stitch()
        except (VsrError, OSError) as e:
            st.result.error = f"{st.job.plan_path}: stitch failed: {e}"

    def _done_frames(self, st, progress):
        done = sum(st.frames[k] for k in st.committed)
        done += sum(min(v, st.frames[k]) for k, v in progress.items()
                    if 0 <= k < st.n and k not in st.committed)
        return done

    def _report(self, t0, done_at_start, active):
        if self.on_progress is None:
            return
        frames_done = frames_total = segments = committed = failed = 0
        for st in self.states:
            prog = {} if st.finished else attempt_progress(st.job.work_dir)
            if st.finished and st.result.error is None:
                frames_done += st.total
                committed += st.n
            else:
                frames_done += self._done_frames(st, prog)
                committed += len(st.committed)
            frames_total += st.total
            segments += st.n
            failed += len(st.failed)
        elapsed = time.monotonic() - t0
        ran = frames_done - done_at_start
        fps = ran / elapsed if elapsed > 0 and ran > 0 else -1.0
        eta = (frames_total - frames_done) / fps if fps > 0 else -1.0
        self.on_progress(Progress(frames_done, frames_total, fps, eta, elapsed, segments, committed,
                                  len(active), self.retried, failed, len(self.states),
                                  sum(1 for st in self.states if st.finished)))
