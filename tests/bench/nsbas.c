/* tests/bench/nsbas.c — micro-benchmark of the NSBAS inversion core (LiCSBAS step 13).
 *
 * Synthetic frame (default 324 x 216 pixels, 81 epochs, 240 ifgs, 10% of the pixels missing
 * 1-4 random ifgs, 0.5% missing every ifg across one increment). Reports the time per pixel of
 * the batched route (NSBAS_ROUTE_AUTO: one P*d product per pixel, leave-k-out downdates, cached
 * factorisations), of the naive per-pixel refactorisation (NSBAS_ROUTE_EACH, on a subset and
 * extrapolated) and of WLS (subset), the agreement between the routes, and a 2-thread run that
 * must give bitwise the same cum. Not a test: it prints figures and exits 0 unless something
 * is inconsistent. Usage: nsbas [WIDTH HEIGHT [N_EPOCH N_IFG]]
 */
#include "cbas/budget.h"
#include "cbas/nsbas.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double urand(void) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

typedef struct job {
  cbas_ctx *ctx;
  const nsbas_plan *pl;
  nsbas_work *w;          /* one per worker */
  const float *d, *var;
  size_t ld;              /* pixels in the frame */
  int width, rows, row0;
  nsbas_alg alg;
  nsbas_route route;
  float *cum, *vel;       /* frame-sized outputs (plane-major, ld) */
  double *x;              /* optional */
} job;

/* One image row per item, like step 13 would stream it. */
static int do_row(void *ud, long item, int worker) {
  job *j = ud;
  size_t p0 = (size_t)(j->row0 + item) * j->width;
  nsbas_in in = {.n_pix = j->width, .ld = j->ld, .d = j->d + p0, .var = j->var ? j->var + p0 : NULL,
                 .alg = j->alg, .route = j->route, .n_unw_thre = j->pl->n_epoch};
  nsbas_out o = {.ld = j->ld, .cum = j->cum + p0, .vel = j->vel + p0, .x = j->x ? j->x + p0 : NULL};
  return nsbas_invert(j->ctx, &j->w[worker], &in, &o);
}

/* Seconds for the rows: process CPU time (clock(), robust on a loaded machine) for one thread,
 * wall time for several; the best of `reps` runs. */
static double run(cbas_ctx *ctx, job *j, int rows, int reps) {
  double best = 1e30;
  for (int rep = 0; rep < reps; rep++) {
    for (int i = 0; i < 2; i++)   /* route counters of this run only */
      j->w[i].n_skip = j->w[i].n_full = j->w[i].n_downdate = j->w[i].n_factor = j->w[i].n_cached =
          j->w[i].n_each = j->w[i].n_failed = 0;
    double w0 = plat_now();
    clock_t c0 = clock();
    if (ctx->n_threads == 1) {
      for (long r = 0; r < rows; r++) if (do_row(j, r, 0)) return -1;
    } else if (par_for(ctx, rows, do_row, j)) {
      return -1;
    }
    double t = ctx->n_threads == 1 ? (double)(clock() - c0) / CLOCKS_PER_SEC : plat_now() - w0;
    if (t < best) best = t;
  }
  return best;
}

int main(int argc, char **argv) {
  int W = argc > 2 ? atoi(argv[1]) : 324, H = argc > 2 ? atoi(argv[2]) : 216;
  int N = argc > 4 ? atoi(argv[3]) : 81, M_want = argc > 4 ? atoi(argv[4]) : 240;
  cbas_ctx ctx;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (ctx_init(&ctx, (uint64_t)4 << 30, 2)) return 1;
  /* Network: each epoch to its next 3, plus long ifgs (i, i+30) until M_want. */
  int *prim = malloc(sizeof(int) * 2 * M_want), *sec = prim + M_want, M = 0;
  float *t = malloc(sizeof(float) * N);
  for (int i = 0, day = 0; i < N; i++, day += (i % 10 == 0) ? 24 : 12) t[i] = (float)(day / 365.25);
  for (int i = 0; i < N && M < M_want; i++)
    for (int k = 1; k <= 3 && i + k < N && M < M_want; k++) { prim[M] = i; sec[M] = i + k; M++; }
  for (int i = 0; i + 30 < N && M < M_want; i += 20) { prim[M] = i; sec[M] = i + 30; M++; }
  nsbas_net net = {N, M, prim, sec, t};
  size_t npix = (size_t)W * H;
  printf("frame %d x %d = %zu pixels, %d epochs, %d ifgs, gamma 1e-4\n", W, H, npix, N, M);

  double t0 = plat_now();
  nsbas_plan pl;
  size_t pb = nsbas_plan_bytes(N, M);
  void *pm = budget_alloc(&ctx, pb, "nsbas plan");
  if (!pm || nsbas_plan_init(&ctx, &pl, pm, pb, &net, 1e-4)) { fprintf(stderr, "%s\n", ctx.msg); return 1; }
  double t_plan = plat_now() - t0;
  nsbas_work w[2];
  size_t wb = nsbas_work_bytes(&pl);
  void *wmem[2];
  for (int i = 0; i < 2; i++) {
    wmem[i] = budget_alloc(&ctx, wb, "nsbas workspace");
    if (!wmem[i] || nsbas_work_init(&ctx, &w[i], &pl, wmem[i], wb)) { fprintf(stderr, "%s\n", ctx.msg); return 1; }
  }
  printf("plan: %.1f ms, %.2f MB; workspace %.2f MB per thread\n", t_plan * 1e3, pb / 1048576.0, wb / 1048576.0);

  /* Data (mm): velocity field + seasonal term + noise, 10% pixels with 1-4 ifgs missing. */
  float *d = budget_alloc(&ctx, sizeof(float) * M * npix, "data");
  float *var = budget_alloc(&ctx, sizeof(float) * M * npix, "variances");
  float *cum1 = budget_alloc(&ctx, sizeof(float) * N * npix, "cum");
  float *cum2 = budget_alloc(&ctx, sizeof(float) * N * npix, "cum 2");
  float *vel = budget_alloc(&ctx, sizeof(float) * npix, "vel");
  if (!d || !var || !cum1 || !cum2 || !vel) { fprintf(stderr, "%s\n", ctx.msg); return 1; }
  long n_missing = 0, n_gap = 0;
  for (size_t p = 0; p < npix; p++) {
    double v = -20 + 40.0 * (p % W) / W, a = 5 * urand();
    for (int k = 0; k < M; k++) {
      double ta = t[prim[k]], tb = t[sec[k]];
      d[(size_t)k * npix + p] = (float)(v * (tb - ta) + a * (sin(6.2832 * tb) - sin(6.2832 * ta)) +
                                        3 * (urand() - 0.5));
      var[(size_t)k * npix + p] = nsbas_coh_to_var(nsbas_cc_to_coh((uint8_t)(40 + 200 * urand())));
    }
    double u = urand();
    if (u < 0.10) {
      int nm = 1 + (int)(urand() * 4);
      for (int i = 0; i < nm; i++) d[(size_t)(urand() * M) * npix + p] = NAN;
      n_missing++;
    } else if (u < 0.105) {
      int j0 = 10 + (int)(urand() * (N - 20));
      for (int k = 0; k < M; k++)
        if (prim[k] <= j0 && sec[k] > j0) d[(size_t)k * npix + p] = NAN;
      n_gap++;
    }
  }
  printf("pixels missing 1-4 ifgs: %ld (%.1f%%), disconnected by a gap: %ld\n", n_missing,
         100.0 * n_missing / npix, n_gap);

  /* Batched route, one thread, all pixels. */
  ctx.n_threads = 1;
  job j = {&ctx, &pl, w, d, NULL, npix, W, H, 0, NSBAS_LS, NSBAS_ROUTE_AUTO, cum1, vel, NULL};
  double ta = run(&ctx, &j, H, 3);
  printf("LS batched (AUTO), 1 thread (CPU time, best of 3): %8.3f s  %7.2f us/pixel  [full %ld, downdate %ld, "
         "factor %ld, cached %ld, skipped %ld, failed %ld]\n", ta, 1e6 * ta / npix, w[0].n_full,
         w[0].n_downdate, w[0].n_factor, w[0].n_cached, w[0].n_skip, w[0].n_failed);

  /* Two threads: bitwise the same cum. */
  ctx.n_threads = 2;
  j.cum = cum2;
  double t2 = run(&ctx, &j, H, 3);
  int same = !memcmp(cum1, cum2, sizeof(float) * N * npix);
  printf("LS batched (AUTO), 2 threads (wall time, best of 3): %8.3f s  %7.2f us/pixel  (cum bitwise equal to 1 thread: %s)\n",
         t2, 1e6 * t2 / npix, same ? "yes" : "NO");

  /* Naive per-pixel refactorisation on a subset of rows (same pixel mix), extrapolated. */
  ctx.n_threads = 1;
  int sub_rows = H < 8 ? H : 8;
  size_t nsub = (size_t)sub_rows * W;
  double *xa = malloc(sizeof(double) * (N + 1) * npix), *xe = malloc(sizeof(double) * (N + 1) * npix);
  job ja = j, je = j;
  ja.rows = je.rows = sub_rows;
  ja.cum = cum1; je.cum = cum2;
  ja.x = xa; je.x = xe;
  je.route = NSBAS_ROUTE_EACH;
  double tsa = run(&ctx, &ja, sub_rows, 3);
  double tse = run(&ctx, &je, sub_rows, 1);
  double worst = 0;
  for (size_t p = 0; p < nsub; p++) {
    double dm = 0, xm = 0;
    for (int u = 0; u <= N; u++) {
      double a = xa[(size_t)u * npix + p], e = xe[(size_t)u * npix + p];
      if (isnan(a) != isnan(e)) dm = INFINITY;
      else if (!isnan(a)) { dm = fmax(dm, fabs(a - e)); xm = fmax(xm, fabs(e)); }
    }
    if (xm > 0 && dm / xm > worst) worst = dm / xm;
  }
  printf("LS per-pixel QR (EACH), %zu px: %7.2f us/pixel (batched on the same pixels %.2f us/pixel) "
         "-> speed-up %.1fx; full frame would take %.1f s\n", nsub, 1e6 * tse / nsub,
         1e6 * tsa / nsub, tse / tsa, tse / nsub * npix);
  printf("max relative difference batched vs per-pixel solution: %.2e\n", worst);

  /* WLS (always per pixel) on the subset. */
  job jw = je;
  jw.alg = NSBAS_WLS;
  jw.route = NSBAS_ROUTE_AUTO;
  jw.var = var;
  jw.x = NULL;
  double tw = run(&ctx, &jw, sub_rows, 1);
  printf("WLS per pixel, %zu px: %7.2f us/pixel; full frame would take %.1f s\n", nsub,
         1e6 * tw / nsub, tw / nsub * npix);
  printf("budget peak %.1f MB\n", ctx.budget->peak / 1048576.0);
  free(xa); free(xe); free(prim); free(t);
  budget_free(&ctx, d); budget_free(&ctx, var); budget_free(&ctx, cum1); budget_free(&ctx, cum2);
  budget_free(&ctx, vel); budget_free(&ctx, pm);
  for (int i = 0; i < 2; i++) budget_free(&ctx, wmem[i]);
  int ok = same && worst < 1e-8;
  ctx_free(&ctx);
  return ok ? 0 : 1;
}
