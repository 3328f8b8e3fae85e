/* test_mask_png.c — LiCSBAS step 15's figures (mask_ts.png, mask_ts_masked.png): on a TS
 * directory written here with indices planted to fail in known places, every map pixel of the
 * 24 panels is compared with the colour LiCSBAS's semantics give (tests/interop/mask_png_ref.py:
 * NumPy + matplotlib's colour maps, the mask recomputed there); titles by hand; both PNGs read
 * by Pillow and pngcheck; a frame larger than the budget could hold whole is drawn under that
 * budget at the same bounded picture size. */
#include "check.h"
#include "png_check.h"
#include "pyref.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cbas/mask_png.h"
#include "cbas/step_mask.h"
#include "cbas/tsdir.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
  char dir[512];
  stack_meta m;
  tsdir t;
  float *idx[TSMASK_N + 1];   /* vel, then the nine indices, [L][W] */
  tsmask_plan plan;           /* of step 15 run on them with the defaults */
} fixture;

/* Planted values, then step 15 (C-band defaults, n_im_all 20 -> n_unw threshold 30). Each index passes
 * everywhere except a stripe or a square, so the mask has both values; stc has isolated (NaN)
 * pixels, vel a NaN row, a NaN diagonal and the reference pixel (5, 5) = 0. */
static float planted(int k, int x, int y, int W, int L) {
  switch (k) {
  case -1: return y == 0 || x == y ? NAN : x == 5 && y == 5 ? 0.0f : (float)(x - W / 2) * 0.5f + (float)y * 0.1f;
  case TSMASK_COH_AVG: return x < 3 ? 0.04f : x == 7 && y == 3 ? NAN : 0.1f + 0.5f * (float)x / (float)W;
  case TSMASK_N_UNW: return y >= L - 3 ? 25.0f : (float)(32 + (x + y) % 10);
  case TSMASK_VSTD: return x >= 10 && x <= 12 && y >= 10 && y <= 12 ? 150.0f : 5.0f + (float)(x % 50);
  case TSMASK_MAXTLEN: return x == W - 1 ? 0.5f : 2.0f + 0.1f * (float)(y % 40);
  case TSMASK_N_GAP: return y == L / 2 ? 12.0f : (float)(x % 3);
  case TSMASK_STC: return x >= 20 && x <= 22 && y >= 20 && y <= 22 ? NAN : 1.0f + 0.1f * (float)(x % 40);
  case TSMASK_N_IFG_NOLOOP: return (float)(y % 5);
  case TSMASK_N_LOOP_ERR: return (float)((x + y) % 4);
  default: return x >= 30 && x <= 31 ? 3.0f : 0.5f + 0.05f * (float)(y % 30);
  }
}

static int make_fixture(cbas_ctx *ctx, fixture *f, const char *name, uint32_t W, uint32_t L) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", check_path(name));
  f->m.width = W;
  f->m.length = L;
  double gt[6] = {138, 0.001, 0, 36.5, 0, -0.001};
  memcpy(f->m.gt, gt, sizeof gt);
  if (tsdir_create(ctx, &f->t, f->dir, check_tmpdir())) return ctx->status;
  for (int k = -1; k < TSMASK_N; k++) {
    float *a = malloc(sizeof(float) * W * L);
    if (!a) return ctx_fail(ctx, CBAS_ENOMEM, "fixture");
    f->idx[k + 1] = a;
    for (uint32_t y = 0; y < L; y++)
      for (uint32_t x = 0; x < W; x++) a[y * W + x] = planted(k, (int)x, (int)y, (int)W, (int)L);
    if (tsdir_result_put(ctx, &f->t, &f->m, NULL, k < 0 ? "vel" : tsmask_name(k), a)) return ctx->status;
  }
  char path[1200];
  snprintf(path, sizeof path, "%s/info/13parameters.txt", f->dir);
  FILE *fp = fopen(path, "w");
  if (!fp) return ctx_fail(ctx, CBAS_EIO, "%s", path);
  fprintf(fp, "range_samples:  %u\nazimuth_lines:  %u\nwavelength:  0.05546576\nn_im_all:  20\nn_im:  12\n", W, L);
  fclose(fp);
  tsmask_params p;
  tsmask_params_default(&p);
  return mask_run(ctx, &f->t, &f->m, &p, &f->plan, NULL);
}

static void free_fixture(fixture *f) {
  for (int k = 0; k <= TSMASK_N; k++) free(f->idx[k]);
  free(f);
}

static void test_panels_match_licsbas(void) {
  enum { W = 40, L = 30 };
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64u << 20, 2) == 0);
  ctx.quiet = 1;
  fixture *f = malloc(sizeof *f);
  CHECKF(make_fixture(&ctx, f, "panels", W, L) == 0, "%s", ctx.msg);
  mask_png_opts o = {NAN, NAN};
  mask_png_info in;
  CHECKF(mask_png_write(&ctx, &f->t, &f->m, &f->plan, &o, &in) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(ctx.budget->used, 0);
  CHECKF(ctx.budget->peak <= mask_png_need(W, L), "peak %llu > need %llu", (unsigned long long)ctx.budget->peak,
         (unsigned long long)mask_png_need(W, L));
  /* 40 x 30 in a 280 x 220 box: x7 */
  CHECK_EQ_INT(in.fit.reduce, 1);
  CHECK_EQ_INT(in.fit.enlarge, 7);
  /* titles: the masked side and the threshold as 15parameters.txt prints it */
  static const char *want[MASK_PNG_PANELS] = {"vel.mskd mm/yr", "vel mm/yr", "mask", "coh_avg (< 0.05)", "n_unw (< 30)",
                                              "vstd mm/yr (> 100)", "maxTlen yr (< 1)", "n_gap (> 10)", "stc mm (> 5)",
                                              "n_ifg_noloop (> 50)", "n_loop_err (> 5)", "resid_rms mm (> 2)"};
  for (int s = 0; s < MASK_PNG_PANELS; s++) {
    CHECKF(!strcmp(in.panel[0][s].title, want[s]), "slot %d: '%s', expected '%s'", s, in.panel[0][s].title, want[s]);
    int s1 = s < 2 ? 1 - s : s;
    CHECKF(!strcmp(in.panel[1][s1].title, want[s]), "masked slot %d: '%s'", s1, in.panel[1][s1].title);
  }
  /* ranges by hand: gt indices 0 .. 1.2 thre, lt 0.8 thre .. nanmax */
  CHECK_NEAR(in.panel[0][5].vmax, 120, 1e-9);   /* vstd */
  CHECK_NEAR(in.panel[0][11].vmax, 2.4, 1e-9);  /* resid_rms */
  CHECK_NEAR(in.panel[0][3].vmin, 0.04, 1e-9);  /* coh_avg */
  CHECK_NEAR(in.panel[0][3].vmax, 0.1f + 0.5f * 39.0f / 40.0f, 1e-6);
  CHECK_NEAR(in.panel[0][4].vmax, 41, 0);       /* n_unw: 32 + 9 */

  /* decoders: Pillow (sizes) and pngcheck */
  char png[2][1200];
  snprintf(png[0], sizeof png[0], "%s/mask_ts.png", f->dir);
  snprintf(png[1], sizeof png[1], "%s/mask_ts_masked.png", f->dir);
  for (int k = 0; k < 2; k++) {
    uint32_t w, h;
    int ch;
    uint8_t *img = pngck_decode(png[k], PNGCK_PIL, &w, &h, &ch);
    CHECKF(img != NULL, "%s does not decode", png[k]);
    free(img);
    CHECK_EQ_INT(w, in.width);
    CHECK_EQ_INT(h, in.height);
    CHECK(ch == 3);
    CHECKF(check_sh("pngcheck -q '%s' >/dev/null", png[k]) == 0, "pngcheck rejects %s (or is not installed)", png[k]);
  }
  /* every map pixel against the independent reference */
  const char *py = pyref_python("numpy, PIL, matplotlib");
  CHECKF(py != NULL, "no python3 with numpy, Pillow and matplotlib (platform/debian/bootstrap.sh)");
  char dir[1200], lay[1200];
  snprintf(dir, sizeof dir, "%s/raw", f->dir);
  CHECK(check_sh("mkdir -p '%s'", dir) == 0);
  for (int k = -1; k < TSMASK_N; k++) {
    char path[1300];
    snprintf(path, sizeof path, "%s/%s.f32", dir, k < 0 ? "vel" : tsmask_name(k));
    CHECK(pyref_write(path, f->idx[k + 1], sizeof(float) * W * L) == 0);
  }
  snprintf(lay, sizeof lay, "%s/layout.txt", f->dir);
  FILE *fp = fopen(lay, "w");
  CHECK(fp != NULL);
  fprintf(fp, "%d %d %u\n", W, L, in.fit.enlarge);
  for (int fig = 0; fig < 2; fig++)
    for (int s = 0; s < MASK_PNG_PANELS; s++) fprintf(fp, "%d %d %d %d\n", fig, s, in.panel[fig][s].map_x, in.panel[fig][s].map_y);
  fclose(fp);
  CHECKF(check_sh("%s tests/interop/mask_png_ref.py '%s' '%s' '%s' '%s' > '%s/ref.txt' 2>&1", py, dir, lay, png[0], png[1],
                  f->dir) == 0,
         "reference mismatch, see %s/ref.txt", f->dir);
  free_fixture(f);
  ctx_free(&ctx);
}

/* 1000 x 800 (eleven rasters of 3.2 MB, 35 MB together) under a 14 MB budget: streamed in row
 * blocks, shown 1:4, a picture of bounded size; the colour of a 4x4 box of vstd is exact. */
static void test_big_frame_small_budget(void) {
  enum { W = 1000, L = 800 };
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 256u << 20, 2) == 0);
  ctx.quiet = 1;
  fixture *f = malloc(sizeof *f);
  CHECKF(make_fixture(&ctx, f, "big", W, L) == 0, "%s", ctx.msg);
  ctx_free(&ctx);
  CHECKF(mask_png_need(W, L) < (14u << 20), "needs %llu", (unsigned long long)mask_png_need(W, L));
  CHECK(ctx_init(&ctx, 14u << 20, 2) == 0);
  ctx.quiet = 1;
  mask_png_opts o = {-10, 10};
  mask_png_info in;
  CHECKF(mask_png_write(&ctx, &f->t, &f->m, &f->plan, &o, &in) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(in.fit.reduce, 4);
  CHECK_EQ_INT(in.fit.map_w, 250);
  CHECK_EQ_INT(in.fit.map_h, 200);
  CHECK(in.width <= 1680 && in.height <= 802);
  CHECKF(ctx.budget->peak < (14u << 20), "peak %.1f MB", ctx.budget->peak / 1e6);
  CHECK_EQ_INT(ctx.budget->used, 0);
  CHECK_NEAR(in.panel[0][0].vmin, -10, 0);
  char png[1200];
  snprintf(png, sizeof png, "%s/mask_ts.png", f->dir);
  uint32_t w, h;
  int ch;
  uint8_t *img = pngck_decode(png, PNGCK_PIL, &w, &h, &ch);
  CHECK(img != NULL && w == in.width && h == in.height);
  /* vstd (slot 5) at map pixel (50, 30) = source box x 200..203, y 120..123: 5 + x % 50 = 5..8,
   * mean 6.5 over the box (vel valid there, not 0) -> viridis_r over 0 .. 120 */
  plot_lut lut;
  plot_lut_init(&lut, PLOT_CMAP_SEQ_R, 0, 120);
  plot_rgba c = plot_lut_color(&lut, 6.5), n = plot_cmap_nan(PLOT_CMAP_SEQ_R);
  const uint8_t *px = img + ((size_t)(in.panel[0][5].map_y + 30) * w + (size_t)(in.panel[0][5].map_x + 50)) * 3;
  CHECKF(px[0] == c.r && px[1] == c.g && px[2] == c.b, "vstd box: %d,%d,%d vs %d,%d,%d", px[0], px[1], px[2], c.r, c.g, c.b);
  /* vel (slot 1): map row 0 is the mean of 4 rows of which row 0 is NaN: a colour; the
   * diagonal box (0,0) has row 0 and 3 more diagonal pixels NaN, 7 of 16: a colour; in the
   * masked figure the coh_avg stripe x < 3 (masked) makes map column 0 (3 of 4 NaN) grey */
  px = img + ((size_t)in.panel[0][1].map_y * w + (size_t)in.panel[0][1].map_x + 100) * 3;
  CHECK(!(px[0] == n.r && px[1] == n.g && px[2] == n.b));
  px = img + ((size_t)in.panel[0][1].map_y * w + (size_t)in.panel[0][1].map_x) * 3;
  CHECK(!(px[0] == n.r && px[1] == n.g && px[2] == n.b));
  free(img);
  snprintf(png, sizeof png, "%s/mask_ts_masked.png", f->dir);
  img = pngck_decode(png, PNGCK_PIL, &w, &h, &ch);
  CHECK(img != NULL);
  px = img + ((size_t)(in.panel[1][5].map_y + 100) * w + (size_t)in.panel[1][5].map_x) * 3;
  CHECKF(px[0] == n.r && px[1] == n.g && px[2] == n.b, "masked vstd column 0: %d,%d,%d", px[0], px[1], px[2]);
  px = img + ((size_t)(in.panel[1][5].map_y + 100) * w + (size_t)in.panel[1][5].map_x + 1) * 3;
  CHECK(!(px[0] == n.r && px[1] == n.g && px[2] == n.b));
  free(img);
  free_fixture(f);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_panels_match_licsbas);
  RUN(test_big_frame_small_budget);
  return check_done();
}
