/* step_vstd.c — `cbas vstd`, LiCSBAS step 14: bootstrap vstd with LiCSBAS's patch semantics
 * and STC, streamed from results/cum.tif in row blocks (see include/cbas/step_vstd.h). */
#include "cbas/step_vstd.h"
#include "cbas/budget.h"
#include "cbas/licsbas.h"
#include "cbas/nsbas.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include "cbas/progress.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G_ VSTD_GROUP
#define B_ NSBAS_BOOT

/* LU of one draw's 2x2 normal matrix (dgesv's partial pivoting), shared by every pixel with the
 * same valid epochs. */
typedef struct vs_lu { double l, u11; uint8_t swap, sing; } vs_lu;

typedef struct vs_entry {
  uint64_t *mask;       /* valid epochs */
  vs_lu *lu;            /* [B_] */
  int used;
} vs_entry;

typedef struct vs_worker {
  float *yz;            /* [N][Wp] the row's cum with NaN -> 0 */
  float *sy, *sty;      /* [B_][G_] */
  float *vel;           /* [B_] */
  uint64_t *key;        /* [words] */
  vs_entry cache[VSTD_CACHE];
  int next;
} vs_worker;

typedef struct vs_ctx {
  cbas_ctx *ctx;
  const tsdir *t;
  const stack_meta *m;
  gt_reader *rd;
  uint32_t W, L, Wp;
  int N, words;
  float *t_yr;
  int *idx;             /* [B_][N] draws */
  uint32_t n_patch, prow;
  uint8_t *pflag;       /* [n_patch][B_] void flags */
  uint8_t *rflag;       /* [rows][B_] */
  vs_worker *wk;
  int nt;
  uint32_t rows, y0, ny, ys, nys;  /* block, and the rows held (with halo) */
  float *buf;           /* [rows+2][N][W] */
  float *vstd, *stc;    /* [rows][W] */
  long n_pix;
} vs_ctx;

void vstd_params_from(const tsdir_pvals *v, vstd_params *p) {
  memset(p, 0, sizeof *p);
  p->patch_mem_mb = v->num[TSP_P14_MEM_SIZE];
  p->max_block_rows = v->block_rows;
}

int vstd_patches(cbas_ctx *ctx, uint32_t width, uint32_t length, int n_epoch, double patch_mem_mb, uint32_t *n_patch,
                 uint32_t *patch_rows) {
  if (!(patch_mem_mb > 0) || !isfinite(patch_mem_mb))
    return ctx_fail(ctx, CBAS_EUSAGE, "--mem-size: %g MB, must be positive", patch_mem_mb);
  /* get_patchrow: data_size = width*length*n_data*4/2**20; n_patch = ceil(data_size/mem);
   * rowspacing = ceil(length/n_patch) (Python floats) */
  double n_data = n_epoch * 2.25 + 100;
  double size = (double)((uint64_t)width * length) * n_data * 4 / 1048576.0;
  double np_ = ceil(size / patch_mem_mb);
  if (np_ < 1) np_ = 1;
  if (np_ > length) np_ = length;   /* more patches than rows: LiCSBAS fails; each row its own */
  *n_patch = (uint32_t)np_;
  *patch_rows = (uint32_t)ceil((double)length / np_);
  return 0;
}

static uint32_t patch_of(const vs_ctx *V, uint32_t y) {
  uint32_t p = y / V->prow;
  return p < V->n_patch ? p : V->n_patch - 1;
}

/* ---- per validity pattern */

/* The LU of every draw for the valid epochs in key (nsbas_boot_pixel's sums of 1, t, t^2). */
static void factor_pattern(const vs_ctx *V, const uint64_t *key, vs_lu *lu) {
  const int N = V->N;
  for (int b = 0; b < B_; b++) {
    const int *x = V->idx + (size_t)b * N;
    float n = 0, st = 0, stt = 0;
    for (int s = 0; s < N; s++) {
      int e = x[s];
      if (!((key[e >> 6] >> (e & 63)) & 1)) continue;
      float t = V->t_yr[e];
      n = n + 1.0f;
      st = st + t;
      stt = stt + t * t;
    }
    double a00 = n, a01 = st, a10 = st, a11 = stt;
    uint8_t swap = 0;
    if (fabs(a10) > fabs(a00)) {
      double t0 = a00; a00 = a10; a10 = t0;
      t0 = a01; a01 = a11; a11 = t0;
      swap = 1;
    }
    double l = 0, u11 = 0;
    int sing = a00 == 0;
    if (!sing) {
      l = a10 * (1.0 / a00);
      u11 = a11 - a01 * l;
      sing = u11 == 0;
    }
    lu[b] = (vs_lu){l, u11, swap, (uint8_t)sing};
  }
}

/* Validity pattern of pixel x of a row ([N][W] planes) into w->key; the cached LU for it. */
static const vs_lu *pattern_lu(const vs_ctx *V, vs_worker *w, const float *row, uint32_t x) {
  memset(w->key, 0, (size_t)V->words * 8);
  for (int i = 0; i < V->N; i++)
    if (row[(size_t)i * V->W + x] == row[(size_t)i * V->W + x]) w->key[i >> 6] |= 1ull << (i & 63);
  for (int c = 0; c < VSTD_CACHE; c++)
    if (w->cache[c].used && !memcmp(w->cache[c].mask, w->key, (size_t)V->words * 8)) return w->cache[c].lu;
  vs_entry *e = &w->cache[w->next];
  w->next = (w->next + 1) % VSTD_CACHE;
  memcpy(e->mask, w->key, (size_t)V->words * 8);
  factor_pattern(V, w->key, e->lu);
  e->used = 1;
  return e->lu;
}

/* ---- reading cum.tif */

/* Rows [y0, y0+ny) of every band into dst[r][N][W] (gt_read_bands: each strip decoded once,
 * strips inflated in parallel). */
static int read_rows(vs_ctx *V, uint32_t y0, uint32_t ny, float *dst) {
  return gt_read_bands(V->ctx, V->rd, 0, (uint32_t)V->N, 0, y0, V->W, ny, GT_F32, dst, (size_t)V->N * V->W, V->W);
}

/* ---- pass 1: void flags */

static int flags_row(void *ud, long r, int worker) {
  vs_ctx *V = ud;
  vs_worker *w = &V->wk[worker];
  const float *row = V->buf + (size_t)r * V->N * V->W;
  uint8_t *f = V->rflag + (size_t)r * B_;
  memset(f, 0, B_);
  for (uint32_t x = 0; x < V->W; x++) {
    if (row[x] != row[x]) continue;       /* cum_0 NaN: not in the bootstrap */
    const vs_lu *lu = pattern_lu(V, w, row, x);
    for (int b = 0; b < B_; b++) f[b] |= lu[b].sing;
  }
  return 0;
}

/* ---- pass 2: vstd and STC */

static int vstd_row(void *ud, long r, int worker) {
  vs_ctx *V = ud;
  vs_worker *w = &V->wk[worker];
  const uint32_t W = V->W, Wp = V->Wp;
  const int N = V->N;
  uint32_t y = V->y0 + (uint32_t)r;
  const float *row = V->buf + (size_t)(y - V->ys) * N * W;
  const float *up = y > 0 ? row - (size_t)N * W : NULL;
  const float *down = y + 1 < V->L ? row + (size_t)N * W : NULL;
  nsbas_stc_row(N, (int)W, W, up, row, down, V->stc + (size_t)r * W);

  float *out = V->vstd + (size_t)r * W;
  for (int i = 0; i < N; i++) {
    const float *src = row + (size_t)i * W;
    float *dz = w->yz + (size_t)i * Wp;
    for (uint32_t x = 0; x < W; x++) dz[x] = src[x] == src[x] ? src[x] : 0.0f;
  }
  const uint8_t *void_ = V->pflag + (size_t)patch_of(V, y) * B_;
  for (uint32_t x0 = 0; x0 < W; x0 += G_) {
    int any = 0;
    for (uint32_t j = 0; j < G_ && x0 + j < W; j++) any |= row[x0 + j] == row[x0 + j];
    if (!any) {
      for (uint32_t j = 0; j < G_ && x0 + j < W; j++) out[x0 + j] = NAN;
      continue;
    }
    /* the data sums of nsbas_boot_pixel for G_ pixels at once: sy += y, sty += t*y in draw
     * order; NaN epochs read as +0, which leaves a float32 sum that never is -0 unchanged */
    for (int b = 0; b < B_; b++) {
      const int *ix = V->idx + (size_t)b * N;
      float sy[G_], sty[G_];
      for (int j = 0; j < G_; j++) sy[j] = sty[j] = 0.0f;
      for (int s = 0; s < N; s++) {
        int e = ix[s];
        const float *ye = w->yz + (size_t)e * Wp + x0;
        float te = V->t_yr[e];
        for (int j = 0; j < G_; j++) {
          sy[j] = sy[j] + ye[j];
          sty[j] = sty[j] + te * ye[j];
        }
      }
      memcpy(w->sy + (size_t)b * G_, sy, sizeof sy);
      memcpy(w->sty + (size_t)b * G_, sty, sizeof sty);
    }
    for (uint32_t j = 0; j < G_ && x0 + j < W; j++) {
      uint32_t x = x0 + j;
      if (row[x] != row[x]) { out[x] = NAN; continue; }
      const vs_lu *lu = pattern_lu(V, w, row, x);
      for (int b = 0; b < B_; b++) {
        const vs_lu *f = &lu[b];
        double b0 = w->sy[(size_t)b * G_ + j], b1 = w->sty[(size_t)b * G_ + j];
        if (f->swap) { double t0 = b0; b0 = b1; b1 = t0; }
        w->vel[b] = f->sing ? NAN : (float)((b1 - b0 * f->l) / f->u11);
      }
      out[x] = nsbas_boot_std(B_, w->vel, void_);
    }
  }
  return 0;
}

/* ---- the step */

static void vstd_memory(const vs_ctx *V, uint64_t *fixed, uint64_t *per_row) {
  uint64_t W = V->W, N = (uint64_t)V->N;
  uint64_t worker = 4 * N * V->Wp + (uint64_t)B_ * G_ * 8 + B_ * 4 + (uint64_t)V->words * 8 +
                    VSTD_CACHE * ((uint64_t)B_ * sizeof(vs_lu) + (uint64_t)V->words * 8 + 128) + 512;
  uint64_t strip = 4 * N * W > 8192 ? 4 * N * W : 8192;
  *fixed = (uint64_t)B_ * N * 4 + (uint64_t)V->n_patch * B_ + (uint64_t)V->nt * worker + 2 * 4 * N * W + strip +
           2 * (8192 + 4 * W) + 4 * N;
  *per_row = 4 * N * W + 8 * W + B_;
}

int vstd_run(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const vstd_params *p, vstd_summary *out) {
  vs_ctx V;
  memset(&V, 0, sizeof V);
  V.ctx = ctx; V.t = t; V.m = m;
  V.W = m->width; V.L = m->length;
  V.nt = ctx->n_threads < 1 ? 1 : ctx->n_threads;
  gt_writer *gv = NULL, *gs = NULL;
  void *wmem = NULL;
  progress *bar = NULL; /* rows of the current pass; NULL (no-op) unless stderr is a terminal */
  if (out) memset(out, 0, sizeof *out);
  if (tsdir_result_open(ctx, t, m, NULL, "cum", "invert", &V.rd)) return ctx->status;
  const gt_info *gi = gt_get_info(V.rd);
  V.N = (int)gi->bands;
  if (V.N < 2) {
    ctx_fail(ctx, CBAS_EFORMAT, "%s: %d band(s); a time series needs at least 2 epochs", gt_path(V.rd), V.N);
    goto done;
  }
  const int N = V.N;
  V.words = (N + 63) / 64;
  V.Wp = (V.W + G_ - 1) / G_ * G_;
  V.t_yr = malloc((size_t)N * sizeof *V.t_yr);
  if (!V.t_yr) { ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); goto done; }
  long d0 = 0;
  for (int i = 0; i < N; i++) {
    const char *d = gt_band_desc(V.rd, (uint32_t)i);
    if (!d || strlen(d) != 8 || !lb_valid_date(d)) {
      ctx_fail(ctx, CBAS_EFORMAT, "%s: band %d has no date YYYYMMDD as its description (not written by cbas invert?)",
               gt_path(V.rd), i + 1);
      goto done;
    }
    long dn = lb_day_number(d);
    if (i == 0) d0 = dn;
    V.t_yr[i] = (float)((double)(dn - d0) / 365.25);
    if (i > 0 && !(V.t_yr[i] > V.t_yr[i - 1])) {
      ctx_fail(ctx, CBAS_EFORMAT, "%s: band %d date %s is not after the previous band's", gt_path(V.rd), i + 1, d);
      goto done;
    }
  }
  if (vstd_patches(ctx, V.W, V.L, N, p->patch_mem_mb, &V.n_patch, &V.prow)) goto done;

  uint64_t fixed, per_row;
  vstd_memory(&V, &fixed, &per_row);
  if (tsdir_block_rows_max(ctx, V.L, fixed, per_row, p->max_block_rows, "cbas vstd", &V.rows)) goto done;
  V.idx = budget_alloc(ctx, (size_t)B_ * N * sizeof *V.idx, "cbas vstd: bootstrap draws");
  V.pflag = budget_calloc(ctx, (size_t)V.n_patch * B_, 1, "cbas vstd: patch flags");
  V.rflag = budget_alloc(ctx, (size_t)V.rows * B_, "cbas vstd: row flags");
  V.buf = budget_alloc(ctx, ((size_t)V.rows + 2) * N * V.W * 4, "cbas vstd: cum rows");
  V.vstd = budget_alloc(ctx, (size_t)V.rows * V.W * 4, "cbas vstd: vstd rows");
  V.stc = budget_alloc(ctx, (size_t)V.rows * V.W * 4, "cbas vstd: stc rows");
  V.wk = calloc((size_t)V.nt, sizeof *V.wk);
  size_t ent = (((size_t)B_ * sizeof(vs_lu) + 63) & ~(size_t)63) + (((size_t)V.words * 8 + 63) & ~(size_t)63);
  size_t wbytes = (((size_t)N * V.Wp * 4 + 63) & ~(size_t)63) + 2 * (size_t)B_ * G_ * 4 + B_ * 4 + 64 +
                  (((size_t)V.words * 8 + 63) & ~(size_t)63) + VSTD_CACHE * ent;
  wmem = budget_alloc(ctx, (size_t)V.nt * wbytes, "cbas vstd: worker scratch");
  if (ctx->status || !V.wk) { if (!V.wk) ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); goto done; }
  for (int k = 0; k < V.nt; k++) {
    char *q = (char *)wmem + (size_t)k * wbytes;
    vs_worker *w = &V.wk[k];
    w->yz = (float *)q;
    memset(w->yz, 0, (size_t)N * V.Wp * 4);   /* the padding stays 0 */
    q += ((size_t)N * V.Wp * 4 + 63) & ~(size_t)63;
    w->sy = (float *)q; q += (size_t)B_ * G_ * 4;
    w->sty = (float *)q; q += (size_t)B_ * G_ * 4;
    w->vel = (float *)q; q += ((size_t)B_ * 4 + 63) & ~(size_t)63;
    w->key = (uint64_t *)q; q += ((size_t)V.words * 8 + 63) & ~(size_t)63;
    for (int c = 0; c < VSTD_CACHE; c++) {
      w->cache[c].lu = (vs_lu *)q;
      w->cache[c].mask = (uint64_t *)(q + (((size_t)B_ * sizeof(vs_lu) + 63) & ~(size_t)63));
      q += ent;
    }
  }
  nsbas_boot_draws(N, B_, V.idx);
  ctx_info(ctx, "cbas vstd: %d epochs, %u LiCSBAS patches of %u rows (--mem-size %g), blocks of %u rows\n", N,
           V.n_patch, V.prow, p->patch_mem_mb, V.rows);

  /* ---- pass 1: void flags per patch */
  bar = progress_start(ctx, "vstd pass 1", V.L);
  for (V.y0 = 0; V.y0 < V.L; V.y0 += V.rows) {
    V.ny = V.L - V.y0 < V.rows ? V.L - V.y0 : V.rows;
    if (read_rows(&V, V.y0, V.ny, V.buf) || par_for(ctx, V.ny, flags_row, &V)) goto done;
    for (uint32_t r = 0; r < V.ny; r++) {
      uint8_t *pf = V.pflag + (size_t)patch_of(&V, V.y0 + r) * B_;
      for (int b = 0; b < B_; b++) pf[b] |= V.rflag[(size_t)r * B_ + b];
    }
    progress_add(bar, V.ny);
  }
  progress_end(bar);
  bar = NULL;
  uint32_t n_void = 0;
  for (size_t i = 0; i < (size_t)V.n_patch * B_; i++) n_void += V.pflag[i];
  if (n_void) ctx_info(ctx, "cbas vstd: %u bootstrap draws voided by singular pixels (as LiCSBAS)\n", n_void);

  /* ---- pass 2: vstd and STC */
  if (tsdir_result_create(ctx, t, m, NULL, "vstd", 1, NULL, &gv) ||
      tsdir_result_create(ctx, t, m, NULL, "stc", 1, NULL, &gs))
    goto done;
  bar = progress_start(ctx, "vstd pass 2", V.L);
  for (V.y0 = 0; V.y0 < V.L; V.y0 += V.rows) {
    V.ny = V.L - V.y0 < V.rows ? V.L - V.y0 : V.rows;
    V.ys = V.y0 > 0 ? V.y0 - 1 : 0;
    uint32_t ye = V.y0 + V.ny < V.L ? V.y0 + V.ny + 1 : V.L;
    V.nys = ye - V.ys;
    if (read_rows(&V, V.ys, V.nys, V.buf) || par_for(ctx, V.ny, vstd_row, &V)) goto done;
    for (size_t i = 0; i < (size_t)V.ny * V.W; i++) V.n_pix += V.vstd[i] == V.vstd[i];
    if (gt_write_rows(ctx, gv, V.ny, V.vstd, V.W, 0) || gt_write_rows(ctx, gs, V.ny, V.stc, V.W, 0)) goto done;
    progress_add(bar, V.ny);
  }
  progress_end(bar);
  bar = NULL;
  {
    gt_writer *a = gv, *b = gs;
    gv = gs = NULL;
    if (gt_commit(ctx, a)) { gt_abort(ctx, b); goto done; }
    if (gt_commit(ctx, b)) goto done;
  }
  if (out) {
    out->n_patch = V.n_patch;
    out->patch_rows = V.prow;
    out->n_voided = n_void;
    out->block_rows = V.rows;
    out->n_pix = V.n_pix;
  }
done:
  progress_end(bar);
  gt_abort(ctx, gv);
  gt_abort(ctx, gs);
  if (V.rd) gt_close(ctx, V.rd);
  budget_free(ctx, wmem);
  budget_free(ctx, V.idx);
  budget_free(ctx, V.pflag);
  budget_free(ctx, V.rflag);
  budget_free(ctx, V.buf);
  budget_free(ctx, V.vstd);
  budget_free(ctx, V.stc);
  free(V.wk);
  free(V.t_yr);
  return ctx->status;
}

static int vstd_cmd_run(cbas_ctx *ctx, const tsdir *t, stack *s, const tsdir_pvals *v, void *ud) {
  (void)ud;
  vstd_params p;
  vstd_params_from(v, &p);
  return vstd_run(ctx, t, stack_get_meta(s), &p, NULL);
}

int cmd_vstd(int argc, char **argv) {
  static const tsdir_cmd_spec spec = {
      "vstd", 14,
      "LiCSBAS step 14: bootstrap standard deviation of the velocity (results/vstd.tif, mm/yr, 100\n"
      "draws as LiCSBAS, with its patch semantics set by --mem-size) and spatio-temporal consistency\n"
      "(results/stc.tif, mm) of results/cum.tif. Needs cbas invert first.",
      0, NULL, 0, vstd_cmd_run, NULL};
  return tsdir_cmd_main(argc, argv, &spec);
}
