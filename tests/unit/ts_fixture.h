/* ts_fixture.h — small synthetic stacks for the time-series step tests (steps 11–16):
 * a stack written directly with stack_create/stack_write_* from caller functions giving each
 * interferogram's unwrapped phase and coherence byte per pixel, plus file helpers. */
#ifndef CBAS_TS_FIXTURE_H
#define CBAS_TS_FIXTURE_H
#include "cbas/ctx.h"
#include <stdint.h>

typedef float (*tsfx_unw_fn)(void *ud, uint32_t k, uint32_t x, uint32_t y);
typedef uint8_t (*tsfx_cc_fn)(void *ud, uint32_t k, uint32_t x, uint32_t y);

/* Writes the stack dir: ifgs (sorted names), w x l pixels, bperp per epoch (NULL: NaN),
 * with_hgt: a height layer hgt = 10*y + x. Returns 0 or ctx's status. */
int tsfx_make_stack(cbas_ctx *ctx, const char *dir, const char *const *ifgs, uint32_t n_ifg, uint32_t w, uint32_t l,
                    const double *bperp, int with_hgt, tsfx_unw_fn u, tsfx_cc_fn c, void *ud);
/* Names of a network of n_epoch epochs 12 days apart from 2020-01-01, each epoch paired with
 * its next `degree` epochs; sorted. names must hold n_epoch*degree entries; returns the count.
 * date_of(e) gives epoch e's date in out (9 bytes). */
uint32_t tsfx_network(int n_epoch, int degree, char (*names)[18]);
void tsfx_date(int e, char out[9]);
/* Epoch indices of an ifg name in a tsfx_network (days from 2020-01-01 / 12). */
int tsfx_epoch_of(const char *date8);
/* Whole file as a NUL-terminated malloc'd string (NULL if missing). */
char *tsfx_slurp(const char *path);
/* Whole band 0 of a GeoTIFF as float (malloc'd), size in *w, *h; NULL on error (ctx). */
float *tsfx_read_tif(cbas_ctx *ctx, const char *path, uint32_t *w, uint32_t *h);
/* 1 if the two files exist and have identical bytes. */
int tsfx_same_file(const char *a, const char *b);
#endif
