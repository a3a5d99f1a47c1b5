/*
 * itest.h - the smallest possible harness for integration tests: each check
 * prints one TAP-style line ("ok - name" / "not ok - name # detail") and
 * itest_done() returns the exit status.  tests/run-tests.sh counts the lines.
 *
 * Integration tests run against the suite tests/run-tests.sh started, found
 * through the environment:
 *   SAMSPIL_HOME          the suite's home (sockets, logs, pid files)
 *   SAMSPIL_BROKER        broker endpoint for clients and workers
 *   SAMSPIL_BIN           directory of the built programs
 *   SAMSPIL_OWNER_DB      libpq conninfo as the schema owner, for checks that
 *                         look behind the services (never used to write data
 *                         the services should write)
 * Header-only; each test is its own program.
 */
#ifndef ITEST_H
#define ITEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int itest_passed_count, itest_failed_count;

/* Record one check; `fmt` (optional detail) is printed after '#' when it failed. */
static inline int
itest_check(int ok, const char *name, const char *fmt, ...)
{
    if (ok) {
        itest_passed_count++;
        printf("ok - %s\n", name);
    } else {
        itest_failed_count++;
        printf("not ok - %s", name);
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            printf(" # ");
            vprintf(fmt, ap);
            va_end(ap);
        }
        printf("\n");
    }
    fflush(stdout);
    return ok;
}

#define ITEST_CHECK(cond, name) itest_check((cond) ? 1 : 0, (name), "%s", #cond)
#define ITEST_CHECKF(cond, name, ...) itest_check((cond) ? 1 : 0, (name), __VA_ARGS__)

/* Value of a required environment variable; exits 2 with a message if unset. */
static inline const char *
itest_env(const char *name)
{
    const char *value = getenv(name);
    if (!value || !*value) {
        fprintf(stderr, "itest: %s is not set (run through tests/run-tests.sh)\n", name);
        exit(2);
    }
    return value;
}

/* Exit status for main(): 0 if every check passed. */
static inline int
itest_done(void)
{
    return itest_failed_count ? 1 : 0;
}

#endif
