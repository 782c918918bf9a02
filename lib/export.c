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
#include "sysinfo.h"
#include "tracker_internal.h"

/* ---------------------------------------------------------------- JSON */

static void json_i64(vsri_strbuf *sb, int64_t v)
{
    /* Integers are written exactly: nanosecond timestamps pass 2^53 (the
     * limit of a double) after about 104 days of uptime. */
    vsri_sb_printf(sb, "%lld", (long long)v);
}

static void json_key(vsri_strbuf *sb, int *first, const char *key)
{
    if (!*first)
        vsri_sb_puts(sb, ", ");
    *first = 0;
    vsri_sb_json_string(sb, key);
    vsri_sb_puts(sb, ": ");
}

/* Leaves the object open: the caller may add members, then closes it. */
static void json_stats(vsri_strbuf *sb, const vsr_op_stats *s)
{
    int first = 1;
    vsri_sb_puts(sb, "{");
    json_key(sb, &first, "count");
    json_i64(sb, s->count);
    json_key(sb, &first, "successes");
    json_i64(sb, s->successes);
    json_key(sb, &first, "failures");
    json_i64(sb, s->failures);
    json_key(sb, &first, "total_ms");
    vsri_sb_json_number(sb, s->total_ms);
    json_key(sb, &first, "mean_ms");
    vsri_sb_json_number(sb, s->mean_ms);
    json_key(sb, &first, "min_ms");
    vsri_sb_json_number(sb, s->min_ms);
    json_key(sb, &first, "max_ms");
    vsri_sb_json_number(sb, s->max_ms);
    json_key(sb, &first, "p50_ms");
    vsri_sb_json_number(sb, s->p50_ms);
    json_key(sb, &first, "p95_ms");
    vsri_sb_json_number(sb, s->p95_ms);
    json_key(sb, &first, "frames");
    json_i64(sb, s->frames);
    json_key(sb, &first, "fps");
    vsri_sb_json_number(sb, s->fps);
    json_key(sb, &first, "success_rate");
    vsri_sb_json_number(sb, s->success_rate);
    json_key(sb, &first, "peak_rss_bytes");
    json_i64(sb, s->peak_rss_bytes);
    json_key(sb, &first, "peak_device_bytes");
    json_i64(sb, s->peak_device_bytes);
}

static void json_trend(vsri_strbuf *sb, const vsr_op_trend *t)
{
    int first = 1;
    vsri_sb_puts(sb, "{");
    json_key(sb, &first, "window");
    json_i64(sb, t->window);
    json_key(sb, &first, "recent_count");
    json_i64(sb, t->recent_count);
    json_key(sb, &first, "previous_count");
    json_i64(sb, t->previous_count);
    json_key(sb, &first, "recent_mean_ms");
    vsri_sb_json_number(sb, t->recent_mean_ms);
    json_key(sb, &first, "previous_mean_ms");
    vsri_sb_json_number(sb, t->previous_mean_ms);
    json_key(sb, &first, "duration_ratio");
    vsri_sb_json_number(sb, t->duration_ratio);
    json_key(sb, &first, "recent_success_rate");
    vsri_sb_json_number(sb, t->recent_success_rate);
    json_key(sb, &first, "previous_success_rate");
    vsri_sb_json_number(sb, t->previous_success_rate);
    vsri_sb_puts(sb, "}");
}

/* Statistics and trend of a key, as an object left open for more members. */
static void json_key_stats(vsri_strbuf *sb, const vsri_key_stats *k)
{
    json_stats(sb, &k->stats);
    vsri_sb_puts(sb, ", \"trend\": ");
    json_trend(sb, &k->trend);
}

static void json_record(vsri_strbuf *sb, const vsr_op_record *r)
{
    int first = 1;
    vsri_sb_puts(sb, "{");
    json_key(sb, &first, "id");
    vsri_sb_printf(sb, "%llu", (unsigned long long)r->id);
    json_key(sb, &first, "run_id");
    vsri_sb_printf(sb, "%llu", (unsigned long long)r->run_id);
    json_key(sb, &first, "type");
    vsri_sb_json_string(sb, r->type);
    json_key(sb, &first, "strategy");
    vsri_sb_json_string(sb, r->strategy);
    json_key(sb, &first, "start_ns");
    json_i64(sb, r->start_ns);
    json_key(sb, &first, "end_ns");
    json_i64(sb, r->end_ns);
    json_key(sb, &first, "duration_ns");
    json_i64(sb, r->duration_ns);
    json_key(sb, &first, "frames");
    json_i64(sb, r->frames);
    json_key(sb, &first, "chunks");
    json_i64(sb, r->chunks);
    json_key(sb, &first, "tiles");
    json_i64(sb, r->tiles);
    json_key(sb, &first, "in_width");
    json_i64(sb, r->in_width);
    json_key(sb, &first, "in_height");
    json_i64(sb, r->in_height);
    json_key(sb, &first, "out_width");
    json_i64(sb, r->out_width);
    json_key(sb, &first, "out_height");
    json_i64(sb, r->out_height);
    json_key(sb, &first, "scale");
    json_i64(sb, r->scale);
    json_key(sb, &first, "precision");
    vsri_sb_json_string(sb, r->precision);
    json_key(sb, &first, "device");
    vsri_sb_json_string(sb, r->device);
    json_key(sb, &first, "success");
    vsri_sb_puts(sb, r->success ? "true" : "false");
    json_key(sb, &first, "error_code");
    json_i64(sb, r->error_code);
    json_key(sb, &first, "error_message");
    vsri_sb_json_string(sb, r->error_message);
    json_key(sb, &first, "quality");
    vsri_sb_json_number(sb, r->quality);
    json_key(sb, &first, "peak_rss_bytes");
    json_i64(sb, r->peak_rss_bytes);
    json_key(sb, &first, "peak_device_bytes");
    json_i64(sb, r->peak_device_bytes);
    json_key(sb, &first, "meta");
    /* keys are unique: the tracker merges duplicates when recording */
    vsri_sb_puts(sb, "{");
    for (int i = 0; i < r->n_meta; i++) {
        if (i)
            vsri_sb_puts(sb, ", ");
        vsri_sb_json_string(sb, r->meta[i].key);
        vsri_sb_puts(sb, ": ");
        vsri_sb_json_string(sb, r->meta[i].value);
    }
    vsri_sb_puts(sb, "}}");
}

static void export_json(const vsri_tracker_snapshot *s, vsri_strbuf *sb)
{
    vsri_sb_puts(sb, "{\n  \"format\": \"libvsr-stats\",\n  \"version\": 2,\n  \"library\": ");
    vsri_sb_json_string(sb, vsr_version_string());
    vsri_sb_puts(sb, ",\n  \"build\": ");
    vsri_sb_json_string(sb, vsr_build_info());
    /* the machine the numbers were measured on */
    vsri_sysinfo si;
    if (vsri_sysinfo_get(&si) == 0) {
        vsri_sb_puts(sb, ",\n  \"system\": ");
        vsri_sysinfo_json(&si, sb);
    }

    /* per type, with its strategies inside; pairs are sorted by type, so
     * each type's pairs follow one another */
    vsri_sb_puts(sb, ",\n  \"stats\": {");
    int pair = 0;
    for (int i = 0; i < s->n_types; i++) {
        const vsri_key_stats *k = &s->types[i];
        vsri_sb_puts(sb, i ? ",\n    " : "\n    ");
        vsri_sb_json_string(sb, k->type);
        vsri_sb_puts(sb, ": ");
        json_key_stats(sb, k);
        vsri_sb_puts(sb, ", \"by_strategy\": {");
        int first = 1;
        while (pair < s->n_pairs && strcmp(s->pairs[pair].type, k->type) < 0)
            pair++;
        for (; pair < s->n_pairs && strcmp(s->pairs[pair].type, k->type) == 0; pair++) {
            json_key(sb, &first, s->pairs[pair].strategy);
            json_key_stats(sb, &s->pairs[pair]);
            vsri_sb_puts(sb, "}");
        }
        vsri_sb_puts(sb, "}}");
    }
    vsri_sb_puts(sb, s->n_types ? "\n  },\n" : "},\n");

    /* per strategy, over every type */
    vsri_sb_puts(sb, "  \"strategies\": {");
    for (int i = 0; i < s->n_strategies; i++) {
        vsri_sb_puts(sb, i ? ",\n    " : "\n    ");
        vsri_sb_json_string(sb, s->strategies[i].strategy);
        vsri_sb_puts(sb, ": ");
        json_key_stats(sb, &s->strategies[i]);
        vsri_sb_puts(sb, "}");
    }
    vsri_sb_puts(sb, s->n_strategies ? "\n  },\n" : "},\n");

    vsri_sb_puts(sb, "  \"in_flight\": [");
    for (int i = 0; i < s->n_in_flight; i++) {
        vsri_sb_puts(sb, i ? ",\n    " : "\n    ");
        json_record(sb, &s->in_flight[i]);
    }
    vsri_sb_puts(sb, s->n_in_flight ? "\n  ],\n" : "],\n");

    const vsr_resource_stats *r = &s->resources;
    vsri_sb_puts(sb, "  \"resources\": {");
    int first = 1;
    json_key(sb, &first, "peak_rss_bytes");
    json_i64(sb, r->peak_rss_bytes);
    json_key(sb, &first, "current_rss_bytes");
    json_i64(sb, r->current_rss_bytes);
    json_key(sb, &first, "cpu_percent_mean");
    vsri_sb_json_number(sb, r->cpu_percent_mean);
    json_key(sb, &first, "cpu_percent_peak");
    vsri_sb_json_number(sb, r->cpu_percent_peak);
    json_key(sb, &first, "peak_device_bytes");
    json_i64(sb, r->peak_device_bytes);
    json_key(sb, &first, "device_total_bytes");
    json_i64(sb, r->device_total_bytes);
    json_key(sb, &first, "gpu_util_percent_peak");
    vsri_sb_json_number(sb, r->gpu_util_percent_peak);
    json_key(sb, &first, "samples");
    json_i64(sb, r->samples);
    json_key(sb, &first, "max_frames_in_flight");
    json_i64(sb, r->max_frames_in_flight);
    json_key(sb, &first, "queue_depth");
    json_i64(sb, r->queue_depth);
    vsri_sb_puts(sb, "},\n");

    /* PSNR is capped (VSRI_PSNR_CAP_DB), so only "not measured" is null. */
    const vsr_quality_stats *q = &s->quality;
    vsri_sb_puts(sb, "  \"quality\": {");
    first = 1;
    json_key(sb, &first, "frames");
    json_i64(sb, q->frames);
    json_key(sb, &first, "psnr_mean");
    vsri_sb_json_number(sb, q->psnr_mean);
    json_key(sb, &first, "psnr_min");
    vsri_sb_json_number(sb, q->psnr_min);
    json_key(sb, &first, "ssim_mean");
    vsri_sb_json_number(sb, q->ssim_mean);
    json_key(sb, &first, "ssim_min");
    vsri_sb_json_number(sb, q->ssim_min);
    json_key(sb, &first, "per_frame_truncated");
    vsri_sb_puts(sb, s->quality_frames_truncated ? "true" : "false");
    json_key(sb, &first, "per_frame");
    vsri_sb_puts(sb, "[");
    for (int64_t i = 0; i < s->n_quality_frames; i++) {
        const vsri_quality_frame *f = &s->quality_frames[i];
        vsri_sb_puts(sb, i ? ",\n    {\"frame\": " : "\n    {\"frame\": ");
        json_i64(sb, f->frame_index);
        vsri_sb_puts(sb, ", \"psnr_db\": ");
        vsri_sb_json_number(sb, f->psnr_db);
        vsri_sb_puts(sb, ", \"ssim\": ");
        vsri_sb_json_number(sb, f->ssim);
        vsri_sb_puts(sb, "}");
    }
    vsri_sb_puts(sb, s->n_quality_frames ? "\n  ]},\n" : "]},\n");

    vsri_sb_puts(sb, "  \"history\": [");
    for (int i = 0; i < s->n_history; i++) {
        vsri_sb_puts(sb, i ? ",\n    " : "\n    ");
        json_record(sb, &s->history[i]);
    }
    vsri_sb_puts(sb, s->n_history ? "\n  ]\n}\n" : "]\n}\n");
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
