"""vsr-cli's options as keyword arguments: which libvsr struct each one
sets, and their values parsed as vsr-cli parses them."""
import os
import re

from .. import _lib

DEFAULT_MODEL = "realesr-animevideov3-x2.pt"

# keyword (vsr-cli's option with '_' for '-') -> where it goes
MODEL_KEYS = ("device", "precision", "cuda_graph")
SESSION_KEYS = ("batch", "chunk", "overlap", "tile", "tile_pad", "tile_blend", "chunk_blend", "mem_limit")
OUTPUT_KEYS = ("codec", "crf", "preset", "pix_fmt", "encoder_options", "no_copy_streams")
INPUT_KEYS = ("hwdec", "max_frames", "max_size")
JOB_KEYS = ("stitch_mode", "index_decode")
ALL_KEYS = ("model", "threads") + MODEL_KEYS + SESSION_KEYS + OUTPUT_KEYS + INPUT_KEYS + JOB_KEYS

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
          "tib": 1 << 40}


def parse_size(value, what="mem_limit"):
    """Bytes from an int or vsr-cli's size text ("512M", "1.5G", "2GiB")."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"{what}: {value!r} is not a size (e.g. 512M, 2G)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_wxh(value, what="max_size"):
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[1])
    m = re.fullmatch(r"(\d+)x(\d+)", str(value))
    if not m:
        raise ValueError(f"{what}: {value!r} is not WIDTHxHEIGHT")
    return int(m.group(1)), int(m.group(2))


def default_model():
    """vsr-cli's default model: $VSR_MODEL_DIR, the installed data directory
    (next to the loaded library), then the source tree's models/."""
    here = os.path.dirname(os.path.abspath(__file__))
    libdir = os.path.dirname(os.path.abspath(_lib.path)) if os.path.isabs(str(_lib.path)) else None
    dirs = [os.environ.get("VSR_MODEL_DIR"),
            libdir and os.path.join(libdir, "..", "share", "libvsr", "models"),
            libdir and os.path.join(libdir, "..", "..", "share", "libvsr", "models"),
            os.path.join(here, "..", "..", "..", "models")]
    for d in dirs:
        if d and os.access(os.path.join(d, DEFAULT_MODEL), os.R_OK):
            return os.path.normpath(os.path.join(d, DEFAULT_MODEL))
    raise FileNotFoundError(f"no model given and the default {DEFAULT_MODEL} is not in $VSR_MODEL_DIR, "
                            f"the installed data directory or the source tree: pass model=")


def split(settings):
    """{'model': ..., 'threads': ..., 'model_kw', 'session_kw', 'run_kw', 'job_kw'}
    from vsr-cli-like keywords; an unknown one is a TypeError naming it."""
    unknown = sorted(set(settings) - set(ALL_KEYS))
    if unknown:
        raise TypeError(f"unknown setting(s) {', '.join(unknown)}; known (vsr-cli's options, '-' "
                        f"spelled '_'): {', '.join(ALL_KEYS)}")
    s = {k: v for k, v in settings.items() if v is not None}
    model_kw = {k: s[k] for k in MODEL_KEYS if k in s}
    session_kw = {k: s[k] for k in SESSION_KEYS if k in s}
    if "mem_limit" in session_kw:
        session_kw["mem_limit"] = parse_size(session_kw["mem_limit"])
    run_kw = {}
    for k in ("codec", "crf", "preset", "pix_fmt", "hwdec", "max_frames"):
        if k in s:
            run_kw[k] = s[k]
    if "encoder_options" in s:
        run_kw["options"] = s["encoder_options"]
    if s.get("no_copy_streams"):
        run_kw["copy_streams"] = False
    if "max_size" in s:
        run_kw["max_width"], run_kw["max_height"] = parse_wxh(s["max_size"])
    job_kw = {}
    if "stitch_mode" in s:
        job_kw["stitch"] = s["stitch_mode"]
    if "index_decode" in s:
        job_kw["index_decode"] = s["index_decode"]
    return {"model": s.get("model"), "threads": s.get("threads"), "model_kw": model_kw,
            "session_kw": session_kw, "run_kw": run_kw, "job_kw": job_kw}
