/* cmd_ts.c — `cbas ts`: the displacement time series at one point, as LiCSBAS_cum2tstxt.py
 * v1.2.1 writes it (digest §13), or as CSV.
 *
 * Series (mm): ts = cum[:, y, x]*mask(x, y); ref_e = NumPy nanmean over the reference window of
 * cum_e*mask (tools_ref_series); d = ts - ref (float32); d -= d[0] (the first epoch is 0). The
 * point is the nearest pixel of --lon/--lat (round-half-even, tools.h) or --xy X/Y. The
 * reference is --ref / --ref-geo / --ref-lon+--ref-lat, else the file's own (info/13ref.txt for
 * cum.tif, info/16ref.txt for cum_filt.tif, as cum.h5's refarea); a file outside a TSDIR
 * without a reference option is used as stored (only the first epoch is subtracted).
 *
 * Text output (LiCSBAS's make_tstxt, same header lines and "YYYYMMDD %7.2f" rows):
 *   # x, y    : X, Y
 *   # lat, lon: LAT, LON                       (%.5f; when the grid is known)
 *   # ref     : x1:x2/y1:y2
 *   # refgeo  : lonW/lonE/latS/latN            (%.5f, pixel centres of the window's corners)
 *   # deramp, filtwidth_km, filtwidth_yr : D, KM, YR   (cum_filt, from info/16parameters.txt)
 *   # hgt_linear_flag : 0|1                    (cum_filt)
 *   # gap     : ...                            (see below)
 *   # linear model: V*t+C                      (OLS of d on [1, t], t = days/365.25 in double,
 *                                               NaN epochs dropped; %.3f / %+.3f)
 * Divergences: LiCSBAS lists the pixel's network gaps from cum.h5's gap cube, which a TSDIR
 * does not keep; the gap line is LiCSBAS's empty list when results/n_gap.tif says the pixel has
 * no gap, and says how many gaps there are otherwise (omitted outside a TSDIR). A first epoch
 * that is NaN is an error here (LiCSBAS would write a series of nan).
 * CSV output (--csv): "date,t_yr,disp_mm" then one row per epoch: ISO date, years since the
 * first epoch (%.6f), the value with 9 significant digits (empty when NaN).
 *
 * Memory: the series (3 floats per epoch) plus tools_ref_series for the window.
 */
#include "cbas/cli.h"
#include "cbas/linalg.h"
#include "cbas/step_mask.h"
#include "cbas/tools.h"
#include "cbas/tsdir.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ts_opts {
  tools_in_opts in;
  const char *xy, *out;
  double lon, lat;
  int csv;
} ts_opts;

/* OLS of d on [1, t] over the valid epochs (statsmodels OLS, missing='drop'). */
static void linear_model(int n, const double *t, const float *d, double *vel, double *c) {
  double *a = malloc(((size_t)2 * n + (n > 2 ? n : 2) + la_lstsq_work(n, 2)) * sizeof *a);
  int m = 0, iw[2];
  *vel = *c = NAN;
  if (!a) return;
  double *b = a + 2 * (size_t)n, *w = b + (n > 2 ? n : 2);
  for (int i = 0; i < n; i++)
    if (!isnan(d[i])) {
      a[m] = 1.0;
      a[m + n] = t[i];
      b[m++] = d[i];
    }
  if (!la_lstsq(m, 2, 1, a, n, b, n > 2 ? n : 2, -1, w, iw, NULL)) {
    *c = b[0];
    *vel = b[1];
  }
  free(a);
}

/* The cum_filt header lines from info/16parameters.txt, as cum2tstxt prints cum_filt.h5's
 * deramp_flag (b'1' / []), float(filtwidth_km), filtwidth_yr and hgt_linear_flag. */
static int filt_lines(cbas_ctx *ctx, const tools_cum *c, tsdir_text *x) {
  char path[1100], km[64], yr[64], deg[64], hl[64], kmf[64], y3[64];
  if (tools_ts_file(ctx, c, "info", "16parameters.txt", path, sizeof path)) return ctx->status;
  if (tsdir_get_param_par(ctx, path, "filtwidth_km", "filter", km, sizeof km) ||
      tsdir_get_param_par(ctx, path, "filtwidth_yr", "filter", yr, sizeof yr) ||
      tsdir_get_param_par(ctx, path, "deg_ramp", "filter", deg, sizeof deg) ||
      tsdir_get_param_par(ctx, path, "hgt_linear", "filter", hl, sizeof hl))
    return ctx->status;
  lb_pyfloat(kmf, sizeof kmf, strtod(km, NULL));
  tsdir_text_printf(x, "# deramp, filtwidth_km, filtwidth_yr : %s%s%s, %s, %s\n", strcmp(deg, "[]") ? "b'" : "", deg,
                    strcmp(deg, "[]") ? "'" : "", kmf, tsdir_fmt_f(y3, sizeof y3, 0, 3, strtod(yr, NULL)));
  tsdir_text_printf(x, "# hgt_linear_flag : %s\n", hl);
  return 0;
}

static int gap_line(cbas_ctx *ctx, const tools_cum *c, uint32_t x, uint32_t y, tsdir_text *t) {
  char path[1100];
  if (!c->tsdir[0] || tools_ts_file(ctx, c, "results", "n_gap.tif", path, sizeof path) || !tools_file_exists(path))
    return 0;
  gt_reader *r = NULL;
  float v = NAN;
  if (gt_open(ctx, path, &r)) return ctx->status;
  const gt_info *in = gt_get_info(r);
  if (in->width == c->width && in->height == c->length) gt_read(ctx, r, 0, x, y, 1, 1, GT_F32, &v, 1);
  gt_close(ctx, r);
  if (ctx->status) return ctx->status;
  if (v == 0.0f) tsdir_text_printf(t, "# gap     : \n");
  else if (v > 0) tsdir_text_printf(t, "# gap     : %.0f gap(s) in the network here, dates not kept in the TSDIR\n", (double)v);
  return 0;
}

static int run_ts(cbas_ctx *ctx, const ts_opts *o) {
  tools_cum c;
  gt_reader *mask = NULL;
  float *buf = NULL;
  double *t = NULL;
  tsdir_text txt = {0};
  lb_range ref;
  int have_ref;
  char ref_desc[256];
  if (tools_in_open(ctx, &o->in, &c, &mask, &ref, &have_ref, ref_desc, sizeof ref_desc)) goto done;
  const int n = c.n_epoch;
  /* the point */
  uint32_t x = 0, y = 0;
  double lon = NAN, lat = NAN;
  if (o->xy) {
    if (!isnan(o->lon) || !isnan(o->lat)) { ctx_fail(ctx, CBAS_EUSAGE, "give --xy or --lon/--lat, not both"); goto done; }
    long lx, ly;
    char tail;
    if (sscanf(o->xy, "%ld/%ld%c", &lx, &ly, &tail) != 2 || lx < 0 || ly < 0 || lx >= (long)c.width || ly >= (long)c.length) {
      ctx_fail(ctx, CBAS_EUSAGE, "--xy %s: not a pixel X/Y of the %ux%u grid of %s", o->xy, c.width, c.length, c.path);
      goto done;
    }
    x = (uint32_t)lx;
    y = (uint32_t)ly;
  } else {
    if (isnan(o->lon) || isnan(o->lat)) { ctx_fail(ctx, CBAS_EUSAGE, "give the point: --lon X --lat Y (or --xy X/Y)"); goto done; }
    if (!c.has_grid) {
      ctx_fail(ctx, CBAS_EUSAGE, "%s has no north-up georeferencing: give the point as --xy X/Y", c.path);
      goto done;
    }
    if (tools_point_xy(&c.grid, o->lon, o->lat, &x, &y)) {
      double l0, l1, a0, a1;
      tools_xy_point(&c.grid, 0, 0, &l0, &a1);
      tools_xy_point(&c.grid, c.width - 1, c.length - 1, &l1, &a0);
      ctx_fail(ctx, CBAS_EUSAGE, "point lon %.6f lat %.6f is outside the grid of %s (pixel centres lon %.6f..%.6f, lat %.6f..%.6f)",
               o->lon, o->lat, c.path, l0, l1, a0, a1);
      goto done;
    }
  }
  if (c.has_grid) tools_xy_point(&c.grid, x, y, &lon, &lat);
  buf = malloc((size_t)n * 3 * sizeof *buf);
  t = malloc((size_t)n * sizeof *t);
  if (!buf || !t) { ctx_fail(ctx, CBAS_ENOMEM, "out of memory for %d epochs", n); goto done; }
  float *ts = buf, *refv = buf + n, *d = buf + 2 * (size_t)n, m = 1.0f;
  if (tools_cum_rows(ctx, &c, 0, n, x, 1, y, 1, ts)) goto done;
  if (mask && gt_read(ctx, mask, 0, x, y, 1, 1, GT_F32, &m, 1)) goto done;
  if (m == 0.0f) m = NAN;
  int any = 0;
  for (int e = 0; e < n; e++) {
    ts[e] = ts[e] * m;
    any |= !isnan(ts[e]);
  }
  if (!any) {
    ctx_fail(ctx, CBAS_EDATA, "no data at lon %.6f lat %.6f (pixel %u/%u) of %s%s", lon, lat, x, y, c.path,
             mask && isnan(m) ? ": the pixel is masked" : ": every epoch is NaN");
    goto done;
  }
  if (tools_ref_values(ctx, &c, mask, &ref, have_ref, ref_desc, 0, n, refv)) goto done;
  for (int e = 0; e < n; e++) d[e] = ts[e] - refv[e];
  if (isnan(d[0])) {
    ctx_fail(ctx, CBAS_EDATA, "first epoch %s is NaN at pixel %u/%u%s: the series cannot be referenced to it", c.date[0],
             x, y, isnan(refv[0]) ? " (in the reference window)" : "");
    goto done;
  }
  float d0 = d[0];
  for (int e = 0; e < n; e++) d[e] = d[e] - d0;
  for (int e = 0; e < n; e++) t[e] = (double)(c.day[e] - c.day[0]) / 365.25;
  /* output */
  char f1[64], f2[64], f3[64];
  if (o->csv) {
    tsdir_text_printf(&txt, "date,t_yr,disp_mm\n");
    for (int e = 0; e < n; e++) {
      tsdir_text_printf(&txt, "%.4s-%.2s-%.2s,%.6f,", c.date[e], c.date[e] + 4, c.date[e] + 6, t[e]);
      if (isnan(d[e])) tsdir_text_printf(&txt, "\n");
      else tsdir_text_printf(&txt, "%.9g\n", (double)d[e]);
    }
  } else {
    double vel, vc;
    linear_model(n, t, d, &vel, &vc);
    tsdir_text_printf(&txt, "# x, y    : %u, %u\n", x, y);
    if (c.has_grid) tsdir_text_printf(&txt, "# lat, lon: %.5f, %.5f\n", lat, lon);
    if (have_ref) {
      tsdir_text_printf(&txt, "# ref     : %u:%u/%u:%u\n", ref.x0, ref.x1, ref.y0, ref.y1);
      if (c.has_grid) {
        double rlon1, rlat2, rlon2, rlat1;
        tools_xy_point(&c.grid, ref.x0, ref.y0, &rlon1, &rlat2);
        tools_xy_point(&c.grid, ref.x1 - 1, ref.y1 - 1, &rlon2, &rlat1);
        tsdir_text_printf(&txt, "# refgeo  : %.5f/%.5f/%.5f/%.5f\n", rlon1, rlon2, rlat1, rlat2);
      }
    } else {
      tsdir_text_printf(&txt, "# ref     : none (values as stored in the file)\n");
    }
    if (c.filtered && c.tsdir[0] && filt_lines(ctx, &c, &txt)) goto done;
    if (gap_line(ctx, &c, x, y, &txt)) goto done;
    tsdir_text_printf(&txt, "# linear model: %s*t%s%s\n", tsdir_fmt_f(f1, sizeof f1, 0, 3, vel),
                      isnan(vc) || !signbit(vc) ? "+" : "", tsdir_fmt_f(f2, sizeof f2, 0, 3, vc));
    for (int e = 0; e < n; e++) tsdir_text_printf(&txt, "%s %s\n", c.date[e], tsdir_fmt_f(f3, sizeof f3, 7, 2, d[e]));
  }
  char def[64];
  const char *out = o->out;
  if (!out) {
    snprintf(def, sizeof def, "ts_%u_%u.%s", x, y, o->csv ? "csv" : "txt");
    out = def;
  }
  if (!strcmp(out, "-")) {
    if (txt.oom) ctx_fail(ctx, CBAS_ENOMEM, "out of memory for the text");
    else fwrite(txt.buf, 1, txt.len, stdout);
    tsdir_text_free(&txt);
  } else if (tsdir_text_put(ctx, &txt, out)) {
    goto done;
  } else {
    ctx_info(ctx, "cbas ts: %s: pixel %u/%u (lon %.5f lat %.5f) of %s, %d epochs, reference %s\n", out, x, y, lon,
             lat, c.path, n, have_ref ? ref_desc : "none");
  }
done:
  tsdir_text_free(&txt);
  free(buf);
  free(t);
  if (mask) gt_close(ctx, mask);
  tools_cum_close(ctx, &c);
  return ctx->status;
}

int cmd_ts(int argc, char **argv) {
  ts_opts o;
  memset(&o, 0, sizeof o);
  tools_in_defaults(&o.in);
  o.lon = o.lat = NAN;
  cli_opt opts[TOOLS_IN_N_OPTS + 5] = {
      {"lon", CLI_DBL, &o.lon, "DEG", "longitude of the point (nearest pixel)"},
      {"lat", CLI_DBL, &o.lat, "DEG", "latitude of the point"},
      {"xy", CLI_STR, &o.xy, "X/Y", "the point as a pixel (0-based column/row) instead"},
      {"csv", CLI_FLAG, &o.csv, NULL, "write CSV (date,t_yr,disp_mm) instead of LiCSBAS's text"},
      {"out", CLI_STR, &o.out, "FILE", "output file (default ts_X_Y.txt or .csv; - = standard output)"},
  };
  tools_in_cli(opts + 5, &o.in);
  cli_common common;
  char err[512];
  int st = cli_parse("ts", "--ts TSDIR | --cum FILE.tif  --lon X --lat Y | --xy X/Y  [--ref X1:X2/Y1:Y2 | --ref-geo W/E/S/N | --ref-lon X --ref-lat Y] [--mask] [--csv] [--out FILE]",
                     "The displacement time series (mm) at the pixel nearest a point, referenced to a window "
                     "(its mean; default: the file's own reference, 13ref or 16ref) and to the first epoch, "
                     "written as LiCSBAS_cum2tstxt.py does (header lines, then YYYYMMDD and the value) or as "
                     "CSV with ISO dates. Use the same --ref-lon/--ref-lat for every frame of an area to share "
                     "one reference point.",
                     opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (st == 1) return 0;
  if (st) { fprintf(stderr, "cbas ts: %s\n", err); return 2; }
  cbas_ctx ctx;
  if (!cli_ctx_init(&ctx, &common)) run_ts(&ctx, &o);
  return cli_finish(&ctx, "ts");
}
