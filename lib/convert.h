/*
 * Pixel conversion between any decoder format and the models' planar
 * float RGB (RGBF32, stored as AV_PIX_FMT_GBRPF32), and back to an
 * encoder's format, with the matrix, range and chroma siting the frames
 * declare (docs/colour.md has the details and the measured speed).
 *
 * Same-size conversions between the formats below are computed in float
 * by libvsr's own row loops, exact up to float rounding:
 *   - planar Y'CbCr 4:2:0, 4:2:2, 4:4:4, 4:4:0 at 8..16 bits (yuv*p*,
 *     yuvj* = full range, yuva*: alpha ignored on input, opaque on output);
 *     semi-planar nv12, nv21, nv16, nv24, nv42, p010, p016, p210, p410...;
 *     gray, gray9..gray16;
 *   - planar RGB gbrp, gbrp9..16 (gbrap*), packed rgb24, bgr24, rgba,
 *     bgra, argb, abgr, rgb0, bgr0, 0rgb, 0bgr, rgb48, bgr48, rgba64,
 *     bgra64 (native-endian 16-bit formats only);
 *   - GBRPF32 itself (copied).
 * Y'CbCr uses Kr/Kb of the frame's H.273 matrix (BT.601 = 5/6, BT.709 = 1,
 * BT.2020 = 9/10 read as non-constant luminance, SMPTE 240M = 7, FCC = 4),
 * limited or full range, chroma interpolated linearly at the frame's
 * chroma_location (unspecified = left) with clamped edges. Decoded RGB is
 * clamped to [0,1]. Encoding rounds to nearest (no dither) and clamps to
 * the format's code range (0..2^bits-1, so limited range keeps its foot-
 * and headroom), with chroma filtered down at the destination's siting.
 * RGB codes map to v / (2^bits - 1) exactly rounded, so 8-bit RGB round
 * trips bit-exactly. Non-float to non-float conversions go through an
 * RGBF32 intermediate (identical formats and colour are copied).
 *
 * Anything else — a resize, other formats (packed YUV, 4:1:1, big-endian,
 * palettes...), matrices without Kr/Kb (YCgCo, ICtCp) — goes through
 * swscale, as before. A converter caches its scratch rows, intermediate
 * and swscale context; use one converter per thread.
 */
#ifndef LIBVSR_CONVERT_H
#define LIBVSR_CONVERT_H

#include <libavutil/frame.h>

#include "frame_internal.h"

typedef struct vsri_converter vsri_converter;

vsri_converter *vsri_converter_alloc(void);
void vsri_converter_free(vsri_converter **cv);

/* Convert (and resize if the sizes differ) src into dst, which already has
 * its format and size. YUV sources are read with their own matrix, range
 * and chroma_location; YUV destinations are written with dst's. Unset
 * fields take the defaults of vsri_resolve_colour(); an unset
 * chroma_location means "left". */
int vsri_convert(vsri_converter *cv, const vsr_frame *src, vsr_frame *dst);
/* vsr_frame_convert() with the caller's converter: a new frame of format
 * and size, with src's properties (colour completed as documented there). */
int vsri_frame_convert(vsri_converter *cv, const vsr_frame *src, vsr_pixfmt format, int width, int height,
                       vsr_frame **out);
/* The same on raw AVFrames (used by the encoder for its own frames). */
int vsri_convert_av(vsri_converter *cv, const AVFrame *src, AVFrame *dst);
/* The same, always through swscale (for tests and benchmarks that compare
 * the two; swscale writes destination chroma at the "left" siting). */
int vsri_convert_av_swscale(vsri_converter *cv, const AVFrame *src, AVFrame *dst);

/* Fill in what a stream leaves unspecified, as players do: BT.709 for
 * frames at least 720 lines high (or 1280 wide), BT.601 below; limited
 * range for YUV except the JPEG (yuvj) formats; full range for RGB and
 * gray formats (gray images are full range; gray video is tagged). */
void vsri_resolve_colour(enum AVPixelFormat fmt, int width, int height,
                         enum AVColorSpace *matrix, enum AVColorRange *range);

#endif /* LIBVSR_CONVERT_H */
