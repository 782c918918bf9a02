#!/usr/bin/env python3
"""Charts and the side-by-side picture of a vsr-bench report (report.json).

  total_time.png        median total time per video and configuration
                        (bars; error bars from the minimum to the maximum
                        over the timed iterations)
  stage_breakdown.png   median time of each stage (frame extraction,
                        super-resolution, video recomposition, other) per
                        video and configuration, stacked
  time_vs_duration.png  median total time against the video's duration,
                        one line per configuration
  fps.png               median frames per second per video and configuration
  quality.png           consistency (PSNR of the output downscaled back against
                        the input) and sharpness (gradient energy against
                        bicubic) per configuration, when measured
  side_by_side-N-NAME.png  per video: the same crop of one frame, input,
                        bicubic and each configuration's output, side by side

A "configuration" is a model plus whichever of precision, device,
setting and encoder the report varies (the ones that are the same for
every run are left out of the labels and put in the subtitle).

Drawn off-screen with matplotlib's Agg backend; draw(report, out_dir)
needs only the report and the crop files it names (redrawing later works).
"""
import math
import os
import struct
import textwrap
import zlib

plt = None


def load_matplotlib():
    """Import matplotlib (Agg); ImportError when it is not installed."""
    global plt
    if plt is None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
        plt = pyplot
    return plt


STAGES = [
    ("frame_extraction_time", "frame extraction (decode + preprocess)", "#4e79a7"),
    ("super_resolution_time", "super-resolution (upload + inference + download)", "#f28e2b"),
    ("video_recomposition_time", "video recomposition (postprocess + encode)", "#59a14f"),
]
OTHER_COLOUR = "#bab0ac"
AXES = ("model", "precision", "device", "setting", "encoder")


def axis_value(run, axis):
    v = run.get(axis)
    if isinstance(v, dict):
        return v.get("name", "?")
    return str(v)


def video_label(rep, run):
    videos = rep.get("videos", [])
    i = run.get("video_index")
    if isinstance(i, int) and 0 <= i < len(videos):
        v = videos[i]
        name = os.path.basename(v.get("path", "?"))
        if v.get("width") and v.get("height"):
            name += f"\n{v['width']}x{v['height']}"
            if v.get("frames"):
                name += f", {v['frames']} frames"
        return name
    return os.path.basename(str(run.get("video", "?")))


def summary_or(run, metric, stat, default):
    v = summary(run, metric, stat)
    return default if v is None else v


def summary(run, metric, stat="median"):
    s = run.get("summary", {}).get(metric)
    if not isinstance(s, dict):
        return None
    v = s.get(stat)
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


class Layout:
    """Which axes vary, and a label per configuration."""

    def __init__(self, runs):
        self.varying = [a for a in AXES if len({axis_value(r, a) for r in runs}) > 1]
        if "model" not in self.varying:
            self.varying.insert(0, "model")
        self.fixed = {a: axis_value(runs[0], a) for a in AXES if a not in self.varying} if runs else {}

    def label(self, run):
        return " / ".join(axis_value(run, a) for a in self.varying)

    def subtitle(self):
        return ", ".join(f"{a} {v}" for a, v in self.fixed.items())


def configurations(runs, layout):
    seen = []
    for r in runs:
        lab = layout.label(r)
        if lab not in seen:
            seen.append(lab)
    return seen


def videos_in_order(rep, runs):
    order = []
    for r in sorted(runs, key=lambda r: r.get("video_index", 0)):
        lab = video_label(rep, r)
        if lab not in order:
            order.append(lab)
    return order


def title(fig, rep, what, layout):
    sysinfo = rep.get("system", {})
    machine = f"{sysinfo.get('cpu_model', '?')}, {sysinfo.get('logical_cores', '?')} cores"
    gpu = sysinfo.get("gpu")
    machine += f", GPU {gpu.get('device')}" if isinstance(gpu, dict) else ", no GPU"
    name = rep.get("name") or "vsr-bench"
    it = rep.get("config", {}).get("iterations", "?")
    sub = layout.subtitle()
    text = f"{machine}; median of {it} iteration(s)" + (f"; {sub}" if sub else "")
    width = max(40, int(fig.get_figwidth() * 12))  # characters that fit at fontsize 10
    lines = textwrap.wrap(f"{name}: {what}", width) + textwrap.wrap(text, width)
    fig.suptitle("\n".join(lines), fontsize=10)


def empty_chart(path, rep, message):
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, wrap=True)
    fig.suptitle(rep.get("name") or "vsr-bench", fontsize=10)
    fig.savefig(path)
    plt.close(fig)


def grouped_positions(n_groups, n_series):
    width = 0.8 / max(1, n_series)
    xs = []
    for s in range(n_series):
        xs.append([g + (s - (n_series - 1) / 2) * width for g in range(n_groups)])
    return xs, width


def plot_total(rep, runs, layout, path):
    confs = configurations(runs, layout)
    vids = videos_in_order(rep, runs)
    xs, width = grouped_positions(len(vids), len(confs))
    fig, ax = plt.subplots(figsize=(max(8, 1.2 + 1.0 * len(vids) * max(1, len(confs)) * 0.6), 5.5), dpi=100)
    cmap = plt.get_cmap("tab10")
    top = 0
    for si, conf in enumerate(confs):
        heights, lo, hi, pos, tops = [], [], [], [], []
        for gi, vid in enumerate(vids):
            match = [r for r in runs if layout.label(r) == conf and video_label(rep, r) == vid]
            med = summary(match[0], "total_time") if match else None
            if med is None:
                continue
            mn = summary_or(match[0], "total_time", "min", med)
            mx = summary_or(match[0], "total_time", "max", med)
            heights.append(med)
            lo.append(max(0.0, med - mn))
            hi.append(max(0.0, mx - med))
            pos.append(xs[si][gi])
            tops.append(max(mx, med))
            top = max(top, mx)
        if not heights:
            continue
        bars = ax.bar(pos, heights, width * 0.92, yerr=[lo, hi], capsize=4, label=conf,
                      color=cmap(si % 10), edgecolor="black", linewidth=0.5,
                      error_kw={"elinewidth": 1, "ecolor": "black"})
        for b, h, t in zip(bars, heights, tops):  # the median, above the error bar
            ax.annotate(f"{h:.3g} s", (b.get_x() + b.get_width() / 2, t), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(vids)))
    ax.set_xticklabels(vids, fontsize=8)
    ax.set_xlabel("video")
    ax.set_ylabel("total time (s)")
    ax.set_ylim(0, top * 1.18 if top > 0 else 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title=" / ".join(layout.varying), fontsize=8, title_fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    title(fig, rep, "total time per video (error bars: min to max)", layout)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_stages(rep, runs, layout, path):
    confs = configurations(runs, layout)
    vids = videos_in_order(rep, runs)
    ncols = min(len(vids), 3)
    nrows = math.ceil(len(vids) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=True, dpi=100,
                             figsize=(max(8, 3.2 + ncols * (1.2 + 0.7 * len(confs))), 1.6 + 3.8 * nrows))
    overlap = False
    top = 0
    for vi, vid in enumerate(vids):
        ax = axes[vi // ncols][vi % ncols]
        bottoms = [0.0] * len(confs)
        vals = {key: [0.0] * len(confs) for key, _, _ in STAGES}
        other = [0.0] * len(confs)
        present = [False] * len(confs)
        for ci, conf in enumerate(confs):
            match = [r for r in runs if layout.label(r) == conf and video_label(rep, r) == vid]
            if not match:
                continue
            r = match[0]
            total = summary(r, "total_time")
            parts = [summary(r, key) for key, _, _ in STAGES]
            if total is None and all(p is None for p in parts):
                continue
            present[ci] = True
            for (key, _, _), p in zip(STAGES, parts):
                vals[key][ci] = p or 0.0
            if total is not None:
                rest = total - sum(p or 0.0 for p in parts)
                if rest < 0:
                    overlap = True  # pipelined: stages ran at the same time
                other[ci] = max(0.0, rest)
                top = max(top, total, sum(p or 0.0 for p in parts))
        x = [i for i in range(len(confs))]
        for key, lab, colour in STAGES:
            ax.bar(x, vals[key], 0.6, bottom=bottoms, label=lab, color=colour, edgecolor="black", linewidth=0.4)
            bottoms = [b + v for b, v in zip(bottoms, vals[key])]
        ax.bar(x, other, 0.6, bottom=bottoms, label="other (open, flush, close; quality)",
               color=OTHER_COLOUR, edgecolor="black", linewidth=0.4)
        for i in range(len(confs)):
            if not present[i]:
                ax.text(i, 0, "failed\nor missing", ha="center", va="bottom", fontsize=7, color="red")
            else:
                ax.annotate(f"{bottoms[i] + other[i]:.3g} s", (i, bottoms[i] + other[i]), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x)
        ax.set_xlim(-0.5 - 0.4 * max(0, 3 - len(confs)), len(confs) - 0.5 + 0.4 * max(0, 3 - len(confs)))
        ax.set_xticklabels(confs, rotation=25 if len(confs) > 1 else 0, ha="right" if len(confs) > 1 else "center",
                           fontsize=8)
        ax.set_title(vid.replace("\n", " "), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        if vi % ncols == 0:
            ax.set_ylabel("time (s)")
    for k in range(len(vids), nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    axes[0][0].set_ylim(0, top * 1.15 if top > 0 else 1)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    what = "time per stage (busy time of each stage, median)"
    if overlap:
        what += "; stages overlapped (pipelined), so they add up to more than the total"
    title(fig, rep, what, layout)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def plot_duration(rep, runs, layout, path):
    confs = configurations(runs, layout)
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=100)
    cmap = plt.get_cmap("tab10")
    drawn = 0
    durations = [r.get("video_duration_s") for r in runs]
    longest = max([d for d in durations if isinstance(d, (int, float)) and d > 0] or [1.0])
    for ci, conf in enumerate(confs):
        # configurations side by side around each duration, so equal points stay visible
        dodge = (ci - (len(confs) - 1) / 2) * 0.012 * longest
        pts = []
        for r in runs:
            if layout.label(r) != conf:
                continue
            d = r.get("video_duration_s")
            t = summary(r, "total_time")
            if isinstance(d, (int, float)) and d > 0 and t is not None:
                mn = summary_or(r, "total_time", "min", t)
                mx = summary_or(r, "total_time", "max", t)
                pts.append((d + dodge, t, t - mn, mx - t))
        if not pts:
            continue
        pts.sort()
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[[p[2] for p in pts], [p[3] for p in pts]],
                    marker="o", capsize=3, label=conf, color=cmap(ci % 10), linewidth=1.5)
        drawn += 1
    if drawn:
        # real time: the time equals the video's duration
        hi = max(ax.get_xlim()[1], longest * 1.1)
        ax.plot([0, hi], [0, hi], linestyle="--", color="grey", linewidth=1, label="real time (time = duration)")
        ax.set_xlim(0, hi)
        ax.set_ylim(bottom=0)
    ax.set_xlabel("video duration (s)" + ("; configurations drawn slightly apart" if len(confs) > 1 else ""))
    ax.set_ylabel("total time (s)")
    ax.grid(alpha=0.3)
    ax.legend(title=" / ".join(layout.varying), fontsize=8, title_fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    title(fig, rep, "total time against video duration", layout)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown_table(rep):
    """The medians of every run as a Markdown table (for docs and notes)."""
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)
    runs = rep.get("runs", [])
    layout = Layout([r for r in runs if r.get("status") == "ok"] or runs)
    lines = ["| video | " + " / ".join(layout.varying) + " | frames | total s (min-max) | fps | CPU s "
             "| extraction s | super-resolution s | recomposition s | peak RSS MB | PSNR dB | SSIM "
             "| consistency dB | sharpness |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        vid = video_label(rep, r).replace("\n", ", ")
        if r.get("status") != "ok":
            lines.append(f"| {vid} | {layout.label(r)} | failed: {r.get('error')} ||||||||||||")
            continue
        rss = summary(r, "peak_rss_bytes", "max")
        lines.append("| {} | {} | {} | {} ({}-{}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            vid, layout.label(r), f(summary(r, "frames"), ".0f"), f(summary(r, "total_time"), ".2f"),
            f(summary(r, "total_time", "min"), ".2f"), f(summary(r, "total_time", "max"), ".2f"),
            f(summary(r, "fps"), ".2f"), f(summary(r, "cpu_time"), ".2f"), f(summary(r, "frame_extraction_time"), ".3f"),
            f(summary(r, "super_resolution_time"), ".2f"), f(summary(r, "video_recomposition_time"), ".3f"),
            "-" if rss is None else f"{rss / 2**20:.0f}", f(summary(r, "psnr"), ".2f"), f(summary(r, "ssim"), ".4f"),
            f(summary(r, "consistency_psnr"), ".2f"), f(summary(r, "sharpness"), ".3f")))
    skipped = rep.get("skipped_models") or []
    for s in skipped:
        lines.append(f"\nskipped: {s.get('reason')}")
    return "\n".join(lines)


def plot_metric_bars(rep, runs, layout, path, metric, ylabel, what, fmt):
    """One panel: median `metric` per video (groups) and configuration (bars)."""
    confs = configurations(runs, layout)
    vids = videos_in_order(rep, runs)
    xs, width = grouped_positions(len(vids), len(confs))
    fig, ax = plt.subplots(figsize=(max(8, 1.2 + 1.0 * len(vids) * max(1, len(confs)) * 0.6), 5.5), dpi=100)
    cmap = plt.get_cmap("tab10")
    top = 0
    for si, conf in enumerate(confs):
        heights, pos = [], []
        for gi, vid in enumerate(vids):
            match = [r for r in runs if layout.label(r) == conf and video_label(rep, r) == vid]
            med = summary(match[0], metric) if match else None
            if med is None:
                continue
            heights.append(med)
            pos.append(xs[si][gi])
            top = max(top, med)
        if not heights:
            continue
        bars = ax.bar(pos, heights, width * 0.92, label=conf, color=cmap(si % 10), edgecolor="black", linewidth=0.5)
        for b, h in zip(bars, heights):
            ax.annotate(format(h, fmt), (b.get_x() + b.get_width() / 2, h), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(vids)))
    ax.set_xticklabels(vids, fontsize=8)
    ax.set_xlabel("video")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, top * 1.18 if top > 0 else 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title=" / ".join(layout.varying), fontsize=8, title_fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    title(fig, rep, what, layout)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_fps(rep, runs, layout, path):
    plot_metric_bars(rep, runs, layout, path, "fps", "frames per second", "frames per second (median)", ".3g")


def plot_quality(rep, runs, layout, path):
    """Consistency and sharpness side by side, one bar per configuration and video."""
    confs = configurations(runs, layout)
    vids = videos_in_order(rep, runs)
    fig, axes = plt.subplots(1, 2, figsize=(max(10, 2 + 1.2 * len(vids) * max(1, len(confs))), 5.5), dpi=100)
    cmap = plt.get_cmap("tab10")
    panels = (("consistency_psnr", "consistency: output downscaled vs input (dB)", ".1f"),
              ("sharpness", "sharpness: gradient energy / bicubic's", ".2f"))
    xs, width = grouped_positions(len(vids), len(confs))
    for ax, (metric, ylabel, fmt) in zip(axes, panels):
        top = 0
        for si, conf in enumerate(confs):
            heights, pos = [], []
            for gi, vid in enumerate(vids):
                match = [r for r in runs if layout.label(r) == conf and video_label(rep, r) == vid]
                v = summary(match[0], metric) if match else None
                if v is not None:
                    heights.append(v)
                    pos.append(xs[si][gi])
                    top = max(top, v)
            if heights:
                bars = ax.bar(pos, heights, width * 0.92, label=conf, color=cmap(si % 10), edgecolor="black",
                              linewidth=0.5)
                for b, h in zip(bars, heights):
                    ax.annotate(format(h, fmt), (b.get_x() + b.get_width() / 2, h), xytext=(0, 3),
                                textcoords="offset points", ha="center", va="bottom", fontsize=7)
        if metric == "sharpness":
            ax.axhline(1.0, linestyle="--", color="grey", linewidth=1, label="bicubic")
        ax.set_xticks(range(len(vids)))
        ax.set_xticklabels(vids, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, top * 1.18 if top > 0 else 1)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, max(1, len(labels))), fontsize=8, frameon=False)
    title(fig, rep, "without a ground truth: consistency with the input and sharpness (medians)", layout)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path)
    plt.close(fig)


# ------------------------------------------------------------ crop images

def write_png(path, rgb):
    """An HxWx3 uint8 array as an 8-bit RGB PNG (no dependencies)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def side_by_side_name(vi, video_path):
    stem = os.path.splitext(os.path.basename(video_path))[0]
    return f"side_by_side-{vi}-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in stem) + ".png"


def plot_side_by_side(rep, runs, layout, vi, base, path):
    """Input, bicubic (per scale) and each configuration's output, the same crop, same display
    size. base: the directory the crop files are named relative to (the report's)."""
    video = rep["videos"][vi]
    crops = video.get("crops") or {}
    panels = []
    if crops.get("input"):
        panels.append(("input (nearest)", crops["input"]))
    for scale, f in sorted((crops.get("bicubic") or {}).items(), key=lambda kv: int(kv[0])):
        panels.append((f"bicubic x{scale}", f))
    for r in runs:
        c = r.get("crop")
        if r.get("video_index") == vi and c:
            panels.append((layout.label(r) + f" (x{c['scale']})", c["file"]))
    if len(panels) < 2:
        return False
    ncols = min(len(panels), 4)
    nrows = math.ceil(len(panels) / ncols)
    first = crops.get("rect") or {}
    aspect = (first.get("height") or 1) / (first.get("width") or 1)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, dpi=100,
                             figsize=(3.6 * ncols, 3.6 * aspect * nrows + 1.4))
    for k, (label, f) in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        ax.imshow(plt.imread(os.path.join(base, f)), interpolation="nearest")
        ax.set_title("\n".join(textwrap.wrap(label, 40)), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    where = (f"frame {first.get('frame')}, {first.get('width')}x{first.get('height')} pixels at "
             f"({first.get('x')}, {first.get('y')}) of the input")
    title(fig, rep, f"{os.path.basename(video.get('path', '?'))}: the same crop side by side ({where})", layout)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


CHARTS = {
    "total_time.png": plot_total,
    "stage_breakdown.png": plot_stages,
    "time_vs_duration.png": plot_duration,
    "fps.png": plot_fps,
}


def draw(rep, out_dir, files_dir=None):
    """Draw every chart and picture of rep into out_dir; returns the paths written.
    files_dir: where the report's crop files are (default out_dir).
    ImportError when matplotlib is missing."""
    load_matplotlib()
    os.makedirs(out_dir, exist_ok=True)
    runs = [r for r in rep.get("runs", []) if r.get("status") == "ok"]
    failed = len(rep.get("runs", [])) - len(runs)
    layout = Layout(runs)
    written = []
    for name, fn in CHARTS.items():
        path = os.path.join(out_dir, name)
        if not runs:
            empty_chart(path, rep, f"no successful runs ({failed} failed): nothing to draw")
        else:
            fn(rep, runs, layout, path)
        written.append(path)
    if any(summary(r, m) is not None for r in runs for m in ("consistency_psnr", "sharpness")):
        path = os.path.join(out_dir, "quality.png")
        plot_quality(rep, runs, layout, path)
        written.append(path)
    for vi, v in enumerate(rep.get("videos", [])):
        path = os.path.join(out_dir, side_by_side_name(vi, v.get("path", "video")))
        if plot_side_by_side(rep, runs, layout, vi, files_dir or out_dir, path):
            written.append(path)
    return written
