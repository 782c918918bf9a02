/**
 * @file stream.h
 * @brief vsr_input / vsr_output: decoding a video file (or memory buffer)
 * into frames, and encoding frames into a file.
 *
 * An output opened with a source input copies the input's other streams
 * (audio, subtitles, attachments such as fonts), chapters, container
 * metadata, colour description and HDR side data, and keeps every frame's
 * pts (variable frame rate stays variable).
 *
 * The output is written to "PATH.partial" and renamed to PATH only by
 * vsr_output_finish(); an output closed without finishing is removed, so a
 * file at PATH is always complete.
 *
 * Thread-safety: one thread at a time per handle. An input and the output
 * that copies from it may be used from two different threads.
 */
#ifndef LIBVSR_STREAM_H
#define LIBVSR_STREAM_H

#include "common.h"
#include "frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A video file or buffer being decoded (opaque, one owner). */
typedef struct vsr_input vsr_input;
/** A video file being encoded (opaque, one owner). */
typedef struct vsr_output vsr_output;

/** How an input decodes. A settings struct: fill it with
 *  vsr_input_settings_default() first. */
typedef struct vsr_input_settings {
    uint32_t size;          /**< set by vsr_input_settings_default() */
    int threads;            /**< decoder threads; 0 = FFmpeg's choice (default 0) */
    const char *hwdec;      /**< NULL/"none" (default) or "cuda": FFmpeg's CUDA hwaccel */
    int max_width;          /**< refuse larger frames before allocating; default 16384 */
    int max_height;         /**< default 16384 */
    int64_t max_pixels;     /**< width*height limit; default 8192*8192 */
    int64_t max_frames;     /**< stop after this many frames; 0 = all (default) */
    int stream_index;       /**< video stream to use; -1 = FFmpeg's best (default) */
    int frame_threads;      /**< 1: frame-threaded decoding, faster for long-GOP codecs, but then
                                 FFmpeg (5.1) does not reliably report concealed errors, so
                                 damage may go unreported; 0 (default): slice threads only */
} vsr_input_settings;

/** Fill s with the defaults (and s->size). */
VSR_API void vsr_input_settings_default(vsr_input_settings *s);

/** What an input holds. A result struct: set size before the call. */
typedef struct vsr_input_info {
    uint32_t size;          /**< set by the caller to sizeof(vsr_input_info) */
    int width;              /**< frame width in pixels */
    int height;             /**< frame height in pixels */
    vsr_rational time_base; /**< of the video stream: frame pts are in these units */
    vsr_rational frame_rate;/**< average frame rate (0/1 if unknown) */
    int64_t frames;         /**< frame count from the container, or an estimate from its duration
                                 and frame rate (may be off by a few frames), -1 if unknown */
    double duration_s;      /**< -1 if unknown */
    vsr_pixfmt format;      /**< decoder's pixel format (VSR_PIXFMT_OTHER if unnamed) */
    char format_name[32];   /**< FFmpeg's name of the pixel format, e.g. "yuv420p10le" */
    int bit_depth;          /**< bits per sample */
    char codec[32];         /**< e.g. "h264" */
    char container[32];     /**< e.g. "matroska,webm" */
    vsr_colour colour;      /**< colour description of the video stream */
    int stream_index;       /**< index of the video stream decoded */
    int n_streams;          /**< all streams in the file */
    int has_audio;          /**< 1 if the file has an audio stream */
} vsr_input_info;

/**
 * Open a file for decoding. s may be NULL for defaults.
 * @return 0 and *out set (the caller owns it; vsr_input_close());
 *         VSR_ERROR_INPUT (missing, unreadable, not a video, no decoder);
 *         VSR_ERROR_LIMIT (frames larger than the settings allow);
 *         VSR_ERROR_DEVICE (hwdec "cuda" without a CUDA device);
 *         VSR_EINVAL (a setting or size field out of range); VSR_ENOMEM.
 */
VSR_API int vsr_input_open(vsr_input **out, const char *path, const vsr_input_settings *s);
/**
 * Open a memory buffer (any container FFmpeg can probe). The buffer is
 * not copied and must outlive the input.
 * @return as vsr_input_open().
 */
VSR_API int vsr_input_open_buffer(vsr_input **out, const uint8_t *data, size_t size,
                                  const vsr_input_settings *s);
/**
 * What the input holds, by the size-field rule of result structs.
 * @return 0; VSR_EINVAL when in or info is NULL or info->size is below 4.
 */
VSR_API int vsr_input_get_info(const vsr_input *in, vsr_input_info *info);

/**
 * Decode the next frame (the caller owns the reference). Damage in the
 * middle of the file (a corrupt packet) is skipped with a warning and
 * decoding goes on; a read error ends the stream: VSR_EOF is returned and
 * vsr_input_damaged() tells that the end was not the real one.
 * @return 0 and *out set; VSR_EOF at the end; VSR_ERROR_LIMIT (a frame
 *         larger than the settings allow); VSR_ERROR_INPUT (the decoder
 *         failed); VSR_EINVAL; VSR_ENOMEM.
 */
VSR_API int vsr_input_read_frame(vsr_input *in, vsr_frame **out);

/**
 * Damage seen so far (corrupt packets, read errors), and a description of
 * the first one in *first_message (NULL if none; first_message may be
 * NULL). The description stays valid while the input is open.
 * @return the number of damage events (0 when none or in is NULL).
 */
VSR_API int vsr_input_damaged(const vsr_input *in, const char **first_message);

/** Close and set *in to NULL. Accepts NULL and &NULL. */
VSR_API void vsr_input_close(vsr_input **in);

/** How an output encodes. A settings struct: fill it with
 *  vsr_output_settings_default() first. */
typedef struct vsr_output_settings {
    uint32_t size;           /**< set by vsr_output_settings_default() */
    const char *codec;       /**< encoder name: "libx264" (default), "libx265", "prores_ks", "ffv1", ... */
    int crf;                 /**< quality for x264/x265; -1 = encoder default (default 18) */
    const char *preset;      /**< x264/x265 preset; NULL = "medium" */
    const char *pix_fmt;     /**< FFmpeg pixel format name; NULL = chosen from the input and encoder */
    int64_t bitrate;         /**< bits/s; 0 = not set (default) */
    int threads;             /**< encoder threads; 0 = encoder's choice (default) */
    const char *options;     /**< extra encoder options "key=value;key=value" (a value may hold ':'); NULL = none */
    int copy_streams;        /**< copy audio/subtitle/attachment streams from the source; default 1 */
    int overwrite;           /**< replace an existing file; default 1 */
    vsr_rational frame_rate; /**< used when frames carry no time base; default 25/1 */
} vsr_output_settings;

/** Fill s with the defaults (and s->size). */
VSR_API void vsr_output_settings_default(vsr_output_settings *s);

/**
 * Open an output file; the container comes from the extension. The encoder
 * is opened with the first frame (its size, time base and colour). src may
 * be NULL; when given, its other streams and metadata are copied, and it
 * must stay open until vsr_output_finish(). Fails at once if the path
 * cannot be written.
 * @return 0 and *out set (the caller owns it; vsr_output_close());
 *         VSR_ERROR_OUTPUT (the path cannot be written, an existing file
 *         and overwrite 0, an unknown container); VSR_EINVAL (an unknown
 *         codec or pixel format, bad options, a setting or size field out of
 *         range); VSR_ENOMEM.
 */
VSR_API int vsr_output_open(vsr_output **out, const char *path, vsr_input *src,
                            const vsr_output_settings *s);

/**
 * Encode one frame (any format; converted to the encoder's). The output
 * takes its own reference; the caller keeps theirs.
 * @return 0; VSR_EINVAL (no output or frame, a frame size that differs
 *         from the first frame's, an encoder that refused its settings);
 *         VSR_ERROR_OUTPUT (writing failed, e.g. the disk is full);
 *         VSR_ENOMEM; an FFmpeg error code from the encoder.
 */
VSR_API int vsr_output_write_frame(vsr_output *out, vsr_frame *f);

/**
 * Frames written so far.
 * @return the count (0 when out is NULL).
 */
VSR_API int64_t vsr_output_frames(const vsr_output *out);

/**
 * Flush the encoder, copy the source's remaining packets, write the
 * trailer and move the file into place. On failure the partial file is
 * removed. Finishing a finished output does nothing.
 * @return 0; VSR_ERROR_OUTPUT (no frame was written, or writing, the
 *         trailer or the rename failed); VSR_EINVAL (out is NULL);
 *         VSR_ENOMEM; an FFmpeg error code from the encoder.
 */
VSR_API int vsr_output_finish(vsr_output *out);

/** Close and set *out to NULL; an unfinished output's file is removed.
 *  Accepts NULL and &NULL. */
VSR_API void vsr_output_close(vsr_output **out);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_STREAM_H */
