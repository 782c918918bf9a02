/*
 * Speed of libvsr's pixel conversions (lib/convert.c) against swscale,
 * per 1920x1080 frame, single-threaded, plus the largest difference
 * between the two outputs.
 *
 * Not part of the meson build. Build by hand against a build directory's
 * internal library (here build-h7), from the source root:
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Ilib -Iinclude -Ibuild-h7 bench/convert-speed.c \
 *      build-h7/lib/libvsr_internal.a -lswscale -lavutil -lm -pthread -o /tmp/convert-speed
 *   /tmp/convert-speed [iterations]    (default 30; 1 = a quick check)
 *
 * Prints one line per conversion: the best (and median) milliseconds per
 * frame of libvsr's exact path and of swscale (with the flags libvsr gives
 * it), the speed-up of the best times, and the largest difference between
 * the two outputs. BENCH_W / BENCH_H in the environment change the size.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>

#include "convert.h"

/* The thread's CPU time: on a shared machine, time spent descheduled
 * would otherwise swamp the measurement (BENCH_WALL=1: wall clock). */
static double now_ms(void)
{
    static int wall = -1;
    if (wall < 0)
        wall = getenv("BENCH_WALL") && atoi(getenv("BENCH_WALL"));
    struct timespec ts;
    clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static AVFrame *frame(enum AVPixelFormat f, int w, int h)
{
    AVFrame *fr = av_frame_alloc();
    fr->format = f;
    fr->width = w;
    fr->height = h;
    fr->colorspace = AVCOL_SPC_BT709;
    fr->color_range = AVCOL_RANGE_MPEG;
    fr->chroma_location = AVCHROMA_LOC_LEFT;
    if (av_frame_get_buffer(fr, 0) < 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return fr;
}

/* A smooth colourful picture as RGBF32 (R = data[2], G = data[0], B = data[1]). */
static void fill_rgbf(AVFrame *fr)
{
    static const int plane[3] = {2, 0, 1};
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < fr->height; y++) {
            float *row = (float *)(fr->data[plane[c]] + (ptrdiff_t)y * fr->linesize[plane[c]]);
            for (int x = 0; x < fr->width; x++)
                row[x] = (float)(0.5 + 0.45 * sin(0.013 * x * (c + 1) + 0.021 * y * (3 - c) + c));
        }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef int (*conv_fn)(vsri_converter *, const AVFrame *, AVFrame *);

/* Best and median wall time of `iters` runs (the best is what the code
 * costs; the median also shows how busy the machine was). */
static double time_it(conv_fn fn, vsri_converter *cv, const AVFrame *src, AVFrame *dst, int iters, double *median)
{
    double *t = malloc(sizeof(double) * (size_t)iters);
    if (fn(cv, src, dst) < 0) { /* warm-up: allocations, context */
        fprintf(stderr, "conversion failed\n");
        exit(1);
    }
    for (int i = 0; i < iters; i++) {
        double t0 = now_ms();
        fn(cv, src, dst);
        t[i] = now_ms() - t0;
    }
    qsort(t, (size_t)iters, sizeof(double), cmp_double);
    double best = t[0];
    *median = t[iters / 2];
    free(t);
    return best;
}

/* Largest difference between two frames of the same format, in code
 * units (floats: in units of 1/255). */
static double max_diff(const AVFrame *a, const AVFrame *b)
{
    enum AVPixelFormat f = (enum AVPixelFormat)a->format;
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    double m = 0;
    for (int p = 0; p < av_pix_fmt_count_planes(f); p++) {
        int chroma = !(d->flags & AV_PIX_FMT_FLAG_RGB) && (p == 1 || p == 2);
        int w = chroma ? -((-a->width) >> d->log2_chroma_w) : a->width;
        int h = chroma ? -((-a->height) >> d->log2_chroma_h) : a->height;
        if (p == 1 && d->comp[1].plane == d->comp[2].plane)
            w *= 2; /* semi-planar */
        for (int y = 0; y < h; y++) {
            const uint8_t *ra = a->data[p] + (ptrdiff_t)y * a->linesize[p];
            const uint8_t *rb = b->data[p] + (ptrdiff_t)y * b->linesize[p];
            for (int x = 0; x < w; x++) {
                double va, vb;
                if (d->flags & AV_PIX_FMT_FLAG_FLOAT) {
                    va = ((const float *)ra)[x] * 255.0;
                    vb = ((const float *)rb)[x] * 255.0;
                } else if (d->comp[0].depth > 8) {
                    va = ((const uint16_t *)ra)[x] >> d->comp[0].shift;
                    vb = ((const uint16_t *)rb)[x] >> d->comp[0].shift;
                } else {
                    va = ra[x];
                    vb = rb[x];
                }
                m = fabs(va - vb) > m ? fabs(va - vb) : m;
            }
        }
    }
    return m;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 30;
    if (iters < 1)
        iters = 1;
    const int w = getenv("BENCH_W") ? atoi(getenv("BENCH_W")) : 1920;
    const int h = getenv("BENCH_H") ? atoi(getenv("BENCH_H")) : 1080;
    static const struct {
        enum AVPixelFormat from, to;
    } cases[] = {
        {AV_PIX_FMT_YUV420P, AV_PIX_FMT_GBRPF32},      {AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_GBRPF32},
        {AV_PIX_FMT_NV12, AV_PIX_FMT_GBRPF32},         {AV_PIX_FMT_P010LE, AV_PIX_FMT_GBRPF32},
        {AV_PIX_FMT_YUV444P, AV_PIX_FMT_GBRPF32},      {AV_PIX_FMT_RGB24, AV_PIX_FMT_GBRPF32},
        {AV_PIX_FMT_GBRPF32, AV_PIX_FMT_YUV420P},      {AV_PIX_FMT_GBRPF32, AV_PIX_FMT_YUV420P10LE},
        {AV_PIX_FMT_GBRPF32, AV_PIX_FMT_YUV444P10LE},  {AV_PIX_FMT_GBRPF32, AV_PIX_FMT_NV12},
        {AV_PIX_FMT_GBRPF32, AV_PIX_FMT_RGB24},        {AV_PIX_FMT_GBRPF32, AV_PIX_FMT_RGB48LE},
    };
    vsri_converter *cv = vsri_converter_alloc();
    AVFrame *rgbf = frame(AV_PIX_FMT_GBRPF32, w, h);
    fill_rgbf(rgbf);
    printf("%dx%d, best (median) of %d runs, one thread, %s time\n", w, h, iters,
           getenv("BENCH_WALL") && atoi(getenv("BENCH_WALL")) ? "wall" : "CPU");
    printf("%-26s %16s %16s %8s %14s\n", "conversion", "libvsr ms", "swscale ms", "speed-up", "max diff");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        AVFrame *src, *dst_e, *dst_s;
        if (cases[i].from == AV_PIX_FMT_GBRPF32) {
            src = av_frame_clone(rgbf);
        } else { /* make a realistic source from the picture */
            src = frame(cases[i].from, w, h);
            vsri_convert_av(cv, rgbf, src);
        }
        dst_e = frame(cases[i].to, w, h);
        dst_s = frame(cases[i].to, w, h);
        double me, ms;
        double te = time_it(vsri_convert_av, cv, src, dst_e, iters, &me);
        double ts = time_it(vsri_convert_av_swscale, cv, src, dst_s, iters, &ms);
        char name[64];
        snprintf(name, sizeof(name), "%s -> %s", av_get_pix_fmt_name(cases[i].from),
                 cases[i].to == AV_PIX_FMT_GBRPF32 ? "RGBF32" : av_get_pix_fmt_name(cases[i].to));
        if (cases[i].from == AV_PIX_FMT_GBRPF32)
            name[0] = 0, snprintf(name, sizeof(name), "RGBF32 -> %s", av_get_pix_fmt_name(cases[i].to));
        printf("%-26s %6.2f (%6.2f)  %6.2f (%6.2f) %7.1fx %8.2f %s\n", name, te, me, ts, ms, ts / te,
               max_diff(dst_e, dst_s),
               cases[i].to == AV_PIX_FMT_GBRPF32 ? "/255" : "codes");
        av_frame_free(&src);
        av_frame_free(&dst_e);
        av_frame_free(&dst_s);
    }
    av_frame_free(&rgbf);
    vsri_converter_free(&cv);
    return 0;
}
