/*
 * Reading JSON in the tests (the manifests of the test data, the
 * library's exports) through jansson, with short accessors that take any
 * value (NULL, or another type, gives the default) so that a check reads
 * as one line. Parsing refuses duplicate keys: what the library writes
 * must not have any.
 */
#ifndef LIBVSR_TESTJSON_H
#define LIBVSR_TESTJSON_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* text[0..len) -> a value (json_decref() it), or NULL and the reason in err. */
static inline json_t *tj_parse(const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!j && err && errlen)
        snprintf(err, errlen, "line %d, column %d: %s", e.line, e.column, e.text);
    return j;
}

typedef enum { TJ_NULL, TJ_BOOL, TJ_NUMBER, TJ_STRING, TJ_ARRAY, TJ_OBJECT, TJ_NONE } tj_type_t;

/* The type, integers and reals alike TJ_NUMBER; TJ_NONE for NULL. */
static inline tj_type_t tj_type(const json_t *j)
{
    if (!j)
        return TJ_NONE;
    switch (json_typeof(j)) {
    case JSON_NULL: return TJ_NULL;
    case JSON_TRUE:
    case JSON_FALSE: return TJ_BOOL;
    case JSON_INTEGER:
    case JSON_REAL: return TJ_NUMBER;
    case JSON_STRING: return TJ_STRING;
    case JSON_ARRAY: return TJ_ARRAY;
    case JSON_OBJECT: return TJ_OBJECT;
    }
    return TJ_NONE;
}

/* Members of an array or an object (in document order: jansson keeps it). */
static inline int tj_count(const json_t *j)
{
    return json_is_array(j) ? (int)json_array_size(j) : json_is_object(j) ? (int)json_object_size(j) : 0;
}

/* The i-th member of an array or object, and the key of an object's. */
static inline json_t *tj_at(const json_t *j, int i)
{
    if (json_is_array(j))
        return json_array_get(j, (size_t)i);
    int k = 0;
    for (void *it = json_object_iter((json_t *)j); it; it = json_object_iter_next((json_t *)j, it), k++)
        if (k == i)
            return json_object_iter_value(it);
    return NULL;
}

static inline const char *tj_key_at(const json_t *j, int i)
{
    int k = 0;
    for (void *it = json_object_iter((json_t *)j); it; it = json_object_iter_next((json_t *)j, it), k++)
        if (k == i)
            return json_object_iter_key(it);
    return NULL;
}

static inline const char *tj_str(const json_t *j, const char *dflt)
{
    return json_is_string(j) ? json_string_value(j) : dflt;
}

static inline double tj_num(const json_t *j, double dflt)
{
    return json_is_number(j) ? json_number_value(j) : dflt;
}

static inline int tj_bool(const json_t *j, int dflt)
{
    return json_is_boolean(j) ? json_is_true(j) : dflt;
}

/* An integer (written as one): 0 and *v, else -1. */
static inline int tj_int(const json_t *j, int64_t *v)
{
    if (!json_is_integer(j))
        return -1;
    *v = json_integer_value(j);
    return 0;
}

#endif /* LIBVSR_TESTJSON_H */
