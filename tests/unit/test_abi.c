/*
 * Binary compatibility of the caller-sized structs (first member: size),
 * one rule for all (docs/ABI.md), implemented once in libvsr.
 *
 * Settings: a caller built against an older header passes a smaller struct
 * (here: filled by the _default() function, then .size cut to the offset of
 * a later field, and that field and everything after it filled with garbage
 * that would fail or crash if read). vsr_input_open, vsr_input_open_buffer,
 * vsr_output_open, vsr_tracker_open, vsr_model_open,
 * vsr_process_configure, vsr_session_open and vsr_upscale_file (run
 * settings) must accept it and behave as with the defaults for the fields
 * they were not given. A size larger than the library's struct (a newer
 * header) or smaller than the size field itself (0 included) is refused
 * with VSR_EINVAL and a message.
 *
 * Results: vsr_input_info, vsr_session_info, vsr_model_card (from a model
 * and from a session), vsr_model_info, vsr_run_result, vsr_recommendation
 * and vsr_process_settings (read back) with a smaller .size get no byte
 * written past it: each is handed a larger buffer full of a canary, and the
 * canary after .size must survive; .size comes back as the number of bytes
 * filled. A larger .size gets libvsr's struct and zeros after it. A size
 * below 4 is refused and nothing is written. The tracker's statistics
 * structs follow the same rule.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libvsr/vsr.h"
#include "testutil.h"


#define GARBAGE 0x5A
/* Cut a settings struct to `size` bytes: everything from there on is garbage. */
#define TRUNCATE(s, field)                                                                  \
    do {                                                                                    \
        (s).size = (uint32_t)offsetof(__typeof__(s), field);                                \
        memset((char *)&(s) + offsetof(__typeof__(s), field), GARBAGE,                      \
               sizeof(s) - offsetof(__typeof__(s), field));                                  \
    } while (0)

static int64_t count_frames(vsr_input *in)
{
    int64_t n = 0;
    vsr_frame *f;
    while (vsr_input_read_frame(in, &f) == 0) {
        n++;
        vsr_frame_unref(&f);
    }
    return n;
}

/* A settings struct one block larger than the library's, as a newer header
 * would pass it. */
typedef struct {
    union {
        vsr_input_settings in;
        vsr_output_settings out;
        vsr_tracker_settings tr;
        vsr_session_settings ses;
        vsr_run_settings run;
        vsr_model_settings model;
        vsr_process_settings process;
    } u;
    char newer_fields[64];
} big_settings;

/* ------------------------------------------------------------------ */
/* Input settings                                                     */
/* ------------------------------------------------------------------ */

static void test_input_settings(void)
{
    const char *clip = test_data("streams.mkv"); /* 24 frames; stream 1 is audio */
    /* older header without max_frames and stream_index: garbage there would
     * cut the clip short or pick the audio stream */
    vsr_input_settings s;
    vsr_input_settings_default(&s);
    s.threads = 1;
    TRUNCATE(s, max_frames);
    s.max_frames = 3;
    s.stream_index = 1;
    vsr_input *in = NULL;
    int err = vsr_input_open(&in, clip, &s);
    CHECK_MSG(err == 0, "input, size %u: %s", s.size, vsr_last_error());
    if (in) {
        vsr_input_info info = {.size = sizeof(info)};
        vsr_input_get_info(in, &info);
        CHECK_EQ_INT(info.stream_index, 0);
        CHECK_EQ_INT(count_frames(in), 24);
    }
    vsr_input_close(&in);
    /* the caller's struct is not written to */
    CHECK_EQ_INT(s.size, offsetof(vsr_input_settings, max_frames));

    /* even older: only size, threads, hwdec. Limits of 0x5A5A5A5A would pass,
     * so make the garbage a refusal: negative limits */
    vsr_input_settings_default(&s);
    s.size = (uint32_t)offsetof(vsr_input_settings, max_width);
    s.max_width = -1;
    s.max_height = -1;
    s.max_pixels = -1;
    s.max_frames = -1;
    s.stream_index = 7;
    err = vsr_input_open(&in, clip, &s);
    CHECK_MSG(err == 0, "input, size %u: %s", s.size, vsr_last_error());
    if (in)
        CHECK_EQ_INT(count_frames(in), 24);
    vsr_input_close(&in);

    /* and from memory */
    FILE *f = fopen(clip, "rb");
    static uint8_t buf[1 << 20];
    size_t len = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    err = vsr_input_open_buffer(&in, buf, len, &s);
    CHECK_MSG(err == 0, "input buffer, size %u: %s", s.size, vsr_last_error());
    if (in)
        CHECK_EQ_INT(count_frames(in), 24);
    vsr_input_close(&in);

    /* newer header: refused */
    big_settings b;
    vsr_input_settings_default(&b.u.in);
    b.u.in.size = sizeof(vsr_input_settings) + 8;
    err = vsr_input_open(&in, clip, &b.u.in);
    CHECK_MSG(err == VSR_EINVAL && !in && strstr(vsr_last_error(), "size"), "input, size %u: %s (%s)", b.u.in.size,
              vsr_strerror(err), vsr_last_error());
    err = vsr_input_open_buffer(&in, buf, len, &b.u.in);
    CHECK_MSG(err == VSR_EINVAL && !in && strstr(vsr_last_error(), "size"), "input buffer, size %u: %s",
              b.u.in.size, vsr_strerror(err));
    /* nonsense: smaller than the size field */
    vsr_input_settings_default(&s);
    s.size = 0;
    CHECK(vsr_input_open(&in, clip, &s) == VSR_EINVAL && !in);
    s.size = 3;
    CHECK(vsr_input_open(&in, clip, &s) == VSR_EINVAL && !in);
}

/* ------------------------------------------------------------------ */
/* Output settings                                                    */
/* ------------------------------------------------------------------ */

/* Write the clip's frames to path with settings s (src = the input). */
static int write_clip(const char *clip, const char *path, const vsr_output_settings *s, int64_t max_frames)
{
    vsr_input_settings is;
    vsr_input_settings_default(&is);
    is.max_frames = max_frames;
    vsr_input *in = NULL;
    int err = vsr_input_open(&in, test_data(clip), &is);
    if (err < 0)
        return err;
    vsr_output *o = NULL;
    err = vsr_output_open(&o, path, in, s);
    vsr_frame *f = NULL;
    while (err >= 0 && (err = vsr_input_read_frame(in, &f)) == 0) {
        err = vsr_output_write_frame(o, f);
        vsr_frame_unref(&f);
    }
    if (err == VSR_EOF)
        err = vsr_output_finish(o);
    vsr_output_close(&o);
    vsr_input_close(&in);
    return err;
}

static void stream_counts(const char *path, int *frames, int *audio)
{
    vsr_input *in = NULL;
    *frames = *audio = -1;
    if (vsr_input_open(&in, path, NULL) < 0)
        return;
    vsr_input_info info = {.size = sizeof(info)};
    vsr_input_get_info(in, &info);
    *audio = info.has_audio;
    *frames = (int)count_frames(in);
    vsr_input_close(&in);
}

static void test_output_settings(void)
{
    const char *out = test_tmp_file("abi_out.mkv");
    /* an existing file: a garbage `overwrite` = 0 would refuse to replace it */
    FILE *f = fopen(out, "w");
    fputs("old", f);
    fclose(f);
    vsr_output_settings s;
    vsr_output_settings_default(&s);
    s.codec = "ffv1";
    TRUNCATE(s, copy_streams); /* copy_streams, overwrite, frame_rate unknown */
    s.copy_streams = 0;
    s.overwrite = 0;
    s.frame_rate = (vsr_rational){0, 0};
    int err = write_clip("streams.mkv", out, &s, 6);
    CHECK_MSG(err == 0, "output, size %u: %s", s.size, vsr_last_error());
    int frames = 0, audio = 0;
    stream_counts(out, &frames, &audio);
    CHECK_MSG(frames == 6 && audio == 1, "output, size %u: %d frames, audio %d (defaults copy the audio)", s.size,
              frames, audio);

    /* older still: only the codec; crf, preset, pix_fmt (a garbage pointer),
     * bitrate, threads, options are unknown */
    vsr_output_settings_default(&s);
    s.codec = "libx264";
    TRUNCATE(s, crf);
    err = write_clip("real_h264.mp4", out, &s, 3);
    CHECK_MSG(err == 0, "output, size %u: %s", s.size, vsr_last_error());
    stream_counts(out, &frames, &audio);
    CHECK_EQ_INT(frames, 3);

    /* only the size: the default codec */
    vsr_output_settings_default(&s);
    TRUNCATE(s, codec);
    err = write_clip("real_h264.mp4", out, &s, 2);
    CHECK_MSG(err == 0, "output, size %u: %s", s.size, vsr_last_error());
    vsr_input *in = NULL;
    if (vsr_input_open(&in, out, NULL) == 0) {
        vsr_input_info info = {.size = sizeof(info)};
        vsr_input_get_info(in, &info);
        CHECK_MSG(!strcmp(info.codec, "h264"), "default codec: %s", info.codec);
    }
    vsr_input_close(&in);
    remove(out);

    /* newer header: refused before anything is created */
    big_settings b;
    vsr_output_settings_default(&b.u.out);
    b.u.out.size = sizeof(vsr_output_settings) + 16;
    vsr_output *o = NULL;
    err = vsr_output_open(&o, out, NULL, &b.u.out);
    CHECK_MSG(err == VSR_EINVAL && !o && strstr(vsr_last_error(), "size"), "output, size %u: %s (%s)", b.u.out.size,
              vsr_strerror(err), vsr_last_error());
    CHECK(access(out, F_OK) != 0);
    char partial[1100];
    snprintf(partial, sizeof(partial), "%s.partial", out);
    CHECK(access(partial, F_OK) != 0);
    vsr_output_settings_default(&s);
    s.size = 0;
    CHECK(vsr_output_open(&o, out, NULL, &s) == VSR_EINVAL && !o);
}

/* ------------------------------------------------------------------ */
/* Tracker settings                                                   */
/* ------------------------------------------------------------------ */

static void test_tracker_settings(void)
{
    vsr_tracker_settings s;
    vsr_tracker_settings_default(&s);
    s.history_length = 3; /* known to this "older" caller */
    TRUNCATE(s, granularity); /* a garbage granularity or interval would be refused */
    vsr_tracker *t = NULL;
    int err = vsr_tracker_open(&t, &s);
    CHECK_MSG(err == 0 && t, "tracker, size %u: %s", s.size, vsr_last_error());
    if (t) {
        for (int i = 0; i < 5; i++) {
            vsr_op_record r;
            memset(&r, 0, sizeof(r));
            r.size = sizeof(r);
            r.type = VSR_OP_DECODE;
            r.strategy = "abi";
            r.duration_ns = 1000000;
            r.frames = 1;
            r.success = 1;
            vsr_tracker_record(t, &r);
        }
        CHECK_EQ_INT(vsr_tracker_history_count(t), 3); /* the given field is used */
        vsr_op_stats st = {.size = sizeof(st)};
        CHECK(vsr_tracker_get_stats(t, VSR_OP_DECODE, NULL, &st) == 0 && st.count == 5);
    }
    vsr_tracker_unref(&t);
    /* only the size */
    vsr_tracker_settings_default(&s);
    TRUNCATE(s, history_length);
    err = vsr_tracker_open(&t, &s);
    CHECK_MSG(err == 0, "tracker, size %u: %s", s.size, vsr_last_error());
    vsr_tracker_unref(&t);

    big_settings b;
    vsr_tracker_settings_default(&b.u.tr);
    b.u.tr.size = sizeof(vsr_tracker_settings) + 4;
    err = vsr_tracker_open(&t, &b.u.tr);
    CHECK_MSG(err == VSR_EINVAL && !t && strstr(vsr_last_error(), "size"), "tracker, size %u: %s (%s)", b.u.tr.size,
              vsr_strerror(err), vsr_last_error());
    vsr_tracker_settings_default(&s);
    s.size = 0;
    err = vsr_tracker_open(&t, &s);
    CHECK_MSG(err == VSR_EINVAL && !t, "tracker, size 0: %s", vsr_strerror(err));
    vsr_tracker_unref(&t);
}

/* ------------------------------------------------------------------ */
/* Model, process, session and run settings                           */
/* ------------------------------------------------------------------ */

static void test_model_settings(void)
{
    /* cut before device (a garbage pointer), precision (7 would be refused),
     * cuda_graph and cache (0x5A5A5A5A would be refused): a 1.0 caller's
     * struct ends before cache, which then takes its default */
    const size_t cuts[] = {offsetof(vsr_model_settings, device), offsetof(vsr_model_settings, precision),
                           offsetof(vsr_model_settings, cuda_graph), offsetof(vsr_model_settings, cache)};
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        vsr_model_settings s;
        vsr_model_settings_default(&s);
        s.path = test_model("tiny-x2.pt");
        s.precision = VSR_PRECISION_FP32;
        s.size = (uint32_t)cuts[k];
        memset((char *)&s + cuts[k], GARBAGE, sizeof(s) - cuts[k]);
        vsr_model *m = NULL;
        int err = vsr_model_open(&m, &s);
        CHECK_MSG(err == 0 && m, "model, size %u: %s", s.size, vsr_last_error());
        vsr_model_info info = {.size = sizeof(info)};
        CHECK(m && vsr_model_get_info(m, &info) == 0);
        CHECK_MSG(!strcmp(info.device, "cpu") && info.precision != VSR_PRECISION_AUTO, "model, size %u: %s %s",
                  s.size, info.device, vsr_precision_name(info.precision));
        vsr_model_unref(&m);
        CHECK_EQ_INT(s.size, cuts[k]); /* the caller's struct is not written to */
    }
    /* cache is 0 or 1 */
    vsr_model_settings bad;
    vsr_model_settings_default(&bad);
    bad.path = test_model("tiny-x2.pt");
    bad.cache = 2;
    vsr_model *refused = NULL;
    CHECK_MSG(vsr_model_open(&refused, &bad) == VSR_EINVAL && !refused && strstr(vsr_last_error(), "cache 2"),
              "cache 2: %s", vsr_last_error());
    big_settings b;
    vsr_model_settings_default(&b.u.model);
    b.u.model.path = test_model("tiny-x2.pt");
    b.u.model.size = sizeof(vsr_model_settings) + 8;
    vsr_model *m = NULL;
    int err = vsr_model_open(&m, &b.u.model);
    CHECK_MSG(err == VSR_EINVAL && !m && strstr(vsr_last_error(), "size"), "model, size %u: %s (%s)",
              b.u.model.size, vsr_strerror(err), vsr_last_error());
    for (uint32_t size = 0; size < 4; size += 3) {
        vsr_model_settings s;
        vsr_model_settings_default(&s);
        s.path = test_model("tiny-x2.pt");
        s.size = size;
        CHECK_MSG(vsr_model_open(&m, &s) == VSR_EINVAL && !m, "model, size %u accepted", size);
    }
}

static void test_process_settings(void)
{
    /* only the size: every default (threads 0 = one per core) */
    vsr_process_settings s;
    vsr_process_settings_default(&s);
    TRUNCATE(s, threads);
    CHECK_MSG(vsr_process_configure(&s) == 0, "process, size %u: %s", s.size, vsr_last_error());
    vsr_process_settings now = {.size = sizeof(now)};
    CHECK(vsr_process_get_settings(&now) == 0 && now.threads >= 1 && now.cuda_tf32 == 0 && now.cudnn_benchmark == 1);
    /* threads known; the switches (0x5A5A5A5A would be refused) not */
    vsr_process_settings_default(&s);
    s.threads = 1;
    TRUNCATE(s, cuda_tf32);
    CHECK_MSG(vsr_process_configure(&s) == 0, "process, size %u: %s", s.size, vsr_last_error());
    CHECK(vsr_process_get_settings(&now) == 0 && now.threads == 1 && now.cuda_tf32 == 0);
    big_settings b;
    vsr_process_settings_default(&b.u.process);
    b.u.process.size = sizeof(vsr_process_settings) + 4;
    CHECK_MSG(vsr_process_configure(&b.u.process) == VSR_EINVAL && strstr(vsr_last_error(), "size"), "%s",
              vsr_last_error());
    vsr_process_settings_default(&s);
    s.size = 0;
    CHECK(vsr_process_configure(&s) == VSR_EINVAL);
    CHECK(vsr_process_get_settings(&now) == 0 && now.threads == 1);
}

static vsr_model *open_tiny(void)
{
    vsr_model_settings ms;
    vsr_model_settings_default(&ms);
    ms.path = test_model("tiny-x2.pt");
    ms.precision = VSR_PRECISION_FP32;
    vsr_model *m = NULL;
    CHECK_MSG(vsr_model_open(&m, &ms) == 0, "%s", vsr_last_error());
    return m;
}

static void test_session_settings(void)
{
    vsr_model *m = open_tiny();
    if (!m)
        return;
    /* cut before batch: batch 0, tile 3, mem_limit < 0 would be refused,
     * the tracker and log callback are garbage pointers, and a garbage
     * output format would be refused */
    const size_t cuts[] = {offsetof(vsr_session_settings, batch), offsetof(vsr_session_settings, tile),
                           offsetof(vsr_session_settings, tracker), offsetof(vsr_session_settings, log_callback),
                           offsetof(vsr_session_settings, output_format)};
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        s.model = m;
        s.size = (uint32_t)cuts[k];
        memset((char *)&s + cuts[k], GARBAGE, sizeof(s) - cuts[k]);
        vsr_session *ses = NULL;
        int err = vsr_session_open(&ses, &s);
        CHECK_MSG(err == 0 && ses, "session, size %u: %s", s.size, vsr_last_error());
        if (!ses)
            continue;
        vsr_session_info info = {.size = sizeof(info)};
        vsr_session_get_info(ses, &info);
        CHECK_MSG(info.batch == 1 && info.tile == 0 && info.tile_pad == 1 && info.mem_limit > 0,
                  "session, size %u: batch %d tile %d pad %d mem %lld (defaults expected)", s.size, info.batch,
                  info.tile, info.tile_pad, (long long)info.mem_limit);
        /* it runs (and touches neither the garbage tracker nor the log
         * callback), and hands out the default RGBF32 */
        vsr_frame *f = NULL, *o = NULL;
        vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, 16, 8);
        memset(vsr_frame_data(f, 0), 0, sizeof(float) * 3 * 16 * 8);
        CHECK(vsr_session_send_frame(ses, f) == 0);
        CHECK(vsr_session_send_frame(ses, NULL) == 0);
        CHECK(vsr_session_receive_frame(ses, &o) == 0 && vsr_frame_width(o) == 32 &&
              vsr_frame_format(o) == VSR_PIXFMT_RGBF32);
        vsr_frame_unref(&o);
        vsr_frame_unref(&f);
        vsr_session_close(&ses);
    }
    big_settings b;
    vsr_session_settings_default(&b.u.ses);
    b.u.ses.model = m;
    b.u.ses.size = sizeof(vsr_session_settings) + 8;
    vsr_session *ses = NULL;
    int err = vsr_session_open(&ses, &b.u.ses);
    CHECK_MSG(err == VSR_EINVAL && !ses && strstr(vsr_last_error(), "size"), "session, size %u: %s (%s)",
              b.u.ses.size, vsr_strerror(err), vsr_last_error());
    for (uint32_t size = 0; size < 4; size += 2) {
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        s.model = m;
        s.size = size;
        CHECK_MSG(vsr_session_open(&ses, &s) == VSR_EINVAL && !ses, "session, size %u accepted", size);
    }
    vsr_model_unref(&m);
}

static void test_run_settings(void)
{
    vsr_model *m = open_tiny();
    vsr_session_settings ss;
    vsr_session_settings_default(&ss);
    ss.model = m;
    vsr_session *ses = NULL;
    CHECK_MSG(m && vsr_session_open(&ses, &ss) == 0, "%s", vsr_last_error());
    vsr_model_unref(&m);
    if (!ses)
        return;
    vsr_input_settings is;
    vsr_input_settings_default(&is);
    is.max_frames = 5;
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    const char *out = test_tmp_file("abi_run.mkv");
    /* older headers: without pipelined.. (queue depth 0, resume, a garbage
     * reference path would all fail), and without reference_path.. */
    const size_t cuts[] = {offsetof(vsr_run_settings, pipelined), offsetof(vsr_run_settings, resume),
                           offsetof(vsr_run_settings, reference_path)};
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        vsr_run_settings rs;
        vsr_run_settings_default(&rs);
        rs.input = &is;
        rs.output = &os;
        rs.size = (uint32_t)cuts[k];
        memset((char *)&rs + cuts[k], GARBAGE, sizeof(rs) - cuts[k]);
        /* garbage that fails fast if read */
        if (cuts[k] <= offsetof(vsr_run_settings, queue_depth))
            rs.queue_depth = 0;
        if (cuts[k] <= offsetof(vsr_run_settings, resume))
            rs.resume = 1;
        vsr_run_result r;
        memset(&r, 0, sizeof(r));
        r.size = sizeof(r);
        int err = vsr_upscale_file(ses, test_data("real_h264.mp4"), out, &rs, &r);
        CHECK_MSG(err == 0, "run, size %u: %s", rs.size, vsr_last_error());
        CHECK_MSG(r.frames_written == 5 && r.frames_resumed == 0, "run, size %u: %lld frames", rs.size,
                  (long long)r.frames_written);
        remove(out);
    }
    /* older input/output settings inside run settings */
    vsr_input_settings is_old;
    vsr_input_settings_default(&is_old);
    TRUNCATE(is_old, max_frames);
    vsr_output_settings os_old;
    vsr_output_settings_default(&os_old);
    os_old.codec = "ffv1";
    TRUNCATE(os_old, crf);
    vsr_run_settings rs;
    vsr_run_settings_default(&rs);
    rs.input = &is_old;
    rs.output = &os_old;
    vsr_run_result r = {.size = sizeof(r)};
    int err = vsr_upscale_file(ses, test_data("single_frame.mp4"), out, &rs, &r);
    CHECK_MSG(err == 0 && r.frames_written == 1, "run with old input/output settings: %s", vsr_last_error());
    remove(out);

    big_settings b;
    vsr_run_settings_default(&b.u.run);
    b.u.run.size = sizeof(vsr_run_settings) + 8;
    err = vsr_upscale_file(ses, test_data("single_frame.mp4"), out, &b.u.run, NULL);
    CHECK_MSG(err == VSR_EINVAL && strstr(vsr_last_error(), "size"), "run, size %u: %s (%s)", b.u.run.size,
              vsr_strerror(err), vsr_last_error());
    CHECK(access(out, F_OK) != 0);
    vsr_run_settings_default(&rs);
    rs.size = 0;
    CHECK(vsr_upscale_file(ses, test_data("single_frame.mp4"), out, &rs, NULL) == VSR_EINVAL);
    CHECK(access(out, F_OK) != 0);
    /* a result struct without a size: refused before anything is done */
    vsr_run_result r0 = {.size = 0};
    CHECK(vsr_upscale_file(ses, test_data("single_frame.mp4"), out, NULL, &r0) == VSR_EINVAL && r0.size == 0);
    CHECK(access(out, F_OK) != 0);
    /* a too large input settings struct inside: refused too, no output */
    big_settings bi;
    vsr_input_settings_default(&bi.u.in);
    bi.u.in.size = sizeof(vsr_input_settings) + 8;
    vsr_run_settings_default(&rs);
    rs.input = &bi.u.in;
    err = vsr_upscale_file(ses, test_data("single_frame.mp4"), out, &rs, NULL);
    CHECK_MSG(err == VSR_EINVAL, "run with a newer input settings struct: %s", vsr_strerror(err));
    CHECK(access(out, F_OK) != 0);
    vsr_session_close(&ses);
}

/* ------------------------------------------------------------------ */
/* Result structs                                                     */
/* ------------------------------------------------------------------ */

#define CANARY 0xC3
#define SLACK 64

/* buf holds full+SLACK bytes of canary, with the size field set. */
static void fill_canary(uint8_t *buf, size_t full, uint32_t size)
{
    memset(buf, CANARY, full + SLACK);
    memcpy(buf, &size, sizeof(size));
}

/* Index of the first byte in [from, to) that is not `value`, or -1. */
static long first_not(const uint8_t *buf, size_t from, size_t to, uint8_t value)
{
    for (size_t i = from; i < to; i++)
        if (buf[i] != value)
            return (long)i;
    return -1;
}

typedef int (*getter)(void *ctx, void *out);

/* The rule for results (docs/ABI.md): at most `size` bytes written; a
 * caller struct larger than libvsr's gets zeros past libvsr's part; the
 * size field tells how many bytes were filled; a size below 4 is refused
 * and nothing is written. */
static void check_result_struct(const char *name, size_t full, const size_t *sizes, int nsizes, getter get,
                                void *ctx)
{
    static uint8_t buf[4096 + SLACK];
    for (int k = 0; k < nsizes; k++) {
        uint32_t size = (uint32_t)sizes[k];
        fill_canary(buf, full, size);
        int err = get(ctx, buf);
        CHECK_MSG(err == 0, "%s, size %u: %s", name, size, vsr_strerror(err));
        size_t limit = size < full ? size : full;
        long w = first_not(buf, size > full ? size : limit, full + SLACK, CANARY);
        CHECK_MSG(w < 0, "%s with size %u: byte %ld (past the size) was written", name, size, w);
        if (size > full)
            CHECK_MSG(first_not(buf, full, size, 0) < 0, "%s with size %u: the part libvsr does not know is not zeroed",
                      name, size);
        /* something was written inside (the call did its job) */
        if (size > 8)
            CHECK_MSG(first_not(buf, sizeof(uint32_t), limit, CANARY) >= 0, "%s with size %u: nothing written", name,
                      size);
        uint32_t back;
        memcpy(&back, buf, sizeof(back));
        CHECK_MSG(back == limit, "%s: size field became %u, not the %zu bytes filled (was %u)", name, back, limit,
                  size);
    }
    /* no size: refused, nothing written */
    for (uint32_t size = 0; size < 4; size += 3) {
        fill_canary(buf, full, size);
        int err = get(ctx, buf);
        CHECK_MSG(err == VSR_EINVAL, "%s with size %u: %s, not refused", name, size, vsr_strerror(err));
        CHECK_MSG(first_not(buf, sizeof(uint32_t), full + SLACK, CANARY) < 0, "%s with size %u: written to", name,
                  size);
        uint32_t back;
        memcpy(&back, buf, sizeof(back));
        CHECK(back == size);
    }
}

static int get_input_info(void *ctx, void *out)
{
    return vsr_input_get_info(ctx, out);
}
static int get_session_info(void *ctx, void *out)
{
    return vsr_session_get_info(ctx, out);
}
static int get_model_card(void *ctx, void *out)
{
    return vsr_model_get_card(ctx, out);
}
static int get_model_info(void *ctx, void *out)
{
    return vsr_model_get_info(ctx, out);
}
static int get_session_card(void *ctx, void *out)
{
    return vsr_session_get_card(ctx, out);
}
static int get_process(void *ctx, void *out)
{
    (void)ctx;
    return vsr_process_get_settings(out);
}
static int get_recommendation(void *ctx, void *out)
{
    (void)ctx;
    return vsr_recommend_settings(NULL, out);
}
static int get_op_stats(void *ctx, void *out)
{
    return vsr_tracker_get_stats(ctx, VSR_OP_INFERENCE, NULL, out);
}
static int get_resources(void *ctx, void *out)
{
    return vsr_tracker_get_resources(ctx, out);
}
static int get_quality(void *ctx, void *out)
{
    return vsr_tracker_get_quality(ctx, out);
}

typedef struct run_ctx {
    vsr_session *ses;
    const char *in, *out;
} run_ctx;

static int get_run_result(void *ctx, void *out)
{
    run_ctx *c = ctx;
    vsr_input_settings is;
    vsr_input_settings_default(&is);
    is.max_frames = 2;
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    vsr_run_settings rs;
    vsr_run_settings_default(&rs);
    rs.input = &is;
    rs.output = &os;
    rs.pipelined = 0;
    int err = vsr_upscale_file(c->ses, c->in, c->out, &rs, out);
    remove(c->out);
    return err;
}

#define SIZES(type, mid)                                                                                  \
    {                                                                                                     \
        sizeof(uint32_t), offsetof(type, mid), offsetof(type, mid) + 1, sizeof(type) - 1, sizeof(type), \
            sizeof(type) + 16                                                                            \
    }
#define CHECK_RESULT(type, mid, get, ctx)                                                   \
    do {                                                                                    \
        size_t sizes_[] = SIZES(type, mid);                                                 \
        check_result_struct(#type " (" #mid ")", sizeof(type), sizes_, 6, get, ctx);       \
    } while (0)

static void test_result_structs(void)
{
    vsr_input *in = NULL;
    CHECK(vsr_input_open(&in, test_data("streams.mkv"), NULL) == 0);
    if (in) {
        CHECK_RESULT(vsr_input_info, format_name, get_input_info, in);
        CHECK_RESULT(vsr_input_info, colour, get_input_info, in);
        /* the fields inside a truncated struct are right */
        vsr_input_info info;
        memset(&info, 0, sizeof(info));
        info.size = (uint32_t)offsetof(vsr_input_info, frame_rate);
        CHECK(vsr_input_get_info(in, &info) == 0 && info.width == 128 && info.height == 72 &&
              info.time_base.den == 1000 && info.frame_rate.num == 0 && info.n_streams == 0);
    }
    vsr_input_close(&in);

    vsr_tracker *tr = NULL;
    vsr_tracker_open(&tr, NULL);
    vsr_model *m = open_tiny();
    vsr_session_settings ss;
    vsr_session_settings_default(&ss);
    ss.model = m;
    ss.tracker = tr;
    vsr_session *ses = NULL;
    CHECK_MSG(m && vsr_session_open(&ses, &ss) == 0, "%s", vsr_last_error());
    if (ses) {
        CHECK_RESULT(vsr_session_info, threads, get_session_info, ses);
        CHECK_RESULT(vsr_session_info, mem_limit, get_session_info, ses);
        CHECK_RESULT(vsr_model_card, frames_in, get_session_card, ses);
        CHECK_RESULT(vsr_model_card, license, get_session_card, ses);
        vsr_model_card card;
        memset(&card, 0, sizeof(card));
        card.size = (uint32_t)offsetof(vsr_model_card, layout);
        CHECK(vsr_session_get_card(ses, &card) == 0 && !strcmp(card.name, "tiny-x2") && card.scale == 2 &&
              card.rf_spatial == 0 && card.license[0] == 0 && card.size == offsetof(vsr_model_card, layout));

        run_ctx rc = {ses, test_data("real_h264.mp4"), test_tmp_file("abi_result.mkv")};
        CHECK_RESULT(vsr_run_result, chunks, get_run_result, &rc);
        CHECK_RESULT(vsr_run_result, seconds, get_run_result, &rc);
    }
    if (m) {
        CHECK_RESULT(vsr_model_card, rf_spatial, get_model_card, m);
        CHECK_RESULT(vsr_model_card, global_pool, get_model_card, m);
        CHECK_RESULT(vsr_model_info, precision, get_model_info, m);
        CHECK_RESULT(vsr_model_info, ns_per_pixel, get_model_info, m);
    }
    CHECK_RESULT(vsr_process_settings, cuda_tf32, get_process, NULL);
    CHECK_RESULT(vsr_recommendation, threads, get_recommendation, NULL);
    CHECK_RESULT(vsr_recommendation, reasons, get_recommendation, NULL);
    if (tr) {
        CHECK_RESULT(vsr_op_stats, mean_ms, get_op_stats, tr);
        CHECK_RESULT(vsr_op_stats, fps, get_op_stats, tr);
        vsr_op_stats st;
        memset(&st, 0, sizeof(st));
        st.size = (uint32_t)offsetof(vsr_op_stats, mean_ms);
        CHECK(vsr_tracker_get_stats(tr, VSR_OP_INFERENCE, NULL, &st) == 0 && st.count > 0 && st.mean_ms == 0);
        CHECK_RESULT(vsr_resource_stats, cpu_percent_mean, get_resources, tr);
        vsr_tracker_record_quality(tr, 0, 40.0, 0.99);
        CHECK_RESULT(vsr_quality_stats, psnr_min, get_quality, tr);
    }
    vsr_model_unref(&m);
    vsr_session_close(&ses);
    vsr_tracker_unref(&tr);
}

int main(void)
{
    if (test_tmpdir_make("abi") < 0)
        return 1;
    vsr_log_set_level(VSR_LOG_ERROR);
    test_input_settings();
    test_output_settings();
    test_tracker_settings();
    test_model_settings();
    test_process_settings();
    test_session_settings();
    test_run_settings();
    test_result_structs();
    test_tmpdir_remove();
    return test_result("abi");
}
