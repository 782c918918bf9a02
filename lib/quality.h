/*
 * Full-reference quality measures between two images of the same size:
 * PSNR over the R, G and B samples and SSIM on luma.
 *
 * Samples are normalised to [0,1] (float samples as they are, 8-bit samples
 * divided by 255), so a float image may be compared with an 8-bit one and
 * the peak signal is 1.0 in both cases.
 */
#ifndef LIBVSR_QUALITY_H
#define LIBVSR_QUALITY_H

#include <stddef.h>
#include <stdint.h>

/*
 * PSNR of identical images is +INFINITY from these functions. The tracker
 * (vsr_tracker_record_quality) stores PSNR capped at this value so that
 * means stay finite and every export can write a number. 100 dB is an RMS
 * error of 1e-5, under 1/300 of an 8-bit step: closer images count as
 * identical.
 */
#define VSRI_PSNR_CAP_DB 100.0

typedef enum vsri_sample_type {
    VSRI_SAMPLE_F32 = 0, /* float, nominal range [0,1] */
    VSRI_SAMPLE_U8 = 1,  /* 8-bit, 0..255 */
} vsri_sample_type;

/* A planar RGB image: plane[0..2] are R, G and B (whatever their order in
 * memory, e.g. GBRP), each row stride[p] bytes after the previous one. */
typedef struct vsri_image {
    int width;
    int height;
    vsri_sample_type sample;
    const void *plane[3];
    ptrdiff_t stride[3];
} vsri_image;

/* Describe libvsr's RGBF32 layout: three contiguous planes of
 * width*height floats (a CHW tensor). */
void vsri_image_rgbf32(vsri_image *img, const float *data, int width, int height);

/* PSNR in dB with peak 1.0 over all three channels:
 * 10 * log10(1 / MSE), MSE averaged over 3 * width * height samples.
 * VSR_EINVAL (with a message) when the sizes differ or are not positive. */
int vsri_quality_psnr(const vsri_image *a, const vsri_image *b, double *psnr_db);

/* Mean SSIM on luma Y = 0.2126 R + 0.7152 G + 0.0722 B (BT.709 weights),
 * with the standard constants of Wang et al. (2004): an 11x11 Gaussian
 * window of sigma 1.5, K1 = 0.01, K2 = 0.03, dynamic range L = 1, averaged
 * over every window position that lies wholly inside the image (no
 * padding). Both images must be at least 11x11 (VSR_EINVAL otherwise). */
int vsri_quality_ssim(const vsri_image *a, const vsri_image *b, double *ssim);

#endif /* LIBVSR_QUALITY_H */
