/* step_vstd.h — `cbas vstd`, LiCSBAS step 14 (LiCSBAS14_vel_std.py v1.2, digest §8): the
 * bootstrap standard deviation of the velocity (vstd) and the spatio-temporal consistency
 * (STC) of the time series written by step 13.
 *
 * Reads  TSDIR/results/cum.tif (one band per epoch, mm, band description YYYYMMDD; the 13ref
 *        frame, as LiCSBAS's cum.h5).
 * Writes TSDIR/results/vstd.tif (mm/yr) and stc.tif (mm).
 *
 * vstd as LiCSBAS (inv_lib.calc_velstd_withnan under NumpyRNGContext(1)): 100 draws of N epoch
 * indices with replacement (MT19937 seeded with 1, nsbas_boot_draws), the same for every pixel;
 * per pixel with a valid cum_0 and per draw the velocity of cum = c + v t over the drawn valid
 * epochs (float32 sums in draw order, 2x2 dgesv in double: nsbas_boot_pixel); vstd = nanstd
 * over the draws. LiCSBAS solves a whole patch of rows in one batched call, so a draw whose
 * 2x2 matrix is singular for any pixel of the patch is void for every pixel of it. The patch
 * rows are LiCSBAS's (tools_lib.get_patchrow with n_store = 2.25 N + 100 and --mem-size,
 * default 4000 MB, the p14_mem_size of batch_LiCSBAS.sh): they change numbers, so they are
 * reproduced; our own row blocks are independent of them.
 * Speed without changing a bit: singularity and the LU factors of a draw depend only on which
 * epochs of the pixel are valid, so they are computed once per validity pattern (a small
 * per-worker cache) and each pixel only forms its two data sums, vectorised over pixels
 * (NaN read as 0, which leaves the float32 sums unchanged).
 *
 * STC as inv_lib.calc_stc (nsbas_stc_row), with the true neighbour rows across block borders.
 *
 * Passes: 1. the void flags of each LiCSBAS patch (validity patterns only); 2. vstd and STC,
 * blocks read with one halo row above and below. Both read cum.tif row by row, all bands of a
 * row in turn, so each strip is decoded once per pass.
 * Memory formula (vstd_memory): fixed = draws 400 N + flags 100 n_patch + per worker
 * (4 N W' + 1200 G + VSTD_CACHE (2400 + N/8) + 100) + 2 halo rows 4 N W + reader/writer strips;
 * per block row 4 N W + 8 W + 100 (W' = W rounded up to G = VSTD_GROUP). Results are bitwise
 * independent of --threads and --mem.
 */
#ifndef CBAS_STEP_VSTD_H
#define CBAS_STEP_VSTD_H
#include "cbas/ctx.h"
#include "cbas/stack.h"
#include "cbas/tsdir.h"

#define VSTD_GROUP 16   /* pixels whose bootstrap sums are formed together */
#define VSTD_CACHE 8    /* validity patterns cached per worker */

typedef struct vstd_params {
  double patch_mem_mb;  /* LiCSBAS --mem_size (p14_mem_size), default 4000 */
  uint32_t max_block_rows; /* tests: cap on the block height (0 = from the budget only) */
} vstd_params;

typedef struct vstd_summary {
  uint32_t n_patch, patch_rows;  /* LiCSBAS's patches */
  uint32_t n_voided;             /* voided draws summed over the patches */
  uint32_t block_rows;
  long n_pix;                    /* pixels with a vstd */
} vstd_summary;

void vstd_params_from(const tsdir_pvals *v, vstd_params *p);
/* LiCSBAS's get_patchrow for step 14: number of patches and rows per patch (the last patch
 * ends at length). CBAS_EUSAGE if patch_mem_mb is not positive. */
int vstd_patches(cbas_ctx *ctx, uint32_t width, uint32_t length, int n_epoch, double patch_mem_mb,
                 uint32_t *n_patch, uint32_t *patch_rows);
int vstd_run(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const vstd_params *p, vstd_summary *out);
#endif
