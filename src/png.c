/* png.c — streaming PNG encoder on zlib (see include/cbas/png.h).
 *
 * File layout (PNG specification, ISO/IEC 15948): 8-byte signature, IHDR (bit depth 8, colour
 * type 0/2/6, no interlace), optional tEXt, IDAT chunks holding one zlib stream of
 * filtered scanlines (filter byte + W·C bytes per row), IEND.
 */
#include "cbas/png.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDAT_CAP 32768u /* compressed bytes per IDAT chunk */

struct png_writer {
  afile f;
  cbas_ctx *ctx;           /* for zlib's allocator callbacks */
  z_stream zs;
  int z_ready;
  uint32_t width, height, row;
  int channels, filter;
  size_t rowbytes;
  uint8_t *prev, *cur;     /* unfiltered previous / current row (rowbytes each) */
  uint8_t *filt;           /* filter type byte + filtered row */
  uint8_t *chunk;          /* 8-byte chunk header + IDAT_CAP data + 4-byte CRC */
};

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Writes one chunk whose type and data are already at buf + 4 (data length n); fills in the
 * length and the CRC (over type and data), which needs 4 spare bytes after the data. */
static int write_chunk(png_writer *w, uint8_t *buf, uint32_t n) {
  put32(buf, n);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, buf + 4, n + 4);
  put32(buf + 8 + n, (uint32_t)crc);
  return afile_write(w->ctx, &w->f, buf, (size_t)n + 12);
}

static int write_small_chunk(png_writer *w, const char *type, const void *data, uint32_t n) {
  uint8_t buf[12 + 512];
  if (n > 512) return ctx_fail(w->ctx, CBAS_EINTERNAL, "%s: chunk %s too long", w->f.path, type);
  memcpy(buf + 4, type, 4);
  if (n) memcpy(buf + 8, data, n);
  return write_chunk(w, buf, n);
}

static int write_text(png_writer *w, const char *key, const char *val) {
  char t[512];
  size_t kl = strlen(key), vl = strlen(val);
  if (vl > sizeof t - kl - 1) vl = sizeof t - kl - 1;
  memcpy(t, key, kl);
  t[kl] = 0;
  memcpy(t + kl + 1, val, vl);
  return write_small_chunk(w, "tEXt", t, (uint32_t)(kl + 1 + vl));
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  png_writer *w = opaque;
  return budget_alloc(w->ctx, (size_t)items * size, "PNG deflate state");
}
static void z_free(voidpf opaque, voidpf p) { budget_free(((png_writer *)opaque)->ctx, p); }

/* Emits the full IDAT buffer (or what is in it when flushing) and resets the output window. */
static int flush_idat(png_writer *w) {
  uint32_t n = IDAT_CAP - w->zs.avail_out;
  if (n && write_chunk(w, w->chunk, n)) return w->ctx->status;
  w->zs.next_out = w->chunk + 8;
  w->zs.avail_out = IDAT_CAP;
  return 0;
}

static int deflate_bytes(png_writer *w, const uint8_t *src, size_t n, int flush) {
  w->zs.next_in = (Bytef *)src;
  w->zs.avail_in = (uInt)n;
  for (;;) {
    int zr = deflate(&w->zs, flush);
    if (zr == Z_STREAM_ERROR || zr == Z_MEM_ERROR)
      return ctx_fail(w->ctx, CBAS_EINTERNAL, "%s: deflate failed (%d)", w->f.path, zr);
    if (w->zs.avail_out == 0) {
      if (flush_idat(w)) return w->ctx->status;
      continue;
    }
    if (flush == Z_FINISH ? zr == Z_STREAM_END : w->zs.avail_in == 0) return 0;
  }
}

int png_open(cbas_ctx *ctx, const char *path, const png_opts *o, png_writer **out) {
  *out = NULL;
  if (o->width == 0 || o->height == 0 || o->width > 0x7fffffffu || o->height > 0x7fffffffu)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: PNG size %ux%u is not in 1..2^31-1", path, o->width, o->height);
  if (o->channels != 1 && o->channels != 3 && o->channels != 4)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: PNG channels %d (expected 1, 3 or 4)", path, o->channels);
  if (o->zlevel < 0 || o->zlevel > 9)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: PNG deflate level %d not in 1..9", path, o->zlevel);
  if (o->filter < PNG_FILTER_ADAPTIVE || o->filter > PNG_FILTER_PAETH)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: PNG filter %d unknown", path, o->filter);
  uint64_t rb = (uint64_t)o->width * (uint64_t)o->channels;
  if (rb > ((size_t)-1) / 8) return ctx_fail(ctx, CBAS_EUSAGE, "%s: PNG row too wide", path);
  size_t rowbytes = (size_t)rb;
  size_t head = (sizeof(png_writer) + 63) & ~(size_t)63;
  size_t rows = (3 * rowbytes + 1 + 63) & ~(size_t)63;
  png_writer *w = budget_alloc(ctx, head + rows + IDAT_CAP + 12, "PNG writer");
  if (!w) return ctx->status;
  memset(w, 0, sizeof *w);
  w->ctx = ctx;
  w->width = o->width;
  w->height = o->height;
  w->channels = o->channels;
  w->filter = o->filter;
  w->rowbytes = rowbytes;
  w->prev = (uint8_t *)w + head;
  w->cur = w->prev + rowbytes;
  w->filt = w->cur + rowbytes;
  w->chunk = (uint8_t *)w + head + rows;
  memset(w->prev, 0, rowbytes); /* the row above the first is all zeros */
  w->f.fd = -1;
  if (afile_open(ctx, &w->f, path)) { budget_free(ctx, w); return ctx->status; }
  w->zs.zalloc = z_alloc;
  w->zs.zfree = z_free;
  w->zs.opaque = w;
  int zr = deflateInit(&w->zs, o->zlevel ? o->zlevel : PNG_DEFAULT_ZLEVEL);
  if (zr != Z_OK) {
    if (!ctx->status) ctx_fail(ctx, CBAS_ENOMEM, "%s: deflateInit failed (%d)", path, zr);
    png_abort(ctx, w);
    return ctx->status;
  }
  w->z_ready = 1;
  w->zs.next_out = w->chunk + 8;
  w->zs.avail_out = IDAT_CAP;
  memcpy(w->chunk + 4, "IDAT", 4);

  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  uint8_t ihdr[13];
  put32(ihdr, o->width);
  put32(ihdr + 4, o->height);
  ihdr[8] = 8;                                              /* bit depth */
  ihdr[9] = (uint8_t)(o->channels == 1 ? 0 : o->channels == 3 ? 2 : 6); /* colour type */
  ihdr[10] = ihdr[11] = ihdr[12] = 0;                        /* deflate, adaptive, no interlace */
  if (afile_write(ctx, &w->f, sig, 8) || write_small_chunk(w, "IHDR", ihdr, 13) ||
      (o->title && o->title[0] && write_text(w, "Title", o->title)) ||
      write_text(w, "Software", "cbas")) {
    png_abort(ctx, w);
    return ctx->status;
  }
  *out = w;
  return 0;
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/* Filters w->cur against w->prev into w->filt (type byte first). */
static void filter_row(png_writer *w) {
  const uint8_t *x = w->cur, *up = w->prev;
  size_t n = w->rowbytes, bpp = (size_t)w->channels;
  int type = w->filter ? w->filter - 1 : -1;
  if (type < 0) { /* minimum sum of absolute differences, as signed bytes, of None, Sub, Up */
    uint64_t s0 = 0, s1 = 0, s2 = 0;
    size_t i = 0;
    for (; i < bpp && i < n; i++) {
      s0 += (uint64_t)abs((int8_t)x[i]);
      s1 += (uint64_t)abs((int8_t)x[i]);
      s2 += (uint64_t)abs((int8_t)(uint8_t)(x[i] - up[i]));
    }
    for (; i < n; i++) {
      s0 += (uint64_t)abs((int8_t)x[i]);
      s1 += (uint64_t)abs((int8_t)(uint8_t)(x[i] - x[i - bpp]));
      s2 += (uint64_t)abs((int8_t)(uint8_t)(x[i] - up[i]));
    }
    type = s1 < s0 ? 1 : 0;
    if (s2 < (type ? s1 : s0)) type = 2;
  }
  uint8_t *o = w->filt + 1;
  w->filt[0] = (uint8_t)type;
  size_t i0 = bpp < n ? bpp : n;
  switch (type) { /* loops per type: None, Sub and Up vectorise */
  case 0: memcpy(o, x, n); break;
  case 1:
    memcpy(o, x, i0);
    for (size_t i = i0; i < n; i++) o[i] = (uint8_t)(x[i] - x[i - bpp]);
    break;
  case 2:
    for (size_t i = 0; i < n; i++) o[i] = (uint8_t)(x[i] - up[i]);
    break;
  default:
    for (size_t i = 0; i < n; i++) {
      int a = i >= bpp ? x[i - bpp] : 0, b = up[i], c = i >= bpp ? up[i - bpp] : 0;
      o[i] = (uint8_t)(x[i] - (type == 3 ? (a + b) >> 1 : paeth(a, b, c)));
    }
    break;
  }
}

int png_write_rows(cbas_ctx *ctx, png_writer *w, uint32_t n_rows, const uint8_t *rows, size_t stride) {
  if (n_rows > w->height - w->row)
    return ctx_fail(ctx, CBAS_EINTERNAL, "%s: %u rows pushed past the PNG height %u", w->f.path,
                    w->row + n_rows, w->height);
  for (uint32_t r = 0; r < n_rows; r++) {
    memcpy(w->cur, rows + (size_t)r * stride, w->rowbytes);
    filter_row(w);
    if (deflate_bytes(w, w->filt, w->rowbytes + 1, Z_NO_FLUSH)) return ctx->status;
    uint8_t *t = w->prev; w->prev = w->cur; w->cur = t;
    w->row++;
  }
  return 0;
}

int png_commit(cbas_ctx *ctx, png_writer *w) {
  if (w->row != w->height) {
    ctx_fail(ctx, CBAS_EINTERNAL, "%s: %u of %u PNG rows written", w->f.path, w->row, w->height);
    png_abort(ctx, w);
    return ctx->status;
  }
  if (deflate_bytes(w, NULL, 0, Z_FINISH) || flush_idat(w) || write_small_chunk(w, "IEND", NULL, 0)) {
    png_abort(ctx, w);
    return ctx->status;
  }
  deflateEnd(&w->zs);
  w->z_ready = 0;
  int st = afile_commit(ctx, &w->f);
  budget_free(ctx, w);
  return st;
}

void png_abort(cbas_ctx *ctx, png_writer *w) {
  if (!w) return;
  if (w->z_ready) deflateEnd(&w->zs);
  afile_abort(&w->f);
  budget_free(ctx, w);
}
