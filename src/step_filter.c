/* step_filter.c — `cbas filter`, LiCSBAS step 16 (see include/cbas/step_filter.h). */
#include "cbas/step_filter.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/licsbas.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include "cbas/progress.h"
#include "cbas/step_mask.h"
#include "cmds.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void filt_params_default(filt_params *p) {
  memset(p, 0, sizeof *p);
  p->filtwidth_km = 2;
  p->filtwidth_yr = NAN;
  p->hgt_min = 200;
  p->hgt_max = 10000;
}

int filt_params_from(cbas_ctx *ctx, const tsdir_pvals *v, filt_params *p) {
  filt_params_default(p);
  if (v->set[TSP_P16_FILTWIDTH_KM]) {
    p->filtwidth_km = v->num[TSP_P16_FILTWIDTH_KM];
    p->km_given = 1;
  }
  if (v->set[TSP_P16_FILTWIDTH_YR]) p->filtwidth_yr = v->num[TSP_P16_FILTWIDTH_YR];
  if (tsfilt_parse_deg(v->str[TSP_P16_DEG_DERAMP], &p->deg))
    return ctx_fail(ctx, CBAS_EUSAGE, "--deg-deramp: '%s' is not 1, bl or 2", v->str[TSP_P16_DEG_DERAMP]);
  p->hgt_linear = v->num[TSP_P16_HGT_LINEAR] != 0;
  p->hgt_min = (long)v->num[TSP_P16_HGT_MIN];
  p->hgt_max = (long)v->num[TSP_P16_HGT_MAX];
  p->nomask = v->num[TSP_P16_NOMASK] != 0;
  p->range = v->str[TSP_P16_RANGE];
  p->range_geo = v->str[TSP_P16_RANGE_GEO];
  p->ex_range = v->str[TSP_P16_EX_RANGE];
  p->ex_range_geo = v->str[TSP_P16_EX_RANGE_GEO];
  if (!(p->filtwidth_km >= 0) || !isfinite(p->filtwidth_km))
    return ctx_fail(ctx, CBAS_EUSAGE, "--filtwidth-km: %g is not a width (km >= 0)", p->filtwidth_km);
  if (p->filtwidth_yr == p->filtwidth_yr && (!(p->filtwidth_yr >= 0) || !isfinite(p->filtwidth_yr)))
    return ctx_fail(ctx, CBAS_EUSAGE, "--filtwidth-yr: %g is not a width (yr >= 0)", p->filtwidth_yr);
  return 0;
}

/* ---------------------------------------------------------------- the filtered cube store */

/* cum_filt before referencing, [row][epoch][x] float32: in memory, or in TSDIR/work. */
typedef struct fstore {
  float *mem;
  afile f;
  int file_open;
  uint32_t w;
  int n;
} fstore;

static uint64_t store_off(const fstore *s, uint32_t y, int e) {
  return ((uint64_t)y * (uint64_t)s->n + (uint64_t)e) * s->w * 4;
}

/* Row y, epochs [e0, e0+ne) from src (ne*w floats). Thread-safe for disjoint (y, e). */
static int store_put(cbas_ctx *ctx, fstore *s, uint32_t y, int e0, int ne, const float *src) {
  size_t n = (size_t)ne * s->w;
  if (s->mem) {
    memcpy(s->mem + store_off(s, y, e0) / 4, src, n * 4);
    return 0;
  }
  return afile_pwrite(ctx, &s->f, src, n * 4, store_off(s, y, e0));
}

/* Rows [y0, y0+ny), epochs [e0, e0+ne) into dst[r][ne][w]. */
static int store_get(cbas_ctx *ctx, fstore *s, uint32_t y0, uint32_t ny, int e0, int ne, float *dst) {
  size_t n = (size_t)ne * s->w;
  for (uint32_t r = 0; r < ny; r++) {
    float *d = dst + (size_t)r * n;
    if (s->mem) {
      memcpy(d, s->mem + store_off(s, y0 + r, e0) / 4, n * 4);
      continue;
    }
    size_t got = 0;
    int e = plat_pread(s->f.fd, d, n * 4, store_off(s, y0 + r, e0), &got);
    if (e || got != n * 4)
      return ctx_fail(ctx, CBAS_EIO, "%s: read of row %u failed: %s", s->f.path, y0 + r,
                      e ? plat_strerror(e) : "short read");
  }
  return 0;
}

/* ---------------------------------------------------------------- run state */

typedef struct fctx {
  cbas_ctx *ctx;
  const tsdir *t;
  const stack_meta *m;
  const filt_params *p;
  uint32_t w, l;
  int n;                      /* epochs */
  int n_workers;
  float *t_yr;                /* [n] */
  char (*date)[9];            /* [n] */
  const char **desc;          /* [n] -> date */
  gt_reader *cum, *mask, *hgt, *ngap;
  /* filters */
  int spatial;
  double sx, sy, pixsp_r, pixsp_a;
  int half, n_slot;
  double *kx, *ky;
  tsfilt_tfilter tf;
  void *tf_mem;
  double width_yr;
  /* deramp */
  int deramp;
  tsfilt_ramp ramp;
  double *coef;               /* [n][TSFILT_RAMP_MAXPAR] */
  int has_rng, has_exr;
  lb_range rng, exr;
  char rng_str[64], exr_str[64];
  float min_ngap;
  fstore st;
  fstore inc;                 /* cum.tif decoded once, [row][epoch][x], when several sweeps read it */
  tsfilt_sref ref;            /* spatial weight sums of the mask's NaN pattern (if ref_mem) */
  void *ref_mem;
  size_t wd_stride;           /* doubles of per-worker scratch: sconv scratch + S row */
  float *med;                 /* [n] */
  /* per-worker scratch: w floats x 7 (0 data/fit, 1 hp, 2-4 temporal, 5 v, 6 out) + w doubles x 4 */
  float *wf;
  double *wd;
} fctx;

static float *wk_f(const fctx *f, int worker, int k) { return f->wf + ((size_t)worker * 7 + (size_t)k) * f->w; }
/* per-worker doubles: [0, d) the spatial filter's scratch (d = tsfilt_sconv_scratch_doubles),
 * [d, d + w) the filtered row S (also the reference builder's output row) */
static double *wk_scr(const fctx *f, int worker) { return f->wd + (size_t)worker * f->wd_stride; }
static double *wk_S(const fctx *f, int worker) { return wk_scr(f, worker) + f->wd_stride - f->w; }

static int in_est_area(const fctx *f, uint32_t x, uint32_t y) {
  if (f->has_rng && !(x >= f->rng.x0 && x < f->rng.x1 && y >= f->rng.y0 && y < f->rng.y1)) return 0;
  if (f->has_exr && x >= f->exr.x0 && x < f->exr.x1 && y >= f->exr.y0 && y < f->exr.y1) return 0;
  return 1;
}

/* Rows [y0, y0+ny) of epochs [e0, e0+ne) of cum.tif into dst[r][ne][w] (gt_read_bands: each
 * strip decoded once, strips inflated in parallel). */
static int read_cum(fctx *f, uint32_t y0, uint32_t ny, int e0, int ne, float *dst) {
  return gt_read_bands(f->ctx, f->cum, (uint32_t)e0, (uint32_t)ne, 0, y0, f->w, ny, GT_F32, dst, (size_t)ne * f->w, f->w);
}

/* LiCSBAS's mask: results/mask with 0 -> NaN, or (--nomask) 1 where cum epoch 0 is valid. */
static int read_mask(fctx *f, uint32_t y0, uint32_t ny, float *dst) {
  size_t n = (size_t)ny * f->w;
  if (f->p->nomask) {
    if (gt_read(f->ctx, f->cum, 0, 0, y0, f->w, ny, GT_F32, dst, f->w)) return f->ctx->status;
    for (size_t i = 0; i < n; i++) dst[i] = dst[i] == dst[i] ? 1.0f : NAN;
    return 0;
  }
  if (gt_read(f->ctx, f->mask, 0, 0, y0, f->w, ny, GT_F32, dst, f->w)) return f->ctx->status;
  for (size_t i = 0; i < n; i++)
    if (dst[i] == 0.0f) dst[i] = NAN;
  return 0;
}

static int read_hgt(fctx *f, uint32_t y0, uint32_t ny, float *dst) {
  if (!f->hgt) return 0;
  return gt_read(f->ctx, f->hgt, 0, 0, y0, f->w, ny, GT_F32, dst, f->w);
}

/* ---------------------------------------------------------------- pass 0: deramp fit */

typedef struct dblk {
  fctx *f;
  uint32_t y0, ny;
  const float *cum, *mask, *hgt; /* [r][n][w], [r][w], [r][w] or NULL */
  tsfilt_ramp_acc *acc;          /* [n] */
} dblk;

/* Item = epoch: its normal equations over the block's rows, in row order. */
static int deramp_accum_epoch(void *ud, long e, int worker) {
  dblk *b = ud;
  fctx *f = b->f;
  float *data = wk_f(f, worker, 0);
  for (uint32_t r = 0; r < b->ny; r++) {
    uint32_t y = b->y0 + r;
    const float *c = b->cum + ((size_t)r * (size_t)f->n + (size_t)e) * f->w;
    const float *mk = b->mask + (size_t)r * f->w;
    for (uint32_t x = 0; x < f->w; x++) data[x] = in_est_area(f, x, y) ? c[x] * mk[x] : NAN;
    tsfilt_ramp_accum(&f->ramp, y, data, b->hgt ? b->hgt + (size_t)r * f->w : NULL, f->w, &b->acc[e]);
  }
  return 0;
}

static int deramp_fit(fctx *f) {
  cbas_ctx *ctx = f->ctx;
  uint32_t rows;
  uint64_t per_row = (uint64_t)f->w * 4 * ((uint64_t)f->n + 2);
  if (tsdir_block_rows(ctx, f->l, 0, per_row + 256, "deramp fit", &rows)) return ctx->status;
  if (rows > 64) rows = 64;
  dblk b = {f, 0, 0, NULL, NULL, NULL, NULL};
  float *cum = budget_alloc(ctx, (size_t)rows * f->n * f->w * 4, "deramp cum rows");
  float *mask = budget_alloc(ctx, (size_t)rows * f->w * 4, "deramp mask rows");
  float *hgt = f->hgt ? budget_alloc(ctx, (size_t)rows * f->w * 4, "deramp hgt rows") : NULL;
  tsfilt_ramp_acc *acc = budget_calloc(ctx, (size_t)f->n, sizeof *acc, "normal equations");
  progress *bar = NULL; /* terminal only */
  if (ctx->status) goto done;
  b.cum = cum;
  b.mask = mask;
  b.hgt = hgt;
  b.acc = acc;
  for (int e = 0; e < f->n; e++) tsfilt_ramp_acc_init(&acc[e]);
  bar = progress_start(ctx, "filter deramp", f->l);
  for (uint32_t y0 = 0; y0 < f->l; y0 += rows) {
    b.y0 = y0;
    b.ny = f->l - y0 < rows ? f->l - y0 : rows;
    if (read_cum(f, y0, b.ny, 0, f->n, cum) || read_mask(f, y0, b.ny, mask) || read_hgt(f, y0, b.ny, hgt)) goto done;
    if (par_for(ctx, f->n, deramp_accum_epoch, &b)) goto done;
    progress_add(bar, b.ny);
  }
  progress_end(bar);
  bar = NULL;
  for (int e = 0; e < f->n; e++)
    if (tsfilt_ramp_solve(&f->ramp, &acc[e], f->coef + (size_t)e * TSFILT_RAMP_MAXPAR)) {
      ctx_fail(ctx, CBAS_EDATA, "deramp of epoch %s failed (non-finite data)", f->date[e]);
      goto done;
    }
  if (f->p->hgt_linear)
    for (int e = 0; e < f->n; e++)
      ctx_info(ctx, "  %s: hgt-linear %.1f mm/km\n", f->date[e],
               tsfilt_ramp_hgt_coef(&f->ramp, f->coef + (size_t)e * TSFILT_RAMP_MAXPAR) * 1000);
done:
  progress_end(bar);
  budget_free(ctx, cum);
  budget_free(ctx, mask);
  budget_free(ctx, hgt);
  budget_free(ctx, acc);
  return ctx->status;
}

/* ---------------------------------------------------------------- pass 1: filter sweeps */

/* One filtered epoch of a sweep. Its memory is one region of the sweep slab (chan_region):
 * [filter ring | cum ring | pass-1 histogram] while filtering, then pass 2's low histograms
 * (the histogram is no longer needed once tsfilt_median_mid has read it). */
typedef struct chan {
  tsfilt_sconv sc;
  float *ring;        /* [n_slot][w]: deramped cum rows awaiting output */
  uint32_t y_next;
  tsfilt_median med;
  int none;           /* no valid value: median NaN */
  char *region;
} chan;

typedef struct sweep {
  fctx *f;
  int e0, e1;         /* epochs filtered */
  int jlo, jhi;       /* epochs read (their temporal windows) */
  uint32_t y0, ny;    /* input block */
  float *in;          /* [r][jhi-jlo][w], deramped in place */
  float *mask, *hgt;  /* [r][w] */
  chan *ch;           /* [e1-e0] */
} sweep;

/* Item = input epoch: subtracts its fitted ramp from the block's rows. */
static int sweep_deramp(void *ud, long k, int worker) {
  sweep *s = ud;
  fctx *f = s->f;
  int e = s->jlo + (int)k, ne = s->jhi - s->jlo;
  float *fit = wk_f(f, worker, 0);
  const double *coef = f->coef + (size_t)e * TSFILT_RAMP_MAXPAR;
  for (uint32_t r = 0; r < s->ny; r++) {
    float *c = s->in + ((size_t)r * (size_t)ne + (size_t)k) * f->w;
    tsfilt_ramp_eval(&f->ramp, coef, s->y0 + r, s->hgt ? s->hgt + (size_t)r * f->w : NULL, f->w, fit);
    for (uint32_t x = 0; x < f->w; x++) c[x] = c[x] - fit[x];
  }
  return 0;
}

static int emit_row(fctx *f, chan *ch, int e, uint32_t y, const float *row) {
  tsfilt_median_pass1(&ch->med, row, f->w);
  return store_put(f->ctx, &f->st, y, e, 1, row);
}

/* Item = filtered epoch: high-pass in time, mask, spatial filter, output of ready rows. */
static int sweep_chan(void *ud, long c, int worker) {
  sweep *s = ud;
  fctx *f = s->f;
  int e = s->e0 + (int)c, ne = s->jhi - s->jlo;
  chan *ch = &s->ch[c];
  uint32_t w = f->w;
  float *hp = wk_f(f, worker, 1), *tsc = wk_f(f, worker, 2), *v = wk_f(f, worker, 5), *out = wk_f(f, worker, 6);
  double *scr = wk_scr(f, worker), *S = wk_S(f, worker);
  for (uint32_t r = 0; r < s->ny; r++) {
    uint32_t y = s->y0 + r;
    const float *rowcum = s->in + (size_t)r * (size_t)ne * w;
    const float *cum_e = rowcum + (size_t)(e - s->jlo) * w;
    if (!f->spatial) { /* LiCSBAS -s 0: cum_filt = cum */
      if (emit_row(f, ch, e, y, cum_e)) return f->ctx->status;
      continue;
    }
    tsfilt_highpass(&f->tf, e, rowcum, s->jlo, w, w, hp, tsc);
    const float *mk = s->mask + (size_t)r * w;
    /* epoch 0: + sys.float_info.epsilon in float32, "to distinguish from 0 of no data" */
    if (e == 0)
      for (uint32_t x = 0; x < w; x++) hp[x] = hp[x] + (float)DBL_EPSILON;
    for (uint32_t x = 0; x < w; x++) v[x] = hp[x] * mk[x];
    memcpy(ch->ring + (size_t)(y % (uint32_t)f->n_slot) * w, cum_e, w * 4);
    tsfilt_sconv_push(&ch->sc, v, scr);
    for (uint32_t k = tsfilt_sconv_ready(&ch->sc, ch->y_next); k; k--, ch->y_next++) {
      tsfilt_sconv_pop(&ch->sc, ch->y_next, S, scr);
      const float *cd = ch->ring + (size_t)(ch->y_next % (uint32_t)f->n_slot) * w;
      for (uint32_t x = 0; x < w; x++) out[x] = (float)((double)cd[x] - S[x]);
      if (emit_row(f, ch, e, ch->y_next, out)) return f->ctx->status;
    }
  }
  return 0;
}

typedef struct mblk2 {
  fctx *f;
  int e0, ne;
  uint32_t ny;
  const float *rows;  /* [r][ne][w] */
  chan *ch;           /* channel of epoch e0 + k at ch[k] */
} mblk2;

static int median_pass2_chan(void *ud, long k, int worker) {
  mblk2 *b = ud;
  for (uint32_t r = 0; r < b->ny; r++)
    tsfilt_median_pass2(&b->ch[k].med, b->rows + ((size_t)r * (size_t)b->ne + (size_t)k) * b->f->w, b->f->w);
  return 0;
}

/* Bytes of one channel's region (see chan): max(filter ring + cum ring + histogram, the two
 * low histograms of pass 2), 64-byte aligned pieces. */
static size_t chan_region(const fctx *f) {
  size_t filt = 0;
  if (f->spatial)
    filt = (tsfilt_sconv_bytes(f->w, f->l, f->half) + 63) / 64 * 64 + ((size_t)f->n_slot * f->w * 4 + 63) / 64 * 64;
  filt += tsfilt_median_bytes();
  size_t lo = tsfilt_median_lo_bytes();
  return filt > lo ? filt : lo;
}

static void chan_setup(fctx *f, chan *c, char *region) {
  memset(c, 0, sizeof *c);
  c->region = region;
  char *p = region;
  if (f->spatial) {
    tsfilt_sconv_init(&c->sc, f->w, f->l, f->half, f->kx, f->ky, p);
    if (f->ref_mem) tsfilt_sconv_use_ref(&c->sc, &f->ref);
    p += (tsfilt_sconv_bytes(f->w, f->l, f->half) + 63) / 64 * 64;
    c->ring = (float *)p;
    p += ((size_t)f->n_slot * f->w * 4 + 63) / 64 * 64;
  }
  tsfilt_median_init(&c->med, p);
}

/* Medians of the sweep's epochs [e0, e1) once their pass-1 histograms are complete: pass 2
 * over the stored rows (read into buf: rows x (e1-e0) x w floats), counted on bar. */
static int sweep_medians(fctx *f, chan *ch, int e0, int e1, float *buf, uint32_t rows, progress *bar) {
  cbas_ctx *ctx = f->ctx;
  int ne = e1 - e0;
  for (int k = 0; k < ne; k++) {
    ch[k].none = tsfilt_median_mid(&ch[k].med);
    tsfilt_median_pass2_begin(&ch[k].med, ch[k].region);
  }
  mblk2 b = {f, e0, ne, 0, buf, ch};
  for (uint32_t y0 = 0; y0 < f->l; y0 += rows) {
    b.ny = f->l - y0 < rows ? f->l - y0 : rows;
    if (store_get(ctx, &f->st, y0, b.ny, e0, ne, buf) || par_for(ctx, ne, median_pass2_chan, &b)) return ctx->status;
    progress_add(bar, b.ny);
  }
  for (int k = 0; k < ne; k++) f->med[e0 + k] = ch[k].none ? NAN : tsfilt_median_result(&ch[k].med);
  return 0;
}

/* A work file TSDIR/work/NAME for s (temporary name until committed; removed at teardown). */
static int work_open(fctx *f, const char *name, fstore *s) {
  cbas_ctx *ctx = f->ctx;
  char path[1200], dir[1200];
  if (tsdir_file(ctx, f->t, NULL, TSDIR_WORK, dir, sizeof dir) ||
      tsdir_file(ctx, f->t, TSDIR_WORK, name, path, sizeof path))
    return ctx->status;
  int e = plat_mkdir_p(dir);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: cannot create: %s", dir, plat_strerror(e));
  if (afile_open(ctx, &s->f, path)) return ctx->status;
  s->file_open = 1;
  s->w = f->w;
  s->n = f->n;
  return 0;
}

/* Sweeps needed when the rings may take cap bytes. */
static int n_sweeps(const fctx *f, uint64_t cap, uint64_t per_chan) {
  uint64_t g = cap / per_chan;
  if (g < 1) g = 1;
  return (int)(((uint64_t)f->n + g - 1) / g);
}

/* Decodes cum.tif once into TSDIR/work/16cum.f32 ([row][epoch][x] float32, f->inc), through
 * buf (rows x n x w floats). Removed at the end of the step (never committed). */
static int cache_input(fctx *f, float *buf, uint32_t rows) {
  cbas_ctx *ctx = f->ctx;
  if (work_open(f, "16cum.f32", &f->inc)) return ctx->status;
  progress *bar = progress_start(ctx, "filter decode", f->l);
  for (uint32_t y0 = 0; y0 < f->l && !ctx->status; y0 += rows) {
    uint32_t ny = f->l - y0 < rows ? f->l - y0 : rows;
    if (read_cum(f, y0, ny, 0, f->n, buf)) break;
    for (uint32_t r = 0; r < ny; r++)
      if (store_put(ctx, &f->inc, y0 + r, 0, f->n, buf + (size_t)r * f->n * f->w)) break;
    progress_add(bar, ny);
  }
  progress_end(bar);
  return ctx->status;
}

/* The weight sums of the spatial filter depend only on where its input is NaN, which for
 * every epoch is where the mask is (LiCSBAS filters cum * mask; cum itself is NaN at all
 * epochs or none). They are built once from the mask's rows (through buf: rows x w floats)
 * with the filter ring of region and shared by every channel (tsfilt_sref): the weight half
 * of each epoch's convolution is skipped, with the same bits (an epoch whose NaNs differ in
 * some rows computes those windows itself). */
static int build_ref(fctx *f, char *region, float *buf, uint32_t rows) {
  cbas_ctx *ctx = f->ctx;
  tsfilt_sconv sc;
  tsfilt_sconv_init(&sc, f->w, f->l, f->half, f->kx, f->ky, region);
  tsfilt_sref_init(&f->ref, f->w, f->l, f->ref_mem);
  double *scr = wk_scr(f, 0);
  for (uint32_t y0 = 0; y0 < f->l; y0 += rows) {
    uint32_t ny = f->l - y0 < rows ? f->l - y0 : rows;
    if (read_mask(f, y0, ny, buf)) return ctx->status;
    for (uint32_t r = 0; r < ny; r++) tsfilt_sref_push(&f->ref, &sc, buf + (size_t)r * f->w, scr);
  }
  return 0;
}

static int filter_sweeps(fctx *f, int *n_sweep) {
  cbas_ctx *ctx = f->ctx;
  uint32_t w = f->w;
  /* Memory: the input block (rows of every epoch, an upper bound of the windows, + mask +
   * hgt) and g channel regions; both allocated once and reused by every sweep. */
  uint64_t in_row = (uint64_t)w * 4 * ((uint64_t)f->n + 2);
  uint64_t per_chan = chan_region(f) + sizeof(chan);
  uint64_t slack = 512u << 10;
  /* shared weight sums (9 bytes a pixel) when they take at most an eighth of the budget and a
   * quarter of what is left: a city, not a whole frame at the default budget */
  uint64_t ref_bytes = tsfilt_sref_bytes(w, f->l);
  if (f->spatial && f->n > 1 && !f->p->no_shared_weights && ref_bytes <= ctx->budget->limit / 8 &&
      ref_bytes <= budget_avail(ctx) / 4)
    f->ref_mem = budget_alloc(ctx, ref_bytes, "shared filter weights");
  if (budget_require(ctx, per_chan + in_row + slack, "one epoch's filter ring")) return ctx->status;
  uint64_t avail = budget_avail(ctx) - slack;
  uint32_t rows = (uint32_t)((avail / 4) / in_row);
  if (rows > 32) rows = 32;
  if (rows > f->l) rows = f->l;
  if (rows < 1) rows = 1;
  /* Rings: each sweep filters g epochs over all rows and reads the input's window of epochs
   * again. When the input cube is small enough to sit in the page cache (at most twice the
   * budget: a city, not a frame) it is decoded once into a raw work file and sweeps are cheap:
   * the rings then take at most 32 MB (or an eighth of a larger budget) and the step stays
   * small (sample city, 133 epochs at --mem 256M: 6 sweeps, 39 MB resident, 2.1 s where 6
   * sweeps each decoding cum.tif took 3.3 s). Otherwise every sweep decodes cum.tif again, and the
   * rings may take half of the budget (a quarter with the filtered cube in memory). */
  uint64_t ring_cap = (avail - (uint64_t)rows * in_row);
  uint64_t lim = ctx->budget->limit, small = lim / 4 < (32u << 20) ? lim / 4 : (32u << 20);
  if (lim / 8 > small) small = lim / 8;
  uint64_t cube = (uint64_t)f->n * f->l * w * 4;
  int cached = !f->p->no_input_cache && cube <= 2 * lim && n_sweeps(f, ring_cap < small ? ring_cap : small, per_chan) > 1;
  uint64_t cap = cached || f->st.mem ? small : lim / 2;
  if (ring_cap > cap) ring_cap = cap;
  int g = (int)(ring_cap / per_chan);
  if (g > f->n) g = f->n;
  if (g < 1) g = 1;
  /* as many epochs in every sweep: the same number of sweeps in the least memory (78 + 3
   * epochs would take twice the rings of 41 + 40 for the same two reads of the input) */
  int n_sw = (f->n + g - 1) / g;
  g = (f->n + n_sw - 1) / n_sw;
  float *in = budget_alloc(ctx, (size_t)rows * w * 4 * (size_t)f->n, "input rows");
  float *mask = budget_alloc(ctx, (size_t)rows * w * 4, "mask rows");
  float *hgt = f->hgt ? budget_alloc(ctx, (size_t)rows * w * 4, "hgt rows") : NULL;
  char *slab = budget_alloc(ctx, (size_t)g * chan_region(f), "filter rings");
  chan *ch = calloc((size_t)g, sizeof *ch);
  if (!ch) ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  if (f->ref_mem && !ctx->status) build_ref(f, slab, mask, rows);
  if (cached && !ctx->status) cache_input(f, in, rows);
  *n_sweep = 0;
  for (int e0 = 0; e0 < f->n && !ctx->status; e0 += g) {
    int e1 = e0 + g < f->n ? e0 + g : f->n;
    sweep s = {f, e0, e1, e0, e1, 0, 0, in, mask, hgt, ch};
    if (f->spatial && f->width_yr != 0) {
      s.jlo = f->tf.lo[e0];
      s.jhi = f->tf.hi[e1 - 1];
      for (int e = e0; e < e1; e++) { /* windows are monotone; be safe anyway */
        if (f->tf.lo[e] < s.jlo) s.jlo = f->tf.lo[e];
        if (f->tf.hi[e] > s.jhi) s.jhi = f->tf.hi[e];
      }
    }
    (*n_sweep)++;
    char label[32]; /* one bar per sweep: its filter rows, then its median rows */
    snprintf(label, sizeof label, "filter sweep %d/%d", *n_sweep, (f->n + g - 1) / g);
    progress *bar = progress_start(ctx, label, 2 * (uint64_t)f->l);
    for (int k = 0; k < e1 - e0; k++) chan_setup(f, &ch[k], slab + (size_t)k * chan_region(f));
    for (uint32_t y0 = 0; y0 < f->l && !ctx->status; y0 += rows) {
      s.y0 = y0;
      s.ny = f->l - y0 < rows ? f->l - y0 : rows;
      if ((f->inc.file_open ? store_get(ctx, &f->inc, y0, s.ny, s.jlo, s.jhi - s.jlo, in)
                            : read_cum(f, y0, s.ny, s.jlo, s.jhi - s.jlo, in)) ||
          read_mask(f, y0, s.ny, mask) ||
          read_hgt(f, y0, s.ny, hgt))
        break;
      if (f->deramp && par_for(ctx, s.jhi - s.jlo, sweep_deramp, &s)) break;
      par_for(ctx, e1 - e0, sweep_chan, &s);
      progress_add(bar, s.ny);
    }
    for (int k = 0; k < e1 - e0 && !ctx->status; k++)
      if (f->spatial && ch[k].y_next != f->l)
        ctx_fail(ctx, CBAS_EINTERNAL, "epoch %d: %u of %u rows out", e0 + k, ch[k].y_next, f->l);
    /* pass 2 of the medians reads the stored rows into the input buffer (rows x g x w fits) */
    if (!ctx->status) sweep_medians(f, ch, e0, e1, in, rows, bar);
    progress_end(bar);
  }
  free(ch);
  budget_free(ctx, slab);
  budget_free(ctx, in);
  budget_free(ctx, mask);
  budget_free(ctx, hgt);
  return ctx->status;
}

/* ---------------------------------------------------------------- pass 2: 16ref */

typedef struct rblk {
  fctx *f;
  uint32_t ny;
  const float *cube, *mask, *ngap;
  float *rms;
} rblk;

static int rms_row(void *ud, long r, int worker) {
  rblk *b = ud;
  fctx *f = b->f;
  size_t off = (size_t)r * f->w;
  tsfilt_rms_row(b->cube + off * (size_t)f->n, f->w, f->n, f->med, b->mask + off, b->ngap + off, f->min_ngap, f->w,
                 b->rms + off);
  return 0;
}

static int find_ref(fctx *f, uint32_t *rx, uint32_t *ry) {
  cbas_ctx *ctx = f->ctx;
  uint32_t w = f->w, rows;
  uint64_t per_row = (uint64_t)w * 4 * ((uint64_t)f->n + 3) + 4 * 64;
  if (tsdir_block_rows(ctx, f->l, 0, per_row, "16ref rows", &rows)) return ctx->status;
  if (rows > 256) rows = 256;
  float *cube = budget_alloc(ctx, (size_t)rows * w * 4 * (size_t)f->n, "cube rows");
  float *mask = budget_alloc(ctx, (size_t)rows * w * 4, "mask rows");
  float *ngap = budget_alloc(ctx, (size_t)rows * w * 4, "n_gap rows");
  float *rms = budget_alloc(ctx, (size_t)rows * w * 4, "rms rows");
  gt_writer *gw = NULL;
  progress *bar = NULL; /* terminal only */
  float best = NAN;
  int found = 0;
  if (ctx->status || tsdir_result_create(ctx, f->t, f->m, TSDIR_INFO, "16rms_cum_wrt_med", 1, NULL, &gw)) goto done;
  rblk b = {f, 0, cube, mask, ngap, rms};
  bar = progress_start(ctx, "filter 16ref", f->l);
  for (uint32_t y0 = 0; y0 < f->l; y0 += rows) {
    b.ny = f->l - y0 < rows ? f->l - y0 : rows;
    if (store_get(ctx, &f->st, y0, b.ny, 0, f->n, cube) || read_mask(f, y0, b.ny, mask) ||
        gt_read(ctx, f->ngap, 0, 0, y0, w, b.ny, GT_F32, ngap, w))
      goto done;
    if (par_for(ctx, b.ny, rms_row, &b)) goto done;
    /* first row-major minimum (np.where(rms == nanmin)[0]) */
    for (size_t i = 0; i < (size_t)b.ny * w; i++) {
      float v = rms[i];
      if (v == v && (!found || v < best)) {
        best = v;
        found = 1;
        *rx = (uint32_t)(i % w);
        *ry = y0 + (uint32_t)(i / w);
      }
    }
    if (gt_write_rows(ctx, gw, b.ny, rms, w, 0)) goto done;
    progress_add(bar, b.ny);
  }
  progress_end(bar);
  bar = NULL;
  if (!found) {
    ctx_fail(ctx, CBAS_EDATA, "no pixel qualifies as reference (the RMS of the filtered time "
                              "series is NaN wherever mask and minimum n_gap allow)");
    goto done;
  }
  {
    gt_writer *g = gw;
    gw = NULL;
    gt_commit(ctx, g);
  }
done:
  progress_end(bar);
  gt_abort(ctx, gw);
  budget_free(ctx, cube);
  budget_free(ctx, mask);
  budget_free(ctx, ngap);
  budget_free(ctx, rms);
  return ctx->status;
}

/* ---------------------------------------------------------------- pass 3: outputs */

typedef struct oblk {
  fctx *f;
  float *cube;         /* [r][n][w], referenced in place */
  const float *mask, *cumref;
  float *vel, *icpt, *velm, *icptm;
} oblk;

static int out_row(void *ud, long r, int worker) {
  oblk *b = ud;
  fctx *f = b->f;
  size_t off = (size_t)r * f->w;
  float *c = b->cube + off * (size_t)f->n;
  for (int e = 0; e < f->n; e++) {
    float ref = b->cumref[e];
    float *ce = c + (size_t)e * f->w;
    for (uint32_t x = 0; x < f->w; x++) ce[x] = ce[x] - ref;
  }
  tsfilt_velfit(c, f->w, f->n, f->t_yr, f->w, b->vel + off, b->icpt + off);
  for (uint32_t x = 0; x < f->w; x++) {
    b->velm[off + x] = b->vel[off + x] * b->mask[off + x];
    b->icptm[off + x] = b->icpt[off + x] * b->mask[off + x];
  }
  return 0;
}

static int write_outputs(fctx *f, uint32_t rx, uint32_t ry) {
  cbas_ctx *ctx = f->ctx;
  uint32_t w = f->w, rows;
  /* the deramped, unfiltered cum at the reference pixel (LiCSBAS subtracts cum, not cum_filt) */
  float *cumref = calloc((size_t)f->n, sizeof *cumref);
  float *row1 = budget_alloc(ctx, (size_t)w * 4 * ((size_t)f->n + 2), "reference row");
  gt_writer *gw[5] = {0};
  float *cube = NULL, *mask = NULL, *o[4] = {0};
  progress *bar = NULL; /* terminal only */
  if (!cumref) ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  if (ctx->status || read_cum(f, ry, 1, 0, f->n, row1)) goto done;
  {
    float *hrow = row1 + (size_t)w * f->n, *fit = hrow + w;
    if (read_hgt(f, ry, 1, hrow)) goto done;
    for (int e = 0; e < f->n; e++) {
      float c = row1[(size_t)e * w + rx];
      if (f->deramp) {
        tsfilt_ramp_eval(&f->ramp, f->coef + (size_t)e * TSFILT_RAMP_MAXPAR, ry, f->hgt ? hrow : NULL, w, fit);
        c = c - fit[rx];
      }
      cumref[e] = c;
    }
  }
  budget_free(ctx, row1);
  row1 = NULL;
  uint64_t per_row = (uint64_t)w * 4 * ((uint64_t)f->n + 5) + 6 * 64;
  if (tsdir_block_rows(ctx, f->l, (uint64_t)w * 4 * (uint64_t)f->n * 2, per_row, "outputs", &rows))
    goto done;
  if (rows > 256) rows = 256;
  cube = budget_alloc(ctx, (size_t)rows * w * 4 * (size_t)f->n, "cube rows");
  mask = budget_alloc(ctx, (size_t)rows * w * 4, "mask rows");
  for (int k = 0; k < 4; k++) o[k] = budget_alloc(ctx, (size_t)rows * w * 4, "velocity rows");
  if (ctx->status) goto done;
  static const char *const names[5] = {"cum_filt", "vel.filt", "vintercept.filt", "vel.filt.mskd", "vintercept.filt.mskd"};
  int n_out = f->p->nomask ? 3 : 5;
  for (int k = 0; k < n_out; k++)
    if (tsdir_result_create(ctx, f->t, f->m, NULL, names[k], k ? 1 : (uint32_t)f->n, k ? NULL : f->desc, &gw[k]))
      goto done;
  oblk b = {f, cube, mask, cumref, o[0], o[1], o[2], o[3]};
  bar = progress_start(ctx, "filter outputs", f->l);
  for (uint32_t y0 = 0; y0 < f->l; y0 += rows) {
    uint32_t ny = f->l - y0 < rows ? f->l - y0 : rows;
    if (store_get(ctx, &f->st, y0, ny, 0, f->n, cube) || read_mask(f, y0, ny, mask)) goto done;
    if (par_for(ctx, ny, out_row, &b)) goto done;
    /* cube rows are [r][epoch][x]: band stride w, row stride n*w */
    if (gt_write_rows(ctx, gw[0], ny, cube, (size_t)w * f->n, w)) goto done;
    for (int k = 1; k < n_out; k++)
      if (gt_write_rows(ctx, gw[k], ny, o[k - 1], w, 0)) goto done;
    progress_add(bar, ny);
  }
  progress_end(bar);
  bar = NULL;
  for (int k = 0; k < n_out; k++) {
    gt_writer *g = gw[k];
    gw[k] = NULL;
    if (gt_commit(ctx, g)) goto done;
  }
done:
  progress_end(bar);
  for (int k = 0; k < 5; k++) gt_abort(ctx, gw[k]);
  free(cumref);
  budget_free(ctx, row1);
  budget_free(ctx, cube);
  budget_free(ctx, mask);
  for (int k = 0; k < 4; k++) budget_free(ctx, o[k]);
  return ctx->status;
}

/* ---------------------------------------------------------------- reports */

static int write_params(fctx *f) {
  char path[1200], km[48];
  if (tsdir_file(f->ctx, f->t, TSDIR_INFO, "16parameters.txt", path, sizeof path)) return f->ctx->status;
  tsdir_text x = {0};
  if (f->p->km_given) lb_pyfloat(km, sizeof km, f->p->filtwidth_km);
  else snprintf(km, sizeof km, "%.0f", f->p->filtwidth_km);
  tsdir_text_printf(&x, "filtwidth_km:  %s\n", km);
  char a[32], b[32], c[32];
  tsdir_text_printf(&x, "filtwidth_xpixels:  %s\n", tsdir_fmt_f(a, sizeof a, 0, 1, f->sx));
  tsdir_text_printf(&x, "filtwidth_ypixels:  %s\n", tsdir_fmt_f(b, sizeof b, 0, 1, f->sy));
  tsdir_text_printf(&x, "filtwidth_yr:  %s\n", tsdir_fmt_f(c, sizeof c, 0, 3, f->width_yr));
  tsdir_text_printf(&x, "filtwidth_day:  %ld\n", (long)(f->width_yr * 365.25));
  tsdir_text_printf(&x, "deg_ramp:  %s\n", tsfilt_deg_name(f->p->deg));
  tsdir_text_printf(&x, "hgt_linear:  %d\n", f->p->hgt_linear ? 1 : 0);
  tsdir_text_printf(&x, "hgt_min: %ld\nhgt_max: %ld\n", f->p->hgt_min, f->p->hgt_max);
  tsdir_text_printf(&x, "range: %s\nex_range: %s\n", f->has_rng ? f->rng_str : "[]", f->has_exr ? f->exr_str : "[]");
  return tsdir_text_put(f->ctx, &x, path);
}

static int write_ref(fctx *f, uint32_t rx, uint32_t ry) {
  char path[1200], txt[256], la[48], lo[48];
  int n = snprintf(txt, sizeof txt, "%u:%u/%u:%u\n", rx, rx + 1, ry, ry + 1);
  if (tsdir_file(f->ctx, f->t, TSDIR_INFO, "16ref.txt", path, sizeof path) || afile_put(f->ctx, path, txt, (size_t)n))
    return f->ctx->status;
  /* io_lib.make_point_kml(lat1 + dlat*y, lon1 + dlon*x) */
  lb_pyfloat(la, sizeof la, f->m->corner_lat + f->m->post_lat * ry);
  lb_pyfloat(lo, sizeof lo, f->m->corner_lon + f->m->post_lon * rx);
  if (tsdir_file(f->ctx, f->t, TSDIR_INFO, "16ref.kml", path, sizeof path)) return f->ctx->status;
  tsdir_text x = {0};
  tsdir_text_printf(&x,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n"
                    "<Document><Placemark><Point>\n<coordinates>%s,%s</coordinates>\n</Point></Placemark></Document>\n"
                    "</kml>\n", lo, la);
  return tsdir_text_put(f->ctx, &x, path);
}

/* ---------------------------------------------------------------- setup */

static int parse_ranges(fctx *f) {
  const filt_params *p = f->p;
  char why[256];
  if (p->range && p->range_geo)
    return ctx_fail(f->ctx, CBAS_EUSAGE, "both --range and --range-geo given, use either one not both");
  if (p->ex_range && p->ex_range_geo)
    return ctx_fail(f->ctx, CBAS_EUSAGE, "both --ex-range and --ex-range-geo given, use either one not both");
  const char *src[2] = {p->range ? p->range : p->range_geo, p->ex_range ? p->ex_range : p->ex_range_geo};
  int geo[2] = {!p->range && p->range_geo, !p->ex_range && p->ex_range_geo};
  lb_range *dst[2] = {&f->rng, &f->exr};
  int *has[2] = {&f->has_rng, &f->has_exr};
  char *str[2] = {f->rng_str, f->exr_str};
  static const char *const opt[2][2] = {{"--range", "--range-geo"}, {"--ex-range", "--ex-range-geo"}};
  for (int k = 0; k < 2; k++) {
    if (!src[k]) continue;
    int bad = geo[k] ? lb_read_range_geo(src[k], f->w, f->l, f->m->corner_lat, f->m->post_lat, f->m->corner_lon,
                                         f->m->post_lon, dst[k], why, sizeof why)
                     : lb_read_range(src[k], f->w, f->l, dst[k], why, sizeof why);
    if (bad) return ctx_fail(f->ctx, CBAS_EUSAGE, "%s: %s", opt[k][geo[k]], why);
    *has[k] = 1;
    snprintf(str[k], 64, "%u:%u/%u:%u", dst[k]->x0, dst[k]->x1, dst[k]->y0, dst[k]->y1);
  }
  return 0;
}

/* nanmin of n_gap over the image. */
static int ngap_min(fctx *f) {
  cbas_ctx *ctx = f->ctx;
  uint32_t rows;
  if (tsdir_block_rows(ctx, f->l, 0, (uint64_t)f->w * 4, "n_gap", &rows)) return ctx->status;
  if (rows > 1024) rows = 1024;
  float *buf = budget_alloc(ctx, (size_t)rows * f->w * 4, "n_gap rows");
  progress *bar = buf ? progress_start(ctx, "filter n_gap", f->l) : NULL;
  int found = 0;
  for (uint32_t y0 = 0; buf && y0 < f->l; y0 += rows) {
    uint32_t ny = f->l - y0 < rows ? f->l - y0 : rows;
    if (gt_read(ctx, f->ngap, 0, 0, y0, f->w, ny, GT_F32, buf, f->w)) break;
    for (size_t i = 0; i < (size_t)ny * f->w; i++)
      if (buf[i] == buf[i] && (!found || buf[i] < f->min_ngap)) {
        f->min_ngap = buf[i];
        found = 1;
      }
    progress_add(bar, ny);
  }
  progress_end(bar);
  budget_free(ctx, buf);
  if (!ctx->status && !found) ctx_fail(ctx, CBAS_EDATA, "results/n_gap.tif has no valid pixel");
  return ctx->status;
}

static int setup(fctx *f) {
  cbas_ctx *ctx = f->ctx;
  const filt_params *p = f->p;
  char path[1200], val[128];
  if (tsdir_result_open(ctx, f->t, f->m, NULL, "cum", "invert", &f->cum)) return ctx->status;
  const gt_info *gi = gt_get_info(f->cum);
  f->n = (int)gi->bands;
  if (f->n < 2) return ctx_fail(ctx, CBAS_EDATA, "%s: %d epoch(s); the filter needs at least 2", gt_path(f->cum), f->n);
  f->t_yr = calloc((size_t)f->n, sizeof *f->t_yr);
  f->date = calloc((size_t)f->n, sizeof *f->date);
  f->desc = calloc((size_t)f->n, sizeof *f->desc);
  f->med = calloc((size_t)f->n, sizeof *f->med);
  f->coef = calloc((size_t)f->n * TSFILT_RAMP_MAXPAR, sizeof *f->coef);
  if (!f->t_yr || !f->date || !f->desc || !f->med || !f->coef) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  for (int e = 0; e < f->n; e++) {
    const char *d = gt_band_desc(f->cum, (uint32_t)e);
    if (!d || strlen(d) != 8 || !lb_valid_date(d))
      return ctx_fail(ctx, CBAS_EFORMAT, "%s: band %d has no date (YYYYMMDD) as its description", gt_path(f->cum), e + 1);
    memcpy(f->date[e], d, 9);
    f->desc[e] = f->date[e];
    if (e && strcmp(f->date[e], f->date[e - 1]) <= 0)
      return ctx_fail(ctx, CBAS_EFORMAT, "%s: band dates are not increasing (%s after %s)", gt_path(f->cum), f->date[e],
                      f->date[e - 1]);
    /* dt_cum = np.float32((ordinal - ordinal0)/365.25) */
    f->t_yr[e] = (float)((double)(lb_day_number(f->date[e]) - lb_day_number(f->date[0])) / 365.25);
  }
  /* spatial width in pixels from the spacings as 13parameters.txt prints them */
  if (tsdir_file(ctx, f->t, TSDIR_INFO, "13parameters.txt", path, sizeof path) ||
      tsdir_get_param_par(ctx, path, "pixel_spacing_r", "invert", val, sizeof val))
    return ctx->status;
  f->pixsp_r = strtod(val, NULL);
  if (tsdir_get_param_par(ctx, path, "pixel_spacing_a", "invert", val, sizeof val)) return ctx->status;
  f->pixsp_a = strtod(val, NULL);
  if (!(f->pixsp_r > 0) || !(f->pixsp_a > 0))
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: pixel spacings %g, %g m are not usable", path, f->pixsp_r, f->pixsp_a);
  f->sx = p->filtwidth_km * 1000 / f->pixsp_r;
  f->sy = p->filtwidth_km * 1000 / f->pixsp_a;
  f->spatial = p->filtwidth_km != 0;
  if (f->spatial) {
    f->half = tsfilt_kernel_half(f->sx, f->sy);
    if (f->half > 1 << 20) return ctx_fail(ctx, CBAS_EUSAGE, "--filtwidth-km %g: kernel of %d pixels is too large", p->filtwidth_km, 2 * f->half + 1);
    uint64_t s = 2 * (uint64_t)f->half + 1;
    f->n_slot = (int)(s < f->l ? s : f->l);
    f->kx = budget_alloc(ctx, (size_t)s * 8, "kernel");
    f->ky = budget_alloc(ctx, (size_t)s * 8, "kernel");
    if (ctx->status) return ctx->status;
    tsfilt_kernel_1d(f->sx, f->half, f->kx);
    tsfilt_kernel_1d(f->sy, f->half, f->ky);
  }
  f->width_yr = p->filtwidth_yr == p->filtwidth_yr ? p->filtwidth_yr : tsfilt_auto_width_yr(f->t_yr, f->n);
  f->tf_mem = budget_alloc(ctx, tsfilt_tfilter_bytes(f->n), "temporal weights");
  if (!f->tf_mem) return ctx->status;
  tsfilt_tfilter_init(&f->tf, f->t_yr, f->n, f->width_yr, f->tf_mem);
  if (parse_ranges(f)) return ctx->status;
  f->deramp = p->deg != TSFILT_DERAMP_NONE || p->hgt_linear;
  if (f->deramp) tsfilt_ramp_init(&f->ramp, p->deg, p->hgt_linear, (double)p->hgt_min, (double)p->hgt_max, f->w, f->l);
  if (!p->nomask && tsdir_result_open(ctx, f->t, f->m, NULL, "mask", "mask-ts", &f->mask)) return ctx->status;
  if (p->hgt_linear && tsdir_result_open(ctx, f->t, f->m, NULL, "hgt", "check", &f->hgt)) return ctx->status;
  if (tsdir_result_open(ctx, f->t, f->m, NULL, "n_gap", "invert", &f->ngap)) return ctx->status;
  /* per-worker scratch */
  f->n_workers = ctx->n_threads < 1 ? 1 : ctx->n_threads;
  f->wf = budget_alloc(ctx, (size_t)f->n_workers * 7 * f->w * 4, "thread scratch");
  f->wd_stride = (f->spatial ? tsfilt_sconv_scratch_doubles(f->w, f->half) : 0) + f->w;
  f->wd = budget_alloc(ctx, (size_t)f->n_workers * f->wd_stride * 8, "thread scratch");
  return ctx->status;
}

static void teardown(fctx *f) {
  cbas_ctx *ctx = f->ctx;
  gt_reader *r[4] = {f->cum, f->mask, f->hgt, f->ngap};
  for (int k = 0; k < 4; k++)
    if (r[k]) gt_close(ctx, r[k]);
  budget_free(ctx, f->kx);
  budget_free(ctx, f->ky);
  budget_free(ctx, f->tf_mem);
  budget_free(ctx, f->wf);
  budget_free(ctx, f->wd);
  budget_free(ctx, f->ref_mem);
  budget_free(ctx, f->st.mem);
  if (f->st.file_open) afile_abort(&f->st.f);
  if (f->inc.file_open) afile_abort(&f->inc.f);
  free(f->t_yr);
  free(f->date);
  free(f->desc);
  free(f->med);
  free(f->coef);
}

int filt_run(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const filt_params *p, filt_result *out) {
  fctx f;
  memset(&f, 0, sizeof f);
  f.ctx = ctx;
  f.t = t;
  f.m = m;
  f.p = p;
  f.w = m->width;
  f.l = m->length;
  uint32_t rx = 0, ry = 0;
  int n_sweep = 0;
  if (setup(&f) || write_params(&f)) goto done;
  ctx_info(ctx, "cbas filter: %ux%u, %d epochs; space %g km (%.1fx%.1f pixel, kernel %d), time %.3f yr (%ld days); "
                "deramp %s, hgt-linear %d\n", f.w, f.l, f.n, p->filtwidth_km, f.sx, f.sy, 2 * f.half + 1, f.width_yr,
           (long)(f.width_yr * 365.25), tsfilt_deg_name(p->deg), p->hgt_linear);
  double t0 = plat_now();
  if (ngap_min(&f)) goto done;
  if (f.deramp && deramp_fit(&f)) goto done;
  double t1 = plat_now();
  /* the filtered cube: in memory when it takes at most an eighth of the budget and half of
   * what is left, else in a work file (the page cache holds it without counting as ours) */
  f.st.w = f.w;
  f.st.n = f.n;
  uint64_t cube = (uint64_t)f.n * f.l * f.w * 4;
  if (!p->force_file && cube <= ctx->budget->limit / 8 && cube + 64 <= budget_avail(ctx) / 2)
    f.st.mem = budget_alloc(ctx, (size_t)cube, "filtered cube");
  if (!f.st.mem && work_open(&f, "16cum_filt.f32", &f.st)) goto done;
  if (filter_sweeps(&f, &n_sweep)) goto done;
  double t2 = plat_now();
  if (find_ref(&f, &rx, &ry)) goto done;
  ctx_info(ctx, "cbas filter: selected ref %u:%u/%u:%u\n", rx, rx + 1, ry, ry + 1);
  double t3 = plat_now();
  if (write_ref(&f, rx, ry) || write_outputs(&f, rx, ry)) goto done;
  ctx_info(ctx, "cbas filter: times: n_gap%s %.2f s, filter (%d sweep%s, cube in %s) %.2f s, 16ref %.2f s, "
                "outputs %.2f s\n", f.deramp ? " + deramp fit" : "", t1 - t0, n_sweep, n_sweep > 1 ? "s" : "",
           f.st.mem ? "memory" : "work file", t2 - t1, t3 - t2, plat_now() - t3);
  if (out) {
    out->ref_x = rx;
    out->ref_y = ry;
    out->width_yr = f.width_yr;
    out->sx = f.sx;
    out->sy = f.sy;
    out->half = f.half;
    out->n_sweep = n_sweep;
    out->cube_in_memory = f.st.mem != NULL;
    out->input_cached = f.inc.file_open;
    out->shared_weights = f.ref_mem != NULL;
  }
  if (f.st.file_open && p->keep_work) {
    f.st.file_open = 0;
    afile_commit(ctx, &f.st.f);
  }
done:
  teardown(&f);
  return ctx->status;
}

int cmd_filter(int argc, char **argv) {
  tsdir_cli c;
  tsdir_cli_build(&c, 16, NULL, 0);
  cli_common common;
  char err[512];
  int r = cli_parse("filter", "[STACK] [--ts TSDIR] [options]",
                    "LiCSBAS step 16: spatio-temporal filter of the time series (high-pass in time, low-pass in\n"
                    "space), optional deramp and height-linear correction, automatic stable reference; writes\n"
                    "results/cum_filt.tif, vel.filt.tif, vintercept.filt.tif (+ .mskd), info/16parameters.txt,\n"
                    "16ref.txt.",
                    c.opt, c.n_opt, argc, argv, &common, err, sizeof err);
  if (r == 1) return 0;
  if (r) { fprintf(stderr, "cbas filter: %s\n", err); return 2; }
  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &common)) return cli_finish(&ctx, "filter");
  tsdir_pvals v;
  filt_params p;
  tsdir t;
  stack *s = NULL;
  if (!tsdir_cli_apply(&ctx, &c, &v) && !filt_params_from(&ctx, &v, &p) && !tsdir_cli_open(&ctx, &c, 0, &t, &s)) {
    double t0 = plat_now();
    if (!filt_run(&ctx, &t, stack_get_meta(s), &p, NULL)) {
      ctx_info(&ctx, "cbas filter: done in %.2f s; output in %s\n", plat_now() - t0, t.path);
      tsdir_report_peak(&ctx, "cbas filter");
    }
  }
  stack_close(s);
  return cli_finish(&ctx, "filter");
}
