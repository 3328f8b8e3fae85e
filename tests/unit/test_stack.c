/* test_stack.c — the stack format: write, commit, reopen, read rows back; size validation;
 * a failed write leaves no stack and no temporary directory; a new stack replaces an old one. */
#include "check.h"
#include "cbas/afile.h"
#include "cbas/plat.h"
#include "cbas/stack.h"
#include <stdio.h>
#include <string.h>

static const char *IFGS[] = {"20200101_20200113", "20200101_20200125", "20200113_20200125", "20200125_20200218"};

static int make_meta(cbas_ctx *ctx, stack_meta *m, uint32_t w, uint32_t l) {
  if (stack_meta_alloc(ctx, m, 4, 0)) return 1;
  for (int k = 0; k < 4; k++) memcpy(m->ifg[k], IFGS[k], 18);
  if (stack_meta_index_epochs(ctx, m)) return 1;
  m->width = w; m->length = l;
  m->gt[0] = 135.0; m->gt[1] = 0.001; m->gt[3] = 35.0; m->gt[5] = -0.001;
  m->corner_lat = 34.9995; m->corner_lon = 135.0005; m->post_lat = -0.001; m->post_lon = 0.001;
  m->has_hgt = 1;
  for (uint32_t i = 0; i < m->n_epoch; i++) m->bperp_m[i] = 10.0 * i - 5;
  return 0;
}
static float val(uint32_t k, uint32_t y, uint32_t x) { return (float)(k * 1000 + y * 10 + x) * 0.5f; }

static int write_stack(cbas_ctx *ctx, const char *dir, stack_meta *m, float offset) {
  stack_writer *w;
  if (stack_create(ctx, dir, m, &w)) return 1;
  float row[16];
  uint8_t cc[16];
  for (uint32_t y = 0; y < m->length; y++)
    for (uint32_t k = 0; k < m->n_ifg; k++) {
      for (uint32_t x = 0; x < m->width; x++) { row[x] = val(k, y, x) + offset; cc[x] = (uint8_t)(k + y + x); }
      if (stack_write_unw_row(ctx, w, k, y, row) || stack_write_cc_row(ctx, w, k, y, cc)) { stack_abort(w); return 1; }
    }
  for (uint32_t y = 0; y < m->length; y++) {
    for (uint32_t x = 0; x < m->width; x++) row[x] = (float)(y * 100 + x);
    if (stack_write_layer_rows(ctx, w, "hgt", y, 1, row)) { stack_abort(w); return 1; }
  }
  return stack_commit(ctx, w);
}

static void test_roundtrip(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  stack_meta m;
  CHECK(make_meta(&ctx, &m, 7, 5) == 0);
  CHECK_EQ_INT(m.n_epoch, 4);
  CHECK_EQ_INT(m.ifg_prim[3], 2);
  CHECK_EQ_INT(m.ifg_sec[3], 3);
  const char *dir = check_path("stack1");
  CHECK(write_stack(&ctx, dir, &m, 0) == 0);
  stack *s;
  CHECKF(stack_open(&ctx, dir, &s) == 0, "%s", ctx.msg);
  const stack_meta *r = stack_get_meta(s);
  CHECK_EQ_INT(r->width, 7); CHECK_EQ_INT(r->length, 5); CHECK_EQ_INT(r->n_ifg, 4); CHECK_EQ_INT(r->n_epoch, 4);
  CHECK(!strcmp(r->epoch[3], "20200218"));
  CHECK_NEAR(r->bperp_m[2], 15.0, 1e-9);
  CHECK_NEAR(r->gt[5], -0.001, 1e-15);
  CHECK(r->has_hgt == 1 && r->has_enu == 0);
  float buf[2 * 4 * 7];
  uint8_t cb[2 * 4 * 7];
  CHECK(stack_read_unw(&ctx, s, 2, 2, buf) == 0);
  CHECK(stack_read_cc(&ctx, s, 2, 2, cb) == 0);
  for (uint32_t y = 0; y < 2; y++)
    for (uint32_t k = 0; k < 4; k++)
      for (uint32_t x = 0; x < 7; x++) {
        CHECK(buf[(y * 4 + k) * 7 + x] == val(k, y + 2, x));
        CHECK(cb[(y * 4 + k) * 7 + x] == (uint8_t)(k + y + 2 + x));
      }
  float h[7];
  CHECK(stack_read_layer(&ctx, s, "hgt", 4, 1, h) == 0);
  CHECK(h[6] == 406.0f);
  CHECK(stack_read_layer(&ctx, s, "U", 0, 1, h) == CBAS_EDATA);
  ctx_clear_error(&ctx);
  CHECK(stack_read_unw(&ctx, s, 4, 2, buf) != 0);
  ctx_clear_error(&ctx);
  stack_close(s);
  /* A second stack replaces the first atomically. */
  CHECK(write_stack(&ctx, dir, &m, 1.0f) == 0);
  CHECK(stack_open(&ctx, dir, &s) == 0);
  CHECK(stack_read_unw(&ctx, s, 0, 1, buf) == 0);
  CHECK(buf[0] == 1.0f);
  stack_close(s);
  stack_meta_free(&m);
  ctx_free(&ctx);
}

static void test_failed_write_leaves_nothing(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  stack_meta m;
  CHECK(make_meta(&ctx, &m, 7, 5) == 0);
  const char *dir = check_path("stack2");
  plat_fault_set(PLAT_OP_WRITE, 9, plat_err_nospc());
  CHECK(write_stack(&ctx, dir, &m, 0) != 0);
  CHECKF(strstr(ctx.msg, "stack2") != NULL, "%s", ctx.msg);
  ctx_clear_error(&ctx);
  plat_stat st;
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.tmp%d", dir, plat_pid());
  CHECK(plat_stat_path(dir, &st) == 0 && !st.exists);
  CHECK(plat_stat_path(tmp, &st) == 0 && !st.exists);
  stack_meta_free(&m);
  ctx_free(&ctx);
}

static void test_truncated_is_reported(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  stack_meta m;
  CHECK(make_meta(&ctx, &m, 7, 5) == 0);
  const char *dir = check_path("stack3");
  CHECK(write_stack(&ctx, dir, &m, 0) == 0);
  char p[1200];
  snprintf(p, sizeof p, "%s/cc.bil", dir);
  int fd;
  CHECK(plat_open(p, PLAT_RDWR, &fd) == 0);
  CHECK(plat_ftruncate(fd, 100) == 0);
  plat_close(fd);
  stack *s = NULL;
  CHECK(stack_open(&ctx, dir, &s) == CBAS_EFORMAT);
  CHECKF(strstr(ctx.msg, "cc.bil") && strstr(ctx.msg, "truncated"), "%s", ctx.msg);
  ctx_clear_error(&ctx);
  CHECK(stack_open(&ctx, check_path("nonexistent"), &s) == CBAS_EUSAGE);
  stack_meta_free(&m);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_roundtrip);
  RUN(test_failed_write_leaves_nothing);
  RUN(test_truncated_is_reported);
  return check_done();
}
