/* plot.h — pictures without a plotting library: a small RGB raster canvas (lines with
 * clipping, rectangles, discs, a built-in 5x7 bitmap font), colour maps, PNG quicklooks of
 * rasters with a colour bar, and the network plot of LiCSBAS (network*.png).
 *
 * Coordinates are integer pixels, x to the right, y down, (0,0) = top-left. Every drawing call
 * clips to the canvas: nothing is written outside it whatever the coordinates. Colours carry an
 * opacity a (255 = opaque); drawing blends as dst = (src·a + dst·(255−a))/255, rounded.
 *
 * Colour maps (own control-point tables, piecewise linear in 8-bit sRGB):
 *   PLOT_CMAP_VEL   diverging, approximates Crameri's Scientific Colour Map "roma" reversed
 *                   (blue for negative / away from the satellite, pale at the centre, brown-red
 *                   for positive), which LiCSBAS uses for velocity (SCM.roma.reversed()).
 *                   17 control points sampled from roma v7; max deviation 3/255 per channel.
 *   PLOT_CMAP_SEQ   sequential, approximates matplotlib's "viridis" (LiCSBAS's cmap_noise);
 *                   17 control points, max deviation 6/255 per channel.
 *   PLOT_CMAP_SEQ_R viridis reversed (LiCSBAS's cmap_noise_r: rms, n_gap, n_loop_err...).
 *   PLOT_CMAP_GRAY  black to white.
 *   PLOT_CMAP_TERRAIN matplotlib's "terrain" (its six published stops, exact), which LiCSBAS
 *                   uses for the DEM (hgt.png); its automatic range is LiCSBAS02's
 *                   −p99/3 .. p99 ("1/4 of terrain is blue").
 * NaN (and ±Inf) pixels get plot_cmap_nan(): mid grey for the coloured maps (distinct from the
 * white page and from every map colour), pale red for the gray and terrain maps.
 *
 * Memory: a canvas is W·H·3 bytes from the run budget; plot_quicklook() and plot_network()
 * document their own totals. Thread-safety: functions on distinct canvases may run concurrently.
 */
#ifndef CBAS_PLOT_H
#define CBAS_PLOT_H
#include "cbas/ctx.h"
#include <stddef.h>
#include <stdint.h>

typedef struct plot_rgba { uint8_t r, g, b, a; } plot_rgba;

typedef struct plot_canvas {
  uint32_t w, h;
  size_t stride;   /* bytes per row (= 3·w) */
  uint8_t *px;     /* RGB, pixel (x, y) at px[y·stride + 3·x] */
} plot_canvas;

int plot_canvas_new(cbas_ctx *ctx, plot_canvas *c, uint32_t w, uint32_t h, plot_rgba bg);
void plot_canvas_free(cbas_ctx *ctx, plot_canvas *c);
/* Writes the canvas as an 8-bit RGB PNG (atomically, see png.h); title goes into tEXt. */
int plot_canvas_write_png(cbas_ctx *ctx, const plot_canvas *c, const char *path, const char *title);

void plot_fill(plot_canvas *c, plot_rgba col);
void plot_pixel(plot_canvas *c, int x, int y, plot_rgba col);
plot_rgba plot_get(const plot_canvas *c, int x, int y);   /* a = 0 outside the canvas */
/* One-pixel line, both end points included (Bresenham). */
void plot_line(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgba col);
/* Line of `width` pixels across (offset along the minor axis), dashed when dash_on > 0
 * (dash_on pixels drawn, dash_off skipped, counted along the major axis). */
typedef struct plot_pen { plot_rgba col; int width, dash_on, dash_off; } plot_pen;
void plot_line_pen(plot_canvas *c, int x0, int y0, int x1, int y1, const plot_pen *pen);
/* Rectangles with corners (x0,y0) and (x1,y1), both included. */
void plot_rect(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgba col);
void plot_fill_rect(plot_canvas *c, int x0, int y0, int x1, int y1, plot_rgba col);
/* Pixels with (x−cx)² + (y−cy)² <= r² + r (disc) or the ring of its boundary (circle). */
void plot_disc(plot_canvas *c, int cx, int cy, int r, plot_rgba col);
void plot_circle(plot_canvas *c, int cx, int cy, int r, plot_rgba col);

/* Text in the built-in font: glyphs of 5x7 pixels (capitals and digits; the descenders of
 * g j p q y , ; take an 8th row) on a 6-pixel advance, each font pixel drawn as a scale x scale
 * block; ASCII 32..126 (other bytes print as '?'). Anchoring uses the 7-row cap height. */
#define PLOT_GLYPH_W 5
#define PLOT_GLYPH_H 7      /* cap height, used for alignment */
#define PLOT_GLYPH_ROWS 8   /* rows of a glyph bitmap (row 7: descenders) */
#define PLOT_ADVANCE 6
enum { PLOT_LEFT = 0, PLOT_CENTER = 1, PLOT_RIGHT = 2 };   /* horizontal anchor */
enum { PLOT_TOP = 0, PLOT_MIDDLE = 1, PLOT_BOTTOM = 2 };   /* vertical anchor */
/* The glyph of ch as 8 rows of 5 characters ('#' ink, '.' paper), or NULL if ch is not in
 * 32..126. */
const char *plot_glyph(int ch);
int plot_text_width(const char *s, int scale);              /* pixels, 0 for "" */
/* Draws s with its top-left corner at (x, y); returns the width drawn. */
int plot_text(plot_canvas *c, int x, int y, const char *s, plot_rgba col, int scale);
/* Draws s anchored at (x, y) by halign (PLOT_LEFT...) and valign (PLOT_TOP...). */
void plot_text_at(plot_canvas *c, int x, int y, const char *s, plot_rgba col, int scale,
                  int halign, int valign);
/* Draws s rotated 90° counter-clockwise (reading bottom to top), its bounding box centred on
 * (x, y). */
void plot_text_up(plot_canvas *c, int x, int y, const char *s, plot_rgba col, int scale);

typedef enum plot_cmap { PLOT_CMAP_VEL = 0, PLOT_CMAP_SEQ, PLOT_CMAP_SEQ_R, PLOT_CMAP_GRAY, PLOT_CMAP_TERRAIN,
                         PLOT_CMAP_N } plot_cmap;
/* "vel", "seq", "seq_r", "gray", "terrain"; returns 0 or -1. */
int plot_cmap_parse(const char *name, plot_cmap *out);
const char *plot_cmap_name(plot_cmap m);
/* Colour at t in [0, 1] (clamped; t = 0 is the colour of vmin). */
plot_rgba plot_cmap_at(plot_cmap m, double t);
plot_rgba plot_cmap_nan(plot_cmap m);

/* 256-level lookup of a colour map over [vmin, vmax]: level k = floor((v−vmin)/(vmax−vmin)·256)
 * clamped to 0..255 has colour plot_cmap_at(m, k/255); NaN/Inf give the NaN colour. */
typedef struct plot_lut { plot_rgba level[256]; plot_rgba nan; double vmin, vmax; } plot_lut;
void plot_lut_init(plot_lut *l, plot_cmap m, double vmin, double vmax);
plot_rgba plot_lut_color(const plot_lut *l, double v);

/* A raster read in blocks of rows: read() fills rows [y0, y0+ny) (width floats each, row r at
 * dst + r·stride) and returns 0 or a status (recorded in ctx by the callee). It may be called
 * several times for the same rows (percentile passes). */
typedef int (*plot_read_fn)(void *ud, uint32_t y0, uint32_t ny, float *dst, size_t stride);
typedef struct plot_source { uint32_t width, length; plot_read_fn read; void *ud; } plot_source;
/* A source over a float raster in memory (row r at data + r·stride); m must outlive src. */
typedef struct plot_mem_raster { const float *data; size_t stride; uint32_t width; } plot_mem_raster;
void plot_source_mem(plot_source *src, plot_mem_raster *m, const float *data, uint32_t width,
                     uint32_t length, size_t stride);

/* Percentiles (0..100) of the finite values of src·scale, as numpy.nanpercentile (linear
 * interpolation between order statistics). The order statistics are exact (those of the float32
 * values): two streaming passes over src, a 65536-bin histogram of the upper half of an
 * order-preserving 32-bit key, then of the lower half inside the bins holding the wanted ranks.
 * n_pct <= 4. No finite value: out[] = NaN, *n_valid = 0.
 * Memory: one block of rows (about 1 MB) + 0.5 MB + 0.5 MB per distinct upper bin hit by the
 * wanted ranks (usually 1-2 per percentile) from the budget. */
int plot_percentiles(cbas_ctx *ctx, const plot_source *src, double scale, int n_pct,
                     const double *pct, double *out, uint64_t *n_valid);
/* The automatic colour range: LiCSBAS's 1st and 99th percentiles (LiCSBAS13/15/16 plots);
 * for PLOT_CMAP_VEL made symmetric about zero (±max(|p1|, |p99|)) so that the pale centre of
 * the diverging map means "no motion"; for PLOT_CMAP_TERRAIN −p99/3 .. p99 (LiCSBAS02's DEM
 * range; p1 .. p99 when p99 <= 0). Degenerate ranges widen to a width of 1 (as LiCSBAS
 * does when cmin == cmax). */
int plot_auto_range(cbas_ctx *ctx, const plot_source *src, double scale, plot_cmap m,
                    double *vmin, double *vmax);

/* ---- maps on a canvas: fitting, streaming painting, colour bars (quicklooks, figure panels) */

/* How a width x length raster is shown in a box of max_w x max_h pixels: reduced 1:reduce
 * (reduce = ceil(max(width/max_w, length/max_h)), box means) when larger, else enlarged
 * x enlarge (min(max_w/width, max_h/length), 1..8, pixel replication); map_w x map_h is the
 * painted size (ceil(width/reduce)·enlarge x ceil(length/reduce)·enlarge). */
typedef struct plot_fit { uint32_t reduce, enlarge, map_w, map_h; } plot_fit;
void plot_fit_map(uint32_t width, uint32_t length, uint32_t max_w, uint32_t max_h, plot_fit *fit);

/* Paints a raster fed row by row onto a canvas: each map pixel is the mean of the finite
 * values (x scale) of its reduce x reduce box, NaN (the NaN colour) when more than half of the
 * box is not finite, coloured through lut, and drawn as an enlarge x enlarge block with the
 * map's top-left corner at (x0, y0). Rows arrive top to bottom in any number per call; a map
 * row is painted as soon as its last source row is in. Holds no source rows: the caller
 * provides the accumulators, plot_painter_bytes() = 16·ceil(width/reduce) bytes, which must
 * outlive the painter. Thread-safety: one painter per thread; painters on disjoint parts of a
 * canvas may run concurrently. */
typedef struct plot_painter {
  plot_canvas *c;
  const plot_lut *lut;
  plot_fit fit;
  uint32_t width, length;   /* source raster */
  int x0, y0;
  double scale;
  uint32_t rows_in, oy, pending;  /* source rows fed, next map row, rows in the accumulators */
  double *sum;
  uint32_t *n_ok, *n_all;
  uint64_t n_nan;           /* map pixels (before enlarging) painted as no data */
} plot_painter;
size_t plot_painter_bytes(const plot_fit *fit, uint32_t width);
/* scale 0 = 1. */
void plot_painter_init(plot_painter *p, plot_canvas *c, const plot_lut *lut, const plot_fit *fit,
                       uint32_t width, uint32_t length, int x0, int y0, double scale, void *acc);
/* Feeds n source rows (row r at v + r·stride, width floats); rows beyond length are ignored. */
void plot_painter_rows(plot_painter *p, const float *v, uint32_t n, size_t stride);

/* A vertical colour bar of bar_w x bar_h with its top-left corner at (x, y): top row = level
 * 255 (lut->vmax), bottom row = level 0 (lut->vmin), a black frame one pixel outside, and up
 * to max_ticks "nice" ticks (1, 2, 2.5, 5 x 10^k) labelled on the right in text scale `scale`.
 * Returns the width drawn from x (bar + labels). */
int plot_colorbar(plot_canvas *c, int x, int y, int bar_w, int bar_h, const plot_lut *lut, int scale,
                  int max_ticks);

typedef struct plot_ql_opts {
  const char *title;     /* drawn above the map; NULL = none */
  const char *units;     /* drawn above the colour bar, e.g. "mm/yr"; NULL = none */
  double vmin, vmax;     /* colour range of the scaled values; NaN = plot_auto_range(),
                          * widened to round numbers (vel: ±1, 1.2, 1.5, 2, 2.5, 3, 3.5, 4, 5,
                          * 6, 7, 8 x 10^k; terrain: the top as vel's, the bottom −top/3;
                          * others: multiples of half the tick step) */
  plot_cmap cmap;
  double scale;          /* multiplies every value before colouring; 0 = 1 */
  uint32_t max_w, max_h; /* bound of the map area in pixels; 0 = 800 x 640 */
} plot_ql_opts;

/* Renders src as a PNG quicklook: title, the map fitted into max_w x max_h (box-averaged by an
 * integer factor f for big rasters, NaN where more than half of a box is NaN; small rasters
 * enlarged by an integer factor up to 8 by pixel replication, e.g. a 324x216 city AOI is shown
 * 2x), a colour bar with tick labels and units, a "no data" swatch, and a caption with the
 * raster size and display factor. The rows are read and reduced block by block, so only the
 * output canvas is held. Memory: canvas (<= (max_w+200)·(max_h+120)·3 bytes, 2.6 MB at the
 * defaults) + one block of source rows (~1 MB, at least f rows) + 12·(map width) bytes + the
 * PNG writer (~300 KB). */
typedef struct plot_ql_info {
  double vmin, vmax;            /* colour range used */
  uint32_t reduce, enlarge;     /* display factor: 1:reduce (box mean) or x enlarge */
  int map_x, map_y, map_w, map_h;   /* map rectangle on the picture */
  int bar_x, bar_y, bar_w, bar_h;   /* colour bar: top row = vmax colour, bottom = vmin */
  int nodata_x, nodata_y;       /* a pixel of the "no data" swatch */
  uint64_t n_nodata;            /* map pixels (before enlarging) shown as no data */
} plot_ql_info;
/* info (may be NULL) receives the layout and range. */
int plot_quicklook(cbas_ctx *ctx, const char *path, const plot_ql_opts *o, const plot_source *src,
                   plot_ql_info *info);

/* The network plot of LiCSBAS (LiCSBAS_plot_lib.plot_network): epochs (time) against
 * perpendicular baseline, good interferograms as blue lines, bad ones as red dashed lines
 * (when plot_bad), epochs as dots labelled MM/DD, vertical black bars at the gaps of the good
 * network (no good interferogram spans two consecutive epochs that have good
 * interferograms), yearly and monthly date ticks, a legend with counts.
 * Width 100 px per 80 days + 200 (as LiCSBAS's figure of days/80+2 inches at 100 dpi), clamped
 * to 700..2400, height 600. Unknown (NaN) baselines are drawn at 0.
 * Memory: the canvas (<= 4.4 MB) + 8 bytes per epoch. */
typedef struct plot_net {
  int n_epoch;
  const int32_t *ymd;        /* [n_epoch] YYYYMMDD, increasing */
  const double *bperp_m;     /* [n_epoch] metres (NaN = unknown) */
  int n_ifg;
  const int32_t *prim, *sec; /* [n_ifg] epoch indices */
  const uint8_t *bad;        /* [n_ifg] 1 = removed/bad, or NULL (all good) */
  int plot_bad;              /* 1: draw the bad ones */
  const char *title;         /* NULL = none */
} plot_net;
/* Writes path; *n_gap (may be NULL) receives the number of gaps, as LiCSBAS's return value. */
int plot_network(cbas_ctx *ctx, const char *path, const plot_net *n, int *n_gap);
#endif
