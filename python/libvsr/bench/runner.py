"""Running the benchmark matrix through the binding.

Every combination of video x model x precision x device x setting x encoder
is one run. A model is loaded once per precision, device and thread count
and shared by the sessions; each (model, precision, device, setting, video)
gets its own session and tracker (chunk granularity, resource sampler every
20 ms), and each encoder is one run of warm-up calls and timed calls of
Session.upscale_file(), with the tracker reset before each. A run that
fails is recorded with its error and the next one starts.
"""
import math
import os
import re
import time

import libvsr

from . import measure
from .config import AUTO, METRIC_NAMES, OUTPUT_METRICS

# How many decimals each metric keeps (the same text goes into JSON and CSV).
DIGITS = {"fps": 6, "psnr": 6, "consistency_psnr": 6, "ssim": 8, "sharpness": 6}
INTEGER_METRICS = ("frames", "chunks", "tiles", "peak_rss_bytes", "peak_vram_bytes")
STAT_NAMES = ("min", "median", "max", "mean")


def rounded(metric, v):
    """The value as reported: None for unmeasured, ints for counts, seconds to the nanosecond."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if metric in INTEGER_METRICS:
        return int(round(v))
    return round(float(v), DIGITS.get(metric, 9))


def summarize(values, metric):
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return {s: None for s in STAT_NAMES}
    n = len(vals)
    med = vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])
    out = {"min": vals[0], "median": med, "max": vals[-1], "mean": sum(vals) / n}
    return {k: rounded(metric, v) for k, v in out.items()}


def safe_name(s):
    return re.sub(r"[^A-Za-z0-9._-]", "_", s)


def precision_name(p):
    return p.name.lower() if hasattr(p, "name") else str(p)


def int_or_auto(v):
    return "auto" if v == AUTO else v


class Runner:
    def __init__(self, cfg, outdir, progress):
        self.cfg = cfg
        self.outdir = outdir
        self.progress = progress          # callable(str) for progress lines
        self.videos_dir = os.path.join(outdir, "videos")
        self.runs = []
        self.crops = {}                   # run id -> measure.Crop
        self.failures = 0
        self.device_total = None
        self._model = None
        self._model_key = None
        self._model_err = None
        self.planned = cfg.run_count()
        self.want_output_metrics = [m for m in OUTPUT_METRICS if m in cfg.metrics]

    # ------------------------------------------------------------ models
    def _get_model(self, mi, precision, device, threads):
        key = (mi, precision, device, threads)
        if key == self._model_key:
            return self._model, self._model_err
        if self._model is not None:
            self._model.close()
        self._model, self._model_err, self._model_key = None, None, key
        m = self.cfg.models[mi]
        self.progress(f"vsr-bench: loading {m.path} ({precision}, {device}{', fixed threads' if threads else ''})")
        try:
            # threads are process-wide: set before the load (runs go one at a time)
            libvsr.configure(threads=threads)
            self._model = libvsr.Model(m.file, device=device, precision=precision)
        except libvsr.VsrError as e:
            self._model_err = f"loading model '{m.path}' ({precision} on {device}): {e.message}"
        return self._model, self._model_err

    def close(self):
        if self._model is not None:
            self._model.close()
            self._model = None

    # -------------------------------------------------------------- runs
    def _new_run(self, vi, mi, precision, device, si, ei, model_name):
        cfg = self.cfg
        st, enc, vid = cfg.settings[si], cfg.encoders[ei], cfg.videos[vi]
        r = {
            "id": f"r{len(self.runs) + 1:03d}",
            "status": "ok",
            "error": None,
            "video": vid.path,
            "video_index": vi,
            "video_duration_s": vid.duration_s,
            "model": model_name,
            "model_path": cfg.models[mi].path,
            "precision": precision,
            "device": device,
            "setting": {"name": st.name, "batch": int_or_auto(st.batch), "chunk": int_or_auto(st.chunk),
                        "overlap": int_or_auto(st.overlap), "tile": int_or_auto(st.tile),
                        "tile_pad": int_or_auto(st.tile_pad), "threads": st.threads, "mem_limit": st.mem_limit,
                        "pipelined": st.pipelined, "queue_depth": st.queue_depth},
            "encoder": {"name": enc.name, "codec": enc.codec, "crf": enc.crf, "preset": enc.preset,
                        "pix_fmt": enc.pix_fmt},
            "used": None,
            "output_file": None,
            "iterations": [],
            "summary": {},
        }
        self.runs.append(r)
        return r

    def _fail(self, r, msg):
        r["status"] = "error"
        r["error"] = msg
        self.failures += 1
        self.progress(f"vsr-bench: run {r['id']} failed: {msg}", always=True)

    def _collect(self, tr, res, have_reference, cpu_s):
        def stage_s(*types):
            total = 0.0
            for t in types:
                try:
                    total += tr.stats(t).total_ms
                except libvsr.VsrError:
                    return None
            return total / 1e3

        v = dict.fromkeys(METRIC_NAMES)
        v["frames"] = res.frames_written
        v["chunks"] = res.chunks
        v["tiles"] = res.tiles
        v["frame_extraction_time"] = stage_s("decode", "preprocess")
        v["super_resolution_time"] = stage_s("upload", "inference", "download")
        v["video_recomposition_time"] = stage_s("postprocess", "encode")
        total = stage_s("run")
        v["total_time"] = total if total and total > 0 else res.seconds
        v["fps"] = res.frames_written / v["total_time"] if v["total_time"] else None
        v["cpu_time"] = cpu_s
        try:
            rs = tr.resources()
            v["peak_rss_bytes"] = rs.peak_rss_bytes if rs.peak_rss_bytes > 0 else None
            v["peak_vram_bytes"] = rs.peak_device_bytes if rs.peak_device_bytes >= 0 else None
            if rs.device_total_bytes > 0:
                self.device_total = rs.device_total_bytes
        except libvsr.VsrError:
            pass
        if have_reference:
            try:
                q = tr.quality()
                if q.frames > 0:
                    v["psnr"], v["ssim"] = q.psnr_mean, q.ssim_mean
            except libvsr.VsrError:
                pass
        return v

    def _run_encoder(self, r, ses, tr, vid, st, enc, want_crop):
        cfg = self.cfg
        out = os.path.join(self.videos_dir, f"{r['id']}-{safe_name(os.path.splitext(os.path.basename(vid.path))[0])}.mkv")
        total = cfg.warmup + cfg.iterations
        done = 0
        for it in range(total):
            warm = it < cfg.warmup
            tr.reset()
            cpu0 = time.process_time()
            try:
                res = ses.upscale_file(vid.file, out, codec=enc.codec, crf=enc.crf, preset=enc.preset,
                                       pix_fmt=enc.pix_fmt, options=enc.options, pipelined=st.pipelined,
                                       queue_depth=st.queue_depth, reference=vid.reference_file,
                                       max_frames=cfg.max_frames or None)
            except libvsr.InputDamagedError as e:   # the output holds every frame decoded
                res = e.result
            except libvsr.VsrError as e:
                what = f"warm-up {it + 1}" if warm else f"iteration {it - cfg.warmup + 1}"
                self._fail(r, f"{what}: {e.message}")
                break
            cpu_s = time.process_time() - cpu0
            if r["used"] is None:
                u = ses.info()
                r["used"] = {"device": u.device, "precision": precision_name(u.precision), "threads": u.threads,
                             "batch": u.batch, "chunk": int_or_auto(u.chunk), "overlap": u.overlap,
                             "tile": int_or_auto(u.tile), "tile_pad": u.tile_pad, "scale": u.scale,
                             "mem_limit": u.mem_limit}
            if warm:
                self.progress(f"    warm-up {it + 1}/{cfg.warmup}: {res.seconds:.3f} s")
                continue
            v = self._collect(tr, res, vid.reference_file is not None, cpu_s)
            done += 1
            last = done == cfg.iterations
            crop_at = measure.picture_frame(res.frames_written, cfg.picture) if want_crop and last else None
            if self.want_output_metrics or crop_at is not None:
                try:
                    cons, sharp, crop = measure.measure(vid.file, out, res.frames_written,
                                                        bool(self.want_output_metrics), crop_at, cfg.picture,
                                                        cfg.max_frames)
                except (libvsr.VsrError, ValueError) as e:
                    self._fail(r, f"iteration {done}: measuring the output '{out}': {e}")
                    break
                v["consistency_psnr"], v["sharpness"] = cons, sharp
                if crop is not None:
                    self.crops[r["id"]] = crop
            row = {"iteration": done}
            row.update({m: rounded(m, v[m]) for m in cfg.metrics})
            r["iterations"].append(row)

            def f(x, fmt):
                return "-" if x is None else format(x, fmt)
            self.progress(f"    iteration {done}/{cfg.iterations}: {f(v['total_time'], '.3f')} s, "
                          f"{f(v['fps'], '.2f')} fps, CPU {f(v['cpu_time'], '.3f')} s (extraction "
                          f"{f(v['frame_extraction_time'], '.3f')} s, super-resolution "
                          f"{f(v['super_resolution_time'], '.3f')} s, recomposition "
                          f"{f(v['video_recomposition_time'], '.3f')} s)")
        r["summary"] = {m: summarize([row[m] for row in r["iterations"]], m) for m in cfg.metrics}
        if cfg.keep_videos and os.path.exists(out):
            r["output_file"] = out
        elif os.path.exists(out):
            os.remove(out)

    def _run_group(self, mi, precision, device, si, vi):
        """Every encoder of one (model, precision, device, setting, video): one session."""
        cfg = self.cfg
        st, vid, m = cfg.settings[si], cfg.videos[vi], cfg.models[mi]
        model, err = self._get_model(mi, precision, device, st.threads)
        card_name = None
        tr = ses = None
        try:
            if model is not None:
                card_name = model.card.name
                try:
                    tr = libvsr.Tracker(granularity=cfg.granularity, sampler_interval_ms=20)
                    ses = libvsr.Session(model, batch=st.batch, chunk=st.chunk, overlap=st.overlap, tile=st.tile,
                                         tile_pad=st.tile_pad, mem_limit=st.mem_limit, tracker=tr)
                except libvsr.VsrError as e:
                    what = "creating the tracker" if tr is None else f"opening the session (setting '{st.name}')"
                    err = f"{what}: {e.message}"
            name = m.name or card_name or os.path.splitext(os.path.basename(m.path))[0]
            for ei, enc in enumerate(cfg.encoders):
                r = self._new_run(vi, mi, precision, device, si, ei, name)
                self.progress(f"[{len(self.runs)}/{self.planned}] {r['id']}: {vid.path} x {name} x {precision} x "
                              f"{device} x {st.name} x {enc.name}")
                if err:
                    self._fail(r, err)
                    r["summary"] = {k: summarize([], k) for k in cfg.metrics}
                    continue
                self._run_encoder(r, ses, tr, vid, st, enc, cfg.charts)
        finally:
            if ses is not None:
                ses.close()
            if tr is not None:
                tr.close()

    def run_all(self):
        cfg = self.cfg
        os.makedirs(self.videos_dir, exist_ok=True)
        # model-major, so that each model is loaded once per precision and device
        for mi in range(len(cfg.models)):
            for pi, p in enumerate(cfg.precisions):
                for di, d in enumerate(cfg.devices):
                    for si, st in enumerate(cfg.settings):
                        # a setting with its own precision/device runs once, at the first index
                        if (st.precision and pi > 0) or (st.device and di > 0):
                            continue
                        for vi in range(len(cfg.videos)):
                            self._run_group(mi, st.precision or p, st.device or d, si, vi)
        self.close()
        if not cfg.keep_videos:
            try:
                os.rmdir(self.videos_dir)  # only when empty
            except OSError:
                pass
        return self.runs
