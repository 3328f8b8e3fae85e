/* check.c — test harness implementation (see check.h). */
#define _GNU_SOURCE
#include "check.h"
#include "cbas/plat.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int check_failed_now;
static int n_pass, n_fail;
static const char *current;
static char tmpdir[1024];

void check_fail(const char *file, int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("FAIL - %s: %s:%d: %s\n", current ? current : "?", file, line, msg);
  fflush(stdout);
  check_failed_now = 1;
}
int check_run(const char *name, void (*fn)(void)) {
  current = name;
  check_failed_now = 0;
  plat_fault_clear();
  fn();
  plat_fault_clear();
  if (check_failed_now) n_fail++;
  else { n_pass++; printf("ok - %s\n", name); }
  fflush(stdout);
  return check_failed_now;
}
int check_done(void) { return n_fail ? 1 : 0; }

const char *check_tmpdir(void) {
  if (!tmpdir[0]) {
    const char *base = getenv("CBAS_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/unit%d", base && *base ? base : "/tmp", plat_pid());
    plat_mkdir_p(tmpdir);
  }
  return tmpdir;
}
const char *check_path(const char *name) {
  static char bufs[8][1200];
  static int k;
  char *b = bufs[k++ & 7];
  snprintf(b, sizeof bufs[0], "%s/%s", check_tmpdir(), name);
  return b;
}
int check_sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  fflush(stdout);
  int r = system(cmd);
  if (r == -1) return -1;
  return (r >> 8) & 0xff;
}
