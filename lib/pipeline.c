/*
 * vsr_upscale_file: decode -> convert -> infer -> encode. Pipelined, each
 * stage runs on its own thread and bounded queues join them (a slow stage
 * holds the others back, so memory stays bounded); serial, the very same
 * stage functions run one after another in the caller's thread. Both give
 * identical output: every frame takes the same path through the same code.
 *
 * A range run (run.h) seeks to the segment's feed start, decodes the input
 * frames its passes read and no more, runs the session in its segment mode
 * and encodes the segment's frames, checking each one's pts against the
 * input's index.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "frame_internal.h"
#include "model_internal.h"
#include "quality.h"
#include "queue.h"
#include "range.h"
#include "run.h"
#include "session_internal.h"
#include "stream_internal.h"
#include "tracker_internal.h"

void vsr_run_settings_default(vsr_run_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->input = NULL;
    s->output = NULL;
    s->pipelined = 1;
    s->queue_depth = 4;
    s->resume = 0;
    s->reference_path = NULL;
    s->start_us = s->end_us = -1;
    s->start_frame = s->end_frame = -1;
}

/* Time and frames of one stage, reported to the tracker every `every`
 * frames (1 = per operation) and at the end. */
typedef struct stage_acc {
    const char *type;
    int64_t start, busy, frames, every;
} stage_acc;

typedef struct run_ctx {
    vsr_session *ses;
    vsr_input *in;
    vsr_output *out;
    vsr_input *ref;
    const vsri_range_run *range; /* a part of the file; NULL: the whole file */
    int64_t feed_left;     /* range: input frames still to decode */
    vsr_tracker *tr;
    vsr_op *run_op;        /* the run, in flight in the tracker */
    vsr_run_settings rs;
    vsri_log_sink log_sink; /* the session's: set on every thread of the run */
    uint64_t run_id;
    int64_t start_ns;
    int64_t frames_total;
    int out_w, out_h, in_w, in_h;

    vsri_queue *q_dec, *q_conv, *q_enc;
    atomic_int in_flight;
    atomic_int max_in_flight;
    atomic_int stop;
    atomic_int cancelled;  /* set by whichever stage meets the cancel */

    pthread_mutex_t err_lock;
    int err;
    char err_msg[1024];

    int64_t decoded;
    int64_t written;
    vsri_converter *cv_conv, *cv_ref;
    stage_acc acc_dec, acc_pre, acc_post, acc_enc;
    vsri_range kept;       /* the part of the input kept (start/end settings) */
} run_ctx;

static void fail(run_ctx *c, int code)
{
    if (code == VSR_ERROR_CANCELLED)
        atomic_store(&c->cancelled, 1);
    pthread_mutex_lock(&c->err_lock);
    if (!c->err) {
        c->err = code;
        vsri_strlcpy(c->err_msg, vsr_last_error(), sizeof(c->err_msg));
        if (!c->err_msg[0])
            vsri_strlcpy(c->err_msg, vsr_strerror(code), sizeof(c->err_msg));
    }
    pthread_mutex_unlock(&c->err_lock);
    atomic_store(&c->stop, 1);
    if (c->q_dec) {
        vsri_queue_abort(c->q_dec);
        vsri_queue_abort(c->q_conv);
        vsri_queue_abort(c->q_enc);
    }
}

static int should_stop(run_ctx *c)
{
    if (vsri_session_cancelled(c->ses) && !atomic_load(&c->stop))
        fail(c, VSR_ERROR_CANCELLED);
    return atomic_load(&c->stop);
}

/* A record of this run with what every record shares filled in. */
static void fill_record(run_ctx *c, vsr_op_record *r, const char *type, int64_t start, int64_t dur,
                        int64_t frames)
{
    vsri_stage_record(r, vsri_session_model(c->ses), type, c->run_id, start, dur, frames, c->in_w, c->in_h, 0,
                      NULL);
}

static void emit_record(run_ctx *c, const char *type, int64_t start, int64_t dur, int64_t frames)
{
    vsr_op_record r;
    fill_record(c, &r, type, start, dur, frames);
    if (vsr_tracker_record(c->tr, &r) == VSR_ERROR_CANCELLED && !atomic_load(&c->cancelled))
        fail(c, VSR_ERROR_CANCELLED);
}

static void stage_add(run_ctx *c, stage_acc *a, int64_t start, int64_t dur)
{
    if (!c->tr)
        return;
    if (!a->frames)
        a->start = start;
    a->busy += dur;
    a->frames++;
    if (a->frames >= a->every) {
        emit_record(c, a->type, a->start, a->busy, a->frames);
        a->busy = a->frames = 0;
    }
}

static void stage_flush(run_ctx *c, stage_acc *a)
{
    if (c->tr && a->frames && a->every < INT64_MAX)
        emit_record(c, a->type, a->start, a->busy, a->frames);
    a->busy = a->frames = 0;
}

static void note_in_flight(run_ctx *c, int delta)
{
    int now = atomic_fetch_add(&c->in_flight, delta) + delta;
    int max = atomic_load(&c->max_in_flight);
    while (now > max && !atomic_compare_exchange_weak(&c->max_in_flight, &max, now))
        ;
    if (delta > 0 && c->tr)
        vsri_tracker_note_inflight(c->tr, now);
}

/* ---- the four stages, each one frame at a time ------------------------- */

/* The copied streams follow the range as it becomes known. */
static void update_copy_window(run_ctx *c)
{
    if (!c->out)
        return;
    int64_t start, end, shift;
    vsri_range_copy_window(&c->kept, &start, &end, &shift);
    vsri_output_set_copy_window(c->out, start, end, shift);
}

/* The range's end was read: read the other streams' packets up to it (and
 * a margin, for muxers that interleave loosely); none after it are needed. */
static void end_of_range(run_ctx *c)
{
    update_copy_window(c);
    if (c->kept.copy_end_us < INT64_MAX - 2000000)
        vsri_input_pump(c->in, c->kept.copy_end_us + 2000000);
    vsri_input_end_packets(c->in);
}

/* The next frame of the input that the run keeps. */
static int read_kept_frame(run_ctx *c, vsr_frame **f)
{
    for (;;) {
        int err = vsr_input_read_frame(c->in, f);
        if (err < 0 || !c->kept.active)
            return err;
        int started = c->kept.started;
        int take = vsri_range_take(&c->kept, *f);
        if (take == VSRI_RANGE_KEEP) {
            if (!started)
                update_copy_window(c);
            return 0;
        }
        vsr_frame_unref(f);
        if (take == VSRI_RANGE_END) {
            end_of_range(c);
            return VSR_EOF;
        }
        if (should_stop(c)) /* dropping frames before the start can take a while */
            return VSR_ERROR_CANCELLED;
    }
}

static int stage_decode(run_ctx *c, vsr_frame **f)
{
    int64_t t0 = vsri_now_ns();
    if (c->range && c->feed_left <= 0)
        return VSR_EOF; /* the segment's passes read no further */
    int err = read_kept_frame(c, f);
    if (err == VSR_EOF || err == VSR_ERROR_CANCELLED)
        return err;
    if (err < 0) {
        fail(c, err);
        return err;
    }
    stage_add(c, &c->acc_dec, t0, vsri_now_ns() - t0);
    c->decoded++;
    c->feed_left--;
    note_in_flight(c, 1);
    return 0;
}

static int stage_convert(run_ctx *c, vsr_frame *f, vsr_frame **g)
{
    int64_t t0 = vsri_now_ns();
    int err = vsri_session_prepare_frame(c->cv_conv, f, g);
    vsr_frame_unref(&f);
    if (err < 0) {
        fail(c, err);
        return err;
    }
    stage_add(c, &c->acc_pre, t0, vsri_now_ns() - t0);
    return 0;
}

static void report_progress(run_ctx *c)
{
    if (!c->tr)
        return;
    vsr_progress p;
    memset(&p, 0, sizeof(p));
    p.size = sizeof(p);
    p.run_id = c->run_id;
    p.frames_done = c->written + (c->range ? c->range->progress_base : 0);
    p.frames_total = c->frames_total;
    p.elapsed_s = (vsri_now_ns() - c->start_ns) / 1e9;
    p.fps = p.elapsed_s > 0 ? c->written / p.elapsed_s : 0;
    p.eta_s = c->frames_total > 0 && p.fps > 0 ? (c->frames_total - p.frames_done) / p.fps : -1;
    if (p.eta_s < 0 && c->frames_total > 0)
        p.eta_s = -1;
    if (vsr_tracker_progress(c->tr, &p) == VSR_ERROR_CANCELLED && !atomic_load(&c->cancelled))
        fail(c, VSR_ERROR_CANCELLED);
}

static int measure_quality(run_ctx *c, const vsr_frame *out)
{
    vsr_frame *rf = NULL, *rgb = NULL;
    int err = vsr_input_read_frame(c->ref, &rf);
    if (err == VSR_EOF)
        return vsri_error(VSR_ERROR_INPUT, "reference '%s' has fewer frames than the output (%lld)",
                          c->rs.reference_path, (long long)(c->written + 1));
    if (err < 0)
        return err;
    if (rf->av->width != out->av->width || rf->av->height != out->av->height) {
        err = vsri_error(VSR_EINVAL, "reference '%s' is %dx%d but the output is %dx%d", c->rs.reference_path,
                         rf->av->width, rf->av->height, out->av->width, out->av->height);
        vsr_frame_unref(&rf);
        return err;
    }
    err = vsri_session_prepare_frame(c->cv_ref, rf, &rgb);
    vsr_frame_unref(&rf);
    if (err < 0)
        return err;
    vsri_image a, b;
    vsri_image_rgbf32(&a, vsri_frame_chw(out), out->av->width, out->av->height);
    vsri_image_rgbf32(&b, vsri_frame_chw(rgb), rgb->av->width, rgb->av->height);
    double psnr = 0, ssim = 0;
    err = vsri_quality_psnr(&a, &b, &psnr);
    if (err >= 0)
        err = vsri_quality_ssim(&a, &b, &ssim);
    vsr_frame_unref(&rgb);
    if (err < 0)
        return err;
    return vsr_tracker_record_quality(c->tr, c->written, psnr, ssim);
}

/* A segment's frame k must be input frame first+k with its pts: the input
 * checks what it decodes against the index, this checks what the session
 * gives back. */
static int check_range_frame(run_ctx *c, const vsr_frame *f)
{
    const vsri_range_run *r = c->range;
    int64_t k = r->range.first + c->written;
    if (c->written >= r->range.count)
        return vsri_error(VSR_ERROR_INPUT, "input '%s': the segment of frames %lld..%lld got a frame more",
                          vsri_input_name(c->in), (long long)r->range.first,
                          (long long)(r->range.first + r->range.count - 1));
    if (vsr_frame_pts(f) != r->index->pts[k])
        return vsri_error(VSR_ERROR_INPUT,
                          "input '%s': output frame %lld has pts %lld, but the index says %lld: the input "
                          "does not decode to the frames it was planned with",
                          vsri_input_name(c->in), (long long)k, (long long)vsr_frame_pts(f),
                          (long long)r->index->pts[k]);
    return 0;
}

static int stage_encode(run_ctx *c, vsr_frame *f)
{
    int64_t t0 = vsri_now_ns();
    int err = c->range ? check_range_frame(c, f) : 0;
    if (err >= 0 && c->ref && c->tr)
        err = measure_quality(c, f);
    if (err >= 0)
        err = vsr_output_write_frame(c->out, f);
    vsr_frame_unref(&f);
    note_in_flight(c, -1);
    if (err < 0) {
        fail(c, err);
        return err;
    }
    int64_t conv_ns = 0, enc_ns = 0;
    vsri_output_last_times(c->out, &conv_ns, &enc_ns);
    stage_add(c, &c->acc_post, t0, conv_ns);
    stage_add(c, &c->acc_enc, t0 + conv_ns, enc_ns);
    c->written++;
    if (c->range && c->range->on_frame)
        c->range->on_frame(c->range->user, c->written);
    report_progress(c);
    return 0;
}

/* Send one prepared frame (NULL = flush) and pass on every frame the
 * session has ready: to the encoder directly (serial) or its queue. */
static int stage_infer(run_ctx *c, vsr_frame *f, int (*deliver)(run_ctx *c, vsr_frame *out))
{
    for (;;) {
        int err = vsr_session_send_frame(c->ses, f);
        if (err == 0)
            break;
        if (err != VSR_EAGAIN) {
            vsr_frame_unref(&f);
            fail(c, err);
            return err;
        }
        /* the session wants its output taken first */
        vsr_frame *g;
        while ((err = vsr_session_receive_frame(c->ses, &g)) == 0)
            if ((err = deliver(c, g)) < 0) {
                vsr_frame_unref(&f);
                return err;
            }
        if (err != VSR_EAGAIN && err != VSR_EOF) {
            vsr_frame_unref(&f);
            fail(c, err);
            return err;
        }
    }
    vsr_frame_unref(&f);
    vsr_frame *g;
    int err;
    while ((err = vsr_session_receive_frame(c->ses, &g)) == 0)
        if ((err = deliver(c, g)) < 0)
            return err;
    if (err != VSR_EAGAIN && err != VSR_EOF) {
        fail(c, err);
        return err;
    }
    return 0;
}

/* ---- serial ------------------------------------------------------------ */

static int deliver_serial(run_ctx *c, vsr_frame *g)
{
    return stage_encode(c, g);
}

static void run_serial(run_ctx *c)
{
    while (!should_stop(c)) {
        vsr_frame *f = NULL, *g = NULL;
        int err = stage_decode(c, &f);
        if (err == VSR_EOF) {
            stage_infer(c, NULL, deliver_serial);
            return;
        }
        if (err < 0 || stage_convert(c, f, &g) < 0)
            return;
        if (stage_infer(c, g, deliver_serial) < 0)
            return;
    }
}

/* ---- pipelined --------------------------------------------------------- */

static void drop_frame(void *item)
{
    vsr_frame *f = item;
    vsr_frame_unref(&f);
}

static void *decode_thread(void *arg)
{
    run_ctx *c = arg;
    vsri_log_set_thread_sink(c->log_sink.cb, c->log_sink.user);
    while (!should_stop(c)) {
        vsr_frame *f = NULL;
        int err = stage_decode(c, &f);
        if (err < 0)
            break;
        if (vsri_queue_push(c->q_dec, f) < 0) {
            vsr_frame_unref(&f);
            break;
        }
    }
    vsri_queue_close(c->q_dec);
    return NULL;
}

static void *convert_thread(void *arg)
{
    run_ctx *c = arg;
    vsri_log_set_thread_sink(c->log_sink.cb, c->log_sink.user);
    void *item;
    while (!should_stop(c) && vsri_queue_pop(c->q_dec, &item) == 0) {
        vsr_frame *g = NULL;
        if (stage_convert(c, item, &g) < 0)
            break;
        if (vsri_queue_push(c->q_conv, g) < 0) {
            vsr_frame_unref(&g);
            break;
        }
    }
    vsri_queue_close(c->q_conv);
    return NULL;
}

static int deliver_queued(run_ctx *c, vsr_frame *g)
{
    int err = vsri_queue_push(c->q_enc, g);
    if (err < 0)
        vsr_frame_unref(&g);
    return err;
}

static void *infer_thread(void *arg)
{
    run_ctx *c = arg;
    vsri_log_set_thread_sink(c->log_sink.cb, c->log_sink.user);
    void *item;
    int r = 0;
    while (!should_stop(c) && (r = vsri_queue_pop(c->q_conv, &item)) == 0)
        if (stage_infer(c, item, deliver_queued) < 0)
            break;
    if (!should_stop(c) && r == VSR_EOF)
        stage_infer(c, NULL, deliver_queued);
    vsri_queue_close(c->q_enc);
    return NULL;
}

static void run_pipelined(run_ctx *c)
{
    int depth = c->rs.queue_depth;
    int err = vsri_queue_new(&c->q_dec, depth);
    if (err >= 0)
        err = vsri_queue_new(&c->q_conv, depth);
    if (err >= 0)
        err = vsri_queue_new(&c->q_enc, depth);
    if (err < 0) {
        fail(c, err);
        return;
    }
    pthread_t td, tc, ti;
    int started = 0;
    if (pthread_create(&td, NULL, decode_thread, c) == 0)
        started++;
    if (started == 1 && pthread_create(&tc, NULL, convert_thread, c) == 0)
        started++;
    if (started == 2 && pthread_create(&ti, NULL, infer_thread, c) == 0)
        started++;
    if (started < 3) {
        fail(c, vsri_error(VSR_ENOMEM, "cannot start the pipeline threads"));
    } else {
        /* the caller's thread encodes */
        void *item;
        while (!should_stop(c) && vsri_queue_pop(c->q_enc, &item) == 0)
            if (stage_encode(c, item) < 0)
                break;
    }
    /* whoever stopped first, make sure every thread can finish */
    if (atomic_load(&c->stop)) {
        vsri_queue_abort(c->q_dec);
        vsri_queue_abort(c->q_conv);
        vsri_queue_abort(c->q_enc);
    }
    if (started > 0)
        pthread_join(td, NULL);
    if (started > 1)
        pthread_join(tc, NULL);
    if (started > 2)
        pthread_join(ti, NULL);
}

/* ---- the whole run ----------------------------------------------------- */

static int device_probe(void *ctx, int64_t *used, int64_t *total, int64_t *peak, double *util)
{
    const vsr_model *m = ctx;
    int64_t fb, tb, pb;
    if (vsrt_device_memory(m->shim, &fb, &tb, &pb) < 0)
        return -1;
    *used = tb - fb;
    *total = tb;
    *peak = pb;
    *util = -1;
    return 0;
}

static void record_run(run_ctx *c, int err, int64_t chunks, int64_t tiles)
{
    if (!c->tr)
        return;
    vsr_op_record r;
    vsri_stage_record(&r, vsri_session_model(c->ses), VSR_OP_RUN, c->run_id, c->start_ns,
                      vsri_now_ns() - c->start_ns, c->written, c->in_w, c->in_h, err, c->err_msg);
    r.chunks = chunks;
    r.tiles = tiles;
    /* ending the run's operation gives the record its memory peaks */
    if (c->run_op)
        vsri_op_end_record(&c->run_op, &r);
    else
        vsr_tracker_record(c->tr, &r);
}

int vsr_upscale_file(vsr_session *ses, const char *input_path, const char *output_path,
                     const vsr_run_settings *settings, vsr_run_result *res)
{
    if (!ses || !input_path || !output_path)
        return vsri_error(VSR_EINVAL, "vsr_upscale_file: session, input and output are required");
    vsr_run_settings rs;
    vsr_run_settings_default(&rs);
    int err = settings ? VSRI_SETTINGS_IN(&rs, settings, "vsr_run_settings") : 0;
    if (err < 0)
        return err;
    /* resume runs the job machinery, which takes the whole input */
    if (rs.resume && vsri_range_is_set(&rs))
        return vsri_error(VSR_EINVAL, "run settings: a range (start/end) cannot be resumed; run it without resume");
    if (rs.resume)
        return vsri_resume_run(ses, input_path, output_path, &rs, res);
    return vsri_upscale_run(ses, input_path, output_path, &rs, NULL, res);
}

/* The output of a range run: video only, and a new GOP where asked. */
static int open_range_output(run_ctx *c, const char *output_path)
{
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    int err = c->rs.output ? VSRI_SETTINGS_IN(&os, c->rs.output, "vsr_output_settings") : 0;
    if (err < 0)
        return err;
    os.copy_streams = 0; /* the other streams join at the stitch */
    /* with the input as source, a segment is encoded exactly as the output
     * of a whole-file run would be (frame rate, colour, aspect, tags) */
    err = vsr_output_open(&c->out, output_path, c->in, &os);
    if (err >= 0 && c->range->closed_gop)
        vsri_output_set_closed_gop(c->out);
    return err;
}

int vsri_upscale_run(vsr_session *ses, const char *input_path, const char *output_path,
                     const vsr_run_settings *settings, const vsri_range_run *range, vsr_run_result *res)
{
    if (!ses || !input_path || !output_path)
        return vsri_error(VSR_EINVAL, "vsr_upscale_file: session, input and output are required");
    if (res && vsri_result_check(res, "vsr_run_result") < 0)
        return VSR_EINVAL;
    run_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return VSR_ENOMEM;
    vsr_run_settings_default(&c->rs);
    int err = settings ? VSRI_SETTINGS_IN(&c->rs, settings, "vsr_run_settings") : 0;
    if (err < 0) {
        free(c);
        return err;
    }
    if (c->rs.queue_depth < 1 || c->rs.queue_depth > 1024) {
        free(c);
        return vsri_error(VSR_EINVAL, "queue depth must be 1..1024");
    }
    c->range = range;
    pthread_mutex_init(&c->err_lock, NULL);
    c->ses = ses;
    c->log_sink = vsri_session_log_sink(ses);
    vsri_log_sink caller_sink = vsri_log_set_thread_sink(c->log_sink.cb, c->log_sink.user);
    c->tr = vsri_session_tracker(ses);
    c->start_ns = vsri_now_ns();
    c->run_id = c->tr ? vsri_tracker_new_run_id(c->tr) : 0;
    vsri_session_begin_run(ses);
    vsri_session_set_run_id(ses, c->run_id);
    const vsr_model *m = vsri_session_model(ses);
    if (c->tr) {
        vsri_tracker_set_queue_depth(c->tr, c->rs.queue_depth);
        if (m->cuda)
            vsri_tracker_set_device_probe(c->tr, device_probe, (void *)m);
        /* without memory for it the run is recorded all the same, without peaks */
        vsr_op_begin(c->tr, VSR_OP_RUN, m->card.name, &c->run_op);
    }
    vsr_granularity g = c->tr ? vsri_tracker_granularity(c->tr) : VSR_GRANULARITY_RUN;
    int64_t every = g == VSR_GRANULARITY_OPERATION ? 1 : g == VSR_GRANULARITY_CHUNK ? 0 : INT64_MAX;
    vsr_session_info si = {.size = sizeof(si)};
    vsr_session_get_info(ses, &si);
    if (every == 0) /* a chunk's worth of frames */
        every = m->card.layout == VSR_LAYOUT_NCHW ? (si.batch > 0 ? si.batch : 1)
                                                  : (si.chunk > 0 ? si.chunk : 8);
    c->acc_dec = (stage_acc){VSR_OP_DECODE, 0, 0, 0, every};
    c->acc_pre = (stage_acc){VSR_OP_PREPROCESS, 0, 0, 0, every};
    c->acc_post = (stage_acc){VSR_OP_POSTPROCESS, 0, 0, 0, every};
    c->acc_enc = (stage_acc){VSR_OP_ENCODE, 0, 0, 0, every};

    c->cv_conv = vsri_converter_alloc();
    c->cv_ref = vsri_converter_alloc();
    if (!c->cv_conv || !c->cv_ref) {
        err = VSR_ENOMEM;
        goto done;
    }
    err = vsr_input_open(&c->in, input_path, c->rs.input);
    if (err < 0)
        goto done;
    vsr_input_info info = {.size = sizeof(info)};
    vsr_input_get_info(c->in, &info);
    c->in_w = info.width;
    c->in_h = info.height;
    c->out_w = info.width * m->card.scale;
    c->out_h = info.height * m->card.scale;
    err = vsri_range_open(&c->kept, &c->rs, c->in);
    if (err < 0)
        goto done;
    c->frames_total = vsri_range_frames(&c->kept, &info);
    if (range) {
        /* a segment: the passes it needs, from its feed start on */
        vsri_chunker_config cc;
        vsri_chunk_span span;
        err = vsri_session_chunker_config(ses, info.width, info.height, &cc, NULL);
        if (err >= 0)
            err = vsri_chunker_span(&cc, &range->range, &span);
        int64_t t_seek = vsri_now_ns();
        if (err >= 0)
            err = vsri_input_seek_frame(c->in, range->index, span.feed_first);
        if (err >= 0)
            vsri_log(VSR_LOG_INFO, "input '%s': frames %lld..%lld: reading frames %lld..%lld, seek to %lld "
                     "(from keyframe %lld) took %.3f s", input_path, (long long)range->range.first,
                     (long long)(range->range.first + range->range.count - 1), (long long)span.feed_first,
                     (long long)span.feed_end - 1, (long long)span.feed_first,
                     (long long)vsri_index_seek_start(range->index, span.feed_first),
                     (vsri_now_ns() - t_seek) / 1e9);
        if (err >= 0)
            err = vsri_session_set_range(ses, &range->range);
        if (err < 0)
            goto done;
        c->feed_left = span.feed_end - span.feed_first;
        c->frames_total = range->progress_total > 0 ? range->progress_total : range->range.count;
    }
    if (c->rs.reference_path && c->tr) {
        err = vsr_input_open(&c->ref, c->rs.reference_path, c->rs.input);
        if (err < 0)
            goto done;
    }
    err = range ? open_range_output(c, output_path) : vsr_output_open(&c->out, output_path, c->in, c->rs.output);
    if (err < 0)
        goto done;
    if (c->kept.active)
        update_copy_window(c);
    if (c->rs.pipelined)
        run_pipelined(c);
    else
        run_serial(c);
    stage_flush(c, &c->acc_dec);
    stage_flush(c, &c->acc_pre);
    stage_flush(c, &c->acc_post);
    stage_flush(c, &c->acc_enc);
    err = c->err;
    /* a cancel counts as such unless another error came first */
    int cancelled = atomic_load(&c->cancelled) && (err == 0 || err == VSR_ERROR_CANCELLED);
    if (err && !cancelled)
        goto done;
    if (c->written == 0 && cancelled) {
        /* nothing to finish: no file (the output is removed when closed) */
        err = vsri_error(VSR_ERROR_CANCELLED, "cancelled before the first frame was written; no output '%s'",
                         output_path);
        vsri_strlcpy(c->err_msg, vsr_last_error(), sizeof(c->err_msg));
        goto done;
    }
    if (c->written == 0 && c->kept.active) {
        err = vsri_error(VSR_ERROR_INPUT, "input '%s' has no frame in the range asked for (run settings start_us, "
                         "end_us, start_frame, end_frame)", input_path);
        vsri_strlcpy(c->err_msg, vsr_last_error(), sizeof(c->err_msg));
        goto done;
    }
    if (c->written == 0) {
        const char *why = NULL;
        vsr_input_damaged(c->in, &why);
        err = vsri_error(VSR_ERROR_INPUT, "input '%s': no frame could be decoded%s%s", input_path,
                         why ? ": " : "", why ? why : "");
        vsri_strlcpy(c->err_msg, vsr_last_error(), sizeof(c->err_msg));
        goto done;
    }
    if (range && !cancelled && c->written != range->range.count) {
        err = vsri_error(VSR_ERROR_INPUT, "input '%s': the segment of frames %lld..%lld got %lld frames, not %lld",
                         input_path, (long long)range->range.first,
                         (long long)(range->range.first + range->range.count - 1), (long long)c->written,
                         (long long)range->range.count);
        vsri_strlcpy(c->err_msg, vsr_last_error(), sizeof(c->err_msg));
        goto done;
    }
    /* Stopped before the input's end (max_frames, a cancel; a start/end
     * range sets its own copy window): the other streams are copied as far
     * as the video reaches, also what the demuxer had not read yet (a
     * stitch copies the same). A cancel still finishes the output: it is
     * reported below. */
    err = 0;
    if (!range && !c->kept.active && !vsri_input_packets_done(c->in))
        err = vsri_input_pump(c->in, vsri_output_video_end_us(c->out));
    if (err >= 0)
        err = vsr_output_finish(c->out);
    if (err < 0) {
        vsri_strlcpy(c->err_msg, vsr_last_error(), sizeof(c->err_msg));
        goto done;
    }
    if (cancelled) {
        err = VSR_ERROR_CANCELLED;
        snprintf(c->err_msg, sizeof(c->err_msg), "cancelled after %lld frames; output '%s' holds them",
                 (long long)c->written, output_path);
    } else {
        const char *why = NULL;
        if (vsr_input_damaged(c->in, &why)) {
            err = VSR_ERROR_INPUT_DAMAGED;
            snprintf(c->err_msg, sizeof(c->err_msg), "%s; output '%s' holds all %lld frames decoded", why,
                     output_path, (long long)c->written);
        }
    }
done:
    if (err < 0 && !c->err_msg[0])
        vsri_strlcpy(c->err_msg, vsr_last_error(), sizeof(c->err_msg));
    int64_t chunks = 0, tiles = 0;
    vsri_session_counts(ses, &chunks, &tiles);
    record_run(c, err, chunks, tiles);
    if (res) {
        vsr_run_result r;
        memset(&r, 0, sizeof(r));
        r.size = sizeof(r);
        r.frames_decoded = c->decoded;
        r.frames_written = c->written;
        r.frames_resumed = 0;
        r.chunks = chunks;
        r.tiles = tiles;
        r.input_damaged = c->in ? vsr_input_damaged(c->in, NULL) : 0;
        r.cancelled = atomic_load(&c->cancelled);
        r.seconds = (vsri_now_ns() - c->start_ns) / 1e9;
        r.fps = r.seconds > 0 ? c->written / r.seconds : 0;
        r.max_frames_in_flight = atomic_load(&c->max_in_flight);
        VSRI_RESULT_OUT(res, &r, "vsr_run_result");
    }
    vsr_output_close(&c->out); /* removes the file unless it was finished */
    vsr_input_close(&c->ref);
    vsr_input_close(&c->in);
    vsri_queue_free(&c->q_dec, drop_frame);
    vsri_queue_free(&c->q_conv, drop_frame);
    vsri_queue_free(&c->q_enc, drop_frame);
    vsri_converter_free(&c->cv_conv);
    vsri_converter_free(&c->cv_ref);
    if (c->tr && m->cuda)
        vsri_tracker_set_device_probe(c->tr, NULL, (void *)m);
    if (range && range->nested) {
        /* the caller resets: a cancel that ended this run must end it too */
        if (atomic_load(&c->cancelled))
            vsr_session_cancel(ses);
    } else {
        vsr_session_reset(ses); /* also consumes the cancel that ended this run */
    }
    vsri_session_set_run_id(ses, 0);
    if (err < 0)
        vsri_set_last_error(c->err_msg);
    pthread_mutex_destroy(&c->err_lock);
    free(c);
    vsri_log_restore_thread_sink(caller_sink);
    return err;
}
