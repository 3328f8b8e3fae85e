/* stack.c — reading and writing the cbas interferogram stack (see include/cbas/stack.h and
 * docs/stack-format.md). */
#include "cbas/stack.h"
#include "cbas/afile.h"
#include "cbas/plat.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const LAYERS[] = {"hgt", "E", "N", "U"};
#define N_LAYERS 4

struct stack {
  char dir[1024];
  stack_meta m;
  int fd_unw, fd_cc, fd_layer[N_LAYERS];
};
struct stack_writer {
  char dir[1024], tmp[1040];
  stack_meta m; /* shallow: counts and sizes only */
  int fd_unw, fd_cc, fd_layer[N_LAYERS];
};

int stack_meta_alloc(cbas_ctx *ctx, stack_meta *m, uint32_t n_ifg, uint32_t n_epoch) {
  memset(m, 0, sizeof *m);
  m->n_ifg = n_ifg;
  m->n_epoch = n_epoch;
  m->ifg = calloc(n_ifg ? n_ifg : 1, sizeof *m->ifg);
  m->ifg_prim = calloc(n_ifg ? n_ifg : 1, sizeof *m->ifg_prim);
  m->ifg_sec = calloc(n_ifg ? n_ifg : 1, sizeof *m->ifg_sec);
  m->epoch = calloc(n_epoch ? n_epoch : 1, sizeof *m->epoch);
  m->bperp_m = calloc(n_epoch ? n_epoch : 1, sizeof *m->bperp_m);
  if (!m->ifg || !m->ifg_prim || !m->ifg_sec || !m->epoch || !m->bperp_m) {
    stack_meta_free(m);
    return ctx_fail(ctx, CBAS_ENOMEM, "out of memory for the list of %u interferograms", n_ifg);
  }
  m->radar_freq_hz = 5.405e9;
  m->nlook = 1;
  return 0;
}
void stack_meta_free(stack_meta *m) {
  free(m->ifg); free(m->ifg_prim); free(m->ifg_sec); free(m->epoch); free(m->bperp_m);
  m->ifg = NULL; m->ifg_prim = m->ifg_sec = NULL; m->epoch = NULL; m->bperp_m = NULL;
}
double stack_wavelength_m(const stack_meta *m) { return 299792458.0 / m->radar_freq_hz; }

static int cmp_date(const void *a, const void *b) { return memcmp(a, b, 8); }

int stack_meta_index_epochs(cbas_ctx *ctx, stack_meta *m) {
  uint32_t n = 0, cap = 2 * m->n_ifg;
  char (*d)[9] = calloc(cap ? cap : 1, sizeof *d);
  if (!d) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory indexing epochs");
  for (uint32_t k = 0; k < m->n_ifg; k++) {
    memcpy(d[n++], m->ifg[k], 8);
    memcpy(d[n++], m->ifg[k] + 9, 8);
  }
  qsort(d, n, sizeof *d, cmp_date);
  uint32_t u = 0;
  for (uint32_t i = 0; i < n; i++)
    if (u == 0 || memcmp(d[u - 1], d[i], 8)) memcpy(d[u++], d[i], 9);
  free(m->epoch); free(m->bperp_m);
  m->epoch = d;
  m->n_epoch = u;
  m->bperp_m = calloc(u ? u : 1, sizeof *m->bperp_m);
  if (!m->bperp_m) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory indexing epochs");
  for (uint32_t i = 0; i < u; i++) m->bperp_m[i] = NAN;
  for (uint32_t k = 0; k < m->n_ifg; k++) {
    char key[9];
    memcpy(key, m->ifg[k], 8);
    key[8] = 0;
    m->ifg_prim[k] = (int32_t)((char(*)[9])bsearch(key, d, u, sizeof *d, cmp_date) - d);
    memcpy(key, m->ifg[k] + 9, 8);
    m->ifg_sec[k] = (int32_t)((char(*)[9])bsearch(key, d, u, sizeof *d, cmp_date) - d);
  }
  return 0;
}

/* ---------------------------------------------------------------- text metadata files */

static int write_meta_files(cbas_ctx *ctx, const char *dir, const stack_meta *m) {
  char path[1100];
  size_t cap = 4096 + (size_t)m->n_ifg * 20 + (size_t)m->n_epoch * 40;
  char *buf = malloc(cap);
  if (!buf) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory writing %s", dir);
  int n = snprintf(buf, cap,
                   "format: cbas-stack %d\nwidth: %u\nlength: %u\nn_ifg: %u\nn_epoch: %u\n"
                   "geotransform: %.17g %.17g %.17g %.17g %.17g %.17g\n"
                   "corner_lat: %.17g\ncorner_lon: %.17g\npost_lat: %.17g\npost_lon: %.17g\n"
                   "radar_frequency: %.17g\nwavelength: %.17g\nnlook: %d\n"
                   "clip: %u:%u/%u:%u\nframe_size: %u %u\ncenter_time: %s\nhas_hgt: %d\nhas_enu: %d\n",
                   STACK_FORMAT_VERSION, m->width, m->length, m->n_ifg, m->n_epoch, m->gt[0], m->gt[1],
                   m->gt[2], m->gt[3], m->gt[4], m->gt[5], m->corner_lat, m->corner_lon, m->post_lat,
                   m->post_lon, m->radar_freq_hz, stack_wavelength_m(m), m->nlook, m->clip_x0, m->clip_x1,
                   m->clip_y0, m->clip_y1, m->frame_width, m->frame_length, m->center_time, m->has_hgt,
                   m->has_enu);
  snprintf(path, sizeof path, "%s/stack.par", dir);
  int r = afile_put(ctx, path, buf, (size_t)n);
  if (!r) {
    size_t len = 0;
    for (uint32_t k = 0; k < m->n_ifg; k++) len += (size_t)snprintf(buf + len, cap - len, "%s\n", m->ifg[k]);
    snprintf(path, sizeof path, "%s/ifgs.txt", dir);
    r = afile_put(ctx, path, buf, len);
  }
  if (!r) {
    size_t len = 0;
    for (uint32_t i = 0; i < m->n_epoch; i++)
      len += (size_t)snprintf(buf + len, cap - len, "%s %.6f\n", m->epoch[i], m->bperp_m[i]);
    snprintf(path, sizeof path, "%s/epochs.txt", dir);
    r = afile_put(ctx, path, buf, len);
  }
  free(buf);
  return r;
}

/* Reads "key: value" from stack.par text; returns pointer to value (in a static-free copy). */
static const char *par_get(const char *text, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = text; p && *p;) {
    if (!strncmp(p, key, kl) && p[kl] == ':') {
      p += kl + 1;
      while (*p == ' ') p++;
      return p;
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return NULL;
}

static char *slurp_text(cbas_ctx *ctx, const char *path, size_t max) {
  int fd, e = plat_open(path, PLAT_RDONLY, &fd);
  if (e) { ctx_fail(ctx, CBAS_EIO, "%s: cannot open: %s", path, plat_strerror(e)); return NULL; }
  uint64_t sz = 0;
  plat_fsize(fd, &sz);
  if (sz > max) { plat_close(fd); ctx_fail(ctx, CBAS_EFORMAT, "%s: unexpectedly large (%llu bytes)", path, (unsigned long long)sz); return NULL; }
  char *b = malloc((size_t)sz + 1);
  size_t got = 0;
  if (!b) { plat_close(fd); ctx_fail(ctx, CBAS_ENOMEM, "out of memory reading %s", path); return NULL; }
  e = plat_pread(fd, b, (size_t)sz, 0, &got);
  plat_close(fd);
  if (e || got != sz) { free(b); ctx_fail(ctx, CBAS_EIO, "%s: read failed", path); return NULL; }
  b[got] = 0;
  return b;
}

static int parse_meta(cbas_ctx *ctx, const char *dir, stack_meta *m) {
  char path[1100];
  snprintf(path, sizeof path, "%s/stack.par", dir);
  char *t = slurp_text(ctx, path, 1 << 20);
  if (!t) return ctx->status;
  const char *v;
  unsigned w = 0, l = 0, ni = 0, ne = 0, ver = 0;
  if (!(v = par_get(t, "format")) || sscanf(v, "cbas-stack %u", &ver) != 1 || ver != STACK_FORMAT_VERSION) {
    free(t);
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: not a cbas stack of format %d", path, STACK_FORMAT_VERSION);
  }
  int ok = (v = par_get(t, "width")) && sscanf(v, "%u", &w) == 1 && (v = par_get(t, "length")) &&
           sscanf(v, "%u", &l) == 1 && (v = par_get(t, "n_ifg")) && sscanf(v, "%u", &ni) == 1 &&
           (v = par_get(t, "n_epoch")) && sscanf(v, "%u", &ne) == 1 && w > 0 && l > 0;
  if (!ok) { free(t); return ctx_fail(ctx, CBAS_EFORMAT, "%s: missing or bad width/length/n_ifg/n_epoch", path); }
  if (stack_meta_alloc(ctx, m, ni, ne)) { free(t); return ctx->status; }
  m->width = w; m->length = l;
  if ((v = par_get(t, "geotransform")))
    sscanf(v, "%lf %lf %lf %lf %lf %lf", &m->gt[0], &m->gt[1], &m->gt[2], &m->gt[3], &m->gt[4], &m->gt[5]);
  if ((v = par_get(t, "corner_lat"))) m->corner_lat = strtod(v, NULL);
  if ((v = par_get(t, "corner_lon"))) m->corner_lon = strtod(v, NULL);
  if ((v = par_get(t, "post_lat"))) m->post_lat = strtod(v, NULL);
  if ((v = par_get(t, "post_lon"))) m->post_lon = strtod(v, NULL);
  if ((v = par_get(t, "radar_frequency"))) m->radar_freq_hz = strtod(v, NULL);
  if ((v = par_get(t, "nlook"))) m->nlook = atoi(v);
  if ((v = par_get(t, "clip"))) sscanf(v, "%u:%u/%u:%u", &m->clip_x0, &m->clip_x1, &m->clip_y0, &m->clip_y1);
  if ((v = par_get(t, "frame_size"))) sscanf(v, "%u %u", &m->frame_width, &m->frame_length);
  if ((v = par_get(t, "center_time"))) sscanf(v, "%63[^\n]", m->center_time);
  if ((v = par_get(t, "has_hgt"))) m->has_hgt = atoi(v);
  if ((v = par_get(t, "has_enu"))) m->has_enu = atoi(v);
  free(t);
  if (!(m->radar_freq_hz > 0)) return ctx_fail(ctx, CBAS_EFORMAT, "%s: bad radar_frequency", path);

  snprintf(path, sizeof path, "%s/ifgs.txt", dir);
  if (!(t = slurp_text(ctx, path, 64u << 20))) return ctx->status;
  uint32_t k = 0;
  for (char *p = t; *p && k <= ni;) {
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    if (*p) {
      if (k == ni || strlen(p) != 17 || p[8] != '_') { free(t); return ctx_fail(ctx, CBAS_EFORMAT, "%s: bad line %u '%.40s'", path, k + 1, p); }
      memcpy(m->ifg[k++], p, 18);
    }
    if (!e) break;
    p = e + 1;
  }
  free(t);
  if (k != ni) return ctx_fail(ctx, CBAS_EFORMAT, "%s: %u interferograms, stack.par says %u", path, k, ni);
  if (stack_meta_index_epochs(ctx, m)) return ctx->status;
  if (m->n_epoch != ne) return ctx_fail(ctx, CBAS_EFORMAT, "%s: %u epochs, stack.par says %u", path, m->n_epoch, ne);

  snprintf(path, sizeof path, "%s/epochs.txt", dir);
  if (!(t = slurp_text(ctx, path, 64u << 20))) return ctx->status;
  k = 0;
  for (char *p = t; *p && k < ne;) {
    char date[16];
    double bp = NAN;
    if (sscanf(p, "%15s %lf", date, &bp) >= 1) {
      if (strcmp(date, m->epoch[k])) { free(t); return ctx_fail(ctx, CBAS_EFORMAT, "%s: epoch %u is %s, expected %s", path, k + 1, date, m->epoch[k]); }
      m->bperp_m[k++] = bp;
    }
    char *e = strchr(p, '\n');
    if (!e) break;
    p = e + 1;
  }
  free(t);
  if (k != ne) return ctx_fail(ctx, CBAS_EFORMAT, "%s: %u epochs listed, expected %u", path, k, ne);
  return 0;
}

/* ---------------------------------------------------------------- reading */

static int open_raster(cbas_ctx *ctx, const char *dir, const char *name, uint64_t expect, int *fd, int optional) {
  char path[1100];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  *fd = -1;
  plat_stat st;
  plat_stat_path(path, &st);
  if (!st.exists && optional) return 0;
  int e = plat_open(path, PLAT_RDONLY, fd);
  if (e) { *fd = -1; return ctx_fail(ctx, CBAS_EIO, "%s: cannot open: %s", path, plat_strerror(e)); }
  uint64_t sz = 0;
  plat_fsize(*fd, &sz);
  if (sz != expect)
    return ctx_fail(ctx, CBAS_EFORMAT, "%s: size %llu bytes, expected %llu (truncated or not from this stack)", path,
                    (unsigned long long)sz, (unsigned long long)expect);
  return 0;
}

int stack_open(cbas_ctx *ctx, const char *dir, stack **out) {
  stack *s = calloc(1, sizeof *s);
  if (!s) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  s->fd_unw = s->fd_cc = -1;
  for (int i = 0; i < N_LAYERS; i++) s->fd_layer[i] = -1;
  snprintf(s->dir, sizeof s->dir, "%s", dir);
  plat_stat st;
  plat_stat_path(dir, &st);
  if (!st.is_dir) { free(s); return ctx_fail(ctx, CBAS_EUSAGE, "%s: no such stack directory (run cbas prep first)", dir); }
  if (parse_meta(ctx, dir, &s->m)) { stack_close(s); return ctx->status; }
  const stack_meta *m = &s->m;
  uint64_t plane = (uint64_t)m->width * m->length;
  if (open_raster(ctx, dir, "unw.bil", plane * m->n_ifg * 4, &s->fd_unw, 0) ||
      open_raster(ctx, dir, "cc.bil", plane * m->n_ifg, &s->fd_cc, 0)) {
    stack_close(s);
    return ctx->status;
  }
  for (int i = 0; i < N_LAYERS; i++) {
    char name[16];
    snprintf(name, sizeof name, "%s.f32", LAYERS[i]);
    if (open_raster(ctx, dir, name, plane * 4, &s->fd_layer[i], 1)) { stack_close(s); return ctx->status; }
  }
  *out = s;
  return 0;
}
void stack_close(stack *s) {
  if (!s) return;
  if (s->fd_unw >= 0) plat_close(s->fd_unw);
  if (s->fd_cc >= 0) plat_close(s->fd_cc);
  for (int i = 0; i < N_LAYERS; i++)
    if (s->fd_layer[i] >= 0) plat_close(s->fd_layer[i]);
  stack_meta_free(&s->m);
  free(s);
}
const stack_meta *stack_get_meta(const stack *s) { return &s->m; }
const char *stack_dir(const stack *s) { return s->dir; }

static int read_exact(cbas_ctx *ctx, const char *dir, const char *name, int fd, void *dst, size_t n, uint64_t off) {
  size_t got = 0;
  int e = plat_pread(fd, dst, n, off, &got);
  if (e || got != n)
    return ctx_fail(ctx, CBAS_EIO, "%s/%s: read of %zu bytes at %llu failed: %s", dir, name, n, (unsigned long long)off,
                    e ? plat_strerror(e) : "short read");
  return 0;
}
static int check_rows(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny) {
  if (y0 > s->m.length || ny > s->m.length - y0)
    return ctx_fail(ctx, CBAS_EINTERNAL, "%s: rows %u+%u outside the stack (%u rows)", s->dir, y0, ny, s->m.length);
  return 0;
}
int stack_read_unw(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny, float *dst) {
  if (check_rows(ctx, s, y0, ny)) return ctx->status;
  uint64_t row = (uint64_t)s->m.n_ifg * s->m.width * 4;
  return read_exact(ctx, s->dir, "unw.bil", s->fd_unw, dst, (size_t)(row * ny), row * y0);
}
int stack_read_cc(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny, uint8_t *dst) {
  if (check_rows(ctx, s, y0, ny)) return ctx->status;
  uint64_t row = (uint64_t)s->m.n_ifg * s->m.width;
  return read_exact(ctx, s->dir, "cc.bil", s->fd_cc, dst, (size_t)(row * ny), row * y0);
}
static int layer_index(const char *name) {
  for (int i = 0; i < N_LAYERS; i++)
    if (!strcmp(name, LAYERS[i])) return i;
  return -1;
}
int stack_read_layer(cbas_ctx *ctx, const stack *s, const char *name, uint32_t y0, uint32_t ny, float *dst) {
  int i = layer_index(name);
  if (i < 0) return ctx_fail(ctx, CBAS_EINTERNAL, "unknown stack layer '%s'", name);
  if (s->fd_layer[i] < 0) return ctx_fail(ctx, CBAS_EDATA, "%s: the stack has no %s layer (%s.f32)", s->dir, name, name);
  if (check_rows(ctx, s, y0, ny)) return ctx->status;
  char fn[16];
  snprintf(fn, sizeof fn, "%s.f32", name);
  uint64_t row = (uint64_t)s->m.width * 4;
  return read_exact(ctx, s->dir, fn, s->fd_layer[i], dst, (size_t)(row * ny), row * y0);
}

/* ---------------------------------------------------------------- writing */

static int create_raster(cbas_ctx *ctx, const char *dir, const char *name, uint64_t size, int *fd) {
  char path[1100];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int e = plat_open(path, PLAT_RDWR | PLAT_CREATE | PLAT_TRUNC, fd);
  if (e) { *fd = -1; return ctx_fail(ctx, CBAS_EIO, "%s: cannot create: %s", path, plat_strerror(e)); }
  e = plat_ftruncate(*fd, size);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: cannot size to %llu bytes: %s", path, (unsigned long long)size, plat_strerror(e));
  return 0;
}

int stack_create(cbas_ctx *ctx, const char *dir, const stack_meta *m, stack_writer **out) {
  stack_writer *w = calloc(1, sizeof *w);
  if (!w) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  w->fd_unw = w->fd_cc = -1;
  for (int i = 0; i < N_LAYERS; i++) w->fd_layer[i] = -1;
  snprintf(w->dir, sizeof w->dir, "%s", dir);
  snprintf(w->tmp, sizeof w->tmp, "%s.tmp%d", dir, plat_pid());
  w->m = *m;
  afile_rm_tree(w->tmp);
  int e = plat_mkdir_p(w->tmp);
  if (e) { free(w); return ctx_fail(ctx, CBAS_EIO, "%s: cannot create: %s", dir, plat_strerror(e)); }
  uint64_t plane = (uint64_t)m->width * m->length;
  if (write_meta_files(ctx, w->tmp, m) || create_raster(ctx, w->tmp, "unw.bil", plane * m->n_ifg * 4, &w->fd_unw) ||
      create_raster(ctx, w->tmp, "cc.bil", plane * m->n_ifg, &w->fd_cc)) {
    stack_abort(w);
    return ctx->status;
  }
  for (int i = 0; i < N_LAYERS; i++) {
    int want = i == 0 ? m->has_hgt : m->has_enu;
    if (!want) continue;
    char name[16];
    snprintf(name, sizeof name, "%s.f32", LAYERS[i]);
    if (create_raster(ctx, w->tmp, name, plane * 4, &w->fd_layer[i])) { stack_abort(w); return ctx->status; }
  }
  *out = w;
  return 0;
}
const char *stack_writer_dir(const stack_writer *w) { return w->tmp; }
int stack_writer_read_unw(cbas_ctx *ctx, stack_writer *w, uint32_t y0, uint32_t ny, float *dst) {
  if (y0 > w->m.length || ny > w->m.length - y0)
    return ctx_fail(ctx, CBAS_EINTERNAL, "%s: rows %u+%u outside the stack (%u rows)", w->dir, y0, ny, w->m.length);
  uint64_t row = (uint64_t)w->m.n_ifg * w->m.width * 4;
  return read_exact(ctx, w->dir, "unw.bil", w->fd_unw, dst, (size_t)(row * ny), row * y0);
}
int stack_writer_read_cc(cbas_ctx *ctx, stack_writer *w, uint32_t y0, uint32_t ny, uint8_t *dst) {
  if (y0 > w->m.length || ny > w->m.length - y0)
    return ctx_fail(ctx, CBAS_EINTERNAL, "%s: rows %u+%u outside the stack (%u rows)", w->dir, y0, ny, w->m.length);
  uint64_t row = (uint64_t)w->m.n_ifg * w->m.width;
  return read_exact(ctx, w->dir, "cc.bil", w->fd_cc, dst, (size_t)(row * ny), row * y0);
}

static int write_at(cbas_ctx *ctx, const stack_writer *w, const char *name, int fd, const void *src, size_t n, uint64_t off) {
  int e = plat_pwrite(fd, src, n, off);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s/%s: write failed: %s", w->dir, name, plat_strerror(e));
  return 0;
}
int stack_write_unw_row(cbas_ctx *ctx, stack_writer *w, uint32_t k, uint32_t y, const float *row) {
  uint64_t off = (((uint64_t)y * w->m.n_ifg) + k) * w->m.width * 4;
  return write_at(ctx, w, "unw.bil", w->fd_unw, row, (size_t)w->m.width * 4, off);
}
int stack_write_cc_row(cbas_ctx *ctx, stack_writer *w, uint32_t k, uint32_t y, const uint8_t *row) {
  uint64_t off = (((uint64_t)y * w->m.n_ifg) + k) * w->m.width;
  return write_at(ctx, w, "cc.bil", w->fd_cc, row, w->m.width, off);
}
int stack_write_layer_rows(cbas_ctx *ctx, stack_writer *w, const char *name, uint32_t y0, uint32_t ny, const float *rows) {
  int i = layer_index(name);
  if (i < 0 || w->fd_layer[i] < 0) return ctx_fail(ctx, CBAS_EINTERNAL, "stack layer '%s' not declared", name);
  char fn[16];
  snprintf(fn, sizeof fn, "%s.f32", name);
  return write_at(ctx, w, fn, w->fd_layer[i], rows, (size_t)w->m.width * 4 * ny, (uint64_t)y0 * w->m.width * 4);
}

static void close_all(stack_writer *w) {
  if (w->fd_unw >= 0) plat_close(w->fd_unw);
  if (w->fd_cc >= 0) plat_close(w->fd_cc);
  for (int i = 0; i < N_LAYERS; i++)
    if (w->fd_layer[i] >= 0) plat_close(w->fd_layer[i]);
  w->fd_unw = w->fd_cc = -1;
  for (int i = 0; i < N_LAYERS; i++) w->fd_layer[i] = -1;
}
int stack_commit(cbas_ctx *ctx, stack_writer *w) {
  int fds[2 + N_LAYERS] = {w->fd_unw, w->fd_cc, w->fd_layer[0], w->fd_layer[1], w->fd_layer[2], w->fd_layer[3]};
  for (int i = 0; i < 2 + N_LAYERS; i++) {
    if (fds[i] < 0) continue;
    int e = plat_fsync(fds[i]);
    if (e) { ctx_fail(ctx, CBAS_EIO, "%s: fsync failed: %s", w->dir, plat_strerror(e)); stack_abort(w); return ctx->status; }
  }
  close_all(w);
  plat_fsync_dir(w->tmp);
  int e = afile_replace_dir(w->tmp, w->dir);
  if (e) {
    ctx_fail(ctx, CBAS_EIO, "%s: cannot move the new stack into place: %s", w->dir, plat_strerror(e));
    stack_abort(w);
    return ctx->status;
  }
  free(w);
  return 0;
}
void stack_abort(stack_writer *w) {
  if (!w) return;
  close_all(w);
  afile_rm_tree(w->tmp);
  free(w);
}
