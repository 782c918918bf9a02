"""libvsr: video super-resolution with a neural network (ctypes binding).

    import libvsr
    with libvsr.Session(model_path="realesr-animevideov3-x2.pt") as s:
        result = s.upscale_file("in.mp4", "out.mkv", crf=20)

The shared library is found through $VSR_LIBRARY, the library installed
with this package (by `meson install`), ctypes.util.find_library("vsr"),
then pkg-config's libdir for libvsr. See python/README.md.
"""
from . import _lib
from . import _structs as structs
from ._handles import live_handles
from ._structs import (ExportFormat, Granularity, Layout, LogLevel, OpType, PixFmt, Precision, StitchMode,
                       API_VERSION_MAJOR, API_VERSION_MINOR, API_VERSION_PATCH, VSR_AUTO)
from .errors import (CancelledError, ConfigError, DeviceError, DeviceOutOfMemoryError,
                     EndOfStream, InputDamagedError, InputError, InvalidArgumentError, LimitError,
                     ModelError, ModelRunError, OutOfMemoryError, OutputError, MismatchError,
                     IncompleteError,
                     UnsupportedError, VsrError, last_error, strerror)
from .frame import Colour, Frame, wrapped_arrays
from .job import Job, JobInfo, JobSegment
from .log import capture_ffmpeg, set_log_callback, set_log_level
from .session import (Model, ModelCard, ModelInfo, ProcessSettings, Recommendation, RunResult,
                      Session, SessionInfo, configure, process_settings, recommend_settings)
from .stream import Input, InputInfo, Output
from .tracker import (Operation, OpRecord, OpStats, OpTrend, Progress, QualityStats, ResourceStats,
                      Tracker)

#: API version this binding was written for.
__api_version__ = (API_VERSION_MAJOR, API_VERSION_MINOR, API_VERSION_PATCH)
#: API version of the loaded library (checked compatible at import).
version_info = _lib.runtime_version
#: Path (or name) the shared library was loaded from.
library_path = _lib.path


def version():
    """Version string of the loaded library, e.g. "1.0.0"."""
    return _lib.decode(_lib.lib.vsr_version_string())


def build_info():
    """One line describing the library's build (FFmpeg, libtorch, CUDA, compiler)."""
    return _lib.decode(_lib.lib.vsr_build_info())


__version__ = version()

__all__ = [
    "CancelledError", "Colour", "ConfigError", "DeviceError", "DeviceOutOfMemoryError",
    "EndOfStream", "ExportFormat", "Frame", "Granularity", "Input", "InputDamagedError",
    "InputError", "InputInfo", "InvalidArgumentError", "Layout", "LimitError", "LogLevel", "Model",
    "ModelCard", "ModelError", "ModelInfo", "ModelRunError", "Operation", "OpRecord", "OpStats", "OpTrend",
    "OpType", "OutOfMemoryError", "ProcessSettings", "configure", "process_settings",
    "Output", "OutputError", "PixFmt", "Precision", "Progress", "QualityStats", "Recommendation",
    "ResourceStats", "MismatchError", "IncompleteError", "RunResult", "Session", "SessionInfo", "StitchMode",
    "Tracker",
    "UnsupportedError", "VSR_AUTO", "VsrError", "build_info", "capture_ffmpeg", "last_error",
    "library_path", "live_handles", "recommend_settings", "set_log_callback", "set_log_level",
    "strerror", "structs", "version", "version_info", "wrapped_arrays",
]
