/* Tracker exports: JSON round trip, CSV quoting, Prometheus text format,
 * with libvsr's stages and caller-named types and strategies. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testjson.h"
#include "libvsr/vsr.h"
#include "testutil.h"
#include "tracker_internal.h"

#define N_RECORDS 7
#define N_HISTORY (N_RECORDS + 1) /* and the caller's operation */

static const char *nasty_message = "failed, badly: \"quoted\"\nsecond line, with \\ too";
static const char *nasty_strategy = "model \"x\"\\v2\nnew";
static const char *nasty_type = "caller \"op\",\\ new\nline";
/* beyond 2^53: a double would round it */
static const int64_t big_start = 9007199254740993LL;

static vsr_op *pending; /* in flight during the exports */

static vsr_tracker *make_tracker(void)
{
    vsr_tracker_settings s;
    vsr_tracker_settings_default(&s);
    s.sampler_interval_ms = 0;
    vsr_tracker *t = NULL;
    CHECK_EQ_INT(vsr_tracker_open(&t, &s), 0);
    vsr_tracker_set_meta(t, "host", "box;1=a\\b");
    vsr_tracker_set_meta(t, "job", "7");
    for (int i = 0; i < N_RECORDS; i++) {
        vsr_op_record r;
        memset(&r, 0, sizeof(r));
        r.size = sizeof(r);
        static const char *const types[] = {VSR_OP_UPLOAD, VSR_OP_INFERENCE, VSR_OP_DOWNLOAD};
        r.type = i == N_RECORDS - 1 ? VSR_OP_RUN : i == 4 ? nasty_type : types[i % 3];
        r.strategy = i % 2 ? "realesr-x2" : nasty_strategy;
        r.run_id = 5;
        r.start_ns = big_start + i;
        r.duration_ns = 1234567 + 1000 * i + (i == 2 ? 1 : 0);
        r.end_ns = r.start_ns + r.duration_ns;
        r.frames = i + 1;
        r.chunks = 1;
        r.tiles = 4;
        r.in_width = 640;
        r.in_height = 360;
        r.out_width = 1280;
        r.out_height = 720;
        r.scale = 2;
        r.precision = "bf16";
        r.device = i % 2 ? "cpu" : NULL;
        r.success = i != 3;
        r.error_code = i == 3 ? VSR_ERROR_MODEL_RUN : 0;
        r.error_message = i == 3 ? nasty_message : NULL;
        vsr_kv own[] = {{"tile", "4"}, {"note", "a,b"}};
        r.meta = own;
        r.n_meta = i == 3 ? 2 : 0;
        r.quality = i == 5 ? 0.75 : NAN;
        r.peak_rss_bytes = i == 5 ? 123456789 : -1;
        r.peak_device_bytes = -1;
        CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
    }
    /* a caller's operation, ended, and one still in flight */
    vsr_op *op = NULL;
    CHECK_EQ_INT(vsr_op_begin(t, "analysis", "degradation_router", &op), 0);
    vsr_op_set_frames(op, 3);
    vsr_op_end(&op, 0, NULL);
    CHECK_EQ_INT(vsr_op_begin(t, nasty_type, nasty_strategy, &pending), 0);
    vsr_op_set_meta(pending, "stage", "a,b;c");
    vsr_tracker_record_quality(t, 0, 31.25, 0.875);
    vsr_tracker_record_quality(t, 1, INFINITY, 1.0);
    vsri_tracker_note_inflight(t, 12);
    vsri_tracker_set_queue_depth(t, 4);
    return t;
}

/* ---------------------------------------------------------------- JSON */

static int num_eq(const json_t *j, double v)
{
    return tj_type(j) == TJ_NUMBER && tj_num(j, NAN) == v;
}

static void check_json_stats(const json_t *o, const vsr_op_stats *s)
{
    int64_t v;
    CHECK(tj_int(json_object_get(o, "count"), &v) == 0 && v == s->count);
    CHECK(tj_int(json_object_get(o, "successes"), &v) == 0 && v == s->successes);
    CHECK(tj_int(json_object_get(o, "failures"), &v) == 0 && v == s->failures);
    CHECK(tj_int(json_object_get(o, "frames"), &v) == 0 && v == s->frames);
    /* %.17g round-trips every double exactly */
    CHECK(num_eq(json_object_get(o, "total_ms"), s->total_ms));
    CHECK(num_eq(json_object_get(o, "mean_ms"), s->mean_ms));
    CHECK(num_eq(json_object_get(o, "min_ms"), s->min_ms));
    CHECK(num_eq(json_object_get(o, "max_ms"), s->max_ms));
    CHECK(num_eq(json_object_get(o, "p50_ms"), s->p50_ms));
    CHECK(num_eq(json_object_get(o, "p95_ms"), s->p95_ms));
    CHECK(num_eq(json_object_get(o, "fps"), s->fps));
    CHECK(num_eq(json_object_get(o, "success_rate"), s->success_rate));
    CHECK(tj_int(json_object_get(o, "peak_rss_bytes"), &v) == 0 && v == s->peak_rss_bytes);
    CHECK(tj_int(json_object_get(o, "peak_device_bytes"), &v) == 0 && v == s->peak_device_bytes);
}

static int num_or_null_eq(const json_t *j, double v)
{
    return isnan(v) ? tj_type(j) == TJ_NULL : num_eq(j, v);
}

static void check_json_trend(const json_t *o, const vsr_op_trend *t)
{
    int64_t v;
    CHECK(tj_type(o) == TJ_OBJECT);
    CHECK(tj_int(json_object_get(o, "window"), &v) == 0 && v == t->window);
    CHECK(tj_int(json_object_get(o, "recent_count"), &v) == 0 && v == t->recent_count);
    CHECK(tj_int(json_object_get(o, "previous_count"), &v) == 0 && v == t->previous_count);
    CHECK(num_or_null_eq(json_object_get(o, "recent_mean_ms"), t->recent_mean_ms));
    CHECK(num_or_null_eq(json_object_get(o, "previous_mean_ms"), t->previous_mean_ms));
    CHECK(num_or_null_eq(json_object_get(o, "duration_ratio"), t->duration_ratio));
    CHECK(num_or_null_eq(json_object_get(o, "recent_success_rate"), t->recent_success_rate));
    CHECK(num_or_null_eq(json_object_get(o, "previous_success_rate"), t->previous_success_rate));
}

static void check_json_key(vsr_tracker *t, const json_t *o, const char *type, const char *strategy)
{
    vsr_op_stats s = {.size = sizeof(s)};
    vsr_op_trend tr = {.size = sizeof(tr)};
    CHECK_EQ_INT(vsr_tracker_get_stats(t, type, strategy, &s), 0);
    CHECK_EQ_INT(vsr_tracker_get_trend(t, type, strategy, VSRI_EXPORT_TREND_WINDOW, &tr), 0);
    CHECK_MSG(s.count > 0, "exported key %s/%s has no records", type ? type : "*", strategy ? strategy : "*");
    check_json_stats(o, &s);
    check_json_trend(json_object_get(o, "trend"), &tr);
}

static void test_json(vsr_tracker *t)
{
    char *text = NULL;
    CHECK_EQ_INT(vsr_tracker_export_string(t, VSR_EXPORT_JSON, &text), 0);
    if (!text)
        return;
    char err[256] = "";
    json_t *root = tj_parse(text, strlen(text), err, sizeof(err));
    CHECK_MSG(root != NULL, "JSON does not parse: %s", err);
    if (!root) {
        fprintf(stderr, "%s\n", text);
        vsr_free(text);
        return;
    }
    CHECK(strcmp(tj_str(json_object_get(root, "format"), ""), "libvsr-stats") == 0);
    CHECK(num_eq(json_object_get(root, "version"), 2));
    CHECK(strcmp(tj_str(json_object_get(root, "library"), ""), vsr_version_string()) == 0);

    /* per type: every type with records (libvsr's and the caller's), with
     * its strategies inside; they add up to the type's count */
    char **types = NULL, **strategies = NULL;
    int n_types = 0, n_strategies = 0;
    vsr_tracker_list(t, VSR_LIST_TYPES, &types, &n_types);
    vsr_tracker_list(t, VSR_LIST_STRATEGIES, &strategies, &n_strategies);
    CHECK_EQ_INT(n_types, 6); /* upload, inference, download, run, the nasty one, analysis */
    const json_t *stats = json_object_get(root, "stats");
    CHECK_EQ_INT(tj_count(stats), n_types);
    for (int i = 0; i < n_types; i++) {
        /* in the order of vsr_tracker_list */
        CHECK(tj_key_at(stats, i) && strcmp(tj_key_at(stats, i), types[i]) == 0);
        const json_t *o = json_object_get(stats, types[i]);
        CHECK(o != NULL);
        check_json_key(t, o, types[i], NULL);
        const json_t *by = json_object_get(o, "by_strategy");
        CHECK(tj_type(by) == TJ_OBJECT);
        int64_t sum = 0;
        for (int k = 0; k < tj_count(by); k++) {
            const char *strat = tj_key_at(by, k);
            check_json_key(t, tj_at(by, k), types[i], strat);
            vsr_op_stats s = {.size = sizeof(s)};
            vsr_tracker_get_stats(t, types[i], strat, &s);
            sum += s.count;
        }
        vsr_op_stats s = {.size = sizeof(s)};
        vsr_tracker_get_stats(t, types[i], NULL, &s);
        CHECK_EQ_INT(sum, s.count);
    }
    const json_t *up = json_object_get(stats, "upload");
    CHECK(json_object_get(json_object_get(up, "by_strategy"), nasty_strategy) != NULL);
    CHECK(json_object_get(stats, nasty_type) != NULL);
    const json_t *analysis = json_object_get(stats, "analysis");
    CHECK(json_object_get(json_object_get(analysis, "by_strategy"), "degradation_router") != NULL);

    /* per strategy over every type */
    const json_t *per_strategy = json_object_get(root, "strategies");
    CHECK_EQ_INT(tj_count(per_strategy), n_strategies);
    for (int i = 0; i < n_strategies; i++) {
        CHECK(strcmp(tj_key_at(per_strategy, i), strategies[i]) == 0);
        check_json_key(t, tj_at(per_strategy, i), NULL, strategies[i]);
    }
    vsr_free(types);
    vsr_free(strategies);

    /* the operation in flight */
    const json_t *fl = json_object_get(root, "in_flight");
    CHECK_EQ_INT(tj_count(fl), 1);
    const json_t *f0 = tj_at(fl, 0);
    CHECK(strcmp(tj_str(json_object_get(f0, "type"), ""), nasty_type) == 0);
    CHECK(strcmp(tj_str(json_object_get(f0, "strategy"), ""), nasty_strategy) == 0);
    CHECK(tj_bool(json_object_get(f0, "success"), 1) == 0);
    CHECK(strcmp(tj_str(json_object_get(json_object_get(f0, "meta"), "stage"), ""), "a,b;c") == 0);

    const json_t *res = json_object_get(root, "resources");
    int64_t v = 0;
    CHECK(tj_int(json_object_get(res, "max_frames_in_flight"), &v) == 0 && v == 12);
    CHECK(tj_int(json_object_get(res, "queue_depth"), &v) == 0 && v == 4);
    CHECK(tj_int(json_object_get(res, "peak_device_bytes"), &v) == 0 && v == -1);
    CHECK(tj_int(json_object_get(res, "peak_rss_bytes"), &v) == 0 && v > 0);

    const json_t *q = json_object_get(root, "quality");
    CHECK(tj_int(json_object_get(q, "frames"), &v) == 0 && v == 2);
    CHECK(num_eq(json_object_get(q, "psnr_min"), 31.25));
    CHECK(num_eq(json_object_get(q, "psnr_mean"), (31.25 + 100.0) / 2));
    CHECK(num_eq(json_object_get(q, "ssim_mean"), 0.9375));
    const json_t *pf = json_object_get(q, "per_frame");
    CHECK_EQ_INT(tj_count(pf), 2);
    CHECK(num_eq(json_object_get(tj_at(pf, 1), "psnr_db"), 100.0));
    CHECK(tj_bool(json_object_get(q, "per_frame_truncated"), 1) == 0);

    const json_t *hist = json_object_get(root, "history");
    CHECK_EQ_INT(tj_count(hist), N_HISTORY);
    for (int i = 0; i < tj_count(hist) && i < N_RECORDS; i++) {
        const json_t *h = tj_at(hist, i);
        vsr_op_record *rp = NULL;
        CHECK_EQ_INT(vsr_tracker_history_get(t, i, &rp), 0);
        if (!rp)
            break;
        vsr_op_record r = *rp;
        CHECK(tj_int(json_object_get(h, "id"), &v) == 0 && v == (int64_t)r.id);
        CHECK(num_or_null_eq(json_object_get(h, "quality"), r.quality));
        CHECK(tj_int(json_object_get(h, "peak_rss_bytes"), &v) == 0 && v == r.peak_rss_bytes);
        CHECK(tj_int(json_object_get(h, "peak_device_bytes"), &v) == 0 && v == -1);
        CHECK(tj_int(json_object_get(h, "start_ns"), &v) == 0 && v == r.start_ns);
        CHECK(v == big_start + i);
        CHECK(tj_int(json_object_get(h, "end_ns"), &v) == 0 && v == r.end_ns);
        CHECK(tj_int(json_object_get(h, "duration_ns"), &v) == 0 && v == r.duration_ns);
        CHECK(tj_int(json_object_get(h, "run_id"), &v) == 0 && v == 5);
        CHECK(tj_int(json_object_get(h, "frames"), &v) == 0 && v == r.frames);
        CHECK(tj_int(json_object_get(h, "tiles"), &v) == 0 && v == 4);
        CHECK(tj_int(json_object_get(h, "out_height"), &v) == 0 && v == 720);
        CHECK(tj_int(json_object_get(h, "scale"), &v) == 0 && v == 2);
        CHECK(tj_int(json_object_get(h, "error_code"), &v) == 0 && v == r.error_code);
        CHECK(strcmp(tj_str(json_object_get(h, "type"), ""), r.type) == 0);
        CHECK(strcmp(tj_str(json_object_get(h, "strategy"), ""), r.strategy) == 0);
        CHECK(strcmp(tj_str(json_object_get(h, "precision"), ""), "bf16") == 0);
        if (r.device)
            CHECK(strcmp(tj_str(json_object_get(h, "device"), ""), r.device) == 0);
        else
            CHECK(tj_type(json_object_get(h, "device")) == TJ_NULL);
        CHECK(tj_bool(json_object_get(h, "success"), -1) == r.success);
        if (r.error_message)
            CHECK(strcmp(tj_str(json_object_get(h, "error_message"), ""), nasty_message) == 0);
        const json_t *meta = json_object_get(h, "meta");
        CHECK_EQ_INT(tj_count(meta), r.n_meta);
        for (int m = 0; m < r.n_meta; m++) {
            CHECK(strcmp(tj_key_at(meta, m), r.meta[m].key) == 0);
            CHECK(strcmp(tj_str(tj_at(meta, m), ""), r.meta[m].value) == 0);
        }
        vsr_free(rp);
    }
    json_decref(root);
    vsr_free(text);
}

/* ---------------------------------------------------------------- CSV */

typedef struct csv_row {
    int n;
    char *field[32];
} csv_row;

/* A small RFC 4180 reader: rows end with CRLF or LF outside quotes.
 * Returns the number of rows (at most max_rows), -1 on a syntax error. */
static int csv_parse(const char *s, csv_row *rows, int max_rows)
{
    int nrows = 0;
    while (*s && nrows < max_rows) {
        csv_row *row = &rows[nrows++];
        row->n = 0;
        for (;;) {
            size_t cap = strlen(s) + 1;
            char *f = malloc(cap), *o = f;
            if (*s == '"') {
                s++;
                for (;;) {
                    if (!*s) {
                        free(f);
                        return -1;
                    }
                    if (*s == '"' && s[1] == '"') {
                        *o++ = '"';
                        s += 2;
                    } else if (*s == '"') {
                        s++;
                        break;
                    } else {
                        *o++ = *s++;
                    }
                }
            } else {
                while (*s && *s != ',' && *s != '\r' && *s != '\n') {
                    if (*s == '"') {
                        free(f);
                        return -1; /* a quote inside an unquoted field */
                    }
                    *o++ = *s++;
                }
            }
            *o = 0;
            if (row->n < 32)
                row->field[row->n++] = f;
            else
                free(f);
            if (*s == ',') {
                s++;
                continue;
            }
            if (*s == '\r')
                s++;
            if (*s == '\n')
                s++;
            else if (*s)
                return -1;
            break;
        }
    }
    return nrows;
}

static void csv_free(csv_row *rows, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < rows[i].n; j++)
            free(rows[i].field[j]);
}

static void test_csv(vsr_tracker *t)
{
    char *text = NULL;
    CHECK_EQ_INT(vsr_tracker_export_string(t, VSR_EXPORT_CSV, &text), 0);
    if (!text)
        return;
    csv_row rows[N_HISTORY + 2];
    memset(rows, 0, sizeof(rows));
    int n = csv_parse(text, rows, N_HISTORY + 2);
    CHECK_EQ_INT(n, N_HISTORY + 1);
    if (n != N_HISTORY + 1) {
        fprintf(stderr, "%s\n", text);
        if (n > 0)
            csv_free(rows, n);
        vsr_free(text);
        return;
    }
    static const char *const columns[] = {
        "run_id", "type", "strategy", "start_ns", "end_ns", "duration_ns", "frames",
        "chunks", "tiles", "in_width", "in_height", "out_width", "out_height", "scale",
        "precision", "device", "success", "error_code", "error_message", "meta", "id", "quality",
        "peak_rss_bytes", "peak_device_bytes"};
    enum { NCOL = sizeof(columns) / sizeof(columns[0]) };
    CHECK_EQ_INT(rows[0].n, NCOL);
    for (int c = 0; c < NCOL && c < rows[0].n; c++)
        CHECK(strcmp(rows[0].field[c], columns[c]) == 0);
    for (int i = 1; i < n; i++) {
        vsr_op_record *rp = NULL;
        CHECK_EQ_INT(vsr_tracker_history_get(t, i - 1, &rp), 0);
        if (!rp)
            continue;
        vsr_op_record r = *rp;
        csv_row *row = &rows[i];
        CHECK_EQ_INT(row->n, NCOL);
        if (row->n != NCOL) {
            vsr_free(rp);
            continue;
        }
        CHECK(strcmp(row->field[1], r.type) == 0);
        CHECK(strtoull(row->field[20], NULL, 10) == r.id);
        if (isnan(r.quality))
            CHECK(row->field[21][0] == 0);
        else
            CHECK(strtod(row->field[21], NULL) == r.quality);
        CHECK(strtoll(row->field[22], NULL, 10) == r.peak_rss_bytes);
        CHECK(strtoll(row->field[23], NULL, 10) == r.peak_device_bytes);
        if (i - 1 == N_RECORDS) { /* the caller's operation */
            CHECK(strcmp(row->field[1], "analysis") == 0 && strcmp(row->field[2], "degradation_router") == 0);
            CHECK(strtoll(row->field[22], NULL, 10) > 0); /* measured at begin and end */
            vsr_free(rp);
            continue;
        }
        CHECK(strcmp(row->field[2], r.strategy) == 0);
        CHECK(strtoll(row->field[3], NULL, 10) == r.start_ns);
        CHECK(strtoll(row->field[5], NULL, 10) == r.duration_ns);
        CHECK(strcmp(row->field[15], r.device ? r.device : "") == 0);
        CHECK(atoi(row->field[16]) == r.success);
        CHECK(atoi(row->field[17]) == r.error_code);
        CHECK(strcmp(row->field[18], r.error_message ? r.error_message : "") == 0);
        if (i - 1 == 3)
            CHECK(strcmp(row->field[18], nasty_message) == 0);
        /* meta: key=value;... with ; = \ escaped by a backslash */
        if (r.n_meta == 4) {
            CHECK(strcmp(row->field[19], "host=box\\;1\\=a\\\\b;job=7;tile=4;note=a,b") == 0);
        } else {
            CHECK_EQ_INT(r.n_meta, 2);
            CHECK(strcmp(row->field[19], "host=box\\;1\\=a\\\\b;job=7") == 0);
        }
        vsr_free(rp);
    }
    csv_free(rows, n);
    vsr_free(text);
}

/* ---------------------------------------------------------------- Prometheus */

/* Parse name{label="value",...} value. Returns 0 and the family name
 * (name minus _sum/_count for summaries is left to the caller). */
static int prom_sample(const char *line, char *name, size_t name_cap, char *labels, size_t labels_cap,
                       double *value)
{
    const char *p = line;
    size_t n = 0;
    if (!(isalpha((unsigned char)*p) || *p == '_' || *p == ':'))
        return -1;
    while (isalnum((unsigned char)*p) || *p == '_' || *p == ':') {
        if (n + 1 < name_cap)
            name[n++] = *p;
        p++;
    }
    name[n] = 0;
    size_t ln = 0;
    labels[0] = 0;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
            if (*p++ != '=' || *p++ != '"')
                return -1;
            while (*p != '"') {
                if (!*p || *p == '\n')
                    return -1;
                if (*p == '\\') {
                    p++;
                    if (*p != '\\' && *p != '"' && *p != 'n')
                        return -1;
                }
                p++;
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return -1;
        }
        size_t len = (size_t)(p - line) + 1;
        ln = len < labels_cap ? len : labels_cap - 1;
        memcpy(labels, line, ln);
        labels[ln] = 0;
        p++;
    }
    if (*p++ != ' ')
        return -1;
    if (strcmp(p, "NaN") == 0) {
        *value = NAN;
        return 0;
    }
    if (strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0) {
        *value = *p == '+' ? INFINITY : -INFINITY;
        return 0;
    }
    char *end;
    *value = strtod(p, &end);
    return *end == 0 && end != p ? 0 : -1;
}

static void test_prometheus(vsr_tracker *t)
{
    char *text = NULL;
    CHECK_EQ_INT(vsr_tracker_export_string(t, VSR_EXPORT_PROMETHEUS, &text), 0);
    if (!text)
        return;
    char families[64][80];
    char types[64][16];
    int n_families = 0;
    char last_help[80] = "";
    int samples = 0, bad = 0;
    int found_ok = 0, found_fail = 0, found_p50 = 0, found_count = 0;
    int found_type = 0, found_caller = 0, found_in_flight = 0, found_peak = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# HELP ", 7) == 0) {
            sscanf(line + 7, "%79s", last_help);
            CHECK(strncmp(last_help, "libvsr_", 7) == 0);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[80], type[16];
            CHECK(sscanf(line + 7, "%79s %15s", name, type) == 2);
            CHECK_MSG(strcmp(name, last_help) == 0, "TYPE %s without its HELP", name);
            CHECK(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                  strcmp(type, "summary") == 0);
            for (int i = 0; i < n_families; i++)
                CHECK_MSG(strcmp(families[i], name) != 0, "family %s declared twice", name);
            if (n_families < 64) {
                snprintf(families[n_families], sizeof(families[0]), "%s", name);
                snprintf(types[n_families], sizeof(types[0]), "%s", type);
                n_families++;
            }
            continue;
        }
        CHECK_MSG(line[0] != '#', "unexpected comment: %s", line);
        char name[96], labels[512];
        double value;
        if (prom_sample(line, name, sizeof(name), labels, sizeof(labels), &value) != 0) {
            bad++;
            fprintf(stderr, "bad sample line: %s\n", line);
            continue;
        }
        samples++;
        /* the sample belongs to the family declared last */
        CHECK(n_families > 0);
        if (n_families == 0)
            continue;
        const char *fam = families[n_families - 1];
        size_t fl = strlen(fam);
        int ok = strcmp(name, fam) == 0;
        if (strcmp(types[n_families - 1], "summary") == 0 && strncmp(name, fam, fl) == 0)
            ok |= strcmp(name + fl, "_sum") == 0 || strcmp(name + fl, "_count") == 0;
        CHECK_MSG(ok, "sample %s outside its family %s", name, fam);
        if (strcmp(line, "libvsr_operations_total{type=\"upload\",strategy=\"realesr-x2\","
                         "result=\"failure\"} 1") == 0)
            found_fail = 1;
        if (strcmp(name, "libvsr_operations_total") == 0 &&
            strstr(labels, "strategy=\"model \\\"x\\\"\\\\v2\\nnew\""))
            found_ok = 1;
        if (strstr(line, "libvsr_operation_duration_seconds{type=\"upload\",strategy=\"model") == line &&
            strstr(labels, "quantile=\"0.5\""))
            found_p50 = 1;
        if (strncmp(line, "libvsr_operation_duration_seconds_count{type=\"run\"", 50) == 0)
            found_count = value == 1;
        /* a caller's type, escaped like any label value */
        if (strcmp(name, "libvsr_operations_total") == 0 &&
            strstr(labels, "type=\"caller \\\"op\\\",\\\\ new\\nline\"") && strstr(labels, "success"))
            found_type = value == 1;
        if (strcmp(line, "libvsr_operations_total{type=\"analysis\",strategy=\"degradation_router\","
                         "result=\"success\"} 1") == 0)
            found_caller = 1;
        if (strcmp(name, "libvsr_operations_in_flight") == 0 && strstr(labels, "type=\"caller"))
            found_in_flight = value == 1;
        if (strcmp(line, "libvsr_operation_peak_rss_bytes{type=\"download\",strategy=\"realesr-x2\"} "
                         "123456789") == 0)
            found_peak = 1;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(samples > 10);
    CHECK(found_ok);
    CHECK(found_fail);
    CHECK(found_p50);
    CHECK(found_count);
    CHECK(found_type);
    CHECK(found_caller);
    CHECK(found_in_flight);
    CHECK(found_peak);
    static const char *const required[] = {
        "libvsr_operations_total", "libvsr_operation_duration_seconds", "libvsr_frames_total",
        "libvsr_peak_rss_bytes", "libvsr_peak_device_bytes", "libvsr_cpu_percent",
        "libvsr_quality_psnr_db", "libvsr_quality_ssim", "libvsr_operations_in_flight",
        "libvsr_operation_peak_rss_bytes", "libvsr_operation_peak_device_bytes"};
    for (size_t r = 0; r < sizeof(required) / sizeof(required[0]); r++) {
        int seen = 0;
        for (int i = 0; i < n_families; i++)
            seen |= strcmp(families[i], required[r]) == 0;
        CHECK_MSG(seen, "family %s missing", required[r]);
    }
    vsr_free(text);
}

/* ---------------------------------------------------------------- files */

static void test_files(vsr_tracker *t)
{
    char dir[] = "/tmp/vsr-export-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/history.csv", dir);
    CHECK_EQ_INT(vsr_tracker_export(t, VSR_EXPORT_CSV, path), 0);
    char *data = NULL, *text = NULL;
    size_t len = 0;
    CHECK_EQ_INT(vsri_read_file(path, 1 << 20, &data, &len), 0);
    CHECK_EQ_INT(vsr_tracker_export_string(t, VSR_EXPORT_CSV, &text), 0);
    CHECK(data && text && strcmp(data, text) == 0);
    free(data);
    vsr_free(text);
    remove(path);

    snprintf(path, sizeof(path), "%s/stats.json", dir);
    CHECK_EQ_INT(vsr_tracker_export(t, VSR_EXPORT_JSON, path), 0);
    CHECK(access(path, R_OK) == 0);
    remove(path);
    snprintf(path, sizeof(path), "%s/metrics.prom", dir);
    CHECK_EQ_INT(vsr_tracker_export(t, VSR_EXPORT_PROMETHEUS, path), 0);
    remove(path);

    /* errors name the path */
    snprintf(path, sizeof(path), "%s/no/such/dir/x.json", dir);
    int err = vsr_tracker_export(t, VSR_EXPORT_JSON, path);
    CHECK(err < 0);
    CHECK_MSG(strstr(vsr_last_error(), path) != NULL, "error without the path: %s", vsr_last_error());
    CHECK(vsr_tracker_export(t, (vsr_export_format)9, "/tmp/x") == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "/tmp/x") != NULL);
    rmdir(dir);
}

static void test_empty(void)
{
    vsr_tracker *t = NULL;
    vsr_tracker_settings s;
    vsr_tracker_settings_default(&s);
    s.sampler_interval_ms = 0;
    CHECK_EQ_INT(vsr_tracker_open(&t, &s), 0);
    for (int f = 0; f <= 2; f++) {
        char *text = NULL;
        CHECK_EQ_INT(vsr_tracker_export_string(t, (vsr_export_format)f, &text), 0);
        CHECK(text != NULL);
        if (f == VSR_EXPORT_JSON && text) {
            char err[256] = "";
            json_t *root = tj_parse(text, strlen(text), err, sizeof(err));
            CHECK_MSG(root != NULL, "%s", err);
            /* no quality measured: null, not a number */
            const json_t *q = json_object_get(root, "quality");
            CHECK(tj_type(json_object_get(q, "psnr_mean")) == TJ_NULL);
            CHECK_EQ_INT(tj_count(json_object_get(root, "history")), 0);
            CHECK(tj_type(json_object_get(root, "stats")) == TJ_OBJECT);
            CHECK_EQ_INT(tj_count(json_object_get(root, "stats")), 0);
            CHECK_EQ_INT(tj_count(json_object_get(root, "strategies")), 0);
            CHECK_EQ_INT(tj_count(json_object_get(root, "in_flight")), 0);
            json_decref(root);
        }
        if (f == VSR_EXPORT_CSV && text)
            CHECK(strchr(text, '\n') == text + strlen(text) - 1); /* the header only */
        vsr_free(text);
    }
    vsr_tracker_unref(&t);
}

/* Names and messages are whatever bytes the caller recorded; the JSON is
 * still valid UTF-8 (jansson's strict reader takes it), with U+FFFD for
 * each byte that is not part of a valid sequence. */
static void test_json_not_utf8(void)
{
    vsr_tracker_settings s;
    vsr_tracker_settings_default(&s);
    s.sampler_interval_ms = 0;
    vsr_tracker *t = NULL;
    CHECK_EQ_INT(vsr_tracker_open(&t, &s), 0);
    vsr_op_record r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.type = "op\xff";                                   /* never valid */
    r.strategy = "x\xc3";                                /* cut sequence */
    r.error_message = "file '\xe9t\xe9.mp4': \xed\xa0\x80"; /* Latin-1, a surrogate */
    vsr_kv meta[] = {{"k\xfe", "v\xc0\xaf"}};              /* an overlong '/' */
    r.meta = meta;
    r.n_meta = 1;
    r.duration_ns = 1000;
    r.quality = NAN;
    r.peak_rss_bytes = r.peak_device_bytes = -1;
    CHECK_EQ_INT(vsr_tracker_record(t, &r), 0);
    char *text = NULL;
    CHECK_EQ_INT(vsr_tracker_export_string(t, VSR_EXPORT_JSON, &text), 0);
    char err[256] = "";
    json_t *root = text ? tj_parse(text, strlen(text), err, sizeof(err)) : NULL;
    CHECK_MSG(root != NULL, "JSON does not parse: %s", err);
    const json_t *h = tj_at(json_object_get(root, "history"), 0);
    CHECK(strcmp(tj_str(json_object_get(h, "type"), ""), "op\xEF\xBF\xBD") == 0);
    CHECK(strcmp(tj_str(json_object_get(h, "strategy"), ""), "x\xEF\xBF\xBD") == 0);
    CHECK(strcmp(tj_str(json_object_get(h, "error_message"), ""),
                 "file '\xEF\xBF\xBDt\xEF\xBF\xBD.mp4': \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") == 0);
    CHECK(strcmp(tj_str(json_object_get(json_object_get(h, "meta"), "k\xEF\xBF\xBD"), ""),
                 "v\xEF\xBF\xBD\xEF\xBF\xBD") == 0);
    CHECK(json_object_get(json_object_get(root, "stats"), "op\xEF\xBF\xBD") != NULL);
    json_decref(root);
    vsr_free(text);
    vsr_tracker_unref(&t);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET);
    vsr_tracker *t = make_tracker();
    test_json(t);
    test_csv(t);
    test_prometheus(t);
    test_files(t);
    vsr_op_end(&pending, 0, NULL);
    vsr_tracker_unref(&t);
    test_empty();
    test_json_not_utf8();
    return test_result("export");
}
