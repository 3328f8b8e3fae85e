/* stack.h — the cbas interferogram stack: what `cbas prep` (LiCSBAS steps 02–05) writes and
 * the time-series steps (11–16) read. Format documented in docs/stack-format.md.
 *
 * A stack is a directory:
 *   stack.par      text "key: value" lines (grid, sizes, wavelength, provenance)
 *   ifgs.txt       one interferogram per line, "YYYYMMDD_YYYYMMDD", sorted (LiCSBAS order)
 *   epochs.txt     one epoch per line, "YYYYMMDD BPERP_M", sorted
 *   unw.bil        float32 LE, [length][n_ifg][width], radians, NaN = no data
 *   cc.bil         uint8,      [length][n_ifg][width], coherence*255 (truncated), 0 = no data
 *   hgt.f32, E.f32, N.f32, U.f32   float32 LE [length][width], NaN = no data (each optional)
 * Band-interleaved-by-line lets a step read any block of rows of every interferogram in one
 * sequential read. Row 0 is the northern edge, column 0 the western edge.
 *
 * Memory: stack_meta holds O(n_ifg + n_epoch) small arrays (malloc, not budgeted); the raster
 * reads fill caller-owned buffers. Thread-safety: stack_read_* may be called concurrently on
 * one stack (pread at explicit offsets).
 */
#ifndef CBAS_STACK_H
#define CBAS_STACK_H
#include "cbas/ctx.h"
#include <stdint.h>

#define STACK_FORMAT_VERSION 1

typedef struct stack_meta {
  uint32_t width, length;         /* of the stack (after multilook and clip) */
  uint32_t n_ifg, n_epoch;
  char (*ifg)[18];                /* n_ifg names "YYYYMMDD_YYYYMMDD" */
  int32_t *ifg_prim, *ifg_sec;    /* epoch indices of each ifg */
  char (*epoch)[9];               /* n_epoch dates "YYYYMMDD" */
  double *bperp_m;                /* n_epoch perpendicular baselines (m) w.r.t. the first line of
                                     the frame's baselines file; NaN if unknown */
  /* Grid: exact GeoTIFF geotransform of the stack (PixelIsArea, outer corner of pixel 0). */
  double gt[6];
  /* LiCSBAS EQA.dem_par values (corner = centre of NW pixel, with step 02's half-pixel quirk
   * for nlook > 1, see digest §1), kept for parity of derived lon/lat. */
  double corner_lat, corner_lon, post_lat, post_lon;
  double radar_freq_hz;           /* wavelength = 299792458 / radar_freq_hz */
  int nlook;
  /* Clip window in multilooked frame pixels, half-open (LiCSBAS step 05 semantics). */
  uint32_t clip_x0, clip_x1, clip_y0, clip_y1;
  uint32_t frame_width, frame_length;   /* multilooked frame size before the clip */
  char center_time[64];           /* from metadata.txt, or "" */
  int has_hgt, has_enu;
} stack_meta;

typedef struct stack stack;

/* Allocates the arrays of m for the given counts (zeroed). */
int stack_meta_alloc(cbas_ctx *ctx, stack_meta *m, uint32_t n_ifg, uint32_t n_epoch);
void stack_meta_free(stack_meta *m);
/* Fills ifg_prim/ifg_sec and epoch[] from ifg[] (sorted unique union of dates). */
int stack_meta_index_epochs(cbas_ctx *ctx, stack_meta *m);
double stack_wavelength_m(const stack_meta *m);

/* Opens a stack directory for reading (validates sizes of every file against stack.par). */
int stack_open(cbas_ctx *ctx, const char *dir, stack **out);
void stack_close(stack *s);
const stack_meta *stack_get_meta(const stack *s);
const char *stack_dir(const stack *s);
/* Rows [y0, y0+ny) of every ifg: dst[(r*n_ifg + k)*width + x]. */
int stack_read_unw(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny, float *dst);
int stack_read_cc(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny, uint8_t *dst);
/* Rows of a geometry layer: name = "hgt", "E", "N" or "U"; dst[r*width + x]. Missing layer
 * gives CBAS_EDATA naming it. */
int stack_read_layer(cbas_ctx *ctx, const stack *s, const char *name, uint32_t y0, uint32_t ny, float *dst);

/* Writing (used by prep). stack_create makes "<dir>.tmp<pid>/" with the metadata files and
 * preallocated rasters; the writer fills them with stack_write_*, and stack_commit renames the
 * directory to <dir> (replacing an older stack) so a killed run never leaves a half stack. */
typedef struct stack_writer stack_writer;
int stack_create(cbas_ctx *ctx, const char *dir, const stack_meta *m, stack_writer **out);
/* Row y of interferogram k (width values). Thread-safe across distinct (y, k). */
int stack_write_unw_row(cbas_ctx *ctx, stack_writer *w, uint32_t k, uint32_t y, const float *row);
int stack_write_cc_row(cbas_ctx *ctx, stack_writer *w, uint32_t k, uint32_t y, const uint8_t *row);
int stack_write_layer_rows(cbas_ctx *ctx, stack_writer *w, const char *name, uint32_t y0, uint32_t ny, const float *rows);
const char *stack_writer_dir(const stack_writer *w); /* the temporary directory */
/* Reads back rows already written, in the layout of stack_read_unw / stack_read_cc (used by
 * prep to apply the coherence mask, which needs every interferogram, before the commit). */
int stack_writer_read_unw(cbas_ctx *ctx, stack_writer *w, uint32_t y0, uint32_t ny, float *dst);
int stack_writer_read_cc(cbas_ctx *ctx, stack_writer *w, uint32_t y0, uint32_t ny, uint8_t *dst);
int stack_commit(cbas_ctx *ctx, stack_writer *w);    /* frees w */
void stack_abort(stack_writer *w);                    /* removes the temporary dir; frees w */
#endif
