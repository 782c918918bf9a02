/*
 * The state of a vsr_session, shared by the files that implement it:
 * session.c (settings, the send/receive state machine, input and output
 * queues), session_sizing.c (memory limit, chunk and tile sizes, the tile
 * plan) and session_pass.c (gathering tiles, the forward pass with its
 * out-of-memory retry, scattering or handing out its output, tracker
 * records). Not for the rest of libvsr: the pipeline uses session_internal.h.
 */
#ifndef LIBVSR_SESSION_STATE_H
#define LIBVSR_SESSION_STATE_H

#include <stdatomic.h>

#include "chunker.h"
#include "convert.h"
#include "model_internal.h"
#include "tiler.h"

/* An input frame held until no future pass needs it. */
typedef struct in_slot {
    int64_t index;
    vsr_frame *frame; /* RGBF32, input size */
} in_slot;

/* An output frame being assembled (from several tiles and/or chunks). */
typedef struct out_acc {
    int64_t index;
    vsr_frame *frame; /* RGBF32, output size */
    int blending;     /* accumulate weighted sums (frame zeroed first) */
} out_acc;

struct vsr_session {
    vsr_session_settings s;
    vsr_model *model;
    vsr_tracker *tracker;
    vsr_log_callback log_cb;
    void *log_user;
    vsri_converter *cv;
    vsri_converter *out_cv; /* into output_format, when that is not RGBF32 */

    /* resolved settings */
    int batch, chunk, overlap, tile, tile_pad;
    int64_t mem_limit;
    int tile_shrunk_logged;

    /* per sequence */
    vsri_chunker *chunker;
    vsri_chunk_range range; /* a segment of a longer clip (range.total > 0): frames are numbered
                               globally from its feed start, and only its frames come out */
    vsri_tile_plan plan;
    int have_plan;
    int width, height;   /* input frame size of this sequence */
    in_slot *in;
    int n_in, cap_in;
    int64_t received;    /* frames sent */
    int eof;
    out_acc *acc;
    int n_acc, cap_acc;
    vsr_frame **ready;
    int n_ready, cap_ready, ready_head;
    float *batch_buf;    /* model input staging */
    size_t batch_buf_bytes;
    int64_t chunks_run, tiles_run;
    int failed;
    uint64_t run_id;     /* of the vsr_upscale_file() run, for tracker records */

    /* Set by vsr_session_cancel() from any thread or a signal handler, read
     * by the session's and the pipeline's threads: a lock-free atomic (a
     * plain store is all a signal handler may do). */
    atomic_int cancel;
};

/* ---- session.c ---- */

/* Log through the session's own sink (or the global one). */
void vsri_session_log(const vsr_session *ses, int level, const char *fmt, ...) VSRI_PRINTF(3, 4);
/* VSR_ERROR_CANCELLED once vsr_session_cancel() was called, else 0. */
int vsri_session_check_cancel(const vsr_session *ses);
/* arr (cap elements of elem bytes) grown to hold at least need elements:
 * the (possibly new) block, or NULL when out of memory (arr unchanged). */
void *vsri_grow_array(void *arr, int *cap, int need, size_t elem);
/* The held input frame `index` (RGBF32), NULL if it was released. */
vsr_frame *vsri_session_input_frame(const vsr_session *ses, int64_t index);
/* Queue a finished output frame for receive (takes the reference). */
int vsri_session_push_ready(vsr_session *ses, vsr_frame *f);

/* ---- session_sizing.c ---- */

/* Memory for inference when not configured: 80% of the free device memory
 * on CUDA, half of the available RAM on the CPU. */
int64_t vsri_session_default_mem_limit(const vsr_model *m);
/* Chunk and tile as configured (auto ones are resolved per sequence). */
void vsri_session_configured_sizes(vsr_session *ses);
/* Resolve auto chunk and tile for frames of w x h within the memory limit. */
void vsri_session_resolve_sizes(vsr_session *ses, int w, int h);
/* Bytes of one forward pass over rows x frames images of w x h. */
int64_t vsri_session_pass_bytes(const vsr_session *ses, int w, int h, int rows, int frames);
/* A tile plan whose largest pass fits the memory limit (force_smaller:
 * the last pass ran out of memory, halve the tile first). */
int vsri_session_ensure_plan(vsr_session *ses, const vsri_chunk *ch, int force_smaller);

/* Tiles batched into one pass: only when a chunk is a single frame, and
 * only tiles of one size (consecutive in the plan). */
static inline int vsri_tiles_per_pass(const vsr_session *ses, const vsri_chunk *ch)
{
    return ch->rows * ch->frames == 1 ? ses->batch : 1;
}

/* ---- session_pass.c ---- */

/* Run every pass the planner can plan with the frames held (stop after
 * the first that produced output when asked). 1 stopped with output, 0 no
 * more passes now, VSR_EOF the sequence is done, or an error. */
int vsri_session_run_ready_chunks(vsr_session *ses, int stop_after_output);

#endif /* LIBVSR_SESSION_STATE_H */
