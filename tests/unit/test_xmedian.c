/* test_xmedian.c — the streaming exact nanmedian against a sort-based NumPy-style median:
 * random series of many sizes (odd and even counts, NaNs, both signs, ties, ±0, ±inf, huge
 * and tiny magnitudes), fed in blocks of varying size; the empty and all-NaN cases; the
 * bounds interval after each level always holds both middle values. */
#include "check.h"
#include "cbas/xmedian.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;
static uint32_t next32(void) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}
static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}
/* NumPy's nanmedian of float32 values, the obvious way. */
static float ref_median(const float *v, size_t n, float *lo, float *hi) {
  float *s = malloc((n + 1) * 4);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (v[i] == v[i]) s[k++] = v[i];
  float r = NAN;
  if (k) {
    qsort(s, k, 4, cmpf);
    *lo = s[(k - 1) / 2];
    *hi = s[k / 2];
    r = (k & 1) ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2.0f;
  }
  free(s);
  return r;
}

static float gen(int kind) {
  uint32_t r = next32();
  switch (kind) {
  case 0: return ((float)(r % 2000001) - 1000000.0f) * 1e-6f;     /* [-1, 1] fine grained */
  case 1: return (float)(r % 7) - 3.0f;                           /* heavy ties incl. 0 */
  case 2: { uint32_t u = r | 0; float f; memcpy(&f, &u, 4); return f; } /* any bit pattern */
  case 3: return (r & 1 ? 1.0f : -1.0f) * ldexpf((float)(r % 1000 + 1), (int)(r % 60) - 30);
  default: return r % 3 == 0 ? NAN : 6.2831855f + (float)(r % 100) * 1e-5f;
  }
}

static void test_random_series(void) {
  static const size_t sizes[] = {1, 2, 3, 4, 5, 8, 9, 100, 101, 4095, 4096, 20001, 100000};
  uint32_t *hist = malloc(XMED_HIST_WORDS * 4);
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
    for (int kind = 0; kind < 5; kind++) {
      size_t n = sizes[si];
      float *v = malloc(n * 4);
      for (size_t i = 0; i < n; i++) v[i] = gen(kind);
      if (n > 3) { v[1] = NAN; v[2] = -0.0f; v[3] = 0.0f; }
      if (kind == 3 && n > 5) { v[4] = INFINITY; v[5] = -INFINITY; }
      float lo = NAN, hi = NAN, expect = ref_median(v, n, &lo, &hi);
      xmed m;
      xmed_init(&m, hist);
      int passes = 0;
      while (!xmed_done(&m)) {
        size_t blk = 1 + next32() % 997;
        for (size_t i = 0; i < n; i += blk) xmed_add(&m, v + i, n - i < blk ? n - i : blk);
        xmed_next(&m);
        passes++;
        if (!xmed_done(&m)) {
          float b0, b1;
          xmed_bounds(&m, &b0, &b1);
          /* the interval holds both middle values (NaN ends are allowed to stay open) */
          CHECKF((b0 != b0 || b0 <= lo) && (b1 != b1 || b1 >= hi), "n %zu kind %d: [%g, %g] vs %g %g", n, kind,
                 (double)b0, (double)b1, (double)lo, (double)hi);
        }
      }
      float got = xmed_median(&m);
      CHECKF(passes <= 3, "%d passes", passes);
      CHECKF((isnan(got) && isnan(expect)) || memcmp(&got, &expect, 4) == 0 || (got == 0 && expect == 0),
             "n %zu kind %d: %.9g, expected %.9g", n, kind, (double)got, (double)expect);
      if (expect == expect) CHECK(xmed_lo(&m) == lo && xmed_hi(&m) == hi);
      free(v);
    }
  free(hist);
}

static void test_empty_and_nan(void) {
  uint32_t hist[XMED_HIST_WORDS];
  xmed m;
  xmed_init(&m, hist);
  xmed_next(&m); /* nothing counted */
  CHECK(xmed_done(&m) && m.n == 0 && isnan(xmed_median(&m)));
  float v[3] = {NAN, NAN, NAN};
  xmed_init(&m, hist);
  xmed_add(&m, v, 3);
  xmed_next(&m);
  CHECK(xmed_done(&m) && isnan(xmed_median(&m)));
  /* the even-count average is float32: 1e8 and 1e8+8 average to 1e8+4 */
  float w[2] = {1e8f, 100000008.0f};
  xmed_init(&m, hist);
  while (!xmed_done(&m)) { xmed_add(&m, w, 2); xmed_next(&m); }
  CHECK(xmed_median(&m) == 100000004.0f);
  /* xmed_add1 is the same as xmed_add */
  xmed_init(&m, hist);
  float u[5] = {3, -1, 7, 2, 2};
  while (!xmed_done(&m)) { for (int i = 0; i < 5; i++) xmed_add1(&m, u[i]); xmed_next(&m); }
  CHECK(xmed_median(&m) == 2.0f && m.n == 5);
}

int main(void) {
  RUN(test_random_series);
  RUN(test_empty_and_nan);
  return check_done();
}
