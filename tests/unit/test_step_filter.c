/* test_step_filter.c — `cbas filter` (LiCSBAS step 16) end to end on a TS directory written
 * here: the driver's outputs against LiCSBAS's own numerics run with NumPy and astropy
 * (tests/interop/tsfilt_ref.py step16: fit2dh with int32 design matrix, float32 temporal
 * filter, convolve_fft, nanmedian RMS with the n_gap mask, reference by unfiltered cum,
 * lstsq velocity), for several option sets; and bit-identical results whatever --threads,
 * --mem (sweep grouping) and whether the filtered cube is held in memory or in a file. */
#include "check.h"
#include "pyref.h"
#include "cbas/budget.h"
#include "cbas/gtiff.h"
#include "cbas/step_filter.h"
#include "cbas/tsdir.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 10, W = 37, L = 29 };

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* The synthetic TS directory: cum (ramps, a height term, seasonal-ish noise, NaN gaps), mask
 * (1/0/NaN), n_gap, hgt, 13parameters.txt. */
typedef struct fixture {
  char dir[512];
  stack_meta m;
  tsdir t;
  float t_yr[N];
  char date[N][9];
  float *cum, mask[W * L], ngap[W * L], hgt[W * L];
} fixture;

static int make_fixture(cbas_ctx *ctx, fixture *f, const char *name) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", check_path(name));
  f->m.width = W;
  f->m.length = L;
  f->m.corner_lat = 36.5;
  f->m.corner_lon = 138.0;
  f->m.post_lat = -0.001;
  f->m.post_lon = 0.001;
  double gt[6] = {137.9995, 0.001, 0, 36.5005, 0, -0.001};
  memcpy(f->m.gt, gt, sizeof gt);
  if (tsdir_create(ctx, &f->t, f->dir, check_tmpdir())) return ctx->status;
  static const int day[N] = {0, 12, 24, 36, 48, 72, 84, 96, 120, 132};
  const char *desc[N];
  for (int i = 0; i < N; i++) {
    long d = 18262 + day[i]; /* 2020-01-01 + day */
    /* civil from days (2020 is enough: Jan..May) */
    static const int md[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long r = d - 18262;
    int mo = 0;
    while (r >= md[mo]) r -= md[mo++];
    char tmp[32];
    snprintf(tmp, sizeof tmp, "2020%02d%02d", (mo + 1) % 100, (int)(r + 1) % 100);
    memcpy(f->date[i], tmp, 9);
    desc[i] = f->date[i];
    f->t_yr[i] = (float)((double)day[i] / 365.25);
  }
  f->cum = malloc(sizeof(float) * N * W * L);
  for (int y = 0; y < L; y++)
    for (int x = 0; x < W; x++) {
      int p = y * W + x;
      f->hgt[p] = (float)(100 + 30 * x + 5 * y + 50 * urand());
      if (x == 3 && y == 4) f->hgt[p] = NAN;
      f->ngap[p] = (x + y) % 11 == 0 ? 1.0f : 0.0f;
      if (x > 30 && y > 24) f->ngap[p] = NAN;
      double u = urand();
      f->mask[p] = u < 0.1 ? NAN : u < 0.25 ? 0.0f : 1.0f;
      for (int i = 0; i < N; i++) {
        float v = 0;
        if (i) {
          double ramp = 0.05 * i * (x - 18) - 0.03 * i * (y - 14) + 0.0004 * (x * y);
          v = (float)(-8 * f->t_yr[i] * sin(x * 0.15) + ramp + 0.004 * i * f->hgt[p] * (i % 3 - 1) +
                      3 * sin(i * 1.7 + y * 0.25) + urand());
          if (urand() < 0.04) v = NAN;
        }
        if (x < 3 && y < 3) v = NAN; /* never inverted */
        f->cum[((size_t)i * L + y) * W + x] = v;
      }
    }
  gt_writer *gw;
  if (tsdir_result_create(ctx, &f->t, &f->m, NULL, "cum", N, desc, &gw)) return ctx->status;
  if (gt_write_rows(ctx, gw, L, f->cum, W, (size_t)W * L)) { gt_abort(ctx, gw); return ctx->status; }
  if (gt_commit(ctx, gw)) return ctx->status;
  if (tsdir_result_put(ctx, &f->t, &f->m, NULL, "mask", f->mask) ||
      tsdir_result_put(ctx, &f->t, &f->m, NULL, "n_gap", f->ngap) ||
      tsdir_result_put(ctx, &f->t, &f->m, NULL, "hgt", f->hgt))
    return ctx->status;
  char path[1200];
  snprintf(path, sizeof path, "%s/info/13parameters.txt", f->dir);
  FILE *fp = fopen(path, "w");
  if (!fp) return ctx_fail(ctx, CBAS_EIO, "%s", path);
  fprintf(fp, "range_samples:  %d\nazimuth_lines:  %d\nwavelength:  0.05546576\nn_im_all:  %d\nn_im:  %d\n"
              "pixel_spacing_r:  %.2f m\npixel_spacing_a:  %.2f m\n", W, L, N, N, 330.0, 410.0);
  fclose(fp);
  return 0;
}

static float *read_band(cbas_ctx *ctx, const char *path, uint32_t band) {
  gt_reader *r;
  if (gt_open(ctx, path, &r)) return NULL;
  float *img = malloc(sizeof(float) * W * L);
  if (gt_read(ctx, r, band, 0, 0, W, L, GT_F32, img, W)) { free(img); img = NULL; }
  gt_close(ctx, r);
  return img;
}

typedef struct opts {
  const char *deg;      /* NULL = none */
  int hgt_linear, nomask;
  const char *range, *ex_range;
  double km, yr;        /* km 0: default 2; yr NaN: auto */
} opts;

static void run_case(const opts *o, const char *tag) {
  const char *py = pyref_python("numpy, astropy.convolution");
  if (!py) { printf("# no python3 with numpy+astropy: comparison not run\n"); return; }
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 256u << 20, 2) == 0);
  ctx.quiet = 1;
  fixture f;
  CHECKF(make_fixture(&ctx, &f, tag) == 0, "%s", ctx.msg);
  filt_params p;
  filt_params_default(&p);
  if (o->km > 0) { p.filtwidth_km = o->km; p.km_given = 1; }
  p.filtwidth_yr = o->yr;
  CHECK(tsfilt_parse_deg(o->deg, &p.deg) == 0);
  p.hgt_linear = o->hgt_linear;
  p.nomask = o->nomask;
  p.range = o->range;
  p.ex_range = o->ex_range;
  filt_result res;
  CHECKF(filt_run(&ctx, &f.t, &f.m, &p, &res) == 0, "%s", ctx.msg);

  /* LiCSBAS's numerics on the same arrays */
  char d[600];
  snprintf(d, sizeof d, "%s/ref", f.dir);
  CHECK(check_sh("mkdir -p '%s'", d) == 0);
  char pth[700];
  FILE *fp;
  snprintf(pth, sizeof pth, "%s/params.txt", d);
  CHECK((fp = fopen(pth, "w")) != NULL);
  fprintf(fp, "%d %d %d %.17g %.17g %.17g\n", N, L, W, res.sx, res.sy, res.width_yr);
  fclose(fp);
  snprintf(pth, sizeof pth, "%s/opts.txt", d);
  CHECK((fp = fopen(pth, "w")) != NULL);
  fprintf(fp, "%s %d 200 10000 %s %s %d\n", o->deg ? o->deg : "-", o->hgt_linear, o->range ? o->range : "-",
          o->ex_range ? o->ex_range : "-", o->nomask);
  fclose(fp);
  struct { const char *n; const void *p; size_t s; } files[] = {
      {"t.f32", f.t_yr, sizeof f.t_yr}, {"cum.f32", f.cum, sizeof(float) * N * W * L},
      {"mask.f32", f.mask, sizeof f.mask}, {"ngap.f32", f.ngap, sizeof f.ngap}, {"hgt.f32", f.hgt, sizeof f.hgt}};
  for (int k = 0; k < 5; k++) {
    snprintf(pth, sizeof pth, "%s/%s", d, files[k].n);
    CHECK(pyref_write(pth, files[k].p, files[k].s) == 0);
  }
  CHECK(check_sh("%s tests/interop/tsfilt_ref.py step16 '%s'", py, d) == 0);

  /* reference pixel */
  char got[64] = "", want[64] = "";
  snprintf(pth, sizeof pth, "%s/info/16ref.txt", f.dir);
  fp = fopen(pth, "r");
  CHECK(fp && fgets(got, sizeof got, fp));
  fclose(fp);
  snprintf(pth, sizeof pth, "%s/ref16.txt", d);
  fp = fopen(pth, "r");
  CHECK(fp && fgets(want, sizeof want, fp));
  fclose(fp);
  CHECKF(!strcmp(got, want), "16ref %s vs LiCSBAS %s", got, want);

  /* cum_filt (referenced), vel.filt, vintercept.filt */
  float *ref = malloc(sizeof(float) * N * W * L), *vref = malloc(sizeof(float) * W * L), *iref = malloc(sizeof(float) * W * L);
  snprintf(pth, sizeof pth, "%s/cumf16.f32", d);
  CHECK(pyref_read(pth, ref, sizeof(float) * N * W * L) == 0);
  snprintf(pth, sizeof pth, "%s/vel16.f32", d);
  CHECK(pyref_read(pth, vref, sizeof(float) * W * L) == 0);
  snprintf(pth, sizeof pth, "%s/icpt16.f32", d);
  CHECK(pyref_read(pth, iref, sizeof(float) * W * L) == 0);
  double cmax = 0, vmax = 0;
  long n_nan_mismatch = 0;
  snprintf(pth, sizeof pth, "%s/results/cum_filt.tif", f.dir);
  for (int i = 0; i < N; i++) {
    float *b = read_band(&ctx, pth, (uint32_t)i);
    CHECKF(b != NULL, "%s", ctx.msg);
    for (int q = 0; q < W * L; q++) {
      float a = b[q], r = ref[(size_t)i * W * L + q];
      if (a != a || r != r) { n_nan_mismatch += (a != a) != (r != r); continue; }
      if (fabs(a - r) > cmax) cmax = fabs(a - r);
    }
    free(b);
  }
  snprintf(pth, sizeof pth, "%s/results/vel.filt.tif", f.dir);
  float *v = read_band(&ctx, pth, 0);
  snprintf(pth, sizeof pth, "%s/results/vintercept.filt.tif", f.dir);
  float *ic = read_band(&ctx, pth, 0);
  CHECK(v && ic);
  for (int q = 0; q < W * L; q++) {
    if (v[q] != v[q] || vref[q] != vref[q]) { n_nan_mismatch += (v[q] != v[q]) != (vref[q] != vref[q]); continue; }
    if (fabs(v[q] - vref[q]) > vmax) vmax = fabs(v[q] - vref[q]);
    CHECK_NEAR(ic[q], iref[q], 1e-3);
  }
  printf("# %s: 16ref %s", tag, got);
  printf("# %s: vs LiCSBAS numerics: cum_filt max |diff| %.3g mm, vel.filt max |diff| %.3g mm/yr, NaN mismatches %ld\n",
         tag, cmax, vmax, n_nan_mismatch);
  CHECK_EQ_INT(n_nan_mismatch, 0);
  CHECK(cmax < 1e-3);
  CHECK(vmax < 1e-3);
  /* masked velocity = vel * mask(1/NaN) */
  snprintf(pth, sizeof pth, "%s/results/vel.filt.mskd.tif", f.dir);
  float *vm = read_band(&ctx, pth, 0);
  if (o->nomask) CHECK(vm == NULL);
  else {
    CHECK(vm != NULL);
    for (int q = 0; q < W * L; q++) {
      float want_m = f.mask[q] == 1.0f ? v[q] : NAN;
      CHECK((vm[q] != vm[q] && want_m != want_m) || vm[q] == want_m);
    }
  }
  ctx_clear_error(&ctx);
  free(vm); free(v); free(ic); free(ref); free(vref); free(iref); free(f.cum);
  ctx_free(&ctx);
}

static void test_default_vs_licsbas(void) {
  opts o = {NULL, 0, 0, NULL, NULL, 0, NAN};
  run_case(&o, "default");
}
static void test_deramp_bl_range_vs_licsbas(void) {
  opts o = {"bl", 0, 0, "5:33/2:27", "10:15/10:14", 3.5, NAN};
  run_case(&o, "deramp_bl_range");
}
static void test_deramp2_hgt_vs_licsbas(void) {
  opts o = {"2", 1, 0, NULL, NULL, 0, 0.1};
  run_case(&o, "deramp2_hgt");
}
static void test_hgt_nomask_notime_vs_licsbas(void) {
  opts o = {NULL, 1, 1, NULL, "0:8/0:0", 0, 0};
  run_case(&o, "hgt_nomask_notime");
}

/* Same outputs, bit for bit, whatever the threads, the budget (sweep grouping, block rows),
 * the cube's home (memory or TSDIR/work file), the input's (decoded once into a work file,
 * or decoded again by every sweep) and the spatial weight sums (shared from the mask's NaN
 * pattern, or computed by every epoch; the fixture's epochs have NaNs of their own). */
static void test_threads_and_memory_invariance(void) {
  enum { NRUN = 5 };
  const char *names[NRUN] = {"inv_a", "inv_b", "inv_c", "inv_d", "inv_e"};
  uint64_t mem[NRUN] = {256u << 20, 3u << 20, 256u << 20, 3u << 20, 256u << 20};
  int thr[NRUN] = {1, 2, 2, 2, 2}, file[NRUN] = {0, 1, 1, 1, 0}, nocache[NRUN] = {0, 0, 0, 1, 0};
  int noshare[NRUN] = {0, 0, 0, 0, 1};
  filt_result res[NRUN];
  for (int k = 0; k < NRUN; k++) {
    cbas_ctx ctx;
    CHECK(ctx_init(&ctx, mem[k], thr[k]) == 0);
    ctx.quiet = 1;
    fixture f;
    rng_state = 12345;
    CHECKF(make_fixture(&ctx, &f, names[k]) == 0, "%s", ctx.msg);
    filt_params p;
    filt_params_default(&p);
    p.deg = TSFILT_DERAMP_1;
    p.hgt_linear = 1;
    p.force_file = (uint64_t)file[k];
    p.no_input_cache = nocache[k];
    p.no_shared_weights = noshare[k];
    CHECKF(filt_run(&ctx, &f.t, &f.m, &p, &res[k]) == 0, "run %d: %s", k, ctx.msg);
    free(f.cum);
    ctx_free(&ctx);
  }
  printf("# sweeps: %d (256 MB), %d (3 MB); cube in memory: %d, %d, %d\n", res[0].n_sweep, res[1].n_sweep,
         res[0].cube_in_memory, res[1].cube_in_memory, res[2].cube_in_memory);
  CHECK(res[1].n_sweep > 1 && res[3].n_sweep > 1);
  CHECK(res[1].input_cached && !res[3].input_cached && !res[0].input_cached);
  CHECK(res[0].shared_weights && res[2].shared_weights && !res[4].shared_weights);
  CHECK(res[0].cube_in_memory && !res[1].cube_in_memory && !res[2].cube_in_memory);
  static const char *outs[] = {"results/cum_filt.tif", "results/vel.filt.tif", "results/vintercept.filt.tif",
                               "results/vel.filt.mskd.tif", "info/16ref.txt", "info/16parameters.txt",
                               "info/16rms_cum_wrt_med.tif"};
  for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++)
    for (int k = 1; k < NRUN; k++)
      CHECKF(check_sh("cmp -s '%s/%s/%s' '%s/%s/%s'", check_tmpdir(), names[0], outs[o], check_tmpdir(), names[k],
                      outs[o]) == 0,
             "%s differs between run 0 and run %d", outs[o], k);
  /* the work file is gone */
  CHECK(check_sh("ls '%s/inv_b/work/' | grep -q 16cum", check_tmpdir()) != 0);
}

static void test_params_text(void) {
  cbas_ctx ctx;
  CHECK(ctx_init(&ctx, 256u << 20, 1) == 0);
  ctx.quiet = 1;
  fixture f;
  CHECK(make_fixture(&ctx, &f, "params") == 0);
  filt_params p;
  filt_params_default(&p);
  p.deg = TSFILT_DERAMP_BL;
  p.range = "1:30/0:0";
  CHECKF(filt_run(&ctx, &f.t, &f.m, &p, NULL) == 0, "%s", ctx.msg);
  char path[1200], buf[1024] = "";
  snprintf(path, sizeof path, "%s/info/16parameters.txt", f.dir);
  FILE *fp = fopen(path, "r");
  CHECK(fp != NULL);
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  fclose(fp);
  buf[n] = 0;
  /* x: 2000/330 = 6.06 -> 6.1; y: 2000/410 = 4.88 -> 4.9; width 3 x (132/365.25)/9 yr */
  double tau = (double)(float)(132 / 365.25) / 9 * 3;
  char want[1024];
  snprintf(want, sizeof want,
           "filtwidth_km:  2\nfiltwidth_xpixels:  6.1\nfiltwidth_ypixels:  4.9\nfiltwidth_yr:  %.3f\n"
           "filtwidth_day:  %d\ndeg_ramp:  bl\nhgt_linear:  0\nhgt_min: 200\nhgt_max: 10000\n"
           "range: 1:30/0:29\nex_range: []\n",
           tau, (int)(tau * 365.25));
  CHECKF(!strcmp(buf, want), "16parameters.txt:\n%s\nexpected:\n%s", buf, want);
  snprintf(path, sizeof path, "%s/info/16ref.kml", f.dir);
  CHECK(check_sh("grep -q '<coordinates>138.0[0-9]*,36.[0-9]*</coordinates>' '%s'", path) == 0);
  /* errors name the option */
  p.range = "1:30/0:99";
  CHECK(filt_run(&ctx, &f.t, &f.m, &p, NULL) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "--range") != NULL, "%s", ctx.msg);
  ctx_clear_error(&ctx);
  free(f.cum);
  ctx_free(&ctx);
}

int main(void) {
  RUN(test_default_vs_licsbas);
  RUN(test_deramp_bl_range_vs_licsbas);
  RUN(test_deramp2_hgt_vs_licsbas);
  RUN(test_hgt_nomask_notime_vs_licsbas);
  RUN(test_threads_and_memory_invariance);
  RUN(test_params_text);
  return check_done();
}
