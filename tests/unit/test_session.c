/*
 * The streaming API of vsr_session (lib/session.c with the chunker and
 * tiler), through the public functions only:
 *  - send/receive: VSR_EAGAIN is never returned by both sides (a send that
 *    says EAGAIN is followed by a receive that gives a frame; a receive that
 *    says EAGAIN is followed by a send that takes the frame), a NULL send
 *    drains, then VSR_EOF (and again VSR_EOF); a send after the flush is an
 *    error until vsr_session_reset(); a model failure sticks until reset;
 *  - output frames are RGBF32 at scale x size with the input's pts,
 *    duration, time base and colour description, one per input, in order;
 *  - frames from vsr_frame_wrap (caller memory: RGB24, and RGBF32 with
 *    padded rows in separate planes) give the same output as library frames
 *    and the free callback runs exactly once;
 *  - tiny-x2.pt computes exactly its convolution + pixel shuffle: weights
 *    measured through the session from impulses, checked against the
 *    weights torch itself reads from the file ($VSR_PYTHON) and against the
 *    structure make_test_models.py gives them, then a real picture's output
 *    equals the reference convolution (zero padding, clamped to the card's
 *    range [0, 1] as the shim does) within 1e-5;
 *  - temporal-r2-x2.pt in chunks (N, O >= 4) equals one whole-clip chunk
 *    within 1e-5 for clip lengths 1, N-1, N, N+1, 2N+3; with O = 0 the seams
 *    show (>= 1e-3);
 *  - window5-center-x2.pt: one output per input in order, each the model
 *    applied to its own clamped window;
 *  - tiles (spatial-rf4-x2.pt and the real model): pad >= receptive radius
 *    equals untiled within 1e-5, pad 0 differs visibly (>= 1e-3),
 *    tile_blend stays close (PSNR reported);
 *  - a memory limit below one whole-frame pass: smaller tiles, same output
 *    within 1e-5; vsr_session_get_info() after "auto" sizing.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libvsr/vsr.h"
#include "testutil.h"
#include "testvsr.h"

/* ---- per-session log capture ---- */

static char slog[16384];

static void slog_cb(void *user, int level, const char *msg)
{
    (void)user;
    size_t n = strlen(slog);
    if (level <= VSR_LOG_WARNING && n + strlen(msg) + 2 < sizeof(slog))
        snprintf(slog + n, sizeof(slog) - n, "%s\n", msg);
}

/* ---- frames ---- */

/* The first n decoded frames of a clip (YUV, with the clip's pts/colour). */
static int decode_clip(const char *clip, int n, vsr_frame **out)
{
    vsr_input *in = NULL;
    if (vsr_input_open(&in, test_data(clip), NULL) < 0) {
        fprintf(stderr, "%s: %s\n", clip, vsr_last_error());
        return 0;
    }
    int k = 0;
    while (k < n && vsr_input_read_frame(in, &out[k]) == 0)
        k++;
    vsr_input_close(&in);
    return k;
}

static void unref_all(vsr_frame **f, int n)
{
    for (int i = 0; i < n; i++)
        vsr_frame_unref(&f[i]);
}

static float *chw(const vsr_frame *f)
{
    return (float *)vsr_frame_data(f, 0);
}

static double max_abs(const vsr_frame *a, const vsr_frame *b)
{
    if (!a || !b || vsr_frame_width(a) != vsr_frame_width(b) || vsr_frame_height(a) != vsr_frame_height(b))
        return INFINITY;
    size_t n = (size_t)3 * vsr_frame_width(a) * vsr_frame_height(a);
    const float *x = chw(a), *y = chw(b);
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - y[i]);
        if (!(d <= m))
            m = d; /* NaN counts as a difference */
    }
    return m;
}

static double psnr(const vsr_frame *a, const vsr_frame *b)
{
    size_t n = (size_t)3 * vsr_frame_width(a) * vsr_frame_height(a);
    const float *x = chw(a), *y = chw(b);
    double se = 0;
    for (size_t i = 0; i < n; i++)
        se += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    return se > 0 ? 10 * log10(n / se) : 200;
}

/* ---- sessions ---- */

static vsr_session *open_ses(const char *model, vsr_model *shared, int chunk, int overlap, int tile, int pad,
                             int blend, int64_t mem_limit)
{
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.model = shared;
    s.chunk = chunk;
    s.overlap = overlap;
    s.tile = tile;
    s.tile_pad = pad;
    s.tile_blend = blend;
    s.mem_limit = mem_limit;
    s.log_callback = slog_cb;
    vsr_session *ses = NULL;
    int err = model ? test_open_session(&ses, &s, model, NULL, VSR_PRECISION_FP32) : vsr_session_open(&ses, &s);
    CHECK_MSG(err == 0, "open %s (chunk %d overlap %d tile %d pad %d): %s", model ? model : "(shared)", chunk,
              overlap, tile, pad, vsr_last_error());
    return ses;
}

enum { LAZY = 0, EAGER = 1 };

/*
 * Send n frames and a flush, receiving as the policy says (LAZY: only when
 * send says EAGAIN, EAGER: after every send until EAGAIN), checking the
 * EAGAIN contract at every step. Returns the number of outputs stored in
 * out (up to max), or a negative error.
 */
static int drive(vsr_session *ses, vsr_frame **in, int n, vsr_frame **out, int max, int policy, const char *what)
{
    int got = 0, violations = 0;
    int recv_said_eagain = 0;
    for (int i = 0; i < n; i++) {
        int err = vsr_session_send_frame(ses, in[i]);
        if (err == VSR_EAGAIN) {
            if (recv_said_eagain) {
                violations++;
                fprintf(stderr, "%s: receive said EAGAIN, then send said EAGAIN (frame %d)\n", what, i);
            }
            /* the other side must have a frame now */
            vsr_frame *o = NULL;
            int r = vsr_session_receive_frame(ses, &o);
            if (r != 0) {
                violations++;
                fprintf(stderr, "%s: send said EAGAIN, then receive said %s (frame %d)\n", what, vsr_strerror(r), i);
                return r < 0 && r != VSR_EAGAIN ? r : -1;
            }
            if (got < max)
                out[got] = o;
            else
                vsr_frame_unref(&o);
            got++;
            i--; /* send it again */
            recv_said_eagain = 0;
            continue;
        }
        if (err < 0)
            return err;
        recv_said_eagain = 0;
        if (policy == EAGER) {
            vsr_frame *o = NULL;
            int r;
            while ((r = vsr_session_receive_frame(ses, &o)) == 0) {
                if (got < max)
                    out[got] = o;
                else
                    vsr_frame_unref(&o);
                got++;
            }
            if (r != VSR_EAGAIN)
                return r;
            recv_said_eagain = 1;
        }
    }
    int err = vsr_session_send_frame(ses, NULL);
    if (err < 0)
        return err;
    for (;;) {
        vsr_frame *o = NULL;
        int r = vsr_session_receive_frame(ses, &o);
        if (r == VSR_EOF)
            break;
        if (r == VSR_EAGAIN) { /* after a flush there is nothing to wait for */
            violations++;
            fprintf(stderr, "%s: receive said EAGAIN after the flush\n", what);
            break;
        }
        if (r < 0)
            return r;
        if (got < max)
            out[got] = o;
        else
            vsr_frame_unref(&o);
        got++;
    }
    vsr_frame *o = NULL;
    CHECK_MSG(vsr_session_receive_frame(ses, &o) == VSR_EOF && !o, "%s: not VSR_EOF again", what);
    CHECK_MSG(violations == 0, "%s: %d violations of the EAGAIN contract", what, violations);
    return got;
}

/* Run a clip through a fresh sequence of ses; outputs in out[0..n). */
static int run_clip(vsr_session *ses, vsr_frame **in, int n, vsr_frame **out, const char *what)
{
    vsr_session_reset(ses);
    int got = drive(ses, in, n, out, n, LAZY, what);
    if (got != n) {
        CHECK_MSG(0, "%s: %d outputs for %d inputs (%s)", what, got, n, got < 0 ? vsr_last_error() : "");
        if (got > n)
            unref_all(out, n);
        else if (got > 0)
            unref_all(out, got);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Contract                                                           */
/* ------------------------------------------------------------------ */

static void check_outputs(const char *what, vsr_frame **in, vsr_frame **out, int n, int scale)
{
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        vsr_colour ci, co;
        vsr_frame_get_colour(in[i], &ci);
        vsr_frame_get_colour(out[i], &co);
        vsr_rational ti = vsr_frame_time_base(in[i]), to = vsr_frame_time_base(out[i]);
        ok = vsr_frame_format(out[i]) == VSR_PIXFMT_RGBF32 && vsr_frame_width(out[i]) == scale * vsr_frame_width(in[i]) &&
             vsr_frame_height(out[i]) == scale * vsr_frame_height(in[i]) && vsr_frame_pts(out[i]) == vsr_frame_pts(in[i]) &&
             vsr_frame_duration(out[i]) == vsr_frame_duration(in[i]) && ti.num == to.num && ti.den == to.den &&
             ci.matrix == co.matrix && ci.range == co.range && ci.primaries == co.primaries &&
             ci.transfer == co.transfer;
        if (!ok)
            fprintf(stderr,
                    "%s: output %d: %s %dx%d pts %lld dur %lld tb %d/%d colour %d/%d/%d/%d; input %dx%d pts %lld dur "
                    "%lld tb %d/%d colour %d/%d/%d/%d\n",
                    what, i, vsr_frame_format_name(out[i]), vsr_frame_width(out[i]), vsr_frame_height(out[i]),
                    (long long)vsr_frame_pts(out[i]), (long long)vsr_frame_duration(out[i]), to.num, to.den, co.matrix,
                    co.range, co.primaries, co.transfer, vsr_frame_width(in[i]), vsr_frame_height(in[i]),
                    (long long)vsr_frame_pts(in[i]), (long long)vsr_frame_duration(in[i]), ti.num, ti.den, ci.matrix,
                    ci.range, ci.primaries, ci.transfer);
    }
    CHECK_MSG(ok, "%s: output frames do not carry the inputs' properties", what);
}

static void test_contract(void)
{
    enum { N = 11 };
    vsr_frame *in[N] = {0}, *out[N + 4] = {0}, *out2[N + 4] = {0};
    int n = decode_clip("real_bt601.mkv", N, in); /* YUV, BT.601 tags, pts from 21 */
    CHECK(n == N);
    if (n != N)
        return;
    vsr_colour c0;
    vsr_frame_get_colour(in[0], &c0);
    CHECK(c0.matrix == 6 && c0.range == 1);

    const char *models[] = {"tiny-x2.pt", "temporal-r2-x2.pt", "window5-center-x2.pt"};
    for (int m = 0; m < 3; m++) {
        vsr_session *ses = open_ses(test_model(models[m]), NULL, m == 1 ? 5 : VSR_AUTO, m == 1 ? 4 : VSR_AUTO, 0,
                                    VSR_AUTO, 0, 0);
        if (!ses)
            continue;
        char what[128];
        for (int policy = LAZY; policy <= EAGER; policy++) {
            snprintf(what, sizeof(what), "%s (%s)", models[m], policy == LAZY ? "lazy" : "eager");
            vsr_session_reset(ses);
            vsr_frame **o = policy == LAZY ? out : out2;
            int got = drive(ses, in, N, o, N + 4, policy, what);
            CHECK_MSG(got == N, "%s: %d outputs for %d inputs", what, got, N);
            if (got == N)
                check_outputs(what, in, o, N, 2);
            /* receive after EOF: still EOF; send after the flush: an error until reset */
            vsr_frame *x = NULL;
            CHECK(vsr_session_receive_frame(ses, &x) == VSR_EOF && !x);
            int err = vsr_session_send_frame(ses, in[0]);
            CHECK_MSG(err == VSR_EINVAL && strstr(vsr_last_error(), "reset"), "%s: send after flush: %s (%s)", what,
                      vsr_strerror(err), vsr_last_error());
            err = vsr_session_send_frame(ses, NULL); /* a second flush changes nothing */
            CHECK(vsr_session_receive_frame(ses, &x) == VSR_EOF && !x);
        }
        /* both policies give identical frames */
        int same = 1;
        for (int i = 0; i < N; i++)
            same &= max_abs(out[i], out2[i]) == 0.0;
        CHECK_MSG(same, "%s: lazy and eager receiving give different frames", models[m]);
        unref_all(out, N + 4);
        unref_all(out2, N + 4);

        /* after reset: a new sequence, even of another size */
        vsr_session_reset(ses);
        vsr_frame *small = NULL;
        CHECK(vsr_frame_convert(&small, in[0], VSR_PIXFMT_RGBF32, 40, 24) == 0);
        vsr_frame *one[1] = {small}, *res[2] = {0};
        int got = drive(ses, one, 1, res, 2, LAZY, "after reset");
        CHECK_MSG(got == 1 && vsr_frame_width(res[0]) == 80 && vsr_frame_height(res[0]) == 48, "%s: after reset: %d",
                  models[m], got);
        unref_all(res, 2);
        /* a size change within a sequence is refused */
        vsr_session_reset(ses);
        CHECK(vsr_session_send_frame(ses, small) == 0);
        int err = vsr_session_send_frame(ses, in[0]);
        if (err == VSR_EAGAIN) { /* take what is ready, then try again */
            vsr_frame *x = NULL;
            while (vsr_session_receive_frame(ses, &x) == 0)
                vsr_frame_unref(&x);
            err = vsr_session_send_frame(ses, in[0]);
        }
        CHECK_MSG(err == VSR_EINVAL && strstr(vsr_last_error(), "size"), "%s: size change: %s", models[m],
                  vsr_strerror(err));
        vsr_frame_unref(&small);
        /* an empty sequence: flush at once, EOF */
        vsr_session_reset(ses);
        CHECK(vsr_session_send_frame(ses, NULL) == 0);
        vsr_frame *x = NULL;
        CHECK_MSG(vsr_session_receive_frame(ses, &x) == VSR_EOF && !x, "%s: empty sequence", models[m]);
        /* before any frame, receive asks for input */
        vsr_session_reset(ses);
        CHECK(vsr_session_receive_frame(ses, &x) == VSR_EAGAIN && !x);
        vsr_session_close(&ses);
        CHECK(ses == NULL);
    }

    /* a failing model: the error sticks until reset */
    vsr_session *ses = open_ses(test_model("throws-after-3.pt"), NULL, VSR_AUTO, VSR_AUTO, 0, VSR_AUTO, 0, 0);
    if (ses) {
        int err = 0;
        vsr_frame *x = NULL;
        for (int i = 0; i < N && err >= 0; i++) {
            err = vsr_session_send_frame(ses, in[i]);
            if (err == VSR_EAGAIN) {
                while (vsr_session_receive_frame(ses, &x) == 0)
                    vsr_frame_unref(&x);
                i--;
                err = 0;
                continue;
            }
        }
        CHECK_MSG(err == VSR_ERROR_MODEL_RUN && strstr(vsr_last_error(), "deliberate failure"), "throws: %s: %s",
                  vsr_strerror(err), vsr_last_error());
        err = vsr_session_send_frame(ses, in[0]);
        CHECK_MSG(err == VSR_EINVAL && strstr(vsr_last_error(), "reset"), "after a failure: %s", vsr_strerror(err));
        vsr_session_reset(ses);
        err = vsr_session_send_frame(ses, in[0]); /* the model keeps throwing */
        CHECK_MSG(err == VSR_ERROR_MODEL_RUN, "after reset: %s", vsr_strerror(err));
        vsr_session_close(&ses);
    }
    unref_all(in, N);
}

/* ------------------------------------------------------------------ */
/* Wrapped frames                                                     */
/* ------------------------------------------------------------------ */

static int free_calls[4];

static void count_free(void *opaque)
{
    free_calls[(intptr_t)opaque]++;
}

static void test_wrapped(void)
{
    const int w = 37, h = 23; /* odd sizes */
    vsr_session *ses = open_ses(test_model("spatial-rf4-x2.pt"), NULL, VSR_AUTO, VSR_AUTO, 0, VSR_AUTO, 0, 0);
    if (!ses)
        return;
    /* reference: the same picture in a library RGBF32 frame */
    vsr_frame *ref_in = NULL;
    CHECK(vsr_frame_alloc(&ref_in, VSR_PIXFMT_RGBF32, w, h) == 0);
    uint8_t *rgb24 = malloc((size_t)(w * 3 + 7) * h); /* padded rows */
    ptrdiff_t ls24 = w * 3 + 7;
    ptrdiff_t lsf = (w + 5) * (ptrdiff_t)sizeof(float);
    /* three padded planes in one allocation (so that a reader that wrongly
     * assumes one unpadded R,G,B block stays inside it and just reads the
     * wrong pixels) */
    float *planes[3];
    uint8_t *fblock = calloc(3, (size_t)lsf * h);
    for (int c = 0; c < 3; c++)
        planes[c] = (float *)(fblock + (size_t)c * lsf * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                int v = (x * 37 + y * 11 + c * 80 + (x * y) % 29) % 256;
                rgb24[y * ls24 + x * 3 + c] = (uint8_t)v;
                chw(ref_in)[((size_t)c * h + y) * w + x] = v / 255.0f;
                ((float *)((uint8_t *)planes[c] + y * lsf))[x] = v / 255.0f;
            }
    vsr_frame_set_pts(ref_in, 5);
    vsr_frame_set_time_base(ref_in, (vsr_rational){1, 30});

    vsr_frame *wrapped24 = NULL, *wrappedf = NULL;
    uint8_t *d24[4] = {rgb24, NULL, NULL, NULL};
    ptrdiff_t l24[4] = {ls24, 0, 0, 0};
    memset(free_calls, 0, sizeof(free_calls));
    CHECK_MSG(vsr_frame_wrap(&wrapped24, VSR_PIXFMT_RGB24, w, h, d24, l24, count_free, (void *)(intptr_t)1) == 0,
              "wrap rgb24: %s", vsr_last_error());
    uint8_t *df[4] = {(uint8_t *)planes[0], (uint8_t *)planes[1], (uint8_t *)planes[2], NULL};
    ptrdiff_t lf[4] = {lsf, lsf, lsf, 0};
    CHECK_MSG(vsr_frame_wrap(&wrappedf, VSR_PIXFMT_RGBF32, w, h, df, lf, count_free, (void *)(intptr_t)2) == 0,
              "wrap rgbf32: %s", vsr_last_error());
    if (!wrapped24 || !wrappedf) {
        vsr_session_close(&ses);
        return;
    }
    /* the public plane accessors see the caller's planes */
    CHECK(vsr_frame_data(wrappedf, 0) == df[0] && vsr_frame_data(wrappedf, 1) == df[1] &&
          vsr_frame_data(wrappedf, 2) == df[2] && vsr_frame_linesize(wrappedf, 2) == lsf);
    vsr_frame_set_pts(wrapped24, 5);
    vsr_frame_set_time_base(wrapped24, (vsr_rational){1, 30});
    vsr_frame_set_pts(wrappedf, 5);
    vsr_frame_set_time_base(wrappedf, (vsr_rational){1, 30});

    vsr_frame *o_ref[1] = {0}, *o24[1] = {0}, *of[1] = {0};
    run_clip(ses, &ref_in, 1, o_ref, "wrap: reference");
    run_clip(ses, &wrapped24, 1, o24, "wrap: rgb24");
    run_clip(ses, &wrappedf, 1, of, "wrap: rgbf32");
    CHECK_MSG(max_abs(o_ref[0], o24[0]) < 1e-6, "wrapped RGB24 (padded rows) output differs by %g",
              max_abs(o_ref[0], o24[0]));
    CHECK_MSG(max_abs(o_ref[0], of[0]) < 1e-6,
              "wrapped RGBF32 (separate planes, padded rows) output differs by %g", max_abs(o_ref[0], of[0]));
    CHECK(o24[0] && vsr_frame_pts(o24[0]) == 5);
    /* the session holds no reference after the sequence; ours are the last */
    vsr_session_reset(ses);
    CHECK_EQ_INT(free_calls[1] + free_calls[2], 0);
    vsr_frame *extra = vsr_frame_ref(wrapped24);
    vsr_frame_unref(&wrapped24);
    CHECK_EQ_INT(free_calls[1], 0);
    vsr_frame_unref(&extra);
    CHECK_EQ_INT(free_calls[1], 1);
    vsr_frame_unref(&wrappedf);
    CHECK_EQ_INT(free_calls[2], 1);
    vsr_frame_unref(&wrappedf); /* &NULL: nothing more */
    CHECK_EQ_INT(free_calls[1], 1);
    CHECK_EQ_INT(free_calls[2], 1);

    /* frames still held by the session when it closes: every callback runs
     * exactly once, at the latest when the session lets go. An RGBF32 frame
     * in one CHW block is the model's own layout, so the session may keep a
     * reference to the caller's memory instead of a copy. */
    memset(free_calls, 0, sizeof(free_calls));
    float *block = malloc(sizeof(float) * 3 * (size_t)w * h);
    memcpy(block, chw(ref_in), sizeof(float) * 3 * (size_t)w * h);
    uint8_t *db[4] = {(uint8_t *)block, (uint8_t *)(block + (size_t)w * h), (uint8_t *)(block + (size_t)2 * w * h),
                      NULL};
    ptrdiff_t lb[4] = {w * (ptrdiff_t)sizeof(float), w * (ptrdiff_t)sizeof(float), w * (ptrdiff_t)sizeof(float), 0};
    vsr_frame *wq = NULL, *wq24 = NULL;
    CHECK(vsr_frame_wrap(&wq, VSR_PIXFMT_RGBF32, w, h, db, lb, count_free, (void *)(intptr_t)3) == 0);
    CHECK(vsr_frame_wrap(&wq24, VSR_PIXFMT_RGB24, w, h, d24, l24, count_free, (void *)(intptr_t)1) == 0);
    vsr_session *tseq = open_ses(test_model("temporal-r2-x2.pt"), NULL, 8, 4, 0, VSR_AUTO, 0, 0);
    if (tseq && wq && wq24) {
        vsr_frame_set_pts(wq, 0);
        vsr_frame_set_pts(wq24, 1);
        /* held: a chunk of 8 needs more frames, nothing comes out yet */
        CHECK(vsr_session_send_frame(tseq, wq) == 0);
        CHECK(vsr_session_send_frame(tseq, wq24) == 0);
        vsr_frame *x = NULL;
        CHECK(vsr_session_receive_frame(tseq, &x) == VSR_EAGAIN);
        vsr_frame_unref(&wq);
        vsr_frame_unref(&wq24);
        CHECK_MSG(free_calls[3] + free_calls[1] <= 2, "callbacks ran %d and %d times", free_calls[3], free_calls[1]);
        vsr_session_close(&tseq);
    }
    vsr_frame_unref(&wq);
    vsr_frame_unref(&wq24);
    vsr_session_close(&tseq);
    CHECK_MSG(free_calls[3] == 1 && free_calls[1] == 1, "after close: callbacks ran %d and %d times (once each)",
              free_calls[3], free_calls[1]);
    free(block);

    /* bad wraps: the caller keeps the memory, no callback */
    memset(free_calls, 0, sizeof(free_calls));
    vsr_frame *bad = NULL;
    uint8_t *none[4] = {NULL, NULL, NULL, NULL};
    CHECK(vsr_frame_wrap(&bad, VSR_PIXFMT_RGB24, w, h, none, l24, count_free, (void *)(intptr_t)1) == VSR_EINVAL);
    CHECK(vsr_frame_wrap(&bad, VSR_PIXFMT_RGB24, 0, h, d24, l24, count_free, (void *)(intptr_t)1) == VSR_EINVAL);
    CHECK(!bad && free_calls[1] == 0);

    unref_all(o_ref, 1);
    unref_all(o24, 1);
    unref_all(of, 1);
    vsr_frame_unref(&ref_in);
    free(rgb24);
    free(fblock);
    vsr_session_close(&ses);
}

/* ------------------------------------------------------------------ */
/* tiny-x2: the exact arithmetic                                      */
/* ------------------------------------------------------------------ */

/* w[o][ci][ky][kx], o = colour*4 + i*2 + j for PixelShuffle(2) sub-pixel (i, j) */
static double W_meas[12][3][3][3];
static double W_torch[12][3][3][3], B_torch[12];

static int torch_weights(void)
{
    const char *py = getenv("VSR_PYTHON");
    if (!py || !*py)
        return 0;
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "'%s' -c \"import sys, torch; m = torch.jit.load(sys.argv[1]); "
             "print(' '.join(repr(float(v)) for v in m.conv.weight.detach().reshape(-1).tolist() + "
             "m.conv.bias.detach().reshape(-1).tolist()))\" '%s' 2>/dev/null",
             py, test_model("tiny-x2.pt"));
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    int n = 0;
    double v;
    while (n < 12 * 27 + 12 && fscanf(p, "%lf", &v) == 1) {
        if (n < 12 * 27)
            (&W_torch[0][0][0][0])[n] = v;
        else
            B_torch[n - 12 * 27] = v;
        n++;
    }
    int rc = pclose(p);
    return rc == 0 && n == 12 * 27 + 12;
}

static vsr_frame *rgbf_frame(int w, int h)
{
    vsr_frame *f = NULL;
    if (vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, w, h) < 0)
        return NULL;
    memset(chw(f), 0, sizeof(float) * 3 * (size_t)w * h);
    vsr_frame_set_pts(f, 0);
    vsr_frame_set_time_base(f, (vsr_rational){1, 25});
    return f;
}

/* out[c][2y+i][2x+j] = clamp(b[o] + sum w[o][ci][ky][kx] in[ci][y+ky-1][x+kx-1], 0, 1),
 * zero padded; the clamp is libvsr's (to the card's range) */
static void reference_tiny(const float *in, int w, int h, double W[12][3][3][3], const double *B, float *out)
{
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                int o = c * 4 + i * 2 + j;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        double s = B[o];
                        for (int ci = 0; ci < 3; ci++)
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++) {
                                    int yy = y + ky - 1, xx = x + kx - 1;
                                    if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                                        s += W[o][ci][ky][kx] * in[((size_t)ci * h + yy) * w + xx];
                                }
                        out[((size_t)c * 2 * h + 2 * y + i) * 2 * w + 2 * x + j] = (float)(s < 0 ? 0 : s > 1 ? 1 : s);
                    }
            }
}

static void test_tiny_arithmetic(void)
{
    vsr_session *ses = open_ses(test_model("tiny-x2.pt"), NULL, VSR_AUTO, VSR_AUTO, 0, VSR_AUTO, 0, 0);
    if (!ses)
        return;
    const int w = 9, h = 7, x0 = 4, y0 = 3;
    /* a black frame gives black (bias 0) */
    vsr_frame *zero = rgbf_frame(w, h), *o[1] = {0};
    if (run_clip(ses, &zero, 1, o, "tiny: zero")) {
        double spread = 0;
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 4 * w * h; p++)
                spread = fmax(spread, fabs(chw(o[0])[(size_t)c * 4 * w * h + p]));
        CHECK_MSG(spread < 1e-6, "tiny: a black frame gives %g (the card's bias is zero)", spread);
    }
    unref_all(o, 1);
    vsr_frame_unref(&zero);
    /* weights: responses to a small impulse on mid grey, one input channel
     * at a time (the output is clamped to the card's range [0, 1], so the
     * responses are kept inside it: grey 0.5, impulse 0.25) */
    const float grey = 0.5f, delta = 0.25f;
    vsr_frame *base = rgbf_frame(w, h), *ob[1] = {0};
    for (size_t k = 0; k < (size_t)3 * w * h; k++)
        chw(base)[k] = grey;
    int have_base = run_clip(ses, &base, 1, ob, "tiny: grey");
    for (int ci = 0; have_base && ci < 3; ci++) {
        vsr_frame *imp = rgbf_frame(w, h);
        for (size_t k = 0; k < (size_t)3 * w * h; k++)
            chw(imp)[k] = grey;
        chw(imp)[((size_t)ci * h + y0) * w + x0] += delta;
        if (run_clip(ses, &imp, 1, o, "tiny: impulse")) {
            const float *r = chw(o[0]), *r0 = chw(ob[0]);
            /* output (x, y) sees the impulse at kernel tap (x0 - x + 1, y0 - y + 1) */
            for (int oc = 0; oc < 12; oc++)
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int y = y0 + 1 - ky, x = x0 + 1 - kx;
                        int c = oc / 4, i = (oc % 4) / 2, j = oc % 2;
                        size_t at = ((size_t)c * 2 * h + 2 * y + i) * 2 * w + 2 * x + j;
                        W_meas[oc][ci][ky][kx] = ((double)r[at] - r0[at]) / delta;
                    }
            /* nothing changes outside the 3x3 neighbourhood (receptive radius 1) */
            double outside = 0;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 2 * h; y++)
                    for (int x = 0; x < 2 * w; x++)
                        if (abs(y / 2 - y0) > 1 || abs(x / 2 - x0) > 1) {
                            size_t at = ((size_t)c * 2 * h + y) * 2 * w + x;
                            outside = fmax(outside, fabs((double)r[at] - r0[at]));
                        }
            CHECK_MSG(outside < 1e-6, "tiny: impulse reaches %g beyond radius 1", outside);
        }
        unref_all(o, 1);
        vsr_frame_unref(&imp);
    }
    unref_all(ob, 1);
    vsr_frame_unref(&base);
    /* the structure make_test_models.py gives them: centre 1.4 on the own
     * colour, -0.1 on its 4 neighbours, noise (std 0.01) elsewhere */
    int structure = 1;
    for (int oc = 0; oc < 12; oc++)
        for (int ci = 0; ci < 3; ci++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    double want = 0;
                    if (ci == oc / 4)
                        want = ky == 1 && kx == 1 ? 1.4 : (ky == 1) != (kx == 1) ? -0.1 : 0;
                    if (fabs(W_meas[oc][ci][ky][kx] - want) > 0.05) {
                        if (structure)
                            fprintf(stderr, "tiny: w[%d][%d][%d][%d] = %g, expected about %g\n", oc, ci, ky, kx,
                                    W_meas[oc][ci][ky][kx], want);
                        structure = 0;
                    }
                }
    if (getenv("VSR_TEST_DEBUG"))
        for (int oc = 0; oc < 12; oc++)
            for (int ci = 0; ci < 3; ci++)
                fprintf(stderr, "w[%d][%d] = %6.3f %6.3f %6.3f / %6.3f %6.3f %6.3f / %6.3f %6.3f %6.3f\n", oc, ci,
                        W_meas[oc][ci][0][0], W_meas[oc][ci][0][1], W_meas[oc][ci][0][2], W_meas[oc][ci][1][0],
                        W_meas[oc][ci][1][1], W_meas[oc][ci][1][2], W_meas[oc][ci][2][0], W_meas[oc][ci][2][1],
                        W_meas[oc][ci][2][2]);
    CHECK_MSG(structure, "tiny: measured weights do not have the generator's structure (channel or sub-pixel order?)");
    /* torch's own reading of the file */
    if (torch_weights()) {
        double d = 0;
        for (int k = 0; k < 12 * 27; k++)
            d = fmax(d, fabs((&W_meas[0][0][0][0])[k] - (&W_torch[0][0][0][0])[k]));
        double db = 0;
        for (int k = 0; k < 12; k++)
            db = fmax(db, fabs(B_torch[k]));
        fprintf(stderr, "  tiny-x2: weights measured through the session vs torch's: max abs %.2g (bias max %.2g)\n",
                d, db);
        CHECK_MSG(d < 1e-5, "tiny: measured weights differ from the file's by %g", d);
        CHECK_MSG(db == 0.0, "tiny: the file's bias is not zero (%g): the black-frame check assumed it", db);
    } else {
        fprintf(stderr, "  tiny-x2: $VSR_PYTHON cannot read the weights with torch; using the measured ones only\n");
        memcpy(W_torch, W_meas, sizeof(W_torch));
        memset(B_torch, 0, sizeof(B_torch));
    }
    /* a real picture: the session's output equals the convolution */
    vsr_frame *pic[1] = {0};
    if (decode_clip("real_h264.mp4", 1, pic) == 1) {
        vsr_frame *rgb = NULL;
        CHECK(vsr_frame_convert(&rgb, pic[0], VSR_PIXFMT_RGBF32, 128, 72) == 0);
        /* the session converts the YUV frame itself */
        if (rgb && run_clip(ses, pic, 1, o, "tiny: picture")) {
            float *ref = malloc(sizeof(float) * 12 * 128 * 72);
            reference_tiny(chw(rgb), 128, 72, W_torch, B_torch, ref);
            double d = 0;
            int clamped = 0;
            for (size_t k = 0; k < (size_t)12 * 128 * 72; k++) {
                d = fmax(d, fabs((double)ref[k] - chw(o[0])[k]));
                clamped += ref[k] == 0.0f || ref[k] == 1.0f;
            }
            fprintf(stderr, "  tiny-x2 on a 128x72 picture vs the reference convolution: max abs %.2g (%d values clamped)\n",
                    d, clamped);
            CHECK_MSG(d < 1e-5, "tiny: output differs from the convolution by %g", d);
            free(ref);
        }
        unref_all(o, 1);
        vsr_frame_unref(&rgb);
    }
    unref_all(pic, 1);
    vsr_session_close(&ses);
}

/* ------------------------------------------------------------------ */
/* Temporal chunks                                                    */
/* ------------------------------------------------------------------ */

static void test_temporal_chunks(void)
{
    enum { MAXL = 32 };
    vsr_frame *clip[MAXL] = {0};
    int have = decode_clip("long_120.mkv", MAXL, clip);
    CHECK(have == MAXL);
    vsr_model *m = NULL;
    CHECK_MSG(test_open_model(&m, test_model("temporal-r2-x2.pt"), NULL, VSR_PRECISION_FP32) == 0, "%s", vsr_last_error());
    if (!m || have != MAXL) {
        unref_all(clip, MAXL);
        vsr_model_unref(&m);
        return;
    }
    /* whole-clip references, by length */
    vsr_frame *ref[MAXL + 1][MAXL];
    int have_ref[MAXL + 1] = {0};
    memset(ref, 0, sizeof(ref));
    const struct {
        int n, o;
    } settings[] = {{8, 4}, {7, 4}, {10, 6}, {5, 4}};
    for (size_t k = 0; k < sizeof(settings) / sizeof(settings[0]); k++) {
        int N = settings[k].n, O = settings[k].o;
        int lengths[] = {1, N - 1, N, N + 1, 2 * N + 3};
        vsr_session *ses = open_ses(NULL, m, N, O, 0, VSR_AUTO, 0, 0);
        if (!ses)
            continue;
        for (int li = 0; li < 5; li++) {
            int L = lengths[li];
            if (L < 1 || L > MAXL)
                continue;
            if (!have_ref[L]) {
                vsr_session *whole = open_ses(NULL, m, L, 0, 0, VSR_AUTO, 0, 0);
                have_ref[L] = whole && run_clip(whole, clip, L, ref[L], "whole clip");
                vsr_session_close(&whole);
            }
            vsr_frame *out[MAXL] = {0};
            char what[96];
            snprintf(what, sizeof(what), "temporal N=%d O=%d L=%d", N, O, L);
            if (!have_ref[L] || !run_clip(ses, clip, L, out, what))
                continue;
            double d = 0;
            int order = 1;
            for (int i = 0; i < L; i++) {
                d = fmax(d, max_abs(out[i], ref[L][i]));
                order &= vsr_frame_pts(out[i]) == vsr_frame_pts(clip[i]);
            }
            fprintf(stderr, "  %-28s max abs vs whole clip %.2g\n", what, d);
            CHECK_MSG(d <= 1e-5, "%s: differs from the whole-clip run by %g", what, d);
            CHECK_MSG(order, "%s: outputs out of order", what);
            unref_all(out, L);
        }
        vsr_session_info info = {.size = sizeof(info)};
        CHECK(vsr_session_get_info(ses, &info) == 0 && info.chunk == N && info.overlap == O);
        vsr_session_close(&ses);
    }
    /* without overlap the chunk borders show */
    const int N = 8, LL = 2 * N + 3;
    slog[0] = 0;
    vsr_session *ses = open_ses(NULL, m, N, 0, 0, VSR_AUTO, 0, 0);
    CHECK_MSG(strstr(slog, "overlap 0") != NULL, "no warning for overlap 0 < 2 x rf_temporal: %s", slog);
    vsr_frame *out[MAXL] = {0};
    if (ses && have_ref[LL] && run_clip(ses, clip, LL, out, "temporal O=0")) {
        double d = 0;
        fprintf(stderr, "  temporal N=%d O=0 L=%d: max abs per frame vs whole clip:", N, LL);
        for (int i = 0; i < LL; i++) {
            double di = max_abs(out[i], ref[LL][i]);
            fprintf(stderr, " %.0e", di);
            d = fmax(d, di);
        }
        fprintf(stderr, "\n");
        CHECK_MSG(d >= 1e-3, "O=0: only %g from the whole-clip run: the test cannot see seams", d);
        unref_all(out, LL);
    }
    vsr_session_close(&ses);
    for (int L = 0; L <= MAXL; L++)
        if (have_ref[L])
            unref_all(ref[L], L);
    unref_all(clip, MAXL);
    vsr_model_unref(&m);
}

/* ------------------------------------------------------------------ */
/* Window model                                                       */
/* ------------------------------------------------------------------ */

static void test_window(void)
{
    enum { L = 9 };
    vsr_frame *clip[L] = {0};
    CHECK(decode_clip("long_120.mkv", L, clip) == L);
    vsr_session *ses = open_ses(test_model("window5-center-x2.pt"), NULL, VSR_AUTO, VSR_AUTO, 0, VSR_AUTO, 0, 0);
    if (!ses || !clip[L - 1]) {
        vsr_session_close(&ses);
        unref_all(clip, L);
        return;
    }
    vsr_frame *out[L] = {0}, *o5[5] = {0};
    int lens[] = {1, 2, 3, L};
    for (int k = 0; k < 4; k++) {
        int n = lens[k];
        if (!run_clip(ses, clip, n, out, "window"))
            continue;
        int order = 1;
        for (int i = 0; i < n; i++)
            order &= vsr_frame_pts(out[i]) == vsr_frame_pts(clip[i]);
        CHECK_MSG(order, "window, %d frames: outputs not one per input in order", n);
        if (n < L)
            unref_all(out, n);
    }
    /* output 4 of the clip is the model on frames 2..6: a 5-frame clip of
     * exactly those has it as its centre output */
    if (run_clip(ses, clip + 2, 5, o5, "window 2..6")) {
        double d = max_abs(out[4], o5[2]);
        CHECK_MSG(d < 1e-6, "window: output 4 is not the model on frames 2..6 (%g)", d);
        /* and it does depend on the neighbours */
        CHECK_MSG(max_abs(out[4], o5[1]) > 1e-3, "window: neighbouring outputs equal");
        unref_all(o5, 5);
    }
    /* output 0 sees frames (0, 0, 0, 1, 2): the first frame repeated */
    vsr_frame *edge[5] = {clip[0], clip[0], clip[0], clip[1], clip[2]};
    if (run_clip(ses, edge, 5, o5, "window edge")) {
        double d = max_abs(out[0], o5[2]);
        CHECK_MSG(d < 1e-6, "window: output 0 is not the model on (0,0,0,1,2) (%g)", d);
        unref_all(o5, 5);
    }
    /* and the last: (L-3, L-2, L-1, L-1, L-1) */
    vsr_frame *tail[5] = {clip[L - 3], clip[L - 2], clip[L - 1], clip[L - 1], clip[L - 1]};
    if (run_clip(ses, tail, 5, o5, "window tail")) {
        double d = max_abs(out[L - 1], o5[2]);
        CHECK_MSG(d < 1e-6, "window: last output is not the model on its clamped window (%g)", d);
        unref_all(o5, 5);
    }
    unref_all(out, L);
    unref_all(clip, L);
    vsr_session_close(&ses);
}

/* ------------------------------------------------------------------ */
/* Tiles and memory                                                   */
/* ------------------------------------------------------------------ */

static void test_tiles(const char *model, int rf, int nframes, int tile)
{
    vsr_frame *clip[2] = {0};
    int n = decode_clip("real_h264.mp4", nframes, clip);
    CHECK(n == nframes);
    vsr_model *m = NULL;
    CHECK_MSG(test_open_model(&m, model, NULL, VSR_PRECISION_FP32) == 0, "%s", vsr_last_error());
    const char *name = strrchr(model, '/') + 1;
    vsr_frame *ref[2] = {0}, *out[2] = {0};
    vsr_session *ses = m ? open_ses(NULL, m, VSR_AUTO, VSR_AUTO, 0, VSR_AUTO, 0, 0) : NULL;
    int have_ref = ses && n == nframes && run_clip(ses, clip, n, ref, "untiled");
    vsr_session_close(&ses);
    if (!have_ref) {
        unref_all(clip, 2);
        vsr_model_unref(&m);
        return;
    }
    const struct {
        int pad, blend;
    } cases[] = {{rf, 0}, {VSR_AUTO, 0}, {rf + 3, 0}, {0, 0}, {rf, 1}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        ses = open_ses(NULL, m, VSR_AUTO, VSR_AUTO, tile, cases[k].pad, cases[k].blend, 0);
        char what[128];
        snprintf(what, sizeof(what), "%s tile %d pad %d%s", name, tile, cases[k].pad, cases[k].blend ? " blend" : "");
        if (ses && run_clip(ses, clip, n, out, what)) {
            double d = 0, p = 200;
            for (int i = 0; i < n; i++) {
                d = fmax(d, max_abs(out[i], ref[i]));
                p = fmin(p, psnr(out[i], ref[i]));
            }
            fprintf(stderr, "  %-48s vs untiled: max abs %.2g, PSNR %.1f dB\n", what, d, p);
            if (cases[k].blend)
                CHECK_MSG(p >= 40, "%s: PSNR %.1f dB vs untiled", what, p);
            else if (cases[k].pad == 0)
                CHECK_MSG(d >= 1e-3, "%s: pad 0 gives no visible seams (%g): the test cannot see tiles", what, d);
            else
                CHECK_MSG(d <= 1e-5, "%s: differs from untiled by %g", what, d);
            vsr_session_info info = {.size = sizeof(info)};
            vsr_session_get_info(ses, &info);
            CHECK(info.tile == tile && info.tile_pad == (cases[k].pad == VSR_AUTO ? rf : cases[k].pad));
            unref_all(out, n);
        }
        vsr_session_close(&ses);
    }
    unref_all(ref, 2);
    unref_all(clip, 2);
    vsr_model_unref(&m);
}

static void test_memory_limit(void)
{
    vsr_frame *clip[2] = {0};
    int n = decode_clip("real_h264.mp4", 2, clip);
    vsr_model *m = NULL;
    CHECK_MSG(test_open_model(&m, test_model("spatial-rf4-x2.pt"), NULL, VSR_PRECISION_FP32) == 0, "%s", vsr_last_error());
    vsr_frame *ref[2] = {0}, *out[2] = {0};
    vsr_session *ses = m ? open_ses(NULL, m, VSR_AUTO, VSR_AUTO, 0, VSR_AUTO, 0, 0) : NULL;
    int have_ref = ses && n == 2 && run_clip(ses, clip, 2, ref, "untiled");
    vsr_session_info info = {.size = sizeof(info)};
    if (ses) {
        vsr_session_get_info(ses, &info);
        CHECK_MSG(info.tile == 0 && info.mem_limit > 0, "default: tile %d, mem_limit %lld", info.tile,
                  (long long)info.mem_limit);
    }
    vsr_session_close(&ses);
    if (!have_ref) {
        unref_all(clip, 2);
        vsr_model_unref(&m);
        return;
    }
    /* from plenty down to too little: whole frames, then smaller and smaller tiles, then a clean refusal */
    int shrunk = 0, refused = 0, last_tile = 0;
    for (int64_t limit = (int64_t)64 << 20; limit >= 4096; limit /= 2) {
        for (int mode = 0; mode < 2; mode++) { /* 0: tile 0 (whole frames asked), 1: tile auto */
            slog[0] = 0;
            ses = open_ses(NULL, m, VSR_AUTO, VSR_AUTO, mode ? VSR_AUTO : 0, VSR_AUTO, 0, limit);
            if (!ses)
                continue;
            char what[96];
            snprintf(what, sizeof(what), "mem_limit %lld tile %s", (long long)limit, mode ? "auto" : "0");
            vsr_session_reset(ses);
            int got = drive(ses, clip, 2, out, 2, LAZY, what);
            info.size = sizeof(info);
            vsr_session_get_info(ses, &info);
            if (got == 2) {
                double d = fmax(max_abs(out[0], ref[0]), max_abs(out[1], ref[1]));
                if (info.tile > 0 && (!mode || last_tile != info.tile))
                    fprintf(stderr, "  %-28s -> tile %d, max abs vs untiled %.2g%s\n", what, info.tile, d,
                            !mode && strstr(slog, "not enough memory") ? " (shrink logged)" : "");
                CHECK_MSG(d <= 1e-5, "%s (tile %d): differs from untiled by %g", what, info.tile, d);
                CHECK_EQ_INT(info.mem_limit, limit);
                if (info.tile > 0) {
                    shrunk++;
                    if (!mode)
                        CHECK_MSG(strstr(slog, "not enough memory"), "%s: tiles shrunk without a warning", what);
                }
                if (mode)
                    last_tile = info.tile;
                unref_all(out, 2);
            } else {
                const char *msg = vsr_last_error();
                fprintf(stderr, "  %-28s -> %s: %s\n", what, vsr_strerror(got), msg);
                CHECK_MSG(got == VSR_ERROR_DEVICE_OOM && strstr(msg, "does not fit"), "%s: %s", what,
                          vsr_strerror(got));
                if (got > 0)
                    unref_all(out, got < 2 ? got : 2);
                refused++;
            }
            vsr_session_close(&ses);
        }
        if (refused >= 2)
            break;
    }
    CHECK_MSG(shrunk >= 2, "no memory limit made the session use tiles (%d)", shrunk);

    /* "auto" settings, resolved with the first frame */
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.tile = VSR_AUTO;
    CHECK(test_open_session(&ses, &s, test_model("temporal-r2-x2.pt"), NULL, VSR_PRECISION_FP32) == 0);
    if (ses) {
        info.size = sizeof(info);
        vsr_session_get_info(ses, &info);
        fprintf(stderr, "  temporal-r2-x2 auto, before a frame: device %s %s threads %d batch %d chunk %d overlap %d "
                        "tile %d pad %d scale %d mem_limit %lld\n",
                info.device, vsr_precision_name(info.precision), info.threads, info.batch, info.chunk, info.overlap,
                info.tile, info.tile_pad, info.scale, (long long)info.mem_limit);
        CHECK(!strcmp(info.device, "cpu") && info.precision == VSR_PRECISION_FP32 && info.threads == 1);
        CHECK(info.batch == 1 && info.overlap == 4 && info.tile_pad == 2 && info.scale == 2 && info.mem_limit > 0);
        vsr_frame *o[2] = {0};
        vsr_session_reset(ses);
        CHECK(drive(ses, clip, 2, o, 2, LAZY, "auto sizing") == 2);
        unref_all(o, 2);
        vsr_session_get_info(ses, &info);
        fprintf(stderr, "  temporal-r2-x2 auto, after the first frame: chunk %d overlap %d tile %d\n", info.chunk,
                info.overlap, info.tile);
        CHECK_MSG(info.chunk > info.overlap && info.chunk <= 32 && info.tile == 0,
                  "auto chunk %d (overlap %d), tile %d", info.chunk, info.overlap, info.tile);
        vsr_session_close(&ses);
    }
    unref_all(ref, 2);
    unref_all(clip, 2);
    vsr_model_unref(&m);
}

static void quiet_cb(void *user, int level, const char *msg)
{
    (void)user;
    if (level <= VSR_LOG_ERROR)
        fprintf(stderr, "libvsr: %s\n", msg);
}

/* A model that pools over the whole frame (card global_pool): tiles would
 * change its output, so the session refuses
 * them, whether asked for or chosen for memory, and whole frames run. */
static void test_global_pool(void)
{
    vsr_frame *clip[1] = {0};
    if (decode_clip("real_h264.mp4", 1, clip) != 1)
        return;
    vsr_model *m = NULL;
    CHECK_MSG(test_open_model(&m, test_model("global-pool-x2.pt"), NULL, VSR_PRECISION_FP32) == 0, "%s",
              vsr_last_error());
    vsr_frame *whole[1] = {0}, *out[1] = {0};
    vsr_session *ses = m ? open_ses(NULL, m, VSR_AUTO, VSR_AUTO, 0, VSR_AUTO, 0, 0) : NULL;
    int ok = ses && run_clip(ses, clip, 1, whole, "global pool, whole frame");
    vsr_session_close(&ses);
    if (ok) {
        int w = vsr_frame_width(clip[0]), h = vsr_frame_height(clip[0]);
        int tile = (w > h ? w : h) / 2;
        /* explicit tiles: refused, naming the card's field and the setting */
        ses = open_ses(NULL, m, VSR_AUTO, VSR_AUTO, tile, VSR_AUTO, 0, 0);
        vsr_session_reset(ses);
        int got = drive(ses, clip, 1, out, 1, LAZY, "global pool, explicit tiles");
        const char *msg = vsr_last_error();
        fprintf(stderr, "  global pool, tile %d -> %s: %s\n", tile, got < 0 ? vsr_strerror(got) : "ran", msg);
        CHECK_MSG(got == VSR_EINVAL && strstr(msg, "global_pool") && strstr(msg, "tile"),
                  "explicit tiles on a global-pool model: %d (%s)", got, msg);
        if (got > 0)
            unref_all(out, 1);
        vsr_session_close(&ses);
        /* auto tiles under a memory limit that tiles another model: refused, not silently tiled */
        ses = open_ses(NULL, m, VSR_AUTO, VSR_AUTO, VSR_AUTO, VSR_AUTO, 0, (int64_t)1 << 20);
        vsr_session_reset(ses);
        got = drive(ses, clip, 1, out, 1, LAZY, "global pool, auto tiles");
        msg = vsr_last_error();
        fprintf(stderr, "  global pool, auto tile in 1 MiB -> %s: %s\n", got < 0 ? vsr_strerror(got) : "ran", msg);
        CHECK_MSG(got == VSR_ERROR_DEVICE_OOM && strstr(msg, "global_pool") && strstr(msg, "mem_limit"),
                  "auto tiles on a global-pool model: %d (%s)", got, msg);
        if (got > 0)
            unref_all(out, 1);
        vsr_session_close(&ses);
        /* auto with room for the frame: whole frames, the same output */
        ses = open_ses(NULL, m, VSR_AUTO, VSR_AUTO, VSR_AUTO, VSR_AUTO, 0, 0);
        if (ses && run_clip(ses, clip, 1, out, "global pool, auto")) {
            CHECK_MSG(max_abs(out[0], whole[0]) == 0, "auto differs from whole frames by %g",
                      max_abs(out[0], whole[0]));
            unref_all(out, 1);
        }
        vsr_session_close(&ses);
    }
    unref_all(whole, 1);
    unref_all(clip, 1);
    vsr_model_unref(&m);
}

int main(void)
{
    /* warnings reach the sessions' own sinks; the global one keeps quiet */
    vsr_log_set_level(VSR_LOG_WARNING);
    vsr_log_set_callback(quiet_cb, NULL);
    CHECK(test_set_threads(1) == 0);
    test_contract();
    test_wrapped();
    test_tiny_arithmetic();
    test_temporal_chunks();
    test_window();
    test_tiles(test_model("spatial-rf4-x2.pt"), 4, 2, 32);
    test_tiles(test_real_model(), 19, 1, 48);
    test_memory_limit();
    test_global_pool();
    return test_result("session");
}
