/*
 * The arithmetic of sizing passes to memory, in one place: sessions use it
 * for "auto" chunks and tiles (session_sizing.c), vsr_recommend_settings
 * to explain the same choices for a 1920x1080 frame (recommend.c).
 */
#ifndef LIBVSR_SIZING_H
#define LIBVSR_SIZING_H

#include <stdint.h>

/* Longest auto chunk of a sequence model, in frames. */
#define VSRI_MAX_AUTO_CHUNK 32
/* Smallest tile side "auto" chooses (a pass this small still has to fit). */
#define VSRI_MIN_AUTO_TILE 16

/* Bytes of one forward pass over rows x frames images of w x h input
 * pixels at bpp bytes per input pixel (measured when the model loaded). */
int64_t vsri_pass_bytes(double bpp, int w, int h, int rows, int frames);

/* Auto chunk length of a sequence model: as many frames of frame_bytes as
 * fit in limit, at most VSRI_MAX_AUTO_CHUNK, and never below overlap + 1
 * (2 * overlap + 2 where that is within the maximum: as many new frames
 * per chunk as overlapped ones). *below_need is set when that floor is
 * more than fits (tiles will be needed). */
int vsri_auto_chunk(int64_t frame_bytes, int64_t limit, int overlap, int *below_need);

/* The largest square tile side, a multiple of step and at most longest,
 * whose pass (the tile with pad pixels of context on each side, rows x
 * frames images) fits in limit; 0 when not even VSRI_MIN_AUTO_TILE fits. */
int vsri_fit_tile(double bpp, int64_t limit, int pad, int rows, int frames, int step, int longest);

#endif /* LIBVSR_SIZING_H */
