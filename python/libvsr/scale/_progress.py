"""Progress of a scale-out run: the files attempts write, what the driver
sums from them, and the progress line of the command line."""
import json
import os
import sys
import time
from dataclasses import dataclass

# Each attempt of segment K runs in <work dir>/seg-K.attempt-HOST-PID-RANDOM/,
# where libvsr keeps progress.json = {"segment", "frames", "frames_done",
# "host", "pid"} up to date (rewritten atomically, about twice a second).


@dataclass
class Progress:
    """Where a run stands (given to Job.run's on_progress).

    frames_done counts committed segments' frames plus what running attempts
    report; fps and eta_s are measured over this run (-1 while unknown)."""
    frames_done: int
    frames_total: int
    fps: float
    eta_s: float
    elapsed_s: float
    segments: int
    committed: int
    running: int      # segments an engine holds (queued or running)
    retried: int      # resubmissions after a failed or lost attempt
    failed: int       # segments that used up their attempts
    files: int = 1
    files_done: int = 0


def attempt_progress(work_dir):
    """{segment: frames done} from the newest attempt of each segment (a
    killed attempt leaves its directory until the stitch; a newer one wins)."""
    newest = {}
    try:
        names = os.listdir(work_dir)
    except OSError:
        return {}
    for name in names:
        if not name.startswith("seg-") or ".attempt-" not in name:
            continue
        path = os.path.join(work_dir, name, "progress.json")
        try:
            mtime = os.stat(path).st_mtime
            with open(path) as f:
                rec = json.load(f)
            k, done = int(rec["segment"]), int(rec["frames_done"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not written yet, or the attempt just committed or ended
        if k not in newest or mtime > newest[k][0]:
            newest[k] = (mtime, done)
    return {k: v[1] for k, v in newest.items()}


def _clock(s):
    if s < 0:
        return "--:--:--"
    s = int(s + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def describe(p):
    """One line: frames, percent, fps, ETA, segments."""
    pct = 100.0 * p.frames_done / p.frames_total if p.frames_total > 0 else 0.0
    fps = f"{p.fps:.2f} fps" if p.fps >= 0 else "-- fps"
    files = f"files {p.files_done}/{p.files}  " if p.files > 1 else ""
    text = (f"{files}frames {p.frames_done}/{p.frames_total} ({pct:.1f}%)  {fps}  "
            f"ETA {_clock(p.eta_s)}  segments: {p.committed}/{p.segments} committed, "
            f"{p.running} running, {p.retried} retried")
    if p.failed:
        text += f", {p.failed} failed"
    return text


class ProgressPrinter:
    """on_progress for the command line: a bar redrawn in place on a
    terminal; elsewhere (a log file, Slurm's output) a plain line every
    `every` seconds and when something changes state."""

    def __init__(self, stream=None, every=10.0, width=30):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self.width = width
        self._last_time = 0.0
        self._last_state = None
        self._drawn = False

    def __call__(self, p):
        if self.tty:
            filled = int(self.width * p.frames_done / p.frames_total) if p.frames_total > 0 else 0
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r\033[K[{bar}] {describe(p)}")
            self._drawn = True
            self.stream.flush()
            return
        state = (p.committed, p.running, p.retried, p.failed, p.files_done)
        now = time.monotonic()
        if state != self._last_state or now - self._last_time >= self.every:
            self._last_state, self._last_time = state, now
            self.stream.write(describe(p) + "\n")
            self.stream.flush()

    def close(self):
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
