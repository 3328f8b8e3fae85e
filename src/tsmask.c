/* tsmask.c — LiCSBAS step 15 noise-index mask core (see include/cbas/tsmask.h). */
#include "cbas/tsmask.h"
#include "cbas/licsbas.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const names[TSMASK_N] = {"coh_avg", "n_unw", "vstd", "maxTlen", "n_gap",
                                            "stc", "n_ifg_noloop", "n_loop_err", "resid_rms"};
static const char *const units[TSMASK_N] = {"", "", "mm/yr", "yr", "", "mm", "", "", "mm"};
static const int is_lt[TSMASK_N] = {1, 1, 0, 1, 0, 0, 0, 0, 0};

/* LiCSBAS 15 v1.8.1 defaults: {C-band, L-band}; is_int = the default is a Python int. */
static const double def_c[TSMASK_N] = {0.05, 1.5, 100, 1, 10, 5, 50, 5, 2};
static const double def_l[TSMASK_N] = {0.01, 1.0, 200, 1, 1, 10, 50, 1, 10};
static const int def_is_int[TSMASK_N] = {0, 0, 1, 1, 1, 1, 1, 1, 1};
/* Options LiCSBAS parses with int() (the others with float()). */
static const int opt_is_int[TSMASK_N] = {0, 0, 0, 0, 1, 0, 1, 1, 0};

const char *tsmask_name(int k) { return k >= 0 && k < TSMASK_N ? names[k] : "?"; }
const char *tsmask_unit(int k) { return k >= 0 && k < TSMASK_N ? units[k] : "?"; }
int tsmask_is_lt(int k) { return k >= 0 && k < TSMASK_N ? is_lt[k] : 0; }

void tsmask_params_default(tsmask_params *p) {
  memset(p, 0, sizeof *p);
  for (int k = 0; k < TSMASK_N; k++) p->thre[k] = NAN;
}

void tsmask_acc_init(tsmask_acc *a) { memset(a, 0, sizeof *a); }

void tsmask_acc_merge(tsmask_acc *into, const tsmask_acc *from) {
  into->n_pt_all += from->n_pt_all;
  into->n_ref += from->n_ref;
  into->n_kept += from->n_kept;
  for (int k = 0; k < TSMASK_N; k++) {
    into->kept[k] += from->kept[k];
    if (from->has_min[k] && (!into->has_min[k] || from->min_signed[k] < into->min_signed[k])) {
      into->min_signed[k] = from->min_signed[k];
      into->has_min[k] = 1;
    }
  }
}

/* float32 threshold in the signed space (negation is exact, so -float32(t) == float32(-t)). */
static float signed_cmp(int k, double thre) { return is_lt[k] ? -(float)thre : (float)thre; }

int tsmask_setup(tsmask_plan *plan, const tsmask_params *p, double wavelength_m, long n_im,
                 char *why, size_t cap) {
  memset(plan, 0, sizeof *plan);
  if (!(wavelength_m > 0)) {
    snprintf(why, cap, "wavelength %g m is not usable", wavelength_m);
    return -1;
  }
  if (n_im < 1) {
    snprintf(why, cap, "number of images %ld is not usable", n_im);
    return -1;
  }
  plan->lband = wavelength_m > 0.2;
  plan->autoadjust = !p->no_autoadjust;
  for (int k = 0; k < TSMASK_N; k++) {
    double v = p->thre[k];
    if (v != v) {
      plan->thre[k] = plan->lband ? def_l[k] : def_c[k];
      plan->thre_is_int[k] = def_is_int[k];
    } else {
      if (!isfinite(v) || (opt_is_int[k] && v != floor(v))) {
        snprintf(why, cap, "threshold of %s must be %s, got %g", names[k],
                 opt_is_int[k] ? "an integer" : "a finite number", v);
        return -1;
      }
      plan->thre[k] = v;
      plan->thre_is_int[k] = opt_is_int[k];
    }
  }
  /* thre_dict['n_unw'] = int(n_im*thre_dict['n_unw_r']): product in double, truncation. */
  plan->n_unw_r = plan->thre[TSMASK_N_UNW];
  double prod = (double)n_im * plan->n_unw_r;
  if (!(fabs(prod) < 2e9)) {
    snprintf(why, cap, "n_unw ratio %g is out of range", plan->n_unw_r);
    return -1;
  }
  plan->thre[TSMASK_N_UNW] = trunc(prod);
  plan->thre_is_int[TSMASK_N_UNW] = 1;
  /* stc NaN -> thre_dict['stc'] + 1 (stored in the float32 array), or 0. */
  plan->stc_nan = p->keep_isolated ? 0.0f : (float)(plan->thre[TSMASK_STC] + 1);
  for (int k = 0; k < TSMASK_N; k++) {
    plan->given[k] = plan->thre[k];
    plan->cmp[k] = signed_cmp(k, plan->thre[k]);
  }
  return 0;
}

/* Signed float32 value of index k at pixel i (stc NaN replaced). */
static float signed_value(const tsmask_plan *plan, int k, const float *const idx[TSMASK_N], size_t i) {
  float d = idx[k][i];
  if (k == TSMASK_STC && d != d) d = plan->stc_nan;
  return is_lt[k] ? -d : d;
}

static int in_e(float v) { return v == v && v != 0.0f; }

void tsmask_scan(const tsmask_plan *plan, const float *vel, const float *const idx[TSMASK_N],
                 size_t n, tsmask_acc *acc) {
  for (size_t i = 0; i < n; i++) {
    float v = vel[i];
    if (v == 0.0f) acc->n_ref++;
    if (!in_e(v)) continue;
    acc->n_pt_all++;
    for (int k = 0; k < TSMASK_N; k++) {
      float s = signed_value(plan, k, idx, i);
      if (s != s) continue;
      if (!acc->has_min[k] || s < acc->min_signed[k]) {
        acc->min_signed[k] = s;
        acc->has_min[k] = 1;
      }
    }
  }
}

void tsmask_adjust(tsmask_plan *plan, const tsmask_acc *scan) {
  if (!plan->autoadjust) return;
  for (int k = 0; k < TSMASK_N; k++) {
    if (!scan->has_min[k]) continue; /* nanmin of all-NaN is NaN: NaN > thre is false */
    double thre_signed = is_lt[k] ? -plan->thre[k] : plan->thre[k];
    if ((double)scan->min_signed[k] > thre_signed) {
      float c = ceilf(scan->min_signed[k]);          /* np.ceil(np.float32) */
      plan->cmp[k] = c;
      plan->thre[k] = is_lt[k] ? -(double)c : (double)c; /* -1*np.float32 stays float32 */
      plan->thre_is_int[k] = 0;
      plan->adjusted[k] = 1;
    }
  }
}

void tsmask_apply(const tsmask_plan *plan, const float *vel, const float *const idx[TSMASK_N],
                  size_t n, float *mask, float *vel_mskd, tsmask_acc *acc) {
  for (size_t i = 0; i < n; i++) {
    float v = vel[i], m;
    if (v == 0.0f) {
      m = 1.0f; /* the reference pixel is unmasked */
      acc->n_ref++;
    } else if (v != v) {
      m = NAN;
    } else {
      acc->n_pt_all++;
      int all = 1;
      for (int k = 0; k < TSMASK_N; k++) {
        float s = signed_value(plan, k, idx, i);
        if (s <= plan->cmp[k]) acc->kept[k]++; /* NaN compares false: masked */
        else all = 0;
      }
      acc->n_kept += (uint64_t)all;
      m = all ? 1.0f : 0.0f;
    }
    mask[i] = m;
    if (vel_mskd) vel_mskd[i] = m == 0.0f ? NAN : v * m;
  }
}

uint64_t tsmask_n_nomask(const tsmask_acc *a) { return a->n_kept + a->n_ref; }

/* Python '{:4}' of the threshold (int or float) and '{:W.1f}' of a rate. */
static void fmt_thre(const tsmask_plan *plan, int k, char *buf, size_t cap) {
  char t[48];
  if (plan->thre_is_int[k]) snprintf(t, sizeof t, "%.0f", plan->thre[k]);
  else lb_pyfloat(t, sizeof t, plan->thre[k]);
  snprintf(buf, cap, "%4s", t);
}
static void fmt_rate(double r, int width, char *buf, size_t cap) {
  if (r != r) snprintf(buf, cap, "%*s", width, "nan");
  else snprintf(buf, cap, "%*.1f", width, r);
}

int tsmask_report(const tsmask_plan *plan, const tsmask_acc *acc, char *buf, size_t cap) {
  size_t o = 0;
  int w;
  double n_all = (double)acc->n_pt_all;
#define EMIT(...)                                                     \
  do {                                                                \
    w = snprintf(buf + o, o < cap ? cap - o : 0, __VA_ARGS__);        \
    if (w < 0 || o + (size_t)w >= cap) return -1;                     \
    o += (size_t)w;                                                   \
  } while (0)
  EMIT("Noise index    : Threshold  (rate to be masked)\n");
  for (int k = 0; k < TSMASK_N; k++) {
    char t[64], r[32];
    fmt_thre(plan, k, t, sizeof t);
    /* mskd_rate = (1 - kept/n_pt_all)*100 */
    fmt_rate((1.0 - (double)acc->kept[k] / n_all) * 100.0, 4, r, sizeof r);
    EMIT("- %-12s : %s %-5s (%s%%)\n", names[k], t, units[k], r);
  }
  uint64_t n_nomask = tsmask_n_nomask(acc);
  double rate_nomask = (double)n_nomask / n_all * 100.0;
  char r1[32], r2[32];
  fmt_rate(100.0 - rate_nomask, 0, r1, sizeof r1);
  fmt_rate(rate_nomask, 0, r2, sizeof r2);
  /* n_pt_all - n_nomask is a Python int: it may be negative (reference pixels) */
  EMIT("\nMasked pixels  : %lld/%llu (%s%%)\n", (long long)acc->n_pt_all - (long long)n_nomask,
       (unsigned long long)acc->n_pt_all, r1);
  EMIT("Kept pixels    : %llu/%llu (%s%%)\n\n", (unsigned long long)n_nomask,
       (unsigned long long)acc->n_pt_all, r2);
#undef EMIT
  return (int)o;
}
