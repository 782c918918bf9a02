/*
 * Session internals shared with the pipeline: frame preparation on another
 * thread, cancellation, and what the session ran.
 */
#ifndef LIBVSR_SESSION_INTERNAL_H
#define LIBVSR_SESSION_INTERNAL_H

#include "chunker.h"
#include "convert.h"
#include "internal.h"

/* Convert a decoded frame into the model's input layout (RGBF32, same
 * size), keeping its properties. Safe to call from another thread than
 * the one sending frames, with a converter of that thread. */
int vsri_session_prepare_frame(vsri_converter *cv, const vsr_frame *in, vsr_frame **out);

int vsri_session_cancelled(const vsr_session *s);
/* Start of a vsr_upscale_file() run: a fresh sequence (keeping a pending
 * cancel, which then stops the run at once) and the run's id. */
void vsri_session_begin_run(vsr_session *s);
void vsri_session_set_run_id(vsr_session *s, uint64_t run_id);

/* The chunk planning the session uses for frames of w x h, with its
 * "auto" chunk length (and, into *tile if not NULL, its tile size)
 * resolved as the first frame of that size resolves them. */
int vsri_session_chunker_config(vsr_session *s, int w, int h, vsri_chunker_config *cfg, int *tile);
/* Run the next sequence (after vsri_session_begin_run) as output frames
 * [range->first, +count) of a clip of range->total frames: the frames sent
 * are input frames span.feed_first, feed_first+1, ... (vsri_chunker_span
 * of the session's chunk plan), the passes are the whole-clip run's, and
 * only the range's frames are received. Cleared by the next reset. */
int vsri_session_set_range(vsr_session *s, const vsri_chunk_range *range);

/* Counters since the last reset. */
void vsri_session_counts(const vsr_session *s, int64_t *chunks, int64_t *tiles);

/* The settings the session was opened with (before "auto" is resolved). */
const vsr_session_settings *vsri_session_settings(const vsr_session *s);

/* The tracker, and the model (name, precision and device for tracker records). */
vsr_tracker *vsri_session_tracker(const vsr_session *s);
/* The session's own log sink (NULL callback: none). */
vsri_log_sink vsri_session_log_sink(const vsr_session *s);
const vsr_model *vsri_session_model(const vsr_session *s);
/* Fingerprint of everything that changes the output (model file, precision,
 * device, chunk and tile settings), for resume checks. */
void vsri_session_fingerprint(const vsr_session *s, vsri_strbuf *sb);

#endif /* LIBVSR_SESSION_INTERNAL_H */
