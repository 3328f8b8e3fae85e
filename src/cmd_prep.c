/* cmd_prep.c — `cbas prep`: command-line front end of step_prep.c (LiCSBAS steps 02–05). */
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/plat.h"
#include "cbas/prep.h"
#include "cmds.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char USAGE[] =
    "--geoc GEOC --out STACKDIR [--clip-geo LONW/LONE/LATS/LATN | --clip X1:X2/Y1:Y2] [--nlook N] "
    "[--freq HZ] [--gacos DIR [--fillhole]] [--mask-coh T] [--mask X1:X2/Y1:Y2 ...] [--mask-file F] "
    "[--start YYYYMMDD] [--end YYYYMMDD] [--licsbas-layout DIR] [--mem SIZE] [--threads N]";
static const char SUMMARY[] =
    "Turns a LiCSAR GEOC folder into a clipped cbas stack in one streaming pass, with the values\n"
    "LiCSBAS gets from steps 02 (multilook), 03 (GACOS), 04 (masks) and 05 (clip). Only the rows\n"
    "of the area of interest are decoded. Ranges (--clip, --mask) are 0-based half-open pixel\n"
    "ranges of the multilooked frame, X2/Y2 = 0 meaning the full width/length (LiCSBAS -r);\n"
    "--clip-geo includes the pixels whose centres are nearest the bounds (LiCSBAS -g).\n"
    "Interferogram folders that cannot be used are reported by name and left out. See docs/prep.md.";

int cmd_prep(int argc, char **argv) {
  prep_params p;
  prep_params_default(&p);
  cli_multi masks = {{0}, 0};
  int nlook = p.nlook;
  double freq = p.freq_hz, mask_coh = NAN;
  const cli_opt opts[] = {
      {"geoc", CLI_STR, &p.geoc_dir, "GEOC", "LiCSAR GEOC folder (interferogram folders, frame files)"},
      {"out", CLI_STR, &p.out_dir, "STACKDIR", "stack directory to write (replaced atomically)"},
      {"clip-geo", CLI_STR, &p.clip_geo, "LONW/LONE/LATS/LATN", "clip to a geographic area (step 05 -g)"},
      {"clip", CLI_STR, &p.clip, "X1:X2/Y1:Y2", "clip to a pixel range of the multilooked frame (step 05 -r)"},
      {"nlook", CLI_INT, &nlook, "N", "multilook factor (step 02 -n, default 1)"},
      {"freq", CLI_DBL, &freq, "HZ", "radar frequency (default 5.405e9, Sentinel-1)"},
      {"gacos", CLI_STR, &p.gacos_dir, "DIR", "correct with GACOS delays from DIR (step 03)"},
      {"fillhole", CLI_FLAG, &p.fillhole, NULL, "fill holes of the GACOS delays (step 03 --fillhole)"},
      {"mask-coh", CLI_DBL, &mask_coh, "T", "mask pixels with average coherence <= T (step 04 -c)"},
      {"mask", CLI_MULTI, &masks, "X1:X2/Y1:Y2", "mask a pixel range of the multilooked frame (step 04 -r), repeatable"},
      {"mask-file", CLI_STR, &p.mask_file, "F", "mask the ranges listed in F, one per line (step 04 -f)"},
      {"start", CLI_STR, &p.start, "YYYYMMDD", "keep interferograms whose dates are both >= this"},
      {"end", CLI_STR, &p.end, "YYYYMMDD", "keep interferograms whose dates are both <= this"},
      {"licsbas-layout", CLI_STR, &p.licsbas_dir, "DIR", "also write the clip as a LiCSBAS GEOCml folder"},
      {"decode-only", CLI_FLAG, &p.decode_only, NULL, "benchmark floor: only decode the AOI rows of every file"},
  };
  cli_common common;
  char err[512];
  int r = cli_parse("prep", USAGE, SUMMARY, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (r == 1) return 0;
  if (r) { fprintf(stderr, "cbas prep: %s\n", err); return 2; }
  p.nlook = nlook;
  p.freq_hz = freq;
  p.mask_coh = mask_coh;
  for (int i = 0; i < masks.n && i < PREP_MAX_MASKS; i++) p.mask[i] = masks.v[i];
  p.n_mask = masks.n;
  cbas_ctx ctx;
  if (cli_ctx_init(&ctx, &common)) return cli_finish(&ctx, "prep");
  double t0 = plat_now();
  prep_report rep;
  if (!prep_run(&ctx, &p, &rep)) {
    double mbf = 1048576.0;
    if (p.decode_only)
      ctx_info(&ctx, "cbas prep: decoded %.1f MB of AOI rows from %u interferograms in %.2f s (%d workers)\n",
               (double)rep.bytes_decoded / mbf, rep.n_used, plat_now() - t0, rep.workers);
    else
      ctx_info(&ctx,
               "cbas prep: %s: %u interferograms, %ux%u pixels (clip %u:%u/%u:%u of the %ux%u multilooked frame); "
               "decoded %.1f MB, wrote %.1f MB in %.2f s; %d workers x %u rows; peak memory %.1f MB of %.1f MB\n",
               p.out_dir, rep.n_used, rep.clip.x1 - rep.clip.x0, rep.clip.y1 - rep.clip.y0, rep.clip.x0, rep.clip.x1,
               rep.clip.y0, rep.clip.y1, rep.frame_width, rep.frame_length, (double)rep.bytes_decoded / mbf,
               (double)rep.bytes_written / mbf, plat_now() - t0, rep.workers, rep.chunk_rows,
               (double)ctx.budget->peak / mbf, (double)ctx.budget->limit / mbf);
  }
  return cli_finish(&ctx, "prep");
}
