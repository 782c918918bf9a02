/*
 * Spatial tile planning (see tiler.h). The grid is the product of two
 * independent 1-D plans, one per axis, which is what makes blend weights
 * (products of 1-D ramps) sum to 1 in the corners where four tiles meet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tiler.h"

#define TILER_MAX_SIZE 65536
#define TILER_MAX_SCALE 16
#define TILER_MAX_MULTIPLE 1024
#define TILER_MAX_TILES (1 << 20)

/* One column (or row) of the grid. */
typedef struct axis_seg {
    int own0, own1;
    int pad0, pad1;
    int repl_lo, repl_hi;
    int keep0, keep1;
    int ramp_lo, ramp_hi; /* output pixels */
} axis_seg;

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/* Number of segments along an axis of len pixels. With a size multiple m,
 * own sizes are whole multiples of m (except the one at the far edge), so
 * the count is in blocks of m, keeping own sizes <= tile when tile >= m. */
static int64_t axis_count(int len, int tile, int m)
{
    if (tile <= 0)
        return 1;
    if (m == 1)
        return ((int64_t)len + tile - 1) / tile;
    int64_t blocks = ((int64_t)len + m - 1) / m;
    int64_t per = tile / m > 0 ? tile / m : 1;
    return (blocks + per - 1) / per;
}

/* Fill seg[0..n) for one axis. */
static void plan_axis(const vsri_tiler_config *cfg, int len, int n, axis_seg *seg)
{
    const int m = cfg->size_multiple, p = cfg->pad, s = cfg->scale;

    /* Own areas: near-equal sizes. Without a multiple they differ by at
     * most 1; with one, by whole blocks of m, the larger ones last so that
     * the edge segment (cut short by the frame) stays within m of the rest. */
    if (m == 1) {
        int base = len / n, rem = len % n, x = 0;
        for (int i = 0; i < n; i++) {
            seg[i].own0 = x;
            x += base + (i < rem ? 1 : 0);
            seg[i].own1 = x;
        }
    } else {
        int blocks = (len + m - 1) / m;
        int q = blocks / n, extra = blocks % n, x = 0;
        for (int i = 0; i < n; i++) {
            seg[i].own0 = x;
            x = imin(len, x + (q + (i >= n - extra ? 1 : 0)) * m);
            seg[i].own1 = x;
        }
    }

    for (int i = 0; i < n; i++) {
        axis_seg *g = &seg[i];
        /* Context, clamped to the frame. */
        g->pad0 = imax(0, g->own0 - p);
        g->pad1 = (int)((int64_t)g->own1 + p < len ? g->own1 + p : len);
        g->repl_lo = g->repl_hi = 0;
        /* Grow to a multiple of m: into the frame first (real pixels are
         * better context than repeated ones), after the tile, then before. */
        int size = g->pad1 - g->pad0;
        int grow = (size + m - 1) / m * m - size;
        int more = imin(grow, len - g->pad1);
        g->pad1 += more;
        grow -= more;
        more = imin(grow, g->pad0);
        g->pad0 -= more;
        grow -= more;
        /* Only left when the padded area already spans the whole axis. */
        g->repl_hi = grow;

        /* Blend bands: half of each band on either side of a shared edge,
         * at most pad wide and at most half of either tile, so that a
         * tile's two bands never meet. No band at frame borders. */
        int band_lo = 0, band_hi = 0;
        if (cfg->blend && i > 0) {
            int w_prev = seg[i - 1].own1 - seg[i - 1].own0;
            band_lo = imin(p, imin(w_prev / 2, (g->own1 - g->own0) / 2));
        }
        if (cfg->blend && i + 1 < n) {
            int w_next = seg[i + 1].own1 - seg[i + 1].own0;
            band_hi = imin(p, imin(w_next / 2, (g->own1 - g->own0) / 2));
        }
        g->keep0 = g->own0 - band_lo;
        g->keep1 = g->own1 + band_hi;
        g->ramp_lo = 2 * band_lo * s;
        g->ramp_hi = 2 * band_hi * s;
    }
}

static int check_config(const vsri_tiler_config *cfg)
{
    if (cfg->width < 1 || cfg->width > TILER_MAX_SIZE)
        return vsri_error(VSR_EINVAL, "tiler: frame width must be 1 to %d, got %d", TILER_MAX_SIZE,
                          cfg->width);
    if (cfg->height < 1 || cfg->height > TILER_MAX_SIZE)
        return vsri_error(VSR_EINVAL, "tiler: frame height must be 1 to %d, got %d", TILER_MAX_SIZE,
                          cfg->height);
    if (cfg->tile < 0)
        return vsri_error(VSR_EINVAL, "tiler: tile size must be 0 (whole frame) or more, got %d",
                          cfg->tile);
    if (cfg->pad < 0 || cfg->pad > TILER_MAX_SIZE)
        return vsri_error(VSR_EINVAL, "tiler: tile pad must be 0 to %d, got %d", TILER_MAX_SIZE,
                          cfg->pad);
    if (cfg->size_multiple < 1 || cfg->size_multiple > TILER_MAX_MULTIPLE)
        return vsri_error(VSR_EINVAL, "tiler: size multiple must be 1 to %d, got %d",
                          TILER_MAX_MULTIPLE, cfg->size_multiple);
    if (cfg->scale < 1 || cfg->scale > TILER_MAX_SCALE)
        return vsri_error(VSR_EINVAL, "tiler: scale must be 1 to %d, got %d", TILER_MAX_SCALE,
                          cfg->scale);
    return 0;
}

int vsri_tiler_plan(vsri_tile_plan *plan, const vsri_tiler_config *cfg)
{
    memset(plan, 0, sizeof(*plan));
    int r = check_config(cfg);
    if (r < 0)
        return r;
    int64_t cols = axis_count(cfg->width, cfg->tile, cfg->size_multiple);
    int64_t rows = axis_count(cfg->height, cfg->tile, cfg->size_multiple);
    if (cols * rows > TILER_MAX_TILES)
        return vsri_error(VSR_EINVAL, "tiler: tile size %d makes %lld tiles for a %dx%d frame (at most %d)",
                          cfg->tile, (long long)(cols * rows), cfg->width, cfg->height, TILER_MAX_TILES);

    axis_seg *xs = calloc((size_t)cols, sizeof(*xs));
    axis_seg *ys = calloc((size_t)rows, sizeof(*ys));
    vsri_tile *tiles = calloc((size_t)(cols * rows), sizeof(*tiles));
    /* At most as many groups as distinct (width, height) pairs: one per tile. */
    vsri_tile_group *groups = calloc((size_t)(cols * rows), sizeof(*groups));
    if (!xs || !ys || !tiles || !groups) {
        free(xs);
        free(ys);
        free(tiles);
        free(groups);
        return vsri_error(VSR_ENOMEM, "tiler: out of memory for %lld tiles", (long long)(cols * rows));
    }
    plan_axis(cfg, cfg->width, (int)cols, xs);
    plan_axis(cfg, cfg->height, (int)rows, ys);

    const int s = cfg->scale;
    int n_groups = 0;
    for (int row = 0; row < rows; row++) {
        for (int col = 0; col < cols; col++) {
            const axis_seg *x = &xs[col], *y = &ys[row];
            vsri_tile *t = &tiles[row * cols + col];
            t->col = col;
            t->row = row;
            t->own = (vsri_rect){x->own0, y->own0, x->own1, y->own1};
            t->padded = (vsri_rect){x->pad0, y->pad0, x->pad1, y->pad1};
            t->repl_left = x->repl_lo;
            t->repl_right = x->repl_hi;
            t->repl_top = y->repl_lo;
            t->repl_bottom = y->repl_hi;
            t->in_w = x->pad1 - x->pad0 + x->repl_lo + x->repl_hi;
            t->in_h = y->pad1 - y->pad0 + y->repl_lo + y->repl_hi;
            t->keep = (vsri_rect){x->keep0, y->keep0, x->keep1, y->keep1};
            /* Model output pixel (0,0) is input pixel (pad0 - repl_lo) scaled. */
            int ox = x->pad0 - x->repl_lo, oy = y->pad0 - y->repl_lo;
            t->out_src = (vsri_rect){(x->keep0 - ox) * s, (y->keep0 - oy) * s, (x->keep1 - ox) * s,
                                     (y->keep1 - oy) * s};
            t->out_dst = (vsri_rect){x->keep0 * s, y->keep0 * s, x->keep1 * s, y->keep1 * s};
            t->ramp_left = x->ramp_lo;
            t->ramp_right = x->ramp_hi;
            t->ramp_top = y->ramp_lo;
            t->ramp_bottom = y->ramp_hi;

            int g = 0;
            while (g < n_groups && (groups[g].in_w != t->in_w || groups[g].in_h != t->in_h))
                g++;
            if (g == n_groups) {
                groups[g].in_w = t->in_w;
                groups[g].in_h = t->in_h;
                n_groups++;
            }
            groups[g].count++;
            t->group = g;
        }
    }
    free(xs);
    free(ys);

    plan->cfg = *cfg;
    plan->cols = (int)cols;
    plan->rows = (int)rows;
    plan->n_tiles = (int)(cols * rows);
    plan->tiles = tiles;
    plan->n_groups = n_groups;
    plan->groups = groups;
    return 0;
}

void vsri_tiler_free(vsri_tile_plan *plan)
{
    if (!plan)
        return;
    free(plan->tiles);
    free(plan->groups);
    memset(plan, 0, sizeof(*plan));
}

double vsri_tile_weight_1d(int o, int lo, int hi, int ramp_lo, int ramp_hi)
{
    if (o < lo || o >= hi)
        return 0.0;
    /* Sampled at pixel centres, so the two ramps of a shared band sum to 1. */
    double w = 1.0;
    if (ramp_lo > 0 && o < lo + ramp_lo)
        w = ((double)(o - lo) + 0.5) / ramp_lo;
    if (ramp_hi > 0 && o >= hi - ramp_hi) {
        double w_hi = ((double)(hi - o) - 0.5) / ramp_hi;
        w = w_hi < w ? w_hi : w;
    }
    return w;
}

double vsri_tile_weight(const vsri_tile *t, int ox, int oy)
{
    return vsri_tile_weight_1d(ox, t->out_dst.x0, t->out_dst.x1, t->ramp_left, t->ramp_right) *
           vsri_tile_weight_1d(oy, t->out_dst.y0, t->out_dst.y1, t->ramp_top, t->ramp_bottom);
}
