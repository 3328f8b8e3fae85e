/* cmd_png.c — `cbas png FILE.tif --out OUT.png`: a PNG quicklook of one GeoTIFF band with a
 * colour bar (plot_quicklook), read in blocks of rows so any frame size fits the budget.
 *
 * Colour range: --vmin/--vmax, else --range-pct LO:HI (those percentiles of the band, as
 * LiCSBAS's nanpercentile ranges, not rounded), else automatic (plot_auto_range: LiCSBAS's
 * 1st..99th percentiles of the band, symmetric about 0 for the velocity map, −p99/3..p99 for
 * terrain, widened to round numbers).
 * The GeoTIFF's nodata value, NaN and ±Inf are shown as "no data".
 * Memory: one block of rows (~1 MB) + the picture (<= 2.6 MB) + the PNG writer (~0.3 MB) + the
 * GeoTIFF reader's strip or tile.
 */
#include "cbas/cli.h"
#include "cbas/gtiff.h"
#include "cbas/plot.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct band_src {
  cbas_ctx *ctx;
  gt_reader *r;
  uint32_t band, width;
  int has_nodata;
  float nodata;
} band_src;

static int read_band_rows(void *ud, uint32_t y0, uint32_t ny, float *dst, size_t stride) {
  band_src *b = ud;
  if (gt_read(b->ctx, b->r, b->band, 0, y0, b->width, ny, GT_F32, dst, stride)) return b->ctx->status;
  if (b->has_nodata && !isnan(b->nodata))
    for (uint32_t r = 0; r < ny; r++)
      for (uint32_t x = 0; x < b->width; x++)
        if (dst[r * stride + x] == b->nodata) dst[r * stride + x] = NAN;
  return 0;
}

/* File name without directories and without a .tif/.tiff extension. */
static void base_name(const char *path, char *out, size_t cap) {
  const char *s = strrchr(path, '/');
  snprintf(out, cap, "%s", s ? s + 1 : path);
  char *dot = strrchr(out, '.');
  if (dot && (!strcmp(dot, ".tif") || !strcmp(dot, ".tiff") || !strcmp(dot, ".TIF"))) *dot = 0;
}

int cmd_png(int argc, char **argv) {
  const char *file = NULL, *out = NULL, *cmap_name = "vel", *title = NULL, *units = NULL, *pct_s = NULL;
  double vmin = NAN, vmax = NAN, scale = 1;
  int band = 1, max_w = 800, max_h = 640;
  cli_opt opts[] = {
      {NULL, CLI_STR, &file, "FILE", "the GeoTIFF"},
      {"out", CLI_STR, &out, "OUT.png", "the picture to write (required)"},
      {"band", CLI_INT, &band, "B", "band, 1-based (default 1)"},
      {"cmap", CLI_STR, &cmap_name, "MAP", "vel (diverging, roma reversed; default), seq (viridis), seq_r, gray, terrain"},
      {"vmin", CLI_DBL, &vmin, "V", "value at the low end of the colour bar (default: automatic)"},
      {"vmax", CLI_DBL, &vmax, "V", "value at the high end of the colour bar (default: automatic)"},
      {"range-pct", CLI_STR, &pct_s, "LO:HI", "colour range = these percentiles of the band, not rounded (e.g. 0:95)"},
      {"scale", CLI_DBL, &scale, "S", "multiply the values by S before colouring (default 1)"},
      {"title", CLI_STR, &title, "T", "title (default: the band description, else the file name)"},
      {"units", CLI_STR, &units, "U", "units shown above the colour bar, e.g. mm/yr"},
      {"max-width", CLI_INT, &max_w, "PX", "largest map width in pixels (default 800)"},
      {"max-height", CLI_INT, &max_h, "PX", "largest map height in pixels (default 640)"},
  };
  cli_common common;
  char err[512];
  int st = cli_parse("png", "FILE --out OUT.png [--cmap vel|seq|seq_r|gray|terrain] [--vmin V --vmax V | --range-pct LO:HI] [--band B] [--title T] [--units U]",
                     "Renders one band of a GeoTIFF as a PNG quicklook with a colour bar, like LiCSBAS's "
                     "result pngs. Big rasters are shown reduced by box averaging, small ones (a city "
                     "AOI) enlarged; nodata, NaN and Inf appear grey. Without --vmin/--vmax the colour "
                     "range is the 1st..99th percentile of the band (symmetric about 0 for --cmap vel, "
                     "-p99/3..p99 for --cmap terrain), rounded outward; --range-pct picks other percentiles.",
                     opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (st == 1) return 0;
  if (st) { fprintf(stderr, "cbas png: %s\n", err); return 2; }
  if (!file) { fprintf(stderr, "cbas png: a FILE is required (see cbas png --help)\n"); return 2; }
  if (!out) { fprintf(stderr, "cbas png: --out OUT.png is required\n"); return 2; }
  plot_cmap cmap;
  if (plot_cmap_parse(cmap_name, &cmap)) {
    fprintf(stderr, "cbas png: --cmap: unknown colour map '%s' (vel, seq, seq_r, gray or terrain)\n", cmap_name);
    return 2;
  }
  if (band < 1) { fprintf(stderr, "cbas png: --band must be >= 1\n"); return 2; }
  if (!isnan(vmin) && !isnan(vmax) && !(vmin < vmax)) {
    fprintf(stderr, "cbas png: --vmin %g must be below --vmax %g\n", vmin, vmax);
    return 2;
  }
  double pct[2] = {NAN, NAN};
  if (pct_s) {
    char *e1 = NULL, *e2 = NULL;
    pct[0] = strtod(pct_s, &e1);
    if (e1 && *e1 == ':') pct[1] = strtod(e1 + 1, &e2);
    if (!e2 || *e2 || !(pct[0] >= 0 && pct[0] < pct[1] && pct[1] <= 100)) {
      fprintf(stderr, "cbas png: --range-pct %s: expected LO:HI with 0 <= LO < HI <= 100\n", pct_s);
      return 2;
    }
  }
  if (!isfinite(scale) || scale == 0) { fprintf(stderr, "cbas png: --scale must be a non-zero number\n"); return 2; }
  if (max_w < 64 || max_h < 64 || max_w > 4000 || max_h > 4000) {
    fprintf(stderr, "cbas png: --max-width/--max-height must be in 64..4000\n");
    return 2;
  }

  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &common)) return cli_finish(&ctx, "png");
  gt_reader *r = NULL;
  if (!gt_open(&ctx, file, &r)) {
    const gt_info *in = gt_get_info(r);
    if ((uint32_t)band > in->bands) {
      ctx_fail(&ctx, CBAS_EUSAGE, "--band %d: %s has %u band(s)", band, file, in->bands);
    } else {
      band_src b = {&ctx, r, (uint32_t)band - 1, in->width, in->has_nodata, (float)in->nodata};
      plot_source src = {in->width, in->height, read_band_rows, &b};
      char name[256], tbuf[320];
      const char *desc = gt_band_desc(r, (uint32_t)band - 1);
      base_name(file, name, sizeof name);
      if (!title) {
        if (desc && *desc) snprintf(tbuf, sizeof tbuf, "%s: %s", name, desc);
        else if (in->bands > 1) snprintf(tbuf, sizeof tbuf, "%s, band %d", name, band);
        else snprintf(tbuf, sizeof tbuf, "%s", name);
        title = tbuf;
      }
      plot_ql_opts o = {title, units, vmin, vmax, cmap, scale, (uint32_t)max_w, (uint32_t)max_h};
      plot_ql_info qi;
      double p[2];
      uint64_t n_valid = 0;
      if (pct_s && (isnan(vmin) || isnan(vmax)) && !plot_percentiles(&ctx, &src, scale, 2, pct, p, &n_valid) && n_valid) {
        if (isnan(o.vmin)) o.vmin = p[0];
        if (isnan(o.vmax)) o.vmax = p[1];
        if (!(o.vmin < o.vmax)) o.vmin = o.vmax - 1; /* LiCSBAS: cmin == cmax -> cmin = cmax - 1 */
      }
      if (!ctx.status && !plot_quicklook(&ctx, out, &o, &src, &qi))
        ctx_info(&ctx, "cbas png: %s: %u x %u band %d, colour range %g .. %g%s%s (%s), shown %s%u\n", out, in->width,
                 in->height, band, qi.vmin, qi.vmax, units ? " " : "", units ? units : "",
                 plot_cmap_name(cmap), qi.reduce > 1 ? "1:" : "x", qi.reduce > 1 ? qi.reduce : qi.enlarge);
    }
    gt_close(&ctx, r);
  }
  return cli_finish(&ctx, "png");
}
