/* test_warp.c — warp.h's cubic-spline (B-spline) kernel, the one LiCSBAS step 03 asks of
 * gdal.Warp: weights and renormalisation checked by hand on small grids (the closed-form cubic
 * B-spline, not the implementation's truncated powers), no-data 0 with fill 0 as srcNodata=0
 * gives, NaN values spreading when they are not the no-data value; streaming (row subsets from
 * warp_src_rows, warp_row_part) giving the bytes of a whole-window warp; and every algorithm
 * bit for bit against GDAL's own warper (tests/interop/warp_ref.py, Debian's python3-gdal) on
 * random grids: up- and downsampling, a kernel tap beyond 2 (GDAL's missing (x-2)^3 term),
 * kernels wider than the on-stack weight cache, a destination reaching beyond the source.
 * (The near/bilinear cases by hand are in test_tools.c.) */
#include "check.h"
#include "pyref.h"
#include "cbas/warp.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 6 x the cubic B-spline, closed form: the expectation's kernel. */
static double bspline6(double t) {
  double a = fabs(t);
  if (a < 1) return 4 - 6 * a * a + 3 * a * a * a;
  if (a < 2) return (2 - a) * (2 - a) * (2 - a);
  return 0;
}

/* sum w_i w_j v / sum w_i w_j over the taps [i0, i1] x [j0, j1] around (cx, cy) inside the
 * sw x sh raster, leaving out no-data samples (NaN when nodata is NaN, else == nodata); NaN
 * values that are not no-data enter the sums (and so the result) as in IEEE arithmetic. */
static double expect(const float *src, int sw, int sh, int cx, int cy, int i0, int i1, const double *wx, int j0, int j1,
                     const double *wy, float nodata) {
  double acc = 0, accw = 0;
  for (int j = j0; j <= j1; j++)
    for (int i = i0; i <= i1; i++) {
      int x = cx + i, y = cy + j;
      if (x < 0 || y < 0 || x >= sw || y >= sh) continue;
      float v = src[y * sw + x];
      if (isnan(nodata) ? isnan(v) : v == nodata) continue;
      acc += wx[i - i0] * wy[j - j0] * v;
      accw += wx[i - i0] * wy[j - j0];
    }
  return acc / accw;
}

static int same_float(float a, float b) { return (isnan(a) && isnan(b)) || a == b; }

static void test_cubic_identity_by_hand(void) {
  enum { SW = 7, SH = 6 };
  float src[SW * SH], row[SW];
  for (int i = 0; i < SW * SH; i++) src[i] = (float)((i * 37) % 11) + 0.5f * (float)(i % 3);
  src[2 * SW + 4] = NAN;
  const double sgt[6] = {10.0, 0.5, 0, 20.0, 0, -0.5};
  warp_plan p;
  warp_plan_init(&p, WARP_CUBICSPLINE, SW, SH, sgt, SW, SH, sgt);
  CHECK(p.x0 == 0 && p.nx == SW && p.y0 == 0 && p.ny == SH && p.xscale == 1 && p.yscale == 1);
  CHECK(p.xrad == 2 && p.yrad == 2 && p.xinit == -1 && p.yinit == -1 && !p.four_sample);
  CHECK(isnan(p.nodata) && isnan(p.fill));
  /* sample at the pixel centre: taps -1..2 weigh B(-1) = 1, B(0) = 4, B(1) = 1, B(2) = 0 */
  const double w[4] = {1, 4, 1, 0};
  for (int y = 0; y < SH; y++) {
    warp_row(&p, (uint32_t)y, src, 0, SH, row);
    for (int x = 0; x < SW; x++) {
      if (x == 4 && y == 2) { CHECKF(isnan(row[x]), "the NaN pixel got %g", row[x]); continue; }
      double e = expect(src, SW, SH, x, y, -1, 2, w, -1, 2, w, NAN);
      CHECKF(fabs(row[x] - e) <= 1e-5, "(%d, %d): %.9g, expected %.9g", x, y, row[x], e);
    }
  }
  /* not interpolating: an interior pixel is smoothed with its neighbours (1 4 1)/6 */
  warp_row(&p, 4, src, 0, SH, row);
  CHECK(row[3] != src[4 * SW + 3]);

  /* half a pixel east: taps -1..2 at distances -1.5, -0.5, 0.5, 1.5 weigh 1/8, 23/8, 23/8, 1/8;
   * the last column's centre lies beyond the source */
  const double dgt[6] = {10.25, 0.5, 0, 20.0, 0, -0.5};
  warp_plan_init(&p, WARP_CUBICSPLINE, SW, SH, dgt, SW, SH, sgt);
  CHECK(p.xscale == 1 && p.nx == SW);
  const double wh[4] = {0.125, 2.875, 2.875, 0.125};
  CHECK(bspline6(-1.5) == wh[0] && bspline6(0.5) == wh[2]);
  for (int y = 0; y < SH; y++) {
    warp_row(&p, (uint32_t)y, src, 0, SH, row);
    CHECK(isnan(row[SW - 1]));
    for (int x = 0; x < SW - 1; x++) {
      /* the pixel under the centre is x + 1 */
      if (x + 1 == 4 && y == 2) { CHECK(isnan(row[x])); continue; }
      double e = expect(src, SW, SH, x, y, -1, 2, wh, -1, 2, w, NAN);
      CHECKF(fabs(row[x] - e) <= 1e-5, "shifted (%d, %d): %.9g, expected %.9g", x, y, row[x], e);
    }
  }
}

static void test_cubic_downsampling_by_hand(void) {
  /* 8 -> 4 along x: scale 1/2, radius ceil(2 / (1/2)) = 4, taps -3..4 around the sample at the
   * edge between source pixels 2x and 2x+1, at distances (i - 0.5) / 2 */
  enum { SW = 8, SH = 5, W = 4 };
  float src[SW * SH], row[W];
  for (int i = 0; i < SW * SH; i++) src[i] = (float)(3 + (i * 13) % 7) - 0.25f * (float)(i % 5);
  const double sgt[6] = {100.0, 0.1, 0, 30.0, 0, -0.1}, dgt[6] = {100.0, 0.2, 0, 30.0, 0, -0.1};
  warp_plan p;
  warp_plan_init(&p, WARP_CUBICSPLINE, W, SH, dgt, SW, SH, sgt);
  CHECK(p.xscale == 0.5 && p.yscale == 1 && p.xrad == 4 && p.xinit == -3 && p.yrad == 2);
  double wx[8];
  for (int i = -3; i <= 4; i++) wx[i + 3] = bspline6((i - 0.5) * 0.5);
  CHECK(wx[3] == 3.671875 && wx[0] == 0.015625);
  const double wy[4] = {1, 4, 1, 0};
  for (int y = 0; y < SH; y++) {
    warp_row(&p, (uint32_t)y, src, 0, SH, row);
    for (int x = 0; x < W; x++) {
      double e = expect(src, SW, SH, 2 * x, y, -3, 4, wx, -1, 2, wy, NAN);
      CHECKF(fabs(row[x] - e) <= 1e-5, "(%d, %d): %.9g, expected %.9g", x, y, row[x], e);
    }
  }
}

static void test_cubic_nodata_zero(void) {
  /* srcNodata=0 (LiCSBAS step 03): zeros are left out and the weights renormalised, a zero
   * under the centre leaves the fill value 0; a NaN is a value, so it spreads to every pixel
   * whose taps reach it (even the zero-weight tap at distance 2: NaN * 0 is NaN) */
  enum { SW = 9, SH = 8 };
  float src[SW * SH], row[SW];
  for (int i = 0; i < SW * SH; i++) src[i] = 2.0f + 0.1f * (float)((i * 7) % 10);
  src[3 * SW + 3] = 0;
  src[3 * SW + 4] = 0;
  src[6 * SW + 7] = NAN;
  const double sgt[6] = {138.0, 0.01, 0, 36.0, 0, -0.01};
  warp_plan p;
  warp_plan_init(&p, WARP_CUBICSPLINE, SW, SH, sgt, SW, SH, sgt);
  warp_plan_nodata(&p, 0.0f, 0.0f);
  const double w[4] = {1, 4, 1, 0};
  int n_nan = 0, n_zero = 0;
  for (int y = 0; y < SH; y++) {
    warp_row(&p, (uint32_t)y, src, 0, SH, row);
    for (int x = 0; x < SW; x++) {
      float v = row[x];
      if (src[y * SW + x] == 0) { CHECKF(v == 0 && !signbit(v), "(%d, %d): %g under a zero", x, y, v); n_zero++; continue; }
      double e = expect(src, SW, SH, x, y, -1, 2, w, -1, 2, w, 0.0f);
      int reaches = x - 1 <= 7 && 7 <= x + 2 && y - 1 <= 6 && 6 <= y + 2;
      CHECKF(reaches == !!isnan(v), "(%d, %d): %g", x, y, v);
      n_nan += reaches;
      if (!reaches) CHECKF(fabs(v - e) <= 1e-5, "(%d, %d): %.9g, expected %.9g", x, y, v, e);
    }
  }
  CHECK(n_nan == 16 && n_zero == 2);
  /* outside the source: the fill value */
  const double dgt[6] = {137.95, 0.01, 0, 36.0, 0, -0.01};
  warp_plan_init(&p, WARP_CUBICSPLINE, SW, SH, dgt, SW, SH, sgt);
  warp_plan_nodata(&p, 0.0f, 0.0f);
  warp_row(&p, 1, src, 0, SH, row);
  for (int x = 0; x < 5; x++) CHECK(row[x] == 0);
  CHECK(row[5] != 0 && !isnan(row[5]));
}

/* Deterministic pseudo-random source: a smooth field with noise, holes (the no-data value) and,
 * with nans > 0, NaN values. */
static uint64_t lcg(uint64_t *s) { return *s = *s * 6364136223846793005ULL + 1442695040888963407ULL; }
static double urand(uint64_t *s) { return (double)(lcg(s) >> 11) / 9007199254740992.0; }
static void fill_src(float *a, uint32_t w, uint32_t h, uint64_t seed, float hole, double holes, double nans) {
  uint64_t s = seed;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      double v = 5 + 3 * sin(0.37 * x) * cos(0.23 * y) + (urand(&s) - 0.5);
      double u = urand(&s);
      a[(size_t)y * w + x] = u < holes ? hole : u < holes + nans ? NAN : (float)v;
    }
}

/* Warps src (the whole raster) through the streaming API, blocks of `block` destination rows,
 * each given exactly the window rows warp_src_rows names (in a buffer of that size). */
static int warp_streamed(const warp_plan *p, const float *src, uint32_t block, float *dst) {
  float *rows = malloc((size_t)(p->nx ? p->nx : 1) * (p->ny ? p->ny : 1) * sizeof *rows);
  if (!rows) return -1;
  for (uint32_t y0 = 0; y0 < p->dst_h; y0 += block) {
    uint32_t ny = p->dst_h - y0 < block ? p->dst_h - y0 : block, r0, r1;
    warp_src_rows(p, y0, ny, &r0, &r1);
    if (r1 - r0 > warp_src_rows_max(p, ny)) { free(rows); return -1; }
    for (uint32_t r = r0; r < r1; r++)
      memcpy(rows + (size_t)(r - r0) * p->nx, src + (size_t)(p->y0 + r) * p->src_w + p->x0, (size_t)p->nx * sizeof *rows);
    for (uint32_t y = y0; y < y0 + ny; y++) warp_row(p, y, rows, r0, r1, dst + (size_t)y * p->dst_w);
  }
  free(rows);
  return 0;
}

static void test_streaming_same_bytes(void) {
  enum { SW = 41, SH = 37 };
  float *src = malloc(SW * SH * sizeof *src), *win = malloc(SW * SH * sizeof *win);
  float *full = malloc(80 * 70 * sizeof *full), *part = malloc(80 * 70 * sizeof *part), seg[80];
  CHECK(src && win && full && part);
  fill_src(src, SW, SH, 3, 0.0f, 0.05, 0.01);
  const double sgt[6] = {138.0, 0.01, 0, 36.5, 0, -0.01};
  const struct { uint32_t w, h; double dx, ox, oy; } g[3] = {{29, 23, 0.0137, 0.021, -0.013}, {80, 70, 0.0049, 0.003, 0.002},
                                                             {9, 8, 0.043, 0.0, 0.0}};
  for (int a = 0; a < 3; a++)
    for (int k = 0; k < 3; k++)
      for (int nd = 0; nd < 2; nd++) {
        double dgt[6] = {sgt[0] + g[k].ox, g[k].dx, 0, sgt[3] + g[k].oy, 0, -g[k].dx};
        warp_plan p;
        warp_plan_init(&p, (warp_alg)a, g[k].w, g[k].h, dgt, SW, SH, sgt);
        if (nd) warp_plan_nodata(&p, 0.0f, 0.0f);
        for (uint32_t r = 0; r < p.ny; r++)
          memcpy(win + (size_t)r * p.nx, src + (size_t)(p.y0 + r) * SW + p.x0, (size_t)p.nx * sizeof *win);
        for (uint32_t y = 0; y < p.dst_h; y++) warp_row(&p, y, win, 0, p.ny, full + (size_t)y * p.dst_w);
        size_t n = (size_t)p.dst_w * p.dst_h;
        for (uint32_t block = 1; block <= 5; block += 2) {
          CHECK(warp_streamed(&p, src, block, part) == 0);
          CHECKF(!memcmp(full, part, n * sizeof *full), "alg %d grid %d nodata %d: blocks of %u rows differ", a, k, nd, block);
        }
        int any = 0;
        for (size_t i = 0; i < n; i++) any |= !isnan(full[i]) && full[i] != 0;
        CHECK(any);
        for (uint32_t y = 0; y < p.dst_h; y += 3) {
          uint32_t x0 = y % p.dst_w, x1 = x0 + (p.dst_w - x0) / 2 + 1;
          warp_row_part(&p, y, x0, x1, win, 0, p.ny, seg);
          for (uint32_t x = x0; x < x1; x++)
            CHECKF(same_float(seg[x - x0], full[(size_t)y * p.dst_w + x]), "alg %d: warp_row_part at (%u, %u)", a, x, y);
        }
      }
  free(src); free(win); free(full); free(part);
}

typedef struct wcase {
  const char *what;
  uint32_t sw, sh;
  double x0, dx, y0, dy;      /* source geotransform (north-up) */
  double b[4];                /* outputBounds minx miny maxx maxy */
  uint32_t w, h;
  warp_alg alg;
  float nodata;
  double holes, nans;
} wcase;

static void test_vs_gdal(void) {
  const char *py = pyref_python("numpy; from osgeo import gdal");
  CHECKF(py, "no python3 with numpy and GDAL's bindings (platform/debian/bootstrap.sh installs python3-gdal)");
  const double s8 = 0.0083333333333;
  /* LiCSBAS-like bounds: pixel-centre corners of a frame grid (step 03's quirk) */
  const double lw = 138.0005, ln = 36.4995, st = 0.0036;
  const wcase cs[] = {
      {"cubicspline identity, NaN no-data", 23, 19, 137.9, 0.01, 36.6, -0.01, {137.9, 36.41, 138.13, 36.6}, 23, 19,
       WARP_CUBICSPLINE, NAN, 0.04, 0},
      {"cubicspline upsampling 2.3x, GACOS-like (srcNodata 0, NaN values)", 30, 25, 137.95 - s8 / 2, s8, 36.56 + s8 / 2, -s8,
       {lw, ln - st * 49, lw + st * 59, ln}, 60, 50, WARP_CUBICSPLINE, 0.0f, 0.03, 0.004},
      {"cubicspline downsampling 1.7x, srcNodata 0", 50, 40, 137.99, 0.001, 36.51, -0.001,
       {137.9913, 36.4731, 137.9913 + 0.0017 * 27, 36.4731 + 0.0017 * 21}, 27, 21, WARP_CUBICSPLINE, 0.0f, 0.05, 0},
      {"cubicspline downsampling 3x (scale snapped to 1/3)", 60, 45, 138.0, 0.001, 36.5, -0.001, {138.0, 36.455, 138.06, 36.5},
       20, 15, WARP_CUBICSPLINE, 0.0f, 0.02, 0},
      {"cubicspline 10 -> 3 (scale 0.3: a tap beyond 2)", 10, 10, 138.0, 0.01, 36.5, -0.01, {138.0, 36.4, 138.1, 36.5}, 3, 3,
       WARP_CUBICSPLINE, 0.0f, 0, 0},
      {"cubicspline 200 -> 4 (200 taps, weights on the stack)", 200, 10, 138.0, 0.001, 36.5, -0.001, {138.0, 36.49, 138.2, 36.5},
       4, 5, WARP_CUBICSPLINE, 0.0f, 0.02, 0},
      {"cubicspline 900 -> 6 (600 taps: wider than the weight cache)", 900, 12, 138.0, 0.001, 36.5, -0.001,
       {138.0, 36.488, 138.9, 36.5}, 6, 4, WARP_CUBICSPLINE, 0.0f, 0.01, 0},
      {"cubicspline destination beyond the source (west, north)", 40, 30, 138.1, 0.005, 36.42, -0.005,
       {138.05, 36.30, 138.25, 36.46}, 50, 40, WARP_CUBICSPLINE, 0.0f, 0.02, 0},
      {"cubicspline downsampling 1.3x, 30% holes", 40, 33, 138.0, 0.002, 36.5, -0.002, {138.001, 36.437, 138.079, 36.5}, 30, 24,
       WARP_CUBICSPLINE, NAN, 0.3, 0},
      {"bilinear downsampling 1.7x", 50, 40, 137.99, 0.001, 36.51, -0.001,
       {137.9913, 36.4731, 137.9913 + 0.0017 * 27, 36.4731 + 0.0017 * 21}, 27, 21, WARP_BILINEAR, NAN, 0.05, 0},
      {"bilinear upsampling (4-sample formula)", 30, 25, 137.95 - s8 / 2, s8, 36.56 + s8 / 2, -s8,
       {lw, ln - st * 49, lw + st * 59, ln}, 60, 50, WARP_BILINEAR, NAN, 0.03, 0},
      {"bilinear 1200 -> 4 (601 taps: wider than the weight cache)", 1200, 8, 138.0, 0.001, 36.5, -0.001,
       {138.0, 36.492, 139.2, 36.5}, 4, 4, WARP_BILINEAR, NAN, 0.01, 0},
      {"near downsampling 1.7x", 50, 40, 137.99, 0.001, 36.51, -0.001,
       {137.9913, 36.4731, 137.9913 + 0.0017 * 27, 36.4731 + 0.0017 * 21}, 27, 21, WARP_NEAR, NAN, 0.05, 0},
  };
  const int n_case = (int)(sizeof cs / sizeof cs[0]);
  static const char *alg_name[] = {"near", "bilinear", "cubicspline"};
  FILE *f = fopen(check_path("cases.txt"), "w");
  CHECK(f);
  for (int k = 0; k < n_case; k++) {
    const wcase *c = &cs[k];
    float *src = malloc((size_t)c->sw * c->sh * sizeof *src);
    CHECK(src);
    fill_src(src, c->sw, c->sh, 100 + (uint64_t)k, c->nodata, c->holes, c->nans);
    char name[32];
    snprintf(name, sizeof name, "src_%d.f32", k);
    CHECK(pyref_write(check_path(name), src, (size_t)c->sw * c->sh * sizeof *src) == 0);
    free(src);
    fprintf(f, "%d %u %u %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g %u %u %s %s\n", k, c->sw, c->sh, c->x0, c->dx, c->y0,
            c->dy, c->b[0], c->b[1], c->b[2], c->b[3], c->w, c->h, alg_name[c->alg], isnan(c->nodata) ? "nan" : "0");
  }
  fclose(f);
  CHECK(check_sh("%s tests/interop/warp_ref.py %s %s", py, check_path("cases.txt"), check_tmpdir()) == 0);
  for (int k = 0; k < n_case; k++) {
    const wcase *c = &cs[k];
    size_t n = (size_t)c->w * c->h;
    float *src = malloc((size_t)c->sw * c->sh * sizeof *src), *ref = malloc(n * sizeof *ref), *out = malloc(n * sizeof *out);
    CHECK(src && ref && out);
    char name[32];
    snprintf(name, sizeof name, "src_%d.f32", k);
    CHECK(pyref_read(check_path(name), src, (size_t)c->sw * c->sh * sizeof *src) == 0);
    snprintf(name, sizeof name, "ref_%d.f32", k);
    CHECK(pyref_read(check_path(name), ref, n * sizeof *ref) == 0);
    double dgt[6], sgt[6] = {c->x0, c->dx, 0, c->y0, 0, c->dy};
    warp_dst_gt(c->b[0], c->b[1], c->b[2], c->b[3], c->w, c->h, dgt);
    warp_plan p;
    warp_plan_init(&p, c->alg, c->w, c->h, dgt, c->sw, c->sh, sgt);
    warp_plan_nodata(&p, c->nodata, isnan(c->nodata) ? NAN : 0.0f);
    CHECK(warp_streamed(&p, src, 3, out) == 0);
    size_t diff = 0, valid = 0, first = n;
    for (size_t i = 0; i < n; i++) {
      uint32_t a, b;
      memcpy(&a, &out[i], 4);
      memcpy(&b, &ref[i], 4);
      if (!(isnan(out[i]) && isnan(ref[i])) && a != b) { diff++; if (first == n) first = i; }
      valid += !isnan(ref[i]) && ref[i] != 0;
    }
    printf("# %s: %zu pixels (%zu with a value), %zu differ from gdal.Warp; scale %.6g x %.6g, radius %d x %d\n", c->what, n,
           valid, diff, p.xscale, p.yscale, p.xrad, p.yrad);
    CHECKF(diff == 0, "%s: %zu of %zu pixels differ from gdal.Warp, first (%zu, %zu): %.9g vs %.9g", c->what, diff, n,
           first % c->w, first / c->w, out[first], ref[first]);
    CHECKF(valid > n / 4, "%s: only %zu pixels with a value", c->what, valid);
    free(src); free(ref); free(out);
  }
}

int main(void) {
  RUN(test_cubic_identity_by_hand);
  RUN(test_cubic_downsampling_by_hand);
  RUN(test_cubic_nodata_zero);
  RUN(test_streaming_same_bytes);
  RUN(test_vs_gdal);
  return check_done();
}
