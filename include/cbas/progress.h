/* progress.h — a progress bar on stderr for long loops.
 *
 *   progress *p = progress_start(ctx, "decode", n_items);
 *   ... progress_add(p, 1) from any thread ...
 *   progress_end(p);
 *
 * Draws "label [#####     ]  42% 101/240" on stderr, redrawn at most 10 times a second, only
 * when ctx->progress is set (cli sets it when stderr is a terminal and --quiet is absent);
 * otherwise progress_start returns NULL and the other calls do nothing (NULL is accepted).
 * Thread-safe: progress_add may be called concurrently. Memory: one small malloc per bar.
 */
#ifndef CBAS_PROGRESS_H
#define CBAS_PROGRESS_H
#include "cbas/ctx.h"

typedef struct progress progress;
progress *progress_start(cbas_ctx *ctx, const char *label, uint64_t total);
void progress_add(progress *p, uint64_t n);
/* Draws the final state, ends the line and frees p. */
void progress_end(progress *p);
#endif
