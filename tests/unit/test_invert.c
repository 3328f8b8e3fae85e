/* test_invert.c — `cbas invert` (LiCSBAS step 13) and `cbas vstd` (step 14).
 *
 * Step 13 on a 9x7 stack of 12 epochs (degree-3 network) built from a known truth per pixel,
 * cum(t) = v t + a sin(2 pi t) + s [t >= t_6] with v, a, s varying over the image, with
 * special pixels: one missing 3 ifgs, one whose valid ifgs leave a gap in the network (linear
 * truth: exact recovery across the gap), one with two consecutive gaps (an epoch masked), a
 * chain with one triangle (n_ifg_noloop by hand), one with too few ifgs (not inverted), and two
 * garbage ifgs listed in 11bad/12bad (must not be used). Checked against the truth: cum in the
 * 13ref frame, vel/vintercept in the 12ref frame (OLS of the truth), n_gap, maxTlen,
 * n_ifg_noloop, residuals, the reports; 13ref recomputed independently (sorted medians) from
 * the unreferenced cum; LS and WLS; bitwise independence of threads and blocks; the budget
 * check. Step 14: the patch layout of get_patchrow by hand; vstd and STC bitwise against
 * nsbas_boot_pixel / nsbas_boot_std / nsbas_stc_row with LiCSBAS's rule that a singular draw
 * voids that draw for the whole patch (a patch with a one-epoch pixel loses every draw);
 * zero vstd for linear series; thread/block independence. */
#include "check.h"
#include "ts_fixture.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/licsbas.h"
#include "cbas/nsbas.h"
#include "cbas/step_invert.h"
#include "cbas/step_vstd.h"
#include "cbas/tsdir.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI_D 3.14159265358979323846
#define NE 12
#define WD 9
#define LN 7

static char NAMES[NE * 3][18];
static int NIFG, PRIM[NE * 3], SEC[NE * 3];
static int BAD11, BAD12;   /* garbage ifgs: (0,3) in 11bad_ifg.txt, (4,6) in 12bad_ifg.txt */
static int MISS[3];        /* ifgs missing at pixel (1,1): (1,3), (6,7), (8,10) */

enum { REF12_X = 5, REF12_Y = 2, GAP_X = 2, GAP_Y = 3, DGAP_X = 0, DGAP_Y = 6, FEW_X = 8, FEW_Y = 0,
       CHAIN_X = 4, CHAIN_Y = 4, MISS_X = 1, MISS_Y = 1 };

static int ifg_index(int a, int b) {
  for (int k = 0; k < NIFG; k++)
    if (PRIM[k] == a && SEC[k] == b) return k;
  return -1;
}
static void setup_network(void) {
  NIFG = (int)tsfx_network(NE, 3, NAMES);
  for (int k = 0; k < NIFG; k++) {
    PRIM[k] = tsfx_epoch_of(NAMES[k]);
    SEC[k] = tsfx_epoch_of(NAMES[k] + 9);
  }
  BAD11 = ifg_index(0, 3);
  BAD12 = ifg_index(4, 6);
  MISS[0] = ifg_index(1, 3);
  MISS[1] = ifg_index(6, 7);
  MISS[2] = ifg_index(8, 10);
}

static double coef_r2m(void) { return -(299792458.0 / 5.405e9) / 4.0 / PI_D * 1000.0; }
static float t_yr(int e) { return (float)(12.0 * e / 365.25); }   /* LiCSBAS's float32 dt_cum */
static int is_at(uint32_t x, uint32_t y, int px, int py) { return x == (uint32_t)px && y == (uint32_t)py; }
static int linear_px(uint32_t x, uint32_t y) {
  return is_at(x, y, REF12_X, REF12_Y) || is_at(x, y, GAP_X, GAP_Y) || is_at(x, y, DGAP_X, DGAP_Y);
}
static double truth(int e, uint32_t x, uint32_t y) {
  double t = 12.0 * e / 365.25;
  double v = 2.0 + 0.5 * x + 0.25 * y, a = 1.0 + 0.1 * x, s = 0.5 * y + 0.3;
  if (linear_px(x, y)) a = s = 0;
  return v * t + a * sin(2 * PI_D * t) + (e >= 6 ? s : 0);
}
static int spans(int k, int j) { return PRIM[k] <= j && j < SEC[k]; }
static int valid_at(int k, uint32_t x, uint32_t y) {
  if (is_at(x, y, GAP_X, GAP_Y)) return !spans(k, 5);
  if (is_at(x, y, DGAP_X, DGAP_Y)) return !spans(k, 3) && !spans(k, 4);
  if (is_at(x, y, FEW_X, FEW_Y)) return k < 5;
  if (is_at(x, y, CHAIN_X, CHAIN_Y)) return SEC[k] - PRIM[k] == 1 || (PRIM[k] == 0 && SEC[k] == 2);
  if (is_at(x, y, MISS_X, MISS_Y)) return k != MISS[0] && k != MISS[1] && k != MISS[2];
  return 1;
}
static float unw_truth(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  (void)ud;
  if (!valid_at((int)k, x, y)) return NAN;
  double d = (truth(SEC[k], x, y) - truth(PRIM[k], x, y)) / coef_r2m();
  if ((int)k == BAD11 || (int)k == BAD12) d += 40.0;
  return (float)d;
}
static uint8_t cc_var(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  (void)ud;
  return (uint8_t)(90 + (k * 7 + x * 3 + y) % 150);
}

static int put_text(cbas_ctx *ctx, const char *td, const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/info/%s", td, name);
  return afile_put(ctx, p, text, strlen(text));
}

/* A TSDIR for the stack with 11bad/12bad/12ref as steps 11-12 would leave them. */
static int make_ts(cbas_ctx *ctx, const char *sd, const char *td) {
  tsdir t;
  char l11[32], l12[32], ref[32];
  snprintf(l11, sizeof l11, "%s\n", NAMES[BAD11]);
  snprintf(l12, sizeof l12, "%s\n", NAMES[BAD12]);
  snprintf(ref, sizeof ref, "%d:%d/%d:%d\n", REF12_X, REF12_X + 1, REF12_Y, REF12_Y + 1);
  if (tsdir_create(ctx, &t, td, sd) || put_text(ctx, td, "11bad_ifg.txt", l11) || put_text(ctx, td, "12bad_ifg.txt", l12) ||
      put_text(ctx, td, "12ref.txt", ref))
    return ctx->status;
  return 0;
}

static int run_inv(cbas_ctx *ctx, const char *sd, const char *td, const inv_params *p, inv_summary *sum) {
  stack *s;
  tsdir t;
  ctx->quiet = 1;
  if (stack_open(ctx, sd, &s)) return ctx->status;
  if (!tsdir_open(ctx, &t, td, sd)) inv_run(ctx, &t, s, p, sum);
  stack_close(s);
  return ctx->status;
}

static inv_params default_inv(void) {
  inv_params p;
  memset(&p, 0, sizeof p);
  p.alg = NSBAS_LS;
  p.alg_name = "LS";
  p.gamma = 1e-4;
  p.n_unw_r_thre = 0.5;   /* n_unw_thre = 6, so the sparse special pixels are inverted */
  return p;
}

/* Multi-band GeoTIFF band b as a malloc'd image. */
static float *read_band(cbas_ctx *ctx, const char *path, uint32_t band) {
  gt_reader *r;
  if (gt_open(ctx, path, &r)) return NULL;
  const gt_info *gi = gt_get_info(r);
  float *img = malloc((size_t)gi->width * gi->height * 4);
  if (img && gt_read(ctx, r, band, 0, 0, gi->width, gi->height, GT_F32, img, gi->width)) { free(img); img = NULL; }
  gt_close(ctx, r);
  return img;
}

/* OLS slope and intercept of y_i on the float32 t_i, i < NE. */
static void ols(const double *y, double *slope, double *icpt) {
  double st = 0, sy = 0, stt = 0, sty = 0;
  for (int i = 0; i < NE; i++) {
    double t = t_yr(i);
    st += t; sy += y[i]; stt += t * t; sty += t * y[i];
  }
  *slope = (NE * sty - st * sy) / (NE * stt - st * st);
  *icpt = (sy - *slope * st) / NE;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- step 13 against the truth */

static void check_truth_run(const char *td, int wls) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  char p[512];
#define TSF(name) (snprintf(p, sizeof p, "%s/%s", td, name), p)
  /* 13ref */
  char *ref = tsfx_slurp(TSF("info/13ref.txt"));
  unsigned rx, rx2, ry, ry2;
  CHECK(ref && sscanf(ref, "%u:%u/%u:%u", &rx, &rx2, &ry, &ry2) == 4 && rx2 == rx + 1 && ry2 == ry + 1);
  free(ref);
  CHECK(rx < WD && ry < LN);
  /* cum in the 13ref frame: (T_i(p) - T_0(p)) - (T_i(r) - T_0(r)) */
  int n_checked = 0;
  for (int i = 0; i < NE; i++) {
    float *c = read_band(&ctx, TSF("results/cum.tif"), (uint32_t)i);
    CHECKF(c != NULL, "%s", ctx.msg);
    for (uint32_t y = 0; y < LN; y++)
      for (uint32_t x = 0; x < WD; x++) {
        float v = c[y * WD + x];
        if (is_at(x, y, FEW_X, FEW_Y)) { CHECK(isnan(v)); continue; }
        if (is_at(x, y, DGAP_X, DGAP_Y) && i == 4) { CHECKF(isnan(v), "double gap epoch not masked: %g", v); continue; }
        double e = (truth(i, x, y) - truth(0, x, y)) - (truth(i, rx, ry) - truth(0, rx, ry));
        CHECKF(fabs(v - e) < 2e-4, "cum epoch %d at (%u,%u) = %.7g, truth %.7g", i, x, y, v, e);
        n_checked++;
      }
    free(c);
  }
  CHECK_EQ_INT(n_checked, NE * (WD * LN - 1) - 1);
  /* vel, vintercept in the 12ref frame: OLS of the truth relative to the 12ref pixel */
  float *vel = tsfx_read_tif(&ctx, TSF("results/vel.tif"), &(uint32_t){0}, &(uint32_t){0});
  float *vic = tsfx_read_tif(&ctx, TSF("results/vintercept.tif"), &(uint32_t){0}, &(uint32_t){0});
  CHECK(vel && vic);
  CHECK(vel[REF12_Y * WD + REF12_X] == 0.0f);
  for (uint32_t y = 0; y < LN; y++)
    for (uint32_t x = 0; x < WD; x++) {
      if (is_at(x, y, FEW_X, FEW_Y)) { CHECK(isnan(vel[y * WD + x]) && isnan(vic[y * WD + x])); continue; }
      double rel[NE], sl, ic;
      for (int i = 0; i < NE; i++)
        rel[i] = (truth(i, x, y) - truth(0, x, y)) - (truth(i, REF12_X, REF12_Y) - truth(0, REF12_X, REF12_Y));
      ols(rel, &sl, &ic);
      CHECKF(fabs(vel[y * WD + x] - sl) < 1e-3, "vel at (%u,%u) = %.7g, truth %.7g", x, y, vel[y * WD + x], sl);
      CHECKF(fabs(vic[y * WD + x] - ic) < 1e-3, "vintercept at (%u,%u) = %.7g, truth %.7g", x, y, vic[y * WD + x], ic);
    }
  free(vel);
  free(vic);
  /* network statistics by hand */
  float *ng = tsfx_read_tif(&ctx, TSF("results/n_gap.tif"), &(uint32_t){0}, &(uint32_t){0});
  float *mt = tsfx_read_tif(&ctx, TSF("results/maxTlen.tif"), &(uint32_t){0}, &(uint32_t){0});
  float *nl = tsfx_read_tif(&ctx, TSF("results/n_ifg_noloop.tif"), &(uint32_t){0}, &(uint32_t){0});
  float *rr = tsfx_read_tif(&ctx, TSF("results/resid_rms.tif"), &(uint32_t){0}, &(uint32_t){0});
  CHECK(ng && mt && nl && rr);
  for (uint32_t y = 0; y < LN; y++)
    for (uint32_t x = 0; x < WD; x++) {
      size_t i = y * WD + x;
      if (is_at(x, y, FEW_X, FEW_Y)) { CHECK(isnan(ng[i]) && isnan(mt[i]) && isnan(nl[i]) && isnan(rr[i])); continue; }
      float eg = 0, et = t_yr(NE - 1), en = 0;
      if (is_at(x, y, GAP_X, GAP_Y)) { eg = 1; et = fmaxf(t_yr(5) - t_yr(0), t_yr(11) - t_yr(6)); }
      if (is_at(x, y, DGAP_X, DGAP_Y)) { eg = 2; et = fmaxf(t_yr(3), t_yr(11) - t_yr(5)); }
      if (is_at(x, y, CHAIN_X, CHAIN_Y)) en = NE - 1 - 2;   /* chain: only (0,1), (1,2) in the triangle */
      CHECKF(ng[i] == eg, "n_gap at (%u,%u) = %g, expected %g", x, y, ng[i], eg);
      CHECKF(fabsf(mt[i] - et) < 1e-5f, "maxTlen at (%u,%u) = %g, expected %g", x, y, mt[i], et);
      CHECKF(nl[i] == en, "n_ifg_noloop at (%u,%u) = %g, expected %g", x, y, nl[i], en);
      CHECKF(rr[i] >= 0 && rr[i] < 1e-3f, "resid_rms at (%u,%u) = %g", x, y, rr[i]);
    }
  free(ng); free(mt); free(nl); free(rr);
  /* reports */
  char *par = tsfx_slurp(TSF("info/13parameters.txt"));
  CHECK(par != NULL);
  CHECKF(strstr(par, "range_samples:  9\nazimuth_lines:  7\nwavelength:     0.055465764662349676\n"
                     "n_im_all:       12\nn_im:           12\nn_ifg_all:      30\nn_ifg:          28\n"
                     "n_ifg_bad:      2\nn_unw_thre:     6\nref_area:       5:6/2:3\nmemory_size:    ") == par,
         "%s", par);
  CHECK(strstr(par, wls ? "\ninv_alg:        WLS\ngamma:          0.0001\npixel_spacing_r: " :
                          "\ninv_alg:        LS\ngamma:          0.0001\npixel_spacing_r: "));
  free(par);
  char *used = tsfx_slurp(TSF("info/13used_image.txt"));
  CHECK(used && strlen(used) == NE * 9 && !strncmp(used, "20200101\n20200113\n", 18));
  free(used);
  char *res = tsfx_slurp(TSF("info/13resid.txt"));
  CHECK(res && !strncmp(res, "# RMS of residual (mm)\n", 23));
  int lines = 0;
  for (char *q = res ? strchr(res, '\n') + 1 : NULL; q && *q; q = strchr(q, '\n') + 1) {
    CHECKF(!strncmp(q + 17, "  0.00\n", 7) && strncmp(q, NAMES[BAD11], 17) && strncmp(q, NAMES[BAD12], 17),
           "13resid line: %.30s", q);
    lines++;
  }
  CHECK_EQ_INT(lines, NIFG - 2);
  free(res);
#undef TSF
  ctx_free(&ctx);
}

static void test_invert_truth_ls(void) {
  setup_network();
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  const char *sd = check_path("tr/stack"), *td = check_path("tr/TS");
  const char *names[NE * 3];
  for (int k = 0; k < NIFG; k++) names[k] = NAMES[k];
  CHECKF(tsfx_make_stack(&ctx, sd, names, (uint32_t)NIFG, WD, LN, NULL, 0, unw_truth, cc_var, NULL) == 0, "%s", ctx.msg);
  CHECKF(make_ts(&ctx, sd, td) == 0, "%s", ctx.msg);
  inv_params p = default_inv();
  p.keep_work = 1;
  inv_summary sum;
  CHECKF(run_inv(&ctx, sd, td, &p, &sum) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(sum.n_im, NE);
  CHECK_EQ_INT(sum.n_ifg, NIFG - 2);
  CHECK_EQ_INT(sum.n_unw_thre, 6);
  CHECK_EQ_INT(sum.n_route[NSBAS_R_SKIP], 1);
  CHECK(sum.n_route[NSBAS_R_DOWNDATE] + sum.n_route[NSBAS_R_FACTOR] + sum.n_route[NSBAS_R_CACHED] >= 4);
  CHECK_EQ_INT(sum.n_route[NSBAS_R_FAILED], 0);
  ctx_free(&ctx);
  check_truth_run(td, 0);

  /* 13ref recomputed from the kept unreferenced cum: sorted medians, float32 RMS, min n_gap */
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  char path[512];
  snprintf(path, sizeof path, "%s/work/13cum.f32", td);
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  size_t nrow = (size_t)(NE + 1) * WD, n = nrow * LN;
  float *wk = malloc(n * 4), *col = malloc(WD * LN * 4), med[NE];
  CHECK(wk && col && fread(wk, 4, n, f) == n);
  fclose(f);
  for (int i = 0; i < NE; i++) {
    int m = 0;
    for (int q = 0; q < WD * LN; q++) {
      float v = wk[(q / WD) * nrow + (size_t)i * WD + q % WD];
      if (v == v) col[m++] = v;
    }
    qsort(col, (size_t)m, 4, cmp_float);
    float s = col[(m - 1) / 2] + col[m / 2];
    med[i] = m & 1 ? col[m / 2] : s / 2.0f;
  }
  float min_gap = INFINITY, best = INFINITY;
  long bi = -1;
  for (int q = 0; q < WD * LN; q++) {
    float g = wk[(q / WD) * nrow + (size_t)NE * WD + q % WD];
    if (g == g && g < min_gap) min_gap = g;
  }
  for (int q = 0; q < WD * LN; q++) {
    const float *r = wk + (q / WD) * nrow + q % WD;
    float ss = 0;
    for (int i = 0; i < NE; i++) {
      float d = r[(size_t)i * WD] - med[i];
      ss = ss + d * d;
    }
    float rms = sqrtf(ss / (float)NE);
    if (r[(size_t)NE * WD] == min_gap && rms == rms && rms < best) { best = rms; bi = q; }
  }
  char *ref = tsfx_slurp(check_path("tr/TS/info/13ref.txt")), want[64];
  snprintf(want, sizeof want, "%ld:%ld/%ld:%ld\n", bi % WD, bi % WD + 1, bi / WD, bi / WD + 1);
  CHECKF(ref && !strcmp(ref, want), "13ref.txt %s, recomputed %s", ref ? ref : "(none)", want);
  free(ref);
  /* cum.tif = unreferenced cum minus the 13ref pixel's, bitwise */
  for (int i = 0; i < NE; i++) {
    float *c = read_band(&ctx, check_path("tr/TS/results/cum.tif"), (uint32_t)i);
    CHECK(c != NULL);
    float rc = wk[(bi / WD) * nrow + (size_t)i * WD + bi % WD];
    for (int q = 0; q < WD * LN; q++) {
      float e = wk[(q / WD) * nrow + (size_t)i * WD + q % WD] - rc;
      CHECK((isnan(e) && isnan(c[q])) || e == c[q]);
    }
    free(c);
  }
  free(wk);
  free(col);
  ctx_free(&ctx);
}

static void test_invert_truth_wls(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  const char *sd = check_path("tr/stack"), *td = check_path("trw/TS");
  CHECKF(make_ts(&ctx, sd, td) == 0, "%s", ctx.msg);
  inv_params p = default_inv();
  p.alg = NSBAS_WLS;
  p.alg_name = "WLS";
  inv_summary sum;
  CHECKF(run_inv(&ctx, sd, td, &p, &sum) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(sum.n_route[NSBAS_R_EACH], WD * LN - 1);
  ctx_free(&ctx);
  check_truth_run(td, 1);
}

/* ---------------------------------------------------------------- independence, budget */

static void test_invert_threads_blocks(void) {
  static const char *const files[] = {"results/cum.tif", "results/vel.tif", "results/vintercept.tif",
                                      "results/resid_rms.tif", "results/n_gap.tif", "results/n_ifg_noloop.tif",
                                      "results/maxTlen.tif", "info/13rms_cum_wrt_med.tif", "info/13resid.txt",
                                      "info/13ref.txt", "info/13ref.kml", "info/13used_image.txt",
                                      "13increment/increment.tif", "13resid/resid.tif"};
  const char *sd = check_path("tr/stack");
  const char *td[2] = {check_path("th1/TS"), check_path("th4/TS")};
  for (int r = 0; r < 2; r++) {
    cbas_ctx ctx;
    CHECK(ctx_init(&ctx, 64 << 20, r ? 4 : 1) == 0);
    CHECKF(make_ts(&ctx, sd, td[r]) == 0, "%s", ctx.msg);
    inv_params p = default_inv();
    p.keep_incfile = 1;
    p.max_block_rows = r ? 1 : 0;
    inv_summary sum;
    CHECKF(run_inv(&ctx, sd, td[r], &p, &sum) == 0, "%s", ctx.msg);
    CHECK_EQ_INT(sum.n_block, r ? LN : 1);
    ctx_free(&ctx);
  }
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/%s", td[0], files[i]);
    snprintf(b, sizeof b, "%s/%s", td[1], files[i]);
    CHECKF(tsfx_same_file(a, b), "%s differs between 1 thread/1 block and 4 threads/1-row blocks", files[i]);
  }
  /* the kept increments are the cum differences, the residuals ~0 */
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  char p[512];
  snprintf(p, sizeof p, "%s/13increment/increment.tif", td[0]);
  gt_reader *r;
  CHECKF(gt_open(&ctx, p, &r) == 0, "%s", ctx.msg);
  CHECK(gt_get_info(r)->bands == NE - 1 && !strcmp(gt_band_desc(r, 0), "20200101_20200113"));
  gt_close(&ctx, r);
  float *inc = read_band(&ctx, p, 2);
  snprintf(p, sizeof p, "%s/results/cum.tif", td[0]);
  float *c2 = read_band(&ctx, p, 2), *c3 = read_band(&ctx, p, 3);
  snprintf(p, sizeof p, "%s/info/13ref.txt", td[0]);
  char *ref = tsfx_slurp(p);
  unsigned rx, ry;
  CHECK(inc && c2 && c3 && ref && sscanf(ref, "%u:%*u/%u", &rx, &ry) == 2);
  free(ref);
  /* increments are in the 12ref frame, cum.tif in the 13ref frame */
  for (int q = 0; q < WD * LN; q++)
    if (q != FEW_Y * WD + FEW_X)
      CHECKF(fabsf((c3[q] - c2[q]) - (inc[q] - inc[ry * WD + rx])) < 1e-4f, "increment at %d", q);
  /* LiCSBAS's network figures, as steps 11 and 12 draw them */
  static const char *const pngs[] = {"network13_all.png", "network13.png", "network13_nobad.png"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/network/%s", td[0], pngs[i]);
    char *png = tsfx_slurp(p);
    CHECKF(png && !memcmp(png, "\x89PNG", 4), "%s", p);
    free(png);
  }
  free(inc); free(c2); free(c3);
  ctx_free(&ctx);
}

static void test_invert_budget(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 200 << 10, 1) == 0);
  const char *sd = check_path("tr/stack"), *td = check_path("bud/TS");
  CHECKF(make_ts(&ctx, sd, td) == 0, "%s", ctx.msg);
  inv_params p = default_inv();
  CHECK(run_inv(&ctx, sd, td, &p, NULL) == CBAS_EBUDGET);
  CHECKF(!strncmp(ctx.msg, "cbas invert", 11) && strstr(ctx.msg, " needs ") && strstr(ctx.msg, "budget is"), "%s", ctx.msg);
  char *v = tsfx_slurp(check_path("bud/TS/results/vel.tif"));
  CHECK(v == NULL);
  ctx_free(&ctx);
  /* a stray parameter is refused by name */
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  tsdir_pvals pv;
  tsdir_params_default(&pv);
  CHECK(tsdir_param_set(&ctx, &pv, TSP_P13_INV_ALG, "LSQ", "--inv-alg") == 0);
  inv_params ip;
  CHECK(inv_params_from(&ctx, &pv, &ip) == CBAS_EUSAGE && strstr(ctx.msg, "--inv-alg"));
  ctx_free(&ctx);
}

/* ---------------------------------------------------------------- step 14 */

#define VW 11
#define VL 9
#define VN 14

/* cum.tif of VN epochs (dates every 12 days from 2020-01-01): linear + wiggle, with NaN
 * patterns: (3,0) valid only at epochs {0, 2}; (6,4) cum_0 NaN (not bootstrapped); (2,7) valid
 * only at epoch 0 (every draw singular); random NaN elsewhere (cum_0 kept). */
static float vcum(int e, uint32_t x, uint32_t y, int linear) {
  if (x == 3 && y == 0 && e != 0 && e != 2) return NAN;
  if (x == 6 && y == 4 && e == 0) return NAN;
  if (x == 2 && y == 7 && e != 0) return NAN;
  unsigned h = (unsigned)(e * 7919 + x * 104729 + y * 1299709) * 2654435761u;
  if (e > 0 && !linear && (h >> 27) == 3) return NAN;
  double t = 12.0 * e / 365.25;
  double v = (1.0 + x - 0.5 * y) * t + (linear ? 0 : 3.0 * sin(7.0 * e + x) * cos(1.3 * y + e));
  return e == 0 ? 0.0f : (float)v;
}

static int make_cum_ts(cbas_ctx *ctx, const char *sd, const char *td, int linear) {
  static const char *const one[] = {"20200101_20200113"};
  setup_network();
  if (tsfx_make_stack(ctx, sd, one, 1, VW, VL, NULL, 0, unw_truth, cc_var, NULL)) return ctx->status;
  stack *s;
  tsdir t;
  if (stack_open(ctx, sd, &s)) return ctx->status;
  char dates[VN][9];
  const char *desc[VN];
  for (int e = 0; e < VN; e++) {
    tsfx_date(e, dates[e]);
    desc[e] = dates[e];
  }
  float *img = malloc((size_t)VN * VW * VL * 4);
  for (int e = 0; e < VN; e++)
    for (uint32_t y = 0; y < VL; y++)
      for (uint32_t x = 0; x < VW; x++) img[((size_t)e * VL + y) * VW + x] = vcum(e, x, y, linear);
  gt_writer *w;
  if (!tsdir_create(ctx, &t, td, sd) &&
      !tsdir_result_create(ctx, &t, stack_get_meta(s), NULL, "cum", VN, desc, &w)) {
    if (gt_write_rows(ctx, w, VL, img, VW, (size_t)VW * VL)) gt_abort(ctx, w);
    else gt_commit(ctx, w);
  }
  free(img);
  stack_close(s);
  return ctx->status;
}

static int run_vstd(cbas_ctx *ctx, const char *sd, const char *td, const vstd_params *p, vstd_summary *sum) {
  stack *s;
  tsdir t;
  ctx->quiet = 1;
  if (stack_open(ctx, sd, &s)) return ctx->status;
  if (!tsdir_open(ctx, &t, td, sd)) vstd_run(ctx, &t, stack_get_meta(s), p, sum);
  stack_close(s);
  return ctx->status;
}

static void test_vstd_patches(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  uint32_t np, pr;
  /* 324x216, 81 epochs: 69984*(2.25*81+100)*4/2^20 = 75.35 MB */
  CHECK(vstd_patches(&ctx, 324, 216, 81, 4000, &np, &pr) == 0 && np == 1 && pr == 216);
  CHECK(vstd_patches(&ctx, 324, 216, 81, 30, &np, &pr) == 0 && np == 3 && pr == 72);
  CHECK(vstd_patches(&ctx, 324, 216, 81, 10, &np, &pr) == 0 && np == 8 && pr == 27);
  CHECK(vstd_patches(&ctx, 324, 216, 81, 7, &np, &pr) == 0 && np == 11 && pr == 20);   /* last patch 16 rows */
  CHECK(vstd_patches(&ctx, 10, 10, 10, 0, &np, &pr) == CBAS_EUSAGE);
  ctx_free(&ctx);
}

static void test_vstd_reference(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  const char *sd = check_path("vs/stack"), *td = check_path("vs/TS");
  CHECKF(make_cum_ts(&ctx, sd, td, 0) == 0, "%s", ctx.msg);
  /* three LiCSBAS patches of 3 rows: data = 99*(2.25*14+100)*4/2^20 MB */
  double size = 99.0 * (2.25 * VN + 100) * 4 / 1048576.0;
  vstd_params p = {size / 2.5, 0};
  vstd_summary sum;
  CHECKF(run_vstd(&ctx, sd, td, &p, &sum) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(sum.n_patch, 3);
  CHECK_EQ_INT(sum.patch_rows, 3);

  /* reference: nsbas_boot_pixel per pixel, singular flags ORed over each patch */
  float t[VN];
  for (int e = 0; e < VN; e++) t[e] = (float)(12.0 * e / 365.25);
  int *idx = malloc(sizeof(int) * NSBAS_BOOT * VN);
  nsbas_boot_draws(VN, NSBAS_BOOT, idx);
  static float cum[VN], vd[VL * VW][NSBAS_BOOT];
  static uint8_t sg[VL * VW][NSBAS_BOOT], pf[3][NSBAS_BOOT];
  memset(pf, 0, sizeof pf);
  for (uint32_t y = 0; y < VL; y++)
    for (uint32_t x = 0; x < VW; x++) {
      for (int e = 0; e < VN; e++) cum[e] = vcum(e, x, y, 0);
      if (isnan(cum[0])) continue;
      nsbas_boot_pixel(VN, t, NSBAS_BOOT, idx, cum, 1, vd[y * VW + x], sg[y * VW + x]);
      for (int b = 0; b < NSBAS_BOOT; b++) pf[y / 3][b] |= sg[y * VW + x][b];
    }
  int nv[3] = {0, 0, 0};
  for (int q = 0; q < 3; q++)
    for (int b = 0; b < NSBAS_BOOT; b++) nv[q] += pf[q][b];
  CHECKF(nv[0] > 0 && nv[0] < NSBAS_BOOT, "patch 0: %d draws voided", nv[0]);   /* by (3,0) */
  CHECK_EQ_INT(nv[1], 0);
  CHECK_EQ_INT(nv[2], NSBAS_BOOT);                                                /* by (2,7) */
  CHECK_EQ_INT(sum.n_voided, nv[0] + nv[1] + nv[2]);
  float *vs = tsfx_read_tif(&ctx, check_path("vs/TS/results/vstd.tif"), &(uint32_t){0}, &(uint32_t){0});
  float *st = tsfx_read_tif(&ctx, check_path("vs/TS/results/stc.tif"), &(uint32_t){0}, &(uint32_t){0});
  CHECK(vs && st);
  int n_finite = 0;
  for (uint32_t y = 0; y < VL; y++)
    for (uint32_t x = 0; x < VW; x++) {
      float e = vcum(0, x, y, 0) == vcum(0, x, y, 0) ? nsbas_boot_std(NSBAS_BOOT, vd[y * VW + x], pf[y / 3]) : NAN;
      float g = vs[y * VW + x];
      CHECKF((isnan(e) && isnan(g)) || !memcmp(&e, &g, 4), "vstd at (%u,%u) = %.9g, reference %.9g", x, y, g, e);
      n_finite += !isnan(g);
    }
  CHECK_EQ_INT(n_finite, 6 * VW - 1);   /* patches 0 and 1 less the cum_0 NaN pixel; patch 2 void */
  /* STC row by row with the true neighbours */
  static float plane[3][VN * VW], stc[VW];
  for (uint32_t y = 0; y < VL; y++) {
    for (int d = 0; d < 3; d++)
      for (int e = 0; e < VN; e++)
        for (uint32_t x = 0; x < VW; x++) plane[d][e * VW + x] = vcum(e, x, y + d - 1, 0);
    nsbas_stc_row(VN, VW, VW, y ? plane[0] : NULL, plane[1], y + 1 < VL ? plane[2] : NULL, stc);
    CHECK(!memcmp(stc, st + y * VW, sizeof stc));
  }
  free(vs);
  free(st);
  free(idx);

  /* the same with 4 threads and 1-row blocks, bitwise */
  const char *td2 = check_path("vs/TS2");
  tsdir t2;
  CHECKF(tsdir_create(&ctx, &t2, td2, sd) == 0, "%s", ctx.msg);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "cp %s/results/cum.tif %s/results/cum.tif", td, td2);
  CHECK(check_sh("%s", cmd) == 0);
  ctx_free(&ctx);
  CHECK(ctx_init(&ctx, 64 << 20, 4) == 0);
  p.max_block_rows = 1;
  CHECKF(run_vstd(&ctx, sd, td2, &p, &sum) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(sum.block_rows, 1);
  CHECK(tsfx_same_file(check_path("vs/TS/results/vstd.tif"), check_path("vs/TS2/results/vstd.tif")));
  CHECK(tsfx_same_file(check_path("vs/TS/results/stc.tif"), check_path("vs/TS2/results/stc.tif")));
  ctx_free(&ctx);
}

static void test_vstd_linear_zero(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  const char *sd = check_path("vl/stack"), *td = check_path("vl/TS");
  CHECKF(make_cum_ts(&ctx, sd, td, 1) == 0, "%s", ctx.msg);
  vstd_params p = {4000, 0};
  CHECKF(run_vstd(&ctx, sd, td, &p, NULL) == 0, "%s", ctx.msg);
  float *vs = tsfx_read_tif(&ctx, check_path("vl/TS/results/vstd.tif"), &(uint32_t){0}, &(uint32_t){0});
  CHECK(vs != NULL);
  /* one patch, voided entirely by the one-epoch pixel (2,7): LiCSBAS gives NaN everywhere */
  for (int q = 0; q < VW * VL; q++) CHECK(isnan(vs[q]));
  free(vs);
  ctx_free(&ctx);
  /* without that pixel's patch (3 patches), a linear series has vstd ~ 0 */
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  p.patch_mem_mb = 99.0 * (2.25 * VN + 100) * 4 / 1048576.0 / 2.5;
  CHECKF(run_vstd(&ctx, sd, td, &p, NULL) == 0, "%s", ctx.msg);
  vs = tsfx_read_tif(&ctx, check_path("vl/TS/results/vstd.tif"), &(uint32_t){0}, &(uint32_t){0});
  CHECK(vs != NULL);
  int n = 0;
  for (int q = 0; q < 6 * VW; q++)
    if (!isnan(vs[q])) { CHECKF(vs[q] < 1e-4f, "vstd %g at %d", vs[q], q); n++; }
  CHECK_EQ_INT(n, 6 * VW - 1);
  free(vs);
  /* a cum.tif without dates is refused, naming the file and band */
  const char *td2 = check_path("vl/TSnd");
  stack *s;
  tsdir t;
  CHECKF(stack_open(&ctx, sd, &s) == 0 && tsdir_create(&ctx, &t, td2, sd) == 0, "%s", ctx.msg);
  float *img = calloc((size_t)VN * VW * VL, 4);
  gt_writer *w;
  CHECK(img && tsdir_result_create(&ctx, &t, stack_get_meta(s), NULL, "cum", VN, NULL, &w) == 0);
  CHECK(gt_write_rows(&ctx, w, VL, img, VW, (size_t)VW * VL) == 0 && gt_commit(&ctx, w) == 0);
  free(img);
  stack_close(s);
  CHECK(run_vstd(&ctx, sd, td2, &p, NULL) == CBAS_EFORMAT);
  CHECKF(strstr(ctx.msg, "cum.tif: band 1 has no date"), "%s", ctx.msg);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_invert_truth_ls);
  RUN(test_invert_truth_wls);
  RUN(test_invert_threads_blocks);
  RUN(test_invert_budget);
  RUN(test_vstd_patches);
  RUN(test_vstd_reference);
  RUN(test_vstd_linear_zero);
  return check_done();
}
