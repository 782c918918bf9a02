/*
 * JSON text through jansson, for the readers and writers that hold the
 * text in memory (model cards, tracker exports, the start-up cache):
 * strict parsing whose errors name the place and, for a duplicated key,
 * the key; values described for "got ..." messages; and builders that
 * never fail on what a caller recorded (bytes that are not UTF-8,
 * numbers that are not finite).
 */
#ifndef LIBVSR_JSONTEXT_H
#define LIBVSR_JSONTEXT_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parse text[0..len) (need not be NUL-terminated): any JSON value at the
 * top level, duplicate object keys refused, nothing after the value.
 * flags are added to jansson's decoding flags (e.g. JSON_DECODE_INT_AS_REAL).
 * Returns the value (json_decref() it), or NULL with
 * "line L, column C: reason" in err, where a duplicate key's reason is
 * 'duplicate key "name"'.
 */
json_t *vsri_jtext_load(const char *text, size_t len, size_t flags, char *err, size_t errlen);

/* "0", "2.5", "true", "null", "the string \"x\"" (at most 40 bytes quoted,
 * cut at a character boundary), "an array", "an object"; "nothing" for NULL. */
void vsri_jtext_describe(const json_t *v, char *buf, size_t cap);

/* A JSON string of s, where bytes that are not valid UTF-8 become U+FFFD
 * (the names and messages recorded by a caller are arbitrary bytes, and
 * jansson takes only UTF-8); NULL gives null. NULL only when out of memory. */
json_t *vsri_jtext_string(const char *s);

/* A number: an integral value below 2^53 as an integer (as it reads),
 * others as a real; NaN and infinities (no JSON form) as null. */
json_t *vsri_jtext_number(double v);

/* Set obj[key] = value, taking the reference; key is fixed up like
 * vsri_jtext_string()'s text. A NULL value (from an allocation that
 * failed) or a failure here makes *oom 1, so that one check at the end
 * catches every failure. */
void vsri_jtext_set(json_t *obj, const char *key, json_t *value, int *oom);

/* The text of v (indented by indent spaces, 0: one line), every real
 * written with the 17 digits that read back as the same double, ending
 * with a newline. NULL when out of memory. free() it. */
char *vsri_jtext_dump(const json_t *v, int indent);

#endif /* LIBVSR_JSONTEXT_H */
