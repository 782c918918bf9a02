"""Input (decoding a file or memory buffer) and Output (encoding a file)."""
import ctypes
from ctypes import byref, c_char_p, c_void_p
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import numpy as np

from . import _handles
from . import _lib
from . import _structs as S
from .errors import check, make_error
from .frame import Colour, Frame

lib = _lib.lib

_INPUT_KEYS = ("threads", "hwdec", "max_width", "max_height", "max_pixels", "max_frames",
               "stream_index", "frame_threads")
_OUTPUT_KEYS = ("codec", "crf", "preset", "pix_fmt", "bitrate", "threads", "options",
                "copy_streams", "overwrite", "frame_rate")


def input_settings(keep, **kw):
    """vsr_input_settings from keyword arguments (None = library default).

    Byte strings the struct points to are appended to keep, which the
    caller must hold while the struct is in use.
    """
    s = _lib.defaults(S.vsr_input_settings, lib.vsr_input_settings_default)
    for k, v in kw.items():
        if k not in _INPUT_KEYS:
            raise TypeError(f"unknown input setting {k!r}")
        if v is None:
            continue
        if k == "hwdec":
            b = _lib.encode(v)
            keep.append(b)
            s.hwdec = b
        else:
            setattr(s, k, int(v))
    return s


def _options_text(v):
    if isinstance(v, dict):
        return ";".join(f"{k}={val}" for k, val in v.items())
    return v


def output_settings(keep, **kw):
    """vsr_output_settings from keyword arguments (None = library default)."""
    s = _lib.defaults(S.vsr_output_settings, lib.vsr_output_settings_default)
    for k, v in kw.items():
        if k not in _OUTPUT_KEYS:
            raise TypeError(f"unknown output setting {k!r}")
        if v is None:
            continue
        if k in ("codec", "preset", "pix_fmt", "options"):
            b = _lib.encode(_options_text(v) if k == "options" else v)
            keep.append(b)
            setattr(s, k, b)
        elif k == "frame_rate":
            fr = Fraction(v).limit_denominator(1001000) if not isinstance(v, tuple) else Fraction(*v)
            s.frame_rate = S.vsr_rational(fr.numerator, fr.denominator)
        elif k in ("copy_streams", "overwrite"):
            setattr(s, k, 1 if v else 0)
        else:
            setattr(s, k, int(v))
    return s


@dataclass
class InputInfo:
    """vsr_input_info as Python values."""
    width: int
    height: int
    time_base: tuple
    frame_rate: tuple
    frames: int             # -1 if unknown
    duration_s: float       # -1 if unknown
    format: object          # PixFmt (or int for an unnamed one)
    format_name: str
    bit_depth: int
    codec: str
    container: str
    colour: Colour
    stream_index: int
    n_streams: int
    has_audio: bool

    @property
    def fps(self) -> Optional[float]:
        num, den = self.frame_rate
        return num / den if num and den else None


def _info_from_c(c):
    try:
        fmt = S.PixFmt(c.format)
    except ValueError:
        fmt = c.format
    return InputInfo(
        width=c.width, height=c.height,
        time_base=(c.time_base.num, c.time_base.den),
        frame_rate=(c.frame_rate.num, c.frame_rate.den),
        frames=c.frames, duration_s=c.duration_s, format=fmt,
        format_name=_lib.decode(c.format_name), bit_depth=c.bit_depth,
        codec=_lib.decode(c.codec), container=_lib.decode(c.container),
        colour=Colour._from_c(c.colour), stream_index=c.stream_index,
        n_streams=c.n_streams, has_audio=bool(c.has_audio))


class Input(_handles.Handle):
    """A video file (or memory buffer) opened for decoding.

        with libvsr.Input("clip.mp4", max_frames=10) as inp:
            print(inp.info.width, inp.info.height)
            for frame in inp:
                ...

    Keyword settings mirror vsr_input_settings: threads, hwdec, max_width,
    max_height, max_pixels, max_frames, stream_index.
    """

    _kind = "input"

    def __init__(self, path, **settings):
        self._keep = []
        self.path = path
        s = input_settings(self._keep, **settings)
        p = c_void_p()
        check(lib.vsr_input_open(byref(p), _lib.encode(path), byref(s)))
        self._take(p)

    @classmethod
    def open_buffer(cls, data, **settings):
        """Open a container held in memory (bytes, bytearray, memoryview, numpy).

        The data is not copied; the Input keeps a reference to it.
        """
        self = cls.__new__(cls)
        self._keep = []
        self.path = None
        s = input_settings(self._keep, **settings)
        if isinstance(data, bytes):
            addr = ctypes.cast(c_char_p(data), c_void_p)
            size = len(data)
            self._keep.append(data)
        else:
            mv = memoryview(data).cast("B")
            if not mv.c_contiguous:
                raise ValueError("open_buffer needs contiguous memory")
            size = mv.nbytes
            if mv.readonly:
                b = bytes(mv)  # ctypes cannot point into read-only buffers
                self._keep.append(b)
                addr = ctypes.cast(c_char_p(b), c_void_p)
            else:
                arr = (ctypes.c_char * size).from_buffer(mv)
                self._keep.extend([data, mv, arr])
                addr = ctypes.cast(arr, c_void_p)
        p = c_void_p()
        check(lib.vsr_input_open_buffer(byref(p), addr, size, byref(s)))
        self._take(p)
        return self

    def _free(self, ptr):
        lib.vsr_input_close(byref(ptr))

    @property
    def info(self):
        """InputInfo of the video stream."""
        c = S.new_sized(S.vsr_input_info)
        check(lib.vsr_input_get_info(self._handle(), byref(c)))
        return _info_from_c(c)

    def read(self):
        """The next decoded frame, or None at the end of the stream."""
        p = c_void_p()
        err = lib.vsr_input_read_frame(self._handle(), byref(p))
        if err == S.VSR_EOF:
            return None
        check(err)
        return Frame._own(p)

    def __iter__(self):
        while True:
            f = self.read()
            if f is None:
                return
            yield f

    def damaged(self):
        """(number of damage events so far, description of the first or None)."""
        msg = c_char_p()
        n = lib.vsr_input_damaged(self._handle(), byref(msg))
        return n, _lib.decode(msg.value)

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return f"<libvsr.Input {self.path or 'memory buffer'!s} {state}>"


class Output(_handles.Handle):
    """A video file being encoded.

    The file is written to "<path>.partial" and moved into place by
    finish(). close() without finish() removes it. Used as a context
    manager, a block that ends normally finishes the file; a block left by
    an exception only closes it, so no partial file remains.

    source: an Input whose other streams (audio, subtitles), metadata and
    colour description are copied; it must stay open until finish() (the
    Output keeps a reference to it). Keyword settings mirror
    vsr_output_settings: codec, crf, preset, pix_fmt, bitrate, threads,
    options (str "k=v;k=v" or dict), copy_streams, overwrite, frame_rate.
    """

    _kind = "output"

    def __init__(self, path, source=None, **settings):
        self._keep = []
        self.path = path
        self.source = source
        self.finished = False
        s = output_settings(self._keep, **settings)
        p = c_void_p()
        src = source._handle() if source is not None else None
        check(lib.vsr_output_open(byref(p), _lib.encode(path), src, byref(s)))
        self._take(p)

    def _free(self, ptr):
        lib.vsr_output_close(byref(ptr))

    def write(self, frame):
        """Encode one frame (a Frame, or a numpy array for Frame.from_numpy)."""
        if isinstance(frame, np.ndarray):
            with Frame.from_numpy(frame) as f:
                return self.write(f)
        check(lib.vsr_output_write_frame(self._handle(), frame._handle()))

    @property
    def frames_written(self):
        return lib.vsr_output_frames(self._handle())

    def finish(self):
        """Flush, write the trailer and move the file into place."""
        err = lib.vsr_output_finish(self._handle())
        if err < 0:
            raise make_error(err)
        self.finished = True

    def _release(self):
        super()._release()
        self.source = None

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and not self.closed and not self.finished:
                self.finish()
        finally:
            self.close()
        return False

    def __repr__(self):
        state = "finished" if self.finished else "closed" if self.closed else "open"
        return f"<libvsr.Output {self.path!s} {state}>"
