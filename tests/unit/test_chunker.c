/* Tests of temporal chunk planning (lib/chunker.c): worked examples, then
 * every small configuration and clip length, fed in several ways; then
 * segment planners against the whole-clip plan for thousands of random
 * configurations, clips and cuts (fixed seed). */
#include <math.h>

#include "chunker.h"
#include "internal.h"
#include "testutil.h"

#define MAX_FRAMES 64
#define MAX_CHUNKS 256

/* How frames are handed to the chunker. */
enum feed {
    FEED_ONE_BY_ONE, /* one frame, then next() until it wants more; eof with the last frame */
    FEED_ALL_AT_ONCE,/* every frame and eof in the first call */
    FEED_EOF_LATE,   /* one by one without eof, eof in a call of its own at the end */
    FEED_BURSTS,     /* irregular bursts of 1..7 frames */
    FEED_COUNT
};

typedef struct chunk_extent {
    int64_t first, end; /* real (unpadded) input frames [first, end) of a SEQUENCE chunk */
} chunk_extent;

/* Everything a run observed, for checks that need the whole plan. */
typedef struct run_log {
    int chunks;
    chunk_extent extent[MAX_CHUNKS];
    int kept_by[MAX_FRAMES]; /* chunk that kept each frame (cutting) */
    int64_t inputs_fed, outputs_computed;
} run_log;

static int failures_reported;

/* Stop printing after a few failures: an exhaustive loop would flood the log. */
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

static const char *mode_name(vsri_chunk_mode m)
{
    return m == VSRI_CHUNK_PER_FRAME ? "per-frame" : m == VSRI_CHUNK_SEQUENCE ? "sequence" : "window";
}

/* Run a whole clip of F frames through chunker c (made from cfg) and check
 * every chunk as it comes. */
static void run_clip_with(vsri_chunker *c, const vsri_chunker_config *cfg, int F, enum feed feed,
                          run_log *log, const char *what)
{
    int r;

    const int n = cfg->mode == VSRI_CHUNK_SEQUENCE ? (cfg->length ? cfg->length : cfg->window) : 0;
    const int h = cfg->mode == VSRI_CHUNK_WINDOW ? cfg->window / 2 : 0;
    double weight[MAX_FRAMES] = {0};
    int complete[MAX_FRAMES] = {0};
    for (int i = 0; i < MAX_FRAMES; i++)
        log->kept_by[i] = -1;
    int64_t next_complete = 0;  /* frames are completed in order */
    int64_t first_needed = vsri_chunker_first_needed(c);
    int64_t prev_start = -1;
    int pending = 0;            /* partial frames waiting for the next chunk */
    int64_t avail = 0;
    int eof = 0;
    unsigned rng = (unsigned)(F * 7919 + cfg->length * 31 + cfg->overlap);
    int finished = 0;

    for (int guard = 0; guard < 10000 && !finished; guard++) {
        /* Deliver more frames (or eof) according to the feeding pattern. */
        if (guard > 0 || feed == FEED_ALL_AT_ONCE) {
            if (avail < F) {
                int step = 1;
                if (feed == FEED_ALL_AT_ONCE)
                    step = F;
                else if (feed == FEED_BURSTS)
                    step = 1 + (int)((rng = rng * 1103515245u + 12345u) >> 16) % 7;
                avail = avail + step > F ? F : avail + step;
                if (avail == F && feed != FEED_EOF_LATE)
                    eof = 1;
            } else {
                eof = 1;
            }
        }
        /* Plan every chunk possible with what has arrived. */
        for (;;) {
            int64_t fn_before = vsri_chunker_first_needed(c);
            vsri_chunk ch;
            r = vsri_chunker_next(c, avail, eof, &ch);
            int64_t fn_after = vsri_chunker_first_needed(c);
            EXPECT(fn_after >= fn_before, "%s: first_needed went back %lld -> %lld", what,
                   (long long)fn_before, (long long)fn_after);
            first_needed = fn_after;
            if (r == 0) {
                EXPECT(!eof, "%s: needs more frames after eof", what);
                /* Memory stays bounded: the frames held when frames come one
                 * at a time never exceed max_held. */
                if (feed == FEED_ONE_BY_ONE || feed == FEED_EOF_LATE)
                    EXPECT(avail - first_needed <= vsri_chunker_max_held(c),
                           "%s: holding %lld frames, max_held %d", what,
                           (long long)(avail - first_needed), vsri_chunker_max_held(c));
                break;
            }
            if (r == VSR_EOF) {
                EXPECT(eof, "%s: VSR_EOF before eof", what);
                finished = 1;
                break;
            }
            EXPECT(r == 1, "%s: next returned %d: %s", what, r, vsr_last_error());
            EXPECT(log->chunks < MAX_CHUNKS, "%s: too many chunks", what);
            EXPECT(ch.index == log->chunks, "%s: chunk index %lld", what, (long long)ch.index);
            log->inputs_fed += (int64_t)ch.rows * ch.frames;
            log->outputs_computed += ch.outputs;

            /* Inputs: arrived, in the clip, not released. */
            int n_in = ch.rows * ch.frames;
            EXPECT(n_in > 0, "%s: empty chunk", what);
            for (int i = 0; i < n_in; i++) {
                EXPECT(ch.inputs[i] >= 0 && ch.inputs[i] < avail && ch.inputs[i] < F,
                       "%s: chunk %lld input %lld out of range (avail %lld)", what, (long long)ch.index,
                       (long long)ch.inputs[i], (long long)avail);
                EXPECT(ch.inputs[i] >= fn_before, "%s: chunk %lld needs frame %lld below first_needed %lld",
                       what, (long long)ch.index, (long long)ch.inputs[i], (long long)fn_before);
            }

            /* Shape of the inputs per mode. */
            if (cfg->mode == VSRI_CHUNK_PER_FRAME) {
                EXPECT(ch.frames == 1 && ch.rows >= 1 && ch.rows <= cfg->batch && ch.outputs == ch.rows,
                       "%s: shape %dx%d", what, ch.rows, ch.frames);
                for (int i = 0; i < n_in; i++)
                    EXPECT(ch.inputs[i] == ch.inputs[0] + i, "%s: not consecutive", what);
            } else if (cfg->mode == VSRI_CHUNK_WINDOW) {
                EXPECT(ch.frames == cfg->window && ch.rows >= 1 && ch.rows <= cfg->batch &&
                           ch.outputs == ch.rows,
                       "%s: shape %dx%d", what, ch.rows, ch.frames);
                EXPECT(ch.n_keep == ch.rows, "%s: window keeps %d of %d", what, ch.n_keep, ch.rows);
                for (int row = 0; row < ch.rows; row++) {
                    int64_t out_frame = ch.keep[row].frame;
                    for (int t = 0; t < ch.frames; t++) {
                        int64_t want = out_frame - h + t;
                        want = want < 0 ? 0 : (want > F - 1 ? F - 1 : want);
                        EXPECT(ch.inputs[row * ch.frames + t] == want, "%s: window of %lld, t %d: %lld",
                               what, (long long)out_frame, t, (long long)ch.inputs[row * ch.frames + t]);
                    }
                }
            } else {
                EXPECT(ch.rows == 1 && ch.outputs == ch.frames, "%s: shape %dx%d", what, ch.rows, ch.frames);
                int real = ch.frames - ch.padded;
                EXPECT(ch.padded >= 0 && real >= 1, "%s: padded %d", what, ch.padded);
                if (ch.padded)
                    EXPECT(cfg->window > 0 && ch.frames == cfg->window && real == F && ch.index == 0,
                           "%s: unexpected padding", what);
                EXPECT(ch.frames == n || (ch.frames == F && F < n && cfg->window == 0),
                       "%s: chunk of %d frames", what, ch.frames);
                for (int i = 0; i < ch.frames; i++)
                    EXPECT(ch.inputs[i] == (i < real ? ch.inputs[0] + i : F - 1),
                           "%s: sequence input %d is %lld", what, i, (long long)ch.inputs[i]);
                EXPECT(ch.inputs[0] > prev_start, "%s: chunk starts do not increase", what);
                prev_start = ch.inputs[0];
                log->extent[log->chunks].first = ch.inputs[0];
                log->extent[log->chunks].end = ch.inputs[0] + real;
            }

            /* Kept outputs: in order, each frame completed once, weights sum to 1. */
            int64_t prev_frame = -1;
            int new_pending = 0;
            for (int k = 0; k < ch.n_keep; k++) {
                const vsri_chunk_keep *kp = &ch.keep[k];
                EXPECT(kp->frame > prev_frame, "%s: keep list not increasing", what);
                prev_frame = kp->frame;
                EXPECT(kp->frame >= 0 && kp->frame < F, "%s: output frame %lld", what, (long long)kp->frame);
                EXPECT(kp->position >= 0 && kp->position < ch.outputs, "%s: position %d", what, kp->position);
                EXPECT(!complete[kp->frame], "%s: frame %lld produced twice", what, (long long)kp->frame);
                EXPECT(kp->weight > 0 && kp->weight <= 1.0, "%s: weight %g", what, kp->weight);
                EXPECT(kp->in_range, "%s: a whole-clip planner marked frame %lld out of range", what,
                       (long long)kp->frame);
                if (!cfg->blend || cfg->mode != VSRI_CHUNK_SEQUENCE)
                    EXPECT(kp->weight == 1.0 && kp->complete, "%s: weight %g without blending", what,
                           kp->weight);
                /* The output at this position is the model's output for this frame. */
                if (cfg->mode == VSRI_CHUNK_WINDOW)
                    EXPECT(ch.inputs[kp->position * ch.frames + h] == kp->frame, "%s: centre mismatch", what);
                else
                    EXPECT(ch.inputs[kp->position] == kp->frame &&
                               (cfg->mode != VSRI_CHUNK_SEQUENCE || kp->position < ch.frames - ch.padded),
                           "%s: position %d holds %lld, not %lld", what, kp->position,
                           (long long)ch.inputs[kp->position], (long long)kp->frame);
                double before = weight[kp->frame];
                weight[kp->frame] += kp->weight;
                if (kp->complete) {
                    EXPECT(kp->frame == next_complete, "%s: frame %lld completed out of order (expected %lld)",
                           what, (long long)kp->frame, (long long)next_complete);
                    EXPECT(fabs(weight[kp->frame] - 1.0) < 1e-9, "%s: weights of frame %lld sum to %.17g",
                           what, (long long)kp->frame, weight[kp->frame]);
                    complete[kp->frame] = 1;
                    next_complete++;
                    if (before > 0)
                        pending--; /* a frame the previous chunk left partial */
                } else {
                    new_pending++;
                }
                if (log->kept_by[kp->frame] < 0)
                    log->kept_by[kp->frame] = log->chunks;
            }
            EXPECT(pending == 0, "%s: %d partial frames not completed by the next chunk", what, pending);
            pending = new_pending;
            log->chunks++;
            EXPECT(!ch.last || (eof && next_complete == F), "%s: last chunk but not all frames done", what);
        }
    }
    EXPECT(finished, "%s: did not finish", what);
    EXPECT(next_complete == F, "%s: %lld of %d frames produced", what, (long long)next_complete, F);
    EXPECT(pending == 0, "%s: partial frames at the end", what);
    EXPECT(vsri_chunker_first_needed(c) == F, "%s: first_needed %lld at the end", what,
           (long long)vsri_chunker_first_needed(c));
    vsri_chunk ch;
    EXPECT(vsri_chunker_next(c, F, 1, &ch) == VSR_EOF, "%s: not EOF after the end", what);
}

static void run_clip(const vsri_chunker_config *cfg, int F, enum feed feed, run_log *log)
{
    char what[160];
    snprintf(what, sizeof(what), "%s N=%d O=%d T=%d batch=%d blend=%d F=%d feed=%d",
             mode_name(cfg->mode), cfg->length, cfg->overlap, cfg->window, cfg->batch, cfg->blend, F,
             (int)feed);
    memset(log, 0, sizeof(*log));
    vsri_chunker *c = NULL;
    int r = vsri_chunker_new(&c, cfg);
    EXPECT(r == 0, "%s: new failed: %s", what, vsr_last_error());
    run_clip_with(c, cfg, F, feed, log, what);
    vsri_chunker_free(&c);
    EXPECT(c == NULL, "%s: free did not clear", what);
}

/* SEQUENCE, cutting: each frame comes from the chunk where it lies farthest
 * from an edge (ties: the earlier), and with overlap >= 2r it has r frames
 * of context both sides unless within r of the clip's ends. */
static void check_sequence_cut(const vsri_chunker_config *cfg, int F, const run_log *log)
{
    char what[128];
    snprintf(what, sizeof(what), "sequence N=%d O=%d T=%d F=%d", cfg->length, cfg->overlap, cfg->window, F);
    for (int i = 0; i < F; i++) {
        int best = -1;
        int64_t best_dist = -1;
        for (int k = 0; k < log->chunks; k++) {
            const chunk_extent *e = &log->extent[k];
            if (i < e->first || i >= e->end)
                continue;
            int64_t d = i - e->first < e->end - 1 - i ? i - e->first : e->end - 1 - i;
            if (d > best_dist) {
                best_dist = d;
                best = k;
            }
        }
        EXPECT(log->kept_by[i] == best, "%s: frame %d kept by chunk %d, farthest from an edge in %d", what,
               i, log->kept_by[i], best);
        for (int r = 0; 2 * r <= cfg->overlap; r++) {
            const chunk_extent *e = &log->extent[log->kept_by[i]];
            int64_t need_left = i < r ? i : r, need_right = F - 1 - i < r ? F - 1 - i : r;
            EXPECT(i - e->first >= need_left && e->end - 1 - i >= need_right,
                   "%s: frame %d in chunk [%lld,%lld) lacks context %d", what, i, (long long)e->first,
                   (long long)e->end, r);
        }
    }
}

static void check_cost(const vsri_chunker_config *cfg, int F, const run_log *log)
{
    vsri_chunk_cost cost;
    int r = vsri_chunker_cost(cfg, F, &cost);
    EXPECT(r == 0, "cost failed");
    if (F == 0) {
        EXPECT(cost.passes == 0 && cost.inputs_per_frame >= 1.0, "cost of an empty clip");
        return;
    }
    EXPECT(cost.passes == log->chunks, "cost: %lld passes, run had %d", (long long)cost.passes, log->chunks);
    EXPECT(fabs(cost.inputs_per_frame - (double)log->inputs_fed / F) < 1e-12, "cost: inputs");
    EXPECT(fabs(cost.outputs_per_frame - (double)log->outputs_computed / F) < 1e-12, "cost: outputs");
}

static void test_exhaustive(void)
{
    run_log log;
    int runs = 0;
    /* SEQUENCE: any-length and fixed-length models, cutting and blending. */
    for (int n = 1; n <= 12; n++) {
        for (int o = 0; o < n; o++) {
            for (int variant = 0; variant < 4; variant++) {
                vsri_chunker_config cfg = {VSRI_CHUNK_SEQUENCE, n, o, variant & 1 ? n : 0, 1, variant >> 1};
                for (int f = 0; f <= 40; f++) {
                    for (int feed = 0; feed < FEED_COUNT; feed++) {
                        int before = test_failures;
                        run_clip(&cfg, f, (enum feed)feed, &log);
                        runs++;
                        if (test_failures != before)
                            continue;
                        if (!cfg.blend)
                            check_sequence_cut(&cfg, f, &log);
                        if (feed == FEED_ALL_AT_ONCE)
                            check_cost(&cfg, f, &log);
                    }
                }
            }
        }
    }
    /* PER_FRAME and WINDOW with several batch sizes. */
    for (int batch = 1; batch <= 12; batch++) {
        for (int f = 0; f <= 40; f++) {
            for (int feed = 0; feed < FEED_COUNT; feed++) {
                vsri_chunker_config cfg = {VSRI_CHUNK_PER_FRAME, 0, 0, 0, batch, 0};
                run_clip(&cfg, f, (enum feed)feed, &log);
                if (feed == FEED_ALL_AT_ONCE)
                    check_cost(&cfg, f, &log);
                runs++;
                for (int t = 1; t <= 13 && batch <= 6; t += 2) {
                    vsri_chunker_config w = {VSRI_CHUNK_WINDOW, 0, 0, t, batch, 0};
                    run_clip(&w, f, (enum feed)feed, &log);
                    if (feed == FEED_ALL_AT_ONCE)
                        check_cost(&w, f, &log);
                    runs++;
                }
            }
        }
    }
    fprintf(stderr, "chunker: %d clip runs\n", runs);
}

/* Worked examples that spell out the rules. */
static void test_examples(void)
{
    vsri_chunker *c;
    vsri_chunk ch;
    /* N=8, O=2 over 20 frames: [0,8) keeps 0-6, [6,14) keeps 7-12 and the
     * last chunk [12,20) (exactly regular) keeps 13-19. */
    vsri_chunker_config cfg = {VSRI_CHUNK_SEQUENCE, 8, 2, 0, 1, 0};
    CHECK(vsri_chunker_new(&c, &cfg) == 0);
    CHECK(vsri_chunker_next(c, 13, 0, &ch) == 0); /* needs chunk 1 complete: 6 + 8 frames */
    CHECK(vsri_chunker_first_needed(c) == 0);
    CHECK(vsri_chunker_next(c, 14, 0, &ch) == 1);
    CHECK(ch.inputs[0] == 0 && ch.frames == 8 && ch.n_keep == 7 && ch.keep[6].frame == 6 && !ch.last);
    CHECK(vsri_chunker_first_needed(c) == 6);
    CHECK(vsri_chunker_next(c, 14, 0, &ch) == 0);
    CHECK(vsri_chunker_next(c, 20, 0, &ch) == 1);
    CHECK(ch.inputs[0] == 6 && ch.n_keep == 6 && ch.keep[0].frame == 7 && ch.keep[5].frame == 12);
    CHECK(ch.keep[0].position == 1);
    CHECK(vsri_chunker_next(c, 20, 0, &ch) == 0); /* 20 could still grow */
    CHECK(vsri_chunker_next(c, 20, 1, &ch) == 1);
    CHECK(ch.inputs[0] == 12 && ch.n_keep == 7 && ch.keep[0].frame == 13 && ch.last);
    CHECK(vsri_chunker_next(c, 20, 1, &ch) == VSR_EOF);
    CHECK(vsri_chunker_first_needed(c) == 20);
    vsri_chunker_free(&c);

    /* The same over 15 frames: the last chunk moves back to [7,15); frame
     * 10 is 3 from an edge in both [6,14) and [7,15) and goes to the earlier. */
    CHECK(vsri_chunker_new(&c, &cfg) == 0);
    CHECK(vsri_chunker_next(c, 15, 0, &ch) == 1);
    CHECK(ch.n_keep == 7);
    CHECK(vsri_chunker_next(c, 15, 0, &ch) == 0);
    CHECK(vsri_chunker_first_needed(c) == 6);
    CHECK(vsri_chunker_next(c, 15, 1, &ch) == 1);
    CHECK(ch.inputs[0] == 6 && ch.n_keep == 4 && ch.keep[0].frame == 7 && ch.keep[3].frame == 10);
    CHECK(vsri_chunker_first_needed(c) == 7);
    CHECK(vsri_chunker_next(c, 15, 1, &ch) == 1);
    CHECK(ch.inputs[0] == 7 && ch.inputs[7] == 14 && ch.n_keep == 4 && ch.keep[0].frame == 11 &&
          ch.keep[0].position == 4);
    CHECK(vsri_chunker_next(c, 15, 1, &ch) == VSR_EOF);
    vsri_chunker_free(&c);

    /* Fixed 5-frame model, 3-frame clip: padded with the last frame. */
    vsri_chunker_config fixed = {VSRI_CHUNK_SEQUENCE, 0, 2, 5, 1, 0};
    CHECK(vsri_chunker_new(&c, &fixed) == 0);
    CHECK(vsri_chunker_next(c, 3, 0, &ch) == 0);
    CHECK(vsri_chunker_next(c, 3, 1, &ch) == 1);
    CHECK(ch.frames == 5 && ch.padded == 2 && ch.n_keep == 3 && ch.last);
    CHECK(ch.inputs[2] == 2 && ch.inputs[3] == 2 && ch.inputs[4] == 2);
    vsri_chunker_free(&c);

    /* Any-length model, same clip: one 3-frame chunk. */
    vsri_chunker_config any = {VSRI_CHUNK_SEQUENCE, 5, 2, 0, 1, 0};
    CHECK(vsri_chunker_new(&c, &any) == 0);
    CHECK(vsri_chunker_next(c, 3, 1, &ch) == 1);
    CHECK(ch.frames == 3 && ch.padded == 0 && ch.n_keep == 3);
    vsri_chunker_free(&c);

    /* Blending N=8, O=2 over 14 frames: frames 6 and 7 fade 2/3 -> 1/3. */
    vsri_chunker_config blend = {VSRI_CHUNK_SEQUENCE, 8, 2, 0, 1, 1};
    CHECK(vsri_chunker_new(&c, &blend) == 0);
    CHECK(vsri_chunker_next(c, 14, 1, &ch) == 1);
    CHECK(ch.n_keep == 8);
    CHECK(ch.keep[5].weight == 1.0 && ch.keep[5].complete);
    CHECK(fabs(ch.keep[6].weight - 2.0 / 3) < 1e-15 && !ch.keep[6].complete);
    CHECK(fabs(ch.keep[7].weight - 1.0 / 3) < 1e-15 && !ch.keep[7].complete);
    CHECK(vsri_chunker_next(c, 14, 1, &ch) == 1);
    CHECK(ch.inputs[0] == 6 && ch.n_keep == 8 && ch.keep[0].frame == 6);
    CHECK(fabs(ch.keep[0].weight - 1.0 / 3) < 1e-15 && ch.keep[0].complete);
    CHECK(fabs(ch.keep[1].weight - 2.0 / 3) < 1e-15 && ch.keep[1].complete);
    CHECK(vsri_chunker_next(c, 14, 1, &ch) == VSR_EOF);
    vsri_chunker_free(&c);

    /* Window of 5, batch 2: output 0 sees 0,0,0,1,2; output 1 sees 0,0,1,2,3. */
    vsri_chunker_config win = {VSRI_CHUNK_WINDOW, 0, 0, 5, 2, 0};
    CHECK(vsri_chunker_new(&c, &win) == 0);
    CHECK(vsri_chunker_max_held(c) == 6);
    CHECK(vsri_chunker_next(c, 3, 0, &ch) == 0);
    CHECK(vsri_chunker_next(c, 4, 0, &ch) == 1);
    CHECK(ch.rows == 2 && ch.frames == 5 && ch.outputs == 2);
    const int64_t want[10] = {0, 0, 0, 1, 2, 0, 0, 1, 2, 3};
    int same = 1;
    for (int i = 0; i < 10; i++)
        same &= ch.inputs[i] == want[i];
    CHECK(same);
    CHECK(vsri_chunker_first_needed(c) == 0);
    CHECK(vsri_chunker_next(c, 5, 1, &ch) == 1);
    CHECK(ch.rows == 2 && ch.keep[0].frame == 2 && ch.inputs[9] == 4 && ch.inputs[8] == 4);
    CHECK(vsri_chunker_first_needed(c) == 2);
    CHECK(vsri_chunker_next(c, 5, 1, &ch) == 1);
    CHECK(ch.rows == 1 && ch.keep[0].frame == 4 && ch.last);
    CHECK(vsri_chunker_next(c, 5, 1, &ch) == VSR_EOF);
    vsri_chunker_free(&c);
}

static void test_errors(void)
{
    vsri_chunker *c = (vsri_chunker *)1;
    struct {
        vsri_chunker_config cfg;
        const char *needle;
    } bad[] = {
        {{VSRI_CHUNK_PER_FRAME, 0, 0, 0, 0, 0}, "batch must be 1 to"},
        {{VSRI_CHUNK_WINDOW, 0, 0, 4, 1, 0}, "odd window"},
        {{VSRI_CHUNK_WINDOW, 0, 0, 0, 1, 0}, "odd window"},
        {{VSRI_CHUNK_WINDOW, 0, 0, 3, 0, 0}, "batch must be"},
        {{VSRI_CHUNK_SEQUENCE, 0, 0, 0, 1, 0}, "chunk length must be 1 to"},
        {{VSRI_CHUNK_SEQUENCE, 4, 4, 0, 1, 0}, "overlap must be 0 to 3 (less than the chunk length 4), got 4"},
        {{VSRI_CHUNK_SEQUENCE, 4, -1, 0, 1, 0}, "overlap must be"},
        {{VSRI_CHUNK_SEQUENCE, 6, 1, 5, 1, 0}, "chunk length must be 5, got 6"},
        {{VSRI_CHUNK_SEQUENCE, 6, 1, -1, 1, 0}, "fixed length"},
        {{(vsri_chunk_mode)7, 6, 1, 0, 1, 0}, "unknown mode"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(vsri_chunker_new(&c, &bad[i].cfg) == VSR_EINVAL);
        CHECK(c == NULL);
        CHECK_MSG(strstr(vsr_last_error(), bad[i].needle) != NULL, "'%s' lacks '%s'", vsr_last_error(),
                  bad[i].needle);
        vsri_chunk_cost cost;
        CHECK(vsri_chunker_cost(&bad[i].cfg, 10, &cost) == VSR_EINVAL);
    }

    vsri_chunker_config cfg = {VSRI_CHUNK_PER_FRAME, 0, 0, 0, 4, 0};
    vsri_chunk ch;
    CHECK(vsri_chunker_new(&c, &cfg) == 0);
    CHECK(vsri_chunker_next(c, 5, 0, &ch) == 1);
    CHECK(vsri_chunker_next(c, 3, 0, &ch) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "went back from 5 to 3") != NULL);
    CHECK(vsri_chunker_next(c, 6, 1, &ch) == 1);
    CHECK(vsri_chunker_next(c, 7, 1, &ch) == VSR_EINVAL);
    CHECK(strstr(vsr_last_error(), "already ended at 6 frames") != NULL);
    CHECK(vsri_chunker_next(c, 6, 0, &ch) == VSR_EINVAL);
    CHECK(vsri_chunker_next(c, 6, 1, &ch) == VSR_EOF);
    vsri_chunker_free(&c);
    vsri_chunker_free(&c); /* harmless */
    vsri_chunker_free(NULL);

    vsri_chunk_cost cost;
    CHECK(vsri_chunker_cost(&cfg, -1, &cost) == VSR_EINVAL);
}

static void test_cost(void)
{
    vsri_chunk_cost cost;
    vsri_chunker_config seq = {VSRI_CHUNK_SEQUENCE, 10, 2, 0, 1, 0};
    CHECK(vsri_chunker_cost(&seq, 0, &cost) == 0);
    CHECK(cost.inputs_per_frame == 1.25 && cost.outputs_per_frame == 1.25 && cost.passes == 0);
    /* 100 frames: chunks at 0, 8, ..., 88 and the last at 90: 13 chunks. */
    CHECK(vsri_chunker_cost(&seq, 100, &cost) == 0);
    CHECK(cost.passes == 13 && cost.inputs_per_frame == 1.3);
    vsri_chunker_config win = {VSRI_CHUNK_WINDOW, 0, 0, 7, 4, 0};
    CHECK(vsri_chunker_cost(&win, 0, &cost) == 0);
    CHECK(cost.inputs_per_frame == 7 && cost.outputs_per_frame == 1);
    CHECK(vsri_chunker_cost(&win, 10, &cost) == 0);
    CHECK(cost.passes == 3 && cost.inputs_per_frame == 7 && cost.outputs_per_frame == 1);
    vsri_chunker_config pf = {VSRI_CHUNK_PER_FRAME, 0, 0, 0, 8, 0};
    CHECK(vsri_chunker_cost(&pf, 0, &cost) == 0);
    CHECK(cost.inputs_per_frame == 1 && cost.outputs_per_frame == 1);
    CHECK(vsri_chunker_cost(&pf, 17, &cost) == 0);
    CHECK(cost.passes == 3);

    CHECK(vsri_chunk_mode_for(1, 0) == VSRI_CHUNK_PER_FRAME);
    CHECK(vsri_chunk_mode_for(0, 0) == VSRI_CHUNK_SEQUENCE);
    CHECK(vsri_chunk_mode_for(7, 0) == VSRI_CHUNK_SEQUENCE);
    CHECK(vsri_chunk_mode_for(5, 1) == VSRI_CHUNK_WINDOW);
}


/* ---- segments: the windowed plan against the whole-clip plan ----------- */

/* One recorded pass (a deep copy of a vsri_chunk). */
typedef struct pass_rec {
    int64_t index;
    int rows, frames, outputs, padded, last, n_keep;
    int64_t *inputs;
    vsri_chunk_keep *keep;
} pass_rec;

typedef struct plan_rec {
    int n, cap;
    pass_rec *p;
} plan_rec;

static void plan_clear(plan_rec *pl)
{
    for (int i = 0; i < pl->n; i++) {
        free(pl->p[i].inputs);
        free(pl->p[i].keep);
    }
    free(pl->p);
    memset(pl, 0, sizeof(*pl));
}

static void plan_add(plan_rec *pl, const vsri_chunk *ch)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 64;
        pl->p = realloc(pl->p, sizeof(*pl->p) * (size_t)pl->cap);
        if (!pl->p)
            abort();
    }
    pass_rec *r = &pl->p[pl->n++];
    r->index = ch->index;
    r->rows = ch->rows;
    r->frames = ch->frames;
    r->outputs = ch->outputs;
    r->padded = ch->padded;
    r->last = ch->last;
    r->n_keep = ch->n_keep;
    size_t n_in = (size_t)ch->rows * ch->frames;
    r->inputs = malloc(sizeof(int64_t) * n_in);
    r->keep = malloc(sizeof(vsri_chunk_keep) * (size_t)(ch->n_keep ? ch->n_keep : 1));
    if (!r->inputs || !r->keep)
        abort();
    memcpy(r->inputs, ch->inputs, sizeof(int64_t) * n_in);
    memcpy(r->keep, ch->keep, sizeof(vsri_chunk_keep) * (size_t)ch->n_keep);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull; /* fixed seed: the same cases every run */

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Uniform in [lo, hi]. */
static int64_t rnd_in(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static void describe(char *buf, size_t n, const vsri_chunker_config *cfg, const vsri_chunk_range *r)
{
    snprintf(buf, n, "%s N=%d O=%d T=%d batch=%d blend=%d total=%lld segment [%lld,+%lld)",
             mode_name(cfg->mode), cfg->length, cfg->overlap, cfg->window, cfg->batch, cfg->blend,
             (long long)r->total, (long long)r->first, (long long)r->count);
}

/* The whole-clip run as the session drives it: frames one at a time, eof
 * in a call of its own at the end (or everything at once: the plan must
 * not depend on how frames arrive). */
static void global_plan(const vsri_chunker_config *cfg, int64_t total, int all_at_once, plan_rec *pl,
                        const char *what)
{
    vsri_chunker *c = NULL;
    EXPECT(vsri_chunker_new(&c, cfg) == 0, "%s: new: %s", what, vsr_last_error());
    vsri_chunk ch;
    int r;
    for (int64_t avail = all_at_once ? total : 0; avail <= total; avail++) {
        while ((r = vsri_chunker_next(c, avail, 0, &ch)) == 1)
            plan_add(pl, &ch);
        EXPECT(r == 0, "%s: whole clip next %d", what, r);
    }
    while ((r = vsri_chunker_next(c, total, 1, &ch)) == 1)
        plan_add(pl, &ch);
    EXPECT(r == VSR_EOF, "%s: whole clip ended with %d", what, r);
    vsri_chunker_free(&c);
}

static void same_pass(const pass_rec *a, const pass_rec *b, const char *what)
{
    EXPECT(a->index == b->index && a->rows == b->rows && a->frames == b->frames && a->outputs == b->outputs &&
               a->padded == b->padded && a->n_keep == b->n_keep,
           "%s: pass %lld differs: rows %d/%d frames %d/%d outputs %d/%d padded %d/%d keeps %d/%d", what,
           (long long)a->index, a->rows, b->rows, a->frames, b->frames, a->outputs, b->outputs, a->padded,
           b->padded, a->n_keep, b->n_keep);
    for (int i = 0; i < a->rows * a->frames; i++)
        EXPECT(a->inputs[i] == b->inputs[i], "%s: pass %lld input %d: %lld, whole clip %lld", what,
               (long long)a->index, i, (long long)a->inputs[i], (long long)b->inputs[i]);
    for (int i = 0; i < a->n_keep; i++) {
        const vsri_chunk_keep *x = &a->keep[i], *y = &b->keep[i];
        EXPECT(x->position == y->position && x->frame == y->frame && x->weight == y->weight &&
                   x->complete == y->complete,
               "%s: pass %lld keep %d: frame %lld pos %d weight %.17g complete %d, whole clip frame %lld "
               "pos %d weight %.17g complete %d",
               what, (long long)a->index, i, (long long)x->frame, x->position, x->weight, x->complete,
               (long long)y->frame, y->position, y->weight, y->complete);
    }
}

/* How a segment planner is fed. */
enum seg_feed { SEG_ONE_BY_ONE, SEG_BURSTS, SEG_ALL_AT_ONCE, SEG_FEED_COUNT };

/* Run the segment planner for r, check it as it goes and against the
 * whole-clip plan g; append its in-range keeps (with their pass) to *kept. */
typedef struct kept_share {
    int64_t pass, frame;
    int position, complete;
    double weight;
} kept_share;

typedef struct share_list {
    int n, cap;
    kept_share *s;
} share_list;

static void share_add(share_list *l, int64_t pass, const vsri_chunk_keep *k)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        l->s = realloc(l->s, sizeof(*l->s) * (size_t)l->cap);
        if (!l->s)
            abort();
    }
    l->s[l->n++] = (kept_share){pass, k->frame, k->position, k->complete, k->weight};
}

static int share_cmp(const void *pa, const void *pb)
{
    const kept_share *a = pa, *b = pb;
    if (a->pass != b->pass)
        return a->pass < b->pass ? -1 : 1;
    return a->frame < b->frame ? -1 : a->frame > b->frame;
}

static void run_segment(const vsri_chunker_config *cfg, const vsri_chunk_range *r, const plan_rec *g,
                        enum seg_feed feed, int eof_mode, share_list *kept, int64_t *passes_run)
{
    char what[200];
    describe(what, sizeof(what), cfg, r);
    const int64_t end = r->first + r->count;
    vsri_chunk_span sp;
    EXPECT(vsri_chunker_span(cfg, r, &sp) == 0, "%s: span: %s", what, vsr_last_error());
    EXPECT(0 <= sp.feed_first && sp.feed_first <= r->first && end <= sp.feed_end && sp.feed_end <= r->total,
           "%s: feed [%lld,%lld) does not cover the segment", what, (long long)sp.feed_first,
           (long long)sp.feed_end);
    EXPECT(0 <= sp.first_pass && sp.first_pass < sp.end_pass && sp.end_pass <= g->n,
           "%s: passes [%lld,%lld) of %d", what, (long long)sp.first_pass, (long long)sp.end_pass, g->n);

    /* The span is exactly the passes of the whole clip that keep a share of
     * a segment frame, and the feed exactly the inputs they read. */
    int64_t lo = INT64_MAX, hi = -1;
    for (int p = 0; p < g->n; p++) {
        int touches = 0;
        for (int k = 0; k < g->p[p].n_keep; k++)
            touches |= g->p[p].keep[k].frame >= r->first && g->p[p].keep[k].frame < end;
        int inside = p >= sp.first_pass && p < sp.end_pass;
        EXPECT(touches == inside, "%s: whole-clip pass %d %s the segment but is %s the span", what, p,
               touches ? "keeps frames of" : "keeps nothing of", inside ? "in" : "outside");
        if (inside)
            for (int i = 0; i < g->p[p].rows * g->p[p].frames; i++) {
                lo = g->p[p].inputs[i] < lo ? g->p[p].inputs[i] : lo;
                hi = g->p[p].inputs[i] > hi ? g->p[p].inputs[i] : hi;
            }
    }
    EXPECT(lo == sp.feed_first && hi + 1 == sp.feed_end, "%s: feed [%lld,%lld), the passes read [%lld,%lld]",
           what, (long long)sp.feed_first, (long long)sp.feed_end, (long long)lo, (long long)hi);

    vsri_chunker *c = NULL;
    EXPECT(vsri_chunker_new_range(&c, cfg, r) == 0, "%s: new_range: %s", what, vsr_last_error());
    EXPECT(vsri_chunker_first_needed(c) == sp.feed_first, "%s: first_needed %lld before any frame", what,
           (long long)vsri_chunker_first_needed(c));
    int64_t avail = sp.feed_first, next_pass = sp.first_pass;
    int finished = 0;
    for (int guard = 0; guard < 1000000 && !finished; guard++) {
        if (guard > 0) {
            int64_t step = feed == SEG_ONE_BY_ONE ? 1 : feed == SEG_ALL_AT_ONCE ? sp.feed_end : rnd_in(1, 9);
            avail = avail + step > sp.feed_end ? sp.feed_end : avail + step;
        }
        /* eof_mode 0 and 2: never said before the end (the planner knows the
         * length); 1: with the last frame */
        int eof = eof_mode == 1 && avail == sp.feed_end;
        for (;;) {
            int64_t fn_before = vsri_chunker_first_needed(c);
            vsri_chunk ch;
            int rc = vsri_chunker_next(c, avail, eof, &ch);
            int64_t fn_after = vsri_chunker_first_needed(c);
            EXPECT(fn_after >= fn_before, "%s: first_needed went back %lld -> %lld", what,
                   (long long)fn_before, (long long)fn_after);
            if (rc == 0) {
                EXPECT(avail < sp.feed_end, "%s: wants more than its feed end %lld", what,
                       (long long)sp.feed_end);
                if (feed == SEG_ONE_BY_ONE)
                    EXPECT(avail - fn_after <= vsri_chunker_max_held(c), "%s: holding %lld frames, max_held %d",
                           what, (long long)(avail - fn_after), vsri_chunker_max_held(c));
                break;
            }
            if (rc == VSR_EOF) {
                finished = 1;
                break;
            }
            EXPECT(rc == 1, "%s: next returned %d: %s", what, rc, vsr_last_error());
            EXPECT(ch.index == next_pass && next_pass < sp.end_pass, "%s: pass %lld, expected %lld", what,
                   (long long)ch.index, (long long)next_pass);
            for (int i = 0; i < ch.rows * ch.frames; i++)
                EXPECT(ch.inputs[i] >= fn_before && ch.inputs[i] < avail && ch.inputs[i] >= sp.feed_first,
                       "%s: pass %lld reads frame %lld (first_needed %lld, arrived below %lld)", what,
                       (long long)ch.index, (long long)ch.inputs[i], (long long)fn_before, (long long)avail);
            plan_rec one = {0, 0, NULL};
            plan_add(&one, &ch);
            same_pass(&one.p[0], &g->p[ch.index], what);
            plan_clear(&one);
            EXPECT(ch.last == (ch.index == g->n - 1), "%s: pass %lld last=%d", what, (long long)ch.index,
                   ch.last);
            for (int k = 0; k < ch.n_keep; k++) {
                int want = ch.keep[k].frame >= r->first && ch.keep[k].frame < end;
                EXPECT(ch.keep[k].in_range == want, "%s: frame %lld in_range %d", what,
                       (long long)ch.keep[k].frame, ch.keep[k].in_range);
                if (want && kept)
                    share_add(kept, ch.index, &ch.keep[k]);
            }
            next_pass++;
            if (passes_run)
                (*passes_run)++;
        }
        EXPECT(finished || avail < sp.feed_end, "%s: not finished with every frame of its feed", what);
    }
    if (eof_mode == 2) {
        vsri_chunk ch;
        EXPECT(vsri_chunker_next(c, avail, 1, &ch) == VSR_EOF, "%s: eof after the end", what);
    }
    EXPECT(finished && next_pass == sp.end_pass, "%s: ran passes up to %lld of [%lld,%lld)", what,
           (long long)next_pass, (long long)sp.first_pass, (long long)sp.end_pass);
    vsri_chunker_free(&c);
}

static void random_config(vsri_chunker_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    switch (rnd() % 3) {
    case 0:
        cfg->mode = VSRI_CHUNK_PER_FRAME;
        cfg->batch = (int)rnd_in(1, 16);
        break;
    case 1:
        cfg->mode = VSRI_CHUNK_WINDOW;
        cfg->window = 2 * (int)rnd_in(0, 7) + 1;
        cfg->batch = (int)rnd_in(1, 12);
        break;
    default:
        cfg->mode = VSRI_CHUNK_SEQUENCE;
        cfg->length = (int)rnd_in(1, 40);
        cfg->overlap = (int)rnd_in(0, cfg->length - 1);
        cfg->window = rnd() % 10 < 3 ? cfg->length : 0;
        cfg->blend = (int)(rnd() % 2);
        cfg->batch = 1;
        break;
    }
}

static int64_t random_total(void)
{
    int kind = (int)(rnd() % 10);
    return kind < 5 ? rnd_in(1, 40) : kind < 9 ? rnd_in(1, 400) : rnd_in(400, 3000);
}

/* Property: for random settings, clips and segments, the segment planner
 * runs exactly the whole-clip passes that keep a segment frame, with the
 * same inputs and keeps; and the segments of a random cut of the clip
 * together keep every whole-clip share exactly once. */
static void test_segments(void)
{
    int singles = 0, cuts = 0, segments = 0;
    for (int iter = 0; iter < 6000; iter++) {
        vsri_chunker_config cfg;
        random_config(&cfg);
        int64_t total = random_total();
        char what[200];
        vsri_chunk_range whole = {total, 0, total};
        describe(what, sizeof(what), &cfg, &whole);
        plan_rec g = {0, 0, NULL}, g2 = {0, 0, NULL};
        int before = test_failures;
        global_plan(&cfg, total, 0, &g, what);
        global_plan(&cfg, total, 1, &g2, what);
        if (test_failures == before) {
            EXPECT(g.n == g2.n, "%s: %d passes fed one by one, %d all at once", what, g.n, g2.n);
            for (int i = 0; i < g.n && i < g2.n; i++)
                same_pass(&g2.p[i], &g.p[i], what);
        }
        plan_clear(&g2);
        if (test_failures != before) {
            plan_clear(&g);
            continue;
        }

        /* One random segment, fed in a random way. */
        vsri_chunk_range r = {total, rnd_in(0, total - 1), 0};
        r.count = rnd() % 4 == 0 ? rnd_in(1, total - r.first) : rnd_in(1, (total - r.first + 3) / 4);
        run_segment(&cfg, &r, &g, (enum seg_feed)(rnd() % SEG_FEED_COUNT), (int)(rnd() % 3), NULL, NULL);
        singles++;

        /* A random cut of the whole clip (every third at grid cuts). */
        if (iter % 3 == 0) {
            share_list kept = {0, 0, NULL};
            int grid = iter % 9 == 0;
            int64_t pos = 0, passes_run = 0;
            int n_seg = 0;
            while (pos < total) {
                int64_t len = rnd_in(1, total < 8 ? total : total / 3 + 1);
                int64_t end = pos + len > total ? total : pos + len;
                if (grid && end < total) {
                    int64_t cut = vsri_chunker_grid_cut(&cfg, total, end);
                    end = cut > pos ? cut : total;
                }
                vsri_chunk_range seg = {total, pos, end - pos};
                run_segment(&cfg, &seg, &g, (enum seg_feed)(rnd() % SEG_FEED_COUNT), (int)(rnd() % 3), &kept,
                            &passes_run);
                pos = end;
                n_seg++;
                segments++;
            }
            share_list want = {0, 0, NULL};
            for (int p = 0; p < g.n; p++)
                for (int k = 0; k < g.p[p].n_keep; k++)
                    share_add(&want, g.p[p].index, &g.p[p].keep[k]);
            qsort(kept.s, (size_t)kept.n, sizeof(*kept.s), share_cmp);
            EXPECT(kept.n == want.n, "%s: %d segments keep %d shares, the whole clip %d", what, n_seg, kept.n,
                   want.n);
            for (int i = 0; i < kept.n && i < want.n; i++) {
                const kept_share *a = &kept.s[i], *b = &want.s[i];
                EXPECT(a->pass == b->pass && a->frame == b->frame && a->position == b->position &&
                           a->weight == b->weight && a->complete == b->complete,
                       "%s: share %d: pass %lld frame %lld, whole clip pass %lld frame %lld", what, i,
                       (long long)a->pass, (long long)a->frame, (long long)b->pass, (long long)b->frame);
            }
            /* Cut on the grid without blending, no pass runs twice. */
            if (grid && !(cfg.mode == VSRI_CHUNK_SEQUENCE && cfg.blend))
                EXPECT(passes_run == g.n, "%s: %d grid segments ran %lld passes, the whole clip %d", what,
                       n_seg, (long long)passes_run, g.n);
            free(kept.s);
            free(want.s);
            cuts++;
        }
        plan_clear(&g);
    }
    fprintf(stderr, "chunker: %d random segments, %d random cuts (%d segments)\n", singles, cuts, segments);
}

/* grid_cut: the nearest frame (ties: the lower) at which the pass that
 * completes frames changes, from the whole-clip plan by brute force. */
static void test_grid_cut(void)
{
    for (int iter = 0; iter < 1500; iter++) {
        vsri_chunker_config cfg;
        random_config(&cfg);
        int64_t total = rnd_in(1, 300);
        char what[200];
        vsri_chunk_range whole = {total, 0, total};
        describe(what, sizeof(what), &cfg, &whole);
        plan_rec g = {0, 0, NULL};
        global_plan(&cfg, total, 1, &g, what);
        int64_t *done_in = calloc((size_t)total, sizeof(int64_t));
        for (int p = 0; p < g.n; p++)
            for (int k = 0; k < g.p[p].n_keep; k++)
                if (g.p[p].keep[k].complete)
                    done_in[g.p[p].keep[k].frame] = g.p[p].index;
        for (int t = 0; t < 8; t++) {
            int64_t near = rnd_in(0, total);
            int64_t best = 0;
            for (int64_t x = 1; x < total; x++)
                if (done_in[x - 1] != done_in[x] &&
                    (best == 0 || llabs(x - near) < llabs(best - near)))
                    best = x;
            int64_t got = vsri_chunker_grid_cut(&cfg, total, near);
            CHECK_MSG(got == best, "%s: grid cut near %lld is %lld, nearest boundary %lld", what,
                      (long long)near, (long long)got, (long long)best);
        }
        free(done_in);
        plan_clear(&g);
    }
}

static void test_segment_errors(void)
{
    vsri_chunker *c = (vsri_chunker *)1;
    vsri_chunker_config seq = {VSRI_CHUNK_SEQUENCE, 8, 2, 0, 1, 0};
    vsri_chunk_span sp;
    const vsri_chunk_range bad[] = {{0, 0, 1}, {10, 10, 1}, {10, 3, 0}, {10, 3, 8}, {10, -1, 2}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(vsri_chunker_new_range(&c, &seq, &bad[i]) == VSR_EINVAL && c == NULL);
        CHECK(vsri_chunker_span(&seq, &bad[i], &sp) == VSR_EINVAL);
    }
    CHECK(strstr(vsr_last_error(), "does not lie in the clip of 10 frames") != NULL);
    CHECK(vsri_chunker_grid_cut(&seq, 0, 0) == VSR_EINVAL);
    CHECK(vsri_chunker_grid_cut(&seq, 10, 11) == VSR_EINVAL);
    vsri_chunker_config bad_cfg = {VSRI_CHUNK_SEQUENCE, 4, 4, 0, 1, 0};
    vsri_chunk_range ok = {20, 5, 5};
    CHECK(vsri_chunker_new_range(&c, &bad_cfg, &ok) == VSR_EINVAL);

    /* N=8, O=2 over 20 frames (chunks at 0, 6, 12): frames 7..9 are kept by
     * [6,14), which the segment needs whole; it ends there. */
    vsri_chunk ch;
    CHECK(vsri_chunker_span(&seq, &(vsri_chunk_range){20, 7, 3}, &sp) == 0);
    CHECK(sp.feed_first == 6 && sp.feed_end == 14 && sp.first_pass == 1 && sp.end_pass == 2);
    CHECK(vsri_chunker_new_range(&c, &seq, &(vsri_chunk_range){20, 7, 3}) == 0);
    CHECK(vsri_chunker_max_held(c) == 8);
    CHECK(vsri_chunker_next(c, 13, 0, &ch) == 0);
    CHECK(vsri_chunker_next(c, 14, 0, &ch) == 1); /* no look-ahead: the next start is known */
    CHECK(ch.index == 1 && ch.inputs[0] == 6 && ch.n_keep == 6 && ch.keep[0].frame == 7 && ch.keep[0].in_range);
    CHECK(!ch.keep[3].in_range && ch.keep[3].frame == 10);
    CHECK(vsri_chunker_next(c, 14, 1, &ch) == VSR_EOF);
    vsri_chunker_free(&c);

    /* An input that ends before the segment's feed does: a clear error. */
    CHECK(vsri_chunker_new_range(&c, &seq, &(vsri_chunk_range){20, 7, 10}) == 0);
    CHECK(vsri_chunker_next(c, 14, 0, &ch) == 1);
    CHECK(vsri_chunker_next(c, 16, 1, &ch) == VSR_ERROR_INPUT);
    CHECK_MSG(strstr(vsr_last_error(), "ended after 16 frames") != NULL, "%s", vsr_last_error());
    vsri_chunker_free(&c);
    /* More frames than planned: the input is not the planned clip. */
    CHECK(vsri_chunker_new_range(&c, &seq, &(vsri_chunk_range){20, 7, 10}) == 0);
    CHECK(vsri_chunker_next(c, 21, 0, &ch) == VSR_ERROR_INPUT);
    CHECK(strstr(vsr_last_error(), "planned with 20 frames") != NULL);
    vsri_chunker_free(&c);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET); /* the error tests log on purpose */
    test_examples();
    test_errors();
    test_cost();
    test_exhaustive();
    test_segment_errors();
    test_grid_cut();
    test_segments();
    return test_result("chunker");
}
