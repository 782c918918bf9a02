/**
 * @file job.h
 * @brief Scale-out: one upscaling job cut into segments that separate
 * processes (or machines sharing a filesystem) run, then stitched into the
 * output of a single run.
 *
 * The lifecycle:
 *
 * 1. vsr_job_plan() (once, anywhere): indexes the input (frame count, pts,
 *    keyframes), resolves and pins every setting that changes the output
 *    (device type, precision, batch, chunk, overlap, tile, encoder and its
 *    thread count, ...), cuts the frames into segments on the chunk grid
 *    and writes the plan, a JSON file, atomically.
 * 2. vsr_job_open() + vsr_job_open_session() + vsr_job_run_segment() (in
 *    any number of workers, in any order, any number of times): a worker
 *    seeks to its segment, runs exactly the passes the whole-clip run would
 *    run for those frames (for a recurrent sequence model, a few frames of
 *    "context" would not be enough), encodes only the segment's frames with
 *    their original pts, and commits the segment with one atomic rename of
 *    its attempt directory. A committed segment is never written again.
 * 3. vsr_job_stitch() (once every segment is committed): copies the
 *    segments' video packets together with the input's audio, subtitles,
 *    attachments, chapters and metadata into the output.
 *
 * The work directory (default "<plan>.work") must be on storage that every
 * worker and the stitch see (a shared filesystem across machines). Inside
 * it, segment k is committed as the directory "seg-k" holding the video
 * and "manifest.json"; attempts run in "seg-k.attempt-HOST-PID-RANDOM",
 * whose "progress.json" (rewritten atomically about twice a second)
 * holds {"segment", "frames", "frames_done", "host", "pid"}.
 *
 * What is identical to a single run (vsr_upscale_file()) with the same
 * settings: with an intra-only or lossless codec (ffv1, prores_ks; stitch
 * mode VSR_STITCH_COPY) the decoded frames and their pts, and the other
 * streams' packets; with a long-GOP codec (libx264, libx265;
 * VSR_STITCH_CLOSED_GOP) every segment starts a new closed GOP, so the
 * output equals a single run cut at the same places, e.g. a resumable run
 * (vsr_run_settings.resume) with the same segments, not an uncut run.
 * Identity needs the same device type and precision on every worker (the
 * plan pins them; GPUs of different models may still differ in the last
 * bits, which the stitch cannot see).
 *
 * Thread-safety: a vsr_job is used by one thread at a time; separate
 * vsr_job handles on the same plan may run segments concurrently, in one
 * process or many.
 */
#ifndef LIBVSR_JOB_H
#define LIBVSR_JOB_H

#include "common.h"
#include "model.h"
#include "session.h"
#include "tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A plan opened for running segments and stitching (opaque, one owner). */
typedef struct vsr_job vsr_job;

/** How segments become the output. */
typedef enum vsr_stitch_mode {
    VSR_STITCH_AUTO = 0,       /**< COPY for intra-only or lossless codecs (ffv1, prores_ks, ...), else CLOSED_GOP */
    VSR_STITCH_COPY = 1,       /**< segments in the final (intra-only or lossless) codec; packets copied */
    VSR_STITCH_CLOSED_GOP = 2, /**< each segment starts a closed GOP with a keyframe; packets copied */
} vsr_stitch_mode;

/** How a job is planned. A settings struct: fill it with
 *  vsr_job_settings_default() first. */
typedef struct vsr_job_settings {
    uint32_t size;            /**< set by vsr_job_settings_default() */
    int64_t segment_frames;   /**< about this many output frames per segment (cut on the chunk
                                   grid); default 1000 */
    const char *work_dir;     /**< where segments are written; NULL (default) = "<plan path>.work" */
    vsr_stitch_mode stitch;   /**< default VSR_STITCH_AUTO */
    int index_decode;         /**< 1: index the input by decoding it instead of demuxing (odd or
                                   damaged inputs); default 0 (a demux pass, decoding only where
                                   the packets cannot tell) */
} vsr_job_settings;

/** Fill s with the defaults (and s->size). */
VSR_API void vsr_job_settings_default(vsr_job_settings *s);

/**
 * Plan a job: index input, pin the session's and rs's settings (every
 * "auto" resolved for the input's frame size; encoder threads 0 become a
 * number), cut the segments and write the plan to plan_path (atomically).
 * If plan_path already holds a plan of the same input, model and settings,
 * it is kept as it is (with its committed segments) and 0 is returned.
 * rs may be NULL (defaults; rs->resume and rs->reference_path are not
 * used); js may be NULL (defaults). A job is a file on disk: input and
 * output must be paths of files.
 * @return 0; VSR_EINVAL (a missing argument, a settings struct whose size
 *         does not match, a setting out of range, COPY with a codec that
 *         is not intra-only, an output container or codec that cannot be
 *         written); VSR_ERROR_MISMATCH (plan_path holds the plan of
 *         another input, model or settings: the message names what
 *         differs); VSR_ERROR_INPUT (the input cannot be read or has no
 *         frames); VSR_ERROR_OUTPUT (the plan or work directory cannot be
 *         written); VSR_ENOMEM.
 */
VSR_API int vsr_job_plan(vsr_session *ses, const char *input, const char *output,
                         const vsr_run_settings *rs, const vsr_job_settings *js, const char *plan_path);

/**
 * Open a plan written by vsr_job_plan().
 * @return 0 and *out set (the caller owns it; vsr_job_close());
 *         VSR_EINVAL (out or plan_path NULL); VSR_ERROR_CONFIG (not a
 *         libvsr plan, or a field missing or invalid: the message names the
 *         file and the key); VSR_ERR(ENOENT) or another errno code when the
 *         file cannot be read; VSR_ENOMEM. On error *out is NULL.
 */
VSR_API int vsr_job_open(vsr_job **out, const char *plan_path);

/** Close and set *job to NULL. Accepts NULL and &NULL. */
VSR_API void vsr_job_close(vsr_job **job);

/** Where a job stands. A result struct: set size before the call. */
typedef struct vsr_job_info {
    uint32_t size;            /**< set by the caller to sizeof(vsr_job_info) */
    int64_t segments;         /**< segments in the plan */
    int64_t committed;        /**< segments committed now */
    int64_t frames;           /**< output frames of the whole job */
    int64_t frames_done;      /**< output frames in committed segments */
    vsr_stitch_mode stitch;   /**< the plan's stitch mode (never AUTO) */
} vsr_job_info;

/**
 * Where the job stands, read from the work directory at the time of the
 * call (other processes commit segments meanwhile).
 * @return 0; VSR_EINVAL when job or info is NULL or info->size is below 4;
 *         VSR_ERROR_MISMATCH when a committed segment belongs to another
 *         plan or contradicts this one (the message names it).
 */
VSR_API int vsr_job_get_info(vsr_job *job, vsr_job_info *info);

/** One segment of a plan. A result struct: set size before the call. */
typedef struct vsr_job_segment {
    uint32_t size;            /**< set by the caller to sizeof(vsr_job_segment) */
    int64_t index;            /**< k: 0 .. segments-1 */
    int64_t first_frame;      /**< first output frame */
    int64_t frames;           /**< output frames */
    int64_t feed_first;       /**< first input frame the segment's passes read */
    int64_t feed_frames;      /**< input frames the segment's passes read (>= frames) */
    int64_t seek_frame;       /**< the keyframe decoding starts at (pre-roll up to feed_first) */
    int committed;            /**< 1 when committed now (read from the work directory) */
} vsr_job_segment;

/**
 * Segment k of the plan.
 * @return 0; VSR_EINVAL (job or seg NULL, seg->size below 4, k out of
 *         range); VSR_ERROR_MISMATCH as vsr_job_get_info().
 */
VSR_API int vsr_job_get_segment(vsr_job *job, int64_t k, vsr_job_segment *seg);

/**
 * A session with the plan's pinned settings, for running segments. The
 * process-wide inference thread count is set to the plan's for a CPU plan
 * (vsr_process_configure()), since it changes the results.
 * @param job the plan
 * @param device NULL = the plan's device; another device of the same type
 *        ("cuda" = the first visible GPU, "cuda:N"); a device of another
 *        type is refused
 * @param model NULL = load the plan's model file; or a model already loaded
 *        (a worker's cache), checked against the plan: same file (path,
 *        size, modification time, card name), device type and precision
 * @param tracker optional; progress and cancel of run_segment go through it
 * @param out the session (the caller owns it; vsr_session_close())
 * @return 0 and *out set; VSR_EINVAL (job or out NULL, a device that is
 *         not a device name); VSR_ERROR_MISMATCH (the model file changed
 *         since the plan, or model or device does not match the plan: the
 *         message says what); the errors of vsr_model_open() and
 *         vsr_session_open(). On error *out is NULL.
 */
VSR_API int vsr_job_open_session(vsr_job *job, const char *device, vsr_model *model,
                                 vsr_tracker *tracker, vsr_session **out);

/**
 * Run segment k and commit it. Idempotent: a segment already committed
 * returns 0 at once (res then tells its frames, with frames_decoded 0).
 * The session must have the plan's settings (vsr_job_open_session()). On
 * any failure the attempt's directory is removed: nothing half-written is
 * ever committed. Two workers racing on one segment both succeed when
 * their results are equal, and exactly one commit stays. Progress goes to
 * the session's tracker (frames_total = the segment's frames), and
 * vsr_session_cancel() stops the run.
 * @param job the plan
 * @param ses a session with the plan's settings
 * @param k the segment, 0 .. segments-1
 * @param res what the run did (may be NULL); frames_written = the segment's frames
 * @return 0 (committed, by this call or before); VSR_EINVAL (a NULL
 *         argument, k out of range, a result struct whose size does not
 *         match); VSR_ERROR_MISMATCH (the input or the model file changed
 *         since the plan, the session's settings are not the plan's, or
 *         another worker committed a different result for this segment:
 *         "nondeterministic workers"; the message says which);
 *         VSR_ERROR_CANCELLED (nothing committed); VSR_ERROR_INPUT (the
 *         input does not decode to the frames and pts the plan indexed:
 *         the message names the frame); VSR_ERROR_OUTPUT (writing failed,
 *         e.g. the disk is full; nothing committed); the errors of
 *         vsr_upscale_file().
 */
VSR_API int vsr_job_run_segment(vsr_job *job, vsr_session *ses, int64_t k, vsr_run_result *res);

/**
 * Write the output: check that every segment is committed and agrees with
 * the plan (first frame, frame count, first and last pts, checksum of its
 * packets), copy the segments' video packets and the input's other
 * streams, chapters and metadata into "<output>.partial", rename it to the
 * output, then remove the work directory (with any stale attempts).
 * @param job the plan
 * @param res frames_written = the output's frames (may be NULL)
 * @return 0; VSR_ERROR_INCOMPLETE (segments are not committed: the message
 *         lists them; nothing is written); VSR_ERROR_MISMATCH (a segment
 *         contradicts the plan or is damaged: the message names it; or the
 *         input changed since the plan); VSR_ERROR_OUTPUT (the output
 *         cannot be written; no file is left); VSR_EINVAL (job NULL, a
 *         result struct whose size does not match); VSR_ENOMEM.
 */
VSR_API int vsr_job_stitch(vsr_job *job, vsr_run_result *res);

/**
 * Upscale frames [first_frame, first_frame + frames) of input into output
 * (video only), each frame with its original pts, computed by exactly the
 * passes a whole-file run of the session makes for them: the library
 * indexes the input, derives the input frames the passes need, seeks and
 * decodes only those. For embedders with their own orchestration; cuts
 * may lie anywhere (a cut inside a chunk costs the chunk twice). The
 * output's encoder starts a new GOP at first_frame.
 * @param ses the session (its settings as for the whole-file run)
 * @param input a file path
 * @param output a file path (container from the extension)
 * @param first_frame 0 .. the input's frames - 1
 * @param frames 1 .. the input's frames - first_frame
 * @param rs run settings (may be NULL; resume and reference_path are not used;
 *        output->copy_streams is ignored: video only)
 * @param res what the run did (may be NULL)
 * @return 0; VSR_EINVAL (a missing argument, a range outside the input,
 *         a settings struct whose size does not match); VSR_ERROR_INPUT (the
 *         input cannot be read, or does not decode to the frames it was
 *         indexed with: the message names the frame); VSR_ERROR_CANCELLED
 *         (no output is left); the errors of vsr_upscale_file().
 */
VSR_API int vsr_upscale_range(vsr_session *ses, const char *input, const char *output,
                              int64_t first_frame, int64_t frames, const vsr_run_settings *rs,
                              vsr_run_result *res);

#ifdef __cplusplus
}
#endif

#endif /* LIBVSR_JOB_H */
