/*
 * testutil.h - helpers shared by the Check suites: run the built
 * `cutover` binary and capture what it prints, write temporary files,
 * and find the local test bed (ci/services) or skip loudly.
 *
 * Integration suites name the test-bed variables they need in their
 * TU_SUITE declaration (tu_suite.h), checked first: when the test bed
 * is not running they print why and exit 77, which CTest reports as
 * "Skipped" (never a silent pass). With CUTOVER_REQUIRE_TESTBED=1 (set by
 * ci/test) a missing test bed is a failure instead.
 */
#ifndef CUTOVER_TESTUTIL_H
#define CUTOVER_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct co_report;
struct co_result;

#define TU_SKIP 77

struct tu_proc {
    int status; /* exit code, or 128+signal */
    char *out;  /* everything written to stdout (NUL-terminated) */
    char *err;  /* everything written to stderr */
};

/* Runs the cutover binary with argv (argv[0] is ignored and may be NULL;
 * the list ends with NULL). env: extra "NAME=value" entries (NULL-ended)
 * added to the current environment, or NULL. cwd may be NULL. Stdin is
 * /dev/null. Kills the process after timeout_s seconds (status then is
 * 128+SIGKILL). Returns 0 or -1 if it could not run. */
int tu_run(struct tu_proc *p, const char *const *argv, const char *const *env,
           const char *cwd, int timeout_s);
void tu_proc_free(struct tu_proc *p);

/* Starts the cutover binary in the background as tu_run does (argv, env,
 * cwd; stdin /dev/null) with stdout on out_fd and stderr on err_fd (the
 * caller closes its copies). An env entry without '=' unsets that
 * variable. Returns the pid, or -1. */
pid_t tu_spawn(const char *const *argv, const char *const *env,
               const char *cwd, int out_fd, int err_fd);
/* Waits up to timeout_ms for pid to end: its exit code (128+signal when
 * killed by one), or -1 when it did not end in time (then it is killed
 * and reaped). */
int tu_reap(pid_t pid, int timeout_ms);
/* Whether pid is still running. An ended one is reaped: its exit code
 * is lost (tu_reap then returns -1). */
bool tu_alive(pid_t pid);

/* Appends a zeroed result of check on resource (a postgres resource) to
 * rep; source and target endpoints are copied (NULL: none). Reporter
 * tests build their reports with it. */
struct co_result *tu_add_result(struct co_report *rep, const char *check,
                                const char *resource, const char *source,
                                const char *target);

/* Creates a fresh temporary directory (removed by nothing: under /tmp). */
char *tu_tmpdir(void);
/* Writes contents to dir/name (dir NULL: a new tmpdir). Returns the
 * allocated path. */
char *tu_write_file(const char *dir, const char *name, const char *contents);
/* Reads a whole file; NULL if it cannot. *len may be NULL. */
char *tu_read_file(const char *path, size_t *len);
/* Runs a shell command line, returns its exit status; output captured
 * into *out when out is non-NULL (allocated). */
int tu_sh(const char *cmdline, char **out);
/* The command line fmt makes, run by the shell; asserts it exits 0
 * (naming the command and its output) and returns its output (stdout and
 * whatever the line redirects there; allocated). */
char *tu_sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A test-bed variable (e.g. "CUTOVER_TB_DNS"), or NULL when unset. */
const char *tu_tb(const char *name);
/* The port of the URL in a test-bed variable; exits the test program
 * when the URL does not parse. */
int tu_tb_port(const char *name);
/* Exits the whole test program with 77 (skip) - or 1 when
 * CUTOVER_REQUIRE_TESTBED=1 - printing a loud message, unless every
 * named variable (NULL-ended list) is set. */
void tu_testbed_require(const char *first, ...);
/* The same for a NULL-ended list of names. */
void tu_testbed_require_all(const char *const *names);

/* A free TCP port on 127.0.0.1 (bound then released: a small race a
 * test can live with), and whether something accepts on one. */
int tu_free_port(void);
bool tu_port_open(int port);

/* Path of the source tree; of the JUnit schemas the reports must validate
 * against (the project's own copy, tests/data/junit). */
const char *tu_source_dir(void);
const char *tu_xsd_dir(void);

#endif
