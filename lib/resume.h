/*
 * Resumable runs: the output is written as a journal of complete segments
 * next to the output file ("<output>.vsr-resume/"). After an interruption
 * (even SIGKILL) a run with resume on continues after the last complete
 * segment, provided input, model and settings are unchanged; the final
 * file is assembled from the segments and the input's other streams.
 */
#ifndef LIBVSR_RESUME_H
#define LIBVSR_RESUME_H

#include "internal.h"

typedef struct vsri_resume vsri_resume;

/* Open or create the journal for output_path. *frames_done gets the number
 * of frames already in complete segments (0 for a new run). Refuses with
 * VSR_ERROR_MISMATCH when the journal belongs to another input, model or
 * settings. */
int vsri_resume_open(vsri_resume **out, const char *output_path, vsr_input *in,
                     const vsr_output_settings *os, const char *fingerprint, int64_t *frames_done);
/* Skip the frames already done: decode and drop them from `in`. */
int vsri_resume_skip(vsri_resume *r, vsr_input *in, vsr_session *ses);
int vsri_resume_write_frame(vsri_resume *r, vsr_frame *f);
/* Close the last segment and assemble the output (with the input's other
 * streams); on success the journal is removed. */
int vsri_resume_finish(vsri_resume *r, vsr_input *in, int cancelled);
void vsri_resume_close(vsri_resume **r);

#endif /* LIBVSR_RESUME_H */
