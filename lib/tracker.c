/*
 * vsr_tracker: operation records, running statistics, a bounded history,
 * resource peaks from an optional sampler thread, and quality per frame.
 *
 * Locking: `lock` guards all data; `cb_lock` (recursive, so a callback may
 * record) serialises the event and progress callbacks; `probe_lock` is
 * held while device probes run; `sampler_lock` pairs with the sampler's
 * condition variable. Never two at once: callbacks run after the data
 * mutex is released, so they may read statistics.
 *
 * Records are stored as one reference-counted block each (the record, its
 * meta array and every string), shared by the history ring, a callback in
 * progress and the per-thread copies handed out by history_get.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "quality.h"
#include "sysinfo.h"
#include "tracker_internal.h"

/*
 * Percentiles: every duration is kept until a key (type, strategy) has
 * RESERVOIR_SIZE of them, so percentiles are exact up to that many
 * operations; beyond, the kept set is a uniform random sample of all of
 * them (reservoir sampling, Vitter's algorithm R) and the percentiles are
 * estimates. Count, total, mean, min and max are always exact.
 * Percentiles interpolate linearly between the two nearest ranks
 * (p at position (n - 1) * p of the sorted values; numpy's default).
 */
#define RESERVOIR_SIZE 8192

/* Per-frame quality entries kept (the statistics cover every frame). */
#define QUALITY_FRAMES_MAX (1 << 20)

#define DEFAULT_HISTORY 4096
#define DEFAULT_SAMPLER_MS 100

typedef struct rec_block {
    atomic_int refs;
    vsr_op_record rec;
    /* followed by the meta array and the strings */
} rec_block;

typedef struct stat_bucket {
    int64_t count, successes, failures, frames;
    int64_t total_ns, min_ns, max_ns;
    int64_t *samples; /* durations, ns: the reservoir */
    int n_samples, cap_samples;
    int sorted;
} stat_bucket;

typedef struct strategy_entry {
    char *name;
    stat_bucket by_type[VSR_OP_COUNT];
} strategy_entry;

typedef struct scratch_slot {
    pthread_t thread;
    rec_block *block;
} scratch_slot;

typedef struct probe_entry {
    vsri_device_probe fn;
    void *ctx;
} probe_entry;

struct vsr_tracker {
    atomic_int refs;
    vsr_tracker_settings settings;

    pthread_mutex_t lock;
    uint64_t next_run_id;
    uint64_t rng; /* reservoir sampling */

    /* metadata added to every record */
    char **meta_keys, **meta_values;
    int n_meta, cap_meta;

    /* history ring: `ring_count` blocks from ring[ring_first] on */
    rec_block **ring;
    int ring_first, ring_count;

    stat_bucket overall[VSR_OP_COUNT];
    strategy_entry *strategies;
    int n_strategies, cap_strategies;

    /* history_get's per-thread copies */
    scratch_slot *scratch;
    int n_scratch, cap_scratch;

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
    probe_entry *probes;
    int n_probes, cap_probes;

    pthread_mutex_t sampler_lock;
    pthread_cond_t sampler_cond;
    pthread_t sampler;
    int sampler_started;
    int sampler_stop;
};

static const char *const op_names[VSR_OP_COUNT] = {
    "decode", "preprocess", "upload", "inference", "download", "postprocess", "encode", "run",
};

const char *vsr_op_type_name(vsr_op_type type)
{
    if ((int)type < 0 || type >= VSR_OP_COUNT)
        return NULL;
    return op_names[type];
}

/* ---------------------------------------------------------------- helpers */

/* Caller-sized structs: copy at most the caller's size (0 means the size
 * in libvsr 0.1, the first version, which is the current one). */
static size_t caller_size(uint32_t size, size_t full)
{
    if (size == 0 || size > full)
        return full;
    return size;
}

static void copy_in(void *dst, const void *src, size_t full)
{
    uint32_t size;
    memcpy(&size, src, sizeof(size));
    memset(dst, 0, full);
    memcpy(dst, src, caller_size(size, full));
    memcpy(dst, &(uint32_t){(uint32_t)full}, sizeof(uint32_t));
}

static void copy_out(void *dst, const void *src, size_t full)
{
    uint32_t size;
    memcpy(&size, dst, sizeof(size));
    size_t n = caller_size(size, full);
    if (n <= sizeof(uint32_t))
        return; /* a nonsense size: nothing fits */
    /* keep the caller's size field */
    memcpy((char *)dst + sizeof(uint32_t), (const char *)src + sizeof(uint32_t),
           n - sizeof(uint32_t));
}

static uint64_t next_random(uint64_t *state)
{
    /* splitmix64: small, fast, good enough to pick reservoir slots */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void block_unref(rec_block *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

static rec_block *block_ref(rec_block *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static char *put_str(char **cursor, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = *cursor;
    memcpy(d, s, n);
    *cursor += n;
    return d;
}

/* A block holding a deep copy of r with the tracker's metadata merged in
 * (the record's own keys win; a NULL value removes a tracker key). Called
 * with t->lock held. */
static rec_block *pack_record(vsr_tracker *t, const vsr_op_record *r)
{
    int max_meta = t->n_meta + (r->meta ? r->n_meta : 0);
    vsr_kv *merged = NULL;
    int n = 0;
    if (max_meta > 0) {
        merged = malloc((size_t)max_meta * sizeof(*merged));
        if (!merged)
            return NULL;
    }
    for (int i = 0; i < t->n_meta; i++)
        merged[n++] = (vsr_kv){t->meta_keys[i], t->meta_values[i]};
    for (int i = 0; r->meta && i < r->n_meta; i++) {
        const vsr_kv *kv = &r->meta[i];
        if (!kv->key)
            continue;
        int j = 0;
        while (j < n && strcmp(merged[j].key, kv->key) != 0)
            j++;
        if (!kv->value) {
            if (j < n) {
                memmove(&merged[j], &merged[j + 1], (size_t)(n - j - 1) * sizeof(*merged));
                n--;
            }
        } else if (j < n) {
            merged[j].value = kv->value;
        } else {
            merged[n++] = *kv;
        }
    }

    size_t strings = str_size(r->strategy) + str_size(r->precision) + str_size(r->device) +
                     str_size(r->error_message);
    for (int i = 0; i < n; i++)
        strings += str_size(merged[i].key) + str_size(merged[i].value);
    size_t total = sizeof(rec_block) + (size_t)n * sizeof(vsr_kv) + strings;
    rec_block *b = malloc(total);
    if (!b) {
        free(merged);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->rec = *r;
    vsr_kv *meta = (vsr_kv *)(b + 1);
    char *cursor = (char *)(meta + n);
    b->rec.strategy = put_str(&cursor, r->strategy);
    b->rec.precision = put_str(&cursor, r->precision);
    b->rec.device = put_str(&cursor, r->device);
    b->rec.error_message = put_str(&cursor, r->error_message);
    for (int i = 0; i < n; i++) {
        meta[i].key = put_str(&cursor, merged[i].key);
        meta[i].value = put_str(&cursor, merged[i].value);
    }
    b->rec.n_meta = n;
    b->rec.meta = n ? meta : NULL;
    free(merged);
    return b;
}

/* ---------------------------------------------------------------- statistics */

static void bucket_free(stat_bucket *b)
{
    free(b->samples);
    memset(b, 0, sizeof(*b));
}

/* Every record counts in the durations and frames, failed ones too (a
 * failure still took that time); successes/failures tell them apart. */
static void bucket_add(stat_bucket *b, const vsr_op_record *r, uint64_t *rng)
{
    int64_t d = r->duration_ns;
    if (b->count == 0 || d < b->min_ns)
        b->min_ns = d;
    if (b->count == 0 || d > b->max_ns)
        b->max_ns = d;
    b->count++;
    if (r->success)
        b->successes++;
    else
        b->failures++;
    b->frames += r->frames;
    b->total_ns += d;

    if (b->n_samples < RESERVOIR_SIZE) {
        if (b->n_samples == b->cap_samples) {
            int cap = b->cap_samples ? b->cap_samples * 2 : 64;
            if (cap > RESERVOIR_SIZE)
                cap = RESERVOIR_SIZE;
            int64_t *s = realloc(b->samples, (size_t)cap * sizeof(*s));
            /* Without memory the percentiles just miss this sample; the
             * record itself and the exact statistics are kept. */
            if (!s)
                return;
            b->samples = s;
            b->cap_samples = cap;
        }
        b->samples[b->n_samples++] = d;
        b->sorted = 0;
    } else {
        uint64_t j = next_random(rng) % (uint64_t)b->count;
        if (j < RESERVOIR_SIZE) {
            b->samples[j] = d;
            b->sorted = 0;
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double percentile_ms(const int64_t *sorted, int n, double p)
{
    if (n <= 0)
        return 0;
    double pos = (n - 1) * p;
    int lo = (int)floor(pos);
    if (lo >= n - 1)
        return sorted[n - 1] / 1e6;
    double frac = pos - lo;
    double v = (double)sorted[lo] + frac * (double)(sorted[lo + 1] - sorted[lo]);
    return v / 1e6;
}

/* Called with t->lock held (sorts the reservoir in place). */
static void bucket_stats(stat_bucket *b, vsr_op_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    if (b->count == 0)
        return;
    if (!b->sorted) {
        qsort(b->samples, (size_t)b->n_samples, sizeof(*b->samples), cmp_i64);
        b->sorted = 1;
    }
    out->count = b->count;
    out->successes = b->successes;
    out->failures = b->failures;
    out->total_ms = b->total_ns / 1e6;
    out->mean_ms = (double)b->total_ns / (double)b->count / 1e6;
    out->min_ms = b->min_ns / 1e6;
    out->max_ms = b->max_ns / 1e6;
    out->p50_ms = percentile_ms(b->samples, b->n_samples, 0.50);
    out->p95_ms = percentile_ms(b->samples, b->n_samples, 0.95);
    out->frames = b->frames;
    out->fps = b->total_ns > 0 ? (double)b->frames / (b->total_ns / 1e9) : 0;
}

static strategy_entry *find_strategy(vsr_tracker *t, const char *name)
{
    for (int i = 0; i < t->n_strategies; i++) {
        if (strcmp(t->strategies[i].name, name) == 0)
            return &t->strategies[i];
    }
    return NULL;
}

static strategy_entry *add_strategy(vsr_tracker *t, const char *name)
{
    if (t->n_strategies == t->cap_strategies) {
        int cap = t->cap_strategies ? t->cap_strategies * 2 : 8;
        strategy_entry *s = realloc(t->strategies, (size_t)cap * sizeof(*s));
        if (!s)
            return NULL;
        t->strategies = s;
        t->cap_strategies = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    strategy_entry *e = &t->strategies[t->n_strategies++];
    memset(e, 0, sizeof(*e));
    e->name = copy;
    return e;
}

static void clear_data(vsr_tracker *t)
{
    for (int i = 0; i < VSR_OP_COUNT; i++)
        bucket_free(&t->overall[i]);
    for (int s = 0; s < t->n_strategies; s++) {
        for (int i = 0; i < VSR_OP_COUNT; i++)
            bucket_free(&t->strategies[s].by_type[i]);
        free(t->strategies[s].name);
    }
    t->n_strategies = 0;
    int cap = t->settings.history_length;
    for (int i = 0; i < t->ring_count; i++)
        block_unref(t->ring[(t->ring_first + i) % cap]);
    t->ring_first = t->ring_count = 0;
    free(t->quality.list);
    memset(&t->quality, 0, sizeof(t->quality));
    t->quality.psnr_min = t->quality.ssim_min = NAN;
}

static void reset_resources(vsr_tracker *t)
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

/* ---------------------------------------------------------------- sampler */

typedef struct reading {
    int64_t rss, hwm, cpu_ns, wall_ns;
    int have_device;
    int64_t device_peak, device_total;
    double gpu_util;
} reading;

static void read_resources(vsr_tracker *t, reading *r)
{
    r->rss = vsri_proc_rss_bytes();
    r->hwm = vsri_proc_peak_rss_bytes();
    r->cpu_ns = vsri_proc_cpu_ns();
    r->wall_ns = vsri_now_ns();
    r->have_device = 0;
    r->device_peak = r->device_total = -1;
    r->gpu_util = -1;
    pthread_mutex_lock(&t->probe_lock);
    for (int i = 0; i < t->n_probes; i++) {
        int64_t used = -1, total = -1, peak = -1;
        double util = -1;
        if (t->probes[i].fn(t->probes[i].ctx, &used, &total, &peak, &util) < 0)
            continue;
        r->have_device = 1;
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

/* Fold a reading into the resource statistics (t->lock held). A sampler
 * tick also measures CPU use over the interval since the previous one. */
static void apply_reading(vsr_tracker *t, const reading *r, int tick)
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
}

/* One reading at creation and reset, so that resources are not all zero
 * before the sampler's first tick. */
static void initial_reading(vsr_tracker *t)
{
    reading r;
    read_resources(t, &r);
    pthread_mutex_lock(&t->lock);
    apply_reading(t, &r, 0);
    pthread_mutex_unlock(&t->lock);
}

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

        reading r;
        read_resources(t, &r);
        pthread_mutex_lock(&t->lock);
        apply_reading(t, &r, 1);
        pthread_mutex_unlock(&t->lock);

        pthread_mutex_lock(&t->sampler_lock);
    }
    pthread_mutex_unlock(&t->sampler_lock);
    return NULL;
}

static int start_sampler(vsr_tracker *t)
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

static void stop_sampler(vsr_tracker *t)
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

static void tracker_free(vsr_tracker *t)
{
    stop_sampler(t);
    clear_data(t);
    free(t->ring);
    for (int i = 0; i < t->n_scratch; i++)
        block_unref(t->scratch[i].block);
    free(t->scratch);
    free(t->strategies);
    for (int i = 0; i < t->n_meta; i++) {
        free(t->meta_keys[i]);
        free(t->meta_values[i]);
    }
    free(t->meta_keys);
    free(t->meta_values);
    free(t->probes);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->cb_lock);
    pthread_mutex_destroy(&t->probe_lock);
    pthread_mutex_destroy(&t->sampler_lock);
    free(t);
}

int vsr_tracker_create(vsr_tracker **out, const vsr_tracker_settings *s)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_create: out is NULL");
    *out = NULL;
    vsr_tracker_settings settings;
    vsr_tracker_settings_default(&settings);
    if (s) {
        int err = VSRI_COPY_SETTINGS(&settings, s);
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
    t->rng = 0x6C696276737274ull; /* fixed seed: runs are reproducible */
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
    reset_resources(t);
    initial_reading(t);

    if (settings.sampler_interval_ms > 0) {
        int err = start_sampler(t);
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

void vsr_tracker_destroy(vsr_tracker **pt)
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
    int i = 0;
    while (i < t->n_meta && strcmp(t->meta_keys[i], key) != 0)
        i++;
    if (!value) {
        if (i < t->n_meta) {
            free(t->meta_keys[i]);
            free(t->meta_values[i]);
            /* keep the order of the remaining keys */
            memmove(&t->meta_keys[i], &t->meta_keys[i + 1],
                    (size_t)(t->n_meta - i - 1) * sizeof(char *));
            memmove(&t->meta_values[i], &t->meta_values[i + 1],
                    (size_t)(t->n_meta - i - 1) * sizeof(char *));
            t->n_meta--;
        }
        pthread_mutex_unlock(&t->lock);
        return 0;
    }
    char *v = strdup(value);
    if (!v) {
        pthread_mutex_unlock(&t->lock);
        return vsri_error(VSR_ENOMEM, "tracker: out of memory for metadata '%s'", key);
    }
    if (i < t->n_meta) {
        free(t->meta_values[i]);
        t->meta_values[i] = v;
        pthread_mutex_unlock(&t->lock);
        return 0;
    }
    if (t->n_meta == t->cap_meta) {
        int cap = t->cap_meta ? t->cap_meta * 2 : 8;
        char **k = realloc(t->meta_keys, (size_t)cap * sizeof(*k));
        if (k)
            t->meta_keys = k;
        char **vals = k ? realloc(t->meta_values, (size_t)cap * sizeof(*vals)) : NULL;
        if (vals)
            t->meta_values = vals;
        if (!k || !vals) {
            pthread_mutex_unlock(&t->lock);
            free(v);
            return vsri_error(VSR_ENOMEM, "tracker: out of memory for metadata '%s'", key);
        }
        t->cap_meta = cap;
    }
    char *k = strdup(key);
    if (!k) {
        pthread_mutex_unlock(&t->lock);
        free(v);
        return vsri_error(VSR_ENOMEM, "tracker: out of memory for metadata '%s'", key);
    }
    t->meta_keys[t->n_meta] = k;
    t->meta_values[t->n_meta] = v;
    t->n_meta++;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* ---------------------------------------------------------------- recording */

int vsr_tracker_record(vsr_tracker *t, const vsr_op_record *rec)
{
    if (!t || !rec)
        return vsri_error(VSR_EINVAL, "vsr_tracker_record: %s is NULL", t ? "record" : "tracker");
    vsr_op_record r;
    copy_in(&r, rec, sizeof(r));
    if ((int)r.type < 0 || r.type >= VSR_OP_COUNT)
        return vsri_error(VSR_EINVAL, "vsr_tracker_record: unknown operation type %d", (int)r.type);
    if (r.duration_ns == 0 && r.end_ns > r.start_ns)
        r.duration_ns = r.end_ns - r.start_ns;
    if (r.duration_ns < 0)
        return vsri_error(VSR_EINVAL, "vsr_tracker_record: negative duration %lld ns",
                          (long long)r.duration_ns);
    if (r.n_meta < 0 || (r.n_meta > 0 && !r.meta))
        return vsri_error(VSR_EINVAL, "vsr_tracker_record: n_meta %d without meta", r.n_meta);
    if (!r.meta)
        r.n_meta = 0;

    const char *strategy = r.strategy ? r.strategy : "";
    pthread_mutex_lock(&t->lock);
    strategy_entry *se = find_strategy(t, strategy);
    if (!se)
        se = add_strategy(t, strategy);
    rec_block *b = se ? pack_record(t, &r) : NULL;
    if (!b) {
        pthread_mutex_unlock(&t->lock);
        return vsri_error(VSR_ENOMEM, "tracker: out of memory recording a %s operation",
                          op_names[r.type]);
    }
    b->rec.size = sizeof(b->rec);
    bucket_add(&t->overall[r.type], &b->rec, &t->rng);
    bucket_add(&se->by_type[r.type], &b->rec, &t->rng);

    int cap = t->settings.history_length;
    if (cap > 0) {
        if (t->ring_count == cap) {
            block_unref(t->ring[t->ring_first]);
            t->ring_first = (t->ring_first + 1) % cap;
            t->ring_count--;
        }
        t->ring[(t->ring_first + t->ring_count) % cap] = block_ref(b);
        t->ring_count++;
    }
    pthread_mutex_unlock(&t->lock);

    int cancel = 0;
    if (atomic_load(&t->has_event_cb)) {
        pthread_mutex_lock(&t->cb_lock);
        if (t->event_cb)
            cancel = t->event_cb(t->event_user, &b->rec);
        pthread_mutex_unlock(&t->cb_lock);
    }
    block_unref(b);
    if (cancel)
        return vsri_error_quiet(VSR_ERROR_CANCELLED, "cancelled by the tracker's event callback");
    return 0;
}

int vsr_tracker_progress(vsr_tracker *t, const vsr_progress *p)
{
    if (!t || !p)
        return vsri_error(VSR_EINVAL, "vsr_tracker_progress: %s is NULL", t ? "progress" : "tracker");
    vsr_progress copy;
    copy_in(&copy, p, sizeof(copy));
    int cancel = 0;
    pthread_mutex_lock(&t->cb_lock);
    if (t->progress_cb)
        cancel = t->progress_cb(t->progress_user, &copy);
    pthread_mutex_unlock(&t->cb_lock);
    if (cancel)
        return vsri_error_quiet(VSR_ERROR_CANCELLED, "cancelled by the tracker's progress callback");
    return 0;
}

int vsr_tracker_record_quality(vsr_tracker *t, int64_t frame_index, double psnr_db, double ssim)
{
    if (!t)
        return vsri_error(VSR_EINVAL, "vsr_tracker_record_quality: tracker is NULL");
    /* See VSRI_PSNR_CAP_DB: identical frames give +inf, stored as the cap. */
    if (psnr_db > VSRI_PSNR_CAP_DB)
        psnr_db = VSRI_PSNR_CAP_DB;
    pthread_mutex_lock(&t->lock);
    if (t->quality.n_list < QUALITY_FRAMES_MAX) {
        if (t->quality.n_list == t->quality.cap_list) {
            int64_t cap = t->quality.cap_list ? t->quality.cap_list * 2 : 256;
            vsri_quality_frame *l = realloc(t->quality.list, (size_t)cap * sizeof(*l));
            if (!l) {
                pthread_mutex_unlock(&t->lock);
                return vsri_error(VSR_ENOMEM, "tracker: out of memory for frame quality");
            }
            t->quality.list = l;
            t->quality.cap_list = cap;
        }
        t->quality.list[t->quality.n_list++] = (vsri_quality_frame){frame_index, psnr_db, ssim};
    } else {
        t->quality.truncated = 1;
    }
    /* NaN means "not measured" and stays out of the means and minima. */
    t->quality.frames++;
    if (!isnan(psnr_db)) {
        t->quality.psnr_sum += psnr_db;
        if (t->quality.psnr_n == 0 || psnr_db < t->quality.psnr_min)
            t->quality.psnr_min = psnr_db;
        t->quality.psnr_n++;
    }
    if (!isnan(ssim)) {
        t->quality.ssim_sum += ssim;
        if (t->quality.ssim_n == 0 || ssim < t->quality.ssim_min)
            t->quality.ssim_min = ssim;
        t->quality.ssim_n++;
    }
    pthread_mutex_unlock(&t->lock);
    return 0;
}

/* ---------------------------------------------------------------- reading back */

int vsr_tracker_get_stats(vsr_tracker *t, vsr_op_type type, const char *strategy, vsr_op_stats *out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_stats: %s is NULL", t ? "out" : "tracker");
    if ((int)type < 0 || type >= VSR_OP_COUNT)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_stats: unknown operation type %d", (int)type);
    vsr_op_stats st;
    memset(&st, 0, sizeof(st));
    st.size = sizeof(st);
    pthread_mutex_lock(&t->lock);
    if (!strategy) {
        bucket_stats(&t->overall[type], &st);
    } else {
        strategy_entry *se = find_strategy(t, strategy);
        if (se)
            bucket_stats(&se->by_type[type], &st);
    }
    pthread_mutex_unlock(&t->lock);
    copy_out(out, &st, sizeof(st));
    return 0;
}

int vsr_tracker_history_count(vsr_tracker *t)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->lock);
    int n = t->ring_count;
    pthread_mutex_unlock(&t->lock);
    return n;
}

int vsr_tracker_history_get(vsr_tracker *t, int i, vsr_op_record *out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_history_get: %s is NULL", t ? "out" : "tracker");
    pthread_mutex_lock(&t->lock);
    if (i < 0 || i >= t->ring_count) {
        int n = t->ring_count;
        pthread_mutex_unlock(&t->lock);
        return vsri_error(VSR_EINVAL, "vsr_tracker_history_get: index %d outside the history (%d records)",
                          i, n);
    }
    rec_block *b = t->ring[(t->ring_first + i) % t->settings.history_length];
    /* The returned strings live in b: this thread's slot keeps a reference
     * until its next history_get on this tracker (or the tracker's end). */
    pthread_t self = pthread_self();
    int slot = 0;
    while (slot < t->n_scratch && !pthread_equal(t->scratch[slot].thread, self))
        slot++;
    if (slot == t->n_scratch) {
        if (t->n_scratch == t->cap_scratch) {
            int cap = t->cap_scratch ? t->cap_scratch * 2 : 4;
            scratch_slot *s = realloc(t->scratch, (size_t)cap * sizeof(*s));
            if (!s) {
                pthread_mutex_unlock(&t->lock);
                return vsri_error(VSR_ENOMEM, "tracker: out of memory reading the history");
            }
            t->scratch = s;
            t->cap_scratch = cap;
        }
        t->scratch[slot].thread = self;
        t->scratch[slot].block = NULL;
        t->n_scratch++;
    }
    block_unref(t->scratch[slot].block);
    t->scratch[slot].block = block_ref(b);
    vsr_op_record copy = b->rec;
    pthread_mutex_unlock(&t->lock);
    copy_out(out, &copy, sizeof(copy));
    return 0;
}

static void resources_locked(vsr_tracker *t, vsr_resource_stats *out)
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

/* Without a sampler thread, readers take one reading on demand (no peaks
 * between calls then, except the kernel's RSS high-water mark). */
static void on_demand_reading(vsr_tracker *t)
{
    if (t->settings.sampler_interval_ms > 0)
        return;
    reading r;
    read_resources(t, &r);
    pthread_mutex_lock(&t->lock);
    apply_reading(t, &r, 0);
    pthread_mutex_unlock(&t->lock);
}

int vsr_tracker_get_resources(vsr_tracker *t, vsr_resource_stats *out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_resources: %s is NULL", t ? "out" : "tracker");
    on_demand_reading(t);
    vsr_resource_stats rs;
    pthread_mutex_lock(&t->lock);
    resources_locked(t, &rs);
    pthread_mutex_unlock(&t->lock);
    copy_out(out, &rs, sizeof(rs));
    return 0;
}

static void quality_locked(vsr_tracker *t, vsr_quality_stats *q)
{
    memset(q, 0, sizeof(*q));
    q->size = sizeof(*q);
    q->frames = t->quality.frames;
    q->psnr_mean = t->quality.psnr_n ? t->quality.psnr_sum / (double)t->quality.psnr_n : NAN;
    q->psnr_min = t->quality.psnr_n ? t->quality.psnr_min : NAN;
    q->ssim_mean = t->quality.ssim_n ? t->quality.ssim_sum / (double)t->quality.ssim_n : NAN;
    q->ssim_min = t->quality.ssim_n ? t->quality.ssim_min : NAN;
}

int vsr_tracker_get_quality(vsr_tracker *t, vsr_quality_stats *out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_quality: %s is NULL", t ? "out" : "tracker");
    vsr_quality_stats q;
    pthread_mutex_lock(&t->lock);
    quality_locked(t, &q);
    pthread_mutex_unlock(&t->lock);
    copy_out(out, &q, sizeof(q));
    return 0;
}

void vsr_tracker_reset(vsr_tracker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    clear_data(t);
    reset_resources(t);
    pthread_mutex_unlock(&t->lock);
    initial_reading(t);
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
            probe_entry *p = realloc(t->probes, (size_t)cap * sizeof(*p));
            if (!p) {
                pthread_mutex_unlock(&t->probe_lock);
                /* Only device statistics are lost: not worth failing a session. */
                vsri_log(VSR_LOG_WARNING, "tracker: out of memory registering a device probe");
                return;
            }
            t->probes = p;
            t->cap_probes = cap;
        }
        t->probes[t->n_probes++] = (probe_entry){probe, ctx};
    }
    pthread_mutex_unlock(&t->probe_lock);
}

vsr_granularity vsri_tracker_granularity(vsr_tracker *t)
{
    return t ? t->settings.granularity : VSR_GRANULARITY_OPERATION;
}

/* ---------------------------------------------------------------- snapshot */

typedef struct snapshot_priv {
    rec_block **blocks;
    int n_blocks;
} snapshot_priv;

static int cmp_strategy(const void *a, const void *b)
{
    return strcmp(((const vsri_strategy_stats *)a)->name, ((const vsri_strategy_stats *)b)->name);
}

void vsri_tracker_snapshot_free(vsri_tracker_snapshot **ps)
{
    if (!ps || !*ps)
        return;
    vsri_tracker_snapshot *s = *ps;
    for (int i = 0; i < s->n_strategies; i++)
        free(s->strategies[i].name);
    free(s->strategies);
    free(s->history);
    snapshot_priv *p = s->priv;
    if (p) {
        for (int i = 0; i < p->n_blocks; i++)
            block_unref(p->blocks[i]);
        free(p->blocks);
        free(p);
    }
    free(s->quality_frames);
    free(s);
    *ps = NULL;
}

int vsri_tracker_snapshot_take(vsr_tracker *t, vsri_tracker_snapshot **out)
{
    *out = NULL;
    if (!t)
        return vsri_error(VSR_EINVAL, "tracker snapshot: tracker is NULL");
    vsri_tracker_snapshot *s = calloc(1, sizeof(*s));
    snapshot_priv *p = calloc(1, sizeof(*p));
    if (!s || !p) {
        free(s);
        free(p);
        return vsri_error(VSR_ENOMEM, "tracker snapshot: out of memory");
    }
    s->priv = p;
    on_demand_reading(t);

    pthread_mutex_lock(&t->lock);
    int ok = 1;
    for (int i = 0; i < VSR_OP_COUNT; i++)
        bucket_stats(&t->overall[i], &s->overall[i]);
    if (t->n_strategies > 0) {
        s->strategies = calloc((size_t)t->n_strategies, sizeof(*s->strategies));
        ok = s->strategies != NULL;
        for (int j = 0; ok && j < t->n_strategies; j++) {
            vsri_strategy_stats *ss = &s->strategies[j];
            ss->name = strdup(t->strategies[j].name);
            if (!ss->name) {
                ok = 0;
                break;
            }
            s->n_strategies++;
            for (int i = 0; i < VSR_OP_COUNT; i++)
                bucket_stats(&t->strategies[j].by_type[i], &ss->by_type[i]);
        }
    }
    if (ok && t->ring_count > 0) {
        s->history = malloc((size_t)t->ring_count * sizeof(*s->history));
        p->blocks = malloc((size_t)t->ring_count * sizeof(*p->blocks));
        ok = s->history && p->blocks;
        for (int i = 0; ok && i < t->ring_count; i++) {
            rec_block *b = t->ring[(t->ring_first + i) % t->settings.history_length];
            p->blocks[p->n_blocks++] = block_ref(b);
            s->history[s->n_history++] = b->rec;
        }
    }
    resources_locked(t, &s->resources);
    quality_locked(t, &s->quality);
    if (ok && t->quality.n_list > 0) {
        s->quality_frames = malloc((size_t)t->quality.n_list * sizeof(*s->quality_frames));
        ok = s->quality_frames != NULL;
        if (ok) {
            memcpy(s->quality_frames, t->quality.list,
                   (size_t)t->quality.n_list * sizeof(*s->quality_frames));
            s->n_quality_frames = t->quality.n_list;
        }
    }
    s->quality_frames_truncated = t->quality.truncated;
    pthread_mutex_unlock(&t->lock);

    if (!ok) {
        vsri_tracker_snapshot_free(&s);
        return vsri_error(VSR_ENOMEM, "tracker snapshot: out of memory");
    }
    if (s->n_strategies > 1)
        qsort(s->strategies, (size_t)s->n_strategies, sizeof(*s->strategies), cmp_strategy);
    *out = s;
    return 0;
}
