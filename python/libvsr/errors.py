"""VsrError and its subclasses: libvsr's negative return codes as exceptions."""
from . import _lib
from . import _structs as S


class VsrError(Exception):
    """A libvsr call failed.

    code    -- the negative error code the C function returned
    name    -- vsr_strerror(code), e.g. "model missing, unreadable or invalid"
    message -- the detail from vsr_last_error() (which file, which setting),
               or the name when the library gave no detail
    """

    def __init__(self, code, message=None, name=None):
        self.code = code
        self.name = name if name is not None else strerror(code)
        self.message = message or self.name
        super().__init__(self.message)

    def __str__(self):
        if self.message and self.message != self.name:
            return f"{self.message} ({self.name})"
        return self.name


class InvalidArgumentError(VsrError, ValueError):
    """VSR_EINVAL: an argument or setting is invalid."""


class OutOfMemoryError(VsrError, MemoryError):
    """VSR_ENOMEM: host memory allocation failed."""


class EndOfStream(VsrError, EOFError):
    """VSR_EOF: the end of a stream (raised only where a caller asked for a frame)."""


class ModelError(VsrError):
    """VSR_ERROR_MODEL: model missing, unreadable, or its card invalid."""


class ModelRunError(VsrError):
    """VSR_ERROR_MODEL_RUN: the model threw or returned a wrong shape."""


class DeviceError(VsrError):
    """VSR_ERROR_DEVICE: the requested device is not available."""


class DeviceOutOfMemoryError(DeviceError):
    """VSR_ERROR_DEVICE_OOM: the device ran out of memory."""


class InputError(VsrError):
    """VSR_ERROR_INPUT: input missing, unreadable or without video."""


class InputDamagedError(VsrError):
    """VSR_ERROR_INPUT_DAMAGED: the input was damaged, but the output WAS written.

    The output file is finished and holds every frame that could be decoded;
    .result (a RunResult) says how many.
    """

    result = None


class OutputError(VsrError):
    """VSR_ERROR_OUTPUT: the output could not be written."""


class CancelledError(VsrError):
    """VSR_ERROR_CANCELLED: a run was cancelled; the output holds the frames written.

    Raised when a Python callback raised (the exception is the __cause__);
    .result (a RunResult) tells how many frames the output holds.
    """

    result = None


class LimitError(VsrError):
    """VSR_ERROR_LIMIT: a size in the input exceeds a configured limit."""


class MismatchError(VsrError):
    """VSR_ERROR_MISMATCH: a plan, resume journal or segment belongs to another input, model or settings."""


class IncompleteError(VsrError):
    """VSR_ERROR_INCOMPLETE: a scale-out job has missing segments."""


class ConfigError(VsrError):
    """VSR_ERROR_CONFIG: a configuration file is invalid."""


class UnsupportedError(VsrError):
    """VSR_ERROR_UNSUPPORTED: valid, but not supported by this build."""


_BY_CODE = {
    S.VSR_EINVAL: InvalidArgumentError,
    S.VSR_ENOMEM: OutOfMemoryError,
    S.VSR_EOF: EndOfStream,
    S.VSR_ERROR_MODEL: ModelError,
    S.VSR_ERROR_MODEL_RUN: ModelRunError,
    S.VSR_ERROR_DEVICE: DeviceError,
    S.VSR_ERROR_DEVICE_OOM: DeviceOutOfMemoryError,
    S.VSR_ERROR_INPUT: InputError,
    S.VSR_ERROR_INPUT_DAMAGED: InputDamagedError,
    S.VSR_ERROR_OUTPUT: OutputError,
    S.VSR_ERROR_CANCELLED: CancelledError,
    S.VSR_ERROR_LIMIT: LimitError,
    S.VSR_ERROR_MISMATCH: MismatchError,
    S.VSR_ERROR_INCOMPLETE: IncompleteError,
    S.VSR_ERROR_CONFIG: ConfigError,
    S.VSR_ERROR_UNSUPPORTED: UnsupportedError,
}


def strerror(code):
    """vsr_strerror(code) as str."""
    return _lib.decode(_lib.lib.vsr_strerror(int(code)))


def last_error():
    """vsr_last_error() of the calling thread, as str ('' when none)."""
    return _lib.decode(_lib.lib.vsr_last_error()) or ""


def error_class(code):
    return _BY_CODE.get(code, VsrError)


def make_error(code, message=None):
    """The exception for code, with the calling thread's last error as message.

    Must be called on the thread that made the failing call (the detail is
    thread-local), right after it.
    """
    if message is None:
        message = last_error()
    return error_class(code)(code, message)


def check(code):
    """Raise the matching VsrError when code < 0; return code otherwise."""
    if code < 0:
        raise make_error(code)
    return code
