/*
 * vsr_tracker: lifetime, callbacks, metadata, recording and the history.
 * Statistics, caller operations, resources, quality and snapshots live in
 * the other tracker_*.c files (see tracker_private.h, also for locking).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_private.h"

#define DEFAULT_HISTORY 4096
#define DEFAULT_SAMPLER_MS 100

/* ---------------------------------------------------------------- lifetime */

void vsr_tracker_settings_default(vsr_tracker_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->history_length = DEFAULT_HISTORY;
    s->granularity = VSR_GRANULARITY_OPERATION;
    s->sampler_interval_ms = DEFAULT_SAMPLER_MS;
}

static void clear_history(vsr_tracker *t)
{
    int cap = t->settings.history_length;
    for (int i = 0; i < t->ring_count; i++)
        vsri_rec_block_unref(t->ring[(t->ring_first + i) % cap]);
    t->ring_first = t->ring_count = 0;
}

static void tracker_free(vsr_tracker *t)
{
    vsri_tracker_stop_sampler(t);
    clear_history(t);
    free(t->ring);
    vsri_stats_free(&t->stats);
    vsri_tracker_clear_quality(t);
    vsri_kvlist_free(&t->meta);
    free(t->probes);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->cb_lock);
    pthread_mutex_destroy(&t->probe_lock);
    pthread_mutex_destroy(&t->sampler_lock);
    free(t);
}

int vsr_tracker_open(vsr_tracker **out, const vsr_tracker_settings *s)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_open: out is NULL");
    *out = NULL;
    vsr_tracker_settings settings;
    vsr_tracker_settings_default(&settings);
    if (s) {
        int err = vsri_settings_in(&settings, s, sizeof(settings), "vsr_tracker_open: vsr_tracker_settings");
        if (err < 0)
            return err;
    }
    if (settings.history_length < 0)
        return vsri_error(VSR_EINVAL, "tracker: history_length %d is negative",
                          settings.history_length);
    if ((int)settings.granularity < VSR_GRANULARITY_OPERATION ||
        settings.granularity > VSR_GRANULARITY_RUN)
        return vsri_error(VSR_EINVAL, "tracker: unknown granularity %d", (int)settings.granularity);
    if (settings.sampler_interval_ms < 0)
        return vsri_error(VSR_EINVAL, "tracker: sampler_interval_ms %d is negative",
                          settings.sampler_interval_ms);

    vsr_tracker *t = calloc(1, sizeof(*t));
    if (!t)
        return vsri_error(VSR_ENOMEM, "tracker: out of memory");
    t->settings = settings;
    atomic_init(&t->refs, 1);
    atomic_init(&t->has_event_cb, 0);
    t->next_run_id = 1;
    t->next_op_id = 1;
    vsri_stats_init(&t->stats);
    if (settings.history_length > 0) {
        t->ring = calloc((size_t)settings.history_length, sizeof(*t->ring));
        if (!t->ring) {
            free(t);
            return vsri_error(VSR_ENOMEM, "tracker: out of memory for a history of %d records",
                              settings.history_length);
        }
    }
    pthread_mutexattr_t rec_attr;
    pthread_mutexattr_init(&rec_attr);
    pthread_mutexattr_settype(&rec_attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->cb_lock, &rec_attr);
    pthread_mutex_init(&t->probe_lock, NULL);
    pthread_mutex_init(&t->sampler_lock, NULL);
    pthread_mutexattr_destroy(&rec_attr);
    t->quality.psnr_min = t->quality.ssim_min = NAN;
    vsri_tracker_reset_resources(t);
    vsri_tracker_initial_reading(t);

    if (settings.sampler_interval_ms > 0) {
        int err = vsri_tracker_start_sampler(t);
        if (err < 0) {
            tracker_free(t);
            return err;
        }
    }
    *out = t;
    return 0;
}

vsr_tracker *vsr_tracker_ref(vsr_tracker *t)
{
    if (t)
        atomic_fetch_add(&t->refs, 1);
    return t;
}

void vsr_tracker_unref(vsr_tracker **pt)
{
    if (!pt || !*pt)
        return;
    vsr_tracker *t = *pt;
    *pt = NULL;
    if (atomic_fetch_sub(&t->refs, 1) == 1)
        tracker_free(t);
}

/* ---------------------------------------------------------------- callbacks, meta */

int vsr_tracker_set_event_callback(vsr_tracker *t, vsr_event_callback cb, void *user)
{
    if (!t)
        return vsri_error(VSR_EINVAL, "vsr_tracker_set_event_callback: tracker is NULL");
    /* Taking cb_lock waits for a callback in progress: once this returns,
     * the old callback is not running and will not be called again. */
    pthread_mutex_lock(&t->cb_lock);
    t->event_cb = cb;
    t->event_user = user;
    atomic_store(&t->has_event_cb, cb != NULL);
    pthread_mutex_unlock(&t->cb_lock);
    return 0;
}

int vsr_tracker_set_progress_callback(vsr_tracker *t, vsr_progress_callback cb, void *user)
{
    if (!t)
        return vsri_error(VSR_EINVAL, "vsr_tracker_set_progress_callback: tracker is NULL");
    pthread_mutex_lock(&t->cb_lock);
    t->progress_cb = cb;
    t->progress_user = user;
    pthread_mutex_unlock(&t->cb_lock);
    return 0;
}

int vsr_tracker_set_meta(vsr_tracker *t, const char *key, const char *value)
{
    if (!t)
        return vsri_error(VSR_EINVAL, "vsr_tracker_set_meta: tracker is NULL");
    if (!key || !*key)
        return vsri_error(VSR_EINVAL, "vsr_tracker_set_meta: the key is empty");
    pthread_mutex_lock(&t->lock);
    int err = vsri_kvlist_set(&t->meta, key, value);
    pthread_mutex_unlock(&t->lock);
    if (err < 0)
        return vsri_error(err, "tracker: out of memory for metadata '%.60s'", key);
    return 0;
}

/* ---------------------------------------------------------------- recording */

int vsri_tracker_commit_locked(vsr_tracker *t, const vsr_op_record *r, const char *fn, vsri_rec_block **out)
{
    *out = NULL;
    vsri_rec_block *b = vsri_rec_block_pack(r, &t->meta);
    if (!b)
        return vsri_error(VSR_ENOMEM, "%s: out of memory recording a '%.60s' operation", fn, r->type);
    if (b->rec.id == 0)
        b->rec.id = t->next_op_id++;
    int err = vsri_stats_add(&t->stats, &b->rec);
    if (err < 0) {
        vsri_rec_block_unref(b);
        if (err == VSR_ENOMEM)
            err = vsri_error(VSR_ENOMEM, "%s: out of memory recording a '%.60s' operation", fn, r->type);
        return err;
    }
    int cap = t->settings.history_length;
    if (cap > 0) {
        if (t->ring_count == cap) {
            vsri_rec_block_unref(t->ring[t->ring_first]);
            t->ring_first = (t->ring_first + 1) % cap;
            t->ring_count--;
        }
        t->ring[(t->ring_first + t->ring_count) % cap] = vsri_rec_block_ref(b);
        t->ring_count++;
    }
    *out = b;
    return 0;
}

int vsri_tracker_deliver(vsr_tracker *t, vsri_rec_block *b)
{
    int cancel = 0;
    if (atomic_load(&t->has_event_cb)) {
        pthread_mutex_lock(&t->cb_lock);
        if (t->event_cb)
            cancel = t->event_cb(t->event_user, &b->rec);
        pthread_mutex_unlock(&t->cb_lock);
    }
    vsri_rec_block_unref(b);
    if (cancel)
        return vsri_error_quiet(VSR_ERROR_CANCELLED, "cancelled by the tracker's event callback");
    return 0;
}

int vsr_tracker_record(vsr_tracker *t, const vsr_op_record *rec)
{
    if (!t || !rec)
        return vsri_error(VSR_EINVAL, "vsr_tracker_record: %s is NULL", t ? "record" : "tracker");
    /* fields beyond an older caller's struct: no quality, peaks unknown, no meta */
    vsr_op_record r;
    memset(&r, 0, sizeof(r));
    r.quality = NAN;
    r.peak_rss_bytes = r.peak_device_bytes = -1;
    int err = vsri_settings_in(&r, rec, sizeof(r), "vsr_tracker_record: vsr_op_record");
    if (err < 0)
        return err;
    err = vsri_check_op_name(r.type, 1, "type", "vsr_tracker_record");
    if (err == 0)
        err = vsri_check_op_name(r.strategy, 0, "strategy", "vsr_tracker_record");
    if (err < 0)
        return err;
    if (r.duration_ns == 0 && r.end_ns > r.start_ns)
        r.duration_ns = r.end_ns - r.start_ns;
    if (r.duration_ns < 0)
        return vsri_error(VSR_EINVAL, "vsr_tracker_record: negative duration %lld ns",
                          (long long)r.duration_ns);
    if (r.n_meta < 0 || (r.n_meta > 0 && !r.meta))
        return vsri_error(VSR_EINVAL, "vsr_tracker_record: n_meta %d without meta", r.n_meta);
    if (!r.meta)
        r.n_meta = 0;
    r.id = 0;
    if (r.peak_rss_bytes <= 0)
        r.peak_rss_bytes = -1;
    if (r.peak_device_bytes <= 0)
        r.peak_device_bytes = -1;

    vsri_rec_block *b;
    pthread_mutex_lock(&t->lock);
    err = vsri_tracker_commit_locked(t, &r, "vsr_tracker_record", &b);
    pthread_mutex_unlock(&t->lock);
    return err < 0 ? err : vsri_tracker_deliver(t, b);
}

int vsr_tracker_progress(vsr_tracker *t, const vsr_progress *p)
{
    if (!t || !p)
        return vsri_error(VSR_EINVAL, "vsr_tracker_progress: %s is NULL", t ? "progress" : "tracker");
    vsr_progress copy;
    memset(&copy, 0, sizeof(copy));
    int err = vsri_settings_in(&copy, p, sizeof(copy), "vsr_tracker_progress: vsr_progress");
    if (err < 0)
        return err;
    int cancel = 0;
    pthread_mutex_lock(&t->cb_lock);
    if (t->progress_cb)
        cancel = t->progress_cb(t->progress_user, &copy);
    pthread_mutex_unlock(&t->cb_lock);
    if (cancel)
        return vsri_error_quiet(VSR_ERROR_CANCELLED, "cancelled by the tracker's progress callback");
    return 0;
}

/* ---------------------------------------------------------------- history */

int vsr_tracker_history_count(vsr_tracker *t)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->lock);
    int n = t->ring_count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

int vsr_tracker_history_get(vsr_tracker *t, int i, vsr_op_record **out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_history_get: %s is NULL", t ? "out" : "tracker");
    *out = NULL;
    pthread_mutex_lock(&t->lock);
    if (i < 0 || i >= t->ring_count) {
        int n = t->ring_count;
        pthread_mutex_unlock(&t->lock);
        return vsri_error(VSR_EINVAL, "vsr_tracker_history_get: index %d outside the history (%d records)",
                          i, n);
    }
    /* A reference keeps the block while it is copied outside the lock. */
    vsri_rec_block *b = vsri_rec_block_ref(t->ring[(t->ring_first + i) % t->settings.history_length]);
    pthread_mutex_unlock(&t->lock);
    const vsr_op_record *rec = &b->rec;
    *out = vsri_records_copy(&rec, 1);
    vsri_rec_block_unref(b);
    if (!*out)
        return vsri_error(VSR_ENOMEM, "vsr_tracker_history_get: out of memory");
    return 0;
}

void vsr_tracker_reset(vsr_tracker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    clear_history(t);
    vsri_stats_free(&t->stats);
    vsri_tracker_clear_quality(t);
    vsri_tracker_reset_resources(t);
    pthread_mutex_unlock(&t->lock);
    vsri_tracker_initial_reading(t);
}

/* ---------------------------------------------------------------- internal API */

uint64_t vsri_tracker_new_run_id(vsr_tracker *t)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->lock);
    uint64_t id = t->next_run_id++;
    pthread_mutex_unlock(&t->lock);
    return id;
}

void vsri_tracker_note_inflight(vsr_tracker *t, int frames_in_flight)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    if (frames_in_flight > t->res.max_inflight)
        t->res.max_inflight = frames_in_flight;
    pthread_mutex_unlock(&t->lock);
}

void vsri_tracker_set_queue_depth(vsr_tracker *t, int depth)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->res.queue_depth = depth;
    pthread_mutex_unlock(&t->lock);
}

vsr_granularity vsri_tracker_granularity(vsr_tracker *t)
{
    return t ? t->settings.granularity : VSR_GRANULARITY_OPERATION;
}
