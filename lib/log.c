/* Logging: one process-wide sink (stderr by default), optional per-session
 * sinks, and an optional bridge from FFmpeg's av_log. Calls into sinks are
 * serialised by one mutex, as the header promises.
 *
 * A message goes to the sink it names (vsri_log_to), else to the sink of
 * the work this thread is doing (vsri_log_set_thread_sink: a session's run
 * sets its sink on each of its threads, so decoder, encoder, model and
 * resume messages reach it), else to the process-wide one. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

#include "internal.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static vsr_log_callback global_cb;
static void *global_user;
static int global_level = VSR_LOG_WARNING;
static _Thread_local vsr_log_callback thread_cb;
static _Thread_local void *thread_user;

vsri_log_sink vsri_log_set_thread_sink(vsr_log_callback cb, void *user)
{
    vsri_log_sink before = {thread_cb, thread_user};
    thread_cb = cb;
    thread_user = user;
    return before;
}

void vsri_log_restore_thread_sink(vsri_log_sink before)
{
    thread_cb = before.cb;
    thread_user = before.user;
}

static const char *level_name(int level)
{
    switch (level) {
    case VSR_LOG_ERROR: return "error";
    case VSR_LOG_WARNING: return "warning";
    case VSR_LOG_INFO: return "info";
    default: return "debug";
    }
}

void vsr_log_set_callback(vsr_log_callback cb, void *user)
{
    pthread_mutex_lock(&log_lock);
    global_cb = cb;
    global_user = user;
    pthread_mutex_unlock(&log_lock);
}

void vsr_log_set_level(int level)
{
    pthread_mutex_lock(&log_lock);
    global_level = level;
    pthread_mutex_unlock(&log_lock);
}

static void emit(vsr_log_callback cb, void *user, int level, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    if (!cb) {
        cb = thread_cb;
        user = thread_user;
    }
    pthread_mutex_lock(&log_lock);
    if (level <= global_level) {
        if (!cb) {
            cb = global_cb;
            user = global_user;
        }
        if (cb)
            cb(user, level, msg);
        else
            fprintf(stderr, "libvsr %s: %s\n", level_name(level), msg);
    }
    pthread_mutex_unlock(&log_lock);
}

void vsri_vlog(int level, const char *fmt, va_list ap)
{
    emit(NULL, NULL, level, fmt, ap);
}

void vsri_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(NULL, NULL, level, fmt, ap);
    va_end(ap);
}

void vsri_log_to(vsr_log_callback cb, void *user, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(cb, user, level, fmt, ap);
    va_end(ap);
}

static void ffmpeg_log_bridge(void *avcl, int av_level, const char *fmt, va_list ap)
{
    (void)avcl;
    int level;
    /* FFmpeg's errors are mostly ones libvsr handles and reports in its
     * own words (a damaged packet, a missing moov atom): keep them as
     * detail, visible at info level. */
    if (av_level <= AV_LOG_WARNING)
        level = VSR_LOG_INFO;
    else if (av_level <= AV_LOG_INFO)
        level = VSR_LOG_DEBUG;
    else
        return;
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    vsri_log(level, "ffmpeg: %s", msg);
}

void vsr_log_capture_ffmpeg(int enable)
{
    av_log_set_callback(enable ? ffmpeg_log_bridge : av_log_default_callback);
}
