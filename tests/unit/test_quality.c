/* PSNR and SSIM against values known in closed form. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libvsr/vsr.h"
#include "quality.h"
#include "testutil.h"

#define W 96
#define H 64
#define PLANE (W * H)

static uint64_t rng_state = 12345;

static double uniform(void)
{
    /* xorshift64*, mapped to (0, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t v = rng_state * 2685821657736338717ull;
    return ((double)(v >> 11) + 0.5) / 9007199254740992.0;
}

static double gaussian(void)
{
    /* Box-Muller */
    return sqrt(-2.0 * log(uniform())) * cos(2.0 * M_PI * uniform());
}

/* A smooth test picture with some texture, in [0.1, 0.9]. */
static void make_picture(float *img, int w, int h)
{
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                img[(size_t)p * w * h + (size_t)y * w + x] =
                    (float)(0.5 + 0.2 * sin(x * 0.37 + p) * cos(y * 0.23) + 0.2 * ((x / 4 + y / 4) % 2 ? 1 : -1) * 0.5);
}

static void test_identical(void)
{
    float *a = malloc(3 * PLANE * sizeof(float));
    make_picture(a, W, H);
    vsri_image ia;
    vsri_image_rgbf32(&ia, a, W, H);
    double psnr = 0, ssim = 0;
    CHECK_EQ_INT(vsri_quality_psnr(&ia, &ia, &psnr), 0);
    CHECK(isinf(psnr) && psnr > 0);
    CHECK_EQ_INT(vsri_quality_ssim(&ia, &ia, &ssim), 0);
    CHECK_MSG(fabs(ssim - 1.0) < 1e-12, "ssim %.15f", ssim);
    free(a);
}

static void test_offset(void)
{
    /* b = a + 0.1 everywhere: MSE = 0.01, PSNR = 20 dB exactly (up to
     * float rounding of the samples). Offsets of 0.05 and 0.25 also. */
    float *a = malloc(3 * PLANE * sizeof(float));
    float *b = malloc(3 * PLANE * sizeof(float));
    make_picture(a, W, H);
    const double offsets[] = {0.1, 0.05, 0.25};
    for (int k = 0; k < 3; k++) {
        double d = offsets[k];
        for (int i = 0; i < 3 * PLANE; i++)
            b[i] = (float)(a[i] + d);
        vsri_image ia, ib;
        vsri_image_rgbf32(&ia, a, W, H);
        vsri_image_rgbf32(&ib, b, W, H);
        double psnr = 0;
        CHECK_EQ_INT(vsri_quality_psnr(&ia, &ib, &psnr), 0);
        double expected = -20.0 * log10(d);
        CHECK_MSG(fabs(psnr - expected) < 1e-4, "offset %g: %.6f dB, expected %.6f", d, psnr, expected);
        /* symmetric */
        double back = 0;
        vsri_quality_psnr(&ib, &ia, &back);
        CHECK(back == psnr);
        /* a brightness shift keeps the structure: SSIM below 1 but high */
        double ssim = 0;
        CHECK_EQ_INT(vsri_quality_ssim(&ia, &ib, &ssim), 0);
        CHECK(ssim < 1.0 && ssim > 0.5);
    }
    free(a);
    free(b);
}

static void test_noise(void)
{
    /* Gaussian noise of standard deviation sigma on a mid-grey picture (no
     * clipping): MSE = sigma^2, PSNR = -20 log10(sigma). */
    int w = 256, h = 256;
    size_t n = 3 * (size_t)w * h;
    float *a = malloc(n * sizeof(float));
    float *b = malloc(n * sizeof(float));
    const double sigmas[] = {0.01, 0.03};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < n; i++) {
            a[i] = 0.5f;
            b[i] = (float)(0.5 + sigmas[k] * gaussian());
        }
        vsri_image ia, ib;
        vsri_image_rgbf32(&ia, a, w, h);
        vsri_image_rgbf32(&ib, b, w, h);
        double psnr = 0, ssim = 0;
        CHECK_EQ_INT(vsri_quality_psnr(&ia, &ib, &psnr), 0);
        double expected = -20.0 * log10(sigmas[k]);
        CHECK_MSG(fabs(psnr - expected) < 0.1, "sigma %g: %.4f dB, expected %.4f", sigmas[k], psnr,
                  expected);
        CHECK_EQ_INT(vsri_quality_ssim(&ia, &ib, &ssim), 0);
        CHECK(ssim < 1.0);
    }
    free(a);
    free(b);
}

static void box_blur(const float *src, float *dst, int w, int h)
{
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double s = 0;
                int n = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx, yy = y + dy;
                        if (xx < 0 || yy < 0 || xx >= w || yy >= h)
                            continue;
                        s += src[(size_t)p * w * h + (size_t)yy * w + xx];
                        n++;
                    }
                dst[(size_t)p * w * h + (size_t)y * w + x] = (float)(s / n);
            }
}

static void test_structure(void)
{
    float *a = malloc(3 * PLANE * sizeof(float));
    float *b = malloc(3 * PLANE * sizeof(float));
    float *c = malloc(3 * PLANE * sizeof(float));
    make_picture(a, W, H);
    /* shift by two pixels (wrapping) */
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                b[p * PLANE + y * W + x] = a[p * PLANE + y * W + (x + 2) % W];
    box_blur(a, c, W, H);
    vsri_image ia, ib, ic;
    vsri_image_rgbf32(&ia, a, W, H);
    vsri_image_rgbf32(&ib, b, W, H);
    vsri_image_rgbf32(&ic, c, W, H);
    double shifted = 0, blurred = 0;
    CHECK_EQ_INT(vsri_quality_ssim(&ia, &ib, &shifted), 0);
    CHECK_EQ_INT(vsri_quality_ssim(&ia, &ic, &blurred), 0);
    CHECK_MSG(shifted < 0.99 && shifted > -1.0, "shifted %f", shifted);
    CHECK_MSG(blurred < 0.99 && blurred > 0.0, "blurred %f", blurred);
    fprintf(stderr, "SSIM shifted %.4f, blurred %.4f\n", shifted, blurred);

    /* Strided images: the same picture inside larger rows gives the same values. */
    int stride = W + 7;
    float *wide = calloc(3 * (size_t)stride * H, sizeof(float));
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < H; y++)
            memcpy(wide + (size_t)p * stride * H + (size_t)y * stride, c + p * PLANE + y * W,
                   W * sizeof(float));
    vsri_image iw = {.width = W, .height = H, .sample = VSRI_SAMPLE_F32};
    for (int p = 0; p < 3; p++) {
        iw.plane[p] = wide + (size_t)p * stride * H;
        iw.stride[p] = stride * (ptrdiff_t)sizeof(float);
    }
    double again = 0, psnr1 = 0, psnr2 = 0;
    CHECK_EQ_INT(vsri_quality_ssim(&ia, &iw, &again), 0);
    CHECK(again == blurred);
    vsri_quality_psnr(&ia, &ic, &psnr1);
    vsri_quality_psnr(&ia, &iw, &psnr2);
    CHECK(psnr1 == psnr2);
    free(wide);
    free(a);
    free(b);
    free(c);
}

/* SSIM the direct way: a full 2-D window at every valid position. */
static double naive_ssim(const float *a, const float *b, int w, int h)
{
    double g[11], gs = 0;
    for (int k = 0; k < 11; k++) {
        g[k] = exp(-(k - 5) * (k - 5) / (2 * 1.5 * 1.5));
        gs += g[k];
    }
    double *ya = malloc((size_t)w * h * sizeof(double)), *yb = malloc((size_t)w * h * sizeof(double));
    for (int i = 0; i < w * h; i++) {
        ya[i] = 0.2126 * a[i] + 0.7152 * a[w * h + i] + 0.0722 * a[2 * w * h + i];
        yb[i] = 0.2126 * b[i] + 0.7152 * b[w * h + i] + 0.0722 * b[2 * w * h + i];
    }
    double total = 0;
    for (int y = 0; y + 11 <= h; y++)
        for (int x = 0; x + 11 <= w; x++) {
            double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
            for (int dy = 0; dy < 11; dy++)
                for (int dx = 0; dx < 11; dx++) {
                    double wt = g[dy] * g[dx] / (gs * gs);
                    double va = ya[(y + dy) * w + x + dx], vb = yb[(y + dy) * w + x + dx];
                    ma += wt * va;
                    mb += wt * vb;
                    saa += wt * va * va;
                    sbb += wt * vb * vb;
                    sab += wt * va * vb;
                }
            double c1 = 0.0001, c2 = 0.0009;
            total += (2 * ma * mb + c1) * (2 * (sab - ma * mb) + c2) /
                     ((ma * ma + mb * mb + c1) * (saa - ma * ma + sbb - mb * mb + c2));
        }
    free(ya);
    free(yb);
    return total / ((double)(w - 10) * (h - 10));
}

static void test_reference(void)
{
    int w = 40, h = 29;
    size_t n = 3 * (size_t)w * h;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)uniform();
        b[i] = (float)(0.7 * a[i] + 0.3 * uniform());
    }
    vsri_image ia, ib;
    vsri_image_rgbf32(&ia, a, w, h);
    vsri_image_rgbf32(&ib, b, w, h);
    double fast = 0, slow = naive_ssim(a, b, w, h);
    CHECK_EQ_INT(vsri_quality_ssim(&ia, &ib, &fast), 0);
    CHECK_MSG(fabs(fast - slow) < 1e-9, "separable %.12f, direct %.12f", fast, slow);
    free(a);
    free(b);
}

static void test_u8(void)
{
    /* 8-bit planes, as GBRP stores them (G, B, R in memory); differences
     * of one step everywhere give MSE = (1/255)^2: 48.13 dB. */
    int w = 32, h = 24;
    uint8_t *pa = malloc(3 * (size_t)w * h), *pb = malloc(3 * (size_t)w * h);
    for (int i = 0; i < 3 * w * h; i++) {
        pa[i] = (uint8_t)(i * 7 % 250);
        pb[i] = (uint8_t)(pa[i] + 1);
    }
    vsri_image ia = {.width = w, .height = h, .sample = VSRI_SAMPLE_U8};
    vsri_image ib = ia;
    const int order[3] = {2, 0, 1}; /* R is the third plane in GBRP */
    for (int p = 0; p < 3; p++) {
        ia.plane[p] = pa + (size_t)order[p] * w * h;
        ib.plane[p] = pb + (size_t)order[p] * w * h;
        ia.stride[p] = ib.stride[p] = w;
    }
    double psnr = 0;
    CHECK_EQ_INT(vsri_quality_psnr(&ia, &ib, &psnr), 0);
    CHECK_MSG(fabs(psnr - 20.0 * log10(255.0)) < 1e-9, "%.9f", psnr);

    /* A float image equal to the 8-bit one, sample for sample. */
    float *f = malloc(3 * (size_t)w * h * sizeof(float));
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < w * h; i++)
            f[(size_t)p * w * h + i] = (float)(((const uint8_t *)ia.plane[p])[i] / 255.0);
    vsri_image iff;
    vsri_image_rgbf32(&iff, f, w, h);
    double mixed = 0, ssim = 0;
    CHECK_EQ_INT(vsri_quality_psnr(&iff, &ia, &mixed), 0);
    CHECK(mixed > 130); /* only float rounding differs */
    CHECK_EQ_INT(vsri_quality_ssim(&iff, &ia, &ssim), 0);
    CHECK(fabs(ssim - 1.0) < 1e-6);
    free(f);
    free(pa);
    free(pb);
}

static void test_errors(void)
{
    float *a = calloc(3 * PLANE, sizeof(float));
    vsri_image ia, ib, tiny;
    vsri_image_rgbf32(&ia, a, W, H);
    vsri_image_rgbf32(&ib, a, W - 1, H);
    vsri_image_rgbf32(&tiny, a, 8, 8);
    double v = 0;
    CHECK(vsri_quality_psnr(&ia, &ib, &v) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "differ in size") != NULL);
    CHECK(vsri_quality_ssim(&ia, &ib, &v) == VSR_EINVAL);
    CHECK(vsri_quality_ssim(&tiny, &tiny, &v) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "11x11") != NULL);
    CHECK_EQ_INT(vsri_quality_psnr(&tiny, &tiny, &v), 0); /* PSNR has no minimum size */
    CHECK(vsri_quality_psnr(NULL, &ia, &v) == VSR_EINVAL);
    free(a);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET);
    test_identical();
    test_offset();
    test_noise();
    test_structure();
    test_reference();
    test_u8();
    test_errors();
    return test_result("quality");
}
