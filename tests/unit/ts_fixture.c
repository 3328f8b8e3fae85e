/* ts_fixture.c — synthetic stacks and file helpers for the time-series tests (ts_fixture.h). */
#include "ts_fixture.h"
#include "cbas/gtiff.h"
#include "cbas/licsbas.h"
#include "cbas/stack.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsfx_make_stack(cbas_ctx *ctx, const char *dir, const char *const *ifgs, uint32_t n_ifg, uint32_t w, uint32_t l,
                    const double *bperp, int with_hgt, tsfx_unw_fn u, tsfx_cc_fn c, void *ud) {
  stack_meta m;
  if (stack_meta_alloc(ctx, &m, n_ifg, 0)) return ctx->status;
  for (uint32_t k = 0; k < n_ifg; k++) snprintf(m.ifg[k], sizeof m.ifg[k], "%s", ifgs[k]);
  if (stack_meta_index_epochs(ctx, &m)) { stack_meta_free(&m); return ctx->status; }
  m.width = w;
  m.length = l;
  m.gt[0] = 138.0; m.gt[1] = 0.001; m.gt[2] = 0; m.gt[3] = 36.5; m.gt[4] = 0; m.gt[5] = -0.001;
  m.corner_lat = 36.4995; m.corner_lon = 138.0005; m.post_lat = -0.001; m.post_lon = 0.001;
  m.has_hgt = with_hgt;
  for (uint32_t i = 0; i < m.n_epoch; i++) m.bperp_m[i] = bperp ? bperp[i] : NAN;
  stack_writer *sw;
  if (stack_create(ctx, dir, &m, &sw)) { stack_meta_free(&m); return ctx->status; }
  float *row = malloc((size_t)w * 4);
  uint8_t *cr = malloc(w);
  for (uint32_t y = 0; y < l && !ctx->status; y++) {
    for (uint32_t k = 0; k < n_ifg && !ctx->status; k++) {
      for (uint32_t x = 0; x < w; x++) { row[x] = u(ud, k, x, y); cr[x] = c(ud, k, x, y); }
      if (stack_write_unw_row(ctx, sw, k, y, row) || stack_write_cc_row(ctx, sw, k, y, cr)) break;
    }
    if (with_hgt && !ctx->status) {
      for (uint32_t x = 0; x < w; x++) row[x] = (float)(10 * y + x);
      stack_write_layer_rows(ctx, sw, "hgt", y, 1, row);
    }
  }
  free(row);
  free(cr);
  stack_meta_free(&m);
  if (ctx->status) { stack_abort(sw); return ctx->status; }
  return stack_commit(ctx, sw);
}

void tsfx_date(int e, char out[9]) {
  /* 2020-01-01 plus 12*e days, by day counting */
  static const int md[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = 2020, mo = 0, d = 1 + 12 * e;
  for (;;) {
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int dm = mo == 1 ? 28 + leap : md[mo];
    if (d <= dm) break;
    d -= dm;
    if (++mo == 12) { mo = 0; y++; }
  }
  char b[40];
  snprintf(b, sizeof b, "%04d%02d%02d", y, mo + 1, d);
  memcpy(out, b, 8);
  out[8] = 0;
}
int tsfx_epoch_of(const char *date8) {
  char d[9];
  memcpy(d, date8, 8);
  d[8] = 0;
  return (int)((lb_day_number(d) - lb_day_number("20200101")) / 12);
}
uint32_t tsfx_network(int n_epoch, int degree, char (*names)[18]) {
  uint32_t n = 0;
  for (int a = 0; a < n_epoch; a++)
    for (int b = a + 1; b <= a + degree && b < n_epoch; b++) {
      char da[9], db[9];
      tsfx_date(a, da);
      tsfx_date(b, db);
      snprintf(names[n++], 18, "%s_%s", da, db);
    }
  return n; /* generated in sorted order: primary, then secondary ascending */
}

char *tsfx_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
  if (b) b[n] = 0;
  fclose(f);
  return b;
}

float *tsfx_read_tif(cbas_ctx *ctx, const char *path, uint32_t *w, uint32_t *h) {
  gt_reader *r;
  if (gt_open(ctx, path, &r)) return NULL;
  const gt_info *gi = gt_get_info(r);
  *w = gi->width;
  *h = gi->height;
  float *img = malloc((size_t)gi->width * gi->height * 4);
  if (img && gt_read(ctx, r, 0, 0, 0, gi->width, gi->height, GT_F32, img, gi->width)) { free(img); img = NULL; }
  gt_close(ctx, r);
  return img;
}

int tsfx_same_file(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb;
  while (same) {
    int ca = fgetc(fa), cb = fgetc(fb);
    if (ca != cb) same = 0;
    if (ca == EOF || cb == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}
