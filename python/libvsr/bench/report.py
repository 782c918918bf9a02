"""report.json and report.csv (formats in docs/bench.md).

Both files are written whole and renamed into place. Numbers are written
with the same text in both (Python's shortest round-trip form of the
rounded value), so a CSV cell parses to exactly the JSON value.
"""
import csv
import io
import json
import os
import time

from .config import UNITS
from .runner import STAT_NAMES

FORMAT = "libvsr-bench-report"
VERSION = 1
CSV_HEAD = ("row", "run_id", "iteration", "video", "model", "precision", "device", "setting", "encoder",
            "used_device", "used_precision", "used_threads", "used_batch", "used_chunk", "used_tile",
            "used_tile_pad", "status")


def build(cfg, system, runs, pictures):
    videos = []
    for v in cfg.videos:
        videos.append({"path": v.path, "description": v.description, "reference": v.reference,
                       "sample": None if v.sample is None else vars(v.sample).copy(),
                       "width": v.width, "height": v.height, "frames": v.frames, "frame_rate": v.frame_rate,
                       "duration_s": v.duration_s, "codec": v.codec})
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "name": cfg.name,
        "config": {"source": cfg.source, "iterations": cfg.iterations, "warmup": cfg.warmup,
                   "granularity": cfg.granularity, "metrics": list(cfg.metrics),
                   "output_formats": list(cfg.formats), "max_frames": cfg.max_frames or None},
        "units": dict(UNITS),
        "system": system,
        "videos": videos,
        "skipped_models": list(cfg.skipped_models),
        "runs": runs,
        "pictures": pictures,
    }


def _atomic_write(path, text):
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def write_json(path, report):
    _atomic_write(path, json.dumps(report, indent=2, allow_nan=False) + "\n")


def cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    return str(v)


def write_csv(path, report):
    metrics = report["config"]["metrics"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(CSV_HEAD) + list(metrics) + ["error"])

    def head(r, kind, iteration):
        u = r.get("used") or {}
        return [kind, r["id"], "" if iteration is None else iteration, r["video"], r["model"], r["precision"],
                r["device"], r["setting"]["name"], r["encoder"]["name"], cell(u.get("device")),
                cell(u.get("precision")), cell(u.get("threads")), cell(u.get("batch")), cell(u.get("chunk")),
                cell(u.get("tile")), cell(u.get("tile_pad")), r["status"]]

    runs = report["runs"]
    for r in runs:  # iteration rows first, then the summary rows
        if not r["iterations"] and r["status"] != "ok":
            w.writerow(head(r, "iteration", None) + [""] * len(metrics) + [cell(r["error"])])
        for it in r["iterations"]:
            w.writerow(head(r, "iteration", it["iteration"]) + [cell(it.get(m)) for m in metrics]
                       + [cell(r["error"])])
    for r in runs:
        if not r["iterations"]:
            continue
        for stat in STAT_NAMES:
            w.writerow(head(r, stat, None) + [cell(r["summary"][m][stat]) for m in metrics] + [cell(r["error"])])
    _atomic_write(path, buf.getvalue())


def load(path):
    """A report.json; ValueError naming the problem when it is not one."""
    try:
        with open(path, encoding="utf-8") as f:
            rep = json.load(f)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(rep, dict) or rep.get("format") != FORMAT:
        raise ValueError(f"{path} is not a vsr-bench report (format "
                         f"{rep.get('format') if isinstance(rep, dict) else None!r})")
    return rep
