/*
 * Temporal chunk planning: which input frames go into each forward pass of
 * the model, and which of its output frames are kept (and with what
 * weight) for which output frame index. Pure logic: no frames, no model.
 *
 * The session calls vsri_chunker_next() as frames arrive, without knowing
 * the clip length until the end of the stream:
 *
 *   PER_FRAME  (frames_in == 1): groups of up to `batch` frames.
 *   SEQUENCE   (NTCHW, all frames out): chunks of `length` frames that
 *              overlap by `overlap`; chunk k starts at k*(length-overlap),
 *              except the clip's last chunk, which is moved back to end at
 *              the last frame so that it is full length. Each output frame
 *              comes from the chunk in which it lies farthest from an edge
 *              (ties: the earlier chunk), so with overlap >= 2r every kept
 *              frame has r frames of context on both sides, unless it is
 *              within r of the clip's start or end. A clip shorter than
 *              `length` is one chunk; for a fixed-length model (`window`
 *              > 0) it is padded by repeating the last frame.
 *              With `blend`, overlapping frames are a linear cross-fade of
 *              the two chunks instead.
 *   WINDOW     (NTCHW, centre frame out): output i needs inputs
 *              i-window/2 .. i+window/2, clamped to the clip (the first and
 *              last frames are repeated); `batch` windows per pass.
 */
#ifndef LIBVSR_CHUNKER_H
#define LIBVSR_CHUNKER_H

#include <stdint.h>

typedef enum vsri_chunk_mode {
    VSRI_CHUNK_PER_FRAME = 0,
    VSRI_CHUNK_SEQUENCE = 1,
    VSRI_CHUNK_WINDOW = 2,
} vsri_chunk_mode;

typedef struct vsri_chunker_config {
    vsri_chunk_mode mode;
    int length;  /* SEQUENCE: frames per chunk N (0 = `window` when that is set) */
    int overlap; /* SEQUENCE: frames shared by neighbouring chunks, 0 <= O < N */
    int window;  /* WINDOW: odd window T; SEQUENCE: the model's fixed length (0 = any) */
    int batch;   /* PER_FRAME and WINDOW: output frames per pass (>= 1); SEQUENCE: unused */
    int blend;   /* SEQUENCE: cross-fade overlaps instead of cutting them */
} vsri_chunker_config;

/* Mode for a model card's frames_in and center_only. */
vsri_chunk_mode vsri_chunk_mode_for(int frames_in, int center_only);

/* One output frame (or a share of it) that a chunk contributes. */
typedef struct vsri_chunk_keep {
    int position;    /* index among the chunk's model outputs (see vsri_chunk.outputs) */
    int64_t frame;   /* output frame index (same numbering as input frames) */
    double weight;   /* this chunk's share of the frame: 1 unless blending */
    int complete;    /* 1: after adding this share the frame is final and can be written;
                        0: the next chunk adds the rest (weights of a frame sum to 1) */
    int in_range;    /* 1: the frame belongs to the planner's segment (always, for a
                        whole-clip planner); 0: the whole-clip run keeps this share in
                        this pass, but the frame is another segment's: not written */
} vsri_chunk_keep;

/* A planned forward pass. Pointers stay valid until the next call on the
 * chunker. */
typedef struct vsri_chunk {
    int64_t index;         /* 0, 1, 2, ...: the pass's number in the whole-clip run
                              (a segment planner starts at its first pass's number) */
    int rows;              /* batch dimension of the model input */
    int frames;            /* frames per row: T of an NTCHW input, 1 for NCHW */
    const int64_t *inputs; /* rows*frames input frame indices, row by row; edge
                              replication appears as repeated indices */
    int outputs;           /* model output frames: rows*frames, or rows for WINDOW;
                              position p of row r, time t is r*frames+t (WINDOW: r) */
    int n_keep;
    const vsri_chunk_keep *keep; /* in increasing frame order */
    int padded;            /* SEQUENCE, fixed length: inputs that repeat the clip's
                              last frame to fill the model (their outputs are dropped) */
    int last;              /* 1: known to be the clip's final chunk. Always set on the
                              final SEQUENCE chunk, and on every mode's final pass when
                              the clip length is known up front (segment planner);
                              PER_FRAME and WINDOW may plan a full final batch before eof
                              is known, and then the next call returns VSR_EOF */
} vsri_chunk;

typedef struct vsri_chunker vsri_chunker;

/* Validate cfg and create a planner. VSR_EINVAL with a message naming the
 * setting at fault, or VSR_ENOMEM. */
int vsri_chunker_new(vsri_chunker **out, const vsri_chunker_config *cfg);

/*
 * Segments (scale-out, resume): output frames [first, first+count) of a
 * clip of `total` frames, computed apart from the rest of the clip but
 * with exactly the passes the whole-clip run uses for them: the same
 * inputs, rows, positions and keep weights (a recurrent sequence model
 * gives the same output only on the same chunk grid, and a GPU may choose
 * its kernels by batch size). Frame indices stay global.
 */
typedef struct vsri_chunk_range {
    int64_t total; /* frames in the whole clip (>= 1) */
    int64_t first; /* first output frame of the segment */
    int64_t count; /* output frames in the segment (>= 1, first + count <= total) */
} vsri_chunk_range;

/* What a segment costs: the input frames its passes read and which passes
 * of the whole-clip run they are. */
typedef struct vsri_chunk_span {
    int64_t feed_first, feed_end;   /* input frames [feed_first, feed_end) */
    int64_t first_pass, end_pass;   /* whole-clip pass indices [first_pass, end_pass) */
} vsri_chunk_span;

int vsri_chunker_span(const vsri_chunker_config *cfg, const vsri_chunk_range *range, vsri_chunk_span *span);

/*
 * A planner for one segment. Feed it input frames from span.feed_first
 * on, counting frames_available globally: frames [feed_first, n) have
 * arrived means frames_available = n (frames below feed_first are never
 * asked for). It needs no eof (the clip length is known): it returns the
 * whole-clip run's passes span.first_pass .. end_pass-1 as their frames
 * arrive, then VSR_EOF. Keeps of frames outside the segment come with
 * in_range = 0. An eof before span.feed_end, or more than `total` frames,
 * is VSR_ERROR_INPUT (the input is not the clip that was planned).
 */
int vsri_chunker_new_range(vsri_chunker **out, const vsri_chunker_config *cfg, const vsri_chunk_range *range);

/* Where to cut a clip of `total` frames into segments near frame `near`:
 * the nearest boundary (ties: the lower) between the frames that two
 * consecutive whole-clip passes keep, so that neither segment computes a
 * pass for the other (with chunk_blend, the start of a cross-fade: the two
 * passes it mixes run in both segments). Any cut is correct; this one
 * wastes least. Returns a frame in [1, total-1] (0 when the clip is one
 * pass: no boundary exists), or VSR_EINVAL for a bad cfg, total < 1 or
 * near outside [0, total]. */
int64_t vsri_chunker_grid_cut(const vsri_chunker_config *cfg, int64_t total, int64_t near);
void vsri_chunker_free(vsri_chunker **c);

/*
 * Plan the next chunk. frames_available: input frames 0..n-1 have arrived
 * so far (never decreasing); eof: no more will come (frames_available is
 * then the clip length). Returns 1 with *out filled, 0 if more frames are
 * needed first, VSR_EOF when every output frame has been planned, or
 * VSR_EINVAL if frames_available went back or changed after eof.
 * A chunk only refers to frames below frames_available.
 */
int vsri_chunker_next(vsri_chunker *c, int64_t frames_available, int eof, vsri_chunk *out);

/* The lowest input frame index that any future chunk may still need:
 * older frames can be released. Never decreases. (A segment planner
 * starts at span.feed_first.) */
int64_t vsri_chunker_first_needed(const vsri_chunker *c);

/* Most input frames the caller must hold at once (from first_needed up to
 * the newest frame) before vsri_chunker_next() can make progress. */
int vsri_chunker_max_held(const vsri_chunker *c);

typedef struct vsri_chunk_cost {
    double inputs_per_frame;  /* model input frames fed per output frame written */
    double outputs_per_frame; /* model output frames computed per output frame written */
    int64_t passes;           /* forward passes for the clip (0 in the steady-state form) */
} vsri_chunk_cost;

/* Cost of the settings for a clip of `frames` frames (exact), or for a long
 * clip when frames is 0 (the steady state, e.g. N/(N-O) for SEQUENCE). */
int vsri_chunker_cost(const vsri_chunker_config *cfg, int64_t frames, vsri_chunk_cost *cost);

#endif /* LIBVSR_CHUNKER_H */
