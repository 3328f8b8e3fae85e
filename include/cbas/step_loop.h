/* step_loop.h — `cbas loop`, LiCSBAS step 12 (LiCSBAS12_loop_closure.py v1.6.1, digest §6):
 * loop closure over every triangle of the network, bad interferograms from loop RMS, the
 * preliminary reference pixel (12ref), per-pixel n_loop_err / n_unw / coh_avg /
 * n_ifg_noloop, the network-gap report.
 *
 * Working set: the stack's ifgs minus info/11bad_ifg.txt (step 11 must have run). Loops:
 * ifgnet_loops (make_loop_matrix order). The four passes, each reading the stack in row
 * blocks:
 *  1. per loop, loop phase ℓ = u12+u23−u13 (float32): n = rint(nanmedian(ℓ)/2π) over the whole
 *     image, ℓ −= float32(2πn); with multi_prime also ℓ −= nanmedian(ℓ); RMS = sqrt(nanmean ℓ²)
 *     (all-NaN loop: RMS = inf). The median is exact (xmedian.h: one stack pass per level of
 *     its radix selection, three at most, fewer when every loop's 2πn is already decided),
 *     then one pass for the RMS sums.
 *     Bad loop: RMS >= loop_thre; bad ifg = in a bad loop and in no good loop; plus
 *     --rm-ifg-list.
 *  2. per pixel, over loops without a bad ifg, the same shifted ℓ: count, Σℓ² and #(ℓ² > π²)
 *     accumulated in float32 in loop order (= LiCSBAS run with --n_para 1), n_unw over the
 *     non-bad ifgs; the reference pixel = among pixels with maximal n_unw and, among those,
 *     minimal #(ℓ² > π²), the smallest nonzero RMS, first in row-major order (a streaming
 *     lexicographic reduction; per-pixel values go to work/ for loop_ph_rms_masked.tif).
 *     Where LiCSBAS crashes because every candidate RMS is 0 or NaN, the first candidate with
 *     RMS 0 is taken (no candidate at all is an error).
 *  3. per loop without bad or no-reference ifg: ℓ referenced to the reference pixel, no 2πn
 *     removal, RMS2; bad_ifg2 by the same rule; 12bad = bad ∪ bad2 ∪ noref.
 *  4. per pixel over loops of 12-good ifgs: n_loop_err = #(|ℓ_ref| > π); coh_avg, n_unw over
 *     good ifgs; n_ifg_noloop over the loops of good ifgs (step 13's definition).
 * Comparisons follow NumPy: per-loop scalars compared with the threshold in double,
 * per-pixel arrays against float32(π) and float32(π²).
 * Per-loop sums are double, summed per row in pixel order and then in row order, so they do
 * not depend on --threads or --mem; NumPy's float32 pairwise sums agree to ~1e-6 relative.
 *
 * Memory: fixed 16 KiB per loop (median histograms) + per worker (n_ifg + 20)*width bytes;
 * per row n_ifg*width*5 + 16*width bytes. Block rows from the budget (tsdir_block_rows);
 * "cbas loop needs N MB" before any work if one row does not fit. The network figures at the
 * end (TSDIR_NETWORK_PNG_BYTES, after the blocks are freed) are checked before the work too.
 */
#ifndef CBAS_STEP_LOOP_H
#define CBAS_STEP_LOOP_H
#include "cbas/ctx.h"
#include "cbas/ifgnet.h"
#include "cbas/stack.h"
#include "cbas/tsdir.h"

typedef struct loop_params {
  double loop_thre;          /* rad, default 1.5 (LiCSBAS -l) */
  int multi_prime;           /* default 0 (LiCSBAS --multi_prime; batch script default y) */
  const char *rm_ifg_list;   /* NULL or a list file (LiCSBAS --rm_ifg_list) */
  uint32_t block_rows;       /* at most this many rows per block; 0 = from the budget */
} loop_params;

/* Per-ifg flags of loop_summary.flags (stack ifg index). */
enum {
  LOOP_F_BAD11 = 1,      /* in 11bad_ifg.txt (not in the working set) */
  LOOP_F_BAD1 = 2,       /* bad from loops without reference (12loop/bad_ifg_loop.txt) */
  LOOP_F_RM = 4,         /* in --rm-ifg-list */
  LOOP_F_NOREF = 8,      /* no data at the reference pixel */
  LOOP_F_BAD2 = 16,      /* bad from loops with reference */
  LOOP_F_CAND = 32,      /* remaining candidate (12bad_ifg_cand.txt) */
  LOOP_F_NOLOOP = 64,    /* in no loop */
  LOOP_F_BAD12 = 128     /* in 12bad_ifg.txt */
};

/* What loop_run found (optional; arrays malloc'd by loop_run, freed by loop_summary_free). */
typedef struct loop_summary {
  uint32_t n_loop;
  ifgnet_loop *loops;    /* stack ifg indices */
  float *rms1;           /* pass-1 RMS per loop (inf for an all-NaN loop) */
  float *rms2;           /* pass-3 RMS per loop, NaN = skipped ("--") */
  uint32_t ref_x, ref_y;
  uint8_t *flags;        /* per stack ifg, LOOP_F_* */
  int n_stack_passes;    /* full reads of unw.bil (measure of work) */
} loop_summary;

void loop_params_from(const tsdir_pvals *v, loop_params *p);
int loop_run(cbas_ctx *ctx, const tsdir *t, const stack *s, const loop_params *p, loop_summary *out);
void loop_summary_free(loop_summary *s);
#endif
