/*
 * vsr_input (lib/decode.c) against the test data manifest, whose facts come
 * from ffprobe/ffmpeg rather than from libvsr:
 *  - every good clip decodes to exactly the manifest's frame count and pts
 *    list, with the manifest's size, pixel format and colour tags;
 *  - decoded colours match the clip's RGB source (frames converted with
 *    vsr_frame_convert to RGBF32 and compared with source_rgb / 255) above
 *    a PSNR bound per kind of clip; re-tagging a frame with the wrong
 *    matrix or range before converting loses several dB, which proves the
 *    tags are what makes the colours right (BT.601, full-range MJPEG,
 *    BT.709, BT.2020);
 *  - vsr_input_get_info() fields agree with the manifest;
 *  - vsr_input_open_buffer() on the same bytes gives identical frames;
 *  - bad inputs fail with VSR_ERROR_INPUT and a message naming the file;
 *    huge_dims.y4m is refused with VSR_ERROR_LIMIT before anything big is
 *    allocated (VmHWM/VmPeak barely move), and the limits are settings;
 *  - damaged files (truncated.mkv, truncated.avi, corrupt.mkv) decode to
 *    what ffmpeg decodes (count and pts) and report damage with a message;
 *  - an intact file whose header declares more than its packets cover
 *    (dropped_frames.avi) is not damaged;
 *  - every input a fuzzer found harmful (tests/fuzz/regressions/input/)
 *    opens and decodes, and what vsr_input_get_info() derives from its
 *    hostile header is finite and in range (under the sanitizer build,
 *    undefined behaviour on the way aborts the test);
 *  - a packet the decoder refuses with EAGAIN is sent again, not lost;
 *  - max_frames stops early; odd sizes (321x239) decode.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>

#include "libvsr/vsr.h"
#include "internal.h"
#include "stream_internal.h"
#include "testjson.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* Manifest                                                           */
/* ------------------------------------------------------------------ */

static json_t *manifest;
static char manifest_text_err[256];

static void load_manifest(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/manifest.json", test_env("VSR_TEST_DATA"));
    char *text = NULL;
    size_t len = 0;
    if (vsri_read_file(path, 64 << 20, &text, &len) < 0) {
        fprintf(stderr, "cannot read %s: %s\n", path, vsr_last_error());
        exit(1);
    }
    if (!(manifest = tj_parse(text, len, manifest_text_err, sizeof(manifest_text_err)))) {
        fprintf(stderr, "%s: %s\n", path, manifest_text_err);
        exit(1);
    }
    free(text);
}

static const json_t *entry(const char *name)
{
    const json_t *files = json_object_get(manifest, "files");
    for (int i = 0; i < tj_count(files); i++) {
        const json_t *e = tj_at(files, i);
        const char *n = tj_str(json_object_get(e, "name"), "");
        if (!strcmp(n, name))
            return e;
    }
    fprintf(stderr, "manifest has no entry '%s'\n", name);
    exit(1);
}

static const char *estr(const json_t *e, const char *key)
{
    return tj_str(json_object_get(e, key), NULL);
}

static int64_t eint(const json_t *e, const char *key, int64_t dflt)
{
    int64_t v;
    return tj_int(json_object_get(e, key), &v) == 0 ? v : dflt;
}

static int ebool(const json_t *e, const char *key)
{
    return tj_bool(json_object_get(e, key), 0);
}

static vsr_rational parse_q(const char *s)
{
    vsr_rational q = {0, 1};
    if (s && sscanf(s, "%d/%d", &q.num, &q.den) != 2)
        q = (vsr_rational){0, 1};
    return q;
}

/* pts list (key "pts" or "decoded_pts") into a malloc'd array. */
static int64_t *epts(const json_t *e, const char *key, int *n)
{
    const json_t *a = json_object_get(e, key);
    *n = tj_count(a);
    int64_t *p = calloc((size_t)(*n > 0 ? *n : 1), sizeof(*p));
    for (int i = 0; i < *n; i++)
        if (tj_int(tj_at(a, i), &p[i]) < 0)
            p[i] = INT64_MIN;
    return p;
}

/* H.273 code points for ffprobe's names. */
static int matrix_code(const char *n)
{
    if (!n) return -1;
    if (!strcmp(n, "gbr")) return 0;
    if (!strcmp(n, "bt709")) return 1;
    if (!strcmp(n, "bt470bg")) return 5;
    if (!strcmp(n, "smpte170m")) return 6;
    if (!strcmp(n, "bt2020nc")) return 9;
    return -1;
}

static int range_code(const char *n)
{
    if (!n) return -1;
    if (!strcmp(n, "tv")) return 1;
    if (!strcmp(n, "pc")) return 2;
    return 0;
}

static int primaries_code(const char *n)
{
    if (!n) return -1;
    if (!strcmp(n, "bt709")) return 1;
    if (!strcmp(n, "bt470bg")) return 5;
    if (!strcmp(n, "smpte170m")) return 6;
    if (!strcmp(n, "bt2020")) return 9;
    return -1;
}

static int transfer_code(const char *n)
{
    if (!n) return -1;
    if (!strcmp(n, "bt709")) return 1;
    if (!strcmp(n, "smpte170m")) return 6;
    if (!strcmp(n, "iec61966-2-1")) return 13;
    if (!strcmp(n, "smpte2084")) return 16;
    return -1;
}

static vsr_pixfmt pixfmt_of(const char *n)
{
    static const struct {
        const char *name;
        vsr_pixfmt f;
    } map[] = {
        {"yuv420p", VSR_PIXFMT_YUV420P},       {"yuvj420p", VSR_PIXFMT_YUVJ420P},
        {"yuv444p", VSR_PIXFMT_YUV444P},       {"yuv420p10le", VSR_PIXFMT_YUV420P10},
        {"yuv422p10le", VSR_PIXFMT_YUV422P10}, {"yuv444p10le", VSR_PIXFMT_YUV444P10},
        {"gbrp", VSR_PIXFMT_GBRP},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (n && !strcmp(n, map[i].name))
            return map[i].f;
    return VSR_PIXFMT_OTHER;
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return b;
}

/* ------------------------------------------------------------------ */
/* Frames                                                             */
/* ------------------------------------------------------------------ */

typedef struct frame_list {
    vsr_frame **f;
    int n, cap;
    int end_code; /* what the read that ended the list returned */
} frame_list;

static void list_free(frame_list *l)
{
    for (int i = 0; i < l->n; i++)
        vsr_frame_unref(&l->f[i]);
    free(l->f);
    memset(l, 0, sizeof(*l));
}

/* Decode everything (up to a safety cap) into l. */
static void read_all(vsr_input *in, frame_list *l)
{
    memset(l, 0, sizeof(*l));
    for (int guard = 0; guard < 10000; guard++) {
        vsr_frame *f = NULL;
        int err = vsr_input_read_frame(in, &f);
        if (err < 0) {
            l->end_code = err;
            CHECK(f == NULL);
            return;
        }
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 32;
            l->f = realloc(l->f, sizeof(*l->f) * (size_t)l->cap);
        }
        l->f[l->n++] = f;
    }
    l->end_code = VSR_EINVAL;
}

/* Byte equality of two decoded frames (every plane, visible samples). */
static int frames_equal(const vsr_frame *a, const vsr_frame *b)
{
    if (vsr_frame_width(a) != vsr_frame_width(b) || vsr_frame_height(a) != vsr_frame_height(b) ||
        vsr_frame_format(a) != vsr_frame_format(b) || strcmp(vsr_frame_format_name(a), vsr_frame_format_name(b)) ||
        vsr_frame_pts(a) != vsr_frame_pts(b))
        return 0;
    int bytes = vsr_frame_bit_depth(a) > 8 ? 2 : 1;
    if (vsr_frame_format(a) == VSR_PIXFMT_OTHER && vsr_frame_planes(a) == 1)
        bytes = 4; /* packed bgr0 */
    for (int p = 0; p < vsr_frame_planes(a); p++) {
        size_t row = (size_t)vsr_frame_plane_width(a, p) * bytes;
        for (int y = 0; y < vsr_frame_plane_height(a, p); y++)
            if (memcmp(vsr_frame_data(a, p) + y * vsr_frame_linesize(a, p),
                       vsr_frame_data(b, p) + y * vsr_frame_linesize(b, p), row))
                return 0;
    }
    return 1;
}

/* PSNR (dB, peak 1.0) of an RGBF32 frame against RGB24 source bytes; also
 * the largest absolute difference. */
static double psnr_rgbf(const vsr_frame *rgb, const uint8_t *src, double *maxabs)
{
    int w = vsr_frame_width(rgb), h = vsr_frame_height(rgb);
    double se = 0, mx = 0;
    for (int c = 0; c < 3; c++) {
        const uint8_t *plane = vsr_frame_data(rgb, c);
        ptrdiff_t ls = vsr_frame_linesize(rgb, c);
        for (int y = 0; y < h; y++) {
            const float *row = (const float *)(plane + y * ls);
            for (int x = 0; x < w; x++) {
                double d = row[x] - src[((size_t)y * w + x) * 3 + c] / 255.0;
                se += d * d;
                if (fabs(d) > mx)
                    mx = fabs(d);
            }
        }
    }
    if (maxabs)
        *maxabs = mx;
    double mse = se / (3.0 * w * h);
    return mse > 0 ? 10 * log10(1.0 / mse) : 200.0;
}

/* PSNR of the 8x8 block means: compression noise averages out, a colour
 * bias (a wrong matrix or range) stays. */
static double psnr_blocks(const vsr_frame *rgb, const uint8_t *src)
{
    int w = vsr_frame_width(rgb), h = vsr_frame_height(rgb);
    double se = 0;
    int n = 0;
    for (int c = 0; c < 3; c++) {
        const uint8_t *plane = vsr_frame_data(rgb, c);
        ptrdiff_t ls = vsr_frame_linesize(rgb, c);
        for (int by = 0; by + 8 <= h; by += 8)
            for (int bx = 0; bx + 8 <= w; bx += 8) {
                double d = 0;
                for (int y = by; y < by + 8; y++)
                    for (int x = bx; x < bx + 8; x++)
                        d += ((const float *)(plane + y * ls))[x] - src[((size_t)y * w + x) * 3 + c] / 255.0;
                d /= 64;
                se += d * d;
                n++;
            }
    }
    double mse = n ? se / n : 0;
    return mse > 0 ? 10 * log10(1.0 / mse) : 200.0;
}

/* PSNR of a decoded frame against its source after converting it to RGBF32
 * (optionally re-tagged with another matrix and/or range first: -1 keeps). */
static double frame_psnr2(vsr_frame *f, const uint8_t *src, int force_matrix, int force_range, double *maxabs,
                          double *blocks)
{
    vsr_frame *g = f;
    vsr_colour saved;
    vsr_frame_get_colour(f, &saved);
    if (force_matrix >= 0 || force_range >= 0) {
        vsr_colour c = saved;
        if (force_matrix >= 0)
            c.matrix = force_matrix;
        if (force_range >= 0)
            c.range = force_range;
        vsr_frame_set_colour(g, &c);
    }
    vsr_frame *rgb = NULL;
    int err = vsr_frame_convert(&rgb, g, VSR_PIXFMT_RGBF32, vsr_frame_width(f), vsr_frame_height(f));
    vsr_frame_set_colour(g, &saved);
    CHECK_MSG(err == 0, "convert: %s", vsr_last_error());
    if (err < 0)
        return 0;
    double p = psnr_rgbf(rgb, src, maxabs);
    if (blocks)
        *blocks = psnr_blocks(rgb, src);
    vsr_frame_unref(&rgb);
    return p;
}

static double frame_psnr(vsr_frame *f, const uint8_t *src, int force_matrix, int force_range, double *maxabs)
{
    return frame_psnr2(f, src, force_matrix, force_range, maxabs, NULL);
}

/* ------------------------------------------------------------------ */
/* Good clips                                                         */
/* ------------------------------------------------------------------ */

/* Lowest acceptable PSNR of any frame (dB), by clip. Measured on this data
 * (min over frames, FFmpeg 5.1): rgb_ffv1 exact (checked separately);
 * yuv444p lossless 52.7; yuv444p10 lossless 64.8; H.264 4:2:0 crf 16
 * 32.0-32.4; HEVC 10-bit 4:2:0 31.6-31.7 (the 4:2:0 chroma of these small,
 * detailed pictures dominates); VP9 32.5; AV1 crf 30 30.4; MJPEG 34.3;
 * ProRes HQ 4:2:2 35.5. Bounds are about 3 dB below. */
static double psnr_bound(const char *name)
{
    static const struct {
        const char *name;
        double db;
    } b[] = {
        {"yuv444_ffv1.mkv", 49},  {"odd_321x239.mkv", 49},  {"ffv1_10bit.mkv", 60},
        {"real_h264.mp4", 29},    {"real_bt601.mkv", 29},   {"vfr.mkv", 29},
        {"streams.mkv", 29},      {"single_frame.mp4", 29}, {"long_120.mkv", 29},
        {"vp9.webm", 29},         {"av1.mkv", 27},          {"full_range.mkv", 31},
        {"hevc10.mkv", 28.5},     {"hdr10.mkv", 28.5},      {"prores.mov", 32},
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        if (!strcmp(b[i].name, name))
            return b[i].db;
    CHECK_MSG(0, "no PSNR bound for %s", name);
    return 99;
}

static const char *container_of(const char *name)
{
    const char *ext = strrchr(name, '.');
    if (ext && (!strcmp(ext, ".mp4") || !strcmp(ext, ".mov")))
        return "mov,mp4,m4a,3gp,3g2,mj2";
    return "matroska,webm";
}

static void check_info(const char *name, const json_t *e, vsr_input *in)
{
    vsr_input_info info;
    memset(&info, 0xAB, sizeof(info));
    info.size = sizeof(info);
    CHECK_MSG(vsr_input_get_info(in, &info) == 0, "%s: %s", name, vsr_last_error());
    CHECK_EQ_INT(info.size, sizeof(info));
    CHECK_EQ_INT(info.width, eint(e, "width", -1));
    CHECK_EQ_INT(info.height, eint(e, "height", -1));
    vsr_rational tb = parse_q(estr(e, "time_base"));
    CHECK_MSG(info.time_base.num == tb.num && info.time_base.den == tb.den, "%s: time base %d/%d, manifest %s",
              name, info.time_base.num, info.time_base.den, estr(e, "time_base"));
    vsr_rational fr = parse_q(estr(e, "avg_frame_rate"));
    CHECK_MSG((int64_t)info.frame_rate.num * fr.den == (int64_t)fr.num * info.frame_rate.den && fr.num > 0,
              "%s: frame rate %d/%d, manifest %s", name, info.frame_rate.num, info.frame_rate.den,
              estr(e, "avg_frame_rate"));
    int64_t frames = eint(e, "frames", -1);
    if (!strcmp(container_of(name), "matroska,webm")) {
        /* Matroska stores no frame count: -1, or libvsr's estimate from
         * duration x rate (which includes the audio, and cannot know VFR) */
        CHECK_MSG(info.frames == -1 || llabs(info.frames - frames) <= (frames / 4 > 2 ? frames / 4 : 2),
                  "%s: info.frames %lld, manifest %lld", name, (long long)info.frames, (long long)frames);
    } else {
        CHECK_MSG(info.frames == frames, "%s: info.frames %lld, manifest %lld", name, (long long)info.frames,
                  (long long)frames);
    }
    /* duration: the end of the last video frame, or of the audio if later */
    int npts = 0;
    int64_t *pts = epts(e, "pts", &npts);
    double video_end = npts > 1 ? (2 * pts[npts - 1] - pts[npts - 2]) * (double)tb.num / tb.den
                                : (npts ? pts[0] * (double)tb.num / tb.den : 0) + 1 / 24.0;
    free(pts);
    double audio_end = tj_num(json_object_get(e, "audio_end"), 0);
    double want_dur = audio_end > video_end ? audio_end : video_end;
    CHECK_MSG(fabs(info.duration_s - want_dur) < 0.06, "%s: duration %.3f s, expected %.3f s", name,
              info.duration_s, want_dur);
    const char *pix = estr(e, "pix_fmt");
    CHECK_MSG(!strcmp(info.format_name, pix), "%s: format %s, manifest %s", name, info.format_name, pix);
    CHECK_MSG(info.format == pixfmt_of(pix), "%s: format enum %d for %s", name, (int)info.format, pix);
    CHECK_MSG(info.bit_depth == (strstr(pix, "10") ? 10 : 8), "%s: bit depth %d", name, info.bit_depth);
    CHECK_MSG(!strcmp(info.codec, estr(e, "codec")), "%s: codec %s, manifest %s", name, info.codec,
              estr(e, "codec"));
    CHECK_MSG(!strcmp(info.container, container_of(name)), "%s: container %s", name, info.container);
    CHECK_MSG(info.colour.matrix == matrix_code(estr(e, "color_space")), "%s: matrix %d, manifest %s", name,
              info.colour.matrix, estr(e, "color_space"));
    CHECK_MSG(info.colour.range == range_code(estr(e, "color_range")), "%s: range %d, manifest %s", name,
              info.colour.range, estr(e, "color_range"));
    CHECK_MSG(info.colour.primaries == primaries_code(estr(e, "color_primaries")), "%s: primaries %d, manifest %s",
              name, info.colour.primaries, estr(e, "color_primaries"));
    CHECK_MSG(info.colour.transfer == transfer_code(estr(e, "color_transfer")), "%s: transfer %d, manifest %s",
              name, info.colour.transfer, estr(e, "color_transfer"));
    CHECK_EQ_INT(info.has_audio, ebool(e, "has_audio"));
    int streams = 1 + ebool(e, "has_audio") + ebool(e, "has_subtitles") + (int)eint(e, "n_attachments", 0);
    CHECK_MSG(info.n_streams == streams, "%s: %d streams, expected %d", name, info.n_streams, streams);
    CHECK_EQ_INT(info.stream_index, 0);
}

typedef struct clip_result {
    double min_psnr, mean_psnr;
} clip_result;

static void test_good_clip(const json_t *e)
{
    const char *name = estr(e, "name");
    const char *path = estr(e, "path");
    vsr_input *in = NULL;
    int err = vsr_input_open(&in, path, NULL);
    CHECK_MSG(err == 0 && in, "%s: open: %s", name, vsr_last_error());
    if (!in)
        return;
    check_info(name, e, in);

    frame_list l;
    read_all(in, &l);
    CHECK_MSG(l.end_code == VSR_EOF, "%s: ended with %s", name, vsr_strerror(l.end_code));
    /* after the end, still the end */
    vsr_frame *extra = NULL;
    CHECK(vsr_input_read_frame(in, &extra) == VSR_EOF && !extra);
    CHECK_MSG(vsr_input_damaged(in, NULL) == 0, "%s: damage reported on a good clip", name);

    int npts = 0;
    int64_t *pts = epts(e, "pts", &npts);
    CHECK_MSG(l.n == npts && l.n == eint(e, "frames", -1), "%s: %d frames decoded, manifest %d", name, l.n, npts);
    int pts_ok = 1;
    vsr_rational tb = parse_q(estr(e, "time_base"));
    for (int i = 0; i < l.n && i < npts; i++) {
        if (vsr_frame_pts(l.f[i]) != pts[i]) {
            if (pts_ok)
                fprintf(stderr, "%s: frame %d pts %lld, manifest %lld\n", name, i,
                        (long long)vsr_frame_pts(l.f[i]), (long long)pts[i]);
            pts_ok = 0;
        }
        vsr_rational ftb = vsr_frame_time_base(l.f[i]);
        if (ftb.num != tb.num || ftb.den != tb.den)
            pts_ok = 0;
    }
    CHECK_MSG(pts_ok, "%s: pts or time bases differ from the manifest", name);

    /* every frame: size, format and colour tags of the stream */
    int w = (int)eint(e, "width", 0), h = (int)eint(e, "height", 0);
    int props_ok = 1;
    for (int i = 0; i < l.n; i++) {
        vsr_colour c;
        vsr_frame_get_colour(l.f[i], &c);
        if (vsr_frame_width(l.f[i]) != w || vsr_frame_height(l.f[i]) != h ||
            strcmp(vsr_frame_format_name(l.f[i]), estr(e, "pix_fmt")) ||
            c.matrix != matrix_code(estr(e, "color_space")) || c.range != range_code(estr(e, "color_range"))) {
            if (props_ok)
                fprintf(stderr, "%s: frame %d is %dx%d %s matrix %d range %d\n", name, i, vsr_frame_width(l.f[i]),
                        vsr_frame_height(l.f[i]), vsr_frame_format_name(l.f[i]), c.matrix, c.range);
            props_ok = 0;
        }
    }
    CHECK_MSG(props_ok, "%s: frame properties differ from the stream's", name);

    /* colours against the source */
    const char *rgbpath = estr(e, "source_rgb");
    size_t rgblen = 0;
    uint8_t *rgb = rgbpath ? read_whole(rgbpath, &rgblen) : NULL;
    size_t fbytes = (size_t)w * h * 3;
    CHECK_MSG(rgb && rgblen == fbytes * (size_t)l.n, "%s: source %s has %zu bytes for %d frames", name,
              rgbpath ? rgbpath : "(none)", rgblen, l.n);
    if (rgb && rgblen == fbytes * (size_t)l.n) {
        double minp = 1e9, sum = 0, worst_abs = 0;
        for (int i = 0; i < l.n; i++) {
            double mx = 0;
            double p = frame_psnr(l.f[i], rgb + fbytes * i, -1, -1, &mx);
            sum += p;
            if (p < minp)
                minp = p;
            if (mx > worst_abs)
                worst_abs = mx;
        }
        int exact = !strcmp(name, "rgb_ffv1.mkv");
        double bound = exact ? 0 : psnr_bound(name);
        fprintf(stderr, "  %-18s %-6s %-12s %3d frames  PSNR min %6.2f mean %6.2f dB (bound %.0f), max abs %.4f\n",
                name, estr(e, "codec"), estr(e, "pix_fmt"), l.n, minp, sum / l.n, bound, worst_abs);
        if (exact)
            /* RGB stored losslessly: v/255 exactly (float rounding only) */
            CHECK_MSG(worst_abs < 1e-6, "%s: not exact, max abs difference %g", name, worst_abs);
        else
            CHECK_MSG(minp >= bound, "%s: PSNR %.2f dB below the bound %.0f dB", name, minp, bound);
    }

    /* the same bytes from memory give the same frames */
    size_t len = 0;
    uint8_t *bytes = read_whole(path, &len);
    vsr_input *mem = NULL;
    err = bytes ? vsr_input_open_buffer(&mem, bytes, len, NULL) : VSR_EINVAL;
    CHECK_MSG(err == 0 && mem, "%s: open_buffer: %s", name, vsr_last_error());
    if (mem) {
        vsr_input_info a = {.size = sizeof(a)}, b = {.size = sizeof(b)};
        vsr_input_get_info(in, &a);
        vsr_input_get_info(mem, &b);
        CHECK_MSG(a.width == b.width && a.height == b.height && !strcmp(a.codec, b.codec) &&
                      !strcmp(a.container, b.container) && a.time_base.den == b.time_base.den &&
                      a.n_streams == b.n_streams && a.colour.matrix == b.colour.matrix,
                  "%s: memory input info differs", name);
        frame_list m;
        read_all(mem, &m);
        int same = m.n == l.n && m.end_code == VSR_EOF;
        for (int i = 0; same && i < m.n; i++)
            same = frames_equal(l.f[i], m.f[i]);
        CHECK_MSG(same, "%s: memory input gave %d frames, not identical to the file's %d", name, m.n, l.n);
        list_free(&m);
        vsr_input_close(&mem);
        CHECK(mem == NULL);
    }
    free(bytes);
    free(rgb);
    free(pts);
    list_free(&l);
    vsr_input_close(&in);
    CHECK(in == NULL);
}

/* Decoding a clip with its frames re-tagged (wrong matrix or range) must
 * lose several dB: the right tags are what makes the colours right. The
 * 4:2:0 compression error caps the full-resolution PSNR at ~34 dB, which
 * hides part of a matrix error, so the bound is on the PSNR of 8x8 block
 * means (low-frequency colour, where a wrong matrix shows as a bias and
 * compression noise averages out); the full-resolution loss must still be
 * clearly positive. */
static void test_tags_honoured(void)
{
    static const struct {
        const char *clip;
        int matrix, range; /* forced instead of the clip's own; -1 keeps */
        const char *what;
    } cases[] = {
        {"real_bt601.mkv", 1, -1, "BT.601 clip read as BT.709"},
        {"full_range.mkv", 1, -1, "MJPEG (BT.601) read as BT.709"},
        {"real_h264.mp4", 6, -1, "BT.709 clip read as BT.601"},
        {"real_h264.mp4", -1, 2, "limited-range clip read as full range"},
        {"hdr10.mkv", 1, -1, "BT.2020 clip read as BT.709"},
        {"yuv444_ffv1.mkv", 6, -1, "lossless BT.709 clip read as BT.601"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const json_t *e = entry(cases[k].clip);
        vsr_input *in = NULL;
        if (vsr_input_open(&in, estr(e, "path"), NULL) < 0) {
            CHECK_MSG(0, "%s: %s", cases[k].clip, vsr_last_error());
            continue;
        }
        int w = (int)eint(e, "width", 0), h = (int)eint(e, "height", 0);
        size_t len = 0;
        uint8_t *rgb = read_whole(estr(e, "source_rgb"), &len);
        double right = 0, wrong = 0, rightb = 0, wrongb = 0;
        int n = 0;
        vsr_frame *f = NULL;
        while (rgb && (size_t)(n + 1) * w * h * 3 <= len && vsr_input_read_frame(in, &f) == 0) {
            const uint8_t *src = rgb + (size_t)n * w * h * 3;
            double b1 = 0, b2 = 0;
            right += frame_psnr2(f, src, -1, -1, NULL, &b1);
            wrong += frame_psnr2(f, src, cases[k].matrix, cases[k].range, NULL, &b2);
            rightb += b1;
            wrongb += b2;
            n++;
            vsr_frame_unref(&f);
        }
        CHECK_MSG(n > 0, "%s: no frames", cases[k].clip);
        if (n > 0) {
            right /= n, wrong /= n, rightb /= n, wrongb /= n;
            fprintf(stderr, "  %-16s %-40s PSNR %.2f -> %.2f dB (-%.2f); 8x8 means %.2f -> %.2f dB (-%.2f)\n",
                    cases[k].clip, cases[k].what, right, wrong, right - wrong, rightb, wrongb, rightb - wrongb);
            CHECK_MSG(rightb - wrongb >= 5.0, "%s: %s loses only %.2f dB (block means): tags may be ignored",
                      cases[k].clip, cases[k].what, rightb - wrongb);
            CHECK_MSG(right - wrong >= 0.5, "%s: %s loses only %.2f dB: tags may be ignored", cases[k].clip,
                      cases[k].what, right - wrong);
        }
        free(rgb);
        vsr_input_close(&in);
    }
}

/* The full-range MJPEG clip decodes as yuvj420p, whose format itself says
 * "full range". To show that its range is what makes the colours right,
 * wrap the very same planes as plain yuv420p (no range in the format) and
 * tag them: full range reproduces the yuvj result exactly, limited range
 * loses several dB. */
static void test_full_range_honoured(void)
{
    const json_t *e = entry("full_range.mkv");
    vsr_input *in = NULL;
    if (vsr_input_open(&in, estr(e, "path"), NULL) < 0) {
        CHECK_MSG(0, "full_range.mkv: %s", vsr_last_error());
        return;
    }
    int w = (int)eint(e, "width", 0), h = (int)eint(e, "height", 0);
    size_t len = 0;
    uint8_t *rgb = read_whole(estr(e, "source_rgb"), &len);
    double as_j = 0, as_full = 0, as_tv = 0, bj = 0, bfull = 0, btv = 0, maxdiff = 0;
    int n = 0;
    vsr_frame *f = NULL;
    while (rgb && (size_t)(n + 1) * w * h * 3 <= len && vsr_input_read_frame(in, &f) == 0) {
        const uint8_t *src = rgb + (size_t)n * w * h * 3;
        CHECK_EQ_INT(vsr_frame_format(f), VSR_PIXFMT_YUVJ420P);
        vsr_colour c;
        vsr_frame_get_colour(f, &c);
        CHECK_EQ_INT(c.range, 2);
        uint8_t *data[4] = {vsr_frame_data(f, 0), vsr_frame_data(f, 1), vsr_frame_data(f, 2), NULL};
        ptrdiff_t ls[4] = {vsr_frame_linesize(f, 0), vsr_frame_linesize(f, 1), vsr_frame_linesize(f, 2), 0};
        vsr_frame *plain = NULL;
        int err = vsr_frame_wrap(&plain, VSR_PIXFMT_YUV420P, w, h, data, ls, NULL, NULL);
        CHECK_MSG(err == 0, "wrap: %s", vsr_last_error());
        if (plain) {
            double b = 0;
            as_j += frame_psnr2(f, src, -1, -1, NULL, &b);
            bj += b;
            vsr_colour full = c;
            full.range = 2;
            vsr_frame_set_colour(plain, &full);
            as_full += frame_psnr2(plain, src, -1, -1, NULL, &b);
            bfull += b;
            as_tv += frame_psnr2(plain, src, -1, 1, NULL, &b);
            btv += b;
            /* yuvj420p and yuv420p tagged full range convert identically */
            vsr_frame *x = NULL, *y = NULL;
            vsr_frame_convert(&x, f, VSR_PIXFMT_RGBF32, w, h);
            vsr_frame_convert(&y, plain, VSR_PIXFMT_RGBF32, w, h);
            for (int p = 0; x && y && p < 3; p++)
                for (int i = 0; i < w * h; i++) {
                    double d = fabs(((float *)vsr_frame_data(x, p))[i] - ((float *)vsr_frame_data(y, p))[i]);
                    if (d > maxdiff)
                        maxdiff = d;
                }
            CHECK(x && y);
            vsr_frame_unref(&x);
            vsr_frame_unref(&y);
        }
        vsr_frame_unref(&plain);
        vsr_frame_unref(&f);
        n++;
    }
    CHECK(n == 24);
    if (n) {
        as_j /= n, as_full /= n, as_tv /= n, bj /= n, bfull /= n, btv /= n;
        fprintf(stderr, "  full_range.mkv   yuvj420p %.2f dB; as yuv420p tagged full %.2f dB, tagged limited %.2f dB "
                        "(-%.2f; 8x8 means %.2f -> %.2f)\n",
                as_j, as_full, as_tv, as_full - as_tv, bfull, btv);
        CHECK_MSG(maxdiff < 1e-6, "yuvj420p and yuv420p+full range differ by %g", maxdiff);
        CHECK_MSG(as_full - as_tv >= 3.0, "full range vs limited: only %.2f dB apart", as_full - as_tv);
        CHECK_MSG(bfull - btv >= 5.0, "full range vs limited (block means): only %.2f dB apart", bfull - btv);
    }
    free(rgb);
    vsr_input_close(&in);
}

/* ------------------------------------------------------------------ */
/* Bad and damaged inputs                                             */
/* ------------------------------------------------------------------ */

static void test_bad_inputs(void)
{
    const char *names[] = {"missing.mp4", "text.mp4", "zero_length.mp4", "truncated_moov.mp4"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *path = test_data(names[i]);
        vsr_input *in = (vsr_input *)(uintptr_t)1;
        int err = vsr_input_open(&in, path, NULL);
        const char *msg = vsr_last_error();
        fprintf(stderr, "  %-20s -> %s: %s\n", names[i], vsr_strerror(err), msg);
        CHECK_MSG(err == VSR_ERROR_INPUT, "%s: got %s", names[i], vsr_strerror(err));
        CHECK(in == NULL);
        CHECK_MSG(strstr(msg, names[i]) != NULL, "%s: message does not name the file: %s", names[i], msg);
        if (!strcmp(names[i], "missing.mp4"))
            CHECK_MSG(strstr(msg, "no such file") || strstr(msg, "No such file"), "message: %s", msg);
        if (!strcmp(names[i], "truncated_moov.mp4") || !strcmp(names[i], "text.mp4"))
            CHECK_MSG(strstr(msg, "FFmpeg") || strstr(msg, "nvalid"), "message: %s", msg);
        /* the same bytes from memory fail the same way */
        size_t len = 0;
        uint8_t *b = read_whole(path, &len);
        if (b || !strcmp(names[i], "zero_length.mp4")) {
            static const uint8_t empty[1];
            vsr_input *m = NULL;
            err = vsr_input_open_buffer(&m, b ? b : empty, len, NULL);
            CHECK_MSG(err == VSR_ERROR_INPUT && !m, "%s from memory: got %s", names[i], vsr_strerror(err));
            CHECK_MSG(strstr(vsr_last_error(), "memory") != NULL, "message: %s", vsr_last_error());
        }
        free(b);
    }
    /* no path, NULL settings parts */
    vsr_input *in = NULL;
    CHECK(vsr_input_open(&in, "", NULL) == VSR_EINVAL && !in);
    CHECK(vsr_input_open_buffer(&in, NULL, 10, NULL) == VSR_EINVAL && !in);
    /* a stream index that is not video */
    vsr_input_settings s;
    vsr_input_settings_default(&s);
    s.stream_index = 1; /* streams.mkv: 1 is the audio */
    int err = vsr_input_open(&in, test_data("streams.mkv"), &s);
    CHECK_MSG(err == VSR_ERROR_INPUT && !in && strstr(vsr_last_error(), "stream 1"), "got %s: %s",
              vsr_strerror(err), vsr_last_error());
    vsr_input_close(&in);
}

static int64_t proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    int64_t v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtoll(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static int reset_hwm(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return 0;
    int ok = fputs("5", f) >= 0;
    ok &= fclose(f) == 0;
    return ok;
}

static void test_huge_dims_and_limits(void)
{
    const char *path = test_data("huge_dims.y4m");
    int hwm_ok = reset_hwm();
    int64_t rss0 = proc_status_kb("VmRSS"), peak0 = proc_status_kb("VmPeak");
    vsr_input *in = NULL;
    int err = vsr_input_open(&in, path, NULL);
    int64_t hwm1 = proc_status_kb("VmHWM"), rss1 = proc_status_kb("VmRSS"), peak1 = proc_status_kb("VmPeak");
    fprintf(stderr, "  huge_dims.y4m -> %s: %s\n  VmRSS %+lld kB, VmHWM %+lld kB (reset %s), VmPeak %+lld kB\n",
            vsr_strerror(err), vsr_last_error(), (long long)(rss1 - rss0), (long long)(hwm1 - rss0),
            hwm_ok ? "ok" : "unavailable", (long long)(peak1 - peak0));
    CHECK_MSG(err == VSR_ERROR_LIMIT, "huge_dims.y4m: got %s", vsr_strerror(err));
    CHECK(in == NULL);
    CHECK_MSG(strstr(vsr_last_error(), "65535x65535") && strstr(vsr_last_error(), "huge_dims.y4m"),
              "message: %s", vsr_last_error());
    /* one 65535x65535 4:2:0 picture is 6 GB: nothing near it was touched
     * (RSS and its high-water mark) or even reserved (virtual peak) */
    CHECK_MSG(rss1 - rss0 < 32 * 1024, "VmRSS grew by %lld kB", (long long)(rss1 - rss0));
    if (hwm_ok)
        CHECK_MSG(hwm1 - rss0 < 64 * 1024, "VmHWM grew by %lld kB", (long long)(hwm1 - rss0));
    CHECK_MSG(peak1 - peak0 < 1024 * 1024, "VmPeak grew by %lld kB", (long long)(peak1 - peak0));
    vsr_input_close(&in);

    /* the same from memory */
    size_t len = 0;
    uint8_t *b = read_whole(path, &len);
    err = b ? vsr_input_open_buffer(&in, b, len, NULL) : VSR_EINVAL;
    CHECK_MSG(err == VSR_ERROR_LIMIT && !in, "huge_dims.y4m from memory: got %s", vsr_strerror(err));
    free(b);

    /* the limits are settings: just below a 128x72 clip refuses it, just at it accepts */
    const char *clip = test_data("real_h264.mp4");
    struct {
        int mw, mh;
        int64_t mp;
        int want;
    } cases[] = {
        {127, 16384, 1 << 26, VSR_ERROR_LIMIT}, {16384, 71, 1 << 26, VSR_ERROR_LIMIT},
        {16384, 16384, 128 * 72 - 1, VSR_ERROR_LIMIT}, {128, 72, 128 * 72, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vsr_input_settings s;
        vsr_input_settings_default(&s);
        s.max_width = cases[i].mw;
        s.max_height = cases[i].mh;
        s.max_pixels = cases[i].mp;
        err = vsr_input_open(&in, clip, &s);
        CHECK_MSG(err == cases[i].want, "limits %dx%d/%lld: got %s (%s)", cases[i].mw, cases[i].mh,
                  (long long)cases[i].mp, vsr_strerror(err), vsr_last_error());
        if (err == VSR_ERROR_LIMIT)
            CHECK_MSG(strstr(vsr_last_error(), "128x72"), "message: %s", vsr_last_error());
        if (in) {
            frame_list l;
            read_all(in, &l);
            CHECK_EQ_INT(l.n, 24);
            list_free(&l);
        }
        vsr_input_close(&in);
    }
    /* nonsense limits are refused */
    vsr_input_settings s;
    vsr_input_settings_default(&s);
    s.max_pixels = 0;
    CHECK(vsr_input_open(&in, clip, &s) == VSR_EINVAL && !in);
    vsr_input_settings_default(&s);
    s.max_frames = -1;
    CHECK(vsr_input_open(&in, clip, &s) == VSR_EINVAL && !in);
}

static void test_damaged(const char *name)
{
    const json_t *e = entry(name);
    vsr_input *in = NULL;
    int err = vsr_input_open(&in, estr(e, "path"), NULL);
    CHECK_MSG(err == 0, "%s: %s", name, vsr_last_error());
    if (!in)
        return;
    frame_list l;
    read_all(in, &l);
    CHECK_MSG(l.end_code == VSR_EOF, "%s: ended with %s", name, vsr_strerror(l.end_code));
    int64_t want = eint(e, "ffmpeg_decoded_frames", -1);
    int npts = 0;
    int64_t *pts = epts(e, "decoded_pts", &npts);
    CHECK_MSG(l.n == want, "%s: %d frames decoded, ffmpeg decodes %lld", name, l.n, (long long)want);
    int same = l.n == npts;
    for (int i = 0; same && i < l.n; i++)
        same = vsr_frame_pts(l.f[i]) == pts[i];
    CHECK_MSG(same, "%s: pts differ from ffmpeg's", name);
    const char *msg = NULL;
    int d = vsr_input_damaged(in, &msg);
    if (!strcmp(name, "corrupt.mkv")) {
        /* Damage must be seen every time, whatever the decoder threads do:
         * decode it again several times with the default (FFmpeg's choice,
         * frame threads) and with one thread. */
        int runs = 0, seen = 0, seen1 = 0;
        for (int k = 0; k < 8; k++) {
            vsr_input_settings s;
            vsr_input_settings_default(&s);
            s.threads = k % 2 ? 1 : 0;
            vsr_input *in1 = NULL;
            if (vsr_input_open(&in1, estr(e, "path"), &s) == 0) {
                frame_list l1;
                read_all(in1, &l1);
                const char *m1 = NULL;
                int d1 = vsr_input_damaged(in1, &m1);
                int ok = l1.n == want && d1 > 0 && m1 && strstr(m1, name);
                runs++;
                if (k % 2)
                    seen1 += ok;
                else
                    seen += ok;
                list_free(&l1);
            }
            vsr_input_close(&in1);
        }
        fprintf(stderr, "  %-14s damage reported in %d of 4 more runs with default threads, %d of 4 with threads=1\n",
                name, seen, seen1);
        CHECK_MSG(runs == 8 && seen == 4 && seen1 == 4,
                  "%s: damage reported in only %d/4 runs (default threads) and %d/4 (threads=1)", name, seen, seen1);
    }
    fprintf(stderr, "  %-14s %d frames (ffmpeg %lld), damage %d: %s\n", name, l.n, (long long)want, d,
            msg ? msg : "(none)");
    CHECK_MSG(d > 0, "%s: no damage reported", name);
    CHECK_MSG(msg && strstr(msg, name), "%s: damage message %s", name, msg ? msg : "(null)");
    free(pts);
    list_free(&l);
    vsr_input_close(&in);
}

/* What get_info derives from a header must be usable numbers, whatever
 * the header says: finite, in range, or the "unknown" value. */
static void check_sane_info(const char *name, vsr_input *in)
{
    vsr_input_info info = {.size = sizeof(info)};
    CHECK_MSG(vsr_input_get_info(in, &info) == 0, "%s: %s", name, vsr_last_error());
    fprintf(stderr, "  %-34s duration %g s, frames %lld, rate %d/%d, time base %d/%d\n", name, info.duration_s,
            (long long)info.frames, info.frame_rate.num, info.frame_rate.den, info.time_base.num, info.time_base.den);
    CHECK_MSG(isfinite(info.duration_s) && (info.duration_s > 0 || info.duration_s == -1), "%s: duration %g", name,
              info.duration_s);
    CHECK_MSG(info.frames == -1 || info.frames >= 0, "%s: frames %lld", name, (long long)info.frames);
    CHECK_MSG((info.frame_rate.num > 0 && info.frame_rate.den > 0) ||
                  (info.frame_rate.num == 0 && info.frame_rate.den == 1),
              "%s: frame rate %d/%d", name, info.frame_rate.num, info.frame_rate.den);
}

/* The fuzz target's path (memory input, small limits, every frame to RGB)
 * and the file path, on each saved fuzz finding. */
static void test_fuzz_regressions(void)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/input", test_env("VSR_SOURCE_ROOT"));
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    if (!d)
        return;
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        files++;
        vsr_input_settings s;
        vsr_input_settings_default(&s);
        s.max_width = s.max_height = 512;
        s.max_pixels = 512 * 512;
        s.threads = 1; /* no max_frames: it would stand in for an unknown frame count */
        for (int from_memory = 0; from_memory < 2; from_memory++) {
            size_t len = 0;
            uint8_t *bytes = from_memory ? read_whole(path, &len) : NULL;
            vsr_input *in = NULL;
            int err = from_memory ? vsr_input_open_buffer(&in, bytes, len, &s) : vsr_input_open(&in, path, &s);
            if (err == 0) {
                check_sane_info(de->d_name, in);
                frame_list l;
                read_all(in, &l);
                for (int i = 0; i < l.n; i++) {
                    vsr_frame *rgb = NULL;
                    if (vsr_frame_convert(&rgb, l.f[i], VSR_PIXFMT_RGBF32, vsr_frame_width(l.f[i]),
                                          vsr_frame_height(l.f[i])) == 0)
                        CHECK(vsr_frame_data(rgb, 0) != NULL);
                    vsr_frame_unref(&rgb);
                }
                CHECK_MSG(l.end_code == VSR_EOF, "%s: decoding ended with %s", de->d_name, vsr_strerror(l.end_code));
                list_free(&l);
            } else {
                /* a refusal is fine if it says which input */
                CHECK_MSG(strstr(vsr_last_error(), from_memory ? "memory" : de->d_name) != NULL, "%s: %s",
                          de->d_name, vsr_last_error());
            }
            vsr_input_close(&in);
            free(bytes);
        }
    }
    closedir(d);
    CHECK_MSG(files > 0, "no regression inputs in %s", dir);
}

/* An intact file whose header declares more than its packets cover (an
 * AVI whose capture dropped its last frames) decodes completely and is not
 * damaged: only read and decode errors are. */
static void test_short_but_intact(const char *name)
{
    const json_t *e = entry(name);
    vsr_input *in = NULL;
    CHECK_MSG(vsr_input_open(&in, estr(e, "path"), NULL) == 0, "%s: %s", name, vsr_last_error());
    if (!in)
        return;
    vsr_input_info info = {.size = sizeof(info)};
    vsr_input_get_info(in, &info);
    frame_list l;
    read_all(in, &l);
    int npts = 0;
    int64_t *pts = epts(e, "pts", &npts);
    const char *msg = NULL;
    int damage = vsr_input_damaged(in, &msg);
    fprintf(stderr, "  %-18s header %.3f s, %d frames decoded (manifest %d), damage %d%s%s\n", name, info.duration_s,
            l.n, npts, damage, msg ? ": " : "", msg ? msg : "");
    CHECK_MSG(info.duration_s > (npts + 1) / 24.0, "%s: the header does not overstate the duration (%.3f s)", name,
              info.duration_s);
    CHECK_MSG(l.end_code == VSR_EOF && l.n == npts, "%s: %d frames, manifest %d", name, l.n, npts);
    int same = l.n == npts;
    for (int i = 0; same && i < l.n; i++)
        same = vsr_frame_pts(l.f[i]) == pts[i];
    CHECK_MSG(same, "%s: pts differ from the manifest", name);
    CHECK_MSG(damage == 0, "%s: reported damaged: %s", name, msg ? msg : "");
    free(pts);
    list_free(&l);
    vsr_input_close(&in);
}

/* A decoder may refuse a packet with EAGAIN until its frames are taken.
 * This sender refuses every third packet the first time it is offered
 * (the offer after is accepted): every frame must still come out. */
static int sends, refusals;

static int refusing_sender(AVCodecContext *dec, const AVPacket *pkt)
{
    if (pkt && sends++ % 3 == 0) {
        refusals++;
        return AVERROR(EAGAIN);
    }
    return avcodec_send_packet(dec, pkt);
}

static void test_refused_packets_are_sent_again(void)
{
    const char *name = "yuv444_ffv1.mkv"; /* intra-only: a lost packet is a lost frame */
    const json_t *e = entry(name);
    vsr_input *in = NULL;
    CHECK_MSG(vsr_input_open(&in, estr(e, "path"), NULL) == 0, "%s: %s", name, vsr_last_error());
    if (!in)
        return;
    sends = refusals = 0;
    vsri_input_set_packet_sender(in, refusing_sender);
    frame_list l;
    read_all(in, &l);
    int npts = 0;
    int64_t *pts = epts(e, "pts", &npts);
    int same = l.n == npts;
    for (int i = 0; same && i < l.n; i++)
        same = vsr_frame_pts(l.f[i]) == pts[i];
    fprintf(stderr, "  %-18s %d packets refused once: %d frames decoded (manifest %d)\n", name, refusals, l.n, npts);
    CHECK(refusals >= 5);
    CHECK_MSG(l.end_code == VSR_EOF && same, "%s: %d frames or their pts differ from the manifest's %d", name, l.n,
              npts);
    CHECK_MSG(vsr_input_damaged(in, NULL) == 0, "%s: refused packets were reported as damage", name);
    free(pts);
    list_free(&l);
    vsr_input_close(&in);
}

static void test_max_frames(void)
{
    const json_t *e = entry("long_120.mkv");
    int npts = 0;
    int64_t *pts = epts(e, "pts", &npts);
    int64_t limits[] = {1, 7, 119, 120, 500};
    for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
        vsr_input_settings s;
        vsr_input_settings_default(&s);
        s.max_frames = limits[k];
        vsr_input *in = NULL;
        CHECK_MSG(vsr_input_open(&in, estr(e, "path"), &s) == 0, "%s", vsr_last_error());
        if (!in)
            continue;
        int64_t want = limits[k] < npts ? limits[k] : npts;
        vsr_input_info info = {.size = sizeof(info)};
        vsr_input_get_info(in, &info);
        CHECK_MSG(info.frames == want, "max_frames %lld: info.frames %lld", (long long)limits[k],
                  (long long)info.frames);
        frame_list l;
        read_all(in, &l);
        CHECK_MSG(l.n == want && l.end_code == VSR_EOF, "max_frames %lld: %d frames", (long long)limits[k], l.n);
        int same = 1;
        for (int i = 0; i < l.n && i < npts; i++)
            same &= vsr_frame_pts(l.f[i]) == pts[i];
        CHECK(same);
        list_free(&l);
        vsr_input_close(&in);
    }
    free(pts);
}

static void test_odd_size(void)
{
    const json_t *e = entry("odd_321x239.mkv");
    vsr_input *in = NULL;
    CHECK_MSG(vsr_input_open(&in, estr(e, "path"), NULL) == 0, "%s", vsr_last_error());
    if (!in)
        return;
    vsr_frame *f = NULL;
    CHECK(vsr_input_read_frame(in, &f) == 0);
    if (f) {
        CHECK_EQ_INT(vsr_frame_width(f), 321);
        CHECK_EQ_INT(vsr_frame_height(f), 239);
        for (int p = 0; p < 3; p++) {
            CHECK_EQ_INT(vsr_frame_plane_width(f, p), 321);
            CHECK_EQ_INT(vsr_frame_plane_height(f, p), 239);
        }
        /* to RGB24 and to a 4:2:0 format (odd chroma sizes round up) */
        vsr_frame *rgb = NULL, *yuv = NULL;
        CHECK_MSG(vsr_frame_convert(&rgb, f, VSR_PIXFMT_RGB24, 321, 239) == 0, "%s", vsr_last_error());
        CHECK_MSG(vsr_frame_convert(&yuv, f, VSR_PIXFMT_YUV420P, 321, 239) == 0, "%s", vsr_last_error());
        if (yuv) {
            CHECK_EQ_INT(vsr_frame_plane_width(yuv, 1), 161);
            CHECK_EQ_INT(vsr_frame_plane_height(yuv, 1), 120);
        }
        if (rgb) {
            size_t len = 0;
            uint8_t *src = read_whole(estr(e, "source_rgb"), &len);
            int maxd = 0;
            for (int y = 0; src && y < 239; y++)
                for (int x = 0; x < 321 * 3; x++) {
                    int d = abs(vsr_frame_data(rgb, 0)[y * vsr_frame_linesize(rgb, 0) + x] - src[y * 321 * 3 + x]);
                    if (d > maxd)
                        maxd = d;
                }
            /* lossless 4:4:4 8-bit: only the YUV quantisation remains */
            CHECK_MSG(src && maxd <= 3, "odd size RGB24 differs from the source by up to %d", maxd);
            free(src);
        }
        vsr_frame_unref(&rgb);
        vsr_frame_unref(&yuv);
    }
    vsr_frame_unref(&f);
    vsr_input_close(&in);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_ERROR);
    load_manifest();
    /* first, while the process is small: the RSS measurements are cleanest */
    test_huge_dims_and_limits();

    const json_t *files = json_object_get(manifest, "files");
    int good = 0;
    for (int i = 0; i < tj_count(files); i++) {
        const json_t *e = tj_at(files, i);
        if (!strcmp(tj_str(json_object_get(e, "kind"), ""), "good")) {
            test_good_clip(e);
            good++;
        }
    }
    CHECK_MSG(good >= 15, "only %d good clips in the manifest", good);
    test_tags_honoured();
    test_full_range_honoured();
    test_bad_inputs();
    test_damaged("truncated.mkv");
    test_damaged("truncated.avi");
    test_damaged("corrupt.mkv");
    test_short_but_intact("dropped_frames.avi");
    test_fuzz_regressions();
    test_refused_packets_are_sent_again();
    test_max_frames();
    test_odd_size();
    json_decref(manifest);
    return test_result("decode");
}
