/* cmd_compare.c — `cbas compare A.tif B.tif`: statistics of the difference A − B of two
 * rasters of the same size over the pixels valid in both (finite, not the file's nodata),
 * optionally restricted by a mask raster (kept where the mask is finite and non-zero).
 * For validation against truth or against LiCSBAS (docs/validation.md) and in shell tests.
 *
 * Output, one "key value" line each (machine-readable):
 *   n_valid N        pixel-bands valid in A, B (and the mask)
 *   only_a N         valid in A but not in B (inside the mask), only_b likewise
 *   mean_diff, rms_diff, std_diff (rms about the mean), max_abs_diff
 *   rms_a            rms of A over the same pixels (scale of the signal)
 * With several bands (equal counts, no --band) every band is compared and the statistics
 * pool all pixel-bands; --band N / --band-b N compare one band of each (1-based).
 * --demean reports max_abs_diff about the mean difference (a reference offset removed).
 *
 * Memory: one row of each file (and the mask) as float, plus the readers' strips. Sums are
 * double, in row order, so the figures do not depend on --threads.
 */
#include "cbas/cli.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct cmp_acc {
  uint64_t n, only_a, only_b;
  double sum, sumsq, suma2, maxabs;   /* maxabs and sumsq of (d - shift) */
} cmp_acc;

static int valid_of(float v, const gt_info *in) {
  if (!isfinite(v)) return 0;
  return !(in->has_nodata && !isnan(in->nodata) && (double)v == in->nodata);
}

/* One pass over the pixel-bands: d = A - B, sums of d and of (d - shift)^2, max |d - shift|. */
static int compare_pass(cbas_ctx *ctx, gt_reader *ra, gt_reader *rb, gt_reader *rm, uint32_t band_a, uint32_t band_b,
                        uint32_t n_bands, uint32_t bx0, uint32_t by0, double shift, cmp_acc *acc) {
  const gt_info *ia = gt_get_info(ra), *ib = gt_get_info(rb);
  const gt_info *im = rm ? gt_get_info(rm) : NULL;
  uint32_t W = ia->width;
  float *a = budget_alloc(ctx, (size_t)W * 4, "cbas compare: row of A");
  float *b = budget_alloc(ctx, (size_t)W * 4, "cbas compare: row of B");
  float *mk = rm ? budget_alloc(ctx, (size_t)W * 4, "cbas compare: mask row") : NULL;
  for (uint32_t y = 0; !ctx->status && y < ia->height; y++) {
    if (rm && gt_read(ctx, rm, 0, 0, y, W, 1, GT_F32, mk, W)) break;
    for (uint32_t k = 0; k < n_bands; k++) {
      if (gt_read(ctx, ra, band_a + k, 0, y, W, 1, GT_F32, a, W) || gt_read(ctx, rb, band_b + k, bx0, by0 + y, W, 1, GT_F32, b, W))
        break;
      for (uint32_t x = 0; x < W; x++) {
        if (rm && !(valid_of(mk[x], im) && mk[x] != 0)) continue;
        int va = valid_of(a[x], ia), vb = valid_of(b[x], ib);
        if (va && vb) {
          double d = (double)a[x] - (double)b[x];
          acc->n++;
          double e = d - shift;
          acc->sum += d;
          acc->sumsq += e * e;
          acc->suma2 += (double)a[x] * a[x];
          if (fabs(e) > acc->maxabs) acc->maxabs = fabs(e);
        } else {
          acc->only_a += va && !vb;
          acc->only_b += vb && !va;
        }
      }
    }
  }
  budget_free(ctx, a);
  budget_free(ctx, b);
  budget_free(ctx, mk);
  return ctx->status;
}

int cmd_compare(int argc, char **argv) {
  const char *fa = NULL, *fb = NULL, *fm = NULL;
  int band = 0, band_b = 0, demean = 0;
  cli_opt opts[] = {
      {NULL, CLI_STR, &fa, "A.tif", "first raster"},
      {NULL, CLI_STR, &fb, "B.tif", "second raster: same size, or a larger one on the same grid that contains A"},
      {"mask", CLI_STR, &fm, "M.tif", "compare only where this raster is finite and non-zero"},
      {"band", CLI_INT, &band, "N", "band of A (and of B unless --band-b), 1-based; default all bands"},
      {"band-b", CLI_INT, &band_b, "N", "band of B"},
      {"demean", CLI_FLAG, &demean, NULL, "max_abs_diff about the mean difference (offset removed)"},
  };
  cli_common common;
  char err[512];
  int st = cli_parse("compare", "A.tif B.tif [--mask M.tif] [--band N [--band-b N]] [--demean]",
                     "Statistics of the difference A - B over the pixels valid in both: count, mean, RMS, "
                     "standard deviation and largest absolute difference, one 'key value' per line.",
                     opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (st == 1) return 0;
  if (st) { fprintf(stderr, "cbas compare: %s\n", err); return 2; }
  if (!fa || !fb) { fprintf(stderr, "cbas compare: two rasters are required (see cbas compare --help)\n"); return 2; }
  if (band < 0 || band_b < 0 || (band_b && !band)) {
    fprintf(stderr, "cbas compare: --band/--band-b are 1-based, and --band-b needs --band\n");
    return 2;
  }
  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &common)) return cli_finish(&ctx, "compare");
  gt_reader *ra = NULL, *rb = NULL, *rm = NULL;
  if (gt_open(&ctx, fa, &ra) || gt_open(&ctx, fb, &rb) || (fm && gt_open(&ctx, fm, &rm))) goto done;
  const gt_info *ia = gt_get_info(ra), *ib = gt_get_info(rb);
  /* B may be a larger raster on the same grid (e.g. a frame's truth against a clip): A's pixel
   * (x, y) is compared with B's (x + bx0, y + by0), the offset taken from the geotransforms. */
  uint32_t bx0 = 0, by0 = 0;
  if (ia->width != ib->width || ia->height != ib->height) {
    const double *ga = ia->geo.gt, *gb = ib->geo.gt;
    double fx = ib->geo.has_gt ? (ga[0] - gb[0]) / gb[1] : -1, fy = ib->geo.has_gt ? (ga[3] - gb[3]) / gb[5] : -1;
    int same_grid = ia->geo.has_gt && ib->geo.has_gt && fabs(ga[1] - gb[1]) <= 1e-9 * fabs(gb[1]) &&
                    fabs(ga[5] - gb[5]) <= 1e-9 * fabs(gb[5]) && ga[2] == 0 && ga[4] == 0 && gb[2] == 0 && gb[4] == 0 &&
                    fabs(fx - nearbyint(fx)) < 1e-3 && fabs(fy - nearbyint(fy)) < 1e-3 && nearbyint(fx) >= 0 &&
                    nearbyint(fy) >= 0 && nearbyint(fx) + ia->width <= ib->width && nearbyint(fy) + ia->height <= ib->height;
    if (!same_grid) {
      ctx_fail(&ctx, CBAS_EUSAGE, "%s is %ux%u but %s is %ux%u and does not contain it on the same grid", fa, ia->width,
               ia->height, fb, ib->width, ib->height);
      goto done;
    }
    bx0 = (uint32_t)nearbyint(fx);
    by0 = (uint32_t)nearbyint(fy);
  }
  if (rm && (gt_get_info(rm)->width != ia->width || gt_get_info(rm)->height != ia->height)) {
    ctx_fail(&ctx, CBAS_EUSAGE, "--mask %s is not %ux%u", fm, ia->width, ia->height);
    goto done;
  }
  uint32_t b0a = 0, b0b = 0, nb = ia->bands;
  if (band) {
    if (!band_b) band_b = band;
    if ((uint32_t)band > ia->bands || (uint32_t)band_b > ib->bands) {
      ctx_fail(&ctx, CBAS_EUSAGE, "--band %d / --band-b %d: %s has %u band(s), %s %u", band, band_b, fa, ia->bands, fb,
               ib->bands);
      goto done;
    }
    b0a = (uint32_t)band - 1;
    b0b = (uint32_t)band_b - 1;
    nb = 1;
  } else if (ia->bands != ib->bands) {
    ctx_fail(&ctx, CBAS_EUSAGE, "%s has %u bands, %s %u: choose with --band", fa, ia->bands, fb, ib->bands);
    goto done;
  }
  cmp_acc acc;
  memset(&acc, 0, sizeof acc);
  if (compare_pass(&ctx, ra, rb, rm, b0a, b0b, nb, bx0, by0, 0, &acc)) goto done;
  double mean = acc.n ? acc.sum / (double)acc.n : NAN;
  double rms = acc.n ? sqrt(acc.sumsq / (double)acc.n) : NAN, std = NAN, maxabs = acc.n ? acc.maxabs : NAN;
  if (acc.n) { /* second pass: spread about the mean */
    cmp_acc a2;
    memset(&a2, 0, sizeof a2);
    if (compare_pass(&ctx, ra, rb, rm, b0a, b0b, nb, bx0, by0, mean, &a2)) goto done;
    std = sqrt(a2.sumsq / (double)a2.n);
    if (demean) maxabs = a2.maxabs;
  }
  if (bx0 || by0) printf("offset_b %u %u\n", bx0, by0);
  printf("n_valid %llu\nonly_a %llu\nonly_b %llu\n", (unsigned long long)acc.n, (unsigned long long)acc.only_a,
         (unsigned long long)acc.only_b);
  printf("mean_diff %.9g\nrms_diff %.9g\nstd_diff %.9g\nmax_abs_diff %.9g\nrms_a %.9g\n", mean, rms, std, maxabs,
         acc.n ? sqrt(acc.suma2 / (double)acc.n) : NAN);
done:
  if (ra) gt_close(&ctx, ra);
  if (rb) gt_close(&ctx, rb);
  if (rm) gt_close(&ctx, rm);
  return cli_finish(&ctx, "compare");
}
