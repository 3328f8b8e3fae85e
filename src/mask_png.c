/* mask_png.c — LiCSBAS step 15's composite figures mask_ts.png and mask_ts_masked.png (see
 * include/cbas/mask_png.h): layout, colour ranges, and one streaming pass painting 24 panels. */
#include "cbas/mask_png.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cbas/licsbas.h"
#include "cbas/par.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { N_IN = 2 + TSMASK_N };                 /* vel, mask, the nine indices */
enum { IN_VEL = 0, IN_MASK = 1, IN_IDX = 2 };
enum { K_VEL_MSKD = 0, K_VEL = 1, K_MASK = 2, K_IDX = 3 };  /* panel kinds; slot in figure 0 */

#define TS 2                                   /* text scale */
#define LINE (PLOT_GLYPH_H * TS)               /* text height */
#define MARGIN 16
#define TITLE_GAP 8                            /* title to map */
#define BAR_GAP 10                             /* map to colour bar */
#define BAR_W 12
#define BAR_MIN_H 100
#define LAB_W (7 * PLOT_ADVANCE * TS)          /* room for 7-character tick labels */
#define CELL_GAP 24
#define HEAD_H (LINE + 12)
#define MAX_TITLE_W (22 * PLOT_ADVANCE * TS)   /* the longest title, "n_ifg_noloop (> 50)", is 19 */

static const plot_rgba WHITE = {255, 255, 255, 255}, BLACK = {0, 0, 0, 255}, DARK = {70, 70, 70, 255};

/* Slot of panel kind in figure fig: figure 1 swaps vel.mskd and vel (LiCSBAS's i2). */
static int slot_of(int fig, int kind) { return fig && kind < 2 ? 1 - kind : kind; }

typedef struct layout { uint32_t w, h; int cell_w, cell_h, bar_h; plot_fit fit; } layout;

static void make_layout(uint32_t width, uint32_t length, layout *g) {
  plot_fit_map(width, length, MASK_PNG_MAP_W, MASK_PNG_MAP_H, &g->fit);
  int mw = (int)g->fit.map_w, mh = (int)g->fit.map_h;
  int body_w = mw + BAR_GAP + BAR_W + 8 + LAB_W;
  g->bar_h = mh > BAR_MIN_H ? mh : BAR_MIN_H;
  g->cell_w = (body_w > MAX_TITLE_W ? body_w : MAX_TITLE_W) + CELL_GAP;
  g->cell_h = LINE + TITLE_GAP + g->bar_h + CELL_GAP;
  g->w = (uint32_t)(2 * MARGIN + MASK_PNG_COLS * g->cell_w - CELL_GAP);
  g->h = (uint32_t)(2 * MARGIN + HEAD_H + (MASK_PNG_PANELS / MASK_PNG_COLS) * g->cell_h - CELL_GAP);
}

uint64_t mask_png_need(uint32_t width, uint32_t length) {
  layout g;
  make_layout(width, length, &g);
  uint64_t canvas = (uint64_t)g.w * g.h * 3, acc = 2 * MASK_PNG_PANELS * (plot_painter_bytes(&g.fit, width) + 64);
  /* two canvases, accumulators, one row of the eleven rasters + a scratch row, block slack */
  return 2 * canvas + acc + (uint64_t)(N_IN + 1) * width * 4 + (512u << 10);
}

/* ---- colour ranges ----------------------------------------------------------------------- */

static int open_inputs(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, gt_reader *rd[N_IN]) {
  /* the step writing each input (named when one is missing) */
  static const char *const producer[N_IN] = {"invert", "mask-ts", "loop", "loop", "vstd", "invert", "invert",
                                             "vstd", "invert", "loop", "invert"};
  for (int i = 0; i < N_IN; i++) {
    const char *name = i == IN_VEL ? "vel" : i == IN_MASK ? "mask" : tsmask_name(i - IN_IDX);
    if (tsdir_result_open(ctx, t, m, NULL, name, producer[i], &rd[i])) return ctx->status;
  }
  return 0;
}

/* Rows [y0, y0+ny) of the n rasters rd[which[i]] into dst[i] (width w), one raster per item
 * of a parallel loop (distinct GeoTIFF handles may be read concurrently, gtiff.h). */
typedef struct prd { cbas_ctx *ctx; gt_reader **rd; const int *which; float **dst; uint32_t w, y0, ny; } prd;
static int read_one(void *ud, long i, int worker) {
  prd *p = ud;
  (void)worker;
  return gt_read(p->ctx, p->rd[p->which[i]], 0, 0, p->y0, p->w, p->ny, GT_F32, p->dst[i], p->w);
}
static int read_rows(cbas_ctx *ctx, gt_reader **rd, const int *which, int n, uint32_t w, uint32_t y0, uint32_t ny,
                     float **dst) {
  prd p = {ctx, rd, which, dst, w, y0, ny};
  return par_for(ctx, n, read_one, &p);
}

/* nanmax of coh_avg and n_unw as read, of maxTlen where vel is neither NaN nor 0. */
static int lt_maxima(cbas_ctx *ctx, gt_reader *rd[N_IN], uint32_t w, uint32_t l, double mx[TSMASK_N]) {
  static const int which[4] = {IN_VEL, IN_IDX + TSMASK_COH_AVG, IN_IDX + TSMASK_N_UNW, IN_IDX + TSMASK_MAXTLEN};
  uint32_t rows;
  float *buf = NULL, *in[4];
  for (int k = 0; k < TSMASK_N; k++) mx[k] = NAN;
  if (tsdir_block_rows(ctx, l, 0, (uint64_t)w * 4 * 4, "mask_ts.png: index maxima", &rows) ||
      !(buf = budget_alloc(ctx, (size_t)rows * w * 4 * 4, "mask_ts.png: index rows")))
    return ctx->status;
  for (int i = 0; i < 4; i++) in[i] = buf + (size_t)i * rows * w;
  for (uint32_t y0 = 0; y0 < l; y0 += rows) {
    uint32_t ny = l - y0 < rows ? l - y0 : rows;
    if (read_rows(ctx, rd, which, 4, w, y0, ny, in)) break;
    for (int j = 1; j < 4; j++) {
      int k = which[j] - IN_IDX;
      for (size_t i = 0; i < (size_t)ny * w; i++) {
        if (k == TSMASK_MAXTLEN && (isnan(in[0][i]) || in[0][i] == 0)) continue;
        if (!isnan(in[j][i]) && (isnan(mx[k]) || in[j][i] > mx[k])) mx[k] = in[j][i];
      }
    }
  }
  budget_free(ctx, buf);
  return ctx->status;
}

/* plot_source over band 1 of a GeoTIFF. */
typedef struct band_src { cbas_ctx *ctx; gt_reader *r; uint32_t w; } band_src;
static int band_read(void *ud, uint32_t y0, uint32_t ny, float *dst, size_t stride) {
  band_src *b = ud;
  return gt_read(b->ctx, b->r, 0, 0, y0, b->w, ny, GT_F32, dst, stride);
}

/* LiCSBAS: vmin/vmax = nanpercentile(vel_mskd, 1 / 99) (results/vel.mskd.tif, which step 15
 * wrote as vel where mask == 1), of vel when vel_mskd is all NaN; given values other than 0
 * win (`if not vmin`). */
static int vel_range(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, gt_reader *vel, uint32_t w, uint32_t l,
                     double *vmin, double *vmax) {
  gt_reader *vm = NULL;
  if (tsdir_result_open(ctx, t, m, NULL, "vel.mskd", "mask-ts", &vm)) return ctx->status;
  band_src b = {ctx, vm, w};
  plot_source src = {w, l, band_read, &b};
  double pct[2] = {1, 99}, p[2];
  uint64_t n = 0;
  if (!plot_percentiles(ctx, &src, 1, 2, pct, p, &n) && !n) {
    b.r = vel;
    plot_percentiles(ctx, &src, 1, 2, pct, p, &n);
  }
  gt_close(ctx, vm);
  if (ctx->status) return ctx->status;
  if (isnan(*vmin) || *vmin == 0) *vmin = n ? p[0] : -1;
  if (isnan(*vmax) || *vmax == 0) *vmax = n ? p[1] : 1;
  return 0;
}

/* Widens an empty or inverted range (matplotlib would fail on it) to a width of 1 above vmin. */
static void fix_range(double *vmin, double *vmax) {
  if (!isfinite(*vmin)) *vmin = 0;
  if (!(*vmax > *vmin) || !isfinite(*vmax)) *vmax = *vmin + 1;
}

/* Titles, colour maps and ranges of the 12 panel kinds. */
static void panel_kinds(const tsmask_plan *plan, double vmin, double vmax, const double lt_max[TSMASK_N],
                        mask_png_panel kind[MASK_PNG_PANELS]) {
  memset(kind, 0, sizeof(mask_png_panel) * MASK_PNG_PANELS);
  snprintf(kind[K_VEL_MSKD].title, sizeof kind[0].title, "vel.mskd mm/yr");
  snprintf(kind[K_VEL].title, sizeof kind[0].title, "vel mm/yr");
  snprintf(kind[K_MASK].title, sizeof kind[0].title, "mask");
  fix_range(&vmin, &vmax);
  for (int k = K_VEL_MSKD; k <= K_VEL; k++) {
    kind[k].cmap = PLOT_CMAP_VEL;
    kind[k].vmin = vmin;
    kind[k].vmax = vmax;
  }
  kind[K_MASK].cmap = PLOT_CMAP_SEQ;
  kind[K_MASK].vmin = 0;
  kind[K_MASK].vmax = 1;
  for (int k = 0; k < TSMASK_N; k++) {
    mask_png_panel *p = &kind[K_IDX + k];
    char thre[48];
    if (plan->thre_is_int[k]) snprintf(thre, sizeof thre, "%.0f", plan->thre[k]);
    else lb_pyfloat(thre, sizeof thre, plan->thre[k]);
    const char *unit = tsmask_unit(k);
    snprintf(p->title, sizeof p->title, "%s%s%s (%c %s)", tsmask_name(k), *unit ? " " : "", unit,
             tsmask_is_lt(k) ? '<' : '>', thre);
    if (tsmask_is_lt(k)) {
      p->cmap = PLOT_CMAP_SEQ;
      p->vmin = plan->thre[k] * 0.8;
      p->vmax = lt_max[k];
    } else {
      p->cmap = PLOT_CMAP_SEQ_R;
      p->vmin = 0;
      p->vmax = plan->thre[k] * 1.2;
    }
    fix_range(&p->vmin, &p->vmax);
  }
}

/* ---- drawing ----------------------------------------------------------------------------- */

typedef struct figs {
  layout g;
  plot_canvas c[2];
  plot_lut lut[MASK_PNG_PANELS];            /* per kind */
  plot_painter pt[2][MASK_PNG_PANELS];      /* per figure and kind */
  mask_png_panel panel[2][MASK_PNG_PANELS]; /* per figure and slot */
} figs;

/* Frames, titles, colour bars and the header of figure fig; the maps are painted later. */
static void draw_frame(figs *F, int fig, const mask_png_panel kind[MASK_PNG_PANELS], uint32_t width,
                       uint32_t length) {
  const layout *g = &F->g;
  plot_canvas *c = &F->c[fig];
  char head[200];
  snprintf(head, sizeof head, "%s: %u x %u pixels, shown %s%u; grey = no data%s", fig ? "mask_ts_masked" : "mask_ts",
           width, length, g->fit.reduce > 1 ? "1:" : "x", g->fit.reduce > 1 ? g->fit.reduce : g->fit.enlarge,
           fig ? " or masked" : "");
  plot_text(c, MARGIN, MARGIN, head, DARK, TS);
  int mw = (int)g->fit.map_w, mh = (int)g->fit.map_h;
  for (int k = 0; k < MASK_PNG_PANELS; k++) {
    int s = slot_of(fig, k), col = s % MASK_PNG_COLS, row = s / MASK_PNG_COLS;
    int cx = MARGIN + col * g->cell_w, cy = MARGIN + HEAD_H + row * g->cell_h;
    mask_png_panel *p = &F->panel[fig][s];
    *p = kind[k];
    p->map_x = cx;
    p->map_y = cy + LINE + TITLE_GAP + (g->bar_h - mh) / 2;
    p->bar_x = cx + mw + BAR_GAP;
    p->bar_y = cy + LINE + TITLE_GAP;
    p->bar_w = BAR_W;
    p->bar_h = g->bar_h;
    int tw = plot_text_width(p->title, TS), tx = cx + mw / 2 - tw / 2;
    plot_text(c, tx < cx ? cx : tx, cy, p->title, BLACK, TS);
    plot_rect(c, p->map_x - 1, p->map_y - 1, p->map_x + mw, p->map_y + mh, BLACK);
    int n_tick = g->bar_h / (LINE + 12);
    plot_colorbar(c, p->bar_x, p->bar_y, BAR_W, g->bar_h, &F->lut[k], TS, n_tick > 6 ? 6 : n_tick);
  }
}

/* Row transforms (LiCSBAS's data_dict edits): stc NaN -> the value step 15 used; NaN where vel
 * is NaN or 0 except for coh_avg and n_unw. In place. */
static void index_rows(int k, const tsmask_plan *plan, const float *vel, float *d, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (k == TSMASK_STC && isnan(d[i])) d[i] = plan->stc_nan;
    if (k != TSMASK_COH_AVG && k != TSMASK_N_UNW && (isnan(vel[i]) || vel[i] == 0)) d[i] = NAN;
  }
}
/* out = d where mask == 1, NaN elsewhere (LiCSBAS's data*mask_nan, and vel*mask for vel.mskd). */
static void masked_rows(const float *d, const float *mask, float *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = mask[i] == 1.0f ? d[i] : NAN;
}

static int paint_pass(cbas_ctx *ctx, figs *F, gt_reader *rd[N_IN], const tsmask_plan *plan, uint32_t w, uint32_t l) {
  uint32_t rows;
  float *buf = NULL, *acc = NULL;
  size_t acc_one = (plot_painter_bytes(&F->g.fit, w) + 63) / 64 * 64;
  if (!(acc = budget_alloc(ctx, 2 * MASK_PNG_PANELS * acc_one, "mask_ts.png: painters")) ||
      tsdir_block_rows(ctx, l, 0, (uint64_t)w * 4 * (N_IN + 1), "mask_ts.png: row blocks", &rows) ||
      !(buf = budget_alloc(ctx, (size_t)rows * w * 4 * (N_IN + 1), "mask_ts.png: rows"))) {
    budget_free(ctx, acc);
    return ctx->status;
  }
  for (int f = 0; f < 2; f++)
    for (int k = 0; k < MASK_PNG_PANELS; k++) {
      const mask_png_panel *p = &F->panel[f][slot_of(f, k)];
      plot_painter_init(&F->pt[f][k], &F->c[f], &F->lut[k], &F->g.fit, w, l, p->map_x, p->map_y, 1,
                        (char *)acc + (size_t)(f * MASK_PNG_PANELS + k) * acc_one);
    }
  size_t plane = (size_t)rows * w;
  float *in[N_IN], *tmp = buf + (size_t)N_IN * plane;
  int which[N_IN];
  for (int i = 0; i < N_IN; i++) {
    in[i] = buf + (size_t)i * plane;
    which[i] = i;
  }
  for (uint32_t y0 = 0; y0 < l; y0 += rows) {
    uint32_t ny = l - y0 < rows ? l - y0 : rows;
    size_t n = (size_t)ny * w;
    if (read_rows(ctx, rd, which, N_IN, w, y0, ny, in)) goto done;
    masked_rows(in[IN_VEL], in[IN_MASK], tmp, n);
    for (int f = 0; f < 2; f++) {
      plot_painter_rows(&F->pt[f][K_VEL_MSKD], tmp, ny, w);
      plot_painter_rows(&F->pt[f][K_VEL], in[IN_VEL], ny, w);
      plot_painter_rows(&F->pt[f][K_MASK], in[IN_MASK], ny, w);
    }
    for (int k = 0; k < TSMASK_N; k++) {
      float *d = in[IN_IDX + k];
      index_rows(k, plan, in[IN_VEL], d, n);
      plot_painter_rows(&F->pt[0][K_IDX + k], d, ny, w);
      masked_rows(d, in[IN_MASK], tmp, n);
      plot_painter_rows(&F->pt[1][K_IDX + k], tmp, ny, w);
    }
  }
done:
  budget_free(ctx, buf);
  budget_free(ctx, acc);
  return ctx->status;
}

int mask_png_write(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const tsmask_plan *plan,
                   const mask_png_opts *o, mask_png_info *info) {
  uint32_t w = m->width, l = m->length;
  gt_reader *rd[N_IN] = {0};
  figs *F = NULL;
  double lt_max[TSMASK_N], vmin = o ? o->vmin : NAN, vmax = o ? o->vmax : NAN;
  mask_png_panel kind[MASK_PNG_PANELS];
  char path[2][1200];
  if (tsdir_file(ctx, t, NULL, "mask_ts.png", path[0], sizeof path[0]) ||
      tsdir_file(ctx, t, NULL, "mask_ts_masked.png", path[1], sizeof path[1]) || open_inputs(ctx, t, m, rd) ||
      lt_maxima(ctx, rd, w, l, lt_max) || vel_range(ctx, t, m, rd[IN_VEL], w, l, &vmin, &vmax))
    goto done;
  panel_kinds(plan, vmin, vmax, lt_max, kind);
  if (!(F = budget_calloc(ctx, 1, sizeof *F, "mask_ts.png: figure state"))) goto done;
  make_layout(w, l, &F->g);
  for (int k = 0; k < MASK_PNG_PANELS; k++) plot_lut_init(&F->lut[k], kind[k].cmap, kind[k].vmin, kind[k].vmax);
  for (int f = 0; f < 2; f++) {
    if (plot_canvas_new(ctx, &F->c[f], F->g.w, F->g.h, WHITE)) goto done;
    draw_frame(F, f, kind, w, l);
  }
  if (paint_pass(ctx, F, rd, plan, w, l)) goto done;
  for (int f = 0; f < 2; f++)
    if (plot_canvas_write_png(ctx, &F->c[f], path[f], f ? "mask_ts_masked" : "mask_ts")) goto done;
  if (info) {
    info->width = F->g.w;
    info->height = F->g.h;
    info->fit = F->g.fit;
    memcpy(info->panel, F->panel, sizeof info->panel);
  }
done:
  if (F) {
    plot_canvas_free(ctx, &F->c[1]);
    plot_canvas_free(ctx, &F->c[0]);
    budget_free(ctx, F);
  }
  for (int i = 0; i < N_IN; i++)
    if (rd[i]) gt_close(ctx, rd[i]);
  return ctx->status;
}
