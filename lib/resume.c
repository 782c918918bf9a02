/*
 * Resumable runs (vsr_run_settings.resume): a job (job_internal.h) whose
 * plan is "<output>.vsr-resume/plan.json", whose segments run one after
 * another in this process with the caller's session, and which is then
 * stitched. A segment counts once it is committed (one atomic rename of a
 * directory holding its finished video and manifest), so after any
 * interruption, even SIGKILL, the committed segments are exactly the
 * finished ones. A run with resume on continues with the others, provided
 * input, model and settings are those of the plan (what differs is named).
 *
 * Every segment seeks to the input frames its passes read, so a resumed
 * run decodes only what it computes, and runs the whole-clip run's chunk
 * passes for its frames, so sequence models resume too: the frames equal
 * those of an uninterrupted run. With a long-GOP codec each segment
 * starts a closed GOP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_internal.h"
#include "run.h"

/* Frames per segment: an interruption loses at most this many, and the
 * work per segment (a seek, an encoder start) stays small beside it. */
#define RESUME_SEGMENT_FRAMES 48

/* This run's plan: the interrupted run's, if there is one and the job is
 * the same; else a new one. */
static int open_plan(vsri_plan **out, vsr_session *ses, const char *input, const char *output,
                     const vsr_run_settings *rs, const char *dir, const char *plan_path)
{
    *out = NULL;
    vsr_job_settings js;
    vsr_job_settings_default(&js);
    js.segment_frames = RESUME_SEGMENT_FRAMES;
    js.work_dir = dir;
    vsri_plan *now = NULL, *old = NULL;
    int err = vsri_plan_build(&now, ses, input, output, rs, &js, plan_path, dir);
    if (err < 0)
        return err;
    if (access(plan_path, F_OK) != 0) {
        vsri_plan_clear_work_dir(now);
        if ((err = vsri_plan_write(now)) < 0) {
            vsri_plan_free(&now);
            return err;
        }
        *out = now;
        return 0;
    }
    char what[96];
    if ((err = vsri_plan_read(&old, plan_path)) < 0)
        err = vsri_error(VSR_ERROR_MISMATCH, "cannot resume into '%s': %s (remove '%s' to start over)", output,
                         vsr_last_error(), dir);
    else if (vsri_plan_differs(old, now, what, sizeof(what)))
        err = vsri_error(VSR_ERROR_MISMATCH,
                         "cannot resume into '%s': %s changed since the interrupted run (remove '%s' to start over)",
                         output, what, dir);
    vsri_plan_free(&now);
    if (err < 0) {
        vsri_plan_free(&old);
        return err;
    }
    *out = old;
    return 0;
}

int vsri_resume_run(vsr_session *ses, const char *input, const char *output, const vsr_run_settings *rs,
                    vsr_run_result *res)
{
    if (res && vsri_result_check(res, "vsr_run_result") < 0)
        return VSR_EINVAL;
    int64_t t0 = vsri_now_ns();
    char *dir = vsri_str_printf("%s.vsr-resume", output), *plan_path = dir ? vsri_str_printf("%s/plan.json", dir) : NULL;
    vsri_plan *p = NULL;
    vsr_run_result total = {.size = sizeof(total)};
    int err = plan_path ? 0 : VSR_ENOMEM;
    if (err >= 0 && mkdir(dir, 0777) != 0 && errno != EEXIST)
        err = vsri_error(VSR_ERROR_OUTPUT, "cannot create the resume directory '%s': %s", dir, strerror(errno));
    if (err >= 0)
        err = open_plan(&p, ses, input, output, rs, dir, plan_path);
    int64_t done = 0, resumed_segments = 0;
    for (int64_t k = 0; err >= 0 && k < p->n_seg; k++) {
        vsri_manifest m;
        int c = vsri_segment_committed(p, k, &m);
        if (c < 0)
            err = c;
        if (c == 1) {
            done += p->seg[k].frames;
            resumed_segments++;
        }
    }
    total.frames_resumed = done;
    if (err >= 0 && done)
        vsri_log(VSR_LOG_INFO, "resuming '%s' after %lld frames in %lld segments", output, (long long)done,
                 (long long)resumed_segments);

    /* the segments not done, in order: the output grows from the start */
    int damaged = 0;
    int64_t committed = 0; /* the prefix of segments committed */
    for (int64_t k = 0; err >= 0 && k < p->n_seg; k++) {
        vsri_manifest m;
        int c = vsri_segment_committed(p, k, &m);
        if (c < 0) {
            err = c;
            break;
        }
        if (c == 0) {
            vsri_segment_opts o = {.nested = 1, .progress_base = done, .progress_total = p->index->frames};
            vsr_run_result r = {.size = sizeof(r)};
            err = vsri_segment_run(p, ses, k, &o, &r);
            total.frames_decoded += r.frames_decoded;
            total.chunks += r.chunks;
            total.tiles += r.tiles;
            total.input_damaged += r.input_damaged;
            if (r.max_frames_in_flight > total.max_frames_in_flight)
                total.max_frames_in_flight = r.max_frames_in_flight;
            if (err == VSR_ERROR_INPUT_DAMAGED) {
                damaged = 1;
                err = 0;
            }
            if (err < 0)
                break;
            done += p->seg[k].frames;
        }
        committed = k + 1;
    }
    int cancelled = err == VSR_ERROR_CANCELLED;
    char msg[1024] = "";
    if (err >= 0) {
        vsr_run_result r = {.size = sizeof(r)};
        err = vsri_plan_stitch(p, p->n_seg, &r); /* removes the resume directory */
        if (err == VSR_ERROR_INPUT_DAMAGED)
            damaged = 1;
        if (err >= 0 || err == VSR_ERROR_INPUT_DAMAGED)
            total.frames_written = r.frames_written;
        if (err >= 0 && damaged)
            err = vsri_error(VSR_ERROR_INPUT_DAMAGED, "the input '%s' is damaged; output '%s' holds all %lld "
                                                      "frames decoded", input, output, (long long)r.frames_written);
    } else if (cancelled && committed > 0) {
        /* what is done is playable; the resume directory stays for the rest */
        vsr_run_result r = {.size = sizeof(r)};
        int e = vsri_plan_stitch(p, committed, &r);
        if (e >= 0 || e == VSR_ERROR_INPUT_DAMAGED) {
            total.frames_written = r.frames_written;
            err = vsri_error(VSR_ERROR_CANCELLED, "cancelled after %lld frames; output '%s' holds the first %lld "
                                                  "(run again with resume on to finish it)", (long long)done, output,
                             (long long)r.frames_written);
        } else {
            err = e;
        }
    } else if (cancelled) {
        err = vsri_error(VSR_ERROR_CANCELLED, "cancelled before the first segment was finished; no output '%s' "
                                              "(run again with resume on to continue)", output);
    }
    if (err < 0)
        vsri_strlcpy(msg, vsr_last_error(), sizeof(msg));
    total.cancelled = cancelled;
    total.seconds = (vsri_now_ns() - t0) / 1e9;
    total.fps = total.seconds > 0 ? (done - total.frames_resumed) / total.seconds : 0;
    if (res)
        VSRI_RESULT_OUT(res, &total, "vsr_run_result");
    vsri_plan_free(&p);
    free(plan_path);
    free(dir);
    vsr_session_reset(ses); /* the segments left it to this call; also consumes a cancel */
    if (err < 0)
        vsri_set_last_error(msg);
    return err;
}
