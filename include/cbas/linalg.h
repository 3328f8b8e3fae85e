/* linalg.h — cbas's own small dense linear algebra, double precision (no BLAS/LAPACK).
 *
 * Sized for the time-series inversions of LiCSBAS steps 13-16 (up to a few hundred unknowns and
 * a few thousand rows): Cholesky, triangular solves and inverse, Householder QR (plain and with
 * column pivoting), a one-sided Jacobi SVD, and a least-squares driver with the semantics of
 * numpy.linalg.lstsq(rcond=None), i.e. LAPACK dgelsd: singular values s_i <= rcond*s_max are
 * treated as zero and the minimum-norm solution is returned.
 *
 * Storage: COLUMN-MAJOR. Element (i, j) of an m x n matrix is a[i + j*lda], lda >= max(1, m).
 * Right-hand sides are the columns of b (b[i + r*ldb]). Householder vectors follow LAPACK's
 * dgeqrf layout: reflector k is H_k = I - tau[k] v v^T with v[k] = 1 (implicit) and v[k+1..m-1]
 * stored below the diagonal of column k; R is on and above the diagonal.
 *
 * Buffers are owned by the caller; nothing here allocates. Work-array sizes are given by the
 * *_work() functions (in doubles) next to the function that needs them. All functions are
 * reentrant (no global state) and may run concurrently on different data.
 *
 * Accuracy: Householder QR and Jacobi SVD are backward stable; Cholesky is used only where the
 * matrix is known to be well conditioned (its failure to find a positive pivot is reported).
 * Sums of squares are not rescaled: inputs must stay below ~1e150 in magnitude.
 */
#ifndef CBAS_LINALG_H
#define CBAS_LINALG_H
#include <stddef.h>

enum { LA_OK = 0, LA_ENOTPD = 1, LA_ESINGULAR = 2, LA_ENOCONV = 3, LA_ENAN = 4 };

/* ---- Cholesky ---------------------------------------------------------------------------- */
/* Factors the symmetric n x n matrix a (lower triangle read) as L L^T, L overwriting the lower
 * triangle (the strict upper triangle is not touched). Returns 0, or j+1 if the j-th pivot
 * (0-based) is not > 0 or not finite: the matrix is not (numerically) positive definite and the
 * contents of a are then partly overwritten. */
int la_chol(int n, double *a, int lda);
/* Solves L L^T X = B for nrhs right-hand sides, L from la_chol. */
void la_chol_solve(int n, int nrhs, const double *l, int ldl, double *b, int ldb);

/* ---- Triangular ------------------------------------------------------------------------- */
enum { LA_LOWER = 0, LA_UPPER = 1 };
enum { LA_NOTRANS = 0, LA_TRANS = 1 };
/* Solves T x = b (trans = LA_NOTRANS) or T^T x = b (LA_TRANS), T the n x n upper or lower
 * triangle of a (non-unit diagonal); x overwrites b. No singularity check (division by a zero
 * diagonal gives Inf/NaN). */
void la_trsv(int uplo, int trans, int n, const double *a, int lda, double *x);
/* Inverts the upper triangle of a in place. Returns 0, or j+1 if diagonal j is zero. */
int la_trtri_upper(int n, double *a, int lda);

/* ---- Householder QR ----------------------------------------------------------------------- */
/* QR of the m x n matrix a: min(m,n) reflectors, tau[min(m,n)]. */
void la_qr(int m, int n, double *a, int lda, double *tau);
/* QR with column pivoting (LAPACK dgeqp3 pivot rule): A P = Q R with |R_00| >= |R_11| >= ...
 * On return jpvt[j] = index of the original column now in position j.
 * work: la_qrp_work(n) doubles. */
size_t la_qrp_work(int n);
void la_qrp(int m, int n, double *a, int lda, double *tau, int *jpvt, double *work);
/* Applies the k reflectors stored in a/tau (from la_qr / la_qrp on an m-row matrix) to the
 * m x nrhs matrix b: b := Q^T b (trans = LA_TRANS) or b := Q b (LA_NOTRANS). */
void la_qr_apply(int trans, int m, int k, const double *a, int lda, const double *tau, int nrhs,
                 double *b, int ldb);
/* Forms the first k columns of Q (m x k, "thin Q") in q. */
void la_qr_form_q(int m, int k, const double *a, int lda, const double *tau, double *q, int ldq);

/* ---- SVD ---------------------------------------------------------------------------------- */
/* One-sided (Hestenes) Jacobi SVD of the m x n matrix a, m >= n: A = U diag(s) V^T.
 * On return the columns of a hold U (a column whose singular value is 0 is left as computed,
 * i.e. numerically zero), s[n] is sorted in decreasing order and v (n x n) holds V.
 * Returns 0, or LA_ENOCONV if 80 sweeps did not converge. */
int la_svd_jacobi(int m, int n, double *a, int lda, double *s, double *v, int ldv);

/* ---- Least squares (numpy.linalg.lstsq / dgelsd semantics) --------------------------------- */
/* A factorisation of an m x n least-squares problem, reusable for any number of right-hand
 * sides. The pointers refer to the caller's buffers given to la_ls_factor. */
typedef struct la_ls {
  int m, n, k;        /* k = min(m, n) */
  int rank;           /* numerical rank (dgelsd definition) */
  int use_svd;        /* 0: certified full column rank, solved through R; 1: through the SVD */
  double rcond;       /* threshold actually used */
  double *a;          /* QRP factors (the caller's matrix, overwritten) */
  int lda;
  double *tau;        /* k */
  int *jpvt;          /* n */
  double *s;          /* k singular values (use_svd only) */
  double *u;          /* k x k, U of R (or of R^T) (use_svd only) */
  double *v;          /* n x k, V (use_svd only) */
} la_ls;
/* Doubles of work for la_ls_factor; the factorisation keeps pointers into work, so work must
 * outlive f. iwork: n ints. */
size_t la_ls_work(int m, int n);
/* Factors a (m x n, overwritten). rcond < 0 selects numpy's default eps*max(m,n).
 * Full column rank is certified without an SVD when 1/||R^-1||_F > rcond*||R||_F (which implies
 * s_min > rcond*s_max); otherwise the SVD of R decides the rank exactly as dgelsd does.
 * Returns 0, LA_ENAN (a has a NaN/Inf) or LA_ENOCONV. */
int la_ls_factor(la_ls *f, int m, int n, double *a, int lda, double rcond, double *work,
                 int *iwork);
/* Solves for nrhs right-hand sides: b (ldb >= max(m, n)) holds the m x nrhs data on entry and
 * the n x nrhs solution in its first n rows on return. tmp: la_ls_solve_tmp(f) doubles. */
size_t la_ls_solve_tmp(int m, int n);
void la_ls_solve(const la_ls *f, int nrhs, double *b, int ldb, double *tmp);
/* One-shot driver = la_ls_factor + la_ls_solve. work: la_ls_work(m,n) + la_ls_solve_tmp(m,n)
 * doubles; iwork: n ints. *rank receives the numerical rank (may be NULL). Returns as
 * la_ls_factor, and LA_ENAN also for a non-finite b. */
size_t la_lstsq_work(int m, int n);
int la_lstsq(int m, int n, int nrhs, double *a, int lda, double *b, int ldb, double rcond,
             double *work, int *iwork, int *rank);
#endif
