/* step_invert.h — `cbas invert`, LiCSBAS step 13 (LiCSBAS13_sb_inv.py v1.5.2, digest §7): the
 * NSBAS small-baseline inversion of every pixel (nsbas.h), the per-pixel network statistics,
 * the stable reference pixel (13ref) and the reports.
 *
 * Inputs (as LiCSBAS): the stack's ifgs minus info/11bad_ifg.txt minus info/12bad_ifg.txt
 * (tsdir_used_ifgs; epochs = the dates of those ifgs), the preliminary reference window
 * info/12ref.txt. Data per ifg k in mm: d_k = float32(unw_k * float32(coef_r2m)) - ref_k, with
 * coef_r2m = -lambda/4/pi*1000, unw 0 = NaN, ref_k = float32 nanmean of unw_k*coef over the
 * 12ref window (summed in row-major order: exact for LiCSBAS's 1-pixel windows). A pixel is
 * inverted when it has more than n_unw_thre = int(n_unw_r_thre * n_im) valid ifgs
 * (--n-unw-r-thre; 0 or unset = 1.0 C-band, 0.5 L-band, wavelength > 0.2 m).
 *
 * Outputs (tsdir.h contract):
 *   results/vel.tif, vintercept.tif   the NSBAS unknowns, in the 12ref frame (as LiCSBAS's flat
 *                                     results/vel: the 12ref pixel has vel 0; step 15 uses it)
 *   results/resid_rms.tif, n_gap.tif, n_ifg_noloop.tif, maxTlen.tif   NaN where not inverted
 *   results/cum.tif   N bands (band description YYYYMMDD), mm, referenced to 13ref like
 *                     LiCSBAS's cum.h5 (cum_i -= cum_i(13ref), float32)
 *   info/13parameters.txt, 13used_image.txt, 13resid.txt (ifg order), 13ref.txt, 13ref.kml,
 *   info/13rms_cum_wrt_med.tif   (LiCSBAS's flat 13rms_cum_wrt_med as a GeoTIFF)
 *   with --keep-incfile: 13increment/increment.tif (N-1 bands "D1_D2") and 13resid/resid.tif
 *   (M bands, ifg names) instead of LiCSBAS's per-image flat .inc/.res files.
 * 13parameters.txt has LiCSBAS's keys and order; memory_size is our --mem budget (MB) and
 * n_patch our number of row blocks (neither has a numerical effect, in LiCSBAS either).
 *
 * Passes (row blocks sized from the budget, par_for over the rows of a block, one nsbas
 * workspace per worker; results bitwise independent of --threads and --mem):
 *   1. read unw (and cc for WLS) rows, invert, write vel/vintercept/resid_rms/n_gap/
 *      n_ifg_noloop/maxTlen rows, append the unreferenced cum rows ([row][epoch][x] float32)
 *      to TSDIR/work/13cum.f32, count the 13resid sums (double per row, rows in order) and the
 *      first radix level of each epoch's exact nanmedian.
 *   2-3. two more radix levels of the per-epoch medians over the work file (exact NumPy
 *      nanmedian: middle order statistics from 11+11+10-bit histograms of the float order key).
 *   4. rms_cum_wrt_med (float32, sequential over epochs, no NaN skipping) masked to
 *      n_gap == min(n_gap); 13ref = first row-major minimum.
 *   5. cum.tif = work rows minus the 13ref pixel's cum.
 *
 * Memory formula (inv_memory): fixed = nsbas plan + per worker (nsbas workspace + 3*M*W*4 of
 * data/variance/residual rows) + median histograms N*2*2048*4 + one cum.tif strip N*W*4 +
 * small; per block row = n_ifg_stack*W*(4 [+1 WLS]) + N*W*4 (cum) + 6*W*4 (outputs) + M*16
 * (resid sums) [+ (N-1+M)*W*4 with --keep-incfile]. The step fails before any work with
 * "cbas invert needs N MB, budget is M MB" when one row does not fit.
 */
#ifndef CBAS_STEP_INVERT_H
#define CBAS_STEP_INVERT_H
#include "cbas/ctx.h"
#include "cbas/nsbas.h"
#include "cbas/stack.h"
#include "cbas/tsdir.h"

typedef struct inv_params {
  nsbas_alg alg;            /* --inv-alg LS (default) or WLS */
  const char *alg_name;     /* as printed in 13parameters.txt ("LS", "WLS") */
  double gamma;             /* --gamma, default 1e-4 */
  double n_unw_r_thre;      /* --n-unw-r-thre; NaN or 0 = band default */
  int keep_incfile;         /* --keep-incfile */
  int keep_work;            /* tests: keep TSDIR/work/13cum.f32 */
  nsbas_route route;        /* tests/bench: NSBAS_ROUTE_EACH solves every pixel on its own */
  uint32_t max_block_rows;  /* tests: cap on the block height (0 = from the budget only) */
} inv_params;

typedef struct inv_summary {
  uint32_t n_im, n_ifg;     /* epochs and ifgs used */
  int n_unw_thre;
  uint32_t ref12_x, ref12_y;/* 12ref window origin */
  uint32_t ref_x, ref_y;    /* 13ref pixel */
  uint32_t block_rows, n_block;
  long n_route[7];          /* pixels per NSBAS_R_* route */
} inv_summary;

/* Fills p from the step-13 parameters; CBAS_EUSAGE for an unknown --inv-alg. */
int inv_params_from(cbas_ctx *ctx, const tsdir_pvals *v, inv_params *p);
/* Runs step 13 on stack s into the TSDIR t (steps 11 and 12 must have run). out may be NULL. */
int inv_run(cbas_ctx *ctx, const tsdir *t, const stack *s, const inv_params *p, inv_summary *out);
#endif
