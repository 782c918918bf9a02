/*
 * vsr_session_cancel() at every moment it can come (also run under
 * ThreadSanitizer: the 'threads' suite). The moments are made exact with
 * the tracker's callbacks, which run inside the stages, so no test
 * depends on timing:
 *  - before the run starts (asked while nothing runs): the run stops at its
 *    start: VSR_ERROR_CANCELLED, a message saying so (not "no frame could
 *    be decoded"), no output file;
 *  - before the first frame is written (from the decoder's first record):
 *    the same, pipelined and serial;
 *  - mid-run (from the progress callback after frame 5, and from another
 *    thread while the encoding thread waits for it): VSR_ERROR_CANCELLED, the
 *    output finished with exactly the frames written;
 *  - during the drain (a sequence model whose only chunk runs at the end,
 *    cut into tiles; cancelled from the first inference record): no
 *    further pass runs, no frame written, no file;
 *  - in vsr_session_send_frame (a frame of 16 tile passes, cancelled after
 *    the first) and vsr_session_receive_frame (after the drain was asked
 *    for): VSR_ERROR_CANCELLED at once, until vsr_session_reset(), which
 *    makes the session usable again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libvsr/vsr.h"
#include "testutil.h"
#include "testvsr.h"


static int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static int64_t count_frames(const char *path)
{
    vsr_input *in = NULL;
    if (vsr_input_open(&in, path, NULL) < 0)
        return -1;
    int64_t n = 0;
    vsr_frame *f;
    while (vsr_input_read_frame(in, &f) == 0) {
        n++;
        vsr_frame_unref(&f);
    }
    int damaged = vsr_input_damaged(in, NULL);
    vsr_input_close(&in);
    return damaged ? -2 : n;
}

/* What the callbacks do: cancel `ses` at the first record of `type` (NULL:
 * none), or when `progress_at` frames are done. */
typedef struct trigger {
    vsr_session *_Atomic ses;
    const char *type;
    int64_t progress_at;
    atomic_int fired;
    atomic_int inference_records;
} trigger;

static int on_event(void *user, const vsr_op_record *r)
{
    trigger *t = user;
    if (!r->type)
        return 0;
    if (!strcmp(r->type, VSR_OP_INFERENCE))
        atomic_fetch_add(&t->inference_records, 1);
    if (t->type && !strcmp(r->type, t->type) && !atomic_exchange(&t->fired, 1))
        vsr_session_cancel(atomic_load(&t->ses));
    return 0;
}

static int on_progress(void *user, const vsr_progress *p)
{
    trigger *t = user;
    if (t->progress_at > 0 && p->frames_done >= t->progress_at && !atomic_exchange(&t->fired, 1))
        vsr_session_cancel(atomic_load(&t->ses));
    return 0;
}

static vsr_session *open_session(const char *model, vsr_session_settings *s, trigger *t)
{
    vsr_tracker_settings ts;
    vsr_tracker_settings_default(&ts);
    ts.sampler_interval_ms = 0;
    vsr_tracker *tr = NULL;
    CHECK(vsr_tracker_open(&tr, &ts) == 0);
    if (t) {
        vsr_tracker_set_event_callback(tr, on_event, t);
        vsr_tracker_set_progress_callback(tr, on_progress, t);
    }
    s->tracker = tr;
    vsr_session *ses = NULL;
    CHECK_MSG(test_open_session(&ses, s, model, NULL, VSR_PRECISION_FP32) == 0, "%s", vsr_last_error());
    vsr_tracker_unref(&tr); /* the session keeps its own */
    s->tracker = NULL;
    if (t)
        atomic_store(&t->ses, ses);
    return ses;
}

static int run(vsr_session *ses, const char *in, const char *out, int pipelined, int64_t max_frames,
               vsr_run_result *r)
{
    vsr_input_settings is;
    vsr_input_settings_default(&is);
    is.max_frames = max_frames;
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    vsr_run_settings rs;
    vsr_run_settings_default(&rs);
    rs.input = &is;
    rs.output = &os;
    rs.pipelined = pipelined;
    memset(r, 0, sizeof(*r));
    r->size = sizeof(*r);
    return vsr_upscale_file(ses, in, out, &rs, r);
}

/* A cancelled run that wrote nothing: the right code and message, no file. */
static void check_nothing_written(const char *what, int err, const vsr_run_result *r, const char *out)
{
    const char *msg = vsr_last_error();
    CHECK_MSG(err == VSR_ERROR_CANCELLED, "%s: %s (%s)", what, vsr_strerror(err), msg);
    CHECK_MSG(strstr(msg, "cancel") && !strstr(msg, "could be decoded"), "%s: message '%s'", what, msg);
    CHECK_MSG(r->cancelled == 1 && r->frames_written == 0, "%s: cancelled %d, %lld frames", what, r->cancelled,
              (long long)r->frames_written);
    CHECK_MSG(!file_exists(out), "%s: an output file was left", what);
    char partial[1100];
    snprintf(partial, sizeof(partial), "%s.partial", out);
    CHECK_MSG(!file_exists(partial), "%s: a .partial file was left", what);
}

static void test_before_the_run(void)
{
    const char *clip = test_data("real_h264.mp4");
    for (int pipelined = 0; pipelined <= 1; pipelined++) {
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        vsr_session *ses = open_session(test_model("tiny-x2.pt"), &s, NULL);
        if (!ses)
            return;
        vsr_session_cancel(ses);
        vsr_run_result r;
        const char *out = test_tmp_file("before.mkv");
        int err = run(ses, clip, out, pipelined, 0, &r);
        check_nothing_written(pipelined ? "cancel before the run (pipelined)" : "cancel before the run (serial)",
                              err, &r, out);
        /* the cancel was used up: the next run goes through */
        err = run(ses, clip, out, pipelined, 3, &r);
        CHECK_MSG(err == 0 && r.frames_written == 3 && count_frames(out) == 3, "run after a cancel: %s",
                  vsr_last_error());
        remove(out);
        vsr_session_close(&ses);
    }
}

static void test_before_the_first_frame(void)
{
    const char *clip = test_data("long_120.mkv");
    for (int pipelined = 0; pipelined <= 1; pipelined++) {
        trigger t = {.type = VSR_OP_DECODE};
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        vsr_session *ses = open_session(test_model("tiny-x2.pt"), &s, &t);
        if (!ses)
            return;
        vsr_run_result r;
        const char *out = test_tmp_file("first.mkv");
        int err = run(ses, clip, out, pipelined, 0, &r);
        check_nothing_written(pipelined ? "cancel at the first decode (pipelined)" : "cancel at the first decode (serial)",
                              err, &r, out);
        CHECK_EQ_INT(atomic_load(&t.inference_records), 0);
        vsr_session_close(&ses);
    }
}

static void test_mid_run(void)
{
    const char *clip = test_data("long_120.mkv");
    for (int pipelined = 0; pipelined <= 1; pipelined++) {
        trigger t = {.type = NULL, .progress_at = 5};
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        vsr_session *ses = open_session(test_model("tiny-x2.pt"), &s, &t);
        if (!ses)
            return;
        vsr_run_result r;
        const char *out = test_tmp_file("mid.mkv");
        int err = run(ses, clip, out, pipelined, 0, &r);
        CHECK_MSG(err == VSR_ERROR_CANCELLED && strstr(vsr_last_error(), "cancel"), "mid-run: %s (%s)",
                  vsr_strerror(err), vsr_last_error());
        CHECK_MSG(r.cancelled && r.frames_written == 5, "mid-run: %lld frames written", (long long)r.frames_written);
        CHECK_EQ_INT(count_frames(out), 5);
        remove(out);
        vsr_session_close(&ses);
    }
}

/* Cancel from a thread of the test's own while the run waits in the
 * progress callback for it: the flag crosses threads (TSan watches). */
typedef struct cross {
    vsr_session *_Atomic ses;
    atomic_int asked, done;
} cross;

static int wait_for_cancel(void *user, const vsr_progress *p)
{
    cross *x = user;
    if (p->frames_done == 3) {
        atomic_store(&x->asked, 1);
        for (int i = 0; i < 30000 && !atomic_load(&x->done); i++)
            usleep(1000);
    }
    return 0;
}

static void *canceller(void *arg)
{
    cross *x = arg;
    while (!atomic_load(&x->asked))
        usleep(1000);
    vsr_session_cancel(atomic_load(&x->ses));
    atomic_store(&x->done, 1);
    return NULL;
}

static void test_from_another_thread(void)
{
    const char *clip = test_data("long_120.mkv");
    cross x = {.asked = 0};
    vsr_tracker_settings ts;
    vsr_tracker_settings_default(&ts);
    ts.sampler_interval_ms = 0;
    vsr_tracker *tr = NULL;
    CHECK(vsr_tracker_open(&tr, &ts) == 0);
    vsr_tracker_set_progress_callback(tr, wait_for_cancel, &x);
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.tracker = tr;
    vsr_session *ses = NULL;
    CHECK(test_open_session(&ses, &s, test_model("tiny-x2.pt"), NULL, VSR_PRECISION_FP32) == 0);
    vsr_tracker_unref(&tr);
    if (!ses)
        return;
    atomic_store(&x.ses, ses);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, canceller, &x) == 0);
    vsr_run_result r;
    const char *out = test_tmp_file("thread.mkv");
    int err = run(ses, clip, out, 1, 0, &r);
    pthread_join(th, NULL);
    CHECK_MSG(err == VSR_ERROR_CANCELLED, "cancel from a thread: %s", vsr_strerror(err));
    CHECK_MSG(r.frames_written == 3 && count_frames(out) == 3, "cancel from a thread: %lld frames written",
              (long long)r.frames_written);
    remove(out);
    vsr_session_close(&ses);
}

static void test_during_drain(void)
{
    /* 12 frames, chunk 16: the only chunk runs in the drain, in 40 tiles */
    const char *clip = test_data("real_h264.mp4");
    for (int pipelined = 0; pipelined <= 1; pipelined++) {
        trigger t = {.type = VSR_OP_INFERENCE};
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        s.chunk = 16;
        s.overlap = 4;
        s.tile = 16;
        vsr_session *ses = open_session(test_model("temporal-r2-x2.pt"), &s, &t);
        if (!ses)
            return;
        vsr_run_result r;
        const char *out = test_tmp_file("drain.mkv");
        int err = run(ses, clip, out, pipelined, 12, &r);
        check_nothing_written("cancel during the drain", err, &r, out);
        CHECK_MSG(atomic_load(&t.inference_records) == 1, "%d forward passes ran after the cancel",
                  atomic_load(&t.inference_records) - 1);
        vsr_session_close(&ses);
    }
}

static vsr_frame *grey(int w, int h)
{
    vsr_frame *f = NULL;
    vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, w, h);
    float *d = (float *)vsr_frame_data(f, 0);
    for (int i = 0; i < 3 * w * h; i++)
        d[i] = 0.5f;
    return f;
}

static void test_streaming(void)
{
    /* send: a 64x64 frame in 16-pixel tiles is 16 forward passes */
    trigger t = {.type = VSR_OP_INFERENCE};
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.tile = 16;
    vsr_session *ses = open_session(test_model("tiny-x2.pt"), &s, &t);
    if (!ses)
        return;
    vsr_frame *f = grey(64, 64), *o = NULL;
    int err = vsr_session_send_frame(ses, f);
    CHECK_MSG(err == VSR_ERROR_CANCELLED && strstr(vsr_last_error(), "cancel"), "send: %s", vsr_strerror(err));
    CHECK_MSG(atomic_load(&t.inference_records) == 1, "send: %d passes after the cancel",
              atomic_load(&t.inference_records) - 1);
    CHECK(vsr_session_send_frame(ses, f) == VSR_ERROR_CANCELLED);
    CHECK(vsr_session_receive_frame(ses, &o) == VSR_ERROR_CANCELLED && !o);
    /* reset: usable again, every tile runs */
    vsr_session_reset(ses);
    atomic_store(&t.fired, 1); /* no more cancels */
    CHECK(vsr_session_send_frame(ses, f) == 0 && vsr_session_send_frame(ses, NULL) == 0);
    CHECK(vsr_session_receive_frame(ses, &o) == 0 && o && vsr_frame_width(o) == 128);
    vsr_frame_unref(&o); /* receive overwrites *out */
    CHECK(vsr_session_receive_frame(ses, &o) == VSR_EOF);
    CHECK_EQ_INT(atomic_load(&t.inference_records), 1 + 16);
    vsr_session_close(&ses);

    /* receive: the drain was asked for, nothing has run yet */
    trigger t2 = {.type = NULL};
    vsr_session_settings_default(&s);
    s.chunk = 8;
    s.overlap = 2;
    ses = open_session(test_model("temporal-r2-x2.pt"), &s, &t2);
    if (!ses) {
        vsr_frame_unref(&f);
        return;
    }
    for (int i = 0; i < 3; i++)
        CHECK(vsr_session_send_frame(ses, f) == 0);
    CHECK(vsr_session_send_frame(ses, NULL) == 0);
    vsr_session_cancel(ses);
    CHECK(vsr_session_receive_frame(ses, &o) == VSR_ERROR_CANCELLED && !o);
    CHECK_EQ_INT(atomic_load(&t2.inference_records), 0);
    vsr_session_reset(ses);
    for (int i = 0; i < 3; i++)
        CHECK(vsr_session_send_frame(ses, f) == 0);
    CHECK(vsr_session_send_frame(ses, NULL) == 0);
    int got = 0;
    while (vsr_session_receive_frame(ses, &o) == 0) {
        got++;
        vsr_frame_unref(&o);
    }
    CHECK_EQ_INT(got, 3);
    vsr_frame_unref(&f);
    vsr_session_close(&ses);
}

int main(void)
{
    if (test_tmpdir_make("cancel") < 0)
        return 1;
    vsr_log_set_level(VSR_LOG_ERROR);
    CHECK(test_set_threads(1) == 0);
    test_before_the_run();
    test_before_the_first_frame();
    test_mid_run();
    test_from_another_thread();
    test_during_drain();
    test_streaming();
    test_tmpdir_remove();
    return test_result("cancel");
}
