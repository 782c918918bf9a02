/*
 * Parsing of command-line values for the example tools (vsr-cli): sizes
 * with units, bounded integers that may be "auto", and names from a list.
 * Every parser returns 0 on success or -1 with a message in err that
 * names the option and the rule it broke.
 */
#ifndef VSR_CLI_OPTIONS_H
#define VSR_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

/* "1073741824", "512M", "1.5G", "2GiB", "64k": bytes (powers of 1024). */
int cli_parse_size(const char *opt, const char *text, int64_t *out, char *err, size_t errlen);

/* A decimal integer in [lo, hi]; when auto_value is not NULL, "auto" is
 * accepted and gives *auto_value. */
int cli_parse_int(const char *opt, const char *text, int64_t lo, int64_t hi, const int64_t *auto_value,
                  int64_t *out, char *err, size_t errlen);

/* One of names[0..n) (exact match): its index. */
int cli_parse_choice(const char *opt, const char *text, const char *const *names, int n, int *out,
                     char *err, size_t errlen);

/* A position or duration as FFmpeg writes them: a time, [HH:]MM:SS[.m...]
 * or seconds (S[.m...], with an optional s, ms or us suffix), or a frame
 * count with an f suffix ("48f"). Times give microseconds. */
typedef struct cli_position {
    int frames;    /* 1: value counts frames; 0: microseconds */
    int64_t value;
} cli_position;
int cli_parse_position(const char *opt, const char *text, cli_position *out, char *err, size_t errlen);

#endif /* VSR_CLI_OPTIONS_H */
