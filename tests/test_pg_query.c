/*
 * label: net
 * test_pg_query.c - the `pg.query` check end to end on the test bed's
 * two clusters: a faithful copy gives the same results; drift planted on
 * the target fails with row counts and the first differing row (masked);
 * `expect:` compares with a declared value; writes are refused before
 * they reach a server, and what slips through the scan is refused by
 * the read-only session; tables stay unchanged.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define DB "pg_query_db"

/* ---- running the binary ------------------------------------------------- */

static void run_check(const char *config, struct tu_outcome *o)
{
    const char *const args[] = {"--only", "pg.query", "--phase", "post", NULL};

    tu_check_run(config, args, NULL, 60, o);
}

/* A config: resource "main" on DB with `checks: pg.query:` set to the
 * YAML mapping `query` (one line), plus extra resources. */
static char *config_for(const char *query, const char *extra)
{
    char *src = tu_pg_url("source", DB), *tgt = tu_pg_url("target", DB);
    char *cfg = co_asprintf("version: 1\n"
                            "postgres:\n"
                            "  main:\n"
                            "    source: \"%s\"\n"
                            "    target: \"%s\"\n"
                            "%s"
                            "checks:\n"
                            "  pg.query: %s\n",
                            src, tgt, extra ? extra : "", query);
    free(src);
    free(tgt);
    return cfg;
}

/* ---- fixtures ------------------------------------------------------------
 */

static void setup_db(void)
{
    tu_pg_create(DB);
    tu_pg_sql("source", DB,
              "CREATE TABLE public.users (id serial PRIMARY KEY, name text, "
              "active bool);\n"
              "INSERT INTO users (name, active) SELECT 'user' || g, g % 2 = 0 "
              "FROM generate_series(1, 50) g;\n"
              "CREATE TABLE public.\"Service Links\" (id int PRIMARY KEY, "
              "url text);\n"
              "INSERT INTO \"Service Links\" VALUES "
              "(1, 'https://example.invalid/a'), "
              "(2, 'postgres://app:hunter2secret@db.invalid/app');\n");
    tu_pg_copy(DB);
}

static void teardown_db(void)
{
    tu_pg_drop(DB);
}

/* ---- tests ----------------------------------------------------------------
 */

static const char same_sql[] =
    "{sql: [\"active users: SELECT count(*) FROM users WHERE active\", "
    "\"SELECT id, name FROM users ORDER BY id\", "
    "\"SELECT name, active FROM users\", "
    "\"SHOW server_encoding\", "
    "\"VALUES (1, 'a'), (2, NULL)\", "
    "\"TABLE \\\"Service Links\\\"\", "
    "\"SELECT g, md5(g::text) FROM generate_series(1, 20000) g\"]}";

START_TEST(test_same_results_pass)
{
    struct tu_outcome o;
    char *cfg = config_for(same_sql, NULL);

    run_check(cfg, &o);
    tu_expect_on(&o, "main", "active users", "pass",
                 TU_WORDS("same result on both sides: 1 row", "(25)"));
    tu_expect_on(&o, "main", "SELECT id, name FROM users ORDER BY id", "pass",
                 TU_WORDS("50 rows"));
    tu_expect_on(&o, "main", "SELECT name, active FROM users", "pass",
                 TU_WORDS("50 rows"));
    tu_expect_on(&o, "main", "SHOW server_encoding", "pass",
                 TU_WORDS("(UTF8)"));
    tu_expect_on(&o, "main", "VALUES (1, 'a'), (2, NULL)", "pass",
                 TU_WORDS("2 rows"));
    tu_expect_on(&o, "main", "TABLE \"Service Links\"", "pass",
                 TU_WORDS("2 rows"));
    /* more rows than max_rows keeps: compared by hash */
    tu_expect_on(&o, "main",
                 "SELECT g, md5(g::text) FROM generate_series(1, 20000) g",
                 "pass", TU_WORDS("20000 rows"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_drift_fails_with_first_row)
{
    struct tu_outcome o;
    char *cfg;
    const char *msg;

    tu_pg_sql("target", DB,
              "UPDATE users SET name = 'renamed' WHERE id = 7;\n"
              "DELETE FROM users WHERE id = 9;\n"
              "UPDATE \"Service Links\" SET url = 'https://other.invalid' "
              "WHERE id = 2;");
    cfg = config_for(
        "{sql: [\"SELECT id, name FROM users WHERE id <= 30 "
        "ORDER BY id\", "
        "\"SELECT name FROM users WHERE id <= 30\", "
        "\"links: SELECT url FROM \\\"Service Links\\\" ORDER BY id\", "
        "\"big: SELECT g FROM generate_series(1, 100) g "
        "WHERE g <> (SELECT count(*) FROM users)\"], "
        "max_rows: 40}",
        NULL);
    run_check(cfg, &o);
    tu_expect_on(
        &o, "main", "SELECT id, name FROM users WHERE id <= 30 ORDER BY id",
        "fail",
        TU_WORDS("source 30 rows, target 29 rows", "first difference at row 7",
                 "source (7, user7)", "target (7, renamed)"));
    ck_assert_str_eq(
        tu_field(tu_find_case(&o, "main",
                              "SELECT id, name FROM users WHERE id <= 30 "
                              "ORDER BY id"),
                 "source"),
        "30 rows");
    tu_expect_on(&o, "main", "SELECT name FROM users WHERE id <= 30", "fail",
                 TU_WORDS("source 30 rows, target 29 rows", "row only on"));
    /* the first differing row holds a URL with a password: masked */
    msg = tu_expect_on(&o, "main", "links", "fail",
                       TU_WORDS("source 2 rows, target 2 rows",
                                "first difference at row 2",
                                "source (postgres://app:***@"));
    ck_assert_msg(!tu_mentions(&o, "hunter2secret"), "%s", msg);
    /* beyond max_rows no row is shown, the hashes still differ */
    tu_expect_on(&o, "main", "big", "fail",
                 TU_WORDS("source 99 rows, target 99 rows",
                          "more than max_rows 40 rows"));
    ck_assert_int_eq(o.status, 1);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_expect)
{
    struct tu_outcome o;
    char *tgt = tu_pg_url("target", DB);
    char *extra = co_asprintf("  taronly:\n    target: \"%s\"\n", tgt);
    char *cfg = config_for("{sql: [\"active: SELECT count(*) FROM users "
                           "WHERE active\", \"SELECT 'x' WHERE false\", "
                           "\"SELECT 25, 26\"], expect: \"25\"}",
                           extra);

    run_check(cfg, &o);
    tu_expect_on(&o, "main", "active", "pass",
                 TU_WORDS("source 25, target 25", "(expected 25)"));
    tu_expect_on(&o, "taronly", "active", "pass",
                 TU_WORDS("target 25 (expected 25)"));
    tu_expect_on(&o, "main", "SELECT 'x' WHERE false", "fail",
                 TU_WORDS("returned 0 rows"));
    tu_expect_on(&o, "main", "SELECT 25, 26", "fail",
                 TU_WORDS("several columns"));
    ck_assert_int_eq(o.status, 1);
    tu_outcome_free(&o);
    free(cfg);

    tu_pg_sql("target", DB, "UPDATE users SET active = true WHERE id = 1;");
    cfg = config_for("{sql: [\"active: SELECT count(*) FROM users WHERE "
                     "active\"], expect: \"25\", side: target}",
                     NULL);
    run_check(cfg, &o);
    tu_expect_on(&o, "main", "active", "fail",
                 TU_WORDS("target 26 (expected 25)"));
    ck_assert_str_eq(tu_field(tu_find_case(&o, "main", "active"), "target"),
                     "26");
    ck_assert_msg(strstr(tu_expect_on(&o, "main", "active", "fail", NULL),
                         "source") == NULL,
                  "side: target ran on the source: %s", o.text);
    tu_outcome_free(&o);
    free(cfg);
    tu_pg_sql("target", DB, "UPDATE users SET active = false WHERE id = 1;");
    free(extra);
    free(tgt);
}
END_TEST

/* Writes: refused before sending (the server log never sees them), or
 * by the read-only session (SQLSTATE 25006). Nothing changes. */
START_TEST(test_writes_refused)
{
    struct tu_outcome o;
    const char *log = tu_tb("CUTOVER_TB_PG_SOURCE_LOG");
    char *before[2], *after[2], *seq[2], *logtext;
    char *cfg = config_for(
        "{sql: [\"ins: INSERT INTO users (name) VALUES ('pgq-marker-1')\", "
        "\"upd: SELECT * FROM users FOR UPDATE\", "
        "\"cte: WITH d AS (DELETE FROM users RETURNING *) "
        "SELECT count(*) FROM d\", "
        "\"two: SELECT 1; DELETE FROM users\", "
        "\"share: SELECT * FROM users FOR SHARE\", "
        "\"ok: SELECT 'pgq-marker-2 delete'\"]}",
        NULL);

    for (int s = 0; s < 2; s++) {
        const char *side = s ? "target" : "source";
        before[s] = tu_pg_query(side, DB,
                                "SELECT count(*), sum(hashtext("
                                "name)) FROM users");
        seq[s] = tu_pg_query(side, DB, "SELECT last_value FROM users_id_seq");
    }
    run_check(cfg, &o);
    tu_expect_on(&o, "main", "ins", "error",
                 TU_WORDS("only read-only queries are allowed"));
    tu_expect_on(&o, "main", "upd", "error",
                 TU_WORDS("only read-only queries are allowed", "update"));
    tu_expect_on(&o, "main", "cte", "error",
                 TU_WORDS("only read-only queries are allowed", "delete"));
    tu_expect_on(&o, "main", "two", "error", TU_WORDS("one statement"));
    tu_expect_on(&o, "main", "share", "error",
                 TU_WORDS("read-only transaction", "25006"));
    /* keywords inside quotes are data, not statements */
    tu_expect_on(&o, "main", "ok", "pass", TU_WORDS("pgq-marker-2 delete"));
    ck_assert_int_eq(o.status, 2);
    tu_outcome_free(&o);
    for (int s = 0; s < 2; s++) {
        const char *side = s ? "target" : "source";
        char *now =
            tu_pg_query(side, DB, "SELECT last_value FROM users_id_seq");
        after[s] = tu_pg_query(side, DB,
                               "SELECT count(*), sum(hashtext("
                               "name)) FROM users");
        ck_assert_str_eq(before[s], after[s]);
        ck_assert_str_eq(seq[s], now);
        free(now);
        free(before[s]);
        free(after[s]);
        free(seq[s]);
    }
    if (log != NULL) {
        logtext = tu_read_file(log, NULL);
        ck_assert_ptr_nonnull(logtext);
        ck_assert_msg(strstr(logtext, "pgq-marker-1") == NULL,
                      "a refused INSERT reached the server");
        ck_assert_msg(strstr(logtext, "pgq-marker-2") != NULL,
                      "the allowed query is not in the server log");
        free(logtext);
    }
    free(cfg);
}
END_TEST

START_TEST(test_sides)
{
    struct tu_outcome o;
    char *src = tu_pg_url("source", DB);
    char *extra =
        co_asprintf("  srconly:\n    source: \"%s\"\n"
                    "  down:\n    source: \"%s\"\n"
                    "    target: \"postgres://cutover:x@127.0.0.1:%s/%s"
                    "?sslmode=require\"\n",
                    src, src, tu_tb("CUTOVER_TB_CLOSED_PORT"), DB);
    char *cfg = config_for("{sql: [\"n: SELECT count(*) FROM users\", "
                           "\"m: SELECT 1\"]}",
                           extra);

    run_check(cfg, &o);
    tu_expect_on(&o, "main", "n", "pass", TU_WORDS("(50)"));
    tu_expect_on(&o, "srconly", "srconly", "skip",
                 TU_WORDS("no target configured"));
    tu_expect_on(&o, "down", "n", "error", TU_WORDS("target", "refused"));
    tu_expect_on(&o, "down", "m", "error", TU_WORDS("target", "refused"));
    ck_assert_int_eq(o.status, 2);
    tu_outcome_free(&o);
    free(cfg);

    /* no statements declared: nothing to do */
    cfg = config_for("{side: both}", NULL);
    run_check(cfg, &o);
    tu_expect_on(&o, "main", "main", "skip",
                 TU_WORDS("no statements declared"));
    tu_outcome_free(&o);
    free(cfg);
    free(extra);
    free(src);
}
END_TEST

static Suite *query_suite(void)
{
    Suite *s = suite_create("pg_query");
    TCase *tc = tcase_create("clusters");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, setup_db, teardown_db);
    tcase_add_test(tc, test_same_results_pass);
    tcase_add_test(tc, test_expect);
    tcase_add_test(tc, test_writes_refused);
    tcase_add_test(tc, test_sides);
    /* last: it plants drift on the target */
    tcase_add_test(tc, test_drift_fails_with_first_row);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = query_suite, .pg = true,
         .testbed = TU_VARS("CUTOVER_TB_CLOSED_PORT"));
