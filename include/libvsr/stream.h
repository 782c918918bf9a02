/*
 * vsr_input / vsr_output: decoding a video file (or memory buffer) into
 * frames, and encoding frames into a file.
 *
 * An output opened with a source input copies the input's other streams
 * (audio, subtitles, attachments such as fonts), chapters, container
 * metadata, colour description and HDR side data, and keeps every frame's
 * pts (variable frame rate stays variable).
 *
 * The output is written to "<path>.partial" and renamed to <path> only by
 * vsr_output_finish(); an output closed without finishing is removed, so a
 * file at <path> is always complete.
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

typedef struct vsr_input vsr_input;
typedef struct vsr_output vsr_output;

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

VSR_API void vsr_input_settings_default(vsr_input_settings *s);

typedef struct vsr_input_info {
    uint32_t size;          /**< set by the caller to sizeof(vsr_input_info) */
    int width, height;
    vsr_rational time_base; /**< of the video stream: frame pts are in these units */
    vsr_rational frame_rate;/**< average frame rate (0/1 if unknown) */
    int64_t frames;         /**< frame count from the container, or an estimate from its duration
                                 and frame rate (may be off by a few frames), -1 if unknown */
    double duration_s;      /**< -1 if unknown */
    vsr_pixfmt format;      /**< decoder's pixel format (VSR_PIXFMT_OTHER if unnamed) */
    char format_name[32];
    int bit_depth;
    char codec[32];         /**< e.g. "h264" */
    char container[32];     /**< e.g. "matroska,webm" */
    vsr_colour colour;
    int stream_index;
    int n_streams;          /**< all streams in the file */
    int has_audio;
} vsr_input_info;

/** Open a file for decoding. s may be NULL for defaults. */
VSR_API int vsr_input_open(vsr_input **out, const char *path, const vsr_input_settings *s);
/** Open a memory buffer (any container FFmpeg can probe). The buffer is
 *  not copied and must outlive the input. */
VSR_API int vsr_input_open_buffer(vsr_input **out, const uint8_t *data, size_t size,
                                  const vsr_input_settings *s);
VSR_API int vsr_input_get_info(const vsr_input *in, vsr_input_info *info);

/**
 * Decode the next frame. Returns 0 and a new frame (the caller owns the
 * reference), VSR_EOF at the end, or an error. Damage in the middle of the
 * file (a corrupt packet) is skipped with a warning and decoding goes on;
 * a read error ends the stream: VSR_EOF is returned and
 * vsr_input_damaged() tells that the end was not the real one.
 */
VSR_API int vsr_input_read_frame(vsr_input *in, vsr_frame **out);

/** Number of damage events seen so far (corrupt packets, read errors),
 *  and a description of the first one (NULL if none). */
VSR_API int vsr_input_damaged(const vsr_input *in, const char **first_message);

/** Close and set *in to NULL. Accepts NULL and &NULL. */
VSR_API void vsr_input_close(vsr_input **in);

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

VSR_API void vsr_output_settings_default(vsr_output_settings *s);

/**
 * Open an output file; the container comes from the extension. The encoder
 * is opened with the first frame (its size, time base and colour). src may
 * be NULL; when given, its other streams and metadata are copied, and it
 * must stay open until vsr_output_finish(). Fails at once if the path
 * cannot be written.
 */
VSR_API int vsr_output_open(vsr_output **out, const char *path, vsr_input *src,
                            const vsr_output_settings *s);

/** Encode one frame (any format; converted to the encoder's). The output
 *  takes its own reference; the caller keeps theirs. */
VSR_API int vsr_output_write_frame(vsr_output *out, vsr_frame *f);

/** Frames written so far. */
VSR_API int64_t vsr_output_frames(const vsr_output *out);

/** Flush the encoder, copy the source's remaining packets, write the
 *  trailer and move the file into place. On failure the partial file is
 *  removed. */
VSR_API int vsr_output_finish(vsr_output *out);

/** Close and set *out to NULL; an unfinished output's file is removed.
 *  Accepts NULL and &NULL. */
VSR_API void vsr_output_close(vsr_output **out);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_STREAM_H */
