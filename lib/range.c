/*
 * The part of an input a run keeps (see range.h). The rules are FFmpeg's
 * for `ffmpeg -ss S -t T -i in`: times count from the input's start time,
 * a frame is kept when it is shown at or after the start and before the
 * end, and the output's timestamps move back by the start.
 */
#include <libavformat/avformat.h>

#include "range.h"
#include "stream_internal.h"

/* A seek is worth it only past this much of the input: decoding a few
 * frames to drop them is cheaper than a demuxer seek (and works on every
 * input). */
#define SEEK_AFTER_US 2000000

int vsri_range_is_set(const vsr_run_settings *rs)
{
    return rs->start_us != -1 || rs->end_us != -1 || rs->start_frame != -1 || rs->end_frame != -1;
}

int vsri_range_open(vsri_range *r, const vsr_run_settings *rs, vsr_input *in)
{
    memset(r, 0, sizeof(*r));
    r->start_us = INT64_MIN;
    r->end_us = r->copy_end_us = INT64_MAX;
    r->end_frame = INT64_MAX;
    const struct {
        const char *name;
        int64_t v;
    } bounds[4] = {{"start_us", rs->start_us}, {"end_us", rs->end_us}, {"start_frame", rs->start_frame},
                   {"end_frame", rs->end_frame}};
    for (int i = 0; i < 4; i++) {
        if (bounds[i].v < -1)
            return vsri_error(VSR_EINVAL, "run settings: %s is %lld; -1 (unset) or a position >= 0", bounds[i].name,
                              (long long)bounds[i].v);
        r->active |= bounds[i].v >= 0;
    }
    if (!r->active)
        return 0;
    if (rs->end_us >= 0 && rs->start_us >= 0 && rs->end_us <= rs->start_us)
        return vsri_error(VSR_EINVAL, "run settings: end_us %lld is not after start_us %lld: the range is empty",
                          (long long)rs->end_us, (long long)rs->start_us);
    if (rs->end_frame >= 0 && rs->start_frame >= 0 && rs->end_frame <= rs->start_frame)
        return vsri_error(VSR_EINVAL, "run settings: end_frame %lld is not after start_frame %lld: the range is empty",
                          (long long)rs->end_frame, (long long)rs->start_frame);
    if (rs->resume)
        return vsri_error(VSR_EINVAL, "run settings: a range (start/end) cannot be resumed; run it without resume");
    if (rs->reference_path)
        return vsri_error(VSR_EINVAL, "run settings: a range (start/end) goes without reference_path (the "
                                      "reference would be compared from its first frame)");
    const AVFormatContext *fmt = vsri_input_format(in);
    const AVStream *st = vsri_input_video_stream(in);
    r->time_base = (vsr_rational){st->time_base.num, st->time_base.den};
    int64_t origin = fmt->start_time != AV_NOPTS_VALUE ? fmt->start_time : 0;
    r->origin_us = origin;
    /* The output starts at 0: it moves back by the start time, or by the
     * first kept frame's time for a start by frames; with no start it
     * keeps the input's times. */
    r->started = rs->start_frame < 0 || rs->start_us >= 0;
    if (rs->start_us >= 0) {
        r->start_us = origin + rs->start_us;
        r->shift_us = r->start_us;
    }
    if (rs->end_us >= 0)
        r->end_us = r->copy_end_us = origin + rs->end_us;
    if (rs->start_frame >= 0)
        r->start_frame = rs->start_frame;
    if (rs->end_frame >= 0)
        r->end_frame = rs->end_frame;
    if (rs->start_frame < 0 && rs->end_frame < 0 && rs->start_us > SEEK_AFTER_US) {
        /* Frames are not counted after a seek, so only a range by time seeks. */
        int64_t ts = av_rescale_q(r->start_us, AV_TIME_BASE_Q, st->time_base);
        if (vsri_input_restart_at(in, ts) == 0)
            vsri_input_set_position(in, 0, NULL, 0);
        else
            vsri_log(VSR_LOG_INFO, "input %s: cannot seek to %.3f s; decoding from the start instead",
                     vsri_input_name(in), rs->start_us / 1e6);
        r->index = -1;
    }
    return 0;
}

int vsri_range_take(vsri_range *r, vsr_frame *f)
{
    int64_t i = r->index >= 0 ? r->index++ : -1;
    int64_t pts = vsr_frame_pts(f);
    AVRational tb = {r->time_base.num, r->time_base.den};
    int64_t us = pts == INT64_MIN ? INT64_MIN : av_rescale_q(pts, tb, AV_TIME_BASE_Q);
    if (i >= r->end_frame || (us != INT64_MIN && us >= r->end_us)) {
        r->ended = 1;
        if (us != INT64_MIN && us < r->copy_end_us)
            r->copy_end_us = us; /* the copied streams end where the video does */
        return VSRI_RANGE_END;
    }
    if ((i >= 0 && i < r->start_frame) || (r->start_us != INT64_MIN && (us == INT64_MIN || us < r->start_us)))
        return VSRI_RANGE_DROP;
    if (!r->started) { /* a range by frames starts at its first frame's time */
        r->started = 1;
        r->shift_us = us == INT64_MIN ? 0 : us;
        r->start_us = us;
    }
    if (pts != INT64_MIN && r->shift_us) {
        int64_t moved = pts - av_rescale_q(r->shift_us, AV_TIME_BASE_Q, tb);
        vsr_frame_set_pts(f, moved);
    }
    return VSRI_RANGE_KEEP;
}

int64_t vsri_range_frames(const vsri_range *r, const vsr_input_info *info)
{
    if (!r->active)
        return info->frames;
    double fps = info->frame_rate.den > 0 ? (double)info->frame_rate.num / info->frame_rate.den : 0;
    int64_t first = r->start_frame;
    int64_t last = info->frames >= 0 ? info->frames : INT64_MAX;
    if (r->end_frame < last)
        last = r->end_frame;
    if (fps > 0 && r->start_us != INT64_MIN) {
        int64_t by_time = (int64_t)((r->start_us - r->origin_us) / 1e6 * fps + 0.999);
        first = by_time > first ? by_time : first;
    }
    if (fps > 0 && r->end_us != INT64_MAX) {
        int64_t by_time = (int64_t)((r->end_us - r->origin_us) / 1e6 * fps + 0.999);
        last = by_time < last ? by_time : last;
    }
    if (last == INT64_MAX)
        return -1;
    return last > first ? last - first : 0;
}

void vsri_range_copy_window(const vsri_range *r, int64_t *start_us, int64_t *end_us, int64_t *shift_us)
{
    *start_us = r->started ? r->start_us : INT64_MIN;
    *end_us = r->copy_end_us;
    *shift_us = r->started ? r->shift_us : 0;
}
