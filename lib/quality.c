/* PSNR and SSIM between two planar RGB images (see quality.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quality.h"

#define SSIM_WINDOW 11
#define SSIM_SIGMA 1.5
#define SSIM_C1 (0.01 * 0.01) /* (K1 * L)^2 with L = 1 */
#define SSIM_C2 (0.03 * 0.03) /* (K2 * L)^2 */

/* BT.709 luma weights. */
#define LUMA_R 0.2126
#define LUMA_G 0.7152
#define LUMA_B 0.0722

void vsri_image_rgbf32(vsri_image *img, const float *data, int width, int height)
{
    memset(img, 0, sizeof(*img));
    img->width = width;
    img->height = height;
    img->sample = VSRI_SAMPLE_F32;
    size_t plane_floats = (size_t)width * (size_t)height;
    for (int p = 0; p < 3; p++) {
        img->plane[p] = data + (size_t)p * plane_floats;
        img->stride[p] = (ptrdiff_t)width * (ptrdiff_t)sizeof(float);
    }
}

static int check_pair(const vsri_image *a, const vsri_image *b, const char *what)
{
    if (!a || !b)
        return vsri_error(VSR_EINVAL, "%s: NULL image", what);
    if (a->width <= 0 || a->height <= 0)
        return vsri_error(VSR_EINVAL, "%s: invalid image size %dx%d", what, a->width, a->height);
    if (a->width != b->width || a->height != b->height)
        return vsri_error(VSR_EINVAL, "%s: images differ in size (%dx%d and %dx%d)", what,
                          a->width, a->height, b->width, b->height);
    for (int p = 0; p < 3; p++) {
        if (!a->plane[p] || !b->plane[p])
            return vsri_error(VSR_EINVAL, "%s: plane %d is NULL", what, p);
    }
    if ((a->sample != VSRI_SAMPLE_F32 && a->sample != VSRI_SAMPLE_U8) ||
        (b->sample != VSRI_SAMPLE_F32 && b->sample != VSRI_SAMPLE_U8))
        return vsri_error(VSR_EINVAL, "%s: unknown sample type", what);
    return 0;
}

/* Row y of plane p as normalised doubles. */
static void read_row(const vsri_image *img, int p, int y, double *out)
{
    const uint8_t *row = (const uint8_t *)img->plane[p] + (ptrdiff_t)y * img->stride[p];
    if (img->sample == VSRI_SAMPLE_F32) {
        const float *f = (const float *)(const void *)row;
        for (int x = 0; x < img->width; x++)
            out[x] = f[x];
    } else {
        for (int x = 0; x < img->width; x++)
            out[x] = row[x] * (1.0 / 255.0);
    }
}

int vsri_quality_psnr(const vsri_image *a, const vsri_image *b, double *psnr_db)
{
    int err = check_pair(a, b, "PSNR");
    if (err < 0)
        return err;
    int w = a->width;
    double *ra = malloc(2 * (size_t)w * sizeof(double));
    if (!ra)
        return vsri_error(VSR_ENOMEM, "PSNR: out of memory for a %d-sample row", w);
    double *rb = ra + w;
    double sum_sq = 0;
    for (int p = 0; p < 3; p++) {
        for (int y = 0; y < a->height; y++) {
            read_row(a, p, y, ra);
            read_row(b, p, y, rb);
            for (int x = 0; x < w; x++) {
                double d = ra[x] - rb[x];
                sum_sq += d * d;
            }
        }
    }
    free(ra);
    double mse = sum_sq / (3.0 * (double)w * (double)a->height);
    *psnr_db = mse > 0 ? 10.0 * log10(1.0 / mse) : (mse == 0 ? INFINITY : NAN);
    return 0;
}

static void luma_row(const vsri_image *img, int y, double *out, double *scratch)
{
    read_row(img, 0, y, out);
    for (int x = 0; x < img->width; x++)
        out[x] *= LUMA_R;
    read_row(img, 1, y, scratch);
    for (int x = 0; x < img->width; x++)
        out[x] += LUMA_G * scratch[x];
    read_row(img, 2, y, scratch);
    for (int x = 0; x < img->width; x++)
        out[x] += LUMA_B * scratch[x];
}

/* The five local moments SSIM needs, one array of `valid` values each. */
enum { M_A, M_B, M_AA, M_BB, M_AB, M_COUNT };

int vsri_quality_ssim(const vsri_image *a, const vsri_image *b, double *ssim)
{
    int err = check_pair(a, b, "SSIM");
    if (err < 0)
        return err;
    int w = a->width, h = a->height;
    if (w < SSIM_WINDOW || h < SSIM_WINDOW)
        return vsri_error(VSR_EINVAL, "SSIM: image %dx%d is smaller than the %dx%d window", w, h,
                          SSIM_WINDOW, SSIM_WINDOW);

    double g[SSIM_WINDOW], gsum = 0;
    for (int k = 0; k < SSIM_WINDOW; k++) {
        double d = k - SSIM_WINDOW / 2;
        g[k] = exp(-d * d / (2 * SSIM_SIGMA * SSIM_SIGMA));
        gsum += g[k];
    }
    for (int k = 0; k < SSIM_WINDOW; k++)
        g[k] /= gsum;

    /* The filter is separable: rows are filtered horizontally as they are
     * read and kept in a ring of SSIM_WINDOW rows, so memory stays
     * proportional to the width, not the image (frames may be 8K). */
    int ow = w - SSIM_WINDOW + 1;
    size_t ring_values = (size_t)SSIM_WINDOW * M_COUNT * (size_t)ow;
    double *buf = malloc((3 * (size_t)w + ring_values + M_COUNT * (size_t)ow) * sizeof(double));
    if (!buf)
        return vsri_error(VSR_ENOMEM, "SSIM: out of memory for %dx%d images", w, h);
    double *la = buf, *lb = la + w, *scratch = lb + w;
    double *ring = scratch + w;
    double *acc = ring + ring_values;

    double total = 0;
    for (int y = 0; y < h; y++) {
        luma_row(a, y, la, scratch);
        luma_row(b, y, lb, scratch);
        double *slot = ring + (size_t)(y % SSIM_WINDOW) * M_COUNT * ow;
        for (int x = 0; x < ow; x++) {
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
            for (int k = 0; k < SSIM_WINDOW; k++) {
                double va = la[x + k], vb = lb[x + k];
                sa += g[k] * va;
                sb += g[k] * vb;
                saa += g[k] * va * va;
                sbb += g[k] * vb * vb;
                sab += g[k] * va * vb;
            }
            slot[M_A * ow + x] = sa;
            slot[M_B * ow + x] = sb;
            slot[M_AA * ow + x] = saa;
            slot[M_BB * ow + x] = sbb;
            slot[M_AB * ow + x] = sab;
        }
        if (y < SSIM_WINDOW - 1)
            continue;
        /* Rows y-10 .. y are in the ring: filter them vertically. */
        memset(acc, 0, M_COUNT * (size_t)ow * sizeof(double));
        for (int k = 0; k < SSIM_WINDOW; k++) {
            int row = y - (SSIM_WINDOW - 1) + k;
            const double *src = ring + (size_t)(row % SSIM_WINDOW) * M_COUNT * ow;
            for (size_t i = 0; i < M_COUNT * (size_t)ow; i++)
                acc[i] += g[k] * src[i];
        }
        for (int x = 0; x < ow; x++) {
            double mu_a = acc[M_A * ow + x], mu_b = acc[M_B * ow + x];
            double var_a = acc[M_AA * ow + x] - mu_a * mu_a;
            double var_b = acc[M_BB * ow + x] - mu_b * mu_b;
            double cov = acc[M_AB * ow + x] - mu_a * mu_b;
            double num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2);
            double den = (mu_a * mu_a + mu_b * mu_b + SSIM_C1) * (var_a + var_b + SSIM_C2);
            total += num / den;
        }
    }
    free(buf);
    *ssim = total / ((double)ow * (double)(h - SSIM_WINDOW + 1));
    return 0;
}
