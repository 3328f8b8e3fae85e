/* warp.c — GDAL 3.6 gdal.Warp emulation for north-up grids (see include/cbas/warp.h). */
#include "cbas/warp.h"
#include <math.h>
#include <string.h>

void warp_dst_gt(double minx, double miny, double maxx, double maxy, uint32_t w, uint32_t h, double gt[6]) {
  /* gdalwarp_lib: resolution = extent / size, origin at (minx, maxy) */
  gt[0] = minx;
  gt[1] = (maxx - minx) / (double)w;
  gt[2] = 0;
  gt[3] = maxy;
  gt[4] = 0;
  gt[5] = -((maxy - miny) / (double)h);
}

/* destination pixel coordinates -> source pixel coordinates (GenImgProjTransform) */
static void dst_to_src(const warp_plan *p, double px, double py, double *sx, double *sy) {
  const double *d = p->dgt, *i = p->inv;
  double gx = d[0] + px * d[1] + py * d[2];
  double gy = d[3] + px * d[4] + py * d[5];
  *sx = i[0] + gx * i[1] + gy * i[2];
  *sy = i[3] + gx * i[4] + gy * i[5];
}

static double snap_integer(double v) {
  double r = round(v);
  return fabs(r - v) < 1e-6 ? r : v;
}

/* One axis of ComputeSourceWindow + the kernel scale of PerformWarp. lo/hi: extent of the
 * destination in source pixels; dst: destination size; src: source size. */
static void plan_axis(double lo, double hi, uint32_t dst, uint32_t src, int res, uint32_t *off, uint32_t *size,
                      double *scale, int *rad) {
  lo = snap_integer(lo);
  hi = snap_integer(hi);
  double s0 = fmax(1e-3, (double)dst / (hi - lo));
  int pad = s0 < 0.95 ? (int)ceil(res / s0) : res;
  const int n = (int)src;
  int lo_c = (int)fmax(0.0, lo), hi_c = (int)fmin(ceil(hi), (double)n);
  double raw = fmax(0.0, fmin((double)(n - lo_c), hi - lo));
  int o, sz;
  if (hi_c - lo_c > 0.9 * n) {
    o = 0;
    sz = n;
  } else {
    o = lo_c - pad < n ? lo_c - pad : n;
    if (o < 0) o = 0;
    sz = n - o < hi_c - o + pad ? n - o : hi_c - o + pad;
    if (sz < 0) sz = 0;
  }
  double extra = (double)sz - raw;
  double k = (double)dst / ((double)sz - extra);
  if (sz >= (int)dst && sz <= (double)dst + extra) k = 1.0;
  if (k < 1.0) {
    double inv = 1.0 / k;
    int m = (int)(inv + 0.5);
    if (fabs(inv - m) < 0.05) k = 1.0 / m;
  }
  *off = (uint32_t)o;
  *size = (uint32_t)sz;
  *scale = k;
  *rad = k < 1.0 ? (int)ceil(res / k) : res;
}

void warp_plan_init(warp_plan *p, warp_alg alg, uint32_t dst_w, uint32_t dst_h, const double dgt[6], uint32_t src_w,
                    uint32_t src_h, const double sgt[6]) {
  memset(p, 0, sizeof *p);
  p->alg = alg;
  p->dst_w = dst_w;
  p->dst_h = dst_h;
  memcpy(p->dgt, dgt, sizeof p->dgt);
  p->src_w = src_w;
  p->src_h = src_h;
  memcpy(p->sgt, sgt, sizeof p->sgt);
  p->nodata = p->fill = NAN;
  /* GDALInvGeoTransform, north-up case */
  p->inv[0] = -sgt[0] / sgt[1];
  p->inv[1] = 1.0 / sgt[1];
  p->inv[3] = -sgt[3] / sgt[5];
  p->inv[5] = 1.0 / sgt[5];
  /* ComputeSourceWindow: 21 samples along each edge of the destination, the ratio accumulated
   * in steps of 1/20 as GDAL does (its last value is 1 + 2^-52, not 1) */
  double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
  const double step = 1.0 / 20;
  for (double r = 0.0; r <= 1.0 + step * 0.5; r += step) {
    double pts[4][2] = {{r * dst_w, 0}, {r * dst_w, dst_h}, {0, r * dst_h}, {dst_w, r * dst_h}};
    for (int k = 0; k < 4; k++) {
      double sx, sy;
      dst_to_src(p, pts[k][0], pts[k][1], &sx, &sy);
      minx = fmin(minx, sx);
      maxx = fmax(maxx, sx);
      miny = fmin(miny, sy);
      maxy = fmax(maxy, sy);
    }
  }
  const int res = alg == WARP_CUBICSPLINE ? 2 : alg == WARP_BILINEAR ? 1 : 0; /* GWKGetFilterRadius */
  plan_axis(minx, maxx, dst_w, src_w, res, &p->x0, &p->nx, &p->xscale, &p->xrad);
  plan_axis(miny, maxy, dst_h, src_h, res, &p->y0, &p->ny, &p->yscale, &p->yrad);
  /* nFiltInitX/Y: an even radius starts one tap later */
  p->xinit = (res + 1) % 2 - p->xrad;
  p->yinit = (res + 1) % 2 - p->yrad;
  p->four_sample = alg == WARP_BILINEAR && p->xscale >= 0.95 && p->yscale >= 0.95;
}

void warp_plan_nodata(warp_plan *p, float nodata, float fill) {
  p->nodata = nodata;
  p->fill = fill;
}

/* Source coordinates of destination row y at every column, as the approximate transformer
 * gives them (exact for rows of at most 5 pixels or when the linear error exceeds 0.125). */
typedef struct row_tf { int approx; double xs0, ys0, ddx, ddy; } row_tf;

static void row_setup(const warp_plan *p, uint32_t y, row_tf *t) {
  const uint32_t W = p->dst_w;
  const double py = y + 0.5;
  t->approx = W > 5;
  if (!t->approx) return;
  const int mid = (int)(W - 1) / 2;
  double xs1, ys1, xs2, ys2;
  dst_to_src(p, 0.5, py, &t->xs0, &t->ys0);
  dst_to_src(p, mid + 0.5, py, &xs1, &ys1);
  dst_to_src(p, (W - 1) + 0.5, py, &xs2, &ys2);
  const double span = ((W - 1) + 0.5) - 0.5;
  t->ddx = (xs2 - t->xs0) / span;
  t->ddy = (ys2 - t->ys0) / span;
  double err = fabs((t->xs0 + t->ddx * ((mid + 0.5) - 0.5)) - xs1) + fabs((t->ys0 + t->ddy * ((mid + 0.5) - 0.5)) - ys1);
  if (err > 0.125) t->approx = 0;
}

static void col_src(const warp_plan *p, const row_tf *t, uint32_t x, uint32_t y, double *sx, double *sy) {
  if (t->approx) {
    double dist = (x + 0.5) - 0.5;
    *sx = t->xs0 + t->ddx * dist;
    *sy = t->ys0 + t->ddy * dist;
  } else {
    dst_to_src(p, x + 0.5, y + 0.5, sx, sy);
  }
}

/* GWKCheckAndComputeSrcOffsets: is (sx, sy) inside the window? A point just outside from the
 * approximate transformer is retried with the exact transform. */
static int inside_window(const warp_plan *p, uint32_t x, uint32_t y, double *sx, double *sy) {
  const double ox = p->x0, oy = p->y0;
  for (int tryno = 0; tryno < 2; tryno++) {
    if (tryno == 1) dst_to_src(p, x + 0.5, y + 0.5, sx, sy);
    double ax = *sx, ay = *sy;
    if (ax < ox) { if (tryno == 0 && ax > ox - 1) continue; return 0; }
    if (ay < oy) { if (tryno == 0 && ay > oy - 1) continue; return 0; }
    if (ax + 1e-10 > p->nx + ox) { if (tryno == 0 && ax < p->nx + ox + 1) continue; return 0; }
    if (ay + 1e-10 > p->ny + oy) { if (tryno == 0 && ay < p->ny + oy + 1) continue; return 0; }
    return 1;
  }
  return 0;
}

static const float *src_px(const float *src, uint32_t r0, uint32_t r1, uint32_t nx, long c, long r) {
  if (r < (long)r0 || r >= (long)r1) return NULL;
  return src + (size_t)(r - (long)r0) * nx + (size_t)c;
}

/* Is v the source no-data value (GDAL's validity mask from srcNodata)? */
static int invalid(const warp_plan *p, float v) {
  return isnan(p->nodata) ? isnan(v) : v == p->nodata;
}

/* GWKBilinearResample4Sample at window coordinates (wx, wy). */
static int bilinear4(const warp_plan *p, const float *src, uint32_t r0, uint32_t r1, double wx, double wy, double *out) {
  const long nx = p->nx, ny = p->ny;
  long ix = (long)floor(wx - 0.5), iy = (long)floor(wy - 0.5);
  double rx = 1.5 - (wx - ix), ry = 1.5 - (wy - iy);
  if (ix == -1) { ix = 0; rx = 1; }
  if (iy == -1) { iy = 0; ry = 1; }
  double acc = 0, div = 0;
  for (int j = 0; j < 2; j++) {
    long r = iy + j;
    if (r < 0 || r >= ny) continue;
    double wy_ = j ? 1.0 - ry : ry;
    for (int i = 0; i < 2; i++) {
      long c = ix + i;
      if (c < 0 || c >= nx) continue;
      const float *v = src_px(src, r0, r1, p->nx, c, r);
      if (!v || invalid(p, *v)) continue;
      double m = (i ? 1.0 - rx : rx) * wy_;
      div += m;
      acc += *v * m;
    }
  }
  if (div == 1.0) { *out = acc; return 1; }
  if (div < 0.00001) return 0;
  *out = acc / div;
  return 1;
}

/* GWKBilinear */
static double tri(double x) {
  double a = fabs(x);
  return a <= 1.0 ? 1.0 - a : 0.0;
}

/* GWKBSpline: 6 x the cubic B-spline as a sum of truncated powers, without the (x-2)^3 term
 * (which matters only when a widened kernel reaches beyond 2), evaluated in GDAL's order. */
static double bspline(double x) {
  const double xp2 = x + 2.0, xp1 = x + 1.0, xm1 = x - 1.0;
  const double xp2c = xp2 * xp2 * xp2;
  if (!(xp2 > 0.0)) return 0.0;
  double inner = 0.0;
  if (xp1 > 0.0) {
    double in2 = 0.0;
    if (x > 0.0) in2 = (xm1 > 0.0 ? -4.0 * xm1 * xm1 * xm1 : 0.0) + 6.0 * x * x * x;
    inner = in2 + -4.0 * xp1 * xp1 * xp1;
  }
  return inner + xp2c;
}

/* The kernel's weight of a tap at distance d (source pixels), widened by 1/scale when
 * downsampling. */
static double weight(const warp_plan *p, double d, double scale) {
  if (scale < 1.0) d *= scale;
  return p->alg == WARP_CUBICSPLINE ? bspline(d) : tri(d);
}

/* Taps of the x weights kept on the stack; wider kernels (bilinear below 1/127, cubicspline
 * below 1/64) compute them per sample. */
enum { WARP_TAPS = 256 };

/* GWKResample at window coordinates (wx, wy): the separable kernel over the valid samples of
 * the window present in src, normalised by the weight used. */
static int resample(const warp_plan *p, const float *src, uint32_t r0, uint32_t r1, double wx, double wy, double *out) {
  const int nx = (int)p->nx, ny = (int)p->ny;
  const int ix = (int)floor(wx - 0.5), iy = (int)floor(wy - 0.5);
  const double dx = wx - 0.5 - ix, dy = wy - 0.5 - iy;
  int jmin = p->yinit, jmax = p->yrad, imin = p->xinit, imax = p->xrad;
  if (iy + jmin < 0) jmin = -iy;
  if (iy + jmax >= ny) jmax = ny - iy - 1;
  if (ix + imin < 0) imin = -ix;
  if (ix + imax >= nx) imax = nx - ix - 1;
  double wxs[WARP_TAPS];
  const int cached = imax - imin + 1 <= WARP_TAPS;
  if (cached)
    for (int i = imin; i <= imax; i++) wxs[i - imin] = weight(p, i - dx, p->xscale);
  double acc = 0, accd = 0, accw = 0;
  for (int j = jmin; j <= jmax; j++) {
    const float *row = src_px(src, r0, r1, p->nx, 0, iy + j);
    if (!row) continue;
    double rl = 0, dl = 0, wl = 0;
    int any = 0;
    for (int i = imin; i <= imax; i++) {
      float v = row[ix + i];
      if (invalid(p, v)) continue;
      any = 1;
      double w2 = cached ? wxs[i - imin] : weight(p, i - dx, p->xscale);
      rl += (double)v * w2;
      dl += 1.0 * w2;
      wl += w2;
    }
    if (!any) continue;
    double w1 = weight(p, j - dy, p->yscale);
    acc += rl * w1;
    accd += dl * w1;
    accw += wl * w1;
  }
  if (accw < 0.000001 || accd < 0.000001) return 0;
  *out = accw < 0.99999 || accw > 1.00001 ? acc / accw : acc;
  return 1;
}

void warp_row_part(const warp_plan *p, uint32_t y, uint32_t x0, uint32_t x1, const float *src, uint32_t r0, uint32_t r1,
                   float *dst) {
  row_tf t;
  row_setup(p, y, &t);
  for (uint32_t x = x0; x < x1; x++) {
    float *o = dst + (x - x0);
    *o = p->fill;
    if (!p->nx || !p->ny) continue;
    double sx, sy;
    col_src(p, &t, x, y, &sx, &sy);
    if (!inside_window(p, x, y, &sx, &sy)) continue;
    const double wx = sx - p->x0, wy = sy - p->y0;
    long cx = (long)(sx + 1e-10) - (long)p->x0, cy = (long)(sy + 1e-10) - (long)p->y0;
    if (cx == (long)p->nx) cx--;
    if (cy == (long)p->ny) cy--;
    const float *c = src_px(src, r0, r1, p->nx, cx, cy);
    if (!c || invalid(p, *c)) continue; /* the source pixel under the centre is nodata */
    double v;
    if (p->alg == WARP_NEAR || p->nx == 1 || p->ny == 1) v = *c;
    else if (p->four_sample ? !bilinear4(p, src, r0, r1, wx, wy, &v) : !resample(p, src, r0, r1, wx, wy, &v)) continue;
    *o = (float)v;
  }
}

void warp_row(const warp_plan *p, uint32_t y, const float *src, uint32_t r0, uint32_t r1, float *dst) {
  warp_row_part(p, y, 0, p->dst_w, src, r0, r1, dst);
}

/* Source rows destination row y can touch: the centre row and the kernel rows around it. */
static void row_span(const warp_plan *p, uint32_t y, long *lo, long *hi) {
  row_tf t;
  row_setup(p, y, &t);
  double sx0, sy0, sx1, sy1;
  col_src(p, &t, 0, y, &sx0, &sy0);
  col_src(p, &t, p->dst_w - 1, y, &sx1, &sy1);
  double e0, e1, a, b;
  dst_to_src(p, 0.5, y + 0.5, &a, &e0);
  dst_to_src(p, p->dst_w - 0.5, y + 0.5, &b, &e1);
  double smin = fmin(fmin(sy0, sy1), fmin(e0, e1)) - p->y0, smax = fmax(fmax(sy0, sy1), fmax(e0, e1)) - p->y0;
  int rad = p->yrad > 1 ? p->yrad : 1;
  *lo = (long)floor(smin - 0.5) - rad - 1;
  *hi = (long)floor(smax + 1e-10) + rad + 2;
}

void warp_src_rows(const warp_plan *p, uint32_t y0, uint32_t ny, uint32_t *r0, uint32_t *r1) {
  *r0 = *r1 = 0;
  if (!ny || !p->ny || !p->nx) return;
  long lo0, hi0, lo1, hi1;
  row_span(p, y0, &lo0, &hi0);
  row_span(p, y0 + ny - 1, &lo1, &hi1);
  long lo = lo0 < lo1 ? lo0 : lo1, hi = hi0 > hi1 ? hi0 : hi1;
  if (lo < 0) lo = 0;
  if (hi > (long)p->ny) hi = p->ny;
  if (hi <= lo) return;
  *r0 = (uint32_t)lo;
  *r1 = (uint32_t)hi;
}

uint32_t warp_src_rows_max(const warp_plan *p, uint32_t ny) {
  double ratio = fabs(p->dgt[5] / p->sgt[5]);
  int rad = p->yrad > 1 ? p->yrad : 1;
  double n = ceil(ratio * ny) + 2.0 * rad + 5;
  return n > p->ny ? p->ny : (uint32_t)n;
}
