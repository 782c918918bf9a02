/**
 * @file model.h
 * @brief vsr_model: a network loaded on a device; and the process-wide
 * inference settings.
 *
 * A vsr_model is a TorchScript file with its model card, loaded once on a
 * device at a precision and checked with one real forward pass. It is
 * read-only after loading, reference-counted, and may be shared by several
 * sessions in several threads: each session takes its own reference.
 *
 * Some inference settings are process-wide by nature (libtorch's CPU
 * thread pool, TF32 and cuDNN's algorithm search): they are set by
 * vsr_process_configure(), never through a model or a session.
 *
 * Thread-safety: every function here is safe from any thread.
 */
#ifndef LIBVSR_MODEL_H
#define LIBVSR_MODEL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A loaded model (opaque, reference-counted). */
typedef struct vsr_model vsr_model;

/** Numeric precision of inference. */
typedef enum vsr_precision {
    VSR_PRECISION_AUTO = 0, /**< fp16 on CUDA; on CPU bf16 where the CPU runs it fast, else fp32 */
    VSR_PRECISION_FP32 = 1, /**< 32-bit float */
    VSR_PRECISION_BF16 = 2, /**< bfloat16 (CPU with AVX512-BF16/AMX, or CUDA) */
    VSR_PRECISION_FP16 = 3, /**< CUDA only; on CPU it falls back to fp32 with one notice */
} vsr_precision;

/**
 * Name of a precision.
 * @return "auto", "fp32", "bf16", "fp16", or "unknown" for other values; never NULL.
 */
VSR_API const char *vsr_precision_name(vsr_precision p);

/** How a model takes its input tensor. */
typedef enum vsr_layout {
    VSR_LAYOUT_NCHW = 0,  /**< per-frame model: [batch, channels, height, width] */
    VSR_LAYOUT_NTCHW = 1, /**< sequence model: [batch, time, channels, height, width] */
} vsr_layout;

/** The model card: what libvsr knows of a model, from its libvsr.json
 *  (docs/model-card.md). A result struct: set size before the call. */
typedef struct vsr_model_card {
    uint32_t size;          /**< set by the caller to sizeof(vsr_model_card) */
    char name[64];          /**< the model's name, e.g. "realesr-animevideov3-x2" */
    int scale;              /**< output size = scale * input size */
    int frames_in;          /**< frames per step: 1 = per-frame, T > 1 = fixed window, 0 = any sequence length */
    int center_only;        /**< 1 = returns only the centre frame of its window; 0 = all frames */
    vsr_layout layout;      /**< input layout */
    float range_min;        /**< lowest value of input and output samples, e.g. 0 */
    float range_max;        /**< highest value of input and output samples, e.g. 1 */
    int rf_spatial;         /**< spatial receptive radius in input pixels (safe tile pad) */
    int rf_temporal;        /**< temporal receptive radius in frames (half the safe overlap) */
    int size_multiple;      /**< input width and height must be multiples of this (edges are padded) */
    char license[32];       /**< licence of the weights, e.g. "BSD-3-Clause" */
    int global_pool;        /**< 1 = the network pools over the whole frame, so tiles change its output */
} vsr_model_card;

/** What vsr_model_open() loads. A settings struct: fill it with
 *  vsr_model_settings_default() first. */
typedef struct vsr_model_settings {
    uint32_t size;           /**< set by vsr_model_settings_default() */
    const char *path;        /**< TorchScript file with an embedded libvsr.json (required) */
    const char *device;      /**< "cpu" (default), "cuda", "cuda:N", or "auto" (CUDA if available) */
    vsr_precision precision; /**< default VSR_PRECISION_AUTO */
    int cuda_graph;          /**< CUDA: capture fixed-shape forward passes as CUDA graphs and replay
                                  them (needs libvsr built against a CUDA libtorch); default 0 */
    int cache;               /**< 1 (default): "auto" precision on the CPU is measured once per machine,
                                  model file and thread count and the result kept in the user's cache
                                  directory ($VSR_CACHE_DIR, else $XDG_CACHE_HOME/libvsr or
                                  ~/.cache/libvsr), so later loads skip the measuring; 0: measure at
                                  every load and store nothing */
} vsr_model_settings;

/** Fill s with the defaults (and s->size). */
VSR_API void vsr_model_settings_default(vsr_model_settings *s);

/**
 * Load a model: read the TorchScript file and its card, move it to the
 * device at the precision ("auto" is resolved by measuring on the CPU, or
 * taken from the start-up cache: vsr_model_settings.cache), run one check
 * pass that compares the output shape with the card, and measure its
 * memory and time per pixel for sizing tiles and chunks. Each step is
 * logged at VSR_LOG_INFO with its time ("start-up: ...").
 * The caller owns one reference; drop it with vsr_model_unref().
 * @return 0 and *out set; VSR_EINVAL (no settings, no path, a setting out
 *         of range, a size field that does not match); VSR_ERROR_MODEL (file
 *         missing or unreadable, not TorchScript, no or an invalid card, the
 *         check pass failed); VSR_ERROR_MODEL_RUN (the output does not match
 *         the card); VSR_ERROR_DEVICE (the device is not available);
 *         VSR_ENOMEM. On error *out is NULL and vsr_last_error() says why.
 */
VSR_API int vsr_model_open(vsr_model **out, const vsr_model_settings *s);

/**
 * Another reference to m (sessions take one each).
 * @return m (NULL if m is NULL).
 */
VSR_API vsr_model *vsr_model_ref(vsr_model *m);

/** Drop a reference and set *m to NULL; the model is freed with its last
 *  reference. Accepts NULL and &NULL. */
VSR_API void vsr_model_unref(vsr_model **m);

/**
 * The model's card, by the size-field rule of result structs.
 * @return 0; VSR_EINVAL when m or card is NULL or card->size is below 4
 *         (nothing is written then).
 */
VSR_API int vsr_model_get_card(const vsr_model *m, vsr_model_card *card);

/** What a loaded model runs on, and what was measured when it was loaded.
 *  A result struct: set size before the call. */
typedef struct vsr_model_info {
    uint32_t size;             /**< set by the caller to sizeof(vsr_model_info) */
    char device[32];           /**< "cpu", "cuda:0" */
    vsr_precision precision;   /**< resolved: never VSR_PRECISION_AUTO */
    double bytes_per_pixel;    /**< activation memory per input pixel of one frame, measured at load */
    double ns_per_pixel;       /**< forward-pass time per input pixel, measured at load */
} vsr_model_info;

/**
 * What the model runs on and what was measured of it.
 * @return 0; VSR_EINVAL when m or info is NULL or info->size is below 4.
 */
VSR_API int vsr_model_get_info(const vsr_model *m, vsr_model_info *info);

/** Process-wide inference settings (they change libtorch's global state,
 *  so they belong to the process, not to a model or a session). */
typedef struct vsr_process_settings {
    uint32_t size;        /**< set by vsr_process_settings_default() */
    int threads;          /**< CPU inference threads (libtorch's intra-op pool); 0 = one per core (default) */
    int cuda_tf32;        /**< allow TF32 tensor cores on CUDA (Ampere and later) for fp32 work; default 0 */
    int cudnn_benchmark;  /**< let cuDNN time its algorithms for each new shape and keep the fastest; default 1 */
} vsr_process_settings;

/** Fill s with the defaults (and s->size). */
VSR_API void vsr_process_settings_default(vsr_process_settings *s);

/**
 * Apply process-wide inference settings. Models already loaded use the new
 * values from their next forward pass. Until the first call, libvsr's
 * forward passes use one thread per core (set on the thread that runs the
 * pass), and TF32 and cuDNN's benchmark mode stay as libtorch has them.
 * Thread-safety: safe from any thread, also while models run.
 * @return 0; VSR_EINVAL for a NULL or mis-sized struct or a value out of
 *         range (threads 0..1024, the switches 0 or 1).
 */
VSR_API int vsr_process_configure(const vsr_process_settings *s);

/**
 * The process-wide settings in force now, read from libtorch at the time
 * of the call (threads is the actual thread count, never 0). A result
 * struct: set s->size before the call.
 * @return 0; VSR_EINVAL when s is NULL or s->size is below 4.
 */
VSR_API int vsr_process_get_settings(vsr_process_settings *s);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_MODEL_H */
