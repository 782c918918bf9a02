/*
 * Pixel conversion (see convert.h and docs/colour.md).
 *
 * Same-size conversions between the formats libvsr knows are done here,
 * in float, with the matrix, range and chroma siting the frames declare:
 * exact up to float rounding, unlike swscale, which goes through fixed
 * point YUV internally. Everything else (resizes, formats not listed in
 * fmt_info_get(), matrices without a Kr/Kb pair) goes to swscale.
 *
 * The loops are written per row, with the format set up outside the pixel
 * loop, in plain C that gcc -O3 vectorises: every inner loop has a
 * constant stride and no branches but min/max style selects.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "convert.h"

/* ------------------------------------------------------------------ */
/* Formats                                                            */
/* ------------------------------------------------------------------ */

enum { KIND_NONE = 0, KIND_YUV, KIND_GRAY, KIND_RGB, KIND_F32 };

/* Where one component lives; step and offset in samples (bytes for 8-bit
 * formats, 16-bit words otherwise). */
typedef struct comp_loc {
    int plane, step, offset;
} comp_loc;

typedef struct fmt_info {
    int kind;
    int depth;    /* bits per component */
    int shift;    /* position of the value in its sample (P010: 6) */
    int wide;     /* samples are 16-bit words */
    int cw, ch;   /* log2 of the chroma subsampling */
    int ncomp;    /* colour components: 1 (gray) or 3 */
    int packed;   /* RGB components interleaved in plane 0 */
    comp_loc c[3]; /* Y, U, V or R, G, B */
    int alpha;    /* has an alpha component (written opaque, ignored on input) */
    comp_loc a;
    int filler;   /* packed RGB: offset of an unused sample (rgb0), else -1 */
    int full_only; /* yuvj*: always full range */
} fmt_info;

static int native_be(void)
{
    return AV_PIX_FMT_GBRPF32 == AV_PIX_FMT_GBRPF32BE;
}

/* Describe f if the exact converters handle it; 0 if not. */
static int fmt_info_get(enum AVPixelFormat f, fmt_info *fi)
{
    memset(fi, 0, sizeof(*fi));
    fi->filler = -1;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    if (!d)
        return 0;
    if (f == AV_PIX_FMT_GBRPF32) {
        fi->kind = KIND_F32;
        fi->ncomp = 3;
        fi->depth = 32;
        for (int i = 0; i < 3; i++)
            fi->c[i] = (comp_loc){d->comp[i].plane, 1, 0};
        return 1;
    }
    if (d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL |
                    AV_PIX_FMT_FLAG_FLOAT | AV_PIX_FMT_FLAG_BAYER))
        return 0;
    int rgb = !!(d->flags & AV_PIX_FMT_FLAG_RGB);
    int alpha = !!(d->flags & AV_PIX_FMT_FLAG_ALPHA);
    int ncomp = rgb ? 3 : (d->nb_components - alpha);
    if ((ncomp != 1 && ncomp != 3) || d->nb_components != ncomp + alpha)
        return 0;
    const AVComponentDescriptor *c0 = &d->comp[0];
    int depth = c0->depth, shift = c0->shift;
    if (depth < 8 || depth > 16)
        return 0;
    int wide = depth + shift > 8;
    if (depth + shift > (wide ? 16 : 8))
        return 0;
    if (wide && !!(d->flags & AV_PIX_FMT_FLAG_BE) != native_be())
        return 0;
    int elem = wide ? 2 : 1;
    for (int i = 0; i < d->nb_components; i++) {
        const AVComponentDescriptor *c = &d->comp[i];
        if (c->depth != depth || c->shift != shift || c->step % elem || c->offset % elem)
            return 0;
        comp_loc l = {c->plane, c->step / elem, c->offset / elem};
        if (i < ncomp)
            fi->c[i] = l;
        else
            fi->a = l;
    }
    fi->depth = depth;
    fi->shift = shift;
    fi->wide = wide;
    fi->ncomp = ncomp;
    fi->alpha = alpha;
    fi->cw = d->log2_chroma_w;
    fi->ch = d->log2_chroma_h;
    if (fi->cw > 1 || fi->ch > 1)
        return 0; /* 4:1:1, 4:1:0: swscale */
    if (rgb) {
        fi->kind = KIND_RGB;
        int planar = 1;
        for (int i = 0; i < 3; i++)
            planar &= fi->c[i].step == 1 && fi->c[i].offset == 0;
        if (planar) {
            if (fi->c[0].plane == fi->c[1].plane || fi->c[1].plane == fi->c[2].plane ||
                fi->c[0].plane == fi->c[2].plane || (alpha && (fi->a.step != 1 || fi->a.offset)))
                return 0;
            return 1;
        }
        /* packed: 8 or 16 bits a component, 3 or 4 components a pixel */
        int step = fi->c[0].step;
        if (shift || (depth != 8 && depth != 16) || (step != 3 && step != 4))
            return 0;
        int used = 0;
        for (int i = 0; i < 3 + alpha; i++) {
            const comp_loc *l = i < 3 ? &fi->c[i] : &fi->a;
            if (l->plane || l->step != step || l->offset >= step || (used & (1 << l->offset)))
                return 0;
            used |= 1 << l->offset;
        }
        if (step == 4 && !alpha)
            for (int o = 0; o < 4; o++)
                if (!(used & (1 << o)))
                    fi->filler = o;
        fi->packed = 1;
        return 1;
    }
    /* YUV and gray: luma on its own plane, one sample after another */
    if (fi->c[0].plane != 0 || fi->c[0].step != 1 || fi->c[0].offset != 0)
        return 0;
    if (alpha && (fi->a.plane == 0 || fi->a.step != 1 || fi->a.offset))
        return 0;
    if (ncomp == 1) {
        fi->kind = KIND_GRAY;
        return 1;
    }
    const comp_loc *u = &fi->c[1], *v = &fi->c[2];
    if (u->plane == 0 || v->plane == 0)
        return 0;
    if (u->plane != v->plane) {
        if (u->step != 1 || v->step != 1 || u->offset || v->offset)
            return 0;
    } else if (u->step != 2 || v->step != 2 || u->offset + v->offset != 1) {
        return 0; /* semi-planar: interleaved U,V (or V,U) */
    }
    fi->kind = KIND_YUV;
    fi->full_only = f == AV_PIX_FMT_YUVJ420P || f == AV_PIX_FMT_YUVJ422P ||
                    f == AV_PIX_FMT_YUVJ444P || f == AV_PIX_FMT_YUVJ440P;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Colour                                                             */
/* ------------------------------------------------------------------ */

static int is_rgb(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    return d && (d->flags & AV_PIX_FMT_FLAG_RGB);
}

static int is_gray(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    return d && !(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)) &&
           d->nb_components - !!(d->flags & AV_PIX_FMT_FLAG_ALPHA) == 1;
}

void vsri_resolve_colour(enum AVPixelFormat fmt, int width, int height,
                         enum AVColorSpace *matrix, enum AVColorRange *range)
{
    if (*matrix == AVCOL_SPC_UNSPECIFIED || *matrix == AVCOL_SPC_RESERVED || *matrix == AVCOL_SPC_RGB)
        *matrix = (height >= 720 || width >= 1280) ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
    if (*range == AVCOL_RANGE_UNSPECIFIED) {
        int jpeg = fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_YUVJ422P ||
                   fmt == AV_PIX_FMT_YUVJ444P || fmt == AV_PIX_FMT_YUVJ440P;
        *range = (jpeg || is_rgb(fmt) || is_gray(fmt)) ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    }
}

/* Kr and Kb of an H.273 matrix (0 if it has none, e.g. YCgCo, ICtCp). */
static int matrix_k(enum AVColorSpace m, double *kr, double *kb)
{
    switch (m) {
    case AVCOL_SPC_BT709: *kr = 0.2126; *kb = 0.0722; return 1;
    case AVCOL_SPC_FCC: *kr = 0.30; *kb = 0.11; return 1;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: *kr = 0.299; *kb = 0.114; return 1;
    case AVCOL_SPC_SMPTE240M: *kr = 0.212; *kb = 0.087; return 1;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: *kr = 0.2627; *kb = 0.0593; return 1; /* CL read as NCL */
    default: return 0;
    }
}

/* Chroma sample position relative to the top-left luma sample of its
 * block, in luma samples. */
static void chroma_siting(enum AVChromaLocation loc, double *h, double *v)
{
    switch (loc) {
    case AVCHROMA_LOC_CENTER: *h = 0.5; *v = 0.5; break;
    case AVCHROMA_LOC_TOPLEFT: *h = 0; *v = 0; break;
    case AVCHROMA_LOC_TOP: *h = 0.5; *v = 0; break;
    case AVCHROMA_LOC_BOTTOMLEFT: *h = 0; *v = 1; break;
    case AVCHROMA_LOC_BOTTOM: *h = 0.5; *v = 1; break;
    default: *h = 0; *v = 0.5; break; /* left: MPEG-2/H.264's default */
    }
}

/* Everything one side of a conversion needs, set up once per call. */
typedef struct side {
    fmt_info fi;
    enum AVColorSpace matrix;
    enum AVColorRange range;
    double hoff, voff;  /* chroma siting */
    /* decoding: E'Y = (code + yadd) / ysc, E'Pb/Pr = (code + cadd) / csc,
     * correctly rounded (black and white decode to exactly 0 and 1), see
     * EXACT_DIV */
    double yadd, cadd, yrcp, crcp;
    /* R = Y + rv Pr, G = Y + gu Pb + gv Pr, B = Y + bu Pb */
    float rv, gu, gv, bu;
    /* encoding: Y = kr R + kg G + kb B, Pb = (B - Y) pbs, Pr = (R - Y) prs,
     * code = E * sc + off (off includes the 0.5 of rounding) */
    float kr, kg, kb, pbs, prs;
    float ysc, yoff, csc, coff;
    float maxc;  /* largest code: 2^depth - 1 */
    double rcp;  /* RGB inputs: code / maxc (exactly rounded, as v / 255.f) */
} side;

static int side_setup(const AVFrame *fr, side *s)
{
    enum AVPixelFormat f = (enum AVPixelFormat)fr->format;
    if (!fmt_info_get(f, &s->fi))
        return 0;
    const fmt_info *fi = &s->fi;
    s->matrix = fr->colorspace;
    s->range = fr->color_range;
    if (fi->full_only)
        s->range = AVCOL_RANGE_JPEG;
    vsri_resolve_colour(f, fr->width, fr->height, &s->matrix, &s->range);
    chroma_siting(fr->chroma_location, &s->hoff, &s->voff);
    if (fi->kind == KIND_F32)
        return 1;
    double maxc = ldexp(1, fi->depth) - 1;
    s->maxc = (float)maxc;
    s->rcp = 1 / maxc;
    if (fi->kind == KIND_RGB)
        return 1;
    double kr = 0.299, kb = 0.114;
    if (!matrix_k(s->matrix, &kr, &kb) && fi->kind == KIND_YUV)
        return 0;
    double kg = 1 - kr - kb;
    double yoff, ysc, coff, csc;
    if (s->range == AVCOL_RANGE_JPEG) {
        yoff = 0;
        ysc = maxc;
        coff = ldexp(1, fi->depth - 1);
        csc = maxc;
    } else {
        double m = ldexp(1, fi->depth - 8);
        yoff = 16 * m;
        ysc = 219 * m;
        coff = 128 * m;
        csc = 224 * m;
    }
    s->yadd = -yoff;
    s->cadd = -coff;
    s->yrcp = 1 / ysc;
    s->crcp = 1 / csc;
    s->rv = (float)(2 * (1 - kr));
    s->bu = (float)(2 * (1 - kb));
    s->gu = (float)(-2 * kb * (1 - kb) / kg);
    s->gv = (float)(-2 * kr * (1 - kr) / kg);
    s->kr = (float)kr;
    s->kg = (float)kg;
    s->kb = (float)kb;
    s->pbs = (float)(0.5 / (1 - kb));
    s->prs = (float)(0.5 / (1 - kr));
    s->ysc = (float)ysc;
    s->yoff = (float)(yoff + 0.5);
    s->csc = (float)csc;
    s->coff = (float)(coff + 0.5);
    return 1;
}

/* Float RGB planes (R, G, B) of a frame. */
typedef struct fplanes {
    uint8_t *p[3];
    ptrdiff_t ls[3];
} fplanes;

static float *frow(const fplanes *f, int c, int y)
{
    return (float *)(f->p[c] + (ptrdiff_t)y * f->ls[c]);
}

static void fplanes_of(const AVFrame *fr, fplanes *f)
{
    /* GBRPF32: data[0] = G, data[1] = B, data[2] = R */
    static const int plane[3] = {2, 0, 1};
    for (int c = 0; c < 3; c++) {
        f->p[c] = fr->data[plane[c]];
        f->ls[c] = fr->linesize[plane[c]];
    }
}

/* ------------------------------------------------------------------ */
/* Row kernels                                                        */
/* ------------------------------------------------------------------ */

/*
 * The row kernels are compiled twice where the toolchain can pick a
 * version at load time (ifunc: gcc or clang on x86-64 Linux): for AVX2 and
 * for the baseline. Under strict IEEE rules gcc turns every clamp into a
 * compare and three logic operations on SSE2 (it may not use minps/maxps,
 * and SSE2 has no blend), which made the AVX2 versions 2-5x faster here.
 * Both versions do the same IEEE operations in the same order (no FMA:
 * AVX2 does not imply it, and ISO C mode keeps contraction off), so their
 * results are identical.
 */
#if defined(__has_feature)
#  if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#    define VSRI_SANITIZED 1
#  endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#  define VSRI_SANITIZED 1
#endif
/* Not under sanitizers: ThreadSanitizer crashes in ifunc resolvers, which
 * run before its runtime is set up. Not without glibc (musl has no ifunc). */
#if !defined(KERNEL) && !defined(VSRI_SANITIZED) /* -DKERNEL= builds the baseline only */
#  if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__) && defined(__has_attribute)
#    if __has_attribute(target_clones)
#      define KERNEL __attribute__((target_clones("avx2", "default")))
#    endif
#  endif
#endif
#ifndef KERNEL
#  define KERNEL
#endif

static inline float clamp01(float x)
{
    x = x > 0.f ? x : 0.f; /* NaN -> 0 */
    return x < 1.f ? x : 1.f;
}

/* Quantise: round(v * sc + off - 0.5) clamped to [0, maxc] (off carries
 * the 0.5), as an int. */
static inline int quant(float v, float sc, float off, float maxc)
{
    float x = v * sc + off;
    x = x > 0.f ? x : 0.f;
    x = x < maxc ? x : maxc;
    return (int)x;
}

/*
 * EXACT_DIV(n, rcp): the float nearest to n / d for an integer |n| <= 2^16
 * and d = 1 / rcp one of the divisors used here (2^b - 1, 219 * 2^k,
 * 224 * 2^k, b <= 16): the same value as (float)n / (float)d, as PyTorch's
 * x.float() / 255 gives, without a division (3-4x slower than the double
 * multiply on the machine this was measured on). Why it is exact: d's odd
 * part m is below 2^16, so n / d is never within a relative 2^-40 of a
 * midpoint between two floats (it would need n * 2^k = p * m for some
 * midpoint p / 2^k), while the double product is within a relative 2^-51
 * of n / d; so rounding it to float gives the correctly rounded quotient.
 * (Checked exhaustively for every n and d in tests/unit/test_convert.c.)
 */
#define EXACT_DIV(n, rcp) ((float)((double)(n) * (rcp)))

/* Load one component row: out = (code + add) / d. */
#define DEF_LOAD(NAME, T, STEP)                                                                                \
    KERNEL static void NAME(const uint8_t *src, int n, int shift, double add, double rcp, float *restrict out) \
    {                                                                                                          \
        const T *restrict p = (const T *)src;                                                                  \
        for (int i = 0; i < n; i++)                                                                            \
            out[i] = EXACT_DIV((double)(p[(size_t)i * STEP] >> shift) + add, rcp);                             \
    }
DEF_LOAD(load_u8_1, uint8_t, 1)
DEF_LOAD(load_u8_2, uint8_t, 2)
DEF_LOAD(load_u16_1, uint16_t, 1)
DEF_LOAD(load_u16_2, uint16_t, 2)

typedef void (*load_fn)(const uint8_t *, int, int, double, double, float *restrict);

static load_fn pick_load(int wide, int step)
{
    if (wide)
        return step == 1 ? load_u16_1 : load_u16_2;
    return step == 1 ? load_u8_1 : load_u8_2;
}

/* Load one RGB component row: out = code / maxc, exactly rounded. */
#define DEF_LOAD_RGB(NAME, T)                                                                      \
    KERNEL static void NAME(const uint8_t *src, int n, int shift, double rcp, float *restrict out) \
    {                                                                                              \
        const T *restrict p = (const T *)src;                                                      \
        for (int i = 0; i < n; i++)                                                                \
            out[i] = EXACT_DIV(p[i] >> shift, rcp);                                                \
    }
DEF_LOAD_RGB(load_rgb_u8, uint8_t)
DEF_LOAD_RGB(load_rgb_u16, uint16_t)

/* Store one component row of codes. */
#define DEF_STORE(NAME, T)                                                                              \
    KERNEL static void NAME(const float *restrict v, int n, float sc, float off, float maxc, int shift, \
                     uint8_t *dst)                                                                      \
    {                                                                                                   \
        T *restrict p = (T *)dst;                                                                       \
        for (int i = 0; i < n; i++)                                                                     \
            p[i] = (T)(quant(v[i], sc, off, maxc) << shift);                                            \
    }
DEF_STORE(store_u8, uint8_t)
DEF_STORE(store_u16, uint16_t)

/* Store two interleaved component rows (semi-planar chroma): a at even
 * samples, b at odd ones. */
#define DEF_STORE2(NAME, T)                                                                               \
    KERNEL static void NAME(const float *restrict a, const float *restrict b, int n, float sc, float off, \
                     float maxc, int shift, uint8_t *dst)                                                 \
    {                                                                                                     \
        T *restrict p = (T *)dst;                                                                         \
        for (int i = 0; i < n; i++) {                                                                     \
            p[2 * i] = (T)(quant(a[i], sc, off, maxc) << shift);                                          \
            p[2 * i + 1] = (T)(quant(b[i], sc, off, maxc) << shift);                                      \
        }                                                                                                 \
    }
DEF_STORE2(store2_u8, uint8_t)
DEF_STORE2(store2_u16, uint16_t)

static void fill_row(uint8_t *dst, int n, int wide, int value)
{
    if (!wide) {
        memset(dst, value, (size_t)n);
        return;
    }
    uint16_t *p = (uint16_t *)dst;
    for (int i = 0; i < n; i++)
        p[i] = (uint16_t)value;
}

/* Packed RGB with the component offsets as constants, so that the loops
 * vectorise; `fill` goes to the alpha or unused sample (A < 0: none). */
#define DEF_PACKED(SUF, T, S, R, G, B, A)                                                                    \
    KERNEL static void unpack_##SUF(const uint8_t *src, int n, double rcp, float *restrict r,                \
                             float *restrict g, float *restrict b)                                           \
    {                                                                                                        \
        const T *restrict p = (const T *)src;                                                                \
        for (int i = 0; i < n; i++) {                                                                        \
            r[i] = EXACT_DIV(p[(size_t)i * S + R], rcp);                                                     \
            g[i] = EXACT_DIV(p[(size_t)i * S + G], rcp);                                                     \
            b[i] = EXACT_DIV(p[(size_t)i * S + B], rcp);                                                     \
        }                                                                                                    \
    }                                                                                                        \
    KERNEL static void pack_##SUF(const float *restrict r, const float *restrict g, const float *restrict b, \
                           int n, float maxc, int fill, uint8_t *dst)                                        \
    {                                                                                                        \
        T *restrict p = (T *)dst;                                                                            \
        for (int i = 0; i < n; i++) {                                                                        \
            p[(size_t)i * S + R] = (T)quant(r[i], maxc, 0.5f, maxc);                                         \
            p[(size_t)i * S + G] = (T)quant(g[i], maxc, 0.5f, maxc);                                         \
            p[(size_t)i * S + B] = (T)quant(b[i], maxc, 0.5f, maxc);                                         \
            if (A >= 0)                                                                                      \
                p[(size_t)i * S + (A < 0 ? 0 : A)] = (T)fill;                                                \
        }                                                                                                    \
    }
DEF_PACKED(rgb24, uint8_t, 3, 0, 1, 2, -1)
DEF_PACKED(bgr24, uint8_t, 3, 2, 1, 0, -1)
DEF_PACKED(rgbx, uint8_t, 4, 0, 1, 2, 3)
DEF_PACKED(bgrx, uint8_t, 4, 2, 1, 0, 3)
DEF_PACKED(xrgb, uint8_t, 4, 1, 2, 3, 0)
DEF_PACKED(xbgr, uint8_t, 4, 3, 2, 1, 0)
DEF_PACKED(rgb48, uint16_t, 3, 0, 1, 2, -1)
DEF_PACKED(bgr48, uint16_t, 3, 2, 1, 0, -1)
DEF_PACKED(rgbx64, uint16_t, 4, 0, 1, 2, 3)
DEF_PACKED(bgrx64, uint16_t, 4, 2, 1, 0, 3)

typedef void (*unpack_fn)(const uint8_t *, int, double, float *restrict, float *restrict, float *restrict);
typedef void (*pack_fn)(const float *restrict, const float *restrict, const float *restrict, int, float, int,
                        uint8_t *);

static const struct {
    int wide, step, r, g, b;
    unpack_fn unpack;
    pack_fn pack;
} packed_layouts[] = {
    {0, 3, 0, 1, 2, unpack_rgb24, pack_rgb24},    {0, 3, 2, 1, 0, unpack_bgr24, pack_bgr24},
    {0, 4, 0, 1, 2, unpack_rgbx, pack_rgbx},      {0, 4, 2, 1, 0, unpack_bgrx, pack_bgrx},
    {0, 4, 1, 2, 3, unpack_xrgb, pack_xrgb},      {0, 4, 3, 2, 1, unpack_xbgr, pack_xbgr},
    {1, 3, 0, 1, 2, unpack_rgb48, pack_rgb48},    {1, 3, 2, 1, 0, unpack_bgr48, pack_bgr48},
    {1, 4, 0, 1, 2, unpack_rgbx64, pack_rgbx64},  {1, 4, 2, 1, 0, unpack_bgrx64, pack_bgrx64},
};

/* Packed layouts not in the table (none of FFmpeg 5.1's pass
 * fmt_info_get, but keep a correct path): one sample at a time. */
static void unpack_generic(const fmt_info *fi, const uint8_t *src, int n, double rcp, float *const rgb[3])
{
    int s = fi->c[0].step;
    for (int c = 0; c < 3; c++) {
        int o = fi->c[c].offset;
        for (int i = 0; i < n; i++)
            rgb[c][i] = EXACT_DIV(fi->wide ? ((const uint16_t *)src)[i * s + o] : src[i * s + o], rcp);
    }
}

static void pack_generic(const fmt_info *fi, const float *const rgb[3], int n, float maxc, int fill, uint8_t *dst)
{
    int s = fi->c[0].step;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < 4; c++) {
            int o = c < 3 ? fi->c[c].offset : fi->alpha ? fi->a.offset : fi->filler;
            if (o < 0)
                continue;
            int v = c < 3 ? quant(rgb[c][i], maxc, 0.5f, maxc) : fill;
            if (fi->wide)
                ((uint16_t *)dst)[i * s + o] = (uint16_t)v;
            else
                dst[i * s + o] = (uint8_t)v;
        }
    }
}

/* Y'CbCr (already decoded to E'Y code row, E'Pb, E'Pr floats) to R, G, B. */
#define DEF_YUV_ROW(NAME, T)                                                                             \
    KERNEL static void NAME(const uint8_t *src, const float *restrict u, const float *restrict v, int n, \
                     const side *s, float *restrict r, float *restrict g, float *restrict b)             \
    {                                                                                                    \
        const T *restrict yp = (const T *)src;                                                           \
        const int shift = s->fi.shift;                                                                   \
        const double yadd = s->yadd, yrcp = s->yrcp;                                                     \
        const float rv = s->rv, gu = s->gu, gv = s->gv, bu = s->bu;                                      \
        for (int i = 0; i < n; i++) {                                                                    \
            float y = EXACT_DIV((double)(yp[i] >> shift) + yadd, yrcp);                                  \
            float pb = u[i], pr = v[i];                                                                  \
            r[i] = clamp01(y + rv * pr);                                                                 \
            g[i] = clamp01(y + gu * pb + gv * pr);                                                       \
            b[i] = clamp01(y + bu * pb);                                                                 \
        }                                                                                                \
    }
DEF_YUV_ROW(yuv_row_u8, uint8_t)
DEF_YUV_ROW(yuv_row_u16, uint16_t)

#define DEF_GRAY_ROW(NAME, T)                                                                               \
    KERNEL static void NAME(const uint8_t *src, int n, const side *s, float *restrict r, float *restrict g, \
                     float *restrict b)                                                                     \
    {                                                                                                       \
        const T *restrict yp = (const T *)src;                                                              \
        const int shift = s->fi.shift;                                                                      \
        const double yadd = s->yadd, yrcp = s->yrcp;                                                        \
        for (int i = 0; i < n; i++) {                                                                       \
            float y = clamp01(EXACT_DIV((double)(yp[i] >> shift) + yadd, yrcp));                            \
            r[i] = y;                                                                                       \
            g[i] = y;                                                                                       \
            b[i] = y;                                                                                       \
        }                                                                                                   \
    }
DEF_GRAY_ROW(gray_row_u8, uint8_t)
DEF_GRAY_ROW(gray_row_u16, uint16_t)

/* Encoder input: NaN -> 0, and within [-4, 4]. Every R'G'B' whose Y'CbCr
 * a code range can represent lies within [-1.2, 2.2], so this only touches
 * pixels that cannot be represented anyway (some code of theirs clips),
 * and it keeps inf - inf (NaN) and huge rounding noise out of Pb, Pr. */
static inline float sane(float x)
{
    x = x == x ? x : 0.f;
    x = x > -4.f ? x : -4.f;
    return x < 4.f ? x : 4.f;
}

/* R, G, B to Y codes (stored) and E'Pb, E'Pr (pb/pr may be NULL: gray). */
#define DEF_RGB_ROW(NAME, T)                                                                                  \
    KERNEL static void NAME(const float *restrict r, const float *restrict g, const float *restrict b, int n, \
                     const side *s, uint8_t *dst, float *restrict pb, float *restrict pr)                     \
    {                                                                                                         \
        T *restrict yp = (T *)dst;                                                                            \
        const int shift = s->fi.shift;                                                                        \
        const float kr = s->kr, kg = s->kg, kb = s->kb, pbs = s->pbs, prs = s->prs;                           \
        const float ysc = s->ysc, yoff = s->yoff, maxc = s->maxc;                                             \
        if (!pb) {                                                                                            \
            for (int i = 0; i < n; i++) {                                                                     \
                float y = kr * sane(r[i]) + kg * sane(g[i]) + kb * sane(b[i]);                                \
                yp[i] = (T)(quant(y, ysc, yoff, maxc) << shift);                                              \
            }                                                                                                 \
            return;                                                                                           \
        }                                                                                                     \
        for (int i = 0; i < n; i++) {                                                                         \
            float rr = sane(r[i]), gg = sane(g[i]), bb = sane(b[i]);                                          \
            float y = kr * rr + kg * gg + kb * bb;                                                            \
            yp[i] = (T)(quant(y, ysc, yoff, maxc) << shift);                                                  \
            pb[i] = (bb - y) * pbs;                                                                           \
            pr[i] = (rr - y) * prs;                                                                           \
        }                                                                                                     \
    }
DEF_RGB_ROW(rgb_row_u8, uint8_t)
DEF_RGB_ROW(rgb_row_u16, uint16_t)

/* Chroma upsampling by 2, linear, edges clamped; out has 2 * n samples.
 * Co-sited: chroma k sits on luma 2k. */
KERNEL static void up_cosited(const float *restrict c, int n, float *restrict out)
{
    for (int k = 0; k < n - 1; k++) {
        out[2 * k] = c[k];
        out[2 * k + 1] = 0.5f * (c[k] + c[k + 1]);
    }
    out[2 * n - 2] = c[n - 1];
    out[2 * n - 1] = c[n - 1];
}

/* Centred: chroma k sits between luma 2k and 2k + 1. */
KERNEL static void up_centred(const float *restrict c, int n, float *restrict out)
{
    if (n == 1) {
        out[0] = out[1] = c[0];
        return;
    }
    out[0] = c[0];
    out[1] = 0.75f * c[0] + 0.25f * c[1];
    for (int k = 1; k < n - 1; k++) {
        out[2 * k] = 0.75f * c[k] + 0.25f * c[k - 1];
        out[2 * k + 1] = 0.75f * c[k] + 0.25f * c[k + 1];
    }
    out[2 * n - 2] = 0.75f * c[n - 1] + 0.25f * c[n - 2];
    out[2 * n - 1] = c[n - 1];
}

/* Chroma downsampling by 2 of a row of w samples into n = ceil(w / 2).
 * Co-sited: [1 2 1] / 4 around luma 2k; centred: mean of 2k, 2k + 1. */
KERNEL static void down_cosited(const float *restrict p, int w, float *restrict out)
{
    int n = (w + 1) >> 1;
    if (w == 1) {
        out[0] = p[0];
        return;
    }
    out[0] = 0.25f * (3.f * p[0] + p[1]);
    int full = w >> 1; /* chroma samples with both neighbours: 1 .. full - 1 */
    for (int k = 1; k < full; k++)
        out[k] = 0.25f * (p[2 * k - 1] + 2.f * p[2 * k] + p[2 * k + 1]);
    if (w & 1) /* the last one has no right neighbour */
        out[n - 1] = 0.25f * (p[w - 2] + 3.f * p[w - 1]);
}

KERNEL static void down_centred(const float *restrict p, int w, float *restrict out)
{
    int k = 0;
    for (; 2 * k + 1 < w; k++)
        out[k] = 0.5f * (p[2 * k] + p[2 * k + 1]);
    if (w & 1)
        out[k] = p[w - 1];
}

KERNEL static void lerp_rows(const float *restrict a, const float *restrict b, float wb, int n, float *restrict out)
{
    float wa = 1.f - wb;
    for (int i = 0; i < n; i++)
        out[i] = wa * a[i] + wb * b[i];
}

KERNEL static void mix3_rows(const float *restrict a, const float *restrict b, const float *restrict c, int n,
                      float *restrict out)
{
    for (int i = 0; i < n; i++)
        out[i] = 0.25f * (a[i] + 2.f * b[i] + c[i]);
}

/* ------------------------------------------------------------------ */
/* Converter                                                          */
/* ------------------------------------------------------------------ */

struct vsri_converter {
    /* swscale, for what the exact paths do not cover */
    struct SwsContext *sws;
    int sw, sh, dw, dh;
    enum AVPixelFormat sf, df;
    enum AVColorSpace sm, dm;
    enum AVColorRange sr, dr;
    enum AVChromaLocation sloc;
    /* row scratch (floats) */
    float *scratch;
    size_t scratch_n;
    /* an RGBF32 intermediate for non-float to non-float conversions */
    float *mid;
    size_t mid_n;
};

vsri_converter *vsri_converter_alloc(void)
{
    return calloc(1, sizeof(vsri_converter));
}

void vsri_converter_free(vsri_converter **cv)
{
    if (!cv || !*cv)
        return;
    sws_freeContext((*cv)->sws);
    av_free((*cv)->scratch);
    av_free((*cv)->mid);
    free(*cv);
    *cv = NULL;
}

/* `rows` rows of `w` floats (rounded up to 16 for alignment) of scratch. */
static float *get_scratch(vsri_converter *cv, int rows, int w, size_t *stride)
{
    *stride = ((size_t)w + 31) & ~(size_t)15;
    size_t n = *stride * (size_t)rows;
    if (n > cv->scratch_n) {
        av_free(cv->scratch);
        cv->scratch = av_malloc(n * sizeof(float));
        cv->scratch_n = cv->scratch ? n : 0;
    }
    return cv->scratch;
}

static const uint8_t *crow(const AVFrame *fr, const comp_loc *l, int y, int wide)
{
    return fr->data[l->plane] + (ptrdiff_t)y * fr->linesize[l->plane] + (size_t)l->offset * (wide ? 2 : 1);
}

static uint8_t *wrow(AVFrame *fr, const comp_loc *l, int y, int wide)
{
    return fr->data[l->plane] + (ptrdiff_t)y * fr->linesize[l->plane] + (size_t)l->offset * (wide ? 2 : 1);
}

/* Any supported format -> float RGB. */
static int to_float(vsri_converter *cv, const AVFrame *src, const side *s, const fplanes *d)
{
    const fmt_info *fi = &s->fi;
    int w = src->width, h = src->height;
    if (fi->kind == KIND_F32) {
        fplanes sp;
        fplanes_of(src, &sp);
        for (int y = 0; y < h; y++)
            for (int c = 0; c < 3; c++)
                memcpy(frow(d, c, y), frow(&sp, c, y), (size_t)w * sizeof(float));
        return 0;
    }
    if (fi->kind == KIND_RGB) {
        unpack_fn unpack = NULL;
        if (fi->packed)
            for (size_t i = 0; i < sizeof(packed_layouts) / sizeof(packed_layouts[0]); i++)
                if (packed_layouts[i].wide == fi->wide && packed_layouts[i].step == fi->c[0].step &&
                    packed_layouts[i].r == fi->c[0].offset && packed_layouts[i].g == fi->c[1].offset &&
                    packed_layouts[i].b == fi->c[2].offset)
                    unpack = packed_layouts[i].unpack;
        for (int y = 0; y < h; y++) {
            float *rgb[3] = {frow(d, 0, y), frow(d, 1, y), frow(d, 2, y)};
            const uint8_t *row = src->data[0] + (ptrdiff_t)y * src->linesize[0];
            if (unpack) {
                unpack(row, w, s->rcp, rgb[0], rgb[1], rgb[2]);
            } else if (fi->packed) {
                unpack_generic(fi, row, w, s->rcp, rgb);
            } else {
                for (int c = 0; c < 3; c++) {
                    if (fi->wide)
                        load_rgb_u16(crow(src, &fi->c[c], y, 1), w, fi->shift, s->rcp, rgb[c]);
                    else
                        load_rgb_u8(crow(src, &fi->c[c], y, 0), w, 0, s->rcp, rgb[c]);
                }
            }
        }
        return 0;
    }
    if (fi->kind == KIND_GRAY) {
        for (int y = 0; y < h; y++) {
            const uint8_t *yr = crow(src, &fi->c[0], y, fi->wide);
            if (fi->wide)
                gray_row_u16(yr, w, s, frow(d, 0, y), frow(d, 1, y), frow(d, 2, y));
            else
                gray_row_u8(yr, w, s, frow(d, 0, y), frow(d, 1, y), frow(d, 2, y));
        }
        return 0;
    }

    /* Y'CbCr */
    int cwid = -((-w) >> fi->cw), chei = -((-h) >> fi->ch);
    size_t st;
    float *buf = get_scratch(cv, 8, 2 * cwid, &st);
    if (!buf)
        return VSR_ENOMEM;
    float *slot[2][2] = {{buf, buf + st}, {buf + 2 * st, buf + 3 * st}};
    int slot_row[2] = {-1, -1};
    float *blend[2] = {buf + 4 * st, buf + 5 * st};
    float *full[2] = {buf + 6 * st, buf + 7 * st};
    load_fn load = pick_load(fi->wide, fi->c[1].step);
    const comp_loc *cu = &fi->c[1], *cv_ = &fi->c[2];
    for (int y = 0; y < h; y++) {
        const float *u, *v;
        /* the chroma row(s) this luma row interpolates between */
        int r0 = y, r1 = y;
        float wt = 0;
        if (fi->ch) {
            double pos = (y - s->voff) / 2;
            double k0 = floor(pos);
            wt = (float)(pos - k0);
            r0 = (int)k0;
            r1 = r0 + 1;
            r0 = r0 < 0 ? 0 : r0 > chei - 1 ? chei - 1 : r0;
            r1 = r1 < 0 ? 0 : r1 > chei - 1 ? chei - 1 : r1;
            if (wt == 0 || r0 == r1)
                r1 = r0, wt = 0;
        }
        int sl[2];
        for (int j = 0; j < 2; j++) {
            int r = j ? r1 : r0, other = j ? r0 : r1;
            int k = slot_row[0] == r ? 0 : slot_row[1] == r ? 1 : -1;
            if (k < 0) {
                k = slot_row[0] == other ? 1 : 0;
                load(crow(src, cu, r, fi->wide), cwid, fi->shift, s->cadd, s->crcp, slot[k][0]);
                load(crow(src, cv_, r, fi->wide), cwid, fi->shift, s->cadd, s->crcp, slot[k][1]);
                slot_row[k] = r;
            }
            sl[j] = k;
        }
        if (wt != 0) {
            lerp_rows(slot[sl[0]][0], slot[sl[1]][0], wt, cwid, blend[0]);
            lerp_rows(slot[sl[0]][1], slot[sl[1]][1], wt, cwid, blend[1]);
            u = blend[0];
            v = blend[1];
        } else {
            u = slot[sl[0]][0];
            v = slot[sl[0]][1];
        }
        if (fi->cw) {
            if (s->hoff == 0) {
                up_cosited(u, cwid, full[0]);
                up_cosited(v, cwid, full[1]);
            } else {
                up_centred(u, cwid, full[0]);
                up_centred(v, cwid, full[1]);
            }
            u = full[0];
            v = full[1];
        }
        const uint8_t *yr = crow(src, &fi->c[0], y, fi->wide);
        if (fi->wide)
            yuv_row_u16(yr, u, v, w, s, frow(d, 0, y), frow(d, 1, y), frow(d, 2, y));
        else
            yuv_row_u8(yr, u, v, w, s, frow(d, 0, y), frow(d, 1, y), frow(d, 2, y));
    }
    return 0;
}

static void fill_alpha(AVFrame *dst, const fmt_info *fi, int w, int h)
{
    if (!fi->alpha)
        return;
    for (int y = 0; y < h; y++)
        fill_row(wrow(dst, &fi->a, y, fi->wide), w, fi->wide, (int)ldexp(1, fi->depth) - 1);
}

/* Store a chroma row pair (E'Pb, E'Pr floats) into row y of dst. */
static void store_chroma(AVFrame *dst, const side *s, int y, const float *pb, const float *pr, int n)
{
    const fmt_info *fi = &s->fi;
    const comp_loc *u = &fi->c[1], *v = &fi->c[2];
    if (u->plane == v->plane) {
        const float *first = u->offset == 0 ? pb : pr, *second = u->offset == 0 ? pr : pb;
        uint8_t *p = dst->data[u->plane] + (ptrdiff_t)y * dst->linesize[u->plane];
        if (fi->wide)
            store2_u16(first, second, n, s->csc, s->coff, s->maxc, fi->shift, p);
        else
            store2_u8(first, second, n, s->csc, s->coff, s->maxc, 0, p);
        return;
    }
    if (fi->wide) {
        store_u16(pb, n, s->csc, s->coff, s->maxc, fi->shift, wrow(dst, u, y, 1));
        store_u16(pr, n, s->csc, s->coff, s->maxc, fi->shift, wrow(dst, v, y, 1));
    } else {
        store_u8(pb, n, s->csc, s->coff, s->maxc, 0, wrow(dst, u, y, 0));
        store_u8(pr, n, s->csc, s->coff, s->maxc, 0, wrow(dst, v, y, 0));
    }
}

/* Float RGB -> any supported format (not float). */
static int from_float(vsri_converter *cv, const fplanes *sp, AVFrame *dst, const side *s)
{
    const fmt_info *fi = &s->fi;
    int w = dst->width, h = dst->height;
    fill_alpha(dst, fi, w, h);
    if (fi->kind == KIND_RGB) {
        pack_fn pack = NULL;
        if (fi->packed)
            for (size_t i = 0; i < sizeof(packed_layouts) / sizeof(packed_layouts[0]); i++)
                if (packed_layouts[i].wide == fi->wide && packed_layouts[i].step == fi->c[0].step &&
                    packed_layouts[i].r == fi->c[0].offset && packed_layouts[i].g == fi->c[1].offset &&
                    packed_layouts[i].b == fi->c[2].offset)
                    pack = packed_layouts[i].pack;
        int fill = (int)s->maxc;
        for (int y = 0; y < h; y++) {
            const float *rgb[3] = {frow(sp, 0, y), frow(sp, 1, y), frow(sp, 2, y)};
            uint8_t *row = dst->data[0] + (ptrdiff_t)y * dst->linesize[0];
            if (pack) {
                pack(rgb[0], rgb[1], rgb[2], w, s->maxc, fill, row);
            } else if (fi->packed) {
                pack_generic(fi, rgb, w, s->maxc, fill, row);
            } else {
                for (int c = 0; c < 3; c++) {
                    if (fi->wide)
                        store_u16(rgb[c], w, s->maxc, 0.5f, s->maxc, fi->shift, wrow(dst, &fi->c[c], y, 1));
                    else
                        store_u8(rgb[c], w, s->maxc, 0.5f, s->maxc, 0, wrow(dst, &fi->c[c], y, 0));
                }
            }
        }
        return 0;
    }
    if (fi->kind == KIND_GRAY) {
        for (int y = 0; y < h; y++) {
            uint8_t *yr = wrow(dst, &fi->c[0], y, fi->wide);
            if (fi->wide)
                rgb_row_u16(frow(sp, 0, y), frow(sp, 1, y), frow(sp, 2, y), w, s, yr, NULL, NULL);
            else
                rgb_row_u8(frow(sp, 0, y), frow(sp, 1, y), frow(sp, 2, y), w, s, yr, NULL, NULL);
        }
        return 0;
    }

    /* Y'CbCr: per chroma row, the luma rows it covers give Y (stored) and
     * Pb, Pr at full resolution, which are then filtered down. */
    int cwid = -((-w) >> fi->cw), chei = -((-h) >> fi->ch);
    size_t st;
    float *buf = get_scratch(cv, 10, w, &st);
    if (!buf)
        return VSR_ENOMEM;
    float *pb[3] = {buf, buf + st, buf + 2 * st}, *pr[3] = {buf + 3 * st, buf + 4 * st, buf + 5 * st};
    float *vb = buf + 6 * st, *vr = buf + 7 * st, *hb = buf + 8 * st, *hr = buf + 9 * st;
    /* vertical support of chroma row k: rows 2k + first .. 2k + first + n - 1 */
    int first = 0, nrows = 1;
    if (fi->ch) {
        if (s->voff == 0)
            first = -1, nrows = 3;
        else if (s->voff == 1)
            first = 0, nrows = 3;
        else
            first = 0, nrows = 2;
    }
    for (int k = 0; k < chei; k++) {
        for (int j = 0; j < nrows; j++) {
            int y = (k << fi->ch) + first + j;
            y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
            uint8_t *yr = wrow(dst, &fi->c[0], y, fi->wide);
            if (fi->wide)
                rgb_row_u16(frow(sp, 0, y), frow(sp, 1, y), frow(sp, 2, y), w, s, yr, pb[j], pr[j]);
            else
                rgb_row_u8(frow(sp, 0, y), frow(sp, 1, y), frow(sp, 2, y), w, s, yr, pb[j], pr[j]);
        }
        const float *b = pb[0], *r = pr[0];
        if (nrows == 2) {
            lerp_rows(pb[0], pb[1], 0.5f, w, vb);
            lerp_rows(pr[0], pr[1], 0.5f, w, vr);
            b = vb;
            r = vr;
        } else if (nrows == 3) {
            mix3_rows(pb[0], pb[1], pb[2], w, vb);
            mix3_rows(pr[0], pr[1], pr[2], w, vr);
            b = vb;
            r = vr;
        }
        if (fi->cw) {
            if (s->hoff == 0) {
                down_cosited(b, w, hb);
                down_cosited(r, w, hr);
            } else {
                down_centred(b, w, hb);
                down_centred(r, w, hr);
            }
            b = hb;
            r = hr;
        }
        store_chroma(dst, s, k, b, r, cwid);
    }
    return 0;
}

/* The planes of the frames must be there, and 16-bit ones aligned. */
static int planes_ok(const AVFrame *fr, const fmt_info *fi)
{
    int n = av_pix_fmt_count_planes((enum AVPixelFormat)fr->format);
    int align = fi->kind == KIND_F32 ? 4 : fi->wide ? 2 : 1;
    for (int p = 0; p < n; p++)
        if (!fr->data[p] || ((uintptr_t)fr->data[p] | (uintptr_t)fr->linesize[p]) % (unsigned)align)
            return 0;
    return 1;
}

#define NOT_HANDLED 1

static int exact_convert(vsri_converter *cv, const AVFrame *src, AVFrame *dst)
{
    side s, d;
    if (!side_setup(src, &s) || !side_setup(dst, &d) || !planes_ok(src, &s.fi) || !planes_ok(dst, &d.fi))
        return NOT_HANDLED;
    int w = src->width, h = src->height;
    if (src->format == dst->format &&
        (s.fi.kind == KIND_RGB || s.fi.kind == KIND_F32 ||
         (s.range == d.range && (s.fi.kind == KIND_GRAY ||
                                 (s.matrix == d.matrix && (!(s.fi.cw | s.fi.ch) ||
                                                           (s.hoff == d.hoff && s.voff == d.voff))))))) {
        av_image_copy(dst->data, dst->linesize, (const uint8_t **)src->data, src->linesize,
                      (enum AVPixelFormat)src->format, w, h);
        return 0;
    }
    if (d.fi.kind == KIND_F32) {
        fplanes dp;
        fplanes_of(dst, &dp);
        return to_float(cv, src, &s, &dp);
    }
    if (s.fi.kind == KIND_F32) {
        fplanes sp;
        fplanes_of(src, &sp);
        return from_float(cv, &sp, dst, &d);
    }
    /* neither side is float: through an RGBF32 intermediate */
    size_t plane = (size_t)w * h;
    if (plane * 3 > cv->mid_n) {
        av_free(cv->mid);
        cv->mid = av_malloc(plane * 3 * sizeof(float));
        cv->mid_n = cv->mid ? plane * 3 : 0;
        if (!cv->mid)
            return VSR_ENOMEM;
    }
    fplanes mp;
    for (int c = 0; c < 3; c++) {
        mp.p[c] = (uint8_t *)(cv->mid + c * plane);
        mp.ls[c] = (ptrdiff_t)w * (ptrdiff_t)sizeof(float);
    }
    int err = to_float(cv, src, &s, &mp);
    return err < 0 ? err : from_float(cv, &mp, dst, &d);
}

/* ------------------------------------------------------------------ */
/* swscale: resizes and everything the exact paths do not handle      */
/* ------------------------------------------------------------------ */

/* swscale's coefficient table for an H.273 matrix. */
static int sws_matrix(enum AVColorSpace m)
{
    switch (m) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_ITU601; /* BT.470BG, SMPTE 170M */
    }
}

/* Chroma sample position in 1/256 of a luma sample, as swscale wants it. */
static void chroma_pos(enum AVChromaLocation loc, int *h, int *v)
{
    double hf, vf;
    chroma_siting(loc, &hf, &vf);
    *h = (int)(hf * 256);
    *v = (int)(vf * 256);
}

/* Formats swscale treats as JPEG-range variants: give it the plain
 * format and say "full range" explicitly instead (it warns otherwise). */
static enum AVPixelFormat unjpeg(enum AVPixelFormat f, enum AVColorRange *r)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *r = AVCOL_RANGE_JPEG; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *r = AVCOL_RANGE_JPEG; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *r = AVCOL_RANGE_JPEG; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *r = AVCOL_RANGE_JPEG; return AV_PIX_FMT_YUV440P;
    default: return f;
    }
}

static int make_context(vsri_converter *cv)
{
    sws_freeContext(cv->sws);
    cv->sws = sws_alloc_context();
    if (!cv->sws)
        return VSR_ENOMEM;
    int same_size = cv->sw == cv->dw && cv->sh == cv->dh;
    /* Bicubic for chroma (and for resizes); full chroma interpolation and
     * accurate rounding; no dither so equal inputs give equal outputs. */
    int64_t flags = SWS_BICUBIC | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP | SWS_ACCURATE_RND;
    if (same_size)
        flags |= SWS_BITEXACT;
    int h = 0, v = 0;
    chroma_pos(cv->sloc, &h, &v);
    int err = 0;
    err |= av_opt_set_int(cv->sws, "srcw", cv->sw, 0);
    err |= av_opt_set_int(cv->sws, "srch", cv->sh, 0);
    err |= av_opt_set_int(cv->sws, "src_format", cv->sf, 0);
    err |= av_opt_set_int(cv->sws, "dstw", cv->dw, 0);
    err |= av_opt_set_int(cv->sws, "dsth", cv->dh, 0);
    err |= av_opt_set_int(cv->sws, "dst_format", cv->df, 0);
    err |= av_opt_set_int(cv->sws, "sws_flags", flags, 0);
    err |= av_opt_set(cv->sws, "sws_dither", "none", 0);
    err |= av_opt_set_int(cv->sws, "src_h_chr_pos", h, 0);
    err |= av_opt_set_int(cv->sws, "src_v_chr_pos", v, 0);
    /* we write chroma at the MPEG-2 "left" position, what H.264/HEVC assume */
    err |= av_opt_set_int(cv->sws, "dst_h_chr_pos", 0, 0);
    err |= av_opt_set_int(cv->sws, "dst_v_chr_pos", 128, 0);
    if (err < 0)
        return vsri_error(VSR_EINVAL, "swscale rejected an option");
    int ret = sws_init_context(cv->sws, NULL, NULL);
    if (ret < 0) {
        sws_freeContext(cv->sws);
        cv->sws = NULL;
        return vsri_error(VSR_ERROR_UNSUPPORTED, "cannot convert %s %dx%d to %s %dx%d: %s",
                          av_get_pix_fmt_name(cv->sf), cv->sw, cv->sh, av_get_pix_fmt_name(cv->df),
                          cv->dw, cv->dh, vsr_strerror(ret));
    }
    ret = sws_setColorspaceDetails(cv->sws, sws_getCoefficients(sws_matrix(cv->sm)),
                                   cv->sr == AVCOL_RANGE_JPEG, sws_getCoefficients(sws_matrix(cv->dm)),
                                   cv->dr == AVCOL_RANGE_JPEG, 0, 1 << 16, 1 << 16);
    if (ret < 0)
        return vsri_error(VSR_ERROR_UNSUPPORTED, "swscale cannot apply matrix %d / range %d",
                          cv->sm, cv->sr);
    return 0;
}

static int sws_convert(vsri_converter *cv, const AVFrame *src, AVFrame *dst)
{
    enum AVColorSpace sm = src->colorspace, dm = dst->colorspace;
    enum AVColorRange sr = src->color_range, dr = dst->color_range;
    enum AVPixelFormat sf = unjpeg((enum AVPixelFormat)src->format, &sr);
    enum AVPixelFormat df = unjpeg((enum AVPixelFormat)dst->format, &dr);
    vsri_resolve_colour(sf, src->width, src->height, &sm, &sr);
    vsri_resolve_colour(df, dst->width, dst->height, &dm, &dr);
    /* RGB on one side: the YUV side's matrix governs both directions. */
    if (is_rgb(sf))
        sm = dm;
    if (is_rgb(df))
        dm = sm;
    if (!cv->sws || cv->sw != src->width || cv->sh != src->height || cv->sf != sf ||
        cv->dw != dst->width || cv->dh != dst->height || cv->df != df || cv->sm != sm ||
        cv->dm != dm || cv->sr != sr || cv->dr != dr || cv->sloc != src->chroma_location) {
        cv->sw = src->width;
        cv->sh = src->height;
        cv->sf = sf;
        cv->dw = dst->width;
        cv->dh = dst->height;
        cv->df = df;
        cv->sm = sm;
        cv->dm = dm;
        cv->sr = sr;
        cv->dr = dr;
        cv->sloc = src->chroma_location;
        int err = make_context(cv);
        if (err < 0)
            return err;
    }
    int ret = sws_scale(cv->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                        dst->data, dst->linesize);
    if (ret < 0)
        return vsri_error(VSR_ERROR_UNSUPPORTED, "swscale failed: %s", vsr_strerror(ret));
    return 0;
}

/* ------------------------------------------------------------------ */

int vsri_convert_av(vsri_converter *cv, const AVFrame *src, AVFrame *dst)
{
    if (src->width == dst->width && src->height == dst->height) {
        int err = exact_convert(cv, src, dst);
        if (err != NOT_HANDLED)
            return err;
    }
    return sws_convert(cv, src, dst);
}

int vsri_convert_av_swscale(vsri_converter *cv, const AVFrame *src, AVFrame *dst)
{
    return sws_convert(cv, src, dst);
}

int vsri_convert(vsri_converter *cv, const vsr_frame *src, vsr_frame *dst)
{
    return vsri_convert_av(cv, src->av, dst->av);
}
