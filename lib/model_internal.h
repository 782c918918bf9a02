/*
 * vsr_model internals: a loaded TorchScript module (through the shim),
 * its card, and what was measured of it at load time.
 */
#ifndef LIBVSR_MODEL_INTERNAL_H
#define LIBVSR_MODEL_INTERNAL_H

#include <stdatomic.h>

#include "internal.h"
#include "torch_shim.h"

struct vsr_model {
    atomic_int refs;
    vsrt_model *shim;
    vsr_model_card card;
    char *path;
    vsr_precision precision;  /* resolved, never AUTO */
    char device[32];
    int cuda;
    /* from the warm-up pass: activation memory per input pixel of one frame
     * (bytes) and time per input pixel (ns); used to size tiles and chunks */
    double bytes_per_pixel;
    double ns_per_pixel;
    char card_sha256[65]; /* of the card's text: the start-up cache checks it */
};

/* Run the model; errors become VSR_ERROR_MODEL_RUN / VSR_ERROR_DEVICE_OOM
 * with a message naming the model and the input shape. */
int vsri_model_forward(vsr_model *m, const float *input, const int64_t *shape, int ndim,
                       vsrt_result **res, vsrt_timing *timing);

/* Frames the model consumes per step for a warm-up or check (1, T, or 3 for "any"). */
int vsri_model_step_frames(const vsr_model_card *c);

#endif /* LIBVSR_MODEL_INTERNAL_H */
