/*
 * Scale-out jobs inside libvsr: the plan (job_plan.c), running and
 * committing segments (job.c), stitching (job_stitch.c). Resume
 * (resume.c) is a job whose segments run one after another in one process.
 *
 * A plan pins everything that changes the output, so that any worker
 * computes exactly what the planning process would have: the input's
 * identity and index, the model file's identity, the session's resolved
 * settings, the encoder's. Segments are cut on the chunk grid.
 */
#ifndef LIBVSR_JOB_INTERNAL_H
#define LIBVSR_JOB_INTERNAL_H

#include "chunker.h"
#include "internal.h"
#include "seek.h"

#define VSRI_PLAN_FORMAT "libvsr-plan"
#define VSRI_MANIFEST_FORMAT "libvsr-segment"

/* Identity of a file: a changed file (replaced, re-encoded, appended to)
 * differs in one of these. The hash (FNV-1a of the first and last MiB) is
 * kept for inputs only; it is "" for the model (its size and time do). */
typedef struct vsri_file_id {
    char *path;      /* absolute */
    int64_t size;
    int64_t mtime_ns;
    char hash[17];
} vsri_file_id;

/* Identify the file at path (absolute path, size, time, and with_hash the
 * FNV hash). VSR_ERROR_INPUT naming it when it cannot be read. */
int vsri_file_identify(const char *path, int with_hash, vsri_file_id *id);
void vsri_file_id_clear(vsri_file_id *id);

typedef struct vsri_plan_segment {
    int64_t first, frames;        /* output frames [first, first+frames) */
    int64_t feed_first, feed_end; /* input frames its passes read */
    int64_t seek_frame;           /* the keyframe decoding starts at */
    int64_t first_pts, last_pts;  /* of its first and last frame, in the index's time base */
} vsri_plan_segment;

typedef struct vsri_plan {
    char *path;                   /* the plan file (absolute) */
    char *id;                     /* random: each commit names the plan it belongs to */
    int64_t created;              /* seconds since the epoch */
    vsri_file_id input;
    char *output;                 /* absolute */
    char *work_dir;               /* absolute */
    vsri_file_id model;
    char model_name[64];
    int scale;

    /* the session, resolved and pinned */
    char device[32];              /* as the planning process had it, e.g. "cpu", "cuda:0" */
    char device_type[16];         /* "cpu", "cuda" */
    vsr_precision precision;      /* never AUTO */
    int batch, chunk, overlap, tile, tile_pad, tile_blend, chunk_blend;
    int64_t mem_limit;
    int threads;                  /* process-wide inference threads */
    vsri_chunker_config chunker;
    int width, height;            /* input frame size */

    /* decoding and encoding (strings owned) */
    vsr_input_settings in;
    char *hwdec;
    vsr_output_settings out;      /* codec resolved, threads never 0 */
    char *codec, *preset, *pix_fmt, *options;
    int pipelined, queue_depth;

    vsr_stitch_mode stitch;       /* COPY or CLOSED_GOP */
    int64_t segment_frames;
    int index_decode;
    vsri_index *index;
    vsri_plan_segment *seg;
    int64_t n_seg;
} vsri_plan;

void vsri_plan_free(vsri_plan **p);

/* Where to cut `total` frames into segments of about segment_frames: the
 * cut after each segment is the grid cut nearest first+segment_frames
 * that lies after first (vsri_chunker_grid_cut). *cuts gets n+1 entries,
 * 0 = cuts[0] < ... < cuts[n] = total (malloc'ed). */
int vsri_plan_cut(const vsri_chunker_config *cfg, int64_t total, int64_t segment_frames, int64_t **cuts,
                  int64_t *n);

/* Everything of a plan but its file: index input, pin the session's and
 * rs's settings, cut the segments. plan_path and work_dir name where it
 * goes (work_dir NULL: "<plan_path>.work"). */
int vsri_plan_build(vsri_plan **out, vsr_session *ses, const char *input, const char *output,
                    const vsr_run_settings *rs, const vsr_job_settings *js, const char *plan_path,
                    const char *work_dir);
/* The plan file, written atomically. */
int vsri_plan_write(const vsri_plan *p);
/* Read a plan file, every field checked (VSR_ERROR_CONFIG naming the file
 * and the key). */
int vsri_plan_read(vsri_plan **out, const char *path);
/* 0 when b would compute what a computes (same input, model, settings,
 * segments); else 1 and what differs ("the model", "the tile size", ...)
 * in what. */
int vsri_plan_differs(const vsri_plan *a, const vsri_plan *b, char *what, size_t cap);

/* The input and the model file are still the ones planned (else
 * VSR_ERROR_MISMATCH naming the file and what changed). */
int vsri_plan_check_files(const vsri_plan *p);
/* ses has the plan's model and pinned settings (else VSR_ERROR_MISMATCH
 * naming the setting). */
int vsri_plan_check_session(const vsri_plan *p, vsr_session *ses);
/* The plan's run settings, with strings borrowed from p. */
void vsri_plan_run_settings(const vsri_plan *p, vsr_run_settings *rs, vsr_input_settings *is,
                            vsr_output_settings *os);

/* ---- segments (job.c) ---- */

/* A fresh plan takes over its work directory: segment directories of an
 * earlier plan there ("seg-*") would never agree with it and are removed. */
void vsri_plan_clear_work_dir(const vsri_plan *p);

/* What a committed segment's manifest says. */
typedef struct vsri_manifest {
    int64_t segment, first, frames, first_pts, last_pts, packets;
    uint32_t crc;                 /* of the video packets: data, pts, dts, flags */
    int damaged;                  /* the input had damage in the segment's frames */
    char device[32], precision[16], file[64];
} vsri_manifest;

/* Directory of committed segment k: "<work>/seg-k" (caller frees). */
char *vsri_segment_dir(const vsri_plan *p, int64_t k);
/* 1 and *m filled when segment k is committed and agrees with the plan;
 * 0 when not committed; VSR_ERROR_MISMATCH when what is committed
 * contradicts the plan (another plan's, other frames). */
int vsri_segment_committed(const vsri_plan *p, int64_t k, vsri_manifest *m);

typedef struct vsri_segment_opts {
    int nested;                  /* one of several segments of one call (resume) */
    int64_t progress_base;       /* frames reported done before it */
    int64_t progress_total;      /* frames_total reported; 0 = the segment's */
} vsri_segment_opts;

/* Run segment k with ses (checked against the plan) and commit it
 * (see vsr_job_run_segment). opts may be NULL. */
int vsri_segment_run(const vsri_plan *p, vsr_session *ses, int64_t k, const vsri_segment_opts *opts,
                     vsr_run_result *res);

/* The video stream of a segment's file (with chapters, an MP4 has a
 * chapter track as well), -1 if none. */
struct AVFormatContext;
int vsri_segment_video_stream(const struct AVFormatContext *ic);

/* Commit a finished attempt (its directory holds the video and
 * manifest.json): rename it to seg-K. When another attempt committed
 * first, this one's directory is removed, and the result is 0 if both
 * are equal (same checksum), else VSR_ERROR_MISMATCH ("nondeterministic
 * workers"). */
int vsri_segment_commit(const vsri_plan *p, int64_t k, const char *attempt_dir, const vsri_manifest *m);

/* Checksum of one video packet, chained (start with 0). */
uint32_t vsri_packet_crc(uint32_t crc, const uint8_t *data, int size, int64_t pts, int64_t dts, int flags);

/* ---- stitch (job_stitch.c) ---- */

/* Join segments [0, n_segments) (every one committed) and the input's
 * other streams into the output. n_segments < p->n_seg is a prefix (a
 * cancelled resume: the output holds the frames done, the work directory
 * stays); with all of them the work directory is removed afterwards. */
int vsri_plan_stitch(const vsri_plan *p, int64_t n_segments, vsr_run_result *res);

/* Remove a directory and everything in it (best effort). */
void vsri_remove_tree(const char *path);

#endif /* LIBVSR_JOB_INTERNAL_H */
