/* test_core.c — memory budget, atomic files with injected faults, parallel loops, platform. */
#include "check.h"
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/par.h"
#include "cbas/plat.h"
#include <stdio.h>
#include <string.h>

static void test_parse_size(void) {
  uint64_t v;
  CHECK(budget_parse_size("256M", &v) == 0); CHECK_EQ_INT(v, 256ull << 20);
  CHECK(budget_parse_size("1G", &v) == 0); CHECK_EQ_INT(v, 1ull << 30);
  CHECK(budget_parse_size("64k", &v) == 0); CHECK_EQ_INT(v, 65536);
  CHECK(budget_parse_size("1.5M", &v) == 0); CHECK_EQ_INT(v, 1572864);
  CHECK(budget_parse_size("100", &v) == 0); CHECK_EQ_INT(v, 100);
  CHECK(budget_parse_size("12Q", &v) != 0);
  CHECK(budget_parse_size("", &v) != 0);
  CHECK(budget_parse_size("-5M", &v) != 0);
}

static void test_budget_limits(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  void *a = budget_alloc(&ctx, 600000, "block A");
  CHECK(a != NULL);
  CHECK(((uintptr_t)a & 63) == 0);
  memset(a, 1, 600000);
  void *b = budget_alloc(&ctx, 600000, "block B");
  CHECK(b == NULL);
  CHECK_EQ_INT(ctx.status, CBAS_EBUDGET);
  CHECKF(strstr(ctx.msg, "block B needs") && strstr(ctx.msg, "budget is 1.0 MB"), "msg: %s", ctx.msg);
  ctx_clear_error(&ctx);
  budget_free(&ctx, a);
  CHECK_EQ_INT(ctx.budget->used, 0);
  CHECK(ctx.budget->peak >= 600000);
  b = budget_alloc(&ctx, 600000, "block B");
  CHECK(b != NULL);
  budget_free(&ctx, b);
  CHECK(budget_require(&ctx, 2 << 20, "the stack") == CBAS_EBUDGET);
  CHECK(strstr(ctx.msg, "the stack needs 2.0 MB") != NULL);
  ctx_free(&ctx);
}

/* Freed large blocks are kept and handed back to a request of 80-100 % of their size, never
 * counted as in use; kept + in use never exceeds the limit (a request needing the room
 * releases them); small blocks are not kept; blocks from 4 MB up (mapped directly) work like
 * the others, and a tiny budget keeps nothing. */
static void test_budget_reuse(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64u << 20, 1) == 0); /* keeps up to 4 MB */
  cbas_budget *b = ctx.budget;
  char *a = budget_alloc(&ctx, 300000, "a");
  CHECK(a != NULL);
  memset(a, 0x5a, 300000);
  budget_free(&ctx, a);
  CHECK_EQ_INT(b->used, 0);
  CHECK_EQ_INT(b->n_cached, 1);
  CHECK(b->cached >= 300000 && b->cached < 300000 + 256);
  char *a2 = budget_alloc(&ctx, 260000, "a2"); /* 87 %: served by the kept block */
  CHECK(a2 == a);
  CHECK_EQ_INT(b->n_cached, 0);
  CHECK(b->used >= 300000); /* in use with the size it holds */
  budget_free(&ctx, a2);
  CHECK_EQ_INT(b->used, 0);
  char *c = budget_alloc(&ctx, 200000, "c"); /* 67 %: a new block */
  CHECK(c != a);
  CHECK_EQ_INT(b->n_cached, 1);
  budget_free(&ctx, c);
  CHECK_EQ_INT(b->n_cached, 2);
  void *small = budget_alloc(&ctx, 1000, "small");
  budget_free(&ctx, small);
  CHECK_EQ_INT(b->n_cached, 2);
  /* a request needing the room: kept blocks go first, the limit holds */
  void *big = budget_alloc(&ctx, (64u << 20) - 400000, "big");
  CHECK(big != NULL);
  CHECK(b->used + b->cached <= b->limit);
  CHECKF(b->n_cached <= 1, "%d kept", b->n_cached);
  memset(big, 1, (64u << 20) - 400000); /* mapped directly (>= 4 MB) and writable */
  budget_free(&ctx, big);
  CHECK_EQ_INT(b->used, 0);
  /* more than the cap (4 MB here) is never kept */
  void *blk[6];
  for (int i = 0; i < 6; i++) blk[i] = budget_alloc(&ctx, 1u << 20, "1M");
  for (int i = 0; i < 6; i++) budget_free(&ctx, blk[i]);
  CHECKF(b->cached <= (4u << 20) && b->n_cached <= BUDGET_CACHE_N, "%llu kept in %d", (unsigned long long)b->cached,
         b->n_cached);
  ctx_free(&ctx);
  CHECK(ctx_init(&ctx, 512u << 10, 1) == 0); /* cap 32 kB: nothing kept */
  a = budget_alloc(&ctx, 100000, "a");
  budget_free(&ctx, a);
  CHECK_EQ_INT(ctx.budget->n_cached, 0);
  ctx_free(&ctx);
}

static void test_budget_fail_after(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 64 << 20, 1) == 0);
  budget_fail_after(ctx.budget, 2);
  void *a = budget_alloc(&ctx, 10, "a"), *b = budget_alloc(&ctx, 10, "b"), *c = budget_alloc(&ctx, 10, "c");
  CHECK(a && b && !c);
  budget_free(&ctx, a); budget_free(&ctx, b);
  ctx_free(&ctx);
}

static int slurp(const char *path, char *buf, size_t cap, size_t *n) {
  int fd, e = plat_open(path, PLAT_RDONLY, &fd);
  if (e) return e;
  e = plat_pread(fd, buf, cap, 0, n);
  plat_close(fd);
  return e;
}

static void test_afile_commit_and_faults(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  const char *p = check_path("afile.txt");
  CHECK(afile_put(&ctx, p, "first", 5) == 0);
  char buf[64]; size_t n = 0;
  CHECK(slurp(p, buf, sizeof buf, &n) == 0);
  CHECK(n == 5 && !memcmp(buf, "first", 5));
  /* A failing write (disk full) must leave the old content intact and no temporary file. */
  plat_fault_set(PLAT_OP_WRITE, 1, plat_err_nospc());
  CHECK(afile_put(&ctx, p, "second", 6) == CBAS_EIO);
  CHECKF(strstr(ctx.msg, "afile.txt") != NULL, "msg does not name the file: %s", ctx.msg);
  ctx_clear_error(&ctx);
  CHECK(slurp(p, buf, sizeof buf, &n) == 0);
  CHECK(n == 5 && !memcmp(buf, "first", 5));
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.tmp%d", p, plat_pid());
  plat_stat st;
  CHECK(plat_stat_path(tmp, &st) == 0 && !st.exists);
  /* Failing fsync and rename, same guarantee. */
  plat_fault_set(PLAT_OP_FSYNC, 1, plat_err_io());
  CHECK(afile_put(&ctx, p, "third", 5) == CBAS_EIO);
  ctx_clear_error(&ctx);
  plat_fault_set(PLAT_OP_RENAME, 1, plat_err_io());
  CHECK(afile_put(&ctx, p, "forth", 5) == CBAS_EIO);
  ctx_clear_error(&ctx);
  CHECK(slurp(p, buf, sizeof buf, &n) == 0);
  CHECK(n == 5 && !memcmp(buf, "first", 5));
  CHECK(plat_stat_path(tmp, &st) == 0 && !st.exists);
  ctx_free(&ctx);
}

static void test_afile_sweep(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  const char *d = check_path("sweep");
  CHECK(plat_mkdir_p(d) == 0);
  char a[1200], b[1200];
  snprintf(a, sizeof a, "%s/vel.tif.tmp1234", d);
  snprintf(b, sizeof b, "%s/keep.tmpx", d);
  CHECK(afile_put(&ctx, a, "x", 1) == 0);
  CHECK(afile_put(&ctx, b, "y", 1) == 0);
  afile_sweep(&ctx, d);
  plat_stat st;
  CHECK(plat_stat_path(a, &st) == 0 && !st.exists);
  CHECK(plat_stat_path(b, &st) == 0 && st.exists);
  ctx_free(&ctx);
}

typedef struct { long *out; } sq_ud;
static int sq(void *ud, long i, int w) { ((sq_ud *)ud)->out[i] = i * i + w * 0; return 0; }
static int stop_at(void *ud, long i, int w) { (void)ud; (void)w; return i == 37 ? 5 : 0; }

static void test_par_for(void) {
  for (int nt = 1; nt <= 4; nt++) {
    cbas_ctx ctx;
    CHECK(ctx_init(&ctx, 1 << 20, nt) == 0);
    long out[1000];
    memset(out, 0xff, sizeof out);
    sq_ud u = {out};
    CHECK(par_for(&ctx, 1000, sq, &u) == 0);
    for (long i = 0; i < 1000; i++) CHECK_EQ_INT(out[i], i * i);
    CHECK_EQ_INT(par_for(&ctx, 100, stop_at, NULL), 5);
    ctx_free(&ctx);
  }
}

static int collect(void *ud, const char *name) {
  char *acc = ud;
  strcat(acc, name);
  strcat(acc, ",");
  return 0;
}
static void test_listdir_sorted(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  const char *d = check_path("ls");
  CHECK(plat_mkdir_p(d) == 0);
  const char *names[] = {"20200113_20200125", "20200101_20200113", "b", "a"};
  for (int i = 0; i < 4; i++) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", d, names[i]);
    CHECK(afile_put(&ctx, p, "", 0) == 0);
  }
  char acc[256] = "";
  CHECK(plat_listdir(d, collect, acc) == 0);
  CHECK_EQ_INT(strcmp(acc, "20200101_20200113,20200113_20200125,a,b,"), 0);
  CHECK(plat_ncores() >= 1);
  double t0 = plat_now(), t1 = plat_now();
  CHECK(t1 >= t0);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_parse_size);
  RUN(test_budget_limits);
  RUN(test_budget_reuse);
  RUN(test_budget_fail_after);
  RUN(test_afile_commit_and_faults);
  RUN(test_afile_sweep);
  RUN(test_par_for);
  RUN(test_listdir_sorted);
  return check_done();
}
