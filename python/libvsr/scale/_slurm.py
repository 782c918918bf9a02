"""SlurmRunner: segments as the tasks of sbatch job arrays.

Each array task runs `vsr-cli --plan P --segment K` on a node (no Python
there). The runner talks to Slurm only through its commands: sbatch
--parsable, squeue, scontrol. Tasks are submitted with --requeue, so a
node that fails sends its tasks back to the queue, where Slurm holds them
(Reason=BeginTime, about two minutes); the runner releases such holds at
once with `scontrol update jobid=... StartTime=now`.
"""
import os
import shlex
import shutil
import subprocess
import time
import uuid

from ._runner import Runner, find_cli, tail

# squeue's answer while a submitted task has not ended
_ACTIVE_STATES = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
                  "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED"}


def array_spec(ids):
    """'0-3,7,9-10' for sorted ids."""
    ids = sorted(ids)
    parts = []
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(parts)


class SlurmError(RuntimeError):
    """A Slurm command failed (its command line and message are in the text)."""


class SlurmRunner(Runner):
    """Segments as Slurm array tasks.

    partition: -p (None: the cluster's default); gres: --gres per task (one
    GPU each: "gpu:1"; None for CPU-only nodes); max_parallel: the array
    throttle %N (at most N tasks at once); extra_sbatch: more sbatch
    arguments (e.g. ["--time=02:00:00", "--account=proj"]). cli: vsr-cli's
    path on the nodes; device: passed as --device (e.g. "cuda": the task's
    GPU). The batch scripts and the tasks' output go to script_dir (default:
    a directory next to the first plan; it must be on shared storage).
    env: environment for the Slurm commands (e.g. SLURM_CONF).
    max_array_size: the cluster's MaxArraySize (default: asked with
    `scontrol show config`); arrays are cut so that indices stay below it.
    """

    def __init__(self, partition=None, gres="gpu:1", max_parallel=None, extra_sbatch=(), *, cli=None,
                 device=None, script_dir=None, env=None, max_array_size=None, command_timeout=60):
        self.partition = partition
        self.gres = gres
        self.max_parallel = max_parallel
        self.extra_sbatch = list(extra_sbatch)
        self.cli = find_cli(cli)
        self.device = device
        self.script_dir = script_dir
        self.env = dict(env) if env is not None else None
        self.timeout = command_timeout
        self.name = f"vsr-{uuid.uuid4().hex[:10]}"
        self.tasks = {}          # (array job id, array index) -> Task
        self.held_released = set()
        self.errors = {}
        self.last_seen = {}      # Task -> (job id, index) of its latest submission
        self._own_dir = False
        self._max_array = max_array_size
        self._active = set()
        self._failing_since = None
        self._n = 0

    # ------------------------------------------------------------ commands
    def _run(self, *cmd, check=True):
        try:
            p = subprocess.run([str(c) for c in cmd], env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SlurmError(f"{' '.join(map(str, cmd))}: {e}") from None
        if check and p.returncode != 0:
            raise SlurmError(f"{' '.join(map(str, cmd))} exited {p.returncode}: {p.stderr.strip()}")
        return p

    def max_array_size(self):
        """The cluster's MaxArraySize: array indices must stay below it."""
        if self._max_array is None:
            self._max_array = 1001
            for line in self._run("scontrol", "show", "config").stdout.splitlines():
                k, _, v = line.partition("=")
                if k.strip() == "MaxArraySize" and v.strip().isdigit():
                    self._max_array = int(v.strip())
        return self._max_array

    # --------------------------------------------------------------- runner
    def start(self, jobs):
        if self.script_dir is None:
            first = jobs[0].plan_path if jobs else os.getcwd()
            self.script_dir = os.path.join(os.path.dirname(first), f".{self.name}")
            self._own_dir = True
        os.makedirs(self.script_dir, exist_ok=True)

    def _command(self, plan_word, segment_word):
        """The task's vsr-cli line; the words are already shell words."""
        line = f"exec {shlex.quote(self.cli)} --plan {plan_word} --segment {segment_word} --quiet"
        if self.device:
            line += f" --device {shlex.quote(self.device)}"
        return line

    def _sbatch(self, body, ids):
        self._n += 1
        script = os.path.join(self.script_dir, f"array-{self._n}.sh")
        with open(script, "w") as f:
            f.write("#!/bin/bash\n# libvsr scale-out: one array task runs one segment\n" + body + "\n")
        spec = array_spec(ids) + (f"%{int(self.max_parallel)}" if self.max_parallel else "")
        args = ["sbatch", "--parsable", f"--array={spec}", "--requeue", f"--job-name={self.name}",
                "-o", os.path.join(self.script_dir, "%A_%a.out"), "-D", self.script_dir]
        if self.partition:
            args += ["-p", self.partition]
        if self.gres:
            args += [f"--gres={self.gres}"]
        args += self.extra_sbatch + [script]
        return self._run(*args).stdout.strip().split(";")[0]

    def submit(self, tasks):
        if not tasks:
            return
        limit = self.max_array_size()
        plans = {t.plan for t in tasks}
        if len(plans) == 1:
            # array index = segment (minus an offset for segments past MaxArraySize)
            plan = next(iter(plans))
            chunks = {}
            for t in tasks:
                chunks.setdefault(t.segment // limit * limit, []).append(t.segment)
            for offset, segs in sorted(chunks.items()):
                expr = '"$SLURM_ARRAY_TASK_ID"' if offset == 0 else f'"$((SLURM_ARRAY_TASK_ID + {offset}))"'
                job = self._sbatch(self._command(shlex.quote(plan), expr), [s - offset for s in segs])
                for s in segs:
                    self._record(job, s - offset, plan, s)
            return
        # many files: array index i runs line i of a list of "segment<TAB>plan"
        for start in range(0, len(tasks), limit):
            chunk = tasks[start:start + limit]
            self._n += 1
            listing = os.path.join(self.script_dir, f"tasks-{self._n}.txt")
            with open(listing, "w") as f:
                f.writelines(f"{t.segment}\t{t.plan}\n" for t in chunk)
            body = (f'IFS=$\'\\t\' read -r seg plan < <(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" '
                    f'{shlex.quote(listing)})\n' + self._command('"$plan"', '"$seg"'))
            job = self._sbatch(body, range(len(chunk)))
            for i, t in enumerate(chunk):
                self._record(job, i, t.plan, t.segment)

    def _record(self, job, index, plan, segment):
        from ._job import Task
        t = Task(plan, segment)
        self.tasks[(job, index)] = t
        self.last_seen[t] = (job, index)
        self._active.add(t)

    def _squeue(self):
        p = self._run("squeue", "-h", "-r", f"--name={self.name}", "-o", "%F|%K|%T|%r", check=False)
        if p.returncode != 0:
            raise SlurmError(f"squeue exited {p.returncode}: {p.stderr.strip()}")
        rows = []
        for line in p.stdout.splitlines():
            f = line.strip().split("|")
            if len(f) == 4 and f[1].isdigit():
                rows.append((f[0], int(f[1]), f[2], f[3]))
        return rows

    def active(self):
        try:
            rows = self._squeue()
        except SlurmError:
            # slurmctld busy or restarting: keep the last answer for a while
            # rather than resubmit everything; give up after 5 minutes
            now = time.monotonic()
            self._failing_since = self._failing_since or now
            if now - self._failing_since > 300:
                raise
            return set(self._active)
        self._failing_since = None
        live = set()
        for job, index, state, reason in rows:
            t = self.tasks.get((job, index))
            if t is None or state not in _ACTIVE_STATES:
                continue
            if self.last_seen.get(t) != (job, index):
                continue   # an older submission the driver gave up on
            live.add(t)
            if state == "PENDING" and reason == "BeginTime":
                # requeued after a node failure: release the hold
                self._run("scontrol", "update", f"jobid={job}_{index}", "StartTime=now", check=False)
                self.held_released.add((job, index))
        self._active = live
        return set(live)

    def last_error(self, task):
        where = self.last_seen.get(task)
        if where is None:
            return None
        job, index = where
        state = ""
        p = self._run("scontrol", "show", "job", "-o", f"{job}_{index}", check=False)
        for kv in p.stdout.split():
            if kv.startswith(("JobState=", "ExitCode=", "Reason=")):
                state += kv + " "
        log = tail(os.path.join(self.script_dir, f"{job}_{index}.out"))
        self.errors[task] = log
        return f"Slurm task {job}_{index} {state.strip() or 'ended'}: {log or '(no output)'}"

    def cancel(self):
        jobs = sorted({job for (job, _), t in self.tasks.items() if t in self._active})
        if jobs:
            self._run("scancel", *jobs, check=False)
        self._active = set()

    def close(self):
        self.cancel()
        if self._own_dir and self.script_dir and not self.errors:
            shutil.rmtree(self.script_dir, ignore_errors=True)
