/* main.c — the cbas binary: dispatches to subcommands. */
#include "cmds.h"
#include <stdio.h>
#include <string.h>

#ifndef CBAS_VERSION
#define CBAS_VERSION "0.1.0-dev"
#endif

typedef struct { const char *name; int (*fn)(int, char **); const char *summary; } command;

static const command commands[] = {
    {"run", cmd_run, "the whole workflow: GEOC frame to velocity map (prep, steps 11-16, pictures)"},
    {"info", cmd_info, "describe a GeoTIFF: size, bands, type, layout, georeferencing, nodata"},
    {"synth", cmd_synth, "write a synthetic LiCSAR frame (GEOC layout) with known truth"},
    {"prep", cmd_prep, "LiCSAR GEOC frame to a clipped stack (LiCSBAS steps 02-05)"},
    {"stack-dump", cmd_stack_dump, "print or extract values of a stack (interferogram, layer, window)"},
    {"check", cmd_check, "LiCSBAS step 11: coverage/coherence check, bad interferograms (starts TS dir)"},
    {"loop", cmd_loop, "LiCSBAS step 12: loop closure, bad interferograms, reference pixel"},
    {"invert", cmd_invert, "LiCSBAS step 13: NSBAS time-series inversion, velocity, 13ref"},
    {"vstd", cmd_vstd, "LiCSBAS step 14: bootstrap velocity std (vstd) and STC"},
    {"compare", cmd_compare, "statistics of the difference of two rasters (validation)"},
    {"png", cmd_png, "PNG quicklook of a GeoTIFF band with a colour bar"},
    {"mask-ts", cmd_mask_ts, "LiCSBAS step 15: noise-index mask of the time series"},
    {"filter", cmd_filter, "LiCSBAS step 16: spatio-temporal filter, deramp, stable reference"},
    {"vel", cmd_vel, "velocity over a date range, annual sinusoid, vstd (LiCSBAS cum2vel)"},
    {"decompose", cmd_decompose, "ascending + descending LOS velocities to east-west and vertical (decomposeLOS)"},
    {"ts", cmd_ts, "time series at a point (nearest pixel), referenced, as text or CSV (cum2tstxt)"},
    {"view", cmd_view, "viewer in the browser: velocity map, click a pixel for its time series (plot_ts)"},
    {"version", NULL, "print the version"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fprintf(f, "cbas %s — InSAR time-series analysis of LiCSAR frames (LiCSBAS workflow)\n\n"
             "usage: cbas COMMAND [options]      (cbas COMMAND --help for details)\n\ncommands:\n",
          CBAS_VERSION);
  for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "  %-10s %s\n", "help", "list the commands (help COMMAND: its options)");
}

int main(int argc, char **argv) {
  if (argc < 2) { usage(stderr); return 2; }
  const char *c = argv[1];
  if (!strcmp(c, "help") || !strcmp(c, "--help") || !strcmp(c, "-h")) {
    if (argc > 2) {
      for (size_t i = 0; i < N_COMMANDS; i++)
        if (commands[i].fn && !strcmp(argv[2], commands[i].name)) {
          char *av[] = {argv[2], "--help", NULL};
          return commands[i].fn(2, av);
        }
    }
    usage(stdout);
    return 0;
  }
  if (!strcmp(c, "version") || !strcmp(c, "--version")) { printf("cbas %s\n", CBAS_VERSION); return 0; }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (commands[i].fn && !strcmp(c, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "cbas: unknown command '%s' (cbas help lists them)\n", c);
  return 2;
}
