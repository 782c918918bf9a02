/*
 * Model cards: the libvsr.json stored in every model file, which tells
 * libvsr how to feed the network (scale, layout, frames per step, value
 * range, receptive field). docs/model-card.md and tools/modelcard.py
 * describe the same schema.
 */
#ifndef LIBVSR_MODELCARD_H
#define LIBVSR_MODELCARD_H

#include <stddef.h>

#include "libvsr/model.h"

/* Highest card format version this libvsr reads. */
#define VSRI_CARD_VERSION 1

/*
 * Parse and validate the card text json[0..len) (need not be
 * NUL-terminated) into *card. card->size must be set by the caller
 * (sizeof(vsr_model_card) of the caller's header): only fields that fit
 * are written, and nothing is written unless the whole card is valid.
 * Unknown keys are ignored; optional keys take their defaults.
 * Returns 0, or VSR_ERROR_MODEL with a message such as
 * "model card: 'scale' must be an integer from 1 to 16, got 0" in err
 * (and in vsr_last_error()); VSR_EINVAL if card->size is not set.
 */
int vsri_card_parse(const char *json, size_t len, vsr_model_card *card, char *err, size_t errlen);

#endif /* LIBVSR_MODELCARD_H */
