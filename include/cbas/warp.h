/* warp.h — resampling a north-up raster onto another north-up grid of the same CRS as GDAL
 * 3.6's gdal.Warp(..., outputBounds, width, height, resampleAlg, srcNodata) does it, when the
 * destination is warped as one chunk (GDAL's default 64 MB of warp memory holds frames of some
 * 10 Mpixel). The one emulation of GDAL's warper in cbas:
 *   - LiCSBAS_decomposeLOS.py resamples every input this way (near or bilinear, srcNodata=NaN;
 *     digest §12), see decomp.c;
 *   - LiCSBAS03op_GACOS.py resamples the GACOS delays onto the frame grid (cubicspline,
 *     srcNodata=0, unset pixels 0; digest §2), see gacos.c.
 *
 * The behaviour reproduced (read from GDAL's documented algorithm and checked against
 * gdal.Warp by tests/licsbas/tools_licsbas.sh, tests/interop/prep_gacos.sh and
 * tests/unit/test_warp.c):
 *   - destination pixel centre -> source pixel through the two geotransforms (GenImgProj,
 *     GDALInvGeoTransform), with the approximate transformer along each full destination
 *     scanline (exact first, middle and last points, linear in between) for rows wider than 5;
 *   - the source window (ComputeSourceWindow: 21 samples along each destination edge at
 *     ratios accumulated in steps of 1/20, padded by the kernel radius, the whole width/height
 *     when it covers more than 90 %) and from it the kernel scale = destination size / source
 *     extent (snapped to 1/n when within 0.05), so a kernel is widened only when downsampling;
 *   - a destination pixel gets a value only when the source pixel under its centre is valid;
 *   - near: that pixel's value; bilinear: the 4-sample formula when both scales are >= 0.95;
 *     otherwise (bilinear when downsampling, cubicspline always) GWKResample: the separable
 *     kernel (triangle of radius 1, or GWKBSpline — 6 x the cubic B-spline of radius 2, without
 *     its (x-2)^3 term) widened by 1/scale, taps [1 - radius, radius] for the even-radius
 *     cubicspline and [-radius, radius] for bilinear, over the valid samples of the window,
 *     normalised by the sum of the weights used.
 * Invalid samples (the nodata value; NaN by default) and samples outside the window are left
 * out. Values are computed in double and stored as float32; pixels without a value get the
 * fill value (NaN by default).
 *
 * Streaming: warp_src_rows() says which source rows (of the window) a block of destination
 * rows needs; the caller reads them (window columns x0 .. x0+nx of source rows y0 + r) and calls
 * warp_row() or warp_row_part() per destination row. No allocation.
 * Thread-safety: a plan is read-only after warp_plan_init / warp_plan_nodata.
 */
#ifndef CBAS_WARP_H
#define CBAS_WARP_H
#include <stdint.h>

typedef enum warp_alg { WARP_NEAR = 0, WARP_BILINEAR = 1, WARP_CUBICSPLINE = 2 } warp_alg;

typedef struct warp_plan {
  warp_alg alg;
  uint32_t dst_w, dst_h;
  double dgt[6];                /* destination geotransform (PixelIsArea) */
  uint32_t src_w, src_h;
  double sgt[6], inv[6];        /* source geotransform and its inverse */
  uint32_t x0, y0, nx, ny;      /* source window */
  double xscale, yscale;        /* kernel scales (1 = no widening) */
  int xrad, yrad;               /* kernel radii in source pixels */
  int xinit, yinit;             /* first kernel tap relative to the sample's pixel */
  int four_sample;              /* bilinear through GDAL's 4-sample formula */
  float nodata, fill;           /* source no-data value (NaN: NaN samples), unset pixels' value */
} warp_plan;

/* GDAL's destination geotransform for outputBounds (minx, miny, maxx, maxy) and a size. */
void warp_dst_gt(double minx, double miny, double maxx, double maxy, uint32_t w, uint32_t h, double gt[6]);
/* Plans the warp of a src_w x src_h raster with geotransform sgt onto the destination grid,
 * with srcNodata = NaN and NaN for unset pixels. Both geotransforms must be north-up
 * (gt[2] = gt[4] = 0, gt[1] != 0, gt[5] != 0). */
void warp_plan_init(warp_plan *p, warp_alg alg, uint32_t dst_w, uint32_t dst_h, const double dgt[6], uint32_t src_w,
                    uint32_t src_h, const double sgt[6]);
/* srcNodata = nodata (NaN: NaN samples are invalid; otherwise samples equal to it are, and NaN
 * samples are values, which spread through the kernel as in GDAL) and the value of pixels
 * without data (GDAL's initialised destination: 0 when dstNodata is 0). */
void warp_plan_nodata(warp_plan *p, float nodata, float fill);
/* Rows [*r0, *r1) of the source window (window-relative) that destination rows [y0, y0+ny)
 * need; *r0 == *r1 when none. */
void warp_src_rows(const warp_plan *p, uint32_t y0, uint32_t ny, uint32_t *r0, uint32_t *r1);
/* An upper bound of *r1 - *r0 for any block of ny destination rows. */
uint32_t warp_src_rows_max(const warp_plan *p, uint32_t ny);
/* Destination row y into dst[0 .. dst_w): src holds window rows [r0, r1), row r at
 * src + (r - r0)*p->nx (window columns). Rows outside [r0, r1) count as absent. */
void warp_row(const warp_plan *p, uint32_t y, const float *src, uint32_t r0, uint32_t r1, float *dst);
/* The same for destination columns [x0, x1) of row y only, into dst[0 .. x1-x0): the values are
 * those warp_row gives there. */
void warp_row_part(const warp_plan *p, uint32_t y, uint32_t x0, uint32_t x1, const float *src, uint32_t r0, uint32_t r1,
                   float *dst);
#endif
