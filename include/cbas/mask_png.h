/* mask_png.h — the composite figures of LiCSBAS step 15 (LiCSBAS15_mask_ts.py v1.8.1, "Output
 * thumbnail png"): TSDIR/mask_ts.png and TSDIR/mask_ts_masked.png, one panel per raster in a
 * grid of 3 rows x 4 columns, each with its title and colour bar, drawn with plot.h.
 *
 * Panels (row-major, as LiCSBAS's add_subplot(3, 4, i+1)):
 *   mask_ts.png        vel.mskd, vel, mask, then the nine noise indices
 *   mask_ts_masked.png vel, vel.mskd, mask, then the nine indices where mask == 1 (NaN elsewhere)
 * Content of each panel as LiCSBAS draws it:
 *   vel, vel.mskd  roma reversed (PLOT_CMAP_VEL) over --vmin/--vmax (p15_vmin/p15_vmax; 0 or
 *                  unset = auto, LiCSBAS's `if not vmin`), auto = 1st/99th percentiles of
 *                  vel.mskd (of vel when vel.mskd has no data); vel.mskd = vel where mask == 1.
 *   mask           viridis over 0 .. 1.
 *   "lt" indices (coh_avg, n_unw, maxTlen): viridis over 0.8·threshold .. nanmax(index);
 *   the others:    viridis reversed over 0 .. 1.2·threshold;
 *                  thresholds as used (after auto-adjust; n_unw: the count int(n_im·r)).
 *   Index values: stc's NaN (isolated pixels) shown as the value step 15 gave them (thre+1, or
 *   0 with --keep_isolated); every index but coh_avg and n_unw is NaN where vel is NaN or 0
 *   (LiCSBAS's bool_nan); nanmax of maxTlen is taken after that.
 *   Titles "NAME [UNIT] (< THRE)" for lt indices, "(> THRE)" for the others: the values that
 *   step 15 masks, the threshold printed as in 15parameters.txt.
 * NaN pixels are grey (plot_cmap_nan), so the masked figure is grey where mask == 0.
 *
 * Layout (independent of the raster size, only of its aspect): each map is fitted into
 * MASK_PNG_MAP_W x MASK_PNG_MAP_H (plot_fit_map: box means 1:f for big rasters, pixel
 * replication up to x8 for small ones); both figures have the same size and layout.
 *
 * Streaming: the rasters are read in row blocks, never whole: one pass over vel and
 * coh_avg/n_unw/maxTlen (nanmax), two over vel.mskd (exact percentiles, plot_percentiles), one
 * over vel, mask and the nine indices painting both figures at once (the rasters of a block
 * are read in parallel, one per thread).
 * Memory: mask_png_need() (two canvases of at most 1680 x 802 pixels, 8.1 MB together, the
 * painters' accumulators, at least one row of the eleven rasters + one scratch row); row
 * blocks grow with the budget up to TSDIR_BLOCK_BYTES. Both PNGs are written atomically
 * (png.h). Thread-safety: one call per TSDIR at a time.
 */
#ifndef CBAS_MASK_PNG_H
#define CBAS_MASK_PNG_H
#include "cbas/ctx.h"
#include "cbas/plot.h"
#include "cbas/stack.h"
#include "cbas/tsdir.h"
#include "cbas/tsmask.h"

enum { MASK_PNG_PANELS = 12, MASK_PNG_COLS = 4, MASK_PNG_MAP_W = 280, MASK_PNG_MAP_H = 220 };

typedef struct mask_png_opts {
  double vmin, vmax;   /* velocity colour range, mm/yr; NaN or 0 = automatic (see above) */
} mask_png_opts;

typedef struct mask_png_panel {
  char title[64];
  plot_cmap cmap;
  double vmin, vmax;           /* colour range */
  int map_x, map_y;            /* top-left map pixel on the picture; map size in mask_png_info */
  int bar_x, bar_y, bar_w, bar_h;  /* colour bar: top row = vmax colour, bottom row = vmin */
} mask_png_panel;

typedef struct mask_png_info {
  uint32_t width, height;      /* picture size (both figures) */
  plot_fit fit;                /* display factor and map size */
  mask_png_panel panel[2][MASK_PNG_PANELS];  /* [0] mask_ts.png, [1] mask_ts_masked.png */
} mask_png_info;

/* Budget bytes mask_png_write() needs at least for a width x length frame (fail early with
 * budget_require before a step starts when it will draw the figures). */
uint64_t mask_png_need(uint32_t width, uint32_t length);

/* Draws TSDIR/mask_ts.png and TSDIR/mask_ts_masked.png from results/vel.tif, mask.tif and the
 * nine index rasters, with the thresholds of plan (as mask_run returns it). info (may be NULL)
 * receives the layout and colour ranges. */
int mask_png_write(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const tsmask_plan *plan,
                   const mask_png_opts *o, mask_png_info *info);
#endif
