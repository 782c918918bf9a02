/*
 * vsr_model (lib/model.c, lib/modelcard.c, the shim): loading the test
 * models (tools/make_test_models.py) and the real one.
 *  - every model's card fields are read as make_test_models.py wrote them;
 *  - wrong-shape-x2.pt (card x2, network x3) is refused at load with
 *    VSR_ERROR_MODEL_RUN and a message naming the input, promised and
 *    returned shapes;
 *  - broken cards, no card, a missing file and a text file named .pt are
 *    VSR_ERROR_MODEL with a message saying what is wrong;
 *  - devices: "cuda"/"cuda:1" -> VSR_ERROR_DEVICE "no CUDA device" (this
 *    machine has none), "tpu" -> VSR_EINVAL, "auto" -> the CPU;
 *  - precision: fp16 on the CPU loads as fp32 with one logged notice; auto
 *    on a CPU without avx512_bf16/amx_bf16 is fp32 (decided from
 *    /proc/cpuinfo here); bf16 runs and stays close to fp32;
 *  - loading a model leaves the process's peak-RSS mark (VmHWM) alone: a
 *    512 MB peak made (and freed) before the load is still the mark after
 *    it (libvsr once reset it through /proc/self/clear_refs to measure);
 *  - process settings (threads, TF32, cuDNN benchmark) are set and read
 *    process-wide; a session opened before a configure reports the thread
 *    count in force (not a copy from its model's load);
 *  - one loaded model shared by two sessions gives the same output as a
 *    session with its own model; unloading the caller's reference while
 *    sessions are open keeps the model usable for them.
 */
#include <math.h>
#include <sched.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>

#include "libvsr/vsr.h"
#include "testutil.h"
#include "testvsr.h"

static char tmpdir[256];

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- helpers ---- */

static int load(vsr_model **m, const char *path, const char *device, vsr_precision p)
{
    vsr_model_settings s;
    vsr_model_settings_default(&s);
    s.path = path;
    s.device = device;
    s.precision = p;
    return vsr_model_open(m, &s);
}

static vsr_frame *pattern_frame(int w, int h, int seed)
{
    vsr_frame *f = NULL;
    if (vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, w, h) < 0)
        return NULL;
    float *d = (float *)vsr_frame_data(f, 0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                d[((size_t)c * h + y) * w + x] =
                    0.5f + 0.4f * sinf(0.37f * x + 0.23f * y + 1.3f * c + 0.5f * seed) * cosf(0.11f * (x - y) + seed);
    vsr_frame_set_pts(f, seed);
    vsr_frame_set_time_base(f, (vsr_rational){1, 25});
    return f;
}

/* Run n frames through a session; returns the output frames (caller frees). */
static int run_frames(vsr_session *ses, int n, int w, int h, vsr_frame **outs)
{
    int got = 0;
    for (int i = 0; i <= n; i++) {
        vsr_frame *f = i < n ? pattern_frame(w, h, i) : NULL;
        int err;
        while ((err = vsr_session_send_frame(ses, f)) == VSR_EAGAIN) {
            vsr_frame *o = NULL;
            if (vsr_session_receive_frame(ses, &o) == 0 && got < n)
                outs[got++] = o;
            else
                vsr_frame_unref(&o);
        }
        vsr_frame_unref(&f);
        if (err < 0) {
            fprintf(stderr, "send: %s\n", vsr_last_error());
            return -1;
        }
        vsr_frame *o = NULL;
        while ((err = vsr_session_receive_frame(ses, &o)) == 0) {
            if (got < n)
                outs[got++] = o;
            else
                vsr_frame_unref(&o);
        }
        if (err != VSR_EAGAIN && err != VSR_EOF) {
            fprintf(stderr, "receive: %s\n", vsr_last_error());
            return -1;
        }
    }
    vsr_session_reset(ses);
    return got;
}

static double max_abs_diff(const vsr_frame *a, const vsr_frame *b)
{
    if (!a || !b || vsr_frame_width(a) != vsr_frame_width(b) || vsr_frame_height(a) != vsr_frame_height(b))
        return INFINITY;
    size_t n = (size_t)3 * vsr_frame_width(a) * vsr_frame_height(a);
    const float *x = (const float *)vsr_frame_data(a, 0), *y = (const float *)vsr_frame_data(b, 0);
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)x[i] - y[i]) > m)
            m = fabs((double)x[i] - y[i]);
    return m;
}

/* ---- cards ---- */

static void test_cards(void)
{
    static const struct {
        const char *file;
        const char *name;
        int frames_in, center_only;
        vsr_layout layout;
        int rf_spatial, rf_temporal, size_multiple;
        const char *license;
    } cases[] = {
        {"tiny-x2.pt", "tiny-x2", 1, 0, VSR_LAYOUT_NCHW, 1, 0, 1, "CC0-1.0"},
        {"spatial-rf4-x2.pt", "spatial-rf4-x2", 1, 0, VSR_LAYOUT_NCHW, 4, 0, 1, "CC0-1.0"},
        {"temporal-r2-x2.pt", "temporal-r2-x2", 0, 0, VSR_LAYOUT_NTCHW, 2, 2, 1, "CC0-1.0"},
        {"window5-center-x2.pt", "window5-center-x2", 5, 1, VSR_LAYOUT_NTCHW, 1, 2, 1, "CC0-1.0"},
        {"throws-after-3.pt", "throws-after-3", 1, 0, VSR_LAYOUT_NCHW, 1, 0, 1, "CC0-1.0"},
        {"multiple4-x2.pt", "multiple4-x2", 1, 0, VSR_LAYOUT_NCHW, 4, 0, 4, "CC0-1.0"},
        {NULL, "realesr-animevideov3-x2", 1, 0, VSR_LAYOUT_NCHW, 19, 0, 1, "BSD-3-Clause"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = cases[i].file ? test_model(cases[i].file) : test_real_model();
        vsr_model *m = NULL;
        int err = load(&m, path, "cpu", VSR_PRECISION_FP32);
        CHECK_MSG(err == 0 && m, "load %s: %s", path, vsr_last_error());
        if (!m)
            continue;
        vsr_model_card c;
        memset(&c, 0xEE, sizeof(c));
        c.size = sizeof(c);
        CHECK(vsr_model_get_card(m, &c) == 0);
        CHECK_EQ_INT(c.size, sizeof(c));
        CHECK_MSG(!strcmp(c.name, cases[i].name), "%s: name '%s'", path, c.name);
        CHECK_EQ_INT(c.scale, 2);
        CHECK_MSG(c.frames_in == cases[i].frames_in && c.center_only == cases[i].center_only &&
                      c.layout == cases[i].layout,
                  "%s: frames_in %d center_only %d layout %d", cases[i].name, c.frames_in, c.center_only, c.layout);
        CHECK_MSG(c.range_min == 0.0f && c.range_max == 1.0f, "%s: range %g..%g", cases[i].name, c.range_min,
                  c.range_max);
        CHECK_MSG(c.rf_spatial == cases[i].rf_spatial && c.rf_temporal == cases[i].rf_temporal &&
                      c.size_multiple == cases[i].size_multiple,
                  "%s: rf %d/%d multiple %d", cases[i].name, c.rf_spatial, c.rf_temporal, c.size_multiple);
        CHECK_MSG(!strcmp(c.license, cases[i].license), "%s: license '%s'", cases[i].name, c.license);
        CHECK_EQ_INT(c.global_pool, 0);
        fprintf(stderr, "  %-24s x%d frames_in %d%s %s rf %d/%d multiple %d %s\n", c.name, c.scale, c.frames_in,
                c.center_only ? " (centre)" : "", c.layout == VSR_LAYOUT_NCHW ? "NCHW" : "NTCHW", c.rf_spatial,
                c.rf_temporal, c.size_multiple, c.license);
        /* a session on it reports the same card */
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        s.model = m;
        vsr_session *ses = NULL;
        CHECK_MSG(vsr_session_open(&ses, &s) == 0, "%s", vsr_last_error());
        vsr_model_card c2 = {.size = sizeof(c2)};
        CHECK(ses && vsr_session_get_card(ses, &c2) == 0 && !memcmp(&c, &c2, sizeof(c)));
        vsr_session_close(&ses);
        vsr_model_unref(&m);
        CHECK(m == NULL);
    }
}

static void test_wrong_shape(void)
{
    vsr_model *m = NULL;
    int err = load(&m, test_model("wrong-shape-x2.pt"), "cpu", VSR_PRECISION_FP32);
    const char *msg = vsr_last_error();
    fprintf(stderr, "  wrong-shape-x2.pt -> %s: %s\n", vsr_strerror(err), msg);
    CHECK_MSG(err == VSR_ERROR_MODEL_RUN && !m, "wrong-shape: got %s", vsr_strerror(err));
    /* input 1x3x64x64: the card promises 1x3x128x128, the network returns 1x3x192x192 */
    CHECK_MSG(strstr(msg, "1x3x128x128") && strstr(msg, "1x3x192x192") && strstr(msg, "1x3x64x64"),
              "message does not name the shapes: %s", msg);
    CHECK(strstr(msg, "wrong-shape-x2") != NULL);
    vsr_model_unref(&m);
}

static void test_bad_models(void)
{
    char text_pt[600], dir_pt[600];
    snprintf(text_pt, sizeof(text_pt), "%s/notes.pt", tmpdir);
    FILE *f = fopen(text_pt, "w");
    fputs("These are notes, not a TorchScript archive.\n", f);
    fclose(f);
    snprintf(dir_pt, sizeof(dir_pt), "%s/missing-model.pt", tmpdir);
    const struct {
        const char *path;
        const char *needle1, *needle2; /* what the message must say */
    } cases[] = {
        {test_model("bad-card.pt"), "bad-card.pt", "JSON"},
        {test_model("no-card.pt"), "no-card.pt", "no model card"},
        {test_model("card-bad-scale.pt"), "card-bad-scale.pt", "'scale'"},
        {dir_pt, "missing-model.pt", NULL},
        {text_pt, "notes.pt", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vsr_model *m = (vsr_model *)(uintptr_t)1;
        int err = load(&m, cases[i].path, "cpu", VSR_PRECISION_FP32);
        const char *msg = vsr_last_error();
        fprintf(stderr, "  %-20s -> %s: %s\n", strrchr(cases[i].path, '/') + 1, vsr_strerror(err), msg);
        CHECK_MSG(err == VSR_ERROR_MODEL, "%s: got %s", cases[i].path, vsr_strerror(err));
        CHECK(m == NULL);
        CHECK_MSG(strstr(msg, cases[i].needle1), "%s: message: %s", cases[i].path, msg);
        if (cases[i].needle2)
            CHECK_MSG(strstr(msg, cases[i].needle2), "%s: message: %s", cases[i].path, msg);
        /* a message longer than a bare error code */
        CHECK(strlen(msg) > strlen(cases[i].path) + 10);
    }
    /* the missing file says so */
    load(&(vsr_model *){NULL}, dir_pt, "cpu", VSR_PRECISION_FP32);
    const char *msg = vsr_last_error();
    CHECK_MSG(strstr(msg, "No such file") || strstr(msg, "no such file") || strstr(msg, "not found") ||
                  strstr(msg, "does not exist") || strstr(msg, "cannot open") || strstr(msg, "open file failed"),
              "missing model: %s", msg);
    remove(text_pt);

    /* settings errors */
    vsr_model *m = NULL;
    CHECK(vsr_model_open(&m, NULL) == VSR_EINVAL && !m);
    CHECK(load(&m, NULL, "cpu", VSR_PRECISION_FP32) == VSR_EINVAL && !m);
    CHECK(load(&m, "", "cpu", VSR_PRECISION_FP32) == VSR_EINVAL && !m);
    CHECK(load(&m, test_model("tiny-x2.pt"), "cpu", (vsr_precision)7) == VSR_EINVAL && !m);
    vsr_model_settings ms;
    vsr_model_settings_default(&ms);
    ms.path = test_model("tiny-x2.pt");
    ms.cuda_graph = 2;
    CHECK(vsr_model_open(&m, &ms) == VSR_EINVAL && !m);
    /* a session needs a model */
    vsr_session_settings ss;
    vsr_session_settings_default(&ss);
    vsr_session *ses = NULL;
    CHECK(vsr_session_open(&ses, &ss) == VSR_EINVAL && !ses && strstr(vsr_last_error(), "model"));
}

static void test_devices(void)
{
    const char *tiny = test_model("tiny-x2.pt");
    const char *cuda[] = {"cuda", "cuda:1", "cuda:0"};
    for (size_t i = 0; i < 3; i++) {
        for (int p = 0; p < 2; p++) {
            vsr_model *m = NULL;
            int err = load(&m, tiny, cuda[i], p ? VSR_PRECISION_FP32 : VSR_PRECISION_AUTO);
            const char *msg = vsr_last_error();
            if (!p)
                fprintf(stderr, "  device %-7s -> %s: %s\n", cuda[i], vsr_strerror(err), msg);
            CHECK_MSG(err == VSR_ERROR_DEVICE && !m, "device %s: got %s", cuda[i], vsr_strerror(err));
            CHECK_MSG(strstr(msg, "no CUDA device") && strstr(msg, cuda[i]), "device %s: message %s", cuda[i], msg);
            vsr_model_unref(&m);
        }
    }
    const char *bad[] = {"tpu", "cuda:x", "CPU0", "cuda:-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vsr_model *m = NULL;
        int err = load(&m, tiny, bad[i], VSR_PRECISION_FP32);
        CHECK_MSG(err == VSR_EINVAL && !m, "device %s: got %s (%s)", bad[i], vsr_strerror(err), vsr_last_error());
        CHECK_MSG(strstr(vsr_last_error(), bad[i]), "device %s: message %s", bad[i], vsr_last_error());
    }
    /* "auto" without a GPU: the CPU (and fp32 for auto precision) */
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    vsr_session *ses = NULL;
    CHECK_MSG(test_open_session(&ses, &s, tiny, "auto", VSR_PRECISION_AUTO) == 0, "auto device: %s", vsr_last_error());
    vsr_session_info info = {.size = sizeof(info)};
    CHECK(ses && vsr_session_get_info(ses, &info) == 0);
    CHECK_MSG(!strcmp(info.device, "cpu") && info.precision == VSR_PRECISION_FP32, "auto: %s %s", info.device,
              vsr_precision_name(info.precision));
    vsr_session_close(&ses);
}

static int cpu_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "flags", 5))
            continue;
        for (char *tok = strtok(line, " \t\n:"); tok; tok = strtok(NULL, " \t\n:"))
            if (!strcmp(tok, flag))
                found = 1;
    }
    fclose(f);
    return found;
}

static void test_precision(void)
{
    const char *tiny = test_model("tiny-x2.pt");
    /* fp16 on the CPU: fp32, with one notice */
    test_log_clear();
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    vsr_session *ses = NULL;
    CHECK_MSG(test_open_session(&ses, &s, tiny, NULL, VSR_PRECISION_FP16) == 0, "fp16 on cpu: %s", vsr_last_error());
    vsr_session_info info = {.size = sizeof(info)};
    CHECK(ses && vsr_session_get_info(ses, &info) == 0);
    CHECK_MSG(info.precision == VSR_PRECISION_FP32, "fp16 on cpu runs as %s", vsr_precision_name(info.precision));
    fprintf(stderr, "  fp16 on the CPU -> %s; log:\n%s", vsr_precision_name(info.precision), test_log);
    CHECK_MSG(count_substr(test_log, "fp16") == 1 && strstr(test_log, "fp32"), "expected one fp16 notice, log: %s", test_log);
    vsr_frame *outs_fp16[2] = {0};
    CHECK(ses && run_frames(ses, 2, 24, 16, outs_fp16) == 2);
    vsr_session_close(&ses);

    /* auto: bf16 only on CPUs that run it fast */
    int bf16_hw = cpu_has_flag("avx512_bf16") || cpu_has_flag("amx_bf16");
    test_log_clear();
    CHECK_MSG(test_open_session(&ses, &s, tiny, NULL, VSR_PRECISION_AUTO) == 0, "auto: %s", vsr_last_error());
    CHECK(ses && vsr_session_get_info(ses, &info) == 0);
    fprintf(stderr, "  auto precision (avx512_bf16/amx_bf16: %s) -> %s\n", bf16_hw ? "yes" : "no",
            vsr_precision_name(info.precision));
    if (bf16_hw)
        CHECK(info.precision == VSR_PRECISION_FP32 || info.precision == VSR_PRECISION_BF16);
    else
        CHECK_MSG(info.precision == VSR_PRECISION_FP32, "auto precision on this CPU: %s",
                  vsr_precision_name(info.precision));
    CHECK_MSG(!strstr(test_log, "fp16"), "auto logged an fp16 notice: %s", test_log);
    vsr_frame *outs_auto[2] = {0};
    CHECK(ses && run_frames(ses, 2, 24, 16, outs_auto) == 2);
    vsr_session_close(&ses);
    /* fp16-that-is-fp32 computes exactly what fp32 does */
    for (int i = 0; i < 2; i++) {
        if (!bf16_hw)
            CHECK_MSG(max_abs_diff(outs_fp16[i], outs_auto[i]) == 0.0, "fp16-on-cpu differs from fp32 by %g",
                      max_abs_diff(outs_fp16[i], outs_auto[i]));
        vsr_frame_unref(&outs_fp16[i]);
        vsr_frame_unref(&outs_auto[i]);
    }

    /* explicit bf16: runs, reports bf16, and stays close to fp32 */
    vsr_frame *o32[2] = {0}, *o16[2] = {0};
    CHECK(test_open_session(&ses, &s, tiny, NULL, VSR_PRECISION_FP32) == 0);
    CHECK(ses && run_frames(ses, 2, 24, 16, o32) == 2);
    vsr_session_close(&ses);
    int err = test_open_session(&ses, &s, tiny, NULL, VSR_PRECISION_BF16);
    CHECK_MSG(err == 0, "bf16: %s", vsr_last_error());
    if (ses) {
        CHECK(vsr_session_get_info(ses, &info) == 0 && info.precision == VSR_PRECISION_BF16);
        CHECK(run_frames(ses, 2, 24, 16, o16) == 2);
        for (int i = 0; i < 2; i++) {
            double d = max_abs_diff(o32[i], o16[i]);
            fprintf(stderr, "  bf16 vs fp32 frame %d: max abs %.4f\n", i, d);
            CHECK_MSG(d < 0.05 && d > 0, "bf16 vs fp32: max abs %g", d);
        }
    }
    for (int i = 0; i < 2; i++) {
        vsr_frame_unref(&o32[i]);
        vsr_frame_unref(&o16[i]);
    }
    vsr_session_close(&ses);
}

/* A field of /proc/self/status in bytes (VmHWM, VmRSS), -1 if missing. */
static int64_t proc_status_bytes(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    int64_t v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = strtoll(line + n + 1, NULL, 10) * 1024;
    fclose(f);
    return v;
}

static void test_load_keeps_peak_rss(void)
{
    /* the host's own peak: 512 MB touched, then given back */
    size_t big = (size_t)512 << 20;
    char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    if (p == MAP_FAILED)
        return;
    for (size_t i = 0; i < big; i += 4096)
        p[i] = 1;
    munmap(p, big);
    int64_t hwm0 = proc_status_bytes("VmHWM"), rss = proc_status_bytes("VmRSS");
    CHECK_MSG(hwm0 > 0 && hwm0 >= rss + ((int64_t)400 << 20), "VmHWM %lld, VmRSS %lld: the peak did not register",
              (long long)hwm0, (long long)rss);
    vsr_model *m = NULL;
    CHECK(load(&m, test_model("spatial-rf4-x2.pt"), "cpu", VSR_PRECISION_AUTO) == 0);
    vsr_model_info mi = {.size = sizeof(mi)};
    CHECK(m && vsr_model_get_info(m, &mi) == 0 && mi.bytes_per_pixel > 0);
    vsr_model_unref(&m);
    int64_t hwm1 = proc_status_bytes("VmHWM");
    fprintf(stderr, "  VmHWM before the load %lld MB, after %lld MB (RSS %lld MB); measured %.0f bytes/pixel\n",
            (long long)(hwm0 >> 20), (long long)(hwm1 >> 20), (long long)(rss >> 20), mi.bytes_per_pixel);
    CHECK_MSG(hwm1 >= hwm0, "loading a model lowered the process's peak-RSS mark from %lld to %lld bytes",
              (long long)hwm0, (long long)hwm1);
}

/* Process-wide settings are process-level calls; what a session reports
 * is read when asked, so a configure after the session opened shows. */
/* Before any vsr_process_configure(): one thread per core, not whatever
 * libtorch starts with (a single thread on some machines). */
static void test_default_threads(void)
{
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
    int cpus = CPU_COUNT(&set);
    vsr_process_settings now = {.size = sizeof(now)};
    CHECK(vsr_process_get_settings(&now) == 0);
    CHECK_MSG(now.threads == cpus, "unconfigured: %d threads in use, %d CPUs", now.threads, cpus);
}

static void test_process_settings(void)
{
    vsr_model *m = NULL;
    CHECK_MSG(load(&m, test_model("tiny-x2.pt"), "cpu", VSR_PRECISION_FP32) == 0, "%s", vsr_last_error());
    if (!m)
        return;
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.model = m;
    vsr_session *ses = NULL;
    CHECK(vsr_session_open(&ses, &s) == 0);
    vsr_model_info mi = {.size = sizeof(mi)};
    CHECK(vsr_model_get_info(m, &mi) == 0 && mi.size == sizeof(mi));
    CHECK_MSG(!strcmp(mi.device, "cpu") && mi.precision == VSR_PRECISION_FP32 && mi.bytes_per_pixel > 0 &&
                  mi.ns_per_pixel > 0,
              "model info: %s %s %g bytes/px %g ns/px", mi.device, vsr_precision_name(mi.precision),
              mi.bytes_per_pixel, mi.ns_per_pixel);
    const int counts[] = {2, 1};
    for (int k = 0; k < 2; k++) {
        vsr_process_settings p;
        vsr_process_settings_default(&p);
        CHECK(p.size == sizeof(p) && p.threads == 0 && p.cuda_tf32 == 0 && p.cudnn_benchmark == 1);
        p.threads = counts[k];
        p.cuda_tf32 = k == 0;
        p.cudnn_benchmark = k == 0;
        CHECK_MSG(vsr_process_configure(&p) == 0, "%s", vsr_last_error());
        vsr_process_settings now = {.size = sizeof(now)};
        CHECK(vsr_process_get_settings(&now) == 0);
        CHECK_MSG(now.threads == counts[k] && now.cuda_tf32 == (k == 0) && now.cudnn_benchmark == (k == 0),
                  "in force: threads %d tf32 %d cudnn_benchmark %d", now.threads, now.cuda_tf32,
                  now.cudnn_benchmark);
        vsr_session_info info = {.size = sizeof(info)};
        CHECK(ses && vsr_session_get_info(ses, &info) == 0);
        CHECK_MSG(info.threads == counts[k], "session opened before the configure reports %d threads, not %d",
                  info.threads, counts[k]);
        /* the model opened before keeps working */
        vsr_frame *o[1] = {0};
        CHECK(ses && run_frames(ses, 1, 16, 8, o) == 1);
        vsr_frame_unref(&o[0]);
    }
    /* refused: out of range, mis-sized */
    vsr_process_settings p;
    vsr_process_settings_default(&p);
    p.threads = -1;
    CHECK(vsr_process_configure(&p) == VSR_EINVAL);
    vsr_process_settings_default(&p);
    p.cuda_tf32 = 2;
    CHECK(vsr_process_configure(&p) == VSR_EINVAL);
    vsr_process_settings_default(&p);
    p.size = 0;
    CHECK(vsr_process_configure(&p) == VSR_EINVAL);
    CHECK(vsr_process_configure(NULL) == VSR_EINVAL);
    vsr_process_settings now = {.size = 0};
    CHECK(vsr_process_get_settings(&now) == VSR_EINVAL);
    /* still one thread from the last good call */
    now.size = sizeof(now);
    CHECK(vsr_process_get_settings(&now) == 0 && now.threads == 1);
    vsr_session_close(&ses);
    vsr_model_unref(&m);
}

static void test_shared_and_refcount(void)
{
    const char *model = test_model("spatial-rf4-x2.pt");
    vsr_model *m = NULL;
    CHECK_MSG(load(&m, model, "cpu", VSR_PRECISION_FP32) == 0, "%s", vsr_last_error());
    if (!m)
        return;
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.model = m;
    vsr_session *a = NULL, *b = NULL, *own = NULL;
    CHECK_MSG(vsr_session_open(&a, &s) == 0, "shared a: %s", vsr_last_error());
    CHECK_MSG(vsr_session_open(&b, &s) == 0, "shared b: %s", vsr_last_error());
    vsr_session_settings so;
    vsr_session_settings_default(&so);
    CHECK(test_open_session(&own, &so, model, NULL, VSR_PRECISION_FP32) == 0);
    if (!a || !b || !own) {
        vsr_session_close(&a);
        vsr_session_close(&b);
        vsr_session_close(&own);
        vsr_model_unref(&m);
        return;
    }
    vsr_session_info ia = {.size = sizeof(ia)};
    vsr_session_get_info(a, &ia);
    CHECK_MSG(!strcmp(ia.device, "cpu") && ia.precision == VSR_PRECISION_FP32 && ia.threads == 1,
              "shared session: %s %s %d threads", ia.device, vsr_precision_name(ia.precision), ia.threads);

    enum { N = 3 };
    vsr_frame *oa[N] = {0}, *ob[N] = {0}, *oo[N] = {0};
    CHECK_EQ_INT(run_frames(a, N, 40, 28, oa), N);
    CHECK_EQ_INT(run_frames(b, N, 40, 28, ob), N);
    CHECK_EQ_INT(run_frames(own, N, 40, 28, oo), N);
    for (int i = 0; i < N; i++) {
        CHECK_MSG(max_abs_diff(oa[i], ob[i]) == 0.0, "shared sessions differ on frame %d", i);
        CHECK_MSG(max_abs_diff(oa[i], oo[i]) == 0.0, "shared vs own model differ on frame %d", i);
        vsr_frame_unref(&oa[i]);
        vsr_frame_unref(&ob[i]);
    }

    /* the caller's reference goes; the sessions keep theirs */
    vsr_model_unref(&m);
    CHECK(m == NULL);
    vsr_model_unref(&m); /* &NULL is fine */
    CHECK_EQ_INT(run_frames(a, N, 40, 28, oa), N);
    vsr_session_close(&a);
    CHECK_EQ_INT(run_frames(b, N, 40, 28, ob), N);
    for (int i = 0; i < N; i++) {
        CHECK_MSG(max_abs_diff(oa[i], oo[i]) == 0.0 && max_abs_diff(ob[i], oo[i]) == 0.0,
                  "after unload: output of frame %d changed", i);
        vsr_frame_unref(&oa[i]);
        vsr_frame_unref(&ob[i]);
        vsr_frame_unref(&oo[i]);
    }
    vsr_model_card c = {.size = sizeof(c)};
    CHECK(vsr_session_get_card(b, &c) == 0 && !strcmp(c.name, "spatial-rf4-x2"));
    vsr_session_close(&b); /* the last reference: the model goes with it */
    vsr_session_close(&own);
    vsr_session_close(&own); /* &NULL */
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vsr-test-model-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    vsr_log_set_level(VSR_LOG_WARNING);
    vsr_log_set_callback(test_log_cb, NULL);
    test_default_threads();
    CHECK(test_set_threads(1) == 0);
    test_load_keeps_peak_rss();
    test_cards();
    test_wrong_shape();
    test_bad_models();
    test_devices();
    test_precision();
    test_process_settings();
    test_shared_and_refcount();
    vsr_log_set_callback(NULL, NULL);
    rmdir(tmpdir);
    return test_result("model");
}
