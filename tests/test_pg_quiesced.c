/*
 * label: net
 * test_pg_quiesced.c - the `pg.quiesced` check end to end against the
 * test bed's source cluster: a quiet database passes, a writer running
 * in another process during the window fails naming its table, an open
 * write transaction fails although no counter moved yet, DDL is a warn,
 * and a missing or oversized window is a skip or an error.
 *
 * Background sessions are psql processes this test starts (each ends on
 * its own within a few seconds; the test waits for them by pid).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define DB "pg_quiesced_db"

/* ---- background sessions ----------------------------------------------- */

/* Starts `sql` in a psql of its own on the source as the superuser;
 * returns its pid. */
static pid_t bg_start(const char *sql)
{
    char *dir = tu_tmpdir();
    char *file = tu_write_file(dir, "bg.sql", sql);
    char *url = tu_pg_admin_url("source", DB);
    char *cmd = co_asprintf("PGAPPNAME=pgquiesced_bg psql '%s' -X -q -f %s "
                            ">/dev/null 2>&1 & echo $!",
                            url, file);
    char *out = NULL;
    pid_t pid;

    ck_assert_int_eq(tu_sh(cmd, &out), 0);
    pid = (pid_t)strtol(out ? out : "0", NULL, 10);
    ck_assert_int_gt(pid, 0);
    free(out);
    free(cmd);
    free(url);
    free(file);
    free(dir);
    return pid;
}

/* Waits (bounded) for a background psql to end; kills it by pid if it
 * overstays. */
static void bg_wait(pid_t pid)
{
    for (int i = 0; i < 150 && kill(pid, 0) == 0; i++)
        usleep(100 * 1000);
    if (kill(pid, 0) == 0)
        kill(pid, SIGTERM);
}

/* Waits until the source shows the background session (so the window
 * starts with it running). */
static void bg_seen(void)
{
    for (int i = 0; i < 100; i++) {
        char *n = tu_pg_query("source", DB,
                              "SELECT count(*) FROM pg_stat_activity "
                              "WHERE application_name = 'pgquiesced_bg' "
                              "AND state = 'active'");
        bool seen = strcmp(n, "0") != 0;
        free(n);
        if (seen)
            return;
        usleep(50 * 1000);
    }
    ck_abort_msg("background session never showed up");
}

/* ---- running the binary ------------------------------------------------- */

static void run_check(const char *config, struct tu_outcome *o)
{
    const char *const args[] = {"--only", "pg.quiesced", "--phase", "pre",
                                NULL};

    tu_check_run(config, args, NULL, 60, o);
}

/* The one case of `resource`: status and words of its message. */
static const char *expect_case(const struct tu_outcome *o,
                               const char *resource, const char *status,
                               const char *const *words)
{
    return tu_expect_sole(o, "pg.quiesced", resource, status, words);
}

static char *config_window(const char *window, const char *timeout)
{
    char *url = tu_pg_url("source", DB);
    char *cfg = co_asprintf("version: 1\n"
                            "settings: {timeout: %s}\n"
                            "postgres:\n"
                            "  main:\n"
                            "    source: \"%s\"\n"
                            "    quiesce_window: %s\n",
                            timeout, url, window);
    free(url);
    return cfg;
}

/* ---- tests -------------------------------------------------------------- */

static void setup_db(void)
{
    tu_pg_create(DB);
    tu_pg_sql("source", DB,
              "CREATE TABLE public.orders (id serial PRIMARY KEY, v int);\n"
              "CREATE TABLE public.\"Audit Log\" (id serial PRIMARY KEY, "
              "at timestamptz DEFAULT now());\n"
              "INSERT INTO orders (v) SELECT generate_series(1, 100);");
    /* the setup session has ended, so its counters are flushed; give the
     * stats a moment anyway */
    usleep(300 * 1000);
}

START_TEST(test_quiet_passes)
{
    struct tu_outcome o;
    char *cfg = config_window("2s", "30s");

    run_check(cfg, &o);
    expect_case(&o, "main", "pass", TU_WORDS("no writes in 2s"));
    /* it really waited for the window */
    ck_assert_msg(o.took_ms >= 2000, "took %lld ms", (long long)o.took_ms);
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_writer_fails)
{
    struct tu_outcome o;
    struct co_buf sql;
    char *cfg = config_window("2s", "30s");
    char *before, *after;
    pid_t pid;

    co_buf_init(&sql);
    for (int i = 0; i < 30; i++)
        co_buf_puts(&sql, "INSERT INTO \"Audit Log\" DEFAULT VALUES;\n"
                          "SELECT pg_sleep(0.2);\n");
    before = tu_pg_query("source", DB, "SELECT count(*) FROM orders");
    pid = bg_start(sql.s);
    bg_seen();
    run_check(cfg, &o);
    expect_case(&o, "main", "fail",
                TU_WORDS("writes during the 2s window:",
                         "public.\"Audit Log\" +", "inserted"));
    /* orders was not written: not named */
    ck_assert_msg(strstr(o.text, "public.orders") == NULL, "%s", o.text);
    ck_assert_int_eq(o.status, 1);
    tu_outcome_free(&o);
    bg_wait(pid);
    after = tu_pg_query("source", DB, "SELECT count(*) FROM orders");
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    co_buf_free(&sql);
    free(cfg);
}
END_TEST

/* Rows of an open transaction reach the counters only at commit: the
 * transaction id it holds gives it away. */
START_TEST(test_open_write_transaction_fails)
{
    struct tu_outcome o;
    char *cfg = config_window("1s", "30s");
    pid_t pid;

    pid = bg_start("BEGIN;\n"
                   "UPDATE orders SET v = v + 1 WHERE id = 1;\n"
                   "SELECT pg_sleep(5);\n"
                   "ROLLBACK;\n");
    bg_seen();
    run_check(cfg, &o);
    expect_case(&o, "main", "fail",
                TU_WORDS("open write transaction", "pgquiesced_bg",
                         "holds a transaction id"));
    ck_assert_int_eq(o.status, 1);
    tu_outcome_free(&o);
    bg_wait(pid);
    free(cfg);
}
END_TEST

START_TEST(test_ddl_warns)
{
    struct tu_outcome o;
    /* The DDL comes 1.5 s after the writer connects: the check must have
     * taken its first sample by then, even in a sanitizer build. */
    char *cfg = config_window("4s", "30s");
    pid_t pid;

    pid = bg_start("SELECT pg_sleep(1.5);\n"
                   "CREATE TABLE public.created_later (id int);\n");
    bg_seen();
    run_check(cfg, &o);
    expect_case(&o, "main", "warn",
                TU_WORDS("no writes to tables in 4s",
                         "system catalogs changed", "pg_catalog.pg_class +"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    bg_wait(pid);
    tu_pg_sql("source", DB, "DROP TABLE public.created_later;");
    free(cfg);
}
END_TEST

START_TEST(test_window_rules)
{
    struct tu_outcome o;
    char *url = tu_pg_url("source", DB);
    char *cfg =
        co_asprintf("version: 1\n"
                    "settings: {timeout: 5s}\n"
                    "postgres:\n"
                    "  nowindow:\n"
                    "    source: \"%s\"\n"
                    "  toolong:\n"
                    "    source: \"%s\"\n"
                    "    quiesce_window: 10s\n"
                    "  notarget:\n"
                    "    target: \"%s\"\n"
                    "    quiesce_window: 1s\n"
                    "  down:\n"
                    "    source: \"postgres://cutover:x@127.0.0.1:%s/%s"
                    "?sslmode=require\"\n"
                    "    quiesce_window: 1s\n",
                    url, url, url, tu_tb("CUTOVER_TB_CLOSED_PORT"), DB);

    run_check(cfg, &o);
    expect_case(&o, "nowindow", "skip", TU_WORDS("quiesce_window not set"));
    expect_case(&o, "toolong", "error",
                TU_WORDS("quiesce_window 10s exceeds the task "
                         "timeout 5s"));
    expect_case(&o, "notarget", "skip", TU_WORDS("no source configured"));
    expect_case(&o, "down", "error", TU_WORDS("source", "refused"));
    ck_assert_int_eq(o.status, 2);
    /* nothing waited for a window that could not be checked */
    ck_assert_msg(o.took_ms < 4000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
    free(cfg);
    free(url);
}
END_TEST

static void teardown(void)
{
    tu_pg_drop(DB);
}

static Suite *quiesced_suite(void)
{
    Suite *s = suite_create("pg_quiesced");
    TCase *tc = tcase_create("source");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, setup_db, teardown);
    tcase_add_test(tc, test_window_rules);
    tcase_add_test(tc, test_quiet_passes);
    tcase_add_test(tc, test_writer_fails);
    tcase_add_test(tc, test_open_write_transaction_fails);
    tcase_add_test(tc, test_ddl_warns);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = quiesced_suite, .pg = true,
         .testbed = TU_VARS("CUTOVER_TB_CLOSED_PORT"));
