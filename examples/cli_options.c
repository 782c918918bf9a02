/* Command-line value parsing for the example tools (see cli_options.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_options.h"

static int fail(char *err, size_t errlen, const char *opt, const char *text, const char *rule)
{
    snprintf(err, errlen, "%s: '%s' %s", opt, text ? text : "", rule);
    return -1;
}

int cli_parse_size(const char *opt, const char *text, int64_t *out, char *err, size_t errlen)
{
    if (!text || !*text)
        return fail(err, errlen, opt, text, "is not a size (e.g. 512M, 2G)");
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || errno || !isfinite(v) || v < 0)
        return fail(err, errlen, opt, text, "is not a size (e.g. 512M, 2G)");
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {
        {"", 1}, {"b", 1}, {"k", 1024.0}, {"kb", 1024.0}, {"kib", 1024.0}, {"m", 1048576.0},
        {"mb", 1048576.0}, {"mib", 1048576.0}, {"g", 1073741824.0}, {"gb", 1073741824.0},
        {"gib", 1073741824.0}, {"t", 1099511627776.0}, {"tb", 1099511627776.0}, {"tib", 1099511627776.0},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            double bytes = v * units[i].mult;
            if (bytes > 9.0e18)
                return fail(err, errlen, opt, text, "is too large");
            *out = (int64_t)bytes;
            return 0;
        }
    }
    return fail(err, errlen, opt, text, "has an unknown unit (use K, M, G or T)");
}

int cli_parse_int(const char *opt, const char *text, int64_t lo, int64_t hi, const int64_t *auto_value,
                  int64_t *out, char *err, size_t errlen)
{
    if (text && auto_value && strcmp(text, "auto") == 0) {
        *out = *auto_value;
        return 0;
    }
    if (!text || !*text)
        return fail(err, errlen, opt, text, "is not a number");
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (*end || errno == ERANGE) {
        char rule[96];
        snprintf(rule, sizeof(rule), "is not a whole number%s", auto_value ? " or 'auto'" : "");
        return fail(err, errlen, opt, text, rule);
    }
    if (v < lo || v > hi) {
        char rule[96];
        snprintf(rule, sizeof(rule), "is out of range %lld..%lld", (long long)lo, (long long)hi);
        return fail(err, errlen, opt, text, rule);
    }
    *out = v;
    return 0;
}

int cli_parse_choice(const char *opt, const char *text, const char *const *names, int n, int *out,
                     char *err, size_t errlen)
{
    for (int i = 0; text && i < n; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char rule[256] = "is not one of";
    size_t k = strlen(rule);
    for (int i = 0; i < n && k + 2 < sizeof(rule); i++)
        k += (size_t)snprintf(rule + k, sizeof(rule) - k, "%s %s", i ? "," : "", names[i]);
    return fail(err, errlen, opt, text, rule);
}

/* Digits (at least one) as a non-negative integer; advances *p. */
static int take_digits(const char **p, int64_t *v)
{
    const char *s = *p;
    int64_t n = 0;
    while (*s >= '0' && *s <= '9') {
        if (n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*s++ - '0');
    }
    if (s == *p)
        return -1;
    *v = n;
    *p = s;
    return 0;
}

/* ".ddd" as microseconds (digits past the sixth are ignored); advances *p. */
static int take_fraction(const char **p, int64_t *us)
{
    *us = 0;
    if (**p != '.')
        return 0;
    const char *s = *p + 1;
    int64_t scale = 100000;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
        *us += (*s - '0') * scale;
    *p = s;
    return 0;
}

int cli_parse_position(const char *opt, const char *text, cli_position *out, char *err, size_t errlen)
{
    static const char rule[] = "is not a time ([HH:]MM:SS[.m...] or seconds, e.g. 1.5) or a frame count "
                               "with an f suffix (e.g. 48f)";
    if (!text || !*text)
        return fail(err, errlen, opt, text, rule);
    const char *p = text;
    int64_t a = 0, frac = 0;
    size_t n = strlen(text);
    if (text[n - 1] == 'f') { /* frames */
        if (take_digits(&p, &a) < 0 || p != text + n - 1)
            return fail(err, errlen, opt, text, rule);
        out->frames = 1;
        out->value = a;
        return 0;
    }
    if (*p == '-')
        return fail(err, errlen, opt, text, "is negative: positions start at 0");
    if (take_digits(&p, &a) < 0)
        return fail(err, errlen, opt, text, rule);
    int64_t seconds = a;
    if (*p == ':') { /* [HH:]MM:SS[.m...] */
        int64_t b = 0, c = -1;
        p++;
        if (take_digits(&p, &b) < 0)
            return fail(err, errlen, opt, text, rule);
        if (*p == ':') {
            p++;
            if (take_digits(&p, &c) < 0)
                return fail(err, errlen, opt, text, rule);
        }
        int64_t h = c >= 0 ? a : 0, m = c >= 0 ? b : a, s = c >= 0 ? c : b;
        if (m > 59 || s > 59 || (c >= 0 && h > 1000000))
            return fail(err, errlen, opt, text, "has minutes or seconds above 59");
        seconds = (h * 60 + m) * 60 + s;
        if (take_fraction(&p, &frac) < 0 || *p)
            return fail(err, errlen, opt, text, rule);
    } else {
        if (take_fraction(&p, &frac) < 0)
            return fail(err, errlen, opt, text, rule);
        int64_t unit = 1000000; /* seconds, or the ms/us suffixes FFmpeg takes */
        if (!strcmp(p, "ms"))
            unit = 1000;
        else if (!strcmp(p, "us"))
            unit = 1;
        else if (*p && strcmp(p, "s"))
            return fail(err, errlen, opt, text, rule);
        if (seconds > INT64_MAX / 1000000)
            return fail(err, errlen, opt, text, "is too large");
        out->frames = 0;
        out->value = seconds * unit + frac * unit / 1000000;
        return 0;
    }
    if (seconds > INT64_MAX / 1000000 - 1)
        return fail(err, errlen, opt, text, "is too large");
    out->frames = 0;
    out->value = seconds * 1000000 + frac;
    return 0;
}
