/* step_filter.h — `cbas filter`, LiCSBAS step 16 (LiCSBAS16_filt_ts.py v1.5.1, digest §10):
 * optional deramp / height-linear correction, temporal Gaussian high-pass, spatial Gaussian
 * low-pass of the high-pass part, the automatic stable reference (16ref) and the velocity of
 * the filtered time series. The numerical cores are tsfilt.h.
 *
 * Reads  TSDIR/results/cum.tif (one band per epoch, mm, band description YYYYMMDD),
 *        results/mask.tif (1/0/NaN, step 15; not with --nomask), results/n_gap.tif,
 *        results/hgt.tif (--hgt-linear), info/13parameters.txt (pixel_spacing_r/_a, as printed).
 * Writes results/cum_filt.tif (one band per epoch, mm, dates as band descriptions),
 *        vel.filt.tif, vintercept.filt.tif, and unless --nomask vel.filt.mskd.tif,
 *        vintercept.filt.mskd.tif; info/16parameters.txt, 16ref.txt, 16ref.kml,
 *        16rms_cum_wrt_med.tif (LiCSBAS's flat 16rms_cum_wrt_med as a GeoTIFF).
 *
 * Passes (row blocks; nothing holds a whole image unless the budget allows the filtered cube
 * in memory):
 *   0. nanmin of n_gap; with deramp/hgt-linear, per-epoch normal equations (item = epoch, rows
 *      in order, so sums do not depend on threads or block size), solved per epoch.
 *   1. filter sweeps over groups of epochs: the input rows of the epochs in the groups' temporal
 *      windows are deramped, high-passed in time, masked, and fed to one streaming spatial
 *      filter per epoch (tsfilt_sconv, a ring of 2*half+1 rows); each output row gives
 *      cum_filt = cum - S, stored (memory or TSDIR/work/16cum_filt.f32, [row][epoch][x]) and
 *      counted into the epoch's median histogram; then the median's second pass.
 *   2. 16ref: RMS about the medians (mask, min n_gap), first minimum; the unfiltered deramped
 *      cum at the reference pixel is read back.
 *   3. referencing, velocity fit, output rasters.
 * Memory formula (filt_plan_memory): per epoch of a sweep n_slot*width*20 + 256 KiB; per
 * input row width*(N_window + 3)*4; per thread width*64; the cube N*length*width*4 if held in
 * memory. The step fails early ("needs N MB, budget is M MB") when one epoch's ring does not
 * fit. Results do not depend on --threads; --mem changes only the sweep grouping (no effect
 * on any value).
 */
#ifndef CBAS_STEP_FILTER_H
#define CBAS_STEP_FILTER_H
#include "cbas/ctx.h"
#include "cbas/stack.h"
#include "cbas/tsdir.h"
#include "cbas/tsfilt.h"

typedef struct filt_params {
  double filtwidth_km;   /* -s, default 2 */
  int km_given;          /* printed as a Python float when given (2.0), else as the int 2 */
  double filtwidth_yr;   /* -y; NaN = auto (3 x mean interval); 0 = no temporal filter */
  tsfilt_deg deg;        /* -r */
  int hgt_linear;        /* --hgt_linear */
  long hgt_min, hgt_max; /* 200, 10000 m */
  int nomask;            /* --nomask */
  const char *range, *range_geo, *ex_range, *ex_range_geo; /* NULL = none */
  int keep_work;         /* keep TSDIR/work/16cum_filt.f32 (tests) */
  uint64_t force_file;   /* tests: 1 = always use the work file for the filtered cube */
  int no_input_cache;    /* tests: 1 = every sweep decodes cum.tif (no TSDIR/work/16cum.f32) */
  int no_shared_weights; /* tests: 1 = every epoch computes its own spatial weight sums */
} filt_params;

typedef struct filt_result {
  uint32_t ref_x, ref_y;   /* 16ref pixel */
  double width_yr;         /* temporal width used */
  double sx, sy;           /* spatial sigma in pixels */
  int half;                /* kernel half-width */
  int n_sweep;             /* filter sweeps (epoch groups) */
  int cube_in_memory;      /* 1 if the filtered cube was held in memory */
  int input_cached;        /* 1 if cum.tif was decoded once into TSDIR/work/16cum.f32 */
  int shared_weights;      /* 1 if the mask's spatial weight sums were built once and shared */
} filt_result;

void filt_params_default(filt_params *p);
/* Fills p from the step-16 parameters. Returns 0 or CBAS_EUSAGE (bad --deg-deramp). */
int filt_params_from(cbas_ctx *ctx, const tsdir_pvals *v, filt_params *p);
int filt_run(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const filt_params *p, filt_result *out);
#endif
