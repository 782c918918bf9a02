"""python3 -m libvsr.scale: plan a job (or one per input), run its segments
on local processes, Dask or Slurm, stitch. Exit codes: 0 done, 1 a file
failed (the others are finished; its plan and committed segments are kept
for another run), 2 bad command line, 130 interrupted."""
import argparse
import os
import sys

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _parser():
    p = argparse.ArgumentParser(
        prog="python3 -m libvsr.scale",
        description="Upscale a video (or many) with libvsr, cut into segments that several workers "
                    "run: local processes, a Dask cluster or Slurm array tasks. The output is the "
                    "same as one vsr-cli run's (docs/scale-out.md).")
    g = p.add_argument_group("job")
    g.add_argument("-i", "--input", action="append", required=True,
                   help="input file (repeat for a batch of files)")
    g.add_argument("-o", "--output", required=True,
                   help="output file; with several inputs, a directory")
    g.add_argument("--segment-frames", type=int, default=1000, help="about this many frames per segment")
    g.add_argument("--plan", help="plan file (one input only; default OUTPUT.vsr-plan.json)")
    g.add_argument("--work-dir", help="where segments are committed (one input only; default PLAN.work)")
    g.add_argument("--output-ext", default=".mkv", help="extension of the outputs in a batch (default .mkv)")
    g.add_argument("--max-attempts", type=int, default=3, help="attempts per segment (default 3)")
    e = p.add_argument_group("engine")
    e.add_argument("--engine", choices=("local", "dask", "slurm"), default="local")
    e.add_argument("--workers", type=int, help="local: processes; dask: workers of a local cluster when "
                   "no --scheduler is given; slurm: tasks at once (%%N)")
    e.add_argument("--cli", help="vsr-cli's path (local, slurm, dask --isolate; default $VSR_CLI or PATH)")
    e.add_argument("--worker-device", help="device each worker opens, e.g. cuda (default: the plan's)")
    e.add_argument("--scheduler", help="dask: scheduler address (default: start a local cluster)")
    e.add_argument("--isolate", action="store_true", help="dask: run vsr-cli in a subprocess per segment")
    e.add_argument("--partition", help="slurm: partition (default: the cluster's default)")
    e.add_argument("--gres", default="gpu:1", help="slurm: --gres per task (default gpu:1; 'none' for none)")
    e.add_argument("--sbatch-arg", action="append", default=[], help="slurm: one more sbatch argument")
    v = p.add_argument_group("vsr-cli options (as vsr-cli spells them; see vsr-cli --help)")
    v.add_argument("-m", "--model")
    for opt in ("--device", "--precision", "--threads", "--batch", "--chunk", "--overlap", "--tile",
                "--tile-pad", "--mem-limit", "--codec", "--crf", "--preset", "--pix-fmt",
                "--encoder-options", "--hwdec", "--max-frames", "--max-size", "--stitch-mode"):
        v.add_argument(opt)
    for opt in ("--cuda-graph", "--tile-blend", "--chunk-blend", "--no-copy-streams", "--index-decode"):
        v.add_argument(opt, action="store_true", default=None)
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    return p


_INT_OPTS = ("threads", "crf", "max_frames")
_AUTO_OPTS = ("batch", "chunk", "overlap", "tile", "tile_pad")


def _settings(a):
    s = {}
    for k in ("model", "device", "precision", "threads", "batch", "chunk", "overlap", "tile", "tile_pad",
              "mem_limit", "codec", "crf", "preset", "pix_fmt", "encoder_options", "hwdec", "max_frames",
              "max_size", "stitch_mode", "cuda_graph", "tile_blend", "chunk_blend", "no_copy_streams",
              "index_decode"):
        val = getattr(a, k)
        if val is None:
            continue
        if k in _INT_OPTS or (k in _AUTO_OPTS and val != "auto"):
            try:
                val = int(val)
            except ValueError:
                raise SystemExit(f"--{k.replace('_', '-')}: '{val}' is not a number"
                                 + (" or auto" if k in _AUTO_OPTS else ""))
        s[k] = val
    return s


def _outputs(a):
    if len(a.input) == 1:
        return [a.output]
    os.makedirs(a.output, exist_ok=True)
    outs, seen = [], set()
    for i in a.input:
        stem = os.path.splitext(os.path.basename(i))[0]
        name = stem + a.output_ext
        n = 1
        while name in seen:
            n += 1
            name = f"{stem}-{n}{a.output_ext}"
        seen.add(name)
        outs.append(os.path.join(a.output, name))
    return outs


def _runner(a, cleanup):
    from . import DaskRunner, LocalRunner, SlurmRunner
    if a.engine == "local":
        return LocalRunner(processes=a.workers or 1, cli=a.cli, device=a.worker_device)
    if a.engine == "slurm":
        return SlurmRunner(a.partition, gres=None if a.gres == "none" else a.gres, max_parallel=a.workers,
                           extra_sbatch=a.sbatch_arg, cli=a.cli, device=a.worker_device)
    target = a.scheduler
    if target is None:
        from distributed import LocalCluster
        cluster = LocalCluster(n_workers=a.workers or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        cleanup.append(cluster.close)
        target = cluster.scheduler_address
    return DaskRunner(target, isolate=a.isolate, cli=a.cli, device=a.worker_device)


def main(argv=None):
    p = _parser()
    a = p.parse_args(argv)
    if len(a.input) > 1 and (a.plan or a.work_dir):
        p.error("--plan and --work-dir are for one input; a batch puts each plan next to its output")
    if a.workers is not None and a.workers < 1:
        p.error("--workers must be at least 1")
    try:
        settings = _settings(a)
    except SystemExit as e:
        p.error(str(e))
    local_workers = a.engine == "local" or (a.engine == "dask" and not a.scheduler)
    if local_workers and "threads" not in settings:
        # the plan pins the CPU thread count (it changes the results): the
        # workers on this machine share its cores
        from ._local import cpu_count
        settings["threads"] = max(1, cpu_count() // (a.workers or 1))
    from . import Job, JobError, ProgressPrinter, plan_many
    from ..errors import VsrError
    printer = None if a.quiet else ProgressPrinter()
    cleanup = []
    try:
        outputs = _outputs(a)
        if len(a.input) == 1:
            try:
                # an earlier run's plan of the same job is taken up with its
                # committed segments; one of another job is refused
                job = Job.plan(a.input[0], outputs[0], segment_frames=a.segment_frames, plan=a.plan,
                               work_dir=a.work_dir, **settings)
            except (VsrError, OSError, ValueError, TypeError) as e:
                print(f"libvsr.scale: {a.input[0]}: {e}", file=sys.stderr)
                return EXIT_FAILED
            try:
                res = job.run(_runner(a, cleanup), max_attempts=a.max_attempts, on_progress=printer)
            except JobError as e:
                if printer:
                    printer.close()
                print(f"libvsr.scale: {e}", file=sys.stderr)
                return EXIT_FAILED
            if printer:
                printer.close()
            if not a.quiet:
                print(f"{outputs[0]}: {res.frames_written} frames", file=sys.stderr)
            return 0
        batch = plan_many(a.input, outputs, segment_frames=a.segment_frames, **settings)
        results = batch.run(_runner(a, cleanup), max_attempts=a.max_attempts, on_progress=printer)
        if printer:
            printer.close()
        bad = [r for r in results if not r.ok]
        for r in results:
            if r.ok and not a.quiet:
                print(f"{r.output}: {r.result.frames_written} frames", file=sys.stderr)
        for r in bad:
            print(f"libvsr.scale: {r.error}", file=sys.stderr)
        return EXIT_FAILED if bad else 0
    except KeyboardInterrupt:
        if printer:
            printer.close()
        print("libvsr.scale: interrupted; committed segments are kept (run again with --plan to go on)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for c in cleanup:
            c()


if __name__ == "__main__":
    sys.exit(main())
