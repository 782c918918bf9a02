/*
 * A small, strict JSON reader (RFC 8259) for model cards, benchmark
 * configurations and resume journals. Writing JSON uses vsri_strbuf
 * (internal.h). The parser never reads past `len`, limits nesting depth,
 * and reports the line and column of the first error.
 */
#ifndef LIBVSR_JSON_H
#define LIBVSR_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum vsri_json_type {
    VSRI_JSON_NULL = 0,
    VSRI_JSON_BOOL,
    VSRI_JSON_NUMBER,
    VSRI_JSON_STRING,
    VSRI_JSON_ARRAY,
    VSRI_JSON_OBJECT,
} vsri_json_type;

typedef struct vsri_json vsri_json;

/* Parse text[0..len) (need not be NUL-terminated). Returns 0 and a tree
 * the caller frees with vsri_json_free(), or VSR_ERROR_CONFIG with a
 * message "line L, column C: what was wrong" in err. Nesting deeper than
 * 64 levels, duplicate object keys and trailing garbage are errors. */
int vsri_json_parse(const char *text, size_t len, vsri_json **out, char *err, size_t errlen);
void vsri_json_free(vsri_json *j);

vsri_json_type vsri_json_type_of(const vsri_json *j);
/* Name of a type: "null", "boolean", "number", "string", "array", "object". */
const char *vsri_json_type_name(vsri_json_type t);

/* Object member by key (NULL if absent or j is not an object). */
const vsri_json *vsri_json_get(const vsri_json *j, const char *key);
/* Members of an array or an object, in document order. */
int vsri_json_count(const vsri_json *j);
const vsri_json *vsri_json_at(const vsri_json *j, int i);
/* Key of the i-th member of an object (NULL otherwise). */
const char *vsri_json_key_at(const vsri_json *j, int i);

/* Values; the defaults are returned when j is NULL or of another type. */
double vsri_json_number(const vsri_json *j, double dflt);
const char *vsri_json_string(const vsri_json *j, const char *dflt); /* UTF-8, NUL-terminated */
int vsri_json_bool(const vsri_json *j, int dflt);
/* Number that is an integer within [INT64_MIN, INT64_MAX]: 0 and *v; else -1. */
int vsri_json_int(const vsri_json *j, int64_t *v);

#endif /* LIBVSR_JSON_H */
