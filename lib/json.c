/*
 * Strict JSON reader (RFC 8259): recursive descent over a bounded buffer.
 *
 * Every read goes through the parser's position and length, so input that
 * is not NUL-terminated (or is cut short) is never read past its end.
 * Nesting is limited to JSON_MAX_DEPTH, which also bounds the recursion.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libvsr/common.h"
#include "json.h"

#define JSON_MAX_DEPTH 64
/* Numbers up to this many characters are copied to the stack for strtod. */
#define JSON_NUMBER_STACK 128

struct vsri_json {
    vsri_json_type type;
    int boolean;
    double number;
    int int_literal;   /* written without fraction or exponent */
    int has_int;       /* ... and within the int64 range: integer is exact */
    int64_t integer;
    char *string;      /* decoded UTF-8 of a string value */
    int count;         /* members of an array or object */
    int cap;
    vsri_json **items;
    char **keys;       /* objects only, parallel to items */
};

typedef struct parser {
    const char *text;
    size_t len;
    size_t pos;
    int error;          /* 0, VSR_ERROR_CONFIG or VSR_ENOMEM */
    char msg[256];
#if defined(__GLIBC__)
    locale_t c_locale;  /* for strtod_l: the host's locale may use ',' */
#endif
} parser;

/* ------------------------------------------------------------------ */
/* Errors                                                               */

/* Line and column (both from 1; columns count UTF-8 code points) of byte
 * offset pos, computed on demand since errors are rare. */
static void position_of(const parser *p, size_t pos, long *line, long *col)
{
    long l = 1, c = 1;
    for (size_t i = 0; i < pos && i < p->len; i++) {
        unsigned char b = (unsigned char)p->text[i];
        if (b == '\n') {
            l++;
            c = 1;
        } else if ((b & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int fail_at(parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->error)
        return -1; /* keep the first error */
    long line, col;
    position_of(p, pos, &line, &col);
    int n = snprintf(p->msg, sizeof(p->msg), "line %ld, column %ld: ", line, col);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof(p->msg)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->msg + n, sizeof(p->msg) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    p->error = VSR_ERROR_CONFIG;
    return -1;
}

static int fail_oom(parser *p)
{
    if (!p->error) {
        long line, col;
        position_of(p, p->pos, &line, &col);
        snprintf(p->msg, sizeof(p->msg), "line %ld, column %ld: out of memory", line, col);
        p->error = VSR_ENOMEM;
    }
    return -1;
}

/* Describe the byte at pos for a message: 'x', U+0001, byte 0xff or end of input. */
static void describe_char(const parser *p, size_t pos, char *buf, size_t cap)
{
    if (pos >= p->len) {
        snprintf(buf, cap, "end of input");
        return;
    }
    unsigned char b = (unsigned char)p->text[pos];
    if (b >= 0x21 && b < 0x7F)
        snprintf(buf, cap, "'%c'", b);
    else if (b < 0x80)
        snprintf(buf, cap, "character U+%04X", b);
    else
        snprintf(buf, cap, "byte 0x%02x", b);
}

static int fail_unexpected(parser *p, const char *expected)
{
    char what[32];
    describe_char(p, p->pos, what, sizeof(what));
    return fail_at(p, p->pos, "unexpected %s, expected %s", what, expected);
}

/* ------------------------------------------------------------------ */
/* Nodes                                                                */

static vsri_json *node_new(parser *p, vsri_json_type type)
{
    vsri_json *j = calloc(1, sizeof(*j));
    if (!j) {
        fail_oom(p);
        return NULL;
    }
    j->type = type;
    return j;
}

void vsri_json_free(vsri_json *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->count; i++) {
        vsri_json_free(j->items[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->string);
    free(j);
}

/* Append a member (key is NULL for arrays); takes ownership of both. */
static int node_append(parser *p, vsri_json *parent, char *key, vsri_json *child)
{
    if (parent->count == parent->cap) {
        if (parent->cap >= INT_MAX / 2) {
            free(key);
            vsri_json_free(child);
            return fail_at(p, p->pos, "too many members");
        }
        int cap = parent->cap ? parent->cap * 2 : 4;
        vsri_json **items = realloc(parent->items, (size_t)cap * sizeof(*items));
        if (items)
            parent->items = items;
        char **keys = NULL;
        if (items && parent->type == VSRI_JSON_OBJECT) {
            keys = realloc(parent->keys, (size_t)cap * sizeof(*keys));
            if (keys)
                parent->keys = keys;
        }
        if (!items || (parent->type == VSRI_JSON_OBJECT && !keys)) {
            free(key);
            vsri_json_free(child);
            return fail_oom(p);
        }
        parent->cap = cap;
    }
    parent->items[parent->count] = child;
    if (parent->type == VSRI_JSON_OBJECT)
        parent->keys[parent->count] = key;
    parent->count++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Lexical helpers                                                      */

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static int peek(const parser *p)
{
    return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

static int match_literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i < n; i++) {
        if (p->pos + i >= p->len || p->text[p->pos + i] != word[i]) {
            char what[32];
            describe_char(p, p->pos + i, what, sizeof(what));
            return fail_at(p, p->pos + i, "unexpected %s in literal, expected '%s'", what, word);
        }
    }
    p->pos += n;
    return 0;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at pos; -1 (error set) if not. */
static long read_hex4(parser *p, size_t pos)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = pos + (size_t)i < p->len ? hex_value((unsigned char)p->text[pos + (size_t)i]) : -1;
        if (h < 0) {
            if (pos + (size_t)i >= p->len)
                return fail_at(p, p->len, "unexpected end of input in \\u escape");
            return fail_at(p, pos + (size_t)i, "\\u escape needs four hexadecimal digits");
        }
        v = v * 16 + h;
    }
    return v;
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at pos (1..4), or 0 if it is invalid
 * (overlong forms, encoded surrogates and code points above U+10FFFF are). */
static size_t utf8_sequence(const parser *p, size_t pos)
{
    const unsigned char *s = (const unsigned char *)p->text + pos;
    size_t avail = p->len - pos;
    unsigned char b = s[0];
    size_t n;
    unsigned long cp, min;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2; cp = b & 0x1F; min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3; cp = b & 0x0F; min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4; cp = b & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* ------------------------------------------------------------------ */
/* Values                                                               */

/* A string literal starting at the opening quote; returns the decoded
 * NUL-terminated UTF-8 (caller frees) or NULL with the error set. */
static char *parse_string_raw(parser *p)
{
    size_t start = ++p->pos; /* past the opening quote */
    /* Find the closing quote first: the decoded text is never longer than
     * the literal (an escape is always at least as long as what it makes). */
    size_t end = start;
    while (end < p->len && p->text[end] != '"') {
        if (p->text[end] == '\\')
            end++;
        end++;
    }
    if (end >= p->len) {
        long line, col;
        position_of(p, start - 1, &line, &col);
        fail_at(p, p->len, "unexpected end of input in the string that starts at line %ld, column %ld",
                line, col);
        return NULL;
    }
    char *out = malloc(end - start + 1);
    if (!out) {
        fail_oom(p);
        return NULL;
    }
    size_t o = 0;
    size_t i = start;
    while (i < end) {
        unsigned char c = (unsigned char)p->text[i];
        if (c == '\\') {
            /* end was found by skipping escapes, so i + 1 < end here */
            unsigned char e = (unsigned char)p->text[i + 1];
            switch (e) {
            case '"': out[o++] = '"'; i += 2; continue;
            case '\\': out[o++] = '\\'; i += 2; continue;
            case '/': out[o++] = '/'; i += 2; continue;
            case 'b': out[o++] = '\b'; i += 2; continue;
            case 'f': out[o++] = '\f'; i += 2; continue;
            case 'n': out[o++] = '\n'; i += 2; continue;
            case 'r': out[o++] = '\r'; i += 2; continue;
            case 't': out[o++] = '\t'; i += 2; continue;
            case 'u': break;
            default: {
                char what[32];
                describe_char(p, i + 1, what, sizeof(what));
                fail_at(p, i, "invalid escape: backslash followed by %s", what);
                free(out);
                return NULL;
            }
            }
            long u = read_hex4(p, i + 2);
            if (u < 0) {
                free(out);
                return NULL;
            }
            unsigned long cp = (unsigned long)u;
            size_t esc_start = i;
            i += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail_at(p, esc_start, "lone low surrogate \\u%04lX", cp);
                free(out);
                return NULL;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate must be followed by \u and a low one. */
                if (i + 1 >= p->len || p->text[i] != '\\' || p->text[i + 1] != 'u') {
                    fail_at(p, esc_start, "high surrogate \\u%04lX not followed by a low surrogate",
                            cp);
                    free(out);
                    return NULL;
                }
                long lo = read_hex4(p, i + 2);
                if (lo < 0) {
                    free(out);
                    return NULL;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    fail_at(p, esc_start,
                            "high surrogate \\u%04lX followed by \\u%04lX, not a low surrogate",
                            cp, (unsigned long)lo);
                    free(out);
                    return NULL;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
                i += 6;
            }
            if (cp == 0) {
                fail_at(p, esc_start, "\\u0000 is not allowed in strings");
                free(out);
                return NULL;
            }
            o += put_utf8(out + o, cp);
        } else if (c < 0x20) {
            fail_at(p, i, "control character U+%04X in string must be escaped", c);
            free(out);
            return NULL;
        } else if (c < 0x80) {
            out[o++] = (char)c;
            i++;
        } else {
            size_t n = utf8_sequence(p, i);
            if (n == 0 || i + n > end) {
                fail_at(p, i, "invalid UTF-8 (byte 0x%02x) in string", c);
                free(out);
                return NULL;
            }
            memcpy(out + o, p->text + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = 0;
    p->pos = end + 1;
    return out;
}

static double to_double(parser *p, const char *s, int *range_error)
{
    char *endp;
    errno = 0;
#if defined(__GLIBC__)
    if (strchr(s, '.')) {
        /* The decimal point follows LC_NUMERIC, which the host application
         * may have set; parse in the "C" locale instead. */
        if (!p->c_locale)
            p->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (!p->c_locale) {
            fail_oom(p);
            return 0;
        }
        double v = strtod_l(s, &endp, p->c_locale);
        *range_error = errno == ERANGE && !isfinite(v);
        return v;
    }
#endif
    double v = strtod(s, &endp);
    *range_error = errno == ERANGE && !isfinite(v);
    return v;
}

static vsri_json *parse_number(parser *p)
{
    size_t start = p->pos, i = p->pos;
    int integral = 1;
    if (i < p->len && p->text[i] == '-')
        i++;
    if (i >= p->len) {
        fail_at(p, i, "unexpected end of input in number");
        return NULL;
    }
    if (p->text[i] == '0') {
        i++;
        if (i < p->len && p->text[i] >= '0' && p->text[i] <= '9') {
            fail_at(p, i, "leading zeros are not allowed in numbers");
            return NULL;
        }
    } else if (p->text[i] >= '1' && p->text[i] <= '9') {
        while (i < p->len && p->text[i] >= '0' && p->text[i] <= '9')
            i++;
    } else {
        char what[32];
        describe_char(p, i, what, sizeof(what));
        fail_at(p, i, "unexpected %s in number, expected a digit", what);
        return NULL;
    }
    if (i < p->len && p->text[i] == '.') {
        integral = 0;
        i++;
        if (i >= p->len || p->text[i] < '0' || p->text[i] > '9') {
            fail_at(p, i, "a digit must follow the decimal point");
            return NULL;
        }
        while (i < p->len && p->text[i] >= '0' && p->text[i] <= '9')
            i++;
    }
    if (i < p->len && (p->text[i] == 'e' || p->text[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->len && (p->text[i] == '+' || p->text[i] == '-'))
            i++;
        if (i >= p->len || p->text[i] < '0' || p->text[i] > '9') {
            fail_at(p, i, "a digit must follow the exponent");
            return NULL;
        }
        while (i < p->len && p->text[i] >= '0' && p->text[i] <= '9')
            i++;
    }

    /* strtod needs a NUL-terminated string: copy the validated literal. */
    size_t n = i - start;
    char stack[JSON_NUMBER_STACK];
    char *copy = n < sizeof(stack) ? stack : malloc(n + 1);
    if (!copy) {
        fail_oom(p);
        return NULL;
    }
    memcpy(copy, p->text + start, n);
    copy[n] = 0;

    int range_error = 0;
    double v = to_double(p, copy, &range_error);
    int has_int = 0;
    long long iv = 0;
    if (integral && !p->error) {
        char *endp;
        errno = 0;
        iv = strtoll(copy, &endp, 10);
        has_int = errno != ERANGE;
    }
    if (copy != stack)
        free(copy);
    if (p->error)
        return NULL;
    if (range_error) {
        fail_at(p, start, "number is too large for a double");
        return NULL;
    }
    vsri_json *j = node_new(p, VSRI_JSON_NUMBER);
    if (!j)
        return NULL;
    j->number = v;
    j->int_literal = integral;
    j->has_int = has_int;
    j->integer = (int64_t)iv;
    p->pos = i;
    return j;
}

static vsri_json *parse_value(parser *p, int depth);

static int compare_keys(const void *a, const void *b)
{
    const char *const *ka = a;
    const char *const *kb = b;
    return strcmp(*ka, *kb);
}

/* Duplicate keys in a finished object: sort a copy of the key pointers
 * (n log n, so a huge object cannot make this quadratic). On a duplicate,
 * report the second occurrence's position. */
static int check_duplicates(parser *p, vsri_json *obj, const size_t *key_pos)
{
    if (obj->count < 2)
        return 0;
    if (obj->count <= 8) {
        for (int i = 1; i < obj->count; i++)
            for (int k = 0; k < i; k++)
                if (strcmp(obj->keys[i], obj->keys[k]) == 0)
                    return fail_at(p, key_pos[i], "duplicate key \"%.64s\"", obj->keys[i]);
        return 0;
    }
    char **sorted = malloc((size_t)obj->count * sizeof(*sorted));
    if (!sorted)
        return fail_oom(p);
    memcpy(sorted, obj->keys, (size_t)obj->count * sizeof(*sorted));
    qsort(sorted, (size_t)obj->count, sizeof(*sorted), compare_keys);
    const char *dup = NULL;
    for (int i = 1; i < obj->count && !dup; i++)
        if (strcmp(sorted[i], sorted[i - 1]) == 0)
            dup = sorted[i];
    free(sorted);
    if (!dup)
        return 0;
    /* The second member in document order with this key. */
    int seen = 0;
    for (int i = 0; i < obj->count; i++) {
        if (strcmp(obj->keys[i], dup) == 0 && seen++)
            return fail_at(p, key_pos[i], "duplicate key \"%.64s\"", obj->keys[i]);
    }
    return fail_at(p, p->pos, "duplicate key \"%.64s\"", dup);
}

static vsri_json *parse_object(parser *p, int depth)
{
    vsri_json *obj = node_new(p, VSRI_JSON_OBJECT);
    if (!obj)
        return NULL;
    size_t *key_pos = NULL;
    size_t key_pos_cap = 0;
    p->pos++; /* '{' */
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        return obj;
    }
    for (;;) {
        skip_ws(p);
        if (peek(p) != '"') {
            fail_unexpected(p, "a string key");
            goto fail;
        }
        size_t kpos = p->pos;
        char *key = parse_string_raw(p);
        if (!key)
            goto fail;
        skip_ws(p);
        if (peek(p) != ':') {
            free(key);
            fail_unexpected(p, "':' after the object key");
            goto fail;
        }
        p->pos++;
        skip_ws(p);
        vsri_json *val = parse_value(p, depth);
        if (!val) {
            free(key);
            goto fail;
        }
        if ((size_t)obj->count == key_pos_cap) {
            size_t cap = key_pos_cap ? key_pos_cap * 2 : 8;
            size_t *np = realloc(key_pos, cap * sizeof(*np));
            if (!np) {
                free(key);
                vsri_json_free(val);
                fail_oom(p);
                goto fail;
            }
            key_pos = np;
            key_pos_cap = cap;
        }
        key_pos[obj->count] = kpos;
        if (node_append(p, obj, key, val) < 0)
            goto fail;
        skip_ws(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == '}') {
            p->pos++;
            break;
        }
        fail_unexpected(p, "',' or '}' in object");
        goto fail;
    }
    if (check_duplicates(p, obj, key_pos) < 0)
        goto fail;
    free(key_pos);
    return obj;
fail:
    free(key_pos);
    vsri_json_free(obj);
    return NULL;
}

static vsri_json *parse_array(parser *p, int depth)
{
    vsri_json *arr = node_new(p, VSRI_JSON_ARRAY);
    if (!arr)
        return NULL;
    p->pos++; /* '[' */
    skip_ws(p);
    if (peek(p) == ']') {
        p->pos++;
        return arr;
    }
    for (;;) {
        skip_ws(p);
        vsri_json *val = parse_value(p, depth);
        if (!val)
            goto fail;
        if (node_append(p, arr, NULL, val) < 0)
            goto fail;
        skip_ws(p);
        int c = peek(p);
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == ']') {
            p->pos++;
            return arr;
        }
        fail_unexpected(p, "',' or ']' in array");
        goto fail;
    }
fail:
    vsri_json_free(arr);
    return NULL;
}

/* A value at p->pos (whitespace already skipped); depth counts the
 * arrays and objects that enclose it. */
static vsri_json *parse_value(parser *p, int depth)
{
    int c = peek(p);
    switch (c) {
    case '{':
    case '[':
        if (depth >= JSON_MAX_DEPTH) {
            fail_at(p, p->pos, "nesting deeper than %d levels", JSON_MAX_DEPTH);
            return NULL;
        }
        return c == '{' ? parse_object(p, depth + 1) : parse_array(p, depth + 1);
    case '"': {
        char *s = parse_string_raw(p);
        if (!s)
            return NULL;
        vsri_json *j = node_new(p, VSRI_JSON_STRING);
        if (!j) {
            free(s);
            return NULL;
        }
        j->string = s;
        return j;
    }
    case 't':
    case 'f': {
        if (match_literal(p, c == 't' ? "true" : "false") < 0)
            return NULL;
        vsri_json *j = node_new(p, VSRI_JSON_BOOL);
        if (j)
            j->boolean = c == 't';
        return j;
    }
    case 'n':
        if (match_literal(p, "null") < 0)
            return NULL;
        return node_new(p, VSRI_JSON_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(p);
        fail_unexpected(p, "a value");
        return NULL;
    }
}

int vsri_json_parse(const char *text, size_t len, vsri_json **out, char *err, size_t errlen)
{
    parser p;
    memset(&p, 0, sizeof(p));
    p.text = text ? text : "";
    p.len = text ? len : 0;
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = 0;

    /* RFC 8259 allows ignoring a UTF-8 byte order mark (editors add one). */
    if (p.len >= 3 && memcmp(p.text, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    skip_ws(&p);
    vsri_json *root = NULL;
    if (p.pos >= p.len) {
        fail_at(&p, p.pos, "empty document");
    } else {
        root = parse_value(&p, 0);
        if (root) {
            skip_ws(&p);
            if (p.pos < p.len) {
                char what[32];
                describe_char(&p, p.pos, what, sizeof(what));
                fail_at(&p, p.pos, "unexpected %s after the end of the document", what);
            }
        }
    }
#if defined(__GLIBC__)
    if (p.c_locale)
        freelocale(p.c_locale);
#endif
    if (p.error) {
        vsri_json_free(root);
        /* The message goes to err only: json.c stands alone (the example
         * tools link it without the library's internals); callers that
         * report through vsr_last_error() add the file name themselves. */
        if (err && errlen)
            snprintf(err, errlen, "%s", p.msg);
        return p.error;
    }
    if (!out) {
        vsri_json_free(root);
        return 0;
    }
    *out = root;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Access                                                               */

vsri_json_type vsri_json_type_of(const vsri_json *j)
{
    return j ? j->type : VSRI_JSON_NULL;
}

const char *vsri_json_type_name(vsri_json_type t)
{
    switch (t) {
    case VSRI_JSON_NULL: return "null";
    case VSRI_JSON_BOOL: return "boolean";
    case VSRI_JSON_NUMBER: return "number";
    case VSRI_JSON_STRING: return "string";
    case VSRI_JSON_ARRAY: return "array";
    case VSRI_JSON_OBJECT: return "object";
    }
    return "unknown";
}

const vsri_json *vsri_json_get(const vsri_json *j, const char *key)
{
    if (!j || j->type != VSRI_JSON_OBJECT || !key)
        return NULL;
    for (int i = 0; i < j->count; i++)
        if (strcmp(j->keys[i], key) == 0)
            return j->items[i];
    return NULL;
}

int vsri_json_count(const vsri_json *j)
{
    if (!j || (j->type != VSRI_JSON_ARRAY && j->type != VSRI_JSON_OBJECT))
        return 0;
    return j->count;
}

const vsri_json *vsri_json_at(const vsri_json *j, int i)
{
    if (!j || (j->type != VSRI_JSON_ARRAY && j->type != VSRI_JSON_OBJECT) || i < 0 || i >= j->count)
        return NULL;
    return j->items[i];
}

const char *vsri_json_key_at(const vsri_json *j, int i)
{
    if (!j || j->type != VSRI_JSON_OBJECT || i < 0 || i >= j->count)
        return NULL;
    return j->keys[i];
}

double vsri_json_number(const vsri_json *j, double dflt)
{
    return j && j->type == VSRI_JSON_NUMBER ? j->number : dflt;
}

const char *vsri_json_string(const vsri_json *j, const char *dflt)
{
    return j && j->type == VSRI_JSON_STRING ? j->string : dflt;
}

int vsri_json_bool(const vsri_json *j, int dflt)
{
    return j && j->type == VSRI_JSON_BOOL ? j->boolean : dflt;
}

int vsri_json_int(const vsri_json *j, int64_t *v)
{
    if (!j || j->type != VSRI_JSON_NUMBER)
        return -1;
    if (j->has_int) {
        *v = j->integer;
        return 0;
    }
    if (j->int_literal)
        return -1; /* beyond int64: the double would round into range */
    /* 1e3 or 2.0: integral values written as fractions or exponents.
     * -2^63 is exact in a double; 2^63 is the first value out of range. */
    double d = j->number;
    if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return -1;
    *v = (int64_t)d;
    return 0;
}
