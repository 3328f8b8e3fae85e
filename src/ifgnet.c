/* ifgnet.c — loops, epochs, gaps and loop-based bad-ifg identification of an interferogram
 * network, as LiCSBAS computes them (see include/cbas/ifgnet.h). */
#include "cbas/ifgnet.h"
#include <string.h>

/* First index in [0, n) whose name is >= key (compared over klen bytes). */
static uint32_t lower_bound(const char (*ifg)[18], uint32_t n, const char *key, size_t klen) {
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (memcmp(ifg[mid], key, klen) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

uint32_t ifgnet_loops(const char (*ifg)[18], uint32_t n, ifgnet_loop *loops, uint32_t cap) {
  uint32_t count = 0;
  for (uint32_t i12 = 0; i12 < n; i12++) {
    const char *sec12 = ifg[i12] + 9;
    /* ifg23 candidates: names starting with secondary12, contiguous in the sorted list */
    for (uint32_t i23 = lower_bound(ifg, n, sec12, 8); i23 < n && !memcmp(ifg[i23], sec12, 8); i23++) {
      char name13[18];
      memcpy(name13, ifg[i12], 9);
      memcpy(name13 + 9, ifg[i23] + 9, 9);
      uint32_t i13 = lower_bound(ifg, n, name13, 17);
      if (i13 >= n || memcmp(ifg[i13], name13, 17)) continue;
      if (count < cap) loops[count] = (ifgnet_loop){i12, i23, i13};
      count++;
    }
  }
  return count;
}

/* Position of the date d (8 chars) in the sorted epochs ep[0, ne): first entry >= d. */
static uint32_t epoch_pos(const char (*ep)[9], uint32_t ne, const char *d) {
  uint32_t lo = 0, hi = ne;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (memcmp(ep[mid], d, 8) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

uint32_t ifgnet_epochs(const char (*ifg)[18], uint32_t n, char (*ep)[9], int32_t *prim, int32_t *sec) {
  uint32_t ne = 0;
  /* insertion into a sorted unique array: n is small (hundreds) */
  for (uint32_t k = 0; k < n; k++)
    for (int side = 0; side < 2; side++) {
      const char *d = ifg[k] + 9 * side;
      uint32_t lo = epoch_pos((const char(*)[9])ep, ne, d);
      if (lo < ne && !memcmp(ep[lo], d, 8)) continue;
      memmove(ep + lo + 1, ep + lo, (size_t)(ne - lo) * sizeof *ep);
      memcpy(ep[lo], d, 8);
      ep[lo][8] = 0;
      ne++;
    }
  for (uint32_t k = 0; k < n && (prim || sec); k++)
    for (int side = 0; side < 2; side++) {
      uint32_t lo = epoch_pos((const char(*)[9])ep, ne, ifg[k] + 9 * side);
      if (side == 0 && prim) prim[k] = (int32_t)lo;
      if (side == 1 && sec) sec[k] = (int32_t)lo;
    }
  return ne;
}

uint32_t ifgnet_gaps(const int32_t *prim, const int32_t *sec, const uint8_t *valid, uint32_t n_ifg, uint32_t n_ep,
                     int32_t *cover, uint8_t *gap) {
  if (n_ep < 2) return 0;
  memset(cover, 0, (size_t)n_ep * sizeof *cover);
  for (uint32_t k = 0; k < n_ifg; k++) {
    if (valid && !valid[k]) continue;
    cover[prim[k]]++;
    cover[sec[k]]--;
  }
  uint32_t n_gap = 0;
  int32_t run = 0;
  for (uint32_t j = 0; j + 1 < n_ep; j++) {
    run += cover[j];
    gap[j] = run == 0;
    n_gap += gap[j];
  }
  return n_gap;
}

void ifgnet_bad_from_loops(const ifgnet_loop *loops, uint32_t n_loop, const int8_t *loop_bad, uint32_t n_ifg,
                           uint8_t *cand, uint8_t *bad) {
  /* bit 1: in a bad loop, bit 2: in a good loop */
  if (cand) memset(cand, 0, n_ifg);
  if (bad) memset(bad, 0, n_ifg);
  for (uint32_t j = 0; j < n_loop; j++) {
    if (loop_bad[j] < 0) continue;
    uint8_t bit = loop_bad[j] ? 1 : 2;
    uint32_t ix[3] = {loops[j].i12, loops[j].i23, loops[j].i13};
    for (int i = 0; i < 3; i++) {
      if (bad) bad[ix[i]] |= bit;
      if (cand && bit == 1) cand[ix[i]] = 1;
    }
  }
  if (bad)
    for (uint32_t k = 0; k < n_ifg; k++) bad[k] = bad[k] == 1;
}

uint32_t ifgnet_noloop_count(const ifgnet_loop *loops, uint32_t n_loop, const uint8_t *valid, uint32_t n_ifg,
                             uint8_t *in_loop) {
  memset(in_loop, 0, n_ifg);
  for (uint32_t j = 0; j < n_loop; j++) {
    const ifgnet_loop *l = &loops[j];
    if (valid[l->i12] && valid[l->i23] && valid[l->i13]) in_loop[l->i12] = in_loop[l->i23] = in_loop[l->i13] = 1;
  }
  uint32_t c = 0;
  for (uint32_t k = 0; k < n_ifg; k++) c += valid[k] && !in_loop[k];
  return c;
}
