/* xmedian.c — exact streaming nanmedian by radix selection over float32 keys
 * (see include/cbas/xmedian.h). */
#include "cbas/xmedian.h"
#include <math.h>

static const int SHIFT[3] = {21, 10, 0};
static const int BITS[3] = {11, 11, 10};

float xmed_key_value(uint32_t k) {
  uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

void xmed_init(xmed *m, uint32_t *hist) {
  memset(m, 0, sizeof *m);
  m->h = hist;
  memset(hist, 0, XMED_HIST_WORDS * sizeof *hist);
}

void xmed_add(xmed *m, const float *v, size_t n) {
  if (m->level > 2) return;
  if (m->level == 0) {
    for (size_t i = 0; i < n; i++)
      if (v[i] == v[i]) m->h[xmed_key(v[i]) >> 21]++;
    return;
  }
  for (size_t i = 0; i < n; i++)
    if (v[i] == v[i]) xmed_add1(m, v[i]);
}

/* The bin of h holding rank *rank; leaves the rank within that bin in *rank. */
static uint32_t select_bin(const uint32_t *h, uint32_t nb, uint64_t *rank) {
  uint64_t cum = 0;
  for (uint32_t b = 0; b < nb; b++) {
    if (*rank < cum + h[b]) { *rank -= cum; return b; }
    cum += h[b];
  }
  return nb - 1; /* not reached when the counts are consistent */
}

void xmed_next(xmed *m) {
  int s = m->level;
  if (s > 2) return;
  uint32_t nb = 1u << BITS[s];
  if (s == 0) {
    uint64_t n = 0;
    for (uint32_t b = 0; b < nb; b++) n += m->h[b];
    m->n = n;
    if (n == 0) {
      m->level = 3;
      return;
    }
    m->rank[0] = (n - 1) / 2;
    m->rank[1] = n / 2;
    for (int t = 0; t < 2; t++) m->pre[t] = select_bin(m->h, nb, &m->rank[t]);
  } else {
    for (int t = 0; t < 2; t++) {
      const uint32_t *h = (t == 1 && m->split) ? m->h + XMED_BINS : m->h;
      m->pre[t] = (m->pre[t] << BITS[s]) | select_bin(h, nb, &m->rank[t]);
    }
  }
  memset(m->h, 0, XMED_HIST_WORDS * sizeof *m->h);
  m->split = m->pre[0] != m->pre[1];
  m->level = (uint8_t)(s + 1);
}

int xmed_done(const xmed *m) { return m->level > 2; }

void xmed_bounds(const xmed *m, float *lo, float *hi) {
  if (m->level == 0 || m->n == 0) { *lo = -INFINITY; *hi = INFINITY; return; }
  uint32_t sh = (uint32_t)SHIFT[m->level - 1];
  uint32_t low = m->pre[0] << sh, high = (m->pre[1] << sh) | (sh ? (1u << sh) - 1 : 0);
  *lo = xmed_key_value(low);
  *hi = xmed_key_value(high);
}

float xmed_lo(const xmed *m) { return m->n ? xmed_key_value(m->pre[0]) : NAN; }
float xmed_hi(const xmed *m) { return m->n ? xmed_key_value(m->pre[1]) : NAN; }

float xmed_median(const xmed *m) {
  if (!m->n) return NAN;
  float a = xmed_lo(m), b = xmed_hi(m);
  return (m->n & 1) ? a : (a + b) / 2.0f;
}
