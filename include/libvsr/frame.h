/**
 * @file frame.h
 * @brief vsr_frame: a reference-counted picture.
 *
 * A frame is immutable once shared: libvsr never writes into a frame it
 * received, the setters refuse (VSR_EINVAL) while more than one reference
 * exists, and a caller writes pixels only into a frame for which
 * vsr_frame_is_writable() says 1 (vsr_frame_make_writable() makes a
 * private copy when needed). sizeof(vsr_frame) is not part of the ABI;
 * frames are only handled through pointers and the functions below.
 *
 * Thread-safety: vsr_frame_ref()/vsr_frame_unref() are safe from any thread;
 * a frame may be read from several threads at once.
 */
#ifndef LIBVSR_FRAME_H
#define LIBVSR_FRAME_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A picture (opaque, reference-counted). */
typedef struct vsr_frame vsr_frame;

/**
 * Pixel formats libvsr names. Multi-byte samples are little-endian, high
 * bit-depth formats hold their samples in the low bits of 16-bit words
 * (as FFmpeg's ...10le formats). Decoders may return formats without a
 * name here: they are VSR_PIXFMT_OTHER and vsr_frame_format_name() gives
 * FFmpeg's name for them; libvsr converts them like any other.
 */
typedef enum vsr_pixfmt {
    VSR_PIXFMT_NONE = 0,     /**< no format (an empty frame, a NULL frame) */
    VSR_PIXFMT_RGBF32 = 1,   /**< planar float R, G, B, nominal range [0,1]: the models' layout */
    VSR_PIXFMT_RGB24 = 2,    /**< packed 8-bit R, G, B */
    VSR_PIXFMT_RGB48 = 3,    /**< packed 16-bit R, G, B */
    VSR_PIXFMT_YUV420P = 10,  /**< planar Y'CbCr 4:2:0, 8-bit */
    VSR_PIXFMT_YUV422P = 11,  /**< planar Y'CbCr 4:2:2, 8-bit */
    VSR_PIXFMT_YUV444P = 12,  /**< planar Y'CbCr 4:4:4, 8-bit */
    VSR_PIXFMT_YUV420P10 = 13,/**< planar Y'CbCr 4:2:0, 10-bit */
    VSR_PIXFMT_YUV422P10 = 14,/**< planar Y'CbCr 4:2:2, 10-bit */
    VSR_PIXFMT_YUV444P10 = 15,/**< planar Y'CbCr 4:4:4, 10-bit */
    VSR_PIXFMT_NV12 = 16,     /**< Y plane, then interleaved CbCr 4:2:0, 8-bit */
    VSR_PIXFMT_P010 = 17,     /**< as NV12 at 10 bits, in the high bits of 16-bit words */
    VSR_PIXFMT_GBRP = 18,     /**< planar G, B, R, 8-bit */
    VSR_PIXFMT_GBRP10 = 19,   /**< planar G, B, R, 10-bit */
    VSR_PIXFMT_GRAY8 = 20,    /**< luma only, 8-bit */
    VSR_PIXFMT_YUVJ420P = 21, /**< full-range 4:2:0 as MJPEG decoders return it */
    VSR_PIXFMT_OTHER = 1000,  /**< a decoder format libvsr does not name (vsr_frame_format_name() does) */
} vsr_pixfmt;

/**
 * Colour description, in the code points of ITU-T H.273 (the same numbers
 * FFmpeg uses): matrix 1 = BT.709, 5/6 = BT.601, 9 = BT.2020 NCL;
 * range 0 = unspecified, 1 = limited ("tv"), 2 = full ("pc").
 * 2 = unspecified for primaries, transfer and matrix.
 */
typedef struct vsr_colour {
    int matrix;          /**< H.273 MatrixCoefficients (FFmpeg's AVColorSpace) */
    int range;           /**< 0 unspecified, 1 limited, 2 full (FFmpeg's AVColorRange) */
    int primaries;       /**< H.273 ColourPrimaries (FFmpeg's AVColorPrimaries) */
    int transfer;        /**< H.273 TransferCharacteristics (FFmpeg's AVColorTransferCharacteristic) */
    int chroma_location; /**< 0 unspecified, 1 left (MPEG-2), 2 center (JPEG), ... */
} vsr_colour;

/**
 * A new frame of the given format and size, with uninitialised pixels.
 * RGBF32 frames are one contiguous block: plane p starts at p*width*height
 * floats and rows are width floats apart (a CHW tensor).
 * @return 0 and *out set (the caller owns the reference); VSR_EINVAL (a
 *         format without a layout, NONE or OTHER, or a bad size);
 *         VSR_ENOMEM.
 */
VSR_API int vsr_frame_alloc(vsr_frame **out, vsr_pixfmt format, int width, int height);

/**
 * A frame over caller-owned memory, without copying. data/linesize give
 * each plane (packed formats use plane 0; RGBF32 planes in the order R, G,
 * B). free_cb(opaque) is called once when the last reference goes away
 * (may be NULL). The memory must stay valid and unchanged until then.
 * If wrapping fails, free_cb is not called: the caller keeps the memory.
 * @return 0 and *out set; VSR_EINVAL (a format without a layout, a bad
 *         size, a plane without data or with a bad stride); VSR_ENOMEM.
 */
VSR_API int vsr_frame_wrap(vsr_frame **out, vsr_pixfmt format, int width, int height,
                           uint8_t *const data[4], const ptrdiff_t linesize[4],
                           void (*free_cb)(void *opaque), void *opaque);

/**
 * A new reference to f (never fails for a valid frame).
 * @return f (NULL if f is NULL).
 */
VSR_API vsr_frame *vsr_frame_ref(vsr_frame *f);

/** Drop a reference and set *f to NULL. Accepts NULL and &NULL. */
VSR_API void vsr_frame_unref(vsr_frame **f);

/** @return the width in pixels (0 for NULL). */
VSR_API int vsr_frame_width(const vsr_frame *f);
/** @return the height in pixels (0 for NULL). */
VSR_API int vsr_frame_height(const vsr_frame *f);
/** @return the pixel format (VSR_PIXFMT_NONE for NULL, VSR_PIXFMT_OTHER if unnamed). */
VSR_API vsr_pixfmt vsr_frame_format(const vsr_frame *f);
/** @return FFmpeg's name for the exact format, e.g. "yuv420p10le"; "rgbf32"
 *          for RGBF32; "none" for NULL. Never NULL. */
VSR_API const char *vsr_frame_format_name(const vsr_frame *f);
/** @return bits per sample of the format (8, 10, 12, 16, 32 for float; 0 for NULL). */
VSR_API int vsr_frame_bit_depth(const vsr_frame *f);

/** @return the number of planes (0 for NULL). For RGBF32, plane 0 is R, 1
 *          is G and 2 is B; packed formats have one. */
VSR_API int vsr_frame_planes(const vsr_frame *f);
/** @return the first byte of a plane, NULL for a plane the frame lacks. */
VSR_API uint8_t *vsr_frame_data(const vsr_frame *f, int plane);
/** @return the distance in bytes between rows of a plane (0 for a plane the frame lacks). */
VSR_API ptrdiff_t vsr_frame_linesize(const vsr_frame *f, int plane);
/** @return the width of a plane in samples (chroma planes may be smaller; 0 if absent). */
VSR_API int vsr_frame_plane_width(const vsr_frame *f, int plane);
/** @return the height of a plane in rows (0 if absent). */
VSR_API int vsr_frame_plane_height(const vsr_frame *f, int plane);

/** @return the presentation time in units of the frame's time base;
 *          INT64_MIN if unknown (or f is NULL). */
VSR_API int64_t vsr_frame_pts(const vsr_frame *f);
/**
 * Set the presentation time (INT64_MIN = unknown).
 * @return 0; VSR_EINVAL when f is NULL or shared (more than one reference).
 */
VSR_API int vsr_frame_set_pts(vsr_frame *f, int64_t pts);
/** @return the duration in time-base units, 0 if unknown. */
VSR_API int64_t vsr_frame_duration(const vsr_frame *f);
/**
 * Set the duration in time-base units (0 = unknown).
 * @return 0; VSR_EINVAL when f is NULL or shared.
 */
VSR_API int vsr_frame_set_duration(vsr_frame *f, int64_t duration);
/** @return the time base of pts and duration ({0, 1} when f is NULL). */
VSR_API vsr_rational vsr_frame_time_base(const vsr_frame *f);
/**
 * Set the time base of pts and duration.
 * @return 0; VSR_EINVAL when f is NULL or shared.
 */
VSR_API int vsr_frame_set_time_base(vsr_frame *f, vsr_rational tb);

/** The colour description (all zero when f is NULL). */
VSR_API void vsr_frame_get_colour(const vsr_frame *f, vsr_colour *c);
/**
 * Set the colour description.
 * @return 0; VSR_EINVAL when f or c is NULL or f is shared.
 */
VSR_API int vsr_frame_set_colour(vsr_frame *f, const vsr_colour *c);

/**
 * Attach the caller's pointer to the frame. libvsr never owns or reads it;
 * a session copies it onto the output frame made from this input frame,
 * and vsr_frame_convert() onto its result.
 * @return 0; VSR_EINVAL when f is NULL or shared.
 */
VSR_API int vsr_frame_set_user_data(vsr_frame *f, void *user);
/** @return the pointer set with vsr_frame_set_user_data() (NULL if none). */
VSR_API void *vsr_frame_user_data(const vsr_frame *f);

/**
 * Whether the caller may write into the frame's pixels: it holds the only
 * reference, and the frame owns its pixels alone (or wraps writable
 * caller memory). A decoded frame whose buffer the decoder still uses, or
 * an upscaled frame that shares one block with others, is not writable.
 * @return 1 or 0 (0 for NULL).
 */
VSR_API int vsr_frame_is_writable(const vsr_frame *f);

/**
 * Copy on write: when *f is not writable, replace it by a private copy of
 * its pixels and properties (the old reference is dropped); otherwise do
 * nothing.
 * @return 0 (*f is writable then); VSR_EINVAL when f or *f is NULL;
 *         VSR_ENOMEM (then *f is unchanged).
 */
VSR_API int vsr_frame_make_writable(vsr_frame **f);

/**
 * Convert src to another format and/or size (RGB <-> YUV with src's matrix
 * and range; a resize uses a bicubic filter). Copies pts, duration, time
 * base, user data and colour description, completed where src leaves it
 * unspecified. On an RGB frame the matrix and range describe the video it
 * came from or goes to: a YUV frame converted to RGB keeps its range tag
 * (so converting back restores it), and an RGB frame converted to YUV gets
 * limited range (full for the JPEG "yuvj" formats), RGB samples being full
 * range anyway.
 * @return 0 and a new frame in *out (the caller owns it); VSR_EINVAL (no
 *         source, a format without a layout, a bad size); VSR_ENOMEM; an
 *         FFmpeg error code from swscale.
 */
VSR_API int vsr_frame_convert(vsr_frame **out, const vsr_frame *src, vsr_pixfmt format,
                              int width, int height);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_FRAME_H */
