/*
 * Description of the machine (for reports and vsr_recommend_settings) and
 * the process-level measurements the tracker's resource sampler uses.
 * Linux only: everything is read from /proc, sched_getaffinity and, for
 * NVIDIA GPUs, NVML loaded at run time with dlopen (no link dependency).
 */
#ifndef LIBVSR_SYSINFO_H
#define LIBVSR_SYSINFO_H

#include <stdint.h>

#include <jansson.h>

#include "internal.h"

#define VSRI_SYSINFO_MAX_GPUS 16

typedef struct vsri_gpu_info {
    int index;
    char name[96];
    int64_t memory_total_bytes;
    int64_t memory_used_bytes;
    double util_percent;          /* -1 when NVML could not tell */
} vsri_gpu_info;

typedef struct vsri_sysinfo {
    char cpu_model[128];          /* "model name" of /proc/cpuinfo; "unknown" if absent */
    int logical_cores;            /* CPUs this process may run on (sched_getaffinity) */
    int online_cores;             /* CPUs online in the machine */
    int64_t ram_total_bytes;      /* MemTotal; -1 if unknown */
    int64_t ram_available_bytes;  /* MemAvailable; -1 if unknown */
    /* SIMD features from the "flags" line of /proc/cpuinfo (1 = present). */
    int has_avx2;
    int has_avx512f;
    int has_avx512_bf16;
    int has_amx_bf16;
    int has_amx_tile;
    char os[200];                 /* uname: "Linux 6.1.0-18-amd64 x86_64" */
    /* NVML: nvml_available 0 when libnvidia-ml.so.1 is missing or fails to
     * initialise (then gpu_count is 0 and nvml_error says why). */
    int nvml_available;
    char nvml_error[128];
    int gpu_count;
    vsri_gpu_info gpus[VSRI_SYSINFO_MAX_GPUS];
} vsri_sysinfo;

/* Fill *out. Parts that cannot be read are left at their "unknown" values;
 * only a NULL argument is an error. */
int vsri_sysinfo_get(vsri_sysinfo *out);

/* *s as one JSON object (NULL when out of memory). */
json_t *vsri_sysinfo_json(const vsri_sysinfo *s);

/* Process measurements. Each returns -1 when the value cannot be read. */
int64_t vsri_proc_rss_bytes(void);      /* resident set now (/proc/self/statm) */
int64_t vsri_proc_peak_rss_bytes(void); /* kernel's high-water mark VmHWM (/proc/self/status) */
int64_t vsri_proc_cpu_ns(void);         /* user + system CPU time of all threads */
int vsri_proc_thread_count(void);       /* entries in /proc/self/task */

/*
 * NVML, loaded on first use. A handle holds one nvmlInit reference (NVML
 * counts them) and is released with vsri_nvml_close(). Opening fails with
 * VSR_ERROR_UNSUPPORTED and a message when the library or a driver is missing.
 */
typedef struct vsri_nvml vsri_nvml;
int vsri_nvml_open(vsri_nvml **out);
void vsri_nvml_close(vsri_nvml **n);
int vsri_nvml_device_count(vsri_nvml *n);
/* Memory use and utilisation of one device (util -1 if not supported). */
int vsri_nvml_query(vsri_nvml *n, int index, int64_t *used_bytes, int64_t *total_bytes,
                    double *util_percent);

/*
 * A vsri_device_probe (tracker_internal.h) backed by NVML: ctx is a
 * vsri_nvml_probe_ctx. NVML has no peak counter, so *peak_bytes is the
 * current use and the tracker keeps the maximum of its samples; a CUDA
 * allocator probe, which knows the true peak, should be preferred.
 */
typedef struct vsri_nvml_probe_ctx {
    vsri_nvml *nvml;
    int device_index;
} vsri_nvml_probe_ctx;
int vsri_nvml_probe(void *ctx, int64_t *used_bytes, int64_t *total_bytes, int64_t *peak_bytes,
                    double *gpu_util_percent);

#endif /* LIBVSR_SYSINFO_H */
