/* ctx.h — the run context: error status and message, memory budget, threads, progress.
 *
 * Library code never exits: it records an error with ctx_fail() and returns the status up.
 * Only main() turns a status into an exit code and prints the message. The first error wins
 * (later ones are dropped) so the message names the root cause. ctx_fail is thread-safe.
 */
#ifndef CBAS_CTX_H
#define CBAS_CTX_H
#include <stddef.h>
#include <stdint.h>

typedef enum cbas_status {
  CBAS_OK = 0,
  CBAS_EUSAGE = 2,   /* bad command line / configuration (exit status 2) */
  CBAS_EIO = 3,      /* I/O error from the OS */
  CBAS_EFORMAT = 4,  /* corrupt, truncated or unexpected file content */
  CBAS_EUNSUP = 5,   /* valid but unsupported file feature */
  CBAS_EBUDGET = 6,  /* memory budget too small for the minimum working set */
  CBAS_ENOMEM = 7,   /* the system refused memory */
  CBAS_EDATA = 8,    /* input data unusable (e.g. nothing left after screening) */
  CBAS_EINTERNAL = 9
} cbas_status;

struct cbas_budget;
struct plat_mutex;

typedef struct cbas_ctx {
  cbas_status status;
  char msg[1024];
  struct cbas_budget *budget; /* never NULL after ctx_init */
  int n_threads;              /* >= 1 */
  int progress;               /* 1: draw progress bars on stderr */
  int quiet;                  /* 1: no informational messages */
  struct plat_mutex *mu;      /* guards status/msg */
} cbas_ctx;

/* Initialises ctx with a budget of budget_bytes; n_threads <= 0 means all cores.
 * Returns 0 or a status (ctx->msg set). */
int ctx_init(cbas_ctx *ctx, uint64_t budget_bytes, int n_threads);
void ctx_free(cbas_ctx *ctx);
/* Records an error (printf-style message) unless one is recorded already; returns st. */
int ctx_fail(cbas_ctx *ctx, cbas_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Informational message to stderr unless quiet. */
void ctx_info(cbas_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ctx_clear_error(cbas_ctx *ctx);
#endif
