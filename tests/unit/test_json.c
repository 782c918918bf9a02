/* Tests of the strict JSON reader (lib/json.c). */
#include <locale.h>
#include <math.h>
#include <stdint.h>

#include "internal.h"
#include "json.h"
#include "testutil.h"

/* Parse s (exactly strlen(s) bytes, from a heap copy of that size so that a
 * sanitizer sees any read past the end). */
static int parse_exact(const char *s, size_t len, vsri_json **out, char *err, size_t errlen)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return VSR_ENOMEM;
    if (len)
        memcpy(copy, s, len);
    int r = vsri_json_parse(copy, len, out, err, errlen);
    free(copy);
    return r;
}

static vsri_json *parse_ok(const char *s)
{
    vsri_json *j = NULL;
    char err[256];
    int r = parse_exact(s, strlen(s), &j, err, sizeof(err));
    CHECK_MSG(r == 0 && j, "'%s' should parse: %s", s, err);
    return j;
}

/* The document must fail with a message that starts with the given
 * position and contains `needle`. */
static void expect_error(const char *s, size_t len, int line, int col, const char *needle)
{
    vsri_json *j = (vsri_json *)1;
    char err[256];
    int r = parse_exact(s, len, &j, err, sizeof(err));
    CHECK_MSG(r == VSR_ERROR_CONFIG, "'%.*s' should fail, returned %d", (int)len, s, r);
    CHECK(j == NULL);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "line %d, column %d: ", line, col);
    CHECK_MSG(strncmp(err, prefix, strlen(prefix)) == 0, "'%.*s': message '%s' should start with '%s'",
              (int)len, s, err, prefix);
    CHECK_MSG(strstr(err, needle) != NULL, "'%.*s': message '%s' should contain '%s'", (int)len, s,
              err, needle);
    if (r == 0)
        vsri_json_free(j);
}

#define EXPECT_ERROR(s, line, col, needle) expect_error((s), strlen(s), (line), (col), (needle))

static void test_scalars(void)
{
    vsri_json *j = parse_ok("null");
    CHECK(vsri_json_type_of(j) == VSRI_JSON_NULL);
    vsri_json_free(j);

    j = parse_ok(" true ");
    CHECK(vsri_json_type_of(j) == VSRI_JSON_BOOL);
    CHECK(vsri_json_bool(j, 0) == 1);
    vsri_json_free(j);

    j = parse_ok("false");
    CHECK(vsri_json_bool(j, 1) == 0);
    CHECK(vsri_json_number(j, 7.5) == 7.5); /* wrong type gives the default */
    CHECK(strcmp(vsri_json_string(j, "d"), "d") == 0);
    vsri_json_free(j);

    j = parse_ok("\t\r\n -12.5e1\n");
    CHECK(vsri_json_type_of(j) == VSRI_JSON_NUMBER);
    CHECK(vsri_json_number(j, 0) == -125.0);
    int64_t v = 0;
    CHECK(vsri_json_int(j, &v) == 0 && v == -125);
    vsri_json_free(j);

    j = parse_ok("\"hello\"");
    CHECK(vsri_json_type_of(j) == VSRI_JSON_STRING);
    CHECK(strcmp(vsri_json_string(j, NULL), "hello") == 0);
    CHECK(vsri_json_count(j) == 0);
    CHECK(vsri_json_at(j, 0) == NULL);
    vsri_json_free(j);

    /* A UTF-8 byte order mark is allowed before the document. */
    j = parse_ok("\xEF\xBB\xBF{\"a\":1}");
    CHECK(vsri_json_count(j) == 1);
    vsri_json_free(j);

    CHECK(strcmp(vsri_json_type_name(VSRI_JSON_NULL), "null") == 0);
    CHECK(strcmp(vsri_json_type_name(VSRI_JSON_BOOL), "boolean") == 0);
    CHECK(strcmp(vsri_json_type_name(VSRI_JSON_NUMBER), "number") == 0);
    CHECK(strcmp(vsri_json_type_name(VSRI_JSON_STRING), "string") == 0);
    CHECK(strcmp(vsri_json_type_name(VSRI_JSON_ARRAY), "array") == 0);
    CHECK(strcmp(vsri_json_type_name(VSRI_JSON_OBJECT), "object") == 0);

    /* NULL arguments are harmless. */
    CHECK(vsri_json_type_of(NULL) == VSRI_JSON_NULL);
    CHECK(vsri_json_get(NULL, "a") == NULL);
    CHECK(vsri_json_count(NULL) == 0);
    CHECK(vsri_json_int(NULL, &v) == -1);
    vsri_json_free(NULL);
}

static void test_structures(void)
{
    const char *doc =
        "{\n"
        "  \"name\": \"x\",\n"
        "  \"list\": [1, 2.5, \"three\", true, false, null, [], {}],\n"
        "  \"nested\": {\"a\": {\"b\": [[[]]]}},\n"
        "  \"\": \"empty key\"\n"
        "}";
    vsri_json *j = parse_ok(doc);
    CHECK(vsri_json_type_of(j) == VSRI_JSON_OBJECT);
    CHECK_EQ_INT(vsri_json_count(j), 4);
    CHECK(strcmp(vsri_json_key_at(j, 0), "name") == 0);
    CHECK(strcmp(vsri_json_key_at(j, 3), "") == 0);
    CHECK(vsri_json_key_at(j, 4) == NULL);
    CHECK(vsri_json_key_at(j, -1) == NULL);
    CHECK(strcmp(vsri_json_string(vsri_json_get(j, ""), NULL), "empty key") == 0);
    CHECK(vsri_json_get(j, "missing") == NULL);
    CHECK(vsri_json_at(j, 0) == vsri_json_get(j, "name"));

    const vsri_json *list = vsri_json_get(j, "list");
    CHECK(vsri_json_type_of(list) == VSRI_JSON_ARRAY);
    CHECK_EQ_INT(vsri_json_count(list), 8);
    CHECK(vsri_json_key_at(list, 0) == NULL);
    CHECK(vsri_json_get(list, "a") == NULL);
    CHECK(vsri_json_number(vsri_json_at(list, 1), 0) == 2.5);
    int64_t v;
    CHECK(vsri_json_int(vsri_json_at(list, 1), &v) == -1);
    CHECK(strcmp(vsri_json_string(vsri_json_at(list, 2), NULL), "three") == 0);
    CHECK(vsri_json_bool(vsri_json_at(list, 3), 0) == 1);
    CHECK(vsri_json_bool(vsri_json_at(list, 4), 1) == 0);
    CHECK(vsri_json_type_of(vsri_json_at(list, 5)) == VSRI_JSON_NULL);
    CHECK(vsri_json_type_of(vsri_json_at(list, 6)) == VSRI_JSON_ARRAY);
    CHECK(vsri_json_type_of(vsri_json_at(list, 7)) == VSRI_JSON_OBJECT);
    CHECK(vsri_json_at(list, 8) == NULL);

    const vsri_json *b = vsri_json_get(vsri_json_get(vsri_json_get(j, "nested"), "a"), "b");
    CHECK_EQ_INT(vsri_json_count(b), 1);
    CHECK_EQ_INT(vsri_json_count(vsri_json_at(vsri_json_at(b, 0), 0)), 0);
    vsri_json_free(j);

    /* Many members: the arrays grow. */
    vsri_strbuf sb;
    vsri_sb_init(&sb);
    vsri_sb_puts(&sb, "{");
    for (int i = 0; i < 1000; i++)
        vsri_sb_printf(&sb, "%s\"k%d\": [%d]", i ? "," : "", i, i);
    vsri_sb_puts(&sb, "}");
    j = parse_ok(sb.data);
    CHECK_EQ_INT(vsri_json_count(j), 1000);
    CHECK(vsri_json_int(vsri_json_at(vsri_json_get(j, "k999"), 0), &v) == 0 && v == 999);
    vsri_json_free(j);
    vsri_sb_free(&sb);
}

static void test_numbers(void)
{
    struct {
        const char *text;
        double value;
    } ok[] = {
        {"0", 0}, {"-0", -0.0}, {"1", 1}, {"-1", -1}, {"123456", 123456}, {"0.5", 0.5},
        {"-0.25", -0.25}, {"1e3", 1000}, {"1E3", 1000}, {"1e+3", 1000}, {"1e-3", 0.001},
        {"2.5E-1", 0.25}, {"1.7976931348623157e308", 1.7976931348623157e308},
        {"4.9e-324", 4.9e-324}, {"1e-400", 0.0} /* underflow to zero is not an error */,
        {"0.000000000000000000000000000000000000000001", 1e-42},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        vsri_json *j = parse_ok(ok[i].text);
        CHECK_MSG(vsri_json_number(j, NAN) == ok[i].value, "%s gave %.17g", ok[i].text,
                  vsri_json_number(j, NAN));
        vsri_json_free(j);
    }

    /* Integers: exact up to the int64 limits, including the ones a double
     * cannot represent. */
    int64_t v = 0;
    vsri_json *j = parse_ok("9223372036854775807");
    CHECK(vsri_json_int(j, &v) == 0 && v == INT64_MAX);
    vsri_json_free(j);
    j = parse_ok("-9223372036854775808");
    CHECK(vsri_json_int(j, &v) == 0 && v == INT64_MIN);
    vsri_json_free(j);
    j = parse_ok("9007199254740993");
    CHECK(vsri_json_int(j, &v) == 0 && v == 9007199254740993LL);
    vsri_json_free(j);
    j = parse_ok("9223372036854775808");
    CHECK(vsri_json_int(j, &v) == -1);
    CHECK(vsri_json_number(j, 0) == 9223372036854775808.0);
    vsri_json_free(j);
    j = parse_ok("-9223372036854775809");
    CHECK(vsri_json_int(j, &v) == -1);
    vsri_json_free(j);
    j = parse_ok("2.0");
    CHECK(vsri_json_int(j, &v) == 0 && v == 2);
    vsri_json_free(j);
    j = parse_ok("1e18");
    CHECK(vsri_json_int(j, &v) == 0 && v == 1000000000000000000LL);
    vsri_json_free(j);
    j = parse_ok("1e19");
    CHECK(vsri_json_int(j, &v) == -1);
    vsri_json_free(j);
    j = parse_ok("2.5");
    CHECK(vsri_json_int(j, &v) == -1);
    vsri_json_free(j);

    /* A very long literal (beyond the on-stack copy) still parses. */
    vsri_strbuf sb;
    vsri_sb_init(&sb);
    vsri_sb_puts(&sb, "[1");
    for (int i = 0; i < 300; i++)
        vsri_sb_puts(&sb, "0");
    vsri_sb_puts(&sb, ", 0.");
    for (int i = 0; i < 300; i++)
        vsri_sb_puts(&sb, "0");
    vsri_sb_puts(&sb, "1]");
    j = parse_ok(sb.data);
    CHECK(fabs(vsri_json_number(vsri_json_at(j, 0), 0) / 1e300 - 1) < 1e-12);
    CHECK(fabs(vsri_json_number(vsri_json_at(j, 1), 0) / 1e-301 - 1) < 1e-12);
    CHECK(vsri_json_int(vsri_json_at(j, 0), &v) == -1);
    vsri_json_free(j);
    vsri_sb_free(&sb);

    EXPECT_ERROR("1e309", 1, 1, "too large");
    EXPECT_ERROR("-1e400", 1, 1, "too large");
    EXPECT_ERROR("01", 1, 2, "leading zeros");
    EXPECT_ERROR("-01", 1, 3, "leading zeros");
    EXPECT_ERROR("1.", 1, 3, "decimal point");
    EXPECT_ERROR("1.e5", 1, 3, "decimal point");
    EXPECT_ERROR(".5", 1, 1, "unexpected '.'");
    EXPECT_ERROR("+1", 1, 1, "unexpected '+'");
    EXPECT_ERROR("-", 1, 2, "end of input");
    EXPECT_ERROR("-a", 1, 2, "expected a digit");
    EXPECT_ERROR("1e", 1, 3, "exponent");
    EXPECT_ERROR("1e+", 1, 4, "exponent");
    EXPECT_ERROR("0x10", 1, 2, "after the end of the document");
    EXPECT_ERROR("1 2", 1, 3, "after the end of the document");
    EXPECT_ERROR("NaN", 1, 1, "unexpected 'N'");
    EXPECT_ERROR("Infinity", 1, 1, "unexpected 'I'");
    EXPECT_ERROR("[-Infinity]", 1, 3, "expected a digit");
}

/* Numbers must not depend on the host's LC_NUMERIC (',' as decimal point). */
static void test_locale(void)
{
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *set = NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !set; i++)
        set = setlocale(LC_NUMERIC, names[i]);
    if (!set) {
        fprintf(stderr, "note: no locale with a decimal comma installed; locale test skipped\n");
        return;
    }
    vsri_json *j = parse_ok("[1.5, 2.25e1]");
    CHECK(vsri_json_number(vsri_json_at(j, 0), 0) == 1.5);
    CHECK(strtod("1.5", NULL) == 1.0); /* the locale is in effect */
    CHECK(vsri_json_number(vsri_json_at(j, 1), 0) == 22.5);
    vsri_json_free(j);
    setlocale(LC_NUMERIC, "C");
}

static void test_strings(void)
{
    vsri_json *j = parse_ok("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"");
    CHECK(strcmp(vsri_json_string(j, ""), "a\"b\\c/d\be\ff\ng\rh\ti") == 0);
    vsri_json_free(j);

    j = parse_ok("\"\\u0041\\u00e9\\u00E9\\u20ac\\uD83D\\uDE00\\u0001\\uFFFF\"");
    CHECK(strcmp(vsri_json_string(j, ""),
                 "A\xC3\xA9\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x01\xEF\xBF\xBF") == 0);
    vsri_json_free(j);

    /* Raw UTF-8 passes through unchanged (2-, 3- and 4-byte sequences). */
    j = parse_ok("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\"");
    CHECK(strcmp(vsri_json_string(j, ""), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF") == 0);
    vsri_json_free(j);

    j = parse_ok("\"\"");
    CHECK(strcmp(vsri_json_string(j, "x"), "") == 0);
    vsri_json_free(j);

    EXPECT_ERROR("\"\\u0000\"", 1, 2, "\\u0000 is not allowed");
    EXPECT_ERROR("\"ab\\uD800\"", 1, 4, "high surrogate");
    EXPECT_ERROR("\"\\uD800x\"", 1, 2, "not followed by a low surrogate");
    EXPECT_ERROR("\"\\uD800\\n\"", 1, 2, "not followed by a low surrogate");
    EXPECT_ERROR("\"\\uD800\\u0041\"", 1, 2, "not a low surrogate");
    EXPECT_ERROR("\"\\uD800\\uD800\"", 1, 2, "not a low surrogate");
    EXPECT_ERROR("\"\\uDC00\"", 1, 2, "lone low surrogate");
    EXPECT_ERROR("\"\\uDFFF\\uD800\"", 1, 2, "lone low surrogate");
    EXPECT_ERROR("\"\\u12\"", 1, 6, "four hexadecimal digits");
    EXPECT_ERROR("\"\\u12G4\"", 1, 6, "four hexadecimal digits");
    EXPECT_ERROR("\"\\uD800\\u12\"", 1, 12, "four hexadecimal digits");
    EXPECT_ERROR("\"\\x\"", 1, 2, "invalid escape");
    EXPECT_ERROR("\"\\'\"", 1, 2, "invalid escape");
    EXPECT_ERROR("\"a\tb\"", 1, 3, "control character U+0009");
    EXPECT_ERROR("\"a\nb\"", 1, 3, "control character U+000A");
    expect_error("\"a\0b\"", 5, 1, 3, "control character U+0000");
    EXPECT_ERROR("\"\x80\"", 1, 2, "invalid UTF-8");
    EXPECT_ERROR("\"\xC0\xAF\"", 1, 2, "invalid UTF-8");         /* overlong '/' */
    EXPECT_ERROR("\"\xE0\x80\xAF\"", 1, 2, "invalid UTF-8");     /* overlong */
    EXPECT_ERROR("\"\xED\xA0\x80\"", 1, 2, "invalid UTF-8");     /* encoded surrogate */
    EXPECT_ERROR("\"\xF4\x90\x80\x80\"", 1, 2, "invalid UTF-8"); /* above U+10FFFF */
    EXPECT_ERROR("\"\xF5\x80\x80\x80\"", 1, 2, "invalid UTF-8");
    EXPECT_ERROR("\"\xC3\"", 1, 2, "invalid UTF-8");             /* cut sequence */
    EXPECT_ERROR("\"\xE2\x82\"", 1, 2, "invalid UTF-8");
    EXPECT_ERROR("\"\xFF\"", 1, 2, "invalid UTF-8");
    EXPECT_ERROR("\"abc", 1, 5, "string that starts at line 1, column 1");
    EXPECT_ERROR("[\n  \"abc\\\"", 2, 9, "string that starts at line 2, column 3");
    EXPECT_ERROR("\"abc\\", 1, 6, "end of input");
    EXPECT_ERROR("'a'", 1, 1, "unexpected '''");
}

static void test_errors(void)
{
    EXPECT_ERROR("", 1, 1, "empty document");
    EXPECT_ERROR("   \n  ", 2, 3, "empty document");
    EXPECT_ERROR("{", 1, 2, "expected a string key");
    EXPECT_ERROR("[", 1, 2, "end of input");
    EXPECT_ERROR("[1,]", 1, 4, "unexpected ']'");
    EXPECT_ERROR("[1 2]", 1, 4, "expected ',' or ']'");
    EXPECT_ERROR("[,1]", 1, 2, "unexpected ','");
    EXPECT_ERROR("{\"a\":1,}", 1, 8, "expected a string key");
    EXPECT_ERROR("{\"a\" 1}", 1, 6, "expected ':'");
    EXPECT_ERROR("{\"a\":}", 1, 6, "expected a value");
    EXPECT_ERROR("{\"a\":1 \"b\":2}", 1, 8, "expected ',' or '}'");
    EXPECT_ERROR("{a:1}", 1, 2, "expected a string key");
    EXPECT_ERROR("{1:1}", 1, 2, "expected a string key");
    EXPECT_ERROR("{\"a\":1}}", 1, 8, "after the end of the document");
    EXPECT_ERROR("[]]", 1, 3, "after the end of the document");
    EXPECT_ERROR("{} {}", 1, 4, "after the end of the document");
    EXPECT_ERROR("tru", 1, 4, "end of input in literal");
    EXPECT_ERROR("truth", 1, 4, "expected 'true'");
    EXPECT_ERROR("nul", 1, 4, "expected 'null'");
    EXPECT_ERROR("fals e", 1, 5, "expected 'false'");
    EXPECT_ERROR("True", 1, 1, "unexpected 'T'");
    EXPECT_ERROR("[1]\x01", 1, 4, "character U+0001");
    EXPECT_ERROR("\xFF", 1, 1, "byte 0xff");
    EXPECT_ERROR("[1,\n 2,\n x]", 3, 2, "unexpected 'x'");
    /* Columns count characters, not bytes. */
    EXPECT_ERROR("[\"\xC3\xA9\xC3\xA9\", x]", 1, 8, "unexpected 'x'");
    /* Only space, tab, CR and LF are whitespace. */
    EXPECT_ERROR("[1,\f2]", 1, 4, "character U+000C");
    EXPECT_ERROR("[1,\xC2\xA0" "2]", 1, 4, "byte 0xc2");
    EXPECT_ERROR("\xEF\xBB", 1, 1, "byte 0xef");
    /* Comments are not JSON. */
    EXPECT_ERROR("{\"a\": 1 // no\n}", 1, 9, "unexpected '/'");

    /* Duplicate keys, in a small object and in one large enough to be
     * checked by sorting; the position is the second occurrence. */
    EXPECT_ERROR("{\"a\":1, \"a\":2}", 1, 9, "duplicate key \"a\"");
    EXPECT_ERROR("{\"x\":{\"a\":1,\n\"b\":{}, \"a\":[]}}", 2, 9, "duplicate key \"a\"");
    vsri_strbuf sb;
    vsri_sb_init(&sb);
    vsri_sb_puts(&sb, "{");
    for (int i = 0; i < 50; i++)
        vsri_sb_printf(&sb, "\"k%02d\":0,", i);
    vsri_sb_puts(&sb, "\"k17\":1}");
    char needle[] = "duplicate key \"k17\"";
    expect_error(sb.data, sb.len, 1, (int)sb.len - 8 + 1, needle);
    vsri_sb_free(&sb);
    /* Same text after escapes is the same key. */
    EXPECT_ERROR("{\"ab\":1, \"a\\u0062\":2}", 1, 10, "duplicate key \"ab\"");
    /* Keys differing only after the first character are distinct. */
    vsri_json *j = parse_ok("{\"ab\":1, \"ac\":2, \"a\":3}");
    CHECK_EQ_INT(vsri_json_count(j), 3);
    vsri_json_free(j);

    /* NULL or empty error buffers are accepted; json.c stands alone, so
     * the message goes only to the buffer (callers add the file name). */
    CHECK(vsri_json_parse("[", 1, &j, NULL, 0) == VSR_ERROR_CONFIG);
    char msg[128];
    CHECK(vsri_json_parse("[", 1, &j, msg, sizeof(msg)) == VSR_ERROR_CONFIG);
    CHECK(strstr(msg, "line 1, column 2") != NULL);
    char tiny[8];
    CHECK(vsri_json_parse("[", 1, &j, tiny, sizeof(tiny)) == VSR_ERROR_CONFIG);
    CHECK(strlen(tiny) == 7);
    CHECK(vsri_json_parse(NULL, 0, &j, NULL, 0) == VSR_ERROR_CONFIG);

    /* The parser stops at len: a valid prefix followed by junk is fine. */
    j = NULL;
    CHECK(vsri_json_parse("[1]garbage", 3, &j, NULL, 0) == 0);
    CHECK_EQ_INT(vsri_json_count(j), 1);
    vsri_json_free(j);
}

static void test_depth(void)
{
    /* 64 levels are allowed, 65 are not (arrays and objects alternate). */
    for (int depth = 63; depth <= 66; depth++) {
        vsri_strbuf sb;
        vsri_sb_init(&sb);
        for (int i = 0; i < depth; i++)
            vsri_sb_puts(&sb, i % 2 ? "{\"k\":" : "[");
        vsri_sb_puts(&sb, "0");
        for (int i = depth - 1; i >= 0; i--)
            vsri_sb_puts(&sb, i % 2 ? "}" : "]");
        vsri_json *j = NULL;
        char err[256];
        int r = parse_exact(sb.data, sb.len, &j, err, sizeof(err));
        if (depth <= 64) {
            CHECK_MSG(r == 0, "depth %d: %s", depth, err);
        } else {
            CHECK_MSG(r == VSR_ERROR_CONFIG, "depth %d should fail", depth);
            CHECK(strstr(err, "nesting deeper than 64") != NULL);
            /* The 65th opening bracket: characters "[" and "{\"k\":" alternate. */
            char prefix[64];
            snprintf(prefix, sizeof(prefix), "line 1, column %d:", 32 * 1 + 32 * 5 + 1);
            CHECK_MSG(strncmp(err, prefix, strlen(prefix)) == 0, "%s", err);
        }
        vsri_json_free(j);
        vsri_sb_free(&sb);
    }

    /* Very deep input fails quickly without deep recursion. */
    size_t n = 1000000;
    char *deep = malloc(n);
    CHECK(deep != NULL);
    if (deep) {
        memset(deep, '[', n);
        vsri_json *j = NULL;
        char err[256];
        CHECK(vsri_json_parse(deep, n, &j, err, sizeof(err)) == VSR_ERROR_CONFIG);
        CHECK(strstr(err, "line 1, column 65: nesting deeper") != NULL);
        free(deep);
    }
}

/* Every proper prefix of a document must fail cleanly (and the sanitizers
 * see a buffer of exactly that size). */
static void test_truncation(void)
{
    const char *doc =
        "{\"format\": \"libvsr-model-card\", \"version\": 1, \"name\": \"n\\u00e9\\ud83d\\ude00\",\n"
        " \"scale\": 2, \"range\": [0.0, 1.5e0, -2E-3], \"ok\": true, \"no\": false,\n"
        " \"nothing\": null, \"nested\": {\"a\": [[], {}, \"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]},\n"
        " \"utf8\": \"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"}";
    size_t len = strlen(doc);
    vsri_json *j = parse_ok(doc);
    CHECK(j != NULL);
    vsri_json_free(j);
    int failures = 0;
    for (size_t k = 0; k < len; k++) {
        char err[256];
        j = NULL;
        int r = parse_exact(doc, k, &j, err, sizeof(err));
        if (r != VSR_ERROR_CONFIG || j != NULL || strncmp(err, "line ", 5) != 0)
            failures++;
        vsri_json_free(j);
    }
    CHECK_EQ_INT(failures, 0);
}

/* Strings written with vsri_sb_json_string() read back unchanged. */
static void test_round_trip(void)
{
    char all[256];
    size_t n = 0;
    for (int c = 1; c < 128; c++)
        all[n++] = (char)c;
    all[n] = 0;
    const char *samples[] = {
        "", "plain", "quote \" backslash \\ slash /", "tab\tnewline\nreturn\r",
        "\x01\x02\x1f\x7f", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", all,
    };
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        vsri_strbuf sb;
        vsri_sb_init(&sb);
        vsri_sb_puts(&sb, "{");
        vsri_sb_json_string(&sb, samples[i]);
        vsri_sb_puts(&sb, ": ");
        vsri_sb_json_string(&sb, samples[i]);
        vsri_sb_puts(&sb, "}");
        CHECK(!sb.oom);
        vsri_json *j = parse_ok(sb.data);
        CHECK_MSG(j && strcmp(vsri_json_key_at(j, 0), samples[i]) == 0, "key %zu", i);
        CHECK_MSG(j && strcmp(vsri_json_string(vsri_json_at(j, 0), ""), samples[i]) == 0, "value %zu", i);
        vsri_json_free(j);
        vsri_sb_free(&sb);
    }

    /* Numbers written with vsri_sb_json_number() read back exactly. */
    double values[] = {0, -1, 3.141592653589793, 1e-300, 1.7976931348623157e308, -2.5e-7, 123456789012345.0};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        vsri_strbuf sb;
        vsri_sb_init(&sb);
        vsri_sb_json_number(&sb, values[i]);
        vsri_json *j = parse_ok(sb.data);
        CHECK_MSG(vsri_json_number(j, NAN) == values[i], "%s", sb.data);
        vsri_json_free(j);
        vsri_sb_free(&sb);
    }
}

int main(void)
{
    test_scalars();
    test_structures();
    test_numbers();
    test_locale();
    test_strings();
    test_errors();
    test_depth();
    test_truncation();
    test_round_trip();
    return test_result("json");
}
