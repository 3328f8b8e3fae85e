/* tsdir.c — the time-series directory shared by steps 11–16 (see include/cbas/tsdir.h):
 * layout and paths, result GeoTIFFs, work arrays, interferogram lists, report text, block
 * sizing, and the one table of step parameters with LiCSBAS's names and defaults. */
#include "cbas/tsdir.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/licsbas.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include "cbas/plot.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- paths */

/* Lexically normalised absolute path: cwd prefix for relative paths, "." and empty
 * components dropped, ".." folded, no trailing slash. */
static int abs_path(cbas_ctx *ctx, const char *path, char *out, size_t cap) {
  char tmp[2200];
  if (path[0] == '/') {
    snprintf(tmp, sizeof tmp, "%s", path);
  } else {
    char cwd[1024];
    int e = plat_getcwd(cwd, sizeof cwd);
    if (e) return ctx_fail(ctx, CBAS_EIO, "cannot get the current directory: %s", plat_strerror(e));
    snprintf(tmp, sizeof tmp, "%s/%s", cwd, path);
  }
  size_t o = 0;
  char *save = tmp, *comp;
  out[0] = 0;
  while ((comp = save) != NULL) {
    char *sl = strchr(comp, '/');
    if (sl) { *sl = 0; save = sl + 1; } else save = NULL;
    if (!*comp || !strcmp(comp, ".")) continue;
    if (!strcmp(comp, "..")) {
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--;
      out[o] = 0;
      continue;
    }
    size_t l = strlen(comp);
    if (o + 1 + l + 1 > cap) return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", path);
    out[o++] = '/';
    memcpy(out + o, comp, l);
    o += l;
    out[o] = 0;
  }
  if (o == 0) snprintf(out, cap, "/");
  return 0;
}

int tsdir_default_path(cbas_ctx *ctx, const char *stack_dir, char *out, size_t cap) {
  char a[1024];
  if (abs_path(ctx, stack_dir, a, sizeof a)) return ctx->status;
  char *base = strrchr(a, '/');
  if (!base || !base[1]) return ctx_fail(ctx, CBAS_EUSAGE, "%s: cannot name a TS directory after it", stack_dir);
  *base = 0;
  int n = snprintf(out, cap, "%s/TS_%s", a[0] ? a : "", base + 1);
  if (n < 0 || (size_t)n >= cap) return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", stack_dir);
  return 0;
}

int tsdir_file(cbas_ctx *ctx, const tsdir *t, const char *sub, const char *name, char *out, size_t cap) {
  int n = sub && *sub ? snprintf(out, cap, "%s/%s/%s", t->path, sub, name) : snprintf(out, cap, "%s/%s", t->path, name);
  if (n < 0 || (size_t)n >= cap) return ctx_fail(ctx, CBAS_EUSAGE, "%s/%s: path too long", t->path, name);
  return 0;
}

int tsdir_require(cbas_ctx *ctx, const tsdir *t, const char *sub, const char *name, const char *producer) {
  char p[1200];
  if (tsdir_file(ctx, t, sub, name, p, sizeof p)) return ctx->status;
  plat_stat st;
  plat_stat_path(p, &st);
  if (!st.is_file) return ctx_fail(ctx, CBAS_EUSAGE, "%s is missing: run cbas %s first", p, producer);
  return 0;
}

static char *slurp(cbas_ctx *ctx, const char *path, size_t max, const char *producer) {
  int fd, e = plat_open(path, PLAT_RDONLY, &fd);
  if (e) {
    if (producer) ctx_fail(ctx, CBAS_EUSAGE, "%s: cannot open (%s): run cbas %s first", path, plat_strerror(e), producer);
    else ctx_fail(ctx, CBAS_EIO, "%s: cannot open: %s", path, plat_strerror(e));
    return NULL;
  }
  uint64_t sz = 0;
  plat_fsize(fd, &sz);
  if (sz > max) { plat_close(fd); ctx_fail(ctx, CBAS_EFORMAT, "%s: unexpectedly large (%llu bytes)", path, (unsigned long long)sz); return NULL; }
  char *b = malloc((size_t)sz + 1);
  if (!b) { plat_close(fd); ctx_fail(ctx, CBAS_ENOMEM, "out of memory reading %s", path); return NULL; }
  size_t got = 0;
  e = plat_pread(fd, b, (size_t)sz, 0, &got);
  plat_close(fd);
  if (e || got != sz) { free(b); ctx_fail(ctx, CBAS_EIO, "%s: read failed", path); return NULL; }
  b[got] = 0;
  return b;
}

static const char *const SUBDIRS[] = {TSDIR_INFO, TSDIR_RESULTS, TSDIR_NETWORK, TSDIR_LOOP, TSDIR_WORK};

int tsdir_create(cbas_ctx *ctx, tsdir *t, const char *path, const char *stack_dir) {
  memset(t, 0, sizeof *t);
  if (strlen(path) >= sizeof t->path) return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", path);
  snprintf(t->path, sizeof t->path, "%s", path);
  if (abs_path(ctx, stack_dir, t->stack_path, sizeof t->stack_path)) return ctx->status;
  for (size_t i = 0; i < sizeof SUBDIRS / sizeof SUBDIRS[0]; i++) {
    char p[1200];
    if (tsdir_file(ctx, t, SUBDIRS[i], "", p, sizeof p)) return ctx->status;
    int e = plat_mkdir_p(p);
    if (e) return ctx_fail(ctx, CBAS_EIO, "%s: cannot create: %s", p, plat_strerror(e));
    afile_sweep(ctx, p);
  }
  char p[1200], line[1100];
  if (tsdir_file(ctx, t, TSDIR_INFO, "stack_path.txt", p, sizeof p)) return ctx->status;
  int n = snprintf(line, sizeof line, "%s\n", t->stack_path);
  return afile_put(ctx, p, line, (size_t)n);
}

int tsdir_open(cbas_ctx *ctx, tsdir *t, const char *path, const char *stack_dir) {
  memset(t, 0, sizeof *t);
  if (strlen(path) >= sizeof t->path) return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", path);
  snprintf(t->path, sizeof t->path, "%s", path);
  plat_stat st;
  plat_stat_path(path, &st);
  if (!st.is_dir) return ctx_fail(ctx, CBAS_EUSAGE, "%s: no such TS directory (run cbas check first)", path);
  char p[1200];
  if (tsdir_file(ctx, t, TSDIR_INFO, "stack_path.txt", p, sizeof p)) return ctx->status;
  char *rec = slurp(ctx, p, 1 << 16, "check");
  if (!rec) return ctx->status;
  rec[strcspn(rec, "\r\n")] = 0;
  char recorded[1024];
  snprintf(recorded, sizeof recorded, "%s", rec);
  free(rec);
  if (stack_dir) {
    char a[1024];
    if (abs_path(ctx, stack_dir, a, sizeof a)) return ctx->status;
    if (strcmp(a, recorded))
      return ctx_fail(ctx, CBAS_EUSAGE, "%s belongs to the stack %s, not %s (run cbas check on %s, or give another --ts)",
                      path, recorded, a, stack_dir);
    snprintf(t->stack_path, sizeof t->stack_path, "%s", a);
    return 0;
  }
  plat_stat_path(recorded, &st);
  if (st.is_dir) {
    snprintf(t->stack_path, sizeof t->stack_path, "%s", recorded);
    return 0;
  }
  /* The tree may have moved: TS_<name> and <name> side by side. */
  char a[1024];
  if (abs_path(ctx, path, a, sizeof a)) return ctx->status;
  char *base = strrchr(a, '/');
  if (base && !strncmp(base + 1, "TS_", 3) && base[4]) {
    *base = 0;
    int n = snprintf(t->stack_path, sizeof t->stack_path, "%s/%s", a, base + 4);
    if (n > 0 && (size_t)n < sizeof t->stack_path) {
      plat_stat_path(t->stack_path, &st);
      if (st.is_dir) return 0;
    }
    t->stack_path[0] = 0;
  }
  return ctx_fail(ctx, CBAS_EUSAGE, "%s: its stack %s (info/stack_path.txt) is gone; give --stack", path, recorded);
}

/* ---------------------------------------------------------------- result rasters */

static int result_path(cbas_ctx *ctx, const tsdir *t, const char *sub, const char *name, char *out, size_t cap) {
  char fn[300];
  if (snprintf(fn, sizeof fn, "%s.tif", name) >= (int)sizeof fn) return ctx_fail(ctx, CBAS_EUSAGE, "%s: name too long", name);
  return tsdir_file(ctx, t, sub ? sub : TSDIR_RESULTS, fn, out, cap);
}

int tsdir_result_create(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *sub,
                        const char *name, uint32_t bands, const char *const *band_desc, gt_writer **out) {
  char p[1200];
  if (result_path(ctx, t, sub, name, p, sizeof p)) return ctx->status;
  gt_wopts o;
  memset(&o, 0, sizeof o);
  o.width = m->width;
  o.height = m->length;
  o.bands = bands ? bands : 1;
  o.type = GT_F32;
  o.geo.has_gt = 1;
  memcpy(o.geo.gt, m->gt, sizeof o.geo.gt);
  o.geo.epsg = 4326;
  o.has_nodata = 1;
  o.nodata = NAN;
  o.band_desc = band_desc;
  /* Deflate with runs only (Z_RLE): with the floating-point predictor the low mantissa bytes
   * of float32 millimetres never match, so string matching buys nothing. Measured on the
   * sample (81 epochs): cum.tif 19.0 MB at level 1 -> 18.3 MB, single-band results 1.3 %
   * larger than level 6; invert 1.29 -> 1.00 s CPU, filter 1.71 -> 1.49 s. */
  o.zrle = 1;
  /* Time-series cubes: only the planes that shrink are deflated (gt_wopts.zsplit). */
  o.zsplit = o.bands > 1;
  return gt_create(ctx, p, &o, out);
}

int tsdir_result_open(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *sub,
                      const char *name, const char *producer, gt_reader **out) {
  char p[1200];
  if (result_path(ctx, t, sub, name, p, sizeof p)) return ctx->status;
  plat_stat st;
  plat_stat_path(p, &st);
  if (!st.is_file) return ctx_fail(ctx, CBAS_EUSAGE, "%s is missing: run cbas %s first", p, producer);
  if (gt_open(ctx, p, out)) return ctx->status;
  const gt_info *gi = gt_get_info(*out);
  if (gi->width != m->width || gi->height != m->length) {
    uint32_t gw = gi->width, gh = gi->height; /* gi goes with the reader */
    gt_close(ctx, *out);
    *out = NULL;
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: %ux%u pixels, the stack is %ux%u (a result of another stack?)", p,
                    gw, gh, m->width, m->length);
  }
  return 0;
}

int tsdir_result_put(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *sub, const char *name,
                     const float *img) {
  gt_writer *w;
  if (tsdir_result_create(ctx, t, m, sub, name, 1, NULL, &w)) return ctx->status;
  if (gt_write_rows(ctx, w, m->length, img, m->width, (size_t)m->width * m->length)) {
    gt_abort(ctx, w);
    return ctx->status;
  }
  return gt_commit(ctx, w);
}

/* ---------------------------------------------------------------- stack input */

typedef struct rd_job {
  cbas_ctx *ctx;
  const stack *s;
  uint32_t y0;
  void *dst;
  int cc;
} rd_job;

static int rd_row(void *ud, long r, int worker) {
  (void)worker;
  rd_job *j = ud;
  const stack_meta *m = stack_get_meta(j->s);
  size_t n = (size_t)m->n_ifg * m->width;
  if (j->cc) return stack_read_cc(j->ctx, j->s, j->y0 + (uint32_t)r, 1, (uint8_t *)j->dst + (size_t)r * n);
  float *d = (float *)j->dst + (size_t)r * n;
  if (stack_read_unw(j->ctx, j->s, j->y0 + (uint32_t)r, 1, d)) return j->ctx->status;
  const float nan = NAN;
  for (size_t i = 0; i < n; i++) d[i] = d[i] == 0.0f ? nan : d[i]; /* branch-free select */
  return 0;
}

int tsdir_read_unw(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny, float *dst) {
  rd_job j = {ctx, s, y0, dst, 0};
  return par_for(ctx, ny, rd_row, &j);
}

int tsdir_read_cc(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny, uint8_t *dst) {
  rd_job j = {ctx, s, y0, dst, 1};
  return par_for(ctx, ny, rd_row, &j);
}

/* ---------------------------------------------------------------- work arrays */

int tsdir_work_create(cbas_ctx *ctx, const tsdir *t, const char *name, afile *f) {
  char p[1200];
  if (tsdir_file(ctx, t, TSDIR_WORK, name, p, sizeof p)) return ctx->status;
  return afile_open(ctx, f, p);
}

int tsdir_work_read(cbas_ctx *ctx, const tsdir *t, const char *name, size_t row_bytes, uint32_t y0, uint32_t ny,
                    void *dst) {
  char p[1200];
  if (tsdir_file(ctx, t, TSDIR_WORK, name, p, sizeof p)) return ctx->status;
  int fd, e = plat_open(p, PLAT_RDONLY, &fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: cannot open: %s", p, plat_strerror(e));
  size_t got = 0, n = row_bytes * ny;
  e = plat_pread(fd, dst, n, (uint64_t)row_bytes * y0, &got);
  plat_close(fd);
  if (e || got != n) return ctx_fail(ctx, CBAS_EIO, "%s: read of rows %u+%u failed: %s", p, y0, ny, e ? plat_strerror(e) : "short read");
  return 0;
}

/* ---------------------------------------------------------------- interferogram lists */

int tsdir_ifglist_add(cbas_ctx *ctx, tsdir_ifglist *l, const char *name) {
  if (l->n == l->cap) {
    uint32_t nc = l->cap ? 2 * l->cap : 64;
    void *p = realloc(l->name, (size_t)nc * sizeof *l->name);
    if (!p) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory for a list of %u interferograms", nc);
    l->name = p;
    l->cap = nc;
  }
  snprintf(l->name[l->n++], sizeof l->name[0], "%.17s", name);
  return 0;
}

int tsdir_ifglist_read(cbas_ctx *ctx, const char *path, tsdir_ifglist *l) {
  memset(l, 0, sizeof *l);
  char *text = slurp(ctx, path, 64u << 20, NULL);
  if (!text) return ctx->status;
  int line = 0;
  for (char *p = text; *p;) {
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    line++;
    char *tok = p + strspn(p, " \t\r\f\v");
    size_t tl = strcspn(tok, " \t\r\f\v");
    if (tl > 0 && !(tl == 1 && tok[0] == '#')) {
      if (tl != 17 || tok[8] != '_') {
        free(text);
        tsdir_ifglist_free(l);
        return ctx_fail(ctx, CBAS_EFORMAT, "%s:%d: '%.*s' is not an interferogram name YYYYMMDD_YYYYMMDD", path, line,
                        (int)(tl > 40 ? 40 : tl), tok);
      }
      tok[17] = 0;
      if (tsdir_ifglist_add(ctx, l, tok)) { free(text); tsdir_ifglist_free(l); return ctx->status; }
    }
    if (!e) break;
    p = e + 1;
  }
  free(text);
  return 0;
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }
void tsdir_ifglist_sort_unique(tsdir_ifglist *l) {
  if (l->n < 2) return;
  qsort(l->name, l->n, sizeof *l->name, cmp_name);
  uint32_t u = 1;
  for (uint32_t i = 1; i < l->n; i++)
    if (strcmp(l->name[i], l->name[u - 1])) memcpy(l->name[u++], l->name[i], sizeof l->name[0]);
  l->n = u;
}
int tsdir_ifglist_has(const tsdir_ifglist *l, const char *name) {
  for (uint32_t i = 0; i < l->n; i++)
    if (!strcmp(l->name[i], name)) return 1;
  return 0;
}
int tsdir_ifglist_write(cbas_ctx *ctx, const char *path, const tsdir_ifglist *l) {
  tsdir_text t = {0};
  for (uint32_t i = 0; i < l->n; i++) tsdir_text_printf(&t, "%s\n", l->name[i]);
  return tsdir_text_put(ctx, &t, path);
}
void tsdir_ifglist_free(tsdir_ifglist *l) {
  free(l->name);
  memset(l, 0, sizeof *l);
}

/* Index of name in the stack's sorted ifg list, or -1. */
static long stack_ifg_index(const stack_meta *m, const char *name) {
  long lo = 0, hi = (long)m->n_ifg - 1;
  while (lo <= hi) {
    long mid = (lo + hi) / 2;
    int c = strcmp(m->ifg[mid], name);
    if (!c) return mid;
    if (c < 0) lo = mid + 1; else hi = mid - 1;
  }
  for (uint32_t k = 0; k < m->n_ifg; k++) /* stacks are sorted; this is only a safety net */
    if (!strcmp(m->ifg[k], name)) return (long)k;
  return -1;
}

int tsdir_mark_listed(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *list_name, const char *producer,
                      uint8_t *flags, uint8_t bit) {
  char p[1200];
  if (tsdir_file(ctx, t, TSDIR_INFO, list_name, p, sizeof p)) return ctx->status;
  if (producer && tsdir_require(ctx, t, TSDIR_INFO, list_name, producer)) return ctx->status;
  tsdir_ifglist l;
  if (tsdir_ifglist_read(ctx, p, &l)) return ctx->status;
  for (uint32_t i = 0; i < l.n; i++) {
    long k = stack_ifg_index(m, l.name[i]);
    if (k >= 0) flags[k] |= bit;
  }
  tsdir_ifglist_free(&l);
  return 0;
}

int tsdir_used_ifgs(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, uint8_t *used, uint32_t *n_used) {
  memset(used, 0, m->n_ifg);
  if (tsdir_mark_listed(ctx, t, m, "11bad_ifg.txt", "check", used, 1) ||
      tsdir_mark_listed(ctx, t, m, "12bad_ifg.txt", "loop", used, 2))
    return ctx->status;
  uint32_t n = 0;
  for (uint32_t k = 0; k < m->n_ifg; k++) {
    used[k] = used[k] == 0;
    n += used[k];
  }
  if (n_used) *n_used = n;
  return 0;
}

int tsdir_read_ref(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *name, uint32_t *x1, uint32_t *x2,
                   uint32_t *y1, uint32_t *y2) {
  char p[1200];
  if (tsdir_file(ctx, t, TSDIR_INFO, name, p, sizeof p)) return ctx->status;
  char *text = slurp(ctx, p, 4096, name[0] == '1' && name[1] == '2' ? "loop" : "invert");
  if (!text) return ctx->status;
  unsigned a, b, c, d;
  char tail;
  int n = sscanf(text, " %u:%u/%u:%u%c", &a, &b, &c, &d, &tail);
  free(text);
  if (n < 4 || (n == 5 && tail != '\n' && tail != '\r' && tail != ' ') || a >= b || c >= d || b > m->width ||
      d > m->length)
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: not a reference window x1:x2/y1:y2 inside %ux%u", p, m->width, m->length);
  *x1 = a; *x2 = b; *y1 = c; *y2 = d;
  return 0;
}

int tsdir_write_licsbas_pars(cbas_ctx *ctx, const tsdir *t, const stack_meta *m) {
  /* The text of LiCSBAS step 02 (lb_format_*_par, as prep's --licsbas-layout writes it). */
  char p[1200], buf[2048];
  int n = lb_format_mli_par(buf, sizeof buf, m->width, m->length, m->radar_freq_hz,
                            m->center_time[0] ? m->center_time : NULL, 0);
  if (tsdir_file(ctx, t, TSDIR_INFO, "slc.mli.par", p, sizeof p) || afile_put(ctx, p, buf, (size_t)n))
    return ctx->status;
  n = lb_format_dem_par(buf, sizeof buf, m->width, m->length, m->corner_lat, m->corner_lon, m->post_lat, m->post_lon, 0);
  if (tsdir_file(ctx, t, TSDIR_INFO, "EQA.dem_par", p, sizeof p) || afile_put(ctx, p, buf, (size_t)n))
    return ctx->status;
  return 0;
}

/* ---------------------------------------------------------------- network figures */

typedef struct net_job {
  cbas_ctx *ctx;
  const tsdir *t;
  int step, n_ep;
  const int32_t *ymd;
  const double *bp;
  int n_if;
  const int32_t *prim, *sec;
  const uint8_t *bd;
} net_job;

/* Item f: network<step>_all.png (f = 0: every ifg, none marked), network<step>.png (1: bad ones
 * marked) or network<step>_nobad.png (2: bad ones marked and left out). */
static int net_item(void *ud, long f, int worker) {
  (void)worker;
  net_job *j = ud;
  static const char *const SUFFIX[3] = {"_all", "", "_nobad"};
  char name[64], path[1200];
  snprintf(name, sizeof name, "network%d%s.png", j->step, SUFFIX[f]);
  if (tsdir_file(j->ctx, j->t, TSDIR_NETWORK, name, path, sizeof path)) return j->ctx->status;
  plot_net pn = {j->n_ep, j->ymd, j->bp, j->n_if, j->prim, j->sec, f ? j->bd : NULL, f != 2, NULL};
  return plot_network(j->ctx, path, &pn, NULL);
}

int tsdir_network_pngs(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, int step, const uint8_t *member,
                       const uint8_t *bad) {
  uint32_t ne = m->n_epoch, n = m->n_ifg;
  int32_t *ymd = malloc(((size_t)ne + 1) * 4), *map = malloc(((size_t)ne + 1) * 4);
  int32_t *prim = malloc(((size_t)n + 1) * 4), *sec = malloc(((size_t)n + 1) * 4);
  double *bp = malloc(((size_t)ne + 1) * sizeof *bp);
  uint8_t *bd = malloc((size_t)n + 1);
  int r = 0;
  if (!ymd || !map || !prim || !sec || !bp || !bd) { r = ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); goto done; }
  /* the epochs of the listed ifgs, in date order (stack epochs are sorted) */
  for (uint32_t e = 0; e < ne; e++) map[e] = -1;
  for (uint32_t k = 0; k < n; k++)
    if (!member || member[k]) map[m->ifg_prim[k]] = map[m->ifg_sec[k]] = 0;
  int n_ep = 0, n_if = 0;
  for (uint32_t e = 0; e < ne; e++)
    if (map[e] == 0) {
      map[e] = n_ep;
      ymd[n_ep] = (int32_t)atol(m->epoch[e]);
      bp[n_ep++] = m->bperp_m[e];
    }
  for (uint32_t k = 0; k < n; k++)
    if (!member || member[k]) {
      prim[n_if] = map[m->ifg_prim[k]];
      sec[n_if] = map[m->ifg_sec[k]];
      bd[n_if++] = bad && bad[k];
    }
  if (n_ep == 0) goto done;
  /* the three figures on as many threads as the budget has room for (each draws on its own
   * canvas, TSDIR_NETWORK_PNG_BYTES); the threads share ctx (ctx_fail is thread-safe) */
  uint64_t fits = budget_avail(ctx) / TSDIR_NETWORK_PNG_BYTES;
  cbas_ctx pc = *ctx;
  pc.n_threads = (int)(fits < 3 ? (fits ? fits : 1) : 3);
  if (pc.n_threads > ctx->n_threads) pc.n_threads = ctx->n_threads;
  net_job j = {ctx, t, step, n_ep, ymd, bp, n_if, prim, sec, bd};
  r = par_for(&pc, 3, net_item, &j);
  if (!r) r = ctx->status;
done:
  free(ymd); free(map); free(prim); free(sec); free(bp); free(bd);
  return r;
}

/* ---------------------------------------------------------------- text output */

void tsdir_text_printf(tsdir_text *t, const char *fmt, ...) {
  if (t->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = t->cap - t->len;
    int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) { t->oom = 1; return; }
    if (t->buf && (size_t)n < room) { t->len += (size_t)n; return; }
    size_t nc = t->cap ? t->cap * 2 : 4096;
    while (nc < t->len + (size_t)n + 1) nc *= 2;
    char *b = realloc(t->buf, nc);
    if (!b) { t->oom = 1; return; }
    t->buf = b;
    t->cap = nc;
  }
}
int tsdir_text_put(cbas_ctx *ctx, tsdir_text *t, const char *path) {
  int r;
  if (t->oom) r = ctx_fail(ctx, CBAS_ENOMEM, "%s: out of memory composing the text", path);
  else r = afile_put(ctx, path, t->buf ? t->buf : "", t->len);
  tsdir_text_free(t);
  return r;
}
void tsdir_text_free(tsdir_text *t) {
  free(t->buf);
  memset(t, 0, sizeof *t);
}
const char *tsdir_fmt_f(char *buf, size_t cap, int width, int prec, double v) {
  if (v != v) snprintf(buf, cap, "%*s", width, "nan");
  else if (isinf(v)) snprintf(buf, cap, "%*s", width, v < 0 ? "-inf" : "inf");
  else snprintf(buf, cap, "%*.*f", width, prec, v);
  return buf;
}

/* ---------------------------------------------------------------- block sizing */

int tsdir_block_rows(cbas_ctx *ctx, uint32_t length, uint64_t fixed_bytes, uint64_t per_row_bytes, const char *what,
                     uint32_t *rows) {
  return tsdir_block_rows_max(ctx, length, fixed_bytes, per_row_bytes, 0, what, rows);
}

int tsdir_block_rows_max(cbas_ctx *ctx, uint32_t length, uint64_t fixed_bytes, uint64_t per_row_bytes,
                         uint32_t max_rows, const char *what, uint32_t *rows) {
  /* Slack for allocation headers/alignment and the small buffers of writers. */
  uint64_t slack = 256u << 10;
  uint64_t need1 = fixed_bytes + per_row_bytes + slack;
  if (budget_require(ctx, need1, what)) return ctx->status;
  uint64_t avail = budget_avail(ctx) - fixed_bytes - slack;
  uint64_t r = per_row_bytes ? avail / per_row_bytes : length;
  /* cap: TSDIR_BLOCK_BYTES, but at least two rows per worker for passes parallel over rows */
  uint64_t cap = per_row_bytes ? TSDIR_BLOCK_BYTES / per_row_bytes : length;
  uint64_t min_rows = 2 * (uint64_t)(ctx->n_threads > 0 ? ctx->n_threads : 1);
  if (cap < min_rows) cap = min_rows;
  if (r > cap) r = cap;
  if (max_rows && r > max_rows) r = max_rows;
  if (r > length) r = length;
  if (r < 1) r = 1;
  *rows = (uint32_t)r;
  return 0;
}

/* ---------------------------------------------------------------- parameters */

static const tsdir_pdef PDEFS[TSP__N] = {
    {TSP_P11_UNW_THRE, 11, "unw-thre", "p11_unw_thre", "-u", TSP_DBL, "0.3", NULL, "R",
     "bad if the unw coverage ratio is below R"},
    {TSP_P11_COH_THRE, 11, "coh-thre", "p11_coh_thre", "-c", TSP_DBL, "0.05", NULL, "C",
     "bad if the ifg's mean coherence is below C"},
    {TSP_P12_LOOP_THRE, 12, "loop-thre", "p12_loop_thre", "-l", TSP_DBL, "1.5", NULL, "RAD",
     "a loop is bad if its RMS loop phase is >= RAD"},
    {TSP_P12_MULTI_PRIME, 12, "multi-prime", "p12_multi_prime", "--multi_prime", TSP_FLAG, "n", "y", NULL,
     "also remove each loop's median (multi-prime bias)"},
    {TSP_P12_RM_IFG_LIST, 12, "rm-ifg-list", "p12_rm_ifg_list", "--rm_ifg_list", TSP_STR, NULL, NULL, "FILE",
     "interferograms removed by hand (one per line)"},
    {TSP_P13_INV_ALG, 13, "inv-alg", "p13_inv_alg", "--inv_alg", TSP_STR, "LS", NULL, "LS|WLS",
     "least squares, or coherence-weighted least squares"},
    {TSP_P13_GAMMA, 13, "gamma", "p13_gamma", "--gamma", TSP_DBL, "0.0001", NULL, "G",
     "weight of the temporal constraint"},
    {TSP_P13_N_UNW_R_THRE, 13, "n-unw-r-thre", "p13_n_unw_r_thre", "--n_unw_r_thre", TSP_DBL, NULL, NULL, "R",
     "invert a pixel with more than int(R*n_im) valid ifgs (1.0 C-band, 0.5 L-band)"},
    {TSP_P13_KEEP_INCFILE, 13, "keep-incfile", "p13_keep_incfile", "--keep_incfile", TSP_FLAG, "n", NULL, NULL,
     "keep the increment and residual rasters"},
    {TSP_P13_MEM_SIZE, 13, "mem-size", "p13_mem_size", "--mem_size", TSP_DBL, "8000", NULL, "MB",
     "LiCSBAS's patch memory; accepted for batch settings, no effect (cbas uses --mem)"},
    {TSP_P14_MEM_SIZE, 14, "mem-size", "p14_mem_size", "--mem_size", TSP_DBL, "4000", NULL, "MB",
     "LiCSBAS's patch size: rows of one patch share voided bootstrap draws (memory: --mem)"},
    {TSP_P15_COH_THRE, 15, "coh-thre", "p15_coh_thre", "-c", TSP_DBL, NULL, NULL, "C",
     "mask coh_avg below C (0.05 C-band, 0.01 L-band)"},
    {TSP_P15_N_UNW_R_THRE, 15, "n-unw-r-thre", "p15_n_unw_r_thre", "-u", TSP_DBL, NULL, NULL, "R",
     "mask n_unw below R*n_im (1.5 C-band, 1.0 L-band)"},
    {TSP_P15_VSTD_THRE, 15, "vstd-thre", "p15_vstd_thre", "-v", TSP_DBL, NULL, NULL, "MM_YR",
     "mask vstd above (100 C-band, 200 L-band)"},
    {TSP_P15_MAXTLEN_THRE, 15, "maxTlen-thre", "p15_maxTlen_thre", "-T", TSP_DBL, "1", NULL, "YR",
     "mask maxTlen below"},
    {TSP_P15_N_GAP_THRE, 15, "n-gap-thre", "p15_n_gap_thre", "-g", TSP_INT, NULL, NULL, "N",
     "mask n_gap above (10 C-band, 1 L-band)"},
    {TSP_P15_STC_THRE, 15, "stc-thre", "p15_stc_thre", "-s", TSP_DBL, NULL, NULL, "MM",
     "mask stc above (5 C-band, 10 L-band)"},
    {TSP_P15_N_IFG_NOLOOP_THRE, 15, "n-ifg-noloop-thre", "p15_n_ifg_noloop_thre", "-i", TSP_INT, "50", NULL, "N",
     "mask n_ifg_noloop above"},
    {TSP_P15_N_LOOP_ERR_THRE, 15, "n-loop-err-thre", "p15_n_loop_err_thre", "-l", TSP_INT, NULL, NULL, "N",
     "mask n_loop_err above (5 C-band, 1 L-band)"},
    {TSP_P15_RESID_RMS_THRE, 15, "resid-rms-thre", "p15_resid_rms_thre", "-r", TSP_DBL, NULL, NULL, "MM",
     "mask resid_rms above (2 C-band, 10 L-band)"},
    {TSP_P15_VMIN, 15, "vmin", "p15_vmin", "--vmin", TSP_DBL, NULL, NULL, "MM_YR", "velocity colour scale minimum (auto)"},
    {TSP_P15_VMAX, 15, "vmax", "p15_vmax", "--vmax", TSP_DBL, NULL, NULL, "MM_YR", "velocity colour scale maximum (auto)"},
    {TSP_P15_KEEP_ISOLATED, 15, "keep-isolated", "p15_keep_isolated", "--keep_isolated", TSP_FLAG, "n", NULL, NULL,
     "keep isolated unmasked pixels"},
    {TSP_P15_NOAUTOADJUST, 15, "noautoadjust", "p15_noautoadjust", "--noautoadjust", TSP_FLAG, "n", NULL, NULL,
     "do not relax a threshold that would mask everything"},
    {TSP_P16_FILTWIDTH_KM, 16, "filtwidth-km", "p16_filtwidth_km", "-s", TSP_DBL, "2", NULL, "KM",
     "width of the spatial Gaussian filter"},
    {TSP_P16_FILTWIDTH_YR, 16, "filtwidth-yr", "p16_filtwidth_yr", "-y", TSP_DBL, NULL, NULL, "YR",
     "width of the temporal filter (3x the average interval)"},
    {TSP_P16_DEG_DERAMP, 16, "deg-deramp", "p16_deg_deramp", "-r", TSP_STR, NULL, NULL, "1|bl|2",
     "remove a ramp of this kind (none)"},
    {TSP_P16_HGT_LINEAR, 16, "hgt-linear", "p16_hgt_linear", "--hgt_linear", TSP_FLAG, "n", NULL, NULL,
     "remove a height-linear component"},
    {TSP_P16_HGT_MIN, 16, "hgt-min", "p16_hgt_min", "--hgt_min", TSP_INT, "200", NULL, "M",
     "lowest height used in the height-linear fit"},
    {TSP_P16_HGT_MAX, 16, "hgt-max", "p16_hgt_max", "--hgt_max", TSP_INT, "10000", NULL, "M",
     "highest height used in the height-linear fit"},
    {TSP_P16_NOMASK, 16, "nomask", "p16_nomask", "--nomask", TSP_FLAG, "n", NULL, NULL, "filter unmasked data"},
    {TSP_P16_RANGE, 16, "range", "p16_range", "--range", TSP_STR, NULL, NULL, "X1:X2/Y1:Y2",
     "reference search area (pixels)"},
    {TSP_P16_RANGE_GEO, 16, "range-geo", "p16_range_geo", "--range_geo", TSP_STR, NULL, NULL, "W/E/S/N",
     "reference search area (degrees)"},
    {TSP_P16_EX_RANGE, 16, "ex-range", "p16_ex_range", "--ex_range", TSP_STR, NULL, NULL, "X1:X2/Y1:Y2",
     "area excluded from the reference search (pixels)"},
    {TSP_P16_EX_RANGE_GEO, 16, "ex-range-geo", "p16_ex_range_geo", "--ex_range_geo", TSP_STR, NULL, NULL, "W/E/S/N",
     "area excluded from the reference search (degrees)"},
};

const tsdir_pdef *tsdir_param_def(tsdir_pid id) { return id < TSP__N ? &PDEFS[id] : NULL; }

const tsdir_pdef *tsdir_param_find(const char *name, int step) {
  for (int i = 0; i < TSP__N; i++) {
    const tsdir_pdef *d = &PDEFS[i];
    if (step && d->step != step) continue;
    if (!strcmp(name, d->batch)) return d;
    if (step && !strcmp(name, d->name)) return d;
    if (step && d->licsbas[0] == '-' && d->licsbas[1] == '-' && !strcmp(name, d->licsbas + 2)) return d;
  }
  return NULL;
}

static int parse_flag(const char *s, int *v) {
  static const char *const yes[] = {"y", "yes", "1", "true", "Y", "YES", "True", "TRUE"};
  static const char *const no[] = {"n", "no", "0", "false", "N", "NO", "False", "FALSE"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (!strcmp(s, yes[i])) { *v = 1; return 0; }
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    if (!strcmp(s, no[i])) { *v = 0; return 0; }
  return -1;
}

static int set_value(tsdir_pvals *v, const tsdir_pdef *d, const char *text) {
  char *end;
  switch (d->kind) {
  case TSP_DBL: {
    double x = strtod(text, &end);
    if (end == text || *end || x != x) return -1;
    v->num[d->id] = x;
    return 0;
  }
  case TSP_INT: {
    long x = strtol(text, &end, 10);
    if (end == text || *end || x < -2147483647L || x > 2147483647L) return -1;
    v->num[d->id] = (double)x;
    return 0;
  }
  case TSP_FLAG: {
    int f;
    if (parse_flag(text, &f)) return -1;
    v->num[d->id] = f;
    return 0;
  }
  case TSP_STR: v->str[d->id] = text; return 0;
  }
  return -1;
}

static void set_default(tsdir_pvals *v, const tsdir_pdef *d) {
  v->num[d->id] = NAN;
  v->str[d->id] = NULL;
  v->set[d->id] = 0;
  if (d->def) set_value(v, d, d->def);
}

void tsdir_params_default(tsdir_pvals *v) {
  for (int i = 0; i < TSP__N; i++) set_default(v, &PDEFS[i]);
  v->block_rows = 0;
}

int tsdir_param_set(cbas_ctx *ctx, tsdir_pvals *v, tsdir_pid id, const char *text, const char *who) {
  if (id >= TSP__N) return ctx_fail(ctx, CBAS_EINTERNAL, "unknown parameter %d", (int)id);
  const tsdir_pdef *d = &PDEFS[id];
  if (!text || !*text) { set_default(v, d); return 0; }
  if (set_value(v, d, text)) {
    static const char *const what[] = {"a number", "an integer", "y or n", "text"};
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: malformed value '%s' (expected %s)", who, text, what[d->kind]);
  }
  v->set[id] = 1;
  return 0;
}

void tsdir_cli_build(tsdir_cli *c, int step, const cli_opt *extra, int n_extra) {
  memset(c, 0, sizeof *c);
  int n = 0;
  c->opt[n] = (cli_opt){NULL, CLI_STR, &c->stack_pos, "STACK", "the stack written by cbas prep"};
  c->pid[n++] = TSP__N;
  c->opt[n] = (cli_opt){"stack", CLI_STR, &c->stack_opt, "DIR", "the stack (same as the STACK argument)"};
  c->pid[n++] = TSP__N;
  c->opt[n] = (cli_opt){"ts", CLI_STR, &c->ts_opt, "DIR", "time-series directory (default TS_<stack> beside it)"};
  c->pid[n++] = TSP__N;
  c->opt[n] = (cli_opt){"block-rows", CLI_INT, &c->block_rows, "N", "at most N rows per block (default: from --mem)"};
  c->pid[n++] = TSP__N;
  for (int i = 0; i < TSP__N && n + 2 <= TSDIR_CLI_MAX; i++) {
    const tsdir_pdef *d = &PDEFS[i];
    if (d->step != step) continue;
    if (d->kind == TSP_FLAG) c->opt[n] = (cli_opt){d->name, CLI_FLAG, &c->flag[n], NULL, d->help};
    else c->opt[n] = (cli_opt){d->name, CLI_STR, &c->text[n], d->arg, d->help};
    c->pid[n++] = d->id;
    c->opt[n] = (cli_opt){d->batch, CLI_STR, &c->text[n], d->kind == TSP_FLAG ? "y|n" : d->arg,
                          "(batch_LiCSBAS.sh name of the option above)"};
    c->pid[n++] = d->id;
  }
  for (int i = 0; i < n_extra && n < TSDIR_CLI_MAX; i++) {
    c->opt[n] = extra[i];
    c->pid[n++] = TSP__N;
  }
  c->n_opt = n;
}

int tsdir_cli_apply(cbas_ctx *ctx, const tsdir_cli *c, tsdir_pvals *v) {
  tsdir_params_default(v);
  if (c->block_rows < 0) return ctx_fail(ctx, CBAS_EUSAGE, "--block-rows must be >= 0");
  v->block_rows = (uint32_t)c->block_rows;
  for (int i = 0; i < c->n_opt; i++) {
    if (c->pid[i] == TSP__N) continue;
    char who[80];
    snprintf(who, sizeof who, "--%s", c->opt[i].name);
    if (c->opt[i].kind == CLI_FLAG) {
      if (c->flag[i] && tsdir_param_set(ctx, v, c->pid[i], "y", who)) return ctx->status;
    } else if (c->text[i] && tsdir_param_set(ctx, v, c->pid[i], c->text[i], who)) {
      return ctx->status;
    }
  }
  return 0;
}

int tsdir_cli_open(cbas_ctx *ctx, const tsdir_cli *c, int create, tsdir *t, stack **s) {
  const char *sp = c->stack_opt ? c->stack_opt : c->stack_pos;
  if (c->stack_opt && c->stack_pos && strcmp(c->stack_opt, c->stack_pos))
    return ctx_fail(ctx, CBAS_EUSAGE, "two stacks given (%s and --stack %s)", c->stack_pos, c->stack_opt);
  char tsp[1100];
  if (c->ts_opt) snprintf(tsp, sizeof tsp, "%s", c->ts_opt);
  else if (sp) { if (tsdir_default_path(ctx, sp, tsp, sizeof tsp)) return ctx->status; }
  else return ctx_fail(ctx, CBAS_EUSAGE, "no stack given (cbas CMD STACK, or --ts TSDIR of an earlier step)");
  if (create) {
    if (!sp) return ctx_fail(ctx, CBAS_EUSAGE, "no stack given: this step starts a TS directory and needs STACK");
    plat_stat st;
    plat_stat_path(sp, &st);
    if (!st.is_dir) return ctx_fail(ctx, CBAS_EUSAGE, "%s: no such stack directory (run cbas prep first)", sp);
    if (tsdir_create(ctx, t, tsp, sp)) return ctx->status;
  } else if (tsdir_open(ctx, t, tsp, sp)) {
    return ctx->status;
  }
  return stack_open(ctx, t->stack_path, s);
}

void tsdir_report_peak(cbas_ctx *ctx, const char *step) {
  const cbas_budget *b = ctx->budget;
  ctx_info(ctx, "%s: peak memory %.1f MB of the %.0f MB budget\n", step, (double)b->peak / 1048576.0,
           (double)b->limit / 1048576.0);
}

int tsdir_cmd_main(int argc, char **argv, const tsdir_cmd_spec *spec) {
  tsdir_cli c;
  tsdir_cli_build(&c, spec->step, spec->extra, spec->n_extra);
  cli_common common;
  char err[512], label[64];
  snprintf(label, sizeof label, "cbas %s", spec->name);
  int r = cli_parse(spec->name, "[STACK] [--ts TSDIR] [options]", spec->summary, c.opt, c.n_opt, argc, argv, &common,
                    err, sizeof err);
  if (r == 1) return 0;
  if (r) { fprintf(stderr, "%s: %s\n", label, err); return 2; }
  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &common)) return cli_finish(&ctx, spec->name);
  tsdir_pvals v;
  tsdir t;
  stack *s = NULL;
  if (!tsdir_cli_apply(&ctx, &c, &v) && !tsdir_cli_open(&ctx, &c, spec->create, &t, &s)) {
    double t0 = plat_now();
    if (!spec->run(&ctx, &t, s, &v, spec->ud)) {
      ctx_info(&ctx, "%s: done in %.2f s; output in %s\n", label, plat_now() - t0, t.path);
      tsdir_report_peak(&ctx, label);
    }
  }
  stack_close(s);
  return cli_finish(&ctx, spec->name);
}

int tsdir_get_param_par(cbas_ctx *ctx, const char *path, const char *key, const char *producer,
                        char *val, size_t cap) {
  int fd, e = plat_open(path, PLAT_RDONLY, &fd);
  if (e) return ctx_fail(ctx, CBAS_EUSAGE, "%s: cannot open (%s): run cbas %s first", path, plat_strerror(e), producer);
  uint64_t size = 0;
  plat_fsize(fd, &size);
  if (size > (16u << 20)) {
    plat_close(fd);
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: not a parameter file (%llu bytes)", path, (unsigned long long)size);
  }
  char *buf = malloc((size_t)size + 1);
  size_t got = 0;
  if (!buf) {
    plat_close(fd);
    return ctx_fail(ctx, CBAS_ENOMEM, "out of memory reading %s", path);
  }
  e = plat_pread(fd, buf, (size_t)size, 0, &got);
  plat_close(fd);
  if (e) {
    free(buf);
    return ctx_fail(ctx, CBAS_EIO, "%s: read failed: %s", path, plat_strerror(e));
  }
  buf[got] = 0;
  /* the matching lines, in order, as grep prints them; then the 2nd whitespace token */
  int tok = 0, found = 0;
  const char *ln = buf;
  while (*ln && tok < 2) {
    const char *end = strchr(ln, '\n');
    size_t len = end ? (size_t)(end - ln) : strlen(ln);
    int match = 0;
    for (size_t i = 0; !match && i + strlen(key) <= len; i++) match = !strncmp(ln + i, key, strlen(key));
    if (match) {
      found = 1;
      size_t i = 0;
      while (i < len && tok < 2) {
        while (i < len && (ln[i] == ' ' || ln[i] == '\t' || ln[i] == '\r')) i++;
        size_t s = i;
        while (i < len && !(ln[i] == ' ' || ln[i] == '\t' || ln[i] == '\r')) i++;
        if (i > s && ++tok == 2) snprintf(val, cap, "%.*s", (int)(i - s), ln + s);
      }
    }
    ln += len + (end ? 1 : 0);
  }
  free(buf);
  if (tok < 2)
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: %s '%s' (run cbas %s again)", path,
                    found ? "no value for" : "no line with", key, producer);
  return 0;
}
