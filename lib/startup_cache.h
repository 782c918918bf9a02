/*
 * The start-up cache: what vsr_model_open() measured to resolve "auto"
 * precision on the CPU (fp32 against bf16, memory and time per pixel),
 * kept on disk so that the next process loads at once.
 *
 * Where: $VSR_CACHE_DIR, else $XDG_CACHE_HOME/libvsr, else
 * ~/.cache/libvsr. One small JSON file per machine, model path and thread
 * count (startup-<hash>.json), written atomically (a temporary file renamed
 * into place). The file holds its whole key: the machine (CPU model, CPU
 * flags, online cores, the libvsr version and build line, which names the
 * libtorch version), the model file (real path, size, modification time;
 * the card's SHA-256 is in the choice and compared after loading) and the
 * thread count. Anything different: measured again, file replaced.
 * A damaged file is ignored with a warning; a directory that cannot be
 * written is warned about once per process, and loading goes on.
 */
#ifndef LIBVSR_STARTUP_CACHE_H
#define LIBVSR_STARTUP_CACHE_H

#include <stddef.h>

#include "libvsr/model.h"

typedef struct vsri_startup_choice {
    vsr_precision precision;  /* fp32 or bf16 */
    double bytes_per_pixel;   /* of the chosen precision (vsr_model_info) */
    double ns_per_pixel;
    double fp32_ns_per_pixel; /* what was compared; bf16 -1 when not measured */
    double bf16_ns_per_pixel;
    char card_sha256[65];     /* hex SHA-256 of the model card's text */
} vsri_startup_choice;

/* The choice stored for this model file and thread count on this machine:
 * 1 and *out, or 0 (none, or stale: the reason is logged at info level, a
 * damaged file at warning level). The file's path goes to file[cap]. */
int vsri_startup_cache_get(const char *model_path, int threads, vsri_startup_choice *out, char *file,
                           size_t cap);

/* Store a choice (replacing any). Failures are warned about once per
 * process and otherwise ignored: the cache only saves time. */
void vsri_startup_cache_put(const char *model_path, int threads, const vsri_startup_choice *choice);

/* Hex SHA-256 of data[0..len) into hex[65]. */
void vsri_sha256_hex(const void *data, size_t len, char hex[65]);

#endif /* LIBVSR_STARTUP_CACHE_H */
