/*
 * Tracker exports: JSON (everything), CSV (the history) and Prometheus'
 * text exposition format 0.0.4 (statistics and gauges). All three are
 * written from one snapshot taken under the tracker's lock, so a record
 * arriving meanwhile is either wholly in an export or not at all. Types
 * and strategies are whatever names were recorded (libvsr's stages and the
 * caller's own), so every name is escaped for its format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jsontext.h"
#include "sysinfo.h"
#include "tracker_internal.h"

/* ---------------------------------------------------------------- JSON */

/* Built as a jansson tree; every allocation failure along the way sets
 * *oom (vsri_jtext_set) and is caught once at the end. Integers are kept
 * exact: nanosecond timestamps pass 2^53 (the limit of a double) after
 * about 104 days of uptime. */

static void set_i64(json_t *o, const char *key, int64_t v, int *oom)
{
    vsri_jtext_set(o, key, json_integer((json_int_t)v), oom);
}

static void set_num(json_t *o, const char *key, double v, int *oom)
{
    vsri_jtext_set(o, key, vsri_jtext_number(v), oom);
}

static void set_str(json_t *o, const char *key, const char *v, int *oom)
{
    vsri_jtext_set(o, key, vsri_jtext_string(v), oom);
}

static json_t *json_trend(const vsr_op_trend *t, int *oom)
{
    json_t *o = json_object();
    if (!o) {
        *oom = 1;
        return NULL;
    }
    set_i64(o, "window", t->window, oom);
    set_i64(o, "recent_count", t->recent_count, oom);
    set_i64(o, "previous_count", t->previous_count, oom);
    set_num(o, "recent_mean_ms", t->recent_mean_ms, oom);
    set_num(o, "previous_mean_ms", t->previous_mean_ms, oom);
    set_num(o, "duration_ratio", t->duration_ratio, oom);
    set_num(o, "recent_success_rate", t->recent_success_rate, oom);
    set_num(o, "previous_success_rate", t->previous_success_rate, oom);
    return o;
}

/* Statistics and trend of a key; the caller may add members. */
static json_t *json_key_stats(const vsri_key_stats *k, int *oom)
{
    const vsr_op_stats *s = &k->stats;
    json_t *o = json_object();
    if (!o) {
        *oom = 1;
        return NULL;
    }
    set_i64(o, "count", s->count, oom);
    set_i64(o, "successes", s->successes, oom);
    set_i64(o, "failures", s->failures, oom);
    set_num(o, "total_ms", s->total_ms, oom);
    set_num(o, "mean_ms", s->mean_ms, oom);
    set_num(o, "min_ms", s->min_ms, oom);
    set_num(o, "max_ms", s->max_ms, oom);
    set_num(o, "p50_ms", s->p50_ms, oom);
    set_num(o, "p95_ms", s->p95_ms, oom);
    set_i64(o, "frames", s->frames, oom);
    set_num(o, "fps", s->fps, oom);
    set_num(o, "success_rate", s->success_rate, oom);
    set_i64(o, "peak_rss_bytes", s->peak_rss_bytes, oom);
    set_i64(o, "peak_device_bytes", s->peak_device_bytes, oom);
    vsri_jtext_set(o, "trend", json_trend(&k->trend, oom), oom);
    return o;
}

static json_t *json_record(const vsr_op_record *r, int *oom)
{
    json_t *o = json_object(), *meta = json_object();
    if (!o || !meta) {
        json_decref(o);
        json_decref(meta);
        *oom = 1;
        return NULL;
    }
    /* ids are unsigned 64-bit: in practice far below 2^63 */
    set_i64(o, "id", (int64_t)r->id, oom);
    set_i64(o, "run_id", (int64_t)r->run_id, oom);
    set_str(o, "type", r->type, oom);
    set_str(o, "strategy", r->strategy, oom);
    set_i64(o, "start_ns", r->start_ns, oom);
    set_i64(o, "end_ns", r->end_ns, oom);
    set_i64(o, "duration_ns", r->duration_ns, oom);
    set_i64(o, "frames", r->frames, oom);
    set_i64(o, "chunks", r->chunks, oom);
    set_i64(o, "tiles", r->tiles, oom);
    set_i64(o, "in_width", r->in_width, oom);
    set_i64(o, "in_height", r->in_height, oom);
    set_i64(o, "out_width", r->out_width, oom);
    set_i64(o, "out_height", r->out_height, oom);
    set_i64(o, "scale", r->scale, oom);
    set_str(o, "precision", r->precision, oom);
    set_str(o, "device", r->device, oom);
    vsri_jtext_set(o, "success", json_boolean(r->success), oom);
    set_i64(o, "error_code", r->error_code, oom);
    set_str(o, "error_message", r->error_message, oom);
    set_num(o, "quality", r->quality, oom);
    set_i64(o, "peak_rss_bytes", r->peak_rss_bytes, oom);
    set_i64(o, "peak_device_bytes", r->peak_device_bytes, oom);
    /* keys are unique: the tracker merges duplicates when recording */
    for (int i = 0; i < r->n_meta; i++)
        set_str(meta, r->meta[i].key, r->meta[i].value, oom);
    vsri_jtext_set(o, "meta", meta, oom);
    return o;
}

static void append(json_t *array, json_t *value, int *oom)
{
    if (!value || json_array_append_new(array, value) != 0)
        *oom = 1;
}

/* The export as a tree; NULL when out of memory. */
static json_t *export_json_tree(const vsri_tracker_snapshot *s)
{
    int oom = 0;
    json_t *root = json_object();
    if (!root)
        return NULL;
    set_str(root, "format", "libvsr-stats", &oom);
    set_i64(root, "version", 2, &oom);
    set_str(root, "library", vsr_version_string(), &oom);
    set_str(root, "build", vsr_build_info(), &oom);
    /* the machine the numbers were measured on */
    vsri_sysinfo si;
    if (vsri_sysinfo_get(&si) == 0)
        vsri_jtext_set(root, "system", vsri_sysinfo_json(&si), &oom);

    /* per type, with its strategies inside; pairs are sorted by type, so
     * each type's pairs follow one another */
    json_t *stats = json_object();
    int pair = 0;
    for (int i = 0; stats && i < s->n_types; i++) {
        const vsri_key_stats *k = &s->types[i];
        json_t *o = json_key_stats(k, &oom), *by = json_object();
        while (pair < s->n_pairs && strcmp(s->pairs[pair].type, k->type) < 0)
            pair++;
        for (; by && pair < s->n_pairs && strcmp(s->pairs[pair].type, k->type) == 0; pair++)
            vsri_jtext_set(by, s->pairs[pair].strategy, json_key_stats(&s->pairs[pair], &oom), &oom);
        if (o)
            vsri_jtext_set(o, "by_strategy", by, &oom);
        else
            json_decref(by);
        vsri_jtext_set(stats, k->type, o, &oom);
    }
    vsri_jtext_set(root, "stats", stats, &oom);

    /* per strategy, over every type */
    json_t *strategies = json_object();
    for (int i = 0; strategies && i < s->n_strategies; i++)
        vsri_jtext_set(strategies, s->strategies[i].strategy, json_key_stats(&s->strategies[i], &oom), &oom);
    vsri_jtext_set(root, "strategies", strategies, &oom);

    json_t *in_flight = json_array();
    for (int i = 0; in_flight && i < s->n_in_flight; i++)
        append(in_flight, json_record(&s->in_flight[i], &oom), &oom);
    vsri_jtext_set(root, "in_flight", in_flight, &oom);

    const vsr_resource_stats *r = &s->resources;
    json_t *res = json_object();
    if (res) {
        set_i64(res, "peak_rss_bytes", r->peak_rss_bytes, &oom);
        set_i64(res, "current_rss_bytes", r->current_rss_bytes, &oom);
        set_num(res, "cpu_percent_mean", r->cpu_percent_mean, &oom);
        set_num(res, "cpu_percent_peak", r->cpu_percent_peak, &oom);
        set_i64(res, "peak_device_bytes", r->peak_device_bytes, &oom);
        set_i64(res, "device_total_bytes", r->device_total_bytes, &oom);
        set_num(res, "gpu_util_percent_peak", r->gpu_util_percent_peak, &oom);
        set_i64(res, "samples", r->samples, &oom);
        set_i64(res, "max_frames_in_flight", r->max_frames_in_flight, &oom);
        set_i64(res, "queue_depth", r->queue_depth, &oom);
    }
    vsri_jtext_set(root, "resources", res, &oom);

    /* PSNR is capped (VSRI_PSNR_CAP_DB), so only "not measured" is null. */
    const vsr_quality_stats *q = &s->quality;
    json_t *quality = json_object(), *per_frame = json_array();
    if (quality) {
        set_i64(quality, "frames", q->frames, &oom);
        set_num(quality, "psnr_mean", q->psnr_mean, &oom);
        set_num(quality, "psnr_min", q->psnr_min, &oom);
        set_num(quality, "ssim_mean", q->ssim_mean, &oom);
        set_num(quality, "ssim_min", q->ssim_min, &oom);
        vsri_jtext_set(quality, "per_frame_truncated", json_boolean(s->quality_frames_truncated), &oom);
    }
    for (int64_t i = 0; per_frame && i < s->n_quality_frames; i++) {
        const vsri_quality_frame *f = &s->quality_frames[i];
        json_t *o = json_object();
        if (o) {
            set_i64(o, "frame", f->frame_index, &oom);
            set_num(o, "psnr_db", f->psnr_db, &oom);
            set_num(o, "ssim", f->ssim, &oom);
        }
        append(per_frame, o, &oom);
    }
    if (quality)
        vsri_jtext_set(quality, "per_frame", per_frame, &oom);
    else
        json_decref(per_frame);
    vsri_jtext_set(root, "quality", quality, &oom);

    json_t *history = json_array();
    for (int i = 0; history && i < s->n_history; i++)
        append(history, json_record(&s->history[i], &oom), &oom);
    vsri_jtext_set(root, "history", history, &oom);

    if (oom) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static void export_json(const vsri_tracker_snapshot *s, vsri_strbuf *sb)
{
    json_t *root = export_json_tree(s);
    char *text = root ? vsri_jtext_dump(root, 2) : NULL;
    json_decref(root);
    if (!text) {
        sb->oom = 1;
        return;
    }
    vsri_sb_puts(sb, text);
    free(text);
}

/* ---------------------------------------------------------------- CSV */

static const char *const csv_columns =
    "run_id,type,strategy,start_ns,end_ns,duration_ns,frames,chunks,tiles,in_width,in_height,"
    "out_width,out_height,scale,precision,device,success,error_code,error_message,meta,id,quality,"
    "peak_rss_bytes,peak_device_bytes\r\n";

/* One field, quoted (RFC 4180) when it holds a comma, quote or line break. */
static void csv_field(vsri_strbuf *sb, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
            quote = 1;
            break;
        }
    }
    if (!quote) {
        vsri_sb_append(sb, s, n);
        return;
    }
    vsri_sb_puts(sb, "\"");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            vsri_sb_puts(sb, "\"\"");
        else
            vsri_sb_append(sb, &s[i], 1);
    }
    vsri_sb_puts(sb, "\"");
}

static void csv_str(vsri_strbuf *sb, const char *s)
{
    csv_field(sb, s ? s : "", s ? strlen(s) : 0);
}

/* Meta as key=value;key=value, with ';', '=' and '\' inside keys and values
 * escaped by a backslash so the pairs can be split again. */
static void meta_escaped(vsri_strbuf *sb, const char *s)
{
    for (; *s; s++) {
        if (*s == ';' || *s == '=' || *s == '\\')
            vsri_sb_puts(sb, "\\");
        vsri_sb_append(sb, s, 1);
    }
}

static void csv_record(vsri_strbuf *sb, const vsr_op_record *r, vsri_strbuf *tmp)
{
    vsri_sb_printf(sb, "%llu,", (unsigned long long)r->run_id);
    csv_str(sb, r->type);
    vsri_sb_puts(sb, ",");
    csv_str(sb, r->strategy);
    vsri_sb_printf(sb, ",%lld,%lld,%lld,%lld,%lld,%lld,%d,%d,%d,%d,%d,", (long long)r->start_ns,
                   (long long)r->end_ns, (long long)r->duration_ns, (long long)r->frames,
                   (long long)r->chunks, (long long)r->tiles, r->in_width, r->in_height,
                   r->out_width, r->out_height, r->scale);
    csv_str(sb, r->precision);
    vsri_sb_puts(sb, ",");
    csv_str(sb, r->device);
    vsri_sb_printf(sb, ",%d,%d,", r->success ? 1 : 0, r->error_code);
    csv_str(sb, r->error_message);
    vsri_sb_puts(sb, ",");
    tmp->len = 0;
    for (int i = 0; i < r->n_meta; i++) {
        if (i)
            vsri_sb_puts(tmp, ";");
        meta_escaped(tmp, r->meta[i].key);
        vsri_sb_puts(tmp, "=");
        meta_escaped(tmp, r->meta[i].value);
    }
    if (tmp->oom)
        sb->oom = 1;
    csv_field(sb, tmp->data ? tmp->data : "", tmp->len);
    vsri_sb_printf(sb, ",%llu,", (unsigned long long)r->id);
    /* no quality: an empty field */
    if (isfinite(r->quality))
        vsri_sb_printf(sb, "%.17g", r->quality);
    vsri_sb_printf(sb, ",%lld,%lld\r\n", (long long)r->peak_rss_bytes, (long long)r->peak_device_bytes);
}

static void export_csv(const vsri_tracker_snapshot *s, vsri_strbuf *sb)
{
    vsri_strbuf tmp;
    vsri_sb_init(&tmp);
    vsri_sb_puts(sb, csv_columns);
    for (int i = 0; i < s->n_history; i++)
        csv_record(sb, &s->history[i], &tmp);
    vsri_sb_free(&tmp);
}

/* ---------------------------------------------------------------- Prometheus */

static void prom_family(vsri_strbuf *sb, const char *name, const char *type, const char *help)
{
    vsri_sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_label_value(vsri_strbuf *sb, const char *v)
{
    vsri_sb_puts(sb, "\"");
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\')
            vsri_sb_puts(sb, "\\\\");
        else if (*p == '"')
            vsri_sb_puts(sb, "\\\"");
        else if (*p == '\n')
            vsri_sb_puts(sb, "\\n");
        else
            vsri_sb_append(sb, p, 1);
    }
    vsri_sb_puts(sb, "\"");
}

static void prom_double(vsri_strbuf *sb, double v)
{
    if (isnan(v))
        vsri_sb_puts(sb, "NaN");
    else if (isinf(v))
        vsri_sb_puts(sb, v > 0 ? "+Inf" : "-Inf");
    else {
        /* the shortest form that reads back as the same double */
        char buf[32];
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(buf, sizeof(buf), "%.*g", digits, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        vsri_sb_puts(sb, buf);
    }
}

/* name{type="...",strategy="..."<extra>} — extra is already formatted. */
static void prom_op_series(vsri_strbuf *sb, const char *name, const char *type, const char *strategy,
                           const char *extra)
{
    vsri_sb_printf(sb, "%s{type=", name);
    prom_label_value(sb, type);
    vsri_sb_puts(sb, ",strategy=");
    prom_label_value(sb, strategy);
    vsri_sb_printf(sb, "%s} ", extra ? extra : "");
}

typedef enum { OP_COUNTS, OP_QUANTILES, OP_FRAMES, OP_FPS, OP_PEAK_RSS, OP_PEAK_DEVICE } op_metric;

/* One metric family's series over every (type, strategy) with records. */
static void prom_op_metric(vsri_strbuf *sb, const vsri_tracker_snapshot *s, op_metric m,
                           const char *name)
{
    for (int i = 0; i < s->n_pairs; i++) {
        const vsr_op_stats *st = &s->pairs[i].stats;
        const char *type = s->pairs[i].type, *strat = s->pairs[i].strategy;
        switch (m) {
        case OP_COUNTS:
            prom_op_series(sb, name, type, strat, ",result=\"success\"");
            vsri_sb_printf(sb, "%lld\n", (long long)st->successes);
            prom_op_series(sb, name, type, strat, ",result=\"failure\"");
            vsri_sb_printf(sb, "%lld\n", (long long)st->failures);
            break;
        case OP_QUANTILES: {
            prom_op_series(sb, name, type, strat, ",quantile=\"0.5\"");
            prom_double(sb, st->p50_ms / 1e3);
            vsri_sb_puts(sb, "\n");
            prom_op_series(sb, name, type, strat, ",quantile=\"0.95\"");
            prom_double(sb, st->p95_ms / 1e3);
            vsri_sb_puts(sb, "\n");
            /* _sum and _count share the family's labels minus quantile */
            char suffixed[96];
            snprintf(suffixed, sizeof(suffixed), "%s_sum", name);
            prom_op_series(sb, suffixed, type, strat, NULL);
            prom_double(sb, st->total_ms / 1e3);
            vsri_sb_puts(sb, "\n");
            snprintf(suffixed, sizeof(suffixed), "%s_count", name);
            prom_op_series(sb, suffixed, type, strat, NULL);
            vsri_sb_printf(sb, "%lld\n", (long long)st->count);
            break;
        }
        case OP_FRAMES:
            prom_op_series(sb, name, type, strat, NULL);
            vsri_sb_printf(sb, "%lld\n", (long long)st->frames);
            break;
        case OP_FPS:
            prom_op_series(sb, name, type, strat, NULL);
            prom_double(sb, st->fps);
            vsri_sb_puts(sb, "\n");
            break;
        /* peaks only where the records carried one (rather than -1) */
        case OP_PEAK_RSS:
            if (st->peak_rss_bytes >= 0) {
                prom_op_series(sb, name, type, strat, NULL);
                vsri_sb_printf(sb, "%lld\n", (long long)st->peak_rss_bytes);
            }
            break;
        case OP_PEAK_DEVICE:
            if (st->peak_device_bytes >= 0) {
                prom_op_series(sb, name, type, strat, NULL);
                vsri_sb_printf(sb, "%lld\n", (long long)st->peak_device_bytes);
            }
            break;
        }
    }
}

static int same_key(const vsr_op_record *a, const vsr_op_record *b)
{
    return strcmp(a->type, b->type) == 0 && strcmp(a->strategy ? a->strategy : "", b->strategy ? b->strategy : "") == 0;
}

/* Operations in flight per (type, strategy): a few, so counted by scanning. */
static void prom_in_flight(vsri_strbuf *sb, const vsri_tracker_snapshot *s, const char *name)
{
    for (int i = 0; i < s->n_in_flight; i++) {
        const vsr_op_record *r = &s->in_flight[i];
        int seen = 0, n = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = same_key(&s->in_flight[j], r);
        if (seen)
            continue;
        for (int j = i; j < s->n_in_flight; j++)
            n += same_key(&s->in_flight[j], r);
        prom_op_series(sb, name, r->type, r->strategy, NULL);
        vsri_sb_printf(sb, "%d\n", n);
    }
}

static void prom_gauge_i64(vsri_strbuf *sb, const char *name, const char *help, int64_t v, int have)
{
    prom_family(sb, name, "gauge", help);
    if (have)
        vsri_sb_printf(sb, "%s %lld\n", name, (long long)v);
}

static void export_prometheus(const vsri_tracker_snapshot *s, vsri_strbuf *sb)
{
    prom_family(sb, "libvsr_operations_total", "counter",
                "Operations recorded, by operation type, strategy and result.");
    prom_op_metric(sb, s, OP_COUNTS, "libvsr_operations_total");

    prom_family(sb, "libvsr_operation_duration_seconds", "summary",
                "Duration of operations; quantiles are exact up to 8192 operations per series.");
    prom_op_metric(sb, s, OP_QUANTILES, "libvsr_operation_duration_seconds");

    prom_family(sb, "libvsr_frames_total", "counter", "Frames processed, by operation type and strategy.");
    prom_op_metric(sb, s, OP_FRAMES, "libvsr_frames_total");

    prom_family(sb, "libvsr_frames_per_second", "gauge",
                "Frames per second of busy time, by operation type and strategy.");
    prom_op_metric(sb, s, OP_FPS, "libvsr_frames_per_second");

    prom_family(sb, "libvsr_operation_peak_rss_bytes", "gauge",
                "Highest resident memory of the process during an operation, by type and strategy.");
    prom_op_metric(sb, s, OP_PEAK_RSS, "libvsr_operation_peak_rss_bytes");
    prom_family(sb, "libvsr_operation_peak_device_bytes", "gauge",
                "Highest device memory in use during an operation, by type and strategy.");
    prom_op_metric(sb, s, OP_PEAK_DEVICE, "libvsr_operation_peak_device_bytes");

    prom_family(sb, "libvsr_operations_in_flight", "gauge",
                "Operations begun and not yet ended, by type and strategy.");
    prom_in_flight(sb, s, "libvsr_operations_in_flight");

    const vsr_resource_stats *r = &s->resources;
    prom_gauge_i64(sb, "libvsr_peak_rss_bytes", "Peak resident memory of the process.",
                   r->peak_rss_bytes, 1);
    prom_gauge_i64(sb, "libvsr_rss_bytes", "Resident memory of the process at the last sample.",
                   r->current_rss_bytes, 1);

    prom_family(sb, "libvsr_cpu_percent", "gauge",
                "Process CPU use in percent of one core: mean since the start and peak sample.");
    vsri_sb_puts(sb, "libvsr_cpu_percent{stat=\"mean\"} ");
    prom_double(sb, r->cpu_percent_mean);
    vsri_sb_puts(sb, "\nlibvsr_cpu_percent{stat=\"peak\"} ");
    prom_double(sb, r->cpu_percent_peak);
    vsri_sb_puts(sb, "\n");

    /* Device gauges have no sample when there is no GPU (rather than -1). */
    prom_gauge_i64(sb, "libvsr_peak_device_bytes", "Peak device memory in use.",
                   r->peak_device_bytes, r->peak_device_bytes >= 0);
    prom_gauge_i64(sb, "libvsr_device_total_bytes", "Total device memory.", r->device_total_bytes,
                   r->device_total_bytes >= 0);
    prom_family(sb, "libvsr_gpu_util_percent_peak", "gauge", "Peak GPU utilisation in percent.");
    if (r->gpu_util_percent_peak >= 0) {
        vsri_sb_puts(sb, "libvsr_gpu_util_percent_peak ");
        prom_double(sb, r->gpu_util_percent_peak);
        vsri_sb_puts(sb, "\n");
    }

    prom_family(sb, "libvsr_resource_samples_total", "counter", "Samples taken by the resource sampler.");
    vsri_sb_printf(sb, "libvsr_resource_samples_total %lld\n", (long long)r->samples);
    prom_gauge_i64(sb, "libvsr_max_frames_in_flight",
                   "High-water mark of frames between decode and encode.", r->max_frames_in_flight, 1);
    prom_gauge_i64(sb, "libvsr_queue_depth", "Configured bound of each pipeline queue.",
                   r->queue_depth, 1);

    const vsr_quality_stats *q = &s->quality;
    prom_family(sb, "libvsr_quality_frames_total", "counter", "Frames compared with a reference.");
    vsri_sb_printf(sb, "libvsr_quality_frames_total %lld\n", (long long)q->frames);
    prom_family(sb, "libvsr_quality_psnr_db", "gauge",
                "PSNR against the reference in dB (capped at 100 for identical frames).");
    if (!isnan(q->psnr_mean)) {
        vsri_sb_puts(sb, "libvsr_quality_psnr_db{stat=\"mean\"} ");
        prom_double(sb, q->psnr_mean);
        vsri_sb_puts(sb, "\nlibvsr_quality_psnr_db{stat=\"min\"} ");
        prom_double(sb, q->psnr_min);
        vsri_sb_puts(sb, "\n");
    }
    prom_family(sb, "libvsr_quality_ssim", "gauge", "SSIM (luma) against the reference.");
    if (!isnan(q->ssim_mean)) {
        vsri_sb_puts(sb, "libvsr_quality_ssim{stat=\"mean\"} ");
        prom_double(sb, q->ssim_mean);
        vsri_sb_puts(sb, "\nlibvsr_quality_ssim{stat=\"min\"} ");
        prom_double(sb, q->ssim_min);
        vsri_sb_puts(sb, "\n");
    }
}

/* ---------------------------------------------------------------- entry points */

static int export_build(vsr_tracker *t, vsr_export_format fmt, char **out, const char *where)
{
    *out = NULL;
    if (!t)
        return vsri_error(VSR_EINVAL, "tracker export%s: tracker is NULL", where);
    if (fmt != VSR_EXPORT_JSON && fmt != VSR_EXPORT_CSV && fmt != VSR_EXPORT_PROMETHEUS)
        return vsri_error(VSR_EINVAL, "tracker export%s: unknown format %d", where, (int)fmt);
    vsri_tracker_snapshot *s;
    int err = vsri_tracker_snapshot_take(t, &s);
    if (err < 0)
        return err;
    vsri_strbuf sb;
    vsri_sb_init(&sb);
    switch (fmt) {
    case VSR_EXPORT_JSON: export_json(s, &sb); break;
    case VSR_EXPORT_CSV: export_csv(s, &sb); break;
    case VSR_EXPORT_PROMETHEUS: export_prometheus(s, &sb); break;
    }
    vsri_tracker_snapshot_free(&s);
    *out = vsri_sb_take(&sb);
    if (!*out)
        return vsri_error(VSR_ENOMEM, "tracker export%s: out of memory", where);
    return 0;
}

int vsr_tracker_export_string(vsr_tracker *t, vsr_export_format fmt, char **out)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_tracker_export_string: out is NULL");
    return export_build(t, fmt, out, "");
}

int vsr_tracker_export(vsr_tracker *t, vsr_export_format fmt, const char *path)
{
    if (!path || !*path)
        return vsri_error(VSR_EINVAL, "vsr_tracker_export: no path given");
    size_t where_len = strlen(path) + 16;
    char *where = malloc(where_len);
    if (!where)
        return vsri_error(VSR_ENOMEM, "tracker export to '%s': out of memory", path);
    snprintf(where, where_len, " to '%s'", path);
    char *text;
    int err = export_build(t, fmt, &text, where);
    free(where);
    if (err < 0)
        return err;
    err = vsri_write_file_atomic(path, text, strlen(text));
    free(text);
    return err;
}
