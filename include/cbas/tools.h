/* tools.h — shared plumbing of the LiCSBAS post-processing tools `cbas vel` (LiCSBAS_cum2vel.py,
 * digest §11) and `cbas ts` (LiCSBAS_cum2tstxt.py, §13): the cumulative-displacement GeoTIFF
 * and its epochs, the grid in LiCSBAS's EQA.dem_par convention, points and reference windows
 * given in pixels or degrees, and the reference series (NumPy's float32 nanmean over a window,
 * bit for bit).
 *
 * Input: a TSDIR (results/cum_filt.tif or results/cum.tif, one float32 band per epoch in mm,
 * band description YYYYMMDD) or any such GeoTIFF. When the file lies in a TSDIR's results/
 * directory the TSDIR supplies what LiCSBAS keeps inside cum.h5: the grid (info/EQA.dem_par:
 * corner_lat/corner_lon = centre of the NW pixel, post_lat < 0, post_lon), the default
 * reference window (info/13ref.txt for cum.tif, info/16ref.txt for cum_filt.tif, as the
 * refarea of cum.h5 / cum_filt.h5) and the mask (results/mask.tif). Without EQA.dem_par the grid
 * comes from the GeoTIFF's geotransform (centre of the NW pixel = corner + half a pixel).
 *
 * Pixel rules (digest §0.3): lon/lat -> x = rint((lon - lon1)/post_lon), y = rint((lat -
 * lat1)/post_lat) with NumPy's round-half-even; a point is inside when that pixel exists (so
 * the outer half pixel counts, where LiCSBAS's cum2tstxt refuses points beyond the outermost
 * pixel centres). Windows "x1:x2/y1:y2" and "lonW/lonE/latS/latN" as read_range and
 * read_range_geo (licsbas.h).
 *
 * Memory: a tools_cum holds the reader (one strip, gtiff.h) and 25 bytes per epoch (malloc).
 * tools_ref_series takes n*(min(8192, window pixels) + window width + 1)*4 bytes from the
 * budget. Thread-safety: one tools_cum per thread.
 */
#ifndef CBAS_TOOLS_H
#define CBAS_TOOLS_H
#include "cbas/cli.h"
#include "cbas/ctx.h"
#include "cbas/gtiff.h"
#include "cbas/licsbas.h"
#include "cbas/plot.h"
#include <stddef.h>
#include <stdint.h>

/* A north-up grid: centre of the NW pixel (lat1, lon1), spacing post_lat (< 0) and post_lon. */
typedef struct tools_grid {
  uint32_t width, length;
  double lat1, lon1, post_lat, post_lon;
} tools_grid;

typedef struct tools_cum {
  gt_reader *r;
  char path[1024];
  char tsdir[1024];       /* the TSDIR the file belongs to, or "" */
  uint32_t width, length;
  int n_epoch;
  char (*date)[9];        /* n_epoch "YYYYMMDD", increasing */
  long *day;              /* n_epoch day numbers (lb_day_number) */
  int filtered;           /* the file is a cum_filt*.tif (default reference 16ref) */
  int has_grid;           /* 0: rotated or missing georeferencing (no lon/lat options) */
  int grid_from_dem_par;  /* 1: grid from TSDIR/info/EQA.dem_par */
  tools_grid grid;
  gt_geo geo;             /* the file's georeferencing, for outputs on the same grid */
} tools_cum;

/* Which cumulative file of a TSDIR: TOOLS_CUM_AUTO = cum_filt.tif when present, else cum.tif
 * (LiCSBAS's default input is cum_filt.h5). */
enum { TOOLS_CUM_AUTO = 0, TOOLS_CUM_FILT = 1, TOOLS_CUM_UNFILT = 2 };

/* Opens ts_dir's results/cum[_filt].tif (which: TOOLS_CUM_*) or, when file is not NULL, that file
 * (ts_dir must then be NULL). Checks the epochs (band descriptions YYYYMMDD, increasing, at
 * least one) and reads the grid. Errors name the file and the band at fault. */
int tools_cum_open(cbas_ctx *ctx, const char *ts_dir, const char *file, int which, tools_cum *c);
void tools_cum_close(cbas_ctx *ctx, tools_cum *c);
/* path = the cum file's TSDIR/sub/name; fails (CBAS_EUSAGE) when the file has no TSDIR. */
int tools_ts_file(cbas_ctx *ctx, const tools_cum *c, const char *sub, const char *name, char *path, size_t cap);
/* 1 if path is an existing regular file. */
int tools_file_exists(const char *path);

/* Pixel of the point (nearest centre, round-half-even); -1 if it falls outside the grid or is
 * not a finite number. */
int tools_point_xy(const tools_grid *g, double lon, double lat, uint32_t *x, uint32_t *y);
/* Centre of pixel (x, y): lat = lat1 + post_lat*y, lon = lon1 + post_lon*x (xy2bl). */
void tools_xy_point(const tools_grid *g, uint32_t x, uint32_t y, double *lon, double *lat);

/* How the reference is chosen: at most one of window ("x1:x2/y1:y2"), geo ("lonW/lonE/latS/latN")
 * and a point (lon, lat; NaN = unset: the 1x1 window of its pixel); none = the TSDIR default. */
typedef struct tools_ref_opts {
  const char *window, *geo;
  double lon, lat;
} tools_ref_opts;
/* Resolves the reference window. *have = 0 when nothing is given and there is no default
 * (a file outside a TSDIR): the values are then used as stored. desc receives a short text
 * ("12:13/40:41 (info/16ref.txt)"). Usage errors name the option; points outside the grid name
 * the coordinates. */
int tools_ref_resolve(cbas_ctx *ctx, const tools_cum *c, const tools_ref_opts *o, lb_range *ref, int *have,
                      char *desc, size_t cap);

/* Opens the mask (values 0 -> NaN when read): mask_file, or with use_mask the TSDIR's
 * results/mask.tif; *out = NULL when neither is asked. Checks the size against c. */
int tools_mask_open(cbas_ctx *ctx, const tools_cum *c, int use_mask, const char *mask_file, gt_reader **out);
/* Rows [y0, y0+ny) of the mask (0 -> NaN) into dst[r*width + x]; all 1 when m is NULL. */
int tools_mask_rows(cbas_ctx *ctx, gt_reader *m, uint32_t width, uint32_t y0, uint32_t ny, float *dst);
/* Rows [y0, y0+ny), columns [x0, x0+nx) of epochs [e0, e0+ne) into dst[(r*ne + e)*nx + x]
 * (gt_read_bands: each strip of the pixel-interleaved file decoded once, in parallel). */
int tools_cum_rows(cbas_ctx *ctx, const tools_cum *c, int e0, int ne, uint32_t x0, uint32_t nx, uint32_t y0,
                   uint32_t ny, float *dst);

/* ref[e] = NumPy's nanmean over the window of cum[e0+e]*mask (float32, for e < ne), exactly as
 * np.nanmean(cum[e0:e0+ne, y1:y2, x1:x2]*mask[y1:y2, x1:x2], axis=(1, 2)) computes it: NaN read
 * as 0, pairwise float32 sums over runs of 8192 values in row-major order added in sequence,
 * divided by the valid count in double, rounded to float32; NaN when no value is valid.
 * Memory: see the file comment. */
int tools_ref_series(cbas_ctx *ctx, const tools_cum *c, gt_reader *mask, const lb_range *win, int e0, int ne,
                     float *ref);
/* The same reduction over an array in memory (n values at stride): the unit of tools_ref_series. */
float tools_np_nanmean_f32(const float *a, size_t n, size_t stride);

/* ---- the input options `cbas vel` and `cbas ts` share ---- */
typedef struct tools_in_opts {
  const char *ts, *cum, *mask_file, *ref_window2;
  int filt, unfilt, use_mask;
  tools_ref_opts ref;
} tools_in_opts;
#define TOOLS_IN_N_OPTS 11
/* Defaults (nothing chosen) and the option rows --ts --cum --filt --unfilt --ref --ref-window
 * --ref-geo --ref-lon --ref-lat --mask --mask-file (TOOLS_IN_N_OPTS entries written to opts). */
void tools_in_defaults(tools_in_opts *o);
void tools_in_cli(cli_opt *opts, tools_in_opts *o);
/* Opens what the options name: the cumulative file, the mask (NULL if none), the reference
 * window (*have = 0: none) described in desc. The caller closes c and the mask. */
int tools_in_open(cbas_ctx *ctx, const tools_in_opts *o, tools_cum *c, gt_reader **mask, lb_range *ref, int *have,
                  char *desc, size_t cap);
/* ref[e] for epochs [e0, e0+ne): the reference series (tools_ref_series), 0 when there is no
 * reference; an all-NaN series is an error naming the reference. */
int tools_ref_values(cbas_ctx *ctx, const tools_cum *c, gt_reader *mask, const lb_range *ref, int have,
                     const char *desc, int e0, int ne, float *out);

/* A PNG quicklook of band 0 of a GeoTIFF (plot_quicklook on row blocks of the file). */
int tools_quicklook(cbas_ctx *ctx, const char *tif, const char *png, const char *title, const char *units,
                    plot_cmap cmap, double vmin, double vmax);
#endif
