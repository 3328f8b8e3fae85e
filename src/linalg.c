/* linalg.c — small dense linear algebra in double precision (see include/cbas/linalg.h).
 *
 * Unblocked, column-oriented algorithms: every inner loop runs down a contiguous column, which
 * is what matters for the matrix sizes of the time-series inversions (<= a few hundred
 * columns). The algorithms follow the textbook/LAPACK formulations (dpotf2, dgeqr2, dlaqp2,
 * dlarfg, dtrti2, Hestenes one-sided Jacobi); the code is our own.
 */
#include "cbas/linalg.h"
#include <float.h>
#include <math.h>
#include <string.h>

#define A_(i, j) a[(size_t)(i) + (size_t)(j) * (size_t)lda]

/* ---- Cholesky ------------------------------------------------------------------------------ */

int la_chol(int n, double *a, int lda) {
  for (int j = 0; j < n; j++) {
    double d = A_(j, j);
    if (!(d > 0) || !isfinite(d)) return j + 1;
    d = sqrt(d);
    A_(j, j) = d;
    double *cj = &A_(0, j);
    double r = 1.0 / d;
    for (int i = j + 1; i < n; i++) cj[i] *= r;
    for (int c = j + 1; c < n; c++) {
      double f = cj[c];
      if (f == 0) continue;
      double *cc = &A_(0, c);
      for (int i = c; i < n; i++) cc[i] -= f * cj[i];
    }
  }
  return 0;
}

void la_chol_solve(int n, int nrhs, const double *l, int ldl, double *b, int ldb) {
  for (int r = 0; r < nrhs; r++) {
    double *x = b + (size_t)r * (size_t)ldb;
    la_trsv(LA_LOWER, LA_NOTRANS, n, l, ldl, x);
    la_trsv(LA_LOWER, LA_TRANS, n, l, ldl, x);
  }
}

/* ---- Triangular ---------------------------------------------------------------------------- */

void la_trsv(int uplo, int trans, int n, const double *a, int lda, double *x) {
  if (uplo == LA_UPPER && trans == LA_NOTRANS) {          /* back substitution by columns */
    for (int j = n - 1; j >= 0; j--) {
      if (x[j] == 0) continue;
      x[j] /= A_(j, j);
      double t = x[j];
      const double *c = &A_(0, j);
      for (int i = 0; i < j; i++) x[i] -= t * c[i];
    }
  } else if (uplo == LA_UPPER) {                          /* U^T x = b: forward, dot products */
    for (int j = 0; j < n; j++) {
      const double *c = &A_(0, j);
      double t = x[j];
      for (int i = 0; i < j; i++) t -= c[i] * x[i];
      x[j] = t / c[j];
    }
  } else if (trans == LA_NOTRANS) {                       /* L x = b: forward by columns */
    for (int j = 0; j < n; j++) {
      if (x[j] == 0) continue;
      x[j] /= A_(j, j);
      double t = x[j];
      const double *c = &A_(0, j);
      for (int i = j + 1; i < n; i++) x[i] -= t * c[i];
    }
  } else {                                                /* L^T x = b: backward, dots */
    for (int j = n - 1; j >= 0; j--) {
      const double *c = &A_(0, j);
      double t = x[j];
      for (int i = j + 1; i < n; i++) t -= c[i] * x[i];
      x[j] = t / c[j];
    }
  }
}

int la_trtri_upper(int n, double *a, int lda) {
  for (int j = 0; j < n; j++) {
    if (A_(j, j) == 0) return j + 1;
    A_(j, j) = 1.0 / A_(j, j);
    double ajj = -A_(j, j);
    double *x = &A_(0, j);
    /* x(0:j) := T(0:j,0:j) x(0:j), T the already inverted leading block (upper, in place). */
    for (int k = 0; k < j; k++) {
      double t = x[k];
      if (t != 0) {
        const double *c = &A_(0, k);
        for (int i = 0; i < k; i++) x[i] += t * c[i];
        x[k] = t * c[k];
      }
    }
    for (int i = 0; i < j; i++) x[i] *= ajj;
  }
  return 0;
}

/* ---- Householder --------------------------------------------------------------------------- */

static double sumsq(int n, const double *x) {
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

/* Generates H = I - tau v v^T with H [alpha; x] = [beta; 0]; x (n-1 values) becomes v(1:). */
static double house(int n, double *alpha, double *x) {
  if (n <= 1) return 0;
  double xn = sqrt(sumsq(n - 1, x));
  if (xn == 0) return 0;
  double beta = -copysign(hypot(*alpha, xn), *alpha);
  double tau = (beta - *alpha) / beta;
  double sc = 1.0 / (*alpha - beta);
  for (int i = 0; i < n - 1; i++) x[i] *= sc;
  *alpha = beta;
  return tau;
}

/* c := (I - tau v v^T) c, v = [1; vt], both of length n. */
static void house_apply(int n, const double *vt, double tau, double *c) {
  if (tau == 0) return;
  double w = c[0];
  for (int i = 1; i < n; i++) w += vt[i - 1] * c[i];
  if (w == 0) return;
  w *= tau;
  c[0] -= w;
  for (int i = 1; i < n; i++) c[i] -= w * vt[i - 1];
}

/* Applies H = I - tau v v^T (v = [1; vt], length n) to the nc columns c[j*ldc]. Four columns
 * are done together so that their four (sequential, unchanged) dot products run in parallel;
 * every column gets exactly the arithmetic of house_apply. */
static void house_apply_cols(int n, const double *vt, double tau, double *c, int ldc, int nc) {
  if (tau == 0) return;
  int j = 0;
  for (; j + 4 <= nc; j += 4) {
    double *c0 = c + (size_t)j * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
    double w0 = c0[0], w1 = c1[0], w2 = c2[0], w3 = c3[0];
    for (int i = 1; i < n; i++) {
      double v = vt[i - 1];
      w0 += v * c0[i]; w1 += v * c1[i]; w2 += v * c2[i]; w3 += v * c3[i];
    }
    w0 *= tau; w1 *= tau; w2 *= tau; w3 *= tau;
    c0[0] -= w0; c1[0] -= w1; c2[0] -= w2; c3[0] -= w3;
    for (int i = 1; i < n; i++) {
      double v = vt[i - 1];
      c0[i] -= w0 * v; c1[i] -= w1 * v; c2[i] -= w2 * v; c3[i] -= w3 * v;
    }
  }
  for (; j < nc; j++) house_apply(n, vt, tau, c + (size_t)j * ldc);
}

void la_qr(int m, int n, double *a, int lda, double *tau) {
  int k = m < n ? m : n;
  for (int i = 0; i < k; i++) {
    tau[i] = house(m - i, &A_(i, i), &A_(i + 1, i));
    if (i + 1 < n) house_apply_cols(m - i, &A_(i + 1, i), tau[i], &A_(i, i + 1), lda, n - i - 1);
  }
}

size_t la_qrp_work(int n) { return 2 * (size_t)(n > 0 ? n : 0); }

void la_qrp(int m, int n, double *a, int lda, double *tau, int *jpvt, double *work) {
  int k = m < n ? m : n;
  double *vn1 = work, *vn2 = work + n;
  const double tol3z = sqrt(DBL_EPSILON);
  for (int j = 0; j < n; j++) {
    jpvt[j] = j;
    vn1[j] = vn2[j] = sqrt(sumsq(m, &A_(0, j)));
  }
  for (int i = 0; i < k; i++) {
    int p = i;
    for (int j = i + 1; j < n; j++)
      if (vn1[j] > vn1[p]) p = j;
    if (p != i) {
      double *ci = &A_(0, i), *cp = &A_(0, p);
      for (int r = 0; r < m; r++) { double t = ci[r]; ci[r] = cp[r]; cp[r] = t; }
      int t = jpvt[i]; jpvt[i] = jpvt[p]; jpvt[p] = t;
      vn1[p] = vn1[i];
      vn2[p] = vn2[i];
    }
    tau[i] = house(m - i, &A_(i, i), &A_(i + 1, i));
    if (i + 1 < n) house_apply_cols(m - i, &A_(i + 1, i), tau[i], &A_(i, i + 1), lda, n - i - 1);
    for (int j = i + 1; j < n; j++) {
      if (vn1[j] == 0) continue;
      double r = fabs(A_(i, j)) / vn1[j];
      double t = 1 - r * r;
      if (t < 0) t = 0;
      double q = vn1[j] / vn2[j];
      if (t * q * q <= tol3z) {
        vn1[j] = i + 1 < m ? sqrt(sumsq(m - i - 1, &A_(i + 1, j))) : 0;
        vn2[j] = vn1[j];
      } else {
        vn1[j] *= sqrt(t);
      }
    }
  }
}

void la_qr_apply(int trans, int m, int k, const double *a, int lda, const double *tau, int nrhs,
                 double *b, int ldb) {
  for (int r = 0; r < nrhs; r++) {
    double *c = b + (size_t)r * (size_t)ldb;
    if (trans == LA_TRANS)
      for (int i = 0; i < k; i++) house_apply(m - i, &A_(i + 1, i), tau[i], c + i);
    else
      for (int i = k - 1; i >= 0; i--) house_apply(m - i, &A_(i + 1, i), tau[i], c + i);
  }
}

void la_qr_form_q(int m, int k, const double *a, int lda, const double *tau, double *q, int ldq) {
  for (int j = 0; j < k; j++) {
    double *c = q + (size_t)j * (size_t)ldq;
    memset(c, 0, (size_t)m * sizeof *c);
    c[j] = 1;
    /* Only reflectors 0..j can touch e_j; applying H_j .. H_0 in that order gives Q e_j. */
    for (int i = j; i >= 0; i--) house_apply(m - i, &A_(i + 1, i), tau[i], c + i);
  }
}

/* ---- One-sided Jacobi SVD ------------------------------------------------------------------ */

int la_svd_jacobi(int m, int n, double *a, int lda, double *s, double *v, int ldv) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < n; i++) v[i + (size_t)j * ldv] = i == j;
  const double tol = DBL_EPSILON * (m > 1 ? m : 1);
  int converged = 0;
  for (int sweep = 0; sweep < 80 && !converged; sweep++) {
    converged = 1;
    for (int p = 0; p < n - 1; p++) {
      for (int q = p + 1; q < n; q++) {
        double *ap = &A_(0, p), *aq = &A_(0, q);
        double al = 0, be = 0, ga = 0;
        for (int i = 0; i < m; i++) {
          al += ap[i] * ap[i];
          be += aq[i] * aq[i];
          ga += ap[i] * aq[i];
        }
        if (ga == 0 || fabs(ga) <= tol * sqrt(al) * sqrt(be)) continue;
        converged = 0;
        double zeta = (be - al) / (2 * ga);
        double t = fabs(zeta) > 1e150 ? 0.5 / zeta
                                        : copysign(1.0, zeta) / (fabs(zeta) + sqrt(1 + zeta * zeta));
        double c = 1 / sqrt(1 + t * t), sn = c * t;
        for (int i = 0; i < m; i++) {
          double x = ap[i], y = aq[i];
          ap[i] = c * x - sn * y;
          aq[i] = sn * x + c * y;
        }
        double *vp = v + (size_t)p * ldv, *vq = v + (size_t)q * ldv;
        for (int i = 0; i < n; i++) {
          double x = vp[i], y = vq[i];
          vp[i] = c * x - sn * y;
          vq[i] = sn * x + c * y;
        }
      }
    }
  }
  for (int j = 0; j < n; j++) {
    double *c = &A_(0, j);
    s[j] = sqrt(sumsq(m, c));
    if (s[j] > 0) {
      double r = 1 / s[j];
      for (int i = 0; i < m; i++) c[i] *= r;
    }
  }
  /* Selection sort into decreasing order, moving the columns of U and V along. */
  for (int j = 0; j < n; j++) {
    int b = j;
    for (int i = j + 1; i < n; i++)
      if (s[i] > s[b]) b = i;
    if (b == j) continue;
    double t = s[j]; s[j] = s[b]; s[b] = t;
    double *cj = &A_(0, j), *cb = &A_(0, b);
    for (int i = 0; i < m; i++) { t = cj[i]; cj[i] = cb[i]; cb[i] = t; }
    cj = v + (size_t)j * ldv; cb = v + (size_t)b * ldv;
    for (int i = 0; i < n; i++) { t = cj[i]; cj[i] = cb[i]; cb[i] = t; }
  }
  return converged ? LA_OK : LA_ENOCONV;
}

/* ---- Least squares ------------------------------------------------------------------------- */

size_t la_ls_work(int m, int n) {
  size_t k = (size_t)(m < n ? m : n), nn = (size_t)(n > 0 ? n : 0);
  size_t u = k * k > nn * nn ? k * k : nn * nn;   /* also holds R^-1 for the certificate */
  return k + la_qrp_work(n) + k + u + nn * k;
}
size_t la_ls_solve_tmp(int m, int n) { return (size_t)(m < n ? m : n) + (size_t)(n > 0 ? n : 0); }
size_t la_lstsq_work(int m, int n) { return la_ls_work(m, n) + la_ls_solve_tmp(m, n); }

int la_ls_factor(la_ls *f, int m, int n, double *a, int lda, double rcond, double *work,
                 int *iwork) {
  int k = m < n ? m : n;
  memset(f, 0, sizeof *f);
  f->m = m; f->n = n; f->k = k; f->a = a; f->lda = lda; f->jpvt = iwork;
  f->rcond = rcond < 0 ? DBL_EPSILON * (m > n ? m : n) : rcond;
  f->tau = work;
  double *qw = f->tau + k;
  f->s = qw + la_qrp_work(n);
  f->u = f->s + k;
  size_t usz = (size_t)k * k > (size_t)n * n ? (size_t)k * k : (size_t)n * n;
  f->v = f->u + usz;
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++)
      if (!isfinite(A_(i, j))) return LA_ENAN;
  if (k == 0) {
    for (int j = 0; j < n; j++) iwork[j] = j;
    f->use_svd = 1;   /* rank 0: the solution is zero */
    return LA_OK;
  }
  la_qrp(m, n, a, lda, f->tau, iwork, qw);
  if (m >= n) {
    /* Certificate of full rank: s_min >= 1/||R^-1||_F and s_max <= ||R||_F. */
    double *ri = f->u, rf = 0;
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++) {
        double x = i <= j ? A_(i, j) : 0;
        ri[i + (size_t)j * n] = x;
        rf += x * x;
      }
    if (la_trtri_upper(n, ri, n) == 0) {
      double rif = 0;
      for (size_t i = 0; i < (size_t)n * n; i++) rif += ri[i] * ri[i];
      if (isfinite(rif) && f->rcond * sqrt(rf) * sqrt(rif) < 1) {
        f->rank = n;
        return LA_OK;
      }
    }
  }
  /* SVD of the k x n trapezoid R (through R itself when m >= n, else through R^T). */
  f->use_svd = 1;
  int st;
  if (m >= n) {
    double *w = f->u;                              /* n x n: R, becomes U_R */
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++) w[i + (size_t)j * n] = i <= j ? A_(i, j) : 0;
    st = la_svd_jacobi(n, n, w, n, f->s, f->v, n);   /* R = U S V^T, V into f->v (n x n) */
  } else {
    double *w = f->v;                              /* n x m: R^T, becomes the right vectors */
    for (int j = 0; j < m; j++)
      for (int i = 0; i < n; i++) w[i + (size_t)j * n] = j <= i ? A_(j, i) : 0;
    st = la_svd_jacobi(n, m, w, n, f->s, f->u, m);   /* R^T = W S U^T  =>  R = U S W^T */
  }
  if (st) return st;
  double thr = f->rcond * f->s[0];
  f->rank = 0;
  while (f->rank < k && f->s[f->rank] > thr) f->rank++;
  return LA_OK;
}

void la_ls_solve(const la_ls *f, int nrhs, double *b, int ldb, double *tmp) {
  int m = f->m, n = f->n, k = f->k;
  for (int r = 0; r < nrhs; r++) {
    double *x = b + (size_t)r * (size_t)ldb;
    if (k > 0) la_qr_apply(LA_TRANS, m, k, f->a, f->lda, f->tau, 1, x, ldb);
    double *y = tmp + k;                           /* n values, pivoted order */
    if (!f->use_svd) {
      la_trsv(LA_UPPER, LA_NOTRANS, n, f->a, f->lda, x);
      memcpy(y, x, (size_t)n * sizeof *y);
    } else {
      double *w = tmp;                             /* k coefficients u_i^T c / s_i */
      for (int i = 0; i < k; i++) {
        w[i] = 0;
        if (i >= f->rank) continue;
        const double *ui = f->u + (size_t)i * k;
        double d = 0;
        for (int j = 0; j < k; j++) d += ui[j] * x[j];
        w[i] = d / f->s[i];
      }
      for (int j = 0; j < n; j++) y[j] = 0;
      for (int i = 0; i < f->rank; i++) {
        const double *vi = f->v + (size_t)i * n;
        for (int j = 0; j < n; j++) y[j] += w[i] * vi[j];
      }
    }
    for (int j = 0; j < n; j++) x[f->jpvt[j]] = y[j];
  }
}

int la_lstsq(int m, int n, int nrhs, double *a, int lda, double *b, int ldb, double rcond,
             double *work, int *iwork, int *rank) {
  la_ls f;
  for (int r = 0; r < nrhs; r++)
    for (int i = 0; i < m; i++)
      if (!isfinite(b[i + (size_t)r * ldb])) return LA_ENAN;
  int st = la_ls_factor(&f, m, n, a, lda, rcond, work, iwork);
  if (st) return st;
  if (rank) *rank = f.rank;
  la_ls_solve(&f, nrhs, b, ldb, work + la_ls_work(m, n));
  return LA_OK;
}
