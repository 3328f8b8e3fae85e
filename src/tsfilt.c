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

/* The kernels are symmetric (k[h-d] == k[h+d] bit for bit: both are exp(-a*d*d)/sum), so each
 * output sums its taps as k[h]*v[0] + sum over d = 1..h of k[h+d]*(v[-d] + v[+d]), d
 * ascending: one multiply per pair of taps. Every output element is computed with that one
 * sequence of operations whichever routine below computes it (fused or not, unrolled or not),
 * so the weight sums of the reference pattern (tsfilt_sref) are bit-identical to the ones a
 * channel would compute itself. The loops are written four elements per step so that -O2's
 * basic-block vectoriser packs them. */

/* Horizontal pass of one row: out[x] = sum_d k[d+h] * vp[x + h + d], vp padded with h zeros
 * on both sides (zero padding of data and weights, as convolve_fft's psf_pad with
 * fill_value=nan). */
static void xconv(const double *k, int h, const double *restrict vp, double *restrict out, uint32_t w) {
  const double kc = k[h];
  const double *c = vp + h;
  size_t x = 0;
  for (; x + 4 <= w; x += 4) {
    out[x] = kc * c[x]; out[x + 1] = kc * c[x + 1]; out[x + 2] = kc * c[x + 2]; out[x + 3] = kc * c[x + 3];
  }
  for (; x < w; x++) out[x] = kc * c[x];
  for (int d = 1; d <= h; d++) {
    const double kd = k[h + d];
    const double *lo = c - d, *hi = c + d;
    for (x = 0; x + 4 <= w; x += 4) {
      double a0 = out[x] + kd * (lo[x] + hi[x]), a1 = out[x + 1] + kd * (lo[x + 1] + hi[x + 1]);
      double a2 = out[x + 2] + kd * (lo[x + 2] + hi[x + 2]), a3 = out[x + 3] + kd * (lo[x + 3] + hi[x + 3]);
      out[x] = a0; out[x + 1] = a1; out[x + 2] = a2; out[x + 3] = a3;
    }
    for (; x < w; x++) out[x] = out[x] + kd * (lo[x] + hi[x]);
  }
}

/* One tap pair of the vertical pass: y += k*(a + b), or y += k*a when b is NULL (the other row
 * is outside the image or empty); y = k*a when first. */
static void ytap(double k, const double *restrict a, const double *restrict b, double *restrict y, size_t n, int first) {
  size_t i = 0;
  if (first) {
    for (; i < n; i++) y[i] = k * a[i];
    return;
  }
  if (b) {
    for (; i + 4 <= n; i += 4) {
      double a0 = y[i] + k * (a[i] + b[i]), a1 = y[i + 1] + k * (a[i + 1] + b[i + 1]);
      double a2 = y[i + 2] + k * (a[i + 2] + b[i + 2]), a3 = y[i + 3] + k * (a[i + 3] + b[i + 3]);
      y[i] = a0; y[i + 1] = a1; y[i + 2] = a2; y[i + 3] = a3;
    }
    for (; i < n; i++) y[i] = y[i] + k * (a[i] + b[i]);
  } else {
    for (; i + 4 <= n; i += 4) {
      double a0 = y[i] + k * a[i], a1 = y[i + 1] + k * a[i + 1], a2 = y[i + 2] + k * a[i + 2], a3 = y[i + 3] + k * a[i + 3];
      y[i] = a0; y[i + 1] = a1; y[i + 2] = a2; y[i + 3] = a3;
    }
    for (; i < n; i++) y[i] = y[i] + k * a[i];
  }
}

static int n_slots(uint32_t length, int half) {
  uint64_t s = 2 * (uint64_t)half + 1;
  return (int)(s < length ? s : (length ? length : 1));
}

size_t tsfilt_sconv_bytes(uint32_t width, uint32_t length, int half) {
  size_t slots = (size_t)n_slots(length, half);
  return 2 * align64(slots * width * sizeof(double)) + align64(2 * slots);
}

size_t tsfilt_sconv_scratch_doubles(uint32_t width, int half) { return 3 * (size_t)width + 4 * (size_t)half; }

void tsfilt_sconv_init(tsfilt_sconv *s, uint32_t width, uint32_t length, int half,
                       const double *kx, const double *ky, void *mem) {
  s->width = width;
  s->length = length;
  s->half = half;
  s->n_slot = n_slots(length, half);
  s->kx = kx;
  s->ky = ky;
  s->ref = NULL;
  size_t cells = (size_t)s->n_slot * width;
  char *p = mem;
  s->num = (double *)p;
  p += align64(cells * sizeof(double));
  s->den = (double *)p;
  p += align64(cells * sizeof(double));
  s->state = (uint8_t *)p;
  s->lazy = s->state + s->n_slot;
  memset(s->state, ROW_EMPTY, (size_t)s->n_slot);
  memset(s->lazy, 0, (size_t)s->n_slot);
  s->rows_in = 0;
}

void tsfilt_sconv_use_ref(tsfilt_sconv *s, const tsfilt_sref *ref) {
  s->ref = ref && ref->width == s->width && ref->length == s->length ? ref : NULL;
}

/* The padded weight row (1 valid, 0 not) of reference row y into vp (w + 2h doubles). */
static void ref_weights(const tsfilt_sref *r, uint32_t y, int h, double *vp) {
  const uint8_t *v = r->valid + (size_t)y * r->width;
  memset(vp, 0, (size_t)h * sizeof(double));
  memset(vp + h + r->width, 0, (size_t)h * sizeof(double));
  for (uint32_t x = 0; x < r->width; x++) vp[h + x] = v[x] ? 1.0 : 0.0;
}

void tsfilt_sconv_push(tsfilt_sconv *s, const float *row, double *scratch) {
  uint32_t w = s->width;
  int h = s->half;
  uint32_t y = s->rows_in;
  size_t slot = y % (uint32_t)s->n_slot;
  double *restrict num = s->num + slot * w, *restrict den = s->den + slot * w;
  double *restrict vp = scratch, *restrict mp = scratch + w + 2 * (size_t)h;
  uint32_t n_valid = 0;
  s->rows_in++;
  memset(vp, 0, (size_t)h * sizeof(double));
  memset(vp + h + w, 0, (size_t)h * sizeof(double));
  memset(mp, 0, (size_t)h * sizeof(double));
  memset(mp + h + w, 0, (size_t)h * sizeof(double));
  int match = s->ref != NULL;
  const uint8_t *rv = match ? s->ref->valid + (size_t)y * w : NULL;
  for (uint32_t x = 0; x < w; x++) {
    int ok = row[x] == row[x];
    vp[h + x] = ok ? (double)row[x] : 0.0;
    mp[h + x] = ok ? 1.0 : 0.0;
    n_valid += (uint32_t)ok;
    if (match && ok != (rv[x] != 0)) match = 0;
  }
  s->state[slot] = !n_valid ? ROW_EMPTY : n_valid == w ? ROW_FULL : ROW_PARTIAL;
  s->lazy[slot] = 0;
  if (!n_valid) {
    memset(num, 0, w * sizeof(double));
    memset(den, 0, w * sizeof(double));
    return;
  }
  xconv(s->kx, h, vp, num, w);
  if (match) s->lazy[slot] = 1; /* the reference's weights: computed when a window needs them */
  else xconv(s->kx, h, mp, den, w);
}

uint32_t tsfilt_sconv_ready(const tsfilt_sconv *s, uint32_t y_next) {
  uint32_t lim = s->rows_in >= s->length ? s->length
                                         : (s->rows_in > (uint32_t)s->half ? s->rows_in - (uint32_t)s->half : 0);
  return lim > y_next ? lim - y_next : 0;
}

/* Row r's slot, or -1 if r is outside the image or its row is empty. */
static long slot_of(const tsfilt_sconv *s, long r) {
  if (r < 0 || r >= (long)s->length) return -1;
  size_t slot = (size_t)r % (size_t)s->n_slot;
  return s->state[slot] == ROW_EMPTY ? -1 : (long)slot;
}

/* Vertical pass of rows[] (a window of horizontal sums, ring base `base`) into out. */
static void ypass(const tsfilt_sconv *s, uint32_t y, const double *base, double *out) {
  uint32_t w = s->width;
  int h = s->half, first = 1;
  long c = slot_of(s, (long)y);
  if (c >= 0) {
    ytap(s->ky[h], base + (size_t)c * w, NULL, out, w, 1);
    first = 0;
  }
  for (int d = 1; d <= h; d++) {
    long a = slot_of(s, (long)y - d), b = slot_of(s, (long)y + d);
    if (a < 0 && b < 0) continue;
    if (a < 0) { a = b; b = -1; }
    if (first) { /* the first present row(s): y = k*a (+ k*b) in the same operation order */
      memset(out, 0, w * sizeof(double));
      first = 0;
    }
    ytap(s->ky[h + d], base + (size_t)a * w, b >= 0 ? base + (size_t)b * w : NULL, out, w, 0);
  }
  if (first) memset(out, 0, w * sizeof(double));
}

void tsfilt_sconv_pop(tsfilt_sconv *s, uint32_t y, double *out, double *scratch) {
  uint32_t w = s->width;
  int h = s->half;
  double *restrict nv = scratch, *restrict dv = scratch + w, *restrict mp = scratch + 2 * (size_t)w;
  /* weight sums: the reference's row when every row of the window has the reference pattern
   * (then every slot is lazy or empty-as-in-the-reference), else computed here, filling in
   * the lazy slots' weights from the reference pattern first */
  int all_ref = s->ref != NULL;
  long r0 = (long)y - h < 0 ? 0 : (long)y - h, r1 = (long)y + h >= (long)s->length ? (long)s->length - 1 : (long)y + h;
  for (long r = r0; r <= r1 && all_ref; r++) {
    size_t slot = (size_t)r % (size_t)s->n_slot;
    if (s->state[slot] == ROW_EMPTY) all_ref = s->ref->empty[r];
    else all_ref = s->lazy[slot];
  }
  ypass(s, y, s->num, nv);
  if (all_ref) {
    memcpy(dv, s->ref->wsum + (size_t)y * w, w * sizeof(double));
  } else {
    for (long r = r0; r <= r1; r++) {
      size_t slot = (size_t)r % (size_t)s->n_slot;
      if (!s->lazy[slot]) continue;
      ref_weights(s->ref, (uint32_t)r, h, mp);
      xconv(s->kx, h, mp, s->den + slot * w, w);
      s->lazy[slot] = 0;
    }
    ypass(s, y, s->den, dv);
  }
  /* astropy: weight < 10*eps -> 0; LiCSBAS: 0 -> NaN */
  for (uint32_t x = 0; x < w; x++) out[x] = dv[x] < 10 * DBL_EPSILON ? NAN : nv[x] / dv[x];
}

/* ---------------------------------------------------------------- shared weight sums */

size_t tsfilt_sref_bytes(uint32_t width, uint32_t length) {
  return align64((size_t)width * length * sizeof(double)) + align64((size_t)width * length) + align64(length);
}

void tsfilt_sref_init(tsfilt_sref *r, uint32_t width, uint32_t length, void *mem) {
  char *p = mem;
  r->width = width;
  r->length = length;
  r->wsum = (double *)p;
  p += align64((size_t)width * length * sizeof(double));
  r->valid = (uint8_t *)p;
  p += align64((size_t)width * length);
  r->empty = (uint8_t *)p;
  r->rows_in = 0;
  r->y_next = 0;
}

void tsfilt_sref_push(tsfilt_sref *r, tsfilt_sconv *s, const float *row, double *scratch) {
  uint32_t y = r->rows_in++;
  uint8_t *v = r->valid + (size_t)y * r->width;
  int any = 0;
  for (uint32_t x = 0; x < r->width; x++) {
    v[x] = row[x] == row[x];
    any |= v[x];
  }
  r->empty[y] = !any;
  s->ref = NULL; /* the builder computes every weight itself */
  tsfilt_sconv_push(s, row, scratch);
  double *out = scratch + tsfilt_sconv_scratch_doubles(r->width, s->half);
  for (uint32_t k = tsfilt_sconv_ready(s, r->y_next); k; k--, r->y_next++) {
    tsfilt_sconv_pop(s, r->y_next, out, scratch);
    /* pop leaves the weight sums in scratch[w, 2w) */
    memcpy(r->wsum + (size_t)r->y_next * r->width, scratch + r->width, r->width * sizeof(double));
  }
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
