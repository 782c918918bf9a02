/* Tests of model card parsing (lib/modelcard.c). */
#include <stddef.h>

#include "internal.h"
#include "modelcard.h"
#include "testutil.h"

/* The card of the shipped model, as tools/modelcard.py writes it. */
static const char real_card[] =
    "{\n"
    " \"format\": \"libvsr-model-card\",\n"
    " \"version\": 1,\n"
    " \"name\": \"realesr-animevideov3-x2\",\n"
    " \"scale\": 2,\n"
    " \"frames_in\": 1,\n"
    " \"frames_out\": \"all\",\n"
    " \"layout\": \"NCHW\",\n"
    " \"range\": [\n  0.0,\n  1.0\n ],\n"
    " \"channels\": \"rgb\",\n"
    " \"receptive_field\": {\n  \"spatial\": 20,\n  \"temporal\": 0\n },\n"
    " \"size_multiple\": 1,\n"
    " \"license\": \"BSD-3-Clause\",\n"
    " \"source\": \"https://github.com/xinntao/Real-ESRGAN (realesr-animevideov3, ncnn)\",\n"
    " \"converter\": \"tools/convert_ncnn.py\"\n"
    "}\n";

/* Keys of a valid card and their JSON values; tests override some. */
typedef struct kv {
    const char *key;
    const char *value; /* JSON text; NULL = leave the key out */
} kv;

static const kv base_card[] = {
    {"format", "\"libvsr-model-card\""}, {"version", "1"}, {"name", "\"test-model\""},
    {"scale", "4"}, {"frames_in", "1"}, {"frames_out", "\"all\""}, {"layout", "\"NCHW\""},
    {"range", "[0.0, 1.0]"}, {"channels", "\"rgb\""},
    {"receptive_field", "{\"spatial\": 7, \"temporal\": 0}"}, {"size_multiple", "1"},
    {"license", "\"MIT\""}, {"source", "\"somewhere\""}, {"converter", "\"by hand\""},
};
#define NBASE (sizeof(base_card) / sizeof(base_card[0]))

/* The base card with up to three keys replaced (value NULL removes the key;
 * a key not in the base is added). Caller frees. */
static char *card_with(const kv *over, int n)
{
    vsri_strbuf sb;
    vsri_sb_init(&sb);
    vsri_sb_puts(&sb, "{");
    int first = 1;
    for (size_t i = 0; i < NBASE; i++) {
        const char *value = base_card[i].value;
        for (int k = 0; k < n; k++)
            if (strcmp(over[k].key, base_card[i].key) == 0)
                value = over[k].value;
        if (!value)
            continue;
        vsri_sb_printf(&sb, "%s\"%s\": %s", first ? "" : ", ", base_card[i].key, value);
        first = 0;
    }
    for (int k = 0; k < n; k++) {
        int known = 0;
        for (size_t i = 0; i < NBASE; i++)
            known |= strcmp(over[k].key, base_card[i].key) == 0;
        if (!known && over[k].value)
            vsri_sb_printf(&sb, "%s\"%s\": %s", first ? "" : ", ", over[k].key, over[k].value), first = 0;
    }
    vsri_sb_puts(&sb, "}");
    return vsri_sb_take(&sb);
}

static int parse(const char *text, vsr_model_card *card, char *err, size_t errlen)
{
    memset(card, 0, sizeof(*card));
    card->size = sizeof(*card);
    return vsri_card_parse(text, strlen(text), card, err, errlen);
}

static void test_real_card(void)
{
    vsr_model_card card;
    char err[512];
    int r = parse(real_card, &card, err, sizeof(err));
    CHECK_MSG(r == 0, "%s", err);
    CHECK(strcmp(card.name, "realesr-animevideov3-x2") == 0);
    CHECK_EQ_INT(card.scale, 2);
    CHECK_EQ_INT(card.frames_in, 1);
    CHECK_EQ_INT(card.center_only, 0);
    CHECK(card.layout == VSR_LAYOUT_NCHW);
    CHECK(card.range_min == 0.0f && card.range_max == 1.0f);
    CHECK_EQ_INT(card.rf_spatial, 20);
    CHECK_EQ_INT(card.rf_temporal, 0);
    CHECK_EQ_INT(card.size_multiple, 1);
    CHECK(strcmp(card.license, "BSD-3-Clause") == 0);
    CHECK_EQ_INT(card.size, sizeof(card));
    CHECK(err[0] == 0);

    /* Not NUL-terminated: the length is what counts. */
    size_t len = strlen(real_card);
    char *copy = malloc(len);
    CHECK(copy != NULL);
    if (copy) {
        memcpy(copy, real_card, len);
        memset(&card, 0, sizeof(card));
        card.size = sizeof(card);
        CHECK(vsri_card_parse(copy, len, &card, err, sizeof(err)) == 0);
        CHECK_EQ_INT(card.scale, 2);
        /* Every proper prefix is refused (as invalid JSON). */
        int bad = 0;
        for (size_t k = 0; k + 1 < len; k++) { /* the last byte is a newline */
            vsr_model_card c2 = {.size = sizeof(c2)};
            int rk = vsri_card_parse(copy, k, &c2, err, sizeof(err));
            if (rk != VSR_ERROR_MODEL || strncmp(err, "model card: not valid JSON: line ", 33) != 0)
                bad++;
        }
        CHECK_EQ_INT(bad, 0);
        free(copy);
    }
}

static void test_sequence_cards(void)
{
    vsr_model_card card;
    char err[512];

    /* A fixed window with centre output (e.g. a 5-frame EDVR-like model). */
    kv window[] = {{"frames_in", "5"}, {"frames_out", "\"center\""}, {"layout", "\"NTCHW\""}};
    char *t = card_with(window, 3);
    CHECK_MSG(parse(t, &card, err, sizeof(err)) == 0, "%s", err);
    CHECK_EQ_INT(card.frames_in, 5);
    CHECK_EQ_INT(card.center_only, 1);
    CHECK(card.layout == VSR_LAYOUT_NTCHW);
    free(t);

    /* A recurrent model taking any sequence length. */
    kv seq[] = {{"frames_in", "0"}, {"layout", "\"NTCHW\""},
                {"receptive_field", "{\"spatial\": 1024, \"temporal\": 64}"}};
    t = card_with(seq, 3);
    CHECK_MSG(parse(t, &card, err, sizeof(err)) == 0, "%s", err);
    CHECK_EQ_INT(card.frames_in, 0);
    CHECK_EQ_INT(card.center_only, 0);
    CHECK_EQ_INT(card.rf_spatial, 1024);
    CHECK_EQ_INT(card.rf_temporal, 64);
    free(t);

    /* A fixed-length sequence returning all frames; other range and limits. */
    kv fixed[] = {{"frames_in", "64"}, {"layout", "\"NTCHW\""}, {"range", "[-1, 1.0e0]"}};
    t = card_with(fixed, 3);
    CHECK_MSG(parse(t, &card, err, sizeof(err)) == 0, "%s", err);
    CHECK_EQ_INT(card.frames_in, 64);
    CHECK(card.range_min == -1.0f && card.range_max == 1.0f);
    free(t);

    /* Integral values written as 2.0 are integers. */
    kv two[] = {{"scale", "2.0"}, {"size_multiple", "64"}, {"name", "\"\\u00e9t\\u00e9-x2\""}};
    t = card_with(two, 3);
    CHECK_MSG(parse(t, &card, err, sizeof(err)) == 0, "%s", err);
    CHECK_EQ_INT(card.scale, 2);
    CHECK_EQ_INT(card.size_multiple, 64);
    CHECK(strcmp(card.name, "\xC3\xA9t\xC3\xA9-x2") == 0);
    free(t);
}

static void test_defaults(void)
{
    const char *minimal =
        "{\"format\":\"libvsr-model-card\",\"version\":1,\"name\":\"m\",\"scale\":3,"
        "\"layout\":\"NCHW\",\"range\":[0,255],\"channels\":\"rgb\"}";
    vsr_model_card card;
    char err[512];
    memset(&card, 0x5A, sizeof(card));
    card.size = sizeof(card);
    int r = vsri_card_parse(minimal, strlen(minimal), &card, err, sizeof(err));
    CHECK_MSG(r == 0, "%s", err);
    CHECK(strcmp(card.name, "m") == 0);
    CHECK_EQ_INT(card.scale, 3);
    CHECK_EQ_INT(card.frames_in, 1);
    CHECK_EQ_INT(card.center_only, 0);
    CHECK(card.range_max == 255.0f);
    CHECK_EQ_INT(card.rf_spatial, 0);
    CHECK_EQ_INT(card.rf_temporal, 0);
    CHECK_EQ_INT(card.size_multiple, 1);
    CHECK(strcmp(card.license, "") == 0);
    CHECK_EQ_INT(card.global_pool, 0);

    /* global_pool: a network that pools over the whole frame says so */
    kv pool[] = {{"global_pool", "true"}};
    char *tp = card_with(pool, 1);
    CHECK(parse(tp, &card, err, sizeof(err)) == 0 && card.global_pool == 1);
    free(tp);
    kv nopool[] = {{"global_pool", "false"}};
    tp = card_with(nopool, 1);
    CHECK(parse(tp, &card, err, sizeof(err)) == 0 && card.global_pool == 0);
    free(tp);

    /* An empty receptive_field object gives zeros too. */
    kv rf[] = {{"receptive_field", "{}"}};
    char *t = card_with(rf, 1);
    CHECK(parse(t, &card, err, sizeof(err)) == 0);
    CHECK_EQ_INT(card.rf_spatial, 0);
    free(t);

    /* Unknown keys (top level and inside receptive_field) and the free-form
     * keys with any type are ignored. */
    kv extra[] = {{"future_key", "{\"a\": [1, 2, null]}"},
                  {"receptive_field", "{\"spatial\": 3, \"temporal\": 0, \"dilation\": \"x\"}"},
                  {"source", "42"}};
    t = card_with(extra, 3);
    CHECK_MSG(parse(t, &card, err, sizeof(err)) == 0, "%s", err);
    CHECK_EQ_INT(card.rf_spatial, 3);
    free(t);
}

/* The card with overrides must fail with a message containing needle. */
static void expect_fail(const kv *over, int n, const char *needle)
{
    char *t = card_with(over, n);
    CHECK(t != NULL);
    if (!t)
        return;
    vsr_model_card card;
    memset(&card, 0x77, sizeof(card));
    card.size = sizeof(card);
    vsr_model_card before = card;
    char err[512];
    int r = vsri_card_parse(t, strlen(t), &card, err, sizeof(err));
    CHECK_MSG(r == VSR_ERROR_MODEL, "%s: returned %d", t, r);
    CHECK_MSG(strstr(err, needle) != NULL, "%s:\n  message '%s'\n  should contain '%s'", t, err, needle);
    CHECK_MSG(strncmp(err, "model card: ", 12) == 0, "%s", err);
    CHECK_MSG(strcmp(vsr_last_error(), err) == 0, "last error '%s'", vsr_last_error());
    /* Nothing is written on failure. */
    CHECK(memcmp(&card, &before, sizeof(card)) == 0);
    free(t);
}

#define FAIL1(k, v, needle)                  \
    do {                                     \
        kv o_[] = {{(k), (v)}};              \
        expect_fail(o_, 1, (needle));        \
    } while (0)

/* text must be refused as invalid JSON naming the duplicated key. */
static void expect_duplicate(const char *text, const char *key)
{
    vsr_model_card card;
    char err[512], needle[128];
    CHECK_MSG(parse(text, &card, err, sizeof(err)) == VSR_ERROR_MODEL, "%s", text);
    snprintf(needle, sizeof(needle), "duplicate key \"%s\"", key);
    CHECK_MSG(strncmp(err, "model card: not valid JSON: line ", 33) == 0 && strstr(err, needle) != NULL,
              "%s:\n  message '%s'\n  should name %s", text, err, needle);
}

/* A key given twice is refused, whatever the key (jansson alone names only
 * short ones), wherever it is, even with the same value twice. */
static void test_duplicates(void)
{
    kv o[] = {{"a_key_much_longer_than_twenty_bytes", "1"}};
    char *t = card_with(o, 1);
    /* append the same key again before the closing brace */
    size_t n = strlen(t);
    char *twice = malloc(n + 64);
    CHECK(twice != NULL);
    if (twice) {
        snprintf(twice, n + 64, "%.*s, \"a_key_much_longer_than_twenty_bytes\": 1}", (int)(n - 1), t);
        expect_duplicate(twice, "a_key_much_longer_than_twenty_bytes");
        free(twice);
    }
    free(t);
    kv nested[] = {{"receptive_field", "{\"spatial\": 7, \"temporal\": 0, \"spatial\": 7}"}};
    t = card_with(nested, 1);
    expect_duplicate(t, "spatial");
    free(t);
    /* escaped quotes and backslashes in the key: the name is decoded */
    expect_duplicate("{\"format\": \"libvsr-model-card\", \"a\\\"b\\\\\": 1, \"a\\\"b\\\\\": 2}", "a\"b\\");
    expect_duplicate("{\"x\": {\"\\u00e9\": 1, \"\xC3\xA9\": 2}}", "\xC3\xA9");
    /* "version": 1 twice is no less a duplicate */
    expect_duplicate("{\"format\": \"libvsr-model-card\", \"version\": 1, \"version\": 1}", "version");
}

static void test_errors(void)
{
    /* Required keys. */
    FAIL1("format", NULL, "'format' must be \"libvsr-model-card\", got nothing");
    FAIL1("version", NULL, "missing required key 'version'");
    FAIL1("name", NULL, "missing required key 'name'");
    FAIL1("scale", NULL, "missing required key 'scale' (an integer from 1 to 16)");
    FAIL1("layout", NULL, "missing required key 'layout' (\"NCHW\" or \"NTCHW\")");
    FAIL1("range", NULL, "missing required key 'range'");
    FAIL1("channels", NULL, "missing required key 'channels' (\"rgb\")");

    /* format and version. */
    FAIL1("format", "\"libvsr-model-card-x\"", "got the string \"libvsr-model-card-x\": not a libvsr model card");
    FAIL1("format", "1", "'format' must be \"libvsr-model-card\", got 1");
    FAIL1("version", "2", "version 2 is newer than this libvsr reads (up to 1)");
    FAIL1("version", "17", "upgrade libvsr");
    FAIL1("version", "0", "'version' must be a positive integer, got 0");
    FAIL1("version", "1.5", "'version' must be a positive integer, got 1.5");
    FAIL1("version", "\"1\"", "'version' must be a positive integer, got the string \"1\"");

    /* name. */
    FAIL1("name", "\"\"", "'name' must be a string of 1 to 63 bytes");
    FAIL1("name", "\"0123456789012345678901234567890123456789012345678901234567890123\"", "(too long)");
    FAIL1("name", "\"a\\nb\"", "(has control characters)");
    FAIL1("name", "7", "'name' must be a string of 1 to 63 bytes without control characters, got 7");

    /* scale. */
    FAIL1("scale", "0", "'scale' must be an integer from 1 to 16, got 0");
    FAIL1("scale", "17", "'scale' must be an integer from 1 to 16, got 17");
    FAIL1("scale", "-2", "got -2");
    FAIL1("scale", "2.5", "got 2.5");
    FAIL1("scale", "\"2\"", "'scale' must be an integer from 1 to 16, got the string \"2\"");
    FAIL1("scale", "true", "got true");
    FAIL1("scale", "null", "got null");
    FAIL1("scale", "[2]", "got an array");
    FAIL1("scale", "{}", "got an object");
    FAIL1("scale", "1e300", "got 1e+300");
    FAIL1("scale", "99999999999999999999999", "got 1e+23");

    /* layout, channels, frames_out. */
    FAIL1("layout", "\"NHWC\"", "'layout' must be \"NCHW\" or \"NTCHW\", got the string \"NHWC\"");
    FAIL1("layout", "\"nchw\"", "got the string \"nchw\"");
    FAIL1("layout", "0", "'layout' must be \"NCHW\" or \"NTCHW\", got 0");
    FAIL1("channels", "\"bgr\"", "'channels' must be \"rgb\", got the string \"bgr\"");
    FAIL1("channels", "[\"r\",\"g\",\"b\"]", "'channels' must be \"rgb\", got an array");
    FAIL1("frames_out", "\"first\"", "'frames_out' must be \"all\" or \"center\", got the string \"first\"");
    FAIL1("frames_out", "1", "'frames_out' must be \"all\" or \"center\", got 1");

    /* range. */
    FAIL1("range", "[1, 0]", "'range' must be [min, max] with min < max, got [1, 0]");
    FAIL1("range", "[0.5, 0.5]", "min < max");
    FAIL1("range", "[0]", "'range' must be an array of two numbers [min, max], got an array of 1 values");
    FAIL1("range", "[0, 1, 2]", "got an array of 3 values");
    FAIL1("range", "[0, \"1\"]", "two values that are not both numbers");
    FAIL1("range", "{\"min\": 0, \"max\": 1}", "got an object");
    FAIL1("range", "1", "'range' must be an array of two numbers [min, max], got 1");
    FAIL1("range", "[0, 1e39]", "'range' values must be finite 32-bit floats");
    FAIL1("range", "[1, 1.00000000001]", "min < max"); /* equal as floats */

    /* frames_in, receptive_field, size_multiple, license. */
    FAIL1("frames_in", "-1", "'frames_in' must be an integer from 0 to 64, got -1");
    FAIL1("frames_in", "65", "got 65");
    FAIL1("frames_in", "\"3\"", "'frames_in' must be an integer from 0 to 64, got the string \"3\"");
    FAIL1("receptive_field", "20", "'receptive_field' must be an object");
    FAIL1("receptive_field", "[20, 0]", "'receptive_field' must be an object {\"spatial\": ..., \"temporal\": ...}, got an array");
    FAIL1("receptive_field", "{\"spatial\": 1025}", "'receptive_field.spatial' must be an integer from 0 to 1024, got 1025");
    FAIL1("receptive_field", "{\"spatial\": -1}", "'receptive_field.spatial' must be an integer from 0 to 1024, got -1");
    FAIL1("receptive_field", "{\"spatial\": \"big\"}", "'receptive_field.spatial' must be an integer from 0 to 1024, got the string \"big\"");
    FAIL1("receptive_field", "{\"temporal\": 65}", "'receptive_field.temporal' must be an integer from 0 to 64, got 65");
    FAIL1("receptive_field", "{\"temporal\": 0.5}", "'receptive_field.temporal' must be an integer from 0 to 64, got 0.5");
    FAIL1("size_multiple", "0", "'size_multiple' must be an integer from 1 to 64, got 0");
    FAIL1("size_multiple", "128", "got 128");
    FAIL1("size_multiple", "null", "got null");
    FAIL1("license", "5", "'license' must be a string of 0 to 31 bytes without control characters, got 5");
    FAIL1("license", "\"This license name is far too long\"", "(too long)");
    FAIL1("license", "\"ab\\u0001\"", "(has control characters)");
    FAIL1("global_pool", "1", "'global_pool' must be true or false, got 1");
    FAIL1("global_pool", "\"yes\"", "'global_pool' must be true or false, got the string \"yes\"");

    /* A long string value is quoted shortened, at a character boundary. */
    FAIL1("layout", "\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                    "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                    "\xC3\xA9\xC3\xA9\"",
          "\xC3\xA9\xC3\xA9...\"");

    /* Not an object, not JSON, empty, duplicated keys. */
    vsr_model_card card;
    char err[512];
    CHECK(parse("[1, 2]", &card, err, sizeof(err)) == VSR_ERROR_MODEL);
    CHECK_MSG(strstr(err, "model card: must be a JSON object, got an array") != NULL, "%s", err);
    CHECK(parse("\"card\"", &card, err, sizeof(err)) == VSR_ERROR_MODEL);
    CHECK_MSG(strstr(err, "got the string \"card\"") != NULL, "%s", err);
    CHECK(parse("{\"format\": \"libvsr-model-card\",\n \"version\": 1,}", &card, err, sizeof(err)) ==
          VSR_ERROR_MODEL);
    CHECK_MSG(strcmp(err, "model card: not valid JSON: line 2, column 15: string or '}' expected near '}'") == 0,
              "%s", err);
    CHECK(parse("", &card, err, sizeof(err)) == VSR_ERROR_MODEL);
    CHECK_MSG(strstr(err, "model card: not valid JSON: line 1, column 0: ") != NULL, "%s", err);
    CHECK(parse("{\"format\": \"libvsr-model-card\"} {}", &card, err, sizeof(err)) == VSR_ERROR_MODEL);
    CHECK_MSG(strstr(err, "model card: not valid JSON: line 1, column ") != NULL, "%s", err);
    kv dup[] = {{"scale2", "1"}};
    char *t = card_with(dup, 1);
    /* Turn "scale2" into a second "scale". */
    char *p = strstr(t, "\"scale2\"");
    memmove(p + 6, p + 7, strlen(p + 7) + 1);
    CHECK(parse(t, &card, err, sizeof(err)) == VSR_ERROR_MODEL);
    CHECK_MSG(strstr(err, "duplicate key \"scale\"") != NULL, "%s", err);
    free(t);
    test_duplicates();

    /* NULL/empty error buffers. */
    CHECK(vsri_card_parse("[]", 2, &card, NULL, 0) == VSR_ERROR_MODEL);
    CHECK(strstr(vsr_last_error(), "must be a JSON object") != NULL);
    card.size = 0;
    CHECK(vsri_card_parse(real_card, strlen(real_card), &card, err, sizeof(err)) == VSR_EINVAL);
    CHECK(strstr(err, "size") != NULL);
    CHECK(vsri_card_parse(real_card, strlen(real_card), NULL, err, sizeof(err)) == VSR_EINVAL);
}

static void test_consistency(void)
{
    kv nchw3[] = {{"frames_in", "3"}};
    expect_fail(nchw3, 1, "layout \"NCHW\" takes one frame per step: 'frames_in' must be 1, got 3");
    kv nchw0[] = {{"frames_in", "0"}};
    expect_fail(nchw0, 1, "'frames_in' must be 1, got 0");
    kv nchw_rf[] = {{"receptive_field", "{\"spatial\": 1, \"temporal\": 2}"}};
    expect_fail(nchw_rf, 1, "'receptive_field.temporal' must be 0, got 2");
    kv center_nchw[] = {{"frames_out", "\"center\""}};
    expect_fail(center_nchw, 1, "'frames_out' \"center\" needs layout \"NTCHW\"");
    kv center_even[] = {{"frames_out", "\"center\""}, {"layout", "\"NTCHW\""}, {"frames_in", "4"}};
    expect_fail(center_even, 3, "'frames_out' \"center\" needs an odd 'frames_in' of 3 or more, got 4");
    kv center_one[] = {{"frames_out", "\"center\""}, {"layout", "\"NTCHW\""}, {"frames_in", "1"}};
    expect_fail(center_one, 3, "got 1");
    kv center_any[] = {{"frames_out", "\"center\""}, {"layout", "\"NTCHW\""}, {"frames_in", "0"}};
    expect_fail(center_any, 3, "got 0");
    kv center_default[] = {{"frames_out", "\"center\""}, {"layout", "\"NTCHW\""}, {"frames_in", NULL}};
    expect_fail(center_default, 3, "got 1");

    /* Allowed: NTCHW with one frame per step, odd windows of 3 and 63. */
    vsr_model_card card;
    char err[512];
    kv nt1[] = {{"layout", "\"NTCHW\""}};
    char *t = card_with(nt1, 1);
    CHECK_MSG(parse(t, &card, err, sizeof(err)) == 0, "%s", err);
    free(t);
    kv c3[] = {{"frames_out", "\"center\""}, {"layout", "\"NTCHW\""}, {"frames_in", "3"}};
    t = card_with(c3, 3);
    CHECK_MSG(parse(t, &card, err, sizeof(err)) == 0, "%s", err);
    free(t);
    kv c63[] = {{"frames_out", "\"center\""}, {"layout", "\"NTCHW\""}, {"frames_in", "63"}};
    t = card_with(c63, 3);
    CHECK_MSG(parse(t, &card, err, sizeof(err)) == 0, "%s", err);
    free(t);
}

/* A caller built against an older header passes a smaller struct: at most
 * its size is written (a field cut by the size gets its first bytes); the
 * bytes after it are left alone; the size field tells how much was filled. */
static void test_struct_size(void)
{
    size_t sizes[] = {
        sizeof(uint32_t),
        offsetof(vsr_model_card, scale),
        offsetof(vsr_model_card, rf_spatial),
        offsetof(vsr_model_card, rf_spatial) + 2, /* ends inside rf_spatial */
        offsetof(vsr_model_card, license),
        sizeof(vsr_model_card),
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char buf[sizeof(vsr_model_card) + 16];
        memset(buf, 0xEE, sizeof(buf));
        vsr_model_card *card = (vsr_model_card *)(void *)buf;
        card->size = (uint32_t)sizes[i];
        char err[512];
        int r = vsri_card_parse(real_card, strlen(real_card), card, err, sizeof(err));
        CHECK_MSG(r == 0, "size %zu: %s", sizes[i], err);
        CHECK_EQ_INT(card->size, sizes[i]);
        size_t known = sizes[i];
        int untouched = 1;
        for (size_t b = known; b < sizeof(buf); b++)
            if (buf[b] != 0xEE)
                untouched = 0;
        CHECK_MSG(untouched, "size %zu: bytes beyond the struct were written", sizes[i]);
        if (sizes[i] > offsetof(vsr_model_card, name)) {
            CHECK(strcmp(card->name, "realesr-animevideov3-x2") == 0);
        }
        if (sizes[i] >= offsetof(vsr_model_card, rf_spatial)) {
            CHECK_EQ_INT(card->scale, 2);
            CHECK(card->range_max == 1.0f);
        }
        if (sizes[i] == sizeof(vsr_model_card)) {
            CHECK(strcmp(card->license, "BSD-3-Clause") == 0);
        }
    }

    /* A size larger than this libvsr knows: the known fields are filled,
     * the rest of the caller's struct zeroed, and the size says how much
     * was filled. */
    unsigned char big[sizeof(vsr_model_card) + 64];
    memset(big, 0xEE, sizeof(big));
    vsr_model_card *card = (vsr_model_card *)(void *)big;
    card->size = sizeof(big) - 16;
    CHECK(vsri_card_parse(real_card, strlen(real_card), card, NULL, 0) == 0);
    CHECK_EQ_INT(card->rf_spatial, 20);
    CHECK_EQ_INT(card->size, sizeof(vsr_model_card));
    for (size_t b = sizeof(vsr_model_card); b < sizeof(big); b++)
        CHECK(big[b] == (b < sizeof(big) - 16 ? 0 : 0xEE));
    /* no size: refused, nothing written */
    memset(big, 0xEE, sizeof(big));
    card->size = 0;
    CHECK(vsri_card_parse(real_card, strlen(real_card), card, NULL, 0) == VSR_EINVAL && big[4] == 0xEE);
}

int main(void)
{
    test_real_card();
    test_sequence_cards();
    test_defaults();
    test_errors();
    test_consistency();
    test_struct_size();
    return test_result("modelcard");
}
