/* step_check.c — `cbas check`, LiCSBAS step 11: coverage and coherence screening of the
 * interferograms (see include/cbas/step_check.h for the definitions and memory cost). */
#include "cbas/step_check.h"
#include "cbas/budget.h"
#include "cbas/licsbas.h"
#include "cbas/par.h"
#include "cbas/progress.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qc_params_from(const tsdir_pvals *v, qc_params *p) {
  p->unw_thre = v->num[TSP_P11_UNW_THRE];
  p->coh_thre = v->num[TSP_P11_COH_THRE];
  p->block_rows = v->block_rows;
}

typedef struct {
  const stack_meta *m;
  uint32_t ny, n_im;
  const float *unw;      /* [ny][n_ifg][width] */
  const uint8_t *cc;     /* [ny][n_ifg][width] */
  uint8_t *valid;        /* [ny][width] */
  uint64_t *n_cov;       /* [n_ifg] */
  uint64_t *hist;        /* [n_ifg][256] */
} qc_block;

/* Item = one row of the block: the valid-area flags. */
static int qc_valid_row(void *ud, long r, int worker) {
  qc_block *b = ud;
  uint32_t w = b->m->width, n = b->m->n_ifg;
  const float *u = b->unw + (size_t)r * n * w;
  uint8_t *v = b->valid + (size_t)r * w;
  for (uint32_t x = 0; x < w; x++) {
    uint32_t c = 0;
    for (uint32_t k = 0; k < n; k++) c += u[(size_t)k * w + x] == u[(size_t)k * w + x];
    v[x] = c >= b->n_im;
  }
  return 0;
}

/* Item = one interferogram: its coverage count and coherence histogram over the block's
 * valid area (owned by the item, so no reduction across workers is needed). */
static int qc_ifg(void *ud, long k, int worker) {
  qc_block *b = ud;
  uint32_t w = b->m->width, n = b->m->n_ifg;
  uint64_t cov = 0, *h = b->hist + (size_t)k * 256;
  for (uint32_t r = 0; r < b->ny; r++) {
    const float *u = b->unw + ((size_t)r * n + (size_t)k) * w;
    const uint8_t *c = b->cc + ((size_t)r * n + (size_t)k) * w;
    const uint8_t *v = b->valid + (size_t)r * w;
    for (uint32_t x = 0; x < w; x++) {
      if (!v[x]) continue;
      cov += u[x] == u[x];
      h[c[x]]++;
    }
  }
  b->n_cov[k] += cov;
  return 0;
}

/* Epoch dates of the ifgs with keep[k] set, sorted unique: LiCSBAS's ifgdates2imdates. */
static uint32_t epochs_of(const stack_meta *m, const uint8_t *keep, uint8_t *ep_used) {
  memset(ep_used, 0, m->n_epoch);
  for (uint32_t k = 0; k < m->n_ifg; k++)
    if (keep[k]) ep_used[m->ifg_prim[k]] = ep_used[m->ifg_sec[k]] = 1;
  uint32_t c = 0;
  for (uint32_t i = 0; i < m->n_epoch; i++) c += ep_used[i];
  return c;
}

static int write_reports(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const qc_params *p, uint64_t n_valid,
                         const double *cov, const float *coh, const uint8_t *bad) {
  char path[1200], a[64], b[64], f1[32], f2[32], f3[32];
  tsdir_text x = {0};
  tsdir_text_printf(&x, "# Size: %llu(%ux%u), n_valid: %llu\n", (unsigned long long)m->width * m->length, m->width,
                    m->length, (unsigned long long)n_valid);
  lb_pyfloat(a, sizeof a, p->unw_thre);
  lb_pyfloat(b, sizeof b, p->coh_thre);
  tsdir_text_printf(&x, "# unw_cov_thre: %s, coh_thre: %s\n# ifg dates         bperp   dt unw_cov  coh_av\n", a, b);
  for (uint32_t k = 0; k < m->n_ifg; k++) {
    double bperp = m->bperp_m[m->ifg_sec[k]] - m->bperp_m[m->ifg_prim[k]];
    long dt = lb_day_number(m->ifg[k] + 9) - lb_day_number(m->ifg[k]);
    tsdir_text_printf(&x, "%s  %s  %3ld   %s   %s %s\n", m->ifg[k], tsdir_fmt_f(f1, sizeof f1, 6, 1, bperp), dt,
                      tsdir_fmt_f(f2, sizeof f2, 5, 3, cov[k]), tsdir_fmt_f(f3, sizeof f3, 5, 3, coh[k]),
                      bad[k] ? "*" : "");
  }
  if (tsdir_file(ctx, t, TSDIR_INFO, "11ifg_stats.txt", path, sizeof path) || tsdir_text_put(ctx, &x, path))
    return ctx->status;

  for (uint32_t k = 0; k < m->n_ifg; k++)
    if (bad[k]) tsdir_text_printf(&x, "%s\n", m->ifg[k]);
  if (tsdir_file(ctx, t, TSDIR_INFO, "11bad_ifg.txt", path, sizeof path) || tsdir_text_put(ctx, &x, path))
    return ctx->status;

  /* 11removed_image.txt: epochs of all ifgs not among the epochs of the good ones */
  uint8_t *good = malloc(m->n_ifg + m->n_epoch + 1);
  if (!good) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  uint8_t *ep = good + m->n_ifg;
  for (uint32_t k = 0; k < m->n_ifg; k++) good[k] = !bad[k];
  epochs_of(m, good, ep);
  for (uint32_t i = 0; i < m->n_epoch; i++)
    if (!ep[i]) tsdir_text_printf(&x, "%s\n", m->epoch[i]);
  free(good);
  if (tsdir_file(ctx, t, TSDIR_INFO, "11removed_image.txt", path, sizeof path) || tsdir_text_put(ctx, &x, path))
    return ctx->status;
  return 0;
}

int qc_run(cbas_ctx *ctx, const tsdir *t, const stack *s, const qc_params *p, qc_stats *out) {
  const stack_meta *m = stack_get_meta(s);
  uint32_t n = m->n_ifg, w = m->width;
  if (n == 0) return ctx_fail(ctx, CBAS_EDATA, "%s: the stack has no interferogram", stack_dir(s));
  if (!(p->unw_thre == p->unw_thre) || !(p->coh_thre == p->coh_thre))
    return ctx_fail(ctx, CBAS_EUSAGE, "--unw-thre/--coh-thre: not a number");

  /* Memory: histograms + coverage counts (fixed), unw + cc + valid flags + hgt per row. */
  uint64_t fixed = (uint64_t)n * (256 * 8 + 8);
  uint64_t per_row = (uint64_t)n * w * 5 + (uint64_t)w * 5;
  uint32_t rows;
  if (budget_require(ctx, TSDIR_NETWORK_PNG_BYTES, "cbas check: network figures") ||
      tsdir_block_rows_max(ctx, m->length, fixed, per_row, p->block_rows, "cbas check", &rows))
    return ctx->status;

  qc_block b = {m, 0, 0, NULL, NULL, NULL, NULL, NULL};
  uint8_t *ep_all = malloc(m->n_epoch + n + 1);
  if (!ep_all) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  memset(ep_all + m->n_epoch, 1, n);
  b.n_im = epochs_of(m, ep_all + m->n_epoch, ep_all); /* all ifgs: every stack epoch */
  free(ep_all);

  b.hist = budget_calloc(ctx, (size_t)n * 256, 8, "cbas check: coherence histograms");
  b.n_cov = budget_calloc(ctx, n, 8, "cbas check: coverage counts");
  float *unw = budget_alloc(ctx, (size_t)rows * n * w * 4, "cbas check: unw block");
  uint8_t *cc = budget_alloc(ctx, (size_t)rows * n * w, "cbas check: cc block");
  b.valid = budget_alloc(ctx, (size_t)rows * w, "cbas check: valid area");
  float *hgt = m->has_hgt ? budget_alloc(ctx, (size_t)rows * w * 4, "cbas check: hgt block") : NULL;
  double *cov = calloc(n, sizeof *cov);
  float *coh = calloc(n, sizeof *coh);
  uint8_t *bad = calloc(n, 1);
  gt_writer *gw = NULL;
  progress *bar = NULL; /* rows read; NULL (no-op) unless stderr is a terminal */
  uint64_t n_valid = 0;
  if (ctx->status) goto done;
  if (!cov || !coh || !bad) { ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); goto done; }
  b.unw = unw;
  b.cc = cc;
  if (hgt && tsdir_result_create(ctx, t, m, NULL, "hgt", 1, NULL, &gw)) goto done;

  bar = progress_start(ctx, "check", m->length);
  for (uint32_t y0 = 0; y0 < m->length; y0 += rows) {
    b.ny = m->length - y0 < rows ? m->length - y0 : rows;
    if (tsdir_read_unw(ctx, s, y0, b.ny, unw) || tsdir_read_cc(ctx, s, y0, b.ny, cc)) goto done;
    if (par_for(ctx, b.ny, qc_valid_row, &b) || par_for(ctx, n, qc_ifg, &b)) goto done;
    for (size_t i = 0; i < (size_t)b.ny * w; i++) n_valid += b.valid[i];
    if (gw && (stack_read_layer(ctx, s, "hgt", y0, b.ny, hgt) || gt_write_rows(ctx, gw, b.ny, hgt, w, 0))) goto done;
    progress_add(bar, b.ny);
  }
  progress_end(bar);
  bar = NULL;
  if (gw) {
    gt_writer *g = gw;
    gw = NULL;
    if (gt_commit(ctx, g)) goto done;
  }

  uint32_t n_bad = 0;
  for (uint32_t k = 0; k < n; k++) {
    const uint64_t *h = b.hist + (size_t)k * 256;
    double sum = 0;
    uint64_t cnt = 0;
    for (int v = 1; v < 256; v++) {
      sum += (double)h[v] * (double)((float)v / 255.0f);
      cnt += h[v];
    }
    coh[k] = cnt ? (float)(sum / (double)cnt) : NAN;
    cov[k] = n_valid ? (double)b.n_cov[k] / (double)n_valid : NAN;
    bad[k] = cov[k] < p->unw_thre || (double)coh[k] < p->coh_thre || cov[k] != cov[k] || coh[k] != coh[k];
    n_bad += bad[k];
  }
  budget_free(ctx, unw); /* the block buffers make room for the network figures */
  budget_free(ctx, cc);
  unw = NULL;
  cc = NULL;
  if (tsdir_write_licsbas_pars(ctx, t, m) || write_reports(ctx, t, m, p, n_valid, cov, coh, bad) ||
      tsdir_network_pngs(ctx, t, m, 11, NULL, bad))
    goto done;
  ctx_info(ctx, "cbas check: %u/%u ifgs are discarded from further processing (n_valid %llu of %llu pixels)\n", n_bad,
           n, (unsigned long long)n_valid, (unsigned long long)m->width * m->length);
  for (uint32_t k = 0; k < n; k++)
    if (bad[k]) ctx_info(ctx, "  %s  %5.3f  %5.3f\n", m->ifg[k], cov[k], (double)coh[k]);
  if (out) {
    out->n_valid = n_valid;
    if (out->cov) memcpy(out->cov, cov, n * sizeof *cov);
    if (out->coh) memcpy(out->coh, coh, n * sizeof *coh);
    if (out->bad) memcpy(out->bad, bad, n);
  }
  if (n_bad == n)
    ctx_fail(ctx, CBAS_EDATA, "all %u ifgs are regarded as bad (coverage < %g or coherence < %g); change the thresholds or check the input",
             n, p->unw_thre, p->coh_thre);
done:
  progress_end(bar);
  if (gw) gt_abort(ctx, gw);
  budget_free(ctx, b.hist);
  budget_free(ctx, b.n_cov);
  budget_free(ctx, unw);
  budget_free(ctx, cc);
  budget_free(ctx, b.valid);
  budget_free(ctx, hgt);
  free(cov);
  free(coh);
  free(bad);
  return ctx->status;
}

static int check_cmd_run(cbas_ctx *ctx, const tsdir *t, stack *s, const tsdir_pvals *v, void *ud) {
  qc_params p;
  qc_params_from(v, &p);
  return qc_run(ctx, t, s, &p, NULL);
}

int cmd_check(int argc, char **argv) {
  static const tsdir_cmd_spec spec = {
      "check", 11,
      "LiCSBAS step 11: coverage and coherence check of every interferogram of the stack; writes\n"
      "info/11bad_ifg.txt, 11ifg_stats.txt, 11removed_image.txt into the TS directory (created).",
      1, NULL, 0, check_cmd_run, NULL};
  return tsdir_cmd_main(argc, argv, &spec);
}
