/*
 * Statistics per operation type, per strategy, per (type, strategy) and
 * over everything: counts, durations with percentiles, frames, memory
 * peaks, and the recent outcomes that trends compare.
 *
 * Percentiles: every duration is kept until a key has RESERVOIR_SIZE of
 * them, so percentiles are exact up to that many operations; beyond, the
 * kept set is a uniform random sample of all of them (reservoir sampling,
 * Vitter's algorithm R) and the percentiles are estimates. Count, total,
 * mean, min and max are always exact. Percentiles interpolate linearly
 * between the two nearest ranks (p at position (n - 1) * p of the sorted
 * values; numpy's default).
 *
 * Trends: each key keeps the outcomes of its last 2 x
 * VSR_TRACKER_TREND_MAX_WINDOW operations in the order they were recorded.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_private.h"

#define RESERVOIR_SIZE 8192
#define TREND_KEEP (2 * VSR_TRACKER_TREND_MAX_WINDOW)
/* Distinct types (and distinct strategies) a tracker accepts: names are
 * meant to be a handful, not one per request, and each costs memory. */
#define MAX_NAMES 4096

/* ---------------------------------------------------------------- buckets */

static void bucket_init(vsri_stat_bucket *b)
{
    memset(b, 0, sizeof(*b));
    b->peak_rss = b->peak_device = -1;
}

static void bucket_free(vsri_stat_bucket *b)
{
    free(b->samples);
    free(b->recent);
    bucket_init(b);
}

static uint64_t next_random(uint64_t *state)
{
    /* splitmix64: small, fast, good enough to pick reservoir slots */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Every record counts in the durations and frames, failed ones too (a
 * failure still took that time); successes/failures tell them apart. Out
 * of memory, the percentiles or the trend just miss this record; the
 * exact statistics are kept. */
static void bucket_add(vsri_stat_bucket *b, const vsr_op_record *r, uint64_t *rng)
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
    if (r->peak_rss_bytes > b->peak_rss)
        b->peak_rss = r->peak_rss_bytes;
    if (r->peak_device_bytes > b->peak_device)
        b->peak_device = r->peak_device_bytes;

    if (b->recent_count < TREND_KEEP) {
        /* filling up: no wrap yet, recent_first stays 0 */
        if (b->recent_count == b->recent_cap) {
            int cap = b->recent_cap ? b->recent_cap * 2 : 16;
            if (cap > TREND_KEEP)
                cap = TREND_KEEP;
            vsri_trend_entry *e = realloc(b->recent, (size_t)cap * sizeof(*e));
            if (e) {
                b->recent = e;
                b->recent_cap = cap;
            }
        }
        if (b->recent_count < b->recent_cap)
            b->recent[b->recent_count++] = (vsri_trend_entry){d, r->success != 0};
    } else {
        b->recent[b->recent_first] = (vsri_trend_entry){d, r->success != 0};
        b->recent_first = (b->recent_first + 1) % TREND_KEEP;
    }

    if (b->n_samples < RESERVOIR_SIZE) {
        if (b->n_samples == b->cap_samples) {
            int cap = b->cap_samples ? b->cap_samples * 2 : 64;
            if (cap > RESERVOIR_SIZE)
                cap = RESERVOIR_SIZE;
            int64_t *s = realloc(b->samples, (size_t)cap * sizeof(*s));
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

void vsri_bucket_stats(vsri_stat_bucket *b, vsr_op_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    out->success_rate = NAN;
    out->peak_rss_bytes = out->peak_device_bytes = -1;
    if (!b || b->count == 0)
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
    out->success_rate = (double)b->successes / (double)b->count;
    out->peak_rss_bytes = b->peak_rss;
    out->peak_device_bytes = b->peak_device;
}

/* Mean duration (ms) and success rate of `n` outcomes from position `from`
 * (0 = oldest kept). */
static void window_summary(const vsri_stat_bucket *b, int from, int n, double *mean_ms, double *rate)
{
    if (n <= 0) {
        *mean_ms = *rate = NAN;
        return;
    }
    int64_t total = 0, ok = 0;
    for (int i = from; i < from + n; i++) {
        const vsri_trend_entry *e = &b->recent[(b->recent_first + i) % b->recent_cap];
        total += e->duration_ns;
        ok += e->success;
    }
    *mean_ms = (double)total / (double)n / 1e6;
    *rate = (double)ok / (double)n;
}

void vsri_bucket_trend(const vsri_stat_bucket *b, int window, vsr_op_trend *out)
{
    memset(out, 0, sizeof(*out));
    out->size = sizeof(*out);
    out->window = window;
    int kept = b ? b->recent_count : 0;
    int recent = kept < window ? kept : window;
    int previous = kept - recent < window ? kept - recent : window;
    out->recent_count = recent;
    out->previous_count = previous;
    window_summary(b, kept - recent, recent, &out->recent_mean_ms, &out->recent_success_rate);
    window_summary(b, kept - recent - previous, previous, &out->previous_mean_ms,
                   &out->previous_success_rate);
    out->duration_ratio = recent > 0 && previous > 0 && out->previous_mean_ms > 0
                              ? out->recent_mean_ms / out->previous_mean_ms
                              : NAN;
}

/* ---------------------------------------------------------------- hash tables */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static uint64_t hash_pair(int a, int b)
{
    uint64_t z = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    return next_random(&z);
}

/* Slots hold indexes (-1 = empty); their number is a power of two kept at
 * least twice the entries, so probing ends. */
static int *new_slots(int n)
{
    int *s = malloc((size_t)n * sizeof(*s));
    if (s)
        memset(s, 0xff, (size_t)n * sizeof(*s));
    return s;
}

static int name_lookup(const vsri_name_table *t, const char *name)
{
    if (!t->n_slots)
        return -1;
    size_t mask = (size_t)t->n_slots - 1;
    for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
        int k = t->slots[i];
        if (k < 0 || strcmp(t->names[k], name) == 0)
            return k;
    }
}

static void name_slot_put(int *slots, int n_slots, uint64_t h, int index)
{
    size_t mask = (size_t)n_slots - 1;
    size_t i = h & mask;
    while (slots[i] >= 0)
        i = (i + 1) & mask;
    slots[i] = index;
}

/* Index of name in t, added if new; negative error code when it cannot be. */
static int name_get(vsri_name_table *t, const char *name, const char *what)
{
    int k = name_lookup(t, name);
    if (k >= 0)
        return k;
    if (t->n >= MAX_NAMES)
        return vsri_error(VSR_ERROR_LIMIT,
                          "tracker: already %d operation %s; '%.60s' would be one more (use a few names, "
                          "and metadata for the rest)",
                          MAX_NAMES, what, name);
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        char **names = realloc(t->names, (size_t)cap * sizeof(*names));
        if (!names)
            return VSR_ENOMEM;
        t->names = names;
        vsri_stat_bucket *b = realloc(t->buckets, (size_t)cap * sizeof(*b));
        if (!b)
            return VSR_ENOMEM;
        t->buckets = b;
        t->cap = cap;
    }
    if (2 * (t->n + 1) > t->n_slots) {
        int n_slots = t->n_slots ? t->n_slots * 2 : 16;
        int *slots = new_slots(n_slots);
        if (!slots)
            return VSR_ENOMEM;
        for (int i = 0; i < t->n; i++)
            name_slot_put(slots, n_slots, hash_str(t->names[i]), i);
        free(t->slots);
        t->slots = slots;
        t->n_slots = n_slots;
    }
    char *copy = strdup(name);
    if (!copy)
        return VSR_ENOMEM;
    k = t->n++;
    t->names[k] = copy;
    bucket_init(&t->buckets[k]);
    name_slot_put(t->slots, t->n_slots, hash_str(copy), k);
    return k;
}

static void names_free(vsri_name_table *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->names[i]);
        bucket_free(&t->buckets[i]);
    }
    free(t->names);
    free(t->buckets);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static int pair_lookup(const vsri_stats *s, int type, int strategy)
{
    if (!s->n_pair_slots)
        return -1;
    size_t mask = (size_t)s->n_pair_slots - 1;
    for (size_t i = hash_pair(type, strategy) & mask;; i = (i + 1) & mask) {
        int k = s->pair_slots[i];
        if (k < 0 || (s->pairs[k].type == type && s->pairs[k].strategy == strategy))
            return k;
    }
}

static int pair_get(vsri_stats *s, int type, int strategy)
{
    int k = pair_lookup(s, type, strategy);
    if (k >= 0)
        return k;
    if (s->n_pairs == s->cap_pairs) {
        int cap = s->cap_pairs ? s->cap_pairs * 2 : 16;
        vsri_pair *p = realloc(s->pairs, (size_t)cap * sizeof(*p));
        if (!p)
            return VSR_ENOMEM;
        s->pairs = p;
        s->cap_pairs = cap;
    }
    if (2 * (s->n_pairs + 1) > s->n_pair_slots) {
        int n_slots = s->n_pair_slots ? s->n_pair_slots * 2 : 32;
        int *slots = new_slots(n_slots);
        if (!slots)
            return VSR_ENOMEM;
        for (int i = 0; i < s->n_pairs; i++)
            name_slot_put(slots, n_slots, hash_pair(s->pairs[i].type, s->pairs[i].strategy), i);
        free(s->pair_slots);
        s->pair_slots = slots;
        s->n_pair_slots = n_slots;
    }
    k = s->n_pairs++;
    s->pairs[k].type = type;
    s->pairs[k].strategy = strategy;
    bucket_init(&s->pairs[k].b);
    name_slot_put(s->pair_slots, s->n_pair_slots, hash_pair(type, strategy), k);
    return k;
}

/* ---------------------------------------------------------------- the table */

void vsri_stats_init(vsri_stats *s)
{
    memset(s, 0, sizeof(*s));
    bucket_init(&s->all);
    s->rng = 0x6C696276737274ull; /* fixed seed: runs are reproducible */
}

void vsri_stats_free(vsri_stats *s)
{
    names_free(&s->types);
    names_free(&s->strategies);
    for (int i = 0; i < s->n_pairs; i++)
        bucket_free(&s->pairs[i].b);
    free(s->pairs);
    free(s->pair_slots);
    bucket_free(&s->all);
    uint64_t rng = s->rng;
    vsri_stats_init(s);
    s->rng = rng; /* reset does not replay the same random choices */
}

int vsri_stats_add(vsri_stats *s, const vsr_op_record *r)
{
    /* Find or make all three keys first, so a failure counts nothing. A
     * name added before a later failure stays, with no records: harmless. */
    int ti = name_get(&s->types, r->type, "types");
    if (ti < 0)
        return ti;
    int si = name_get(&s->strategies, r->strategy ? r->strategy : "", "strategies");
    if (si < 0)
        return si;
    int pi = pair_get(s, ti, si);
    if (pi < 0)
        return pi;
    bucket_add(&s->types.buckets[ti], r, &s->rng);
    bucket_add(&s->strategies.buckets[si], r, &s->rng);
    bucket_add(&s->pairs[pi].b, r, &s->rng);
    bucket_add(&s->all, r, &s->rng);
    return 0;
}

vsri_stat_bucket *vsri_stats_find(vsri_stats *s, const char *type, const char *strategy)
{
    int ti = type ? name_lookup(&s->types, type) : -1;
    int si = strategy ? name_lookup(&s->strategies, strategy) : -1;
    if ((type && ti < 0) || (strategy && si < 0))
        return NULL;
    if (type && strategy) {
        int pi = pair_lookup(s, ti, si);
        return pi >= 0 ? &s->pairs[pi].b : NULL;
    }
    if (type)
        return &s->types.buckets[ti];
    if (strategy)
        return &s->strategies.buckets[si];
    return &s->all;
}

/* ---------------------------------------------------------------- public calls */

int vsr_tracker_get_stats(vsr_tracker *t, const char *type, const char *strategy, vsr_op_stats *out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_stats: %s is NULL", t ? "out" : "tracker");
    vsr_op_stats st;
    pthread_mutex_lock(&t->lock);
    vsri_bucket_stats(vsri_stats_find(&t->stats, type, strategy), &st);
    pthread_mutex_unlock(&t->lock);
    return vsri_result_out(out, &st, sizeof(st), "vsr_tracker_get_stats");
}

int vsr_tracker_get_trend(vsr_tracker *t, const char *type, const char *strategy, int window,
                          vsr_op_trend *out)
{
    if (!t || !out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_trend: %s is NULL", t ? "out" : "tracker");
    if (window < 1 || window > VSR_TRACKER_TREND_MAX_WINDOW)
        return vsri_error(VSR_EINVAL, "vsr_tracker_get_trend: window %d outside 1..%d", window,
                          VSR_TRACKER_TREND_MAX_WINDOW);
    vsr_op_trend tr;
    pthread_mutex_lock(&t->lock);
    vsri_bucket_trend(vsri_stats_find(&t->stats, type, strategy), window, &tr);
    pthread_mutex_unlock(&t->lock);
    return vsri_result_out(out, &tr, sizeof(tr), "vsr_tracker_get_trend");
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int vsr_tracker_list(vsr_tracker *t, int what, char ***names, int *count)
{
    if (!t || !names || !count)
        return vsri_error(VSR_EINVAL, "vsr_tracker_list: %s is NULL", !t ? "tracker" : !names ? "names" : "count");
    *names = NULL;
    *count = 0;
    if (what != VSR_LIST_TYPES && what != VSR_LIST_STRATEGIES)
        return vsri_error(VSR_EINVAL, "vsr_tracker_list: what is %d, not VSR_LIST_TYPES or VSR_LIST_STRATEGIES",
                          what);
    pthread_mutex_lock(&t->lock);
    const vsri_name_table *nt = what == VSR_LIST_TYPES ? &t->stats.types : &t->stats.strategies;
    /* names without records (left by a failed add, see vsri_stats_add) are not listed */
    int n = 0;
    size_t bytes = sizeof(char *);
    for (int i = 0; i < nt->n; i++) {
        if (nt->buckets[i].count > 0) {
            n++;
            bytes += sizeof(char *) + strlen(nt->names[i]) + 1;
        }
    }
    char **out = malloc(bytes);
    if (!out) {
        pthread_mutex_unlock(&t->lock);
        return vsri_error(VSR_ENOMEM, "vsr_tracker_list: out of memory");
    }
    char *cursor = (char *)(out + n + 1);
    int k = 0;
    for (int i = 0; i < nt->n; i++) {
        if (nt->buckets[i].count == 0)
            continue;
        size_t len = strlen(nt->names[i]) + 1;
        memcpy(cursor, nt->names[i], len);
        out[k++] = cursor;
        cursor += len;
    }
    out[n] = NULL;
    pthread_mutex_unlock(&t->lock);
    qsort(out, (size_t)n, sizeof(*out), cmp_name);
    *names = out;
    *count = n;
    return 0;
}
