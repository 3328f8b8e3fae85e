/* pyref.h — helpers for tests that compare against NumPy/astropy run as an independent
 * reference (the scripts in tests/interop): finding a python3 with the modules, raw array files. */
#ifndef CBAS_PYREF_H
#define CBAS_PYREF_H
#include <stddef.h>

/* A python3 that can import `modules` (e.g. "numpy, astropy.convolution"): Debian's
 * /usr/bin/python3 first (a user python on PATH may lack them), else python3; NULL if none
 * (the caller prints a "# ... not run" line). */
const char *pyref_python(const char *modules);
/* Whole-file raw writes/reads of n bytes; 0 or -1. */
int pyref_write(const char *path, const void *p, size_t n);
int pyref_read(const char *path, void *p, size_t n);
#endif
