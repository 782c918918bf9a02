/*
 * The tracker's interface to the rest of libvsr (not installed).
 *
 * Locking rules (see tracker_private.h): a tracker has a data mutex
 * (statistics, history, operations in flight, resources, quality), a
 * callback mutex that serialises the event and progress callbacks, and a
 * probe mutex held while device probes run. No two are ever held together,
 * and callbacks run without the data mutex, so a callback may call any
 * tracker function except set_*_callback.
 * Callbacks run on the thread that called vsr_tracker_record() or
 * vsr_tracker_progress() (for libvsr's own records: the pipeline's workers).
 */
#ifndef LIBVSR_TRACKER_INTERNAL_H
#define LIBVSR_TRACKER_INTERNAL_H

#include <stdint.h>

#include "internal.h"
#include "libvsr/tracker.h"

/* A new run id, unique for this tracker (never 0; not reset by reset). */
uint64_t vsri_tracker_new_run_id(vsr_tracker *t);

/* Frames between decode and encode right now; keeps the high-water mark
 * (vsr_resource_stats.max_frames_in_flight). */
void vsri_tracker_note_inflight(vsr_tracker *t, int frames_in_flight);

/* The configured bound of each pipeline queue (vsr_resource_stats.queue_depth). */
void vsri_tracker_set_queue_depth(vsr_tracker *t, int depth);

/*
 * A device memory probe, called by the sampler thread each interval (or by
 * vsr_tracker_get_resources() when there is no sampler). It sets what it
 * knows and leaves the rest at -1 (they are -1 on entry): used and total
 * device bytes, the allocator's peak since the start (or -1, then the
 * tracker keeps the maximum of `used`), GPU utilisation in percent.
 * Returns 0, or a negative code to skip this sample.
 */
typedef int (*vsri_device_probe)(void *ctx, int64_t *used_bytes, int64_t *total_bytes,
                                 int64_t *peak_bytes, double *gpu_util_percent);

/*
 * Register probe with ctx (replacing the probe registered with the same
 * ctx), or with probe NULL remove the one registered with ctx. Several
 * sessions may each register one; the tracker keeps the largest value of
 * each quantity over all probes. When this returns, a removed probe is no
 * longer running, so ctx may be freed. A probe must not call this.
 */
void vsri_tracker_set_device_probe(vsr_tracker *t, vsri_device_probe probe, void *ctx);

/* How often the pipeline should record (settings.granularity): the tracker
 * itself records every record it is given. */
vsr_granularity vsri_tracker_granularity(vsr_tracker *t);

/* ---- libvsr's own stage records, built in one place (stage_record.c). */

/* The record of one of libvsr's stages (the session's forward passes, the
 * pipeline's stages and runs): strategy, precision, device and scale from
 * the model, output size = input size x scale, success = error_code == 0,
 * no quality, peaks unknown. The strings point into m and error_message. */
void vsri_stage_record(vsr_op_record *r, const vsr_model *m, const char *type, uint64_t run_id,
                       int64_t start_ns, int64_t duration_ns, int64_t frames, int in_width, int in_height,
                       int error_code, const char *error_message);

/* End an operation begun with vsr_op_begin() with every field taken from
 * r (type, strategy, times, sizes, result, ...) except the id and the
 * memory peaks, which the operation measured. *op is set to NULL. Returns
 * what vsr_op_end() returns. */
int vsri_op_end_record(vsr_op **op, const vsr_op_record *r);

/* ---- A consistent copy of everything, taken under one lock (export.c). */

typedef struct vsri_quality_frame {
    int64_t frame_index;
    double psnr_db; /* capped at VSRI_PSNR_CAP_DB (quality.h); NaN = not measured */
    double ssim;    /* NaN = not measured */
} vsri_quality_frame;

/* Statistics and trend of one key: a type, a strategy, or both (NULL = any). */
typedef struct vsri_key_stats {
    char *type;
    char *strategy;
    vsr_op_stats stats;
    vsr_op_trend trend;
} vsri_key_stats;

/* Trend window of the exports: the last 100 operations of each key
 * against the 100 before. */
#define VSRI_EXPORT_TREND_WINDOW 100

typedef struct vsri_tracker_snapshot {
    int n_types;
    vsri_key_stats *types;            /* per type (strategy NULL), sorted by name */
    int n_strategies;
    vsri_key_stats *strategies;       /* per strategy (type NULL), sorted by name */
    int n_pairs;
    vsri_key_stats *pairs;            /* per (type, strategy), sorted by type, then strategy */
    int n_in_flight;
    vsr_op_record *in_flight;         /* oldest first; one block with its strings */
    int n_history;
    vsr_op_record *history;           /* oldest first; strings owned by the snapshot */
    vsr_resource_stats resources;
    vsr_quality_stats quality;
    int64_t n_quality_frames;
    vsri_quality_frame *quality_frames;
    int quality_frames_truncated;     /* 1 when more frames were measured than kept */
    void *priv;
} vsri_tracker_snapshot;

int vsri_tracker_snapshot_take(vsr_tracker *t, vsri_tracker_snapshot **out);
void vsri_tracker_snapshot_free(vsri_tracker_snapshot **s);

#endif /* LIBVSR_TRACKER_INTERNAL_H */
