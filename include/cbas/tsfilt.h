/* tsfilt.h — the numerical cores of LiCSBAS step 16 (LiCSBAS16_filt_ts.py v1.5.1; digest §10):
 * deramp / height-linear fit, temporal Gaussian high-pass, spatial Gaussian low-pass of the
 * high-pass part (astropy Gaussian2DKernel + convolve_fft with NaN interpolation), the
 * per-epoch nanmedian, the 16ref criterion and the filtered velocity — each in a form that
 * streams over row blocks, so no function holds a whole image.
 *
 * Layout: a "row" of a multi-epoch raster is [epoch][x] (epoch e at row + e*epoch_stride),
 * NaN = no data. Time t_yr is LiCSBAS's float32 dt_cum (years since the first epoch).
 *
 * Exactness notes (what is mirrored and how closely):
 *  - temporal filter: bit-for-bit NumPy float32 arithmetic and order (window test and weights
 *    in float32, sequential sums over epochs); only expf may differ from NumPy's SIMD exp by
 *    an ulp.
 *  - spatial filter: astropy 5.2 convolve_fft(HP*mask, Gaussian2DKernel(sx, sy),
 *    fill_value=nan) equals the direct normalised convolution
 *        S(p) = sum_q K(q-p) V(q) / sum_q K(q-p)   over valid q inside the image
 *    (zero padding of both the data and the weight image; the weight image is 1 - isnan);
 *    astropy sets S = 0 where the weight sum (kernel normalised to 1) is < 10*DBL_EPSILON and
 *    LiCSBAS turns 0 into NaN. The kernel is square, side odd(ceil(8*max(sx,sy))), samples
 *    exp(-(dx^2/(2sx^2) + dy^2/(2sy^2))) at integer offsets ('center' mode), so it is the outer
 *    product of two 1-D kernels of the same half-width: the convolution is done separably
 *    (rows, then columns over a ring of 2*half+1 rows), in double. Differences to astropy are
 *    FFT rounding (~1e-13 relative), except that a weight sum >= 10*eps with an FFT result of
 *    exactly 0 (never seen in practice) is NaN in LiCSBAS and kept here.
 *  - deramp: least squares on normal equations accumulated in double, in a centred and scaled
 *    polynomial basis spanning the same space as LiCSBAS's raw integer columns, so the fitted
 *    surface is the same (LiCSBAS solves with SVD; rank-deficient cases take the minimum-norm
 *    solution in the scaled basis, which can differ from LiCSBAS's raw-basis minimum norm).
 *  - velocity: OLS in double, rounded to float32 (as lstsq on float32 input).
 *
 * Thread-safety: all functions are reentrant; different streaming objects may be driven by
 * different threads. Nothing allocates: sizes are given by
 * the *_bytes functions (memory formulas) and the caller passes budgeted memory.
 */
#ifndef CBAS_TSFILT_H
#define CBAS_TSFILT_H
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- parameters */

typedef enum tsfilt_deg { TSFILT_DERAMP_NONE = 0, TSFILT_DERAMP_1, TSFILT_DERAMP_BL, TSFILT_DERAMP_2 } tsfilt_deg;

/* "1", "bl", "2" -> degree; "" or NULL -> none. Returns -1 for anything else. */
int tsfilt_parse_deg(const char *s, tsfilt_deg *out);
const char *tsfilt_deg_name(tsfilt_deg d); /* "1", "bl", "2", or "[]" (LiCSBAS prints []) */

/* Default temporal width (-y): 3 x the mean interval, t[n-1]/(n-1)*3 in double on the float32
 * t (LiCSBAS: np.float32 scalar / int -> float64). n_epoch >= 2. */
double tsfilt_auto_width_yr(const float *t_yr, int n_epoch);

/* Pixel spacing (m) as LiCSBAS 13 computes it for a geographic grid (digest §7.1) and prints it
 * in 13parameters.txt with "%.2f"; step 16 reads those printed values, so they are returned
 * rounded the same way. corner_lat/post_lat/post_lon in degrees, length = rows. */
void tsfilt_pixel_spacing(double corner_lat, double post_lat, double post_lon, uint32_t length,
                          double *pixsp_r, double *pixsp_a);

/* ---------------------------------------------------------------- temporal high-pass (§10.3) */

typedef struct tsfilt_tfilter {
  int n_epoch;
  double width_yr;   /* 0: no temporal filter (HP = cum) */
  int *lo, *hi;      /* window [lo[i], hi[i]) of epoch i: (t_i - t_j)^2 < 8*width (float32) */
  float *w;          /* w[i*n_epoch + j]: exp(-(t_i-t_j)^2/2/width^2) in float32 (0 outside) */
  float *den_full;   /* [i]: float32 sum of the window's weights (a pixel valid throughout) */
  float *wn_full;    /* [i*n_epoch + j]: w / den_full in float32 */
} tsfilt_tfilter;

/* Memory: 2*n ints + n floats + 2*n*n floats (64-byte aligned pieces). */
size_t tsfilt_tfilter_bytes(int n_epoch);
void tsfilt_tfilter_init(tsfilt_tfilter *f, const float *t_yr, int n_epoch, double width_yr, void *mem);
/* High-pass of epoch i over npx pixels: hp[x] = cum_i - sum_j cum_j * (w_j / sum_valid w)
 * with NaN epochs left out (LiCSBAS's float32 arithmetic). cum holds epochs from epoch0 on
 * (epoch j at cum + (j - epoch0)*epoch_stride) and must cover the window [lo[i], hi[i]).
 * scratch: 3*npx floats. */
void tsfilt_highpass(const tsfilt_tfilter *f, int i, const float *cum, int epoch0,
                     size_t epoch_stride, uint32_t npx, float *hp, float *scratch);

/* ---------------------------------------------------------------- Gaussian kernel (§10.4) */

/* Half-width of astropy's Gaussian2DKernel(sx, sy): (odd(ceil(8*max(sx, sy))) - 1) / 2. */
int tsfilt_kernel_half(double sx, double sy);
/* 1-D factor along one axis: k[d+half] = exp(-(0.5/sigma^2) d^2), d = -half..half, then
 * normalised to sum 1. kx (x) times ky (y) is astropy's normalised 2-D kernel. */
void tsfilt_kernel_1d(double sigma, int half, double *k);

/* ---------------------------------------------------------------- spatial low-pass, streaming */

/* Separable normalised convolution of one width x length image fed row by row: the object
 * keeps the horizontal sums of the last min(2*half+1, length) rows. Several images (epochs)
 * use one object each, so they can progress independently on different threads.
 * Each output is num/den, num the kernel-weighted sum of the valid values, den the sum of the
 * weights of the valid taps. den depends only on where the NaNs are, so images sharing their
 * NaN pattern (the epochs of a masked time series) can take it from a tsfilt_sref built once:
 * tsfilt_sconv_use_ref(s, ref) makes push skip the weights of a row whose pattern is the
 * reference's row, and pop copy the reference's sums when every row of its window matches
 * (computing the skipped weights when one does not). Outputs are bit-identical either way.
 * Memory (tsfilt_sconv_bytes): n_slot*width*16 bytes of ring + 2*n_slot flags (64-byte aligned
 * pieces), n_slot = min(2*half+1, length). Per call scratch:
 * tsfilt_sconv_scratch_doubles(width, half) doubles (one per thread). */
typedef struct tsfilt_sref tsfilt_sref;
typedef struct tsfilt_sconv {
  uint32_t width, length;
  int half, n_slot;
  const double *kx, *ky;      /* 2*half+1 each, owned by the caller */
  double *num, *den;          /* [slot][width] horizontal sums */
  uint8_t *state;             /* [slot]: row empty / partly valid / all valid */
  uint8_t *lazy;              /* [slot]: den not computed (the row has the reference pattern) */
  const tsfilt_sref *ref;     /* NULL, or shared weight sums */
  uint32_t rows_in;           /* rows pushed so far */
} tsfilt_sconv;

size_t tsfilt_sconv_bytes(uint32_t width, uint32_t length, int half);
size_t tsfilt_sconv_scratch_doubles(uint32_t width, int half);
void tsfilt_sconv_init(tsfilt_sconv *s, uint32_t width, uint32_t length, int half,
                       const double *kx, const double *ky, void *mem);
/* Takes the weight sums of ref (complete, same size) where the NaN pattern is ref's; NULL: none. */
void tsfilt_sconv_use_ref(tsfilt_sconv *s, const tsfilt_sref *ref);
/* Pushes row s->rows_in (width values, NaN = invalid). */
void tsfilt_sconv_push(tsfilt_sconv *s, const float *row, double *scratch);
/* Number of rows that can be popped from y_next on: rows y with y + half < rows_in, or every
 * remaining row once all length rows are in. Pop each row as soon as it is ready (before the
 * next push), in order: the ring holds only the rows the next output needs. */
uint32_t tsfilt_sconv_ready(const tsfilt_sconv *s, uint32_t y_next);
/* Output row y: out[x] = S (double), NaN where the weight sum < 10*DBL_EPSILON. Leaves the
 * weight sums of the row in scratch[width, 2*width). */
void tsfilt_sconv_pop(tsfilt_sconv *s, uint32_t y, double *out, double *scratch);

/* Weight sums of a reference NaN pattern, for every output row: built by pushing the rows of
 * one image (only where its values are NaN matters) through a fresh tsfilt_sconv of the same
 * geometry. Memory (tsfilt_sref_bytes): width*length*9 + length bytes (64-byte aligned
 * pieces). Push scratch: tsfilt_sconv_scratch_doubles(width, half) + width doubles. */
struct tsfilt_sref {
  uint32_t width, length;
  double *wsum;               /* [length][width] */
  uint8_t *valid;             /* [length][width] 1 where the reference row is valid */
  uint8_t *empty;             /* [length] 1 where it has no valid value */
  uint32_t rows_in, y_next;
};
size_t tsfilt_sref_bytes(uint32_t width, uint32_t length);
void tsfilt_sref_init(tsfilt_sref *r, uint32_t width, uint32_t length, void *mem);
/* Pushes the reference's next row through s (initialised, not used elsewhere meanwhile). The
 * reference is complete when all length rows are in. */
void tsfilt_sref_push(tsfilt_sref *r, tsfilt_sconv *s, const float *row, double *scratch);

/* ---------------------------------------------------------------- deramp / hgt-linear (§10.2) */

#define TSFILT_RAMP_MAXPAR 7

typedef struct tsfilt_ramp {
  tsfilt_deg deg;
  int hgt_linear;
  int n_par;                  /* 1 + {0,2,3,5} + hgt_linear */
  double cx, cy, scale;       /* u = (x - cx)/scale, v = (y - cy)/scale */
  double hgt_min, hgt_max;    /* LiCSBAS --hgt_min/--hgt_max (m) */
} tsfilt_ramp;

/* Per-epoch normal equations (upper triangle used) and count. */
typedef struct tsfilt_ramp_acc {
  double ata[TSFILT_RAMP_MAXPAR * TSFILT_RAMP_MAXPAR];
  double atb[TSFILT_RAMP_MAXPAR];
  uint64_t n;
} tsfilt_ramp_acc;

/* Returns -1 if there is nothing to fit (deg none and no hgt-linear). */
int tsfilt_ramp_init(tsfilt_ramp *r, tsfilt_deg deg, int hgt_linear, double hgt_min,
                     double hgt_max, uint32_t width, uint32_t length);
void tsfilt_ramp_acc_init(tsfilt_ramp_acc *a);
void tsfilt_ramp_acc_merge(tsfilt_ramp_acc *into, const tsfilt_ramp_acc *from);
/* Adds row y: data[x] = cum*mask*mask2 (NaN = not used); hgt row (NULL unless hgt_linear,
 * NaN read as 0; the estimation regressor is LiCSBAS's int32-truncated, range-clipped height). */
void tsfilt_ramp_accum(const tsfilt_ramp *r, uint32_t y, const float *data, const float *hgt,
                       uint32_t width, tsfilt_ramp_acc *a);
/* Solves for the coefficients (scaled basis; n == 0 gives all zeros, as lstsq on no rows).
 * Returns 0, or -1 if the solve failed (non-finite sums). */
int tsfilt_ramp_solve(const tsfilt_ramp *r, const tsfilt_ramp_acc *a, double *coef);
/* The fitted surface along row y in float32 (hgt unclipped, NaN as 0, as LiCSBAS evaluates). */
void tsfilt_ramp_eval(const tsfilt_ramp *r, const double *coef, uint32_t y, const float *hgt,
                      uint32_t width, float *fit);
/* Height coefficient in mm per m (the last LiCSBAS parameter), 0 without hgt-linear. */
double tsfilt_ramp_hgt_coef(const tsfilt_ramp *r, const double *coef);

/* ---------------------------------------------------------------- exact streaming nanmedian */

/* NumPy nanmedian of float32 values fed in any order, in two passes (radix selection on the
 * order-preserving 32-bit key: 16 high bits, then 16 low bits within the middle bucket(s)).
 * Memory: pass 1 needs tsfilt_median_bytes() (a 65536-bin histogram); pass 2 needs
 * tsfilt_median_lo_bytes() (two such), which may reuse pass 1's memory after _mid. */
typedef struct tsfilt_median {
  uint32_t *hist;      /* 65536: high-16 histogram (pass 1) */
  uint32_t *lo[2];     /* 65536 each: low-16 histograms of the two middle buckets (pass 2) */
  uint64_t n;          /* non-NaN count */
  uint32_t bucket[2];  /* high-16 bucket of ranks k0 = (n-1)/2 and k1 = n/2 */
  uint64_t rank[2];    /* rank within the bucket */
} tsfilt_median;

size_t tsfilt_median_bytes(void);
size_t tsfilt_median_lo_bytes(void);
void tsfilt_median_init(tsfilt_median *m, void *hist_mem);
void tsfilt_median_pass1(tsfilt_median *m, const float *v, size_t n);
/* Call between the passes (needs the histogram). Returns 0, or 1 when there are no values
 * (median NaN, skip pass 2). */
int tsfilt_median_mid(tsfilt_median *m);
/* Attaches and clears pass 2's memory (tsfilt_median_lo_bytes(); call after _mid). */
void tsfilt_median_pass2_begin(tsfilt_median *m, void *lo_mem);
void tsfilt_median_pass2(tsfilt_median *m, const float *v, size_t n);
/* The median (float32; the even case is float32(a + b) / 2 as np.median), NaN if none. */
float tsfilt_median_result(const tsfilt_median *m);

/* ---------------------------------------------------------------- 16ref and velocity */

/* rms(p) = sqrt(sum_i (cumf_i - med_i)^2 / n_epoch) in float32 (no NaN skipping), times mask
 * (1/NaN) and the min-n_gap mask (n_gap == min_n_gap, else NaN). mask/n_gap may be NULL. */
void tsfilt_rms_row(const float *cumf, size_t epoch_stride, int n_epoch, const float *med,
                    const float *mask, const float *n_gap, float min_n_gap, uint32_t npx,
                    float *rms);
/* OLS of cumf(t) = c + v t over the non-NaN epochs of each pixel whose epoch 0 is not NaN
 * (else NaN), double solve rounded to float32; a pixel with one valid epoch gets the minimum-
 * norm solution (as lstsq). */
void tsfilt_velfit(const float *cumf, size_t epoch_stride, int n_epoch, const float *t_yr,
                   uint32_t npx, float *vel, float *icpt);
#endif
