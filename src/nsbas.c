/* nsbas.c — NSBAS inversion of LiCSBAS step 13 for blocks of pixels, and the helpers of steps
 * 13-14 (network statistics, residuals, cumsum with gap masking, velocity fits, bootstrap vstd
 * with our own MT19937, STC). Contract and layouts: include/cbas/nsbas.h.
 *
 * Numerics of the LS routes (all double; agreement with a per-pixel QR solve is checked in
 * tests/unit/test_nsbas.c):
 *  FULL      x = P d with P = A^+ (SB columns), computed once from a pivoted QR of A whose full
 *            column rank is certified (la_ls_factor). Forward error ~ cond(A) u, the same order
 *            as any backward-stable per-pixel solve (cond(A) ~ 1e4..1e6 for gamma = 1e-4).
 *  DOWNDATE  removing the k missing rows S from the full problem (data of S taken as 0):
 *            x = x0 - P_S K^-1 e_S, K = I - H_SS, H_SS = Q_S Q_S^T, e_S = -(A_S x0).
 *            K is SPD iff the reduced matrix keeps full rank. It is formed from the rows of Q
 *            (error ~ u, independent of cond(A)); Cholesky failure or ||K^-1|| > 1e4
 *            (bounded by ||L^-1||_F^2) sends the pixel to FACTOR, so the downdate never
 *            amplifies errors by more than 1e4 — this catches the pixels whose valid ifgs leave
 *            the network disconnected (K then has eigenvalues ~ gamma^2).
 *  FACTOR    the reduced system [G_valid; gamma B] is factored by la_ls_factor (QRP; SVD and
 *            dgelsd's rank rule when not certified full rank) and kept in a small per-workspace
 *            cache keyed by the validity mask (CACHED = a later pixel with the same mask).
 * Pixels are independent and the arithmetic of each depends only on its own data, so results
 * are bitwise independent of block/tile/thread splits (no FMA contraction: -std=c11 implies
 * -ffp-contract=off with GCC).
 */
#include "cbas/nsbas.h"
#include <float.h>
#include <math.h>
#include <string.h>

#define T_ NSBAS_TILE
#define KCOND_MAX 1e4
#define PI_ 3.14159265358979323846     /* largest ||(I - H_SS)^-1|| bound accepted by the downdate */

/* ---- memory carving --------------------------------------------------------------------------- */

typedef struct { char *p; size_t used, cap; } carve;
static void *take(carve *c, size_t bytes) {
  size_t off = (c->used + 63) & ~(size_t)63;
  c->used = off + bytes;
  if (!c->p || c->used > c->cap) return NULL;
  return c->p + off;
}

/* ---- plan ----------------------------------------------------------------------------------- */

size_t nsbas_plan_bytes(int n_epoch, int n_ifg) {
  if (n_epoch < 2 || n_ifg < 1) return 0;
  size_t U = (size_t)n_epoch + 1, R = (size_t)n_ifg + n_epoch, M = (size_t)n_ifg;
  carve c = {0};
  take(&c, 2 * M * sizeof(int));
  take(&c, (size_t)n_epoch * sizeof(float));
  take(&c, R * U * 8);                                 /* a */
  take(&c, U * M * 8);                                 /* pinv */
  take(&c, U * M * 8);                                 /* qsb */
  take(&c, R * U * 8);                                 /* scratch: factors */
  take(&c, R * U * 8);                                 /* scratch: thin Q */
  take(&c, la_ls_work((int)R, (int)U) * 8);
  take(&c, la_ls_solve_tmp((int)R, (int)U) * 8);
  take(&c, (R > U ? R : U) * 8);                       /* scratch: rhs */
  take(&c, U * sizeof(int));
  return c.used + 64;
}

int nsbas_plan_init(cbas_ctx *ctx, nsbas_plan *pl, void *mem, size_t mem_bytes,
                    const nsbas_net *net, double gamma) {
  memset(pl, 0, sizeof *pl);
  int N = net->n_epoch, M = net->n_ifg;
  if (N < 2) return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: n_epoch = %d, need at least 2 epochs", N);
  if (M < 1) return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: no interferogram to invert");
  if (!(gamma > 0) || !isfinite(gamma))
    return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: gamma = %g, must be positive", gamma);
  for (int i = 0; i < N; i++) {
    if (!isfinite(net->t_yr[i]))
      return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: epoch %d: time is not finite", i);
    if (i > 0 && !(net->t_yr[i] > net->t_yr[i - 1]))
      return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: epoch %d: time %.9g is not after epoch %d (%.9g)",
                      i, net->t_yr[i], i - 1, net->t_yr[i - 1]);
  }
  for (int k = 0; k < M; k++) {
    int a = net->ifg_prim[k], b = net->ifg_sec[k];
    if (a < 0 || b >= N || a >= b)
      return ctx_fail(ctx, CBAS_EUSAGE,
                      "nsbas: ifg %d: epochs %d_%d invalid (need 0 <= primary < secondary < %d)",
                      k, a, b, N);
  }
  size_t need = nsbas_plan_bytes(N, M);
  if (!mem || mem_bytes < need)
    return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: plan needs %zu bytes, got %zu", need, mem_bytes);
  int U = N + 1, R = M + N;
  carve c = {mem, 0, mem_bytes};
  pl->n_epoch = N; pl->n_ifg = M; pl->n_unk = U; pl->n_row = R;
  pl->prim = take(&c, 2 * (size_t)M * sizeof(int));
  pl->sec = pl->prim + M;
  pl->t_yr = take(&c, (size_t)N * sizeof(float));
  pl->a = take(&c, (size_t)R * U * 8);
  pl->pinv = take(&c, (size_t)U * M * 8);
  pl->qsb = take(&c, (size_t)U * M * 8);
  double *fa = take(&c, (size_t)R * U * 8), *q = take(&c, (size_t)R * U * 8);
  double *lw = take(&c, la_ls_work(R, U) * 8), *tmp = take(&c, la_ls_solve_tmp(R, U) * 8);
  double *rhs = take(&c, (size_t)(R > U ? R : U) * 8);
  int *iw = take(&c, (size_t)U * sizeof(int));
  memcpy(pl->prim, net->ifg_prim, (size_t)M * sizeof(int));
  memcpy(pl->sec, net->ifg_sec, (size_t)M * sizeof(int));
  memcpy(pl->t_yr, net->t_yr, (size_t)N * sizeof(float));

  /* The stacked matrix with LiCSBAS's float32 entries (Gall = float32([Gt; Gb])). */
  float g32 = (float)gamma;
  pl->gamma32 = g32;
  double *a = pl->a;
  memset(a, 0, (size_t)R * U * 8);
  for (int k = 0; k < M; k++)
    for (int j = pl->prim[k]; j < pl->sec[k]; j++) a[k + (size_t)j * R] = 1.0;
  for (int i = 0; i < N; i++) {
    size_t r = (size_t)M + i;
    for (int j = 0; j < i; j++) a[r + (size_t)j * R] = g32;
    float tv = -pl->t_yr[i] * g32;                       /* float32 product, as NumPy */
    a[r + (size_t)(N - 1) * R] = tv;
    a[r + (size_t)N * R] = -g32;
  }

  /* One pivoted QR: P = A^+ restricted to the SB rows (solves for unit vectors) and the SB
   * rows of the thin Q (the hat matrix H = Q Q^T is invariant under column pivoting). */
  memcpy(fa, a, (size_t)R * U * 8);
  la_ls f;
  int st = la_ls_factor(&f, R, U, fa, R, -1, lw, iw);
  if (st) return ctx_fail(ctx, CBAS_EINTERNAL, "nsbas: factorisation of the network failed (%d)", st);
  pl->batched = !f.use_svd && f.rank == U;
  if (!pl->batched) return 0;   /* rank-deficient by dgelsd's rule: per-pixel solves only */
  for (int k = 0; k < M; k++) {
    memset(rhs, 0, (size_t)R * 8);
    rhs[k] = 1;
    la_ls_solve(&f, 1, rhs, R, tmp);
    memcpy(pl->pinv + (size_t)k * U, rhs, (size_t)U * 8);
  }
  la_qr_form_q(R, U, fa, R, f.tau, q, R);
  for (int k = 0; k < M; k++)
    for (int u = 0; u < U; u++) pl->qsb[u + (size_t)k * U] = q[k + (size_t)u * R];
  return 0;
}

/* ---- workspace -------------------------------------------------------------------------------- */

static void work_layout(const nsbas_plan *pl, nsbas_work *w, carve *c) {
  int M = pl->n_ifg, N = pl->n_epoch, U = pl->n_unk, R = pl->n_row;
  int K = U < M ? U : M;
  int words = (M + 63) / 64;
  size_t lsw = la_lstsq_work(R, U), lw = la_ls_work(R, U);
  w->pl = pl;
  w->kmax = K;
  w->words = words;
  w->dtile = take(c, (size_t)M * T_ * 8);
  w->xtile = take(c, (size_t)U * T_ * 8);
  w->sa = take(c, (size_t)R * U * 8);
  w->sb = take(c, (size_t)(R > U ? R : U) * 8);
  w->sw = take(c, lsw * 8);
  w->siw = take(c, (size_t)U * sizeof(int));
  w->kk = take(c, (size_t)K * K * 8);
  w->ki = take(c, (size_t)K * 8);
  w->ke = take(c, (size_t)K * 8);
  w->miss = take(c, (size_t)M * sizeof(int));
  w->valid = take(c, (size_t)M);
  w->cover = take(c, (size_t)(N + 1) * sizeof(int));
  w->full_cover = take(c, (size_t)(N + 1) * sizeof(int));
  w->inloop = take(c, (size_t)M);
  w->incf = take(c, (size_t)N * sizeof(float));
  w->xs = take(c, (size_t)U * 8);
  w->key = take(c, (size_t)words * 8);
  for (int i = 0; i < NSBAS_CACHE; i++) {
    w->cache[i].mask = take(c, (size_t)words * 8);
    w->cache[i].a = take(c, (size_t)R * U * 8);
    w->cache[i].w = take(c, (lw + la_ls_solve_tmp(R, U)) * 8);
    w->cache[i].iw = take(c, (size_t)U * sizeof(int));
    w->cache[i].used = 0;
  }
}

size_t nsbas_work_bytes(const nsbas_plan *pl) {
  nsbas_work w;
  carve c = {0};
  work_layout(pl, &w, &c);
  return c.used + 64;
}

int nsbas_work_init(cbas_ctx *ctx, nsbas_work *w, const nsbas_plan *pl, void *mem,
                    size_t mem_bytes) {
  memset(w, 0, sizeof *w);
  size_t need = nsbas_work_bytes(pl);
  if (!mem || mem_bytes < need)
    return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: workspace needs %zu bytes, got %zu", need, mem_bytes);
  carve c = {mem, 0, mem_bytes};
  work_layout(pl, w, &c);
  return 0;
}

/* ---- input preparation --------------------------------------------------------------------------- */

void nsbas_unw_to_mm(size_t n, const float *unw_rad, float coef_r2m, float ref_mm, float *out) {
  for (size_t i = 0; i < n; i++) {
    float v = unw_rad[i] * coef_r2m;
    out[i] = v == 0 ? NAN : v - ref_mm;
  }
}

float nsbas_cc_to_coh(uint8_t b) { return b == 0 ? NAN : (float)b / 255.0f; }

float nsbas_coh_to_var(float coh) {
  if (isnan(coh) || coh == 0) return NAN;
  if (coh < 0.01f) coh = 0.01f;
  if (coh > 0.99f) coh = 0.99f;
  float c2 = coh * coh;
  return (1.0f - c2) / (2.0f * c2);
}

/* ---- the inversion ---------------------------------------------------------------------------- */

/* X (U x T) = P (U x M, column-major) * D (M x T, row k at D[k*T]). Each output element is the
 * sequential sum over k of P*D, whatever the row blocking, so pixels never see their tile. */
static void gemm_tile(int U, int M, const double *P, const double *D, double *X) {
  int r = 0;
  for (; r + 2 <= U; r += 2) {            /* 2 x TILE accumulators stay in registers */
    double a0[T_] = {0}, a1[T_] = {0};
    for (int k = 0; k < M; k++) {
      const double *pk = P + (size_t)k * U + r, *dk = D + (size_t)k * T_;
      double p0 = pk[0], p1 = pk[1];
#pragma GCC unroll 8
      for (int t = 0; t < T_; t++) {
        a0[t] += p0 * dk[t];
        a1[t] += p1 * dk[t];
      }
    }
    memcpy(X + (size_t)r * T_, a0, sizeof a0);
    memcpy(X + (size_t)(r + 1) * T_, a1, sizeof a1);
  }
  if (r < U) {
    double a0[T_] = {0};
    for (int k = 0; k < M; k++) {
      double p0 = P[(size_t)k * U + r];
      const double *dk = D + (size_t)k * T_;
      for (int t = 0; t < T_; t++) a0[t] += p0 * dk[t];
    }
    memcpy(X + (size_t)r * T_, a0, sizeof a0);
  }
}

/* Exact leave-k-out downdate of the full solution x0 (stride xs) for the missing rows miss[0..k).
 * Returns 1 with x filled, or 0 if K = I - H_SS is not safely positive definite. */
static int downdate(nsbas_work *w, int k, const double *x0, size_t xs, double *x) {
  const nsbas_plan *pl = w->pl;
  int U = pl->n_unk;
  double *K = w->kk, *e = w->ke, *col = w->ki;
  for (int i = 0; i < k; i++) {
    int si = w->miss[i];
    const double *qi = pl->qsb + (size_t)si * U;
    for (int j = 0; j <= i; j++) {
      const double *qj = pl->qsb + (size_t)w->miss[j] * U;
      double s = 0;
      for (int u = 0; u < U; u++) s += qi[u] * qj[u];
      K[i + (size_t)j * k] = (i == j) - s;
    }
    double s = 0;
    for (int j = pl->prim[si]; j < pl->sec[si]; j++) s += x0[(size_t)j * xs];
    e[i] = -s;
  }
  if (la_chol(k, K, k)) return 0;
  double fro2 = 0;                                   /* ||L^-1||_F^2 >= ||K^-1||_2 */
  for (int c = 0; c < k; c++) {
    memset(col, 0, (size_t)k * 8);
    col[c] = 1;
    for (int j = c; j < k; j++) {                    /* forward substitution from row c */
      col[j] /= K[j + (size_t)j * k];
      double t = col[j];
      for (int i = j + 1; i < k; i++) col[i] -= t * K[i + (size_t)j * k];
      fro2 += t * t;
    }
    if (!(fro2 <= KCOND_MAX)) return 0;
  }
  la_chol_solve(k, 1, K, k, e, k);
  for (int u = 0; u < U; u++) x[u] = x0[(size_t)u * xs];
  for (int i = 0; i < k; i++) {
    const double *pc = pl->pinv + (size_t)w->miss[i] * U;
    double z = e[i];
    for (int u = 0; u < U; u++) x[u] -= pc[u] * z;
  }
  return 1;
}

/* Builds the pixel's reduced (and for WLS weighted) system in a (ld R) and rhs b; returns its
 * number of rows. LiCSBAS's row order: valid SB rows, then the N constraint rows. */
static int build_reduced(const nsbas_work *w, const nsbas_in *in, int p, double *a, double *b) {
  const nsbas_plan *pl = w->pl;
  int M = pl->n_ifg, N = pl->n_epoch, U = pl->n_unk, R = pl->n_row;
  int m = 0;
  const int wls = in->alg == NSBAS_WLS;
  for (int k = 0; k < M + N; k++) {
    double d = 0, sd = 1;
    if (k < M) {
      if (!w->valid[k]) continue;
      d = in->d[(size_t)k * in->ld + p];
      if (wls) sd = sqrt((double)in->var[(size_t)k * in->ld + p]);
    } else if (wls) {
      sd = sqrt(50.0);
    }
    for (int u = 0; u < U; u++) {
      double v = pl->a[k + (size_t)u * R];
      a[m + (size_t)u * R] = wls ? v / sd : v;
    }
    b[m] = wls ? d / sd : d;
    m++;
  }
  return m;
}

static void mask_of(const nsbas_work *w, uint64_t *mask) {
  int M = w->pl->n_ifg;
  memset(mask, 0, (size_t)w->words * 8);
  for (int k = 0; k < M; k++)
    if (w->valid[k]) mask[k >> 6] |= 1ull << (k & 63);
}

/* FACTOR / CACHED route (LS): returns the route, x filled, or NSBAS_R_FAILED. */
static int solve_cached(nsbas_work *w, const nsbas_in *in, int p, double *x) {
  const nsbas_plan *pl = w->pl;
  int U = pl->n_unk, R = pl->n_row, words = w->words;
  uint64_t *key = w->key;
  mask_of(w, key);
  struct nsbas_cache *hit = NULL;
  for (int i = 0; i < NSBAS_CACHE; i++)
    if (w->cache[i].used && !memcmp(w->cache[i].mask, key, (size_t)words * 8)) hit = &w->cache[i];
  int route = NSBAS_R_CACHED;
  if (!hit) {
    hit = &w->cache[w->cache_next];
    w->cache_next = (w->cache_next + 1) % NSBAS_CACHE;
    hit->used = 0;
    int m = build_reduced(w, in, p, hit->a, w->sb);
    if (la_ls_factor(&hit->f, m, U, hit->a, R, -1, hit->w, hit->iw)) return NSBAS_R_FAILED;
    memcpy(hit->mask, key, (size_t)words * 8);
    hit->used = 1;
    route = NSBAS_R_FACTOR;
  }
  int m = 0;
  for (int k = 0; k < pl->n_ifg; k++)
    if (w->valid[k]) w->sb[m++] = in->d[(size_t)k * in->ld + p];
  for (int i = 0; i < m; i++)
    if (!isfinite(w->sb[i])) return NSBAS_R_FAILED;
  for (int i = 0; i < pl->n_epoch; i++) w->sb[m++] = 0;
  la_ls_solve(&hit->f, 1, w->sb, R > U ? R : U, hit->w + la_ls_work(R, U));
  memcpy(x, w->sb, (size_t)U * 8);
  return route;
}

/* EACH route and WLS: factor the pixel's own system. */
static int solve_each(nsbas_work *w, const nsbas_in *in, int p, double *x) {
  const nsbas_plan *pl = w->pl;
  int U = pl->n_unk, R = pl->n_row;
  int m = build_reduced(w, in, p, w->sa, w->sb);
  if (la_lstsq(m, U, 1, w->sa, R, w->sb, R > U ? R : U, -1, w->sw, w->siw, NULL))
    return NSBAS_R_FAILED;
  memcpy(x, w->sb, (size_t)U * 8);
  return NSBAS_R_EACH;
}

static void put_nan_pixel(const nsbas_plan *pl, nsbas_out *o, int p) {
  int N = pl->n_epoch, M = pl->n_ifg;
  size_t ld = o->ld;
  if (o->cum) for (int i = 0; i < N; i++) o->cum[(size_t)i * ld + p] = NAN;
  if (o->inc) for (int i = 0; i < N - 1; i++) o->inc[(size_t)i * ld + p] = NAN;
  if (o->gap) for (int i = 0; i < N - 1; i++) o->gap[(size_t)i * ld + p] = 0;
  if (o->resid) for (int k = 0; k < M; k++) o->resid[(size_t)k * ld + p] = NAN;
  if (o->x) for (int u = 0; u < pl->n_unk; u++) o->x[(size_t)u * ld + p] = NAN;
  if (o->vel) o->vel[p] = NAN;
  if (o->vintercept) o->vintercept[p] = NAN;
  if (o->resid_rms) o->resid_rms[p] = NAN;
  if (o->n_gap) o->n_gap[p] = NAN;
  if (o->maxTlen) o->maxTlen[p] = NAN;
  if (o->n_ifg_noloop) o->n_ifg_noloop[p] = NAN;
}

/* Network statistics of §7.4 for an inverted pixel; leaves gap flags in w->cover[j] (1 = gap).
 * They depend only on which ifgs are valid: for a pixel with all of them (full) they are
 * computed once per nsbas_invert call, then copied. */
static void pixel_stats(nsbas_work *w, const nsbas_in *in, nsbas_out *o, int p, int full) {
  const nsbas_plan *pl = w->pl;
  int N = pl->n_epoch, M = pl->n_ifg;
  int *cov = w->cover;
  if (full && w->full_ok) {
    memcpy(cov, w->full_cover, (size_t)(N + 1) * sizeof *cov);
    if (o->gap)
      for (int j = 0; j < N - 1; j++) o->gap[(size_t)j * o->ld + p] = (int8_t)cov[j];
    if (o->n_gap) o->n_gap[p] = w->full_ngap;
    if (o->maxTlen) o->maxTlen[p] = w->full_maxt;
    if (o->n_ifg_noloop) o->n_ifg_noloop[p] = w->full_noloop;
    return;
  }
  memset(cov, 0, (size_t)(N + 1) * sizeof *cov);
  for (int k = 0; k < M; k++)
    if (w->valid[k]) { cov[pl->prim[k]]++; cov[pl->sec[k]]--; }
  int run = 0, n_gap = 0;
  float tlen = 0, maxt = 0;
  for (int j = 0; j < N - 1; j++) {
    run += cov[j];
    int g = run == 0;
    cov[j] = g;
    n_gap += g;
    tlen = tlen + (pl->t_yr[j + 1] - pl->t_yr[j]);
    if (g) tlen = 0;
    if (maxt < tlen) maxt = tlen;
    if (o->gap) o->gap[(size_t)j * o->ld + p] = (int8_t)g;
  }
  if (o->n_gap) o->n_gap[p] = (float)n_gap;
  if (o->maxTlen) o->maxTlen[p] = maxt;
  float noloop = NAN;
  if (o->n_ifg_noloop || full) {
    memset(w->inloop, 0, (size_t)M);
    for (int l = 0; l < in->n_loop; l++) {
      const int *t = in->loop_ifg + 3 * (size_t)l;
      if (w->valid[t[0]] && w->valid[t[1]] && w->valid[t[2]])
        w->inloop[t[0]] = w->inloop[t[1]] = w->inloop[t[2]] = 1;
    }
    int c = 0;
    for (int k = 0; k < M; k++) c += w->valid[k] && !w->inloop[k];
    noloop = (float)c;
    if (o->n_ifg_noloop) o->n_ifg_noloop[p] = noloop;
  }
  if (full) {
    memcpy(w->full_cover, cov, (size_t)(N + 1) * sizeof *cov);
    w->full_ngap = (float)n_gap;
    w->full_maxt = maxt;
    w->full_noloop = noloop;
    w->full_ok = 1;
  }
}

/* LiCSBAS13 post-processing of one inverted pixel (x == NULL: the solve failed). */
static void pixel_post(nsbas_work *w, const nsbas_in *in, nsbas_out *o, int p, const double *x,
                       int n_valid) {
  const nsbas_plan *pl = w->pl;
  int N = pl->n_epoch, M = pl->n_ifg, U = pl->n_unk;
  size_t ld = o->ld;
  float *inc = w->incf;
  for (int j = 0; j < N - 1; j++) inc[j] = x ? (float)x[j] : NAN;
  if (o->x)
    for (int u = 0; u < U; u++) o->x[(size_t)u * ld + p] = x ? x[u] : NAN;
  if (o->inc)
    for (int j = 0; j < N - 1; j++) o->inc[(size_t)j * ld + p] = inc[j];
  if (o->vel) o->vel[p] = x ? (float)x[N - 1] : NAN;
  if (o->vintercept) o->vintercept[p] = x ? (float)x[N] : NAN;
  if (o->cum) {
    float *c = o->cum;
    float s = inc[0];
    c[ld + p] = s;
    c[p] = isnan(s) ? NAN : 0.0f;
    for (int i = 2; i < N; i++) {
      s = s + inc[i - 1];                              /* sequential float32 cumsum */
      c[(size_t)i * ld + p] = s;
    }
    const int *gap = w->cover;                         /* gap flags from pixel_stats */
    for (int i = 0; i < N - 2; i++)
      if (gap[i] && gap[i + 1]) c[(size_t)(i + 1) * ld + p] = NAN;
    if (gap[N - 2]) c[(size_t)(N - 1) * ld + p] = NAN;
  }
  if (o->resid || o->resid_rms) {
    float ss = 0;
    int nr = 0;
    for (int k = 0; k < M; k++) {
      float r = NAN;
      if (w->valid[k]) {
        float s = 0;
        for (int j = pl->prim[k]; j < pl->sec[k]; j++) s = s + inc[j];
        r = in->d[(size_t)k * in->ld + p] - s;
      }
      if (o->resid) o->resid[(size_t)k * ld + p] = r;
      if (!isnan(r)) { ss = ss + r * r; nr++; }
    }
    (void)n_valid;
    if (o->resid_rms) o->resid_rms[p] = nr ? sqrtf(ss / (float)nr) : NAN;
  }
}

int nsbas_invert(cbas_ctx *ctx, nsbas_work *w, const nsbas_in *in, nsbas_out *o) {
  const nsbas_plan *pl = w->pl;
  int M = pl->n_ifg, U = pl->n_unk;
  if (in->n_pix < 0 || (size_t)in->n_pix > in->ld || (size_t)in->n_pix > o->ld || !in->d)
    return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: block of %d pixels with plane strides %zu/%zu",
                    in->n_pix, in->ld, o->ld);
  if (in->alg == NSBAS_WLS && !in->var)
    return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: WLS inversion needs the variances");
  if (o->n_ifg_noloop && in->n_loop > 0) {
    for (int l = 0; l < 3 * in->n_loop; l++)
      if (in->loop_ifg[l] < 0 || in->loop_ifg[l] >= M)
        return ctx_fail(ctx, CBAS_EUSAGE, "nsbas: loop %d names ifg %d of %d", l / 3,
                        in->loop_ifg[l], M);
  }
  w->full_ok = 0; /* the full-pixel statistics are recomputed for every call's loop list */
  const int batched = in->alg == NSBAS_LS && in->route == NSBAS_ROUTE_AUTO && pl->batched;
  double *x = w->xs;
  for (int p0 = 0; p0 < in->n_pix; p0 += T_) {
    int np = in->n_pix - p0 < T_ ? in->n_pix - p0 : T_;
    if (batched) {
      for (int k = 0; k < M; k++) {
        const float *dk = in->d + (size_t)k * in->ld + p0;
        double *row = w->dtile + (size_t)k * T_;
        for (int t = 0; t < T_; t++) {
          float v = t < np ? dk[t] : 0.0f;
          row[t] = isnan(v) ? 0.0 : (double)v;
        }
      }
      gemm_tile(U, M, pl->pinv, w->dtile, w->xtile);
    }
    for (int t = 0; t < np; t++) {
      int p = p0 + t, nv = 0, nmiss = 0;
      for (int k = 0; k < M; k++) {
        int v = !isnan(in->d[(size_t)k * in->ld + p]);
        w->valid[k] = (uint8_t)v;
        nv += v;
        if (!v) w->miss[nmiss++] = k;
      }
      if (o->n_unw) o->n_unw[p] = (float)nv;
      int route;
      if (nv <= in->n_unw_thre) {
        put_nan_pixel(pl, o, p);
        route = NSBAS_R_SKIP;
      } else {
        pixel_stats(w, in, o, p, nmiss == 0);
        if (!batched) {
          route = solve_each(w, in, p, x);
        } else if (nmiss == 0) {
          for (int u = 0; u < U; u++) x[u] = w->xtile[(size_t)u * T_ + t];
          route = NSBAS_R_FULL;
        } else if (nmiss <= w->kmax && downdate(w, nmiss, w->xtile + t, T_, x)) {
          route = NSBAS_R_DOWNDATE;
        } else {
          route = solve_cached(w, in, p, x);
        }
        if (route != NSBAS_R_FAILED)
          for (int u = 0; u < U; u++)
            if (!isfinite(x[u])) route = NSBAS_R_FAILED;
        pixel_post(w, in, o, p, route == NSBAS_R_FAILED ? NULL : x, nv);
      }
      if (o->route) o->route[p] = (uint8_t)route;
      switch (route) {
        case NSBAS_R_SKIP: w->n_skip++; break;
        case NSBAS_R_FULL: w->n_full++; break;
        case NSBAS_R_DOWNDATE: w->n_downdate++; break;
        case NSBAS_R_FACTOR: w->n_factor++; break;
        case NSBAS_R_CACHED: w->n_cached++; break;
        case NSBAS_R_EACH: w->n_each++; break;
        default: w->n_failed++; break;
      }
    }
  }
  return 0;
}

/* ---- velocity fits ------------------------------------------------------------------------------ */

size_t nsbas_vel_work(int n_epoch, int n_par) {
  size_t n = (size_t)(n_epoch > n_par ? n_epoch : n_par);
  return (size_t)n_epoch * n_par + n + la_lstsq_work(n_epoch, n_par);
}

/* NumPy's float32 sin/cos (the SIMD kernel NumPy >= 1.22 uses on CPUs with FMA: AVX2/AVX512
 * x86-64 and every aarch64), so the regressors of calc_velsin are bit-identical: Cody-Waite
 * reduction by pi/2 in three fused steps, then minimax polynomials (max 1.49 ulp vs sinf).
 * Arguments beyond the reduction's range fall back to libm, as NumPy does. */
static float np_sincosf(float x, int want_cos) {
  if (isnan(x)) return NAN;
  if (fabsf(x) > (want_cos ? 71476.0625f : 117435.992f)) return want_cos ? cosf(x) : sinf(x);
  float q = x * 0x1.45f306p-1f;                        /* x * 2/pi, then rint by magic add */
  q = q + 0x1.800000p+23f;
  q = q - 0x1.800000p+23f;
  float r = fmaf(q, -0x1.921fb0p+00f, x);
  r = fmaf(q, -0x1.5110b4p-22f, r);
  r = fmaf(q, -0x1.846988p-48f, r);
  float r2 = r * r;
  float c = fmaf(0x1.98e616p-16f, r2, -0x1.6c06dcp-10f);
  c = fmaf(c, r2, 0x1.55553cp-05f);
  c = fmaf(c, r2, -0x1.000000p-01f);
  c = fmaf(c, r2, 0x1.000000p+00f);
  float s = fmaf(0x1.7d3bbcp-19f, r2, -0x1.a06bbap-13f);
  s = fmaf(s, r2, 0x1.11119ap-07f);
  s = fmaf(s, r2, -0x1.555556p-03f);
  s = fmaf(s, r2, 0.0f);
  s = fmaf(s, r, r);
  int iq = (int)q + (want_cos ? 1 : 0);
  float v = (iq & 1) ? c : s;
  return (iq & 2) ? 0.0f - v : v;
}

void nsbas_vel_fit(int n_epoch, const float *t_yr, const float *cum, size_t stride, int n_par,
                   double *work, float *coef) {
  int m = 0, ld = n_epoch > 0 ? n_epoch : 1;
  double *a = work, *b = work + (size_t)n_epoch * n_par;
  double *lw = b + (n_epoch > n_par ? n_epoch : n_par);
  int iw[4];
  const float w2pi = (float)(2 * PI_);
  for (int i = 0; i < n_epoch; i++) {
    float y = cum[(size_t)i * stride];
    if (isnan(y)) continue;
    a[m] = 1.0;
    a[m + ld] = t_yr[i];
    if (n_par == 4) {
      float ang = w2pi * t_yr[i];                       /* float32, as 2*np.pi*dt_cum */
      a[m + 2 * (size_t)ld] = np_sincosf(ang, 0);
      a[m + 3 * (size_t)ld] = np_sincosf(ang, 1);
    }
    b[m] = y;
    m++;
  }
  if (la_lstsq(m, n_par, 1, a, ld, b, n_epoch > n_par ? n_epoch : n_par, -1, lw, iw, NULL)) {
    for (int i = 0; i < n_par; i++) coef[i] = NAN;
    return;
  }
  for (int i = 0; i < n_par; i++) coef[i] = (float)b[i];
}

void nsbas_sin_amp_dt(float a_s, float a_c, int doy0, float *amp, float *delta_t) {
  float ss = a_s * a_s, cc = a_c * a_c;
  *amp = sqrtf(ss + cc);
  float d = atan2f(-a_c, a_s);
  d = d / 2.0f;
  d = d / (float)PI_;
  d = d * 365.25f;
  d = d + (float)doy0;
  if (d < 0) d = d + 365.25f;
  if (d > 365.25f) d = d - 365.25f;
  *delta_t = d;
}

/* ---- MT19937 and the bootstrap ---------------------------------------------------------------- */

void nsbas_mt_seed(nsbas_mt *s, uint32_t seed) {
  s->mt[0] = seed;
  for (int i = 1; i < 624; i++)
    s->mt[i] = 1812433253u * (s->mt[i - 1] ^ (s->mt[i - 1] >> 30)) + (uint32_t)i;
  s->mti = 624;
}

uint32_t nsbas_mt_u32(nsbas_mt *s) {
  if (s->mti >= 624) {
    for (int i = 0; i < 624; i++) {
      uint32_t y = (s->mt[i] & 0x80000000u) | (s->mt[(i + 1) % 624] & 0x7fffffffu);
      s->mt[i] = s->mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    s->mti = 0;
  }
  uint32_t y = s->mt[s->mti++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

uint32_t nsbas_mt_below(nsbas_mt *s, uint64_t n) {
  uint64_t rng = n - 1;
  if (rng == 0) return 0;                              /* NumPy draws nothing */
  if (rng == 0xffffffffu) return nsbas_mt_u32(s);
  uint32_t mask = (uint32_t)rng;
  mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16;
  uint32_t v;
  while ((v = nsbas_mt_u32(s) & mask) > rng) {
  }
  return v;
}

void nsbas_boot_draws(int n_epoch, int n_boot, int *idx) {
  nsbas_mt s;
  nsbas_mt_seed(&s, 1);
  for (long i = 0; i < (long)n_boot * n_epoch; i++) idx[i] = (int)nsbas_mt_below(&s, (uint64_t)n_epoch);
}

void nsbas_boot_pixel(int n_epoch, const float *t_yr, int n_boot, const int *idx,
                      const float *cum, size_t stride, float *vel_draw, uint8_t *singular) {
  for (int b = 0; b < n_boot; b++) {
    const int *x = idx + (size_t)b * n_epoch;
    /* float32 products summed in draw order, as reference BLAS sgemm forms
     * T = A^T (M A) and rhs = A^T (M y) for A = [1, t] of the drawn epochs. */
    float n = 0, st = 0, stt = 0, sy = 0, sty = 0;
    for (int s = 0; s < n_epoch; s++) {
      int e = x[s];
      float y = cum[(size_t)e * stride];
      if (isnan(y)) continue;
      float t = t_yr[e];
      n = n + 1.0f;
      st = st + t;
      stt = stt + t * t;
      sy = sy + y;
      sty = sty + t * y;
    }
    /* numpy.linalg.solve on float32 = LAPACK dgesv in double: LU with partial pivoting
     * (dgetrf2: l = a10 * (1/a00)), then the two triangular solves. */
    double a00 = n, a01 = st, a10 = st, a11 = stt, b0 = sy, b1 = sty;
    if (fabs(a10) > fabs(a00)) {
      double t0 = a00; a00 = a10; a10 = t0;
      t0 = a01; a01 = a11; a11 = t0;
      t0 = b0; b0 = b1; b1 = t0;
    }
    double l = 0, u11 = 0;
    int sing = a00 == 0;
    if (!sing) {
      l = a10 * (1.0 / a00);
      u11 = a11 - a01 * l;
      sing = u11 == 0;
    }
    singular[b] = (uint8_t)sing;
    vel_draw[b] = sing ? NAN : (float)((b1 - b0 * l) / u11);
  }
}

float nsbas_boot_std(int n_boot, const float *vel_draw, const uint8_t *voided) {
  double s = 0;
  int c = 0;
  for (int b = 0; b < n_boot; b++)
    if (!(voided && voided[b]) && !isnan(vel_draw[b])) { s += vel_draw[b]; c++; }
  if (!c) return NAN;
  double mean = s / c, q = 0;
  for (int b = 0; b < n_boot; b++)
    if (!(voided && voided[b]) && !isnan(vel_draw[b])) {
      double d = vel_draw[b] - mean;
      q += d * d;
    }
  return (float)sqrt(q / c);
}

/* ---- STC ----------------------------------------------------------------------------------------- */

void nsbas_stc_row(int n_epoch, int width, size_t ld, const float *up, const float *row,
                   const float *down, float *stc) {
  static const int dy[8] = {-1, -1, -1, 0, 0, 1, 1, 1}, dx[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
  for (int x = 0; x < width; x++) {
    float best = NAN;
    for (int q = 0; q < 8; q++) {
      const float *nb = dy[q] < 0 ? up : dy[q] > 0 ? down : row;
      int xx = x + dx[q];
      if (!nb || xx < 0 || xx >= width) continue;      /* outside the image: all NaN */
      float ss = 0;
      int n = 0;
      float dprev = nb[xx] - row[x];
      for (int i = 0; i < n_epoch - 1; i++) {
        float dnext = nb[(size_t)(i + 1) * ld + xx] - row[(size_t)(i + 1) * ld + x];
        float dd = dprev - dnext;
        if (!isnan(dd)) { ss = ss + dd * dd; n++; }
        dprev = dnext;
      }
      if (!n) continue;
      float s = sqrtf(ss / (float)n);
      if (s == 0 || isnan(s)) continue;                /* identical series -> NaN */
      if (isnan(best) || s < best) best = s;
    }
    stc[x] = best;
  }
}
