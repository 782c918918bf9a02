/*
 * Binary compatibility of the caller-sized structs (first member: size).
 *
 * Settings: a caller built against an older header passes a smaller struct
 * (here: filled by the _default() function, then .size cut to the offset of
 * a later field, and that field and everything after it filled with garbage
 * that would fail or crash if read). vsr_input_open, vsr_input_open_buffer,
 * vsr_output_open, vsr_tracker_open, vsr_session_open (tiny model),
 * vsr_model_load and vsr_upscale_file (run settings) must accept it and
 * behave as with the defaults for the fields they were not given. A size
 * larger than the library's struct (a newer header) or smaller than the
 * size field itself is refused with VSR_EINVAL and a message.
 *
 * Results: vsr_input_info, vsr_session_info, vsr_model_card, vsr_run_result,
 * vsr_op_stats (and the tracker's resource and quality stats) with a smaller
 * .size get no byte written past it: each is handed a larger buffer full of
 * a canary, and the canary after .size must survive. With a larger .size
 * the library writes at most its own struct.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libvsr/vsr.h"
#include "testutil.h"

static char tmpdir[256];

static const char *tmp_file(const char *name)
{
    static char bufs[8][1024];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 1024, "%s/%s", tmpdir, name);
    return b;
}

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
    const char *out = tmp_file("abi_out.mkv");
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
/* Session settings and run settings                                  */
/* ------------------------------------------------------------------ */

static void test_session_settings(void)
{
    /* cut before batch: batch 0, tile 3, mem_limit < 0 would be refused,
     * and the tracker and log callback are garbage pointers */
    const size_t cuts[] = {offsetof(vsr_session_settings, batch), offsetof(vsr_session_settings, tile),
                           offsetof(vsr_session_settings, tracker), offsetof(vsr_session_settings, log_callback)};
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        s.model_path = test_model("tiny-x2.pt");
        s.precision = VSR_PRECISION_FP32;
        s.threads = 1;
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
        /* it runs (and touches neither the garbage tracker nor the log callback) */
        vsr_frame *f = NULL, *o = NULL;
        vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, 16, 8);
        memset(vsr_frame_data(f, 0), 0, sizeof(float) * 3 * 16 * 8);
        CHECK(vsr_session_send_frame(ses, f) == 0);
        CHECK(vsr_session_send_frame(ses, NULL) == 0);
        CHECK(vsr_session_receive_frame(ses, &o) == 0 && vsr_frame_width(o) == 32);
        vsr_frame_unref(&o);
        vsr_frame_unref(&f);
        vsr_session_close(&ses);
    }
    /* the model loader reads the same struct */
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.model_path = test_model("tiny-x2.pt");
    s.precision = VSR_PRECISION_FP32;
    s.threads = 1;
    TRUNCATE(s, batch);
    vsr_model *m = NULL;
    CHECK_MSG(vsr_model_load(&m, &s) == 0 && m, "model load, size %u: %s", s.size, vsr_last_error());
    vsr_model_unload(&m);

    big_settings b;
    vsr_session_settings_default(&b.u.ses);
    b.u.ses.model_path = test_model("tiny-x2.pt");
    b.u.ses.size = sizeof(vsr_session_settings) + 8;
    vsr_session *ses = NULL;
    int err = vsr_session_open(&ses, &b.u.ses);
    CHECK_MSG(err == VSR_EINVAL && !ses && strstr(vsr_last_error(), "size"), "session, size %u: %s (%s)",
              b.u.ses.size, vsr_strerror(err), vsr_last_error());
    err = vsr_model_load(&m, &b.u.ses);
    CHECK_MSG(err == VSR_EINVAL && !m && strstr(vsr_last_error(), "size"), "model load, size %u: %s", b.u.ses.size,
              vsr_strerror(err));
    vsr_session_settings_default(&s);
    s.model_path = test_model("tiny-x2.pt");
    s.size = 2;
    CHECK(vsr_session_open(&ses, &s) == VSR_EINVAL && !ses);
}

static void test_run_settings(void)
{
    vsr_session_settings ss;
    vsr_session_settings_default(&ss);
    ss.model_path = test_model("tiny-x2.pt");
    ss.precision = VSR_PRECISION_FP32;
    ss.threads = 1;
    vsr_session *ses = NULL;
    CHECK_MSG(vsr_session_open(&ses, &ss) == 0, "%s", vsr_last_error());
    if (!ses)
        return;
    vsr_input_settings is;
    vsr_input_settings_default(&is);
    is.max_frames = 5;
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    const char *out = tmp_file("abi_run.mkv");
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
        /* garbage that fails fast if read (a huge encode delay would only be slow) */
        rs.test_encode_delay_us = -1;
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

/* buf holds full+SLACK bytes of canary, with the size field set; after the
 * call every byte from `size` on must still be canary. Returns the index of
 * the first overwritten byte, or -1. */
static void fill_canary(uint8_t *buf, size_t full, uint32_t size)
{
    memset(buf, CANARY, full + SLACK);
    memcpy(buf, &size, sizeof(size));
}

static long first_written(const uint8_t *buf, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (buf[i] != CANARY)
            return (long)i;
    return -1;
}

typedef int (*getter)(void *ctx, void *out);

/* zero_tail: the getter follows the 1.0 rule for a size larger than its
 * struct (the caller's bytes beyond libvsr's struct are zeroed). */
static void check_result_struct_rule(const char *name, size_t full, const size_t *sizes, int nsizes, getter get,
                                     void *ctx, int zero_tail)
{
    static uint8_t buf[4096 + SLACK];
    for (int k = 0; k < nsizes; k++) {
        uint32_t size = (uint32_t)sizes[k];
        fill_canary(buf, full, size);
        int err = get(ctx, buf);
        CHECK_MSG(err == 0, "%s, size %u: %s", name, size, vsr_strerror(err));
        size_t limit = size < full ? size : full;
        if (zero_tail && size > full) {
            int zeroed = 1;
            for (size_t i = full; i < size; i++)
                zeroed &= buf[i] == 0;
            CHECK_MSG(zeroed, "%s with size %u: the bytes past libvsr's struct are not zeroed", name, size);
            limit = size;
        }
        long w = first_written(buf, limit, full + SLACK);
        CHECK_MSG(w < 0, "%s with size %u: byte %ld (past the size) was written", name, size, w);
        /* something was written inside (the call did its job) */
        if (size > 8)
            CHECK_MSG(first_written(buf, sizeof(uint32_t), limit) >= 0, "%s with size %u: nothing written", name,
                      size);
        uint32_t back;
        memcpy(&back, buf, sizeof(back));
        CHECK_MSG(back == size || (size > full && back == full), "%s: size field became %u (was %u)", name, back, size);
    }
}

static void check_result_struct(const char *name, size_t full, const size_t *sizes, int nsizes, getter get, void *ctx)
{
    check_result_struct_rule(name, full, sizes, nsizes, get, ctx, 0);
}

static void check_tracker_result_struct(const char *name, size_t full, const size_t *sizes, int nsizes, getter get,
                                        void *ctx)
{
    check_result_struct_rule(name, full, sizes, nsizes, get, ctx, 1);
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
static int get_session_card(void *ctx, void *out)
{
    return vsr_session_get_card(ctx, out);
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

static void test_result_structs(void)
{
    vsr_input *in = NULL;
    CHECK(vsr_input_open(&in, test_data("streams.mkv"), NULL) == 0);
    if (in) {
        size_t s[] = SIZES(vsr_input_info, format_name);
        check_result_struct("vsr_input_info", sizeof(vsr_input_info), s, 6, get_input_info, in);
        size_t s2[] = SIZES(vsr_input_info, colour);
        check_result_struct("vsr_input_info", sizeof(vsr_input_info), s2, 6, get_input_info, in);
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
    vsr_session_settings ss;
    vsr_session_settings_default(&ss);
    ss.model_path = test_model("tiny-x2.pt");
    ss.precision = VSR_PRECISION_FP32;
    ss.threads = 1;
    ss.tracker = tr;
    vsr_session *ses = NULL;
    CHECK_MSG(vsr_session_open(&ses, &ss) == 0, "%s", vsr_last_error());
    vsr_model *m = NULL;
    CHECK(vsr_model_load(&m, &ss) == 0);
    if (ses) {
        size_t s[] = SIZES(vsr_session_info, threads);
        check_result_struct("vsr_session_info", sizeof(vsr_session_info), s, 6, get_session_info, ses);
        size_t s2[] = SIZES(vsr_session_info, mem_limit);
        check_result_struct("vsr_session_info", sizeof(vsr_session_info), s2, 6, get_session_info, ses);
        size_t c[] = SIZES(vsr_model_card, frames_in);
        check_result_struct("vsr_model_card (session)", sizeof(vsr_model_card), c, 6, get_session_card, ses);
        size_t c2[] = SIZES(vsr_model_card, license);
        check_result_struct("vsr_model_card (session)", sizeof(vsr_model_card), c2, 6, get_session_card, ses);
        vsr_model_card card;
        memset(&card, 0, sizeof(card));
        card.size = (uint32_t)offsetof(vsr_model_card, layout);
        CHECK(vsr_session_get_card(ses, &card) == 0 && !strcmp(card.name, "tiny-x2") && card.scale == 2 &&
              card.rf_spatial == 0 && card.license[0] == 0);

        run_ctx rc = {ses, test_data("real_h264.mp4"), tmp_file("abi_result.mkv")};
        size_t r[] = SIZES(vsr_run_result, chunks);
        check_result_struct("vsr_run_result", sizeof(vsr_run_result), r, 6, get_run_result, &rc);
        size_t r2[] = SIZES(vsr_run_result, seconds);
        check_result_struct("vsr_run_result", sizeof(vsr_run_result), r2, 6, get_run_result, &rc);
    }
    if (m) {
        size_t c[] = SIZES(vsr_model_card, rf_spatial);
        check_result_struct("vsr_model_card", sizeof(vsr_model_card), c, 6, get_model_card, m);
    }
    if (tr) {
        size_t s[] = SIZES(vsr_op_stats, mean_ms);
        check_tracker_result_struct("vsr_op_stats", sizeof(vsr_op_stats), s, 6, get_op_stats, tr);
        size_t s2[] = SIZES(vsr_op_stats, fps);
        check_tracker_result_struct("vsr_op_stats", sizeof(vsr_op_stats), s2, 6, get_op_stats, tr);
        vsr_op_stats st;
        memset(&st, 0, sizeof(st));
        st.size = (uint32_t)offsetof(vsr_op_stats, mean_ms);
        CHECK(vsr_tracker_get_stats(tr, VSR_OP_INFERENCE, NULL, &st) == 0 && st.count > 0 && st.mean_ms == 0);
        size_t rs[] = SIZES(vsr_resource_stats, cpu_percent_mean);
        check_tracker_result_struct("vsr_resource_stats", sizeof(vsr_resource_stats), rs, 6, get_resources, tr);
        vsr_tracker_record_quality(tr, 0, 40.0, 0.99);
        size_t q[] = SIZES(vsr_quality_stats, psnr_min);
        check_tracker_result_struct("vsr_quality_stats", sizeof(vsr_quality_stats), q, 6, get_quality, tr);
    }
    vsr_model_unload(&m);
    vsr_session_close(&ses);
    vsr_tracker_unref(&tr);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vsr-test-abi-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    vsr_log_set_level(VSR_LOG_ERROR);
    test_input_settings();
    test_output_settings();
    test_tracker_settings();
    test_session_settings();
    test_run_settings();
    test_result_structs();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_result("abi");
}
