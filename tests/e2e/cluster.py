"""Throw-away Slurm and Dask clusters on this machine, for the scale-out tests.

Both engines come from Debian packages (slurm-wlm and munge; python3-distributed
for Debian's /usr/bin/python3), which scripts/setup installs. Nothing here
touches the machine's own configuration: every file (munge key and socket,
slurm.conf, state and spool directories, logs) lives in a directory the test
gives, ports are free ones, and the daemons run in the foreground as children
of the test and are stopped by PID. Every process a cluster starts carries
VSR_TEST_CLUSTER=<token> in its environment (Slurm job steps inherit it from
slurmd, Dask worker processes from their nanny), so teardown can find and stop
the ones that are not its children (a job still running) and a test can check
that nothing is left.

    with start_slurm(dir) as s:        # munged + slurmctld + slurmd, 2 fake GPUs
        job = s.sbatch("echo $CUDA_VISIBLE_DEVICES", "--array=0-3", "--gres=gpu:1")
        s.wait(job)
    with start_dask(dir) as d:         # LocalCluster, 2 worker processes, 1 thread each
        d.client.submit(...)
    with start_dask_gpus(dir) as d:    # scheduler + 2 dask-worker, CUDA_VISIBLE_DEVICES=i, GPU=1
        d.client.submit(..., resources={"GPU": 1})

The fixtures slurm_cluster, dask_cluster and dask_gpu_cluster (module scope)
wrap these and check after teardown that nothing is left. A missing package
or a non-root user fails the test with what to do; nothing is skipped.
"""
import contextlib
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid

import pytest

MARKER = "VSR_TEST_CLUSTER"
START_TIMEOUT = 60   # a loaded CI machine; no test asserts on these times
STOP_TIMEOUT = 30


# ---------------------------------------------------------------------------
# Processes

def marked_processes(token):
    """PIDs of live processes whose environment carries this cluster's token
    (zombies have no environment and do not count)."""
    needle = f"{MARKER}={token}".encode() + b"\0"
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read() + b"\0"
        except OSError:
            continue
        if b"\0" + needle in b"\0" + env:
            found.append(int(name))
    return found


def alive(pid):
    """True unless the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_process(proc, timeout=STOP_TIMEOUT):
    """SIGTERM a child we started, then SIGKILL if it does not end in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_marked(token, timeout=STOP_TIMEOUT):
    """Stop, by PID, every process that still carries the token."""
    pids = marked_processes(token)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.05)
        pids = [p for p in pids if alive(p)]
        if not pids:
            return


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def need_programs(*names, package):
    paths = {}
    for n in names:
        p = shutil.which(n) or next((c for c in (f"/usr/sbin/{n}", f"/usr/bin/{n}") if os.path.exists(c)), None)
        if not p:
            pytest.fail(f"'{n}' is not installed: the scale-out tests need {package} "
                        f"(scripts/setup installs it)")
        paths[n] = p
    return paths


def wait_until(what, cond, procs=(), logs=(), timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not cond():
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            tails = "\n".join(f"--- {l}:\n{tail(l)}" for l in logs)
            why = (f"{' '.join(dead[0].args[:1])} exited with {dead[0].returncode}" if dead
                   else f"not within {timeout} s")
            pytest.fail(f"{what}: {why}\n{tails}")
        time.sleep(0.05)


def tail(path, n=3000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------
# Slurm

class SlurmCluster:
    """A running single-node Slurm cluster (see start_slurm)."""

    def __init__(self, root, token, node, partition, gpus, conf, env, programs):
        self.root = root            # everything of this cluster lives here
        self.token = token
        self.node = node            # NodeName: `hostname -s`
        self.partition = partition
        self.gpus = gpus            # fake GPUs (gres gpu), CUDA_VISIBLE_DEVICES 0..gpus-1
        self.conf = conf            # slurm.conf
        self.env = env              # environment for client commands (SLURM_CONF, token)
        self.programs = programs
        self.daemons = {}           # name -> Popen
        self.start_seconds = None
        self.stop_seconds = None

    def run(self, *cmd, check=True, timeout=60):
        """A Slurm client command (sbatch, squeue, scontrol, ...) against this cluster."""
        p = subprocess.run([str(c) for c in cmd], env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"{' '.join(map(str, cmd))} exited {p.returncode}: {p.stderr.strip()}")
        return p

    def sbatch(self, script, *args):
        """Submit a batch script (its body; a #!/bin/bash line is added) and
        return the job id. Output goes to <root>/jobs/slurm-%A_%a.out."""
        jobs = os.path.join(self.root, "jobs")
        os.makedirs(jobs, exist_ok=True)
        path = os.path.join(jobs, f"job-{uuid.uuid4().hex[:8]}.sh")
        with open(path, "w") as f:
            f.write("#!/bin/bash\n" + script + "\n")
        p = self.run("sbatch", "--parsable", "-p", self.partition, "-D", jobs,
                     "-o", os.path.join(jobs, "slurm-%A_%a.out"), *args, path)
        return p.stdout.strip().split(";")[0]

    def job_states(self, job):
        """{task id (str): state} of a job (array tasks: the array index)."""
        p = self.run("scontrol", "show", "job", "-o", job, check=False)
        states = {}
        for line in p.stdout.splitlines():
            f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            states[f.get("ArrayTaskId", f.get("JobId"))] = f.get("JobState")
        return states

    def wait(self, job, timeout=300):
        """Wait until every task of the job has ended; return job_states()."""
        final = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
                 "DEADLINE", "PREEMPTED"}
        deadline = time.monotonic() + timeout
        while True:
            states = self.job_states(job)
            if states and all(s in final for s in states.values()):
                return states
            if time.monotonic() > deadline:
                pytest.fail(f"Slurm job {job} not done within {timeout} s: {states}\n"
                            f"slurmd log:\n{tail(os.path.join(self.root, 'log', 'slurmd.log'))}")
            time.sleep(0.1)

    def processes(self):
        return marked_processes(self.token)


def _slurm_conf(c, ports, munge_socket, cpus):
    r = c.root
    return f"""# generated by tests/e2e/cluster.py for one test run
ClusterName=vsrtest
SlurmctldHost={c.node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
# no cgroup delegation in containers: process groups, no task confinement
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=1
# the configured CPUs and memory, not the machine's, so any CI machine fits
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
JobRequeue=1
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
SlurmdTimeout=30
InactiveLimit=0
KillWait=2
NodeName={c.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=1000 Gres=gpu:{c.gpus} State=UNKNOWN
PartitionName={c.partition} Nodes={c.node} Default=YES MaxTime=INFINITE State=UP
"""


@contextlib.contextmanager
def start_slurm(root, gpus=2, cpus=2):
    """munged + slurmctld + slurmd on localhost with `gpus` fake GPUs, all
    state under root; yields a SlurmCluster once the node is idle, and stops
    everything (jobs included) by PID on exit."""
    progs = need_programs("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol", "sinfo",
                          "squeue", "scancel", package="slurm-wlm and munge")
    if os.geteuid() != 0:
        pytest.fail("the Slurm test cluster needs root (slurmd starts jobs as their user)")
    root = os.path.abspath(str(root))
    for d in ("state", "spool", "log", "jobs", "munge"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, "munge"), 0o700)
    token = uuid.uuid4().hex
    node = subprocess.run(["hostname", "-s"], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    conf = os.path.join(root, "slurm.conf")
    env = dict(os.environ, SLURM_CONF=conf, **{MARKER: token})
    c = SlurmCluster(root, token, node, "debug", gpus, conf, env, progs)
    munge_dir = os.path.join(root, "munge")
    key, sock = os.path.join(munge_dir, "munge.key"), os.path.join(munge_dir, "munge.sock")
    # Fake GPUs: Slurm wants device nodes, but only counts them (task/none
    # confines nothing); these are /dev/null, /dev/zero, ... under other names.
    gpu_files = []
    for i in range(gpus):
        p = os.path.join(root, f"gpu{i}")
        try:
            os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, (3, 5, 7, 8, 9)[i % 5]))
        except OSError as e:
            pytest.fail(f"cannot make the fake GPU device {p} ({e}): the Slurm test cluster needs "
                        f"root with CAP_MKNOD")
        gpu_files.append(p)
    with open(os.path.join(root, "gres.conf"), "w") as f:
        f.writelines(f"NodeName={node} Name=gpu File={p}\n" for p in gpu_files)
    with open(conf, "w") as f:
        f.write(_slurm_conf(c, free_ports(2), sock, cpus))
    logs = [os.path.join(root, "log", n) for n in ("munged.log", "slurmctld.log", "slurmd.log")]
    t0 = time.monotonic()
    try:
        subprocess.run([progs["mungekey"], "--create", "--keyfile", key], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.chmod(key, 0o600)

        def daemon(name, *args):
            out = open(os.path.join(root, "log", name + ".out"), "w")
            c.daemons[name] = subprocess.Popen([progs[name], *args], env=env, stdout=out,
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                               start_new_session=True)
            out.close()

        daemon("munged", "--foreground", "--force", f"--socket={sock}", f"--key-file={key}",
               f"--pid-file={munge_dir}/munged.pid", f"--log-file={logs[0]}",
               f"--seed-file={munge_dir}/munged.seed")
        wait_until("munged did not create its socket", lambda: os.path.exists(sock),
                   [c.daemons["munged"]], logs[:1])
        daemon("slurmctld", "-D", "-i", "-f", conf)
        daemon("slurmd", "-D", "-f", conf)

        def idle():
            p = c.run("sinfo", "-h", "-N", "-o", "%T", check=False)
            return p.returncode == 0 and p.stdout.strip() == "idle"

        wait_until("the Slurm node did not become idle", idle, list(c.daemons.values()), logs)
        c.start_seconds = time.monotonic() - t0
        yield c
    finally:
        t1 = time.monotonic()
        _stop_slurm(c)
        c.stop_seconds = time.monotonic() - t1


def _stop_slurm(c):
    if "slurmctld" in c.daemons and c.daemons["slurmctld"].poll() is None:
        # cancel every job first, so that slurmd ends their steps itself
        p = c.run("squeue", "-h", "-o", "%A", check=False, timeout=20)
        jobs = sorted(set(p.stdout.split()))
        if jobs:
            c.run("scancel", *jobs, check=False, timeout=20)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and c.run("squeue", "-h", check=False, timeout=20).stdout.strip():
                time.sleep(0.1)
    for name in ("slurmd", "slurmctld", "munged"):
        if name in c.daemons:
            stop_process(c.daemons[name])
    stop_marked(c.token, timeout=5)  # job steps the cancel did not end (slurmstepd ignores SIGTERM)


# ---------------------------------------------------------------------------
# Dask

class DaskCluster:
    """A running Dask cluster (see start_dask and start_dask_gpus)."""

    def __init__(self, client, address, token, workers):
        self.client = client        # distributed.Client connected to it
        self.address = address      # scheduler address, for a DaskRunner
        self.token = token
        self.workers = workers      # number of worker processes
        self.start_seconds = None
        self.stop_seconds = None

    def worker_pids(self):
        """{worker address: pid of its worker process}."""
        return self.client.run(os.getpid)

    def processes(self):
        return marked_processes(self.token)


def _quiet_dask():
    for name in ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def start_dask(root, workers=2):
    """LocalCluster(n_workers=workers, processes=True, threads_per_worker=1)
    with a client; closed on exit. Its worker processes carry the token."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        pytest.fail(f"python3-distributed is not installed for {sys.executable} ({e}); scripts/setup "
                    f"installs it")
    _quiet_dask()
    token = uuid.uuid4().hex
    t0 = time.monotonic()
    cluster = client = None
    c = None
    try:
        # env: set in each worker process by its nanny (the nannies live in this process)
        cluster = LocalCluster(n_workers=workers, processes=True, threads_per_worker=1, dashboard_address=None,
                               local_directory=str(root), host="127.0.0.1", env={MARKER: token})
        client = Client(cluster)
        client.wait_for_workers(workers, timeout=START_TIMEOUT)
        c = DaskCluster(client, cluster.scheduler_address, token, workers)
        c.start_seconds = time.monotonic() - t0
        yield c
    finally:
        t1 = time.monotonic()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        stop_marked(token)
        if c is not None:
            c.stop_seconds = time.monotonic() - t1


@contextlib.contextmanager
def start_dask_gpus(root, gpus=2):
    """A scheduler and one `dask-worker` process per GPU, as on a GPU
    machine: worker i has CUDA_VISIBLE_DEVICES=i and the resource GPU=1, one
    thread. Stopped by PID on exit."""
    progs = need_programs("dask-scheduler", "dask-worker", package="python3-distributed")
    try:
        from distributed import Client
    except ImportError as e:
        pytest.fail(f"python3-distributed is not installed for {sys.executable} ({e})")
    _quiet_dask()
    root = os.path.abspath(str(root))
    os.makedirs(os.path.join(root, "log"), exist_ok=True)
    token = uuid.uuid4().hex
    # the workers import what the test can (functions it submits live in its modules)
    path = os.pathsep.join(p for p in sys.path if p)
    env = dict(os.environ, PYTHONPATH=path, **{MARKER: token})
    sched_file = os.path.join(root, "scheduler.json")
    procs = []
    client = None
    c = None
    t0 = time.monotonic()

    def start(name, args, extra_env):
        out = open(os.path.join(root, "log", name + ".log"), "w")
        procs.append(subprocess.Popen(args, env=dict(env, **extra_env), stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True))
        out.close()

    try:
        start("scheduler", [progs["dask-scheduler"], "--host", "127.0.0.1", "--port", "0",
                            "--no-dashboard", "--scheduler-file", sched_file], {})
        wait_until("dask-scheduler did not write its address", lambda: os.path.exists(sched_file), procs,
                   [os.path.join(root, "log", "scheduler.log")])
        for i in range(gpus):
            start(f"worker{i}", [progs["dask-worker"], "--scheduler-file", sched_file, "--nworkers", "1",
                                 "--nthreads", "1", "--resources", "GPU=1", "--name", f"gpu{i}",
                                 "--host", "127.0.0.1", "--no-dashboard",
                                 "--local-directory", os.path.join(root, f"worker{i}")],
                  {"CUDA_VISIBLE_DEVICES": str(i)})
        client = Client(scheduler_file=sched_file, timeout=START_TIMEOUT)
        client.wait_for_workers(gpus, timeout=START_TIMEOUT)
        c = DaskCluster(client, client.scheduler.address, token, gpus)
        c.start_seconds = time.monotonic() - t0
        yield c
    finally:
        t1 = time.monotonic()
        if client is not None:
            client.close()
        # Workers first, then the scheduler. A worker busy in a task waits
        # for it to end (threads cannot be interrupted): a short grace, then
        # SIGKILL; the test's cluster has nothing to save.
        for p in reversed(procs):
            stop_process(p, timeout=2)
        stop_marked(token, timeout=2)
        if c is not None:
            c.stop_seconds = time.monotonic() - t1


# ---------------------------------------------------------------------------
# Fixtures (module scope: one cluster for a module's tests). Each checks
# after its teardown that nothing it started is still running: a leak fails
# the last test that used it.

def _left_over(c, what):
    left = c.processes()
    if left:
        pytest.fail(f"{what}: processes left running after teardown: {left}")


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    with start_slurm(tmp_path_factory.mktemp("slurm")) as c:
        yield c
    _left_over(c, "slurm_cluster")


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    with start_dask(tmp_path_factory.mktemp("dask")) as c:
        yield c
    _left_over(c, "dask_cluster")


@pytest.fixture(scope="module")
def dask_gpu_cluster(tmp_path_factory):
    with start_dask_gpus(tmp_path_factory.mktemp("dask-gpus")) as c:
        yield c
    _left_over(c, "dask_gpu_cluster")
