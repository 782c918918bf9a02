/*
 * vsr-bench: benchmark libvsr over a matrix of videos, models, precisions,
 * devices, settings and encoders, and write report.json, report.csv and
 * charts (through bench/plot_report.py).
 *
 * A thin program over the public API (<libvsr/vsr.h>); the configuration
 * is read with the library's standalone JSON reader (lib/json.h).
 * See docs/bench.md for the configuration schema and the metrics.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvsr/vsr.h>

#include "cli_options.h"
#include "json.h"
#include "heap.h"

#define EXIT_RUN_FAILED 1
#define EXIT_USAGE 2

#define DEFAULT_MODEL_FILE "realesr-animevideov3-x2.pt"

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static int quiet;

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    if (quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

static void die_oom(void)
{
    fprintf(stderr, "vsr-bench: out of memory\n");
    exit(EXIT_RUN_FAILED);
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        die_oom();
    return d;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die_oom();
    return p;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die_oom();
    char *s = malloc((size_t)n + 1);
    if (!s)
        die_oom();
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int mkdir_p(const char *path)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0777) == 0 || errno == EEXIST ? 0 : -1;
    free(p);
    return rc;
}

/* Directory part of a path ("." when there is none). */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    char *d = xstrdup(path);
    d[slash - path] = 0;
    return d;
}

/* File name without directory and extension. */
static char *stem_of(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = xstrdup(b);
    char *dot = strrchr(s, '.');
    if (dot && dot != s)
        *dot = 0;
    return s;
}

static char *join_path(const char *dir, const char *rel)
{
    if (rel[0] == '/' || !dir || !strcmp(dir, "."))
        return xstrdup(rel);
    return xasprintf("%s/%s", dir, rel);
}

/* Directory of this executable (for <prefix>/share/libvsr lookups). */
static char *exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return NULL;
    buf[n] = 0;
    return dir_of(buf);
}

/* A name safe in file names: letters, digits, '-', '_', '.'. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            *s = '_';
}

/* ------------------------------------------------------------------ */
/* Metrics                                                              */

enum {
    M_FRAMES,
    M_CHUNKS,
    M_TILES,
    M_FRAME_EXTRACTION,
    M_SUPER_RESOLUTION,
    M_RECOMPOSITION,
    M_TOTAL,
    M_FPS,
    M_CPU_TIME,
    M_PEAK_RSS,
    M_PEAK_VRAM,
    M_PSNR,
    M_SSIM,
    M_COUNT
};

static const char *const metric_names[M_COUNT] = {
    "frames",
    "chunks",
    "tiles",
    "frame_extraction_time",
    "super_resolution_time",
    "video_recomposition_time",
    "total_time",
    "fps",
    "cpu_time",
    "peak_rss_bytes",
    "peak_vram_bytes",
    "psnr",
    "ssim",
};

static const char *const metric_units[M_COUNT] = {
    "frames", "chunks", "tiles", "s", "s", "s", "s", "frames/s", "s", "bytes", "bytes", "dB", "1",
};

/* printf format of each metric: the same text goes into JSON and CSV, so
 * the two files agree exactly. */
static void fmt_metric(int m, double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        buf[0] = 0;
        return;
    }
    switch (m) {
    case M_FRAMES:
    case M_CHUNKS:
    case M_TILES:
    case M_PEAK_RSS:
    case M_PEAK_VRAM: snprintf(buf, cap, "%.0f", v); break;
    case M_FPS:
    case M_PSNR: snprintf(buf, cap, "%.6f", v); break;
    case M_SSIM: snprintf(buf, cap, "%.8f", v); break;
    default: snprintf(buf, cap, "%.9f", v); break; /* seconds, to the nanosecond */
    }
}

/* ------------------------------------------------------------------ */
/* Configuration                                                        */

typedef struct video_cfg {
    char *path;        /* as written */
    char *file;        /* resolved */
    char *description;
    char *reference;   /* as written, or NULL */
    char *reference_file;
    int width, height;
    double duration_s;
    int64_t frames;
    double frame_rate;
    char codec[32];
} video_cfg;

typedef struct model_cfg {
    char *path;
    char *file;
    char *name;        /* NULL: the card's name */
} model_cfg;

typedef struct setting_cfg {
    char *name;
    int batch, chunk, overlap, tile, tile_pad, threads;
    int64_t mem_limit;
    int pipelined;
    int queue_depth;
    int has_precision;
    vsr_precision precision;
    char *device;      /* NULL: each of "devices" */
} setting_cfg;

typedef struct encoder_cfg {
    char *name;
    char *codec;
    int crf;
    char *preset;
    char *pix_fmt;
    char *options;
} encoder_cfg;

typedef struct bench_cfg {
    char *source;      /* the config file (for messages), or "defaults" */
    char *name;
    video_cfg *videos;
    int n_videos;
    model_cfg *models;
    int n_models;
    vsr_precision *precisions;
    int n_precisions;
    char **devices;
    int n_devices;
    setting_cfg *settings;
    int n_settings;
    encoder_cfg *encoders;
    int n_encoders;
    int iterations, warmup;
    int metrics[M_COUNT]; /* 1 = reported */
    int keep_videos;
    int charts;
    vsr_granularity granularity;
} bench_cfg;

static const char *const precision_names[] = {"auto", "fp32", "bf16", "fp16"};

static void setting_defaults(setting_cfg *s)
{
    memset(s, 0, sizeof(*s));
    s->batch = VSR_AUTO;
    s->chunk = VSR_AUTO;
    s->overlap = VSR_AUTO;
    s->tile = 0;
    s->tile_pad = VSR_AUTO;
    s->threads = 0;
    s->mem_limit = 0;
    s->pipelined = 0;
    s->queue_depth = 4;
}

static void encoder_defaults(encoder_cfg *e)
{
    memset(e, 0, sizeof(*e));
    e->codec = xstrdup("libx264");
    e->crf = 18;
}

/* Parsing context: where errors go. */
typedef struct cfgctx {
    const char *source;
    const char *dir;
} cfgctx;

static int cfg_fail(const cfgctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfg_fail(const cfgctx *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", c->source);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* A JSON value as the user wrote it, for "expected X, got Y". */
static void describe(const vsri_json *j, char *buf, size_t cap)
{
    switch (vsri_json_type_of(j)) {
    case VSRI_JSON_NULL: snprintf(buf, cap, "null"); break;
    case VSRI_JSON_BOOL: snprintf(buf, cap, "%s", vsri_json_bool(j, 0) ? "true" : "false"); break;
    case VSRI_JSON_NUMBER: snprintf(buf, cap, "%.15g", vsri_json_number(j, 0)); break;
    case VSRI_JSON_STRING: {
        const char *s = vsri_json_string(j, "");
        if (strlen(s) > 60)
            snprintf(buf, cap, "\"%.57s...\"", s);
        else
            snprintf(buf, cap, "\"%s\"", s);
        break;
    }
    case VSRI_JSON_ARRAY: snprintf(buf, cap, "an array"); break;
    case VSRI_JSON_OBJECT: snprintf(buf, cap, "an object"); break;
    }
}

static int type_fail(const cfgctx *c, const char *path, const char *expected, const vsri_json *j)
{
    char got[96];
    describe(j, got, sizeof(got));
    return cfg_fail(c, "%s: expected %s, got %s", path, expected, got);
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int check_keys(const cfgctx *c, const vsri_json *obj, const char *path, const char *const *allowed)
{
    int n = vsri_json_count(obj);
    for (int i = 0; i < n; i++) {
        const char *k = vsri_json_key_at(obj, i);
        int ok = 0;
        for (int a = 0; allowed[a] && !ok; a++)
            ok = !strcmp(k, allowed[a]);
        if (ok)
            continue;
        char known[512];
        size_t len = 0;
        known[0] = 0;
        for (int a = 0; allowed[a] && len + 40 < sizeof(known); a++)
            len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", a ? ", " : "", allowed[a]);
        if (path[0])
            return cfg_fail(c, "%s: unknown key '%s' (known keys: %s)", path, k, known);
        return cfg_fail(c, "unknown key '%s' at the top level (known keys: %s)", k, known);
    }
    return 0;
}

static int get_string(const cfgctx *c, const vsri_json *j, const char *path, int allow_null, char **out)
{
    if (allow_null && vsri_json_type_of(j) == VSRI_JSON_NULL) {
        *out = NULL;
        return 0;
    }
    if (vsri_json_type_of(j) != VSRI_JSON_STRING)
        return type_fail(c, path, allow_null ? "a string or null" : "a string", j);
    const char *s = vsri_json_string(j, "");
    if (!*s && !allow_null)
        return cfg_fail(c, "%s: must not be empty", path);
    *out = xstrdup(s);
    return 0;
}

/* An integer in [lo, hi]; "auto" when allow_auto (gives VSR_AUTO). */
static int get_int(const cfgctx *c, const vsri_json *j, const char *path, int64_t lo, int64_t hi, int allow_auto,
                   int64_t *out)
{
    if (allow_auto && vsri_json_type_of(j) == VSRI_JSON_STRING && !strcmp(vsri_json_string(j, ""), "auto")) {
        *out = VSR_AUTO;
        return 0;
    }
    int64_t v;
    if (vsri_json_type_of(j) != VSRI_JSON_NUMBER || vsri_json_int(j, &v) < 0)
        return type_fail(c, path, allow_auto ? "an integer or \"auto\"" : "an integer", j);
    if (v < lo || v > hi)
        return cfg_fail(c, "%s: %lld is out of range %lld..%lld", path, (long long)v, (long long)lo,
                        (long long)hi);
    *out = v;
    return 0;
}

static int get_bool(const cfgctx *c, const vsri_json *j, const char *path, int *out)
{
    if (vsri_json_type_of(j) != VSRI_JSON_BOOL)
        return type_fail(c, path, "true or false", j);
    *out = vsri_json_bool(j, 0);
    return 0;
}

/* A file named in the config: must exist (relative to the config's directory). */
static int get_file(const cfgctx *c, const vsri_json *j, const char *path, char **written, char **resolved)
{
    if (get_string(c, j, path, 0, written) < 0)
        return -1;
    *resolved = join_path(c->dir, *written);
    struct stat st;
    if (stat(*resolved, &st) != 0) {
        if (strcmp(*resolved, *written))
            return cfg_fail(c, "%s: file '%s' does not exist (looked for '%s')", path, *written, *resolved);
        return cfg_fail(c, "%s: file '%s' does not exist", path, *written);
    }
    if (!S_ISREG(st.st_mode))
        return cfg_fail(c, "%s: '%s' is not a regular file", path, *written);
    if (access(*resolved, R_OK) != 0)
        return cfg_fail(c, "%s: file '%s' is not readable: %s", path, *written, strerror(errno));
    return 0;
}

/* A non-empty array (or absent, when optional: *n = 0). */
static int get_array(const cfgctx *c, const vsri_json *root, const char *key, int required, const vsri_json **arr,
                     int *n)
{
    const vsri_json *j = vsri_json_get(root, key);
    *arr = j;
    *n = 0;
    if (!j) {
        if (required)
            return cfg_fail(c, "missing key '%s' (a list is required)", key);
        return 0;
    }
    if (vsri_json_type_of(j) != VSRI_JSON_ARRAY)
        return type_fail(c, key, "an array", j);
    *n = vsri_json_count(j);
    if (*n == 0)
        return cfg_fail(c, "%s: must not be empty", key);
    if (*n > 1000)
        return cfg_fail(c, "%s: %d entries is too many (at most 1000)", key, *n);
    return 0;
}

/* Probe a video for the report (size, duration, frames). */
static int probe_video(const cfgctx *c, video_cfg *v, const char *path)
{
    vsr_input *in = NULL;
    vsr_log_set_level(VSR_LOG_QUIET); /* the failure is reported here, once */
    int err = vsr_input_open(&in, v->file, NULL);
    vsr_log_set_level(quiet ? VSR_LOG_ERROR : VSR_LOG_WARNING);
    if (err < 0)
        return cfg_fail(c, "%s: '%s' is not a readable video: %s", path, v->path, vsr_last_error());
    vsr_input_info info;
    memset(&info, 0, sizeof(info));
    info.size = sizeof(info);
    vsr_input_get_info(in, &info);
    v->width = info.width;
    v->height = info.height;
    v->frames = info.frames;
    v->frame_rate = info.frame_rate.den > 0 ? (double)info.frame_rate.num / info.frame_rate.den : 0;
    v->duration_s = info.duration_s;
    if (v->duration_s <= 0 && v->frames > 0 && v->frame_rate > 0)
        v->duration_s = v->frames / v->frame_rate;
    snprintf(v->codec, sizeof(v->codec), "%s", info.codec);
    vsr_input_close(&in);
    return 0;
}

static int parse_videos(const cfgctx *c, const vsri_json *root, bench_cfg *b)
{
    const vsri_json *arr;
    if (get_array(c, root, "videos", 1, &arr, &b->n_videos) < 0)
        return -1;
    b->videos = xcalloc((size_t)b->n_videos, sizeof(video_cfg));
    static const char *const keys[] = {"path", "description", "reference", NULL};
    for (int i = 0; i < b->n_videos; i++) {
        const vsri_json *e = vsri_json_at(arr, i);
        video_cfg *v = &b->videos[i];
        char path[64], field[96];
        snprintf(path, sizeof(path), "videos[%d]", i);
        if (vsri_json_type_of(e) == VSRI_JSON_STRING) { /* shorthand: just the path */
            if (get_file(c, e, path, &v->path, &v->file) < 0)
                return -1;
        } else {
            if (vsri_json_type_of(e) != VSRI_JSON_OBJECT)
                return type_fail(c, path, "an object {\"path\": ...} or a path", e);
            if (check_keys(c, e, path, keys) < 0)
                return -1;
            const vsri_json *p = vsri_json_get(e, "path");
            if (!p)
                return cfg_fail(c, "%s: missing key 'path'", path);
            snprintf(field, sizeof(field), "%s.path", path);
            if (get_file(c, p, field, &v->path, &v->file) < 0)
                return -1;
            const vsri_json *d = vsri_json_get(e, "description");
            snprintf(field, sizeof(field), "%s.description", path);
            if (d && get_string(c, d, field, 1, &v->description) < 0)
                return -1;
            const vsri_json *r = vsri_json_get(e, "reference");
            snprintf(field, sizeof(field), "%s.reference", path);
            if (r && vsri_json_type_of(r) != VSRI_JSON_NULL &&
                get_file(c, r, field, &v->reference, &v->reference_file) < 0)
                return -1;
        }
        snprintf(field, sizeof(field), "%s.path", path);
        if (probe_video(c, v, field) < 0)
            return -1;
        if (v->reference_file) {
            video_cfg rv;
            memset(&rv, 0, sizeof(rv));
            rv.path = v->reference;
            rv.file = v->reference_file;
            snprintf(field, sizeof(field), "%s.reference", path);
            if (probe_video(c, &rv, field) < 0)
                return -1;
            if (rv.width % v->width || rv.height % v->height || rv.width / v->width != rv.height / v->height)
                return cfg_fail(c, "%s: reference '%s' is %dx%d, not a whole multiple of the video's %dx%d",
                                field, v->reference, rv.width, rv.height, v->width, v->height);
        }
    }
    return 0;
}

static int parse_models(const cfgctx *c, const vsri_json *root, bench_cfg *b)
{
    const vsri_json *arr;
    if (get_array(c, root, "models", 1, &arr, &b->n_models) < 0)
        return -1;
    b->models = xcalloc((size_t)b->n_models, sizeof(model_cfg));
    static const char *const keys[] = {"path", "name", NULL};
    for (int i = 0; i < b->n_models; i++) {
        const vsri_json *e = vsri_json_at(arr, i);
        model_cfg *m = &b->models[i];
        char path[64], field[96];
        snprintf(path, sizeof(path), "models[%d]", i);
        if (vsri_json_type_of(e) == VSRI_JSON_STRING) {
            if (get_file(c, e, path, &m->path, &m->file) < 0)
                return -1;
            continue;
        }
        if (vsri_json_type_of(e) != VSRI_JSON_OBJECT)
            return type_fail(c, path, "an object {\"path\": ..., \"name\": ...} or a path", e);
        if (check_keys(c, e, path, keys) < 0)
            return -1;
        const vsri_json *p = vsri_json_get(e, "path");
        if (!p)
            return cfg_fail(c, "%s: missing key 'path'", path);
        snprintf(field, sizeof(field), "%s.path", path);
        if (get_file(c, p, field, &m->path, &m->file) < 0)
            return -1;
        const vsri_json *n = vsri_json_get(e, "name");
        snprintf(field, sizeof(field), "%s.name", path);
        if (n && get_string(c, n, field, 0, &m->name) < 0)
            return -1;
    }
    return 0;
}

static int parse_precision(const cfgctx *c, const vsri_json *j, const char *path, vsr_precision *out)
{
    if (vsri_json_type_of(j) != VSRI_JSON_STRING)
        return type_fail(c, path, "a precision name (auto, fp32, bf16, fp16)", j);
    int idx;
    char err[512];
    if (cli_parse_choice(path, vsri_json_string(j, ""), precision_names, 4, &idx, err, sizeof(err)) < 0)
        return cfg_fail(c, "%s", err);
    *out = (vsr_precision)idx;
    return 0;
}

static int valid_device(const char *d)
{
    if (!strcmp(d, "cpu") || !strcmp(d, "cuda") || !strcmp(d, "auto"))
        return 1;
    if (strncmp(d, "cuda:", 5) || !d[5])
        return 0;
    for (const char *p = d + 5; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return strlen(d + 5) <= 3;
}

static int parse_device(const cfgctx *c, const vsri_json *j, const char *path, char **out)
{
    if (vsri_json_type_of(j) != VSRI_JSON_STRING)
        return type_fail(c, path, "a device name (cpu, cuda, cuda:N, auto)", j);
    const char *d = vsri_json_string(j, "");
    if (!valid_device(d))
        return cfg_fail(c, "%s: '%s' is not a device (cpu, cuda, cuda:N or auto)", path, d);
    *out = xstrdup(d);
    return 0;
}

static int parse_setting(const cfgctx *c, const vsri_json *e, const char *path, int index, setting_cfg *s)
{
    static const char *const keys[] = {"name",     "batch",     "chunk",       "overlap",   "tile",
                                       "tile_pad", "threads",   "mem_limit",   "pipelined", "queue_depth",
                                       "precision", "device",   NULL};
    setting_defaults(s);
    if (vsri_json_type_of(e) != VSRI_JSON_OBJECT)
        return type_fail(c, path, "an object", e);
    if (check_keys(c, e, path, keys) < 0)
        return -1;
    char field[96];
    const vsri_json *j;
    int64_t v;
    struct {
        const char *key;
        int *dst;
        int64_t lo, hi;
        int allow_auto;
    } ints[] = {
        {"batch", &s->batch, 1, 256, 1},       {"chunk", &s->chunk, 1, 4096, 1},
        {"overlap", &s->overlap, 0, 4095, 1},  {"tile", &s->tile, 0, 65536, 1},
        {"tile_pad", &s->tile_pad, 0, 1024, 1}, {"threads", &s->threads, 0, 1024, 0},
        {"queue_depth", &s->queue_depth, 1, 1024, 0},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (!(j = vsri_json_get(e, ints[i].key)))
            continue;
        snprintf(field, sizeof(field), "%s.%s", path, ints[i].key);
        if (get_int(c, j, field, ints[i].lo, ints[i].hi, ints[i].allow_auto, &v) < 0)
            return -1;
        *ints[i].dst = (int)v;
    }
    if (s->tile > 0 && s->tile < 8) {
        snprintf(field, sizeof(field), "%s.tile", path);
        return cfg_fail(c, "%s: %d is too small (0 = whole frames, or at least 8 pixels)", field, s->tile);
    }
    if ((j = vsri_json_get(e, "mem_limit"))) {
        snprintf(field, sizeof(field), "%s.mem_limit", path);
        if (vsri_json_type_of(j) == VSRI_JSON_STRING) {
            char err[256];
            if (cli_parse_size(field, vsri_json_string(j, ""), &s->mem_limit, err, sizeof(err)) < 0)
                return cfg_fail(c, "%s", err);
        } else if (get_int(c, j, field, 0, INT64_MAX, 0, &s->mem_limit) < 0) {
            return -1;
        }
    }
    if ((j = vsri_json_get(e, "pipelined"))) {
        snprintf(field, sizeof(field), "%s.pipelined", path);
        if (get_bool(c, j, field, &s->pipelined) < 0)
            return -1;
    }
    if ((j = vsri_json_get(e, "precision"))) {
        snprintf(field, sizeof(field), "%s.precision", path);
        if (parse_precision(c, j, field, &s->precision) < 0)
            return -1;
        s->has_precision = 1;
    }
    if ((j = vsri_json_get(e, "device"))) {
        snprintf(field, sizeof(field), "%s.device", path);
        if (parse_device(c, j, field, &s->device) < 0)
            return -1;
    }
    if ((j = vsri_json_get(e, "name"))) {
        snprintf(field, sizeof(field), "%s.name", path);
        if (get_string(c, j, field, 0, &s->name) < 0)
            return -1;
    } else {
        s->name = xasprintf("setting%d", index);
    }
    return 0;
}

static int parse_encoder(const cfgctx *c, const vsri_json *e, const char *path, encoder_cfg *enc)
{
    static const char *const keys[] = {"name", "codec", "crf", "preset", "pix_fmt", "options", NULL};
    encoder_defaults(enc);
    if (vsri_json_type_of(e) != VSRI_JSON_OBJECT)
        return type_fail(c, path, "an object", e);
    if (check_keys(c, e, path, keys) < 0)
        return -1;
    char field[96];
    const vsri_json *j;
    if ((j = vsri_json_get(e, "codec"))) {
        free(enc->codec);
        snprintf(field, sizeof(field), "%s.codec", path);
        if (get_string(c, j, field, 0, &enc->codec) < 0)
            return -1;
    }
    if ((j = vsri_json_get(e, "crf"))) {
        int64_t v = -1;
        snprintf(field, sizeof(field), "%s.crf", path);
        if (vsri_json_type_of(j) == VSRI_JSON_NULL)
            v = -1;
        else if (get_int(c, j, field, -1, 63, 0, &v) < 0)
            return -1;
        enc->crf = (int)v;
    }
    struct {
        const char *key;
        char **dst;
    } strs[] = {{"preset", &enc->preset}, {"pix_fmt", &enc->pix_fmt}, {"options", &enc->options}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (!(j = vsri_json_get(e, strs[i].key)))
            continue;
        snprintf(field, sizeof(field), "%s.%s", path, strs[i].key);
        if (get_string(c, j, field, 1, strs[i].dst) < 0)
            return -1;
    }
    if ((j = vsri_json_get(e, "name"))) {
        snprintf(field, sizeof(field), "%s.name", path);
        if (get_string(c, j, field, 0, &enc->name) < 0)
            return -1;
    } else {
        char crf[32] = "";
        if (enc->crf >= 0)
            snprintf(crf, sizeof(crf), "-crf%d", enc->crf);
        enc->name = xasprintf("%s%s%s%s", enc->codec, crf, enc->preset ? "-" : "", enc->preset ? enc->preset : "");
    }
    return 0;
}

static int parse_config(const char *file, bench_cfg *b)
{
    cfgctx c = {file, NULL};
    char *dir = dir_of(file);
    c.dir = dir;
    b->source = xstrdup(file);
    int rc = -1;
    char *text = NULL;
    vsri_json *root = NULL;

    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "vsr-bench: cannot open config '%s': %s\n", file, strerror(errno));
        goto out;
    }
    size_t cap = 1 << 16, len = 0;
    text = malloc(cap);
    if (!text)
        die_oom();
    size_t n;
    while ((n = fread(text + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            if (cap >= (size_t)16 << 20) {
                fclose(f);
                cfg_fail(&c, "larger than 16 MiB: not a benchmark configuration");
                goto out;
            }
            cap *= 2;
            char *t = realloc(text, cap);
            if (!t)
                die_oom();
            text = t;
        }
    }
    fclose(f);
    char err[512];
    if (vsri_json_parse(text, len, &root, err, sizeof(err)) < 0) {
        cfg_fail(&c, "%s", err);
        goto out;
    }
    if (vsri_json_type_of(root) != VSRI_JSON_OBJECT) {
        type_fail(&c, "the configuration", "an object", root);
        goto out;
    }
    static const char *const keys[] = {"name",     "videos",     "models",  "precisions", "devices",
                                       "settings", "encoders",   "iterations", "warmup",  "metrics",
                                       "output",   "granularity", NULL};
    if (check_keys(&c, root, "", keys) < 0)
        goto out;
    const vsri_json *j;
    if ((j = vsri_json_get(root, "name")) && get_string(&c, j, "name", 0, &b->name) < 0)
        goto out;
    /* Cheap checks first: types, keys and files, then the videos are probed. */
    if (parse_models(&c, root, b) < 0)
        goto out;

    const vsri_json *arr;
    if (get_array(&c, root, "precisions", 0, &arr, &b->n_precisions) < 0)
        goto out;
    if (b->n_precisions == 0) {
        b->n_precisions = 1;
        b->precisions = xcalloc(1, sizeof(vsr_precision));
        b->precisions[0] = VSR_PRECISION_AUTO;
    } else {
        b->precisions = xcalloc((size_t)b->n_precisions, sizeof(vsr_precision));
        for (int i = 0; i < b->n_precisions; i++) {
            char path[64];
            snprintf(path, sizeof(path), "precisions[%d]", i);
            if (parse_precision(&c, vsri_json_at(arr, i), path, &b->precisions[i]) < 0)
                goto out;
        }
    }
    if (get_array(&c, root, "devices", 0, &arr, &b->n_devices) < 0)
        goto out;
    if (b->n_devices == 0) {
        b->n_devices = 1;
        b->devices = xcalloc(1, sizeof(char *));
        b->devices[0] = xstrdup("cpu");
    } else {
        b->devices = xcalloc((size_t)b->n_devices, sizeof(char *));
        for (int i = 0; i < b->n_devices; i++) {
            char path[64];
            snprintf(path, sizeof(path), "devices[%d]", i);
            if (parse_device(&c, vsri_json_at(arr, i), path, &b->devices[i]) < 0)
                goto out;
        }
    }
    if (get_array(&c, root, "settings", 0, &arr, &b->n_settings) < 0)
        goto out;
    if (b->n_settings == 0) {
        b->n_settings = 1;
        b->settings = xcalloc(1, sizeof(setting_cfg));
        setting_defaults(&b->settings[0]);
        b->settings[0].name = xstrdup("default");
    } else {
        b->settings = xcalloc((size_t)b->n_settings, sizeof(setting_cfg));
        for (int i = 0; i < b->n_settings; i++) {
            char path[64];
            snprintf(path, sizeof(path), "settings[%d]", i);
            if (parse_setting(&c, vsri_json_at(arr, i), path, i, &b->settings[i]) < 0)
                goto out;
        }
    }
    if (get_array(&c, root, "encoders", 0, &arr, &b->n_encoders) < 0)
        goto out;
    if (b->n_encoders == 0) {
        b->n_encoders = 1;
        b->encoders = xcalloc(1, sizeof(encoder_cfg));
        encoder_defaults(&b->encoders[0]);
        b->encoders[0].name = xstrdup("libx264-crf18");
    } else {
        b->encoders = xcalloc((size_t)b->n_encoders, sizeof(encoder_cfg));
        for (int i = 0; i < b->n_encoders; i++) {
            char path[64];
            snprintf(path, sizeof(path), "encoders[%d]", i);
            if (parse_encoder(&c, vsri_json_at(arr, i), path, &b->encoders[i]) < 0)
                goto out;
        }
    }
    int64_t v = 0;
    b->iterations = 3;
    b->warmup = 1;
    if ((j = vsri_json_get(root, "iterations"))) {
        if (get_int(&c, j, "iterations", 1, 1000, 0, &v) < 0)
            goto out;
        b->iterations = (int)v;
    }
    if ((j = vsri_json_get(root, "warmup"))) {
        if (get_int(&c, j, "warmup", 0, 100, 0, &v) < 0)
            goto out;
        b->warmup = (int)v;
    }
    for (int m = 0; m < M_COUNT; m++)
        b->metrics[m] = 1;
    int nm;
    if (get_array(&c, root, "metrics", 0, &arr, &nm) < 0)
        goto out;
    {
        if (nm > 0)
            for (int m = 0; m < M_COUNT; m++)
                b->metrics[m] = 0;
        for (int i = 0; i < nm; i++) {
            char path[64];
            snprintf(path, sizeof(path), "metrics[%d]", i);
            const vsri_json *e = vsri_json_at(arr, i);
            if (vsri_json_type_of(e) != VSRI_JSON_STRING) {
                type_fail(&c, path, "a metric name", e);
                goto out;
            }
            int idx;
            if (cli_parse_choice(path, vsri_json_string(e, ""), metric_names, M_COUNT, &idx, err, sizeof(err)) <
                0) {
                cfg_fail(&c, "%s", err);
                goto out;
            }
            b->metrics[idx] = 1;
        }
    }
    b->charts = 1;
    if ((j = vsri_json_get(root, "output"))) {
        if (vsri_json_type_of(j) != VSRI_JSON_OBJECT) {
            type_fail(&c, "output", "an object", j);
            goto out;
        }
        static const char *const okeys[] = {"keep_videos", "charts", NULL};
        if (check_keys(&c, j, "output", okeys) < 0)
            goto out;
        const vsri_json *k;
        if ((k = vsri_json_get(j, "keep_videos")) && get_bool(&c, k, "output.keep_videos", &b->keep_videos) < 0)
            goto out;
        if ((k = vsri_json_get(j, "charts")) && get_bool(&c, k, "output.charts", &b->charts) < 0)
            goto out;
    }
    b->granularity = VSR_GRANULARITY_CHUNK;
    if ((j = vsri_json_get(root, "granularity"))) {
        static const char *const gn[] = {"operation", "chunk"};
        int idx;
        if (vsri_json_type_of(j) != VSRI_JSON_STRING) {
            type_fail(&c, "granularity", "\"operation\" or \"chunk\"", j);
            goto out;
        }
        if (cli_parse_choice("granularity", vsri_json_string(j, ""), gn, 2, &idx, err, sizeof(err)) < 0) {
            cfg_fail(&c, "%s", err);
            goto out;
        }
        b->granularity = idx == 0 ? VSR_GRANULARITY_OPERATION : VSR_GRANULARITY_CHUNK;
    }
    if (parse_videos(&c, root, b) < 0)
        goto out;
    rc = 0;
out:
    vsri_json_free(root);
    free(text);
    free(dir);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Default run: sample clips made here, the default model                */

/* A 24 fps clip of a moving, textured scene (gradients, rings, a bar),
 * so that the encoder and the model both have work to do. */
static int make_sample_clip(const char *path, int w, int h, int frames)
{
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "libx264";
    os.crf = 12;
    os.preset = "fast";
    os.copy_streams = 0;
    vsr_output *out = NULL;
    int err = vsr_output_open(&out, path, NULL, &os);
    for (int i = 0; i < frames && err >= 0; i++) {
        vsr_frame *f = NULL;
        err = vsr_frame_alloc(&f, VSR_PIXFMT_RGB24, w, h);
        if (err < 0)
            break;
        uint8_t *d = vsr_frame_data(f, 0);
        ptrdiff_t ls = vsr_frame_linesize(f, 0);
        double t = i / 24.0;
        double cx = w * (0.3 + 0.4 * (0.5 + 0.5 * sin(t * 2.1))), cy = h * (0.5 + 0.25 * cos(t * 1.7));
        for (int y = 0; y < h; y++) {
            uint8_t *row = d + y * ls;
            for (int x = 0; x < w; x++) {
                double dx = x - cx, dy = y - cy;
                double r = sqrt(dx * dx + dy * dy);
                double ring = 0.5 + 0.5 * cos(r * 0.45 - t * 6.0);
                double gx = (double)x / w, gy = (double)y / h;
                int bar = ((x + i * 3) / 6) % 2 == 0 && y > h * 3 / 4;
                double rr = 0.55 * gx + 0.45 * ring, gg = 0.5 * gy + 0.4 * ring * (1 - gx), bb = 0.8 - 0.5 * gx * gy;
                if (bar)
                    rr = gg = bb = 0.95;
                row[3 * x + 0] = (uint8_t)(255 * fmin(1, fmax(0, rr)));
                row[3 * x + 1] = (uint8_t)(255 * fmin(1, fmax(0, gg)));
                row[3 * x + 2] = (uint8_t)(255 * fmin(1, fmax(0, bb)));
            }
        }
        vsr_frame_set_time_base(f, (vsr_rational){1, 24});
        vsr_frame_set_pts(f, i);
        vsr_frame_set_duration(f, 1);
        vsr_colour col = {1, 1, 1, 1, 1};
        vsr_frame_set_colour(f, &col);
        err = vsr_output_write_frame(out, f);
        vsr_frame_unref(&f);
    }
    if (err >= 0)
        err = vsr_output_finish(out);
    if (err < 0)
        fprintf(stderr, "vsr-bench: cannot write the sample clip '%s': %s\n", path, vsr_last_error());
    vsr_output_close(&out);
    return err;
}

/* The default model: $VSR_MODELS_DIR, ./models, <prefix>/share/libvsr/models,
 * then the source tree's models/ when the binary runs from a build directory in it. */
static char *find_default_model(void)
{
    char *cands[6];
    int n = 0;
    const char *md = getenv("VSR_MODELS_DIR");
    if (md && *md)
        cands[n++] = xasprintf("%s/%s", md, DEFAULT_MODEL_FILE);
    cands[n++] = xasprintf("models/%s", DEFAULT_MODEL_FILE);
    char *ed = exe_dir();
    if (ed) {
        cands[n++] = xasprintf("%s/../share/libvsr/models/%s", ed, DEFAULT_MODEL_FILE);
        cands[n++] = xasprintf("%s/../../models/%s", ed, DEFAULT_MODEL_FILE);
        free(ed);
    }
    char *found = NULL;
    for (int i = 0; i < n; i++) {
        if (!found && file_exists(cands[i])) {
            char real[PATH_MAX];
            found = xstrdup(realpath(cands[i], real) ? real : cands[i]);
        }
        free(cands[i]);
    }
    return found;
}

static int default_config(bench_cfg *b, const char *input, const char *model, const char *outdir)
{
    cfgctx c = {"defaults", "."};
    b->source = xstrdup("(no --config: defaults)");
    b->name = xstrdup("default benchmark");
    if (input) {
        b->n_videos = 1;
        b->videos = xcalloc(1, sizeof(video_cfg));
        b->videos[0].path = xstrdup(input);
        b->videos[0].file = xstrdup(input);
        if (!file_exists(input)) {
            fprintf(stderr, "vsr-bench: --input: file '%s' does not exist\n", input);
            return -1;
        }
    } else {
        /* two sample clips of different lengths, for the time-vs-duration chart */
        char *sd = xasprintf("%s/samples", outdir);
        if (mkdir_p(sd) < 0) {
            fprintf(stderr, "vsr-bench: cannot create '%s': %s\n", sd, strerror(errno));
            free(sd);
            return -1;
        }
        b->n_videos = 2;
        b->videos = xcalloc(2, sizeof(video_cfg));
        for (int i = 0; i < 2; i++) {
            int frames = 12 * (i + 1);
            char *p = xasprintf("%s/sample-160x90-%02df.mp4", sd, frames);
            progress("vsr-bench: writing sample clip %s\n", p);
            if (make_sample_clip(p, 160, 90, frames) < 0) {
                free(p);
                free(sd);
                return -1;
            }
            b->videos[i].path = p;
            b->videos[i].file = xstrdup(p);
            b->videos[i].description = xasprintf("synthetic sample, %d frames", frames);
        }
        free(sd);
    }
    for (int i = 0; i < b->n_videos; i++)
        if (probe_video(&c, &b->videos[i], "--input") < 0)
            return -1;
    char *m = model ? xstrdup(model) : find_default_model();
    if (!m) {
        fprintf(stderr,
                "vsr-bench: no model given and %s was not found in $VSR_MODELS_DIR, ./models or "
                "<prefix>/share/libvsr/models; pass --model FILE (run scripts/fetch-models first)\n",
                DEFAULT_MODEL_FILE);
        return -1;
    }
    if (!file_exists(m)) {
        fprintf(stderr, "vsr-bench: --model: file '%s' does not exist\n", m);
        free(m);
        return -1;
    }
    b->n_models = 1;
    b->models = xcalloc(1, sizeof(model_cfg));
    b->models[0].path = m;
    b->models[0].file = xstrdup(m);
    b->n_precisions = 1;
    b->precisions = xcalloc(1, sizeof(vsr_precision));
    b->precisions[0] = VSR_PRECISION_AUTO;
    b->n_devices = 1;
    b->devices = xcalloc(1, sizeof(char *));
    b->devices[0] = xstrdup("cpu");
    b->n_settings = 1;
    b->settings = xcalloc(1, sizeof(setting_cfg));
    setting_defaults(&b->settings[0]);
    b->settings[0].name = xstrdup("default");
    b->n_encoders = 1;
    b->encoders = xcalloc(1, sizeof(encoder_cfg));
    encoder_defaults(&b->encoders[0]);
    b->encoders[0].name = xstrdup("libx264-crf18");
    b->iterations = 3;
    b->warmup = 1;
    for (int i = 0; i < M_COUNT; i++)
        b->metrics[i] = 1;
    b->charts = 1;
    b->granularity = VSR_GRANULARITY_CHUNK;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Runs                                                                 */

typedef struct run_rec {
    char id[16];
    int video, model, setting, encoder;
    vsr_precision precision;
    const char *device;
    char model_name[64];
    int ok;
    char *error;
    int have_info;
    vsr_session_info info;
    int n_done;              /* timed iterations completed */
    double (*vals)[M_COUNT]; /* [iterations][M_COUNT], NAN = not measured */
    double stats[4][M_COUNT];/* min, median, max, mean */
    char *output_file;       /* when kept */
    int64_t device_total;    /* bytes of the GPU used, -1 if none */
} run_rec;

static const char *const stat_names[4] = {"min", "median", "max", "mean"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summarize(run_rec *r)
{
    double tmp[1000];
    for (int m = 0; m < M_COUNT; m++) {
        int n = 0;
        for (int i = 0; i < r->n_done; i++)
            if (!isnan(r->vals[i][m]))
                tmp[n++] = r->vals[i][m];
        if (n == 0) {
            for (int s = 0; s < 4; s++)
                r->stats[s][m] = NAN;
            continue;
        }
        qsort(tmp, (size_t)n, sizeof(double), cmp_double);
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += tmp[i];
        r->stats[0][m] = tmp[0];
        r->stats[1][m] = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
        r->stats[2][m] = tmp[n - 1];
        r->stats[3][m] = sum / n;
    }
}

/* CPU time of the whole process (every thread), in seconds; -1 if unknown. */
static double cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return -1;
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double stage_ms(vsr_tracker *t, const char *type)
{
    vsr_op_stats st;
    memset(&st, 0, sizeof(st));
    st.size = sizeof(st);
    if (vsr_tracker_get_stats(t, type, NULL, &st) < 0)
        return NAN;
    return st.total_ms;
}

/* One iteration's measurements from the tracker and the run result. */
static void collect(vsr_tracker *t, const vsr_run_result *res, int have_reference, double cpu_s, double *v,
                    int64_t *device_total)
{
    for (int m = 0; m < M_COUNT; m++)
        v[m] = NAN;
    v[M_FRAMES] = (double)res->frames_written;
    v[M_CHUNKS] = (double)res->chunks;
    v[M_TILES] = (double)res->tiles;
    v[M_FRAME_EXTRACTION] = (stage_ms(t, VSR_OP_DECODE) + stage_ms(t, VSR_OP_PREPROCESS)) / 1e3;
    v[M_SUPER_RESOLUTION] =
        (stage_ms(t, VSR_OP_UPLOAD) + stage_ms(t, VSR_OP_INFERENCE) + stage_ms(t, VSR_OP_DOWNLOAD)) / 1e3;
    v[M_RECOMPOSITION] = (stage_ms(t, VSR_OP_POSTPROCESS) + stage_ms(t, VSR_OP_ENCODE)) / 1e3;
    v[M_TOTAL] = stage_ms(t, VSR_OP_RUN) / 1e3;
    if (!(v[M_TOTAL] > 0))
        v[M_TOTAL] = res->seconds;
    v[M_FPS] = v[M_TOTAL] > 0 ? res->frames_written / v[M_TOTAL] : NAN;
    v[M_CPU_TIME] = cpu_s >= 0 ? cpu_s : NAN;
    vsr_resource_stats rs;
    memset(&rs, 0, sizeof(rs));
    rs.size = sizeof(rs);
    if (vsr_tracker_get_resources(t, &rs) == 0) {
        v[M_PEAK_RSS] = rs.peak_rss_bytes > 0 ? (double)rs.peak_rss_bytes : NAN;
        v[M_PEAK_VRAM] = rs.peak_device_bytes >= 0 ? (double)rs.peak_device_bytes : NAN;
        if (rs.device_total_bytes > 0)
            *device_total = rs.device_total_bytes;
    }
    if (have_reference) {
        vsr_quality_stats q;
        memset(&q, 0, sizeof(q));
        q.size = sizeof(q);
        if (vsr_tracker_get_quality(t, &q) == 0 && q.frames > 0) {
            v[M_PSNR] = q.psnr_mean;
            v[M_SSIM] = q.ssim_mean;
        }
    }
}

typedef struct runner {
    const bench_cfg *b;
    const char *outdir;
    char *videos_dir;
    run_rec *runs;
    int n_runs, cap_runs;
    int total_planned;
    int failures;
    /* the loaded model, kept while consecutive runs share it */
    vsr_model *model;
    int model_idx, model_threads;
    vsr_precision model_prec;
    char *model_dev;
    int model_err;
    char *model_errmsg;
} runner;

static run_rec *new_run(runner *rn)
{
    if (rn->n_runs == rn->cap_runs) {
        int cap = rn->cap_runs ? 2 * rn->cap_runs : 16;
        run_rec *p = realloc(rn->runs, sizeof(*p) * (size_t)cap);
        if (!p)
            die_oom();
        rn->runs = p;
        rn->cap_runs = cap;
    }
    run_rec *r = &rn->runs[rn->n_runs];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "r%03d", rn->n_runs + 1);
    rn->n_runs++;
    r->vals = xcalloc((size_t)rn->b->iterations, sizeof(*r->vals));
    r->device_total = -1;
    for (int s = 0; s < 4; s++)
        for (int m = 0; m < M_COUNT; m++)
            r->stats[s][m] = NAN;
    return r;
}

/* Load (or keep) the model for (model, precision, device, threads). */
static int get_model(runner *rn, int mi, vsr_precision p, const char *dev, int threads)
{
    if (rn->model_dev && rn->model_idx == mi && rn->model_prec == p && !strcmp(rn->model_dev, dev) &&
        rn->model_threads == threads)
        return rn->model_err;
    vsr_model_unref(&rn->model);
    free(rn->model_dev);
    free(rn->model_errmsg);
    rn->model_errmsg = NULL;
    rn->model_idx = mi;
    rn->model_prec = p;
    rn->model_dev = xstrdup(dev);
    rn->model_threads = threads;
    /* threads are process-wide: set before the load (runs go one at a time) */
    vsr_process_settings ps;
    vsr_process_settings_default(&ps);
    ps.threads = threads;
    vsr_model_settings s;
    vsr_model_settings_default(&s);
    s.path = rn->b->models[mi].file;
    s.device = dev;
    s.precision = p;
    progress("vsr-bench: loading %s (%s, %s%s)\n", rn->b->models[mi].path, precision_names[p], dev,
             threads ? ", fixed threads" : "");
    rn->model_err = vsr_process_configure(&ps);
    if (rn->model_err >= 0)
        rn->model_err = vsr_model_open(&rn->model, &s);
    if (rn->model_err < 0)
        rn->model_errmsg = xasprintf("loading model '%s' (%s on %s): %s", rn->b->models[mi].path,
                                     precision_names[p], dev, vsr_last_error());
    return rn->model_err;
}

static void run_fail(runner *rn, run_rec *r, const char *msg)
{
    r->ok = 0;
    free(r->error);
    r->error = xstrdup(msg);
    rn->failures++;
    fprintf(stderr, "vsr-bench: run %s failed: %s\n", r->id, msg);
}

/* All encoders of one (model, precision, device, setting, video): one session. */
static void run_group(runner *rn, int mi, vsr_precision p, const char *dev, int si, int vi)
{
    const bench_cfg *b = rn->b;
    const setting_cfg *st = &b->settings[si];
    const video_cfg *vid = &b->videos[vi];
    int err = get_model(rn, mi, p, dev, st->threads);

    vsr_tracker *tr = NULL;
    vsr_session *ses = NULL;
    char card_name[64] = "";
    if (err >= 0) {
        vsr_model_card card;
        memset(&card, 0, sizeof(card));
        card.size = sizeof(card);
        if (vsr_model_get_card(rn->model, &card) == 0)
            snprintf(card_name, sizeof(card_name), "%s", card.name);
        vsr_tracker_settings ts;
        vsr_tracker_settings_default(&ts);
        ts.granularity = b->granularity;
        ts.sampler_interval_ms = 20;
        err = vsr_tracker_open(&tr, &ts);
    }
    char *errmsg = NULL;
    if (rn->model_err < 0)
        errmsg = xstrdup(rn->model_errmsg);
    else if (err < 0)
        errmsg = xasprintf("creating the tracker: %s", vsr_last_error());
    if (err >= 0) {
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        s.model = rn->model;
        s.batch = st->batch;
        s.chunk = st->chunk;
        s.overlap = st->overlap;
        s.tile = st->tile;
        s.tile_pad = st->tile_pad;
        s.mem_limit = st->mem_limit;
        s.tracker = tr;
        err = vsr_session_open(&ses, &s);
        if (err < 0)
            errmsg = xasprintf("opening the session (setting '%s'): %s", st->name, vsr_last_error());
    }

    for (int ei = 0; ei < b->n_encoders; ei++) {
        const encoder_cfg *enc = &b->encoders[ei];
        run_rec *r = new_run(rn);
        r->video = vi;
        r->model = mi;
        r->setting = si;
        r->encoder = ei;
        r->precision = p;
        r->device = dev;
        r->ok = 1;
        snprintf(r->model_name, sizeof(r->model_name), "%s",
                 b->models[mi].name ? b->models[mi].name : card_name[0] ? card_name : "");
        if (!r->model_name[0]) {
            char *stem = stem_of(b->models[mi].path);
            snprintf(r->model_name, sizeof(r->model_name), "%s", stem);
            free(stem);
        }
        progress("[%d/%d] %s: %s x %s x %s x %s x %s x %s\n", rn->n_runs, rn->total_planned, r->id, vid->path,
                 r->model_name, precision_names[p], dev, st->name, enc->name);
        if (errmsg) {
            run_fail(rn, r, errmsg);
            continue;
        }
        char *vstem = stem_of(vid->path);
        sanitize(vstem);
        char *out = xasprintf("%s/%s-%s.mkv", rn->videos_dir, r->id, vstem);
        free(vstem);
        vsr_output_settings os;
        vsr_output_settings_default(&os);
        os.codec = enc->codec;
        os.crf = enc->crf;
        os.preset = enc->preset;
        os.pix_fmt = enc->pix_fmt;
        os.options = enc->options;
        vsr_run_settings rs;
        vsr_run_settings_default(&rs);
        rs.output = &os;
        rs.pipelined = st->pipelined;
        rs.queue_depth = st->queue_depth;
        rs.reference_path = vid->reference_file;
        int total = b->warmup + b->iterations;
        for (int it = 0; it < total; it++) {
            int warm = it < b->warmup;
            vsr_tracker_reset(tr);
            vsr_run_result res;
            memset(&res, 0, sizeof(res));
            res.size = sizeof(res);
            double cpu0 = cpu_seconds();
            int rc = vsr_upscale_file(ses, vid->file, out, &rs, &res);
            double cpu1 = cpu_seconds();
            if (rc < 0 && rc != VSR_ERROR_INPUT_DAMAGED) {
                char *m = xasprintf("%s %d: %s", warm ? "warm-up" : "iteration", warm ? it + 1 : it - b->warmup + 1,
                                    vsr_last_error()[0] ? vsr_last_error() : vsr_strerror(rc));
                run_fail(rn, r, m);
                free(m);
                break;
            }
            if (!r->have_info) {
                memset(&r->info, 0, sizeof(r->info));
                r->info.size = sizeof(r->info);
                r->have_info = vsr_session_get_info(ses, &r->info) == 0;
            }
            if (warm) {
                progress("    warm-up %d/%d: %.3f s\n", it + 1, b->warmup, res.seconds);
                continue;
            }
            double *v = r->vals[r->n_done];
            collect(tr, &res, vid->reference_file != NULL, cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1, v,
                    &r->device_total);
            r->n_done++;
            progress("    iteration %d/%d: %.3f s, %.2f fps, CPU %.3f s (extraction %.3f s, super-resolution %.3f s, "
                     "recomposition %.3f s)\n",
                     r->n_done, b->iterations, v[M_TOTAL], v[M_FPS], v[M_CPU_TIME], v[M_FRAME_EXTRACTION],
                     v[M_SUPER_RESOLUTION], v[M_RECOMPOSITION]);
        }
        summarize(r);
        if (b->keep_videos && file_exists(out))
            r->output_file = out;
        else {
            unlink(out);
            free(out);
        }
    }
    free(errmsg);
    vsr_session_close(&ses);
    vsr_tracker_unref(&tr);
}

static void run_all(runner *rn)
{
    const bench_cfg *b = rn->b;
    /* count first, for "[i/n]" */
    int planned = 0;
    for (int si = 0; si < b->n_settings; si++) {
        int np = b->settings[si].has_precision ? 1 : b->n_precisions;
        int nd = b->settings[si].device ? 1 : b->n_devices;
        planned += b->n_models * np * nd * b->n_videos * b->n_encoders;
    }
    rn->total_planned = planned;
    /* model-major, so that each model is loaded once per precision and device */
    for (int mi = 0; mi < b->n_models; mi++)
        for (int pi = 0; pi < b->n_precisions; pi++)
            for (int di = 0; di < b->n_devices; di++)
                for (int si = 0; si < b->n_settings; si++) {
                    const setting_cfg *st = &b->settings[si];
                    /* a setting with its own precision/device runs once, at the first index */
                    if (st->has_precision && pi > 0)
                        continue;
                    if (st->device && di > 0)
                        continue;
                    vsr_precision p = st->has_precision ? st->precision : b->precisions[pi];
                    const char *dev = st->device ? st->device : b->devices[di];
                    for (int vi = 0; vi < b->n_videos; vi++)
                        run_group(rn, mi, p, dev, si, vi);
                }
    vsr_model_unref(&rn->model);
}

/* ------------------------------------------------------------------ */
/* System description (from /proc; the public API has no such call)      */

typedef struct sys_desc {
    char cpu_model[160];
    int logical_cores, online_cores;
    int64_t ram_total, ram_available;
    char os[256];
    char flags_simd[128];
} sys_desc;

static int64_t meminfo_bytes(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    char line[256];
    int64_t v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            long long kb;
            if (sscanf(line + kl + 1, "%lld", &kb) == 1)
                v = (int64_t)kb * 1024;
            break;
        }
    fclose(f);
    return v;
}

static int has_flag(const char *flags, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = flags; (p = strstr(p, name)); p += n)
        if ((p == flags || p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
            return 1;
    return 0;
}

static void get_sys(sys_desc *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->cpu_model, sizeof(s->cpu_model), "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[4096];
        int got_model = 0, got_flags = 0;
        while (fgets(line, sizeof(line), f) && !(got_model && got_flags)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            const char *val = colon + 1;
            while (*val == ' ' || *val == '\t')
                val++;
            if (!got_model && !strncmp(line, "model name", 10)) {
                snprintf(s->cpu_model, sizeof(s->cpu_model), "%s", val);
                s->cpu_model[strcspn(s->cpu_model, "\n")] = 0;
                got_model = 1;
            } else if (!got_flags && !strncmp(line, "flags", 5)) {
                static const char *const simd[] = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"};
                size_t k = 0;
                for (size_t i = 0; i < sizeof(simd) / sizeof(simd[0]); i++)
                    if (has_flag(val, simd[i]))
                        k += (size_t)snprintf(s->flags_simd + k, sizeof(s->flags_simd) - k, "%s%s", k ? " " : "",
                                              simd[i]);
                got_flags = 1;
            }
        }
        fclose(f);
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    s->logical_cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : -1;
    long on = sysconf(_SC_NPROCESSORS_ONLN);
    s->online_cores = on > 0 ? (int)on : -1;
    s->ram_total = meminfo_bytes("MemTotal");
    s->ram_available = meminfo_bytes("MemAvailable");
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(s->os, sizeof(s->os), "%s %s %s", u.sysname, u.release, u.machine);
}

/* ------------------------------------------------------------------ */
/* JSON and CSV output                                                  */

static void json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v, const char *fmt)
{
    if (isnan(v) || isinf(v))
        fputs("null", f);
    else
        fprintf(f, fmt, v);
}

static void json_metric(FILE *f, int m, double v)
{
    char buf[64];
    fmt_metric(m, v, buf, sizeof(buf));
    fputs(buf[0] ? buf : "null", f);
}

static void json_int_or_auto(FILE *f, int v)
{
    if (v == VSR_AUTO)
        fputs("\"auto\"", f);
    else
        fprintf(f, "%d", v);
}

typedef struct recommendation_out {
    int ok;
    vsr_recommendation r;
    char err[512];
} recommendation_out;

static void json_recommendation(FILE *f, const recommendation_out *ro, const char *ind)
{
    if (!ro->ok) {
        fprintf(f, "{\"error\": ");
        json_str(f, ro->err);
        fputc('}', f);
        return;
    }
    const vsr_recommendation *r = &ro->r;
    fprintf(f, "{\n%s  \"device\": ", ind);
    json_str(f, r->device);
    fprintf(f, ",\n%s  \"precision\": ", ind);
    json_str(f, vsr_precision_name(r->precision));
    fprintf(f, ",\n%s  \"threads\": %d,\n%s  \"batch\": ", ind, r->threads, ind);
    json_int_or_auto(f, r->batch);
    fprintf(f, ",\n%s  \"chunk\": ", ind);
    json_int_or_auto(f, r->chunk);
    fprintf(f, ",\n%s  \"tile\": ", ind);
    json_int_or_auto(f, r->tile);
    fprintf(f, ",\n%s  \"tile_pad\": ", ind);
    json_int_or_auto(f, r->tile_pad);
    fprintf(f, ",\n%s  \"mem_limit\": %lld,\n%s  \"reasons\": [", ind, (long long)r->mem_limit, ind);
    const char *p = r->reasons;
    int first = 1;
    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n > 0) {
            char line[2048];
            snprintf(line, sizeof(line), "%.*s", (int)n, p);
            fprintf(f, "%s\n%s    ", first ? "" : ",", ind);
            json_str(f, line);
            first = 0;
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    if (!first)
        fprintf(f, "\n%s  ", ind);
    fprintf(f, "]\n%s}", ind);
}

static void get_recommendation(const char *model, recommendation_out *ro)
{
    memset(ro, 0, sizeof(*ro));
    ro->r.size = sizeof(ro->r);
    int err = vsr_recommend_settings(model, &ro->r);
    ro->ok = err >= 0;
    if (!ro->ok)
        snprintf(ro->err, sizeof(ro->err), "%s", vsr_last_error()[0] ? vsr_last_error() : vsr_strerror(err));
}

static void iso_time(char *buf, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_json(const runner *rn, const char *path, const sys_desc *sys, const recommendation_out *rec)
{
    const bench_cfg *b = rn->b;
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "vsr-bench: cannot write '%s': %s\n", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    char when[64];
    iso_time(when, sizeof(when));
    fprintf(f, "{\n  \"format\": \"libvsr-bench-report\",\n  \"version\": 1,\n  \"generated\": \"%s\",\n", when);
    fprintf(f, "  \"name\": ");
    json_str(f, b->name);
    fprintf(f, ",\n  \"config\": {\"source\": ");
    json_str(f, b->source);
    fprintf(f, ", \"iterations\": %d, \"warmup\": %d, \"granularity\": \"%s\", \"metrics\": [", b->iterations,
            b->warmup, b->granularity == VSR_GRANULARITY_OPERATION ? "operation" : "chunk");
    for (int m = 0, k = 0; m < M_COUNT; m++)
        if (b->metrics[m])
            fprintf(f, "%s\"%s\"", k++ ? ", " : "", metric_names[m]);
    fprintf(f, "]},\n  \"units\": {");
    for (int m = 0; m < M_COUNT; m++)
        fprintf(f, "%s\"%s\": \"%s\"", m ? ", " : "", metric_names[m], metric_units[m]);
    fprintf(f, "},\n");

    /* system */
    fprintf(f, "  \"system\": {\n    \"cpu_model\": ");
    json_str(f, sys->cpu_model);
    fprintf(f, ",\n    \"logical_cores\": %d,\n    \"online_cores\": %d,\n    \"simd\": ", sys->logical_cores,
            sys->online_cores);
    json_str(f, sys->flags_simd);
    fprintf(f, ",\n    \"ram_total_bytes\": %lld,\n    \"ram_available_bytes\": %lld,\n    \"os\": ",
            (long long)sys->ram_total, (long long)sys->ram_available);
    json_str(f, sys->os);
    /* a GPU is known through the recommendation (CUDA probe) and the runs' device peaks */
    int64_t vram_total = -1;
    const char *gpu_dev = NULL;
    for (int i = 0; i < rn->n_runs; i++)
        if (rn->runs[i].have_info && !strncmp(rn->runs[i].info.device, "cuda", 4)) {
            gpu_dev = rn->runs[i].info.device;
            if (rn->runs[i].device_total > 0)
                vram_total = rn->runs[i].device_total;
        }
    if (!gpu_dev && rec->ok && !strncmp(rec->r.device, "cuda", 4))
        gpu_dev = rec->r.device;
    fprintf(f, ",\n    \"gpu\": ");
    if (gpu_dev) {
        fprintf(f, "{\"device\": ");
        json_str(f, gpu_dev);
        fprintf(f, ", \"memory_total_bytes\": ");
        if (vram_total > 0)
            fprintf(f, "%lld}", (long long)vram_total);
        else
            fputs("null}", f);
    } else {
        fprintf(f, "null");
    }
    fprintf(f, ",\n    \"libvsr_version\": ");
    json_str(f, vsr_version_string());
    fprintf(f, ",\n    \"build_info\": ");
    json_str(f, vsr_build_info());
    fprintf(f, ",\n    \"recommendation\": ");
    json_recommendation(f, rec, "    ");
    fprintf(f, "\n  },\n");

    /* videos */
    fprintf(f, "  \"videos\": [");
    for (int i = 0; i < b->n_videos; i++) {
        const video_cfg *v = &b->videos[i];
        fprintf(f, "%s\n    {\"path\": ", i ? "," : "");
        json_str(f, v->path);
        fprintf(f, ", \"description\": ");
        json_str(f, v->description);
        fprintf(f, ", \"reference\": ");
        json_str(f, v->reference);
        fprintf(f, ", \"width\": %d, \"height\": %d, \"frames\": ", v->width, v->height);
        if (v->frames >= 0)
            fprintf(f, "%lld", (long long)v->frames);
        else
            fputs("null", f);
        fprintf(f, ", \"frame_rate\": ");
        json_num(f, v->frame_rate > 0 ? v->frame_rate : NAN, "%.6f");
        fprintf(f, ", \"duration_s\": ");
        json_num(f, v->duration_s > 0 ? v->duration_s : NAN, "%.6f");
        fprintf(f, ", \"codec\": ");
        json_str(f, v->codec);
        fputc('}', f);
    }
    fprintf(f, "\n  ],\n");

    /* runs */
    fprintf(f, "  \"runs\": [");
    for (int i = 0; i < rn->n_runs; i++) {
        const run_rec *r = &rn->runs[i];
        const setting_cfg *st = &b->settings[r->setting];
        const encoder_cfg *enc = &b->encoders[r->encoder];
        const video_cfg *v = &b->videos[r->video];
        fprintf(f, "%s\n    {\n      \"id\": \"%s\",\n      \"status\": \"%s\",\n      \"error\": ", i ? "," : "",
                r->id, r->ok ? "ok" : "error");
        json_str(f, r->error);
        fprintf(f, ",\n      \"video\": ");
        json_str(f, v->path);
        fprintf(f, ",\n      \"video_index\": %d,\n      \"video_duration_s\": ", r->video);
        json_num(f, v->duration_s > 0 ? v->duration_s : NAN, "%.6f");
        fprintf(f, ",\n      \"model\": ");
        json_str(f, r->model_name);
        fprintf(f, ",\n      \"model_path\": ");
        json_str(f, b->models[r->model].path);
        fprintf(f, ",\n      \"precision\": \"%s\",\n      \"device\": ", precision_names[r->precision]);
        json_str(f, r->device);
        fprintf(f, ",\n      \"setting\": {\"name\": ");
        json_str(f, st->name);
        fprintf(f, ", \"batch\": ");
        json_int_or_auto(f, st->batch);
        fprintf(f, ", \"chunk\": ");
        json_int_or_auto(f, st->chunk);
        fprintf(f, ", \"overlap\": ");
        json_int_or_auto(f, st->overlap);
        fprintf(f, ", \"tile\": ");
        json_int_or_auto(f, st->tile);
        fprintf(f, ", \"tile_pad\": ");
        json_int_or_auto(f, st->tile_pad);
        fprintf(f, ", \"threads\": %d, \"mem_limit\": %lld, \"pipelined\": %s, \"queue_depth\": %d}", st->threads,
                (long long)st->mem_limit, st->pipelined ? "true" : "false", st->queue_depth);
        fprintf(f, ",\n      \"encoder\": {\"name\": ");
        json_str(f, enc->name);
        fprintf(f, ", \"codec\": ");
        json_str(f, enc->codec);
        fprintf(f, ", \"crf\": %d, \"preset\": ", enc->crf);
        json_str(f, enc->preset);
        fprintf(f, ", \"pix_fmt\": ");
        json_str(f, enc->pix_fmt);
        fprintf(f, "}");
        fprintf(f, ",\n      \"used\": ");
        if (r->have_info) {
            const vsr_session_info *u = &r->info;
            fprintf(f, "{\"device\": ");
            json_str(f, u->device);
            fprintf(f, ", \"precision\": \"%s\", \"threads\": %d, \"batch\": %d, \"chunk\": ",
                    vsr_precision_name(u->precision), u->threads, u->batch);
            json_int_or_auto(f, u->chunk);
            fprintf(f, ", \"overlap\": %d, \"tile\": ", u->overlap);
            json_int_or_auto(f, u->tile);
            fprintf(f, ", \"tile_pad\": %d, \"scale\": %d, \"mem_limit\": %lld}", u->tile_pad, u->scale,
                    (long long)u->mem_limit);
        } else {
            fputs("null", f);
        }
        fprintf(f, ",\n      \"output_file\": ");
        json_str(f, r->output_file);
        fprintf(f, ",\n      \"iterations\": [");
        for (int it = 0; it < r->n_done; it++) {
            fprintf(f, "%s\n        {\"iteration\": %d", it ? "," : "", it + 1);
            for (int m = 0; m < M_COUNT; m++)
                if (b->metrics[m]) {
                    fprintf(f, ", \"%s\": ", metric_names[m]);
                    json_metric(f, m, r->vals[it][m]);
                }
            fputc('}', f);
        }
        fprintf(f, "%s],\n      \"summary\": {", r->n_done ? "\n      " : "");
        for (int m = 0, k = 0; m < M_COUNT; m++) {
            if (!b->metrics[m])
                continue;
            fprintf(f, "%s\n        \"%s\": {", k++ ? "," : "", metric_names[m]);
            for (int s = 0; s < 4; s++) {
                fprintf(f, "%s\"%s\": ", s ? ", " : "", stat_names[s]);
                json_metric(f, m, r->stats[s][m]);
            }
            fputc('}', f);
        }
        fprintf(f, "\n      }\n    }");
    }
    fprintf(f, "\n  ]\n}\n");
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "vsr-bench: cannot write '%s': %s\n", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static void csv_field(FILE *f, const char *s)
{
    if (!s)
        return;
    if (strpbrk(s, ",\"\n\r")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

static void csv_row_head(FILE *f, const runner *rn, const run_rec *r, const char *kind, int iteration)
{
    const bench_cfg *b = rn->b;
    fprintf(f, "%s,%s,", kind, r->id);
    if (iteration > 0)
        fprintf(f, "%d", iteration);
    fputc(',', f);
    csv_field(f, b->videos[r->video].path);
    fputc(',', f);
    csv_field(f, r->model_name);
    fprintf(f, ",%s,", precision_names[r->precision]);
    csv_field(f, r->device);
    fputc(',', f);
    csv_field(f, b->settings[r->setting].name);
    fputc(',', f);
    csv_field(f, b->encoders[r->encoder].name);
    fputc(',', f);
    if (r->have_info) {
        csv_field(f, r->info.device);
        fprintf(f, ",%s,%d,%d,", vsr_precision_name(r->info.precision), r->info.threads, r->info.batch);
        if (r->info.chunk == VSR_AUTO)
            fputs("auto", f);
        else
            fprintf(f, "%d", r->info.chunk);
        fprintf(f, ",%d,%d", r->info.tile, r->info.tile_pad);
    } else {
        fputs(",,,,,,", f);
    }
    fprintf(f, ",%s", r->ok ? "ok" : "error");
}

static int write_csv(const runner *rn, const char *path)
{
    const bench_cfg *b = rn->b;
    char *tmp = xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "vsr-bench: cannot write '%s': %s\n", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    fputs("row,run_id,iteration,video,model,precision,device,setting,encoder,used_device,used_precision,"
          "used_threads,used_batch,used_chunk,used_tile,used_tile_pad,status",
          f);
    for (int m = 0; m < M_COUNT; m++)
        if (b->metrics[m])
            fprintf(f, ",%s", metric_names[m]);
    fputs(",error\n", f);
    for (int pass = 0; pass < 2; pass++) { /* iteration rows first, then summary rows */
        for (int i = 0; i < rn->n_runs; i++) {
            const run_rec *r = &rn->runs[i];
            int nrows = pass == 0 ? (r->n_done ? r->n_done : (r->ok ? 0 : 1)) : (r->n_done ? 4 : 0);
            for (int k = 0; k < nrows; k++) {
                const char *kind = pass == 0 ? "iteration" : stat_names[k];
                csv_row_head(f, rn, r, kind, pass == 0 && r->n_done ? k + 1 : 0);
                for (int m = 0; m < M_COUNT; m++) {
                    if (!b->metrics[m])
                        continue;
                    char buf[64] = "";
                    if (r->n_done)
                        fmt_metric(m, pass == 0 ? r->vals[k][m] : r->stats[k][m], buf, sizeof(buf));
                    fprintf(f, ",%s", buf);
                }
                fputc(',', f);
                csv_field(f, r->error);
                fputc('\n', f);
            }
        }
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "vsr-bench: cannot write '%s': %s\n", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Charts                                                               */

static int run_quiet(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run_visible(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "vsr-bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *find_plot_script(const char *given)
{
    if (given)
        return file_exists(given) ? xstrdup(given) : NULL;
    const char *env = getenv("VSR_BENCH_PLOT");
    if (env && *env)
        return file_exists(env) ? xstrdup(env) : NULL;
    char *ed = exe_dir();
    char *cands[3] = {NULL, NULL, NULL};
    if (ed) {
        cands[0] = xasprintf("%s/../share/libvsr/plot_report.py", ed);
        /* a build directory inside the source tree: <src>/build/examples/vsr-bench */
        cands[2] = xasprintf("%s/../../bench/plot_report.py", ed);
        free(ed);
    }
    cands[1] = xstrdup("bench/plot_report.py");
    char *found = NULL;
    for (int i = 0; i < 3; i++) {
        if (!found && cands[i] && file_exists(cands[i])) {
            char real[PATH_MAX];
            found = xstrdup(realpath(cands[i], real) ? real : cands[i]);
        }
        free(cands[i]);
    }
    return found;
}

/* A Python that has matplotlib: --python, $VSR_PYTHON, python3, /usr/bin/python3. */
static char *find_python(const char *given)
{
    const char *cands[4];
    int n = 0;
    if (given)
        cands[n++] = given;
    else {
        const char *env = getenv("VSR_PYTHON");
        if (env && *env)
            cands[n++] = env;
        cands[n++] = "python3";
        cands[n++] = "/usr/bin/python3";
    }
    for (int i = 0; i < n; i++) {
        char *argv[] = {(char *)cands[i], "-c", "import matplotlib", NULL};
        if (run_quiet(argv) == 0)
            return xstrdup(cands[i]);
    }
    return NULL;
}

static int make_charts(const char *script_opt, const char *python_opt, const char *report, const char *outdir)
{
    char *script = find_plot_script(script_opt);
    if (!script) {
        if (script_opt)
            fprintf(stderr, "vsr-bench: --plot-script '%s' does not exist: charts not drawn\n", script_opt);
        else
            fprintf(stderr,
                    "vsr-bench: plot_report.py not found ($VSR_BENCH_PLOT, <prefix>/share/libvsr/plot_report.py, "
                    "./bench/plot_report.py, <source tree>/bench/plot_report.py): charts not drawn; pass "
                    "--plot-script PATH\n");
        return -1;
    }
    char *py = find_python(python_opt);
    if (!py) {
        fprintf(stderr,
                "vsr-bench: no python3 with matplotlib found (%s): charts not drawn (report.json and report.csv "
                "are written); install python3-matplotlib or pass --python PATH\n",
                python_opt ? python_opt : "tried $VSR_PYTHON, python3, /usr/bin/python3");
        free(script);
        return -1;
    }
    progress("vsr-bench: drawing charts with %s %s\n", py, script);
    char *argv[] = {py, script, "--report", (char *)report, "--out-dir", (char *)outdir, quiet ? "-q" : NULL, NULL};
    int rc = run_visible(argv);
    if (rc != 0)
        fprintf(stderr, "vsr-bench: %s %s failed (exit %d): charts may be missing\n", py, script, rc);
    free(py);
    free(script);
    return rc == 0 ? 0 : -2; /* -1: not drawn (nothing to draw with), -2: the script failed */
}

/* ------------------------------------------------------------------ */
/* Command line                                                         */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: vsr-bench --config FILE --output-dir DIR [options]\n"
            "       vsr-bench --output-dir DIR [--input CLIP] [--model FILE] [options]\n"
            "       vsr-bench --recommend [--model FILE]\n"
            "\n"
            "Benchmark libvsr over every combination of the configuration's videos, models,\n"
            "precisions, devices, settings and encoders: warm-up runs first (not counted),\n"
            "then timed iterations. Writes DIR/report.json, DIR/report.csv and the charts\n"
            "DIR/total_time.png, DIR/stage_breakdown.png and DIR/time_vs_duration.png.\n"
            "\n"
            "Options:\n"
            "  --config FILE       benchmark configuration (JSON; see docs/bench.md). Relative\n"
            "                      paths inside it are relative to the file's directory.\n"
            "  --output-dir DIR    where the report, CSV, charts (and kept videos) go\n"
            "  --input CLIP        without --config: benchmark this clip. Without --config and\n"
            "                      --input, two synthetic 160x90 sample clips (12 and 24 frames)\n"
            "                      are written to DIR/samples and used.\n"
            "  --model FILE        without --config: the model (default %s from\n"
            "                      $VSR_MODELS_DIR, ./models, <prefix>/share/libvsr/models or the\n"
            "                      source tree's models/)\n"
            "  --iterations N      override the number of timed iterations (1..1000)\n"
            "  --warmup N          override the number of warm-up runs (0..100)\n"
            "  --plot-script PATH  plot_report.py (default: $VSR_BENCH_PLOT, then\n"
            "                      <prefix>/share/libvsr/plot_report.py, then ./bench/plot_report.py,\n"
            "                      then bench/plot_report.py of the source tree holding the build)\n"
            "  --python PATH       Python with matplotlib for the charts (default: $VSR_PYTHON,\n"
            "                      python3, /usr/bin/python3: the first that imports matplotlib)\n"
            "  --no-charts         write only report.json and report.csv\n"
            "  --check             validate the configuration, print the runs, run nothing\n"
            "  --recommend         print vsr_recommend_settings() for this machine (and --model)\n"
            "                      as JSON on stdout, and exit\n"
            "  -q, --quiet         no progress on stderr (errors are still printed)\n"
            "  -h, --help          this help\n"
            "      --version       library version and build\n"
            "\n"
            "Exit status: 0 all runs succeeded; 1 a run failed or the report could not be\n"
            "written; 2 bad command line or configuration (the message names the field).\n",
            DEFAULT_MODEL_FILE);
}

/* Everything a configuration owns (also what parse_config got to before
 * an error). */
static void free_config(bench_cfg *b)
{
    for (int i = 0; i < b->n_videos; i++) {
        free(b->videos[i].path);
        free(b->videos[i].file);
        free(b->videos[i].description);
        free(b->videos[i].reference);
        free(b->videos[i].reference_file);
    }
    for (int i = 0; i < b->n_models; i++) {
        free(b->models[i].path);
        free(b->models[i].file);
        free(b->models[i].name);
    }
    for (int i = 0; i < b->n_devices; i++)
        free(b->devices[i]);
    for (int i = 0; i < b->n_settings; i++) {
        free(b->settings[i].name);
        free(b->settings[i].device);
    }
    for (int i = 0; i < b->n_encoders; i++) {
        free(b->encoders[i].name);
        free(b->encoders[i].codec);
        free(b->encoders[i].preset);
        free(b->encoders[i].pix_fmt);
        free(b->encoders[i].options);
    }
    free(b->videos);
    free(b->models);
    free(b->precisions);
    free(b->devices);
    free(b->settings);
    free(b->encoders);
    free(b->source);
    free(b->name);
    memset(b, 0, sizeof(*b));
}

static void free_runner(runner *rn)
{
    for (int i = 0; i < rn->n_runs; i++) {
        free(rn->runs[i].error);
        free(rn->runs[i].vals);
        free(rn->runs[i].output_file);
    }
    free(rn->runs);
    free(rn->videos_dir);
    vsr_model_unref(&rn->model);
    free(rn->model_dev);
    free(rn->model_errmsg);
    memset(rn, 0, sizeof(*rn));
}

int main(int argc, char **argv)
{
    app_keep_large_blocks();
    const char *config = NULL, *outdir = NULL, *input = NULL, *model = NULL, *plot_script = NULL, *python = NULL;
    int check_only = 0, recommend = 0, no_charts = 0;
    int64_t iter_override = -1, warm_override = -1;
    char err[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        int takes = !strcmp(a, "--config") || !strcmp(a, "--output-dir") || !strcmp(a, "--input") ||
                    !strcmp(a, "--model") || !strcmp(a, "--plot-script") || !strcmp(a, "--python") ||
                    !strcmp(a, "--iterations") || !strcmp(a, "--warmup");
        if (takes) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vsr-bench: %s needs a value (see --help)\n", a);
                return EXIT_USAGE;
            }
            val = argv[++i];
        }
        if (!strcmp(a, "--config"))
            config = val;
        else if (!strcmp(a, "--output-dir"))
            outdir = val;
        else if (!strcmp(a, "--input"))
            input = val;
        else if (!strcmp(a, "--model"))
            model = val;
        else if (!strcmp(a, "--plot-script"))
            plot_script = val;
        else if (!strcmp(a, "--python"))
            python = val;
        else if (!strcmp(a, "--iterations") || !strcmp(a, "--warmup")) {
            int it = !strcmp(a, "--iterations");
            if (cli_parse_int(a, val, it ? 1 : 0, it ? 1000 : 100, NULL, it ? &iter_override : &warm_override, err,
                              sizeof(err)) < 0) {
                fprintf(stderr, "vsr-bench: %s\n", err);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--check"))
            check_only = 1;
        else if (!strcmp(a, "--recommend"))
            recommend = 1;
        else if (!strcmp(a, "--no-charts"))
            no_charts = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
            quiet = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("vsr-bench (libvsr %s)\n%s\n", vsr_version_string(), vsr_build_info());
            return 0;
        } else {
            fprintf(stderr, "vsr-bench: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
    }
    unsigned lib = vsr_version();
    if ((int)(lib >> 16) != VSR_API_VERSION_MAJOR || (int)((lib >> 8) & 0xff) < VSR_API_VERSION_MINOR) {
        fprintf(stderr, "vsr-bench: built for libvsr %d.%d but runs with %s\n", VSR_API_VERSION_MAJOR,
                VSR_API_VERSION_MINOR, vsr_version_string());
        return EXIT_RUN_FAILED;
    }
    vsr_log_set_level(quiet ? VSR_LOG_ERROR : VSR_LOG_WARNING);
    vsr_log_capture_ffmpeg(1);

    if (recommend) {
        if (model && !file_exists(model)) {
            fprintf(stderr, "vsr-bench: --model: file '%s' does not exist\n", model);
            return EXIT_USAGE;
        }
        recommendation_out ro;
        get_recommendation(model, &ro);
        if (!ro.ok) {
            fprintf(stderr, "vsr-bench: %s\n", ro.err);
            return EXIT_RUN_FAILED;
        }
        json_recommendation(stdout, &ro, "");
        fputc('\n', stdout);
        return 0;
    }
    if (!outdir && !check_only) {
        fprintf(stderr, "vsr-bench: --output-dir DIR is required (see --help)\n");
        return EXIT_USAGE;
    }
    if (config && (input || model)) {
        fprintf(stderr, "vsr-bench: --input and --model are for runs without --config; list videos and models "
                        "in the configuration instead\n");
        return EXIT_USAGE;
    }
    if (outdir && mkdir_p(outdir) < 0) {
        fprintf(stderr, "vsr-bench: cannot create output directory '%s': %s\n", outdir, strerror(errno));
        return EXIT_RUN_FAILED;
    }

    bench_cfg b;
    memset(&b, 0, sizeof(b));
    if (config ? parse_config(config, &b) < 0 : default_config(&b, input, model, outdir ? outdir : ".") < 0) {
        free_config(&b);
        return EXIT_USAGE;
    }
    if (iter_override > 0)
        b.iterations = (int)iter_override;
    if (warm_override >= 0)
        b.warmup = (int)warm_override;
    if (no_charts)
        b.charts = 0;

    if (check_only) {
        int n = 0;
        for (int si = 0; si < b.n_settings; si++) {
            int np = b.settings[si].has_precision ? 1 : b.n_precisions;
            int nd = b.settings[si].device ? 1 : b.n_devices;
            n += b.n_models * np * nd * b.n_videos * b.n_encoders;
        }
        printf("%s: valid; %d run(s) of %d warm-up + %d timed iteration(s)\n", b.source, n, b.warmup, b.iterations);
        free_config(&b);
        return 0;
    }

    runner rn;
    memset(&rn, 0, sizeof(rn));
    rn.b = &b;
    rn.outdir = outdir;
    rn.model_idx = -1;
    rn.videos_dir = xasprintf("%s/videos", outdir);
    if (mkdir_p(rn.videos_dir) < 0) {
        fprintf(stderr, "vsr-bench: cannot create '%s': %s\n", rn.videos_dir, strerror(errno));
        free_runner(&rn);
        free_config(&b);
        return EXIT_RUN_FAILED;
    }
    sys_desc sys;
    get_sys(&sys);
    recommendation_out rec;
    get_recommendation(NULL, &rec);

    run_all(&rn);
    if (!b.keep_videos)
        rmdir(rn.videos_dir); /* only when empty */

    char *json_path = xasprintf("%s/report.json", outdir);
    char *csv_path = xasprintf("%s/report.csv", outdir);
    int status = rn.failures ? EXIT_RUN_FAILED : 0;
    if (write_json(&rn, json_path, &sys, &rec) < 0 || write_csv(&rn, csv_path) < 0)
        status = EXIT_RUN_FAILED;
    else {
        progress("vsr-bench: wrote %s and %s\n", json_path, csv_path);
        if (b.charts && make_charts(plot_script, python, json_path, outdir) == -2)
            status = EXIT_RUN_FAILED;
    }
    if (rn.failures)
        fprintf(stderr, "vsr-bench: %d of %d run(s) failed (see \"error\" in %s)\n", rn.failures, rn.n_runs,
                json_path);
    free(json_path);
    free(csv_path);
    free_runner(&rn);
    free_config(&b);
    return status;
}
