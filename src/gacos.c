/* gacos.c — GACOS delays resampled as LiCSBAS step 03 does (see include/cbas/gacos.h).
 *
 * LiCSBAS calls gdal.Warp(outputBounds=(corner_lon, lat_s, lon_e, corner_lat), width=W,
 * height=L, resampleAlg='cubicspline', srcNodata=0). This file reproduces what GDAL 3.6's
 * warper computes for that call when source and destination share their CRS and the frame is
 * warped as one chunk (frames up to ~15 Mpixel under GDAL's default 64 MB warp memory):
 *   - destination geotransform from the bounds and size (gdalwarp_lib);
 *   - destination pixel centre -> source pixel through the geotransforms (GenImgProj) and the
 *     approximate transformer along each full scanline (exact start, middle and end points,
 *     linear in between; gdaltransformer.cpp);
 *   - the source window and the scale of the kernel (ComputeSourceWindow, PerformWarp);
 *   - the general real-valued kernel (GWKRealCaseThread + GWKResample): the nearest source
 *     pixel must be valid (not 0), then a separable cubic B-spline (GWKBSpline, including its
 *     missing (x-2)^3 term, which matters only when downsampling) over the valid source pixels
 *     of the window, normalised by the sum of the weights used; unset pixels stay 0.
 * Written from the GDAL sources' behaviour, not copied. */
#include "cbas/gacos.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cbas/plat.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lb_range gacos_u_window(const gacos_grid *g, lb_range w) {
  lb_range u = w;
  if (u.x0 > 0) u.x0--;
  if (u.y0 > 0) u.y0--;
  if (u.x1 < g->width) u.x1++;
  if (u.y1 < g->length) u.y1++;
  return u;
}

/* GDAL's GWKBSpline: 6 x the cubic B-spline as a sum of truncated powers, without the
 * (x-2)^3 term, evaluated in the same order. */
double gacos_bspline(double x) {
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

/* ---------------------------------------------------------------- source products */

typedef struct src_data {
  uint32_t w, h;             /* raster size */
  double gt[6], inv[6];
  uint32_t x0, y0, nx, ny;   /* window read (GDAL's source window) */
  float *v;                  /* window values, row-major */
} src_data;

/* get_param_par: the second token of the first line containing key. */
static int rsc_value(const char *text, const char *key, double *v) {
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < 255 ? len : 255), line);
    if (strstr(buf, key)) {
      char a[128], b[128];
      if (sscanf(buf, "%127s %127s", a, b) != 2) return -1;
      char *end;
      *v = strtod(b, &end);
      return end == b ? -1 : 0;
    }
    line = nl ? nl + 1 : NULL;
  }
  return -1;
}

static void inv_gt(const double *g, double *o) {
  /* GDALInvGeoTransform, no-rotation case */
  o[0] = -g[0] / g[1];
  o[1] = 1.0 / g[1];
  o[2] = 0.0;
  o[3] = -g[3] / g[5];
  o[4] = 0.0;
  o[5] = 1.0 / g[5];
}

/* ---------------------------------------------------------------- warp geometry */

typedef struct warp {
  uint32_t W, L;             /* destination (frame) size */
  double dgt[6];
  double xscale, yscale;
  int xrad, yrad, xinit, yinit;
} warp;

static void to_src(const warp *w, const src_data *s, double px, double py, double *sx, double *sy) {
  const double *d = w->dgt, *i = s->inv;
  double gx = d[0] + px * d[1] + py * d[2];
  double gy = d[3] + px * d[4] + py * d[5];
  *sx = i[0] + gx * i[1] + gy * i[2];
  *sy = i[3] + gx * i[4] + gy * i[5];
}

static double round_if_close(double v) {
  double r = round(v);
  return fabs(r - v) < 1e-6 ? r : v;
}

/* GDALWarpOperation::ComputeSourceWindow (edge sampling, 21 steps) and the kernel scales of
 * GDALWarpKernel::PerformWarp for the whole frame as one chunk. */
static void plan_window(warp *w, src_data *s) {
  double minx = INFINITY, miny = INFINITY, maxx = -INFINITY, maxy = -INFINITY;
  const double step = 1.0 / 20;
  for (double r = 0.0; r <= 1.0 + step * 0.5; r += step) {
    double pts[4][2] = {{r * w->W, 0}, {r * w->W, w->L}, {0, r * w->L}, {w->W, r * w->L}};
    for (int k = 0; k < 4; k++) {
      double sx, sy;
      to_src(w, s, pts[k][0], pts[k][1], &sx, &sy);
      minx = fmin(minx, sx); maxx = fmax(maxx, sx);
      miny = fmin(miny, sy); maxy = fmax(maxy, sy);
    }
  }
  minx = round_if_close(minx); miny = round_if_close(miny);
  maxx = round_if_close(maxx); maxy = round_if_close(maxy);
  const int res = 2; /* cubicspline filter radius */
  double xs = fmax(1e-3, (double)w->W / (maxx - minx)), ys = fmax(1e-3, (double)w->L / (maxy - miny));
  int xr = xs < 0.95 ? (int)ceil(res / xs) : res, yr = ys < 0.95 ? (int)ceil(res / ys) : res;
  int sw = (int)s->w, sh = (int)s->h;
  int minxc = (int)fmax(0.0, minx), minyc = (int)fmax(0.0, miny);
  int maxxc = (int)fmin(ceil(maxx), (double)sw), maxyc = (int)fmin(ceil(maxy), (double)sh);
  double rawx = fmax(0.0, fmin((double)(sw - minxc), maxx - minx));
  double rawy = fmax(0.0, fmin((double)(sh - minyc), maxy - miny));
  int xoff, xsize, yoff, ysize;
  if (maxxc - minxc > 0.9 * sw) { xoff = 0; xsize = sw; }
  else {
    xoff = minxc - xr < sw ? minxc - xr : sw;
    if (xoff < 0) xoff = 0;
    xsize = sw - xoff < maxxc - xoff + xr ? sw - xoff : maxxc - xoff + xr;
    if (xsize < 0) xsize = 0;
  }
  if (maxyc - minyc > 0.9 * sh) { yoff = 0; ysize = sh; }
  else {
    yoff = minyc - yr < sh ? minyc - yr : sh;
    if (yoff < 0) yoff = 0;
    ysize = sh - yoff < maxyc - yoff + yr ? sh - yoff : maxyc - yoff + yr;
    if (ysize < 0) ysize = 0;
  }
  s->x0 = (uint32_t)xoff; s->nx = (uint32_t)xsize;
  s->y0 = (uint32_t)yoff; s->ny = (uint32_t)ysize;
  double ex = (double)xsize - rawx, ey = (double)ysize - rawy;
  /* PerformWarp */
  double kx = (double)w->W / ((double)xsize - ex), ky = (double)w->L / ((double)ysize - ey);
  if (xsize >= (int)w->W && xsize <= (double)w->W + ex) kx = 1.0;
  if (ysize >= (int)w->L && ysize <= (double)w->L + ey) ky = 1.0;
  if (kx < 1.0) {
    double rr = 1.0 / kx;
    int n = (int)(rr + 0.5);
    if (fabs(rr - n) < 0.05) kx = 1.0 / n;
  }
  if (ky < 1.0) {
    double rr = 1.0 / ky;
    int n = (int)(rr + 0.5);
    if (fabs(rr - n) < 0.05) ky = 1.0 / n;
  }
  w->xscale = kx;
  w->yscale = ky;
  w->xrad = kx < 1.0 ? (int)ceil(res / kx) : res;
  w->yrad = ky < 1.0 ? (int)ceil(res / ky) : res;
  w->xinit = ((res + 1) % 2) - w->xrad;
  w->yinit = ((res + 1) % 2) - w->yrad;
}

/* GWKResample at window coordinates (sx, sy); returns 1 and the value if any weight. */
static int resample(const warp *w, const src_data *s, double sx, double sy, double *out) {
  const int nx = (int)s->nx, ny = (int)s->ny;
  const int ix = (int)floor(sx - 0.5), iy = (int)floor(sy - 0.5);
  const double dx = sx - 0.5 - ix, dy = sy - 0.5 - iy;
  int j = w->yinit, jmax = w->yrad, imin = w->xinit, imax = w->xrad;
  if (iy + j < 0) j = -iy;
  if (iy + jmax >= ny) jmax = ny - iy - 1;
  if (ix + imin < 0) imin = -ix;
  if (ix + imax >= nx) imax = nx - ix - 1;
  double wx[64];
  int nwx = imax - imin + 1;
  if (nwx > 64) nwx = 64; /* (radius > 31 would need a 1/16 scale) */
  for (int i = imin; i <= imax && i - imin < 64; i++)
    wx[i - imin] = w->xscale < 1.0 ? gacos_bspline((i - dx) * w->xscale) : gacos_bspline(i - dx);
  double acc = 0, accd = 0, accw = 0;
  for (; j <= jmax; j++) {
    const float *row = s->v + (size_t)(iy + j) * s->nx + ix;
    double rl = 0, dl = 0, wl = 0;
    int any = 0;
    for (int i = imin; i <= imax && i - imin < nwx; i++) {
      if (row[i] == 0.0f) continue; /* source nodata */
      any = 1;
      double w2 = wx[i - imin];
      rl += (double)row[i] * w2;
      dl += 1.0 * w2;
      wl += w2;
    }
    if (!any) continue;
    double w1 = w->yscale < 1.0 ? gacos_bspline((j - dy) * w->yscale) : gacos_bspline(j - dy);
    acc += rl * w1;
    accd += dl * w1;
    accw += wl * w1;
  }
  if (accw < 0.000001 || accd < 0.000001) return 0;
  if (accw < 0.99999 || accw > 1.00001) {
    *out = acc / accw;
  } else {
    *out = acc;
  }
  return 1;
}

/* Warps the source onto destination pixels [x0,x1) x [y0,y1) of the frame grid into dst
 * (row-major, x1-x0 wide); pixels without a value are 0, as in GDAL's output. */
static void warp_window(const warp *w, const src_data *s, lb_range r, float *dst) {
  const uint32_t W = w->W, ww = r.x1 - r.x0;
  const int n_mid = (int)(W - 1) / 2;
  for (uint32_t y = r.y0; y < r.y1; y++) {
    const double py = y + 0.5;
    /* the approximate transformer over the full scanline x = 0.5 .. W-0.5 */
    double xs0, ys0, xs1, ys1, xs2, ys2, ddx = 0, ddy = 0;
    int approx = W > 5;
    if (approx) {
      to_src(w, s, 0.5, py, &xs0, &ys0);
      to_src(w, s, n_mid + 0.5, py, &xs1, &ys1);
      to_src(w, s, (W - 1) + 0.5, py, &xs2, &ys2);
      double span = ((W - 1) + 0.5) - 0.5;
      ddx = (xs2 - xs0) / span;
      ddy = (ys2 - ys0) / span;
      double err = fabs((xs0 + ddx * ((n_mid + 0.5) - 0.5)) - xs1) + fabs((ys0 + ddy * ((n_mid + 0.5) - 0.5)) - ys1);
      if (err > 0.125) approx = 0;
    }
    for (uint32_t x = r.x0; x < r.x1; x++) {
      float *o = dst + (size_t)(y - r.y0) * ww + (x - r.x0);
      *o = 0.0f;
      double px = x + 0.5, sx, sy;
      if (approx) {
        double dist = px - 0.5;
        sx = xs0 + ddx * dist;
        sy = ys0 + ddy * dist;
      } else {
        to_src(w, s, px, py, &sx, &sy);
      }
      /* GWKCheckAndComputeSrcOffsets, window coordinates */
      double wx = sx - s->x0, wy = sy - s->y0;
      int ok = 0;
      for (int tryno = 0; tryno < 2 && !ok; tryno++) {
        if (tryno == 1) {
          to_src(w, s, px, py, &sx, &sy);
          wx = sx - s->x0;
          wy = sy - s->y0;
        }
        double ax = sx, ay = sy, ox = s->x0, oy = s->y0;
        if (ax < ox) { if (tryno == 0 && ax > ox - 1) continue; break; }
        if (ay < oy) { if (tryno == 0 && ay > oy - 1) continue; break; }
        if (ax + 1e-10 > s->nx + ox) { if (tryno == 0 && ax < s->nx + ox + 1) continue; break; }
        if (ay + 1e-10 > s->ny + oy) { if (tryno == 0 && ay < s->ny + oy + 1) continue; break; }
        ok = 1;
      }
      if (!ok || s->nx == 0 || s->ny == 0) continue;
      int cx = (int)(sx + 1.0e-10) - (int)s->x0, cy = (int)(sy + 1.0e-10) - (int)s->y0;
      if (cx == (int)s->nx) cx--;
      if (cy == (int)s->ny) cy--;
      if (s->v[(size_t)cy * s->nx + cx] == 0.0f) continue; /* nearest source pixel is nodata */
      double v;
      if (s->nx == 1 || s->ny == 1) v = s->v[(size_t)cy * s->nx + cx];
      else if (!resample(w, s, wx, wy, &v)) continue;
      *o = (float)v;
    }
  }
}

/* ---------------------------------------------------------------- reading a product */

static int read_raw_window(cbas_ctx *ctx, const char *path, src_data *s) {
  int fd, e = plat_open(path, PLAT_RDONLY, &fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: cannot open: %s", path, plat_strerror(e));
  uint64_t size = 0;
  plat_fsize(fd, &size);
  if (size < (uint64_t)s->w * s->h * 4) {
    plat_close(fd);
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: %llu bytes, the .rsc says %u x %u float32", path,
                    (unsigned long long)size, s->w, s->h);
  }
  for (uint32_t r = 0; r < s->ny && !e; r++) {
    size_t got = 0, n = (size_t)s->nx * 4;
    e = plat_pread(fd, s->v + (size_t)r * s->nx, n, ((uint64_t)(s->y0 + r) * s->w + s->x0) * 4, &got);
    if (!e && got != n) e = plat_err_io();
  }
  plat_close(fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: read failed: %s", path, plat_strerror(e));
  /* little-endian float32 on disk (LiCSBAS reads BYTEORDER I) */
  const uint16_t probe = 1;
  if (*(const uint8_t *)&probe != 1)
    for (size_t i = 0; i < (size_t)s->nx * s->ny; i++) {
      uint8_t *b = (uint8_t *)&s->v[i], t0 = b[0], t1 = b[1];
      b[0] = b[3]; b[1] = b[2]; b[2] = t1; b[3] = t0;
    }
  return 0;
}

int gacos_sltd(cbas_ctx *ctx, const char *dir, const char *date, const gacos_grid *g, lb_range win,
               const float *u, double wavelength_m, int fillhole, float *out, int *available) {
  *available = 0;
  char sltd_tif[1200], ztd_tif[1200], ztd[1200], rsc[1210];
  snprintf(sltd_tif, sizeof sltd_tif, "%s/%s.sltd.geo.tif", dir, date);
  snprintf(ztd_tif, sizeof ztd_tif, "%s/%s.ztd.tif", dir, date);
  snprintf(ztd, sizeof ztd, "%s/%s.ztd", dir, date);
  snprintf(rsc, sizeof rsc, "%s.rsc", ztd);
  plat_stat st;
  const char *path = NULL;
  int is_sltd = 0, is_tif = 0;
  if (!plat_stat_path(sltd_tif, &st) && st.exists) { path = sltd_tif; is_sltd = 1; is_tif = 1; }
  else if (!plat_stat_path(ztd_tif, &st) && st.exists) { path = ztd_tif; is_tif = 1; }
  else if (!plat_stat_path(ztd, &st) && st.exists) path = ztd;
  if (!path) return 0;

  src_data s;
  memset(&s, 0, sizeof s);
  gt_reader *rd = NULL;
  if (is_tif) {
    if (gt_open(ctx, path, &rd)) return ctx->status;
    const gt_info *in = gt_get_info(rd);
    if (!in->geo.has_gt || in->geo.gt[2] != 0 || in->geo.gt[4] != 0) {
      gt_close(ctx, rd);
      return ctx_fail(ctx, CBAS_EUNSUP, "%s: needs a north-up geotransform", path);
    }
    s.w = in->width; s.h = in->height;
    memcpy(s.gt, in->geo.gt, sizeof s.gt);
  } else {
    FILE *f = fopen(rsc, "r");
    char text[8192];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    if (!f) return ctx_fail(ctx, CBAS_EFORMAT, "%s: no %s.rsc beside it", path, date);
    text[n] = 0;
    double wd, ln, xf, yf, xs, ys;
    if (rsc_value(text, "WIDTH", &wd) || rsc_value(text, "FILE_LENGTH", &ln) || rsc_value(text, "X_FIRST", &xf) ||
        rsc_value(text, "Y_FIRST", &yf) || rsc_value(text, "X_STEP", &xs) || rsc_value(text, "Y_STEP", &ys) ||
        !(wd >= 1 && wd < 1e6) || !(ln >= 1 && ln < 1e6) || xs == 0 || ys == 0)
      return ctx_fail(ctx, CBAS_EFORMAT, "%s: missing or bad WIDTH/FILE_LENGTH/X_FIRST/Y_FIRST/X_STEP/Y_STEP", rsc);
    s.w = (uint32_t)wd; s.h = (uint32_t)ln;
    /* LiCSBAS's .hdr (ULXMAP/ULYMAP = centre of the NW pixel) as GDAL's EHdr driver reads it */
    double ydim = fabs(ys);
    s.gt[0] = xf - xs * 0.5; s.gt[1] = xs; s.gt[2] = 0;
    s.gt[3] = yf + ydim * 0.5; s.gt[4] = 0; s.gt[5] = -ydim;
  }
  inv_gt(s.gt, s.inv);
  warp w;
  memset(&w, 0, sizeof w);
  w.W = g->width; w.L = g->length;
  double lonw = g->lon1, latn = g->lat1;
  double lats = latn + g->post_lat * (double)(g->length - 1), lone = lonw + g->post_lon * (double)(g->width - 1);
  w.dgt[0] = lonw; w.dgt[1] = (lone - lonw) / g->width; w.dgt[2] = 0;
  w.dgt[3] = latn; w.dgt[4] = 0; w.dgt[5] = -((latn - lats) / g->length);
  plan_window(&w, &s);
  s.v = budget_alloc(ctx, (size_t)(s.nx ? s.nx : 1) * (s.ny ? s.ny : 1) * sizeof *s.v, "GACOS source window");
  lb_range uw = gacos_u_window(g, win);
  size_t uw_w = uw.x1 - uw.x0, uw_n = uw_w * (uw.y1 - uw.y0);
  float *sl = s.v ? budget_alloc(ctx, uw_n * sizeof *sl, "GACOS delays on the area") : NULL;
  if (!s.v || !sl) {
    budget_free(ctx, s.v);
    gt_close(ctx, rd);
    return ctx->status;
  }
  int rc = 0;
  if (s.nx && s.ny)
    rc = is_tif ? gt_read(ctx, rd, 0, s.x0, s.y0, s.nx, s.ny, GT_F32, s.v, s.nx) : read_raw_window(ctx, path, &s);
  gt_close(ctx, rd);
  if (rc) { budget_free(ctx, s.v); budget_free(ctx, sl); return ctx->status; }
  warp_window(&w, &s, uw, sl);
  budget_free(ctx, s.v);
  /* zenith (m) -> slant (rad), float32 as NumPy: ztd / U * float32(4 pi / lambda) */
  if (!is_sltd) {
    const float coef = (float)(4 * 3.141592653589793 / wavelength_m); /* 4*np.pi/wavelength */
    for (size_t i = 0; i < uw_n; i++) sl[i] = (sl[i] / u[i]) * coef;
  }
  /* no valid value in the window: the date is unusable (LiCSBAS tests the whole frame) */
  int any = 0;
  for (uint32_t y = win.y0; y < win.y1 && !any; y++)
    for (uint32_t x = win.x0; x < win.x1; x++) {
      float v = sl[(size_t)(y - uw.y0) * uw_w + (x - uw.x0)];
      if (v != 0.0f && v == v) { any = 1; break; }
    }
  if (!any) { budget_free(ctx, sl); return 0; }
  /* --fillhole: exact zeros take the float32 mean of their non-zero 8 neighbours (NaN counts
   * as non-zero); the frame is padded with zeros; neighbour order as LiCSBAS's list */
  uint32_t ww = win.x1 - win.x0;
  static const int nb[8][2] = {{-1, -1}, {-1, 0}, {-1, 1}, {0, -1}, {0, 1}, {1, -1}, {1, 0}, {1, 1}};
  for (uint32_t y = win.y0; y < win.y1; y++)
    for (uint32_t x = win.x0; x < win.x1; x++) {
      float v = sl[(size_t)(y - uw.y0) * uw_w + (x - uw.x0)];
      if (fillhole && v == 0.0f) {
        float sum = 0.0f, cnt = 0.0f;
        for (int k = 0; k < 8; k++) {
          long yy = (long)y + nb[k][0], xx = (long)x + nb[k][1];
          float nv = 0.0f;
          if (yy >= 0 && xx >= 0 && yy < (long)g->length && xx < (long)g->width)
            nv = sl[(size_t)(yy - uw.y0) * uw_w + (size_t)(xx - uw.x0)];
          sum = sum + nv;
          cnt = cnt + (float)(nv != 0.0f);
        }
        if (cnt == 0.0f) cnt = 1.0f;
        v = sum / cnt;
      }
      out[(size_t)(y - win.y0) * ww + (x - win.x0)] = v;
    }
  budget_free(ctx, sl);
  *available = 1;
  return 0;
}
