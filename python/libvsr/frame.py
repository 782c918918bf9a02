"""Frame: a reference-counted libvsr picture, with zero-copy numpy views."""
import itertools
import threading
from ctypes import byref, c_void_p
from dataclasses import dataclass

import numpy as np

from . import _handles
from . import _lib
from . import _structs as S
from .errors import check

lib = _lib.lib

# Per named format: the numpy dtype of a sample and the number of interleaved
# samples per pixel in each plane (in the frame's plane order).
_LAYOUTS = {
    S.PixFmt.RGBF32: (np.float32, (1, 1, 1)),
    S.PixFmt.RGB24: (np.uint8, (3,)),
    S.PixFmt.RGB48: (np.uint16, (3,)),
    S.PixFmt.YUV420P: (np.uint8, (1, 1, 1)),
    S.PixFmt.YUV422P: (np.uint8, (1, 1, 1)),
    S.PixFmt.YUV444P: (np.uint8, (1, 1, 1)),
    S.PixFmt.YUVJ420P: (np.uint8, (1, 1, 1)),
    S.PixFmt.YUV420P10: (np.uint16, (1, 1, 1)),
    S.PixFmt.YUV422P10: (np.uint16, (1, 1, 1)),
    S.PixFmt.YUV444P10: (np.uint16, (1, 1, 1)),
    S.PixFmt.NV12: (np.uint8, (1, 2)),
    S.PixFmt.P010: (np.uint16, (1, 2)),
    S.PixFmt.GBRP: (np.uint8, (1, 1, 1)),
    S.PixFmt.GBRP10: (np.uint16, (1, 1, 1)),
    S.PixFmt.GRAY8: (np.uint8, (1,)),
}

_FORMAT_NAMES = {f.name.lower(): f for f in S.PixFmt}


def pixfmt(fmt):
    """PixFmt from a PixFmt, an int, or a name such as 'rgbf32' / 'RGB24'."""
    if isinstance(fmt, S.PixFmt):
        return fmt
    if isinstance(fmt, str):
        try:
            return _FORMAT_NAMES[fmt.lower()]
        except KeyError:
            raise ValueError(f"unknown pixel format {fmt!r}; one of "
                             + ", ".join(sorted(_FORMAT_NAMES))) from None
    return S.PixFmt(int(fmt))


@dataclass
class Colour:
    """Colour description in ITU-T H.273 code points (see vsr_colour)."""
    matrix: int = 2
    range: int = 0
    primaries: int = 2
    transfer: int = 2
    chroma_location: int = 0

    @classmethod
    def _from_c(cls, c):
        return cls(c.matrix, c.range, c.primaries, c.transfer, c.chroma_location)

    def _to_c(self):
        return S.vsr_colour(self.matrix, self.range, self.primaries, self.transfer,
                            self.chroma_location)


class _View(_handles.Handle):
    """The base object of numpy arrays over a frame's memory.

    It owns its own reference to the frame, so the memory stays valid as
    long as any array made from it exists, whether or not the Frame object
    that made it was closed.
    """

    _kind = "view"

    def __init__(self, frame_ptr, addr, shape, strides, dtype, writable):
        self._take(c_void_p(lib.vsr_frame_ref(frame_ptr)))
        self.__array_interface__ = {
            "version": 3,
            "data": (addr, not writable),
            "shape": tuple(shape),
            "strides": tuple(strides),
            "typestr": np.dtype(dtype).str,
        }

    def _free(self, ptr):
        lib.vsr_frame_unref(byref(ptr))


# Caller memory wrapped by Frame.from_numpy: key -> (array, on_free). The one
# C callback below lives as long as the module, so no CFUNCTYPE object can be
# freed while the library might still call it; the key in `opaque` finds the
# array to let go.
_wrapped = {}
_wrapped_lock = threading.RLock()
_wrap_keys = itertools.count(1)


def _on_wrapped_free(opaque):
    _handles.callback_enter()
    try:
        with _wrapped_lock:
            entry = _wrapped.pop(opaque or 0, None)
        if entry is not None and entry[1] is not None:
            entry[1]()
    except BaseException:  # never let an exception into the C caller
        pass
    finally:
        _handles.callback_exit()


_free_trampoline = S.FREE_CALLBACK(_on_wrapped_free)


def wrapped_arrays():
    """Number of numpy arrays currently kept alive by wrapped frames."""
    with _wrapped_lock:
        return len(_wrapped)


class Frame(_handles.Handle):
    """One reference to a vsr_frame.

    close() (or leaving a with block, or garbage collection) drops the
    reference. Arrays from planes()/to_numpy() hold their own reference and
    stay valid after close(). Frames are immutable once shared: the
    property setters (pts, duration, time_base, colour, user_data) raise
    InvalidArgumentError while another reference exists (another Frame,
    a numpy view, a session or output holding it).
    """

    _kind = "frame"
    # True for frames over read-only caller memory: their views are read-only.
    _readonly = False

    def __init__(self, _ptr=None):
        """Frames come from Frame.alloc(), Frame.from_numpy(), Input, Session."""
        if _ptr is None:
            raise TypeError("use Frame.alloc(), Frame.from_numpy() or read frames from an Input")
        self._take(_ptr if isinstance(_ptr, c_void_p) else c_void_p(_ptr))

    @classmethod
    def _own(cls, ptr):
        """Wrap a reference the caller owns (a c_void_p from the library)."""
        return cls(c_void_p(ptr.value if isinstance(ptr, c_void_p) else ptr))

    def _free(self, ptr):
        lib.vsr_frame_unref(byref(ptr))

    # ----------------------------------------------------------- creation
    @classmethod
    def alloc(cls, fmt, width, height):
        """A new frame with uninitialised pixels."""
        p = c_void_p()
        check(lib.vsr_frame_alloc(byref(p), int(pixfmt(fmt)), int(width), int(height)))
        return cls._own(p)

    @classmethod
    def from_numpy(cls, array, fmt=None, *, on_free=None, pts=None, time_base=None,
                   colour=None):
        """Wrap a numpy array as a frame without copying (vsr_frame_wrap).

        Layouts: (3, H, W) float32 -> RGBF32 (planes R, G, B); (H, W, 3)
        uint8 -> RGB24; (H, W, 3) uint16 -> RGB48; (H, W) uint8 -> GRAY8.
        Rows and planes may be strided (e.g. a crop), but samples within a
        row must be contiguous. The array is kept alive until libvsr drops
        its last reference to the frame (also when the session or output
        still holds it after this Frame was closed); then on_free() is
        called once, possibly from a library thread. The array must not be
        changed while the frame is in use.
        """
        if not isinstance(array, np.ndarray):
            raise TypeError("from_numpy needs a numpy.ndarray")
        fmt = _infer_format(array) if fmt is None else pixfmt(fmt)
        width, height, offsets, linesizes = _wrap_layout(array, fmt)
        base = array.ctypes.data
        data = (c_void_p * 4)(*[base + o for o in offsets] + [None] * (4 - len(offsets)))
        lines = (_lib.ptrdiff_t * 4)(*linesizes + [0] * (4 - len(linesizes)))
        key = next(_wrap_keys)
        entry = (array, on_free)
        with _wrapped_lock:
            _wrapped[key] = entry
        p = c_void_p()
        err = lib.vsr_frame_wrap(byref(p), int(fmt), width, height, data, lines, _free_trampoline,
                                 c_void_p(key))
        if err < 0:
            # the caller keeps the memory when wrapping fails
            with _wrapped_lock:
                _wrapped.pop(key, None)
            check(err)
        f = cls._own(p)
        f._readonly = not array.flags.writeable
        if pts is not None:
            f.pts = pts
        if time_base is not None:
            f.time_base = time_base
        if colour is not None:
            f.colour = colour
        return f

    def ref(self):
        """Another Frame object holding a new reference to the same frame."""
        f = Frame._own(c_void_p(lib.vsr_frame_ref(self._handle())))
        f._readonly = self._readonly
        return f

    def convert(self, fmt, width=None, height=None):
        """A new frame in another format and/or size (bicubic resize)."""
        p = c_void_p()
        w = self.width if width is None else int(width)
        h = self.height if height is None else int(height)
        check(lib.vsr_frame_convert(byref(p), self._handle(), int(pixfmt(fmt)), w, h))
        return Frame._own(p)

    # --------------------------------------------------------- properties
    @property
    def width(self):
        return lib.vsr_frame_width(self._handle())

    @property
    def height(self):
        return lib.vsr_frame_height(self._handle())

    @property
    def shape(self):
        """(height, width)."""
        return self.height, self.width

    @property
    def format(self):
        v = lib.vsr_frame_format(self._handle())
        try:
            return S.PixFmt(v)
        except ValueError:
            return v

    @property
    def format_name(self):
        return _lib.decode(lib.vsr_frame_format_name(self._handle()))

    @property
    def bit_depth(self):
        return lib.vsr_frame_bit_depth(self._handle())

    @property
    def n_planes(self):
        return lib.vsr_frame_planes(self._handle())

    @property
    def pts(self):
        """Presentation time in time_base units, None when unknown."""
        v = lib.vsr_frame_pts(self._handle())
        return None if v == -(1 << 63) else v

    @pts.setter
    def pts(self, value):
        check(lib.vsr_frame_set_pts(self._handle(), -(1 << 63) if value is None else int(value)))

    @property
    def duration(self):
        return lib.vsr_frame_duration(self._handle())

    @duration.setter
    def duration(self, value):
        check(lib.vsr_frame_set_duration(self._handle(), int(value)))

    @property
    def time_base(self):
        """(num, den)."""
        r = lib.vsr_frame_time_base(self._handle())
        return r.num, r.den

    @time_base.setter
    def time_base(self, value):
        if hasattr(value, "numerator"):
            value = (value.numerator, value.denominator)
        num, den = value
        check(lib.vsr_frame_set_time_base(self._handle(), S.vsr_rational(int(num), int(den))))

    @property
    def time_s(self):
        """pts in seconds, None when unknown."""
        pts, (num, den) = self.pts, self.time_base
        return None if pts is None or den == 0 else pts * num / den

    @property
    def colour(self):
        c = S.vsr_colour()
        lib.vsr_frame_get_colour(self._handle(), byref(c))
        return Colour._from_c(c)

    @colour.setter
    def colour(self, value):
        c = value._to_c()
        check(lib.vsr_frame_set_colour(self._handle(), byref(c)))

    @property
    def user_data(self):
        """The caller's pointer-sized value (an int, None when unset).

        A session copies it onto the output frame made from this input
        frame: an index or key into the caller's own table.
        """
        return lib.vsr_frame_user_data(self._handle())

    @user_data.setter
    def user_data(self, value):
        check(lib.vsr_frame_set_user_data(self._handle(), None if value is None else c_void_p(int(value))))

    @property
    def writable(self):
        """True when this is the only reference and the frame owns its pixels
        (numpy views hold references of their own)."""
        return bool(lib.vsr_frame_is_writable(self._handle()))

    def make_writable(self):
        """Copy on write: replace this reference by a private copy when the
        frame is shared or does not own its pixels; returns self."""
        check(lib.vsr_frame_make_writable(byref(self._handle())))
        self._readonly = False
        return self

    # -------------------------------------------------------------- numpy
    def _layout(self):
        fmt = self.format
        if fmt not in _LAYOUTS:
            raise ValueError(f"no numpy layout for pixel format {self.format_name}; "
                             "convert() the frame to a named format first")
        return fmt, _LAYOUTS[fmt]

    def planes(self, writable=None):
        """One numpy array per plane, viewing the frame's memory (no copy).

        Shapes are (rows, columns) for single-sample planes and
        (rows, columns, samples) for interleaved ones (RGB24, NV12's UV).
        Frames libvsr returned must not be written while another reference
        to them exists (see frame.h). writable=None: writable unless the
        frame wraps a read-only array.
        """
        ptr = self._handle()
        if writable is None:
            writable = not self._readonly
        _, (dtype, chans) = self._layout()
        item = np.dtype(dtype).itemsize
        out = []
        for p, ch in enumerate(chans):
            addr = lib.vsr_frame_data(ptr, p)
            ls = lib.vsr_frame_linesize(ptr, p)
            w = lib.vsr_frame_plane_width(ptr, p)
            h = lib.vsr_frame_plane_height(ptr, p)
            if ch == 1:
                shape, strides = (h, w), (ls, item)
            else:
                shape, strides = (h, w, ch), (ls, ch * item, item)
            out.append(np.asarray(_View(ptr, addr, shape, strides, dtype, writable)))
        return out

    def to_numpy(self, writable=None):
        """The whole picture as one numpy array viewing the frame's memory.

        RGBF32 -> float32 (3, H, W) (R, G, B); RGB24/RGB48 -> (H, W, 3);
        GRAY8 -> (H, W); planar formats whose planes are all full size and
        evenly spaced in memory (YUV444P, GBRP, ...) -> (3, H, W). Other
        formats: use planes() or convert(). writable as for planes().
        """
        ptr = self._handle()
        if writable is None:
            writable = not self._readonly
        fmt, (dtype, chans) = self._layout()
        if len(chans) == 1:
            return self.planes(writable)[0]
        item = np.dtype(dtype).itemsize
        n = len(chans)
        addrs = [lib.vsr_frame_data(ptr, p) for p in range(n)]
        lss = [lib.vsr_frame_linesize(ptr, p) for p in range(n)]
        ws = [lib.vsr_frame_plane_width(ptr, p) for p in range(n)]
        hs = [lib.vsr_frame_plane_height(ptr, p) for p in range(n)]
        step = addrs[1] - addrs[0]
        even = all(addrs[p + 1] - addrs[p] == step for p in range(n - 1))
        same = len(set(lss)) == 1 and len(set(ws)) == 1 and len(set(hs)) == 1 and set(chans) == {1}
        if not (even and same):
            raise ValueError(f"the planes of this {self.format_name} frame cannot be one array; "
                             "use planes()")
        shape = (n, hs[0], ws[0])
        strides = (step, lss[0], item)
        return np.asarray(_View(ptr, addrs[0], shape, strides, dtype, writable))

    def __array__(self, dtype=None, copy=None):
        a = self.to_numpy(writable=False)
        return a if dtype is None else a.astype(dtype)

    def __repr__(self):
        if self.closed:
            return "<libvsr.Frame closed>"
        return f"<libvsr.Frame {self.width}x{self.height} {self.format_name} pts={self.pts}>"


def _infer_format(a):
    if a.ndim == 3 and a.shape[0] == 3 and a.dtype == np.float32:
        return S.PixFmt.RGBF32
    if a.ndim == 3 and a.shape[2] == 3 and a.dtype == np.uint8:
        return S.PixFmt.RGB24
    if a.ndim == 3 and a.shape[2] == 3 and a.dtype == np.uint16:
        return S.PixFmt.RGB48
    if a.ndim == 2 and a.dtype == np.uint8:
        return S.PixFmt.GRAY8
    raise ValueError(f"cannot tell the pixel format of a {a.dtype} array of shape {a.shape}: "
                     "use (3,H,W) float32, (H,W,3) uint8/uint16 or (H,W) uint8, or pass fmt=")


def _wrap_layout(a, fmt):
    """(width, height, plane byte offsets, linesizes) for wrapping array a as fmt."""
    def need(cond, what):
        if not cond:
            raise ValueError(f"from_numpy({fmt.name}): {what} (got {a.dtype} {a.shape}, strides "
                             f"{a.strides}); np.ascontiguousarray() gives a suitable copy")

    if fmt == S.PixFmt.RGBF32:
        need(a.dtype == np.float32 and a.ndim == 3 and a.shape[0] == 3, "needs a (3, H, W) float32 array")
        _, h, w = a.shape
        need(a.strides[2] == 4 and a.strides[1] >= 4 * w and a.strides[0] > 0,
             "rows must be contiguous and planes/rows positively strided")
        return w, h, [0, a.strides[0], 2 * a.strides[0]], [a.strides[1]] * 3
    if fmt in (S.PixFmt.RGB24, S.PixFmt.RGB48):
        dt = np.uint8 if fmt == S.PixFmt.RGB24 else np.uint16
        need(a.dtype == dt and a.ndim == 3 and a.shape[2] == 3, f"needs an (H, W, 3) {np.dtype(dt)} array")
        h, w, _ = a.shape
        it = a.itemsize
        need(a.strides[2] == it and a.strides[1] == 3 * it and a.strides[0] >= 3 * it * w,
             "pixels must be packed within a row")
        return w, h, [0], [a.strides[0]]
    if fmt == S.PixFmt.GRAY8:
        need(a.dtype == np.uint8 and a.ndim == 2, "needs an (H, W) uint8 array")
        h, w = a.shape
        need(a.strides[1] == 1 and a.strides[0] >= w, "rows must be contiguous")
        return w, h, [0], [a.strides[0]]
    raise ValueError(f"from_numpy does not wrap {fmt.name}; wrap RGBF32, RGB24, RGB48 or GRAY8 "
                     "and convert()")
