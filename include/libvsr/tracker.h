/*
 * vsr_tracker: where the time and memory went.
 *
 * A tracker records one operation record per finished stage operation
 * (decode, preprocess, upload, inference, download, postprocess, encode,
 * and one "run" record for a whole file), keeps running statistics per
 * operation type and per strategy (the model's name), a bounded history of
 * recent records, resource peaks from an optional sampler thread, and
 * optional quality measurements (PSNR/SSIM against a reference video).
 *
 * A tracker is attached to one or more sessions through
 * vsr_session_settings.tracker; the session holds a reference, so the
 * caller may destroy its own reference at any time.
 *
 * Thread-safety: every function is safe to call from any thread. Callbacks
 * are called from library worker threads, one at a time per tracker (never
 * concurrently), and must not call back into the same tracker's
 * set_*_callback functions.
 */
#ifndef LIBVSR_TRACKER_H
#define LIBVSR_TRACKER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vsr_tracker vsr_tracker;

typedef enum vsr_op_type {
    VSR_OP_DECODE = 0,      /**< demux + decode of frames */
    VSR_OP_PREPROCESS = 1,  /**< colour conversion into the model's layout */
    VSR_OP_UPLOAD = 2,      /**< host -> device copy (precision cast on CPU) */
    VSR_OP_INFERENCE = 3,   /**< the model's forward pass */
    VSR_OP_DOWNLOAD = 4,    /**< device -> host copy (cast back to float) */
    VSR_OP_POSTPROCESS = 5, /**< conversion to the encoder's pixel format */
    VSR_OP_ENCODE = 6,      /**< encode + mux */
    VSR_OP_RUN = 7,         /**< a whole file or stream, start to finish */
    VSR_OP_COUNT = 8,
} vsr_op_type;

/** Name of an operation type ("decode", ..., "run"); NULL if out of range. */
VSR_API const char *vsr_op_type_name(vsr_op_type type);

/** Free-form key/value pair. */
typedef struct vsr_kv {
    const char *key;
    const char *value;
} vsr_kv;

/**
 * One finished operation. Pointers inside are valid only during a callback
 * (or until the next call for records read back from the history).
 */
typedef struct vsr_op_record {
    uint32_t size;            /**< sizeof(vsr_op_record) of the writer */
    vsr_op_type type;
    const char *strategy;     /**< model name, e.g. "realesr-animevideov3-x2" */
    uint64_t run_id;          /**< groups the records of one run (0 = none) */
    int64_t start_ns;         /**< monotonic clock (CLOCK_MONOTONIC), ns */
    int64_t end_ns;
    int64_t duration_ns;      /**< end - start, or the busy time when a record sums several calls */
    int64_t frames;           /**< frames processed by this operation */
    int64_t chunks;
    int64_t tiles;
    int in_width, in_height;
    int out_width, out_height;
    int scale;
    const char *precision;    /**< "fp32", "bf16", "fp16" */
    const char *device;       /**< "cpu", "cuda:0" */
    int success;              /**< 1 = succeeded */
    int error_code;           /**< libvsr error code when success == 0 */
    const char *error_message;
    int n_meta;
    const vsr_kv *meta;       /**< caller metadata (vsr_tracker_set_meta) plus the record's own */
} vsr_op_record;

/** Progress of a run. */
typedef struct vsr_progress {
    uint32_t size;
    uint64_t run_id;
    int64_t frames_done;      /**< frames written to the output so far */
    int64_t frames_total;     /**< estimate from the container, -1 if unknown */
    double elapsed_s;
    double fps;               /**< frames_done / elapsed */
    double eta_s;             /**< -1 when frames_total is unknown */
} vsr_progress;

/** Return non-zero to cancel the run: it stops cleanly and the output is
 *  finalised, playable up to the last frame written. */
typedef int (*vsr_event_callback)(void *user, const vsr_op_record *rec);
typedef int (*vsr_progress_callback)(void *user, const vsr_progress *p);

/** How often events are delivered. */
typedef enum vsr_granularity {
    VSR_GRANULARITY_OPERATION = 0, /**< every operation (per frame for decode/encode, per forward pass for inference) */
    VSR_GRANULARITY_CHUNK = 1,     /**< one record per stage per chunk of frames */
    VSR_GRANULARITY_RUN = 2,       /**< only the whole-run records */
} vsr_granularity;

typedef struct vsr_tracker_settings {
    uint32_t size;            /**< set by vsr_tracker_settings_default() */
    int history_length;       /**< records kept, oldest dropped first; default 4096 */
    vsr_granularity granularity; /**< default VSR_GRANULARITY_OPERATION */
    int sampler_interval_ms;  /**< resource sampler period; 0 = no sampler thread; default 100 */
} vsr_tracker_settings;

VSR_API void vsr_tracker_settings_default(vsr_tracker_settings *s);

/** s may be NULL for defaults. */
VSR_API int vsr_tracker_create(vsr_tracker **out, const vsr_tracker_settings *s);
/** Drop the caller's reference, set *t to NULL. Accepts NULL and &NULL. */
VSR_API void vsr_tracker_destroy(vsr_tracker **t);
/** Another reference (used by sessions; callers rarely need it). */
VSR_API vsr_tracker *vsr_tracker_ref(vsr_tracker *t);

VSR_API int vsr_tracker_set_event_callback(vsr_tracker *t, vsr_event_callback cb, void *user);
VSR_API int vsr_tracker_set_progress_callback(vsr_tracker *t, vsr_progress_callback cb, void *user);

/** Metadata attached to every record made after the call (value NULL removes the key). */
VSR_API int vsr_tracker_set_meta(vsr_tracker *t, const char *key, const char *value);

/**
 * Record an operation. libvsr's stages call this; callers may too, for
 * their own stages. Returns non-zero (VSR_ERROR_CANCELLED) if the event
 * callback asked to cancel, 0 otherwise.
 */
VSR_API int vsr_tracker_record(vsr_tracker *t, const vsr_op_record *rec);

/** Report progress (called by the pipeline); returns VSR_ERROR_CANCELLED
 *  if the progress callback asked to cancel. */
VSR_API int vsr_tracker_progress(vsr_tracker *t, const vsr_progress *p);

/** Statistics over the records of one type (and one strategy, or all if NULL). */
typedef struct vsr_op_stats {
    uint32_t size;
    int64_t count;
    int64_t successes;
    int64_t failures;
    double mean_ms, min_ms, max_ms, p50_ms, p95_ms;
    double total_ms;
    int64_t frames;
    double fps;               /**< frames / total busy time (0 if none) */
} vsr_op_stats;

VSR_API int vsr_tracker_get_stats(vsr_tracker *t, vsr_op_type type, const char *strategy,
                                  vsr_op_stats *out);

/** Number of records in the history, and a copy of record i (0 = oldest).
 *  Strings in *out stay valid until the next call on this tracker from this thread. */
VSR_API int vsr_tracker_history_count(vsr_tracker *t);
VSR_API int vsr_tracker_history_get(vsr_tracker *t, int i, vsr_op_record *out);

/** Resource peaks seen by the sampler (and by the device shim). */
typedef struct vsr_resource_stats {
    uint32_t size;
    int64_t peak_rss_bytes;
    int64_t current_rss_bytes;
    double cpu_percent_mean;  /**< process CPU time / wall time * 100 (may exceed 100 on several cores) */
    double cpu_percent_peak;
    int64_t peak_device_bytes;   /**< -1 when there is no GPU */
    int64_t device_total_bytes;  /**< -1 when there is no GPU */
    double gpu_util_percent_peak;/**< -1 when NVML is not available */
    int64_t samples;
    int max_frames_in_flight; /**< high-water mark of frames between decode and encode */
    int queue_depth;          /**< the configured bound of each pipeline queue */
} vsr_resource_stats;

VSR_API int vsr_tracker_get_resources(vsr_tracker *t, vsr_resource_stats *out);

/** Quality against a reference: one entry per frame. */
VSR_API int vsr_tracker_record_quality(vsr_tracker *t, int64_t frame_index, double psnr_db, double ssim);
typedef struct vsr_quality_stats {
    uint32_t size;
    int64_t frames;
    double psnr_mean, psnr_min;
    double ssim_mean, ssim_min;
} vsr_quality_stats;
VSR_API int vsr_tracker_get_quality(vsr_tracker *t, vsr_quality_stats *out);

/** Clear statistics, history, peaks and quality (callbacks and metadata stay). */
VSR_API void vsr_tracker_reset(vsr_tracker *t);

typedef enum vsr_export_format {
    VSR_EXPORT_JSON = 0,       /**< statistics, resources, quality and history */
    VSR_EXPORT_CSV = 1,        /**< history: a header line, then one row per operation */
    VSR_EXPORT_PROMETHEUS = 2, /**< statistics in Prometheus' text exposition format */
} vsr_export_format;

/** Export to a file (written whole, then renamed into place). */
VSR_API int vsr_tracker_export(vsr_tracker *t, vsr_export_format fmt, const char *path);
/** Export to a NUL-terminated string the caller frees with vsr_free(). */
VSR_API int vsr_tracker_export_string(vsr_tracker *t, vsr_export_format fmt, char **out);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_TRACKER_H */
