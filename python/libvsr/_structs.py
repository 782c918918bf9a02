"""ctypes mirrors of libvsr's public structs and enums.

Every struct is declared field for field in the order of the headers in
include/libvsr/, with the exact C types. Enum-typed fields are ``c_int``
(the C compiler stores these enums as 32-bit ints). The struct check in
python/tests/test_errors.py compares sizes and offsets with the C compiler's.
"""
import ctypes
import enum
from ctypes import (POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int,
                    c_int64, c_uint32, c_uint64, c_void_p)

# ------------------------------------------------------------------ version.h
API_VERSION_MAJOR = 1
API_VERSION_MINOR = 0
API_VERSION_PATCH = 0


def version_int(a, b, c):
    return (a << 16) | (b << 8) | c


API_VERSION = version_int(API_VERSION_MAJOR, API_VERSION_MINOR, API_VERSION_PATCH)

# ------------------------------------------------------------------- common.h


def _tag(a, b, c, d):
    return -(ord(a) | (ord(b) << 8) | (ord(c) << 16) | (ord(d) << 24))


VSR_OK = 0
VSR_EAGAIN = -11
VSR_EINVAL = -22
VSR_ENOMEM = -12
VSR_EOF = _tag('E', 'O', 'F', ' ')
VSR_ERROR_MODEL = _tag('V', 'M', 'O', 'D')
VSR_ERROR_MODEL_RUN = _tag('V', 'R', 'U', 'N')
VSR_ERROR_DEVICE = _tag('V', 'D', 'E', 'V')
VSR_ERROR_DEVICE_OOM = _tag('V', 'O', 'O', 'M')
VSR_ERROR_INPUT = _tag('V', 'I', 'N', 'P')
VSR_ERROR_INPUT_DAMAGED = _tag('V', 'D', 'M', 'G')
VSR_ERROR_OUTPUT = _tag('V', 'O', 'U', 'T')
VSR_ERROR_CANCELLED = _tag('V', 'C', 'N', 'L')
VSR_ERROR_LIMIT = _tag('V', 'L', 'I', 'M')
VSR_ERROR_MISMATCH = _tag('V', 'M', 'I', 'S')
VSR_ERROR_CONFIG = _tag('V', 'C', 'F', 'G')
VSR_ERROR_UNSUPPORTED = _tag('V', 'N', 'S', 'P')
VSR_ERROR_INCOMPLETE = _tag('V', 'I', 'N', 'C')

VSR_AUTO = -1


class LogLevel(enum.IntEnum):
    QUIET = -1
    ERROR = 0
    WARNING = 1
    INFO = 2
    DEBUG = 3


# typedef void (*vsr_log_callback)(void *user, int level, const char *msg);
LOG_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_char_p)


class vsr_rational(Structure):
    _fields_ = [
        ("num", c_int),
        ("den", c_int),
    ]


# -------------------------------------------------------------------- frame.h


class PixFmt(enum.IntEnum):
    NONE = 0
    RGBF32 = 1
    RGB24 = 2
    RGB48 = 3
    YUV420P = 10
    YUV422P = 11
    YUV444P = 12
    YUV420P10 = 13
    YUV422P10 = 14
    YUV444P10 = 15
    NV12 = 16
    P010 = 17
    GBRP = 18
    GBRP10 = 19
    GRAY8 = 20
    YUVJ420P = 21
    OTHER = 1000


class vsr_colour(Structure):
    _fields_ = [
        ("matrix", c_int),
        ("range", c_int),
        ("primaries", c_int),
        ("transfer", c_int),
        ("chroma_location", c_int),
    ]


# void (*free_cb)(void *opaque)
FREE_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p)

# ------------------------------------------------------------------- stream.h


class vsr_input_settings(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("threads", c_int),
        ("hwdec", c_char_p),
        ("max_width", c_int),
        ("max_height", c_int),
        ("max_pixels", c_int64),
        ("max_frames", c_int64),
        ("stream_index", c_int),
        ("frame_threads", c_int),
    ]


class vsr_input_info(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("width", c_int),
        ("height", c_int),
        ("time_base", vsr_rational),
        ("frame_rate", vsr_rational),
        ("frames", c_int64),
        ("duration_s", c_double),
        ("format", c_int),  # vsr_pixfmt
        ("format_name", c_char * 32),
        ("bit_depth", c_int),
        ("codec", c_char * 32),
        ("container", c_char * 32),
        ("colour", vsr_colour),
        ("stream_index", c_int),
        ("n_streams", c_int),
        ("has_audio", c_int),
    ]


class vsr_output_settings(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("codec", c_char_p),
        ("crf", c_int),
        ("preset", c_char_p),
        ("pix_fmt", c_char_p),
        ("bitrate", c_int64),
        ("threads", c_int),
        ("options", c_char_p),
        ("copy_streams", c_int),
        ("overwrite", c_int),
        ("frame_rate", vsr_rational),
    ]


# ------------------------------------------------------------------ tracker.h


class OpType(str, enum.Enum):
    """Operation types of libvsr's own stages (VSR_OP_*). Records carry the
    type as a string, so these compare equal to "decode", ...; any other
    non-empty string is a type of the caller's."""
    DECODE = "decode"
    PREPROCESS = "preprocess"
    UPLOAD = "upload"
    INFERENCE = "inference"
    DOWNLOAD = "download"
    POSTPROCESS = "postprocess"
    ENCODE = "encode"
    RUN = "run"

    def __str__(self):
        return self.value


OP_NAME_MAX = 255
TRACKER_TREND_MAX_WINDOW = 1024
LIST_TYPES = 1
LIST_STRATEGIES = 2


class vsr_kv(Structure):
    _fields_ = [
        ("key", c_char_p),
        ("value", c_char_p),
    ]


class vsr_op_record(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("type", c_char_p),
        ("strategy", c_char_p),
        ("id", c_uint64),
        ("run_id", c_uint64),
        ("start_ns", c_int64),
        ("end_ns", c_int64),
        ("duration_ns", c_int64),
        ("frames", c_int64),
        ("chunks", c_int64),
        ("tiles", c_int64),
        ("in_width", c_int),
        ("in_height", c_int),
        ("out_width", c_int),
        ("out_height", c_int),
        ("scale", c_int),
        ("precision", c_char_p),
        ("device", c_char_p),
        ("success", c_int),
        ("error_code", c_int),
        ("error_message", c_char_p),
        ("n_meta", c_int),
        ("meta", POINTER(vsr_kv)),
        ("quality", c_double),
        ("peak_rss_bytes", c_int64),
        ("peak_device_bytes", c_int64),
    ]


class vsr_progress(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("run_id", c_uint64),
        ("frames_done", c_int64),
        ("frames_total", c_int64),
        ("elapsed_s", c_double),
        ("fps", c_double),
        ("eta_s", c_double),
    ]


EVENT_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(vsr_op_record))
PROGRESS_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, POINTER(vsr_progress))


class Granularity(enum.IntEnum):
    OPERATION = 0
    CHUNK = 1
    RUN = 2


class vsr_tracker_settings(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("history_length", c_int),
        ("granularity", c_int),  # vsr_granularity
        ("sampler_interval_ms", c_int),
    ]


class vsr_op_stats(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("count", c_int64),
        ("successes", c_int64),
        ("failures", c_int64),
        ("mean_ms", c_double),
        ("min_ms", c_double),
        ("max_ms", c_double),
        ("p50_ms", c_double),
        ("p95_ms", c_double),
        ("total_ms", c_double),
        ("frames", c_int64),
        ("fps", c_double),
        ("success_rate", c_double),
        ("peak_rss_bytes", c_int64),
        ("peak_device_bytes", c_int64),
    ]


class vsr_op_trend(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("window", c_int),
        ("recent_count", c_int64),
        ("previous_count", c_int64),
        ("recent_mean_ms", c_double),
        ("previous_mean_ms", c_double),
        ("duration_ratio", c_double),
        ("recent_success_rate", c_double),
        ("previous_success_rate", c_double),
    ]


class vsr_resource_stats(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("peak_rss_bytes", c_int64),
        ("current_rss_bytes", c_int64),
        ("cpu_percent_mean", c_double),
        ("cpu_percent_peak", c_double),
        ("peak_device_bytes", c_int64),
        ("device_total_bytes", c_int64),
        ("gpu_util_percent_peak", c_double),
        ("samples", c_int64),
        ("max_frames_in_flight", c_int),
        ("queue_depth", c_int),
    ]


class vsr_quality_stats(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("frames", c_int64),
        ("psnr_mean", c_double),
        ("psnr_min", c_double),
        ("ssim_mean", c_double),
        ("ssim_min", c_double),
    ]


class ExportFormat(enum.IntEnum):
    JSON = 0
    CSV = 1
    PROMETHEUS = 2


# ------------------------------------------------------------------ session.h


class Precision(enum.IntEnum):
    AUTO = 0
    FP32 = 1
    BF16 = 2
    FP16 = 3


class Layout(enum.IntEnum):
    NCHW = 0
    NTCHW = 1


class vsr_model_card(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("name", c_char * 64),
        ("scale", c_int),
        ("frames_in", c_int),
        ("center_only", c_int),
        ("layout", c_int),  # vsr_layout
        ("range_min", c_float),
        ("range_max", c_float),
        ("rf_spatial", c_int),
        ("rf_temporal", c_int),
        ("size_multiple", c_int),
        ("license", c_char * 32),
        ("global_pool", c_int),
    ]


class vsr_model_settings(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("path", c_char_p),
        ("device", c_char_p),
        ("precision", c_int),  # vsr_precision
        ("cuda_graph", c_int),
        ("cache", c_int),
    ]


class vsr_model_info(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("device", c_char * 32),
        ("precision", c_int),  # vsr_precision
        ("bytes_per_pixel", c_double),
        ("ns_per_pixel", c_double),
    ]


class vsr_process_settings(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("threads", c_int),
        ("cuda_tf32", c_int),
        ("cudnn_benchmark", c_int),
    ]


class vsr_session_settings(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("model", c_void_p),  # vsr_model *
        ("batch", c_int),
        ("chunk", c_int),
        ("overlap", c_int),
        ("tile", c_int),
        ("tile_pad", c_int),
        ("tile_blend", c_int),
        ("chunk_blend", c_int),
        ("mem_limit", c_int64),
        ("tracker", c_void_p),  # vsr_tracker *
        ("log_callback", LOG_CALLBACK),
        ("log_user", c_void_p),
        ("output_format", c_int),  # vsr_pixfmt
    ]


class vsr_session_info(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("device", c_char * 32),
        ("precision", c_int),  # vsr_precision
        ("threads", c_int),
        ("batch", c_int),
        ("chunk", c_int),
        ("overlap", c_int),
        ("tile", c_int),
        ("tile_pad", c_int),
        ("scale", c_int),
        ("mem_limit", c_int64),
    ]


class vsr_run_settings(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("input", POINTER(vsr_input_settings)),
        ("output", POINTER(vsr_output_settings)),
        ("pipelined", c_int),
        ("queue_depth", c_int),
        ("resume", c_int),
        ("reference_path", c_char_p),
        ("start_us", c_int64),
        ("end_us", c_int64),
        ("start_frame", c_int64),
        ("end_frame", c_int64),
    ]


class vsr_run_result(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("frames_decoded", c_int64),
        ("frames_written", c_int64),
        ("frames_resumed", c_int64),
        ("chunks", c_int64),
        ("tiles", c_int64),
        ("input_damaged", c_int),
        ("cancelled", c_int),
        ("seconds", c_double),
        ("fps", c_double),
        ("max_frames_in_flight", c_int),
    ]


class vsr_recommendation(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("device", c_char * 32),
        ("precision", c_int),  # vsr_precision
        ("threads", c_int),
        ("batch", c_int),
        ("chunk", c_int),
        ("tile", c_int),
        ("tile_pad", c_int),
        ("mem_limit", c_int64),
        ("reasons", c_char * 2048),
    ]


# ---------------------------------------------------------------------- job.h
class StitchMode(enum.IntEnum):
    AUTO = 0         # COPY for intra-only/lossless codecs, else CLOSED_GOP
    COPY = 1         # segments in the final codec, packets copied
    CLOSED_GOP = 2   # each segment starts with an IDR (x264/x265)


class vsr_job_settings(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("segment_frames", c_int64),
        ("work_dir", c_char_p),
        ("stitch", c_int),  # vsr_stitch_mode
        ("index_decode", c_int),
    ]


class vsr_job_info(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("segments", c_int64),
        ("committed", c_int64),
        ("frames", c_int64),
        ("frames_done", c_int64),
        ("stitch", c_int),  # vsr_stitch_mode
    ]


class vsr_job_segment(Structure):
    _fields_ = [
        ("size", c_uint32),
        ("index", c_int64),
        ("first_frame", c_int64),
        ("frames", c_int64),
        ("feed_first", c_int64),
        ("feed_frames", c_int64),
        ("seek_frame", c_int64),
        ("committed", c_int),
    ]


# Every public struct, by its C name (used by the struct check test).
PUBLIC_STRUCTS = {
    cls.__name__: cls
    for cls in (vsr_rational, vsr_colour, vsr_input_settings, vsr_input_info, vsr_output_settings,
                vsr_kv, vsr_op_record, vsr_progress, vsr_tracker_settings, vsr_op_stats, vsr_op_trend,
                vsr_resource_stats, vsr_quality_stats, vsr_model_card, vsr_model_settings,
                vsr_model_info, vsr_process_settings, vsr_session_settings,
                vsr_session_info, vsr_run_settings, vsr_run_result, vsr_recommendation,
                vsr_job_settings, vsr_job_info, vsr_job_segment)
}


def new_sized(cls):
    """A zeroed struct of cls with its size field set (for structs the caller sizes)."""
    s = cls()
    s.size = ctypes.sizeof(cls)
    return s
