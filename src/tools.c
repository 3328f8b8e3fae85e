/* tools.c — shared plumbing of `cbas vel` and `cbas ts` (see include/cbas/tools.h): the
 * cumulative GeoTIFF and its TSDIR, grid and points, reference windows and NumPy's nanmean. */
#include "cbas/tools.h"
#include "cbas/budget.h"
#include "cbas/plat.h"
#include "cbas/step_mask.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- files */

int tools_file_exists(const char *path) {
  plat_stat st;
  return !plat_stat_path(path, &st) && st.is_file;
}

static int dir_exists(const char *path) {
  plat_stat st;
  return !plat_stat_path(path, &st) && st.is_dir;
}

static const char *base_of(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The TSDIR of a file TSDIR/results/NAME (the directory above "results" holding info/), or "". */
static void tsdir_of_file(const char *file, char *out, size_t cap) {
  char dir[1024], info[1100];
  out[0] = 0;
  snprintf(dir, sizeof dir, "%s", file);
  char *s = strrchr(dir, '/');
  if (!s) snprintf(dir, sizeof dir, ".");
  else if (s == dir) dir[1] = 0;
  else *s = 0;
  /* dir is the file's directory: it must be named results */
  if (strcmp(base_of(dir), "results")) {
    if (strcmp(dir, ".")) return;
    char cwd[1024];
    if (plat_getcwd(cwd, sizeof cwd) || strcmp(base_of(cwd), "results")) return;
  }
  snprintf(info, sizeof info, "%s/../info", dir);
  if (!dir_exists(info) || strlen(dir) + 4 > cap) return;
  memcpy(out, dir, strlen(dir));
  memcpy(out + strlen(dir), "/..", 4);
}

int tools_ts_file(cbas_ctx *ctx, const tools_cum *c, const char *sub, const char *name, char *path, size_t cap) {
  if (!c->tsdir[0]) return ctx_fail(ctx, CBAS_EUSAGE, "%s is not in a TSDIR's results/: %s/%s is unknown", c->path, sub, name);
  int n = snprintf(path, cap, "%s/%s/%s", c->tsdir, sub, name);
  if (n < 0 || (size_t)n >= cap) return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", c->tsdir);
  return 0;
}

/* ---------------------------------------------------------------- the cumulative file */

/* Grid from TSDIR/info/EQA.dem_par (as cum.h5's corner_lat...): 0, 1 = absent, or an error. */
static int grid_from_dem_par(cbas_ctx *ctx, tools_cum *c) {
  char path[1100], val[64];
  if (!c->tsdir[0] || tools_ts_file(ctx, c, "info", "EQA.dem_par", path, sizeof path) || !tools_file_exists(path))
    return 1;
  static const char *const keys[6] = {"width", "nlines", "corner_lat", "corner_lon", "post_lat", "post_lon"};
  double v[6];
  for (int k = 0; k < 6; k++) {
    if (tsdir_get_param_par(ctx, path, keys[k], "check", val, sizeof val)) return ctx->status;
    char *end;
    v[k] = strtod(val, &end);
    if (end == val || !isfinite(v[k]))
      return ctx_fail(ctx, CBAS_EFORMAT, "%s: %s '%s' is not a number", path, keys[k], val);
  }
  if (v[0] != c->width || v[1] != c->length)
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: grid %gx%g, but %s is %ux%u", path, v[0], v[1], c->path, c->width,
                    c->length);
  if (!(v[4] < 0) || !(v[5] > 0))
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: post_lat %g must be < 0 and post_lon %g > 0", path, v[4], v[5]);
  c->grid = (tools_grid){c->width, c->length, v[2], v[3], v[4], v[5]};
  c->has_grid = 1;
  c->grid_from_dem_par = 1;
  return 0;
}

int tools_cum_open(cbas_ctx *ctx, const char *ts_dir, const char *file, int which, tools_cum *c) {
  memset(c, 0, sizeof *c);
  if (file && ts_dir) return ctx_fail(ctx, CBAS_EUSAGE, "give --ts TSDIR or --cum FILE, not both");
  if (!file && !ts_dir) return ctx_fail(ctx, CBAS_EUSAGE, "no input: give --ts TSDIR or --cum FILE.tif");
  if (file) {
    if (which != TOOLS_CUM_AUTO) return ctx_fail(ctx, CBAS_EUSAGE, "--filt/--unfilt choose a TSDIR's file: not with --cum");
    if (strlen(file) >= sizeof c->path) return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", file);
    memcpy(c->path, file, strlen(file) + 1);
    tsdir_of_file(file, c->tsdir, sizeof c->tsdir);
  } else {
    char res[1100];
    snprintf(res, sizeof res, "%s/results", ts_dir);
    if (!dir_exists(res)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: not a time-series directory (no results/)", ts_dir);
    if (strlen(ts_dir) >= sizeof c->tsdir) return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", ts_dir);
    memcpy(c->tsdir, ts_dir, strlen(ts_dir) + 1);
    char filt[1200], unfilt[1200];
    snprintf(filt, sizeof filt, "%s/cum_filt.tif", res);
    snprintf(unfilt, sizeof unfilt, "%s/cum.tif", res);
    const char *pick = which == TOOLS_CUM_FILT ? filt : which == TOOLS_CUM_UNFILT ? unfilt
                       : tools_file_exists(filt) ? filt : unfilt;
    if (!tools_file_exists(pick))
      return ctx_fail(ctx, CBAS_EUSAGE, "%s is missing: run cbas %s first", pick, pick == filt ? "filter" : "invert");
    if (strlen(pick) >= sizeof c->path) return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", ts_dir);
    memcpy(c->path, pick, strlen(pick) + 1);
  }
  if (!tools_file_exists(c->path)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: no such file", c->path);
  c->filtered = !strncmp(base_of(c->path), "cum_filt", 8);
  if (gt_open(ctx, c->path, &c->r)) return ctx->status;
  const gt_info *in = gt_get_info(c->r);
  c->width = in->width;
  c->length = in->height;
  c->geo = in->geo;
  if (in->bands > 100000) return ctx_fail(ctx, CBAS_EFORMAT, "%s: %u bands is not a time series", c->path, in->bands);
  c->n_epoch = (int)in->bands;
  c->date = malloc((size_t)c->n_epoch * sizeof *c->date);
  c->day = malloc((size_t)c->n_epoch * sizeof *c->day);
  if (!c->date || !c->day) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory for %d epochs", c->n_epoch);
  for (int e = 0; e < c->n_epoch; e++) {
    const char *d = gt_band_desc(c->r, (uint32_t)e);
    if (!d || strlen(d) != 8 || !lb_valid_date(d))
      return ctx_fail(ctx, CBAS_EFORMAT, "%s: band %d has no date (description '%s', expected YYYYMMDD)", c->path,
                      e + 1, d ? d : "");
    memcpy(c->date[e], d, 9);
    c->day[e] = lb_day_number(d);
    if (e && c->day[e] <= c->day[e - 1])
      return ctx_fail(ctx, CBAS_EFORMAT, "%s: band %d date %s does not follow %s", c->path, e + 1, d, c->date[e - 1]);
  }
  int g = grid_from_dem_par(ctx, c);
  if (g == 1 && in->geo.has_gt && in->geo.gt[2] == 0 && in->geo.gt[4] == 0 && in->geo.gt[1] > 0 && in->geo.gt[5] < 0) {
    const double *t = in->geo.gt;
    c->grid = (tools_grid){c->width, c->length, t[3] + t[5] / 2, t[0] + t[1] / 2, t[5], t[1]};
    c->has_grid = 1;
  }
  return g == 1 ? 0 : g;
}

void tools_cum_close(cbas_ctx *ctx, tools_cum *c) {
  if (c->r) gt_close(ctx, c->r);
  free(c->date);
  free(c->day);
  c->r = NULL;
  c->date = NULL;
  c->day = NULL;
}

/* ---------------------------------------------------------------- points */

int tools_point_xy(const tools_grid *g, double lon, double lat, uint32_t *x, uint32_t *y) {
  double fx = rint((lon - g->lon1) / g->post_lon), fy = rint((lat - g->lat1) / g->post_lat);
  if (!(fx >= 0 && fx < g->width && fy >= 0 && fy < g->length)) return -1;
  *x = (uint32_t)fx;
  *y = (uint32_t)fy;
  return 0;
}

void tools_xy_point(const tools_grid *g, uint32_t x, uint32_t y, double *lon, double *lat) {
  *lat = g->lat1 + g->post_lat * (double)y;
  *lon = g->lon1 + g->post_lon * (double)x;
}

/* ---------------------------------------------------------------- reference */

int tools_ref_resolve(cbas_ctx *ctx, const tools_cum *c, const tools_ref_opts *o, lb_range *ref, int *have,
                      char *desc, size_t cap) {
  char why[256];
  int has_pt = !isnan(o->lon) || !isnan(o->lat);
  *have = 0;
  if ((o->window != NULL) + (o->geo != NULL) + has_pt > 1)
    return ctx_fail(ctx, CBAS_EUSAGE, "give one reference: --ref, --ref-geo or --ref-lon/--ref-lat");
  if (o->window) {
    if (lb_read_range(o->window, c->width, c->length, ref, why, sizeof why))
      return ctx_fail(ctx, CBAS_EUSAGE, "--ref: %s", why);
    snprintf(desc, cap, "%u:%u/%u:%u", ref->x0, ref->x1, ref->y0, ref->y1);
  } else if (o->geo || has_pt) {
    if (!c->has_grid)
      return ctx_fail(ctx, CBAS_EUSAGE, "%s has no north-up georeferencing: give the reference as --ref X1:X2/Y1:Y2",
                      c->path);
    if (o->geo) {
      const tools_grid *g = &c->grid;
      if (lb_read_range_geo(o->geo, c->width, c->length, g->lat1, g->post_lat, g->lon1, g->post_lon, ref, why,
                            sizeof why))
        return ctx_fail(ctx, CBAS_EUSAGE, "--ref-geo: %s", why);
      snprintf(desc, cap, "%u:%u/%u:%u (--ref-geo %s)", ref->x0, ref->x1, ref->y0, ref->y1, o->geo);
    } else {
      uint32_t x, y;
      if (isnan(o->lon) || isnan(o->lat)) return ctx_fail(ctx, CBAS_EUSAGE, "--ref-lon and --ref-lat go together");
      if (tools_point_xy(&c->grid, o->lon, o->lat, &x, &y))
        return ctx_fail(ctx, CBAS_EUSAGE, "reference point lon %.6f lat %.6f is outside the grid of %s", o->lon,
                        o->lat, c->path);
      *ref = (lb_range){x, x + 1, y, y + 1};
      snprintf(desc, cap, "%u:%u/%u:%u (lon %.6f lat %.6f)", x, x + 1, y, y + 1, o->lon, o->lat);
    }
  } else {
    /* the file's own reference, as cum.h5's refarea: 13ref for cum, 16ref for cum_filt */
    const char *name = c->filtered ? "16ref.txt" : "13ref.txt";
    char path[1100], line[128] = "";
    if (!c->tsdir[0]) return 0;
    if (tools_ts_file(ctx, c, "info", name, path, sizeof path)) return ctx->status;
    FILE *f = fopen(path, "r");
    if (!f) return ctx_fail(ctx, CBAS_EUSAGE, "%s is missing: run cbas %s first, or give --ref", path,
                            c->filtered ? "filter" : "invert");
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
    line[strcspn(line, " \t\r\n")] = 0;
    if (lb_read_range(line, c->width, c->length, ref, why, sizeof why))
      return ctx_fail(ctx, CBAS_EFORMAT, "%s: %s", path, why);
    snprintf(desc, cap, "%u:%u/%u:%u (info/%s)", ref->x0, ref->x1, ref->y0, ref->y1, name);
  }
  *have = 1;
  return 0;
}

/* ---------------------------------------------------------------- mask and rows */

int tools_mask_open(cbas_ctx *ctx, const tools_cum *c, int use_mask, const char *mask_file, gt_reader **out) {
  char path[1100];
  *out = NULL;
  if (use_mask && mask_file) return ctx_fail(ctx, CBAS_EUSAGE, "give --mask or --mask-file FILE, not both");
  if (!use_mask && !mask_file) return 0;
  if (mask_file) {
    snprintf(path, sizeof path, "%s", mask_file);
    if (!tools_file_exists(path)) return ctx_fail(ctx, CBAS_EUSAGE, "--mask-file %s: no such file", mask_file);
  }
  else {
    if (!c->tsdir[0]) return ctx_fail(ctx, CBAS_EUSAGE, "--mask: %s is not in a TSDIR: use --mask-file FILE", c->path);
    if (tools_ts_file(ctx, c, "results", "mask.tif", path, sizeof path)) return ctx->status;
    if (!tools_file_exists(path)) return ctx_fail(ctx, CBAS_EUSAGE, "%s is missing: run cbas mask-ts first", path);
  }
  if (gt_open(ctx, path, out)) return ctx->status;
  const gt_info *in = gt_get_info(*out);
  if (in->width != c->width || in->height != c->length) {
    ctx_fail(ctx, CBAS_EUSAGE, "mask %s is %ux%u, %s is %ux%u", path, in->width, in->height, c->path, c->width,
             c->length);
    gt_close(ctx, *out);
    *out = NULL;
    return ctx->status;
  }
  return 0;
}

int tools_mask_rows(cbas_ctx *ctx, gt_reader *m, uint32_t width, uint32_t y0, uint32_t ny, float *dst) {
  size_t n = (size_t)width * ny;
  if (!m) {
    for (size_t i = 0; i < n; i++) dst[i] = 1.0f;
    return 0;
  }
  if (gt_read(ctx, m, 0, 0, y0, width, ny, GT_F32, dst, width)) return ctx->status;
  for (size_t i = 0; i < n; i++)
    if (dst[i] == 0.0f) dst[i] = NAN;
  return 0;
}

int tools_cum_rows(cbas_ctx *ctx, const tools_cum *c, int e0, int ne, uint32_t x0, uint32_t nx, uint32_t y0,
                   uint32_t ny, float *dst) {
  return gt_read_bands(ctx, c->r, (uint32_t)e0, (uint32_t)ne, x0, y0, nx, ny, GT_F32, dst, (size_t)ne * nx, nx);
}

/* ---------------------------------------------------------------- NumPy's nanmean */

/* NumPy reduces a contiguous float32 run through its iterator buffer: pairwise sums
 * (lb_np_sum_f32) of consecutive runs of 8192 values, added in order to a total starting at 0. */
#define NP_BUFSIZE 8192

float tools_np_nanmean_f32(const float *a, size_t n, size_t stride) {
  float sum = 0.0f;
  size_t valid = 0;
  for (size_t i = 0; i < n; i += NP_BUFSIZE) {
    size_t k = n - i < NP_BUFSIZE ? n - i : NP_BUFSIZE;
    sum += lb_np_sum_f32(a + i * stride, k, stride);
  }
  for (size_t i = 0; i < n; i++) valid += !isnan(a[i * stride]);
  return valid ? (float)((double)sum / (double)valid) : NAN;
}

int tools_ref_series(cbas_ctx *ctx, const tools_cum *c, gt_reader *mask, const lb_range *win, int e0, int ne,
                     float *ref) {
  const uint32_t wx = win->x1 - win->x0, wy = win->y1 - win->y0;
  const uint64_t n_win = (uint64_t)wx * wy;
  const size_t chunk = n_win < NP_BUFSIZE ? (size_t)n_win : NP_BUFSIZE;
  float *buf = budget_alloc(ctx, (size_t)ne * chunk * sizeof(float), "reference window sums");
  float *row = budget_alloc(ctx, ((size_t)ne + 1) * wx * sizeof(float), "reference window rows");
  float *sum = calloc((size_t)ne, sizeof *sum);
  uint64_t *valid = calloc((size_t)ne, sizeof *valid);
  size_t fill = 0;
  if (!sum || !valid) ctx_fail(ctx, CBAS_ENOMEM, "out of memory for %d epochs", ne);
  for (uint32_t y = win->y0; !ctx->status && y < win->y1; y++) {
    float *mrow = row + (size_t)ne * wx;
    if (tools_cum_rows(ctx, c, e0, ne, win->x0, wx, y, 1, row)) break;
    if (mask) {
      if (gt_read(ctx, mask, 0, win->x0, y, wx, 1, GT_F32, mrow, wx)) break;
      for (uint32_t x = 0; x < wx; x++)
        if (mrow[x] == 0.0f) mrow[x] = NAN;
    }
    for (uint32_t x0 = 0; x0 < wx;) {
      uint32_t take = wx - x0;
      if (take > chunk - fill) take = (uint32_t)(chunk - fill);
      for (int e = 0; e < ne; e++) {
        const float *v = row + (size_t)e * wx + x0;
        float *b = buf + (size_t)e * chunk + fill;
        for (uint32_t i = 0; i < take; i++) {
          float p = mask ? v[i] * mrow[x0 + i] : v[i];
          valid[e] += !isnan(p);
          b[i] = isnan(p) ? 0.0f : p;
        }
      }
      fill += take;
      x0 += take;
      if (fill == chunk) {
        for (int e = 0; e < ne; e++) sum[e] += lb_np_sum_f32(buf + (size_t)e * chunk, chunk, 1);
        fill = 0;
      }
    }
  }
  if (!ctx->status && fill)
    for (int e = 0; e < ne; e++) sum[e] += lb_np_sum_f32(buf + (size_t)e * chunk, fill, 1);
  if (!ctx->status)
    for (int e = 0; e < ne; e++) ref[e] = valid[e] ? (float)((double)sum[e] / (double)valid[e]) : NAN;
  budget_free(ctx, buf);
  budget_free(ctx, row);
  free(sum);
  free(valid);
  return ctx->status;
}

/* ---------------------------------------------------------------- shared options */

void tools_in_defaults(tools_in_opts *o) {
  memset(o, 0, sizeof *o);
  o->ref.lon = o->ref.lat = NAN;
}

void tools_in_cli(cli_opt *opts, tools_in_opts *o) {
  const cli_opt t[TOOLS_IN_N_OPTS] = {
      {"ts", CLI_STR, &o->ts, "TSDIR", "time-series directory (reads results/cum_filt.tif, else cum.tif)"},
      {"cum", CLI_STR, &o->cum, "FILE.tif", "a cumulative GeoTIFF instead (one band per epoch, mm)"},
      {"filt", CLI_FLAG, &o->filt, NULL, "use the TSDIR's cum_filt.tif (error if missing)"},
      {"unfilt", CLI_FLAG, &o->unfilt, NULL, "use the TSDIR's cum.tif"},
      {"ref", CLI_STR, &o->ref.window, "X1:X2/Y1:Y2", "reference window in pixels, its mean (default: the file's 13ref/16ref)"},
      {"ref-window", CLI_STR, &o->ref_window2, "X1:X2/Y1:Y2", "same as --ref"},
      {"ref-geo", CLI_STR, &o->ref.geo, "W/E/S/N", "reference window in degrees (lonW/lonE/latS/latN)"},
      {"ref-lon", CLI_DBL, &o->ref.lon, "DEG", "reference point longitude (its pixel; with --ref-lat)"},
      {"ref-lat", CLI_DBL, &o->ref.lat, "DEG", "reference point latitude"},
      {"mask", CLI_FLAG, &o->use_mask, NULL, "apply the TSDIR's results/mask.tif (0 = masked)"},
      {"mask-file", CLI_STR, &o->mask_file, "FILE.tif", "apply this mask (0 = masked) instead"},
  };
  memcpy(opts, t, sizeof t);
}

int tools_in_open(cbas_ctx *ctx, const tools_in_opts *o, tools_cum *c, gt_reader **mask, lb_range *ref, int *have,
                  char *desc, size_t cap) {
  *mask = NULL;
  *have = 0;
  if (o->filt && o->unfilt) return ctx_fail(ctx, CBAS_EUSAGE, "--filt and --unfilt exclude each other");
  int which = o->filt ? TOOLS_CUM_FILT : o->unfilt ? TOOLS_CUM_UNFILT : TOOLS_CUM_AUTO;
  if (tools_cum_open(ctx, o->ts, o->cum, which, c)) return ctx->status;
  tools_ref_opts ro = o->ref;
  if (o->ref_window2) {
    if (ro.window) return ctx_fail(ctx, CBAS_EUSAGE, "--ref and --ref-window are the same option: give one");
    ro.window = o->ref_window2;
  }
  if (tools_ref_resolve(ctx, c, &ro, ref, have, desc, cap)) return ctx->status;
  return tools_mask_open(ctx, c, o->use_mask, o->mask_file, mask);
}

int tools_ref_values(cbas_ctx *ctx, const tools_cum *c, gt_reader *mask, const lb_range *ref, int have,
                     const char *desc, int e0, int ne, float *out) {
  if (!have) {
    for (int e = 0; e < ne; e++) out[e] = 0.0f;
    return 0;
  }
  if (tools_ref_series(ctx, c, mask, ref, e0, ne, out)) return ctx->status;
  for (int e = 0; e < ne; e++)
    if (!isnan(out[e])) return 0;
  return ctx_fail(ctx, CBAS_EDATA, "reference %s has only NaN values in %s", desc, c->path);
}

/* ---------------------------------------------------------------- quicklooks */

typedef struct ql_src { cbas_ctx *ctx; gt_reader *r; uint32_t width; } ql_src;

static int ql_read(void *ud, uint32_t y0, uint32_t ny, float *dst, size_t stride) {
  ql_src *q = ud;
  return gt_read(q->ctx, q->r, 0, 0, y0, q->width, ny, GT_F32, dst, stride) ? q->ctx->status : 0;
}

int tools_quicklook(cbas_ctx *ctx, const char *tif, const char *png, const char *title, const char *units,
                    plot_cmap cmap, double vmin, double vmax) {
  gt_reader *r = NULL;
  if (gt_open(ctx, tif, &r)) return ctx->status;
  const gt_info *in = gt_get_info(r);
  ql_src q = {ctx, r, in->width};
  plot_source src = {in->width, in->height, ql_read, &q};
  plot_ql_opts o = {title, units, vmin, vmax, cmap, 1.0, 0, 0};
  plot_quicklook(ctx, png, &o, &src, NULL);
  gt_close(ctx, r);
  return ctx->status;
}
