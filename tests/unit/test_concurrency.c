/*
 * Sessions in parallel threads (also run under ThreadSanitizer in CI):
 *  - 3 sessions in 3 threads, each on a different clip (tiny model, fp32,
 *    threads=1, FFV1 output, pipelined runs, so each run has threads of its
 *    own too) give decoded outputs byte-identical to the same runs done one
 *    after another;
 *  - the same with one vsr_model loaded once and shared by the 3 sessions;
 *  - one tracker shared by 3 sessions on 3 different models (one of them
 *    the real model on a short clip): per-strategy statistics add up to the
 *    overall ones and match each run's frames, while the main thread reads
 *    the statistics during the runs.
 * Worker threads never call CHECK (its counters are plain ints): they store
 * what happened and the main thread checks it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libvsr/vsr.h"
#include "testutil.h"
#include "testvsr.h"

enum { NT = 3 };
static const char *clips[NT] = {"real_h264.mp4", "real_bt601.mkv", "vfr.mkv"};
static const int64_t clip_frames = 10;
static char tmpdir[256];

typedef struct job {
    /* in */
    vsr_session *ses;
    const char *input, *output;
    int64_t max_frames;
    pthread_barrier_t *start;
    /* out */
    int err;
    char msg[512];
    vsr_run_result res;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    vsr_input_settings is;
    vsr_input_settings_default(&is);
    is.max_frames = j->max_frames;
    is.threads = 1;
    vsr_output_settings os;
    vsr_output_settings_default(&os);
    os.codec = "ffv1";
    os.threads = 1;
    vsr_run_settings rs;
    vsr_run_settings_default(&rs);
    rs.input = &is;
    rs.output = &os;
    memset(&j->res, 0, sizeof(j->res));
    j->res.size = sizeof(j->res);
    if (j->start)
        pthread_barrier_wait(j->start);
    j->err = vsr_upscale_file(j->ses, j->input, j->output, &rs, &j->res);
    snprintf(j->msg, sizeof(j->msg), "%s", j->err ? vsr_last_error() : "");
    return NULL;
}

static void run_parallel(job *jobs, int n)
{
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, (unsigned)n);
    pthread_t t[NT];
    for (int i = 0; i < n; i++) {
        jobs[i].start = &b;
        if (pthread_create(&t[i], NULL, run_job, &jobs[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(1);
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&b);
}

static vsr_session *open_session(const char *model_path, vsr_model *shared, vsr_tracker *tr)
{
    vsr_session_settings s;
    vsr_session_settings_default(&s);
    s.model = shared;
    s.tracker = tr;
    vsr_session *ses = NULL;
    int err = model_path ? test_open_session(&ses, &s, model_path, NULL, VSR_PRECISION_FP32)
                         : vsr_session_open(&ses, &s);
    CHECK_MSG(err == 0, "open %s: %s", model_path ? model_path : "(shared)", vsr_last_error());
    return ses;
}

static const char *out_name(const char *tag, int i)
{
    static char bufs[16][1024];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, 1024, "%s/%s-%d.mkv", tmpdir, tag, i);
    return b;
}

static void check_jobs(const char *what, job *jobs, int n, const int64_t *want_frames)
{
    for (int i = 0; i < n; i++) {
        CHECK_MSG(jobs[i].err == 0, "%s, job %d (%s): %s", what, i, jobs[i].input, jobs[i].msg);
        CHECK_MSG(jobs[i].res.frames_written == want_frames[i], "%s, job %d: %lld frames written, expected %lld", what,
                  i, (long long)jobs[i].res.frames_written, (long long)want_frames[i]);
    }
}

static void test_parallel_equals_serial(void)
{
    const char *tiny = test_path("VSR_TEST_MODELS", "tiny-x2.pt");
    int64_t want[NT];
    for (int i = 0; i < NT; i++)
        want[i] = clip_frames;

    /* one after another: the reference */
    job serial[NT];
    memset(serial, 0, sizeof(serial));
    for (int i = 0; i < NT; i++) {
        serial[i].ses = open_session(tiny, NULL, NULL);
        serial[i].input = test_path("VSR_TEST_DATA", clips[i]);
        serial[i].output = out_name("serial", i);
        serial[i].max_frames = clip_frames;
        if (serial[i].ses)
            run_job(&serial[i]);
        else
            serial[i].err = -1;
        vsr_session_close(&serial[i].ses);
    }
    check_jobs("serial", serial, NT, want);

    /* three sessions, three threads */
    job par[NT];
    memset(par, 0, sizeof(par));
    for (int i = 0; i < NT; i++) {
        par[i].ses = open_session(tiny, NULL, NULL);
        par[i].input = serial[i].input;
        par[i].output = out_name("parallel", i);
        par[i].max_frames = clip_frames;
    }
    if (par[0].ses && par[1].ses && par[2].ses) {
        run_parallel(par, NT);
        check_jobs("parallel", par, NT, want);
        for (int i = 0; i < NT; i++) {
            int64_t n = test_compare_videos(serial[i].output, par[i].output);
            CHECK_MSG(n == clip_frames, "parallel run %d (%s) differs from the serial one (%lld)", i, clips[i],
                      (long long)n);
        }
    }
    for (int i = 0; i < NT; i++)
        vsr_session_close(&par[i].ses);

    /* one model, loaded once, shared by three sessions in three threads */
    vsr_model *m = NULL;
    CHECK_MSG(test_open_model(&m, tiny, NULL, VSR_PRECISION_FP32) == 0, "%s", vsr_last_error());
    job shared[NT];
    memset(shared, 0, sizeof(shared));
    for (int i = 0; m && i < NT; i++) {
        shared[i].ses = open_session(NULL, m, NULL);
        shared[i].input = serial[i].input;
        shared[i].output = out_name("shared", i);
        shared[i].max_frames = clip_frames;
    }
    /* the caller's reference can go at once: the sessions hold theirs */
    vsr_model_unref(&m);
    if (shared[0].ses && shared[1].ses && shared[2].ses) {
        run_parallel(shared, NT);
        check_jobs("shared model", shared, NT, want);
        for (int i = 0; i < NT; i++) {
            int64_t n = test_compare_videos(serial[i].output, shared[i].output);
            CHECK_MSG(n == clip_frames, "shared-model run %d (%s) differs from the serial one (%lld)", i, clips[i],
                      (long long)n);
        }
    }
    for (int i = 0; i < NT; i++)
        vsr_session_close(&shared[i].ses);
}

typedef struct poller {
    vsr_tracker *tr;
    atomic_int stop;
    atomic_int reads;
    atomic_int runs_seen_in_flight;
} poller;

static void *poll_stats(void *arg)
{
    poller *p = arg;
    /* at least one round, however soon the runs end: the check that reads
     * happened must not depend on when this thread gets scheduled */
    do {
        vsr_op_stats st = {.size = sizeof(st)};
        vsr_tracker_get_stats(p->tr, VSR_OP_INFERENCE, NULL, &st);
        vsr_tracker_get_stats(p->tr, VSR_OP_DECODE, "tiny-x2", &st);
        vsr_resource_stats rs = {.size = sizeof(rs)};
        vsr_tracker_get_resources(p->tr, &rs);
        int n = vsr_tracker_history_count(p->tr);
        vsr_op_record *r = NULL;
        if (n > 0 && vsr_tracker_history_get(p->tr, n - 1, &r) == 0)
            vsr_free(r);
        /* the runs are listed in flight while they go */
        vsr_op_record **fl = NULL;
        int nf = 0;
        if (vsr_tracker_in_flight(p->tr, &fl, &nf) == 0 && nf > 0)
            atomic_fetch_add(&p->runs_seen_in_flight, 1);
        vsr_free(fl);
        atomic_fetch_add(&p->reads, 1);
        usleep(2000);
    } while (!atomic_load(&p->stop));
    return NULL;
}

static void test_shared_tracker(void)
{
    const char *models[NT] = {test_path("VSR_TEST_MODELS", "tiny-x2.pt"), test_path("VSR_TEST_MODELS", "spatial-rf4-x2.pt"),
                              test_path("VSR_MODELS_DIR", "realesr-animevideov3-x2.pt")};
    const char *names[NT] = {"tiny-x2", "spatial-rf4-x2", "realesr-animevideov3-x2"};
    const int64_t frames[NT] = {clip_frames, clip_frames, 3}; /* the real model on a short clip */
    vsr_tracker *tr = NULL;
    vsr_tracker_settings ts;
    vsr_tracker_settings_default(&ts);
    ts.sampler_interval_ms = 20;
    CHECK(vsr_tracker_open(&tr, &ts) == 0);
    if (!tr)
        return;
    job jobs[NT];
    memset(jobs, 0, sizeof(jobs));
    int ok = 1;
    for (int i = 0; i < NT; i++) {
        jobs[i].ses = open_session(models[i], NULL, tr);
        jobs[i].input = test_path("VSR_TEST_DATA", clips[i]);
        jobs[i].output = out_name("tracked", i);
        jobs[i].max_frames = frames[i];
        ok &= jobs[i].ses != NULL;
    }
    /* the sessions hold references: ours can go now */
    vsr_tracker *mine = vsr_tracker_ref(tr);
    vsr_tracker_unref(&tr);
    tr = mine;
    if (ok) {
        poller p = {.tr = tr};
        pthread_t pt;
        pthread_create(&pt, NULL, poll_stats, &p);
        run_parallel(jobs, NT);
        atomic_store(&p.stop, 1);
        pthread_join(pt, NULL);
        check_jobs("shared tracker", jobs, NT, frames);

        /* per strategy: one run each, with that run's frames */
        for (int i = 0; i < NT; i++) {
            vsr_op_stats run = {.size = sizeof(run)}, inf = {.size = sizeof(inf)}, dec = {.size = sizeof(dec)},
                         enc = {.size = sizeof(enc)};
            vsr_tracker_get_stats(tr, VSR_OP_RUN, names[i], &run);
            vsr_tracker_get_stats(tr, VSR_OP_INFERENCE, names[i], &inf);
            vsr_tracker_get_stats(tr, VSR_OP_DECODE, names[i], &dec);
            vsr_tracker_get_stats(tr, VSR_OP_ENCODE, names[i], &enc);
            fprintf(stderr, "  %-24s run %lld (%lld frames), inference %lld records (%lld frames), decode %lld "
                            "frames, encode %lld frames\n",
                    names[i], (long long)run.count, (long long)run.frames, (long long)inf.count,
                    (long long)inf.frames, (long long)dec.frames, (long long)enc.frames);
            CHECK_MSG(run.count == 1 && run.successes == 1 && run.frames == frames[i], "%s: %lld runs, %lld frames",
                      names[i], (long long)run.count, (long long)run.frames);
            CHECK_MSG(inf.frames == frames[i] && inf.count >= 1 && inf.failures == 0, "%s: inference %lld frames",
                      names[i], (long long)inf.frames);
            CHECK_MSG(dec.frames == frames[i] && enc.frames == frames[i], "%s: decode %lld / encode %lld frames",
                      names[i], (long long)dec.frames, (long long)enc.frames);
        }
        /* and they add up to the totals, for every operation type */
        char **types = NULL;
        int n_types = 0;
        CHECK_EQ_INT(vsr_tracker_list(tr, VSR_LIST_TYPES, &types, &n_types), 0);
        CHECK_MSG(n_types == 8, "%d operation types recorded, expected libvsr's 8 stages", n_types);
        for (int t = 0; t < n_types; t++) {
            vsr_op_stats all = {.size = sizeof(all)};
            vsr_tracker_get_stats(tr, types[t], NULL, &all);
            int64_t count = 0, fr = 0, succ = 0;
            double total = 0;
            for (int i = 0; i < NT; i++) {
                vsr_op_stats st = {.size = sizeof(st)};
                vsr_tracker_get_stats(tr, types[t], names[i], &st);
                count += st.count;
                fr += st.frames;
                succ += st.successes;
                total += st.total_ms;
            }
            CHECK_MSG(all.count == count && all.frames == fr && all.successes == succ,
                      "%s: overall %lld records / %lld frames, strategies sum to %lld / %lld", types[t],
                      (long long)all.count, (long long)all.frames, (long long)count, (long long)fr);
            CHECK_MSG(all.total_ms <= total * (1 + 1e-9) + 1e-9 && all.total_ms >= total * (1 - 1e-9) - 1e-9,
                      "%s: total %.6f ms, strategies sum to %.6f ms", types[t], all.total_ms, total);
        }
        vsr_free(types);
        vsr_op_stats run = {.size = sizeof(run)};
        vsr_tracker_get_stats(tr, VSR_OP_RUN, NULL, &run);
        CHECK_EQ_INT(run.count, NT);
        /* the run records have three distinct run ids */
        uint64_t ids[NT] = {0};
        int nid = 0;
        for (int i = 0; i < vsr_tracker_history_count(tr); i++) {
            vsr_op_record *r = NULL;
            if (vsr_tracker_history_get(tr, i, &r) == 0 && strcmp(r->type, VSR_OP_RUN) == 0 && nid < NT) {
                ids[nid++] = r->run_id;
                /* the run was an operation in flight: it has its memory peak */
                CHECK_MSG(r->peak_rss_bytes > 0, "run record without a peak RSS (%lld)",
                          (long long)r->peak_rss_bytes);
            }
            vsr_free(r);
        }
        CHECK(nid == NT && ids[0] && ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        CHECK(atomic_load(&p.reads) > 0);
        fprintf(stderr, "  the poller read %d times, %d of them with runs in flight\n", atomic_load(&p.reads),
                atomic_load(&p.runs_seen_in_flight));
        vsr_op_record **fl = NULL;
        int nf = -1;
        CHECK(vsr_tracker_in_flight(tr, &fl, &nf) == 0 && nf == 0); /* every run ended */
        vsr_free(fl);
    }
    for (int i = 0; i < NT; i++)
        vsr_session_close(&jobs[i].ses);
    vsr_tracker_unref(&tr);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vsr-test-concurrency-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    vsr_log_set_level(VSR_LOG_ERROR);
    CHECK(test_set_threads(1) == 0);
    test_parallel_equals_serial();
    test_shared_tracker();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_result("concurrency");
}
