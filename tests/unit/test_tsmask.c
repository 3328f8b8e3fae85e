/* test_tsmask.c — LiCSBAS step 15 mask core: defaults, float32 threshold semantics, NaN and
 * isolated pixels, the reference pixel, auto-adjust, and the exact 15parameters.txt text, all
 * against hand-worked expectations. */
#include "check.h"
#include "cbas/tsmask.h"
#include <string.h>

enum { NPX = 8 };

/* A fixture of NPX pixels where every index passes the C-band defaults. */
typedef struct fx {
  float vel[NPX];
  float d[TSMASK_N][NPX];
  const float *idx[TSMASK_N];
} fx;

static void fx_init(fx *f) {
  static const float good[TSMASK_N] = {0.5f, 100, 5, 3, 0, 1, 0, 0, 0.5f};
  for (int i = 0; i < NPX; i++) {
    f->vel[i] = 1.0f + (float)i;
    for (int k = 0; k < TSMASK_N; k++) f->d[k][i] = good[k];
  }
  for (int k = 0; k < TSMASK_N; k++) f->idx[k] = f->d[k];
}

static void run(const tsmask_plan *plan0, fx *f, float *mask, float *vm, tsmask_acc *acc,
                tsmask_plan *out_plan) {
  tsmask_plan plan = *plan0;
  tsmask_acc scan;
  tsmask_acc_init(&scan);
  /* two uneven chunks merged, as row blocks would be */
  tsmask_acc a1, a2;
  tsmask_acc_init(&a1);
  tsmask_acc_init(&a2);
  const float *i2[TSMASK_N];
  for (int k = 0; k < TSMASK_N; k++) i2[k] = f->idx[k] + 3;
  tsmask_scan(&plan, f->vel, f->idx, 3, &a1);
  tsmask_scan(&plan, f->vel + 3, i2, NPX - 3, &a2);
  tsmask_acc_merge(&scan, &a2);
  tsmask_acc_merge(&scan, &a1);
  tsmask_adjust(&plan, &scan);
  tsmask_acc_init(acc);
  tsmask_apply(&plan, f->vel, f->idx, NPX, mask, vm, acc);
  if (out_plan) *out_plan = plan;
}

static void test_defaults(void) {
  tsmask_params p;
  tsmask_params_default(&p);
  tsmask_plan c, l;
  char why[200];
  CHECK(tsmask_setup(&c, &p, 0.0555, 7, why, sizeof why) == 0);
  CHECK(tsmask_setup(&l, &p, 0.236, 7, why, sizeof why) == 0);
  CHECK(!c.lband && l.lband);
  /* LiCSBAS 15 v1.8.1 defaults; n_unw = int(7*1.5) = int(10.5) = 10 (C), int(7*1.0) = 7 (L) */
  static const double want_c[TSMASK_N] = {0.05, 10, 100, 1, 10, 5, 50, 5, 2};
  static const double want_l[TSMASK_N] = {0.01, 7, 200, 1, 1, 10, 50, 1, 10};
  for (int k = 0; k < TSMASK_N; k++) {
    CHECKF(c.thre[k] == want_c[k], "C-band %s: %g, expected %g", tsmask_name(k), c.thre[k], want_c[k]);
    CHECKF(l.thre[k] == want_l[k], "L-band %s: %g, expected %g", tsmask_name(k), l.thre[k], want_l[k]);
    CHECK(c.thre_is_int[k] == (k != TSMASK_COH_AVG)); /* Python ints except coh_avg */
  }
  CHECK_NEAR(c.stc_nan, 6.0f, 0); /* stc_thre + 1 */
  /* integer-only options refuse fractions (LiCSBAS parses them with int()) */
  p.thre[TSMASK_N_GAP] = 2.5;
  CHECK(tsmask_setup(&c, &p, 0.0555, 7, why, sizeof why) == -1);
  CHECK(strstr(why, "n_gap") != NULL);
}

static void test_mask_semantics(void) {
  tsmask_params p;
  tsmask_params_default(&p);
  tsmask_plan plan;
  char why[200];
  CHECK(tsmask_setup(&plan, &p, 0.0555, 20, why, sizeof why) == 0); /* n_unw thre 30 */
  fx f;
  fx_init(&f);
  f.d[TSMASK_N_UNW][0] = 100;
  f.vel[0] = 0.0f;                 /* reference pixel: not evaluated, mask 1 */
  f.d[TSMASK_COH_AVG][1] = 0.04f;  /* < 0.05: masked */
  f.d[TSMASK_N_UNW][2] = 29;       /* < 30: masked */
  f.d[TSMASK_STC][3] = NAN;        /* isolated: stc -> 6 > 5: masked */
  f.vel[4] = NAN;                  /* not evaluated: NaN */
  f.d[TSMASK_RESID_RMS][5] = NAN;  /* NaN index fails */
  f.d[TSMASK_VSTD][6] = 100.0f;    /* == threshold: kept */
  f.d[TSMASK_COH_AVG][7] = 0.05f;  /* float32(0.05) vs float32(0.05): kept */
  float mask[NPX], vm[NPX];
  tsmask_acc acc;
  run(&plan, &f, mask, vm, &acc, NULL);
  float want[NPX] = {1, 0, 0, 0, NAN, 0, 1, 1};
  for (int i = 0; i < NPX; i++) {
    if (want[i] != want[i]) CHECKF(mask[i] != mask[i], "pixel %d: %g", i, mask[i]);
    else CHECKF(mask[i] == want[i], "pixel %d: mask %g, expected %g", i, mask[i], want[i]);
  }
  CHECK(vm[0] == 0.0f); /* vel*1 at the reference */
  CHECK(vm[1] != vm[1]);
  CHECK(vm[4] != vm[4]);
  CHECK_NEAR(vm[6], 7.0, 0);
  CHECK_EQ_INT(acc.n_pt_all, 6);
  CHECK_EQ_INT(acc.n_ref, 1);
  CHECK_EQ_INT(acc.kept[TSMASK_COH_AVG], 5);
  CHECK_EQ_INT(acc.kept[TSMASK_STC], 5);
  CHECK_EQ_INT(acc.n_kept, 2);
  CHECK_EQ_INT(tsmask_n_nomask(&acc), 3);
  /* keep_isolated: NaN stc becomes 0 and passes */
  p.keep_isolated = 1;
  CHECK(tsmask_setup(&plan, &p, 0.0555, 20, why, sizeof why) == 0);
  run(&plan, &f, mask, vm, &acc, NULL);
  CHECK(mask[3] == 1.0f);
}

static void test_float32_threshold(void) {
  /* resid_rms <= 0.3: LiCSBAS compares float32 data with float32(0.3) = 0.300000012, so a
   * stored 0.3f (0.300000012) is kept, although 0.300000012 > 0.3 in double */
  tsmask_params p;
  tsmask_params_default(&p);
  p.thre[TSMASK_RESID_RMS] = 0.3;
  p.no_autoadjust = 1;
  tsmask_plan plan;
  char why[200];
  CHECK(tsmask_setup(&plan, &p, 0.0555, 20, why, sizeof why) == 0);
  fx f;
  fx_init(&f);
  for (int i = 0; i < NPX; i++) f.d[TSMASK_RESID_RMS][i] = 0.3f;
  f.d[TSMASK_RESID_RMS][2] = 0.30000004f; /* next float32 up: masked */
  float mask[NPX];
  tsmask_acc acc;
  run(&plan, &f, mask, NULL, &acc, NULL);
  CHECK(mask[0] == 1.0f);
  CHECK(mask[2] == 0.0f);
  CHECK_EQ_INT(acc.kept[TSMASK_RESID_RMS], NPX - 1);
}

static void test_autoadjust(void) {
  tsmask_params p;
  tsmask_params_default(&p);
  tsmask_plan plan, done;
  char why[200];
  CHECK(tsmask_setup(&plan, &p, 0.0555, 20, why, sizeof why) == 0);
  fx f;
  fx_init(&f);
  /* every n_loop_err above 5: the threshold becomes ceil(min) = ceil(6.5) = 7 (a float);
   * every coh_avg below 0.05: in the negated space min = -0.04, ceil = -0.0, printed 0.0 */
  for (int i = 0; i < NPX; i++) {
    f.d[TSMASK_N_LOOP_ERR][i] = 6.5f + (float)i;
    f.d[TSMASK_COH_AVG][i] = 0.01f + 0.004f * (float)i;
  }
  float mask[NPX];
  tsmask_acc acc;
  run(&plan, &f, mask, NULL, &acc, &done);
  CHECK(done.adjusted[TSMASK_N_LOOP_ERR] && done.adjusted[TSMASK_COH_AVG]);
  CHECK(!done.adjusted[TSMASK_VSTD]);
  CHECK_NEAR(done.thre[TSMASK_N_LOOP_ERR], 7, 0);
  CHECK(!done.thre_is_int[TSMASK_N_LOOP_ERR]);
  CHECK_NEAR(done.thre[TSMASK_COH_AVG], 0, 0);
  CHECK_EQ_INT(acc.kept[TSMASK_N_LOOP_ERR], 1); /* only 6.5 <= 7 */
  CHECK_EQ_INT(acc.kept[TSMASK_COH_AVG], NPX);
  /* --noautoadjust: everything masked */
  p.no_autoadjust = 1;
  CHECK(tsmask_setup(&plan, &p, 0.0555, 20, why, sizeof why) == 0);
  run(&plan, &f, mask, NULL, &acc, &done);
  CHECK_EQ_INT(acc.n_kept, 0);
  CHECK(!done.adjusted[TSMASK_N_LOOP_ERR]);
}

static void test_report_text(void) {
  tsmask_params p;
  tsmask_params_default(&p);
  p.thre[TSMASK_COH_AVG] = 0.1;     /* user float: printed by repr */
  p.thre[TSMASK_VSTD] = 20;         /* user float 20.0 */
  tsmask_plan plan, done;
  char why[200];
  CHECK(tsmask_setup(&plan, &p, 0.0555, 20, why, sizeof why) == 0);
  fx f;
  fx_init(&f);
  for (int i = 0; i < NPX; i++) f.d[TSMASK_N_LOOP_ERR][i] = 6.5f + (float)i;
  f.vel[0] = 0.0f;
  f.d[TSMASK_COH_AVG][1] = 0.05f;
  float mask[NPX];
  tsmask_acc acc;
  run(&plan, &f, mask, NULL, &acc, &done);
  char buf[2048];
  int n = tsmask_report(&done, &acc, buf, sizeof buf);
  CHECK(n > 0);
  /* E = pixels 1..7 (pixel 0 is the reference). coh_avg: pixel 1 (0.05 < 0.1) masked, 1/7 =
   * 14.3%. n_loop_err on E is 7.5..13.5 > 5: auto-adjusted to ceil(7.5) = 8.0 (a float),
   * keeping pixel 1 only: 6/7 = 85.7%. No E pixel passes both; n_nomask = the reference. */
  const char *want =
      "Noise index    : Threshold  (rate to be masked)\n"
      "- coh_avg      :  0.1       (14.3%)\n"
      "- n_unw        :   30       ( 0.0%)\n"
      "- vstd         : 20.0 mm/yr ( 0.0%)\n"
      "- maxTlen      :    1 yr    ( 0.0%)\n"
      "- n_gap        :   10       ( 0.0%)\n"
      "- stc          :    5 mm    ( 0.0%)\n"
      "- n_ifg_noloop :   50       ( 0.0%)\n"
      "- n_loop_err   :  8.0       (85.7%)\n"
      "- resid_rms    :    2 mm    ( 0.0%)\n"
      "\n"
      "Masked pixels  : 6/7 (85.7%)\n"
      "Kept pixels    : 1/7 (14.3%)\n"
      "\n";
  CHECKF(strcmp(buf, want) == 0, "report:\n%s", buf);
  CHECK(tsmask_report(&done, &acc, buf, 100) == -1);
}

int main(void) {
  RUN(test_defaults);
  RUN(test_mask_semantics);
  RUN(test_float32_threshold);
  RUN(test_autoadjust);
  RUN(test_report_text);
  return check_done();
}
