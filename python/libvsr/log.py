"""Routing libvsr's log messages to Python."""
import itertools
import threading

from . import _handles
from . import _lib
from . import _structs as S

lib = _lib.lib

# Log sinks by key (0 = the process-wide sink). One C callback serves them
# all and lives as long as the module.
_sinks = {}
_sinks_lock = threading.RLock()
_sink_keys = itertools.count(1)


def _log_entry(user, level, msg):
    _handles.callback_enter()
    try:
        with _sinks_lock:
            cb = _sinks.get(user or 0)
        if cb is not None:
            try:
                lvl = S.LogLevel(level)
            except ValueError:
                lvl = level
            cb(lvl, _lib.decode(msg) or "")
    except BaseException:
        pass  # a log sink must not fail the library call that logs
    finally:
        _handles.callback_exit()


log_trampoline = S.LOG_CALLBACK(_log_entry)


def set_log_callback(callback):
    """Send libvsr's log messages to callback(level: LogLevel, message: str).

    None restores the default sink (stderr). The callback runs on library
    worker threads too (never two at once) while libvsr holds its log lock:
    keep it short and do not call set_log_callback/set_log_level from it.
    Exceptions it raises are ignored.
    """
    with _sinks_lock:
        if callback is None:
            _sinks.pop(0, None)
        else:
            _sinks[0] = callback
    if callback is None:
        lib.vsr_log_set_callback(S.LOG_CALLBACK(), None)
    else:
        lib.vsr_log_set_callback(log_trampoline, None)


def set_log_level(level):
    """Drop messages above level: 'quiet', 'error', 'warning' (default), 'info', 'debug'."""
    if isinstance(level, str):
        level = S.LogLevel[level.upper()]
    lib.vsr_log_set_level(int(level))


def capture_ffmpeg(enable=True):
    """Route FFmpeg's own av_log messages into libvsr's log (process-global)."""
    lib.vsr_log_capture_ffmpeg(1 if enable else 0)


def add_sink(callback):
    """Register a per-session sink; returns its key (for vsr_session_settings.log_user)."""
    key = next(_sink_keys)
    with _sinks_lock:
        _sinks[key] = callback
    return key


def remove_sink(key):
    with _sinks_lock:
        _sinks.pop(key, None)


def _restore_default():
    with _sinks_lock:
        installed = 0 in _sinks
        _sinks.clear()
    if installed:
        lib.vsr_log_set_callback(S.LOG_CALLBACK(), None)


_handles.final_hooks.append(_restore_default)
