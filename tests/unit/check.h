/* check.h — the test harness: small programs with assertion macros.
 *
 * A test file defines `static void test_NAME(void)` functions and a main() that calls
 * RUN(test_NAME) for each, then returns check_done(). Each test prints one line,
 * "ok - NAME" or "FAIL - NAME: file:line: what", which tests/run.sh counts.
 * Floats compare with a stated tolerance against independent expectations.
 * check_tmpdir() gives a fresh per-binary scratch directory (under $CBAS_TMP).
 */
#ifndef CBAS_CHECK_H
#define CBAS_CHECK_H
#include <math.h>
#include <stdio.h>

extern int check_failed_now;
void check_fail(const char *file, int line, const char *fmt, ...);
int check_run(const char *name, void (*fn)(void));
int check_done(void);
const char *check_tmpdir(void);
/* path = check_tmpdir()/name, in a static rotating buffer (8 slots). */
const char *check_path(const char *name);
/* Runs a shell command line; returns its exit status (or -1). */
int check_sh(const char *fmt, ...);

#define RUN(fn) check_run(#fn, fn)
#define CHECK(c) do { if (!(c)) { check_fail(__FILE__, __LINE__, "%s", #c); return; } } while (0)
#define CHECKF(c, ...) do { if (!(c)) { check_fail(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ != b_) { check_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_); return; } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b); \
    if (!(fabs(a_ - b_) <= (tol))) { check_fail(__FILE__, __LINE__, "%s = %.10g, expected %.10g (tol %g)", #a, a_, b_, (double)(tol)); return; } } while (0)
#endif
