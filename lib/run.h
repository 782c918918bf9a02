/*
 * Runs over part of a file: a segment of a job (job.c), a segment of a
 * resumable run (resume.c), vsr_upscale_range(). The pipeline seeks to the
 * segment's feed start, decodes only the input frames its passes read, and
 * encodes only the segment's frames, each with its original pts, checked
 * against the input's index.
 */
#ifndef LIBVSR_RUN_H
#define LIBVSR_RUN_H

#include "chunker.h"
#include "internal.h"
#include "seek.h"

typedef struct vsri_range_run {
    const vsri_index *index;  /* of the input, made with the run's input settings */
    vsri_chunk_range range;   /* output frames [first, first+count) of index->frames */
    int closed_gop;           /* the encoder starts a closed GOP (x264/x265: open-gop=0) */
    int64_t progress_base;    /* frames reported as done before this run (resume) */
    int64_t progress_total;   /* frames_total reported; 0 = range.count */
    int nested;               /* one of several runs of one call: the caller resets the
                                 session at its end (a cancel between runs is not lost) */
    void (*on_frame)(void *user, int64_t written); /* after each frame written; may be NULL */
    void *user;
} vsri_range_run;

/* vsr_upscale_file without resume, over the whole file (range NULL) or a
 * range of it (video only: the output copies no other stream). */
int vsri_upscale_run(vsr_session *ses, const char *input_path, const char *output_path,
                     const vsr_run_settings *rs, const vsri_range_run *range, vsr_run_result *res);

/* vsr_upscale_file with resume on (resume.c). */
int vsri_resume_run(vsr_session *ses, const char *input_path, const char *output_path,
                    const vsr_run_settings *rs, vsr_run_result *res);

#endif /* LIBVSR_RUN_H */
