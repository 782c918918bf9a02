/*
 * vsr_tracker: where the time and memory went.
 *
 * A tracker records one operation record per finished operation. libvsr
 * records its own stages under the predefined type names below (VSR_OP_*:
 * decode, preprocess, upload, inference, download, postprocess, encode, and
 * one "run" record for a whole file), with the model's name as strategy.
 * An application records its own operations in the same tracker, with type
 * and strategy names of its choosing ("analysis" by "degradation_router",
 * "enhancement" by "vsrm", ...): begun with vsr_op_begin(), updated while
 * they run, ended with vsr_op_end(). The tracker keeps statistics per type
 * and per strategy, trends over the most recent operations, a bounded
 * history of records, the operations in flight, resource peaks from an
 * optional sampler thread, and optional quality measurements (PSNR/SSIM
 * against a reference video).
 *
 * A tracker is shared and reference-counted: vsr_tracker_open() gives the
 * caller one reference, vsr_tracker_ref() adds one, vsr_tracker_unref()
 * drops one. Sessions attached through vsr_session_settings.tracker and
 * operations in flight hold their own references, so the caller may drop
 * its reference at any time.
 *
 * Result structs (vsr_op_stats, vsr_op_trend, vsr_resource_stats,
 * vsr_quality_stats): the caller sets .size = sizeof(the struct); libvsr
 * writes at most .size bytes and sets .size to the number it filled. A size
 * below 4 (0 included) is refused with VSR_EINVAL and nothing is written; a
 * size larger than libvsr's struct gets libvsr's fields, the rest zeroed.
 *
 * Thread-safety: every function is safe to call from any thread, on the
 * same tracker at once. One vsr_op may be updated from several threads, but
 * vsr_op_end() must be its last use. Callbacks are called one at a time
 * per tracker (never concurrently), on the thread that recorded the
 * operation, and must not call back into the same tracker's
 * set_*_callback functions.
 */
#ifndef LIBVSR_TRACKER_H
#define LIBVSR_TRACKER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A tracker (opaque, reference-counted). */
typedef struct vsr_tracker vsr_tracker;

/** An operation in flight: begun by vsr_op_begin(), owned by the caller until vsr_op_end(). */
typedef struct vsr_op vsr_op;

/** @name Operation types of libvsr's own stages
 * Any other non-empty string is a type of the caller's. @{ */
#define VSR_OP_DECODE      "decode"      /**< demux + decode of frames */
#define VSR_OP_PREPROCESS  "preprocess"  /**< colour conversion into the model's layout */
#define VSR_OP_UPLOAD      "upload"      /**< host -> device copy (precision cast on CPU) */
#define VSR_OP_INFERENCE   "inference"   /**< the model's forward pass */
#define VSR_OP_DOWNLOAD    "download"    /**< device -> host copy (cast back to float) */
#define VSR_OP_POSTPROCESS "postprocess" /**< conversion to the encoder's pixel format */
#define VSR_OP_ENCODE      "encode"      /**< encode + mux */
#define VSR_OP_RUN         "run"         /**< a whole file, start to finish */
/** @} */

/** Longest type or strategy name accepted, in bytes (without the NUL). */
#define VSR_OP_NAME_MAX 255

/** Free-form key/value pair. */
typedef struct vsr_kv {
    const char *key;          /**< non-empty */
    const char *value;        /**< given to libvsr: NULL removes the key */
} vsr_kv;

/**
 * One operation. Records handed to a callback are valid during the call;
 * records from vsr_tracker_history_get() and vsr_tracker_in_flight() live
 * in one heap block with their strings, until vsr_free().
 *
 * Given to vsr_tracker_record(), the struct is read like a settings struct
 * (size from the caller's header; fields beyond it take their defaults:
 * quality NaN, peaks unknown, no meta).
 */
typedef struct vsr_op_record {
    uint32_t size;            /**< sizeof(vsr_op_record) of the writer */
    const char *type;         /**< VSR_OP_* or a caller's type name; never NULL in records the tracker hands out */
    const char *strategy;     /**< how it was done: the model's name for libvsr's stages; may be NULL */
    uint64_t id;              /**< unique in this tracker, never 0, increasing in the order operations began
                                   (or were recorded); set by the tracker, ignored on input */
    uint64_t run_id;          /**< groups the records of one libvsr run (0 = none) */
    int64_t start_ns;         /**< monotonic clock (CLOCK_MONOTONIC), ns */
    int64_t end_ns;           /**< 0 for an operation still in flight */
    int64_t duration_ns;      /**< end - start, or the busy time when a record sums several calls;
                                   for an operation in flight: the time since it began */
    int64_t frames;           /**< frames processed by this operation */
    int64_t chunks;           /**< chunks (forward passes over a group of frames) */
    int64_t tiles;            /**< tiles processed */
    int in_width;             /**< input frame width (0 = unknown) */
    int in_height;            /**< input frame height */
    int out_width;            /**< output frame width */
    int out_height;           /**< output frame height */
    int scale;                /**< scale factor (0 = unknown) */
    const char *precision;    /**< "fp32", "bf16", "fp16" for libvsr's stages */
    const char *device;       /**< "cpu", "cuda:0" for libvsr's stages */
    int success;              /**< 1 = succeeded; 0 = failed (or still in flight) */
    int error_code;           /**< error code when success == 0 (any non-zero value a caller chose) */
    const char *error_message;/**< what went wrong, or NULL */
    int n_meta;               /**< entries in meta */
    const vsr_kv *meta;       /**< the tracker's metadata (vsr_tracker_set_meta) plus the record's own */
    double quality;           /**< a quality score of the caller's (vsr_op_set_quality); NaN = none */
    int64_t peak_rss_bytes;   /**< peak resident memory of the process during the operation; -1 unknown */
    int64_t peak_device_bytes;/**< peak device memory in use during the operation; -1 unknown */
} vsr_op_record;

/** Progress of a run. */
typedef struct vsr_progress {
    uint32_t size;            /**< sizeof(vsr_progress) of the writer */
    uint64_t run_id;          /**< the run (as in its records) */
    int64_t frames_done;      /**< frames written to the output so far */
    int64_t frames_total;     /**< estimate from the container, -1 if unknown */
    double elapsed_s;         /**< since the run began */
    double fps;               /**< frames_done / elapsed */
    double eta_s;             /**< -1 when frames_total is unknown */
} vsr_progress;

/** Called after each operation is recorded. Return non-zero to cancel the
 *  run it belongs to: a libvsr run stops cleanly and the output is
 *  finalised, playable up to the last frame written. */
typedef int (*vsr_event_callback)(void *user, const vsr_op_record *rec);
/** Called with the progress of a run; return non-zero to cancel it. */
typedef int (*vsr_progress_callback)(void *user, const vsr_progress *p);

/** How often libvsr's stages are recorded. */
typedef enum vsr_granularity {
    VSR_GRANULARITY_OPERATION = 0, /**< every operation (per frame for decode/encode, per forward pass for inference) */
    VSR_GRANULARITY_CHUNK = 1,     /**< one record per stage per chunk of frames */
    VSR_GRANULARITY_RUN = 2,       /**< only the whole-run records */
} vsr_granularity;

/** Settings of a tracker (vsr_tracker_settings_default() first). */
typedef struct vsr_tracker_settings {
    uint32_t size;            /**< set by vsr_tracker_settings_default() */
    int history_length;       /**< records kept, oldest dropped first; default 4096 */
    vsr_granularity granularity; /**< default VSR_GRANULARITY_OPERATION */
    int sampler_interval_ms;  /**< resource sampler period; 0 = no sampler thread; default 100 */
} vsr_tracker_settings;

/** Fill s with the defaults and set s->size. Does nothing when s is NULL. */
VSR_API void vsr_tracker_settings_default(vsr_tracker_settings *s);

/**
 * Open a tracker; the caller holds one reference.
 * @param out receives the tracker (NULL on failure)
 * @param s settings, or NULL for the defaults
 * @return 0; VSR_EINVAL for a NULL out, a settings size below 4 or larger
 *         than libvsr's struct, or an invalid setting (named in
 *         vsr_last_error()); VSR_ENOMEM; a negative errno code when the
 *         sampler thread cannot start.
 */
VSR_API int vsr_tracker_open(vsr_tracker **out, const vsr_tracker_settings *s);
/** Add a reference. @return t (NULL when t is NULL). */
VSR_API vsr_tracker *vsr_tracker_ref(vsr_tracker *t);
/** Drop a reference and set *t to NULL; the last one frees the tracker.
 *  Accepts NULL and &NULL. */
VSR_API void vsr_tracker_unref(vsr_tracker **t);

/** Set (or with cb NULL remove) the event callback. When this returns, the
 *  old callback is not running and will not be called again.
 *  @return 0; VSR_EINVAL when t is NULL. */
VSR_API int vsr_tracker_set_event_callback(vsr_tracker *t, vsr_event_callback cb, void *user);
/** Set (or with cb NULL remove) the progress callback.
 *  @return 0; VSR_EINVAL when t is NULL. */
VSR_API int vsr_tracker_set_progress_callback(vsr_tracker *t, vsr_progress_callback cb, void *user);

/** Metadata attached to every record made after the call (value NULL removes the key).
 *  @return 0; VSR_EINVAL for a NULL tracker or an empty key; VSR_ENOMEM. */
VSR_API int vsr_tracker_set_meta(vsr_tracker *t, const char *key, const char *value);

/**
 * Record a finished operation (libvsr's stages do; callers may too, for
 * operations they timed themselves). The record is copied. id is assigned
 * by the tracker; peaks of 0 or below are stored as unknown (-1).
 * @return 0; VSR_ERROR_CANCELLED when the event callback asked to cancel
 *         (the record is kept); VSR_EINVAL for a NULL argument, a size
 *         below 4 or larger than libvsr's struct, a missing or empty type,
 *         a name longer than VSR_OP_NAME_MAX, a negative duration or
 *         n_meta without meta; VSR_ERROR_LIMIT when the tracker already
 *         knows 4096 types or strategies and this one is new; VSR_ENOMEM.
 */
VSR_API int vsr_tracker_record(vsr_tracker *t, const vsr_op_record *rec);

/** Report progress (called by the pipeline).
 *  @return 0; VSR_ERROR_CANCELLED when the progress callback asked to
 *          cancel; VSR_EINVAL for a NULL argument or a size below 4 or
 *          larger than libvsr's struct. */
VSR_API int vsr_tracker_progress(vsr_tracker *t, const vsr_progress *p);

/* ------------------------------------------------------------ caller operations */

/**
 * Begin an operation of the caller's: the clock starts now, and the
 * operation is listed by vsr_tracker_in_flight() until vsr_op_end(). Peak
 * memory during the operation is measured from a reading at begin and end
 * (the kernel's RSS high-water mark and the device allocator's peak, so a
 * new high in between is seen) and from every sampler reading in between.
 * The operation holds a reference to the tracker.
 * @param t the tracker
 * @param type the operation's type: VSR_OP_* or a name of the caller's (required)
 * @param strategy how it is done (a model, an algorithm); may be NULL
 * @param out receives the operation
 * @return 0; VSR_EINVAL for a NULL tracker or out, a missing or empty
 *         type, or a name longer than VSR_OP_NAME_MAX; VSR_ENOMEM.
 */
VSR_API int vsr_op_begin(vsr_tracker *t, const char *type, const char *strategy, vsr_op **out);
/** Frames processed so far. @return 0; VSR_EINVAL for a NULL op or frames < 0. */
VSR_API int vsr_op_set_frames(vsr_op *op, int64_t frames);
/** Input and output size; the scale is derived when the output is a whole
 *  multiple of the input in both directions (else it is left as it was).
 *  @return 0; VSR_EINVAL for a NULL op or a negative size. */
VSR_API int vsr_op_set_resolution(vsr_op *op, int in_w, int in_h, int out_w, int out_h);
/** The scale factor. @return 0; VSR_EINVAL for a NULL op or scale < 0. */
VSR_API int vsr_op_set_scale(vsr_op *op, int scale);
/** A quality score of the caller's (NaN clears it). @return 0; VSR_EINVAL for a NULL op. */
VSR_API int vsr_op_set_quality(vsr_op *op, double score);
/** Metadata of this operation (value NULL removes the key); it wins over the tracker's.
 *  @return 0; VSR_EINVAL for a NULL op or an empty key; VSR_ENOMEM. */
VSR_API int vsr_op_set_meta(vsr_op *op, const char *key, const char *value);
/**
 * End an operation: it is recorded (statistics, history, event callback),
 * freed, and *op set to NULL. Accepts NULL and &NULL (returns VSR_EINVAL).
 * @param op the operation (from vsr_op_begin())
 * @param error_code 0 = success, any other value = failure with this code
 * @param message what went wrong (copied), or NULL
 * @return 0; VSR_ERROR_CANCELLED when the event callback asked to cancel;
 *         VSR_EINVAL for a NULL op; VSR_ERROR_LIMIT or VSR_ENOMEM when the
 *         record could not be kept (the operation is ended all the same).
 */
VSR_API int vsr_op_end(vsr_op **op, int error_code, const char *message);

/**
 * The operations in flight, oldest first, as records (end_ns 0, duration
 * so far, success 0): an array of `count` pointers to records, all in one
 * heap block freed with vsr_free(records). (Pointers, not an array of
 * structs, so a record that grows in a later version moves nothing.)
 * @param t the tracker
 * @param records receives the array of pointers (NULL when there is none)
 * @param count receives the number of records
 * @return 0; VSR_EINVAL for a NULL argument; VSR_ENOMEM.
 */
VSR_API int vsr_tracker_in_flight(vsr_tracker *t, vsr_op_record ***records, int *count);

/* ------------------------------------------------------------ statistics */

/** Statistics over the records of one type and/or strategy. */
typedef struct vsr_op_stats {
    uint32_t size;            /**< set by the caller: sizeof(vsr_op_stats) */
    int64_t count;            /**< records */
    int64_t successes;        /**< records that succeeded */
    int64_t failures;         /**< records that failed */
    double mean_ms;           /**< mean duration */
    double min_ms;            /**< shortest duration */
    double max_ms;            /**< longest duration */
    double p50_ms;            /**< median duration: exact up to 8192 records per key, then estimated from a uniform sample */
    double p95_ms;            /**< 95th percentile of the durations, likewise */
    double total_ms;          /**< sum of the durations (busy time) */
    int64_t frames;           /**< sum of the records' frames */
    double fps;               /**< frames / total busy time (0 if none) */
    double success_rate;      /**< successes / count; NaN when count is 0 */
    int64_t peak_rss_bytes;   /**< highest peak over the records that carry one; -1 if none does */
    int64_t peak_device_bytes;/**< likewise for device memory; -1 if none does */
} vsr_op_stats;

/**
 * Statistics of the records of one type and one strategy; NULL for either
 * means all (NULL and NULL: every record). A name without records gives
 * count 0 (not an error). Statistics cover every record since the tracker
 * was opened or reset (failed ones too), not only the history kept.
 * @return 0; VSR_EINVAL for a NULL t or out, or out->size below 4.
 */
VSR_API int vsr_tracker_get_stats(vsr_tracker *t, const char *type, const char *strategy,
                                  vsr_op_stats *out);

/** Largest window vsr_tracker_get_trend() accepts. */
#define VSR_TRACKER_TREND_MAX_WINDOW 1024

/** The last `window` operations of a key against the `window` before them. */
typedef struct vsr_op_trend {
    uint32_t size;            /**< set by the caller: sizeof(vsr_op_trend) */
    int window;               /**< the window asked for */
    int64_t recent_count;     /**< operations in the recent window (fewer when there were fewer) */
    int64_t previous_count;   /**< operations in the window before it */
    double recent_mean_ms;    /**< NaN when recent_count is 0 */
    double previous_mean_ms;  /**< NaN when previous_count is 0 */
    double duration_ratio;    /**< recent_mean_ms / previous_mean_ms (> 1: slower now); NaN when undefined */
    double recent_success_rate;   /**< NaN when recent_count is 0 */
    double previous_success_rate; /**< NaN when previous_count is 0 */
} vsr_op_trend;

/**
 * Trend of one type and one strategy (NULL = all), in the order operations
 * ended: the last `window` against the `window` before.
 * @return 0; VSR_EINVAL for a NULL t or out, out->size below 4, or a
 *         window outside 1..VSR_TRACKER_TREND_MAX_WINDOW.
 */
VSR_API int vsr_tracker_get_trend(vsr_tracker *t, const char *type, const char *strategy, int window,
                                  vsr_op_trend *out);

/** What vsr_tracker_list() lists. */
enum vsr_list_what {
    VSR_LIST_TYPES = 1,       /**< operation types with records */
    VSR_LIST_STRATEGIES = 2,  /**< strategies with records ("" for records without one) */
};

/**
 * The names with at least one record since the tracker was opened or
 * reset, sorted (strcmp), as an array of count strings followed by NULL,
 * in one heap block freed with vsr_free().
 * @param t the tracker
 * @param what VSR_LIST_TYPES or VSR_LIST_STRATEGIES
 * @param names receives the array of names
 * @param count receives the number of names
 * @return 0; VSR_EINVAL for a NULL argument or an unknown what; VSR_ENOMEM.
 */
VSR_API int vsr_tracker_list(vsr_tracker *t, int what, char ***names, int *count);

/** @return the number of records in the history (0 when t is NULL). */
VSR_API int vsr_tracker_history_count(vsr_tracker *t);
/**
 * A copy of history record i (0 = oldest) in one heap block with its
 * strings, freed with vsr_free(). The tracker keeps nothing for the caller.
 * @return 0; VSR_EINVAL for a NULL argument or an index outside the
 *         history; VSR_ENOMEM.
 */
VSR_API int vsr_tracker_history_get(vsr_tracker *t, int i, vsr_op_record **out);

/* ------------------------------------------------------------ resources, quality */

/** Resource peaks seen by the sampler (and by the device shim). */
typedef struct vsr_resource_stats {
    uint32_t size;            /**< set by the caller: sizeof(vsr_resource_stats) */
    int64_t peak_rss_bytes;   /**< peak resident memory of the process (sampler and kernel high-water mark) */
    int64_t current_rss_bytes;/**< resident memory at the last reading */
    double cpu_percent_mean;  /**< process CPU time / wall time * 100 (may exceed 100 on several cores) */
    double cpu_percent_peak;  /**< highest over one sampler interval */
    int64_t peak_device_bytes;   /**< -1 when there is no GPU */
    int64_t device_total_bytes;  /**< -1 when there is no GPU */
    double gpu_util_percent_peak;/**< -1 when NVML is not available */
    int64_t samples;          /**< sampler readings taken */
    int max_frames_in_flight; /**< high-water mark of frames between decode and encode */
    int queue_depth;          /**< the configured bound of each pipeline queue */
} vsr_resource_stats;

/** Resource peaks since the tracker was opened or reset.
 *  @return 0; VSR_EINVAL for a NULL t or out, or out->size below 4. */
VSR_API int vsr_tracker_get_resources(vsr_tracker *t, vsr_resource_stats *out);

/** Quality against a reference: one entry per frame (NaN = not measured).
 *  @return 0; VSR_EINVAL when t is NULL; VSR_ENOMEM. */
VSR_API int vsr_tracker_record_quality(vsr_tracker *t, int64_t frame_index, double psnr_db, double ssim);
/** PSNR/SSIM over the frames recorded with vsr_tracker_record_quality(). */
typedef struct vsr_quality_stats {
    uint32_t size;            /**< set by the caller: sizeof(vsr_quality_stats) */
    int64_t frames;           /**< frames recorded */
    double psnr_mean;         /**< dB, capped at 100 for identical frames; NaN when none was measured */
    double psnr_min;          /**< dB; NaN when none was measured */
    double ssim_mean;         /**< NaN when none was measured */
    double ssim_min;          /**< NaN when none was measured */
} vsr_quality_stats;
/** @return 0; VSR_EINVAL for a NULL t or out, or out->size below 4. */
VSR_API int vsr_tracker_get_quality(vsr_tracker *t, vsr_quality_stats *out);

/** Clear statistics, trends, history, peaks and quality (callbacks,
 *  metadata and operations in flight stay). Does nothing when t is NULL. */
VSR_API void vsr_tracker_reset(vsr_tracker *t);

/* ------------------------------------------------------------ exports */

/** Export formats. */
typedef enum vsr_export_format {
    VSR_EXPORT_JSON = 0,       /**< statistics and trends per type, per strategy and per both; resources, quality, operations in flight, history */
    VSR_EXPORT_CSV = 1,        /**< history: a header line, then one row per operation */
    VSR_EXPORT_PROMETHEUS = 2, /**< statistics in Prometheus' text exposition format, labelled by type and strategy */
} vsr_export_format;

/** Export to a file (written whole, then renamed into place).
 *  @return 0; VSR_EINVAL for a NULL tracker, no path or an unknown format;
 *          VSR_ENOMEM; a negative errno code when the file cannot be
 *          written (the path is named in vsr_last_error()). */
VSR_API int vsr_tracker_export(vsr_tracker *t, vsr_export_format fmt, const char *path);
/** Export to a NUL-terminated string the caller frees with vsr_free().
 *  @return 0; VSR_EINVAL for a NULL argument or an unknown format; VSR_ENOMEM. */
VSR_API int vsr_tracker_export_string(vsr_tracker *t, vsr_export_format fmt, char **out);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_TRACKER_H */
