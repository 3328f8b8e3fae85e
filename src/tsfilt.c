/* tsfilt.c — numerical cores of LiCSBAS step 16 (see include/cbas/tsfilt.h). */
#include "cbas/tsfilt.h"
#include "cbas/linalg.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* ---------------------------------------------------------------- parameters */

int tsfilt_parse_deg(const char *s, tsfilt_deg *out) {
  if (!s || !*s) *out = TSFILT_DERAMP_NONE;
  else if (!strcmp(s, "1")) *out = TSFILT_DERAMP_1;
  else if (!strcmp(s, "bl")) *out = TSFILT_DERAMP_BL;
  else if (!strcmp(s, "2")) *out = TSFILT_DERAMP_2;
  else return -1;
  return 0;
}

const char *tsfilt_deg_name(tsfilt_deg d) {
  switch (d) {
  case TSFILT_DERAMP_1: return "1";
  case TSFILT_DERAMP_BL: return "bl";
  case TSFILT_DERAMP_2: return "2";
  default: return "[]";
  }
}

double tsfilt_auto_width_yr(const float *t_yr, int n_epoch) {
  return (double)t_yr[n_epoch - 1] / (double)(n_epoch - 1) * 3.0;
}

void tsfilt_pixel_spacing(double corner_lat, double post_lat, double post_lon, uint32_t length,
                          double *pixsp_r, double *pixsp_a) {
  /* LiCSBAS13: centerlat = lat1+dlat*(length/2); ra = 6378137; recip_f = 298.2572236;
   * rb = ra*(1-1/recip_f); pixsp_a = 2*pi*rb/360*abs(dlat);
   * pixsp_r = 2*pi*ra/360*dlon*cos(deg2rad(centerlat)); printed '%.2f'. */
  const double pi = 3.14159265358979323846;
  double centerlat = corner_lat + post_lat * ((double)length / 2.0);
  double ra = 6378137.0, recip_f = 298.2572236;
  double rb = ra * (1.0 - 1.0 / recip_f);
  double a = 2.0 * pi * rb / 360.0 * fabs(post_lat);
  double r = 2.0 * pi * ra / 360.0 * post_lon * cos(centerlat / 180.0 * pi);
  char buf[64];
  snprintf(buf, sizeof buf, "%.2f", r);
  *pixsp_r = strtod(buf, NULL);
  snprintf(buf, sizeof buf, "%.2f", a);
  *pixsp_a = strtod(buf, NULL);
}

/* ---------------------------------------------------------------- temporal high-pass */

size_t tsfilt_tfilter_bytes(int n_epoch) {
  size_t n = (size_t)(n_epoch > 0 ? n_epoch : 0);
  return align64(2 * n * sizeof(int)) + align64(n * sizeof(float)) + 2 * align64(n * n * sizeof(float));
}

void tsfilt_tfilter_init(tsfilt_tfilter *f, const float *t_yr, int n_epoch, double width_yr, void *mem) {
  size_t n = (size_t)n_epoch;
  char *p = mem;
  f->n_epoch = n_epoch;
  f->width_yr = width_yr;
  f->lo = (int *)p;
  f->hi = f->lo + n;
  p += align64(2 * n * sizeof(int));
  f->den_full = (float *)p;
  p += align64(n * sizeof(float));
  f->w = (float *)p;
  p += align64(n * n * sizeof(float));
  f->wn_full = (float *)p;
  /* ixs = time_diff_sq < filtwidth_yr*8 : float32 array vs a float64 scalar -> float32.
   * weight = exp(-time_diff_sq/2/filtwidth_yr**2): all float32, the scalar rounded first. */
  float thr = (float)(width_yr * 8.0);
  float w2 = (float)(width_yr * width_yr);
  for (int i = 0; i < n_epoch; i++) {
    int lo = -1, hi = -1;
    float *wi = f->w + (size_t)i * n;
    for (int j = 0; j < n_epoch; j++) {
      float d = t_yr[i] - t_yr[j];
      float tdsq = d * d;
      int in = width_yr != 0 && tdsq < thr;
      if (in) {
        if (lo < 0) lo = j;
        hi = j + 1; /* t is sorted, so the window is contiguous */
      }
      wi[j] = in ? expf((-tdsq / 2.0f) / w2) : 0.0f;
    }
    f->lo[i] = lo < 0 ? i : lo;
    f->hi[i] = lo < 0 ? i : hi;
    /* a pixel valid at every epoch of the window: the weight sum and the normalised weights
     * are the same for all such pixels (sequential float32 sum, then float32 divisions) */
    float den = 0.0f;
    for (int j = f->lo[i]; j < f->hi[i]; j++) den += wi[j];
    f->den_full[i] = den;
    for (int j = 0; j < n_epoch; j++) f->wn_full[(size_t)i * n + (size_t)j] = wi[j] / den;
  }
}

/* v, or +0.0 where v is NaN: integer masking, which the compiler vectorises (a float compare
 * and select is not vectorised under the default -ftrapping-math). */
static inline float nan_as_zero(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  u &= (u & 0x7fffffffu) <= 0x7f800000u ? 0xffffffffu : 0u;
  memcpy(&v, &u, sizeof v);
  return v;
}
/* w where c is a number, +0.0 where c is NaN. */
static inline float where_valid(float c, float w) {
  uint32_t u, m;
  memcpy(&u, &c, sizeof u);
  m = (u & 0x7fffffffu) <= 0x7f800000u ? 0xffffffffu : 0u;
  memcpy(&u, &w, sizeof u);
  u &= m;
  memcpy(&w, &u, sizeof w);
  return w;
}

/* den[x] += w where c[x] is a number; four elements per step so that -O2's basic-block
 * vectoriser packs them (each element: one masked add, so unrolling changes no result). */
static void add_where_valid(float *restrict den, const float *restrict c, float w, size_t n) {
  size_t x = 0;
  for (; x + 4 <= n; x += 4) {
    float a0 = den[x] + where_valid(c[x], w), a1 = den[x + 1] + where_valid(c[x + 1], w);
    float a2 = den[x + 2] + where_valid(c[x + 2], w), a3 = den[x + 3] + where_valid(c[x + 3], w);
    den[x] = a0; den[x + 1] = a1; den[x + 2] = a2; den[x + 3] = a3;
  }
  for (; x < n; x++) den[x] += where_valid(c[x], w);
}
/* lp[x] += c[x]*q, a NaN product counting as +0 (nansum); unrolled as above. */
static void add_scaled_nan0(float *restrict lp, const float *restrict c, float q, size_t n) {
  size_t x = 0;
  for (; x + 4 <= n; x += 4) {
    float a0 = lp[x] + nan_as_zero(c[x] * q), a1 = lp[x + 1] + nan_as_zero(c[x + 1] * q);
    float a2 = lp[x + 2] + nan_as_zero(c[x + 2] * q), a3 = lp[x + 3] + nan_as_zero(c[x + 3] * q);
    lp[x] = a0; lp[x + 1] = a1; lp[x + 2] = a2; lp[x + 3] = a3;
  }
  for (; x < n; x++) lp[x] += nan_as_zero(c[x] * q);
}

void tsfilt_highpass(const tsfilt_tfilter *f, int i, const float *cum, int epoch0, size_t es,
                     uint32_t npx, float *hp, float *scratch) {
  const float *ci = cum + (size_t)(i - epoch0) * es;
  if (f->width_yr == 0) {
    memcpy(hp, ci, npx * sizeof(float));
    return;
  }
  float *restrict den = scratch, *restrict lp = scratch + npx;
  uint32_t *odd = (uint32_t *)(scratch + 2 * (size_t)npx);
  const float *wi = f->w + (size_t)i * (size_t)f->n_epoch;
  const float *wn = f->wn_full + (size_t)i * (size_t)f->n_epoch;
  float den_full = f->den_full[i];
  memset(den, 0, npx * sizeof(float));
  memset(lp, 0, npx * sizeof(float));
  /* weight_factor*(~isnan(cum)) summed over the window (NumPy: sequential over axis 0) */
  for (int j = f->lo[i]; j < f->hi[i]; j++) add_where_valid(den, cum + (size_t)(j - epoch0) * es, wi[j], npx);
  /* Pixels whose sum differs from the all-valid one need their own divisions w_j/den; the
   * others share wn_full (the same float32 operands, so the same quotients). */
  uint32_t n_odd = 0;
  for (uint32_t x = 0; x < npx; x++)
    if (den[x] != den_full) odd[n_odd++] = x;
  /* nansum(cum_j * w_j/den): NaN products count as +0 */
  for (int j = f->lo[i]; j < f->hi[i]; j++) add_scaled_nan0(lp, cum + (size_t)(j - epoch0) * es, wn[j], npx);
  for (uint32_t k = 0; k < n_odd; k++) {
    uint32_t x = odd[k];
    float s = 0.0f, d = den[x];
    for (int j = f->lo[i]; j < f->hi[i]; j++) {
      float p = cum[(size_t)(j - epoch0) * es + x] * (wi[j] / d); /* NaN if cum NaN or d == 0 */
      s += nan_as_zero(p);
    }
    lp[x] = s;
  }
  for (uint32_t x = 0; x < npx; x++) hp[x] = ci[x] - lp[x];
}

/* ---------------------------------------------------------------- Gaussian kernel */

int tsfilt_kernel_half(double sx, double sy) {
  double m = sx > sy ? sx : sy;
  double c = ceil(8.0 * m);
  long i = (long)c;
  if (i % 2 == 0) i++;
  return (int)((i - 1) / 2);
}

void tsfilt_kernel_1d(double sigma, int half, double *k) {
  /* astropy Gaussian2D.evaluate with theta = 0: a = 0.5*((cos^2/xstd2) + (sin^2/ystd2)) */
  double a = 0.5 * (1.0 / (sigma * sigma));
  double sum = 0;
  for (int d = -half; d <= half; d++) {
    double dd = (double)d;
    k[d + half] = exp(-(a * (dd * dd)));
    sum += k[d + half];
  }
  for (int i = 0; i <= 2 * half; i++) k[i] /= sum;
}

/* ---------------------------------------------------------------- spatial low-pass */

enum { ROW_EMPTY = 0, ROW_PARTIAL = 1, ROW_FULL = 2 };

/* y1 += k*x1 and y2 += k*x2 over n elements. Written four elements per step so that -O2's
 * basic-block vectoriser packs it (the plain loop is only vectorised at -O3); every element
 * is still one multiply and one add, so results do not depend on the unrolling. */
static void axpy2(double k, const double *restrict x1, const double *restrict x2,
                  double *restrict y1, double *restrict y2, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    double a0 = y1[i] + k * x1[i], a1 = y1[i + 1] + k * x1[i + 1];
    double a2 = y1[i + 2] + k * x1[i + 2], a3 = y1[i + 3] + k * x1[i + 3];
    double b0 = y2[i] + k * x2[i], b1 = y2[i + 1] + k * x2[i + 1];
    double b2 = y2[i + 2] + k * x2[i + 2], b3 = y2[i + 3] + k * x2[i + 3];
    y1[i] = a0; y1[i + 1] = a1; y1[i + 2] = a2; y1[i + 3] = a3;
    y2[i] = b0; y2[i + 1] = b1; y2[i + 2] = b2; y2[i + 3] = b3;
  }
  for (; i < n; i++) {
    y1[i] += k * x1[i];
    y2[i] += k * x2[i];
  }
}

static int n_slots(uint32_t length, int half) {
  uint64_t s = 2 * (uint64_t)half + 1;
  return (int)(s < length ? s : (length ? length : 1));
}

size_t tsfilt_sconv_bytes(uint32_t width, uint32_t length, int half) {
  size_t slots = (size_t)n_slots(length, half);
  return 2 * align64(slots * width * sizeof(double)) + align64(slots);
}

size_t tsfilt_sconv_scratch_doubles(uint32_t width) { return 2 * (size_t)width; }

void tsfilt_sconv_init(tsfilt_sconv *s, uint32_t width, uint32_t length, int half,
                       const double *kx, const double *ky, void *mem) {
  s->width = width;
  s->length = length;
  s->half = half;
  s->n_slot = n_slots(length, half);
  s->kx = kx;
  s->ky = ky;
  size_t cells = (size_t)s->n_slot * width;
  char *p = mem;
  s->num = (double *)p;
  p += align64(cells * sizeof(double));
  s->den = (double *)p;
  p += align64(cells * sizeof(double));
  s->state = (uint8_t *)p;
  memset(s->state, ROW_EMPTY, (size_t)s->n_slot);
  s->rows_in = 0;
}

void tsfilt_sconv_push(tsfilt_sconv *s, const float *row, double *scratch) {
  uint32_t w = s->width;
  int h = s->half;
  size_t slot = s->rows_in % (uint32_t)s->n_slot;
  double *restrict num = s->num + slot * w, *restrict den = s->den + slot * w;
  double *restrict v0 = scratch, *restrict m = scratch + w;
  uint32_t n_valid = 0;
  s->rows_in++;
  for (uint32_t x = 0; x < w; x++) {
    int ok = row[x] == row[x];
    v0[x] = ok ? (double)row[x] : 0.0;
    m[x] = ok ? 1.0 : 0.0;
    n_valid += (uint32_t)ok;
  }
  memset(num, 0, w * sizeof(double));
  memset(den, 0, w * sizeof(double));
  s->state[slot] = !n_valid ? ROW_EMPTY : n_valid == w ? ROW_FULL : ROW_PARTIAL;
  if (!n_valid) return;
  /* d outer, x inner: every output sums its taps in the same order (d ascending) and the
   * inner loop vectorises without reassociation. Taps outside the row are left out (zero
   * padding of data and weights, as convolve_fft's psf_pad with fill_value=nan). */
  for (int d = -h; d <= h; d++) {
    long xs = d < 0 ? -d : 0, xe = d > 0 ? (long)w - d : (long)w;
    if (xe > xs) axpy2(s->kx[d + h], v0 + xs + d, m + xs + d, num + xs, den + xs, (size_t)(xe - xs));
  }
}

uint32_t tsfilt_sconv_ready(const tsfilt_sconv *s, uint32_t y_next) {
  uint32_t lim = s->rows_in >= s->length ? s->length
                                         : (s->rows_in > (uint32_t)s->half ? s->rows_in - (uint32_t)s->half : 0);
  return lim > y_next ? lim - y_next : 0;
}

void tsfilt_sconv_pop(const tsfilt_sconv *s, uint32_t y, double *out, double *scratch) {
  uint32_t w = s->width;
  int h = s->half;
  double *restrict nv = scratch, *restrict dv = scratch + w;
  memset(nv, 0, w * sizeof(double));
  memset(dv, 0, w * sizeof(double));
  for (int d = -h; d <= h; d++) {
    long r = (long)y + d;
    if (r < 0 || r >= (long)s->length) continue;
    size_t slot = (size_t)r % (size_t)s->n_slot;
    if (s->state[slot] == ROW_EMPTY) continue;
    axpy2(s->ky[d + h], s->num + slot * w, s->den + slot * w, nv, dv, w);
  }
  /* astropy: weight < 10*eps -> 0; LiCSBAS: 0 -> NaN */
  for (uint32_t x = 0; x < w; x++) out[x] = dv[x] < 10 * DBL_EPSILON ? NAN : nv[x] / dv[x];
}

/* ---------------------------------------------------------------- deramp / hgt-linear */

int tsfilt_ramp_init(tsfilt_ramp *r, tsfilt_deg deg, int hgt_linear, double hgt_min,
                     double hgt_max, uint32_t width, uint32_t length) {
  static const int n_poly[4] = {1, 3, 4, 6};
  memset(r, 0, sizeof *r);
  if (deg == TSFILT_DERAMP_NONE && !hgt_linear) return -1;
  r->deg = deg;
  r->hgt_linear = hgt_linear ? 1 : 0;
  r->n_par = n_poly[deg] + r->hgt_linear;
  r->cx = ((double)width - 1) / 2;
  r->cy = ((double)length - 1) / 2;
  r->scale = (width > length ? width : length) / 2.0;
  if (r->scale < 1) r->scale = 1;
  r->hgt_min = hgt_min;
  r->hgt_max = hgt_max;
  return 0;
}

void tsfilt_ramp_acc_init(tsfilt_ramp_acc *a) { memset(a, 0, sizeof *a); }

void tsfilt_ramp_acc_merge(tsfilt_ramp_acc *into, const tsfilt_ramp_acc *from) {
  for (int i = 0; i < TSFILT_RAMP_MAXPAR * TSFILT_RAMP_MAXPAR; i++) into->ata[i] += from->ata[i];
  for (int i = 0; i < TSFILT_RAMP_MAXPAR; i++) into->atb[i] += from->atb[i];
  into->n += from->n;
}

/* Basis at (x, y) with height regressor hm (m): LiCSBAS's columns 1, x, y, xy, x^2, y^2, hgt in a
 * centred and scaled form. Returns the count. */
static int basis(const tsfilt_ramp *r, double u, double v, double hm, double *g) {
  int k = 0;
  g[k++] = 1.0;
  if (r->deg != TSFILT_DERAMP_NONE) {
    g[k++] = u;
    g[k++] = v;
    if (r->deg != TSFILT_DERAMP_1) g[k++] = u * v;
    if (r->deg == TSFILT_DERAMP_2) {
      g[k++] = u * u;
      g[k++] = v * v;
    }
  }
  if (r->hgt_linear) g[k++] = hm / 1000.0;
  return k;
}

/* The estimation regressor: hgt with NaN -> 0, 0 below hgt_min or above hgt_max (float32
 * comparisons), then G.astype(int32): truncation toward zero. */
static double hgt_regressor(const tsfilt_ramp *r, float h) {
  if (h != h) return 0;
  if (h < (float)r->hgt_min || h > (float)r->hgt_max) return 0;
  return trunc((double)h);
}

void tsfilt_ramp_accum(const tsfilt_ramp *r, uint32_t y, const float *data, const float *hgt,
                       uint32_t width, tsfilt_ramp_acc *a) {
  int p = r->n_par;
  double g[TSFILT_RAMP_MAXPAR];
  double v = ((double)y - r->cy) / r->scale;
  double ata[TSFILT_RAMP_MAXPAR * TSFILT_RAMP_MAXPAR] = {0}, atb[TSFILT_RAMP_MAXPAR] = {0};
  uint64_t n = 0;
  for (uint32_t x = 0; x < width; x++) {
    float d = data[x];
    if (d != d) continue;
    double hm = r->hgt_linear && hgt ? hgt_regressor(r, hgt[x]) : 0;
    basis(r, ((double)x - r->cx) / r->scale, v, hm, g);
    for (int i = 0; i < p; i++) {
      for (int j = i; j < p; j++) ata[i * p + j] += g[i] * g[j];
      atb[i] += g[i] * (double)d;
    }
    n++;
  }
  /* row sums first, then into the running total: the result depends on the row split only
   * through whole rows, never on threads */
  for (int i = 0; i < p; i++) {
    for (int j = i; j < p; j++) a->ata[i * p + j] += ata[i * p + j];
    a->atb[i] += atb[i];
  }
  a->n += n;
}

int tsfilt_ramp_solve(const tsfilt_ramp *r, const tsfilt_ramp_acc *a, double *coef) {
  int p = r->n_par;
  for (int i = 0; i < p; i++) coef[i] = 0;
  if (a->n == 0) return 0;
  double m[TSFILT_RAMP_MAXPAR * TSFILT_RAMP_MAXPAR], s[TSFILT_RAMP_MAXPAR],
      vv[TSFILT_RAMP_MAXPAR * TSFILT_RAMP_MAXPAR];
  for (int i = 0; i < p; i++)
    for (int j = 0; j < p; j++) {
      double e = i <= j ? a->ata[i * p + j] : a->ata[j * p + i];
      if (!isfinite(e)) return -1;
      m[i + j * p] = e; /* column-major, symmetric */
    }
  for (int i = 0; i < p; i++)
    if (!isfinite(a->atb[i])) return -1;
  if (la_svd_jacobi(p, p, m, p, s, vv, p)) return -1;
  /* pseudo-inverse of the (symmetric PSD) normal matrix: directions whose eigenvalue is below
   * 1e-12 of the largest are dropped (the normal matrix cannot resolve them) */
  double tol = s[0] * 1e-12;
  for (int k = 0; k < p; k++) {
    if (!(s[k] > tol)) continue;
    double ub = 0;
    for (int i = 0; i < p; i++) ub += m[i + k * p] * a->atb[i];
    ub /= s[k];
    for (int i = 0; i < p; i++) coef[i] += vv[i + k * p] * ub;
  }
  return 0;
}

void tsfilt_ramp_eval(const tsfilt_ramp *r, const double *coef, uint32_t y, const float *hgt,
                      uint32_t width, float *fit) {
  int p = r->n_par;
  double g[TSFILT_RAMP_MAXPAR];
  double v = ((double)y - r->cy) / r->scale;
  for (uint32_t x = 0; x < width; x++) {
    double hm = 0;
    if (r->hgt_linear && hgt) hm = hgt[x] == hgt[x] ? (double)hgt[x] : 0.0;
    basis(r, ((double)x - r->cx) / r->scale, v, hm, g);
    double f = 0;
    for (int i = 0; i < p; i++) f += coef[i] * g[i];
    fit[x] = (float)f;
  }
}

double tsfilt_ramp_hgt_coef(const tsfilt_ramp *r, const double *coef) {
  return r->hgt_linear ? coef[r->n_par - 1] / 1000.0 : 0.0;
}

/* ---------------------------------------------------------------- exact streaming nanmedian */

#define NB 65536u

static uint32_t fkey(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
static float fval(uint32_t k) {
  uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float v;
  memcpy(&v, &u, sizeof v);
  return v;
}

size_t tsfilt_median_bytes(void) { return (size_t)NB * sizeof(uint32_t); }
size_t tsfilt_median_lo_bytes(void) { return 2 * (size_t)NB * sizeof(uint32_t); }

void tsfilt_median_init(tsfilt_median *m, void *hist_mem) {
  memset(m, 0, sizeof *m);
  m->hist = hist_mem;
  memset(hist_mem, 0, tsfilt_median_bytes());
}

void tsfilt_median_pass2_begin(tsfilt_median *m, void *lo_mem) {
  m->lo[0] = lo_mem;
  m->lo[1] = m->lo[0] + NB;
  /* the second histogram is used only when the two middle ranks fall in different buckets */
  memset(lo_mem, 0, m->bucket[1] != m->bucket[0] ? tsfilt_median_lo_bytes() : tsfilt_median_bytes());
}

void tsfilt_median_pass1(tsfilt_median *m, const float *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (v[i] != v[i]) continue;
    m->hist[fkey(v[i]) >> 16]++;
    m->n++;
  }
}

int tsfilt_median_mid(tsfilt_median *m) {
  if (m->n == 0) return 1;
  uint64_t want[2] = {(m->n - 1) / 2, m->n / 2};
  for (int t = 0; t < 2; t++) {
    uint64_t below = 0;
    for (uint32_t b = 0; b < NB; b++) {
      if (below + m->hist[b] > want[t]) {
        m->bucket[t] = b;
        m->rank[t] = want[t] - below;
        break;
      }
      below += m->hist[b];
    }
  }
  return 0;
}

void tsfilt_median_pass2(tsfilt_median *m, const float *v, size_t n) {
  uint32_t b0 = m->bucket[0], b1 = m->bucket[1];
  for (size_t i = 0; i < n; i++) {
    if (v[i] != v[i]) continue;
    uint32_t k = fkey(v[i]), hb = k >> 16;
    if (hb == b0) m->lo[0][k & 0xffffu]++;
    else if (hb == b1) m->lo[1][k & 0xffffu]++;
  }
}

static float select_in(const tsfilt_median *m, int t) {
  /* both ranks in one bucket share lo[0] */
  const uint32_t *lo = m->bucket[t] == m->bucket[0] ? m->lo[0] : m->lo[1];
  uint64_t below = 0;
  for (uint32_t b = 0; b < NB; b++) {
    if (below + lo[b] > m->rank[t]) return fval((m->bucket[t] << 16) | b);
    below += lo[b];
  }
  return NAN; /* pass 2 incomplete */
}

float tsfilt_median_result(const tsfilt_median *m) {
  if (m->n == 0) return NAN;
  float a = select_in(m, 0);
  if (m->n % 2) return a;
  float b = select_in(m, 1);
  float s = a + b; /* np.mean of the two middle float32 values: float32 sum, then / 2 */
  return s / 2.0f;
}

/* ---------------------------------------------------------------- 16ref and velocity */

void tsfilt_rms_row(const float *cumf, size_t es, int n_epoch, const float *med, const float *mask,
                    const float *n_gap, float min_n_gap, uint32_t npx, float *rms) {
  float fn = (float)n_epoch;
  for (uint32_t x = 0; x < npx; x++) {
    float ss = 0.0f;
    for (int i = 0; i < n_epoch; i++) {
      float d = cumf[(size_t)i * es + x] - med[i];
      float sq = d * d;
      ss = ss + sq;
    }
    float r = sqrtf(ss / fn);
    if (mask) r = r * mask[x];
    if (n_gap && !(n_gap[x] == min_n_gap)) r = NAN;
    rms[x] = r;
  }
}

void tsfilt_velfit(const float *cumf, size_t es, int n_epoch, const float *t_yr, uint32_t npx,
                   float *vel, float *icpt) {
  for (uint32_t x = 0; x < npx; x++) {
    if (cumf[x] != cumf[x]) {
      vel[x] = icpt[x] = NAN;
      continue;
    }
    double n = 0, st = 0, sy = 0;
    for (int i = 0; i < n_epoch; i++) {
      float c = cumf[(size_t)i * es + x];
      if (c != c) continue;
      n += 1;
      st += (double)t_yr[i];
      sy += (double)c;
    }
    double tm = st / n, ym = sy / n, stt = 0, sty = 0;
    for (int i = 0; i < n_epoch; i++) {
      float c = cumf[(size_t)i * es + x];
      if (c != c) continue;
      double dt = (double)t_yr[i] - tm;
      stt += dt * dt;
      sty += dt * ((double)c - ym);
    }
    double v, c0;
    if (n >= 2 && stt > 0) {
      v = sty / stt;
      c0 = ym - v * tm;
    } else {
      /* one equation c + v t = y: minimum-norm solution [1, t] y / (1 + t^2) */
      double t = tm, y = ym;
      c0 = y / (1 + t * t);
      v = t * y / (1 + t * t);
    }
    vel[x] = (float)v;
    icpt[x] = (float)c0;
  }
}
