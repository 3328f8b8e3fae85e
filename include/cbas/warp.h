/* warp.h — resampling a north-up raster onto another north-up grid of the same CRS as GDAL
 * 3.6's gdal.Warp(..., outputBounds, width, height, resampleAlg, srcNodata=NaN) does it, when
 * the destination is warped as one chunk (GDAL's default 64 MB of warp memory holds frames of
 * some 10 Mpixel). LiCSBAS_decomposeLOS.py resamples every input this way (digest §12).
 *
 * The behaviour reproduced (read from GDAL's documented algorithm and checked against
 * gdal.Warp by tests/interop/tools_licsbas.sh):
 *   - destination pixel centre -> source pixel through the two geotransforms (GenImgProj,
 *     GDALInvGeoTransform), with the approximate transformer along each full destination
 *     scanline (exact first, middle and last points, linear in between) for rows wider than 5;
 *   - the source window (ComputeSourceWindow: 21 samples along each destination edge, padded
 *     by the kernel radius, the whole width/height when it covers more than 90 %) and from it
 *     the kernel scale = destination size / source extent (snapped to 1/n when within 0.05), so
 *     a kernel is widened only when downsampling;
 *   - a destination pixel gets a value only when the source pixel under its centre is valid;
 *   - near: that pixel's value; bilinear: the 4-sample formula when both scales are >= 0.95,
 *     else the separable triangle kernel of radius ceil(1/scale); invalid (NaN) and outside-
 *     window samples are left out and the weights renormalised.
 * Pixels without a value are NaN. Values are computed in double and stored as float32.
 *
 * Streaming: warp_src_rows() says which source rows (of the window) a block of destination
 * rows needs; the caller reads them and calls warp_row() per destination row. No allocation.
 * Thread-safety: a plan is read-only after warp_plan_init.
 */
#ifndef CBAS_WARP_H
#define CBAS_WARP_H
#include <stdint.h>

typedef enum warp_alg { WARP_NEAR = 0, WARP_BILINEAR = 1 } warp_alg;

typedef struct warp_plan {
  warp_alg alg;
  uint32_t dst_w, dst_h;
  double dgt[6];                /* destination geotransform (PixelIsArea) */
  uint32_t src_w, src_h;
  double sgt[6], inv[6];        /* source geotransform and its inverse */
  uint32_t x0, y0, nx, ny;      /* source window */
  double xscale, yscale;        /* kernel scales (1 = no widening) */
  int xrad, yrad;               /* kernel radii in source pixels */
  int four_sample;              /* bilinear through GDAL's 4-sample formula */
} warp_plan;

/* GDAL's destination geotransform for outputBounds (minx, miny, maxx, maxy) and a size. */
void warp_dst_gt(double minx, double miny, double maxx, double maxy, uint32_t w, uint32_t h, double gt[6]);
/* Plans the warp of a src_w x src_h raster with geotransform sgt onto the destination grid.
 * Both geotransforms must be north-up (gt[2] = gt[4] = 0, gt[1] != 0, gt[5] != 0). */
void warp_plan_init(warp_plan *p, warp_alg alg, uint32_t dst_w, uint32_t dst_h, const double dgt[6], uint32_t src_w,
                    uint32_t src_h, const double sgt[6]);
/* Rows [*r0, *r1) of the source window (window-relative) that destination rows [y0, y0+ny)
 * need; *r0 == *r1 when none. */
void warp_src_rows(const warp_plan *p, uint32_t y0, uint32_t ny, uint32_t *r0, uint32_t *r1);
/* An upper bound of *r1 - *r0 for any block of ny destination rows. */
uint32_t warp_src_rows_max(const warp_plan *p, uint32_t ny);
/* Destination row y into dst[0 .. dst_w): src holds window rows [r0, r1), row r at
 * src + (r - r0)*p->nx (window columns), NaN = no data. Rows outside [r0, r1) count as absent. */
void warp_row(const warp_plan *p, uint32_t y, const float *src, uint32_t r0, uint32_t r1, float *dst);
#endif
