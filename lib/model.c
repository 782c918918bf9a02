/*
 * vsr_model: load a TorchScript model through the shim, read and check
 * its card against one real forward pass, resolve "auto" precision by
 * measuring (or from the start-up cache), and estimate the memory and time
 * per pixel for sizing.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_internal.h"
#include "modelcard.h"
#include "process.h"
#include "startup_cache.h"
#include "sysinfo.h"

const char *vsr_precision_name(vsr_precision p)
{
    switch (p) {
    case VSR_PRECISION_AUTO: return "auto";
    case VSR_PRECISION_FP32: return "fp32";
    case VSR_PRECISION_BF16: return "bf16";
    case VSR_PRECISION_FP16: return "fp16";
    }
    return "unknown";
}

int vsri_model_step_frames(const vsr_model_card *c)
{
    if (c->layout == VSR_LAYOUT_NCHW)
        return 1;
    return c->frames_in > 0 ? c->frames_in : 3;
}

vsr_model *vsr_model_ref(vsr_model *m)
{
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void vsr_model_unref(vsr_model **pm)
{
    if (!pm || !*pm)
        return;
    vsr_model *m = *pm;
    *pm = NULL;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        vsrt_free(m->shim);
        free(m->path);
        free(m);
    }
}

int vsr_model_get_card(const vsr_model *m, vsr_model_card *card)
{
    if (!m)
        return vsri_error(VSR_EINVAL, "vsr_model_get_card: no model");
    return VSRI_RESULT_OUT(card, &m->card, "vsr_model_card");
}

int vsr_model_get_info(const vsr_model *m, vsr_model_info *info)
{
    if (!m)
        return vsri_error(VSR_EINVAL, "vsr_model_get_info: no model");
    vsr_model_info t;
    memset(&t, 0, sizeof(t));
    t.size = sizeof(t);
    vsri_strlcpy(t.device, m->device, sizeof(t.device));
    t.precision = m->precision;
    t.bytes_per_pixel = m->bytes_per_pixel;
    t.ns_per_pixel = m->ns_per_pixel;
    return VSRI_RESULT_OUT(info, &t, "vsr_model_info");
}

/* A shim failure as libvsr's error, naming the model and the input shape. */
static int forward_error(const vsr_model *m, int rc, const int64_t *shape, int ndim, const char *err)
{
    char dims[96] = "";
    for (int i = 0, n = 0; i < ndim && n < (int)sizeof(dims) - 24; i++)
        n += snprintf(dims + n, sizeof(dims) - n, "%s%lld", i ? "x" : "", (long long)shape[i]);
    if (rc == VSRT_E_OOM)
        return vsri_error_quiet(VSR_ERROR_DEVICE_OOM, "model '%s' ran out of memory on %s for input %s: %s",
                                m->card.name, m->device, dims, err);
    return vsri_error(VSR_ERROR_MODEL_RUN, "model '%s' failed on input %s: %s", m->card.name, dims, err);
}

int vsri_model_forward(vsr_model *m, const float *input, const int64_t *shape, int ndim,
                       vsrt_result **res, vsrt_timing *timing)
{
    char err[768];
    vsri_process_prepare_thread();
    int rc = vsrt_forward(m->shim, input, shape, ndim, m->card.range_min, m->card.range_max, res, timing,
                          err, sizeof(err));
    return rc == VSRT_OK ? 0 : forward_error(m, rc, shape, ndim, err);
}

/* Input of a check pass: side x side pixels (a multiple of the card's
 * size_multiple), with the frame count the layout wants. */
static int check_shape(const vsr_model_card *c, int side, int64_t shape[5])
{
    if (c->layout == VSR_LAYOUT_NCHW) {
        shape[0] = 1, shape[1] = 3, shape[2] = side, shape[3] = side;
        return 4;
    }
    shape[0] = 1, shape[1] = vsri_model_step_frames(c), shape[2] = 3, shape[3] = side, shape[4] = side;
    return 5;
}

static int expected_output(const vsr_model_card *c, const int64_t *in, int ndim, int64_t out[5])
{
    int s = c->scale;
    if (ndim == 4) {
        out[0] = in[0], out[1] = 3, out[2] = in[2] * s, out[3] = in[3] * s;
        return 4;
    }
    if (c->center_only) {
        out[0] = in[0], out[1] = 3, out[2] = in[3] * s, out[3] = in[4] * s;
        return 4;
    }
    out[0] = in[0], out[1] = in[1], out[2] = 3, out[3] = in[3] * s, out[4] = in[4] * s;
    return 5;
}

static void shape_str(char *buf, size_t cap, const int64_t *d, int n)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k + 24 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "x" : "", (long long)d[i]);
}

/* Fill with a smooth pattern in the model's range (zeros can hide bugs
 * and random noise is an unusual input for a picture model). */
static void fill_pattern(float *p, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (0.5f + 0.4f * sinf((float)i * 0.013f));
}

/*
 * One forward pass on a check input: compares the output shape with the
 * card, and measures time (ns) and, when mem_bytes is given, the peak of
 * the memory the pass takes from libtorch's allocator (its tensors and
 * oneDNN's, which PyTorch routes through the same allocator). That is
 * counted by libtorch's thread-local memory-reporting hook, installed for
 * this pass only: the process's own peak-RSS mark (VmHWM), which an
 * embedding application may be watching, is left alone.
 */
static int run_check(vsr_model *m, int side, int64_t *elapsed_ns, int64_t *mem_bytes)
{
    int64_t shape[5], want[5];
    int nd = check_shape(&m->card, side, shape);
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)shape[i];
    float *in = vsrt_host_alloc(m->shim, n * sizeof(float));
    if (!in)
        return VSR_ENOMEM;
    fill_pattern(in, n, m->card.range_min, m->card.range_max);
    vsrt_result *res = NULL;
    int64_t got_shape[6];
    int gn = 0;
    int64_t t0 = vsri_now_ns();
    int err;
    if (mem_bytes) {
        char msg[768];
        vsri_process_prepare_thread();
        int rc = vsrt_forward_measure(m->shim, in, shape, nd, m->card.range_min, m->card.range_max, got_shape, &gn,
                                      mem_bytes, msg, sizeof(msg));
        err = rc == VSRT_OK ? 0 : forward_error(m, rc, shape, nd, msg);
    } else {
        err = vsri_model_forward(m, in, shape, nd, &res, NULL);
        if (err >= 0) {
            gn = vsrt_result_ndim(res) < 6 ? vsrt_result_ndim(res) : 6;
            memcpy(got_shape, vsrt_result_shape(res), sizeof(int64_t) * (size_t)gn);
            vsrt_result_free(res);
        }
    }
    int64_t t1 = vsri_now_ns();
    vsrt_host_free(m->shim, in);
    if (err < 0) {
        /* the check pass failing means the model cannot run as its card says */
        char msg[1024];
        vsri_strlcpy(msg, vsr_last_error(), sizeof(msg));
        return vsri_error(VSR_ERROR_MODEL, "model '%s': check pass failed: %s", m->path, msg);
    }
    int wn = expected_output(&m->card, shape, nd, want);
    int same = gn == wn;
    for (int i = 0; same && i < wn; i++)
        same = got_shape[i] == want[i];
    if (!same) {
        char a[96], b[96], c[96];
        shape_str(a, sizeof(a), shape, nd);
        shape_str(b, sizeof(b), want, wn);
        shape_str(c, sizeof(c), got_shape, gn);
        return vsri_error(VSR_ERROR_MODEL_RUN,
                          "model '%s': for input %s its card (scale %d, %s) promises %s, but it returned %s",
                          m->path, a, m->card.scale, m->card.layout == VSR_LAYOUT_NCHW ? "NCHW" : "NTCHW", b,
                          c);
    }
    *elapsed_ns = t1 - t0;
    return 0;
}

void vsr_model_settings_default(vsr_model_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->path = NULL;
    s->device = "cpu";
    s->precision = VSR_PRECISION_AUTO;
    s->cuda_graph = 0;
    s->cache = 1;
}

static int validate(const vsr_model_settings *s)
{
    if (!s->path || !*s->path)
        return vsri_error(VSR_EINVAL, "vsr_model_open: no model path given");
    if (s->precision < VSR_PRECISION_AUTO || s->precision > VSR_PRECISION_FP16)
        return vsri_error(VSR_EINVAL, "precision %d is not one of auto, fp32, bf16, fp16", (int)s->precision);
    if (s->cuda_graph != 0 && s->cuda_graph != 1)
        return vsri_error(VSR_EINVAL, "cuda_graph %d must be 0 or 1", s->cuda_graph);
    if (s->cache != 0 && s->cache != 1)
        return vsri_error(VSR_EINVAL, "cache %d must be 0 or 1", s->cache);
    return 0;
}

static double ms_since(int64_t t0)
{
    return (vsri_now_ns() - t0) / 1e6;
}

/* Load one instance at a fixed precision (no pass run yet). */
static int load_at(const vsr_model_settings *s, vsr_precision p, vsr_model **out)
{
    *out = NULL;
    int64_t t0 = vsri_now_ns();
    vsr_model *m = calloc(1, sizeof(*m));
    if (!m)
        return VSR_ENOMEM;
    atomic_init(&m->refs, 1);
    m->path = strdup(s->path);
    if (!m->path) {
        free(m);
        return VSR_ENOMEM;
    }
    vsrt_load_options o = {
        .path = s->path,
        .device = s->device ? s->device : "cpu",
        .precision = (int)p,
        .optimize = 1,
        .channels_last = p == VSR_PRECISION_BF16, /* oneDNN's bf16 kernels want NHWC */
        .cuda_graph = s->cuda_graph,
    };
    char *card = NULL;
    char notice[256], err[768];
    int rc = vsrt_load(&o, &m->shim, &card, notice, sizeof(notice), err, sizeof(err));
    if (rc != VSRT_OK) {
        vsr_model_unref(&m);
        int code = rc == VSRT_E_DEVICE ? VSR_ERROR_DEVICE : rc == VSRT_E_INVAL ? VSR_EINVAL : VSR_ERROR_MODEL;
        return vsri_error(code, "%s", err);
    }
    if (notice[0])
        vsri_log(VSR_LOG_WARNING, "model '%s': %s", s->path, notice);
    if (!card) {
        vsr_model_unref(&m);
        return vsri_error(VSR_ERROR_MODEL,
                          "model '%s' has no model card (libvsr.json inside the TorchScript file); "
                          "convert it with tools/modelcard.py",
                          s->path);
    }
    m->card.size = sizeof(m->card);
    rc = vsri_card_parse(card, strlen(card), &m->card, err, sizeof(err));
    vsri_sha256_hex(card, strlen(card), m->card_sha256);
    free(card);
    if (rc < 0) {
        vsr_model_unref(&m);
        return vsri_error(VSR_ERROR_MODEL, "model '%s': %s", s->path, err);
    }
    m->precision = (vsr_precision)vsrt_precision(m->shim);
    vsri_strlcpy(m->device, vsrt_device_name(m->shim), sizeof(m->device));
    m->cuda = vsrt_is_cuda(m->shim);
    vsri_log(VSR_LOG_INFO, "start-up: model '%s' read (%s, %s) in %.0f ms", s->path,
             vsr_precision_name(m->precision), m->device, ms_since(t0));
    *out = m;
    return 0;
}

/* The check pass (64x64, rounded up to the card's size_multiple): the
 * output shape against the card; with measure, also the memory per pixel
 * (from its allocations) and a first time per pixel. */
static int check_pass(vsr_model *m, int measure)
{
    int mult = m->card.size_multiple > 0 ? m->card.size_multiple : 1;
    int side = (64 + mult - 1) / mult * mult;
    int64_t t0 = vsri_now_ns(), ns = 0, mem = -1;
    int err = run_check(m, side, &ns, measure ? &mem : NULL);
    if (err < 0)
        return err;
    vsri_log(VSR_LOG_INFO, "start-up: check pass (%s, %dx%d) in %.0f ms", vsr_precision_name(m->precision), side,
             side, ms_since(t0));
    if (measure) {
        double px = (double)side * side * vsri_model_step_frames(&m->card);
        /* the floor is the input and output tensors themselves */
        double floor_bpp = 4.0 * 3 * (1 + m->card.scale * m->card.scale);
        m->bytes_per_pixel = mem > 0 ? fmax(1.25 * mem / px, floor_bpp) : 64 * floor_bpp;
        m->ns_per_pixel = ns / px;
    }
    return 0;
}

/* Time per pixel: the fastest of `passes` passes at side x side (the
 * check pass includes one-time set-up, so it is not the measure). The
 * fp32/bf16 choice times at 160x160: at 64x64 fixed costs hide the
 * per-pixel ones (the tiny test model measured bf16 1.4x faster there and
 * ran 3x slower in it at 320x180). */
static int measure_speed(vsr_model *m, int passes, int side)
{
    int mult = m->card.size_multiple > 0 ? m->card.size_multiple : 1;
    side = (side + mult - 1) / mult * mult;
    double px = (double)side * side * vsri_model_step_frames(&m->card);
    for (int i = 0; i < passes; i++) {
        int64_t ns = 0;
        int err = run_check(m, side, &ns, NULL);
        if (err < 0)
            return err;
        vsri_log(VSR_LOG_DEBUG, "start-up: measuring %s at %dx%d: %.1f ns/px", vsr_precision_name(m->precision),
                 side, side, ns / px);
        if (i == 0 || ns / px < m->ns_per_pixel)
            m->ns_per_pixel = ns / px;
    }
    return 0;
}

/* Load at p and measure (check pass, then `passes` timed at side). */
static int load_measured(const vsr_model_settings *s, vsr_precision p, int passes, int side, vsr_model **out)
{
    int err = load_at(s, p, out);
    if (err >= 0)
        err = check_pass(*out, 1);
    if (err >= 0)
        err = measure_speed(*out, passes, side);
    if (err < 0)
        vsr_model_unref(out);
    return err;
}

/* "auto" precision on the CPU is decided by measuring, remembered in this
 * process per model file and thread count, and kept in the start-up cache
 * for later processes (startup_cache.h). */
typedef struct remembered_choice {
    char *path;
    int64_t mtime_ns, size;
    int threads;
    vsri_startup_choice choice;
    struct remembered_choice *next;
} remembered_choice;
static remembered_choice *choices;
static pthread_mutex_t choices_lock = PTHREAD_MUTEX_INITIALIZER;

static int remembered(const char *path, int threads, vsri_startup_choice *out)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    int found = 0;
    pthread_mutex_lock(&choices_lock);
    for (remembered_choice *c = choices; c; c = c->next)
        if (!strcmp(c->path, path) && c->mtime_ns == mtime && c->size == (int64_t)st.st_size &&
            c->threads == threads) {
            *out = c->choice;
            found = 1;
            break;
        }
    pthread_mutex_unlock(&choices_lock);
    return found;
}

static void remember(const char *path, int threads, const vsri_startup_choice *choice)
{
    struct stat st;
    remembered_choice *c = calloc(1, sizeof(*c));
    if (!c || stat(path, &st) != 0 || !(c->path = strdup(path))) {
        free(c);
        return;
    }
    c->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    c->size = (int64_t)st.st_size;
    c->threads = threads;
    c->choice = *choice;
    pthread_mutex_lock(&choices_lock);
    c->next = choices;
    choices = c;
    pthread_mutex_unlock(&choices_lock);
}

/* bf16 must beat fp32 by this factor to be chosen: it costs precision. */
#define BF16_MIN_SPEEDUP 1.15

/* Measure fp32, and bf16 where the CPU has bf16 instructions; keep the faster. */
static int choose_by_measuring(const vsr_model_settings *s, vsr_model **out, vsri_startup_choice *choice)
{
    int64_t t0 = vsri_now_ns();
    vsri_sysinfo si;
    int bf16_hw = vsri_sysinfo_get(&si) >= 0 && (si.has_avx512_bf16 || si.has_amx_bf16);
    vsr_model *m = NULL;
    int err = load_measured(s, VSR_PRECISION_FP32, 2, 160, &m);
    if (err < 0)
        return err;
    choice->fp32_ns_per_pixel = m->ns_per_pixel;
    choice->bf16_ns_per_pixel = -1;
    if (bf16_hw) {
        vsr_model *b = NULL;
        if (load_measured(s, VSR_PRECISION_BF16, 2, 160, &b) >= 0) {
            choice->bf16_ns_per_pixel = b->ns_per_pixel;
            if (b->ns_per_pixel * BF16_MIN_SPEEDUP < m->ns_per_pixel) {
                vsr_model_unref(&m);
                m = b;
            } else {
                vsr_model_unref(&b);
            }
        }
    }
    choice->precision = m->precision;
    choice->bytes_per_pixel = m->bytes_per_pixel;
    choice->ns_per_pixel = m->ns_per_pixel;
    memcpy(choice->card_sha256, m->card_sha256, sizeof(choice->card_sha256));
    if (choice->bf16_ns_per_pixel > 0)
        vsri_log(VSR_LOG_INFO, "start-up: precision choice measured in %.0f ms: %s (bf16 %.1f ns/px, fp32 %.1f ns/px)",
                 ms_since(t0), vsr_precision_name(m->precision), choice->bf16_ns_per_pixel,
                 choice->fp32_ns_per_pixel);
    else
        vsri_log(VSR_LOG_INFO, "start-up: precision choice measured in %.0f ms: fp32 (%.1f ns/px; %s)", ms_since(t0),
                 choice->fp32_ns_per_pixel, bf16_hw ? "bf16 failed to load" : "no bf16 instructions");
    *out = m;
    return 0;
}

/* A choice made earlier: load at its precision and run the check pass;
 * the speeds are the ones measured then. 1 when used; 0 when the model's
 * card is not the one measured (then nothing is loaded). */
static int load_chosen(const vsr_model_settings *s, const vsri_startup_choice *choice, const char *from,
                       vsr_model **out)
{
    int err = load_at(s, choice->precision, out);
    if (err < 0)
        return err;
    vsr_model *m = *out;
    if (strcmp(m->card_sha256, choice->card_sha256) != 0) {
        vsri_log(VSR_LOG_INFO, "start-up: the model card differs from the one measured (%s): measuring again",
                 from);
        vsr_model_unref(out);
        return 0;
    }
    err = check_pass(m, 0);
    if (err < 0) {
        vsr_model_unref(out);
        return err;
    }
    m->bytes_per_pixel = choice->bytes_per_pixel;
    m->ns_per_pixel = choice->ns_per_pixel;
    if (choice->bf16_ns_per_pixel > 0)
        vsri_log(VSR_LOG_INFO, "start-up: precision choice %s: %s (bf16 %.1f ns/px, fp32 %.1f ns/px when measured)",
                 from, vsr_precision_name(m->precision), choice->bf16_ns_per_pixel, choice->fp32_ns_per_pixel);
    else
        vsri_log(VSR_LOG_INFO, "start-up: precision choice %s: %s (%.1f ns/px when measured)", from,
                 vsr_precision_name(m->precision), choice->fp32_ns_per_pixel);
    return 1;
}

/* "auto" on the CPU: remembered in this process, else cached, else measured. */
static int open_auto_cpu(const vsr_model_settings *s, int threads, vsr_model **out)
{
    vsri_startup_choice choice;
    char file[4200];
    int r = 0;
    if (s->cache && remembered(s->path, threads, &choice))
        r = load_chosen(s, &choice, "remembered from an earlier load in this process", out);
    else if (s->cache && vsri_startup_cache_get(s->path, threads, &choice, file, sizeof(file))) {
        char from[4300];
        snprintf(from, sizeof(from), "from the start-up cache '%s'", file);
        r = load_chosen(s, &choice, from, out);
    } else if (!s->cache) {
        vsri_log(VSR_LOG_INFO, "start-up: cache off: measuring the precision choice");
    }
    if (r != 0)
        return r < 0 ? r : 0;
    int err = choose_by_measuring(s, out, &choice);
    if (err < 0 || !s->cache)
        return err;
    remember(s->path, threads, &choice);
    vsri_startup_cache_put(s->path, threads, &choice);
    return 0;
}

int vsr_model_open(vsr_model **out, const vsr_model_settings *settings)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_model_open: no output pointer");
    *out = NULL;
    if (!settings)
        return vsri_error(VSR_EINVAL, "vsr_model_open: no settings");
    vsr_model_settings s;
    vsr_model_settings_default(&s);
    int err = VSRI_SETTINGS_IN(&s, settings, "vsr_model_settings");
    if (err < 0 || (err = validate(&s)) < 0)
        return err;
    int64_t t0 = vsri_now_ns();
    /* the thread count in force is part of what the precision choice measured */
    int threads = vsri_process_threads();

    vsr_precision want = s.precision;
    int cpu = !s.device || !strcmp(s.device, "cpu");
    vsr_model *m = NULL;
    if (want != VSR_PRECISION_AUTO) {
        err = load_measured(&s, want, 1, 64, &m);
    } else if (!cpu) {
        /* CUDA (or "auto" device): fp16 on a GPU, fp32 if it ends up on the CPU */
        err = load_at(&s, VSR_PRECISION_FP16, &m);
        if (err >= 0 && !m->cuda) {
            vsr_model_unref(&m);
            err = load_at(&s, VSR_PRECISION_FP32, &m);
        }
        if (err >= 0 && (err = check_pass(m, 1)) >= 0)
            err = measure_speed(m, 1, 64);
    } else {
        err = open_auto_cpu(&s, threads, &m);
    }
    if (err < 0) {
        vsr_model_unref(&m);
        return err;
    }
    vsri_log(VSR_LOG_INFO, "model '%s' (%s, x%d) on %s in %s, %d threads, ~%.0f bytes and %.1f ns per pixel",
             s.path, m->card.name, m->card.scale, m->device, vsr_precision_name(m->precision), threads,
             m->bytes_per_pixel, m->ns_per_pixel);
    vsri_log(VSR_LOG_INFO, "start-up: model ready in %.0f ms", ms_since(t0));
    *out = m;
    return 0;
}
