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
