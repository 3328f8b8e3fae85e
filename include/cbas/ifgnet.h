/* ifgnet.h — the interferogram network as LiCSBAS sees it: loops (triangles) in
 * make_loop_matrix order (LiCSBAS_loop_lib, digest §6.1), the bad-interferogram rule of loop
 * closure (identify_bad_ifg), epochs, increment gaps of the small-baseline matrix
 * (make_sb_matrix, §6.6 / §7.4) and the per-pixel count of interferograms in no complete loop
 * (step 13's n_ifg_noloop, §7.4).
 *
 * Interferograms are given as names "YYYYMMDD_YYYYMMDD" sorted as LiCSBAS sorts them
 * (lexicographically); results index into that array. Pure functions, no allocation,
 * thread-safe.
 */
#ifndef CBAS_IFGNET_H
#define CBAS_IFGNET_H
#include <stddef.h>
#include <stdint.h>

/* One loop: ifg12 = A_B, ifg23 = B_C, ifg13 = A_C (A < B < C); loop phase
 * = unw12 + unw23 − unw13. */
typedef struct ifgnet_loop { uint32_t i12, i23, i13; } ifgnet_loop;

/* Loops of the n sorted ifgs in make_loop_matrix order: for each ifg12 in list order, for each
 * ifg23 in list order whose primary is ifg12's secondary, if A_C is in the list. Writes at most
 * cap loops (loops may be NULL with cap 0 to count) and returns the total number of loops. */
uint32_t ifgnet_loops(const char (*ifg)[18], uint32_t n, ifgnet_loop *loops, uint32_t cap);

/* Sorted unique epochs of the n ifgs (ep needs room for 2n; "YYYYMMDD"), and each ifg's
 * epoch indices (prim/sec may be NULL). Returns the number of epochs. */
uint32_t ifgnet_epochs(const char (*ifg)[18], uint32_t n, char (*ep)[9], int32_t *prim, int32_t *sec);

/* Gap flags of the n_ep−1 increments between consecutive epochs: gap[j] = 1 when no ifg k
 * with valid[k] (valid NULL = all) spans increment j (prim ≤ j < sec); make_sb_matrix's
 * all-zero columns. cover: scratch of n_ep int32. Returns the number of gaps. */
uint32_t ifgnet_gaps(const int32_t *prim, const int32_t *sec, const uint8_t *valid, uint32_t n_ifg,
                     uint32_t n_ep, int32_t *cover, uint8_t *gap);

/* identify_bad_ifg: loop_bad[j] = 1 (RMS ≥ threshold), 0 (good) or −1 (skipped). An ifg is
 * a candidate when it is in some bad loop, bad when it is a candidate and in no good loop.
 * cand/bad get 0/1 per ifg (n_ifg entries; either may be NULL). */
void ifgnet_bad_from_loops(const ifgnet_loop *loops, uint32_t n_loop, const int8_t *loop_bad, uint32_t n_ifg,
                           uint8_t *cand, uint8_t *bad);

/* Step 13's n_ifg_noloop for one pixel: valid[k] (0/1 per ifg); a loop is complete when its
 * three ifgs are valid; returns how many valid ifgs are in no complete loop. in_loop: scratch
 * of n_ifg bytes. */
uint32_t ifgnet_noloop_count(const ifgnet_loop *loops, uint32_t n_loop, const uint8_t *valid, uint32_t n_ifg,
                             uint8_t *in_loop);
#endif
