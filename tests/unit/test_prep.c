/* test_prep.c — cbas prep (LiCSBAS steps 02–05) and the LiCSBAS conventions it relies on.
 *
 * Pure parts against hand-computed values (and values NumPy 1.24 printed for the summation
 * order, quoted in comments); the pipeline on tiny frames written here with the GeoTIFF writer,
 * whose pixel values are known formulas, so every expected stack value is computed by hand
 * from the formula, not by the code under test. */
#include "check.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cbas/licsbas.h"
#include "cbas/plat.h"
#include "cbas/prep.h"
#include "cbas/progress.h"
#include "cbas/stack.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ pure conventions */

static void test_ifg_names(void) {
  CHECK(lb_ifg_name_problem("20200101_20200113") == NULL);
  CHECK(lb_ifg_name_problem("20200101_2020011") != NULL);    /* 16 characters */
  CHECK(lb_ifg_name_problem("20200101-20200113") != NULL);   /* no underscore */
  CHECK(lb_ifg_name_problem("2020010a_20200113") != NULL);   /* LiCSBAS would accept it */
  CHECK(lb_ifg_name_problem("20210229_20210301") != NULL);   /* 2021 is not a leap year */
  CHECK(lb_ifg_name_problem("20200229_20200301") == NULL);   /* 2020 is */
  CHECK(lb_ifg_name_problem("20200113_20200101") != NULL);   /* dates out of order */
  CHECK(lb_ifg_name_problem("20200113_20200113") != NULL);
  CHECK(lb_ifg_name_problem("19991231_20000101") != NULL);   /* LiCSBAS wants '2' first */
  CHECK_EQ_INT(lb_day_number("19700101"), 0);
  CHECK_EQ_INT(lb_day_number("20000301"), 11017);            /* 30 years + 7 leap days + 59 */
  CHECK_EQ_INT(lb_day_number("20200113") - lb_day_number("20200101"), 12);
}

static void test_read_range(void) {
  lb_range r;
  char why[200];
  CHECK(lb_read_range("10:50/20:45", 120, 100, &r, why, sizeof why) == 0);
  CHECK(r.x0 == 10 && r.x1 == 50 && r.y0 == 20 && r.y1 == 45);
  CHECK(lb_read_range("3:0/4:0", 120, 100, &r, why, sizeof why) == 0); /* 0 = full size */
  CHECK(r.x0 == 3 && r.x1 == 120 && r.y0 == 4 && r.y1 == 100);
  CHECK(lb_read_range("0:120/0:100", 120, 100, &r, why, sizeof why) == 0);
  CHECK(lb_read_range("0:121/0:100", 120, 100, &r, why, sizeof why) != 0);
  CHECK(lb_read_range("120:0/0:100", 120, 100, &r, why, sizeof why) != 0); /* x1 > W-1 */
  CHECK(lb_read_range("5:5/0:1", 120, 100, &r, why, sizeof why) != 0);     /* empty */
  CHECKF(strstr(why, "5:5/0:1") != NULL, "%s", why);
  CHECK(lb_read_range("6:5/0:1", 120, 100, &r, why, sizeof why) != 0);
  CHECK(lb_read_range("1:2/3", 120, 100, &r, why, sizeof why) != 0);
  CHECK(lb_read_range("a:2/3:4", 120, 100, &r, why, sizeof why) != 0);
  CHECK(lb_read_range("1:2/3:4x", 120, 100, &r, why, sizeof why) != 0);
  CHECK(lb_read_range("-1:2/3:4", 120, 100, &r, why, sizeof why) != 0);
}

/* Grid with binary-exact numbers: outer edge lon 100, lat 40, pixel 0.125 deg. With nlook 1
 * the NW centre is (39.9375, 100.0625); with nlook 3 LiCSBAS keeps that corner (step 02's
 * half-pixel quirk) and the spacing becomes 0.375. */
static void test_read_range_geo(void) {
  lb_range r;
  char why[200];
  const double lat1 = 39.9375, lon1 = 100.0625;
  /* nlook 1, 64 x 48: x1 = rint((101.375-100.0625)/0.125) = rint(10.5) = 10 (half to even),
   * x2 = rint((102.0-100.0625)/0.125)+1 = rint(15.5)+1 = 17, y1 = rint((39.0-39.9375)/-0.125)
   * = rint(7.5) = 8, y2 = rint((38.5-39.9375)/-0.125)+1 = rint(11.5)+1 = 13. */
  CHECK(lb_read_range_geo("101.375/102.0/38.5/39.0", 64, 48, lat1, -0.125, lon1, 0.125, &r, why, sizeof why) == 0);
  CHECKF(r.x0 == 10 && r.x1 == 17 && r.y0 == 8 && r.y1 == 13, "%u:%u/%u:%u", r.x0, r.x1, r.y0, r.y1);
  /* bounds beyond the grid clamp: lon2 = 100.0625+63*0.125 = 107.9375, lat2 = 34.0625 */
  CHECK(lb_read_range_geo("99/108/34/41", 64, 48, lat1, -0.125, lon1, 0.125, &r, why, sizeof why) == 0);
  CHECK(r.x0 == 0 && r.x1 == 64 && r.y0 == 0 && r.y1 == 48);
  /* nlook 3 (21 x 16 multilooked): x1 = rint((101.075-100.0625)/0.375) = rint(2.7) = 3 (the
   * true centre 100.1875 would give rint(2.367) = 2), x2 = rint((102.5-100.0625)/0.375)+1 =
   * rint(6.5)+1 = 7, y1 = rint((39.0-39.9375)/-0.375) = rint(2.5) = 2,
   * y2 = rint((37.5-39.9375)/-0.375)+1 = rint(6.5)+1 = 7. */
  CHECK(lb_read_range_geo("101.075/102.5/37.5/39.0", 21, 16, lat1, -0.375, lon1, 0.375, &r, why, sizeof why) == 0);
  CHECKF(r.x0 == 3 && r.x1 == 7 && r.y0 == 2 && r.y1 == 7, "%u:%u/%u:%u", r.x0, r.x1, r.y0, r.y1);
  /* outside (east of the grid), swapped, malformed */
  CHECK(lb_read_range_geo("110/111/38/39", 64, 48, lat1, -0.125, lon1, 0.125, &r, why, sizeof why) != 0);
  CHECKF(strstr(why, "110/111/38/39") != NULL, "%s", why);
  CHECK(lb_read_range_geo("90/95/38/39", 64, 48, lat1, -0.125, lon1, 0.125, &r, why, sizeof why) != 0);
  CHECK(lb_read_range_geo("102/101/38/39", 64, 48, lat1, -0.125, lon1, 0.125, &r, why, sizeof why) != 0);
  CHECK(lb_read_range_geo("101/102/38", 64, 48, lat1, -0.125, lon1, 0.125, &r, why, sizeof why) != 0);
  CHECK(lb_read_range_geo("1e2/102/38/39", 64, 48, lat1, -0.125, lon1, 0.125, &r, why, sizeof why) != 0);
  CHECK(lb_read_range_geo("-101.5/+102/38/39", 64, 48, lat1, -0.125, -102.0, 0.125, &r, why, sizeof why) == 0);
}

static void test_multilook_rule(void) {
  /* 2x2 blocks of a 2 x 8 input: [1 2;3 NaN] -> 3 valid of 4 -> 2; [1 NaN;NaN NaN] -> 1 < 2
   * -> NaN; [NaN NaN;4 6] -> 2 valid (not < 2) -> 5; [NaN x4] -> NaN. */
  const float N = NAN;
  float src[16] = {1, 2, 1, N, N, N, N, N,
                   3, N, N, N, 4, 6, N, N};
  float dst[4];
  lb_multilook_row(src, 8, 4, 2, 0, dst);
  CHECK(dst[0] == 2.0f);
  CHECK(isnan(dst[1]));
  CHECK(dst[2] == 5.0f);
  CHECK(isnan(dst[3]));
  /* 3x3: the threshold is 4.5 valid values: 4 -> NaN, 5 -> mean */
  float s3[9] = {1, 2, 3, 4, N, N, N, N, N}, d3;
  lb_multilook_row(s3, 3, 1, 3, 0, &d3);
  CHECK(isnan(d3));
  s3[4] = 5;
  lb_multilook_row(s3, 3, 1, 3, 0, &d3);
  CHECK(d3 == 3.0f);
  /* trailing columns are ignored: n_out decides */
  float s4[6] = {2, 4, 100, 6, 8, 100};
  lb_multilook_row(s4, 3, 1, 2, 0, &d3);
  CHECK(d3 == 5.0f);
  /* float32 summation order. NumPy 1.24 printed, for nanmean over a 2x2 block of a frame
   * two multilooked pixels wide, [1e8 1; -1e8 1] -> 0.0 (row sums 1e8 and -1e8), and for a
   * frame one multilooked pixel wide (block summed as one run 1e8+1-1e8+1) -> 0.25. */
  float s5[8] = {1e8f, 1, 7, 7, -1e8f, 1, 7, 7};
  float d5[2];
  lb_multilook_row(s5, 4, 2, 2, 0, d5);
  CHECKF(d5[0] == 0.0f && d5[1] == 7.0f, "%g %g", d5[0], d5[1]);
  lb_multilook_row(s5, 4, 1, 2, 1, d5);
  CHECKF(d5[0] == 0.25f, "%g", d5[0]);
  /* 3x3 with NaN: NumPy gives (either frame width) 0.36666667f for [.1 .2 .3; .4 .5 NaN; .7 NaN NaN] and 0.34f
   * with .5 also NaN (5 valid: mean of .1 .2 .3 .4 .7) */
  float s6[9] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, N, 0.7f, N, N};
  lb_multilook_row(s6, 3, 1, 3, 0, &d3);
  CHECKF(d3 == 0.36666667f, "%.9g", d3);
  s6[4] = N;
  lb_multilook_row(s6, 3, 1, 3, 0, &d3);
  CHECKF(d3 == 0.34f, "%.9g", d3);
  /* pairwise sum with 8 accumulators: NumPy's float32 sum of [1e8, 1 x7, 3 x8, 5] is
   * 100000030.0 and of the first 8 alone 100000000.0 (sequentially it would be 1e8 + ...). */
  float s7[17] = {1e8f, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 5};
  CHECKF(lb_np_sum_f32(s7, 17, 1) == 100000030.0f, "%.9g", lb_np_sum_f32(s7, 17, 1));
  CHECK(lb_np_sum_f32(s7, 8, 1) == 100000000.0f);
  /* an 8x8 block of 36 valid values; NumPy: 2.2222223f in a frame two multilooked pixels
   * wide (8 row sums, each with 8 accumulators), 2.5527778f in a frame one pixel wide (one run
   * of 64 values through 8 accumulators) */
  float b8[64];
  for (int i = 0; i < 64; i++) b8[i] = N;
  const float r0[8] = {1e8f, 1, 1, 1, 1, 1, 1, 1}, r3[8] = {-1e8f, 3, 3, 3, 3, 3, 3, 3};
  for (int i = 0; i < 8; i++) { b8[i] = r0[i]; b8[8 + i] = 1; b8[24 + i] = r3[i]; b8[32 + i] = 7; }
  b8[16] = 0.1f; b8[17] = 0.2f; b8[18] = 0.3f; b8[19] = 0.4f;
  lb_multilook_row(b8, 8, 1, 8, 0, &d3);
  CHECKF(d3 == 2.2222223f, "%.9g", d3);
  lb_multilook_row(b8, 8, 1, 8, 1, &d3);
  CHECKF(d3 == 2.5527778f, "%.9g", d3);
}

static void test_coherence_bytes(void) {
  CHECK(lb_cc_byte(NAN) == 0);
  CHECK(lb_cc_byte(254.99f) == 254);
  CHECK(lb_cc_byte(0.5f * 255.0f) == 127);    /* 127.5 truncates */
  CHECK(lb_cc_byte(255.0f) == 255);
  CHECK(lb_cc_byte(256.5f) == 0);             /* NumPy on x86-64: 256 wraps to 0 */
  CHECK(lb_cc_byte(300.0f) == 44);
  CHECK(lb_cc_byte(-1.0f) == 255);
  CHECK(lb_cc_byte(1e10f) == 0);
  /* coh_avg over three interferograms of three pixels:
   * pixel 0: bytes 0,0,0 -> sum 0, divisor 99999 (int16 -31073) -> -0.0, masked at 0.1;
   * pixel 1: 255, 0, 51 -> (1 + 0.2)/2 = 0.6; pixel 2: 26, 26, 25 -> ~0.1007 (> 0.1) */
  const uint8_t cc[3][3] = {{0, 255, 26}, {0, 0, 26}, {0, 51, 25}};
  float sum[3] = {0}, avg[3];
  int16_t cnt[3] = {0};
  for (int k = 0; k < 3; k++) lb_coh_accumulate(cc[k], 3, sum, cnt);
  CHECK(cnt[0] == 0 && cnt[1] == 2 && cnt[2] == 3);
  lb_coh_finish(sum, cnt, 3, avg);
  CHECK(avg[0] == 0.0f && signbit(avg[0]));
  CHECK_NEAR(avg[1], 0.6, 1e-7);
  CHECK_NEAR(avg[2], 77.0 / 255 / 3, 1e-7);
  CHECK(lb_coh_masked(avg[0], 0.1) && !lb_coh_masked(avg[1], 0.1) && !lb_coh_masked(avg[2], 0.1));
  CHECK(lb_coh_masked(avg[1], 0.6)); /* <= */
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) { fputs(text, f); fclose(f); }
}

static void test_baselines(void) {
  const char dates[4][9] = {"20170218", "20170302", "20170314", "20170326"};
  double bp[4];
  char why[200];
  const char *p = check_path("baselines_new");
  write_text(p, "20170302 20170326 130.9  24.0\n20170302 20170314  32.4  12.0\n20170302 20170218 -5.5 -12.0\n");
  CHECK_EQ_INT(lb_read_bperp(p, dates, 4, bp, why, sizeof why), 0);
  CHECK(bp[0] == -5.5 && bp[1] == 0.0 && bp[2] == 32.4 && bp[3] == 130.9);
  p = check_path("baselines_old");
  write_text(p, "  1 20170218 20170326 96.6 36.0    -12.0    24.0    34.2   130.9\n"
                "  2 20170302 20170314 32.4 12.0      0.0    12.0     0.0    32.4\n");
  CHECK_EQ_INT(lb_read_bperp(p, dates, 4, bp, why, sizeof why), 0);
  CHECK(bp[0] == 34.2 && bp[1] == 0.0 && bp[2] == 32.4 && bp[3] == 130.9);
  p = check_path("baselines_short");
  write_text(p, "20170302 20170326 130.9  24.0\n");
  CHECK_EQ_INT(lb_read_bperp(p, dates, 4, bp, why, sizeof why), 2);
  CHECK(isnan(bp[0]) && bp[1] == 0.0 && isnan(bp[2]) && bp[3] == 130.9);
  CHECK(lb_read_bperp(check_path("no_such_file"), dates, 4, bp, why, sizeof why) == -1);
}

static void test_pyfloat(void) {
  /* Python 3: repr() of these floats */
  static const struct { double v; const char *s; } c[] = {
      {5.405e9, "5405000000.0"}, {-0.000833333 * 3, "-0.002499999"}, {1e-05, "1e-05"},
      {1.5e16, "1.5e+16"}, {1e16, "1e+16"}, {123456789012345678.0, "1.2345678901234568e+17"},
      {0.0001, "0.0001"}, {35.00041666666667, "35.00041666666667"}, {0.1 + 0.2, "0.30000000000000004"},
      {100.0, "100.0"}, {-0.0, "-0.0"}, {1e15, "1000000000000000.0"}, {-0.001, "-0.001"},
      {138.0005, "138.0005"}, {2.5e-7, "2.5e-07"}};
  char b[64];
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    lb_pyfloat(b, sizeof b, c[i].v);
    CHECKF(!strcmp(b, c[i].s), "repr(%.17g): got %s, expected %s", c[i].v, b, c[i].s);
  }
}

/* ================================================================ tiny frames */

#define FW 12  /* frame width */
#define FL 10  /* frame length */
static const char *const IFG[] = {"20200101_20200113", "20200101_20200125", "20200113_20200125"};
#define N_IFG 3

/* Known pixel values. unw: exactly 0 (no data) on a diagonal pattern, else k*100+y*12+x+0.5
 * (exact in float32). cc bytes: (7*x + 3*y + 40*k) % 256, 0 included. */
static float unw_val(int k, int x, int y) { return (x + 2 * y + k) % 7 == 0 ? 0.0f : (float)(k * 100 + y * FW + x) + 0.5f; }
static uint8_t cc_val(int k, int x, int y) { return (uint8_t)((7 * x + 3 * y + 40 * k) % 256); }

static int write_tif(cbas_ctx *ctx, const char *path, uint32_t w, uint32_t h, gt_type t, const void *data) {
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = w; o.height = h; o.bands = 1; o.type = t;
  o.geo.has_gt = 1;
  o.geo.gt[0] = 100.0; o.geo.gt[1] = 0.125; o.geo.gt[3] = 40.0; o.geo.gt[5] = -0.125;
  o.rows_per_strip = 1;
  gt_writer *wr;
  if (gt_create(ctx, path, &o, &wr)) return 1;
  size_t es = gt_type_size(t);
  if (gt_write_rows(ctx, wr, h, data, w, (size_t)w * h)) { gt_abort(ctx, wr); return 1; }
  (void)es;
  return gt_commit(ctx, wr);
}

typedef struct frame_opts { int float_cc; int skip_cc_of; int bad_name; int other_grid_of; int corrupt_of; int trunc_of; } frame_opts;

/* Writes GEOC with the three interferograms, hgt, E/N/U, baselines and metadata. */
static int make_frame(const char *geoc, const frame_opts *fo) {
  cbas_ctx ctx;
  if (ctx_init(&ctx, 64 << 20, 1)) return 1;
  afile_rm_tree(geoc);
  plat_mkdir_p(geoc);
  float unw[FW * FL], fcc[FW * FL];
  uint8_t cc[FW * FL];
  char p[1400];
  int rc = 0;
  for (int k = 0; k < N_IFG && !rc; k++) {
    snprintf(p, sizeof p, "%s/%s", geoc, IFG[k]);
    plat_mkdir_p(p);
    for (int y = 0; y < FL; y++)
      for (int x = 0; x < FW; x++) {
        unw[y * FW + x] = unw_val(k, x, y);
        cc[y * FW + x] = cc_val(k, x, y);
        fcc[y * FW + x] = (float)cc_val(k, x, y) / 255.0f;
      }
    uint32_t w = fo && fo->other_grid_of == k + 1 ? FW - 1 : FW;
    snprintf(p, sizeof p, "%s/%s/%s.geo.unw.tif", geoc, IFG[k], IFG[k]);
    rc |= write_tif(&ctx, p, w, FL, GT_F32, unw);
    if (fo && fo->corrupt_of == k + 1) write_text(p, "this is not a TIFF file at all, just text\n");
    if (fo && fo->trunc_of == k + 1) {
      int fd;
      uint64_t sz;
      plat_open(p, PLAT_RDWR, &fd);
      plat_fsize(fd, &sz);
      plat_ftruncate(fd, sz - 200); /* the header survives, the last strips do not */
      plat_close(fd);
    }
    if (fo && fo->skip_cc_of == k + 1) continue;
    snprintf(p, sizeof p, "%s/%s/%s.geo.cc.tif", geoc, IFG[k], IFG[k]);
    rc |= fo && fo->float_cc ? write_tif(&ctx, p, w, FL, GT_F32, fcc) : write_tif(&ctx, p, w, FL, GT_U8, cc);
  }
  const char *lay[4] = {"hgt", "E", "N", "U"};
  for (int i = 0; i < 4 && !rc; i++) {
    for (int j = 0; j < FW * FL; j++) unw[j] = (float)(i + 1) * 0.25f + (float)j;
    unw[5] = 0.0f; /* no data */
    snprintf(p, sizeof p, "%s/000A_00000_000000.geo.%s.tif", geoc, lay[i]);
    rc |= write_tif(&ctx, p, FW, FL, GT_F32, unw);
  }
  snprintf(p, sizeof p, "%s/baselines", geoc);
  write_text(p, "20200113 20200101 -12.5 -12\n20200113 20200113 0.0 0\n20200113 20200125 40.25 12\n");
  snprintf(p, sizeof p, "%s/metadata.txt", geoc);
  write_text(p, "master=20200113\ncenter_time=01:02:03.5\nheading=-10\n");
  if (fo && fo->bad_name) {
    snprintf(p, sizeof p, "%s/2020011_20200125", geoc);
    plat_mkdir_p(p);
  }
  ctx_free(&ctx);
  return rc;
}

static int exists(const char *path) {
  plat_stat st;
  plat_stat_path(path, &st);
  return st.exists;
}

typedef struct tmp_scan { const char *base; int found; } tmp_scan;
static int tmp_cb(void *ud, const char *name) {
  tmp_scan *t = ud;
  size_t n = strlen(t->base);
  if (!strncmp(name, t->base, n) && !strncmp(name + n, ".tmp", 4)) t->found = 1;
  return 0;
}
/* 1 if the test directory holds a "<base>.tmp*" entry. */
static int tmp_left(const char *base) {
  tmp_scan t = {base, 0};
  plat_listdir(check_tmpdir(), tmp_cb, &t);
  return t.found;
}

static int run_prep(cbas_ctx *ctx, prep_params *p, prep_report *rep, uint64_t mem, int threads) {
  if (ctx_init(ctx, mem, threads)) return -1;
  ctx->quiet = 1;
  return prep_run(ctx, p, rep);
}

static void test_prep_clip_exact(void) {
  const char *geoc = check_path("f_basic");
  CHECK(make_frame(geoc, NULL) == 0);
  prep_params p;
  prep_params_default(&p);
  p.geoc_dir = geoc;
  p.out_dir = check_path("s_basic");
  p.clip = "2:7/3:8";
  cbas_ctx ctx;
  prep_report rep;
  CHECKF(run_prep(&ctx, &p, &rep, 64 << 20, 2) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(rep.n_used, 3);
  stack *s;
  CHECKF(stack_open(&ctx, p.out_dir, &s) == 0, "%s", ctx.msg);
  const stack_meta *m = stack_get_meta(s);
  CHECK(m->width == 5 && m->length == 5 && m->n_ifg == 3 && m->n_epoch == 3);
  CHECK(m->has_hgt && m->has_enu);
  /* geotransform: edge + 2 px, 40 - 3*0.125; corner = centre of the NW pixel */
  CHECK(m->gt[0] == 100.25 && m->gt[1] == 0.125 && m->gt[3] == 39.625 && m->gt[5] == -0.125);
  CHECK(m->corner_lon == 100.3125 && m->corner_lat == 39.5625);
  CHECK(m->bperp_m[0] == -12.5 && m->bperp_m[1] == 0.0 && m->bperp_m[2] == 40.25);
  CHECK(!strcmp(m->center_time, "01:02:03.5"));
  float unw[5 * 3 * 5], h[5];
  uint8_t cc[5 * 3 * 5];
  CHECK(stack_read_unw(&ctx, s, 0, 5, unw) == 0 && stack_read_cc(&ctx, s, 0, 5, cc) == 0);
  for (int y = 0; y < 5; y++)
    for (int k = 0; k < 3; k++)
      for (int x = 0; x < 5; x++) {
        float e = unw_val(k, x + 2, y + 3), g = unw[(y * 3 + k) * 5 + x];
        if (e == 0.0f) CHECKF(isnan(g), "ifg %d (%d,%d): %g, expected NaN", k, x, y, g);
        else CHECKF(g == e, "ifg %d (%d,%d): %g, expected %g", k, x, y, g, e);
        CHECK(cc[(y * 3 + k) * 5 + x] == cc_val(k, x + 2, y + 3));
      }
  CHECK(stack_read_layer(&ctx, s, "U", 1, 1, h) == 0);
  CHECK(h[0] == 1.0f + (float)(4 * FW + 2)); /* U = 4*0.25 + j */
  stack_close(s);
  CHECK(!tmp_left("s_basic"));
  ctx_free(&ctx);
}

static void test_prep_nlook(void) {
  const char *geoc = check_path("f_basic");
  CHECK(make_frame(geoc, NULL) == 0);
  prep_params p;
  prep_params_default(&p);
  p.geoc_dir = geoc;
  p.out_dir = check_path("s_ml");
  p.nlook = 2;
  p.clip = "1:5/1:4"; /* of the 6 x 5 multilooked frame */
  cbas_ctx ctx;
  CHECKF(run_prep(&ctx, &p, NULL, 64 << 20, 1) == 0, "%s", ctx.msg);
  stack *s;
  CHECK(stack_open(&ctx, p.out_dir, &s) == 0);
  const stack_meta *m = stack_get_meta(s);
  CHECK(m->width == 4 && m->length == 3 && m->frame_width == 6 && m->frame_length == 5);
  /* geotransform of the multilooked clip: 100 + 2*0.125, spacing 0.25; LiCSBAS corner keeps
   * the original half pixel: 100 + 0.0625 + 0.25*1 */
  CHECK(m->gt[0] == 100.25 && m->gt[1] == 0.25 && m->gt[3] == 39.75 && m->gt[5] == -0.25);
  CHECK(m->corner_lon == 100.3125 && m->corner_lat == 39.6875 && m->post_lon == 0.25);
  float unw[3 * 3 * 4];
  uint8_t cc[3 * 3 * 4];
  CHECK(stack_read_unw(&ctx, s, 0, 3, unw) == 0 && stack_read_cc(&ctx, s, 0, 3, cc) == 0);
  for (int y = 0; y < 3; y++)
    for (int k = 0; k < 3; k++)
      for (int x = 0; x < 4; x++) {
        /* by hand: the 2x2 block of multilooked pixel (x+1, y+1); values are exact small
         * numbers so any summation order gives the same float */
        double su = 0, sc = 0;
        int nu = 0, nc = 0;
        for (int dy = 0; dy < 2; dy++)
          for (int dx = 0; dx < 2; dx++) {
            int fx = 2 * (x + 1) + dx, fy = 2 * (y + 1) + dy;
            float u = unw_val(k, fx, fy);
            if (u != 0.0f) { su += u; nu++; }
            uint8_t c = cc_val(k, fx, fy);
            if (c) { sc += c; nc++; }
          }
        float g = unw[(y * 3 + k) * 4 + x];
        if (nu < 2) CHECKF(isnan(g), "unw ifg %d (%d,%d) = %g, expected NaN", k, x, y, g);
        else CHECKF(g == (float)(su / nu), "unw ifg %d (%d,%d) = %.9g, expected %.9g", k, x, y, g, su / nu);
        uint8_t ec = nc < 2 ? 0 : (uint8_t)(sc / nc);
        CHECKF(cc[(y * 3 + k) * 4 + x] == ec, "cc ifg %d (%d,%d) = %u, expected %u", k, x, y, cc[(y * 3 + k) * 4 + x], ec);
      }
  stack_close(s);
  ctx_free(&ctx);
}

static void test_prep_float_cc_and_masks(void) {
  frame_opts fo = {.float_cc = 1};
  const char *geoc = check_path("f_fcc");
  CHECK(make_frame(geoc, &fo) == 0);
  prep_params p;
  prep_params_default(&p);
  p.geoc_dir = geoc;
  p.out_dir = check_path("s_fcc");
  p.clip = "2:8/1:9";
  p.mask[0] = "0:3/0:2"; /* frame coordinates: covers AOI x 0 (frame 2) for AOI rows 0 (frame 1) */
  p.mask[1] = "7:0/8:0"; /* frame x >= 7 for frame rows >= 8 */
  p.n_mask = 2;
  p.mask_coh = 0.3;
  cbas_ctx ctx;
  CHECKF(run_prep(&ctx, &p, NULL, 64 << 20, 2) == 0, "%s", ctx.msg);
  stack *s;
  CHECK(stack_open(&ctx, p.out_dir, &s) == 0);
  float unw[8 * 3 * 6];
  uint8_t cc[8 * 3 * 6];
  CHECK(stack_read_unw(&ctx, s, 0, 8, unw) == 0 && stack_read_cc(&ctx, s, 0, 8, cc) == 0);
  int n_coh_masked = 0;
  for (int y = 0; y < 8; y++)
    for (int x = 0; x < 6; x++) {
      int fx = x + 2, fy = y + 1;
      /* float products: byte b -> b/255 (float) * 255 truncated: b or b-1 */
      float csum = 0;
      int cn = 0;
      for (int k = 0; k < 3; k++) {
        uint8_t e = lb_cc_byte((float)cc_val(k, fx, fy) / 255.0f * 255.0f);
        CHECK(e == cc_val(k, fx, fy) || e + 1 == cc_val(k, fx, fy));
        CHECK(cc[(y * 3 + k) * 6 + x] == e);
        csum += (float)e / 255.0f;
        cn += e != 0;
      }
      int masked_range = (fx < 3 && fy < 2) || (fx >= 7 && fy >= 8);
      int masked_coh = cn ? csum / (float)cn <= 0.3f : 1;
      n_coh_masked += masked_coh;
      for (int k = 0; k < 3; k++) {
        float g = unw[(y * 3 + k) * 6 + x], e = unw_val(k, fx, fy);
        if (masked_range || masked_coh || e == 0.0f) CHECKF(isnan(g), "(%d,%d) ifg %d: %g", x, y, k, g);
        else CHECK(g == e);
      }
    }
  CHECK(n_coh_masked > 3 && n_coh_masked < 40); /* the test exercises both outcomes */
  stack_close(s);
  ctx_free(&ctx);
}

static int read_file(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return (int)n;
}

static void test_prep_licsbas_layout(void) {
  const char *geoc = check_path("f_basic");
  CHECK(make_frame(geoc, NULL) == 0);
  prep_params p;
  prep_params_default(&p);
  p.geoc_dir = geoc;
  p.out_dir = check_path("s_lb");
  p.licsbas_dir = check_path("GEOCml2clip");
  p.nlook = 2;
  p.clip = "1:5/1:4";
  p.mask_coh = 0.2;
  cbas_ctx ctx;
  CHECKF(run_prep(&ctx, &p, NULL, 64 << 20, 2) == 0, "%s", ctx.msg);
  char t[4096], path[1400];
  snprintf(path, sizeof path, "%s/EQA.dem_par", p.licsbas_dir);
  CHECK(read_file(path, t, sizeof t) > 0);
  /* step 02: corner = 40 - 0.125/2 = 39.9375, post = -0.125*2; step 05: + post*1 */
  CHECKF(strstr(t, "\nwidth: 4\nnlines: 3\ncorner_lat: 39.6875  decimal degrees\ncorner_lon: 100.3125  decimal degrees\n"
                   "post_lat: -0.25 decimal degrees\npost_lon: 0.25 decimal degrees\n"), "%s", t);
  snprintf(path, sizeof path, "%s/slc.mli.par", p.licsbas_dir);
  CHECK(read_file(path, t, sizeof t) > 0);
  CHECKF(!strcmp(t, "range_samples: 4\nazimuth_lines: 3\nradar_frequency: 5405000000.0 Hz\ncenter_time: 01:02:03.5\n"), "%s", t);
  snprintf(path, sizeof path, "%s/cliparea.txt", p.licsbas_dir);
  CHECK(read_file(path, t, sizeof t) == 7 && !strcmp(t, "1:5/1:4"));
  snprintf(path, sizeof path, "%s/baselines", p.licsbas_dir);
  CHECK(read_file(path, t, sizeof t) > 0 && !strncmp(t, "20200113 20200101 -12.5", 23));
  /* the per-ifg files equal the stack's rows */
  stack *s;
  CHECK(stack_open(&ctx, p.out_dir, &s) == 0);
  float unw[3 * 3 * 4], f[12];
  uint8_t cc[3 * 3 * 4], c[12];
  CHECK(stack_read_unw(&ctx, s, 0, 3, unw) == 0 && stack_read_cc(&ctx, s, 0, 3, cc) == 0);
  for (int k = 0; k < 3; k++) {
    snprintf(path, sizeof path, "%s/%s/%s.unw", p.licsbas_dir, IFG[k], IFG[k]);
    FILE *fp = fopen(path, "rb");
    CHECK(fp && fread(f, 4, 12, fp) == 12 && fgetc(fp) == EOF);
    fclose(fp);
    snprintf(path, sizeof path, "%s/%s/%s.cc", p.licsbas_dir, IFG[k], IFG[k]);
    fp = fopen(path, "rb");
    CHECK(fp && fread(c, 1, 12, fp) == 12 && fgetc(fp) == EOF);
    fclose(fp);
    for (int y = 0; y < 3; y++)
      for (int x = 0; x < 4; x++) {
        float a = f[y * 4 + x], b = unw[(y * 3 + k) * 4 + x];
        CHECK((isnan(a) && isnan(b)) || a == b);
        CHECK(c[y * 4 + x] == cc[(y * 3 + k) * 4 + x]);
      }
  }
  const char *files[] = {"hgt", "E.geo", "N.geo", "U.geo", "mask", "coh_avg"};
  for (int i = 0; i < 6; i++) {
    plat_stat st;
    snprintf(path, sizeof path, "%s/%s", p.licsbas_dir, files[i]);
    CHECK(plat_stat_path(path, &st) == 0 && st.exists && st.size == 4 * 12);
  }
  stack_close(s);
  CHECK(!tmp_left("GEOCml2clip"));
  ctx_free(&ctx);
}

static void test_prep_threads_do_not_matter(void) {
  const char *geoc = check_path("f_basic");
  CHECK(make_frame(geoc, NULL) == 0);
  prep_params p;
  prep_params_default(&p);
  p.geoc_dir = geoc;
  p.nlook = 3;
  p.mask_coh = 0.25;
  cbas_ctx ctx;
  char a[8192], b[8192], pa[1400], pb[1400];
  p.out_dir = check_path("s_t1");
  CHECK(run_prep(&ctx, &p, NULL, 64 << 20, 1) == 0);
  ctx_free(&ctx);
  p.out_dir = check_path("s_t3");
  CHECK(run_prep(&ctx, &p, NULL, 64 << 20, 3) == 0);
  ctx_free(&ctx);
  const char *files[] = {"unw.bil", "cc.bil", "hgt.f32", "U.f32", "stack.par"};
  for (int i = 0; i < 5; i++) {
    snprintf(pa, sizeof pa, "%s/%s", check_path("s_t1"), files[i]);
    snprintf(pb, sizeof pb, "%s/%s", check_path("s_t3"), files[i]);
    int na = read_file(pa, a, sizeof a), nb = read_file(pb, b, sizeof b);
    CHECK(na > 0 && na == nb && !memcmp(a, b, (size_t)na));
  }
}

static void test_prep_bad_inputs(void) {
  cbas_ctx ctx;
  prep_params p;
  prep_report rep;
  const char *geoc = check_path("f_bad");
  /* missing cc of ifg 1, unparseable folder name */
  frame_opts fo = {.skip_cc_of = 1, .bad_name = 1};
  CHECK(make_frame(geoc, &fo) == 0);
  prep_params_default(&p);
  p.geoc_dir = geoc;
  p.out_dir = check_path("s_bad");
  CHECKF(run_prep(&ctx, &p, &rep, 64 << 20, 2) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(rep.n_used, 2);
  CHECK_EQ_INT(rep.n_excluded, 2);
  ctx_free(&ctx);
  /* a raster of another size, a corrupt file */
  frame_opts f2 = {.other_grid_of = 2, .corrupt_of = 3};
  CHECK(make_frame(geoc, &f2) == 0);
  CHECKF(run_prep(&ctx, &p, &rep, 64 << 20, 2) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(rep.n_used, 1);
  CHECK_EQ_INT(rep.n_excluded, 2);
  stack *s;
  CHECK(stack_open(&ctx, p.out_dir, &s) == 0);
  CHECK(!strcmp(stack_get_meta(s)->ifg[0], IFG[0]));
  stack_close(s);
  ctx_free(&ctx);
  /* a file whose header is fine but whose strips are cut: found while decoding, excluded,
   * and the pass runs again without it */
  frame_opts f3 = {.trunc_of = 2};
  CHECK(make_frame(geoc, &f3) == 0);
  CHECKF(run_prep(&ctx, &p, &rep, 64 << 20, 2) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(rep.n_used, 2);
  CHECK_EQ_INT(rep.n_excluded, 1);
  ctx_free(&ctx);
  /* nothing usable: status, message, no stack, no temporary directory */
  p.out_dir = check_path("s_none");
  p.start = "20300101";
  CHECK(run_prep(&ctx, &p, &rep, 64 << 20, 2) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "no usable interferogram"), "%s", ctx.msg);
  CHECK(!exists(p.out_dir) && !tmp_left("s_none"));
  ctx_free(&ctx);
  /* date filter */
  p.start = "20200113";
  CHECK(run_prep(&ctx, &p, &rep, 64 << 20, 2) == 0);
  CHECK(rep.n_used == 1 && rep.n_filtered == 2);
  ctx_free(&ctx);
  /* AOI outside the frame: usage error naming the range */
  p.start = NULL;
  p.out_dir = check_path("s_out");
  p.clip_geo = "120/121/38/39";
  CHECK(run_prep(&ctx, &p, &rep, 64 << 20, 2) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "120/121/38/39"), "%s", ctx.msg);
  CHECK(!exists(p.out_dir) && !tmp_left("s_out"));
  ctx_free(&ctx);
  p.clip_geo = NULL;
  p.clip = "3:3/0:0";
  CHECK(run_prep(&ctx, &p, &rep, 64 << 20, 2) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "3:3/0:0"), "%s", ctx.msg);
  ctx_free(&ctx);
  p.clip = NULL;
  p.geoc_dir = check_path("no_such_geoc");
  CHECK(run_prep(&ctx, &p, &rep, 64 << 20, 2) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "no_such_geoc"), "%s", ctx.msg);
  ctx_free(&ctx);
}

static void test_prep_write_faults_leave_nothing(void) {
  const char *geoc = check_path("f_basic");
  CHECK(make_frame(geoc, NULL) == 0);
  prep_params p;
  prep_params_default(&p);
  p.geoc_dir = geoc;
  p.out_dir = check_path("s_fault");
  p.licsbas_dir = check_path("lb_fault");
  p.mask_coh = 0.2;
  static const int nth[] = {1, 2, 4, 7, 15, 40, 60, 75};
  for (size_t i = 0; i < sizeof nth / sizeof nth[0]; i++) {
    cbas_ctx ctx;
    CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
    ctx.quiet = 1;
    plat_fault_set(PLAT_OP_WRITE, nth[i], plat_err_nospc());
    int rc = prep_run(&ctx, &p, NULL);
    plat_fault_clear();
    CHECKF(rc == CBAS_EIO, "write fault %d: status %d (%s)", nth[i], rc, ctx.msg);
    CHECK(!exists(p.out_dir) && !exists(p.licsbas_dir));
    CHECKF(!tmp_left("s_fault") && !tmp_left("lb_fault"), "temporary left after write fault %d", nth[i]);
    ctx_free(&ctx);
  }
  /* and with no fault the same run works, and an older stack survives a failed run */
  cbas_ctx ctx;
  CHECK(run_prep(&ctx, &p, NULL, 64 << 20, 2) == 0);
  ctx_free(&ctx);
  CHECK(ctx_init(&ctx, 64 << 20, 2) == 0);
  ctx.quiet = 1;
  plat_fault_set(PLAT_OP_WRITE, 20, plat_err_nospc());
  CHECK(prep_run(&ctx, &p, NULL) == CBAS_EIO);
  plat_fault_clear();
  stack *s;
  CHECK(stack_open(&ctx, p.out_dir, &s) == 0);
  stack_close(s);
  ctx_free(&ctx);
}

static void test_prep_budget(void) {
  const char *geoc = check_path("f_basic");
  CHECK(make_frame(geoc, NULL) == 0);
  prep_params p;
  prep_params_default(&p);
  p.geoc_dir = geoc;
  p.out_dir = check_path("s_budget");
  cbas_ctx ctx;
  /* a reader alone takes its strip + ~2 KB: 6 KB cannot hold a worker */
  CHECK(run_prep(&ctx, &p, NULL, 6 << 10, 2) == CBAS_EBUDGET);
  CHECKF(strstr(ctx.msg, "needs") && strstr(ctx.msg, "MB"), "%s", ctx.msg);
  CHECK(!exists(p.out_dir) && !tmp_left("s_budget"));
  ctx_free(&ctx);
  /* stale temporaries of a killed run are removed */
  char stale[1400];
  snprintf(stale, sizeof stale, "%s.tmp99999", p.out_dir);
  plat_mkdir_p(stale);
  prep_report rep;
  CHECK(run_prep(&ctx, &p, &rep, 1 << 20, 2) == 0);
  CHECK(!exists(stale));
  CHECK(ctx.budget->peak <= (1u << 20));
  ctx_free(&ctx);
}

/* Without a terminal (ctx.progress = 0) no bar exists and the calls are no-ops. */
static void test_progress_silent(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  ctx.progress = 0;
  progress *p = progress_start(&ctx, "x", 10);
  CHECK(p == NULL);
  progress_add(p, 3);
  progress_end(p);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_progress_silent);
  RUN(test_ifg_names);
  RUN(test_read_range);
  RUN(test_read_range_geo);
  RUN(test_multilook_rule);
  RUN(test_coherence_bytes);
  RUN(test_baselines);
  RUN(test_pyfloat);
  RUN(test_prep_clip_exact);
  RUN(test_prep_nlook);
  RUN(test_prep_float_cc_and_masks);
  RUN(test_prep_licsbas_layout);
  RUN(test_prep_threads_do_not_matter);
  RUN(test_prep_bad_inputs);
  RUN(test_prep_write_faults_leave_nothing);
  RUN(test_prep_budget);
  return check_done();
}
