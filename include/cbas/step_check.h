/* step_check.h — `cbas check`, LiCSBAS step 11 (LiCSBAS11_check_unw.py v1.3.3, digest §5):
 * per-interferogram coverage and mean coherence over the area valid in every image, the bad
 * list, the statistics table and the epochs left without a good interferogram.
 *
 * Definitions (as LiCSBAS): N_im = number of epochs of all stack ifgs; n_unw(p) = number of
 * ifgs with valid unw at p (NaN and 0 are no data); valid area V = {p : n_unw(p) >= N_im},
 * n_valid = |V|; cov_k = #{p in V : unw_k(p) valid} / n_valid; coh_k = mean over p in V of
 * byte/255 (float32) with byte 0 = no data. Bad if cov_k < unw_thre or coh_k < coh_thre or
 * either is NaN (n_valid = 0 gives NaN). All ifgs bad is an error (CBAS_EDATA), after the
 * reports are written.
 * Precision: coverage counts are exact; coh_k is summed from a per-ifg histogram of the 255
 * coherence bytes (exact counts, each byte's float32 value b/255 summed in double) and rounded
 * to float32. NumPy sums the same float32 values pairwise in float32: the two agree to a
 * relative 1e-6 (measured: the 5.3f columns of 11ifg_stats.txt are identical unless a value
 * lies within 1e-6 of a rounding boundary).
 *
 * Streaming: one pass over unw.bil and cc.bil in row blocks. Memory: fixed
 * n_ifg*(256*8+8) bytes of histograms, plus per row n_ifg*width*5 bytes (unw + cc) + width*5;
 * block rows from the budget (tsdir_block_rows); afterwards the network figures
 * (TSDIR_NETWORK_PNG_BYTES, checked before the pass). Results do not depend on --threads or --mem (integer counts).
 */
#ifndef CBAS_STEP_CHECK_H
#define CBAS_STEP_CHECK_H
#include "cbas/ctx.h"
#include "cbas/stack.h"
#include "cbas/tsdir.h"

typedef struct qc_params {
  double unw_thre;   /* coverage ratio threshold, default 0.3 (LiCSBAS -u) */
  double coh_thre;   /* mean coherence threshold, default 0.05 (LiCSBAS -c) */
  uint32_t block_rows; /* at most this many rows per block; 0 = from the budget */
} qc_params;

/* Per-ifg results (optional output of qc_run; arrays of n_ifg, caller-owned). */
typedef struct qc_stats {
  uint64_t n_valid;     /* |V| */
  double *cov;          /* coverage ratio (NaN when n_valid = 0) */
  float *coh;           /* mean coherence (NaN when no coherent pixel in V) */
  uint8_t *bad;         /* 1 = bad */
} qc_stats;

void qc_params_from(const tsdir_pvals *v, qc_params *p);
/* Runs step 11 on the stack s into the TSDIR t (created by the caller with tsdir_create).
 * out may be NULL. */
int qc_run(cbas_ctx *ctx, const tsdir *t, const stack *s, const qc_params *p, qc_stats *out);
#endif
