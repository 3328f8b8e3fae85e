/* lbdir.c — a LiCSBAS GEOCml-style folder written by cbas prep (see include/cbas/lbdir.h). */
#include "cbas/lbdir.h"
#include "cbas/afile.h"
#include "cbas/plat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lbdir {
  char dir[1024], tmp[1040];
  uint32_t width, length;
  plat_mutex *mu;
  uint64_t bytes;
};

static void count(lbdir *d, uint64_t n) {
  plat_mutex_lock(d->mu);
  d->bytes += n;
  plat_mutex_unlock(d->mu);
}

int lbdir_put(cbas_ctx *ctx, lbdir *d, const char *name, const void *buf, size_t n) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", d->tmp, name);
  int fd, e = plat_open(path, PLAT_WRONLY | PLAT_CREATE | PLAT_TRUNC, &fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s/%s: cannot create: %s", d->dir, name, plat_strerror(e));
  e = n ? plat_pwrite(fd, buf, n, 0) : 0;
  plat_close(fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s/%s: write failed: %s", d->dir, name, plat_strerror(e));
  count(d, n);
  return 0;
}

/* Writes n bytes at off of file rel (created if needed) inside the temporary folder. */
static int write_at(cbas_ctx *ctx, lbdir *d, const char *rel, const void *buf, size_t n, uint64_t off) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", d->tmp, rel);
  int fd, e = plat_open(path, PLAT_WRONLY | PLAT_CREATE, &fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s/%s: cannot create: %s", d->dir, rel, plat_strerror(e));
  e = plat_pwrite(fd, buf, n, off);
  plat_close(fd);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s/%s: write failed: %s", d->dir, rel, plat_strerror(e));
  count(d, n);
  return 0;
}

static int write_par_files(cbas_ctx *ctx, lbdir *d, const lbdir_info *in) {
  char text[2048];
  int n = lb_format_mli_par(text, sizeof text, in->width, in->length, in->radar_freq_hz, in->center_time, in->clipped);
  if (lbdir_put(ctx, d, "slc.mli.par", text, (size_t)n)) return ctx->status;
  n = lb_format_dem_par(text, sizeof text, in->width, in->length, in->corner_lat, in->corner_lon, in->post_lat,
                        in->post_lon, in->clipped);
  if (lbdir_put(ctx, d, "EQA.dem_par", text, (size_t)n)) return ctx->status;
  if (in->clipped) {
    n = snprintf(text, sizeof text, "%u:%u/%u:%u", in->clip.x0, in->clip.x1, in->clip.y0, in->clip.y1);
    if (lbdir_put(ctx, d, "cliparea.txt", text, (size_t)n)) return ctx->status;
  }
  return 0;
}

int lbdir_create(cbas_ctx *ctx, const char *dir, const lbdir_info *info, lbdir **out) {
  lbdir *d = calloc(1, sizeof *d);
  if (!d) return ctx_fail(ctx, CBAS_ENOMEM, "out of memory");
  if (strlen(dir) >= sizeof d->dir - 1) { free(d); return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", dir); }
  snprintf(d->dir, sizeof d->dir, "%s", dir);
  snprintf(d->tmp, sizeof d->tmp, "%s.tmp%d", dir, plat_pid());
  d->width = info->width;
  d->length = info->length;
  if (plat_mutex_new(&d->mu)) { free(d); return ctx_fail(ctx, CBAS_ENOMEM, "out of memory"); }
  afile_rm_tree(d->tmp);
  int e = plat_mkdir_p(d->tmp);
  if (e) {
    plat_mutex_free(d->mu);
    free(d);
    return ctx_fail(ctx, CBAS_EIO, "%s: cannot create: %s", dir, plat_strerror(e));
  }
  if (write_par_files(ctx, d, info)) { lbdir_abort(d); return ctx->status; }
  *out = d;
  return 0;
}

int lbdir_write_ifg_rows(cbas_ctx *ctx, lbdir *d, const char *ifg, uint32_t y0, uint32_t ny,
                         const float *unw, const uint8_t *cc) {
  char rel[128], path[1200];
  snprintf(path, sizeof path, "%s/%s", d->tmp, ifg);
  int e = plat_mkdir(path);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s/%s: cannot create: %s", d->dir, ifg, plat_strerror(e));
  uint64_t w = d->width;
  snprintf(rel, sizeof rel, "%s/%s.unw", ifg, ifg);
  if (write_at(ctx, d, rel, unw, (size_t)(w * ny * 4), (uint64_t)y0 * w * 4)) return ctx->status;
  snprintf(rel, sizeof rel, "%s/%s.cc", ifg, ifg);
  return write_at(ctx, d, rel, cc, (size_t)(w * ny), (uint64_t)y0 * w);
}

int lbdir_write_raster(cbas_ctx *ctx, lbdir *d, const char *name, uint32_t y0, uint32_t ny, const float *rows) {
  uint64_t w = d->width;
  return write_at(ctx, d, name, rows, (size_t)(w * ny * 4), (uint64_t)y0 * w * 4);
}

uint64_t lbdir_bytes(const lbdir *d) { return d->bytes; }

int lbdir_commit(cbas_ctx *ctx, lbdir *d) {
  int e = afile_replace_dir(d->tmp, d->dir);
  if (e) {
    ctx_fail(ctx, CBAS_EIO, "%s: cannot move the new folder into place: %s", d->dir, plat_strerror(e));
    lbdir_abort(d);
    return ctx->status;
  }
  plat_mutex_free(d->mu);
  free(d);
  return 0;
}

void lbdir_abort(lbdir *d) {
  if (!d) return;
  afile_rm_tree(d->tmp);
  plat_mutex_free(d->mu);
  free(d);
}
