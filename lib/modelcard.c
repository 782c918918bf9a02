/*
 * Model card parsing and validation (see modelcard.h for the contract).
 *
 * The card is read into a full-size local struct and checked completely
 * before anything is copied to the caller, who may have an older, smaller
 * vsr_model_card.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "jsontext.h"
#include "modelcard.h"

#define CARD_FORMAT "libvsr-model-card"

typedef struct card_ctx {
    const json_t *root;
    char msg[320];
} card_ctx;

static int card_fail(card_ctx *c, const char *fmt, ...) VSRI_PRINTF(2, 3);
static int card_fail(card_ctx *c, const char *fmt, ...)
{
    int n = snprintf(c->msg, sizeof(c->msg), "model card: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg + n, sizeof(c->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return VSR_ERROR_MODEL;
}

/* v is a number with an integral value (2 and 2.0 both are); in *out. */
static int integral_number(const json_t *v, double *out)
{
    if (!json_is_number(v))
        return 0;
    *out = json_number_value(v);
    return isfinite(*out) && *out == trunc(*out);
}

/* An integer member of obj in [min, max]; absent members take dflt unless
 * required. label names the key in messages (e.g. "receptive_field.spatial"). */
static int get_int(card_ctx *c, const json_t *obj, const char *key, const char *label, int min,
                   int max, int required, int dflt, int *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return card_fail(c, "missing required key '%s' (an integer from %d to %d)", label, min,
                             max);
        *out = dflt;
        return 0;
    }
    double i;
    if (!integral_number(v, &i) || i < min || i > max) {
        char got[80];
        vsri_jtext_describe(v, got, sizeof(got));
        return card_fail(c, "'%s' must be an integer from %d to %d, got %s", label, min, max, got);
    }
    *out = (int)i;
    return 0;
}

/* A string member that must be one of options[] (n of them); returns the
 * index in *out, or dflt when absent and not required. */
static int get_choice(card_ctx *c, const char *key, const char *const *options, int n,
                      int required, int dflt, int *out)
{
    char expected[96];
    size_t used = 0;
    expected[0] = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(expected + used, sizeof(expected) - used, "%s\"%s\"",
                         i == 0 ? "" : (i == n - 1 ? " or " : ", "), options[i]);
        if (w < 0 || (size_t)w >= sizeof(expected) - used)
            break;
        used += (size_t)w;
    }
    const json_t *v = json_object_get(c->root, key);
    if (!v) {
        if (required)
            return card_fail(c, "missing required key '%s' (%s)", key, expected);
        *out = dflt;
        return 0;
    }
    const char *s = json_string_value(v);
    for (int i = 0; s && i < n; i++) {
        if (strcmp(s, options[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char got[80];
    vsri_jtext_describe(v, got, sizeof(got));
    return card_fail(c, "'%s' must be %s, got %s", key, expected, got);
}

/* A string member of at most cap-1 bytes (min_len or more), copied to dst. */
static int get_text(card_ctx *c, const char *key, size_t min_len, size_t cap, int required,
                    char *dst)
{
    const json_t *v = json_object_get(c->root, key);
    if (!v) {
        if (required)
            return card_fail(c, "missing required key '%s' (a string of %zu to %zu bytes)", key,
                             min_len, cap - 1);
        dst[0] = 0;
        return 0;
    }
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    int control = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            control = 1;
    if (!s || n < min_len || n >= cap || control) {
        char got[80];
        vsri_jtext_describe(v, got, sizeof(got));
        return card_fail(c, "'%s' must be a string of %zu to %zu bytes without control characters, got %s%s",
                         key, min_len, cap - 1, got,
                         s && n >= cap ? " (too long)" : (control ? " (has control characters)" : ""));
    }
    memcpy(dst, s, n + 1);
    return 0;
}

static int get_range(card_ctx *c, vsr_model_card *card)
{
    const json_t *v = json_object_get(c->root, "range");
    if (!v)
        return card_fail(c, "missing required key 'range' ([min, max], e.g. [0.0, 1.0])");
    const json_t *lo = json_array_get(v, 0), *hi = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(lo) || !json_is_number(hi)) {
        char got[80];
        if (!json_is_array(v))
            vsri_jtext_describe(v, got, sizeof(got));
        else if (json_array_size(v) != 2)
            snprintf(got, sizeof(got), "an array of %zu values", json_array_size(v));
        else
            snprintf(got, sizeof(got), "an array of two values that are not both numbers");
        return card_fail(c, "'range' must be an array of two numbers [min, max], got %s", got);
    }
    double a = json_number_value(lo), b = json_number_value(hi);
    /* The parser only yields finite numbers; they must also fit a float. */
    if (!isfinite(a) || !isfinite(b) || fabs(a) > FLT_MAX || fabs(b) > FLT_MAX)
        return card_fail(c, "'range' values must be finite 32-bit floats, got [%g, %g]", a, b);
    if (!((float)a < (float)b))
        return card_fail(c, "'range' must be [min, max] with min < max, got [%g, %g]", a, b);
    card->range_min = (float)a;
    card->range_max = (float)b;
    return 0;
}

static int parse_fields(card_ctx *c, vsr_model_card *card)
{
    const json_t *root = c->root;
    int r;
    if (!json_is_object(root)) {
        char got[80];
        vsri_jtext_describe(root, got, sizeof(got));
        return card_fail(c, "must be a JSON object, got %s", got);
    }

    /* format and version first: a file that is not a card, or a card from
     * a newer libvsr, gets that message rather than one about a field. */
    const json_t *format = json_object_get(root, "format");
    const char *fs = json_string_value(format);
    if (!fs || strcmp(fs, CARD_FORMAT) != 0) {
        char got[80] = "nothing";
        if (format)
            vsri_jtext_describe(format, got, sizeof(got));
        return card_fail(c, "'format' must be \"" CARD_FORMAT "\", got %s: not a libvsr model card",
                         got);
    }
    const json_t *version = json_object_get(root, "version");
    double ver;
    if (!version)
        return card_fail(c, "missing required key 'version' (an integer, %d)", VSRI_CARD_VERSION);
    if (!integral_number(version, &ver) || ver < 1) {
        char got[80];
        vsri_jtext_describe(version, got, sizeof(got));
        return card_fail(c, "'version' must be a positive integer, got %s", got);
    }
    if (ver > VSRI_CARD_VERSION)
        return card_fail(c, "version %.0f is newer than this libvsr reads (up to %d): "
                         "upgrade libvsr to use this model", ver, VSRI_CARD_VERSION);

    if ((r = get_text(c, "name", 1, sizeof(card->name), 1, card->name)) < 0)
        return r;
    if ((r = get_int(c, root, "scale", "scale", 1, 16, 1, 0, &card->scale)) < 0)
        return r;
    static const char *const layouts[] = {"NCHW", "NTCHW"};
    int layout = 0;
    if ((r = get_choice(c, "layout", layouts, 2, 1, 0, &layout)) < 0)
        return r;
    card->layout = layout == 0 ? VSR_LAYOUT_NCHW : VSR_LAYOUT_NTCHW;
    if ((r = get_range(c, card)) < 0)
        return r;
    static const char *const channels[] = {"rgb"};
    int ch = 0;
    if ((r = get_choice(c, "channels", channels, 1, 1, 0, &ch)) < 0)
        return r;

    if ((r = get_int(c, root, "frames_in", "frames_in", 0, 64, 0, 1, &card->frames_in)) < 0)
        return r;
    static const char *const outs[] = {"all", "center"};
    int out = 0;
    if ((r = get_choice(c, "frames_out", outs, 2, 0, 0, &out)) < 0)
        return r;
    card->center_only = out == 1;

    const json_t *rf = json_object_get(root, "receptive_field");
    if (rf && !json_is_object(rf)) {
        char got[80];
        vsri_jtext_describe(rf, got, sizeof(got));
        return card_fail(c, "'receptive_field' must be an object {\"spatial\": ..., \"temporal\": ...}, "
                         "got %s", got);
    }
    if ((r = get_int(c, rf, "spatial", "receptive_field.spatial", 0, 1024, 0, 0, &card->rf_spatial)) < 0)
        return r;
    if ((r = get_int(c, rf, "temporal", "receptive_field.temporal", 0, 64, 0, 0, &card->rf_temporal)) < 0)
        return r;
    if ((r = get_int(c, root, "size_multiple", "size_multiple", 1, 64, 0, 1, &card->size_multiple)) < 0)
        return r;
    if ((r = get_text(c, "license", 0, sizeof(card->license), 0, card->license)) < 0)
        return r;
    const json_t *pool = json_object_get(root, "global_pool");
    if (pool && !json_is_boolean(pool)) {
        char got[80];
        vsri_jtext_describe(pool, got, sizeof(got));
        return card_fail(c, "'global_pool' must be true or false, got %s", got);
    }
    card->global_pool = json_is_true(pool);
    /* "source" and "converter" are for people; unknown keys are ignored so
     * that newer minor additions do not break older readers. */

    /* Consistency between fields. */
    if (card->layout == VSR_LAYOUT_NCHW && card->frames_in != 1)
        return card_fail(c, "layout \"NCHW\" takes one frame per step: 'frames_in' must be 1, got %d",
                         card->frames_in);
    if (card->layout == VSR_LAYOUT_NCHW && card->rf_temporal != 0)
        return card_fail(c, "a per-frame model (layout \"NCHW\") sees no other frames: "
                         "'receptive_field.temporal' must be 0, got %d", card->rf_temporal);
    if (card->center_only && card->layout != VSR_LAYOUT_NTCHW)
        return card_fail(c, "'frames_out' \"center\" needs layout \"NTCHW\", got \"NCHW\"");
    if (card->center_only && (card->frames_in < 3 || card->frames_in % 2 == 0))
        return card_fail(c, "'frames_out' \"center\" needs an odd 'frames_in' of 3 or more, got %d",
                         card->frames_in);
    return 0;
}

int vsri_card_parse(const char *json, size_t len, vsr_model_card *card, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (vsri_result_check(card, "vsr_model_card") < 0) {
        if (err && errlen)
            vsri_strlcpy(err, vsr_last_error(), errlen);
        return VSR_EINVAL;
    }

    card_ctx c;
    memset(&c, 0, sizeof(c));
    char jerr[256];
    /* Every number is read as a double: integers are checked as integral
     * values in their ranges, so 2.0 is 2 and a 30-digit "scale" gets a
     * message about the scale rather than about jansson's integer type. */
    json_t *root = vsri_jtext_load(json, len, JSON_DECODE_INT_AS_REAL, jerr, sizeof(jerr));
    int r;
    if (!root) {
        r = card_fail(&c, "not valid JSON: %s", jerr);
    } else {
        vsr_model_card full;
        memset(&full, 0, sizeof(full));
        full.size = sizeof(full);
        c.root = root;
        r = parse_fields(&c, &full);
        if (r == 0) /* only what the caller's (possibly older) struct holds */
            r = VSRI_RESULT_OUT(card, &full, "vsr_model_card");
    }
    json_decref(root);
    if (r < 0) {
        if (err && errlen)
            vsri_strlcpy(err, c.msg, errlen);
        return vsri_error_quiet(r, "%s", c.msg);
    }
    return 0;
}
