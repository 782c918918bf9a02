/* Tracker: statistics, history, callbacks, metadata, threads, sampler. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "libvsr/vsr.h"
#include "quality.h"
#include "sysinfo.h"
#include "testutil.h"
#include "tracker_internal.h"

#define NEAR(a, b) (fabs((a) - (b)) <= 1e-9 * fmax(1.0, fabs(b)))

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static vsr_tracker *new_tracker(int history, int sampler_ms)
{
    vsr_tracker_settings s;
    vsr_tracker_settings_default(&s);
    s.history_length = history;
    s.sampler_interval_ms = sampler_ms;
    vsr_tracker *t = NULL;
    int err = vsr_tracker_create(&t, &s);
    CHECK_EQ_INT(err, 0);
    return t;
}

static vsr_op_record make_record(vsr_op_type type, const char *strategy, int64_t duration_ns,
                                 int64_t frames, int success)
{
    vsr_op_record r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.type = type;
    r.strategy = strategy;
    r.start_ns = 1000;
    r.end_ns = 1000 + duration_ns;
    r.duration_ns = duration_ns;
    r.frames = frames;
    r.success = success;
    r.error_code = success ? 0 : VSR_ERROR_MODEL_RUN;
    return r;
}

/* Reference percentile: linear interpolation between nearest ranks. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double ref_percentile_ms(int64_t *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    double pos = p * (n - 1);
    int lo = (int)pos;
    if (lo >= n - 1)
        return v[n - 1] / 1e6;
    return (v[lo] + (pos - lo) * (double)(v[lo + 1] - v[lo])) / 1e6;
}

typedef struct expect {
    int64_t count, ok, fail, frames, total, min, max;
    int64_t d[1000];
} expect;

static void expect_add(expect *e, int64_t d, int64_t frames, int ok)
{
    if (e->count == 0 || d < e->min)
        e->min = d;
    if (e->count == 0 || d > e->max)
        e->max = d;
    e->d[e->count++] = d;
    e->total += d;
    e->frames += frames;
    if (ok)
        e->ok++;
    else
        e->fail++;
}

static void check_stats(const vsr_op_stats *s, expect *e)
{
    CHECK_EQ_INT(s->count, e->count);
    CHECK_EQ_INT(s->successes, e->ok);
    CHECK_EQ_INT(s->failures, e->fail);
    CHECK_EQ_INT(s->frames, e->frames);
    CHECK(NEAR(s->total_ms, e->total / 1e6));
    CHECK(NEAR(s->mean_ms, (double)e->total / (double)e->count / 1e6));
    CHECK(NEAR(s->min_ms, e->min / 1e6));
    CHECK(NEAR(s->max_ms, e->max / 1e6));
    double p50 = ref_percentile_ms(e->d, (int)e->count, 0.5);
    double p95 = ref_percentile_ms(e->d, (int)e->count, 0.95);
    CHECK_MSG(NEAR(s->p50_ms, p50), "p50 %.9f expected %.9f", s->p50_ms, p50);
    CHECK_MSG(NEAR(s->p95_ms, p95), "p95 %.9f expected %.9f", s->p95_ms, p95);
    CHECK(NEAR(s->fps, (double)e->frames / (e->total / 1e9)));
}

static void test_statistics(void)
{
    vsr_tracker *t = new_tracker(4096, 0);
    static expect all, a, b;
    memset(&all, 0, sizeof(all));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    /* 1000 durations 1..1000 ms (plus an odd number of ns) in a scrambled
     * order: 7 is coprime with 1000, so i*7 mod 1000 visits all of them. */
    for (int i = 0; i < 1000; i++) {
        int k = (i * 7) % 1000 + 1;
        int64_t d = (int64_t)k * 1000000 + k % 13;
        int64_t frames = k % 3 + 1;
        int ok = k % 10 != 0;
        const char *strat = k % 5 < 3 ? "model-a" : "model-b";
        vsr_op_record r = make_record(VSR_OP_INFERENCE, strat, d, frames, ok);
        CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
        expect_add(&all, d, frames, ok);
        expect_add(k % 5 < 3 ? &a : &b, d, frames, ok);
    }
    vsr_op_stats s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    CHECK_EQ_INT(vsr_tracker_get_stats(t, VSR_OP_INFERENCE, NULL, &s), 0);
    check_stats(&s, &all);
    CHECK_EQ_INT(vsr_tracker_get_stats(t, VSR_OP_INFERENCE, "model-a", &s), 0);
    check_stats(&s, &a);
    CHECK_EQ_INT(vsr_tracker_get_stats(t, VSR_OP_INFERENCE, "model-b", &s), 0);
    check_stats(&s, &b);
    CHECK_EQ_INT(a.count + b.count, 1000);

    /* Easy exact values: durations 1..1000 ms without the odd ns. */
    vsr_tracker *t2 = new_tracker(16, 0);
    for (int k = 1000; k >= 1; k--) {
        vsr_op_record r = make_record(VSR_OP_DECODE, "x", (int64_t)k * 1000000, 1, 1);
        vsr_tracker_record(t2, &r);
    }
    CHECK_EQ_INT(vsr_tracker_get_stats(t2, VSR_OP_DECODE, NULL, &s), 0);
    CHECK(s.min_ms == 1.0 && s.max_ms == 1000.0);
    CHECK(s.mean_ms == 500.5);
    CHECK(s.p50_ms == 500.5);
    CHECK(NEAR(s.p95_ms, 950.05));
    CHECK(NEAR(s.fps, 1000.0 / 500.5));

    /* Empty key, other type, unknown strategy: zeros, no error. */
    CHECK_EQ_INT(vsr_tracker_get_stats(t, VSR_OP_ENCODE, NULL, &s), 0);
    CHECK_EQ_INT(s.count, 0);
    CHECK(s.fps == 0);
    CHECK_EQ_INT(vsr_tracker_get_stats(t, VSR_OP_INFERENCE, "nope", &s), 0);
    CHECK_EQ_INT(s.count, 0);
    CHECK(vsr_tracker_get_stats(t, (vsr_op_type)42, NULL, &s) == VSR_EINVAL);

    /* A record without duration_ns gets end - start. */
    vsr_op_record r = make_record(VSR_OP_ENCODE, "x", 0, 1, 1);
    r.start_ns = 100;
    r.end_ns = 2000100;
    CHECK_EQ_INT(vsr_tracker_record(t2, &r), 0);
    vsr_tracker_get_stats(t2, VSR_OP_ENCODE, "x", &s);
    CHECK(s.max_ms == 2.0);
    r.type = (vsr_op_type)99;
    CHECK(vsr_tracker_record(t2, &r) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "type") != NULL);

    /* reset clears everything */
    vsr_tracker_reset(t);
    vsr_tracker_get_stats(t, VSR_OP_INFERENCE, NULL, &s);
    CHECK_EQ_INT(s.count, 0);
    CHECK_EQ_INT(vsr_tracker_history_count(t), 0);

    vsr_tracker_destroy(&t);
    CHECK(t == NULL);
    vsr_tracker_destroy(&t2);
    vsr_tracker_destroy(NULL);
}

static void test_reservoir(void)
{
    /* Beyond the exact range the percentiles are estimates from a uniform
     * sample: for 100000 uniform durations they must land close. */
    vsr_tracker *t = new_tracker(0, 0);
    for (int i = 0; i < 100000; i++) {
        int k = (int)(((int64_t)i * 7919) % 100000);
        vsr_op_record r = make_record(VSR_OP_UPLOAD, "m", (int64_t)(k + 1) * 1000, 1, 1);
        vsr_tracker_record(t, &r);
    }
    vsr_op_stats s = {.size = sizeof(s)};
    vsr_tracker_get_stats(t, VSR_OP_UPLOAD, "m", &s);
    CHECK_EQ_INT(s.count, 100000);
    CHECK(s.min_ms == 0.001 && s.max_ms == 100.0);
    CHECK_MSG(fabs(s.p50_ms - 50.0) < 2.0, "p50 %f", s.p50_ms);
    CHECK_MSG(fabs(s.p95_ms - 95.0) < 1.0, "p95 %f", s.p95_ms);
    CHECK_EQ_INT(vsr_tracker_history_count(t), 0);
    vsr_tracker_destroy(&t);
}

static void test_history(void)
{
    vsr_tracker *t = new_tracker(10, 0);
    char msg[64];
    for (int i = 0; i < 25; i++) {
        vsr_op_record r = make_record(VSR_OP_DECODE, "s", 1000, i, 1);
        snprintf(msg, sizeof(msg), "record %d", i);
        r.error_message = msg;
        r.device = "cpu";
        vsr_tracker_record(t, &r);
    }
    CHECK_EQ_INT(vsr_tracker_history_count(t), 10);
    vsr_op_record out = {.size = sizeof(out)};
    CHECK_EQ_INT(vsr_tracker_history_get(t, 0, &out), 0);
    CHECK_EQ_INT(out.frames, 15);
    CHECK(out.error_message && strcmp(out.error_message, "record 15") == 0);
    CHECK(out.error_message != msg); /* copied, not the caller's buffer */
    const char *kept = out.error_message;
    /* The oldest record leaves the ring, but the copy handed out stays valid. */
    for (int i = 0; i < 20; i++) {
        vsr_op_record r = make_record(VSR_OP_DECODE, "s", 1000, 100 + i, 1);
        vsr_tracker_record(t, &r);
    }
    CHECK(strcmp(kept, "record 15") == 0);
    CHECK_EQ_INT(vsr_tracker_history_get(t, 9, &out), 0);
    CHECK_EQ_INT(out.frames, 119);
    CHECK(vsr_tracker_history_get(t, 10, &out) == VSR_EINVAL);
    CHECK(vsr_tracker_history_get(t, -1, &out) == VSR_EINVAL);

    /* A caller compiled with a smaller vsr_op_record gets only its part. */
    struct {
        vsr_op_record rec;
        int canary;
    } small;
    memset(&small, 0x5a, sizeof(small));
    small.rec.size = (uint32_t)offsetof(vsr_op_record, in_width);
    CHECK_EQ_INT(vsr_tracker_history_get(t, 9, &small.rec), 0);
    CHECK_EQ_INT(small.rec.frames, 119);
    CHECK_EQ_INT(small.rec.size, offsetof(vsr_op_record, in_width));
    unsigned char *tail = (unsigned char *)&small.rec + offsetof(vsr_op_record, in_width);
    CHECK(tail[0] == 0x5a);
    vsr_tracker_destroy(&t);
}

typedef struct thread_arg {
    vsr_tracker *t;
    int id;
} thread_arg;

static void *record_thread(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 5000; i++) {
        const char *strat = i % 2 ? "s1" : "s2";
        vsr_op_record r = make_record(i % 3 ? VSR_OP_INFERENCE : VSR_OP_ENCODE, strat,
                                      1000 + i, 2, i % 7 != 0);
        vsr_tracker_record(a->t, &r);
        if (i % 500 == 0) {
            vsr_op_stats s = {.size = sizeof(s)};
            vsr_tracker_get_stats(a->t, VSR_OP_INFERENCE, NULL, &s);
        }
    }
    return NULL;
}

static int count_calls(void *user, const vsr_op_record *rec)
{
    (void)rec;
    (*(int *)user)++; /* not atomic: the tracker never calls us concurrently */
    return 0;
}

static void test_threads(void)
{
    vsr_tracker *t = new_tracker(1000, 5);
    int calls = 0;
    vsr_tracker_set_event_callback(t, count_calls, &calls);
    pthread_t th[2];
    thread_arg args[2] = {{t, 0}, {t, 1}};
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, record_thread, &args[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(calls, 10000);
    int64_t total = 0, frames = 0, ok = 0, fail = 0;
    for (int type = 0; type < VSR_OP_COUNT; type++) {
        vsr_op_stats all = {.size = sizeof(all)}, s1 = {.size = sizeof(s1)}, s2 = {.size = sizeof(s2)};
        vsr_tracker_get_stats(t, (vsr_op_type)type, NULL, &all);
        vsr_tracker_get_stats(t, (vsr_op_type)type, "s1", &s1);
        vsr_tracker_get_stats(t, (vsr_op_type)type, "s2", &s2);
        CHECK_EQ_INT(s1.count + s2.count, all.count);
        CHECK_EQ_INT(s1.frames + s2.frames, all.frames);
        CHECK(NEAR(s1.total_ms + s2.total_ms, all.total_ms));
        total += all.count;
        frames += all.frames;
        ok += all.successes;
        fail += all.failures;
    }
    CHECK_EQ_INT(total, 10000);
    CHECK_EQ_INT(frames, 20000);
    CHECK_EQ_INT(ok + fail, 10000);
    CHECK_EQ_INT(fail, 2 * 715); /* i % 7 == 0 for 715 of 0..4999 */
    CHECK_EQ_INT(vsr_tracker_history_count(t), 1000);
    vsr_tracker_destroy(&t);
}

typedef struct cb_state {
    vsr_tracker *t;
    int calls;
    int cancel_at;
    int64_t seen_count;
    char last_strategy[32];
    int progress_calls;
} cb_state;

static int on_event(void *user, const vsr_op_record *rec)
{
    cb_state *st = user;
    st->calls++;
    snprintf(st->last_strategy, sizeof(st->last_strategy), "%s", rec->strategy ? rec->strategy : "");
    /* Reading statistics from inside a callback must not deadlock, and
     * sees the record being reported. */
    vsr_op_stats s = {.size = sizeof(s)};
    vsr_tracker_get_stats(st->t, rec->type, NULL, &s);
    st->seen_count = s.count;
    return st->calls == st->cancel_at;
}

static int on_progress(void *user, const vsr_progress *p)
{
    cb_state *st = user;
    st->progress_calls++;
    return p->frames_done >= 10;
}

static void test_callbacks(void)
{
    vsr_tracker *t = new_tracker(100, 0);
    cb_state st = {.t = t, .cancel_at = 3};
    CHECK_EQ_INT(vsr_tracker_set_event_callback(t, on_event, &st), 0);
    CHECK_EQ_INT(vsr_tracker_set_progress_callback(t, on_progress, &st), 0);
    for (int i = 1; i <= 4; i++) {
        vsr_op_record r = make_record(VSR_OP_ENCODE, "cb", 100, 1, 1);
        int err = vsr_tracker_record(t, &r);
        CHECK_EQ_INT(err, i == 3 ? VSR_ERROR_CANCELLED : 0);
        CHECK_EQ_INT(st.seen_count, i);
    }
    CHECK_EQ_INT(st.calls, 4);
    CHECK(strcmp(st.last_strategy, "cb") == 0);
    /* a cancelled record is still recorded */
    CHECK_EQ_INT(vsr_tracker_history_count(t), 4);

    vsr_progress p = {.size = sizeof(p), .run_id = 1, .frames_done = 5, .frames_total = 20};
    CHECK_EQ_INT(vsr_tracker_progress(t, &p), 0);
    p.frames_done = 10;
    CHECK_EQ_INT(vsr_tracker_progress(t, &p), VSR_ERROR_CANCELLED);
    CHECK_EQ_INT(st.progress_calls, 2);

    vsr_tracker_set_event_callback(t, NULL, NULL);
    vsr_tracker_set_progress_callback(t, NULL, NULL);
    vsr_op_record r = make_record(VSR_OP_ENCODE, "cb", 100, 1, 1);
    CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
    CHECK_EQ_INT(vsr_tracker_progress(t, &p), 0);
    CHECK_EQ_INT(st.calls, 4);
    CHECK_EQ_INT(st.progress_calls, 2);
    vsr_tracker_destroy(&t);
}

static const char *meta_value(const vsr_op_record *r, const char *key)
{
    for (int i = 0; i < r->n_meta; i++) {
        if (strcmp(r->meta[i].key, key) == 0)
            return r->meta[i].value;
    }
    return NULL;
}

static void test_meta(void)
{
    vsr_tracker *t = new_tracker(100, 0);
    vsr_op_record r = make_record(VSR_OP_RUN, "m", 100, 1, 1);
    vsr_tracker_record(t, &r); /* before any meta */
    CHECK_EQ_INT(vsr_tracker_set_meta(t, "host", "box1"), 0);
    CHECK_EQ_INT(vsr_tracker_set_meta(t, "job", "1"), 0);
    CHECK_EQ_INT(vsr_tracker_set_meta(t, "job", "2"), 0); /* replaces */
    CHECK(vsr_tracker_set_meta(t, "", "x") == VSR_EINVAL);
    char own_value[16] = "mine";
    vsr_kv own[] = {{"job", "override"}, {"extra", own_value}};
    r.meta = own;
    r.n_meta = 2;
    vsr_tracker_record(t, &r);
    strcpy(own_value, "gone"); /* the tracker made its own copy */
    CHECK_EQ_INT(vsr_tracker_set_meta(t, "host", NULL), 0);
    r.meta = NULL;
    r.n_meta = 0;
    vsr_tracker_record(t, &r);

    vsr_op_record out = {.size = sizeof(out)};
    vsr_tracker_history_get(t, 0, &out);
    CHECK_EQ_INT(out.n_meta, 0);
    vsr_tracker_history_get(t, 1, &out);
    CHECK_EQ_INT(out.n_meta, 3);
    CHECK(meta_value(&out, "host") && strcmp(meta_value(&out, "host"), "box1") == 0);
    CHECK(meta_value(&out, "job") && strcmp(meta_value(&out, "job"), "override") == 0);
    CHECK(meta_value(&out, "extra") && strcmp(meta_value(&out, "extra"), "mine") == 0);
    vsr_tracker_history_get(t, 2, &out);
    CHECK_EQ_INT(out.n_meta, 1);
    CHECK(meta_value(&out, "host") == NULL);
    CHECK(meta_value(&out, "job") && strcmp(meta_value(&out, "job"), "2") == 0);
    vsr_tracker_destroy(&t);
}

static void test_old_structs(void)
{
    /* A caller built against a header whose settings ended after
     * history_length: the fields it does not know keep their defaults. */
    struct old_settings {
        uint32_t size;
        int history_length;
    } old = {sizeof(old), 3};
    vsr_tracker *t = NULL;
    CHECK_EQ_INT(vsr_tracker_create(&t, (const vsr_tracker_settings *)&old), 0);
    CHECK(vsri_tracker_granularity(t) == VSR_GRANULARITY_OPERATION);
    for (int i = 0; i < 5; i++) {
        /* an old record without the meta fields */
        vsr_op_record r = make_record(VSR_OP_DECODE, "m", 100, 1, 1);
        r.size = (uint32_t)offsetof(vsr_op_record, n_meta);
        r.n_meta = 5; /* beyond the caller's size: must be ignored */
        CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
    }
    CHECK_EQ_INT(vsr_tracker_history_count(t), 3);
    vsr_op_record out = {.size = sizeof(out)};
    vsr_tracker_history_get(t, 0, &out);
    CHECK_EQ_INT(out.n_meta, 0);
    vsr_tracker_destroy(&t);

    vsr_tracker_settings bad;
    vsr_tracker_settings_default(&bad);
    bad.size = sizeof(bad) + 64;
    CHECK(vsr_tracker_create(&t, &bad) == VSR_EINVAL);
    vsr_tracker_settings_default(&bad);
    bad.history_length = -1;
    CHECK(vsr_tracker_create(&t, &bad) == VSR_EINVAL);
    CHECK(t == NULL);

    vsr_tracker_settings gran;
    vsr_tracker_settings_default(&gran);
    gran.granularity = VSR_GRANULARITY_CHUNK;
    gran.sampler_interval_ms = 0;
    CHECK_EQ_INT(vsr_tracker_create(&t, &gran), 0);
    CHECK(vsri_tracker_granularity(t) == VSR_GRANULARITY_CHUNK);
    vsr_tracker_destroy(&t);
}

static void test_internal(void)
{
    vsr_tracker *t = new_tracker(10, 0);
    uint64_t a = vsri_tracker_new_run_id(t), b = vsri_tracker_new_run_id(t);
    CHECK(a != 0 && b > a);
    vsri_tracker_note_inflight(t, 3);
    vsri_tracker_note_inflight(t, 9);
    vsri_tracker_note_inflight(t, 4);
    vsri_tracker_set_queue_depth(t, 6);
    vsr_resource_stats rs = {.size = sizeof(rs)};
    CHECK_EQ_INT(vsr_tracker_get_resources(t, &rs), 0);
    CHECK_EQ_INT(rs.max_frames_in_flight, 9);
    CHECK_EQ_INT(rs.queue_depth, 6);
    CHECK_EQ_INT(rs.samples, 0);
    CHECK(rs.peak_device_bytes == -1 && rs.device_total_bytes == -1);
    CHECK(rs.gpu_util_percent_peak == -1);
    /* without a sampler, readers still get a reading */
    CHECK(rs.current_rss_bytes > 0 && rs.peak_rss_bytes >= rs.current_rss_bytes);

    /* vsr_tracker_ref: the tracker lives until the last reference goes */
    vsr_tracker *second = vsr_tracker_ref(t);
    vsr_tracker_destroy(&t);
    vsr_op_record r = make_record(VSR_OP_RUN, "m", 5, 1, 1);
    CHECK_EQ_INT(vsr_tracker_record(second, &r), 0);
    vsr_tracker_reset(second);
    CHECK_EQ_INT(vsri_tracker_new_run_id(second), b + 1); /* ids are not reset */
    vsr_tracker_get_resources(second, &rs);
    CHECK_EQ_INT(rs.max_frames_in_flight, 0);
    CHECK_EQ_INT(rs.queue_depth, 6);
    vsr_tracker_destroy(&second);
}

static void test_quality_stats(void)
{
    vsr_tracker *t = new_tracker(10, 0);
    vsr_quality_stats q = {.size = sizeof(q)};
    vsr_tracker_get_quality(t, &q);
    CHECK_EQ_INT(q.frames, 0);
    CHECK(isnan(q.psnr_mean) && isnan(q.ssim_min));
    vsr_tracker_record_quality(t, 0, 30.0, 0.9);
    vsr_tracker_record_quality(t, 1, INFINITY, 1.0); /* identical frame */
    vsr_tracker_record_quality(t, 2, NAN, 0.5);      /* PSNR not measured */
    vsr_tracker_get_quality(t, &q);
    CHECK_EQ_INT(q.frames, 3);
    CHECK(q.psnr_mean == (30.0 + VSRI_PSNR_CAP_DB) / 2);
    CHECK(q.psnr_min == 30.0);
    CHECK(NEAR(q.ssim_mean, 2.4 / 3));
    CHECK(q.ssim_min == 0.5);
    vsr_tracker_destroy(&t);
}

/* atomics: the sampler thread calls the probe while the test changes it */
typedef struct fake_gpu {
    atomic_int calls;
    _Atomic int64_t used;
} fake_gpu;

static int fake_probe(void *ctx, int64_t *used, int64_t *total, int64_t *peak, double *util)
{
    fake_gpu *g = ctx;
    g->calls++;
    *used = g->used;
    *total = 8000;
    (void)peak; /* unknown: the tracker keeps the largest `used` */
    *util = 42.5;
    return 0;
}

static void test_sampler(void)
{
    int threads_before = vsri_proc_thread_count();
    CHECK(threads_before >= 1);

    /* Off: no thread at all. */
    vsr_tracker *off = new_tracker(10, 0);
    CHECK_EQ_INT(vsri_proc_thread_count(), threads_before);
    vsr_tracker_destroy(&off);

    vsr_tracker *t = new_tracker(10, 10);
    CHECK_EQ_INT(vsri_proc_thread_count(), threads_before + 1);
    fake_gpu gpu;
    atomic_init(&gpu.calls, 0);
    atomic_init(&gpu.used, 1000);
    vsri_tracker_set_device_probe(t, fake_probe, &gpu);

    int64_t rss_before = vsri_proc_rss_bytes();
    /* mmap rather than malloc: freed memory then surely leaves the
     * process (malloc under a sanitizer keeps it in quarantine). */
    size_t big = 200u << 20;
    unsigned char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    if (p != MAP_FAILED) {
        /* touch every page so the memory is resident */
        for (size_t i = 0; i < big; i += 4096)
            p[i] = (unsigned char)i;
        p[big - 1] = 1;
        gpu.used = 5000;
        sleep_ms(30);
        gpu.used = 2000;
        munmap(p, big);
    }
    vsr_resource_stats rs = {.size = sizeof(rs)};
    for (int i = 0; i < 200; i++) {
        vsr_tracker_get_resources(t, &rs);
        if (rs.samples >= 3)
            break;
        sleep_ms(10);
    }
    sleep_ms(30);
    vsr_tracker_get_resources(t, &rs);
    CHECK(rs.samples > 0);
    CHECK_MSG(rs.peak_rss_bytes >= rss_before + (int64_t)(190u << 20),
              "peak %lld, before %lld", (long long)rs.peak_rss_bytes, (long long)rss_before);
    CHECK_MSG(rs.current_rss_bytes < rs.peak_rss_bytes - (int64_t)(100u << 20),
              "current %lld after free, peak %lld", (long long)rs.current_rss_bytes,
              (long long)rs.peak_rss_bytes);
    CHECK(rs.cpu_percent_mean >= 0 && rs.cpu_percent_peak >= rs.cpu_percent_mean * 0.5);
    CHECK(gpu.calls > 0);
    CHECK_EQ_INT(rs.peak_device_bytes, 5000);
    CHECK_EQ_INT(rs.device_total_bytes, 8000);
    CHECK(rs.gpu_util_percent_peak == 42.5);

    /* After removal the probe is not called again. */
    vsri_tracker_set_device_probe(t, NULL, &gpu);
    int calls = gpu.calls;
    sleep_ms(40);
    CHECK_EQ_INT(gpu.calls, calls);

    /* reset forgets the peaks (the kernel's high-water mark has not grown since) */
    vsr_tracker_reset(t);
    sleep_ms(40);
    vsr_tracker_get_resources(t, &rs);
    CHECK(rs.peak_rss_bytes < rss_before + (int64_t)(100u << 20));
    CHECK_EQ_INT(rs.peak_device_bytes, -1);

    /* destroy wakes the sampler at once, even with a long interval */
    vsr_tracker *slow = new_tracker(10, 60000);
    int64_t start = vsri_now_ns();
    vsr_tracker_destroy(&slow);
    CHECK((vsri_now_ns() - start) < 1000000000LL);

    vsr_tracker_destroy(&t);
    CHECK_EQ_INT(vsri_proc_thread_count(), threads_before);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET);
    test_statistics();
    test_reservoir();
    test_history();
    test_threads();
    test_callbacks();
    test_meta();
    test_old_structs();
    test_internal();
    test_quality_stats();
    test_sampler();
    return test_result("tracker");
}
