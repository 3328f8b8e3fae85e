/* afile.c — write-to-temporary-then-rename output files (see include/cbas/afile.h). */
#include "cbas/afile.h"
#include "cbas/plat.h"
#include <stdio.h>
#include <string.h>

int afile_open(cbas_ctx *ctx, afile *f, const char *path) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
  if (strlen(path) >= sizeof f->path)
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: path too long", path);
  snprintf(f->path, sizeof f->path, "%s", path);
  snprintf(f->tmp, sizeof f->tmp, "%s.tmp%d", path, plat_pid());
  int e = plat_open(f->tmp, PLAT_RDWR | PLAT_CREATE | PLAT_TRUNC, &f->fd);
  if (e) {
    f->fd = -1;
    return ctx_fail(ctx, CBAS_EIO, "%s: cannot create: %s", path, plat_strerror(e));
  }
  return 0;
}
int afile_pwrite(cbas_ctx *ctx, afile *f, const void *buf, size_t n, uint64_t off) {
  int e = plat_pwrite(f->fd, buf, n, off);
  if (e) return ctx_fail(ctx, CBAS_EIO, "%s: write failed: %s", f->path, plat_strerror(e));
  return 0;
}
int afile_write(cbas_ctx *ctx, afile *f, const void *buf, size_t n) {
  int r = afile_pwrite(ctx, f, buf, n, f->pos);
  if (!r) f->pos += n;
  return r;
}
static void dir_of(const char *path, char *dir, size_t cap) {
  const char *s = strrchr(path, '/');
  if (!s) snprintf(dir, cap, ".");
  else if (s == path) snprintf(dir, cap, "/");
  else snprintf(dir, cap, "%.*s", (int)(s - path), path);
}
int afile_commit(cbas_ctx *ctx, afile *f) {
  int e = plat_fsync(f->fd);
  if (e) {
    afile_abort(f);
    return ctx_fail(ctx, CBAS_EIO, "%s: fsync failed: %s", f->path, plat_strerror(e));
  }
  plat_close(f->fd);
  f->fd = -1;
  e = plat_rename(f->tmp, f->path);
  if (e) {
    plat_unlink(f->tmp);
    return ctx_fail(ctx, CBAS_EIO, "%s: rename failed: %s", f->path, plat_strerror(e));
  }
  char dir[1024];
  dir_of(f->path, dir, sizeof dir);
  plat_fsync_dir(dir);
  return 0;
}
void afile_abort(afile *f) {
  if (f->fd >= 0) plat_close(f->fd);
  f->fd = -1;
  if (f->tmp[0]) plat_unlink(f->tmp);
}
int afile_put(cbas_ctx *ctx, const char *path, const void *buf, size_t n) {
  afile f;
  if (afile_open(ctx, &f, path)) return ctx->status;
  if (afile_write(ctx, &f, buf, n)) { afile_abort(&f); return ctx->status; }
  return afile_commit(ctx, &f);
}

typedef struct { const char *dir; int err; } sweep_ud;
static int is_tmp_name(const char *name) {
  const char *t = strstr(name, ".tmp");
  while (t) {
    const char *p = t + 4;
    if (*p >= '0' && *p <= '9') {
      while (*p >= '0' && *p <= '9') p++;
      if (!*p) return 1;
    }
    t = strstr(t + 1, ".tmp");
  }
  return 0;
}
static int sweep_cb(void *ud, const char *name) {
  sweep_ud *s = ud;
  if (is_tmp_name(name)) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", s->dir, name);
    plat_unlink(p);
  }
  return 0;
}
int afile_sweep(cbas_ctx *ctx, const char *dir) {
  sweep_ud s = {dir, 0};
  (void)ctx;
  plat_stat st;
  if (plat_stat_path(dir, &st) || !st.exists) return 0;
  plat_listdir(dir, sweep_cb, &s);
  return 0;
}

typedef struct { const char *dir; int err; } rm_ud;
static int rm_cb(void *ud, const char *name) {
  rm_ud *u = ud;
  char p[2200];
  snprintf(p, sizeof p, "%s/%s", u->dir, name);
  int e = afile_rm_tree(p);
  if (e && !u->err) u->err = e;
  return 0;
}
int afile_rm_tree(const char *path) {
  plat_stat st;
  plat_stat_path(path, &st);
  if (!st.exists) return 0;
  if (!st.is_dir) return plat_unlink(path);
  rm_ud u = {path, 0};
  plat_listdir(path, rm_cb, &u);
  int e = plat_rmdir(path);
  return u.err ? u.err : e;
}

int afile_replace_dir(const char *tmp, const char *dir) {
  char old[1100];
  snprintf(old, sizeof old, "%s.old%d", dir, plat_pid());
  plat_stat st;
  plat_stat_path(dir, &st);
  int e = 0;
  if (st.exists) e = plat_rename(dir, old);
  if (!e) e = plat_rename(tmp, dir);
  if (e) {
    if (st.exists) plat_rename(old, dir);
    return e;
  }
  if (st.exists) afile_rm_tree(old);
  return 0;
}
