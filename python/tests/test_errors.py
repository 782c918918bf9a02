"""Errors: the right exception class with the library's message; struct layouts vs C."""
import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess

import pytest

from conftest import SOURCE_ROOT


def _assert_error(e, cls, code, *needles):
    import libvsr
    assert type(e) is cls, f"expected {cls.__name__}, got {type(e).__name__}: {e}"
    assert isinstance(e, libvsr.VsrError)
    assert e.code == code
    assert e.name == libvsr.strerror(code) and e.name
    for n in needles:
        assert n in e.message, f"{n!r} not in the library's message {e.message!r}"
        assert n in str(e)


# ------------------------------------------------------------------ inputs
def test_missing_input(vsr, tmp_path):
    p = str(tmp_path / "no-such-clip.mp4")
    with pytest.raises(vsr.InputError) as ei:
        vsr.Input(p)
    _assert_error(ei.value, vsr.InputError, vsr.structs.VSR_ERROR_INPUT, "no-such-clip.mp4")


def test_text_file_named_mp4(vsr, tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video, just some text\n" * 20)
    with pytest.raises(vsr.InputError) as ei:
        vsr.Input(p)
    _assert_error(ei.value, vsr.InputError, vsr.structs.VSR_ERROR_INPUT, "notes.mp4")


def test_text_buffer(vsr):
    with pytest.raises(vsr.InputError):
        vsr.Input.open_buffer(b"plain text, no container here" * 10)


def test_upscale_missing_input_leaves_nothing(vsr, tiny_model, tmp_path):
    out = tmp_path / "o.mkv"
    with vsr.Session(model_path=tiny_model) as s:
        with pytest.raises(vsr.InputError) as ei:
            s.upscale_file(tmp_path / "absent.mp4", out)
    assert "absent.mp4" in ei.value.message
    assert not out.exists() and not (tmp_path / "o.mkv.partial").exists()


# ------------------------------------------------------------------ models
def test_bad_card_model(vsr, test_model):
    p = test_model("bad-card.pt")
    with pytest.raises(vsr.ModelError) as ei:
        vsr.Session(model_path=p)
    _assert_error(ei.value, vsr.ModelError, vsr.structs.VSR_ERROR_MODEL, "bad-card.pt")
    with pytest.raises(vsr.ModelError) as ei:
        vsr.Model(p)
    assert "bad-card.pt" in ei.value.message


def test_missing_model(vsr, tmp_path):
    p = str(tmp_path / "nonexistent-model.pt")
    with pytest.raises(vsr.ModelError) as ei:
        vsr.Session(model_path=p)
    _assert_error(ei.value, vsr.ModelError, vsr.structs.VSR_ERROR_MODEL, "nonexistent-model.pt")


def test_no_model(vsr):
    with pytest.raises(TypeError):
        vsr.Session()
    # the library itself refuses a session without a model
    from libvsr import _lib
    S = vsr.structs
    s = _lib.defaults(S.vsr_session_settings, _lib.lib.vsr_session_settings_default)
    p = ctypes.c_void_p()
    assert _lib.lib.vsr_session_open(ctypes.byref(p), ctypes.byref(s)) == S.VSR_EINVAL
    assert not p.value and "model" in vsr.last_error()
    # model settings belong to the model
    m = vsr.Model(os.path.join(os.environ["VSR_TEST_MODELS"], "tiny-x2.pt"), precision="fp32")
    with pytest.raises(TypeError):
        vsr.Session(m, precision="fp32")
    m.close()


def test_invalid_settings(vsr, tiny_model):
    with pytest.raises(vsr.InvalidArgumentError) as ei:
        vsr.Session(model_path=tiny_model, batch=0)
    assert "batch" in ei.value.message
    with pytest.raises(vsr.InvalidArgumentError):
        vsr.Session(model_path=tiny_model, tile=3)
    with pytest.raises(ValueError):
        vsr.Session(model_path=tiny_model, precision="fp8")  # refused by the binding
    with pytest.raises(TypeError):
        vsr.Session(model_path=tiny_model, tilesize=64)     # unknown keyword


# ----------------------------------------------------------------- outputs
def test_output_in_missing_directory(vsr, tmp_path):
    p = str(tmp_path / "no" / "such" / "dir" / "out.mkv")
    with pytest.raises(vsr.OutputError) as ei:
        vsr.Output(p)
    _assert_error(ei.value, vsr.OutputError, vsr.structs.VSR_ERROR_OUTPUT, "out.mkv")


def test_output_unwritable_proc(vsr):
    p = "/proc/libvsr-test/out.mkv"
    with pytest.raises(vsr.OutputError) as ei:
        vsr.Output(p)
    assert p in ei.value.message


def test_upscale_unwritable_output(vsr, tiny_model, small_clip, tmp_path):
    out = tmp_path / "missing-dir" / "up.mkv"
    with vsr.Session(model_path=tiny_model) as s:
        with pytest.raises(vsr.OutputError) as ei:
            s.upscale_file(small_clip[0], out)
    assert "up.mkv" in ei.value.message
    assert not out.exists()


def test_output_closed_on_exception_leaves_nothing(vsr, tmp_path):
    import numpy as np
    out = tmp_path / "partial.mkv"
    with pytest.raises(RuntimeError):
        with vsr.Output(out, codec="ffv1") as o:
            o.write(np.zeros((16, 16, 3), np.uint8))
            raise RuntimeError("caller failed")
    assert not out.exists() and not (tmp_path / "partial.mkv.partial").exists()
    with vsr.Output(out, codec="ffv1") as o:
        o.write(np.zeros((16, 16, 3), np.uint8))
    assert out.exists() and o.finished


def test_closed_objects_refuse(vsr, tiny_model):
    s = vsr.Session(model_path=tiny_model)
    s.close()
    s.close()  # idempotent
    with pytest.raises(ValueError):
        s.info()
    with pytest.raises(vsr.EndOfStream):
        with vsr.Session(model_path=tiny_model) as s2:
            s2.send(None)
            s2.receive()


def test_error_classes_and_names(vsr):
    S = vsr.structs
    table = {
        S.VSR_EINVAL: vsr.InvalidArgumentError, S.VSR_ENOMEM: vsr.OutOfMemoryError,
        S.VSR_EOF: vsr.EndOfStream, S.VSR_ERROR_MODEL: vsr.ModelError,
        S.VSR_ERROR_MODEL_RUN: vsr.ModelRunError, S.VSR_ERROR_DEVICE: vsr.DeviceError,
        S.VSR_ERROR_DEVICE_OOM: vsr.DeviceOutOfMemoryError, S.VSR_ERROR_INPUT: vsr.InputError,
        S.VSR_ERROR_INPUT_DAMAGED: vsr.InputDamagedError, S.VSR_ERROR_OUTPUT: vsr.OutputError,
        S.VSR_ERROR_CANCELLED: vsr.CancelledError, S.VSR_ERROR_LIMIT: vsr.LimitError,
        S.VSR_ERROR_MISMATCH: vsr.MismatchError,
        S.VSR_ERROR_INCOMPLETE: vsr.IncompleteError, S.VSR_ERROR_CONFIG: vsr.ConfigError,
        S.VSR_ERROR_UNSUPPORTED: vsr.UnsupportedError,
    }
    from libvsr.errors import make_error
    names = set()
    for code, cls in table.items():
        e = make_error(code, "detail")
        assert type(e) is cls and e.code == code and e.message == "detail"
        assert not e.name.startswith("unknown error"), (code, e.name)
        names.add(e.name)
    assert len(names) == len(table)  # every code has its own name
    assert vsr.strerror(S.VSR_EOF) == "end of stream"
    assert S.VSR_EOF == -0x20464F45  # FFmpeg's AVERROR_EOF


# ------------------------------------------------------------ struct check
def _header_structs():
    """{struct name: [field names in order]} parsed from include/libvsr/*.h."""
    out = {}
    inc = os.path.join(SOURCE_ROOT, "include", "libvsr")
    for name in sorted(os.listdir(inc)):
        if not name.endswith(".h"):
            continue
        text = open(os.path.join(inc, name)).read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", text, re.S):
            fields = []
            for decl in m.group(2).split(";"):
                decl = decl.strip()
                if not decl:
                    continue
                for i, part in enumerate(decl.split(",")):
                    ident = re.search(r"(\w+)\s*(?:\[[^\]]*\])?\s*$", part.strip())
                    assert ident, f"cannot parse field {part!r} of {m.group(1)}"
                    fields.append(ident.group(1))
            out[m.group(1)] = fields
    return out


def test_structs_match_headers_field_for_field(vsr):
    header = _header_structs()
    mine = vsr.structs.PUBLIC_STRUCTS
    assert set(header) == set(mine), (
        f"in the headers only: {set(header) - set(mine)}; in ctypes only: {set(mine) - set(header)}")
    for name, cls in mine.items():
        assert [f[0] for f in cls._fields_] == header[name], f"{name}: field names/order differ"


def test_struct_layout_matches_c_compiler(vsr, tmp_path):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler")
    structs = vsr.structs.PUBLIC_STRUCTS
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <libvsr/vsr.h>",
             "int main(void) {"]
    for name, cls in structs.items():
        lines.append(f'    printf("%s %zu %zu\\n", "{name}", sizeof({name}), _Alignof({name}));')
        for fname, _ in cls._fields_:
            lines.append(f'    printf("%s.%s %zu %zu\\n", "{name}", "{fname}", '
                         f'offsetof({name}, {fname}), sizeof((({name} *)0)->{fname}));')
    lines += ["    return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    inc = os.path.join(SOURCE_ROOT, "include")
    r = subprocess.run([cc, "-std=c11", "-Wall", "-I", inc, str(src), "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"compiling the layout probe failed:\n{r.stderr}"
    r = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    c_layout = {}
    for line in r.stdout.splitlines():
        key, a, b = line.split()
        c_layout[key] = (int(a), int(b))
    mismatches = []
    for name, cls in structs.items():
        want = c_layout[name]
        got = (ctypes.sizeof(cls), ctypes.alignment(cls))
        if want != got:
            mismatches.append(f"{name}: C sizeof/alignof {want}, ctypes {got}")
        for fname, _ in cls._fields_:
            f = getattr(cls, fname)
            want = c_layout[f"{name}.{fname}"]
            if (f.offset, f.size) != want:
                mismatches.append(f"{name}.{fname}: C offset/size {want}, ctypes {(f.offset, f.size)}")
    assert not mismatches, "\n".join(mismatches)


def test_settings_defaults_sized_for_binding(vsr):
    from libvsr import _lib
    S = vsr.structs
    for cls, fn in ((S.vsr_session_settings, _lib.lib.vsr_session_settings_default),
                    (S.vsr_model_settings, _lib.lib.vsr_model_settings_default),
                    (S.vsr_process_settings, _lib.lib.vsr_process_settings_default),
                    (S.vsr_input_settings, _lib.lib.vsr_input_settings_default),
                    (S.vsr_output_settings, _lib.lib.vsr_output_settings_default),
                    (S.vsr_run_settings, _lib.lib.vsr_run_settings_default),
                    (S.vsr_tracker_settings, _lib.lib.vsr_tracker_settings_default)):
        raw = ctypes.create_string_buffer(ctypes.sizeof(cls) + 256)
        fn(raw)
        assert ctypes.c_uint32.from_buffer(raw).value == ctypes.sizeof(cls), cls.__name__
    s = _lib.defaults(S.vsr_session_settings, _lib.lib.vsr_session_settings_default)
    assert s.batch == vsr.VSR_AUTO and s.tile == 0 and s.output_format == vsr.PixFmt.RGBF32
    m = _lib.defaults(S.vsr_model_settings, _lib.lib.vsr_model_settings_default)
    assert m.device == b"cpu" and m.precision == vsr.Precision.AUTO and m.cuda_graph == 0 and m.cache == 1
    p = _lib.defaults(S.vsr_process_settings, _lib.lib.vsr_process_settings_default)
    assert p.threads == 0 and p.cuda_tf32 == 0 and p.cudnn_benchmark == 1


def test_version(vsr):
    assert vsr.version_info[:2] == vsr.__api_version__[:2]
    assert vsr.version().startswith("%d.%d." % vsr.version_info[:2])
    assert "libtorch" in vsr.build_info()


def test_damaged_input_still_writes_output(vsr, tiny_model, small_clip, tmp_path, frame_counter):
    src, n = small_clip
    data = open(src, "rb").read()
    cut = tmp_path / "truncated.mkv"
    # Cut the file so that some frames decode and the loss is large enough
    # for libvsr to call it truncated (it ignores a shortfall < 10% / 0.2 s).
    for frac in (0.75, 0.65, 0.55, 0.45, 0.35, 0.25):
        cut.write_bytes(data[:int(len(data) * frac)])
        try:
            with vsr.Input(cut) as inp:
                decodable = sum(1 for f in inp if f.close() is None)
                count, first = inp.damaged()
        except vsr.InputError:
            continue
        if decodable >= 1 and count >= 1:
            break
    else:
        pytest.fail(f"could not cut {src} into a clip libvsr reports as damaged")
    assert "truncated.mkv" in first
    out = tmp_path / "from-damaged.mkv"
    with vsr.Session(model_path=tiny_model) as s:
        with pytest.raises(vsr.InputDamagedError) as ei:
            s.upscale_file(cut, out, preset="ultrafast")
    e = ei.value
    assert e.code == vsr.structs.VSR_ERROR_INPUT_DAMAGED
    assert "truncated.mkv" in e.message
    assert e.result is not None and e.result.input_damaged >= 1
    assert e.result.frames_written == decodable < n
    # "damaged" still means the output was written, with every decodable frame
    assert out.is_file()
    assert frame_counter(out) == decodable


# ------------------------------------------------------- finding the library
def _child_env(env_changes):
    # meson's LD_LIBRARY_PATH (the build's lib/) would let find_library() find
    # the library under test; the children see the system only.
    import sys
    env = {k: v for k, v in os.environ.items()
           if k not in ("VSR_LIBRARY", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env.update(env_changes)
    return env


def _run_child(code, env_changes, tmp_path):
    import sys
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_child_env(env_changes), cwd=str(tmp_path))
    return r.returncode, r.stdout + r.stderr


def _import_in_child(env_changes, tmp_path):
    """Import libvsr in a fresh interpreter; (returncode, output)."""
    return _run_child("import libvsr; print('LOADED', libvsr.library_path)", env_changes, tmp_path)


def _installed_system_wide(tmp_path):
    rc, out = _run_child("import ctypes.util; print(ctypes.util.find_library('vsr'))", {}, tmp_path)
    return out.strip() != "None"


def test_library_from_pkg_config(vsr, library_path, tmp_path):
    if _installed_system_wide(tmp_path):
        pytest.skip("a libvsr is installed system-wide: find_library comes before pkg-config")
    if not shutil.which("pkg-config"):
        pytest.skip("no pkg-config")
    libdir = os.path.dirname(os.path.realpath(library_path))
    pc = tmp_path / "pc"
    pc.mkdir()
    (pc / "libvsr.pc").write_text(f"libdir={libdir}\nName: libvsr\nDescription: test\n"
                                  f"Version: {vsr.version()}\nLibs: -L${{libdir}} -lvsr\n")
    rc, out = _import_in_child({"PKG_CONFIG_PATH": str(pc), "PKG_CONFIG_LIBDIR": str(pc)},
                               tmp_path)
    assert rc == 0, out
    assert f"LOADED {os.path.join(libdir, 'libvsr.so')}" in out


def test_library_not_found_says_what_was_tried(tmp_path):
    if _installed_system_wide(tmp_path):
        pytest.skip("a libvsr is installed system-wide")
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, out = _import_in_child({"PKG_CONFIG_PATH": str(empty), "PKG_CONFIG_LIBDIR": str(empty)},
                               tmp_path)
    assert rc != 0 and "ImportError" in out
    for what in ("VSR_LIBRARY", "find_library", "pkg-config"):
        assert what in out, out


def test_bad_vsr_library_is_not_second_guessed(tmp_path):
    rc, out = _import_in_child({"VSR_LIBRARY": str(tmp_path / "nope" / "libvsr.so")}, tmp_path)
    assert rc != 0 and "VSR_LIBRARY" in out and "nope" in out


@pytest.mark.parametrize("version", [(0, 9, 0), (2, 0, 0)])
def test_incompatible_library_version_refused(tmp_path, version):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    a, b, c = version
    src = tmp_path / "fake.c"
    src.write_text(f"unsigned vsr_version(void) {{ return ({a} << 16) | ({b} << 8) | {c}; }}\n")
    so = tmp_path / "libvsr-fake.so"
    subprocess.run([cc, "-shared", "-fPIC", str(src), "-o", str(so)], check=True)
    rc, out = _import_in_child({"VSR_LIBRARY": str(so)}, tmp_path)
    assert rc != 0, out
    assert f"{a}.{b}.{c}" in out and "1.0" in out, out
