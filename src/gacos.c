/* gacos.c — GACOS delays resampled as LiCSBAS step 03 does (see include/cbas/gacos.h). */
#include "cbas/gacos.h"
#include <math.h>

lb_range gacos_u_window(const gacos_grid *g, lb_range w) {
  lb_range u = w;
  if (u.x0 > 0) u.x0--;
  if (u.y0 > 0) u.y0--;
  if (u.x1 < g->width) u.x1++;
  if (u.y1 < g->length) u.y1++;
  return u;
}

double gacos_bspline(double x) {
  double xp2 = x + 2.0, xp1 = x + 1.0, xm1 = x - 1.0;
  double a = xp2 > 0 ? xp2 * xp2 * xp2 : 0, b = xp1 > 0 ? xp1 * xp1 * xp1 : 0, c = x > 0 ? x * x * x : 0,
         d = xm1 > 0 ? xm1 * xm1 * xm1 : 0;
  return (a - 4.0 * b + 6.0 * c - 4.0 * d) / 6.0;
}

int gacos_sltd(cbas_ctx *ctx, const char *dir, const char *date, const gacos_grid *g, lb_range win,
               const float *u, double wavelength_m, int fillhole, float *out, int *available) {
  (void)dir; (void)g; (void)win; (void)u; (void)wavelength_m; (void)fillhole; (void)out;
  *available = 0;
  return ctx_fail(ctx, CBAS_EUNSUP, "GACOS for %s: not implemented yet", date);
}
