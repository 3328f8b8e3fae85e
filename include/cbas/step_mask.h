/* step_mask.h — `cbas mask-ts`, LiCSBAS step 15 (LiCSBAS15_mask_ts.py v1.8.1, digest §9): the
 * noise-index mask of the time series, on the results of steps 12–14.
 *
 * Reads  TSDIR/results/vel.tif (12ref frame: vel == 0 marks the reference pixel), coh_avg.tif,
 *        n_unw.tif, vstd.tif, maxTlen.tif, n_gap.tif, stc.tif, n_ifg_noloop.tif,
 *        n_loop_err.tif, resid_rms.tif; TSDIR/info/13parameters.txt (wavelength -> C/L-band
 *        defaults, and "n_im", which LiCSBAS's grep reads as n_im_all).
 * Writes TSDIR/results/mask.tif (1 kept, 0 masked, NaN not evaluated), vel.mskd.tif,
 *        TSDIR/info/15parameters.txt (thresholds, masked rates, counts; LiCSBAS's text).
 * As LiCSBAS: when exactly one pixel stays unmasked, 15parameters.txt is written and the step
 * fails without writing the rasters (CBAS_EDATA).
 *
 * Streaming: two passes over the ten rasters in row blocks (pass 1: nanmin of each index for
 * auto-adjust; pass 2: mask). Memory per block row: 12 * width * 4 bytes (ten inputs, two
 * outputs) + per-row accumulators; block rows from the budget. Results are integer counts and
 * per-pixel comparisons: independent of --threads and --mem.
 */
#ifndef CBAS_STEP_MASK_H
#define CBAS_STEP_MASK_H
#include "cbas/ctx.h"
#include "cbas/stack.h"
#include "cbas/tsdir.h"
#include "cbas/tsmask.h"

/* Fills p from the step-15 parameters (unset thresholds stay NaN = band default). */
void mask_params_from(const tsdir_pvals *v, tsmask_params *p);
/* Runs step 15. plan_out/acc_out (may be NULL) receive the final thresholds and counts. */
int mask_run(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const tsmask_params *p,
             tsmask_plan *plan_out, tsmask_acc *acc_out);
#endif
