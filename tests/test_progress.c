/*
 * label: net
 * test_progress.c - progress of long checks, on the real test bed.
 *
 * pg.checksum and pg.rowcount on a 600k-row table and redis.keyspace on
 * 50k keys, with stderr on a pseudo-terminal: the live block shows a
 * line per running task with rows or keys done, the estimate, a rate and
 * an ETA, redrawn in place; stdout (the text report) and the report
 * files hold none of it. Without a terminal, `--progress plain` (or
 * --verbose) prints a line per running task every
 * CUTOVER_PROGRESS_INTERVAL, and the default prints nothing.
 *
 * Uses database progress_t on both clusters and keys "prog:*" in Redis
 * db 10 (no other suite uses them).
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, ptsname */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define DB       "progress_t"
#define REDIS_DB 10
#define NKEYS    "50000"

static const char data_sql[] =
    "CREATE TABLE wide (id bigint PRIMARY KEY, t text, ts timestamptz);"
    "INSERT INTO wide SELECT g, md5(g::text), '2020-01-01'::timestamptz"
    " + g * interval '1 second' FROM generate_series(1, 600000) g;"
    "CREATE TABLE small (id int PRIMARY KEY);"
    "INSERT INTO small SELECT generate_series(1, 100);"
    "VACUUM ANALYZE;";

static int ports[2];

/* NKEYS keys prog:1 .. prog:NKEYS, through one pipelined connection. */
static void redis_fill(int port)
{
    char *sh = co_asprintf("seq 1 " NKEYS " | awk '{ print \"SET prog:\" $1 "
                           "\" v\" }' | redis-cli -h 127.0.0.1 -p %d -n %d "
                           "--pipe >/dev/null",
                           port, REDIS_DB);
    ck_assert_int_eq(tu_sh(sh, NULL), 0);
    free(sh);
}

static void redis_clean(void)
{
    for (int i = 0; i < 2; i++) {
        char *sh = co_asprintf(
            "redis-cli -h 127.0.0.1 -p %d -n %d --scan --pattern 'prog:*' "
            "| xargs -r -n 1000 redis-cli -h 127.0.0.1 -p %d -n "
            "%d DEL >/dev/null",
            ports[i], REDIS_DB, ports[i], REDIS_DB);
        ck_assert_int_eq(tu_sh(sh, NULL), 0);
        free(sh);
    }
}

static void setup(void)
{
    tu_pg_create(DB);
    tu_pg_sql("source", DB, data_sql);
    tu_pg_copy(DB);
    redis_clean();
    for (int i = 0; i < 2; i++)
        redis_fill(ports[i]);
}

static void teardown(void)
{
    tu_pg_drop(DB);
    redis_clean();
}

/* pg.checksum (its root pass cut in 4 block ranges, so progress moves
 * in steps), pg.rowcount, redis.keyspace (small SCAN batches). */
static char *config(void)
{
    char *src = tu_pg_url("source", DB), *tgt = tu_pg_url("target", DB);
    const char *pw = tu_tb("CUTOVER_TB_REDIS_PASSWORD");
    char *cfg =
        co_asprintf("version: 1\n"
                    "settings: {jobs: 4, timeout: 120s}\n"
                    "postgres:\n"
                    "  main:\n"
                    "    source: \"%s\"\n"
                    "    target: \"%s\"\n"
                    "redis:\n"
                    "  cache:\n"
                    "    source: \"redis://:%s@127.0.0.1:%d/%d\"\n"
                    "    target: \"redis://:%s@127.0.0.1:%d/%d\"\n"
                    "    queues: none\n"
                    "    patterns: [\"prog:1*\", \"prog:2*\"]\n"
                    "checks:\n"
                    "  pg.checksum: {chunk_bytes: 8192}\n"
                    "  redis.keyspace: {scan_count: 100, types: 1}\n",
                    src, tgt, pw, ports[0], REDIS_DB, pw, ports[1], REDIS_DB);
    free(src);
    free(tgt);
    return cfg;
}

static const char *const checks_args[] = {
    "--phase",     "post",   "--only",         "pg.checksum", "--only",
    "pg.rowcount", "--only", "redis.keyspace", NULL};

/* What a progress line or frame contains, which no report may. */
static void expect_no_progress(const char *what, const char *text)
{
    static const char *const marks[] = {"rows/s", "keys/s", "ETA", "\033[",
                                        "of ~"};

    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        ck_assert_msg(strstr(text, marks[i]) == NULL,
                      "%s holds progress (\"%s\"):\n%s", what, marks[i], text);
}

static char *read_in(const char *dir, const char *name)
{
    char *path = co_asprintf("%s/%s", dir, name);
    char *s = tu_read_file(path, NULL);

    ck_assert_msg(s != NULL, "%s missing", path);
    free(path);
    return s;
}

/* Runs cutover with stderr on a new pseudo-terminal and stdout into
 * dir/stdout.txt; returns everything the terminal received. */
static char *run_on_pty(const char *dir, const char *const *extra, int *status)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY), slave, out;
    const char *argv[32] = {NULL,          "check",   "-c",
                            "cutover.yml", "--json",  "out.json",
                            "--junit",     "out.xml", NULL};
    const char *env[] = {"TERM=xterm", "NO_COLOR", NULL};
    char *stdout_path = co_asprintf("%s/stdout.txt", dir);
    size_t n = 8;
    struct co_buf got;
    pid_t pid;

    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    out = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_msg(slave >= 0 && out >= 0, "cannot open the terminal or %s",
                  stdout_path);
    for (size_t i = 0; extra[i] != NULL && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid = tu_spawn(argv, env, dir, out, slave);
    ck_assert_int_ge(pid, 0);
    close(slave);
    close(out);
    free(stdout_path);
    co_buf_init(&got);
    for (;;) {
        struct pollfd pf = {master, POLLIN, 0};
        char buf[4096];
        ssize_t r;
        int st;

        if (poll(&pf, 1, 200) > 0) {
            r = read(master, buf, sizeof(buf));
            if (r > 0) {
                co_buf_add(&got, buf, (size_t)r);
                continue;
            }
        }
        if (waitpid(pid, &st, WNOHANG) == pid) {
            while (poll(&pf, 1, 50) > 0 &&
                   (r = read(master, buf, sizeof(buf))) > 0)
                co_buf_add(&got, buf, (size_t)r);
            *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
            break;
        }
    }
    close(master);
    return got.s ? co_buf_take(&got) : co_strdup("");
}

START_TEST(live_block_on_a_terminal_only)
{
    char *dir = tu_tmpdir(), *cfg = config(), *tty, *out, *json, *xml;
    int status = -1;

    free(tu_write_file(dir, "cutover.yml", cfg));
    tty = run_on_pty(dir, checks_args, &status);
    /* 0, or 1 when another suite's keys sit in the same Redis db: the
     * verdicts are not this suite's business, the output is */
    ck_assert_msg(status == 0 || status == 1, "exit %d:\n%s", status, tty);
    /* a line per running task: done of the estimate, rate, ETA */
    ck_assert_msg(strstr(tty, "pg.checksum main: ") != NULL, "%s", tty);
    ck_assert_msg(strstr(tty, "pg.rowcount main: ") != NULL, "%s", tty);
    ck_assert_msg(strstr(tty, "redis.keyspace cache: ") != NULL, "%s", tty);
    /* Rows count as each root chunk of pg.checksum finishes: on a fast
     * machine the last chunk may end before the next redraw, so a rate
     * for rows is not promised; the keys' rate (a SCAN step at a time)
     * is. */
    ck_assert_msg(strstr(tty, " keys/s, ETA ") != NULL, "%s", tty);
    ck_assert_msg(strstr(tty, "of ~600k rows") != NULL ||
                      strstr(tty, "of 600k rows") != NULL,
                  "%s", tty);
    /* redrawn in place (cursor up, erase below), erased at the end */
    ck_assert_ptr_nonnull(strstr(tty, "\033[J"));
    ck_assert_ptr_nonnull(strstr(tty, "A\r\033[J"));
    /* the text report is on stdout, untouched */
    out = read_in(dir, "stdout.txt");
    ck_assert_ptr_nonnull(strstr(out, "public.wide"));
    expect_no_progress("stdout", out);
    json = read_in(dir, "out.json");
    xml = read_in(dir, "out.xml");
    expect_no_progress("the JSON report", json);
    expect_no_progress("the JUnit report", xml);
    free(out);
    free(json);
    free(xml);
    free(tty);
    free(cfg);
    free(dir);
}
END_TEST

/* Without a terminal, on a pipe as in CI. */
static void run_piped(const char *mode, bool verbose, struct tu_proc *p,
                      char **dir_out)
{
    char *dir = tu_tmpdir(), *cfg = config();
    const char *argv[24] = {NULL,          "check",  "-c",
                            "cutover.yml", "--json", "out.json"};
    const char *env[] = {"CUTOVER_PROGRESS_INTERVAL=200ms", NULL};
    size_t n = 6;

    free(tu_write_file(dir, "cutover.yml", cfg));
    for (size_t i = 0; checks_args[i] != NULL; i++)
        argv[n++] = checks_args[i];
    if (mode != NULL) {
        argv[n++] = "--progress";
        argv[n++] = mode;
    }
    if (verbose)
        argv[n++] = "--verbose";
    argv[n] = NULL;
    ck_assert_int_eq(tu_run(p, argv, env, dir, 120), 0);
    ck_assert_msg(p->status == 0 || p->status == 1, "exit %d: %s", p->status,
                  p->err);
    free(cfg);
    *dir_out = dir;
}

START_TEST(plain_lines_in_ci_logs)
{
    struct tu_proc p;
    char *dir, *json;

    run_piped("plain", false, &p, &dir);
    ck_assert_msg(strstr(p.err, "cutover: [") != NULL &&
                      strstr(p.err, "pg.checksum main: ") != NULL,
                  "no progress line on stderr:\n%s", p.err);
    ck_assert_msg(strstr(p.err, " rows") != NULL, "%s", p.err);
    ck_assert_ptr_null(strstr(p.err, "\033["));
    expect_no_progress("stdout", p.out);
    json = read_in(dir, "out.json");
    expect_no_progress("the JSON report", json);
    free(json);
    free(dir);
    tu_proc_free(&p);
}
END_TEST

START_TEST(verbose_means_plain_off_a_terminal)
{
    struct tu_proc p;
    char *dir;

    run_piped(NULL, true, &p, &dir);
    ck_assert_msg(strstr(p.err, "pg.checksum main: ") != NULL,
                  "no progress line with --verbose:\n%s", p.err);
    expect_no_progress("stdout", p.out);
    free(dir);
    tu_proc_free(&p);
}
END_TEST

/* No progress line in err (may be NULL: nothing written). */
static void expect_silent(const char *why, const char *err)
{
    const char *e = err != NULL ? err : "";

    ck_assert_msg(strstr(e, "main: ") == NULL, "progress %s:\n%s", why, e);
}

START_TEST(quiet_by_default_off_a_terminal)
{
    struct tu_proc p;
    char *dir;

    run_piped(NULL, false, &p, &dir);
    expect_silent("without a terminal or --progress", p.err);
    free(dir);
    tu_proc_free(&p);
    run_piped("none", true, &p, &dir);
    expect_silent("--progress none", p.err);
    free(dir);
    tu_proc_free(&p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("progress");
    TCase *t = tcase_create("testbed");

    tcase_add_unchecked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 300);
    tcase_add_test(t, live_block_on_a_terminal_only);
    tcase_add_test(t, plain_lines_in_ci_logs);
    tcase_add_test(t, verbose_means_plain_off_a_terminal);
    tcase_add_test(t, quiet_by_default_off_a_terminal);
    suite_add_tcase(s, t);
    return s;
}

static int progress_setup(void)
{
    setenv("REDISCLI_AUTH", tu_tb("CUTOVER_TB_REDIS_PASSWORD"), 1);
    ports[0] = tu_tb_port("CUTOVER_TB_REDIS_SOURCE_URL");
    ports[1] = tu_tb_port("CUTOVER_TB_REDIS_TARGET_URL");
    return 0;
}

TU_SUITE(.make = suite, .pg = true,
         .testbed = TU_VARS("CUTOVER_TB_REDIS_PASSWORD",
                            "CUTOVER_TB_REDIS_SOURCE_URL"),
         .setup = progress_setup);
