/* png.h — a streaming PNG encoder (8-bit gray, RGB, RGBA) on zlib.
 *
 * The caller pushes rows top to bottom; the writer holds the zlib deflate state, the previous
 * and the current row and one filtered row, never the whole image. Each row gets the PNG filter
 * among None, Sub and Up with the smallest sum of absolute signed filtered bytes (the heuristic
 * of the PNG specification, section 12.8, without Average and Paeth: on cbas's figures and maps
 * they are never smaller by more than a few per cent and cost most of the time), unless a
 * fixed filter (any of the five) is asked for. Deflate level 3 by default: a network figure
 * (1400 x 600 RGB) deflates in a third of level 6's time, 64 instead of 47 kB.
 * Chunks: IHDR, optional tEXt "Title" and "Software", IDAT (one per 32 KiB of compressed data),
 * IEND; CRC-32 over type+data per chunk, the zlib stream carries its Adler-32.
 *
 * Output goes to "<path>.tmp<pid>" and is renamed into place by png_commit() (afile.h), so a
 * killed run never leaves a half PNG under the final name.
 *
 * Memory (from the run budget): 3·W·C + 32 KiB + zlib's deflate state (about 268 KiB for
 * windowBits 15, memLevel 8; zlib allocates it through the budget), W = width, C = channels.
 * Thread-safety: one writer is used by one thread at a time.
 */
#ifndef CBAS_PNG_H
#define CBAS_PNG_H
#include "cbas/ctx.h"
#include <stddef.h>
#include <stdint.h>

#define PNG_DEFAULT_ZLEVEL 3

/* Fixed filter choices; PNG_FILTER_ADAPTIVE (the default, 0) picks one per row. */
enum { PNG_FILTER_ADAPTIVE = 0, PNG_FILTER_NONE = 1, PNG_FILTER_SUB, PNG_FILTER_UP,
       PNG_FILTER_AVG, PNG_FILTER_PAETH };

typedef struct png_opts {
  uint32_t width, height;   /* pixels, 1 .. 2^31-1 */
  int channels;             /* 1 = gray, 3 = RGB, 4 = RGBA; 8 bits per sample */
  int zlevel;               /* 0 = default (PNG_DEFAULT_ZLEVEL); 1..9 */
  int filter;               /* PNG_FILTER_*; 0 = adaptive */
  const char *title;        /* NULL or Latin-1 text stored as tEXt "Title" */
} png_opts;

typedef struct png_writer png_writer;

/* Starts path (validates o: CBAS_EUSAGE naming the option). */
int png_open(cbas_ctx *ctx, const char *path, const png_opts *o, png_writer **out);
/* Appends n_rows rows; row r is width·channels bytes at rows + r·stride. */
int png_write_rows(cbas_ctx *ctx, png_writer *w, uint32_t n_rows, const uint8_t *rows,
                   size_t stride);
/* Checks that height rows arrived, ends the stream, writes IEND, renames into place; frees w. */
int png_commit(cbas_ctx *ctx, png_writer *w);
/* Discards the temporary file; frees w. Safe on NULL. */
void png_abort(cbas_ctx *ctx, png_writer *w);
#endif
