/* test_loop.c — `cbas loop` (LiCSBAS step 12): loop enumeration, a hand-computed 4-epoch
 * network with 2 triangles (loop RMS, bad-ifg rule, reference pixel, n_unw, n_ifg_noloop,
 * coh_avg, every text report), the 2πn shift, multi-prime against an independent sort-based
 * median, synthetic truth with planted unwrapping errors and a globally bad ifg (steps 11 and
 * 12 together), --rm-ifg-list, thread/block independence and the budget check. */
#include "check.h"
#include "ts_fixture.h"
#include "cbas/ifgnet.h"
#include "cbas/step_check.h"
#include "cbas/step_loop.h"
#include "cbas/tsdir.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI_F 6.2831855f
#define PI_D 3.14159265358979323846

static const char *const IFG5[] = {"20200101_20200113", "20200101_20200125", "20200113_20200125",
                                   "20200113_20200206", "20200125_20200206"};
enum { AB, AC, BC, BD, CD };

/* ---------------------------------------------------------------- enumeration */

static void test_loop_matrix(void) {
  ifgnet_loop l[8];
  char five[5][18];
  for (int i = 0; i < 5; i++) memcpy(five[i], IFG5[i], 18);
  uint32_t n = ifgnet_loops((const char(*)[18])five, 5, l, 8);
  CHECK_EQ_INT(n, 2);
  CHECK(l[0].i12 == AB && l[0].i23 == BC && l[0].i13 == AC);
  CHECK(l[1].i12 == BC && l[1].i23 == CD && l[1].i13 == BD);
  /* Fully connected 4 epochs: (AB,BC,AC), (AB,BD,AD), (AC,CD,AD), (BC,CD,BD) in that order. */
  const char *six[] = {"20200101_20200113", "20200101_20200125", "20200101_20200206",
                       "20200113_20200125", "20200113_20200206", "20200125_20200206"};
  char names[6][18];
  for (int i = 0; i < 6; i++) memcpy(names[i], six[i], 18);
  n = ifgnet_loops((const char(*)[18])names, 6, l, 8);
  CHECK_EQ_INT(n, 4);
  CHECK(l[0].i12 == 0 && l[0].i23 == 3 && l[0].i13 == 1);
  CHECK(l[1].i12 == 0 && l[1].i23 == 4 && l[1].i13 == 2);
  CHECK(l[2].i12 == 1 && l[2].i23 == 5 && l[2].i13 == 2);
  CHECK(l[3].i12 == 3 && l[3].i23 == 5 && l[3].i13 == 4);
  /* bad rule: loops 2, 3 bad, 0, 1 good -> only ifg 5 (C_D) is bad; candidates 1..5 */
  int8_t st[4] = {0, 0, 1, 1};
  uint8_t cand[6], bad[6];
  ifgnet_bad_from_loops(l, 4, st, 6, cand, bad);
  CHECK(!bad[0] && !bad[1] && !bad[2] && !bad[3] && !bad[4] && bad[5]);
  CHECK(!cand[0] && cand[1] && cand[2] && cand[3] && cand[4] && cand[5]);
  /* gaps: without the ifgs spanning 20200113-20200125 there is a gap there */
  char ep[12][9];
  int32_t prim[6], sec[6], cover[12];
  uint8_t gap[12], valid[6] = {1, 0, 1, 0, 1, 1};
  uint32_t ne = ifgnet_epochs((const char(*)[18])names, 6, ep, prim, sec);
  CHECK_EQ_INT(ne, 4);
  CHECK(!strcmp(ep[3], "20200206") && prim[4] == 1 && sec[4] == 3);
  CHECK_EQ_INT(ifgnet_gaps(prim, sec, NULL, 6, ne, cover, gap), 0);
  uint8_t v2[6] = {1, 0, 0, 0, 0, 1}; /* A_B and C_D only: gap between B and C */
  CHECK_EQ_INT(ifgnet_gaps(prim, sec, v2, 6, ne, cover, gap), 1);
  CHECK(!gap[0] && gap[1] && !gap[2]);
  /* n_ifg_noloop: with A_C invalid, loops 0 and 2 are broken; loops 1 and 3 complete */
  uint8_t inl[6];
  /* valid 0,2,4,5: only loop 1 (0,4,2) is complete, so C_D (5) is in no complete loop */
  CHECK_EQ_INT(ifgnet_noloop_count(l, 4, valid, 6, inl), 1);
  uint8_t v3[6] = {1, 1, 1, 1, 1, 0}; /* C_D invalid: loops 2, 3 broken; AB,BD,AD / AB,BC,AC complete */
  CHECK_EQ_INT(ifgnet_noloop_count(l, 4, v3, 6, inl), 0);
  uint8_t v4[6] = {1, 1, 0, 1, 1, 1}; /* A_D invalid: only loop 0 and 3 complete -> all in loops */
  CHECK_EQ_INT(ifgnet_noloop_count(l, 4, v4, 6, inl), 0);
  uint8_t v5[6] = {1, 0, 0, 1, 1, 1}; /* A_C, A_D invalid: loop 3 only -> A_B alone */
  CHECK_EQ_INT(ifgnet_noloop_count(l, 4, v5, 6, inl), 1);
}

/* ---------------------------------------------------------------- the hand case */

/* phi_e(x) = 0.25*e*(1 + 0.5x) (exact binary fractions), ifg = phi_sec - phi_prim; A_C gets
 * +eps(x,y) = ((x+4y+5) mod 12 + 1)/1024 so loop (AB,BC,AC) = -eps exactly; A_B has no data at
 * (3,2); C_D has a 2π unwrapping error at x = 0 and at (1,0). */
static const int EP5[5][2] = {{0, 1}, {0, 2}, {1, 2}, {1, 3}, {2, 3}};
static float eps_xy(uint32_t x, uint32_t y) { return (float)((x + 4 * y + 5) % 12 + 1) / 1024.0f; }
static float unw_hand(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  if (k == AB && x == 3 && y == 2) return NAN;
  float v = 0.25f * (float)(EP5[k][1] - EP5[k][0]) * (1.0f + 0.5f * (float)x);
  if (k == AC) v += eps_xy(x, y);
  if (k == CD && (x == 0 || (x == 1 && y == 0))) v += TWO_PI_F;
  return v;
}
static uint8_t cc_hand(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  if (k == AC && x == 0 && y == 0) return 0;
  static const uint8_t b[5] = {100, 120, 150, 200, 200};
  return b[k];
}

static int run_11_12(cbas_ctx *ctx, const char *sd, const char *td, const loop_params *lp, loop_summary *sum) {
  stack *s;
  ctx->quiet = 1;
  if (stack_open(ctx, sd, &s)) return ctx->status;
  tsdir t;
  qc_params qp = {0.3, 0.05, 0};
  if (!tsdir_create(ctx, &t, td, sd) && !qc_run(ctx, &t, s, &qp, NULL)) loop_run(ctx, &t, s, lp, sum);
  stack_close(s);
  return ctx->status;
}

static int file_is(const char *path, const char *expect) {
  char *t = tsfx_slurp(path);
  int ok = t && !strcmp(t, expect);
  if (!ok) printf("# %s:\n%s# expected:\n%s", path, t ? t : "(missing)\n", expect);
  free(t);
  return ok;
}

static void test_hand_two_triangles(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  const char *sd = check_path("h/stack"), *td = check_path("h/TS");
  CHECKF(tsfx_make_stack(&ctx, sd, IFG5, 5, 4, 3, NULL, 0, unw_hand, cc_hand, NULL) == 0, "%s", ctx.msg);
  loop_params lp = {1.5, 0, NULL, 0};
  loop_summary sum;
  CHECKF(run_11_12(&ctx, sd, td, &lp, &sum) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(sum.n_loop, 2);
  /* L0: values -k/1024 for k = 1..12 except k = 5 (the A_B hole): RMS = sqrt(625/11)/1024 */
  CHECK_NEAR(sum.rms1[0], sqrt(625.0 / 11.0) / 1024.0, 1e-8);
  /* L1: 4 of 12 pixels at 2π (median 0, no shift): RMS = 2π/sqrt(3) */
  CHECK_NEAR(sum.rms1[1], 2 * PI_D / sqrt(3.0), 1e-5);
  /* reference: minimal |loop phase| = 1/1024 where x + 4y + 5 = 12, i.e. (3, 1) */
  CHECK_EQ_INT(sum.ref_x, 3);
  CHECK_EQ_INT(sum.ref_y, 1);
  /* L0 with reference: -(k-1)/1024 over the same 11 pixels: sqrt(490/11)/1024; L1 skipped */
  CHECK_NEAR(sum.rms2[0], sqrt(490.0 / 11.0) / 1024.0, 1e-8);
  CHECK(isnan(sum.rms2[1]));
  CHECK(sum.flags[BD] & LOOP_F_BAD1 && sum.flags[CD] & LOOP_F_BAD1);
  CHECK(!(sum.flags[AB] & LOOP_F_BAD12) && !(sum.flags[BC] & LOOP_F_BAD12));
  CHECK_EQ_INT(sum.n_stack_passes, 5); /* every 2πn decided at the first median level */
  loop_summary_free(&sum);

  char p[256];
#define TSF(name) (snprintf(p, sizeof p, "%s/%s", td, name), p)
  CHECK(file_is(TSF("info/12bad_ifg.txt"), "20200113_20200206\n20200125_20200206\n"));
  CHECK(file_is(TSF("12loop/bad_ifg_loop.txt"), "20200113_20200206\n20200125_20200206\n"));
  CHECK(file_is(TSF("12loop/bad_ifg_noref.txt"), ""));
  CHECK(file_is(TSF("12loop/bad_ifg_loopref.txt"), ""));
  CHECK(file_is(TSF("info/12bad_ifg_cand.txt"), ""));
  CHECK(file_is(TSF("info/12ref.txt"), "3:4/1:2\n"));
  CHECK(file_is(TSF("info/12removed_image.txt"), "20200206\n"));
  CHECK(file_is(TSF("info/12network_gap_info.txt"), "\nConnected network (year, n_image):\n20200101-20200125 (0.07, 3)\n"));
  CHECK(tsfx_slurp(TSF("info/12no_loop_ifg.txt")) == NULL);
  CHECK(file_is(TSF("12loop/loop_info.txt"),
                "# loop_thre: 1.5 rad\n"
                "# *: Removed w/o ref, **: No ref, ***: Removed w/ ref\n"
                "# /: Candidates of bad loops but causative ifgs unidentified\n"
                "# image1   image2   image3 RMS w/oref  w/ref\n"
                "20200101 20200113 20200125     0.01    0.01    \n"
                "20200113 20200125 20200206     3.63 *  --      \n"));
  uint32_t w, h;
  float *img = tsfx_read_tif(&ctx, TSF("results/n_unw.tif"), &w, &h);
  CHECKF(img && w == 4 && h == 3, "%s", ctx.msg);
  for (uint32_t i = 0; i < 12; i++) CHECK(img[i] == (i == 11 ? 2.0f : 3.0f));
  free(img);
  img = tsfx_read_tif(&ctx, TSF("results/n_ifg_noloop.tif"), &w, &h);
  CHECK(img != NULL);
  for (uint32_t i = 0; i < 12; i++) CHECK(img[i] == (i == 11 ? 2.0f : 0.0f));
  free(img);
  img = tsfx_read_tif(&ctx, TSF("results/n_loop_err.tif"), &w, &h);
  CHECK(img != NULL);
  for (uint32_t i = 0; i < 12; i++) CHECK(img[i] == 0.0f);
  free(img);
  img = tsfx_read_tif(&ctx, TSF("results/coh_avg.tif"), &w, &h);
  CHECK(img != NULL);
  CHECK_NEAR(img[0], (100.0 + 150.0) / 255.0 / 2.0, 1e-6);
  CHECK_NEAR(img[5], (100.0 + 120.0 + 150.0) / 255.0 / 3.0, 1e-6);
  free(img);
  img = tsfx_read_tif(&ctx, TSF("12loop/loop_ph_rms_masked.tif"), &w, &h);
  CHECK(img != NULL);
  CHECK(img[0] == 6.0f / 1024.0f && img[7] == 1.0f / 1024.0f && isnan(img[11]));
  free(img);
#undef TSF
  ctx_free(&ctx);
}

/* ---------------------------------------------------------------- 2πn shift, one bad ifg */

static const char *const IFG6[] = {"20200101_20200113", "20200101_20200125", "20200101_20200206",
                                   "20200113_20200125", "20200113_20200206", "20200125_20200206"};
static const int EP6[6][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}};
static float unw_six(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  float v = 0.25f * (float)(EP6[k][1] - EP6[k][0]) * (1.0f + 0.5f * (float)x);
  if (k == 1) v += eps_xy(x, y);
  if (k == 5 && (x + 4 * y) < 7) v += TWO_PI_F; /* 7 of 12 pixels: median at 2π */
  return v;
}
static uint8_t cc_const(void *ud, uint32_t k, uint32_t x, uint32_t y) { return 128; }

static void test_shift_2pi(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  const char *sd = check_path("s6/stack");
  CHECKF(tsfx_make_stack(&ctx, sd, IFG6, 6, 4, 3, NULL, 0, unw_six, cc_const, NULL) == 0, "%s", ctx.msg);
  loop_params lp = {1.5, 0, NULL, 0};
  loop_summary sum;
  CHECKF(run_11_12(&ctx, sd, check_path("s6/TS"), &lp, &sum) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(sum.n_loop, 4);
  /* loop (AC,CD,AD): after removing 2π the 5 clean pixels sit at -2π (+-eps) */
  CHECK_NEAR(sum.rms1[3], 2 * PI_D * sqrt(5.0 / 12.0), 1e-5);
  CHECK(sum.rms1[2] > 4.0f && sum.rms1[2] < 4.2f);
  CHECK(sum.rms1[0] < 0.02f && sum.rms1[1] < 1e-6f);
  /* only C_D is bad: every other ifg is also in a good loop */
  for (int k = 0; k < 6; k++) CHECK(((sum.flags[k] & LOOP_F_BAD12) != 0) == (k == 5));
  loop_summary_free(&sum);
  CHECK(file_is(check_path("s6/TS/info/12bad_ifg.txt"), "20200125_20200206\n"));
  ctx_free(&ctx);
}

/* ---------------------------------------------------------------- multi-prime */

static uint32_t mix(uint32_t a) {
  a ^= a >> 16; a *= 0x7feb352du; a ^= a >> 15; a *= 0x846ca68bu; a ^= a >> 16;
  return a;
}
typedef struct { uint32_t w, h; float bias; } mp_ud;
/* 6-ifg network over a larger image; C_D carries a constant phase bias plus pixel noise; a few
 * pixels have no data in A_B (so some loops have an even, some an odd number of values). */
static float unw_mp(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  const mp_ud *u = ud;
  if (k == 0 && (x * 7 + y * 3) % 101 == 0) return NAN;
  float v = 0.1f * (float)(EP6[k][1] - EP6[k][0]) + 0.001f * (float)x;
  float noise = (float)(mix(k * 1000003u + y * u->w + x) % 20001) / 20000.0f - 0.5f; /* [-0.5, 0.5] */
  v += 0.2f * noise;
  if (k == 5) v += u->bias;
  return v;
}
static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}
/* NumPy's nanmedian of float32 values: the middle value, or float32 (a+b)/2. */
static float np_median(float *v, size_t n) {
  qsort(v, n, 4, cmpf);
  return n & 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0f;
}
/* Pass-1 RMS of one loop computed the slow, obvious way. */
static double rms_expected(const mp_ud *u, int k12, int k23, int k13, int multi_prime) {
  size_t n = 0, np = (size_t)u->w * u->h;
  float *v = malloc(np * 4), *s = malloc(np * 4);
  for (uint32_t y = 0; y < u->h; y++)
    for (uint32_t x = 0; x < u->w; x++) {
      float a = unw_mp((void *)u, (uint32_t)k12, x, y) + unw_mp((void *)u, (uint32_t)k23, x, y);
      float l = a - unw_mp((void *)u, (uint32_t)k13, x, y);
      if (l == l) v[n++] = l;
    }
  memcpy(s, v, n * 4);
  float med = np_median(s, n);
  float c = (float)(rint((double)med / (2.0 * PI_D)) * 2.0 * PI_D);
  for (size_t i = 0; i < n; i++) v[i] = v[i] - c;
  float bias = 0;
  if (multi_prime) {
    memcpy(s, v, n * 4);
    bias = np_median(s, n);
  }
  double ss = 0;
  for (size_t i = 0; i < n; i++) {
    float d = v[i] - bias;
    ss += (double)(d * d);
  }
  free(v);
  free(s);
  return sqrt(ss / (double)n);
}

static void test_multi_prime(void) {
  mp_ud u = {120, 97, 0.9f};
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 3) == 0);
  const char *sd = check_path("mp/stack");
  CHECKF(tsfx_make_stack(&ctx, sd, IFG6, 6, u.w, u.h, NULL, 0, unw_mp, cc_const, &u) == 0, "%s", ctx.msg);
  static const int LP[4][3] = {{0, 3, 1}, {0, 4, 2}, {1, 5, 2}, {3, 5, 4}};
  loop_params lp = {0.5, 0, NULL, 0};
  loop_summary sum;
  CHECKF(run_11_12(&ctx, sd, check_path("mp/TS0"), &lp, &sum) == 0, "%s", ctx.msg);
  for (int j = 0; j < 4; j++)
    CHECK_NEAR(sum.rms1[j], rms_expected(&u, LP[j][0], LP[j][1], LP[j][2], 0), 2e-6 * sum.rms1[j]);
  CHECK(sum.rms1[2] > 0.85f && sum.rms1[3] > 0.85f); /* the 0.9 rad bias */
  CHECK(sum.flags[5] & LOOP_F_BAD12);                /* C_D removed without multi-prime */
  loop_summary_free(&sum);
  lp.multi_prime = 1;
  CHECKF(run_11_12(&ctx, sd, check_path("mp/TS1"), &lp, &sum) == 0, "%s", ctx.msg);
  for (int j = 0; j < 4; j++)
    CHECK_NEAR(sum.rms1[j], rms_expected(&u, LP[j][0], LP[j][1], LP[j][2], 1), 2e-6 * sum.rms1[j]);
  CHECK(sum.rms1[2] < 0.3f && sum.rms1[3] < 0.3f);
  for (int k = 0; k < 6; k++) CHECK(!(sum.flags[k] & LOOP_F_BAD12)); /* bias removed: nothing bad */
  CHECK_EQ_INT(sum.n_stack_passes, 7);                               /* 3 median levels + RMS + 3 */
  loop_summary_free(&sum);
  ctx_free(&ctx);
}

/* ---------------------------------------------------------------- synthetic truth */

typedef struct {
  uint32_t w, h;
  int n_ifg;
  int prim[64], sec[64];
  int big, small, gbad;     /* ifg indices: big 2π patch, small 2π patch, globally bad */
} syn_ud;
static int in_big(uint32_t x, uint32_t y) { return x < 30 && y < 25; }                    /* 750 of 2400 px */
static int in_small(uint32_t x, uint32_t y) { return x >= 50 && x < 57 && y >= 30 && y < 37; } /* 49 px */
static float epoch_phase(int e, uint32_t x, uint32_t y) {
  float t = (float)e * 12.0f / 365.25f;
  float vel = 2.0f * sinf(0.1f * (float)x) + 0.05f * (float)y;     /* rad/yr */
  float atm = 0.3f * sinf(0.2f * (float)(x + 3 * e) + 0.1f * (float)y * (float)(e % 3));
  return vel * t + atm;
}
static float unw_syn(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  const syn_ud *u = ud;
  float v = epoch_phase(u->sec[k], x, y) - epoch_phase(u->prim[k], x, y);
  v += 0.05f * ((float)(mix(k * 7919u + y * 1000u + x) % 1001) / 1000.0f - 0.5f);
  if ((int)k == u->big && in_big(x, y)) v += TWO_PI_F;
  if ((int)k == u->small && in_small(x, y)) v -= TWO_PI_F;
  if ((int)k == u->gbad) v = (float)(mix(x * 31u + y) % 1000) * 0.01f - 5.0f; /* noise */
  if (v == 0.0f) v = 1e-6f;
  return v;
}
static uint8_t cc_syn(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  const syn_ud *u = ud;
  return (int)k == u->gbad ? 4 : (uint8_t)(150 + (x + y) % 50);
}

static void make_syn(cbas_ctx *ctx, syn_ud *u, const char *sd, char (*names)[18], const char **list) {
  u->w = 80; u->h = 60;
  u->n_ifg = (int)tsfx_network(12, 3, names);
  for (int k = 0; k < u->n_ifg; k++) {
    list[k] = names[k];
    u->prim[k] = tsfx_epoch_of(names[k]);
    u->sec[k] = tsfx_epoch_of(names[k] + 9);
  }
  u->big = 10; u->small = 17; u->gbad = 4;
  if (tsfx_make_stack(ctx, sd, list, (uint32_t)u->n_ifg, u->w, u->h, NULL, 0, unw_syn, cc_syn, u))
    printf("# make_syn: %s\n", ctx->msg);
}

static void test_synthetic_truth(void) {
  syn_ud u;
  char names[64][18];
  const char *list[64];
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  const char *sd = check_path("syn/stack"), *td = check_path("syn/TS");
  make_syn(&ctx, &u, sd, names, list);
  CHECK(ctx.status == 0);
  loop_params lp = {1.5, 1, NULL, 0};
  loop_summary sum;
  CHECKF(run_11_12(&ctx, sd, td, &lp, &sum) == 0, "%s", ctx.msg);
  /* step 11 caught the decorrelated ifg, step 12 the big unwrapping error only */
  char expect[64];
  snprintf(expect, sizeof expect, "%s\n", names[u.gbad]);
  CHECK(file_is(check_path("syn/TS/info/11bad_ifg.txt"), expect));
  snprintf(expect, sizeof expect, "%s\n", names[u.big]);
  CHECK(file_is(check_path("syn/TS/info/12bad_ifg.txt"), expect));
  CHECK(sum.flags[u.gbad] == LOOP_F_BAD11);
  /* every loop through the big error is bad, every other loop good */
  for (uint32_t j = 0; j < sum.n_loop; j++) {
    int has_big = (int)sum.loops[j].i12 == u.big || (int)sum.loops[j].i23 == u.big || (int)sum.loops[j].i13 == u.big;
    CHECKF((sum.rms1[j] >= 1.5f) == has_big, "loop %u rms %g", j, (double)sum.rms1[j]);
  }
  /* n_loop_err: at the small patch, the number of good loops through the small-error ifg;
   * zero elsewhere */
  int n_small = 0;
  for (uint32_t j = 0; j < sum.n_loop; j++) {
    const ifgnet_loop *l = &sum.loops[j];
    int good = !(sum.flags[l->i12] & LOOP_F_BAD12) && !(sum.flags[l->i23] & LOOP_F_BAD12) &&
               !(sum.flags[l->i13] & LOOP_F_BAD12);
    if (good && ((int)l->i12 == u.small || (int)l->i23 == u.small || (int)l->i13 == u.small)) n_small++;
  }
  CHECK(n_small >= 2);
  CHECK(!in_small(sum.ref_x, sum.ref_y));
  uint32_t w, h;
  float *err = tsfx_read_tif(&ctx, check_path("syn/TS/results/n_loop_err.tif"), &w, &h);
  CHECK(err && w == u.w && h == u.h);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      CHECKF(err[y * w + x] == (in_small(x, y) ? (float)n_small : 0.0f), "n_loop_err(%u,%u) = %g", x, y,
             (double)err[y * w + x]);
  free(err);
  float *nu = tsfx_read_tif(&ctx, check_path("syn/TS/results/n_unw.tif"), &w, &h);
  CHECK(nu && nu[0] == (float)(u.n_ifg - 2));
  free(nu);
  loop_summary_free(&sum);
  ctx_free(&ctx);
}

/* ---------------------------------------------------------------- --rm-ifg-list */

static void test_rm_ifg_list(void) {
  syn_ud u;
  char names[64][18];
  const char *list[64];
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  const char *sd = check_path("rm/stack"), *td = check_path("rm/TS");
  make_syn(&ctx, &u, sd, names, list);
  const char *rmf = check_path("rm/rm.txt");
  FILE *f = fopen(rmf, "w");
  CHECK(f != NULL);
  fprintf(f, "# removed by hand\n%s  looks odd\n\n20190101_20190113\n", names[20]);
  fclose(f);
  loop_params lp = {1.5, 1, rmf, 0};
  loop_summary sum;
  CHECKF(run_11_12(&ctx, sd, td, &lp, &sum) == 0, "%s", ctx.msg);
  CHECK(sum.flags[20] & LOOP_F_RM && sum.flags[20] & LOOP_F_BAD12 && !(sum.flags[20] & LOOP_F_BAD1));
  char expect[1200];
  /* sorted union, including the name that is not in the stack (as LiCSBAS writes it) */
  int big_first = strcmp(names[u.big], names[20]) < 0;
  snprintf(expect, sizeof expect, "20190101_20190113\n%s\n%s\n", names[big_first ? u.big : 20],
           names[big_first ? 20 : u.big]);
  CHECK(file_is(check_path("rm/TS/info/12bad_ifg.txt"), expect));
  snprintf(expect, sizeof expect, "%s\n20190101_20190113\n", names[20]);
  CHECK(file_is(check_path("rm/TS/12loop/rm_ifg_man.txt"), expect));
  char *info = tsfx_slurp(check_path("rm/TS/12loop/loop_info.txt"));
  CHECK(info && strstr(info, "# +: Removed by manually indicating in ") != NULL);
  /* a loop with the removed ifg but not the big error is flagged '+' */
  int plus = 0;
  for (uint32_t j = 0; j < sum.n_loop && info; j++) {
    const ifgnet_loop *l = &sum.loops[j];
    int has20 = l->i12 == 20 || l->i23 == 20 || l->i13 == 20;
    int hasbig = (int)l->i12 == u.big || (int)l->i23 == u.big || (int)l->i13 == u.big;
    if (!has20 || hasbig) continue;
    char pre[40];
    snprintf(pre, sizeof pre, "%.8s %.8s %.8s", names[l->i12], names[l->i23], names[l->i23] + 9);
    const char *ln = strstr(info, pre);
    CHECK(ln && ln[26 + 4 + 5 + 1] == '+');
    plus++;
  }
  CHECK(plus > 0);
  free(info);
  loop_summary_free(&sum);
  /* a missing list is a usage error naming it */
  lp.rm_ifg_list = check_path("rm/none.txt");
  CHECK(run_11_12(&ctx, sd, td, &lp, NULL) == CBAS_EUSAGE && strstr(ctx.msg, "none.txt"));
  ctx_free(&ctx);
}

/* ---------------------------------------------------------------- threads, blocks, budget */

static void test_threads_identical(void) {
  syn_ud u;
  char names[64][18];
  const char *list[64];
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *sd = check_path("th/stack");
  make_syn(&ctx, &u, sd, names, list);
  ctx_free(&ctx);
  static const char *const files[] = {
      "info/11bad_ifg.txt", "info/11ifg_stats.txt", "info/12bad_ifg.txt", "info/12ref.txt",
      "info/12bad_ifg_cand.txt", "info/12network_gap_info.txt", "info/12removed_image.txt",
      "12loop/loop_info.txt", "12loop/bad_ifg_loop.txt", "12loop/bad_ifg_loopref.txt",
      "12loop/bad_ifg_noref.txt", "results/n_loop_err.tif", "results/n_unw.tif", "results/coh_avg.tif",
      "results/n_ifg_noloop.tif", "12loop/loop_ph_rms_masked.tif"};
  /* 1 thread whole-image blocks; 4 threads; 4 threads with 3-row blocks */
  const struct { int threads; uint32_t rows; } runs[3] = {{1, 0}, {4, 0}, {4, 3}};
  for (int i = 0; i < 3; i++) {
    CHECK(ctx_init(&ctx, 64 << 20, runs[i].threads) == 0);
    char td[64];
    snprintf(td, sizeof td, "th/TS%d", i);
    loop_params lp = {1.5, i == 2, NULL, runs[i].rows};
    loop_summary sum;
    CHECKF(run_11_12(&ctx, sd, check_path(td), &lp, &sum) == 0, "%s", ctx.msg);
    loop_summary_free(&sum);
    ctx_free(&ctx);
  }
  /* run 2 used multi-prime: compare it with a 1-thread multi-prime run */
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  loop_params lp1 = {1.5, 1, NULL, 0};
  CHECKF(run_11_12(&ctx, sd, check_path("th/TS3"), &lp1, NULL) == 0, "%s", ctx.msg);
  ctx_free(&ctx);
  for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
    char a[128], b[128], c[128], d[128];
    snprintf(a, sizeof a, "th/TS0/%s", files[f]);
    snprintf(b, sizeof b, "th/TS1/%s", files[f]);
    snprintf(c, sizeof c, "th/TS2/%s", files[f]);
    snprintf(d, sizeof d, "th/TS3/%s", files[f]);
    char pa[1400], pb[1400];
    snprintf(pa, sizeof pa, "%s", check_path(a));
    snprintf(pb, sizeof pb, "%s", check_path(b));
    CHECKF(tsfx_same_file(pa, pb), "%s differs between 1 and 4 threads", files[f]);
    snprintf(pa, sizeof pa, "%s", check_path(c));
    snprintf(pb, sizeof pb, "%s", check_path(d));
    CHECKF(tsfx_same_file(pa, pb), "%s differs between 4 threads/3-row blocks and 1 thread", files[f]);
  }
}

static float unw_wide(void *ud, uint32_t k, uint32_t x, uint32_t y) { return unw_hand(ud, k, x % 4, y); }

/* Too small a budget fails before any output, naming what needs how much: the working set
 * (two workers' scratch of 100000 x (5 + 20) bytes and one row of 100000 x 5 x 5 bytes, 7.5 MB)
 * and, separately, the network figures (4.4 MB). */
static void test_budget(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *sd = check_path("bu/stack");
  CHECKF(tsfx_make_stack(&ctx, sd, IFG5, 5, 100000, 2, NULL, 0, unw_wide, cc_hand, NULL) == 0, "%s", ctx.msg);
  stack *s;
  CHECK(stack_open(&ctx, sd, &s) == 0);
  tsdir t;
  CHECK(tsdir_create(&ctx, &t, check_path("bu/TS"), sd) == 0);
  qc_params qp = {0.3, 0.05, 0};
  ctx.quiet = 1;
  CHECK(qc_run(&ctx, &t, s, &qp, NULL) == 0);
  ctx_free(&ctx);
  CHECK(ctx_init(&ctx, 6 << 20, 2) == 0);
  loop_params lp = {1.5, 0, NULL, 0};
  CHECK(loop_run(&ctx, &t, s, &lp, NULL) == CBAS_EBUDGET);
  CHECKF(strstr(ctx.msg, "cbas loop needs") != NULL, "%s", ctx.msg);
  ctx_free(&ctx);
  CHECK(ctx_init(&ctx, 3 << 20, 2) == 0);
  CHECK(loop_run(&ctx, &t, s, &lp, NULL) == CBAS_EBUDGET);
  CHECKF(strstr(ctx.msg, "cbas loop: network figures needs") != NULL, "%s", ctx.msg);
  CHECK(tsfx_slurp(check_path("bu/TS/info/12ref.txt")) == NULL);
  stack_close(s);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_loop_matrix);
  RUN(test_hand_two_triangles);
  RUN(test_shift_2pi);
  RUN(test_multi_prime);
  RUN(test_synthetic_truth);
  RUN(test_rm_ifg_list);
  RUN(test_threads_identical);
  RUN(test_budget);
  return check_done();
}
