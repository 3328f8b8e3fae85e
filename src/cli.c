/* cli.c — option parsing shared by the subcommands (see include/cbas/cli.h). */
#include "cbas/cli.h"
#include "cbas/budget.h"
#include "cbas/plat.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MEM (256ull << 20)

static void print_help(const char *cmd, const char *usage, const char *summary, const cli_opt *o, int n) {
  printf("usage: cbas %s %s\n\n%s\n\noptions:\n", cmd, usage, summary);
  for (int i = 0; i < n; i++) {
    char left[64];
    if (!o[i].name) continue;
    snprintf(left, sizeof left, "--%s%s%s", o[i].name, o[i].arg ? " " : "", o[i].arg ? o[i].arg : "");
    printf("  %-28s %s\n", left, o[i].help);
  }
  printf("  %-28s %s\n", "--mem SIZE", "memory budget, e.g. 64M, 1G (default 256M)");
  printf("  %-28s %s\n", "--threads N", "worker threads (default: all cores)");
  printf("  %-28s %s\n", "--quiet", "no progress or informational messages");
  printf("  %-28s %s\n", "--help", "show this help");
}

static int set_value(const cli_opt *o, const char *v, char *err, size_t cap) {
  char *end;
  switch (o->kind) {
  case CLI_STR: *(const char **)o->dst = v; return 0;
  case CLI_INT: {
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < -2147483647L || x > 2147483647L) break;
    *(int *)o->dst = (int)x;
    return 0;
  }
  case CLI_DBL: {
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end) break;
    *(double *)o->dst = x;
    return 0;
  }
  case CLI_SIZE:
    if (budget_parse_size(v, (uint64_t *)o->dst)) break;
    return 0;
  case CLI_MULTI: {
    cli_multi *m = o->dst;
    if (m->n >= 64) { snprintf(err, cap, "--%s given more than 64 times", o->name); return CBAS_EUSAGE; }
    m->v[m->n++] = v;
    return 0;
  }
  case CLI_FLAG: break;
  }
  snprintf(err, cap, "--%s: malformed value '%s'", o->name, v);
  return CBAS_EUSAGE;
}

int cli_parse(const char *cmd, const char *usage, const char *summary, const cli_opt *opts,
              int n_opts, int argc, char **argv, cli_common *common, char *err, size_t cap) {
  cli_opt commons[] = {
      {"mem", CLI_SIZE, &common->mem, "SIZE", ""},
      {"threads", CLI_INT, &common->threads, "N", ""},
      {"quiet", CLI_FLAG, &common->quiet, NULL, ""},
  };
  common->mem = DEFAULT_MEM;
  common->threads = 0;
  common->quiet = 0;
  int n_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      print_help(cmd, usage, summary, opts, n_opts);
      return 1;
    }
    if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
      const cli_opt *pos = NULL;
      int k = 0;
      for (int j = 0; j < n_opts; j++)
        if (!opts[j].name && k++ == n_pos) { pos = &opts[j]; break; }
      if (!pos) { snprintf(err, cap, "unexpected argument '%s' (see cbas %s --help)", a, cmd); return CBAS_EUSAGE; }
      *(const char **)pos->dst = a;
      n_pos++;
      continue;
    }
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_opt *o = NULL;
    for (int j = 0; j < n_opts && !o; j++)
      if (opts[j].name && strlen(opts[j].name) == len && !strncmp(opts[j].name, name, len)) o = &opts[j];
    for (int j = 0; j < 3 && !o; j++)
      if (strlen(commons[j].name) == len && !strncmp(commons[j].name, name, len)) o = &commons[j];
    if (!o) { snprintf(err, cap, "unknown option '--%.*s' (see cbas %s --help)", (int)len, name, cmd); return CBAS_EUSAGE; }
    if (o->kind == CLI_FLAG) {
      if (eq) { snprintf(err, cap, "--%s takes no value", o->name); return CBAS_EUSAGE; }
      *(int *)o->dst = 1;
      continue;
    }
    const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!v) { snprintf(err, cap, "--%s needs a value", o->name); return CBAS_EUSAGE; }
    int r = set_value(o, v, err, cap);
    if (r) return r;
  }
  if (common->threads < 0) { snprintf(err, cap, "--threads must be >= 0"); return CBAS_EUSAGE; }
  if (common->mem < (1u << 20)) { snprintf(err, cap, "--mem must be at least 1M"); return CBAS_EUSAGE; }
  return 0;
}

int cli_ctx_init(cbas_ctx *ctx, const cli_common *c) {
  int r = ctx_init(ctx, c->mem, c->threads);
  ctx->quiet = c->quiet;
  ctx->progress = !c->quiet && plat_isatty(2);
  return r;
}

int cli_finish(cbas_ctx *ctx, const char *cmd) {
  int st = ctx->status;
  if (st) fprintf(stderr, "cbas %s: %s\n", cmd, ctx->msg);
  ctx_free(ctx);
  return st ? (st == CBAS_EUSAGE ? 2 : 1) : 0;
}
