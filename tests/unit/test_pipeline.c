/*
 * vsr_upscale_file end to end through the public API:
 *  - pipelined and serial runs give bit-identical output (CPU fp32, FFV1)
 *    for clips of 1 frame, a partial batch, and more;
 *  - with a deliberately slow encode stage (a progress callback that
 *    sleeps: it runs on the encoding thread after each frame) the frames in
 *    flight stay within the bound the queue depth sets (and would not
 *    without it);
 *  - a progress callback that cancels at frame k leaves an output of
 *    exactly k frames that decodes;
 *  - a run's failure (bad model at run time) comes back with the model's
 *    message and leaves no output file;
 *  - an intact file whose header declares more than its packets cover is
 *    upscaled with success (0), a truncated one is VSR_ERROR_INPUT_DAMAGED
 *    with every decodable frame written;
 *  - a session's own log sink receives the messages of its runs, the
 *    decoder's damage warnings included (logged on the decode thread when
 *    pipelined), and the global sink none of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libvsr/vsr.h"
#include "testutil.h"
#include "testvsr.h"


static vsr_session *open_session(const char *model, int batch, vsr_tracker *tr)
{
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.batch = batch;
    s.tracker = tr;
    vsr_session *ses = NULL;
    int err = test_open_session(&ses, &s, model, NULL, VSR_PRECISION_FP32);
    CHECK_MSG(err == 0, "open %s: %s", model, vsr_last_error());
    return ses;
}

static int run(vsr_session *ses, const char *in, const char *out, int pipelined, int64_t max_frames,
               int queue_depth, vsr_run_result *res)
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
    rs.queue_depth = queue_depth;
    memset(res, 0, sizeof(*res));
    res->size = sizeof(*res);
    return vsr_upscale_file(ses, in, out, &rs, res);
}

static void test_pipelined_equals_serial(void)
{
    const char *tiny = test_path("VSR_TEST_MODELS", "tiny-x2.pt");
    const char *real = test_path("VSR_MODELS_DIR", "realesr-animevideov3-x2.pt");
    const char *clip = test_path("VSR_TEST_DATA", "long_120.mkv");
    struct {
        const char *model;
        int batch;
        int64_t frames;
    } cases[] = {
        {tiny, 1, 1}, {tiny, 3, 7}, {tiny, 4, 30}, {tiny, 1, 120}, {real, 1, 5}, {real, 2, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vsr_session *ses = open_session(cases[i].model, cases[i].batch, NULL);
        if (!ses)
            continue;
        vsr_run_result rp, rs;
        int e1 = run(ses, clip, test_tmp_file("pipelined.mkv"), 1, cases[i].frames, 4, &rp);
        int e2 = run(ses, clip, test_tmp_file("serial.mkv"), 0, cases[i].frames, 4, &rs);
        CHECK_MSG(e1 == 0 && e2 == 0, "case %zu: %s", i, vsr_last_error());
        CHECK_EQ_INT(rp.frames_written, cases[i].frames);
        CHECK_EQ_INT(rs.frames_written, cases[i].frames);
        int64_t n = test_compare_videos(test_tmp_file("pipelined.mkv"), test_tmp_file("serial.mkv"));
        CHECK_MSG(n == cases[i].frames, "case %zu (batch %d, %lld frames): outputs differ (%lld)", i,
                  cases[i].batch, (long long)cases[i].frames, (long long)n);
        vsr_session_close(&ses);
    }
}

/* Called on the encoding thread after each frame is written. */
static int slow_progress(void *user, const vsr_progress *p)
{
    (void)user;
    (void)p;
    usleep(20000);
    return 0;
}

static void test_queue_bound_with_slow_encoder(void)
{
    const char *tiny = test_path("VSR_TEST_MODELS", "tiny-x2.pt");
    const char *clip = test_path("VSR_TEST_DATA", "long_120.mkv");
    vsr_tracker_settings ts;
    vsr_tracker_settings_default(&ts);
    ts.sampler_interval_ms = 0;
    vsr_tracker *tr = NULL;
    CHECK(vsr_tracker_open(&tr, &ts) == 0);
    vsr_tracker_set_progress_callback(tr, slow_progress, NULL);
    vsr_session *ses = open_session(tiny, 1, tr);
    vsr_tracker_unref(&tr); /* the session holds its own reference */
    if (!ses)
        return;
    for (int depth = 1; depth <= 4; depth *= 2) {
        vsr_run_result r;
        int e = run(ses, clip, test_tmp_file("slow.mkv"), 1, 60, depth, &r);
        CHECK_MSG(e == 0, "%s", vsr_last_error());
        /* each of the three queues holds `depth`; each of the four stages
         * one frame in hand, the session one batch (1) */
        int bound = 3 * depth + 3 + 1;
        CHECK_MSG(r.max_frames_in_flight <= bound, "depth %d: %d frames in flight, bound %d", depth,
                  r.max_frames_in_flight, bound);
        /* the slow encoder really filled the queues (the bound was reached,
         * so the test would see an unbounded pipeline) */
        CHECK_MSG(r.max_frames_in_flight >= 2 * depth + 2, "depth %d: only %d in flight", depth,
                  r.max_frames_in_flight);
        CHECK_EQ_INT(r.frames_written, 60);
    }
    vsr_session_close(&ses);
}

typedef struct cancel_at {
    int64_t k;
    int64_t calls;
} cancel_at;

static int cancel_progress(void *user, const vsr_progress *p)
{
    cancel_at *c = user;
    c->calls++;
    return p->frames_done >= c->k;
}

static void test_cancel_from_callback(void)
{
    const char *tiny = test_path("VSR_TEST_MODELS", "tiny-x2.pt");
    const char *clip = test_path("VSR_TEST_DATA", "long_120.mkv");
    for (int pipelined = 0; pipelined <= 1; pipelined++) {
        vsr_tracker *tr = NULL;
        CHECK(vsr_tracker_open(&tr, NULL) == 0);
        cancel_at c = {.k = 17};
        vsr_tracker_set_progress_callback(tr, cancel_progress, &c);
        vsr_session *ses = open_session(tiny, 1, tr);
        if (!ses) {
            vsr_tracker_unref(&tr);
            return;
        }
        vsr_run_result r;
        const char *out = test_tmp_file("cancelled.mkv");
        int e = run(ses, clip, out, pipelined, 0, 4, &r);
        CHECK_MSG(e == VSR_ERROR_CANCELLED, "got %s: %s", vsr_strerror(e), vsr_last_error());
        CHECK_EQ_INT(r.frames_written, 17);
        CHECK(r.cancelled);
        /* the output is finished and holds exactly those frames */
        vsr_input *in = NULL;
        CHECK_MSG(vsr_input_open(&in, out, NULL) == 0, "%s", vsr_last_error());
        int64_t n = 0;
        vsr_frame *f;
        while (in && vsr_input_read_frame(in, &f) == 0) {
            n++;
            vsr_frame_unref(&f);
        }
        CHECK_EQ_INT(n, 17);
        CHECK(vsr_input_damaged(in, NULL) == 0);
        vsr_input_close(&in);
        vsr_session_close(&ses);
        vsr_tracker_unref(&tr);
    }
}

static void test_model_failure_mid_run(void)
{
    const char *model = test_path("VSR_TEST_MODELS", "throws-after-3.pt");
    const char *clip = test_path("VSR_TEST_DATA", "long_120.mkv");
    for (int pipelined = 0; pipelined <= 1; pipelined++) {
        vsr_session *ses = open_session(model, 1, NULL);
        if (!ses)
            return;
        vsr_run_result r;
        const char *out = test_tmp_file("failed.mkv");
        int e = run(ses, clip, out, pipelined, 20, 4, &r);
        CHECK_MSG(e == VSR_ERROR_MODEL_RUN, "got %s", vsr_strerror(e));
        CHECK_MSG(strstr(vsr_last_error(), "deliberate failure") != NULL, "message: %s", vsr_last_error());
        CHECK(access(out, F_OK) != 0);
        char partial[1100];
        snprintf(partial, sizeof(partial), "%s.partial", out);
        CHECK(access(partial, F_OK) != 0);
        vsr_session_close(&ses);
    }
}

static void test_short_and_truncated_files(void)
{
    vsr_session *ses = open_session(test_path("VSR_TEST_MODELS", "tiny-x2.pt"), 1, NULL);
    if (!ses)
        return;
    struct {
        const char *clip;
        int want_err;
        int64_t frames; /* what ffmpeg decodes (tools/make_test_data.py) */
    } cases[] = {{"dropped_frames.avi", 0, 24}, {"truncated.avi", VSR_ERROR_INPUT_DAMAGED, 15},
                 {"truncated.mkv", VSR_ERROR_INPUT_DAMAGED, 12}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vsr_run_result res;
        const char *out = test_tmp_file("short.mkv");
        int err = run(ses, test_path("VSR_TEST_DATA", cases[i].clip), out, 1, 0, 4, &res);
        fprintf(stderr, "  %-18s -> %s, %lld frames written, damaged %d\n", cases[i].clip, vsr_strerror(err),
                (long long)res.frames_written, res.input_damaged);
        CHECK_MSG(err == cases[i].want_err, "%s: %s (%s), expected %s", cases[i].clip, vsr_strerror(err),
                  vsr_last_error(), vsr_strerror(cases[i].want_err));
        CHECK_MSG(res.frames_written == cases[i].frames, "%s: %lld frames written, expected %lld", cases[i].clip,
                  (long long)res.frames_written, (long long)cases[i].frames);
        CHECK_MSG((res.input_damaged != 0) == (cases[i].want_err != 0), "%s: input_damaged %d", cases[i].clip,
                  res.input_damaged);
        CHECK_MSG(access(out, F_OK) == 0, "%s: no output", cases[i].clip);
        remove(out);
    }
    vsr_session_close(&ses);
}

/* Log sinks: calls are serialised by libvsr's log lock, and the test reads
 * the counts only after the run has joined its threads. */
typedef struct log_count {
    int damage_warnings, messages;
    char first[512];
} log_count;

static void count_message(void *user, int level, const char *msg)
{
    log_count *lc = user;
    lc->messages++;
    if (level == VSR_LOG_WARNING && strstr(msg, "corrupt.mkv") && !lc->damage_warnings++)
        snprintf(lc->first, sizeof(lc->first), "%s", msg);
}

static void test_session_log_sink(void)
{
    log_count mine, global;
    memset(&global, 0, sizeof(global));
    vsr_log_set_callback(count_message, &global);
    vsr_log_set_level(VSR_LOG_WARNING);
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.log_callback = count_message;
    s.log_user = &mine;
    vsr_session *ses = NULL;
    CHECK_MSG(test_open_session(&ses, &s, test_path("VSR_TEST_MODELS", "tiny-x2.pt"), NULL, VSR_PRECISION_FP32) == 0,
              "%s", vsr_last_error());
    for (int pipelined = 1; ses && pipelined >= 0; pipelined--) {
        memset(&mine, 0, sizeof(mine));
        memset(&global, 0, sizeof(global));
        vsr_run_result res;
        int err = run(ses, test_path("VSR_TEST_DATA", "corrupt.mkv"), test_tmp_file("sink.mkv"), pipelined, 0, 4, &res);
        CHECK_MSG(err == VSR_ERROR_INPUT_DAMAGED, "%s run of corrupt.mkv: %s", pipelined ? "pipelined" : "serial",
                  vsr_strerror(err));
        fprintf(stderr, "  %s run: session sink %d messages (%d damage warnings: %s), global sink %d\n",
                pipelined ? "pipelined" : "serial", mine.messages, mine.damage_warnings, mine.first,
                global.messages);
        CHECK_MSG(mine.damage_warnings > 0, "%s run: the decoder's warning did not reach the session's sink",
                  pipelined ? "pipelined" : "serial");
        CHECK_MSG(global.messages == 0, "%s run: %d messages went to the global sink instead, e.g. %s",
                  pipelined ? "pipelined" : "serial", global.messages, global.first);
    }
    vsr_session_close(&ses);
    /* outside a run, the global sink is back in charge on this thread */
    memset(&global, 0, sizeof(global));
    vsr_input *in = NULL;
    if (vsr_input_open(&in, test_path("VSR_TEST_DATA", "corrupt.mkv"), NULL) == 0) {
        vsr_frame *f = NULL;
        while (vsr_input_read_frame(in, &f) == 0)
            vsr_frame_unref(&f);
    }
    vsr_input_close(&in);
    CHECK_MSG(global.damage_warnings > 0, "a plain input's warning did not reach the global sink");
    vsr_log_set_callback(NULL, NULL);
    vsr_log_set_level(VSR_LOG_ERROR);
}

int main(void)
{
    if (test_tmpdir_make("pipeline") < 0)
        return 1;
    vsr_log_set_level(VSR_LOG_ERROR);
    CHECK(test_set_threads(1) == 0);
    test_pipelined_equals_serial();
    test_queue_bound_with_slow_encoder();
    test_cancel_from_callback();
    test_model_failure_mid_run();
    test_short_and_truncated_files();
    test_session_log_sink();
    test_tmpdir_remove();
    return test_result("pipeline");
}
