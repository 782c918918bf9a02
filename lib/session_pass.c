/*
 * A session's forward passes: a chunk of frames is run tile by tile
 * (several tiles of one size in one pass when batching allows); each pass
 * gathers its input from the held frames, runs the model (smaller tiles
 * after an out-of-memory error), and either hands the model's output out
 * as the output frames themselves or scatters it into frames being
 * assembled (tiles, blending). A segment's session (vsri_session_set_range)
 * drops the outputs of frames outside its range: its passes are the
 * whole-clip run's, and a pass at a cut computes the neighbour's frames
 * too. Tracker records are made here.
 */
#include <string.h>

#include <libavutil/buffer.h>

#include "frame_internal.h"
#include "session_state.h"
#include "tracker_internal.h"

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
    const vsr_frame *src = vsri_session_input_frame(ses, index);
    if (!src)
        return vsri_error(VSR_EINVAL, "internal: input frame %lld is gone before its output", (long long)index);
    out_acc *accs = vsri_grow_array(ses->acc, &ses->cap_acc, ses->n_acc + 1, sizeof(out_acc));
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
        return vsri_session_push_ready(ses, f);
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
        if (ch->keep[k].in_range && (!ch->keep[k].complete || find_acc(ses, ch->keep[k].frame)))
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
        if (!kp->in_range) /* another segment's frame (a shared pass) */
            continue;
        const vsr_frame *src = vsri_session_input_frame(ses, kp->frame);
        if (!src) {
            err = vsri_error(VSR_EINVAL, "internal: input frame %lld is gone before its output", (long long)kp->frame);
            break;
        }
        vsr_frame *f = NULL;
        err = vsri_frame_wrap_rgbf32(&f, buf, (float *)data + img * (size_t)kp->position, ow, oh);
        if (err >= 0)
            err = vsri_frame_copy_props(f, src);
        if (err >= 0)
            err = vsri_session_push_ready(ses, f);
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
        input = vsri_frame_chw(vsri_session_input_frame(ses, ch->inputs[0]));
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
            const vsr_frame *f = vsri_session_input_frame(ses, index);
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
        if (!kp->in_range) /* another segment's frame (a shared pass) */
            continue;
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

static int run_chunk(vsr_session *ses, const vsri_chunk *ch)
{
    int err = vsri_session_ensure_plan(ses, ch, 0);
    while (err >= 0) {
        pass_times pt = {vsri_now_ns(), 0, 0, 0};
        int n = ses->plan.n_tiles;
        int per_pass = vsri_tiles_per_pass(ses, ch);
        for (int i = 0; i < n && err >= 0;) {
            if ((err = vsri_session_check_cancel(ses)) < 0)
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
            err = vsri_session_ensure_plan(ses, ch, 1);
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

int vsri_session_run_ready_chunks(vsr_session *ses, int stop_after_output)
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

