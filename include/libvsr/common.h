/**
 * @file common.h
 * @brief Export macro, error codes, logging, small shared types.
 *
 * Every function that can fail returns 0 on success or a negative error
 * code. Codes are either negative errno values (VSR_ERR(ENOMEM)), libvsr's
 * own four-letter tags below, or FFmpeg's AVERROR codes passed up
 * unchanged (they use the same scheme, so vsr_strerror() names them too).
 * The detail of the last failure on the calling thread (which file, which
 * stream, which setting) is available from vsr_last_error().
 */
#ifndef LIBVSR_COMMON_H
#define LIBVSR_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @def VSR_API
 * Marks the functions libvsr exports (default visibility; everything else
 * in the library is hidden).
 */
#if defined(_WIN32)
#  define VSR_API __declspec(dllimport)
#elif defined(__GNUC__)
#  define VSR_API __attribute__((visibility("default")))
#else
#  define VSR_API
#endif

/** Negative errno value, as FFmpeg's AVERROR(). */
#define VSR_ERR(e) (-(e))
/** A negative four-character tag, the same scheme as FFmpeg's FFERRTAG. */
#define VSR_TAG(a, b, c, d) \
    (-(int)((unsigned)(a) | ((unsigned)(b) << 8) | ((unsigned)(c) << 16) | ((unsigned)(d) << 24)))

/** Error codes (negative) and success (0). */
enum {
    VSR_OK = 0,                             /**< success */
    VSR_EAGAIN = VSR_ERR(EAGAIN),           /**< call the other side first (send/receive) */
    VSR_EINVAL = VSR_ERR(EINVAL),           /**< an argument or setting is invalid */
    VSR_ENOMEM = VSR_ERR(ENOMEM),           /**< host memory allocation failed */
    VSR_EOF = VSR_TAG('E', 'O', 'F', ' '),  /**< end of stream; equal to AVERROR_EOF */
    VSR_ERROR_MODEL = VSR_TAG('V', 'M', 'O', 'D'),        /**< model missing, unreadable or its card invalid */
    VSR_ERROR_MODEL_RUN = VSR_TAG('V', 'R', 'U', 'N'),    /**< the model threw or returned a wrong shape */
    VSR_ERROR_DEVICE = VSR_TAG('V', 'D', 'E', 'V'),       /**< the requested device is not available */
    VSR_ERROR_DEVICE_OOM = VSR_TAG('V', 'O', 'O', 'M'),   /**< the device ran out of memory */
    VSR_ERROR_INPUT = VSR_TAG('V', 'I', 'N', 'P'),        /**< input missing, unreadable or has no video */
    VSR_ERROR_INPUT_DAMAGED = VSR_TAG('V', 'D', 'M', 'G'),/**< input damaged; the output holds every frame decoded */
    VSR_ERROR_OUTPUT = VSR_TAG('V', 'O', 'U', 'T'),       /**< output could not be written */
    VSR_ERROR_CANCELLED = VSR_TAG('V', 'C', 'N', 'L'),    /**< cancelled by a callback or vsr_session_cancel() */
    VSR_ERROR_LIMIT = VSR_TAG('V', 'L', 'I', 'M'),        /**< a size in the input exceeds a configured limit */
    VSR_ERROR_MISMATCH = VSR_TAG('V', 'M', 'I', 'S'),     /**< a plan, resume journal or segment belongs to another input, model or settings */
    VSR_ERROR_CONFIG = VSR_TAG('V', 'C', 'F', 'G'),       /**< a configuration file is invalid */
    VSR_ERROR_UNSUPPORTED = VSR_TAG('V', 'N', 'S', 'P'),  /**< valid but not supported by this build */
    VSR_ERROR_INCOMPLETE = VSR_TAG('V', 'I', 'N', 'C'),   /**< a scale-out job has missing segments (stitch lists them) */
};

/**
 * Short text for an error code (libvsr's, errno's or FFmpeg's).
 * @return static (or per-thread) text, never NULL; "unknown error N" for
 *         codes nobody names.
 */
VSR_API const char *vsr_strerror(int err);

/**
 * Detail of the most recent failure of a libvsr call on the calling thread,
 * e.g. "input 'a.mp4': moov atom not found". Empty string when there is none.
 * Valid until the next failing libvsr call on the same thread. Read it right
 * after a call returned an error: a few codes (VSR_ENOMEM from deep inside,
 * and the non-errors VSR_EAGAIN and VSR_EOF) do not set it, and it is never
 * cleared by a successful call.
 * @return the message, never NULL.
 */
VSR_API const char *vsr_last_error(void);

/** Log levels, most severe first. */
enum vsr_log_level {
    VSR_LOG_QUIET = -1,  /**< nothing (a threshold only) */
    VSR_LOG_ERROR = 0,   /**< a call failed */
    VSR_LOG_WARNING = 1, /**< something the user should know: damage skipped, a fallback */
    VSR_LOG_INFO = 2,    /**< what was chosen and measured */
    VSR_LOG_DEBUG = 3,   /**< details for developers */
};

/**
 * A log sink. msg is pre-formatted, without a trailing newline; it is only
 * valid during the call. Called from library worker threads as well as the
 * caller's thread, but never concurrently: libvsr serialises the calls
 * with a lock held during the call, so a sink must not call back into
 * libvsr (it would deadlock on a message of its own).
 */
typedef void (*vsr_log_callback)(void *user, int level, const char *msg);

/**
 * Process-wide log sink (default: stderr). cb = NULL restores the default
 * sink. A session may override the sink with its own
 * (vsr_session_settings). Thread-safety: safe.
 */
VSR_API void vsr_log_set_callback(vsr_log_callback cb, void *user);
/** Process-wide log threshold: messages above level (a vsr_log_level) are
 *  dropped; default VSR_LOG_WARNING. Thread-safety: safe. */
VSR_API void vsr_log_set_level(int level);

/**
 * Route FFmpeg's own log messages (av_log) into libvsr's log sink at the
 * matching level (enable = 1), or give FFmpeg back its default (0).
 * This changes FFmpeg's process-global callback, so a host application
 * that installs its own av_log callback should leave it off (the default).
 */
VSR_API void vsr_log_capture_ffmpeg(int enable);

/** A rational number, e.g. a time base or a frame rate. */
typedef struct vsr_rational {
    int num; /**< numerator */
    int den; /**< denominator */
} vsr_rational;

/** Free memory that libvsr returned to the caller (strings from export calls). */
VSR_API void vsr_free(void *ptr);

/** "auto" value for integer settings that accept it. */
#define VSR_AUTO (-1)

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_COMMON_H */
