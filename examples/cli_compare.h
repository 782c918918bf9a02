/*
 * vsr-cli --compare FILE.png: before and after, side by side. One frame of
 * the finished output (after encoding: what the viewer gets) next to a
 * bicubic upscale of the same input frame to the same size, both cropped
 * to the centre (at most COMPARE_CROP x COMPARE_CROP output pixels):
 *
 *     [ bicubic | 4-pixel white gap | model ]   width 2 * crop + 4, height crop
 */
#ifndef VSR_CLI_COMPARE_H
#define VSR_CLI_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#define COMPARE_CROP 512
#define COMPARE_GAP 4

/* The range the run kept, to find the input frame of output frame N. */
typedef struct cli_compare_range {
    int64_t start_frame; /* -1: none */
    int64_t start_us;    /* -1: none; counted from the input's first video frame */
} cli_compare_range;

/* Write the picture of output frame `frame` (-1: the middle one) to
 * png_path. 0, or -1 with a message naming the file in err. */
int cli_compare_write(const char *png_path, const char *input, const char *output, int64_t frame,
                      const cli_compare_range *range, char *err, size_t errlen);

#endif /* VSR_CLI_COMPARE_H */
