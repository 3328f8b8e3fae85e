/* cmd_run.c — `cbas run`: the whole LiCSBAS workflow in one command (prep = steps 02–05, then
 * steps 11–16 and the result pictures), configured with LiCSBAS's batch_LiCSBAS.sh parameter
 * names, restartable with --start-step/--end-step, and crash-safe:
 *
 *  - Every step writes its outputs atomically (temporary name, then rename: afile.h, gtiff.h,
 *    stack.h), so a killed step leaves the previous files or none.
 *  - OUT/cbas_run.state records a hash of the effective configuration and each completed step
 *    (written atomically after the step). Re-running the same command skips the completed
 *    steps and re-runs the interrupted one from its start; outputs are deterministic (no
 *    timestamps, thread-count independent), so the result is byte-identical to an
 *    uninterrupted run. A different configuration invalidates the completed steps.
 *  - OUT/cbas_run.log (appended) has the parameters, version, per-step wall time and the peak
 *    resident memory; it is the one file that differs between runs.
 *
 * Steps run in-process through their own command entry points with a synthesised argument
 * vector, so `cbas run` and the single-step commands cannot drift apart.
 *
 * Configuration sources, later wins: LiCSBAS defaults < -c FILE (shell-style KEY="VALUE" lines,
 * comments with #, as in batch_LiCSBAS.sh) < command-line options < KEY=VALUE arguments.
 * Unknown keys are an error naming the key (exit status 2); keys of batch_LiCSBAS.sh that have
 * no meaning for cbas (n_para, gpu, directory names ...) are accepted and listed as ignored.
 */
#include "cbas/afile.h"
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/plat.h"
#include "cbas/prep.h"
#include "cbas/tsdir.h"
#include "cmds.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef CBAS_VERSION
#define CBAS_VERSION "dev"
#endif

/* ---------------------------------------------------------------- configuration */

enum { K_PREP, K_TS, K_RUN, K_IGNORED };

/* Keys of batch_LiCSBAS.sh handled by prep or by run itself, with their defaults. */
static const struct { const char *key, *def, *help; } PREP_KEYS[] = {
    {"nlook", "1", "multilook factor (step 02)"},
    {"p02_GEOCdir", "GEOC", "LiCSAR GEOC folder (--geoc)"},
    {"p02_freq", "", "radar frequency, Hz (default 5.405e9)"},
    {"do03op_GACOS", "n", "GACOS correction (step 03), y/n"},
    {"p03_gacosdir", "GACOS", "folder of GACOS delays"},
    {"p03_fillhole", "y", "fill holes of the GACOS delays, y/n"},
    {"do04op_mask", "n", "masking (step 04), y/n"},
    {"p04_mask_coh_thre", "", "mask average coherence <= this"},
    {"p04_mask_range", "", "pixel range to mask X1:X2/Y1:Y2"},
    {"p04_mask_range_file", "", "file of pixel ranges to mask"},
    {"do05op_clip", "n", "clipping (step 05), y/n"},
    {"p05_clip_range", "", "clip pixel range X1:X2/Y1:Y2"},
    {"p05_clip_range_geo", "", "clip area LONW/LONE/LATS/LATN"},
    {"start_step", "02", "first step (02-05 = prep, 11-16)"},
    {"end_step", "16", "last step"},
    {"start_date", "", "keep interferograms from this date (YYYYMMDD)"},
    {"end_date", "", "keep interferograms up to this date (YYYYMMDD)"},
    {"ref_lon", "", "reference point longitude for the filtered result (step 16)"},
    {"ref_lat", "", "reference point latitude for the filtered result (step 16)"},
};
#define N_PREP_KEYS (int)(sizeof PREP_KEYS / sizeof PREP_KEYS[0])

static const char *const IGNORED_KEYS[] = {
    "GEOCmldir", "n_para", "gpu", "check_only", "logdir", "log", "order_op03_05", "p01_start_date",
    "p01_end_date", "p01_get_gacos", "p01_frame", "p01_n_para", "p02_GEOCmldir", "p02_n_para",
    "p03_inGEOCmldir", "p03_outGEOCmldir_suffix", "p03_n_para", "p04_inGEOCmldir",
    "p04_outGEOCmldir_suffix", "p04_n_para", "p05_inGEOCmldir", "p05_outGEOCmldir_suffix",
    "p05_n_para", "p11_GEOCmldir", "p11_TSdir", "p12_GEOCmldir", "p12_TSdir", "p12_n_para",
    "p13_GEOCmldir", "p13_TSdir", "p13_n_para", "p14_TSdir", "p15_TSdir", "p16_TSdir", "p16_n_para",
};
#define N_IGNORED (int)(sizeof IGNORED_KEYS / sizeof IGNORED_KEYS[0])

#define MAX_KEYS 160
typedef struct cfg_entry {
  char key[48];
  char value[512];
  char source[160]; /* "default", "FILE:LINE", "command line" */
  int kind;
  const tsdir_pdef *pdef; /* K_TS */
} cfg_entry;

typedef struct run_cfg {
  cfg_entry e[MAX_KEYS];
  int n;
} run_cfg;

static cfg_entry *cfg_find(run_cfg *c, const char *key) {
  for (int i = 0; i < c->n; i++)
    if (!strcmp(c->e[i].key, key)) return &c->e[i];
  return NULL;
}
static const char *cfg_get(run_cfg *c, const char *key) {
  cfg_entry *e = cfg_find(c, key);
  return e ? e->value : "";
}
static int cfg_yes(run_cfg *c, const char *key) {
  const char *v = cfg_get(c, key);
  return !strcmp(v, "y") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "true");
}

static void cfg_add(run_cfg *c, const char *key, const char *value, const char *source, int kind,
                    const tsdir_pdef *d) {
  cfg_entry *e = &c->e[c->n++];
  snprintf(e->key, sizeof e->key, "%s", key);
  snprintf(e->value, sizeof e->value, "%s", value);
  snprintf(e->source, sizeof e->source, "%s", source);
  e->kind = kind;
  e->pdef = d;
}

static void cfg_defaults(run_cfg *c) {
  c->n = 0;
  for (int i = 0; i < N_PREP_KEYS; i++) cfg_add(c, PREP_KEYS[i].key, PREP_KEYS[i].def, "default", K_PREP, NULL);
  for (int id = 0; id < TSP__N; id++) {
    const tsdir_pdef *d = tsdir_param_def((tsdir_pid)id);
    const char *def = d->batch_def ? d->batch_def : (d->def ? d->def : "");
    if (d->kind == TSP_FLAG && !strcmp(def, "1")) def = "y";
    if (d->kind == TSP_FLAG && !strcmp(def, "0")) def = "n";
    cfg_add(c, d->batch, def, "default", K_TS, d);
  }
  for (int i = 0; i < N_IGNORED; i++) cfg_add(c, IGNORED_KEYS[i], "", "default", K_IGNORED, NULL);
}

/* Sets key = value from source; unknown keys are a usage error naming the key. */
static int cfg_set(cbas_ctx *ctx, run_cfg *c, const char *key, const char *value, const char *source) {
  cfg_entry *e = cfg_find(c, key);
  if (!e) return ctx_fail(ctx, CBAS_EUSAGE, "%s: unknown key '%s'", source, key);
  if (strlen(value) >= sizeof e->value) return ctx_fail(ctx, CBAS_EUSAGE, "%s: value of '%s' too long", source, key);
  snprintf(e->value, sizeof e->value, "%s", value);
  snprintf(e->source, sizeof e->source, "%s", source);
  return 0;
}

/* One line of a batch_LiCSBAS.sh-style settings block: KEY="VALUE" [# comment]. */
static int cfg_line(cbas_ctx *ctx, run_cfg *c, char *line, const char *where) {
  char *p = line;
  while (*p == ' ' || *p == '\t') p++;
  if (!*p || *p == '#' || *p == '\n' || *p == '\r') return 0;
  char *eq = strchr(p, '=');
  if (!eq) return ctx_fail(ctx, CBAS_EUSAGE, "%s: expected KEY=VALUE, got '%.60s'", where, p);
  char *k_end = eq;
  while (k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t')) k_end--;
  *k_end = 0;
  for (char *q = p; *q; q++)
    if (!(*q == '_' || (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
      return ctx_fail(ctx, CBAS_EUSAGE, "%s: malformed key '%.60s'", where, p);
  char *v = eq + 1, val[512];
  size_t n = 0;
  char quote = 0;
  if (*v == '"' || *v == '\'') quote = *v++;
  for (; *v && n + 1 < sizeof val; v++) {
    if (quote && *v == quote) { quote = 0; v++; break; }
    if (!quote && (*v == '#' || *v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')) break;
    val[n++] = *v;
  }
  val[n] = 0;
  if (quote) return ctx_fail(ctx, CBAS_EUSAGE, "%s: unterminated quote in the value of '%s'", where, p);
  while (*v == ' ' || *v == '\t') v++;
  if (*v && *v != '#' && *v != '\n' && *v != '\r')
    return ctx_fail(ctx, CBAS_EUSAGE, "%s: unexpected text after the value of '%s'", where, p);
  return cfg_set(ctx, c, p, val, where);
}

static int cfg_read_file(cbas_ctx *ctx, run_cfg *c, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return ctx_fail(ctx, CBAS_EUSAGE, "%s: cannot open the configuration file", path);
  char line[2048], where[1200];
  int ln = 0, r = 0;
  while (!r && fgets(line, sizeof line, f)) {
    ln++;
    snprintf(where, sizeof where, "%s:%d", path, ln);
    r = cfg_line(ctx, c, line, where);
  }
  fclose(f);
  return r;
}

/* ---------------------------------------------------------------- validation */

static int is_pix_range(const char *s) {
  unsigned a, b, c, d;
  char tail;
  return sscanf(s, "%u:%u/%u:%u%c", &a, &b, &c, &d, &tail) == 4;
}
static int is_geo_range(const char *s) {
  double a, b, c, d;
  char tail;
  return sscanf(s, "%lf/%lf/%lf/%lf%c", &a, &b, &c, &d, &tail) == 4 && a < b && c < d;
}
static int is_date(const char *s) {
  if (strlen(s) != 8) return 0;
  for (int i = 0; i < 8; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}
static int yn_ok(const char *s) { return !*s || !strcmp(s, "y") || !strcmp(s, "n"); }

/* Step names: 02..05 are prep, 11..16 the time-series steps, 17 the pictures. */
static int step_index(const char *s) {
  static const char *const names[] = {"01", "02", "03", "04", "05", "11", "12", "13", "14", "15", "16"};
  static const int idx[] = {0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6};
  for (int i = 0; i < 11; i++)
    if (!strcmp(s, names[i]) || (s[0] && !s[1] && s[0] == names[i][1] && names[i][0] == '0')) return idx[i];
  return -1;
}

static int cfg_validate(cbas_ctx *ctx, run_cfg *c, tsdir_pvals *pv) {
  for (int i = 0; i < c->n; i++) {
    cfg_entry *e = &c->e[i];
    char who[256];
    snprintf(who, sizeof who, "%s (%s)", e->key, e->source);
    const char *v = e->value;
    if (e->kind == K_TS) {
      if (*v && tsdir_param_set(ctx, pv, e->pdef->id, v, who)) return ctx->status;
      const char *k = e->key;
      if (*v && (strstr(k, "_ex_range") || strstr(k, "_range")) && !strstr(k, "geo") && !is_pix_range(v))
        return ctx_fail(ctx, CBAS_EUSAGE, "%s: malformed range '%s' (expected X1:X2/Y1:Y2)", who, v);
      if (*v && strstr(k, "_range_geo") && !is_geo_range(v))
        return ctx_fail(ctx, CBAS_EUSAGE, "%s: malformed range '%s' (expected LONW/LONE/LATS/LATN, W<E, S<N)", who, v);
      continue;
    }
    if (e->kind != K_PREP) continue;
    const char *k = e->key;
    if (!strncmp(k, "do0", 3) || !strcmp(k, "p03_fillhole")) {
      if (!yn_ok(v)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: expected y or n, got '%s'", who, v);
    } else if (!strcmp(k, "nlook")) {
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 1 || n > 1000) return ctx_fail(ctx, CBAS_EUSAGE, "%s: expected a positive integer, got '%s'", who, v);
    } else if (!strcmp(k, "p05_clip_range") || !strcmp(k, "p04_mask_range")) {
      if (*v && !is_pix_range(v)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: malformed range '%s' (expected X1:X2/Y1:Y2)", who, v);
    } else if (!strcmp(k, "p05_clip_range_geo")) {
      if (*v && !is_geo_range(v))
        return ctx_fail(ctx, CBAS_EUSAGE, "%s: malformed range '%s' (expected LONW/LONE/LATS/LATN, W<E, S<N)", who, v);
    } else if (!strcmp(k, "start_step") || !strcmp(k, "end_step")) {
      if (step_index(v) < 0) return ctx_fail(ctx, CBAS_EUSAGE, "%s: unknown step '%s' (02-05, 11-16)", who, v);
    } else if (!strcmp(k, "start_date") || !strcmp(k, "end_date")) {
      if (*v && !is_date(v)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: expected YYYYMMDD, got '%s'", who, v);
    } else if (!strcmp(k, "p02_freq") || !strcmp(k, "p04_mask_coh_thre") || !strcmp(k, "ref_lon") || !strcmp(k, "ref_lat")) {
      char *end;
      if (*v && (strtod(v, &end), *end)) return ctx_fail(ctx, CBAS_EUSAGE, "%s: expected a number, got '%s'", who, v);
    }
  }
  if (cfg_yes(c, "do05op_clip") && !*cfg_get(c, "p05_clip_range") && !*cfg_get(c, "p05_clip_range_geo"))
    return ctx_fail(ctx, CBAS_EUSAGE, "do05op_clip=y needs p05_clip_range or p05_clip_range_geo");
  if (*cfg_get(c, "p05_clip_range") && *cfg_get(c, "p05_clip_range_geo"))
    return ctx_fail(ctx, CBAS_EUSAGE, "give p05_clip_range or p05_clip_range_geo, not both");
  if (!*cfg_get(c, "ref_lon") != !*cfg_get(c, "ref_lat"))
    return ctx_fail(ctx, CBAS_EUSAGE, "--ref-lon and --ref-lat go together");
  if (step_index(cfg_get(c, "start_step")) > step_index(cfg_get(c, "end_step")))
    return ctx_fail(ctx, CBAS_EUSAGE, "start_step %s is after end_step %s", cfg_get(c, "start_step"), cfg_get(c, "end_step"));
  return 0;
}

/* The step (0 = prep .. 6 = step 16) whose outputs a setting changes; -1 for none. */
static int entry_step(const cfg_entry *e) {
  if (e->kind == K_TS) return e->pdef->step - 10;
  if (e->kind != K_PREP) return -1;
  if (!strcmp(e->key, "start_step") || !strcmp(e->key, "end_step")) return -1;
  if (!strcmp(e->key, "ref_lon") || !strcmp(e->key, "ref_lat")) return 6;
  return 0;
}
/* FNV-1a of the settings that change the outputs of steps 0..s, and of the GEOC path: a step
 * is skipped on a re-run only when its hash is unchanged. */
static uint64_t cfg_hash(run_cfg *c, const char *geoc_abs, int s) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < c->n; i++) {
    const cfg_entry *e = &c->e[i];
    int es = entry_step(e);
    if (es < 0 || es > s) continue;
    for (const char *p = e->key; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ '=') * 1099511628211ull;
    for (const char *p = e->value; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ '\n') * 1099511628211ull;
  }
  for (const char *p = geoc_abs; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return h;
}

/* ---------------------------------------------------------------- steps */

#define N_STEPS 8 /* prep, 11, 12, 13, 14, 15, 16, pictures */
static const char *const STEP_LABEL[N_STEPS] = {"02-05 prep", "11 check", "12 loop", "13 invert",
                                                "14 vstd", "15 mask-ts", "16 filter", "pictures"};

/* OUT/cbas_run.state: one line "done S HASH LABEL" per completed step. */
typedef struct run_state {
  uint64_t hash[N_STEPS];
  int done[N_STEPS];
} run_state;

static void state_read(const char *path, run_state *st) {
  memset(st, 0, sizeof *st);
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    unsigned long long h;
    int s;
    if (sscanf(line, "done %d %llx", &s, &h) == 2 && s >= 0 && s < N_STEPS) {
      st->done[s] = 1;
      st->hash[s] = h;
    }
  }
  fclose(f);
}
static int state_write(cbas_ctx *ctx, const char *path, const run_state *st) {
  char buf[1024];
  int n = 0;
  for (int s = 0; s < N_STEPS; s++)
    if (st->done[s])
      n += snprintf(buf + n, sizeof buf - (size_t)n, "done %d %016llx %s\n", s, (unsigned long long)st->hash[s], STEP_LABEL[s]);
  return afile_put(ctx, path, buf, (size_t)n);
}

typedef struct argvec { char *v[128]; int n; char store[16384]; size_t used; } argvec;
static void av_add(argvec *a, const char *s) {
  size_t l = strlen(s) + 1;
  if (a->n >= 127 || a->used + l > sizeof a->store) return;
  char *p = a->store + a->used;
  memcpy(p, s, l);
  a->used += l;
  a->v[a->n++] = p;
  a->v[a->n] = NULL;
}
static void av_add2(argvec *a, const char *opt, const char *val) { av_add(a, opt); av_add(a, val); }

typedef struct run_job {
  run_cfg *cfg;
  const char *out, *geoc, *mem, *threads;
  int quiet;
  cli_common common;
  char stack[1700], ts[1800];
  FILE *log;
} run_job;

static void common_opts(argvec *a, const run_job *j) {
  if (j->mem) av_add2(a, "--mem", j->mem);
  if (j->threads) av_add2(a, "--threads", j->threads);
  if (j->quiet) av_add(a, "--quiet");
}

/* Steps 02-05 through the prep library call (not its command), so a failure's message can end
 * the run's output as one line naming the problem. Returns the exit status (2 = bad settings
 * or unusable input, 1 = other failure); msg receives the message. */
static int run_prep(run_job *j, char *msg, size_t cap) {
  run_cfg *c = j->cfg;
  prep_params p;
  prep_params_default(&p);
  p.geoc_dir = j->geoc;
  p.out_dir = j->stack;
  p.nlook = atoi(cfg_get(c, "nlook"));
  if (*cfg_get(c, "p02_freq")) p.freq_hz = strtod(cfg_get(c, "p02_freq"), NULL);
  if (cfg_yes(c, "do03op_GACOS")) {
    p.gacos_dir = cfg_get(c, "p03_gacosdir");
    p.fillhole = cfg_yes(c, "p03_fillhole");
  }
  if (cfg_yes(c, "do04op_mask")) {
    if (*cfg_get(c, "p04_mask_coh_thre")) p.mask_coh = strtod(cfg_get(c, "p04_mask_coh_thre"), NULL);
    if (*cfg_get(c, "p04_mask_range")) p.mask[p.n_mask++] = cfg_get(c, "p04_mask_range");
    if (*cfg_get(c, "p04_mask_range_file")) p.mask_file = cfg_get(c, "p04_mask_range_file");
  }
  if (cfg_yes(c, "do05op_clip")) {
    if (*cfg_get(c, "p05_clip_range")) p.clip = cfg_get(c, "p05_clip_range");
    else p.clip_geo = cfg_get(c, "p05_clip_range_geo");
  }
  if (*cfg_get(c, "start_date")) p.start = cfg_get(c, "start_date");
  if (*cfg_get(c, "end_date")) p.end = cfg_get(c, "end_date");
  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &j->common)) {
    snprintf(msg, cap, "%s", ctx.msg);
    ctx_free(&ctx);
    return 1;
  }
  prep_report rep;
  int st = prep_run(&ctx, &p, &rep);
  if (!st)
    ctx_info(&ctx, "cbas prep: %s: %u interferograms, %ux%u pixels; peak memory %.1f MB of %.1f MB\n", p.out_dir,
             rep.n_used, rep.clip.x1 - rep.clip.x0, rep.clip.y1 - rep.clip.y0, (double)ctx.budget->peak / 1048576.0,
             (double)ctx.budget->limit / 1048576.0);
  snprintf(msg, cap, "%s", ctx.msg);
  ctx_free(&ctx);
  return st == CBAS_OK ? 0 : st == CBAS_EUSAGE ? 2 : 1;
}

static int run_ts_step(run_job *j, int step, int (*fn)(int, char **), const char *name) {
  run_cfg *c = j->cfg;
  argvec a = {0};
  av_add(&a, name);
  av_add(&a, j->stack);
  av_add2(&a, "--ts", j->ts);
  for (int i = 0; i < c->n; i++) {
    const cfg_entry *e = &c->e[i];
    if (e->kind != K_TS || e->pdef->step != step || !*e->value) continue;
    /* A default is left to the step (as batch_LiCSBAS.sh leaves an empty key out), unless the
     * batch script's default differs from the step's (p12_multi_prime="y"): then it is passed,
     * as the batch script passes it. Reports then print the threshold as LiCSBAS does. */
    if (!strcmp(e->source, "default") && !e->pdef->batch_def) continue;
    char opt[64];
    snprintf(opt, sizeof opt, "--%s", e->key);
    av_add2(&a, opt, e->value);
  }
  if (step == 16 && *cfg_get(c, "ref_lon") && !*cfg_get(c, "p16_range_geo") && !*cfg_get(c, "p16_range")) {
    char r[2100];
    snprintf(r, sizeof r, "%s/%s/%s/%s", cfg_get(c, "ref_lon"), cfg_get(c, "ref_lon"), cfg_get(c, "ref_lat"),
             cfg_get(c, "ref_lat"));
    av_add2(&a, "--range-geo", r);
  }
  common_opts(&a, j);
  return fn(a.n, a.v);
}

/* The quicklooks LiCSBAS's steps draw beside their rasters, with LiCSBAS's colour maps:
 * results/ (steps 11-16), info/1[36]rms_cum_wrt_med (13, 16: nanpercentile 1..99) and
 * 12loop/loop_ph_rms_masked (12: min..95th percentile). A missing raster is skipped. The
 * step-15 figures (mask_ts*.png) are drawn by cbas mask-ts itself. */
static int run_pictures(run_job *j) {
  static const struct { const char *dir, *name, *cmap, *units, *title, *pct; } P[] = {
      {"results", "vel", "vel", "mm/yr", "LOS velocity (step 13)", NULL},
      {"results", "vintercept", "vel", "mm", "intercept of velocity (step 13)", NULL},
      {"results", "vel.mskd", "vel", "mm/yr", "LOS velocity, masked (step 15)", NULL},
      {"results", "vel.filt", "vel", "mm/yr", "LOS velocity, filtered (step 16)", NULL},
      {"results", "vel.filt.mskd", "vel", "mm/yr", "LOS velocity, filtered and masked (step 16)", NULL},
      {"results", "vintercept.filt", "vel", "mm", "intercept of filtered velocity (step 16)", NULL},
      {"results", "vintercept.filt.mskd", "vel", "mm", "intercept of filtered velocity, masked (step 16)", NULL},
      {"results", "vstd", "seq_r", "mm/yr", "velocity std (step 14)", NULL},
      {"results", "coh_avg", "seq", "", "average coherence", NULL},
      {"results", "n_unw", "seq", "", "number of unwrapped ifgs", NULL},
      {"results", "maxTlen", "seq", "yr", "longest connected period", NULL},
      {"results", "n_gap", "seq_r", "", "number of network gaps", NULL},
      {"results", "stc", "seq_r", "mm", "spatio-temporal consistency", NULL},
      {"results", "n_ifg_noloop", "seq_r", "", "ifgs in no loop", NULL},
      {"results", "n_loop_err", "seq_r", "", "loop closure errors", NULL},
      {"results", "resid_rms", "seq_r", "mm", "residual RMS", NULL},
      {"results", "mask", "seq", "", "mask (1 = kept)", NULL}, /* LiCSBAS15: viridis, 0..1 */
      {"results", "hgt", "terrain", "m", "DEM height", NULL},
      {"info", "13rms_cum_wrt_med", "seq_r", "mm", "RMS of cum wrt median (step 13)", "1:99"},
      {"info", "16rms_cum_wrt_med", "seq_r", "mm", "RMS of cum wrt median (step 16)", "1:99"},
      {"12loop", "loop_ph_rms_masked", "seq_r", "rad", "RMS of loop phase (step 12)", "0:95"},
  };
  for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
    char tif[1900], png[1900];
    snprintf(tif, sizeof tif, "%s/%s/%s.tif", j->ts, P[i].dir, P[i].name);
    snprintf(png, sizeof png, "%s/%s/%s.png", j->ts, P[i].dir, P[i].name);
    plat_stat st;
    plat_stat_path(tif, &st);
    if (!st.exists) continue;
    argvec a = {0};
    av_add(&a, "png");
    av_add(&a, tif);
    av_add2(&a, "--out", png);
    av_add2(&a, "--cmap", P[i].cmap);
    av_add2(&a, "--title", P[i].title);
    if (*P[i].units) av_add2(&a, "--units", P[i].units);
    if (P[i].pct) av_add2(&a, "--range-pct", P[i].pct);
    common_opts(&a, j);
    int r = cmd_png(a.n, a.v);
    if (r) return r;
  }
  return 0;
}

static int log_printf(FILE *f, const char *fmt, ...) {
  if (!f) return 0;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fflush(f);
  return 0;
}

/* OUT/cbas_run.lock holds the pid of the run working in OUT: two runs writing the same
 * folder would remove each other's temporary files. A lock whose process is gone (a killed
 * run) is taken over. Returns 0, or a status with the message set. */
static int lock_take(cbas_ctx *ctx, const char *path) {
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd, e = plat_open(path, PLAT_WRONLY | PLAT_CREATE | PLAT_EXCL, &fd);
    if (!e) {
      char b[32];
      int n = snprintf(b, sizeof b, "%d\n", plat_pid());
      plat_pwrite(fd, b, (size_t)n, 0);
      plat_close(fd);
      return 0;
    }
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f) {
      if (fscanf(f, "%d", &pid) != 1) pid = 0;
      fclose(f);
    }
    if (pid > 0 && pid != plat_pid() && plat_pid_alive(pid))
      return ctx_fail(ctx, CBAS_EUSAGE, "another cbas run (pid %d) is working in this folder (%s)", pid, path);
    plat_unlink(path); /* stale: its run was killed */
  }
  return ctx_fail(ctx, CBAS_EIO, "%s: cannot create the lock file", path);
}

/* Cheap checks before any work: GEOC exists and has at least one interferogram folder. */
typedef struct { const char *geoc; int n; } geoc_scan;
static int scan_cb(void *ud, const char *name) {
  geoc_scan *g = ud;
  if (strlen(name) != 17 || name[8] != '_' || name[0] != '2' || name[9] != '2') return 0;
  char p[2200];
  snprintf(p, sizeof p, "%s/%s/%s.geo.unw.tif", g->geoc, name, name);
  plat_stat st;
  plat_stat_path(p, &st);
  if (st.exists) g->n++;
  return 0;
}

static const char RUN_USAGE[] =
    "[-c batch.conf] [--geoc GEOC] [--clip-geo LONW/LONE/LATS/LATN | --clip X1:X2/Y1:Y2] [--out DIR]\n"
    "       [--start-step 02] [--end-step 16] [--ref-lon X --ref-lat Y] [--redo] [--print-config] [KEY=VALUE ...]";
static const char RUN_SUMMARY[] =
    "Runs the LiCSBAS workflow: prep (steps 02-05: multilook, GACOS, mask, clip) into\n"
    "OUT/GEOCml<n>[GACOS][mask][clip], then steps 11-16 into OUT/TS_GEOCml..., then PNG quicklooks\n"
    "of the results. Settings use batch_LiCSBAS.sh's names (nlook, do05op_clip, p05_clip_range_geo,\n"
    "p11_unw_thre, p13_gamma, p16_deg_deramp, ...), from -c FILE (a pasted settings block) or as\n"
    "KEY=VALUE arguments; unknown keys are an error. A killed run continues from the last completed\n"
    "step when re-run with the same settings (OUT/cbas_run.state); OUT/cbas_run.log has the\n"
    "parameters, per-step times and peak memory.";

int cmd_run(int argc, char **argv) {
  const char *conf = NULL, *geoc = NULL, *clip_geo = NULL, *clip = NULL, *out = NULL, *start = NULL, *end = NULL;
  const char *ref_lon = NULL, *ref_lat = NULL, *mem_s = NULL, *thr_s = NULL;
  int print_config = 0, quiet = 0, redo = 0;
  cbas_ctx ctx;
  ctx_init(&ctx, 16u << 20, 1);
  /* Split KEY=VALUE arguments from options; options through cli_parse. */
  char *opts_v[256];
  int opts_n = 0;
  const char *kv[128];
  int kv_n = 0;
  for (int i = 0; i < argc && opts_n < 255; i++) {
    /* KEY=VALUE: contains '=', is not an option, and is not the value of a preceding option. */
    int prev_takes_value = i > 0 && argv[i - 1][0] == '-' && !strchr(argv[i - 1], '=') &&
                           strcmp(argv[i - 1], "--print-config") && strcmp(argv[i - 1], "--quiet") &&
                           strcmp(argv[i - 1], "--redo");
    if (i > 0 && argv[i][0] != '-' && strchr(argv[i], '=') && !prev_takes_value) {
      if (kv_n < 128) kv[kv_n++] = argv[i];
      continue;
    }
    opts_v[opts_n++] = argv[i];
  }
  /* Remember --mem/--threads/--quiet verbatim so steps get the same. */
  for (int i = 1; i < opts_n; i++) {
    if (!strcmp(opts_v[i], "--mem") && i + 1 < opts_n) mem_s = opts_v[i + 1];
    else if (!strncmp(opts_v[i], "--mem=", 6)) mem_s = opts_v[i] + 6;
    else if (!strcmp(opts_v[i], "--threads") && i + 1 < opts_n) thr_s = opts_v[i + 1];
    else if (!strncmp(opts_v[i], "--threads=", 10)) thr_s = opts_v[i] + 10;
  }
  cli_opt o[] = {
      {"c", CLI_STR, &conf, "FILE", "settings file in batch_LiCSBAS.sh syntax (KEY=\"VALUE\" lines)"},
      {"config", CLI_STR, &conf, "FILE", "same as -c"},
      {"geoc", CLI_STR, &geoc, "GEOC", "LiCSAR GEOC folder (default p02_GEOCdir, GEOC)"},
      {"clip-geo", CLI_STR, &clip_geo, "W/E/S/N", "clip area in degrees (sets do05op_clip=y)"},
      {"clip", CLI_STR, &clip, "X1:X2/Y1:Y2", "clip pixel range (sets do05op_clip=y)"},
      {"out", CLI_STR, &out, "DIR", "output folder (default: the current folder)"},
      {"start-step", CLI_STR, &start, "NN", "first step: 02 (prep) or 11-16"},
      {"end-step", CLI_STR, &end, "NN", "last step: 02 (prep) or 11-16"},
      {"ref-lon", CLI_STR, &ref_lon, "LON", "reference point of the filtered result (with --ref-lat)"},
      {"ref-lat", CLI_STR, &ref_lat, "LAT", "reference point latitude"},
      {"print-config", CLI_FLAG, &print_config, NULL, "print every effective setting and its source, then stop"},
      {"redo", CLI_FLAG, &redo, NULL, "run the steps from --start-step again even if completed"},
  };
  /* "-c FILE" is accepted as a synonym of --c. */
  for (int i = 1; i < opts_n; i++)
    if (!strcmp(opts_v[i], "-c")) opts_v[i] = "--c";
  cli_common com;
  char err[512];
  int r = cli_parse("run", RUN_USAGE, RUN_SUMMARY, o, (int)(sizeof o / sizeof o[0]), opts_n, opts_v, &com, err, sizeof err);
  if (r == 1) { ctx_free(&ctx); return 0; }
  if (r) { fprintf(stderr, "cbas run: %s\n", err); ctx_free(&ctx); return 2; }
  quiet = com.quiet;
  static run_cfg cfg;
  cfg_defaults(&cfg);
  if (conf && cfg_read_file(&ctx, &cfg, conf)) return cli_finish(&ctx, "run");
  for (int i = 0; i < kv_n; i++) {
    char line[1100];
    snprintf(line, sizeof line, "%s", kv[i]);
    if (cfg_line(&ctx, &cfg, line, "command line")) return cli_finish(&ctx, "run");
  }
  if ((geoc && cfg_set(&ctx, &cfg, "p02_GEOCdir", geoc, "--geoc")) ||
      (clip_geo && (cfg_set(&ctx, &cfg, "p05_clip_range_geo", clip_geo, "--clip-geo") ||
                    cfg_set(&ctx, &cfg, "do05op_clip", "y", "--clip-geo"))) ||
      (clip && (cfg_set(&ctx, &cfg, "p05_clip_range", clip, "--clip") || cfg_set(&ctx, &cfg, "do05op_clip", "y", "--clip"))) ||
      (start && cfg_set(&ctx, &cfg, "start_step", start, "--start-step")) ||
      (end && cfg_set(&ctx, &cfg, "end_step", end, "--end-step")) ||
      (ref_lon && cfg_set(&ctx, &cfg, "ref_lon", ref_lon, "--ref-lon")) ||
      (ref_lat && cfg_set(&ctx, &cfg, "ref_lat", ref_lat, "--ref-lat")))
    return cli_finish(&ctx, "run");
  static tsdir_pvals pv;
  tsdir_params_default(&pv);
  if (cfg_validate(&ctx, &cfg, &pv)) return cli_finish(&ctx, "run");

  if (print_config) {
    printf("# cbas run: effective settings (KEY=\"VALUE\"  # source)\n");
    for (int i = 0; i < cfg.n; i++) {
      const cfg_entry *e = &cfg.e[i];
      printf("%s=\"%s\"  # %s%s\n", e->key, e->value, e->source, e->kind == K_IGNORED ? ", ignored by cbas" : "");
    }
    ctx_free(&ctx);
    return 0;
  }

  /* Paths. */
  run_job j;
  memset(&j, 0, sizeof j);
  j.cfg = &cfg;
  j.out = out ? out : ".";
  j.geoc = cfg_get(&cfg, "p02_GEOCdir");
  j.mem = mem_s;
  j.threads = thr_s;
  j.quiet = quiet;
  j.common = com;
  plat_stat st;
  plat_stat_path(j.geoc, &st);
  int first = step_index(cfg_get(&cfg, "start_step")), last = step_index(cfg_get(&cfg, "end_step"));
  if (last == 6) last = 7; /* the pictures follow step 16 */
  if (first < 0) first = 0; /* (validated above; keeps the indices provably in range) */
  if (last > N_STEPS - 1) last = N_STEPS - 1;
  if (first == 0) {
    if (!st.is_dir) {
      ctx_fail(&ctx, CBAS_EUSAGE, "%s: GEOC folder not found (give --geoc or p02_GEOCdir)", j.geoc);
      return cli_finish(&ctx, "run");
    }
    geoc_scan g = {j.geoc, 0};
    plat_listdir(j.geoc, scan_cb, &g);
    if (g.n == 0) {
      ctx_fail(&ctx, CBAS_EUSAGE, "%s: no interferogram folders (YYYYMMDD_YYYYMMDD/*.geo.unw.tif)", j.geoc);
      return cli_finish(&ctx, "run");
    }
  }
  char name[600];
  snprintf(name, sizeof name, "GEOCml%s%s%s%s", cfg_get(&cfg, "nlook"), cfg_yes(&cfg, "do03op_GACOS") ? "GACOS" : "",
           cfg_yes(&cfg, "do04op_mask") ? "mask" : "", cfg_yes(&cfg, "do05op_clip") ? "clip" : "");
  if (plat_mkdir_p(j.out)) {
    ctx_fail(&ctx, CBAS_EIO, "%s: cannot create the output folder", j.out);
    return cli_finish(&ctx, "run");
  }
  snprintf(j.stack, sizeof j.stack, "%s/%s", j.out, name);
  snprintf(j.ts, sizeof j.ts, "%s/TS_%s", j.out, name);
  char state_path[1300], log_path[1300];
  snprintf(state_path, sizeof state_path, "%s/cbas_run.state", j.out);
  snprintf(log_path, sizeof log_path, "%s/cbas_run.log", j.out);
  char geoc_abs[1200] = "";
  plat_getcwd(geoc_abs, sizeof geoc_abs);
  if (j.geoc[0] == '/') snprintf(geoc_abs, sizeof geoc_abs, "%s", j.geoc);
  else { size_t l = strlen(geoc_abs); snprintf(geoc_abs + l, sizeof geoc_abs - l, "/%s", j.geoc); }

  char lock_path[1300];
  snprintf(lock_path, sizeof lock_path, "%s/cbas_run.lock", j.out);
  if (lock_take(&ctx, lock_path)) return cli_finish(&ctx, "run");
  run_state state;
  state_read(state_path, &state);
  uint64_t want[N_STEPS];
  for (int k = 0; k < N_STEPS; k++) want[k] = cfg_hash(&cfg, geoc_abs, k < 6 ? k : 6);
  /* A completed step is kept only if its settings (and those of every step before it) are
   * unchanged and every step before it is kept too; --redo runs [first, last] again. */
  for (int k = 0, ok = 1; k < N_STEPS; k++) {
    ok = ok && state.done[k] && state.hash[k] == want[k] && !(redo && k >= first);
    state.done[k] = ok;
  }

  j.log = fopen(log_path, "a");
  time_t now = time(NULL);
  char tbuf[64];
  strftime(tbuf, sizeof tbuf, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
  log_printf(j.log, "==== cbas %s run started %s\nout: %s\ngeoc: %s\nmem: %s threads: %s\n", CBAS_VERSION, tbuf, j.out,
             geoc_abs, mem_s ? mem_s : "256M (default)", thr_s ? thr_s : "all cores");
  for (int i = 0; i < cfg.n; i++)
    if (cfg.e[i].kind != K_IGNORED || strcmp(cfg.e[i].source, "default"))
      log_printf(j.log, "  %s=\"%s\"  # %s\n", cfg.e[i].key, cfg.e[i].value, cfg.e[i].source);

  double t_all = plat_now();
  int rc = 0;
  char prep_msg[1024] = "";
  for (int s = first; s <= last && !rc; s++) {
    if (state.done[s]) {
      if (!quiet) fprintf(stderr, "cbas run: step %s already done, skipped\n", STEP_LABEL[s]);
      log_printf(j.log, "step %-12s skipped (completed earlier)\n", STEP_LABEL[s]);
      continue;
    }
    for (int k = s; k < N_STEPS; k++) state.done[k] = 0;
    state.hash[s] = want[s];
    if (state_write(&ctx, state_path, &state)) { rc = 1; break; }
    if (!quiet) fprintf(stderr, "cbas run: step %s\n", STEP_LABEL[s]);
    double t0 = plat_now();
    switch (s) {
    case 0: rc = run_prep(&j, prep_msg, sizeof prep_msg); break;
    case 1: rc = run_ts_step(&j, 11, cmd_check, "check"); break;
    case 2: rc = run_ts_step(&j, 12, cmd_loop, "loop"); break;
    case 3: rc = run_ts_step(&j, 13, cmd_invert, "invert"); break;
    case 4: rc = run_ts_step(&j, 14, cmd_vstd, "vstd"); break;
    case 5: rc = run_ts_step(&j, 15, cmd_mask_ts, "mask-ts"); break;
    case 6: rc = run_ts_step(&j, 16, cmd_filter, "filter"); break;
    case 7: rc = run_pictures(&j); break;
    }
    double dt = plat_now() - t0;
    log_printf(j.log, "step %-12s %s in %.2f s, peak RSS so far %.1f MB\n", STEP_LABEL[s], rc ? "FAILED" : "done", dt,
               (double)plat_peak_rss() / 1048576.0);
    if (rc) {
      if (s == 0)
        fprintf(stderr, "cbas run: %s\n", prep_msg);
      else
        fprintf(stderr, "cbas run: step %s failed (exit status %d); fix the problem and run the same command again\n",
                STEP_LABEL[s], rc);
      break;
    }
    state.done[s] = 1;
    if (state_write(&ctx, state_path, &state)) rc = 1;
  }
  log_printf(j.log, "run %s in %.2f s, peak RSS %.1f MB\n", rc ? "FAILED" : "finished", plat_now() - t_all,
             (double)plat_peak_rss() / 1048576.0);
  if (j.log) fclose(j.log);
  plat_unlink(lock_path);
  if (!rc && !quiet && last >= 6) {
    fprintf(stderr, "cbas run: done in %.1f s, peak RSS %.1f MB\n", plat_now() - t_all, (double)plat_peak_rss() / 1048576.0);
    printf("velocity map:   %s/results/vel.filt.tif (and vel.tif, vel.mskd.tif)\n", j.ts);
    printf("time series:    %s/results/cum_filt.tif (cum.tif), one band per epoch, mm\n", j.ts);
    printf("pictures:       %s/results/*.png, %s/network/*.png\n", j.ts, j.ts);
    printf("log:            %s\n", log_path);
  }
  if (ctx.status) return cli_finish(&ctx, "run");
  ctx_free(&ctx);
  return rc;
}
