/*
 * vsr_output (lib/encode.c), checked with libavformat/libavcodec directly
 * rather than through libvsr's own reader:
 *  - each encoder (libx264, libx265, prores_ks, ffv1) writes the frames of
 *    a clip (decoded, converted to RGBF32, and for some cases resized 2x as
 *    an upscaler would): codec, pixel format chosen (10-bit input stays
 *    10-bit for libx265/prores_ks/ffv1, prores_ks defaults to yuv422p10le,
 *    8-bit yuv420p stays), frame count and pts identical to the source,
 *    matrix/primaries/transfer/range written explicitly (the source's);
 *  - streams.mkv -> .mkv keeps audio, subtitles, the attachment (filename,
 *    mimetype), chapters and title; -> .mp4 drops what mp4 cannot hold with
 *    a warning and keeps the audio;
 *  - hdr10.mkv -> libx265 .mkv carries mastering display and content light
 *    level metadata (Matroska stream side data and HEVC SEI);
 *  - vfr.mkv keeps its irregular pts;
 *  - "<path>.partial": an unfinished output leaves no file, finish renames;
 *  - unwritable paths fail at vsr_output_open naming the path; the input's
 *    own path is refused; a full disk (RLIMIT_FSIZE in a child) gives
 *    VSR_ERROR_OUTPUT with a message and leaves no file.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/pixdesc.h>

#include "libvsr/vsr.h"
#include "ffmpeg_compat.h"
#include "internal.h"
#include "testjson.h"
#include "testutil.h"
#include "testvsr.h"

static json_t *manifest;

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static const char *partial_of(const char *path)
{
    static char b[2][1100];
    static int next;
    char *p = b[next++ % 2];
    snprintf(p, 1100, "%s.partial", path);
    return p;
}

/* ------------------------------------------------------------------ */
/* Manifest                                                           */
/* ------------------------------------------------------------------ */

static void load_manifest(void)
{
    char path[1024], err[256];
    snprintf(path, sizeof(path), "%s/manifest.json", test_env("VSR_TEST_DATA"));
    char *text = NULL;
    size_t len = 0;
    if (vsri_read_file(path, 64 << 20, &text, &len) < 0 || !(manifest = tj_parse(text, len, err, sizeof(err)))) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    free(text);
}

static const json_t *entry(const char *name)
{
    const json_t *files = json_object_get(manifest, "files");
    for (int i = 0; i < tj_count(files); i++) {
        const json_t *e = tj_at(files, i);
        if (!strcmp(tj_str(json_object_get(e, "name"), ""), name))
            return e;
    }
    fprintf(stderr, "manifest has no entry '%s'\n", name);
    exit(1);
}

static int64_t *manifest_pts(const char *clip, int *n, AVRational *tb)
{
    const json_t *e = entry(clip);
    const json_t *a = json_object_get(e, "pts");
    *n = tj_count(a);
    int64_t *p = calloc((size_t)(*n ? *n : 1), sizeof(*p));
    for (int i = 0; i < *n; i++)
        tj_int(tj_at(a, i), &p[i]);
    if (sscanf(tj_str(json_object_get(e, "time_base"), "0/1"), "%d/%d", &tb->num, &tb->den) != 2)
        *tb = (AVRational){0, 1};
    return p;
}

/* ------------------------------------------------------------------ */
/* Probing an output with libavformat/libavcodec                      */
/* ------------------------------------------------------------------ */

#define MAXF 256

typedef struct probe {
    int ok;
    char container[64];
    int n_video, n_audio, n_sub, n_attach;
    char vcodec[32], pix_fmt[32], acodec[32];
    int width, height;
    enum AVColorSpace matrix;
    enum AVColorPrimaries primaries;
    enum AVColorTransferCharacteristic transfer;
    enum AVColorRange range;
    AVRational vtb;
    int64_t pts[MAXF]; /* decoded video frames, best-effort pts in vtb */
    int frames;
    int video_packets, audio_packets, sub_packets;
    /* first decoded frame */
    enum AVColorSpace f_matrix;
    enum AVColorRange f_range;
    enum AVColorPrimaries f_primaries;
    enum AVColorTransferCharacteristic f_transfer;
    int f_has_mdm, f_has_cll;
    AVMasteringDisplayMetadata f_mdm;
    AVContentLightMetadata f_cll;
    /* stream side data */
    int s_has_mdm, s_has_cll;
    AVMasteringDisplayMetadata s_mdm;
    AVContentLightMetadata s_cll;
    char attach_filename[256], attach_mimetype[128];
    int attach_size;
    int n_chapters;
    char chapter_title[2][64];
    double chapter_start[2], chapter_end[2];
    char title[256];
} probe;

static void probe_file(const char *path, probe *p)
{
    memset(p, 0, sizeof(*p));
    AVFormatContext *fc = NULL;
    if (avformat_open_input(&fc, path, NULL, NULL) < 0)
        return;
    if (avformat_find_stream_info(fc, NULL) < 0) {
        avformat_close_input(&fc);
        return;
    }
    snprintf(p->container, sizeof(p->container), "%s", fc->iformat->name);
    int vidx = -1;
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        AVStream *st = fc->streams[i];
        AVCodecParameters *cp = st->codecpar;
        switch (cp->codec_type) {
        case AVMEDIA_TYPE_VIDEO:
            p->n_video++;
            if (vidx < 0)
                vidx = (int)i;
            break;
        case AVMEDIA_TYPE_AUDIO:
            p->n_audio++;
            snprintf(p->acodec, sizeof(p->acodec), "%s", avcodec_get_name(cp->codec_id));
            break;
        case AVMEDIA_TYPE_SUBTITLE: p->n_sub++; break;
        case AVMEDIA_TYPE_ATTACHMENT: {
            p->n_attach++;
            AVDictionaryEntry *t = av_dict_get(st->metadata, "filename", NULL, 0);
            AVDictionaryEntry *m = av_dict_get(st->metadata, "mimetype", NULL, 0);
            snprintf(p->attach_filename, sizeof(p->attach_filename), "%s", t ? t->value : "");
            snprintf(p->attach_mimetype, sizeof(p->attach_mimetype), "%s", m ? m->value : "");
            p->attach_size = cp->extradata_size;
            break;
        }
        default: break;
        }
    }
    p->n_chapters = (int)fc->nb_chapters;
    for (unsigned i = 0; i < fc->nb_chapters && i < 2; i++) {
        AVChapter *c = fc->chapters[i];
        AVDictionaryEntry *t = av_dict_get(c->metadata, "title", NULL, 0);
        snprintf(p->chapter_title[i], sizeof(p->chapter_title[i]), "%s", t ? t->value : "");
        p->chapter_start[i] = c->start * av_q2d(c->time_base);
        p->chapter_end[i] = c->end * av_q2d(c->time_base);
    }
    AVDictionaryEntry *t = av_dict_get(fc->metadata, "title", NULL, 0);
    snprintf(p->title, sizeof(p->title), "%s", t ? t->value : "");
    if (vidx < 0) {
        avformat_close_input(&fc);
        return;
    }
    AVStream *vs = fc->streams[vidx];
    AVCodecParameters *cp = vs->codecpar;
    snprintf(p->vcodec, sizeof(p->vcodec), "%s", avcodec_get_name(cp->codec_id));
    /* decoders report full-range H.264/HEVC as the yuvj alias: the range is checked on its own */
    enum AVPixelFormat fmt = (enum AVPixelFormat)cp->format;
    fmt = fmt == AV_PIX_FMT_YUVJ420P ? AV_PIX_FMT_YUV420P
        : fmt == AV_PIX_FMT_YUVJ422P ? AV_PIX_FMT_YUV422P
        : fmt == AV_PIX_FMT_YUVJ444P ? AV_PIX_FMT_YUV444P : fmt;
    const char *pf = av_get_pix_fmt_name(fmt);
    snprintf(p->pix_fmt, sizeof(p->pix_fmt), "%s", pf ? pf : "none");
    p->width = cp->width;
    p->height = cp->height;
    p->matrix = cp->color_space;
    p->primaries = cp->color_primaries;
    p->transfer = cp->color_trc;
    p->range = cp->color_range;
    p->vtb = vs->time_base;
    size_t sz = 0;
    const uint8_t *sd = vsri_stream_side_data(vs, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, &sz);
    if (sd && sz >= sizeof(AVMasteringDisplayMetadata)) {
        p->s_has_mdm = 1;
        memcpy(&p->s_mdm, sd, sizeof(p->s_mdm));
    }
    sd = vsri_stream_side_data(vs, AV_PKT_DATA_CONTENT_LIGHT_LEVEL, &sz);
    if (sd && sz >= sizeof(AVContentLightMetadata)) {
        p->s_has_cll = 1;
        memcpy(&p->s_cll, sd, sizeof(p->s_cll));
    }

    const AVCodec *dec = avcodec_find_decoder(cp->codec_id);
    AVCodecContext *dc = dec ? avcodec_alloc_context3(dec) : NULL;
    if (!dc || avcodec_parameters_to_context(dc, cp) < 0 || avcodec_open2(dc, dec, NULL) < 0) {
        avcodec_free_context(&dc);
        avformat_close_input(&fc);
        return;
    }
    dc->pkt_timebase = vs->time_base;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    int draining = 0;
    for (;;) {
        int r = avcodec_receive_frame(dc, fr);
        if (r == 0) {
            if (p->frames == 0) {
                p->f_matrix = fr->colorspace;
                p->f_range = fr->color_range;
                p->f_primaries = fr->color_primaries;
                p->f_transfer = fr->color_trc;
                AVFrameSideData *m = av_frame_get_side_data(fr, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);
                AVFrameSideData *c = av_frame_get_side_data(fr, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
                if (m) {
                    p->f_has_mdm = 1;
                    memcpy(&p->f_mdm, m->data, sizeof(p->f_mdm));
                }
                if (c) {
                    p->f_has_cll = 1;
                    memcpy(&p->f_cll, c->data, sizeof(p->f_cll));
                }
            }
            if (p->frames < MAXF)
                p->pts[p->frames] = fr->best_effort_timestamp;
            p->frames++;
            av_frame_unref(fr);
            continue;
        }
        if (r == AVERROR_EOF || draining)
            break;
        if (av_read_frame(fc, pkt) < 0) {
            avcodec_send_packet(dc, NULL);
            draining = 1;
            continue;
        }
        enum AVMediaType ty = fc->streams[pkt->stream_index]->codecpar->codec_type;
        if (pkt->stream_index == vidx) {
            p->video_packets++;
            avcodec_send_packet(dc, pkt);
        } else if (ty == AVMEDIA_TYPE_AUDIO) {
            p->audio_packets++;
        } else if (ty == AVMEDIA_TYPE_SUBTITLE) {
            p->sub_packets++;
        }
        av_packet_unref(pkt);
    }
    p->ok = 1;
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dc);
    avformat_close_input(&fc);
}

/* ------------------------------------------------------------------ */
/* Writing                                                            */
/* ------------------------------------------------------------------ */

/* What a caller's own upscaler does: RGBF32 at scale x size by repeating
 * pixels, carrying the decoded frame's pts, duration, time base and colour
 * description (as vsr_session output frames do). */
static int upscale_copy(const vsr_frame *f, int scale, vsr_frame **out)
{
    *out = NULL;
    vsr_frame *rgb = NULL, *big = NULL;
    int w = vsr_frame_width(f), h = vsr_frame_height(f);
    int err = vsr_frame_convert(&rgb, f, VSR_PIXFMT_RGBF32, w, h);
    if (err >= 0)
        err = vsr_frame_alloc(&big, VSR_PIXFMT_RGBF32, w * scale, h * scale);
    if (err < 0) {
        vsr_frame_unref(&rgb);
        return err;
    }
    for (int c = 0; c < 3; c++) {
        const float *s = (const float *)vsr_frame_data(rgb, c);
        float *d = (float *)vsr_frame_data(big, c);
        for (int y = 0; y < h * scale; y++)
            for (int x = 0; x < w * scale; x++)
                d[(size_t)y * w * scale + x] = s[(size_t)(y / scale) * w + x / scale];
    }
    vsr_colour col;
    vsr_frame_get_colour(f, &col);
    vsr_frame_set_colour(big, &col);
    vsr_frame_set_pts(big, vsr_frame_pts(f));
    vsr_frame_set_duration(big, vsr_frame_duration(f));
    vsr_frame_set_time_base(big, vsr_frame_time_base(f));
    vsr_frame_unref(&rgb);
    *out = big;
    return 0;
}

/* Decode `clip`, convert each frame to RGBF32 (resized by `scale`; 0 =
 * write the decoded frames as they are; -k = upscale_copy by k), write
 * it to `out`. Returns the last error (0 = finished). */
static int transcode(const char *clip, const char *out, const char *codec, int scale, int use_src,
                     const char *pix_fmt, int64_t *written)
{
    vsr_input *in = NULL;
    int err = vsr_input_open(&in, test_data(clip), NULL);
    if (err < 0)
        return err;
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = codec;
    os.pix_fmt = pix_fmt;
    os.preset = codec && (!strcmp(codec, "libx264") || !strcmp(codec, "libx265")) ? "ultrafast" : NULL;
    vsr_output *o = NULL;
    err = vsr_output_open(&o, out, use_src ? in : NULL, &os);
    if (err < 0) {
        vsr_input_close(&in);
        return err;
    }
    vsr_frame *f = NULL;
    while (err >= 0 && (err = vsr_input_read_frame(in, &f)) == 0) {
        vsr_frame *rgb = NULL;
        if (scale == 0) /* the decoded frame itself */
            rgb = vsr_frame_ref(f);
        else if (scale < 0) /* an "upscaler" of our own: RGBF32, pixel copies, the source's properties */
            err = upscale_copy(f, -scale, &rgb);
        else
            err = vsr_frame_convert(&rgb, f, VSR_PIXFMT_RGBF32, vsr_frame_width(f) * scale,
                                    vsr_frame_height(f) * scale);
        if (err >= 0)
            err = vsr_output_write_frame(o, rgb);
        vsr_frame_unref(&rgb);
        vsr_frame_unref(&f);
    }
    if (err == VSR_EOF)
        err = vsr_output_finish(o);
    if (written)
        *written = vsr_output_frames(o);
    vsr_output_close(&o);
    vsr_input_close(&in);
    return err;
}

/* pts of the output equal the source's (converted through microseconds
 * when the time bases differ: at most half an output tick apart). */
static int pts_match(const char *what, const probe *p, const char *clip)
{
    int n = 0;
    AVRational stb;
    int64_t *src = manifest_pts(clip, &n, &stb);
    int ok = p->frames == n;
    for (int i = 0; ok && i < n && i < MAXF; i++) {
        if (stb.num == p->vtb.num && stb.den == p->vtb.den) {
            ok = p->pts[i] == src[i];
        } else {
            double a = src[i] * av_q2d(stb), b = p->pts[i] * av_q2d(p->vtb);
            ok = fabs(a - b) <= 0.5 * av_q2d(p->vtb) + 1e-9;
        }
        if (!ok)
            fprintf(stderr, "%s: frame %d pts %lld (%d/%d), source %lld (%d/%d)\n", what, i, (long long)p->pts[i],
                    p->vtb.num, p->vtb.den, (long long)src[i], stb.num, stb.den);
    }
    free(src);
    return ok;
}

static void test_encoders(void)
{
    static const struct {
        const char *clip, *codec, *ext;
        int scale;
        const char *want_codec, *want_pix;
        int matrix, primaries, transfer, range; /* H.273 codes */
    } cases[] = {
        /* 8-bit 4:2:0 BT.601 stays yuv420p, and keeps BT.601 tags */
        {"real_bt601.mkv", "libx264", "mkv", 2, "h264", "yuv420p", 6, 6, 6, 1},
        {"real_h264.mp4", "libx264", "mp4", 1, "h264", "yuv420p", 1, 1, 1, 1},
        /* 10-bit stays 10-bit */
        {"hevc10.mkv", "libx265", "mkv", 2, "hevc", "yuv420p10le", 1, 1, 1, 1},
        {"ffv1_10bit.mkv", "ffv1", "mkv", 1, "ffv1", "yuv444p10le", 1, 1, 1, 1},
        {"prores.mov", "prores_ks", "mov", 2, "prores", "yuv422p10le", 1, 1, 1, 1},
        /* 8-bit input: libx265 stays 8-bit; prores_ks defaults to 4:2:2 10-bit */
        {"real_h264.mp4", "libx265", "mp4", 1, "hevc", "yuv420p", 1, 1, 1, 1},
        {"real_h264.mp4", "prores_ks", "mov", 1, "prores", "yuv422p10le", 1, 1, 1, 1},
        {"yuv444_ffv1.mkv", "ffv1", "mkv", 2, "ffv1", "yuv444p", 1, 1, 1, 1},
        /* full-range MJPEG: range stays full (as plain yuv420p + tag) */
        {"full_range.mkv", "libx264", "mkv", 1, "h264", "yuv420p", 5, 5, 6, 2},
        /* RGBF32 frames carrying the source's colour description, 2x by pixel copies */
        {"real_bt601.mkv", "libx264", "mkv", -2, "h264", "yuv420p", 6, 6, 6, 1},
        {"hevc10.mkv", "libx265", "mkv", -2, "hevc", "yuv420p10le", 1, 1, 1, 1},
        {"prores.mov", "prores_ks", "mov", -2, "prores", "yuv422p10le", 1, 1, 1, 1},
        {"ffv1_10bit.mkv", "ffv1", "mkv", -2, "ffv1", "yuv444p10le", 1, 1, 1, 1},
        /* the decoded frames themselves (no RGB step) */
        {"real_bt601.mkv", "libx264", "mkv", 0, "h264", "yuv420p", 6, 6, 6, 1},
        {"hevc10.mkv", "ffv1", "mkv", 0, "ffv1", "yuv420p10le", 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[128];
        snprintf(name, sizeof(name), "enc%zu_%s%s.%s", i, cases[i].codec,
                 cases[i].scale > 0 ? "_convert" : cases[i].scale < 0 ? "_copy" : "_yuv", cases[i].ext);
        const char *out = test_tmp_file(name);
        int64_t written = 0;
        int err = transcode(cases[i].clip, out, cases[i].codec, cases[i].scale, 1, NULL, &written);
        CHECK_MSG(err == 0, "%s -> %s: %s", cases[i].clip, name, vsr_last_error());
        CHECK_MSG(!exists(partial_of(out)), "%s: .partial left behind", name);
        probe p;
        probe_file(out, &p);
        CHECK_MSG(p.ok, "%s: cannot read the output back", name);
        if (!p.ok)
            continue;
        const json_t *e = entry(cases[i].clip);
        int64_t w = 0, h = 0, frames = 0;
        tj_int(json_object_get(e, "width"), &w);
        tj_int(json_object_get(e, "height"), &h);
        tj_int(json_object_get(e, "frames"), &frames);
        fprintf(stderr, "  %-16s %-9s -> %-22s %s %s %dx%d, %d frames, tb %d/%d, matrix %s prim %s trc %s range %s\n",
                cases[i].clip, cases[i].codec, name, p.vcodec, p.pix_fmt, p.width, p.height, p.frames, p.vtb.num,
                p.vtb.den, av_color_space_name(p.matrix), av_color_primaries_name(p.primaries),
                av_color_transfer_name(p.transfer), av_color_range_name(p.range));
        CHECK_MSG(!strcmp(p.vcodec, cases[i].want_codec), "%s: codec %s", name, p.vcodec);
        CHECK_MSG(!strcmp(p.pix_fmt, cases[i].want_pix), "%s: pixel format %s, expected %s", name, p.pix_fmt,
                  cases[i].want_pix);
        int sc = cases[i].scale > 0 ? cases[i].scale : cases[i].scale < 0 ? -cases[i].scale : 1;
        CHECK_MSG(p.width == w * sc && p.height == h * sc, "%s: %dx%d", name, p.width, p.height);
        CHECK_MSG(p.frames == frames && written == frames, "%s: %d frames decoded, %lld written, source %lld",
                  name, p.frames, (long long)written, (long long)frames);
        CHECK_MSG(pts_match(name, &p, cases[i].clip), "%s: pts differ from the source", name);
        CHECK_MSG((int)p.matrix == cases[i].matrix && (int)p.primaries == cases[i].primaries &&
                      (int)p.transfer == cases[i].transfer && (int)p.range == cases[i].range,
                  "%s: colour tags %d/%d/%d/%d, expected %d/%d/%d/%d", name, p.matrix, p.primaries, p.transfer,
                  p.range, cases[i].matrix, cases[i].primaries, cases[i].transfer, cases[i].range);
        /* the decoder's view (bitstream VUI / frame header where the codec has one) */
        CHECK_MSG((int)p.f_matrix == cases[i].matrix && (int)p.f_range == cases[i].range,
                  "%s: decoded frames tagged matrix %d range %d", name, p.f_matrix, p.f_range);
        remove(out);
    }
}

/* Frames without a source: no time base -> the frame_rate setting; no pts
 * -> 0, 1, 2...; ffv1 defaults to yuv444p; colour resolved and written. */
static void test_no_source(void)
{
    const char *out = test_tmp_file("nosrc.mkv");
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    os.frame_rate = (vsr_rational){30, 1};
    vsr_output *o = NULL;
    int err = vsr_output_open(&o, out, NULL, &os);
    CHECK_MSG(err == 0, "%s", vsr_last_error());
    for (int i = 0; o && i < 5; i++) {
        vsr_frame *f = NULL;
        CHECK(vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, 64, 48) == 0);
        float *d = (float *)vsr_frame_data(f, 0);
        for (int k = 0; k < 3 * 64 * 48; k++)
            d[k] = (float)((k * 7 + i * 13) % 256) / 255.0f;
        CHECK_MSG(vsr_output_write_frame(o, f) == 0, "%s", vsr_last_error());
        vsr_frame_unref(&f);
    }
    CHECK_EQ_INT(vsr_output_frames(o), 5);
    CHECK_MSG(vsr_output_finish(o) == 0, "%s", vsr_last_error());
    vsr_output_close(&o);
    probe p;
    probe_file(out, &p);
    CHECK(p.ok && p.frames == 5 && !strcmp(p.pix_fmt, "yuv444p"));
    int pts_ok = p.frames == 5;
    for (int i = 0; pts_ok && i < 5; i++)
        pts_ok = fabs(p.pts[i] * av_q2d(p.vtb) - i / 30.0) <= 0.5 * av_q2d(p.vtb) + 1e-9;
    CHECK_MSG(pts_ok, "no-source output: pts not at 30 fps");
    CHECK_MSG(p.matrix != AVCOL_SPC_UNSPECIFIED && p.range != AVCOL_RANGE_UNSPECIFIED,
              "no-source output: matrix %d range %d not written", p.matrix, p.range);
    fprintf(stderr, "  no source: %s %s, matrix %s range %s primaries %s transfer %s\n", p.vcodec, p.pix_fmt,
            av_color_space_name(p.matrix), av_color_range_name(p.range), av_color_primaries_name(p.primaries),
            av_color_transfer_name(p.transfer));
    remove(out);
}

/* Time stamps at the end of int64_t's range (a hostile source, or a
 * caller): neither pts + duration nor the next invented pts may overflow
 * (undefined behaviour: the sanitizer build aborts on it). The output takes
 * what it can and then refuses with a message, never wraps around. */
static void test_extreme_timestamps(void)
{
    const char *out = test_tmp_file("extreme.nut");
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    vsr_output *o = NULL;
    CHECK_MSG(vsr_output_open(&o, out, NULL, &os) == 0, "%s", vsr_last_error());
    int results[3] = {1, 1, 1};
    for (int i = 0; o && i < 3; i++) {
        vsr_frame *f = NULL;
        CHECK(vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, 16, 16) == 0);
        if (!f)
            break;
        memset(vsr_frame_data(f, 0), 0, (size_t)3 * 16 * 16 * sizeof(float));
        vsr_frame_set_time_base(f, (vsr_rational){1, 1000});
        if (i == 0) {
            vsr_frame_set_pts(f, INT64_MAX - 1);
            vsr_frame_set_duration(f, INT64_MAX / 2);
        } /* the next two carry no pts: the output counts on from the last */
        results[i] = vsr_output_write_frame(o, f);
        fprintf(stderr, "  extreme pts, frame %d: %s%s%s\n", i, vsr_strerror(results[i]), results[i] ? ": " : "",
                results[i] ? vsr_last_error() : "");
        vsr_frame_unref(&f);
        if (results[i] < 0)
            break;
    }
    /* INT64_MAX - 1, then INT64_MAX; a third frame has no time left */
    CHECK_MSG(results[0] == 0 && results[1] == 0, "frames at INT64_MAX - 1 and INT64_MAX: %s, %s",
              vsr_strerror(results[0]), vsr_strerror(results[1]));
    CHECK_MSG(results[2] == VSR_EINVAL && strstr(vsr_last_error(), "out of range") && strstr(vsr_last_error(), out),
              "a frame after INT64_MAX: %s: %s", vsr_strerror(results[2]), vsr_last_error());
    vsr_output_close(&o);
    CHECK(!exists(out));
}

static void test_streams(void)
{
    probe src;
    probe_file(test_data("streams.mkv"), &src);
    CHECK(src.ok && src.n_audio == 1 && src.n_sub == 1 && src.n_attach == 1 && src.n_chapters == 2);

    /* .mkv keeps everything */
    test_log_clear();
    const char *out = test_tmp_file("streams_out.mkv");
    int err = transcode("streams.mkv", out, "libx264", 2, 1, NULL, NULL);
    CHECK_MSG(err == 0, "streams.mkv -> mkv: %s", vsr_last_error());
    probe p;
    probe_file(out, &p);
    fprintf(stderr, "  streams.mkv -> mkv: %d video, %d audio (%s, %d packets; source %d), %d subtitle (%d packets; "
                    "source %d), %d attachment '%s' '%s', %d chapters '%s' '%s', title '%s'\n",
            p.n_video, p.n_audio, p.acodec, p.audio_packets, src.audio_packets, p.n_sub, p.sub_packets,
            src.sub_packets, p.n_attach, p.attach_filename, p.attach_mimetype, p.n_chapters, p.chapter_title[0],
            p.chapter_title[1], p.title);
    CHECK(p.ok && p.n_video == 1 && p.frames == 24);
    CHECK_MSG(p.n_audio == 1 && !strcmp(p.acodec, "aac") && p.audio_packets == src.audio_packets,
              "audio: %d streams, %d packets (source %d)", p.n_audio, p.audio_packets, src.audio_packets);
    CHECK_MSG(p.n_sub == 1 && p.sub_packets == src.sub_packets && src.sub_packets == 2, "subtitles: %d streams, %d packets",
              p.n_sub, p.sub_packets);
    CHECK_MSG(p.n_attach == 1 && !strcmp(p.attach_filename, src.attach_filename) && p.attach_filename[0] &&
                  !strcmp(p.attach_mimetype, "application/x-truetype-font") && p.attach_size == src.attach_size,
              "attachment '%s' '%s' %d bytes (source '%s', %d bytes)", p.attach_filename, p.attach_mimetype,
              p.attach_size, src.attach_filename, src.attach_size);
    CHECK_MSG(p.n_chapters == 2 && !strcmp(p.chapter_title[0], "Astronaut") && !strcmp(p.chapter_title[1], "Coffee") &&
                  fabs(p.chapter_start[1] - 0.5) < 1e-3 && fabs(p.chapter_end[0] - 0.5) < 1e-3,
              "chapters: %d", p.n_chapters);
    CHECK_MSG(!strcmp(p.title, "libvsr test clip with every kind of stream"), "title '%s'", p.title);
    CHECK(pts_match("streams.mkv -> mkv", &p, "streams.mkv"));
    CHECK_MSG(!strstr(test_log, "cannot be stored"), "mkv output warned: %s", test_log);
    remove(out);

    /* .mp4 cannot hold SRT subtitles or attachments: dropped with a warning; audio stays */
    test_log_clear();
    out = test_tmp_file("streams_out.mp4");
    err = transcode("streams.mkv", out, "libx264", 1, 1, NULL, NULL);
    CHECK_MSG(err == 0, "streams.mkv -> mp4: %s", vsr_last_error());
    probe_file(out, &p);
    fprintf(stderr, "  streams.mkv -> mp4: %d video, %d audio (%d packets), %d subtitle, %d attachment; warnings:\n%s",
            p.n_video, p.n_audio, p.audio_packets, p.n_sub, p.n_attach, test_log);
    CHECK(p.ok && p.n_video == 1 && p.frames == 24);
    CHECK_MSG(p.n_audio == 1 && p.audio_packets == src.audio_packets, "mp4 audio: %d streams, %d packets", p.n_audio,
              p.audio_packets);
    CHECK(p.n_sub == 0 && p.n_attach == 0);
    CHECK_MSG(strstr(test_log, "subtitle") && strstr(test_log, "attachment"), "no warning naming the dropped streams");
    CHECK_MSG(!strcmp(p.title, "libvsr test clip with every kind of stream"), "mp4 title '%s'", p.title);
    remove(out);

    /* copy_streams = 0: video only */
    vsr_input *in = NULL;
    vsr_output *o = NULL;
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    os.copy_streams = 0;
    out = test_tmp_file("streams_nocopy.mkv");
    if (vsr_input_open(&in, test_data("streams.mkv"), NULL) == 0 && vsr_output_open(&o, out, in, &os) == 0) {
        vsr_frame *f;
        while (vsr_input_read_frame(in, &f) == 0) {
            vsr_output_write_frame(o, f);
            vsr_frame_unref(&f);
        }
        CHECK(vsr_output_finish(o) == 0);
    }
    vsr_output_close(&o);
    vsr_input_close(&in);
    probe_file(out, &p);
    CHECK_MSG(p.ok && p.n_video == 1 && p.n_audio == 0 && p.n_sub == 0 && p.n_attach == 0 && p.frames == 24,
              "copy_streams=0: %d audio %d sub %d attach", p.n_audio, p.n_sub, p.n_attach);
    remove(out);
}

static void test_hdr10(void)
{
    const char *out = test_tmp_file("hdr10_out.mkv");
    int err = transcode("hdr10.mkv", out, "libx265", -1, 1, NULL, NULL);
    CHECK_MSG(err == 0, "hdr10 -> x265: %s", vsr_last_error());
    probe p;
    probe_file(out, &p);
    CHECK(p.ok && p.frames == 24 && !strcmp(p.pix_fmt, "yuv420p10le"));
    CHECK_MSG(p.primaries == AVCOL_PRI_BT2020 && p.transfer == AVCOL_TRC_SMPTE2084 && p.matrix == AVCOL_SPC_BT2020_NCL &&
                  p.range == AVCOL_RANGE_MPEG,
              "HDR tags %d/%d/%d/%d", p.primaries, p.transfer, p.matrix, p.range);
    fprintf(stderr, "  hdr10 -> x265 mkv: stream side data mdm %d cll %d; frame (SEI) mdm %d cll %d\n", p.s_has_mdm,
            p.s_has_cll, p.f_has_mdm, p.f_has_cll);
    /* Matroska's MasteringMetadata / MaxCLL elements (stream side data) */
    CHECK_MSG(p.s_has_mdm && p.s_has_cll, "no HDR stream side data in the Matroska output");
    /* and the SEI that x265 writes into the HEVC stream */
    CHECK_MSG(p.f_has_mdm && p.f_has_cll, "no HDR SEI in the HEVC stream");
    const AVMasteringDisplayMetadata *mds[2] = {p.s_has_mdm ? &p.s_mdm : NULL, p.f_has_mdm ? &p.f_mdm : NULL};
    for (int k = 0; k < 2; k++) {
        const AVMasteringDisplayMetadata *m = mds[k];
        if (!m)
            continue;
        /* G(13250,34500) B(7500,3000) R(34000,16000) WP(15635,16450) in 1/50000; L 1000 / 0.0001 cd/m2 */
        double want[4][2] = {{0.68, 0.32}, {0.265, 0.69}, {0.15, 0.06}, {0.3127, 0.329}};
        int ok = m->has_primaries && m->has_luminance;
        for (int c = 0; ok && c < 3; c++)
            ok = fabs(av_q2d(m->display_primaries[c][0]) - want[c][0]) < 1e-4 &&
                 fabs(av_q2d(m->display_primaries[c][1]) - want[c][1]) < 1e-4;
        ok = ok && fabs(av_q2d(m->white_point[0]) - want[3][0]) < 1e-4 && fabs(av_q2d(m->white_point[1]) - want[3][1]) < 1e-4;
        ok = ok && fabs(av_q2d(m->max_luminance) - 1000) < 1e-3 && fabs(av_q2d(m->min_luminance) - 0.0001) < 1e-6;
        CHECK_MSG(ok, "%s mastering display values differ: R %.4f,%.4f L %.4f/%.6f", k ? "SEI" : "stream",
                  av_q2d(m->display_primaries[0][0]), av_q2d(m->display_primaries[0][1]), av_q2d(m->max_luminance),
                  av_q2d(m->min_luminance));
    }
    if (p.s_has_cll)
        CHECK_MSG(p.s_cll.MaxCLL == 1000 && p.s_cll.MaxFALL == 400, "stream CLL %u/%u", p.s_cll.MaxCLL, p.s_cll.MaxFALL);
    if (p.f_has_cll)
        CHECK_MSG(p.f_cll.MaxCLL == 1000 && p.f_cll.MaxFALL == 400, "SEI CLL %u/%u", p.f_cll.MaxCLL, p.f_cll.MaxFALL);
    remove(out);
}

static void test_vfr(void)
{
    const char *out = test_tmp_file("vfr_out.mkv");
    int err = transcode("vfr.mkv", out, "libx264", 2, 1, NULL, NULL);
    CHECK_MSG(err == 0, "vfr: %s", vsr_last_error());
    probe p;
    probe_file(out, &p);
    CHECK(p.ok && p.frames == 24);
    CHECK_MSG(pts_match("vfr.mkv", &p, "vfr.mkv"), "vfr.mkv: irregular pts not kept");
    /* and they are irregular indeed */
    int irregular = 0;
    for (int i = 2; i < p.frames && i < MAXF; i++)
        irregular |= (p.pts[i] - p.pts[i - 1]) != (p.pts[1] - p.pts[0]);
    CHECK(irregular);
    remove(out);
}

/* ------------------------------------------------------------------ */
/* Files: partial, paths, disk full                                   */
/* ------------------------------------------------------------------ */

static vsr_frame *test_frame(int i)
{
    vsr_frame *f = NULL;
    if (vsr_frame_alloc(&f, VSR_PIXFMT_RGBF32, 64, 48) < 0)
        return NULL;
    float *d = (float *)vsr_frame_data(f, 0);
    for (int k = 0; k < 3 * 64 * 48; k++)
        d[k] = (float)((k * 31 + i * 17) % 251) / 250.0f;
    vsr_frame_set_pts(f, i);
    vsr_frame_set_time_base(f, (vsr_rational){1, 24});
    return f;
}

static void test_partial(void)
{
    const char *out = test_tmp_file("partial.mkv");
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    /* closed unfinished: nothing left */
    vsr_output *o = NULL;
    CHECK_MSG(vsr_output_open(&o, out, NULL, &os) == 0, "%s", vsr_last_error());
    CHECK_MSG(exists(partial_of(out)) && !exists(out), "while writing: only the .partial exists");
    for (int i = 0; o && i < 3; i++) {
        vsr_frame *f = test_frame(i);
        CHECK(vsr_output_write_frame(o, f) == 0);
        vsr_frame_unref(&f);
    }
    CHECK(exists(partial_of(out)) && !exists(out));
    vsr_output_close(&o);
    CHECK(o == NULL);
    CHECK_MSG(!exists(partial_of(out)) && !exists(out), "an unfinished output left a file");

    /* opened, nothing written, closed */
    CHECK(vsr_output_open(&o, out, NULL, &os) == 0);
    CHECK(vsr_output_finish(o) == VSR_ERROR_OUTPUT);
    vsr_output_close(&o);
    CHECK(!exists(partial_of(out)) && !exists(out));

    /* finished: renamed into place */
    CHECK(vsr_output_open(&o, out, NULL, &os) == 0);
    for (int i = 0; o && i < 3; i++) {
        vsr_frame *f = test_frame(i);
        CHECK(vsr_output_write_frame(o, f) == 0);
        vsr_frame_unref(&f);
    }
    CHECK_MSG(vsr_output_finish(o) == 0, "%s", vsr_last_error());
    CHECK_MSG(exists(out) && !exists(partial_of(out)), "finish did not move the file into place");
    CHECK(vsr_output_finish(o) == 0); /* twice is harmless */
    vsr_frame *f = test_frame(9);
    CHECK(vsr_output_write_frame(o, f) == VSR_EINVAL); /* after finish */
    vsr_frame_unref(&f);
    vsr_output_close(&o);
    CHECK_MSG(exists(out), "close after finish removed the finished file");
    probe p;
    probe_file(out, &p);
    CHECK(p.ok && p.frames == 3);

    /* overwrite = 0 refuses an existing file, and leaves it alone */
    os.overwrite = 0;
    CHECK(vsr_output_open(&o, out, NULL, &os) == VSR_ERR(EEXIST) && !o);
    CHECK(strstr(vsr_last_error(), out) != NULL);
    CHECK(exists(out));
    /* overwrite = 1 (default) replaces it, only at finish */
    os.overwrite = 1;
    CHECK(vsr_output_open(&o, out, NULL, &os) == 0);
    f = test_frame(0);
    vsr_output_write_frame(o, f);
    vsr_frame_unref(&f);
    vsr_output_close(&o); /* unfinished: the old file stays as it was */
    probe_file(out, &p);
    CHECK_MSG(p.ok && p.frames == 3, "an unfinished overwrite damaged the existing file (%d frames)", p.frames);
    remove(out);

    /* bad settings */
    vsr_output_settings_default(&os);
    os.codec = "no-such-encoder";
    CHECK(vsr_output_open(&o, out, NULL, &os) == VSR_EINVAL && !o && strstr(vsr_last_error(), "no-such-encoder"));
    vsr_output_settings_default(&os);
    CHECK(vsr_output_open(&o, test_tmp_file("x.nosuchext"), NULL, &os) == VSR_EINVAL && !o);
    os.pix_fmt = "no-such-format";
    CHECK(vsr_output_open(&o, out, NULL, &os) == VSR_EINVAL && !o);
    CHECK(!exists(out) && !exists(partial_of(out)));
}

static void test_unwritable(void)
{
    vsr_output *o = NULL;
    /* a directory that does not exist */
    const char *p1 = "/nonexistent-vsr-test-dir/sub/out.mkv";
    int err = vsr_output_open(&o, p1, NULL, NULL);
    fprintf(stderr, "  %s -> %s: %s\n", p1, vsr_strerror(err), vsr_last_error());
    CHECK_MSG(err == VSR_ERROR_OUTPUT && !o, "missing dir: %s", vsr_strerror(err));
    CHECK_MSG(strstr(vsr_last_error(), p1) != NULL, "message does not name the path: %s", vsr_last_error());
    vsr_output_close(&o);

    /* a read-only directory (root ignores permissions: then a place no one can create files in) */
    char ro[512];
    snprintf(ro, sizeof(ro), "%s/readonly", test_tmpdir);
    mkdir(ro, 0755);
    chmod(ro, 0555);
    char probe_path[600];
    snprintf(probe_path, sizeof(probe_path), "%s/probe", ro);
    FILE *t = fopen(probe_path, "w");
    char p2[600];
    if (t) {
        fclose(t);
        remove(probe_path);
        snprintf(p2, sizeof(p2), "/proc/self/vsr-out.mkv");
        fprintf(stderr, "  (permissions are not enforced for this user: using %s as the unwritable place)\n", p2);
    } else {
        snprintf(p2, sizeof(p2), "%s/out.mkv", ro);
    }
    err = vsr_output_open(&o, p2, NULL, NULL);
    fprintf(stderr, "  %s -> %s: %s\n", p2, vsr_strerror(err), vsr_last_error());
    CHECK_MSG(err == VSR_ERROR_OUTPUT && !o, "read-only: %s", vsr_strerror(err));
    CHECK_MSG(strstr(vsr_last_error(), p2) != NULL, "message does not name the path: %s", vsr_last_error());
    vsr_output_close(&o);
    chmod(ro, 0755);

    /* the input's own path, also spelled differently */
    char copy[600], cmd[1400];
    snprintf(copy, sizeof(copy), "%s/self.mkv", test_tmpdir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", test_data("vfr.mkv"), copy);
    CHECK(system(cmd) == 0);
    struct stat st0, st1;
    stat(copy, &st0);
    vsr_input *in = NULL;
    CHECK(vsr_input_open(&in, copy, NULL) == 0);
    char other[700];
    snprintf(other, sizeof(other), "%s/./self.mkv", test_tmpdir);
    const char *same[2] = {copy, other};
    for (int k = 0; in && k < 2; k++) {
        err = vsr_output_open(&o, same[k], in, NULL);
        fprintf(stderr, "  output = input (%s) -> %s: %s\n", same[k], vsr_strerror(err), vsr_last_error());
        CHECK_MSG(err == VSR_EINVAL && !o, "output path = input path accepted (%s)", same[k]);
        CHECK(strstr(vsr_last_error(), "input") != NULL);
        vsr_output_close(&o);
    }
    vsr_input_close(&in);
    stat(copy, &st1);
    CHECK_MSG(st0.st_size == st1.st_size && st0.st_mtime == st1.st_mtime, "the input file was touched");
    CHECK(!exists(partial_of(copy)));
    remove(copy);
}

/* Disk full: in a child with a small RLIMIT_FSIZE (SIGXFSZ ignored, so a
 * write past the limit fails with EFBIG). Exit status bits say what went
 * wrong; the parent checks the directory afterwards. */
static void test_disk_full(void)
{
    const char *out = test_tmp_file("full.mkv");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {200 * 1024, 200 * 1024};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(100);
        int status = 0;
        vsr_input *in = NULL;
        if (vsr_input_open(&in, test_data("long_120.mkv"), NULL) < 0)
            _exit(101);
        vsr_output_settings os;
        vsr_output_settings_default(&os);
        os.codec = "ffv1";
        vsr_output *o = NULL;
        if (vsr_output_open(&o, out, in, &os) < 0)
            _exit(102);
        int err = 0, where = 0;
        vsr_frame *f = NULL;
        while (err >= 0 && (err = vsr_input_read_frame(in, &f)) == 0) {
            vsr_frame *big = NULL;
            err = vsr_frame_convert(&big, f, VSR_PIXFMT_RGBF32, 256, 144);
            if (err >= 0)
                err = vsr_output_write_frame(o, big);
            vsr_frame_unref(&big);
            vsr_frame_unref(&f);
            where = 1;
        }
        if (err == VSR_EOF) {
            where = 2;
            err = vsr_output_finish(o);
        }
        fprintf(stderr, "  disk full (child): %s at %s after %lld frames: %s\n", vsr_strerror(err),
                where == 2 ? "finish" : "write", (long long)vsr_output_frames(o), vsr_last_error());
        if (err != VSR_ERROR_OUTPUT)
            status |= 1;
        if (!strstr(vsr_last_error(), "full.mkv"))
            status |= 2;
        if (where == 2 && exists(partial_of(out)))
            status |= 4; /* "On failure the partial file is removed" (vsr_output_finish) */
        vsr_output_close(&o);
        vsr_input_close(&in);
        if (exists(out) || exists(partial_of(out)))
            status |= 8;
        _exit(status);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK_MSG(WIFEXITED(st), "child died (signal %d)", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    CHECK_MSG(code < 100, "child setup failed (%d)", code);
    CHECK_MSG(code >= 100 || !(code & 1), "disk full: not VSR_ERROR_OUTPUT");
    CHECK_MSG(code >= 100 || !(code & 2), "disk full: the message does not name the output");
    CHECK_MSG(code >= 100 || !(code & 4), "disk full at finish: the .partial was not removed by vsr_output_finish");
    CHECK_MSG(code >= 100 || !(code & 8), "disk full: a file was left after close");
    CHECK_MSG(!exists(out) && !exists(partial_of(out)), "disk full: a file named like the output exists");
    /* nor any other file named after it (temporary names included) */
    DIR *d = opendir(test_tmpdir);
    int leftovers = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        if (!strncmp(de->d_name, "full.mkv", 8)) {
            fprintf(stderr, "  left behind: %s\n", de->d_name);
            leftovers++;
        }
    if (d)
        closedir(d);
    CHECK_EQ_INT(leftovers, 0);
}

/* The disk fills up only when vsr_output_finish writes the rest: a small
 * Matroska file keeps its packets in memory until the cluster closes, so
 * with a limit above the header and below the cluster the first failing
 * write is the trailer's. "On failure the partial file is removed"
 * (vsr_output_finish), even before the output is closed. */
static void test_disk_full_at_finish(void)
{
    const char *out = test_tmp_file("full2.mkv");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(100);
        vsr_output_settings os;
        vsr_output_settings_default(&os);
        os.codec = "ffv1";
        vsr_output *o = NULL;
        if (vsr_output_open(&o, out, NULL, &os) < 0)
            _exit(101);
        int status = 0, err = 0;
        for (int i = 0; i < 2 && err >= 0; i++) {
            vsr_frame *f = test_frame(i);
            err = vsr_output_write_frame(o, f);
            vsr_frame_unref(&f);
        }
        if (err < 0) {
            fprintf(stderr, "  disk full at finish (child): the write failed already: %s\n", vsr_last_error());
            _exit(102);
        }
        err = vsr_output_finish(o);
        fprintf(stderr, "  disk full at finish (child): finish -> %s: %s; .partial %s after the failed finish\n",
                vsr_strerror(err), vsr_last_error(), exists(partial_of(out)) ? "still there" : "removed");
        if (err != VSR_ERROR_OUTPUT)
            status |= 1;
        if (!strstr(vsr_last_error(), "full2.mkv"))
            status |= 2;
        if (exists(partial_of(out)) || exists(out))
            status |= 4;
        vsr_output_close(&o);
        if (exists(out) || exists(partial_of(out)))
            status |= 8;
        _exit(status);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    CHECK_MSG(code >= 0 && code < 100, "disk full at finish: child setup failed or died (%d)", code);
    CHECK_MSG(code < 0 || code >= 100 || !(code & 1), "disk full at finish: not VSR_ERROR_OUTPUT");
    CHECK_MSG(code < 0 || code >= 100 || !(code & 2), "disk full at finish: the message does not name the output");
    CHECK_MSG(code < 0 || code >= 100 || !(code & 4),
              "disk full at finish: vsr_output_finish failed but left the .partial (its doc: removed on failure)");
    CHECK_MSG(code < 0 || code >= 100 || !(code & 8), "disk full at finish: a file was left after close");
    CHECK_MSG(!exists(out) && !exists(partial_of(out)), "disk full at finish: a file named like the output exists");
}

int main(void)
{
    if (test_tmpdir_make("encode") < 0)
        return 1;
    av_log_set_level(AV_LOG_ERROR);
    vsr_log_set_level(VSR_LOG_WARNING);
    vsr_log_set_callback(test_log_cb, NULL);
    load_manifest();
    test_encoders();
    test_no_source();
    test_extreme_timestamps();
    test_streams();
    test_hdr10();
    test_vfr();
    test_partial();
    test_unwritable();
    test_disk_full();
    test_disk_full_at_finish();
    json_decref(manifest);
    test_tmpdir_remove();
    return test_result("encode");
}
