/* A minimal PNG writer (see png_write.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "png_write.h"

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One chunk: length, type, data, CRC of type and data. */
static int write_chunk(FILE *f, const char *type, const uint8_t *data, size_t n)
{
    uint8_t head[8];
    put32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    uint32_t crc = crc_update(0xffffffffu, (const uint8_t *)type, 4);
    crc = crc_update(crc, data, n) ^ 0xffffffffu;
    uint8_t tail[4];
    put32(tail, crc);
    return fwrite(head, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) && fwrite(tail, 1, 4, f) == 4 ? 0
                                                                                                            : -1;
}

int png_write_rgb24(const char *path, const uint8_t *rgb, int width, int height, ptrdiff_t stride)
{
    if (!path || !rgb || width <= 0 || height <= 0 || width > (1 << 24) / 3)
        return EINVAL;
    crc_init();
    /* The zlib stream of the filtered rows (filter byte 0 before each row),
     * in stored deflate blocks of at most 65535 bytes. */
    size_t row = (size_t)width * 3 + 1, raw = row * (size_t)height;
    size_t blocks = raw / 65535 + 1;
    size_t zlen = 2 + raw + blocks * 5 + 4;
    uint8_t *z = malloc(zlen);
    uint8_t *line = malloc(row);
    if (!z || !line) {
        free(z);
        free(line);
        return ENOMEM;
    }
    size_t zp = 0, left = raw;
    uint32_t a = 1, b = 0; /* Adler-32 of the uncompressed data */
    z[zp++] = 0x78;
    z[zp++] = 0x01;
    int y = 0;
    size_t in_line = row; /* bytes of `line` already emitted */
    while (left > 0) {
        size_t n = left < 65535 ? left : 65535;
        z[zp++] = left == n ? 1 : 0; /* BFINAL on the last block, BTYPE 00 (stored) */
        z[zp++] = (uint8_t)(n & 0xff);
        z[zp++] = (uint8_t)(n >> 8);
        z[zp++] = (uint8_t)(~n & 0xff);
        z[zp++] = (uint8_t)((~n >> 8) & 0xff);
        for (size_t k = 0; k < n; k++) {
            if (in_line == row) {
                line[0] = 0;
                memcpy(line + 1, rgb + (ptrdiff_t)y * stride, row - 1);
                y++;
                in_line = 0;
            }
            uint8_t v = line[in_line++];
            z[zp++] = v;
            a = (a + v) % 65521;
            b = (b + a) % 65521;
        }
        left -= n;
    }
    put32(z + zp, (b << 16) | a);
    zp += 4;
    free(line);

    uint8_t ihdr[13];
    put32(ihdr, (uint32_t)width);
    put32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: RGB */
    ihdr[10] = ihdr[11] = ihdr[12] = 0; /* deflate, adaptive filtering, no interlace */
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        free(z);
        return e;
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int bad = fwrite(sig, 1, 8, f) != 8 || write_chunk(f, "IHDR", ihdr, 13) < 0 || write_chunk(f, "IDAT", z, zp) < 0 ||
              write_chunk(f, "IEND", NULL, 0) < 0;
    int e = bad ? errno : 0;
    free(z);
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        remove(path);
        return e ? e : EIO;
    }
    return 0;
}
