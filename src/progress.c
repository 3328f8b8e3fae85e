/* progress.c — progress bar on stderr (see include/cbas/progress.h). */
#include "cbas/progress.h"
#include "cbas/plat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct progress {
  plat_mutex *mu;
  char label[32];
  uint64_t total, done;
  double last_draw;
};

static void draw(progress *p) {
  enum { BAR = 30 };
  char bar[BAR + 1];
  uint64_t t = p->total ? p->total : 1;
  int fill = (int)(p->done >= t ? BAR : p->done * BAR / t);
  memset(bar, '#', (size_t)fill);
  memset(bar + fill, ' ', (size_t)(BAR - fill));
  bar[BAR] = 0;
  fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu", p->label, bar, (int)(p->done >= t ? 100 : p->done * 100 / t),
          (unsigned long long)p->done, (unsigned long long)p->total);
  fflush(stderr);
}

progress *progress_start(cbas_ctx *ctx, const char *label, uint64_t total) {
  if (!ctx->progress) return NULL;
  progress *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  if (plat_mutex_new(&p->mu)) { free(p); return NULL; }
  snprintf(p->label, sizeof p->label, "%s", label);
  p->total = total;
  p->last_draw = plat_now();
  draw(p);
  return p;
}
void progress_add(progress *p, uint64_t n) {
  if (!p) return;
  plat_mutex_lock(p->mu);
  p->done += n;
  double now = plat_now();
  if (now - p->last_draw >= 0.1) { p->last_draw = now; draw(p); }
  plat_mutex_unlock(p->mu);
}
void progress_end(progress *p) {
  if (!p) return;
  draw(p);
  fputc('\n', stderr);
  plat_mutex_free(p->mu);
  free(p);
}
