"""Tracker: timings, resource peaks and quality of libvsr runs and of the
application's own operations, with callbacks."""
import ctypes
import functools
import itertools
import math
import threading
import weakref
from ctypes import POINTER, byref, c_char_p, c_int, c_void_p
from dataclasses import dataclass, field
from typing import Optional

from . import _handles
from . import _lib
from . import _structs as S
from .errors import VsrError, check

lib = _lib.lib

#: error_code of an operation that ended with a Python exception (a tag of
#: the binding's, like libvsr's own codes: negative, four letters "PYEX").
EXCEPTION_CODE = -(ord('P') | (ord('Y') << 8) | (ord('E') << 16) | (ord('X') << 24))


def op_type(t):
    """An operation type name from an OpType or a str ('decode', 'analysis', ...)."""
    if isinstance(t, S.OpType):
        return t.value
    if isinstance(t, str):
        return t
    raise TypeError(f"operation type must be a str or OpType, not {type(t).__name__}")


def _name(v):
    """A type or strategy argument as bytes (None stays None)."""
    return None if v is None else _lib.encode(op_type(v))


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
    """One operation (vsr_op_record), copied out of the library."""
    type: str
    strategy: Optional[str]
    id: int
    run_id: int
    start_ns: int
    end_ns: int          # 0 while in flight
    duration_ns: int     # so far, while in flight
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
    quality: Optional[float] = None          # None when the operation had no quality score
    peak_rss_bytes: Optional[int] = None     # None when unknown
    peak_device_bytes: Optional[int] = None  # None when unknown

    @property
    def type_name(self):
        return self.type

    @property
    def duration_ms(self):
        return self.duration_ns / 1e6

    @classmethod
    def _from_c(cls, r):
        d = _lib.decode
        meta = {}
        if r.meta and r.n_meta > 0:
            for i in range(r.n_meta):
                kv = r.meta[i]
                meta[d(kv.key)] = d(kv.value)
        return cls(d(r.type), d(r.strategy), r.id, r.run_id, r.start_ns, r.end_ns, r.duration_ns,
                   r.frames, r.chunks, r.tiles, r.in_width, r.in_height, r.out_width, r.out_height,
                   r.scale, d(r.precision), d(r.device), bool(r.success), r.error_code,
                   d(r.error_message), meta,
                   None if math.isnan(r.quality) else r.quality,
                   r.peak_rss_bytes if r.peak_rss_bytes >= 0 else None,
                   r.peak_device_bytes if r.peak_device_bytes >= 0 else None)


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
                 "Statistics over the records of one type and/or strategy (vsr_op_stats); "
                 "success_rate is NaN and the peaks are -1 when unknown.")
OpTrend = _plain("OpTrend", S.vsr_op_trend,
                 "The last `window` operations against the `window` before (vsr_op_trend); "
                 "means, ratio and rates are NaN when undefined.")
ResourceStats = _plain("ResourceStats", S.vsr_resource_stats,
                       "Resource peaks seen by the sampler (vsr_resource_stats).")
QualityStats = _plain("QualityStats", S.vsr_quality_stats,
                      "PSNR/SSIM against a reference (vsr_quality_stats).")
for _dc in (OpStats, OpTrend, ResourceStats, QualityStats):
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


class Operation(_handles.Handle):
    """An operation of the application's in flight (vsr_op), from Tracker.operation().

    Used as a context manager it ends when the block ends: as a success, or
    as a failure with the exception's message when one is raised (the
    exception goes on). update() sets what is known so far; fail() marks
    it failed without an exception.
    """

    _kind = "operation"

    def __init__(self, tracker, type, strategy=None):
        self.type = op_type(type)
        self.strategy = None if strategy is None else op_type(strategy)
        self._in_size = (0, 0)
        self._out_size = (0, 0)
        self._failure = None
        p = c_void_p()
        check(lib.vsr_op_begin(tracker._handle(), _name(self.type), _name(self.strategy), byref(p)))
        self._tracker = tracker
        self._take(p)

    def _free(self, ptr):
        # Collected without being ended: recorded as a failure rather than lost.
        lib.vsr_op_end(byref(ptr), EXCEPTION_CODE, b"the operation was never ended")

    def update(self, frames=None, in_size=None, out_size=None, scale=None, quality=None, meta=None):
        """Set what is known so far: frames processed, in_size=(w, h), out_size=(W, H)
        (the scale follows when it is a whole number), scale, a quality score,
        meta={key: value} (a value None removes the key). Returns self."""
        h = self._handle()
        if frames is not None:
            check(lib.vsr_op_set_frames(h, int(frames)))
        if in_size is not None or out_size is not None:
            if in_size is not None:
                self._in_size = (int(in_size[0]), int(in_size[1]))
            if out_size is not None:
                self._out_size = (int(out_size[0]), int(out_size[1]))
            check(lib.vsr_op_set_resolution(h, *self._in_size, *self._out_size))
        if scale is not None:
            check(lib.vsr_op_set_scale(h, int(scale)))
        if quality is not None:
            check(lib.vsr_op_set_quality(h, float(quality)))
        for k, v in (meta or {}).items():
            check(lib.vsr_op_set_meta(h, _lib.encode(str(k)), None if v is None else _lib.encode(str(v))))
        return self

    def fail(self, message, code=EXCEPTION_CODE):
        """Mark the operation failed (recorded when it ends)."""
        self._failure = (int(code), str(message))

    def end(self, error=None):
        """End the operation now: error None = success (unless fail() was called),
        an exception or a message = failure. Idempotent."""
        if self._ptr is None:
            return
        code, msg = 0, None
        if error is not None:
            code = getattr(error, "code", None) if isinstance(error, VsrError) else None
            code = code if isinstance(code, int) and code != 0 else EXCEPTION_CODE
            msg = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
        elif self._failure is not None:
            code, msg = self._failure
        ptr, self._ptr = self._ptr, None
        try:
            err = lib.vsr_op_end(byref(ptr), code, _lib.encode(msg))
        finally:
            _handles.unregister(self, self._kind)
        # VSR_ERROR_CANCELLED: an event callback's wish, meant for libvsr's runs
        if err < 0 and err != S.VSR_ERROR_CANCELLED:
            check(err)

    @property
    def ended(self):
        return self._ptr is None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.end(exc)
        return False  # an exception goes on

    def __repr__(self):
        return f"<libvsr.Operation {self.type!r} by {self.strategy!r} {'ended' if self.ended else 'in flight'}>"


class Tracker(_handles.Handle):
    """Where the time and memory went (vsr_tracker).

        t = libvsr.Tracker(granularity="operation")
        t.on_progress(lambda p: print(p.frames_done, p.frames_total))
        with libvsr.Session(model_path=..., tracker=t) as s:
            s.upscale_file("in.mp4", "out.mkv")
        print(t.stats("inference").mean_ms)

    The application's own operations go into the same tracker:

        with t.operation("analysis", "degradation_router") as op:
            op.update(frames=n, in_size=(w, h), out_size=(2 * w, 2 * h), quality=0.9,
                      meta={"scene": "night"})

        @t.track("enhancement", "vsrm")
        def enhance(clip): ...

    An exception inside is recorded as a failure with its message and goes on.

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
        check(lib.vsr_tracker_open(byref(p), byref(s)))
        self._key = next(_tracker_keys)
        with _trackers_lock:
            _trackers[self._key] = weakref.ref(self)
        self._take(p)

    def _free(self, ptr):
        with _trackers_lock:
            _trackers.pop(self._key, None)
        lib.vsr_tracker_unref(byref(ptr))

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

    # ------------------------------------------------------ own operations
    def operation(self, type, strategy=None):
        """Begin an operation of the application's (an Operation; best used with `with`)."""
        return Operation(self, type, strategy)

    def track(self, type, strategy=None):
        """Decorator: each call of the function is one operation of this type and strategy."""
        def decorate(fn):
            @functools.wraps(fn)
            def tracked(*args, **kwargs):
                with self.operation(type, strategy):
                    return fn(*args, **kwargs)
            return tracked
        return decorate

    # ------------------------------------------------------------ reading
    def stats(self, type=None, strategy=None):
        """OpStats of one type ('decode', ..., 'run', or the application's) and one
        strategy; None means all."""
        c = S.new_sized(S.vsr_op_stats)
        check(lib.vsr_tracker_get_stats(self._handle(), _name(type), _name(strategy), byref(c)))
        return OpStats._from_c(c)

    def trend(self, type=None, strategy=None, window=100):
        """OpTrend: the last `window` operations of the key against the `window` before."""
        c = S.new_sized(S.vsr_op_trend)
        check(lib.vsr_tracker_get_trend(self._handle(), _name(type), _name(strategy), int(window),
                                        byref(c)))
        return OpTrend._from_c(c)

    def _list(self, what):
        names = POINTER(c_char_p)()
        n = c_int()
        check(lib.vsr_tracker_list(self._handle(), what, byref(names), byref(n)))
        try:
            return [_lib.decode(names[i]) for i in range(n.value)]
        finally:
            lib.vsr_free(ctypes.cast(names, c_void_p))

    def types(self):
        """The operation types with records, sorted."""
        return self._list(S.LIST_TYPES)

    def strategies(self):
        """The strategies with records, sorted ('' for records without one)."""
        return self._list(S.LIST_STRATEGIES)

    def all_stats(self, strategy=None):
        """{type: OpStats} for every type with records (of one strategy, or all)."""
        return {t: self.stats(t, strategy) for t in self.types()}

    def strategy_stats(self):
        """{strategy: OpStats} over every type."""
        return {s: self.stats(None, s) for s in self.strategies()}

    def _records(self, ptr, n):
        try:
            return [OpRecord._from_c(ptr[i]) for i in range(n)]
        finally:
            lib.vsr_free(ctypes.cast(ptr, c_void_p))

    def in_flight(self):
        """The operations begun and not yet ended, oldest first, as OpRecord objects."""
        p = POINTER(POINTER(S.vsr_op_record))()
        n = c_int()
        check(lib.vsr_tracker_in_flight(self._handle(), byref(p), byref(n)))
        if not n.value:
            return []
        try:  # an array of pointers into one block
            return [OpRecord._from_c(p[i].contents) for i in range(n.value)]
        finally:
            lib.vsr_free(ctypes.cast(p, c_void_p))

    def history(self):
        """The records kept, oldest first, as OpRecord objects."""
        h = self._handle()
        out = []
        for i in range(lib.vsr_tracker_history_count(h)):
            p = POINTER(S.vsr_op_record)()
            if lib.vsr_tracker_history_get(h, i, byref(p)) < 0:
                break  # the ring moved on meanwhile
            out += self._records(p, 1)
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
