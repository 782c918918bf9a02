/*
 * vsr-infer-bench: the inference floor of a model on this machine.
 *
 * Decodes a clip's frames into memory first (as RGBF32, through
 * vsr_frame_convert), then times only vsr_session_send_frame() /
 * vsr_session_receive_frame() over them: no decoding, no encoding, no
 * file I/O. Public API only.
 *
 * With --tracker ab, two sessions share one loaded model, one without a
 * tracker and one with a tracker at its defaults (sampler every 100 ms,
 * granularity "operation"); their repetitions alternate (ABBA order) in
 * the same process, and the slowdown is reported with the spread of the
 * repetitions, so the tracker's cost can be told from the noise.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvsr/vsr.h>
#include "heap.h"

enum { TRACKER_OFF = 0, TRACKER_ON = 1, TRACKER_AB = 2, TRACKER_MICRO = 3 };

typedef struct options {
    const char *model, *input;
    int64_t frames;         /* 0 = all */
    vsr_precision precision;
    int threads, batch, repeat, warmup;
    int tracker;
    int json;
    const char *stats_json;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vsr-infer-bench -m MODEL -i CLIP [options]\n"
            "\n"
            "Time only the model (vsr_session_send_frame/receive_frame) over a clip's\n"
            "frames, decoded into memory beforehand: the inference floor, without\n"
            "decoding or encoding.\n"
            "\n"
            "  -m, --model FILE     TorchScript model with a libvsr card\n"
            "  -i, --input CLIP     any video FFmpeg reads\n"
            "      --frames N       use the first N frames (default: all)\n"
            "      --precision P    auto (default), fp32, bf16, fp16\n"
            "      --threads N      inference threads (0 = one per core)\n"
            "      --batch N|auto   frames per forward pass (default auto)\n"
            "      --repeat R       timed passes over the frames (default 3)\n"
            "      --warmup N       frames run once before timing (default 2, 0 = none)\n"
            "      --tracker MODE   off (default): no tracker; on: tracker with default\n"
            "                       settings; ab: both, alternating repetitions (ABBA);\n"
            "                       micro: no model run, the tracker's own costs: CPU time\n"
            "                       per vsr_tracker_record() and per sampler tick (-m, -i\n"
            "                       not needed)\n"
            "      --json           print the result as JSON on stdout (text goes to stderr)\n"
            "      --stats-json F   export the tracker's statistics (with --tracker on/ab)\n"
            "  -h, --help           this text\n");
}

static int parse_int(const char *name, const char *s, int lo, int hi, int allow_auto, int *out)
{
    if (allow_auto && strcmp(s, "auto") == 0) {
        *out = VSR_AUTO;
        return 0;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "vsr-infer-bench: %s: '%s' is not a number in %d..%d%s\n", name, s, lo, hi,
                allow_auto ? " or auto" : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(options *o, int argc, char **argv)
{
    enum { O_FRAMES = 256, O_PRECISION, O_THREADS, O_BATCH, O_REPEAT, O_WARMUP, O_TRACKER, O_JSON, O_STATS };
    static const struct option lo[] = {
        {"model", required_argument, NULL, 'm'},    {"input", required_argument, NULL, 'i'},
        {"frames", required_argument, NULL, O_FRAMES}, {"precision", required_argument, NULL, O_PRECISION},
        {"threads", required_argument, NULL, O_THREADS}, {"batch", required_argument, NULL, O_BATCH},
        {"repeat", required_argument, NULL, O_REPEAT}, {"warmup", required_argument, NULL, O_WARMUP},
        {"tracker", required_argument, NULL, O_TRACKER}, {"json", no_argument, NULL, O_JSON},
        {"stats-json", required_argument, NULL, O_STATS},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->precision = VSR_PRECISION_AUTO;
    o->batch = VSR_AUTO;
    o->repeat = 3;
    o->warmup = 2;
    int c, v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:i:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'i': o->input = optarg; break;
        case O_FRAMES:
            if (parse_int("--frames", optarg, 1, 1000000, 0, &v) < 0)
                return -1;
            o->frames = v;
            break;
        case O_PRECISION: {
            static const char *const names[] = {"auto", "fp32", "bf16", "fp16"};
            int found = -1;
            for (int k = 0; k < 4; k++)
                if (strcmp(optarg, names[k]) == 0)
                    found = k;
            if (found < 0) {
                fprintf(stderr, "vsr-infer-bench: --precision: '%s' is not auto, fp32, bf16 or fp16\n", optarg);
                return -1;
            }
            o->precision = (vsr_precision)found;
            break;
        }
        case O_THREADS:
            if (parse_int("--threads", optarg, 0, 1024, 0, &o->threads) < 0)
                return -1;
            break;
        case O_BATCH:
            if (parse_int("--batch", optarg, 1, 256, 1, &o->batch) < 0)
                return -1;
            break;
        case O_REPEAT:
            if (parse_int("--repeat", optarg, 1, 10000, 0, &o->repeat) < 0)
                return -1;
            break;
        case O_WARMUP:
            if (parse_int("--warmup", optarg, 0, 1000000, 0, &o->warmup) < 0)
                return -1;
            break;
        case O_TRACKER:
            if (strcmp(optarg, "off") == 0)
                o->tracker = TRACKER_OFF;
            else if (strcmp(optarg, "on") == 0)
                o->tracker = TRACKER_ON;
            else if (strcmp(optarg, "ab") == 0)
                o->tracker = TRACKER_AB;
            else if (strcmp(optarg, "micro") == 0)
                o->tracker = TRACKER_MICRO;
            else {
                fprintf(stderr, "vsr-infer-bench: --tracker: '%s' is not off, on, ab or micro\n", optarg);
                return -1;
            }
            break;
        case O_JSON: o->json = 1; break;
        case O_STATS: o->stats_json = optarg; break;
        case 'h': usage(stdout); return 1;
        case ':': fprintf(stderr, "vsr-infer-bench: option %s needs a value\n", argv[optind - 1]); return -1;
        default: fprintf(stderr, "vsr-infer-bench: unknown option '%s' (see --help)\n", argv[optind - 1]); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vsr-infer-bench: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->tracker != TRACKER_MICRO && (!o->model || !o->input)) {
        fprintf(stderr, "vsr-infer-bench: -m MODEL and -i CLIP are required (see --help)\n");
        return -1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static const char *errtext(int err)
{
    const char *e = vsr_last_error();
    return e && e[0] ? e : vsr_strerror(err);
}

/* Decode up to max frames (0 = all) into RGBF32 frames. */
static int load_frames(const char *path, int64_t max, vsr_frame ***out, int64_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    vsr_input_settings is;
    vsr_input_settings_default(&is);
    is.max_frames = max;
    vsr_input *in = NULL;
    int err = vsr_input_open(&in, path, &is);
    if (err < 0) {
        fprintf(stderr, "vsr-infer-bench: %s\n", errtext(err));
        return err;
    }
    int64_t cap = 0, n = 0;
    vsr_frame **v = NULL;
    vsr_frame *f = NULL;
    while ((err = vsr_input_read_frame(in, &f)) == 0) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            vsr_frame **nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                err = VSR_ENOMEM;
                vsr_frame_unref(&f);
                break;
            }
            v = nv;
        }
        vsr_frame *rgb = NULL;
        err = vsr_frame_convert(&rgb, f, VSR_PIXFMT_RGBF32, vsr_frame_width(f), vsr_frame_height(f));
        vsr_frame_unref(&f);
        if (err < 0) {
            fprintf(stderr, "vsr-infer-bench: convert: %s\n", errtext(err));
            break;
        }
        v[n++] = rgb;
        if (max > 0 && n >= max)
            break;
    }
    vsr_input_close(&in);
    if (err == VSR_EOF || (err == 0 && n > 0))
        err = 0;
    if (err < 0 || n == 0) {
        if (err == 0) {
            fprintf(stderr, "vsr-infer-bench: '%s' has no frames\n", path);
            err = VSR_ERROR_INPUT;
        } else if (err != VSR_ENOMEM) {
            fprintf(stderr, "vsr-infer-bench: '%s': %s\n", path, errtext(err));
        }
        for (int64_t i = 0; i < n; i++)
            vsr_frame_unref(&v[i]);
        free(v);
        return err;
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* One pass over frames[0..n): send every frame, flush, receive everything.
 * Returns the number of frames received, or a negative error. */
static int64_t run_pass(vsr_session *ses, vsr_frame **frames, int64_t n)
{
    int64_t got = 0;
    vsr_frame *g = NULL;
    int err;
    for (int64_t i = 0; i < n; i++) {
        while ((err = vsr_session_send_frame(ses, frames[i])) == VSR_EAGAIN) {
            while ((err = vsr_session_receive_frame(ses, &g)) == 0) {
                vsr_frame_unref(&g);
                got++;
            }
            if (err != VSR_EAGAIN && err != VSR_EOF)
                return err;
        }
        if (err < 0)
            return err;
        while ((err = vsr_session_receive_frame(ses, &g)) == 0) {
            vsr_frame_unref(&g);
            got++;
        }
        if (err != VSR_EAGAIN)
            return err < 0 ? err : VSR_EINVAL;
    }
    if ((err = vsr_session_send_frame(ses, NULL)) < 0)
        return err;
    while ((err = vsr_session_receive_frame(ses, &g)) == 0) {
        vsr_frame_unref(&g);
        got++;
    }
    if (err != VSR_EOF)
        return err < 0 ? err : VSR_EINVAL;
    vsr_session_reset(ses);
    return got;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct series {
    const char *name;
    vsr_session *ses;
    vsr_tracker *tracker;
    double *sec;
    double *cpu;
    int n;
} series;

typedef struct summary {
    double median_s, min_s, max_s, mean_s, spread_pct; /* spread: (max - min) / median */
} summary;

static summary summarise(const series *s)
{
    summary r = {0};
    if (s->n == 0)
        return r;
    double *t = malloc(s->n * sizeof(*t));
    if (!t)
        return r;
    memcpy(t, s->sec, s->n * sizeof(*t));
    qsort(t, s->n, sizeof(*t), cmp_double);
    r.min_s = t[0];
    r.max_s = t[s->n - 1];
    r.median_s = s->n % 2 ? t[s->n / 2] : 0.5 * (t[s->n / 2 - 1] + t[s->n / 2]);
    for (int i = 0; i < s->n; i++)
        r.mean_s += t[i] / s->n;
    r.spread_pct = r.median_s > 0 ? 100.0 * (r.max_s - r.min_s) / r.median_s : 0;
    free(t);
    return r;
}

static void print_series_json(const series *s, int64_t frames, int last)
{
    summary m = summarise(s);
    printf("    \"%s\": {\"seconds\": [", s->name);
    for (int i = 0; i < s->n; i++)
        printf("%s%.6f", i ? ", " : "", s->sec[i]);
    printf("], \"fps\": [");
    for (int i = 0; i < s->n; i++)
        printf("%s%.4f", i ? ", " : "", frames / s->sec[i]);
    printf("], \"cpu_seconds\": [");
    for (int i = 0; i < s->n; i++)
        printf("%s%.6f", i ? ", " : "", s->cpu[i]);
    printf("],\n      \"median_s\": %.6f, \"min_s\": %.6f, \"max_s\": %.6f, \"spread_pct\": %.3f, "
           "\"fps_median\": %.4f, \"fps_best\": %.4f}%s\n",
           m.median_s, m.min_s, m.max_s, m.spread_pct, frames / m.median_s, frames / m.min_s, last ? "" : ",");
}

/* The tracker's own costs, without a model: CPU time per vsr_tracker_record()
 * (a record like the session's per-pass ones, history full so the oldest is
 * dropped each time) and per tick of the resource sampler (an idle process
 * with and without a sampler thread). Best of several rounds. */
static int tracker_micro(const options *o)
{
    FILE *txt = o->json ? stderr : stdout;
    vsr_tracker_settings ts;
    vsr_tracker_settings_default(&ts);
    ts.sampler_interval_ms = 0;
    vsr_tracker *t = NULL;
    int err = vsr_tracker_open(&t, &ts);
    if (err < 0) {
        fprintf(stderr, "vsr-infer-bench: %s\n", errtext(err));
        return 1;
    }
    vsr_op_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.size = sizeof(rec);
    rec.type = VSR_OP_INFERENCE;
    rec.strategy = "realesr-animevideov3-x2";
    rec.run_id = 1;
    rec.frames = rec.chunks = rec.tiles = 1;
    rec.in_width = 320, rec.in_height = 180, rec.out_width = 640, rec.out_height = 360, rec.scale = 2;
    rec.precision = "fp32";
    rec.device = "cpu";
    rec.success = 1;
    static const char *const stage_names[] = {VSR_OP_DECODE, VSR_OP_PREPROCESS, VSR_OP_UPLOAD, VSR_OP_INFERENCE,
                                              VSR_OP_DOWNLOAD, VSR_OP_POSTPROCESS, VSR_OP_ENCODE};
    rec.quality = NAN;
    rec.peak_rss_bytes = rec.peak_device_bytes = -1;
    const int per_round = 20000, rounds = 7;
    double best_rec = 1e9;
    for (int r = 0; r < rounds; r++) {
        double c0 = cpu_s();
        for (int i = 0; i < per_round; i++) {
            rec.start_ns = i * 1000;
            rec.end_ns = rec.start_ns + 500 + i % 97;
            rec.duration_ns = rec.end_ns - rec.start_ns;
            rec.type = stage_names[i % 7];
            vsr_tracker_record(t, &rec);
        }
        double per = (cpu_s() - c0) / per_round;
        if (per < best_rec)
            best_rec = per;
    }
    /* a caller's operation: begin, two updates, end (a resource reading at
     * begin and at end, as without a sampler) */
    double best_op = 1e9;
    for (int r = 0; r < rounds; r++) {
        double c0 = cpu_s();
        for (int i = 0; i < per_round / 10; i++) {
            vsr_op *op = NULL;
            if (vsr_op_begin(t, "enhancement", "vsrm", &op) < 0)
                break;
            vsr_op_set_frames(op, 1);
            vsr_op_set_resolution(op, 320, 180, 640, 360);
            vsr_op_end(&op, 0, NULL);
        }
        double per = (cpu_s() - c0) / (per_round / 10);
        if (per < best_op)
            best_op = per;
    }
    vsr_tracker_unref(&t);

    /* sampler: CPU of an idle process over the same wall time, with and without */
    const double span = 2.0;
    double best_tick = 1e9;
    int64_t ticks = 0;
    for (int r = 0; r < 3; r++) {
        double c0 = cpu_s();
        sleep_s(span);
        double idle = cpu_s() - c0;
        vsr_tracker_settings_default(&ts); /* sampler at its default interval */
        if ((err = vsr_tracker_open(&t, &ts)) < 0) {
            fprintf(stderr, "vsr-infer-bench: %s\n", errtext(err));
            return 1;
        }
        c0 = cpu_s();
        sleep_s(span);
        double busy = cpu_s() - c0;
        vsr_resource_stats rs = {.size = sizeof(rs)};
        vsr_tracker_get_resources(t, &rs);
        vsr_tracker_unref(&t);
        ticks = rs.samples > 0 ? rs.samples : (int64_t)(span * 1000 / ts.sampler_interval_ms);
        double per = (busy - idle) / (double)ticks;
        if (per < best_tick)
            best_tick = per;
    }
    if (best_tick < 0)
        best_tick = 0;
    double share = best_tick * 1000.0 / ts.sampler_interval_ms;
    fprintf(txt, "vsr_tracker_record: %.2f us CPU per record (best of %d rounds of %d)\n", best_rec * 1e6, rounds,
            per_round);
    fprintf(txt, "vsr_op_begin..vsr_op_end: %.2f us CPU per caller operation (best of %d rounds of %d)\n",
            best_op * 1e6, rounds, per_round / 10);
    fprintf(txt, "sampler: %.1f us CPU per tick every %d ms = %.4f%% of one core\n", best_tick * 1e6,
            ts.sampler_interval_ms, 100 * share);
    if (o->json)
        printf("{\"record_cpu_us\": %.4f, \"op_cpu_us\": %.3f, \"sampler_tick_cpu_us\": %.3f, "
               "\"sampler_interval_ms\": %d, \"sampler_core_share_pct\": %.5f, \"sampler_ticks\": %lld}\n",
               best_rec * 1e6, best_op * 1e6, best_tick * 1e6, ts.sampler_interval_ms, 100 * share, (long long)ticks);
    return 0;
}

int main(int argc, char **argv)
{
    app_keep_large_blocks();
    options o;
    int r = parse_args(&o, argc, argv);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (o.tracker == TRACKER_MICRO)
        return tracker_micro(&o);
    FILE *txt = o.json ? stderr : stdout;

    vsr_frame **frames = NULL;
    int64_t n = 0;
    int err = load_frames(o.input, o.frames, &frames, &n);
    if (err < 0)
        return 1;
    int w = vsr_frame_width(frames[0]), h = vsr_frame_height(frames[0]);
    fprintf(txt, "vsr-infer-bench: %lld frames of %dx%d decoded into memory (RGBF32)\n", (long long)n, w, h);

    int ret = 1;
    vsr_model *model = NULL;
    series ser[2];
    memset(ser, 0, sizeof(ser));
    int n_ser = o.tracker == TRACKER_AB ? 2 : 1;

    vsr_process_settings ps;
    vsr_process_settings_default(&ps);
    ps.threads = o.threads;
    if ((err = vsr_process_configure(&ps)) < 0) {
        fprintf(stderr, "vsr-infer-bench: %s\n", errtext(err));
        goto done;
    }
    vsr_model_settings ms;
    vsr_model_settings_default(&ms);
    ms.path = o.model;
    ms.precision = o.precision;
    double t_load = now_s();
    err = vsr_model_open(&model, &ms);
    t_load = now_s() - t_load;
    if (err < 0) {
        fprintf(stderr, "vsr-infer-bench: %s\n", errtext(err));
        goto done;
    }
    for (int k = 0; k < n_ser; k++) {
        series *s = &ser[k];
        int with_tracker = o.tracker == TRACKER_ON || (o.tracker == TRACKER_AB && k == 1);
        s->name = o.tracker == TRACKER_AB ? (k ? "tracker_on" : "tracker_off") : with_tracker ? "tracker_on" : "run";
        s->sec = calloc(o.repeat, sizeof(double));
        s->cpu = calloc(o.repeat, sizeof(double));
        if (!s->sec || !s->cpu)
            goto done;
        if (with_tracker) {
            vsr_tracker_settings ts;
            vsr_tracker_settings_default(&ts); /* sampler 100 ms, granularity operation */
            if ((err = vsr_tracker_open(&s->tracker, &ts)) < 0) {
                fprintf(stderr, "vsr-infer-bench: %s\n", errtext(err));
                goto done;
            }
        }
        vsr_session_settings si;
        vsr_session_settings_default(&si);
        si.model = model;
        si.batch = o.batch;
        si.tracker = s->tracker;
        if ((err = vsr_session_open(&s->ses, &si)) < 0) {
            fprintf(stderr, "vsr-infer-bench: %s\n", errtext(err));
            goto done;
        }
    }

    vsr_session_info info = {.size = sizeof(info)};
    vsr_session_get_info(ser[0].ses, &info);
    vsr_model_card card = {.size = sizeof(card)};
    vsr_session_get_card(ser[0].ses, &card);
    fprintf(txt, "vsr-infer-bench: model %s (x%d, %s), device %s, precision %s, threads %d, batch %d, "
                 "loaded in %.2f s\n",
            card.name, card.scale, card.layout == VSR_LAYOUT_NTCHW ? "NTCHW" : "NCHW", info.device,
            vsr_precision_name(info.precision), info.threads, info.batch, t_load);

    /* Warm-up: the first passes at a new size build kernels and plans. */
    if (o.warmup > 0) {
        int64_t wn = o.warmup < n ? o.warmup : n;
        for (int k = 0; k < n_ser; k++) {
            int64_t got = run_pass(ser[k].ses, frames, wn);
            if (got < 0) {
                fprintf(stderr, "vsr-infer-bench: warm-up: %s\n", errtext((int)got));
                goto done;
            }
        }
    }

    for (int rep = 0; rep < o.repeat; rep++) {
        for (int j = 0; j < n_ser; j++) {
            /* ABBA: A B, B A, A B, ... so a drift in the machine's speed hits both alike */
            int k = n_ser == 2 && rep % 2 ? 1 - j : j;
            series *s = &ser[k];
            double c0 = cpu_s(), t0 = now_s();
            int64_t got = run_pass(s->ses, frames, n);
            double dt = now_s() - t0, dc = cpu_s() - c0;
            if (got < 0) {
                fprintf(stderr, "vsr-infer-bench: %s\n", errtext((int)got));
                goto done;
            }
            if (got != n) {
                fprintf(stderr, "vsr-infer-bench: sent %lld frames but received %lld\n", (long long)n,
                        (long long)got);
                goto done;
            }
            s->cpu[s->n] = dc;
            s->sec[s->n++] = dt;
            fprintf(txt, "  rep %d %-11s %8.3f s  %9.3f fps  (CPU %.3f s)\n", rep + 1, s->name, dt, n / dt, dc);
        }
    }

    for (int k = 0; k < n_ser; k++) {
        summary m = summarise(&ser[k]);
        fprintf(txt, "%s: median %.3f fps, best %.3f fps, spread %.1f%% over %d repetitions\n", ser[k].name,
                n / m.median_s, n / m.min_s, m.spread_pct, ser[k].n);
    }
    double slow_med = 0, slow_min = 0;
    if (n_ser == 2) {
        summary a = summarise(&ser[0]), b = summarise(&ser[1]);
        slow_med = 100.0 * (b.median_s / a.median_s - 1);
        slow_min = 100.0 * (b.min_s / a.min_s - 1);
        fprintf(txt, "tracker slowdown: %+.2f%% (medians), %+.2f%% (best); noise: spread %.1f%% off, %.1f%% on\n",
                slow_med, slow_min, a.spread_pct, b.spread_pct);
    }

    if (o.json) {
        printf("{\n  \"model\": \"%s\", \"frames\": %lld, \"width\": %d, \"height\": %d, \"scale\": %d,\n", card.name,
               (long long)n, w, h, card.scale);
        printf("  \"device\": \"%s\", \"precision\": \"%s\", \"threads\": %d, \"batch\": %d, \"load_s\": %.4f,\n",
               info.device, vsr_precision_name(info.precision), info.threads, info.batch, t_load);
        summary m0 = summarise(&ser[0]);
        printf("  \"fps_median\": %.4f, \"fps_best\": %.4f,\n", n / m0.median_s, n / m0.min_s);
        if (n_ser == 2)
            printf("  \"tracker_slowdown_pct_median\": %.4f, \"tracker_slowdown_pct_best\": %.4f,\n", slow_med,
                   slow_min);
        printf("  \"series\": {\n");
        for (int k = 0; k < n_ser; k++)
            print_series_json(&ser[k], n, k == n_ser - 1);
        printf("  }\n}\n");
    }
    ret = 0;
    for (int k = 0; k < n_ser; k++) {
        if (o.stats_json && ser[k].tracker && vsr_tracker_export(ser[k].tracker, VSR_EXPORT_JSON, o.stats_json) < 0) {
            fprintf(stderr, "vsr-infer-bench: %s\n", errtext(-1));
            ret = 1;
        }
    }

done:
    for (int k = 0; k < 2; k++) {
        vsr_session_close(&ser[k].ses);
        vsr_tracker_unref(&ser[k].tracker);
        free(ser[k].sec);
        free(ser[k].cpu);
    }
    vsr_model_unref(&model);
    for (int64_t i = 0; i < n; i++)
        vsr_frame_unref(&frames[i]);
    free(frames);
    return ret;
}
