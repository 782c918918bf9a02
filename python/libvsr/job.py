"""Scale-out jobs (job.h): a plan cut into segments that any number of
processes run, each committing its segment, then one stitch.

    s = libvsr.Session(model_path="x2.pt", precision="fp32")
    libvsr.Job.plan(s, "in.mkv", "out.mkv", "job.plan", segment_frames=500, codec="ffv1")
    with libvsr.Job("job.plan") as job:            # on any worker
        with job.open_session() as ses:
            job.run_segment(ses, 3)
    with libvsr.Job("job.plan") as job:            # once every segment is committed
        job.stitch()

libvsr.scale drives this over local processes, Dask or Slurm.
"""
from ctypes import byref, c_void_p
from dataclasses import dataclass

from . import _handles
from . import _lib
from . import _structs as S
from .errors import check
from .session import Session, run_result, run_settings

lib = _lib.lib


@dataclass
class JobInfo:
    """vsr_job_info: segments, how many are committed, frames in all and in
    committed segments, and the stitch mode the plan resolved."""
    segments: int
    committed: int
    frames: int
    frames_done: int
    stitch: S.StitchMode


@dataclass
class JobSegment:
    """vsr_job_segment: output frames [first_frame, first_frame + frames),
    decoded from feed_first (feed_frames frames) after a seek to seek_frame."""
    index: int
    first_frame: int
    frames: int
    feed_first: int
    feed_frames: int
    seek_frame: int
    committed: bool


def _stitch_mode(v):
    if v is None:
        return None
    if isinstance(v, str):
        try:
            return S.StitchMode[v.upper().replace("-", "_")]
        except KeyError:
            raise ValueError(f"unknown stitch mode {v!r}; one of auto, copy, closed-gop") from None
    return S.StitchMode(int(v))


class Job(_handles.Handle):
    """An open plan (vsr_job). Job(plan_path) opens it; Job.plan() writes one."""

    _kind = "job"

    def __init__(self, plan_path):
        self.path = str(plan_path)
        p = c_void_p()
        check(lib.vsr_job_open(byref(p), _lib.encode(plan_path)))
        self._take(p)

    def _free(self, ptr):
        lib.vsr_job_close(byref(ptr))

    @staticmethod
    def plan(session, input, output, plan_path, *, segment_frames=None, work_dir=None,
             stitch=None, index_decode=None, **settings):
        """Write the plan of a job (vsr_job_plan): index input, pin every
        setting that changes the output to a concrete value, cut segments of
        about segment_frames output frames. session gives the model and
        session settings; settings are upscale_file()'s output settings
        (codec, crf, preset, pix_fmt, encoder_threads, options, copy_streams,
        ...). stitch: 'auto', 'copy' or 'closed-gop'. Returns plan_path."""
        keep = []
        rs = run_settings(keep, **settings)
        js = _lib.defaults(S.vsr_job_settings, lib.vsr_job_settings_default)
        if segment_frames is not None:
            js.segment_frames = int(segment_frames)
        if work_dir is not None:
            wd = _lib.encode(work_dir)
            keep.append(wd)
            js.work_dir = wd
        if stitch is not None:
            js.stitch = int(_stitch_mode(stitch))
        if index_decode is not None:
            js.index_decode = 1 if index_decode else 0
        check(lib.vsr_job_plan(session._handle(), _lib.encode(input), _lib.encode(output),
                               byref(rs), byref(js), _lib.encode(plan_path)))
        return str(plan_path)

    def info(self):
        """JobInfo, with the commits re-read from the work directory."""
        c = S.new_sized(S.vsr_job_info)
        check(lib.vsr_job_get_info(self._handle(), byref(c)))
        try:
            mode = S.StitchMode(c.stitch)
        except ValueError:
            mode = c.stitch
        return JobInfo(c.segments, c.committed, c.frames, c.frames_done, mode)

    def segment(self, k):
        """JobSegment k (its commit state as on disk now)."""
        c = S.new_sized(S.vsr_job_segment)
        check(lib.vsr_job_get_segment(self._handle(), int(k), byref(c)))
        return JobSegment(c.index, c.first_frame, c.frames, c.feed_first, c.feed_frames,
                          c.seek_frame, bool(c.committed))

    def segments(self):
        """Every JobSegment, in order."""
        return [self.segment(k) for k in range(self.info().segments)]

    def open_session(self, device=None, model=None, tracker=None):
        """A Session with the plan's pinned settings (vsr_job_open_session).

        device: None for the plan's, or e.g. 'cuda' (the first visible GPU).
        model: a Model loaded from the plan's model file with its device
        type and precision (a per-worker cache), or None to load it.
        """
        p = c_void_p()
        check(lib.vsr_job_open_session(self._handle(), _lib.encode(device),
                                       None if model is None else model._handle(),
                                       None if tracker is None else tracker._handle(), byref(p)))
        return Session._adopt(p, tracker)

    def run_segment(self, session, k):
        """Run segment k and commit it (vsr_job_run_segment). Returns at once
        when it is already committed. Returns a RunResult; Ctrl-C cancels."""
        res = S.new_sized(S.vsr_run_result)
        job, ses, idx = self._handle(), session._handle(), int(k)

        def call():
            return lib.vsr_job_run_segment(job, ses, idx, byref(res))

        return session._run_call(call, res, None)

    def stitch(self):
        """Write the output from the committed segments and the input's other
        streams (vsr_job_stitch). IncompleteError names missing segments."""
        res = S.new_sized(S.vsr_run_result)
        check(lib.vsr_job_stitch(self._handle(), byref(res)))
        return run_result(res)

    def __repr__(self):
        return f"<libvsr.Job {self.path} {'closed' if self.closed else 'open'}>"
