"""DaskRunner: segments as Dask tasks.

A task calls vsr_job_run_segment in the worker process through the ctypes
binding (ctypes releases the GIL, so the worker's heartbeats go on). The
ModelCache worker plugin keeps each loaded model per worker process, so
only a worker's first segment pays for the model load. isolate=True runs
vsr-cli as a subprocess instead (a crash takes only that process).
"""
import os
import subprocess
import threading
import uuid

from ._runner import Runner, find_cli, segment_command

PLUGIN_NAME = "libvsr-model-cache"

try:
    from distributed import WorkerPlugin as _PluginBase
except ImportError:  # the plugin is only ever built where distributed is installed
    _PluginBase = object


class ModelCache(_PluginBase):
    """Worker plugin: {(model file, device, precision): libvsr.Model}."""

    name = PLUGIN_NAME

    def setup(self, worker):
        self.models = {}
        self.lock = threading.Lock()

    def teardown(self, worker):
        for m in self.models.values():
            m.close()
        self.models = {}

    def model(self, path, device, precision):
        import libvsr
        key = (os.path.realpath(path), device, precision)
        with self.lock:
            m = self.models.get(key)
            if m is None:
                m = self.models[key] = libvsr.Model(path, device=device, precision=precision)
            return m


def _plan_model(plan, device):
    """(model path, device, precision) the plan pins, the cache's key; None
    when the plan does not say (the session then loads the model itself)."""
    model, session = plan.get("model") or {}, plan.get("session") or {}
    path, prec = model.get("path"), session.get("precision")
    dev = device or session.get("device")
    if not path or not prec or not dev:
        return None
    return path, dev, prec


def run_segment(plan_path, segment, device=None, isolate=False, cli=None):
    """The Dask task: run one segment, in-process or (isolate) through vsr-cli.

    Returns the number of frames written (0 when it was already committed).
    Raises RuntimeError naming the segment (plain, so it pickles whatever
    libvsr error caused it)."""
    if isolate:
        p = subprocess.run(segment_command(cli, plan_path, segment, device),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        if p.returncode != 0:
            raise RuntimeError(f"segment {segment}: vsr-cli exited {p.returncode}: {p.stdout[-2000:].strip()}")
        return -1
    import libvsr
    from ._job import read_plan
    cache = None
    try:
        from distributed import get_worker
        cache = get_worker().plugins.get(PLUGIN_NAME)
    except (ImportError, ValueError):
        pass
    try:
        key = _plan_model(read_plan(plan_path), device)
        with libvsr.Job(plan_path) as job:
            if job.segment(segment).committed:
                return 0
            model = cache.model(*key) if cache is not None and key else None
            with job.open_session(device=device, model=model) as ses:
                return job.run_segment(ses, segment).frames_written
    except (libvsr.VsrError, OSError, ValueError) as e:
        raise RuntimeError(f"segment {segment} of {plan_path}: {type(e).__name__}: {e}") from None


class DaskRunner(Runner):
    """Segments as tasks on a Dask cluster.

    client_or_address: a distributed.Client, or a scheduler address (then
    the runner connects and closes its own client). Tasks ask for
    resources={'GPU': 1} when the cluster's workers declare GPU resources
    (one dask-worker per GPU, CUDA_VISIBLE_DEVICES set, --resources GPU=1).
    device: the device each task opens (None = the plan's; "cuda" = the
    worker's first visible GPU). isolate=True runs vsr-cli in a
    subprocess (cli= its path on the workers) instead of in-process.
    """

    def __init__(self, client_or_address, *, isolate=False, cli=None, device=None):
        self._client_arg = client_or_address
        self.client = None
        self._own_client = False
        self.isolate = isolate
        self.cli = find_cli(cli) if isolate else None
        self.device = device
        self.futures = {}       # Task -> Future
        self.errors = {}
        self.resources = None

    def start(self, jobs):
        from distributed import Client
        if isinstance(self._client_arg, str):
            self.client = Client(self._client_arg)
            self._own_client = True
        else:
            self.client = self._client_arg
        workers = self.client.scheduler_info().get("workers", {})
        if any("GPU" in (w.get("resources") or {}) for w in workers.values()):
            self.resources = {"GPU": 1}
        if not self.isolate:
            self.client.register_worker_plugin(ModelCache(), name=PLUGIN_NAME)

    def submit(self, tasks):
        for t in tasks:
            key = f"vsr-segment-{t.segment}-{uuid.uuid4().hex[:12]}"
            self.futures[t] = self.client.submit(run_segment, t.plan, t.segment, self.device, self.isolate,
                                                 self.cli, key=key, pure=False,
                                                 resources=self.resources, retries=0)

    def active(self):
        live = set()
        for t, f in list(self.futures.items()):
            if not f.done():
                live.add(t)
                continue
            del self.futures[t]
            if f.status != "finished":
                try:
                    e = f.exception(timeout=10)
                    self.errors[t] = f"{type(e).__name__}: {e}"
                except Exception as why:  # cancelled, or the scheduler lost it
                    self.errors[t] = f"task {f.key} {f.status} ({why})"
            f.release()
        return live

    def last_error(self, task):
        return self.errors.get(task)

    def cancel(self):
        if self.client is not None and self.futures:
            self.client.cancel(list(self.futures.values()))
        self.futures.clear()

    def close(self):
        self.cancel()
        if self._own_client and self.client is not None:
            self.client.close()
        self.client = None
