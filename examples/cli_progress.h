/*
 * vsr-cli's progress reporting in FFmpeg's conventions, so the GUIs and
 * wrappers written for ffmpeg work unchanged:
 *
 * -progress TARGET: blocks of key=value lines (frame, fps, bitrate,
 *   total_size, out_time_us, out_time_ms, out_time, dup_frames,
 *   drop_frames, speed, progress=continue|end) every half second and once
 *   at the end. TARGET is pipe:N (file descriptor N, e.g. pipe:1 for
 *   stdout), tcp://HOST:PORT, file:PATH or a plain path.
 * The stats line on a terminal: "frame=   48 fps=4.1 time=00:00:02.00
 *   speed=0.171x", rewritten in place with \r (only when stderr is a tty).
 *
 * out_time is the output's position: frames written / the input's frame
 * rate (the run reports frames, not timestamps).
 */
#ifndef VSR_CLI_PROGRESS_H
#define VSR_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libvsr/vsr.h>

typedef struct cli_progress {
    FILE *out;              /* -progress target, NULL without */
    int stats_line;         /* draw the stats line (stderr is a terminal, not -q) */
    double frame_rate;      /* of the input (0: unknown) */
    const char *output;     /* the output file, for total_size */
    double last_block, last_line;
    int line_drawn;
} cli_progress;

/* Open the -progress target (target may be NULL: no blocks). 0, or -1
 * with a message naming the target in err. */
int cli_progress_open(cli_progress *p, const char *target, char *err, size_t errlen);

/* A tracker progress callback's report: a block and/or the stats line when due. */
void cli_progress_update(cli_progress *p, const vsr_progress *pr);

/* The run ended: the last block (progress=end), and the stats line's end. */
void cli_progress_end(cli_progress *p, int64_t frames, double elapsed_s);

void cli_progress_close(cli_progress *p);

#endif /* VSR_CLI_PROGRESS_H */
