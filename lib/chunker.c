/*
 * Temporal chunk planning (see chunker.h for the semantics).
 *
 * SEQUENCE mode keeps, for chunk k, the frames nearer to its centre than
 * to any other chunk's centre (all chunks have the same length, so "lies
 * farthest from a chunk edge" is "nearest centre"). That needs the start
 * of chunk k+1, which is only certain once chunk k+1 is complete in the
 * input (it cannot be the shifted last chunk then) or the stream ended;
 * so chunk k waits for length + stride frames, which bounds both latency
 * and the frames held.
 *
 * When the clip length is known up front (a segment planner), the next
 * chunk's start is known too and a chunk waits only for its own frames.
 * A segment planner starts in the state the whole-clip planner has before
 * the segment's first pass (computed, not replayed: the pass geometry is
 * closed-form given the length) and stops after the pass that completes
 * the segment's last frame.
 */
#include <stdlib.h>
#include <string.h>

#include "chunker.h"
#include "internal.h"

/* Bounds that keep every product below comfortably in int range. */
#define CHUNK_MAX_LENGTH 4096
#define CHUNK_MAX_BATCH 4096
#define CHUNK_MAX_WINDOW 1023
#define CHUNK_MAX_INPUTS (1 << 20)

struct vsri_chunker {
    vsri_chunker_config cfg; /* normalised: SEQUENCE has length set */
    int stride;              /* SEQUENCE: length - overlap */
    int radius;              /* WINDOW: window / 2 */

    int64_t *inputs;
    int inputs_cap;
    vsri_chunk_keep *keep;
    int keep_cap;

    int64_t index;     /* next chunk's index */
    int64_t avail;     /* frames_available at the last call */
    int eof;           /* the caller said no more frames come: avail is final */
    int done;          /* every output frame has been planned */

    int64_t total;     /* segment planner: the clip length, known up front; else -1 */
    int64_t seg_first; /* segment planner: output frames [seg_first, seg_end) */
    int64_t seg_end;   /*   (0 and INT64_MAX for a whole-clip planner) */
    int64_t feed_end;  /* segment planner: input frames it needs end here */

    int64_t next_out;  /* PER_FRAME, WINDOW: first output frame of the next chunk */

    int64_t start;     /* SEQUENCE: first input frame of the next chunk (known) */
    int64_t keep_from; /* SEQUENCE, cutting: first frame the next chunk keeps */
    int64_t zone_lo;   /* SEQUENCE, blending: frames [zone_lo, zone_hi) are shared */
    int64_t zone_hi;   /*   between the previous chunk and the next one */
};

vsri_chunk_mode vsri_chunk_mode_for(int frames_in, int center_only)
{
    if (frames_in == 1)
        return VSRI_CHUNK_PER_FRAME;
    return center_only ? VSRI_CHUNK_WINDOW : VSRI_CHUNK_SEQUENCE;
}

static int check_config(const vsri_chunker_config *in, vsri_chunker_config *cfg)
{
    *cfg = *in;
    switch (cfg->mode) {
    case VSRI_CHUNK_PER_FRAME:
        if (cfg->batch < 1 || cfg->batch > CHUNK_MAX_BATCH)
            return vsri_error(VSR_EINVAL, "chunker: batch must be 1 to %d, got %d", CHUNK_MAX_BATCH,
                              cfg->batch);
        return 0;
    case VSRI_CHUNK_WINDOW:
        if (cfg->window < 1 || cfg->window > CHUNK_MAX_WINDOW || cfg->window % 2 == 0)
            return vsri_error(VSR_EINVAL,
                              "chunker: a centre-output model needs an odd window of 1 to %d "
                              "frames, got %d", CHUNK_MAX_WINDOW, cfg->window);
        if (cfg->batch < 1 || cfg->batch > CHUNK_MAX_BATCH)
            return vsri_error(VSR_EINVAL, "chunker: batch must be 1 to %d, got %d", CHUNK_MAX_BATCH,
                              cfg->batch);
        if ((int64_t)cfg->batch * cfg->window > CHUNK_MAX_INPUTS)
            return vsri_error(VSR_EINVAL, "chunker: batch %d of %d-frame windows is too large",
                              cfg->batch, cfg->window);
        return 0;
    case VSRI_CHUNK_SEQUENCE:
        if (cfg->window < 0 || cfg->window > CHUNK_MAX_LENGTH)
            return vsri_error(VSR_EINVAL, "chunker: the model's fixed length must be 0 to %d, got %d",
                              CHUNK_MAX_LENGTH, cfg->window);
        if (cfg->window > 0 && cfg->length == 0)
            cfg->length = cfg->window;
        if (cfg->window > 0 && cfg->length != cfg->window)
            return vsri_error(VSR_EINVAL,
                              "chunker: the model takes exactly %d frames, so the chunk length "
                              "must be %d, got %d", cfg->window, cfg->window, cfg->length);
        if (cfg->length < 1 || cfg->length > CHUNK_MAX_LENGTH)
            return vsri_error(VSR_EINVAL, "chunker: chunk length must be 1 to %d, got %d",
                              CHUNK_MAX_LENGTH, cfg->length);
        if (cfg->overlap < 0 || cfg->overlap >= cfg->length)
            return vsri_error(VSR_EINVAL,
                              "chunker: overlap must be 0 to %d (less than the chunk length %d), "
                              "got %d", cfg->length - 1, cfg->length, cfg->overlap);
        return 0;
    }
    return vsri_error(VSR_EINVAL, "chunker: unknown mode %d", (int)cfg->mode);
}

int vsri_chunker_new(vsri_chunker **out, const vsri_chunker_config *cfg)
{
    *out = NULL;
    vsri_chunker *c = calloc(1, sizeof(*c));
    if (!c)
        return vsri_error(VSR_ENOMEM, "chunker: out of memory");
    int r = check_config(cfg, &c->cfg);
    if (r < 0) {
        free(c);
        return r;
    }
    switch (c->cfg.mode) {
    case VSRI_CHUNK_PER_FRAME:
        c->inputs_cap = c->keep_cap = c->cfg.batch;
        break;
    case VSRI_CHUNK_WINDOW:
        c->radius = c->cfg.window / 2;
        c->inputs_cap = c->cfg.batch * c->cfg.window;
        c->keep_cap = c->cfg.batch;
        break;
    case VSRI_CHUNK_SEQUENCE:
        c->stride = c->cfg.length - c->cfg.overlap;
        c->inputs_cap = c->keep_cap = c->cfg.length;
        break;
    }
    c->inputs = malloc((size_t)c->inputs_cap * sizeof(*c->inputs));
    c->keep = malloc((size_t)c->keep_cap * sizeof(*c->keep));
    if (!c->inputs || !c->keep) {
        vsri_chunker_free(&c);
        return vsri_error(VSR_ENOMEM, "chunker: out of memory");
    }
    c->total = -1;
    c->seg_first = 0;
    c->seg_end = INT64_MAX;
    c->feed_end = INT64_MAX;
    *out = c;
    return 0;
}

void vsri_chunker_free(vsri_chunker **c)
{
    if (!c || !*c)
        return;
    free((*c)->inputs);
    free((*c)->keep);
    free(*c);
    *c = NULL;
}

static void add_keep(vsri_chunker *c, vsri_chunk *out, int position, int64_t frame, double weight,
                     int complete)
{
    vsri_chunk_keep *k = &c->keep[out->n_keep++];
    k->position = position;
    k->frame = frame;
    k->weight = weight;
    k->complete = complete;
    k->in_range = frame >= c->seg_first && frame < c->seg_end;
}

/* The clip length once it is known (given up front, or at eof); else -1. */
static int64_t known_total(const vsri_chunker *c)
{
    return c->total >= 0 ? c->total : c->eof ? c->avail : -1;
}

static void begin_chunk(vsri_chunker *c, vsri_chunk *out, int rows, int frames, int outputs)
{
    memset(out, 0, sizeof(*out));
    out->index = c->index++;
    out->rows = rows;
    out->frames = frames;
    out->inputs = c->inputs;
    out->outputs = outputs;
    out->keep = c->keep;
}

/* PER_FRAME: frames [s, s+b) in one batch. */
static int next_per_frame(vsri_chunker *c, vsri_chunk *out)
{
    int64_t s = c->next_out, total = known_total(c);
    if (total >= 0 && s >= total) {
        c->done = 1;
        return VSR_EOF;
    }
    int b = c->cfg.batch;
    if (total >= 0 && s + b > total)
        b = (int)(total - s);
    if (s + b > c->avail)
        return 0;
    begin_chunk(c, out, b, 1, b);
    for (int i = 0; i < b; i++) {
        c->inputs[i] = s + i;
        add_keep(c, out, i, s + i, 1.0, 1);
    }
    c->next_out = s + b;
    out->last = c->next_out == total;
    return 1;
}

/* WINDOW: outputs [s, s+b), output i from inputs i-h..i+h clamped to the clip. */
static int next_window(vsri_chunker *c, vsri_chunk *out)
{
    int64_t s = c->next_out, total = known_total(c);
    int h = c->radius, t_len = c->cfg.window;
    if (total >= 0 && s >= total) {
        c->done = 1;
        return VSR_EOF;
    }
    int b = c->cfg.batch;
    if (total >= 0 && s + b > total)
        b = (int)(total - s);
    int64_t need = s + b + h;
    if (total >= 0 && need > total)
        need = total;
    if (c->avail < need)
        return 0;
    /* Before the length is known the windows never reach past avail, so
     * clamping to avail - 1 only acts at the end of the clip. */
    int64_t hi = (total >= 0 ? total : c->avail) - 1;
    begin_chunk(c, out, b, t_len, b);
    for (int r = 0; r < b; r++) {
        for (int t = 0; t < t_len; t++) {
            int64_t i = s + r - h + t;
            c->inputs[r * t_len + t] = i < 0 ? 0 : (i > hi ? hi : i);
        }
        add_keep(c, out, r, s + r, 1.0, 1);
    }
    c->next_out = s + b;
    out->last = c->next_out == total;
    return 1;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* SEQUENCE: one chunk of `length` consecutive frames (see the file comment). */
static int next_sequence(vsri_chunker *c, vsri_chunk *out)
{
    const int n = c->cfg.length;
    const int64_t total = known_total(c);
    if (total == 0) {
        c->done = 1;
        return VSR_EOF;
    }

    /* A clip shorter than a chunk: one chunk, padded for a fixed-length model. */
    if (total >= 0 && c->index == 0 && total < n) {
        if (c->avail < total)
            return 0;
        int frames = c->cfg.window > 0 ? n : (int)total;
        begin_chunk(c, out, 1, frames, frames);
        for (int i = 0; i < frames; i++)
            c->inputs[i] = i < total ? i : total - 1;
        for (int i = 0; i < total; i++)
            add_keep(c, out, i, i, 1.0, 1);
        out->padded = frames - (int)total;
        out->last = 1;
        c->done = 1;
        return 1;
    }

    int64_t a = c->start, a_next = 0;
    int last;
    if (total < 0) {
        /* Chunk k and a full chunk k+1 must be present: then k+1 is not the
         * shifted last chunk, and its start is a + stride. */
        if (c->avail < a + c->stride + n)
            return 0;
        last = 0;
        a_next = a + c->stride;
    } else if (a + n >= total) {
        /* The last chunk ends at the last frame. When eof came after the
         * previous chunk was planned, a + n == total here (it waited for a
         * full chunk k), so a never moves below what first_needed promised;
         * with the length known, the previous chunk already moved a. */
        last = 1;
        a = total - n;
        if (c->avail < total)
            return 0;
    } else {
        last = 0;
        a_next = a + c->stride;
        if (a_next + n >= total)
            a_next = total - n;
        if (c->avail < a + n)
            return 0;
    }

    begin_chunk(c, out, 1, n, n);
    for (int i = 0; i < n; i++)
        c->inputs[i] = a + i;
    out->last = last;

    if (!c->cfg.blend) {
        /* Keep the frames nearer to this chunk's centre than to the next
         * one's: i <= (centre_k + centre_k+1) / 2, ties to this chunk. */
        int64_t end = last ? total : (a + a_next + n - 1) / 2 + 1;
        for (int64_t i = c->keep_from; i < end; i++)
            add_keep(c, out, (int)(i - a), i, 1.0, 1);
        c->keep_from = end;
    } else {
        /* Cross-fade zone with the next chunk: their overlap, limited to
         * the frames strictly between the two centres (chunks overlapping by
         * more than half would otherwise share frames three ways). */
        int64_t lo = total, hi = total;
        if (!last) {
            int64_t twice_centre = 2 * a + n - 1, twice_next = 2 * a_next + n - 1;
            lo = max64(a_next, twice_centre / 2 + 1);
            hi = min64(a + n, (twice_next + 1) / 2);
        }
        int64_t plo = c->zone_lo, phi = c->zone_hi;
        for (int64_t i = plo; i < phi; i++) /* second half of the previous fade */
            add_keep(c, out, (int)(i - a), i, (double)(i - plo + 1) / (double)(phi - plo + 1), 1);
        for (int64_t i = phi; i < lo; i++)
            add_keep(c, out, (int)(i - a), i, 1.0, 1);
        for (int64_t i = lo; i < hi; i++) /* first half of the next fade */
            add_keep(c, out, (int)(i - a), i, (double)(hi - i) / (double)(hi - lo + 1), 0);
        c->zone_lo = lo;
        c->zone_hi = hi;
    }

    if (last)
        c->done = 1;
    else
        c->start = a_next;
    return 1;
}

/* ---- segments: the whole-clip geometry in closed form ------------------- */

/* SEQUENCE with the clip length known: chunk k starts at k*stride, except
 * the last, which ends at the last frame (a clip shorter than a chunk is
 * one chunk at 0). The bounds below are what next_sequence() computes. */
typedef struct seq_geom {
    int64_t total, chunks;
    int n, stride, blend;
} seq_geom;

static void seq_geom_init(seq_geom *g, const vsri_chunker_config *cfg, int64_t total)
{
    g->total = total;
    g->n = cfg->length;
    g->stride = cfg->length - cfg->overlap;
    g->blend = cfg->blend;
    g->chunks = total <= g->n ? 1 : 1 + (total - g->n + g->stride - 1) / g->stride;
}

static int64_t seq_start(const seq_geom *g, int64_t k)
{
    if (g->total <= g->n)
        return 0;
    return k < g->chunks - 1 ? k * g->stride : g->total - g->n;
}

/* Cutting: chunk k keeps [cut_end(k-1), cut_end(k)). */
static int64_t seq_cut_end(const seq_geom *g, int64_t k)
{
    if (k < 0)
        return 0;
    if (k >= g->chunks - 1)
        return g->total;
    return (seq_start(g, k) + seq_start(g, k + 1) + g->n - 1) / 2 + 1;
}

/* Blending: frames [lo, hi) fade from chunk k to chunk k+1. */
static void seq_zone(const seq_geom *g, int64_t k, int64_t *lo, int64_t *hi)
{
    if (k < 0) {
        *lo = *hi = 0;
        return;
    }
    if (k >= g->chunks - 1) {
        *lo = *hi = g->total;
        return;
    }
    int64_t a = seq_start(g, k), a_next = seq_start(g, k + 1);
    int64_t twice_centre = 2 * a + g->n - 1, twice_next = 2 * a_next + g->n - 1;
    *lo = max64(a_next, twice_centre / 2 + 1);
    *hi = min64(a + g->n, (twice_next + 1) / 2);
}

/* One past the last frame chunk k keeps a share of (keep) or completes. */
static int64_t seq_keep_end(const seq_geom *g, int64_t k, int complete)
{
    if (!g->blend)
        return seq_cut_end(g, k);
    int64_t lo, hi;
    seq_zone(g, k, &lo, &hi);
    return complete ? lo : hi;
}

/* The first chunk whose keep_end (or complete_end) lies above frame x
 * (x < total): both grow with k, so a binary search. */
static int64_t seq_chunk_after(const seq_geom *g, int64_t x, int complete)
{
    int64_t lo = 0, hi = g->chunks - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (seq_keep_end(g, mid, complete) > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int check_range(const vsri_chunk_range *r)
{
    if (!r || r->total < 1 || r->total > ((int64_t)1 << 52))
        return vsri_error(VSR_EINVAL, "chunker: a segment needs the clip length (1 to 2^52 frames), got %lld",
                          r ? (long long)r->total : 0LL);
    if (r->first < 0 || r->count < 1 || r->first >= r->total || r->count > r->total - r->first)
        return vsri_error(VSR_EINVAL,
                          "chunker: segment of %lld frames from frame %lld does not lie in the clip of "
                          "%lld frames", (long long)r->count, (long long)r->first, (long long)r->total);
    return 0;
}

int vsri_chunker_span(const vsri_chunker_config *cfg, const vsri_chunk_range *range, vsri_chunk_span *span)
{
    memset(span, 0, sizeof(*span));
    vsri_chunker_config norm;
    int r = check_config(cfg, &norm);
    if (r < 0 || (r = check_range(range)) < 0)
        return r;
    const int64_t total = range->total, first = range->first, end = range->first + range->count;
    if (norm.mode == VSRI_CHUNK_SEQUENCE) {
        seq_geom g;
        seq_geom_init(&g, &norm, total);
        int64_t k0 = seq_chunk_after(&g, first, 0), k1 = seq_chunk_after(&g, end - 1, 1);
        span->first_pass = k0;
        span->end_pass = k1 + 1;
        span->feed_first = seq_start(&g, k0);
        span->feed_end = total < g.n ? total : seq_start(&g, k1) + g.n;
        return 0;
    }
    /* PER_FRAME and WINDOW: batches on the grid of `batch` output frames. */
    const int b = norm.batch, h = norm.mode == VSRI_CHUNK_WINDOW ? norm.window / 2 : 0;
    int64_t j0 = first / b, j1 = (end - 1) / b;
    int64_t out_end = min64((j1 + 1) * b, total);
    span->first_pass = j0;
    span->end_pass = j1 + 1;
    span->feed_first = max64(0, j0 * b - h);
    span->feed_end = min64(total, out_end + h);
    return 0;
}

int vsri_chunker_new_range(vsri_chunker **out, const vsri_chunker_config *cfg, const vsri_chunk_range *range)
{
    *out = NULL;
    vsri_chunk_span span;
    int r = vsri_chunker_span(cfg, range, &span);
    if (r < 0)
        return r;
    vsri_chunker *c;
    if ((r = vsri_chunker_new(&c, cfg)) < 0)
        return r;
    c->total = range->total;
    c->seg_first = range->first;
    c->seg_end = range->first + range->count;
    c->feed_end = span.feed_end;
    /* The whole-clip planner's state just before pass first_pass. */
    c->index = span.first_pass;
    c->avail = span.feed_first;
    if (c->cfg.mode == VSRI_CHUNK_SEQUENCE) {
        seq_geom g;
        seq_geom_init(&g, &c->cfg, range->total);
        c->start = seq_start(&g, span.first_pass);
        c->keep_from = seq_cut_end(&g, span.first_pass - 1);
        seq_zone(&g, span.first_pass - 1, &c->zone_lo, &c->zone_hi);
    } else {
        c->next_out = span.first_pass * c->cfg.batch;
    }
    *out = c;
    return 0;
}

int64_t vsri_chunker_grid_cut(const vsri_chunker_config *cfg, int64_t total, int64_t near)
{
    vsri_chunker_config norm;
    int r = check_config(cfg, &norm);
    if (r < 0)
        return r;
    if (total < 1 || total > ((int64_t)1 << 52) || near < 0 || near > total)
        return vsri_error(VSR_EINVAL, "chunker: no cut near frame %lld in a clip of %lld frames",
                          (long long)near, (long long)total);
    /* The boundaries just below-or-at and above `near`. */
    int64_t below, above;
    if (norm.mode == VSRI_CHUNK_SEQUENCE) {
        seq_geom g;
        seq_geom_init(&g, &norm, total);
        /* boundaries are the complete-ends of chunks 0 .. chunks-2 */
        int64_t k = near < total ? seq_chunk_after(&g, near, 1) : g.chunks - 1;
        above = seq_keep_end(&g, k, 1);
        below = k > 0 ? seq_keep_end(&g, k - 1, 1) : 0;
    } else {
        below = min64(near, total - 1) / norm.batch * norm.batch;
        above = below + norm.batch;
    }
    int has_below = below > 0 && below < total, has_above = above > 0 && above < total;
    if (!has_below && !has_above)
        return 0;
    if (!has_above || (has_below && near - below <= above - near))
        return below;
    return above;
}

int vsri_chunker_next(vsri_chunker *c, int64_t frames_available, int eof, vsri_chunk *out)
{
    if (frames_available < c->avail)
        return vsri_error(VSR_EINVAL, "chunker: frames_available went back from %lld to %lld",
                          (long long)c->avail, (long long)frames_available);
    if (c->eof && (!eof || frames_available != c->avail))
        return vsri_error(VSR_EINVAL,
                          "chunker: the stream already ended at %lld frames (now %lld, eof %d)",
                          (long long)c->avail, (long long)frames_available, eof);
    if (c->total >= 0 && frames_available > c->total)
        return vsri_error(VSR_ERROR_INPUT,
                          "chunker: frame %lld arrived, but the clip was planned with %lld frames",
                          (long long)frames_available - 1, (long long)c->total);
    c->avail = frames_available;
    c->eof = eof ? 1 : 0;
    if (c->done)
        return VSR_EOF;
    int r = VSR_EINVAL;
    switch (c->cfg.mode) {
    case VSRI_CHUNK_PER_FRAME: r = next_per_frame(c, out); break;
    case VSRI_CHUNK_WINDOW: r = next_window(c, out); break;
    case VSRI_CHUNK_SEQUENCE: r = next_sequence(c, out); break;
    }
    if (r == 0 && c->eof && c->total >= 0)
        return vsri_error(VSR_ERROR_INPUT,
                          "chunker: the input ended after %lld frames, but the segment needs frames "
                          "up to %lld of the %lld planned", (long long)c->avail,
                          (long long)c->feed_end - 1, (long long)c->total);
    /* A segment planner stops after the pass that completes its last frame. */
    if (r == 1 && c->seg_end != INT64_MAX)
        for (int i = 0; i < out->n_keep; i++)
            if (out->keep[i].frame == c->seg_end - 1 && out->keep[i].complete)
                c->done = 1;
    return r;
}

int64_t vsri_chunker_first_needed(const vsri_chunker *c)
{
    if (c->done)
        return c->avail;
    switch (c->cfg.mode) {
    case VSRI_CHUNK_PER_FRAME: return c->next_out;
    case VSRI_CHUNK_WINDOW: return max64(0, c->next_out - c->radius);
    case VSRI_CHUNK_SEQUENCE: return c->start;
    }
    return 0;
}

int vsri_chunker_max_held(const vsri_chunker *c)
{
    switch (c->cfg.mode) {
    case VSRI_CHUNK_PER_FRAME: return c->cfg.batch;
    case VSRI_CHUNK_WINDOW: return c->cfg.batch + 2 * c->radius;
    /* with the length known, the next chunk's start needs no look-ahead */
    case VSRI_CHUNK_SEQUENCE: return c->cfg.length + (c->total >= 0 ? 0 : c->stride);
    }
    return 0;
}

int vsri_chunker_cost(const vsri_chunker_config *cfg, int64_t frames, vsri_chunk_cost *cost)
{
    memset(cost, 0, sizeof(*cost));
    vsri_chunker_config norm;
    int r = check_config(cfg, &norm);
    if (r < 0)
        return r;
    if (frames < 0)
        return vsri_error(VSR_EINVAL, "chunker: clip length must be 0 (steady state) or more, got %lld",
                          (long long)frames);
    if (frames == 0) {
        switch (norm.mode) {
        case VSRI_CHUNK_PER_FRAME:
            cost->inputs_per_frame = cost->outputs_per_frame = 1.0;
            break;
        case VSRI_CHUNK_WINDOW:
            cost->inputs_per_frame = norm.window;
            cost->outputs_per_frame = 1.0;
            break;
        case VSRI_CHUNK_SEQUENCE:
            cost->inputs_per_frame = cost->outputs_per_frame =
                (double)norm.length / (double)(norm.length - norm.overlap);
            break;
        }
        return 0;
    }
    vsri_chunker *c;
    if ((r = vsri_chunker_new(&c, &norm)) < 0)
        return r;
    int64_t inputs = 0, outputs = 0;
    vsri_chunk ch;
    while ((r = vsri_chunker_next(c, frames, 1, &ch)) == 1) {
        inputs += (int64_t)ch.rows * ch.frames;
        outputs += ch.outputs;
        cost->passes++;
    }
    vsri_chunker_free(&c);
    if (r != VSR_EOF)
        return r;
    cost->inputs_per_frame = (double)inputs / (double)frames;
    cost->outputs_per_frame = (double)outputs / (double)frames;
    return 0;
}
