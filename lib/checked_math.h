/*
 * Checked arithmetic for values that come from files (durations, frame
 * rates, time stamps, sizes): a hostile header can hold any number, so an
 * overflow or a non-finite result is reported to the caller instead of
 * being undefined behaviour. Each returns 1 and stores the result, or
 * returns 0 and leaves *out alone.
 */
#ifndef LIBVSR_CHECKED_MATH_H
#define LIBVSR_CHECKED_MATH_H

#include <stdint.h>

#include <libavutil/rational.h>

static inline int vsri_add_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return 0;
    *out = r;
    return 1;
}

static inline int vsri_sub_i64(int64_t a, int64_t b, int64_t *out)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return 0;
    *out = r;
    return 1;
}

/* A double into int64_t, truncated toward zero: NaN, infinities and values
 * outside int64_t's range (where the C conversion is undefined) fail. */
static inline int vsri_double_to_i64(double v, int64_t *out)
{
    /* 2^63 is exact in a double; the negated test also catches NaN */
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
        return 0;
    *out = (int64_t)v;
    return 1;
}

/* A rational as a double, only when it is a positive, finite quantity (a
 * frame rate, a time base): 0 otherwise. */
static inline double vsri_positive_q2d(AVRational q)
{
    return q.num > 0 && q.den > 0 ? (double)q.num / (double)q.den : 0.0;
}

#endif /* LIBVSR_CHECKED_MATH_H */
