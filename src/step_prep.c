/* step_prep.c — `cbas prep`: LiCSAR GEOC folder → clipped cbas stack in one streaming pass,
 * reproducing LiCSBAS steps 02 (multilook), 03 (GACOS), 04 (masks) and 05 (clip) run in that
 * order (see include/cbas/prep.h, docs/prep.md, digest §1–§4).
 *
 * Phases:
 *   1. screening  list the interferogram folders (names, --start/--end), open the headers of
 *                 every unw/cc GeoTIFF (in parallel), choose the frame grid (the grid most
 *                 interferograms share) and exclude, by name, whatever does not fit;
 *   2. planning   multilooked frame, clip window (step 05 ranges on the multilooked grid),
 *                 masks (step 04 ranges), GACOS delays of every date on the AOI (step 03),
 *                 the per-worker memory budget;
 *   3. decoding   par_for over files: each worker reads only the AOI window's rows (times
 *                 nlook) and columns of its GeoTIFFs with gt_read, multilooks, corrects,
 *                 masks, and writes its interferogram's rows into the stack. A file that fails
 *                 to decode is excluded and the pass is run again without it;
 *   4. finishing  (coherence mask, --licsbas-layout) walk the written stack by blocks of rows:
 *                 coh_avg over all interferograms in list order, unw masked in place; rows
 *                 copied into the LiCSBAS folder; then commit (rename) of both.
 */
#include "cbas/prep.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/gacos.h"
#include "cbas/gtiff.h"
#include "cbas/lbdir.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include "cbas/progress.h"
#include "cbas/stack.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- defaults */

#define DEFAULT_NLOOK 1
#define DEFAULT_FREQ_HZ 5.405e9       /* Sentinel-1 (LiCSBAS02 --freq default) */
#define IN_CHUNK_CAP (8u << 20)       /* largest input chunk per worker (cache-friendly), bytes */
#define READER_OVERHEAD 16384         /* per open GeoTIFF reader besides its decoded strip, bytes */
#define MAX_ATTEMPTS 8                /* decoding passes (each one drops files that failed) */

void prep_params_default(prep_params *p) {
  memset(p, 0, sizeof *p);
  p->nlook = DEFAULT_NLOOK;
  p->freq_hz = DEFAULT_FREQ_HZ;
  p->mask_coh = NAN;
}

/* ---------------------------------------------------------------- run state */

typedef struct ifg_rec {
  char name[18];
  int excluded;
  char why[300];
  gt_type unw_type, cc_type;
  uint32_t w, h;
  int has_gt;
  double gt[6];
  uint32_t cc_w, cc_h;
  int cc_has_gt;
  double cc_gt[6];
  size_t block_bytes;         /* largest decoded strip/tile of its two files */
  int32_t prim, sec;          /* indices into the GACOS date table */
} ifg_rec;

typedef struct bad_name { char name[256]; const char *why; } bad_name;

enum { L_HGT, L_E, L_N, L_U, N_LAYER };
static const char *const LAYER_STACK[N_LAYER] = {"hgt", "E", "N", "U"};
static const char *const LAYER_LB[N_LAYER] = {"hgt", "E.geo", "N.geo", "U.geo"};
static const char *const LAYER_SUFFIX[N_LAYER] = {".geo.hgt.tif", ".geo.E.tif", ".geo.N.tif", ".geo.U.tif"};

typedef struct layer_rec {
  char path[1400];
  int present;                /* file found */
  int use;                    /* written to the stack */
  char why[300];
  size_t block_bytes;
} layer_rec;

typedef struct range_list { lb_range *r; int n, cap; } range_list;

typedef struct run {
  cbas_ctx *ctx;
  const prep_params *p;
  prep_report *rep;
  char geoc[1024];
  /* interferograms */
  ifg_rec *ifg;
  uint32_t n_ifg;
  bad_name *bad;
  uint32_t n_bad, cap_bad;
  layer_rec layer[N_LAYER];
  /* frame grid (full resolution) and its multilooked version */
  uint32_t W, L, Wm, Lm;
  double gt[6];
  int n;                      /* nlook */
  lb_range clip;              /* multilooked frame pixels */
  uint32_t nx, ny;            /* AOI size (multilooked) */
  uint32_t src_x0, src_w;     /* source window columns: [clip.x0*n, +nx*n) */
  range_list masks;           /* step 04 ranges, multilooked frame pixels */
  int coh_mask;
  /* GACOS: one AOI raster of sltd per date in a scratch file */
  char gacos_scratch[1100];
  char (*date)[9];
  int *date_ok;
  uint32_t n_date;
  /* decoding */
  int workers;
  uint32_t chunk;             /* multilooked rows per chunk */
  float **in_buf, **out_unw, **g_prim, **g_sec;
  uint8_t **out_cc;
  uint32_t *use;              /* indices of the interferograms in the stack */
  uint32_t n_use;
  stack_writer *sw;
  lbdir *lb;
  progress *bar;
  int new_failures;           /* set by workers (under fail_mu) */
  plat_mutex *fail_mu;
  uint64_t bytes_decoded;
  char center_time[64];
  int has_center_time;
  double *bperp;              /* per stack epoch */
  int bperp_complete;
  char *baselines_text;
  size_t baselines_len;
} run;

static double mb(uint64_t b) { return (double)b / 1048576.0; }

static int add_bad(run *r, const char *name, const char *why) {
  if (r->n_bad == r->cap_bad) {
    uint32_t cap = r->cap_bad ? 2 * r->cap_bad : 16;
    bad_name *b = realloc(r->bad, cap * sizeof *b);
    if (!b) return ctx_fail(r->ctx, CBAS_ENOMEM, "out of memory listing %s", r->geoc);
    r->bad = b;
    r->cap_bad = cap;
  }
  snprintf(r->bad[r->n_bad].name, sizeof r->bad[r->n_bad].name, "%s", name);
  r->bad[r->n_bad++].why = why;
  return 0;
}

static void exclude(ifg_rec *f, const char *fmt, const char *detail) {
  if (f->excluded) return;
  f->excluded = 1;
  char t[1600];
  snprintf(t, sizeof t, fmt, detail);
  snprintf(f->why, sizeof f->why, "%.299s", t);
}
static void set_why(char *why, const char *text) { snprintf(why, 300, "%.299s", text); }

/* A child context for work on one input file: its errors describe that file and exclude it,
 * without stopping the run. Shares the run's budget. Used by one thread. */
static void child_ctx(const cbas_ctx *parent, cbas_ctx *c) {
  memset(c, 0, sizeof *c);
  c->budget = parent->budget;
  c->n_threads = 1;
  c->quiet = 1;
}
/* Errors that are the run's, not the file's. */
static int fatal_status(int st) { return st == CBAS_EBUDGET || st == CBAS_ENOMEM || st == CBAS_EINTERNAL; }

/* ---------------------------------------------------------------- listing GEOC */

typedef struct list_ud { run *r; } list_ud;

static int list_cb(void *ud, const char *name) {
  run *r = ((list_ud *)ud)->r;
  const prep_params *p = r->p;
  char path[1400];
  snprintf(path, sizeof path, "%s/%s", r->geoc, name);
  plat_stat st;
  if (plat_stat_path(path, &st)) return 0;
  if (st.is_dir) {
    const char *why = lb_ifg_name_problem(name);
    if (why) {
      /* Only folders that look like date folders are reported; others (e.g. GACOS/) are not ours. */
      if (name[0] >= '0' && name[0] <= '9') return add_bad(r, name, why);
      return 0;
    }
    if ((p->start && (memcmp(name, p->start, 8) < 0)) || (p->end && memcmp(name + 9, p->end, 8) > 0)) {
      r->rep->n_filtered++;
      return 0;
    }
    ifg_rec *f = realloc(r->ifg, (r->n_ifg + 1) * sizeof *f);
    if (!f) return ctx_fail(r->ctx, CBAS_ENOMEM, "out of memory listing %s", r->geoc);
    r->ifg = f;
    memset(&f[r->n_ifg], 0, sizeof *f);
    memcpy(f[r->n_ifg].name, name, 18);
    r->n_ifg++;
    return 0;
  }
  size_t nl = strlen(name);
  for (int i = 0; i < N_LAYER; i++) {
    size_t sl = strlen(LAYER_SUFFIX[i]);
    /* first match in sorted order (LiCSBAS takes glob's first) */
    if (nl > sl && !strcmp(name + nl - sl, LAYER_SUFFIX[i]) && !r->layer[i].present) {
      r->layer[i].present = 1;
      snprintf(r->layer[i].path, sizeof r->layer[i].path, "%s", path);
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- screening */

static void ifg_path(const run *r, const ifg_rec *f, const char *kind, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s/%s.geo.%s.tif", r->geoc, f->name, f->name, kind);
}

/* Opens the headers of one interferogram's unw and cc files; records their grids. */
static int screen_one(void *ud, long item, int worker) {
  run *r = ud;
  ifg_rec *f = &r->ifg[item];
  (void)worker;
  char up[1400], cp[1400];
  ifg_path(r, f, "unw", up, sizeof up);
  ifg_path(r, f, "cc", cp, sizeof cp);
  plat_stat su, sc;
  plat_stat_path(up, &su);
  plat_stat_path(cp, &sc);
  if (!su.exists) { exclude(f, "no %s.geo.unw.tif", f->name); return 0; }
  if (!sc.exists) { exclude(f, "no %s.geo.cc.tif", f->name); return 0; }
  cbas_ctx c;
  child_ctx(r->ctx, &c);
  gt_reader *g = NULL;
  if (gt_open(&c, up, &g)) {
    if (fatal_status(c.status)) return ctx_fail(r->ctx, c.status, "%s", c.msg);
    exclude(f, "%s", c.msg);
    return 0;
  }
  const gt_info *in = gt_get_info(g);
  f->unw_type = in->type;
  f->w = in->width;
  f->h = in->height;
  f->has_gt = in->geo.has_gt;
  memcpy(f->gt, in->geo.gt, sizeof f->gt);
  f->block_bytes = (size_t)in->block_w * in->block_h * (in->planar_separate ? 1 : in->bands) * gt_type_size(in->type);
  gt_close(&c, g);
  if (gt_open(&c, cp, &g)) {
    if (fatal_status(c.status)) return ctx_fail(r->ctx, c.status, "%s", c.msg);
    exclude(f, "%s", c.msg);
    return 0;
  }
  in = gt_get_info(g);
  f->cc_type = in->type;
  f->cc_w = in->width;
  f->cc_h = in->height;
  f->cc_has_gt = in->geo.has_gt;
  memcpy(f->cc_gt, in->geo.gt, sizeof f->cc_gt);
  size_t cb = (size_t)in->block_w * in->block_h * (in->planar_separate ? 1 : in->bands) * gt_type_size(in->type);
  if (cb > f->block_bytes) f->block_bytes = cb;
  gt_close(&c, g);
  if (f->unw_type != GT_F32) exclude(f, "%s.geo.unw.tif holds %s samples, expected float32", f->name);
  else if (f->cc_type != GT_U8 && f->cc_type != GT_F32) exclude(f, "%s.geo.cc.tif holds neither uint8 nor float32 samples", f->name);
  else if (!f->has_gt) exclude(f, "%s.geo.unw.tif has no georeferencing", f->name);
  return 0;
}

static int same_grid(uint32_t w1, uint32_t h1, const double *g1, uint32_t w2, uint32_t h2, const double *g2) {
  return w1 == w2 && h1 == h2 && !memcmp(g1, g2, 6 * sizeof *g1);
}

static void grid_text(char *out, size_t cap, uint32_t w, uint32_t h, const double *g) {
  snprintf(out, cap, "%ux%u at (%.9g, %.9g) step (%.9g, %.9g)", w, h, g[0], g[3], g[1], g[5]);
}

/* The frame grid: the unw grid shared by most interferograms (ties: the first in order). */
static int choose_grid(run *r) {
  uint32_t best = UINT32_MAX, best_n = 0;
  for (uint32_t i = 0; i < r->n_ifg; i++) {
    const ifg_rec *a = &r->ifg[i];
    if (a->excluded) continue;
    uint32_t n = 0;
    for (uint32_t j = 0; j < r->n_ifg; j++)
      if (!r->ifg[j].excluded && same_grid(a->w, a->h, a->gt, r->ifg[j].w, r->ifg[j].h, r->ifg[j].gt)) n++;
    if (n > best_n) { best_n = n; best = i; }
  }
  if (best == UINT32_MAX) return 0;
  const ifg_rec *ref = &r->ifg[best];
  r->W = ref->w;
  r->L = ref->h;
  memcpy(r->gt, ref->gt, sizeof r->gt);
  char g[160], h[160];
  grid_text(g, sizeof g, r->W, r->L, r->gt);
  for (uint32_t i = 0; i < r->n_ifg; i++) {
    ifg_rec *f = &r->ifg[i];
    if (f->excluded) continue;
    if (!same_grid(f->w, f->h, f->gt, r->W, r->L, r->gt)) {
      grid_text(h, sizeof h, f->w, f->h, f->gt);
      char why[400];
      snprintf(why, sizeof why, "unw grid %.150s differs from the frame's %.150s", h, g);
      exclude(f, "%s", why);
    } else if (!f->cc_has_gt || !same_grid(f->cc_w, f->cc_h, f->cc_gt, r->W, r->L, r->gt)) {
      grid_text(h, sizeof h, f->cc_w, f->cc_h, f->cc_gt);
      char why[400];
      snprintf(why, sizeof why, "cc grid %.150s differs from the frame's %.150s", h, g);
      exclude(f, "%s", why);
    }
  }
  return 1;
}

static void screen_layers(run *r) {
  char g[160], h[160];
  grid_text(g, sizeof g, r->W, r->L, r->gt);
  for (int i = 0; i < N_LAYER; i++) {
    layer_rec *l = &r->layer[i];
    if (!l->present) continue;
    cbas_ctx c;
    child_ctx(r->ctx, &c);
    gt_reader *rd;
    if (gt_open(&c, l->path, &rd)) { set_why(l->why, c.msg); continue; }
    const gt_info *in = gt_get_info(rd);
    if (!in->geo.has_gt || !same_grid(in->width, in->height, in->geo.gt, r->W, r->L, r->gt)) {
      grid_text(h, sizeof h, in->width, in->height, in->geo.gt);
      char t[1800];
      snprintf(t, sizeof t, "%s: grid %s differs from the frame's %s", l->path, h, g);
      set_why(l->why, t);
    } else {
      l->use = 1;
      l->block_bytes = (size_t)in->block_w * in->block_h * (in->planar_separate ? 1 : in->bands) * gt_type_size(in->type);
    }
    gt_close(&c, rd);
  }
  /* E, N and U go together (has_enu) */
  if (!(r->layer[L_E].use && r->layer[L_N].use && r->layer[L_U].use))
    for (int i = L_E; i <= L_U; i++)
      if (r->layer[i].use) {
        r->layer[i].use = 0;
        char t[1500];
        snprintf(t, sizeof t, "%s: E, N and U are used only together", r->layer[i].path);
        set_why(r->layer[i].why, t);
      }
}

/* ---------------------------------------------------------------- small inputs */

static char *slurp_small(const char *path, size_t max, size_t *len) {
  int fd;
  if (plat_open(path, PLAT_RDONLY, &fd)) return NULL;
  uint64_t sz = 0;
  plat_fsize(fd, &sz);
  if (sz > max) { plat_close(fd); return NULL; }
  char *b = malloc((size_t)sz + 1);
  size_t got = 0;
  if (!b || plat_pread(fd, b, (size_t)sz, 0, &got)) { plat_close(fd); free(b); return NULL; }
  plat_close(fd);
  b[got] = 0;
  if (len) *len = got;
  return b;
}

/* center_time from metadata.txt: LiCSBAS greps "center_time" and keeps the text after '='. */
static void read_center_time(run *r) {
  char path[1200];
  snprintf(path, sizeof path, "%s/metadata.txt", r->geoc);
  char *t = slurp_small(path, 1 << 20, NULL);
  if (!t) return;
  char *line = strstr(t, "center_time");
  if (line) {
    while (line > t && line[-1] != '\n') line--;
    char *eq = strchr(line, '='), *nl = strchr(line, '\n');
    if (eq && (!nl || eq < nl)) {
      char *v = eq + 1, *e = nl ? nl : v + strlen(v);
      char *eq2 = memchr(v, '=', (size_t)(e - v));
      if (eq2) e = eq2;
      while (v < e && (*v == ' ' || *v == '\t')) v++;
      while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
      snprintf(r->center_time, sizeof r->center_time, "%.*s", (int)(e - v), v);
      r->has_center_time = 1;
    }
  }
  free(t);
}

static int add_range(run *r, lb_range x) {
  if (r->masks.n == r->masks.cap) {
    int cap = r->masks.cap ? 2 * r->masks.cap : 16;
    lb_range *n = realloc(r->masks.r, (size_t)cap * sizeof *n);
    if (!n) return ctx_fail(r->ctx, CBAS_ENOMEM, "out of memory reading mask ranges");
    r->masks.r = n;
    r->masks.cap = cap;
  }
  r->masks.r[r->masks.n++] = x;
  return 0;
}

static int read_masks(run *r) {
  const prep_params *p = r->p;
  char why[300];
  for (int i = 0; i < p->n_mask; i++) {
    lb_range x;
    if (lb_read_range(p->mask[i], r->Wm, r->Lm, &x, why, sizeof why))
      return ctx_fail(r->ctx, CBAS_EUSAGE, "--mask %s: %s", p->mask[i], why);
    if (add_range(r, x)) return r->ctx->status;
  }
  if (p->mask_file) {
    size_t len;
    char *t = slurp_small(p->mask_file, 16u << 20, &len);
    if (!t) return ctx_fail(r->ctx, CBAS_EUSAGE, "--mask-file %s: cannot read", p->mask_file);
    int lineno = 0;
    for (char *s = t; s && *s;) {
      char *nl = strchr(s, '\n');
      if (nl) *nl = 0;
      lineno++;
      char *e = s + strlen(s);
      while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
      while (*s == ' ' || *s == '\t') s++;
      if (*s && *s != '#') {
        lb_range x;
        if (lb_read_range(s, r->Wm, r->Lm, &x, why, sizeof why)) {
          ctx_fail(r->ctx, CBAS_EUSAGE, "--mask-file %s line %d: %s", p->mask_file, lineno, why);
          free(t);
          return r->ctx->status;
        }
        if (add_range(r, x)) { free(t); return r->ctx->status; }
      }
      s = nl ? nl + 1 : NULL;
    }
    free(t);
  }
  return 0;
}

/* NaN where step 04's range masks cover multilooked row y (frame coordinates) of the AOI. */
static void apply_range_masks(const run *r, uint32_t y, float *row) {
  for (int i = 0; i < r->masks.n; i++) {
    const lb_range *m = &r->masks.r[i];
    if (y < m->y0 || y >= m->y1) continue;
    uint32_t a = m->x0 > r->clip.x0 ? m->x0 : r->clip.x0, b = m->x1 < r->clip.x1 ? m->x1 : r->clip.x1;
    for (uint32_t x = a; x < b; x++) row[x - r->clip.x0] = NAN;
  }
}
static int range_masked(const run *r, uint32_t x, uint32_t y) {
  for (int i = 0; i < r->masks.n; i++) {
    const lb_range *m = &r->masks.r[i];
    if (y >= m->y0 && y < m->y1 && x >= m->x0 && x < m->x1) return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- decoding kernels */

/* Reads multilooked rows [y, y+rows) of the AOI (frame rows) of band 0 of g as float32 with
 * no data (0, or NaN already) as NaN, multilooked by n with step 02's rule, into out
 * (rows x nx). in: scratch of rows*n x src_w floats. `scale` multiplies the samples first
 * (255 for float coherence) — float32 arithmetic, as NumPy does. */
static int read_ml_rows(cbas_ctx *c, const run *r, gt_reader *g, uint32_t y, uint32_t rows, float scale,
                        float *in, float *out) {
  uint32_t n = (uint32_t)r->n, sw = r->src_w;
  if (gt_read(c, g, 0, r->src_x0, y * n, sw, rows * n, GT_F32, in, sw)) return c->status;
  size_t cnt = (size_t)rows * n * sw;
  if (scale != 1.0f)
    for (size_t i = 0; i < cnt; i++) in[i] *= scale;
  if (n == 1) {
    for (size_t i = 0; i < cnt; i++) out[i] = in[i] == 0.0f ? NAN : in[i];
    return 0;
  }
  for (size_t i = 0; i < cnt; i++)
    if (in[i] == 0.0f) in[i] = NAN;
  for (uint32_t k = 0; k < rows; k++) lb_multilook_row(in + (size_t)k * n * sw, sw, r->nx, (int)n, r->Wm == 1, out + (size_t)k * r->nx);
  return 0;
}

/* Reads rows [y0, y0+ny) of one date's sltd from the GACOS scratch raster (AOI-sized). */
static int read_sltd(cbas_ctx *ctx, const run *r, uint32_t date, uint32_t y0, uint32_t ny, float *dst) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s.sltd", r->gacos_scratch, r->date[date]);
  int fd, e = plat_open(path, PLAT_RDONLY, &fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: cannot open: %s", path, plat_strerror(e));
  size_t n = (size_t)ny * r->nx * 4, got = 0;
  e = plat_pread(fd, dst, n, (uint64_t)y0 * r->nx * 4, &got);
  plat_close(fd);
  if (e || got != n) return ctx_fail(ctx, CBAS_EIO, "%s: read failed", path);
  return 0;
}

/* Records that item's file failed (message in c) and excludes it; fatal errors stop the run. */
static int item_failed(run *r, cbas_ctx *c, long item) {
  if (fatal_status(c->status)) return ctx_fail(r->ctx, c->status, "%s", c->msg);
  plat_mutex_lock(r->fail_mu);
  if (item < N_LAYER) {
    layer_rec *l = &r->layer[item];
    l->use = 0;
    set_why(l->why, c->msg);
  } else {
    ifg_rec *f = &r->ifg[r->use[item - N_LAYER]];
    exclude(f, "%s", c->msg);
  }
  r->new_failures = 1;
  plat_mutex_unlock(r->fail_mu);
  return 0;
}

static int decode_layer(run *r, int li, int worker) {
  layer_rec *l = &r->layer[li];
  cbas_ctx c;
  child_ctx(r->ctx, &c);
  gt_reader *g;
  if (gt_open(&c, l->path, &g)) return item_failed(r, &c, li);
  float *in = r->in_buf[worker], *out = r->out_unw[worker];
  for (uint32_t y = 0; y < r->ny && !r->ctx->status; y += r->chunk) {
    uint32_t rows = r->ny - y < r->chunk ? r->ny - y : r->chunk;
    if (r->p->decode_only) {
      if (gt_read(&c, g, 0, r->src_x0, (r->clip.y0 + y) * (uint32_t)r->n, r->src_w, rows * (uint32_t)r->n, GT_F32, in, r->src_w)) break;
      continue;
    }
    if (read_ml_rows(&c, r, g, r->clip.y0 + y, rows, 1.0f, in, out)) break;
    if (stack_write_layer_rows(r->ctx, r->sw, LAYER_STACK[li], y, rows, out)) break;
    if (r->lb && lbdir_write_raster(r->ctx, r->lb, LAYER_LB[li], y, rows, out)) break;
  }
  gt_close(&c, g);
  if (c.status) return item_failed(r, &c, li);
  return r->ctx->status;
}

static int decode_ifg(run *r, long item, int worker) {
  uint32_t k = (uint32_t)(item - N_LAYER);
  ifg_rec *f = &r->ifg[r->use[k]];
  cbas_ctx c;
  child_ctx(r->ctx, &c);
  char up[1400], cp[1400];
  ifg_path(r, f, "unw", up, sizeof up);
  ifg_path(r, f, "cc", cp, sizeof cp);
  gt_reader *gu = NULL, *gc = NULL;
  if (gt_open(&c, up, &gu) || gt_open(&c, cp, &gc)) {
    gt_close(&c, gu);
    return item_failed(r, &c, item);
  }
  float *in = r->in_buf[worker], *unw = r->out_unw[worker];
  uint8_t *cc = r->out_cc[worker];
  uint32_t n = (uint32_t)r->n, nx = r->nx;
  float cc_scale = f->cc_type == GT_F32 ? 255.0f : 1.0f;
  for (uint32_t y = 0; y < r->ny && !r->ctx->status; y += r->chunk) {
    uint32_t rows = r->ny - y < r->chunk ? r->ny - y : r->chunk, fy = r->clip.y0 + y;
    if (r->p->decode_only) {
      if (gt_read(&c, gu, 0, r->src_x0, fy * n, r->src_w, rows * n, GT_F32, in, r->src_w) ||
          gt_read(&c, gc, 0, r->src_x0, fy * n, r->src_w, rows * n, GT_F32, in, r->src_w))
        break;
      continue;
    }
    /* step 02: unw 0 -> NaN, multilook */
    if (read_ml_rows(&c, r, gu, fy, rows, 1.0f, in, unw)) break;
    /* step 03: unw - (sltd_sec - sltd_prim), sltd 0 -> NaN */
    if (r->p->gacos_dir) {
      float *sp = r->g_prim[worker], *ss = r->g_sec[worker];
      if (read_sltd(r->ctx, r, (uint32_t)f->prim, y, rows, sp) || read_sltd(r->ctx, r, (uint32_t)f->sec, y, rows, ss)) break;
      for (size_t i = 0; i < (size_t)rows * nx; i++) {
        float a = sp[i] == 0.0f ? NAN : sp[i], b = ss[i] == 0.0f ? NAN : ss[i];
        unw[i] = unw[i] - (b - a);
      }
    }
    /* steps 03/04/05 read the unw back with 0 -> NaN; step 04 range masks */
    for (uint32_t j = 0; j < rows; j++) {
      float *row = unw + (size_t)j * nx;
      for (uint32_t x = 0; x < nx; x++)
        if (row[x] == 0.0f) row[x] = NAN;
      apply_range_masks(r, fy + j, row);
      if (stack_write_unw_row(r->ctx, r->sw, k, y + j, row)) break;
    }
    if (r->ctx->status) break;
    /* step 02: cc (float 0-1 products x255), multilook with 0 -> NaN, uint8 by truncation */
    float *ccf = unw; /* unw rows are written: reuse the buffer */
    if (read_ml_rows(&c, r, gc, fy, rows, cc_scale, in, ccf)) break;
    for (size_t i = 0; i < (size_t)rows * nx; i++) cc[i] = lb_cc_byte(ccf[i]);
    for (uint32_t j = 0; j < rows; j++)
      if (stack_write_cc_row(r->ctx, r->sw, k, y + j, cc + (size_t)j * nx)) break;
  }
  gt_close(&c, gu);
  gt_close(&c, gc);
  if (c.status) return item_failed(r, &c, item);
  return r->ctx->status;
}

static int decode_item(void *ud, long item, int worker) {
  run *r = ud;
  int rc = 0;
  if (item < N_LAYER) {
    if (r->layer[item].use) rc = decode_layer(r, (int)item, worker);
  } else {
    rc = decode_ifg(r, item, worker);
  }
  if (item >= N_LAYER || r->layer[item].use) progress_add(r->bar, 1);
  return rc;
}

/* ---------------------------------------------------------------- GACOS (step 03) */

static int date_index(const run *r, const char *d) {
  uint32_t lo = 0, hi = r->n_date;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    int c = memcmp(r->date[mid], d, 8);
    if (!c) return (int)mid;
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return -1;
}
static int cmp_date9(const void *a, const void *b) { return memcmp(a, b, 8); }

typedef struct gacos_job {
  run *r;
  gacos_grid g;
  lb_range uwin;
  float *u;            /* multilooked U over uwin */
  double wavelength;
} gacos_job;

static int gacos_one(void *ud, long item, int worker) {
  gacos_job *j = ud;
  run *r = j->r;
  (void)worker;
  size_t n = (size_t)r->nx * r->ny;
  float *out = budget_alloc(r->ctx, n * sizeof *out, "prep: GACOS delays of one date on the area");
  if (!out) return r->ctx->status;
  cbas_ctx c;
  child_ctx(r->ctx, &c);
  int avail = 0;
  if (gacos_sltd(&c, r->p->gacos_dir, r->date[item], &j->g, r->clip, j->u, j->wavelength, r->p->fillhole, out, &avail)) {
    budget_free(r->ctx, out);
    if (fatal_status(c.status)) return ctx_fail(r->ctx, c.status, "%s", c.msg);
    ctx_info(r->ctx, "cbas prep: GACOS for %s unusable: %s\n", r->date[item], c.msg);
    return 0;
  }
  if (avail) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.sltd", r->gacos_scratch, r->date[item]);
    int fd, e = plat_open(path, PLAT_WRONLY | PLAT_CREATE | PLAT_TRUNC, &fd);
    if (!e) {
      e = plat_pwrite(fd, out, n * sizeof *out, 0);
      plat_close(fd);
    }
    if (e) { budget_free(r->ctx, out); return ctx_fail(r->ctx, CBAS_EIO, "%s: cannot write: %s", path, plat_strerror(e)); }
    r->date_ok[item] = 1;
  }
  budget_free(r->ctx, out);
  return 0;
}

/* Reads U (multilooked, NaN = no data) over window w of the multilooked frame into u. */
static int read_u_window(run *r, lb_range w, float *u) {
  cbas_ctx c;
  child_ctx(r->ctx, &c);
  gt_reader *g;
  if (gt_open(&c, r->layer[L_U].path, &g)) return ctx_fail(r->ctx, c.status, "%s", c.msg);
  uint32_t n = (uint32_t)r->n, ww = w.x1 - w.x0, sw = ww * n;
  float *in = budget_alloc(r->ctx, (size_t)sw * n * sizeof *in, "prep: U rows for GACOS");
  if (!in) { gt_close(&c, g); return r->ctx->status; }
  for (uint32_t y = w.y0; y < w.y1 && !c.status; y++) {
    if (gt_read(&c, g, 0, w.x0 * n, y * n, sw, n, GT_F32, in, sw)) break;
    float *o = u + (size_t)(y - w.y0) * ww;
    for (size_t i = 0; i < (size_t)sw * n; i++)
      if (in[i] == 0.0f) in[i] = NAN;
    if (n == 1) memcpy(o, in, (size_t)ww * sizeof *o);
    else lb_multilook_row(in, sw, ww, (int)n, r->Wm == 1, o);
  }
  budget_free(r->ctx, in);
  gt_close(&c, g);
  if (c.status) return ctx_fail(r->ctx, c.status, "%s", c.msg);
  return 0;
}

static int prepare_gacos(run *r) {
  const prep_params *p = r->p;
  plat_stat st;
  plat_stat_path(p->gacos_dir, &st);
  if (!st.is_dir) return ctx_fail(r->ctx, CBAS_EUSAGE, "--gacos %s: no such directory", p->gacos_dir);
  if (!r->layer[L_U].use)
    return ctx_fail(r->ctx, CBAS_EDATA, "--gacos needs the frame's U (*.geo.U.tif) in %s to map zenith to slant delays%s%s",
                    r->geoc, r->layer[L_U].why[0] ? ": " : "", r->layer[L_U].why);
  /* dates of the candidate interferograms */
  uint32_t n_live = 0;
  for (uint32_t i = 0; i < r->n_ifg; i++) n_live += !r->ifg[i].excluded;
  r->date = calloc(2 * (size_t)n_live + 1, sizeof *r->date);
  if (!r->date) return ctx_fail(r->ctx, CBAS_ENOMEM, "out of memory");
  uint32_t nd = 0;
  for (uint32_t i = 0; i < r->n_ifg; i++) {
    if (r->ifg[i].excluded) continue;
    memcpy(r->date[nd++], r->ifg[i].name, 8);
    memcpy(r->date[nd++], r->ifg[i].name + 9, 8);
  }
  qsort(r->date, nd, sizeof *r->date, cmp_date9);
  uint32_t u = 0;
  for (uint32_t i = 0; i < nd; i++)
    if (!u || memcmp(r->date[u - 1], r->date[i], 8)) memcpy(r->date[u++], r->date[i], 9);
  r->n_date = u;
  r->date_ok = calloc(u + 1, sizeof *r->date_ok);
  if (!r->date_ok) return ctx_fail(r->ctx, CBAS_ENOMEM, "out of memory");
  snprintf(r->gacos_scratch, sizeof r->gacos_scratch, "%s.tmp%d-gacos", p->out_dir, plat_pid());
  afile_rm_tree(r->gacos_scratch);
  int e = plat_mkdir_p(r->gacos_scratch);
  if (e) return ctx_fail(r->ctx, CBAS_EIO, "%s: cannot create: %s", r->gacos_scratch, plat_strerror(e));
  gacos_job j = {r, {r->Wm, r->Lm, r->gt[3] + r->gt[5] / 2, r->gt[0] + r->gt[1] / 2, r->gt[5] * r->n, r->gt[1] * r->n},
                 {0, 0, 0, 0}, NULL, 299792458.0 / p->freq_hz};
  j.uwin = gacos_u_window(&j.g, r->clip);
  j.u = budget_alloc(r->ctx, (size_t)(j.uwin.x1 - j.uwin.x0) * (j.uwin.y1 - j.uwin.y0) * sizeof *j.u, "prep: U on the area");
  if (!j.u) return r->ctx->status;
  if (read_u_window(r, j.uwin, j.u)) { budget_free(r->ctx, j.u); return r->ctx->status; }
  par_for(r->ctx, r->n_date, gacos_one, &j);
  budget_free(r->ctx, j.u);
  if (r->ctx->status) return r->ctx->status;
  for (uint32_t i = 0; i < r->n_ifg; i++) {
    ifg_rec *f = &r->ifg[i];
    if (f->excluded) continue;
    f->prim = date_index(r, f->name);
    f->sec = date_index(r, f->name + 9);
    if (!r->date_ok[f->prim]) exclude(f, "no usable GACOS delay for %.8s", f->name);
    else if (!r->date_ok[f->sec]) exclude(f, "no usable GACOS delay for %.8s", f->name + 9);
  }
  return 0;
}

/* ---------------------------------------------------------------- planning */

static void sweep_cb_name(const char *base, const char *name, const char *parent) {
  size_t bl = strlen(base);
  if (strncmp(name, base, bl) || strncmp(name + bl, ".tmp", 4) || name[bl + 4] < '0' || name[bl + 4] > '9') return;
  char p[2200];
  snprintf(p, sizeof p, "%s/%s", parent, name);
  afile_rm_tree(p);
}
typedef struct sweep_ud { const char *base, *parent; } sweep_ud;
static int sweep_cb(void *ud, const char *name) {
  sweep_ud *s = ud;
  sweep_cb_name(s->base, name, s->parent);
  return 0;
}
/* Removes "<path>.tmp<digits>..." siblings left by a killed run. */
static void sweep_stale(const char *path) {
  char parent[1100];
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!slash) snprintf(parent, sizeof parent, ".");
  else if (slash == path) snprintf(parent, sizeof parent, "/");
  else snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
  if (!*base) return;
  sweep_ud s = {base, parent};
  plat_listdir(parent, sweep_cb, &s);
}

static int nonempty_cb(void *ud, const char *name) { (void)name; *(int *)ud = 1; return 1; }

static int check_replaceable(cbas_ctx *ctx, const char *opt, const char *dir, const char *marker) {
  plat_stat st;
  plat_stat_path(dir, &st);
  if (!st.exists) return 0;
  if (!st.is_dir) return ctx_fail(ctx, CBAS_EUSAGE, "%s %s: exists and is not a directory", opt, dir);
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", dir, marker);
  plat_stat_path(path, &st);
  if (st.exists) return 0;
  int any = 0;
  plat_listdir(dir, nonempty_cb, &any);
  if (any)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s %s: exists, is not empty and has no %s: refusing to replace it", opt, dir,
                    marker);
  return 0;
}

static int validate_params(cbas_ctx *ctx, const prep_params *p) {
  if (!p->geoc_dir) return ctx_fail(ctx, CBAS_EUSAGE, "--geoc is required");
  if (!p->out_dir) return ctx_fail(ctx, CBAS_EUSAGE, "--out is required");
  if (p->nlook < 1) return ctx_fail(ctx, CBAS_EUSAGE, "--nlook %d: must be >= 1", p->nlook);
  if (!(p->freq_hz > 0)) return ctx_fail(ctx, CBAS_EUSAGE, "--freq %g: must be > 0", p->freq_hz);
  if (p->clip && p->clip_geo) return ctx_fail(ctx, CBAS_EUSAGE, "--clip and --clip-geo: give one, not both");
  if (p->fillhole && !p->gacos_dir) return ctx_fail(ctx, CBAS_EUSAGE, "--fillhole needs --gacos");
  if (p->start && (strlen(p->start) != 8 || !lb_valid_date(p->start)))
    return ctx_fail(ctx, CBAS_EUSAGE, "--start %s: not a date YYYYMMDD", p->start);
  if (p->end && (strlen(p->end) != 8 || !lb_valid_date(p->end)))
    return ctx_fail(ctx, CBAS_EUSAGE, "--end %s: not a date YYYYMMDD", p->end);
  if (p->start && p->end && strcmp(p->start, p->end) > 0)
    return ctx_fail(ctx, CBAS_EUSAGE, "--start %s is after --end %s", p->start, p->end);
  if (p->n_mask < 0 || p->n_mask > PREP_MAX_MASKS) return ctx_fail(ctx, CBAS_EUSAGE, "too many --mask ranges");
  if (p->mask_coh == p->mask_coh && (p->mask_coh < 0 || p->mask_coh > 1))
    return ctx_fail(ctx, CBAS_EUSAGE, "--mask-coh %g: must lie in [0, 1]", p->mask_coh);
  if (p->licsbas_dir && !strcmp(p->licsbas_dir, p->out_dir))
    return ctx_fail(ctx, CBAS_EUSAGE, "--licsbas-layout must differ from --out");
  return 0;
}

/* Chooses the number of workers and the chunk height from the budget (prep.h: Memory). */
static int plan_memory(run *r, uint32_t n_jobs) {
  cbas_ctx *ctx = r->ctx;
  size_t max_block = 0;
  for (uint32_t i = 0; i < r->n_ifg; i++)
    if (!r->ifg[i].excluded && r->ifg[i].block_bytes > max_block) max_block = r->ifg[i].block_bytes;
  for (int i = 0; i < N_LAYER; i++)
    if (r->layer[i].use && r->layer[i].block_bytes > max_block) max_block = r->layer[i].block_bytes;
  uint64_t n = (uint64_t)r->n;
  uint64_t per_row = n * r->src_w * 4 + (uint64_t)r->nx * 5 + (r->p->gacos_dir ? (uint64_t)r->nx * 8 : 0);
  uint64_t fixed = 2 * (max_block + READER_OVERHEAD) + 6 * 64;
  uint64_t one = per_row + fixed, avail = budget_avail(ctx);
  if (avail < one) {
    char what[200];
    snprintf(what, sizeof what, "decoding (one worker: %u source columns x %d rows + two decoded strips of %.1f MB)",
             r->src_w, r->n, mb(max_block));
    return budget_require(ctx, one, what);
  }
  int workers = ctx->n_threads < 1 ? 1 : ctx->n_threads;
  if ((uint32_t)workers > n_jobs) workers = (int)(n_jobs ? n_jobs : 1);
  if ((uint64_t)workers * one > avail) {
    int fit = (int)(avail / one);
    ctx_info(ctx, "cbas prep: --mem %.0f MB holds %d decoding workers, not %d\n", mb(ctx->budget->limit), fit, workers);
    workers = fit;
  }
  uint64_t rows = (avail / (uint64_t)workers - fixed) / per_row;
  uint64_t cap = IN_CHUNK_CAP / (n * r->src_w * 4);
  if (cap < 1) cap = 1;
  if (rows > cap) rows = cap;
  if (rows > r->ny) rows = r->ny;
  if (rows < 1) rows = 1;
  r->workers = workers;
  r->chunk = (uint32_t)rows;
  return 0;
}

static int alloc_workers(run *r) {
  int w = r->workers;
  r->in_buf = calloc((size_t)w, sizeof *r->in_buf);
  r->out_unw = calloc((size_t)w, sizeof *r->out_unw);
  r->out_cc = calloc((size_t)w, sizeof *r->out_cc);
  r->g_prim = calloc((size_t)w, sizeof *r->g_prim);
  r->g_sec = calloc((size_t)w, sizeof *r->g_sec);
  if (!r->in_buf || !r->out_unw || !r->out_cc || !r->g_prim || !r->g_sec)
    return ctx_fail(r->ctx, CBAS_ENOMEM, "out of memory");
  size_t rows = r->chunk, nx = r->nx;
  for (int i = 0; i < w; i++) {
    r->in_buf[i] = budget_alloc(r->ctx, rows * (size_t)r->n * r->src_w * 4, "prep: input chunk");
    r->out_unw[i] = budget_alloc(r->ctx, rows * nx * 4, "prep: output rows");
    r->out_cc[i] = budget_alloc(r->ctx, rows * nx, "prep: output rows");
    if (!r->in_buf[i] || !r->out_unw[i] || !r->out_cc[i]) return r->ctx->status;
    if (r->p->gacos_dir) {
      r->g_prim[i] = budget_alloc(r->ctx, rows * nx * 4, "prep: GACOS rows");
      r->g_sec[i] = budget_alloc(r->ctx, rows * nx * 4, "prep: GACOS rows");
      if (!r->g_prim[i] || !r->g_sec[i]) return r->ctx->status;
    }
  }
  return 0;
}
static void free_workers(run *r) {
  for (int i = 0; i < r->workers; i++) {
    if (r->in_buf) budget_free(r->ctx, r->in_buf[i]);
    if (r->out_unw) budget_free(r->ctx, r->out_unw[i]);
    if (r->out_cc) budget_free(r->ctx, r->out_cc[i]);
    if (r->g_prim) budget_free(r->ctx, r->g_prim[i]);
    if (r->g_sec) budget_free(r->ctx, r->g_sec[i]);
  }
  free(r->in_buf); free(r->out_unw); free(r->out_cc); free(r->g_prim); free(r->g_sec);
  r->in_buf = r->out_unw = r->g_prim = r->g_sec = NULL;
  r->out_cc = NULL;
}

/* ---------------------------------------------------------------- stack metadata */

static int build_meta(run *r, stack_meta *m) {
  if (stack_meta_alloc(r->ctx, m, r->n_use, 0)) return r->ctx->status;
  for (uint32_t k = 0; k < r->n_use; k++) memcpy(m->ifg[k], r->ifg[r->use[k]].name, 18);
  if (stack_meta_index_epochs(r->ctx, m)) return r->ctx->status;
  double n = r->n;
  m->width = r->nx;
  m->length = r->ny;
  /* exact geotransform of the clipped, multilooked grid */
  m->gt[0] = r->gt[0] + (double)(r->clip.x0 * (uint32_t)r->n) * r->gt[1];
  m->gt[1] = r->gt[1] * n;
  m->gt[2] = 0;
  m->gt[3] = r->gt[3] + (double)(r->clip.y0 * (uint32_t)r->n) * r->gt[5];
  m->gt[4] = 0;
  m->gt[5] = r->gt[5] * n;
  /* LiCSBAS: step 02 corner = edge + original half pixel (quirk), post = step * n; step 05
   * corner' = corner + post * y1 */
  double lat1 = r->gt[3] + r->gt[5] / 2, lon1 = r->gt[0] + r->gt[1] / 2;
  m->post_lat = r->gt[5] * n;
  m->post_lon = r->gt[1] * n;
  m->corner_lat = lat1 + m->post_lat * (double)r->clip.y0;
  m->corner_lon = lon1 + m->post_lon * (double)r->clip.x0;
  m->radar_freq_hz = r->p->freq_hz;
  m->nlook = r->n;
  m->clip_x0 = r->clip.x0; m->clip_x1 = r->clip.x1; m->clip_y0 = r->clip.y0; m->clip_y1 = r->clip.y1;
  m->frame_width = r->Wm;
  m->frame_length = r->Lm;
  snprintf(m->center_time, sizeof m->center_time, "%s", r->center_time);
  m->has_hgt = r->layer[L_HGT].use;
  m->has_enu = r->layer[L_E].use && r->layer[L_N].use && r->layer[L_U].use;
  /* baselines (read_bperp_file); incomplete files leave every bperp unknown */
  char path[1200], why[200];
  snprintf(path, sizeof path, "%s/baselines", r->geoc);
  plat_stat st;
  plat_stat_path(path, &st);
  r->bperp_complete = 0;
  if (st.exists) {
    int missing = lb_read_bperp(path, (const char(*)[9])m->epoch, m->n_epoch, m->bperp_m, why, sizeof why);
    if (missing < 0) ctx_info(r->ctx, "cbas prep: %s: cannot read (%s); perpendicular baselines unknown\n", path, why);
    else if (missing > 0) {
      ctx_info(r->ctx, "cbas prep: %s lacks %d of the %u dates; perpendicular baselines unknown\n", path, missing, m->n_epoch);
      for (uint32_t i = 0; i < m->n_epoch; i++) m->bperp_m[i] = NAN;
    } else r->bperp_complete = 1;
  }
  return 0;
}

/* LiCSBAS's dummy baselines file (make_dummy_bperp), with 0 m instead of random values. */
static char *dummy_baselines(const stack_meta *m, size_t *len) {
  size_t cap = (size_t)m->n_epoch * 64 + 1;
  char *t = malloc(cap);
  if (!t) return NULL;
  size_t o = 0;
  long d0 = m->n_epoch ? lb_day_number(m->epoch[0]) : 0;
  for (uint32_t i = 0; i < m->n_epoch; i++) {
    long dt = lb_day_number(m->epoch[i]) - d0;
    o += (size_t)snprintf(t + o, cap - o, "%3u %s %s %5.2f %4ld %d %4ld %d %5.2f\n", i, m->epoch[0], m->epoch[i], 0.0,
                          dt, 0, dt, 0, 0.0);
  }
  *len = o;
  return t;
}

static int start_layout(run *r, const stack_meta *m) {
  lbdir_info in = {m->width, m->length, m->corner_lat, m->corner_lon, m->post_lat, m->post_lon, m->radar_freq_hz,
                   r->has_center_time ? r->center_time : NULL, r->p->clip || r->p->clip_geo, r->clip};
  if (lbdir_create(r->ctx, r->p->licsbas_dir, &in, &r->lb)) return r->ctx->status;
  char path[1200];
  snprintf(path, sizeof path, "%s/baselines", r->geoc);
  size_t len = 0;
  char *t = r->bperp_complete ? slurp_small(path, 16u << 20, &len) : dummy_baselines(m, &len);
  if (!t) return ctx_fail(r->ctx, CBAS_EIO, "%s: cannot read", path);
  int rc = lbdir_put(r->ctx, r->lb, "baselines", t, len);
  free(t);
  return rc;
}

/* ---------------------------------------------------------------- finishing pass */

/* Coherence mask (step 04 -c) and the LiCSBAS folder's interferograms, by blocks of rows of
 * the written stack: coh_avg accumulates over interferograms in list order, as step 04. */
static int finish_pass(run *r, const stack_meta *m) {
  cbas_ctx *ctx = r->ctx;
  uint32_t nk = m->n_ifg, nx = m->width;
  uint64_t per_row = (uint64_t)nk * nx * 5 + (uint64_t)nx * (4 + 2 + 4 + 4);
  uint64_t need_unw_copy = r->lb ? (uint64_t)nx * 5 * 1 : 0;
  uint64_t avail = budget_avail(ctx);
  if (avail < per_row + need_unw_copy + 1024) {
    if (budget_require(ctx, per_row + need_unw_copy + 1024, "masking/copying one row of every interferogram")) return ctx->status;
  }
  uint64_t b = (avail - 1024) / (per_row + need_unw_copy);
  if (b > m->length) b = m->length;
  if (b < 1) b = 1;
  uint32_t B = (uint32_t)b;
  float *unw = budget_alloc(ctx, (size_t)B * nk * nx * 4, "prep: rows of all interferograms");
  uint8_t *cc = budget_alloc(ctx, (size_t)B * nk * nx, "prep: rows of all interferograms");
  float *sum = budget_alloc(ctx, (size_t)B * nx * 4, "prep: coh_avg");
  int16_t *cnt = budget_alloc(ctx, (size_t)B * nx * 2, "prep: coh_avg");
  float *coh = budget_alloc(ctx, (size_t)B * nx * 4, "prep: coh_avg");
  float *mask = budget_alloc(ctx, (size_t)B * nx * 4, "prep: mask");
  float *lu = r->lb ? budget_alloc(ctx, (size_t)B * nx * 4, "prep: LiCSBAS rows") : NULL;
  uint8_t *lc = r->lb ? budget_alloc(ctx, (size_t)B * nx, "prep: LiCSBAS rows") : NULL;
  int any_mask = r->coh_mask || r->masks.n > 0;
  progress *bar = progress_start(ctx, "finish", m->length);
  for (uint32_t y0 = 0; y0 < m->length && !ctx->status; y0 += B) {
    if (!unw || !cc || !sum || !cnt || !coh || !mask || (r->lb && (!lu || !lc))) break;
    uint32_t rows = m->length - y0 < B ? m->length - y0 : B;
    if (stack_writer_read_cc(ctx, r->sw, y0, rows, cc) || stack_writer_read_unw(ctx, r->sw, y0, rows, unw)) break;
    for (uint32_t j = 0; j < rows; j++) {
      float *s = sum + (size_t)j * nx, *ca = coh + (size_t)j * nx, *mk = mask + (size_t)j * nx;
      int16_t *c = cnt + (size_t)j * nx;
      memset(s, 0, nx * sizeof *s);
      memset(c, 0, nx * sizeof *c);
      for (uint32_t k = 0; k < nk; k++) lb_coh_accumulate(cc + ((size_t)j * nk + k) * nx, nx, s, c);
      lb_coh_finish(s, c, nx, ca);
      for (uint32_t x = 0; x < nx; x++)
        mk[x] = (r->coh_mask && lb_coh_masked(ca[x], r->p->mask_coh)) ||
                        range_masked(r, r->clip.x0 + x, r->clip.y0 + y0 + j)
                    ? 0.0f
                    : 1.0f;
      if (!r->coh_mask) continue;
      for (uint32_t k = 0; k < nk; k++) {
        float *u = unw + ((size_t)j * nk + k) * nx;
        for (uint32_t x = 0; x < nx; x++)
          if (mk[x] == 0.0f) u[x] = NAN;
        if (stack_write_unw_row(ctx, r->sw, k, y0 + j, u)) break;
      }
    }
    if (ctx->status || !r->lb) { progress_add(bar, rows); continue; }
    for (uint32_t k = 0; k < nk && !ctx->status; k++) {
      for (uint32_t j = 0; j < rows; j++) {
        memcpy(lu + (size_t)j * nx, unw + ((size_t)j * nk + k) * nx, nx * 4);
        memcpy(lc + (size_t)j * nx, cc + ((size_t)j * nk + k) * nx, nx);
      }
      lbdir_write_ifg_rows(ctx, r->lb, m->ifg[k], y0, rows, lu, lc);
    }
    if (!ctx->status && any_mask) lbdir_write_raster(ctx, r->lb, "mask", y0, rows, mask);
    if (!ctx->status && r->coh_mask) lbdir_write_raster(ctx, r->lb, "coh_avg", y0, rows, coh);
    progress_add(bar, rows);
  }
  progress_end(bar);
  int st = ctx->status;
  budget_free(ctx, unw); budget_free(ctx, cc); budget_free(ctx, sum); budget_free(ctx, cnt);
  budget_free(ctx, coh); budget_free(ctx, mask); budget_free(ctx, lu); budget_free(ctx, lc);
  return st;
}

/* ---------------------------------------------------------------- summary */

typedef struct excl_line { const char *name, *why; } excl_line;
static int cmp_excl(const void *a, const void *b) { return strcmp(((const excl_line *)a)->name, ((const excl_line *)b)->name); }

static void print_exclusions(run *r) {
  uint32_t n = r->n_bad;
  for (uint32_t i = 0; i < r->n_ifg; i++) n += r->ifg[i].excluded;
  r->rep->n_excluded = n;
  for (int i = 0; i < N_LAYER; i++)
    if (r->layer[i].present && !r->layer[i].use && r->layer[i].why[0])
      ctx_info(r->ctx, "cbas prep: %s layer not used: %s\n", LAYER_STACK[i], r->layer[i].why);
  if (!n) return;
  excl_line *l = malloc(n * sizeof *l);
  if (!l) return;
  uint32_t o = 0;
  for (uint32_t i = 0; i < r->n_bad; i++) l[o++] = (excl_line){r->bad[i].name, r->bad[i].why};
  for (uint32_t i = 0; i < r->n_ifg; i++)
    if (r->ifg[i].excluded) l[o++] = (excl_line){r->ifg[i].name, r->ifg[i].why};
  qsort(l, n, sizeof *l, cmp_excl);
  ctx_info(r->ctx, "cbas prep: excluded %u of %u interferogram folders:\n", n, r->n_ifg + r->n_bad);
  for (uint32_t i = 0; i < n; i++) ctx_info(r->ctx, "  %s: %s\n", l[i].name, l[i].why);
  free(l);
}

/* ---------------------------------------------------------------- the run */

static void free_run(run *r) {
  free(r->ifg);
  free(r->bad);
  free(r->masks.r);
  free(r->date);
  free(r->date_ok);
  free(r->use);
  free_workers(r);
  if (r->fail_mu) plat_mutex_free(r->fail_mu);
  if (r->gacos_scratch[0]) afile_rm_tree(r->gacos_scratch);
}

/* Screening and planning (phases 1–2). */
static int plan(run *r) {
  cbas_ctx *ctx = r->ctx;
  const prep_params *p = r->p;
  list_ud lu = {r};
  int e = plat_listdir(r->geoc, list_cb, &lu);
  if (ctx->status) return ctx->status;
  if (e) return ctx_fail(ctx, CBAS_EIO, "--geoc %s: cannot list: %s", r->geoc, plat_strerror(e));
  r->rep->n_candidates = r->n_ifg;
  if (par_for(ctx, r->n_ifg, screen_one, r)) return ctx->status;
  if (!choose_grid(r)) {
    print_exclusions(r);
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: no usable interferogram (%u folders found, %u excluded)", r->geoc,
                    r->n_ifg + r->n_bad, r->rep->n_excluded);
  }
  if (r->gt[2] != 0 || r->gt[4] != 0)
    return ctx_fail(ctx, CBAS_EUNSUP, "%s: rotated geotransforms are not supported", r->geoc);
  r->n = p->nlook;
  r->Wm = r->W / (uint32_t)r->n;
  r->Lm = r->L / (uint32_t)r->n;
  if (!r->Wm || !r->Lm)
    return ctx_fail(ctx, CBAS_EUSAGE, "--nlook %d: larger than the %ux%u frame", p->nlook, r->W, r->L);
  char why[400];
  if (p->clip) {
    if (lb_read_range(p->clip, r->Wm, r->Lm, &r->clip, why, sizeof why))
      return ctx_fail(ctx, CBAS_EUSAGE, "--clip %s: %s (multilooked frame %ux%u)", p->clip, why, r->Wm, r->Lm);
  } else if (p->clip_geo) {
    double n = r->n;
    if (lb_read_range_geo(p->clip_geo, r->Wm, r->Lm, r->gt[3] + r->gt[5] / 2, r->gt[5] * n, r->gt[0] + r->gt[1] / 2,
                          r->gt[1] * n, &r->clip, why, sizeof why))
      return ctx_fail(ctx, CBAS_EUSAGE, "--clip-geo %s: %s", p->clip_geo, why);
  } else {
    r->clip = (lb_range){0, r->Wm, 0, r->Lm};
  }
  r->nx = r->clip.x1 - r->clip.x0;
  r->ny = r->clip.y1 - r->clip.y0;
  r->src_x0 = r->clip.x0 * (uint32_t)r->n;
  r->src_w = r->nx * (uint32_t)r->n;
  r->rep->clip = r->clip;
  r->rep->frame_width = r->Wm;
  r->rep->frame_length = r->Lm;
  if (read_masks(r)) return ctx->status;
  r->coh_mask = p->mask_coh == p->mask_coh && p->mask_coh != 0;
  screen_layers(r);
  read_center_time(r);
  if (p->gacos_dir && !p->decode_only && prepare_gacos(r)) return ctx->status;
  return 0;
}

/* One decoding pass into a new stack writer (phase 3). Returns 0 with r->new_failures set
 * when some file failed to decode (the caller runs the pass again without it). */
static int decode_pass(run *r, stack_meta *m) {
  cbas_ctx *ctx = r->ctx;
  free(r->use);
  r->use = malloc((r->n_ifg + 1) * sizeof *r->use);
  if (!r->use) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  r->n_use = 0;
  for (uint32_t i = 0; i < r->n_ifg; i++)
    if (!r->ifg[i].excluded) r->use[r->n_use++] = i;
  if (!r->n_use) {
    print_exclusions(r);
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: no usable interferogram left (%u folders found, %u excluded)", r->geoc,
                    r->n_ifg + r->n_bad, r->rep->n_excluded);
  }
  uint32_t n_jobs = N_LAYER + r->n_use;
  free_workers(r);
  if (plan_memory(r, n_jobs) || alloc_workers(r)) return ctx->status;
  if (!r->p->decode_only) {
    if (build_meta(r, m) || stack_create(ctx, r->p->out_dir, m, &r->sw)) return ctx->status;
    if (r->p->licsbas_dir && start_layout(r, m)) return ctx->status;
  }
  r->new_failures = 0;
  uint32_t n_layers = 0;
  for (int i = 0; i < N_LAYER; i++) n_layers += r->layer[i].use;
  r->bar = progress_start(ctx, r->p->decode_only ? "decode-only" : "prep", n_layers + r->n_use);
  int saved = ctx->n_threads;
  ctx->n_threads = r->workers;
  par_for(ctx, n_jobs, decode_item, r);
  ctx->n_threads = saved;
  progress_end(r->bar);
  r->bar = NULL;
  r->rep->workers = r->workers;
  r->rep->chunk_rows = r->chunk;
  return ctx->status;
}

static void abort_outputs(run *r, stack_meta *m) {
  stack_abort(r->sw);
  r->sw = NULL;
  lbdir_abort(r->lb);
  r->lb = NULL;
  stack_meta_free(m);
}

/* dst = path without trailing slashes ("/" stays). */
static int strip_slashes(cbas_ctx *ctx, const char *opt, const char *path, char *dst, size_t cap) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  if (n + 64 >= cap) return ctx_fail(ctx, CBAS_EUSAGE, "%s %s: path too long", opt, path);
  memcpy(dst, path, n);
  dst[n] = 0;
  return 0;
}

int prep_run(cbas_ctx *ctx, const prep_params *params, prep_report *rep) {
  prep_report dummy;
  if (!rep) rep = &dummy;
  memset(rep, 0, sizeof *rep);
  if (validate_params(ctx, params)) return ctx->status;
  /* "STACKDIR/" names the same directory; its temporaries are siblings "STACKDIR.tmp<pid>" */
  char out[1024], lbd[1024];
  prep_params q = *params;
  const prep_params *p = &q;
  if (strip_slashes(ctx, "--out", params->out_dir, out, sizeof out)) return ctx->status;
  q.out_dir = out;
  if (params->licsbas_dir) {
    if (strip_slashes(ctx, "--licsbas-layout", params->licsbas_dir, lbd, sizeof lbd)) return ctx->status;
    q.licsbas_dir = lbd;
    if (!strcmp(out, lbd)) return ctx_fail(ctx, CBAS_EUSAGE, "--licsbas-layout must differ from --out");
  }
  plat_stat st;
  plat_stat_path(p->geoc_dir, &st);
  if (!st.is_dir) return ctx_fail(ctx, CBAS_EUSAGE, "--geoc %s: no such directory", p->geoc_dir);
  if (!p->decode_only) {
    if (check_replaceable(ctx, "--out", p->out_dir, "stack.par")) return ctx->status;
    if (p->licsbas_dir && check_replaceable(ctx, "--licsbas-layout", p->licsbas_dir, "EQA.dem_par")) return ctx->status;
    sweep_stale(p->out_dir);
    if (p->licsbas_dir) sweep_stale(p->licsbas_dir);
  }
  run r;
  memset(&r, 0, sizeof r);
  r.ctx = ctx;
  r.p = p;
  r.rep = rep;
  snprintf(r.geoc, sizeof r.geoc, "%s", p->geoc_dir);
  if (plat_mutex_new(&r.fail_mu)) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  stack_meta m;
  memset(&m, 0, sizeof m);
  if (plan(&r)) { free_run(&r); return ctx->status; }
  for (int attempt = 0;; attempt++) {
    if (decode_pass(&r, &m)) { abort_outputs(&r, &m); free_run(&r); return ctx->status; }
    if (!r.new_failures) break;
    abort_outputs(&r, &m);
    if (attempt + 1 >= MAX_ATTEMPTS) {
      print_exclusions(&r);
      free_run(&r);
      return ctx_fail(ctx, CBAS_EDATA, "%s: files kept failing to decode after %d passes", r.geoc, MAX_ATTEMPTS);
    }
    ctx_info(ctx, "cbas prep: some files failed to decode; running the pass again without them\n");
  }
  free_workers(&r);
  if (!p->decode_only) {
    if ((r.coh_mask || r.lb) && finish_pass(&r, &m)) { abort_outputs(&r, &m); free_run(&r); return ctx->status; }
    if (r.lb) {
      /* no_unw_list.txt: interferograms left out, as step 02 lists them */
      size_t cap = (size_t)(r.n_ifg + 1) * 20, o = 0;
      char *t = malloc(cap);
      if (!t) { ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); abort_outputs(&r, &m); free_run(&r); return ctx->status; }
      for (uint32_t i = 0; i < r.n_ifg; i++)
        if (r.ifg[i].excluded) o += (size_t)snprintf(t + o, cap - o, "%s\n", r.ifg[i].name);
      int rc = o ? lbdir_put(ctx, r.lb, "no_unw_list.txt", t, o) : 0;
      free(t);
      if (rc) { abort_outputs(&r, &m); free_run(&r); return ctx->status; }
    }
    uint64_t plane = (uint64_t)m.width * m.length;
    rep->bytes_written = plane * m.n_ifg * 5 + plane * 4 * ((uint64_t)m.has_hgt + 3 * (uint64_t)m.has_enu);
    if (r.lb) rep->bytes_written += lbdir_bytes(r.lb);
    int rc = stack_commit(ctx, r.sw);
    r.sw = NULL;
    if (rc) { abort_outputs(&r, &m); free_run(&r); return ctx->status; }
    if (r.lb) {
      rc = lbdir_commit(ctx, r.lb);
      r.lb = NULL;
      if (rc) { stack_meta_free(&m); free_run(&r); return ctx->status; }
    }
  }
  rep->n_used = r.n_use;
  uint64_t files = 2 * (uint64_t)r.n_use;
  for (int i = 0; i < N_LAYER; i++) files += r.layer[i].use;
  rep->bytes_decoded = files * (uint64_t)r.ny * (uint64_t)r.n * r.src_w * 4;
  print_exclusions(&r);
  stack_meta_free(&m);
  free_run(&r);
  return 0;
}
