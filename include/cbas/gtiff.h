/* gtiff.h — GeoTIFF raster I/O over libtiff, windowed and streaming.
 *
 * Reader: any window (rows x columns) of one band of a striped or tiled, uncompressed /
 * deflate / LZW, predictor 1/2/3 raster of uint8, int16, uint16, int32, uint32, float32 or
 * float64 samples, chunky (pixel-interleaved) or planar, converted to the type the caller asks
 * for. Only the strips/tiles that intersect the window are decoded. Georeferencing from
 * ModelPixelScale+ModelTiepoint or ModelTransformation, PixelIsArea/PixelIsPoint, the
 * GDAL_NODATA tag and per-band descriptions from the GDAL_METADATA tag.
 *
 * Writer: single- or multi-band float32 or uint8 GeoTIFF, deflate (predictor 3 for float,
 * 2 for integers), EPSG:4326 geokeys, GDAL_NODATA, band descriptions (GDAL_METADATA),
 * written strip by strip in row order so a writer never holds a whole image. Output goes to
 * a temporary name and is renamed into place by gt_commit() (see afile.h).
 *
 * Errors: every failure, including libtiff's own messages (routed per handle into the ctx),
 * is reported through ctx_fail() with the file name. Corrupt, truncated or unsupported files
 * give CBAS_EFORMAT / CBAS_EUNSUP, never a crash.
 *
 * Threads: a reader or writer handle is used by one thread at a time; different handles may be
 * used concurrently. The first gt_open/gt_create of the process registers the GeoTIFF/GDAL tags
 * with libtiff (TIFFSetTagExtender) and sets libtiff's global stderr handlers to NULL, once,
 * thread-safely (atomic once-flag); messages of our handles go through per-handle handlers.
 *
 * Caching: a reader keeps the last decoded strip/tile, so reading a window row by row decodes
 * each strip once. For tiled files, windows one tile-row tall (block_h) avoid decoding a tile
 * again in a later call.
 *
 * Memory: a reader holds one decoded strip or tile (for chunky files of B bands: B samples per
 * pixel) from the budget, i.e. block_w * block_h * (planar_separate ? 1 : bands) *
 * gt_type_size(type) bytes plus about 3 kB for the handle (and the GDAL_METADATA text if band
 * descriptions are present), plus libtiff's compressed-strip buffer (outside the budget; at most
 * one strip or tile; libtiff's single allocations are capped at the budget size). A writer holds
 * from the budget: the handle (~2.5 kB); one strip, S = rows_per_strip * width * bands *
 * gt_type_size(type) bytes; and max(min(deflateBound(S), GT_DEFLATE_OUT_CAP), float32 row)
 * bytes for its encoder (deflateBound(S) = S + S/4096 + S/16384 + ~13 bytes; the float32 row,
 * width * bands * 4 bytes, matters only for rows wider than 64 KiB); plus 16 bytes of header per
 * allocation. Outside the budget, once per writer: zlib's deflate state, GT_DEFLATE_STATE_BYTES
 * (windowBits 15, memLevel 8, as libtiff's ZIP codec), and libtiff's TIFF handle and directory
 * (a few kB); the extra workers of a parallel gt_write_rows are budgeted (see there), the
 * writer's own state is not because callers size row blocks counting a writer as its strip.
 * Nothing is allocated per strip: the writer predicts and deflates strips itself
 * and hands them to TIFFWriteRawStrip. Writers switch to BigTIFF when the uncompressed data
 * exceeds 4e9 bytes.
 */
#ifndef CBAS_GTIFF_H
#define CBAS_GTIFF_H
#include "cbas/ctx.h"
#include <stddef.h>
#include <stdint.h>

typedef enum gt_type { GT_U8 = 1, GT_I16, GT_U16, GT_I32, GT_U32, GT_F32, GT_F64 } gt_type;
size_t gt_type_size(gt_type t);
const char *gt_type_name(gt_type t);
/* Added: the shortest decimal text that reads back as v ("%.Ng", N = 1..17), and "nan", "inf",
 * "-inf" as GDAL writes them in GDAL_NODATA. Returns snprintf's count. */
int gt_format_double(char *buf, size_t cap, double v);
/* Added: "none", "deflate", "LZW", "JPEG"... for a libtiff COMPRESSION_* value. */
const char *gt_compression_name(int compression);

/* Georeferencing as a GDAL geotransform, always for the PixelIsArea convention:
 * X(col,row) = gt[0] + col*gt[1] + row*gt[2];  Y(col,row) = gt[3] + col*gt[4] + row*gt[5]
 * where (col,row) = (0,0) is the outer corner of the first pixel. Files marked PixelIsPoint
 * are converted as GDAL does (shifted by half a pixel). */
typedef struct gt_geo {
  int has_gt;          /* 1 if a geotransform was found */
  double gt[6];
  int pixel_is_point;  /* as found in the file (informational) */
  int epsg;            /* geographic or projected CRS code if found, else 0 */
} gt_geo;

typedef struct gt_info {
  uint32_t width, height, bands;
  gt_type type;
  int tiled;
  uint32_t block_w, block_h;   /* tile size, or (width, rows per strip) */
  int compression;             /* libtiff COMPRESSION_* value */
  int predictor;               /* 1, 2 or 3 */
  int planar_separate;         /* 1 if PLANARCONFIG_SEPARATE */
  gt_geo geo;
  int has_nodata;
  double nodata;
} gt_info;

typedef struct gt_reader gt_reader;

int gt_open(cbas_ctx *ctx, const char *path, gt_reader **out);
void gt_close(cbas_ctx *ctx, gt_reader *r);
const gt_info *gt_get_info(const gt_reader *r);
const char *gt_path(const gt_reader *r);
/* Added: how many strips/tiles this reader has decoded (tests check the caching with it). */
uint64_t gt_blocks_decoded(const gt_reader *r);
/* Band description (GDAL_METADATA item DESCRIPTION, role "description"), or NULL. Like GDAL,
 * item values are XML-unescaped twice (GDAL escapes them twice when writing). */
const char *gt_band_desc(const gt_reader *r, uint32_t band);

/* Reads band (0-based) pixels [x0, x0+nx) x [y0, y0+ny) into dst, converted to dst_type
 * (plain C conversion; NaN/Inf to integer types is a CBAS_EUSAGE error, and so is a float
 * outside the integer type's range). Row r of the window goes to dst + r*dst_stride elements.
 * The window must lie inside the raster (else CBAS_EUSAGE). */
int gt_read(cbas_ctx *ctx, gt_reader *r, uint32_t band, uint32_t x0, uint32_t y0, uint32_t nx,
            uint32_t ny, gt_type dst_type, void *dst, size_t dst_stride);

/* Added: reads bands [band0, band0 + n_bands) of the window [x0, x0+nx) x [y0, y0+ny) at once:
 * pixel (x, window row r, band band0 + b) goes to element dst[b*band_stride + r*row_stride +
 * (x - x0)] (the layout gt_write_rows takes). Same values and errors as one gt_read per band.
 * For striped, pixel-interleaved, deflated files in the host's byte order (what gt_create
 * writes), the strips of the window are read and inflated on up to ctx->n_threads workers
 * (par_for; call it from the main thread, not from inside a par_for worker), each with its own
 * zlib stream, into the caller's buffer; other files, a budget too small for 2 workers, or any
 * decoding problem (then reported by the serial path) go strip row by strip row through
 * gt_read, decoding each strip once. Memory while it runs, from the budget: per worker one
 * decoded strip + max(64 KiB, one row) + ~40 kB of inflate state. */
int gt_read_bands(cbas_ctx *ctx, gt_reader *r, uint32_t band0, uint32_t n_bands, uint32_t x0, uint32_t y0,
                  uint32_t nx, uint32_t ny, gt_type dst_type, void *dst, size_t row_stride, size_t band_stride);

/* Writer memory constants (see Memory above). */
#define GT_DEFLATE_STATE_BYTES (262u << 10) /* zlib 1.2.x deflateInit(level): 4 x 64 KiB + ~6 kB */
#define GT_DEFLATE_OUT_CAP (64u << 10)      /* compressed bytes written per TIFFWriteRawStrip */

typedef struct gt_wopts {
  uint32_t width, height, bands;
  gt_type type;                  /* GT_F32 or GT_U8 */
  gt_geo geo;                    /* if has_gt: EPSG:4326 geokeys (epsg must be 0 or 4326) and
                                    scale+tiepoint, or ModelTransformation if rotated */
  int has_nodata;
  double nodata;                 /* NaN allowed */
  const char *const *band_desc;  /* NULL or `bands` strings (e.g. dates YYYYMMDD) */
  uint32_t rows_per_strip;       /* 0 = as GDAL: max(1, 8192 / bytes per row) */
  int zlevel;                    /* 0 = default 6; 1..9 */
  int zrle;                      /* deflate with zlib's Z_RLE strategy (runs only, no string
                                    matching): the same format, read by any inflater; for
                                    float32 with the floating-point predictor ~4x faster than
                                    level 1 and no larger (the low mantissa bytes never match) */
  int zsplit;                    /* float32 only: each strip's byte planes (floating-point
                                    predictor) deflated (Z_RLE) where their bytes look
                                    compressible, stored where not, in one zlib stream any
                                    inflater reads: time-series cubes write and read ~3x faster
                                    than Z_RLE alone, at the same size */
  int legacy_encode;             /* tests only: encode through libtiff (TIFFWriteEncodedStrip,
                                    its codec's buffers outside the budget) instead of the
                                    writer's own predictor + deflate; the bytes are the same */
} gt_wopts;

typedef struct gt_writer gt_writer;

int gt_create(cbas_ctx *ctx, const char *path, const gt_wopts *o, gt_writer **out);
/* Appends ny rows. src holds band-sequential planes: pixel (x, row r, band b) is at element
 * src[b*band_stride + r*row_stride + x] (elements of the writer's type). Rows must arrive in
 * order; partial strips are buffered until complete. When a call completes 2 or more strips
 * and ctx->n_threads > 1, those strips are packed, predicted and deflated on up to n_threads
 * workers (par_for: call it from the main thread, not from inside a par_for worker), one strip
 * in flight per worker, each worker with its own z_stream, and written in strip order: the
 * file is byte-identical for any thread count and budget. Memory while it runs, from the
 * budget (zlib's states included): per worker beyond the first GT_DEFLATE_STATE_BYTES + 8 kB
 * and S (S = one strip), plus deflateBound(S) per worker (up to 4 strips in flight per worker
 * if the budget allows: S + deflateBound(S) each); with less budget available, fewer workers
 * (down to the serial encoder). */
int gt_write_rows(cbas_ctx *ctx, gt_writer *w, uint32_t ny, const void *src, size_t row_stride,
                  size_t band_stride);
/* Checks that every row was written, flushes, fsyncs and renames into place; frees w. */
int gt_commit(cbas_ctx *ctx, gt_writer *w);
/* Discards the temporary file; frees w. Safe on NULL. */
void gt_abort(cbas_ctx *ctx, gt_writer *w);
#endif
