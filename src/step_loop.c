/* step_loop.c — `cbas loop`, LiCSBAS step 12: loop-closure check, bad interferograms,
 * preliminary reference pixel and the per-pixel loop statistics, streamed in row blocks
 * (see include/cbas/step_loop.h for the passes, precision and memory cost). */
#include "cbas/step_loop.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/licsbas.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include "cbas/progress.h"
#include "cbas/xmedian.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* np.pi: the double nearest to pi (C11 has no M_PI) */
#define LP_PI 3.14159265358979323846
#define PI_F ((float)LP_PI)                /* NumPy compares float32 arrays with float32(pi) */
#define PI2_F ((float)(LP_PI * LP_PI))      /* ... and with float32(pi**2) */

enum { LS_MED, LS_RMS, LS_DONE };

typedef struct lp_loop {
  uint32_t k[3];          /* stack indices of ifg12, ifg23, ifg13 */
  uint32_t w[3];          /* working-set indices */
  uint8_t state;
  uint8_t in2, in3, in4, good;  /* used in pass 2 / 3 / 4; all three ifgs 12-good */
  int8_t bad1, bad3;      /* 1 bad, 0 good, -1 skipped */
  xmed med;               /* the whole-image median of the loop phase; med.n = pixels with one */
  float c32, bias;        /* float32(2πn) and the multi-prime median */
  double ss;              /* running Σℓ² (pass 1, then pass 3) */
  uint64_t ns;
  float rms1, rms2;
  float ref;              /* r12 + r23 − r13 at the reference pixel (float32) */
} lp_loop;

typedef struct { int32_t nunw; float nbad, rms; int have; long idx, zero_idx; int any; } lp_ref;

typedef struct lp_run {
  cbas_ctx *ctx;
  const stack *s;
  const stack_meta *m;
  const loop_params *p;
  const tsdir *t;
  uint32_t W, n_ifg;
  uint32_t n_ws;
  uint32_t *ws;           /* stack index of working-set ifg i */
  char (*wsname)[18];
  uint8_t *wflag;         /* LOOP_F_* per working-set ifg */
  uint32_t n_loop;
  lp_loop *L;
  uint32_t *hist;         /* [n_loop][XMED_HIST_WORDS] */
  /* block */
  uint32_t rows, y0, ny;
  float *unw;             /* [rows][n_ifg][W] */
  uint8_t *cc;            /* [rows][n_ifg][W] */
  float *out;             /* [4][rows][W] */
  lp_ref *rowref;         /* [rows] */
  uint8_t *scr;           /* per worker scratch */
  size_t scr_stride;
  int n_passes;
} lp_run;

void loop_params_from(const tsdir_pvals *v, loop_params *p) {
  p->loop_thre = v->num[TSP_P12_LOOP_THRE];
  p->multi_prime = v->num[TSP_P12_MULTI_PRIME] != 0;
  p->rm_ifg_list = v->str[TSP_P12_RM_IFG_LIST];
  p->block_rows = v->block_rows;
}

void loop_summary_free(loop_summary *s) {
  free(s->loops);
  free(s->rms1);
  free(s->rms2);
  free(s->flags);
  memset(s, 0, sizeof *s);
}

/* The loop phase of stack ifgs k12, k23, k13 at one pixel, as NumPy evaluates
 * unw12 + unw23 - unw13 on float32 arrays. */
static inline float loop_phase(float u12, float u23, float u13) {
  float a = u12 + u23;
  return a - u13;
}

/* The rows of a loop's three ifgs in block row r. */
static inline void loop_rows(const lp_run *R, const lp_loop *l, uint32_t r, const float **u12, const float **u23,
                             const float **u13) {
  const float *row = R->unw + (size_t)r * R->n_ifg * R->W;
  *u12 = row + (size_t)l->k[0] * R->W;
  *u23 = row + (size_t)l->k[1] * R->W;
  *u13 = row + (size_t)l->k[2] * R->W;
}

/* ---------------------------------------------------------------- pass 1: median and RMS */

static int lp_item_pass1(void *ud, long j, int worker) {
  lp_run *R = ud;
  lp_loop *l = &R->L[j];
  if (l->state == LS_DONE) return 0;
  uint32_t W = R->W;
  if (l->state == LS_MED) {
    for (uint32_t r = 0; r < R->ny; r++) {
      const float *u12, *u23, *u13;
      loop_rows(R, l, r, &u12, &u23, &u13);
      for (uint32_t x = 0; x < W; x++) {
        float v = loop_phase(u12[x], u23[x], u13[x]);
        if (v == v) xmed_add1(&l->med, v);
      }
    }
    return 0;
  }
  /* LS_RMS: Σ of float32 squares of the shifted loop phase, per row then in row order */
  int mp = R->p->multi_prime;
  for (uint32_t r = 0; r < R->ny; r++) {
    const float *u12, *u23, *u13;
    loop_rows(R, l, r, &u12, &u23, &u13);
    double sum = 0;
    uint64_t cnt = 0;
    for (uint32_t x = 0; x < W; x++) {
      float v = loop_phase(u12[x], u23[x], u13[x]);
      if (v != v) continue;
      v = v - l->c32;
      if (mp) v = v - l->bias;
      float sq = v * v;
      sum += sq;
      cnt++;
    }
    l->ss += sum;
    l->ns += cnt;
  }
  return 0;
}

/* Sets the loop's 2πn shift (and multi-prime bias) from its exact middle order statistics:
 * n = rint(nanmedian/2π) in double, ℓ −= float32(2πn); bias = nanmedian of the shifted ℓ,
 * whose middle values are the shifted middle values (the float32 shift is monotone). */
static void set_shift_exact(lp_loop *l, int multi_prime) {
  double nr = rint((double)xmed_median(&l->med) / (2.0 * LP_PI));
  l->c32 = (float)(nr * 2.0 * LP_PI);
  l->bias = 0;
  if (multi_prime) {
    float a2 = xmed_lo(&l->med) - l->c32, b2 = xmed_hi(&l->med) - l->c32;
    l->bias = (l->med.n & 1) ? a2 : (a2 + b2) / 2.0f;
  }
}

/* After a counting pass: narrows the median; decides the shift when it can. */
static void median_step(lp_run *R, long j) {
  lp_loop *l = &R->L[j];
  xmed_next(&l->med);
  if (l->med.n == 0) { /* all NaN: RMS = inf, no shift */
    l->rms1 = INFINITY;
    l->state = LS_DONE;
    return;
  }
  if (xmed_done(&l->med)) {
    set_shift_exact(l, R->p->multi_prime);
    l->state = LS_RMS;
    return;
  }
  if (R->p->multi_prime) return;
  /* Without multi-prime only rint(median/2π) matters: decided once it is the same at both
   * ends of the interval still holding the two middle values (rint is monotone). */
  float vlo, vhi;
  xmed_bounds(&l->med, &vlo, &vhi);
  double nlo = rint((double)vlo / (2.0 * LP_PI)), nhi = rint((double)vhi / (2.0 * LP_PI));
  if (nlo == nhi) {
    l->c32 = (float)(nlo * 2.0 * LP_PI);
    l->bias = 0;
    l->state = LS_RMS;
  }
}

/* ---------------------------------------------------------------- block sweeps */

/* Reads every block and runs fn on its items (loops or rows), then after() on the main thread;
 * a progress bar `label` counts the rows (terminal only). */
static int lp_sweep(lp_run *R, const char *label, int with_cc, int per_loop, par_fn fn,
                    int (*after)(lp_run *, void *), void *aud) {
  cbas_ctx *ctx = R->ctx;
  progress *bar = progress_start(ctx, label, R->m->length);
  int st = 0;
  for (R->y0 = 0; !st && R->y0 < R->m->length; R->y0 += R->rows) {
    R->ny = R->m->length - R->y0 < R->rows ? R->m->length - R->y0 : R->rows;
    st = tsdir_read_unw(ctx, R->s, R->y0, R->ny, R->unw) ||
         (with_cc && tsdir_read_cc(ctx, R->s, R->y0, R->ny, R->cc)) ||
         par_for(ctx, per_loop ? (long)R->n_loop : (long)R->ny, fn, R) || (after && after(R, aud));
    if (!st) progress_add(bar, R->ny);
  }
  progress_end(bar);
  if (st) return ctx->status ? (int)ctx->status : st;
  R->n_passes++;
  return 0;
}

static int lp_pass1(lp_run *R) {
  for (int sweep = 1;; sweep++) {
    int pending = 0;
    for (uint32_t j = 0; j < R->n_loop; j++) pending |= R->L[j].state != LS_DONE;
    if (!pending) return 0;
    char label[32];
    snprintf(label, sizeof label, "loop pass 1.%d", sweep);
    if (lp_sweep(R, label, 0, 1, lp_item_pass1, NULL, NULL)) return R->ctx->status;
    for (uint32_t j = 0; j < R->n_loop; j++) {
      lp_loop *l = &R->L[j];
      if (l->state == LS_MED) {
        median_step(R, j);
      } else if (l->state == LS_RMS) { /* its sums were completed by this pass */
        l->rms1 = l->ns ? sqrtf((float)(l->ss / (double)l->ns)) : INFINITY;
        l->state = LS_DONE;
      }
    }
  }
}

/* ---------------------------------------------------------------- pass 2: per-pixel stats */

static void ref_consider(lp_ref *st, int32_t nunw, float nbad, float rms, long idx) {
  if (!st->any || nunw > st->nunw || (nunw == st->nunw && nbad < st->nbad)) {
    st->any = 1;
    st->nunw = nunw;
    st->nbad = nbad;
    st->have = 0;
    st->zero_idx = -1;
  } else if (nunw != st->nunw || nbad != st->nbad) {
    return;
  }
  if (rms != rms) return;
  if (rms == 0.0f) {
    if (st->zero_idx < 0) st->zero_idx = idx;
  } else if (!st->have || rms < st->rms) {
    st->have = 1;
    st->rms = rms;
    st->idx = idx;
  }
}
/* Merges b (later rows) into a (earlier rows). */
static void ref_merge(lp_ref *a, const lp_ref *b) {
  if (!b->any) return;
  if (!a->any || b->nunw > a->nunw || (b->nunw == a->nunw && b->nbad < a->nbad)) { *a = *b; return; }
  if (b->nunw != a->nunw || b->nbad != a->nbad) return;
  if (a->zero_idx < 0) a->zero_idx = b->zero_idx;
  if (b->have && (!a->have || b->rms < a->rms)) { a->have = 1; a->rms = b->rms; a->idx = b->idx; }
}

static int lp_item_pass2(void *ud, long r, int worker) {
  lp_run *R = ud;
  uint32_t W = R->W, n = R->n_ifg;
  const float *row = R->unw + (size_t)r * n * W;
  float *cnt = (float *)(R->scr + (size_t)worker * R->scr_stride), *ss = cnt + W, *nb = ss + W;
  memset(cnt, 0, (size_t)W * 3 * sizeof *cnt);
  int mp = R->p->multi_prime;
  for (uint32_t j = 0; j < R->n_loop; j++) {
    const lp_loop *l = &R->L[j];
    if (!l->in2) continue;
    const float *u12 = row + (size_t)l->k[0] * W, *u23 = row + (size_t)l->k[1] * W, *u13 = row + (size_t)l->k[2] * W;
    int shift = l->med.n > 0;
    for (uint32_t x = 0; x < W; x++) {
      float v = loop_phase(u12[x], u23[x], u13[x]);
      if (v != v) continue;
      if (shift) {
        v = v - l->c32;
        if (mp) v = v - l->bias;
      }
      float sq = v * v;
      cnt[x] += 1.0f;
      ss[x] += sq;
      if (sq > PI2_F) nb[x] += 1.0f;
    }
  }
  float *rms = R->out + (size_t)r * W;
  float *nbad = R->out + ((size_t)R->rows + r) * W;
  int16_t *nunw = (int16_t *)(R->out + (size_t)2 * R->rows * W) + (size_t)r * W;
  lp_ref *st = &R->rowref[r];
  memset(st, 0, sizeof *st);
  st->zero_idx = -1;
  for (uint32_t x = 0; x < W; x++) {
    int32_t c = 0;
    for (uint32_t i = 0; i < R->n_ws; i++) {
      if (R->wflag[i] & (LOOP_F_BAD1 | LOOP_F_RM)) continue;
      float u = row[(size_t)R->ws[i] * W + x];
      c += u == u;
    }
    nunw[x] = (int16_t)c;
    rms[x] = cnt[x] > 0 ? sqrtf(ss[x] / cnt[x]) : NAN;
    nbad[x] = nb[x];
    ref_consider(st, c, nb[x], rms[x], (long)(R->y0 + (uint32_t)r) * (long)W + (long)x);
  }
  return 0;
}

typedef struct { afile f[3]; lp_ref ref; } lp_p2;

static int lp_after_pass2(lp_run *R, void *ud) {
  lp_p2 *q = ud;
  uint32_t W = R->W;
  for (uint32_t r = 0; r < R->ny; r++) ref_merge(&q->ref, &R->rowref[r]);
  if (afile_write(R->ctx, &q->f[0], R->out, (size_t)R->ny * W * 4) ||
      afile_write(R->ctx, &q->f[1], R->out + (size_t)R->rows * W, (size_t)R->ny * W * 4) ||
      afile_write(R->ctx, &q->f[2], R->out + (size_t)2 * R->rows * W, (size_t)R->ny * W * 2))
    return R->ctx->status;
  return 0;
}

static const char *const P2_WORK[3] = {"12loop_ph_rms.f32", "12ns_bad_loop.f32", "12n_unw.i16"};

/* 12loop/loop_ph_rms_masked.tif from the work arrays of pass 2. */
static int write_rms_masked(lp_run *R, const lp_ref *ref) {
  cbas_ctx *ctx = R->ctx;
  uint32_t W = R->W;
  gt_writer *g;
  if (tsdir_result_create(ctx, R->t, R->m, TSDIR_LOOP, "loop_ph_rms_masked", 1, NULL, &g)) return ctx->status;
  float *rms = R->out, *nbad = R->out + (size_t)R->rows * W;
  int16_t *nunw = (int16_t *)(R->out + (size_t)2 * R->rows * W);
  for (uint32_t y0 = 0; y0 < R->m->length; y0 += R->rows) {
    uint32_t ny = R->m->length - y0 < R->rows ? R->m->length - y0 : R->rows;
    if (tsdir_work_read(ctx, R->t, P2_WORK[0], (size_t)W * 4, y0, ny, rms) ||
        tsdir_work_read(ctx, R->t, P2_WORK[1], (size_t)W * 4, y0, ny, nbad) ||
        tsdir_work_read(ctx, R->t, P2_WORK[2], (size_t)W * 2, y0, ny, nunw))
      break;
    for (size_t i = 0; i < (size_t)ny * W; i++)
      if (!(nunw[i] == ref->nunw && nbad[i] == ref->nbad && rms[i] != 0.0f)) rms[i] = NAN;
    if (gt_write_rows(ctx, g, ny, rms, W, 0)) break;
  }
  if (ctx->status) { gt_abort(ctx, g); return ctx->status; }
  return gt_commit(ctx, g);
}

/* ---------------------------------------------------------------- pass 3: RMS with reference */

static int lp_item_pass3(void *ud, long j, int worker) {
  lp_run *R = ud;
  lp_loop *l = &R->L[j];
  if (!l->in3) return 0;
  uint32_t W = R->W;
  for (uint32_t r = 0; r < R->ny; r++) {
    const float *u12, *u23, *u13;
    loop_rows(R, l, r, &u12, &u23, &u13);
    double sum = 0;
    uint64_t cnt = 0;
    for (uint32_t x = 0; x < W; x++) {
      float v = loop_phase(u12[x], u23[x], u13[x]) - l->ref;
      if (v != v) continue;
      float sq = v * v;
      sum += sq;
      cnt++;
    }
    l->ss += sum;
    l->ns += cnt;
  }
  return 0;
}

/* ---------------------------------------------------------------- pass 4: final per-pixel */

static int lp_item_pass4(void *ud, long r, int worker) {
  lp_run *R = ud;
  uint32_t W = R->W, n = R->n_ifg;
  const float *row = R->unw + (size_t)r * n * W;
  const uint8_t *crow = R->cc + (size_t)r * n * W;
  uint8_t *scr = R->scr + (size_t)worker * R->scr_stride;
  int32_t *err = (int32_t *)scr, *nunw = err + W, *ncoh = nunw + W, *noloop = ncoh + W;
  float *csum = (float *)(noloop + W);
  uint8_t *inl = (uint8_t *)(csum + W); /* [n_ws][W] */
  memset(scr, 0, (size_t)W * 20);
  memset(inl, 0, (size_t)R->n_ws * W);
  for (uint32_t j = 0; j < R->n_loop; j++) {
    const lp_loop *l = &R->L[j];
    if (!l->in4) continue;
    const float *u12 = row + (size_t)l->k[0] * W, *u23 = row + (size_t)l->k[1] * W, *u13 = row + (size_t)l->k[2] * W;
    uint8_t *i12 = inl + (size_t)l->w[0] * W, *i23 = inl + (size_t)l->w[1] * W, *i13 = inl + (size_t)l->w[2] * W;
    for (uint32_t x = 0; x < W; x++) {
      float v = loop_phase(u12[x], u23[x], u13[x]) - l->ref;
      if (v == v && fabsf(v) > PI_F) err[x]++;
      if (u12[x] == u12[x] && u23[x] == u23[x] && u13[x] == u13[x]) i12[x] = i23[x] = i13[x] = 1;
    }
  }
  for (uint32_t i = 0; i < R->n_ws; i++) {
    if (R->wflag[i] & LOOP_F_BAD12) continue;
    const float *u = row + (size_t)R->ws[i] * W;
    const uint8_t *c = crow + (size_t)R->ws[i] * W;
    const uint8_t *il = inl + (size_t)i * W;
    for (uint32_t x = 0; x < W; x++) {
      csum[x] += (float)c[x] / 255.0f;
      ncoh[x] += c[x] != 0;
      int v = u[x] == u[x];
      nunw[x] += v;
      noloop[x] += v && !il[x];
    }
  }
  float *o_err = R->out + (size_t)r * W, *o_coh = o_err + (size_t)R->rows * W, *o_unw = o_coh + (size_t)R->rows * W;
  float *o_nol = o_unw + (size_t)R->rows * W;
  for (uint32_t x = 0; x < W; x++) {
    o_err[x] = (float)err[x];
    o_coh[x] = ncoh[x] ? csum[x] / (float)ncoh[x] : NAN;
    o_unw[x] = (float)nunw[x];
    o_nol[x] = (float)noloop[x];
  }
  return 0;
}

static const char *const P4_NAMES[4] = {"n_loop_err", "coh_avg", "n_unw", "n_ifg_noloop"};

static int lp_after_pass4(lp_run *R, void *ud) {
  gt_writer **g = ud;
  for (int i = 0; i < 4; i++)
    if (gt_write_rows(R->ctx, g[i], R->ny, R->out + (size_t)i * R->rows * R->W, R->W, 0)) return R->ctx->status;
  return 0;
}

/* ---------------------------------------------------------------- reports */

static int any_flag(const lp_run *R, const lp_loop *l, uint8_t f) {
  return ((R->wflag[l->w[0]] | R->wflag[l->w[1]] | R->wflag[l->w[2]]) & f) != 0;
}

static int put_ws_list(lp_run *R, const char *sub, const char *name, uint8_t f) {
  char path[1200];
  tsdir_text x = {0};
  for (uint32_t i = 0; i < R->n_ws; i++)
    if (R->wflag[i] & f) tsdir_text_printf(&x, "%s\n", R->wsname[i]);
  if (tsdir_file(R->ctx, R->t, sub, name, path, sizeof path)) { tsdir_text_free(&x); return R->ctx->status; }
  return tsdir_text_put(R->ctx, &x, path);
}

static int write_loop_info(lp_run *R) {
  char path[1200], a[64], f1[32];
  tsdir_text x = {0};
  lb_pyfloat(a, sizeof a, R->p->loop_thre);
  tsdir_text_printf(&x, "# loop_thre: %s rad\n# *: Removed w/o ref, **: No ref, ***: Removed w/ ref\n", a);
  if (R->p->rm_ifg_list) tsdir_text_printf(&x, "# +: Removed by manually indicating in %s\n", R->p->rm_ifg_list);
  tsdir_text_printf(&x, "# /: Candidates of bad loops but causative ifgs unidentified\n"
                        "# image1   image2   image3 RMS w/oref  w/ref\n");
  for (uint32_t j = 0; j < R->n_loop; j++) {
    const lp_loop *l = &R->L[j];
    const char *fl1 = " ", *fl2 = "  ";
    if (any_flag(R, l, LOOP_F_BAD1)) fl1 = "*";
    else if (any_flag(R, l, LOOP_F_RM)) fl1 = "+";
    else if (any_flag(R, l, LOOP_F_NOREF)) fl2 = "**";
    else if (any_flag(R, l, LOOP_F_BAD2)) fl2 = "***";
    else if (any_flag(R, l, LOOP_F_CAND)) fl1 = "/";
    char r2[32];
    if (l->rms2 != l->rms2) snprintf(r2, sizeof r2, "--");
    else tsdir_fmt_f(r2, sizeof r2, 0, 2, l->rms2);
    const char *n12 = R->wsname[l->w[0]], *n23 = R->wsname[l->w[1]];
    tsdir_text_printf(&x, "%.8s %.8s %.8s    %s %s  %-5s %s\n", n12, n23, n23 + 9,
                      tsdir_fmt_f(f1, sizeof f1, 5, 2, l->rms1), fl1, r2, fl2);
  }
  if (tsdir_file(R->ctx, R->t, TSDIR_LOOP, "loop_info.txt", path, sizeof path)) { tsdir_text_free(&x); return R->ctx->status; }
  return tsdir_text_put(R->ctx, &x, path);
}

/* 12network_gap_info.txt over the 12-good ifgs (make_sb_matrix gaps, connected parts). */
static int write_gap_info(lp_run *R) {
  cbas_ctx *ctx = R->ctx;
  uint32_t ng = 0;
  for (uint32_t i = 0; i < R->n_ws; i++) ng += !(R->wflag[i] & LOOP_F_BAD12);
  char(*names)[18] = malloc(((size_t)ng + 1) * sizeof *names);
  char(*ep)[9] = malloc(((size_t)2 * ng + 1) * sizeof *ep);
  int32_t *prim = malloc(((size_t)ng + 1) * 4), *sec = malloc(((size_t)ng + 1) * 4);
  int32_t *cover = malloc(((size_t)2 * ng + 1) * 4);
  uint8_t *gap = malloc((size_t)2 * ng + 1);
  int r = 0;
  if (!names || !ep || !prim || !sec || !cover || !gap) { r = ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); goto done; }
  ng = 0;
  for (uint32_t i = 0; i < R->n_ws; i++)
    if (!(R->wflag[i] & LOOP_F_BAD12)) memcpy(names[ng++], R->wsname[i], 18);
  uint32_t ne = ifgnet_epochs((const char(*)[18])names, ng, ep, prim, sec);
  uint32_t n_gap = ifgnet_gaps(prim, sec, NULL, ng, ne, cover, gap);
  tsdir_text x = {0};
  if (n_gap) {
    tsdir_text_printf(&x, "Gaps between:\n");
    for (uint32_t j = 0; j + 1 < ne; j++)
      if (gap[j]) tsdir_text_printf(&x, "%s %s\n", ep[j], ep[j + 1]);
  }
  tsdir_text_printf(&x, "\nConnected network (year, n_image):\n");
  ctx_info(ctx, "cbas loop: connected network (year, n_image):\n");
  uint32_t ix1 = 0;
  for (uint32_t j = 0; ne > 0 && j < ne; j++) {
    if (!(j + 1 == ne || gap[j])) continue;
    double dyear = (double)(lb_day_number(ep[j]) - lb_day_number(ep[ix1])) / 365.25;
    tsdir_text_printf(&x, "%s-%s (%.2f, %u)\n", ep[ix1], ep[j], dyear, j - ix1 + 1);
    ctx_info(ctx, "  %s-%s (%.2f, %u)\n", ep[ix1], ep[j], dyear, j - ix1 + 1);
    ix1 = j + 1;
  }
  char path[1200];
  if (tsdir_file(ctx, R->t, TSDIR_INFO, "12network_gap_info.txt", path, sizeof path)) tsdir_text_free(&x);
  else r = tsdir_text_put(ctx, &x, path);
done:
  free(names); free(ep); free(prim); free(sec); free(cover); free(gap);
  return r ? r : (int)ctx->status;
}

/* 12removed_image.txt: epochs of the working set that no 12-good ifg uses. */
static int write_removed_images(lp_run *R) {
  const stack_meta *m = R->m;
  uint8_t *used = calloc((size_t)m->n_epoch * 2 + 1, 1), *all = used + m->n_epoch;
  if (!used) return ctx_fail(R->ctx, CBAS_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < R->n_ws; i++) {
    uint32_t k = R->ws[i];
    all[m->ifg_prim[k]] = all[m->ifg_sec[k]] = 1;
    if (!(R->wflag[i] & LOOP_F_BAD12)) used[m->ifg_prim[k]] = used[m->ifg_sec[k]] = 1;
  }
  tsdir_text x = {0};
  for (uint32_t e = 0; e < m->n_epoch; e++)
    if (all[e] && !used[e]) tsdir_text_printf(&x, "%s\n", m->epoch[e]);
  free(used);
  char path[1200];
  if (tsdir_file(R->ctx, R->t, TSDIR_INFO, "12removed_image.txt", path, sizeof path)) { tsdir_text_free(&x); return R->ctx->status; }
  return tsdir_text_put(R->ctx, &x, path);
}

/* network12*.png: the working set, 12-bad ifgs marked. */
static int write_network(lp_run *R) {
  uint8_t *member = calloc((size_t)R->n_ifg + 1, 1), *bad = calloc((size_t)R->n_ifg + 1, 1);
  if (!member || !bad) { free(member); free(bad); return ctx_fail(R->ctx, CBAS_ENOMEM, "out of memory"); }
  for (uint32_t i = 0; i < R->n_ws; i++) {
    member[R->ws[i]] = 1;
    bad[R->ws[i]] = (R->wflag[i] & LOOP_F_BAD12) != 0;
  }
  int r = tsdir_network_pngs(R->ctx, R->t, R->m, 12, member, bad);
  free(member);
  free(bad);
  return r;
}

/* ---------------------------------------------------------------- setup */

static int lp_setup(lp_run *R, tsdir_ifglist *rm) {
  cbas_ctx *ctx = R->ctx;
  const stack_meta *m = R->m;
  uint8_t *bad11 = calloc(m->n_ifg + 1, 1);
  if (!bad11) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  if (tsdir_mark_listed(ctx, R->t, m, "11bad_ifg.txt", "check", bad11, 1)) { free(bad11); return ctx->status; }
  R->ws = malloc(((size_t)m->n_ifg + 1) * sizeof *R->ws);
  R->wsname = malloc(((size_t)m->n_ifg + 1) * sizeof *R->wsname);
  R->wflag = calloc(m->n_ifg + 1, 1);
  if (!R->ws || !R->wsname || !R->wflag) { free(bad11); return ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); }
  for (uint32_t k = 0; k < m->n_ifg; k++)
    if (!bad11[k]) {
      R->ws[R->n_ws] = k;
      memcpy(R->wsname[R->n_ws++], m->ifg[k], 18);
    }
  free(bad11);
  if (R->n_ws == 0) return ctx_fail(ctx, CBAS_EDATA, "%s: every interferogram is in 11bad_ifg.txt", R->t->path);
  if (R->p->rm_ifg_list) {
    plat_stat st;
    plat_stat_path(R->p->rm_ifg_list, &st);
    if (!st.is_file) return ctx_fail(ctx, CBAS_EUSAGE, "--rm-ifg-list: no file %s", R->p->rm_ifg_list);
    if (tsdir_ifglist_read(ctx, R->p->rm_ifg_list, rm)) return ctx->status;
    for (uint32_t i = 0; i < R->n_ws; i++)
      if (tsdir_ifglist_has(rm, R->wsname[i])) R->wflag[i] |= LOOP_F_RM;
  }
  const char(*names)[18] = (const char(*)[18])R->wsname;
  R->n_loop = ifgnet_loops(names, R->n_ws, NULL, 0);
  if (R->n_loop == 0)
    return ctx_fail(ctx, CBAS_EDATA, "%s: the network of %u interferograms has no loop; loop closure cannot be checked",
                    stack_dir(R->s), R->n_ws);
  ifgnet_loop *tmp = malloc((size_t)R->n_loop * sizeof *tmp);
  R->L = calloc(R->n_loop, sizeof *R->L);
  if (!tmp || !R->L) { free(tmp); return ctx_fail(ctx, CBAS_ENOMEM, "out of memory for %u loops", R->n_loop); }
  ifgnet_loops(names, R->n_ws, tmp, R->n_loop);
  uint8_t *inloop = calloc(R->n_ws, 1);
  if (!inloop) { free(tmp); return ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); }
  for (uint32_t j = 0; j < R->n_loop; j++) {
    lp_loop *l = &R->L[j];
    l->w[0] = tmp[j].i12; l->w[1] = tmp[j].i23; l->w[2] = tmp[j].i13;
    for (int i = 0; i < 3; i++) { l->k[i] = R->ws[l->w[i]]; inloop[l->w[i]] = 1; }
    l->state = LS_MED;
    l->rms2 = NAN;
  }
  for (uint32_t i = 0; i < R->n_ws; i++)
    if (!inloop[i]) R->wflag[i] |= LOOP_F_NOLOOP;
  free(inloop);
  free(tmp);
  return 0;
}

/* Sets per-ifg flag `f` from the loop states (identify_bad_ifg); cand gets LOOP_F_CAND. */
static int bad_from_loops(lp_run *R, int pass3, uint8_t f) {
  ifgnet_loop *lo = malloc((size_t)R->n_loop * sizeof *lo);
  int8_t *st = malloc(R->n_loop);
  uint8_t *cand = malloc(R->n_ws), *bad = malloc(R->n_ws);
  if (!lo || !st || !cand || !bad) {
    free(lo); free(st); free(cand); free(bad);
    return ctx_fail(R->ctx, CBAS_ENOMEM, "out of memory");
  }
  for (uint32_t j = 0; j < R->n_loop; j++) {
    lo[j] = (ifgnet_loop){R->L[j].w[0], R->L[j].w[1], R->L[j].w[2]};
    st[j] = pass3 ? R->L[j].bad3 : R->L[j].bad1;
  }
  ifgnet_bad_from_loops(lo, R->n_loop, st, R->n_ws, cand, bad);
  for (uint32_t i = 0; i < R->n_ws; i++) {
    if (bad[i]) R->wflag[i] |= f;
    if (pass3 && cand[i]) R->wflag[i] |= LOOP_F_CAND; /* reduced to "not bad" later */
  }
  free(lo); free(st); free(cand); free(bad);
  return 0;
}

/* ---------------------------------------------------------------- the step */

int loop_run(cbas_ctx *ctx, const tsdir *t, const stack *s, const loop_params *p, loop_summary *out) {
  const stack_meta *m = stack_get_meta(s);
  lp_run R;
  memset(&R, 0, sizeof R);
  R.ctx = ctx; R.s = s; R.m = m; R.p = p; R.t = t;
  R.W = m->width; R.n_ifg = m->n_ifg;
  tsdir_ifglist rm = {0};
  gt_writer *g4[4] = {NULL, NULL, NULL, NULL};
  lp_p2 q2;
  int q2_open = 0;
  if (out) memset(out, 0, sizeof *out);
  if (!(p->loop_thre == p->loop_thre)) return ctx_fail(ctx, CBAS_EUSAGE, "--loop-thre: not a number");
  if (lp_setup(&R, &rm)) goto done;

  /* Memory (see step_loop.h): histograms + per-worker scratch fixed; unw, cc, outputs per row. */
  int nt = ctx->n_threads < 1 ? 1 : ctx->n_threads;
  R.scr_stride = ((size_t)R.W * 20 + (size_t)R.n_ws * R.W + 63) & ~(size_t)63;
  uint64_t hist_bytes = (uint64_t)R.n_loop * XMED_HIST_WORDS * 4;
  uint64_t fixed = hist_bytes + (uint64_t)nt * R.scr_stride;
  uint64_t per_row = (uint64_t)R.n_ifg * R.W * 5 + (uint64_t)R.W * 16 + sizeof(lp_ref);
  if (budget_require(ctx, TSDIR_NETWORK_PNG_BYTES, "cbas loop: network figures") ||
      tsdir_block_rows_max(ctx, m->length, fixed, per_row, p->block_rows, "cbas loop", &R.rows))
    goto done;
  R.hist = budget_alloc(ctx, (size_t)R.n_loop * XMED_HIST_WORDS * 4, "cbas loop: median histograms");
  R.scr = budget_alloc(ctx, (size_t)nt * R.scr_stride, "cbas loop: worker scratch");
  R.unw = budget_alloc(ctx, (size_t)R.rows * R.n_ifg * R.W * 4, "cbas loop: unw block");
  R.cc = budget_alloc(ctx, (size_t)R.rows * R.n_ifg * R.W, "cbas loop: cc block");
  R.out = budget_alloc(ctx, (size_t)R.rows * R.W * 16, "cbas loop: output rows");
  R.rowref = budget_alloc(ctx, (size_t)R.rows * sizeof *R.rowref, "cbas loop: reference search");
  if (ctx->status) goto done;
  for (uint32_t j = 0; j < R.n_loop; j++) xmed_init(&R.L[j].med, R.hist + (size_t)j * XMED_HIST_WORDS);
  ctx_info(ctx, "cbas loop: %u ifgs (of %u), %u loops, blocks of %u rows\n", R.n_ws, R.n_ifg, R.n_loop, R.rows);

  /* ---- pass 1: loops without reference */
  if (lp_pass1(&R)) goto done;
  budget_free(ctx, R.hist);
  R.hist = NULL;
  for (uint32_t j = 0; j < R.n_loop; j++) R.L[j].bad1 = (double)R.L[j].rms1 >= p->loop_thre;
  if (bad_from_loops(&R, 0, LOOP_F_BAD1) || put_ws_list(&R, TSDIR_LOOP, "bad_ifg_loop.txt", LOOP_F_BAD1)) goto done;
  if (p->rm_ifg_list) {
    char path[1200];
    if (tsdir_file(ctx, t, TSDIR_LOOP, "rm_ifg_man.txt", path, sizeof path) || tsdir_ifglist_write(ctx, path, &rm))
      goto done;
  }

  /* ---- pass 2: per-pixel statistics, reference pixel */
  for (uint32_t j = 0; j < R.n_loop; j++) R.L[j].in2 = !any_flag(&R, &R.L[j], LOOP_F_BAD1 | LOOP_F_RM);
  memset(&q2, 0, sizeof q2);
  q2.ref.zero_idx = -1;
  for (int i = 0; i < 3; i++) {
    if (tsdir_work_create(ctx, t, P2_WORK[i], &q2.f[i])) {
      for (int k = 0; k < i; k++) afile_abort(&q2.f[k]);
      goto done;
    }
  }
  q2_open = 1;
  if (lp_sweep(&R, "loop pass 2", 0, 0, lp_item_pass2, lp_after_pass2, &q2)) goto done;
  for (int i = 0; i < 3; i++)
    if (afile_commit(ctx, &q2.f[i])) { for (int k = i + 1; k < 3; k++) afile_abort(&q2.f[k]); q2_open = 0; goto done; }
  q2_open = 0;
  long ref_idx = q2.ref.have ? q2.ref.idx : q2.ref.zero_idx;
  if (!q2.ref.any || ref_idx < 0) {
    uint32_t n_in2 = 0, n_bad = 0;
    for (uint32_t j = 0; j < R.n_loop; j++) n_in2 += R.L[j].in2;
    for (uint32_t i = 0; i < R.n_ws; i++) n_bad += (R.wflag[i] & (LOOP_F_BAD1 | LOOP_F_RM)) != 0;
    if (n_in2 == 0)
      ctx_fail(ctx, CBAS_EDATA, "%s: every loop contains a bad interferogram (%u of %u bad at --loop-thre %g): "
               "no loop phase left to choose the reference pixel; raise --loop-thre", stack_dir(s), n_bad, R.n_ws,
               p->loop_thre);
    else
      ctx_fail(ctx, CBAS_EDATA, "%s: no reference pixel: no loop phase where the most interferograms are valid",
               stack_dir(s));
    goto done;
  }
  uint32_t refx = (uint32_t)(ref_idx % (long)R.W), refy = (uint32_t)(ref_idx / (long)R.W);
  {
    char path[1200], line[128];
    int nl = snprintf(line, sizeof line, "%u:%u/%u:%u\n", refx, refx + 1, refy, refy + 1);
    if (tsdir_file(ctx, t, TSDIR_INFO, "12ref.txt", path, sizeof path) || afile_put(ctx, path, line, (size_t)nl)) goto done;
  }
  if (write_rms_masked(&R, &q2.ref)) goto done;
  for (int i = 0; i < 3; i++) { /* the work arrays have served */
    char path[1200];
    if (!tsdir_file(ctx, t, TSDIR_WORK, P2_WORK[i], path, sizeof path)) plat_unlink(path);
  }
  ctx_info(ctx, "cbas loop: reference pixel %u:%u/%u:%u (n_unw %d, %g loops with |phase| > pi, rms %g rad)\n", refx,
           refx + 1, refy, refy + 1, (int)q2.ref.nunw, (double)q2.ref.nbad, q2.ref.have ? (double)q2.ref.rms : 0.0);

  /* ---- no-reference ifgs and the reference phases */
  if (tsdir_read_unw(ctx, s, refy, 1, R.unw)) goto done;
  for (uint32_t i = 0; i < R.n_ws; i++) {
    if (R.wflag[i] & (LOOP_F_BAD1 | LOOP_F_RM)) continue;
    float u = R.unw[(size_t)R.ws[i] * R.W + refx];
    if (u != u) R.wflag[i] |= LOOP_F_NOREF;
  }
  if (put_ws_list(&R, TSDIR_LOOP, "bad_ifg_noref.txt", LOOP_F_NOREF)) goto done;
  for (uint32_t j = 0; j < R.n_loop; j++) {
    lp_loop *l = &R.L[j];
    float r12 = R.unw[(size_t)l->k[0] * R.W + refx], r23 = R.unw[(size_t)l->k[1] * R.W + refx];
    float r13 = R.unw[(size_t)l->k[2] * R.W + refx];
    l->ref = loop_phase(r12, r23, r13);
    l->in3 = !any_flag(&R, l, LOOP_F_BAD1 | LOOP_F_RM | LOOP_F_NOREF);
    l->ss = 0;
    l->ns = 0;
  }

  /* ---- pass 3: loops with reference */
  if (lp_sweep(&R, "loop pass 3", 0, 1, lp_item_pass3, NULL, NULL)) goto done;
  for (uint32_t j = 0; j < R.n_loop; j++) {
    lp_loop *l = &R.L[j];
    l->rms2 = l->in3 && l->ns ? sqrtf((float)(l->ss / (double)l->ns)) : NAN;
    l->bad3 = l->rms2 != l->rms2 ? -1 : (double)l->rms2 >= p->loop_thre;
  }
  if (bad_from_loops(&R, 1, LOOP_F_BAD2) || put_ws_list(&R, TSDIR_LOOP, "bad_ifg_loopref.txt", LOOP_F_BAD2)) goto done;

  /* 12bad_ifg.txt = bad ∪ rm ∪ bad2 ∪ noref (rm names outside the working set included) */
  tsdir_ifglist all = {0};
  for (uint32_t i = 0; i < R.n_ws; i++)
    if (R.wflag[i] & (LOOP_F_BAD1 | LOOP_F_RM | LOOP_F_BAD2 | LOOP_F_NOREF)) {
      R.wflag[i] |= LOOP_F_BAD12;
      if (tsdir_ifglist_add(ctx, &all, R.wsname[i])) break;
    }
  for (uint32_t i = 0; i < rm.n && !ctx->status; i++) tsdir_ifglist_add(ctx, &all, rm.name[i]);
  for (uint32_t i = 0; i < R.n_ws; i++)
    if (R.wflag[i] & LOOP_F_BAD12) R.wflag[i] &= (uint8_t)~LOOP_F_CAND;
  tsdir_ifglist_sort_unique(&all);
  {
    char path[1200];
    if (!ctx->status && !tsdir_file(ctx, t, TSDIR_INFO, "12bad_ifg.txt", path, sizeof path)) tsdir_ifglist_write(ctx, path, &all);
  }
  uint32_t n_bad12 = all.n;
  if (ctx->status) { tsdir_ifglist_free(&all); goto done; }
  if (write_removed_images(&R) || put_ws_list(&R, TSDIR_INFO, "12bad_ifg_cand.txt", LOOP_F_CAND)) {
    tsdir_ifglist_free(&all);
    goto done;
  }
  uint32_t n_good = 0;
  for (uint32_t i = 0; i < R.n_ws; i++) n_good += !(R.wflag[i] & LOOP_F_BAD12);
  if (n_good == 0) {
    tsdir_ifglist_free(&all);
    ctx_fail(ctx, CBAS_EDATA, "%s: every interferogram is bad after loop closure; check the data or raise --loop-thre", t->path);
    goto done;
  }

  /* ---- pass 4: n_loop_err, coh_avg, n_unw, n_ifg_noloop over good ifgs */
  for (uint32_t j = 0; j < R.n_loop; j++) {
    lp_loop *l = &R.L[j];
    l->in4 = !any_flag(&R, l, LOOP_F_BAD12);
  }
  for (int i = 0; i < 4; i++)
    if (tsdir_result_create(ctx, t, m, NULL, P4_NAMES[i], 1, NULL, &g4[i])) { tsdir_ifglist_free(&all); goto done; }
  if (lp_sweep(&R, "loop pass 4", 1, 0, lp_item_pass4, lp_after_pass4, g4)) { tsdir_ifglist_free(&all); goto done; }
  for (int i = 0; i < 4; i++) {
    gt_writer *g = g4[i];
    g4[i] = NULL;
    if (gt_commit(ctx, g)) { tsdir_ifglist_free(&all); goto done; }
  }

  /* ---- reports (the block buffers make room for the network figures) */
  budget_free(ctx, R.unw);
  budget_free(ctx, R.cc);
  budget_free(ctx, R.out);
  R.unw = NULL;
  R.cc = NULL;
  R.out = NULL;
  if (write_loop_info(&R) || write_gap_info(&R) || write_network(&R)) { tsdir_ifglist_free(&all); goto done; }
  {
    char path[1200];
    uint32_t nnl = 0;
    for (uint32_t i = 0; i < R.n_ws; i++) nnl += (R.wflag[i] & LOOP_F_NOLOOP) != 0;
    if (tsdir_file(ctx, t, TSDIR_INFO, "12no_loop_ifg.txt", path, sizeof path)) { tsdir_ifglist_free(&all); goto done; }
    if (nnl) {
      if (put_ws_list(&R, TSDIR_INFO, "12no_loop_ifg.txt", LOOP_F_NOLOOP)) { tsdir_ifglist_free(&all); goto done; }
      ctx_info(ctx, "cbas loop: %u ifgs are in no loop (info/12no_loop_ifg.txt); check them by eye\n", nnl);
    } else {
      plat_unlink(path);
    }
  }
  ctx_info(ctx, "cbas loop: %u/%u ifgs are discarded from further processing\n", n_bad12, R.n_ws);
  for (uint32_t i = 0; i < all.n; i++) ctx_info(ctx, "  %s\n", all.name[i]);
  tsdir_ifglist_free(&all);

  if (out) {
    out->n_loop = R.n_loop;
    out->loops = malloc((size_t)R.n_loop * sizeof *out->loops);
    out->rms1 = malloc((size_t)R.n_loop * 4);
    out->rms2 = malloc((size_t)R.n_loop * 4);
    out->flags = calloc(m->n_ifg + 1, 1);
    if (!out->loops || !out->rms1 || !out->rms2 || !out->flags) {
      loop_summary_free(out);
      ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
      goto done;
    }
    for (uint32_t j = 0; j < R.n_loop; j++) {
      out->loops[j] = (ifgnet_loop){R.L[j].k[0], R.L[j].k[1], R.L[j].k[2]};
      out->rms1[j] = R.L[j].rms1;
      out->rms2[j] = R.L[j].rms2;
    }
    for (uint32_t k = 0; k < m->n_ifg; k++) out->flags[k] = LOOP_F_BAD11;
    for (uint32_t i = 0; i < R.n_ws; i++) out->flags[R.ws[i]] = R.wflag[i];
    out->ref_x = refx;
    out->ref_y = refy;
    out->n_stack_passes = R.n_passes;
  }
done:
  if (q2_open)
    for (int i = 0; i < 3; i++) afile_abort(&q2.f[i]);
  for (int i = 0; i < 4; i++)
    if (g4[i]) gt_abort(ctx, g4[i]);
  tsdir_ifglist_free(&rm);
  budget_free(ctx, R.hist);
  budget_free(ctx, R.scr);
  budget_free(ctx, R.unw);
  budget_free(ctx, R.cc);
  budget_free(ctx, R.out);
  budget_free(ctx, R.rowref);
  free(R.ws);
  free(R.wsname);
  free(R.wflag);
  free(R.L);
  return ctx->status;
}

static int loop_cmd_run(cbas_ctx *ctx, const tsdir *t, stack *s, const tsdir_pvals *v, void *ud) {
  loop_params p;
  loop_params_from(v, &p);
  return loop_run(ctx, t, s, &p, NULL);
}

int cmd_loop(int argc, char **argv) {
  static const tsdir_cmd_spec spec = {
      "loop", 12,
      "LiCSBAS step 12: loop-closure check of every triangle of the network; bad interferograms\n"
      "(info/12bad_ifg.txt), reference pixel (info/12ref.txt), results/n_loop_err.tif, n_unw.tif,\n"
      "coh_avg.tif, n_ifg_noloop.tif, network gaps. Needs cbas check first.",
      0, NULL, 0, loop_cmd_run, NULL};
  return tsdir_cmd_main(argc, argv, &spec);
}
