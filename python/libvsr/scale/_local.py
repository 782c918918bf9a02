"""LocalRunner: segments as vsr-cli processes on this machine."""
import collections
import os
import shutil
import signal
import subprocess
import tempfile

from ._runner import Runner, find_cli, segment_command, tail


def cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class LocalRunner(Runner):
    """Up to `processes` vsr-cli processes at a time, one segment each.

    On a CPU, the plan pins the inference thread count (it changes the
    results), and every process uses it: plan with threads = cores //
    processes (python3 -m libvsr.scale does so) so that they share the
    machine. device: passed as --device (e.g. "cuda"); env: extra
    environment, one dict for every process or a list of dicts, one per
    process slot (e.g. [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]).
    """

    def __init__(self, processes=None, *, cli=None, device=None, env=None):
        self.processes = int(processes or cpu_count())
        if self.processes < 1:
            raise ValueError("LocalRunner: processes must be at least 1")
        self.cli = find_cli(cli)
        self.device = device
        self.env = env
        self.queue = collections.deque()
        self.running = {}          # Task -> (Popen, slot, log path)
        self.errors = {}
        self.logs = None
        self._n = 0

    def start(self, jobs):
        self.logs = tempfile.mkdtemp(prefix="vsr-local-")

    def _slot_env(self, slot):
        e = self.env
        if isinstance(e, (list, tuple)):
            e = e[slot % len(e)]
        return None if e is None else dict(os.environ, **e)

    def _fill(self):
        free = [s for s in range(self.processes) if s not in {v[1] for v in self.running.values()}]
        while self.queue and free:
            t = self.queue.popleft()
            slot = free.pop(0)
            self._n += 1
            log = os.path.join(self.logs, f"{self._n}-seg-{t.segment}.log")
            with open(log, "w") as f:
                p = subprocess.Popen(segment_command(self.cli, t.plan, t.segment, self.device),
                                     stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                     env=self._slot_env(slot))
            self.running[t] = (p, slot, log)

    def _reap(self):
        for t, (p, slot, log) in list(self.running.items()):
            rc = p.poll()
            if rc is None:
                continue
            del self.running[t]
            if rc != 0:
                how = f"killed by signal {-rc}" if rc < 0 else f"exited {rc}"
                self.errors[t] = f"vsr-cli {how}: {tail(log) or '(no output)'}"
            os.unlink(log)

    def submit(self, tasks):
        self.queue.extend(tasks)
        self._reap()
        self._fill()

    def active(self):
        self._reap()
        self._fill()
        return set(self.queue) | set(self.running)

    def last_error(self, task):
        return self.errors.get(task)

    def pids(self):
        """{Task: pid} of the running vsr-cli processes."""
        return {t: v[0].pid for t, v in self.running.items()}

    def cancel(self):
        self.queue.clear()
        for p, _, _ in self.running.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)   # vsr-cli stops cleanly, commits nothing
        for p, _, _ in self.running.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.running.clear()

    def close(self):
        self.cancel()
        if self.logs:
            shutil.rmtree(self.logs, ignore_errors=True)
            self.logs = None
