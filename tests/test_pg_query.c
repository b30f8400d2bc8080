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
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"

#define DB "pg_query_db"

/* ---- running the binary ------------------------------------------------- */

struct outcome {
    int status;
    json_t *report;
    char *text;
};

static void run_check(const char *config, struct outcome *o)
{
    char *dir = tu_tmpdir();
    char *cfg = tu_write_file(dir, "cutover.yml", config);
    char *json = co_asprintf("%s/report.json", dir);
    const char *argv[] = {"cutover", "check",    "-c",      cfg,
                          "--only",  "pg.query", "--phase", "post",
                          "--json",  json,       NULL};
    struct tu_proc p;
    json_error_t jerr;
    char *raw;

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 60), 0);
    raw = tu_read_file(json, NULL);
    o->status = p.status;
    o->text = co_asprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s\n--- "
                          "json\n%s",
                          p.status, p.out ? p.out : "", p.err ? p.err : "",
                          raw ? raw : "");
    o->report = json_load_file(json, 0, &jerr);
    ck_assert_msg(o->report != NULL, "no JSON report (%s): %s", jerr.text,
                  o->text);
    free(raw);
    tu_proc_free(&p);
    unlink(json);
    unlink(cfg);
    rmdir(dir);
    free(json);
    free(cfg);
    free(dir);
}

static void outcome_free(struct outcome *o)
{
    json_decref(o->report);
    free(o->text);
}

static json_t *find_case(const struct outcome *o, const char *resource,
                         const char *name)
{
    json_t *checks = json_object_get(o->report, "checks"), *c, *k;
    size_t i, j;

    json_array_foreach(checks, i, c)
    {
        const char *res = json_string_value(json_object_get(c, "resource"));
        if (res == NULL || strcmp(res, resource) != 0)
            continue;
        json_array_foreach(json_object_get(c, "cases"), j, k)
        {
            const char *n = json_string_value(json_object_get(k, "name"));
            if (n != NULL && strcmp(n, name) == 0)
                return k;
        }
    }
    return NULL;
}

static const char *expect_case(const struct outcome *o, const char *resource,
                               const char *name, const char *status,
                               const char *const *words)
{
    json_t *c = find_case(o, resource, name);
    const char *st, *msg;

    ck_assert_msg(c != NULL, "no case %s/%s: %s", resource, name, o->text);
    st = json_string_value(json_object_get(c, "status"));
    msg = json_string_value(json_object_get(c, "message"));
    ck_assert_msg(strcmp(st, status) == 0, "%s/%s: want %s, got %s: %s",
                  resource, name, status, st, msg);
    for (size_t i = 0; words[i] != NULL; i++)
        ck_assert_msg(strstr(msg, words[i]) != NULL,
                      "%s/%s: \"%s\" not in \"%s\"", resource, name, words[i],
                      msg);
    return msg;
}

static const char *case_field(const struct outcome *o, const char *resource,
                              const char *name, const char *field)
{
    json_t *c = find_case(o, resource, name);

    ck_assert_msg(c != NULL, "no case %s/%s", resource, name);
    return json_string_value(json_object_get(c, field));
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
    struct outcome o;
    char *cfg = config_for(same_sql, NULL);

    run_check(cfg, &o);
    expect_case(&o, "main", "active users", "pass",
                (const char *const[]){"same result on both sides: 1 row",
                                      "(25)", NULL});
    expect_case(&o, "main", "SELECT id, name FROM users ORDER BY id", "pass",
                (const char *const[]){"50 rows", NULL});
    expect_case(&o, "main", "SELECT name, active FROM users", "pass",
                (const char *const[]){"50 rows", NULL});
    expect_case(&o, "main", "SHOW server_encoding", "pass",
                (const char *const[]){"(UTF8)", NULL});
    expect_case(&o, "main", "VALUES (1, 'a'), (2, NULL)", "pass",
                (const char *const[]){"2 rows", NULL});
    expect_case(&o, "main", "TABLE \"Service Links\"", "pass",
                (const char *const[]){"2 rows", NULL});
    /* more rows than max_rows keeps: compared by hash */
    expect_case(&o, "main",
                "SELECT g, md5(g::text) FROM generate_series(1, 20000) g",
                "pass", (const char *const[]){"20000 rows", NULL});
    ck_assert_msg(o.status == 0, "%s", o.text);
    outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_drift_fails_with_first_row)
{
    struct outcome o;
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
    expect_case(
        &o, "main", "SELECT id, name FROM users WHERE id <= 30 ORDER BY id",
        "fail",
        (const char *const[]){"source 30 rows, target 29 rows",
                              "first difference at row 7", "source (7, user7)",
                              "target (7, renamed)", NULL});
    ck_assert_str_eq(
        case_field(&o, "main",
                   "SELECT id, name FROM users WHERE id <= 30 ORDER BY id",
                   "source"),
        "30 rows");
    expect_case(&o, "main", "SELECT name FROM users WHERE id <= 30", "fail",
                (const char *const[]){"source 30 rows, target 29 rows",
                                      "row only on", NULL});
    /* the first differing row holds a URL with a password: masked */
    msg = expect_case(&o, "main", "links", "fail",
                      (const char *const[]){"source 2 rows, target 2 rows",
                                            "first difference at row 2",
                                            "source (postgres://app:***@",
                                            NULL});
    ck_assert_msg(strstr(o.text, "hunter2secret") == NULL, "%s", msg);
    /* beyond max_rows no row is shown, the hashes still differ */
    expect_case(&o, "main", "big", "fail",
                (const char *const[]){"source 99 rows, target 99 rows",
                                      "more than max_rows 40 rows", NULL});
    ck_assert_int_eq(o.status, 1);
    outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_expect)
{
    struct outcome o;
    char *tgt = tu_pg_url("target", DB);
    char *extra = co_asprintf("  taronly:\n    target: \"%s\"\n", tgt);
    char *cfg = config_for("{sql: [\"active: SELECT count(*) FROM users "
                           "WHERE active\", \"SELECT 'x' WHERE false\", "
                           "\"SELECT 25, 26\"], expect: \"25\"}",
                           extra);

    run_check(cfg, &o);
    expect_case(
        &o, "main", "active", "pass",
        (const char *const[]){"source 25, target 25", "(expected 25)", NULL});
    expect_case(&o, "taronly", "active", "pass",
                (const char *const[]){"target 25 (expected 25)", NULL});
    expect_case(&o, "main", "SELECT 'x' WHERE false", "fail",
                (const char *const[]){"returned 0 rows", NULL});
    expect_case(&o, "main", "SELECT 25, 26", "fail",
                (const char *const[]){"several columns", NULL});
    ck_assert_int_eq(o.status, 1);
    outcome_free(&o);
    free(cfg);

    tu_pg_sql("target", DB, "UPDATE users SET active = true WHERE id = 1;");
    cfg = config_for("{sql: [\"active: SELECT count(*) FROM users WHERE "
                     "active\"], expect: \"25\", side: target}",
                     NULL);
    run_check(cfg, &o);
    expect_case(&o, "main", "active", "fail",
                (const char *const[]){"target 26 (expected 25)", NULL});
    ck_assert_str_eq(case_field(&o, "main", "active", "target"), "26");
    ck_assert_msg(strstr(expect_case(&o, "main", "active", "fail",
                                     (const char *const[]){NULL}),
                         "source") == NULL,
                  "side: target ran on the source: %s", o.text);
    outcome_free(&o);
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
    struct outcome o;
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
    expect_case(
        &o, "main", "ins", "error",
        (const char *const[]){"only read-only queries are allowed", NULL});
    expect_case(&o, "main", "upd", "error",
                (const char *const[]){"only read-only queries are allowed",
                                      "update", NULL});
    expect_case(&o, "main", "cte", "error",
                (const char *const[]){"only read-only queries are allowed",
                                      "delete", NULL});
    expect_case(&o, "main", "two", "error",
                (const char *const[]){"one statement", NULL});
    expect_case(&o, "main", "share", "error",
                (const char *const[]){"read-only transaction", "25006", NULL});
    /* keywords inside quotes are data, not statements */
    expect_case(&o, "main", "ok", "pass",
                (const char *const[]){"pgq-marker-2 delete", NULL});
    ck_assert_int_eq(o.status, 2);
    outcome_free(&o);
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
    struct outcome o;
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
    expect_case(&o, "main", "n", "pass", (const char *const[]){"(50)", NULL});
    expect_case(&o, "srconly", "srconly", "skip",
                (const char *const[]){"no target configured", NULL});
    expect_case(&o, "down", "n", "error",
                (const char *const[]){"target", "refused", NULL});
    expect_case(&o, "down", "m", "error",
                (const char *const[]){"target", "refused", NULL});
    ck_assert_int_eq(o.status, 2);
    outcome_free(&o);
    free(cfg);

    /* no statements declared: nothing to do */
    cfg = config_for("{side: both}", NULL);
    run_check(cfg, &o);
    expect_case(&o, "main", "main", "skip",
                (const char *const[]){"no statements declared", NULL});
    outcome_free(&o);
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

int main(void)
{
    SRunner *sr;
    int failed;

    tu_pg_require();
    tu_testbed_require("CUTOVER_TB_CLOSED_PORT", NULL);
    sr = srunner_create(query_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
