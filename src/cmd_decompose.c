/* cmd_decompose.c — `cbas decompose`: the command line of the LOS decomposition (decomp.h).
 * Geometries come from repeated options, the i-th --los going with the i-th --e/--n/--u or
 * --stack (each of those given for every geometry or not at all), or from a list file in
 * LiCSBAS's -f format ("LOS.tif E.tif N.tif" per line), where a line "LOS.tif STACKDIR" takes
 * E and N from a cbas stack. */
#include "cbas/cli.h"
#include "cbas/decomp.h"
#include "cmds.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the list file into p (strings kept in *text, freed by the caller). */
static int read_list(const char *path, decomp_params *p, char **text, char *err, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) { snprintf(err, cap, "--list %s: cannot open", path); return -1; }
  size_t len = 0, sz = 4096;
  char *buf = malloc(sz);
  int c;
  while (buf && (c = fgetc(f)) != EOF) {
    if (len + 2 >= sz) {
      char *nb = realloc(buf, sz *= 2);
      if (!nb) { free(buf); buf = NULL; break; }
      buf = nb;
    }
    buf[len++] = (char)c;
  }
  fclose(f);
  if (!buf) { snprintf(err, cap, "--list %s: out of memory", path); return -1; }
  buf[len] = 0;
  *text = buf;
  int line = 0;
  for (char *s = buf; s && *s;) {
    char *nl = strchr(s, '\n');
    if (nl) *nl = 0;
    line++;
    char *tok[4];
    int nt = 0;
    for (char *t = strtok(s, " \t\r"); t && nt < 4; t = strtok(NULL, " \t\r")) tok[nt++] = t;
    if (nt && tok[0][0] != '#') {
      if (nt != 2 && nt != 3) { snprintf(err, cap, "--list %s line %d: expected 'LOS.tif E.tif N.tif' or 'LOS.tif STACKDIR'", path, line); return -1; }
      if (p->n_in >= DECOMP_MAX_INPUTS) { snprintf(err, cap, "--list %s: more than %d geometries", path, DECOMP_MAX_INPUTS); return -1; }
      decomp_input *in = &p->in[p->n_in++];
      memset(in, 0, sizeof *in);
      in->los = tok[0];
      if (nt == 3) { in->e = tok[1]; in->n = tok[2]; }
      else in->stack = tok[1];
    }
    s = nl ? nl + 1 : NULL;
  }
  return 0;
}

int cmd_decompose(int argc, char **argv) {
  cli_multi los = {{0}, 0}, e = {{0}, 0}, n = {{0}, 0}, u = {{0}, 0}, stk = {{0}, 0};
  const char *list = NULL, *out = ".", *prefix = "", *resample = "bilinear";
  int stats = 0, no_png = 0, block_rows = 0;
  cli_opt opts[] = {
      {"los", CLI_MULTI, &los, "FILE.tif", "LOS velocity/displacement of one geometry (repeat per geometry)"},
      {"e", CLI_MULTI, &e, "FILE.tif", "east component of that geometry's LOS unit vector"},
      {"n", CLI_MULTI, &n, "FILE.tif", "north component (U = sqrt(1 - E^2 - N^2), as LiCSBAS)"},
      {"u", CLI_MULTI, &u, "FILE.tif", "up component, used when --n is not given"},
      {"stack", CLI_MULTI, &stk, "DIR", "take E and N of that geometry from a cbas stack instead"},
      {"list", CLI_STR, &list, "FILE", "geometries from a LiCSBAS -f list: 'LOS.tif E.tif N.tif' (or 'LOS.tif STACKDIR') per line"},
      {"out", CLI_STR, &out, "DIR", "output directory (default .)"},
      {"prefix", CLI_STR, &prefix, "P", "prefix of the output names (LiCSBAS -o; default none)"},
      {"resample", CLI_STR, &resample, "ALG", "bilinear (default, as LiCSBAS) or near"},
      {"stats", CLI_FLAG, &stats, NULL, "also n_data_fromE/fromW/total and, for 3+ geometries, resid_LOS<i>"},
      {"no-png", CLI_FLAG, &no_png, NULL, "do not write the EW/UD quicklooks"},
      {"block-rows", CLI_INT, &block_rows, "N", "output rows per block at most (default: from --mem; tests, tuning)"},
  };
  cli_common common;
  char err[512];
  int st = cli_parse("decompose", "--los A.tif --e A_E.tif --n A_N.tif --los B.tif --e B_E.tif --n B_N.tif [...] [--out DIR] | --list FILE",
                     "East-west and vertical velocities from the LOS velocities of two or more geometries "
                     "(ascending and descending), neglecting north-south motion, as LiCSBAS_decomposeLOS.py: "
                     "every input is resampled to the common area of the East- and West-looking geometries at "
                     "the coarsest spacing, and each pixel with data from both sides is solved by least "
                     "squares. Writes EW.geo.tif (east positive) and UD.geo.tif (up positive).",
                     opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (st == 1) return 0;
  if (st) { fprintf(stderr, "cbas decompose: %s\n", err); return 2; }
  decomp_params p;
  memset(&p, 0, sizeof p);
  char *text = NULL;
  int bad = 0;
  if (list && los.n) { snprintf(err, sizeof err, "give --list or --los, not both"); bad = 1; }
  else if (list) bad = read_list(list, &p, &text, err, sizeof err) != 0;
  else {
    const cli_multi *m[4] = {&e, &n, &u, &stk};
    static const char *const nm[4] = {"--e", "--n", "--u", "--stack"};
    for (int k = 0; k < 4 && !bad; k++)
      if (m[k]->n && m[k]->n != los.n) {
        snprintf(err, sizeof err, "%s given %d times for %d --los: give it once per geometry or not at all", nm[k], m[k]->n, los.n);
        bad = 1;
      }
    if (!bad && los.n > DECOMP_MAX_INPUTS) { snprintf(err, sizeof err, "at most %d geometries", DECOMP_MAX_INPUTS); bad = 1; }
    for (int i = 0; !bad && i < los.n; i++) {
      p.in[i].los = los.v[i];
      p.in[i].e = e.n ? e.v[i] : NULL;
      p.in[i].n = n.n ? n.v[i] : NULL;
      p.in[i].u = u.n ? u.v[i] : NULL;
      p.in[i].stack = stk.n ? stk.v[i] : NULL;
    }
    p.n_in = los.n;
  }
  if (!bad && block_rows < 0) {
    snprintf(err, sizeof err, "--block-rows must be >= 0");
    bad = 1;
  }
  if (!bad && strcmp(resample, "bilinear") && strcmp(resample, "near")) {
    snprintf(err, sizeof err, "--resample %s: bilinear or near", resample);
    bad = 1;
  }
  if (bad) {
    fprintf(stderr, "cbas decompose: %s\n", err);
    free(text);
    return 2;
  }
  p.out_dir = out;
  p.prefix = prefix;
  p.alg = strcmp(resample, "near") ? WARP_BILINEAR : WARP_NEAR;
  p.stats = stats;
  p.png = !no_png;
  p.block_rows = (uint32_t)block_rows;
  cbas_ctx ctx;
  if (!cli_ctx_init(&ctx, &common)) decomp_run(&ctx, &p);
  free(text);
  return cli_finish(&ctx, "decompose");
}
