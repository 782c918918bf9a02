/*
 * Pixel conversion between any decoder format and the models' planar
 * float RGB (and back to an encoder's format), with the matrix and range
 * the frames declare. One converter caches one swscale context; use one
 * converter per thread.
 */
#ifndef LIBVSR_CONVERT_H
#define LIBVSR_CONVERT_H

#include <libavutil/frame.h>

#include "frame_internal.h"

typedef struct vsri_converter vsri_converter;

vsri_converter *vsri_converter_alloc(void);
void vsri_converter_free(vsri_converter **cv);

/* Convert (and resize if the sizes differ) src into dst, which already has
 * its format and size. YUV sources are read with their own matrix and
 * range; YUV destinations are written with dst's colour fields. Unset
 * fields take the defaults of vsri_resolve_colour(). */
int vsri_convert(vsri_converter *cv, const vsr_frame *src, vsr_frame *dst);
/* The same on raw AVFrames (used by the encoder for its own frames). */
int vsri_convert_av(vsri_converter *cv, const AVFrame *src, AVFrame *dst);

/* Fill in what a stream leaves unspecified, as players do: BT.709 for
 * frames at least 720 lines high (or 1280 wide), BT.601 below; limited
 * range for YUV except the JPEG (yuvj) formats. */
void vsri_resolve_colour(enum AVPixelFormat fmt, int width, int height,
                         enum AVColorSpace *matrix, enum AVColorRange *range);

#endif /* LIBVSR_CONVERT_H */
