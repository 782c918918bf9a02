/*
 * Stitching a job's segments into its output (job_internal.h).
 *
 * Every segment's video packets are copied with their own timestamps (a
 * segment keeps the input's pts), and the input's other streams are pumped
 * in between, up to each packet's time, so the output interleaves as a
 * whole-file run's does; chapters and metadata come with the output opened
 * on the input. Before anything is written every segment must be
 * committed and agree with the plan; while copying, each one's checksum
 * and packet count are checked again, and the decode timestamps must keep
 * increasing across the joins (a muxer refuses them otherwise).
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "job_internal.h"
#include "stream_internal.h"

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void vsri_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The segments not committed, as "2, 5 and 7" (at most 20 named). */
static int check_committed(const vsri_plan *p, int64_t n, vsri_manifest *m)
{
    vsri_strbuf missing;
    vsri_sb_init(&missing);
    int64_t count = 0;
    for (int64_t k = 0; k < n; k++) {
        int c = vsri_segment_committed(p, k, &m[k]);
        if (c < 0) {
            vsri_sb_free(&missing);
            return c;
        }
        if (c == 0 && count++ < 20)
            vsri_sb_printf(&missing, "%s%lld", count > 1 ? ", " : "", (long long)k);
    }
    if (!count) {
        vsri_sb_free(&missing);
        return 0;
    }
    if (count > 20)
        vsri_sb_printf(&missing, " and %lld more", (long long)(count - 20));
    int err = vsri_error(VSR_ERROR_INCOMPLETE, "plan '%s': %lld of %lld segments are not committed: %s%s (run them, "
                                               "then stitch)", p->path, (long long)count, (long long)n,
                         count == 1 ? "segment " : "segments ", missing.oom ? "?" : missing.data);
    vsri_sb_free(&missing);
    return err;
}

/* A decode timestamp for packet j (decode order) of segment s, which its
 * container stored without one (Matroska keeps presentation times only):
 * what an encoder that delays `delay` frames gives it. The muxer needs
 * them increasing across the joins, and guesses badly on its own. */
static int64_t missing_dts(const vsri_plan *p, const vsri_plan_segment *s, int64_t j, int delay, AVRational tb)
{
    AVRational itb = {p->index->time_base.num, p->index->time_base.den};
    const int64_t *pts = p->index->pts + s->first; /* presentation order */
    if (j >= delay && j - delay < s->frames)
        return av_rescale_q(pts[j - delay], itb, tb);
    int64_t t0 = av_rescale_q(pts[0], itb, tb);
    int64_t step = s->frames > delay && delay > 0 ? (av_rescale_q(pts[delay], itb, tb) - t0) / delay : 1;
    return t0 - (delay - j) * (step > 0 ? step : 1);
}

typedef struct join_state {
    int64_t last_dts;        /* of the previous packet, in last_tb */
    AVRational last_tb;
    int64_t last_segment;
} join_state;

/* Copy one committed segment's packets into out, with the source's other
 * streams up to each packet's time. */
static int copy_segment(const vsri_plan *p, int64_t k, const vsri_manifest *m, vsr_input *src, vsr_output *out,
                        join_state *js, AVPacket *pkt)
{
    char *dir = vsri_segment_dir(p, k);
    size_t n = dir ? strlen(dir) + strlen(m->file) + 2 : 0;
    char *path = dir ? malloc(n) : NULL;
    if (!path) {
        free(dir);
        return VSR_ENOMEM;
    }
    snprintf(path, n, "%s/%s", dir, m->file);
    free(dir);
    AVFormatContext *ic = NULL;
    int err = 0, ret = avformat_open_input(&ic, path, NULL, NULL);
    if (ret >= 0)
        ret = avformat_find_stream_info(ic, NULL);
    int vi = ret >= 0 ? vsri_segment_video_stream(ic) : -1;
    if (ret < 0 || vi < 0) {
        err = vsri_error(VSR_ERROR_MISMATCH, "plan '%s': segment %lld's video '%s' cannot be read: %s", p->path,
                         (long long)k, path, ret < 0 ? vsr_strerror(ret) : "no video stream");
        goto done;
    }
    const AVStream *st = ic->streams[vi];
    const int delay = st->codecpar->video_delay;
    uint32_t crc = 0;
    int64_t packets = 0;
    while (err >= 0 && (ret = av_read_frame(ic, pkt)) >= 0) {
        if (pkt->stream_index != vi) {
            av_packet_unref(pkt);
            continue;
        }
        crc = vsri_packet_crc(crc, pkt->data, pkt->size, pkt->pts, pkt->dts, pkt->flags & AV_PKT_FLAG_KEY);
        if (pkt->dts == AV_NOPTS_VALUE && pkt->pts != AV_NOPTS_VALUE) {
            pkt->dts = missing_dts(p, &p->seg[k], packets, delay, st->time_base);
            if (js->last_segment >= 0 && av_compare_ts(pkt->dts, st->time_base, js->last_dts, js->last_tb) <= 0)
                pkt->dts = av_rescale_q_rnd(js->last_dts, js->last_tb, st->time_base, AV_ROUND_DOWN) + 1;
            if (pkt->dts > pkt->pts)
                pkt->dts = pkt->pts;
        }
        packets++;
        int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
        if (dts != AV_NOPTS_VALUE && js->last_segment >= 0 &&
            av_compare_ts(dts, st->time_base, js->last_dts, js->last_tb) <= 0) {
            err = vsri_error(VSR_ERROR_OUTPUT,
                             "plan '%s': segment %lld's packet %lld decodes at %.6f s, not after the packet before "
                             "it (segment %lld, %.6f s): the encoder delays frames (B-frames) differently across "
                             "the cut; encode without B-frames (e.g. x264 bframes=0)", p->path, (long long)k,
                             (long long)packets - 1, dts * av_q2d(st->time_base), (long long)js->last_segment,
                             js->last_dts * av_q2d(js->last_tb));
        }
        if (err >= 0 && dts != AV_NOPTS_VALUE) {
            js->last_dts = dts;
            js->last_tb = st->time_base;
            js->last_segment = k;
            err = vsri_input_pump(src, av_rescale_q(dts, st->time_base, AV_TIME_BASE_Q));
        }
        if (err >= 0)
            err = vsri_output_write_video_packet(out, pkt, st->codecpar, st->time_base);
        av_packet_unref(pkt);
    }
    if (err >= 0 && ret != AVERROR_EOF)
        err = vsri_error(VSR_ERROR_MISMATCH, "plan '%s': segment %lld's video '%s' is damaged: %s", p->path,
                         (long long)k, path, vsr_strerror(ret));
    if (err >= 0 && (crc != m->crc || packets != m->frames))
        err = vsri_error(VSR_ERROR_MISMATCH,
                         "plan '%s': segment %lld's video '%s' is not what was committed (%lld packets, crc %08x; "
                         "its manifest says %lld, %08x): run the segment again after removing its directory",
                         p->path, (long long)k, path, (long long)packets, (unsigned)crc, (long long)m->frames,
                         (unsigned)m->crc);
done:
    avformat_close_input(&ic);
    free(path);
    return err;
}

int vsri_plan_stitch(const vsri_plan *p, int64_t n, vsr_run_result *res)
{
    if (n < 1 || n > p->n_seg)
        return vsri_error(VSR_EINVAL, "plan '%s': cannot stitch %lld of %lld segments", p->path, (long long)n,
                          (long long)p->n_seg);
    int64_t t0 = vsri_now_ns();
    vsri_manifest *m = calloc((size_t)(n > 0 ? n : 1), sizeof(*m));
    if (!m)
        return VSR_ENOMEM;
    int err = check_committed(p, n, m);
    /* the input's other streams are copied now: it must be the one planned */
    if (err >= 0)
        err = vsri_plan_check_files(p);
    if (err < 0) {
        free(m);
        return err;
    }
    int damaged = 0;
    const char *devices[2] = {NULL, NULL};
    for (int64_t k = 0; k < n; k++) {
        damaged |= m[k].damaged;
        if (!devices[0])
            devices[0] = m[k].device;
        else if (strcmp(devices[0], m[k].device) != 0)
            devices[1] = m[k].device;
    }
    if (devices[1])
        vsri_log(VSR_LOG_WARNING, "plan '%s': segments were computed on different devices (%s, %s): GPUs of "
                                  "different models may differ in the last bits at the joins", p->path,
                 devices[0], devices[1]);

    vsr_input_settings is = p->in;
    is.hwdec = NULL; /* no frame is decoded: only packets are read */
    vsr_output_settings os = p->out;
    vsr_input *src = NULL;
    vsr_output *out = NULL;
    AVPacket *pkt = av_packet_alloc();
    join_state js = {0, {1, 1}, -1};
    err = pkt ? vsr_input_open(&src, p->input.path, &is) : VSR_ENOMEM;
    if (err >= 0)
        err = vsr_output_open(&out, p->output, src, &os);
    for (int64_t k = 0; k < n && err >= 0; k++)
        err = copy_segment(p, k, &m[k], src, out, &js, pkt);
    /* The rest of the other streams, as a whole-file run copies them: all
     * of them when it reads the input to its end; when it stops early
     * (max_frames), or for a prefix of the job, what the video covers. */
    int to_end = n == p->n_seg && !(p->in.max_frames > 0 && p->index->frames >= p->in.max_frames);
    if (err >= 0)
        err = vsri_input_pump(src, to_end ? INT64_MAX : vsri_output_video_end_us(out));
    if (err >= 0)
        err = vsr_output_finish(out);
    char msg[1024];
    vsri_strlcpy(msg, err < 0 ? vsr_last_error() : "", sizeof(msg));
    vsr_output_close(&out); /* on failure: no output, not even a .partial */
    vsr_input_close(&src);
    av_packet_free(&pkt);
    free(m);
    if (err < 0) {
        vsri_set_last_error(msg);
        return err;
    }
    int64_t frames = n == p->n_seg ? p->index->frames : p->seg[n - 1].first + p->seg[n - 1].frames;
    if (n == p->n_seg)
        vsri_remove_tree(p->work_dir);
    double s = (vsri_now_ns() - t0) / 1e9;
    vsri_log(VSR_LOG_INFO, "job: stitched %lld segments (%lld frames) into '%s' in %.3f s", (long long)n,
             (long long)frames, p->output, s);
    if (res) {
        vsr_run_result r = {.size = sizeof(r)};
        r.frames_written = frames;
        r.seconds = s;
        r.input_damaged = damaged;
        VSRI_RESULT_OUT(res, &r, "vsr_run_result");
    }
    if (damaged)
        return vsri_error(VSR_ERROR_INPUT_DAMAGED, "plan '%s': the input is damaged; '%s' holds every frame as a "
                                                   "whole-file run decodes them", p->path, p->output);
    return 0;
}
