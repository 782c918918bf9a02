/*
 * The FFmpeg API differences between the versions libvsr builds against
 * (FFmpeg 5.1, Debian 12, through 7.x): fields and functions that newer
 * versions replaced or removed, behind one name each.
 */
#ifndef LIBVSR_FFMPEG_COMPAT_H
#define LIBVSR_FFMPEG_COMPAT_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>

/* AVFrame.duration (lavu 57.30.100) replaced pkt_duration, which FFmpeg 7
 * removed. An lvalue: read and assign through it. */
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
#define VSRI_FRAME_DURATION(f) ((f)->duration)
#else
#define VSRI_FRAME_DURATION(f) ((f)->pkt_duration)
#endif

/* Stream side data moved into AVCodecParameters.coded_side_data (lavc
 * 60.29.100, FFmpeg 6.1); av_stream_get_side_data/new_side_data went. */
#define VSRI_CODECPAR_SIDE_DATA (LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 29, 100))

static inline const uint8_t *vsri_stream_side_data(const AVStream *st, enum AVPacketSideDataType type,
                                                   size_t *size)
{
#if VSRI_CODECPAR_SIDE_DATA
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                         st->codecpar->nb_coded_side_data, type);
    *size = sd ? sd->size : 0;
    return sd ? sd->data : NULL;
#else
    return av_stream_get_side_data(st, type, size);
#endif
}

/* A new side data block of size bytes on the stream, for the caller to
 * fill (NULL: out of memory); it replaces one of the same type, as
 * av_stream_new_side_data did. */
static inline uint8_t *vsri_stream_new_side_data(AVStream *st, enum AVPacketSideDataType type, size_t size)
{
#if VSRI_CODECPAR_SIDE_DATA
    av_packet_side_data_remove(st->codecpar->coded_side_data, &st->codecpar->nb_coded_side_data, type);
    AVPacketSideData *sd = av_packet_side_data_new(&st->codecpar->coded_side_data,
                                                   &st->codecpar->nb_coded_side_data, type, size, 0);
    return sd ? sd->data : NULL;
#else
    return av_stream_new_side_data(st, type, size);
#endif
}

/* The pixel formats an encoder takes, AV_PIX_FMT_NONE-terminated, or NULL
 * when it takes any. AVCodec.pix_fmts gave way to
 * avcodec_get_supported_config() in lavc 61.13.100 (FFmpeg 7.1). */
static inline const enum AVPixelFormat *vsri_encoder_pix_fmts(const AVCodec *c)
{
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(61, 13, 100)
    const void *list = NULL;
    int n = 0;
    if (avcodec_get_supported_config(NULL, c, AV_CODEC_CONFIG_PIX_FORMAT, 0, &list, &n) < 0)
        return NULL;
    return list;
#else
    return c->pix_fmts;
#endif
}

#endif /* LIBVSR_FFMPEG_COMPAT_H */
