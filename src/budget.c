/* budget.c — the run's memory budget (see include/cbas/budget.h). */
#include "cbas/budget.h"
#include "cbas/plat.h"
#include <stdlib.h>
#include <string.h>

#define HDR 64 /* header keeps 64-byte alignment of the user block; stores the size */

static void raw_free(void *raw);

int budget_init(cbas_budget *b, uint64_t limit) {
  memset(b, 0, sizeof *b);
  b->limit = limit;
  b->fail_after = -1;
  return plat_mutex_new(&b->mu);
}
void budget_destroy(cbas_budget *b) {
  for (int i = 0; i < b->n_cached; i++) raw_free(b->cache[i]);
  b->n_cached = 0;
  b->cached = 0;
  plat_mutex_free(b->mu);
  b->mu = NULL;
}

#define CACHE_MIN ((uint64_t)64 << 10)
static uint64_t cache_cap(const cbas_budget *b) {
  uint64_t c = b->limit / 16;
  return c < ((uint64_t)16 << 20) ? c : (uint64_t)16 << 20;
}
/* The block size a request of `need` bytes (header included) gets from aligned_alloc. */
static uint64_t rounded(uint64_t need) { return (need + HDR - 1) / HDR * HDR; }
static uint64_t raw_size(const void *raw) { return rounded(*(const uint64_t *)raw); }

/* Blocks from BIG_MIN up come from plat_big_alloc (huge pages where the OS has them: far fewer
 * page faults when a large buffer is first written), the others from aligned_alloc. */
#define BIG_MIN ((uint64_t)4 << 20)
static void *raw_alloc(uint64_t sz) {
  /* C11 aligned_alloc wants a size that is a multiple of the alignment (sz is). */
  return sz >= BIG_MIN ? plat_big_alloc((size_t)sz) : aligned_alloc(HDR, (size_t)sz);
}
static void raw_free(void *raw) {
  uint64_t sz = raw_size(raw);
  if (sz >= BIG_MIN) plat_big_free(raw, (size_t)sz);
  else free(raw);
}

/* With b->mu held: removes cache entry i. */
static void *cache_take(cbas_budget *b, int i) {
  void *raw = b->cache[i];
  b->cached -= raw_size(raw);
  memmove(b->cache + i, b->cache + i + 1, (size_t)(b->n_cached - i - 1) * sizeof b->cache[0]);
  b->n_cached--;
  return raw;
}

static double mb(uint64_t x) { return (double)x / 1048576.0; }

void *budget_alloc(cbas_ctx *ctx, size_t bytes, const char *what) {
  cbas_budget *b = ctx->budget;
  uint64_t need = (uint64_t)bytes + HDR;
  void *evict[BUDGET_CACHE_N], *raw = NULL;
  int n_evict = 0;
  plat_mutex_lock(b->mu);
  int refuse = b->fail_after == 0;
  if (b->fail_after > 0) b->fail_after--;
  if (!refuse && b->used + need > b->limit) refuse = 1;
  if (refuse) {
    uint64_t used = b->used, lim = b->limit;
    plat_mutex_unlock(b->mu);
    ctx_fail(ctx, CBAS_EBUDGET, "%s needs %.1f MB, budget is %.1f MB (%.1f MB in use); raise --mem",
             what, mb(need), mb(lim), mb(used));
    return NULL;
  }
  /* A kept block of 80 to 100 % of its size serves it: it is then in use with its own size
   * (what it holds), if that still fits. */
  uint64_t want = rounded(need);
  int best = -1;
  for (int i = 0; i < b->n_cached; i++) {
    uint64_t sz = raw_size(b->cache[i]);
    if (sz >= want && sz - want <= sz / 5 && (best < 0 || sz < raw_size(b->cache[best]))) best = i;
  }
  if (best >= 0 && b->used + *(uint64_t *)b->cache[best] <= b->limit) {
    raw = cache_take(b, best);
    need = *(uint64_t *)raw;
  }
  b->used += need;
  if (b->used > b->peak) b->peak = b->used;
  while (b->n_cached && b->used + b->cached > b->limit) evict[n_evict++] = cache_take(b, 0);
  plat_mutex_unlock(b->mu);
  for (int i = 0; i < n_evict; i++) raw_free(evict[i]);
#ifdef CBAS_BUDGET_POISON
  /* sanitizer builds: blocks never come zeroed, reused or not, so code that reads before it
   * writes shows up as changed results, not as luck */
  if (raw) memset((char *)raw + HDR, 0xA5, bytes);
#endif
  if (raw) return (char *)raw + HDR;
  raw = raw_alloc(want);
  if (!raw) {
    plat_mutex_lock(b->mu);
    b->used -= need;
    plat_mutex_unlock(b->mu);
    ctx_fail(ctx, CBAS_ENOMEM, "%s: the system refused %.1f MB", what, mb(need));
    return NULL;
  }
  *(uint64_t *)raw = need;
#ifdef CBAS_BUDGET_POISON
  memset((char *)raw + HDR, 0xA5, bytes);
#endif
  return (char *)raw + HDR;
}
void *budget_calloc(cbas_ctx *ctx, size_t n, size_t size, const char *what) {
  if (size && n > SIZE_MAX / size) {
    ctx_fail(ctx, CBAS_EBUDGET, "%s: size overflow", what);
    return NULL;
  }
  void *p = budget_alloc(ctx, n * size, what);
  if (p) memset(p, 0, n * size);
  return p;
}
void budget_free(cbas_ctx *ctx, void *p) {
  if (!p) return;
  char *raw = (char *)p - HDR;
  uint64_t need = *(uint64_t *)raw, sz = rounded(need);
  cbas_budget *b = ctx->budget;
  void *evict[BUDGET_CACHE_N + 1];
  int n_evict = 0;
  plat_mutex_lock(b->mu);
  b->used -= need;
  uint64_t cap = cache_cap(b);
  if (sz >= CACHE_MIN && sz <= cap) {
    /* keep it; the oldest kept blocks go to make room */
    while (b->n_cached && (b->n_cached == BUDGET_CACHE_N || b->cached + sz > cap)) evict[n_evict++] = cache_take(b, 0);
    b->cache[b->n_cached++] = raw;
    b->cached += sz;
    while (b->n_cached && b->used + b->cached > b->limit) evict[n_evict++] = cache_take(b, 0);
  } else {
    evict[n_evict++] = raw;
  }
  plat_mutex_unlock(b->mu);
  for (int i = 0; i < n_evict; i++) raw_free(evict[i]);
}
uint64_t budget_avail(const cbas_ctx *ctx) {
  const cbas_budget *b = ctx->budget;
  plat_mutex_lock(b->mu);
  uint64_t a = b->used >= b->limit ? 0 : b->limit - b->used;
  plat_mutex_unlock(b->mu);
  return a;
}
int budget_require(cbas_ctx *ctx, uint64_t need, const char *what) {
  uint64_t a = budget_avail(ctx);
  if (need <= a) return 0;
  return ctx_fail(ctx, CBAS_EBUDGET, "%s needs %.1f MB, budget is %.1f MB (%.1f MB available); raise --mem",
                  what, mb(need), mb(ctx->budget->limit), mb(a));
}
void budget_fail_after(cbas_budget *b, long n) { b->fail_after = n; }

int budget_parse_size(const char *s, uint64_t *out) {
  char *end;
  if (!s || !*s) return -1;
  double v = strtod(s, &end);
  if (end == s || v < 0) return -1;
  double mul = 1;
  switch (*end) {
  case 0: break;
  case 'k': case 'K': mul = 1024.0; end++; break;
  case 'm': case 'M': mul = 1048576.0; end++; break;
  case 'g': case 'G': mul = 1073741824.0; end++; break;
  default: return -1;
  }
  if (*end == 'B' || *end == 'b') end++;
  if (*end) return -1;
  v *= mul;
  if (v > 1.8e19) return -1;
  *out = (uint64_t)v;
  return 0;
}
