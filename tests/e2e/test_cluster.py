"""The throw-away Slurm and Dask clusters of cluster.py: each task gets a
(fake) GPU of its own, and stopping a cluster stops everything it started,
even a task still running. The start and stop times are printed (pytest -s)."""
import os
import time

from cluster import alive, start_dask, start_dask_gpus, start_slurm

# A task holds its GPU by creating a directory named after it: mkdir fails
# if another task holds the same GPU at the same time. No timing involved.
HOLD_GPU = """
d={locks}/gpu$CUDA_VISIBLE_DEVICES
if mkdir "$d" 2>/dev/null; then
  echo "task $SLURM_ARRAY_TASK_ID gpu $CUDA_VISIBLE_DEVICES" >> {locks}/log
  sleep 1
  rmdir "$d"
else
  echo "task $SLURM_ARRAY_TASK_ID gpu $CUDA_VISIBLE_DEVICES SHARED" >> {locks}/log
fi
"""


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def wait_for(what, cond, timeout=120):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.1)


def test_slurm_array_one_task_per_gpu(tmp_path):
    locks = tmp_path / "locks"
    locks.mkdir()
    with start_slurm(tmp_path / "slurm") as s:
        states = s.wait(s.sbatch(HOLD_GPU.format(locks=locks), "--array=0-3", "--gres=gpu:1"))
        # a job still running when the cluster stops must be stopped too
        s.sbatch("sleep 300", "--gres=gpu:1")
        wait_for("the sleeping job's process runs",
                 lambda: any(cmdline(p) == "sleep 300" for p in s.processes()))
        daemons = [p.pid for p in s.daemons.values()]
    print(f"\nslurm: up in {s.start_seconds:.2f} s, down in {s.stop_seconds:.2f} s (with a job to cancel)")
    assert states == {str(i): "COMPLETED" for i in range(4)}, states
    log = (locks / "log").read_text().split("\n")
    tasks = [line.split() for line in log if line]
    assert len(tasks) == 4 and {t[1] for t in tasks} == {"0", "1", "2", "3"}, log
    assert not [t for t in tasks if "SHARED" in t], f"two tasks held one GPU at once: {log}"
    assert {t[3] for t in tasks} <= {"0", "1"}, f"CUDA_VISIBLE_DEVICES outside the 2 fake GPUs: {log}"
    assert not [p for p in daemons if alive(p)], "a Slurm daemon outlived the cluster"
    assert not s.processes(), f"processes left running: {[cmdline(p) for p in s.processes()]}"


def hold_gpu(locks, i):
    """A Dask task: hold this worker's GPU for a moment (see HOLD_GPU); a
    worker without a GPU holds its process instead."""
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES")
    d = os.path.join(locks, f"gpu{gpu}" if gpu is not None else f"pid{os.getpid()}")
    try:
        os.mkdir(d)
    except FileExistsError:
        return (i, gpu, os.getpid(), "SHARED")
    time.sleep(0.5)
    os.rmdir(d)
    return (i, gpu, os.getpid(), "ok")


def sleep_long():
    time.sleep(300)


def start_long_task(d):
    """A task that will still run when the cluster stops (keep the future:
    a released one is cancelled)."""
    fut = d.client.submit(sleep_long, pure=False)
    wait_for("the long task starts", lambda: any(d.client.processing().values()))
    return fut


def test_dask_local_cluster(tmp_path):
    locks = str(tmp_path / "locks")
    os.mkdir(locks)
    with start_dask(tmp_path / "dask") as d:
        pids = set(d.worker_pids().values())
        got = d.client.gather([d.client.submit(hold_gpu, locks, i, pure=False) for i in range(4)])
        running = start_long_task(d)  # noqa: F841 (kept until the cluster stops)
    print(f"\ndask LocalCluster: up in {d.start_seconds:.2f} s, down in {d.stop_seconds:.2f} s")
    assert len(pids) == 2 and os.getpid() not in pids, pids
    assert {g[2] for g in got} <= pids and not [g for g in got if g[3] != "ok"], got
    assert not [p for p in pids if alive(p)], "a worker process outlived the cluster"
    assert not d.processes(), f"processes left running: {[cmdline(p) for p in d.processes()]}"


def test_dask_one_worker_per_gpu(tmp_path):
    locks = str(tmp_path / "locks")
    os.mkdir(locks)
    with start_dask_gpus(tmp_path / "dask-gpus") as d:
        pids = set(d.worker_pids().values())
        gpus = d.client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        got = d.client.gather([d.client.submit(hold_gpu, locks, i, pure=False, resources={"GPU": 1})
                               for i in range(4)])
        marked = set(d.processes())
        running = start_long_task(d)  # noqa: F841 (kept until the cluster stops)
    print(f"\ndask per-GPU workers: up in {d.start_seconds:.2f} s, down in {d.stop_seconds:.2f} s")
    assert sorted(gpus.values()) == ["0", "1"], gpus
    assert not [g for g in got if g[3] != "ok"], f"two tasks held one GPU at once: {got}"
    assert {g[1] for g in got} <= {"0", "1"} and len(got) == 4, got
    assert pids <= marked, "the worker processes do not carry the cluster's token"
    assert not [p for p in pids if alive(p)], "a worker process outlived the cluster"
    assert not d.processes(), f"processes left running: {[cmdline(p) for p in d.processes()]}"
