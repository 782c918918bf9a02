/*
 * What the output side needs from an input: its demuxer (streams,
 * metadata, chapters) and the packets of its other streams, which the
 * input queues while it reads video so that the output can copy them.
 */
#ifndef LIBVSR_STREAM_INTERNAL_H
#define LIBVSR_STREAM_INTERNAL_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "internal.h"

const AVFormatContext *vsri_input_format(const vsr_input *in);
const AVStream *vsri_input_video_stream(const vsr_input *in);
const char *vsri_input_name(const vsr_input *in);

/* Start queueing the packets of the streams for which keep[i] is set
 * (indices of the input's streams; the array has nb_streams entries). */
int vsri_input_copy_streams(vsr_input *in, const uint8_t *keep);

/* Oldest queued packet whose timestamp (in its stream's time base) is at
 * or before until_us microseconds, or any packet if until_us is INT64_MAX.
 * NULL if there is none. The caller owns the packet. Thread-safe against
 * the reading thread. */
AVPacket *vsri_input_pop_packet(vsr_input *in, int64_t until_us);
/* 1 when the input has read its whole file (no more packets will come). */
int vsri_input_packets_done(vsr_input *in);
/* Stop queueing (e.g. when the output is closed) and drop what is queued. */
void vsri_input_stop_copy(vsr_input *in);

/* Read packets without decoding video, queueing those of copied streams,
 * until one lies after until_us (INT64_MAX: to the end). Used when video
 * comes from elsewhere (resume assembles segments). */
int vsri_input_pump(vsr_input *in, int64_t until_us);

/* Say that no more packets of the copied streams are needed (a run that
 * keeps part of the input stopped reading): the output copies what is
 * queued when it finishes. */
void vsri_input_end_packets(vsr_input *in);

/* Copy only the packets that start in [start_us, end_us) on the input's
 * clock (INT64_MIN / INT64_MAX: open) and move them back by shift_us, as
 * the video of a run that keeps part of the input moves. May be called
 * again (from another thread) as the window becomes known. */
void vsri_output_set_copy_window(vsr_output *o, int64_t start_us, int64_t end_us, int64_t shift_us);

/* Stream-copy a video packet instead of encoding frames: the first call
 * sets up the video stream from par and tb (then the header is written). */
int vsri_output_write_video_packet(vsr_output *o, AVPacket *pkt, const AVCodecParameters *par, AVRational tb);

/* Where the video written so far ends (microseconds; INT64_MIN before any). */
int64_t vsri_output_video_end_us(const vsr_output *o);

/* HDR10 metadata (mastering display, content light level) found on the
 * input's first decoded frame, NULL if none. */
const void *vsri_input_hdr(const vsr_input *in, enum AVFrameSideDataType type, size_t *size);

/* The input's file path (for resume fingerprints), NULL for memory inputs. */
const char *vsri_input_path(const vsr_input *in);

/* Before the first frame: the output is a segment of a longer encode;
 * x264 and x265 close every GOP (open-gop=0), so segments can be joined. */
void vsri_output_set_closed_gop(vsr_output *o);

/* The function that hands video packets to the decoder (NULL: the default,
 * avcodec_send_packet). Tests wrap it to make the decoder refuse packets
 * with EAGAIN, which real decoders do only now and then. */
void vsri_input_set_packet_sender(vsr_input *in, int (*send)(AVCodecContext *dec, const AVPacket *pkt));

/* Time the last vsr_output_write_frame() spent converting the frame to
 * the encoder's format, and encoding and muxing it. */
void vsri_output_last_times(const vsr_output *o, int64_t *convert_ns, int64_t *encode_ns);

/* Restarting elsewhere in the file: the frame-exact seek (seek.c) is built
 * on these. restart_at moves the demuxer to the video keyframe at or before
 * ts (the video stream's time base) and flushes the decoder; the frames
 * read next are pre-roll (no damage notes, no numbering checks) until
 * set_position says that the next frame read is frame `next`. From then
 * on, with expect_pts, frame i must come with pts expect_pts[i] (i < n),
 * or reading fails with VSR_ERROR_INPUT naming the frame and both pts.
 * unread gives back the frame just read: the next read returns it again
 * (call set_position after it). ts = INT64_MIN restarts at the start.
 * Refused while the input's other streams are being copied. */
int vsri_input_restart_at(vsr_input *in, int64_t ts);
void vsri_input_set_position(vsr_input *in, int64_t next, const int64_t *expect_pts, int64_t n);
void vsri_input_unread(vsr_input *in, vsr_frame *f);
/* Number of the next frame a read returns; -1 in pre-roll or after the end. */
int64_t vsri_input_position(const vsr_input *in);
/* Index of the video stream the input decodes. */
int vsri_input_stream(const vsr_input *in);

#endif /* LIBVSR_STREAM_INTERNAL_H */
