/*
 * Process-wide inference settings: libtorch's CPU thread pool, TF32 and
 * cuDNN's benchmark mode. The values live in libtorch. libvsr's own
 * forward passes use one thread per core until the application configures
 * another count (libtorch's own default can be a single thread, which
 * would halve an embedder's speed on two cores); TF32 and cuDNN are left
 * as libtorch has them until vsr_process_configure().
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "process.h"
#include "sysinfo.h"
#include "torch_shim.h"

/* Threads asked for by the last vsr_process_configure() (0: never called).
 * libtorch's OpenMP pool keeps its size per calling thread, so each
 * forward pass applies it to its own thread (vsri_process_prepare_thread). */
static atomic_int wanted_threads;
static pthread_mutex_t configure_lock = PTHREAD_MUTEX_INITIALIZER;

void vsr_process_settings_default(vsr_process_settings *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->size = sizeof(*s);
    s->threads = 0;
    s->cuda_tf32 = 0;
    s->cudnn_benchmark = 1;
}

static int cores(void)
{
    static atomic_int known; /* read once: each forward pass asks */
    int n = atomic_load(&known);
    if (n > 0)
        return n;
    vsri_sysinfo si;
    n = vsri_sysinfo_get(&si) < 0 || si.logical_cores <= 0 ? 1 : si.logical_cores; /* CPUs this process may use */
    atomic_store(&known, n);
    return n;
}

/* The thread count libvsr's forward passes use. */
static int threads_in_use(void)
{
    int n = atomic_load(&wanted_threads);
    return n > 0 ? n : cores();
}

int vsr_process_configure(const vsr_process_settings *settings)
{
    if (!settings)
        return vsri_error(VSR_EINVAL, "vsr_process_configure: no settings");
    vsr_process_settings s;
    vsr_process_settings_default(&s);
    int err = VSRI_SETTINGS_IN(&s, settings, "vsr_process_settings");
    if (err < 0)
        return err;
    if (s.threads < 0 || s.threads > 1024)
        return vsri_error(VSR_EINVAL, "threads %d must be 0 (one per core) to 1024", s.threads);
    if ((s.cuda_tf32 != 0 && s.cuda_tf32 != 1) || (s.cudnn_benchmark != 0 && s.cudnn_benchmark != 1))
        return vsri_error(VSR_EINVAL, "cuda_tf32 (%d) and cudnn_benchmark (%d) must be 0 or 1", s.cuda_tf32,
                          s.cudnn_benchmark);
    int threads = s.threads > 0 ? s.threads : cores();
    char msg[512];
    pthread_mutex_lock(&configure_lock);
    int rc = vsrt_process_configure(threads, s.cuda_tf32, s.cudnn_benchmark, msg, sizeof(msg));
    if (rc == VSRT_OK)
        atomic_store(&wanted_threads, threads);
    pthread_mutex_unlock(&configure_lock);
    if (rc != VSRT_OK)
        return vsri_error(VSR_EINVAL, "vsr_process_configure: libtorch refused: %s", msg);
    return 0;
}

int vsri_process_threads(void)
{
    return threads_in_use();
}

int vsr_process_get_settings(vsr_process_settings *out)
{
    int err = vsri_result_check(out, "vsr_process_settings");
    if (err < 0)
        return err;
    vsr_process_settings s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    int threads;
    vsrt_process_get(&threads, &s.cuda_tf32, &s.cudnn_benchmark);
    s.threads = vsri_process_threads();
    return VSRI_RESULT_OUT(out, &s, "vsr_process_settings");
}

void vsri_process_prepare_thread(void)
{
    vsrt_use_threads(threads_in_use());
}
