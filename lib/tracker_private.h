/*
 * What the tracker's own files share (tracker*.c; nothing else includes
 * this): the struct behind vsr_tracker and the helpers each file offers
 * the others.
 *
 *   tracker.c           lifetime, callbacks, metadata, recording, history, reset
 *   tracker_record.c    record blocks: deep copies of a record and its strings
 *   tracker_stats.c     statistics, percentiles and trends per type/strategy
 *   tracker_ops.c       caller operations (vsr_op_*) and the in-flight list
 *   tracker_sampler.c   resource readings, the sampler thread, device probes
 *   tracker_quality.c   PSNR/SSIM per frame
 *   tracker_snapshot.c  a consistent copy of everything for the exports
 *
 * Locking: `lock` guards all data; `cb_lock` (recursive, so a callback may
 * record) serialises the event and progress callbacks; `probe_lock` is
 * held while device probes run; `sampler_lock` pairs with the sampler's
 * condition variable. Never two at once: callbacks run after the data
 * mutex is released, and probes run before it is taken.
 */
#ifndef LIBVSR_TRACKER_PRIVATE_H
#define LIBVSR_TRACKER_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "tracker_internal.h"

/* ---------------------------------------------------------------- key/value lists */

/* An ordered list of owned key/value strings (the tracker's metadata, an
 * operation's metadata). */
typedef struct vsri_kvlist {
    char **keys, **values;
    int n, cap;
} vsri_kvlist;

/* Set key to a copy of value (NULL removes it; the order of the others stays). */
int vsri_kvlist_set(vsri_kvlist *l, const char *key, const char *value);
void vsri_kvlist_free(vsri_kvlist *l);

/* ---------------------------------------------------------------- record blocks */

/* One record with its meta array and strings in a single allocation,
 * reference-counted: shared by the history ring, a callback in progress
 * and snapshots. */
typedef struct vsri_rec_block {
    atomic_int refs;
    vsr_op_record rec;
    /* followed by the meta array and the strings */
} vsri_rec_block;

vsri_rec_block *vsri_rec_block_ref(vsri_rec_block *b);
void vsri_rec_block_unref(vsri_rec_block *b);

/* A block holding a deep copy of r with `base` metadata merged in first
 * (r's own keys win; a NULL value in r removes a base key). NULL when out
 * of memory. */
vsri_rec_block *vsri_rec_block_pack(const vsr_op_record *r, const vsri_kvlist *base);

/* Bytes that vsri_record_copy_into() needs for the meta array and the
 * strings of r (beyond the record itself). */
size_t vsri_record_extra_size(const vsr_op_record *r);

/* Copy r into *dst with its meta array at *meta_cursor and its strings at
 * *str_cursor, advancing both (for blocks of several records). */
void vsri_record_copy_into(vsr_op_record *dst, const vsr_op_record *r, vsr_kv **meta_cursor,
                           char **str_cursor);

/* One heap block (freed with free()) holding a deep copy of n records. */
vsr_op_record *vsri_records_copy(const vsr_op_record *const *recs, int n);
/* The same, led by an array of n pointers to the records (one block). */
vsr_op_record **vsri_records_copy_indexed(const vsr_op_record *const *recs, int n);

/* Check a name (type or strategy) given by a caller: `what` names it in the error. */
int vsri_check_op_name(const char *name, int required, const char *what, const char *fn);

/* ---------------------------------------------------------------- statistics */

typedef struct vsri_trend_entry {
    int64_t duration_ns;
    int success;
} vsri_trend_entry;

/* Everything known about the records of one key. */
typedef struct vsri_stat_bucket {
    int64_t count, successes, failures, frames;
    int64_t total_ns, min_ns, max_ns;
    int64_t peak_rss, peak_device;   /* -1 until a record carries one */
    int64_t *samples;                /* durations, ns: the reservoir */
    int n_samples, cap_samples;
    int sorted;
    vsri_trend_entry *recent;        /* the last outcomes, oldest at recent_first */
    int recent_first, recent_count, recent_cap;
} vsri_stat_bucket;

/* Names (types or strategies) with a bucket each, found by hash. */
typedef struct vsri_name_table {
    char **names;
    vsri_stat_bucket *buckets;
    int n, cap;
    int *slots;                      /* open addressing: index into names, -1 = empty */
    int n_slots;
} vsri_name_table;

/* (type, strategy) buckets, found by hash of the two indexes. */
typedef struct vsri_pair {
    int type, strategy;
    vsri_stat_bucket b;
} vsri_pair;

typedef struct vsri_stats {
    vsri_name_table types, strategies;
    vsri_pair *pairs;
    int n_pairs, cap_pairs;
    int *pair_slots;
    int n_pair_slots;
    vsri_stat_bucket all;
    uint64_t rng;                    /* reservoir sampling; fixed seed */
} vsri_stats;

void vsri_stats_init(vsri_stats *s);
void vsri_stats_free(vsri_stats *s);
/* Count a finished record in every key it belongs to. Nothing is counted
 * when it fails (VSR_ERROR_LIMIT, VSR_ENOMEM). */
int vsri_stats_add(vsri_stats *s, const vsr_op_record *r);
/* The bucket of (type, strategy), NULL = any; NULL when it has no records. */
vsri_stat_bucket *vsri_stats_find(vsri_stats *s, const char *type, const char *strategy);
/* Statistics and trend of a bucket (NULL: the empty statistics). Sorts the reservoir. */
void vsri_bucket_stats(vsri_stat_bucket *b, vsr_op_stats *out);
void vsri_bucket_trend(const vsri_stat_bucket *b, int window, vsr_op_trend *out);

/* ---------------------------------------------------------------- resources */

typedef struct vsri_reading {
    int64_t rss, hwm, cpu_ns, wall_ns;
    int have_device;
    int64_t device_used;   /* highest `used` over the probes */
    int64_t device_peak;   /* highest allocator peak (or used) over the probes */
    int64_t device_total;
    double gpu_util;
} vsri_reading;

typedef struct vsri_probe_entry {
    vsri_device_probe fn;
    void *ctx;
} vsri_probe_entry;

/* Read RSS, CPU and the device probes (takes probe_lock; not t->lock). */
void vsri_tracker_read(vsr_tracker *t, vsri_reading *r);
/* Fold a reading into the resource statistics and the operations in
 * flight (t->lock held). A sampler tick also measures CPU use over the
 * interval since the previous one. */
void vsri_tracker_apply_reading(vsr_tracker *t, const vsri_reading *r, int tick);
/* Without a sampler thread, readers take one reading on demand. */
void vsri_tracker_on_demand_reading(vsr_tracker *t);
/* Forget the peaks (t->lock held) / take one reading (t->lock not held). */
void vsri_tracker_reset_resources(vsr_tracker *t);
void vsri_tracker_initial_reading(vsr_tracker *t);
void vsri_tracker_resources_locked(vsr_tracker *t, vsr_resource_stats *out);
int vsri_tracker_start_sampler(vsr_tracker *t);
void vsri_tracker_stop_sampler(vsr_tracker *t);

/* ---------------------------------------------------------------- quality */

void vsri_tracker_quality_locked(vsr_tracker *t, vsr_quality_stats *out);
void vsri_tracker_clear_quality(vsr_tracker *t); /* t->lock held */

/* ---------------------------------------------------------------- operations in flight */

struct vsr_op {
    vsr_tracker *t;            /* a reference */
    vsr_op *prev, *next;       /* t's in-flight list, oldest first (t->lock) */
    vsr_op_record rec;         /* fields set so far; strings below */
    char *type, *strategy;
    vsri_kvlist meta;
    int64_t hwm_begin;         /* kernel's RSS high-water mark at begin */
    int64_t device_peak_begin; /* device allocator's peak at begin (-1 none) */
};

/* The record of an operation in flight as of now (t->lock held): strings
 * point into op; meta is filled into *meta_buf (the caller frees it). */
int vsri_op_snapshot(const vsr_op *op, int64_t now, vsr_op_record *out, vsr_kv **meta_buf);
/* The operations in flight as records in one heap block (t->lock held). */
int vsri_ops_copy_locked(vsr_tracker *t, vsr_op_record **out, int *count);
/* Fold a reading into every operation in flight (t->lock held). */
void vsri_ops_apply_reading(vsr_tracker *t, const vsri_reading *r);

/* ---------------------------------------------------------------- the tracker */

struct vsr_tracker {
    atomic_int refs;
    vsr_tracker_settings settings;

    pthread_mutex_t lock;
    uint64_t next_run_id;
    uint64_t next_op_id;

    vsri_kvlist meta;          /* added to every record */

    /* history ring: `ring_count` blocks from ring[ring_first] on */
    vsri_rec_block **ring;
    int ring_first, ring_count;

    vsri_stats stats;

    vsr_op *ops_first, *ops_last; /* in flight, oldest first */
    int n_ops;

    struct {
        int64_t peak_rss, current_rss;
        int64_t baseline_hwm; /* VmHWM at creation/reset */
        int64_t cpu_start_ns, wall_start_ns, last_cpu_ns, last_wall_ns;
        double cpu_mean, cpu_peak;
        int64_t samples;
        int64_t peak_device, device_total;
        double gpu_util_peak;
        int max_inflight, queue_depth;
    } res;

    struct {
        int64_t frames, psnr_n, ssim_n;
        double psnr_sum, psnr_min, ssim_sum, ssim_min;
        vsri_quality_frame *list;
        int64_t n_list, cap_list;
        int truncated;
    } quality;

    pthread_mutex_t cb_lock;
    vsr_event_callback event_cb;
    void *event_user;
    vsr_progress_callback progress_cb;
    void *progress_user;
    atomic_int has_event_cb; /* lets record() skip cb_lock when unset */

    pthread_mutex_t probe_lock;
    vsri_probe_entry *probes;
    int n_probes, cap_probes;

    pthread_mutex_t sampler_lock;
    pthread_cond_t sampler_cond;
    pthread_t sampler;
    int sampler_started;
    int sampler_stop;
};

/* Record a finished operation whose record was checked: the common end
 * of vsr_tracker_record() and vsr_op_end(), in two steps. With t->lock
 * held: count it, keep it in the history (id 0: assign one) and return
 * its block in *out; errors name `fn`. Then, with the lock released:
 * deliver the block to the event callback and drop it (returns
 * VSR_ERROR_CANCELLED when the callback asks to cancel). */
int vsri_tracker_commit_locked(vsr_tracker *t, const vsr_op_record *r, const char *fn, vsri_rec_block **out);
int vsri_tracker_deliver(vsr_tracker *t, vsri_rec_block *b);

#endif /* LIBVSR_TRACKER_PRIVATE_H */
