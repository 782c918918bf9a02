/*
 * Scale-out jobs (lib/job.c, job_plan.c, job_stitch.c; include/libvsr/job.h).
 *
 * - Cuts: for random chunk plans, clip lengths and segment sizes, the plan's
 *   cuts tile the clip, lie on the chunk grid (no pass is computed by two
 *   segments unless blending shares it), and each is the grid cut nearest
 *   the asked size.
 * - vsr_upscale_range at cuts anywhere (mid-chunk, mid-batch, mid-GOP of an
 *   open-GOP H.264 input) gives exactly the frames and pts of a whole-file
 *   run, for a per-frame, a window and a recurrent sequence model.
 * - The plan file: a round trip; a re-plan of the same job keeps it; of
 *   another job (tile) is refused naming the setting; damaged plans
 *   (duplicate key, wrong type, segments that do not agree with the chunk
 *   plan) are refused naming the file and the key.
 * - Commits: stitch before every segment is committed is
 *   VSR_ERROR_INCOMPLETE naming the missing ones; run_segment is
 *   idempotent; a cancel, a full disk (RLIMIT_FSIZE) leave nothing
 *   committed and no attempt directory, and a retry commits; a lost commit
 *   race is a success with the same checksum and "nondeterministic workers"
 *   with another; the stitched output equals a whole-file run frame for
 *   frame; a changed input and a session with other settings are refused.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "job_internal.h"
#include "libvsr/vsr.h"
#include "testutil.h"
#include "testvsr.h"


static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Entries of dir whose name starts with prefix. */
static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

static uint32_t rng_state = 20240611;
static int rnd(int lo, int hi) /* [lo, hi] */
{
    rng_state = rng_state * 1103515245u + 12345u;
    return lo + (int)((rng_state >> 8) % (uint32_t)(hi - lo + 1));
}

/* ---- cuts ---------------------------------------------------------------- */

static void test_cuts(void)
{
    for (int iter = 0; iter < 3000; iter++) {
        vsri_chunker_config cfg = {0};
        cfg.mode = (vsri_chunk_mode)rnd(0, 2);
        if (cfg.mode == VSRI_CHUNK_PER_FRAME) {
            cfg.batch = rnd(1, 6);
        } else if (cfg.mode == VSRI_CHUNK_WINDOW) {
            cfg.window = 2 * rnd(0, 3) + 1;
            cfg.batch = rnd(1, 5);
        } else {
            cfg.length = rnd(2, 20);
            cfg.overlap = rnd(0, cfg.length - 1);
            cfg.blend = rnd(0, 3) == 0;
        }
        int64_t total = rnd(1, 200), size = rnd(1, 60), *cuts = NULL, n = 0;
        int err = vsri_plan_cut(&cfg, total, size, &cuts, &n);
        CHECK_MSG(err == 0 && n >= 1, "iter %d: cut failed: %s", iter, vsr_last_error());
        if (err < 0)
            continue;
        CHECK(cuts[0] == 0 && cuts[n] == total);
        for (int64_t k = 0; k < n; k++) {
            CHECK_MSG(cuts[k] < cuts[k + 1], "iter %d: cuts not increasing", iter);
            if (k + 1 < n) {
                /* on the grid, and the boundary nearest first + size that lies after first */
                CHECK_MSG(vsri_chunker_grid_cut(&cfg, total, cuts[k + 1]) == cuts[k + 1],
                          "iter %d: cut %lld is not a grid boundary", iter, (long long)cuts[k + 1]);
                int64_t nearest = vsri_chunker_grid_cut(&cfg, total, cuts[k] + size);
                CHECK_MSG(nearest <= cuts[k] || nearest == cuts[k + 1],
                          "iter %d: segment %lld ends at %lld, the nearest grid cut to %lld is %lld", iter,
                          (long long)k, (long long)cuts[k + 1], (long long)(cuts[k] + size), (long long)nearest);
                /* neither segment computes a pass for the other (a cross-fade is shared by design) */
                vsri_chunk_range a = {total, cuts[k], cuts[k + 1] - cuts[k]}, b = {total, cuts[k + 1], 0};
                b.count = cuts[k + 2] - cuts[k + 1];
                vsri_chunk_span sa, sb;
                CHECK(vsri_chunker_span(&cfg, &a, &sa) == 0 && vsri_chunker_span(&cfg, &b, &sb) == 0);
                if (!cfg.blend)
                    CHECK_MSG(sa.end_pass <= sb.first_pass, "iter %d: segments %lld and %lld share pass %lld", iter,
                              (long long)k, (long long)k + 1, (long long)sb.first_pass);
            }
        }
        free(cuts);
    }
    int64_t *cuts = NULL, n = 0;
    vsri_chunker_config cfg = {.mode = VSRI_CHUNK_PER_FRAME, .batch = 1};
    CHECK(vsri_plan_cut(&cfg, 0, 10, &cuts, &n) == VSR_EINVAL && !cuts);
    CHECK(vsri_plan_cut(&cfg, 10, 0, &cuts, &n) == VSR_EINVAL && !cuts);
    /* a clip shorter than a chunk is one pass: one segment whatever the size */
    cfg = (vsri_chunker_config){.mode = VSRI_CHUNK_SEQUENCE, .length = 16, .overlap = 4};
    CHECK(vsri_plan_cut(&cfg, 10, 3, &cuts, &n) == 0 && n == 1 && cuts[1] == 10);
    free(cuts);
}

/* ---- ranges equal the whole-file run ------------------------------------- */

static vsr_session *open_session(const char *model, int batch, int chunk, int overlap, int tile)
{
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.batch = batch;
    s.chunk = chunk;
    s.overlap = overlap;
    s.tile = tile;
    vsr_session *ses = NULL;
    int err = test_open_session(&ses, &s, test_model(model), NULL, VSR_PRECISION_FP32);
    CHECK_MSG(err == 0, "%s: %s", model, vsr_last_error());
    return ses;
}

static void lossless(vsr_run_settings *rs, vsr_output_settings *os)
{
    vsr_output_settings_default(os);
    os->codec = "ffv1";
    os->pix_fmt = "gbrp16le"; /* the model's output, nearly exactly */
    vsr_run_settings_default(rs);
    rs->output = os;
}

/* The decoded frames of the parts, one after another, equal the whole's. */
static int64_t compare_parts(const char *whole, const char *const *parts, int n_parts)
{
    vsr_input *w = NULL;
    if (vsr_input_open(&w, whole, NULL) < 0)
        return -1;
    int64_t frames = 0;
    int same = 1;
    for (int i = 0; i < n_parts && same; i++) {
        vsr_input *p = NULL;
        if (vsr_input_open(&p, parts[i], NULL) < 0) {
            same = 0;
            break;
        }
        vsr_frame *fp = NULL;
        while (same && vsr_input_read_frame(p, &fp) == 0) {
            vsr_frame *fw = NULL;
            same = vsr_input_read_frame(w, &fw) == 0 && vsr_frame_pts(fw) == vsr_frame_pts(fp);
            for (int pl = 0; same && pl < vsr_frame_planes(fp); pl++) {
                size_t row = (size_t)vsr_frame_plane_width(fp, pl) * (vsr_frame_bit_depth(fp) > 8 ? 2 : 1);
                for (int y = 0; same && y < vsr_frame_plane_height(fp, pl); y++)
                    same = !memcmp(vsr_frame_data(fp, pl) + y * vsr_frame_linesize(fp, pl),
                                   vsr_frame_data(fw, pl) + y * vsr_frame_linesize(fw, pl), row);
            }
            if (!same)
                fprintf(stderr, "part %d differs from the whole at frame %lld\n", i, (long long)frames);
            frames++;
            vsr_frame_unref(&fw);
            vsr_frame_unref(&fp);
        }
        vsr_input_close(&p);
    }
    vsr_frame *f = NULL;
    if (same && vsr_input_read_frame(w, &f) != VSR_EOF) /* the parts cover the whole */
        same = 0;
    vsr_frame_unref(&f);
    vsr_input_close(&w);
    return same ? frames : -1;
}

static void test_ranges(void)
{
    const char *clip = test_data("scale_streams.mkv"); /* 96 frames, open GOPs of 12 */
    /* off every grid: mid-GOP, mid-batch, inside a chunk's kept frames */
    const int64_t cuts[] = {0, 7, 33, 50, 83, 96};
    const int n_parts = (int)(sizeof(cuts) / sizeof(cuts[0])) - 1;
    const struct {
        const char *model;
        int batch, chunk, overlap;
    } cases[] = {
        {"tiny-x2.pt", 3, VSR_AUTO, VSR_AUTO},
        {"window5-center-x2.pt", 2, VSR_AUTO, VSR_AUTO},
        {"recurrent-x2.pt", 1, 16, 4},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        vsr_session *ses = open_session(cases[c].model, cases[c].batch, cases[c].chunk, cases[c].overlap, 0);
        if (!ses)
            continue;
        vsr_run_settings rs;
        vsr_output_settings os;
        lossless(&rs, &os);
        const char *whole = test_tmp_file("whole.mkv");
        CHECK_MSG(vsr_upscale_file(ses, clip, whole, &rs, NULL) == 0, "%s", vsr_last_error());
        char names[8][64];
        const char *parts[8];
        for (int i = 0; i < n_parts; i++) {
            snprintf(names[i], sizeof(names[i]), "part%d.mkv", i);
            parts[i] = strdup(test_tmp_file(names[i]));
            vsr_run_result res = {.size = sizeof(res)};
            int err = vsr_upscale_range(ses, clip, parts[i], cuts[i], cuts[i + 1] - cuts[i], &rs, &res);
            CHECK_MSG(err == 0 && res.frames_written == cuts[i + 1] - cuts[i], "%s part %d: %s", cases[c].model, i,
                      vsr_last_error());
            /* it read only what its passes need: far less than the clip up to its end */
            CHECK_MSG(res.frames_decoded < cuts[i + 1] - cuts[i] + 40, "%s part %d decoded %lld frames",
                      cases[c].model, i, (long long)res.frames_decoded);
        }
        int64_t n = compare_parts(whole, parts, n_parts);
        CHECK_MSG(n == 96, "%s: the parts differ from the whole-file run (%lld)", cases[c].model, (long long)n);
        fprintf(stderr, "job: %s: %d parts cut at 7, 33, 50, 83 equal the whole run: %s\n", cases[c].model, n_parts,
                n == 96 ? "yes" : "NO");
        for (int i = 0; i < n_parts; i++)
            free((void *)parts[i]);

        /* arguments */
        CHECK(vsr_upscale_range(ses, clip, test_tmp_file("x.mkv"), -1, 5, &rs, NULL) == VSR_EINVAL);
        CHECK(vsr_upscale_range(ses, clip, test_tmp_file("x.mkv"), 90, 7, &rs, NULL) == VSR_EINVAL);
        CHECK(strstr(vsr_last_error(), "96 frames") != NULL);
        CHECK(vsr_upscale_range(ses, clip, test_tmp_file("x.mkv"), 0, 0, &rs, NULL) == VSR_EINVAL);
        /* the part is first_frame and frames: a start/end range besides is refused, not ignored */
        rs.start_frame = 3;
        CHECK(vsr_upscale_range(ses, clip, test_tmp_file("x.mkv"), 0, 5, &rs, NULL) == VSR_EINVAL);
        CHECK(strstr(vsr_last_error(), "start_frame") != NULL);
        rs.start_frame = -1;
        CHECK(!exists(test_tmp_file("x.mkv")));
        vsr_session_close(&ses);
    }
}

/* ---- the plan file ------------------------------------------------------- */

static int plan_job(vsr_session *ses, const char *input, const char *output, int64_t segment_frames,
                    const char *plan)
{
    vsr_run_settings rs;
    vsr_output_settings os;
    lossless(&rs, &os);
    vsr_job_settings js;
    vsr_job_settings_default(&js);
    js.segment_frames = segment_frames;
    return vsr_job_plan(ses, input, output, &rs, &js, plan);
}

/* Write a changed copy of a plan: edit(j) changes the JSON. */
static const char *variant(const char *plan, const char *name, void (*edit)(json_t *j))
{
    json_error_t je;
    json_t *j = json_load_file(plan, 0, &je);
    CHECK(j != NULL);
    if (!j)
        return NULL;
    edit(j);
    const char *path = test_tmp_file(name);
    CHECK(json_dump_file(j, path, JSON_INDENT(1)) == 0);
    json_decref(j);
    return path;
}

static void edit_type(json_t *j)
{
    json_object_set_new(j, "segment_frames", json_string("20"));
}

static void edit_segment(json_t *j)
{
    json_t *s = json_array_get(json_object_get(j, "segments"), 1);
    json_object_set_new(s, "feed_first", json_integer(json_integer_value(json_object_get(s, "feed_first")) + 1));
}

static void edit_format(json_t *j)
{
    json_object_set_new(j, "format", json_string("libvsr-resume"));
}

static void test_plan_file(void)
{
    const char *clip = test_data("scale_streams.mkv");
    vsr_session *ses = open_session("recurrent-x2.pt", 1, 16, 4, 0);
    if (!ses)
        return;
    const char *plan = strdup(test_tmp_file("plan.json")), *out = strdup(test_tmp_file("planned.mkv"));
    int err = plan_job(ses, clip, out, 30, plan);
    CHECK_MSG(err == 0, "%s", vsr_last_error());
    vsri_plan *p = NULL, *again = NULL;
    CHECK_MSG(vsri_plan_read(&p, plan) == 0, "%s", vsr_last_error());
    if (p) {
        /* what the planning session and settings give now is what was written */
        vsr_run_settings rs;
        vsr_output_settings os;
        lossless(&rs, &os);
        vsr_job_settings js;
        vsr_job_settings_default(&js);
        js.segment_frames = 30;
        char what[96] = "";
        CHECK(vsri_plan_build(&again, ses, clip, out, &rs, &js, plan, NULL) == 0);
        CHECK_MSG(again && vsri_plan_differs(p, again, what, sizeof(what)) == 0, "the plan read back differs: %s",
                  what);
        CHECK(again && again->n_seg == p->n_seg && p->n_seg == 4);
        for (int64_t k = 0; again && k < p->n_seg && k < again->n_seg; k++)
            CHECK(!memcmp(&p->seg[k], &again->seg[k], sizeof(p->seg[k])));
        CHECK(p->stitch == VSR_STITCH_COPY && p->chunker.mode == VSRI_CHUNK_SEQUENCE && p->chunker.length == 16 &&
              p->precision == VSR_PRECISION_FP32 && p->out.threads > 0 && p->index->frames == 96);
        vsri_plan_free(&again);
    }
    /* a job runs the whole input: a start/end range is refused, not ignored */
    {
        vsr_run_settings rs;
        vsr_output_settings os;
        lossless(&rs, &os);
        rs.end_us = 1000000;
        vsr_job_settings js;
        vsr_job_settings_default(&js);
        js.segment_frames = 30;
        const char *ranged = test_tmp_file("ranged.json");
        CHECK(vsr_job_plan(ses, clip, out, &rs, &js, ranged) == VSR_EINVAL);
        CHECK(strstr(vsr_last_error(), "end_us") != NULL && !exists(ranged));
    }
    /* the same job again: kept as it is (its id too) */
    CHECK(plan_job(ses, clip, out, 30, plan) == 0);
    CHECK(vsri_plan_read(&again, plan) == 0 && p && again && !strcmp(p->id, again->id));
    vsri_plan_free(&again);
    vsri_plan_free(&p);
    /* another job in its place: refused, naming what differs */
    vsr_session *tiled = open_session("recurrent-x2.pt", 1, 16, 4, 32);
    CHECK(plan_job(tiled, clip, out, 30, plan) == VSR_ERROR_MISMATCH);
    CHECK_MSG(strstr(vsr_last_error(), "the tile size changed") != NULL, "%s", vsr_last_error());
    CHECK(plan_job(ses, clip, out, 40, plan) == VSR_ERROR_MISMATCH);
    CHECK_MSG(strstr(vsr_last_error(), "the segments changed") != NULL, "%s", vsr_last_error());
    vsr_session_close(&tiled);

    /* damaged plans: refused, naming the file and the key */
    char *text = NULL;
    size_t len = 0;
    CHECK(vsri_read_file(plan, 64 << 20, &text, &len) == 0);
    if (text) {
        const char *dup = test_tmp_file("dup.json");
        FILE *f = fopen(dup, "w");
        fprintf(f, "{\"segment_frames\": 5,%s", text + 1);
        fclose(f);
        vsr_job *job = NULL;
        CHECK(vsr_job_open(&job, dup) == VSR_ERROR_CONFIG && !job);
        CHECK_MSG(strstr(vsr_last_error(), "dup.json") && strstr(vsr_last_error(), "duplicate") &&
                      strstr(vsr_last_error(), "segment_frames"),
                  "%s", vsr_last_error());
        free(text);
    }
    const char *path;
    vsr_job *job = NULL;
    if ((path = variant(plan, "type.json", edit_type))) {
        CHECK(vsr_job_open(&job, path) == VSR_ERROR_CONFIG);
        CHECK_MSG(strstr(vsr_last_error(), "type.json") && strstr(vsr_last_error(), "'segment_frames' must be an integer"),
                  "%s", vsr_last_error());
    }
    if ((path = variant(plan, "seg.json", edit_segment))) {
        CHECK(vsr_job_open(&job, path) == VSR_ERROR_CONFIG);
        CHECK_MSG(strstr(vsr_last_error(), "seg.json") && strstr(vsr_last_error(), "segments[1]"), "%s",
                  vsr_last_error());
    }
    if ((path = variant(plan, "format.json", edit_format))) {
        CHECK(vsr_job_open(&job, path) == VSR_ERROR_CONFIG);
        CHECK_MSG(strstr(vsr_last_error(), "not a libvsr plan"), "%s", vsr_last_error());
    }
    CHECK(vsr_job_open(&job, test_tmp_file("none.json")) == VSR_ERR(ENOENT));
    CHECK(!job);
    free((void *)plan);
    free((void *)out);
    vsr_session_close(&ses);
}

/* ---- segments: commits, failures, the stitch ----------------------------- */

static void test_commits(void)
{
    const char *clip = test_data("scale_streams.mkv");
    vsr_session *planner = open_session("tiny-x2.pt", 2, VSR_AUTO, VSR_AUTO, 0);
    if (!planner)
        return;
    char plan[1024], out[1024], work[1100], ref[1024];
    snprintf(plan, sizeof(plan), "%s", test_tmp_file("job.json"));
    snprintf(out, sizeof(out), "%s", test_tmp_file("job.mkv"));
    snprintf(work, sizeof(work), "%s.work", plan);
    snprintf(ref, sizeof(ref), "%s", test_tmp_file("job-ref.mkv"));
    CHECK_MSG(plan_job(planner, clip, out, 32, plan) == 0, "%s", vsr_last_error());
    vsr_run_settings rs;
    vsr_output_settings os;
    lossless(&rs, &os);
    CHECK(vsr_upscale_file(planner, clip, ref, &rs, NULL) == 0);

    vsr_job *job = NULL;
    vsr_session *ses = NULL;
    CHECK_MSG(vsr_job_open(&job, plan) == 0, "%s", vsr_last_error());
    if (!job)
        return;
    CHECK_MSG(vsr_job_open_session(job, NULL, NULL, NULL, &ses) == 0, "%s", vsr_last_error());
    vsr_job_info info = {.size = sizeof(info)};
    CHECK(vsr_job_get_info(job, &info) == 0 && info.segments == 3 && info.committed == 0 && info.frames == 96 &&
          info.stitch == VSR_STITCH_COPY);
    vsr_job_segment seg = {.size = sizeof(seg)};
    CHECK(vsr_job_get_segment(job, 1, &seg) == 0 && seg.first_frame == 32 && seg.frames == 32 && !seg.committed &&
          seg.seek_frame <= seg.feed_first);
    CHECK(vsr_job_get_segment(job, 3, &seg) == VSR_EINVAL);

    CHECK(vsr_job_stitch(job, NULL) == VSR_ERROR_INCOMPLETE);
    CHECK_MSG(strstr(vsr_last_error(), "segments 0, 1, 2"), "%s", vsr_last_error());
    vsr_run_result res = {.size = sizeof(res)};
    CHECK_MSG(vsr_job_run_segment(job, ses, 1, &res) == 0, "%s", vsr_last_error());
    CHECK(res.frames_written == 32 && res.frames_decoded > 0);
    CHECK(exists(test_tmp_file("job.json.work/seg-1/manifest.json")) && count_entries(work, "seg-1.attempt") == 0);
    /* idempotent: committed once, then returns at once */
    res = (vsr_run_result){.size = sizeof(res)};
    CHECK(vsr_job_run_segment(job, ses, 1, &res) == 0 && res.frames_written == 32 && res.frames_decoded == 0);
    CHECK(vsr_job_get_info(job, &info) == 0 && info.committed == 1 && info.frames_done == 32);
    CHECK(vsr_job_stitch(job, NULL) == VSR_ERROR_INCOMPLETE);
    CHECK_MSG(strstr(vsr_last_error(), "2 of 3 segments are not committed: segments 0, 2"), "%s", vsr_last_error());
    CHECK(!exists(out) && count_entries(test_tmpdir, "job.mkv") == 0);

    /* a lost race: the same result is a success, another one is not */
    vsri_plan *p = NULL;
    CHECK(vsri_plan_read(&p, plan) == 0);
    vsri_manifest m;
    if (p && vsri_segment_committed(p, 1, &m) == 1) {
        char dir[1200];
        snprintf(dir, sizeof(dir), "%s/seg-1.attempt-test-1-0", work);
        for (int other = 0; other < 2; other++) {
            CHECK(mkdir(dir, 0777) == 0);
            char file[1300];
            snprintf(file, sizeof(file), "%s/%s", dir, m.file);
            FILE *f = fopen(file, "w"); /* its contents do not matter: the checksum decides */
            fputs("x", f);
            fclose(f);
            vsri_manifest mine = m;
            mine.crc ^= (uint32_t)other;
            int err = vsri_segment_commit(p, 1, dir, &mine);
            CHECK_MSG(other ? err == VSR_ERROR_MISMATCH : err == 0, "race %d: %d %s", other, err, vsr_last_error());
            if (other)
                CHECK_MSG(strstr(vsr_last_error(), "nondeterministic workers"), "%s", vsr_last_error());
            CHECK(!exists(dir) && exists(test_tmp_file("job.json.work/seg-1/manifest.json")));
        }
        CHECK(vsri_segment_committed(p, 1, &m) == 1); /* untouched */
    }
    vsri_plan_free(&p);

    /* a cancel: nothing committed, nothing left */
    vsr_session_cancel(ses);
    CHECK(vsr_job_run_segment(job, ses, 0, NULL) == VSR_ERROR_CANCELLED);
    CHECK(!exists(test_tmp_file("job.json.work/seg-0")) && count_entries(work, "seg-0.") == 0);

    /* a full disk (a file size limit: the write fails with EFBIG) */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 200 << 10; /* the segment's video needs about 1.5 MB */
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int err = vsr_job_run_segment(job, ses, 0, NULL);
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK_MSG(err == VSR_ERROR_OUTPUT, "disk full: %d %s", err, vsr_last_error());
    CHECK(!exists(test_tmp_file("job.json.work/seg-0")) && count_entries(work, "seg-0.") == 0);
    /* and a retry commits */
    CHECK_MSG(vsr_job_run_segment(job, ses, 0, NULL) == 0, "%s", vsr_last_error());
    CHECK_MSG(vsr_job_run_segment(job, ses, 2, NULL) == 0, "%s", vsr_last_error());
    CHECK(vsr_job_get_info(job, &info) == 0 && info.committed == 3 && info.frames_done == 96);

    /* a session with other settings is refused, naming the setting */
    vsr_session *tiled = open_session("tiny-x2.pt", 2, VSR_AUTO, VSR_AUTO, 32);
    CHECK(vsr_job_run_segment(job, tiled, 0, NULL) == 0); /* committed: nothing to check */
    vsr_session_close(&tiled);

    res = (vsr_run_result){.size = sizeof(res)};
    CHECK_MSG(vsr_job_stitch(job, &res) == 0 && res.frames_written == 96, "%s", vsr_last_error());
    CHECK(!exists(work) && exists(out));
    CHECK_MSG(test_compare_videos(out, ref) == 96, "the stitched output differs from the whole-file run");
    vsr_session_close(&ses);
    vsr_job_close(&job);

    /* a changed input and other settings are refused */
    char copy[1024], cmd[2200];
    snprintf(copy, sizeof(copy), "%s", test_tmp_file("copy.mkv"));
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", clip, copy);
    CHECK(system(cmd) == 0);
    CHECK(plan_job(planner, copy, test_tmp_file("copy-out.mkv"), 32, test_tmp_file("copy.json")) == 0);
    CHECK(vsr_job_open(&job, test_tmp_file("copy.json")) == 0);
    if (job) {
        tiled = open_session("tiny-x2.pt", 2, VSR_AUTO, VSR_AUTO, 32);
        CHECK(vsr_job_run_segment(job, tiled, 0, NULL) == VSR_ERROR_MISMATCH);
        CHECK_MSG(strstr(vsr_last_error(), "tile size is 32, the plan's 0"), "%s", vsr_last_error());
        vsr_session_close(&tiled);
        CHECK(vsr_job_open_session(job, "cuda", NULL, NULL, &ses) == VSR_ERROR_MISMATCH && !ses);
        CHECK_MSG(strstr(vsr_last_error(), "made for cpu"), "%s", vsr_last_error());
        struct timeval tv[2] = {{1000000000, 0}, {1000000000, 0}};
        CHECK(utimes(copy, tv) == 0);
        CHECK(vsr_job_open_session(job, NULL, NULL, NULL, &ses) == VSR_ERROR_MISMATCH && !ses);
        CHECK(vsr_job_run_segment(job, planner, 0, NULL) == VSR_ERROR_MISMATCH);
        CHECK_MSG(strstr(vsr_last_error(), "input file") && strstr(vsr_last_error(), "changed since the plan") &&
                      strstr(vsr_last_error(), "modification time"),
                  "%s", vsr_last_error());
        CHECK(count_entries(test_tmp_file("copy.json.work"), "seg-") == 0);
        vsr_job_close(&job);
    }
    vsr_session_close(&planner);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET);
    test_set_threads(1);
    if (test_tmpdir_make("job") < 0)
        return 1;
    test_cuts();
    test_ranges();
    test_plan_file();
    test_commits();
    if (!test_failures) /* a failure leaves its files to look at */
        test_tmpdir_remove();
    return test_result("job");
}
