/*
 * JSON text through jansson (see jsontext.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsontext.h"

/* jansson reports a duplicate key without naming it (a short key only as
 * "near" context). Its position is just past the key's closing quote:
 * walk back to the opening quote (one not escaped by a backslash) and
 * decode that string literal. 0 and the key in buf, or -1. */
static int duplicate_key_name(const char *text, size_t len, int position, char *buf, size_t cap)
{
    if (position < 2 || (size_t)position > len || text[position - 1] != '"')
        return -1;
    for (int i = position - 2; i >= 0; i--) {
        if (text[i] != '"')
            continue;
        int backslashes = 0;
        while (i - 1 - backslashes >= 0 && text[i - 1 - backslashes] == '\\')
            backslashes++;
        if (backslashes % 2)
            continue;
        json_t *key = json_loadb(text + i, (size_t)(position - i), JSON_DECODE_ANY, NULL);
        int ok = json_is_string(key);
        if (ok) {
            /* control characters would break the message's line */
            size_t n = 0;
            for (const char *s = json_string_value(key); *s && n + 1 < cap; s++)
                buf[n++] = (unsigned char)*s < 0x20 ? '?' : *s;
            buf[n] = 0;
        }
        json_decref(key);
        return ok ? 0 : -1;
    }
    return -1;
}

json_t *vsri_jtext_load(const char *text, size_t len, size_t flags, char *err, size_t errlen)
{
    json_error_t e;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | flags, &e);
    if (v || !err || !errlen)
        return v;
    char key[96];
    if (json_error_code(&e) == json_error_duplicate_key &&
        duplicate_key_name(text, len, e.position, key, sizeof(key)) == 0)
        snprintf(err, errlen, "line %d, column %d: duplicate key \"%s\"", e.line, e.column, key);
    else
        snprintf(err, errlen, "line %d, column %d: %s", e.line, e.column, e.text);
    return NULL;
}

void vsri_jtext_describe(const json_t *v, char *buf, size_t cap)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_NULL: snprintf(buf, cap, "%s", v ? "null" : "nothing"); break;
    case JSON_TRUE: snprintf(buf, cap, "true"); break;
    case JSON_FALSE: snprintf(buf, cap, "false"); break;
    case JSON_INTEGER: snprintf(buf, cap, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(buf, cap, "%.15g", json_real_value(v)); break;
    case JSON_STRING: {
        /* Quote at most 40 bytes, cut at a UTF-8 character boundary. */
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), shown = n;
        if (shown > 40) {
            shown = 40;
            while (shown > 0 && ((unsigned char)s[shown] & 0xC0) == 0x80)
                shown--;
        }
        snprintf(buf, cap, "the string \"%.*s%s\"", (int)shown, s, shown < n ? "..." : "");
        break;
    }
    case JSON_ARRAY: snprintf(buf, cap, "an array"); break;
    case JSON_OBJECT: snprintf(buf, cap, "an object"); break;
    }
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* s[0..len) with every byte that does not start a valid sequence
 * replaced by the 3 bytes of U+FFFD, in a new buffer; NULL (and nothing
 * allocated) when s is valid already, or when out of memory (*oom = 1). */
static char *utf8_fixed(const char *s, size_t len, size_t *fixed_len, int *oom)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_sequence(p + i);
        if (!n)
            break;
        i += n;
    }
    if (i == len)
        return NULL;
    char *fixed = malloc(len * 3 + 1);
    if (!fixed) {
        *oom = 1;
        return NULL;
    }
    size_t o = 0;
    for (i = 0; i < len;) {
        size_t n = utf8_sequence(p + i);
        if (n) {
            memcpy(fixed + o, s + i, n);
            o += n, i += n;
        } else {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3, i++;
        }
    }
    fixed[o] = 0;
    *fixed_len = o;
    return fixed;
}

json_t *vsri_jtext_string(const char *s)
{
    if (!s)
        return json_null();
    size_t len = strlen(s), n = 0;
    int oom = 0;
    char *fixed = utf8_fixed(s, len, &n, &oom);
    if (oom)
        return NULL;
    if (!fixed)
        return json_stringn(s, len);
    json_t *v = json_stringn(fixed, n);
    free(fixed);
    return v;
}

json_t *vsri_jtext_number(double v)
{
    if (!isfinite(v))
        return json_null();
    if (fabs(v) < 9007199254740992.0 && v == trunc(v)) /* range first: the cast needs it */
        return json_integer((json_int_t)v);
    return json_real(v);
}

void vsri_jtext_set(json_t *obj, const char *key, json_t *value, int *oom)
{
    size_t n = 0;
    if (!key)
        key = "";
    char *fixed = utf8_fixed(key, strlen(key), &n, oom);
    if (!value || json_object_set_new(obj, fixed ? fixed : key, value) != 0)
        *oom = 1;
    free(fixed);
}

char *vsri_jtext_dump(const json_t *v, int indent)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17) | JSON_INDENT(indent));
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *out = realloc(text, n + 2);
    if (!out) {
        free(text);
        return NULL;
    }
    out[n] = '\n';
    out[n + 1] = 0;
    return out;
}
