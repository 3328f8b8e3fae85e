/* test_step_mask.c — `cbas mask-ts` (LiCSBAS step 15) end to end on a TS directory written
 * here: planted indices whose mask is known pixel by pixel, the n_im grep quirk of
 * 13parameters.txt, the 15parameters.txt text, the "one pixel left" failure, and identical
 * rasters whatever --threads and --mem. */
#include "check.h"
#include "cbas/gtiff.h"
#include "cbas/step_mask.h"
#include "cbas/tsdir.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { W = 23, L = 17 };

typedef struct fixture {
  char dir[512];
  stack_meta m;
  tsdir t;
  float idx[TSMASK_N + 1][W * L]; /* vel, then the nine indices */
  float want[W * L];              /* expected mask */
} fixture;

/* Pixel p fails index (p % 13) when that is < 9, passes all otherwise; row 0 is not
 * inverted (vel NaN); pixel (5, 5) is the reference (vel 0). C-band defaults, n_im_all = 20
 * (n_unw threshold 30; the "n_im" line says 12, which LiCSBAS's grep never reads). */
static int make_fixture(cbas_ctx *ctx, fixture *f, const char *name, int one_left) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", check_path(name));
  f->m.width = W;
  f->m.length = L;
  double gt[6] = {138, 0.001, 0, 36.5, 0, -0.001};
  memcpy(f->m.gt, gt, sizeof gt);
  if (tsdir_create(ctx, &f->t, f->dir, check_tmpdir())) return ctx->status;
  static const float good[TSMASK_N] = {0.3f, 35, 20, 2.5f, 3, 1.5f, 4, 1, 0.8f};
  static const float bad[TSMASK_N] = {0.04f, 29, 101, 0.9f, 11, NAN /* isolated */, 51, 6, 2.5f};
  for (int p = 0; p < W * L; p++) {
    int y = p / W, fail = one_left ? (p == 40 ? 9 : p % 9) : p % 13;
    f->idx[0][p] = y == 0 ? NAN : (float)(p % 7) - 3.5f;
    for (int k = 0; k < TSMASK_N; k++) f->idx[1 + k][p] = k == fail ? bad[k] : good[k];
    f->want[p] = y == 0 ? NAN : fail < 9 ? 0.0f : 1.0f;
  }
  f->idx[0][5 * W + 5] = 0.0f;
  f->want[5 * W + 5] = 1.0f;
  if (tsdir_result_put(ctx, &f->t, &f->m, NULL, "vel", f->idx[0])) return ctx->status;
  for (int k = 0; k < TSMASK_N; k++)
    if (tsdir_result_put(ctx, &f->t, &f->m, NULL, tsmask_name(k), f->idx[1 + k])) return ctx->status;
  char path[1200];
  snprintf(path, sizeof path, "%s/info/13parameters.txt", f->dir);
  FILE *fp = fopen(path, "w");
  if (!fp) return ctx_fail(ctx, CBAS_EIO, "%s", path);
  fprintf(fp, "range_samples:  %d\nazimuth_lines:  %d\nwavelength:  0.05546576\nn_im_all:  20\nn_im:  12\n", W, L);
  fclose(fp);
  return 0;
}

static float *read_tif(cbas_ctx *ctx, const char *dir, const char *name) {
  char path[1200];
  snprintf(path, sizeof path, "%s/results/%s.tif", dir, name);
  gt_reader *r;
  if (gt_open(ctx, path, &r)) return NULL;
  float *img = malloc(sizeof(float) * W * L);
  if (gt_read(ctx, r, 0, 0, 0, W, L, GT_F32, img, W)) { free(img); img = NULL; }
  gt_close(ctx, r);
  return img;
}

static void test_planted_mask(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64u << 20, 2) == 0);
  ctx.quiet = 1;
  fixture *f = malloc(sizeof *f);
  CHECKF(make_fixture(&ctx, f, "planted", 0) == 0, "%s", ctx.msg);
  tsmask_params p;
  tsmask_params_default(&p);
  tsmask_plan plan;
  tsmask_acc acc;
  CHECKF(mask_run(&ctx, &f->t, &f->m, &p, &plan, &acc) == 0, "%s", ctx.msg);
  CHECK_NEAR(plan.thre[TSMASK_N_UNW], 30, 0); /* int(n_im_all 20 * 1.5) */
  float *mask = read_tif(&ctx, f->dir, "mask"), *vm = read_tif(&ctx, f->dir, "vel.mskd");
  CHECK(mask && vm);
  long kept = 0, evaluated = 0;
  for (int q = 0; q < W * L; q++) {
    float w = f->want[q];
    CHECKF((w != w && mask[q] != mask[q]) || mask[q] == w, "pixel %d: mask %g, expected %g", q, mask[q], w);
    float wv = w == 1.0f ? f->idx[0][q] : NAN;
    CHECKF((wv != wv && vm[q] != vm[q]) || vm[q] == wv, "pixel %d: vel.mskd %g, expected %g", q, vm[q], wv);
    if (f->idx[0][q] == f->idx[0][q] && f->idx[0][q] != 0) {
      evaluated++;
      kept += w == 1.0f;
    }
  }
  CHECK_EQ_INT(acc.n_pt_all, evaluated);
  CHECK_EQ_INT(acc.n_kept, kept);
  /* report: the masked rate of each index is the share of E pixels with p % 13 == k */
  char path[1200];
  snprintf(path, sizeof path, "%s/info/15parameters.txt", f->dir);
  FILE *fp = fopen(path, "r");
  CHECK(fp != NULL);
  char buf[2048];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = 0;
  long cnt[TSMASK_N] = {0};
  for (int q = 0; q < W * L; q++)
    if (f->idx[0][q] == f->idx[0][q] && f->idx[0][q] != 0 && q % 13 < 9) cnt[q % 13]++;
  for (int k = 0; k < TSMASK_N; k++) {
    char line[128];
    snprintf(line, sizeof line, "- %-12s : ", tsmask_name(k));
    const char *s = strstr(buf, line);
    CHECKF(s != NULL, "no line for %s in:\n%s", tsmask_name(k), buf);
    char rate[32];
    snprintf(rate, sizeof rate, "(%4.1f%%)", 100.0 * (double)cnt[k] / (double)evaluated);
    CHECKF(strstr(s, rate) == strchr(s, '(') , "%s: expected %s in %.60s", tsmask_name(k), rate, s);
  }
  char kept_line[128];
  snprintf(kept_line, sizeof kept_line, "Kept pixels    : %ld/%ld (", kept + 1, evaluated);
  CHECKF(strstr(buf, kept_line) != NULL, "expected '%s' in:\n%s", kept_line, buf);
  free(mask); free(vm); free(f);
  ctx_free(&ctx);
}

static void test_invariance(void) {
  /* 1 thread / big budget vs 2 threads / budget small enough for several blocks */
  const char *names[2] = {"inv1", "inv2"};
  uint64_t mem[2] = {64u << 20, 300u << 10}; /* 300 KiB: blocks of 4 rows */
  int thr[2] = {1, 2};
  for (int k = 0; k < 2; k++) {
    cbas_ctx ctx;
    CHECK(ctx_init(&ctx, mem[k], thr[k]) == 0);
    ctx.quiet = 1;
    fixture *f = malloc(sizeof *f);
    CHECKF(make_fixture(&ctx, f, names[k], 0) == 0, "%s", ctx.msg);
    tsmask_params p;
    tsmask_params_default(&p);
    p.thre[TSMASK_N_LOOP_ERR] = 0; /* everything fails n_loop_err = 1: auto-adjust to 1.0 */
    CHECKF(mask_run(&ctx, &f->t, &f->m, &p, NULL, NULL) == 0, "%s", ctx.msg);
    free(f);
    ctx_free(&ctx);
  }
  static const char *outs[] = {"results/mask.tif", "results/vel.mskd.tif", "info/15parameters.txt"};
  for (int o = 0; o < 3; o++)
    CHECKF(check_sh("cmp -s '%s/inv1/%s' '%s/inv2/%s'", check_tmpdir(), outs[o], check_tmpdir(), outs[o]) == 0,
           "%s differs", outs[o]);
  CHECK(check_sh("grep -q '^- n_loop_err   :  1.0 ' '%s/inv1/info/15parameters.txt'", check_tmpdir()) == 0);
}

static void test_one_left_fails(void) {
  /* every evaluated pixel fails something except pixel 40; with the reference pixel that
   * is... two unmasked pixels: passes. Then make pixel 40 fail too: only the reference is left
   * -> LiCSBAS's "All pixels are masked" (n_nomask == 1): report written, no rasters. */
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64u << 20, 2) == 0);
  ctx.quiet = 1;
  fixture *f = malloc(sizeof *f);
  CHECKF(make_fixture(&ctx, f, "oneleft", 1) == 0, "%s", ctx.msg);
  tsmask_params p;
  tsmask_params_default(&p);
  p.no_autoadjust = 1;
  CHECKF(mask_run(&ctx, &f->t, &f->m, &p, NULL, NULL) == 0, "%s", ctx.msg);
  f->idx[1 + TSMASK_VSTD][40] = 500;
  CHECK(tsdir_result_put(&ctx, &f->t, &f->m, NULL, "vstd", f->idx[1 + TSMASK_VSTD]) == 0);
  CHECK(check_sh("rm -f '%s/results/mask.tif'", f->dir) == 0);
  CHECK(mask_run(&ctx, &f->t, &f->m, &p, NULL, NULL) == CBAS_EDATA);
  CHECKF(strstr(ctx.msg, "all pixels are masked") != NULL, "%s", ctx.msg);
  ctx_clear_error(&ctx);
  CHECK(check_sh("test -f '%s/info/15parameters.txt' && ! test -f '%s/results/mask.tif'", f->dir, f->dir) == 0);
  /* a missing index names the file and its producer */
  CHECK(check_sh("rm -f '%s/results/stc.tif'", f->dir) == 0);
  CHECK(mask_run(&ctx, &f->t, &f->m, &p, NULL, NULL) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "stc.tif") && strstr(ctx.msg, "cbas vstd"), "%s", ctx.msg);
  free(f);
  ctx_free(&ctx);
}

static void test_get_param_par(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  const char *path = check_path("par.txt");
  FILE *fp = fopen(path, "w");
  CHECK(fp != NULL);
  fprintf(fp, "range_samples:   12\nwavelength: 0.0555\nn_im_all:  30\nn_im:  25\npixel_spacing_r: 89.77 m\n");
  fclose(fp);
  char v[64];
  CHECK(tsdir_get_param_par(&ctx, path, "n_im", "invert", v, sizeof v) == 0);
  CHECK(!strcmp(v, "30")); /* first line containing "n_im" */
  CHECK(tsdir_get_param_par(&ctx, path, "pixel_spacing_r", "invert", v, sizeof v) == 0);
  CHECK(!strcmp(v, "89.77"));
  CHECK(tsdir_get_param_par(&ctx, path, "gamma", "invert", v, sizeof v) == CBAS_EFORMAT);
  CHECK(strstr(ctx.msg, "gamma") != NULL);
  ctx_clear_error(&ctx);
  CHECK(tsdir_get_param_par(&ctx, check_path("nope.txt"), "n_im", "invert", v, sizeof v) == CBAS_EUSAGE);
  CHECK(strstr(ctx.msg, "cbas invert") != NULL);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_planted_mask);
  RUN(test_invariance);
  RUN(test_one_left_fails);
  RUN(test_get_param_par);
  return check_done();
}
