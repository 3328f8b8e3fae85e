/* cmd_info.c — `cbas info FILE`: describes a GeoTIFF (size, bands, type, layout, compression,
 * predictor, geotransform, CRS code, nodata, band descriptions), or with --window prints the
 * values of one band's window, one row per line. Handy for shell tests and for checking inputs.
 *
 * Value format: integer types as exact integers, float32 with %.9g (enough to read back the same
 * float), float64 as the shortest text that reads back the same double; NaN as "nan".
 * Memory: one row of the window as doubles, plus the reader's strip/tile buffer.
 */
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/gtiff.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Parses "X0:X1/Y0:Y1" (half-open column and row ranges). */
static int parse_window(const char *s, uint32_t v[4]) {
  unsigned long long a[4];
  int n = 0;
  if (sscanf(s, "%llu:%llu/%llu:%llu%n", &a[0], &a[1], &a[2], &a[3], &n) != 4 || s[n] || strchr(s, '-'))
    return -1;
  for (int i = 0; i < 4; i++) {
    if (a[i] > 0xffffffffull) return -1;
    v[i] = (uint32_t)a[i];
  }
  return v[1] > v[0] && v[3] > v[2] ? 0 : -1;
}

static void print_value(double v, gt_type t) {
  char buf[64];
  if (isnan(v)) snprintf(buf, sizeof buf, "nan");
  else if (t == GT_F32) snprintf(buf, sizeof buf, "%.9g", v);
  else if (t == GT_F64) gt_format_double(buf, sizeof buf, v);
  else snprintf(buf, sizeof buf, "%.0f", v);
  fputs(buf, stdout);
}

static void describe(const gt_reader *r) {
  const gt_info *in = gt_get_info(r);
  char a[64];
  printf("file: %s\n", gt_path(r));
  printf("size: %u x %u\n", in->width, in->height);
  printf("bands: %u\n", in->bands);
  printf("type: %s\n", gt_type_name(in->type));
  printf("layout: %s, block %u x %u, %s\n", in->tiled ? "tiled" : "striped", in->block_w, in->block_h,
         in->bands == 1 ? "single band" : in->planar_separate ? "band-separate" : "pixel-interleaved");
  printf("compression: %s\n", gt_compression_name(in->compression));
  printf("predictor: %d\n", in->predictor);
  if (in->geo.has_gt) {
    printf("geotransform:");
    for (int i = 0; i < 6; i++) {
      gt_format_double(a, sizeof a, in->geo.gt[i]);
      printf("%s%s", i ? ", " : " ", a);
    }
    printf("\n");
  } else {
    printf("geotransform: none\n");
  }
  printf("raster type: %s\n", in->geo.pixel_is_point ? "point" : "area");
  if (in->geo.epsg) printf("epsg: %d\n", in->geo.epsg);
  else printf("epsg: none\n");
  if (in->has_nodata) {
    gt_format_double(a, sizeof a, in->nodata);
    printf("nodata: %s\n", a);
  } else {
    printf("nodata: none\n");
  }
  for (uint32_t b = 0; b < in->bands; b++) {
    const char *d = gt_band_desc(r, b);
    if (d) printf("band %u description: %s\n", b + 1, d);
  }
}

static int print_window(cbas_ctx *ctx, gt_reader *r, const uint32_t w[4], uint32_t band) {
  uint32_t nx = w[1] - w[0];
  double *row = budget_alloc(ctx, (size_t)nx * sizeof *row, "info: one window row");
  if (!row) return ctx->status;
  gt_type t = gt_get_info(r)->type;
  for (uint32_t y = w[2]; y < w[3]; y++) {
    if (gt_read(ctx, r, band, w[0], y, nx, 1, GT_F64, row, nx)) break;
    for (uint32_t x = 0; x < nx; x++) {
      if (x) putchar(' ');
      print_value(row[x], t);
    }
    putchar('\n');
  }
  budget_free(ctx, row);
  return ctx->status;
}

int cmd_info(int argc, char **argv) {
  const char *file = NULL, *window = NULL;
  int band = 1;
  cli_opt opts[] = {
      {NULL, CLI_STR, &file, "FILE", "the GeoTIFF"},
      {"window", CLI_STR, &window, "X0:X1/Y0:Y1", "print this window's values: columns X0..X1-1, rows Y0..Y1-1"},
      {"band", CLI_INT, &band, "B", "band of --window, 1-based (default 1)"},
  };
  cli_common common;
  char err[512];
  int st = cli_parse("info", "FILE [--window X0:X1/Y0:Y1 [--band B]]",
                     "Describes a GeoTIFF: size, bands, sample type, strip/tile layout, compression, "
                     "predictor, geotransform (GDAL convention, PixelIsArea), EPSG code, nodata and band "
                     "descriptions. With --window, prints the window's values instead, one row per line.",
                     opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (st == 1) return 0;
  if (st) { fprintf(stderr, "cbas info: %s\n", err); return 2; }
  if (!file) { fprintf(stderr, "cbas info: a FILE is required (see cbas info --help)\n"); return 2; }
  uint32_t w[4];
  if (window && parse_window(window, w)) {
    fprintf(stderr, "cbas info: --window: malformed value '%s' (expected X0:X1/Y0:Y1 with X0 < X1, Y0 < Y1)\n", window);
    return 2;
  }
  if (band < 1) { fprintf(stderr, "cbas info: --band must be >= 1\n"); return 2; }
  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &common)) return cli_finish(&ctx, "info");
  gt_reader *r = NULL;
  if (!gt_open(&ctx, file, &r)) {
    const gt_info *in = gt_get_info(r);
    if (!window) describe(r);
    else if ((uint32_t)band > in->bands)
      ctx_fail(&ctx, CBAS_EUSAGE, "--band %d: %s has %u band(s)", band, file, in->bands);
    else if (w[1] > in->width || w[3] > in->height)
      ctx_fail(&ctx, CBAS_EUSAGE, "--window %s: outside the %u x %u raster of %s", window, in->width, in->height, file);
    else print_window(&ctx, r, w, (uint32_t)band - 1);
    gt_close(&ctx, r);
  }
  fflush(stdout);
  return cli_finish(&ctx, "info");
}
