/*
 * vsr_model and vsr_session: a loaded network, and the state of running it
 * over a sequence of frames.
 *
 * A vsr_model is a TorchScript file with its model card, loaded once on a
 * device at a precision. It is read-only after loading and may be shared
 * by several sessions, in several threads.
 *
 * A vsr_session runs a model over one sequence of frames at a time:
 * frames go in with vsr_session_send_frame(), upscaled frames come out
 * with vsr_session_receive_frame(), in order. Temporal chunks (with
 * overlap) and spatial tiles (with padding) are planned inside, so the
 * output is the same as if the model had seen whole frames and the whole
 * clip, wherever the model's receptive field allows.
 *
 * Thread-safety: one thread at a time per session, except
 * vsr_session_cancel(), which is safe from any thread and from a signal
 * handler.
 */
#ifndef LIBVSR_SESSION_H
#define LIBVSR_SESSION_H

#include "common.h"
#include "frame.h"
#include "stream.h"
#include "tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vsr_model vsr_model;
typedef struct vsr_session vsr_session;

typedef enum vsr_precision {
    VSR_PRECISION_AUTO = 0, /**< fp16 on CUDA; on CPU bf16 where the CPU runs it fast, else fp32 */
    VSR_PRECISION_FP32 = 1,
    VSR_PRECISION_BF16 = 2,
    VSR_PRECISION_FP16 = 3, /**< CUDA only; on CPU it falls back to fp32 with one notice */
} vsr_precision;

VSR_API const char *vsr_precision_name(vsr_precision p);

typedef enum vsr_layout {
    VSR_LAYOUT_NCHW = 0,  /**< per-frame model: [batch, channels, height, width] */
    VSR_LAYOUT_NTCHW = 1, /**< sequence model: [batch, time, channels, height, width] */
} vsr_layout;

/** The model card: what libvsr knows of a model, from its libvsr.json. */
typedef struct vsr_model_card {
    uint32_t size;          /**< set by the caller to sizeof(vsr_model_card) */
    char name[64];
    int scale;              /**< output size = scale * input size */
    int frames_in;          /**< frames per step: 1 = per-frame, T > 1 = fixed window, 0 = any sequence length */
    int center_only;        /**< 1 = returns only the centre frame of its window; 0 = all frames */
    vsr_layout layout;
    float range_min, range_max; /**< value range of input and output, e.g. 0 and 1 */
    int rf_spatial;         /**< spatial receptive radius in input pixels (safe tile pad) */
    int rf_temporal;        /**< temporal receptive radius in frames (half the safe overlap) */
    int size_multiple;      /**< input width and height must be multiples of this (edges are padded) */
    char license[32];
} vsr_model_card;

typedef struct vsr_session_settings {
    uint32_t size;           /**< set by vsr_session_settings_default() */
    const char *model_path;  /**< TorchScript file with an embedded libvsr.json */
    vsr_model *model;        /**< or an already loaded, shared model (then model_path, device,
                                  precision, threads and cuda_graph are taken from it) */
    const char *device;      /**< "cpu" (default), "cuda", "cuda:N", or "auto" */
    vsr_precision precision; /**< default VSR_PRECISION_AUTO */
    int threads;             /**< intra-op threads for inference; 0 = auto (default) */
    int batch;               /**< frames (or tiles) per forward pass; VSR_AUTO (default) = measured choice */
    int chunk;               /**< temporal chunk length for sequence models; VSR_AUTO (default) */
    int overlap;             /**< frames shared by neighbouring chunks; VSR_AUTO = 2*rf_temporal */
    int tile;                /**< tile size in input pixels; 0 = whole frames (default), VSR_AUTO = from memory */
    int tile_pad;            /**< context around each tile; VSR_AUTO (default) = rf_spatial */
    int tile_blend;          /**< feather tile overlaps instead of cutting; default 0 */
    int chunk_blend;         /**< cross-fade chunk overlaps instead of cutting; default 0 */
    int64_t mem_limit;       /**< bytes the session may use for inference; 0 = auto */
    vsr_tracker *tracker;    /**< optional; the session keeps a reference */
    vsr_log_callback log_callback; /**< optional per-session log sink (NULL = the global one) */
    void *log_user;
    int cuda_graph;          /**< CUDA: capture fixed-shape forward passes as CUDA graphs and replay
                                  them (needs libvsr built against a CUDA libtorch); default 0 */
} vsr_session_settings;

VSR_API void vsr_session_settings_default(vsr_session_settings *s);

/** Load a model (path, device, precision and threads from s). */
VSR_API int vsr_model_load(vsr_model **out, const vsr_session_settings *s);
VSR_API int vsr_model_get_card(const vsr_model *m, vsr_model_card *card);
/** Drop the caller's reference; sessions keep their own. Accepts NULL and &NULL. */
VSR_API void vsr_model_unload(vsr_model **m);

VSR_API int vsr_session_open(vsr_session **out, const vsr_session_settings *s);
VSR_API void vsr_session_close(vsr_session **s);

/** What the session actually uses, after "auto" choices and fallbacks. */
typedef struct vsr_session_info {
    uint32_t size;           /**< set by the caller to sizeof(vsr_session_info) */
    char device[32];         /**< "cpu", "cuda:0" */
    vsr_precision precision; /**< never AUTO */
    int threads;
    int batch, chunk, overlap, tile, tile_pad;
    int scale;
    int64_t mem_limit;
} vsr_session_info;

VSR_API int vsr_session_get_info(const vsr_session *s, vsr_session_info *info);
VSR_API int vsr_session_get_card(const vsr_session *s, vsr_model_card *card);

/**
 * Send one frame (any format; converted to the model's RGB with the
 * frame's matrix and range). The session takes its own reference; the
 * caller keeps theirs. NULL starts draining: the last partial chunk runs
 * and receive then returns the remaining frames followed by VSR_EOF.
 * Returns VSR_EAGAIN when upscaled frames must be received first.
 */
VSR_API int vsr_session_send_frame(vsr_session *s, vsr_frame *f);

/**
 * Receive the next upscaled frame (VSR_PIXFMT_RGBF32, scale times larger,
 * with the input frame's pts, duration, time base and colour description).
 * Returns 0 and a frame the caller owns, VSR_EAGAIN when more input is
 * needed, or VSR_EOF after a drain.
 */
VSR_API int vsr_session_receive_frame(vsr_session *s, vsr_frame **out);

/** Forget buffered frames and start a new sequence (after VSR_EOF or an
 *  error). Also forgets a pending cancel. */
VSR_API void vsr_session_reset(vsr_session *s);

/** Ask a running vsr_upscale_file() to stop cleanly; asked while no run is
 *  going, it stops the next run at its start. Async-signal-safe. */
VSR_API void vsr_session_cancel(vsr_session *s);

typedef struct vsr_run_settings {
    uint32_t size;           /**< set by vsr_run_settings_default() */
    const vsr_input_settings *input;   /**< NULL = defaults */
    const vsr_output_settings *output; /**< NULL = defaults */
    int pipelined;           /**< 1 (default): decode, convert, infer and encode on their own threads; 0 = serial */
    int queue_depth;         /**< frames each pipeline queue holds; default 4 */
    int resume;              /**< continue an interrupted run of the same input, model and settings */
    const char *reference_path; /**< optional reference video of the output size: PSNR/SSIM per frame */
    int test_encode_delay_us;/**< testing hook: sleep this long before each encode */
} vsr_run_settings;

VSR_API void vsr_run_settings_default(vsr_run_settings *s);

typedef struct vsr_run_result {
    uint32_t size;           /**< set by the caller to sizeof(vsr_run_result) */
    int64_t frames_decoded;
    int64_t frames_written;
    int64_t frames_resumed;  /**< frames taken from an earlier interrupted run */
    int64_t chunks;
    int64_t tiles;
    int input_damaged;       /**< damage events in the input (the output has every frame decoded) */
    int cancelled;
    double seconds;
    double fps;
    int max_frames_in_flight;
} vsr_run_result;

/**
 * Upscale a whole file: decode, run the model, encode, copy the other
 * streams. Returns 0; VSR_ERROR_INPUT_DAMAGED when the input was damaged
 * (the output is finished and holds every frame that could be decoded);
 * VSR_ERROR_CANCELLED after a cancel (the output is finished up to the
 * last frame written); or another error (no output file is left).
 * res may be NULL.
 */
VSR_API int vsr_upscale_file(vsr_session *s, const char *input_path, const char *output_path,
                             const vsr_run_settings *rs, vsr_run_result *res);

/** Settings libvsr recommends for this machine and model, with reasons. */
typedef struct vsr_recommendation {
    uint32_t size;           /**< set by the caller to sizeof(vsr_recommendation) */
    char device[32];
    vsr_precision precision;
    int threads;
    int batch, chunk, tile, tile_pad;
    int64_t mem_limit;
    char reasons[2048];      /**< one reason per line */
} vsr_recommendation;

/**
 * Detect the device (CUDA device and its memory, or CPU cores, SIMD
 * features and RAM) and recommend settings that fit, sized for 1920x1080
 * frames. With model_path, the model is loaded once to read its card and
 * measure its memory per pixel; without (NULL), the advice is generic for a
 * per-frame model and tile_pad is VSR_AUTO. chunk is 1 for per-frame
 * models. On error *out is left untouched.
 */
VSR_API int vsr_recommend_settings(const char *model_path, vsr_recommendation *out);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_SESSION_H */
