/* prep.h — `cbas prep`: a LiCSAR GEOC folder to a clipped cbas stack in one streaming pass,
 * with the values LiCSBAS gets by running steps 02 (GeoTIFF to float, multilook), 03 (GACOS,
 * optional), 04 (masks, optional) and 05 (clip) in that order. Documented in docs/prep.md.
 *
 * Only the rows of the area of interest (times nlook) of each GeoTIFF are decoded, and only
 * the AOI is written: a frame-sized array is never allocated.
 *
 * Memory (from ctx's budget): per decoding worker, one chunk of R multilooked rows of the AOI
 * window, R*nlook*(AOI width*nlook)*4 bytes of input + R*AOI width*5 bytes of output (+ 8 per
 * pixel with GACOS), plus the decoded strip of each of its two open GeoTIFF readers. R is
 * derived from the budget; fewer workers run if the budget cannot hold one per thread; with
 * less than one worker at R = 1 the run fails before decoding ("... needs N MB").
 * The coherence mask and --licsbas-layout then walk the stack in blocks of rows, each row
 * of all interferograms costing n_ifg*AOI width*5 bytes.
 *
 * Results do not depend on the number of threads.
 */
#ifndef CBAS_PREP_H
#define CBAS_PREP_H
#include "cbas/ctx.h"
#include "cbas/licsbas.h"

#define PREP_MAX_MASKS 64

typedef struct prep_params {
  const char *geoc_dir;        /* LiCSAR GEOC folder (required) */
  const char *out_dir;         /* stack directory to write (required) */
  const char *clip;            /* "X1:X2/Y1:Y2" in multilooked frame pixels (step 05 -r), or NULL */
  const char *clip_geo;        /* "LONW/LONE/LATS/LATN" (step 05 -g), or NULL; NULL + NULL: whole frame */
  int nlook;                   /* multilook factor (step 02 -n), default 1 */
  double freq_hz;              /* radar frequency (step 02 --freq), default 5.405e9 */
  const char *gacos_dir;       /* folder of YYYYMMDD.ztd[.rsc] / .ztd.tif / .sltd.geo.tif (step 03), or NULL */
  int fillhole;                /* step 03 --fillhole, default 0 */
  double mask_coh;             /* step 04 -c: mask where coh_avg <= this; NaN (default) or 0 = off, as LiCSBAS */
  const char *mask[PREP_MAX_MASKS]; /* step 04 -r ranges "X1:X2/Y1:Y2" in multilooked frame pixels */
  int n_mask;
  const char *mask_file;       /* step 04 -f: one range per line, or NULL */
  const char *start, *end;     /* keep interferograms whose two dates lie in [start, end]; NULL = open */
  const char *licsbas_dir;     /* also write a LiCSBAS GEOCml-style folder here, or NULL */
  int decode_only;             /* benchmark floor: decode the AOI rows of every file, write nothing */
} prep_params;

/* Fills p with the defaults above (all pointers NULL). */
void prep_params_default(prep_params *p);

/* What a run did (for the command's summary and for tests). */
typedef struct prep_report {
  uint32_t n_candidates;       /* interferogram folders found (after --start/--end) */
  uint32_t n_used;             /* interferograms in the stack */
  uint32_t n_excluded;         /* folders reported and left out */
  uint32_t n_filtered;         /* folders outside --start/--end */
  lb_range clip;               /* in multilooked frame pixels */
  uint32_t frame_width, frame_length; /* multilooked frame */
  uint64_t bytes_written;      /* stack (+ LiCSBAS folder) */
  uint64_t bytes_decoded;      /* uncompressed bytes of the AOI windows read from GeoTIFFs */
  int workers;                 /* decoding workers that ran */
  uint32_t chunk_rows;         /* multilooked rows per decoding chunk */
} prep_report;

/* Runs prep. Returns 0 or a status with ctx->msg set: CBAS_EUSAGE for bad parameters, a
 * missing GEOC folder or a clip outside the frame (the message names the range), CBAS_EDATA
 * when no interferogram is usable, CBAS_EBUDGET when --mem cannot hold one worker, CBAS_EIO
 * for write failures. On failure nothing is left at out_dir/licsbas_dir (an older stack there
 * is kept) and no temporary directory remains. Per-interferogram problems (unparseable folder
 * name, missing or unreadable unw/cc, a different grid) are reported on stderr by name
 * (ctx_info) and the interferogram is left out. */
int prep_run(cbas_ctx *ctx, const prep_params *p, prep_report *rep);
#endif
