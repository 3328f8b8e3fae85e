/* ctx.c — run context and error recording (see include/cbas/ctx.h). */
#include "cbas/ctx.h"
#include "cbas/budget.h"
#include "cbas/plat.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ctx_init(cbas_ctx *ctx, uint64_t budget_bytes, int n_threads) {
  memset(ctx, 0, sizeof *ctx);
  ctx->n_threads = n_threads > 0 ? n_threads : plat_ncores();
  if (plat_mutex_new(&ctx->mu)) return CBAS_ENOMEM;
  ctx->budget = malloc(sizeof *ctx->budget);
  if (!ctx->budget || budget_init(ctx->budget, budget_bytes)) {
    free(ctx->budget);
    ctx->budget = NULL;
    snprintf(ctx->msg, sizeof ctx->msg, "out of memory initialising the run");
    return ctx->status = CBAS_ENOMEM;
  }
  return 0;
}
void ctx_free(cbas_ctx *ctx) {
  if (ctx->budget) { budget_destroy(ctx->budget); free(ctx->budget); }
  plat_mutex_free(ctx->mu);
  ctx->budget = NULL;
  ctx->mu = NULL;
}
int ctx_fail(cbas_ctx *ctx, cbas_status st, const char *fmt, ...) {
  if (ctx->mu) plat_mutex_lock(ctx->mu);
  if (ctx->status == CBAS_OK) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    ctx->status = st;
  }
  if (ctx->mu) plat_mutex_unlock(ctx->mu);
  return st;
}
void ctx_clear_error(cbas_ctx *ctx) {
  ctx->status = CBAS_OK;
  ctx->msg[0] = 0;
}
void ctx_info(cbas_ctx *ctx, const char *fmt, ...) {
  if (ctx->quiet) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}
