/* sysinfo: machine description, process measurements, NVML absence. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testjson.h"
#include "libvsr/vsr.h"
#include "sysinfo.h"
#include "testutil.h"

/* Independent reading of one flag from /proc/cpuinfo's first "flags" line. */
static int cpuinfo_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int found = -1;
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        found = 0;
        char *save = NULL;
        for (char *w = strtok_r(strchr(line, ':') + 1, " \t\n", &save); w;
             w = strtok_r(NULL, " \t\n", &save))
            if (strcmp(w, flag) == 0)
                found = 1;
        break;
    }
    free(line);
    fclose(f);
    return found;
}

static void *idle_thread(void *arg)
{
    pthread_mutex_t *m = arg;
    pthread_mutex_lock(m); /* waits until main releases it */
    pthread_mutex_unlock(m);
    return NULL;
}

static void test_sysinfo(void)
{
    vsri_sysinfo s;
    CHECK_EQ_INT(vsri_sysinfo_get(&s), 0);
    CHECK(vsri_sysinfo_get(NULL) == VSR_EINVAL);
    CHECK(s.cpu_model[0] != 0);
    CHECK(s.logical_cores >= 1);
    CHECK(s.online_cores >= 1);
    CHECK(s.logical_cores <= s.online_cores);
    CHECK(s.ram_total_bytes > (int64_t)64 << 20);
    CHECK(s.ram_available_bytes > 0 && s.ram_available_bytes <= s.ram_total_bytes);
    CHECK(strncmp(s.os, "Linux ", 6) == 0);
    CHECK_EQ_INT(s.has_avx2, cpuinfo_has_flag("avx2") == 1);
    CHECK_EQ_INT(s.has_avx512f, cpuinfo_has_flag("avx512f") == 1);
    CHECK_EQ_INT(s.has_avx512_bf16, cpuinfo_has_flag("avx512_bf16") == 1);
    CHECK_EQ_INT(s.has_amx_bf16, cpuinfo_has_flag("amx_bf16") == 1);
    CHECK_EQ_INT(s.has_amx_tile, cpuinfo_has_flag("amx_tile") == 1);
    fprintf(stderr, "cpu '%s', %d/%d cores, %lld MiB RAM (%lld available), avx2 %d avx512f %d, %s\n",
            s.cpu_model, s.logical_cores, s.online_cores, (long long)(s.ram_total_bytes >> 20),
            (long long)(s.ram_available_bytes >> 20), s.has_avx2, s.has_avx512f, s.os);
    if (s.nvml_available) {
        CHECK(s.gpu_count >= 0);
        fprintf(stderr, "NVML: %d GPU(s)\n", s.gpu_count);
    } else {
        CHECK_EQ_INT(s.gpu_count, 0);
        CHECK(s.nvml_error[0] != 0);
        fprintf(stderr, "NVML: %s\n", s.nvml_error);
    }
    /* a missing GPU is no error: the thread's last error is left alone */
    vsri_set_last_error("before");
    CHECK_EQ_INT(vsri_sysinfo_get(&s), 0);
    CHECK(strcmp(vsr_last_error(), "before") == 0);

    json_t *tree = vsri_sysinfo_json(&s);
    CHECK(tree != NULL);
    char *text = tree ? json_dumps(tree, 0) : NULL;
    json_decref(tree);
    char err[256] = "";
    json_t *j = text ? tj_parse(text, strlen(text), err, sizeof(err)) : NULL;
    CHECK_MSG(j != NULL, "%s in %s", err, text ? text : "(nothing)");
    if (j) {
        CHECK(strcmp(tj_str(json_object_get(j, "cpu_model"), ""), s.cpu_model) == 0);
        int64_t v = 0;
        CHECK(tj_int(json_object_get(j, "logical_cores"), &v) == 0 && v == s.logical_cores);
        CHECK(tj_int(json_object_get(j, "ram_total_bytes"), &v) == 0 && v == s.ram_total_bytes);
        const json_t *simd = json_object_get(j, "simd");
        CHECK(tj_bool(json_object_get(simd, "avx2"), -1) == s.has_avx2);
        CHECK(tj_bool(json_object_get(simd, "amx_tile"), -1) == s.has_amx_tile);
        CHECK(tj_bool(json_object_get(j, "nvml_available"), -1) == s.nvml_available);
        CHECK_EQ_INT(tj_count(json_object_get(j, "gpus")), s.gpu_count);
        json_decref(j);
    }
    free(text);
}

static void test_nvml(void)
{
    vsri_nvml *n = NULL;
    int err = vsri_nvml_open(&n);
    if (err < 0) {
        /* the expected case on a machine without an NVIDIA driver */
        CHECK(err == VSR_ERROR_UNSUPPORTED);
        CHECK(n == NULL);
        CHECK(strstr(vsr_last_error(), "NVML") != NULL);
        vsri_nvml_close(&n); /* accepts &NULL */
        vsri_nvml_probe_ctx ctx = {NULL, 0};
        int64_t used = -1, total = -1, peak = -1;
        double util = -1;
        CHECK(vsri_nvml_probe(&ctx, &used, &total, &peak, &util) < 0);
        return;
    }
    int count = vsri_nvml_device_count(n);
    CHECK(count >= 0);
    if (count > 0) {
        int64_t used = -1, total = -1;
        double util = -2;
        CHECK_EQ_INT(vsri_nvml_query(n, 0, &used, &total, &util), 0);
        CHECK(total > 0 && used >= 0 && used <= total);
    }
    vsri_nvml_close(&n);
    CHECK(n == NULL);
}

static void test_process(void)
{
    int64_t rss = vsri_proc_rss_bytes();
    int64_t peak = vsri_proc_peak_rss_bytes();
    CHECK(rss > 0);
    CHECK(peak >= rss);

    /* touch 64 MiB: both grow */
    size_t big = 64u << 20;
    char *p = malloc(big);
    CHECK(p != NULL);
    if (p) {
        memset(p, 1, big);
        CHECK(vsri_proc_rss_bytes() >= rss + (int64_t)(60u << 20));
        CHECK(vsri_proc_peak_rss_bytes() >= rss + (int64_t)(60u << 20));
        free(p);
    }

    int64_t cpu0 = vsri_proc_cpu_ns();
    CHECK(cpu0 > 0);
    /* Spin until the kernel's own per-process CPU clock says 50 ms were
     * used (wall time would depend on how loaded the machine is), then
     * /proc's figure must agree to within its 10 ms tick. */
    volatile double x = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    do {
        for (int i = 0; i < 100000; i++)
            x += i * 0.5;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) < 50000000LL);
    int64_t used = vsri_proc_cpu_ns() - cpu0;
    CHECK_MSG(used >= 35000000LL, "a busy loop of 50 ms CPU time showed %lld ns in /proc", (long long)used);

    int threads = vsri_proc_thread_count();
    CHECK(threads >= 1);
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&m);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, idle_thread, &m), 0);
    CHECK_EQ_INT(vsri_proc_thread_count(), threads + 1);
    pthread_mutex_unlock(&m);
    pthread_join(th, NULL);
    /* A joined thread can stay counted a moment: pthread_join returns when
     * the kernel clears the thread id, before it finishes removing the
     * thread. Wait for that (bounded by minutes that only a count that
     * never drops would use up), rather than assume it is instant. */
    int now = vsri_proc_thread_count();
    for (int waited = 0; now != threads && waited < 5 * 60 * 1000; waited++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        now = vsri_proc_thread_count();
    }
    CHECK_EQ_INT(now, threads);
}

int main(void)
{
    vsr_log_set_level(VSR_LOG_QUIET);
    test_sysinfo();
    test_nvml();
    test_process();
    return test_result("sysinfo");
}
