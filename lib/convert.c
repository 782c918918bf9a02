/* Pixel conversion through swscale with explicit matrix, range and
 * chroma siting (see convert.h). */
#include <stdlib.h>
#include <string.h>

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "convert.h"

struct vsri_converter {
    struct SwsContext *sws;
    /* the parameters sws was made for */
    int sw, sh, dw, dh;
    enum AVPixelFormat sf, df;
    enum AVColorSpace sm, dm;
    enum AVColorRange sr, dr;
    enum AVChromaLocation sloc;
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
    free(*cv);
    *cv = NULL;
}

static int is_rgb(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    return d && (d->flags & AV_PIX_FMT_FLAG_RGB);
}

void vsri_resolve_colour(enum AVPixelFormat fmt, int width, int height,
                         enum AVColorSpace *matrix, enum AVColorRange *range)
{
    if (*matrix == AVCOL_SPC_UNSPECIFIED || *matrix == AVCOL_SPC_RESERVED || *matrix == AVCOL_SPC_RGB)
        *matrix = (height >= 720 || width >= 1280) ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M;
    if (*range == AVCOL_RANGE_UNSPECIFIED) {
        int jpeg = fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_YUVJ422P ||
                   fmt == AV_PIX_FMT_YUVJ444P || fmt == AV_PIX_FMT_YUVJ440P;
        *range = (jpeg || is_rgb(fmt)) ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    }
}

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
    switch (loc) {
    case AVCHROMA_LOC_CENTER: *h = 128; *v = 128; break;
    case AVCHROMA_LOC_TOPLEFT: *h = 0; *v = 0; break;
    case AVCHROMA_LOC_TOP: *h = 128; *v = 0; break;
    case AVCHROMA_LOC_BOTTOMLEFT: *h = 0; *v = 256; break;
    case AVCHROMA_LOC_BOTTOM: *h = 128; *v = 256; break;
    default: *h = 0; *v = 128; break; /* "left": MPEG-2/H.264's default */
    }
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

int vsri_convert_av(vsri_converter *cv, const AVFrame *src, AVFrame *dst)
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

int vsri_convert(vsri_converter *cv, const vsr_frame *src, vsr_frame *dst)
{
    return vsri_convert_av(cv, src->av, dst->av);
}
