/* vsr-cli --compare: bicubic and model side by side (see cli_compare.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvsr/vsr.h>

#include "cli_compare.h"
#include "png_write.h"

static int fail(char *err, size_t errlen, const char *what, const char *path, int code)
{
    snprintf(err, errlen, "--compare: %s '%s': %s", what, path,
             vsr_last_error()[0] ? vsr_last_error() : vsr_strerror(code));
    return -1;
}

/* Frame n of a file (0-based), or NULL with err set. */
static vsr_frame *read_nth(const char *path, const char *what, int64_t n, char *err, size_t errlen)
{
    vsr_input *in = NULL;
    int rc = vsr_input_open(&in, path, NULL);
    if (rc < 0) {
        fail(err, errlen, "cannot open", path, rc);
        return NULL;
    }
    vsr_frame *f = NULL;
    for (int64_t i = 0; i <= n; i++) {
        vsr_frame_unref(&f);
        rc = vsr_input_read_frame(in, &f);
        if (rc == VSR_EOF) {
            snprintf(err, errlen, "--compare: the %s '%s' has only %lld frames; there is no frame %lld", what, path,
                     (long long)i, (long long)n);
            break;
        }
        if (rc < 0) {
            fail(err, errlen, "cannot read", path, rc);
            break;
        }
    }
    vsr_input_close(&in);
    if (rc < 0)
        vsr_frame_unref(&f);
    return f;
}

/* The input frame a range's output frame n came from: by index after a
 * frame start; after a time start, counted from the first frame shown at
 * or after it (times from the first video frame). */
static vsr_frame *read_source(const char *path, int64_t n, const cli_compare_range *r, char *err, size_t errlen)
{
    if (r->start_us < 0)
        return read_nth(path, "input", (r->start_frame > 0 ? r->start_frame : 0) + n, err, errlen);
    vsr_input *in = NULL;
    int rc = vsr_input_open(&in, path, NULL);
    if (rc < 0) {
        fail(err, errlen, "cannot open", path, rc);
        return NULL;
    }
    vsr_frame *f = NULL;
    int64_t first = INT64_MIN, kept = 0;
    for (;;) {
        vsr_frame_unref(&f);
        rc = vsr_input_read_frame(in, &f);
        if (rc < 0) {
            if (rc == VSR_EOF)
                snprintf(err, errlen, "--compare: the input '%s' has no frame %lld in the range", path, (long long)n);
            else
                fail(err, errlen, "cannot read", path, rc);
            break;
        }
        vsr_rational tb = vsr_frame_time_base(f);
        int64_t pts = vsr_frame_pts(f);
        int64_t us = tb.den > 0 && pts != INT64_MIN ? (int64_t)((double)pts * tb.num * 1e6 / tb.den) : 0;
        if (first == INT64_MIN)
            first = us;
        if (us - first >= r->start_us && kept++ == n)
            break;
    }
    vsr_input_close(&in);
    if (rc < 0)
        vsr_frame_unref(&f);
    return f;
}

int cli_compare_write(const char *png_path, const char *input, const char *output, int64_t frame,
                      const cli_compare_range *range, char *err, size_t errlen)
{
    if (frame < 0) { /* the middle frame of the output */
        vsr_input *o = NULL;
        int rc = vsr_input_open(&o, output, NULL);
        if (rc < 0)
            return fail(err, errlen, "cannot open", output, rc);
        vsr_input_info info = {.size = sizeof(info)};
        vsr_input_get_info(o, &info);
        vsr_input_close(&o);
        frame = info.frames > 0 ? (info.frames - 1) / 2 : 0;
    }
    vsr_frame *after = read_nth(output, "output", frame, err, errlen);
    if (!after)
        return -1;
    vsr_frame *before = read_source(input, frame, range, err, errlen);
    if (!before) {
        vsr_frame_unref(&after);
        return -1;
    }
    int w = vsr_frame_width(after), h = vsr_frame_height(after);
    vsr_frame *a = NULL, *b = NULL;
    int rc = vsr_frame_convert(&a, after, VSR_PIXFMT_RGB24, w, h);
    if (rc >= 0)
        rc = vsr_frame_convert(&b, before, VSR_PIXFMT_RGB24, w, h); /* bicubic to the output's size */
    vsr_frame_unref(&after);
    vsr_frame_unref(&before);
    int ret = -1;
    uint8_t *pic = NULL;
    if (rc < 0) {
        fail(err, errlen, "cannot convert frames for", png_path, rc);
        goto out;
    }
    int cw = w < COMPARE_CROP ? w : COMPARE_CROP, ch = h < COMPARE_CROP ? h : COMPARE_CROP;
    int x0 = (w - cw) / 2, y0 = (h - ch) / 2;
    int pw = 2 * cw + COMPARE_GAP;
    pic = malloc((size_t)pw * ch * 3);
    if (!pic) {
        snprintf(err, errlen, "--compare: out of memory for a %dx%d picture", pw, ch);
        goto out;
    }
    memset(pic, 255, (size_t)pw * ch * 3);
    const uint8_t *src[2] = {vsr_frame_data(b, 0), vsr_frame_data(a, 0)};
    ptrdiff_t ls[2] = {vsr_frame_linesize(b, 0), vsr_frame_linesize(a, 0)};
    for (int k = 0; k < 2; k++)
        for (int y = 0; y < ch; y++)
            memcpy(pic + ((size_t)y * pw + (size_t)k * (cw + COMPARE_GAP)) * 3,
                   src[k] + (ptrdiff_t)(y0 + y) * ls[k] + (ptrdiff_t)x0 * 3, (size_t)cw * 3);
    int e = png_write_rgb24(png_path, pic, pw, ch, (ptrdiff_t)pw * 3);
    if (e) {
        snprintf(err, errlen, "--compare: cannot write '%s': %s", png_path, strerror(e));
        goto out;
    }
    ret = 0;
out:
    free(pic);
    vsr_frame_unref(&a);
    vsr_frame_unref(&b);
    return ret;
}
