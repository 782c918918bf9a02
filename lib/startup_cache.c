/*
 * The start-up cache (see startup_cache.h).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "internal.h"
#include "jsontext.h"
#include "startup_cache.h"

#define CACHE_FORMAT "libvsr-startup-cache"
#define CACHE_VERSION 1
#define CACHE_MAX_BYTES (64 * 1024)

void vsri_sha256_hex(const void *data, size_t len, char hex[65])
{
    uint8_t digest[32];
    memset(digest, 0, sizeof(digest));
    struct AVSHA *sha = av_sha_alloc();
    if (sha && av_sha_init(sha, 256) == 0) {
        av_sha_update(sha, data, len);
        av_sha_final(sha, digest);
    }
    av_free(sha);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* $VSR_CACHE_DIR, $XDG_CACHE_HOME/libvsr or ~/.cache/libvsr; -1 if none. */
static int cache_dir(char *buf, size_t cap)
{
    const char *dir = getenv("VSR_CACHE_DIR");
    if (dir && *dir)
        return snprintf(buf, cap, "%s", dir) < (int)cap ? 0 : -1;
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && xdg[0] == '/') /* the XDG spec: a relative value is ignored */
        return snprintf(buf, cap, "%s/libvsr", xdg) < (int)cap ? 0 : -1;
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home || !*home)
        return -1;
    return snprintf(buf, cap, "%s/.cache/libvsr", home) < (int)cap ? 0 : -1;
}

/* The value of the first "key<spaces>: value" line of /proc/cpuinfo. */
static void cpuinfo_field(const char *const *keys, char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char *line = NULL;
    size_t n = 0;
    while (!out[0] && getline(&line, &n, f) > 0) {
        for (const char *const *k = keys; *k && !out[0]; k++) {
            size_t kl = strlen(*k);
            if (strncmp(line, *k, kl) != 0 || (line[kl] != ' ' && line[kl] != '\t' && line[kl] != ':'))
                continue;
            const char *v = strchr(line, ':');
            if (!v)
                continue;
            v++;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%s", v);
            out[strcspn(out, "\n")] = 0;
        }
    }
    free(line);
    fclose(f);
}

/* The machine part of the key: what the measured speeds depend on. */
static json_t *machine_key(int *oom)
{
    json_t *m = json_object();
    if (!m) {
        *oom = 1;
        return NULL;
    }
    static const char *const model_keys[] = {"model name", "Model", "cpu model", NULL};
    static const char *const flag_keys[] = {"flags", "Features", NULL};
    char cpu[256], flags[8192], sha[65];
    cpuinfo_field(model_keys, cpu, sizeof(cpu));
    cpuinfo_field(flag_keys, flags, sizeof(flags));
    vsri_sha256_hex(flags, strlen(flags), sha);
    vsri_jtext_set(m, "cpu", vsri_jtext_string(cpu), oom);
    vsri_jtext_set(m, "cpu_flags_sha256", json_string(sha), oom);
    vsri_jtext_set(m, "online_cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)), oom);
    vsri_jtext_set(m, "libvsr", vsri_jtext_string(vsr_version_string()), oom);
    vsri_jtext_set(m, "build", vsri_jtext_string(vsr_build_info()), oom);
    return m;
}

/* The whole key of a model file and thread count; NULL if out of memory
 * or the file cannot be examined. */
static json_t *full_key(const char *model_path, int threads)
{
    struct stat st;
    if (stat(model_path, &st) != 0)
        return NULL;
    char real[PATH_MAX];
    if (!realpath(model_path, real))
        snprintf(real, sizeof(real), "%s", model_path);
    int oom = 0;
    json_t *key = json_object(), *model = json_object();
    if (!key || !model) {
        json_decref(key);
        json_decref(model);
        return NULL;
    }
    vsri_jtext_set(model, "path", vsri_jtext_string(real), &oom);
    vsri_jtext_set(model, "size", json_integer((json_int_t)st.st_size), &oom);
    vsri_jtext_set(model, "mtime_ns",
                   json_integer((json_int_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec), &oom);
    vsri_jtext_set(key, "machine", machine_key(&oom), &oom);
    vsri_jtext_set(key, "model", model, &oom);
    vsri_jtext_set(key, "threads", json_integer(threads), &oom);
    if (oom) {
        json_decref(key);
        return NULL;
    }
    return key;
}

/* dir/startup-<hash>.json: one file per machine, model path and thread
 * count, so a changed model file replaces its entry rather than adding one. */
static int cache_file(const json_t *key, char *dir, size_t dircap, char *file, size_t cap)
{
    if (cache_dir(dir, dircap) < 0)
        return -1;
    json_t *name_key = json_pack("{sOsOsO}", "machine", json_object_get(key, "machine"), "path",
                                 json_object_get(json_object_get(key, "model"), "path"), "threads",
                                 json_object_get(key, "threads"));
    char *text = name_key ? json_dumps(name_key, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(name_key);
    if (!text)
        return -1;
    char sha[65];
    vsri_sha256_hex(text, strlen(text), sha);
    free(text);
    return snprintf(file, cap, "%s/startup-%.16s.json", dir, sha) < (int)cap ? 0 : -1;
}

/* Checks of a cache file's choice; a message naming the key in why. */
static int read_choice(const json_t *c, vsri_startup_choice *out, char *why, size_t cap)
{
    char got[96];
    if (!json_is_object(c)) {
        vsri_jtext_describe(c, got, sizeof(got));
        snprintf(why, cap, "'choice' must be an object, got %s", got);
        return -1;
    }
    const json_t *p = json_object_get(c, "precision");
    const char *ps = json_string_value(p);
    if (!ps || (strcmp(ps, "fp32") != 0 && strcmp(ps, "bf16") != 0)) {
        vsri_jtext_describe(p, got, sizeof(got));
        snprintf(why, cap, "'choice.precision' must be \"fp32\" or \"bf16\", got %s", got);
        return -1;
    }
    out->precision = ps[0] == 'f' ? VSR_PRECISION_FP32 : VSR_PRECISION_BF16;
    static const char *const names[] = {"bytes_per_pixel", "ns_per_pixel", "fp32_ns_per_pixel",
                                        "bf16_ns_per_pixel"};
    double *fields[] = {&out->bytes_per_pixel, &out->ns_per_pixel, &out->fp32_ns_per_pixel,
                        &out->bf16_ns_per_pixel};
    for (int i = 0; i < 4; i++) {
        const json_t *v = json_object_get(c, names[i]);
        double d = json_number_value(v);
        /* the first two size tiles and chunks: they must be usable */
        if (!json_is_number(v) || !isfinite(d) || (i < 2 ? d <= 0 : d < -1)) {
            vsri_jtext_describe(v, got, sizeof(got));
            snprintf(why, cap, "'choice.%s' must be a %s number, got %s", names[i], i < 2 ? "positive" : "finite",
                     got);
            return -1;
        }
        *fields[i] = d;
    }
    const json_t *sha = json_object_get(c, "card_sha256");
    const char *ss = json_string_value(sha);
    if (!ss || strlen(ss) != 64 || strspn(ss, "0123456789abcdef") != 64) {
        vsri_jtext_describe(sha, got, sizeof(got));
        snprintf(why, cap, "'choice.card_sha256' must be 64 hex digits, got %s", got);
        return -1;
    }
    memcpy(out->card_sha256, ss, 65);
    return 0;
}

int vsri_startup_cache_get(const char *model_path, int threads, vsri_startup_choice *out, char *file,
                           size_t cap)
{
    if (cap)
        file[0] = 0;
    json_t *key = full_key(model_path, threads);
    char dir[PATH_MAX];
    if (!key || cache_file(key, dir, sizeof(dir), file, cap) < 0) {
        json_decref(key);
        vsri_log(VSR_LOG_INFO, "start-up cache: no cache directory (set VSR_CACHE_DIR or HOME)");
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    int err = vsri_read_file(file, CACHE_MAX_BYTES, &text, &len);
    if (err < 0) {
        if (err == VSR_ERR(ENOENT) || err == VSR_ERR(ENOTDIR)) /* no such file (or directory) */
            vsri_log(VSR_LOG_INFO, "start-up cache: no entry yet ('%s')", file);
        else
            vsri_log(VSR_LOG_WARNING, "start-up cache '%s' cannot be read (%s): ignored, measuring again", file,
                     vsr_last_error());
        json_decref(key);
        return 0;
    }
    char why[320] = "", jerr[256] = "";
    json_t *doc = vsri_jtext_load(text, len, 0, jerr, sizeof(jerr));
    free(text);
    const json_t *format = json_object_get(doc, "format"), *version = json_object_get(doc, "version");
    vsri_startup_choice c;
    memset(&c, 0, sizeof(c));
    int found = 0;
    if (!doc) {
        snprintf(why, sizeof(why), "not valid JSON: %s", jerr);
    } else if (!json_is_object(doc) || !json_is_string(format) ||
               strcmp(json_string_value(format), CACHE_FORMAT) != 0) {
        snprintf(why, sizeof(why), "'format' is not \"" CACHE_FORMAT "\"");
    } else if (!json_is_integer(version) || json_integer_value(version) != CACHE_VERSION) {
        /* another libvsr's format: not damage, just not ours to read */
        vsri_log(VSR_LOG_INFO, "start-up cache '%s' has another format version: measuring again", file);
    } else if (!json_is_object(json_object_get(doc, "key"))) {
        snprintf(why, sizeof(why), "'key' must be an object");
    } else if (read_choice(json_object_get(doc, "choice"), &c, why, sizeof(why)) == 0) {
        const json_t *k = json_object_get(doc, "key");
        if (!json_equal(json_object_get(k, "machine"), json_object_get(key, "machine")))
            vsri_log(VSR_LOG_INFO, "start-up cache '%s': the machine or the libvsr build changed: measuring again",
                     file);
        else if (!json_equal(json_object_get(k, "model"), json_object_get(key, "model")))
            vsri_log(VSR_LOG_INFO, "start-up cache '%s': the model file changed: measuring again", file);
        else if (!json_equal(json_object_get(k, "threads"), json_object_get(key, "threads")))
            vsri_log(VSR_LOG_INFO, "start-up cache '%s': another thread count: measuring again", file);
        else if (!json_equal(k, key))
            vsri_log(VSR_LOG_INFO, "start-up cache '%s': another key: measuring again", file);
        else
            found = 1;
        why[0] = 0;
    }
    if (why[0])
        vsri_log(VSR_LOG_WARNING, "start-up cache '%s' is damaged (%s): ignored, measuring again", file, why);
    json_decref(doc);
    json_decref(key);
    if (found)
        *out = c;
    return found;
}

/* Create dir and its parents (mode 0777 less the umask). */
static int make_dirs(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return errno;
    struct stat st;
    if (stat(path, &st) != 0)
        return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static atomic_int write_warned;

static void warn_unwritable(const char *dir, const char *what, int e)
{
    if (atomic_exchange(&write_warned, 1))
        return;
    vsri_log(VSR_LOG_WARNING,
             "start-up cache: cannot %s '%s' (%s): the precision choice is measured at every start; "
             "set VSR_CACHE_DIR to a writable directory, or turn the cache off (vsr_model_settings.cache = 0, "
             "vsr-cli --no-cache)",
             what, dir, strerror(e));
}

static json_t *choice_json(const vsri_startup_choice *c, int *oom)
{
    json_t *o = json_object();
    if (!o) {
        *oom = 1;
        return NULL;
    }
    vsri_jtext_set(o, "precision", json_string(vsr_precision_name(c->precision)), oom);
    vsri_jtext_set(o, "bytes_per_pixel", json_real(c->bytes_per_pixel), oom);
    vsri_jtext_set(o, "ns_per_pixel", json_real(c->ns_per_pixel), oom);
    vsri_jtext_set(o, "fp32_ns_per_pixel", json_real(c->fp32_ns_per_pixel), oom);
    vsri_jtext_set(o, "bf16_ns_per_pixel", json_real(c->bf16_ns_per_pixel), oom);
    vsri_jtext_set(o, "card_sha256", json_string(c->card_sha256), oom);
    return o;
}

void vsri_startup_cache_put(const char *model_path, int threads, const vsri_startup_choice *choice)
{
    json_t *key = full_key(model_path, threads);
    char dir[PATH_MAX], file[PATH_MAX + 64];
    if (!key || cache_file(key, dir, sizeof(dir), file, sizeof(file)) < 0) {
        json_decref(key);
        return;
    }
    int oom = 0;
    json_t *doc = json_object();
    if (doc) {
        vsri_jtext_set(doc, "format", json_string(CACHE_FORMAT), &oom);
        vsri_jtext_set(doc, "version", json_integer(CACHE_VERSION), &oom);
        vsri_jtext_set(doc, "key", json_incref(key), &oom);
        vsri_jtext_set(doc, "choice", choice_json(choice, &oom), &oom);
    }
    char *text = doc && !oom ? vsri_jtext_dump(doc, 1) : NULL;
    json_decref(doc);
    json_decref(key);
    if (!text)
        return;
    int e = make_dirs(dir);
    if (e) {
        warn_unwritable(dir, "create the directory", e);
        free(text);
        return;
    }
    /* a name of its own: another process may be writing the same entry */
    char tmp[PATH_MAX + 80];
    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        warn_unwritable(dir, "write in", errno);
        free(text);
        return;
    }
    size_t len = strlen(text), done = 0;
    e = 0;
    while (done < len && !e) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno != EINTR)
            e = errno;
        else if (n > 0)
            done += (size_t)n;
    }
    free(text);
    if (fchmod(fd, 0644) != 0 && !e) /* mkstemp's 0600: others sharing the directory may read it */
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, file) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        warn_unwritable(dir, "write in", e);
        return;
    }
    vsri_log(VSR_LOG_INFO, "start-up cache: stored the precision choice in '%s'", file);
}
