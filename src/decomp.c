/* decomp.c — LOS decomposition to east-west and vertical (see include/cbas/decomp.h). */
#include "cbas/decomp.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cbas/stack.h"
#include "cbas/tools.h"
#include "cbas/tsdir.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- exact pieces */

int64_t decomp_nano(double v) {
  /* v*1e9 = p + err exactly (fma gives the rounding error of the product) */
  double p = v * 1e9, err = fma(v, 1e9, -p);
  double f = floor(p), t = p - f;        /* t exact, in [0, 1) */
  double d = t - 0.5;                    /* exact when it matters (t near 0.5) */
  int64_t n = (int64_t)f;
  if (d > -err) return n + 1;
  if (d < -err) return n;
  return (n % 2 == 0) ? n : n + 1;       /* exactly half: to even */
}

void decomp_med_init(decomp_med *m) {
  m->n_pos = m->n_neg = 0;
  m->min_pos = INFINITY;
  m->max_neg = -INFINITY;
}

void decomp_med_add(decomp_med *m, float v) {
  if (v > 0) {
    m->n_pos++;
    if (v < m->min_pos) m->min_pos = v;
  } else if (v < 0) {
    m->n_neg++;
    if (v > m->max_neg) m->max_neg = v;
  }
}

int decomp_med_sign(const decomp_med *m) {
  uint64_t n = m->n_pos + m->n_neg;
  if (!n) return 2;
  if (m->n_pos > m->n_neg) return 1;   /* the middle value(s) are positive */
  if (m->n_pos < m->n_neg) return -1;
  /* even count split in two: the mean of the largest negative and the smallest positive */
  float s = m->max_neg + m->min_pos;
  return s > 0 ? 1 : s < 0 ? -1 : 0;
}

void decomp_solve(int n, const float *d, const float *e, const float *u, float *ew, float *ud) {
  float a11 = 0, a12 = 0, a22 = 0, be = 0, bu = 0;
  for (int i = 0; i < n; i++) {
    a11 = a11 + e[i] * e[i];
    a12 = a12 + e[i] * u[i];
    a22 = a22 + u[i] * u[i];
    be = be + e[i] * d[i];
    bu = bu + u[i] * d[i];
  }
  float det = a11 * a22 - a12 * a12;
  if (det == 0) {
    *ew = *ud = NAN;
    return;
  }
  float detinv = 1.0f / det;
  float t1 = a22 * be, t2 = a12 * bu, t3 = -a12 * be, t4 = a11 * bu;
  *ew = detinv * (t1 - t2);
  *ud = detinv * (t3 + t4);
}

/* ---------------------------------------------------------------- raster sources */

typedef struct wsrc {
  const char *name;       /* file (or stack dir + layer) for messages */
  const char *layer;      /* stack layer "E", "N", "U", or NULL for a GeoTIFF */
  gt_reader *r;
  stack *s;               /* borrowed from the input */
  uint32_t w, h;
  double gt[6];
  warp_plan plan;
  float *rows;            /* window rows of a block */
  float *line;            /* one full source row (stack layers) */
  float *out;             /* resampled block [B][W] */
} wsrc;

typedef struct ginput {
  wsrc d, e, n, u;
  int has_n, has_u;
  stack *s;
  char sname[3][1100];
  int side1, side4;       /* +1 East, -1 West, 0 neither (step 4 only) */
} ginput;

static int src_open(cbas_ctx *ctx, wsrc *w, const char *path) {
  w->name = path;
  if (!tools_file_exists(path)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: no such file", path);
  if (gt_open(ctx, path, &w->r)) return ctx->status;
  const gt_info *in = gt_get_info(w->r);
  if (!in->geo.has_gt || in->geo.gt[2] != 0 || in->geo.gt[4] != 0 || !(in->geo.gt[1] > 0) || !(in->geo.gt[5] < 0))
    return ctx_fail(ctx, CBAS_EUNSUP, "%s: needs a north-up geotransform (no rotation, north at the top)", path);
  w->w = in->width;
  w->h = in->height;
  memcpy(w->gt, in->geo.gt, sizeof w->gt);
  return 0;
}

static int src_open_layer(cbas_ctx *ctx, wsrc *w, stack *s, const char *layer, char *name, size_t cap) {
  const stack_meta *m = stack_get_meta(s);
  snprintf(name, cap, "%s/%s.f32", stack_dir(s), layer);
  w->name = name;
  w->layer = layer;
  w->s = s;
  if (!m->has_enu) return ctx_fail(ctx, CBAS_EDATA, "stack %s has no E/N/U layers", stack_dir(s));
  w->w = m->width;
  w->h = m->length;
  memcpy(w->gt, m->gt, sizeof w->gt);
  if (w->gt[2] != 0 || w->gt[4] != 0 || !(w->gt[1] > 0) || !(w->gt[5] < 0))
    return ctx_fail(ctx, CBAS_EUNSUP, "stack %s: needs a north-up geotransform", stack_dir(s));
  return 0;
}

/* Source rows [y0, y0+ny), columns [x0, x0+nx) into dst (stride nx). */
static int src_read(cbas_ctx *ctx, wsrc *w, uint32_t x0, uint32_t nx, uint32_t y0, uint32_t ny, float *dst) {
  if (w->r) return gt_read(ctx, w->r, 0, x0, y0, nx, ny, GT_F32, dst, nx);
  for (uint32_t r = 0; r < ny; r++) {
    if (stack_read_layer(ctx, w->s, w->layer, y0 + r, 1, w->line)) return ctx->status;
    memcpy(dst + (size_t)r * nx, w->line + x0, (size_t)nx * sizeof *dst);
  }
  return 0;
}

static void src_close(cbas_ctx *ctx, wsrc *w) {
  if (w->r) gt_close(ctx, w->r);
  budget_free(ctx, w->rows);
  budget_free(ctx, w->line);
  budget_free(ctx, w->out);
  w->r = NULL;
  w->rows = w->line = w->out = NULL;
}

/* Resamples destination rows [y0, y0+ny) of w into w->out. */
static int src_warp_block(cbas_ctx *ctx, wsrc *w, uint32_t y0, uint32_t ny) {
  const warp_plan *p = &w->plan;
  uint32_t r0, r1;
  warp_src_rows(p, y0, ny, &r0, &r1);
  if (r1 > r0 && src_read(ctx, w, p->x0, p->nx, p->y0 + r0, r1 - r0, w->rows)) return ctx->status;
  for (uint32_t r = 0; r < ny; r++) warp_row(p, y0 + r, w->rows, r0, r1, w->out + (size_t)r * p->dst_w);
  return 0;
}

/* ---------------------------------------------------------------- the run */

typedef struct drun {
  cbas_ctx *ctx;
  const decomp_params *p;
  int n;
  ginput *g;
  uint32_t W, L, B;
  double gt_out[6];
  int n_w;                                      /* output files */
  gt_writer *w[5 + DECOMP_MAX_INPUTS];
  char path[5 + DECOMP_MAX_INPUTS][1100];
} drun;

static wsrc *srcs_of(ginput *g, wsrc **list) {
  int k = 0;
  list[k++] = &g->d;
  list[k++] = &g->e;
  if (g->has_n) list[k++] = &g->n;
  if (g->has_u && !g->has_n) list[k++] = &g->u;
  list[k] = NULL;
  return list[0];
}

static int open_inputs(drun *r) {
  cbas_ctx *ctx = r->ctx;
  for (int i = 0; i < r->n; i++) {
    const decomp_input *in = &r->p->in[i];
    ginput *g = &r->g[i];
    if (!in->los) return ctx_fail(ctx, CBAS_EUSAGE, "geometry %d has no --los file", i + 1);
    if (src_open(ctx, &g->d, in->los)) return ctx->status;
    if (in->stack) {
      if (in->e || in->n || in->u)
        return ctx_fail(ctx, CBAS_EUSAGE, "geometry %d (%s): give --stack or --e/--n/--u, not both", i + 1, in->los);
      if (stack_open(ctx, in->stack, &g->s)) return ctx->status;
      g->has_n = g->has_u = 1;
      if (src_open_layer(ctx, &g->e, g->s, "E", g->sname[0], sizeof g->sname[0]) ||
          src_open_layer(ctx, &g->n, g->s, "N", g->sname[1], sizeof g->sname[1]))
        return ctx->status;
      for (int k = 0; k < 2; k++) {
        wsrc *w = k ? &g->n : &g->e;
        w->line = budget_alloc(ctx, (size_t)w->w * sizeof(float), "cbas decompose: stack row");
      }
      if (ctx->status) return ctx->status;
    } else {
      if (!in->e) return ctx_fail(ctx, CBAS_EUSAGE, "geometry %d (%s) has no --e file (or --stack)", i + 1, in->los);
      if (!in->n && !in->u)
        return ctx_fail(ctx, CBAS_EUSAGE, "geometry %d (%s) needs --n or --u (the LOS north or up component)", i + 1,
                        in->los);
      if (src_open(ctx, &g->e, in->e)) return ctx->status;
      g->has_n = in->n != NULL;
      g->has_u = in->u != NULL;
      if (g->has_n && src_open(ctx, &g->n, in->n)) return ctx->status;
      if (g->has_u && !g->has_n && src_open(ctx, &g->u, in->u)) return ctx->status;
    }
  }
  return 0;
}

/* Pass 0: the look side of each input from its E raster; the output grid. */
static int plan_grid(drun *r) {
  cbas_ctx *ctx = r->ctx;
  int64_t wE = INT64_MAX, eE = INT64_MIN, sE = INT64_MAX, nE = INT64_MIN;
  int64_t wW = INT64_MAX, eW = INT64_MIN, sW = INT64_MAX, nW = INT64_MIN;
  int64_t dlon = 0, dlat = 0;
  int anyE = 0, anyW = 0;
  for (int i = 0; i < r->n; i++) {
    wsrc *e = &r->g[i].e;
    uint32_t rows;
    if (tsdir_block_rows(ctx, e->h, 0, (uint64_t)e->w * 4, "cbas decompose: E rows", &rows)) return ctx->status;
    float *buf = budget_alloc(ctx, (size_t)rows * e->w * 4, "cbas decompose: E rows");
    if (!buf) return ctx->status;
    decomp_med m;
    decomp_med_init(&m);
    for (uint32_t y = 0; y < e->h && !ctx->status; y += rows) {
      uint32_t ny = e->h - y < rows ? e->h - y : rows;
      if (src_read(ctx, e, 0, e->w, y, ny, buf)) break;
      for (size_t k = 0; k < (size_t)ny * e->w; k++) decomp_med_add(&m, buf[k]);
    }
    budget_free(ctx, buf);
    if (ctx->status) return ctx->status;
    r->g[i].side1 = decomp_med_sign(&m) == 1 ? 1 : -1; /* nanmedian > 0: from the East */
    int64_t lw = decomp_nano(e->gt[0]), ln = decomp_nano(e->gt[3]);
    int64_t dl = decomp_nano(e->gt[1]), da = decomp_nano(e->gt[5]);
    if (dl == 0 || da == 0) return ctx_fail(ctx, CBAS_EUNSUP, "%s: pixel spacing below 1e-9 degree", e->name);
    int64_t le = lw + dl * (int64_t)e->w, ls = ln + da * (int64_t)e->h;
    if (r->g[i].side1 > 0) {
      anyE = 1;
      if (lw < wE) wE = lw;
      if (le > eE) eE = le;
      if (ls < sE) sE = ls;
      if (ln > nE) nE = ln;
    } else {
      anyW = 1;
      if (lw < wW) wW = lw;
      if (le > eW) eW = le;
      if (ls < sW) sW = ls;
      if (ln > nW) nW = ln;
    }
    if (llabs(dl) > llabs(dlon)) dlon = dl;
    if (llabs(da) > llabs(dlat)) dlat = da;
    ctx_info(ctx, "cbas decompose: LOS%d %s: observed from the %s, %ux%u\n", i + 1, r->p->in[i].los,
             r->g[i].side1 > 0 ? "East" : "West", e->w, e->h);
  }
  if (!anyE) return ctx_fail(ctx, CBAS_EUSAGE, "no LOS geometry looks from the East (median E > 0): need one from each side");
  if (!anyW) return ctx_fail(ctx, CBAS_EUSAGE, "no LOS geometry looks from the West (median E <= 0): need one from each side");
  int64_t lon_w = wE > wW ? wE : wW, lon_e = eE < eW ? eE : eW;
  int64_t lat_s = sE > sW ? sE : sW, lat_n = nE < nW ? nE : nW;
  int64_t width = (lon_e - lon_w) / dlon, length = (lat_s - lat_n) / dlat;
  if (width <= 0 || length <= 0)
    return ctx_fail(ctx, CBAS_EDATA, "the East and West geometries do not overlap (common area lon %.9f..%.9f, lat %.9f..%.9f)",
                    lon_w / 1e9, lon_e / 1e9, lat_s / 1e9, lat_n / 1e9);
  if (width > 1000000 || length > 1000000) return ctx_fail(ctx, CBAS_EUNSUP, "common grid %lldx%lld is too large",
                                                           (long long)width, (long long)length);
  lon_e = lon_w + dlon * width;
  lat_s = lat_n + dlat * length;
  r->W = (uint32_t)width;
  r->L = (uint32_t)length;
  double dlon_d = (double)dlon / 1e9, dlat_d = (double)dlat / 1e9;
  double lw = (double)lon_w / 1e9, le = (double)lon_e / 1e9, ls = (double)lat_s / 1e9, ln = (double)lat_n / 1e9;
  double dgt[6];
  warp_dst_gt(lw, ls, le, ln, r->W, r->L, dgt);
  r->gt_out[0] = lw;
  r->gt_out[1] = dlon_d;
  r->gt_out[2] = 0;
  r->gt_out[3] = ln;
  r->gt_out[4] = 0;
  r->gt_out[5] = dlat_d;
  for (int i = 0; i < r->n; i++) {
    wsrc *list[5];
    srcs_of(&r->g[i], list);
    for (int k = 0; list[k]; k++) warp_plan_init(&list[k]->plan, r->p->alg, r->W, r->L, dgt, list[k]->w, list[k]->h, list[k]->gt);
  }
  ctx_info(ctx, "cbas decompose: common area %.9f/%.9f/%.9f/%.9f, %ux%u pixels of %.9f x %.9f deg\n", lw, le, ls, ln,
           r->W, r->L, dlon_d, dlat_d);
  return 0;
}

/* Block height and the per-source buffers. */
static int alloc_blocks(drun *r) {
  cbas_ctx *ctx = r->ctx;
  uint64_t fixed = 0, per_row = (uint64_t)r->W * (4 * (3 + (uint64_t)r->n) + 3);
  for (int i = 0; i < r->n; i++) {
    wsrc *list[5];
    srcs_of(&r->g[i], list);
    for (int k = 0; list[k]; k++) {
      const warp_plan *p = &list[k]->plan;
      double ratio = fabs(p->dgt[5] / p->sgt[5]);
      fixed += (uint64_t)p->nx * 4 * (uint64_t)(2 * (p->yrad > 1 ? p->yrad : 1) + 6);
      per_row += (uint64_t)p->nx * 4 * (uint64_t)ceil(ratio) + (uint64_t)r->W * 4;
    }
  }
  if (tsdir_block_rows_max(ctx, r->L, fixed, per_row, r->p->block_rows, "cbas decompose", &r->B)) return ctx->status;
  for (int i = 0; i < r->n; i++) {
    wsrc *list[5];
    srcs_of(&r->g[i], list);
    for (int k = 0; list[k]; k++) {
      wsrc *w = list[k];
      w->rows = budget_alloc(ctx, (size_t)warp_src_rows_max(&w->plan, r->B) * w->plan.nx * 4 + 4, "cbas decompose: source rows");
      w->out = budget_alloc(ctx, (size_t)r->B * r->W * 4, "cbas decompose: resampled rows");
    }
  }
  return ctx->status;
}

/* Pass 1: the look side again, from E resampled to the grid (>= 0 East, < 0 West). */
static int sides_on_grid(drun *r) {
  cbas_ctx *ctx = r->ctx;
  for (int i = 0; i < r->n; i++) {
    wsrc *e = &r->g[i].e;
    decomp_med m;
    decomp_med_init(&m);
    for (uint32_t y = 0; y < r->L; y += r->B) {
      uint32_t ny = r->L - y < r->B ? r->L - y : r->B;
      if (src_warp_block(ctx, e, y, ny)) return ctx->status;
      for (size_t k = 0; k < (size_t)ny * r->W; k++) decomp_med_add(&m, e->out[k]);
    }
    int s = decomp_med_sign(&m);
    r->g[i].side4 = s == 2 ? 0 : s >= 0 ? 1 : -1;
    if (!r->g[i].side4) ctx_info(ctx, "cbas decompose: LOS%d has no E value on the common grid\n", i + 1);
  }
  return 0;
}

static int make_writer(drun *r, const char *name, gt_type type, gt_writer **w, char *path, size_t cap) {
  const decomp_params *p = r->p;
  int len = snprintf(path, cap, "%s/%s%s", p->out_dir ? p->out_dir : ".", p->prefix ? p->prefix : "", name);
  if (len < 0 || (size_t)len >= cap) return ctx_fail(r->ctx, CBAS_EUSAGE, "--out: path too long");
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = r->W;
  o.height = r->L;
  o.bands = 1;
  o.type = type;
  o.geo.has_gt = 1;
  memcpy(o.geo.gt, r->gt_out, sizeof o.geo.gt);
  o.geo.epsg = 4326;
  o.has_nodata = type == GT_F32;
  o.nodata = NAN;
  o.zrle = 1; /* as tsdir's results */
  return gt_create(r->ctx, path, &o, w);
}

enum { W_EW, W_UD, W_NE, W_NW, W_NT, W_RES0 };

/* The output files, started before the blocks are sized so that the writers' buffers are
 * counted in the budget first. */
static int open_outputs(drun *r) {
  const int n_res = r->p->stats && r->n >= 3 ? r->n : 0;
  static const char *const names[W_RES0] = {"EW.geo.tif", "UD.geo.tif", "n_data_fromE.geo.tif", "n_data_fromW.geo.tif",
                                            "n_data_total.geo.tif"};
  r->n_w = r->p->stats ? W_RES0 + n_res : 2;
  for (int k = 0; k < r->n_w && !r->ctx->status; k++) {
    char nm[64];
    if (k < W_RES0) snprintf(nm, sizeof nm, "%s", names[k]);
    else snprintf(nm, sizeof nm, "resid_LOS%d.geo.tif", k - W_RES0 + 1);
    make_writer(r, nm, k >= W_NE && k <= W_NT ? GT_U8 : GT_F32, &r->w[k], r->path[k], sizeof r->path[k]);
  }
  return r->ctx->status;
}

/* Pass 2: resample, solve, write. */
static int solve_all(drun *r) {
  cbas_ctx *ctx = r->ctx;
  const int n = r->n, n_res = r->p->stats && n >= 3 ? n : 0;
  const int n_w = r->n_w;
  gt_writer **w = r->w;
  char (*path)[1100] = r->path;
  const uint32_t W = r->W;
  float *o32 = budget_alloc(ctx, ((size_t)2 + n_res) * r->B * W * 4, "cbas decompose: output rows");
  uint8_t *o8 = budget_alloc(ctx, (size_t)3 * r->B * W, "cbas decompose: count rows");
  float d[DECOMP_MAX_INPUTS], e[DECOMP_MAX_INPUTS], u[DECOMP_MAX_INPUTS];
  uint64_t n_valid = 0;
  for (uint32_t y0 = 0; y0 < r->L && !ctx->status; y0 += r->B) {
    uint32_t ny = r->L - y0 < r->B ? r->L - y0 : r->B;
    size_t np = (size_t)ny * W, plane = (size_t)r->B * W;
    for (int i = 0; i < n && !ctx->status; i++) {
      ginput *g = &r->g[i];
      wsrc *list[5];
      srcs_of(g, list);
      for (int k = 0; list[k]; k++)
        if (src_warp_block(ctx, list[k], y0, ny)) break;
      if (ctx->status) break;
      /* U from E and N (float32, as NumPy: 1 - N**2 - E**2, sqrt, NaN if negative); zeros -> NaN */
      float *ud = g->has_n ? g->n.out : g->u.out;
      for (size_t k = 0; k < np; k++) {
        float ev = g->e.out[k];
        if (g->has_n) {
          float nv = g->n.out[k];
          float q = 1.0f - nv * nv;
          q = q - ev * ev;
          ud[k] = sqrtf(q);
        }
        if (g->d.out[k] == 0.0f) g->d.out[k] = NAN;
        if (ev == 0.0f) g->e.out[k] = NAN;
        if (ud[k] == 0.0f) ud[k] = NAN;
      }
    }
    if (ctx->status) break;
    for (size_t k = 0; k < np; k++) {
      unsigned cE = 0, cW = 0;
      for (int i = 0; i < n; i++) {
        int valid = !isnan(r->g[i].d.out[k]);
        if (r->g[i].side4 > 0) cE += valid;
        if (r->g[i].side4 < 0) cW += valid;
      }
      o8[k] = (uint8_t)cE;
      o8[plane + k] = (uint8_t)cW;
      o8[2 * plane + k] = (uint8_t)(cE + cW);
      float ew = NAN, udv = NAN;
      if (cE && cW) {
        for (int i = 0; i < n; i++) {
          ginput *g = &r->g[i];
          const float *uo = g->has_n ? g->n.out : g->u.out;
          d[i] = isnan(g->d.out[k]) ? 0.0f : g->d.out[k];
          e[i] = isnan(g->e.out[k]) ? 0.0f : g->e.out[k];
          u[i] = isnan(uo[k]) ? 0.0f : uo[k];
        }
        decomp_solve(n, d, e, u, &ew, &udv);
        n_valid++;
      }
      o32[k] = ew;
      o32[plane + k] = udv;
      for (int i = 0; i < n_res; i++) {
        float res = NAN;
        if (cE && cW) {
          float di = isnan(r->g[i].d.out[k]) ? 0.0f : r->g[i].d.out[k];
          if (di != 0.0f) {
            ginput *g = &r->g[i];
            const float *uo = g->has_n ? g->n.out : g->u.out;
            float ei = isnan(g->e.out[k]) ? 0.0f : g->e.out[k], ui = isnan(uo[k]) ? 0.0f : uo[k];
            float m1 = ei * ew, m2 = ui * udv;
            res = di - (m1 + m2);
          }
        }
        o32[(size_t)(2 + i) * plane + k] = res;
      }
    }
    for (int k = 0; k < n_w && !ctx->status; k++) {
      const void *src = k < W_NE ? (const void *)(o32 + (size_t)k * plane)
                        : k < W_RES0 ? (const void *)(o8 + (size_t)(k - W_NE) * plane)
                                     : (const void *)(o32 + (size_t)(2 + k - W_RES0) * plane);
      gt_write_rows(ctx, w[k], ny, src, W, plane);
    }
  }
  for (int k = 0; k < n_w; k++) {
    if (!ctx->status) gt_commit(ctx, w[k]);
    else gt_abort(ctx, w[k]);
    w[k] = NULL;
  }
  budget_free(ctx, o32);
  budget_free(ctx, o8);
  if (ctx->status) return ctx->status;
  ctx_info(ctx, "cbas decompose: %llu of %llu pixels have LOS data from both sides\n", (unsigned long long)n_valid,
           (unsigned long long)r->W * r->L);
  if (r->p->png)
    for (int k = 0; k < 2; k++) {
      char png[1100];
      snprintf(png, sizeof png, "%.*s.png", (int)(strlen(path[k]) - 8), path[k]);
      if (tools_quicklook(ctx, path[k], png, k ? "UD (up positive)" : "EW (east positive)", NULL, PLOT_CMAP_VEL, NAN,
                          NAN))
        return ctx->status;
    }
  for (int k = 0; k < n_w; k++) ctx_info(ctx, "cbas decompose: wrote %s\n", path[k]);
  return 0;
}

int decomp_run(cbas_ctx *ctx, const decomp_params *p) {
  drun r;
  memset(&r, 0, sizeof r);
  r.ctx = ctx;
  r.p = p;
  r.n = p->n_in;
  if (r.n < 2) return ctx_fail(ctx, CBAS_EUSAGE, "give at least two LOS geometries (--los ... twice), one from each side");
  if (r.n > DECOMP_MAX_INPUTS) return ctx_fail(ctx, CBAS_EUSAGE, "at most %d LOS geometries", DECOMP_MAX_INPUTS);
  r.g = calloc((size_t)r.n, sizeof *r.g);
  if (!r.g) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  if (!open_inputs(&r) && !plan_grid(&r) && !open_outputs(&r) && !alloc_blocks(&r) && !sides_on_grid(&r)) solve_all(&r);
  for (int k = 0; k < r.n_w; k++) gt_abort(ctx, r.w[k]); /* after an error (committed ones are NULL) */
  for (int i = 0; i < r.n; i++) {
    src_close(ctx, &r.g[i].d);
    src_close(ctx, &r.g[i].e);
    src_close(ctx, &r.g[i].n);
    src_close(ctx, &r.g[i].u);
    if (r.g[i].s) stack_close(r.g[i].s);
  }
  free(r.g);
  return ctx->status;
}
