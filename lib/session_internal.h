/*
 * Session internals shared with the pipeline: frame preparation on another
 * thread, cancellation, and what the session ran.
 */
#ifndef LIBVSR_SESSION_INTERNAL_H
#define LIBVSR_SESSION_INTERNAL_H

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

/* Counters since the last reset. */
void vsri_session_counts(const vsr_session *s, int64_t *chunks, int64_t *tiles);

/* The tracker, and the model (name, precision and device for tracker records). */
vsr_tracker *vsri_session_tracker(const vsr_session *s);
/* The session's own log sink (NULL callback: none). */
vsri_log_sink vsri_session_log_sink(const vsr_session *s);
const vsr_model *vsri_session_model(const vsr_session *s);
/* Fingerprint of everything that changes the output (model file, precision,
 * device, chunk and tile settings), for resume checks. */
void vsri_session_fingerprint(const vsr_session *s, vsri_strbuf *sb);

#endif /* LIBVSR_SESSION_INTERNAL_H */
