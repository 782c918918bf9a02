/*
 * vsr_recommend_settings: settings that suit this machine (and a model).
 *
 * The device comes from libtorch and the CUDA runtime (through the shim),
 * cores, SIMD features and memory from sysinfo, and, when a model is
 * given, its card and the memory and time per pixel measured when it is
 * loaded (once: fp32 on the CPU, fp16 on CUDA). Sizes are chosen for a
 * 1920x1080 input frame within the memory a session would use by default:
 * half of the available RAM on the CPU, 80% of the free device memory on
 * CUDA. Every choice adds one line to `reasons`.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_internal.h"
#include "sizing.h"
#include "sysinfo.h"

/* The frame size the sizes are chosen for. */
#define REF_W 1920
#define REF_H 1080
/* A per-frame x2..x4 network of the common kind needs a few KB of
 * activations per input pixel; used when no model is given. */
#define GENERIC_BYTES_PER_PIXEL 4096.0
/* CUDA: frames per pass to try, largest first. */
#define CUDA_MAX_BATCH 4

typedef struct reasons {
    char *buf;
    size_t cap, len;
} reasons;

static void why(reasons *r, const char *fmt, ...) VSRI_PRINTF(2, 3);
static void why(reasons *r, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    /* whole lines only: a cut reason would mislead */
    if (r->len + n + 2 > r->cap)
        return;
    memcpy(r->buf + r->len, line, n);
    r->len += n;
    r->buf[r->len++] = '\n';
    r->buf[r->len] = 0;
}

static double mib(int64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

typedef struct cuda_choice {
    int index;           /* -1: none */
    int64_t free_bytes, total_bytes;
} cuda_choice;

/* The CUDA device with the most free memory, if libtorch can use one. */
static cuda_choice pick_cuda(reasons *rs)
{
    cuda_choice c = {-1, -1, -1};
    char why_none[256] = "";
    int torch_cuda = vsrt_torch_has_cuda();
    int n = vsrt_cuda_device_count(why_none, sizeof(why_none));
    if (n <= 0) {
        why(rs, "device cpu: no CUDA device (%s)", why_none[0] ? why_none : "none found");
        return c;
    }
    if (!torch_cuda) {
        why(rs, "device cpu: %d CUDA device(s) present, but this libtorch is a CPU build", n);
        return c;
    }
    for (int i = 0; i < n; i++) {
        int64_t fb = -1, tb = -1;
        if (vsrt_cudart_mem_info(i, &fb, &tb) < 0)
            continue;
        if (c.index < 0 || fb > c.free_bytes) {
            c.index = i;
            c.free_bytes = fb;
            c.total_bytes = tb;
        }
    }
    if (c.index < 0)
        c.index = 0; /* memory unknown (no runtime linked): libtorch's first device */
    if (n > 1)
        why(rs, "device cuda:%d: the one of %d CUDA devices with the most free memory", c.index, n);
    else
        why(rs, "device cuda:%d: a CUDA device that libtorch can use", c.index);
    return c;
}

int vsr_recommend_settings(const char *model_path, vsr_recommendation *out)
{
    if (vsri_result_check(out, "vsr_recommendation") < 0)
        return VSR_EINVAL;
    if (model_path && !*model_path)
        return vsri_error(VSR_EINVAL, "vsr_recommend_settings: empty model path (pass NULL for generic advice)");

    vsr_recommendation r;
    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    reasons rs = {r.reasons, sizeof(r.reasons), 0};

    vsri_sysinfo si;
    vsri_sysinfo_get(&si);
    int cores = si.logical_cores > 0 ? si.logical_cores : 1;

    /* ---- device ---- */
    cuda_choice cu = pick_cuda(&rs);
    int cuda = cu.index >= 0;
    if (cuda)
        snprintf(r.device, sizeof(r.device), "cuda:%d", cu.index);
    else
        vsri_strlcpy(r.device, "cpu", sizeof(r.device));

    /* ---- threads ---- */
    r.threads = cores;
    if (cuda)
        why(&rs, "threads %d: the CPU side (conversion, copies) uses the %d CPU(s) this process may run on", cores,
            cores);
    else
        why(&rs, "threads %d: one inference thread per CPU this process may run on (%d of %d online)", cores, cores,
            si.online_cores);

    /* ---- the model: card and measured memory per pixel ---- */
    vsr_model *m = NULL;
    if (model_path) {
        vsr_model_settings s;
        vsr_model_settings_default(&s);
        s.path = model_path;
        s.device = r.device;
        s.precision = cuda ? VSR_PRECISION_FP16 : VSR_PRECISION_FP32;
        int err = vsr_model_open(&m, &s);
        if (err < 0) {
            char msg[1024];
            vsri_strlcpy(msg, vsr_last_error(), sizeof(msg));
            return vsri_error_quiet(err, "vsr_recommend_settings: %s", msg); /* the load logged it */
        }
    }
    vsr_model_card card;
    memset(&card, 0, sizeof(card));
    double bpp = GENERIC_BYTES_PER_PIXEL;
    if (m) {
        card = m->card;
        bpp = m->bytes_per_pixel > 0 ? m->bytes_per_pixel : GENERIC_BYTES_PER_PIXEL;
    } else {
        card.scale = 2;
        card.frames_in = 1;
        card.layout = VSR_LAYOUT_NCHW;
        card.size_multiple = 1;
    }

    /* ---- precision ---- */
    if (cuda) {
        r.precision = VSR_PRECISION_FP16;
        why(&rs, "precision fp16: CUDA runs it on tensor cores with half the memory of fp32");
    } else if (si.has_avx512_bf16 || si.has_amx_bf16) {
        r.precision = VSR_PRECISION_BF16;
        why(&rs, "precision bf16: this CPU has %s, so bf16 runs natively (precision auto would measure it "
                 "against fp32 at load)",
            si.has_amx_bf16 ? "AMX-BF16" : "AVX512-BF16");
    } else {
        r.precision = VSR_PRECISION_FP32;
        why(&rs, "precision fp32: CPU without AVX512-BF16/AMX: bf16 would be emulated (many times slower), "
                 "fp32 chosen");
    }

    /* ---- memory limit ---- */
    int64_t limit;
    if (cuda) {
        int64_t fb = cu.free_bytes, tb = cu.total_bytes, pb = -1;
        if (m)
            vsrt_device_memory(m->shim, &fb, &tb, &pb); /* after the model's weights are in */
        if (fb > 0) {
            limit = fb / 10 * 8;
            why(&rs, "mem_limit %.0f MB: 80%% of the %.0f MB of device memory free now (of %.0f MB)", mib(limit),
                mib(fb), mib(tb));
        } else {
            limit = (int64_t)2 << 30;
            why(&rs, "mem_limit %.0f MB: the device's free memory is unknown, a cautious 2 GB", mib(limit));
        }
    } else if (si.ram_available_bytes > 0) {
        limit = si.ram_available_bytes / 2;
        why(&rs, "mem_limit %.0f MB: half of the %.0f MB of RAM available now (of %.0f MB)", mib(limit),
            mib(si.ram_available_bytes), mib(si.ram_total_bytes));
    } else {
        limit = (int64_t)2 << 30;
        why(&rs, "mem_limit %.0f MB: available RAM unknown, a cautious 2 GB", mib(limit));
    }
    r.mem_limit = limit;

    if (m)
        why(&rs, "model '%s': x%d, %s, %.0f bytes of activations per input pixel measured at load", card.name,
            card.scale,
            card.layout == VSR_LAYOUT_NCHW ? "per-frame"
            : card.center_only             ? "sliding window"
                                           : "sequence",
            bpp);
    else
        why(&rs, "no model given: generic advice for a per-frame model, assuming ~%.0f bytes per input pixel",
            bpp);

    /* ---- chunk and batch: frames per pass ---- */
    int sequence = card.layout == VSR_LAYOUT_NTCHW && !card.center_only;
    int window = card.layout == VSR_LAYOUT_NTCHW && card.center_only;
    int64_t frame_bytes = vsri_pass_bytes(bpp, REF_W, REF_H, 1, 1);
    int rows = 1, frames = 1;
    if (sequence) {
        r.batch = 1;
        why(&rs, "batch 1: a sequence model takes one chunk of frames per pass");
        int overlap = 2 * card.rf_temporal;
        if (card.frames_in > 1) {
            r.chunk = card.frames_in;
            why(&rs, "chunk %d: the model takes exactly %d frames", r.chunk, card.frames_in);
        } else {
            /* the session's own rule for an auto chunk */
            int below_need;
            int n = vsri_auto_chunk(frame_bytes, limit, overlap, &below_need);
            if (below_need)
                why(&rs, "chunk %d: the shortest useful chunk (overlap %d); it needs tiles at 1920x1080", n,
                    overlap);
            else
                why(&rs, "chunk %d: %s1920x1080 frames fit in the limit at %.0f MB each, overlap %d", n,
                    n == VSRI_MAX_AUTO_CHUNK ? "at most 32; more " : "as many ", mib(frame_bytes), overlap);
            r.chunk = n;
        }
        frames = r.chunk;
    } else {
        if (window) {
            r.chunk = card.frames_in;
            frames = card.frames_in;
            why(&rs, "chunk %d: the model's sliding window (one output frame per window)", r.chunk);
        } else {
            r.chunk = 1;
            why(&rs, "chunk 1: a per-frame model has no temporal chunks");
        }
        if (cuda) {
            int b = CUDA_MAX_BATCH;
            while (b > 1 && vsri_pass_bytes(bpp, REF_W, REF_H, b, frames) > limit)
                b /= 2;
            r.batch = b;
            if (b > 1)
                why(&rs, "batch %d: a GPU needs several frames per pass to be busy; %d 1920x1080 frames need "
                         "~%.0f MB",
                    b, b, mib(vsri_pass_bytes(bpp, REF_W, REF_H, b, frames)));
            else
                why(&rs, "batch 1: more 1920x1080 frames per pass would not fit in the limit");
        } else {
            r.batch = 1;
            why(&rs, "batch 1: batching is slower per frame on CPUs (activations leave the caches)");
        }
        rows = r.batch;
    }

    /* ---- tiles ---- */
    r.tile_pad = m ? card.rf_spatial : VSR_AUTO;
    int64_t need = vsri_pass_bytes(bpp, REF_W, REF_H, rows, frames);
    if (need <= limit) {
        r.tile = 0;
        why(&rs, "tile 0: a 1920x1080 %s needs ~%.0f MB at %.0f bytes/pixel, within the limit of %.0f MB",
            rows * frames > 1 ? "pass" : "frame", mib(need), bpp, mib(limit));
    } else {
        /* the session's own rule for an auto tile */
        int step = card.size_multiple > VSRI_MIN_AUTO_TILE ? card.size_multiple : VSRI_MIN_AUTO_TILE;
        int pad = r.tile_pad > 0 ? r.tile_pad : 0;
        int t = vsri_fit_tile(bpp, limit, pad, rows, frames, step, REF_W > REF_H ? REF_W : REF_H);
        if (t == 0) {
            t = 16;
            why(&rs, "tile 16: a 1920x1080 frame needs ~%.0f MB, over the limit of %.0f MB, and even 16-pixel "
                     "tiles may not fit: expect an out-of-memory error",
                mib(need), mib(limit));
        } else {
            why(&rs, "tile %d: a 1920x1080 %s needs ~%.0f MB at %.0f bytes/pixel, over the limit of %.0f MB; a "
                     "%d-pixel tile with its padding needs ~%.0f MB",
                t, rows * frames > 1 ? "pass" : "frame", mib(need), bpp, mib(limit), t,
                mib(vsri_pass_bytes(bpp, t + 2 * pad, t + 2 * pad, rows, frames)));
        }
        r.tile = t;
    }
    if (m)
        why(&rs, "tile_pad %d: the model's spatial receptive radius (its card), so tile seams do not show",
            r.tile_pad);
    else
        why(&rs, "tile_pad auto: the model's spatial receptive radius (no model given)");

    vsr_model_unref(&m);
    return VSRI_RESULT_OUT(out, &r, "vsr_recommendation");
}
