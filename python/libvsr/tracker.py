"""Tracker: timings, resource peaks and quality of libvsr runs, with callbacks."""
import ctypes
import itertools
import threading
import weakref
from ctypes import byref, c_void_p
from dataclasses import dataclass, field
from typing import Optional

from . import _handles
from . import _lib
from . import _structs as S
from .errors import check

lib = _lib.lib


def op_type(t):
    """OpType from an OpType, int or name ('decode', 'inference', ...)."""
    if isinstance(t, str):
        try:
            return S.OpType[t.upper()]
        except KeyError:
            raise ValueError(f"unknown operation type {t!r}; one of "
                             + ", ".join(o.name.lower() for o in S.OpType)) from None
    return S.OpType(int(t))


def _enum(cls, v, what):
    if isinstance(v, str):
        try:
            return cls[v.upper()]
        except KeyError:
            raise ValueError(f"unknown {what} {v!r}; one of "
                             + ", ".join(o.name.lower() for o in cls)) from None
    return cls(int(v))


@dataclass
class OpRecord:
    """One finished operation (vsr_op_record), copied out of the library."""
    type: S.OpType
    strategy: Optional[str]
    run_id: int
    start_ns: int
    end_ns: int
    duration_ns: int
    frames: int
    chunks: int
    tiles: int
    in_width: int
    in_height: int
    out_width: int
    out_height: int
    scale: int
    precision: Optional[str]
    device: Optional[str]
    success: bool
    error_code: int
    error_message: Optional[str]
    meta: dict = field(default_factory=dict)

    @property
    def type_name(self):
        return self.type.name.lower() if isinstance(self.type, S.OpType) else str(self.type)

    @property
    def duration_ms(self):
        return self.duration_ns / 1e6

    @classmethod
    def _from_c(cls, r):
        d = _lib.decode
        try:
            t = S.OpType(r.type)
        except ValueError:
            t = r.type
        meta = {}
        if r.meta and r.n_meta > 0:
            for i in range(r.n_meta):
                kv = r.meta[i]
                meta[d(kv.key)] = d(kv.value)
        return cls(t, d(r.strategy), r.run_id, r.start_ns, r.end_ns, r.duration_ns, r.frames,
                   r.chunks, r.tiles, r.in_width, r.in_height, r.out_width, r.out_height, r.scale,
                   d(r.precision), d(r.device), bool(r.success), r.error_code,
                   d(r.error_message), meta)


@dataclass
class Progress:
    """Progress of a run (vsr_progress)."""
    run_id: int
    frames_done: int
    frames_total: int   # -1 if unknown
    elapsed_s: float
    fps: float
    eta_s: float        # -1 if unknown

    @classmethod
    def _from_c(cls, p):
        return cls(p.run_id, p.frames_done, p.frames_total, p.elapsed_s, p.fps, p.eta_s)


def _plain(cls_name, cstruct, doc):
    """A dataclass with the fields of cstruct (except size), filled from it."""
    fields = [(n, object) for n, _ in cstruct._fields_ if n != "size"]
    from dataclasses import make_dataclass
    dc = make_dataclass(cls_name, fields)
    dc.__doc__ = doc
    dc._from_c = classmethod(lambda cls, c: cls(*[getattr(c, n) for n, _ in fields]))
    return dc


OpStats = _plain("OpStats", S.vsr_op_stats,
                 "Statistics over the records of one operation type (vsr_op_stats).")
ResourceStats = _plain("ResourceStats", S.vsr_resource_stats,
                       "Resource peaks seen by the sampler (vsr_resource_stats).")
QualityStats = _plain("QualityStats", S.vsr_quality_stats,
                      "PSNR/SSIM against a reference (vsr_quality_stats).")
for _dc in (OpStats, ResourceStats, QualityStats):
    _dc.__module__ = __name__

# Trackers by key. The two C callbacks below live as long as the module; a
# tracker is found from the key in `user`, so no CFUNCTYPE object is ever
# freed while the library could call it, and a tracker that is gone (or a
# session still holding the C tracker after the Python object closed)
# simply gets no callback.
_trackers = {}
_trackers_lock = threading.RLock()
_tracker_keys = itertools.count(1)


def _lookup(user):
    with _trackers_lock:
        ref = _trackers.get(user or 0)
    return ref() if ref is not None else None


def _event_entry(user, rec):
    _handles.callback_enter()
    try:
        t = _lookup(user)
        return t._on_event(rec) if t is not None else 0
    except BaseException:
        return 1
    finally:
        _handles.callback_exit()


def _progress_entry(user, prog):
    _handles.callback_enter()
    try:
        t = _lookup(user)
        return t._on_progress(prog) if t is not None else 0
    except BaseException:
        return 1
    finally:
        _handles.callback_exit()


_event_trampoline = S.EVENT_CALLBACK(_event_entry)
_progress_trampoline = S.PROGRESS_CALLBACK(_progress_entry)


class Tracker(_handles.Handle):
    """Where the time and memory went (vsr_tracker).

        t = libvsr.Tracker(granularity="operation")
        t.on_progress(lambda p: print(p.frames_done, p.frames_total))
        with libvsr.Session(model_path=..., tracker=t) as s:
            s.upscale_file("in.mp4", "out.mkv")
        print(t.stats("inference").mean_ms)

    Callbacks run on library worker threads, one at a time. A callback that
    returns a true value cancels the run. A callback that raises also
    cancels it; the exception is kept in .callback_error and
    Session.upscale_file() raises CancelledError from it.
    """

    _kind = "tracker"

    def __init__(self, history_length=None, granularity=None, sampler_interval_ms=None):
        s = _lib.defaults(S.vsr_tracker_settings, lib.vsr_tracker_settings_default)
        if history_length is not None:
            s.history_length = int(history_length)
        if granularity is not None:
            s.granularity = int(_enum(S.Granularity, granularity, "granularity"))
        if sampler_interval_ms is not None:
            s.sampler_interval_ms = int(sampler_interval_ms)
        self._event_cb = None
        self._progress_cb = None
        self.callback_error = None
        self._err_lock = threading.RLock()
        p = c_void_p()
        check(lib.vsr_tracker_create(byref(p), byref(s)))
        self._key = next(_tracker_keys)
        with _trackers_lock:
            _trackers[self._key] = weakref.ref(self)
        self._take(p)

    def _free(self, ptr):
        with _trackers_lock:
            _trackers.pop(self._key, None)
        lib.vsr_tracker_destroy(byref(ptr))

    # ---------------------------------------------------------- callbacks
    def on_event(self, callback):
        """callback(OpRecord) after each operation; a true result cancels. None removes."""
        self._event_cb = callback
        tramp = _event_trampoline if callback is not None else S.EVENT_CALLBACK()
        check(lib.vsr_tracker_set_event_callback(self._handle(), tramp, c_void_p(self._key)))
        return callback

    def on_progress(self, callback):
        """callback(Progress) after each frame written; a true result cancels. None removes."""
        self._progress_cb = callback
        tramp = _progress_trampoline if callback is not None else S.PROGRESS_CALLBACK()
        check(lib.vsr_tracker_set_progress_callback(self._handle(), tramp, c_void_p(self._key)))
        return callback

    def _store_error(self, e):
        with self._err_lock:
            if self.callback_error is None:
                self.callback_error = e

    def take_callback_error(self):
        """The first exception a callback raised since the last call, or None; clears it."""
        with self._err_lock:
            e, self.callback_error = self.callback_error, None
        return e

    def _on_event(self, rec):
        cb = self._event_cb
        if cb is None:
            return 0
        try:
            return 1 if cb(OpRecord._from_c(rec.contents)) else 0
        except BaseException as e:
            self._store_error(e)
            return 1

    def _on_progress(self, prog):
        cb = self._progress_cb
        if cb is None:
            return 0
        try:
            return 1 if cb(Progress._from_c(prog.contents)) else 0
        except BaseException as e:
            self._store_error(e)
            return 1

    # ---------------------------------------------------------- recording
    def set_meta(self, key, value):
        """Attach key=value to every later record (value None removes the key)."""
        check(lib.vsr_tracker_set_meta(self._handle(), _lib.encode(key), _lib.encode(value)))

    def record_quality(self, frame_index, psnr_db, ssim):
        check(lib.vsr_tracker_record_quality(self._handle(), int(frame_index), float(psnr_db),
                                             float(ssim)))

    def reset(self):
        """Clear statistics, history, peaks and quality (callbacks and metadata stay)."""
        lib.vsr_tracker_reset(self._handle())

    # ------------------------------------------------------------ reading
    def stats(self, type, strategy=None):
        """OpStats of one operation type ('decode', ..., 'run'), for one strategy or all."""
        c = S.new_sized(S.vsr_op_stats)
        check(lib.vsr_tracker_get_stats(self._handle(), int(op_type(type)), _lib.encode(strategy),
                                        byref(c)))
        return OpStats._from_c(c)

    def all_stats(self, strategy=None):
        """{type name: OpStats} for every operation type."""
        return {t.name.lower(): self.stats(t, strategy) for t in S.OpType}

    def history(self):
        """The records kept, oldest first, as OpRecord objects."""
        h = self._handle()
        out = []
        for i in range(lib.vsr_tracker_history_count(h)):
            c = S.new_sized(S.vsr_op_record)
            if lib.vsr_tracker_history_get(h, i, byref(c)) < 0:
                break  # the ring moved on meanwhile
            out.append(OpRecord._from_c(c))
        return out

    def resources(self):
        c = S.new_sized(S.vsr_resource_stats)
        check(lib.vsr_tracker_get_resources(self._handle(), byref(c)))
        return ResourceStats._from_c(c)

    def quality(self):
        c = S.new_sized(S.vsr_quality_stats)
        check(lib.vsr_tracker_get_quality(self._handle(), byref(c)))
        return QualityStats._from_c(c)

    def export(self, fmt, path):
        """Write 'json', 'csv' or 'prometheus' to path (written whole, then renamed)."""
        f = _enum(S.ExportFormat, fmt, "export format")
        check(lib.vsr_tracker_export(self._handle(), int(f), _lib.encode(path)))

    def export_string(self, fmt):
        """The 'json', 'csv' or 'prometheus' export as str."""
        f = _enum(S.ExportFormat, fmt, "export format")
        p = c_void_p()
        check(lib.vsr_tracker_export_string(self._handle(), int(f), byref(p)))
        try:
            return ctypes.string_at(p).decode("utf-8", errors="replace")
        finally:
            lib.vsr_free(p)

    def __repr__(self):
        return f"<libvsr.Tracker {'closed' if self.closed else 'open'}>"
