/* step_invert.c — `cbas invert`, LiCSBAS step 13: NSBAS inversion of every pixel in row blocks
 * streamed from the stack, the per-epoch medians and the 13ref stable reference, cum.tif and
 * the reports (passes, memory formula and outputs: include/cbas/step_invert.h). */
#include "cbas/step_invert.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/ifgnet.h"
#include "cbas/licsbas.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include "cbas/progress.h"
#include "cbas/tsfilt.h"
#include "cbas/xmedian.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI_D 3.14159265358979323846   /* np.pi */

/* The single-band results of pass 1, in the order of their planes in the output block. */
enum { O_VEL, O_VINT, O_RMS, O_NGAP, O_NOLOOP, O_TLEN, OUT_N };
static const char *const OUT_NAMES[OUT_N] = {"vel", "vintercept", "resid_rms", "n_gap", "n_ifg_noloop", "maxTlen"};

/* ---------------------------------------------------------------- the run */

typedef struct { float v; long x; } inv_best;   /* first minimum of a row (x < 0: none) */

typedef struct inv_ctx {
  cbas_ctx *ctx;
  const tsdir *t;
  const stack *s;
  const stack_meta *m;
  const inv_params *p;
  uint32_t W, L, n_all;    /* stack width, length, interferograms */
  int N, M, wls;           /* epochs and ifgs used */
  uint8_t *used;           /* per stack ifg: 1 = used (not in 11bad/12bad) */
  uint32_t *ws;            /* stack index of used ifg j */
  char (*ifg)[18];         /* used ifg names */
  char (*ep)[9];           /* epochs of the used ifgs (2M slots) */
  int32_t *prim, *sec;
  float *t_yr;
  float coef32;            /* float32(coef_r2m) */
  float *ref_mm;           /* per used ifg */
  int n_unw_thre;
  uint32_t n_loop;
  int *loop_ifg;
  double wavelength;
  uint32_t ref12[4];       /* x1, x2, y1, y2 */
  nsbas_plan plan;
  void *plan_mem;
  int nt;
  nsbas_work *work;
  void *wmem;              /* the workspaces' memory */
  float *wbuf;             /* per worker: d, var (WLS), resid: each M*W */
  size_t wstride;
  /* block */
  uint32_t rows, y0, ny, n_block;
  float *unw;              /* [rows][n_all][W] */
  uint8_t *cc;             /* [rows][n_all][W] (WLS) */
  float *cum;              /* [rows][N+1][W]: cum epochs, then n_gap (one work-file row) */
  float *out;              /* [OUT_N][rows][W] */
  float *inc, *res;        /* --keep-incfile: [rows][N-1][W], [rows][M][W] */
  double *rss;             /* [rows][M] residual sums of squares */
  uint32_t *rn;            /* [rows][M] counts */
  float *rms;              /* [rows][W] pass 4 */
  inv_best *best;          /* [rows] */
  double *ifg_ss;          /* [M] */
  uint64_t *ifg_n;
  xmed *med;               /* [N] exact streaming medians of the epochs */
  uint32_t *hist;
  float *medv;             /* [N] medians */
  float ngap_min;
  int have_ngap;
  float *refcum;           /* [N] cum of the 13ref pixel */
  afile wf;
  int wf_open;
  size_t wrow;             /* floats per work-file row: (N+1)*W */
} inv_ctx;

int inv_params_from(cbas_ctx *ctx, const tsdir_pvals *v, inv_params *p) {
  memset(p, 0, sizeof *p);
  const char *a = v->str[TSP_P13_INV_ALG] ? v->str[TSP_P13_INV_ALG] : "LS";
  if (!strcmp(a, "LS")) { p->alg = NSBAS_LS; p->alg_name = "LS"; }
  else if (!strcmp(a, "WLS")) { p->alg = NSBAS_WLS; p->alg_name = "WLS"; }
  else return ctx_fail(ctx, CBAS_EUSAGE, "--inv-alg: '%s' is neither LS nor WLS", a);
  p->gamma = v->num[TSP_P13_GAMMA];
  p->n_unw_r_thre = v->num[TSP_P13_N_UNW_R_THRE];
  p->keep_incfile = v->num[TSP_P13_KEEP_INCFILE] != 0;
  p->route = NSBAS_ROUTE_AUTO;
  p->max_block_rows = v->block_rows;
  return 0;
}

/* ---- setup */

static int read_bad_count(inv_ctx *I, uint32_t *n_bad) {
  cbas_ctx *ctx = I->ctx;
  tsdir_ifglist all = {0};
  static const char *const lists[2] = {"11bad_ifg.txt", "12bad_ifg.txt"};
  for (int i = 0; i < 2; i++) {
    char path[1200];
    tsdir_ifglist l;
    if (tsdir_file(ctx, I->t, TSDIR_INFO, lists[i], path, sizeof path) || tsdir_ifglist_read(ctx, path, &l)) break;
    for (uint32_t k = 0; k < l.n && !ctx->status; k++) tsdir_ifglist_add(ctx, &all, l.name[k]);
    tsdir_ifglist_free(&l);
  }
  tsdir_ifglist_sort_unique(&all);
  *n_bad = all.n;
  tsdir_ifglist_free(&all);
  return ctx->status;
}

/* ref_k = float32 nanmean over the 12ref window of float32(unw_k * coef) (LiCSBAS13 "Ref phase
 * for inversion"): float32 sum in row-major order, divided in double and rounded as NumPy's
 * _divide_by_count does for a scalar. */
static int reference_phases(inv_ctx *I) {
  cbas_ctx *ctx = I->ctx;
  uint32_t x1 = I->ref12[0], x2 = I->ref12[1], y1 = I->ref12[2], y2 = I->ref12[3];
  uint32_t ny = y2 - y1;
  float *buf = budget_alloc(ctx, (size_t)ny * I->n_all * I->W * 4, "cbas invert: reference window rows");
  if (!buf || tsdir_read_unw(ctx, I->s, y1, ny, buf)) { budget_free(ctx, buf); return ctx->status; }
  for (int j = 0; j < I->M; j++) {
    float sum = 0;
    uint64_t c = 0;
    for (uint32_t r = 0; r < ny; r++) {
      const float *u = buf + ((size_t)r * I->n_all + I->ws[j]) * I->W;
      for (uint32_t x = x1; x < x2; x++) {
        float v = u[x] * I->coef32;
        if (v == 0 || v != v) continue;
        sum = sum + v;
        c++;
      }
    }
    if (!c) {
      ctx_fail(ctx, CBAS_EDATA, "%s/info/12ref.txt: the reference window %u:%u/%u:%u has no data in %s; rerun cbas loop",
               I->t->path, x1, x2, y1, y2, I->ifg[j]);
      break;
    }
    I->ref_mm[j] = (float)((double)sum / (double)c);
  }
  budget_free(ctx, buf);
  return ctx->status;
}

static int inv_setup(inv_ctx *I) {
  cbas_ctx *ctx = I->ctx;
  const stack_meta *m = I->m;
  uint8_t *used = I->used = malloc(m->n_ifg + 1);
  if (!used) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  uint32_t n_used = 0;
  if (tsdir_used_ifgs(ctx, I->t, m, used, &n_used)) return ctx->status;
  if (n_used == 0) {
    return ctx_fail(ctx, CBAS_EDATA, "%s: every interferogram is in 11bad_ifg.txt or 12bad_ifg.txt; nothing to invert",
                    I->t->path);
  }
  I->M = (int)n_used;
  I->ws = malloc(n_used * sizeof *I->ws);
  I->ifg = malloc(n_used * sizeof *I->ifg);
  I->ep = malloc(2 * (size_t)n_used * sizeof *I->ep);
  I->prim = malloc(n_used * sizeof *I->prim);
  I->sec = malloc(n_used * sizeof *I->sec);
  I->ref_mm = malloc(n_used * sizeof *I->ref_mm);
  I->ifg_ss = calloc(n_used, sizeof *I->ifg_ss);
  I->ifg_n = calloc(n_used, sizeof *I->ifg_n);
  if (!I->ws || !I->ifg || !I->ep || !I->prim || !I->sec || !I->ref_mm || !I->ifg_ss || !I->ifg_n)
    return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  uint32_t j = 0;
  for (uint32_t k = 0; k < m->n_ifg; k++)
    if (used[k]) {
      I->ws[j] = k;
      memcpy(I->ifg[j++], m->ifg[k], 18);
    }
  I->N = (int)ifgnet_epochs((const char(*)[18])I->ifg, n_used, I->ep, I->prim, I->sec);
  I->t_yr = malloc((size_t)I->N * sizeof *I->t_yr);
  I->medv = malloc((size_t)I->N * sizeof *I->medv);
  I->refcum = malloc((size_t)I->N * sizeof *I->refcum);
  I->med = calloc((size_t)I->N, sizeof *I->med);
  if (!I->t_yr || !I->medv || !I->refcum || !I->med) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  long d0 = lb_day_number(I->ep[0]);
  for (int i = 0; i < I->N; i++) I->t_yr[i] = (float)((double)(lb_day_number(I->ep[i]) - d0) / 365.25);

  /* coef_r2m = -wavelength/4/np.pi*1000 (Python float), used as float32 against float32 arrays */
  I->wavelength = stack_wavelength_m(m);
  I->coef32 = (float)(-I->wavelength / 4.0 / PI_D * 1000.0);
  double r = I->p->n_unw_r_thre;
  if (r < 0) return ctx_fail(ctx, CBAS_EUSAGE, "--n-unw-r-thre: %g is negative", r);
  if (!(r == r) || r == 0) r = I->wavelength > 0.2 ? 0.5 : 1.0; /* LiCSBAS: 'if not n_unw_r_thre' */
  I->n_unw_thre = (int)(r * I->N);

  /* loops of the used network (n_ifg_noloop) */
  I->n_loop = ifgnet_loops((const char(*)[18])I->ifg, n_used, NULL, 0);
  ifgnet_loop *lp = malloc(((size_t)I->n_loop + 1) * sizeof *lp);
  I->loop_ifg = malloc(((size_t)I->n_loop * 3 + 1) * sizeof *I->loop_ifg);
  if (!lp || !I->loop_ifg) { free(lp); return ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); }
  ifgnet_loops((const char(*)[18])I->ifg, n_used, lp, I->n_loop);
  for (uint32_t l = 0; l < I->n_loop; l++) {
    I->loop_ifg[3 * l] = (int)lp[l].i12;
    I->loop_ifg[3 * l + 1] = (int)lp[l].i23;
    I->loop_ifg[3 * l + 2] = (int)lp[l].i13;
  }
  free(lp);

  if (tsdir_read_ref(ctx, I->t, m, "12ref.txt", &I->ref12[0], &I->ref12[1], &I->ref12[2], &I->ref12[3]))
    return ctx->status;
  return 0;
}

/* ---- memory */

/* Bytes needed once, and per block row (the formula of step_invert.h). */
static void inv_memory(const inv_ctx *I, size_t work_bytes, uint64_t *fixed, uint64_t *per_row) {
  uint64_t W = I->W, N = (uint64_t)I->N, M = (uint64_t)I->M;
  int keep = I->p->keep_incfile;
  uint64_t writers = OUT_N * (8192 + 4 * W) + (N + 1) * W * 4 + 8192 + (keep ? (N - 1 + M) * W * 4 + 16384 : 0);
  *fixed = nsbas_plan_bytes(I->N, I->M) + (uint64_t)I->nt * (work_bytes + I->wstride * 4 + 256) +
           N * (XMED_HIST_WORDS * 4 + 64) + M * 16 + N * 16 + writers;
  *per_row = (uint64_t)I->n_all * W * (I->wls ? 5 : 4) + (N + 1) * W * 4 + OUT_N * W * 4 + M * 12 + W * 4 +
             sizeof(inv_best) + (keep ? (N - 1 + M) * W * 4 : 0);
}

/* ---- pass 1: inversion */

static int p1_row(void *ud, long r, int worker) {
  inv_ctx *I = ud;
  const uint32_t W = I->W;
  const int M = I->M, N = I->N;
  float *d = I->wbuf + (size_t)worker * I->wstride;
  float *var = d + (size_t)M * W;
  float *res = var + (I->wls ? (size_t)M * W : 0);
  const float *ur = I->unw + (size_t)r * I->n_all * W;
  for (int j = 0; j < M; j++) nsbas_unw_to_mm(W, ur + (size_t)I->ws[j] * W, I->coef32, I->ref_mm[j], d + (size_t)j * W);
  if (I->wls) {
    const uint8_t *cr = I->cc + (size_t)r * I->n_all * W;
    for (int j = 0; j < M; j++) {
      const uint8_t *c = cr + (size_t)I->ws[j] * W;
      for (uint32_t x = 0; x < W; x++) var[(size_t)j * W + x] = nsbas_coh_to_var(nsbas_cc_to_coh(c[x]));
    }
  }
  nsbas_in in = {(int)W, W, d, I->wls ? var : NULL, I->p->alg, I->p->route, I->n_unw_thre, (int)I->n_loop, I->loop_ifg};
  size_t plane = (size_t)I->rows * W, o = (size_t)r * W;
  float *crow = I->cum + (size_t)r * I->wrow;
  nsbas_out out;
  memset(&out, 0, sizeof out);
  out.ld = W;
  out.cum = crow;
  out.inc = I->p->keep_incfile ? I->inc + (size_t)r * (N - 1) * W : NULL;
  out.vel = I->out + O_VEL * plane + o;
  out.vintercept = I->out + O_VINT * plane + o;
  out.resid_rms = I->out + O_RMS * plane + o;
  out.n_gap = crow + (size_t)N * W;
  out.n_ifg_noloop = I->out + O_NOLOOP * plane + o;
  out.maxTlen = I->out + O_TLEN * plane + o;
  out.resid = I->p->keep_incfile ? I->res + (size_t)r * M * W : res;
  if (nsbas_invert(I->ctx, &I->work[worker], &in, &out)) return I->ctx->status;
  memcpy(I->out + O_NGAP * plane + o, out.n_gap, (size_t)W * 4);
  /* 13resid.txt: sum of res**2 (float32 squares, as NumPy) per ifg over the row, in double */
  for (int j = 0; j < M; j++) {
    const float *rr = out.resid + (size_t)j * W;
    double s = 0;
    uint32_t c = 0;
    for (uint32_t x = 0; x < W; x++)
      if (rr[x] == rr[x]) {
        float q = rr[x] * rr[x];
        s += q;
        c++;
      }
    I->rss[(size_t)r * M + j] = s;
    I->rn[(size_t)r * M + j] = c;
  }
  return 0;
}

/* Median histograms of one epoch over the rows of the block (item = epoch). */
static int med_epoch(void *ud, long i, int worker) {
  (void)worker;
  inv_ctx *I = ud;
  if (xmed_done(&I->med[i])) return 0;
  for (uint32_t r = 0; r < I->ny; r++) xmed_add(&I->med[i], I->cum + (size_t)r * I->wrow + (size_t)i * I->W, I->W);
  return 0;
}

static int pass_invert_rows(inv_ctx *I, gt_writer **g, gt_writer *ginc, gt_writer *gres, int M, int N, uint32_t W,
                            progress *bar);
static int pass_invert(inv_ctx *I, gt_writer **g, gt_writer *ginc, gt_writer *gres) {
  cbas_ctx *ctx = I->ctx;
  const uint32_t W = I->W;
  const int M = I->M, N = I->N;
  progress *bar = progress_start(ctx, "invert pass 1", I->L); /* NULL (no-op) unless stderr is a terminal */
  int st = pass_invert_rows(I, g, ginc, gres, M, N, W, bar);
  progress_end(bar);
  return st;
}

static int pass_invert_rows(inv_ctx *I, gt_writer **g, gt_writer *ginc, gt_writer *gres, int M, int N, uint32_t W,
                            progress *bar) {
  cbas_ctx *ctx = I->ctx;
  for (I->y0 = 0; I->y0 < I->L; I->y0 += I->rows) {
    I->ny = I->L - I->y0 < I->rows ? I->L - I->y0 : I->rows;
    progress_add(bar, I->ny);
    if (tsdir_read_unw(ctx, I->s, I->y0, I->ny, I->unw)) return ctx->status;
    if (I->wls && tsdir_read_cc(ctx, I->s, I->y0, I->ny, I->cc)) return ctx->status;
    if (par_for(ctx, I->ny, p1_row, I)) return ctx->status;
    for (uint32_t r = 0; r < I->ny; r++) {
      for (int j = 0; j < M; j++) {
        I->ifg_ss[j] += I->rss[(size_t)r * M + j];
        I->ifg_n[j] += I->rn[(size_t)r * M + j];
      }
      const float *ng = I->cum + (size_t)r * I->wrow + (size_t)N * W;
      for (uint32_t x = 0; x < W; x++)
        if (ng[x] == ng[x] && (!I->have_ngap || ng[x] < I->ngap_min)) {
          I->ngap_min = ng[x];
          I->have_ngap = 1;
        }
    }
    if (par_for(ctx, N, med_epoch, I)) return ctx->status;
    size_t plane = (size_t)I->rows * W;
    for (int q = 0; q < OUT_N; q++)
      if (gt_write_rows(ctx, g[q], I->ny, I->out + q * plane, W, 0)) return ctx->status;
    if (ginc && gt_write_rows(ctx, ginc, I->ny, I->inc, (size_t)(N - 1) * W, W)) return ctx->status;
    if (gres && gt_write_rows(ctx, gres, I->ny, I->res, (size_t)M * W, W)) return ctx->status;
    if (afile_write(ctx, &I->wf, I->cum, (size_t)I->ny * I->wrow * 4)) return ctx->status;
    I->n_block++;
  }
  return 0;
}

/* ---- passes over the work file */

static int read_work(inv_ctx *I, uint32_t y0, uint32_t ny, float *dst) {
  size_t bytes = (size_t)ny * I->wrow * 4, got = 0;
  int e = plat_pread(I->wf.fd, dst, bytes, (uint64_t)y0 * I->wrow * 4, &got);
  if (e || got != bytes)
    return ctx_fail(I->ctx, CBAS_EIO, "%s: read of rows %u+%u failed: %s", I->wf.tmp, y0, ny,
                    e ? plat_strerror(e) : "short read");
  return 0;
}

/* Runs fn over the rows of every block of the work file (after = per-block step, may be NULL);
 * a progress bar `label` counts the rows (terminal only). */
static int work_sweep(inv_ctx *I, const char *label, par_fn fn, long (*items)(const inv_ctx *),
                      int (*after)(inv_ctx *, void *), void *aud) {
  cbas_ctx *ctx = I->ctx;
  progress *bar = progress_start(ctx, label, I->L);
  int st = 0;
  for (I->y0 = 0; !st && I->y0 < I->L; I->y0 += I->rows) {
    I->ny = I->L - I->y0 < I->rows ? I->L - I->y0 : I->rows;
    st = read_work(I, I->y0, I->ny, I->cum) || par_for(ctx, items(I), fn, I) || (after && after(I, aud));
    if (!st) progress_add(bar, I->ny);
  }
  progress_end(bar);
  return st && ctx->status ? (int)ctx->status : st;
}
static long items_epochs(const inv_ctx *I) { return I->N; }
static long items_rows(const inv_ctx *I) { return I->ny; }

/* Pass 4 row: rms_cum_wrt_med masked to min n_gap, and its first minimum. */
static int rms_row(void *ud, long r, int worker) {
  (void)worker;
  inv_ctx *I = ud;
  const float *c = I->cum + (size_t)r * I->wrow;
  float *rms = I->rms + (size_t)r * I->W;
  tsfilt_rms_row(c, I->W, I->N, I->medv, NULL, c + (size_t)I->N * I->W, I->ngap_min, I->W, rms);
  inv_best b = {NAN, -1};
  for (uint32_t x = 0; x < I->W; x++)
    if (rms[x] == rms[x] && (b.x < 0 || rms[x] < b.v)) { b.v = rms[x]; b.x = (long)x; }
  I->best[r] = b;
  return 0;
}

typedef struct { gt_writer *g; inv_best best; long idx; } inv_p4;

static int rms_after(inv_ctx *I, void *ud) {
  inv_p4 *q = ud;
  for (uint32_t r = 0; r < I->ny; r++) {
    inv_best b = I->best[r];
    if (b.x >= 0 && (q->idx < 0 || b.v < q->best.v)) {
      q->best = b;
      q->idx = (long)(I->y0 + r) * (long)I->W + b.x;
    }
  }
  return gt_write_rows(I->ctx, q->g, I->ny, I->rms, I->W, 0);
}

static int ref_row(void *ud, long r, int worker) {
  (void)worker;
  inv_ctx *I = ud;
  float *c = I->cum + (size_t)r * I->wrow;
  for (int i = 0; i < I->N; i++) {
    float rc = I->refcum[i];
    float *p = c + (size_t)i * I->W;
    for (uint32_t x = 0; x < I->W; x++) p[x] = p[x] - rc;
  }
  return 0;
}

static int cum_after(inv_ctx *I, void *ud) {
  return gt_write_rows(I->ctx, (gt_writer *)ud, I->ny, I->cum, I->wrow, I->W);
}

/* ---- reports */

static int write_reports(inv_ctx *I, uint32_t n_bad) {
  cbas_ctx *ctx = I->ctx;
  const stack_meta *m = I->m;
  char path[1200], wl[48], gm[48];
  tsdir_text x = {0};
  for (int i = 0; i < I->N; i++) tsdir_text_printf(&x, "%s\n", I->ep[i]);
  if (tsdir_file(ctx, I->t, TSDIR_INFO, "13used_image.txt", path, sizeof path) || tsdir_text_put(ctx, &x, path))
    return ctx->status;

  double psr, psa;
  tsfilt_pixel_spacing(m->corner_lat, m->post_lat, m->post_lon, m->length, &psr, &psa);
  lb_pyfloat(wl, sizeof wl, I->wavelength);
  lb_pyfloat(gm, sizeof gm, I->p->gamma);
  tsdir_text_printf(&x, "range_samples:  %u\nazimuth_lines:  %u\nwavelength:     %s\n", m->width, m->length, wl);
  tsdir_text_printf(&x, "n_im_all:       %u\nn_im:           %d\n", m->n_epoch, I->N);
  tsdir_text_printf(&x, "n_ifg_all:      %u\nn_ifg:          %d\nn_ifg_bad:      %u\n", m->n_ifg, I->M, n_bad);
  tsdir_text_printf(&x, "n_unw_thre:     %d\n", I->n_unw_thre);
  tsdir_text_printf(&x, "ref_area:       %u:%u/%u:%u\n", I->ref12[0], I->ref12[1], I->ref12[2], I->ref12[3]);
  tsdir_text_printf(&x, "memory_size:    %llu MB\n", (unsigned long long)(ctx->budget->limit >> 20));
  tsdir_text_printf(&x, "n_patch:        %u\n", I->n_block);
  tsdir_text_printf(&x, "inv_alg:        %s\ngamma:          %s\n", I->p->alg_name, gm);
  tsdir_text_printf(&x, "pixel_spacing_r: %.2f m\npixel_spacing_a: %.2f m\n", psr, psa);
  if (tsdir_file(ctx, I->t, TSDIR_INFO, "13parameters.txt", path, sizeof path) || tsdir_text_put(ctx, &x, path))
    return ctx->status;

  tsdir_text_printf(&x, "# RMS of residual (mm)\n");
  for (int j = 0; j < I->M; j++) {
    char b[32];
    float ms = I->ifg_n[j] ? (float)(I->ifg_ss[j] / (double)I->ifg_n[j]) : NAN;
    tsdir_text_printf(&x, "%s %s\n", I->ifg[j], tsdir_fmt_f(b, sizeof b, 5, 2, sqrtf(ms)));
  }
  if (tsdir_file(ctx, I->t, TSDIR_INFO, "13resid.txt", path, sizeof path) || tsdir_text_put(ctx, &x, path))
    return ctx->status;
  return 0;
}

static int write_ref13(inv_ctx *I, uint32_t rx, uint32_t ry) {
  cbas_ctx *ctx = I->ctx;
  char path[1200], txt[128], la[48], lo[48];
  int n = snprintf(txt, sizeof txt, "%u:%u/%u:%u\n", rx, rx + 1, ry, ry + 1);
  if (tsdir_file(ctx, I->t, TSDIR_INFO, "13ref.txt", path, sizeof path) || afile_put(ctx, path, txt, (size_t)n))
    return ctx->status;
  /* io_lib.make_point_kml(lat1 + dlat*y, lon1 + dlon*x) */
  lb_pyfloat(la, sizeof la, I->m->corner_lat + I->m->post_lat * ry);
  lb_pyfloat(lo, sizeof lo, I->m->corner_lon + I->m->post_lon * rx);
  tsdir_text x = {0};
  tsdir_text_printf(&x,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n"
                    "<Document><Placemark><Point>\n<coordinates>%s,%s</coordinates>\n</Point></Placemark></Document>\n"
                    "</kml>\n", lo, la);
  if (tsdir_file(ctx, I->t, TSDIR_INFO, "13ref.kml", path, sizeof path) || tsdir_text_put(ctx, &x, path))
    return ctx->status;
  return 0;
}

/* Opens a multi-band GeoTIFF under TSDIR/sub/ (created if missing) for --keep-incfile. */
static int keep_writer(inv_ctx *I, const char *sub, const char *name, uint32_t bands, const char *const *desc,
                       gt_writer **g) {
  char dir[1200];
  if (tsdir_file(I->ctx, I->t, sub, "", dir, sizeof dir)) return I->ctx->status;
  int e = plat_mkdir_p(dir);
  if (e) return ctx_fail(I->ctx, CBAS_EIO, "%s: cannot create: %s", dir, plat_strerror(e));
  return tsdir_result_create(I->ctx, I->t, I->m, sub, name, bands, desc, g);
}

/* ---- the step */

/* Releases every budgeted buffer (safe to call twice). */
#define INV_RELEASE(ptr) do { budget_free(ctx, ptr); (ptr) = NULL; } while (0)
static void inv_free_buffers(inv_ctx *I) {
  cbas_ctx *ctx = I->ctx;
  INV_RELEASE(I->plan_mem); INV_RELEASE(I->wmem); INV_RELEASE(I->wbuf); INV_RELEASE(I->unw);
  INV_RELEASE(I->cc); INV_RELEASE(I->cum); INV_RELEASE(I->out); INV_RELEASE(I->inc); INV_RELEASE(I->res);
  INV_RELEASE(I->rss); INV_RELEASE(I->rn); INV_RELEASE(I->rms); INV_RELEASE(I->best); INV_RELEASE(I->hist);
}
#undef INV_RELEASE

static void inv_free(inv_ctx *I) {
  if (I->wf_open) afile_abort(&I->wf);
  inv_free_buffers(I);
  free(I->work);
  free(I->used); free(I->ws); free(I->ifg); free(I->ep); free(I->prim); free(I->sec); free(I->t_yr); free(I->ref_mm);
  free(I->ifg_ss); free(I->ifg_n); free(I->med); free(I->medv); free(I->refcum); free(I->loop_ifg);
}

int inv_run(cbas_ctx *ctx, const tsdir *t, const stack *s, const inv_params *p, inv_summary *out) {
  inv_ctx I;
  memset(&I, 0, sizeof I);
  I.ctx = ctx; I.t = t; I.s = s; I.m = stack_get_meta(s); I.p = p;
  I.W = I.m->width; I.L = I.m->length; I.n_all = I.m->n_ifg;
  I.wls = p->alg == NSBAS_WLS;
  I.nt = ctx->n_threads < 1 ? 1 : ctx->n_threads;
  gt_writer *g[OUT_N] = {NULL}, *ginc = NULL, *gres = NULL, *grms = NULL, *gcum = NULL;
  const char **desc = NULL;
  uint32_t n_bad = 0;
  if (out) memset(out, 0, sizeof *out);
  if (inv_setup(&I) || read_bad_count(&I, &n_bad)) goto done;
  const int N = I.N, M = I.M;
  const uint32_t W = I.W;
  I.wrow = (size_t)(N + 1) * W;

  /* plan, then the memory formula */
  size_t plan_bytes = nsbas_plan_bytes(N, M);
  if (budget_require(ctx, plan_bytes, "cbas invert: NSBAS plan")) goto done;
  I.plan_mem = budget_alloc(ctx, plan_bytes, "cbas invert: NSBAS plan");
  nsbas_net net = {N, M, I.prim, I.sec, I.t_yr};
  if (!I.plan_mem || nsbas_plan_init(ctx, &I.plan, I.plan_mem, plan_bytes, &net, p->gamma)) goto done;
  size_t work_bytes = (nsbas_work_bytes(&I.plan) + 63) & ~(size_t)63;
  I.wstride = (size_t)M * W * (I.wls ? 3 : 2);
  uint64_t fixed, per_row;
  inv_memory(&I, work_bytes, &fixed, &per_row);
  if (budget_require(ctx, TSDIR_NETWORK_PNG_BYTES, "cbas invert: network figures") ||
      tsdir_block_rows_max(ctx, I.L, fixed - plan_bytes, per_row, p->max_block_rows, "cbas invert", &I.rows))
    goto done;
  I.work = calloc((size_t)I.nt, sizeof *I.work);
  char *wmem = budget_alloc(ctx, (size_t)I.nt * work_bytes, "cbas invert: NSBAS workspaces");
  I.wmem = wmem;
  if (!I.work || !wmem) { if (!I.work) ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); goto done; }
  for (int w = 0; w < I.nt; w++)
    if (nsbas_work_init(ctx, &I.work[w], &I.plan, wmem + (size_t)w * work_bytes, work_bytes)) goto done;
  I.wbuf = budget_alloc(ctx, (size_t)I.nt * I.wstride * 4, "cbas invert: worker rows");
  I.unw = budget_alloc(ctx, (size_t)I.rows * I.n_all * W * 4, "cbas invert: unw block");
  if (I.wls) I.cc = budget_alloc(ctx, (size_t)I.rows * I.n_all * W, "cbas invert: cc block");
  I.cum = budget_alloc(ctx, (size_t)I.rows * I.wrow * 4, "cbas invert: cum block");
  I.out = budget_alloc(ctx, (size_t)OUT_N * I.rows * W * 4, "cbas invert: result rows");
  if (p->keep_incfile) {
    I.inc = budget_alloc(ctx, (size_t)I.rows * (N - 1) * W * 4, "cbas invert: increment rows");
    I.res = budget_alloc(ctx, (size_t)I.rows * M * W * 4, "cbas invert: residual rows");
  }
  I.rss = budget_alloc(ctx, (size_t)I.rows * M * 8, "cbas invert: residual sums");
  I.rn = budget_alloc(ctx, (size_t)I.rows * M * 4, "cbas invert: residual counts");
  I.rms = budget_alloc(ctx, (size_t)I.rows * W * 4, "cbas invert: rms rows");
  I.best = budget_alloc(ctx, (size_t)I.rows * sizeof *I.best, "cbas invert: reference search");
  I.hist = budget_alloc(ctx, (size_t)N * XMED_HIST_WORDS * 4, "cbas invert: median histograms");
  if (ctx->status) goto done;
  for (int i = 0; i < N; i++) xmed_init(&I.med[i], I.hist + (size_t)i * XMED_HIST_WORDS);
  if (reference_phases(&I)) goto done;
  ctx_info(ctx, "cbas invert: %d ifgs, %d epochs, %u loops, %s, gamma %g, n_unw_thre %d; blocks of %u rows\n", M, N,
           I.n_loop, p->alg_name, p->gamma, I.n_unw_thre, I.rows);

  /* ---- pass 1 */
  for (int q = 0; q < OUT_N; q++)
    if (tsdir_result_create(ctx, t, I.m, NULL, OUT_NAMES[q], 1, NULL, &g[q])) goto done;
  desc = malloc(((size_t)N + M) * sizeof *desc);
  char (*incname)[18] = malloc((size_t)N * sizeof *incname);
  if (!desc || !incname) { free(incname); ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); goto done; }
  if (p->keep_incfile) {
    for (int i = 0; i + 1 < N; i++) {
      snprintf(incname[i], 18, "%s_%s", I.ep[i], I.ep[i + 1]);
      desc[i] = incname[i];
    }
    if (keep_writer(&I, "13increment", "increment", (uint32_t)N - 1, desc, &ginc)) { free(incname); goto done; }
    for (int j = 0; j < M; j++) desc[j] = I.ifg[j];
    if (keep_writer(&I, "13resid", "resid", (uint32_t)M, desc, &gres)) { free(incname); goto done; }
  }
  free(incname);
  if (tsdir_work_create(ctx, t, "13cum.f32", &I.wf)) goto done;
  I.wf_open = 1;
  double t0 = plat_now();
  if (pass_invert(&I, g, ginc, gres)) goto done;
  long nr[7] = {0};
  for (int w = 0; w < I.nt; w++) {
    nsbas_work *k = &I.work[w];
    nr[NSBAS_R_SKIP] += k->n_skip; nr[NSBAS_R_FULL] += k->n_full; nr[NSBAS_R_DOWNDATE] += k->n_downdate;
    nr[NSBAS_R_FACTOR] += k->n_factor; nr[NSBAS_R_CACHED] += k->n_cached; nr[NSBAS_R_EACH] += k->n_each;
    nr[NSBAS_R_FAILED] += k->n_failed;
  }
  long n_inv = (long)I.L * (long)W - nr[NSBAS_R_SKIP];
  ctx_info(ctx, "cbas invert: %ld of %ld pixels inverted (full %ld, downdated %ld, factored %ld, cached %ld, each %ld, "
           "failed %ld) in %.2f s\n", n_inv, (long)I.L * (long)W, nr[1], nr[2], nr[3], nr[4], nr[5], nr[6],
           plat_now() - t0);
  if (!I.have_ngap) {
    ctx_fail(ctx, CBAS_EDATA, "%s: no pixel has more than n_unw_thre = %d valid interferograms; nothing was inverted "
             "(lower --n-unw-r-thre)", t->path, I.n_unw_thre);
    goto done;
  }

  /* ---- passes 2-3: the remaining median levels */
  for (int pass = 2;; pass++) {
    int more = 0;
    for (int i = 0; i < N; i++) {
      if (!xmed_done(&I.med[i])) xmed_next(&I.med[i]);
      more |= !xmed_done(&I.med[i]);
    }
    if (!more) break;
    char label[32];
    snprintf(label, sizeof label, "invert pass %d", pass);
    if (work_sweep(&I, label, med_epoch, items_epochs, NULL, NULL)) goto done;
  }
  for (int i = 0; i < N; i++) I.medv[i] = xmed_median(&I.med[i]);

  /* ---- pass 4: rms_cum_wrt_med and 13ref */
  inv_p4 q4 = {NULL, {NAN, -1}, -1};
  if (tsdir_result_create(ctx, t, I.m, TSDIR_INFO, "13rms_cum_wrt_med", 1, NULL, &grms)) goto done;
  q4.g = grms;
  if (work_sweep(&I, "invert pass 4", rms_row, items_rows, rms_after, &q4)) goto done;
  if (q4.idx < 0) {
    ctx_fail(ctx, CBAS_EDATA, "%s: no pixel with the fewest gaps (n_gap %g) has a complete time series: no stable "
             "reference (13ref) can be chosen", t->path, (double)I.ngap_min);
    goto done;
  }
  uint32_t rx = (uint32_t)(q4.idx % (long)W), ry = (uint32_t)(q4.idx / (long)W);
  if (read_work(&I, ry, 1, I.cum)) goto done;
  for (int i = 0; i < N; i++) I.refcum[i] = I.cum[(size_t)i * W + rx];

  /* ---- pass 5: cum.tif referenced to 13ref */
  for (int i = 0; i < N; i++) desc[i] = I.ep[i];
  if (tsdir_result_create(ctx, t, I.m, NULL, "cum", (uint32_t)N, desc, &gcum)) goto done;
  if (work_sweep(&I, "invert pass 5", ref_row, items_rows, cum_after, gcum)) goto done;

  /* ---- reports and commit; then the network figures (11bad/12bad marked), drawn once every
   * block, workspace and writer strip is released, so the budget checked before the work
   * (TSDIR_NETWORK_PNG_BYTES) is free again */
  if (write_reports(&I, n_bad) || write_ref13(&I, rx, ry)) goto done;
  gt_writer **all[OUT_N + 4] = {&g[0], &g[1], &g[2], &g[3], &g[4], &g[5], &ginc, &gres, &grms, &gcum};
  for (int q = 0; q < OUT_N + 4; q++) {
    gt_writer *x = *all[q];
    *all[q] = NULL;
    if (x && gt_commit(ctx, x)) goto done;
  }
  if (p->keep_work) {
    I.wf_open = 0;
    if (afile_commit(ctx, &I.wf)) goto done;
  }
  inv_free_buffers(&I);
  for (uint32_t k = 0; k < I.n_all; k++) I.used[k] = !I.used[k];
  if (tsdir_network_pngs(ctx, t, I.m, 13, NULL, I.used)) goto done;
  ctx_info(ctx, "cbas invert: stable reference (13ref) %u:%u/%u:%u, rms of cum wrt median %g mm\n", rx, rx + 1, ry,
           ry + 1, (double)q4.best.v);
  if (out) {
    out->n_im = (uint32_t)N;
    out->n_ifg = (uint32_t)M;
    out->n_unw_thre = I.n_unw_thre;
    out->ref12_x = I.ref12[0];
    out->ref12_y = I.ref12[2];
    out->ref_x = rx;
    out->ref_y = ry;
    out->block_rows = I.rows;
    out->n_block = I.n_block;
    memcpy(out->n_route, nr, sizeof nr);
  }
done:
  for (int q = 0; q < OUT_N; q++) gt_abort(ctx, g[q]);
  gt_abort(ctx, ginc);
  gt_abort(ctx, gres);
  gt_abort(ctx, grms);
  gt_abort(ctx, gcum);
  free(desc);
  inv_free(&I);
  return ctx->status;
}

static int inv_cmd_run(cbas_ctx *ctx, const tsdir *t, stack *s, const tsdir_pvals *v, void *ud) {
  (void)ud;
  inv_params p;
  if (inv_params_from(ctx, v, &p)) return ctx->status;
  return inv_run(ctx, t, s, &p, NULL);
}

int cmd_invert(int argc, char **argv) {
  static const tsdir_cmd_spec spec = {
      "invert", 13,
      "LiCSBAS step 13: NSBAS small-baseline inversion (gamma temporal constraint, LS or WLS) of the\n"
      "ifgs not in 11bad/12bad, referenced to info/12ref.txt. Writes results/cum.tif (mm per epoch,\n"
      "13ref-referenced), vel.tif, vintercept.tif, resid_rms.tif, n_gap.tif, n_ifg_noloop.tif,\n"
      "maxTlen.tif and info/13*.txt. Needs cbas check and cbas loop first.",
      0, NULL, 0, inv_cmd_run, NULL};
  return tsdir_cmd_main(argc, argv, &spec);
}
