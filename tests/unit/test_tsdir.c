/* test_tsdir.c — the time-series directory framework: default name and layout, the recorded
 * stack (mismatch refused, moved tree found), ifg lists with LiCSBAS's reading rules, marks
 * and the used-ifg set of steps 13+, reference windows, result GeoTIFFs (grid, NaN nodata,
 * band descriptions, windowed read-back, size check), work arrays, report text and Python
 * number formats, block sizing against the budget, the parameter table and its CLI. */
#include "check.h"
#include "ts_fixture.h"
#include "cbas/afile.h"
#include "cbas/plat.h"
#include "cbas/tsdir.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const IFG4[] = {"20200101_20200113", "20200101_20200125", "20200113_20200125", "20200125_20200206"};
static float unw_k(void *ud, uint32_t k, uint32_t x, uint32_t y) {
  return k == 0 && x == 1 && y == 0 ? 0.0f : 1.0f + (float)(k * 100 + y * 10 + x);
}
static uint8_t cc_k(void *ud, uint32_t k, uint32_t x, uint32_t y) { return 100; }

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) { fputs(text, f); fclose(f); }
}

static void test_layout_and_stack_record(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  const char *sd = check_path("lay/GEOCml1");
  CHECKF(tsfx_make_stack(&ctx, sd, IFG4, 4, 6, 5, NULL, 0, unw_k, cc_k, NULL) == 0, "%s", ctx.msg);
  char def[1200];
  CHECK(tsdir_default_path(&ctx, check_path("lay/GEOCml1/"), def, sizeof def) == 0);
  CHECKF(!strcmp(strrchr(def, '/'), "/TS_GEOCml1") && strstr(def, "/lay/TS_GEOCml1"), "%s", def);
  tsdir t;
  CHECK(tsdir_create(&ctx, &t, def, sd) == 0);
  const char *subs[] = {"info", "results", "network", "12loop", "work"};
  for (int i = 0; i < 5; i++) {
    char p[1300];
    snprintf(p, sizeof p, "%s/%s", def, subs[i]);
    plat_stat st;
    plat_stat_path(p, &st);
    CHECKF(st.is_dir, "%s missing", p);
  }
  CHECK(t.stack_path[0] == '/' && strstr(t.stack_path, "/lay/GEOCml1") && !strstr(t.stack_path, "//"));
  /* reopening finds the stack from info/stack_path.txt; a different stack is refused */
  tsdir t2;
  CHECK(tsdir_open(&ctx, &t2, def, NULL) == 0 && !strcmp(t2.stack_path, t.stack_path));
  CHECK(tsdir_open(&ctx, &t2, def, sd) == 0);
  CHECK(tsdir_open(&ctx, &t2, def, check_path("lay/other")) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "belongs to the stack") != NULL, "%s", ctx.msg);
  ctx_clear_error(&ctx);
  CHECK(tsdir_open(&ctx, &t2, check_path("lay/nope"), NULL) == CBAS_EUSAGE && strstr(ctx.msg, "cbas check"));
  ctx_clear_error(&ctx);
  /* the tree moved: the recorded path is gone, the TS_ sibling is used */
  CHECK(check_sh("mv %s %s", check_path("lay"), check_path("lay2")) == 0);
  CHECK(tsdir_open(&ctx, &t2, check_path("lay2/TS_GEOCml1"), NULL) == 0);
  CHECKF(strstr(t2.stack_path, "/lay2/GEOCml1") != NULL, "%s", t2.stack_path);
  char p[1300];
  CHECK(tsdir_file(&ctx, &t2, TSDIR_INFO, "12ref.txt", p, sizeof p) == 0 && strstr(p, "TS_GEOCml1/info/12ref.txt"));
  CHECK(tsdir_require(&ctx, &t2, TSDIR_INFO, "12ref.txt", "loop") == CBAS_EUSAGE && strstr(ctx.msg, "run cbas loop first"));
  ctx_clear_error(&ctx);
  ctx_free(&ctx);
}

static void test_ifglist(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  const char *f = check_path("list.txt");
  put(f, "20200113_20200125 comment after the name\n# whole line comment\n   \n"
         "# \n20200101_20200113\n\t20200113_20200125\n#not-a-comment-token_ok\n");
  tsdir_ifglist l;
  CHECK(tsdir_ifglist_read(&ctx, f, &l) == CBAS_EFORMAT); /* "#not-a-..." is a token, not "#" */
  CHECKF(strstr(ctx.msg, "list.txt:7") != NULL, "%s", ctx.msg);
  ctx_clear_error(&ctx);
  put(f, "20200113_20200125 comment after the name\n# whole line comment\n   \n# \n20200101_20200113\n\t20200113_20200125");
  CHECKF(tsdir_ifglist_read(&ctx, f, &l) == 0, "%s", ctx.msg);
  CHECK_EQ_INT(l.n, 3);
  CHECK(!strcmp(l.name[0], "20200113_20200125") && !strcmp(l.name[1], "20200101_20200113"));
  CHECK(tsdir_ifglist_has(&l, "20200101_20200113") && !tsdir_ifglist_has(&l, "20200101_20200125"));
  tsdir_ifglist_sort_unique(&l);
  CHECK_EQ_INT(l.n, 2);
  CHECK(!strcmp(l.name[0], "20200101_20200113"));
  const char *g = check_path("list2.txt");
  CHECK(tsdir_ifglist_write(&ctx, g, &l) == 0);
  char *txt = tsfx_slurp(g);
  CHECK(txt && !strcmp(txt, "20200101_20200113\n20200113_20200125\n"));
  free(txt);
  tsdir_ifglist_free(&l);
  CHECK(tsdir_ifglist_read(&ctx, check_path("missing.txt"), &l) == CBAS_EIO && strstr(ctx.msg, "missing.txt"));
  ctx_free(&ctx);
}

static void test_marks_and_ref(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  const char *sd = check_path("mk/stack");
  CHECK(tsfx_make_stack(&ctx, sd, IFG4, 4, 6, 5, NULL, 0, unw_k, cc_k, NULL) == 0);
  stack *s;
  CHECK(stack_open(&ctx, sd, &s) == 0);
  const stack_meta *m = stack_get_meta(s);
  tsdir t;
  CHECK(tsdir_create(&ctx, &t, check_path("mk/TS"), sd) == 0);
  uint8_t used[4];
  uint32_t n_used;
  CHECK(tsdir_used_ifgs(&ctx, &t, m, used, &n_used) == CBAS_EUSAGE && strstr(ctx.msg, "run cbas check first"));
  ctx_clear_error(&ctx);
  put(check_path("mk/TS/info/11bad_ifg.txt"), "20200101_20200125\n");
  put(check_path("mk/TS/info/12bad_ifg.txt"), "20190101_20190113\n20200125_20200206\n");
  CHECK(tsdir_used_ifgs(&ctx, &t, m, used, &n_used) == 0);
  CHECK_EQ_INT(n_used, 2);
  CHECK(used[0] && !used[1] && used[2] && !used[3]);
  uint32_t x1, x2, y1, y2;
  put(check_path("mk/TS/info/12ref.txt"), "3:4/2:3\n");
  CHECK(tsdir_read_ref(&ctx, &t, m, "12ref.txt", &x1, &x2, &y1, &y2) == 0);
  CHECK(x1 == 3 && x2 == 4 && y1 == 2 && y2 == 3);
  put(check_path("mk/TS/info/12ref.txt"), "3:4/2:9\n"); /* outside the 6x5 stack */
  CHECK(tsdir_read_ref(&ctx, &t, m, "12ref.txt", &x1, &x2, &y1, &y2) == CBAS_EFORMAT);
  ctx_clear_error(&ctx);
  /* 0.0 in unw is no data on read, as in LiCSBAS */
  float buf[4 * 6];
  CHECK(tsdir_read_unw(&ctx, s, 0, 1, buf) == 0);
  CHECK(buf[0] == 1.0f && isnan(buf[1]) && buf[6] == 101.0f);
  stack_close(s);
  ctx_free(&ctx);
}

static void test_results_and_work(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  const char *sd = check_path("rs/stack");
  CHECK(tsfx_make_stack(&ctx, sd, IFG4, 4, 7, 5, NULL, 0, unw_k, cc_k, NULL) == 0);
  stack *s;
  CHECK(stack_open(&ctx, sd, &s) == 0);
  const stack_meta *m = stack_get_meta(s);
  tsdir t;
  CHECK(tsdir_create(&ctx, &t, check_path("rs/TS"), sd) == 0);
  /* a two-band result streamed in two row blocks */
  const char *desc[2] = {"20200101", "20200113"};
  gt_writer *w;
  CHECKF(tsdir_result_create(&ctx, &t, m, NULL, "cum", 2, desc, &w) == 0, "%s", ctx.msg);
  float rows[2 * 3 * 7];
  for (uint32_t y0 = 0; y0 < 5; y0 += 3) {
    uint32_t ny = y0 ? 2 : 3;
    for (uint32_t b = 0; b < 2; b++)
      for (uint32_t r = 0; r < ny; r++)
        for (uint32_t x = 0; x < 7; x++)
          rows[b * ny * 7 + r * 7 + x] = (x == 2 && y0 + r == 1) ? NAN : (float)(b * 1000 + (y0 + r) * 10 + x);
    CHECK(gt_write_rows(&ctx, w, ny, rows, 7, (size_t)ny * 7) == 0);
  }
  CHECK(gt_commit(&ctx, w) == 0);
  gt_reader *r;
  CHECKF(tsdir_result_open(&ctx, &t, m, NULL, "cum", "invert", &r) == 0, "%s", ctx.msg);
  const gt_info *gi = gt_get_info(r);
  CHECK(gi->bands == 2 && gi->type == GT_F32 && gi->has_nodata && isnan(gi->nodata));
  CHECK(gi->geo.has_gt && gi->geo.gt[0] == 138.0 && gi->geo.gt[5] == -0.001 && gi->geo.epsg == 4326);
  CHECK(!strcmp(gt_band_desc(r, 1), "20200113"));
  float win[2 * 2];
  CHECK(gt_read(&ctx, r, 1, 2, 1, 2, 2, GT_F32, win, 2) == 0);
  CHECK(isnan(win[0]) && win[1] == 1013.0f && win[2] == 1022.0f && win[3] == 1023.0f);
  gt_close(&ctx, r);
  CHECK(tsdir_result_open(&ctx, &t, m, NULL, "vel", "invert", &r) == CBAS_EUSAGE && strstr(ctx.msg, "run cbas invert first"));
  ctx_clear_error(&ctx);
  /* whole small image; a result of another size is refused */
  float img[35];
  for (int i = 0; i < 35; i++) img[i] = (float)i;
  CHECK(tsdir_result_put(&ctx, &t, m, TSDIR_LOOP, "small", img) == 0);
  uint32_t ww, hh;
  float *back = tsfx_read_tif(&ctx, check_path("rs/TS/12loop/small.tif"), &ww, &hh);
  CHECK(back && ww == 7 && hh == 5 && back[34] == 34.0f);
  free(back);
  stack_meta m2 = *m;
  m2.width = 6;
  CHECK(tsdir_result_open(&ctx, &t, &m2, TSDIR_LOOP, "small", "loop", &r) == CBAS_EFORMAT);
  ctx_clear_error(&ctx);
  /* work arrays: rows written in order, read back by range */
  afile f;
  CHECK(tsdir_work_create(&ctx, &t, "x.f32", &f) == 0);
  CHECK(afile_write(&ctx, &f, img, sizeof img) == 0 && afile_commit(&ctx, &f) == 0);
  float two[14];
  CHECK(tsdir_work_read(&ctx, &t, "x.f32", 7 * 4, 3, 2, two) == 0);
  CHECK(two[0] == 21.0f && two[13] == 34.0f);
  CHECK(tsdir_work_read(&ctx, &t, "x.f32", 7 * 4, 4, 2, two) == CBAS_EIO);
  stack_close(s);
  ctx_free(&ctx);
}

static void test_text_and_blocks(void) {
  char b[64];
  CHECK(!strcmp(tsdir_fmt_f(b, sizeof b, 5, 3, NAN), "  nan"));
  CHECK(!strcmp(tsdir_fmt_f(b, sizeof b, 5, 3, -NAN), "  nan"));
  CHECK(!strcmp(tsdir_fmt_f(b, sizeof b, 5, 2, INFINITY), "  inf"));
  CHECK(!strcmp(tsdir_fmt_f(b, sizeof b, 6, 1, -20.25), " -20.2")); /* ties to even, as Python */
  CHECK(!strcmp(tsdir_fmt_f(b, sizeof b, 0, 2, 0.125), "0.12"));
  tsdir_text t = {0};
  for (int i = 0; i < 1000; i++) tsdir_text_printf(&t, "%04d\n", i);
  CHECK(t.len == 5000 && !strncmp(t.buf + 4995, "0999\n", 5));
  tsdir_text_free(&t);
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 2 << 20, 1) == 0);
  uint32_t rows;
  CHECK(tsdir_block_rows(&ctx, 100, 0, 10000, "x", &rows) == 0);
  CHECK(rows == 100);
  CHECK(tsdir_block_rows(&ctx, 1000, 1 << 20, 10000, "x", &rows) == 0);
  CHECK(rows > 70 && rows < 80); /* (2 MB - 1 MB - 256 KB slack) / 10000 */
  CHECK(tsdir_block_rows(&ctx, 100, 1 << 20, 1 << 20, "cbas frob", &rows) == CBAS_EBUDGET);
  CHECKF(strstr(ctx.msg, "cbas frob needs 2.2 MB, budget is 2.0 MB") != NULL, "%s", ctx.msg);
  ctx_free(&ctx);
}

static void test_params(void) {
  tsdir_pvals v;
  tsdir_params_default(&v);
  CHECK(v.num[TSP_P11_UNW_THRE] == 0.3 && v.num[TSP_P11_COH_THRE] == 0.05);
  CHECK(v.num[TSP_P12_LOOP_THRE] == 1.5 && v.num[TSP_P12_MULTI_PRIME] == 0 && v.str[TSP_P12_RM_IFG_LIST] == NULL);
  CHECK(v.num[TSP_P13_GAMMA] == 1e-4 && !strcmp(v.str[TSP_P13_INV_ALG], "LS") && isnan(v.num[TSP_P13_N_UNW_R_THRE]));
  CHECK(v.num[TSP_P15_N_IFG_NOLOOP_THRE] == 50 && isnan(v.num[TSP_P15_COH_THRE]));
  CHECK(v.num[TSP_P16_FILTWIDTH_KM] == 2 && v.num[TSP_P16_HGT_MIN] == 200);
  for (int i = 0; i < TSP__N; i++) CHECK(tsdir_param_def((tsdir_pid)i)->id == (tsdir_pid)i && !v.set[i]);
  CHECK(tsdir_param_find("p12_loop_thre", 0)->id == TSP_P12_LOOP_THRE);
  CHECK(tsdir_param_find("p15_coh_thre", 0)->id == TSP_P15_COH_THRE);
  CHECK(tsdir_param_find("coh-thre", 11)->id == TSP_P11_COH_THRE);
  CHECK(tsdir_param_find("coh-thre", 15)->id == TSP_P15_COH_THRE);
  CHECK(tsdir_param_find("multi_prime", 12)->id == TSP_P12_MULTI_PRIME);
  CHECK(tsdir_param_find("p12_multi_prime", 0)->batch_def && !strcmp(tsdir_param_find("p12_multi_prime", 0)->batch_def, "y"));
  CHECK(tsdir_param_find("p17_nothing", 0) == NULL);
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  CHECK(tsdir_param_set(&ctx, &v, TSP_P12_MULTI_PRIME, "y", "p12_multi_prime") == 0 && v.num[TSP_P12_MULTI_PRIME] == 1);
  CHECK(tsdir_param_set(&ctx, &v, TSP_P12_MULTI_PRIME, "", "p12_multi_prime") == 0 && v.num[TSP_P12_MULTI_PRIME] == 0);
  CHECK(!v.set[TSP_P12_MULTI_PRIME]);
  CHECK(tsdir_param_set(&ctx, &v, TSP_P15_N_GAP_THRE, "2.5", "--n-gap-thre") == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "--n-gap-thre: malformed value '2.5'") != NULL, "%s", ctx.msg);
  ctx_clear_error(&ctx);
  /* CLI: cbas names and batch names; flags; positional stack */
  tsdir_cli c;
  tsdir_cli_build(&c, 12, NULL, 0);
  char *argv[] = {"loop", "STK", "--p12_loop_thre", "2.5", "--multi-prime", "--rm-ifg-list=rm.txt", "--ts", "T", NULL};
  cli_common com;
  char err[256];
  CHECKF(cli_parse("loop", "", "", c.opt, c.n_opt, 8, argv, &com, err, sizeof err) == 0, "%s", err);
  CHECK(tsdir_cli_apply(&ctx, &c, &v) == 0);
  CHECK(v.num[TSP_P12_LOOP_THRE] == 2.5 && v.set[TSP_P12_LOOP_THRE] && v.num[TSP_P12_MULTI_PRIME] == 1);
  CHECK(!strcmp(v.str[TSP_P12_RM_IFG_LIST], "rm.txt") && v.num[TSP_P11_UNW_THRE] == 0.3);
  CHECK(!strcmp(c.stack_pos, "STK") && !strcmp(c.ts_opt, "T"));
  char *argv2[] = {"loop", "--p12_multi_prime", "maybe", NULL};
  tsdir_cli_build(&c, 12, NULL, 0);
  CHECK(cli_parse("loop", "", "", c.opt, c.n_opt, 3, argv2, &com, err, sizeof err) == 0);
  CHECK(tsdir_cli_apply(&ctx, &c, &v) == CBAS_EUSAGE && strstr(ctx.msg, "--p12_multi_prime"));
  ctx_clear_error(&ctx);
  char *argv3[] = {"check", "--loop-thre", "1", NULL}; /* step 12's option is not step 11's */
  tsdir_cli_build(&c, 11, NULL, 0);
  CHECK(cli_parse("check", "", "", c.opt, c.n_opt, 3, argv3, &com, err, sizeof err) == CBAS_EUSAGE);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_layout_and_stack_record);
  RUN(test_ifglist);
  RUN(test_marks_and_ref);
  RUN(test_results_and_work);
  RUN(test_text_and_blocks);
  RUN(test_params);
  return check_done();
}
