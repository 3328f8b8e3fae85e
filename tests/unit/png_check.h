/* png_check.h — test helpers that read PNG files back without cbas's own code paths:
 * decoding through Pillow (tests/interop/png_decode.py) or GDAL (gdal_translate, libpng), and a
 * structural check written here from the PNG specification (chunk CRC-32 computed bit by bit,
 * IHDR fields, Adler-32 of the inflated scanlines computed by hand). */
#ifndef CBAS_TEST_PNG_CHECK_H
#define CBAS_TEST_PNG_CHECK_H
#include <stddef.h>
#include <stdint.h>

enum { PNGCK_PIL = 0, PNGCK_GDAL = 1 };
/* Decodes path; returns a malloc'd row-major interleaved 8-bit buffer (free()), or NULL with the
 * reason printed to stdout. */
uint8_t *pngck_decode(const char *path, int decoder, uint32_t *w, uint32_t *h, int *channels);
/* Walks the chunks: returns 0, or -1 with the reason in why. *n_idat receives the IDAT count,
 * *filters_used a bit mask (1 << filter type) of the row filters found in the scanlines. */
int pngck_structure(const char *path, uint32_t w, uint32_t h, int channels, int *n_idat,
                    unsigned *filters_used, char *why, size_t cap);
#endif
