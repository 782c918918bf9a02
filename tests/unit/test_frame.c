/*
 * vsr_frame's 1.0 contract (lib/frame.c) and what a session does with it:
 *  - frames are immutable once shared: every setter refuses with
 *    VSR_EINVAL ("frame is shared") while a second reference exists, and
 *    works again once it is gone;
 *  - vsr_frame_is_writable: 1 for a fresh or wrapped frame held once, 0
 *    while shared; vsr_frame_make_writable copies a shared frame (same
 *    pixels and properties, the old reference dropped) and leaves a
 *    writable one alone (same pointer);
 *  - user data goes from an input frame to the session's output frame made
 *    from it (per-frame and sequence models), and through vsr_frame_convert;
 *  - output_format: a session asked for YUV 4:2:0 hands out exactly what
 *    converting its RGBF32 output gives (same bytes), with the input's pts;
 *  - no extra copy: the outputs of one batched pass over whole frames are
 *    the model's output block itself (frame i+1's pixels follow frame i's,
 *    so they share it and are not writable alone); tiled or blended runs
 *    assemble frames of their own (writable).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libvsr/vsr.h"
#include "testutil.h"
#include "testvsr.h"

static vsr_frame *pattern(int w, int h, int seed)
{
    vsr_frame *f = NULL;
    if (vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, w, h) < 0)
        return NULL;
    float *d = (float *)vsr_frame_data(f, 0);
    for (int i = 0; i < 3 * w * h; i++)
        d[i] = (float)((i * 7 + seed * 13) % 97) / 96.0f;
    vsr_frame_set_pts(f, 100 + seed);
    vsr_frame_set_time_base(f, (vsr_rational){1, 25});
    return f;
}

static void test_setters_refuse_shared(void)
{
    vsr_frame *f = pattern(8, 4, 0);
    CHECK(f && vsr_frame_is_writable(f) == 1);
    vsr_frame *g = vsr_frame_ref(f);
    CHECK(vsr_frame_is_writable(f) == 0 && vsr_frame_is_writable(g) == 0);
    vsr_colour c = {1, 1, 1, 1, 1};
    int x;
    CHECK(vsr_frame_set_pts(f, 7) == VSR_EINVAL && strstr(vsr_last_error(), "shared"));
    CHECK(vsr_frame_set_duration(f, 7) == VSR_EINVAL);
    CHECK(vsr_frame_set_time_base(f, (vsr_rational){1, 7}) == VSR_EINVAL);
    CHECK(vsr_frame_set_colour(f, &c) == VSR_EINVAL);
    CHECK(vsr_frame_set_user_data(f, &x) == VSR_EINVAL);
    /* nothing changed */
    CHECK(vsr_frame_pts(g) == 100 && vsr_frame_time_base(g).den == 25 && vsr_frame_user_data(g) == NULL);
    vsr_frame_unref(&g);
    CHECK(vsr_frame_set_pts(f, 7) == 0 && vsr_frame_pts(f) == 7);
    CHECK(vsr_frame_set_duration(f, 3) == 0 && vsr_frame_duration(f) == 3);
    CHECK(vsr_frame_set_colour(f, &c) == 0);
    CHECK(vsr_frame_set_user_data(f, &x) == 0 && vsr_frame_user_data(f) == &x);
    CHECK(vsr_frame_set_pts(NULL, 1) == VSR_EINVAL && vsr_frame_set_colour(f, NULL) == VSR_EINVAL);
    vsr_frame_unref(&f);
}

static void count_free(void *opaque)
{
    (*(int *)opaque)++;
}

static void test_make_writable(void)
{
    vsr_frame *f = pattern(6, 5, 1);
    int tag;
    vsr_frame_set_user_data(f, &tag);
    /* writable: left alone */
    vsr_frame *same = f;
    CHECK(vsr_frame_make_writable(&f) == 0 && f == same);
    /* shared: a private copy, the other holder keeps the original */
    vsr_frame *other = vsr_frame_ref(f);
    CHECK(vsr_frame_make_writable(&f) == 0 && f != other && vsr_frame_is_writable(f) == 1);
    CHECK(vsr_frame_is_writable(other) == 1); /* its reference is the only one left */
    CHECK(!memcmp(vsr_frame_data(f, 0), vsr_frame_data(other, 0), sizeof(float) * 3 * 6 * 5));
    CHECK(vsr_frame_data(f, 0) != vsr_frame_data(other, 0));
    CHECK(vsr_frame_pts(f) == 101 && vsr_frame_user_data(f) == &tag && vsr_frame_format(f) == VSR_PIXFMT_RGBF32);
    vsr_frame_unref(&other);
    vsr_frame_unref(&f);
    CHECK(vsr_frame_make_writable(NULL) == VSR_EINVAL && vsr_frame_make_writable(&f) == VSR_EINVAL);

    /* caller memory: writable while held once; the copy of a shared one is libvsr's */
    static uint8_t pixels[4 * 3 * 2];
    uint8_t *data[4] = {pixels, NULL, NULL, NULL};
    ptrdiff_t ls[4] = {12, 0, 0, 0};
    int freed = 0;
    vsr_frame *w = NULL;
    CHECK(vsr_frame_wrap(&w, VSR_PIXFMT_RGB24, 4, 2, data, ls, count_free, &freed) == 0);
    CHECK(vsr_frame_is_writable(w) == 1);
    vsr_frame *w2 = vsr_frame_ref(w);
    CHECK(vsr_frame_make_writable(&w) == 0 && vsr_frame_data(w, 0) != pixels && vsr_frame_format(w) == VSR_PIXFMT_RGB24);
    CHECK(freed == 0);
    vsr_frame_unref(&w2);
    CHECK(freed == 1);
    vsr_frame_unref(&w);
}

/* Send frames (with user data i+1), drain, collect outputs. */
static int run_frames(vsr_session *ses, vsr_frame **in, int n, vsr_frame **out)
{
    int got = 0, err = 0;
    for (int i = 0; i <= n && err >= 0; i++) {
        while ((err = vsr_session_send_frame(ses, i < n ? in[i] : NULL)) == VSR_EAGAIN) {
            vsr_frame *o = NULL;
            if (vsr_session_receive_frame(ses, &o) == 0)
                out[got++] = o;
        }
        vsr_frame *o = NULL;
        while (err >= 0 && vsr_session_receive_frame(ses, &o) == 0)
            out[got++] = o;
    }
    vsr_session_reset(ses);
    return err < 0 ? err : got;
}

static void test_user_data_and_output_format(void)
{
    enum { N = 5 };
    static int tags[N];
    vsr_frame *in[N] = {0};
    for (int i = 0; i < N; i++) {
        in[i] = pattern(12, 8, i);
        CHECK(vsr_frame_set_user_data(in[i], &tags[i]) == 0);
    }
    const char *models[] = {"tiny-x2.pt", "temporal-r2-x2.pt", "window5-center-x2.pt"};
    for (int m = 0; m < 3; m++) {
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        vsr_session *ses = NULL, *yuv = NULL;
        CHECK_MSG(test_open_session(&ses, &s, test_model(models[m]), NULL, VSR_PRECISION_FP32) == 0, "%s",
                  vsr_last_error());
        s.output_format = VSR_PIXFMT_YUV420P;
        CHECK_MSG(test_open_session(&yuv, &s, test_model(models[m]), NULL, VSR_PRECISION_FP32) == 0, "%s",
                  vsr_last_error());
        vsr_frame *rgb_out[N + 2] = {0}, *yuv_out[N + 2] = {0};
        int a = ses ? run_frames(ses, in, N, rgb_out) : -1;
        int b = yuv ? run_frames(yuv, in, N, yuv_out) : -1;
        CHECK_MSG(a == N && b == N, "%s: %d and %d outputs", models[m], a, b);
        for (int i = 0; i < N && a == N && b == N; i++) {
            CHECK_MSG(vsr_frame_user_data(rgb_out[i]) == &tags[i] && vsr_frame_user_data(yuv_out[i]) == &tags[i],
                      "%s frame %d: user data not carried", models[m], i);
            CHECK(vsr_frame_pts(yuv_out[i]) == 100 + i && vsr_frame_pts(rgb_out[i]) == 100 + i);
            CHECK(vsr_frame_format(rgb_out[i]) == VSR_PIXFMT_RGBF32 && vsr_frame_format(yuv_out[i]) == VSR_PIXFMT_YUV420P);
            /* one conversion, the same as the caller's own */
            vsr_frame *conv = NULL;
            CHECK(vsr_frame_convert(&conv, rgb_out[i], VSR_PIXFMT_YUV420P, 24, 16) == 0);
            int same = conv && vsr_frame_width(yuv_out[i]) == 24 && vsr_frame_height(yuv_out[i]) == 16;
            for (int p = 0; same && p < 3; p++)
                for (int y = 0; same && y < vsr_frame_plane_height(conv, p); y++)
                    same = !memcmp(vsr_frame_data(conv, p) + y * vsr_frame_linesize(conv, p),
                                   vsr_frame_data(yuv_out[i], p) + y * vsr_frame_linesize(yuv_out[i], p),
                                   (size_t)vsr_frame_plane_width(conv, p));
            CHECK_MSG(same, "%s frame %d: output_format differs from converting the RGBF32 output", models[m], i);
            CHECK(conv && vsr_frame_user_data(conv) == &tags[i]);
            vsr_frame_unref(&conv);
        }
        for (int i = 0; i < N + 2; i++) {
            vsr_frame_unref(&rgb_out[i]);
            vsr_frame_unref(&yuv_out[i]);
        }
        vsr_session_close(&ses);
        vsr_session_close(&yuv);
    }
    /* a format libvsr has no layout for is refused at open */
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.output_format = VSR_PIXFMT_OTHER;
    vsr_session *bad = NULL;
    CHECK(test_open_session(&bad, &s, test_model("tiny-x2.pt"), NULL, VSR_PRECISION_FP32) == VSR_EINVAL && !bad);
    for (int i = 0; i < N; i++)
        vsr_frame_unref(&in[i]);
}

static void test_no_extra_copy(void)
{
    enum { N = 4 };
    vsr_frame *in[N] = {0};
    for (int i = 0; i < N; i++)
        in[i] = pattern(16, 12, i);
    struct {
        int batch, tile, blend;
        int zero_copy;
    } cases[] = {{2, 0, 0, 1}, {1, 0, 0, 1}, {2, 8, 0, 0}, {1, 0, 1, 0}};
    vsr_frame *ref[N] = {0};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        vsr_session_settings s;
        vsr_session_settings_default(&s);
        s.batch = cases[k].batch;
        s.tile = cases[k].tile;
        s.tile_pad = 1;
        s.tile_blend = cases[k].blend;
        vsr_session *ses = NULL;
        CHECK_MSG(test_open_session(&ses, &s, test_model("tiny-x2.pt"), NULL, VSR_PRECISION_FP32) == 0, "%s",
                  vsr_last_error());
        vsr_frame *out[N + 2] = {0};
        int got = ses ? run_frames(ses, in, N, out) : -1;
        CHECK_EQ_INT(got, N);
        size_t img = sizeof(float) * 3 * 32 * 24;
        for (int i = 0; got == N && i < N; i++) {
            if (cases[k].zero_copy && cases[k].batch == 2 && i % 2 == 1) {
                /* frames 2j and 2j+1 came out of one pass: one block */
                CHECK_MSG(vsr_frame_data(out[i], 0) == vsr_frame_data(out[i - 1], 0) + img,
                          "batch 2: frame %d is not the model output's next image", i);
                CHECK(vsr_frame_is_writable(out[i]) == 0 && vsr_frame_is_writable(out[i - 1]) == 0);
            }
            if (!cases[k].zero_copy || cases[k].batch == 1)
                CHECK_MSG(vsr_frame_is_writable(out[i]) == 1, "case %zu frame %d: not writable", k, i);
            if (k == 0) {
                ref[i] = vsr_frame_ref(out[i]);
            } else if (!cases[k].blend) {
                /* the same result (oneDNN may round differently per batch size) */
                const float *x = (const float *)vsr_frame_data(out[i], 0), *y = (const float *)vsr_frame_data(ref[i], 0);
                double d = 0;
                for (size_t j = 0; j < img / sizeof(float); j++)
                    d = fabs((double)x[j] - y[j]) > d ? fabs((double)x[j] - y[j]) : d;
                CHECK_MSG(d <= 1e-5, "case %zu frame %d differs from batch 2 by %g", k, i, d);
            }
        }
        /* a shared output block: make_writable gives a copy the caller may change */
        if (cases[k].zero_copy && cases[k].batch == 2 && got == N) {
            CHECK(vsr_frame_make_writable(&out[0]) == 0 && vsr_frame_is_writable(out[0]) == 1);
            ((float *)vsr_frame_data(out[0], 0))[0] = -1.0f;
            CHECK(((float *)vsr_frame_data(out[1], 0))[0] >= 0.0f && ((float *)vsr_frame_data(ref[0], 0))[0] >= 0.0f);
        }
        for (int i = 0; i < N + 2; i++)
            vsr_frame_unref(&out[i]);
        vsr_session_close(&ses);
    }
    for (int i = 0; i < N; i++) {
        vsr_frame_unref(&ref[i]);
        vsr_frame_unref(&in[i]);
    }
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_ERROR);
    CHECK(test_set_threads(1) == 0);
    test_setters_refuse_shared();
    test_make_writable();
    test_user_data_and_output_format();
    test_no_extra_copy();
    return test_result("frame");
}
