/* decomp.h — `cbas decompose`: LOS velocities (or displacements) of two or more viewing
 * geometries to east-west and vertical components on a common grid, neglecting north-south
 * motion, as LiCSBAS_decomposeLOS.py v1.1.3 does (digest §12; Wright et al. 2004, the paper
 * neglects NS "because of low sensitivity").
 *
 * Inputs i = 1..n (n >= 2): a LOS raster d_i and the E, N (or U) components of its LOS unit
 * vector (ground to satellite), as GeoTIFFs or from a cbas stack (E.f32, N.f32, U.f32).
 *  1. Grid: each input's E raster geotransform, corner and spacing quantised to 1e-9 degree
 *     (Decimal.quantize, half-even: done exactly in integer nanodegrees here); the input looks
 *     from the East when nanmedian(E, 0 -> NaN) > 0, else from the West. The output extent is
 *     the intersection of the union of East extents and the union of West extents, the spacing
 *     the coarsest |dlon|, |dlat| of the inputs; W = int((lonE - lonW)/dlon), L likewise
 *     (truncated), the east/south bounds recomputed from W, L.
 *  2. Every d_i, E_i, N_i (U_i) is resampled to that grid (warp.h: GDAL's bilinear by default,
 *     --resample near possible; srcNodata NaN). U_i = sqrt(1 - N_i^2 - E_i^2) (float32, NaN
 *     when negative) unless U is given. Values exactly 0 in d, E, U become NaN.
 *  3. Sides again from the resampled E: nanmedian >= 0 East, < 0 West. A pixel is solved when
 *     at least one non-NaN d comes from each side; then NaN d, E, U of that pixel count as 0
 *     (LiCSBAS QUIRK: a third geometry missing there enters as a zero observation) and, in
 *     float32 as NumPy, a11 = Σe², a12 = Σeu, a22 = Σu², be = Σed, bu = Σud, det = a11 a22 - a12²
 *     (0 -> NaN), EW = (a22 be - a12 bu)/det, UD = (a11 bu - a12 be)/det — the least-squares
 *     solution of d_i = e_i EW + u_i UD. Positive = east, up; units of the inputs.
 * Outputs PREFIX + EW.geo.tif, UD.geo.tif (float32, NaN nodata, geotransform (lonW, dlon, 0,
 * latN, 0, dlat)), with stats also n_data_fromE/fromW/total.geo.tif (uint8) and, for n >= 3,
 * resid_LOS<i>.geo.tif = d_i - (e_i EW + u_i UD) (NaN where d_i is missing or 0).
 *
 * Divergence: the resampling reproduces gdal.Warp for one warp chunk (frames up to ~10
 * Mpixel at GDAL's default warp memory); GDAL splits larger outputs into chunks whose kernel
 * scales can differ slightly at chunk edges.
 *
 * Streaming: pass 0 reads each E raster once (median sign, extents); pass 1 resamples each E
 * to the grid in row blocks (median sign on the grid); pass 2 resamples every raster block by
 * block, solves and writes. Memory: per block row 4*(rows of source per output row)*window
 * width per raster + output rows; fails early when one row does not fit the budget.
 */
#ifndef CBAS_DECOMP_H
#define CBAS_DECOMP_H
#include "cbas/ctx.h"
#include "cbas/warp.h"
#include <stdint.h>

#define DECOMP_MAX_INPUTS 32

/* One viewing geometry. los is required; then either e with n and/or u (GeoTIFFs), or a stack
 * directory whose E, N and U layers are used (its grid for all three). */
typedef struct decomp_input {
  const char *los;
  const char *e, *n, *u;
  const char *stack;
} decomp_input;

typedef struct decomp_params {
  int n_in;
  decomp_input in[DECOMP_MAX_INPUTS];
  const char *out_dir;   /* default "." */
  const char *prefix;    /* default "" (LiCSBAS -o) */
  warp_alg alg;          /* default WARP_BILINEAR (LiCSBAS -r bilinear) */
  int stats;             /* --stats (LiCSBAS --out_stats) */
  int png;               /* quicklooks EW.png, UD.png */
  uint32_t block_rows;   /* rows per block at most, 0 = from the budget (tests) */
} decomp_params;

/* ---- exact pieces (unit-tested) ---- */

/* Decimal(v).quantize(Decimal('1E-9')) in integer nanodegrees (round half even on the exact
 * binary value of v). |v| must be below 9e9. */
int64_t decomp_nano(double v);
/* Sign of NumPy's nanmedian of a stream of non-zero, non-NaN float32 values: fed with
 * decomp_med_add, decomp_med_sign gives +1, -1, 0 (the two middle values cancel) or 2 (no value,
 * median NaN). */
typedef struct decomp_med { uint64_t n_pos, n_neg; float min_pos, max_neg; } decomp_med;
void decomp_med_init(decomp_med *m);
void decomp_med_add(decomp_med *m, float v);
int decomp_med_sign(const decomp_med *m);
/* The float32 solve of one pixel from n observations (d, e, u with NaN already 0). Returns
 * EW and UD (NaN when det is 0). */
void decomp_solve(int n, const float *d, const float *e, const float *u, float *ew, float *ud);

/* Runs the whole decomposition; prints a summary through ctx_info. */
int decomp_run(cbas_ctx *ctx, const decomp_params *p);
#endif
