/*
 * Pixel conversion (lib/convert.c): exactness against references computed
 * here in double precision from the published H.273 / BT.601 / BT.709 /
 * BT.2020 definitions, independently of the library's code:
 *   - codes are read and written with FFmpeg's av_read/write_image_line2;
 *   - the YUV -> RGB matrix is the numerical inverse of the forward
 *     matrix built from Kr, Kb;
 *   - chroma upsampling is a tent-kernel sum over replicated edges at the
 *     siting's sample positions; downsampling a weighted 2-D sum.
 * Then round trips (PSNR bounds on smooth synthetic content and, when the
 * test data has raw RGB24 frames, on a real one), a matrix mistake and a
 * range mistake being visible, out-of-range model output clamping, and a
 * rough agreement with swscale for every supported format (catches plane
 * and component mix-ups with a third implementation).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "convert.h"
#include "frame_internal.h"
#include "internal.h"
#include "testjson.h"
#include "testutil.h"

/* ------------------------------------------------------------------ */
/* Frames and codes                                                   */
/* ------------------------------------------------------------------ */

static AVFrame *new_frame(enum AVPixelFormat f, int w, int h, enum AVColorSpace m, enum AVColorRange r,
                          enum AVChromaLocation loc)
{
    AVFrame *fr = av_frame_alloc();
    if (!fr)
        abort();
    fr->format = f;
    fr->width = w;
    fr->height = h;
    fr->colorspace = m;
    fr->color_range = r;
    fr->chroma_location = loc;
    if (av_frame_get_buffer(fr, 0) < 0)
        abort();
    /* zeroed: av_write_image_line2 ORs the bits in */
    for (int p = 0; p < 4 && fr->buf[p]; p++)
        memset(fr->buf[p]->data, 0, fr->buf[p]->size);
    return fr;
}

static AVFrame *new_rgbf(int w, int h)
{
    return new_frame(AV_PIX_FMT_GBRPF32, w, h, AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED,
                     AVCHROMA_LOC_UNSPECIFIED);
}

static const AVPixFmtDescriptor *desc_of(const AVFrame *fr)
{
    return av_pix_fmt_desc_get((enum AVPixelFormat)fr->format);
}

/* Component c at (x, y) in that component's own sample grid. */
static int get_code(const AVFrame *fr, int c, int x, int y)
{
    uint32_t v = 0;
    av_read_image_line2(&v, (const uint8_t **)fr->data, fr->linesize, desc_of(fr), x, y, c, 1, 0, 4);
    return (int)v;
}

static void set_code(AVFrame *fr, int c, int x, int y, int v)
{
    uint32_t u = (uint32_t)v;
    av_write_image_line2(&u, fr->data, fr->linesize, desc_of(fr), x, y, c, 1, 4);
}

/* GBRPF32: c = 0 R, 1 G, 2 B. */
static float *fpix(const AVFrame *fr, int c, int x, int y)
{
    static const int plane[3] = {2, 0, 1};
    return (float *)(fr->data[plane[c]] + (ptrdiff_t)y * fr->linesize[plane[c]]) + x;
}

static int comp_w(const AVFrame *fr, int c)
{
    const AVPixFmtDescriptor *d = desc_of(fr);
    int chroma = !(d->flags & AV_PIX_FMT_FLAG_RGB) && (c == 1 || c == 2);
    return chroma ? -((-fr->width) >> d->log2_chroma_w) : fr->width;
}

static int comp_h(const AVFrame *fr, int c)
{
    const AVPixFmtDescriptor *d = desc_of(fr);
    int chroma = !(d->flags & AV_PIX_FMT_FLAG_RGB) && (c == 1 || c == 2);
    return chroma ? -((-fr->height) >> d->log2_chroma_h) : fr->height;
}

static int ncolour(const AVFrame *fr)
{
    const AVPixFmtDescriptor *d = desc_of(fr);
    return (d->flags & AV_PIX_FMT_FLAG_RGB) ? 3 : d->nb_components - !!(d->flags & AV_PIX_FMT_FLAG_ALPHA);
}

static int depth_of(const AVFrame *fr)
{
    return desc_of(fr)->comp[0].depth;
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void fill_random_codes(AVFrame *fr)
{
    int maxc = (1 << depth_of(fr)) - 1;
    for (int c = 0; c < ncolour(fr); c++)
        for (int y = 0; y < comp_h(fr, c); y++)
            for (int x = 0; x < comp_w(fr, c); x++)
                set_code(fr, c, x, y, (int)(rnd() % (uint32_t)(maxc + 1)));
}

/* A smooth, colourful picture in [0.03, 0.97]. */
static void synth_rgb(int w, int h, int x, int y, double rgb[3])
{
    double u = (double)x / w, v = (double)y / h;
    rgb[0] = 0.5 + 0.47 * sin(2 * M_PI * (1.5 * u + 0.5 * v));
    rgb[1] = 0.5 + 0.47 * sin(2 * M_PI * (0.7 * u - 1.1 * v) + 1.0);
    rgb[2] = 0.5 + 0.47 * cos(2 * M_PI * (2.0 * u * v + 0.3 * u));
}

static AVFrame *synth_frame(int w, int h)
{
    AVFrame *f = new_rgbf(w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double rgb[3];
            synth_rgb(w, h, x, y, rgb);
            for (int c = 0; c < 3; c++)
                *fpix(f, c, x, y) = (float)rgb[c];
        }
    return f;
}

static double psnr(const AVFrame *a, const AVFrame *b)
{
    double se = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < a->height; y++)
            for (int x = 0; x < a->width; x++) {
                double d = (double)*fpix(a, c, x, y) - *fpix(b, c, x, y);
                se += d * d;
            }
    double mse = se / (3.0 * a->width * a->height);
    return mse > 0 ? 10 * log10(1 / mse) : 200;
}

static double max_diff(const AVFrame *a, const AVFrame *b)
{
    double m = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < a->height; y++)
            for (int x = 0; x < a->width; x++) {
                double d = fabs((double)*fpix(a, c, x, y) - *fpix(b, c, x, y));
                m = d > m ? d : m;
            }
    return m;
}

static int convert(vsri_converter *cv, const AVFrame *src, AVFrame *dst)
{
    int err = vsri_convert_av(cv, src, dst);
    CHECK_MSG(err >= 0, "%s -> %s failed: %d", av_get_pix_fmt_name(src->format),
              av_get_pix_fmt_name(dst->format), err);
    return err;
}

/* ------------------------------------------------------------------ */
/* References                                                         */
/* ------------------------------------------------------------------ */

/* Kr, Kb from H.273 Table 4. */
static void ref_k(enum AVColorSpace m, double *kr, double *kb)
{
    switch (m) {
    case AVCOL_SPC_BT709: *kr = 0.2126; *kb = 0.0722; break;
    case AVCOL_SPC_BT2020_NCL: *kr = 0.2627; *kb = 0.0593; break;
    case AVCOL_SPC_SMPTE240M: *kr = 0.212; *kb = 0.087; break;
    case AVCOL_SPC_FCC: *kr = 0.30; *kb = 0.11; break;
    default: *kr = 0.299; *kb = 0.114; break;
    }
}

/* Forward matrix: [Y, Pb, Pr] = F [R, G, B] (H.273 equations 26-28). */
static void ref_forward(enum AVColorSpace m, double F[3][3])
{
    double kr, kb;
    ref_k(m, &kr, &kb);
    double kg = 1 - kr - kb;
    double row[3][3] = {{kr, kg, kb},
                        {-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5},
                        {0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))}};
    memcpy(F, row, sizeof(row));
}

/* Inverse by Gauss-Jordan elimination with partial pivoting. */
static void ref_inverse(double A[3][3], double inv[3][3])
{
    double m[3][6];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 6; j++)
            m[i][j] = j < 3 ? A[i][j] : (j - 3 == i);
    for (int col = 0; col < 3; col++) {
        int piv = col;
        for (int i = col + 1; i < 3; i++)
            if (fabs(m[i][col]) > fabs(m[piv][col]))
                piv = i;
        for (int j = 0; j < 6; j++) {
            double t = m[col][j];
            m[col][j] = m[piv][j];
            m[piv][j] = t;
        }
        double p = m[col][col];
        for (int j = 0; j < 6; j++)
            m[col][j] /= p;
        for (int i = 0; i < 3; i++)
            if (i != col) {
                double f = m[i][col];
                for (int j = 0; j < 6; j++)
                    m[i][j] -= f * m[col][j];
            }
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            inv[i][j] = m[i][j + 3];
}

/* Code = off + scale * E (H.273 equations 29-31 and the full-range ones). */
static void ref_range(int bits, int full, double *yo, double *ys, double *co, double *cs)
{
    if (full) {
        *yo = 0;
        *ys = pow(2, bits) - 1;
        *co = pow(2, bits - 1);
        *cs = pow(2, bits) - 1;
    } else {
        *yo = 16 * pow(2, bits - 8);
        *ys = 219 * pow(2, bits - 8);
        *co = 128 * pow(2, bits - 8);
        *cs = 224 * pow(2, bits - 8);
    }
}

/* Chroma sample position in its block (luma units), by H.273 Figure 2. */
static void ref_siting(enum AVChromaLocation loc, double *h, double *v)
{
    static const double pos[7][2] = {
        {0, 0.5},   /* unspecified: as left */
        {0, 0.5},   /* left */
        {0.5, 0.5}, /* center */
        {0, 0},     /* topleft */
        {0.5, 0},   /* top */
        {0, 1},     /* bottomleft */
        {0.5, 1},   /* bottom */
    };
    int i = loc >= 0 && loc < 7 ? (int)loc : 0;
    *h = pos[i][0];
    *v = pos[i][1];
}

static double tent(double t)
{
    t = fabs(t);
    return t < 1 ? 1 - t : 0;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Chroma component c of a YUV frame at luma position (x, y), linearly
 * interpolated (a tent kernel one chroma sample wide at the siting's
 * sample positions, edge samples replicated). In code units. */
static double ref_chroma(const AVFrame *fr, int c, int x, int y)
{
    const AVPixFmtDescriptor *d = desc_of(fr);
    int sx = 1 << d->log2_chroma_w, sy = 1 << d->log2_chroma_h;
    double ho, vo;
    ref_siting(fr->chroma_location, &ho, &vo);
    if (sx == 1)
        ho = 0;
    if (sy == 1)
        vo = 0;
    int cw = comp_w(fr, c), chh = comp_h(fr, c);
    double sum = 0;
    for (int l = y / sy - 2; l <= y / sy + 2; l++)
        for (int k = x / sx - 2; k <= x / sx + 2; k++) {
            double wgt = tent((x - (k * sx + ho)) / sx) * tent((y - (l * sy + vo)) / sy);
            if (wgt != 0)
                sum += wgt * get_code(fr, c, clampi(k, 0, cw - 1), clampi(l, 0, chh - 1));
        }
    return sum;
}

/* Reference decode of a YUV frame with the given matrix and range. */
static void ref_decode(const AVFrame *fr, enum AVColorSpace m, int full, int x, int y, double rgb[3])
{
    double F[3][3], M[3][3];
    ref_forward(m, F);
    ref_inverse(F, M);
    double yo, ys, co, cs;
    ref_range(depth_of(fr), full, &yo, &ys, &co, &cs);
    double e[3] = {(get_code(fr, 0, x, y) - yo) / ys, 0, 0};
    if (ncolour(fr) == 3) {
        e[1] = (ref_chroma(fr, 1, x, y) - co) / cs;
        e[2] = (ref_chroma(fr, 2, x, y) - co) / cs;
    }
    for (int i = 0; i < 3; i++) {
        double v = M[i][0] * e[0] + M[i][1] * e[1] + M[i][2] * e[2];
        rgb[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
}

/* ------------------------------------------------------------------ */
/* The arithmetic the decoder relies on (EXACT_DIV in lib/convert.c):  */
/* a double product by 1/d, rounded to float, is the correctly rounded */
/* quotient for every code and every divisor the formats use.          */
/* ------------------------------------------------------------------ */

static void test_exact_division(void)
{
    int bad = 0, divisors = 0;
    for (int bits = 8; bits <= 16; bits++) {
        double d3[3] = {ldexp(1, bits) - 1, 219 * ldexp(1, bits - 8), 224 * ldexp(1, bits - 8)};
        for (int k = 0; k < 3; k++, divisors++) {
            double rcp = 1 / d3[k];
            for (int n = -65536; n <= 65536; n++)
                bad += (float)((double)n * rcp) != (float)n / (float)d3[k];
        }
    }
    CHECK_MSG(bad == 0, "%d quotients over %d divisors not exactly rounded", bad, divisors);
}

/* ------------------------------------------------------------------ */
/* (a) RGB formats round trip exactly                                 */
/* ------------------------------------------------------------------ */

static const enum AVPixelFormat rgb_formats[] = {
    AV_PIX_FMT_RGB24,    AV_PIX_FMT_BGR24,    AV_PIX_FMT_RGBA,     AV_PIX_FMT_BGRA,     AV_PIX_FMT_ARGB,
    AV_PIX_FMT_ABGR,     AV_PIX_FMT_RGB0,     AV_PIX_FMT_BGR0,     AV_PIX_FMT_0RGB,     AV_PIX_FMT_0BGR,
    AV_PIX_FMT_RGB48LE,  AV_PIX_FMT_BGR48LE,  AV_PIX_FMT_RGBA64LE, AV_PIX_FMT_BGRA64LE, AV_PIX_FMT_GBRP,
    AV_PIX_FMT_GBRP9LE,  AV_PIX_FMT_GBRP10LE, AV_PIX_FMT_GBRP12LE, AV_PIX_FMT_GBRP14LE, AV_PIX_FMT_GBRP16LE,
    AV_PIX_FMT_GBRAP,    AV_PIX_FMT_GBRAP10LE, AV_PIX_FMT_GBRAP12LE, AV_PIX_FMT_GBRAP16LE,
};
#define NRGB (int)(sizeof(rgb_formats) / sizeof(rgb_formats[0]))

static void test_rgb_exact(vsri_converter *cv)
{
    const int w = 67, h = 9;
    for (int i = 0; i < NRGB; i++) {
        enum AVPixelFormat f = rgb_formats[i];
        const char *name = av_get_pix_fmt_name(f);
        AVFrame *src = new_frame(f, w, h, AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED, AVCHROMA_LOC_UNSPECIFIED);
        fill_random_codes(src);
        int maxc = (1 << depth_of(src)) - 1;
        /* every code of 8-bit formats appears */
        if (maxc == 255)
            for (int x = 0; x < 256 && x < w * h; x++)
                set_code(src, x % 3, x % w, x / w, x);
        AVFrame *f32 = new_rgbf(w, h), *back = new_frame(f, w, h, AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED,
                                                          AVCHROMA_LOC_UNSPECIFIED);
        convert(cv, src, f32);
        convert(cv, f32, back);
        double maxerr = 0;
        int not_div = 0, wrong = 0, alpha_bad = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    int code = get_code(src, c, x, y);
                    float v = *fpix(f32, c, x, y);
                    double e = fabs((double)v - (double)code / maxc);
                    maxerr = e > maxerr ? e : maxerr;
                    /* identical to what PyTorch's x.float() / 255 gives */
                    not_div += v != (float)code / (float)maxc;
                    wrong += get_code(back, c, x, y) != code;
                }
                if (desc_of(back)->flags & AV_PIX_FMT_FLAG_ALPHA)
                    alpha_bad += get_code(back, 3, x, y) != maxc;
            }
        CHECK_MSG(maxerr <= 1e-7, "%s: |v - code/max| up to %g", name, maxerr);
        CHECK_MSG(not_div == 0, "%s: %d values differ from (float)code / max", name, not_div);
        CHECK_MSG(wrong == 0, "%s: %d codes changed on the round trip", name, wrong);
        CHECK_MSG(alpha_bad == 0, "%s: %d alpha samples not opaque", name, alpha_bad);
        av_frame_free(&src);
        av_frame_free(&f32);
        av_frame_free(&back);
    }
    /* RGB to RGB through the intermediate: 8 -> 16 bits is code * 257,
     * and every 8-bit layout reaches every other unchanged. */
    AVFrame *a = new_frame(AV_PIX_FMT_RGB24, w, h, 0, 0, 0), *b = new_frame(AV_PIX_FMT_RGB48LE, w, h, 0, 0, 0);
    AVFrame *c = new_frame(AV_PIX_FMT_0BGR, w, h, 0, 0, 0), *g = new_frame(AV_PIX_FMT_GBRP, w, h, 0, 0, 0);
    fill_random_codes(a);
    convert(cv, a, b);
    convert(cv, a, c);
    convert(cv, c, g);
    int bad16 = 0, bad8 = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++) {
                bad16 += get_code(b, k, x, y) != get_code(a, k, x, y) * 257;
                bad8 += get_code(c, k, x, y) != get_code(a, k, x, y) || get_code(g, k, x, y) != get_code(a, k, x, y);
            }
    CHECK_EQ_INT(bad16, 0);
    CHECK_EQ_INT(bad8, 0);
    av_frame_free(&a);
    av_frame_free(&b);
    av_frame_free(&c);
    av_frame_free(&g);
}

/* ------------------------------------------------------------------ */
/* (b) YUV -> RGB against the double-precision reference              */
/* ------------------------------------------------------------------ */

static const enum AVColorSpace test_matrices[] = {AVCOL_SPC_SMPTE170M, AVCOL_SPC_BT709, AVCOL_SPC_BT2020_NCL};

static double decode_error(vsri_converter *cv, AVFrame *src, enum AVColorSpace m, int full)
{
    AVFrame *dst = new_rgbf(src->width, src->height);
    double maxerr = 1;
    if (convert(cv, src, dst) >= 0) {
        maxerr = 0;
        for (int y = 0; y < src->height; y++)
            for (int x = 0; x < src->width; x++) {
                double rgb[3];
                ref_decode(src, m, full, x, y, rgb);
                for (int c = 0; c < 3; c++) {
                    double e = fabs(rgb[c] - *fpix(dst, c, x, y));
                    maxerr = e > maxerr ? e : maxerr;
                }
            }
    }
    av_frame_free(&dst);
    return maxerr;
}

static void test_yuv_decode(vsri_converter *cv)
{
    /* 4:4:4 at 8 and 10 bits (and the other depths): every matrix, both ranges */
    static const enum AVPixelFormat f444[] = {AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUV444P10LE, AV_PIX_FMT_YUV444P9LE,
                                              AV_PIX_FMT_YUV444P12LE, AV_PIX_FMT_YUV444P14LE,
                                              AV_PIX_FMT_YUV444P16LE, AV_PIX_FMT_NV24, AV_PIX_FMT_NV42,
                                              AV_PIX_FMT_P410LE, AV_PIX_FMT_YUVA444P10LE};
    for (size_t i = 0; i < sizeof(f444) / sizeof(f444[0]); i++)
        for (int mi = 0; mi < 3; mi++)
            for (int full = 0; full < 2; full++) {
                AVFrame *src = new_frame(f444[i], 41, 13, test_matrices[mi],
                                         full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG, AVCHROMA_LOC_UNSPECIFIED);
                fill_random_codes(src);
                double e = decode_error(cv, src, test_matrices[mi], full);
                CHECK_MSG(e <= 1e-6, "%s %s %s range: max error %g", av_get_pix_fmt_name(f444[i]),
                          av_color_space_name(test_matrices[mi]), full ? "full" : "limited", e);
                av_frame_free(&src);
            }
    /* the other matrices, 8-bit limited */
    static const enum AVColorSpace other[] = {AVCOL_SPC_BT470BG, AVCOL_SPC_SMPTE240M, AVCOL_SPC_FCC};
    for (int mi = 0; mi < 3; mi++) {
        AVFrame *src = new_frame(AV_PIX_FMT_YUV444P, 33, 7, other[mi], AVCOL_RANGE_MPEG, AVCHROMA_LOC_UNSPECIFIED);
        fill_random_codes(src);
        double e = decode_error(cv, src, other[mi], 0);
        CHECK_MSG(e <= 1e-6, "yuv444p %s: max error %g", av_color_space_name(other[mi]), e);
        av_frame_free(&src);
    }
    /* subsampled formats at every siting (odd sizes: edge handling) */
    static const enum AVPixelFormat fsub[] = {
        AV_PIX_FMT_YUV420P,     AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_YUV422P,  AV_PIX_FMT_YUV440P,
        AV_PIX_FMT_NV12,        AV_PIX_FMT_NV21,        AV_PIX_FMT_P010LE,   AV_PIX_FMT_P016LE,
        AV_PIX_FMT_YUV420P12LE, AV_PIX_FMT_YUV422P10LE, AV_PIX_FMT_NV16,     AV_PIX_FMT_YUV420P16LE,
        AV_PIX_FMT_YUV420P9LE,  AV_PIX_FMT_YUV420P14LE, AV_PIX_FMT_P210LE,   AV_PIX_FMT_YUVA420P,
        AV_PIX_FMT_YUV440P12LE,
    };
    for (size_t i = 0; i < sizeof(fsub) / sizeof(fsub[0]); i++)
        for (int loc = AVCHROMA_LOC_UNSPECIFIED; loc <= AVCHROMA_LOC_BOTTOM; loc++)
            for (int full = 0; full < 2; full++) {
                int wd = 37 + (int)(i & 1), ht = 23 + (loc & 1);
                enum AVColorSpace m = test_matrices[(i + (size_t)loc) % 3];
                AVFrame *src = new_frame(fsub[i], wd, ht, m, full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG,
                                         (enum AVChromaLocation)loc);
                fill_random_codes(src);
                double e = decode_error(cv, src, m, full);
                CHECK_MSG(e <= 1e-6, "%s %dx%d %s %s range: max error %g", av_get_pix_fmt_name(fsub[i]), wd, ht,
                          av_chroma_location_name((enum AVChromaLocation)loc), full ? "full" : "limited", e);
                av_frame_free(&src);
            }
    /* yuvj is full range whatever the tag; gray is full range unless tagged */
    AVFrame *j = new_frame(AV_PIX_FMT_YUVJ420P, 20, 10, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_CENTER);
    fill_random_codes(j);
    CHECK(decode_error(cv, j, AVCOL_SPC_BT709, 1) <= 1e-6);
    av_frame_free(&j);
    static const enum AVPixelFormat fgray[] = {AV_PIX_FMT_GRAY8, AV_PIX_FMT_GRAY10LE, AV_PIX_FMT_GRAY16LE};
    for (int i = 0; i < 3; i++)
        for (int r = 0; r < 3; r++) {
            enum AVColorRange range = r == 0 ? AVCOL_RANGE_UNSPECIFIED : r == 1 ? AVCOL_RANGE_MPEG : AVCOL_RANGE_JPEG;
            AVFrame *g = new_frame(fgray[i], 19, 5, AVCOL_SPC_UNSPECIFIED, range, AVCHROMA_LOC_UNSPECIFIED);
            fill_random_codes(g);
            double e = decode_error(cv, g, AVCOL_SPC_SMPTE170M, range != AVCOL_RANGE_MPEG);
            CHECK_MSG(e <= 1e-6, "%s range %d: max error %g", av_get_pix_fmt_name(fgray[i]), range, e);
            av_frame_free(&g);
        }
    /* the vsr_frame API: vsr_frame_convert to RGBF32 (CHW, R plane first) */
    vsr_frame *vf = NULL, *out = NULL;
    CHECK(vsr_frame_alloc(&vf, VSR_PIXFMT_YUV420P, 16, 8) == 0);
    if (vf) {
        fill_random_codes(vf->av);
        vf->av->colorspace = AVCOL_SPC_BT709;
        vf->av->color_range = AVCOL_RANGE_MPEG;
        CHECK(vsr_frame_convert(&out, vf, VSR_PIXFMT_RGBF32, 16, 8) == 0);
        if (out) {
            const float *chw = vsri_frame_chw(out);
            double m = 0;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 8; y++)
                    for (int x = 0; x < 16; x++) {
                        double rgb[3];
                        ref_decode(vf->av, AVCOL_SPC_BT709, 0, x, y, rgb);
                        double e = fabs(rgb[c] - chw[(c * 8 + y) * 16 + x]);
                        m = e > m ? e : m;
                    }
            CHECK_MSG(m <= 1e-6, "vsr_frame_convert: max error %g", m);
        }
        vsr_frame_unref(&out);
        vsr_frame_unref(&vf);
    }
}

/* ------------------------------------------------------------------ */
/* RGB -> YUV against the reference (rounding, filters, siting)       */
/* ------------------------------------------------------------------ */

/* Full-resolution E'Y, E'Pb, E'Pr of an RGBF32 frame at (x, y). */
static void ref_ypbpr(const AVFrame *f, enum AVColorSpace m, int x, int y, double e[3])
{
    double F[3][3];
    ref_forward(m, F);
    double rgb[3] = {*fpix(f, 0, x, y), *fpix(f, 1, x, y), *fpix(f, 2, x, y)};
    for (int i = 0; i < 3; i++)
        e[i] = F[i][0] * rgb[0] + F[i][1] * rgb[1] + F[i][2] * rgb[2];
}

/* Chroma component (1 Pb, 2 Pr) of chroma sample (k, l), filtered as
 * documented: horizontally [1 2 1]/4 around a co-sited sample or the
 * mean of the two it sits between; vertically the same by siting. */
static double ref_down(const AVFrame *f, enum AVColorSpace m, int c, int k, int l, int sx, int sy,
                       enum AVChromaLocation loc)
{
    double ho, vo;
    ref_siting(loc, &ho, &vo);
    double hw[3], vw[3];
    int hx[3], vy[3], nh, nv;
    if (sx == 1) {
        nh = 1, hx[0] = k, hw[0] = 1;
    } else if (ho == 0) {
        nh = 3, hx[0] = 2 * k - 1, hx[1] = 2 * k, hx[2] = 2 * k + 1, hw[0] = 0.25, hw[1] = 0.5, hw[2] = 0.25;
    } else {
        nh = 2, hx[0] = 2 * k, hx[1] = 2 * k + 1, hw[0] = hw[1] = 0.5;
    }
    if (sy == 1) {
        nv = 1, vy[0] = l, vw[0] = 1;
    } else if (vo == 0.5) {
        nv = 2, vy[0] = 2 * l, vy[1] = 2 * l + 1, vw[0] = vw[1] = 0.5;
    } else {
        int centre = 2 * l + (vo == 1);
        nv = 3, vy[0] = centre - 1, vy[1] = centre, vy[2] = centre + 1, vw[0] = 0.25, vw[1] = 0.5, vw[2] = 0.25;
    }
    double sum = 0;
    for (int j = 0; j < nv; j++)
        for (int i = 0; i < nh; i++) {
            double e[3];
            ref_ypbpr(f, m, clampi(hx[i], 0, f->width - 1), clampi(vy[j], 0, f->height - 1), e);
            sum += hw[i] * vw[j] * e[c];
        }
    return sum;
}

/* Codes must be the rounded reference; within `slack` of a .5 tie either
 * neighbour is accepted (float vs double). */
static int code_ok(int code, double ref, int maxc, double slack)
{
    double r = ref < 0 ? 0 : ref > maxc ? maxc : ref;
    int want = (int)floor(r + 0.5);
    if (code == want)
        return 1;
    return fabs(fabs(r - floor(r)) - 0.5) < slack && abs(code - want) == 1;
}

static void test_yuv_encode(vsri_converter *cv)
{
    static const enum AVPixelFormat fmts[] = {AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUV444P10LE, AV_PIX_FMT_YUV420P,
                                              AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_NV12, AV_PIX_FMT_P010LE,
                                              AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUV440P, AV_PIX_FMT_NV21,
                                              AV_PIX_FMT_YUV420P16LE, AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_GRAY8,
                                              AV_PIX_FMT_GRAY10LE};
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
        for (int loc = AVCHROMA_LOC_UNSPECIFIED; loc <= AVCHROMA_LOC_BOTTOM; loc++)
            for (int full = 0; full < 2; full++) {
                const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmts[i]);
                if (!d->log2_chroma_w && !d->log2_chroma_h && loc > AVCHROMA_LOC_LEFT)
                    continue;
                int w = 35 + (loc & 1), h = 17 + (int)(i & 1);
                enum AVColorSpace m = test_matrices[(i + (size_t)loc) % 3];
                int jpeg = fmts[i] == AV_PIX_FMT_YUVJ420P;
                AVFrame *src = new_rgbf(w, h);
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        for (int c = 0; c < 3; c++)
                            *fpix(src, c, x, y) = (float)((rnd() % 100001) / 100000.0);
                AVFrame *dst = new_frame(fmts[i], w, h, m, full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG,
                                         (enum AVChromaLocation)loc);
                if (convert(cv, src, dst) < 0)
                    goto next;
                int bits = depth_of(dst), maxc = (1 << bits) - 1;
                double yo, ys, co, cs, slack = 1e-4 + 2e-6 * maxc;
                ref_range(bits, full || jpeg, &yo, &ys, &co, &cs);
                int bad = 0;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        double e[3];
                        ref_ypbpr(src, m, x, y, e);
                        bad += !code_ok(get_code(dst, 0, x, y), yo + ys * e[0], maxc, slack);
                    }
                int sx = 1 << d->log2_chroma_w, sy = 1 << d->log2_chroma_h;
                for (int c = 1; c < ncolour(dst); c++)
                    for (int l = 0; l < comp_h(dst, c); l++)
                        for (int k = 0; k < comp_w(dst, c); k++)
                            bad += !code_ok(get_code(dst, c, k, l),
                                            co + cs * ref_down(src, m, c, k, l, sx, sy, (enum AVChromaLocation)loc),
                                            maxc, slack);
                CHECK_MSG(bad == 0, "%s %s %s range: %d codes differ from the reference", av_get_pix_fmt_name(fmts[i]),
                          av_chroma_location_name((enum AVChromaLocation)loc), full ? "full" : "limited", bad);
            next:
                av_frame_free(&src);
                av_frame_free(&dst);
            }
}

/* ------------------------------------------------------------------ */
/* (c) RGB -> YUV -> RGB round trips                                  */
/* ------------------------------------------------------------------ */

static double round_trip_psnr(vsri_converter *cv, const AVFrame *rgb, enum AVPixelFormat f, enum AVColorSpace m,
                              enum AVColorRange r, enum AVChromaLocation loc)
{
    AVFrame *yuv = new_frame(f, rgb->width, rgb->height, m, r, loc);
    AVFrame *back = new_rgbf(rgb->width, rgb->height);
    double p = 0;
    if (convert(cv, rgb, yuv) >= 0 && convert(cv, yuv, back) >= 0)
        p = psnr(rgb, back);
    av_frame_free(&yuv);
    av_frame_free(&back);
    return p;
}

/* The first frame of a test clip's raw RGB24 source (the test data's
 * manifest.json lists its clips in "files", each with "source_rgb",
 * "width" and "height": real photographs), as RGBF32; NULL if none. */
static AVFrame *load_data_frame(void)
{
    const char *dir = getenv("VSR_TEST_DATA");
    if (!dir || !*dir)
        return NULL;
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    char *text = NULL;
    size_t len = 0;
    if (vsri_read_file(path, 1 << 24, &text, &len) < 0)
        return NULL;
    char err[256];
    AVFrame *out = NULL;
    json_t *j = tj_parse(text, len, err, sizeof(err));
    if (j) {
        const json_t *files = json_object_get(j, "files");
        for (int i = 0; i < tj_count(files) && !out; i++) {
            const json_t *e = tj_at(files, i);
            const char *file = tj_str(json_object_get(e, "source_rgb"), NULL);
            if (!file)
                continue;
            int w = (int)tj_num(json_object_get(e, "width"), 0);
            int h = (int)tj_num(json_object_get(e, "height"), 0);
            if (w < 16 || h < 16 || w > 8192 || h > 8192)
                continue;
            FILE *fp = fopen(file, "rb");
            uint8_t *px = malloc((size_t)w * h * 3);
            if (fp && px && fread(px, 3, (size_t)w * h, fp) == (size_t)w * h) {
                out = new_rgbf(w, h);
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        for (int c = 0; c < 3; c++)
                            *fpix(out, c, x, y) = px[((size_t)y * w + x) * 3 + c] / 255.0f;
                fprintf(stderr, "round trips also on %s (%dx%d)\n", file, w, h);
            }
            free(px);
            if (fp)
                fclose(fp);
        }
        json_decref(j);
    }
    free(text);
    return out;
}

static void test_round_trips(vsri_converter *cv)
{
    AVFrame *pics[2] = {synth_frame(320, 180), load_data_frame()};
    /* under meson the test data is always there: real content must be tested */
    CHECK_MSG(pics[1] || !getenv("VSR_TEST_DATA"), "no source frame found in $VSR_TEST_DATA/manifest.json");
    for (int pi = 0; pi < 2 && pics[pi]; pi++) {
        const AVFrame *pic = pics[pi];
        const char *what = pi ? "data frame" : "synthetic";
        for (int mi = 0; mi < 3; mi++) {
            enum AVColorSpace m = test_matrices[mi];
            double p444 = round_trip_psnr(cv, pic, AV_PIX_FMT_YUV444P, m, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
            double p444f = round_trip_psnr(cv, pic, AV_PIX_FMT_YUV444P, m, AVCOL_RANGE_JPEG, AVCHROMA_LOC_LEFT);
            double p444_10 = round_trip_psnr(cv, pic, AV_PIX_FMT_YUV444P10LE, m, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
            double p444_16 = round_trip_psnr(cv, pic, AV_PIX_FMT_YUV444P16LE, m, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
            fprintf(stderr, "%s %s: 4:4:4 8-bit %.1f dB (full %.1f), 10-bit %.1f dB, 16-bit %.1f dB\n", what,
                    av_color_space_name(m), p444, p444f, p444_10, p444_16);
            CHECK_MSG(p444 >= 45, "%s %s 4:4:4 8-bit: %.2f dB", what, av_color_space_name(m), p444);
            CHECK_MSG(p444f >= 45, "%s %s 4:4:4 8-bit full: %.2f dB", what, av_color_space_name(m), p444f);
            CHECK_MSG(p444_10 >= 55, "%s %s 4:4:4 10-bit: %.2f dB", what, av_color_space_name(m), p444_10);
            CHECK_MSG(p444_16 >= 80, "%s %s 4:4:4 16-bit: %.2f dB", what, av_color_space_name(m), p444_16);
            for (int loc = AVCHROMA_LOC_LEFT; loc <= AVCHROMA_LOC_BOTTOM; loc++) {
                double p420 = round_trip_psnr(cv, pic, AV_PIX_FMT_YUV420P, m, AVCOL_RANGE_MPEG,
                                              (enum AVChromaLocation)loc);
                double p010 = round_trip_psnr(cv, pic, AV_PIX_FMT_P010LE, m, AVCOL_RANGE_MPEG,
                                              (enum AVChromaLocation)loc);
                if (loc == AVCHROMA_LOC_LEFT || loc == AVCHROMA_LOC_TOPLEFT)
                    fprintf(stderr, "%s %s: 4:2:0 %s 8-bit %.1f dB, p010 %.1f dB\n", what, av_color_space_name(m),
                            av_chroma_location_name((enum AVChromaLocation)loc), p420, p010);
                /* real photographs have sharp colour edges 4:2:0 cannot keep */
                double bound = pi ? 30 : 35;
                CHECK_MSG(p420 >= bound, "%s %s 4:2:0 %s: %.2f dB", what, av_color_space_name(m),
                          av_chroma_location_name((enum AVChromaLocation)loc), p420);
                CHECK_MSG(p010 >= bound, "%s %s p010 %s: %.2f dB", what, av_color_space_name(m),
                          av_chroma_location_name((enum AVChromaLocation)loc), p010);
            }
        }
    }
    /* Chroma siting is consistent: a 4:2:0 round trip at the right siting
     * beats one read back at a wrong siting (on content with colour detail). */
    AVFrame *pic = pics[0];
    AVFrame *yuv = new_frame(AV_PIX_FMT_YUV420P, pic->width, pic->height, AVCOL_SPC_BT709, AVCOL_RANGE_JPEG,
                             AVCHROMA_LOC_TOPLEFT);
    AVFrame *back = new_rgbf(pic->width, pic->height);
    AVFrame *sharp = new_rgbf(pic->width, pic->height);
    for (int y = 0; y < pic->height; y++)
        for (int x = 0; x < pic->width; x++)
            for (int c = 0; c < 3; c++)
                *fpix(sharp, c, x, y) = *fpix(pic, c, x, y) * (float)(0.75 + 0.25 * sin(x * 0.9 + c) * cos(y * 0.7));
    convert(cv, sharp, yuv);
    convert(cv, yuv, back);
    double right = psnr(sharp, back);
    yuv->chroma_location = AVCHROMA_LOC_CENTER;
    convert(cv, yuv, back);
    double wrong = psnr(sharp, back);
    CHECK_MSG(right > wrong + 0.2, "siting: right %.2f dB, wrong %.2f dB", right, wrong);
    av_frame_free(&yuv);
    av_frame_free(&back);
    av_frame_free(&sharp);
    av_frame_free(&pics[0]);
    av_frame_free(&pics[1]);
}

/* ------------------------------------------------------------------ */
/* (d) the matrix matters, (e) so does the range                      */
/* ------------------------------------------------------------------ */

static void test_matrix_and_range(vsri_converter *cv)
{
    AVFrame *pic = synth_frame(64, 48);
    AVFrame *yuv = new_frame(AV_PIX_FMT_YUV444P10LE, 64, 48, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
    AVFrame *back = new_rgbf(64, 48);
    convert(cv, pic, yuv);
    convert(cv, yuv, back);
    double right = max_diff(pic, back);
    yuv->colorspace = AVCOL_SPC_SMPTE170M; /* the same codes read as BT.601 */
    convert(cv, yuv, back);
    double wrong_matrix = max_diff(pic, back);
    yuv->colorspace = AVCOL_SPC_BT709;
    yuv->color_range = AVCOL_RANGE_JPEG; /* read as full range */
    convert(cv, yuv, back);
    double wrong_range = max_diff(pic, back);
    fprintf(stderr, "709 frame: right %.2g, read as 601 %.3f, read as full range %.3f\n", right, wrong_matrix,
            wrong_range);
    CHECK(right < 2e-3);
    CHECK(wrong_matrix > 0.03);
    CHECK(wrong_range > 0.03);
    /* untagged: 709 from 720 lines / 1280 columns, 601 below */
    enum AVColorSpace m = AVCOL_SPC_UNSPECIFIED;
    enum AVColorRange r = AVCOL_RANGE_UNSPECIFIED;
    vsri_resolve_colour(AV_PIX_FMT_YUV420P, 1280, 720, &m, &r);
    CHECK(m == AVCOL_SPC_BT709 && r == AVCOL_RANGE_MPEG);
    m = AVCOL_SPC_UNSPECIFIED, r = AVCOL_RANGE_UNSPECIFIED;
    vsri_resolve_colour(AV_PIX_FMT_YUVJ420P, 640, 480, &m, &r);
    CHECK(m == AVCOL_SPC_SMPTE170M && r == AVCOL_RANGE_JPEG);
    m = AVCOL_SPC_UNSPECIFIED, r = AVCOL_RANGE_UNSPECIFIED;
    vsri_resolve_colour(AV_PIX_FMT_GRAY8, 640, 480, &m, &r);
    CHECK(r == AVCOL_RANGE_JPEG);

    /* black, white and grey: the published code values */
    static const struct {
        enum AVPixelFormat f;
        int full;
        int y0, y1, c;
    } k[] = {
        {AV_PIX_FMT_YUV420P, 0, 16, 235, 128},          {AV_PIX_FMT_YUV420P, 1, 0, 255, 128},
        {AV_PIX_FMT_YUV420P10LE, 0, 64, 940, 512},      {AV_PIX_FMT_YUV420P10LE, 1, 0, 1023, 512},
        {AV_PIX_FMT_P010LE, 0, 64, 940, 512},           {AV_PIX_FMT_YUV444P16LE, 0, 4096, 60160, 32768},
        {AV_PIX_FMT_YUV444P12LE, 1, 0, 4095, 2048},
    };
    for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
        for (int level = 0; level < 2; level++) {
            AVFrame *flat = new_rgbf(8, 4);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 4; y++)
                    for (int x = 0; x < 8; x++)
                        *fpix(flat, c, x, y) = (float)level;
            AVFrame *out = new_frame(k[i].f, 8, 4, AVCOL_SPC_BT709, k[i].full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG,
                                     AVCHROMA_LOC_LEFT);
            convert(cv, flat, out);
            int want = level ? k[i].y1 : k[i].y0;
            CHECK_MSG(get_code(out, 0, 3, 2) == want && get_code(out, 1, 1, 1) == k[i].c &&
                          get_code(out, 2, 2, 0) == k[i].c,
                      "%s %s level %d: Y %d Cb %d Cr %d", av_get_pix_fmt_name(k[i].f), k[i].full ? "full" : "limited",
                      level, get_code(out, 0, 3, 2), get_code(out, 1, 1, 1), get_code(out, 2, 2, 0));
            /* and back to exactly 0 / 1 */
            convert(cv, out, flat);
            CHECK(*fpix(flat, 0, 5, 3) == (float)level && *fpix(flat, 1, 0, 0) == (float)level &&
                  *fpix(flat, 2, 7, 1) == (float)level);
            av_frame_free(&flat);
            av_frame_free(&out);
        }
    av_frame_free(&pic);
    av_frame_free(&yuv);
    av_frame_free(&back);
}

/* ------------------------------------------------------------------ */
/* (f) out-of-range values from a model                               */
/* ------------------------------------------------------------------ */

static void test_clamping(vsri_converter *cv)
{
    static const float vals[] = {-0.5f, -1e-3f, 0.f, 0.5f, 1.f, 1.05f, 1.5f, 1e9f, -1e9f, NAN, INFINITY, -INFINITY};
    const int n = (int)(sizeof(vals) / sizeof(vals[0]));
    AVFrame *src = new_rgbf(n, 2);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < n; x++)
            for (int c = 0; c < 3; c++)
                *fpix(src, c, x, y) = vals[x];
    /* RGB outputs: round(v * max) clamped; NaN -> 0 */
    static const enum AVPixelFormat rf[] = {AV_PIX_FMT_RGB24, AV_PIX_FMT_GBRP10LE, AV_PIX_FMT_RGB48LE, AV_PIX_FMT_BGR0};
    for (int i = 0; i < 4; i++) {
        AVFrame *out = new_frame(rf[i], n, 2, 0, 0, 0);
        convert(cv, src, out);
        int maxc = (1 << depth_of(out)) - 1, bad = 0;
        for (int x = 0; x < n; x++) {
            double v = isnan(vals[x]) ? 0 : vals[x];
            double want = v <= 0 ? 0 : v >= 1 ? maxc : floor(v * maxc + 0.5);
            for (int c = 0; c < 3; c++)
                bad += get_code(out, c, x, 1) != (int)want;
        }
        CHECK_MSG(bad == 0, "%s: %d clamped codes wrong", av_get_pix_fmt_name(rf[i]), bad);
        av_frame_free(&out);
    }
    /* limited range keeps foot- and headroom, clamps to the code range */
    static const enum AVPixelFormat yf[] = {AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_P010LE,
                                            AV_PIX_FMT_NV12};
    for (int i = 0; i < 4; i++)
        for (int full = 0; full < 2; full++) {
            AVFrame *out = new_frame(yf[i], n, 2, AVCOL_SPC_BT709, full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG,
                                     AVCHROMA_LOC_LEFT);
            convert(cv, src, out);
            int bits = depth_of(out), maxc = (1 << bits) - 1, bad = 0;
            double yo, ys, co, cs;
            ref_range(bits, full, &yo, &ys, &co, &cs);
            for (int x = 0; x < n; x++) {
                double v = isnan(vals[x]) ? 0 : vals[x];
                double want = yo + ys * v;
                want = want < 0 ? 0 : want > maxc ? maxc : floor(want + 0.5);
                bad += get_code(out, 0, x, 1) != (int)want;
            }
            /* grey input: chroma is neutral everywhere */
            for (int x = 0; x < comp_w(out, 1); x++)
                bad += get_code(out, 1, x, 0) != (int)co || get_code(out, 2, x, 0) != (int)co;
            CHECK_MSG(bad == 0, "%s %s: %d clamped codes wrong", av_get_pix_fmt_name(yf[i]), full ? "full" : "limited",
                      bad);
            av_frame_free(&out);
        }
    /* decoding clamps to [0, 1]: limited-range super-whites and -blacks */
    AVFrame *y = new_frame(AV_PIX_FMT_YUV444P, 4, 1, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
    int codes[4][3] = {{0, 128, 128}, {255, 128, 128}, {235, 255, 255}, {16, 0, 0}};
    for (int x = 0; x < 4; x++)
        for (int c = 0; c < 3; c++)
            set_code(y, c, x, 0, codes[x][c]);
    AVFrame *f = new_rgbf(4, 1);
    convert(cv, y, f);
    int out_of_range = 0;
    for (int x = 0; x < 4; x++)
        for (int c = 0; c < 3; c++)
            out_of_range += !(*fpix(f, c, x, 0) >= 0.f && *fpix(f, c, x, 0) <= 1.f);
    CHECK_EQ_INT(out_of_range, 0);
    /* black below black, white above white, red beyond white, blue below zero */
    CHECK(*fpix(f, 0, 0, 0) == 0.f && *fpix(f, 1, 1, 0) == 1.f && *fpix(f, 0, 2, 0) == 1.f &&
          *fpix(f, 2, 3, 0) == 0.f);
    av_frame_free(&y);
    av_frame_free(&f);
    av_frame_free(&src);
}

/* ------------------------------------------------------------------ */
/* Plumbing: copies, intermediates, resizes, swscale agreement        */
/* ------------------------------------------------------------------ */

static void test_plumbing(vsri_converter *cv)
{
    /* identical format and colour: a copy */
    AVFrame *a = new_frame(AV_PIX_FMT_YUV420P, 30, 20, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
    AVFrame *b = new_frame(AV_PIX_FMT_YUV420P, 30, 20, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
    fill_random_codes(a);
    convert(cv, a, b);
    int diff = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < comp_h(a, c); y++)
            for (int x = 0; x < comp_w(a, c); x++)
                diff += get_code(a, c, x, y) != get_code(b, c, x, y);
    CHECK_EQ_INT(diff, 0);
    /* another matrix: converted (through float RGB), so it differs */
    b->colorspace = AVCOL_SPC_SMPTE170M;
    convert(cv, a, b);
    diff = 0;
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 30; x++)
            diff += get_code(a, 0, x, y) != get_code(b, 0, x, y);
    CHECK(diff > 0);
    /* YUV -> RGB24 equals YUV -> RGBF32 -> RGB24 */
    AVFrame *f = new_rgbf(30, 20), *r1 = new_frame(AV_PIX_FMT_RGB24, 30, 20, 0, 0, 0),
            *r2 = new_frame(AV_PIX_FMT_RGB24, 30, 20, 0, 0, 0);
    convert(cv, a, f);
    convert(cv, f, r1);
    convert(cv, a, r2);
    diff = 0;
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 30; x++)
            for (int c = 0; c < 3; c++)
                diff += get_code(r1, c, x, y) != get_code(r2, c, x, y);
    CHECK_EQ_INT(diff, 0);
    /* a resize goes through swscale and works */
    AVFrame *big = new_rgbf(60, 40);
    CHECK(vsri_convert_av(cv, a, big) == 0);
    double mean = 0;
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < 60; x++)
            mean += *fpix(big, 1, x, y);
    CHECK(mean > 0 && mean < 60 * 40);
    /* a format only swscale knows (packed 4:2:2) still converts */
    AVFrame *yuyv = new_frame(AV_PIX_FMT_YUYV422, 30, 20, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
    CHECK(vsri_convert_av(cv, f, yuyv) == 0);
    av_frame_free(&yuyv);
    av_frame_free(&big);
    av_frame_free(&a);
    av_frame_free(&b);
    av_frame_free(&f);
    av_frame_free(&r1);
    av_frame_free(&r2);
}

/* Every supported format, both directions, against swscale on smooth
 * content: a third opinion on plane order, component order and shifts. */
static void test_swscale_agreement(vsri_converter *cv)
{
    const int w = 96, h = 64;
    AVFrame *pic = synth_frame(w, h);
    int count = 0;
    const AVPixFmtDescriptor *d = NULL;
    while ((d = av_pix_fmt_desc_next(d))) {
        enum AVPixelFormat f = av_pix_fmt_desc_get_id(d);
        /* the families the exact path covers (native-endian ones) */
        const char *n = d->name;
        int want = !strncmp(n, "yuv4", 4) || !strncmp(n, "yuvj4", 5) || !strncmp(n, "yuva4", 5) ||
                   !strncmp(n, "nv", 2) || !strncmp(n, "p0", 2) || !strncmp(n, "p2", 2) || !strncmp(n, "p4", 2) ||
                   !strncmp(n, "gray", 4) || !strncmp(n, "gbrp", 4) || !strncmp(n, "gbrap", 5) ||
                   !strcmp(n, "rgb24") || !strcmp(n, "bgr24") || !strcmp(n, "rgba") || !strcmp(n, "bgra") ||
                   !strcmp(n, "argb") || !strcmp(n, "abgr") || !strcmp(n, "rgb0") || !strcmp(n, "bgr0") ||
                   !strcmp(n, "0rgb") || !strcmp(n, "0bgr") || !strncmp(n, "rgb48", 5) || !strncmp(n, "bgr48", 5) ||
                   !strncmp(n, "rgba64", 6) || !strncmp(n, "bgra64", 6);
        if (!want || (d->flags & (AV_PIX_FMT_FLAG_FLOAT | AV_PIX_FMT_FLAG_HWACCEL)) || strstr(n, "be") ||
            d->log2_chroma_w > 1 || d->log2_chroma_h > 1 || !sws_isSupportedInput(f) || !sws_isSupportedOutput(f))
            continue;
        int sub = d->log2_chroma_w || d->log2_chroma_h;
        AVFrame *yuv_e = new_frame(f, w, h, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
        AVFrame *yuv_s = new_frame(f, w, h, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT);
        AVFrame *rgb_e = new_rgbf(w, h), *rgb_s = new_rgbf(w, h);
        convert(cv, pic, yuv_e);
        CHECK(vsri_convert_av_swscale(cv, pic, yuv_s) == 0);
        /* decode both encodings with both, compare the four */
        convert(cv, yuv_s, rgb_e);
        CHECK(vsri_convert_av_swscale(cv, yuv_s, rgb_s) == 0);
        double dec = psnr(rgb_e, rgb_s);
        convert(cv, yuv_e, rgb_e);
        double enc = psnr(rgb_e, pic);
        /* swscale reads 8-bit RGB with errors up to 0.0044 and puts
         * subsampled chroma rows on the even luma rows whatever the siting
         * says, hence the looser bounds; a swapped plane or component or a
         * wrong shift gives < 25 dB. Gray: swscale has its own range rules. */
        int gray = ncolour(yuv_e) == 1;
        double dec_min = sub ? 33 : 48, enc_min = sub ? 42 : 50;
        CHECK_MSG(gray || dec >= dec_min, "%s: decoding differs from swscale's: %.1f dB", n, dec);
        CHECK_MSG(gray || enc >= enc_min, "%s: round trip %.1f dB", n, enc);
        count++;
        av_frame_free(&yuv_e);
        av_frame_free(&yuv_s);
        av_frame_free(&rgb_e);
        av_frame_free(&rgb_s);
    }
    fprintf(stderr, "%d formats compared with swscale\n", count);
    CHECK(count >= 70);
    av_frame_free(&pic);
}

int main(void)
{
    vsri_converter *cv = vsri_converter_alloc();
    CHECK(cv != NULL);
    if (!cv)
        return test_result("convert");
    test_exact_division();
    test_rgb_exact(cv);
    int n = test_checks;
    fprintf(stderr, "rgb exact: %d checks\n", n);
    test_yuv_decode(cv);
    fprintf(stderr, "yuv decode: %d checks\n", test_checks - n), n = test_checks;
    test_yuv_encode(cv);
    fprintf(stderr, "yuv encode: %d checks\n", test_checks - n), n = test_checks;
    test_round_trips(cv);
    fprintf(stderr, "round trips: %d checks\n", test_checks - n), n = test_checks;
    test_matrix_and_range(cv);
    fprintf(stderr, "matrix and range: %d checks\n", test_checks - n), n = test_checks;
    test_clamping(cv);
    fprintf(stderr, "clamping: %d checks\n", test_checks - n), n = test_checks;
    test_plumbing(cv);
    test_swscale_agreement(cv);
    fprintf(stderr, "plumbing and swscale: %d checks\n", test_checks - n);
    vsri_converter_free(&cv);
    return test_result("convert");
}
