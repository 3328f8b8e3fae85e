/* test_linalg.c — dense linear algebra: hand-solved systems, residual/orthogonality checks on
 * random matrices, ill-conditioned (Hilbert) and rank-deficient least squares against the
 * analytic pseudo-inverse solution. Tolerances are stated per check; u = 2.2e-16. */
#include "check.h"
#include "cbas/linalg.h"
#include <float.h>
#include <stdint.h>
#include <string.h>

#define U_ DBL_EPSILON

/* Deterministic uniform numbers in [-1, 1) for the random cases. */
static uint64_t rng_state = 88172645463325252ull;
static double urand(void) {
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}
static void fill_random(int m, int n, double *a, int lda) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) a[i + j * lda] = urand();
}
static double fro(int m, int n, const double *a, int lda) {
  double s = 0;
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) s += a[i + j * lda] * a[i + j * lda];
  return sqrt(s);
}
static double vnorm(int n, const double *x) { return fro(n, 1, x, n); }

/* r = A x - b */
static void resid(int m, int n, const double *a, int lda, const double *x, const double *b, double *r) {
  for (int i = 0; i < m; i++) {
    double s = -b[i];
    for (int j = 0; j < n; j++) s += a[i + j * lda] * x[j];
    r[i] = s;
  }
}

static void test_chol_hand_3x3(void) {
  /* A = L L^T with L = [2 0 0; 6 1 0; -8 5 3]; x = (1,2,3) => b = (-20,-43,192). Exact in binary. */
  double a[9] = {4, 12, -16, 12, 37, -43, -16, -43, 98};
  double b[3] = {-20, -43, 192};
  CHECK_EQ_INT(la_chol(3, a, 3), 0);
  const double l[6] = {2, 6, -8, 1, 5, 3};
  CHECK_NEAR(a[0], l[0], 0); CHECK_NEAR(a[1], l[1], 0); CHECK_NEAR(a[2], l[2], 0);
  CHECK_NEAR(a[4], l[3], 0); CHECK_NEAR(a[5], l[4], 0); CHECK_NEAR(a[8], l[5], 0);
  CHECK_NEAR(a[3], 12, 0);   /* strict upper triangle untouched */
  la_chol_solve(3, 1, a, 3, b, 3);
  CHECK_NEAR(b[0], 1, 1e-14); CHECK_NEAR(b[1], 2, 1e-14); CHECK_NEAR(b[2], 3, 1e-14);
}

static void test_chol_not_pd(void) {
  double a[4] = {1, 2, 2, 1};             /* eigenvalues 3, -1 */
  CHECK_EQ_INT(la_chol(2, a, 2), 2);
  double z[4] = {0, 0, 0, 1};             /* semidefinite: first pivot 0 */
  CHECK_EQ_INT(la_chol(2, z, 2), 1);
  double n[4] = {NAN, 0, 0, 1};
  CHECK_EQ_INT(la_chol(2, n, 2), 1);
  double m[9] = {4, 2, 2, 2, 1, 1, 2, 1, 5};  /* rank-1 leading 2x2 block: pivot 2 is exactly 0 */
  CHECK_EQ_INT(la_chol(3, m, 3), 2);
}

static void test_chol_random_spd(void) {
  enum { N = 25 };
  double g[N * N], a[N * N], l[N * N], x[N], b[N], r[N];
  fill_random(N, N, g, N);
  for (int i = 0; i < N; i++)           /* A = G^T G + I: cond well below 1e4 */
    for (int j = 0; j < N; j++) {
      double s = i == j;
      for (int k = 0; k < N; k++) s += g[k + i * N] * g[k + j * N];
      a[i + j * N] = s;
    }
  memcpy(l, a, sizeof a);
  CHECK_EQ_INT(la_chol(N, l, N), 0);
  for (int i = 0; i < N; i++) b[i] = x[i] = urand();
  la_chol_solve(N, 1, l, N, x, N);
  resid(N, N, a, N, x, b, r);
  CHECKF(vnorm(N, r) <= 1e-12 * fro(N, N, a, N) * vnorm(N, x), "||Ax-b|| = %g", vnorm(N, r));
}

static void test_trsv_and_trtri(void) {
  enum { N = 12 };
  double a[N * N], x[N], t[N], y[N];
  fill_random(N, N, a, N);
  for (int i = 0; i < N; i++) a[i + i * N] = 3 + fabs(a[i + i * N]);   /* well conditioned */
  for (int uplo = 0; uplo < 2; uplo++)
    for (int tr = 0; tr < 2; tr++) {
      for (int i = 0; i < N; i++) x[i] = urand();
      /* y = op(T) x computed directly, then solved back. */
      for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < N; j++) {
          int ii = tr ? j : i, jj = tr ? i : j;          /* op(T)(i,j) = T(ii,jj) */
          int in = uplo == LA_UPPER ? ii <= jj : ii >= jj;
          if (in) s += a[ii + jj * N] * x[j];
        }
        y[i] = s;
      }
      memcpy(t, y, sizeof t);
      la_trsv(uplo, tr, N, a, N, t);
      for (int i = 0; i < N; i++) CHECKF(fabs(t[i] - x[i]) <= 1e-13, "uplo %d trans %d i %d", uplo, tr, i);
    }
  double ri[N * N];
  memcpy(ri, a, sizeof a);
  CHECK_EQ_INT(la_trtri_upper(N, ri, N), 0);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = i; k <= j; k++) s += a[i + k * N] * ri[k + j * N];
      CHECKF(fabs(s - (i == j)) <= 1e-13, "R R^-1 (%d,%d) = %g", i, j, s);
    }
  double z[4] = {1, 0, 2, 0};
  CHECK_EQ_INT(la_trtri_upper(2, z, 2), 2);
}

static void test_lstsq_hand(void) {
  double w[64];
  int iw[8], rank = -1;
  /* Square 2x2: [2 1; 1 3] x = (3, 5) => x = (4/5, 7/5). */
  double a[4] = {2, 1, 1, 3}, b[2] = {3, 5};
  CHECK_EQ_INT(la_lstsq(2, 2, 1, a, 2, b, 2, -1, w, iw, &rank), 0);
  CHECK_EQ_INT(rank, 2);
  CHECK_NEAR(b[0], 0.8, 4 * U_); CHECK_NEAR(b[1], 1.4, 4 * U_);
  /* Line through (0,1), (1,3), (2,4): normal equations [3 3; 3 5](c,v) = (8,11) => c = 7/6, v = 3/2. */
  double g[6] = {1, 1, 1, 0, 1, 2}, y[3] = {1, 3, 4};
  CHECK_EQ_INT(la_lstsq(3, 2, 1, g, 3, y, 3, -1, w, iw, &rank), 0);
  CHECK_NEAR(y[0], 7.0 / 6, 8 * U_); CHECK_NEAR(y[1], 1.5, 8 * U_);
  /* 3x3 square, exact x = (1, -2, 3): rows (1,2,3), (0,1,4), (5,6,0) => b = (6, 10, -7).
   * det = 1, cond_1 = 9 * 49 = 441: forward error <= cond u ~ 1e-13. */
  double c[9] = {1, 0, 5, 2, 1, 6, 3, 4, 0}, d[3] = {6, 10, -7};
  CHECK_EQ_INT(la_lstsq(3, 3, 1, c, 3, d, 3, -1, w, iw, &rank), 0);
  CHECK_NEAR(d[0], 1, 2e-13); CHECK_NEAR(d[1], -2, 2e-13); CHECK_NEAR(d[2], 3, 2e-13);
}

static void test_qr_random(void) {
  enum { M = 40, N = 12 };
  double a[M * N], f[M * N], tau[N], q[M * N], w[2 * N];
  int jp[N];
  fill_random(M, N, a, M);
  for (int piv = 0; piv < 2; piv++) {
    memcpy(f, a, sizeof a);
    if (piv) la_qrp(M, N, f, M, tau, jp, w);
    else { la_qr(M, N, f, M, tau); for (int j = 0; j < N; j++) jp[j] = j; }
    la_qr_form_q(M, N, f, M, tau, q, M);
    double e = 0;        /* ||Q^T Q - I||_max */
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) {
        double s = 0;
        for (int k = 0; k < M; k++) s += q[k + i * M] * q[k + j * M];
        e = fmax(e, fabs(s - (i == j)));
      }
    CHECKF(e <= 20 * M * U_, "piv %d: ||Q^T Q - I||max = %g", piv, e);
    double d = 0;        /* ||A P - Q R||_max / ||A||_F */
    for (int j = 0; j < N; j++)
      for (int i = 0; i < M; i++) {
        double s = 0;
        for (int k = 0; k <= j && k < N; k++) s += q[i + k * M] * f[k + j * M];
        d = fmax(d, fabs(a[i + jp[j] * M] - s));
      }
    CHECKF(d <= 20 * M * U_ * fro(M, N, a, M), "piv %d: ||AP - QR|| = %g", piv, d);
    if (piv)
      for (int j = 1; j < N; j++) CHECK(fabs(f[j + j * M]) <= fabs(f[j - 1 + (j - 1) * M]) * (1 + 1e-12));
    /* Q^T applied to Q e_j gives e_j back. */
    double col[M];
    memcpy(col, q + 3 * M, sizeof col);
    la_qr_apply(LA_TRANS, M, N, f, M, tau, 1, col, M);
    for (int i = 0; i < M; i++) CHECK_NEAR(col[i], i == 3, 1e-14);
  }
}

static void test_lstsq_random_normal_eq(void) {
  enum { M = 60, N = 15, R = 3 };
  double a[M * N], f[M * N], b[M * R], x[M * R], r[M], w[4096];
  int iw[N], rank;
  CHECK(la_lstsq_work(M, N) <= sizeof w / sizeof w[0]);
  fill_random(M, N, a, M);
  fill_random(M, R, b, M);
  memcpy(f, a, sizeof a);
  memcpy(x, b, sizeof b);
  CHECK_EQ_INT(la_lstsq(M, N, R, f, M, x, M, -1, w, iw, &rank), 0);
  CHECK_EQ_INT(rank, N);
  double an = fro(M, N, a, M);
  for (int c = 0; c < R; c++) {
    resid(M, N, a, M, x + c * M, b + c * M, r);
    /* Normal-equation residual A^T (A x - b): backward stability gives <= c u ||A||^2 ||x||
     * + c u ||A|| ||b||; 100 u is a generous constant for these sizes. */
    double g = 0;
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int i = 0; i < M; i++) s += a[i + j * M] * r[i];
      g = fmax(g, fabs(s));
    }
    double tol = 100 * U_ * an * (an * vnorm(N, x + c * M) + vnorm(M, b + c * M));
    CHECKF(g <= tol, "rhs %d: ||A^T r||max = %g > %g", c, g, tol);
  }
  /* Factor once, solve many: identical to the one-shot driver. */
  la_ls fs;
  double y[M * R];
  memcpy(f, a, sizeof a);
  memcpy(y, b, sizeof b);
  CHECK_EQ_INT(la_ls_factor(&fs, M, N, f, M, -1, w, iw), 0);
  CHECK_EQ_INT(fs.use_svd, 0);
  la_ls_solve(&fs, R, y, M, w + la_ls_work(M, N));
  for (int c = 0; c < R; c++)
    for (int j = 0; j < N; j++) CHECK_NEAR(y[j + c * M], x[j + c * M], 0);
}

static void hilbert(int n, double *h) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) h[i + j * n] = 1.0 / (i + j + 1);
}

/* Solves H_n x = H_n 1 (b into b, x into x); returns the rank, or -1. */
static int hilbert_solve(int n, double *h, double *x, double *b) {
  double f[144], w[2048];
  int iw[12], rank;
  hilbert(n, h);
  for (int i = 0; i < n; i++) { b[i] = 0; for (int j = 0; j < n; j++) b[i] += h[i + j * n]; }
  memcpy(f, h, sizeof(double) * n * n);
  memcpy(x, b, sizeof(double) * n);
  return la_lstsq(n, n, 1, f, n, x, 12, -1, w, iw, &rank) ? -1 : rank;
}

static void test_lstsq_hilbert(void) {
  double h[144], b[12], x[12], r[12];
  /* n = 6: cond 1.5e7, exact solution x = 1: forward error <= cond * u * small = 1e-8. */
  CHECK_EQ_INT(hilbert_solve(6, h, x, b), 6);
  for (int i = 0; i < 6; i++) CHECK_NEAR(x[i], 1, 1e-8);
  /* n = 10: cond 1.6e13 (numpy: rank 10); only the residual is well determined: <= 1e-14 ||b||. */
  CHECK_EQ_INT(hilbert_solve(10, h, x, b), 10);
  resid(10, 10, h, 10, x, b, r);
  CHECKF(vnorm(10, r) <= 1e-14 * vnorm(10, b), "H10 residual %g", vnorm(10, r));
  /* n = 12: s_12 ~ 1e-16 is below eps*12*s_max = 4.8e-15, s_11 = 2.6e-14 above (numpy's
   * lstsq reports rank 11); the truncated solution still has a residual <= 1e-13 ||b||. */
  CHECK_EQ_INT(hilbert_solve(12, h, x, b), 11);
  resid(12, 12, h, 12, x, b, r);
  CHECKF(vnorm(12, r) <= 1e-13 * vnorm(12, b), "H12 residual %g", vnorm(12, r));
  /* Singular values of H8 match numpy's: s_max/s_min = 1.5257575e10 (rel 1e-6). */
  double s[8], v[64];
  hilbert(8, h);
  CHECK_EQ_INT(la_svd_jacobi(8, 8, h, 8, s, v, 8), 0);
  CHECK_NEAR(s[0] / s[7] / 15257575270.772364, 1, 1e-6);
}

static void test_lstsq_rank_deficient(void) {
  double w[1024], x[8];
  int iw[8], rank;
  /* A = 3 u1 v1^T + 0.5 u2 v2^T (4x3, rank 2) with orthonormal u1 = (1,1,1,1)/2,
   * u2 = (1,-1,1,-1)/2, v1 = (1,1,0)/sqrt2, v2 = (0,0,1). Pseudo-inverse solution:
   * x = v1 (u1.b)/3 + v2 (u2.b)/0.5. With b = (1,2,3,5): u1.b = 5.5, u2.b = -1.5 =>
   * x = (5.5/3) (1,1,0)/sqrt2 - 3 (0,0,1) = (11/(6 sqrt2), 11/(6 sqrt2), -3). */
  double a[12];
  const double r2 = sqrt(2.0);
  for (int i = 0; i < 4; i++) {
    double u1 = 0.5, u2 = (i & 1) ? -0.5 : 0.5;
    a[i + 0] = 3 * u1 / r2;
    a[i + 4] = 3 * u1 / r2;
    a[i + 8] = 0.5 * u2;
  }
  double b[4] = {1, 2, 3, 5};
  memcpy(x, b, sizeof b);
  CHECK_EQ_INT(la_lstsq(4, 3, 1, a, 4, x, 4, -1, w, iw, &rank), 0);
  CHECK_EQ_INT(rank, 2);
  CHECK_NEAR(x[0], 11 / (6 * r2), 1e-14); CHECK_NEAR(x[1], 11 / (6 * r2), 1e-14); CHECK_NEAR(x[2], -3, 1e-14);
  /* Duplicated column: [1 1; 2 2; 3 3] x = (1,2,3) => min-norm x = (1/2, 1/2). */
  double d[6] = {1, 2, 3, 1, 2, 3};
  double e[3] = {1, 2, 3};
  CHECK_EQ_INT(la_lstsq(3, 2, 1, d, 3, e, 3, -1, w, iw, &rank), 0);
  CHECK_EQ_INT(rank, 1);
  CHECK_NEAR(e[0], 0.5, 1e-15); CHECK_NEAR(e[1], 0.5, 1e-15);
  /* Underdetermined: [1 0 1; 0 1 1] x = (1,2) => x = A^T (A A^T)^-1 b = (0, 1, 1). */
  double g[6] = {1, 0, 0, 1, 1, 1};
  double y[3] = {1, 2, 0};
  CHECK_EQ_INT(la_lstsq(2, 3, 1, g, 2, y, 3, -1, w, iw, &rank), 0);
  CHECK_EQ_INT(rank, 2);
  CHECK_NEAR(y[0], 0, 1e-15); CHECK_NEAR(y[1], 1, 1e-15); CHECK_NEAR(y[2], 1, 1e-15);
  /* One row [1 1 1] x = 3 => (1,1,1). */
  double o[3] = {1, 1, 1}, p[3] = {3, 0, 0};
  CHECK_EQ_INT(la_lstsq(1, 3, 1, o, 1, p, 3, -1, w, iw, &rank), 0);
  CHECK_NEAR(p[0], 1, 1e-15); CHECK_NEAR(p[1], 1, 1e-15); CHECK_NEAR(p[2], 1, 1e-15);
  /* Zero matrix, and zero rows (numpy returns zeros): rank 0, x = 0. */
  double z[6] = {0}, q[3] = {1, 2, 3};
  CHECK_EQ_INT(la_lstsq(3, 2, 1, z, 3, q, 3, -1, w, iw, &rank), 0);
  CHECK_EQ_INT(rank, 0);
  CHECK_NEAR(q[0], 0, 0); CHECK_NEAR(q[1], 0, 0);
  double q2[2] = {7, 7};
  CHECK_EQ_INT(la_lstsq(0, 2, 1, z, 1, q2, 2, -1, w, iw, &rank), 0);
  CHECK_NEAR(q2[0], 0, 0); CHECK_NEAR(q2[1], 0, 0);
  /* Non-finite input is refused. */
  double nn[4] = {1, NAN, 0, 1}, nb[2] = {1, 1};
  CHECK_EQ_INT(la_lstsq(2, 2, 1, nn, 2, nb, 2, -1, w, iw, &rank), LA_ENAN);
  double fn[4] = {1, 0, 0, 1}, fb[2] = {INFINITY, 1};
  CHECK_EQ_INT(la_lstsq(2, 2, 1, fn, 2, fb, 2, -1, w, iw, &rank), LA_ENAN);
}

static void test_lstsq_random_rank_deficient(void) {
  /* A = B C with B 30x4, C 4x9: rank 4. The min-norm solution lies in the row space of A
   * (x = A^T y) and satisfies the normal equations; both characterise A^+ b. */
  enum { M = 30, N = 9, K = 4 };
  double bb[M * K], cc[K * N], a[M * N], f[M * N], b[M], x[M], r[M], w[2048];
  int iw[N], rank;
  fill_random(M, K, bb, M);
  fill_random(K, N, cc, K);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += bb[i + k * M] * cc[k + j * K];
      a[i + j * M] = s;
    }
  fill_random(M, 1, b, M);
  memcpy(f, a, sizeof a); memcpy(x, b, sizeof b);
  CHECK_EQ_INT(la_lstsq(M, N, 1, f, M, x, M, -1, w, iw, &rank), 0);
  CHECK_EQ_INT(rank, K);
  resid(M, N, a, M, x, b, r);
  double an = fro(M, N, a, M);
  for (int j = 0; j < N; j++) {
    double s = 0;
    for (int i = 0; i < M; i++) s += a[i + j * M] * r[i];
    CHECKF(fabs(s) <= 1e-12 * an * (an * vnorm(N, x) + vnorm(M, b)), "A^T r [%d] = %g", j, s);
  }
  /* Row space: x is orthogonal to the null space of C (= null space of A). The null space of
   * C is the span of the last N-K right singular vectors of C^T C... checked as: the component
   * of x outside span(C^T) is zero, i.e. x = C^T z solves C^T z = x in least squares exactly. */
  double ct[N * K], z[N], w2[1024];
  int iw2[K];
  for (int i = 0; i < N; i++)
    for (int k = 0; k < K; k++) ct[i + k * N] = cc[k + i * K];
  memcpy(z, x, sizeof z);
  CHECK_EQ_INT(la_lstsq(N, K, 1, ct, N, z, N, -1, w2, iw2, &rank), 0);
  for (int i = 0; i < N; i++) {
    double s = -x[i];
    for (int k = 0; k < K; k++) s += cc[k + i * K] * z[k];
    CHECKF(fabs(s) <= 1e-12 * vnorm(N, x), "x not in row space: %g", s);
  }
}

static void test_svd_jacobi_random(void) {
  enum { M = 30, N = 10 };
  double a[M * N], u[M * N], s[N], v[N * N];
  fill_random(M, N, a, M);
  memcpy(u, a, sizeof a);
  CHECK_EQ_INT(la_svd_jacobi(M, N, u, M, s, v, N), 0);
  for (int j = 1; j < N; j++) CHECK(s[j] <= s[j - 1]);
  double e = 0, ou = 0, ov = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double t = 0;
      for (int k = 0; k < N; k++) t += u[i + k * M] * s[k] * v[j + k * N];
      e = fmax(e, fabs(t - a[i + j * M]));
    }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double tu = 0, tv = 0;
      for (int k = 0; k < M; k++) tu += u[k + i * M] * u[k + j * M];
      for (int k = 0; k < N; k++) tv += v[k + i * N] * v[k + j * N];
      ou = fmax(ou, fabs(tu - (i == j)));
      ov = fmax(ov, fabs(tv - (i == j)));
    }
  CHECKF(e <= 100 * U_ * fro(M, N, a, M), "||A - U S V^T|| = %g", e);
  CHECKF(ou <= 100 * M * U_ && ov <= 100 * N * U_, "orthogonality %g %g", ou, ov);
}

int main(void) {
  RUN(test_chol_hand_3x3);
  RUN(test_chol_not_pd);
  RUN(test_chol_random_spd);
  RUN(test_trsv_and_trtri);
  RUN(test_lstsq_hand);
  RUN(test_qr_random);
  RUN(test_lstsq_random_normal_eq);
  RUN(test_lstsq_hilbert);
  RUN(test_lstsq_rank_deficient);
  RUN(test_lstsq_random_rank_deficient);
  RUN(test_svd_jacobi_random);
  return check_done();
}
