/*
 * JSON files through jansson, strictly: duplicate keys are refused, and
 * every error names the file (or the object) and the key at fault, e.g.
 * "plan 'job.json': segments[3]: 'frames' must be an integer 1..96, got \"2\"".
 * `where` below is that prefix ("plan 'job.json'", "plan 'job.json': segments[3]").
 */
#ifndef LIBVSR_JSONIO_H
#define LIBVSR_JSONIO_H

#include <stdint.h>

#include <jansson.h>

#include "internal.h"

/* Parse a file of at most max_bytes (duplicate keys refused). what names
 * it in errors ("plan", "segment manifest"). VSR_ERROR_CONFIG naming the
 * file, line, column and jansson's reason; the errno code (e.g.
 * VSR_ERR(ENOENT)) when it cannot be read. */
int vsri_jload_file(const char *path, const char *what, size_t max_bytes, json_t **out);
/* Write j to path atomically (path.tmp, flushed to disk, renamed), with an
 * indent of one space. VSR_ERROR_OUTPUT naming the file. */
int vsri_jsave_file(const char *path, const json_t *j, const char *what);

/* Members of obj, checked. VSR_ERROR_CONFIG naming where and key. */
int vsri_jget_int(const json_t *obj, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *where);
int vsri_jget_bool(const json_t *obj, const char *key, int *out, const char *where);
/* A string (nullable: null gives NULL). Borrowed from obj. */
int vsri_jget_str(const json_t *obj, const char *key, int nullable, const char **out, const char *where);
int vsri_jget_obj(const json_t *obj, const char *key, const json_t **out, const char *where);
/* An array of min_len..max_len elements. */
int vsri_jget_arr(const json_t *obj, const char *key, size_t min_len, size_t max_len, const json_t **out,
                  const char *where);
/* An element of an array that must be an integer in [lo, hi]. */
int vsri_jat_int(const json_t *arr, size_t i, int64_t lo, int64_t hi, int64_t *out, const char *where,
                 const char *key);

/* Setting members while building (NULL values are refused by jansson:
 * these give VSR_ENOMEM so that one check at the end catches them). */
int vsri_jset(json_t *obj, const char *key, json_t *value);
/* A string or null. */
json_t *vsri_jstr_or_null(const char *s);

#endif /* LIBVSR_JSONIO_H */
