/* tsdir.h — the time-series directory (TSDIR) that cbas steps 11–16 share, laid out as
 * LiCSBAS's TS_GEOCml* directory so its users find their way (digest §16), plus the plumbing
 * every step needs: paths, result GeoTIFFs, interferogram lists, parameters, block sizing.
 *
 * ---------------------------------------------------------------- layout and contract
 * TSDIR/                       default: "TS_<basename of the stack>" beside the stack
 *   info/      text reports with LiCSBAS's names and formats
 *   results/   GeoTIFFs named as LiCSBAS's flat files plus ".tif": float32, NaN = no data,
 *              the stack's geotransform, EPSG:4326 (tsdir_result_create)
 *   network/   network figures: network11*.png, network12*.png (tsdir_network_pngs), 13 ...
 *   12loop/    step 12's loop reports (LiCSBAS's 12loop/)
 *   work/      internal raw intermediate arrays of a step; not an interface, may be deleted
 * info/stack_path.txt records the stack the TSDIR belongs to (absolute path, one line); a step
 * given only --ts opens that stack, a step given both refuses a mismatch.
 *
 * What each step writes, and how the next one reads it:
 *   11 `cbas check`  (creates TSDIR)
 *      info/11bad_ifg.txt        ifgs failing coverage/coherence (tsdir_ifglist_read)
 *      info/11ifg_stats.txt      per-ifg bperp, dt, coverage, mean coherence (LiCSBAS format)
 *      info/11removed_image.txt  epochs left in no good ifg
 *      info/EQA.dem_par, info/slc.mli.par   as LiCSBAS step 02 writes them (from stack.par)
 *      results/hgt.tif           when the stack has a height layer
 *      network/network11_all.png, network11.png, network11_nobad.png
 *   12 `cbas loop`   (needs 11bad_ifg.txt)
 *      info/12bad_ifg.txt        bad ifgs from loop closure (and --rm-ifg-list); step 13 uses
 *                                stack ifgs minus 11bad minus 12bad (tsdir_used_ifgs)
 *      info/12ref.txt            "x1:x2/y1:y2", the preliminary reference pixel, read with
 *                                tsdir_read_ref; steps 13/15 reference to it
 *      info/12bad_ifg_cand.txt, 12removed_image.txt, 12network_gap_info.txt,
 *      info/12no_loop_ifg.txt    (only when some ifg is in no loop)
 *      12loop/loop_info.txt, bad_ifg_loop.txt, bad_ifg_noref.txt, bad_ifg_loopref.txt,
 *      12loop/rm_ifg_man.txt (with --rm-ifg-list), 12loop/loop_ph_rms_masked.tif
 *      results/n_unw.tif, coh_avg.tif, n_loop_err.tif   (over the 12-good ifgs, LiCSBAS 12)
 *      network/network12_all.png, network12.png, network12_nobad.png
 *      results/n_ifg_noloop.tif  per pixel, valid good ifgs in no complete loop, for every
 *                                pixel (LiCSBAS computes it in step 13 and leaves NaN where the
 *                                pixel is not inverted: step 13 rewrites it with that mask)
 *   13 `cbas invert` reads the stack, 11bad+12bad (tsdir_used_ifgs) and 12ref; writes
 *      results/cum.tif (one band per epoch, mm, band description = YYYYMMDD), vel.tif,
 *      vintercept.tif, resid_rms.tif, n_gap.tif, n_ifg_noloop.tif, maxTlen.tif,
 *      info/13parameters.txt, 13used_image.txt, 13resid.txt, 13ref.txt ...
 *   14 `cbas vstd` reads results/cum.tif; writes results/vstd.tif, stc.tif
 *   15 `cbas mask-ts` reads the results/ GeoTIFFs, info/13parameters.txt; writes results/mask.tif,
 *      vel.mskd.tif, info/15parameters.txt
 *   16 `cbas filter` reads results/cum.tif, mask.tif; writes results/cum_filt.tif,
 *      vel.filt.tif, vintercept.filt.tif, info/16parameters.txt, 16ref.txt
 * Raster results are read back window by window with tsdir_result_open + gt_read (rows in
 * any order); they are written row block by row block in order (tsdir_result_create +
 * gt_write_rows + gt_commit), so a killed step leaves the previous file or none, never half.
 *
 * ---------------------------------------------------------------- parameters
 * Every step's options live in one table (tsdir.c, tsdir_param_def): cbas name ("unw-thre"),
 * the batch-script name ("p11_unw_thre", accepted too: --p11_unw_thre 0.3), the LiCSBAS option
 * ("-u") and LiCSBAS's default. Values are kept per run in a tsdir_pvals (all steps), so
 * `cbas run` can fill one from a batch_LiCSBAS.sh-style file (tsdir_param_find by the p1x_
 * name, then tsdir_param_set) and hand it to each step.
 *
 * Memory: tsdir and the lists are small mallocs (O(n_ifg)); rasters go through gtiff.h and
 * the caller's budget. Thread-safety: nothing here keeps state between calls; a tsdir is
 * read-only after open.
 */
#ifndef CBAS_TSDIR_H
#define CBAS_TSDIR_H
#include "cbas/cli.h"
#include "cbas/ctx.h"
#include "cbas/gtiff.h"
#include "cbas/stack.h"
#include <stddef.h>
#include <stdint.h>

#define TSDIR_INFO "info"
#define TSDIR_RESULTS "results"
#define TSDIR_NETWORK "network"
#define TSDIR_LOOP "12loop"
#define TSDIR_WORK "work"

typedef struct tsdir {
  char path[1024];        /* the TSDIR as given */
  char stack_path[1024];  /* the stack it belongs to, absolute */
} tsdir;

/* "TS_<basename>" in the stack's parent directory (trailing slashes ignored). */
int tsdir_default_path(cbas_ctx *ctx, const char *stack_dir, char *out, size_t cap);
/* Creates TSDIR and its subdirectories if missing (an existing TSDIR is reused, as LiCSBAS 11
 * does) and records stack_dir in info/stack_path.txt. */
int tsdir_create(cbas_ctx *ctx, tsdir *t, const char *path, const char *stack_dir);
/* Opens an existing TSDIR. stack_dir NULL: the recorded stack (or, when that path is gone,
 * the sibling named by the TSDIR's "TS_" name); non-NULL: must be the recorded one. */
int tsdir_open(cbas_ctx *ctx, tsdir *t, const char *path, const char *stack_dir);
/* out = TSDIR/sub/name (sub NULL or "": TSDIR/name). Fails (CBAS_EUSAGE) if too long. */
int tsdir_file(cbas_ctx *ctx, const tsdir *t, const char *sub, const char *name, char *out, size_t cap);
/* Fails with "TSDIR/sub/name is missing: run cbas PRODUCER first" unless the file exists. */
int tsdir_require(cbas_ctx *ctx, const tsdir *t, const char *sub, const char *name, const char *producer);

/* ---------------------------------------------------------------- result rasters */

/* Starts TSDIR/sub/<name>.tif (sub NULL = results/): float32, `bands` bands (band_desc NULL
 * or one string per band, e.g. epoch dates), NaN nodata, the stack's grid, EPSG:4326.
 * Rows go in order with gt_write_rows(ctx, w, ny, rows, width, band_stride) (band b of row r
 * at rows[b*band_stride + r*width + x]) and the file appears at gt_commit (gt_abort on error). Memory: one strip of the writer (gtiff.h) from the budget. */
int tsdir_result_create(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *sub,
                        const char *name, uint32_t bands, const char *const *band_desc,
                        gt_writer **out);
/* Opens TSDIR/sub/<name>.tif for windowed reading (gt_read) and checks that its size is the
 * stack's; a missing file fails naming it and `producer` ("run cbas PRODUCER first"). */
int tsdir_result_open(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *sub,
                      const char *name, const char *producer, gt_reader **out);
/* Writes a whole small float32 image in one call (tests, tiny rasters). */
int tsdir_result_put(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *sub,
                     const char *name, const float *img);

/* ---------------------------------------------------------------- stack input */

/* stack_read_unw, then every exact 0.0 becomes NaN: LiCSBAS treats a zero unwrapped phase as
 * no data on every read (digest §0.1, §17.1); prep already writes NaN, this keeps parity for
 * stacks from elsewhere. */
int tsdir_read_unw(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny, float *dst);
/* stack_read_cc. Both read and convert their rows on ctx's threads (a row each; a block of
 * a city's stack is tens of MB that the steps otherwise copy on one thread between their
 * parallel passes). */
int tsdir_read_cc(cbas_ctx *ctx, const stack *s, uint32_t y0, uint32_t ny, uint8_t *dst);

/* ---------------------------------------------------------------- work arrays */

/* Raw row-major arrays under TSDIR/work/: written whole rows in order through an afile-like
 * stream (tsdir_work_create/afile_write/afile_commit from afile.h), read back by row range. */
struct afile;
int tsdir_work_create(cbas_ctx *ctx, const tsdir *t, const char *name, struct afile *f);
/* Reads rows [y0, y0+ny) of row_bytes each from TSDIR/work/<name>. */
int tsdir_work_read(cbas_ctx *ctx, const tsdir *t, const char *name, size_t row_bytes,
                    uint32_t y0, uint32_t ny, void *dst);

/* ---------------------------------------------------------------- interferogram lists */

/* A list of interferogram names (LiCSBAS list files: 11bad_ifg.txt, --rm_ifg_list ...). */
typedef struct tsdir_ifglist {
  uint32_t n, cap;
  char (*name)[18];   /* "YYYYMMDD_YYYYMMDD" */
} tsdir_ifglist;

/* Reads a list file as LiCSBAS's read_ifg_list: the first whitespace token of each line; a
 * line whose first token is exactly "#" is skipped; blank lines are skipped (LiCSBAS crashes
 * on them). A token that is not an interferogram name is a CBAS_EFORMAT error naming the
 * file and line. The list keeps file order and duplicates. */
int tsdir_ifglist_read(cbas_ctx *ctx, const char *path, tsdir_ifglist *l);
int tsdir_ifglist_add(cbas_ctx *ctx, tsdir_ifglist *l, const char *name);
/* Sorts (strcmp, as Python sorts str) and removes duplicates. */
void tsdir_ifglist_sort_unique(tsdir_ifglist *l);
/* 1 if name is in the list (linear scan; lists are short). */
int tsdir_ifglist_has(const tsdir_ifglist *l, const char *name);
/* Writes one name per line (an empty list gives an empty file). */
int tsdir_ifglist_write(cbas_ctx *ctx, const char *path, const tsdir_ifglist *l);
void tsdir_ifglist_free(tsdir_ifglist *l);

/* For each stack ifg k: sets bit `bit` of flags[k] if TSDIR/info/<list_name> names it (names
 * not in the stack are ignored). Missing file: error naming it and `producer`. */
int tsdir_mark_listed(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *list_name,
                      const char *producer, uint8_t *flags, uint8_t bit);
/* used[k] = 1 for the ifgs steps 13–16 use: the stack minus info/11bad_ifg.txt minus
 * info/12bad_ifg.txt (LiCSBAS 13 §7.1). Returns the count in *n_used. */
int tsdir_used_ifgs(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, uint8_t *used, uint32_t *n_used);
/* Reads a reference window "x1:x2/y1:y2" (12ref.txt, 13ref.txt ...) from TSDIR/info/<name>
 * and checks it against the stack size. */
int tsdir_read_ref(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, const char *name,
                   uint32_t *x1, uint32_t *x2, uint32_t *y1, uint32_t *y2);
/* Writes the LiCSBAS step 02 parameter files info/EQA.dem_par and info/slc.mli.par from the
 * stack's metadata (Python float repr, same lines). */
int tsdir_write_licsbas_pars(cbas_ctx *ctx, const tsdir *t, const stack_meta *m);

/* ---------------------------------------------------------------- network figures */

/* LiCSBAS's three network figures of a step (plot_network): network/network<step>_all.png
 * (every ifg of the list as good), network<step>.png (bad ones dashed red) and
 * network<step>_nobad.png (bad ones left out). The list is the stack ifgs with member[k] set
 * (NULL = all), its epochs are the dates those ifgs use, bad[k] marks the bad ones; bperp
 * from the stack (NaN drawn at 0). Memory: plot_network's canvas (<= 4.4 MB) from the budget. */
int tsdir_network_pngs(cbas_ctx *ctx, const tsdir *t, const stack_meta *m, int step, const uint8_t *member,
                       const uint8_t *bad);

/* ---------------------------------------------------------------- text output */

/* A growing text buffer (malloc) for reports; printf-style appends; tsdir_text_put writes it
 * atomically (afile_put) and frees it. Allocation failures are remembered and reported by
 * tsdir_text_put. */
typedef struct tsdir_text { char *buf; size_t len, cap; int oom; } tsdir_text;
void tsdir_text_printf(tsdir_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int tsdir_text_put(cbas_ctx *ctx, tsdir_text *t, const char *path);
void tsdir_text_free(tsdir_text *t);
/* Python's '{:W.Pf}'.format(v): like "%W.Pf" but NaN/inf print as "nan", "inf", "-inf"
 * (right-aligned in W), never "-nan". Returns buf. */
const char *tsdir_fmt_f(char *buf, size_t cap, int width, int prec, double v);

/* ---------------------------------------------------------------- block sizing */

/* Rows per block for a pass that needs fixed_bytes once plus per_row_bytes per row, from what
 * is left of the budget, and at most TSDIR_BLOCK_BYTES of rows (or 2 rows per thread if that
 * is more): larger blocks gain nothing (the same buffer is reused block after block, so it
 * stays in the page and CPU caches) and would only raise the resident size. Fails before any
 * work with "WHAT needs N MB, budget is M MB" when even one row does not fit. Result in
 * [1, length]. */
#define TSDIR_BLOCK_BYTES (8u << 20)
int tsdir_block_rows(cbas_ctx *ctx, uint32_t length, uint64_t fixed_bytes, uint64_t per_row_bytes,
                     const char *what, uint32_t *rows);
/* The same with an upper limit max_rows (0 = none): --block-rows, for tests and tuning. */
int tsdir_block_rows_max(cbas_ctx *ctx, uint32_t length, uint64_t fixed_bytes, uint64_t per_row_bytes,
                         uint32_t max_rows, const char *what, uint32_t *rows);
/* Budget of the network figures (plot_network's canvas bound, plot.h), required before a
 * step starts work when it will draw them. */
#define TSDIR_NETWORK_PNG_BYTES ((uint64_t)2400 * 600 * 3 + (64u << 10))

/* ---------------------------------------------------------------- parameters */

typedef enum tsdir_pid {
  TSP_P11_UNW_THRE, TSP_P11_COH_THRE,
  TSP_P12_LOOP_THRE, TSP_P12_MULTI_PRIME, TSP_P12_RM_IFG_LIST,
  TSP_P13_INV_ALG, TSP_P13_GAMMA, TSP_P13_N_UNW_R_THRE, TSP_P13_KEEP_INCFILE, TSP_P13_MEM_SIZE,
  TSP_P14_MEM_SIZE,
  TSP_P15_COH_THRE, TSP_P15_N_UNW_R_THRE, TSP_P15_VSTD_THRE, TSP_P15_MAXTLEN_THRE,
  TSP_P15_N_GAP_THRE, TSP_P15_STC_THRE, TSP_P15_N_IFG_NOLOOP_THRE, TSP_P15_N_LOOP_ERR_THRE,
  TSP_P15_RESID_RMS_THRE, TSP_P15_VMIN, TSP_P15_VMAX, TSP_P15_KEEP_ISOLATED,
  TSP_P15_NOAUTOADJUST,
  TSP_P16_FILTWIDTH_KM, TSP_P16_FILTWIDTH_YR, TSP_P16_DEG_DERAMP, TSP_P16_HGT_LINEAR,
  TSP_P16_HGT_MIN, TSP_P16_HGT_MAX, TSP_P16_NOMASK, TSP_P16_RANGE, TSP_P16_RANGE_GEO,
  TSP_P16_EX_RANGE, TSP_P16_EX_RANGE_GEO,
  TSP__N
} tsdir_pid;

typedef enum tsdir_pkind { TSP_DBL, TSP_INT, TSP_FLAG, TSP_STR } tsdir_pkind;

typedef struct tsdir_pdef {
  tsdir_pid id;
  int step;               /* 11..16 */
  const char *name;       /* cbas option without "--", e.g. "unw-thre" */
  const char *batch;      /* batch_LiCSBAS.sh variable, e.g. "p11_unw_thre" */
  const char *licsbas;    /* the LiCSBAS script's option, e.g. "-u" */
  tsdir_pkind kind;
  const char *def;        /* LiCSBAS script default as text; NULL = none/automatic (the step
                             decides, e.g. band-dependent thresholds of step 15) */
  const char *batch_def;  /* batch_LiCSBAS.sh default when it differs from def, else NULL */
  const char *arg;        /* value placeholder for --help */
  const char *help;
} tsdir_pdef;

/* Values of every parameter of steps 11–16 for one run. num[] holds DBL, INT and FLAG values
 * (FLAG: 0/1), str[] STR values (pointing into argv or the caller's text; NULL = unset).
 * set[id] is 1 when the value came from the user (option, alias or config), 0 for defaults;
 * a parameter with def NULL and set 0 is "automatic" (num NaN, str NULL). */
typedef struct tsdir_pvals {
  double num[TSP__N];
  const char *str[TSP__N];
  unsigned char set[TSP__N];
  uint32_t block_rows;   /* --block-rows (every step): rows per block at most, 0 = from --mem */
} tsdir_pvals;

const tsdir_pdef *tsdir_param_def(tsdir_pid id);
/* Finds a parameter by cbas name, batch name ("p12_loop_thre") or, with step given (11..16),
 * by the LiCSBAS long option name without dashes ("multi_prime"). NULL if unknown. */
const tsdir_pdef *tsdir_param_find(const char *name, int step);
/* Sets every parameter to its LiCSBAS default (set[] = 0). */
void tsdir_params_default(tsdir_pvals *v);
/* Parses text for parameter id (who names the source in errors, e.g. "--loop-thre").
 * FLAG accepts y/n, yes/no, 1/0, true/false; "" restores the default. The pointer to text is
 * kept for STR parameters. Errors are CBAS_EUSAGE naming who. */
int tsdir_param_set(cbas_ctx *ctx, tsdir_pvals *v, tsdir_pid id, const char *text, const char *who);

/* Command-line front end shared by the step commands:
 *   cbas CMD [STACK] [--ts TSDIR] [--stack STACK] [step options] [--block-rows N]
 *            [--mem --threads --quiet]
 * The step's parameters are offered under their cbas names and batch names. */
#define TSDIR_CLI_MAX 64
typedef struct tsdir_cli {
  cli_opt opt[TSDIR_CLI_MAX];
  int n_opt;
  tsdir_pid pid[TSDIR_CLI_MAX];       /* parameter of option i, or TSP__N for others */
  const char *text[TSDIR_CLI_MAX];    /* raw value of option i */
  int flag[TSDIR_CLI_MAX];            /* CLI_FLAG value of option i */
  const char *stack_pos, *stack_opt, *ts_opt;
  int block_rows;
} tsdir_cli;
/* Builds the option table for `step` (extra: the command's own options, appended). */
void tsdir_cli_build(tsdir_cli *c, int step, const cli_opt *extra, int n_extra);
/* After cli_parse: defaults, then the given options into v (errors name the option). */
int tsdir_cli_apply(cbas_ctx *ctx, const tsdir_cli *c, tsdir_pvals *v);
/* Opens the stack and the TSDIR named on the command line (create: step 11 creates TSDIR).
 * On success the caller owns *s (stack_close). */
int tsdir_cli_open(cbas_ctx *ctx, const tsdir_cli *c, int create, tsdir *t, stack **s);
/* Prints "STEP: peak memory N MB of the M MB budget" unless quiet. */
void tsdir_report_peak(cbas_ctx *ctx, const char *step);

/* A whole step command: parse (the step's table + extra options), open the stack and TSDIR,
 * run, report time and peak memory, turn the status into the exit code:
 *   int cmd_loop(int argc, char **argv) { return tsdir_cmd_main(argc, argv, &LOOP_CMD); } */
typedef struct tsdir_cmd_spec {
  const char *name;         /* subcommand, e.g. "loop" */
  int step;                 /* 11..16: whose parameters the command takes */
  const char *summary;      /* the --help paragraph */
  int create;               /* 1: the step starts the TSDIR (step 11) */
  const cli_opt *extra;     /* the command's own options (dst set by the caller), or NULL */
  int n_extra;
  int (*run)(cbas_ctx *ctx, const tsdir *t, stack *s, const tsdir_pvals *v, void *ud);
  void *ud;                 /* passed to run */
} tsdir_cmd_spec;
int tsdir_cmd_main(int argc, char **argv, const tsdir_cmd_spec *spec);
/* LiCSBAS's get_param_par(file, key): `grep key file`, second whitespace token of the output,
 * i.e. of the first line containing key as a substring (digest §0.2). Missing file or key:
 * CBAS_EUSAGE naming the file and `producer` ("run cbas PRODUCER first"). */
int tsdir_get_param_par(cbas_ctx *ctx, const char *path, const char *key, const char *producer,
                        char *val, size_t cap);

#endif
