"""vsr-bench: benchmark libvsr over a matrix of videos, models, precisions,
devices, settings and encoders, and write report.json, report.csv, charts
and a side-by-side picture of the models' output (docs/bench.md).

    vsr-bench --config bench.json --output-dir out/
    python3 -m libvsr.bench --config bench.json --output-dir out/

A thin program over the Python binding: libvsr does the work (and the
timing, through its tracker), numpy compares outputs, matplotlib draws.

Exit status: 0 every run succeeded; 1 a run failed (the others still run
and the report says which and why) or the report could not be written;
2 a bad command line or configuration (the message names the field).
"""
import argparse
import os
import sys

from . import config as cfgmod
from .config import ConfigError

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
DEFAULT_MODEL_FILE = "realesr-animevideov3-x2.pt"
HERE = os.path.dirname(os.path.abspath(__file__))


class Usage(Exception):
    """A bad command line: the message, exit 2."""


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="vsr-bench",
        usage="vsr-bench --config FILE --output-dir DIR [options]\n"
              "       vsr-bench --output-dir DIR [--input CLIP] [--model FILE] [options]\n"
              "       vsr-bench --from-report DIR/report.json [--output-dir DIR] [--table]\n"
              "       vsr-bench --recommend [--model FILE]",
        description="Benchmark libvsr over every combination of the configuration's videos, models, "
                    "precisions, devices, settings and encoders: warm-up runs first (not counted), then timed "
                    "iterations. Writes DIR/report.json, DIR/report.csv, the charts (total_time.png, "
                    "stage_breakdown.png, time_vs_duration.png, fps.png, quality.png) and, per video, "
                    "side_by_side-N-NAME.png: the same crop from every model beside bicubic.",
        epilog="Exit status: 0 all runs succeeded; 1 a run failed or the report could not be written; "
               "2 bad command line or configuration (the message names the field).")
    ap.add_argument("--config", metavar="FILE",
                    help="benchmark configuration (JSON; see docs/bench.md); relative paths inside it are "
                         "relative to its directory")
    ap.add_argument("--output-dir", metavar="DIR", help="where the report, CSV, charts (and kept videos) go")
    ap.add_argument("--input", metavar="CLIP",
                    help="without --config: benchmark this clip (default: two synthetic 160x90 clips of 12 and "
                         "24 frames, written to DIR/samples)")
    ap.add_argument("--model", metavar="FILE",
                    help=f"without --config: the model (default {DEFAULT_MODEL_FILE} from $VSR_MODELS_DIR, "
                         "./models, <prefix>/share/libvsr/models or the source tree's models/)")
    ap.add_argument("--iterations", metavar="N", type=int, help="override the timed iterations (1..1000)")
    ap.add_argument("--warmup", metavar="N", type=int, help="override the warm-up runs (0..100)")
    ap.add_argument("--max-frames", metavar="N", type=int,
                    help="upscale at most N frames of each video (a quick smoke run)")
    ap.add_argument("--strict", action="store_true",
                    help="a model file that does not exist is an error (default: skipped, and said so)")
    ap.add_argument("--no-charts", action="store_true", help="write only report.json and report.csv")
    ap.add_argument("--check", action="store_true",
                    help="validate the configuration, print the number of runs, run nothing")
    ap.add_argument("--from-report", metavar="REPORT",
                    help="draw the charts of an existing report.json again (into --output-dir, default "
                         "the report's directory), run nothing")
    ap.add_argument("--table", action="store_true",
                    help="with --from-report: print the medians as a Markdown table instead of drawing")
    ap.add_argument("--recommend", action="store_true",
                    help="print vsr_recommend_settings() for this machine (and --model) as JSON and exit")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr (errors are still printed)")
    ap.add_argument("--version", action="store_true", help="library version and build")
    return ap.parse_args(argv)


class Bench:
    def __init__(self, args):
        self.args = args
        self.quiet = args.quiet
        self.log_level = "error" if args.quiet else "warning"

    def progress(self, msg, always=False):
        if self.quiet and not always:
            return
        print(msg, file=sys.stderr, flush=True)

    # ------------------------------------------------------------ helpers
    @staticmethod
    def find_default_model():
        cands = []
        for var in ("VSR_MODELS_DIR", "VSR_MODEL_DIR"):
            if os.environ.get(var):
                cands.append(os.path.join(os.environ[var], DEFAULT_MODEL_FILE))
        cands.append(os.path.join("models", DEFAULT_MODEL_FILE))
        exe_dir = os.path.dirname(os.path.abspath(sys.argv[0] or "."))
        cands.append(os.path.join(exe_dir, "..", "share", "libvsr", "models", DEFAULT_MODEL_FILE))
        # the source tree: python/libvsr/bench -> models/
        cands.append(os.path.join(HERE, "..", "..", "..", "models", DEFAULT_MODEL_FILE))
        for c in cands:
            if os.path.isfile(c):
                return os.path.realpath(c)
        return None

    def default_config(self, outdir):
        a = self.args
        c = cfgmod.Config(source="(no --config: defaults)", name="default benchmark")
        if a.input:
            if not os.path.isfile(a.input):
                raise Usage(f"--input: file '{a.input}' does not exist")
            c.videos = [cfgmod.Video(a.input, a.input)]
        else:  # two clips of different lengths, for the time-vs-duration chart
            c.videos = [cfgmod.Video("", None, description=f"synthetic sample, {n} frames",
                                     sample=cfgmod.Sample("pattern", 160, 90, n, 24)) for n in (12, 24)]
        model = a.model or self.find_default_model()
        if not model:
            raise Usage(f"no model given and {DEFAULT_MODEL_FILE} was not found in $VSR_MODELS_DIR, ./models or "
                        "<prefix>/share/libvsr/models; pass --model FILE (run scripts/fetch-models first)")
        if not os.path.isfile(model):
            raise Usage(f"--model: file '{model}' does not exist")
        c.models = [cfgmod.Model(model, model)]
        return c

    def write_samples(self, c, outdir):
        from . import samples
        sd = os.path.join(outdir, "samples")
        for i, v in enumerate(c.videos):
            if v.sample is None:
                continue
            os.makedirs(sd, exist_ok=True)
            s = v.sample
            path = os.path.join(sd, s.file_name)
            self.progress(f"vsr-bench: writing sample clip {path}")
            try:
                samples.write_clip(path, samples.frames_of(s.content, s.width, s.height, s.frames, s.fps), s.fps)
            except RuntimeError as e:  # no scikit-image for photographs
                raise ConfigError(f"{c.video_key}[{i}].sample: {e}") from None
            v.path = path
            v.file = path
            if v.description is None:
                v.description = f"{s.content} sample, {s.width}x{s.height}, {s.frames} frames"

    def probe(self, c):
        """Open every video (and reference) once: size, frames, duration into the Config."""
        import libvsr
        def open_info(path, written, field):
            libvsr.set_log_level("quiet")  # the failure is reported here, once
            try:
                with libvsr.Input(path) as inp:
                    return inp.info
            except libvsr.VsrError as e:
                raise ConfigError(f"{field}: '{written}' is not a readable video: {e.message}") from None
            finally:
                libvsr.set_log_level(self.log_level)
        for i, v in enumerate(c.videos):
            if v.file is None:
                continue
            field = f"{c.video_key}[{i}]"
            info = open_info(v.file, v.path, f"{field}.path")
            v.width, v.height, v.codec = info.width, info.height, info.codec
            v.frames = info.frames if info.frames >= 0 else None
            v.frame_rate = info.fps
            v.duration_s = info.duration_s if info.duration_s > 0 else None
            if v.duration_s is None and v.frames and v.frame_rate:
                v.duration_s = v.frames / v.frame_rate
            if v.reference_file:
                r = open_info(v.reference_file, v.reference, f"{field}.reference")
                if r.width % v.width or r.height % v.height or r.width // v.width != r.height // v.height:
                    raise ConfigError(f"{field}.reference: reference '{v.reference}' is {r.width}x{r.height}, not a "
                                      f"whole multiple of the video's {v.width}x{v.height}")

    # -------------------------------------------------------------- modes
    def recommend(self):
        import json
        from . import system
        if self.args.model and not os.path.isfile(self.args.model):
            raise Usage(f"--model: file '{self.args.model}' does not exist")
        rec = system.recommendation(self.args.model)
        if "error" in rec:
            self.progress(f"vsr-bench: {rec['error']}", always=True)
            return EXIT_RUN_FAILED
        print(json.dumps(rec, indent=2))
        return 0

    def from_report(self):
        from . import charts, report
        try:
            rep = report.load(self.args.from_report)
        except ValueError as e:
            raise Usage(str(e)) from None
        if self.args.table:
            print(charts.markdown_table(rep))
            return 0
        files_dir = os.path.dirname(os.path.abspath(self.args.from_report))
        return self.draw(rep, self.args.output_dir or files_dir, files_dir)

    def draw(self, rep, out_dir, files_dir):
        from . import charts
        try:
            written = charts.draw(rep, out_dir, files_dir)
        except ImportError as e:
            self.progress(f"vsr-bench: matplotlib is not available ({e}): charts not drawn (report.json and "
                          f"report.csv are written); install python3-matplotlib", always=True)
            return 0
        except Exception as e:  # a chart that cannot be drawn must not lose the report
            self.progress(f"vsr-bench: drawing the charts failed: {type(e).__name__}: {e}", always=True)
            return EXIT_RUN_FAILED
        for path in written:
            self.progress(f"vsr-bench: wrote {path}")
        return 0

    def load_config(self, outdir):
        a = self.args
        if a.config:
            try:
                c = cfgmod.read(a.config, strict=a.strict)
            except OSError as e:
                raise Usage(f"cannot open config '{a.config}': {e.strerror}") from None
        else:
            c = self.default_config(outdir)
        if a.iterations is not None:
            if not 1 <= a.iterations <= 1000:
                raise Usage(f"--iterations: {a.iterations} is out of range 1..1000")
            c.iterations = a.iterations
        if a.warmup is not None:
            if not 0 <= a.warmup <= 100:
                raise Usage(f"--warmup: {a.warmup} is out of range 0..100")
            c.warmup = a.warmup
        if a.max_frames is not None:
            if a.max_frames < 1:
                raise Usage(f"--max-frames: {a.max_frames} must be at least 1")
            c.max_frames = a.max_frames
        if a.no_charts:
            c.formats = [f for f in c.formats if f != "png"]
        return c

    def save_crops(self, c, runner, runs, outdir):
        """The crops as PNG files under OUT/crops (named in the report, so charts can be redrawn)."""
        from . import charts
        if not runner.crops:
            return
        cd = os.path.join(outdir, "crops")
        os.makedirs(cd, exist_ok=True)
        videos = {}
        for r in runs:
            crop = runner.crops.get(r["id"])
            if crop is None:
                continue
            vi = r["video_index"]
            name = f"{r['id']}.png"
            charts.write_png(os.path.join(cd, name), crop.output)
            r["crop"] = {"file": f"crops/{name}", "frame": crop.frame, "x": crop.x, "y": crop.y,
                         "width": crop.width, "height": crop.height, "scale": crop.scale}
            v = videos.setdefault(vi, {"input": None, "bicubic": {}, "rect": {
                "frame": crop.frame, "x": crop.x, "y": crop.y, "width": crop.width, "height": crop.height}})
            if v["input"] is None:
                v["input"] = f"crops/v{vi}-input.png"
                # the input crop shown at the display size: nearest-neighbour enlargement by matplotlib
                charts.write_png(os.path.join(cd, f"v{vi}-input.png"), crop.input)
            if str(crop.scale) not in v["bicubic"] and crop.scale > 1:
                name = f"v{vi}-bicubic-x{crop.scale}.png"
                charts.write_png(os.path.join(cd, name), crop.bicubic)
                v["bicubic"][str(crop.scale)] = f"crops/{name}"
        return videos

    def benchmark(self):
        a = self.args
        if not a.output_dir and not a.check:
            raise Usage("--output-dir DIR is required (see --help)")
        if a.config and (a.input or a.model):
            raise Usage("--input and --model are for runs without --config; list videos and models in the "
                        "configuration instead")
        outdir = a.output_dir
        if outdir:
            try:
                os.makedirs(outdir, exist_ok=True)
            except OSError as e:
                self.progress(f"vsr-bench: cannot create output directory '{outdir}': {e.strerror}", always=True)
                return EXIT_RUN_FAILED
        source = a.config or "(no --config: defaults)"
        try:
            c = self.load_config(outdir)
            source = c.source
            for s in c.skipped_models:
                self.progress(f"vsr-bench: {c.source}: {s['reason']}: skipped (--strict makes this an error)",
                              always=True)
            if not a.check:
                self.write_samples(c, outdir)
            self.probe(c)
        except ConfigError as e:
            print(f"{source}: {e}", file=sys.stderr)
            return EXIT_USAGE
        if a.check:
            print(f"{c.source}: valid; {c.run_count()} run(s) of {c.warmup} warm-up + {c.iterations} timed "
                  f"iteration(s)" + (f"; {len(c.skipped_models)} model(s) skipped" if c.skipped_models else ""))
            return 0

        import libvsr
        from . import report, system
        from .runner import Runner
        sysinfo = system.describe()
        runner = Runner(c, outdir, self.progress)
        runs = runner.run_all()
        rec = system.recommendation(None)
        gpu = next((r["used"]["device"] for r in runs if r["used"] and r["used"]["device"].startswith("cuda")),
                   None)
        if gpu is None and str(rec.get("device", "")).startswith("cuda"):
            gpu = rec["device"]
        sysinfo.update({"gpu": None if gpu is None else {"device": gpu, "memory_total_bytes": runner.device_total},
                        "libvsr_version": libvsr.version(), "build_info": libvsr.build_info(),
                        "recommendation": rec})
        video_crops = self.save_crops(c, runner, runs, outdir) if c.charts else None
        rep = report.build(c, sysinfo, runs, [])
        for vi, crops in (video_crops or {}).items():
            rep["videos"][vi]["crops"] = crops
        status = EXIT_RUN_FAILED if runner.failures else 0
        json_path = os.path.join(outdir, "report.json")
        csv_path = os.path.join(outdir, "report.csv")
        try:
            if "json" in c.formats or c.charts:
                report.write_json(json_path, rep)
            if "csv" in c.formats:
                report.write_csv(csv_path, rep)
        except OSError as e:
            self.progress(f"vsr-bench: cannot write the report in '{outdir}': {e.strerror}", always=True)
            return EXIT_RUN_FAILED
        self.progress(f"vsr-bench: wrote " + " and ".join(
            p for f, p in (("json", json_path), ("csv", csv_path)) if f in c.formats or (f == "json" and c.charts)))
        if c.charts and self.draw(rep, outdir, outdir) != 0:
            status = EXIT_RUN_FAILED
        if runner.failures:
            self.progress(f"vsr-bench: {runner.failures} of {len(runs)} run(s) failed (see \"error\" in {json_path})",
                          always=True)
        return status


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    b = Bench(args)
    try:
        if args.version:
            import libvsr
            print(f"vsr-bench (libvsr {libvsr.version()})\n{libvsr.build_info()}")
            return 0
        if args.table and not args.from_report:
            raise Usage("--table goes with --from-report REPORT")
        if args.from_report:
            return b.from_report()
        import libvsr
        libvsr.set_log_level(b.log_level)
        libvsr.capture_ffmpeg(True)
        if args.recommend:
            return b.recommend()
        return b.benchmark()
    except Usage as e:
        print(f"vsr-bench: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as e:  # the binding could not load libvsr
        print(f"vsr-bench: {e}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        print("vsr-bench: interrupted", file=sys.stderr)
        return 130
