/* synth.h — procedural synthetic LiCSAR frames with known truth (the generator behind
 * `cbas synth`).
 *
 * Everything is a pure function of (options, seed, epoch or interferogram, x, y): nothing holds
 * a whole frame. A caller walks the frame in blocks of rows: synth_static_row() gives the
 * time-independent layers of one row (terrain, LOS vector, land/vegetation/sea/outside class,
 * base coherence and the spatial patterns of the true deformation), synth_epoch_row() the total
 * LOS displacement of one epoch along that row (true cumulative displacement + atmosphere +
 * stratified troposphere + orbital ramp), synth_ifg_row() one interferogram's unwrapped phase
 * and coherence from the rows of its two epochs.
 *
 * Conventions (match LiCSBAS, digest §0.2 and §7.2):
 *   coef_r2m = −λ/(4π)·1000 mm/rad, λ = 299792458/5.405e9 m;
 *   positive mm = LOS shortening (towards the satellite);
 *   unw = (disp_sec − disp_prim)/coef_r2m + noise (rad), so LiCSBAS's d = unw·coef_r2m is
 *   disp_sec − disp_prim and its inversion (SB rows: Σ increments = d) returns +cum.
 *   unw = 0 means no data; a valid pixel whose value rounds to exactly 0.0f is stored as
 *   SYNTH_UNW_TINY instead.
 *   t (years) = (day number of the epoch − day number of the first epoch)/365.25, as LiCSBAS.
 *
 * Memory: synth_model_init() takes O(n_epoch + n_ifg + 6·width) from the budget; the row
 * functions use caller buffers (synth_row_bytes(), synth_scratch_floats()). Thread-safety:
 * a model is read-only after init; the row functions may run concurrently with distinct output
 * and scratch buffers. Results do not depend on the thread count or on the order of calls.
 */
#ifndef CBAS_SYNTH_H
#define CBAS_SYNTH_H
#include "cbas/ctx.h"
#include <stddef.h>
#include <stdint.h>

#define SYNTH_FREQ_HZ 5.405e9
#define SYNTH_UNW_TINY 1e-30f
#define SYNTH_MAX_PATCH 2

/* Pixel classes (truth/mask_decorr.tif). */
enum { SYNTH_LAND = 0, SYNTH_VEG = 1, SYNTH_SEA = 2, SYNTH_OUT = 3 };
/* Kinds of globally bad interferograms. */
enum { SYNTH_GOOD = 0, SYNTH_BAD_NOISY = 1, SYNTH_BAD_DECORR = 2 };

/* Options; synth_params_default() documents the defaults. */
typedef struct synth_params {
  uint32_t width, length;   /* pixels (default 600 x 500) */
  int n_epoch;              /* epochs written (default 61) */
  int start_ymd;            /* first acquisition YYYYMMDD (20180101) */
  int revisit_days;         /* 12 */
  int degree;               /* each epoch paired with its next `degree` epochs (4) */
  double miss_frac;         /* fraction of non-adjacent pairs left out at random (0.15) */
  int gap_start_ymd, gap_end_ymd; /* acquisition gap [start, end], 0 = none: no epoch inside,
                                   * no pair across it */
  uint64_t seed;            /* 1 */
  int descending;           /* 1 = descending track (default), 0 = ascending */
  char frame[32];           /* "" = 124D_05278_081106 (desc) / 087A_05215_131313 (asc) */
  double lon0, lat0;        /* outer corner of the NW pixel, degrees (138.0, 36.5) */
  double pixel_deg;         /* 0.001 (~100 m, as LiCSAR) */
  double signal_scale;      /* multiplies every true deformation (1) */
  double atm_mm;            /* rms of the turbulent atmosphere per epoch, mm (10) */
  double trop_mm_km;        /* sd of the per-epoch height-correlated delay, mm per km (10) */
  double orb_mm;            /* sd of the per-epoch orbital ramp across the frame, mm (10) */
  double phase_noise;       /* multiplier of the coherence-dependent phase noise (1) */
  int decorr;               /* 1: vegetated zones and sea are decorrelated (1) */
  int footprint;            /* 1: corners outside the tilted swath footprint are no data (1) */
  int n_unwerr;             /* interferograms with 2π patches; −1 = 5% of them (−1) */
  int n_bad;                /* globally bad interferograms; −1 = 3, fewer if the network has
                             * fewer pairs spanning >= 2 epoch steps (−1) */
} synth_params;

void synth_params_default(synth_params *p);
/* Turns every noise source off (atmosphere, troposphere, orbits, phase noise, decorrelation,
 * unwrapping errors, bad interferograms). */
void synth_params_no_noise(synth_params *p);

typedef struct synth_patch { double cx, cy, rx, ry; int k2pi; } synth_patch; /* ellipse, px */

typedef struct synth_ifg {
  int prim, sec;            /* epoch indices, prim < sec */
  int bad;                  /* SYNTH_GOOD / SYNTH_BAD_NOISY / SYNTH_BAD_DECORR */
  int n_patch;              /* unwrapping-error patches (offset k2pi·2π rad inside) */
  synth_patch patch[SYNTH_MAX_PATCH];
} synth_ifg;

/* A smooth blob: amplitude · shape(rotated elliptical distance r), shape = exp(−r²/2)
 * (power 2) or exp(−r⁴) (power 4, a plateau). */
typedef struct synth_blob { double cx, cy, sx, sy, ca, sa, amp; int power; } synth_blob;
/* ca, sa = cos, sin of the rotation of the blob's x axis. */

#define SYNTH_N_BOWL 3
#define SYNTH_N_VEG 2
#define SYNTH_N_OCT 6 /* value-noise lattice spacings 16, 32, ..., 512 px */

typedef struct synth_model {
  synth_params p;
  char frame[32];
  double coef_r2m;          /* mm/rad (negative) */
  int n_epoch;
  int *ymd;                 /* [n_epoch] */
  long *day;                /* [n_epoch] day numbers */
  double *t_yr;             /* [n_epoch] */
  double *seas_fac, *step_fac; /* [n_epoch] sin(2πt+φ) − sin φ, [t > t_step] */
  int n_ifg;
  synth_ifg *ifg;           /* [n_ifg], sorted by (prim, sec) = by name */
  int master;               /* reference epoch of baselines/metadata */
  double *bperp_m;          /* [n_epoch] perpendicular baseline w.r.t. master */
  double *trop_k;           /* [n_epoch] mm per km of height */
  double *ramp_x, *ramp_y;  /* [n_epoch] mm across the frame */
  /* true deformation: cum(t) = vel·t + seas·(sin(2πt+φ) − sin φ) + step·[t > t_step] */
  synth_blob bowl[SYNTH_N_BOWL], uplift, seas, step;
  double seas_phase, t_step_yr;
  double fit_seas, fit_step;  /* least-squares slope over the epochs of the unit seasonal and
                               * unit step terms: vel_fit = vel + seas·fit_seas + step·fit_step */
  /* terrain, coherence and decorrelation layout */
  synth_blob hill[2], veg[SYNTH_N_VEG];
  double foot_margin;       /* px; 0 = no footprint */
  double heading_deg, inc_near_deg, inc_far_deg;
  /* value-noise lattices: per octave, spacing, offset and per-column tables */
  double oct_offy[SYNTH_N_OCT];
  int32_t oct_ix0[SYNTH_N_OCT];   /* lattice column of x = 0 */
  int32_t oct_ncell[SYNTH_N_OCT]; /* lattice cells the row spans */
  int32_t *oct_xend;        /* [SYNTH_N_OCT][width/16 + 3]: end x (exclusive) of each cell */
  float *oct_sx;            /* [SYNTH_N_OCT][width] fade weight of each x */
  double fam_amp[8][SYNTH_N_OCT]; /* per noise family: octave amplitudes for unit rms */
  double phase_sd[256];     /* phase-noise sd (rad) for each coherence byte */
} synth_model;

/* Validates p (CBAS_EUSAGE naming the option) and derives the dates, network, per-epoch
 * coefficients and signal layout. */
int synth_model_init(cbas_ctx *ctx, const synth_params *p, synth_model *m);
void synth_model_free(cbas_ctx *ctx, synth_model *m);

/* Day number (days since 1970-01-01, proleptic Gregorian) of YYYYMMDD; −1e9 if invalid. */
long synth_day_number(int ymd);
int synth_ymd_from_days(long days);

/* Time-independent layers of one row; each array holds `width` elements. */
typedef struct synth_row {
  float *hgt_m;             /* terrain, m; exactly 0 at sea and outside the footprint */
  float *e, *n, *u;         /* unit vector ground→satellite; 0 outside the footprint */
  float *coh0;              /* base coherence (0..1) */
  float *vel, *seas, *step; /* true deformation patterns: mm/yr, mm, mm */
  uint8_t *cls;             /* SYNTH_LAND / _VEG / _SEA / _OUT */
} synth_row;

size_t synth_row_bytes(uint32_t width);
/* Points r's arrays into mem (synth_row_bytes(width) bytes, 64-byte aligned). */
void synth_row_bind(synth_row *r, void *mem, uint32_t width);
/* Floats of scratch every row function needs. */
size_t synth_scratch_floats(const synth_model *m);

void synth_static_row(const synth_model *m, uint32_t y, const synth_row *r, float *scratch);
/* True cumulative LOS displacement (mm) of epoch e at one pixel. */
double synth_cum_mm(const synth_model *m, int e, double vel, double seas, double step);
/* Total LOS displacement of epoch e along row y (mm): truth + atmosphere + troposphere + ramp. */
void synth_epoch_row(const synth_model *m, int e, uint32_t y, const synth_row *r, float *out_mm,
                     float *scratch);
/* Noise of epoch e only (mm): atmosphere + troposphere + orbital ramp. */
void synth_epoch_noise_row(const synth_model *m, int e, uint32_t y, const synth_row *r,
                           float *out_mm, float *scratch);
/* Interferogram k along row y from its epochs' rows (synth_epoch_row): unw (rad, 0 = no data)
 * and coherence (byte = coherence·255, 0 = no data). */
void synth_ifg_row(const synth_model *m, int k, uint32_t y, const synth_row *r,
                   const float *prim_mm, const float *sec_mm, float *unw, uint8_t *cc,
                   float *scratch);
/* Unit-rms fractal value noise of the atmosphere family for (stream, index) along row y —
 * exposed for tests (rms and correlation length). */
void synth_atm_unit_row(const synth_model *m, uint64_t index, uint32_t y, float *out,
                        float *scratch);
/* Inside unwrapping-error patch j of ifg k? Returns the 2π multiple (0 outside). */
int synth_patch_k(const synth_model *m, int k, double x, double y);
/* "YYYYMMDD_YYYYMMDD" of ifg k into buf (>= 18 bytes). */
void synth_ifg_name(const synth_model *m, int k, char *buf);
#endif
