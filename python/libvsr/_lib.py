"""Finding and loading libvsr.so, and the prototypes of its functions."""
import ctypes
import ctypes.util
import os
import shutil
import subprocess
from ctypes import (POINTER, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint, c_void_p)

from . import _structs as S

u8p = POINTER(ctypes.c_uint8)
ptrdiff_t = ctypes.c_ssize_t


def _pkgconfig_libdir():
    exe = shutil.which("pkg-config")
    if not exe:
        return None, "pkg-config: not installed"
    try:
        r = subprocess.run([exe, "--variable=libdir", "libvsr"], capture_output=True, text=True,
                           timeout=20)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"pkg-config: {e}"
    libdir = r.stdout.strip()
    if r.returncode != 0 or not libdir:
        return None, "pkg-config: libvsr.pc not found"
    return libdir, None


def _installed():
    """The library `meson install` put next to this package (_config.py,
    generated at install): the path relative to the package first, so that
    a DESTDIR or moved tree uses its own library, then the configured one."""
    try:
        from . import _config
    except ImportError:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    relative = os.path.normpath(os.path.join(here, _config.LIBRARY_RELATIVE))
    if os.path.exists(relative):
        yield f"installed with this package: {relative}", relative
    elif os.path.exists(_config.LIBRARY):
        yield f"installed with this package: {_config.LIBRARY}", _config.LIBRARY
    else:
        yield f"installed with this package: {_config.LIBRARY}: no such file", None


def _candidates():
    """Yield (what was tried, target to load or None) in the documented order."""
    yield from _installed()
    name = ctypes.util.find_library("vsr")
    if name:
        yield f"ctypes.util.find_library('vsr') = {name}", name
    else:
        yield "ctypes.util.find_library('vsr'): not found", None
    libdir, note = _pkgconfig_libdir()
    if libdir:
        for fname in ("libvsr.so", f"libvsr.so.{S.API_VERSION_MAJOR}"):
            p = os.path.join(libdir, fname)
            yield f"pkg-config libdir: {p}", p
    else:
        yield note, None


def _load():
    env = os.environ.get("VSR_LIBRARY")
    if env:
        # An explicit choice is not second-guessed: no silent fallback to
        # some other libvsr when it cannot be loaded.
        try:
            return ctypes.CDLL(env), env
        except OSError as e:
            raise ImportError(f"libvsr: cannot load VSR_LIBRARY={env}: {e}") from None
    tried = ["VSR_LIBRARY: not set"]
    for what, target in _candidates():
        if target is None:
            tried.append(what)
            continue
        try:
            return ctypes.CDLL(target), target
        except OSError as e:
            tried.append(f"{what}: {e}")
    raise ImportError("libvsr: cannot find the shared library libvsr.so. Tried:\n  "
                      + "\n  ".join(tried)
                      + "\nSet VSR_LIBRARY to the full path of libvsr.so, or install libvsr where "
                        "the dynamic linker or pkg-config finds it.")


lib, path = _load()


def _fn(name, restype, *argtypes):
    try:
        f = getattr(lib, name)
    except AttributeError:
        raise ImportError(f"{path} has no function {name}: it is not libvsr, or a libvsr "
                          f"older than the API this binding was written for") from None
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


# version.h: checked before anything else is looked up
_fn("vsr_version", c_uint)


def _check_version():
    v = lib.vsr_version()
    major, minor, patch = (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF
    # version.h: a program built against headers newer than the library
    # must refuse to run (major must match, minor must not be older).
    if major != S.API_VERSION_MAJOR or minor < S.API_VERSION_MINOR:
        raise ImportError(
            f"libvsr at {path} has API version {major}.{minor}.{patch}, but this Python binding "
            f"was written for {S.API_VERSION_MAJOR}.{S.API_VERSION_MINOR} (needs the same major "
            f"version and at least that minor version)")
    return major, minor, patch


runtime_version = _check_version()
_fn("vsr_version_string", c_char_p)
_fn("vsr_build_info", c_char_p)

# common.h
_fn("vsr_strerror", c_char_p, c_int)
_fn("vsr_last_error", c_char_p)
_fn("vsr_log_set_callback", None, S.LOG_CALLBACK, c_void_p)
_fn("vsr_log_set_level", None, c_int)
_fn("vsr_log_capture_ffmpeg", None, c_int)
_fn("vsr_free", None, c_void_p)

# frame.h
_fn("vsr_frame_alloc", c_int, POINTER(c_void_p), c_int, c_int, c_int)
_fn("vsr_frame_wrap", c_int, POINTER(c_void_p), c_int, c_int, c_int, POINTER(c_void_p),
    POINTER(ptrdiff_t), S.FREE_CALLBACK, c_void_p)
_fn("vsr_frame_ref", c_void_p, c_void_p)
_fn("vsr_frame_unref", None, POINTER(c_void_p))
_fn("vsr_frame_width", c_int, c_void_p)
_fn("vsr_frame_height", c_int, c_void_p)
_fn("vsr_frame_format", c_int, c_void_p)
_fn("vsr_frame_format_name", c_char_p, c_void_p)
_fn("vsr_frame_bit_depth", c_int, c_void_p)
_fn("vsr_frame_planes", c_int, c_void_p)
_fn("vsr_frame_data", c_void_p, c_void_p, c_int)
_fn("vsr_frame_linesize", ptrdiff_t, c_void_p, c_int)
_fn("vsr_frame_plane_width", c_int, c_void_p, c_int)
_fn("vsr_frame_plane_height", c_int, c_void_p, c_int)
_fn("vsr_frame_pts", c_int64, c_void_p)
_fn("vsr_frame_set_pts", c_int, c_void_p, c_int64)
_fn("vsr_frame_duration", c_int64, c_void_p)
_fn("vsr_frame_set_duration", c_int, c_void_p, c_int64)
_fn("vsr_frame_time_base", S.vsr_rational, c_void_p)
_fn("vsr_frame_set_time_base", c_int, c_void_p, S.vsr_rational)
_fn("vsr_frame_get_colour", None, c_void_p, POINTER(S.vsr_colour))
_fn("vsr_frame_set_colour", c_int, c_void_p, POINTER(S.vsr_colour))
_fn("vsr_frame_set_user_data", c_int, c_void_p, c_void_p)
_fn("vsr_frame_user_data", c_void_p, c_void_p)
_fn("vsr_frame_is_writable", c_int, c_void_p)
_fn("vsr_frame_make_writable", c_int, POINTER(c_void_p))
_fn("vsr_frame_convert", c_int, POINTER(c_void_p), c_void_p, c_int, c_int, c_int)

# stream.h
_fn("vsr_input_settings_default", None, c_void_p)
_fn("vsr_input_open", c_int, POINTER(c_void_p), c_char_p, POINTER(S.vsr_input_settings))
_fn("vsr_input_open_buffer", c_int, POINTER(c_void_p), c_void_p, c_size_t,
    POINTER(S.vsr_input_settings))
_fn("vsr_input_get_info", c_int, c_void_p, POINTER(S.vsr_input_info))
_fn("vsr_input_read_frame", c_int, c_void_p, POINTER(c_void_p))
_fn("vsr_input_damaged", c_int, c_void_p, POINTER(c_char_p))
_fn("vsr_input_close", None, POINTER(c_void_p))
_fn("vsr_output_settings_default", None, c_void_p)
_fn("vsr_output_open", c_int, POINTER(c_void_p), c_char_p, c_void_p, POINTER(S.vsr_output_settings))
_fn("vsr_output_write_frame", c_int, c_void_p, c_void_p)
_fn("vsr_output_frames", c_int64, c_void_p)
_fn("vsr_output_finish", c_int, c_void_p)
_fn("vsr_output_close", None, POINTER(c_void_p))

# tracker.h
_fn("vsr_tracker_settings_default", None, c_void_p)
_fn("vsr_tracker_open", c_int, POINTER(c_void_p), POINTER(S.vsr_tracker_settings))
_fn("vsr_tracker_unref", None, POINTER(c_void_p))
_fn("vsr_tracker_ref", c_void_p, c_void_p)
_fn("vsr_tracker_set_event_callback", c_int, c_void_p, S.EVENT_CALLBACK, c_void_p)
_fn("vsr_tracker_set_progress_callback", c_int, c_void_p, S.PROGRESS_CALLBACK, c_void_p)
_fn("vsr_tracker_set_meta", c_int, c_void_p, c_char_p, c_char_p)
_fn("vsr_tracker_record", c_int, c_void_p, POINTER(S.vsr_op_record))
_fn("vsr_tracker_progress", c_int, c_void_p, POINTER(S.vsr_progress))
_fn("vsr_op_begin", c_int, c_void_p, c_char_p, c_char_p, POINTER(c_void_p))
_fn("vsr_op_set_frames", c_int, c_void_p, c_int64)
_fn("vsr_op_set_resolution", c_int, c_void_p, c_int, c_int, c_int, c_int)
_fn("vsr_op_set_scale", c_int, c_void_p, c_int)
_fn("vsr_op_set_quality", c_int, c_void_p, c_double)
_fn("vsr_op_set_meta", c_int, c_void_p, c_char_p, c_char_p)
_fn("vsr_op_end", c_int, POINTER(c_void_p), c_int, c_char_p)
_fn("vsr_tracker_in_flight", c_int, c_void_p, POINTER(POINTER(POINTER(S.vsr_op_record))), POINTER(c_int))
_fn("vsr_tracker_get_stats", c_int, c_void_p, c_char_p, c_char_p, POINTER(S.vsr_op_stats))
_fn("vsr_tracker_get_trend", c_int, c_void_p, c_char_p, c_char_p, c_int, POINTER(S.vsr_op_trend))
_fn("vsr_tracker_list", c_int, c_void_p, c_int, POINTER(POINTER(c_char_p)), POINTER(c_int))
_fn("vsr_tracker_history_count", c_int, c_void_p)
_fn("vsr_tracker_history_get", c_int, c_void_p, c_int, POINTER(POINTER(S.vsr_op_record)))
_fn("vsr_tracker_get_resources", c_int, c_void_p, POINTER(S.vsr_resource_stats))
_fn("vsr_tracker_record_quality", c_int, c_void_p, c_int64, c_double, c_double)
_fn("vsr_tracker_get_quality", c_int, c_void_p, POINTER(S.vsr_quality_stats))
_fn("vsr_tracker_reset", None, c_void_p)
_fn("vsr_tracker_export", c_int, c_void_p, c_int, c_char_p)
_fn("vsr_tracker_export_string", c_int, c_void_p, c_int, POINTER(c_void_p))

# model.h
_fn("vsr_precision_name", c_char_p, c_int)
_fn("vsr_model_settings_default", None, c_void_p)
_fn("vsr_model_open", c_int, POINTER(c_void_p), POINTER(S.vsr_model_settings))
_fn("vsr_model_ref", c_void_p, c_void_p)
_fn("vsr_model_unref", None, POINTER(c_void_p))
_fn("vsr_model_get_card", c_int, c_void_p, POINTER(S.vsr_model_card))
_fn("vsr_model_get_info", c_int, c_void_p, POINTER(S.vsr_model_info))
_fn("vsr_process_settings_default", None, c_void_p)
_fn("vsr_process_configure", c_int, POINTER(S.vsr_process_settings))
_fn("vsr_process_get_settings", c_int, POINTER(S.vsr_process_settings))

# session.h
_fn("vsr_session_settings_default", None, c_void_p)
_fn("vsr_session_open", c_int, POINTER(c_void_p), POINTER(S.vsr_session_settings))
_fn("vsr_session_close", None, POINTER(c_void_p))
_fn("vsr_session_get_info", c_int, c_void_p, POINTER(S.vsr_session_info))
_fn("vsr_session_get_card", c_int, c_void_p, POINTER(S.vsr_model_card))
_fn("vsr_session_send_frame", c_int, c_void_p, c_void_p)
_fn("vsr_session_receive_frame", c_int, c_void_p, POINTER(c_void_p))
_fn("vsr_session_reset", None, c_void_p)
_fn("vsr_session_cancel", None, c_void_p)
_fn("vsr_run_settings_default", None, c_void_p)
_fn("vsr_upscale_file", c_int, c_void_p, c_char_p, c_char_p, POINTER(S.vsr_run_settings),
    POINTER(S.vsr_run_result))
_fn("vsr_recommend_settings", c_int, c_char_p, POINTER(S.vsr_recommendation))

# job.h
_fn("vsr_job_settings_default", None, c_void_p)
_fn("vsr_job_plan", c_int, c_void_p, c_char_p, c_char_p, POINTER(S.vsr_run_settings),
    POINTER(S.vsr_job_settings), c_char_p)
_fn("vsr_job_open", c_int, POINTER(c_void_p), c_char_p)
_fn("vsr_job_close", None, POINTER(c_void_p))
_fn("vsr_job_get_info", c_int, c_void_p, POINTER(S.vsr_job_info))
_fn("vsr_job_get_segment", c_int, c_void_p, c_int64, POINTER(S.vsr_job_segment))
_fn("vsr_job_open_session", c_int, c_void_p, c_char_p, c_void_p, c_void_p, POINTER(c_void_p))
_fn("vsr_job_run_segment", c_int, c_void_p, c_void_p, c_int64, POINTER(S.vsr_run_result))
_fn("vsr_job_stitch", c_int, c_void_p, POINTER(S.vsr_run_result))
_fn("vsr_upscale_range", c_int, c_void_p, c_char_p, c_char_p, c_int64, c_int64,
    POINTER(S.vsr_run_settings), POINTER(S.vsr_run_result))

# Slack for the _default() functions of a newer library (same major, newer
# minor) whose settings structs may have grown: they write their own size.
_DEFAULT_SLACK = 4096


def defaults(cls, fn):
    """A settings struct filled by the library's ..._default(), sized for this binding.

    The library may be newer than the binding (a larger struct), so the
    default function writes into a larger scratch buffer; the fields this
    binding knows are copied out and size is set to ctypes.sizeof(cls),
    which the library accepts from older callers.
    """
    n = ctypes.sizeof(cls)
    scratch = ctypes.create_string_buffer(n + _DEFAULT_SLACK)
    fn(ctypes.cast(scratch, c_void_p))
    s = cls.from_buffer_copy(scratch.raw[:n])
    s.size = n
    return s


def decode(b):
    """C string (bytes or None) -> str."""
    if b is None:
        return None
    return b.decode("utf-8", errors="replace")


def encode(s):
    """str/PathLike/bytes/None -> bytes or None for a const char * argument."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return os.fsencode(s)
