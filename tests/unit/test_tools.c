/* test_tools.c — the LiCSBAS tools: `cbas vel` (cum2vel), `cbas ts` (cum2tstxt) and
 * `cbas decompose` (decomposeLOS) and their cores, against hand-worked values and synthetic
 * truth: NumPy's nanmean, round-half-even points, the 1e-9 degree quantisation, the sign of a
 * median, the float32 2x2 solve, GDAL-style resampling (identity, half-pixel bilinear,
 * downsampling triangle weights, nodata centre rule), velocities and the annual sinusoid
 * (amplitude, dt, peak) from known series, date snapping, references, masks, vstd, thread and
 * memory invariance, the ts text, and EW/UD recovered from LOS made of known motion. */
#include "check.h"
#include "ts_fixture.h"
#include "cbas/decomp.h"
#include "cbas/gtiff.h"
#include "cbas/licsbas.h"
#include "cbas/plat.h"
#include "cbas/tools.h"
#include "cbas/warp.h"
#include "cmds.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

/* ---------------------------------------------------------------- cores */

static void test_nanmean(void) {
  float a[5] = {1, NAN, 2, 4, NAN};
  CHECK(tools_np_nanmean_f32(a, 5, 1) == (float)(7.0 / 3.0));
  float b[3] = {NAN, NAN, NAN};
  CHECK(isnan(tools_np_nanmean_f32(b, 3, 1)));
  /* 8..128 values: eight running sums combined pairwise. 2^24 + 1 + 1 + ... is lost
   * sequentially in float32 but not when the ones are summed apart from the big value. */
  float c[16];
  for (int i = 0; i < 16; i++) c[i] = 1.0f;
  c[0] = 16777216.0f;
  /* r0 = 2^24 + 1 = 2^24 (float32), r1..r7 = 2; ((r0+r1)+(r2+r3)) + ((r4+r5)+(r6+r7)) = 2^24 + 14
   * (sequentially, 2^24 + 1 + 1 ... would stay 2^24) */
  CHECK(tools_np_nanmean_f32(c, 16, 1) == (float)((16777216.0 + 14.0) / 16.0));
  /* stride */
  float d[6] = {3, 99, 5, 99, NAN, 99};
  CHECK(tools_np_nanmean_f32(d, 3, 2) == 4.0f);
}

static void test_points(void) {
  tools_grid g = {4, 3, 10.0, 100.0, -0.5, 0.5};
  uint32_t x, y;
  /* (lon - lon1)/post = 0.5 and 1.5: ties round to even (NumPy round) */
  CHECK(tools_point_xy(&g, 100.25, 10.0, &x, &y) == 0 && x == 0 && y == 0);
  CHECK(tools_point_xy(&g, 100.75, 9.25, &x, &y) == 0 && x == 2 && y == 2);
  CHECK(tools_point_xy(&g, 101.5, 9.0, &x, &y) == 0 && x == 3 && y == 2);
  /* beyond the outer half pixel, NaN */
  CHECK(tools_point_xy(&g, 101.8, 9.0, &x, &y) == -1);
  CHECK(tools_point_xy(&g, 99.7, 10.0, &x, &y) == -1);
  CHECK(tools_point_xy(&g, 100.0, 10.4, &x, &y) == -1);
  CHECK(tools_point_xy(&g, NAN, 10.0, &x, &y) == -1);
  double lon, lat;
  tools_xy_point(&g, 3, 2, &lon, &lat);
  CHECK(lon == 101.5 && lat == 9.0);
}

static void test_nano(void) {
  /* Decimal(v).quantize(Decimal('1E-9')): half-even on the exact binary value */
  CHECK(decomp_nano(0.0009765625) == 976562);      /* 2^-10 = 976562.5e-9 exactly: to even */
  CHECK(decomp_nano(0.0029296875) == 2929688);     /* 3*2^-10 = 2929687.5e-9: to even */
  CHECK(decomp_nano(-0.0009765625) == -976562);
  CHECK(decomp_nano(135.0 - 0.001 / 2) == 134999500000LL);
  CHECK(decomp_nano(-0.0015) == -1500000);
  CHECK(decomp_nano(35.0861) == 35086100000LL);
  CHECK(decomp_nano(1.0000000014) == 1000000001);  /* below the half */
  CHECK(decomp_nano(1.0000000016) == 1000000002);  /* above it */
}

static void test_median_sign(void) {
  decomp_med m;
  decomp_med_init(&m);
  CHECK(decomp_med_sign(&m) == 2);
  const float a[3] = {1, -2, 3}, b[2] = {-1, 2}, c[2] = {-2, 1}, d[2] = {-1, 1}, e[3] = {-1, -2, 3};
  const struct { const float *v; int n, want; } cs[] = {{a, 3, 1}, {b, 2, 1}, {c, 2, -1}, {d, 2, 0}, {e, 3, -1}};
  for (int k = 0; k < 5; k++) {
    decomp_med_init(&m);
    for (int i = 0; i < cs[k].n; i++) decomp_med_add(&m, cs[k].v[i]);
    decomp_med_add(&m, NAN);
    CHECKF(decomp_med_sign(&m) == cs[k].want, "case %d: %d", k, decomp_med_sign(&m));
  }
}

static void test_solve(void) {
  /* d = e*vE + u*vU with vE = 2, vU = -3: d1 = -1.2 - 2.4, d2 = 1.2 - 2.4 */
  float e[3] = {-0.6f, 0.6f, -0.5f}, u[3] = {0.8f, 0.8f, 0.75f}, d[3] = {-3.6f, -1.2f, 0};
  float ew, ud;
  decomp_solve(2, d, e, u, &ew, &ud);
  CHECK_NEAR(ew, 2.0, 1e-5);
  CHECK_NEAR(ud, -3.0, 1e-5);
  /* three inconsistent observations: the normal equations by hand, in double */
  d[2] = -1.0f;
  decomp_solve(3, d, e, u, &ew, &ud);
  double a11 = 0, a12 = 0, a22 = 0, be = 0, bu = 0;
  for (int i = 0; i < 3; i++) {
    a11 += (double)e[i] * e[i]; a12 += (double)e[i] * u[i]; a22 += (double)u[i] * u[i];
    be += (double)e[i] * d[i]; bu += (double)u[i] * d[i];
  }
  double det = a11 * a22 - a12 * a12;
  CHECK_NEAR(ew, (a22 * be - a12 * bu) / det, 1e-4);
  CHECK_NEAR(ud, (a11 * bu - a12 * be) / det, 1e-4);
  float z[2] = {0, 0};
  decomp_solve(2, d, z, u, &ew, &ud);
  CHECK(isnan(ew) && isnan(ud));
}

static void test_warp(void) {
  /* source 8x6 at 0.1 deg, values 10*y + x; NaN at (3, 2) */
  float src[48];
  for (int i = 0; i < 48; i++) src[i] = (float)(10 * (i / 8) + i % 8);
  src[2 * 8 + 3] = NAN;
  const double sgt[6] = {100.0, 0.1, 0, 30.0, 0, -0.1};
  warp_plan p;
  float row[8];
  uint32_t r0, r1;
  /* identical grid: identity, NaN stays */
  warp_plan_init(&p, WARP_BILINEAR, 8, 6, sgt, 8, 6, sgt);
  CHECK(p.x0 == 0 && p.nx == 8 && p.y0 == 0 && p.ny == 6 && p.xscale == 1 && p.four_sample);
  warp_src_rows(&p, 2, 1, &r0, &r1);
  CHECK(r0 <= 2 && r1 >= 3);
  warp_row(&p, 2, src + (size_t)r0 * 8, r0, r1, row);
  for (int x = 0; x < 8; x++) CHECKF(x == 3 ? isnan(row[x]) : row[x] == 20 + x, "x %d: %g", x, row[x]);
  /* shifted east by half a pixel: bilinear = mean of the two neighbours; the last column's
   * centre lies beyond the source: NaN */
  double dgt[6] = {100.05, 0.1, 0, 30.0, 0, -0.1};
  warp_plan_init(&p, WARP_BILINEAR, 8, 6, dgt, 8, 6, sgt);
  warp_src_rows(&p, 4, 1, &r0, &r1);
  warp_row(&p, 4, src + (size_t)r0 * 8, r0, r1, row);
  for (int x = 0; x < 7; x++) CHECK_NEAR(row[x], 40 + x + 0.5, 1e-5);
  CHECK(isnan(row[7]));
  /* near: the pixel under the centre (centre at x + 0.5 + 0.5 source pixels) */
  warp_plan_init(&p, WARP_NEAR, 8, 6, dgt, 8, 6, sgt);
  warp_row(&p, 4, src + (size_t)r0 * 8, r0, r1, row);
  for (int x = 0; x < 7; x++) CHECK(row[x] == 40 + x + 1);
  /* centre rule: row 2 shifted: the sample of destination x = 2 lies in source pixel 3 (NaN) */
  warp_plan_init(&p, WARP_BILINEAR, 8, 6, dgt, 8, 6, sgt);
  warp_src_rows(&p, 2, 1, &r0, &r1);
  warp_row(&p, 2, src + (size_t)r0 * 8, r0, r1, row);
  CHECK(isnan(row[2]));
  CHECK_NEAR(row[3], 24.0, 1e-5); /* (3 invalid, 4 valid): renormalised to pixel 4 */
  /* downsampling by 2 along x: triangle weights 1/8, 3/8, 3/8, 1/8 */
  double dgt2[6] = {100.0, 0.2, 0, 30.0, 0, -0.1};
  warp_plan_init(&p, WARP_BILINEAR, 4, 6, dgt2, 8, 6, sgt);
  CHECK(p.xscale == 0.5 && p.yscale == 1.0 && !p.four_sample);
  warp_src_rows(&p, 5, 1, &r0, &r1);
  warp_row(&p, 5, src + (size_t)r0 * 8, r0, r1, row);
  /* destination x = 1 samples source x = 3.0 (edge between 2 and 3): pixels 1..4 weighted */
  CHECK_NEAR(row[1], 50 + (1 * 1 + 2 * 3 + 3 * 3 + 4 * 1) / 8.0, 1e-5);
  /* x = 0 samples 1.0: pixels 0 (3/4), 1 (3/4), 2 (1/4) inside; -1 outside: renormalised */
  CHECK_NEAR(row[0], 50 + (0 * 0.75 + 1 * 0.75 + 2 * 0.25) / 1.75, 1e-5);
  CHECK(warp_src_rows_max(&p, 3) >= 3);
}

/* ---------------------------------------------------------------- fixtures */

enum { NE = 40 };

typedef float (*cum_fn)(int x, int y, int e, double t);

static void date_of(int e, char out[9]) { tsfx_date(e, out); }

/* TSDIR dir with results/NAME.tif (w x l, NE epochs 12 days apart from 2020-01-01),
 * info/EQA.dem_par (NW centre 35.0/135.0, 0.001 deg) and info/13ref.txt = ref. */
static int make_ts(cbas_ctx *ctx, const char *dir, const char *name, int w, int l, cum_fn f, const char *ref) {
  char path[1200], d[NE][9];
  const char *desc[NE];
  for (int e = 0; e < NE; e++) { date_of(e, d[e]); desc[e] = d[e]; }
  snprintf(path, sizeof path, "%s/results", dir);
  plat_mkdir_p(path);
  snprintf(path, sizeof path, "%s/info", dir);
  plat_mkdir_p(path);
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = (uint32_t)w; o.height = (uint32_t)l; o.bands = NE; o.type = GT_F32;
  o.geo.has_gt = 1; o.geo.epsg = 4326;
  double gt[6] = {135.0 - 0.0005, 0.001, 0, 35.0 + 0.0005, 0, -0.001};
  memcpy(o.geo.gt, gt, sizeof gt);
  o.has_nodata = 1; o.nodata = NAN; o.band_desc = desc;
  snprintf(path, sizeof path, "%s/results/%s.tif", dir, name);
  gt_writer *wr;
  if (gt_create(ctx, path, &o, &wr)) return ctx->status;
  float *buf = malloc((size_t)w * l * NE * 4);
  long d0 = lb_day_number(d[0]);
  for (int e = 0; e < NE; e++)
    for (int y = 0; y < l; y++)
      for (int x = 0; x < w; x++)
        buf[(size_t)e * w * l + (size_t)y * w + x] = f(x, y, e, (double)(lb_day_number(d[e]) - d0) / 365.25);
  int rc = gt_write_rows(ctx, wr, (uint32_t)l, buf, (size_t)w, (size_t)w * l) || gt_commit(ctx, wr);
  free(buf);
  if (rc) return ctx->status;
  snprintf(path, sizeof path, "%s/info/EQA.dem_par", dir);
  FILE *fp = fopen(path, "w");
  fprintf(fp, "width: %d\nnlines: %d\ncorner_lat: 35.0 decimal degrees\ncorner_lon: 135.0 decimal degrees\n"
              "post_lat: -0.001 decimal degrees\npost_lon: 0.001 decimal degrees\n", w, l);
  fclose(fp);
  snprintf(path, sizeof path, "%s/info/13ref.txt", dir);
  fp = fopen(path, "w");
  fprintf(fp, "%s\n", ref);
  fclose(fp);
  return 0;
}

static int run(int (*cmd)(int, char **), const char *a0, ...) {
  char *argv[40];
  int argc = 0;
  va_list ap;
  argv[argc++] = (char *)a0;
  va_start(ap, a0);
  for (char *s; argc < 39 && (s = va_arg(ap, char *));) argv[argc++] = s;
  va_end(ap);
  argv[argc] = NULL;
  return cmd(argc, argv);
}

static float *read_tif(const char *path) {
  cbas_ctx ctx;
  uint32_t w, h;
  if (ctx_init(&ctx, 64 << 20, 1)) return NULL;
  float *img = tsfx_read_tif(&ctx, path, &w, &h);
  ctx_free(&ctx);
  return img;
}

/* pixel (x, y): velocity 2x - y mm/yr, annual amplitude 1 + x mm with phase 0.25 + 0.1y yr,
 * offset 3; pixel (0, 0) (the reference) is 0. */
static float cum_sin(int x, int y, int e, double t) {
  if (!x && !y) return 0.0f;
  return (float)((2.0 * x - y) * t + (1.0 + x) * sin(2 * PI * (t - (0.25 + 0.1 * y))) + 3.0);
}

static void test_vel_sin(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *ts = check_path("vs/TS");
  CHECKF(make_ts(&ctx, ts, "cum", 5, 4, cum_sin, "0:1/0:1") == 0, "%s", ctx.msg);
  ctx_free(&ctx);
  const char *pre = check_path("vs/out");
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--sin", "--vstd", "--out", pre, "--quiet", NULL) == 0);
  char p[1200];
  const char *nm[5] = {"vel", "amp", "dt", "peak", "vstd"};
  float *img[5];
  for (int k = 0; k < 5; k++) {
    snprintf(p, sizeof p, "%s.%s.tif", pre, nm[k]);
    img[k] = read_tif(p);
    CHECKF(img[k] != NULL, "%s", p);
    snprintf(p, sizeof p, "%s.%s.png", pre, nm[k]);
    CHECKF(tsfx_same_file(p, p), "%s missing", p);
  }
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 5; x++) {
      int i = y * 5 + x;
      if (!x && !y) {
        CHECK(img[0][i] == 0.0f && img[1][i] == 0.0f);
        continue;
      }
      double dt = fmod((0.25 + 0.1 * y) * 365.25, 365.25), pk = fmod(dt + 365.25 / 4, 365.25);
      CHECK_NEAR(img[0][i], 2.0 * x - y, 2e-4);
      CHECK_NEAR(img[1][i], 1.0 + x, 2e-4);
      CHECK_NEAR(img[2][i], dt, 0.02);
      CHECK_NEAR(img[3][i], pk, 0.02);
      CHECK(img[4][i] > 0); /* LiCSBAS's vstd is of the linear model: the annual term spreads it */
    }
  for (int k = 0; k < 5; k++) free(img[k]);
}

/* slope 10 mm/yr until epoch 15 (20200629), then -5 mm/yr; column 0 stays 0 (a reference);
 * column 1 also has an annual term of phase 0.3 yr (from 2020-01-01, day of year 0) */
static float cum_piece(int x, int y, int e, double t) {
  if (x == 0) return 0.0f;
  double tb = (double)(15 * 12) / 365.25;
  double v = t <= tb ? 10 * t : 10 * tb - 5 * (t - tb);
  return (float)(v + (x == 1 ? 2.0 * sin(2 * PI * (t - 0.3)) : 0.0));
}

static void test_vel_range_ref_mask(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *ts = check_path("vr/TS");
  CHECKF(make_ts(&ctx, ts, "cum", 3, 2, cum_piece, "2:3/1:2") == 0, "%s", ctx.msg);
  char d14[9], d15[9];
  date_of(14, d14);
  date_of(15, d15);
  CHECK(!strcmp(d14, "20200617") && !strcmp(d15, "20200629"));
  /* --start 20200618 is no epoch: it snaps to 20200629 (the break), so only the -5 mm/yr
   * segment is fitted (snapping back to 20200617 would mix in the +10 segment); --end beyond
   * the last epoch snaps to the last */
  const char *pre = check_path("vr/seg");
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--start", "20200618", "--end", "20991231", "--ref", "0:1/0:1", "--sin",
            "--out", pre, "--no-png", "--quiet", NULL) == 0);
  char p[1200];
  snprintf(p, sizeof p, "%s.vel.tif", pre);
  float *v = read_tif(p);
  snprintf(p, sizeof p, "%s.dt.tif", pre);
  float *dt = read_tif(p);
  CHECK(v && dt);
  for (int i = 0; i < 6; i++) CHECK_NEAR(v[i], i % 3 ? -5.0 : 0.0, 2e-4);
  /* dt is the day of year of the upward zero crossing, referred to the start epoch's year:
   * 0.3 yr after Jan 1 whatever the start (LiCSBAS would be off by the start's day of year) */
  CHECK_NEAR(dt[1], 0.3 * 365.25, 0.05);
  free(v);
  free(dt);
  /* the default reference, info/13ref.txt = pixel (2,1), and the same as a point in degrees */
  const char *pre2 = check_path("vr/def"), *pre3 = check_path("vr/pt");
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--start", "20200618", "--out", pre2, "--no-png", "--quiet", NULL) == 0);
  CHECK(run(cmd_vel, "vel", "--cum", check_path("vr/TS/results/cum.tif"), "--start", "20200618", "--ref-lon",
            "135.002", "--ref-lat", "34.999", "--out", pre3, "--no-png", "--quiet", NULL) == 0);
  snprintf(p, sizeof p, "%s.vel.tif", pre2);
  v = read_tif(p);
  CHECK(v != NULL);
  /* column 1's annual term leaks into a linear fit over 0.8 yr: only columns 0 and 2 are known */
  for (int i = 0; i < 6; i++)
    if (i % 3 != 1) CHECK_NEAR(v[i], i % 3 ? 0.0 : 5.0, 2e-4);
  CHECK(v[5] == 0.0f);
  free(v);
  char q[1200];
  snprintf(p, sizeof p, "%s.vel.tif", pre2);
  snprintf(q, sizeof q, "%s.vel.tif", pre3);
  CHECK(tsfx_same_file(p, q));
  /* mask: results/mask.tif with 0 at (1, 0) -> NaN there; names get .mskd */
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = 3; o.height = 2; o.bands = 1; o.type = GT_F32;
  gt_writer *w;
  float m[6] = {1, 0, 1, 1, 1, 1};
  snprintf(p, sizeof p, "%s/results/mask.tif", ts);
  CHECK(gt_create(&ctx, p, &o, &w) == 0 && gt_write_rows(&ctx, w, 2, m, 3, 6) == 0 && gt_commit(&ctx, w) == 0);
  const char *pre4 = check_path("vr/m");
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--mask", "--out", pre4, "--no-png", "--quiet", NULL) == 0);
  snprintf(p, sizeof p, "%s.vel.mskd.tif", pre4);
  v = read_tif(p);
  CHECK(v && isnan(v[1]) && !isnan(v[0]) && v[5] == 0.0f);
  free(v);
  /* refusals: a start after the last epoch, a range of one epoch, a bad date, ref outside */
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--start", "20991231", "--out", pre4, "--quiet", NULL) == 2);
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--start", "20200629", "--end", "20200630", "--out", pre4, "--quiet", NULL) == 2);
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--start", "2020-06-29", "--out", pre4, "--quiet", NULL) == 2);
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--ref", "5:6/0:1", "--out", pre4, "--quiet", NULL) == 2);
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--ref-lon", "134", "--ref-lat", "35", "--out", pre4, "--quiet", NULL) == 2);
  CHECK(run(cmd_vel, "vel", "--ts", check_path("vr/none"), "--out", pre4, "--quiet", NULL) == 2);
  ctx_free(&ctx);
}

/* noise-free line 1.5 mm/yr everywhere, except (1,1) valid at epoch 3 only (the bootstrap draws
 * without epoch 3 are singular there, and LiCSBAS drops them for all pixels), and (2,0) all NaN */
static float cum_lin(int x, int y, int e, double t) {
  if (x == 1 && y == 1) return e == 3 ? 5.0f : NAN;
  if (x == 2 && y == 0) return NAN;
  return (float)(1.5 * t + 0.1 * x);
}

static void test_vel_vstd_blocks(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *ts = check_path("vb/TS");
  CHECKF(make_ts(&ctx, ts, "cum_filt", 4, 3, cum_lin, "0:1/0:1") == 0, "%s", ctx.msg);
  char p[1200];
  snprintf(p, sizeof p, "%s/info/16ref.txt", ts);
  FILE *f = fopen(p, "w");
  fputs("0:1/0:1\n", f);
  fclose(f);
  ctx_free(&ctx);
  const char *a = check_path("vb/a"), *b = check_path("vb/b");
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--vstd", "--threads", "1", "--out", a, "--no-png", "--quiet", NULL) == 0);
  CHECK(run(cmd_vel, "vel", "--ts", ts, "--vstd", "--threads", "2", "--mem", "1M", "--block-rows", "1", "--out", b,
            "--no-png", "--quiet", NULL) == 0);
  for (int k = 0; k < 2; k++) {
    char pa[1200], pb[1200];
    snprintf(pa, sizeof pa, "%s.%s.tif", a, k ? "vstd" : "vel");
    snprintf(pb, sizeof pb, "%s.%s.tif", b, k ? "vstd" : "vel");
    CHECKF(tsfx_same_file(pa, pb), "%s differs with 2 threads, 1M and one-row blocks", pb);
  }
  snprintf(p, sizeof p, "%s.vel.tif", a);
  float *v = read_tif(p);
  snprintf(p, sizeof p, "%s.vstd.tif", a);
  float *s = read_tif(p);
  CHECK(v && s);
  CHECK(isnan(v[2]) && isnan(s[2]));
  /* (1,1): one valid epoch y = 5 - 1.5 t3 (minus the reference); lstsq's minimum-norm
   * solution of c + v t3 = y is v = y t3 / (1 + t3^2) */
  double t3 = (float)(36 / 365.25), y3 = 5.0f - (float)(1.5 * (double)(float)(36 / 365.25));
  CHECK_NEAR(v[5], y3 * t3 / (1 + t3 * t3), 1e-4);
  for (int i = 0; i < 12; i++) {
    if (i == 2 || i == 5) continue;
    CHECK_NEAR(v[i], 0.0, 1e-4); /* 1.5 t + 0.1 x minus the reference's 1.5 t */
    /* the draws missing epoch 3 are exactly singular at (1,1) (no data): LiCSBAS drops them for
     * every pixel; the rest give the same line for these noise-free pixels */
    CHECKF(s[i] < 1e-3, "vstd[%d] = %g", i, s[i]);
  }
  free(v);
  free(s);
}

static float cum_ts(int x, int y, int e, double t) {
  if (x == 3 && y == 2) return NAN;
  return (float)(0.25 * e * (x + 1) - 0.5 * y + (x == 0 && y == 0 ? 0.1 * e : 0.0));
}

static void test_ts_text(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  const char *ts = check_path("tt/TS");
  CHECKF(make_ts(&ctx, ts, "cum", 4, 3, cum_ts, "0:1/0:1") == 0, "%s", ctx.msg);
  ctx_free(&ctx);
  const char *out = check_path("tt/p.txt");
  CHECK(run(cmd_ts, "ts", "--ts", ts, "--lon", "135.0021", "--lat", "34.9991", "--out", out, "--quiet", NULL) == 0);
  char *txt = tsfx_slurp(out);
  CHECK(txt != NULL);
  CHECKF(strstr(txt, "# x, y    : 2, 1\n# lat, lon: 34.99900, 135.00200\n# ref     : 0:1/0:1\n"
                     "# refgeo  : 135.00000/135.00000/35.00000/35.00000\n") == txt, "%s", txt);
  /* d_e = cum(2,1) - cum(0,0) - first = 0.75e - 0.35e = 0.4e mm; slope 0.4 per 12 days */
  char want[64];
  snprintf(want, sizeof want, "# linear model: %.3f*t", 0.4 * 365.25 / 12); /* intercept +-0.000 */
  CHECKF(strstr(txt, want) != NULL, "no '%s' in\n%s", want, txt);
  CHECK(strstr(txt, "20200101    0.00\n20200113    0.40\n20200125    0.80\n") != NULL);
  CHECK(strstr(txt, "# gap") == NULL);  /* no results/n_gap.tif: the gaps are unknown */
  free(txt);
  /* CSV with a reference point: d = cum(1,0) - cum(0,0) - first = 0.5e - 0.35e (float32);
   * then the NaN pixel and points outside are refused */
  const char *csv = check_path("tt/p.csv");
  CHECK(run(cmd_ts, "ts", "--ts", ts, "--xy", "1/0", "--ref-lon", "135.0", "--ref-lat", "35.0", "--csv", "--out", csv,
            "--quiet", NULL) == 0);
  txt = tsfx_slurp(csv);
  CHECK(txt && strstr(txt, "date,t_yr,disp_mm\n2020-01-01,0.000000,0\n2020-01-13,0.032854,0.150000006\n") == txt);
  free(txt);
  CHECK(run(cmd_ts, "ts", "--ts", ts, "--xy", "3/2", "--out", csv, "--quiet", NULL) == 1);
  CHECK(run(cmd_ts, "ts", "--ts", ts, "--lon", "136", "--lat", "35", "--out", csv, "--quiet", NULL) == 2);
  CHECK(run(cmd_ts, "ts", "--ts", ts, "--lon", "135.001", "--lat", "35", "--ref-lon", "120", "--ref-lat", "35",
            "--out", csv, "--quiet", NULL) == 2);
}

/* ---------------------------------------------------------------- decomposition */

static int put_tif(const char *path, const float *a, int w, int h, const double gt[6]) {
  cbas_ctx ctx;
  if (ctx_init(&ctx, 64 << 20, 1)) return -1;
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = (uint32_t)w; o.height = (uint32_t)h; o.bands = 1; o.type = GT_F32;
  o.geo.has_gt = 1; o.geo.epsg = 4326;
  memcpy(o.geo.gt, gt, sizeof o.geo.gt);
  o.has_nodata = 1; o.nodata = NAN;
  gt_writer *wr;
  int rc = gt_create(&ctx, path, &o, &wr) || gt_write_rows(&ctx, wr, (uint32_t)h, a, (size_t)w, (size_t)w * h) ||
           gt_commit(&ctx, wr);
  ctx_free(&ctx);
  return rc;
}

static double true_ve(double lon, double lat) { return 3.0 + 40 * (lon - 135.0) - 20 * (lat - 35.0); }
static double true_vu(double lon, double lat) { return -8.0 + 30 * (lon - 135.0) + 50 * (lat - 35.0); }

/* geometry g: w x h pixels of `step` degrees, NW corner (x0, y0), constant LOS vector (e, n);
 * LOS = e*vE + u*vU (+ n*0: no north motion) at every pixel centre */
static int make_geom(const char *base, double x0, double y0, double step, int w, int h, float e, float n) {
  char p[1200];
  float *los = malloc((size_t)w * h * 4), *ea = malloc((size_t)w * h * 4), *na = malloc((size_t)w * h * 4);
  double u = sqrt(1.0 - (double)n * n - (double)e * e);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double lon = x0 + step * (x + 0.5), lat = y0 - step * (y + 0.5);
      los[y * w + x] = (float)(e * true_ve(lon, lat) + u * true_vu(lon, lat));
      ea[y * w + x] = e;
      na[y * w + x] = n;
    }
  double gt[6] = {x0, step, 0, y0, 0, -step};
  int rc = 0;
  snprintf(p, sizeof p, "%s.tif", base); rc |= put_tif(p, los, w, h, gt);
  snprintf(p, sizeof p, "%s_E.tif", base); rc |= put_tif(p, ea, w, h, gt);
  snprintf(p, sizeof p, "%s_N.tif", base); rc |= put_tif(p, na, w, h, gt);
  free(los); free(ea); free(na);
  return rc;
}

/* EW/UD in dir against the truth at the output pixel centres, margin pixels from the edges left
 * out (resampling kernels are clipped there). */
static void check_recovered(const char *dir, double tol, double x0, double y0, double step, uint32_t margin,
                            int *n_valid) {
  char p[1200];
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  uint32_t w, h;
  snprintf(p, sizeof p, "%s/EW.geo.tif", dir);
  float *ew = tsfx_read_tif(&ctx, p, &w, &h);
  snprintf(p, sizeof p, "%s/UD.geo.tif", dir);
  float *ud = tsfx_read_tif(&ctx, p, &w, &h);
  CHECK(ew && ud);
  *n_valid = 0;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      double lon = x0 + step * (x + 0.5), lat = y0 - step * (y + 0.5);
      size_t i = (size_t)y * w + x;
      if (isnan(ew[i]) || x < margin || y < margin || x + margin >= w || y + margin >= h) continue;
      ++*n_valid;
      CHECKF(fabs(ew[i] - true_ve(lon, lat)) <= tol, "EW(%u,%u) = %g, truth %g", x, y, ew[i], true_ve(lon, lat));
      CHECKF(fabs(ud[i] - true_vu(lon, lat)) <= tol, "UD(%u,%u) = %g, truth %g", x, y, ud[i], true_vu(lon, lat));
    }
  free(ew);
  free(ud);
  ctx_free(&ctx);
}

static void test_decompose_truth(void) {
  /* two frames on one lattice (0.001 deg) with different extents: no resampling error */
  char a[1000], d[1000], out[1000];
  snprintf(a, sizeof a, "%s", check_path("dc/A"));
  snprintf(d, sizeof d, "%s", check_path("dc/D"));
  CHECK(check_sh("mkdir -p '%s/o1' '%s/o2' '%s/o3'", check_path("dc"), check_path("dc"), check_path("dc")) == 0);
  CHECK(make_geom(a, 135.000, 35.040, 0.001, 100, 70, -0.62f, -0.11f) == 0); /* ascending: looks east */
  CHECK(make_geom(d, 135.013, 35.030, 0.001, 70, 45, 0.58f, -0.12f) == 0);   /* descending */
  char ae[1200], an[1200], de[1200], dn[1200], at[1200], dt[1200];
  snprintf(at, sizeof at, "%s.tif", a); snprintf(ae, sizeof ae, "%s_E.tif", a); snprintf(an, sizeof an, "%s_N.tif", a);
  snprintf(dt, sizeof dt, "%s.tif", d); snprintf(de, sizeof de, "%s_E.tif", d); snprintf(dn, sizeof dn, "%s_N.tif", d);
  snprintf(out, sizeof out, "%s/o1", check_path("dc"));
  CHECK(run(cmd_decompose, "decompose", "--los", at, "--e", ae, "--n", an, "--los", dt, "--e", de, "--n", dn, "--out",
            out, "--quiet", NULL) == 0);
  int nv;
  /* common area = D's extent (inside A): lon 135.013..135.083, lat 34.985..35.030 */
  check_recovered(out, 2e-4, 135.013, 35.030, 0.001, 0, &nv);
  CHECK_EQ_INT(nv, 70 * 45);
  /* a third frame, coarser (0.002) and offset by a fraction of a pixel: every input is
   * resampled (bilinear of linear fields is exact up to rounding); three geometries by LS */
  char c[1000], ct[1200], ce[1200], cn[1200];
  snprintf(c, sizeof c, "%s", check_path("dc/C"));
  CHECK(make_geom(c, 135.0057, 35.0363, 0.002, 45, 35, -0.55f, -0.10f) == 0);
  snprintf(ct, sizeof ct, "%s.tif", c); snprintf(ce, sizeof ce, "%s_E.tif", c); snprintf(cn, sizeof cn, "%s_N.tif", c);
  snprintf(out, sizeof out, "%s/o2", check_path("dc"));
  CHECK(run(cmd_decompose, "decompose", "--los", at, "--e", ae, "--n", an, "--los", dt, "--e", de, "--n", dn, "--los",
            ct, "--e", ce, "--n", cn, "--out", out, "--stats", "--quiet", NULL) == 0);
  /* grid: spacing 0.002 over D's extent: int(0.070/0.002) x int(0.045/0.002) = 35 x 22 */
  check_recovered(out, 2e-3, 135.013, 35.030, 0.002, 2, &nv);
  CHECK_EQ_INT(nv, (35 - 4) * (22 - 4));
  char p[1200];
  snprintf(p, sizeof p, "%s/resid_LOS3.geo.tif", out);
  CHECK(tsfx_same_file(p, p));
  /* the same with one-row blocks, 4 MB (8 writers) and one thread: byte-identical files */
  char out4[1000];
  snprintf(out4, sizeof out4, "%s/o4", check_path("dc"));
  CHECK(check_sh("mkdir -p '%s'", out4) == 0);
  CHECK(run(cmd_decompose, "decompose", "--los", at, "--e", ae, "--n", an, "--los", dt, "--e", de, "--n", dn, "--los",
            ct, "--e", ce, "--n", cn, "--out", out4, "--stats", "--mem", "4M", "--block-rows", "1", "--threads", "1", "--no-png", "--quiet",
            NULL) == 0);
  static const char *const outs[] = {"EW", "UD", "n_data_total", "resid_LOS2"};
  for (int k = 0; k < 4; k++) {
    char q[1200];
    snprintf(p, sizeof p, "%s/%s.geo.tif", out, outs[k]);
    snprintf(q, sizeof q, "%s/%s.geo.tif", out4, outs[k]);
    CHECKF(tsfx_same_file(p, q), "%s differs with one-row blocks", q);
  }
  /* --u instead of --n and nearest resampling on the one-lattice pair give the same truth */
  snprintf(out, sizeof out, "%s/o3", check_path("dc"));
  CHECK(run(cmd_decompose, "decompose", "--los", at, "--e", ae, "--n", an, "--los", dt, "--e", de, "--n", dn,
            "--resample", "near", "--out", out, "--no-png", "--quiet", NULL) == 0);
  check_recovered(out, 2e-4, 135.013, 35.030, 0.001, 0, &nv);
  CHECK_EQ_INT(nv, 70 * 45);
  /* refusals: one side only, a missing --e, mismatched counts */
  CHECK(run(cmd_decompose, "decompose", "--los", at, "--e", ae, "--n", an, "--los", ct, "--e", ce, "--n", cn, "--out",
            out, "--quiet", NULL) == 2);
  CHECK(run(cmd_decompose, "decompose", "--los", at, "--los", dt, "--e", de, "--out", out, "--quiet", NULL) == 2);
  CHECK(run(cmd_decompose, "decompose", "--los", at, "--out", out, "--quiet", NULL) == 2);
}

int main(void) {
  RUN(test_nanmean);
  RUN(test_points);
  RUN(test_nano);
  RUN(test_median_sign);
  RUN(test_solve);
  RUN(test_warp);
  RUN(test_vel_sin);
  RUN(test_vel_range_ref_mask);
  RUN(test_vel_vstd_blocks);
  RUN(test_ts_text);
  RUN(test_decompose_truth);
  return check_done();
}
