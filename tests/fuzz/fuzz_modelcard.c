/*
 * libFuzzer target for the model card parser (lib/modelcard.c): any input
 * must give either an error with a "model card: " message, or a card whose
 * fields are all within the schema's limits. Each input is also parsed
 * into an older, smaller struct, which must get the same leading fields.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "modelcard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "model card invariant broken: %s (%s)\n", what, detail);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vsr_model_card card;
    memset(&card, 0, sizeof(card));
    card.size = sizeof(card);
    char err[512];
    int r = vsri_card_parse((const char *)data, size, &card, err, sizeof(err));
    if (r < 0) {
        if (r != VSR_ERROR_MODEL && r != VSR_ENOMEM)
            fail("unexpected error code", err);
        if (strncmp(err, "model card: ", 12) != 0)
            fail("message without the 'model card: ' prefix", err);
        return 0;
    }
    if (!memchr(card.name, 0, sizeof(card.name)) || !card.name[0])
        fail("name", "empty or not terminated");
    if (!memchr(card.license, 0, sizeof(card.license)))
        fail("license", "not terminated");
    if (card.scale < 1 || card.scale > 16)
        fail("scale", card.name);
    if (card.frames_in < 0 || card.frames_in > 64)
        fail("frames_in", card.name);
    if (card.layout != VSR_LAYOUT_NCHW && card.layout != VSR_LAYOUT_NTCHW)
        fail("layout", card.name);
    if (!isfinite(card.range_min) || !isfinite(card.range_max) || !(card.range_min < card.range_max))
        fail("range", card.name);
    if (card.rf_spatial < 0 || card.rf_spatial > 1024 || card.rf_temporal < 0 || card.rf_temporal > 64)
        fail("receptive_field", card.name);
    if (card.size_multiple < 1 || card.size_multiple > 64)
        fail("size_multiple", card.name);
    if (card.layout == VSR_LAYOUT_NCHW && (card.frames_in != 1 || card.rf_temporal != 0))
        fail("NCHW consistency", card.name);
    if (card.center_only && (card.layout != VSR_LAYOUT_NTCHW || card.frames_in < 3 || card.frames_in % 2 == 0))
        fail("center consistency", card.name);

    /* An older caller's struct that ends before rf_spatial. */
    vsr_model_card old;
    memset(&old, 0xA5, sizeof(old));
    old.size = (uint32_t)offsetof(vsr_model_card, rf_spatial);
    if (vsri_card_parse((const char *)data, size, &old, NULL, 0) != 0)
        fail("smaller struct", "refused what the full struct accepted");
    if (strcmp(old.name, card.name) != 0 || old.scale != card.scale || old.range_max != card.range_max)
        fail("smaller struct", "fields differ");
    const unsigned char *tail = (const unsigned char *)&old + old.size;
    for (size_t i = 0; i < sizeof(old) - old.size; i++)
        if (tail[i] != 0xA5)
            fail("smaller struct", "written past its size");
    return 0;
}
