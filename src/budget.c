/* budget.c — the run's memory budget (see include/cbas/budget.h). */
#include "cbas/budget.h"
#include "cbas/plat.h"
#include <stdlib.h>
#include <string.h>

#define HDR 64 /* header keeps 64-byte alignment of the user block; stores the size */

int budget_init(cbas_budget *b, uint64_t limit) {
  memset(b, 0, sizeof *b);
  b->limit = limit;
  b->fail_after = -1;
  return plat_mutex_new(&b->mu);
}
void budget_destroy(cbas_budget *b) { plat_mutex_free(b->mu); b->mu = NULL; }

static double mb(uint64_t x) { return (double)x / 1048576.0; }

void *budget_alloc(cbas_ctx *ctx, size_t bytes, const char *what) {
  cbas_budget *b = ctx->budget;
  uint64_t need = (uint64_t)bytes + HDR;
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
  b->used += need;
  if (b->used > b->peak) b->peak = b->used;
  plat_mutex_unlock(b->mu);
  /* C11 aligned_alloc wants a size that is a multiple of the alignment. */
  void *raw = aligned_alloc(HDR, (size_t)((need + HDR - 1) / HDR * HDR));
  if (!raw) {
    plat_mutex_lock(b->mu);
    b->used -= need;
    plat_mutex_unlock(b->mu);
    ctx_fail(ctx, CBAS_ENOMEM, "%s: the system refused %.1f MB", what, mb(need));
    return NULL;
  }
  *(uint64_t *)raw = need;
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
  uint64_t need = *(uint64_t *)raw;
  plat_mutex_lock(ctx->budget->mu);
  ctx->budget->used -= need;
  plat_mutex_unlock(ctx->budget->mu);
  free(raw);
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
