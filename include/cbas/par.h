/* par.h — deterministic parallel loops over the run's threads.
 *
 * par_for(ctx, n_items, fn, ud) calls fn(ud, item, worker) for item = 0..n_items-1 on
 * ctx->n_threads workers (worker in [0, n_threads)). Items are handed out dynamically, so fn
 * must write only item-owned output (or per-worker scratch) for results to be independent of
 * the thread count. Stops handing out items once fn returns non-zero or ctx has an error;
 * returns the first non-zero return value, or ctx->status.
 */
#ifndef CBAS_PAR_H
#define CBAS_PAR_H
#include "cbas/ctx.h"
typedef int (*par_fn)(void *ud, long item, int worker);
int par_for(cbas_ctx *ctx, long n_items, par_fn fn, void *ud);
#endif
