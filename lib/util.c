/* Small shared helpers: clock, growable strings, whole-file I/O, the size-field rule. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int64_t vsri_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void vsri_strlcpy(char *dst, const char *src, size_t cap)
{
    if (!cap)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = 0;
}

int vsri_result_check(const void *out, const char *what)
{
    uint32_t size;
    if (!out)
        return vsri_error(VSR_EINVAL, "%s: no result struct given", what);
    memcpy(&size, out, sizeof(size));
    if (size < sizeof(uint32_t))
        return vsri_error(VSR_EINVAL, "%s: result struct size %u: set .size = sizeof the struct", what,
                          (unsigned)size);
    return 0;
}

int vsri_settings_in(void *dst, const void *src, size_t full, const char *what)
{
    uint32_t size;
    memcpy(&size, src, sizeof(size));
    if (size < sizeof(uint32_t) || size > full)
        return vsri_error(VSR_EINVAL,
                          "%s: struct size %u, expected 4..%zu: set .size (the matching "
                          "..._default() function does), or build against libvsr's headers",
                          what, (unsigned)size, full);
    memcpy(dst, src, size);
    memcpy(dst, &(uint32_t){(uint32_t)full}, sizeof(uint32_t));
    return 0;
}

int vsri_result_out(void *dst, const void *src, size_t full, const char *what)
{
    int err = vsri_result_check(dst, what);
    if (err < 0)
        return err;
    uint32_t size;
    memcpy(&size, dst, sizeof(size));
    size_t n = size < full ? size : full;
    memcpy((char *)dst + sizeof(uint32_t), (const char *)src + sizeof(uint32_t), n - sizeof(uint32_t));
    if (size > full)
        memset((char *)dst + full, 0, size - full);
    memcpy(dst, &(uint32_t){(uint32_t)n}, sizeof(uint32_t));
    return 0;
}

void vsri_sb_init(vsri_strbuf *sb)
{
    memset(sb, 0, sizeof(*sb));
}

void vsri_sb_free(vsri_strbuf *sb)
{
    free(sb->data);
    memset(sb, 0, sizeof(*sb));
}

static int sb_reserve(vsri_strbuf *sb, size_t extra)
{
    if (sb->oom)
        return -1;
    if (sb->len + extra + 1 <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) {
        sb->oom = 1;
        return -1;
    }
    sb->data = p;
    sb->cap = cap;
    return 0;
}

void vsri_sb_append(vsri_strbuf *sb, const char *s, size_t n)
{
    if (sb_reserve(sb, n) < 0)
        return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = 0;
}

void vsri_sb_puts(vsri_strbuf *sb, const char *s)
{
    vsri_sb_append(sb, s, strlen(s));
}

char *vsri_str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void vsri_sb_printf(vsri_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_reserve(sb, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void vsri_sb_json_string(vsri_strbuf *sb, const char *s)
{
    if (!s) {
        vsri_sb_puts(sb, "null");
        return;
    }
    vsri_sb_append(sb, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': vsri_sb_puts(sb, "\\\""); break;
        case '\\': vsri_sb_puts(sb, "\\\\"); break;
        case '\n': vsri_sb_puts(sb, "\\n"); break;
        case '\r': vsri_sb_puts(sb, "\\r"); break;
        case '\t': vsri_sb_puts(sb, "\\t"); break;
        default:
            if (*p < 0x20)
                vsri_sb_printf(sb, "\\u%04x", *p);
            else
                vsri_sb_append(sb, (const char *)p, 1);
        }
    }
    vsri_sb_append(sb, "\"", 1);
}

void vsri_sb_json_number(vsri_strbuf *sb, double v)
{
    if (!isfinite(v))
        vsri_sb_puts(sb, "null");
    else if (fabs(v) < 9e15 && v == (double)(int64_t)v) /* range first: the cast is UB beyond int64 */
        vsri_sb_printf(sb, "%lld", (long long)v);
    else
        vsri_sb_printf(sb, "%.17g", v);
}

char *vsri_sb_take(vsri_strbuf *sb)
{
    if (sb->oom) {
        vsri_sb_free(sb);
        return NULL;
    }
    if (!sb->data)
        vsri_sb_append(sb, "", 0);
    char *p = sb->data;
    memset(sb, 0, sizeof(*sb));
    return p;
}

int vsri_write_file_atomic(const char *path, const char *data, size_t len)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        return VSR_ENOMEM;
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        free(tmp);
        return vsri_error(VSR_ERR(e), "cannot write '%s': %s", path, strerror(e));
    }
    size_t w = fwrite(data, 1, len, f);
    int bad = w != len;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno ? errno : EIO;
        remove(tmp);
        free(tmp);
        return vsri_error(VSR_ERR(e), "cannot write '%s': %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}

int vsri_read_file(const char *path, size_t max_size, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return vsri_error_quiet(VSR_ERR(e), "cannot open '%s': %s", path, strerror(e));
    }
    vsri_strbuf sb;
    vsri_sb_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (sb.len + n > max_size) {
            fclose(f);
            vsri_sb_free(&sb);
            return vsri_error_quiet(VSR_ERROR_LIMIT, "'%s' is larger than %zu bytes", path, max_size);
        }
        vsri_sb_append(&sb, buf, n);
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        vsri_sb_free(&sb);
        return vsri_error_quiet(VSR_ERR(EIO), "read error on '%s'", path);
    }
    *len = sb.len;
    *data = vsri_sb_take(&sb);
    return *data ? 0 : VSR_ENOMEM;
}

void vsr_free(void *ptr)
{
    free(ptr);
}
