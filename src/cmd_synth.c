/* cmd_synth.c — `cbas synth --out DIR`: writes a synthetic LiCSAR frame with known truth.
 *
 * Layout, as LiCSBAS step 02 reads a downloaded frame (digest §1; LiCSBAS02_ml_prep.py globs
 * `*.geo.{E,N,U,hgt}.tif` in GEOC, takes folders of 17 characters with char0 '2', char8 '_',
 * char9 '2', reads `baselines` with read_bperp_file and `center_time` from metadata.txt):
 *   DIR/GEOC/YYYYMMDD_YYYYMMDD/YYYYMMDD_YYYYMMDD.geo.unw.tif  float32 rad, 0 = no data
 *   DIR/GEOC/YYYYMMDD_YYYYMMDD/YYYYMMDD_YYYYMMDD.geo.cc.tif   uint8 coherence·255, 0 = no data
 *   DIR/GEOC/<FRAME>.geo.{E,N,U}.tif   unit vector ground→satellite (float32, 0 outside)
 *   DIR/GEOC/<FRAME>.geo.hgt.tif       terrain m (float32, 0 = sea / outside)
 *   DIR/GEOC/baselines                 "master date bperp btemp", first line master master 0 0
 *   DIR/GEOC/metadata.txt              key=value as LiCSAR (master, center_time, heading, ...)
 * All GEOC rasters: deflate, one row per strip (as GDAL writes LiCSAR frames), EPSG:4326.
 *   DIR/truth/vel.tif       secular LOS rate, mm/yr (the linear part of the model)
 *   DIR/truth/vel_fit.tif   least-squares slope of the true cum over the epochs, mm/yr
 *   DIR/truth/cum.tif       true cumulative LOS displacement, mm, one band per epoch
 *                           (description YYYYMMDD), first epoch 0
 *   DIR/truth/mask_decorr.tif  0 land, 1 vegetated (decorrelated), 2 sea, 3 outside footprint
 *   DIR/truth/bad_ifg.txt, unwerr_ifg.txt, epochs.txt, params.txt
 * Sign (digest §0.2, §7.2): unw = (cum_sec − cum_prim)/coef_r2m + noise with
 * coef_r2m = −λ/(4π)·1000, so LiCSBAS's d = unw·coef_r2m inverts to +cum.
 *
 * Processing: interferograms are written in groups of G at a time (2G open writers); for each
 * group the frame is walked in blocks of B rows: the static rows, then every epoch the group
 * needs (one float row each), then one job per output file (par_for; deflate runs there).
 * Memory (from --mem): B rows × (33·W static + 4·W·n_epochs_of_group + [group 0] 4·W·n_epoch
 * truth) + per thread (4·W scratch + 5·W·B) + per open writer three strips plus libtiff's
 * deflate state and handle (~280 KiB, outside the budget but planned within --mem; see
 * plan_bytes). B and G are the largest that fit; the run fails early with "needs N MB" when
 * even B = 1, G = 1 does not.
 */
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/gtiff.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include "cbas/progress.h"
#include "cbas/synth.h"
#include "cmds.h"
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITER_LIBTIFF_BYTES (280u << 10) /* zlib deflate state (262 KiB) + TIFF handle, raw buffer */
#define MAX_GROUP 240                      /* ifgs per pass: 2 open files each */
#define MAX_BLOCK_ROWS 32
#define DEFAULT_ZLEVEL 1
#define PATH_CAP 1200

enum { F_E, F_N, F_U, F_HGT, T_VEL, T_FIT, T_CUM, T_MASK, N_FIXED };

typedef struct run {
  cbas_ctx *ctx;
  synth_model *m;
  uint32_t W, L, B;
  int nt, zlevel, G;
  char geoc[PATH_CAP], truth[PATH_CAP];
  gt_geo geo;
  /* block state */
  uint32_t y0, ny;
  uint8_t *row_mem;
  size_t row_bytes;
  synth_row *rows;
  float *ep;            /* [e - e_lo][row][x] */
  int e_lo, e_hi;
  float **scratch;      /* per worker */
  float **wunw;         /* per worker B*W */
  uint8_t **wcc;        /* per worker B*W */
  float *tcum, *tfit;   /* truth buffers, group 0 */
  /* writers */
  gt_writer *fixed[N_FIXED];
  gt_writer **iw;       /* [2*(k - k_lo) + 0/1] = unw / cc */
  int k_lo, k_hi, with_fixed;
  double hgt_sum;
  progress *bar;        /* one step per block of rows per pass; NULL without a terminal */
} run;

/* ---- planning ------------------------------------------------------------------------- */

static int group_epochs(const synth_model *m, int k_lo, int k_hi, int *lo, int *hi) {
  int a = m->ifg[k_lo].prim, b = m->ifg[k_lo].sec;
  for (int k = k_lo; k < k_hi; k++) {
    if (m->ifg[k].prim < a) a = m->ifg[k].prim;
    if (m->ifg[k].sec > b) b = m->ifg[k].sec;
  }
  *lo = a;
  *hi = b;
  return b - a + 1;
}

static int max_group_epochs(const synth_model *m, int G) {
  int mx = 0, lo, hi;
  for (int k = 0; k < m->n_ifg; k += G) {
    int n = group_epochs(m, k, k + G < m->n_ifg ? k + G : m->n_ifg, &lo, &hi);
    if (n > mx) mx = n;
  }
  return mx;
}

/* Bytes a pass with blocks of B rows and groups of G ifgs needs: our buffers (budget) plus,
 * per open writer, libtiff's share outside the budget — zlib's deflate state (256 KiB for
 * windowBits 15, memLevel 8), the TIFF handle and its raw-strip buffer (>= 8 KiB) — and three
 * strips (ours, libtiff's encoded copy, the predictor's temporaries). */
static uint64_t plan_bytes(const run *r, uint32_t B, int G) {
  const synth_model *m = r->m;
  uint64_t W = r->W, hdr = 64, ne = (uint64_t)m->n_epoch;
  uint64_t rows = B * (r->row_bytes + sizeof(synth_row)) + 2 * hdr;
  uint64_t workers = (uint64_t)r->nt * (synth_scratch_floats(m) * 4 + B * W * 5 + 4 * hdr) + 3 * hdr;
  uint64_t truth = (ne + 1) * B * W * 4 + 2 * hdr;
  uint64_t epochs = (uint64_t)max_group_epochs(m, G) * B * W * 4 + hdr;
  uint64_t small = W * 4 < 8192 ? 8192 : W * 4; /* strip of the GDAL-default truth rasters */
  uint64_t fixed = N_FIXED * WRITER_LIBTIFF_BYTES + 3 * (4 * W * 4 + 3 * small + ne * W * 4) + ne * 16;
  uint64_t ifgs = (uint64_t)G * (2 * WRITER_LIBTIFF_BYTES + 3 * (W * 4 + W) + 2 * sizeof(void *));
  return rows + workers + truth + epochs + fixed + ifgs + (1u << 16);
}

static int plan(run *r) {
  uint64_t avail = budget_avail(r->ctx);
  uint32_t B = r->L < MAX_BLOCK_ROWS ? r->L : MAX_BLOCK_ROWS;
  int G = r->m->n_ifg < MAX_GROUP ? r->m->n_ifg : MAX_GROUP;
  /* shrink in this order: rows per block down to 8, ifgs per pass down to 16, rows per block
   * down to 1, ifgs per pass down to 1 */
  for (;;) {
    if (plan_bytes(r, B, G) <= avail) break;
    if (B > 8) B /= 2;
    else if (G > 16) G = (G + 1) / 2;
    else if (B > 1) B /= 2;
    else if (G > 1) G = (G + 1) / 2;
    else
      return ctx_fail(r->ctx, CBAS_EBUDGET, "synth of a %u-pixel-wide frame with %d epochs needs %.1f MB, budget is %.1f MB (%.1f MB available); raise --mem",
                      r->W, r->m->n_epoch, plan_bytes(r, 1, 1) / 1048576.0, r->ctx->budget->limit / 1048576.0, avail / 1048576.0);
  }
  /* balance the groups */
  int n_groups = (r->m->n_ifg + G - 1) / G;
  r->G = (r->m->n_ifg + n_groups - 1) / n_groups;
  r->B = B;
  return 0;
}

/* ---- text files ----------------------------------------------------------------------- */

typedef struct { char *buf; size_t n, cap; } sbuf;
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(s->buf + s->n, s->n < s->cap ? s->cap - s->n : 0, fmt, ap);
  va_end(ap);
  if (k > 0) s->n += (size_t)k;
}
static int sb_put(cbas_ctx *ctx, sbuf *s, const char *path) {
  if (s->n >= s->cap) return ctx_fail(ctx, CBAS_EINTERNAL, "%s: text buffer too small", path);
  return afile_put(ctx, path, s->buf, s->n);
}

static int write_baselines(run *r, sbuf *s) {
  const synth_model *m = r->m;
  char path[PATH_CAP + 32];
  s->n = 0;
  int ms = m->ymd[m->master];
  sb_printf(s, "%d %d 0.0000 0\n", ms, ms);
  for (int e = 0; e < m->n_epoch; e++)
    if (e != m->master)
      sb_printf(s, "%d %d %.4f %ld\n", ms, m->ymd[e], m->bperp_m[e], m->day[e] - m->day[m->master]);
  snprintf(path, sizeof path, "%s/baselines", r->geoc);
  return sb_put(r->ctx, s, path);
}

static int write_metadata(run *r, sbuf *s) {
  const synth_model *m = r->m;
  const synth_params *p = &m->p;
  char path[PATH_CAP + 32];
  /* Sentinel-1 passes ~06:00 (descending) / ~18:00 (ascending) local solar time */
  double lonc = p->lon0 + 0.5 * p->width * p->pixel_deg;
  double h = fmod((p->descending ? 6.0 : 18.0) - lonc / 15.0 + 48.0, 24.0);
  int hh = (int)h, mm = (int)((h - hh) * 60), us = (int)((h * 3600 - hh * 3600 - mm * 60) * 1e6);
  double inc = 0.5 * (m->inc_near_deg + m->inc_far_deg);
  double avg_h = r->hgt_sum / ((double)r->W * r->L);
  s->n = 0;
  sb_printf(s, "master=%d\n", m->ymd[m->master]);
  sb_printf(s, "center_time=%02d:%02d:%02d.%06d\n", hh, mm, us / 1000000, us % 1000000);
  sb_printf(s, "heading=%.4f\n", m->heading_deg);
  sb_printf(s, "avg_incidence_angle=%.4f\n", inc);
  sb_printf(s, "azimuth_resolution=13.9715\n");
  sb_printf(s, "range_resolution=2.329562\n");
  sb_printf(s, "centre_range_m=%.3f\n", 693000.0 / cos(inc * 3.14159265358979 / 180.0) * 1.03);
  sb_printf(s, "avg_height=%.3f\n", avg_h);
  sb_printf(s, "applied_DEM=synthetic\n");
  snprintf(path, sizeof path, "%s/metadata.txt", r->geoc);
  return sb_put(r->ctx, s, path);
}

static void blob_line(sbuf *s, const char *key, const synth_blob *b, const char *unit) {
  sb_printf(s, "%s=%.4f %.4f %.4f %.4f %.4f %.6f %d  # cx cy sx sy (px) angle (deg) amplitude (%s) power\n",
            key, b->cx, b->cy, b->sx, b->sy, atan2(b->sa, b->ca) * 180.0 / 3.14159265358979323846, b->amp, b->power, unit);
}

static int write_truth_text(run *r, sbuf *s) {
  const synth_model *m = r->m;
  const synth_params *p = &m->p;
  char path[PATH_CAP + 32], name[18];
  cbas_ctx *ctx = r->ctx;
  /* params.txt */
  s->n = 0;
  sb_printf(s, "# cbas synth: options and derived truth (key=value; '#' starts a comment)\n");
  sb_printf(s, "width=%u\nlength=%u\nepochs=%d\nstart=%d\nrevisit=%d\ndegree=%d\nmiss=%.6g\n", p->width, p->length,
            p->n_epoch, p->start_ymd, p->revisit_days, p->degree, p->miss_frac);
  if (p->gap_start_ymd) sb_printf(s, "gap=%d:%d\n", p->gap_start_ymd, p->gap_end_ymd);
  else sb_printf(s, "gap=none\n");
  sb_printf(s, "seed=%llu\ntrack=%s\nframe=%s\nlon0=%.9g\nlat0=%.9g\npixel=%.9g\n", (unsigned long long)p->seed,
            p->descending ? "desc" : "asc", m->frame, p->lon0, p->lat0, p->pixel_deg);
  sb_printf(s, "signal_scale=%.6g\natm_mm=%.6g\ntrop_mm_km=%.6g\norb_mm=%.6g\nphase_noise=%.6g\ndecorr=%d\nfootprint=%d\n",
            p->signal_scale, p->atm_mm, p->trop_mm_km, p->orb_mm, p->phase_noise, p->decorr, p->footprint);
  int n_unwerr = 0, n_bad = 0;
  for (int k = 0; k < m->n_ifg; k++) {
    n_unwerr += m->ifg[k].n_patch > 0;
    n_bad += m->ifg[k].bad != 0;
  }
  sb_printf(s, "n_unwerr=%d\nn_bad=%d\nn_ifg=%d\n", n_unwerr, n_bad, m->n_ifg);
  sb_printf(s, "first_epoch=%d\nlast_epoch=%d\nmaster=%d\n", m->ymd[0], m->ymd[m->n_epoch - 1], m->ymd[m->master]);
  sb_printf(s, "radar_frequency_hz=%.1f\ncoef_r2m_mm_per_rad=%.10f  # unw = (cum_sec - cum_prim)/coef_r2m + noise\n",
            SYNTH_FREQ_HZ, m->coef_r2m);
  sb_printf(s, "# cum(t) = vel*t + seas*(sin(2*pi*t + seas_phase) - sin(seas_phase)) + step*[t > t_step], t in years\n");
  sb_printf(s, "seas_phase_rad=%.9f\nt_step_yr=%.9f\n", m->seas_phase, m->t_step_yr);
  for (int e = 0; e < m->n_epoch; e++)
    if (m->t_yr[e] > m->t_step_yr) { sb_printf(s, "step_first_epoch=%d\n", m->ymd[e]); break; }
  sb_printf(s, "vel_fit_seas_coef=%.9f\nvel_fit_step_coef=%.9f  # vel_fit = vel + seas*coef + step*coef\n", m->fit_seas, m->fit_step);
  for (int b = 0; b < SYNTH_N_BOWL; b++) {
    char key[16];
    snprintf(key, sizeof key, "bowl%d", b + 1);
    blob_line(s, key, &m->bowl[b], "mm/yr");
  }
  blob_line(s, "uplift", &m->uplift, "mm/yr");
  blob_line(s, "seasonal", &m->seas, "mm");
  blob_line(s, "step", &m->step, "mm");
  for (int v = 0; v < SYNTH_N_VEG; v++) {
    char key[16];
    snprintf(key, sizeof key, "veg%d", v + 1);
    blob_line(s, key, &m->veg[v], "-");
  }
  sb_printf(s, "heading_deg=%.4f\ninc_near_deg=%.4f\ninc_far_deg=%.4f\nfootprint_margin_px=%.3f\n", m->heading_deg,
            m->inc_near_deg, m->inc_far_deg, m->foot_margin);
  sb_printf(s, "mask_codes=0 land, 1 vegetated (decorrelated), 2 sea, 3 outside the swath footprint\n");
  snprintf(path, sizeof path, "%s/params.txt", r->truth);
  if (sb_put(ctx, s, path)) return ctx->status;
  /* bad_ifg.txt: LiCSBAS ifg-list format (first token per line) */
  s->n = 0;
  for (int k = 0; k < m->n_ifg; k++)
    if (m->ifg[k].bad) {
      synth_ifg_name(m, k, name);
      sb_printf(s, "%s\n", name);
    }
  snprintf(path, sizeof path, "%s/bad_ifg.txt", r->truth);
  if (sb_put(ctx, s, path)) return ctx->status;
  s->n = 0;
  sb_printf(s, "# ifg n_patch then per patch: cx cy rx ry (px, ellipse) k (unw offset k*2pi rad inside)\n");
  for (int k = 0; k < m->n_ifg; k++) {
    const synth_ifg *g = &m->ifg[k];
    if (!g->n_patch) continue;
    synth_ifg_name(m, k, name);
    sb_printf(s, "%s %d", name, g->n_patch);
    for (int j = 0; j < g->n_patch; j++)
      sb_printf(s, "  %.3f %.3f %.3f %.3f %d", g->patch[j].cx, g->patch[j].cy, g->patch[j].rx, g->patch[j].ry, g->patch[j].k2pi);
    sb_printf(s, "\n");
  }
  snprintf(path, sizeof path, "%s/unwerr_ifg.txt", r->truth);
  if (sb_put(ctx, s, path)) return ctx->status;
  s->n = 0;
  sb_printf(s, "# date t_yr trop_mm_per_km ramp_x_mm ramp_y_mm bperp_m  (noise: trop*hgt/1000 + ramp_x*(x/W-0.5) + ramp_y*(y/L-0.5) + atmosphere)\n");
  for (int e = 0; e < m->n_epoch; e++)
    sb_printf(s, "%d %.9f %.6f %.6f %.6f %.4f\n", m->ymd[e], m->t_yr[e], m->trop_k[e], m->ramp_x[e], m->ramp_y[e], m->bperp_m[e]);
  snprintf(path, sizeof path, "%s/epochs.txt", r->truth);
  return sb_put(ctx, s, path);
}

/* ---- writers -------------------------------------------------------------------------- */

static int open_writer(run *r, const char *path, gt_type type, uint32_t bands, int nodata0, uint32_t rps,
                       const char *const *desc, gt_writer **w) {
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = r->W;
  o.height = r->L;
  o.bands = bands;
  o.type = type;
  o.geo = r->geo;
  o.has_nodata = nodata0;
  o.nodata = 0.0;
  o.band_desc = desc;
  o.rows_per_strip = rps;
  o.zlevel = r->zlevel;
  return gt_create(r->ctx, path, &o, w);
}

static int open_group(run *r, int k_lo, int k_hi, int with_fixed) {
  cbas_ctx *ctx = r->ctx;
  const synth_model *m = r->m;
  char path[PATH_CAP + 64], name[18];
  r->k_lo = k_lo;
  r->k_hi = k_hi;
  r->with_fixed = with_fixed;
  if (with_fixed) {
    static const char *const fx[4] = {"E", "N", "U", "hgt"};
    for (int i = 0; i < 4; i++) {
      snprintf(path, sizeof path, "%s/%s.geo.%s.tif", r->geoc, m->frame, fx[i]);
      if (open_writer(r, path, GT_F32, 1, 0, 1, NULL, &r->fixed[i])) return ctx->status;
    }
    snprintf(path, sizeof path, "%s/vel.tif", r->truth);
    if (open_writer(r, path, GT_F32, 1, 0, 0, NULL, &r->fixed[T_VEL])) return ctx->status;
    snprintf(path, sizeof path, "%s/vel_fit.tif", r->truth);
    if (open_writer(r, path, GT_F32, 1, 0, 0, NULL, &r->fixed[T_FIT])) return ctx->status;
    const char **desc = budget_alloc(ctx, (size_t)m->n_epoch * (sizeof(char *) + 9), "synth band descriptions");
    if (!desc) return ctx->status;
    char *txt = (char *)(desc + m->n_epoch);
    for (int e = 0; e < m->n_epoch; e++) {
      snprintf(txt + 9 * e, 9, "%08d", m->ymd[e]);
      desc[e] = txt + 9 * e;
    }
    snprintf(path, sizeof path, "%s/cum.tif", r->truth);
    int st = open_writer(r, path, GT_F32, (uint32_t)m->n_epoch, 0, 0, desc, &r->fixed[T_CUM]);
    budget_free(ctx, desc);
    if (st) return ctx->status;
    snprintf(path, sizeof path, "%s/mask_decorr.tif", r->truth);
    if (open_writer(r, path, GT_U8, 1, 0, 0, NULL, &r->fixed[T_MASK])) return ctx->status;
  }
  for (int k = k_lo; k < k_hi; k++) {
    synth_ifg_name(m, k, name);
    snprintf(path, sizeof path, "%s/%s", r->geoc, name);
    int e = plat_mkdir_p(path);
    if (e) return ctx_fail(ctx, CBAS_EIO, "%s: cannot create directory: %s", path, plat_strerror(e));
    snprintf(path, sizeof path, "%s/%s/%s.geo.unw.tif", r->geoc, name, name);
    if (open_writer(r, path, GT_F32, 1, 1, 1, NULL, &r->iw[2 * (k - k_lo)])) return ctx->status;
    snprintf(path, sizeof path, "%s/%s/%s.geo.cc.tif", r->geoc, name, name);
    if (open_writer(r, path, GT_U8, 1, 1, 1, NULL, &r->iw[2 * (k - k_lo) + 1])) return ctx->status;
  }
  return 0;
}

static void abort_group(run *r) {
  for (int i = 0; i < N_FIXED; i++) {
    gt_abort(r->ctx, r->fixed[i]);
    r->fixed[i] = NULL;
  }
  for (int i = 0; i < 2 * r->G; i++) {
    gt_abort(r->ctx, r->iw[i]);
    r->iw[i] = NULL;
  }
}

static int commit_group(run *r) {
  int st = 0;
  for (int i = 0; i < N_FIXED; i++)
    if (r->fixed[i]) {
      if (!st) st = gt_commit(r->ctx, r->fixed[i]);
      else gt_abort(r->ctx, r->fixed[i]);
      r->fixed[i] = NULL;
    }
  for (int i = 0; i < 2 * r->G; i++)
    if (r->iw[i]) {
      if (!st) st = gt_commit(r->ctx, r->iw[i]);
      else gt_abort(r->ctx, r->iw[i]);
      r->iw[i] = NULL;
    }
  return st;
}

/* ---- block jobs ----------------------------------------------------------------------- */

static synth_row *row_at(const run *r, uint32_t i) { return &r->rows[i]; }

static int job_static(void *ud, long item, int worker) {
  run *r = ud;
  synth_static_row(r->m, r->y0 + (uint32_t)item, row_at(r, (uint32_t)item), r->scratch[worker]);
  return 0;
}

static float *ep_row(const run *r, int e, uint32_t i) {
  return r->ep + ((size_t)(e - r->e_lo) * r->B + i) * r->W;
}

static int job_epoch(void *ud, long item, int worker) {
  run *r = ud;
  int e = r->e_lo + (int)(item / r->ny);
  uint32_t i = (uint32_t)(item % r->ny);
  synth_epoch_row(r->m, e, r->y0 + i, row_at(r, i), ep_row(r, e, i), r->scratch[worker]);
  return 0;
}

static int write_fixed_block(run *r) {
  cbas_ctx *ctx = r->ctx;
  const synth_model *m = r->m;
  uint32_t W = r->W, ny = r->ny;
  size_t fstride = r->row_bytes / sizeof(float);
  const synth_row *r0 = row_at(r, 0);
  if (gt_write_rows(ctx, r->fixed[F_E], ny, r0->e, fstride, 0) ||
      gt_write_rows(ctx, r->fixed[F_N], ny, r0->n, fstride, 0) ||
      gt_write_rows(ctx, r->fixed[F_U], ny, r0->u, fstride, 0) ||
      gt_write_rows(ctx, r->fixed[F_HGT], ny, r0->hgt_m, fstride, 0) ||
      gt_write_rows(ctx, r->fixed[T_VEL], ny, r0->vel, fstride, 0) ||
      gt_write_rows(ctx, r->fixed[T_MASK], ny, r0->cls, r->row_bytes, 0))
    return ctx->status;
  for (uint32_t i = 0; i < ny; i++) {
    const synth_row *rw = row_at(r, i);
    for (uint32_t x = 0; x < W; x++) {
      r->hgt_sum += rw->hgt_m[x];
      r->tfit[(size_t)i * W + x] = (float)(rw->vel[x] + rw->seas[x] * m->fit_seas + rw->step[x] * m->fit_step);
    }
    for (int e = 0; e < m->n_epoch; e++) {
      float *c = r->tcum + ((size_t)e * r->B + i) * W;
      for (uint32_t x = 0; x < W; x++) c[x] = (float)synth_cum_mm(m, e, rw->vel[x], rw->seas[x], rw->step[x]);
    }
  }
  if (gt_write_rows(ctx, r->fixed[T_FIT], ny, r->tfit, W, 0) ||
      gt_write_rows(ctx, r->fixed[T_CUM], ny, r->tcum, W, (size_t)r->B * W))
    return ctx->status;
  return 0;
}

static int job_write(void *ud, long item, int worker) {
  run *r = ud;
  if (r->with_fixed) {
    if (item == 0) return write_fixed_block(r);
    item--;
  }
  int k = r->k_lo + (int)item;
  const synth_ifg *g = &r->m->ifg[k];
  uint32_t W = r->W;
  float *unw = r->wunw[worker];
  uint8_t *cc = r->wcc[worker];
  for (uint32_t i = 0; i < r->ny; i++)
    synth_ifg_row(r->m, k, r->y0 + i, row_at(r, i), ep_row(r, g->prim, i), ep_row(r, g->sec, i),
                  unw + (size_t)i * W, cc + (size_t)i * W, r->scratch[worker]);
  gt_writer **w = &r->iw[2 * (k - r->k_lo)];
  if (gt_write_rows(r->ctx, w[0], r->ny, unw, W, 0) || gt_write_rows(r->ctx, w[1], r->ny, cc, W, 0))
    return r->ctx->status;
  return 0;
}

static int run_group(run *r, int k_lo, int k_hi, int with_fixed) {
  cbas_ctx *ctx = r->ctx;
  if (open_group(r, k_lo, k_hi, with_fixed)) { abort_group(r); return ctx->status; }
  group_epochs(r->m, k_lo, k_hi, &r->e_lo, &r->e_hi);
  long n_jobs = (k_hi - k_lo) + (with_fixed ? 1 : 0);
  for (uint32_t y0 = 0; y0 < r->L; y0 += r->B) {
    r->y0 = y0;
    r->ny = r->L - y0 < r->B ? r->L - y0 : r->B;
    if (par_for(ctx, r->ny, job_static, r) ||
        par_for(ctx, (long)(r->e_hi - r->e_lo + 1) * r->ny, job_epoch, r) ||
        par_for(ctx, n_jobs, job_write, r)) {
      abort_group(r);
      return ctx->status ? ctx->status : CBAS_EINTERNAL;
    }
    progress_add(r->bar, 1);
  }
  return commit_group(r);
}

/* ---- buffers -------------------------------------------------------------------------- */

static int alloc_buffers(run *r) {
  cbas_ctx *ctx = r->ctx;
  uint32_t W = r->W, B = r->B;
  int ne = max_group_epochs(r->m, r->G);
  r->row_mem = budget_alloc(ctx, B * r->row_bytes, "synth static rows");
  r->rows = budget_alloc(ctx, B * sizeof *r->rows, "synth static rows");
  r->ep = budget_alloc(ctx, (size_t)ne * B * W * sizeof(float), "synth epoch rows");
  r->scratch = budget_calloc(ctx, (size_t)r->nt, 3 * sizeof(void *), "synth worker buffers");
  r->iw = budget_calloc(ctx, 2 * (size_t)r->G, sizeof *r->iw, "synth writers");
  r->tcum = budget_alloc(ctx, (size_t)r->m->n_epoch * B * W * sizeof(float), "synth truth rows");
  r->tfit = budget_alloc(ctx, (size_t)B * W * sizeof(float), "synth truth rows");
  if (ctx->status) return ctx->status;
  r->wunw = (float **)(r->scratch + r->nt);
  r->wcc = (uint8_t **)(r->scratch + 2 * r->nt);
  for (int t = 0; t < r->nt; t++) {
    r->scratch[t] = budget_alloc(ctx, synth_scratch_floats(r->m) * sizeof(float), "synth worker scratch");
    r->wunw[t] = budget_alloc(ctx, (size_t)B * W * sizeof(float), "synth worker rows");
    r->wcc[t] = budget_alloc(ctx, (size_t)B * W, "synth worker rows");
  }
  if (ctx->status) return ctx->status;
  for (uint32_t i = 0; i < B; i++) synth_row_bind(&r->rows[i], r->row_mem + i * r->row_bytes, W);
  return 0;
}

static void free_buffers(run *r) {
  cbas_ctx *ctx = r->ctx;
  if (r->scratch)
    for (int t = 0; t < r->nt; t++) {
      budget_free(ctx, r->scratch[t]);
      budget_free(ctx, r->wunw[t]);
      budget_free(ctx, r->wcc[t]);
    }
  budget_free(ctx, r->scratch);
  budget_free(ctx, r->row_mem);
  budget_free(ctx, r->rows);
  budget_free(ctx, r->ep);
  budget_free(ctx, r->iw);
  budget_free(ctx, r->tcum);
  budget_free(ctx, r->tfit);
}

/* ---- command -------------------------------------------------------------------------- */

static int parse_ymd(const char *s, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (strlen(s) != 8 || *end || synth_day_number((int)v) < -100000000L) return -1;
  *out = (int)v;
  return 0;
}

static int parse_gap(const char *s, int *a, int *b) {
  char first[9];
  if (strlen(s) != 17 || s[8] != ':') return -1;
  memcpy(first, s, 8);
  first[8] = 0;
  return parse_ymd(first, a) || parse_ymd(s + 9, b) ? -1 : 0;
}

static int dir_is_empty_cb(void *ud, const char *name) {
  (void)name;
  *(int *)ud = 0;
  return 1;
}

static int synth_main(cbas_ctx *ctx, const char *out, const synth_params *p, int zlevel) {
  synth_model m;
  if (synth_model_init(ctx, p, &m)) return ctx->status;
  run r;
  memset(&r, 0, sizeof r);
  r.ctx = ctx;
  r.m = &m;
  r.W = p->width;
  r.L = p->length;
  r.nt = ctx->n_threads < 1 ? 1 : ctx->n_threads;
  r.zlevel = zlevel;
  r.row_bytes = synth_row_bytes(r.W);
  r.geo.has_gt = 1;
  r.geo.epsg = 4326;
  r.geo.gt[0] = p->lon0;
  r.geo.gt[1] = p->pixel_deg;
  r.geo.gt[3] = p->lat0;
  r.geo.gt[5] = -p->pixel_deg;
  snprintf(r.geoc, sizeof r.geoc, "%s/GEOC", out);
  snprintf(r.truth, sizeof r.truth, "%s/truth", out);
  double t0 = plat_now();
  sbuf s = {0};
  int e, empty = 1;
  plat_stat st;
  if ((e = plat_stat_path(r.geoc, &st))) { ctx_fail(ctx, CBAS_EIO, "%s: %s", r.geoc, plat_strerror(e)); goto done; }
  if (st.exists) plat_listdir(r.geoc, dir_is_empty_cb, &empty);
  if (!empty) { ctx_fail(ctx, CBAS_EUSAGE, "--out %s: %s exists and is not empty; choose a new directory", out, r.geoc); goto done; }
  if ((e = plat_mkdir_p(r.geoc)) || (e = plat_mkdir_p(r.truth))) {
    ctx_fail(ctx, CBAS_EIO, "--out %s: cannot create directories: %s", out, plat_strerror(e));
    goto done;
  }
  s.cap = (size_t)m.n_ifg * 160 + (size_t)m.n_epoch * 96 + 8192;
  s.buf = budget_alloc(ctx, s.cap, "synth text files");
  if (!s.buf || plan(&r) || alloc_buffers(&r)) goto done;
  if (write_baselines(&r, &s) || write_truth_text(&r, &s)) goto done;
  int n_groups = 0;
  r.bar = progress_start(ctx, "synth", (uint64_t)((m.n_ifg + r.G - 1) / r.G) * ((r.L + r.B - 1) / r.B));
  for (int k = 0; k < m.n_ifg || k == 0; k += r.G) {
    int k_hi = k + r.G < m.n_ifg ? k + r.G : m.n_ifg;
    if (run_group(&r, k, k_hi, k == 0)) goto done;
    n_groups++;
    if (k == 0 && write_metadata(&r, &s)) goto done;
  }
  progress_end(r.bar);
  r.bar = NULL;
  ctx_info(ctx, "synth: %s: %d epochs, %d interferograms, %u x %u px, in %.1f s (%d pass%s of %u-row blocks, memory peak %.1f MB of %.1f MB)\n",
           out, m.n_epoch, m.n_ifg, r.W, r.L, plat_now() - t0, n_groups, n_groups > 1 ? "es" : "", r.B,
           ctx->budget->peak / 1048576.0, ctx->budget->limit / 1048576.0);
done:
  progress_end(r.bar);
  budget_free(ctx, s.buf);
  free_buffers(&r);
  synth_model_free(ctx, &m);
  return ctx->status;
}

int cmd_synth(int argc, char **argv) {
  synth_params p;
  synth_params_default(&p);
  const char *out = NULL, *start = NULL, *gap = NULL, *seed = NULL, *track = NULL, *frame = NULL;
  int width = INT_MIN, length = INT_MIN, epochs = INT_MIN, revisit = INT_MIN, degree = INT_MIN, n_unwerr = INT_MIN,
      n_bad = INT_MIN, zlevel = DEFAULT_ZLEVEL, no_decorr = 0, no_footprint = 0, no_unwerr = 0, no_noise = 0;
  double miss = NAN, lon0 = NAN, lat0 = NAN, pixel = NAN, sig = NAN, atm = NAN, trop = NAN, orb = NAN, pn = NAN;
  const cli_opt opts[] = {
      {"out", CLI_STR, &out, "DIR", "output directory (DIR/GEOC, DIR/truth); required"},
      {"width", CLI_INT, &width, "N", "frame width, pixels (600)"},
      {"length", CLI_INT, &length, "N", "frame length, pixels (500)"},
      {"epochs", CLI_INT, &epochs, "N", "number of epochs (61)"},
      {"start", CLI_STR, &start, "YYYYMMDD", "first acquisition (20180101)"},
      {"revisit", CLI_INT, &revisit, "DAYS", "days between acquisitions (12)"},
      {"degree", CLI_INT, &degree, "N", "pair each epoch with its next N epochs (4)"},
      {"miss", CLI_DBL, &miss, "FRAC", "fraction of non-adjacent pairs missing at random (0.15)"},
      {"gap", CLI_STR, &gap, "START:END", "no acquisition in [START, END] (YYYYMMDD) and no pair across it"},
      {"seed", CLI_STR, &seed, "N", "random seed; same options and seed give identical files (1)"},
      {"track", CLI_STR, &track, "asc|desc", "orbit direction (desc)"},
      {"frame", CLI_STR, &frame, "NAME", "LiCSAR frame id (124D_05278_081106 / 087A_05215_131313)"},
      {"lon0", CLI_DBL, &lon0, "DEG", "west edge of the frame (138.0)"},
      {"lat0", CLI_DBL, &lat0, "DEG", "north edge of the frame (36.5)"},
      {"pixel", CLI_DBL, &pixel, "DEG", "pixel size, degrees (0.001)"},
      {"signal-scale", CLI_DBL, &sig, "X", "multiply every true deformation by X (1)"},
      {"atm-mm", CLI_DBL, &atm, "MM", "rms of the turbulent atmosphere per epoch (10)"},
      {"trop-mm-km", CLI_DBL, &trop, "MM", "sd of the height-correlated delay per epoch, mm/km (10)"},
      {"orb-mm", CLI_DBL, &orb, "MM", "sd of the orbital ramp per epoch across the frame (10)"},
      {"phase-noise", CLI_DBL, &pn, "X", "scale of the coherence-dependent phase noise (1)"},
      {"no-decorr", CLI_FLAG, &no_decorr, NULL, "no decorrelated vegetation/sea, no coherence masking"},
      {"no-footprint", CLI_FLAG, &no_footprint, NULL, "data in the whole rectangle (no swath corners)"},
      {"n-unwerr", CLI_INT, &n_unwerr, "N", "interferograms with 2pi unwrapping-error patches (5%)"},
      {"no-unwerr", CLI_FLAG, &no_unwerr, NULL, "no unwrapping errors"},
      {"n-bad", CLI_INT, &n_bad, "N", "globally bad interferograms (3, fewer in tiny networks)"},
      {"no-noise", CLI_FLAG, &no_noise, NULL, "every noise source off unless given explicitly"},
      {"zlevel", CLI_INT, &zlevel, "N", "deflate level 1..9 (1: synth output is for tests)"},
  };
  cli_common common;
  char err[512];
  int rc = cli_parse("synth", "--out DIR [options]",
                     "Writes a synthetic LiCSAR frame (GEOC layout, as downloaded) with known truth in DIR/truth:\n"
                     "subsidence bowls, uplift, a seasonal area and an episodic step, plus turbulent and\n"
                     "stratified atmosphere, orbital ramps, decorrelation, unwrapping errors and bad\n"
                     "interferograms, each switchable. Deterministic for a given --seed.",
                     opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (rc == 1) return 0;
  if (rc) {
    fprintf(stderr, "cbas synth: %s\n", err);
    return 2;
  }
  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &common)) return cli_finish(&ctx, "synth");
  if (no_noise) synth_params_no_noise(&p);
  if (width != INT_MIN) p.width = width < 0 ? 0 : (uint32_t)width;
  if (length != INT_MIN) p.length = length < 0 ? 0 : (uint32_t)length;
  if (epochs != INT_MIN) p.n_epoch = epochs;
  if (revisit != INT_MIN) p.revisit_days = revisit;
  if (degree != INT_MIN) p.degree = degree;
  if (n_bad != INT_MIN) p.n_bad = n_bad;
  if (n_unwerr != INT_MIN) p.n_unwerr = n_unwerr;
  if (no_unwerr) p.n_unwerr = 0;
  if (!isnan(miss)) p.miss_frac = miss;
  if (!isnan(lon0)) p.lon0 = lon0;
  if (!isnan(lat0)) p.lat0 = lat0;
  if (!isnan(pixel)) p.pixel_deg = pixel;
  if (!isnan(sig)) p.signal_scale = sig;
  if (!isnan(atm)) p.atm_mm = atm;
  if (!isnan(trop)) p.trop_mm_km = trop;
  if (!isnan(orb)) p.orb_mm = orb;
  if (!isnan(pn)) p.phase_noise = pn;
  if (no_decorr) p.decorr = 0;
  if (no_footprint) p.footprint = 0;
  if (!out || !*out) ctx_fail(&ctx, CBAS_EUSAGE, "--out DIR is required");
  else if (start && parse_ymd(start, &p.start_ymd)) ctx_fail(&ctx, CBAS_EUSAGE, "--start: expected a date YYYYMMDD, got '%s'", start);
  else if (gap && parse_gap(gap, &p.gap_start_ymd, &p.gap_end_ymd))
    ctx_fail(&ctx, CBAS_EUSAGE, "--gap: expected START:END as YYYYMMDD:YYYYMMDD, got '%s'", gap);
  else if (track && strcmp(track, "asc") && strcmp(track, "desc"))
    ctx_fail(&ctx, CBAS_EUSAGE, "--track: expected asc or desc, got '%s'", track);
  else if (frame && (strlen(frame) == 0 || strlen(frame) >= sizeof p.frame))
    ctx_fail(&ctx, CBAS_EUSAGE, "--frame: expected 1..%d characters", (int)sizeof p.frame - 1);
  else if (zlevel < 1 || zlevel > 9)
    ctx_fail(&ctx, CBAS_EUSAGE, "--zlevel must be 1..9, got %d", zlevel);
  else if (seed) {
    char *end;
    unsigned long long v = strtoull(seed, &end, 10);
    if (!*seed || *end || seed[0] == '-') ctx_fail(&ctx, CBAS_EUSAGE, "--seed: expected a non-negative integer, got '%s'", seed);
    else p.seed = v;
  }
  if (!ctx.status) {
    if (track) p.descending = !strcmp(track, "desc");
    if (frame) snprintf(p.frame, sizeof p.frame, "%s", frame);
    synth_main(&ctx, out, &p, zlevel);
  }
  return cli_finish(&ctx, "synth");
}
