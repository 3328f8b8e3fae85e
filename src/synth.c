/* synth.c — procedural synthetic LiCSAR frames with known truth (see include/cbas/synth.h).
 *
 * Randomness is counter-based: every random number is a hash of (seed, stream, indices), so any
 * row, epoch or interferogram can be generated on its own, in any order, on any thread, and the
 * same options give the same numbers. Spatially correlated fields are fractal value noise: per
 * octave a lattice of hashed Gaussian values (spacing 16..512 px, i.e. ~1.6 to ~50 km at
 * LiCSAR's 100 m) interpolated with a cubic fade; a row only touches the two lattice rows around
 * it, so the cost is a few flops per pixel and octave and nothing is stored per frame.
 *
 * Sign convention (LiCSBAS digest §0.2 "coef_r2m" and §7.2 "d_k = unw_k·coef_r2m"): positive mm
 * is LOS shortening; an interferogram's unwrapped phase is (disp_sec − disp_prim)/coef_r2m with
 * coef_r2m = −λ/(4π)·1000 mm/rad, so LiCSBAS's data d_k = unw_k·coef_r2m equals
 * disp_sec − disp_prim and its SB inversion returns the true cumulative displacement +cum.
 */
#include "cbas/synth.h"
#include "cbas/budget.h"
#include "cbas/licsbas.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define GOLD 0x9e3779b97f4a7c15ull
#define DAY_INVALID (-1000000000L)
#define CC_MASK_BYTE 51   /* unw is no data where coherence < 0.2 (decorrelated areas) */
#define N_LOOKS 10.0      /* effective looks of the coherence-dependent phase noise */
#define BAD_NOISE_RAD 3.0 /* rms of the extra noise of a "noisy" bad interferogram */

/* Random streams: independent hash domains. */
enum { ST_NET = 1, ST_BAD, ST_UNWERR, ST_EPOCH, ST_LAYOUT, ST_OCT, ST_ATM, ST_TER, ST_COH0,
       ST_VEGB, ST_COHIFG, ST_BADNOISE, ST_PIX, ST_BPERP };

/* Noise families: octave range and spectral slope (amplitude ∝ spacing^beta). */
enum { FAM_ATM, FAM_TER, FAM_COAST, FAM_COH0, FAM_VEGB, FAM_COHIFG, FAM_BAD, N_FAM };
static const struct { int o_lo, o_hi; double beta; } fam_def[N_FAM] = {
    [FAM_ATM] = {0, 5, 5.0 / 6.0}, [FAM_TER] = {1, 5, 1.0},   [FAM_COAST] = {3, 5, 1.0},
    [FAM_COH0] = {0, 4, 0.5},      [FAM_VEGB] = {0, 2, 0.5},  [FAM_COHIFG] = {4, 4, 0.5},
    [FAM_BAD] = {0, 2, 0.5},
};

static uint64_t mix64(uint64_t z) {
  z += GOLD;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint64_t key3(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b) {
  return mix64(mix64(mix64(seed ^ mix64(stream)) ^ a) + b * GOLD);
}
static double u01(uint64_t h) { return (double)(h >> 11) * 0x1p-53; }
/* Approximately Gaussian, zero mean, unit variance: sum of four 16-bit uniforms. */
static float gauss_h(uint64_t h) {
  double s = (double)((uint32_t)(h & 0xffff) + (uint32_t)((h >> 16) & 0xffff) +
                      (uint32_t)((h >> 32) & 0xffff) + (uint32_t)(h >> 48));
  return (float)(((s + 2.0) / 65536.0 - 2.0) * 1.7320508075688772);
}
/* Box–Muller normal deviate from one hash (model parameters only). */
static double normal_h(uint64_t h) {
  double a = 1.0 - u01(h), b = u01(mix64(h));
  return sqrt(-2.0 * log(a)) * cos(2.0 * PI * b);
}
/* Approximately Gaussian, zero mean, unit variance, from the low 48 bits only: sum of three
 * 16-bit uniforms (the top 16 bits stay free for another use of the same hash). */
static double gauss3_h(uint64_t h) {
  uint32_t s = (uint32_t)(h & 0xffff) + (uint32_t)((h >> 16) & 0xffff) + (uint32_t)((h >> 32) & 0xffff);
  return ((s + 1.5) / 65536.0 - 1.5) * 2.0;
}
static double rnd(const synth_model *m, int stream, uint64_t a, uint64_t b) {
  return u01(key3(m->p.seed, (uint64_t)stream, a, b));
}
static double rnorm(const synth_model *m, int stream, uint64_t a, uint64_t b) {
  return normal_h(key3(m->p.seed, (uint64_t)stream, a, b));
}
static double fade(double f) { return f * f * (3.0 - 2.0 * f); }
static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- dates ---------------------------------------------------------------------------- */

long synth_day_number(int ymd) {
  char txt[16];
  if (ymd < 19000101 || ymd > 21001231) return DAY_INVALID;
  snprintf(txt, sizeof txt, "%08d", ymd);
  return lb_valid_date(txt) ? lb_day_number(txt) : DAY_INVALID;
}

/* Inverse of the day number (H. Hinnant's civil_from_days). */
int synth_ymd_from_days(long z) {
  z += 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long y = yoe + era * 400;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  long d = doy - (153 * mp + 2) / 5 + 1;
  long mo = mp < 10 ? mp + 3 : mp - 9;
  return (int)((y + (mo <= 2)) * 10000 + mo * 100 + d);
}

/* ---- parameters ----------------------------------------------------------------------- */

void synth_params_default(synth_params *p) {
  memset(p, 0, sizeof *p);
  p->width = 600;
  p->length = 500;
  p->n_epoch = 61;
  p->start_ymd = 20180101;
  p->revisit_days = 12;
  p->degree = 4;
  p->miss_frac = 0.15;
  p->seed = 1;
  p->descending = 1;
  p->lon0 = 138.0;
  p->lat0 = 36.5;
  p->pixel_deg = 0.001;
  p->signal_scale = 1.0;
  p->atm_mm = 10.0;
  p->trop_mm_km = 10.0;
  p->orb_mm = 10.0;
  p->phase_noise = 1.0;
  p->decorr = 1;
  p->footprint = 1;
  p->n_unwerr = -1;
  p->n_bad = -1;
}

void synth_params_no_noise(synth_params *p) {
  p->atm_mm = p->trop_mm_km = p->orb_mm = p->phase_noise = 0.0;
  p->decorr = 0;
  p->n_unwerr = 0;
  p->n_bad = 0;
}

static int check_params(cbas_ctx *ctx, const synth_params *p) {
  if (p->width < 16 || p->width > 200000) return ctx_fail(ctx, CBAS_EUSAGE, "--width must be 16..200000, got %u", p->width);
  if (p->length < 16 || p->length > 200000) return ctx_fail(ctx, CBAS_EUSAGE, "--length must be 16..200000, got %u", p->length);
  if (p->n_epoch < 2 || p->n_epoch > 5000) return ctx_fail(ctx, CBAS_EUSAGE, "--epochs must be 2..5000, got %d", p->n_epoch);
  if (synth_day_number(p->start_ymd) == DAY_INVALID) return ctx_fail(ctx, CBAS_EUSAGE, "--start: invalid date %d (YYYYMMDD, 1900..2100)", p->start_ymd);
  if (p->revisit_days < 1 || p->revisit_days > 400) return ctx_fail(ctx, CBAS_EUSAGE, "--revisit must be 1..400 days, got %d", p->revisit_days);
  if (p->degree < 1 || p->degree > 50) return ctx_fail(ctx, CBAS_EUSAGE, "--degree must be 1..50, got %d", p->degree);
  if (!(p->miss_frac >= 0 && p->miss_frac <= 0.9)) return ctx_fail(ctx, CBAS_EUSAGE, "--miss must be 0..0.9, got %g", p->miss_frac);
  if (p->gap_start_ymd || p->gap_end_ymd) {
    long a = synth_day_number(p->gap_start_ymd), b = synth_day_number(p->gap_end_ymd);
    if (a == DAY_INVALID || b == DAY_INVALID || b < a)
      return ctx_fail(ctx, CBAS_EUSAGE, "--gap: expected START:END as YYYYMMDD:YYYYMMDD with START <= END, got %d:%d", p->gap_start_ymd, p->gap_end_ymd);
  }
  if (!(p->pixel_deg > 0 && p->pixel_deg <= 1)) return ctx_fail(ctx, CBAS_EUSAGE, "--pixel must be in (0, 1] degree, got %g", p->pixel_deg);
  if (!(p->lat0 > -89 && p->lat0 <= 90 && p->lat0 - p->length * p->pixel_deg >= -90))
    return ctx_fail(ctx, CBAS_EUSAGE, "--lat0: frame %g..%g leaves -90..90", p->lat0, p->lat0 - p->length * p->pixel_deg);
  if (!(p->lon0 >= -180 && p->lon0 <= 360)) return ctx_fail(ctx, CBAS_EUSAGE, "--lon0 must be -180..360, got %g", p->lon0);
  if (!(p->signal_scale >= 0 && p->signal_scale <= 1000)) return ctx_fail(ctx, CBAS_EUSAGE, "--signal-scale must be 0..1000, got %g", p->signal_scale);
  if (!(p->atm_mm >= 0 && p->atm_mm <= 1e4)) return ctx_fail(ctx, CBAS_EUSAGE, "--atm-mm must be 0..10000, got %g", p->atm_mm);
  if (!(p->trop_mm_km >= 0 && p->trop_mm_km <= 1e4)) return ctx_fail(ctx, CBAS_EUSAGE, "--trop-mm-km must be 0..10000, got %g", p->trop_mm_km);
  if (!(p->orb_mm >= 0 && p->orb_mm <= 1e4)) return ctx_fail(ctx, CBAS_EUSAGE, "--orb-mm must be 0..10000, got %g", p->orb_mm);
  if (!(p->phase_noise >= 0 && p->phase_noise <= 100)) return ctx_fail(ctx, CBAS_EUSAGE, "--phase-noise must be 0..100, got %g", p->phase_noise);
  if (p->n_unwerr < -1) return ctx_fail(ctx, CBAS_EUSAGE, "--n-unwerr must be >= 0 (or -1 = 5%%), got %d", p->n_unwerr);
  if (p->n_bad < -1) return ctx_fail(ctx, CBAS_EUSAGE, "--n-bad must be >= 0 (or -1 = 3 if the network allows), got %d", p->n_bad);
  for (const char *c = p->frame; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' || *c == '-'))
      return ctx_fail(ctx, CBAS_EUSAGE, "--frame '%s': only letters, digits, '_' and '-' allowed", p->frame);
  return 0;
}

/* ---- model ---------------------------------------------------------------------------- */

static synth_blob make_blob(const synth_model *m, int id, double fx, double fy, double sx_frac,
                            double sy_frac, double amp, int power) {
  double W = m->p.width, L = m->p.length, D = W < L ? W : L;
  synth_blob b;
  b.cx = (fx + 0.06 * (rnd(m, ST_LAYOUT, (uint64_t)id, 0) - 0.5)) * W;
  b.cy = (fy + 0.06 * (rnd(m, ST_LAYOUT, (uint64_t)id, 1) - 0.5)) * L;
  b.sx = sx_frac * D;
  b.sy = sy_frac * D;
  double ang = PI * rnd(m, ST_LAYOUT, (uint64_t)id, 2);
  b.ca = cos(ang);
  b.sa = sin(ang);
  b.amp = amp;
  b.power = power;
  return b;
}

/* Squared rotated elliptical distance of (x, y) from the blob's centre, in blob radii. */
static double blob_r2(const synth_blob *b, double x, double y) {
  double dx = x - b->cx, dy = y - b->cy;
  double u = (dx * b->ca + dy * b->sa) / b->sx, v = (-dx * b->sa + dy * b->ca) / b->sy;
  return u * u + v * v;
}
static double blob_val(const synth_blob *b, double x, double y) {
  double r2 = blob_r2(b, x, y);
  double arg = b->power == 4 ? r2 * r2 : 0.5 * r2;
  return arg > 200.0 ? 0.0 : b->amp * exp(-arg); /* exp(-200) is far below float resolution */
}

typedef struct { uint64_t key; int idx; } keyed;
static int keyed_cmp(const void *a, const void *b) {
  const keyed *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Orders cand[0..n) by a hash of (stream, prim, sec): a deterministic shuffle in which an
 * interferogram's rank depends only on its own dates and the seed. */
static void hash_order(const synth_model *m, int stream, keyed *cand, int n) {
  for (int i = 0; i < n; i++) {
    const synth_ifg *g = &m->ifg[cand[i].idx];
    cand[i].key = key3(m->p.seed, (uint64_t)stream, (uint64_t)g->prim, (uint64_t)g->sec);
  }
  qsort(cand, (size_t)n, sizeof *cand, keyed_cmp);
}

static int build_epochs(cbas_ctx *ctx, synth_model *m, int *side) {
  const synth_params *p = &m->p;
  long day = synth_day_number(p->start_ymd);
  long gs = p->gap_start_ymd ? synth_day_number(p->gap_start_ymd) : 0;
  long ge = p->gap_end_ymd ? synth_day_number(p->gap_end_ymd) : -1;
  int n = 0;
  while (n < p->n_epoch) {
    if (!(day >= gs && day <= ge)) {
      m->day[n] = day;
      m->ymd[n] = synth_ymd_from_days(day);
      side[n] = day > ge && ge >= gs;
      if (m->ymd[n] > 21001231)
        return ctx_fail(ctx, CBAS_EUSAGE, "--epochs %d with --revisit %d from --start %d runs past year 2100",
                        p->n_epoch, p->revisit_days, p->start_ymd);
      n++;
    }
    day += p->revisit_days;
  }
  for (int e = 0; e < n; e++) m->t_yr[e] = (double)(m->day[e] - m->day[0]) / 365.25;
  return 0;
}

static void build_network(synth_model *m, const int *side) {
  const synth_params *p = &m->p;
  int n = 0;
  for (int i = 0; i < m->n_epoch; i++)
    for (int j = i + 1; j <= i + p->degree && j < m->n_epoch; j++) {
      if (side[i] != side[j]) continue;                                  /* the requested gap */
      if (j > i + 1 && rnd(m, ST_NET, (uint64_t)i, (uint64_t)j) < p->miss_frac) continue; /* missing pair */
      synth_ifg *g = &m->ifg[n++];
      memset(g, 0, sizeof *g);
      g->prim = i;
      g->sec = j;
    }
  m->n_ifg = n;
}

/* Globally bad interferograms are chosen among pairs spanning >= 2 epochs, so leaving them out
 * never disconnects the network; unwrapping errors among the remaining ones. */
static int choose_bad_and_unwerr(cbas_ctx *ctx, synth_model *m, keyed *cand) {
  const synth_params *p = &m->p;
  int n = 0;
  for (int k = 0; k < m->n_ifg; k++)
    if (m->ifg[k].sec - m->ifg[k].prim >= 2) cand[n++].idx = k;
  int n_bad = p->n_bad < 0 ? (n < 3 ? n : 3) : p->n_bad;
  if (n_bad > n)
    return ctx_fail(ctx, CBAS_EUSAGE, "--n-bad %d: only %d interferograms span more than one epoch step", n_bad, n);
  hash_order(m, ST_BAD, cand, n);
  for (int i = 0; i < n_bad; i++) m->ifg[cand[i].idx].bad = i % 2 == 0 ? SYNTH_BAD_NOISY : SYNTH_BAD_DECORR;
  n = 0;
  for (int k = 0; k < m->n_ifg; k++)
    if (!m->ifg[k].bad) cand[n++].idx = k;
  int n_err = p->n_unwerr < 0 ? (m->n_ifg + 10) / 20 : p->n_unwerr;
  if (n_err > n) return ctx_fail(ctx, CBAS_EUSAGE, "--n-unwerr %d: only %d good interferograms", n_err, n);
  hash_order(m, ST_UNWERR, cand, n);
  double W = p->width, L = p->length, D = W < L ? W : L;
  for (int i = 0; i < n_err; i++) {
    synth_ifg *g = &m->ifg[cand[i].idx];
    g->n_patch = rnd(m, ST_UNWERR, (uint64_t)i, 100) < 0.3 ? 2 : 1;
    for (int j = 0; j < g->n_patch; j++) {
      synth_patch *q = &g->patch[j];
      uint64_t a = (uint64_t)i, b = (uint64_t)j * 8;
      q->cx = (0.15 + 0.7 * rnd(m, ST_UNWERR, a, b + 1)) * W;
      q->cy = (0.15 + 0.7 * rnd(m, ST_UNWERR, a, b + 2)) * L;
      q->rx = fmax(2.0, (0.03 + 0.05 * rnd(m, ST_UNWERR, a, b + 3)) * D);
      q->ry = fmax(2.0, (0.03 + 0.05 * rnd(m, ST_UNWERR, a, b + 4)) * D);
      int mag = rnd(m, ST_UNWERR, a, b + 5) < 0.1 ? 2 : 1;
      q->k2pi = rnd(m, ST_UNWERR, a, b + 6) < 0.5 ? -mag : mag;
    }
  }
  return 0;
}

static void build_layout(synth_model *m) {
  const synth_params *p = &m->p;
  double s = p->signal_scale;
  /* true deformation (LOS mm/yr, mm) */
  m->bowl[0] = make_blob(m, 0, 0.30, 0.35, 0.06, 0.04, -30.0 * s, 2);
  m->bowl[1] = make_blob(m, 1, 0.55, 0.50, 0.045, 0.032, -(12.0 + 13.0 * rnd(m, ST_LAYOUT, 1, 3)) * s, 2);
  m->bowl[2] = make_blob(m, 2, 0.38, 0.70, 0.035, 0.05, -(10.0 + 10.0 * rnd(m, ST_LAYOUT, 2, 3)) * s, 2);
  m->uplift = make_blob(m, 3, 0.70, 0.62, 0.12, 0.09, (6.0 + 4.0 * rnd(m, ST_LAYOUT, 3, 3)) * s, 4);
  m->seas = make_blob(m, 4, 0.60, 0.22, 0.08, 0.06, (5.0 + 5.0 * rnd(m, ST_LAYOUT, 4, 3)) * s, 4);
  double step_amp = (15.0 + 10.0 * rnd(m, ST_LAYOUT, 5, 3)) * (rnd(m, ST_LAYOUT, 5, 4) < 0.5 ? -1.0 : 1.0);
  m->step = make_blob(m, 5, 0.78, 0.38, 0.05, 0.04, step_amp * s, 2);
  m->seas_phase = 2.0 * PI * rnd(m, ST_LAYOUT, 6, 0);
  int is = (int)(0.6 * (m->n_epoch - 1));
  if (is > m->n_epoch - 2) is = m->n_epoch - 2;
  m->t_step_yr = 0.5 * (m->t_yr[is] + m->t_yr[is + 1]);
  /* terrain and decorrelated vegetation */
  m->hill[0] = make_blob(m, 10, 0.65, 0.40, 0.15, 0.10, 1100.0, 2);
  m->hill[1] = make_blob(m, 11, 0.30, 0.60, 0.10, 0.12, 800.0, 2);
  m->veg[0] = make_blob(m, 12, 0.50, 0.85, 0.14, 0.07, 1.0, 2);
  m->veg[1] = make_blob(m, 13, 0.75, 0.78, 0.06, 0.05, 1.0, 2);
  /* swath footprint: edges parallel to the track, tilted ~11.5 degrees from north */
  double margin = 0.2 * p->length;
  if (margin > 0.25 * p->width) margin = 0.25 * p->width;
  m->foot_margin = p->footprint ? margin : 0.0;
  /* Sentinel-1 IW geometry: heading (deg from north, as LiCSAR's metadata) and incidence
   * spanning 29..46 deg over the 250 km swath, scaled to the frame's ground width */
  m->heading_deg = p->descending ? -169.8 : -10.2;
  double latc = p->lat0 - 0.5 * p->length * p->pixel_deg;
  double width_km = p->width * p->pixel_deg * 111.32 * cos(latc * PI / 180.0);
  double span = clampd(17.0 * width_km / 250.0, 0.5, 17.0);
  m->inc_near_deg = 37.5 - 0.5 * span;
  m->inc_far_deg = 37.5 + 0.5 * span;
}

static void build_epoch_terms(synth_model *m) {
  const synth_params *p = &m->p;
  int n = m->n_epoch;
  double tbar = 0, stt = 0, sts = 0, sth = 0;
  for (int e = 0; e < n; e++) {
    m->trop_k[e] = p->trop_mm_km * rnorm(m, ST_EPOCH, (uint64_t)e, 0);
    m->ramp_x[e] = p->orb_mm * rnorm(m, ST_EPOCH, (uint64_t)e, 1);
    m->ramp_y[e] = p->orb_mm * rnorm(m, ST_EPOCH, (uint64_t)e, 2);
    m->bperp_m[e] = 70.0 * rnorm(m, ST_BPERP, (uint64_t)e, 0);
    m->seas_fac[e] = sin(2.0 * PI * m->t_yr[e] + m->seas_phase) - sin(m->seas_phase);
    m->step_fac[e] = m->t_yr[e] > m->t_step_yr ? 1.0 : 0.0;
    tbar += m->t_yr[e];
  }
  m->seas_fac[0] = 0.0; /* t = 0 exactly; keep the first epoch exactly 0 */
  m->master = (n - 1) / 3;
  double b0 = m->bperp_m[m->master];
  for (int e = 0; e < n; e++) m->bperp_m[e] -= b0;
  tbar /= n;
  for (int e = 0; e < n; e++) {
    double d = m->t_yr[e] - tbar;
    stt += d * d;
    sts += d * m->seas_fac[e];
    sth += d * m->step_fac[e];
  }
  m->fit_seas = stt > 0 ? sts / stt : 0.0;
  m->fit_step = stt > 0 ? sth / stt : 0.0;
}

/* Capacity of one octave's cell table: cells are >= 16 px wide. */
static size_t xend_cap(uint32_t W) { return W / 16 + 3; }

static void build_noise_tables(synth_model *m) {
  uint32_t W = m->p.width;
  /* Variance of one value-noise octave with unit lattice variance: the mean over the cell of
   * ((1−s)² + s²) per axis, s = fade(f), squared for the two axes. */
  double acc = 0;
  const int nq = 4096;
  for (int i = 0; i < nq; i++) {
    double s = fade((i + 0.5) / nq);
    acc += (1 - s) * (1 - s) + s * s;
  }
  double vn_var = (acc / nq) * (acc / nq);
  for (int f = 0; f < N_FAM; f++) {
    double sum = 0;
    for (int o = fam_def[f].o_lo; o <= fam_def[f].o_hi; o++) sum += pow(16.0 * (1 << o), 2.0 * fam_def[f].beta);
    for (int o = 0; o < SYNTH_N_OCT; o++)
      m->fam_amp[f][o] = o < fam_def[f].o_lo || o > fam_def[f].o_hi
                             ? 0.0
                             : pow(16.0 * (1 << o), fam_def[f].beta) / sqrt(sum * vn_var);
  }
  for (int o = 0; o < SYNTH_N_OCT; o++) {
    double S = 16.0 * (1 << o);
    double offx = S * rnd(m, ST_OCT, (uint64_t)o, 0);
    m->oct_offy[o] = S * rnd(m, ST_OCT, (uint64_t)o, 1);
    int32_t *xend = m->oct_xend + (size_t)o * xend_cap(W), cell = -1;
    for (uint32_t x = 0; x < W; x++) {
      double u = (x + 0.5 + offx) / S, fl = floor(u);
      if (x == 0) m->oct_ix0[o] = (int32_t)fl;
      int32_t c = (int32_t)fl - m->oct_ix0[o];
      if (c != cell) { cell = c; m->oct_ncell[o] = c + 1; }
      xend[c] = (int32_t)x + 1;
      m->oct_sx[(size_t)o * W + x] = (float)fade(u - fl);
    }
  }
}

int synth_model_init(cbas_ctx *ctx, const synth_params *p, synth_model *m) {
  memset(m, 0, sizeof *m);
  if (check_params(ctx, p)) return ctx->status;
  m->p = *p;
  if (p->frame[0]) snprintf(m->frame, sizeof m->frame, "%s", p->frame);
  else snprintf(m->frame, sizeof m->frame, "%s", p->descending ? "124D_05278_081106" : "087A_05215_131313");
  double lambda_m = 299792458.0 / SYNTH_FREQ_HZ;
  m->coef_r2m = -lambda_m / (4.0 * PI) * 1000.0;
  size_t ne = (size_t)p->n_epoch, nmax = ne * (size_t)p->degree;
  m->ymd = budget_alloc(ctx, ne * sizeof *m->ymd, "synth epochs");
  m->day = budget_alloc(ctx, ne * sizeof *m->day, "synth epochs");
  m->t_yr = budget_alloc(ctx, ne * 8 * sizeof(double), "synth epoch terms");
  m->ifg = budget_alloc(ctx, nmax * sizeof *m->ifg, "synth network");
  m->oct_xend = budget_alloc(ctx, SYNTH_N_OCT * xend_cap(p->width) * sizeof *m->oct_xend, "synth noise tables");
  m->oct_sx = budget_alloc(ctx, SYNTH_N_OCT * (size_t)p->width * sizeof *m->oct_sx, "synth noise tables");
  keyed *tmp = budget_alloc(ctx, (nmax + ne) * sizeof(keyed), "synth scratch");
  int *side = (int *)(tmp + nmax);
  if (ctx->status) goto fail;
  m->bperp_m = m->t_yr + ne;
  m->trop_k = m->t_yr + 2 * ne;
  m->ramp_x = m->t_yr + 3 * ne;
  m->ramp_y = m->t_yr + 4 * ne;
  m->seas_fac = m->t_yr + 5 * ne;
  m->step_fac = m->t_yr + 6 * ne;
  m->n_epoch = p->n_epoch;
  if (build_epochs(ctx, m, side)) goto fail;
  build_network(m, side);
  if (m->n_ifg == 0) {
    ctx_fail(ctx, CBAS_EUSAGE, "--gap %d:%d leaves no interferogram", p->gap_start_ymd, p->gap_end_ymd);
    goto fail;
  }
  if (choose_bad_and_unwerr(ctx, m, tmp)) goto fail;
  build_layout(m);
  build_epoch_terms(m);
  build_noise_tables(m);
  for (int b = 1; b < 256; b++) {
    double c = b / 255.0;
    m->phase_sd[b] = p->phase_noise * sqrt((1.0 - c * c) / (2.0 * N_LOOKS * c * c));
  }
  budget_free(ctx, tmp);
  return 0;
fail:
  budget_free(ctx, tmp);
  synth_model_free(ctx, m);
  return ctx->status;
}

void synth_model_free(cbas_ctx *ctx, synth_model *m) {
  budget_free(ctx, m->ymd);
  budget_free(ctx, m->day);
  budget_free(ctx, m->t_yr);
  budget_free(ctx, m->ifg);
  budget_free(ctx, m->oct_xend);
  budget_free(ctx, m->oct_sx);
  m->ymd = NULL;
  m->day = NULL;
  m->t_yr = NULL;
  m->ifg = NULL;
  m->oct_xend = NULL;
  m->oct_sx = NULL;
}

void synth_ifg_name(const synth_model *m, int k, char *buf) {
  snprintf(buf, 18, "%08d_%08d", m->ymd[m->ifg[k].prim], m->ymd[m->ifg[k].sec]);
}

/* ---- rows ----------------------------------------------------------------------------- */

size_t synth_row_bytes(uint32_t width) {
  size_t w = ((size_t)width + 15) & ~(size_t)15; /* keeps every array 64-byte aligned */
  return w * (8 * sizeof(float) + 1);
}

void synth_row_bind(synth_row *r, void *mem, uint32_t width) {
  size_t w = ((size_t)width + 15) & ~(size_t)15;
  float *f = mem;
  r->hgt_m = f;
  r->e = f + w;
  r->n = f + 2 * w;
  r->u = f + 3 * w;
  r->coh0 = f + 4 * w;
  r->vel = f + 5 * w;
  r->seas = f + 6 * w;
  r->step = f + 7 * w;
  r->cls = (uint8_t *)(f + 8 * w);
}

size_t synth_scratch_floats(const synth_model *m) {
  return 4 * (size_t)m->p.width + m->p.width / 16 + 8;
}

/* out[x] = unit-rms fractal value noise of family fam for hash key `key` along row y.
 * lat: scratch of >= width/16 + 3 floats. */
static void fractal_row(const synth_model *m, int fam, uint64_t key, uint32_t y, float *out, float *lat) {
  uint32_t W = m->p.width;
  for (uint32_t x = 0; x < W; x++) out[x] = 0.0f;
  for (int o = fam_def[fam].o_lo; o <= fam_def[fam].o_hi; o++) {
    double S = 16.0 * (1 << o), v = (y + 0.5 + m->oct_offy[o]) / S, fl = floor(v);
    int32_t iy = (int32_t)fl;
    float sy = (float)fade(v - fl), amp = (float)m->fam_amp[fam][o];
    const int32_t *xend = m->oct_xend + (size_t)o * xend_cap(W);
    const float *sx = m->oct_sx + (size_t)o * W;
    int32_t ix0 = m->oct_ix0[o], ncell = m->oct_ncell[o], ncol = ncell + 1;
    uint64_t ko = mix64(key ^ ((uint64_t)(o + 1) * GOLD));
    uint64_t r0 = (uint64_t)(uint32_t)iy << 32, r1 = (uint64_t)(uint32_t)(iy + 1) << 32;
    for (int32_t c = 0; c < ncol; c++) {
      uint64_t cx = (uint32_t)(ix0 + c);
      float g0 = gauss_h(mix64(ko ^ (r0 | cx))), g1 = gauss_h(mix64(ko ^ (r1 | cx)));
      lat[c] = amp * (g0 + sy * (g1 - g0));
    }
    uint32_t x = 0;
    for (int32_t c = 0; c < ncell; c++) {
      float a = lat[c], d = lat[c + 1] - lat[c];
      for (uint32_t xe = (uint32_t)xend[c]; x < xe; x++) out[x] += a + sx[x] * d;
    }
  }
}

void synth_atm_unit_row(const synth_model *m, uint64_t index, uint32_t y, float *out, float *scratch) {
  fractal_row(m, FAM_ATM, key3(m->p.seed, ST_ATM, index, 0), y, out, scratch);
}

void synth_static_row(const synth_model *m, uint32_t y, const synth_row *r, float *scratch) {
  const synth_params *p = &m->p;
  uint32_t W = p->width;
  float *ter = scratch, *coast = scratch + W, *coh = scratch + 2 * (size_t)W, *vegb = scratch + 3 * (size_t)W;
  float *lat = scratch + 4 * (size_t)W;
  uint64_t s = p->seed;
  fractal_row(m, FAM_TER, key3(s, ST_TER, 0, 0), y, ter, lat);
  fractal_row(m, FAM_COAST, key3(s, ST_TER, 1, 0), y, coast, lat);
  fractal_row(m, FAM_COH0, key3(s, ST_COH0, 0, 0), y, coh, lat);
  fractal_row(m, FAM_VEGB, key3(s, ST_VEGB, 0, 0), y, vegb, lat);
  double yc = y + 0.5, yf = yc / p->length;
  /* footprint edges at this row (x in px): desc cuts the NW and SE corners, asc NE and SW */
  double xl = 0, xr = W;
  if (m->foot_margin > 0) {
    xl = m->foot_margin * (p->descending ? 1.0 - yf : yf);
    xr = W - m->foot_margin * (p->descending ? yf : 1.0 - yf);
  }
  double head = (m->heading_deg + 0.3 * (yf - 0.5)) * PI / 180.0, az = head - 0.5 * PI;
  double saz = sin(az), caz = cos(az);
  for (uint32_t x = 0; x < W; x++) {
    double xc = x + 0.5, xf = xc / W;
    /* truth */
    double vel = 0;
    for (int b = 0; b < SYNTH_N_BOWL; b++) vel += blob_val(&m->bowl[b], xc, yc);
    vel += blob_val(&m->uplift, xc, yc);
    r->vel[x] = (float)vel;
    r->seas[x] = (float)blob_val(&m->seas, xc, yc);
    r->step[x] = (float)blob_val(&m->step, xc, yc);
    r->coh0[x] = (float)clampd(0.78 + 0.1 * coh[x], 0.45, 0.97);
    if (xc < xl || xc > xr) {
      r->cls[x] = SYNTH_OUT;
      r->hgt_m[x] = r->e[x] = r->n[x] = r->u[x] = 0.0f;
      continue;
    }
    /* LOS unit vector ground→satellite: azimuth heading−90° (right-looking), incidence
     * growing from near range (east for desc, west for asc) to far range */
    double rf = p->descending ? 1.0 - xf : xf;
    double inc = (m->inc_near_deg + (m->inc_far_deg - m->inc_near_deg) * rf + 0.4 * (yf - 0.5)) * PI / 180.0;
    double si = sin(inc);
    r->e[x] = (float)(saz * si);
    r->n[x] = (float)(caz * si);
    r->u[x] = (float)cos(inc);
    /* terrain: coast line near the west edge, two hills and fractal relief */
    double coast_x = 0.09 + 0.03 * coast[x];
    if (xf < coast_x) {
      r->cls[x] = SYNTH_SEA;
      r->hgt_m[x] = 0.0f;
      continue;
    }
    double h = 350.0 + 250.0 * ter[x] + blob_val(&m->hill[0], xc, yc) + blob_val(&m->hill[1], xc, yc);
    double d = clampd((xf - coast_x) / 0.06, 0.0, 1.0);
    h = fmax(h, 30.0) * fade(d);
    r->hgt_m[x] = (float)fmax(h, 1.0);
    int veg = 0;
    if (p->decorr)
      for (int v = 0; v < SYNTH_N_VEG; v++) {
        double lim = 1.0 + 0.3 * vegb[x];
        veg |= blob_r2(&m->veg[v], xc, yc) < lim * lim;
      }
    r->cls[x] = veg ? SYNTH_VEG : SYNTH_LAND;
  }
}

double synth_cum_mm(const synth_model *m, int e, double vel, double seas, double step) {
  return vel * m->t_yr[e] + seas * m->seas_fac[e] + step * m->step_fac[e];
}

void synth_epoch_noise_row(const synth_model *m, int e, uint32_t y, const synth_row *r, float *out,
                           float *scratch) {
  const synth_params *p = &m->p;
  uint32_t W = p->width;
  if (p->atm_mm > 0) {
    synth_atm_unit_row(m, (uint64_t)e, y, out, scratch);
    float a = (float)p->atm_mm;
    for (uint32_t x = 0; x < W; x++) out[x] *= a;
  } else {
    for (uint32_t x = 0; x < W; x++) out[x] = 0.0f;
  }
  double tk = m->trop_k[e] / 1000.0, ry = m->ramp_y[e] * ((y + 0.5) / p->length - 0.5);
  double rx = m->ramp_x[e] / W, rx0 = -0.5 * m->ramp_x[e];
  for (uint32_t x = 0; x < W; x++)
    out[x] += (float)(tk * r->hgt_m[x] + rx0 + rx * (x + 0.5) + ry);
}

void synth_epoch_row(const synth_model *m, int e, uint32_t y, const synth_row *r, float *out, float *scratch) {
  synth_epoch_noise_row(m, e, y, r, out, scratch);
  double t = m->t_yr[e], sf = m->seas_fac[e], hf = m->step_fac[e];
  for (uint32_t x = 0; x < m->p.width; x++)
    out[x] += (float)(r->vel[x] * t + r->seas[x] * sf + r->step[x] * hf);
}

int synth_patch_k(const synth_model *m, int k, double x, double y) {
  const synth_ifg *g = &m->ifg[k];
  int kk = 0;
  for (int j = 0; j < g->n_patch; j++) {
    const synth_patch *q = &g->patch[j];
    double u = (x - q->cx) / q->rx, v = (y - q->cy) / q->ry;
    if (u * u + v * v < 1.0) kk += q->k2pi;
  }
  return kk;
}

void synth_ifg_row(const synth_model *m, int k, uint32_t y, const synth_row *r, const float *prim,
                   const float *sec, float *unw, uint8_t *cc, float *scratch) {
  const synth_params *p = &m->p;
  const synth_ifg *g = &m->ifg[k];
  uint32_t W = p->width;
  float *cvar = scratch, *bad = scratch + W, *lat = scratch + 2 * (size_t)W;
  fractal_row(m, FAM_COHIFG, key3(p->seed, ST_COHIFG, (uint64_t)k, 0), y, cvar, lat);
  if (g->bad == SYNTH_BAD_NOISY) fractal_row(m, FAM_BAD, key3(p->seed, ST_BADNOISE, (uint64_t)k, 0), y, bad, lat);
  double dt = (double)(m->day[g->sec] - m->day[g->prim]);
  double tdec_land = 0.62 + 0.38 * exp(-dt / 60.0), tdec_veg = 0.10 + 0.28 * exp(-dt / 30.0);
  double inv_coef = 1.0 / m->coef_r2m, yc = y + 0.5;
  int mask = p->decorr || g->bad == SYNTH_BAD_DECORR;
  int any_patch = 0;
  for (int j = 0; j < g->n_patch; j++)
    if (fabs(yc - g->patch[j].cy) < g->patch[j].ry) any_patch = 1;
  uint64_t ks = key3(p->seed, ST_PIX, (uint64_t)k, (uint64_t)y);
  for (uint32_t x = 0; x < W; x++) {
    int cls = r->cls[x];
    if (cls == SYNTH_OUT) {
      unw[x] = 0.0f;
      cc[x] = 0;
      continue;
    }
    uint64_t h = mix64(ks + (uint64_t)(x + 1) * GOLD);
    double jit = 0.05 * ((double)(h >> 48) * 0x1p-16 - 0.5), coh;
    if (p->decorr && cls == SYNTH_VEG) coh = tdec_veg + 0.03 * cvar[x] + 2.0 * jit;
    else if (p->decorr && cls == SYNTH_SEA) coh = 0.04 + 2.0 * (jit + 0.025);
    else coh = r->coh0[x] * tdec_land * (1.0 + 0.05 * cvar[x]) + jit;
    if (g->bad == SYNTH_BAD_DECORR) coh *= 0.18;
    else if (g->bad == SYNTH_BAD_NOISY) coh *= 0.7;
    int b = (int)(clampd(coh, 0.0, 1.0) * 255.0);
    if (b < 1) b = 1;
    cc[x] = (uint8_t)b;
    if (mask && b < CC_MASK_BYTE) {
      unw[x] = 0.0f;
      continue;
    }
    double ph = ((double)sec[x] - (double)prim[x]) * inv_coef;
    if (p->phase_noise > 0) ph += m->phase_sd[b] * gauss3_h(h);
    if (g->bad == SYNTH_BAD_NOISY) ph += BAD_NOISE_RAD * bad[x];
    if (any_patch) ph += 2.0 * PI * synth_patch_k(m, k, x + 0.5, yc);
    float v = (float)ph;
    unw[x] = v == 0.0f ? SYNTH_UNW_TINY : v;
  }
}
