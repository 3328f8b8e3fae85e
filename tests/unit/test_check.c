/* test_check.c — `cbas check` (LiCSBAS step 11) on a hand-computed 5x4 stack: the valid
 * area (n_unw >= n_im), coverage over it, mean coherence over it ignoring byte 0, the bad list,
 * the stats table text, removed epochs, thresholds at the boundary, streaming with one-row
 * blocks, thread-count independence and the budget check. */
#include "check.h"
#include "ts_fixture.h"
#include "cbas/budget.h"
#include "cbas/step_check.h"
#include "cbas/tsdir.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Epochs A=20200101 B=20200113 C=20200125 D=20200206; ifgs in LiCSBAS (sorted) order. */
static const char *const IFG5[] = {"20200101_20200113", "20200101_20200125", "20200113_20200125",
                                   "20200113_20200206", "20200125_20200206"};
enum { AB, AC, BC, BD, CD };
static const double BPERP[] = {0.0, 10.5, -20.25, 3.0};

/* Rows 0-2: every ifg valid except C_D at (0,0) and B_D at 11 pixels; row 3: A_B and A_C
 * missing, so n_unw = 3 < n_im = 4 there and row 3 is outside the valid area. */
static float unw5(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  if (y == 3 && (k == AB || k == AC)) return NAN;
  if (k == CD && x == 0 && y == 0) return 0.0f; /* exact zero = no data, as LiCSBAS reads it */
  if (k == BD && ((y == 0 && x >= 1) || y == 1 || (y == 2 && x <= 1))) return NAN;
  return 0.5f + (float)k + 0.01f * (float)x;
}
static uint8_t cc5(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  switch (k) {
  case AB: return 255;
  case AC: return y == 3 ? 255 : (uint8_t)(50 + x); /* row 3 would raise the mean if counted */
  case BC: return x == 4 ? 0 : 10;                  /* zeros are no data, not zero coherence */
  case BD: return 200;
  default: return 13;                               /* 13/255 = 0.05098 >= 0.05 */
  }
}

static void make5(cbas_ctx *ctx, const char *dir) {
  CHECKF(tsfx_make_stack(ctx, dir, IFG5, 5, 5, 4, BPERP, 1, unw5, cc5, NULL) == 0, "%s", ctx->msg);
}

static void test_hand_stats(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  ctx.quiet = 1;
  const char *sd = check_path("c5/stack");
  make5(&ctx, sd);
  stack *s;
  CHECKF(stack_open(&ctx, sd, &s) == 0, "%s", ctx.msg);
  tsdir t;
  CHECKF(tsdir_create(&ctx, &t, check_path("c5/TS_stack"), sd) == 0, "%s", ctx.msg);
  qc_params p = {0.3, 0.05, 0};
  double cov[5];
  float coh[5];
  uint8_t bad[5];
  qc_stats st = {0, cov, coh, bad};
  CHECKF(qc_run(&ctx, &t, s, &p, &st) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(st.n_valid, 15);
  CHECK_NEAR(cov[AB], 1.0, 0);
  CHECK_NEAR(cov[CD], 14.0 / 15.0, 1e-15);
  CHECK_NEAR(cov[BD], 4.0 / 15.0, 1e-15);
  CHECK_NEAR(coh[AB], 1.0, 1e-7);
  CHECK_NEAR(coh[AC], 52.0 / 255.0, 1e-7);   /* mean of 50..54 over rows 0-2 only */
  CHECK_NEAR(coh[BC], 10.0 / 255.0, 1e-7);   /* byte-0 pixels excluded */
  CHECK_NEAR(coh[CD], 13.0 / 255.0, 1e-7);
  CHECK(!bad[AB] && !bad[AC] && bad[BC] && bad[BD] && !bad[CD]);

  char *txt = tsfx_slurp(check_path("c5/TS_stack/info/11bad_ifg.txt"));
  CHECK(txt && !strcmp(txt, "20200113_20200125\n20200113_20200206\n"));
  free(txt);
  txt = tsfx_slurp(check_path("c5/TS_stack/info/11ifg_stats.txt"));
  CHECK(txt != NULL);
  /* Expected text written by hand from LiCSBAS's format strings. */
  const char *expect =
      "# Size: 20(5x4), n_valid: 15\n"
      "# unw_cov_thre: 0.3, coh_thre: 0.05\n"
      "# ifg dates         bperp   dt unw_cov  coh_av\n"
      "20200101_20200113    10.5   12   1.000   1.000 \n"
      "20200101_20200125   -20.2   24   1.000   0.204 \n"
      "20200113_20200125   -30.8   12   1.000   0.039 *\n"
      "20200113_20200206    -7.5   24   0.267   0.784 *\n"
      "20200125_20200206    23.2   12   0.933   0.051 \n";
  CHECKF(!strcmp(txt, expect), "got:\n%s", txt);
  free(txt);
  txt = tsfx_slurp(check_path("c5/TS_stack/info/11removed_image.txt"));
  CHECK(txt && !strcmp(txt, ""));
  free(txt);
  txt = tsfx_slurp(check_path("c5/TS_stack/info/stack_path.txt"));
  CHECK(txt && strstr(txt, "c5/stack\n"));
  free(txt);
  txt = tsfx_slurp(check_path("c5/TS_stack/info/slc.mli.par"));
  CHECK(txt && !strcmp(txt, "range_samples:   5\nazimuth_lines:   4\nradar_frequency: 5405000000.0 Hz\n"));
  free(txt);
  txt = tsfx_slurp(check_path("c5/TS_stack/info/EQA.dem_par"));
  CHECK(txt && strstr(txt, "\nwidth: 5\nnlines: 4\ncorner_lat:     36.4995  decimal degrees\n"));
  CHECK(txt && strstr(txt, "post_lat: -0.001 decimal degrees\npost_lon: 0.001 decimal degrees\n"));
  free(txt);
  /* hgt copied to results/hgt.tif */
  uint32_t w, h;
  float *hg = tsfx_read_tif(&ctx, check_path("c5/TS_stack/results/hgt.tif"), &w, &h);
  CHECKF(hg && w == 5 && h == 4, "%s", ctx.msg);
  CHECK(hg[3 * 5 + 2] == 32.0f);
  free(hg);
  stack_close(s);
  ctx_free(&ctx);
}

/* A stricter coherence threshold makes C_D bad too: epoch D is then in no good ifg. */
static void test_removed_epoch(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *sd = check_path("c5b/stack");
  make5(&ctx, sd);
  stack *s;
  CHECKF(stack_open(&ctx, sd, &s) == 0, "%s", ctx.msg);
  tsdir t;
  CHECK(tsdir_create(&ctx, &t, check_path("c5b/TS"), sd) == 0);
  qc_params p = {0.3, 0.06, 0};
  CHECKF(qc_run(&ctx, &t, s, &p, NULL) == 0, "%s", ctx.msg);
  char *txt = tsfx_slurp(check_path("c5b/TS/info/11removed_image.txt"));
  CHECK(txt && !strcmp(txt, "20200206\n"));
  free(txt);
  txt = tsfx_slurp(check_path("c5b/TS/info/11bad_ifg.txt"));
  CHECK(txt && !strcmp(txt, "20200113_20200125\n20200113_20200206\n20200125_20200206\n"));
  free(txt);
  /* Coverage exactly at the threshold is good (bad only if strictly below): 14/15 vs 14/15. */
  p.coh_thre = 0.0;
  p.unw_thre = 14.0 / 15.0;
  double cov[5];
  uint8_t bad[5];
  qc_stats st = {0, cov, NULL, bad};
  CHECKF(qc_run(&ctx, &t, s, &p, &st) == 0, "%s", ctx.msg);
  CHECK(!bad[CD] && bad[BD] && !bad[AB]);
  /* Everything bad is an error, after the reports. */
  p.unw_thre = 2.0;
  CHECK(qc_run(&ctx, &t, s, &p, NULL) == CBAS_EDATA);
  CHECK(strstr(ctx.msg, "all 5 ifgs are regarded as bad") != NULL);
  ctx_clear_error(&ctx);
  txt = tsfx_slurp(check_path("c5b/TS/info/11bad_ifg.txt"));
  CHECK(txt && strlen(txt) == 5 * 18);
  free(txt);
  stack_close(s);
  ctx_free(&ctx);
}

/* A pseudo-random 37x23 stack: results identical for 1 and 3 threads and for one-row blocks
 * against whole-image blocks. */
static float unw_rand(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  uint32_t hsh = (k * 2654435761u) ^ (x * 40503u) ^ (y * 2246822519u);
  hsh ^= hsh >> 13;
  hsh *= 0x5bd1e995u;
  hsh ^= hsh >> 15;
  if (hsh % 7 == 0) return NAN;
  return (float)(hsh % 1000) * 0.01f + 0.5f;
}
static uint8_t cc_rand(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  uint32_t hsh = (k * 97u) ^ (x * 131u) ^ (y * 7919u);
  hsh ^= hsh >> 7;
  return (uint8_t)(hsh * 2654435761u >> 24);
}

static void test_blocks_threads(void) {
  char names[40][18];
  uint32_t n = tsfx_network(8, 3, names);
  const char *list[40];
  for (uint32_t k = 0; k < n; k++) list[k] = names[k];
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *sd = check_path("cr/stack");
  CHECKF(tsfx_make_stack(&ctx, sd, list, n, 37, 23, NULL, 0, unw_rand, cc_rand, NULL) == 0, "%s", ctx.msg);
  ctx_free(&ctx);
  char *ref = NULL;
  const struct { int threads; uint32_t rows; } runs[] = {{1, 0}, {3, 0}, {2, 1}};
  for (int i = 0; i < 3; i++) {
    CHECK(ctx_init(&ctx, 64 << 20, runs[i].threads) == 0);
    ctx.quiet = 1;
    stack *s;
    CHECKF(stack_open(&ctx, sd, &s) == 0, "%s", ctx.msg);
    tsdir t;
    char tp[64];
    snprintf(tp, sizeof tp, "cr/TS%d", i);
    CHECK(tsdir_create(&ctx, &t, check_path(tp), sd) == 0);
    qc_params p = {0.3, 0.05, runs[i].rows};
    CHECKF(qc_run(&ctx, &t, s, &p, NULL) == 0 || ctx.status == CBAS_EDATA, "%s", ctx.msg);
    stack_close(s);
    ctx_free(&ctx);
    char fp[96];
    snprintf(fp, sizeof fp, "%s/info/11ifg_stats.txt", tp);
    char *txt = tsfx_slurp(check_path(fp));
    CHECK(txt != NULL);
    if (!ref) ref = txt;
    else {
      CHECKF(!strcmp(ref, txt), "run %d differs:\n%s\nvs\n%s", i, txt, ref);
      free(txt);
    }
  }
  free(ref);
}

/* --mem too small for one row, or for the network figures, fails before anything is
 * written, naming the need. */
static void test_budget(void) {
  char names[40][18];
  uint32_t n = tsfx_network(8, 3, names);
  const char *list[40];
  for (uint32_t k = 0; k < n; k++) list[k] = names[k];
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *sd = check_path("cm/stack");
  CHECKF(tsfx_make_stack(&ctx, sd, list, n, 60000, 2, NULL, 0, unw_rand, cc_rand, NULL) == 0, "%s", ctx.msg);
  ctx_free(&ctx);
  CHECK(ctx_init(&ctx, 5 << 20, 1) == 0); /* one row of 18 ifgs x 60000 px needs 5.4 MB */
  stack *s;
  CHECK(stack_open(&ctx, sd, &s) == 0);
  tsdir t;
  CHECK(tsdir_create(&ctx, &t, check_path("cm/TS"), sd) == 0);
  qc_params p = {0.3, 0.05, 0};
  CHECK(qc_run(&ctx, &t, s, &p, NULL) == CBAS_EBUDGET);
  CHECKF(strstr(ctx.msg, "cbas check needs") && strstr(ctx.msg, "MB"), "%s", ctx.msg);
  FILE *f = fopen(check_path("cm/TS/info/11bad_ifg.txt"), "r");
  CHECK(f == NULL);
  ctx_free(&ctx);
  CHECK(ctx_init(&ctx, 2 << 20, 1) == 0); /* the network figures need 4.4 MB */
  CHECK(qc_run(&ctx, &t, s, &p, NULL) == CBAS_EBUDGET);
  CHECKF(strstr(ctx.msg, "network figures needs 4.") != NULL, "%s", ctx.msg);
  CHECK(fopen(check_path("cm/TS/info/11bad_ifg.txt"), "r") == NULL);
  stack_close(s);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_hand_stats);
  RUN(test_removed_epoch);
  RUN(test_blocks_threads);
  RUN(test_budget);
  return check_done();
}
