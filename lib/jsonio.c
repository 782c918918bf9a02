/*
 * JSON files through jansson (see jsonio.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonio.h"

int vsri_jload_file(const char *path, const char *what, size_t max_bytes, json_t **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int err = vsri_read_file(path, max_bytes, &text, &len);
    if (err < 0)
        return vsri_error(err, "%s '%s' cannot be read: %s", what, path, vsr_strerror(err));
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!j)
        return vsri_error(VSR_ERROR_CONFIG, "%s '%s' line %d column %d: %s", what, path, je.line, je.column,
                          je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return vsri_error(VSR_ERROR_CONFIG, "%s '%s' is not a JSON object", what, path);
    }
    *out = j;
    return 0;
}

/* Write all of buf, then flush it to the disk: a file renamed into place
 * after this survives a crash of the machine complete or not at all. */
static int write_synced(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return fsync(fd) == 0 ? 0 : -errno;
}

int vsri_jsave_file(const char *path, const json_t *j, const char *what)
{
    char *text = json_dumps(j, JSON_INDENT(1));
    if (!text)
        return VSR_ENOMEM;
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    if (!tmp) {
        free(text);
        return VSR_ENOMEM;
    }
    snprintf(tmp, n, "%s.tmp", path);
    int err = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        err = -errno;
    } else {
        size_t len = strlen(text);
        text[len] = '\n'; /* a text file ends with a newline (json_dumps's NUL becomes it) */
        err = write_synced(fd, text, len + 1);
        if (close(fd) != 0 && err == 0)
            err = -errno;
        if (err == 0 && rename(tmp, path) != 0)
            err = -errno;
        if (err < 0)
            unlink(tmp);
    }
    if (err < 0)
        err = vsri_error(VSR_ERROR_OUTPUT, "cannot write %s '%s': %s", what, path, strerror(-err));
    free(tmp);
    free(text);
    return err;
}

/* The value as JSON text for an error message, shortened. */
static void describe(const json_t *v, char *buf, size_t cap)
{
    if (!v) {
        snprintf(buf, cap, "nothing (missing)");
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(buf, cap, "?");
        return;
    }
    if (strlen(s) > 40)
        snprintf(buf, cap, "%.37s...", s);
    else
        snprintf(buf, cap, "%s", s);
    free(s);
}

static int bad(const char *where, const char *key, const char *rule, const json_t *v)
{
    char got[64];
    describe(v, got, sizeof(got));
    return vsri_error(VSR_ERROR_CONFIG, "%s: '%s' must be %s, got %s", where, key, rule, got);
}

static int check_int(const json_t *v, int64_t lo, int64_t hi, int64_t *out, const char *where, const char *key)
{
    char rule[96];
    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi) {
        *out = json_integer_value(v);
        return 0;
    }
    if (lo == INT64_MIN && hi == INT64_MAX)
        snprintf(rule, sizeof(rule), "an integer");
    else if (hi == INT64_MAX)
        snprintf(rule, sizeof(rule), "an integer >= %lld", (long long)lo);
    else
        snprintf(rule, sizeof(rule), "an integer %lld..%lld", (long long)lo, (long long)hi);
    return bad(where, key, rule, v);
}

int vsri_jget_int(const json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *where)
{
    return check_int(json_object_get(obj, key), lo, hi, out, where, key);
}

int vsri_jat_int(const json_t *arr, size_t i, int64_t lo, int64_t hi, int64_t *out, const char *where,
                 const char *key)
{
    char name[128];
    snprintf(name, sizeof(name), "%s[%zu]", key, i);
    return check_int(json_array_get(arr, i), lo, hi, out, where, name);
}

int vsri_jget_bool(const json_t *obj, const char *key, int *out, const char *where)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_boolean(v))
        return bad(where, key, "true or false", v);
    *out = json_is_true(v);
    return 0;
}

int vsri_jget_str(const json_t *obj, const char *key, int nullable, const char **out, const char *where)
{
    const json_t *v = json_object_get(obj, key);
    if (nullable && json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return bad(where, key, nullable ? "a string or null" : "a string", v);
    *out = json_string_value(v);
    return 0;
}

int vsri_jget_obj(const json_t *obj, const char *key, const json_t **out, const char *where)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_object(v))
        return bad(where, key, "an object", v);
    *out = v;
    return 0;
}

int vsri_jget_arr(const json_t *obj, const char *key, size_t min_len, size_t max_len, const json_t **out,
                  const char *where)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_array(v) || json_array_size(v) < min_len || json_array_size(v) > max_len) {
        char rule[96];
        snprintf(rule, sizeof(rule), "an array of %zu to %zu elements", min_len, max_len);
        return bad(where, key, rule, v);
    }
    *out = v;
    return 0;
}

int vsri_jset(json_t *obj, const char *key, json_t *value)
{
    return value && json_object_set_new(obj, key, value) == 0 ? 0 : VSR_ENOMEM;
}

json_t *vsri_jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}
