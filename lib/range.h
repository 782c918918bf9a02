/*
 * The part of an input a run keeps (vsr_run_settings start_us, end_us,
 * start_frame, end_frame; FFmpeg's -ss, -to and -t): which decoded frames
 * go on, how far their timestamps move back so the output starts at 0, and
 * the window of the copied streams (audio, subtitles) on the input's clock.
 */
#ifndef LIBVSR_RANGE_H
#define LIBVSR_RANGE_H

#include <stdint.h>

#include "internal.h"

typedef struct vsri_range {
    int active;              /* some bound is set */
    int64_t start_us;        /* input clock (microseconds, as the demuxer counts), INT64_MIN: none */
    int64_t end_us;          /* INT64_MAX: none */
    int64_t start_frame;     /* 0: none */
    int64_t end_frame;       /* INT64_MAX: none */
    int64_t index;           /* index of the next frame the input returns */
    int started;             /* a frame was kept: shift_us is final */
    int ended;               /* a frame at or past the end was read */
    int64_t shift_us;        /* how far output timestamps move back */
    int64_t origin_us;       /* the input's start time: position 0 of start_us/end_us */
    int64_t copy_end_us;     /* end of the copied streams' window (known once ended, else end_us) */
    vsr_rational time_base;  /* of the video frames */
} vsri_range;

/* Check rs's range (VSR_EINVAL naming the setting) and set r up for the
 * input `in`, opened and not read yet. A time start seeks the input to the
 * keyframe before it; frames before the start are dropped by
 * vsri_range_take all the same, so a seek that lands early costs time
 * only. r->active is 0 when no bound is set. */
int vsri_range_open(vsri_range *r, const vsr_run_settings *rs, vsr_input *in);

/* Whether rs sets any bound (start_us, end_us, start_frame, end_frame not
 * -1): for the runs that take the whole input (resume, scale-out jobs). */
int vsri_range_is_set(const vsr_run_settings *rs);

enum { VSRI_RANGE_KEEP, VSRI_RANGE_DROP, VSRI_RANGE_END };

/* What to do with the next frame the input returned: keep it (its pts is
 * moved back; the caller must hold its only reference), drop it (before
 * the start), or stop (at or past the end). */
int vsri_range_take(vsri_range *r, vsr_frame *f);

/* How many frames the range keeps, from the input's frame count and rate
 * (for progress); -1 when unknown. */
int64_t vsri_range_frames(const vsri_range *r, const vsr_input_info *info);

/* The window of copied packets on the input's clock: [start, end) and the
 * shift; start is INT64_MIN and shift 0 until it is known. */
void vsri_range_copy_window(const vsri_range *r, int64_t *start_us, int64_t *end_us, int64_t *shift_us);

#endif /* LIBVSR_RANGE_H */
