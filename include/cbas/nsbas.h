/* nsbas.h — the NSBAS time-series inversion of LiCSBAS step 13 for blocks of pixels, and the
 * per-pixel helpers of steps 13-14 and LiCSBAS_cum2vel.
 *
 * Reproduces (see /work/shared/reference/licsbas-algorithms.md §7, §8, §11):
 *  - LiCSBAS_inv_lib.invert_nsbas (LS) and invert_nsbas_wls (WLS): per pixel, least squares
 *    on the stacked system [G; gamma*B] with the ifg rows of missing data removed; unknowns
 *    x = [inc_0 .. inc_{N-2}, vel, intercept]; SB row k: 1 in columns prim_k..sec_k-1;
 *    constraint row i: gamma in columns 0..i-1, -gamma*t_i (vel), -gamma (intercept), RHS 0.
 *    Matrix entries are LiCSBAS's float32 values (float32(gamma), float32(-t_i*float32(gamma)))
 *    promoted to double; the solve is double (numpy lstsq/dgelsd semantics); results are
 *    rounded to float32.
 *  - LiCSBAS13_sb_inv.py post-processing: gap flags, n_gap, maxTlen, n_ifg_noloop, residuals
 *    and resid_rms (float32, sequential sums), cum = sequential float32 cumsum of the float32
 *    increments with cum_0 = 0 and the gap masking of §7.5; vel and vintercept are the NSBAS
 *    unknowns.
 *  - calc_vel, calc_velsin (cum2vel), calc_velstd_withnan (bootstrap vstd with MT19937 seeded
 *    with 1 and NumPy's legacy masked randint), calc_stc.
 *
 * Units: the inversion is unit-agnostic; LiCSBAS feeds it mm (unw * coef_r2m minus the per-ifg
 * reference, see nsbas_unw_to_mm), so cum/inc/vintercept/resid come out in mm and vel in mm/yr.
 * Times t_yr are dt_cum: years since the first epoch, float32 as LiCSBAS stores them.
 *
 * Layout of block arrays: "plane-major" — value (plane q, pixel p) at arr[q*ld + p], one plane
 * per ifg (inputs, resid) or per epoch (cum, inc, gap), ld >= n_pix, as rasters are read/written
 * line by line. Per-pixel scalars (vel, n_gap, ...) are arr[p].
 *
 * How the LS inversion is organised (exact up to rounding; routes documented in nsbas.c):
 *  - The plan (per network, built once) holds the stacked matrix A, the SB columns of its
 *    pseudo-inverse P = A^+ and the SB rows of the thin Q of A = QR.
 *  - Pixels with every ifg valid: x = P d, a batched matrix product over tiles of pixels.
 *  - Pixels missing k ifgs (set S): x = x_full - P_S (I - H_SS)^-1 e_S, the exact leave-k-out
 *    downdate (H = Q Q^T the hat matrix, e_S the full-solution residuals of the removed rows,
 *    whose data is taken as 0). Used when k <= n_epoch+1 and I - H_SS is safely positive
 *    definite (||(I - H_SS)^-1|| <= 1e4); otherwise, e.g. when the pixel's valid ifgs leave the
 *    network disconnected, the reduced system is factored (Householder QR with column pivoting,
 *    SVD if not certified full rank). Factorisations are cached per validity pattern in the
 *    workspace, so neighbouring pixels with the same missing ifgs share one factorisation.
 *  - WLS: every pixel is solved on its own weighted system (rows / sqrt(var), constraint rows
 *    var = 50), as LiCSBAS does.
 * The route taken depends only on the pixel's own data, and results do not depend on how
 * pixels are split into blocks or threads (bitwise).
 *
 * Threads: a plan is read-only after nsbas_plan_init and can be shared; a workspace belongs to
 * one thread at a time. Memory comes from the caller (normally budget_alloc), sizes below.
 */
#ifndef CBAS_NSBAS_H
#define CBAS_NSBAS_H
#include "cbas/ctx.h"
#include "cbas/linalg.h"
#include <stddef.h>
#include <stdint.h>

/* The small-baseline network. */
typedef struct nsbas_net {
  int n_epoch;            /* N >= 2 */
  int n_ifg;              /* M >= 1 */
  const int *ifg_prim;    /* M primary epoch indices, 0-based */
  const int *ifg_sec;     /* M secondary epoch indices, ifg_prim[k] < ifg_sec[k] < N */
  const float *t_yr;      /* N times (dt_cum), strictly increasing, t_yr[0] = 0 normally */
} nsbas_net;

/* Per-network precomputation (read-only after init). */
typedef struct nsbas_plan {
  int n_epoch, n_ifg;
  int n_unk;              /* N + 1 */
  int n_row;              /* M + N */
  int *prim, *sec;        /* copies of the network */
  float *t_yr;
  float gamma32;          /* float32(gamma) as LiCSBAS builds the matrix */
  double *a;              /* n_row x n_unk stacked matrix, column-major */
  double *pinv;           /* n_unk x M: columns of A^+ belonging to the SB rows */
  double *qsb;            /* n_unk x M: column k = row k of the thin Q (hat rows) */
  int batched;            /* 1: A certified full column rank, batched routes usable; 0: every
                           * pixel is solved on its own (numpy lstsq semantics throughout) */
} nsbas_plan;

/* Bytes nsbas_plan_init needs: 8*(3*R*U + 2*U*M + 2*U^2 + 6*U + R) + 4*(2*M + N + U) plus
 * < 1 kB of alignment, with R = M+N rows and U = N+1 unknowns (includes the scratch of the
 * one-off factorisation; 1.0 MB for M = 240, N = 81). */
size_t nsbas_plan_bytes(int n_epoch, int n_ifg);
/* Validates the network (names the offending ifg/epoch in the message, CBAS_EUSAGE) and builds
 * the plan in mem. Fails with CBAS_EDATA if the stacked matrix is not of full column rank. */
int nsbas_plan_init(cbas_ctx *ctx, nsbas_plan *pl, void *mem, size_t mem_bytes,
                    const nsbas_net *net, double gamma);

#define NSBAS_TILE 8      /* pixels per batched tile */
#define NSBAS_CACHE 4     /* factorisations cached per workspace */

typedef enum { NSBAS_LS = 0, NSBAS_WLS = 1 } nsbas_alg;
typedef enum {
  NSBAS_ROUTE_AUTO = 0,   /* batched / downdated / cached-factorisation routes (default) */
  NSBAS_ROUTE_EACH = 1    /* factor every pixel's own system (reference and benchmark) */
} nsbas_route;

/* Route actually taken for a pixel (nsbas_out.route). */
enum { NSBAS_R_SKIP = 0, NSBAS_R_FULL = 1, NSBAS_R_DOWNDATE = 2, NSBAS_R_FACTOR = 3,
       NSBAS_R_CACHED = 4, NSBAS_R_EACH = 5, NSBAS_R_FAILED = 6 };

/* Per-thread workspace (fields are private to nsbas.c except the counters, which accumulate
 * the number of pixels per route over calls, for reports). */
typedef struct nsbas_work {
  const nsbas_plan *pl;
  double *dtile, *xtile;  /* M x TILE data, U x TILE full solutions */
  double *sa, *sb, *sw;   /* one reduced system: R x U, max(R,U) rhs, la_lstsq work */
  int *siw;
  double *kk, *ki, *ke;   /* downdate: K (kmax^2), a column, e_S */
  double *xs;             /* U: one pixel's solution */
  float *incf;            /* N: its float32 increments */
  int *miss, *cover;      /* M missing ifgs; N+1 gap coverage */
  int *full_cover;        /* N+1: gap flags of a pixel with every ifg valid (if full_ok: */
  float full_ngap, full_maxt, full_noloop; /* set by this nsbas_invert call) */
  int full_ok;
  uint8_t *valid, *inloop;/* M each */
  uint64_t *key;          /* validity mask of the current pixel */
  int kmax, words;        /* largest downdate; 64-bit words per mask */
  struct nsbas_cache {
    uint64_t *mask;       /* validity of the M ifgs */
    double *a, *w;        /* factors and la_ls work */
    int *iw;
    la_ls f;
    int used;
  } cache[NSBAS_CACHE];
  int cache_next;
  long n_skip, n_full, n_downdate, n_factor, n_cached, n_each, n_failed;
} nsbas_work;

/* Bytes of one workspace, about 8*[(NSBAS_CACHE+1)*(R*U + Wl) + (M+U)*TILE + U^2 + 3R]
 * with R = M+N rows, U = N+1 unknowns and Wl = la_ls_work(R, U) ~ 2U^2 + 5U (1.6 MB for
 * M = 240, N = 81); the exact figure comes from this function. */
size_t nsbas_work_bytes(const nsbas_plan *pl);
int nsbas_work_init(cbas_ctx *ctx, nsbas_work *w, const nsbas_plan *pl, void *mem,
                    size_t mem_bytes);

/* One block of pixels. */
typedef struct nsbas_in {
  int n_pix;
  size_t ld;              /* plane stride of d and var, >= n_pix */
  const float *d;         /* M planes: data (LiCSBAS: mm, referenced); NaN = missing */
  const float *var;       /* WLS: M planes of variances (nsbas_coh_to_var); NULL for LS */
  nsbas_alg alg;
  nsbas_route route;
  int n_unw_thre;         /* a pixel is inverted iff its number of valid ifgs > n_unw_thre */
  int n_loop;             /* loops for n_ifg_noloop (step 12's loop list); 0 if not wanted */
  const int *loop_ifg;    /* 3 ifg indices per loop */
} nsbas_in;

/* Outputs; every pointer may be NULL (not computed). Plane arrays use ld (>= n_pix).
 * Pixels not inverted get NaN everywhere, gap flags 0 and n_unw still counted, as LiCSBAS. */
typedef struct nsbas_out {
  size_t ld;
  float *cum;             /* N planes: cumulative displacement, cum_0 = 0, gap-masked */
  float *inc;             /* N-1 planes: increments (LiCSBAS .inc files) */
  float *vel;             /* velocity (unit/yr) */
  float *vintercept;      /* intercept c of v*t + c */
  float *resid;           /* M planes: d - G inc (NaN where d is NaN) */
  float *resid_rms;       /* sqrt(sum res^2 / #valid), float32 */
  int8_t *gap;            /* N-1 planes: 1 if no valid ifg spans the increment */
  float *n_gap;           /* number of gaps */
  float *maxTlen;         /* longest gap-free span, years */
  float *n_ifg_noloop;    /* valid ifgs in no complete loop (needs in->loop_ifg) */
  float *n_unw;           /* number of valid ifgs (every pixel) */
  double *x;              /* U planes: the double solution before rounding (tests) */
  uint8_t *route;         /* NSBAS_R_* per pixel */
} nsbas_out;

/* Inverts the block. Thread-safe for distinct workspaces. Returns 0 or a status (bad
 * arguments: CBAS_EUSAGE). A pixel whose solve fails (e.g. WLS with NaN variance on a valid
 * ifg) gets NaN results, as LiCSBAS's try/except does; that is not an error. */
int nsbas_invert(cbas_ctx *ctx, nsbas_work *w, const nsbas_in *in, nsbas_out *out);

/* ---- Input preparation as LiCSBAS step 13 does it (float32 arithmetic) ---------------------- */
/* out[i] = float32(unw[i] * coef_r2m) - ref_mm, with a product of exactly 0 treated as NaN.
 * coef_r2m = -lambda/(4 pi)*1000 rounded to float32; ref_mm the ifg's reference (float32). */
void nsbas_unw_to_mm(size_t n, const float *unw_rad, float coef_r2m, float ref_mm, float *out);
/* Coherence byte -> coherence: b/255 in float32, 0 -> NaN. */
float nsbas_cc_to_coh(uint8_t b);
/* WLS variance of a coherence: NaN stays NaN (as 0 -> NaN); clipped to [0.01, 0.99] in float32;
 * var = (1 - c^2) / (2 c^2) in float32. */
float nsbas_coh_to_var(float coh);

/* ---- Velocity fits of a cumulative time series (calc_vel, calc_velsin) ---------------------- */
/* Doubles of scratch for one pixel of nsbas_vel_fit with n_par parameters (2 or 4). */
size_t nsbas_vel_work(int n_epoch, int n_par);
/* Least squares (numpy lstsq semantics, double) of cum_i = c + v t_i [+ a_s sin(2 pi t_i)
 * + a_c cos(2 pi t_i)] over the non-NaN epochs; the sin/cos regressors are computed in float32
 * as NumPy does. cum[i*stride] for i < n_epoch. coef receives (c, v[, a_s, a_c]) rounded to
 * float32; all NaN if the solve fails. No valid epoch gives zeros (numpy's lstsq on 0 rows). */
void nsbas_vel_fit(int n_epoch, const float *t_yr, const float *cum, size_t stride, int n_par,
                   double *work, float *coef);
/* calc_velsin's amplitude and phase from (a_s, a_c): amp = sqrt(a_s^2 + a_c^2) and
 * delta_t = atan2(-a_c, a_s)/2/pi*365.25 + doy0 wrapped once into [0, 365.25] (days), float32.
 * doy0 = day of year (0 = Jan 1) of the first date of the file (LiCSBAS quirk). */
void nsbas_sin_amp_dt(float a_s, float a_c, int doy0, float *amp, float *delta_t);

/* ---- Bootstrap std of the velocity (step 14 vstd, cum2vel --vstd) --------------------------- */
/* MT19937 (Matsumoto & Nishimura), init_genrand seeding, as NumPy's legacy RandomState. */
typedef struct nsbas_mt { uint32_t mt[624]; int mti; } nsbas_mt;
void nsbas_mt_seed(nsbas_mt *s, uint32_t seed);
uint32_t nsbas_mt_u32(nsbas_mt *s);
/* RandomState.randint(0, n) for 1 <= n <= 2^32 (legacy masked rejection sampling). */
uint32_t nsbas_mt_below(nsbas_mt *s, uint64_t n);
#define NSBAS_BOOT 100
/* The epoch indices of the n_boot draws of astropy.stats.bootstrap under NumpyRNGContext(1):
 * seed 1, then n_boot times randint(0, N, size=N). idx[b*N + s]. */
void nsbas_boot_draws(int n_epoch, int n_boot, int *idx);
/* One pixel: for every draw b, the velocity of the 2x2 normal equations over the drawn epochs
 * idx[b*N ..] (duplicates counted, NaN epochs skipped). The sums are formed in float32 in draw
 * order (float32 products), as NumPy's float32 matmul/dot give them with reference BLAS, then
 * solved by dgesv's LU in double and rounded to float32 -> vel_draw[b]. singular[b] = 1 where
 * the 2x2 matrix is exactly singular: LiCSBAS then voids draw b for every pixel of the patch
 * (the caller ORs these flags over the patch, before nsbas_boot_std). Only pixels with a valid
 * cum_0 take part (LiCSBAS14 drops the others before the bootstrap). */
void nsbas_boot_pixel(int n_epoch, const float *t_yr, int n_boot, const int *idx,
                      const float *cum, size_t stride, float *vel_draw, uint8_t *singular);
/* vstd = nanstd (ddof 0, double) of vel_draw over the draws not voided; NaN if none. */
float nsbas_boot_std(int n_boot, const float *vel_draw, const uint8_t *voided);

/* ---- STC (Hanssen 2008) ------------------------------------------------------------------- */
/* STC of one image row (calc_stc, float32 arithmetic as NumPy): up/row/down are the cum of rows
 * y-1, y, y+1 (NULL outside the image), plane-major: epoch i of pixel x at row[i*ld + x].
 * stc[x] = min over the 8 neighbours of the RMS of the double differences (zeros -> NaN);
 * NaN for an isolated pixel. */
void nsbas_stc_row(int n_epoch, int width, size_t ld, const float *up, const float *row,
                   const float *down, float *stc);
#endif
