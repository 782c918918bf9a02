/*
 * Spatial tile planning: how a frame too large for one forward pass is cut
 * into tiles, how much context each tile takes around itself, and where
 * each tile's output goes. Pure logic: no pixels.
 *
 * Rectangles are half-open, [x0, x1) x [y0, y1). The plan is a grid:
 * cols x rows tiles of near-equal size, row by row. For a tile:
 *
 *   own     input pixels it is responsible for; the own areas of all
 *           tiles partition the frame.
 *   padded  own plus `pad` pixels of context on every side, clamped to the
 *           frame (no context is invented at frame borders); for a model
 *           with size_multiple m it is grown inside the frame to a
 *           multiple of m where possible.
 *   repl_*  pixels to add around `padded` by repeating its edge pixels when
 *           the frame itself is too small to reach a multiple of m.
 *           The model input is in_w x in_h = padded + replication.
 *   keep    input pixels whose output this tile contributes: own, or with
 *           blending own extended into its neighbours' halves of the
 *           overlap (never beyond a frame border).
 *   out_src keep in the model output's coordinates (x scale).
 *   out_dst keep in the full output frame (x scale).
 *
 * With blending, a tile's output pixel counts with vsri_tile_weight():
 * 1 inside, ramping linearly across each overlap band (ramp_* output
 * pixels wide), so the weights of all tiles sum to 1 at every output pixel.
 */
#ifndef LIBVSR_TILER_H
#define LIBVSR_TILER_H

typedef struct vsri_rect {
    int x0, y0, x1, y1;
} vsri_rect;

typedef struct vsri_tiler_config {
    int width, height; /* input frame size (>= 1) */
    int tile;          /* tile size in input pixels (own areas are at most this,
                          unless size_multiple is larger); 0 = the whole frame */
    int pad;           /* context in input pixels around each tile (>= 0) */
    int size_multiple; /* model input sizes must be multiples of this (>= 1) */
    int scale;         /* output size = scale x input size (>= 1) */
    int blend;         /* feather the overlaps instead of cutting at own edges */
} vsri_tiler_config;

typedef struct vsri_tile {
    int col, row;
    vsri_rect own;
    vsri_rect padded;
    int repl_left, repl_top, repl_right, repl_bottom; /* edge replication (input pixels) */
    int in_w, in_h;     /* model input size */
    vsri_rect keep;
    vsri_rect out_src;
    vsri_rect out_dst;
    int ramp_left, ramp_top, ramp_right, ramp_bottom; /* blend ramps in output pixels (0 = none) */
    int group;          /* index in vsri_tile_plan.groups */
} vsri_tile;

/* Tiles of one model input size, which can share a batch. */
typedef struct vsri_tile_group {
    int in_w, in_h;
    int count;
} vsri_tile_group;

typedef struct vsri_tile_plan {
    vsri_tiler_config cfg;
    int cols, rows;
    int n_tiles;        /* cols * rows */
    vsri_tile *tiles;   /* row by row */
    int n_groups;
    vsri_tile_group *groups;
} vsri_tile_plan;

/* Plan the tiles for cfg into *plan (free with vsri_tiler_free). Returns 0,
 * VSR_EINVAL with a message naming the setting at fault, or VSR_ENOMEM. */
int vsri_tiler_plan(vsri_tile_plan *plan, const vsri_tiler_config *cfg);
void vsri_tiler_free(vsri_tile_plan *plan);

/* Weight of tile t's output at output pixel (ox, oy) of the full output
 * frame: 0 outside t->out_dst, 1 inside without blending. */
double vsri_tile_weight(const vsri_tile *t, int ox, int oy);

/* The same for one axis: weight at output coordinate o of a tile whose
 * kept output span is [lo, hi) with the given ramps (lets a caller compute
 * a row or column of weights once). */
double vsri_tile_weight_1d(int o, int lo, int hi, int ramp_lo, int ramp_hi);

#endif /* LIBVSR_TILER_H */
