/*
 * tu_suite.h - what a Check suite file declares so the one main of the
 * suites (tu_main.c) can run it: its Suite maker, the test-bed variables
 * it needs, and any one-time set-up and tear-down. Each tests/test_*.c
 * ends with one declaration, e.g.
 *
 *     TU_SUITE(.make = dns_suite,
 *              .testbed = TU_VARS("CUTOVER_TB_DNS", "CUTOVER_TB_DNS_STALE"));
 *
 * The main checks the test bed first (tu_pg_require, then
 * tu_testbed_require on testbed: skip 77, or fail under
 * CUTOVER_REQUIRE_TESTBED=1), then runs setup, builds and runs the suite,
 * runs teardown, and exits 0 when every test passed, else 1.
 */
#ifndef CUTOVER_TU_SUITE_H
#define CUTOVER_TU_SUITE_H

#include <check.h>
#include <stdbool.h>

struct tu_suite_def {
    Suite *(*make)(void);       /* builds the suite (required) */
    bool pg;                    /* needs the PostgreSQL test bed */
    const char *const *testbed; /* further test-bed variables, or NULL */
    /* One-time set-up after the test-bed check, or NULL: returns 0 to go
     * on, else the exit code of the program (e.g. TU_SKIP). */
    int (*setup)(void);
    void (*teardown)(void); /* after the run, or NULL */
    bool ck_env;            /* print as CK_VERBOSITY says, not CK_NORMAL */
};

/* The suite of this test program: defined by TU_SUITE in its file. */
extern const struct tu_suite_def tu_suite;

#define TU_SUITE(...) const struct tu_suite_def tu_suite = {__VA_ARGS__}
/* A NULL-ended list of test-bed variable names for .testbed. */
#define TU_VARS(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
