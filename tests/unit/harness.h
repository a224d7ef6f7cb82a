/* harness: a minimal unit-test harness (the shape of cmark's api_test).
 *
 * Each test is a void function listed in main via RUN(fn). Checks print the
 * expression and both values on failure and count it; success prints
 * nothing. The process exits non-zero when any check failed, and when no
 * check ran at all (a test that checks nothing proves nothing). A test
 * that cannot run here (missing data or tool) returns HARNESS_SKIP, which
 * CTest reports as skipped (SKIP_RETURN_CODE). */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The exit status CTest reads as "skipped" (SKIP_RETURN_CODE). */
#define HARNESS_SKIP 77

static int harness_failed;
static int harness_checks;
static const char *harness_test = "";

#define RUN(fn)                                                              \
  do {                                                                       \
    harness_test = #fn;                                                      \
    fn();                                                                    \
  } while (0)

#define FAIL_AT(...)                                                         \
  do {                                                                       \
    harness_failed++;                                                        \
    fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, harness_test);        \
    fprintf(stderr, __VA_ARGS__);                                            \
    fputc('\n', stderr);                                                     \
  } while (0)

#define CHECK(expr)                                                          \
  do {                                                                       \
    harness_checks++;                                                        \
    if (!(expr))                                                             \
      FAIL_AT("CHECK(%s) failed", #expr);                                    \
  } while (0)

#define CHECK_INT(a, b)                                                      \
  do {                                                                       \
    long long va_ = (long long)(a), vb_ = (long long)(b);                    \
    harness_checks++;                                                        \
    if (va_ != vb_)                                                          \
      FAIL_AT("%s == %s: %lld != %lld", #a, #b, va_, vb_);                   \
  } while (0)

#define CHECK_STR(a, b)                                                      \
  do {                                                                       \
    const char *sa_ = (a), *sb_ = (b);                                       \
    harness_checks++;                                                        \
    if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0)                               \
      FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, sa_ ? sa_ : "(null)",    \
              sb_ ? sb_ : "(null)");                                         \
  } while (0)

#define CHECK_NEAR(a, b, eps)                                                \
  do {                                                                       \
    double da_ = (a), db_ = (b);                                             \
    harness_checks++;                                                        \
    if (!(fabs(da_ - db_) <= (eps)))                                         \
      FAIL_AT("%s ~= %s: %.17g != %.17g", #a, #b, da_, db_);                 \
  } while (0)

/* Ends main: prints a summary line only on failure, and fails a test that
 * ran no check. */
#define HARNESS_EXIT()                                                       \
  do {                                                                       \
    if (harness_failed) {                                                    \
      fprintf(stderr, "%d of %d checks failed\n", harness_failed,            \
              harness_checks);                                               \
      return 1;                                                              \
    }                                                                        \
    if (harness_checks == 0) {                                               \
      fprintf(stderr, "no check ran\n");                                     \
      return 1;                                                              \
    }                                                                        \
    return 0;                                                                \
  } while (0)

#endif
