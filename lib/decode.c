/*
 * vsr_input: demux and decode the video stream of a file or memory buffer,
 * sequentially. Damage is survived: a corrupt packet is skipped, a read
 * error ends the stream early, and both are counted so the caller can say
 * that the output holds every frame that could be decoded. Sizes from the
 * file are checked against limits before anything is allocated for them.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include "checked_math.h"
#include "ffmpeg_compat.h"
#include "frame_internal.h"
#include "stream_internal.h"

typedef struct packet_node {
    AVPacket *pkt;
    struct packet_node *next;
} packet_node;

struct vsr_input {
    char *name;              /* "'path'" or "memory buffer", for messages */
    char *path;
    vsr_input_settings s;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int vidx;
    AVPacket *pkt;
    AVPacket *pending;       /* a video packet the decoder refused with EAGAIN: sent again first */
    int has_pending;
    int (*send_packet)(AVCodecContext *dec, const AVPacket *pkt); /* avcodec_send_packet; tests wrap it */
    AVFrame *frm;
    AVFrame *sw_frm;         /* download target for hardware frames */
    AVBufferRef *hw_device;
    int flushing;
    int finished;
    int64_t frames;
    int64_t next_pts;

    int damage;
    char damage_msg[512];
    /* HDR10 static metadata seen on the first decoded frame (HEVC carries it
     * in SEI, not in the container), for outputs that copy from this input */
    AVBufferRef *hdr_mdm, *hdr_cll;
    int hdr_checked;
    int64_t read_end_us;     /* latest packet end time read, any stream */

    /* memory input */
    AVIOContext *avio;
    const uint8_t *mem;
    size_t mem_size, mem_pos;

    /* packets of other streams, queued for an output that copies them */
    pthread_mutex_t lock;
    uint8_t *keep;
    packet_node *head, *tail;
    int packets_done;

    /* restarting elsewhere in the file (the frame-exact seek in seek.c) */
    int preroll;               /* frames now are decoded only to be dropped */
    vsr_frame *given_back;     /* a frame given back: the next read returns it */
    const int64_t *expect_pts; /* frame i must come with pts expect_pts[i] */
    int64_t expect_n;
};

void vsr_input_settings_default(vsr_input_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->threads = 0;
    s->hwdec = NULL;
    s->max_width = 16384;
    s->max_height = 16384;
    s->max_pixels = (int64_t)8192 * 8192;
    s->max_frames = 0;
    s->stream_index = -1;
}

static void note_damage(vsr_input *in, const char *fmt, ...) VSRI_PRINTF(2, 3);
static void note_damage(vsr_input *in, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!in->damage++)
        snprintf(in->damage_msg, sizeof(in->damage_msg), "input %s: %s", in->name, msg);
    /* Say it once, then only count: a badly damaged file can have thousands. */
    if (in->damage <= 3)
        vsri_log(VSR_LOG_WARNING, "input %s: %s", in->name, msg);
    else if (in->damage == 4)
        vsri_log(VSR_LOG_WARNING, "input %s: more damage; further messages suppressed", in->name);
}

static int check_limits(const vsr_input *in, int w, int h, const char *where)
{
    if (w <= 0 && h <= 0)
        return 0; /* not known yet */
    if (w > in->s.max_width || h > in->s.max_height || (int64_t)w * h > in->s.max_pixels)
        return vsri_error(VSR_ERROR_LIMIT,
                          "input %s: %s says %dx%d, above the limit of %dx%d and %lld pixels "
                          "(vsr_input_settings.max_width/max_height/max_pixels)",
                          in->name, where, w, h, in->s.max_width, in->s.max_height,
                          (long long)in->s.max_pixels);
    return 0;
}

/* The stream's frame rate where the file gives a usable one (positive
 * numerator and denominator), else {0, 1}: unknown. */
static AVRational stream_frame_rate(const AVStream *st)
{
    if (st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0)
        return st->avg_frame_rate;
    if (st->r_frame_rate.num > 0 && st->r_frame_rate.den > 0)
        return st->r_frame_rate;
    return (AVRational){0, 1};
}

static int mem_read(void *opaque, uint8_t *buf, int size)
{
    vsr_input *in = opaque;
    size_t left = in->mem_size - in->mem_pos;
    if (!left)
        return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buf, in->mem + in->mem_pos, n);
    in->mem_pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    vsr_input *in = opaque;
    if (whence & AVSEEK_SIZE)
        return (int64_t)in->mem_size;
    int64_t base = 0;
    switch (whence & ~AVSEEK_FORCE) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)in->mem_pos; break;
    case SEEK_END: base = (int64_t)in->mem_size; break;
    default: return AVERROR(EINVAL);
    }
    int64_t pos = base + offset;
    if (pos < 0 || pos > (int64_t)in->mem_size)
        return AVERROR(EINVAL);
    in->mem_pos = (size_t)pos;
    return pos;
}

static enum AVPixelFormat pick_hw_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts)
{
    (void)ctx;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == AV_PIX_FMT_CUDA)
            return *p;
    /* the decoder cannot use CUDA for this stream: take its software format */
    return fmts[0];
}

static int open_decoder(vsr_input *in)
{
    AVStream *st = in->fmt->streams[in->vidx];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return vsri_error(VSR_ERROR_INPUT, "input %s: no decoder for video codec '%s'", in->name,
                          avcodec_get_name(st->codecpar->codec_id));
    in->dec = avcodec_alloc_context3(codec);
    if (!in->dec)
        return VSR_ENOMEM;
    int ret = avcodec_parameters_to_context(in->dec, st->codecpar);
    if (ret < 0)
        return vsri_error(VSR_ERROR_INPUT, "input %s: stream %d: %s", in->name, in->vidx, vsr_strerror(ret));
    in->dec->pkt_timebase = st->time_base;
    in->dec->thread_count = in->s.threads;
    /* Frame threads lose the decoder's "concealed errors" flag on frames
     * (FFmpeg 5.1), and that flag is how damage in the middle of a stream
     * shows; so only when asked. Inference is far slower than decoding. */
    in->dec->thread_type = in->s.frame_threads ? FF_THREAD_FRAME | FF_THREAD_SLICE : FF_THREAD_SLICE;
    /* the decoder refuses larger pictures before allocating them */
    in->dec->max_pixels = in->s.max_pixels;
    if (in->s.hwdec && *in->s.hwdec && strcmp(in->s.hwdec, "none") != 0) {
        if (strcmp(in->s.hwdec, "cuda") != 0)
            return vsri_error(VSR_EINVAL, "input %s: hwdec '%s' is not supported (use 'cuda' or 'none')",
                              in->name, in->s.hwdec);
        ret = av_hwdevice_ctx_create(&in->hw_device, AV_HWDEVICE_TYPE_CUDA, NULL, NULL, 0);
        if (ret < 0)
            return vsri_error(VSR_ERROR_DEVICE, "input %s: hardware decoding 'cuda' is not available: %s",
                              in->name, vsr_strerror(ret));
        in->dec->hw_device_ctx = av_buffer_ref(in->hw_device);
        if (!in->dec->hw_device_ctx)
            return VSR_ENOMEM;
        in->dec->get_format = pick_hw_format;
    }
    ret = avcodec_open2(in->dec, codec, NULL);
    if (ret < 0)
        return vsri_error(VSR_ERROR_INPUT, "input %s: cannot open the %s decoder: %s", in->name,
                          codec->name, vsr_strerror(ret));
    return 0;
}

/* YUV4MPEG2 starts with a text header giving the size. FFmpeg refuses an
 * absurd one with an unrelated error code (EBUSY), so read the size
 * ourselves and report the limit that was hit. */
static int check_y4m_header(vsr_input *in, const uint8_t *head, size_t n)
{
    static const char magic[] = "YUV4MPEG2 ";
    if (n < sizeof(magic) - 1 || memcmp(head, magic, sizeof(magic) - 1) != 0)
        return 0;
    long w = 0, h = 0;
    for (size_t i = sizeof(magic) - 1; i + 1 < n && head[i] != '\n'; i++) {
        if (head[i - 1] != ' ' || (head[i] != 'W' && head[i] != 'H'))
            continue;
        long v = 0;
        for (size_t j = i + 1; j < n && head[j] >= '0' && head[j] <= '9' && v < 1000000; j++)
            v = v * 10 + (head[j] - '0');
        if (head[i] == 'W')
            w = v;
        else
            h = v;
    }
    return check_limits(in, (int)w, (int)h, "the YUV4MPEG2 header");
}

static int open_common(vsr_input *in, const char *url)
{
    uint8_t head[256];
    size_t n = 0;
    if (in->mem) {
        n = in->mem_size < sizeof(head) ? in->mem_size : sizeof(head);
        memcpy(head, in->mem, n);
    } else {
        FILE *f = fopen(url, "rb");
        if (f) {
            n = fread(head, 1, sizeof(head), f);
            fclose(f);
        }
    }
    int err = check_y4m_header(in, head, n);
    if (err < 0)
        return err;

    AVDictionary *opts = NULL;
    int ret = avformat_open_input(&in->fmt, url, NULL, &opts);
    av_dict_free(&opts);
    if (ret < 0) {
        if (ret == AVERROR(ENOENT))
            return vsri_error(VSR_ERROR_INPUT, "input %s: no such file", in->name);
        if (ret == AVERROR_INVALIDDATA)
            return vsri_error(VSR_ERROR_INPUT, "input %s: not a video file FFmpeg can read (%s)",
                              in->name, vsr_strerror(ret));
        return vsri_error(VSR_ERROR_INPUT, "input %s: %s", in->name, vsr_strerror(ret));
    }
    /* Headers like YUV4MPEG give the size before any packet is read:
     * refuse absurd sizes before find_stream_info reads (and allocates)
     * a first frame. */
    for (unsigned i = 0; i < in->fmt->nb_streams; i++) {
        AVCodecParameters *p = in->fmt->streams[i]->codecpar;
        if (p->codec_type == AVMEDIA_TYPE_VIDEO) {
            ret = check_limits(in, p->width, p->height, "the header");
            if (ret < 0)
                return ret;
        }
    }
    ret = avformat_find_stream_info(in->fmt, NULL);
    if (ret < 0)
        return vsri_error(VSR_ERROR_INPUT, "input %s: cannot read stream information: %s", in->name,
                          vsr_strerror(ret));
    ret = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, in->s.stream_index, -1, NULL, 0);
    if (ret < 0 && in->s.stream_index >= 0)
        return vsri_error(VSR_ERROR_INPUT, "input %s: stream %d is not a video stream", in->name,
                          in->s.stream_index);
    if (ret < 0)
        return vsri_error(VSR_ERROR_INPUT, "input %s: no video stream", in->name);
    in->vidx = ret;
    AVStream *st = in->fmt->streams[in->vidx];
    ret = check_limits(in, st->codecpar->width, st->codecpar->height, "the video stream");
    if (ret < 0)
        return ret;
    ret = open_decoder(in);
    if (ret < 0)
        return ret;
    in->pkt = av_packet_alloc();
    in->pending = av_packet_alloc();
    in->frm = av_frame_alloc();
    in->sw_frm = av_frame_alloc();
    if (!in->pkt || !in->pending || !in->frm || !in->sw_frm)
        return VSR_ENOMEM;
    in->next_pts = AV_NOPTS_VALUE;
    return 0;
}

static vsr_input *input_new(const vsr_input_settings *s, const char *name, const char *path)
{
    vsr_input *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    vsr_input_settings_default(&in->s);
    if (s && VSRI_SETTINGS_IN(&in->s, s, "vsr_input_settings") < 0) {
        free(in);
        return NULL;
    }
    pthread_mutex_init(&in->lock, NULL);
    in->vidx = -1;
    in->send_packet = avcodec_send_packet;
    size_t n = strlen(name) + 3;
    in->name = malloc(n);
    in->path = path ? strdup(path) : NULL;
    if (!in->name || (path && !in->path)) {
        vsr_input_close(&in);
        return NULL;
    }
    snprintf(in->name, n, path ? "'%s'" : "%s", name);
    return in;
}

static int validate_settings(const vsr_input_settings *s)
{
    if (!s)
        return 0;
    vsr_input_settings t;
    vsr_input_settings_default(&t);
    int err = VSRI_SETTINGS_IN(&t, s, "vsr_input_settings");
    if (err < 0)
        return err;
    if (t.max_width <= 0 || t.max_height <= 0 || t.max_pixels <= 0)
        return vsri_error(VSR_EINVAL, "input settings: max_width, max_height and max_pixels must be positive");
    if (t.threads < 0 || t.max_frames < 0)
        return vsri_error(VSR_EINVAL, "input settings: threads and max_frames must not be negative");
    return 0;
}

int vsr_input_open(vsr_input **out, const char *path, const vsr_input_settings *s)
{
    *out = NULL;
    if (!path || !*path)
        return vsri_error(VSR_EINVAL, "vsr_input_open: no path");
    int err = validate_settings(s);
    if (err < 0)
        return err;
    vsr_input *in = input_new(s, path, path);
    if (!in)
        return VSR_ENOMEM;
    err = open_common(in, path);
    if (err < 0) {
        vsr_input_close(&in);
        return err;
    }
    *out = in;
    return 0;
}

int vsr_input_open_buffer(vsr_input **out, const uint8_t *data, size_t size, const vsr_input_settings *s)
{
    *out = NULL;
    if (!data && size)
        return vsri_error(VSR_EINVAL, "vsr_input_open_buffer: no data");
    int err = validate_settings(s);
    if (err < 0)
        return err;
    vsr_input *in = input_new(s, "memory buffer", NULL);
    if (!in)
        return VSR_ENOMEM;
    in->mem = data;
    in->mem_size = size;
    const int bufsize = 32768;
    uint8_t *iobuf = av_malloc(bufsize);
    in->fmt = avformat_alloc_context();
    if (iobuf)
        in->avio = avio_alloc_context(iobuf, bufsize, 0, in, mem_read, NULL, mem_seek);
    if (!in->avio || !in->fmt) {
        if (!in->avio)
            av_free(iobuf);
        vsr_input_close(&in);
        return VSR_ENOMEM;
    }
    in->fmt->pb = in->avio;
    in->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    err = open_common(in, NULL);
    if (err < 0) {
        vsr_input_close(&in);
        return err;
    }
    *out = in;
    return 0;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    vsri_strlcpy(dst, src ? src : "", cap);
}

int vsr_input_get_info(const vsr_input *in, vsr_input_info *info)
{
    if (!in)
        return vsri_error(VSR_EINVAL, "vsr_input_get_info: no input");
    vsr_input_info t;
    memset(&t, 0, sizeof(t));
    t.size = sizeof(t);
    const AVStream *st = in->fmt->streams[in->vidx];
    const AVCodecParameters *p = st->codecpar;
    t.width = p->width;
    t.height = p->height;
    t.time_base = (vsr_rational){st->time_base.num, st->time_base.den};
    AVRational fr = stream_frame_rate(st);
    t.frame_rate = (vsr_rational){fr.num, fr.den};
    /* A hostile header can declare any duration and rate: what is not a
     * finite, representable number is reported as unknown (-1). */
    double dur = -1;
    double tb = vsri_positive_q2d(st->time_base);
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && tb > 0)
        dur = st->duration * tb;
    else if (in->fmt->duration != AV_NOPTS_VALUE && in->fmt->duration > 0)
        dur = in->fmt->duration / (double)AV_TIME_BASE;
    if (!isfinite(dur))
        dur = -1;
    t.duration_s = dur;
    t.frames = st->nb_frames > 0 ? st->nb_frames : -1;
    int64_t estimate;
    if (t.frames < 0 && dur > 0 && fr.num > 0 &&
        vsri_double_to_i64(dur * vsri_positive_q2d(fr) + 0.5, &estimate))
        t.frames = estimate;
    if (in->s.max_frames > 0 && (t.frames < 0 || t.frames > in->s.max_frames))
        t.frames = in->s.max_frames;
    enum AVPixelFormat pf = (enum AVPixelFormat)p->format;
    t.format = vsri_pixfmt_from_av(pf);
    copy_name(t.format_name, sizeof(t.format_name), av_get_pix_fmt_name(pf));
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(pf);
    t.bit_depth = d ? d->comp[0].depth : 0;
    copy_name(t.codec, sizeof(t.codec), avcodec_get_name(p->codec_id));
    copy_name(t.container, sizeof(t.container), in->fmt->iformat->name);
    t.colour.matrix = p->color_space;
    t.colour.range = p->color_range;
    t.colour.primaries = p->color_primaries;
    t.colour.transfer = p->color_trc;
    t.colour.chroma_location = p->chroma_location;
    t.stream_index = in->vidx;
    t.n_streams = (int)in->fmt->nb_streams;
    for (unsigned i = 0; i < in->fmt->nb_streams; i++)
        if (in->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
            t.has_audio = 1;
    return VSRI_RESULT_OUT(info, &t, "vsr_input_info");
}

static void queue_packet(vsr_input *in, AVPacket *pkt)
{
    packet_node *n = malloc(sizeof(*n));
    AVPacket *copy = n ? av_packet_alloc() : NULL;
    if (!copy) {
        free(n);
        note_damage(in, "out of memory while queueing a packet of stream %d; it is dropped",
                    pkt->stream_index);
        return;
    }
    av_packet_move_ref(copy, pkt);
    n->pkt = copy;
    n->next = NULL;
    pthread_mutex_lock(&in->lock);
    if (in->tail)
        in->tail->next = n;
    else
        in->head = n;
    in->tail = n;
    pthread_mutex_unlock(&in->lock);
}

static int wants_packet(vsr_input *in, int stream)
{
    pthread_mutex_lock(&in->lock);
    int keep = in->keep && stream >= 0 && (unsigned)stream < in->fmt->nb_streams && in->keep[stream];
    pthread_mutex_unlock(&in->lock);
    return keep;
}

static void set_packets_done(vsr_input *in)
{
    pthread_mutex_lock(&in->lock);
    in->packets_done = 1;
    pthread_mutex_unlock(&in->lock);
}

static void note_packet_end(vsr_input *in, const AVPacket *pkt)
{
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (ts == AV_NOPTS_VALUE || pkt->stream_index < 0 || (unsigned)pkt->stream_index >= in->fmt->nb_streams)
        return;
    AVRational tb = in->fmt->streams[pkt->stream_index]->time_base;
    int64_t end = ts;
    if (pkt->duration > 0 && !vsri_add_i64(ts, pkt->duration, &end))
        return; /* timestamps past any real file's: nothing to note */
    end = av_rescale_q(end, tb, AV_TIME_BASE_Q);
    if (end > in->read_end_us)
        in->read_end_us = end;
}

/* Bytes [pos, pos + n) of the input (the memory buffer, or the open file
 * f); 1 when all of them were there. */
static int read_at(const vsr_input *in, FILE *f, int64_t pos, uint8_t *buf, size_t n)
{
    if (pos < 0)
        return 0;
    if (in->mem) {
        if ((uint64_t)pos > in->mem_size || n > in->mem_size - (size_t)pos)
            return 0;
        memcpy(buf, in->mem + pos, n);
        return 1;
    }
    return f && fseeko(f, (off_t)pos, SEEK_SET) == 0 && fread(buf, 1, n, f) == n;
}

/* An EBML variable-length number at p (avail bytes there): its length in
 * bytes, or 0 if malformed. *unknown is set for the reserved value with
 * every bit 1, which muxers that cannot seek back write as "size unknown". */
static int ebml_vint(const uint8_t *p, size_t avail, uint64_t *value, int *unknown)
{
    if (!avail || !p[0])
        return 0;
    int len = 1;
    while (!(p[0] & (0x80 >> (len - 1))))
        len++;
    if ((size_t)len > avail)
        return 0;
    uint64_t v = p[0] & (0xFFu >> len);
    int ones = v == (0xFFu >> len);
    for (int i = 1; i < len; i++) {
        v = v << 8 | p[i];
        ones &= p[i] == 0xFF;
    }
    *value = v;
    *unknown = ones;
    return len;
}

/* Where a Matroska file's Segment (everything after the EBML header) ends,
 * from the first bytes of the file; 0 if unknown. */
static int matroska_declared_end(const uint8_t *h, size_t n, int64_t *end)
{
    static const uint8_t ebml_id[4] = {0x1A, 0x45, 0xDF, 0xA3}, segment_id[4] = {0x18, 0x53, 0x80, 0x67};
    uint64_t size;
    int unknown, len;
    if (n < 4 || memcmp(h, ebml_id, 4) != 0)
        return 0;
    size_t pos = 4;
    if (!(len = ebml_vint(h + pos, n - pos, &size, &unknown)) || unknown)
        return 0;
    pos += (size_t)len;
    if (size > n - pos)
        return 0;
    pos += (size_t)size;
    if (n - pos < 4 || memcmp(h + pos, segment_id, 4) != 0)
        return 0;
    pos += 4;
    if (!(len = ebml_vint(h + pos, n - pos, &size, &unknown)) || unknown)
        return 0;
    pos += (size_t)len;
    if (size > (uint64_t)INT64_MAX - pos)
        return 0;
    *end = (int64_t)(pos + size);
    return 1;
}

/* Where an AVI file's RIFF chunks (one, or several in OpenDML files: one
 * per gigabyte or so, hence the bound on how many are followed) end; 0 if
 * unknown. A final pad byte is not required. */
static int riff_declared_end(const vsr_input *in, FILE *f, int64_t file_size, int64_t *end)
{
    int64_t pos = 0;
    int found = 0;
    uint8_t h[8];
    while (found < 65536 && pos < file_size && read_at(in, f, pos, h, sizeof(h)) && memcmp(h, "RIFF", 4) == 0) {
        uint32_t size = h[4] | (uint32_t)h[5] << 8 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 24;
        if (size == 0 || size == UINT32_MAX)
            return 0; /* left unset by a muxer that could not seek back */
        *end = pos + 8 + size;
        found++;
        pos = *end + (size & 1);
    }
    return found;
}

/* Demuxers such as Matroska's report a file cut short as a plain end of
 * file. The container's own structure tells: its top-level element
 * (Matroska's Segment, AVI's RIFF chunks) declares its size in bytes, and
 * a file shorter than that has lost its end. (Durations do not tell: many
 * intact files declare more than their packets cover.) */
static void check_container_size(vsr_input *in)
{
    int64_t file_size = in->mem ? (int64_t)in->mem_size : in->fmt->pb ? avio_size(in->fmt->pb) : -1;
    const char *format = in->fmt->iformat->name;
    int mkv = strstr(format, "matroska") != NULL, avi = strcmp(format, "avi") == 0;
    if (file_size <= 0 || (!mkv && !avi))
        return;
    FILE *f = NULL;
    if (!in->mem && (!in->path || !(f = fopen(in->path, "rb"))))
        return;
    int64_t end = 0;
    int known;
    if (mkv) {
        uint8_t head[4096];
        size_t n = file_size < (int64_t)sizeof(head) ? (size_t)file_size : sizeof(head);
        known = read_at(in, f, 0, head, n) && matroska_declared_end(head, n, &end);
    } else {
        known = riff_declared_end(in, f, file_size, &end);
    }
    if (f)
        fclose(f);
    if (known && end > file_size)
        note_damage(in, "the file is truncated: it has %lld bytes but its %s structure declares %lld",
                    (long long)file_size, mkv ? "Matroska" : "AVI", (long long)end);
}

/* Where the packets end against the duration the header declares. Many
 * intact files overstate their duration (AVI with frames dropped at the
 * end, files cut with `ffmpeg -c copy`), so a short file is only a notice,
 * never damage. The margin (2.5 frame durations and 1%) keeps rounding
 * from raising even the notice. */
static void note_short_file(vsr_input *in)
{
    int64_t declared = in->fmt->duration;
    if (declared == AV_NOPTS_VALUE || declared <= 0 || in->read_end_us <= 0)
        return;
    int64_t start = in->fmt->start_time != AV_NOPTS_VALUE ? in->fmt->start_time : 0;
    int64_t got, missing;
    if (!vsri_sub_i64(in->read_end_us, start, &got) || !vsri_sub_i64(declared, got, &missing))
        return;
    AVRational fr = stream_frame_rate(in->fmt->streams[in->vidx]);
    int64_t frame_us = fr.num > 0 ? av_rescale(AV_TIME_BASE, fr.den, fr.num) : 40000;
    if (missing > frame_us * 5 / 2 + declared / 100)
        vsri_log(VSR_LOG_INFO,
                 "input %s: the packets end at %.3f s, before the %.3f s its header declares "
                 "(common in intact files; not counted as damage)",
                 in->name, got / 1e6, declared / 1e6);
}

/* A decoded frame in system memory (hardware frames are downloaded). */
static int take_frame(vsr_input *in, vsr_frame **out)
{
    AVFrame *src = in->frm;
    if (in->frm->format == AV_PIX_FMT_CUDA) {
        av_frame_unref(in->sw_frm);
        int ret = av_hwframe_transfer_data(in->sw_frm, in->frm, 0);
        if (ret < 0)
            return vsri_error(VSR_ERROR_INPUT, "input %s: cannot download a CUDA frame: %s", in->name,
                              vsr_strerror(ret));
        av_frame_copy_props(in->sw_frm, in->frm);
        av_frame_unref(in->frm);
        src = in->sw_frm;
    }
    if (!in->hdr_checked) {
        in->hdr_checked = 1;
        const AVFrameSideData *m = av_frame_get_side_data(src, AV_FRAME_DATA_MASTERING_DISPLAY_METADATA);
        const AVFrameSideData *c = av_frame_get_side_data(src, AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
        if (m)
            in->hdr_mdm = av_buffer_ref(m->buf);
        if (c)
            in->hdr_cll = av_buffer_ref(c->buf);
    }
    int err = check_limits(in, src->width, src->height, "a decoded frame");
    if (err < 0) {
        av_frame_unref(src);
        return err;
    }
    /* pts: the decoder's best guess; invent one only if the file has none */
    int64_t pts = src->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE)
        pts = src->pts;
    if (pts == AV_NOPTS_VALUE)
        pts = in->next_pts == AV_NOPTS_VALUE ? 0 : in->next_pts;
    src->pts = pts;
    AVStream *st = in->fmt->streams[in->vidx];
    int64_t dur = VSRI_FRAME_DURATION(src);
    if (dur <= 0) {
        AVRational fr = stream_frame_rate(st);
        dur = fr.num > 0 ? av_rescale_q(1, av_inv_q(fr), st->time_base) : 1;
        if (dur <= 0)
            dur = 1;
    }
    if (!vsri_add_i64(pts, dur, &in->next_pts))
        in->next_pts = AV_NOPTS_VALUE; /* past any real time stamp: the next frame's own pts decides */
    err = vsri_frame_from_av(out, src, (vsr_rational){st->time_base.num, st->time_base.den});
    if (err < 0)
        return err;
    in->frames++;
    return 0;
}

static int check_expected(vsr_input *in, vsr_frame **out);

int vsr_input_read_frame(vsr_input *in, vsr_frame **out)
{
    *out = NULL;
    if (!in)
        return vsri_error(VSR_EINVAL, "vsr_input_read_frame: no input");
    if (in->given_back) {
        *out = in->given_back;
        in->given_back = NULL;
        in->frames++;
        return check_expected(in, out);
    }
    if (in->finished || (!in->preroll && in->s.max_frames > 0 && in->frames >= in->s.max_frames))
        return VSR_EOF;
    for (;;) {
        int ret = avcodec_receive_frame(in->dec, in->frm);
        if (ret == 0) {
            /* pre-roll frames may lack references they never get: not damage */
            if (!in->preroll && (in->frm->decode_error_flags || (in->frm->flags & AV_FRAME_FLAG_CORRUPT)))
                note_damage(in, "frame %lld decoded with errors (concealed)", (long long)in->frames);
            ret = take_frame(in, out);
            return ret < 0 ? ret : check_expected(in, out);
        }
        if (ret == AVERROR_EOF) {
            in->finished = 1;
            return VSR_EOF;
        }
        if (ret != AVERROR(EAGAIN)) {
            note_damage(in, "decoding error: %s", vsr_strerror(ret));
            if (in->flushing) {
                in->finished = 1;
                return VSR_EOF;
            }
            continue;
        }
        if (in->flushing) { /* cannot happen with a conforming decoder */
            in->finished = 1;
            return VSR_EOF;
        }
        if (in->has_pending) {
            /* the decoder has handed out what it had: offer it the packet
             * it refused again, before reading on */
            in->has_pending = 0;
            ret = in->send_packet(in->dec, in->pending);
            av_packet_unref(in->pending);
            if (ret == AVERROR(EAGAIN))
                note_damage(in, "the decoder refused a packet while it had no frame to give; "
                            "packet skipped after %lld frames", (long long)in->frames);
            else if (ret < 0)
                note_damage(in, "undecodable packet skipped after %lld frames: %s",
                            (long long)in->frames, vsr_strerror(ret));
            continue;
        }
        ret = av_read_frame(in->fmt, in->pkt);
        if (ret < 0) {
            AVIOContext *pb = in->fmt->pb;
            if (ret != AVERROR_EOF)
                note_damage(in, "read error after %lld frames: %s; the rest of the file is lost",
                            (long long)in->frames, vsr_strerror(ret));
            else if (pb && pb->error < 0)
                note_damage(in, "I/O error after %lld frames: %s", (long long)in->frames,
                            vsr_strerror(pb->error));
            else
                check_container_size(in);
            if (!in->damage)
                note_short_file(in);
            set_packets_done(in);
            in->flushing = 1;
            ret = in->send_packet(in->dec, NULL);
            if (ret < 0 && ret != AVERROR_EOF)
                note_damage(in, "cannot flush the decoder: %s", vsr_strerror(ret));
            continue;
        }
        note_packet_end(in, in->pkt);
        if (in->pkt->stream_index == in->vidx) {
            if (in->pkt->flags & AV_PKT_FLAG_CORRUPT)
                note_damage(in, "corrupt packet at byte %lld", (long long)in->pkt->pos);
            ret = in->send_packet(in->dec, in->pkt);
            if (ret == AVERROR(EAGAIN)) {
                /* the decoder wants its frames taken first: keep the packet */
                av_packet_move_ref(in->pending, in->pkt);
                in->has_pending = 1;
                continue;
            }
            av_packet_unref(in->pkt);
            if (ret < 0)
                note_damage(in, "undecodable packet skipped after %lld frames: %s",
                            (long long)in->frames, vsr_strerror(ret));
        } else if (wants_packet(in, in->pkt->stream_index)) {
            queue_packet(in, in->pkt);
        } else {
            av_packet_unref(in->pkt);
        }
    }
}

void vsri_input_end_packets(vsr_input *in)
{
    set_packets_done(in);
}

int vsri_input_pump(vsr_input *in, int64_t until_us)
{
    while (!vsri_input_packets_done(in)) {
        int ret = av_read_frame(in->fmt, in->pkt);
        if (ret < 0) {
            if (ret != AVERROR_EOF)
                note_damage(in, "read error: %s", vsr_strerror(ret));
            set_packets_done(in);
            return 0;
        }
        note_packet_end(in, in->pkt);
        int64_t ts = in->pkt->dts != AV_NOPTS_VALUE ? in->pkt->dts : in->pkt->pts;
        AVRational tb = in->fmt->streams[in->pkt->stream_index]->time_base;
        int64_t us = ts == AV_NOPTS_VALUE ? INT64_MIN : av_rescale_q(ts, tb, AV_TIME_BASE_Q);
        if (in->pkt->stream_index != in->vidx && wants_packet(in, in->pkt->stream_index))
            queue_packet(in, in->pkt);
        else
            av_packet_unref(in->pkt);
        if (until_us != INT64_MAX && us > until_us)
            return 0;
    }
    return 0;
}

int vsr_input_damaged(const vsr_input *in, const char **first_message)
{
    if (first_message)
        *first_message = in && in->damage ? in->damage_msg : NULL;
    return in ? in->damage : 0;
}

void vsr_input_close(vsr_input **pin)
{
    if (!pin || !*pin)
        return;
    vsr_input *in = *pin;
    *pin = NULL;
    vsri_input_stop_copy(in);
    vsr_frame_unref(&in->given_back);
    avcodec_free_context(&in->dec);
    if (in->avio) {
        av_freep(&in->avio->buffer);
        avio_context_free(&in->avio);
        if (in->fmt)
            in->fmt->pb = NULL;
    }
    avformat_close_input(&in->fmt);
    av_packet_free(&in->pkt);
    av_packet_free(&in->pending);
    av_frame_free(&in->frm);
    av_frame_free(&in->sw_frm);
    av_buffer_unref(&in->hw_device);
    av_buffer_unref(&in->hdr_mdm);
    av_buffer_unref(&in->hdr_cll);
    pthread_mutex_destroy(&in->lock);
    free(in->name);
    free(in->path);
    free(in);
}

const AVFormatContext *vsri_input_format(const vsr_input *in)
{
    return in->fmt;
}

const AVStream *vsri_input_video_stream(const vsr_input *in)
{
    return in->fmt->streams[in->vidx];
}

const void *vsri_input_hdr(const vsr_input *in, enum AVFrameSideDataType type, size_t *size)
{
    const AVBufferRef *b = type == AV_FRAME_DATA_MASTERING_DISPLAY_METADATA ? in->hdr_mdm
                         : type == AV_FRAME_DATA_CONTENT_LIGHT_LEVEL        ? in->hdr_cll
                                                                            : NULL;
    *size = b ? b->size : 0;
    return b ? b->data : NULL;
}

const char *vsri_input_name(const vsr_input *in)
{
    return in->name;
}

const char *vsri_input_path(const vsr_input *in)
{
    return in->path;
}

void vsri_input_set_packet_sender(vsr_input *in, int (*send)(AVCodecContext *dec, const AVPacket *pkt))
{
    in->send_packet = send ? send : avcodec_send_packet;
}

int vsri_input_copy_streams(vsr_input *in, const uint8_t *keep)
{
    uint8_t *k = malloc(in->fmt->nb_streams ? in->fmt->nb_streams : 1);
    if (!k)
        return VSR_ENOMEM;
    memcpy(k, keep, in->fmt->nb_streams);
    pthread_mutex_lock(&in->lock);
    free(in->keep);
    in->keep = k;
    pthread_mutex_unlock(&in->lock);
    return 0;
}

AVPacket *vsri_input_pop_packet(vsr_input *in, int64_t until_us)
{
    AVPacket *pkt = NULL;
    pthread_mutex_lock(&in->lock);
    packet_node *n = in->head;
    if (n) {
        int64_t ts = n->pkt->dts != AV_NOPTS_VALUE ? n->pkt->dts : n->pkt->pts;
        AVRational tb = in->fmt->streams[n->pkt->stream_index]->time_base;
        int64_t us = ts == AV_NOPTS_VALUE ? INT64_MIN : av_rescale_q(ts, tb, AV_TIME_BASE_Q);
        if (until_us == INT64_MAX || us <= until_us) {
            in->head = n->next;
            if (!in->head)
                in->tail = NULL;
            pkt = n->pkt;
            free(n);
        }
    }
    pthread_mutex_unlock(&in->lock);
    return pkt;
}

int vsri_input_packets_done(vsr_input *in)
{
    pthread_mutex_lock(&in->lock);
    int done = in->packets_done;
    pthread_mutex_unlock(&in->lock);
    return done;
}

void vsri_input_stop_copy(vsr_input *in)
{
    pthread_mutex_lock(&in->lock);
    free(in->keep);
    in->keep = NULL;
    packet_node *n = in->head;
    in->head = in->tail = NULL;
    pthread_mutex_unlock(&in->lock);
    while (n) {
        packet_node *next = n->next;
        av_packet_free(&n->pkt);
        free(n);
        n = next;
    }
}

/* ---- restarting elsewhere in the file (for the frame-exact seek, seek.c) ---- */

/* The frame just counted must have the pts the index gives it: a decoder
 * that numbers frames differently after a seek, or another input than the
 * one indexed, fails here loudly instead of shifting the output. */
static int check_expected(vsr_input *in, vsr_frame **out)
{
    if (!in->expect_pts || in->preroll)
        return 0;
    int64_t i = in->frames - 1, pts = vsr_frame_pts(*out);
    if (i < in->expect_n && pts == in->expect_pts[i])
        return 0;
    vsr_frame_unref(out);
    in->finished = 1; /* the numbering is lost: nothing after this can be trusted */
    if (i >= in->expect_n)
        return vsri_error(VSR_ERROR_INPUT,
                          "input %s: decoded a frame %lld (pts %lld), but the index has only %lld frames",
                          in->name, (long long)i, (long long)pts, (long long)in->expect_n);
    return vsri_error(VSR_ERROR_INPUT,
                      "input %s: frame %lld has pts %lld, but the index says %lld: the input is not the "
                      "one indexed, or it numbers frames differently after a seek (index it by decoding)",
                      in->name, (long long)i, (long long)pts, (long long)in->expect_pts[i]);
}

int vsri_input_restart_at(vsr_input *in, int64_t ts)
{
    if (!in)
        return vsri_error(VSR_EINVAL, "vsri_input_restart_at: no input");
    pthread_mutex_lock(&in->lock);
    int copying = in->keep != NULL;
    pthread_mutex_unlock(&in->lock);
    if (copying) /* their packets would be read (and queued) twice */
        return vsri_error(VSR_EINVAL, "input %s: cannot seek while its other streams are copied", in->name);
    const AVStream *st = in->fmt->streams[in->vidx];
    int ret;
    if (ts == INT64_MIN) { /* the start: the keyframe nearest the file's start time */
        int64_t start = in->fmt->start_time != AV_NOPTS_VALUE ? in->fmt->start_time : 0;
        ret = avformat_seek_file(in->fmt, -1, INT64_MIN, start, INT64_MAX, 0);
        /* raw streams have no timestamps to seek by, but their data starts
         * at the first byte (a byte seek never goes before the data) */
        if (ret < 0)
            ret = av_seek_frame(in->fmt, -1, 0, AVSEEK_FLAG_BYTE);
    } else {
        ret = avformat_seek_file(in->fmt, in->vidx, INT64_MIN, ts, ts, 0);
    }
    if (ret < 0)
        return vsri_error(VSR_ERROR_INPUT, "input %s: cannot seek to %lld (time base %d/%d) in stream %d: %s",
                          in->name, (long long)ts, st->time_base.num, st->time_base.den, in->vidx,
                          vsr_strerror(ret));
    avcodec_flush_buffers(in->dec);
    av_packet_unref(in->pkt);
    av_packet_unref(in->pending); /* a refused packet from before the seek */
    in->has_pending = 0;
    vsr_frame_unref(&in->given_back);
    in->flushing = 0;
    in->finished = 0;
    in->next_pts = AV_NOPTS_VALUE;
    in->frames = 0;
    in->preroll = 1;
    in->expect_pts = NULL;
    in->expect_n = 0;
    pthread_mutex_lock(&in->lock);
    in->packets_done = 0;
    pthread_mutex_unlock(&in->lock);
    return 0;
}

void vsri_input_set_position(vsr_input *in, int64_t next, const int64_t *expect_pts, int64_t n)
{
    in->preroll = 0;
    in->frames = next;
    in->expect_pts = expect_pts;
    in->expect_n = expect_pts ? n : 0;
}

void vsri_input_unread(vsr_input *in, vsr_frame *f)
{
    vsr_frame_unref(&in->given_back);
    in->given_back = f;
    in->frames--;
}

int64_t vsri_input_position(const vsr_input *in)
{
    return in->preroll || in->finished ? -1 : in->frames;
}

int vsri_input_stream(const vsr_input *in)
{
    return in->vidx;
}
