/*
 * vsr_session: run a model over a sequence of frames. This file has the
 * settings, the send/receive state machine and the queues: input frames
 * are held until no future pass needs them, finished output frames wait
 * in order for receive. Sizing is in session_sizing.c, the forward passes
 * in session_pass.c.
 */
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "frame_internal.h"
#include "process.h"
#include "session_internal.h"
#include "session_state.h"

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

void vsri_session_log(const vsr_session *ses, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vsri_log_to(ses->log_cb, ses->log_user, level, "%s", msg);
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
    ses->mem_limit = ses->s.mem_limit > 0 ? ses->s.mem_limit : vsri_session_default_mem_limit(ses->model);
    /* Batching is slower per frame than single frames on CPUs (activations
     * leave the caches), so the CPU default is 1; GPUs like more. */
    ses->batch = ses->s.batch != VSR_AUTO ? ses->s.batch : ses->model->cuda ? 4 : 1;
    ses->overlap = ses->s.overlap != VSR_AUTO ? ses->s.overlap : 2 * c->rf_temporal;
    if (c->frames_in > 1 && !c->center_only && ses->s.chunk != VSR_AUTO && ses->s.chunk != c->frames_in)
        vsri_session_log(ses, VSR_LOG_WARNING, "model '%s' takes exactly %d frames: chunk %d ignored", c->name,
                         c->frames_in, ses->s.chunk);
    vsri_session_configured_sizes(ses);
    if (ses->chunk != VSR_AUTO && c->layout == VSR_LAYOUT_NTCHW && !c->center_only &&
        ses->overlap >= ses->chunk) {
        err = vsri_error(VSR_EINVAL, "overlap %d must be smaller than the chunk length %d", ses->overlap,
                         ses->chunk);
        vsr_session_close(&ses);
        return err;
    }
    if (ses->chunk != VSR_AUTO && c->rf_temporal > 0 && ses->overlap < 2 * c->rf_temporal)
        vsri_session_log(ses, VSR_LOG_WARNING,
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
    memset(&ses->range, 0, sizeof(ses->range));
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

/* Checked between forward passes too, so a cancel ends a long send or
 * drain promptly. */
int vsri_session_check_cancel(const vsr_session *ses)
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

const vsr_session_settings *vsri_session_settings(const vsr_session *ses)
{
    return &ses->s;
}

vsr_tracker *vsri_session_tracker(const vsr_session *ses)
{
    return ses->tracker;
}

vsri_log_sink vsri_session_log_sink(const vsr_session *ses)
{
    return (vsri_log_sink){ses->log_cb, ses->log_user};
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

/* The planner settings for the sizes resolved now (start_sequence). */
static void chunker_config_now(const vsr_session *ses, vsri_chunker_config *cc)
{
    const vsr_model_card *c = &ses->model->card;
    memset(cc, 0, sizeof(*cc));
    cc->mode = vsri_chunk_mode_for(c->frames_in, c->center_only);
    cc->window = c->frames_in > 1 ? c->frames_in : 0;
    cc->batch = ses->batch;
    cc->blend = ses->s.chunk_blend;
    /* length and overlap mean something for sequence models only (resolve_sizes
     * has turned "auto" into a length by now) */
    if (cc->mode == VSRI_CHUNK_SEQUENCE) {
        cc->length = ses->chunk > 0 ? ses->chunk : 1;
        cc->overlap = ses->overlap;
    }
}

int vsri_session_chunker_config(vsr_session *ses, int w, int h, vsri_chunker_config *cfg, int *tile)
{
    if (w <= 0 || h <= 0)
        return vsri_error(VSR_EINVAL, "frame size %dx%d", w, h);
    /* resolve as a sequence of that size would, then put back the state of
     * the sequence that may be running */
    int chunk = ses->chunk, t = ses->tile, logged = ses->tile_shrunk_logged;
    vsri_session_configured_sizes(ses);
    vsri_session_resolve_sizes(ses, w, h);
    chunker_config_now(ses, cfg);
    if (tile)
        *tile = ses->tile;
    ses->chunk = chunk;
    ses->tile = t;
    ses->tile_shrunk_logged = logged;
    return 0;
}

int vsri_session_set_range(vsr_session *ses, const vsri_chunk_range *range)
{
    if (ses->chunker)
        return vsri_error(VSR_EINVAL, "internal: a segment range set while a sequence runs");
    if (!range || range->total < 1 || range->first < 0 || range->count < 1 ||
        range->first + range->count > range->total)
        return vsri_error(VSR_EINVAL, "internal: invalid segment range");
    ses->range = *range;
    return 0;
}

static int start_sequence(vsr_session *ses, const vsr_frame *first)
{
    ses->width = first->av->width;
    ses->height = first->av->height;
    vsri_session_configured_sizes(ses);
    vsri_session_resolve_sizes(ses, ses->width, ses->height);
    vsri_chunker_config cc;
    chunker_config_now(ses, &cc);
    if (ses->range.total <= 0)
        return vsri_chunker_new(&ses->chunker, &cc);
    /* a segment: the frames sent start at its feed start, numbered globally */
    vsri_chunk_span span;
    int err = vsri_chunker_span(&cc, &ses->range, &span);
    if (err >= 0)
        err = vsri_chunker_new_range(&ses->chunker, &cc, &ses->range);
    if (err >= 0)
        ses->received = span.feed_first;
    return err;
}

/* ---- queues ------------------------------------------------------------- */

/* Returning the block, rather than storing it through a void **, keeps the
 * element type's pointer honest (strict aliasing). */
void *vsri_grow_array(void *arr, int *cap, int need, size_t elem)
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

vsr_frame *vsri_session_input_frame(const vsr_session *ses, int64_t index)
{
    for (int i = 0; i < ses->n_in; i++)
        if (ses->in[i].index == index)
            return ses->in[i].frame;
    return NULL;
}

int vsri_session_push_ready(vsr_session *ses, vsr_frame *f)
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

int vsr_session_send_frame(vsr_session *ses, vsr_frame *f)
{
    if (!ses)
        return vsri_error(VSR_EINVAL, "vsr_session_send_frame: no session");
    int err = vsri_session_check_cancel(ses);
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
    in_slot *slots = vsri_grow_array(ses->in, &ses->cap_in, ses->n_in + 1, sizeof(in_slot));
    if (!slots) {
        vsr_frame_unref(&rgb);
        return VSR_ENOMEM;
    }
    ses->in = slots;
    ses->in[ses->n_in].index = ses->received++;
    ses->in[ses->n_in].frame = rgb;
    ses->n_in++;
    err = vsri_session_run_ready_chunks(ses, 0);
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
    int err = vsri_session_check_cancel(ses);
    if (err < 0)
        return err;
    if (!ses->n_ready && ses->eof && ses->chunker && !ses->failed) {
        err = vsri_session_run_ready_chunks(ses, 1);
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
