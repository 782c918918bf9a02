/* Error codes, their names, and the per-thread detail of the last failure. */
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>

#include "internal.h"

static _Thread_local char last_error[1024];

const char *vsr_last_error(void)
{
    return last_error;
}

void vsri_set_last_error(const char *msg)
{
    vsri_strlcpy(last_error, msg ? msg : "", sizeof(last_error));
}

static int verror(int code, int log, const char *fmt, va_list ap)
{
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    /* The caller gets the message from vsr_last_error() with the code;
     * the log only keeps a trace of it for debugging. */
    if (log)
        vsri_log(VSR_LOG_DEBUG, "%s", last_error);
    return code;
}

int vsri_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(code, 1, fmt, ap);
    va_end(ap);
    return code;
}

int vsri_error_quiet(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(code, 0, fmt, ap);
    va_end(ap);
    return code;
}

const char *vsr_strerror(int err)
{
    switch (err) {
    case VSR_OK: return "success";
    case VSR_EOF: return "end of stream";
    case VSR_EAGAIN: return "needs the other side to be called first";
    case VSR_EINVAL: return "invalid argument";
    case VSR_ENOMEM: return "out of memory";
    case VSR_ERROR_MODEL: return "model missing, unreadable or invalid";
    case VSR_ERROR_MODEL_RUN: return "model failed while running";
    case VSR_ERROR_DEVICE: return "device not available";
    case VSR_ERROR_DEVICE_OOM: return "device out of memory";
    case VSR_ERROR_INPUT: return "input unreadable or without video";
    case VSR_ERROR_INPUT_DAMAGED: return "input damaged; output holds every decodable frame";
    case VSR_ERROR_OUTPUT: return "output could not be written";
    case VSR_ERROR_CANCELLED: return "cancelled";
    case VSR_ERROR_LIMIT: return "input exceeds a configured limit";
    case VSR_ERROR_MISMATCH: return "plan, resume journal or segment belongs to another input, model or settings";
    case VSR_ERROR_INCOMPLETE: return "job incomplete: segments are missing";
    case VSR_ERROR_CONFIG: return "invalid configuration";
    case VSR_ERROR_UNSUPPORTED: return "not supported by this build";
    }
    /* errno values and FFmpeg's tags: FFmpeg knows both. The buffer is
     * per thread so the result stays valid as documented. */
    static _Thread_local char buf[128];
    if (av_strerror(err, buf, sizeof(buf)) < 0)
        snprintf(buf, sizeof(buf), "unknown error %d", err);
    return buf;
}
