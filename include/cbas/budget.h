/* budget.h — one memory budget per run (--mem).
 *
 * Every large buffer (anything proportional to image width, block height, or number of
 * interferograms) comes from budget_alloc(). Block sizes are derived from budget_avail().
 * The high-water mark is reported at the end of a run. Allocation failure is an error with a
 * message "WHAT needs N MB, budget is M MB (U MB in use)". Thread-safe.
 *
 * Memory cost: 64 bytes of header per allocation, counted against the budget.
 *
 * Freed blocks of 64 KiB or more are kept for reuse (up to BUDGET_CACHE_N blocks and
 * min(limit/16, 16 MiB) bytes), and handed back to an allocation of 80 to 100 % of their size:
 * on musl every large free is a munmap and every new block is page-faulted in again, which
 * calls repeating an allocation of the same size (a parallel deflate pool per write call) paid
 * for on each call. Kept blocks are memory held, so `used` + `cached` never exceeds `limit`:
 * an allocation that needs the room releases them first. `used` counts blocks in use only.
 * Tests: budget_fail_after(b, n) makes the (n+1)th following allocation fail.
 */
#ifndef CBAS_BUDGET_H
#define CBAS_BUDGET_H
#include "cbas/ctx.h"

#define BUDGET_CACHE_N 8

typedef struct cbas_budget {
  uint64_t limit, used, peak;
  long fail_after; /* < 0: never */
  struct plat_mutex *mu;
  uint64_t cached;                 /* bytes of the kept blocks */
  int n_cached;
  void *cache[BUDGET_CACHE_N];     /* kept blocks (raw), oldest first */
} cbas_budget;

int budget_init(cbas_budget *b, uint64_t limit);
void budget_destroy(cbas_budget *b);
/* Allocates bytes (aligned to 64) from ctx's budget, or records CBAS_EBUDGET and returns NULL. */
void *budget_alloc(cbas_ctx *ctx, size_t bytes, const char *what);
void *budget_calloc(cbas_ctx *ctx, size_t n, size_t size, const char *what);
void budget_free(cbas_ctx *ctx, void *p);
/* Bytes still available. */
uint64_t budget_avail(const cbas_ctx *ctx);
/* Pre-flight check: fails with "WHAT needs N MB, budget is M MB" if need > available. */
int budget_require(cbas_ctx *ctx, uint64_t need, const char *what);
void budget_fail_after(cbas_budget *b, long n);
/* Parses "256M", "1G", "64k", "1048576" (binary units). Returns 0 or -1. */
int budget_parse_size(const char *s, uint64_t *out);
#endif
