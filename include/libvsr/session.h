/**
 * @file session.h
 * @brief vsr_session: running a model over a sequence of frames, and over
 * whole files.
 *
 * A vsr_session runs a vsr_model (model.h) over one sequence of frames at
 * a time: frames go in with vsr_session_send_frame(), upscaled frames come
 * out with vsr_session_receive_frame(), in order. Temporal chunks (with
 * overlap) and spatial tiles (with padding) are planned inside, so the
 * output is the same as if the model had seen whole frames and the whole
 * clip, wherever the model's receptive field allows. vsr_upscale_file()
 * does the same for a whole file, with decoding and encoding.
 *
 * Thread-safety: one thread at a time per session, except
 * vsr_session_cancel(), which is safe from any thread and from a signal
 * handler.
 */
#ifndef LIBVSR_SESSION_H
#define LIBVSR_SESSION_H

#include "common.h"
#include "frame.h"
#include "model.h"
#include "stream.h"
#include "tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A model run over sequences of frames (opaque, one owner). */
typedef struct vsr_session vsr_session;

/** How a session runs its model. A settings struct: fill it with
 *  vsr_session_settings_default() first. */
typedef struct vsr_session_settings {
    uint32_t size;           /**< set by vsr_session_settings_default() */
    vsr_model *model;        /**< the model to run (required); the session takes its own reference */
    int batch;               /**< frames (or tiles) per forward pass; VSR_AUTO (default) = 1 on CPU, 4 on CUDA */
    int chunk;               /**< temporal chunk length for sequence models; VSR_AUTO (default) = from memory */
    int overlap;             /**< frames shared by neighbouring chunks; VSR_AUTO (default) = 2*rf_temporal */
    int tile;                /**< tile size in input pixels; 0 = whole frames (default), VSR_AUTO = from memory */
    int tile_pad;            /**< context around each tile; VSR_AUTO (default) = rf_spatial */
    int tile_blend;          /**< feather tile overlaps instead of cutting; default 0 */
    int chunk_blend;         /**< cross-fade chunk overlaps instead of cutting; default 0 */
    int64_t mem_limit;       /**< bytes the session may use for inference; 0 = auto (default) */
    vsr_tracker *tracker;    /**< optional; the session keeps a reference */
    vsr_log_callback log_callback; /**< optional per-session log sink (NULL = the global one) */
    void *log_user;          /**< passed to log_callback */
    vsr_pixfmt output_format;/**< format of the frames vsr_session_receive_frame() returns:
                                  VSR_PIXFMT_RGBF32 (default) or any other named format, converted
                                  inside (one copy) with the input frame's colour description */
} vsr_session_settings;

/** Fill s with the defaults (and s->size). s->model must still be set. */
VSR_API void vsr_session_settings_default(vsr_session_settings *s);

/**
 * Open a session on a model.
 * @return 0 and *out set (the caller owns it; vsr_session_close());
 *         VSR_EINVAL (no settings or model, a setting out of range, a size
 *         field that does not match); VSR_ENOMEM. On error *out is NULL.
 */
VSR_API int vsr_session_open(vsr_session **out, const vsr_session_settings *s);

/** Close and set *s to NULL (the session's model and tracker references
 *  are dropped). Accepts NULL and &NULL. */
VSR_API void vsr_session_close(vsr_session **s);

/** What the session actually uses, after "auto" choices and fallbacks.
 *  A result struct: set size before the call. */
typedef struct vsr_session_info {
    uint32_t size;           /**< set by the caller to sizeof(vsr_session_info) */
    char device[32];         /**< "cpu", "cuda:0" */
    vsr_precision precision; /**< never AUTO */
    int threads;             /**< CPU inference threads in force now (vsr_process_configure()) */
    int batch;               /**< frames (or tiles) per forward pass */
    int chunk;               /**< chunk length (1 for per-frame models; VSR_AUTO until the first frame) */
    int overlap;             /**< frames shared by neighbouring chunks */
    int tile;                /**< tile size (0 = whole frames; VSR_AUTO until the first frame) */
    int tile_pad;            /**< context around each tile */
    int scale;               /**< output size = scale * input size */
    int64_t mem_limit;       /**< bytes the session may use for inference */
} vsr_session_info;

/**
 * What the session uses now (threads is read at the time of the call).
 * @return 0; VSR_EINVAL when s or info is NULL or info->size is below 4.
 */
VSR_API int vsr_session_get_info(const vsr_session *s, vsr_session_info *info);

/**
 * The card of the session's model (as vsr_model_get_card()).
 * @return 0; VSR_EINVAL when s or card is NULL or card->size is below 4.
 */
VSR_API int vsr_session_get_card(const vsr_session *s, vsr_model_card *card);

/**
 * Send one frame (any format; converted to the model's RGB with the
 * frame's matrix and range). The session takes its own reference; the
 * caller keeps theirs. NULL starts draining: the last partial chunk runs
 * and receive then returns the remaining frames followed by VSR_EOF.
 * @return 0; VSR_EAGAIN when upscaled frames must be received first;
 *         VSR_ERROR_CANCELLED after vsr_session_cancel() (until
 *         vsr_session_reset()); VSR_EINVAL (a frame after the drain, a
 *         frame size that changed within the sequence, a session that
 *         failed earlier); VSR_ERROR_MODEL_RUN, VSR_ERROR_DEVICE_OOM or
 *         VSR_ENOMEM from a forward pass the frame completed (the session
 *         must then be reset).
 */
VSR_API int vsr_session_send_frame(vsr_session *s, vsr_frame *f);

/**
 * Receive the next upscaled frame: scale times larger, in the session's
 * output_format, with the input frame's pts, duration, time base, colour
 * description and user data. The caller owns the returned reference.
 * @return 0 and *out set; VSR_EAGAIN when more input is needed; VSR_EOF
 *         after a drain delivered every frame; VSR_ERROR_CANCELLED after
 *         vsr_session_cancel() (until vsr_session_reset()); an error from a
 *         forward pass run during the drain (as vsr_session_send_frame()).
 *         *out is NULL unless 0 is returned.
 */
VSR_API int vsr_session_receive_frame(vsr_session *s, vsr_frame **out);

/** Forget buffered frames and start a new sequence (after VSR_EOF, an
 *  error or a cancel). Also forgets a pending cancel. Accepts NULL. */
VSR_API void vsr_session_reset(vsr_session *s);

/**
 * Cancel: a running vsr_upscale_file() stops at the next frame or forward
 * pass and finishes its output with the frames written; the streaming
 * calls return VSR_ERROR_CANCELLED until vsr_session_reset(). Asked while
 * nothing runs, it stops the next run at its start. Safe from any thread
 * and from a signal handler (one lock-free atomic store). Accepts NULL.
 */
VSR_API void vsr_session_cancel(vsr_session *s);

/** How vsr_upscale_file() runs. A settings struct: fill it with
 *  vsr_run_settings_default() first.
 *
 *  A range (FFmpeg's -ss, -to, -t) keeps part of the input. Times are on
 *  the input's clock counted from its start time, as FFmpeg counts them;
 *  frames are counted from 0 in the order a full decode returns them. A
 *  frame is kept when it satisfies every bound that is set: shown at or
 *  after start_us and before end_us, with an index at or after
 *  start_frame and before end_frame. Timestamps of the output start at
 *  0: they move back by the start time (the input's start plus start_us),
 *  or by the first kept frame's time for a start_frame. Audio and
 *  subtitle packets are copied when they start inside the same range
 *  (as `ffmpeg -c copy` cuts them) and move with the video. A time start
 *  seeks to the keyframe before it and drops the frames before it; a
 *  frame start decodes from the beginning. A range goes with neither
 *  resume nor reference_path (VSR_EINVAL). */
typedef struct vsr_run_settings {
    uint32_t size;           /**< set by vsr_run_settings_default() */
    const vsr_input_settings *input;   /**< NULL = defaults */
    const vsr_output_settings *output; /**< NULL = defaults */
    int pipelined;           /**< 1 (default): decode, convert, infer and encode on their own threads; 0 = serial */
    int queue_depth;         /**< frames each pipeline queue holds; default 4 */
    int resume;              /**< continue an interrupted run of the same input, model and settings */
    const char *reference_path; /**< optional reference video of the output size: PSNR/SSIM per frame */
    int64_t start_us;        /**< -1 (default): from the start; else keep frames shown at or after this time (us) */
    int64_t end_us;          /**< -1 (default): to the end; else keep frames shown before this time (us) */
    int64_t start_frame;     /**< -1 (default): from the first frame; else the index of the first frame kept */
    int64_t end_frame;       /**< -1 (default): to the last frame; else keep frames before this index */
} vsr_run_settings;

/** Fill s with the defaults (and s->size). */
VSR_API void vsr_run_settings_default(vsr_run_settings *s);

/** What a vsr_upscale_file() run did. A result struct: set size before the call. */
typedef struct vsr_run_result {
    uint32_t size;           /**< set by the caller to sizeof(vsr_run_result) */
    int64_t frames_decoded;  /**< frames read from the input */
    int64_t frames_written;  /**< frames in the output, resumed ones included */
    int64_t frames_resumed;  /**< frames taken from an earlier interrupted run */
    int64_t chunks;          /**< temporal chunks run */
    int64_t tiles;           /**< forward passes over tiles (or whole frames) */
    int input_damaged;       /**< damage events in the input (the output has every frame decoded) */
    int cancelled;           /**< 1 when the run was cancelled */
    double seconds;          /**< wall time of the run */
    double fps;              /**< frames written per second (resumed ones not counted) */
    int max_frames_in_flight;/**< high-water mark of frames between decode and encode */
} vsr_run_result;

/**
 * Upscale a whole file: decode, run the model, encode, copy the other
 * streams. res may be NULL.
 * @return 0; VSR_ERROR_INPUT_DAMAGED when the input was damaged (the output
 *         is finished and holds every frame that could be decoded);
 *         VSR_ERROR_CANCELLED after a cancel (the output is finished up to
 *         the last frame written, or no file is left when none was);
 *         VSR_EINVAL (missing arguments, a settings or result struct whose
 *         size does not match, a setting out of range); VSR_ERROR_INPUT,
 *         VSR_ERROR_LIMIT, VSR_ERROR_OUTPUT, VSR_ERROR_MODEL_RUN,
 *         VSR_ERROR_DEVICE_OOM, VSR_ERROR_MISMATCH (resume of another job),
 *         VSR_ENOMEM or an FFmpeg error code: no output file is left then.
 */
VSR_API int vsr_upscale_file(vsr_session *s, const char *input_path, const char *output_path,
                             const vsr_run_settings *rs, vsr_run_result *res);

/** Settings libvsr recommends for this machine and model, with reasons.
 *  A result struct: set size before the call. */
typedef struct vsr_recommendation {
    uint32_t size;           /**< set by the caller to sizeof(vsr_recommendation) */
    char device[32];         /**< model setting: "cpu" or "cuda:N" */
    vsr_precision precision; /**< model setting */
    int threads;             /**< process setting (vsr_process_configure()) */
    int batch;               /**< session setting */
    int chunk;               /**< session setting (1 for per-frame models) */
    int tile;                /**< session setting (0 = whole frames) */
    int tile_pad;            /**< session setting (VSR_AUTO without a model) */
    int64_t mem_limit;       /**< session setting */
    char reasons[2048];      /**< one reason per line */
} vsr_recommendation;

/**
 * Detect the device (CUDA device and its memory, or CPU cores, SIMD
 * features and RAM) and recommend settings that fit, sized for 1920x1080
 * frames. With model_path, the model is loaded once to read its card and
 * measure its memory per pixel; without (NULL), the advice is generic for a
 * per-frame model and tile_pad is VSR_AUTO. chunk is 1 for per-frame
 * models. On error *out is left untouched.
 * @return 0; VSR_EINVAL (out NULL or out->size below 4, an empty path);
 *         the errors of vsr_model_open() for the model.
 */
VSR_API int vsr_recommend_settings(const char *model_path, vsr_recommendation *out);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_SESSION_H */
