/* cli.h — command-line parsing shared by every subcommand.
 *
 * Each subcommand declares its options as a table of cli_opt and calls cli_parse(), which also
 * handles the options every command has: --mem SIZE (default 256M), --threads N (default: all
 * cores), --quiet, --help. Options take "--name VALUE" or "--name=VALUE". Unknown options,
 * missing values and malformed numbers are usage errors (status 2) naming the option.
 * Positional arguments are refused unless the table has an entry with name NULL.
 */
#ifndef CBAS_CLI_H
#define CBAS_CLI_H
#include "cbas/ctx.h"

typedef enum { CLI_STR, CLI_INT, CLI_DBL, CLI_FLAG, CLI_SIZE, CLI_MULTI } cli_kind;

typedef struct cli_opt {
  const char *name;  /* without leading "--"; NULL = positional (CLI_STR only) */
  cli_kind kind;
  void *dst;         /* const char **, int *, double *, int *, uint64_t *, cli_multi * */
  const char *arg;   /* value placeholder for help, e.g. "DIR" */
  const char *help;  /* one line */
} cli_opt;

/* A repeatable string option (CLI_MULTI). */
typedef struct cli_multi { const char *v[64]; int n; } cli_multi;

typedef struct cli_common {
  uint64_t mem;      /* bytes */
  int threads;       /* 0 = all cores */
  int quiet;
} cli_common;

/* Returns 0 to proceed, 1 if help was printed (exit 0), or CBAS_EUSAGE (message in err).
 * Options [opts, opts+n_opts). summary: one paragraph printed by --help. */
int cli_parse(const char *cmd, const char *usage, const char *summary, const cli_opt *opts,
              int n_opts, int argc, char **argv, cli_common *common, char *err, size_t err_cap);
/* Creates the run context from the common options. */
int cli_ctx_init(cbas_ctx *ctx, const cli_common *common);
/* Prints ctx's error as "cbas CMD: MESSAGE" and returns the process exit status. */
int cli_finish(cbas_ctx *ctx, const char *cmd);
#endif
