"""Model, Session (send/receive, process(), upscale_file()), the process-wide
inference settings (configure(), process_settings()) and recommend_settings()."""
import ctypes
import threading
from ctypes import byref, c_void_p
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _handles
from . import _lib
from . import _structs as S
from . import log as _log
from .errors import CancelledError, EndOfStream, InputDamagedError, check, make_error
from .frame import Frame
from .stream import input_settings, output_settings

lib = _lib.lib


def precision(p):
    """Precision from a Precision, int or name ('auto', 'fp32', 'bf16', 'fp16')."""
    if isinstance(p, str):
        try:
            return S.Precision[p.upper()]
        except KeyError:
            raise ValueError(f"unknown precision {p!r}; one of auto, fp32, bf16, fp16") from None
    return S.Precision(int(p))


def _auto_int(v):
    return S.VSR_AUTO if isinstance(v, str) and v.lower() == "auto" else int(v)


@dataclass
class ModelCard:
    """What libvsr knows of a model (vsr_model_card)."""
    name: str
    scale: int
    frames_in: int
    center_only: bool
    layout: S.Layout
    range_min: float
    range_max: float
    rf_spatial: int
    rf_temporal: int
    size_multiple: int
    license: str
    global_pool: bool = False

    @classmethod
    def _from_c(cls, c):
        try:
            layout = S.Layout(c.layout)
        except ValueError:
            layout = c.layout
        return cls(_lib.decode(c.name), c.scale, c.frames_in, bool(c.center_only), layout,
                   c.range_min, c.range_max, c.rf_spatial, c.rf_temporal, c.size_multiple,
                   _lib.decode(c.license), bool(c.global_pool))


@dataclass
class ModelInfo:
    """What a loaded model runs on and what was measured at load (vsr_model_info)."""
    device: str
    precision: S.Precision
    bytes_per_pixel: float
    ns_per_pixel: float


@dataclass
class ProcessSettings:
    """The process-wide inference settings in force (vsr_process_settings)."""
    threads: int
    cuda_tf32: bool
    cudnn_benchmark: bool


def configure(*, threads=None, cuda_tf32=None, cudnn_benchmark=None):
    """Set the process-wide inference settings (vsr_process_configure).

    threads: CPU inference threads (0 = one per core); cuda_tf32: allow TF32
    on CUDA; cudnn_benchmark: let cuDNN pick the fastest algorithm per shape.
    Settings left out keep their defaults (threads 0, cuda_tf32 False,
    cudnn_benchmark True), as in C. They apply to every model, loaded or not.
    """
    s = _lib.defaults(S.vsr_process_settings, lib.vsr_process_settings_default)
    if threads is not None:
        s.threads = int(threads)
    if cuda_tf32 is not None:
        s.cuda_tf32 = 1 if cuda_tf32 else 0
    if cudnn_benchmark is not None:
        s.cudnn_benchmark = 1 if cudnn_benchmark else 0
    check(lib.vsr_process_configure(byref(s)))


def process_settings():
    """ProcessSettings: the values in force now (threads is the actual count)."""
    s = S.new_sized(S.vsr_process_settings)
    check(lib.vsr_process_get_settings(byref(s)))
    return ProcessSettings(s.threads, bool(s.cuda_tf32), bool(s.cudnn_benchmark))


@dataclass
class SessionInfo:
    """What a session actually uses (vsr_session_info)."""
    device: str
    precision: S.Precision
    threads: int
    batch: int
    chunk: int
    overlap: int
    tile: int
    tile_pad: int
    scale: int
    mem_limit: int


@dataclass
class RunResult:
    """The outcome of Session.upscale_file() (vsr_run_result)."""
    frames_decoded: int
    frames_written: int
    frames_resumed: int
    chunks: int
    tiles: int
    input_damaged: int
    cancelled: bool
    seconds: float
    fps: float
    max_frames_in_flight: int
    output: Optional[str] = None


def run_result(res, output=None):
    """RunResult from a vsr_run_result."""
    return RunResult(res.frames_decoded, res.frames_written, res.frames_resumed, res.chunks,
                     res.tiles, res.input_damaged, bool(res.cancelled), res.seconds, res.fps,
                     res.max_frames_in_flight, None if output is None else str(output))


def run_settings(keep, *, codec=None, crf=None, preset=None, pix_fmt=None, bitrate=None,
                 encoder_threads=None, options=None, copy_streams=None, overwrite=None,
                 frame_rate=None, pipelined=None, queue_depth=None, resume=None, reference=None,
                 max_frames=None, decoder_threads=None, hwdec=None, stream_index=None,
                 max_width=None, max_height=None):
    """vsr_run_settings (with its input and output settings) from keyword
    arguments, None meaning the library's default. What the structs point
    to is appended to keep, which must outlive their use."""
    ins = input_settings(keep, threads=decoder_threads, hwdec=hwdec, max_frames=max_frames,
                         stream_index=stream_index, max_width=max_width, max_height=max_height)
    outs = output_settings(keep, codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                           bitrate=bitrate, threads=encoder_threads, options=options,
                           copy_streams=copy_streams, overwrite=overwrite, frame_rate=frame_rate)
    keep += [ins, outs]
    rs = _lib.defaults(S.vsr_run_settings, lib.vsr_run_settings_default)
    rs.input = ctypes.pointer(ins)
    rs.output = ctypes.pointer(outs)
    if pipelined is not None:
        rs.pipelined = 1 if pipelined else 0
    if queue_depth is not None:
        rs.queue_depth = int(queue_depth)
    if resume is not None:
        rs.resume = 1 if resume else 0
    if reference is not None:
        ref = _lib.encode(reference)
        keep.append(ref)
        rs.reference_path = ref
    return rs


@dataclass
class Recommendation:
    """Settings libvsr recommends for this machine and model (vsr_recommendation)."""
    device: str
    precision: S.Precision
    threads: int
    batch: int
    chunk: int
    tile: int
    tile_pad: int
    mem_limit: int
    reasons: list


_SESSION_KEYS = ("batch", "chunk", "overlap", "tile", "tile_pad", "tile_blend", "chunk_blend",
                 "mem_limit", "tracker", "log_callback", "output_format")
_MODEL_KEYS = ("device", "precision", "cuda_graph", "cache")


def _session_settings(model, **kw):
    s = _lib.defaults(S.vsr_session_settings, lib.vsr_session_settings_default)
    s.model = model._handle()
    for k, v in kw.items():
        if k not in _SESSION_KEYS:
            raise TypeError(f"unknown session setting {k!r}")
        if v is None:
            continue
        if k == "tracker":
            s.tracker = v._handle()
        elif k in ("tile_blend", "chunk_blend"):
            setattr(s, k, 1 if v else 0)
        elif k == "output_format":
            s.output_format = int(S.PixFmt[v.upper()] if isinstance(v, str) else S.PixFmt(int(v)))
        elif k == "log_callback":
            pass  # installed by Session
        else:
            setattr(s, k, _auto_int(v))
    return s


class Model(_handles.Handle):
    """A loaded TorchScript model with its card, shareable by several sessions.

        m = libvsr.Model("realesr-animevideov3-x2.pt", precision="fp32")
        print(m.card.scale, m.info().device)
        s1 = libvsr.Session(model=m)

    Settings mirror vsr_model_settings: device ('cpu', 'cuda', 'cuda:N',
    'auto'), precision ('auto', 'fp32', 'bf16', 'fp16'), cuda_graph, cache
    (False: measure the auto precision now; no start-up cache).
    """

    _kind = "model"

    def __init__(self, path, *, device=None, precision=None, cuda_graph=None, cache=None):
        self.path = path
        s = _lib.defaults(S.vsr_model_settings, lib.vsr_model_settings_default)
        keep = [_lib.encode(path)]
        s.path = keep[0]
        if device is not None:
            keep.append(_lib.encode(device))
            s.device = keep[-1]
        if precision is not None:
            s.precision = int(globals()["precision"](precision))
        if cuda_graph is not None:
            s.cuda_graph = 1 if cuda_graph else 0
        if cache is not None:
            s.cache = 1 if cache else 0
        p = c_void_p()
        check(lib.vsr_model_open(byref(p), byref(s)))
        self._take(p)

    def _free(self, ptr):
        lib.vsr_model_unref(byref(ptr))

    @property
    def card(self):
        c = S.new_sized(S.vsr_model_card)
        check(lib.vsr_model_get_card(self._handle(), byref(c)))
        return ModelCard._from_c(c)

    def info(self):
        """ModelInfo: device, resolved precision, and what was measured at load."""
        c = S.new_sized(S.vsr_model_info)
        check(lib.vsr_model_get_info(self._handle(), byref(c)))
        try:
            prec = S.Precision(c.precision)
        except ValueError:
            prec = c.precision
        return ModelInfo(_lib.decode(c.device), prec, c.bytes_per_pixel, c.ns_per_pixel)

    def __repr__(self):
        return f"<libvsr.Model {self.path!s} {'closed' if self.closed else 'loaded'}>"


class Session(_handles.Handle):
    """A model run over a sequence of frames (vsr_session).

        m = libvsr.Model("x2.pt", precision="fp32")
        with libvsr.Session(model=m, tile=128) as s:
            result = s.upscale_file("in.mp4", "out.mkv", crf=20)
            for out in s.process(frames):     # Frames or numpy arrays in
                ...                           # upscaled RGBF32 Frames out

    model is a Model (or the first positional argument). For convenience,
    Session(model_path="x2.pt", device=..., precision=..., cuda_graph=...)
    opens the model itself (kept as .model). Other keyword settings mirror
    vsr_session_settings: batch, chunk, overlap, tile, tile_pad ('auto'
    where the C API takes VSR_AUTO), tile_blend, chunk_blend, mem_limit,
    tracker (a Tracker), log_callback (callable(level, message) for this
    session's messages), output_format (a PixFmt or its name; default
    RGBF32). Threads, TF32 and cuDNN are process-wide: libvsr.configure().
    """

    _kind = "session"

    def __init__(self, model=None, *, model_path=None, **settings):
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            model, model_path = None, model
        model_kw = {k: settings.pop(k) for k in _MODEL_KEYS if k in settings}
        if model is None:
            if model_path is None:
                raise TypeError("Session needs model=Model(...) or model_path=...")
            model = Model(model_path, **model_kw)
            own_model = True
        elif model_path is not None or any(v is not None for v in model_kw.values()):
            raise TypeError("model_path, device, precision, cuda_graph and cache are Model settings: "
                            "pass them to Model(), or model_path instead of model")
        else:
            own_model = False
        self.model = model
        self.tracker = settings.get("tracker")
        self.eof = False
        self._log_key = None
        try:
            s = _session_settings(model, **settings)
        except BaseException:
            if own_model:
                model.close()
            raise
        cb = settings.get("log_callback")
        if cb is not None:
            self._log_key = _log.add_sink(cb)
            s.log_callback = _log.log_trampoline
            s.log_user = self._log_key
        p = c_void_p()
        err = lib.vsr_session_open(byref(p), byref(s))
        if own_model:
            # the session holds its own reference: the Python one can go
            # with the session, or at once when the session failed
            self._own_model = model
        if err < 0:
            e = make_error(err)
            self._drop_sink()
            if own_model:
                model.close()
            raise e
        self._take(p)

    def _drop_sink(self):
        if self._log_key is not None:
            _log.remove_sink(self._log_key)
            self._log_key = None

    def _free(self, ptr):
        lib.vsr_session_close(byref(ptr))
        self._drop_sink()
        own = getattr(self, "_own_model", None)
        if own is not None:
            self._own_model = None
            own.close()

    # ------------------------------------------------------------- info
    def info(self):
        """SessionInfo: what the session uses after 'auto' choices and fallbacks."""
        c = S.new_sized(S.vsr_session_info)
        check(lib.vsr_session_get_info(self._handle(), byref(c)))
        try:
            prec = S.Precision(c.precision)
        except ValueError:
            prec = c.precision
        return SessionInfo(_lib.decode(c.device), prec, c.threads, c.batch, c.chunk, c.overlap,
                           c.tile, c.tile_pad, c.scale, c.mem_limit)

    @property
    def card(self):
        c = S.new_sized(S.vsr_model_card)
        check(lib.vsr_session_get_card(self._handle(), byref(c)))
        return ModelCard._from_c(c)

    # --------------------------------------------------------- streaming
    def send(self, frame):
        """Send a frame (Frame or numpy array); None starts draining.

        Returns True when accepted, False when upscaled frames must be
        received first (VSR_EAGAIN).
        """
        if isinstance(frame, np.ndarray):
            with Frame.from_numpy(frame) as f:
                return self.send(f)
        err = lib.vsr_session_send_frame(self._handle(), None if frame is None else frame._handle())
        if err == S.VSR_EAGAIN:
            return False
        check(err)
        return True

    def receive(self):
        """The next upscaled RGBF32 Frame; None when more input is needed.

        Raises EndOfStream after a drain has delivered every frame (and
        sets .eof).
        """
        p = c_void_p()
        err = lib.vsr_session_receive_frame(self._handle(), byref(p))
        if err == S.VSR_EAGAIN:
            return None
        if err == S.VSR_EOF:
            self.eof = True
            raise EndOfStream(err, "session drained")
        check(err)
        return Frame._own(p)

    def reset(self):
        """Forget buffered frames and start a new sequence."""
        lib.vsr_session_reset(self._handle())
        self.eof = False

    def _ready(self):
        while True:
            f = self.receive()
            if f is None:
                return
            yield f

    def process(self, frames, as_numpy=False):
        """Upscale an iterable of frames (Frame objects or numpy arrays), in order.

        A generator of upscaled RGBF32 Frames (or, with as_numpy=True, their
        (3, H, W) float32 views). The sequence is drained at the end and the
        session reset, so it can process another one.
        """
        def out(f):
            if not as_numpy:
                return f
            a = f.to_numpy()
            f.close()  # the array holds its own reference
            return a

        self.reset()
        try:
            for f in frames:
                while not self.send(f):
                    for g in self._ready():
                        yield out(g)
                for g in self._ready():
                    yield out(g)
            self.send(None)
            while True:
                try:
                    g = self.receive()
                except EndOfStream:
                    break
                if g is None:  # cannot happen after a drain, but never spin
                    break
                yield out(g)
        finally:
            if not self.closed:
                self.reset()

    # ------------------------------------------------------------- files
    def cancel(self):
        """Ask a running upscale_file() to stop cleanly (safe from any thread)."""
        if self._ptr is not None:
            lib.vsr_session_cancel(self._ptr)

    def upscale_file(self, input, output, *, codec=None, crf=None, preset=None, pix_fmt=None,
                     bitrate=None, encoder_threads=None, options=None, copy_streams=None,
                     overwrite=None, frame_rate=None, pipelined=None, queue_depth=None,
                     resume=None, reference=None, max_frames=None, decoder_threads=None,
                     hwdec=None, stream_index=None, start_us=None, end_us=None, start_frame=None,
                     end_frame=None):
        """Upscale a whole file: decode, run the model, encode, copy the other streams.

        start_us/end_us (microseconds from the input's start) and start_frame/
        end_frame (frame indices) keep part of the input, as FFmpeg's -ss/-to
        do; the output's timestamps start at 0 (vsr_run_settings).

        Returns a RunResult. A run cancelled by a callback returning true or
        by cancel() returns normally with result.cancelled set (the output
        holds the frames written). Raises InputDamagedError (the output WAS
        written; .result), CancelledError when a tracker callback raised
        (from that exception; .result), or another VsrError (no output
        left). Ctrl-C cancels the run cleanly and re-raises KeyboardInterrupt.
        """
        keep = []
        rs = run_settings(keep, codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt,
                          bitrate=bitrate, encoder_threads=encoder_threads, options=options,
                          copy_streams=copy_streams, overwrite=overwrite, frame_rate=frame_rate,
                          pipelined=pipelined, queue_depth=queue_depth, resume=resume,
                          reference=reference, max_frames=max_frames,
                          decoder_threads=decoder_threads, hwdec=hwdec, stream_index=stream_index)
        for name, v in (("start_us", start_us), ("end_us", end_us), ("start_frame", start_frame),
                        ("end_frame", end_frame)):
            if v is not None:
                setattr(rs, name, int(v))
        res = S.new_sized(S.vsr_run_result)
        handle = self._handle()
        in_b, out_b = _lib.encode(input), _lib.encode(output)

        def call():
            return lib.vsr_upscale_file(handle, in_b, out_b, byref(rs), byref(res))

        return self._run_call(call, res, output)

    def upscale_range(self, input, output, first_frame, frames, **settings):
        """Upscale frames [first_frame, first_frame + frames) of input into output
        (video only), each with its original pts (vsr_upscale_range).

        For embedders that orchestrate segments themselves: the library
        indexes the input and derives the context the model needs around
        the range (feed range, seek point) itself. Takes upscale_file()'s
        output and run settings; returns a RunResult.
        """
        keep = []
        rs = run_settings(keep, **settings)
        res = S.new_sized(S.vsr_run_result)
        handle = self._handle()
        in_b, out_b = _lib.encode(input), _lib.encode(output)
        first, count = int(first_frame), int(frames)

        def call():
            return lib.vsr_upscale_range(handle, in_b, out_b, first, count, byref(rs), byref(res))

        return self._run_call(call, res, output)

    @classmethod
    def _adopt(cls, ptr, tracker=None):
        """A Session owning a vsr_session the library opened itself
        (vsr_job_open_session); its model belongs to the session."""
        self = cls.__new__(cls)
        self.model = None
        self.tracker = tracker
        self.eof = False
        self._log_key = None
        self._take(ptr)
        return self

    def _run_call(self, call, res, output):
        """Run a blocking C call that fills a vsr_run_result (upscale_file,
        vsr_upscale_range, vsr_job_run_segment) and turn its outcome into a
        RunResult or an exception, as upscale_file() documents."""
        if self.tracker is not None and not self.tracker.closed:
            self.tracker.take_callback_error()  # forget one from an earlier run
        err, msg = self._interruptible(call)
        result = run_result(res, output)
        if err == 0:
            return result
        if err == S.VSR_ERROR_CANCELLED:
            cause = None
            if self.tracker is not None and not self.tracker.closed:
                cause = self.tracker.take_callback_error()
            if cause is None:
                return result
            e = CancelledError(err, f"{msg}; a tracker callback raised "
                                    f"{type(cause).__name__}: {cause}")
            e.result = result
            raise e from cause
        e = make_error(err, msg)
        if isinstance(e, InputDamagedError):
            e.result = result
        raise e

    def _interruptible(self, call):
        """Run call() (a blocking C call) on a helper thread; Ctrl-C cancels it.

        Returns (code, vsr_last_error() of the helper thread). The wait is
        on an Event, not Thread.join(): a KeyboardInterrupt inside join()
        can make CPython 3.11 consider the thread finished while it runs.
        It is timed, because SIGINT may be delivered to one of the
        library's threads, which does not wake an untimed wait here.
        """
        box = {"rc": S.VSR_ERROR_CANCELLED, "msg": "run did not complete"}
        done = threading.Event()

        def run():
            try:
                rc = call()
                box["rc"] = rc
                box["msg"] = _lib.decode(lib.vsr_last_error()) if rc < 0 else ""
            finally:
                done.set()

        self._run_done = done
        th = threading.Thread(target=run, name="libvsr-run", daemon=True)
        th.start()
        try:
            while not done.wait(0.1):
                pass
        except KeyboardInterrupt:
            # Stop the run cleanly and wait for it: the session must not be
            # closed under it. A further Ctrl-C only repeats the cancel.
            while not done.is_set():
                try:
                    self.cancel()
                    done.wait(0.05)
                except KeyboardInterrupt:
                    pass
            raise
        finally:
            if done.is_set():
                self._run_done = None
        return box["rc"], box["msg"]

    def _release(self):
        # Never free the session under a run in progress (close() from
        # another thread, or at exit): cancel it and wait for it to stop.
        done = getattr(self, "_run_done", None)
        if done is not None and self._ptr is not None:
            lib.vsr_session_cancel(self._ptr)
            done.wait()
        super()._release()

    def __repr__(self):
        return f"<libvsr.Session {'closed' if self.closed else 'open'}>"


def recommend_settings(model_path=None):
    """Settings libvsr recommends for this machine (and model), with reasons."""
    c = S.new_sized(S.vsr_recommendation)
    check(lib.vsr_recommend_settings(_lib.encode(model_path), byref(c)))
    try:
        prec = S.Precision(c.precision)
    except ValueError:
        prec = c.precision
    reasons = [r for r in (_lib.decode(c.reasons) or "").splitlines() if r.strip()]
    return Recommendation(_lib.decode(c.device), prec, c.threads, c.batch, c.chunk, c.tile,
                          c.tile_pad, c.mem_limit, reasons)
