"""Bookkeeping of the C handles the binding holds.

Every wrapper that owns a C handle (a frame reference, an input, a session,
...) registers itself when it takes the handle and unregisters when it lets
it go (close() or garbage collection). live_handles() reports the counts,
which makes leaks visible in tests; at interpreter exit every handle still
open is closed, so that no library thread calls into Python after the
interpreter has gone (free callbacks of wrapped frames, log sinks).
"""
import atexit
import threading
import weakref

_lock = threading.RLock()
_tls = threading.local()
_pending = []
_counts = {}
_open = weakref.WeakSet()
shutting_down = False
# Functions run at exit after the handles are closed (e.g. restoring the log sink).
final_hooks = []


def register(obj, kind):
    with _lock:
        _counts[kind] = _counts.get(kind, 0) + 1
        _open.add(obj)


def unregister(obj, kind):
    with _lock:
        _counts[kind] = _counts.get(kind, 0) - 1
        _open.discard(obj)


def callback_enter():
    """Mark the calling thread as running a Python callback for libvsr."""
    _tls.depth = getattr(_tls, "depth", 0) + 1


def callback_exit():
    _tls.depth -= 1


def in_callback():
    return getattr(_tls, "depth", 0) > 0


def drain():
    """Release handles whose garbage collection happened inside a callback."""
    if in_callback():
        return
    while _pending:
        try:
            obj = _pending.pop()
        except IndexError:
            return
        try:
            obj._release()
        except Exception:
            pass


def live_handles():
    """{kind: number of handles of that kind the binding holds open}."""
    drain()
    with _lock:
        return {k: v for k, v in _counts.items() if v}


# Closing order at exit: users of a thing before the thing.
_ORDER = ("operation", "session", "job", "output", "input", "model", "tracker", "frame", "view")


def _close_all():
    global shutting_down
    with _lock:
        objs = list(_open)
    rank = {k: i for i, k in enumerate(_ORDER)}
    objs.sort(key=lambda o: rank.get(getattr(o, "_kind", ""), len(_ORDER)))
    for o in objs:
        try:
            o._release()
        except Exception:
            pass
    drain()
    for hook in final_hooks:
        try:
            hook()
        except Exception:
            pass
    shutting_down = True


atexit.register(_close_all)


class Handle:
    """Base of the wrappers that own one C handle (self._ptr, a c_void_p).

    Subclasses set _kind and implement _free(ptr_ref), which must release
    the handle through the C close/unref function given a byref() to it.
    close() is idempotent; the object is also a context manager, and
    garbage collection closes what was not closed.
    """

    _kind = "handle"
    _ptr = None

    def _take(self, ptr):
        drain()
        self._ptr = ptr
        register(self, self._kind)

    def _release(self):
        ptr = self._ptr
        if ptr is None:
            return
        self._ptr = None
        try:
            if ptr.value:
                self._free(ptr)
        finally:
            unregister(self, self._kind)

    def _free(self, ptr):  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self):
        """Release the C handle (idempotent)."""
        self._release()
        drain()

    @property
    def closed(self):
        return self._ptr is None

    def _handle(self):
        """The C pointer; raises ValueError when closed."""
        if self._ptr is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        # Garbage collection can run inside a callback that libvsr calls
        # with one of its locks held (the log lock is not recursive):
        # calling back into the library there could deadlock, so the
        # release waits for the next binding call outside callbacks.
        try:
            if self._ptr is None:
                return
            if in_callback():
                _pending.append(self)
            else:
                self._release()
        except Exception:
            pass
