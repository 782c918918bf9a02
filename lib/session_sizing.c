/*
 * How much a session's passes may take, and what follows from it: the
 * default memory limit, the chunk length and tile size for "auto", and a
 * tile plan whose largest pass fits (halving the tile while it does not).
 * The arithmetic (sizing.h, defined first here) is shared with
 * vsr_recommend_settings, so a recommendation and a session size alike.
 */
#include <math.h>
#include <stdlib.h>

#include "session_state.h"
#include "sizing.h"
#include "sysinfo.h"

int64_t vsri_pass_bytes(double bpp, int w, int h, int rows, int frames)
{
    return (int64_t)(bpp * (double)w * (double)h * rows * frames);
}

int vsri_auto_chunk(int64_t frame_bytes, int64_t limit, int overlap, int *below_need)
{
    int64_t n = frame_bytes > 0 ? limit / frame_bytes : VSRI_MAX_AUTO_CHUNK;
    if (n > VSRI_MAX_AUTO_CHUNK)
        n = VSRI_MAX_AUTO_CHUNK;
    int least = overlap + 1;
    if (2 * overlap + 2 <= VSRI_MAX_AUTO_CHUNK)
        least = 2 * overlap + 2;
    *below_need = n < least;
    return n < least ? least : (int)n;
}

int vsri_fit_tile(double bpp, int64_t limit, int pad, int rows, int frames, int step, int longest)
{
    double per_px = bpp * rows * frames;
    if (per_px <= 0 || limit <= 0)
        return 0;
    if (step < 1)
        step = 1;
    /* the square root gives the side; the loop makes the integer exact */
    double side = sqrt((double)limit / per_px) - 2.0 * pad;
    int t = side <= 0 ? 0 : side >= longest ? longest : (int)side / step * step;
    while (t >= VSRI_MIN_AUTO_TILE && vsri_pass_bytes(bpp, t + 2 * pad, t + 2 * pad, rows, frames) > limit)
        t = t % step ? t / step * step : t - step;
    return t >= VSRI_MIN_AUTO_TILE ? t : 0;
}

/* Memory the session may use for inference when not told: half of the
 * available RAM on the CPU, 80% of the free device memory on CUDA. */
int64_t vsri_session_default_mem_limit(const vsr_model *m)
{
    if (m->cuda) {
        int64_t fb = -1, tb = -1, pb = -1;
        if (vsrt_device_memory(m->shim, &fb, &tb, &pb) == 0 && fb > 0)
            return fb / 10 * 8;
    }
    vsri_sysinfo si;
    if (vsri_sysinfo_get(&si) >= 0 && si.ram_available_bytes > 0)
        return si.ram_available_bytes / 2;
    return (int64_t)2 << 30;
}

/* Chunk and tile sizes as configured. "auto" ones are resolved again for
 * each sequence (from its frame size), and a tile shrunk for lack of memory
 * starts again at the configured size. */
void vsri_session_configured_sizes(vsr_session *ses)
{
    const vsr_model_card *c = &ses->model->card;
    ses->tile = ses->s.tile;
    ses->tile_shrunk_logged = 0;
    if (c->layout == VSR_LAYOUT_NCHW)
        ses->chunk = 1;
    else if (c->frames_in > 1)
        ses->chunk = c->frames_in; /* a fixed window or a fixed sequence length */
    else
        ses->chunk = ses->s.chunk;
}

int64_t vsri_session_pass_bytes(const vsr_session *ses, int w, int h, int rows, int frames)
{
    return vsri_pass_bytes(ses->model->bytes_per_pixel, w, h, rows, frames);
}

/* Choose tile size (and chunk length for sequence models) for the first
 * frame's size from the memory limit and the measured bytes per pixel. */
void vsri_session_resolve_sizes(vsr_session *ses, int w, int h)
{
    const vsr_model_card *c = &ses->model->card;
    int rows = c->layout == VSR_LAYOUT_NCHW || c->center_only ? ses->batch : 1;
    int frames = vsri_model_step_frames(c);
    if (ses->chunk == VSR_AUTO && c->layout == VSR_LAYOUT_NTCHW && !c->center_only) {
        int below_need;
        ses->chunk = vsri_auto_chunk(vsri_session_pass_bytes(ses, w, h, 1, 1), ses->mem_limit, ses->overlap,
                                     &below_need);
        frames = ses->chunk;
    } else if (c->layout == VSR_LAYOUT_NTCHW && !c->center_only) {
        frames = ses->chunk;
    }
    if (ses->tile == VSR_AUTO) {
        if (vsri_session_pass_bytes(ses, w, h, rows, frames) <= ses->mem_limit) {
            ses->tile = 0;
        } else {
            int step = c->size_multiple > VSRI_MIN_AUTO_TILE ? c->size_multiple : VSRI_MIN_AUTO_TILE;
            int t = vsri_fit_tile(ses->model->bytes_per_pixel, ses->mem_limit, ses->tile_pad, rows, frames, step,
                                  w > h ? w : h);
            /* not even the smallest fits: try it; the plan shrinks it further or refuses */
            ses->tile = t > 0 ? t : VSRI_MIN_AUTO_TILE;
        }
        vsri_session_log(ses, VSR_LOG_INFO, "auto tile for %dx%d within %lld bytes: %d", w, h,
                         (long long)ses->mem_limit, ses->tile);
    }
}

/* Make sure a tile plan exists that fits the memory limit; halve the tile
 * size while one pass would not fit (logged once). */
int vsri_session_ensure_plan(vsr_session *ses, const vsri_chunk *ch, int force_smaller)
{
    const vsr_model_card *c = &ses->model->card;
    for (;;) {
        if (!ses->have_plan || force_smaller) {
            if (force_smaller) {
                int cur = ses->tile > 0 ? ses->tile : (ses->width > ses->height ? ses->width : ses->height);
                int next = cur / 2;
                if (next < 8)
                    return vsri_error(VSR_ERROR_DEVICE_OOM,
                                      "model '%s' does not fit in %lld bytes even with %d-pixel tiles", c->name,
                                      (long long)ses->mem_limit, cur);
                if (!ses->tile_shrunk_logged)
                    vsri_session_log(
                        ses, VSR_LOG_WARNING,
                        "not enough memory for %d-pixel tiles within %lld bytes: using %d (and smaller if needed)", cur,
                        (long long)ses->mem_limit, next);
                ses->tile_shrunk_logged = 1;
                ses->tile = next;
                force_smaller = 0;
            }
            if (ses->have_plan)
                vsri_tiler_free(&ses->plan);
            ses->have_plan = 0;
            vsri_tiler_config tc = {
                .width = ses->width,
                .height = ses->height,
                .tile = ses->tile > 0 ? ses->tile : 0,
                .pad = ses->tile_pad,
                .size_multiple = c->size_multiple > 0 ? c->size_multiple : 1,
                .scale = c->scale,
                .blend = ses->s.tile_blend,
            };
            int err = vsri_tiler_plan(&ses->plan, &tc);
            if (err < 0)
                return err;
            ses->have_plan = 1;
            /* A model that pools over the whole frame (squeeze-excitation,
             * frame attention) sees other statistics in each tile: no pad
             * makes tiled output equal, so tiles are refused, never chosen
             * silently (auto tiling included). */
            if (c->global_pool && ses->plan.n_tiles > 1) {
                int explicit_tile = ses->s.tile > 0 && ses->tile == ses->s.tile;
                return vsri_error(explicit_tile ? VSR_EINVAL : VSR_ERROR_DEVICE_OOM,
                                  "model '%s' pools over the whole frame (its card's global_pool), so tiles would "
                                  "change its output, and a %dx%d frame needs %d tiles of %d pixels %s; %s",
                                  c->name, ses->width, ses->height, ses->plan.n_tiles, ses->tile,
                                  explicit_tile ? "as the tile setting asks" : "to fit the memory limit",
                                  explicit_tile ? "set tile to 0 (whole frames)"
                                                : "raise mem_limit or give a smaller input");
            }
        }
        /* the largest tile of the plan must fit */
        int64_t worst = 0;
        for (int i = 0; i < ses->plan.n_tiles; i++) {
            const vsri_tile *t = &ses->plan.tiles[i];
            int per_pass = vsri_tiles_per_pass(ses, ch);
            if (per_pass > ses->plan.n_tiles)
                per_pass = ses->plan.n_tiles;
            int64_t b = vsri_session_pass_bytes(ses, t->in_w, t->in_h, ch->rows * per_pass, ch->frames);
            if (b > worst)
                worst = b;
        }
        if (worst <= ses->mem_limit)
            return 0;
        force_smaller = 1;
    }
}

