/* gtiff.c — GeoTIFF raster I/O over libtiff (see include/cbas/gtiff.h).
 *
 * Files are opened with TIFFClientOpenExt on I/O procs built on plat_pread/plat_pwrite, so this
 * file stays POSIX-free and tests can inject faults. libtiff's messages are routed per handle
 * (TIFFOpenOptionsSet{Error,Warning}HandlerExtR) into the handle: the first error is kept and
 * quoted in the ctx_fail message of the operation that failed; warnings are dropped. The only
 * process-wide state is set once by gt_global_init(): the tag extender registering the
 * GeoTIFF and GDAL tags, and libtiff's global handlers set to NULL so nothing reaches stderr.
 *
 * Reader: one decoded strip/tile (budget) and the index of the block it holds, so a window read
 * row by row decodes each strip once. Writer: one strip of pixel-interleaved rows (budget)
 * filled by gt_write_rows and, when full, encoded here and handed to TIFFWriteRawStrip: the
 * predictor is applied in place (as libtiff's tif_predict.c horDiff8 / fpDiff do it), then the
 * strip is deflated with the writer's one z_stream (deflateReset per strip, deflateInit with the
 * level as libtiff's ZIP codec calls it, fed and finished as ZIPEncode/ZIPPostEncode do), so the
 * file is byte-identical to libtiff's TIFFWriteEncodedStrip output without libtiff's per-strip
 * allocations. gt_wopts.legacy_encode keeps the TIFFWriteEncodedStrip path for tests.
 *
 * Parallel strip coding: a gt_write_rows call that completes several strips packs, predicts
 * and deflates them on par_for workers (encode_parallel: a z_stream per worker, whole deflated
 * strips held per slot, written in strip order by the calling thread); gt_read_bands reads
 * and inflates the strips of a window on workers (read_parallel: pread + own inflate +
 * predictor undo as libtiff's tif_predict.c, straight into the caller's buffer). Each call
 * takes one budget block for its pool (zlib's states carved from it) and frees it before
 * returning; when the budget has no room for 2 workers, or a file is not one the own decoder
 * handles, the serial code runs instead, so bytes and values never depend on threads or budget.
 */
#include "cbas/gtiff.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <zlib.h>

/* GDAL's default deflate level (ZLEVEL=6) for writers that do not choose one. */
#ifndef GT_DEFAULT_ZLEVEL
#define GT_DEFAULT_ZLEVEL 6
#endif

/* GeoTIFF and GDAL private tags. */
enum {
  TAG_MODEL_PIXEL_SCALE = 33550,
  TAG_MODEL_TIEPOINT = 33922,
  TAG_MODEL_TRANSFORMATION = 34264,
  TAG_GEO_KEY_DIRECTORY = 34735,
  TAG_GEO_DOUBLE_PARAMS = 34736,
  TAG_GEO_ASCII_PARAMS = 34737,
  TAG_GDAL_METADATA = 42112,
  TAG_GDAL_NODATA = 42113
};
/* GeoKeys used here. */
enum {
  KEY_MODEL_TYPE = 1024,
  KEY_RASTER_TYPE = 1025,
  KEY_GEOGRAPHIC_TYPE = 2048,
  KEY_GEOG_CITATION = 2049,
  KEY_GEOG_ANGULAR_UNITS = 2054,
  KEY_GEOG_SEMI_MAJOR_AXIS = 2057,
  KEY_GEOG_INV_FLATTENING = 2059,
  KEY_PROJECTED_CS_TYPE = 3072
};
#define RASTER_PIXEL_IS_POINT 2
#define KEY_USER_DEFINED 32767

/* ---- once-only process-wide setup --------------------------------------------------------- */

static const TIFFFieldInfo geo_fields[] = {
    {TAG_MODEL_PIXEL_SCALE, TIFF_VARIABLE2, TIFF_VARIABLE2, TIFF_DOUBLE, FIELD_CUSTOM, 1, 1, "ModelPixelScale"},
    {TAG_MODEL_TIEPOINT, TIFF_VARIABLE2, TIFF_VARIABLE2, TIFF_DOUBLE, FIELD_CUSTOM, 1, 1, "ModelTiepoint"},
    {TAG_MODEL_TRANSFORMATION, TIFF_VARIABLE2, TIFF_VARIABLE2, TIFF_DOUBLE, FIELD_CUSTOM, 1, 1, "ModelTransformation"},
    {TAG_GEO_KEY_DIRECTORY, TIFF_VARIABLE2, TIFF_VARIABLE2, TIFF_SHORT, FIELD_CUSTOM, 1, 1, "GeoKeyDirectory"},
    {TAG_GEO_DOUBLE_PARAMS, TIFF_VARIABLE2, TIFF_VARIABLE2, TIFF_DOUBLE, FIELD_CUSTOM, 1, 1, "GeoDoubleParams"},
    {TAG_GEO_ASCII_PARAMS, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "GeoASCIIParams"},
    {TAG_GDAL_METADATA, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "GDALMetadata"},
    {TAG_GDAL_NODATA, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "GDALNoDataValue"},
};

static TIFFExtendProc parent_extender; /* written once, under init_state */
static atomic_int init_state;          /* 0 = not done, 1 = in progress, 2 = done */

static void tag_extender(TIFF *tif) {
  TIFFMergeFieldInfo(tif, geo_fields, sizeof geo_fields / sizeof geo_fields[0]);
  if (parent_extender) parent_extender(tif);
}

/* Registers the tag extender and silences libtiff's global (stderr) handlers, once per process.
 * Thread-safe: the first caller does the work, concurrent callers spin until it is done (a few
 * microseconds). Our handles get their messages through per-handle handlers instead. */
static void gt_global_init(void) {
  if (atomic_load(&init_state) == 2) return;
  int expect = 0;
  if (atomic_compare_exchange_strong(&init_state, &expect, 1)) {
    parent_extender = TIFFSetTagExtender(tag_extender);
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    TIFFSetErrorHandlerExt(NULL);
    TIFFSetWarningHandlerExt(NULL);
    atomic_store(&init_state, 2);
  } else {
    while (atomic_load(&init_state) != 2) {
    }
  }
}

/* ---- types -------------------------------------------------------------------------------- */

size_t gt_type_size(gt_type t) {
  switch (t) {
  case GT_U8: return 1;
  case GT_I16: case GT_U16: return 2;
  case GT_I32: case GT_U32: case GT_F32: return 4;
  case GT_F64: return 8;
  }
  return 0;
}
const char *gt_type_name(gt_type t) {
  switch (t) {
  case GT_U8: return "uint8";
  case GT_I16: return "int16";
  case GT_U16: return "uint16";
  case GT_I32: return "int32";
  case GT_U32: return "uint32";
  case GT_F32: return "float32";
  case GT_F64: return "float64";
  }
  return "?";
}

int gt_format_double(char *buf, size_t cap, double v) {
  if (isnan(v)) return snprintf(buf, cap, "nan");
  if (isinf(v)) return snprintf(buf, cap, v < 0 ? "-inf" : "inf");
  int n = 0, prec;
  for (prec = 1; prec <= 17; prec++) {
    n = snprintf(buf, cap, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  /* Whole numbers below 1e17 positionally ("10", not "1e+01"). */
  double a = fabs(v);
  if (a >= 1 && a < 1e17 && strchr(buf, 'e')) {
    int digits = (int)floor(log10(a)) + 1;
    if (digits > prec && digits <= 17) n = snprintf(buf, cap, "%.*g", digits, v);
  }
  return n;
}

/* ---- I/O procs on plat_* ------------------------------------------------------------------ */

/* State shared by readers and writers: the thandle_t given to libtiff. */
typedef struct gt_io {
  int fd;
  uint64_t pos, size;  /* libtiff's file position; file size (writers: highest byte written) */
  int err;             /* first OS error from a proc, 0 if none */
  const char *err_op;  /* "read" or "write" */
  int discard;         /* writer being aborted: writes are dropped */
  int tag_io_error;    /* libtiff skipped a tag it could not read (file truncated) */
  char path[1024];
  char tiff_msg[512];  /* first libtiff error since the last io_clear */
} gt_io;

static tmsize_t io_read(thandle_t h, void *buf, tmsize_t n) {
  gt_io *io = h;
  size_t got = 0;
  if (n < 0) return -1;
  int e = plat_pread(io->fd, buf, (size_t)n, io->pos, &got);
  if (e) {
    /* Reported as "nothing read", never -1: libtiff 4.5's TIFFReadAndRealloc adds the return
     * value to its count and would then write before its buffer. The OS error wins in io_fail. */
    if (!io->err) { io->err = e; io->err_op = "read"; }
    return 0;
  }
  io->pos += got;
  return (tmsize_t)got;
}
static tmsize_t io_write(thandle_t h, void *buf, tmsize_t n) {
  gt_io *io = h;
  if (n < 0) return -1;
  if (!io->discard) {
    int e = plat_pwrite(io->fd, buf, (size_t)n, io->pos);
    if (e) {
      if (!io->err) { io->err = e; io->err_op = "write"; }
      return 0; /* a short write to libtiff (see io_read) */
    }
  }
  io->pos += (uint64_t)n;
  if (io->pos > io->size) io->size = io->pos;
  return n;
}
static toff_t io_seek(thandle_t h, toff_t off, int whence) {
  gt_io *io = h;
  switch (whence) {
  case SEEK_SET: io->pos = off; break;
  case SEEK_CUR: io->pos += off; break; /* unsigned wrap-around handles negative offsets */
  case SEEK_END: io->pos = io->size + off; break;
  default: return (toff_t)-1;
  }
  return io->pos;
}
static int io_close(thandle_t h) { (void)h; return 0; } /* the fd is closed by our code */
static toff_t io_size(thandle_t h) { return ((gt_io *)h)->size; }
static int io_map(thandle_t h, void **base, toff_t *size) { (void)h; (void)base; (void)size; return 0; }
static void io_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

static int on_tiff_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap) {
  gt_io *io = ud;
  (void)tif; (void)module;
  if (!io->tiff_msg[0]) vsnprintf(io->tiff_msg, sizeof io->tiff_msg, fmt, ap);
  return 1; /* handled: do not call the global handlers */
}
/* Warnings are dropped (unknown tags and other harmless notices must not reach stderr), except
 * that a tag libtiff could not read because the file ends early ("IO error during reading of
 * X; tag ignored") is remembered: gt_open then fails instead of silently losing, say, the
 * georeferencing of a truncated file. */
static int on_tiff_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap) {
  gt_io *io = ud;
  (void)tif; (void)module;
  if (!io->tag_io_error && !strncmp(fmt, "IO error during reading of", 26)) {
    io->tag_io_error = 1;
    vsnprintf(io->tiff_msg, sizeof io->tiff_msg, fmt, ap);
  }
  return 1;
}
static void io_clear(gt_io *io) { io->tiff_msg[0] = 0; }

/* Records the failure of `what` on io's file: an OS error from a proc wins, else libtiff's
 * message (if any) is quoted. */
static int io_fail(cbas_ctx *ctx, gt_io *io, cbas_status st, const char *what) {
  if (io->err)
    return ctx_fail(ctx, CBAS_EIO, "%s: %s failed: %s", io->path, io->err_op, plat_strerror(io->err));
  if (io->tiff_msg[0]) return ctx_fail(ctx, st, "%s: %s: %s", io->path, what, io->tiff_msg);
  return ctx_fail(ctx, st, "%s: %s", io->path, what);
}

static TIFF *io_open(cbas_ctx *ctx, gt_io *io, const char *mode) {
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  if (!opts) { ctx_fail(ctx, CBAS_ENOMEM, "%s: out of memory", io->path); return NULL; }
  /* A corrupt header must not make libtiff allocate more than the run may use. */
  tmsize_t cap = (tmsize_t)(ctx->budget->limit < (8u << 20) ? (8u << 20) : ctx->budget->limit);
  if (sizeof(tmsize_t) < 8 && ctx->budget->limit > 0x40000000u) cap = 0x40000000;
  TIFFOpenOptionsSetMaxSingleMemAlloc(opts, cap);
  TIFFOpenOptionsSetErrorHandlerExtR(opts, on_tiff_error, io);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, on_tiff_warning, io);
  TIFF *tif = TIFFClientOpenExt(io->path, mode, (thandle_t)io, io_read, io_write, io_seek, io_close,
                                io_size, io_map, io_unmap, opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

/* ---- row conversion: one call per row segment, the type switch is outside the pixel loop ---- */

/* Converts n samples s[0], s[ss], s[2ss]... into d[0..n). Returns 1 if a value was NaN, infinite
 * or out of range for an integer destination (that element is set to 0), else 0. */
typedef int (*conv_fn)(const void *s, size_t ss, void *d, size_t n);

#define DEF_CONV(SN, ST, DN, DT)                                                       \
  static int conv_##SN##_##DN(const void *s_, size_t ss, void *d_, size_t n) {         \
    const ST *s = s_;                                                                  \
    DT *d = d_;                                                                        \
    if (ss == 1)                                                                       \
      for (size_t i = 0; i < n; i++) d[i] = (DT)s[i];                                  \
    else                                                                               \
      for (size_t i = 0; i < n; i++) d[i] = (DT)s[i * ss];                             \
    return 0;                                                                          \
  }
#define DEF_CONV_CHECKED(SN, ST, DN, DT, LO, HI)                                       \
  static int conv_##SN##_##DN(const void *s_, size_t ss, void *d_, size_t n) {         \
    const ST *s = s_;                                                                  \
    DT *d = d_;                                                                        \
    int bad = 0;                                                                       \
    for (size_t i = 0; i < n; i++) {                                                   \
      double v = (double)s[i * ss];                                                    \
      if (v >= (LO) && v <= (HI)) d[i] = (DT)v;                                        \
      else { d[i] = 0; bad = 1; }                                                      \
    }                                                                                  \
    return bad;                                                                        \
  }
#define DEF_CONV_TO_INT(DN, DT, LO, HI)                                                \
  DEF_CONV(u8, uint8_t, DN, DT) DEF_CONV(i16, int16_t, DN, DT)                         \
  DEF_CONV(u16, uint16_t, DN, DT) DEF_CONV(i32, int32_t, DN, DT)                       \
  DEF_CONV(u32, uint32_t, DN, DT) DEF_CONV_CHECKED(f32, float, DN, DT, LO, HI)         \
  DEF_CONV_CHECKED(f64, double, DN, DT, LO, HI)
#define DEF_CONV_TO_FLOAT(DN, DT)                                                      \
  DEF_CONV(u8, uint8_t, DN, DT) DEF_CONV(i16, int16_t, DN, DT)                         \
  DEF_CONV(u16, uint16_t, DN, DT) DEF_CONV(i32, int32_t, DN, DT)                       \
  DEF_CONV(u32, uint32_t, DN, DT) DEF_CONV(f32, float, DN, DT) DEF_CONV(f64, double, DN, DT)

DEF_CONV_TO_INT(u8, uint8_t, 0.0, 255.0)
DEF_CONV_TO_INT(i16, int16_t, -32768.0, 32767.0)
DEF_CONV_TO_INT(u16, uint16_t, 0.0, 65535.0)
DEF_CONV_TO_INT(i32, int32_t, -2147483648.0, 2147483647.0)
DEF_CONV_TO_INT(u32, uint32_t, 0.0, 4294967295.0)
DEF_CONV_TO_FLOAT(f32, float)
DEF_CONV_TO_FLOAT(f64, double)

#define CONV_ROW(SN) \
  {conv_##SN##_u8, conv_##SN##_i16, conv_##SN##_u16, conv_##SN##_i32, conv_##SN##_u32, conv_##SN##_f32, conv_##SN##_f64}
/* [source type - 1][destination type - 1], in gt_type order. */
static const conv_fn conv_table[7][7] = {CONV_ROW(u8), CONV_ROW(i16), CONV_ROW(u16), CONV_ROW(i32),
                                         CONV_ROW(u32), CONV_ROW(f32), CONV_ROW(f64)};

static int type_ok(gt_type t) { return t >= GT_U8 && t <= GT_F64; }

/* ---- reader ------------------------------------------------------------------------------- */

struct gt_reader {
  gt_io io;
  TIFF *tif;
  gt_info info;
  const char **desc;       /* bands entries (NULL: none), pointing into desc_text; or NULL */
  char *desc_text;         /* unescaped copy of the GDAL_METADATA text */
  uint32_t samples_per_block_pixel; /* bands if chunky, 1 if planar separate */
  size_t sample_bytes;
  uint32_t blocks_across, blocks_down; /* per plane */
  size_t block_bytes;      /* bytes of one full decoded strip/tile */
  size_t row_bytes;        /* bytes of one row of a block */
  uint8_t *buf;            /* one decoded block (budget) */
  int64_t cached;          /* index of the block in buf, or -1 */
  uint64_t n_decoded;      /* strips/tiles decoded so far */
};

const gt_info *gt_get_info(const gt_reader *r) { return &r->info; }
uint64_t gt_blocks_decoded(const gt_reader *r) { return r->n_decoded; }
const char *gt_path(const gt_reader *r) { return r->io.path; }
const char *gt_band_desc(const gt_reader *r, uint32_t band) {
  if (!r->desc || band >= r->info.bands) return NULL;
  return r->desc[band];
}

static const char *compression_name(int c) {
  switch (c) {
  case COMPRESSION_NONE: return "none";
  case COMPRESSION_LZW: return "LZW";
  case COMPRESSION_ADOBE_DEFLATE: case COMPRESSION_DEFLATE: return "deflate";
  case COMPRESSION_JPEG: case COMPRESSION_OJPEG: return "JPEG";
  case COMPRESSION_PACKBITS: return "PackBits";
  case COMPRESSION_CCITTRLE: case COMPRESSION_CCITTFAX3: case COMPRESSION_CCITTFAX4: return "CCITT";
  case COMPRESSION_LZMA: return "LZMA";
  case COMPRESSION_ZSTD: return "ZSTD";
  case COMPRESSION_WEBP: return "WEBP";
  case COMPRESSION_LERC: return "LERC";
  case COMPRESSION_JBIG: return "JBIG";
  }
  return "unknown";
}
const char *gt_compression_name(int compression) { return compression_name(compression); }

/* The value of an XML attribute name="..." inside [tag, end), copied into out. */
static int xml_attr(const char *tag, const char *end, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = tag; p + nl + 2 < end; p++) {
    if ((p == tag || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n') && !strncmp(p, name, nl) &&
        p[nl] == '=' && p[nl + 1] == '"') {
      const char *v = p + nl + 2, *q = v;
      while (q < end && *q != '"') q++;
      if (q >= end) return 0;
      size_t n = (size_t)(q - v);
      if (n >= cap) n = cap - 1;
      memcpy(out, v, n);
      out[n] = 0;
      return 1;
    }
  }
  return 0;
}
/* Decodes the XML entities of [s, e) into out (never longer than the input, so out may be s:
 * in place); returns out. */
static char *xml_unescape(const char *s, const char *e, char *out) {
  static const struct { const char *ent; char c; } ents[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  char *o = out;
  while (s < e) {
    if (*s == '&') {
      int done = 0;
      for (size_t k = 0; k < sizeof ents / sizeof ents[0] && !done; k++) {
        size_t l = strlen(ents[k].ent);
        if ((size_t)(e - s) >= l && !strncmp(s, ents[k].ent, l)) { *o++ = ents[k].c; s += l; done = 1; }
      }
      if (!done && s + 2 < e && s[1] == '#') {
        const char *q = s + 2;
        unsigned long c = 0;
        int hex = (*q == 'x');
        if (hex) q++;
        while (q < e && *q != ';' && q - s < 10) {
          int dgt = (*q >= '0' && *q <= '9') ? *q - '0'
                    : hex && (*q | 32) >= 'a' && (*q | 32) <= 'f' ? (*q | 32) - 'a' + 10 : -1;
          if (dgt < 0) break;
          c = c * (hex ? 16 : 10) + (unsigned long)dgt;
          q++;
        }
        if (q < e && *q == ';' && c > 0 && c < 128) { *o++ = (char)c; s = q + 1; done = 1; }
      }
      if (done) continue;
    }
    *o++ = *s++;
  }
  *o = 0;
  return out;
}

/* Band descriptions from GDAL_METADATA:
 * <Item name="DESCRIPTION" sample="N" role="description">text</Item>. */
static int read_descriptions(cbas_ctx *ctx, gt_reader *r) {
  const char *xml = NULL;
  if (!TIFFGetField(r->tif, TAG_GDAL_METADATA, &xml) || !xml) return 0;
  size_t len = strlen(xml);
  char what[1100];
  snprintf(what, sizeof what, "%s: band descriptions", r->io.path);
  r->desc_text = budget_alloc(ctx, len + 1, what);
  if (!r->desc_text) return ctx->status;
  char *out = r->desc_text;
  const char *p = xml, *end = xml + len;
  while ((p = strstr(p, "<Item")) != NULL) {
    const char *gt = strchr(p, '>');
    if (!gt) break;
    const char *close = strstr(gt, "</Item>");
    if (!close) break;
    char name[32], role[32], sample[32];
    if (gt[-1] != '/' && xml_attr(p, gt, "name", name, sizeof name) && !strcmp(name, "DESCRIPTION") &&
        xml_attr(p, gt, "role", role, sizeof role) && !strcmp(role, "description") &&
        xml_attr(p, gt, "sample", sample, sizeof sample)) {
      char *e;
      unsigned long b = strtoul(sample, &e, 10);
      if (e != sample && !*e && b < r->info.bands) {
        if (!r->desc) {
          snprintf(what, sizeof what, "%s: band description table", r->io.path);
          r->desc = budget_calloc(ctx, r->info.bands, sizeof *r->desc, what);
          if (!r->desc) return ctx->status;
        }
        /* GDAL escapes item values twice (see xml_escape2) and unescapes them twice. */
        r->desc[b] = xml_unescape(gt + 1, close, out);
        xml_unescape(out, out + strlen(out), out);
        out += strlen(out) + 1;
      }
    }
    p = close + 7;
    if (p > end) break;
  }
  if (!r->desc) { /* metadata without descriptions: nothing to keep */
    budget_free(ctx, r->desc_text);
    r->desc_text = NULL;
  }
  return 0;
}

/* Geotransform, raster type and EPSG code (see gt_geo); as GDAL reads them by default. */
static void read_geo(gt_reader *r) {
  gt_geo *g = &r->info.geo;
  TIFF *tif = r->tif;
  uint32_t n = 0;
  uint16_t *keys = NULL;
  memset(g, 0, sizeof *g);
  if (TIFFGetField(tif, TAG_GEO_KEY_DIRECTORY, &n, &keys) && keys && n >= 4) {
    uint32_t n_keys = keys[3];
    if ((uint64_t)n_keys * 4 + 4 > n) n_keys = (n - 4) / 4;
    int geographic = 0, projected = 0;
    for (uint32_t k = 0; k < n_keys; k++) {
      const uint16_t *e = keys + 4 + 4 * k;
      if (e[1] != 0 || e[2] != 1) continue; /* only keys stored inline as one SHORT */
      if (e[0] == KEY_RASTER_TYPE) g->pixel_is_point = e[3] == RASTER_PIXEL_IS_POINT;
      else if (e[0] == KEY_GEOGRAPHIC_TYPE) geographic = e[3];
      else if (e[0] == KEY_PROJECTED_CS_TYPE) projected = e[3];
    }
    if (projected > 0 && projected != KEY_USER_DEFINED) g->epsg = projected;
    else if (geographic > 0 && geographic != KEY_USER_DEFINED) g->epsg = geographic;
  }
  double *scale = NULL, *tie = NULL, *mat = NULL;
  uint32_t n_scale = 0, n_tie = 0, n_mat = 0;
  int has_scale = TIFFGetField(tif, TAG_MODEL_PIXEL_SCALE, &n_scale, &scale) && scale && n_scale >= 2 &&
                  scale[0] != 0 && scale[1] != 0;
  int has_tie = TIFFGetField(tif, TAG_MODEL_TIEPOINT, &n_tie, &tie) && tie && n_tie >= 6;
  if (has_scale && has_tie) {
    g->gt[1] = scale[0];
    /* GDAL's default for a negative ScaleY: assume the file was meant to be north-up. */
    g->gt[5] = scale[1] < 0 ? scale[1] : -scale[1];
    g->gt[0] = tie[3] - tie[0] * g->gt[1];
    g->gt[3] = tie[4] - tie[1] * g->gt[5];
    g->has_gt = 1;
  } else if (TIFFGetField(tif, TAG_MODEL_TRANSFORMATION, &n_mat, &mat) && mat && n_mat == 16) {
    g->gt[0] = mat[3];
    g->gt[1] = mat[0];
    g->gt[2] = mat[1];
    g->gt[3] = mat[7];
    g->gt[4] = mat[4];
    g->gt[5] = mat[5];
    g->has_gt = 1;
  }
  if (g->has_gt && g->pixel_is_point) {
    /* The model point is the pixel centre; GDAL moves the origin to the outer corner. */
    g->gt[0] -= 0.5 * g->gt[1] + 0.5 * g->gt[2];
    g->gt[3] -= 0.5 * g->gt[4] + 0.5 * g->gt[5];
  }
}

static void read_nodata(gt_reader *r) {
  const char *s = NULL;
  if (!TIFFGetField(r->tif, TAG_GDAL_NODATA, &s) || !s) return;
  while (*s == ' ') s++;
  char *end;
  double v = strtod(s, &end);
  if (end == s) return;
  while (*end == ' ') end++;
  if (*end) return;
  r->info.has_nodata = 1;
  r->info.nodata = v;
}

/* Fills r->info from the first directory and checks that the layout is one we can read. */
static int read_layout(cbas_ctx *ctx, gt_reader *r) {
  TIFF *tif = r->tif;
  gt_info *in = &r->info;
  const char *path = r->io.path;
  uint32_t w = 0, h = 0;
  uint16_t spp = 1, bps = 1, sf = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, comp = 1, pred = 1, photo = 1;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h) || !w || !h)
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: missing or zero image size", path);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &sf);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
  TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
  in->width = w;
  in->height = h;
  in->bands = spp;
  in->compression = comp;
  if (comp != COMPRESSION_NONE && comp != COMPRESSION_LZW && comp != COMPRESSION_ADOBE_DEFLATE &&
      comp != COMPRESSION_DEFLATE)
    return ctx_fail(ctx, CBAS_EUNSUP, "%s: %s compression (%d) is not supported (use none, deflate or LZW)",
                    path, compression_name(comp), comp);
  if (comp != COMPRESSION_NONE) TIFFGetFieldDefaulted(tif, TIFFTAG_PREDICTOR, &pred);
  if (pred < 1 || pred > 3) return ctx_fail(ctx, CBAS_EUNSUP, "%s: predictor %d is not supported", path, pred);
  in->predictor = pred;
  if (spp < 1) return ctx_fail(ctx, CBAS_EFORMAT, "%s: zero samples per pixel", path);
  if (sf == SAMPLEFORMAT_COMPLEXINT || sf == SAMPLEFORMAT_COMPLEXIEEEFP)
    return ctx_fail(ctx, CBAS_EUNSUP, "%s: complex samples are not supported", path);
  gt_type t = 0;
  if ((sf == SAMPLEFORMAT_UINT || sf == SAMPLEFORMAT_VOID) && bps == 8) t = GT_U8;
  else if (sf == SAMPLEFORMAT_UINT && bps == 16) t = GT_U16;
  else if (sf == SAMPLEFORMAT_UINT && bps == 32) t = GT_U32;
  else if (sf == SAMPLEFORMAT_INT && bps == 16) t = GT_I16;
  else if (sf == SAMPLEFORMAT_INT && bps == 32) t = GT_I32;
  else if (sf == SAMPLEFORMAT_IEEEFP && bps == 32) t = GT_F32;
  else if (sf == SAMPLEFORMAT_IEEEFP && bps == 64) t = GT_F64;
  if (!t)
    return ctx_fail(ctx, CBAS_EUNSUP, "%s: %d-bit %s samples are not supported", path, bps,
                    sf == SAMPLEFORMAT_INT ? "signed integer" : sf == SAMPLEFORMAT_IEEEFP ? "floating-point"
                                                                                          : "unsigned integer");
  if (photo == PHOTOMETRIC_YCBCR || photo == PHOTOMETRIC_LOGL || photo == PHOTOMETRIC_LOGLUV)
    return ctx_fail(ctx, CBAS_EUNSUP, "%s: photometric interpretation %d is not supported", path, photo);
  in->type = t;
  in->planar_separate = spp > 1 && planar == PLANARCONFIG_SEPARATE;
  r->sample_bytes = gt_type_size(t);
  r->samples_per_block_pixel = in->planar_separate ? 1 : spp;
  in->tiled = TIFFIsTiled(tif);
  uint64_t expect;
  uint32_t n_blocks;
  if (in->tiled) {
    uint32_t tw = 0, th = 0;
    if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th) || !tw || !th)
      return ctx_fail(ctx, CBAS_EFORMAT, "%s: missing or zero tile size", path);
    in->block_w = tw;
    in->block_h = th;
    expect = (uint64_t)tw * th * r->samples_per_block_pixel * r->sample_bytes;
    if ((uint64_t)TIFFTileSize64(tif) != expect)
      return ctx_fail(ctx, CBAS_EUNSUP, "%s: unsupported tile layout", path);
    n_blocks = TIFFNumberOfTiles(tif);
  } else {
    uint32_t rps = 0;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (!rps || rps > h) rps = h;
    in->block_w = w;
    in->block_h = rps;
    expect = (uint64_t)w * rps * r->samples_per_block_pixel * r->sample_bytes;
    if ((uint64_t)TIFFVStripSize64(tif, rps) != expect)
      return ctx_fail(ctx, CBAS_EUNSUP, "%s: unsupported strip layout", path);
    n_blocks = TIFFNumberOfStrips(tif);
  }
  r->blocks_across = (uint32_t)(((uint64_t)w + in->block_w - 1) / in->block_w);
  r->blocks_down = (uint32_t)(((uint64_t)h + in->block_h - 1) / in->block_h);
  uint64_t want = (uint64_t)r->blocks_across * r->blocks_down * (in->planar_separate ? spp : 1);
  if (want != n_blocks)
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: %u %s, expected %llu", path, n_blocks, in->tiled ? "tiles" : "strips",
                    (unsigned long long)want);
  if (expect > SIZE_MAX / 2)
    return ctx_fail(ctx, CBAS_EBUDGET, "%s: a %s of %llu bytes is too large", path, in->tiled ? "tile" : "strip",
                    (unsigned long long)expect);
  r->block_bytes = (size_t)expect;
  r->row_bytes = (size_t)in->block_w * r->samples_per_block_pixel * r->sample_bytes;
  return 0;
}

int gt_open(cbas_ctx *ctx, const char *path, gt_reader **out) {
  *out = NULL;
  gt_global_init();
  if (strlen(path) >= sizeof(((gt_io *)0)->path))
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", path);
  char what[1100];
  snprintf(what, sizeof what, "%s: reader", path);
  gt_reader *r = budget_calloc(ctx, 1, sizeof *r, what);
  if (!r) return ctx->status;
  r->io.fd = -1;
  r->cached = -1;
  snprintf(r->io.path, sizeof r->io.path, "%s", path);
  int e = plat_open(path, PLAT_RDONLY, &r->io.fd);
  if (e) {
    r->io.fd = -1;
    gt_close(ctx, r);
    return ctx_fail(ctx, CBAS_EIO, "%s: cannot open: %s", path, plat_strerror(e));
  }
  e = plat_fsize(r->io.fd, &r->io.size);
  if (e) {
    ctx_fail(ctx, CBAS_EIO, "%s: cannot get size: %s", path, plat_strerror(e));
    gt_close(ctx, r);
    return ctx->status;
  }
  if (r->io.size == 0) {
    gt_close(ctx, r);
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: empty file, not a TIFF", path);
  }
  /* "m": no memory mapping. Strip/tile offsets are loaded here, not on demand ("O"): with
   * on-demand loading a read error while fetching them would stay cached as a zero offset. */
  r->tif = io_open(ctx, &r->io, "rm");
  if (!r->tif) {
    io_fail(ctx, &r->io, CBAS_EFORMAT, "not a readable TIFF file");
    gt_close(ctx, r);
    return ctx->status;
  }
  if (r->io.tag_io_error) {
    io_fail(ctx, &r->io, CBAS_EFORMAT, "truncated or unreadable TIFF directory");
    gt_close(ctx, r);
    return ctx->status;
  }
  if (read_layout(ctx, r) || read_descriptions(ctx, r)) {
    gt_close(ctx, r);
    return ctx->status;
  }
  read_geo(r);
  read_nodata(r);
  snprintf(what, sizeof what, "%s: one decoded %s", path, r->info.tiled ? "tile" : "strip");
  r->buf = budget_alloc(ctx, r->block_bytes, what);
  if (!r->buf) {
    gt_close(ctx, r);
    return ctx->status;
  }
  *out = r;
  return 0;
}

void gt_close(cbas_ctx *ctx, gt_reader *r) {
  if (!r) return;
  if (r->tif) TIFFClose(r->tif);
  if (r->io.fd >= 0) plat_close(r->io.fd);
  budget_free(ctx, r->buf);
  budget_free(ctx, r->desc);
  budget_free(ctx, r->desc_text);
  budget_free(ctx, r);
}

/* Makes r->buf hold block idx (decoding it unless it is the cached one). */
static int load_block(cbas_ctx *ctx, gt_reader *r, uint32_t idx, uint32_t rows) {
  if (r->cached == (int64_t)idx) return 0;
  r->cached = -1;
  io_clear(&r->io);
  r->io.err = 0;
  tmsize_t got = r->info.tiled ? TIFFReadEncodedTile(r->tif, idx, r->buf, (tmsize_t)r->block_bytes)
                               : TIFFReadEncodedStrip(r->tif, idx, r->buf, (tmsize_t)r->block_bytes);
  r->n_decoded++;
  size_t need = r->info.tiled ? r->block_bytes : (size_t)rows * r->row_bytes;
  if (got >= 0 && (size_t)got >= need) {
    r->cached = idx;
    return 0;
  }
  char what[64];
  snprintf(what, sizeof what, "cannot decode %s %u", r->info.tiled ? "tile" : "strip", idx);
  if (got < 0) return io_fail(ctx, &r->io, CBAS_EFORMAT, what);
  return ctx_fail(ctx, CBAS_EFORMAT, "%s: %s: %lld bytes decoded, %zu expected", r->io.path, what, (long long)got,
                  need);
}

int gt_read(cbas_ctx *ctx, gt_reader *r, uint32_t band, uint32_t x0, uint32_t y0, uint32_t nx, uint32_t ny,
            gt_type dst_type, void *dst, size_t dst_stride) {
  const gt_info *in = &r->info;
  if (band >= in->bands)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: band %u requested, the file has %u", r->io.path, band + 1, in->bands);
  if ((uint64_t)x0 + nx > in->width || (uint64_t)y0 + ny > in->height)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: window x %u..%llu, y %u..%llu outside the %u x %u raster", r->io.path,
                    x0, (unsigned long long)x0 + nx, y0, (unsigned long long)y0 + ny, in->width, in->height);
  if (!type_ok(dst_type)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: bad destination type %d", r->io.path, (int)dst_type);
  if (nx == 0 || ny == 0) return 0;
  if (dst_stride < nx) return ctx_fail(ctx, CBAS_EUSAGE, "%s: destination stride %zu < window width %u", r->io.path, dst_stride, nx);
  conv_fn conv = conv_table[in->type - 1][dst_type - 1];
  size_t dsz = gt_type_size(dst_type), spp = r->samples_per_block_pixel, es = r->sample_bytes;
  uint32_t plane = in->planar_separate ? band : 0;
  size_t band_off = in->planar_separate ? 0 : (size_t)band * es;
  uint32_t bw = in->block_w, bh = in->block_h;
  uint32_t by0 = y0 / bh, by1 = (uint32_t)(((uint64_t)y0 + ny - 1) / bh);
  uint32_t bx0 = x0 / bw, bx1 = (uint32_t)(((uint64_t)x0 + nx - 1) / bw);
  uint64_t per_plane = (uint64_t)r->blocks_across * r->blocks_down;
  int bad = 0;
  for (uint32_t by = by0; by <= by1; by++) {
    uint64_t top = (uint64_t)by * bh;
    uint32_t ys = (uint32_t)(top > y0 ? top : y0);
    uint32_t ye = (uint32_t)(top + bh < (uint64_t)y0 + ny ? top + bh : (uint64_t)y0 + ny);
    uint32_t rows_in_block = (uint32_t)(top + bh <= in->height ? bh : in->height - top);
    for (uint32_t bx = bx0; bx <= bx1; bx++) {
      uint64_t left = (uint64_t)bx * bw;
      uint32_t xs = (uint32_t)(left > x0 ? left : x0);
      uint32_t xe = (uint32_t)(left + bw < (uint64_t)x0 + nx ? left + bw : (uint64_t)x0 + nx);
      uint32_t idx = (uint32_t)(plane * per_plane + (uint64_t)by * r->blocks_across + bx);
      if (load_block(ctx, r, idx, rows_in_block)) return ctx->status;
      for (uint32_t y = ys; y < ye; y++) {
        const uint8_t *s = r->buf + (size_t)(y - top) * r->row_bytes + (size_t)(xs - left) * spp * es + band_off;
        uint8_t *d = (uint8_t *)dst + ((size_t)(y - y0) * dst_stride + (xs - x0)) * dsz;
        if (in->type == dst_type && spp == 1) memcpy(d, s, (size_t)(xe - xs) * dsz);
        else bad |= conv(s, spp, d, xe - xs);
      }
    }
  }
  if (bad)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: band %u has NaN, infinite or out-of-range values for %s", r->io.path,
                    band + 1, gt_type_name(dst_type));
  return 0;
}

/* ---- writer ------------------------------------------------------------------------------- */

struct gt_writer {
  gt_io io;
  afile af;
  TIFF *tif;
  uint32_t width, height, bands, rps;
  gt_type type;
  size_t sample_bytes, row_bytes;
  uint32_t rows_done, rows_in_buf, strip;
  int failed;
  uint8_t *buf; /* one strip of pixel-interleaved rows (budget) */
  /* Own encoder (NULL/0 with legacy_encode): */
  z_stream zs;       /* its deflate state (~262 KiB) is zlib's own allocation: see gt_create */
  int z_ready;        /* deflateInit succeeded: deflateEnd is due */
  uint8_t *out;       /* deflated bytes, out_cap at a time (budget) */
  uint8_t *scratch;   /* float32: one row of byte planes, while predicting; = out */
  size_t out_cap;
  int level;          /* deflate level (workers of encode_parallel use it too) */
  int strategy;       /* Z_DEFAULT_STRATEGY or Z_RLE (gt_wopts.zrle), likewise */
  int split;          /* gt_wopts.zsplit: zs is a raw deflate stream, strips are framed by
                         deflate_split (incompressible byte planes stored) */
};

/* Appends s to o (capacity cap) with XML specials escaped twice, as GDAL writes item values
 * (CPLEscapeString, then the XML serializer): '&' becomes "&amp;amp;". Returns the length the
 * escaped text needs (o may be NULL to measure). */
static size_t xml_escape2(char *o, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s; s++) {
    const char *rep;
    char one[2] = {*s, 0};
    switch (*s) {
    case '&': rep = "&amp;amp;"; break;
    case '<': rep = "&amp;lt;"; break;
    case '>': rep = "&amp;gt;"; break;
    case '"': rep = "&amp;quot;"; break;
    default: rep = one;
    }
    size_t l = strlen(rep);
    if (o && n + l < cap) memcpy(o + n, rep, l);
    n += l;
  }
  return n;
}

/* GDAL_METADATA text with one DESCRIPTION item per band, exactly as GDAL writes it, in *out:
 * a budget block the caller frees, or NULL when there is no description. Returns 0 or a status. */
static int build_metadata(cbas_ctx *ctx, const gt_wopts *o, const char *path, char **out) {
  *out = NULL;
  if (!o->band_desc) return 0;
  static const char head[] = "<GDALMetadata>\n", tail[] = "</GDALMetadata>\n";
  size_t need = sizeof head + sizeof tail;
  int any = 0;
  for (uint32_t b = 0; b < o->bands; b++) {
    if (!o->band_desc[b] || !o->band_desc[b][0]) continue;
    any = 1;
    need += 80 + xml_escape2(NULL, 0, o->band_desc[b]);
  }
  if (!any) return 0;
  char what[1100];
  snprintf(what, sizeof what, "%s: band descriptions", path);
  char *x = budget_alloc(ctx, need, what);
  if (!x) return ctx->status;
  size_t n = (size_t)snprintf(x, need, "%s", head);
  for (uint32_t b = 0; b < o->bands; b++) {
    if (!o->band_desc[b] || !o->band_desc[b][0]) continue;
    n += (size_t)snprintf(x + n, need - n, "  <Item name=\"DESCRIPTION\" sample=\"%u\" role=\"description\">", b);
    n += xml_escape2(x + n, need - n, o->band_desc[b]);
    n += (size_t)snprintf(x + n, need - n, "</Item>\n");
  }
  snprintf(x + n, need - n, "%s", tail);
  *out = x;
  return 0;
}

static int set_geo_tags(TIFF *tif, const gt_geo *g) {
  int ok = 1;
  if (g->gt[2] == 0 && g->gt[4] == 0) {
    double scale[3] = {g->gt[1], -g->gt[5], 0};
    double tie[6] = {0, 0, 0, g->gt[0], g->gt[3], 0};
    ok &= TIFFSetField(tif, TAG_MODEL_PIXEL_SCALE, (uint32_t)3, scale);
    ok &= TIFFSetField(tif, TAG_MODEL_TIEPOINT, (uint32_t)6, tie);
  } else {
    double m[16] = {g->gt[1], g->gt[2], 0, g->gt[0], g->gt[4], g->gt[5], 0, g->gt[3], 0, 0, 0, 0, 0, 0, 0, 1};
    ok &= TIFFSetField(tif, TAG_MODEL_TRANSFORMATION, (uint32_t)16, m);
  }
  /* EPSG:4326 as GDAL 3 writes it: geographic model, PixelIsArea, WGS 84 with its citation,
   * degrees, and the ellipsoid parameters in GeoDoubleParams. */
  uint16_t keys[] = {1, 1, 0, 7,
                     KEY_MODEL_TYPE, 0, 1, 2,
                     KEY_RASTER_TYPE, 0, 1, 1,
                     KEY_GEOGRAPHIC_TYPE, 0, 1, 4326,
                     KEY_GEOG_CITATION, TAG_GEO_ASCII_PARAMS, 7, 0,
                     KEY_GEOG_ANGULAR_UNITS, 0, 1, 9102,
                     KEY_GEOG_SEMI_MAJOR_AXIS, TAG_GEO_DOUBLE_PARAMS, 1, 1,
                     KEY_GEOG_INV_FLATTENING, TAG_GEO_DOUBLE_PARAMS, 1, 0};
  double dparams[2] = {298.257223563, 6378137.0};
  ok &= TIFFSetField(tif, TAG_GEO_KEY_DIRECTORY, (uint32_t)(sizeof keys / sizeof keys[0]), keys);
  ok &= TIFFSetField(tif, TAG_GEO_DOUBLE_PARAMS, (uint32_t)2, dparams);
  ok &= TIFFSetField(tif, TAG_GEO_ASCII_PARAMS, "WGS 84|");
  return ok;
}

/* Sets up the writer's own encoder: the z_stream (deflateInit2(level, windowBits 15, memLevel
 * 8, strategy): with the default strategy exactly as libtiff's ZIPSetupEncode) and one budget block of
 * max(out_cap, float32 row) bytes: the output window, out_cap = min(deflateBound(strip),
 * GT_DEFLATE_OUT_CAP), which is also the byte-plane row of pred_f32_row. */
/* Upper bound of a split-framed strip of S bytes in n_seg segments (deflate_split): zlib header
 * and Adler-32, the final empty stored block, per segment a full flush (<= 5 bytes) or a
 * stored block header (5 bytes), per 16 KiB of input zlib's own stored-block fallback (5
 * bytes) and of a stored run a further header per 64 KiB. */
static size_t split_bound(size_t S, size_t n_seg) { return S + 16 + 10 * n_seg + 10 * (S / 16384 + 1); }
static size_t strip_segments(const gt_writer *w) { return (size_t)w->rps * 4; }

static int encoder_init(cbas_ctx *ctx, gt_writer *w, int level, int strategy, const char *path) {
  /* zlib allocates the deflate state itself (zalloc = Z_NULL), once per writer, outside the
   * budget like libtiff's codec state before it: callers size their row blocks from
   * budget_avail() and count a writer as its strip (tests run writers under 0.3 MB budgets). */
  w->zs.zalloc = Z_NULL;
  w->zs.zfree = Z_NULL;
  w->zs.opaque = Z_NULL;
  int zr = deflateInit2(&w->zs, level, Z_DEFLATED, w->split ? -15 : 15, 8, strategy);
  if (zr != Z_OK) {
    return ctx_fail(ctx, zr == Z_MEM_ERROR ? CBAS_ENOMEM : CBAS_EINTERNAL, "%s: deflateInit failed (%d)", path, zr);
  }
  w->z_ready = 1;
  w->level = level;
  w->strategy = strategy;
  size_t S = w->row_bytes * w->rps;
  uLong bound = w->split ? (uLong)split_bound(S, strip_segments(w)) : deflateBound(&w->zs, (uLong)S);
  w->out_cap = bound < GT_DEFLATE_OUT_CAP ? (size_t)bound : GT_DEFLATE_OUT_CAP;
  /* The float32 byte-plane row is only used before deflating starts: it shares the block. */
  size_t bytes = w->type == GT_F32 && w->row_bytes > w->out_cap ? w->row_bytes : w->out_cap;
  char what[1100];
  snprintf(what, sizeof what, "%s: deflate output", path);
  w->out = budget_alloc(ctx, bytes, what);
  if (!w->out) return ctx->status;
  w->scratch = w->out;
  return 0;
}

int gt_create(cbas_ctx *ctx, const char *path, const gt_wopts *o, gt_writer **out) {
  *out = NULL;
  gt_global_init();
  if (!o->width || !o->height || !o->bands || o->bands > 65535)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: bad raster size %u x %u x %u bands", path, o->width, o->height, o->bands);
  if (o->type != GT_F32 && o->type != GT_U8)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: can only write float32 or uint8, not %s", path, gt_type_name(o->type));
  if (o->zlevel < 0 || o->zlevel > 9) return ctx_fail(ctx, CBAS_EUSAGE, "%s: deflate level %d not in 1..9", path, o->zlevel);
  if ((o->zrle || o->zsplit) && o->legacy_encode)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: Z_RLE and split planes need the writer's own encoder", path);
  if (o->zsplit && o->type != GT_F32) return ctx_fail(ctx, CBAS_EUSAGE, "%s: split planes are for float32", path);
  if (o->geo.has_gt && o->geo.epsg != 0 && o->geo.epsg != 4326)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: only EPSG:4326 can be written, not EPSG:%d", path, o->geo.epsg);
  size_t es = gt_type_size(o->type);
  uint64_t row_bytes = (uint64_t)o->width * o->bands * es;
  uint32_t rps = o->rows_per_strip;
  if (!rps) rps = row_bytes >= 8192 ? 1 : (uint32_t)(8192 / row_bytes);
  if (rps > o->height) rps = o->height;
  if (row_bytes * rps > SIZE_MAX / 2)
    return ctx_fail(ctx, CBAS_EBUDGET, "%s: a strip of %llu bytes is too large", path,
                    (unsigned long long)(row_bytes * rps));
  char what[1100];
  snprintf(what, sizeof what, "%s: writer", path);
  gt_writer *w = budget_calloc(ctx, 1, sizeof *w, what);
  if (!w) return ctx->status;
  w->af.fd = -1;
  w->width = o->width;
  w->height = o->height;
  w->bands = o->bands;
  w->type = o->type;
  w->rps = rps;
  w->split = o->zsplit != 0;
  w->sample_bytes = es;
  w->row_bytes = (size_t)row_bytes;
  snprintf(what, sizeof what, "%s: one strip", path);
  w->buf = budget_alloc(ctx, w->row_bytes * rps, what);
  if (!w->buf) { gt_abort(ctx, w); return ctx->status; }
  snprintf(w->io.path, sizeof w->io.path, "%s", path);
  if (!o->legacy_encode && encoder_init(ctx, w, o->zlevel ? o->zlevel : GT_DEFAULT_ZLEVEL,
                                        o->zrle ? Z_RLE : Z_DEFAULT_STRATEGY, path)) { gt_abort(ctx, w); return ctx->status; }
  if (afile_open(ctx, &w->af, path)) { gt_abort(ctx, w); return ctx->status; }
  w->io.fd = w->af.fd;
  /* BigTIFF when the uncompressed data alone would not fit the 4 GiB offsets of classic TIFF
   * (like GDAL's BIGTIFF=IF_NEEDED). */
  int big = row_bytes * o->height > 4000000000ull;
  w->tif = io_open(ctx, &w->io, big ? "w8m" : "wm");
  if (!w->tif) {
    io_fail(ctx, &w->io, CBAS_EIO, "cannot create TIFF");
    gt_abort(ctx, w);
    return ctx->status;
  }
  TIFF *tif = w->tif;
  int ok = 1;
  ok &= TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, o->width);
  ok &= TIFFSetField(tif, TIFFTAG_IMAGELENGTH, o->height);
  ok &= TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (int)(8 * es));
  ok &= TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (int)o->bands);
  ok &= TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, o->type == GT_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
  ok &= TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  ok &= TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
  ok &= TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rps);
  ok &= TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
  ok &= TIFFSetField(tif, TIFFTAG_PREDICTOR, o->type == GT_F32 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
  ok &= TIFFSetField(tif, TIFFTAG_ZIPQUALITY, o->zlevel ? o->zlevel : GT_DEFAULT_ZLEVEL);
  if (o->bands > 1) {
    uint16_t *extra = budget_calloc(ctx, o->bands - 1, sizeof *extra, what);
    if (!extra) { gt_abort(ctx, w); return ctx->status; }
    ok &= TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)(o->bands - 1), extra); /* unspecified */
    budget_free(ctx, extra);
  }
  if (o->geo.has_gt) ok &= set_geo_tags(tif, &o->geo);
  if (o->has_nodata) {
    char nd[64];
    gt_format_double(nd, sizeof nd, o->nodata);
    ok &= TIFFSetField(tif, TAG_GDAL_NODATA, nd);
  }
  char *md;
  if (build_metadata(ctx, o, path, &md)) { gt_abort(ctx, w); return ctx->status; }
  if (md) {
    ok &= TIFFSetField(tif, TAG_GDAL_METADATA, md);
    budget_free(ctx, md);
  }
  if (!ok) {
    io_fail(ctx, &w->io, CBAS_EINTERNAL, "cannot set TIFF tags");
    gt_abort(ctx, w);
    return ctx->status;
  }
  *out = w;
  return 0;
}

/* Horizontal differencing of one row of uint8 samples in place, as libtiff's horDiff8:
 * row[i] -= row[i - stride] (mod 256) for i >= stride, stride = samples per pixel. */
static void pred_u8_row(uint8_t *row, size_t n, size_t stride) {
  for (size_t i = n; i-- > stride;) row[i] = (uint8_t)(row[i] - row[i - stride]);
}

/* Floating-point predictor on one row of n float32 samples in place, as libtiff's fpDiff: the
 * samples' bytes are regrouped into 4 planes, most significant byte first (plane p holds byte
 * 3-p of every sample in order; independent of the host's byte order), then the planes, as one
 * sequence of 4n bytes, are differenced with stride = samples per pixel. tmp holds 4n bytes. */
static void pred_f32_row(uint8_t *row, size_t n, size_t stride, uint8_t *tmp) {
  uint8_t *p0 = tmp, *p1 = tmp + n, *p2 = tmp + 2 * n, *p3 = tmp + 3 * n;
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, row + 4 * i, 4);
    p0[i] = (uint8_t)(u >> 24);
    p1[i] = (uint8_t)(u >> 16);
    p2[i] = (uint8_t)(u >> 8);
    p3[i] = (uint8_t)u;
  }
  size_t nb = 4 * n;
  memcpy(row, tmp, stride);
  for (size_t i = stride; i < nb; i++) row[i] = (uint8_t)(tmp[i] - tmp[i - stride]);
}

/* Deflates len bytes of in with zs (already reset) into the window [out, out + cap), fed as
 * libtiff's ZIPEncode (Z_NO_FLUSH until the input is consumed) and finished as ZIPPostEncode
 * (Z_FINISH until Z_STREAM_END). With w, a full window is appended to strip w->strip with
 * TIFFWriteRawStrip and emptied, and so is the last part; without w (a worker of
 * encode_parallel) the window must hold the whole stream and *out_len gets its length. Zlib's
 * output does not depend on how the output is windowed, so both give the same bytes.
 * Returns 0, -1 if writing failed (not yet reported), or a zlib error code (> 0). */
static int deflate_strip(z_stream *zs, uint8_t *in, size_t len, uint8_t *out, size_t cap, gt_writer *w,
                         size_t *out_len) {
  zs->next_out = out;
  zs->avail_out = (uInt)cap;
  zs->next_in = in;
  for (int finish = 0;; finish = 1) {
    while (finish || len > 0) {
      uInt chunk = finish ? 0 : len <= 0xFFFFFFFFu ? (uInt)len : 0xFFFFFFFFu;
      if (!finish) zs->avail_in = chunk;
      int zr = deflate(zs, finish ? Z_FINISH : Z_NO_FLUSH);
      if (zr != Z_OK && !(finish && zr == Z_STREAM_END)) return zr == Z_STREAM_END ? -Z_STREAM_ERROR : zr < 0 ? -zr : zr;
      if (!finish) len -= chunk - zs->avail_in;
      if ((zs->avail_out == 0 || (finish && zr == Z_STREAM_END)) && w) {
        tmsize_t n = (tmsize_t)(cap - zs->avail_out);
        if (n && TIFFWriteRawStrip(w->tif, w->strip, out, n) != n) return -1;
        zs->next_out = out;
        zs->avail_out = (uInt)cap;
      }
      if (finish && zr == Z_STREAM_END) {
        if (out_len) *out_len = cap - zs->avail_out;
        return 0;
      }
      if (zs->avail_out == 0) return -Z_BUF_ERROR; /* no w: the window was too small */
    }
  }
}

/* ---- split framing: the byte planes of float32 rows, deflated or stored --------------------
 * With the floating-point predictor a row of n samples becomes 4 planes of n bytes, most
 * significant first. Only the first (sign and high exponent bits, long runs) deflates; the
 * others hold the mantissa of noisy float32 data, which never shrinks, yet deflating them is
 * three quarters of the work, and inflating them three quarters of a read. deflate_split
 * frames a strip as one zlib stream in which each plane whose bytes look compressible (order-0
 * entropy below 7.6 bits a byte: storing then loses at most 5 %) is deflated by the raw stream
 * zs (Z_RLE) and ended with a full flush (byte-aligned, history reset: no match reaches into
 * the next part), and every other plane goes into stored blocks written here; then a final
 * empty stored block and the Adler-32 of the whole strip. Any inflater reads it (zlib,
 * libtiff, GDAL). */

/* Output window of the split framing: flushed to the strip with w, else it must hold all. */
typedef struct zsink { uint8_t *out; size_t cap, used; gt_writer *w; } zsink;
static int sink_room(zsink *k) { /* 0, -1 write failed, or a zlib code (> 0) */
  if (k->used < k->cap) return 0;
  if (!k->w) return -Z_BUF_ERROR;
  if (TIFFWriteRawStrip(k->w->tif, k->w->strip, k->out, (tmsize_t)k->used) != (tmsize_t)k->used) return -1;
  k->used = 0;
  return 0;
}
static int sink_put(zsink *k, const uint8_t *p, size_t n) {
  while (n) {
    int e = sink_room(k);
    if (e) return e;
    size_t c = k->cap - k->used < n ? k->cap - k->used : n;
    memcpy(k->out + k->used, p, c);
    k->used += c;
    p += c;
    n -= c;
  }
  return 0;
}
static int plane_compressible(const uint8_t *p, size_t n) {
  uint32_t h[256] = {0};
  for (size_t i = 0; i < n; i++) h[p[i]]++;
  double e = 0; /* n * entropy = n log2 n - sum c log2 c */
  for (int b = 0; b < 256; b++)
    if (h[b]) e -= (double)h[b] * log2((double)h[b]);
  e = e / (double)n + log2((double)n);
  return e < 7.6;
}
static int deflate_split(z_stream *zs, const uint8_t *in, size_t len, size_t plane, uint8_t *out, size_t cap,
                         gt_writer *w, size_t *out_len) {
  zsink k = {out, cap, 0, w};
  static const uint8_t head[2] = {0x78, 0x01}, fin[5] = {0x01, 0x00, 0x00, 0xFF, 0xFF};
  int e = sink_put(&k, head, 2);
  for (size_t a = 0; !e && a < len;) {
    size_t n = len - a < plane ? len - a : plane;
    int z = plane_compressible(in + a, n);
    size_t b = a + n; /* run of planes with the same choice */
    while (b < len) {
      size_t m = len - b < plane ? len - b : plane;
      if (plane_compressible(in + b, m) != z) break;
      b += m;
    }
    if (z) {
      zs->next_in = (Bytef *)(uintptr_t)(in + a);
      zs->avail_in = (uInt)(b - a);
      for (;;) {
        if ((e = sink_room(&k))) break;
        zs->next_out = k.out + k.used;
        zs->avail_out = (uInt)(k.cap - k.used);
        int zr = deflate(zs, Z_FULL_FLUSH);
        k.used = k.cap - zs->avail_out;
        if (zr != Z_OK && zr != Z_BUF_ERROR) { e = zr < 0 ? -zr : zr; break; }
        if (zs->avail_out != 0 && zs->avail_in == 0) break;
      }
    } else {
      for (size_t c = a; !e && c < b;) {
        size_t m = b - c < 65535 ? b - c : 65535;
        uint8_t h5[5] = {0x00, (uint8_t)m, (uint8_t)(m >> 8), (uint8_t)~m, (uint8_t)(~m >> 8)};
        e = sink_put(&k, h5, 5);
        if (!e) e = sink_put(&k, in + c, m);
        c += m;
      }
    }
    a = b;
  }
  uLong ad = adler32_z(adler32(0L, Z_NULL, 0), in, len);
  uint8_t tr[4] = {(uint8_t)(ad >> 24), (uint8_t)(ad >> 16), (uint8_t)(ad >> 8), (uint8_t)ad};
  if (!e) e = sink_put(&k, fin, 5);
  if (!e) e = sink_put(&k, tr, 4);
  if (e) return e;
  if (w && k.used && TIFFWriteRawStrip(w->tif, w->strip, k.out, (tmsize_t)k.used) != (tmsize_t)k.used) return -1;
  if (out_len) *out_len = k.used;
  return 0;
}

/* Deflates a predicted strip with the writer's framing (see deflate_strip / deflate_split). */
static int deflate_any(const gt_writer *wr, z_stream *zs, uint8_t *in, size_t len, uint8_t *out, size_t cap,
                       gt_writer *w, size_t *out_len) {
  if (wr->split) return deflate_split(zs, in, len, (size_t)wr->width * wr->bands, out, cap, w, out_len);
  return deflate_strip(zs, in, len, out, cap, w, out_len);
}

/* Predicts n_rows pixel-interleaved rows at buf in place (tmp: row_bytes of scratch). */
static void predict_rows(const gt_writer *w, uint8_t *buf, uint32_t n_rows, uint8_t *tmp) {
  size_t n_row = (size_t)w->width * w->bands;
  for (uint32_t r = 0; r < n_rows; r++) {
    uint8_t *row = buf + (size_t)r * w->row_bytes;
    if (w->type == GT_F32) pred_f32_row(row, n_row, w->bands, tmp);
    else pred_u8_row(row, n_row, w->bands);
  }
}

/* Predicts and deflates the buffered rows (destroying them) into strip w->strip through the
 * writer's own z_stream and 64 KiB output window. Returns 0, -1 if writing failed (not yet
 * reported), or the status of a zlib failure reported through ctx_fail. */
static int encode_strip(cbas_ctx *ctx, gt_writer *w) {
  predict_rows(w, w->buf, w->rows_in_buf, w->scratch);
  if (deflateReset(&w->zs) != Z_OK) return ctx_fail(ctx, CBAS_EINTERNAL, "%s: deflateReset failed", w->io.path);
  int zr = deflate_any(w, &w->zs, w->buf, (size_t)w->rows_in_buf * w->row_bytes, w->out, w->out_cap, w, NULL);
  if (zr > 0) return ctx_fail(ctx, CBAS_EINTERNAL, "%s: deflate failed (%d)", w->io.path, zr);
  return zr;
}

static int flush_strip(cbas_ctx *ctx, gt_writer *w) {
  io_clear(&w->io);
  int bad;
  if (w->z_ready) {
    bad = encode_strip(ctx, w);
  } else {
    tmsize_t n = (tmsize_t)(w->rows_in_buf * w->row_bytes);
    bad = TIFFWriteEncodedStrip(w->tif, w->strip, w->buf, n) != n ? -1 : 0;
  }
  if (bad) {
    w->failed = 1;
    if (bad > 0) return bad;
    char what[64];
    snprintf(what, sizeof what, "cannot write strip %u", w->strip);
    return io_fail(ctx, &w->io, CBAS_EIO, what);
  }
  w->strip++;
  w->rows_in_buf = 0;
  return 0;
}

/* Copies rows [r0, r0 + n) of the caller's band-sequential planes (see gt_write_rows) into
 * pixel-interleaved rows at dst. */
static void pack_rows(const gt_writer *w, uint8_t *dst, const void *src, uint32_t r0, uint32_t n, size_t row_stride,
                      size_t band_stride) {
  uint32_t nb = w->bands, nx = w->width;
  for (uint32_t r = r0; r < r0 + n; r++) {
    uint8_t *row = dst + (size_t)(r - r0) * w->row_bytes;
    if (w->type == GT_F32) {
      const float *s0 = (const float *)src + (size_t)r * row_stride;
      float *d = (float *)row;
      if (nb == 1) memcpy(d, s0, (size_t)nx * sizeof *d);
      else
        for (uint32_t b = 0; b < nb; b++) {
          const float *s = s0 + (size_t)b * band_stride;
          for (uint32_t x = 0; x < nx; x++) d[(size_t)x * nb + b] = s[x];
        }
    } else {
      const uint8_t *s0 = (const uint8_t *)src + (size_t)r * row_stride;
      if (nb == 1) memcpy(row, s0, nx);
      else
        for (uint32_t b = 0; b < nb; b++) {
          const uint8_t *s = s0 + (size_t)b * band_stride;
          for (uint32_t x = 0; x < nx; x++) row[(size_t)x * nb + b] = s[x];
        }
    }
  }
}

/* ---- parallel strip coding (gt_write_rows, gt_read_bands) --------------------------------- */

/* zlib allocations of the workers' streams are carved from a per-stream arena inside the one
 * budget block of a parallel call (one allocation per call, not zlib's 2 to 5 per stream: on
 * musl every large free is a munmap, costly with several threads). zfree is a no-op; the
 * block is freed as a whole. A full arena makes deflateInit/inflate fail (Z_MEM_ERROR). */
typedef struct z_arena { uint8_t *p; size_t left; } z_arena;
static voidpf z_arena_alloc(voidpf opaque, uInt items, uInt size) {
  z_arena *a = opaque;
  if (size && items > SIZE_MAX / size) return Z_NULL;
  size_t n = ((size_t)items * size + 63) & ~(size_t)63;
  if (n > a->left) return Z_NULL;
  void *p = a->p;
  a->p += n;
  a->left -= n;
  return p;
}
static void z_arena_free(voidpf opaque, voidpf p) { (void)opaque; (void)p; }
static void z_arena_attach(z_stream *zs, z_arena *a, uint8_t *mem, size_t bytes) {
  memset(zs, 0, sizeof *zs);
  a->p = mem;
  a->left = bytes;
  zs->zalloc = z_arena_alloc;
  zs->zfree = z_arena_free;
  zs->opaque = a;
}
static size_t al64(uint64_t n) { return (size_t)((n + 63) & ~(uint64_t)63); }

/* A ctx sharing ctx's budget whose errors go nowhere, with n_workers threads: the worker pools
 * are optional (the serial code is the fallback), so a budget refusal must not fail the run;
 * and par_for on it uses exactly the workers a pool was set up for. Workers never ctx_fail. */
static void shadow_ctx(cbas_ctx *sh, const cbas_ctx *ctx, int n_workers) {
  memset(sh, 0, sizeof *sh);
  sh->budget = ctx->budget;
  sh->n_threads = n_workers;
  sh->quiet = 1;
}

#define GT_DEFLATE_ARENA (GT_DEFLATE_STATE_BYTES + (8u << 10)) /* + alignment and slack */
#define GT_INFLATE_ARENA (48u << 10) /* inflate_state (~7 kB) + 32 KiB window + slack */
#define GT_PAR_MAX 64                       /* workers at most */
/* Uncompressed bytes per worker below which a call stays serial: for less, starting threads
 * and setting up a zlib stream per worker costs more than it saves. */
#define GT_PAR_MIN_BYTES (128u << 10)

#define GT_ENC_IN_FLIGHT 4 /* strips in flight per worker of encode_parallel (fewer if short) */

/* One in-flight strip of encode_parallel: its rows and its whole deflated output (budget). */
typedef struct enc_slot {
  uint8_t *buf;   /* S bytes: the strip's pixel-interleaved rows */
  uint8_t *out;   /* deflateBound(S) bytes: the whole deflated strip; scratch while predicting */
  size_t out_len;
  uint32_t rows;
  int zr;         /* 0, or deflate_strip's error */
} enc_slot;

typedef struct enc_job {
  const gt_writer *w;
  enc_slot *slot;
  z_stream **zs;  /* one per worker: [0] the writer's own, the others' states from the budget */
  size_t out_cap;
  const void *src;
  size_t row_stride, band_stride;
  uint32_t r0;    /* src row of slot 0's first row */
} enc_job;

static int enc_item(void *ud, long k, int worker) {
  enc_job *j = ud;
  enc_slot *s = &j->slot[k];
  z_stream *zs = j->zs[worker];
  const gt_writer *w = j->w;
  pack_rows(w, s->buf, j->src, j->r0 + (uint32_t)k * w->rps, s->rows, j->row_stride, j->band_stride);
  predict_rows(w, s->buf, s->rows, s->out);
  s->zr = deflateReset(zs) != Z_OK ? -Z_STREAM_ERROR
                                   : deflate_any(w, zs, s->buf, (size_t)s->rows * w->row_bytes, s->out, j->out_cap,
                                                 NULL, &s->out_len);
  return 0;
}

/* Encodes the n_strips complete strips starting at src row r0 (the writer's buffer is empty)
 * on nw <= ctx->n_threads workers, each with its own z_stream, in batches of ns = nw * k
 * strips (k <= GT_ENC_IN_FLIGHT strips in flight per worker), and writes each batch in strip
 * order. Returns 0 with *rows_done set, -1 if no pool of 2 or more workers fits the budget or
 * the call has too little data (nothing done: the caller goes on serially), or a status.
 * Worker 0 uses the writer's own z_stream, slot 0 the writer's strip buffer. Memory: one
 * budget block, freed before returning, of (nw - 1) * GT_DEFLATE_ARENA (zlib's states) +
 * ns * (S + deflateBound(S)) - S bytes (each part rounded up to 64), S = rows_per_strip *
 * width * bands * sample size. */
static int encode_parallel(cbas_ctx *ctx, gt_writer *w, const void *src, uint32_t r0, uint32_t n_strips,
                           size_t row_stride, size_t band_stride, uint32_t *rows_done) {
  size_t S = w->row_bytes * w->rps;
  uLong bound = w->split ? (uLong)split_bound(S, strip_segments(w)) : deflateBound(&w->zs, (uLong)S);
  uint64_t per_zs = GT_DEFLATE_ARENA, per_slot = al64(S) + al64(bound);
  int nw = ctx->n_threads < GT_PAR_MAX ? ctx->n_threads : GT_PAR_MAX;
  uint64_t work = (uint64_t)S * n_strips / GT_PAR_MIN_BYTES;
  if ((uint64_t)nw > work) nw = (int)work;
  uint64_t avail = budget_avail(ctx);
  int k = GT_ENC_IN_FLIGHT;
  while (k > 1 && (uint64_t)nw * k > n_strips) k--;
  /* Worker 0 uses the writer's own z_stream and slot 0 the writer's (empty) strip buffer. */
  while (nw >= 2 && (nw - 1) * per_zs + per_slot * (uint64_t)(nw * k) - al64(S) + 64 > avail) {
    if (k > 1) k--;
    else nw--;
  }
  if (nw < 2) return -1;
  int ns = nw * k;
  cbas_ctx sh;
  shadow_ctx(&sh, ctx, nw);
  uint8_t *mem = budget_alloc(&sh, (size_t)((nw - 1) * per_zs + per_slot * (uint64_t)ns - al64(S)), "parallel deflate");
  if (!mem) return -1;
  z_stream zs[GT_PAR_MAX], *zp[GT_PAR_MAX];
  z_arena arena[GT_PAR_MAX];
  enc_slot slot[GT_PAR_MAX * GT_ENC_IN_FLIGHT];
  memset(slot, 0, sizeof slot);
  uint8_t *p = mem;
  for (int i = 0; i < ns; i++) {
    if (i == 0) {
      slot[i].buf = w->buf;
    } else {
      slot[i].buf = p;
      p += al64(S);
    }
    slot[i].out = p;
    p += al64(bound);
  }
  zp[0] = &w->zs;
  int n_zs = 1;
  for (; n_zs < nw; n_zs++, p += per_zs) {
    zp[n_zs] = &zs[n_zs];
    z_arena_attach(&zs[n_zs], &arena[n_zs], p, per_zs);
    if (deflateInit2(&zs[n_zs], w->level, Z_DEFLATED, w->split ? -15 : 15, 8, w->strategy) != Z_OK) break;
  }
  if (n_zs < nw) {
    for (int i = 1; i < n_zs; i++) deflateEnd(&zs[i]);
    budget_free(&sh, mem);
    return -1;
  }
  enc_job j = {w, slot, zp, bound, src, row_stride, band_stride, r0};
  uint32_t done = 0;
  int st = 0;
  for (uint32_t k0 = 0; k0 < n_strips && !st; k0 += (uint32_t)ns) {
    uint32_t nk = n_strips - k0 < (uint32_t)ns ? n_strips - k0 : (uint32_t)ns;
    for (uint32_t i = 0; i < nk; i++) {
      uint32_t first = w->rows_done + done + i * w->rps;
      slot[i].rows = w->height - first < w->rps ? w->height - first : w->rps;
      slot[i].zr = 0;
    }
    j.r0 = r0 + done;
    if (par_for(&sh, (long)nk, enc_item, &j)) { st = ctx_fail(ctx, sh.status ? sh.status : CBAS_EINTERNAL, "%s", sh.msg); break; }
    io_clear(&w->io);
    for (uint32_t i = 0; i < nk && !st; i++) {
      if (slot[i].zr) {
        w->failed = 1;
        st = ctx_fail(ctx, CBAS_EINTERNAL, "%s: deflate failed (%d)", w->io.path, slot[i].zr);
        break;
      }
      tmsize_t n = (tmsize_t)slot[i].out_len;
      if (TIFFWriteRawStrip(w->tif, w->strip, slot[i].out, n) != n) {
        w->failed = 1;
        char what[64];
        snprintf(what, sizeof what, "cannot write strip %u", w->strip);
        st = io_fail(ctx, &w->io, CBAS_EIO, what);
        break;
      }
      w->strip++;
      done += slot[i].rows;
    }
  }
  for (int i = 1; i < n_zs; i++) deflateEnd(&zs[i]);
  budget_free(&sh, mem);
  w->rows_done += done;
  *rows_done = done;
  return st;
}

int gt_write_rows(cbas_ctx *ctx, gt_writer *w, uint32_t ny, const void *src, size_t row_stride,
                  size_t band_stride) {
  if (w->failed) return ctx_fail(ctx, CBAS_EUSAGE, "%s: write after an earlier failure", w->io.path);
  if ((uint64_t)w->rows_done + ny > w->height) {
    w->failed = 1;
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: %u rows written past the height %u", w->io.path,
                    (unsigned)(w->rows_done + ny - w->height), w->height);
  }
  int try_par = w->z_ready && ctx->n_threads > 1;
  for (uint32_t r = 0; r < ny;) {
    if (try_par && w->rows_in_buf == 0) {
      /* Complete strips from row r on: the full ones, and the image's short last one. */
      uint32_t left = ny - r, n_strips = left / w->rps;
      if (left % w->rps && w->rows_done + left == w->height) n_strips++;
      try_par = 0;
      if (n_strips >= 2) {
        uint32_t done = 0;
        int st = encode_parallel(ctx, w, src, r, n_strips, row_stride, band_stride, &done);
        if (st > 0) return ctx->status;
        r += done;
        continue;
      }
    }
    pack_rows(w, w->buf + (size_t)w->rows_in_buf * w->row_bytes, src, r, 1, row_stride, band_stride);
    r++;
    w->rows_in_buf++;
    w->rows_done++;
    if ((w->rows_in_buf == w->rps || w->rows_done == w->height) && flush_strip(ctx, w)) return ctx->status;
  }
  return 0;
}

int gt_commit(cbas_ctx *ctx, gt_writer *w) {
  if (w->failed || w->rows_done != w->height) {
    if (!w->failed)
      ctx_fail(ctx, CBAS_EUSAGE, "%s: only %u of %u rows were written", w->io.path, w->rows_done, w->height);
    else
      ctx_fail(ctx, CBAS_EUSAGE, "%s: commit after an earlier failure", w->io.path);
    gt_abort(ctx, w);
    return ctx->status;
  }
  io_clear(&w->io);
  if (!TIFFFlush(w->tif) || w->io.err) {
    io_fail(ctx, &w->io, CBAS_EIO, "cannot write the TIFF directory");
    gt_abort(ctx, w);
    return ctx->status;
  }
  TIFFClose(w->tif); /* nothing left to flush */
  w->tif = NULL;
  if (w->io.err) {
    io_fail(ctx, &w->io, CBAS_EIO, "cannot close");
    gt_abort(ctx, w);
    return ctx->status;
  }
  int st = afile_commit(ctx, &w->af); /* fsync, rename, fsync dir; removes the temp on failure */
  w->af.fd = -1;
  w->af.tmp[0] = 0;
  gt_abort(ctx, w);
  return st;
}

void gt_abort(cbas_ctx *ctx, gt_writer *w) {
  if (!w) return;
  if (w->tif) {
    w->io.discard = 1; /* TIFFClose flushes: drop those writes, the file is going away */
    TIFFClose(w->tif);
  }
  afile_abort(&w->af);
  if (w->z_ready) deflateEnd(&w->zs);
  budget_free(ctx, w->out);
  budget_free(ctx, w->buf);
  budget_free(ctx, w);
}

/* ---- reader: several bands at once, strips inflated in parallel --------------------------- */

/* Undoes libtiff's horizontal predictor (tif_predict.c horAcc8/16/32/64) on one row of n
 * samples of es bytes in host order: s[i] += s[i - stride] modulo 2^(8 es), in sample order. */
static void unpred_hor_row(uint8_t *row, size_t n, size_t stride, size_t es) {
  switch (es) {
  case 1: for (size_t i = stride; i < n; i++) row[i] = (uint8_t)(row[i] + row[i - stride]); break;
  case 2: { uint16_t *s = (uint16_t *)row; for (size_t i = stride; i < n; i++) s[i] = (uint16_t)(s[i] + s[i - stride]); } break;
  case 4: { uint32_t *s = (uint32_t *)row; for (size_t i = stride; i < n; i++) s[i] += s[i - stride]; } break;
  default: { uint64_t *s = (uint64_t *)row; for (size_t i = stride; i < n; i++) s[i] += s[i - stride]; } break;
  }
}

/* Undoes libtiff's floating-point predictor (fpAcc) on one row of n samples of es (4 or 8)
 * bytes: the row's bytes are summed with a stride of `stride` bytes, then they are byte planes,
 * most significant first (the inverse of pred_f32_row), reassembled into host-order samples.
 * tmp holds es * n bytes. */
static void unpred_fp_row(uint8_t *row, size_t n, size_t stride, size_t es, uint8_t *tmp) {
  size_t nb = n * es;
  for (size_t i = stride; i < nb; i++) row[i] = (uint8_t)(row[i] + row[i - stride]);
  memcpy(tmp, row, nb);
  for (size_t i = 0; i < n; i++) {
    uint64_t u = 0;
    for (size_t p = 0; p < es; p++) u = u << 8 | tmp[p * n + i];
    if (es == 4) {
      uint32_t v = (uint32_t)u;
      memcpy(row + 4 * i, &v, 4);
    } else {
      memcpy(row + 8 * i, &u, 8);
    }
  }
}

/* One worker of read_parallel: its own z_stream (state in its arena), compressed input
 * window and decoded strip (all in read_parallel's budget block). */
typedef struct dec_slot {
  z_stream zs;
  z_arena arena;
  int z_ready;
  uint8_t *in;      /* in_cap bytes: compressed input; the fpAcc row scratch after inflating */
  uint8_t *strip;   /* block_bytes: one decoded strip */
  int bad_value;    /* a conversion met NaN/Inf/out-of-range values */
  int failed;       /* a read/inflate problem: read_parallel hands the call to libtiff */
} dec_slot;

#define GT_DEC_BATCH 256 /* strips described per par_for */

typedef struct dec_job {
  gt_reader *r;
  dec_slot *slot;
  uint64_t off[GT_DEC_BATCH], count[GT_DEC_BATCH];
  uint32_t by0;           /* strip row of item 0 */
  size_t in_cap;
  uint32_t band0, n_bands, x0, y0, nx, ny;
  conv_fn conv;
  gt_type dst_type;
  uint8_t *dst;
  size_t row_stride, band_stride;
} dec_job;

/* Inflates strip (by0 + item) as libtiff's ZIPDecode does (the first rows * row_bytes bytes
 * of the zlib stream; a stream ending early or a zlib error is a failure), undoes the predictor
 * row by row as PredictorDecodeTile does, and converts the window's part of every band into
 * the caller's buffer (rows owned by this item). Problems only set flags: no ctx_fail here. */
static int dec_item(void *ud, long item, int worker) {
  dec_job *j = ud;
  dec_slot *s = &j->slot[worker];
  gt_reader *r = j->r;
  const gt_info *in = &r->info;
  uint32_t by = j->by0 + (uint32_t)item, bh = in->block_h;
  uint64_t top = (uint64_t)by * bh;
  uint32_t rows = (uint32_t)(top + bh <= in->height ? bh : in->height - top);
  size_t need = (size_t)rows * r->row_bytes;
  z_stream *zs = &s->zs;
  if (inflateReset(zs) != Z_OK) { s->failed = 1; return 0; }
  zs->next_out = s->strip;
  zs->avail_out = (uInt)need;
  zs->avail_in = 0;
  uint64_t off = j->off[item], left = j->count[item];
  while (zs->avail_out > 0) {
    if (zs->avail_in == 0) {
      size_t n = left < j->in_cap ? (size_t)left : j->in_cap, got = 0;
      if (!n || plat_pread(r->io.fd, s->in, n, off, &got) || got == 0) { s->failed = 1; return 0; }
      off += got;
      left -= got;
      zs->next_in = s->in;
      zs->avail_in = (uInt)got;
    }
    int zr = inflate(zs, Z_PARTIAL_FLUSH);
    if (zr == Z_STREAM_END) break;
    if (zr != Z_OK) { s->failed = 1; return 0; }
  }
  if (zs->avail_out != 0) { s->failed = 1; return 0; }
  size_t spp = r->samples_per_block_pixel, es = r->sample_bytes, n_row = (size_t)in->width * spp;
  for (uint32_t y = 0; y < rows; y++) {
    uint8_t *row = s->strip + (size_t)y * r->row_bytes;
    if (in->predictor == 2) unpred_hor_row(row, n_row, spp, es);
    else if (in->predictor == 3) unpred_fp_row(row, n_row, spp, es, s->in);
  }
  uint32_t ys = (uint32_t)(top > j->y0 ? top : j->y0);
  uint32_t ye = (uint32_t)(top + rows < (uint64_t)j->y0 + j->ny ? top + rows : (uint64_t)j->y0 + j->ny);
  size_t dsz = gt_type_size(j->dst_type);
  for (uint32_t b = 0; b < j->n_bands; b++)
    for (uint32_t y = ys; y < ye; y++) {
      const uint8_t *src = s->strip + (size_t)(y - top) * r->row_bytes + (size_t)j->x0 * spp * es + (size_t)(j->band0 + b) * es;
      uint8_t *d = j->dst + ((size_t)b * j->band_stride + (size_t)(y - j->y0) * j->row_stride) * dsz;
      s->bad_value |= j->conv(src, spp, d, j->nx);
    }
  return 0;
}

/* The window of gt_read_bands through read_parallel's workers if the file allows it: strips
 * (not tiles), pixel-interleaved, deflate, predictor 1/2 (3 for floats), the host's byte order,
 * 2 or more strips, and a pool of 2 or more workers fitting the budget. Returns 0 when done,
 * -1 when the caller must read serially (also after a decoding problem or a value conversion
 * error, so that libtiff's path reports it with its usual message), or a status. Memory: one
 * budget block, freed before returning, of nw * (one decoded strip + max(64 KiB, one row) +
 * GT_INFLATE_ARENA) + ~4 kB (the job with GT_DEC_BATCH strip offsets). */
static int read_parallel(cbas_ctx *ctx, gt_reader *r, uint32_t band0, uint32_t n_bands, uint32_t x0, uint32_t y0,
                         uint32_t nx, uint32_t ny, gt_type dst_type, void *dst, size_t row_stride,
                         size_t band_stride) {
  const gt_info *in = &r->info;
  uint32_t bh = in->block_h, by0 = y0 / bh, by1 = (uint32_t)(((uint64_t)y0 + ny - 1) / bh);
  uint32_t n_strips = by1 - by0 + 1;
  int nw = ctx->n_threads < GT_PAR_MAX ? ctx->n_threads : GT_PAR_MAX;
  uint64_t work = (uint64_t)r->block_bytes * n_strips / GT_PAR_MIN_BYTES;
  if (n_strips < 2) work = 0;
  if ((uint64_t)nw > work) nw = (int)work;
  if (nw < 2 || in->tiled || in->planar_separate || TIFFIsByteSwapped(r->tif) || r->block_bytes > 0xFFFFFFFFu ||
      (in->compression != COMPRESSION_ADOBE_DEFLATE && in->compression != COMPRESSION_DEFLATE) ||
      (in->predictor == 3 && in->type != GT_F32 && in->type != GT_F64))
    return -1;
  size_t in_cap = r->row_bytes > (64u << 10) ? r->row_bytes : (64u << 10);
  uint64_t per = (uint64_t)al64(r->block_bytes) + al64(in_cap) + GT_INFLATE_ARENA;
  uint64_t avail = budget_avail(ctx);
  while (nw >= 2 && per * (uint64_t)nw + al64(sizeof(dec_job)) + 64 > avail) nw--;
  if (nw < 2) return -1;
  cbas_ctx sh;
  shadow_ctx(&sh, ctx, nw);
  uint8_t *mem = budget_alloc(&sh, (size_t)(per * (uint64_t)nw + al64(sizeof(dec_job))), "parallel inflate");
  if (!mem) return -1;
  dec_slot slot[GT_PAR_MAX];
  memset(slot, 0, sizeof slot);
  dec_job *j = (dec_job *)mem;
  uint8_t *p = mem + al64(sizeof(dec_job));
  int ok = 1;
  for (int i = 0; ok && i < nw; i++, p += per) {
    dec_slot *s = &slot[i];
    s->strip = p;
    s->in = p + al64(r->block_bytes);
    z_arena_attach(&s->zs, &s->arena, p + al64(r->block_bytes) + al64(in_cap), GT_INFLATE_ARENA);
    s->z_ready = inflateInit(&s->zs) == Z_OK;
    ok = s->z_ready;
  }
  int res = ok ? 0 : -1;
  if (ok) {
    *j = (dec_job){.r = r, .slot = slot, .in_cap = in_cap, .band0 = band0, .n_bands = n_bands, .x0 = x0,
                   .y0 = y0, .nx = nx, .ny = ny, .conv = conv_table[in->type - 1][dst_type - 1],
                   .dst_type = dst_type, .dst = dst, .row_stride = row_stride, .band_stride = band_stride};
    uint64_t cap = (uint64_t)r->block_bytes * 2 + (1u << 20); /* larger byte counts: libtiff decides */
    for (uint32_t b0 = by0; b0 <= by1 && !res; b0 += GT_DEC_BATCH) {
      uint32_t nb = by1 - b0 + 1 < GT_DEC_BATCH ? by1 - b0 + 1 : GT_DEC_BATCH;
      j->by0 = b0;
      for (uint32_t k = 0; k < nb && !res; k++) {
        int e1 = 0, e2 = 0;
        j->off[k] = TIFFGetStrileOffsetWithErr(r->tif, b0 + k, &e1);
        j->count[k] = TIFFGetStrileByteCountWithErr(r->tif, b0 + k, &e2);
        if (e1 || e2 || !j->count[k] || j->count[k] > cap || j->off[k] > r->io.size ||
            j->count[k] > r->io.size - j->off[k])
          res = -1;
      }
      if (!res && par_for(&sh, (long)nb, dec_item, j)) res = ctx_fail(ctx, sh.status ? sh.status : CBAS_EINTERNAL, "%s", sh.msg);
      for (int w = 0; w < nw && !res; w++)
        if (slot[w].failed || slot[w].bad_value) res = -1;
      if (!res) r->n_decoded += nb;
    }
  }
  for (int w = 0; w < nw; w++)
    if (slot[w].z_ready) inflateEnd(&slot[w].zs);
  budget_free(&sh, mem);
  return res;
}

int gt_read_bands(cbas_ctx *ctx, gt_reader *r, uint32_t band0, uint32_t n_bands, uint32_t x0, uint32_t y0,
                  uint32_t nx, uint32_t ny, gt_type dst_type, void *dst, size_t row_stride, size_t band_stride) {
  const gt_info *in = &r->info;
  if ((uint64_t)band0 + n_bands > in->bands)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: bands %u..%llu requested, the file has %u", r->io.path, band0 + 1,
                    (unsigned long long)band0 + n_bands, in->bands);
  if ((uint64_t)x0 + nx > in->width || (uint64_t)y0 + ny > in->height)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: window x %u..%llu, y %u..%llu outside the %u x %u raster", r->io.path,
                    x0, (unsigned long long)x0 + nx, y0, (unsigned long long)y0 + ny, in->width, in->height);
  if (!type_ok(dst_type)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: bad destination type %d", r->io.path, (int)dst_type);
  if (nx == 0 || ny == 0 || n_bands == 0) return 0;
  if (row_stride < nx || (n_bands > 1 && band_stride < nx))
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: destination strides %zu, %zu < window width %u", r->io.path, row_stride,
                    band_stride, nx);
  int st = read_parallel(ctx, r, band0, n_bands, x0, y0, nx, ny, dst_type, dst, row_stride, band_stride);
  if (st >= 0) return st;
  /* Serially: block row by block row, band by band, so a pixel-interleaved strip is decoded
   * once (it stays cached while its bands are copied out). */
  size_t dsz = gt_type_size(dst_type);
  uint32_t bh = in->block_h;
  for (uint64_t ys = y0; ys < (uint64_t)y0 + ny;) {
    uint64_t ye = (ys / bh + 1) * bh;
    if (ye > (uint64_t)y0 + ny) ye = (uint64_t)y0 + ny;
    for (uint32_t b = 0; b < n_bands; b++) {
      uint8_t *d = (uint8_t *)dst + ((size_t)b * band_stride + (size_t)(ys - y0) * row_stride) * dsz;
      if (gt_read(ctx, r, band0 + b, x0, (uint32_t)ys, nx, (uint32_t)(ye - ys), dst_type, d, row_stride))
        return ctx->status;
    }
    ys = ye;
  }
  return 0;
}
