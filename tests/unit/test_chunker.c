/* Tests of temporal chunk planning (lib/chunker.c): worked examples, then
 * every small configuration and clip length, fed in several ways. */
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

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET); /* the error tests log on purpose */
    test_examples();
    test_errors();
    test_cost();
    test_exhaustive();
    return test_result("chunker");
}
