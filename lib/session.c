/*
 * vsr_session: run a model over a sequence of frames. Frames are buffered
 * until the chunk planner (chunker.c) has a forward pass ready; each pass
 * is cut into spatial tiles (tiler.c) when frames are too large; outputs
 * are written (or, when blending, accumulated) into output frames, which
 * leave in order with their input frame's pts and properties.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <libavutil/buffer.h>

#include "chunker.h"
#include "convert.h"
#include "frame_internal.h"
#include "model_internal.h"
#include "process.h"
#include "session_internal.h"
#include "sysinfo.h"
#include "tiler.h"
#include "tracker_internal.h"

/* An input frame held until no future pass needs it. */
typedef struct in_slot {
    int64_t index;
    vsr_frame *frame; /* RGBF32, input size */
} in_slot;

/* An output frame being assembled (from several tiles and/or chunks). */
typedef struct out_acc {
    int64_t index;
    vsr_frame *frame; /* RGBF32, output size */
    int blending;     /* accumulate weighted sums (frame zeroed first) */
} out_acc;

struct vsr_session {
    vsr_session_settings s;
    vsr_model *model;
    vsr_tracker *tracker;
    vsr_log_callback log_cb;
    void *log_user;
    vsri_converter *cv;
    vsri_converter *out_cv; /* into output_format, when that is not RGBF32 */

    /* resolved settings */
    int batch, chunk, overlap, tile, tile_pad;
    int64_t mem_limit;
    int tile_shrunk_logged;

    /* per sequence */
    vsri_chunker *chunker;
    vsri_tile_plan plan;
    int have_plan;
    int width, height;   /* input frame size of this sequence */
    in_slot *in;
    int n_in, cap_in;
    int64_t received;    /* frames sent */
    int eof;
    out_acc *acc;
    int n_acc, cap_acc;
    vsr_frame **ready;
    int n_ready, cap_ready, ready_head;
    float *batch_buf;    /* model input staging */
    size_t batch_buf_bytes;
    int64_t chunks_run, tiles_run;
    int failed;
    uint64_t run_id;     /* of the vsr_upscale_file() run, for tracker records */

    /* Set by vsr_session_cancel() from any thread or a signal handler, read
     * by the session's and the pipeline's threads: a lock-free atomic (a
     * plain store is all a signal handler may do). */
    atomic_int cancel;
};

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "vsr_session_cancel() needs a lock-free atomic int");

void vsr_session_settings_default(vsr_session_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->model = NULL;
    s->batch = VSR_AUTO;
    s->chunk = VSR_AUTO;
    s->overlap = VSR_AUTO;
    s->tile = 0;
    s->tile_pad = VSR_AUTO;
    s->tile_blend = 0;
    s->chunk_blend = 0;
    s->mem_limit = 0;
    s->tracker = NULL;
    s->log_callback = NULL;
    s->log_user = NULL;
    s->output_format = VSR_PIXFMT_RGBF32;
}

static int validate(const vsr_session_settings *s)
{
    if (s->batch != VSR_AUTO && (s->batch < 1 || s->batch > 256))
        return vsri_error(VSR_EINVAL, "batch %d must be 1..256 or auto", s->batch);
    if (s->chunk != VSR_AUTO && (s->chunk < 1 || s->chunk > 4096))
        return vsri_error(VSR_EINVAL, "chunk %d must be 1..4096 or auto", s->chunk);
    if (s->overlap != VSR_AUTO && (s->overlap < 0 || s->overlap > 4095))
        return vsri_error(VSR_EINVAL, "overlap %d must be 0..4095 or auto", s->overlap);
    if (s->tile != VSR_AUTO && (s->tile < 0 || s->tile > 65536))
        return vsri_error(VSR_EINVAL, "tile %d must be 0 (whole frames), a size in pixels, or auto", s->tile);
    if (s->tile != VSR_AUTO && s->tile > 0 && s->tile < 8)
        return vsri_error(VSR_EINVAL, "tile %d is too small (at least 8 pixels)", s->tile);
    if (s->tile_pad != VSR_AUTO && (s->tile_pad < 0 || s->tile_pad > 1024))
        return vsri_error(VSR_EINVAL, "tile pad %d must be 0..1024 or auto", s->tile_pad);
    if (s->mem_limit < 0)
        return vsri_error(VSR_EINVAL, "memory limit must not be negative");
    if (s->output_format != VSR_PIXFMT_RGBF32 && vsri_pixfmt_to_av(s->output_format) == AV_PIX_FMT_NONE)
        return vsri_error(VSR_EINVAL, "output_format %d is not a pixel format libvsr names", (int)s->output_format);
    return 0;
}

static void slog(const vsr_session *ses, int level, const char *fmt, ...) VSRI_PRINTF(3, 4);
static void slog(const vsr_session *ses, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vsri_log_to(ses->log_cb, ses->log_user, level, "%s", msg);
}

/* Memory the session may use for inference when not told: half of the
 * available RAM on the CPU, 80% of the free device memory on CUDA. */
static int64_t default_mem_limit(const vsr_model *m)
{
    if (m->cuda) {
        int64_t fb = -1, tb = -1, pb = -1;
        if (vsrt_device_memory(m->shim, &fb, &tb, &pb) == 0 && fb > 0)
            return fb / 10 * 8;
    }
    vsri_sysinfo si;
    if (vsri_sysinfo_get(&si) >= 0 && si.ram_available_bytes > 0)
        return si.ram_available_bytes / 2;
    return (int64_t)2 << 30;
}

/* Chunk and tile sizes as configured. "auto" ones are resolved again for
 * each sequence (from its frame size), and a tile shrunk for lack of memory
 * starts again at the configured size. */
static void configured_sizes(vsr_session *ses)
{
    const vsr_model_card *c = &ses->model->card;
    ses->tile = ses->s.tile;
    ses->tile_shrunk_logged = 0;
    if (c->layout == VSR_LAYOUT_NCHW)
        ses->chunk = 1;
    else if (c->frames_in > 1)
        ses->chunk = c->frames_in; /* a fixed window or a fixed sequence length */
    else
        ses->chunk = ses->s.chunk;
}

int vsr_session_open(vsr_session **out, const vsr_session_settings *settings)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_session_open: no output pointer");
    *out = NULL;
    if (!settings)
        return vsri_error(VSR_EINVAL, "vsr_session_open: no settings");
    vsr_session *ses = calloc(1, sizeof(*ses));
    if (!ses)
        return VSR_ENOMEM;
    vsr_session_settings_default(&ses->s);
    int err = VSRI_SETTINGS_IN(&ses->s, settings, "vsr_session_settings");
    if (err >= 0 && !ses->s.model)
        err = vsri_error(VSR_EINVAL, "vsr_session_open: no model (open one with vsr_model_open())");
    if (err >= 0)
        err = validate(&ses->s);
    if (err < 0) {
        free(ses);
        return err;
    }
    ses->log_cb = ses->s.log_callback;
    ses->log_user = ses->s.log_user;
    ses->model = vsr_model_ref(ses->s.model);
    ses->s.model = NULL;
    if (ses->s.tracker)
        ses->tracker = vsr_tracker_ref(ses->s.tracker);
    ses->s.tracker = NULL;
    ses->cv = vsri_converter_alloc();
    if (ses->s.output_format != VSR_PIXFMT_RGBF32)
        ses->out_cv = vsri_converter_alloc();
    if (!ses->cv || (ses->s.output_format != VSR_PIXFMT_RGBF32 && !ses->out_cv)) {
        vsr_session_close(&ses);
        return VSR_ENOMEM;
    }
    const vsr_model_card *c = &ses->model->card;
    ses->mem_limit = ses->s.mem_limit > 0 ? ses->s.mem_limit : default_mem_limit(ses->model);
    /* Batching is slower per frame than single frames on CPUs (activations
     * leave the caches), so the CPU default is 1; GPUs like more. */
    ses->batch = ses->s.batch != VSR_AUTO ? ses->s.batch : ses->model->cuda ? 4 : 1;
    ses->overlap = ses->s.overlap != VSR_AUTO ? ses->s.overlap : 2 * c->rf_temporal;
    if (c->frames_in > 1 && !c->center_only && ses->s.chunk != VSR_AUTO && ses->s.chunk != c->frames_in)
        slog(ses, VSR_LOG_WARNING, "model '%s' takes exactly %d frames: chunk %d ignored", c->name, c->frames_in,
             ses->s.chunk);
    configured_sizes(ses);
    if (ses->chunk != VSR_AUTO && c->layout == VSR_LAYOUT_NTCHW && !c->center_only &&
        ses->overlap >= ses->chunk) {
        err = vsri_error(VSR_EINVAL, "overlap %d must be smaller than the chunk length %d", ses->overlap,
                         ses->chunk);
        vsr_session_close(&ses);
        return err;
    }
    if (ses->chunk != VSR_AUTO && c->rf_temporal > 0 && ses->overlap < 2 * c->rf_temporal)
        slog(ses, VSR_LOG_WARNING,
             "overlap %d is below twice the model's temporal receptive radius %d: chunk borders may show",
             ses->overlap, c->rf_temporal);
    ses->tile_pad = ses->s.tile_pad != VSR_AUTO ? ses->s.tile_pad : c->rf_spatial;
    *out = ses;
    return 0;
}

static void clear_sequence(vsr_session *ses)
{
    for (int i = 0; i < ses->n_in; i++)
        vsr_frame_unref(&ses->in[i].frame);
    ses->n_in = 0;
    for (int i = 0; i < ses->n_acc; i++)
        vsr_frame_unref(&ses->acc[i].frame);
    ses->n_acc = 0;
    for (int i = 0; i < ses->n_ready; i++)
        vsr_frame_unref(&ses->ready[(ses->ready_head + i) % ses->cap_ready]);
    ses->n_ready = 0;
    ses->ready_head = 0;
    vsri_chunker_free(&ses->chunker);
    if (ses->have_plan)
        vsri_tiler_free(&ses->plan);
    ses->have_plan = 0;
    ses->received = 0;
    ses->eof = 0;
    ses->failed = 0;
    ses->width = ses->height = 0;
}

void vsr_session_reset(vsr_session *ses)
{
    if (!ses)
        return;
    clear_sequence(ses);
    ses->chunks_run = ses->tiles_run = 0;
    atomic_store(&ses->cancel, 0);
}

void vsr_session_close(vsr_session **pses)
{
    if (!pses || !*pses)
        return;
    vsr_session *ses = *pses;
    *pses = NULL;
    clear_sequence(ses);
    free(ses->in);
    free(ses->acc);
    free(ses->ready);
    if (ses->model)
        vsrt_host_free(ses->model->shim, ses->batch_buf);
    vsri_converter_free(&ses->cv);
    vsri_converter_free(&ses->out_cv);
    vsr_tracker_unref(&ses->tracker);
    vsr_model_unref(&ses->model);
    free(ses);
}

void vsr_session_cancel(vsr_session *ses)
{
    if (ses)
        atomic_store(&ses->cancel, 1); /* lock-free: async-signal-safe */
}

void vsri_session_set_run_id(vsr_session *ses, uint64_t run_id)
{
    ses->run_id = run_id;
}

void vsri_session_begin_run(vsr_session *ses)
{
    /* a new sequence, but a cancel already asked for still applies */
    clear_sequence(ses);
    ses->chunks_run = ses->tiles_run = 0;
}

int vsri_session_cancelled(const vsr_session *ses)
{
    return atomic_load(&((vsr_session *)ses)->cancel) != 0;
}

/* VSR_ERROR_CANCELLED once a cancel was asked for (checked between forward
 * passes, so a cancel ends a long send or drain promptly). */
static int check_cancel(const vsr_session *ses)
{
    if (!vsri_session_cancelled(ses))
        return 0;
    return vsri_error_quiet(VSR_ERROR_CANCELLED, "session cancelled (vsr_session_reset() starts afresh)");
}

void vsri_session_counts(const vsr_session *ses, int64_t *chunks, int64_t *tiles)
{
    *chunks = ses->chunks_run;
    *tiles = ses->tiles_run;
}

vsr_tracker *vsri_session_tracker(const vsr_session *ses)
{
    return ses->tracker;
}

const vsr_model *vsri_session_model(const vsr_session *ses)
{
    return ses->model;
}

int vsr_session_get_card(const vsr_session *ses, vsr_model_card *card)
{
    if (!ses)
        return vsri_error(VSR_EINVAL, "vsr_session_get_card: no session");
    return vsr_model_get_card(ses->model, card);
}

int vsr_session_get_info(const vsr_session *ses, vsr_session_info *info)
{
    if (!ses)
        return vsri_error(VSR_EINVAL, "vsr_session_get_info: no session");
    vsr_session_info t;
    memset(&t, 0, sizeof(t));
    t.size = sizeof(t);
    vsri_strlcpy(t.device, ses->model->device, sizeof(t.device));
    t.precision = ses->model->precision;
    t.threads = vsri_process_threads(); /* process-wide: read now, never a copy */
    t.batch = ses->batch;
    t.chunk = ses->chunk;
    t.overlap = ses->overlap;
    t.tile = ses->tile;
    t.tile_pad = ses->tile_pad;
    t.scale = ses->model->card.scale;
    t.mem_limit = ses->mem_limit;
    return VSRI_RESULT_OUT(info, &t, "vsr_session_info");
}

void vsri_session_fingerprint(const vsr_session *ses, vsri_strbuf *sb)
{
    const vsr_model *m = ses->model;
    struct stat st;
    if (stat(m->path, &st) != 0)
        memset(&st, 0, sizeof(st));
    /* the model file's size and time catch a replaced model at the same path */
    vsri_sb_printf(sb, "model=%s,%lld,%lld;name=%s;scale=%d;precision=%s;device=%s;batch=%d;chunk=%d;"
                       "overlap=%d;tile=%d;pad=%d;tile_blend=%d;chunk_blend=%d",
                   m->path, (long long)st.st_size, (long long)st.st_mtime, m->card.name, m->card.scale,
                   vsr_precision_name(m->precision), m->device, ses->batch, ses->s.chunk, ses->overlap,
                   ses->s.tile, ses->tile_pad, ses->s.tile_blend, ses->s.chunk_blend);
}

int vsri_session_prepare_frame(vsri_converter *cv, const vsr_frame *in, vsr_frame **out)
{
    *out = NULL;
    if (vsri_frame_is_chw(in)) { /* already the model's layout: no copy */
        *out = vsr_frame_ref((vsr_frame *)in);
        return 0;
    }
    vsr_frame *f;
    int err = vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, in->av->width, in->av->height);
    if (err < 0)
        return err;
    err = vsri_convert(cv, in, f);
    if (err >= 0)
        err = vsri_frame_copy_props(f, in);
    if (err < 0) {
        vsr_frame_unref(&f);
        return err;
    }
    *out = f;
    return 0;
}

/* ---- sizing ---------------------------------------------------------- */

static int64_t pass_bytes(const vsr_session *ses, int w, int h, int rows, int frames)
{
    return (int64_t)(ses->model->bytes_per_pixel * (double)w * h * rows * frames);
}

/* Choose tile size (and chunk length for sequence models) for the first
 * frame's size from the memory limit and the measured bytes per pixel. */
static void resolve_sizes(vsr_session *ses, int w, int h)
{
    const vsr_model_card *c = &ses->model->card;
    int rows = c->layout == VSR_LAYOUT_NCHW || c->center_only ? ses->batch : 1;
    int frames = vsri_model_step_frames(c);
    if (ses->chunk == VSR_AUTO && c->layout == VSR_LAYOUT_NTCHW && !c->center_only) {
        /* as long as fits, up to 32 frames, and always more than the overlap */
        int64_t per_frame = pass_bytes(ses, w, h, 1, 1);
        int64_t n = per_frame > 0 ? ses->mem_limit / per_frame : 32;
        if (n > 32)
            n = 32;
        if (n < ses->overlap + 1)
            n = ses->overlap + 1;
        if (n < 2 * ses->overlap + 2 && 2 * ses->overlap + 2 <= 32)
            n = 2 * ses->overlap + 2; /* at least as many new frames per chunk as overlapped ones */
        ses->chunk = (int)n;
        frames = ses->chunk;
    } else if (c->layout == VSR_LAYOUT_NTCHW && !c->center_only) {
        frames = ses->chunk;
    }
    if (ses->tile == VSR_AUTO) {
        if (pass_bytes(ses, w, h, rows, frames) <= ses->mem_limit) {
            ses->tile = 0;
        } else {
            int t = w > h ? w : h;
            while (t > 16 && pass_bytes(ses, t + 2 * ses->tile_pad, t + 2 * ses->tile_pad, rows, frames) >
                                 ses->mem_limit)
                t /= 2;
            ses->tile = t < 16 ? 16 : t;
        }
        slog(ses, VSR_LOG_INFO, "auto tile for %dx%d within %lld bytes: %d", w, h, (long long)ses->mem_limit,
             ses->tile);
    }
}

static int start_sequence(vsr_session *ses, const vsr_frame *first)
{
    const vsr_model_card *c = &ses->model->card;
    ses->width = first->av->width;
    ses->height = first->av->height;
    configured_sizes(ses);
    resolve_sizes(ses, ses->width, ses->height);
    vsri_chunker_config cc = {
        .mode = vsri_chunk_mode_for(c->frames_in, c->center_only),
        .window = c->frames_in > 1 ? c->frames_in : 0,
        .batch = ses->batch,
        .blend = ses->s.chunk_blend,
    };
    /* length and overlap mean something for sequence models only (resolve_sizes
     * has turned "auto" into a length by now) */
    if (cc.mode == VSRI_CHUNK_SEQUENCE) {
        cc.length = ses->chunk > 0 ? ses->chunk : 1;
        cc.overlap = ses->overlap;
    }
    return vsri_chunker_new(&ses->chunker, &cc);
}

/* ---- buffers ------------------------------------------------------------ */

/* arr (cap elements of elem bytes) grown to hold at least need: the new
 * block (cap updated), arr itself when it is large enough, or NULL when
 * out of memory (arr and cap unchanged). Returning the block, rather than
 * storing it through a void **, keeps the element type's pointer honest. */
static void *grow(void *arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return arr;
    int n = *cap ? *cap * 2 : 8;
    while (n < need)
        n *= 2;
    void *p = realloc(arr, (size_t)n * elem);
    if (p)
        *cap = n;
    return p;
}

static vsr_frame *input_frame(const vsr_session *ses, int64_t index)
{
    for (int i = 0; i < ses->n_in; i++)
        if (ses->in[i].index == index)
            return ses->in[i].frame;
    return NULL;
}

static void release_inputs(vsr_session *ses)
{
    int64_t keep_from = vsri_chunker_first_needed(ses->chunker);
    int k = 0;
    for (int i = 0; i < ses->n_in; i++) {
        if (ses->in[i].index < keep_from)
            vsr_frame_unref(&ses->in[i].frame);
        else
            ses->in[k++] = ses->in[i];
    }
    ses->n_in = k;
}

static int push_ready(vsr_session *ses, vsr_frame *f)
{
    if (ses->n_ready == ses->cap_ready) {
        int n = ses->cap_ready ? ses->cap_ready * 2 : 16;
        vsr_frame **p = malloc(sizeof(*p) * (size_t)n);
        if (!p)
            return VSR_ENOMEM;
        for (int i = 0; i < ses->n_ready; i++)
            p[i] = ses->ready[(ses->ready_head + i) % ses->cap_ready];
        free(ses->ready);
        ses->ready = p;
        ses->cap_ready = n;
        ses->ready_head = 0;
    }
    ses->ready[(ses->ready_head + ses->n_ready) % ses->cap_ready] = f;
    ses->n_ready++;
    return 0;
}

static out_acc *find_acc(vsr_session *ses, int64_t index)
{
    for (int i = 0; i < ses->n_acc; i++)
        if (ses->acc[i].index == index)
            return &ses->acc[i];
    return NULL;
}

/* The accumulator of output frame `index`, created with the properties of
 * input frame `index` (which the current pass holds). */
static int get_acc(vsr_session *ses, int64_t index, int blending, out_acc **out)
{
    out_acc *a = find_acc(ses, index);
    if (a) {
        *out = a;
        return 0;
    }
    const vsr_frame *src = input_frame(ses, index);
    if (!src)
        return vsri_error(VSR_EINVAL, "internal: input frame %lld is gone before its output", (long long)index);
    out_acc *accs = grow(ses->acc, &ses->cap_acc, ses->n_acc + 1, sizeof(out_acc));
    if (!accs)
        return VSR_ENOMEM;
    ses->acc = accs;
    int s = ses->model->card.scale;
    vsr_frame *f;
    int err = vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, ses->width * s, ses->height * s);
    if (err < 0)
        return err;
    err = vsri_frame_copy_props(f, src);
    if (err < 0) {
        vsr_frame_unref(&f);
        return err;
    }
    if (blending)
        memset(vsri_frame_chw(f), 0, sizeof(float) * 3 * (size_t)f->av->width * f->av->height);
    a = &ses->acc[ses->n_acc++];
    a->index = index;
    a->frame = f;
    a->blending = blending;
    *out = a;
    return 0;
}

static int finish_acc(vsr_session *ses, int64_t index)
{
    for (int i = 0; i < ses->n_acc; i++) {
        if (ses->acc[i].index != index)
            continue;
        vsr_frame *f = ses->acc[i].frame;
        ses->acc[i] = ses->acc[--ses->n_acc];
        return push_ready(ses, f);
    }
    return vsri_error(VSR_EINVAL, "internal: output frame %lld completed twice", (long long)index);
}

/* ---- one forward pass ------------------------------------------------- */

/* Copy the tile's model input from the held frames: replicated edges
 * where the tile reaches past the frame, range mapped from [0,1]. */
static void gather(const vsr_session *ses, const vsri_tile *t, const vsr_frame *f, float *dst)
{
    const vsr_model_card *c = &ses->model->card;
    const float *src = vsri_frame_chw(f);
    int W = ses->width, H = ses->height;
    int tw = t->in_w, th = t->in_h;
    int x_first = t->padded.x0 - t->repl_left, y_first = t->padded.y0 - t->repl_top;
    float lo = c->range_min, span = c->range_max - c->range_min;
    int identity = lo == 0.0f && span == 1.0f;
    for (int ch = 0; ch < 3; ch++) {
        const float *plane = src + (size_t)ch * W * H;
        for (int y = 0; y < th; y++) {
            int sy = y_first + y;
            sy = sy < 0 ? 0 : sy >= H ? H - 1 : sy;
            const float *row = plane + (size_t)sy * W;
            float *d = dst + ((size_t)ch * th + y) * tw;
            int x = 0;
            /* left edge replication, then the run inside the frame, then right */
            for (; x < tw && x_first + x < 0; x++)
                d[x] = row[0];
            int inside = W - (x_first + x);
            int run = tw - x < inside ? tw - x : inside;
            if (run > 0) {
                memcpy(d + x, row + x_first + x, sizeof(float) * (size_t)run);
                x += run;
            }
            for (; x < tw; x++)
                d[x] = row[W - 1];
            if (!identity)
                for (int i = 0; i < tw; i++)
                    d[i] = lo + d[i] * span;
        }
    }
}

/* Write (or add, weighted) the kept part of one model output image into
 * its output frame. */
static void scatter(const vsr_session *ses, const vsri_tile *t, const float *img, int img_w, int img_h,
                    out_acc *a, double chunk_weight)
{
    const vsr_model_card *c = &ses->model->card;
    float *dst = vsri_frame_chw(a->frame);
    int OW = a->frame->av->width, OH = a->frame->av->height;
    float lo = c->range_min, inv = 1.0f / (c->range_max - c->range_min);
    int identity = lo == 0.0f && inv == 1.0f;
    for (int ch = 0; ch < 3; ch++) {
        const float *plane = img + (size_t)ch * img_w * img_h;
        float *oplane = dst + (size_t)ch * OW * OH;
        int kw = t->out_dst.x1 - t->out_dst.x0, kh = t->out_dst.y1 - t->out_dst.y0;
        for (int y = 0; y < kh; y++) {
            const float *s = plane + (size_t)(t->out_src.y0 + y) * img_w + t->out_src.x0;
            float *d = oplane + (size_t)(t->out_dst.y0 + y) * OW + t->out_dst.x0;
            if (!a->blending && identity) {
                memcpy(d, s, sizeof(float) * (size_t)kw);
                continue;
            }
            for (int x = 0; x < kw; x++) {
                float v = identity ? s[x] : (s[x] - lo) * inv;
                if (a->blending) {
                    double w = chunk_weight * vsri_tile_weight(t, t->out_dst.x0 + x, t->out_dst.y0 + y);
                    d[x] += (float)(w * v);
                } else {
                    d[x] = v;
                }
            }
        }
    }
}

/* The model's output can leave as it is, without assembling a copy: one
 * pass over whole frames (no tiles, no edge padding), values already in
 * [0,1], nothing blended, and every kept frame finished by this pass. */
static int can_hand_out(vsr_session *ses, const vsri_chunk *ch, const vsri_tile *t, int ntiles, int ow, int oh,
                        int blending)
{
    const vsr_model_card *c = &ses->model->card;
    if (ntiles != 1 || ses->plan.n_tiles != 1 || blending || c->range_min != 0.0f || c->range_max != 1.0f)
        return 0;
    int s = c->scale;
    if (t->in_w != ses->width || t->in_h != ses->height || ow != ses->width * s || oh != ses->height * s ||
        t->out_src.x0 != 0 || t->out_src.y0 != 0)
        return 0;
    for (int k = 0; k < ch->n_keep; k++)
        if (!ch->keep[k].complete || find_acc(ses, ch->keep[k].frame))
            return 0;
    return 1;
}

static void release_result(void *opaque, uint8_t *data)
{
    (void)data;
    vsrt_result_free(opaque);
}

/* Wrap each kept output image of res as an output frame (they share res,
 * which is freed with the last of them). Takes res, also on failure. */
static int hand_out(vsr_session *ses, const vsri_chunk *ch, vsrt_result *res, const float *data, int ow, int oh)
{
    size_t img = (size_t)3 * ow * oh;
    const int64_t *shape = vsrt_result_shape(res);
    size_t total = sizeof(float);
    for (int i = 0; i < vsrt_result_ndim(res); i++)
        total *= (size_t)shape[i];
    AVBufferRef *buf = av_buffer_create((uint8_t *)data, total, release_result, res, 0);
    if (!buf) {
        vsrt_result_free(res);
        return VSR_ENOMEM;
    }
    int err = 0;
    for (int k = 0; k < ch->n_keep && err >= 0; k++) {
        const vsri_chunk_keep *kp = &ch->keep[k];
        const vsr_frame *src = input_frame(ses, kp->frame);
        if (!src) {
            err = vsri_error(VSR_EINVAL, "internal: input frame %lld is gone before its output", (long long)kp->frame);
            break;
        }
        vsr_frame *f = NULL;
        err = vsri_frame_wrap_rgbf32(&f, buf, (float *)data + img * (size_t)kp->position, ow, oh);
        if (err >= 0)
            err = vsri_frame_copy_props(f, src);
        if (err >= 0)
            err = push_ready(ses, f);
        if (err < 0)
            vsr_frame_unref(&f);
    }
    av_buffer_unref(&buf);
    return err;
}

static void send_record(vsr_session *ses, const char *type, int64_t start, int64_t dur, int64_t frames,
                        int64_t tiles, int success, int code)
{
    vsr_op_record r;
    vsri_stage_record(&r, ses->model, type, ses->run_id, start, dur, frames, ses->width, ses->height,
                      success ? 0 : code, vsr_last_error());
    r.chunks = 1;
    r.tiles = tiles;
    vsr_tracker_record(ses->tracker, &r);
}

/* One record per forward pass, at the tracker's operation granularity. */
static void record(vsr_session *ses, const char *type, int64_t start, int64_t dur, int64_t frames,
                   int64_t tiles, int success, int code)
{
    if (ses->tracker && vsri_tracker_granularity(ses->tracker) == VSR_GRANULARITY_OPERATION)
        send_record(ses, type, start, dur, frames, tiles, success, code);
}

/* Per-chunk totals, for the tracker's chunk granularity. */
typedef struct pass_times {
    int64_t start, upload, infer, download;
} pass_times;

/* Tiles batched into one pass: only when a chunk is a single frame, and
 * only tiles of one size (consecutive in the plan). */
static int tiles_per_pass(const vsr_session *ses, const vsri_chunk *ch)
{
    return ch->rows * ch->frames == 1 ? ses->batch : 1;
}

/* One forward pass over `ntiles` tiles (t[0..ntiles), all the same size)
 * of the chunk's frames. */
static int run_pass(vsr_session *ses, const vsri_chunk *ch, const vsri_tile *t, int ntiles, int all_tiles_done,
                    pass_times *pt)
{
    const vsr_model_card *c = &ses->model->card;
    int s = c->scale;
    int frames = ch->frames;
    int rows = ntiles > 1 ? ntiles : ch->rows;
    size_t img = (size_t)3 * t->in_w * t->in_h;
    size_t need = img * (size_t)rows * frames * sizeof(float);
    const float *input;
    /* Whole frames, one at a time: the frame itself is the tensor. */
    int direct = rows * frames == 1 && t->padded.x0 == 0 && t->padded.y0 == 0 && t->in_w == ses->width &&
                 t->in_h == ses->height && c->range_min == 0.0f && c->range_max == 1.0f && !ses->model->cuda;
    if (direct) {
        input = vsri_frame_chw(input_frame(ses, ch->inputs[0]));
    } else {
        if (need > ses->batch_buf_bytes) {
            vsrt_host_free(ses->model->shim, ses->batch_buf);
            ses->batch_buf = vsrt_host_alloc(ses->model->shim, need);
            ses->batch_buf_bytes = ses->batch_buf ? need : 0;
            if (!ses->batch_buf)
                return VSR_ENOMEM;
        }
        for (int i = 0; i < rows * frames; i++) {
            int64_t index = ch->inputs[ntiles > 1 ? 0 : i];
            const vsr_frame *f = input_frame(ses, index);
            if (!f)
                return vsri_error(VSR_EINVAL, "internal: input frame %lld not held", (long long)index);
            gather(ses, ntiles > 1 ? &t[i] : t, f, ses->batch_buf + img * i);
        }
        input = ses->batch_buf;
    }
    int64_t shape[5];
    int nd;
    if (c->layout == VSR_LAYOUT_NCHW) {
        shape[0] = rows, shape[1] = 3, shape[2] = t->in_h, shape[3] = t->in_w;
        nd = 4;
    } else {
        shape[0] = rows, shape[1] = frames, shape[2] = 3, shape[3] = t->in_h, shape[4] = t->in_w;
        nd = 5;
    }
    vsrt_result *res = NULL;
    vsrt_timing tm = {0, 0, 0};
    int64_t t0 = vsri_now_ns();
    int err = vsri_model_forward(ses->model, input, shape, nd, &res, &tm);
    if (err < 0) {
        record(ses, VSR_OP_INFERENCE, t0, vsri_now_ns() - t0, 0, 1, 0, err);
        return err;
    }
    int64_t outs = ntiles > 1 ? ntiles : ch->outputs;
    int64_t ow = (int64_t)t->in_w * s, oh = (int64_t)t->in_h * s;
    /* The card was checked at load, but a model may still change its mind
     * with the input (e.g. per size): check every pass. */
    int gn = vsrt_result_ndim(res);
    const int64_t *g = vsrt_result_shape(res);
    int64_t elems = 1;
    for (int i = 0; i < gn; i++)
        elems *= g[i];
    if (elems != outs * 3 * ow * oh || g[gn - 1] != ow || g[gn - 2] != oh) {
        vsrt_result_free(res);
        return vsri_error(VSR_ERROR_MODEL_RUN, "model '%s' returned an output of the wrong shape for a %lldx%lld input",
                          c->name, (long long)t->in_w, (long long)t->in_h);
    }
    const float *data = vsrt_result_data(res);
    pt->upload += tm.upload_ns;
    pt->infer += tm.infer_ns;
    pt->download += tm.download_ns;
    record(ses, VSR_OP_UPLOAD, t0, tm.upload_ns, ch->n_keep, ntiles, 1, 0);
    record(ses, VSR_OP_INFERENCE, t0 + tm.upload_ns, tm.infer_ns, ch->n_keep, ntiles, 1, 0);
    record(ses, VSR_OP_DOWNLOAD, t0 + tm.upload_ns + tm.infer_ns, tm.download_ns, ch->n_keep, ntiles, 1, 0);

    int blending = ses->s.tile_blend || ses->s.chunk_blend;
    if (can_hand_out(ses, ch, t, ntiles, (int)ow, (int)oh, blending)) {
        err = hand_out(ses, ch, res, data, (int)ow, (int)oh); /* takes the result */
        ses->tiles_run += ntiles;
        return err;
    }
    for (int k = 0; k < ch->n_keep; k++) {
        const vsri_chunk_keep *kp = &ch->keep[k];
        out_acc *a = NULL;
        err = get_acc(ses, kp->frame, blending, &a);
        if (err < 0)
            break;
        if (ntiles > 1) { /* one frame; output i is tile i */
            for (int i = 0; i < ntiles; i++)
                scatter(ses, &t[i], data + (size_t)i * 3 * ow * oh, (int)ow, (int)oh, a, kp->weight);
        } else {
            scatter(ses, t, data + (size_t)kp->position * 3 * ow * oh, (int)ow, (int)oh, a, kp->weight);
        }
        if (kp->complete && all_tiles_done && (err = finish_acc(ses, kp->frame)) < 0)
            break;
    }
    vsrt_result_free(res);
    ses->tiles_run += ntiles;
    return err;
}

static void record_chunk(vsr_session *ses, const vsri_chunk *ch, const pass_times *pt, int ntiles)
{
    if (!ses->tracker || vsri_tracker_granularity(ses->tracker) != VSR_GRANULARITY_CHUNK)
        return;
    send_record(ses, VSR_OP_UPLOAD, pt->start, pt->upload, ch->n_keep, ntiles, 1, 0);
    send_record(ses, VSR_OP_INFERENCE, pt->start + pt->upload, pt->infer, ch->n_keep, ntiles, 1, 0);
    send_record(ses, VSR_OP_DOWNLOAD, pt->start + pt->upload + pt->infer, pt->download, ch->n_keep, ntiles, 1, 0);
}

/* Make sure a tile plan exists that fits the memory limit; halve the tile
 * size while one pass would not fit (logged once). */
static int ensure_plan(vsr_session *ses, const vsri_chunk *ch, int force_smaller)
{
    const vsr_model_card *c = &ses->model->card;
    for (;;) {
        if (!ses->have_plan || force_smaller) {
            if (force_smaller) {
                int cur = ses->tile > 0 ? ses->tile : (ses->width > ses->height ? ses->width : ses->height);
                int next = cur / 2;
                if (next < 8)
                    return vsri_error(VSR_ERROR_DEVICE_OOM,
                                      "model '%s' does not fit in %lld bytes even with %d-pixel tiles", c->name,
                                      (long long)ses->mem_limit, cur);
                if (!ses->tile_shrunk_logged)
                    slog(ses, VSR_LOG_WARNING,
                         "not enough memory for %d-pixel tiles within %lld bytes: using %d (and smaller if needed)",
                         cur, (long long)ses->mem_limit, next);
                ses->tile_shrunk_logged = 1;
                ses->tile = next;
                force_smaller = 0;
            }
            if (ses->have_plan)
                vsri_tiler_free(&ses->plan);
            ses->have_plan = 0;
            vsri_tiler_config tc = {
                .width = ses->width,
                .height = ses->height,
                .tile = ses->tile > 0 ? ses->tile : 0,
                .pad = ses->tile_pad,
                .size_multiple = c->size_multiple > 0 ? c->size_multiple : 1,
                .scale = c->scale,
                .blend = ses->s.tile_blend,
            };
            int err = vsri_tiler_plan(&ses->plan, &tc);
            if (err < 0)
                return err;
            ses->have_plan = 1;
        }
        /* the largest tile of the plan must fit */
        int64_t worst = 0;
        for (int i = 0; i < ses->plan.n_tiles; i++) {
            const vsri_tile *t = &ses->plan.tiles[i];
            int per_pass = tiles_per_pass(ses, ch);
            if (per_pass > ses->plan.n_tiles)
                per_pass = ses->plan.n_tiles;
            int64_t b = pass_bytes(ses, t->in_w, t->in_h, ch->rows * per_pass, ch->frames);
            if (b > worst)
                worst = b;
        }
        if (worst <= ses->mem_limit)
            return 0;
        force_smaller = 1;
    }
}

static int run_chunk(vsr_session *ses, const vsri_chunk *ch)
{
    int err = ensure_plan(ses, ch, 0);
    for (int attempt = 0; err >= 0; attempt++) {
        pass_times pt = {vsri_now_ns(), 0, 0, 0};
        int n = ses->plan.n_tiles;
        int per_pass = tiles_per_pass(ses, ch);
        for (int i = 0; i < n && err >= 0;) {
            if ((err = check_cancel(ses)) < 0)
                return err;
            const vsri_tile *t = &ses->plan.tiles[i];
            int k = 1;
            while (k < per_pass && i + k < n && t[k].in_w == t->in_w && t[k].in_h == t->in_h)
                k++;
            err = run_pass(ses, ch, t, k, i + k == n, &pt);
            i += k;
        }
        if (err == VSR_ERROR_DEVICE_OOM) {
            /* Run the chunk again with smaller tiles; the new tiles overwrite
             * what the failed attempt wrote. Weighted sums cannot be undone,
             * so blending runs give up instead. */
            if (ses->s.tile_blend || ses->s.chunk_blend)
                return err;
            err = ensure_plan(ses, ch, 1);
            if (err < 0)
                return err;
            continue;
        }
        if (err >= 0) {
            ses->chunks_run++;
            record_chunk(ses, ch, &pt, n);
        }
        return err;
    }
    return err;
}

/* Run every pass the planner can plan with the frames held. */
static int run_ready_chunks(vsr_session *ses, int stop_after_output)
{
    for (;;) {
        vsri_chunk ch;
        int r = vsri_chunker_next(ses->chunker, ses->received, ses->eof, &ch);
        if (r == VSR_EOF || r == 0)
            return r;
        if (r < 0)
            return r;
        int err = run_chunk(ses, &ch);
        if (err < 0)
            return err;
        release_inputs(ses);
        if (stop_after_output && ses->n_ready)
            return 1;
    }
}

int vsr_session_send_frame(vsr_session *ses, vsr_frame *f)
{
    if (!ses)
        return vsri_error(VSR_EINVAL, "vsr_session_send_frame: no session");
    int err = check_cancel(ses);
    if (err < 0)
        return err;
    if (ses->failed)
        return vsri_error(VSR_EINVAL, "session failed earlier; call vsr_session_reset()");
    if (ses->eof)
        return vsri_error(VSR_EINVAL, "frame sent after the flush (NULL); call vsr_session_reset() first");
    if (!f) {
        ses->eof = 1;
        return 0;
    }
    if (ses->n_ready)
        return VSR_EAGAIN;
    if (f->av->width <= 0 || f->av->height <= 0)
        return vsri_error(VSR_EINVAL, "frame has no size");
    if (ses->width && (f->av->width != ses->width || f->av->height != ses->height))
        return vsri_error(VSR_EINVAL, "frame size changed from %dx%d to %dx%d within a sequence; call "
                                      "vsr_session_reset() between clips",
                          ses->width, ses->height, f->av->width, f->av->height);
    vsr_frame *rgb;
    err = vsri_session_prepare_frame(ses->cv, f, &rgb);
    if (err < 0)
        return err;
    if (!ses->chunker && (err = start_sequence(ses, rgb)) < 0) {
        vsr_frame_unref(&rgb);
        return err;
    }
    in_slot *slots = grow(ses->in, &ses->cap_in, ses->n_in + 1, sizeof(in_slot));
    if (!slots) {
        vsr_frame_unref(&rgb);
        return VSR_ENOMEM;
    }
    ses->in = slots;
    ses->in[ses->n_in].index = ses->received++;
    ses->in[ses->n_in].frame = rgb;
    ses->n_in++;
    err = run_ready_chunks(ses, 0);
    if (err < 0 && err != VSR_EOF) {
        if (err != VSR_ERROR_CANCELLED)
            ses->failed = 1;
        return err;
    }
    return 0;
}

int vsr_session_receive_frame(vsr_session *ses, vsr_frame **out)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_session_receive_frame: no output pointer");
    *out = NULL;
    if (!ses)
        return vsri_error(VSR_EINVAL, "vsr_session_receive_frame: no session");
    int err = check_cancel(ses);
    if (err < 0)
        return err;
    if (!ses->n_ready && ses->eof && ses->chunker && !ses->failed) {
        err = run_ready_chunks(ses, 1);
        if (err < 0 && err != VSR_EOF) {
            if (err != VSR_ERROR_CANCELLED)
                ses->failed = 1;
            return err;
        }
    }
    if (ses->n_ready) {
        vsr_frame *f = ses->ready[ses->ready_head];
        ses->ready_head = (ses->ready_head + 1) % ses->cap_ready;
        ses->n_ready--;
        if (ses->s.output_format != VSR_PIXFMT_RGBF32) {
            /* the one copy into the caller's format */
            vsr_frame *g = NULL;
            err = vsri_frame_convert(ses->out_cv, f, ses->s.output_format, f->av->width, f->av->height, &g);
            vsr_frame_unref(&f);
            if (err < 0) {
                ses->failed = 1;
                return err;
            }
            f = g;
        }
        *out = f;
        return 0;
    }
    return ses->eof ? VSR_EOF : VSR_EAGAIN;
}
