/* vsr_frame: reference counting, allocation, wrapping and accessors. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include "convert.h"
#include "ffmpeg_compat.h"
#include "frame_internal.h"

static const struct {
    vsr_pixfmt vsr;
    enum AVPixelFormat av;
} pixfmt_map[] = {
    {VSR_PIXFMT_RGBF32, AV_PIX_FMT_GBRPF32},
    {VSR_PIXFMT_RGB24, AV_PIX_FMT_RGB24},
    {VSR_PIXFMT_RGB48, AV_PIX_FMT_RGB48LE},
    {VSR_PIXFMT_YUV420P, AV_PIX_FMT_YUV420P},
    {VSR_PIXFMT_YUV422P, AV_PIX_FMT_YUV422P},
    {VSR_PIXFMT_YUV444P, AV_PIX_FMT_YUV444P},
    {VSR_PIXFMT_YUV420P10, AV_PIX_FMT_YUV420P10LE},
    {VSR_PIXFMT_YUV422P10, AV_PIX_FMT_YUV422P10LE},
    {VSR_PIXFMT_YUV444P10, AV_PIX_FMT_YUV444P10LE},
    {VSR_PIXFMT_NV12, AV_PIX_FMT_NV12},
    {VSR_PIXFMT_P010, AV_PIX_FMT_P010LE},
    {VSR_PIXFMT_GBRP, AV_PIX_FMT_GBRP},
    {VSR_PIXFMT_GBRP10, AV_PIX_FMT_GBRP10LE},
    {VSR_PIXFMT_GRAY8, AV_PIX_FMT_GRAY8},
    {VSR_PIXFMT_YUVJ420P, AV_PIX_FMT_YUVJ420P},
};

enum AVPixelFormat vsri_pixfmt_to_av(vsr_pixfmt f)
{
    for (size_t i = 0; i < sizeof(pixfmt_map) / sizeof(pixfmt_map[0]); i++)
        if (pixfmt_map[i].vsr == f)
            return pixfmt_map[i].av;
    return AV_PIX_FMT_NONE;
}

vsr_pixfmt vsri_pixfmt_from_av(enum AVPixelFormat f)
{
    for (size_t i = 0; i < sizeof(pixfmt_map) / sizeof(pixfmt_map[0]); i++)
        if (pixfmt_map[i].av == f)
            return pixfmt_map[i].vsr;
    return f == AV_PIX_FMT_NONE ? VSR_PIXFMT_NONE : VSR_PIXFMT_OTHER;
}

static vsr_frame *frame_new(void)
{
    vsr_frame *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->av = av_frame_alloc();
    if (!f->av) {
        free(f);
        return NULL;
    }
    atomic_init(&f->refs, 1);
    f->av->pts = AV_NOPTS_VALUE;
    return f;
}

static int check_size(int width, int height, const char *what)
{
    if (width <= 0 || height <= 0 || av_image_check_size((unsigned)width, (unsigned)height, 0, NULL) < 0)
        return vsri_error(VSR_EINVAL, "%s: invalid frame size %dx%d", what, width, height);
    return 0;
}

/* RGBF32 planes inside one CHW block, in GBRP plane order. */
static void set_rgbf32_planes(AVFrame *av, float *chw, int width, int height)
{
    size_t plane = (size_t)width * height;
    av->data[0] = (uint8_t *)(chw + plane);     /* G */
    av->data[1] = (uint8_t *)(chw + 2 * plane); /* B */
    av->data[2] = (uint8_t *)chw;               /* R */
    for (int i = 0; i < 3; i++)
        av->linesize[i] = width * (int)sizeof(float);
}

int vsr_frame_alloc(vsr_frame **out, vsr_pixfmt format, int width, int height)
{
    *out = NULL;
    int err = check_size(width, height, "vsr_frame_alloc");
    if (err < 0)
        return err;
    enum AVPixelFormat avf = vsri_pixfmt_to_av(format);
    if (avf == AV_PIX_FMT_NONE)
        return vsri_error(VSR_EINVAL, "vsr_frame_alloc: pixel format %d has no layout", (int)format);
    vsr_frame *f = frame_new();
    if (!f)
        return VSR_ENOMEM;
    f->format = format;
    f->av->format = avf;
    f->av->width = width;
    f->av->height = height;
    if (format == VSR_PIXFMT_RGBF32) {
        size_t bytes = (size_t)width * height * 3 * sizeof(float);
        AVBufferRef *buf = av_buffer_alloc(bytes);
        if (!buf) {
            vsr_frame_unref(&f);
            return VSR_ENOMEM;
        }
        f->av->buf[0] = buf;
        set_rgbf32_planes(f->av, (float *)buf->data, width, height);
    } else if (av_frame_get_buffer(f->av, 0) < 0) {
        vsr_frame_unref(&f);
        return VSR_ENOMEM;
    }
    *out = f;
    return 0;
}

/* A frame of an FFmpeg format (named by libvsr or not) with its own buffers. */
static int frame_alloc_av(vsr_frame **out, enum AVPixelFormat avf, int width, int height)
{
    *out = NULL;
    vsr_frame *f = frame_new();
    if (!f)
        return VSR_ENOMEM;
    f->format = vsri_pixfmt_from_av(avf);
    f->av->format = avf;
    f->av->width = width;
    f->av->height = height;
    if (av_frame_get_buffer(f->av, 0) < 0) {
        vsr_frame_unref(&f);
        return VSR_ENOMEM;
    }
    *out = f;
    return 0;
}

int vsri_frame_wrap_rgbf32(vsr_frame **out, AVBufferRef *buf, float *chw, int width, int height)
{
    *out = NULL;
    vsr_frame *f = frame_new();
    if (!f)
        return VSR_ENOMEM;
    f->av->buf[0] = av_buffer_ref(buf);
    if (!f->av->buf[0]) {
        vsr_frame_unref(&f);
        return VSR_ENOMEM;
    }
    f->format = VSR_PIXFMT_RGBF32;
    f->av->format = AV_PIX_FMT_GBRPF32;
    f->av->width = width;
    f->av->height = height;
    set_rgbf32_planes(f->av, chw, width, height);
    *out = f;
    return 0;
}

typedef struct wrap_owner {
    void (*free_cb)(void *opaque);
    void *opaque;
} wrap_owner;

static void wrap_release(void *opaque, uint8_t *data)
{
    (void)data;
    wrap_owner *o = opaque;
    if (o->free_cb)
        o->free_cb(o->opaque);
    free(o);
}

int vsr_frame_wrap(vsr_frame **out, vsr_pixfmt format, int width, int height,
                   uint8_t *const data[4], const ptrdiff_t linesize[4],
                   void (*free_cb)(void *opaque), void *opaque)
{
    *out = NULL;
    int err = check_size(width, height, "vsr_frame_wrap");
    if (err < 0)
        return err;
    enum AVPixelFormat avf = vsri_pixfmt_to_av(format);
    if (avf == AV_PIX_FMT_NONE || !data || !linesize)
        return vsri_error(VSR_EINVAL, "vsr_frame_wrap: pixel format %d or planes invalid", (int)format);
    int planes = av_pix_fmt_count_planes(avf);
    for (int p = 0; p < planes; p++) {
        if (!data[p] || linesize[p] <= 0 || linesize[p] > INT32_MAX)
            return vsri_error(VSR_EINVAL, "vsr_frame_wrap: plane %d has no data or a bad stride", p);
    }
    wrap_owner *owner = malloc(sizeof(*owner));
    vsr_frame *f = frame_new();
    AVBufferRef *buf = owner ? av_buffer_create(data[0], 1, wrap_release, owner, 0) : NULL;
    if (!f || !buf) {
        /* the caller keeps ownership when wrapping fails */
        free(owner);
        av_buffer_unref(&buf);
        vsr_frame_unref(&f);
        return VSR_ENOMEM;
    }
    owner->free_cb = free_cb;
    owner->opaque = opaque;
    f->format = format;
    f->av->format = avf;
    f->av->width = width;
    f->av->height = height;
    f->av->buf[0] = buf;
    if (format == VSR_PIXFMT_RGBF32) {
        /* public plane order R, G, B -> GBRP order */
        f->av->data[0] = data[1];
        f->av->data[1] = data[2];
        f->av->data[2] = data[0];
        f->av->linesize[0] = (int)linesize[1];
        f->av->linesize[1] = (int)linesize[2];
        f->av->linesize[2] = (int)linesize[0];
    } else {
        for (int p = 0; p < planes; p++) {
            f->av->data[p] = data[p];
            f->av->linesize[p] = (int)linesize[p];
        }
    }
    *out = f;
    return 0;
}

int vsri_frame_from_av(vsr_frame **out, AVFrame *av, vsr_rational time_base)
{
    *out = NULL;
    vsr_frame *f = frame_new();
    if (!f)
        return VSR_ENOMEM;
    av_frame_move_ref(f->av, av);
    f->format = vsri_pixfmt_from_av((enum AVPixelFormat)f->av->format);
    f->time_base = time_base;
    *out = f;
    return 0;
}

vsr_frame *vsr_frame_ref(vsr_frame *f)
{
    if (f)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void vsr_frame_unref(vsr_frame **pf)
{
    if (!pf || !*pf)
        return;
    vsr_frame *f = *pf;
    *pf = NULL;
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        av_frame_free(&f->av);
        free(f);
    }
}

int vsr_frame_width(const vsr_frame *f) { return f ? f->av->width : 0; }
int vsr_frame_height(const vsr_frame *f) { return f ? f->av->height : 0; }
vsr_pixfmt vsr_frame_format(const vsr_frame *f) { return f ? f->format : VSR_PIXFMT_NONE; }

const char *vsr_frame_format_name(const vsr_frame *f)
{
    if (!f)
        return "none";
    if (f->format == VSR_PIXFMT_RGBF32)
        return "rgbf32";
    const char *n = av_get_pix_fmt_name((enum AVPixelFormat)f->av->format);
    return n ? n : "unknown";
}

int vsr_frame_bit_depth(const vsr_frame *f)
{
    if (!f)
        return 0;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->av->format);
    return d ? d->comp[0].depth : 0;
}

int vsr_frame_planes(const vsr_frame *f)
{
    return f ? av_pix_fmt_count_planes((enum AVPixelFormat)f->av->format) : 0;
}

/* Public plane index -> AVFrame plane index (RGBF32 is stored as G,B,R). */
static int av_plane(const vsr_frame *f, int plane)
{
    static const int rgbf32[3] = {2, 0, 1};
    if (plane < 0 || plane >= vsr_frame_planes(f))
        return -1;
    return f->format == VSR_PIXFMT_RGBF32 ? rgbf32[plane] : plane;
}

uint8_t *vsr_frame_data(const vsr_frame *f, int plane)
{
    int p = f ? av_plane(f, plane) : -1;
    return p < 0 ? NULL : f->av->data[p];
}

ptrdiff_t vsr_frame_linesize(const vsr_frame *f, int plane)
{
    int p = f ? av_plane(f, plane) : -1;
    return p < 0 ? 0 : f->av->linesize[p];
}

static int plane_dim(const vsr_frame *f, int plane, int full, int shift)
{
    int p = f ? av_plane(f, plane) : -1;
    if (p < 0)
        return 0;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->av->format);
    int chroma = d && !(d->flags & AV_PIX_FMT_FLAG_RGB) && (p == 1 || p == 2);
    return chroma ? -((-full) >> shift) : full;
}

int vsr_frame_plane_width(const vsr_frame *f, int plane)
{
    if (!f)
        return 0;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->av->format);
    return plane_dim(f, plane, f->av->width, d ? d->log2_chroma_w : 0);
}

int vsr_frame_plane_height(const vsr_frame *f, int plane)
{
    if (!f)
        return 0;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->av->format);
    return plane_dim(f, plane, f->av->height, d ? d->log2_chroma_h : 0);
}

/* Setters change a frame in place: only its one owner may. */
static int check_settable(const vsr_frame *f, const char *what)
{
    if (!f)
        return vsri_error(VSR_EINVAL, "%s: no frame", what);
    if (atomic_load_explicit(&f->refs, memory_order_acquire) > 1)
        return vsri_error(VSR_EINVAL, "frame is shared: %s refused while other references exist "
                                      "(vsr_frame_make_writable() gives a private copy)",
                          what);
    return 0;
}

int64_t vsr_frame_pts(const vsr_frame *f)
{
    return f && f->av->pts != AV_NOPTS_VALUE ? f->av->pts : INT64_MIN;
}

int vsr_frame_set_pts(vsr_frame *f, int64_t pts)
{
    int err = check_settable(f, "vsr_frame_set_pts");
    if (err < 0)
        return err;
    f->av->pts = pts == INT64_MIN ? AV_NOPTS_VALUE : pts;
    return 0;
}

int64_t vsr_frame_duration(const vsr_frame *f)
{
    return f ? VSRI_FRAME_DURATION(f->av) : 0;
}

int vsr_frame_set_duration(vsr_frame *f, int64_t duration)
{
    int err = check_settable(f, "vsr_frame_set_duration");
    if (err < 0)
        return err;
    VSRI_FRAME_DURATION(f->av) = duration;
    return 0;
}

vsr_rational vsr_frame_time_base(const vsr_frame *f)
{
    return f ? f->time_base : (vsr_rational){0, 1};
}

int vsr_frame_set_time_base(vsr_frame *f, vsr_rational tb)
{
    int err = check_settable(f, "vsr_frame_set_time_base");
    if (err < 0)
        return err;
    f->time_base = tb;
    return 0;
}

int vsr_frame_set_user_data(vsr_frame *f, void *user)
{
    int err = check_settable(f, "vsr_frame_set_user_data");
    if (err < 0)
        return err;
    f->user_data = user;
    return 0;
}

void *vsr_frame_user_data(const vsr_frame *f)
{
    return f ? f->user_data : NULL;
}

int vsr_frame_is_writable(const vsr_frame *f)
{
    /* av_frame_is_writable: every buffer referenced once, none read-only */
    return f && atomic_load_explicit(&f->refs, memory_order_acquire) == 1 && av_frame_is_writable(f->av) ? 1 : 0;
}

int vsr_frame_make_writable(vsr_frame **pf)
{
    if (!pf || !*pf)
        return vsri_error(VSR_EINVAL, "vsr_frame_make_writable: no frame");
    vsr_frame *src = *pf;
    if (vsr_frame_is_writable(src))
        return 0;
    vsr_frame *copy = NULL;
    int err = src->format == VSR_PIXFMT_RGBF32
                  ? vsr_frame_alloc(&copy, VSR_PIXFMT_RGBF32, src->av->width, src->av->height)
                  : frame_alloc_av(&copy, (enum AVPixelFormat)src->av->format, src->av->width, src->av->height);
    if (err >= 0 && av_frame_copy(copy->av, src->av) < 0)
        err = vsri_error(VSR_EINVAL, "vsr_frame_make_writable: cannot copy a %s frame", vsr_frame_format_name(src));
    if (err >= 0)
        err = vsri_frame_copy_props(copy, src);
    if (err < 0) {
        vsr_frame_unref(&copy);
        return err;
    }
    vsr_frame_unref(pf);
    *pf = copy;
    return 0;
}

void vsr_frame_get_colour(const vsr_frame *f, vsr_colour *c)
{
    memset(c, 0, sizeof(*c));
    if (!f)
        return;
    c->matrix = f->av->colorspace;
    c->range = f->av->color_range;
    c->primaries = f->av->color_primaries;
    c->transfer = f->av->color_trc;
    c->chroma_location = f->av->chroma_location;
}

int vsr_frame_set_colour(vsr_frame *f, const vsr_colour *c)
{
    int err = check_settable(f, "vsr_frame_set_colour");
    if (err < 0)
        return err;
    if (!c)
        return vsri_error(VSR_EINVAL, "vsr_frame_set_colour: no colour description");
    f->av->colorspace = (enum AVColorSpace)c->matrix;
    f->av->color_range = (enum AVColorRange)c->range;
    f->av->color_primaries = (enum AVColorPrimaries)c->primaries;
    f->av->color_trc = (enum AVColorTransferCharacteristic)c->transfer;
    f->av->chroma_location = (enum AVChromaLocation)c->chroma_location;
    return 0;
}

int vsri_frame_copy_props(vsr_frame *dst, const vsr_frame *src)
{
    /* av_frame_copy_props copies pts, duration, colour and side data. */
    if (av_frame_copy_props(dst->av, src->av) < 0)
        return VSR_ENOMEM;
    dst->time_base = src->time_base;
    dst->user_data = src->user_data;
    return 0;
}

static int is_rgb_format(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    return d && (d->flags & AV_PIX_FMT_FLAG_RGB);
}

int vsr_frame_convert(vsr_frame **out, const vsr_frame *src, vsr_pixfmt format, int width, int height)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsr_frame_convert: no output pointer");
    *out = NULL;
    vsri_converter *cv = vsri_converter_alloc();
    if (!cv)
        return VSR_ENOMEM;
    int err = vsri_frame_convert(cv, src, format, width, height, out);
    vsri_converter_free(&cv);
    return err;
}

int vsri_frame_convert(vsri_converter *cv, const vsr_frame *src, vsr_pixfmt format, int width, int height,
                       vsr_frame **out)
{
    *out = NULL;
    if (!src)
        return vsri_error(VSR_EINVAL, "vsr_frame_convert: no source frame");
    vsr_frame *dst;
    int err = vsr_frame_alloc(&dst, format, width, height);
    if (err < 0)
        return err;
    /* The destination carries the source's colour description, made
     * explicit, and the conversion uses exactly that description. On an RGB
     * frame, matrix and range describe the video it came from (or is going
     * to): RGB samples are full range by nature, so only "limited" on an
     * RGB frame says something; otherwise video gets its usual range. */
    err = vsri_frame_copy_props(dst, src);
    if (err >= 0) {
        enum AVPixelFormat sf = (enum AVPixelFormat)src->av->format, df = (enum AVPixelFormat)dst->av->format;
        enum AVColorSpace m = src->av->colorspace;
        enum AVColorRange r = src->av->color_range;
        if (is_rgb_format(sf) && r != AVCOL_RANGE_MPEG && !is_rgb_format(df))
            r = AVCOL_RANGE_UNSPECIFIED;
        vsri_resolve_colour(is_rgb_format(sf) ? df : sf, src->av->width, src->av->height, &m, &r);
        dst->av->colorspace = m;
        dst->av->color_range = r;
        err = vsri_convert(cv, src, dst);
    }
    if (err < 0) {
        vsr_frame_unref(&dst);
        return err;
    }
    *out = dst;
    return 0;
}
