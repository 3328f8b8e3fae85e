/* test_png.c — the PNG encoder, read back by independent decoders (Pillow, GDAL/libpng) and a
 * by-hand structural check (CRC-32, Adler-32, IHDR), pixel values compared exactly. */
#include "check.h"
#include "png_check.h"
#include "cbas/budget.h"
#include "cbas/plat.h"
#include "cbas/png.h"
#include <stdlib.h>
#include <string.h>

/* Deterministic test pattern: smooth ramps (favour Sub/Up/Paeth) mixed with noise blocks
 * (favour None) so that adaptive filtering switches filter types across rows. */
static uint8_t pattern(uint32_t x, uint32_t y, int c, uint32_t seed) {
  if ((y / 7) % 3 == 2) {
    uint32_t v = (x * 2654435761u) ^ (y * 40503u) ^ ((uint32_t)c * 97u) ^ seed;
    v ^= v >> 13; v *= 0x5bd1e995u; v ^= v >> 15;
    return (uint8_t)v;
  }
  return (uint8_t)(x * (3 + c) + y * (5 + 2 * c) + seed);
}

static uint8_t *make_image(uint32_t w, uint32_t h, int ch, uint32_t seed) {
  uint8_t *img = malloc((size_t)w * h * ch);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      for (int c = 0; c < ch; c++) img[((size_t)y * w + x) * ch + c] = pattern(x, y, c, seed);
  return img;
}

/* Writes img in blocks of `block` rows (stride = padded) and returns 0 on success. */
static int write_png(cbas_ctx *ctx, const char *path, const uint8_t *img, uint32_t w, uint32_t h,
                     int ch, int filter, uint32_t block) {
  png_opts o = {w, h, ch, 0, filter, "test image"};
  png_writer *pw;
  if (png_open(ctx, path, &o, &pw)) return ctx->status;
  size_t stride = (size_t)w * ch + 5;
  uint8_t *buf = malloc(stride * block);
  for (uint32_t y = 0; y < h; y += block) {
    uint32_t n = h - y < block ? h - y : block;
    for (uint32_t r = 0; r < n; r++) memcpy(buf + r * stride, img + (size_t)(y + r) * w * ch, (size_t)w * ch);
    if (png_write_rows(ctx, pw, n, buf, stride)) { free(buf); png_abort(ctx, pw); return ctx->status; }
  }
  free(buf);
  return png_commit(ctx, pw);
}

/* Decodes with `decoder` and compares every sample. */
static int same_pixels(const char *path, int decoder, const uint8_t *img, uint32_t w, uint32_t h, int ch) {
  uint32_t dw, dh; int dc;
  uint8_t *d = pngck_decode(path, decoder, &dw, &dh, &dc);
  if (!d) return 0;
  int ok = dw == w && dh == h && dc == ch && !memcmp(d, img, (size_t)w * h * ch);
  if (!ok && dw == w && dh == h && dc == ch)
    for (size_t i = 0; i < (size_t)w * h * ch; i++)
      if (d[i] != img[i]) { printf("# first difference at sample %zu: %d vs %d\n", i, d[i], img[i]); break; }
  free(d);
  return ok;
}

static void roundtrip(int ch, uint32_t w, uint32_t h, int filter, unsigned want_filters) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 8 << 20, 1) == 0);
  char name[64];
  snprintf(name, sizeof name, "rt_c%d_f%d_%ux%u.png", ch, filter, w, h);
  const char *p = check_path(name);
  uint8_t *img = make_image(w, h, ch, (uint32_t)(ch * 31 + filter));
  CHECKF(write_png(&ctx, p, img, w, h, ch, filter, 3) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(ctx.budget->used, 0);
  char why[128];
  int n_idat; unsigned used;
  CHECKF(pngck_structure(p, w, h, ch, &n_idat, &used, why, sizeof why) == 0, "%s: %s", p, why);
  CHECKF((used & want_filters) == want_filters, "filters used 0x%x, expected at least 0x%x", used, want_filters);
  CHECKF(same_pixels(p, PNGCK_PIL, img, w, h, ch), "Pillow read-back of %s differs", p);
  CHECKF(same_pixels(p, PNGCK_GDAL, img, w, h, ch), "GDAL read-back of %s differs", p);
  free(img);
  ctx_free(&ctx);
}

static void test_gray_adaptive(void) { roundtrip(1, 37, 23, PNG_FILTER_ADAPTIVE, 0); }
static void test_rgb_adaptive(void) {
  /* smooth rows pick a predicting filter, noisy rows filter None */
  roundtrip(3, 101, 67, PNG_FILTER_ADAPTIVE, 1u << 0);
}
static void test_rgba_adaptive(void) { roundtrip(4, 64, 40, PNG_FILTER_ADAPTIVE, 0); }
static void test_fixed_filters(void) {
  for (int f = PNG_FILTER_NONE; f <= PNG_FILTER_PAETH; f++) {
    roundtrip(3, 33, 17, f, 1u << (f - 1));
    if (check_failed_now) return;
    roundtrip(1, 1, 5, f, 1u << (f - 1)); /* one-pixel-wide rows: no left neighbour at all */
    if (check_failed_now) return;
  }
}

static void test_adaptive_picks_more_than_one(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 8 << 20, 1) == 0);
  const char *p = check_path("mixed.png");
  uint32_t w = 200, h = 60;
  uint8_t *img = make_image(w, h, 3, 7);
  CHECK(write_png(&ctx, p, img, w, h, 3, PNG_FILTER_ADAPTIVE, 60) == 0);
  char why[128]; int n_idat; unsigned used;
  CHECKF(pngck_structure(p, w, h, 3, &n_idat, &used, why, sizeof why) == 0, "%s", why);
  int kinds = 0;
  for (int k = 0; k < 5; k++) kinds += (used >> k) & 1;
  CHECKF(kinds >= 2, "adaptive filtering used only mask 0x%x", used);
  CHECK(used & 1u); /* the noise rows */
  free(img);
  ctx_free(&ctx);
}

/* A large, poorly compressible image spans many IDAT chunks; the writer's memory stays at
 * rows + zlib state, independent of the height. */
static void test_large_many_idat_bounded_memory(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *p = check_path("large.png");
  uint32_t w = 1000, h = 900;
  png_opts o = {w, h, 3, 1, 0, NULL};
  png_writer *pw;
  CHECK(png_open(&ctx, p, &o, &pw) == 0);
  uint8_t *row = malloc((size_t)w * 3);
  uint32_t s = 12345;
  uint8_t *img = malloc((size_t)w * h * 3);
  for (uint32_t y = 0; y < h; y++) {
    for (size_t i = 0; i < (size_t)w * 3; i++) { s = s * 1103515245u + 12345u; row[i] = (uint8_t)(s >> 16); }
    memcpy(img + (size_t)y * w * 3, row, (size_t)w * 3);
    CHECK(png_write_rows(&ctx, pw, 1, row, 0) == 0);
  }
  CHECK(png_commit(&ctx, pw) == 0);
  uint64_t peak = ctx.budget->peak;
  CHECKF(peak < 400u * 1024, "writer peak %llu bytes", (unsigned long long)peak);
  char why[128]; int n_idat; unsigned used;
  CHECKF(pngck_structure(p, w, h, 3, &n_idat, &used, why, sizeof why) == 0, "%s", why);
  CHECKF(n_idat >= 80, "only %d IDAT chunks for ~2.7 MB of noise", n_idat);
  CHECK(same_pixels(p, PNGCK_PIL, img, w, h, 3));
  if (check_sh("command -v pngcheck >/dev/null 2>&1") == 0)
    CHECKF(check_sh("pngcheck -q '%s'", p) == 0, "pngcheck rejects %s", p);
  free(row); free(img);
  ctx_free(&ctx);
}

static void test_errors_and_atomicity(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 8 << 20, 1) == 0);
  png_writer *pw;
  png_opts bad = {10, 10, 2, 0, 0, NULL};
  CHECK(png_open(&ctx, check_path("bad.png"), &bad, &pw) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "bad.png") && strstr(ctx.msg, "channels"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  png_opts zero = {0, 10, 3, 0, 0, NULL};
  CHECK(png_open(&ctx, check_path("bad.png"), &zero, &pw) == CBAS_EUSAGE);
  ctx_clear_error(&ctx);

  /* Too few rows: commit refuses and nothing appears. */
  const char *p = check_path("short.png");
  png_opts o = {8, 4, 3, 0, 0, NULL};
  uint8_t row[24] = {0};
  CHECK(png_open(&ctx, p, &o, &pw) == 0);
  CHECK(png_write_rows(&ctx, pw, 3, row, 0) == 0);
  CHECK(png_write_rows(&ctx, pw, 2, row, 0) != 0); /* past the height */
  ctx_clear_error(&ctx);
  CHECK(png_commit(&ctx, pw) != 0);
  plat_stat st;
  CHECK(plat_stat_path(p, &st) == 0 && !st.exists);
  ctx_clear_error(&ctx);

  /* A full disk during the write: error naming the file, the old file intact, no temporary. */
  const char *q = check_path("keep.png");
  uint8_t *img = make_image(50, 50, 3, 1);
  CHECK(write_png(&ctx, q, img, 50, 50, 3, 0, 50) == 0);
  CHECK(plat_stat_path(q, &st) == 0 && st.exists);
  uint64_t size0 = st.size;
  plat_fault_set(PLAT_OP_WRITE, 5, plat_err_nospc()); /* the first IDAT */
  uint8_t *img2 = make_image(50, 50, 3, 2);
  CHECK(write_png(&ctx, q, img2, 50, 50, 3, 0, 50) == CBAS_EIO);
  CHECKF(strstr(ctx.msg, "keep.png") != NULL, "%s", ctx.msg);
  ctx_clear_error(&ctx);
  CHECK(plat_stat_path(q, &st) == 0 && st.exists && st.size == size0);
  CHECK(same_pixels(q, PNGCK_PIL, img, 50, 50, 3));
  char tmp[1300];
  snprintf(tmp, sizeof tmp, "%s.tmp%d", q, plat_pid());
  CHECK(plat_stat_path(tmp, &st) == 0 && !st.exists);
  CHECK_EQ_INT(ctx.budget->used, 0);

  /* Budget too small for the deflate state: a budget error, nothing left behind. */
  cbas_ctx small;
  CHECK(ctx_init(&small, 64 << 10, 1) == 0);
  CHECK(png_open(&small, check_path("small.png"), &o, &pw) == CBAS_EBUDGET);
  CHECKF(strstr(small.msg, "PNG deflate state") != NULL, "%s", small.msg);
  CHECK(plat_stat_path(check_path("small.png"), &st) == 0 && !st.exists);
  CHECK_EQ_INT(small.budget->used, 0);
  ctx_free(&small);
  free(img); free(img2);
  ctx_free(&ctx);
}

/* The read-back checks are able to fail: one flipped bit in the compressed data is caught. */
static void test_checkers_detect_corruption(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 8 << 20, 1) == 0);
  const char *p = check_path("corrupt.png");
  uint8_t *img = make_image(40, 30, 3, 3);
  CHECK(write_png(&ctx, p, img, 40, 30, 3, 0, 30) == 0);
  FILE *f = fopen(p, "r+b");
  CHECK(f != NULL);
  fseek(f, -40, SEEK_END); /* inside the last IDAT */
  int c = fgetc(f);
  fseek(f, -40, SEEK_END);
  fputc(c ^ 0x10, f);
  fclose(f);
  char why[128]; int n_idat; unsigned used;
  CHECK(pngck_structure(p, 40, 30, 3, &n_idat, &used, why, sizeof why) != 0);
  CHECKF(strstr(why, "CRC") != NULL, "%s", why);
  uint32_t w, h; int ch;
  uint8_t *d = pngck_decode(p, PNGCK_PIL, &w, &h, &ch);
  CHECK(d == NULL);
  free(img);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_checkers_detect_corruption);
  RUN(test_gray_adaptive);
  RUN(test_rgb_adaptive);
  RUN(test_rgba_adaptive);
  RUN(test_fixed_filters);
  RUN(test_adaptive_picks_more_than_one);
  RUN(test_large_many_idat_bounded_memory);
  RUN(test_errors_and_atomicity);
  return check_done();
}
