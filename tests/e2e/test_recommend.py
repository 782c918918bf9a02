"""vsr_recommend_settings(): values in sane ranges, one reason per choice,
older callers' smaller structs respected, clear errors for bad models.

Called through ctypes on $VSR_LIBRARY (set by meson test). Models: the
real realesr-animevideov3-x2.pt from $VSR_MODELS_DIR, and tiny per-frame,
sequence and sliding-window models built here with torch and
tools/modelcard.py (so the chunk logic of every layout is exercised).
Missing prerequisites fail with a message; nothing is skipped.
"""
import ctypes
import json
import os
import subprocess
import sys

import pytest


def env_path(name, what):
    v = os.environ.get(name)
    if not v:
        pytest.fail(f"environment variable {name} is not set ({what}); run through `meson test`")
    return v


class Recommendation(ctypes.Structure):
    # include/libvsr/session.h: vsr_recommendation
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("device", ctypes.c_char * 32),
        ("precision", ctypes.c_int),
        ("threads", ctypes.c_int),
        ("batch", ctypes.c_int),
        ("chunk", ctypes.c_int),
        ("tile", ctypes.c_int),
        ("tile_pad", ctypes.c_int),
        ("mem_limit", ctypes.c_int64),
        ("reasons", ctypes.c_char * 2048),
    ]


PRECISIONS = {0: "auto", 1: "fp32", 2: "bf16", 3: "fp16"}
VSR_EINVAL = -22


@pytest.fixture(scope="module")
def lib():
    path = env_path("VSR_LIBRARY", "path of libvsr.so")
    if not os.path.exists(path):
        pytest.fail(f"VSR_LIBRARY={path} does not exist: build libvsr first")
    lib = ctypes.CDLL(path)
    lib.vsr_recommend_settings.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.vsr_recommend_settings.restype = ctypes.c_int
    lib.vsr_last_error.restype = ctypes.c_char_p
    lib.vsr_log_set_level.argtypes = [ctypes.c_int]
    lib.vsr_log_set_level(-1)  # errors are checked here, not printed
    return lib


def recommend(lib, model=None):
    r = Recommendation()
    r.size = ctypes.sizeof(r)
    rc = lib.vsr_recommend_settings(model.encode() if model else None, ctypes.byref(r))
    return rc, r


def reasons_of(r):
    text = r.reasons.decode()
    assert text.endswith("\n"), "every reason ends with a newline"
    lines = text.splitlines()
    assert all(line.strip() for line in lines), f"empty reason line in {text!r}"
    return lines


def reason_for(lines, prefix):
    hits = [line for line in lines if line.startswith(prefix)]
    assert hits, f"no reason starting with {prefix!r} in:\n" + "\n".join(lines)
    return hits[0]


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def mem_bytes(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    pytest.fail(f"/proc/meminfo has no {key}")


def check_sane(r, lines):
    """Ranges that hold on any machine."""
    dev = r.device.decode()
    assert dev == "cpu" or dev.startswith("cuda:"), dev
    assert r.precision in (1, 2, 3), f"precision {r.precision} must be concrete (fp32, bf16 or fp16)"
    if dev == "cpu":
        assert r.precision != 3, "fp16 is never recommended on the CPU"
    ncpu = len(os.sched_getaffinity(0))
    assert 1 <= r.threads <= ncpu, f"threads {r.threads} not within 1..{ncpu}"
    assert 1 <= r.batch <= 16, r.batch
    assert 1 <= r.chunk <= 64, r.chunk
    assert r.tile == 0 or 16 <= r.tile <= 1920, r.tile
    assert r.tile_pad == -1 or 0 <= r.tile_pad <= 1024, r.tile_pad
    assert r.mem_limit > 64 << 20, f"mem_limit {r.mem_limit} is implausibly small"
    if dev == "cpu":
        assert r.mem_limit <= mem_bytes("MemTotal"), "mem_limit exceeds the RAM"
    # one reason per choice, each naming the value it chose
    assert len(lines) >= 8, lines
    assert reason_for(lines, "device ").startswith(f"device {dev}")
    assert reason_for(lines, "precision ").startswith(f"precision {PRECISIONS[r.precision]}")
    assert reason_for(lines, "threads ").startswith(f"threads {r.threads}")
    assert reason_for(lines, "batch ").startswith(f"batch {r.batch}")
    assert reason_for(lines, "chunk ").startswith(f"chunk {r.chunk}")
    assert reason_for(lines, "tile ").startswith(f"tile {r.tile}")
    assert reason_for(lines, "tile_pad ")
    assert reason_for(lines, "mem_limit ")


def test_generic_advice(lib):
    rc, r = recommend(lib)
    assert rc == 0, lib.vsr_last_error()
    lines = reasons_of(r)
    check_sane(r, lines)
    assert r.size == ctypes.sizeof(Recommendation)
    assert r.tile_pad == -1, "without a model the pad is the model's own (auto)"
    assert any("no model given" in line for line in lines)
    assert r.chunk == 1, "generic advice is for a per-frame model"


def test_this_machine(lib):
    """On a CPU without bf16 hardware: cpu, fp32, batch 1, half the available RAM."""
    rc, r = recommend(lib)
    assert rc == 0
    lines = reasons_of(r)
    if r.device.decode() != "cpu":
        return  # a GPU machine: covered by check_sane
    flags = cpu_flags()
    if not ({"avx512_bf16", "amx_bf16"} & flags):
        assert r.precision == 1, "fp32 without AVX512-BF16/AMX"
        assert "emulated" in reason_for(lines, "precision ")
    else:
        assert r.precision == 2
    assert r.batch == 1
    assert "caches" in reason_for(lines, "batch ")
    avail = mem_bytes("MemAvailable")
    assert 0.3 * avail <= r.mem_limit <= 0.7 * avail, (r.mem_limit, avail)


def test_real_model(lib):
    path = os.path.join(env_path("VSR_MODELS_DIR", "directory of the real models"), "realesr-animevideov3-x2.pt")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run scripts/fetch-models (or tools/convert_ncnn.py)")
    rc, r = recommend(lib, path)
    assert rc == 0, lib.vsr_last_error()
    lines = reasons_of(r)
    check_sane(r, lines)
    card = read_card(path)
    assert r.tile_pad == card["receptive_field"]["spatial"]
    assert any("realesr-animevideov3-x2" in line for line in lines)
    model_line = [line for line in lines if line.startswith("model ")][0]
    bpp = float(model_line.split(",")[2].split()[0])
    assert 100 < bpp < 1e6, model_line
    need = bpp * 1920 * 1080 * r.batch
    if need <= r.mem_limit:
        assert r.tile == 0, f"a frame fits ({need:.0f} <= {r.mem_limit}) but tile {r.tile}"
    else:
        assert r.tile >= 16
        assert bpp * (r.tile + 2 * r.tile_pad) ** 2 * r.batch <= r.mem_limit * 1.01


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Tiny per-frame, sequence and window models (built with torch here)."""
    root = env_path("VSR_SOURCE_ROOT", "source tree")
    out = tmp_path_factory.mktemp("models")
    script = r'''
import sys, torch
sys.path.insert(0, sys.argv[1] + "/tools")
import modelcard
out = sys.argv[2]
class PerFrame(torch.nn.Module):
    def __init__(self):
        super().__init__(); self.c = torch.nn.Conv2d(3, 12, 3, padding=1)
    def forward(self, x):
        return torch.nn.functional.pixel_shuffle(self.c(x), 2)
class Sequence(torch.nn.Module):
    def __init__(self):
        super().__init__(); self.c = torch.nn.Conv2d(3, 12, 3, padding=1)
    def forward(self, x):
        b, t, c, h, w = x.shape
        y = torch.nn.functional.pixel_shuffle(self.c(x.reshape(b * t, c, h, w)), 2)
        return y.reshape(b, t, 3, 2 * h, 2 * w)
class Window(torch.nn.Module):
    def __init__(self):
        super().__init__(); self.c = torch.nn.Conv2d(9, 12, 3, padding=1)
    def forward(self, x):
        b, t, c, h, w = x.shape
        return torch.nn.functional.pixel_shuffle(self.c(x.reshape(b, t * c, h, w)), 2)
torch.manual_seed(0)
modelcard.save(torch.jit.script(PerFrame().eval()), out + "/perframe.pt",
               modelcard.make_card("tiny-perframe", 2, rf_spatial=1))
modelcard.save(torch.jit.script(Sequence().eval()), out + "/sequence.pt",
               modelcard.make_card("tiny-sequence", 2, frames_in=0, rf_spatial=1, rf_temporal=2))
modelcard.save(torch.jit.script(Window().eval()), out + "/window.pt",
               modelcard.make_card("tiny-window", 2, frames_in=3, frames_out="center", rf_spatial=1,
                                   rf_temporal=1))
'''
    py = os.environ.get("VSR_PYTHON", sys.executable)
    src = out / "make_models.py"  # torch.jit.script needs the source in a file
    src.write_text(script)
    p = subprocess.run([py, str(src), root, str(out)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.fail(f"building the tiny models failed:\n{p.stderr}")
    return out


def read_card(path):
    root = env_path("VSR_SOURCE_ROOT", "source tree")
    py = os.environ.get("VSR_PYTHON", sys.executable)
    p = subprocess.run([py, "-c", "import sys, json; sys.path.insert(0, sys.argv[1] + '/tools'); import modelcard; "
                        "print(json.dumps(modelcard.read_card(sys.argv[2])))", root, path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.fail(f"reading the card of {path} failed:\n{p.stderr}")
    return json.loads(p.stdout)


def test_per_frame_model(lib, tiny_models):
    rc, r = recommend(lib, str(tiny_models / "perframe.pt"))
    assert rc == 0, lib.vsr_last_error()
    lines = reasons_of(r)
    check_sane(r, lines)
    assert r.chunk == 1
    assert r.tile_pad == 1
    assert r.tile == 0, "a tiny model's 1080p frame fits in memory"


def test_sequence_model(lib, tiny_models):
    rc, r = recommend(lib, str(tiny_models / "sequence.pt"))
    assert rc == 0, lib.vsr_last_error()
    lines = reasons_of(r)
    check_sane(r, lines)
    assert r.batch == 1
    overlap = 2 * 2  # twice the temporal radius
    assert 2 * overlap + 2 <= r.chunk <= 32, f"chunk {r.chunk}"
    assert "sequence" in reason_for(lines, "model ")


def test_window_model(lib, tiny_models):
    rc, r = recommend(lib, str(tiny_models / "window.pt"))
    assert rc == 0, lib.vsr_last_error()
    lines = reasons_of(r)
    check_sane(r, lines)
    assert r.chunk == 3
    assert "window" in reason_for(lines, "chunk ")


def test_bogus_model_is_a_clear_error(lib, tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"this is not a TorchScript archive\n")
    r = Recommendation()
    r.size = ctypes.sizeof(r)
    r.threads = 12345
    rc = lib.vsr_recommend_settings(str(bogus).encode(), ctypes.byref(r))
    assert rc < 0
    msg = lib.vsr_last_error().decode()
    assert str(bogus) in msg, msg
    assert r.threads == 12345, "the output is left alone on error"

    missing = tmp_path / "no-such-model.pt"
    rc = lib.vsr_recommend_settings(str(missing).encode(), ctypes.byref(r))
    assert rc < 0
    assert str(missing) in lib.vsr_last_error().decode()

    rc = lib.vsr_recommend_settings(b"", ctypes.byref(r))
    assert rc == VSR_EINVAL
    assert "empty model path" in lib.vsr_last_error().decode()


def test_bad_arguments(lib):
    assert lib.vsr_recommend_settings(None, None) == VSR_EINVAL
    r = Recommendation()
    r.size = 0
    assert lib.vsr_recommend_settings(None, ctypes.byref(r)) == VSR_EINVAL
    assert "size" in lib.vsr_last_error().decode()


def test_older_smaller_struct(lib):
    """A caller built before `reasons` existed: nothing past its size is written."""
    full = ctypes.sizeof(Recommendation)
    old_size = Recommendation.reasons.offset
    buf = (ctypes.c_uint8 * full)(*([0xAB] * full))
    ctypes.cast(buf, ctypes.POINTER(ctypes.c_uint32))[0] = old_size
    assert lib.vsr_recommend_settings(None, buf) == 0
    r = Recommendation.from_buffer(buf)
    assert r.size == old_size
    assert r.device.decode() in ("cpu",) or r.device.decode().startswith("cuda:")
    assert r.batch >= 1 and r.mem_limit > 0
    assert all(b == 0xAB for b in bytes(buf)[old_size:]), "bytes past the caller's size were written"


def test_vsr_bench_prints_the_same(lib):
    bench = env_path("VSR_BENCH", "path of vsr-bench")
    p = subprocess.run([bench, "--recommend"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    rc, r = recommend(lib)
    assert rc == 0
    assert got["device"] == r.device.decode()
    assert got["precision"] == PRECISIONS[r.precision]
    assert (got["batch"], got["chunk"], got["tile"], got["threads"]) == (r.batch, r.chunk, r.tile, r.threads)
    # the same reasons, apart from the free memory, which moves between calls
    steady = [line for line in reasons_of(r) if not line.startswith(("mem_limit ", "tile "))]
    assert [line for line in got["reasons"] if not line.startswith(("mem_limit ", "tile "))] == steady
