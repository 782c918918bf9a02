"""Scale-out: one job cut into segments, run by many workers, stitched into
exactly the output of a single run (see docs/scale-out.md).

    from libvsr.scale import Job, LocalRunner, DaskRunner, SlurmRunner

    job = Job.plan("film.mkv", "film-x2.mkv", segment_frames=2000,
                   model="x2.pt", precision="fp16", device="cuda", codec="ffv1")
    job.run(SlurmRunner("gpu", gres="gpu:1", max_parallel=8))

    batch = plan_many(inputs, outputs, segment_frames=2000, model="x2.pt")
    for r in batch.run(DaskRunner("tcp://scheduler:8786")):
        print(r.input, "ok" if r.ok else r.error)

Command line: python3 -m libvsr.scale -i IN -o OUT --engine local|dask|slurm
--workers N --segment-frames N [vsr-cli options].
"""
from ._dask import DaskRunner, ModelCache
from ._job import Batch, FileResult, Job, JobError, Task, plan_many, read_plan
from ._local import LocalRunner
from ._progress import Progress, ProgressPrinter
from ._runner import Runner
from ._slurm import SlurmError, SlurmRunner

__all__ = ["Batch", "DaskRunner", "FileResult", "Job", "JobError", "LocalRunner", "ModelCache",
           "Progress", "ProgressPrinter", "Runner", "SlurmError", "SlurmRunner",
           "Task", "plan_many", "read_plan"]
