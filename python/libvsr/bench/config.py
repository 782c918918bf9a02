"""The benchmark configuration: reading, checking, defaults.

A configuration is a JSON object (docs/bench.md). Everything is checked
before anything runs: unknown keys, wrong types, out-of-range numbers,
files that do not exist, videos that cannot be opened. A problem raises
ConfigError with one line that names the field ("videos[1].path: file
'x.mp4' does not exist"); vsr-bench prints it after the file's name and
exits 2.

This module does not import the binding: reading a configuration needs no
libvsr, only probing its videos does (done by the caller through probe).
"""
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional

AUTO = -1  # VSR_AUTO

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
GRANULARITIES = ("operation", "chunk")
OUTPUT_FORMATS = ("json", "csv", "png")
SAMPLE_CONTENTS = ("photos", "pattern")

# Every metric, in report order, with its unit.
METRICS = (
    ("frames", "frames"),
    ("chunks", "chunks"),
    ("tiles", "tiles"),
    ("frame_extraction_time", "s"),
    ("super_resolution_time", "s"),
    ("video_recomposition_time", "s"),
    ("total_time", "s"),
    ("fps", "frames/s"),
    ("cpu_time", "s"),
    ("peak_rss_bytes", "bytes"),
    ("peak_vram_bytes", "bytes"),
    ("psnr", "dB"),
    ("ssim", "1"),
    ("consistency_psnr", "dB"),
    ("sharpness", "1"),
)
METRIC_NAMES = tuple(m for m, _ in METRICS)
UNITS = dict(METRICS)
# Measured on the output file after a timed iteration (not part of its time).
OUTPUT_METRICS = ("consistency_psnr", "sharpness")


class ConfigError(Exception):
    """A configuration problem; str(e) is the one-line message naming the field."""


@dataclass
class Sample:
    """A clip vsr-bench writes itself (into OUT/samples/) before the runs."""
    content: str = "photos"
    width: int = 320
    height: int = 180
    frames: int = 48
    fps: int = 24

    @property
    def file_name(self):
        return f"sample-{self.content}-{self.width}x{self.height}-{self.frames:02d}f.mp4"


@dataclass
class Video:
    path: str                       # as written (or the sample's file name)
    file: Optional[str]             # resolved; None for a sample until it is written
    description: Optional[str] = None
    reference: Optional[str] = None
    reference_file: Optional[str] = None
    sample: Optional[Sample] = None
    width: int = 0
    height: int = 0
    frames: Optional[int] = None
    frame_rate: Optional[float] = None
    duration_s: Optional[float] = None
    codec: str = ""


@dataclass
class Model:
    path: str
    file: str
    name: Optional[str] = None      # None: the card's name
    index: int = 0                  # position in the configuration


@dataclass
class Setting:
    name: str
    batch: int = AUTO
    chunk: int = AUTO
    overlap: int = AUTO
    tile: int = 0
    tile_pad: int = AUTO
    threads: int = 0
    mem_limit: int = 0
    pipelined: bool = False
    queue_depth: int = 4
    precision: Optional[str] = None  # None: each of the configuration's precisions
    device: Optional[str] = None     # None: each of its devices


@dataclass
class Encoder:
    name: str
    codec: str = "libx264"
    crf: int = 18                   # -1: the encoder's default
    preset: Optional[str] = None
    pix_fmt: Optional[str] = None
    options: Optional[str] = None


@dataclass
class Picture:
    """The side-by-side crop: which frame, which rectangle of the input (None = centred)."""
    frame: Optional[int] = None     # None: the middle frame
    x: Optional[int] = None
    y: Optional[int] = None
    width: Optional[int] = None
    height: Optional[int] = None


@dataclass
class Config:
    source: str
    name: Optional[str] = None
    videos: List[Video] = field(default_factory=list)
    models: List[Model] = field(default_factory=list)
    skipped_models: List[dict] = field(default_factory=list)
    precisions: List[str] = field(default_factory=lambda: ["auto"])
    devices: List[str] = field(default_factory=lambda: ["cpu"])
    settings: List[Setting] = field(default_factory=lambda: [Setting("default")])
    encoders: List[Encoder] = field(default_factory=lambda: [Encoder("libx264-crf18")])
    iterations: int = 3
    warmup: int = 1
    metrics: List[str] = field(default_factory=lambda: list(METRIC_NAMES))
    granularity: str = "chunk"
    keep_videos: bool = False
    formats: List[str] = field(default_factory=lambda: list(OUTPUT_FORMATS))
    picture: Picture = field(default_factory=Picture)
    max_frames: int = 0             # 0: every frame (--max-frames)
    video_key: str = "videos"       # or "test_videos", as written (for messages)

    def run_count(self):
        n = 0
        for s in self.settings:
            n_p = 1 if s.precision else len(self.precisions)
            n_d = 1 if s.device else len(self.devices)
            n += len(self.models) * n_p * n_d * len(self.videos) * len(self.encoders)
        return n

    @property
    def charts(self):
        return "png" in self.formats


# ------------------------------------------------------------------ values

def describe(v):
    """A JSON value as the user wrote it, for "expected X, got Y"."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return format(v, ".15g") if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return f'"{v[:57]}..."' if len(v) > 60 else f'"{v}"'
    if isinstance(v, list):
        return "an array"
    return "an object"


def expected(path, what, v):
    return ConfigError(f"{path}: expected {what}, got {describe(v)}")


def check_keys(obj, path, allowed):
    for k in obj:
        if k not in allowed:
            known = ", ".join(allowed)
            if path:
                raise ConfigError(f"{path}: unknown key '{k}' (known keys: {known})")
            raise ConfigError(f"unknown key '{k}' at the top level (known keys: {known})")


def get_string(v, path, allow_null=False):
    if v is None and allow_null:
        return None
    if not isinstance(v, str):
        raise expected(path, "a string or null" if allow_null else "a string", v)
    if not v and not allow_null:
        raise ConfigError(f"{path}: must not be empty")
    return v


def is_integer(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, float) and math.isfinite(v) and v.is_integer()


def get_int(v, path, lo, hi, allow_auto=False):
    if allow_auto and v == "auto":
        return AUTO
    if not is_integer(v):
        raise expected(path, 'an integer or "auto"' if allow_auto else "an integer", v)
    v = int(v)
    if v < lo or v > hi:
        raise ConfigError(f"{path}: {v} is out of range {lo}..{hi}")
    return v


def get_bool(v, path):
    if not isinstance(v, bool):
        raise expected(path, "true or false", v)
    return v


def get_choice(v, path, names, what="a name"):
    if not isinstance(v, str):
        raise expected(path, what, v)
    if v not in names:
        raise ConfigError(f"{path}: '{v}' is not one of " + ", ".join(names))
    return v


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
          "tib": 1 << 40}


def get_size(v, path):
    """Bytes: an integer, or a string such as "512M", "4G" (powers of 1024)."""
    if isinstance(v, str):
        m = _SIZE.match(v)
        if not m:
            raise ConfigError(f"{path}: '{v}' is not a size (e.g. 512M, 2G)")
        unit = m.group(2).lower()
        if unit not in _UNITS:
            raise ConfigError(f"{path}: '{v}' has an unknown unit (use K, M, G or T)")
        n = float(m.group(1)) * _UNITS[unit]
        if n > 9.0e18:
            raise ConfigError(f"{path}: '{v}' is too large")
        return int(n)
    return get_int(v, path, 0, 2**63 - 1)


_DEVICE = re.compile(r"^(cpu|cuda|auto|cuda:[0-9]{1,3})$")


def get_device(v, path):
    if not isinstance(v, str):
        raise expected(path, "a device name (cpu, cuda, cuda:N, auto)", v)
    if not _DEVICE.match(v):
        raise ConfigError(f"{path}: '{v}' is not a device (cpu, cuda, cuda:N or auto)")
    return v


def get_list(root, key, required=False, shown=None):
    """A non-empty array (None when absent and optional)."""
    shown = shown or key
    if key not in root:
        if required:
            raise ConfigError(f"missing key '{shown}' (a list is required)")
        return None
    v = root[key]
    if not isinstance(v, list):
        raise expected(shown, "an array", v)
    if not v:
        raise ConfigError(f"{shown}: must not be empty")
    if len(v) > 1000:
        raise ConfigError(f"{shown}: {len(v)} entries is too many (at most 1000)")
    return v


def resolve(base, written):
    return written if os.path.isabs(written) or not base else os.path.join(base, written)


def file_problem(path, written, resolved):
    """None when the file is there and readable, else the message."""
    if not os.path.exists(resolved):
        if resolved != written:
            return f"{path}: file '{written}' does not exist (looked for '{resolved}')"
        return f"{path}: file '{written}' does not exist"
    if not os.path.isfile(resolved):
        return f"{path}: '{written}' is not a regular file"
    if not os.access(resolved, os.R_OK):
        return f"{path}: file '{written}' is not readable"
    return None


def get_file(v, path, base):
    written = get_string(v, path)
    resolved = resolve(base, written)
    problem = file_problem(path, written, resolved)
    if problem:
        raise ConfigError(problem)
    return written, resolved


# ------------------------------------------------------------------ parts

def parse_sample(v, path):
    if not isinstance(v, dict):
        raise expected(path, 'an object {"content": ..., "width": ..., "height": ..., "frames": ...}', v)
    check_keys(v, path, ("content", "width", "height", "frames", "fps"))
    s = Sample()
    if "content" in v:
        s.content = get_choice(v["content"], f"{path}.content", SAMPLE_CONTENTS, "a content name")
    if "width" in v:
        s.width = get_int(v["width"], f"{path}.width", 16, 7680)
    if "height" in v:
        s.height = get_int(v["height"], f"{path}.height", 16, 4320)
    if "frames" in v:
        s.frames = get_int(v["frames"], f"{path}.frames", 1, 100000)
    if "fps" in v:
        s.fps = get_int(v["fps"], f"{path}.fps", 1, 240)
    if s.width % 2 or s.height % 2:
        raise ConfigError(f"{path}: {s.width}x{s.height} must be even in both directions (yuv420p)")
    return s


def parse_videos(root, base, key):
    out = []
    for i, e in enumerate(get_list(root, key, required=True)):
        path = f"{key}[{i}]"
        if isinstance(e, str):  # shorthand: just the path
            written, resolved = get_file(e, path, base)
            out.append(Video(written, resolved))
            continue
        if not isinstance(e, dict):
            raise expected(path, 'an object {"path": ...} or a path', e)
        check_keys(e, path, ("path", "sample", "description", "reference"))
        if ("path" in e) == ("sample" in e):
            raise ConfigError(f"{path}: needs exactly one of 'path' (a video file) and 'sample' "
                              f"(a clip vsr-bench writes)")
        if "path" in e:
            written, resolved = get_file(e["path"], f"{path}.path", base)
            v = Video(written, resolved)
        else:
            s = parse_sample(e["sample"], f"{path}.sample")
            v = Video(s.file_name, None, sample=s)
        if "description" in e:
            v.description = get_string(e["description"], f"{path}.description", allow_null=True)
        if e.get("reference") is not None:
            v.reference, v.reference_file = get_file(e["reference"], f"{path}.reference", base)
        out.append(v)
    return out


def parse_models(root, base, strict):
    """(models that exist, [skipped: {index, path, reason}])."""
    models, skipped = [], []
    for i, e in enumerate(get_list(root, "models", required=True)):
        path = f"models[{i}]"
        name = None
        if isinstance(e, str):
            field_path, written = path, get_string(e, path)
        else:
            if not isinstance(e, dict):
                raise expected(path, 'an object {"path": ..., "name": ...} or a path', e)
            check_keys(e, path, ("path", "name"))
            if "path" not in e:
                raise ConfigError(f"{path}: missing key 'path'")
            field_path, written = f"{path}.path", get_string(e["path"], f"{path}.path")
            if "name" in e:
                name = get_string(e["name"], f"{path}.name")
        resolved = resolve(base, written)
        problem = file_problem(field_path, written, resolved)
        if problem:
            if strict:
                raise ConfigError(problem)
            skipped.append({"index": i, "path": written, "name": name, "reason": problem})
            continue
        models.append(Model(written, resolved, name, i))
    if not models:
        raise ConfigError("models: none of the listed models exists (" + skipped[0]["reason"]
                          + (f"; and {len(skipped) - 1} more" if len(skipped) > 1 else "") + ")")
    return models, skipped


SETTING_INTS = (("batch", 1, 256, True), ("chunk", 1, 4096, True), ("overlap", 0, 4095, True),
                ("tile", 0, 65536, True), ("tile_pad", 0, 1024, True), ("threads", 0, 1024, False),
                ("queue_depth", 1, 1024, False))
SETTING_KEYS = ("name", "batch", "chunk", "overlap", "tile", "tile_pad", "threads", "mem_limit",
                "pipelined", "queue_depth", "precision", "device")


def parse_setting(e, path, index):
    if not isinstance(e, dict):
        raise expected(path, "an object", e)
    check_keys(e, path, SETTING_KEYS)
    s = Setting(f"setting{index}")
    for key, lo, hi, allow_auto in SETTING_INTS:
        if key in e:
            setattr(s, key, get_int(e[key], f"{path}.{key}", lo, hi, allow_auto))
    if 0 < s.tile < 8:
        raise ConfigError(f"{path}.tile: {s.tile} is too small (0 = whole frames, or at least 8 pixels)")
    if "mem_limit" in e:
        s.mem_limit = get_size(e["mem_limit"], f"{path}.mem_limit")
    if "pipelined" in e:
        s.pipelined = get_bool(e["pipelined"], f"{path}.pipelined")
    if "precision" in e:
        s.precision = get_choice(e["precision"], f"{path}.precision", PRECISIONS,
                                 "a precision name (auto, fp32, bf16, fp16)")
    if "device" in e:
        s.device = get_device(e["device"], f"{path}.device")
    if "name" in e:
        s.name = get_string(e["name"], f"{path}.name")
    return s


def parse_encoder(e, path):
    if not isinstance(e, dict):
        raise expected(path, "an object", e)
    check_keys(e, path, ("name", "codec", "crf", "preset", "pix_fmt", "options"))
    enc = Encoder("")
    if "codec" in e:
        enc.codec = get_string(e["codec"], f"{path}.codec")
    if "crf" in e:
        enc.crf = -1 if e["crf"] is None else get_int(e["crf"], f"{path}.crf", -1, 63)
    for key in ("preset", "pix_fmt", "options"):
        if key in e:
            setattr(enc, key, get_string(e[key], f"{path}.{key}", allow_null=True))
    if "name" in e:
        enc.name = get_string(e["name"], f"{path}.name")
    else:
        enc.name = enc.codec + (f"-crf{enc.crf}" if enc.crf >= 0 else "") + (f"-{enc.preset}" if enc.preset else "")
    return enc


def parse_picture(v):
    if not isinstance(v, dict):
        raise expected("picture", 'an object {"frame": ..., "x": ..., "y": ..., "width": ..., "height": ...}', v)
    check_keys(v, "picture", ("frame", "x", "y", "width", "height"))
    p = Picture()
    for key, lo in (("frame", 0), ("x", 0), ("y", 0), ("width", 4), ("height", 4)):
        if key in v:
            setattr(p, key, get_int(v[key], f"picture.{key}", lo, 1 << 20))
    if (p.x is None) != (p.y is None) or (p.width is None) != (p.height is None):
        raise ConfigError("picture: give x and y together, and width and height together")
    return p


TOP_KEYS = ("name", "videos", "test_videos", "models", "precisions", "devices", "settings", "encoders",
            "iterations", "warmup", "metrics", "output", "output_formats", "granularity", "picture")


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ConfigError(f"duplicate key '{k}' (each key may appear once in an object)")
        obj[k] = v
    return obj


def _no_constant(name):
    raise ConfigError(f"'{name}' is not a JSON number")


def load_json(text):
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ConfigError(f"line {e.lineno}, column {e.colno}: {e.msg}") from None


def parse(text, source, strict=False):
    """A Config from the text of a configuration file (source: its path)."""
    root = load_json(text)
    if not isinstance(root, dict):
        raise expected("the configuration", "an object", root)
    check_keys(root, "", TOP_KEYS)
    base = os.path.dirname(source) or "."
    c = Config(source=source)
    if "name" in root:
        c.name = get_string(root["name"], "name")
    if "videos" in root and "test_videos" in root:
        raise ConfigError("'videos' and 'test_videos' are the same list: give one of them")
    video_key = "test_videos" if "test_videos" in root else "videos"
    # cheap checks first: keys, types and files; the videos are probed last, by the caller
    c.models, c.skipped_models = parse_models(root, base, strict)
    precisions = get_list(root, "precisions")
    if precisions:
        c.precisions = [get_choice(p, f"precisions[{i}]", PRECISIONS, "a precision name (auto, fp32, bf16, fp16)")
                        for i, p in enumerate(precisions)]
    devices = get_list(root, "devices")
    if devices:
        c.devices = [get_device(d, f"devices[{i}]") for i, d in enumerate(devices)]
    settings = get_list(root, "settings")
    if settings:
        c.settings = [parse_setting(e, f"settings[{i}]", i) for i, e in enumerate(settings)]
    encoders = get_list(root, "encoders")
    if encoders:
        c.encoders = [parse_encoder(e, f"encoders[{i}]") for i, e in enumerate(encoders)]
    if "iterations" in root:
        c.iterations = get_int(root["iterations"], "iterations", 1, 1000)
    if "warmup" in root:
        c.warmup = get_int(root["warmup"], "warmup", 0, 100)
    metrics = get_list(root, "metrics")
    if metrics:
        chosen = {get_choice(m, f"metrics[{i}]", METRIC_NAMES, "a metric name") for i, m in enumerate(metrics)}
        c.metrics = [m for m in METRIC_NAMES if m in chosen]
    formats = get_list(root, "output_formats")
    if formats:
        chosen = {get_choice(f, f"output_formats[{i}]", OUTPUT_FORMATS, "a format name")
                  for i, f in enumerate(formats)}
        c.formats = [f for f in OUTPUT_FORMATS if f in chosen]
    if "output" in root:
        out = root["output"]
        if not isinstance(out, dict):
            raise expected("output", "an object", out)
        check_keys(out, "output", ("keep_videos", "charts"))
        if "keep_videos" in out:
            c.keep_videos = get_bool(out["keep_videos"], "output.keep_videos")
        if "charts" in out and not get_bool(out["charts"], "output.charts"):
            c.formats = [f for f in c.formats if f != "png"]
    if "granularity" in root:
        c.granularity = get_choice(root["granularity"], "granularity", GRANULARITIES,
                                   '"operation" or "chunk"')
    if "picture" in root:
        c.picture = parse_picture(root["picture"])
    c.videos = parse_videos(root, base, video_key)
    c.video_key = video_key
    return c


def read(path, strict=False):
    """Parse the configuration file at path. OSError when it cannot be read."""
    with open(path, "rb") as f:
        data = f.read((16 << 20) + 1)
    if len(data) > 16 << 20:
        raise ConfigError("larger than 16 MiB: not a benchmark configuration")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte {e.start})") from None
    return parse(text, path, strict)
