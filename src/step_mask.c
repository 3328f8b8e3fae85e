/* step_mask.c — `cbas mask-ts`, LiCSBAS step 15 (see include/cbas/step_mask.h). */
#include "cbas/step_mask.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/licsbas.h"
#include "cbas/mask_png.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include "cbas/progress.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mask_params_from(const tsdir_pvals *v, tsmask_params *p) {
  static const tsdir_pid ids[TSMASK_N] = {
      TSP_P15_COH_THRE, TSP_P15_N_UNW_R_THRE, TSP_P15_VSTD_THRE, TSP_P15_MAXTLEN_THRE,
      TSP_P15_N_GAP_THRE, TSP_P15_STC_THRE, TSP_P15_N_IFG_NOLOOP_THRE, TSP_P15_N_LOOP_ERR_THRE,
      TSP_P15_RESID_RMS_THRE};
  tsmask_params_default(p);
  /* only values the user gave: LiCSBAS's defaults are band-dependent Python ints/floats,
   * decided (and printed) by tsmask_setup */
  for (int k = 0; k < TSMASK_N; k++)
    if (v->set[ids[k]]) p->thre[k] = v->num[ids[k]];
  p->keep_isolated = v->num[TSP_P15_KEEP_ISOLATED] != 0;
  p->no_autoadjust = v->num[TSP_P15_NOAUTOADJUST] != 0;
}

enum { N_IN = 1 + TSMASK_N }; /* vel + the nine indices */

static const char *producer_of(int k) {
  switch (k) {
  case TSMASK_COH_AVG: case TSMASK_N_UNW: case TSMASK_N_LOOP_ERR: return "loop";
  case TSMASK_VSTD: case TSMASK_STC: return "vstd";
  default: return "invert";
  }
}

typedef struct mblk {
  const tsmask_plan *plan;
  uint32_t w;
  float *in[N_IN];     /* [rows][w] each */
  float *mask, *vm;    /* [rows][w] */
  tsmask_acc *acc;     /* [rows] */
  int apply;
} mblk;

static int mask_row(void *ud, long r, int worker) {
  mblk *b = ud;
  size_t off = (size_t)r * b->w;
  const float *idx[TSMASK_N];
  for (int k = 0; k < TSMASK_N; k++) idx[k] = b->in[1 + k] + off;
  tsmask_acc_init(&b->acc[r]);
  if (b->apply) tsmask_apply(b->plan, b->in[0] + off, idx, b->w, b->mask + off, b->vm + off, &b->acc[r]);
  else tsmask_scan(b->plan, b->in[0] + off, idx, b->w, &b->acc[r]);
  return 0;
}

int mask_run(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const tsmask_params *p,
             tsmask_plan *plan_out, tsmask_acc *acc_out) {
  uint32_t w = m->width, l = m->length;
  char path[1200], val[128], why[256];
  if (tsdir_file(ctx, t, TSDIR_INFO, "13parameters.txt", path, sizeof path) ||
      tsdir_get_param_par(ctx, path, "wavelength", "invert", val, sizeof val))
    return ctx->status;
  double wavelength = strtod(val, NULL);
  /* n_im through LiCSBAS's grep: the first line containing "n_im" is n_im_all */
  if (tsdir_get_param_par(ctx, path, "n_im", "invert", val, sizeof val)) return ctx->status;
  long n_im = strtol(val, NULL, 10);
  tsmask_plan plan;
  if (tsmask_setup(&plan, p, wavelength, n_im, why, sizeof why))
    return ctx_fail(ctx, CBAS_EUSAGE, "%s (%s)", why, path);

  gt_reader *rd[N_IN] = {0};
  gt_writer *wm = NULL, *wv = NULL;
  progress *bar = NULL; /* rows of the current pass; NULL (no-op) unless stderr is a terminal */
  mblk b;
  memset(&b, 0, sizeof b);
  b.plan = &plan;
  b.w = w;
  tsmask_acc scan, acc;
  tsmask_acc_init(&scan);
  tsmask_acc_init(&acc);
  for (int i = 0; i < N_IN; i++)
    if (tsdir_result_open(ctx, t, m, NULL, i ? tsmask_name(i - 1) : "vel", i ? producer_of(i - 1) : "invert", &rd[i]))
      goto done;

  /* Memory: per block row, ten input rows and two output rows of floats + one accumulator. */
  uint32_t rows;
  if (tsdir_block_rows(ctx, l, 0, (uint64_t)w * 4 * (N_IN + 2) + sizeof(tsmask_acc) + 64 * (N_IN + 3),
                       "step 15 row blocks", &rows))
    goto done;
  for (int i = 0; i < N_IN; i++)
    if (!(b.in[i] = budget_alloc(ctx, (size_t)rows * w * 4, "input rows"))) goto done;
  if (!(b.mask = budget_alloc(ctx, (size_t)rows * w * 4, "mask rows")) ||
      !(b.vm = budget_alloc(ctx, (size_t)rows * w * 4, "vel.mskd rows")) ||
      !(b.acc = budget_alloc(ctx, (size_t)rows * sizeof *b.acc, "accumulators")))
    goto done;

  for (int pass = 0; pass < 2; pass++) {
    b.apply = pass;
    if (pass == 1) {
      tsmask_adjust(&plan, &scan);
      for (int k = 0; k < TSMASK_N; k++) {
        if (!plan.adjusted[k]) continue;
        char a[48], c2[48];
        lb_pyfloat(a, sizeof a, plan.given[k]);
        lb_pyfloat(c2, sizeof c2, plan.thre[k]);
        ctx_info(ctx, "cbas mask-ts: all pixels would be masked with %s thre of %s; automatically changed to %s "
                      "(ceil of min value)\n", tsmask_name(k), a, c2);
      }
      if (tsdir_result_create(ctx, t, m, NULL, "mask", 1, NULL, &wm) ||
          tsdir_result_create(ctx, t, m, NULL, "vel.mskd", 1, NULL, &wv))
        goto done;
    }
    bar = progress_start(ctx, pass ? "mask-ts pass 2" : "mask-ts pass 1", l);
    for (uint32_t y0 = 0; y0 < l; y0 += rows) {
      uint32_t ny = l - y0 < rows ? l - y0 : rows;
      for (int i = 0; i < N_IN; i++)
        if (gt_read(ctx, rd[i], 0, 0, y0, w, ny, GT_F32, b.in[i], w)) goto done;
      if (par_for(ctx, ny, mask_row, &b)) goto done;
      for (uint32_t r = 0; r < ny; r++) tsmask_acc_merge(pass ? &acc : &scan, &b.acc[r]);
      if (pass && (gt_write_rows(ctx, wm, ny, b.mask, w, 0) || gt_write_rows(ctx, wv, ny, b.vm, w, 0))) goto done;
      progress_add(bar, ny);
    }
    progress_end(bar);
    bar = NULL;
    if (pass == 0 && scan.n_pt_all == 0) {
      ctx_fail(ctx, CBAS_EDATA, "no pixel with a valid non-zero velocity in results/vel.tif");
      goto done;
    }
  }

  /* 15parameters.txt first (LiCSBAS writes it before its "all masked" check) */
  char rep[2048];
  int n = tsmask_report(&plan, &acc, rep, sizeof rep);
  if (n < 0) { ctx_fail(ctx, CBAS_EINTERNAL, "15parameters.txt: report too long"); goto done; }
  if (tsdir_file(ctx, t, TSDIR_INFO, "15parameters.txt", path, sizeof path) || afile_put(ctx, path, rep, (size_t)n))
    goto done;
  if (!ctx->quiet) fprintf(stderr, "\n%s", rep);
  if (tsmask_n_nomask(&acc) == 1) {
    ctx_fail(ctx, CBAS_EDATA, "all pixels are masked; try again with different thresholds");
    goto done;
  }
  {
    gt_writer *a = wm, *c = wv;
    wm = wv = NULL;
    if (gt_commit(ctx, a)) { gt_abort(ctx, c); goto done; }
    if (gt_commit(ctx, c)) goto done;
  }
  if (plan_out) *plan_out = plan;
  if (acc_out) *acc_out = acc;
done:
  progress_end(bar);
  gt_abort(ctx, wm);
  gt_abort(ctx, wv);
  for (int i = 0; i < N_IN; i++) {
    if (rd[i]) gt_close(ctx, rd[i]);
    budget_free(ctx, b.in[i]);
  }
  budget_free(ctx, b.mask);
  budget_free(ctx, b.vm);
  budget_free(ctx, b.acc);
  return ctx->status;
}

int cmd_mask_ts(int argc, char **argv) {
  tsdir_cli c;
  int no_png = 0;
  cli_opt extra[] = {{"no-png", CLI_FLAG, &no_png, NULL, "do not draw mask_ts.png and mask_ts_masked.png"}};
  tsdir_cli_build(&c, 15, extra, 1);
  cli_common common;
  char err[512];
  int r = cli_parse("mask-ts", "[STACK] [--ts TSDIR] [options]",
                    "LiCSBAS step 15: masks the time series with noise indices (coh_avg, n_unw, vstd, maxTlen,\n"
                    "n_gap, stc, n_ifg_noloop, n_loop_err, resid_rms; C/L-band defaults, auto-adjust); writes\n"
                    "results/mask.tif, results/vel.mskd.tif, info/15parameters.txt and the figures\n"
                    "mask_ts.png, mask_ts_masked.png (every index with its threshold, as LiCSBAS).",
                    c.opt, c.n_opt, argc, argv, &common, err, sizeof err);
  if (r == 1) return 0;
  if (r) { fprintf(stderr, "cbas mask-ts: %s\n", err); return 2; }
  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &common)) return cli_finish(&ctx, "mask-ts");
  tsdir_pvals v;
  tsmask_params p;
  tsdir t;
  stack *s = NULL;
  if (!tsdir_cli_apply(&ctx, &c, &v) && !tsdir_cli_open(&ctx, &c, 0, &t, &s)) {
    mask_params_from(&v, &p);
    double t0 = plat_now();
    const stack_meta *m = stack_get_meta(s);
    tsmask_plan plan;
    mask_png_opts po = {v.set[TSP_P15_VMIN] ? v.num[TSP_P15_VMIN] : NAN, v.set[TSP_P15_VMAX] ? v.num[TSP_P15_VMAX] : NAN};
    /* the figures' budget is checked before any work (fail early, not after the rasters) */
    int png_ok = no_png || !budget_require(&ctx, mask_png_need(m->width, m->length),
                                           "mask_ts.png and mask_ts_masked.png (--no-png to skip them)");
    if (png_ok && !mask_run(&ctx, &t, m, &p, &plan, NULL) && (no_png || !mask_png_write(&ctx, &t, m, &plan, &po, NULL))) {
      ctx_info(&ctx, "cbas mask-ts: done in %.2f s; output in %s\n", plat_now() - t0, t.path);
      tsdir_report_peak(&ctx, "cbas mask-ts");
    }
  }
  stack_close(s);
  return cli_finish(&ctx, "mask-ts");
}
