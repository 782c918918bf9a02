/* Tests of spatial tile planning (lib/tiler.c): worked examples, then every
 * small frame size, tile size, pad and size multiple. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "testutil.h"
#include "tiler.h"

static int failures_reported;

/* Report the first few failures only: the loops below are large. */
#define EXPECT(cond, ...)                                                             \
    do {                                                                              \
        test_checks++;                                                                \
        if (!(cond)) {                                                                \
            test_failures++;                                                          \
            if (failures_reported++ < 20) {                                           \
                fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);            \
                fprintf(stderr, __VA_ARGS__);                                         \
                fputc('\n', stderr);                                                  \
            }                                                                         \
            return;                                                                   \
        }                                                                             \
    } while (0)

#define RECT_EQ(a, b) ((a).x0 == (b).x0 && (a).y0 == (b).y0 && (a).x1 == (b).x1 && (a).y1 == (b).y1)

/* Checks of everything but the blend weights. */
static void check_structure(const vsri_tile_plan *p, const vsri_tiler_config *cfg, const char *what)
{
    const int W = cfg->width, H = cfg->height, P = cfg->pad, m = cfg->size_multiple, s = cfg->scale;
    EXPECT(p->n_tiles == p->cols * p->rows && p->cols >= 1 && p->rows >= 1, "%s: %d tiles, %dx%d", what,
           p->n_tiles, p->cols, p->rows);

    /* Column and row counts and own sizes. */
    for (int axis = 0; axis < 2; axis++) {
        int len = axis ? H : W, n = axis ? p->rows : p->cols;
        if (cfg->tile == 0) {
            EXPECT(n == 1, "%s: whole-frame plan has %d segments", what, n);
        } else if (m == 1) {
            EXPECT(n == (len + cfg->tile - 1) / cfg->tile, "%s: axis %d has %d segments", what, axis, n);
        }
        int wmin = 1 << 30, wmax = 0, x = 0;
        for (int i = 0; i < n; i++) {
            const vsri_tile *t = &p->tiles[axis ? i * p->cols : i];
            int a = axis ? t->own.y0 : t->own.x0, b = axis ? t->own.y1 : t->own.x1;
            EXPECT(a == x && b > a, "%s: axis %d segment %d is [%d,%d), expected to start at %d", what, axis,
                   i, a, b, x);
            x = b;
            int w = b - a;
            wmin = w < wmin ? w : wmin;
            wmax = w > wmax ? w : wmax;
            if (m > 1 && i + 1 < n)
                EXPECT(w % m == 0, "%s: own size %d not a multiple of %d", what, w, m);
            if (cfg->tile > 0)
                EXPECT(w <= (cfg->tile > m ? cfg->tile : m), "%s: own size %d above tile %d", what, w,
                       cfg->tile);
        }
        EXPECT(x == len, "%s: axis %d covers %d of %d", what, axis, x, len);
        EXPECT(wmax - wmin <= m, "%s: own sizes %d..%d differ by more than %d", what, wmin, wmax, m);
    }

    int group_count[4096] = {0};
    for (int i = 0; i < p->n_tiles; i++) {
        const vsri_tile *t = &p->tiles[i];
        EXPECT(t->col == i % p->cols && t->row == i / p->cols, "%s: tile %d at %d,%d", what, i, t->col, t->row);
        /* The grid is a product: own edges match the tile's column and row. */
        const vsri_tile *c0 = &p->tiles[t->col], *r0 = &p->tiles[t->row * p->cols];
        EXPECT(t->own.x0 == c0->own.x0 && t->own.x1 == c0->own.x1 && t->own.y0 == r0->own.y0 &&
                   t->own.y1 == r0->own.y1,
               "%s: tile %d not on the grid", what, i);

        /* Padded: contains own, inside the frame, P of context where not at a border,
         * and no more growth than needed to reach a multiple of m. */
        const vsri_rect *o = &t->own, *pd = &t->padded;
        EXPECT(pd->x0 >= 0 && pd->y0 >= 0 && pd->x1 <= W && pd->y1 <= H, "%s: padded outside the frame", what);
        EXPECT(pd->x0 <= o->x0 && pd->y0 <= o->y0 && pd->x1 >= o->x1 && pd->y1 >= o->y1,
               "%s: padded does not contain own", what);
        /* (a side nearer than P to the frame border has everything up to it) */
#define CTX(avail_px) ((avail_px) < P ? (avail_px) : P)
        EXPECT(o->x0 - pd->x0 >= CTX(o->x0), "%s: tile %d has %d px of context on the left", what, i,
               o->x0 - pd->x0);
        EXPECT(o->y0 - pd->y0 >= CTX(o->y0), "%s: tile %d has %d px of context on top", what, i,
               o->y0 - pd->y0);
        EXPECT(pd->x1 - o->x1 >= CTX(W - o->x1), "%s: tile %d has %d px of context on the right", what, i,
               pd->x1 - o->x1);
        EXPECT(pd->y1 - o->y1 >= CTX(H - o->y1), "%s: tile %d has %d px of context below", what, i,
               pd->y1 - o->y1);
#undef CTX
        int need_w = (o->x1 + P < W ? o->x1 + P : W) - (o->x0 - P > 0 ? o->x0 - P : 0);
        int need_h = (o->y1 + P < H ? o->y1 + P : H) - (o->y0 - P > 0 ? o->y0 - P : 0);
        EXPECT(pd->x1 - pd->x0 - need_w < m && pd->y1 - pd->y0 - need_h < m, "%s: padded grew too much", what);

        /* Model input: a multiple of m; replication only where the frame is too small. */
        EXPECT(t->in_w == pd->x1 - pd->x0 + t->repl_left + t->repl_right &&
                   t->in_h == pd->y1 - pd->y0 + t->repl_top + t->repl_bottom,
               "%s: input size", what);
        EXPECT(t->in_w % m == 0 && t->in_h % m == 0, "%s: input %dx%d not a multiple of %d", what, t->in_w,
               t->in_h, m);
        EXPECT(t->repl_left >= 0 && t->repl_right >= 0 && t->repl_top >= 0 && t->repl_bottom >= 0 &&
                   t->repl_left + t->repl_right < m && t->repl_top + t->repl_bottom < m,
               "%s: replication", what);
        if (t->repl_left + t->repl_right)
            EXPECT(pd->x0 == 0 && pd->x1 == W, "%s: replication although the frame is wider", what);
        if (t->repl_top + t->repl_bottom)
            EXPECT(pd->y0 == 0 && pd->y1 == H, "%s: replication although the frame is taller", what);

        /* Kept area. */
        const vsri_rect *k = &t->keep;
        if (!cfg->blend) {
            EXPECT(RECT_EQ(*k, *o), "%s: keep differs from own without blending", what);
            EXPECT(!t->ramp_left && !t->ramp_right && !t->ramp_top && !t->ramp_bottom, "%s: ramps", what);
        } else {
            EXPECT(k->x0 <= o->x0 && k->y0 <= o->y0 && k->x1 >= o->x1 && k->y1 >= o->y1 && k->x0 >= pd->x0 &&
                       k->y0 >= pd->y0 && k->x1 <= pd->x1 && k->y1 <= pd->y1,
                   "%s: keep not between own and padded", what);
            EXPECT(t->ramp_left == 2 * (o->x0 - k->x0) * s && t->ramp_right == 2 * (k->x1 - o->x1) * s &&
                       t->ramp_top == 2 * (o->y0 - k->y0) * s && t->ramp_bottom == 2 * (k->y1 - o->y1) * s,
                   "%s: ramps do not match the kept extension", what);
            if (o->x0 == 0)
                EXPECT(t->ramp_left == 0, "%s: ramp at the frame border", what);
            if (o->x1 == W)
                EXPECT(t->ramp_right == 0, "%s: ramp at the frame border", what);
            if (o->y0 == 0)
                EXPECT(t->ramp_top == 0, "%s: ramp at the frame border", what);
            if (o->y1 == H)
                EXPECT(t->ramp_bottom == 0, "%s: ramp at the frame border", what);
        }

        /* Output rectangles are the x s images. */
        vsri_rect dst = {k->x0 * s, k->y0 * s, k->x1 * s, k->y1 * s};
        EXPECT(RECT_EQ(t->out_dst, dst), "%s: out_dst", what);
        int ox = pd->x0 - t->repl_left, oy = pd->y0 - t->repl_top;
        vsri_rect src = {(k->x0 - ox) * s, (k->y0 - oy) * s, (k->x1 - ox) * s, (k->y1 - oy) * s};
        EXPECT(RECT_EQ(t->out_src, src), "%s: out_src", what);
        EXPECT(src.x0 >= 0 && src.y0 >= 0 && src.x1 <= t->in_w * s && src.y1 <= t->in_h * s,
               "%s: out_src outside the model output", what);

        /* Groups. */
        EXPECT(t->group >= 0 && t->group < p->n_groups, "%s: group %d", what, t->group);
        EXPECT(p->groups[t->group].in_w == t->in_w && p->groups[t->group].in_h == t->in_h,
               "%s: group size", what);
        if (t->group < 4096)
            group_count[t->group]++;
    }
    for (int g = 0; g < p->n_groups && g < 4096; g++) {
        EXPECT(p->groups[g].count == group_count[g], "%s: group %d count", what, g);
        for (int h = 0; h < g; h++)
            EXPECT(p->groups[g].in_w != p->groups[h].in_w || p->groups[g].in_h != p->groups[h].in_h,
                   "%s: groups %d and %d have the same size", what, h, g);
    }
}

/* Blend weights sum to 1 at every output pixel. */
static void check_weights_all(const vsri_tile_plan *p, const vsri_tiler_config *cfg, const char *what)
{
    const int OW = cfg->width * cfg->scale, OH = cfg->height * cfg->scale;
    double *acc = calloc((size_t)OW * OH, sizeof(*acc));
    EXPECT(acc != NULL, "out of memory");
    int outside_ok = 1;
    for (int i = 0; i < p->n_tiles; i++) {
        const vsri_tile *t = &p->tiles[i];
        for (int y = t->out_dst.y0; y < t->out_dst.y1; y++)
            for (int x = t->out_dst.x0; x < t->out_dst.x1; x++)
                acc[(size_t)y * OW + x] += vsri_tile_weight(t, x, y);
        /* Zero just outside the kept output. */
        if (t->out_dst.x1 < OW && vsri_tile_weight(t, t->out_dst.x1, t->out_dst.y0) != 0.0)
            outside_ok = 0;
        if (t->out_dst.y0 > 0 && vsri_tile_weight(t, t->out_dst.x0, t->out_dst.y0 - 1) != 0.0)
            outside_ok = 0;
    }
    int bad = -1;
    for (int i = 0; i < OW * OH && bad < 0; i++)
        if (fabs(acc[i] - 1.0) > 1e-6)
            bad = i;
    double v = bad >= 0 ? acc[bad] : 1.0;
    free(acc);
    EXPECT(outside_ok, "%s: non-zero weight outside a tile's kept output", what);
    EXPECT(bad < 0, "%s: weights at output pixel (%d,%d) sum to %.9f", what, bad % OW, bad / OW, v);
}

/* The same along one output row (axis 0) or column (axis 1), for frames
 * too many to check whole. */
static void check_weights_line(const vsri_tile_plan *p, const vsri_tiler_config *cfg, const char *what,
                               int axis, int line)
{
    const int n = axis == 0 ? cfg->width * cfg->scale : cfg->height * cfg->scale;
    double acc[70 * 16] = {0};
    EXPECT(n <= 70 * 16, "line too long for the test");
    for (int i = 0; i < p->n_tiles; i++) {
        const vsri_tile *t = &p->tiles[i];
        int lo = axis == 0 ? t->out_dst.x0 : t->out_dst.y0, hi = axis == 0 ? t->out_dst.x1 : t->out_dst.y1;
        int across0 = axis == 0 ? t->out_dst.y0 : t->out_dst.x0, across1 = axis == 0 ? t->out_dst.y1 : t->out_dst.x1;
        if (line < across0 || line >= across1)
            continue;
        for (int o = lo; o < hi; o++)
            acc[o] += axis == 0 ? vsri_tile_weight(t, o, line) : vsri_tile_weight(t, line, o);
    }
    for (int o = 0; o < n; o++)
        EXPECT(fabs(acc[o] - 1.0) < 1e-6, "%s: weights at %s %d, pixel %d sum to %.9f", what,
               axis == 0 ? "row" : "column", line, o, acc[o]);
}

static void test_exhaustive(void)
{
    static const int multiples[] = {1, 2, 4};
    long plans = 0;
    for (int W = 1; W <= 70; W++) {
        for (int tile = 0; tile <= 40; tile++) {
            for (int pad = 0; pad <= 9; pad++) {
                for (int mi = 0; mi < 3; mi++) {
                    for (int blend = 0; blend <= 1; blend++) {
                        /* Heights cycle through 1..70 as well, and the scale through 1..3. */
                        int H = 1 + (W * 13 + tile * 7 + pad * 3 + mi) % 70;
                        vsri_tiler_config cfg = {W, H, tile, pad, multiples[mi], 1 + (W + tile + pad) % 3, blend};
                        char what[128];
                        snprintf(what, sizeof(what), "W=%d H=%d tile=%d pad=%d m=%d s=%d blend=%d", W, H, tile,
                                 pad, cfg.size_multiple, cfg.scale, blend);
                        vsri_tile_plan p;
                        int r = vsri_tiler_plan(&p, &cfg);
                        CHECK_MSG(r == 0, "%s: %s", what, vsr_last_error());
                        if (r < 0)
                            continue;
                        plans++;
                        check_structure(&p, &cfg, what);
                        int ow = W * cfg.scale, oh = H * cfg.scale;
                        int rows[3] = {0, oh / 2, oh - 1}, cols[3] = {0, ow / 3, ow - 1};
                        for (int l = 0; l < 3; l++) {
                            check_weights_line(&p, &cfg, what, 0, rows[l]);
                            check_weights_line(&p, &cfg, what, 1, cols[l]);
                        }
                        vsri_tiler_free(&p);
                    }
                }
            }
        }
    }
    /* Every output pixel, on a smaller set of sizes. */
    static const int sizes[] = {1, 2, 3, 5, 8, 13, 21, 34};
    for (int wi = 0; wi < 8; wi++) {
        for (int hi = 0; hi < 8; hi++) {
            for (int tile = 0; tile <= 12; tile++) {
                for (int pad = 0; pad <= 5; pad++) {
                    for (int mi = 0; mi < 3; mi++) {
                        for (int s = 1; s <= 2; s++) {
                            vsri_tiler_config cfg = {sizes[wi], sizes[hi], tile, pad, multiples[mi], s, 1};
                            char what[128];
                            snprintf(what, sizeof(what), "W=%d H=%d tile=%d pad=%d m=%d s=%d blend", cfg.width,
                                     cfg.height, tile, pad, cfg.size_multiple, s);
                            vsri_tile_plan p;
                            CHECK(vsri_tiler_plan(&p, &cfg) == 0);
                            plans++;
                            check_structure(&p, &cfg, what);
                            check_weights_all(&p, &cfg, what);
                            vsri_tiler_free(&p);
                        }
                    }
                }
            }
        }
    }
    fprintf(stderr, "tiler: %ld plans\n", plans);
}

static void test_examples(void)
{
    vsri_tile_plan p;
    /* 100 px wide, tile 40, pad 8: three columns 34, 33, 33. */
    vsri_tiler_config cfg = {100, 30, 40, 8, 1, 2, 0};
    CHECK(vsri_tiler_plan(&p, &cfg) == 0);
    CHECK(p.cols == 3 && p.rows == 1 && p.n_tiles == 3);
    CHECK(p.tiles[0].own.x0 == 0 && p.tiles[0].own.x1 == 34 && p.tiles[1].own.x1 == 67);
    CHECK(p.tiles[0].padded.x0 == 0 && p.tiles[0].padded.x1 == 42);
    CHECK(p.tiles[1].padded.x0 == 26 && p.tiles[1].padded.x1 == 75);
    CHECK(p.tiles[2].padded.x0 == 59 && p.tiles[2].padded.x1 == 100);
    CHECK(p.tiles[1].padded.y0 == 0 && p.tiles[1].padded.y1 == 30);
    CHECK(p.tiles[1].out_src.x0 == 16 && p.tiles[1].out_src.x1 == 82);
    CHECK(p.tiles[1].out_dst.x0 == 68 && p.tiles[1].out_dst.x1 == 134);
    CHECK(p.n_groups == 3);
    vsri_tiler_free(&p);
    CHECK(p.tiles == NULL);
    vsri_tiler_free(&p); /* harmless twice */

    /* Multiple of 4: own sizes 24, 24, 22; padded grown into the frame. */
    vsri_tiler_config m4 = {70, 8, 30, 5, 4, 1, 0};
    CHECK(vsri_tiler_plan(&p, &m4) == 0);
    CHECK(p.cols == 3);
    CHECK(p.tiles[0].own.x1 == 24 && p.tiles[1].own.x1 == 48 && p.tiles[2].own.x1 == 70);
    CHECK(p.tiles[0].padded.x0 == 0 && p.tiles[0].padded.x1 == 32);
    CHECK(p.tiles[1].padded.x0 == 19 && p.tiles[1].padded.x1 == 55);
    CHECK(p.tiles[2].padded.x0 == 42 && p.tiles[2].padded.x1 == 70);
    CHECK(p.tiles[0].in_h == 8 && p.tiles[0].repl_bottom == 0);
    vsri_tiler_free(&p);

    /* Whole frame, 70x9 with a multiple of 4: replicate 2 columns and 3 rows. */
    vsri_tiler_config whole = {70, 9, 0, 5, 4, 2, 1};
    CHECK(vsri_tiler_plan(&p, &whole) == 0);
    CHECK(p.n_tiles == 1);
    CHECK(p.tiles[0].repl_right == 2 && p.tiles[0].repl_bottom == 3 && p.tiles[0].repl_left == 0);
    CHECK(p.tiles[0].in_w == 72 && p.tiles[0].in_h == 12);
    CHECK(p.tiles[0].out_dst.x1 == 140 && p.tiles[0].out_src.x1 == 140);
    CHECK(vsri_tile_weight(&p.tiles[0], 5, 5) == 1.0);
    CHECK(p.n_groups == 1 && p.groups[0].count == 1);
    vsri_tiler_free(&p);

    /* Blending 2x2 tiles of 10 px, pad 2, scale 1: bands of 4 px around the
     * edges at 10; the four weights meet at 1 in the corner. */
    vsri_tiler_config bl = {20, 20, 10, 2, 1, 1, 1};
    CHECK(vsri_tiler_plan(&p, &bl) == 0);
    CHECK(p.n_tiles == 4 && p.n_groups == 1 && p.groups[0].count == 4);
    const vsri_tile *t0 = &p.tiles[0];
    CHECK(t0->keep.x1 == 12 && t0->ramp_right == 4 && t0->ramp_left == 0);
    CHECK(fabs(vsri_tile_weight(t0, 8, 0) - 0.875) < 1e-12);
    CHECK(fabs(vsri_tile_weight(t0, 11, 0) - 0.125) < 1e-12);
    CHECK(vsri_tile_weight(t0, 12, 0) == 0.0);
    double sum = 0;
    for (int i = 0; i < 4; i++)
        sum += vsri_tile_weight(&p.tiles[i], 9, 10);
    CHECK(fabs(sum - 1.0) < 1e-12);
    CHECK(vsri_tile_weight_1d(3, 0, 10, 0, 0) == 1.0);
    CHECK(vsri_tile_weight_1d(10, 0, 10, 0, 0) == 0.0);
    CHECK(vsri_tile_weight_1d(-1, 0, 10, 0, 0) == 0.0);
    vsri_tiler_free(&p);
}

static void test_errors(void)
{
    struct {
        vsri_tiler_config cfg;
        const char *needle;
    } bad[] = {
        {{0, 10, 0, 0, 1, 1, 0}, "frame width must be 1 to 65536, got 0"},
        {{10, 70000, 0, 0, 1, 1, 0}, "frame height must be 1 to 65536, got 70000"},
        {{10, 10, -1, 0, 1, 1, 0}, "tile size must be 0 (whole frame) or more, got -1"},
        {{10, 10, 0, -2, 1, 1, 0}, "tile pad must be 0 to"},
        {{10, 10, 0, 0, 0, 1, 0}, "size multiple must be 1 to"},
        {{10, 10, 0, 0, 1, 17, 0}, "scale must be 1 to 16, got 17"},
        {{4096, 4096, 1, 0, 1, 1, 0}, "makes 16777216 tiles"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vsri_tile_plan p;
        CHECK(vsri_tiler_plan(&p, &bad[i].cfg) == VSR_EINVAL);
        CHECK(p.tiles == NULL && p.n_tiles == 0);
        CHECK_MSG(strstr(vsr_last_error(), bad[i].needle) != NULL, "'%s' lacks '%s'", vsr_last_error(),
                  bad[i].needle);
    }
    /* Large frames are fine. */
    vsri_tiler_config big = {65536, 65536, 512, 16, 4, 4, 1};
    vsri_tile_plan p;
    CHECK(vsri_tiler_plan(&p, &big) == 0);
    CHECK(p.n_tiles == 128 * 128);
    CHECK(p.tiles[p.n_tiles - 1].out_dst.x1 == 65536 * 4);
    vsri_tiler_free(&p);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET); /* the error tests log on purpose */
    test_examples();
    test_errors();
    test_exhaustive();
    return test_result("tiler");
}
