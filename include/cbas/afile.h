/* afile.h — output files that appear complete or not at all.
 *
 * afile_open() creates "<path>.tmp<pid>" next to the destination; afile_commit() fsyncs it,
 * renames it over <path> and fsyncs the directory; afile_abort() removes it. A killed run
 * leaves at most a *.tmp<pid> file, which afile_sweep() removes on the next run.
 * Writes go through plat_pwrite, so tests can inject ENOSPC and the like.
 */
#ifndef CBAS_AFILE_H
#define CBAS_AFILE_H
#include "cbas/ctx.h"

typedef struct afile {
  int fd;
  uint64_t pos;       /* append position for afile_write */
  char path[1024];    /* final name */
  char tmp[1040];     /* temporary name */
} afile;

int afile_open(cbas_ctx *ctx, afile *f, const char *path);
int afile_write(cbas_ctx *ctx, afile *f, const void *buf, size_t n);            /* append */
int afile_pwrite(cbas_ctx *ctx, afile *f, const void *buf, size_t n, uint64_t off);
int afile_commit(cbas_ctx *ctx, afile *f);
void afile_abort(afile *f);
/* Writes a whole small file atomically (text reports, parameter files). */
int afile_put(cbas_ctx *ctx, const char *path, const void *buf, size_t n);
/* Removes leftover "*.tmp<digits>" files in dir (not recursive). */
int afile_sweep(cbas_ctx *ctx, const char *dir);
/* Moves a finished directory tmp into place as dir: an existing dir is renamed aside to
 * "<dir>.old<pid>", tmp is renamed to dir, then the old tree is removed; if the second rename
 * fails the old dir is put back. Returns 0 or an OS error number (tmp is left for the caller). */
int afile_replace_dir(const char *tmp, const char *dir);
/* Removes a file or a directory tree (missing path: 0). Returns 0 or an OS error number. */
int afile_rm_tree(const char *path);
#endif
