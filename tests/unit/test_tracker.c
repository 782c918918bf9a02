/* Tracker: statistics, trends, history, caller operations, callbacks,
 * metadata, the size rule, threads, sampler. */
#include <dirent.h>
#include <malloc.h>
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
    int err = vsr_tracker_open(&t, &s);
    CHECK_EQ_INT(err, 0);
    return t;
}

static vsr_op_record make_record(const char *type, const char *strategy, int64_t duration_ns,
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
    r.quality = NAN;
    r.peak_rss_bytes = r.peak_device_bytes = -1;
    return r;
}

static vsr_op_stats get_stats(vsr_tracker *t, const char *type, const char *strategy)
{
    vsr_op_stats s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    CHECK_EQ_INT(vsr_tracker_get_stats(t, type, strategy, &s), 0);
    return s;
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
    CHECK(NEAR(s->success_rate, (double)e->ok / (double)e->count));
    double p50 = ref_percentile_ms(e->d, (int)e->count, 0.5);
    double p95 = ref_percentile_ms(e->d, (int)e->count, 0.95);
    CHECK_MSG(NEAR(s->p50_ms, p50), "p50 %.9f expected %.9f", s->p50_ms, p50);
    CHECK_MSG(NEAR(s->p95_ms, p95), "p95 %.9f expected %.9f", s->p95_ms, p95);
    CHECK(NEAR(s->fps, (double)e->frames / (e->total / 1e9)));
}

static void test_statistics(void)
{
    vsr_tracker *t = new_tracker(4096, 0);
    static expect all, a, b, other;
    memset(&all, 0, sizeof(all));
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&other, 0, sizeof(other));
    /* 1000 durations 1..1000 ms (plus an odd number of ns) in a scrambled
     * order: 7 is coprime with 1000, so i*7 mod 1000 visits all of them.
     * A caller's type with strategy "model-a" too, for the per-strategy
     * statistics over every type. */
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
        if (i < 100) {
            vsr_op_record o = make_record("analysis", "model-a", d + 5, 1, 1);
            CHECK_EQ_INT(vsr_tracker_record(t, &o), 0);
            expect_add(&other, d + 5, 1, 1);
        }
    }
    vsr_op_stats s = get_stats(t, VSR_OP_INFERENCE, NULL);
    check_stats(&s, &all);
    s = get_stats(t, "inference", "model-a"); /* the macro is only the name */
    check_stats(&s, &a);
    s = get_stats(t, VSR_OP_INFERENCE, "model-b");
    check_stats(&s, &b);
    CHECK_EQ_INT(a.count + b.count, 1000);
    s = get_stats(t, "analysis", NULL);
    check_stats(&s, &other);
    /* per strategy over every type: inference by model-a plus analysis */
    s = get_stats(t, NULL, "model-a");
    CHECK_EQ_INT(s.count, a.count + other.count);
    CHECK_EQ_INT(s.frames, a.frames + other.frames);
    CHECK(NEAR(s.total_ms, (a.total + other.total) / 1e6));
    CHECK_EQ_INT(s.successes, a.ok + other.ok);
    s = get_stats(t, NULL, NULL);
    CHECK_EQ_INT(s.count, 1100);
    /* no record carried a memory peak */
    CHECK(s.peak_rss_bytes == -1 && s.peak_device_bytes == -1);

    /* Easy exact values: durations 1..1000 ms without the odd ns. */
    vsr_tracker *t2 = new_tracker(16, 0);
    for (int k = 1000; k >= 1; k--) {
        vsr_op_record r = make_record(VSR_OP_DECODE, "x", (int64_t)k * 1000000, 1, 1);
        vsr_tracker_record(t2, &r);
    }
    s = get_stats(t2, VSR_OP_DECODE, NULL);
    CHECK(s.min_ms == 1.0 && s.max_ms == 1000.0);
    CHECK(s.mean_ms == 500.5);
    CHECK(s.p50_ms == 500.5);
    CHECK(NEAR(s.p95_ms, 950.05));
    CHECK(NEAR(s.fps, 1000.0 / 500.5));
    CHECK(s.success_rate == 1.0);

    /* Four values: p50 halfway between the middle two, p95 at rank 2.85. */
    for (int k = 4; k >= 1; k--) {
        vsr_op_record r = make_record("four", NULL, (int64_t)k * 10000000, 0, k != 2);
        vsr_tracker_record(t2, &r);
    }
    s = get_stats(t2, "four", NULL);
    CHECK(s.p50_ms == 25.0);
    CHECK(NEAR(s.p95_ms, 38.5));
    CHECK(s.success_rate == 0.75);
    /* no strategy: listed and found as "" */
    CHECK_EQ_INT(get_stats(t2, "four", "").count, 4);

    /* Unknown names, other type: zeros, no error; success rate undefined. */
    s = get_stats(t, VSR_OP_ENCODE, NULL);
    CHECK_EQ_INT(s.count, 0);
    CHECK(s.fps == 0 && isnan(s.success_rate) && s.peak_rss_bytes == -1);
    CHECK_EQ_INT(get_stats(t, VSR_OP_INFERENCE, "nope").count, 0);
    CHECK_EQ_INT(get_stats(t, "no such type", NULL).count, 0);

    /* A record without duration_ns gets end - start. */
    vsr_op_record r = make_record(VSR_OP_ENCODE, "x", 0, 1, 1);
    r.start_ns = 100;
    r.end_ns = 2000100;
    CHECK_EQ_INT(vsr_tracker_record(t2, &r), 0);
    CHECK(get_stats(t2, VSR_OP_ENCODE, "x").max_ms == 2.0);
    /* a type is required, non-empty and not too long */
    r.type = NULL;
    CHECK(vsr_tracker_record(t2, &r) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "type") != NULL);
    r.type = "";
    CHECK(vsr_tracker_record(t2, &r) == VSR_EINVAL);
    char longname[VSR_OP_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    r.type = longname;
    CHECK(vsr_tracker_record(t2, &r) == VSR_EINVAL);
    longname[VSR_OP_NAME_MAX] = 0; /* exactly the maximum */
    CHECK_EQ_INT(vsr_tracker_record(t2, &r), 0);
    r.type = "x";
    r.strategy = longname;
    longname[VSR_OP_NAME_MAX] = 'x';
    CHECK(vsr_tracker_record(t2, &r) == VSR_EINVAL);

    /* reset clears everything */
    vsr_tracker_reset(t);
    CHECK_EQ_INT(get_stats(t, VSR_OP_INFERENCE, NULL).count, 0);
    CHECK_EQ_INT(get_stats(t, NULL, NULL).count, 0);
    CHECK_EQ_INT(vsr_tracker_history_count(t), 0);

    vsr_tracker_unref(&t);
    CHECK(t == NULL);
    vsr_tracker_unref(&t2);
    vsr_tracker_unref(&t2);
    vsr_tracker_unref(NULL);
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
    vsr_op_stats s = get_stats(t, VSR_OP_UPLOAD, "m");
    CHECK_EQ_INT(s.count, 100000);
    CHECK(s.min_ms == 0.001 && s.max_ms == 100.0);
    CHECK_MSG(fabs(s.p50_ms - 50.0) < 2.0, "p50 %f", s.p50_ms);
    CHECK_MSG(fabs(s.p95_ms - 95.0) < 1.0, "p95 %f", s.p95_ms);
    CHECK_EQ_INT(vsr_tracker_history_count(t), 0);
    vsr_tracker_unref(&t);
}

static vsr_op_trend get_trend(vsr_tracker *t, const char *type, const char *strategy, int window)
{
    vsr_op_trend tr;
    memset(&tr, 0, sizeof(tr));
    tr.size = sizeof(tr);
    CHECK_EQ_INT(vsr_tracker_get_trend(t, type, strategy, window, &tr), 0);
    return tr;
}

static void test_trends(void)
{
    vsr_tracker *t = new_tracker(8, 0);
    /* 10 operations of 10 ms that succeed, then 10 of 20 ms, every other
     * one failing; another strategy and another type in between. */
    for (int i = 0; i < 20; i++) {
        int slow = i >= 10;
        vsr_op_record r = make_record("enhancement", "vsrm", slow ? 20000000 : 10000000, 1, !slow || i % 2 == 0);
        CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
        vsr_op_record o = make_record("enhancement", "other", 1000000, 1, 1);
        CHECK_EQ_INT(vsr_tracker_record(t, &o), 0);
        vsr_op_record x = make_record("analysis", "vsrm", 3000000, 1, 0);
        CHECK_EQ_INT(vsr_tracker_record(t, &x), 0);
    }
    vsr_op_trend tr = get_trend(t, "enhancement", "vsrm", 10);
    CHECK_EQ_INT(tr.window, 10);
    CHECK_EQ_INT(tr.recent_count, 10);
    CHECK_EQ_INT(tr.previous_count, 10);
    CHECK(tr.recent_mean_ms == 20.0 && tr.previous_mean_ms == 10.0);
    CHECK(tr.duration_ratio == 2.0);
    CHECK(tr.recent_success_rate == 0.5 && tr.previous_success_rate == 1.0);

    /* window 15: the last 15 are 5 fast + 10 slow, the 5 before are fast */
    tr = get_trend(t, "enhancement", "vsrm", 15);
    CHECK_EQ_INT(tr.recent_count, 15);
    CHECK_EQ_INT(tr.previous_count, 5);
    CHECK(NEAR(tr.recent_mean_ms, (5 * 10.0 + 10 * 20.0) / 15));
    CHECK(tr.previous_mean_ms == 10.0);
    CHECK(NEAR(tr.duration_ratio, tr.recent_mean_ms / 10.0));
    CHECK(NEAR(tr.recent_success_rate, 10.0 / 15));

    /* more than there are: everything recent, nothing before */
    tr = get_trend(t, "enhancement", "vsrm", 100);
    CHECK_EQ_INT(tr.recent_count, 20);
    CHECK_EQ_INT(tr.previous_count, 0);
    CHECK(NEAR(tr.recent_mean_ms, 15.0));
    CHECK(isnan(tr.previous_mean_ms) && isnan(tr.duration_ratio) && isnan(tr.previous_success_rate));

    /* per type over both strategies: the last 10 alternate other (1 ms) and vsrm (20 ms) */
    tr = get_trend(t, "enhancement", NULL, 10);
    CHECK(NEAR(tr.recent_mean_ms, 10.5));
    CHECK(NEAR(tr.previous_mean_ms, 10.5)); /* the 10 before: 5 x 1 ms + 5 x 20 ms too */
    /* per strategy over both types: vsrm's last 4 are enhancement 20, analysis 3, ... */
    tr = get_trend(t, NULL, "vsrm", 4);
    CHECK(NEAR(tr.recent_mean_ms, 11.5));
    CHECK(tr.recent_success_rate == 0.25); /* analysis fails; enhancement 19 fails, 18 succeeds */
    /* the trend is not limited by the history (8 records here) */
    CHECK_EQ_INT(vsr_tracker_history_count(t), 8);

    /* nothing known: zero counts, NaN means */
    tr = get_trend(t, "nothing", NULL, 5);
    CHECK(tr.recent_count == 0 && tr.previous_count == 0 && isnan(tr.recent_mean_ms));
    CHECK(isnan(tr.recent_success_rate));

    /* the window is checked */
    vsr_op_trend bad = {.size = sizeof(bad)};
    CHECK(vsr_tracker_get_trend(t, NULL, NULL, 0, &bad) == VSR_EINVAL);
    CHECK(vsr_tracker_get_trend(t, NULL, NULL, VSR_TRACKER_TREND_MAX_WINDOW + 1, &bad) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "window") != NULL);
    CHECK_EQ_INT(vsr_tracker_get_trend(t, NULL, NULL, VSR_TRACKER_TREND_MAX_WINDOW, &bad), 0);
    CHECK_EQ_INT(bad.recent_count, 60);

    /* beyond what is kept: the last 2 x max window outcomes are compared */
    for (int i = 0; i < 3 * VSR_TRACKER_TREND_MAX_WINDOW; i++) {
        vsr_op_record r = make_record("long", NULL, i < 2 * VSR_TRACKER_TREND_MAX_WINDOW ? 1000000 : 3000000, 0, 1);
        vsr_tracker_record(t, &r);
    }
    tr = get_trend(t, "long", NULL, VSR_TRACKER_TREND_MAX_WINDOW);
    CHECK_EQ_INT(tr.recent_count, VSR_TRACKER_TREND_MAX_WINDOW);
    CHECK_EQ_INT(tr.previous_count, VSR_TRACKER_TREND_MAX_WINDOW);
    CHECK(tr.recent_mean_ms == 3.0 && tr.previous_mean_ms == 1.0 && tr.duration_ratio == 3.0);

    vsr_tracker_reset(t);
    CHECK_EQ_INT(get_trend(t, "enhancement", "vsrm", 10).recent_count, 0);
    vsr_tracker_unref(&t);
}

static void test_list(void)
{
    vsr_tracker *t = new_tracker(10, 0);
    char **names = (char **)1;
    int n = -1;
    CHECK_EQ_INT(vsr_tracker_list(t, VSR_LIST_TYPES, &names, &n), 0);
    CHECK(n == 0 && names != NULL && names[0] == NULL);
    vsr_free(names);
    const char *types[] = {"zeta", VSR_OP_DECODE, "analysis", "zeta", VSR_OP_DECODE};
    const char *strats[] = {"s2", "s1", NULL, "s1", "s2"};
    for (int i = 0; i < 5; i++) {
        vsr_op_record r = make_record(types[i], strats[i], 1000, 1, 1);
        CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
    }
    CHECK_EQ_INT(vsr_tracker_list(t, VSR_LIST_TYPES, &names, &n), 0);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK(strcmp(names[0], "analysis") == 0 && strcmp(names[1], "decode") == 0 &&
              strcmp(names[2], "zeta") == 0 && names[3] == NULL);
    }
    vsr_free(names);
    CHECK_EQ_INT(vsr_tracker_list(t, VSR_LIST_STRATEGIES, &names, &n), 0);
    CHECK_EQ_INT(n, 3);
    if (n == 3)
        CHECK(strcmp(names[0], "") == 0 && strcmp(names[1], "s1") == 0 && strcmp(names[2], "s2") == 0);
    vsr_free(names);
    CHECK(vsr_tracker_list(t, 3, &names, &n) == VSR_EINVAL);
    CHECK(vsr_tracker_list(t, VSR_LIST_TYPES, NULL, &n) == VSR_EINVAL);
    /* an operation in flight is not a record yet */
    vsr_op *op = NULL;
    CHECK_EQ_INT(vsr_op_begin(t, "pending", NULL, &op), 0);
    CHECK_EQ_INT(vsr_tracker_list(t, VSR_LIST_TYPES, &names, &n), 0);
    CHECK_EQ_INT(n, 3);
    vsr_free(names);
    vsr_op_end(&op, 0, NULL);
    vsr_tracker_reset(t);
    CHECK_EQ_INT(vsr_tracker_list(t, VSR_LIST_TYPES, &names, &n), 0);
    CHECK_EQ_INT(n, 0); /* it ended before the reset */
    vsr_free(names);
    vsr_tracker_unref(&t);
}

static vsr_op_record *history_get(vsr_tracker *t, int i)
{
    vsr_op_record *r = NULL;
    int err = vsr_tracker_history_get(t, i, &r);
    CHECK_MSG(err == 0 && r, "history_get(%d): %s", i, vsr_strerror(err));
    return r;
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
        r.quality = i;
        vsr_tracker_record(t, &r);
    }
    CHECK_EQ_INT(vsr_tracker_history_count(t), 10);
    vsr_op_record *out = history_get(t, 0);
    if (out) {
        CHECK_EQ_INT(out->size, sizeof(vsr_op_record));
        CHECK_EQ_INT(out->frames, 15);
        CHECK(out->quality == 15.0);
        CHECK(out->error_message && strcmp(out->error_message, "record 15") == 0);
        CHECK(out->error_message != msg); /* copied, not the caller's buffer */
        CHECK(strcmp(out->type, "decode") == 0 && strcmp(out->device, "cpu") == 0);
        /* ids: unique, never 0, in the order of recording */
        vsr_op_record *next = history_get(t, 1);
        CHECK(out->id > 0 && next && next->id == out->id + 1);
        vsr_free(next);
    }
    /* The block belongs to the caller: the ring moving on, a reset and
     * the tracker's end leave it valid. */
    for (int i = 0; i < 20; i++) {
        vsr_op_record r = make_record(VSR_OP_DECODE, "s", 1000, 100 + i, 1);
        vsr_tracker_record(t, &r);
    }
    vsr_op_record *last = history_get(t, 9);
    CHECK(last && last->frames == 119);
    vsr_op_record *dummy = (vsr_op_record *)1;
    CHECK(vsr_tracker_history_get(t, 10, &dummy) == VSR_EINVAL);
    CHECK(dummy == NULL);
    CHECK(vsr_tracker_history_get(t, -1, &dummy) == VSR_EINVAL);
    CHECK(vsr_tracker_history_get(t, 0, NULL) == VSR_EINVAL);
    vsr_tracker_reset(t);
    vsr_tracker_unref(&t);
    CHECK(out && strcmp(out->error_message, "record 15") == 0 && strcmp(out->strategy, "s") == 0);
    CHECK(last && strcmp(last->type, "decode") == 0);
    vsr_free(out);
    vsr_free(last);
}

/* ---- history_get keeps nothing per calling thread (defect 8) */

enum { BIG_MESSAGE = 1024 * 1024, HISTORY_THREADS = 32 };

typedef struct reader_arg {
    vsr_tracker *t;
    int index;
    int ok;
} reader_arg;

static void *history_reader(void *p)
{
    reader_arg *a = p;
    vsr_op_record *r = NULL;
    a->ok = vsr_tracker_history_get(a->t, a->index, &r) == 0 && r && strlen(r->error_message) == BIG_MESSAGE - 1;
    vsr_free(r);
    return NULL;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void test_history_no_scratch(void)
{
    /* Each of many short-lived threads reads a different record with a
     * large message; then the history is cleared. Nothing of it may stay
     * allocated: a copy kept per calling thread (thread ids are reused,
     * so at least one per thread alive at once, 8) would hold 8 MiB. */
    char *msg = malloc(BIG_MESSAGE);
    if (!msg)
        return;
    memset(msg, 'm', BIG_MESSAGE - 1);
    msg[BIG_MESSAGE - 1] = 0;
    /* Under a sanitizer's allocator mallinfo2 may say nothing: calibrate. */
    size_t base = heap_in_use();
    char *probe = malloc(4 << 20);
    memset(probe, 1, 4 << 20);
    int measurable = heap_in_use() >= base + (4u << 20);
    free(probe);

    vsr_tracker *t = new_tracker(HISTORY_THREADS, 0);
    size_t before = heap_in_use();
    for (int i = 0; i < HISTORY_THREADS; i++) {
        vsr_op_record r = make_record("read", "x", 1000, 1, 0);
        r.error_message = msg;
        CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
    }
    reader_arg args[HISTORY_THREADS];
    for (int wave = 0; wave < HISTORY_THREADS; wave += 8) {
        pthread_t th[8];
        for (int i = 0; i < 8; i++) {
            args[wave + i] = (reader_arg){t, wave + i, 0};
            pthread_create(&th[i], NULL, history_reader, &args[wave + i]);
        }
        for (int i = 0; i < 8; i++)
            pthread_join(th[i], NULL);
    }
    for (int i = 0; i < HISTORY_THREADS; i++)
        CHECK_MSG(args[i].ok, "thread %d could not read record %d", i, i);
    vsr_tracker_reset(t);
    size_t after = heap_in_use();
    if (measurable) {
        long long grown = (long long)after - (long long)before;
        fprintf(stderr, "history read by %d threads, then cleared: %lld bytes more in use\n", HISTORY_THREADS, grown);
        CHECK_MSG(grown < (2 << 20), "after %d threads read the history and it was cleared, %lld bytes more are in "
                  "use", HISTORY_THREADS, grown);
    } else
        fprintf(stderr, "history scratch: this allocator does not report heap use; growth not measured\n");
    vsr_tracker_unref(&t);
    free(msg);
}

/* ---- the size rule of result and settings structs (defect 7) */

#define CANARY 0xA5

typedef int (*getter)(vsr_tracker *t, void *out);
static int get_stats_any(vsr_tracker *t, void *out)
{
    return vsr_tracker_get_stats(t, NULL, NULL, out);
}
static int get_trend_any(vsr_tracker *t, void *out)
{
    return vsr_tracker_get_trend(t, NULL, NULL, 5, out);
}
static int get_resources(vsr_tracker *t, void *out)
{
    return vsr_tracker_get_resources(t, out);
}
static int get_quality(vsr_tracker *t, void *out)
{
    return vsr_tracker_get_quality(t, out);
}

static void check_result_rule(vsr_tracker *t, const char *name, getter get, size_t full, size_t mid)
{
    unsigned char buf[512];
    uint32_t sizes[] = {0, 1, 3};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        memset(buf, CANARY, sizeof(buf));
        memcpy(buf, &sizes[k], sizeof(uint32_t));
        CHECK_MSG(get(t, buf) == VSR_EINVAL, "%s with size %u accepted", name, sizes[k]);
        uint32_t back;
        memcpy(&back, buf, sizeof(back));
        CHECK_MSG(back == sizes[k], "%s: size %u became %u", name, sizes[k], back);
        int untouched = 1;
        for (size_t i = 4; i < sizeof(buf); i++)
            untouched &= buf[i] == CANARY;
        CHECK_MSG(untouched, "%s with size %u wrote into the struct", name, sizes[k]);
    }
    /* an older, smaller struct: nothing past its size, size unchanged */
    memset(buf, CANARY, sizeof(buf));
    uint32_t size = (uint32_t)mid;
    memcpy(buf, &size, sizeof(size));
    CHECK_EQ_INT(get(t, buf), 0);
    uint32_t back;
    memcpy(&back, buf, sizeof(back));
    CHECK_EQ_INT(back, mid);
    int beyond = 1, inside = 0;
    for (size_t i = mid; i < sizeof(buf); i++)
        beyond &= buf[i] == CANARY;
    for (size_t i = 4; i < mid; i++)
        inside |= buf[i] != CANARY;
    CHECK_MSG(beyond, "%s with size %zu wrote past it", name, mid);
    CHECK_MSG(inside, "%s with size %zu filled nothing", name, mid);
    /* a newer, larger struct: libvsr's part filled, the rest zeroed, size = libvsr's */
    memset(buf, CANARY, sizeof(buf));
    size = (uint32_t)full + 24;
    memcpy(buf, &size, sizeof(size));
    CHECK_EQ_INT(get(t, buf), 0);
    memcpy(&back, buf, sizeof(back));
    CHECK_EQ_INT(back, full);
    int zeroed = 1, untouched = 1;
    for (size_t i = full; i < full + 24; i++)
        zeroed &= buf[i] == 0;
    for (size_t i = full + 24; i < sizeof(buf); i++)
        untouched &= buf[i] == CANARY;
    CHECK_MSG(zeroed && untouched, "%s with a larger size: tail not zeroed, or written past", name);
}

static void test_size_rule(void)
{
    vsr_tracker *t = new_tracker(10, 0);
    vsr_op_record r = make_record("x", "y", 1000, 1, 1);
    vsr_tracker_record(t, &r);
    vsr_tracker_record_quality(t, 0, 30, 0.9);
    check_result_rule(t, "vsr_op_stats", get_stats_any, sizeof(vsr_op_stats), offsetof(vsr_op_stats, mean_ms));
    check_result_rule(t, "vsr_op_trend", get_trend_any, sizeof(vsr_op_trend),
                      offsetof(vsr_op_trend, recent_mean_ms));
    check_result_rule(t, "vsr_resource_stats", get_resources, sizeof(vsr_resource_stats),
                      offsetof(vsr_resource_stats, cpu_percent_mean));
    check_result_rule(t, "vsr_quality_stats", get_quality, sizeof(vsr_quality_stats),
                      offsetof(vsr_quality_stats, psnr_min));
    /* the fields inside a smaller struct are right */
    vsr_op_stats st;
    memset(&st, 0, sizeof(st));
    st.size = (uint32_t)offsetof(vsr_op_stats, mean_ms);
    CHECK(vsr_tracker_get_stats(t, "x", NULL, &st) == 0 && st.count == 1 && st.successes == 1 && st.mean_ms == 0);

    /* records and progress given by the caller follow the settings rule */
    r.size = 0;
    CHECK(vsr_tracker_record(t, &r) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "size") != NULL);
    r.size = sizeof(r) + 8;
    CHECK(vsr_tracker_record(t, &r) == VSR_EINVAL);
    vsr_progress p = {.size = 0, .frames_done = 1};
    CHECK(vsr_tracker_progress(t, &p) == VSR_EINVAL);
    p.size = sizeof(p) + 4;
    CHECK(vsr_tracker_progress(t, &p) == VSR_EINVAL);
    p.size = sizeof(p);
    CHECK_EQ_INT(vsr_tracker_progress(t, &p), 0);
    CHECK_EQ_INT(get_stats(t, NULL, NULL).count, 1);

    vsr_tracker_settings s;
    vsr_tracker_settings_default(&s);
    s.size = 0;
    vsr_tracker *t2 = (vsr_tracker *)1;
    CHECK(vsr_tracker_open(&t2, &s) == VSR_EINVAL && t2 == NULL);
    s.size = 3;
    CHECK(vsr_tracker_open(&t2, &s) == VSR_EINVAL);
    s.size = sizeof(s) + 4;
    CHECK(vsr_tracker_open(&t2, &s) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "size") != NULL);
    vsr_tracker_unref(&t);
}

/* ---- caller operations */

static const char *meta_value(const vsr_op_record *r, const char *key)
{
    for (int i = 0; i < r->n_meta; i++) {
        if (strcmp(r->meta[i].key, key) == 0)
            return r->meta[i].value;
    }
    return NULL;
}

typedef struct last_event {
    int calls;
    uint64_t id;
    char type[32], strategy[32], message[64];
    int success, error_code;
} last_event;

static int remember_event(void *user, const vsr_op_record *rec)
{
    last_event *e = user;
    e->calls++;
    e->id = rec->id;
    snprintf(e->type, sizeof(e->type), "%s", rec->type);
    snprintf(e->strategy, sizeof(e->strategy), "%s", rec->strategy ? rec->strategy : "(null)");
    snprintf(e->message, sizeof(e->message), "%s", rec->error_message ? rec->error_message : "");
    e->success = rec->success;
    e->error_code = rec->error_code;
    return 0;
}

static void test_caller_ops(void)
{
    vsr_tracker *t = new_tracker(100, 0);
    last_event ev = {0};
    vsr_tracker_set_event_callback(t, remember_event, &ev);
    vsr_tracker_set_meta(t, "host", "box1");
    vsr_tracker_set_meta(t, "job", "7");

    vsr_op *a = NULL, *b = NULL;
    CHECK_EQ_INT(vsr_op_begin(t, "analysis", "degradation_router", &a), 0);
    CHECK_EQ_INT(vsr_op_begin(t, "enhancement", NULL, &b), 0);
    CHECK(a && b);
    if (!a || !b)
        return;
    CHECK_EQ_INT(vsr_op_set_frames(a, 24), 0);
    CHECK_EQ_INT(vsr_op_set_resolution(a, 640, 360, 1920, 1080), 0);
    CHECK_EQ_INT(vsr_op_set_quality(a, 0.83), 0);
    CHECK_EQ_INT(vsr_op_set_meta(a, "job", "override"), 0);
    CHECK_EQ_INT(vsr_op_set_meta(a, "scene", "night"), 0);
    CHECK_EQ_INT(vsr_op_set_meta(a, "tmp", "x"), 0);
    CHECK_EQ_INT(vsr_op_set_meta(a, "tmp", NULL), 0);
    CHECK_EQ_INT(vsr_op_set_resolution(b, 100, 100, 150, 150), 0); /* 1.5x: no integer scale */
    CHECK_EQ_INT(vsr_op_set_resolution(b, 100, 50, 400, 100), 0);  /* 4x by 2x: none either */

    /* bad arguments */
    CHECK(vsr_op_set_frames(a, -1) == VSR_EINVAL);
    CHECK(vsr_op_set_frames(NULL, 1) == VSR_EINVAL);
    CHECK(vsr_op_set_resolution(a, -1, 1, 1, 1) == VSR_EINVAL);
    CHECK(vsr_op_set_scale(a, -2) == VSR_EINVAL);
    CHECK(vsr_op_set_meta(a, "", "v") == VSR_EINVAL);
    CHECK(vsr_op_set_quality(NULL, 1) == VSR_EINVAL);
    vsr_op *bad = (vsr_op *)1;
    CHECK(vsr_op_begin(t, "", NULL, &bad) == VSR_EINVAL && bad == NULL);
    CHECK(vsr_op_begin(t, NULL, NULL, &bad) == VSR_EINVAL);
    CHECK(vsr_op_begin(NULL, "x", NULL, &bad) == VSR_EINVAL);
    CHECK(vsr_op_begin(t, "x", NULL, NULL) == VSR_EINVAL);
    CHECK(vsr_op_end(NULL, 0, NULL) == VSR_EINVAL);
    CHECK(vsr_op_end(&bad, 0, NULL) == VSR_EINVAL); /* bad is NULL now */

    /* in flight: both, oldest first, with what was set so far */
    vsr_op_record **fl = NULL;
    int n = -1;
    CHECK_EQ_INT(vsr_tracker_in_flight(t, &fl, &n), 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2 && fl) {
        /* an array of pointers into the same block */
        CHECK((char *)fl[0] > (char *)fl && (char *)fl[1] > (char *)fl[0]);
        CHECK(strcmp(fl[0]->type, "analysis") == 0 && strcmp(fl[0]->strategy, "degradation_router") == 0);
        CHECK(strcmp(fl[1]->type, "enhancement") == 0 && fl[1]->strategy == NULL);
        CHECK(fl[0]->id > 0 && fl[1]->id == fl[0]->id + 1);
        CHECK_EQ_INT(fl[0]->frames, 24);
        CHECK(fl[0]->in_width == 640 && fl[0]->out_height == 1080 && fl[0]->scale == 3);
        CHECK(fl[0]->quality == 0.83);
        CHECK(isnan(fl[1]->quality));
        CHECK_EQ_INT(fl[1]->scale, 0);
        CHECK(fl[0]->end_ns == 0 && fl[0]->start_ns > 0 && fl[0]->duration_ns >= 0 && fl[0]->success == 0);
        CHECK(fl[0]->start_ns <= fl[1]->start_ns);
        /* the operation's own metadata (the tracker's joins at the end) */
        CHECK_EQ_INT(fl[0]->n_meta, 2);
        CHECK(meta_value(fl[0], "scene") && strcmp(meta_value(fl[0], "scene"), "night") == 0);
        CHECK(meta_value(fl[0], "tmp") == NULL);
        CHECK(fl[0]->size == sizeof(vsr_op_record));
    }
    vsr_free(fl);
    CHECK_EQ_INT(ev.calls, 0);

    /* the caller drops its reference: the operations keep the tracker */
    vsr_tracker *mine = vsr_tracker_ref(t);
    vsr_tracker_unref(&t);
    t = mine;

    uint64_t a_id = 0;
    {
        vsr_op_record **tmp = NULL;
        vsr_tracker_in_flight(t, &tmp, &n);
        a_id = n > 0 ? tmp[0]->id : 0;
        vsr_free(tmp);
    }
    CHECK_EQ_INT(vsr_op_set_scale(a, 4), 0); /* an explicit scale wins */
    CHECK_EQ_INT(vsr_op_end(&a, 0, NULL), 0);
    CHECK(a == NULL);
    CHECK_EQ_INT(ev.calls, 1);
    CHECK(strcmp(ev.type, "analysis") == 0 && ev.success == 1 && ev.id == a_id);
    char message[32] = "model exploded";
    CHECK_EQ_INT(vsr_op_end(&b, -5, message), 0);
    strcpy(message, "overwritten");
    CHECK_EQ_INT(ev.calls, 2);
    CHECK(strcmp(ev.type, "enhancement") == 0 && ev.success == 0 && ev.error_code == -5);
    CHECK(strcmp(ev.message, "model exploded") == 0);

    CHECK_EQ_INT(vsr_tracker_in_flight(t, &fl, &n), 0);
    CHECK(n == 0 && fl == NULL);

    CHECK_EQ_INT(vsr_tracker_history_count(t), 2);
    vsr_op_record *r = history_get(t, 0);
    if (r) {
        CHECK(strcmp(r->type, "analysis") == 0 && r->id == a_id);
        CHECK(r->success == 1 && r->error_code == 0 && r->error_message == NULL);
        CHECK(r->end_ns >= r->start_ns && r->duration_ns == r->end_ns - r->start_ns);
        CHECK(r->frames == 24 && r->scale == 4 && r->quality == 0.83);
        CHECK_EQ_INT(r->n_meta, 3);
        CHECK(meta_value(r, "host") && strcmp(meta_value(r, "host"), "box1") == 0);
        CHECK(meta_value(r, "job") && strcmp(meta_value(r, "job"), "override") == 0);
        CHECK(meta_value(r, "scene") && strcmp(meta_value(r, "scene"), "night") == 0);
        /* without a sampler, begin and end readings: the process's RSS is known */
        CHECK_MSG(r->peak_rss_bytes > 0, "peak RSS %lld", (long long)r->peak_rss_bytes);
        CHECK_EQ_INT(r->peak_device_bytes, -1); /* no device probe */
    }
    vsr_free(r);
    r = history_get(t, 1);
    if (r)
        CHECK(r->success == 0 && r->error_code == -5 && strcmp(r->error_message, "model exploded") == 0);
    vsr_free(r);

    vsr_op_stats s = get_stats(t, "enhancement", NULL);
    CHECK(s.count == 1 && s.failures == 1 && s.success_rate == 0.0);
    s = get_stats(t, NULL, "degradation_router");
    CHECK(s.count == 1 && s.frames == 24 && s.success_rate == 1.0 && s.peak_rss_bytes > 0);

    /* an operation may be updated from another thread than the one that
     * began it, and it ends once */
    vsr_op *c = NULL;
    vsr_op_begin(t, "x", "y", &c);
    CHECK_EQ_INT(vsr_op_end(&c, 0, NULL), 0);
    CHECK(vsr_op_end(&c, 0, NULL) == VSR_EINVAL);
    vsr_tracker_unref(&t);
}

/* ---- memory peaks during an operation */

typedef struct fake_alloc {
    _Atomic int64_t used, peak;
} fake_alloc;

static int fake_alloc_probe(void *ctx, int64_t *used, int64_t *total, int64_t *peak, double *util)
{
    fake_alloc *a = ctx;
    *used = a->used;
    *peak = a->peak;
    *total = 1 << 30;
    (void)util;
    return 0;
}

static void test_op_peaks(void)
{
    /* Without a sampler: readings at begin and end. A new RSS high reached
     * in between shows through the kernel's high-water mark, a new device
     * high through the allocator's peak. */
    vsr_tracker *t = new_tracker(10, 0);
    fake_alloc dev;
    atomic_init(&dev.used, 1000);
    atomic_init(&dev.peak, 1000);
    vsri_tracker_set_device_probe(t, fake_alloc_probe, &dev);
    vsr_op *op = NULL;
    CHECK_EQ_INT(vsr_op_begin(t, "alloc", NULL, &op), 0);
    /* more than it ever had, so the process reaches a new high */
    int64_t rss = vsri_proc_rss_bytes(), hwm = vsri_proc_peak_rss_bytes();
    size_t big = (size_t)(hwm - rss) + (64u << 20);
    unsigned char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    if (p != MAP_FAILED) {
        for (size_t i = 0; i < big; i += 4096)
            p[i] = 1;
        munmap(p, big);
    }
    atomic_store(&dev.peak, 9000); /* the allocator went up to 9000 and back */
    int64_t high = vsri_proc_peak_rss_bytes();
    CHECK_EQ_INT(vsr_op_end(&op, 0, NULL), 0);
    vsr_op_record *r = history_get(t, 0);
    if (r) {
        CHECK_MSG(r->peak_rss_bytes >= high && high >= rss + (int64_t)(60u << 20),
                  "op peak %lld, high-water mark %lld, rss at start %lld", (long long)r->peak_rss_bytes,
                  (long long)high, (long long)rss);
        CHECK_EQ_INT(r->peak_device_bytes, 9000);
    }
    vsr_free(r);
    /* the statistics keep the highest */
    vsr_op_stats s = get_stats(t, "alloc", NULL);
    CHECK(s.peak_rss_bytes >= high && s.peak_device_bytes == 9000);

    /* an operation without a new high has the readings' values */
    CHECK_EQ_INT(vsr_op_begin(t, "quiet", NULL, &op), 0);
    atomic_store(&dev.used, 3000);
    CHECK_EQ_INT(vsr_op_end(&op, 0, NULL), 0);
    r = history_get(t, 1);
    if (r) {
        CHECK_EQ_INT(r->peak_device_bytes, 3000);
        CHECK(r->peak_rss_bytes > 0 && r->peak_rss_bytes < high);
    }
    vsr_free(r);
    vsri_tracker_set_device_probe(t, NULL, &dev);
    vsr_tracker_unref(&t);

    /* With a sampler: its readings in between count. The test waits for
     * two ticks after raising `used` (a whole tick saw it), not for a time. */
    t = new_tracker(10, 1);
    atomic_store(&dev.used, 1000);
    atomic_store(&dev.peak, -1); /* an allocator that does not report peaks */
    vsri_tracker_set_device_probe(t, fake_alloc_probe, &dev);
    CHECK_EQ_INT(vsr_op_begin(t, "sampled", NULL, &op), 0);
    atomic_store(&dev.used, 7000);
    vsr_resource_stats rs = {.size = sizeof(rs)};
    vsr_tracker_get_resources(t, &rs);
    int64_t start = rs.samples;
    for (int i = 0; i < 10000 && rs.samples < start + 2; i++) {
        sleep_ms(1);
        vsr_tracker_get_resources(t, &rs);
    }
    CHECK(rs.samples >= start + 2);
    atomic_store(&dev.used, 1000);
    CHECK_EQ_INT(vsr_op_end(&op, 0, NULL), 0);
    r = history_get(t, 0);
    if (r)
        CHECK_EQ_INT(r->peak_device_bytes, 7000);
    vsr_free(r);
    /* records given whole carry the peaks given (0 or less: unknown) */
    vsr_op_record given = make_record("given", NULL, 1000, 1, 1);
    given.peak_rss_bytes = 0;
    given.peak_device_bytes = 12345;
    vsr_tracker_record(t, &given);
    r = history_get(t, 1);
    if (r)
        CHECK(r->peak_rss_bytes == -1 && r->peak_device_bytes == 12345);
    vsr_free(r);
    vsri_tracker_set_device_probe(t, NULL, &dev);
    vsr_tracker_unref(&t);
}

/* ---- callbacks and metadata */

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
    /* an operation's end goes through the callback too */
    st.cancel_at = 5;
    vsr_op *op = NULL;
    vsr_op_begin(t, VSR_OP_ENCODE, "op", &op);
    CHECK_EQ_INT(vsr_op_end(&op, 0, NULL), VSR_ERROR_CANCELLED);
    CHECK(strcmp(st.last_strategy, "op") == 0 && st.seen_count == 5);

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
    CHECK_EQ_INT(st.calls, 5);
    CHECK_EQ_INT(st.progress_calls, 2);
    vsr_tracker_unref(&t);
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

    vsr_op_record *out = history_get(t, 0);
    if (out)
        CHECK_EQ_INT(out->n_meta, 0);
    vsr_free(out);
    out = history_get(t, 1);
    if (out) {
        CHECK_EQ_INT(out->n_meta, 3);
        CHECK(meta_value(out, "host") && strcmp(meta_value(out, "host"), "box1") == 0);
        CHECK(meta_value(out, "job") && strcmp(meta_value(out, "job"), "override") == 0);
        CHECK(meta_value(out, "extra") && strcmp(meta_value(out, "extra"), "mine") == 0);
    }
    vsr_free(out);
    out = history_get(t, 2);
    if (out) {
        CHECK_EQ_INT(out->n_meta, 1);
        CHECK(meta_value(out, "host") == NULL);
        CHECK(meta_value(out, "job") && strcmp(meta_value(out, "job"), "2") == 0);
    }
    vsr_free(out);
    vsr_tracker_unref(&t);
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
    CHECK_EQ_INT(vsr_tracker_open(&t, (const vsr_tracker_settings *)&old), 0);
    CHECK(vsri_tracker_granularity(t) == VSR_GRANULARITY_OPERATION);
    for (int i = 0; i < 5; i++) {
        /* an old record without the meta fields and what follows */
        vsr_op_record r = make_record(VSR_OP_DECODE, "m", 100, 1, 1);
        r.size = (uint32_t)offsetof(vsr_op_record, n_meta);
        r.n_meta = 5; /* beyond the caller's size: must be ignored */
        r.quality = 3.0;
        r.peak_rss_bytes = 77;
        CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
    }
    CHECK_EQ_INT(vsr_tracker_history_count(t), 3);
    vsr_op_record *out = history_get(t, 0);
    if (out) {
        CHECK_EQ_INT(out->n_meta, 0);
        CHECK(isnan(out->quality) && out->peak_rss_bytes == -1 && out->peak_device_bytes == -1);
    }
    vsr_free(out);
    vsr_tracker_unref(&t);

    vsr_tracker_settings bad;
    vsr_tracker_settings_default(&bad);
    bad.history_length = -1;
    CHECK(vsr_tracker_open(&t, &bad) == VSR_EINVAL);
    CHECK(t == NULL);

    vsr_tracker_settings gran;
    vsr_tracker_settings_default(&gran);
    gran.granularity = VSR_GRANULARITY_CHUNK;
    gran.sampler_interval_ms = 0;
    CHECK_EQ_INT(vsr_tracker_open(&t, &gran), 0);
    CHECK(vsri_tracker_granularity(t) == VSR_GRANULARITY_CHUNK);
    vsr_tracker_unref(&t);
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
    CHECK(second == t);
    vsr_tracker_unref(&t);
    CHECK(t == NULL);
    vsr_op_record r = make_record(VSR_OP_RUN, "m", 5, 1, 1);
    CHECK_EQ_INT(vsr_tracker_record(second, &r), 0);
    vsr_op_record *h = history_get(second, 0);
    uint64_t id = h ? h->id : 0;
    vsr_free(h);
    vsr_tracker_reset(second);
    CHECK_EQ_INT(vsri_tracker_new_run_id(second), b + 1); /* ids are not reset */
    vsr_tracker_record(second, &r);
    h = history_get(second, 0);
    CHECK(h && h->id == id + 1);
    vsr_free(h);
    vsr_tracker_get_resources(second, &rs);
    CHECK_EQ_INT(rs.max_frames_in_flight, 0);
    CHECK_EQ_INT(rs.queue_depth, 6);
    vsr_tracker_unref(&second);
    CHECK(vsr_tracker_ref(NULL) == NULL);
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
    vsr_tracker_unref(&t);
}

/* ---- threads */

typedef struct thread_arg {
    vsr_tracker *t;
    int id;
} thread_arg;

static void *record_thread(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 5000; i++) {
        const char *strat = i % 2 ? "s1" : "s2";
        vsr_op_record r = make_record(i % 3 ? VSR_OP_INFERENCE : VSR_OP_ENCODE, strat, 1000 + i, 2, i % 7 != 0);
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
    const char *types[] = {VSR_OP_INFERENCE, VSR_OP_ENCODE};
    for (int k = 0; k < 2; k++) {
        vsr_op_stats all = get_stats(t, types[k], NULL), s1 = get_stats(t, types[k], "s1"),
                     s2 = get_stats(t, types[k], "s2");
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
    vsr_tracker_unref(&t);
}

/* Many threads record their own operations at once, while each of them
 * also lists, reads statistics and trends, reads the history and exports.
 * Worker threads never CHECK (its counters are plain ints): they count
 * what went wrong in atomics for the main thread. */
enum { OP_THREADS = 16, OPS_PER_THREAD = 300 };
static const char *const op_types[] = {"analysis", "enhancement", "request"};
static const char *const op_strategies[] = {"degradation_router", "vsrm", "fast", "slow"};

typedef struct op_worker {
    vsr_tracker *t;
    int id;
    atomic_int *errors;
    atomic_int *max_in_flight_seen;
} op_worker;

static void *op_thread(void *p)
{
    op_worker *w = p;
    char key[32], value[32];
    for (int i = 0; i < OPS_PER_THREAD; i++) {
        int k = w->id * OPS_PER_THREAD + i;
        vsr_op *op = NULL;
        if (vsr_op_begin(w->t, op_types[k % 3], op_strategies[k % 4], &op) < 0) {
            atomic_fetch_add(w->errors, 1);
            continue;
        }
        snprintf(key, sizeof(key), "thread");
        snprintf(value, sizeof(value), "%d", w->id);
        int err = vsr_op_set_frames(op, 1 + k % 5);
        err |= vsr_op_set_resolution(op, 64, 32, 128, 64);
        err |= vsr_op_set_quality(op, (double)(k % 100) / 100);
        err |= vsr_op_set_meta(op, key, value);
        if (err)
            atomic_fetch_add(w->errors, 1);
        if (i % 10 == 0) {
            vsr_op_record **fl = NULL;
            int n = 0;
            if (vsr_tracker_in_flight(w->t, &fl, &n) < 0 || n < 1)
                atomic_fetch_add(w->errors, 1);
            int seen = atomic_load(w->max_in_flight_seen);
            while (n > seen && !atomic_compare_exchange_weak(w->max_in_flight_seen, &seen, n))
                ;
            for (int j = 0; j < n; j++) {
                if (!fl[j]->type || fl[j]->id == 0)
                    atomic_fetch_add(w->errors, 1);
            }
            vsr_free(fl);
        }
        if (i % 25 == 0) {
            vsr_op_stats s = {.size = sizeof(s)};
            vsr_op_trend tr = {.size = sizeof(tr)};
            char **names = NULL;
            int n = 0;
            if (vsr_tracker_get_stats(w->t, op_types[k % 3], NULL, &s) < 0 ||
                vsr_tracker_get_stats(w->t, NULL, op_strategies[k % 4], &s) < 0 ||
                vsr_tracker_get_trend(w->t, op_types[k % 3], op_strategies[k % 4], 10, &tr) < 0 ||
                vsr_tracker_list(w->t, VSR_LIST_STRATEGIES, &names, &n) < 0)
                atomic_fetch_add(w->errors, 1);
            vsr_free(names);
            int h = vsr_tracker_history_count(w->t);
            vsr_op_record *r = NULL;
            /* the ring may move on between count and get: EINVAL is fine then */
            if (h > 0 && vsr_tracker_history_get(w->t, h - 1, &r) == 0 && (!r || !r->type))
                atomic_fetch_add(w->errors, 1);
            vsr_free(r);
        }
        if (i % 100 == 50) {
            char *text = NULL;
            if (vsr_tracker_export_string(w->t, (vsr_export_format)(i / 100 % 3), &text) < 0 || !text)
                atomic_fetch_add(w->errors, 1);
            vsr_free(text);
        }
        /* every 7th fails, with a message */
        int fails = k % 7 == 0;
        err = vsr_op_end(&op, fails ? VSR_ERROR_MODEL_RUN : 0, fails ? "deliberate failure" : NULL);
        if (err < 0 || op != NULL)
            atomic_fetch_add(w->errors, 1);
    }
    return NULL;
}

static int count_events(void *user, const vsr_op_record *rec)
{
    (void)rec;
    atomic_fetch_add((atomic_int *)user, 1);
    return 0;
}

static void test_threads_caller_ops(void)
{
    vsr_tracker *t = new_tracker(256, 1); /* the sampler folds readings into the operations meanwhile */
    atomic_int events, errors, max_in_flight;
    atomic_init(&events, 0);
    atomic_init(&errors, 0);
    atomic_init(&max_in_flight, 0);
    vsr_tracker_set_event_callback(t, count_events, &events);
    vsr_tracker_set_meta(t, "service", "test");
    pthread_t th[OP_THREADS];
    op_worker w[OP_THREADS];
    for (int i = 0; i < OP_THREADS; i++) {
        w[i] = (op_worker){t, i, &errors, &max_in_flight};
        pthread_create(&th[i], NULL, op_thread, &w[i]);
    }
    for (int i = 0; i < OP_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(atomic_load(&errors), 0);
    int total = OP_THREADS * OPS_PER_THREAD;
    CHECK_EQ_INT(atomic_load(&events), total);
    CHECK(atomic_load(&max_in_flight) >= 1);

    /* the expected counts, from the same formulas */
    int64_t count[3] = {0}, fails[3] = {0}, frames[3] = {0}, per_strategy[4] = {0}, pair[3][4] = {{0}};
    for (int k = 0; k < total; k++) {
        count[k % 3]++;
        fails[k % 3] += k % 7 == 0;
        frames[k % 3] += 1 + k % 5;
        per_strategy[k % 4]++;
        pair[k % 3][k % 4]++;
    }
    for (int ty = 0; ty < 3; ty++) {
        vsr_op_stats s = get_stats(t, op_types[ty], NULL);
        CHECK_EQ_INT(s.count, count[ty]);
        CHECK_EQ_INT(s.failures, fails[ty]);
        CHECK_EQ_INT(s.frames, frames[ty]);
        CHECK(NEAR(s.success_rate, (double)(count[ty] - fails[ty]) / (double)count[ty]));
        CHECK(s.peak_rss_bytes > 0);
        for (int st = 0; st < 4; st++)
            CHECK_EQ_INT(get_stats(t, op_types[ty], op_strategies[st]).count, pair[ty][st]);
    }
    for (int st = 0; st < 4; st++)
        CHECK_EQ_INT(get_stats(t, NULL, op_strategies[st]).count, per_strategy[st]);
    CHECK_EQ_INT(get_stats(t, NULL, NULL).count, total);

    vsr_op_record **fl = NULL;
    int n = -1;
    CHECK_EQ_INT(vsr_tracker_in_flight(t, &fl, &n), 0);
    CHECK_EQ_INT(n, 0);
    vsr_free(fl);
    CHECK_EQ_INT(vsr_tracker_history_count(t), 256);
    /* ids are unique: the history's are distinct */
    uint64_t ids[256];
    int nid = 0;
    for (int i = 0; i < 256; i++) {
        vsr_op_record *r = history_get(t, i);
        if (r) {
            ids[nid++] = r->id;
            CHECK(meta_value(r, "service") && meta_value(r, "thread"));
            CHECK(r->scale == 2 && r->in_width == 64);
        }
        vsr_free(r);
    }
    qsort(ids, (size_t)nid, sizeof(ids[0]), cmp_i64); /* ids stay far below 2^63 */
    int distinct = 1;
    for (int i = 1; i < nid; i++)
        distinct &= ids[i] != ids[i - 1];
    CHECK(distinct && nid == 256);
    vsr_tracker_unref(&t);
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

/* The sampler is checked by what it did, never by how long it took: each
 * wait below polls for an event, bounded by minutes that only a sampler
 * that stopped sampling would use up. */
#define WAIT_BOUND_MS (5 * 60 * 1000)

/* Until the sampler has taken n more samples than `after`; 0 if it never does. */
static int wait_samples(vsr_tracker *t, int64_t after, int64_t n)
{
    vsr_resource_stats rs = {.size = sizeof(rs)};
    for (int waited = 0; waited < WAIT_BOUND_MS; waited += 2) {
        vsr_tracker_get_resources(t, &rs);
        if (rs.samples >= after + n)
            return 1;
        sleep_ms(2);
    }
    return 0;
}

static int64_t samples_now(vsr_tracker *t)
{
    vsr_resource_stats rs = {.size = sizeof(rs)};
    vsr_tracker_get_resources(t, &rs);
    return rs.samples;
}

/* The process's threads by id (/proc/self/task): a thread that exits may
 * stay listed a moment after pthread_join returns, but a new thread is
 * listed as soon as pthread_create returns, so new ids are exact. */
#define MAX_TIDS 256
static int list_tids(long *tids)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < MAX_TIDS)
        if (e->d_name[0] != '.')
            tids[n++] = strtol(e->d_name, NULL, 10);
    if (d)
        closedir(d);
    return n;
}

/* The ids in `now` that are not in `before`; returns how many (first in *tid). */
static int new_tids(const long *before, int nb, const long *now, int nn, long *tid)
{
    int count = 0;
    for (int i = 0; i < nn; i++) {
        int seen = 0;
        for (int j = 0; j < nb && !seen; j++)
            seen = now[i] == before[j];
        if (!seen && !count++)
            *tid = now[i];
    }
    return count;
}

static int thread_listed(long tid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%ld", tid);
    return access(path, F_OK) == 0;
}

/* Until the thread has left /proc/self/task; 0 if it never does. */
static int wait_thread_gone(long tid)
{
    for (int waited = 0; waited < WAIT_BOUND_MS; waited++) {
        if (!thread_listed(tid))
            return 1;
        sleep_ms(1);
    }
    return 0;
}

static void test_sampler(void)
{
    long before[MAX_TIDS], now[MAX_TIDS], sampler_tid = 0;
    int nb = list_tids(before);
    CHECK(nb >= 1);

    /* Off: no thread at all. */
    vsr_tracker *off = new_tracker(10, 0);
    int nn = list_tids(now);
    CHECK_EQ_INT(new_tids(before, nb, now, nn, &sampler_tid), 0);
    vsr_tracker_unref(&off);

    vsr_tracker *t = new_tracker(10, 10);
    nn = list_tids(now);
    CHECK_EQ_INT(new_tids(before, nb, now, nn, &sampler_tid), 1);
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
        /* The first sample counted after this point may have been read
         * before it; the second was read after: it saw both. */
        CHECK_MSG(wait_samples(t, samples_now(t), 2), "the sampler stopped sampling");
        gpu.used = 2000;
        munmap(p, big);
    }
    /* and a sample read after the memory is gone */
    CHECK_MSG(wait_samples(t, samples_now(t), 2), "the sampler stopped sampling");
    vsr_resource_stats rs = {.size = sizeof(rs)};
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

    /* After removal the probe is not called again, though the sampler samples on. */
    vsri_tracker_set_device_probe(t, NULL, &gpu);
    int calls = gpu.calls;
    CHECK_MSG(wait_samples(t, samples_now(t), 2), "the sampler stopped sampling");
    CHECK_EQ_INT(gpu.calls, calls);

    /* reset forgets the peaks (the kernel's high-water mark has not grown since) */
    vsr_tracker_reset(t);
    CHECK_MSG(wait_samples(t, samples_now(t), 2), "the sampler stopped sampling");
    vsr_tracker_get_resources(t, &rs);
    CHECK(rs.peak_rss_bytes < rss_before + (int64_t)(100u << 20));
    CHECK_EQ_INT(rs.peak_device_bytes, -1);

    /* destroy wakes the sampler at once, even with an hour's interval (a
     * destroy that waited the interval out would pass the bound) */
    vsr_tracker *slow = new_tracker(10, 3600 * 1000);
    int64_t start = vsri_now_ns();
    vsr_tracker_unref(&slow);
    CHECK((vsri_now_ns() - start) < (int64_t)WAIT_BOUND_MS * 1000000);

    vsr_tracker_unref(&t);
    CHECK_MSG(wait_thread_gone(sampler_tid), "the sampler thread %ld outlived its tracker", sampler_tid);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET);
    test_statistics();
    test_reservoir();
    test_trends();
    test_list();
    test_history();
    test_history_no_scratch();
    test_size_rule();
    test_caller_ops();
    test_op_peaks();
    test_threads();
    test_threads_caller_ops();
    test_callbacks();
    test_meta();
    test_old_structs();
    test_internal();
    test_quality_stats();
    test_sampler();
    return test_result("tracker");
}
