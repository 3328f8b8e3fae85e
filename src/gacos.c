/* gacos.c — GACOS delays resampled as LiCSBAS step 03 does (see include/cbas/gacos.h).
 *
 * LiCSBAS calls gdal.Warp(outputBounds=(corner_lon, lat_s, lon_e, corner_lat), width=W,
 * height=L, resampleAlg='cubicspline', srcNodata=0). The resampling is warp.h's emulation of
 * GDAL 3.6's warper (WARP_CUBICSPLINE, nodata 0, unset pixels 0), planned for the whole frame
 * as GDAL warps it in one chunk; this file reads the products, reads the source rows the
 * requested window needs, and turns zenith into slant delays. */
#include "cbas/gacos.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cbas/plat.h"
#include "cbas/warp.h"
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

/* ---------------------------------------------------------------- source products */

/* A GACOS product: its raster size and geotransform. */
typedef struct src_data {
  uint32_t w, h;
  double gt[6];
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

/* ---------------------------------------------------------------- reading a product */

/* Columns [x0, x0+nx) of rows [y0, y0+ny) of a raw little-endian float32 raster w x h into v
 * (stride nx). */
static int read_raw_rows(cbas_ctx *ctx, const char *path, const src_data *s, uint32_t x0, uint32_t nx, uint32_t y0,
                         uint32_t ny, float *v) {
  int fd, e = plat_open(path, PLAT_RDONLY, &fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: cannot open: %s", path, plat_strerror(e));
  uint64_t size = 0;
  plat_fsize(fd, &size);
  if (size < (uint64_t)s->w * s->h * 4) {
    plat_close(fd);
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: %llu bytes, the .rsc says %u x %u float32", path,
                    (unsigned long long)size, s->w, s->h);
  }
  for (uint32_t r = 0; r < ny && !e; r++) {
    size_t got = 0, n = (size_t)nx * 4;
    e = plat_pread(fd, v + (size_t)r * nx, n, ((uint64_t)(y0 + r) * s->w + x0) * 4, &got);
    if (!e && got != n) e = plat_err_io();
  }
  plat_close(fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: read failed: %s", path, plat_strerror(e));
  /* little-endian float32 on disk (LiCSBAS reads BYTEORDER I) */
  const uint16_t probe = 1;
  if (*(const uint8_t *)&probe != 1)
    for (size_t i = 0; i < (size_t)nx * ny; i++) {
      uint8_t *b = (uint8_t *)&v[i], t0 = b[0], t1 = b[1];
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
  /* the whole frame is the destination (GDAL's source window and kernel scales come from it);
   * only the rows of the window grown by one pixel are computed, from the source rows they need */
  double lonw = g->lon1, latn = g->lat1;
  double lats = latn + g->post_lat * (double)(g->length - 1), lone = lonw + g->post_lon * (double)(g->width - 1);
  double dgt[6];
  warp_dst_gt(lonw, lats, lone, latn, g->width, g->length, dgt);
  warp_plan w;
  warp_plan_init(&w, WARP_CUBICSPLINE, g->width, g->length, dgt, s.w, s.h, s.gt);
  warp_plan_nodata(&w, 0.0f, 0.0f);
  lb_range uw = gacos_u_window(g, win);
  size_t uw_w = uw.x1 - uw.x0, uw_n = uw_w * (uw.y1 - uw.y0);
  uint32_t r0, r1;
  warp_src_rows(&w, uw.y0, uw.y1 - uw.y0, &r0, &r1);
  float *rows = budget_alloc(ctx, (size_t)(r1 - r0 ? r1 - r0 : 1) * (w.nx ? w.nx : 1) * sizeof *rows, "GACOS source rows");
  float *sl = rows ? budget_alloc(ctx, uw_n * sizeof *sl, "GACOS delays on the area") : NULL;
  if (!rows || !sl) {
    budget_free(ctx, rows);
    gt_close(ctx, rd);
    return ctx->status;
  }
  int rc = 0;
  if (r1 > r0)
    rc = is_tif ? gt_read(ctx, rd, 0, w.x0, w.y0 + r0, w.nx, r1 - r0, GT_F32, rows, w.nx)
                : read_raw_rows(ctx, path, &s, w.x0, w.nx, w.y0 + r0, r1 - r0, rows);
  gt_close(ctx, rd);
  if (rc) { budget_free(ctx, rows); budget_free(ctx, sl); return ctx->status; }
  for (uint32_t y = uw.y0; y < uw.y1; y++) warp_row_part(&w, y, uw.x0, uw.x1, rows, r0, r1, sl + (size_t)(y - uw.y0) * uw_w);
  budget_free(ctx, rows);
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
