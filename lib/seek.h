/*
 * Input index and frame-exact seek (for segments computed apart: scale-out
 * and resume).
 *
 * The index lists what a full sequential decode with vsr_input returns:
 * the number of frames, the pts of each (presentation order; the pts
 * vsr_input_read_frame gives), and the frames a decode can start at
 * (keyframes). It comes from a demux pass (packets only, no decoding:
 * GB/s) when the packets say exactly what the decoder will return, and
 * from a decode pass otherwise (or when asked).
 *
 * A seek to frame k starts decoding at a keyframe at or before k (one GOP
 * earlier when that keyframe has leading pictures: open GOP, HEVC CRA),
 * drops frames until the one with pts[k], and from then on checks every
 * frame's pts against the index: the numbering after a seek equals that
 * of a full decode, or reading fails loudly.
 */
#ifndef LIBVSR_SEEK_H
#define LIBVSR_SEEK_H

#include <stdint.h>

#include <jansson.h>

#include "internal.h"

typedef struct vsri_index {
    int64_t frames;        /* frames a full decode returns */
    int64_t *pts;          /* [frames]: the pts of each, in the video stream's time base */
    vsr_rational time_base;
    int stream_index;      /* the video stream indexed */

    int n_keys;            /* frames a decode can start at, in increasing order: */
    int64_t *key_frame;    /*   [n_keys] frame index */
    int64_t *key_ts;       /*   [n_keys] timestamp to seek the demuxer to for it */
    uint8_t *key_leading;  /*   [n_keys] 1: frames after it in decode order show before it */
    int64_t start_ts;      /* timestamp of the file's first video packet (a seek there rewinds) */

    int by_decode;         /* the pts come from a decode pass */
    int by_pts;            /* pts are unique, increasing and the file's own: a seek finds frames
                              by pts; 0: a seek decodes from the start and counts frames */
    char note[160];        /* why the demux pass was not enough, or why seeks count ("" if not) */
} vsri_index;

/* Index the video stream of the file at path, chosen and limited
 * (stream_index, max_frames, threads, hwdec) by s as vsr_input_open()
 * would. decode = 0: by a demux pass, falling back to a decode pass when
 * the packets cannot say exactly what the decoder returns (missing or
 * repeated pts, empty packets, packets to discard or damaged, a stream that does not
 * start at a keyframe or starts with leading pictures); decode = 1:
 * always by decoding. VSR_ERROR_INPUT naming the file when it cannot be
 * read. */
int vsri_index_build(vsri_index **out, const char *path, const vsr_input_settings *s, int decode);
void vsri_index_free(vsri_index **ix);

/* The frame whose pts is `pts`, or -1 (only when by_pts). */
int64_t vsri_index_find_pts(const vsri_index *ix, int64_t pts);

/* The frame a seek to frame k starts decoding at (its pre-roll begins
 * there): a keyframe at or before k, one GOP earlier when that keyframe
 * has leading pictures; 0 when seeks count from the start. */
int64_t vsri_index_seek_start(const vsri_index *ix, int64_t k);

/* Position `in` (opened on the indexed file with the same settings) so
 * that the next vsr_input_read_frame() returns frame k, numbered k, and
 * every frame after it is checked against the index (a frame with another
 * pts is VSR_ERROR_INPUT naming it). k == ix->frames positions at the end.
 * If the demuxer lands after the keyframe it was asked for, the seek
 * retries from earlier keyframes, then from the start. The index must
 * outlive the reads. */
int vsri_input_seek_frame(vsr_input *in, const vsri_index *ix, int64_t k);

/* The index as a JSON object (for a plan file; NULL when out of memory),
 * and back. from_json checks what it reads: VSR_ERROR_CONFIG naming
 * `where` (e.g. "plan 'job.json': index") and the key. */
json_t *vsri_index_to_json(const vsri_index *ix);
int vsri_index_from_json(const json_t *j, const char *where, vsri_index **out);

#endif /* LIBVSR_SEEK_H */
