/* test_synth.c — the synthetic-frame generator: dates, network, gap, true signals against
 * independent formulas, the LiCSBAS sign convention, noise statistics, unwrapping errors, bad
 * interferograms, geometry, determinism. */
#include "check.h"
#include "cbas/budget.h"
#include "cbas/synth.h"
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* Independent expectations, written here without the generator's code. */
static double coef_r2m_expected(void) { return -(299792458.0 / 5.405e9) / (4.0 * PI) * 1000.0; }
static double blob_expected(const synth_blob *b, double x, double y) {
  double dx = x - b->cx, dy = y - b->cy;
  double u = (dx * b->ca + dy * b->sa) / b->sx, v = (dy * b->ca - dx * b->sa) / b->sy;
  double r2 = u * u + v * v;
  return b->amp * (b->power == 4 ? exp(-r2 * r2) : exp(-0.5 * r2));
}

/* Default options on a w x l frame. */
static void params_sized(synth_params *p, uint32_t w, uint32_t l) {
  synth_params_default(p);
  p->width = w;
  p->length = l;
}

typedef struct {
  cbas_ctx ctx;
  synth_model m;
  synth_row r;
  void *row_mem;
  float *scr, *ep, *es, *unw;
  uint8_t *cc;
} fixture;

static int fx_open(fixture *f, const synth_params *p) {
  memset(f, 0, sizeof *f);
  if (ctx_init(&f->ctx, 64 << 20, 1)) return -1;
  if (synth_model_init(&f->ctx, p, &f->m)) { fprintf(stderr, "init: %s\n", f->ctx.msg); return -1; }
  uint32_t W = p->width;
  f->row_mem = budget_alloc(&f->ctx, synth_row_bytes(W), "row");
  f->scr = budget_alloc(&f->ctx, synth_scratch_floats(&f->m) * sizeof(float), "scratch");
  f->ep = budget_alloc(&f->ctx, W * sizeof(float), "ep");
  f->es = budget_alloc(&f->ctx, W * sizeof(float), "es");
  f->unw = budget_alloc(&f->ctx, W * sizeof(float), "unw");
  f->cc = budget_alloc(&f->ctx, W, "cc");
  if (f->ctx.status) return -1;
  synth_row_bind(&f->r, f->row_mem, W);
  return 0;
}
static void fx_close(fixture *f) {
  budget_free(&f->ctx, f->row_mem);
  budget_free(&f->ctx, f->scr);
  budget_free(&f->ctx, f->ep);
  budget_free(&f->ctx, f->es);
  budget_free(&f->ctx, f->unw);
  budget_free(&f->ctx, f->cc);
  synth_model_free(&f->ctx, &f->m);
  ctx_free(&f->ctx);
}
/* Static row y and interferogram k's row into f->unw / f->cc. */
static void fx_ifg_row(fixture *f, int k, uint32_t y) {
  synth_static_row(&f->m, y, &f->r, f->scr);
  synth_epoch_row(&f->m, f->m.ifg[k].prim, y, &f->r, f->ep, f->scr);
  synth_epoch_row(&f->m, f->m.ifg[k].sec, y, &f->r, f->es, f->scr);
  synth_ifg_row(&f->m, k, y, &f->r, f->ep, f->es, f->unw, f->cc, f->scr);
}

static void test_dates(void) {
  CHECK_EQ_INT(synth_day_number(19700101), 0);
  CHECK_EQ_INT(synth_day_number(20180302) - synth_day_number(20180101), 60);
  CHECK_EQ_INT(synth_day_number(20200301) - synth_day_number(20200228), 2);
  CHECK_EQ_INT(synth_day_number(21000301) - synth_day_number(21000228), 1);
  CHECK(synth_day_number(20180230) < -100000000L);
  CHECK(synth_day_number(20181301) < -100000000L);
  for (long d = synth_day_number(19991220); d < synth_day_number(20030110); d++)
    CHECK_EQ_INT(synth_day_number(synth_ymd_from_days(d)), d);
  CHECK_EQ_INT(synth_ymd_from_days(synth_day_number(20000229)), 20000229);
}

static void test_epochs_and_network(void) {
  synth_params p;
  params_sized(&p, 64, 48);
  fixture f;
  CHECK(fx_open(&f, &p) == 0);
  synth_model *m = &f.m;
  CHECK_EQ_INT(m->n_epoch, 61);
  CHECK_EQ_INT(m->ymd[0], 20180101);
  CHECK_EQ_INT(m->ymd[5], 20180302);
  CHECK_EQ_INT(m->ymd[31], 20190108); /* 372 days later */
  for (int e = 1; e < m->n_epoch; e++) {
    CHECK_EQ_INT(synth_day_number(m->ymd[e]) - synth_day_number(m->ymd[e - 1]), 12);
    CHECK_NEAR(m->t_yr[e], e * 12 / 365.25, 1e-12);
  }
  int adjacent = 0, longer = 0, per_epoch[61] = {0};
  char prev[18] = "", name[18];
  for (int k = 0; k < m->n_ifg; k++) {
    const synth_ifg *g = &m->ifg[k];
    int span = g->sec - g->prim;
    CHECKF(span >= 1 && span <= 4, "ifg %d spans %d epochs", k, span);
    if (span == 1) adjacent++; else longer++;
    per_epoch[g->prim]++;
    synth_ifg_name(m, k, name);
    CHECK(strlen(name) == 17 && name[0] == '2' && name[8] == '_' && name[9] == '2');
    CHECKF(strcmp(prev, name) < 0, "ifgs not sorted by name: %s then %s", prev, name);
    memcpy(prev, name, sizeof prev);
  }
  CHECK_EQ_INT(adjacent, 60); /* nearest neighbours are never missing */
  /* 59+58+57 longer pairs, 15% missing on average */
  CHECKF(longer > 0.7 * 174 && longer < 0.97 * 174, "longer pairs: %d of 174", longer);
  for (int e = 0; e < 61; e++) CHECK(per_epoch[e] <= 4);
  CHECK(m->master >= 0 && m->master < m->n_epoch);
  CHECK_NEAR(m->bperp_m[m->master], 0.0, 0.0);
  CHECK_NEAR(m->coef_r2m, coef_r2m_expected(), 1e-12);
  CHECK_NEAR(m->coef_r2m, -4.41383, 1e-5); /* digest §0.2 */
  fx_close(&f);
}

static void test_gap(void) {
  synth_params p;
  params_sized(&p, 64, 48);
  p.gap_start_ymd = 20190601;
  p.gap_end_ymd = 20190901;
  fixture f;
  CHECK(fx_open(&f, &p) == 0);
  synth_model *m = &f.m;
  CHECK_EQ_INT(m->n_epoch, 61);
  /* 20190601 is day 516 of the 12-day grid from 20180101 and is inside the window: the last
   * epoch before is day 504 = 20190520, the first after day 612 = 20190905. */
  CHECK_EQ_INT(m->ymd[42], 20190520);
  CHECK_EQ_INT(m->ymd[43], 20190905);
  for (int e = 0; e < m->n_epoch; e++) CHECK(m->ymd[e] < 20190601 || m->ymd[e] > 20190901);
  for (int k = 0; k < m->n_ifg; k++) CHECK(!(m->ifg[k].prim <= 42 && m->ifg[k].sec >= 43));
  /* every other adjacent pair is there */
  int adjacent = 0;
  for (int k = 0; k < m->n_ifg; k++) adjacent += m->ifg[k].sec - m->ifg[k].prim == 1;
  CHECK_EQ_INT(adjacent, 59);
  CHECK_NEAR(m->t_yr[43], 612 / 365.25, 1e-12);
  fx_close(&f);
}

static void test_bad_choice_keeps_network(void) {
  synth_params p;
  params_sized(&p, 64, 48);
  p.n_bad = 6;
  p.n_unwerr = 7;
  fixture f;
  CHECK(fx_open(&f, &p) == 0);
  int nb = 0, nu = 0, noisy = 0, decorr = 0;
  for (int k = 0; k < f.m.n_ifg; k++) {
    const synth_ifg *g = &f.m.ifg[k];
    if (g->bad) {
      nb++;
      CHECK(g->sec - g->prim >= 2);
      CHECK(g->n_patch == 0);
      noisy += g->bad == SYNTH_BAD_NOISY;
      decorr += g->bad == SYNTH_BAD_DECORR;
    }
    if (g->n_patch) {
      nu++;
      for (int j = 0; j < g->n_patch; j++) CHECK(g->patch[j].k2pi != 0 && abs(g->patch[j].k2pi) <= 2);
    }
  }
  CHECK_EQ_INT(nb, 6);
  CHECK_EQ_INT(noisy, 3);
  CHECK_EQ_INT(decorr, 3);
  CHECK_EQ_INT(nu, 7);
  fx_close(&f);
  /* too many bad interferograms for the network is a usage error naming the option */
  p.degree = 1;
  p.n_bad = 1;
  cbas_ctx ctx;
  synth_model m;
  CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
  CHECK(synth_model_init(&ctx, &p, &m) == CBAS_EUSAGE);
  CHECKF(strstr(ctx.msg, "--n-bad") != NULL, "msg: %s", ctx.msg);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_clear_error(&ctx);
  /* the default (−1) takes 3, or as many as a tiny network allows: here none */
  p.n_bad = -1;
  CHECK(synth_model_init(&ctx, &p, &m) == 0);
  for (int k = 0; k < m.n_ifg; k++) CHECK(m.ifg[k].bad == 0);
  synth_model_free(&ctx, &m);
  p.degree = 2;
  p.n_epoch = 4; /* pairs (0,2) and (1,3) at most */
  p.n_unwerr = -1;
  p.miss_frac = 0;
  CHECK(synth_model_init(&ctx, &p, &m) == 0);
  int nb2 = 0;
  for (int k = 0; k < m.n_ifg; k++) nb2 += m.ifg[k].bad != 0;
  CHECK_EQ_INT(nb2, 2);
  synth_model_free(&ctx, &m);
  ctx_free(&ctx);
}

static void test_param_errors(void) {
  static const struct { const char *opt; int what; } cases[] = {
      {"--width", 0}, {"--epochs", 1}, {"--gap", 2}, {"--start", 3}, {"--frame", 4}, {"--atm-mm", 5}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    synth_params p;
    synth_params_default(&p);
    switch (cases[i].what) {
    case 0: p.width = 3; break;
    case 1: p.n_epoch = 1; break;
    case 2: p.gap_start_ymd = 20190901; p.gap_end_ymd = 20190601; break;
    case 3: p.start_ymd = 20180231; break;
    case 4: strcpy(p.frame, "a/b"); break;
    case 5: p.atm_mm = -1; break;
    }
    cbas_ctx ctx;
    synth_model m;
    CHECK(ctx_init(&ctx, 16 << 20, 1) == 0);
    CHECK(synth_model_init(&ctx, &p, &m) == CBAS_EUSAGE);
    CHECKF(strstr(ctx.msg, cases[i].opt) != NULL, "expected %s in: %s", cases[i].opt, ctx.msg);
    ctx_free(&ctx);
  }
  /* a budget too small for the model is a budget error, not a crash */
  synth_params p;
  synth_params_default(&p);
  p.width = 100000;
  cbas_ctx ctx;
  synth_model m;
  CHECK(ctx_init(&ctx, 1 << 20, 1) == 0);
  CHECK(synth_model_init(&ctx, &p, &m) == CBAS_EBUDGET);
  CHECK_EQ_INT(ctx.budget->used, 0);
  ctx_free(&ctx);
}

static void test_signals_analytic(void) {
  synth_params p;
  params_sized(&p, 200, 160);
  synth_params_no_noise(&p);
  fixture f;
  CHECK(fx_open(&f, &p) == 0);
  synth_model *m = &f.m;
  /* the pixel nearest the centre of the strongest bowl */
  uint32_t bx = (uint32_t)m->bowl[0].cx, by = (uint32_t)m->bowl[0].cy;
  synth_static_row(m, by, &f.r, f.scr);
  double x = bx + 0.5, y = by + 0.5;
  double vel = 0;
  for (int b = 0; b < SYNTH_N_BOWL; b++) vel += blob_expected(&m->bowl[b], x, y);
  vel += blob_expected(&m->uplift, x, y);
  CHECK_NEAR(f.r.vel[bx], vel, 1e-4);
  CHECK(f.r.vel[bx] < -25.0 && f.r.vel[bx] >= -30.0);
  CHECK_NEAR(m->bowl[0].amp, -30.0, 0);
  CHECK_NEAR(f.r.seas[bx], blob_expected(&m->seas, x, y), 1e-5);
  CHECK_NEAR(f.r.step[bx], blob_expected(&m->step, x, y), 1e-5);
  /* cumulative displacement: vel·t + seasonal + step, first epoch exactly 0 */
  for (int e = 0; e < m->n_epoch; e += 7) {
    double t = e * 12 / 365.25;
    double want = f.r.vel[bx] * t + f.r.seas[bx] * (sin(2 * PI * t + m->seas_phase) - sin(m->seas_phase)) +
                  f.r.step[bx] * (t > m->t_step_yr);
    CHECK_NEAR(synth_cum_mm(m, e, f.r.vel[bx], f.r.seas[bx], f.r.step[bx]), want, 1e-9);
  }
  CHECK_NEAR(synth_cum_mm(m, 0, -30, 7, 20), 0.0, 0.0);
  CHECK(synth_cum_mm(m, m->n_epoch - 1, f.r.vel[bx], f.r.seas[bx], f.r.step[bx]) < -50.0);
  /* the step: one epoch pair straddles t_step, with the full amplitude at the step's centre */
  int is = -1;
  for (int e = 0; e + 1 < m->n_epoch; e++)
    if (m->t_yr[e] < m->t_step_yr && m->t_yr[e + 1] > m->t_step_yr) is = e;
  CHECK(is > 0);
  CHECK_NEAR(synth_cum_mm(m, is + 1, 0, 0, 1) - synth_cum_mm(m, is, 0, 0, 1), 1.0, 0);
  CHECK(fabs(m->step.amp) >= 15.0 && fabs(m->step.amp) <= 25.0);
  /* seasonal amplitude 5–10 mm; uplift positive */
  CHECK(m->seas.amp >= 5.0 && m->seas.amp <= 10.0);
  CHECK(m->uplift.amp > 0);
  /* far from every signal: no deformation */
  synth_static_row(m, 2, &f.r, f.scr);
  CHECK(fabs(f.r.vel[2]) < 1e-3 && fabs(f.r.seas[2]) < 1e-3 && fabs(f.r.step[2]) < 1e-3);
  /* vel_fit coefficients = least-squares slope of the unit seasonal and step terms */
  double tb = 0, stt = 0, sts = 0;
  for (int e = 0; e < m->n_epoch; e++) tb += e * 12 / 365.25;
  tb /= m->n_epoch;
  for (int e = 0; e < m->n_epoch; e++) {
    double t = e * 12 / 365.25;
    stt += (t - tb) * (t - tb);
    sts += (t - tb) * (t > m->t_step_yr);
  }
  CHECK_NEAR(m->fit_step, sts / stt, 1e-12);
  fx_close(&f);
}

static void test_noise_off_unw_exact(void) {
  synth_params p;
  params_sized(&p, 200, 160);
  synth_params_no_noise(&p);
  fixture f;
  CHECK(fx_open(&f, &p) == 0);
  synth_model *m = &f.m;
  double coef = coef_r2m_expected();
  int n_checked = 0, n_out = 0;
  for (int k = 0; k < m->n_ifg; k += 11)
    for (uint32_t y = 3; y < p.length; y += 37) {
      fx_ifg_row(&f, k, y);
      int a = m->ifg[k].prim, b = m->ifg[k].sec;
      for (uint32_t x = 0; x < p.width; x++) {
        if (f.r.cls[x] == SYNTH_OUT) {
          CHECK(f.unw[x] == 0.0f && f.cc[x] == 0);
          n_out++;
          continue;
        }
        CHECK(f.cc[x] > 0);
        CHECK(f.unw[x] != 0.0f);
        double ta = a * 12 / 365.25, tb = b * 12 / 365.25, ph = m->seas_phase;
        double ca = f.r.vel[x] * ta + f.r.seas[x] * (sin(2 * PI * ta + ph) - sin(ph)) + f.r.step[x] * (ta > m->t_step_yr);
        double cb = f.r.vel[x] * tb + f.r.seas[x] * (sin(2 * PI * tb + ph) - sin(ph)) + f.r.step[x] * (tb > m->t_step_yr);
        double want = (cb - ca) / coef;
        CHECKF(fabs(f.unw[x] - want) <= 2e-5 + 1e-6 * fabs(want), "ifg %d (%u,%u): unw %.9g want %.9g", k, x, y, f.unw[x], want);
        n_checked++;
      }
    }
  CHECK(n_checked > 1000 && n_out > 0);
  /* LiCSBAS sign: d = unw·coef_r2m = cum_sec − cum_prim; subsidence ⇒ d < 0 ⇒ unw > 0 (range increase) */
  int k_long = -1;
  for (int k = 0; k < m->n_ifg; k++)
    if (m->ifg[k].prim == 0 && (k_long < 0 || m->ifg[k].sec > m->ifg[k_long].sec)) k_long = k;
  uint32_t bx = (uint32_t)m->bowl[0].cx, by = (uint32_t)m->bowl[0].cy;
  fx_ifg_row(&f, k_long, by);
  CHECK(f.unw[bx] > 0.0f);
  CHECK_NEAR(f.unw[bx] * coef, synth_cum_mm(m, m->ifg[k_long].sec, f.r.vel[bx], f.r.seas[bx], f.r.step[bx]), 1e-4);
  fx_close(&f);
}

static void test_deterministic(void) {
  synth_params p;
  params_sized(&p, 120, 100);
  p.n_unwerr = 10;
  fixture a, b, c;
  CHECK(fx_open(&a, &p) == 0);
  CHECK(fx_open(&b, &p) == 0);
  p.seed = 2;
  CHECK(fx_open(&c, &p) == 0);
  CHECK_EQ_INT(a.m.n_ifg, b.m.n_ifg);
  CHECK(memcmp(a.m.ifg, b.m.ifg, a.m.n_ifg * sizeof *a.m.ifg) == 0);
  int differ = 0;
  for (int k = 0; k < a.m.n_ifg; k += 17) {
    /* generate in different orders: rows of b after another row */
    fx_ifg_row(&b, (k + 5) % b.m.n_ifg, 90);
    fx_ifg_row(&a, k, 40);
    fx_ifg_row(&b, k, 40);
    CHECK(memcmp(a.unw, b.unw, p.width * sizeof(float)) == 0);
    CHECK(memcmp(a.cc, b.cc, p.width) == 0);
    CHECK(memcmp(a.r.hgt_m, b.r.hgt_m, p.width * sizeof(float)) == 0);
    if (k < c.m.n_ifg) {
      fx_ifg_row(&c, k, 40);
      differ += memcmp(a.unw, c.unw, p.width * sizeof(float)) != 0;
    }
  }
  CHECK(differ > 0);
  fx_close(&a);
  fx_close(&b);
  fx_close(&c);
}

static void test_atm_rms_and_correlation(void) {
  synth_params p;
  params_sized(&p, 2400, 64);
  synth_params_no_noise(&p);
  p.atm_mm = 12.0;
  p.footprint = 0;
  fixture f;
  CHECK(fx_open(&f, &p) == 0);
  /* rms in mm of the epoch noise (atmosphere only), over 60 epochs x 8 rows x 2400 px */
  double ss = 0, n = 0, c10 = 0, c200 = 0, c1100 = 0, nc10 = 0, nc200 = 0, nc1100 = 0;
  for (int e = 0; e < 60; e++)
    for (uint32_t y = 0; y < 64; y += 8) {
      synth_static_row(&f.m, y, &f.r, f.scr);
      synth_epoch_noise_row(&f.m, e, y, &f.r, f.ep, f.scr);
      for (uint32_t x = 0; x < p.width; x++) {
        double v = f.ep[x];
        ss += v * v;
        n++;
        if (x + 10 < p.width) { c10 += v * f.ep[x + 10]; nc10++; }
        if (x + 200 < p.width) { c200 += v * f.ep[x + 200]; nc200++; }
        if (x + 1100 < p.width) { c1100 += v * f.ep[x + 1100]; nc1100++; }
      }
    }
  double var = ss / n, rms = sqrt(var);
  double r10 = c10 / nc10 / var, r200 = c200 / nc200 / var, r1100 = c1100 / nc1100 / var;
  CHECKF(fabs(rms - 12.0) < 0.15 * 12.0, "atmosphere rms %.2f mm, asked 12", rms);
  /* km-scale pixels are strongly correlated, ~20 km moderately, beyond twice the largest
   * lattice spacing (1024 px, ~100 km) not at all */
  CHECKF(r10 > 0.9, "correlation at 1 km: %.3f", r10);
  CHECKF(r200 > 0.2 && r200 < 0.9, "correlation at 20 km: %.3f", r200);
  CHECKF(fabs(r1100) < 0.15, "correlation at 110 km: %.3f", r1100);
  fx_close(&f);
}

static void test_unwerr_patches_exact(void) {
  synth_params p;
  params_sized(&p, 160, 128);
  synth_params_no_noise(&p);
  p.n_unwerr = 6;
  fixture f;
  CHECK(fx_open(&f, &p) == 0);
  synth_model *m = &f.m;
  double coef = coef_r2m_expected();
  int n_with = 0, n_jump = 0;
  for (int k = 0; k < m->n_ifg; k++) {
    const synth_ifg *g = &m->ifg[k];
    if (!g->n_patch) continue;
    n_with++;
    for (uint32_t y = 0; y < p.length; y += 3) {
      fx_ifg_row(&f, k, y);
      for (uint32_t x = 0; x < p.width; x++) {
        if (f.r.cls[x] == SYNTH_OUT) continue;
        double clean = ((double)f.es[x] - f.ep[x]) / coef;
        double q = (f.unw[x] - clean) / (2 * PI);
        int want = 0;
        for (int j = 0; j < g->n_patch; j++) {
          double u = (x + 0.5 - g->patch[j].cx) / g->patch[j].rx, v = (y + 0.5 - g->patch[j].cy) / g->patch[j].ry;
          if (u * u + v * v < 1) want += g->patch[j].k2pi;
        }
        CHECKF(fabs(q - want) < 1e-5, "ifg %d (%u,%u): offset %.8f x 2pi, want %d", k, x, y, q, want);
        n_jump += want != 0;
      }
    }
  }
  CHECK_EQ_INT(n_with, 6);
  CHECK(n_jump > 100);
  fx_close(&f);
}

static void test_bad_ifgs_and_coherence(void) {
  synth_params p;
  params_sized(&p, 200, 160);
  p.atm_mm = 0; /* keep only the per-interferogram noise in unw − (sec − prim)/coef */
  fixture f;
  CHECK(fx_open(&f, &p) == 0);
  synth_model *m = &f.m;
  double coef = coef_r2m_expected();
  for (int k = 0; k < m->n_ifg; k++) {
    const synth_ifg *g = &m->ifg[k];
    int short_good = !g->bad && !g->n_patch && g->sec - g->prim == 1;
    if (!g->bad && !short_good) continue;
    double ss = 0, nv = 0, ccs = 0, ncc = 0, nin = 0, land_cc = 0, n_land = 0, veg_cc = 0, n_veg = 0;
    int veg_valid = 0, veg_nodata = 0, sea_valid = 0;
    for (uint32_t y = 1; y < p.length; y += 6) {
      fx_ifg_row(&f, k, y);
      for (uint32_t x = 0; x < p.width; x++) {
        int cls = f.r.cls[x];
        if (cls == SYNTH_OUT) continue;
        nin++;
        ccs += f.cc[x]; ncc++;
        if (cls == SYNTH_LAND) { land_cc += f.cc[x]; n_land++; }
        if (cls == SYNTH_VEG) { veg_cc += f.cc[x]; n_veg++; if (f.unw[x] != 0) veg_valid++; else veg_nodata++; }
        if (cls == SYNTH_SEA && f.unw[x] != 0) sea_valid++;
        if (f.unw[x] == 0) continue;
        double d = f.unw[x] - ((double)f.es[x] - f.ep[x]) / coef;
        ss += d * d; nv++;
      }
    }
    double rms = sqrt(ss / nv);
    if (g->bad == SYNTH_BAD_DECORR) {
      CHECKF(nv / nin < 0.3, "decorrelated bad ifg keeps %.2f of its pixels", nv / nin);
      CHECKF(ccs / ncc < 0.2 * 255, "decorrelated bad ifg mean coherence %.1f", ccs / ncc / 255);
    } else if (g->bad == SYNTH_BAD_NOISY) {
      CHECKF(rms > 2.0, "noisy bad ifg: noise rms %.2f rad", rms);
    } else {
      CHECKF(rms < 0.6, "good ifg %d: noise rms %.2f rad", k, rms);
      CHECKF(land_cc / n_land > 0.6 * 255, "land coherence %.2f", land_cc / n_land / 255);
      CHECK(n_veg > 50);
      CHECKF(veg_cc / n_veg < 0.4 * 255, "ifg %d: vegetation coherence %.2f", k, veg_cc / n_veg / 255);
      CHECK_EQ_INT(sea_valid, 0);
    }
    (void)veg_valid; (void)veg_nodata;
  }
  /* vegetated zones: part no data, part valid, over the whole network */
  int veg_valid = 0, veg_nodata = 0;
  for (int k = 0; k < m->n_ifg; k += 5) {
    if (m->ifg[k].bad) continue;
    for (uint32_t y = 100; y < 160; y += 7) {
      fx_ifg_row(&f, k, y);
      for (uint32_t x = 0; x < p.width; x++)
        if (f.r.cls[x] == SYNTH_VEG) { if (f.unw[x] != 0) veg_valid++; else veg_nodata++; }
    }
  }
  CHECKF(veg_valid > 0.1 * (veg_valid + veg_nodata) && veg_nodata > 0.1 * (veg_valid + veg_nodata),
         "vegetation: %d valid, %d no data", veg_valid, veg_nodata);
  fx_close(&f);
}

static void test_geometry(void) {
  for (int desc = 0; desc <= 1; desc++) {
    synth_params p;
    params_sized(&p, 300, 200);
    p.descending = desc;
    fixture f;
    CHECK(fx_open(&f, &p) == 0);
    int n_sea = 0, n_land = 0;
    double hmax = 0;
    for (uint32_t y = 0; y < p.length; y += 5) {
      synth_static_row(&f.m, y, &f.r, f.scr);
      double u_west = 0, u_east = 0;
      for (uint32_t x = 0; x < p.width; x++) {
        if (f.r.cls[x] == SYNTH_OUT) {
          CHECK(f.r.e[x] == 0 && f.r.n[x] == 0 && f.r.u[x] == 0 && f.r.hgt_m[x] == 0);
          continue;
        }
        double e = f.r.e[x], n = f.r.n[x], u = f.r.u[x];
        CHECK_NEAR(e * e + n * n + u * u, 1.0, 1e-5);
        CHECK(u > cos(47 * PI / 180) && u < cos(28 * PI / 180));
        CHECK(n < 0);
        CHECK(desc ? e > 0 : e < 0);
        if (!u_west) u_west = u;
        u_east = u;
        if (f.r.cls[x] == SYNTH_SEA) { CHECK(f.r.hgt_m[x] == 0.0f); n_sea++; }
        else { CHECK(f.r.hgt_m[x] > 0.0f); n_land++; }
        if (f.r.hgt_m[x] > hmax) hmax = f.r.hgt_m[x];
      }
      /* far range (larger incidence, smaller U) is west for desc, east for asc */
      CHECK(desc ? u_west < u_east : u_west > u_east);
    }
    CHECK(n_sea > 0 && n_land > 10 * n_sea);
    CHECKF(hmax > 500 && hmax < 3000, "max height %.0f", hmax);
    /* footprint corners */
    synth_static_row(&f.m, 0, &f.r, f.scr);
    CHECK(f.r.cls[desc ? 0 : p.width - 1] == SYNTH_OUT);
    CHECK(f.r.cls[desc ? p.width - 1 : 0] != SYNTH_OUT);
    synth_static_row(&f.m, p.length - 1, &f.r, f.scr);
    CHECK(f.r.cls[desc ? p.width - 1 : 0] == SYNTH_OUT);
    fx_close(&f);
  }
}

int main(void) {
  RUN(test_dates);
  RUN(test_epochs_and_network);
  RUN(test_gap);
  RUN(test_bad_choice_keeps_network);
  RUN(test_param_errors);
  RUN(test_signals_analytic);
  RUN(test_noise_off_unw_exact);
  RUN(test_deterministic);
  RUN(test_atm_rms_and_correlation);
  RUN(test_unwerr_patches_exact);
  RUN(test_bad_ifgs_and_coherence);
  RUN(test_geometry);
  return check_done();
}
