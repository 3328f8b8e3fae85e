/* tsmask.h — the noise-index mask of LiCSBAS step 15 (LiCSBAS15_mask_ts.py v1.8.1; digest §9),
 * as a pure per-pixel core that a driver feeds row block by row block.
 *
 * Semantics reproduced exactly:
 *  - Evaluated set E = pixels whose vel is not NaN and not exactly 0 (vel == 0 is taken to be
 *    the reference pixel of the 12ref frame); n_pt_all = |E|.
 *  - Nine indices in LiCSBAS's order (enum below). "lt" indices (coh_avg, n_unw, maxTlen) keep
 *    pixels with value >= threshold, the others keep value <= threshold. Both are evaluated as
 *    LiCSBAS does: in the "signed" space (lt: data and threshold negated), `data <= thre` in
 *    float32 (a float32 array against a Python number), NaN fails.
 *  - stc NaN (isolated pixel) is replaced by float32(stc_thre + 1) (masked), or by 0 with
 *    keep_isolated, before anything else (so with the *given* threshold, before auto-adjust).
 *  - Auto-adjust (unless no_autoadjust): if min over E of the signed data (nanmin, float32) is
 *    greater than the signed threshold — compared in double, as NumPy compares a float32
 *    scalar with a Python float — the threshold becomes ceil(min) in float32 (then printed as a
 *    float). All-NaN over E: no adjustment.
 *  - n_unw threshold = int(n_im * r) with r the -u ratio; the caller passes n_im, which for
 *    LiCSBAS parity is n_im_all of 13parameters.txt (the `grep n_im` quirk, digest §0.2).
 *  - mask = 1 (kept) / 0 (masked) on E, NaN elsewhere, then 1 where vel == 0;
 *    vel.mskd = vel*mask with mask == 0 -> NaN.
 *  - Report (info/15parameters.txt) with LiCSBAS's exact text: thresholds printed as Python
 *    prints the int / float / numpy.float32 it holds ('{:4}'), rates '{:4.1f}'.
 *
 * Use: tsmask_setup() once; tsmask_scan() over every pixel (any blocks, any order; partial
 * accumulators merged with tsmask_acc_merge()); tsmask_adjust(); tsmask_apply() over every
 * pixel writing mask / vel.mskd and counting; tsmask_report().
 * Memory: none (fixed-size structs). Thread-safety: scan/apply only read the plan; give each
 * thread its own tsmask_acc and merge them (min and counts are order-independent, so results
 * do not depend on the split).
 */
#ifndef CBAS_TSMASK_H
#define CBAS_TSMASK_H
#include <stddef.h>
#include <stdint.h>

typedef enum tsmask_index {
  TSMASK_COH_AVG, TSMASK_N_UNW, TSMASK_VSTD, TSMASK_MAXTLEN, TSMASK_N_GAP, TSMASK_STC,
  TSMASK_N_IFG_NOLOOP, TSMASK_N_LOOP_ERR, TSMASK_RESID_RMS, TSMASK_N
} tsmask_index;

/* Results file name stem (results/<name>.tif), LiCSBAS unit text, and 1 for "lt" indices. */
const char *tsmask_name(int k);
const char *tsmask_unit(int k);
int tsmask_is_lt(int k);

/* User thresholds. NaN = LiCSBAS's band default. thre[TSMASK_N_UNW] is the -u RATIO r.
 * n_gap, n_ifg_noloop and n_loop_err must be integers (LiCSBAS parses them with int()). */
typedef struct tsmask_params {
  double thre[TSMASK_N];
  int keep_isolated;   /* --keep_isolated */
  int no_autoadjust;   /* --noautoadjust */
} tsmask_params;

void tsmask_params_default(tsmask_params *p); /* all NaN, flags 0 */

/* Thresholds resolved for one run. */
typedef struct tsmask_plan {
  double thre[TSMASK_N];   /* threshold as LiCSBAS holds it (n_unw: the count int(n_im*r)) */
  int thre_is_int[TSMASK_N]; /* 1: a Python int (printed "%4d"), 0: a float (Python repr) */
  double given[TSMASK_N];  /* threshold before auto-adjust (for messages) */
  int adjusted[TSMASK_N];  /* 1 if auto-adjust changed it */
  float cmp[TSMASK_N];     /* float32 threshold in the signed space: keep if signed <= cmp */
  float stc_nan;           /* value given to NaN stc */
  int autoadjust;
  double n_unw_r;          /* the ratio used */
  int lband;               /* 1: L-band defaults (wavelength > 0.2 m) */
} tsmask_plan;

/* Per-pass accumulator (zero it with tsmask_acc_init). */
typedef struct tsmask_acc {
  uint64_t n_pt_all;         /* |E| */
  uint64_t n_ref;            /* pixels with vel == 0 */
  float min_signed[TSMASK_N];/* nanmin over E of the signed data (scan) */
  int has_min[TSMASK_N];
  uint64_t kept[TSMASK_N];   /* E pixels passing each index (apply) */
  uint64_t n_kept;           /* E pixels passing all (apply) */
} tsmask_acc;

void tsmask_acc_init(tsmask_acc *a);
void tsmask_acc_merge(tsmask_acc *into, const tsmask_acc *from);

/* Resolves thresholds: band from wavelength_m (> 0.2: L-band), defaults, n_unw count from
 * n_im. Returns 0, or -1 with a reason in why (an integer-only threshold that is not an
 * integer, n_im < 1, a NaN wavelength). */
int tsmask_setup(tsmask_plan *plan, const tsmask_params *p, double wavelength_m, long n_im,
                 char *why, size_t why_cap);

/* idx[k] points to n values of index k (float32, NaN = no data); vel to n velocities. */
void tsmask_scan(const tsmask_plan *plan, const float *vel, const float *const idx[TSMASK_N],
                 size_t n, tsmask_acc *acc);
/* Applies auto-adjust from a complete scan. */
void tsmask_adjust(tsmask_plan *plan, const tsmask_acc *scan);
/* Writes mask[n] (1/0/NaN) and, if vel_mskd != NULL, vel_mskd[n]; counts into acc. */
void tsmask_apply(const tsmask_plan *plan, const float *vel, const float *const idx[TSMASK_N],
                  size_t n, float *mask, float *vel_mskd, tsmask_acc *acc);
/* Number of unmasked pixels of the final mask, LiCSBAS's n_nomask = nansum(mask)
 * (kept E pixels plus the vel == 0 pixels). */
uint64_t tsmask_n_nomask(const tsmask_acc *a);

/* The text of info/15parameters.txt (LiCSBAS prints the same lines to stdout) into buf.
 * Returns the length, or -1 if cap is too small (1 KB is enough). */
int tsmask_report(const tsmask_plan *plan, const tsmask_acc *acc, char *buf, size_t cap);
#endif
