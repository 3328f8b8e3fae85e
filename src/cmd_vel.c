/* cmd_vel.c — `cbas vel`: the velocity (and optionally an annual sinusoid and the bootstrap
 * std of the velocity) of the cumulative displacement over a date range, as LiCSBAS_cum2vel.py
 * v1.3.3 computes it (digest §11).
 *
 * Epochs: [--start, --end], a date not in the list snapping to the first epoch >= start / the
 * last <= end (default: all); t = float32((day - day_start)/365.25). Data: y = cum*mask - ref
 * (float32), ref_e = NumPy nanmean of cum_e*mask over the reference window (tools_ref_series;
 * default the file's own 13ref/16ref, see tools.h), mask 0 -> NaN. Pixels NaN at every epoch
 * stay NaN. Per pixel, over its non-NaN epochs (nsbas_vel_fit, numpy lstsq semantics):
 *   y = c + v t                                   -> PREFIX.vel.tif (mm/yr)
 *   --sin: y = c + v t + a_s sin 2πt + a_c cos 2πt -> vel, PREFIX.amp.tif = sqrt(a_s² + a_c²) (mm)
 *          PREFIX.dt.tif = day of year (0 = Jan 1, 365.25-day year, 0..365.25) at which the
 *          annual term crosses zero upward (LiCSBAS's "time difference wrt Jan 1"),
 *          PREFIX.peak.tif = dt + 365.25/4 wrapped: day of year of its maximum (largest
 *          displacement toward the satellite; the minimum is half a year away).
 *   --vstd: PREFIX.vstd.tif, bootstrap std of v (mm/yr): 100 draws of epochs with replacement
 *          from MT19937 seeded with 1 (as astropy/NumPy), shared by every pixel of the image;
 *          a draw singular for any pixel is dropped for all (LiCSBAS solves the whole image as
 *          one batch), np.nanstd of the rest.
 * With --mask/--mask-file the names get LiCSBAS's ".mskd" (PREFIX.vel.mskd.tif ...). Default
 * PREFIX = START_END (the snapped dates), in the current directory as LiCSBAS writes them.
 * Outputs are float32 GeoTIFFs on the input's grid (NaN = no data) plus PNG quicklooks
 * (--no-png to skip), titled as LiCSBAS's "n_im: N, Ref X/Y x1:x2/y1:y2".
 * Divergence: LiCSBAS refers dt to the day of year of the file's first epoch even when --start
 * is later (digest §11 QUIRK); here dt refers to the start epoch, so dt is the same whatever
 * range is chosen for a stationary annual signal. Without --start both agree.
 *
 * Streaming: row blocks (tsdir_block_rows) of every selected epoch, par_for over the rows of a
 * block; results do not depend on --threads or --mem. When some bootstrap draw turns out
 * singular, vstd is computed again in a second pass with the final set of dropped draws.
 * Memory: per row n_sel*W*4 (cum) + W*4 (mask) + n_out*W*4; per worker the fit scratch
 * (nsbas_vel_work doubles) and 100 draws; once the draw indices 100*n_sel ints; plus the
 * reference series (tools.h), the readers' and writers' strips.
 */
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/nsbas.h"
#include "cbas/par.h"
#include "cbas/progress.h"
#include "cbas/tools.h"
#include "cbas/tsdir.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_VEL, O_AMP, O_DT, O_PEAK, O_VSTD, O_N };
static const char *const OUT_NAME[O_N] = {"vel", "amp", "dt", "peak", "vstd"};

typedef struct vel_opts {
  tools_in_opts in;
  const char *start, *end, *prefix;
  int sin, vstd, no_png, block_rows;
} vel_opts;

typedef struct vel_run {
  cbas_ctx *ctx;
  const vel_opts *o;
  tools_cum c;
  gt_reader *mask;
  int i0, n;                /* selected epochs [i0, i0+n) */
  float *t;                 /* [n] years since the start epoch, float32 */
  float *ref;               /* [n] reference series (0 when none) */
  int doy0;                 /* day of year of the start epoch */
  int want[O_N];
  char path[O_N][1100];
  gt_writer *w[O_N];
  int *draw;                /* [NSBAS_BOOT * n] bootstrap epoch indices */
  uint8_t voided[NSBAS_BOOT];
  int vstd_only;            /* second pass: vstd with the final voided set */
  /* per block */
  uint32_t y0, ny, width;
  float *cum, *mrow, *out[O_N];
  /* per worker */
  double *work;             /* [n_worker][nwork] */
  size_t nwork;
  float *draws;             /* [n_worker][NSBAS_BOOT + n]: draws, then the pixel's series */
  uint8_t *sing;            /* [n_worker][2*NSBAS_BOOT]: this pixel's flags, then the worker's OR */
} vel_run;

/* Snaps a date option to an epoch: first >= date (start) or last <= date (end). */
static int pick_epoch(cbas_ctx *ctx, const tools_cum *c, const char *opt, const char *date, int first, int *idx) {
  if (strlen(date) != 8 || !lb_valid_date(date))
    return ctx_fail(ctx, CBAS_EUSAGE, "--%s %s: not a date YYYYMMDD", opt, date);
  long d = lb_day_number(date);
  *idx = -1;
  if (first) {
    for (int e = 0; e < c->n_epoch && *idx < 0; e++)
      if (c->day[e] >= d) *idx = e;
  } else {
    for (int e = c->n_epoch - 1; e >= 0 && *idx < 0; e--)
      if (c->day[e] <= d) *idx = e;
  }
  if (*idx < 0)
    return ctx_fail(ctx, CBAS_EUSAGE, "--%s %s is %s the %s epoch %s of %s", opt, date, first ? "after" : "before",
                    first ? "last" : "first", c->date[first ? c->n_epoch - 1 : 0], c->path);
  return 0;
}

static int fit_row(void *ud, long item, int worker) {
  vel_run *v = ud;
  const uint32_t W = v->width, r = (uint32_t)item;
  const int n = v->n, sinf_ = v->o->sin;
  const float *cum = v->cum + (size_t)r * (size_t)n * W;
  const float *m = v->mrow + (size_t)r * W;
  double *work = v->work + (size_t)worker * v->nwork;
  float *draws = v->draws + (size_t)worker * (NSBAS_BOOT + (size_t)n), *series = draws + NSBAS_BOOT;
  uint8_t *sing = v->sing + (size_t)worker * 2 * NSBAS_BOOT, *acc = sing + NSBAS_BOOT;
  for (uint32_t x = 0; x < W; x++) {
    int any = 0;
    for (int e = 0; e < n; e++) { /* contiguous: the fits visit every epoch many times */
      series[e] = cum[(size_t)e * W + x] * m[x] - v->ref[e];
      any |= !isnan(series[e]);
    }
    float res[O_N];
    for (int k = 0; k < O_N; k++) res[k] = NAN;
    if (any) {
      if (!v->vstd_only) {
        float coef[4];
        nsbas_vel_fit(n, v->t, series, 1, sinf_ ? 4 : 2, work, coef);
        res[O_VEL] = coef[1];
        if (sinf_) {
          nsbas_sin_amp_dt(coef[2], coef[3], v->doy0, &res[O_AMP], &res[O_DT]);
          float pk = res[O_DT] + 365.25f / 4;
          res[O_PEAK] = pk > 365.25f ? pk - 365.25f : pk;
        }
      }
      if (v->want[O_VSTD]) {
        nsbas_boot_pixel(n, v->t, NSBAS_BOOT, v->draw, series, 1, draws, sing);
        for (int b = 0; b < NSBAS_BOOT; b++) acc[b] |= sing[b];
        res[O_VSTD] = nsbas_boot_std(NSBAS_BOOT, draws, v->vstd_only ? v->voided : NULL);
      }
    }
    for (int k = 0; k < O_N; k++)
      if (v->out[k]) v->out[k][(size_t)r * W + x] = res[k];
  }
  return 0;
}

/* One pass over the image: every output (vstd_only = 0) or only vstd (1). */
static int vel_pass(vel_run *v) {
  cbas_ctx *ctx = v->ctx;
  const uint32_t W = v->c.width, L = v->c.length;
  int n_out = 0;
  for (int k = 0; k < O_N; k++) n_out += v->want[k] && (!v->vstd_only || k == O_VSTD);
  uint64_t per_row = ((uint64_t)v->n + 1 + (uint64_t)n_out) * W * 4;
  uint32_t rows;
  if (tsdir_block_rows_max(ctx, L, 0, per_row, (uint32_t)v->o->block_rows, "cbas vel", &rows)) return ctx->status;
  v->width = W;
  v->cum = budget_alloc(ctx, (size_t)rows * v->n * W * 4, "cbas vel: cum rows");
  v->mrow = budget_alloc(ctx, (size_t)rows * W * 4, "cbas vel: mask rows");
  for (int k = 0; k < O_N; k++) {
    v->out[k] = NULL;
    if (v->want[k] && (!v->vstd_only || k == O_VSTD))
      v->out[k] = budget_alloc(ctx, (size_t)rows * W * 4, "cbas vel: output rows");
  }
  progress *pg = progress_start(ctx, v->vstd_only ? "cbas vel (vstd)" : "cbas vel", L);
  for (uint32_t y0 = 0; !ctx->status && y0 < L; y0 += rows) {
    uint32_t ny = L - y0 < rows ? L - y0 : rows;
    if (tools_cum_rows(ctx, &v->c, v->i0, v->n, 0, W, y0, ny, v->cum) ||
        tools_mask_rows(ctx, v->mask, W, y0, ny, v->mrow) || par_for(ctx, ny, fit_row, v))
      break;
    for (int k = 0; k < O_N; k++)
      if (v->out[k] && gt_write_rows(ctx, v->w[k], ny, v->out[k], W, (size_t)ny * W)) break;
    progress_add(pg, ny);
  }
  progress_end(pg);
  budget_free(ctx, v->cum);
  budget_free(ctx, v->mrow);
  for (int k = 0; k < O_N; k++) budget_free(ctx, v->out[k]);
  return ctx->status;
}

static int create_out(vel_run *v, int k) {
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = v->c.width;
  o.height = v->c.length;
  o.bands = 1;
  o.type = GT_F32;
  o.geo = v->c.geo;
  if (o.geo.epsg != 4326) o.geo.epsg = 0;
  o.has_nodata = 1;
  o.nodata = NAN;
  o.zrle = 1; /* as tsdir's results */
  return gt_create(v->ctx, v->path[k], &o, &v->w[k]);
}

static int run_vel(cbas_ctx *ctx, const vel_opts *o) {
  vel_run v;
  memset(&v, 0, sizeof v);
  v.ctx = ctx;
  v.o = o;
  lb_range ref;
  int have_ref;
  char ref_desc[256];
  if (tools_in_open(ctx, &o->in, &v.c, &v.mask, &ref, &have_ref, ref_desc, sizeof ref_desc)) goto done;
  /* epochs */
  int is = 0, ie = v.c.n_epoch - 1;
  if ((o->start && pick_epoch(ctx, &v.c, "start", o->start, 1, &is)) ||
      (o->end && pick_epoch(ctx, &v.c, "end", o->end, 0, &ie)))
    goto done;
  if (ie - is + 1 < 2) {
    ctx_fail(ctx, CBAS_EUSAGE, "--start/--end select %d epoch(s) of %s (%s..%s): a velocity needs at least 2",
             ie - is + 1 > 0 ? ie - is + 1 : 0, v.c.path, v.c.date[is], v.c.date[ie]);
    goto done;
  }
  v.i0 = is;
  v.n = ie - is + 1;
  v.t = malloc((size_t)v.n * sizeof *v.t);
  v.ref = calloc((size_t)v.n, sizeof *v.ref);
  if (!v.t || !v.ref) { ctx_fail(ctx, CBAS_ENOMEM, "out of memory for %d epochs", v.n); goto done; }
  for (int e = 0; e < v.n; e++) v.t[e] = (float)((double)(v.c.day[is + e] - v.c.day[is]) / 365.25);
  char jan1[9];
  snprintf(jan1, sizeof jan1, "%.4s0101", v.c.date[is]);
  v.doy0 = (int)(v.c.day[is] - lb_day_number(jan1));
  if (tools_ref_values(ctx, &v.c, v.mask, &ref, have_ref, ref_desc, is, v.n, v.ref)) goto done;
  /* outputs */
  v.want[O_VEL] = 1;
  v.want[O_AMP] = v.want[O_DT] = v.want[O_PEAK] = o->sin;
  v.want[O_VSTD] = o->vstd;
  char prefix[1024];
  if (o->prefix) snprintf(prefix, sizeof prefix, "%s", o->prefix);
  else snprintf(prefix, sizeof prefix, "%s_%s", v.c.date[is], v.c.date[ie]);
  const char *mskd = v.mask ? ".mskd" : "";
  for (int k = 0; k < O_N; k++) {
    int len = snprintf(v.path[k], sizeof v.path[k], "%s.%s%s.tif", prefix, OUT_NAME[k], mskd);
    if (len < 0 || (size_t)len >= sizeof v.path[k]) { ctx_fail(ctx, CBAS_EUSAGE, "--out %s: too long", prefix); goto done; }
  }
  for (int k = 0; k < O_N; k++)
    if (v.want[k] && create_out(&v, k)) goto done;
  /* scratch */
  int nw = ctx->n_threads;
  v.nwork = nsbas_vel_work(v.n, 4);
  v.work = budget_alloc(ctx, (size_t)nw * v.nwork * sizeof *v.work, "cbas vel: fit scratch");
  v.draws = budget_alloc(ctx, (size_t)nw * (NSBAS_BOOT + (size_t)v.n) * sizeof *v.draws, "cbas vel: bootstrap draws");
  v.sing = budget_calloc(ctx, (size_t)nw * 2 * NSBAS_BOOT, 1, "cbas vel: bootstrap flags");
  if (o->vstd) {
    v.draw = budget_alloc(ctx, (size_t)NSBAS_BOOT * v.n * sizeof *v.draw, "cbas vel: bootstrap indices");
    if (v.draw) nsbas_boot_draws(v.n, NSBAS_BOOT, v.draw);
  }
  if (ctx->status) goto done;
  ctx_info(ctx, "cbas vel: %s, epochs %s..%s (%d), reference %s%s\n", v.c.path, v.c.date[is], v.c.date[ie], v.n,
           have_ref ? ref_desc : "none (values as stored)", v.mask ? ", masked" : "");
  if (vel_pass(&v)) goto done;
  int n_void = 0;
  for (int b = 0; b < NSBAS_BOOT; b++) {
    for (int w = 0; w < nw; w++) v.voided[b] |= v.sing[((size_t)w * 2 + 1) * NSBAS_BOOT + b];
    n_void += v.voided[b];
  }
  if (o->vstd && n_void) {
    /* LiCSBAS drops a draw for every pixel when it is singular for one: redo vstd without them */
    ctx_info(ctx, "cbas vel: %d of %d bootstrap draws are singular for some pixel: vstd without them\n", n_void,
             NSBAS_BOOT);
    gt_abort(ctx, v.w[O_VSTD]);
    v.w[O_VSTD] = NULL;
    v.vstd_only = 1;
    if (create_out(&v, O_VSTD) || vel_pass(&v)) goto done;
  }
  for (int k = 0; k < O_N; k++)
    if (v.w[k]) {
      gt_writer *w = v.w[k];
      v.w[k] = NULL;
      if (gt_commit(ctx, w)) goto done;
    }
  /* quicklooks */
  if (!o->no_png) {
    char title[160];
    snprintf(title, sizeof title, "n_im: %d, Ref X/Y %u:%u/%u:%u", v.n, have_ref ? ref.x0 : 0, have_ref ? ref.x1 : 0,
             have_ref ? ref.y0 : 0, have_ref ? ref.y1 : 0);
    static const plot_cmap cmap[O_N] = {PLOT_CMAP_VEL, PLOT_CMAP_SEQ_R, PLOT_CMAP_SEQ, PLOT_CMAP_SEQ, PLOT_CMAP_SEQ_R};
    static const char *const units[O_N] = {"mm/yr", "mm", "day of year", "day of year", "mm/yr"};
    for (int k = 0; k < O_N; k++) {
      if (!v.want[k]) continue;
      char png[1100];
      snprintf(png, sizeof png, "%.*s.png", (int)(strlen(v.path[k]) - 4), v.path[k]);
      int doy = k == O_DT || k == O_PEAK;
      if (tools_quicklook(ctx, v.path[k], png, title, units[k], cmap[k], doy ? 0 : NAN, doy ? 365.25 : NAN)) goto done;
    }
  }
  for (int k = 0; k < O_N; k++)
    if (v.want[k]) ctx_info(ctx, "cbas vel: wrote %s\n", v.path[k]);
done:
  for (int k = 0; k < O_N; k++) gt_abort(ctx, v.w[k]);
  budget_free(ctx, v.work);
  budget_free(ctx, v.draws);
  budget_free(ctx, v.sing);
  budget_free(ctx, v.draw);
  free(v.t);
  free(v.ref);
  if (v.mask) gt_close(ctx, v.mask);
  tools_cum_close(ctx, &v.c);
  return ctx->status;
}

int cmd_vel(int argc, char **argv) {
  vel_opts o;
  memset(&o, 0, sizeof o);
  tools_in_defaults(&o.in);
  cli_opt opts[TOOLS_IN_N_OPTS + 7] = {
      {"start", CLI_STR, &o.start, "YYYYMMDD", "first date (snaps to the first epoch on or after it)"},
      {"end", CLI_STR, &o.end, "YYYYMMDD", "last date (snaps to the last epoch on or before it)"},
      {"sin", CLI_FLAG, &o.sin, NULL, "fit an annual sinusoid too: amplitude (mm), dt and peak day of year"},
      {"vstd", CLI_FLAG, &o.vstd, NULL, "bootstrap std of the velocity (mm/yr)"},
      {"out", CLI_STR, &o.prefix, "PREFIX", "output prefix (default START_END): PREFIX.vel.tif, .amp, .dt, .peak, .vstd"},
      {"no-png", CLI_FLAG, &o.no_png, NULL, "do not write the PNG quicklooks"},
      {"block-rows", CLI_INT, &o.block_rows, "N", "rows per block at most (default: from --mem; tests, tuning)"},
  };
  tools_in_cli(opts + 7, &o.in);
  cli_common common;
  char err[512];
  int st = cli_parse("vel", "--ts TSDIR | --cum FILE.tif [--start YYYYMMDD --end YYYYMMDD] [--sin] [--vstd] [--ref X1:X2/Y1:Y2 | --ref-geo W/E/S/N | --ref-lon X --ref-lat Y] [--mask] [--out PREFIX]",
                     "Velocity (mm/yr) of the cumulative displacement over a date range, as LiCSBAS_cum2vel.py: "
                     "each pixel's series minus the mean of the reference window, a least-squares line (and "
                     "with --sin an annual sinusoid: amplitude, the day of year dt where it rises through "
                     "zero and the day of its peak) and with --vstd the bootstrap std. Reads cum_filt.tif "
                     "when the TSDIR has it (as LiCSBAS reads cum_filt.h5), else cum.tif. Use the same "
                     "--ref-lon/--ref-lat for every frame of an area to share one reference point.",
                     opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (st == 1) return 0;
  if (st) { fprintf(stderr, "cbas vel: %s\n", err); return 2; }
  if (o.block_rows < 0) { fprintf(stderr, "cbas vel: --block-rows must be >= 0\n"); return 2; }
  cbas_ctx ctx;
  if (!cli_ctx_init(&ctx, &common)) run_vel(&ctx, &o);
  if (!ctx.status) tsdir_report_peak(&ctx, "cbas vel");
  return cli_finish(&ctx, "vel");
}
