/*
 * Input index and frame-exact seek (lib/seek.c) on the clips made for it
 * (tools/make_test_data.py, "seek_files" in the manifest; real
 * photographs): H.264 open GOP with
 * B-frames in MP4 and Matroska, HEVC with CRA/RASL, FFV1 with a GOP, VFR
 * H.264, MJPEG in AVI, H.264 with B-frames in AVI (no pts), and a raw
 * H.264 stream (no timestamps at all). For each:
 *  - the index equals what a full sequential vsr_input decode returns
 *    (count and pts) and what ffprobe reports (the manifest); the demux
 *    index equals the decode index;
 *  - open-GOP clips do have keyframes with leading pictures (else this
 *    test would not exercise them);
 *  - a seek to every frame k returns frame k: the same pts and the same
 *    pixels (a hash of the decoded planes) as the sequential decode, and
 *    the frames after it follow with the full decode's numbering;
 *  - one input seeked to every frame in a shuffled order (fixed seed);
 *  - no damage is reported for pre-roll frames;
 *  - a wrong index fails loudly, naming the frame and both pts;
 *  - the index survives a JSON round trip.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libavutil/imgutils.h>

#include "frame_internal.h"
#include "libvsr/vsr.h"
#include "seek.h"
#include "stream_internal.h"
#include "testutil.h"

/* What a full sequential decode returns. */
typedef struct reference {
    int64_t n;
    int64_t pts[512];
    uint64_t hash[512];
} reference;

static uint64_t frame_hash(const vsr_frame *f)
{
    const AVFrame *av = f->av;
    int size = av_image_get_buffer_size(av->format, av->width, av->height, 1);
    uint8_t *buf = size > 0 ? malloc((size_t)size) : NULL;
    if (!buf)
        return 0;
    av_image_copy_to_buffer(buf, size, (const uint8_t *const *)av->data, av->linesize, av->format, av->width,
                            av->height, 1);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < size; i++)
        h = (h ^ buf[i]) * 1099511628211ull;
    free(buf);
    return h;
}

static int decode_all(const char *path, reference *ref)
{
    vsr_input *in = NULL;
    if (vsr_input_open(&in, path, NULL) < 0)
        return -1;
    vsr_frame *f;
    ref->n = 0;
    int err;
    while ((err = vsr_input_read_frame(in, &f)) == 0 && ref->n < 512) {
        ref->pts[ref->n] = vsr_frame_pts(f);
        ref->hash[ref->n++] = frame_hash(f);
        vsr_frame_unref(&f);
    }
    vsr_input_close(&in);
    return err == VSR_EOF ? 0 : -1;
}

/* The manifest's pts list (ffprobe's) for a seek clip. */
static int manifest_pts(const char *name, int64_t *pts, int64_t *n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/manifest.json", test_env("VSR_TEST_DATA"));
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    if (!m)
        return -1;
    const json_t *files = json_object_get(m, "seek_files");
    int r = -1;
    for (size_t i = 0; i < json_array_size(files); i++) {
        const json_t *e = json_array_get(files, i);
        const char *nm = json_string_value(json_object_get(e, "name"));
        if (!nm || strcmp(nm, name) != 0)
            continue;
        const json_t *p = json_object_get(e, "pts");
        *n = (int64_t)json_array_size(p);
        r = 0;
        for (int64_t k = 0; k < *n && k < 512; k++) {
            const json_t *v = json_array_get(p, (size_t)k);
            pts[k] = json_is_integer(v) ? json_integer_value(v) : INT64_MIN; /* a raw stream: ffprobe has none */
        }
    }
    json_decref(m);
    return r;
}

static int same_index(const vsri_index *a, const vsri_index *b)
{
    if (a->frames != b->frames || a->n_keys != b->n_keys || a->by_pts != b->by_pts ||
        a->stream_index != b->stream_index || a->time_base.num != b->time_base.num ||
        a->time_base.den != b->time_base.den || a->start_ts != b->start_ts)
        return 0;
    for (int64_t i = 0; i < a->frames; i++)
        if (a->pts[i] != b->pts[i])
            return 0;
    for (int i = 0; i < a->n_keys; i++)
        if (a->key_frame[i] != b->key_frame[i] || a->key_ts[i] != b->key_ts[i] ||
            a->key_leading[i] != b->key_leading[i])
            return 0;
    return 1;
}

/* Read frame k (just after a seek) and `more` frames after it; compare
 * with the sequential decode. */
static void check_frames_from(vsr_input *in, const reference *ref, int64_t k, int64_t more, const char *what)
{
    for (int64_t i = k; i <= k + more && i < ref->n; i++) {
        vsr_frame *f = NULL;
        int err = vsr_input_read_frame(in, &f);
        CHECK_MSG(err == 0, "%s: seek to %lld, reading frame %lld: %d %s", what, (long long)k, (long long)i, err,
                  vsr_last_error());
        if (err < 0)
            return;
        CHECK_MSG(vsr_frame_pts(f) == ref->pts[i] && frame_hash(f) == ref->hash[i],
                  "%s: seek to %lld, frame %lld: pts %lld (full decode %lld), pixels %s", what, (long long)k,
                  (long long)i, (long long)vsr_frame_pts(f), (long long)ref->pts[i],
                  frame_hash(f) == ref->hash[i] ? "equal" : "DIFFER");
        vsr_frame_unref(&f);
    }
    if (k + more >= ref->n - 1) {
        vsr_frame *f = NULL;
        CHECK_MSG(vsr_input_read_frame(in, &f) == VSR_EOF, "%s: seek to %lld: no end after the last frame", what,
                  (long long)k);
        vsr_frame_unref(&f);
    }
}

typedef struct clip_case {
    const char *name; /* in the test data (and its manifest), or a path made here */
    int demux_exact;  /* the demux pass alone is trusted */
    int open_gop;     /* some keyframes have leading pictures */
    int by_pts;       /* seeks find frames by pts (else they count from the start) */
} clip_case;

static void test_clip(const clip_case *cc)
{
    const char *path = test_data(cc->name);
    reference ref = {0};
    CHECK_MSG(decode_all(path, &ref) == 0 && ref.n > 0, "%s: sequential decode failed", cc->name);
    int64_t mpts[512], mn = ref.n;
    for (int64_t i = 0; i < ref.n; i++)
        mpts[i] = INT64_MIN;
    CHECK_MSG(manifest_pts(cc->name, mpts, &mn) == 0, "%s: not in the manifest", cc->name);

    vsri_index *ix = NULL, *dx = NULL;
    CHECK_MSG(vsri_index_build(&ix, path, NULL, 0) == 0, "%s: index: %s", cc->name, vsr_last_error());
    CHECK_MSG(vsri_index_build(&dx, path, NULL, 1) == 0, "%s: decode index: %s", cc->name, vsr_last_error());
    if (!ix || !dx) {
        vsri_index_free(&ix);
        vsri_index_free(&dx);
        return;
    }
    CHECK_MSG(ix->by_decode == !cc->demux_exact, "%s: by_decode %d (%s)", cc->name, ix->by_decode, ix->note);
    CHECK_MSG(dx->by_decode, "%s: decode index not by decoding", cc->name);
    CHECK_MSG(ix->by_pts == cc->by_pts, "%s: by_pts %d (%s)", cc->name, ix->by_pts, ix->note);
    CHECK_MSG(same_index(ix, dx), "%s: the demux index differs from the decode index", cc->name);
    CHECK_MSG(ix->frames == ref.n && ix->frames == mn, "%s: index %lld frames, decode %lld, ffprobe %lld", cc->name,
              (long long)ix->frames, (long long)ref.n, (long long)mn);
    for (int64_t i = 0; i < ix->frames && i < ref.n && i < mn; i++)
        CHECK_MSG(ix->pts[i] == ref.pts[i] && (mpts[i] == INT64_MIN || !cc->by_pts || ix->pts[i] == mpts[i]),
                  "%s: frame %lld: index pts %lld, decode %lld, ffprobe %lld", cc->name, (long long)i,
                  (long long)ix->pts[i], (long long)ref.pts[i], (long long)mpts[i]);
    int leading = 0;
    for (int i = 0; i < ix->n_keys; i++)
        leading += ix->key_leading[i];
    CHECK_MSG(!cc->open_gop || leading > 0, "%s: no keyframe with leading pictures", cc->name);
    CHECK_MSG(ix->n_keys > 1 || !cc->by_pts, "%s: %d keyframes", cc->name, ix->n_keys);
    fprintf(stderr, "seek: %s: %lld frames, %d keyframes (%d with leading pictures), %s%s%s\n", cc->name,
            (long long)ix->frames, ix->n_keys, leading, ix->by_decode ? "by decoding" : "by demuxing",
            ix->note[0] ? ": " : "", ix->note);

    /* Every frame from a fresh input. */
    for (int64_t k = 0; k < ix->frames; k++) {
        vsr_input *in = NULL;
        CHECK(vsr_input_open(&in, path, NULL) == 0);
        int err = vsri_input_seek_frame(in, ix, k);
        CHECK_MSG(err == 0, "%s: seek to %lld: %s", cc->name, (long long)k, vsr_last_error());
        if (err == 0) {
            /* every keyframe and the frames around it: to the end */
            int near_key = 0;
            for (int i = 0; i < ix->n_keys; i++)
                near_key |= k >= ix->key_frame[i] - 1 && k <= ix->key_frame[i] + 1;
            check_frames_from(in, &ref, k, near_key ? ref.n : 3, cc->name);
        }
        CHECK_MSG(vsr_input_damaged(in, NULL) == 0, "%s: damage reported after a seek to %lld", cc->name,
                  (long long)k);
        vsr_input_close(&in);
    }

    /* One input, every frame in a shuffled order (fixed seed). */
    int64_t order[512];
    for (int64_t i = 0; i < ix->frames; i++)
        order[i] = i;
    uint32_t rng = 12345;
    for (int64_t i = ix->frames - 1; i > 0; i--) {
        rng = rng * 1103515245u + 12345u;
        int64_t j = (rng >> 8) % (uint32_t)(i + 1);
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    vsr_input *in = NULL;
    CHECK(vsr_input_open(&in, path, NULL) == 0);
    for (int64_t i = 0; in && i < ix->frames; i++) {
        int err = vsri_input_seek_frame(in, ix, order[i]);
        CHECK_MSG(err == 0, "%s: re-seek to %lld: %s", cc->name, (long long)order[i], vsr_last_error());
        if (err == 0)
            check_frames_from(in, &ref, order[i], 1, cc->name);
    }
    CHECK_MSG(in && vsr_input_damaged(in, NULL) == 0, "%s: damage reported after re-seeks", cc->name);
    vsr_input_close(&in);

    /* JSON round trip. */
    json_t *out = vsri_index_to_json(ix);
    char *text = out ? json_dumps(out, 0) : NULL;
    json_error_t je;
    json_t *j = text ? json_loads(text, JSON_REJECT_DUPLICATES, &je) : NULL;
    CHECK_MSG(j != NULL, "%s: index JSON does not parse back", cc->name);
    vsri_index *back = NULL;
    CHECK_MSG(j && vsri_index_from_json(j, "test", &back) == 0, "%s: from_json: %s", cc->name, vsr_last_error());
    CHECK_MSG(back && same_index(ix, back) && back->by_decode == ix->by_decode && !strcmp(back->note, ix->note),
              "%s: the index changed in a JSON round trip", cc->name);
    vsri_index_free(&back);
    json_decref(j);
    json_decref(out);
    free(text);

    vsri_index_free(&ix);
    vsri_index_free(&dx);
}

/* An index that does not match the input: the read that finds out fails
 * and names the frame and both pts; nothing is shifted silently. */
static void test_mismatch(void)
{
    const char *path = test_data("seek_h264_open_gop.mkv");
    vsri_index *ix = NULL;
    CHECK(vsri_index_build(&ix, path, NULL, 0) == 0);
    if (!ix)
        return;
    ix->pts[42] += 1; /* as if the decoder numbered frames differently */
    vsr_input *in = NULL;
    CHECK(vsr_input_open(&in, path, NULL) == 0);
    CHECK(vsri_input_seek_frame(in, ix, 40) == 0);
    vsr_frame *f = NULL;
    CHECK(vsr_input_read_frame(in, &f) == 0);
    vsr_frame_unref(&f);
    CHECK(vsr_input_read_frame(in, &f) == 0);
    vsr_frame_unref(&f);
    CHECK(vsr_input_read_frame(in, &f) == VSR_ERROR_INPUT && f == NULL);
    char want[160];
    snprintf(want, sizeof(want), "frame 42 has pts %lld, but the index says %lld", (long long)(ix->pts[42] - 1),
             (long long)ix->pts[42]);
    CHECK_MSG(strstr(vsr_last_error(), want) != NULL, "'%s' lacks '%s'", vsr_last_error(), want);
    CHECK(vsr_input_read_frame(in, &f) == VSR_EOF); /* nothing after it is trusted */
    /* A frame the index does not have: not found, even from the start. */
    CHECK(vsri_input_seek_frame(in, ix, 42) == VSR_ERROR_INPUT);
    CHECK_MSG(strstr(vsr_last_error(), "was not found decoding from the start") != NULL, "%s", vsr_last_error());
    /* Sequential reading from a fresh input is checked too. */
    vsr_input_close(&in);
    CHECK(vsr_input_open(&in, path, NULL) == 0);
    CHECK(vsri_input_seek_frame(in, ix, 0) == 0);
    int err = 0;
    int64_t n = 0;
    while ((err = vsr_input_read_frame(in, &f)) == 0) {
        vsr_frame_unref(&f);
        n++;
    }
    CHECK_MSG(err == VSR_ERROR_INPUT && n == 42, "err %d after %lld frames", err, (long long)n);
    vsr_input_close(&in);

    CHECK(vsri_input_seek_frame(NULL, ix, 0) == VSR_EINVAL);
    CHECK(vsr_input_open(&in, path, NULL) == 0);
    CHECK(vsri_input_seek_frame(in, ix, ix->frames) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "is not among the 96 frames indexed") != NULL);
    CHECK(vsri_input_seek_frame(in, ix, -1) == VSR_EINVAL);
    vsr_input_close(&in);
    vsri_index_free(&ix);

    /* Unreadable files are errors naming them. */
    CHECK(vsri_index_build(&ix, test_data("text.mp4"), NULL, 0) == VSR_ERROR_INPUT && ix == NULL);
    CHECK(strstr(vsr_last_error(), "text.mp4") != NULL);
    CHECK(vsri_index_build(&ix, test_data("missing.mp4"), NULL, 1) == VSR_ERROR_INPUT && ix == NULL);

    /* Broken index JSON is refused, naming the field and where it is. */
#define REST "\"by_decode\": false, \"note\": \"\", \"start_ts\": null, "
    const char *bad[] = {
        "[]",
        "{\"frames\": 2, \"time_base\": [1, 1000], \"stream\": 0, \"keys\": [], \"pts\": [0], " REST "\"by_pts\": false}",
        "{\"frames\": 2, \"time_base\": [0, 1000], \"stream\": 0, \"keys\": [], \"pts\": [0, 1], " REST "\"by_pts\": false}",
        "{\"frames\": 2, \"time_base\": [1, 1000], \"stream\": 0, \"keys\": [[5, 0, 0]], \"pts\": [0, 1], " REST
        "\"by_pts\": false}",
        "{\"frames\": 2, \"time_base\": [1, 1000], \"stream\": 0, \"keys\": [], \"pts\": [1, 1], " REST "\"by_pts\": true}",
        "{\"frames\": 2, \"time_base\": [1, 1000], \"stream\": 0, \"keys\": [], \"pts\": [1, 2], " REST "\"by_pts\": 1}",
        "{\"frames\": \"2\", \"time_base\": [1, 1000], \"stream\": 0, \"keys\": [], \"pts\": [1, 2], " REST "\"by_pts\": true}",
    };
#undef REST
    const char *field[] = {"not a JSON object", "'pts'", "'time_base[0]'", "'keys[0][0]'", "'pts[1]'", "'by_pts'",
                           "'frames' must be an integer"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_error_t je;
        json_t *j = json_loads(bad[i], JSON_REJECT_DUPLICATES, &je);
        CHECK_MSG(j != NULL, "case %zu: %s", i, je.text);
        CHECK(vsri_index_from_json(j, "plan 'x.json': index", &ix) == VSR_ERROR_CONFIG && ix == NULL);
        CHECK_MSG(strstr(vsr_last_error(), field[i]) != NULL && strstr(vsr_last_error(), "plan 'x.json': index"),
                  "'%s' lacks %s", vsr_last_error(), field[i]);
        json_decref(j);
    }
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET);
    const clip_case clips[] = {
        {"seek_h264_open_gop.mp4", 1, 1, 1},
        {"seek_h264_open_gop.mkv", 1, 1, 1},
        {"seek_hevc_cra.mkv", 1, 1, 1},
        {"seek_ffv1_gop8.mkv", 1, 0, 1},
        {"seek_vfr.mkv", 1, 0, 1},
        {"seek_mjpeg.avi", 1, 0, 1},
        {"seek_h264_bframes.avi", 0, 0, 0},
        {"seek_raw.h264", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(clips) / sizeof(clips[0]); i++)
        test_clip(&clips[i]);
    test_mismatch();
    return test_result("seek");
}
