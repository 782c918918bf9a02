/* Machine description and process measurements (Linux /proc, NVML via dlopen). */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "jsontext.h"
#include "sysinfo.h"

/* ---------------------------------------------------------------- /proc */

/* Value of a "Key:   123 kB" line of a /proc status-style file, in bytes. */
static int64_t proc_kb_field(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t key_len = strlen(key);
    char line[256];
    int64_t result = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
            long long kb;
            if (sscanf(line + key_len + 1, "%lld", &kb) == 1)
                result = (int64_t)kb * 1024;
            break;
        }
    }
    fclose(f);
    return result;
}

int64_t vsri_proc_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    long long size_pages, resident_pages;
    int n = fscanf(f, "%lld %lld", &size_pages, &resident_pages);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    if (n != 2 || page <= 0)
        return -1;
    return (int64_t)resident_pages * page;
}

int64_t vsri_proc_peak_rss_bytes(void)
{
    return proc_kb_field("/proc/self/status", "VmHWM");
}

int64_t vsri_proc_cpu_ns(void)
{
    /* The process CPU clock sums every thread, live and exited, with
     * nanosecond resolution (getrusage only has microseconds). */
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int vsri_proc_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            count++;
    }
    closedir(d);
    return count;
}

/* CPUs in this process's affinity mask; the mask may be larger than the
 * default cpu_set_t on big machines, so grow it until the kernel accepts. */
static int affinity_cpu_count(void)
{
    for (int ncpus = 1024; ncpus <= (1 << 16); ncpus *= 2) {
        cpu_set_t *set = CPU_ALLOC(ncpus);
        if (!set)
            return -1;
        size_t bytes = CPU_ALLOC_SIZE(ncpus);
        CPU_ZERO_S(bytes, set);
        if (sched_getaffinity(0, bytes, set) == 0) {
            int count = CPU_COUNT_S(bytes, set);
            CPU_FREE(set);
            return count;
        }
        int e = errno;
        CPU_FREE(set);
        if (e != EINVAL)
            return -1;
    }
    return -1;
}

/* True when word appears as a whole space-separated word in list. */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n) {
        int starts = p == list || isspace((unsigned char)p[-1]);
        int ends = p[n] == 0 || isspace((unsigned char)p[n]);
        if (starts && ends)
            return 1;
    }
    return 0;
}

static void read_cpuinfo(vsri_sysinfo *s)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    int have_model = 0, have_flags = 0;
    /* The first processor's entry is enough: all cores of one machine
     * report the same model and flags. */
    while ((!have_model || !have_flags) && getline(&line, &cap, f) > 0) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        value[strcspn(value, "\n")] = 0;
        if (!have_model && strncmp(line, "model name", 10) == 0) {
            vsri_strlcpy(s->cpu_model, value, sizeof(s->cpu_model));
            have_model = 1;
        } else if (!have_flags && strncmp(line, "flags", 5) == 0) {
            s->has_avx2 = has_word(value, "avx2");
            s->has_avx512f = has_word(value, "avx512f");
            s->has_avx512_bf16 = has_word(value, "avx512_bf16");
            s->has_amx_bf16 = has_word(value, "amx_bf16");
            s->has_amx_tile = has_word(value, "amx_tile");
            have_flags = 1;
        }
    }
    free(line);
    fclose(f);
}

/* ---------------------------------------------------------------- NVML */

/* The few NVML declarations used, written from its documented C ABI. */
typedef int nvml_return;
#define NVML_OK 0
typedef struct nvml_device_opaque *nvml_device;
typedef struct nvml_utilization {
    unsigned int gpu;
    unsigned int memory;
} nvml_utilization;
typedef struct nvml_memory {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvml_memory;

typedef nvml_return (*nvml_init_fn)(void);
typedef nvml_return (*nvml_shutdown_fn)(void);
typedef nvml_return (*nvml_device_get_count_fn)(unsigned int *count);
typedef nvml_return (*nvml_device_get_handle_fn)(unsigned int index, nvml_device *device);
typedef nvml_return (*nvml_device_get_utilization_fn)(nvml_device device, nvml_utilization *u);
typedef nvml_return (*nvml_device_get_memory_fn)(nvml_device device, nvml_memory *m);
typedef nvml_return (*nvml_device_get_name_fn)(nvml_device device, char *name, unsigned int length);
typedef const char *(*nvml_error_string_fn)(nvml_return r);

static struct {
    int loaded;
    char error[128];
    nvml_init_fn init;
    nvml_shutdown_fn shutdown;
    nvml_device_get_count_fn get_count;
    nvml_device_get_handle_fn get_handle;
    nvml_device_get_utilization_fn get_utilization;
    nvml_device_get_memory_fn get_memory;
    nvml_device_get_name_fn get_name;      /* optional */
    nvml_error_string_fn error_string;     /* optional */
} nvml_lib;
static pthread_once_t nvml_once = PTHREAD_ONCE_INIT;

struct vsri_nvml {
    int initialised;
};

static void nvml_load(void)
{
    /* The library stays loaded for the life of the process: unloading a
     * driver library while another thread may still use it is not safe. */
    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        vsri_strlcpy(nvml_lib.error, "libnvidia-ml.so.1 not found (no NVIDIA driver)",
                     sizeof(nvml_lib.error));
        return;
    }
    nvml_lib.init = (nvml_init_fn)dlsym(h, "nvmlInit_v2");
    nvml_lib.shutdown = (nvml_shutdown_fn)dlsym(h, "nvmlShutdown");
    nvml_lib.get_count = (nvml_device_get_count_fn)dlsym(h, "nvmlDeviceGetCount_v2");
    nvml_lib.get_handle = (nvml_device_get_handle_fn)dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
    nvml_lib.get_utilization =
        (nvml_device_get_utilization_fn)dlsym(h, "nvmlDeviceGetUtilizationRates");
    nvml_lib.get_memory = (nvml_device_get_memory_fn)dlsym(h, "nvmlDeviceGetMemoryInfo");
    nvml_lib.get_name = (nvml_device_get_name_fn)dlsym(h, "nvmlDeviceGetName");
    nvml_lib.error_string = (nvml_error_string_fn)dlsym(h, "nvmlErrorString");
    if (!nvml_lib.init || !nvml_lib.shutdown || !nvml_lib.get_count || !nvml_lib.get_handle ||
        !nvml_lib.get_utilization || !nvml_lib.get_memory) {
        vsri_strlcpy(nvml_lib.error, "libnvidia-ml.so.1 lacks a required function (driver too old)",
                     sizeof(nvml_lib.error));
        return;
    }
    nvml_lib.loaded = 1;
}

static const char *nvml_describe(nvml_return r)
{
    const char *s = nvml_lib.error_string ? nvml_lib.error_string(r) : NULL;
    return s ? s : "unknown NVML error";
}

int vsri_nvml_open(vsri_nvml **out)
{
    *out = NULL;
    pthread_once(&nvml_once, nvml_load);
    if (!nvml_lib.loaded)
        return vsri_error_quiet(VSR_ERROR_UNSUPPORTED, "NVML not available: %s", nvml_lib.error);
    nvml_return r = nvml_lib.init();
    if (r != NVML_OK)
        return vsri_error_quiet(VSR_ERROR_UNSUPPORTED, "NVML not available: nvmlInit failed: %s",
                                nvml_describe(r));
    vsri_nvml *n = calloc(1, sizeof(*n));
    if (!n) {
        nvml_lib.shutdown();
        return vsri_error(VSR_ENOMEM, "out of memory for the NVML handle");
    }
    n->initialised = 1;
    *out = n;
    return 0;
}

void vsri_nvml_close(vsri_nvml **n)
{
    if (!n || !*n)
        return;
    if ((*n)->initialised)
        nvml_lib.shutdown();
    free(*n);
    *n = NULL;
}

int vsri_nvml_device_count(vsri_nvml *n)
{
    unsigned int count = 0;
    if (!n || nvml_lib.get_count(&count) != NVML_OK)
        return 0;
    return (int)count;
}

static int nvml_handle(vsri_nvml *n, int index, nvml_device *dev)
{
    if (!n || index < 0)
        return vsri_error_quiet(VSR_EINVAL, "NVML: invalid device index %d", index);
    nvml_return r = nvml_lib.get_handle((unsigned)index, dev);
    if (r != NVML_OK)
        return vsri_error_quiet(VSR_ERROR_DEVICE, "NVML: device %d: %s", index, nvml_describe(r));
    return 0;
}

int vsri_nvml_query(vsri_nvml *n, int index, int64_t *used_bytes, int64_t *total_bytes,
                    double *util_percent)
{
    nvml_device dev;
    int err = nvml_handle(n, index, &dev);
    if (err < 0)
        return err;
    nvml_memory mem;
    nvml_return r = nvml_lib.get_memory(dev, &mem);
    if (r != NVML_OK)
        return vsri_error_quiet(VSR_ERROR_DEVICE, "NVML: memory of device %d: %s", index,
                                nvml_describe(r));
    if (used_bytes)
        *used_bytes = (int64_t)mem.used;
    if (total_bytes)
        *total_bytes = (int64_t)mem.total;
    if (util_percent) {
        nvml_utilization u;
        /* Some devices (e.g. in MIG mode) do not report utilisation. */
        *util_percent = nvml_lib.get_utilization(dev, &u) == NVML_OK ? (double)u.gpu : -1.0;
    }
    return 0;
}

int vsri_nvml_probe(void *ctx, int64_t *used_bytes, int64_t *total_bytes, int64_t *peak_bytes,
                    double *gpu_util_percent)
{
    vsri_nvml_probe_ctx *c = ctx;
    int64_t used = -1;
    int err = vsri_nvml_query(c ? c->nvml : NULL, c ? c->device_index : -1, &used, total_bytes,
                              gpu_util_percent);
    if (err < 0)
        return err;
    if (used_bytes)
        *used_bytes = used;
    if (peak_bytes)
        *peak_bytes = used;
    return 0;
}

/* ---------------------------------------------------------------- sysinfo */

int vsri_sysinfo_get(vsri_sysinfo *out)
{
    if (!out)
        return vsri_error(VSR_EINVAL, "vsri_sysinfo_get: NULL argument");
    memset(out, 0, sizeof(*out));
    vsri_strlcpy(out->cpu_model, "unknown", sizeof(out->cpu_model));
    read_cpuinfo(out);

    out->logical_cores = affinity_cpu_count();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    out->online_cores = online > 0 ? (int)online : -1;
    if (out->logical_cores <= 0)
        out->logical_cores = out->online_cores;

    out->ram_total_bytes = proc_kb_field("/proc/meminfo", "MemTotal");
    out->ram_available_bytes = proc_kb_field("/proc/meminfo", "MemAvailable");

    struct utsname u;
    if (uname(&u) == 0)
        snprintf(out->os, sizeof(out->os), "%s %s %s", u.sysname, u.release, u.machine);
    else
        vsri_strlcpy(out->os, "unknown", sizeof(out->os));

    vsri_nvml *nvml = NULL;
    char saved_error[sizeof(out->nvml_error) + 256];
    vsri_strlcpy(saved_error, vsr_last_error(), sizeof(saved_error));
    if (vsri_nvml_open(&nvml) < 0) {
        /* Not a failure of this call, the machine has no usable GPU: keep
         * the caller's last error as it was. */
        vsri_strlcpy(out->nvml_error, vsr_last_error(), sizeof(out->nvml_error));
        vsri_set_last_error(saved_error);
        return 0;
    }
    out->nvml_available = 1;
    int count = vsri_nvml_device_count(nvml);
    for (int i = 0; i < count && out->gpu_count < VSRI_SYSINFO_MAX_GPUS; i++) {
        vsri_gpu_info *g = &out->gpus[out->gpu_count];
        g->index = i;
        vsri_strlcpy(g->name, "unknown", sizeof(g->name));
        nvml_device dev;
        if (nvml_lib.get_name && nvml_lib.get_handle((unsigned)i, &dev) == NVML_OK)
            nvml_lib.get_name(dev, g->name, sizeof(g->name));
        g->name[sizeof(g->name) - 1] = 0;
        if (vsri_nvml_query(nvml, i, &g->memory_used_bytes, &g->memory_total_bytes,
                            &g->util_percent) < 0) {
            g->memory_used_bytes = g->memory_total_bytes = -1;
            g->util_percent = -1;
        }
        out->gpu_count++;
    }
    vsri_nvml_close(&nvml);
    return 0;
}

json_t *vsri_sysinfo_json(const vsri_sysinfo *s)
{
    int oom = 0;
    json_t *o = json_object(), *simd = json_object(), *gpus = json_array();
    if (!o || !simd || !gpus) {
        json_decref(o);
        json_decref(simd);
        json_decref(gpus);
        return NULL;
    }
    vsri_jtext_set(o, "cpu_model", vsri_jtext_string(s->cpu_model), &oom);
    vsri_jtext_set(o, "logical_cores", json_integer(s->logical_cores), &oom);
    vsri_jtext_set(o, "online_cores", json_integer(s->online_cores), &oom);
    vsri_jtext_set(o, "ram_total_bytes", json_integer(s->ram_total_bytes), &oom);
    vsri_jtext_set(o, "ram_available_bytes", json_integer(s->ram_available_bytes), &oom);
    vsri_jtext_set(simd, "avx2", json_boolean(s->has_avx2), &oom);
    vsri_jtext_set(simd, "avx512f", json_boolean(s->has_avx512f), &oom);
    vsri_jtext_set(simd, "avx512_bf16", json_boolean(s->has_avx512_bf16), &oom);
    vsri_jtext_set(simd, "amx_bf16", json_boolean(s->has_amx_bf16), &oom);
    vsri_jtext_set(simd, "amx_tile", json_boolean(s->has_amx_tile), &oom);
    vsri_jtext_set(o, "simd", simd, &oom);
    vsri_jtext_set(o, "os", vsri_jtext_string(s->os), &oom);
    vsri_jtext_set(o, "nvml_available", json_boolean(s->nvml_available), &oom);
    vsri_jtext_set(o, "nvml_error", vsri_jtext_string(s->nvml_available ? NULL : s->nvml_error), &oom);
    for (int i = 0; i < s->gpu_count; i++) {
        const vsri_gpu_info *g = &s->gpus[i];
        json_t *gpu = json_object();
        if (!gpu || json_array_append_new(gpus, gpu) != 0) {
            oom = 1;
            break;
        }
        vsri_jtext_set(gpu, "index", json_integer(g->index), &oom);
        vsri_jtext_set(gpu, "name", vsri_jtext_string(g->name), &oom);
        vsri_jtext_set(gpu, "memory_total_bytes", json_integer(g->memory_total_bytes), &oom);
        vsri_jtext_set(gpu, "memory_used_bytes", json_integer(g->memory_used_bytes), &oom);
        vsri_jtext_set(gpu, "util_percent", vsri_jtext_number(g->util_percent < 0 ? NAN : g->util_percent), &oom);
    }
    vsri_jtext_set(o, "gpus", gpus, &oom);
    if (oom) {
        json_decref(o);
        return NULL;
    }
    return o;
}
