"""What every runner shares: the interface the driver calls, and how to
find and call vsr-cli."""
import os
import shutil


class Runner:
    """The engine side of a scale-out run. The driver calls:

    start(jobs)      once, with the libvsr.scale Jobs of the run
    submit(tasks)    Tasks (plan, segment) to run, each once
    active()         the set of Tasks the engine still holds, queued or running
    last_error(task) why the task's last attempt ended without a commit (text or None)
    cancel()         stop everything submitted
    close()          release what start() took (always called at the end)

    A runner never decides whether a segment is done: the driver reads the
    commits. Engines that retry on their own (Dask after a lost worker,
    Slurm after a node failure) keep the task active meanwhile.
    """

    def start(self, jobs):
        pass

    def submit(self, tasks):
        raise NotImplementedError

    def active(self):
        raise NotImplementedError

    def last_error(self, task):
        return None

    def cancel(self):
        pass

    def close(self):
        pass


def find_cli(cli=None):
    """vsr-cli's path: the argument, $VSR_CLI, then PATH."""
    c = cli or os.environ.get("VSR_CLI") or shutil.which("vsr-cli")
    if not c:
        raise FileNotFoundError("vsr-cli not found: pass cli=, set $VSR_CLI or put it on PATH")
    return os.path.abspath(c) if os.path.sep in c else c


def segment_command(cli, plan, segment, device=None):
    cmd = [cli, "--plan", plan, "--segment", str(segment), "--quiet"]
    if device:
        cmd += ["--device", device]
    return cmd


def tail(path, n=2000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:].strip()
    except OSError:
        return ""
