/*
 * vsr_output: encode frames with a libavcodec encoder and mux them, with
 * the source's other streams, chapters, metadata, colour description and
 * HDR side data copied. The file is written as "<path>.partial" and only
 * renamed to <path> once the trailer is written, so a file at <path> is
 * always complete; an unfinished output is removed.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "checked_math.h"
#include "convert.h"
#include "ffmpeg_compat.h"
#include "frame_internal.h"
#include "stream_internal.h"

struct vsr_output {
    char *path;
    char *partial;
    vsr_output_settings s;
    char *codec_name, *preset, *pix_fmt, *options; /* owned copies of the settings' strings */
    vsr_input *src;
    const AVOutputFormat *ofmt;
    const AVCodec *codec;
    AVFormatContext *oc;
    AVIOContext *pb;
    AVCodecContext *enc;
    AVStream *vst;
    int *map;            /* source stream index -> output stream index, -1 = not copied */
    int nb_map;
    int opened;          /* encoder and header written */
    int closed_gop;      /* a segment of a longer encode: x264/x265 close every GOP */
    int finished;
    AVFrame *encframe;
    AVPacket *pkt;
    vsri_converter *cv;
    int64_t frames;
    int64_t convert_ns, encode_ns; /* time spent in the last write */
    int64_t last_pts;
    int64_t video_end_us;
    AVRational frame_tb;
    /* copied packets: the window they must start in (input clock) and how
     * far they move back; set by the run's decode thread, read here */
    _Atomic int64_t copy_start_us, copy_end_us, copy_shift_us;
};

void vsr_output_settings_default(vsr_output_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->codec = NULL;
    s->crf = 18;
    s->preset = NULL;
    s->pix_fmt = NULL;
    s->bitrate = 0;
    s->threads = 0;
    s->options = NULL;
    s->copy_streams = 1;
    s->overwrite = 1;
    s->frame_rate = (vsr_rational){25, 1};
}

static int out_error(vsr_output *o, int code, const char *fmt, ...) VSRI_PRINTF(3, 4);
static int out_error(vsr_output *o, int code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return vsri_error(code, "output '%s': %s", o->path, msg);
}

static int is_matroska(const AVOutputFormat *f)
{
    return strstr(f->name, "matroska") != NULL || strcmp(f->name, "webm") == 0;
}

/* Decide which source streams can be copied into this container. */
static int plan_copies(vsr_output *o)
{
    const AVFormatContext *ic = vsri_input_format(o->src);
    const AVStream *vin = vsri_input_video_stream(o->src);
    o->nb_map = (int)ic->nb_streams;
    o->map = malloc(sizeof(int) * (o->nb_map ? o->nb_map : 1));
    uint8_t *keep = calloc(o->nb_map ? o->nb_map : 1, 1);
    if (!o->map || !keep) {
        free(keep);
        return VSR_ENOMEM;
    }
    for (int i = 0; i < o->nb_map; i++) {
        o->map[i] = -1;
        const AVStream *st = ic->streams[i];
        enum AVMediaType t = st->codecpar->codec_type;
        if (st == vin || !o->s.copy_streams)
            continue;
        if (t != AVMEDIA_TYPE_AUDIO && t != AVMEDIA_TYPE_SUBTITLE && t != AVMEDIA_TYPE_ATTACHMENT)
            continue;
        if (st->disposition & AV_DISPOSITION_ATTACHED_PIC)
            continue; /* cover art: a second video stream we do not re-encode */
        int ok;
        if (t == AVMEDIA_TYPE_ATTACHMENT)
            ok = is_matroska(o->ofmt) && strcmp(o->ofmt->name, "webm") != 0;
        else
            ok = avformat_query_codec(o->ofmt, st->codecpar->codec_id, FF_COMPLIANCE_NORMAL) == 1;
        if (!ok) {
            vsri_log(VSR_LOG_WARNING,
                     "output '%s': stream %d (%s %s) cannot be stored in %s and is not copied "
                     "(a .mkv output keeps it)",
                     o->path, i, av_get_media_type_string(t), avcodec_get_name(st->codecpar->codec_id),
                     o->ofmt->name);
            continue;
        }
        keep[i] = 1;
        o->map[i] = 0; /* output index assigned when the streams are created */
    }
    int err = vsri_input_copy_streams(o->src, keep);
    free(keep);
    return err;
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

int vsr_output_open(vsr_output **out, const char *path, vsr_input *src, const vsr_output_settings *s)
{
    *out = NULL;
    if (!path || !*path)
        return vsri_error(VSR_EINVAL, "vsr_output_open: no path");
    vsr_output *o = calloc(1, sizeof(*o));
    if (!o)
        return VSR_ENOMEM;
    vsr_output_settings_default(&o->s);
    int err = s ? VSRI_SETTINGS_IN(&o->s, s, "vsr_output_settings") : 0;
    int oom = 0;
    o->path = dup_or_null(path, &oom);
    o->codec_name = dup_or_null(o->s.codec, &oom);
    o->preset = dup_or_null(o->s.preset, &oom);
    o->pix_fmt = dup_or_null(o->s.pix_fmt, &oom);
    o->options = dup_or_null(o->s.options, &oom);
    size_t n = strlen(path) + 9;
    o->partial = malloc(n);
    if (err < 0 || oom || !o->partial) {
        vsr_output_close(&o);
        return err < 0 ? err : VSR_ENOMEM;
    }
    snprintf(o->partial, n, "%s.partial", path);
    o->src = src;
    o->last_pts = INT64_MIN;
    o->video_end_us = INT64_MIN;
    atomic_init(&o->copy_start_us, INT64_MIN);
    atomic_init(&o->copy_end_us, INT64_MAX);
    atomic_init(&o->copy_shift_us, 0);

    o->ofmt = av_guess_format(NULL, path, NULL);
    if (!o->ofmt) {
        err = out_error(o, VSR_EINVAL, "no container format for this file name extension "
                                       "(use e.g. .mkv, .mp4, .mov, .webm)");
        goto fail;
    }
    const char *cname = o->codec_name;
    if (!cname)
        cname = strcmp(o->ofmt->name, "webm") == 0 ? "libvpx-vp9" : "libx264";
    o->codec = avcodec_find_encoder_by_name(cname);
    if (!o->codec || o->codec->type != AVMEDIA_TYPE_VIDEO) {
        err = out_error(o, VSR_EINVAL, "unknown video encoder '%s'", cname);
        goto fail;
    }
    if (avformat_query_codec(o->ofmt, o->codec->id, FF_COMPLIANCE_NORMAL) == 0) {
        err = out_error(o, VSR_EINVAL, "the %s container cannot hold %s video", o->ofmt->name, cname);
        goto fail;
    }
    if (o->s.crf < -1 || o->s.crf > 63 || o->s.threads < 0 || o->s.bitrate < 0) {
        err = out_error(o, VSR_EINVAL, "crf must be -1..63 and threads and bitrate not negative");
        goto fail;
    }
    if (o->pix_fmt && av_get_pix_fmt(o->pix_fmt) == AV_PIX_FMT_NONE) {
        err = out_error(o, VSR_EINVAL, "unknown pixel format '%s'", o->pix_fmt);
        goto fail;
    }
    if (src) {
        const char *ipath = vsri_input_path(src);
        char a[PATH_MAX], b[PATH_MAX];
        if (ipath && realpath(ipath, a) && realpath(path, b) && strcmp(a, b) == 0) {
            err = out_error(o, VSR_EINVAL, "is the input file; choose another output name");
            goto fail;
        }
    }
    if (!o->s.overwrite && access(path, F_OK) == 0) {
        err = out_error(o, VSR_ERR(EEXIST), "exists (overwrite is off)");
        goto fail;
    }
    /* Open the file now: an unwritable path fails before any work. */
    int ret = avio_open(&o->pb, o->partial, AVIO_FLAG_WRITE);
    if (ret < 0) {
        err = out_error(o, VSR_ERROR_OUTPUT, "cannot create '%s': %s", o->partial, vsr_strerror(ret));
        goto fail;
    }
    if (src && (err = plan_copies(o)) < 0)
        goto fail;
    *out = o;
    return 0;
fail:
    vsr_output_close(&o);
    return err;
}

static int is_rgb_format(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    return d && (d->flags & AV_PIX_FMT_FLAG_RGB);
}

static int pix_fmt_supported(const AVCodec *c, enum AVPixelFormat f)
{
    const enum AVPixelFormat *fmts = vsri_encoder_pix_fmts(c);
    if (!fmts)
        return 1;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == f)
            return 1;
    return 0;
}

/* JPEG-range formats are deprecated aliases: encode the plain format and
 * carry the range in the colour description instead. */
static enum AVPixelFormat plain_yuv(enum AVPixelFormat f)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: return AV_PIX_FMT_YUV444P;
    default: return f;
    }
}

/* The encoder's pixel format: what the user asked for; else the source's
 * own format when the encoder takes it (so 10-bit stays 10-bit and 4:2:2
 * stays 4:2:2); else the encoder's closest match. ProRes defaults to
 * 4:2:2 10-bit, the mezzanine choice. */
static int choose_pix_fmt(vsr_output *o, int w, int h, enum AVPixelFormat *chosen)
{
    const AVCodec *c = o->codec;
    if (o->pix_fmt) {
        enum AVPixelFormat f = av_get_pix_fmt(o->pix_fmt);
        if (!pix_fmt_supported(c, f))
            return out_error(o, VSR_EINVAL, "encoder %s does not take pixel format %s", c->name, o->pix_fmt);
        *chosen = f;
        return 0;
    }
    enum AVPixelFormat want = AV_PIX_FMT_YUV420P;
    if (strcmp(c->name, "prores_ks") == 0)
        want = AV_PIX_FMT_YUV422P10LE;
    else if (o->src)
        want = plain_yuv((enum AVPixelFormat)vsri_input_video_stream(o->src)->codecpar->format);
    else if (strcmp(c->name, "ffv1") == 0)
        want = AV_PIX_FMT_YUV444P;
    const enum AVPixelFormat *fmts = vsri_encoder_pix_fmts(c);
    enum AVPixelFormat f = pix_fmt_supported(c, want) ? want
                         : fmts                       ? avcodec_find_best_pix_fmt_of_list(fmts, want, 0, NULL)
                                                      : want;
    /* odd sizes cannot be chroma-subsampled by most encoders */
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    if (d && ((w & 1 && d->log2_chroma_w) || (h & 1 && d->log2_chroma_h))) {
        enum AVPixelFormat full = d->comp[0].depth > 8 ? AV_PIX_FMT_YUV444P10LE : AV_PIX_FMT_YUV444P;
        if (pix_fmt_supported(c, full)) {
            vsri_log(VSR_LOG_INFO, "output '%s': %dx%d is odd-sized; using %s instead of %s", o->path, w, h,
                     av_get_pix_fmt_name(full), av_get_pix_fmt_name(f));
            f = full;
        }
    }
    if (f == AV_PIX_FMT_NONE)
        return out_error(o, VSR_EINVAL, "encoder %s has no usable pixel format", c->name);
    *chosen = f;
    return 0;
}

/* Statistics tags that Matroska muxers write describe the old stream. */
static int stale_tag(const char *key)
{
    return av_strstart(key, "BPS", NULL) || av_strstart(key, "NUMBER_OF_", NULL) ||
           av_strstart(key, "DURATION", NULL) || av_strstart(key, "_STATISTICS", NULL) ||
           strcmp(key, "ENCODER") == 0 || strcmp(key, "encoder") == 0 || strcmp(key, "handler_name") == 0;
}

static int copy_tags(AVDictionary **dst, const AVDictionary *src)
{
    const AVDictionaryEntry *e = NULL;
    while ((e = av_dict_get(src, "", e, AV_DICT_IGNORE_SUFFIX)))
        if (!stale_tag(e->key) && av_dict_set(dst, e->key, e->value, 0) < 0)
            return VSR_ENOMEM;
    return 0;
}

/* HDR10 static metadata of the source: per stream (as Matroska stores it),
 * else on the frame being written, else on the source's first decoded
 * frame (HEVC carries it in SEI; frames a caller makes have none). */
static const void *hdr_side_data(const vsr_output *o, const vsr_frame *f, enum AVPacketSideDataType pkt_type,
                                 enum AVFrameSideDataType frame_type, size_t *size)
{
    *size = 0;
    const AVStream *vin = o->src ? vsri_input_video_stream(o->src) : NULL;
    const uint8_t *d = vin ? vsri_stream_side_data(vin, pkt_type, size) : NULL;
    if (d)
        return d;
    const AVFrameSideData *sd = f ? av_frame_get_side_data(f->av, frame_type) : NULL;
    if (sd) {
        *size = sd->size;
        return sd->data;
    }
    return o->src ? vsri_input_hdr(o->src, frame_type, size) : NULL;
}

/* A mastering display value from the file in x265's fixed-point units
 * (value * scale, rounded); 0 when it is not a finite number in 0..max. */
static int x265_fixed(AVRational q, double scale, long long max, long long *out)
{
    if (q.num < 0 || q.den <= 0)
        return 0;
    int64_t i;
    if (!vsri_double_to_i64((double)q.num / q.den * scale + 0.5, &i) || i > max)
        return 0;
    *out = i;
    return 1;
}

static int add_encoder_options(vsr_output *o, AVDictionary **opts, const AVStream *vin, const vsr_frame *f)
{
    const char *name = o->codec->name;
    int x26x = strcmp(name, "libx264") == 0 || strcmp(name, "libx265") == 0;
    char buf[512];
    if (x26x && o->s.crf >= 0 && !o->s.bitrate) {
        snprintf(buf, sizeof(buf), "%d", o->s.crf);
        av_dict_set(opts, "crf", buf, 0);
    }
    if (x26x || strcmp(name, "libsvtav1") == 0)
        av_dict_set(opts, "preset", o->preset ? o->preset : (x26x ? "medium" : "8"), 0);
    if (strcmp(name, "prores_ks") == 0) {
        av_dict_set(opts, "profile", "hq", 0);
        av_dict_set(opts, "vendor", "apl0", 0);
    }
    if (strcmp(name, "ffv1") == 0) {
        av_dict_set(opts, "level", "3", 0);   /* slices: multithreaded, with CRCs */
        av_dict_set(opts, "slicecrc", "1", 0);
    }
    if (strcmp(name, "libx265") == 0) {
        /* x265 writes HDR10 SEI only from its own parameters */
        size_t md_size = 0, cll_size = 0;
        const AVMasteringDisplayMetadata *md = hdr_side_data(o, f, AV_PKT_DATA_MASTERING_DISPLAY_METADATA,
                                                             AV_FRAME_DATA_MASTERING_DISPLAY_METADATA, &md_size);
        const AVContentLightMetadata *cll = hdr_side_data(o, f, AV_PKT_DATA_CONTENT_LIGHT_LEVEL,
                                                          AV_FRAME_DATA_CONTENT_LIGHT_LEVEL, &cll_size);
        if (md_size < sizeof(*md))
            md = NULL;
        if (cll_size < sizeof(*cll))
            cll = NULL;
        vsri_strbuf p;
        vsri_sb_init(&p);
        long long v[10];
        if (md && md->has_primaries && md->has_luminance) {
            /* x265 order G, B, R, white point; chromaticity in 1/50000, luminance in 1/10000 cd/m2 */
            const int order[3] = {1, 2, 0};
            int ok = 1;
            for (int i = 0; i < 3; i++)
                for (int xy = 0; xy < 2; xy++)
                    ok &= x265_fixed(md->display_primaries[order[i]][xy], 50000, 50000, &v[2 * i + xy]);
            ok &= x265_fixed(md->white_point[0], 50000, 50000, &v[6]);
            ok &= x265_fixed(md->white_point[1], 50000, 50000, &v[7]);
            ok &= x265_fixed(md->max_luminance, 10000, UINT32_MAX, &v[8]);
            ok &= x265_fixed(md->min_luminance, 10000, UINT32_MAX, &v[9]);
            if (ok)
                vsri_sb_printf(&p, "master-display=G(%lld,%lld)B(%lld,%lld)R(%lld,%lld)WP(%lld,%lld)L(%lld,%lld)",
                               v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]);
            else
                vsri_log(VSR_LOG_WARNING, "output '%s': the source's mastering display metadata is out of range; "
                         "it is not passed to x265", o->path);
        }
        if (cll)
            vsri_sb_printf(&p, "%smax-cll=%u,%u", p.len ? ":" : "", cll->MaxCLL, cll->MaxFALL);
        if (p.len) {
            vsri_sb_puts(&p, ":hdr10-opt=1:repeat-headers=1");
            av_dict_set(opts, "x265-params", p.data, 0);
        }
        vsri_sb_free(&p);
    }
    /* user options last: "key=value;key=value" (values may contain ':' as
     * x265-params do); the user's x265-params are added to ours (HDR) */
    if (o->options && *o->options) {
        AVDictionary *user = NULL;
        int ret = av_dict_parse_string(&user, o->options, "=", ";", 0);
        const AVDictionaryEntry *e = NULL;
        while (ret >= 0 && (e = av_dict_get(user, "", e, AV_DICT_IGNORE_SUFFIX))) {
            const AVDictionaryEntry *ours = av_dict_get(*opts, e->key, NULL, 0);
            if (ours && strcmp(e->key, "x265-params") == 0) {
                char *both = av_asprintf("%s:%s", ours->value, e->value);
                ret = both ? av_dict_set(opts, e->key, both, AV_DICT_DONT_STRDUP_VAL) : AVERROR(ENOMEM);
            } else {
                ret = av_dict_set(opts, e->key, e->value, 0);
            }
        }
        av_dict_free(&user);
        if (ret < 0)
            return out_error(o, VSR_EINVAL, "cannot parse encoder options '%s' (expected key=value;key=value)",
                             o->options);
    }
    /* A segment's first frame is an IDR (a new encoder starts with one);
     * closed GOPs keep every frame's references inside its segment, so
     * segments join by copying packets. Added after the user's options:
     * they cannot open the GOPs again. */
    if (o->closed_gop && x26x) {
        const char *key = strcmp(name, "libx264") == 0 ? "x264-params" : "x265-params";
        const AVDictionaryEntry *cur = av_dict_get(*opts, key, NULL, 0);
        char *v = cur ? av_asprintf("%s:open-gop=0", cur->value) : av_strdup("open-gop=0");
        if (!v || av_dict_set(opts, key, v, AV_DICT_DONT_STRDUP_VAL) < 0)
            return VSR_ENOMEM;
    }
    return 0;
}

static int create_streams(vsr_output *o)
{
    if (!o->src)
        return 0;
    const AVFormatContext *ic = vsri_input_format(o->src);
    for (int i = 0; i < o->nb_map; i++) {
        if (o->map[i] < 0)
            continue;
        const AVStream *is = ic->streams[i];
        AVStream *os = avformat_new_stream(o->oc, NULL);
        if (!os)
            return VSR_ENOMEM;
        int ret = avcodec_parameters_copy(os->codecpar, is->codecpar);
        if (ret < 0)
            return out_error(o, VSR_ENOMEM, "cannot copy stream %d: %s", i, vsr_strerror(ret));
        os->codecpar->codec_tag = 0; /* let the muxer choose its own tag */
        os->time_base = is->time_base;
        os->disposition = is->disposition;
        if (copy_tags(&os->metadata, is->metadata) < 0)
            return VSR_ENOMEM;
        o->map[i] = os->index;
    }
    for (unsigned i = 0; i < ic->nb_chapters; i++) {
        const AVChapter *c = ic->chapters[i];
        AVChapter **grown = av_realloc_array(o->oc->chapters, o->oc->nb_chapters + 1, sizeof(*grown));
        if (!grown)
            return VSR_ENOMEM;
        o->oc->chapters = grown;
        AVChapter *d = av_mallocz(sizeof(*d));
        if (!d)
            return VSR_ENOMEM;
        d->id = c->id;
        d->time_base = c->time_base;
        d->start = c->start;
        d->end = c->end;
        o->oc->chapters[o->oc->nb_chapters++] = d;
        if (copy_tags(&d->metadata, c->metadata) < 0)
            return VSR_ENOMEM;
    }
    return copy_tags(&o->oc->metadata, ic->metadata);
}

/* HDR10 static metadata onto the output stream (the muxer writes it, e.g.
 * Matroska's MasteringMetadata), from the source stream or first frame. */
static int copy_video_side_data(vsr_output *o, const vsr_frame *f)
{
    const struct {
        enum AVPacketSideDataType pkt;
        enum AVFrameSideDataType frame;
    } types[2] = {{AV_PKT_DATA_MASTERING_DISPLAY_METADATA, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA},
                  {AV_PKT_DATA_CONTENT_LIGHT_LEVEL, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL}};
    for (int i = 0; i < 2; i++) {
        size_t size = 0;
        const void *src = hdr_side_data(o, f, types[i].pkt, types[i].frame, &size);
        if (!src)
            continue;
        uint8_t *d = vsri_stream_new_side_data(o->vst, types[i].pkt, size);
        if (!d)
            return VSR_ENOMEM;
        memcpy(d, src, size);
    }
    return 0;
}

static int open_encoder(vsr_output *o, const vsr_frame *f)
{
    int w = f->av->width, h = f->av->height;
    enum AVPixelFormat pix = AV_PIX_FMT_NONE;
    int err = choose_pix_fmt(o, w, h, &pix);
    if (err < 0)
        return err;
    const AVStream *vin = o->src ? vsri_input_video_stream(o->src) : NULL;
    AVRational tb = f->time_base.num > 0 && f->time_base.den > 0
                        ? (AVRational){f->time_base.num, f->time_base.den}
                        : (AVRational){o->s.frame_rate.den, o->s.frame_rate.num};
    if (tb.num <= 0 || tb.den <= 0)
        return out_error(o, VSR_EINVAL, "frames carry no time base and the frame rate setting is invalid");
    o->frame_tb = tb;

    int ret = avformat_alloc_output_context2(&o->oc, o->ofmt, NULL, o->path);
    if (ret < 0)
        return out_error(o, VSR_ENOMEM, "cannot create the %s muxer: %s", o->ofmt->name, vsr_strerror(ret));
    o->oc->pb = o->pb;
    o->pb = NULL; /* now owned by the muxer context */

    o->enc = avcodec_alloc_context3(o->codec);
    o->encframe = av_frame_alloc();
    o->pkt = av_packet_alloc();
    o->cv = vsri_converter_alloc();
    if (!o->enc || !o->encframe || !o->pkt || !o->cv)
        return VSR_ENOMEM;
    AVCodecContext *e = o->enc;
    e->width = w;
    e->height = h;
    e->pix_fmt = pix;
    e->time_base = tb;
    e->sample_aspect_ratio = f->av->sample_aspect_ratio;
    if (vin) {
        AVRational fr = vin->avg_frame_rate.num ? vin->avg_frame_rate : vin->r_frame_rate;
        if (fr.num > 0 && fr.den > 0)
            e->framerate = fr;
        /* the picture is larger but its shape is the same */
        e->sample_aspect_ratio = vin->sample_aspect_ratio.num ? vin->sample_aspect_ratio
                                                              : vin->codecpar->sample_aspect_ratio;
        if (e->sample_aspect_ratio.num <= 0 || e->sample_aspect_ratio.den <= 0)
            e->sample_aspect_ratio = (AVRational){0, 1}; /* a nonsense header value: unknown */
    } else if (o->s.frame_rate.num > 0 && o->s.frame_rate.den > 0) {
        e->framerate = (AVRational){o->s.frame_rate.num, o->s.frame_rate.den};
    }
    /* Colour: the source's description, completed and always written
     * explicitly so players do not have to guess. */
    enum AVColorSpace m = f->av->colorspace;
    /* An RGB frame's "full" range only describes its RGB samples; "limited"
     * on it names the video range it came from. Without that, take a YUV
     * source's range (MJPEG's yuvj formats are full), else the default. */
    enum AVColorRange r = f->av->color_range;
    if (is_rgb_format((enum AVPixelFormat)f->av->format) && r != AVCOL_RANGE_MPEG) {
        r = AVCOL_RANGE_UNSPECIFIED;
        enum AVPixelFormat sf = vin ? (enum AVPixelFormat)vin->codecpar->format : AV_PIX_FMT_NONE;
        if (sf == AV_PIX_FMT_YUVJ420P || sf == AV_PIX_FMT_YUVJ422P || sf == AV_PIX_FMT_YUVJ444P)
            r = AVCOL_RANGE_JPEG;
        else if (vin && sf != AV_PIX_FMT_NONE && !is_rgb_format(sf))
            r = vin->codecpar->color_range;
    }
    vsri_resolve_colour(pix, w, h, &m, &r);
    if (is_rgb_format(pix)) { /* RGB output: no matrix, full range */
        m = AVCOL_SPC_RGB;
        r = AVCOL_RANGE_JPEG;
    }
    e->colorspace = m;
    e->color_range = r;
    e->color_primaries = f->av->color_primaries != AVCOL_PRI_UNSPECIFIED ? f->av->color_primaries
                         : m == AVCOL_SPC_BT709                          ? AVCOL_PRI_BT709
                                                                         : AVCOL_PRI_UNSPECIFIED;
    e->color_trc = f->av->color_trc != AVCOL_TRC_UNSPECIFIED ? f->av->color_trc
                   : m == AVCOL_SPC_BT709                    ? AVCOL_TRC_BT709
                                                             : AVCOL_TRC_UNSPECIFIED;
    e->chroma_sample_location = AVCHROMA_LOC_LEFT;
    e->thread_count = o->s.threads;
    if (o->s.bitrate)
        e->bit_rate = o->s.bitrate;
    if (o->oc->oformat->flags & AVFMT_GLOBALHEADER)
        e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    err = add_encoder_options(o, &opts, vin, f);
    if (err < 0) {
        av_dict_free(&opts);
        return err;
    }
    ret = avcodec_open2(e, o->codec, &opts);
    const AVDictionaryEntry *unused = av_dict_get(opts, "", NULL, AV_DICT_IGNORE_SUFFIX);
    if (ret >= 0 && unused)
        vsri_log(VSR_LOG_WARNING, "output '%s': encoder %s ignored option '%s'", o->path, o->codec->name,
                 unused->key);
    av_dict_free(&opts);
    if (ret < 0)
        return out_error(o, VSR_EINVAL, "cannot open encoder %s for %dx%d %s: %s", o->codec->name, w, h,
                         av_get_pix_fmt_name(pix), vsr_strerror(ret));

    o->vst = avformat_new_stream(o->oc, NULL);
    if (!o->vst)
        return VSR_ENOMEM;
    ret = avcodec_parameters_from_context(o->vst->codecpar, e);
    if (ret < 0)
        return VSR_ENOMEM;
    o->vst->time_base = e->time_base;
    o->vst->avg_frame_rate = e->framerate;
    if (vin) {
        o->vst->disposition = vin->disposition;
        if (copy_tags(&o->vst->metadata, vin->metadata) < 0)
            return VSR_ENOMEM;
    }
    if (copy_video_side_data(o, f) < 0)
        return VSR_ENOMEM;
    err = create_streams(o);
    if (err < 0)
        return err;
    ret = avformat_write_header(o->oc, NULL);
    if (ret < 0)
        return out_error(o, VSR_ERROR_OUTPUT, "cannot write the %s header: %s", o->ofmt->name, vsr_strerror(ret));
    o->opened = 1;
    vsri_log(VSR_LOG_INFO, "output '%s': %s %dx%d %s, %s", o->path, o->codec->name, w, h,
             av_get_pix_fmt_name(pix), av_color_space_name(m));
    return 0;
}

void vsri_output_set_copy_window(vsr_output *o, int64_t start_us, int64_t end_us, int64_t shift_us)
{
    atomic_store(&o->copy_start_us, start_us);
    atomic_store(&o->copy_end_us, end_us);
    atomic_store(&o->copy_shift_us, shift_us);
}

/* A copied packet outside the window is dropped (0); one inside moves
 * back by the shift (1). The packet's start decides, as `ffmpeg -ss -t
 * -c copy` decides. */
static int in_copy_window(vsr_output *o, AVPacket *p, AVRational tb)
{
    int64_t start = atomic_load(&o->copy_start_us), end = atomic_load(&o->copy_end_us);
    int64_t shift = atomic_load(&o->copy_shift_us);
    int64_t ts = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    if (ts != AV_NOPTS_VALUE) {
        int64_t us = av_rescale_q(ts, tb, AV_TIME_BASE_Q);
        if (us < start || us >= end)
            return 0;
    }
    if (shift) {
        int64_t off = av_rescale_q(shift, AV_TIME_BASE_Q, tb);
        if (p->pts != AV_NOPTS_VALUE)
            p->pts -= off;
        if (p->dts != AV_NOPTS_VALUE)
            p->dts -= off;
    }
    return 1;
}

/* Copy the source's queued packets up to a time on the output's clock
 * (INT64_MAX: all). */
static int write_copied_packets(vsr_output *o, int64_t until_us)
{
    if (!o->src)
        return 0;
    AVPacket *p;
    const AVFormatContext *ic = vsri_input_format(o->src);
    int64_t shift = atomic_load(&o->copy_shift_us);
    if (until_us != INT64_MAX && until_us != INT64_MIN)
        until_us += shift; /* the queue holds the input's times */
    while ((p = vsri_input_pop_packet(o->src, until_us))) {
        int i = p->stream_index;
        int oi = i >= 0 && i < o->nb_map ? o->map[i] : -1;
        int ret = 0;
        if (oi >= 0 && in_copy_window(o, p, ic->streams[i]->time_base)) {
            av_packet_rescale_ts(p, ic->streams[i]->time_base, o->oc->streams[oi]->time_base);
            p->stream_index = oi;
            p->pos = -1;
            ret = av_interleaved_write_frame(o->oc, p);
        }
        av_packet_free(&p);
        if (ret < 0)
            return out_error(o, VSR_ERROR_OUTPUT, "write error: %s", vsr_strerror(ret));
    }
    return 0;
}

static int drain_encoder(vsr_output *o)
{
    for (;;) {
        int ret = avcodec_receive_packet(o->enc, o->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return out_error(o, VSR_ERROR_OUTPUT, "encoder %s failed: %s", o->codec->name, vsr_strerror(ret));
        int64_t ts = o->pkt->dts != AV_NOPTS_VALUE ? o->pkt->dts : o->pkt->pts;
        if (ts != AV_NOPTS_VALUE) {
            int err = write_copied_packets(o, av_rescale_q(ts, o->enc->time_base, AV_TIME_BASE_Q));
            if (err < 0) {
                av_packet_unref(o->pkt);
                return err;
            }
        }
        av_packet_rescale_ts(o->pkt, o->enc->time_base, o->vst->time_base);
        o->pkt->stream_index = o->vst->index;
        ret = av_interleaved_write_frame(o->oc, o->pkt);
        if (ret < 0)
            return out_error(o, VSR_ERROR_OUTPUT, "write error: %s", vsr_strerror(ret));
    }
}

int vsr_output_write_frame(vsr_output *o, vsr_frame *f)
{
    if (!o || !f)
        return vsri_error(VSR_EINVAL, "vsr_output_write_frame: no output or frame");
    if (o->finished)
        return out_error(o, VSR_EINVAL, "already finished");
    int err;
    if (o->opened && !o->enc)
        return out_error(o, VSR_EINVAL, "cannot mix encoded frames with copied video packets");
    if (!o->opened && (err = open_encoder(o, f)) < 0)
        return err;
    if (f->av->width != o->enc->width || f->av->height != o->enc->height)
        return out_error(o, VSR_EINVAL, "frame size changed from %dx%d to %dx%d mid-stream", o->enc->width,
                         o->enc->height, f->av->width, f->av->height);
    AVFrame *ef = o->encframe;
    av_frame_unref(ef);
    ef->format = o->enc->pix_fmt;
    ef->width = o->enc->width;
    ef->height = o->enc->height;
    ef->colorspace = o->enc->colorspace;
    ef->color_range = o->enc->color_range;
    ef->color_primaries = o->enc->color_primaries;
    ef->color_trc = o->enc->color_trc;
    ef->chroma_location = o->enc->chroma_sample_location;
    ef->sample_aspect_ratio = o->enc->sample_aspect_ratio;
    /* a fresh buffer per frame: the encoder may still hold the last one */
    if (av_frame_get_buffer(ef, 0) < 0)
        return VSR_ENOMEM;
    int64_t t0 = vsri_now_ns();
    err = vsri_convert_av(o->cv, f->av, ef);
    int64_t t1 = vsri_now_ns();
    o->convert_ns = t1 - t0;
    if (err < 0)
        return err;
    AVRational ftb = f->time_base.num > 0 && f->time_base.den > 0
                         ? (AVRational){f->time_base.num, f->time_base.den}
                         : o->frame_tb;
    /* av_rescale_q gives AV_NOPTS_VALUE for a result out of int64_t's range */
    int64_t pts = f->av->pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(f->av->pts, ftb, o->enc->time_base);
    int64_t next = 0;
    if (o->last_pts != INT64_MIN && !vsri_add_i64(o->last_pts, 1, &next))
        return out_error(o, VSR_EINVAL, "frame %lld: the time stamps have run out of range", (long long)o->frames);
    if (pts == AV_NOPTS_VALUE) {
        pts = next;
    } else if (o->last_pts != INT64_MIN && pts <= o->last_pts) {
        /* encoders refuse repeated timestamps; keep the frame, nudge its time */
        vsri_log(VSR_LOG_WARNING, "output '%s': frame %lld has pts %lld not after %lld; using %lld", o->path,
                 (long long)o->frames, (long long)pts, (long long)o->last_pts, (long long)next);
        pts = next;
    }
    ef->pts = pts;
    int64_t dur = VSRI_FRAME_DURATION(f->av) > 0 ? av_rescale_q(VSRI_FRAME_DURATION(f->av), ftb, o->enc->time_base) : 0;
    VSRI_FRAME_DURATION(ef) = dur > 0 ? dur : 0;
    o->last_pts = pts;
    int ret = avcodec_send_frame(o->enc, ef);
    if (ret < 0)
        return out_error(o, VSR_ERROR_OUTPUT, "encoder %s refused frame %lld: %s", o->codec->name,
                         (long long)o->frames, vsr_strerror(ret));
    o->frames++;
    int64_t end;
    if (!vsri_add_i64(pts, VSRI_FRAME_DURATION(ef) > 0 ? VSRI_FRAME_DURATION(ef) : 1, &end))
        end = pts;
    o->video_end_us = av_rescale_q(end, o->enc->time_base, AV_TIME_BASE_Q);
    err = drain_encoder(o);
    o->encode_ns = vsri_now_ns() - t1;
    return err;
}

void vsri_output_set_closed_gop(vsr_output *o)
{
    o->closed_gop = 1;
}

void vsri_output_last_times(const vsr_output *o, int64_t *convert_ns, int64_t *encode_ns)
{
    *convert_ns = o->convert_ns;
    *encode_ns = o->encode_ns;
}

int vsri_output_write_video_packet(vsr_output *o, AVPacket *pkt, const AVCodecParameters *par, AVRational tb)
{
    if (o->finished || o->enc)
        return out_error(o, VSR_EINVAL, "cannot mix copied video packets with encoded frames");
    int ret;
    if (!o->opened) {
        ret = avformat_alloc_output_context2(&o->oc, o->ofmt, NULL, o->path);
        if (ret < 0)
            return out_error(o, VSR_ENOMEM, "cannot create the %s muxer: %s", o->ofmt->name, vsr_strerror(ret));
        o->oc->pb = o->pb;
        o->pb = NULL;
        o->vst = avformat_new_stream(o->oc, NULL);
        if (!o->vst || avcodec_parameters_copy(o->vst->codecpar, par) < 0)
            return VSR_ENOMEM;
        o->vst->codecpar->codec_tag = 0;
        o->vst->time_base = tb;
        const AVStream *vin = o->src ? vsri_input_video_stream(o->src) : NULL;
        if (vin) {
            o->vst->avg_frame_rate = vin->avg_frame_rate;
            o->vst->disposition = vin->disposition;
            if (copy_tags(&o->vst->metadata, vin->metadata) < 0 || copy_video_side_data(o, NULL) < 0)
                return VSR_ENOMEM;
        }
        int err = create_streams(o);
        if (err < 0)
            return err;
        ret = avformat_write_header(o->oc, NULL);
        if (ret < 0)
            return out_error(o, VSR_ERROR_OUTPUT, "cannot write the %s header: %s", o->ofmt->name,
                             vsr_strerror(ret));
        o->opened = 1;
    }
    int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
    if (ts != AV_NOPTS_VALUE) {
        int err = write_copied_packets(o, av_rescale_q(ts, tb, AV_TIME_BASE_Q));
        if (err < 0)
            return err;
    }
    if (pkt->pts != AV_NOPTS_VALUE) {
        int64_t end;
        if (!vsri_add_i64(pkt->pts, pkt->duration > 0 ? pkt->duration : 1, &end))
            end = pkt->pts;
        int64_t us = av_rescale_q(end, tb, AV_TIME_BASE_Q);
        if (us > o->video_end_us)
            o->video_end_us = us;
    }
    av_packet_rescale_ts(pkt, tb, o->vst->time_base);
    pkt->stream_index = o->vst->index;
    pkt->pos = -1;
    ret = av_interleaved_write_frame(o->oc, pkt);
    if (ret < 0)
        return out_error(o, VSR_ERROR_OUTPUT, "write error: %s", vsr_strerror(ret));
    o->frames++;
    return 0;
}

int64_t vsri_output_video_end_us(const vsr_output *o)
{
    return o->video_end_us;
}

int64_t vsr_output_frames(const vsr_output *o)
{
    return o ? o->frames : 0;
}

static int finish(vsr_output *o);

int vsr_output_finish(vsr_output *o)
{
    if (!o)
        return vsri_error(VSR_EINVAL, "vsr_output_finish: no output");
    if (o->finished)
        return 0;
    int err = finish(o);
    if (err < 0) {
        /* as documented: a failed finish leaves no file behind */
        if (o->oc)
            avio_closep(&o->oc->pb);
        avio_closep(&o->pb);
        remove(o->partial);
    }
    return err;
}

static int finish(vsr_output *o)
{
    if (!o->opened)
        return out_error(o, VSR_ERROR_OUTPUT, "no frames were written; nothing to finish");
    int ret, err;
    if (o->enc) { /* not in packet-copy mode */
        ret = avcodec_send_frame(o->enc, NULL);
        if (ret < 0 && ret != AVERROR_EOF)
            return out_error(o, VSR_ERROR_OUTPUT, "cannot flush encoder %s: %s", o->codec->name,
                             vsr_strerror(ret));
        err = drain_encoder(o);
        if (err < 0)
            return err;
    }
    /* The rest of the source's other streams: all of them when the input
     * was read to its end; after a cancel, only what the video covers. */
    if (o->src) {
        err = write_copied_packets(o, vsri_input_packets_done(o->src) ? INT64_MAX : o->video_end_us);
        if (err < 0)
            return err;
        vsri_input_stop_copy(o->src);
    }
    ret = av_write_trailer(o->oc);
    if (ret < 0)
        return out_error(o, VSR_ERROR_OUTPUT, "cannot write the trailer: %s", vsr_strerror(ret));
    ret = avio_closep(&o->oc->pb);
    if (ret < 0)
        return out_error(o, VSR_ERROR_OUTPUT, "cannot close the file: %s", vsr_strerror(ret));
    if (rename(o->partial, o->path) != 0)
        return out_error(o, VSR_ERROR_OUTPUT, "cannot move '%s' into place: %s", o->partial, strerror(errno));
    o->finished = 1;
    return 0;
}

void vsr_output_close(vsr_output **po)
{
    if (!po || !*po)
        return;
    vsr_output *o = *po;
    *po = NULL;
    if (o->src && o->map)
        vsri_input_stop_copy(o->src);
    avcodec_free_context(&o->enc);
    if (o->oc) {
        avio_closep(&o->oc->pb);
        avformat_free_context(o->oc);
    }
    avio_closep(&o->pb);
    if (!o->finished && o->partial)
        remove(o->partial); /* never leave a file that looks finished */
    av_frame_free(&o->encframe);
    av_packet_free(&o->pkt);
    vsri_converter_free(&o->cv);
    free(o->map);
    free(o->path);
    free(o->partial);
    free(o->codec_name);
    free(o->preset);
    free(o->pix_fmt);
    free(o->options);
    free(o);
}
