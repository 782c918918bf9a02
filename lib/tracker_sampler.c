/*
 * Resources: readings of the process's RSS and CPU time and of the device
 * probes, the optional sampler thread that takes them periodically, and
 * the peaks they leave in the tracker and in the operations in flight.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sysinfo.h"
#include "tracker_private.h"

void vsri_tracker_read(vsr_tracker *t, vsri_reading *r)
{
    r->rss = vsri_proc_rss_bytes();
    r->hwm = vsri_proc_peak_rss_bytes();
    r->cpu_ns = vsri_proc_cpu_ns();
    r->wall_ns = vsri_now_ns();
    r->have_device = 0;
    r->device_used = r->device_peak = r->device_total = -1;
    r->gpu_util = -1;
    pthread_mutex_lock(&t->probe_lock);
    for (int i = 0; i < t->n_probes; i++) {
        int64_t used = -1, total = -1, peak = -1;
        double util = -1;
        if (t->probes[i].fn(t->probes[i].ctx, &used, &total, &peak, &util) < 0)
            continue;
        r->have_device = 1;
        if (used > r->device_used)
            r->device_used = used;
        int64_t p = peak >= 0 ? peak : used;
        if (p > r->device_peak)
            r->device_peak = p;
        if (total > r->device_total)
            r->device_total = total;
        if (util > r->gpu_util)
            r->gpu_util = util;
    }
    pthread_mutex_unlock(&t->probe_lock);
}

void vsri_tracker_apply_reading(vsr_tracker *t, const vsri_reading *r, int tick)
{
    if (r->rss >= 0) {
        t->res.current_rss = r->rss;
        if (r->rss > t->res.peak_rss)
            t->res.peak_rss = r->rss;
    }
    /* The kernel's high-water mark catches spikes between samples. It
     * covers the whole process life, so it only counts once it has grown
     * past its value at creation/reset: then the new high fell in our window. */
    if (r->hwm > t->res.baseline_hwm && r->hwm > t->res.peak_rss)
        t->res.peak_rss = r->hwm;
    if (r->cpu_ns >= 0) {
        /* Over a few milliseconds the ratio is noise (reading /proc alone
         * is CPU time), so the mean waits for a meaningful interval. */
        int64_t wall = r->wall_ns - t->res.wall_start_ns;
        if (wall >= 10000000)
            t->res.cpu_mean = 100.0 * (double)(r->cpu_ns - t->res.cpu_start_ns) / (double)wall;
        if (tick) {
            int64_t dwall = r->wall_ns - t->res.last_wall_ns;
            if (dwall > 0) {
                double pct = 100.0 * (double)(r->cpu_ns - t->res.last_cpu_ns) / (double)dwall;
                if (pct > t->res.cpu_peak)
                    t->res.cpu_peak = pct;
            }
            t->res.last_cpu_ns = r->cpu_ns;
            t->res.last_wall_ns = r->wall_ns;
        }
    }
    if (r->have_device) {
        if (r->device_peak > t->res.peak_device)
            t->res.peak_device = r->device_peak;
        if (r->device_total > t->res.device_total)
            t->res.device_total = r->device_total;
        if (r->gpu_util > t->res.gpu_util_peak)
            t->res.gpu_util_peak = r->gpu_util;
    }
    if (tick)
        t->res.samples++;
    vsri_ops_apply_reading(t, r);
}

void vsri_tracker_reset_resources(vsr_tracker *t)
{
    int queue_depth = t->res.queue_depth;
    memset(&t->res, 0, sizeof(t->res));
    t->res.queue_depth = queue_depth;
    t->res.baseline_hwm = vsri_proc_peak_rss_bytes();
    t->res.cpu_start_ns = t->res.last_cpu_ns = vsri_proc_cpu_ns();
    t->res.wall_start_ns = t->res.last_wall_ns = vsri_now_ns();
    t->res.peak_device = t->res.device_total = -1;
    t->res.gpu_util_peak = -1;
}

/* One reading at creation and reset, so that resources are not all zero
 * before the sampler's first tick. */
void vsri_tracker_initial_reading(vsr_tracker *t)
{
    vsri_reading r;
    vsri_tracker_read(t, &r);
    pthread_mutex_lock(&t->lock);
    vsri_tracker_apply_reading(t, &r, 0);
    pthread_mutex_unlock(&t->lock);
}

/* No peaks between calls then, except the kernel's RSS high-water mark. */
void vsri_tracker_on_demand_reading(vsr_tracker *t)
{
    if (t->settings.sampler_interval_ms > 0)
        return;
    vsri_tracker_initial_reading(t);
}

void vsri_tracker_resources_locked(vsr_tracker *t, vsr_resource_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    out->peak_rss_bytes = t->res.peak_rss;
    out->current_rss_bytes = t->res.current_rss;
    out->cpu_percent_mean = t->res.cpu_mean;
    out->cpu_percent_peak = t->res.cpu_peak;
    out->peak_device_bytes = t->res.peak_device;
    out->device_total_bytes = t->res.device_total;
    out->gpu_util_percent_peak = t->res.gpu_util_peak;
    out->samples = t->res.samples;
    out->max_frames_in_flight = t->res.max_inflight;
    out->queue_depth = t->res.queue_depth;
}

int vsr_tracker_get_resources(vsr_tracker *t, vsr_resource_stats *out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_resources: %s is NULL", t ? "out" : "tracker");
    vsri_tracker_on_demand_reading(t);
    vsr_resource_stats rs;
    pthread_mutex_lock(&t->lock);
    vsri_tracker_resources_locked(t, &rs);
    pthread_mutex_unlock(&t->lock);
    return vsri_result_out(out, &rs, sizeof(rs), "vsr_tracker_get_resources");
}

/* ---------------------------------------------------------------- the sampler thread */

static void add_ms(struct timespec *ts, int ms)
{
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *sampler_main(void *arg)
{
    vsr_tracker *t = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    pthread_mutex_lock(&t->sampler_lock);
    while (!t->sampler_stop) {
        add_ms(&deadline, t->settings.sampler_interval_ms);
        /* If sampling fell behind (a suspended machine, a slow probe),
         * start again from now rather than firing a burst. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (deadline.tv_sec < now.tv_sec ||
            (deadline.tv_sec == now.tv_sec && deadline.tv_nsec < now.tv_nsec)) {
            deadline = now;
            add_ms(&deadline, t->settings.sampler_interval_ms);
        }
        int rc = 0;
        while (!t->sampler_stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&t->sampler_cond, &t->sampler_lock, &deadline);
        if (t->sampler_stop)
            break;
        pthread_mutex_unlock(&t->sampler_lock);

        vsri_reading r;
        vsri_tracker_read(t, &r);
        pthread_mutex_lock(&t->lock);
        vsri_tracker_apply_reading(t, &r, 1);
        pthread_mutex_unlock(&t->lock);

        pthread_mutex_lock(&t->sampler_lock);
    }
    pthread_mutex_unlock(&t->sampler_lock);
    return NULL;
}

int vsri_tracker_start_sampler(vsr_tracker *t)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return vsri_error(VSR_ENOMEM, "tracker: cannot create the sampler's condition variable");
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&t->sampler_cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return vsri_error(VSR_ERR(rc), "tracker: cannot create the sampler's condition variable");
    rc = pthread_create(&t->sampler, NULL, sampler_main, t);
    if (rc != 0) {
        pthread_cond_destroy(&t->sampler_cond);
        return vsri_error(VSR_ERR(rc), "tracker: cannot start the resource sampler thread: %s",
                          strerror(rc));
    }
    t->sampler_started = 1;
    return 0;
}

void vsri_tracker_stop_sampler(vsr_tracker *t)
{
    if (!t->sampler_started)
        return;
    pthread_mutex_lock(&t->sampler_lock);
    t->sampler_stop = 1;
    pthread_cond_signal(&t->sampler_cond);
    pthread_mutex_unlock(&t->sampler_lock);
    pthread_join(t->sampler, NULL);
    pthread_cond_destroy(&t->sampler_cond);
    t->sampler_started = 0;
}

/* ---------------------------------------------------------------- device probes */

void vsri_tracker_set_device_probe(vsr_tracker *t, vsri_device_probe probe, void *ctx)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->probe_lock);
    int i = 0;
    while (i < t->n_probes && t->probes[i].ctx != ctx)
        i++;
    if (!probe) {
        if (i < t->n_probes) {
            t->probes[i] = t->probes[t->n_probes - 1];
            t->n_probes--;
        }
    } else if (i < t->n_probes) {
        t->probes[i].fn = probe;
    } else {
        if (t->n_probes == t->cap_probes) {
            int cap = t->cap_probes ? t->cap_probes * 2 : 2;
            vsri_probe_entry *p = realloc(t->probes, (size_t)cap * sizeof(*p));
            if (!p) {
                pthread_mutex_unlock(&t->probe_lock);
                /* Only device statistics are lost: not worth failing a session. */
                vsri_log(VSR_LOG_WARNING, "tracker: out of memory registering a device probe");
                return;
            }
            t->probes = p;
            t->cap_probes = cap;
        }
        t->probes[t->n_probes++] = (vsri_probe_entry){probe, ctx};
    }
    pthread_mutex_unlock(&t->probe_lock);
}
