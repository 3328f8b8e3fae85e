/* test_gtiff.c — GeoTIFF reader and writer.
 *
 * Reader tests use TIFF files assembled byte by byte here (tb_* below: an independent little
 * TIFF writer, both byte orders), so the reader is checked against values computed from a
 * formula, not against our own writer. Writer tests round-trip through the reader and check the
 * values against the same formulas; tests/interop/gtiff_gdal_*.sh check both sides with GDAL.
 * Also: injected write/fsync/rename/read faults, budget too small, corrupt/truncated/unsupported
 * files (errors must name the file), concurrent readers; strips encoded and decoded in parallel
 * (same bytes as libtiff's encoder for any thread count and budget; gt_read_bands on 1 and 4
 * threads against formulas, on files of our writer and of libtiff with predictors 1, 2, 3).
 *
 * `test_gtiff --samples DIR` only writes the sample files that tests/interop/gtiff_gdal_write.sh
 * checks with GDAL (see write_samples for their content).
 */
#include "check.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* ---- a minimal independent TIFF assembler ------------------------------------------------- */

enum { T_BYTE = 1, T_ASCII = 2, T_SHORT = 3, T_LONG = 4, T_DOUBLE = 12 };
typedef struct tb_entry { uint16_t tag, type; uint32_t count; uint8_t inl[4]; uint32_t off; int is_inline; } tb_entry;
typedef struct tb {
  uint8_t *d;
  size_t n, cap;
  int be;
  tb_entry e[40];
  int ne;
} tb;

static void tb_put(tb *t, uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[t->be ? bytes - 1 - i : i] = (uint8_t)(v >> (8 * i));
}
static uint32_t tb_reserve(tb *t, size_t n) {
  while (t->n & 3) t->d[t->n++] = 0; /* word alignment */
  if (t->n + n + 16 > t->cap) {
    t->cap = (t->n + n + 16) * 2;
    t->d = realloc(t->d, t->cap);
  }
  uint32_t off = (uint32_t)t->n;
  memset(t->d + off, 0, n);
  t->n += n;
  return off;
}
static void tb_init(tb *t, int be) {
  memset(t, 0, sizeof *t);
  t->be = be;
  tb_reserve(t, 8);
  t->d[0] = t->d[1] = be ? 'M' : 'I';
  tb_put(t, t->d + 2, 42, 2);
}
/* Appends n samples of `bytes` bytes each (values as uint64 bit patterns) in file byte order. */
static uint32_t tb_samples(tb *t, const uint64_t *v, size_t n, int bytes) {
  uint32_t off = tb_reserve(t, n * (size_t)bytes);
  for (size_t i = 0; i < n; i++) tb_put(t, t->d + off + i * (size_t)bytes, v[i], bytes);
  return off;
}
static uint32_t tb_raw(tb *t, const void *p, size_t n) {
  uint32_t off = tb_reserve(t, n);
  memcpy(t->d + off, p, n);
  return off;
}
static int type_bytes(int type) { return type == T_SHORT ? 2 : type == T_LONG ? 4 : type == T_DOUBLE ? 8 : 1; }
/* An entry with integer values (BYTE/ASCII/SHORT/LONG) or bit patterns of doubles. */
static void tb_tag(tb *t, uint16_t tag, uint16_t type, uint32_t count, const uint64_t *v) {
  tb_entry *e = &t->e[t->ne++];
  int b = type_bytes(type);
  e->tag = tag; e->type = type; e->count = count;
  if ((size_t)count * b <= 4) {
    e->is_inline = 1;
    for (uint32_t i = 0; i < count; i++) {
      uint8_t tmp[8];
      tb_put(t, tmp, v[i], b);
      memcpy(e->inl + i * b, tmp, b);
    }
  } else {
    e->off = tb_samples(t, v, count, b);
  }
}
static void tb_tag1(tb *t, uint16_t tag, uint16_t type, uint64_t v) { tb_tag(t, tag, type, 1, &v); }
static void tb_tag_d(tb *t, uint16_t tag, uint32_t count, const double *v) {
  uint64_t bits[16];
  for (uint32_t i = 0; i < count; i++) memcpy(&bits[i], &v[i], 8);
  tb_tag(t, tag, T_DOUBLE, count, bits);
}
static void tb_tag_s(tb *t, uint16_t tag, const char *s) {
  uint64_t v[600];
  size_t n = strlen(s) + 1;
  for (size_t i = 0; i < n; i++) v[i] = (uint8_t)s[i];
  tb_tag(t, tag, T_ASCII, (uint32_t)n, v);
}
static int cmp_entry(const void *a, const void *b) {
  return (int)((const tb_entry *)a)->tag - (int)((const tb_entry *)b)->tag;
}
/* Writes the IFD and saves the file; frees t. */
static int tb_save(tb *t, const char *path) {
  qsort(t->e, (size_t)t->ne, sizeof t->e[0], cmp_entry);
  uint32_t ifd = tb_reserve(t, 2 + 12 * (size_t)t->ne + 4);
  tb_put(t, t->d + 4, ifd, 4);
  tb_put(t, t->d + ifd, (uint64_t)t->ne, 2);
  for (int i = 0; i < t->ne; i++) {
    uint8_t *p = t->d + ifd + 2 + 12 * i;
    tb_put(t, p, t->e[i].tag, 2);
    tb_put(t, p + 2, t->e[i].type, 2);
    tb_put(t, p + 4, t->e[i].count, 4);
    if (t->e[i].is_inline) memcpy(p + 8, t->e[i].inl, 4);
    else tb_put(t, p + 8, t->e[i].off, 4);
  }
  int fd, e = plat_open(path, PLAT_WRONLY | PLAT_CREATE | PLAT_TRUNC, &fd);
  if (!e) { e = plat_pwrite(fd, t->d, t->n, 0); plat_close(fd); }
  free(t->d);
  t->d = NULL;
  return e;
}
static int put_file(const char *path, const void *p, size_t n) {
  int fd, e = plat_open(path, PLAT_WRONLY | PLAT_CREATE | PLAT_TRUNC, &fd);
  if (e) return e;
  e = n ? plat_pwrite(fd, p, n, 0) : 0;
  plat_close(fd);
  return e;
}
static int exists(const char *path) {
  plat_stat st;
  return plat_stat_path(path, &st) == 0 && st.exists;
}
static const char *tmp_name(const char *path) {
  static char b[1300];
  snprintf(b, sizeof b, "%s.tmp%d", path, plat_pid());
  return b;
}

/* ---- formulas ----------------------------------------------------------------------------- */

static double u16_val(uint32_t x, uint32_t y) { return 1000 + 37 * y + 3 * x; }
static double i32_val(uint32_t x, uint32_t y, uint32_t b) { return (b ? -1.0 : 1.0) * (x * 100.0 + y) - 5; }
static double f64_val(uint32_t x, uint32_t y, uint32_t b) { return b * 1e6 + y * 0.001 - x * 1.5; }
/* Writer test values: NaN at a sprinkle of pixels, else exact in float32. */
static float f32_val(uint32_t x, uint32_t y, uint32_t b) {
  if ((x + 2 * y + b) % 5 == 0) return NAN;
  return (float)(b * 1000.0 + y * 10.0 + x * 0.25 - 7.0);
}
static uint8_t u8_val(uint32_t x, uint32_t y) { return (uint8_t)((x * 7 + y * 3) % 251); }

static uint64_t bits_d(double v) { uint64_t b; memcpy(&b, &v, 8); return b; }

/* The 11x7 big-endian uint16 file: strips of 3 rows (last strip 1 row), uncompressed. */
static int make_u16_be(const char *path) {
  tb t;
  tb_init(&t, 1);
  uint32_t w = 11, h = 7, rps = 3, offs[3];
  uint64_t cnt[3], v[33];
  for (uint32_t s = 0; s < 3; s++) {
    uint32_t rows = s == 2 ? 1 : rps;
    for (uint32_t i = 0; i < rows * w; i++) v[i] = (uint64_t)u16_val(i % w, s * rps + i / w);
    offs[s] = tb_samples(&t, v, rows * w, 2);
    cnt[s] = rows * w * 2;
  }
  uint64_t o64[3] = {offs[0], offs[1], offs[2]};
  tb_tag1(&t, 256, T_SHORT, w);
  tb_tag1(&t, 257, T_SHORT, h);
  tb_tag1(&t, 258, T_SHORT, 16);
  tb_tag1(&t, 259, T_SHORT, 1);
  tb_tag1(&t, 262, T_SHORT, 1);
  tb_tag(&t, 273, T_LONG, 3, o64);
  tb_tag1(&t, 277, T_SHORT, 1);
  tb_tag1(&t, 278, T_SHORT, rps);
  tb_tag(&t, 279, T_LONG, 3, cnt);
  /* Georeferencing: PixelIsPoint, scale (2, 3), tiepoint (0,0) -> (100, 200), UTM 33N. */
  double scale[3] = {2, 3, 0}, tie[6] = {0, 0, 0, 100, 200, 0};
  tb_tag_d(&t, 33550, 3, scale);
  tb_tag_d(&t, 33922, 6, tie);
  uint64_t keys[] = {1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 2, 3072, 0, 1, 32633};
  tb_tag(&t, 34735, T_SHORT, 16, keys);
  tb_tag_s(&t, 42113, " -9999");
  tb_tag1(&t, 339, T_SHORT, 1);
  return tb_save(&t, path);
}

/* The 20x18 little-endian int32 file: 2 bands, planar separate, 16x16 tiles (2x2 per band). */
static int make_i32_tiles(const char *path) {
  tb t;
  tb_init(&t, 0);
  uint32_t w = 20, h = 18, tw = 16, th = 16;
  uint64_t offs[8], cnt[8], v[256];
  int k = 0;
  for (uint32_t b = 0; b < 2; b++)
    for (uint32_t ty = 0; ty < 2; ty++)
      for (uint32_t tx = 0; tx < 2; tx++, k++) {
        for (uint32_t i = 0; i < tw * th; i++) {
          uint32_t x = tx * tw + i % tw, y = ty * th + i / tw;
          /* padding outside the raster holds a marker that must never be read */
          double val = (x < w && y < h) ? i32_val(x, y, b) : 777777;
          v[i] = (uint64_t)(uint32_t)(int32_t)val;
        }
        offs[k] = tb_samples(&t, v, tw * th, 4);
        cnt[k] = tw * th * 4;
      }
  tb_tag1(&t, 256, T_LONG, w);
  tb_tag1(&t, 257, T_LONG, h);
  uint64_t bps[2] = {32, 32}, sf[2] = {2, 2};
  tb_tag(&t, 258, T_SHORT, 2, bps);
  tb_tag1(&t, 259, T_SHORT, 1);
  tb_tag1(&t, 262, T_SHORT, 1);
  tb_tag1(&t, 277, T_SHORT, 2);
  tb_tag1(&t, 284, T_SHORT, 2);
  tb_tag1(&t, 322, T_SHORT, tw);
  tb_tag1(&t, 323, T_SHORT, th);
  tb_tag(&t, 324, T_LONG, 8, offs);
  tb_tag(&t, 325, T_LONG, 8, cnt);
  tb_tag1(&t, 338, T_SHORT, 0);
  tb_tag(&t, 339, T_SHORT, 2, sf);
  /* Rotated georeferencing through ModelTransformation. */
  double m[16] = {0.5, 0.1, 0, 30, -0.2, -0.5, 0, 60, 0, 0, 0, 0, 0, 0, 0, 1};
  tb_tag_d(&t, 34264, 16, m);
  tb_tag_s(&t, 42112, "<GDALMetadata>\n  <Item name=\"DESCRIPTION\" sample=\"1\" role=\"description\">a&amp;lt;b&amp;gt; &amp;amp; &amp;quot;c&amp;quot;</Item>\n"
                      "  <Item name=\"STATISTICS_MEAN\" sample=\"0\">3</Item>\n</GDALMetadata>\n");
  return tb_save(&t, path);
}

/* 9x5 float64, 3 bands pixel-interleaved, one tile of 16x16 (tile larger than the raster). */
static int make_f64_chunky_tile(const char *path) {
  tb t;
  tb_init(&t, 1);
  uint64_t *v = calloc(16 * 16 * 3, sizeof *v);
  for (uint32_t y = 0; y < 16; y++)
    for (uint32_t x = 0; x < 16; x++)
      for (uint32_t b = 0; b < 3; b++) v[(y * 16 + x) * 3 + b] = bits_d(x < 9 && y < 5 ? f64_val(x, y, b) : -1);
  uint64_t off = tb_samples(&t, v, 16 * 16 * 3, 8), cnt = 16 * 16 * 3 * 8;
  free(v);
  uint64_t bps[3] = {64, 64, 64}, sf[3] = {3, 3, 3}, extra[2] = {0, 0};
  tb_tag1(&t, 256, T_SHORT, 9);
  tb_tag1(&t, 257, T_SHORT, 5);
  tb_tag(&t, 258, T_SHORT, 3, bps);
  tb_tag1(&t, 259, T_SHORT, 1);
  tb_tag1(&t, 262, T_SHORT, 1);
  tb_tag1(&t, 277, T_SHORT, 3);
  tb_tag1(&t, 284, T_SHORT, 1);
  tb_tag1(&t, 322, T_SHORT, 16);
  tb_tag1(&t, 323, T_SHORT, 16);
  tb_tag(&t, 324, T_LONG, 1, &off);
  tb_tag(&t, 325, T_LONG, 1, &cnt);
  tb_tag(&t, 338, T_SHORT, 2, extra);
  tb_tag(&t, 339, T_SHORT, 3, sf);
  return tb_save(&t, path);
}

/* A one-strip 4x2 uint8 file with overridable fields, for the unsupported/corrupt cases.
 * Fields with value 0 are left at their defaults; strip_off/strip_cnt override the strip. */
typedef struct odd { uint64_t bps, sf, comp, strip_off, strip_cnt; int no_width; const uint8_t *data; size_t n_data; } odd;
static int make_odd(const char *path, odd o) {
  tb t;
  tb_init(&t, 0);
  uint8_t px[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint64_t off = o.data ? tb_raw(&t, o.data, o.n_data) : tb_raw(&t, px, 8);
  uint64_t cnt = o.data ? o.n_data : 8;
  if (o.strip_off) off = o.strip_off;
  if (o.strip_cnt) cnt = o.strip_cnt;
  if (!o.no_width) tb_tag1(&t, 256, T_SHORT, 4);
  tb_tag1(&t, 257, T_SHORT, 2);
  tb_tag1(&t, 258, T_SHORT, o.bps ? o.bps : 8);
  tb_tag1(&t, 259, T_SHORT, o.comp ? o.comp : 1);
  tb_tag1(&t, 262, T_SHORT, 1);
  tb_tag(&t, 273, T_LONG, 1, &off);
  tb_tag1(&t, 277, T_SHORT, 1);
  tb_tag1(&t, 278, T_SHORT, 2);
  tb_tag(&t, 279, T_LONG, 1, &cnt);
  if (o.sf) tb_tag1(&t, 339, T_SHORT, o.sf);
  return tb_save(&t, path);
}

/* ---- reader tests on hand-made files ------------------------------------------------------ */

static void test_read_u16_big_endian_strips(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  const char *p = check_path("u16_be.tif");
  CHECK(make_u16_be(p) == 0);
  gt_reader *r;
  CHECKF(gt_open(&ctx, p, &r) == 0, "%s", ctx.msg);
  const gt_info *in = gt_get_info(r);
  CHECK_EQ_INT(in->width, 11); CHECK_EQ_INT(in->height, 7); CHECK_EQ_INT(in->bands, 1);
  CHECK_EQ_INT(in->type, GT_U16); CHECK_EQ_INT(in->tiled, 0);
  CHECK_EQ_INT(in->block_w, 11); CHECK_EQ_INT(in->block_h, 3);
  CHECK_EQ_INT(in->compression, 1); CHECK_EQ_INT(in->predictor, 1);
  /* PixelIsPoint: the tiepoint is the centre of pixel (0,0), so the corner is half a pixel
   * up-left: x = 100 - 1, y = 200 + 1.5. */
  CHECK(in->geo.has_gt && in->geo.pixel_is_point);
  CHECK_EQ_INT(in->geo.epsg, 32633);
  const double want_gt[6] = {99, 2, 0, 201.5, 0, -3};
  for (int i = 0; i < 6; i++) CHECK_NEAR(in->geo.gt[i], want_gt[i], 0);
  CHECK(in->has_nodata); CHECK_NEAR(in->nodata, -9999, 0);
  CHECK(gt_band_desc(r, 0) == NULL);
  /* Whole raster as uint16, then windows in other types, then row by row. */
  uint16_t all[77];
  CHECK(gt_read(&ctx, r, 0, 0, 0, 11, 7, GT_U16, all, 11) == 0);
  for (uint32_t y = 0; y < 7; y++)
    for (uint32_t x = 0; x < 11; x++) CHECK_EQ_INT(all[y * 11 + x], u16_val(x, y));
  double win[5 * 5];
  CHECK(gt_read(&ctx, r, 0, 7, 2, 4, 5, GT_F64, win, 5) == 0); /* x 7..10, y 2..6, stride 5 */
  for (uint32_t y = 0; y < 5; y++)
    for (uint32_t x = 0; x < 4; x++) CHECK_NEAR(win[y * 5 + x], u16_val(7 + x, 2 + y), 0);
  for (uint32_t y = 0; y < 7; y++) {
    int32_t row[3];
    CHECK(gt_read(&ctx, r, 0, 4, y, 3, 1, GT_I32, row, 3) == 0);
    for (uint32_t x = 0; x < 3; x++) CHECK_EQ_INT(row[x], u16_val(4 + x, y));
  }
  /* Corner pixels one by one. */
  uint8_t one;
  const uint32_t cx[4] = {0, 10, 0, 10}, cy[4] = {0, 0, 6, 6};
  for (int i = 0; i < 4; i++) {
    CHECK(gt_read(&ctx, r, 0, cx[i], cy[i], 1, 1, GT_U8, &one, 1) == 0);
    CHECK_EQ_INT(one, (uint8_t)u16_val(cx[i], cy[i])); /* plain C conversion: modulo 256 */
  }
  /* Decodes: 3 (whole), 3 (window: strips 0, 1, 2), 3 (row by row: each strip once), 2 (corners:
   * strip 0, then cached, strip 2, then cached). */
  CHECK_EQ_INT(gt_blocks_decoded(r), 11);
  /* Usage errors. */
  CHECK(gt_read(&ctx, r, 0, 8, 0, 4, 1, GT_U16, all, 11) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "u16_be.tif") && strstr(ctx.msg, "outside"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  CHECK(gt_read(&ctx, r, 1, 0, 0, 1, 1, GT_U16, all, 11) == CBAS_EUSAGE);
  ctx_clear_error(&ctx);
  gt_close(&ctx, r);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

static void test_read_i32_planar_tiles(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  const char *p = check_path("i32_tiles.tif");
  CHECK(make_i32_tiles(p) == 0);
  gt_reader *r;
  CHECKF(gt_open(&ctx, p, &r) == 0, "%s", ctx.msg);
  const gt_info *in = gt_get_info(r);
  CHECK_EQ_INT(in->bands, 2); CHECK_EQ_INT(in->type, GT_I32);
  CHECK(in->tiled && in->planar_separate);
  CHECK_EQ_INT(in->block_w, 16); CHECK_EQ_INT(in->block_h, 16);
  CHECK(in->geo.has_gt && !in->geo.pixel_is_point);
  CHECK_EQ_INT(in->geo.epsg, 0);
  const double want_gt[6] = {30, 0.5, 0.1, 60, -0.2, -0.5};
  for (int i = 0; i < 6; i++) CHECK_NEAR(in->geo.gt[i], want_gt[i], 0);
  CHECK(!in->has_nodata);
  CHECK(gt_band_desc(r, 0) == NULL);
  CHECK(gt_band_desc(r, 1) && !strcmp(gt_band_desc(r, 1), "a<b> & \"c\""));
  for (uint32_t b = 0; b < 2; b++) {
    /* A window across all four tiles, as float with a wider stride. */
    float win[14 * 20];
    uint64_t n0 = gt_blocks_decoded(r);
    CHECK(gt_read(&ctx, r, b, 5, 3, 12, 14, GT_F32, win, 20) == 0);
    CHECK_EQ_INT(gt_blocks_decoded(r) - n0, 4); /* the four tiles of this band, once each */
    for (uint32_t y = 0; y < 14; y++)
      for (uint32_t x = 0; x < 12; x++) CHECK_NEAR(win[y * 20 + x], i32_val(5 + x, 3 + y, b), 0);
    /* The right and bottom edge tiles (partial), row by row. */
    for (uint32_t y = 0; y < 18; y++) {
      int32_t row[20];
      CHECK(gt_read(&ctx, r, b, 0, y, 20, 1, GT_I32, row, 20) == 0);
      for (uint32_t x = 0; x < 20; x++) CHECK_EQ_INT(row[x], i32_val(x, y, b));
    }
    int32_t px;
    CHECK(gt_read(&ctx, r, b, 19, 17, 1, 1, GT_I32, &px, 1) == 0);
    CHECK_EQ_INT(px, i32_val(19, 17, b));
  }
  gt_close(&ctx, r);
  ctx_free(&ctx);
}

static void test_read_f64_chunky_tile(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  const char *p = check_path("f64_chunky.tif");
  CHECK(make_f64_chunky_tile(p) == 0);
  gt_reader *r;
  CHECKF(gt_open(&ctx, p, &r) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(gt_get_info(r)->type, GT_F64);
  CHECK(!gt_get_info(r)->planar_separate && gt_get_info(r)->tiled);
  CHECK(!gt_get_info(r)->geo.has_gt);
  for (uint32_t b = 0; b < 3; b++) {
    double v[9 * 5];
    CHECK(gt_read(&ctx, r, b, 0, 0, 9, 5, GT_F64, v, 9) == 0);
    for (uint32_t i = 0; i < 45; i++) CHECK_NEAR(v[i], f64_val(i % 9, i / 9, b), 0);
  }
  /* Float to integer: out of range (band 2 is ~2e6) is an error, not a silent wrap. */
  int16_t s[9];
  CHECK(gt_read(&ctx, r, 2, 0, 0, 9, 1, GT_I16, s, 9) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "f64_chunky.tif") && strstr(ctx.msg, "out-of-range"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  int32_t i32[9];
  CHECK(gt_read(&ctx, r, 2, 0, 4, 9, 1, GT_I32, i32, 9) == 0);
  for (uint32_t x = 0; x < 9; x++) CHECK_EQ_INT(i32[x], (int32_t)f64_val(x, 4, 2));
  gt_close(&ctx, r);
  ctx_free(&ctx);
}

/* Every rejected file gives the expected status and a message naming the file. */
static int rejects(cbas_ctx *ctx, const char *path, int want_status, const char *want_text) {
  gt_reader *r = NULL;
  int st = gt_open(ctx, path, &r);
  if (!st) {
    double buf[64];
    const gt_info *in = gt_get_info(r);
    st = gt_read(ctx, r, 0, 0, 0, in->width < 8 ? in->width : 8, in->height < 8 ? in->height : 8, GT_F64, buf, 8);
    gt_close(ctx, r);
  }
  int ok = (want_status ? st == want_status : st != 0) && (int)ctx->status == st && strstr(ctx->msg, path) &&
           (!want_text || strstr(ctx->msg, want_text));
  if (!ok) printf("# %s: status %d, message: %s\n", path, st, ctx->msg);
  ctx_clear_error(ctx);
  return ok;
}

static void test_unsupported_and_corrupt(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  const char *p;
  p = check_path("jpeg.tif");
  CHECK(make_odd(p, (odd){.comp = 7}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EUNSUP, "JPEG"));
  p = check_path("packbits.tif");
  CHECK(make_odd(p, (odd){.comp = 32773}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EUNSUP, "PackBits"));
  p = check_path("complex.tif");
  CHECK(make_odd(p, (odd){.sf = 6, .bps = 64}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EUNSUP, "complex"));
  p = check_path("onebit.tif");
  CHECK(make_odd(p, (odd){.bps = 1}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EUNSUP, "1-bit"));
  p = check_path("int8.tif");
  CHECK(make_odd(p, (odd){.sf = 2}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EUNSUP, "8-bit signed"));
  p = check_path("nowidth.tif");
  CHECK(make_odd(p, (odd){.no_width = 1}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EFORMAT, NULL));
  p = check_path("badoffset.tif");
  CHECK(make_odd(p, (odd){.strip_off = 1u << 30}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EFORMAT, "strip 0"));
  static const uint8_t junk[16] = {0x78, 0x9c, 0xff, 0xee, 0xdd, 0xcc, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  p = check_path("badcount.tif");
  CHECK(make_odd(p, (odd){.comp = 8, .data = junk, .n_data = sizeof junk, .strip_cnt = 100000}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EFORMAT, "strip 0"));
  p = check_path("baddeflate.tif");
  CHECK(make_odd(p, (odd){.comp = 8, .data = junk, .n_data = sizeof junk}) == 0);
  CHECK(rejects(&ctx, p, CBAS_EFORMAT, "strip 0"));
  p = check_path("empty.tif");
  CHECK(put_file(p, "", 0) == 0);
  CHECK(rejects(&ctx, p, CBAS_EFORMAT, "empty"));
  p = check_path("text.tif");
  const char *txt = "this is not a TIFF file, just some text\n";
  CHECK(put_file(p, txt, strlen(txt)) == 0);
  CHECK(rejects(&ctx, p, CBAS_EFORMAT, "not a readable TIFF"));
  p = check_path("header_only.tif");
  CHECK(put_file(p, "II*\0\x08\0\0\0", 8) == 0);
  CHECK(rejects(&ctx, p, CBAS_EFORMAT, NULL));
  p = check_path("missing.tif");
  CHECK(rejects(&ctx, p, CBAS_EIO, "cannot open"));
  ctx_free(&ctx);
}

/* ---- writer ------------------------------------------------------------------------------- */

/* Writes a float32 raster of f32_val (+ offset) in chunks of `chunk` rows with padded strides. */
static int write_f32(cbas_ctx *ctx, const char *path, const gt_wopts *o, uint32_t chunk, float offset) {
  gt_writer *w;
  if (gt_create(ctx, path, o, &w)) return ctx->status;
  size_t rs = o->width + 3, bs = rs * chunk + 5;
  float *buf = malloc(bs * o->bands * sizeof *buf);
  for (uint32_t y0 = 0; y0 < o->height; y0 += chunk) {
    uint32_t n = o->height - y0 < chunk ? o->height - y0 : chunk;
    for (uint32_t b = 0; b < o->bands; b++)
      for (uint32_t r = 0; r < n; r++)
        for (uint32_t x = 0; x < o->width; x++) buf[b * bs + r * rs + x] = f32_val(x, y0 + r, b) + offset;
    if (gt_write_rows(ctx, w, n, buf, rs, bs)) { free(buf); gt_abort(ctx, w); return ctx->status; }
  }
  free(buf);
  return gt_commit(ctx, w);
}
/* 1 if band b of the file holds f32_val + offset everywhere (NaN where the formula has NaN). */
static int check_f32(cbas_ctx *ctx, const char *path, uint32_t b, float offset) {
  gt_reader *r;
  if (gt_open(ctx, path, &r)) return 0;
  const gt_info *in = gt_get_info(r);
  int ok = 1;
  float *row = malloc(in->width * sizeof *row);
  for (uint32_t y = 0; y < in->height && ok; y++) {
    if (gt_read(ctx, r, b, 0, y, in->width, 1, GT_F32, row, in->width)) { ok = 0; break; }
    for (uint32_t x = 0; x < in->width; x++) {
      float want = f32_val(x, y, b) + offset;
      if (isnan(want) ? !isnan(row[x]) : row[x] != want) {
        printf("# %s band %u (%u,%u): %g, expected %g\n", path, b, x, y, row[x], want);
        ok = 0;
        break;
      }
    }
  }
  free(row);
  gt_close(ctx, r);
  return ok;
}

static gt_wopts f32_opts(uint32_t w, uint32_t h, uint32_t bands) {
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = w; o.height = h; o.bands = bands; o.type = GT_F32;
  o.geo.has_gt = 1;
  o.geo.epsg = 4326;
  const double gt[6] = {100.5, 0.25, 0, 20, 0, -0.125};
  memcpy(o.geo.gt, gt, sizeof gt);
  o.has_nodata = 1;
  o.nodata = NAN;
  return o;
}

static void test_write_f32_nan_roundtrip(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 4 << 20, 1) == 0);
  const char *p = check_path("w_f32.tif");
  gt_wopts o = f32_opts(7, 5, 1);
  CHECKF(write_f32(&ctx, p, &o, 5, 0) == 0, "%s", ctx.msg);
  CHECK(!exists(tmp_name(p)));
  gt_reader *r;
  CHECKF(gt_open(&ctx, p, &r) == 0, "%s", ctx.msg);
  const gt_info *in = gt_get_info(r);
  CHECK_EQ_INT(in->width, 7); CHECK_EQ_INT(in->height, 5); CHECK_EQ_INT(in->bands, 1);
  CHECK_EQ_INT(in->type, GT_F32); CHECK(!in->tiled);
  CHECK_EQ_INT(in->compression, 8); CHECK_EQ_INT(in->predictor, 3);
  CHECK_EQ_INT(in->block_h, 5); /* 8192 / 28 > height */
  CHECK(in->geo.has_gt && !in->geo.pixel_is_point);
  CHECK_EQ_INT(in->geo.epsg, 4326);
  for (int i = 0; i < 6; i++) CHECK_NEAR(in->geo.gt[i], o.geo.gt[i], 0);
  CHECK(in->has_nodata && isnan(in->nodata));
  gt_close(&ctx, r);
  CHECK(check_f32(&ctx, p, 0, 0));
  /* NaN into an integer type is refused. */
  CHECK(gt_open(&ctx, p, &r) == 0);
  int32_t row[7];
  CHECK(gt_read(&ctx, r, 0, 0, 0, 7, 1, GT_I32, row, 7) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "NaN") != NULL, "%s", ctx.msg);
  ctx_clear_error(&ctx);
  gt_close(&ctx, r);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

static void test_write_u8_partial_last_strip(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 4 << 20, 1) == 0);
  const char *p = check_path("w_u8.tif");
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = 300; o.height = 60; o.bands = 1; o.type = GT_U8; o.zlevel = 9;
  gt_writer *w;
  CHECKF(gt_create(&ctx, p, &o, &w) == 0, "%s", ctx.msg);
  uint8_t rows[7 * 300];
  for (uint32_t y0 = 0; y0 < 60; y0 += 7) {
    uint32_t n = y0 + 7 > 60 ? 60 - y0 : 7;
    for (uint32_t i = 0; i < n * 300; i++) rows[i] = u8_val(i % 300, y0 + i / 300);
    CHECKF(gt_write_rows(&ctx, w, n, rows, 300, 0) == 0, "%s", ctx.msg);
  }
  CHECK(gt_write_rows(&ctx, w, 1, rows, 300, 0) == CBAS_EUSAGE); /* past the height */
  ctx_clear_error(&ctx);
  CHECK(gt_commit(&ctx, w) == CBAS_EUSAGE); /* a failed writer cannot be committed */
  ctx_clear_error(&ctx);
  CHECK(!exists(p) && !exists(tmp_name(p)));
  /* Again, cleanly. */
  CHECKF(gt_create(&ctx, p, &o, &w) == 0, "%s", ctx.msg);
  for (uint32_t y = 0; y < 60; y++) {
    for (uint32_t x = 0; x < 300; x++) rows[x] = u8_val(x, y);
    CHECK(gt_write_rows(&ctx, w, 1, rows, 300, 0) == 0);
  }
  CHECKF(gt_commit(&ctx, w) == 0, "%s", ctx.msg);
  gt_reader *r;
  CHECKF(gt_open(&ctx, p, &r) == 0, "%s", ctx.msg);
  const gt_info *in = gt_get_info(r);
  CHECK_EQ_INT(in->type, GT_U8); CHECK_EQ_INT(in->predictor, 2);
  CHECK_EQ_INT(in->block_h, 27); /* 8192 / 300: strips of 27, 27 and 6 rows */
  CHECK(!in->geo.has_gt && !in->has_nodata);
  /* Windows at the edges: last strip, last columns, corners; read as int16. */
  int16_t win[10 * 10];
  for (uint32_t y = 54; y < 60; y++) CHECK(gt_read(&ctx, r, 0, 100, y, 50, 1, GT_I16, win, 50) == 0);
  CHECK_EQ_INT(gt_blocks_decoded(r), 1); /* rows 54..59 are all in the last strip */
  CHECK(gt_read(&ctx, r, 0, 290, 50, 10, 10, GT_I16, win, 10) == 0);
  for (uint32_t i = 0; i < 100; i++) CHECK_EQ_INT(win[i], u8_val(290 + i % 10, 50 + i / 10));
  CHECK(gt_read(&ctx, r, 0, 0, 20, 8, 10, GT_I16, win, 8) == 0); /* spans strips 0 and 1 */
  CHECK_EQ_INT(gt_blocks_decoded(r), 5); /* 1 + strips 1, 2 (rows 50..59) + strips 0, 1 */
  for (uint32_t i = 0; i < 80; i++) CHECK_EQ_INT(win[i], u8_val(i % 8, 20 + i / 8));
  uint8_t px;
  CHECK(gt_read(&ctx, r, 0, 299, 59, 1, 1, GT_U8, &px, 1) == 0);
  CHECK_EQ_INT(px, u8_val(299, 59));
  gt_close(&ctx, r);
  ctx_free(&ctx);
}

static void test_write_multiband_descriptions(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 4 << 20, 1) == 0);
  const char *p = check_path("w_multi.tif");
  gt_wopts o = f32_opts(13, 10, 3);
  const char *desc[3] = {"20200101", "a<b>&\"c\"", "20200125"};
  o.band_desc = desc;
  o.rows_per_strip = 4; /* 10 rows: strips of 4, 4, 2 */
  o.nodata = -9999;
  CHECKF(write_f32(&ctx, p, &o, 3, 0) == 0, "%s", ctx.msg); /* chunks of 3 rows straddle strips */
  gt_reader *r;
  CHECKF(gt_open(&ctx, p, &r) == 0, "%s", ctx.msg);
  const gt_info *in = gt_get_info(r);
  CHECK_EQ_INT(in->bands, 3); CHECK_EQ_INT(in->block_h, 4); CHECK(!in->planar_separate);
  CHECK(in->has_nodata); CHECK_NEAR(in->nodata, -9999, 0);
  for (uint32_t b = 0; b < 3; b++) CHECKF(gt_band_desc(r, b) && !strcmp(gt_band_desc(r, b), desc[b]), "band %u", b);
  CHECK(gt_band_desc(r, 3) == NULL);
  /* Bands read alternately row by row share the cached strip. */
  for (uint32_t y = 0; y < 10; y++)
    for (uint32_t b = 0; b < 3; b++) {
      double row[13];
      CHECK(gt_read(&ctx, r, b, 0, y, 13, 1, GT_F64, row, 13) == 0);
      for (uint32_t x = 0; x < 13; x++) {
        double want = f32_val(x, y, b);
        CHECK(isnan(want) ? isnan(row[x]) : row[x] == want);
      }
    }
  gt_close(&ctx, r);
  for (uint32_t b = 0; b < 3; b++) CHECK(check_f32(&ctx, p, b, 0));
  ctx_free(&ctx);
}

static void test_write_rotated_and_options(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 4 << 20, 1) == 0);
  const char *p = check_path("w_rot.tif");
  gt_wopts o = f32_opts(4, 3, 1);
  o.geo.gt[2] = 0.01; o.geo.gt[4] = -0.02;
  CHECKF(write_f32(&ctx, p, &o, 1, 0) == 0, "%s", ctx.msg);
  gt_reader *r;
  CHECK(gt_open(&ctx, p, &r) == 0);
  for (int i = 0; i < 6; i++) CHECK_NEAR(gt_get_info(r)->geo.gt[i], o.geo.gt[i], 0);
  gt_close(&ctx, r);
  gt_writer *w;
  o.type = GT_I16;
  CHECK(gt_create(&ctx, p, &o, &w) == CBAS_EUSAGE);
  ctx_clear_error(&ctx);
  o = f32_opts(4, 3, 1);
  o.geo.epsg = 32633;
  CHECK(gt_create(&ctx, p, &o, &w) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "w_rot.tif") && strstr(ctx.msg, "4326"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  char b[64];
  gt_format_double(b, sizeof b, 10); CHECK(!strcmp(b, "10"));
  gt_format_double(b, sizeof b, -9999); CHECK(!strcmp(b, "-9999"));
  gt_format_double(b, sizeof b, 0.1); CHECK(!strcmp(b, "0.1"));
  gt_format_double(b, sizeof b, 1e-30); CHECK(!strcmp(b, "1e-30"));
  gt_format_double(b, sizeof b, NAN); CHECK(!strcmp(b, "nan"));
  gt_format_double(b, sizeof b, -INFINITY); CHECK(!strcmp(b, "-inf"));
  ctx_free(&ctx);
}

/* Write failures: the destination keeps its previous content (or stays absent) and no
 * temporary file remains. */
static void test_write_faults(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 4 << 20, 1) == 0);
  const char *p = check_path("w_fault.tif");
  gt_wopts o = f32_opts(50, 40, 2);
  o.rows_per_strip = 8;
  gt_writer *w;
  /* ENOSPC on the 3rd write while writing rows: absent before, absent after. */
  CHECKF(gt_create(&ctx, p, &o, &w) == 0, "%s", ctx.msg);
  plat_fault_set(PLAT_OP_WRITE, 3, plat_err_nospc());
  float *buf = calloc(50 * 40 * 2, sizeof *buf);
  int st = gt_write_rows(&ctx, w, 40, buf, 50, 50 * 40);
  CHECK_EQ_INT(st, CBAS_EIO);
  CHECKF(strstr(ctx.msg, "w_fault.tif") && strstr(ctx.msg, "write failed"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  gt_abort(&ctx, w);
  CHECK(!exists(p) && !exists(tmp_name(p)));
  /* ENOSPC while creating (the header write). */
  plat_fault_set(PLAT_OP_WRITE, 1, plat_err_nospc());
  CHECK(gt_create(&ctx, p, &o, &w) == CBAS_EIO);
  CHECKF(strstr(ctx.msg, "w_fault.tif"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  CHECK(!exists(p) && !exists(tmp_name(p)));
  /* A good file, then failures at commit time must leave it as it was. */
  CHECKF(write_f32(&ctx, p, &o, 40, 0) == 0, "%s", ctx.msg);
  const enum plat_op ops[3] = {PLAT_OP_WRITE, PLAT_OP_FSYNC, PLAT_OP_RENAME};
  for (int k = 0; k < 3; k++) {
    CHECKF(gt_create(&ctx, p, &o, &w) == 0, "%s", ctx.msg);
    for (uint32_t y = 0; y < 40; y++) {
      float row[100];
      for (uint32_t b = 0; b < 2; b++)
        for (uint32_t x = 0; x < 50; x++) row[b * 50 + x] = f32_val(x, y, b) + 1;
      CHECK(gt_write_rows(&ctx, w, 1, row, 50, 50) == 0);
    }
    plat_fault_set(ops[k], 1, plat_err_nospc());
    CHECK_EQ_INT(gt_commit(&ctx, w), CBAS_EIO);
    CHECKF(strstr(ctx.msg, "w_fault.tif") != NULL, "%s", ctx.msg);
    ctx_clear_error(&ctx);
    plat_fault_clear();
    CHECK(!exists(tmp_name(p)));
    CHECK(check_f32(&ctx, p, 0, 0) && check_f32(&ctx, p, 1, 0));
  }
  /* Without faults the new content replaces the old. */
  CHECKF(write_f32(&ctx, p, &o, 7, 1) == 0, "%s", ctx.msg);
  CHECK(check_f32(&ctx, p, 1, 1));
  /* Not all rows written: commit refuses and removes the temporary file. */
  CHECK(gt_create(&ctx, p, &o, &w) == 0);
  CHECK(gt_write_rows(&ctx, w, 39, buf, 50, 50 * 40) == 0);
  CHECK(gt_commit(&ctx, w) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "39 of 40"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  CHECK(!exists(tmp_name(p)));
  CHECK(check_f32(&ctx, p, 1, 1));
  free(buf);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

static void test_read_faults(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 4 << 20, 1) == 0);
  const char *p = check_path("r_fault.tif");
  gt_wopts o = f32_opts(40, 30, 1);
  o.rows_per_strip = 5;
  CHECK(write_f32(&ctx, p, &o, 30, 0) == 0);
  gt_reader *r;
  CHECK(gt_open(&ctx, p, &r) == 0);
  float row[40];
  plat_fault_set(PLAT_OP_READ, 1, plat_err_io());
  CHECK_EQ_INT(gt_read(&ctx, r, 0, 0, 12, 40, 1, GT_F32, row, 40), CBAS_EIO);
  CHECKF(strstr(ctx.msg, "r_fault.tif") && strstr(ctx.msg, "read failed"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  plat_fault_set(PLAT_OP_READ, 1, PLAT_SHORT);
  CHECK_EQ_INT(gt_read(&ctx, r, 0, 0, 17, 40, 1, GT_F32, row, 40), CBAS_EFORMAT);
  CHECKF(strstr(ctx.msg, "r_fault.tif") && strstr(ctx.msg, "strip 3"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  /* The handle recovers: the failed strips were not cached. */
  for (uint32_t y = 10; y < 20; y++) {
    CHECKF(gt_read(&ctx, r, 0, 0, y, 40, 1, GT_F32, row, 40) == 0, "y=%u: %s", y, ctx.msg);
    for (uint32_t x = 0; x < 40; x++) CHECK(isnan(f32_val(x, y, 0)) ? isnan(row[x]) : row[x] == f32_val(x, y, 0));
  }
  gt_close(&ctx, r);
  /* A fault while opening. */
  plat_fault_set(PLAT_OP_READ, 1, plat_err_io());
  CHECK(gt_open(&ctx, p, &r) == CBAS_EIO);
  CHECKF(strstr(ctx.msg, "r_fault.tif"), "%s", ctx.msg);
  ctx_free(&ctx);
}

static void test_budget_too_small(void) {
  cbas_ctx big, small;
  CHECK(ctx_init(&big, 16 << 20, 1) == 0);
  CHECK(ctx_init(&small, 256 << 10, 1) == 0);
  const char *p = check_path("w_budget.tif");
  gt_wopts o = f32_opts(1000, 200, 1);
  o.rows_per_strip = 100; /* 400 kB strips */
  gt_writer *w;
  CHECK(gt_create(&small, p, &o, &w) == CBAS_EBUDGET);
  CHECKF(strstr(small.msg, "w_budget.tif: one strip needs"), "%s", small.msg);
  ctx_clear_error(&small);
  CHECK(!exists(p) && !exists(tmp_name(p)));
  CHECKF(write_f32(&big, p, &o, 50, 0) == 0, "%s", big.msg);
  gt_reader *r;
  CHECK(gt_open(&small, p, &r) == CBAS_EBUDGET);
  CHECKF(strstr(small.msg, "w_budget.tif: one decoded strip needs"), "%s", small.msg);
  CHECK_EQ_INT(small.budget->used, 0);
  /* Every allocation failing in turn is reported, never a crash or a leak. */
  for (long k = 0; k < 6; k++) {
    ctx_clear_error(&big);
    budget_fail_after(big.budget, k);
    int st = gt_open(&big, p, &r);
    budget_fail_after(big.budget, -1);
    if (!st) { gt_close(&big, r); break; }
    CHECK_EQ_INT(st, CBAS_EBUDGET);
    CHECK_EQ_INT(big.budget->used, 0);
  }
  ctx_free(&big);
  ctx_free(&small);
}

/* Truncated copies of a valid file: an error naming the file, at open or at read. */
static void test_truncated_copies(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 4 << 20, 1) == 0);
  const char *p = check_path("full.tif"), *q = check_path("truncated.tif");
  gt_wopts o = f32_opts(64, 64, 2);
  o.rows_per_strip = 8;
  CHECK(write_f32(&ctx, p, &o, 64, 0) == 0);
  int fd;
  uint64_t size;
  CHECK(plat_open(p, PLAT_RDONLY, &fd) == 0);
  CHECK(plat_fsize(fd, &size) == 0);
  uint8_t *all = malloc(size);
  size_t got;
  CHECK(plat_pread(fd, all, size, 0, &got) == 0 && got == size);
  plat_close(fd);
  const double frac[] = {0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99};
  for (size_t k = 0; k < sizeof frac / sizeof frac[0]; k++) {
    CHECK(put_file(q, all, (size_t)(size * frac[k])) == 0);
    gt_reader *r;
    int st = gt_open(&ctx, q, &r);
    if (!st) {
      float buf[64 * 64];
      st = gt_read(&ctx, r, 0, 0, 0, 64, 64, GT_F32, buf, 64);
      if (!st) st = gt_read(&ctx, r, 1, 0, 0, 64, 64, GT_F32, buf, 64);
      gt_close(&ctx, r);
    }
    CHECKF(st == CBAS_EFORMAT && strstr(ctx.msg, "truncated.tif"), "cut at %.2f: status %d: %s", frac[k], st, ctx.msg);
    ctx_clear_error(&ctx);
  }
  free(all);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

/* Readers on different threads (and the once-only libtiff setup racing). */
typedef struct { cbas_ctx *ctx; const char *path; int bad[8]; } conc_ud;
static int conc_item(void *ud_, long item, int worker) {
  conc_ud *u = ud_;
  gt_reader *r;
  (void)worker;
  if (gt_open(u->ctx, u->path, &r)) return 1;
  double row[13];
  uint32_t b = (uint32_t)(item % 3);
  for (uint32_t y = 0; y < 10; y++) {
    if (gt_read(u->ctx, r, b, 0, y, 13, 1, GT_F64, row, 13)) { gt_close(u->ctx, r); return 1; }
    for (uint32_t x = 0; x < 13; x++) {
      double want = f32_val(x, y, b);
      if (isnan(want) ? !isnan(row[x]) : row[x] != want) u->bad[item] = 1;
    }
  }
  gt_close(u->ctx, r);
  return 0;
}
static void test_concurrent_readers(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 8 << 20, 4) == 0);
  const char *p = check_path("w_conc.tif");
  gt_wopts o = f32_opts(13, 10, 3);
  o.rows_per_strip = 3;
  CHECK(write_f32(&ctx, p, &o, 10, 0) == 0);
  conc_ud u = {&ctx, p, {0}};
  CHECKF(par_for(&ctx, 8, conc_item, &u) == 0, "%s", ctx.msg);
  for (int i = 0; i < 8; i++) CHECK(!u.bad[i]);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

/* ---- writer's own encoder against libtiff's ---------------------------------------------- */

/* Pseudo-random bits (a 64-bit LCG): the same stream for both encoders of a case. */
static uint32_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*s >> 33);
}

/* Writes o's raster (band-sequential, rows fed `chunk` at a time) with the writer's encoder
 * (legacy = 0) or libtiff's (legacy = 1). Float values: a smooth ramp plus noise of `noise`
 * relative size, NaN at ~1 pixel in 37; uint8: ramp plus noise. Same seed, same values. */
static int write_case(cbas_ctx *ctx, const char *path, gt_wopts o, int legacy, uint32_t chunk, double noise) {
  o.legacy_encode = legacy;
  gt_writer *w;
  if (gt_create(ctx, path, &o, &w)) return ctx->status;
  size_t es = o.type == GT_F32 ? 4 : 1, plane = (size_t)o.width * chunk;
  uint8_t *buf = malloc(plane * o.bands * es);
  uint64_t seed = 12345;
  for (uint32_t y0 = 0; y0 < o.height; y0 += chunk) {
    uint32_t n = o.height - y0 < chunk ? o.height - y0 : chunk;
    for (uint32_t b = 0; b < o.bands; b++)
      for (uint32_t r = 0; r < n; r++)
        for (uint32_t x = 0; x < o.width; x++) {
          size_t i = b * plane + (size_t)r * o.width + x;
          double u = lcg(&seed) / 4294967296.0 - 0.5;
          if (o.type == GT_F32) {
            float v = (float)(3.0 * b + 0.01 * x - 0.02 * (y0 + r) + noise * u);
            if (lcg(&seed) % 37 == 0) v = NAN;
            memcpy(buf + 4 * i, &v, 4);
          } else {
            buf[i] = (uint8_t)((x + 2 * (y0 + r) + 50 * b) + (int)(noise * 255 * u));
          }
        }
    if (gt_write_rows(ctx, w, n, buf, o.width, plane)) { free(buf); gt_abort(ctx, w); return ctx->status; }
  }
  free(buf);
  return gt_commit(ctx, w);
}

/* One encoder test case: raster, strip height (0: GDAL's default), level, rows per
 * gt_write_rows call and noise (see write_case). */
typedef struct enc_case { uint32_t w, h, bands; gt_type type; uint32_t rps; int zlevel; uint32_t chunk; double noise; } enc_case;
static gt_wopts enc_case_opts(const enc_case *c) {
  gt_wopts o = f32_opts(c->w, c->h, c->bands);
  o.type = c->type;
  o.rows_per_strip = c->rps;
  o.zlevel = c->zlevel;
  if (o.type == GT_U8) o.has_nodata = 0;
  return o;
}

/* The writer's own predictor + deflate gives the bytes libtiff's TIFFWriteEncodedStrip gives:
 * float32 (predictor 3) one and several bands, uint8 (predictor 2) with 1..4 bands (libtiff
 * has special code for 3 and 4), one-row strips and taller ones with a partial last strip,
 * levels 1, 6 and 9, a one-pixel-wide raster, and strips whose deflated size exceeds the
 * 64 KiB output window (several TIFFWriteRawStrip calls per strip). */
static void test_write_matches_libtiff_encoder(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  const enc_case c[] = {
      {1200, 40, 1, GT_F32, 1, 1, 7, 0.5},     /* synth's layout: one-row strips, level 1 */
      {1200, 40, 1, GT_F32, 1, 6, 40, 0.0},    /* level 6, smooth (no noise) */
      {301, 37, 3, GT_F32, 0, 0, 5, 0.1},      /* GDAL default strips (6 rows), partial last */
      {300, 29, 2, GT_F32, 4, 9, 3, 1.0},      /* 4-row strips, partial last, level 9 */
      {1, 9, 1, GT_F32, 2, 6, 9, 1.0},         /* one pixel wide */
      {1000, 50, 1, GT_F32, 20, 1, 50, 1e9},   /* 80 kB strips of noise: > 64 KiB deflated */
      {777, 30, 1, GT_U8, 1, 1, 4, 0.2},
      {777, 30, 1, GT_U8, 1, 6, 30, 0.0},
      {250, 23, 2, GT_U8, 7, 6, 5, 0.3},
      {250, 23, 3, GT_U8, 5, 1, 23, 0.3},
      {250, 23, 4, GT_U8, 0, 6, 2, 0.3},
      {1, 5, 1, GT_U8, 1, 6, 1, 0.3},
      {70000, 3, 1, GT_U8, 3, 1, 3, 1.0},      /* 210 kB of noise in one strip */
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    gt_wopts o = enc_case_opts(&c[k]);
    const char *pa = check_path("enc_own.tif"), *pb = check_path("enc_libtiff.tif");
    CHECKF(write_case(&ctx, pa, o, 0, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, ctx.msg);
    CHECKF(write_case(&ctx, pb, o, 1, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, ctx.msg);
    /* cmp prints the first differing byte into the log */
    CHECKF(check_sh("cmp '%s' '%s'", pa, pb) == 0, "case %zu: the files differ", k);
    /* and the tags say deflate with the predictor */
    gt_reader *r;
    CHECKF(gt_open(&ctx, pa, &r) == 0, "%s", ctx.msg);
    const gt_info *in = gt_get_info(r);
    CHECK_EQ_INT(in->predictor, o.type == GT_F32 ? 3 : 2);
    CHECK_EQ_INT(in->compression, 8);
    CHECK_EQ_INT(in->block_h, c[k].rps ? c[k].rps : in->block_h);
    gt_close(&ctx, r);
    CHECK_EQ_INT(ctx.budget->used, 0);
  }
  ctx_free(&ctx);
}

/* The writer's budget share is the header's formula (for a float32 raster with 3-row strips and
 * for a uint8 one with rows wider than the 64 KiB output window); every allocation of
 * gt_create failing in turn is reported (EBUDGET), leaves nothing allocated and no file. */
static void test_writer_memory(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  const char *p = check_path("w_mem.tif");
  gt_wopts o = f32_opts(1200, 10, 2);
  o.rows_per_strip = 3;
  gt_writer *w;
  CHECKF(gt_create(&ctx, p, &o, &w) == 0, "%s", ctx.msg);
  uint64_t S = 3 * 1200 * 2 * 4; /* 28800: deflateBound < 64 KiB, > one row */
  uint64_t want = S + (S + S / 4096 + S / 16384 + 13) + 3 * 16, used = ctx.budget->used;
  CHECKF(used >= want + 2048 && used <= want + 4096 + 3 * 64, "float32 writer uses %llu bytes, formula %llu + handle",
         (unsigned long long)used, (unsigned long long)want);
  gt_abort(&ctx, w);
  CHECK_EQ_INT(ctx.budget->used, 0);
  gt_wopts u = o;
  u.type = GT_U8; u.width = 100000; u.bands = 1; u.rows_per_strip = 1; u.has_nodata = 0;
  CHECKF(gt_create(&ctx, p, &u, &w) == 0, "%s", ctx.msg);
  want = 100000 + GT_DEFLATE_OUT_CAP + 3 * 16;
  used = ctx.budget->used;
  CHECKF(used >= want + 2048 && used <= want + 4096 + 3 * 64, "uint8 writer uses %llu bytes, formula %llu + handle",
         (unsigned long long)used, (unsigned long long)want);
  gt_abort(&ctx, w);
  CHECK_EQ_INT(ctx.budget->used, 0);
  int done = 0;
  for (long k = 0; k < 12 && !done; k++) {
    budget_fail_after(ctx.budget, k);
    int st = gt_create(&ctx, p, &o, &w);
    budget_fail_after(ctx.budget, -1);
    if (!st) { gt_abort(&ctx, w); done = 1; break; }
    CHECKF(st == CBAS_EBUDGET && strstr(ctx.msg, "w_mem.tif"), "k=%ld: %d %s", k, st, ctx.msg);
    ctx_clear_error(&ctx);
    CHECK_EQ_INT(ctx.budget->used, 0);
    CHECK(!exists(p) && !exists(tmp_name(p)));
  }
  CHECK(done);
  ctx_free(&ctx);
}

/* ---- parallel strip coding: thread counts and budgets give the same bytes and values ------ */

/* Writes one case with ctx and returns the budget's peak during the write (0 on failure). */
static uint64_t write_case_peak(cbas_ctx *ctx, const char *path, gt_wopts o, uint32_t chunk, double noise) {
  ctx->budget->peak = ctx->budget->used;
  if (write_case(ctx, path, o, 0, chunk, noise)) return 0;
  return ctx->budget->peak;
}

/* gt_write_rows on 1 thread, 4 threads, 4 threads with room for 2 workers only, and 4 threads
 * with no room for workers: the four files equal libtiff's own encoding byte for byte. The
 * cases have one-row 81-band strips (cum.tif's layout), strips with a short last one, calls
 * that start and end inside strips (so a call mixes serial and parallel strips), uint8 and
 * float32, levels 1 and 6. The budget's peak shows that the workers really ran (each one but
 * the first holds a deflate state of GT_DEFLATE_STATE_BYTES) and that they are counted against
 * the budget. */
static void test_write_parallel_identical(void) {
  const enc_case c[] = {
      {324, 40, 81, GT_F32, 0, 1, 17, 0.5},    /* cum.tif: 105 kB one-row strips, 17-row calls */
      {300, 29, 8, GT_F32, 4, 6, 29, 1.0},     /* the whole image in one call, short last strip */
      {70000, 31, 1, GT_U8, 3, 1, 10, 1.0},    /* 210 kB strips of noise, calls straddle strips */
      {2000, 50, 3, GT_U8, 7, 6, 50, 0.3},     /* short last strip (1 row) */
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    gt_wopts o = enc_case_opts(&c[k]);
    char p_ref[1200], p1[1200], p4[1200], p2[1200], p0[1200]; /* check_path's buffers are reused */
    snprintf(p_ref, sizeof p_ref, "%s", check_path("par_libtiff.tif"));
    snprintf(p1, sizeof p1, "%s", check_path("par_t1.tif"));
    snprintf(p4, sizeof p4, "%s", check_path("par_t4.tif"));
    snprintf(p2, sizeof p2, "%s", check_path("par_t4_mid.tif"));
    snprintf(p0, sizeof p0, "%s", check_path("par_t4_tight.tif"));
    cbas_ctx c1, c4;
    CHECK(ctx_init(&c1, 64 << 20, 1) == 0);
    CHECK(ctx_init(&c4, 64 << 20, 4) == 0);
    CHECKF(write_case(&c1, p_ref, o, 1, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, c1.msg);
    uint64_t peak1 = write_case_peak(&c1, p1, o, c[k].chunk, c[k].noise);
    uint64_t peak4 = write_case_peak(&c4, p4, o, c[k].chunk, c[k].noise);
    CHECKF(peak1 && peak4, "case %zu: %s %s", k, c1.msg, c4.msg);
    CHECKF(peak4 >= peak1 + 2 * (uint64_t)GT_DEFLATE_STATE_BYTES, "case %zu: peak %llu with 4 threads, %llu with 1",
           k, (unsigned long long)peak4, (unsigned long long)peak1);
    ctx_free(&c4);
    /* Room for two workers with one strip each: the second one's deflate state and strip, and
     * a whole deflated strip for each (worker 0 uses the writer's own stream and strip). */
    uint64_t S = (uint64_t)c[k].w * c[k].bands * (o.type == GT_F32 ? 4 : 1) * (c[k].rps ? c[k].rps : 1);
    uint64_t two = GT_DEFLATE_STATE_BYTES + (8u << 10) + S + 2 * (S + S / 1000 + 256);
    CHECK(ctx_init(&c4, peak1 + two + (4u << 10), 4) == 0);
    uint64_t peak2 = write_case_peak(&c4, p2, o, c[k].chunk, c[k].noise);
    CHECKF(peak2 >= peak1 + (uint64_t)GT_DEFLATE_STATE_BYTES, "case %zu: %s", k, c4.msg);
    ctx_free(&c4);
    CHECK(ctx_init(&c4, peak1 + (64u << 10), 4) == 0); /* no room for workers: serial */
    uint64_t peak0 = write_case_peak(&c4, p0, o, c[k].chunk, c[k].noise);
    CHECKF(peak0 && peak0 < peak1 + GT_DEFLATE_STATE_BYTES, "case %zu: %s", k, c4.msg);
    CHECK_EQ_INT(c4.budget->used, 0);
    ctx_free(&c4);
    CHECK_EQ_INT(c1.budget->used, 0);
    ctx_free(&c1);
    CHECKF(check_sh("cmp '%s' '%s'", p_ref, p1) == 0, "case %zu: 1 thread differs from libtiff", k);
    CHECKF(check_sh("cmp '%s' '%s'", p_ref, p4) == 0, "case %zu: 4 threads differ from libtiff", k);
    CHECKF(check_sh("cmp '%s' '%s'", p_ref, p2) == 0, "case %zu: 2 workers differ from libtiff", k);
    CHECKF(check_sh("cmp '%s' '%s'", p_ref, p0) == 0, "case %zu: tight budget differs from libtiff", k);
  }
}

/* Reads band b of p whole (gt_read: libtiff's decoder) as float64 into a malloc'd array. */
static double *read_all(cbas_ctx *ctx, const char *p, uint32_t b) {
  gt_reader *r;
  if (gt_open(ctx, p, &r)) return NULL;
  const gt_info *in = gt_get_info(r);
  double *d = malloc(sizeof *d * in->width * in->height);
  if (gt_read(ctx, r, b, 0, 0, in->width, in->height, GT_F64, d, in->width)) { free(d); d = NULL; }
  gt_close(ctx, r);
  return d;
}
/* Pixels (all bands) of a that differ from b's (NaN equal to NaN), or -1 if one is unreadable. */
static long pixels_differ(cbas_ctx *ctx, const char *a_path, const char *b_path, uint32_t bands) {
  long bad = 0;
  for (uint32_t b = 0; b < bands && bad >= 0; b++) {
    gt_reader *r;
    if (gt_open(ctx, b_path, &r)) return -1;
    size_t n = (size_t)gt_get_info(r)->width * gt_get_info(r)->height;
    gt_close(ctx, r);
    double *a = read_all(ctx, a_path, b), *e = read_all(ctx, b_path, b);
    if (!a || !e) bad = -1;
    for (size_t i = 0; bad >= 0 && i < n; i++)
      if (isnan(e[i]) ? !isnan(a[i]) : a[i] != e[i]) bad++;
    free(a);
    free(e);
  }
  return bad;
}
static long file_size(const char *p) {
  FILE *f = fopen(p, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

/* gt_wopts.zrle (Z_RLE deflate, the results' setting): the file decodes (libtiff) to exactly the
 * pixels of the default-strategy file libtiff itself writes, every band; 1 and 4 threads give
 * the same bytes; noisy float32 is no larger than with level 1's string matching; and it is
 * refused with the libtiff encoder. */
static void test_write_rle(void) {
  const enc_case c[] = {
      {324, 40, 81, GT_F32, 0, 1, 17, 0.5}, /* cum.tif's layout */
      {300, 29, 3, GT_F32, 4, 6, 29, 1e-3}, /* smooth, 4-row strips, short last */
      {777, 30, 2, GT_U8, 1, 6, 4, 0.2},
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    gt_wopts o = enc_case_opts(&c[k]);
    char p_ref[1200], p1[1200], p4[1200];
    snprintf(p_ref, sizeof p_ref, "%s", check_path("rle_ref.tif"));
    snprintf(p1, sizeof p1, "%s", check_path("rle_t1.tif"));
    snprintf(p4, sizeof p4, "%s", check_path("rle_t4.tif"));
    cbas_ctx c1, c4;
    CHECK(ctx_init(&c1, 64 << 20, 1) == 0);
    CHECK(ctx_init(&c4, 64 << 20, 4) == 0);
    CHECKF(write_case(&c1, p_ref, o, 1, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, c1.msg);
    o.zrle = 1;
    CHECKF(write_case(&c1, p1, o, 0, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, c1.msg);
    CHECKF(write_case(&c4, p4, o, 0, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, c4.msg);
    CHECKF(check_sh("cmp '%s' '%s'", p1, p4) == 0, "case %zu: 1 and 4 threads differ", k);
    CHECKF(check_sh("cmp -s '%s' '%s'", p1, p_ref) != 0, "case %zu: Z_RLE gave the default stream", k);
    long bad = pixels_differ(&c1, p1, p_ref, c[k].bands);
    CHECKF(bad == 0, "case %zu: %ld pixels differ (-1: unreadable: %s)", k, bad, c1.msg);
    if (k == 0) {
      o.zrle = 0;
      CHECK(write_case(&c1, p4, o, 0, c[k].chunk, c[k].noise) == 0); /* level 1, default strategy */
      CHECKF(file_size(p1) <= file_size(p4), "Z_RLE %ld bytes, level 1 %ld", file_size(p1), file_size(p4));
      o.zrle = 1;
      CHECK(write_case(&c1, p4, o, 1, c[k].chunk, c[k].noise) == CBAS_EUSAGE);
      CHECKF(strstr(c1.msg, "Z_RLE") != NULL, "%s", c1.msg);
      ctx_clear_error(&c1);
    }
    CHECK_EQ_INT(c1.budget->used, 0);
    CHECK_EQ_INT(c4.budget->used, 0);
    ctx_free(&c1);
    ctx_free(&c4);
  }
}

/* gt_wopts.zsplit (the cubes' framing: compressible byte planes deflated, the others stored):
 * decodes (libtiff) to the pixels libtiff's own encoder was given, every band; 1 thread (the
 * serial encoder, its 64 KiB window flushed mid-strip) and 4 threads (whole strips on workers)
 * give the same bytes; files at most 1 % larger than with Z_RLE alone; all-NaN rows
 * deflate every plane; planes wider than a stored block (65535 bytes); refused for uint8. */
static void test_write_split_planes(void) {
  const enc_case c[] = {
      {324, 40, 81, GT_F32, 0, 1, 17, 0.5}, /* cum.tif's layout: 105 kB strips */
      {300, 29, 3, GT_F32, 4, 6, 29, 1e-3}, /* smooth, 4-row strips, short last */
      {70000, 3, 2, GT_F32, 1, 1, 3, 1.0},  /* 280 kB planes: several stored blocks each */
      {7, 9, 5, GT_F32, 2, 1, 4, 1e9},      /* tiny planes */
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    gt_wopts o = enc_case_opts(&c[k]);
    char p_ref[1200], p1[1200], p4[1200], p_rle[1200];
    snprintf(p_ref, sizeof p_ref, "%s", check_path("split_ref.tif"));
    snprintf(p1, sizeof p1, "%s", check_path("split_t1.tif"));
    snprintf(p4, sizeof p4, "%s", check_path("split_t4.tif"));
    snprintf(p_rle, sizeof p_rle, "%s", check_path("split_rle.tif"));
    cbas_ctx c1, c4;
    CHECK(ctx_init(&c1, 64 << 20, 1) == 0);
    CHECK(ctx_init(&c4, 64 << 20, 4) == 0);
    CHECKF(write_case(&c1, p_ref, o, 1, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, c1.msg);
    o.zrle = 1;
    CHECKF(write_case(&c1, p_rle, o, 0, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, c1.msg);
    o.zsplit = 1;
    CHECKF(write_case(&c1, p1, o, 0, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, c1.msg);
    CHECKF(write_case(&c4, p4, o, 0, c[k].chunk, c[k].noise) == 0, "case %zu: %s", k, c4.msg);
    CHECKF(check_sh("cmp '%s' '%s'", p1, p4) == 0, "case %zu: 1 and 4 threads differ", k);
    long bad = pixels_differ(&c1, p1, p_ref, c[k].bands);
    CHECKF(bad == 0, "case %zu: %ld pixels differ (-1: unreadable: %s)", k, bad, c1.msg);
    printf("# case %zu: split %ld, Z_RLE %ld, libtiff level %d %ld bytes\n", k, file_size(p1), file_size(p_rle),
           c[k].zlevel, file_size(p_ref));
    /* stored planes cost at most 1 % over deflating them (but the framing's ~10 bytes per
     * run of planes, felt on the tiny ones) */
    if (k != 3)
      CHECKF(file_size(p1) <= file_size(p_rle) + file_size(p_rle) / 100, "split %ld bytes, Z_RLE %ld", file_size(p1),
             file_size(p_rle));
    CHECK_EQ_INT(c1.budget->used, 0);
    CHECK_EQ_INT(c4.budget->used, 0);
    ctx_free(&c1);
    ctx_free(&c4);
  }
  /* an all-NaN raster deflates to almost nothing; uint8 is refused */
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 2) == 0);
  const char *p = check_path("split_nan.tif");
  gt_wopts o = f32_opts(500, 20, 3);
  o.zrle = o.zsplit = 1;
  gt_writer *w;
  CHECK(gt_create(&ctx, p, &o, &w) == 0);
  float *nan = malloc(sizeof(float) * 500 * 20 * 3);
  for (int i = 0; i < 500 * 20 * 3; i++) nan[i] = NAN;
  CHECK(gt_write_rows(&ctx, w, 20, nan, 500, 500 * 20) == 0);
  CHECK(gt_commit(&ctx, w) == 0);
  free(nan);
  CHECKF(file_size(p) < 20000, "all-NaN split file %ld bytes", file_size(p));
  double *a = read_all(&ctx, p, 2);
  long notnan = 0;
  for (int i = 0; a && i < 500 * 20; i++) notnan += !isnan(a[i]);
  CHECK(a && notnan == 0);
  free(a);
  o.type = GT_U8;
  CHECK(gt_create(&ctx, p, &o, &w) == CBAS_EUSAGE);
  ctx_clear_error(&ctx);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

/* A file written by libtiff itself (deflate, the given predictor, rps-row strips, chunky) of
 * w x h x bands samples of type t (libtiff's bits/format), sample value val(x, y, b). */
static int write_libtiff(const char *path, const char *mode, uint32_t w, uint32_t h, uint16_t bands, gt_type t,
                         uint16_t predictor, uint32_t rps, double (*val)(uint32_t, uint32_t, uint32_t)) {
  TIFF *tif = TIFFOpen(path, mode);
  if (!tif) return -1;
  size_t es = gt_type_size(t);
  int fmt = t == GT_F32 || t == GT_F64 ? SAMPLEFORMAT_IEEEFP : t == GT_I16 || t == GT_I32 ? SAMPLEFORMAT_INT : SAMPLEFORMAT_UINT;
  int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w) && TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h) &&
           TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (int)(8 * es)) && TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (int)bands) &&
           TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, fmt) && TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
           TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK) && TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps) &&
           TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE) && TIFFSetField(tif, TIFFTAG_PREDICTOR, (int)predictor);
  if (ok && bands > 1) {
    uint16_t extra[16] = {0};
    ok = TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)(bands - 1), extra);
  }
  size_t row = (size_t)w * bands * es;
  uint8_t *buf = malloc(row * rps);
  for (uint32_t y0 = 0; ok && y0 < h; y0 += rps) {
    uint32_t n = h - y0 < rps ? h - y0 : rps;
    for (uint32_t r = 0; r < n; r++)
      for (uint32_t x = 0; x < w; x++)
        for (uint32_t b = 0; b < bands; b++) {
          double v = val(x, y0 + r, b);
          uint8_t *d = buf + r * row + ((size_t)x * bands + b) * es;
          switch (t) {
          case GT_U8: *d = (uint8_t)v; break;
          case GT_I16: { int16_t q = (int16_t)v; memcpy(d, &q, 2); } break;
          case GT_U16: { uint16_t q = (uint16_t)v; memcpy(d, &q, 2); } break;
          case GT_I32: { int32_t q = (int32_t)v; memcpy(d, &q, 4); } break;
          case GT_U32: { uint32_t q = (uint32_t)v; memcpy(d, &q, 4); } break;
          case GT_F32: { float q = (float)v; memcpy(d, &q, 4); } break;
          case GT_F64: memcpy(d, &v, 8); break;
          }
        }
    ok = TIFFWriteEncodedStrip(tif, y0 / rps, buf, (tmsize_t)(n * row)) == (tmsize_t)(n * row);
  }
  free(buf);
  TIFFClose(tif);
  return ok ? 0 : -1;
}
/* Values exact in every type they are written as; they wrap the horizontal predictor's
 * differences (large jumps between neighbours and bands). */
static double lt_u8(uint32_t x, uint32_t y, uint32_t b) { return (double)((x * 37 + y * 11 + b * 91) % 256); }
static double lt_u16(uint32_t x, uint32_t y, uint32_t b) { return (double)((x * 7919u + y * 104729u + b * 30011u) % 65536u); }
static double lt_i32(uint32_t x, uint32_t y, uint32_t b) { return ((x * 2654435761u + y * 40503u + b) % 4000000000u) - 2000000000.0; }
static double lt_f64(uint32_t x, uint32_t y, uint32_t b) { return (x % 17 == 3) ? NAN : b * 1e9 - y * 0.001 + x * 1.25e-7; }
static double lt_f32(uint32_t x, uint32_t y, uint32_t b) { return (double)(float)((x % 13 == 5) ? NAN : b * 1e4 - y * 0.5 + x * 0.0625); }

/* Reads the window with gt_read_bands (dst rows of `bands` planes, as the callers lay them out:
 * dst[(r*nb + b)*nx + x], float64) on ctx and compares with val; returns the mismatches, or -1
 * if the read failed. */
static long read_bands_check(cbas_ctx *ctx, gt_reader *r, uint32_t b0, uint32_t nb, uint32_t x0, uint32_t y0,
                             uint32_t nx, uint32_t ny, double (*val)(uint32_t, uint32_t, uint32_t)) {
  double *d = malloc(sizeof *d * nx * ny * nb);
  for (size_t i = 0; i < (size_t)nx * ny * nb; i++) d[i] = -12345.5;
  if (gt_read_bands(ctx, r, b0, nb, x0, y0, nx, ny, GT_F64, d, (size_t)nb * nx, nx)) { free(d); return -1; }
  long bad = 0;
  for (uint32_t y = 0; y < ny; y++)
    for (uint32_t b = 0; b < nb; b++)
      for (uint32_t x = 0; x < nx; x++) {
        double want = val(x0 + x, y0 + y, b0 + b), got = d[((size_t)y * nb + b) * nx + x];
        if (isnan(want) ? !isnan(got) : got != want) bad++;
      }
  free(d);
  return bad;
}
static double wf32(uint32_t x, uint32_t y, uint32_t b) { return f32_val(x, y, b); }

/* gt_read_bands with 1 and 4 threads against the formulas the files were written from: our
 * writer's float32 files (predictor 3, one-row 81-band strips as cum.tif, 5-row strips with
 * windows cutting strips), and libtiff-written deflate files with predictor 2 on uint8 (4
 * bands), uint16, int32, predictor 3 on float64, no predictor on float32, and a big-endian
 * file (read serially); windows with band, column and row offsets. Each strip of a window is
 * decoded once (gt_blocks_decoded), the parallel pools leave nothing allocated, and a
 * corrupt strip gives the same error as on one thread. */
static void test_read_bands_parallel(void) {
  cbas_ctx c1, c4;
  CHECK(ctx_init(&c1, 64 << 20, 1) == 0);
  CHECK(ctx_init(&c4, 64 << 20, 4) == 0);
  char pc[1200], p5[1200], pt[1200]; /* check_path's buffers are reused */
  snprintf(pc, sizeof pc, "%s", check_path("rb_cum.tif"));
  snprintf(p5, sizeof p5, "%s", check_path("rb_rps5.tif"));
  snprintf(pt, sizeof pt, "%s", check_path("rb_truncated.tif"));
  gt_wopts o = f32_opts(324, 40, 81);
  CHECKF(write_f32(&c1, pc, &o, 13, 0) == 0, "%s", c1.msg);
  o = f32_opts(3000, 47, 8);
  o.rows_per_strip = 5;
  CHECKF(write_f32(&c1, p5, &o, 47, 0) == 0, "%s", c1.msg);
  struct { const char *path; uint32_t b0, nb, x0, y0, nx, ny; } win[] = {
      {pc, 0, 81, 0, 0, 324, 40}, {pc, 5, 20, 17, 3, 100, 29}, {pc, 80, 1, 0, 39, 324, 1}, {pc, 0, 81, 0, 7, 324, 17},
      {p5, 0, 8, 0, 0, 3000, 47}, {p5, 2, 5, 999, 3, 1500, 39}, {p5, 7, 1, 0, 44, 3000, 3},
  };
  for (size_t k = 0; k < sizeof win / sizeof win[0]; k++) {
    gt_reader *r1, *r4;
    CHECKF(gt_open(&c1, win[k].path, &r1) == 0 && gt_open(&c4, win[k].path, &r4) == 0, "%s %s", c1.msg, c4.msg);
    uint32_t bh = gt_get_info(r4)->block_h, strips = (win[k].y0 + win[k].ny - 1) / bh - win[k].y0 / bh + 1;
    long b1 = read_bands_check(&c1, r1, win[k].b0, win[k].nb, win[k].x0, win[k].y0, win[k].nx, win[k].ny, wf32);
    long b4 = read_bands_check(&c4, r4, win[k].b0, win[k].nb, win[k].x0, win[k].y0, win[k].nx, win[k].ny, wf32);
    CHECKF(b1 == 0 && b4 == 0, "window %zu: %ld / %ld wrong values (%s %s)", k, b1, b4, c1.msg, c4.msg);
    CHECK_EQ_INT(gt_blocks_decoded(r1), strips);
    CHECK_EQ_INT(gt_blocks_decoded(r4), strips);
    gt_close(&c1, r1);
    gt_close(&c4, r4);
  }
  struct { const char *name, *mode; gt_type t; uint16_t bands, pred; uint32_t w, h, rps; double (*val)(uint32_t, uint32_t, uint32_t); } f[] = {
      {"rb_u8.tif", "w", GT_U8, 4, 2, 20000, 23, 3, lt_u8},
      {"rb_u16.tif", "w", GT_U16, 3, 2, 9000, 21, 4, lt_u16},
      {"rb_i32.tif", "w", GT_I32, 2, 2, 9000, 20, 2, lt_i32},
      {"rb_f64.tif", "w", GT_F64, 3, 3, 5000, 19, 3, lt_f64},
      {"rb_f32.tif", "w", GT_F32, 5, 1, 5000, 17, 2, lt_f32},
      {"rb_u16_be.tif", "wb", GT_U16, 3, 2, 9000, 21, 4, lt_u16},
  };
  for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
    const char *p = check_path(f[k].name);
    CHECKF(write_libtiff(p, f[k].mode, f[k].w, f[k].h, f[k].bands, f[k].t, f[k].pred, f[k].rps, f[k].val) == 0, "%s", p);
    gt_reader *r1, *r4;
    CHECKF(gt_open(&c1, p, &r1) == 0 && gt_open(&c4, p, &r4) == 0, "%s %s", c1.msg, c4.msg);
    CHECK_EQ_INT(gt_get_info(r4)->predictor, f[k].pred);
    uint32_t b0 = f[k].bands > 1 ? 1 : 0;
    long a1 = read_bands_check(&c1, r1, 0, f[k].bands, 0, 0, f[k].w, f[k].h, f[k].val);
    long a4 = read_bands_check(&c4, r4, 0, f[k].bands, 0, 0, f[k].w, f[k].h, f[k].val);
    long s4 = read_bands_check(&c4, r4, b0, f[k].bands - b0, 77, 1, f[k].w - 100, f[k].h - 2, f[k].val);
    CHECKF(a1 == 0 && a4 == 0 && s4 == 0, "%s: %ld / %ld / %ld wrong values (%s %s)", f[k].name, a1, a4, s4, c1.msg, c4.msg);
    gt_close(&c1, r1);
    gt_close(&c4, r4);
  }
  /* A corrupt copy of the 81-band file: same error on 1 and 4 threads. */
  { /* bytes 40000..40399 (strip data: the directory is at the end) overwritten with 0xA5 */
    int fd;
    uint64_t size;
    CHECK(plat_open(pc, PLAT_RDONLY, &fd) == 0);
    CHECK(plat_fsize(fd, &size) == 0 && size > 100000);
    uint8_t *all = malloc(size);
    size_t got;
    CHECK(plat_pread(fd, all, size, 0, &got) == 0 && got == size);
    plat_close(fd);
    memset(all + 40000, 0xA5, 400);
    CHECK(put_file(pt, all, size) == 0);
    free(all);
  }
  char msg1[1024];
  gt_reader *r;
  float *buf = malloc(sizeof *buf * 324 * 81 * 40);
  CHECKF(gt_open(&c1, pt, &r) == 0, "%s", c1.msg);
  CHECK(gt_read_bands(&c1, r, 0, 81, 0, 0, 324, 40, GT_F32, buf, 81 * 324, 324) == CBAS_EFORMAT);
  gt_close(&c1, r);
  snprintf(msg1, sizeof msg1, "%s", c1.msg);
  CHECKF(gt_open(&c4, pt, &r) == 0, "%s", c4.msg);
  CHECK(gt_read_bands(&c4, r, 0, 81, 0, 0, 324, 40, GT_F32, buf, 81 * 324, 324) == CBAS_EFORMAT);
  gt_close(&c4, r);
  free(buf);
  CHECKF(strstr(c4.msg, "rb_truncated.tif") && !strcmp(c4.msg, msg1), "%s | %s", c4.msg, msg1);
  ctx_clear_error(&c1);
  ctx_clear_error(&c4);
  CHECK_EQ_INT(c1.budget->used, 0);
  CHECK_EQ_INT(c4.budget->used, 0);
  /* Bad arguments. */
  CHECKF(gt_open(&c4, pc, &r) == 0, "%s", c4.msg);
  float one;
  CHECK(gt_read_bands(&c4, r, 80, 2, 0, 0, 1, 1, GT_F32, &one, 1, 1) == CBAS_EUSAGE);
  CHECKF(strstr(c4.msg, "rb_cum.tif"), "%s", c4.msg);
  gt_close(&c4, r);
  ctx_free(&c1);
  ctx_free(&c4);
}

/* ---- sample files for tests/interop/gtiff_gdal_write.sh ---------------------------------- *
 * f32_nan.tif: 13 x 9, 1 band, values f32_val(x, y, 0) (NaN where (x + 2y) % 5 == 0),
 *   geotransform (30.5, 0.125, 0, -10.25, 0, -0.0625), nodata nan, description 20200101.
 * multi3.tif: 10 x 700, 3 bands, values f32_val(x, y, b), default strips (68 rows), the same
 *   geotransform, nodata nan, descriptions 20200101 20200113 20200125.
 * u8.tif: 37 x 300, 1 band uint8, values (7x + 3y) % 251, geotransform (-5, 0.5, 0, 5, 0,
 *   -0.5), nodata 255, no description. */
static int write_samples(cbas_ctx *ctx, const char *dir) {
  char p[1200];
  if (plat_mkdir_p(dir)) return ctx_fail(ctx, CBAS_EIO, "%s: cannot create", dir);
  gt_wopts o = f32_opts(13, 9, 1);
  const double gt[6] = {30.5, 0.125, 0, -10.25, 0, -0.0625};
  memcpy(o.geo.gt, gt, sizeof gt);
  const char *d1[1] = {"20200101"}, *d3[3] = {"20200101", "20200113", "20200125"};
  o.band_desc = d1;
  snprintf(p, sizeof p, "%s/f32_nan.tif", dir);
  if (write_f32(ctx, p, &o, 4, 0)) return ctx->status;
  o.width = 10; o.height = 700; o.bands = 3; o.band_desc = d3;
  snprintf(p, sizeof p, "%s/multi3.tif", dir);
  if (write_f32(ctx, p, &o, 33, 0)) return ctx->status;
  gt_wopts u;
  memset(&u, 0, sizeof u);
  u.width = 37; u.height = 300; u.bands = 1; u.type = GT_U8;
  u.geo.has_gt = 1;
  const double gu[6] = {-5, 0.5, 0, 5, 0, -0.5};
  memcpy(u.geo.gt, gu, sizeof gu);
  u.has_nodata = 1; u.nodata = 255;
  snprintf(p, sizeof p, "%s/u8.tif", dir);
  gt_writer *w;
  if (gt_create(ctx, p, &u, &w)) return ctx->status;
  uint8_t row[37];
  for (uint32_t y = 0; y < 300; y++) {
    for (uint32_t x = 0; x < 37; x++) row[x] = u8_val(x, y);
    if (gt_write_rows(ctx, w, 1, row, 37, 0)) { gt_abort(ctx, w); return ctx->status; }
  }
  return gt_commit(ctx, w);
}
static void test_write_samples(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 4 << 20, 1) == 0);
  CHECKF(write_samples(&ctx, check_path("samples")) == 0, "%s", ctx.msg);
  char p[1300];
  snprintf(p, sizeof p, "%s/multi3.tif", check_path("samples"));
  for (uint32_t b = 0; b < 3; b++) CHECK(check_f32(&ctx, p, b, 0));
  ctx_free(&ctx);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--samples")) {
    cbas_ctx ctx;
    if (ctx_init(&ctx, 16 << 20, 1)) return 1;
    int st = write_samples(&ctx, argv[2]);
    if (st) fprintf(stderr, "test_gtiff --samples: %s\n", ctx.msg);
    ctx_free(&ctx);
    return st ? 1 : 0;
  }
  RUN(test_read_u16_big_endian_strips);
  RUN(test_read_i32_planar_tiles);
  RUN(test_read_f64_chunky_tile);
  RUN(test_unsupported_and_corrupt);
  RUN(test_write_f32_nan_roundtrip);
  RUN(test_write_u8_partial_last_strip);
  RUN(test_write_multiband_descriptions);
  RUN(test_write_rotated_and_options);
  RUN(test_write_faults);
  RUN(test_read_faults);
  RUN(test_budget_too_small);
  RUN(test_truncated_copies);
  RUN(test_concurrent_readers);
  RUN(test_write_matches_libtiff_encoder);
  RUN(test_writer_memory);
  RUN(test_write_parallel_identical);
  RUN(test_write_rle);
  RUN(test_write_split_planes);
  RUN(test_read_bands_parallel);
  RUN(test_write_samples);
  return check_done();
}
