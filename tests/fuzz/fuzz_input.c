/*
 * Fuzz target: arbitrary bytes opened and decoded as a video through
 * libvsr's input path (an in-memory I/O context), each frame converted to
 * the models' float RGB as a session would. Small limits keep a hostile
 * header from asking for huge frames (which must be refused, not crash).
 */
#include <stddef.h>
#include <stdint.h>

#include <libavutil/log.h>

#include "libvsr/vsr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        av_log_set_level(AV_LOG_QUIET);
        vsr_log_set_level(VSR_LOG_QUIET);
        quiet = 1;
    }
    vsr_input_settings s;
    vsr_input_settings_default(&s);
    s.max_width = 512;
    s.max_height = 512;
    s.max_pixels = 512 * 512;
    s.max_frames = 8;
    s.threads = 1;
    vsr_input *in = NULL;
    if (vsr_input_open_buffer(&in, data, size, &s) < 0)
        return 0;
    vsr_input_info info = {.size = sizeof(info)};
    vsr_input_get_info(in, &info);
    vsr_frame *f = NULL;
    while (vsr_input_read_frame(in, &f) == 0) {
        vsr_frame *rgb = NULL;
        if (vsr_frame_convert(&rgb, f, VSR_PIXFMT_RGBF32, vsr_frame_width(f), vsr_frame_height(f)) == 0) {
            /* touch the whole picture so a short buffer would show */
            const float *p = (const float *)vsr_frame_data(rgb, 0);
            volatile float sum = 0;
            for (int i = 0; i < 3 * vsr_frame_width(rgb) * vsr_frame_height(rgb); i++)
                sum += p[i];
            (void)sum;
        }
        vsr_frame_unref(&rgb);
        vsr_frame_unref(&f);
    }
    const char *msg = NULL;
    vsr_input_damaged(in, &msg);
    vsr_input_close(&in);
    return 0;
}
