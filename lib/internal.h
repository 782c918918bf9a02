/*
 * Internal helpers shared by every module of libvsr (not installed).
 * Internal names start with vsri_; only vsr_* names are exported.
 */
#ifndef LIBVSR_INTERNAL_H
#define LIBVSR_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "libvsr/vsr.h"

#if defined(__GNUC__)
#  define VSRI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define VSRI_PRINTF(a, b)
#endif

/*
 * The size-field rule of the public structs (docs/ABI.md), for structs
 * whose first member is uint32_t size. `what` names the struct (and the
 * function) in the error message.
 *
 * vsri_settings_in: a struct the caller fills. dst holds libvsr's defaults
 * (full bytes); the caller's first size bytes are copied over them and
 * dst->size becomes full. size < 4 or size > full: VSR_EINVAL, dst untouched.
 *
 * vsri_result_out: a struct libvsr fills (src, full bytes) into the
 * caller's dst of dst->size bytes. size < 4: VSR_EINVAL, nothing written.
 * Otherwise min(size, full) bytes are filled, bytes from full up to a
 * larger size are zeroed, and dst->size is set to the number filled.
 */
int vsri_settings_in(void *dst, const void *src, size_t full, const char *what);
int vsri_result_out(void *dst, const void *src, size_t full, const char *what);
/* vsri_result_out's test alone (dst NULL or size < 4: VSR_EINVAL), for
 * calls that refuse before doing their work. */
int vsri_result_check(const void *dst, const char *what);
/* The same with the struct's size taken from the variable's type. */
#define VSRI_SETTINGS_IN(dst, src, what) vsri_settings_in((dst), (src), sizeof(*(dst)), (what))
#define VSRI_RESULT_OUT(dst, src, what) vsri_result_out((dst), (src), sizeof(*(src)), (what))
#define VSRI_COPY_SETTINGS(dst, src) vsri_settings_in((dst), (src), sizeof(*(dst)), "settings struct")

/* Record the detail of a failure for vsr_last_error() on this thread, log
 * it at debug level, and return code (so: return vsri_error(...);). */
int vsri_error(int code, const char *fmt, ...) VSRI_PRINTF(2, 3);
/* Same, without logging (for errors the caller may well expect, e.g. EOF). */
int vsri_error_quiet(int code, const char *fmt, ...) VSRI_PRINTF(2, 3);
/* Set the thread's last error from a message produced on another thread. */
void vsri_set_last_error(const char *msg);

/* Log through the global sink (or a session's, see vsri_log_to). */
void vsri_log(int level, const char *fmt, ...) VSRI_PRINTF(2, 3);
void vsri_vlog(int level, const char *fmt, va_list ap);
void vsri_log_to(vsr_log_callback cb, void *user, int level, const char *fmt, ...) VSRI_PRINTF(4, 5);
/* The sink for messages logged on this thread without one of their own
 * (NULL: the global sink), until changed again; returns the one before,
 * for vsri_log_restore_thread_sink. */
typedef struct vsri_log_sink {
    vsr_log_callback cb;
    void *user;
} vsri_log_sink;
vsri_log_sink vsri_log_set_thread_sink(vsr_log_callback cb, void *user);
void vsri_log_restore_thread_sink(vsri_log_sink before);

/* Monotonic clock in nanoseconds. */
int64_t vsri_now_ns(void);

/* Growable string (for JSON, CSV and message building). On allocation
 * failure `oom` is set and further appends are ignored. */
typedef struct vsri_strbuf {
    char *data;
    size_t len;
    size_t cap;
    int oom;
} vsri_strbuf;

void vsri_sb_init(vsri_strbuf *sb);
void vsri_sb_free(vsri_strbuf *sb);
void vsri_sb_append(vsri_strbuf *sb, const char *s, size_t n);
void vsri_sb_puts(vsri_strbuf *sb, const char *s);
void vsri_sb_printf(vsri_strbuf *sb, const char *fmt, ...) VSRI_PRINTF(2, 3);
/* A newly allocated formatted string (caller frees), NULL without memory. */
char *vsri_str_printf(const char *fmt, ...) VSRI_PRINTF(1, 2);
/* Append s as a JSON string literal, quotes included (NULL gives null). */
void vsri_sb_json_string(vsri_strbuf *sb, const char *s);
/* Append a double as JSON (NaN and infinities become null). */
void vsri_sb_json_number(vsri_strbuf *sb, double v);
/* Take the buffer (caller frees with free()); NULL if it ran out of memory. */
char *vsri_sb_take(vsri_strbuf *sb);

/* Write a whole buffer to path atomically: path.tmp, fsync-free rename. */
int vsri_write_file_atomic(const char *path, const char *data, size_t len);
/* Read a whole file (NUL-terminated; caller frees). max_size refuses larger files. */
int vsri_read_file(const char *path, size_t max_size, char **data, size_t *len);

/* Safe string copy into a fixed buffer (always NUL-terminated). */
void vsri_strlcpy(char *dst, const char *src, size_t cap);

#endif /* LIBVSR_INTERNAL_H */
