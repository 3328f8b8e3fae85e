/* test_tsfilt.c — LiCSBAS step 16 cores: temporal high-pass worked by hand, Gaussian kernel
 * against its analytic discretisation and against astropy, the separable streaming spatial
 * filter against a whole-image 2-D reference and against astropy's convolve_fft, deramp on
 * planted surfaces, the streaming nanmedian against sorting, 16ref RMS and velocity fits, and
 * the whole filter chain against NumPy/astropy (tests/interop/tsfilt_ref.py). */
#include "check.h"
#include "pyref.h"
#include "cbas/tsfilt.h"
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 88172645463325252ull;
static double urand(void) { /* xorshift64*, uniform in [0, 1) */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* Whole-image streaming driver of the spatial filter: S for every pixel (row-major); with
 * refimg, the weight sums of refimg's NaN pattern are built first and shared. */
static void sconv_image_ref(const float *img, const float *refimg, uint32_t w, uint32_t l, double sx, double sy,
                            double *out) {
  int h = tsfilt_kernel_half(sx, sy);
  double *kx = malloc((size_t)(2 * h + 1) * sizeof *kx), *ky = malloc((size_t)(2 * h + 1) * sizeof *ky);
  tsfilt_kernel_1d(sx, h, kx);
  tsfilt_kernel_1d(sy, h, ky);
  void *mem = aligned_alloc(64, (tsfilt_sconv_bytes(w, l, h) + 63) / 64 * 64);
  double *scr = malloc((tsfilt_sconv_scratch_doubles(w, h) + w) * sizeof *scr);
  tsfilt_sconv s;
  tsfilt_sref ref;
  void *rmem = NULL;
  if (refimg) {
    rmem = aligned_alloc(64, (tsfilt_sref_bytes(w, l) + 63) / 64 * 64);
    tsfilt_sref_init(&ref, w, l, rmem);
    tsfilt_sconv_init(&s, w, l, h, kx, ky, mem);
    for (uint32_t y = 0; y < l; y++) tsfilt_sref_push(&ref, &s, refimg + (size_t)y * w, scr);
  }
  tsfilt_sconv_init(&s, w, l, h, kx, ky, mem);
  if (refimg) tsfilt_sconv_use_ref(&s, &ref);
  uint32_t y_next = 0;
  for (uint32_t y = 0; y < l; y++) {
    tsfilt_sconv_push(&s, img + (size_t)y * w, scr);
    for (uint32_t n = tsfilt_sconv_ready(&s, y_next); n; n--, y_next++)
      tsfilt_sconv_pop(&s, y_next, out + (size_t)y_next * w, scr);
  }
  free(kx); free(ky); free(mem); free(scr); free(rmem);
}
static void sconv_image(const float *img, uint32_t w, uint32_t l, double sx, double sy, double *out) {
  sconv_image_ref(img, NULL, w, l, sx, sy, out);
}

/* Direct 2-D reference: astropy's kernel formula (not separable in code), normalised. */
static void conv_reference(const float *img, uint32_t w, uint32_t l, double sx, double sy, double *out) {
  int size = (int)ceil(8 * (sx > sy ? sx : sy));
  if (size % 2 == 0) size++;
  int h = (size - 1) / 2;
  double *k = malloc((size_t)size * (size_t)size * sizeof *k), sum = 0;
  for (int dy = -h; dy <= h; dy++)
    for (int dx = -h; dx <= h; dx++) {
      double v = exp(-((double)dx * dx / (2 * sx * sx) + (double)dy * dy / (2 * sy * sy)));
      k[(dy + h) * size + dx + h] = v;
      sum += v;
    }
  for (int i = 0; i < size * size; i++) k[i] /= sum;
  for (uint32_t y = 0; y < l; y++)
    for (uint32_t x = 0; x < w; x++) {
      double num = 0, den = 0;
      for (int dy = -h; dy <= h; dy++) {
        long yy = (long)y + dy;
        if (yy < 0 || yy >= (long)l) continue;
        for (int dx = -h; dx <= h; dx++) {
          long xx = (long)x + dx;
          if (xx < 0 || xx >= (long)w) continue;
          float v = img[(size_t)yy * w + (size_t)xx];
          if (v != v) continue;
          num += k[(dy + h) * size + dx + h] * v;
          den += k[(dy + h) * size + dx + h];
        }
      }
      out[(size_t)y * w + x] = den < 10 * DBL_EPSILON ? NAN : num / den;
    }
  free(k);
}

/* ---------------------------------------------------------------- temporal */

static void test_auto_width(void) {
  float t[5] = {0, 0.1f, 0.2f, 0.3f, 0.4f};
  /* 3 x mean interval = 0.4f/4*3 in double on the float32 value */
  CHECK_NEAR(tsfilt_auto_width_yr(t, 5), (double)0.4f / 4 * 3, 0);
  CHECK_NEAR(tsfilt_auto_width_yr(t, 5), 0.3, 1e-8);
}

static void test_highpass_by_hand(void) {
  /* 5 epochs 0.1 yr apart, width 0.1 yr: the window (dt^2 < 8*0.1 = 0.8) holds all epochs;
   * weights exp(-dt^2/(2*0.01)) = exp(-50 dt^2): 1, e^-0.5, e^-2, e^-4.5, e^-8.
   * cum = 0,1,2,3,4 (linear): at epoch 0 LP = (0.606531 + 2*0.135335 + 3*0.011109 +
   * 4*0.000335) / (1 + 0.606531 + 0.135335 + 0.011109 + 0.000335) = 0.911872/1.753310 =
   * 0.520086, so HP_0 = -0.520086; at the centre the weights are symmetric: LP = 2, HP = 0. */
  float t[5] = {0, 0.1f, 0.2f, 0.3f, 0.4f};
  float cum[5] = {0, 1, 2, 3, 4};
  void *mem = malloc(tsfilt_tfilter_bytes(5) + 64);
  tsfilt_tfilter f;
  tsfilt_tfilter_init(&f, t, 5, 0.1, mem);
  float hp[1], scr[3];
  tsfilt_highpass(&f, 0, cum, 0, 1, 1, hp, scr);
  CHECK_NEAR(hp[0], -0.520086, 2e-6);
  tsfilt_highpass(&f, 2, cum, 0, 1, 1, hp, scr);
  CHECK_NEAR(hp[0], 0.0, 1e-6);
  tsfilt_highpass(&f, 4, cum, 0, 1, 1, hp, scr);
  CHECK_NEAR(hp[0], 0.520086, 2e-6);
  /* a NaN epoch is left out and the weights renormalised: epoch 1 NaN, at epoch 0
   * LP = (2*0.135335 + 3*0.011109 + 4*0.000335)/(1 + 0.135335 + 0.011109 + 0.000335)
   *    = 0.305339/1.146779 = 0.266258 */
  cum[1] = NAN;
  tsfilt_highpass(&f, 0, cum, 0, 1, 1, hp, scr);
  CHECK_NEAR(hp[0], -0.266258, 2e-6);
  tsfilt_highpass(&f, 1, cum, 0, 1, 1, hp, scr);
  CHECK(hp[0] != hp[0]); /* a NaN epoch stays NaN */
  /* the window quirk: (dt)^2 < 8*width, not (k*width)^2. width 0.01: 8*0.01 = 0.08 so
   * |dt| < 0.283: epoch 0 sees epochs 0..2 only. */
  tsfilt_tfilter_init(&f, t, 5, 0.01, mem);
  CHECK_EQ_INT(f.lo[0], 0); CHECK_EQ_INT(f.hi[0], 3);
  CHECK_EQ_INT(f.lo[2], 0); CHECK_EQ_INT(f.hi[2], 5);
  CHECK_EQ_INT(f.lo[4], 2); CHECK_EQ_INT(f.hi[4], 5);
  /* width 0: no filter */
  tsfilt_tfilter_init(&f, t, 5, 0, mem);
  cum[1] = 1;
  tsfilt_highpass(&f, 3, cum, 0, 1, 1, hp, scr);
  CHECK_NEAR(hp[0], 3.0, 0);
  free(mem);
}

/* NumPy's float32 arithmetic of LiCSBAS16's temporal filter, written out plainly: the
 * reference for the bit-exactness of tsfilt_highpass's shared-weight fast path. */
static float highpass_plain(const float *t, int n, double tau, const float *c, int i) {
  float thr = (float)(tau * 8), w2 = (float)(tau * tau), den = 0, lp = 0;
  for (int j = 0; j < n; j++) {
    float d = t[i] - t[j], q = d * d;
    if (q < thr) den += c[j] == c[j] ? expf((-q / 2.0f) / w2) : 0.0f;
  }
  for (int j = 0; j < n; j++) {
    float d = t[i] - t[j], q = d * d;
    if (!(q < thr)) continue;
    float p = c[j] * (expf((-q / 2.0f) / w2) / den);
    lp += p == p ? p : 0.0f;
  }
  return c[i] - lp;
}

static void test_highpass_rows(void) {
  /* several pixels at once (epoch stride) equal the one-pixel results and the plain
   * NumPy-order arithmetic, bit for bit (most pixels take the shared-weight path) */
  enum { N = 7, W = 5 };
  float t[N], cum[N * W], hp[W], one[N], hp1[1], scr[3 * W];
  for (int i = 0; i < N; i++) t[i] = (float)(i * 12) / 365.25f;
  for (int i = 0; i < N * W; i++) cum[i] = (i % W < 2 && urand() < 0.3) ? NAN : (float)(urand() * 20 - 10);
  void *mem = malloc(tsfilt_tfilter_bytes(N) + 64);
  tsfilt_tfilter f;
  tsfilt_tfilter_init(&f, t, N, tsfilt_auto_width_yr(t, N), mem);
  for (int i = 0; i < N; i++) {
    tsfilt_highpass(&f, i, cum, 0, W, W, hp, scr);
    /* the same from a buffer that starts at the window's first epoch */
    float hp2[W];
    tsfilt_highpass(&f, i, cum + f.lo[i] * W, f.lo[i], W, W, hp2, scr);
    CHECK(memcmp(hp, hp2, sizeof hp2) == 0);
    for (int x = 0; x < W; x++) {
      for (int j = 0; j < N; j++) one[j] = cum[j * W + x];
      tsfilt_highpass(&f, i, one, 0, 1, 1, hp1, scr);
      CHECK(memcmp(&hp1[0], &hp[x], sizeof(float)) == 0 || (hp1[0] != hp1[0] && hp[x] != hp[x]));
      float pl = highpass_plain(t, N, tsfilt_auto_width_yr(t, N), one, i);
      CHECKF(memcmp(&pl, &hp[x], sizeof(float)) == 0 || (pl != pl && hp[x] != hp[x]), "epoch %d pixel %d: %.9g vs %.9g", i, x, hp[x], pl);
    }
  }
  free(mem);
}

/* ---------------------------------------------------------------- kernel */

static void test_kernel_values(void) {
  /* Gaussian2DKernel(2.5, 1.5): side odd(ceil(20)) = 21, half 10; Gaussian1D(3) side 25 */
  CHECK_EQ_INT(tsfilt_kernel_half(2.5, 1.5), 10);
  CHECK_EQ_INT(tsfilt_kernel_half(1.5, 2.5), 10);
  CHECK_EQ_INT(tsfilt_kernel_half(3, 3), 12);
  CHECK_EQ_INT(tsfilt_kernel_half(2.6, 1), 10);  /* ceil(20.8) = 21 */
  CHECK_EQ_INT(tsfilt_kernel_half(0.05, 0.05), 0);
  double k[21];
  tsfilt_kernel_1d(2.5, 10, k);
  double sum = 0;
  for (int d = -10; d <= 10; d++) sum += exp(-(double)d * d / (2 * 2.5 * 2.5));
  for (int d = -10; d <= 10; d++) CHECK_NEAR(k[d + 10], exp(-(double)d * d / 12.5) / sum, 1e-16);
  /* symmetric, peak at the centre, sums to 1 */
  double s = 0;
  for (int i = 0; i < 21; i++) { s += k[i]; CHECK_NEAR(k[i], k[20 - i], 0); }
  CHECK_NEAR(s, 1, 1e-15);
  CHECK(k[10] > k[9]);
}

static void test_kernel_vs_astropy(void) {
  const char *py = pyref_python("numpy, astropy.convolution");
  if (!py) { printf("# no python3 with numpy+astropy: astropy comparison not run\n"); return; }
  double sx = 3.7, sy = 2.2;
  CHECK(check_sh("%s tests/interop/tsfilt_ref.py kernel %.17g %.17g %s", py, sx, sy,
                 check_path("kernel.f64")) == 0);
  int h = tsfilt_kernel_half(sx, sy), n = 2 * h + 1;
  double *ka = malloc((size_t)n * (size_t)n * sizeof *ka), kx[64], ky[64];
  CHECK(pyref_read(check_path("kernel.f64"), ka, (size_t)n * (size_t)n * sizeof *ka) == 0);
  tsfilt_kernel_1d(sx, h, kx);
  tsfilt_kernel_1d(sy, h, ky);
  double maxrel = 0;
  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++) {
      double a = ka[y * n + x], b = kx[x] * ky[y];
      double r = fabs(a - b) / a;
      if (r > maxrel) maxrel = r;
    }
  free(ka);
  printf("# kernel %dx%d vs astropy Gaussian2DKernel(%g, %g): max relative difference %.3g\n", n, n, sx, sy, maxrel);
  CHECK(maxrel < 1e-13);
}

/* ---------------------------------------------------------------- spatial filter */

static void test_sconv_constant(void) {
  /* a constant field stays constant wherever some valid pixel is within reach, also next to
   * NaN holes and image edges */
  enum { W = 40, L = 30 };
  float img[W * L];
  double out[W * L];
  for (int i = 0; i < W * L; i++) img[i] = 7.25f;
  for (int y = 10; y < 20; y++)
    for (int x = 5; x < 25; x++) img[y * W + x] = NAN;
  sconv_image(img, W, L, 2.0, 1.0, out);
  for (int i = 0; i < W * L; i++) CHECK_NEAR(out[i], 7.25, 1e-12);
  /* only one valid pixel: its value within the kernel's reach (half = 8 for sigma 2 -> side
   * 17), NaN beyond (weight 0). With sigma_y = 1 the same square kernel has weights below
   * 10*DBL_EPSILON at |dy| >= 8 (exp(-32)/(2 pi sx sy) ~ 1e-15): NaN there, as astropy. */
  for (int i = 0; i < W * L; i++) img[i] = NAN;
  img[15 * W + 20] = -3.5f;
  sconv_image(img, W, L, 2.0, 2.0, out);
  for (int y = 0; y < L; y++)
    for (int x = 0; x < W; x++) {
      int reach = abs(y - 15) <= 8 && abs(x - 20) <= 8;
      double v = out[y * W + x];
      if (reach) CHECK_NEAR(v, -3.5, 1e-12);
      else CHECKF(v != v, "(%d,%d) = %g, expected NaN", x, y, v);
    }
  sconv_image(img, W, L, 2.0, 1.0, out);
  for (int x = 16; x <= 24; x++) { /* |dx| <= 4: kx >= 0.027 */
    CHECK_NEAR(out[22 * W + x], -3.5, 1e-12); /* dy = 7: weight ~ 1e-13 */
    CHECK(out[23 * W + x] != out[23 * W + x]);  /* dy = 8: below 10*eps */
    CHECK(out[7 * W + x] != out[7 * W + x]);
  }
}

static void test_sconv_vs_reference(void) {
  /* random field with NaN holes; separable streaming == direct 2-D reference; includes an
   * image smaller than the kernel and sigma_x != sigma_y */
  struct { uint32_t w, l; double sx, sy; } cs[] = {
      {37, 23, 2.3, 1.4}, {9, 50, 1.1, 3.2}, {5, 4, 3.0, 3.0}, {64, 3, 0.7, 0.4}, {1, 1, 2, 2}};
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    uint32_t w = cs[c].w, l = cs[c].l;
    float *img = malloc((size_t)w * l * sizeof *img);
    double *a = malloc((size_t)w * l * sizeof *a), *b = malloc((size_t)w * l * sizeof *b);
    for (size_t i = 0; i < (size_t)w * l; i++) img[i] = urand() < 0.3 ? NAN : (float)(urand() * 100 - 50);
    sconv_image(img, w, l, cs[c].sx, cs[c].sy, a);
    conv_reference(img, w, l, cs[c].sx, cs[c].sy, b);
    for (size_t i = 0; i < (size_t)w * l; i++) {
      if (a[i] != a[i] || b[i] != b[i]) {
        CHECKF(a[i] != a[i] && b[i] != b[i], "case %zu pixel %zu: %g vs %g", c, i, a[i], b[i]);
        continue;
      }
      CHECKF(fabs(a[i] - b[i]) <= 1e-10 * (1 + fabs(b[i])), "case %zu pixel %zu: %.17g vs %.17g", c, i, a[i], b[i]);
    }
    free(img); free(a); free(b);
  }
}

/* Shared weight sums (tsfilt_sref): filtering with the reference's sums gives the same bits as
 * without, whether the image's NaN pattern is the reference's everywhere, differs in a few
 * rows (windows mixing matching and other rows), has an emptied row the reference has not, or
 * the reference has an empty row; and still matches the direct 2-D reference. */
static void test_sconv_shared_weights(void) {
  enum { W = 41, L = 37 };
  float *ref = malloc(sizeof(float) * W * L), *img = malloc(sizeof(float) * W * L);
  double *a = malloc(sizeof(double) * W * L), *b = malloc(sizeof(double) * W * L), *c = malloc(sizeof(double) * W * L);
  for (int k = 0; k < 5; k++) {
    for (int i = 0; i < W * L; i++) ref[i] = (i * 7919 % 13 == 0 || (i % W > 30 && i / W < 9)) ? NAN : 0.0f;
    if (k == 4)
      for (int x = 0; x < W; x++) ref[20 * W + x] = NAN; /* an empty reference row */
    for (int i = 0; i < W * L; i++) img[i] = ref[i] == ref[i] ? (float)(urand() * 40 - 20) : NAN;
    if (k == 1) img[5 * W + 3] = NAN, img[6 * W + 4] = 1.5f; /* two rows differ */
    if (k == 2)
      for (int x = 0; x < W; x++) img[30 * W + x] = NAN; /* an emptied row */
    if (k == 3)
      for (int y = 0; y < L; y += 3) img[y * W + 11] = img[y * W + 11] == img[y * W + 11] ? NAN : 2.0f;
    double sx = 2.2 + 0.3 * k, sy = 1.7;
    sconv_image(img, W, L, sx, sy, a);
    sconv_image_ref(img, ref, W, L, sx, sy, b);
    conv_reference(img, W, L, sx, sy, c);
    long diff = 0, far = 0;
    for (int i = 0; i < W * L; i++) {
      if (memcmp(&a[i], &b[i], sizeof a[i]) && !(a[i] != a[i] && b[i] != b[i])) diff++;
      if ((a[i] != a[i]) != (c[i] != c[i]) || (a[i] == a[i] && fabs(a[i] - c[i]) > 1e-10 * (1 + fabs(c[i])))) far++;
    }
    CHECKF(diff == 0, "case %d: %ld pixels differ with shared weights", k, diff);
    CHECKF(far == 0, "case %d: %ld pixels off the 2-D reference", k, far);
  }
  free(ref); free(img); free(a); free(b); free(c);
}

static void test_sconv_vs_astropy(void) {
  const char *py = pyref_python("numpy, astropy.convolution");
  if (!py) { printf("# no python3 with numpy+astropy: astropy comparison not run\n"); return; }
  enum { W = 61, L = 47 };
  double sx = 4.3, sy = 3.1;
  float img[W * L];
  double ours[W * L], ref[W * L];
  for (int i = 0; i < W * L; i++) {
    int x = i % W, y = i / W;
    img[i] = (float)(10 * sin(x * 0.2) + 5 * cos(y * 0.3) + urand() * 3);
    if (urand() < 0.2 || (x > 40 && y > 30)) img[i] = NAN; /* holes and a dead corner */
  }
  FILE *f = fopen(check_path("params.txt"), "w");
  CHECK(f != NULL);
  fprintf(f, "1 %d %d %.17g %.17g 0\n", L, W, sx, sy);
  fclose(f);
  CHECK(pyref_write(check_path("img.f32"), img, sizeof img) == 0);
  CHECK(check_sh("%s tests/interop/tsfilt_ref.py conv %s", py, check_tmpdir()) == 0);
  CHECK(pyref_read(check_path("conv.f64"), ref, sizeof ref) == 0);
  sconv_image(img, W, L, sx, sy, ours);
  double maxabs = 0;
  int n_nan = 0;
  for (int i = 0; i < W * L; i++) {
    if (ref[i] != ref[i] || ours[i] != ours[i]) {
      CHECKF(ref[i] != ref[i] && ours[i] != ours[i], "pixel %d: ours %g, astropy %g", i, ours[i], ref[i]);
      n_nan++;
      continue;
    }
    double d = fabs(ours[i] - ref[i]);
    if (d > maxabs) maxabs = d;
  }
  printf("# spatial filter %dx%d vs astropy convolve_fft: max |difference| %.3g (values ~10), %d NaN in both\n",
         W, L, maxabs, n_nan);
  CHECK(maxabs < 1e-7);
}

/* ---------------------------------------------------------------- deramp */

/* A planted surface in LiCSBAS's raw columns 1, x, y, xy, x^2, y^2, h with coefficients c. */
static double planted(tsfilt_deg deg, int hl, const double *c, int x, int y, double h) {
  double v = c[0];
  if (deg != TSFILT_DERAMP_NONE) v += c[1] * x + c[2] * y;
  if (deg == TSFILT_DERAMP_BL || deg == TSFILT_DERAMP_2) v += c[3] * x * y;
  if (deg == TSFILT_DERAMP_2) v += c[4] * x * x + c[5] * y * y;
  return hl ? v + c[6] * h : v;
}

static void test_deramp_planted(void) {
  enum { W = 50, L = 40 };
  float data[W], hgt[W * L], fit[W];
  for (int i = 0; i < W * L; i++) hgt[i] = (float)(150 + 1500 * urand()); /* some below 200 m */
  hgt[3] = NAN;
  tsfilt_deg degs[] = {TSFILT_DERAMP_1, TSFILT_DERAMP_BL, TSFILT_DERAMP_2, TSFILT_DERAMP_NONE};
  for (int t = 0; t < 8; t++) {
    tsfilt_deg deg = degs[t % 4];
    int hl = t >= 4;
    if (deg == TSFILT_DERAMP_NONE && !hl) continue;
    tsfilt_ramp r;
    CHECK(tsfilt_ramp_init(&r, deg, hl, 200, 1000, W, L) == 0);
    /* planted surface in LiCSBAS's raw columns; hgt term with the estimation regressor
     * (clipped to [200, 1000] m, truncated) so that the fit is exact on used pixels */
    double c[7] = {3.5, 0.02, -0.03, 4e-4, -1e-4, 2e-4, 0.004};
    tsfilt_ramp_acc acc;
    tsfilt_ramp_acc_init(&acc);
    for (int y = 0; y < L; y++) {
      for (int x = 0; x < W; x++) {
        float h = hgt[y * W + x];
        double v = planted(deg, hl, c, x, y, (h != h || h < 200 || h > 1000) ? 0 : trunc(h));
        data[x] = ((x + y) % 7 == 0) ? NAN : (float)v; /* some pixels unused */
      }
      tsfilt_ramp_accum(&r, (uint32_t)y, data, hgt + y * W, W, &acc);
    }
    double coef[7];
    CHECK(tsfilt_ramp_solve(&r, &acc, coef) == 0);
    if (hl) CHECK_NEAR(tsfilt_ramp_hgt_coef(&r, coef), c[6], 1e-9);
    for (int y = 0; y < L; y++) {
      tsfilt_ramp_eval(&r, coef, (uint32_t)y, hgt + y * W, W, fit);
      for (int x = 0; x < W; x++) {
        float h = hgt[y * W + x];
        /* the evaluation uses the full, unclipped height (NaN as 0): LiCSBAS's quirk */
        double v = planted(deg, hl, c, x, y, h != h ? 0.0 : (double)h);
        CHECKF(fabs(fit[x] - v) <= 2e-5 * (1 + fabs(v)), "deg %d hl %d (%d,%d): fit %.7g, planted %.7g",
               (int)deg, hl, x, y, fit[x], v);
      }
    }
  }
}

static void test_deramp_empty_and_deficient(void) {
  tsfilt_ramp r;
  CHECK(tsfilt_ramp_init(&r, TSFILT_DERAMP_NONE, 0, 200, 1e4, 10, 10) == -1);
  CHECK(tsfilt_ramp_init(&r, TSFILT_DERAMP_2, 0, 200, 1e4, 10, 10) == 0);
  tsfilt_ramp_acc acc;
  tsfilt_ramp_acc_init(&acc);
  double coef[7];
  CHECK(tsfilt_ramp_solve(&r, &acc, coef) == 0); /* no pixel: zeros, as lstsq on no rows */
  for (int i = 0; i < r.n_par; i++) CHECK_NEAR(coef[i], 0, 0);
  /* one row only (y constant): the data is still fitted exactly on that row */
  float d[10], fit[10];
  for (int x = 0; x < 10; x++) d[x] = (float)(1 + 0.5 * x - 0.1 * x * x);
  tsfilt_ramp_accum(&r, 4, d, NULL, 10, &acc);
  CHECK(tsfilt_ramp_solve(&r, &acc, coef) == 0);
  tsfilt_ramp_eval(&r, coef, 4, NULL, 10, fit);
  for (int x = 0; x < 10; x++) CHECK_NEAR(fit[x], d[x], 1e-5);
}

/* ---------------------------------------------------------------- median */

static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

static float median_ref(const float *v, size_t n) {
  float *s = malloc((n + 1) * sizeof *s);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) if (v[i] == v[i]) s[k++] = v[i];
  float r = NAN;
  if (k) {
    qsort(s, k, sizeof *s, cmpf);
    r = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2.0f;
  }
  free(s);
  return r;
}

static void test_median(void) {
  void *mem = malloc(tsfilt_median_bytes()), *mem2 = malloc(tsfilt_median_lo_bytes());
  size_t sizes[] = {1, 2, 3, 10, 11, 1000, 4097};
  for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++)
    for (int kind = 0; kind < 4; kind++) {
      size_t n = sizes[c];
      float *v = malloc(n * sizeof *v);
      for (size_t i = 0; i < n; i++) {
        double u = urand();
        switch (kind) {
        case 0: v[i] = (float)(u * 200 - 100); break;           /* spread */
        case 1: v[i] = (float)(1 + 1e-6 * (int)(u * 5)); break;  /* many ties, one bucket */
        case 2: v[i] = u < 0.3 ? NAN : (float)(-u * 1e-30); break; /* tiny negatives + NaN */
        default: v[i] = (i % 2) ? -0.0f : (float)(u * 3); break;
        }
      }
      tsfilt_median m;
      tsfilt_median_init(&m, mem);
      /* fed in two uneven chunks, as rows would be */
      size_t half = n / 3;
      tsfilt_median_pass1(&m, v, half);
      tsfilt_median_pass1(&m, v + half, n - half);
      float got = NAN;
      if (!tsfilt_median_mid(&m)) {
        tsfilt_median_pass2_begin(&m, mem2);
        tsfilt_median_pass2(&m, v + half, n - half);
        tsfilt_median_pass2(&m, v, half);
        got = tsfilt_median_result(&m);
      }
      float want = median_ref(v, n);
      CHECKF((got != got && want != want) || got == want, "n %zu kind %d: %.9g vs %.9g", n, kind, got, want);
      free(v);
    }
  /* all NaN: NaN */
  float nn[3] = {NAN, NAN, NAN};
  tsfilt_median m;
  tsfilt_median_init(&m, mem);
  tsfilt_median_pass1(&m, nn, 3);
  CHECK(tsfilt_median_mid(&m) == 1);
  CHECK(tsfilt_median_result(&m) != tsfilt_median_result(&m));
  /* even count: float32(a + b)/2: 1 and 2^-24 -> float32(1 + 2^-24) = 1 -> 0.5 */
  float two[2] = {1.0f, 0x1p-24f};
  tsfilt_median_init(&m, mem);
  tsfilt_median_pass1(&m, two, 2);
  CHECK(tsfilt_median_mid(&m) == 0);
  tsfilt_median_pass2_begin(&m, mem2);
  tsfilt_median_pass2(&m, two, 2);
  CHECK(tsfilt_median_result(&m) == 0.5f);
  free(mem);
  free(mem2);
}

/* ---------------------------------------------------------------- 16ref and velocity */

static void test_rms_and_velfit(void) {
  enum { N = 4, W = 4 };
  float t[N] = {0, 0.5f, 1.0f, 1.5f};
  /* pixel 0: 2 + 3t exactly; pixel 1: NaN at epoch 2; pixel 2: epoch 0 NaN (not fitted);
   * pixel 3: only epoch 0 valid (minimum-norm solution of c = 4: c = 4, v = 0) */
  float cum[N * W] = {
      2, 0, NAN, 4,
      3.5f, 1, 1, 4,
      5, NAN, 2, NAN,
      6.5f, 3, 3, NAN};
  float vel[W], icpt[W];
  tsfilt_velfit(cum, W, N, t, W, vel, icpt);
  CHECK_NEAR(vel[0], 3, 1e-6); CHECK_NEAR(icpt[0], 2, 1e-6);
  /* pixel 1: points (0,0), (0.5,1), (1.5,3): tm = 2/3, ym = 4/3, stt = 14/12, sty = 7/3 ->
   * v = 2, c = 0 */
  CHECK_NEAR(vel[1], 2, 1e-6); CHECK_NEAR(icpt[1], 0, 1e-6);
  CHECK(vel[2] != vel[2] && icpt[2] != icpt[2]);
  CHECK_NEAR(icpt[3], 4, 0); CHECK_NEAR(vel[3], 0, 0);
  /* rms about per-epoch medians, no NaN skipping, times mask and min-n_gap mask */
  float med[N] = {1, 1, 1, 1};
  float mask[W] = {1, 1, NAN, 1}, ngap[W] = {0, 0, 0, 1}, rms[W];
  float c2[N * W] = {
      1, 2, 0, 0,
      3, 2, 0, 0,
      1, 2, 0, 0,
      3, 2, 0, 0};
  tsfilt_rms_row(c2, W, N, med, mask, ngap, 0, W, rms);
  CHECK_NEAR(rms[0], sqrt(2.0), 1e-6); /* deviations 0, 2, 0, 2 -> sqrt(8/4) */
  CHECK_NEAR(rms[1], 1.0, 1e-7);
  CHECK(rms[2] != rms[2]); /* masked */
  CHECK(rms[3] != rms[3]); /* n_gap above the minimum */
  c2[4] = NAN;
  tsfilt_rms_row(c2, W, N, med, NULL, NULL, 0, W, rms);
  CHECK(rms[0] != rms[0]); /* one NaN epoch: NaN */
}

static void test_pixel_spacing(void) {
  /* LiCSBAS 13 for a 0.001 deg grid at 36.5 N, 500 rows: centre lat 36.25;
   * a = 2*pi*6356752.314/360*0.001 = 110.95 m; r = 2*pi*6378137/360*0.001*cos(36.25 deg)= 89.77 m */
  double r, a;
  tsfilt_pixel_spacing(36.5, -0.001, 0.001, 500, &r, &a);
  CHECK_NEAR(a, 110.95, 1e-12);
  CHECK_NEAR(r, 89.77, 1e-12);
}

/* ---------------------------------------------------------------- whole chain vs NumPy/astropy */

static void test_chain_vs_numpy(void) {
  const char *py = pyref_python("numpy, astropy.convolution");
  if (!py) { printf("# no python3 with numpy+astropy: chain comparison not run\n"); return; }
  enum { N = 9, W = 33, L = 28 };
  double sx = 2.6, sy = 3.3;
  float t[N], *cum = malloc(sizeof(float) * N * W * L), mask[W * L];
  int ord[N] = {0, 12, 24, 36, 60, 72, 84, 96, 120};
  for (int i = 0; i < N; i++) t[i] = (float)((double)ord[i] / 365.25);
  for (int y = 0; y < L; y++)
    for (int x = 0; x < W; x++) {
      mask[y * W + x] = (urand() < 0.2 || (x < 5 && y < 6)) ? NAN : 1.0f;
      for (int i = 0; i < N; i++) {
        float v = i == 0 ? 0.0f
                         : (float)(-10 * t[i] * sin(x * 0.1) + 4 * sin(i * 1.3 + y * 0.2) + urand() * 2);
        if (i > 0 && urand() < 0.05) v = NAN;
        cum[((size_t)i * L + y) * W + x] = v;
      }
    }
  double tau = tsfilt_auto_width_yr(t, N);
  FILE *f = fopen(check_path("params.txt"), "w");
  CHECK(f != NULL);
  fprintf(f, "%d %d %d %.17g %.17g %.17g\n", N, L, W, sx, sy, tau);
  fclose(f);
  CHECK(pyref_write(check_path("t.f32"), t, sizeof t) == 0);
  CHECK(pyref_write(check_path("cum.f32"), cum, sizeof(float) * N * W * L) == 0);
  CHECK(pyref_write(check_path("mask.f32"), mask, sizeof mask) == 0);
  CHECK(check_sh("%s tests/interop/tsfilt_ref.py filt %s", py, check_tmpdir()) == 0);
  float *hp_ref = malloc(sizeof(float) * N * W * L), *cf_ref = malloc(sizeof(float) * N * W * L);
  float rms_ref[W * L], vel_ref[W * L], icpt_ref[W * L], med_ref[N];
  CHECK(pyref_read(check_path("hp.f32"), hp_ref, sizeof(float) * N * W * L) == 0);
  CHECK(pyref_read(check_path("cumf.f32"), cf_ref, sizeof(float) * N * W * L) == 0);
  CHECK(pyref_read(check_path("rms.f32"), rms_ref, sizeof rms_ref) == 0);
  CHECK(pyref_read(check_path("vel.f32"), vel_ref, sizeof vel_ref) == 0);
  CHECK(pyref_read(check_path("icpt.f32"), icpt_ref, sizeof icpt_ref) == 0);
  CHECK(pyref_read(check_path("med.f32"), med_ref, sizeof med_ref) == 0);

  /* ours: rows of [epoch][x] */
  void *tm = malloc(tsfilt_tfilter_bytes(N) + 64);
  tsfilt_tfilter tf;
  tsfilt_tfilter_init(&tf, t, N, tau, tm);
  float row[N * W], hp[N * W], scr[3 * W];
  float *hp_img = malloc(sizeof(float) * N * W * L), *cf = malloc(sizeof(float) * N * W * L);
  size_t hp_same = 0, hp_n = 0;
  double hp_maxdiff = 0;
  for (int y = 0; y < L; y++) {
    for (int i = 0; i < N; i++) memcpy(row + i * W, cum + ((size_t)i * L + y) * W, W * sizeof(float));
    for (int i = 0; i < N; i++) {
      tsfilt_highpass(&tf, i, row, 0, W, W, hp + i * W, scr);
      for (int x = 0; x < W; x++) {
        float v = hp[i * W + x];
        if (i == 0) v = v + (float)DBL_EPSILON;
        float r = hp_ref[((size_t)i * L + y) * W + x];
        hp_img[((size_t)i * L + y) * W + x] = v * mask[y * W + x];
        if (v != v || r != r) { CHECK(v != v && r != r); continue; }
        hp_n++;
        hp_same += v == r;
        if (fabs(v - r) > hp_maxdiff) hp_maxdiff = fabs(v - r);
      }
    }
  }
  printf("# temporal high-pass vs NumPy float32: %zu of %zu bit-identical, max |diff| %.3g mm\n",
         hp_same, hp_n, hp_maxdiff);
  CHECK(hp_maxdiff < 1e-5);
  double *s = malloc(sizeof(double) * W * L);
  double cf_max = 0;
  for (int i = 0; i < N; i++) {
    sconv_image(hp_img + (size_t)i * W * L, W, L, sx, sy, s);
    for (int p = 0; p < W * L; p++) {
      float c = cum[(size_t)i * W * L + p];
      float v = (float)((double)c - s[p]);
      float r = cf_ref[(size_t)i * W * L + p];
      cf[(size_t)i * W * L + p] = v;
      if (v != v || r != r) { CHECKF(v != v && r != r, "epoch %d pixel %d: %g vs %g", i, p, v, r); continue; }
      if (fabs(v - r) > cf_max) cf_max = fabs(v - r);
    }
  }
  printf("# cum_filt vs LiCSBAS arithmetic (NumPy+astropy): max |diff| %.3g mm\n", cf_max);
  CHECK(cf_max < 1e-4);
  /* medians, rms, velocities */
  void *mm = malloc(tsfilt_median_bytes()), *mm2 = malloc(tsfilt_median_lo_bytes());
  float med[N];
  for (int i = 0; i < N; i++) {
    tsfilt_median m;
    tsfilt_median_init(&m, mm);
    tsfilt_median_pass1(&m, cf + (size_t)i * W * L, W * L);
    CHECK(tsfilt_median_mid(&m) == 0);
    tsfilt_median_pass2_begin(&m, mm2);
    tsfilt_median_pass2(&m, cf + (size_t)i * W * L, W * L);
    med[i] = tsfilt_median_result(&m);
    CHECK_NEAR(med[i], med_ref[i], 1e-4);
  }
  float rms[W * L], vel[W * L], icpt[W * L];
  double rms_max = 0, vel_max = 0;
  for (int y = 0; y < L; y++) {
    float crow[N * W];
    for (int i = 0; i < N; i++) memcpy(crow + i * W, cf + ((size_t)i * L + y) * W, W * sizeof(float));
    tsfilt_rms_row(crow, W, N, med, mask + y * W, NULL, 0, W, rms + y * W);
    tsfilt_velfit(crow, W, N, t, W, vel + y * W, icpt + y * W);
  }
  for (int p = 0; p < W * L; p++) {
    if (rms[p] != rms[p] || rms_ref[p] != rms_ref[p]) CHECK(rms[p] != rms[p] && rms_ref[p] != rms_ref[p]);
    else if (fabs(rms[p] - rms_ref[p]) > rms_max) rms_max = fabs(rms[p] - rms_ref[p]);
    if (vel[p] != vel[p] || vel_ref[p] != vel_ref[p]) CHECK(vel[p] != vel[p] && vel_ref[p] != vel_ref[p]);
    else {
      if (fabs(vel[p] - vel_ref[p]) > vel_max) vel_max = fabs(vel[p] - vel_ref[p]);
      CHECK_NEAR(icpt[p], icpt_ref[p], 1e-3);
    }
  }
  printf("# 16ref rms max |diff| %.3g mm; filtered velocity max |diff| %.3g mm/yr\n", rms_max, vel_max);
  CHECK(rms_max < 1e-4);
  CHECK(vel_max < 1e-3);
  free(cum); free(hp_ref); free(cf_ref); free(tm); free(hp_img); free(cf); free(s); free(mm); free(mm2);
}

int main(void) {
  RUN(test_auto_width);
  RUN(test_highpass_by_hand);
  RUN(test_highpass_rows);
  RUN(test_kernel_values);
  RUN(test_kernel_vs_astropy);
  RUN(test_sconv_constant);
  RUN(test_sconv_vs_reference);
  RUN(test_sconv_shared_weights);
  RUN(test_sconv_vs_astropy);
  RUN(test_deramp_planted);
  RUN(test_deramp_empty_and_deficient);
  RUN(test_median);
  RUN(test_rms_and_velfit);
  RUN(test_pixel_spacing);
  RUN(test_chain_vs_numpy);
  return check_done();
}
