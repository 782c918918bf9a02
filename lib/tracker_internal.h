/*
 * The tracker's interface to the rest of libvsr (not installed).
 *
 * Locking rules (see tracker.c): a tracker has a data mutex (statistics,
 * history, resources, quality), a callback mutex that serialises the event
 * and progress callbacks, and a probe mutex held while device probes run.
 * No two are ever held together, and callbacks run without the data mutex,
 * so a callback may call any tracker function except set_*_callback.
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

/* ---- A consistent copy of everything, taken under one lock (export.c). */

typedef struct vsri_strategy_stats {
    char *name;
    vsr_op_stats by_type[VSR_OP_COUNT]; /* count 0 for types without records */
} vsri_strategy_stats;

typedef struct vsri_quality_frame {
    int64_t frame_index;
    double psnr_db; /* capped at VSRI_PSNR_CAP_DB (quality.h); NaN = not measured */
    double ssim;    /* NaN = not measured */
} vsri_quality_frame;

typedef struct vsri_tracker_snapshot {
    vsr_op_stats overall[VSR_OP_COUNT];
    int n_strategies;
    vsri_strategy_stats *strategies;  /* sorted by name */
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
