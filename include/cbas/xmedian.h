/* xmedian.h — exact NumPy nanmedian of a float32 series too large to hold, in a few streaming
 * passes: a radix selection of the two middle order statistics over the float32 bit patterns
 * (mapped to unsigned keys in value order), 11 + 11 + 10 bits, one pass over the data per
 * level. Used where LiCSBAS takes a whole-image median: step 12's loop 2πn and multi-prime
 * bias (digest §6.2), 13ref/16ref medians per epoch (§7.6, §10.5).
 *
 *   xmed m; xmed_init(&m, hist);                 hist: XMED_HIST_WORDS uint32 of caller memory
 *   while (!xmed_done(&m)) {
 *     for every block of the data: xmed_add(&m, values, n);   (any order, any blocking)
 *     xmed_next(&m);
 *   }
 *   float med = xmed_median(&m);                 NaN when every value was NaN
 *
 * Semantics: NaN values are skipped; ±inf are ordinary values; with n values left, the median
 * is the value of rank n/2 (odd n) or float32(a + b) / 2 of the ranks n/2−1 and n/2 (even n), as
 * NumPy's (nan)median computes it on float32. −0.0 and +0.0 are distinct keys but equal values.
 * A caller that only needs a coarse answer may stop early: xmed_bounds() gives an interval
 * that contains both middle statistics after every level.
 * Counts are integers, so the result does not depend on the order or blocking of the data or
 * on the number of threads (one xmed per series; a series is counted by one thread at a time).
 * Memory: XMED_HIST_WORDS*4 = 16 KiB per series (caller's), no allocation.
 */
#ifndef CBAS_XMEDIAN_H
#define CBAS_XMEDIAN_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define XMED_BINS 2048
#define XMED_HIST_WORDS (2 * XMED_BINS)

typedef struct xmed {
  uint32_t *h;         /* [2][XMED_BINS]: lower / upper statistic (one shared while equal) */
  uint64_t n;          /* non-NaN values (known after level 0) */
  uint32_t pre[2];     /* key bits known so far of the lower / upper middle statistic */
  uint64_t rank[2];    /* their ranks within their prefix class */
  uint8_t level;       /* next level to count, 0..3 (3 = exact) */
  uint8_t split;       /* the two statistics are in different prefix classes */
} xmed;

/* Order-preserving key of a float32 (NaN excluded by the caller). */
static inline uint32_t xmed_key(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
float xmed_key_value(uint32_t key);

void xmed_init(xmed *m, uint32_t *hist);
/* Counts n values (NaN skipped) for the current level. */
void xmed_add(xmed *m, const float *v, size_t n);
/* Counts one non-NaN value (inline, for loops that compute values on the fly). */
static inline void xmed_add1(xmed *m, float v) {
  static const uint8_t SH[3] = {21, 10, 0}, BITS[3] = {11, 11, 10};
  uint32_t key = xmed_key(v);
  if (m->level == 0) { m->h[key >> 21]++; return; }
  if (m->level > 2) return;
  uint32_t pre = key >> SH[m->level - 1], bin = (key >> SH[m->level]) & ((1u << BITS[m->level]) - 1);
  if (pre == m->pre[0]) m->h[bin]++;
  if (m->split && pre == m->pre[1]) m->h[XMED_BINS + bin]++;
}
/* Ends a pass: narrows both statistics by one level and clears the histograms. */
void xmed_next(xmed *m);
/* 1 when the median is exact (after three passes), or when there is nothing to find (no
 * value at all after the first pass). */
int xmed_done(const xmed *m);
/* Interval [*lo, *hi] (values) holding both middle statistics; call after xmed_next. Either
 * end may be NaN when the interval still touches NaN bit patterns. */
void xmed_bounds(const xmed *m, float *lo, float *hi);
/* After xmed_done: the lower and upper middle statistics (equal for odd n). */
float xmed_lo(const xmed *m);
float xmed_hi(const xmed *m);
/* After xmed_done: NumPy's nanmedian (NaN if no value). */
float xmed_median(const xmed *m);
#endif
