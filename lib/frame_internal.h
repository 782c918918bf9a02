/*
 * vsr_frame internals: a frame is an AVFrame (which owns the pixel buffers
 * through AVBufferRefs) plus a reference count, the public format and the
 * time base. RGBF32 frames are stored as FFmpeg's GBRPF32 planes (G, B, R
 * order) pointing into one contiguous R,G,B block, so swscale can write
 * them and libtorch can read them as a CHW tensor without copies.
 */
#ifndef LIBVSR_FRAME_INTERNAL_H
#define LIBVSR_FRAME_INTERNAL_H

#include <stdatomic.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include "internal.h"

struct vsr_frame {
    atomic_int refs;
    AVFrame *av;
    vsr_pixfmt format;
    vsr_rational time_base;
    void *user_data;   /* the caller's; carried to frames made from this one */
};

/* FFmpeg format for a public one (AV_PIX_FMT_NONE for NONE/OTHER). */
enum AVPixelFormat vsri_pixfmt_to_av(vsr_pixfmt f);
/* Public format for an FFmpeg one (VSR_PIXFMT_OTHER if unnamed). */
vsr_pixfmt vsri_pixfmt_from_av(enum AVPixelFormat f);

/* A frame taking over the references of av (av is reset, not freed). */
int vsri_frame_from_av(vsr_frame **out, AVFrame *av, vsr_rational time_base);

/* An RGBF32 frame over an existing CHW block kept alive by buf (a new
 * reference to buf is taken): how a session hands out a model's output
 * without copying it. */
int vsri_frame_wrap_rgbf32(vsr_frame **out, AVBufferRef *buf, float *chw, int width, int height);


/* Start of the contiguous CHW block of an RGBF32 frame (R plane). */
static inline float *vsri_frame_chw(const vsr_frame *f)
{
    return (float *)f->av->data[2];
}

/* 1 if f is RGBF32 laid out as one CHW block (what a tensor can use as it
 * is); frames wrapped from caller memory may have padded or separate planes. */
static inline int vsri_frame_is_chw(const vsr_frame *f)
{
    if (f->format != VSR_PIXFMT_RGBF32)
        return 0;
    const float *r = vsri_frame_chw(f);
    size_t plane = (size_t)f->av->width * f->av->height;
    int row = f->av->width * (int)sizeof(float);
    return f->av->linesize[0] == row && f->av->linesize[1] == row && f->av->linesize[2] == row &&
           (const float *)f->av->data[0] == r + plane && (const float *)f->av->data[1] == r + 2 * plane;
}

/* Copy pts, duration, time base, colour, side data (HDR) and user data from src. */
int vsri_frame_copy_props(vsr_frame *dst, const vsr_frame *src);

#endif /* LIBVSR_FRAME_INTERNAL_H */
