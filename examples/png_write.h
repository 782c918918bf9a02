/*
 * A minimal PNG writer for vsr-cli's --compare picture: 8-bit RGB,
 * uncompressed (stored) deflate blocks, so it needs no zlib. The pictures
 * are a few crops, so size does not matter; any PNG reader opens them.
 */
#ifndef VSR_PNG_WRITE_H
#define VSR_PNG_WRITE_H

#include <stddef.h>
#include <stdint.h>

/* Write width x height RGB24 pixels (rows `stride` bytes apart) to path.
 * Returns 0, or an errno value (the file is removed on a write error). */
int png_write_rgb24(const char *path, const uint8_t *rgb, int width, int height, ptrdiff_t stride);

#endif /* VSR_PNG_WRITE_H */
