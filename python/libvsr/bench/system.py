"""The machine a benchmark ran on: CPU, cores, SIMD, memory, OS, and what
libvsr recommends for it (vsr_recommend_settings)."""
import os
import platform

SIMD_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def _cpuinfo():
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "model name" and model == "unknown":
                    model = val.strip()
                elif key == "flags" and not flags:
                    flags = set(val.split())
                if model != "unknown" and flags:
                    break
    except OSError:
        pass
    if model == "unknown" and platform.processor():
        model = platform.processor()
    return model, [f for f in SIMD_FLAGS if f in flags]


def _meminfo(key):
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k == key:
                    return int(v.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def describe():
    """The system block of the report (without gpu and recommendation)."""
    model, simd = _cpuinfo()
    try:
        logical = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        logical = os.cpu_count() or -1
    try:
        online = os.sysconf("SC_NPROCESSORS_ONLN")
    except (ValueError, OSError):
        online = os.cpu_count() or -1
    u = os.uname()
    return {
        "cpu_model": model,
        "logical_cores": logical,
        "online_cores": online,
        "simd": " ".join(simd),
        "ram_total_bytes": _meminfo("MemTotal"),
        "ram_available_bytes": _meminfo("MemAvailable"),
        "os": f"{u.sysname} {u.release} {u.machine}",
    }


def _int_or_auto(v):
    return "auto" if v == -1 else v


def recommendation(model_path=None):
    """vsr_recommend_settings() as the report's dict, or {"error": message}."""
    import libvsr
    try:
        r = libvsr.recommend_settings(model_path)
    except libvsr.VsrError as e:
        return {"error": e.message}
    prec = r.precision.name.lower() if hasattr(r.precision, "name") else str(r.precision)
    return {"device": r.device, "precision": prec, "threads": r.threads, "batch": _int_or_auto(r.batch),
            "chunk": _int_or_auto(r.chunk), "tile": _int_or_auto(r.tile), "tile_pad": _int_or_auto(r.tile_pad),
            "mem_limit": r.mem_limit, "reasons": list(r.reasons)}
