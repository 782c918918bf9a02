/* Test helpers that use libvsr's public API: comparing decoded videos and
 * capturing the library's warnings. Include after testutil.h. */
#ifndef VSR_TESTVSR_H
#define VSR_TESTVSR_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <libvsr/vsr.h>

/* Decoded pictures of two files are byte-identical, frame by frame, and
 * carry the same pts. Returns the frame count, or -1 on a difference. */
static inline int64_t test_compare_videos(const char *a, const char *b)
{
    vsr_input *ia = NULL, *ib = NULL;
    if (vsr_input_open(&ia, a, NULL) < 0 || vsr_input_open(&ib, b, NULL) < 0) {
        fprintf(stderr, "cannot open %s or %s: %s\n", a, b, vsr_last_error());
        vsr_input_close(&ia);
        return -1;
    }
    int64_t n = 0;
    for (;;) {
        vsr_frame *fa = NULL, *fb = NULL;
        int ea = vsr_input_read_frame(ia, &fa), eb = vsr_input_read_frame(ib, &fb);
        if (ea != eb) {
            n = -1;
        } else if (ea == 0) {
            int same = vsr_frame_width(fa) == vsr_frame_width(fb) && vsr_frame_height(fa) == vsr_frame_height(fb) &&
                       vsr_frame_format(fa) == vsr_frame_format(fb) && vsr_frame_pts(fa) == vsr_frame_pts(fb);
            for (int p = 0; same && p < vsr_frame_planes(fa); p++) {
                size_t row = (size_t)vsr_frame_plane_width(fa, p) * (vsr_frame_bit_depth(fa) > 8 ? 2 : 1);
                for (int y = 0; same && y < vsr_frame_plane_height(fa, p); y++)
                    same = !memcmp(vsr_frame_data(fa, p) + y * vsr_frame_linesize(fa, p),
                                   vsr_frame_data(fb, p) + y * vsr_frame_linesize(fb, p), row);
            }
            n = same ? n + 1 : -1;
        }
        vsr_frame_unref(&fa);
        vsr_frame_unref(&fb);
        if (ea != 0 || n < 0)
            break;
    }
    vsr_input_close(&ia);
    vsr_input_close(&ib);
    return n;
}

/* Intra-op threads for the whole test program (process-wide, as in
 * libvsr): one thread keeps the tests' results and load independent of
 * the machine. */
static inline int test_set_threads(int n)
{
    vsr_process_settings p;
    vsr_process_settings_default(&p);
    p.threads = n;
    return vsr_process_configure(&p);
}

/* Open a model (device NULL = the CPU). Returns vsr_model_open()'s code. */
static inline int test_open_model(vsr_model **m, const char *path, const char *device, vsr_precision p)
{
    vsr_model_settings ms;
    vsr_model_settings_default(&ms);
    ms.path = path;
    if (device)
        ms.device = device;
    ms.precision = p;
    return vsr_model_open(m, &ms);
}

/* Open a session with settings s on a model opened from path just for it
 * (the session holds the model's only reference). Returns the first error. */
static inline int test_open_session(vsr_session **ses, vsr_session_settings *s, const char *path,
                                    const char *device, vsr_precision p)
{
    *ses = NULL;
    vsr_model *m = NULL;
    int err = test_open_model(&m, path, device, p);
    if (err < 0)
        return err;
    s->model = m;
    err = vsr_session_open(ses, s);
    s->model = NULL;
    vsr_model_unref(&m);
    return err;
}

/* Warnings and errors the library logs, collected for checks on them. */
static pthread_mutex_t test_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char test_log[16384];

static inline void test_log_cb(void *user, int level, const char *msg)
{
    (void)user;
    pthread_mutex_lock(&test_log_lock);
    size_t n = strlen(test_log);
    if (level <= VSR_LOG_WARNING && n + strlen(msg) + 2 < sizeof(test_log))
        snprintf(test_log + n, sizeof(test_log) - n, "%s\n", msg);
    pthread_mutex_unlock(&test_log_lock);
}

static inline void test_log_clear(void)
{
    pthread_mutex_lock(&test_log_lock);
    test_log[0] = 0;
    pthread_mutex_unlock(&test_log_lock);
}

#endif
