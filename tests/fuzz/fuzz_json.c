/*
 * libFuzzer target for the JSON reader (lib/json.c).
 *
 * Besides "no crash, no leak, no read past the input", it checks a round
 * trip: a document that parses is written back (strings with
 * vsri_sb_json_string()) and must parse again to the same tree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_value(vsri_strbuf *sb, const vsri_json *j)
{
    switch (vsri_json_type_of(j)) {
    case VSRI_JSON_NULL: vsri_sb_puts(sb, "null"); break;
    case VSRI_JSON_BOOL: vsri_sb_puts(sb, vsri_json_bool(j, 0) ? "true" : "false"); break;
    /* %.17g rather than vsri_sb_json_number(), which is exercised by the
     * unit tests: 17 significant digits give the same double back. */
    case VSRI_JSON_NUMBER: vsri_sb_printf(sb, "%.17g", vsri_json_number(j, 0)); break;
    case VSRI_JSON_STRING: vsri_sb_json_string(sb, vsri_json_string(j, "")); break;
    case VSRI_JSON_ARRAY:
    case VSRI_JSON_OBJECT: {
        int object = vsri_json_type_of(j) == VSRI_JSON_OBJECT;
        vsri_sb_puts(sb, object ? "{" : "[");
        for (int i = 0; i < vsri_json_count(j); i++) {
            if (i)
                vsri_sb_puts(sb, ",");
            if (object) {
                vsri_sb_json_string(sb, vsri_json_key_at(j, i));
                vsri_sb_puts(sb, ":");
            }
            write_value(sb, vsri_json_at(j, i));
        }
        vsri_sb_puts(sb, object ? "}" : "]");
        break;
    }
    }
}

static int same_tree(const vsri_json *a, const vsri_json *b)
{
    if (vsri_json_type_of(a) != vsri_json_type_of(b))
        return 0;
    switch (vsri_json_type_of(a)) {
    case VSRI_JSON_NULL: return 1;
    case VSRI_JSON_BOOL: return vsri_json_bool(a, 0) == vsri_json_bool(b, 0);
    case VSRI_JSON_NUMBER: return vsri_json_number(a, 0) == vsri_json_number(b, 0);
    case VSRI_JSON_STRING: return strcmp(vsri_json_string(a, ""), vsri_json_string(b, "")) == 0;
    case VSRI_JSON_ARRAY:
    case VSRI_JSON_OBJECT:
        if (vsri_json_count(a) != vsri_json_count(b))
            return 0;
        for (int i = 0; i < vsri_json_count(a); i++) {
            const char *ka = vsri_json_key_at(a, i), *kb = vsri_json_key_at(b, i);
            if ((ka || kb) && (!ka || !kb || strcmp(ka, kb) != 0))
                return 0;
            if (ka && vsri_json_get(a, ka) != vsri_json_at(a, i))
                return 0; /* keys are unique, so lookup finds this member */
            if (!same_tree(vsri_json_at(a, i), vsri_json_at(b, i)))
                return 0;
        }
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vsri_json *j = NULL;
    char err[256];
    int r = vsri_json_parse((const char *)data, size, &j, err, sizeof(err));
    if (r < 0) {
        if (j || strncmp(err, "line ", 5) != 0) {
            fprintf(stderr, "error without a position or with a tree: '%s'\n", err);
            abort();
        }
        return 0;
    }
    int64_t iv;
    (void)vsri_json_int(j, &iv);

    vsri_strbuf sb;
    vsri_sb_init(&sb);
    write_value(&sb, j);
    if (sb.oom) {
        vsri_sb_free(&sb);
        vsri_json_free(j);
        return 0;
    }
    vsri_json *again = NULL;
    r = vsri_json_parse(sb.data, sb.len, &again, err, sizeof(err));
    if (r < 0 || !same_tree(j, again)) {
        fprintf(stderr, "round trip failed (%s): %s\n", r < 0 ? err : "different tree", sb.data);
        abort();
    }
    vsri_json_free(again);
    vsri_json_free(j);
    vsri_sb_free(&sb);
    return 0;
}
