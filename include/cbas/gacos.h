/* gacos.h — GACOS tropospheric delays on a window of the multilooked frame grid, as LiCSBAS
 * step 03 (LiCSBAS03op_GACOS.py) computes them (digest §2):
 *
 *   product, by priority: DIR/YYYYMMDD.sltd.geo.tif (slant delay, rad), DIR/YYYYMMDD.ztd.tif,
 *   DIR/YYYYMMDD.ztd + .ztd.rsc (ROI_PAC keys WIDTH FILE_LENGTH X_FIRST Y_FIRST X_STEP Y_STEP,
 *   raw float32 LE, grid registration);
 *   resampled with GDAL's warper (warp.h), "cubicspline", source nodata 0, onto the frame grid whose
 *   bounds LiCSBAS gives as the pixel-centre coordinates of the corner pixels (so output pixel j
 *   is sampled at lon1 + (j + 0.5)·(W−1)/W·post_lon: the bounds quirk, kept);
 *   zenith delays (m) to slant delay (rad): sltd = ztd / U · 4π/λ in float32, U = 0 → NaN;
 *   --fillhole: exactly-0 pixels take the mean of their non-zero 8 neighbours.
 *
 * Only the requested window (plus a one-pixel margin for fillhole) is computed, and only the
 * source rows/columns its kernel touches are read.
 *
 * Memory (ctx's budget): the rows of the source window GDAL would read that the window's kernel
 * touches (GACOS cells under the window's rows plus the kernel margin, across the frame's width,
 * 4 bytes each) and the delays on the window grown by one pixel (4 bytes each).
 * Thread-safe: different calls may run concurrently.
 */
#ifndef CBAS_GACOS_H
#define CBAS_GACOS_H
#include "cbas/ctx.h"
#include "cbas/licsbas.h"

/* The multilooked frame grid as LiCSBAS's EQA.dem_par describes it. */
typedef struct gacos_grid {
  uint32_t width, length;
  double lat1, lon1;          /* corner_lat / corner_lon (NW pixel centre, step 02's quirk) */
  double post_lat, post_lon;  /* post_lat < 0 */
} gacos_grid;

/* Slant tropospheric delay (rad) of `date` on window win of grid g into out (row-major,
 * (win.x1-win.x0)*(win.y1-win.y0) floats). u holds U (LOS up component, NaN = no data, as
 * multilooked by step 02) over the window grown by one pixel on each side and clipped to the
 * grid: uwin = {max(x0-1,0), min(x1+1,W), ...}, row-major. *available = 0 (and out untouched)
 * when DIR has no product for the date or the product has no valid value in the window.
 * Unreadable products are errors (CBAS_EFORMAT naming the file). */
int gacos_sltd(cbas_ctx *ctx, const char *dir, const char *date, const gacos_grid *g, lb_range win,
               const float *u, double wavelength_m, int fillhole, float *out, int *available);

/* The window gacos_sltd expects u over (win grown by one pixel, clipped to g). */
lb_range gacos_u_window(const gacos_grid *g, lb_range win);
#endif
