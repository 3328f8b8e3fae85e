/* lbdir.h — writes a LiCSBAS GEOCml-style folder (the state after LiCSBAS steps 02–05) from
 * cbas prep, so a LiCSBAS user can run steps 11+ on a cbas clip and compare:
 *   EQA.dem_par, slc.mli.par   text, exactly as LiCSBAS 02 writes them and 05 rewrites them
 *                               (numbers in Python's repr)
 *   cliparea.txt               "x1:x2/y1:y2" without newline (only for a clipped folder)
 *   YYYYMMDD_YYYYMMDD/…unw      float32 LE [length][width], NaN = no data
 *   YYYYMMDD_YYYYMMDD/…cc       uint8 [length][width], coherence*255, 0 = no data
 *   hgt, E.geo, N.geo, U.geo, mask, coh_avg   float32 rasters (when present)
 *   baselines, no_unw_list.txt text
 * (digest §0.1, §0.2, §1, §4).
 *
 * The folder is built as "<dir>.tmp<pid>/" and renamed to <dir> by lbdir_commit (an older
 * folder there is replaced); lbdir_abort removes it. Writes go through plat_pwrite, one
 * open/pwrite/close per call, so concurrent calls on different files are safe.
 * Memory: none beyond the handle.
 */
#ifndef CBAS_LBDIR_H
#define CBAS_LBDIR_H
#include "cbas/ctx.h"
#include "cbas/licsbas.h"

typedef struct lbdir_info {
  uint32_t width, length;       /* of the folder's rasters */
  double corner_lat, corner_lon, post_lat, post_lon; /* EQA.dem_par values */
  double radar_freq_hz;
  const char *center_time;      /* NULL = no center_time line */
  int clipped;                  /* 1: step 05 ran (05's text forms, cliparea.txt) */
  lb_range clip;
} lbdir_info;

typedef struct lbdir lbdir;

/* Creates the temporary folder with EQA.dem_par, slc.mli.par and cliparea.txt. */
int lbdir_create(cbas_ctx *ctx, const char *dir, const lbdir_info *info, lbdir **out);
/* Rows [y0, y0+ny) of interferogram `ifg` (its folder is created on first use). */
int lbdir_write_ifg_rows(cbas_ctx *ctx, lbdir *d, const char *ifg, uint32_t y0, uint32_t ny,
                         const float *unw, const uint8_t *cc);
/* Rows [y0, y0+ny) of a top-level float32 raster (hgt, E.geo, mask, ...). */
int lbdir_write_raster(cbas_ctx *ctx, lbdir *d, const char *name, uint32_t y0, uint32_t ny,
                       const float *rows);
/* A small top-level file with the given content. */
int lbdir_put(cbas_ctx *ctx, lbdir *d, const char *name, const void *buf, size_t n);
/* Total bytes written so far. */
uint64_t lbdir_bytes(const lbdir *d);
/* Renames the folder into place (replacing an older one); frees d. */
int lbdir_commit(cbas_ctx *ctx, lbdir *d);
/* Removes the temporary folder; frees d. Safe on NULL. */
void lbdir_abort(lbdir *d);
#endif
