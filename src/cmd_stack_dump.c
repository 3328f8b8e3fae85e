/* cmd_stack_dump.c — `cbas stack-dump`: prints (or extracts as raw binary) the values of one
 * interferogram or geometry layer of a cbas stack over a pixel window. For inspection and for
 * the shell tests that compare a stack with GDAL's own reading of the input GeoTIFFs. */
#include "cbas/budget.h"
#include "cbas/cli.h"
#include "cbas/licsbas.h"
#include "cbas/plat.h"
#include "cbas/stack.h"
#include "cmds.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] = "STACKDIR [--ifg K|YYYYMMDD_YYYYMMDD] [--layer unw|cc|hgt|E|N|U] [--window X1:X2/Y1:Y2] [--raw FILE]";
static const char SUMMARY[] =
    "Prints the values of one interferogram (unw: radians, cc: bytes) or geometry layer over a\n"
    "window (default: the whole stack), one row per line, NaN as 'nan'; with --raw writes them\n"
    "to FILE as little-endian float32 (uint8 for cc) instead. Without --ifg/--layer prints the\n"
    "stack's summary (size, interferograms, grid).";

static int find_ifg(const stack_meta *m, const char *s) {
  for (uint32_t k = 0; k < m->n_ifg; k++)
    if (!strcmp(m->ifg[k], s)) return (int)k;
  char *end;
  long k = strtol(s, &end, 10);
  if (*s && !*end && k >= 0 && k < (long)m->n_ifg) return (int)k;
  return -1;
}

static int dump(cbas_ctx *ctx, const char *dir, const char *ifg, const char *layer, const char *window, const char *raw) {
  stack *s;
  if (stack_open(ctx, dir, &s)) return ctx->status;
  const stack_meta *m = stack_get_meta(s);
  if (!ifg && !layer) {
    printf("%s: %u x %u pixels, %u interferograms, %u epochs, nlook %d, clip %u:%u/%u:%u\n", dir, m->width, m->length,
           m->n_ifg, m->n_epoch, m->nlook, m->clip_x0, m->clip_x1, m->clip_y0, m->clip_y1);
    for (uint32_t k = 0; k < m->n_ifg; k++) printf("%u %s\n", k, m->ifg[k]);
    stack_close(s);
    return 0;
  }
  const char *lay = layer ? layer : "unw";
  int is_ifg = !strcmp(lay, "unw") || !strcmp(lay, "cc"), is_cc = !strcmp(lay, "cc");
  int k = 0;
  if (is_ifg) {
    k = ifg ? find_ifg(m, ifg) : -1;
    if (k < 0) { stack_close(s); return ctx_fail(ctx, CBAS_EUSAGE, "--ifg %s: no such interferogram in %s", ifg ? ifg : "(missing)", dir); }
  } else if (strcmp(lay, "hgt") && strcmp(lay, "E") && strcmp(lay, "N") && strcmp(lay, "U")) {
    stack_close(s);
    return ctx_fail(ctx, CBAS_EUSAGE, "--layer %s: expected unw, cc, hgt, E, N or U", lay);
  }
  lb_range w = {0, m->width, 0, m->length};
  char why[200];
  if (window && lb_read_range(window, m->width, m->length, &w, why, sizeof why)) {
    stack_close(s);
    return ctx_fail(ctx, CBAS_EUSAGE, "--window %s: %s", window, why);
  }
  size_t row_elems = is_ifg ? (size_t)m->n_ifg * m->width : m->width;
  void *buf = budget_alloc(ctx, row_elems * 4, "stack-dump: one row");
  FILE *out = stdout;
  if (buf && raw && !(out = fopen(raw, "wb"))) ctx_fail(ctx, CBAS_EIO, "--raw %s: cannot create", raw);
  for (uint32_t y = w.y0; y < w.y1 && buf && !ctx->status; y++) {
    int rc = !is_ifg ? stack_read_layer(ctx, s, lay, y, 1, buf)
                     : is_cc ? stack_read_cc(ctx, s, y, 1, buf) : stack_read_unw(ctx, s, y, 1, buf);
    if (rc) break;
    size_t off = is_ifg ? (size_t)k * m->width : 0;
    if (is_cc) {
      const uint8_t *v = (const uint8_t *)buf + off;
      if (raw) fwrite(v + w.x0, 1, w.x1 - w.x0, out);
      else
        for (uint32_t x = w.x0; x < w.x1; x++) printf("%u%c", v[x], x + 1 < w.x1 ? ' ' : '\n');
    } else {
      const float *v = (const float *)buf + off;
      if (raw) fwrite(v + w.x0, 4, w.x1 - w.x0, out);
      else
        for (uint32_t x = w.x0; x < w.x1; x++) printf("%.9g%c", (double)v[x], x + 1 < w.x1 ? ' ' : '\n');
    }
  }
  if (raw && out && out != stdout && fclose(out) && !ctx->status) ctx_fail(ctx, CBAS_EIO, "--raw %s: write failed", raw);
  budget_free(ctx, buf);
  stack_close(s);
  return ctx->status;
}

int cmd_stack_dump(int argc, char **argv) {
  const char *dir = NULL, *ifg = NULL, *layer = NULL, *window = NULL, *raw = NULL;
  const cli_opt opts[] = {
      {NULL, CLI_STR, &dir, "STACKDIR", "stack directory"},
      {"ifg", CLI_STR, &ifg, "K|NAME", "interferogram: index (0-based) or YYYYMMDD_YYYYMMDD"},
      {"layer", CLI_STR, &layer, "NAME", "unw (default with --ifg), cc, hgt, E, N or U"},
      {"window", CLI_STR, &window, "X1:X2/Y1:Y2", "pixel window of the stack (default: all)"},
      {"raw", CLI_STR, &raw, "FILE", "write little-endian binary values to FILE instead of text"},
  };
  cli_common common;
  char err[512];
  int r = cli_parse("stack-dump", USAGE, SUMMARY, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &common, err, sizeof err);
  if (r == 1) return 0;
  if (r) { fprintf(stderr, "cbas stack-dump: %s\n", err); return 2; }
  if (!dir) { fprintf(stderr, "cbas stack-dump: STACKDIR is required\n"); return 2; }
  cbas_ctx ctx;
  if (!cli_ctx_init(&ctx, &common)) dump(&ctx, dir, ifg, layer, window, raw);
  return cli_finish(&ctx, "stack-dump");
}
