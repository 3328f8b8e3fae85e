/* par.c — deterministic parallel loops (see include/cbas/par.h). */
#include "cbas/par.h"
#include "cbas/plat.h"
#include <stdlib.h>

typedef struct {
  cbas_ctx *ctx;
  par_fn fn;
  void *ud;
  long n, next;
  int rc;
  plat_mutex *mu;
} par_job;
typedef struct { par_job *job; int worker; } par_arg;

static void *par_worker(void *p) {
  par_arg *a = p;
  par_job *j = a->job;
  for (;;) {
    plat_mutex_lock(j->mu);
    long it = (j->rc || j->ctx->status) ? j->n : j->next++;
    plat_mutex_unlock(j->mu);
    if (it >= j->n) break;
    int r = j->fn(j->ud, it, a->worker);
    if (r) {
      plat_mutex_lock(j->mu);
      if (!j->rc) j->rc = r;
      plat_mutex_unlock(j->mu);
    }
  }
  return NULL;
}

int par_for(cbas_ctx *ctx, long n_items, par_fn fn, void *ud) {
  int nt = ctx->n_threads < 1 ? 1 : ctx->n_threads;
  if (nt > n_items) nt = n_items < 1 ? 1 : (int)n_items;
  par_job j = {ctx, fn, ud, n_items, 0, 0, NULL};
  if (nt == 1) {
    for (long i = 0; i < n_items && !j.rc && !ctx->status; i++) j.rc = fn(ud, i, 0);
    return j.rc ? j.rc : (int)ctx->status;
  }
  if (plat_mutex_new(&j.mu)) return ctx_fail(ctx, CBAS_ENOMEM, "cannot create a mutex");
  plat_thread *th[256];
  par_arg args[256];
  if (nt > 256) nt = 256;
  int started = 0;
  for (int w = 1; w < nt; w++) {
    args[w].job = &j;
    args[w].worker = w;
    if (plat_thread_start(&th[w], par_worker, &args[w])) break;
    started = w;
  }
  args[0].job = &j;
  args[0].worker = 0;
  par_worker(&args[0]);
  for (int w = 1; w <= started; w++) plat_thread_join(th[w]);
  plat_mutex_free(j.mu);
  return j.rc ? j.rc : (int)ctx->status;
}
