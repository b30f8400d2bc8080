/*
 * label: net
 * test_pg_rowcount.c - the `pg.rowcount` check end to end: databases made
 * on both test-bed clusters, the built binary run on a temporary config,
 * the JSON report read back with jansson.
 *
 * A faithful pg_dump | pg_restore copy passes; each kind of drift planted
 * on the target (rows deleted or added, a partition that lost rows, a
 * table missing on either side) fails with both counts; a tolerance hides
 * a small difference; estimate mode says "estimate" and only warns; more
 * than 200 matching tables collapse into one case; an unreachable side is
 * an error.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"

#define CHECK_ID "pg.rowcount"

/* ---- running the binary ----------------------------------------------- */

struct outcome {
    int status;
    json_t *report;
    char *text; /* stdout + stderr, for failure messages */
};

/* Runs `cutover check --only CHECK_ID` on source/target URLs with an
 * optional `checks:` body for the check's params. */
static void run_urls(const char *src, const char *tgt, const char *params,
                     struct outcome *o)
{
    char *dir = tu_tmpdir();
    char *cfg_text =
        co_asprintf("version: 1\n"
                    "settings: {timeout: 60s}\n"
                    "postgres:\n"
                    "  main:\n"
                    "    source: \"%s\"\n"
                    "    target: \"%s\"\n"
                    "%s%s%s",
                    src, tgt, params ? "checks:\n  " CHECK_ID ": {" : "",
                    params ? params : "", params ? "}\n" : "");
    char *cfg = tu_write_file(dir, "cutover.yml", cfg_text);
    char *json = co_asprintf("%s/report.json", dir);
    const char *argv[] = {"cutover", "check", "-c",     cfg,
                          "--phase", "post",  "--only", CHECK_ID,
                          "--json",  json,    NULL};
    const char *pw = tu_tb("CUTOVER_TB_PG_PASSWORD");
    struct tu_proc p;
    json_error_t jerr;
    char *all;

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 120), 0);
    o->status = p.status;
    o->text = co_asprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", p.status,
                          p.out ? p.out : "", p.err ? p.err : "");
    o->report = json_load_file(json, 0, &jerr);
    ck_assert_msg(o->report != NULL, "no JSON report (%s): %s", jerr.text,
                  o->text);
    all = tu_read_file(json, NULL);
    ck_assert_msg(pw == NULL ||
                      (strstr(o->text, pw) == NULL && strstr(all, pw) == NULL),
                  "the password leaked: %s", o->text);
    free(all);
    tu_proc_free(&p);
    free(json);
    free(cfg);
    free(cfg_text);
    free(dir);
}

static void run_db(const char *db, const char *params, struct outcome *o)
{
    char *src = tu_pg_url("source", db), *tgt = tu_pg_url("target", db);

    run_urls(src, tgt, params, o);
    free(src);
    free(tgt);
}

static void outcome_free(struct outcome *o)
{
    json_decref(o->report);
    free(o->text);
}

static json_t *cases(const struct outcome *o)
{
    json_t *checks = json_object_get(o->report, "checks"), *c;
    size_t i;

    json_array_foreach(checks, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "check"));
        if (id && strcmp(id, CHECK_ID) == 0)
            return json_object_get(c, "cases");
    }
    ck_abort_msg("no %s result: %s", CHECK_ID, o->text);
    return NULL;
}

static const char *field(json_t *c, const char *key)
{
    const char *v = json_string_value(json_object_get(c, key));
    return v ? v : "";
}

/* The case named `name`, asserting status and words in its message. */
static json_t *expect(const struct outcome *o, const char *name,
                      const char *status, const char *const *words)
{
    json_t *all = cases(o), *c;
    size_t i;

    json_array_foreach(all, i, c)
    {
        if (strcmp(field(c, "name"), name) != 0)
            continue;
        ck_assert_msg(strcmp(field(c, "status"), status) == 0,
                      "%s: want %s, got %s: %s", name, status,
                      field(c, "status"), field(c, "message"));
        for (size_t w = 0; words && words[w]; w++)
            ck_assert_msg(strstr(field(c, "message"), words[w]) != NULL,
                          "%s: \"%s\" not in \"%s\"", name, words[w],
                          field(c, "message"));
        return c;
    }
    ck_abort_msg("no case %s: %s", name, o->text);
    return NULL;
}

static size_t count_status(const struct outcome *o, const char *status)
{
    json_t *all = cases(o), *c;
    size_t i, n = 0;

    json_array_foreach(all, i, c) n += strcmp(field(c, "status"), status) == 0;
    return n;
}

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- fixtures --------------------------------------------------------- */

static const char schema_sql[] =
    "CREATE TABLE users (id bigserial PRIMARY KEY, name text);"
    "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 100) "
    "g;"
    "CREATE TABLE orders (id int PRIMARY KEY, user_id bigint);"
    "INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, 250) g;"
    "CREATE TABLE events (id int, at date, PRIMARY KEY (id, at))"
    " PARTITION BY RANGE (at);"
    "CREATE TABLE events_2024 PARTITION OF events"
    " FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
    "CREATE TABLE events_2025 PARTITION OF events"
    " FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
    "INSERT INTO events SELECT g, '2024-01-01'::date + g FROM "
    "generate_series(1, 600) g;"
    "CREATE SCHEMA \"Odd ]]> Schema\";"
    "CREATE TABLE \"Odd ]]> Schema\".\"Tä \"\"q\"\"\" (id int);"
    "INSERT INTO \"Odd ]]> Schema\".\"Tä \"\"q\"\"\" VALUES (1), (2);";

static void make_db(const char *db)
{
    tu_pg_create(db);
    tu_pg_sql("source", db, schema_sql);
    tu_pg_copy(db);
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_faithful_copy_passes)
{
    struct outcome o;

    make_db("pg_rowcount_copy");
    run_db("pg_rowcount_copy", NULL, &o);
    expect(&o, "public.users", "pass", W("100 rows"));
    expect(&o, "public.orders", "pass", W("250 rows"));
    expect(&o, "public.events", "pass", W("600 rows", "all partitions"));
    expect(&o, "public.events_2024", "pass",
           W("365 rows", "partition of public.events"));
    expect(&o, "public.events_2025", "pass", W("235 rows"));
    expect(&o, "\"Odd ]]> Schema\".\"Tä \"\"q\"\"\"", "pass", W("2 rows"));
    ck_assert_int_eq(count_status(&o, "pass"), 6);
    ck_assert_int_eq(json_array_size(cases(&o)), 6);
    ck_assert_msg(o.status == 0, "%s", o.text);
    outcome_free(&o);
}
END_TEST

START_TEST(test_drift_fails_with_counts)
{
    struct outcome o;
    json_t *c;

    make_db("pg_rowcount_drift");
    tu_pg_sql("target", "pg_rowcount_drift",
              "DELETE FROM users WHERE id = 17;"
              "INSERT INTO orders VALUES (9999, 1);"
              "DELETE FROM events WHERE id IN (400, 401);"
              "DROP TABLE \"Odd ]]> Schema\".\"Tä \"\"q\"\"\";"
              "CREATE TABLE only_here (id int);");
    run_db("pg_rowcount_drift", NULL, &o);
    c = expect(&o, "public.users", "fail", W("source 100 rows, target 99"));
    ck_assert_str_eq(field(c, "source"), "100");
    ck_assert_str_eq(field(c, "target"), "99");
    expect(&o, "public.orders", "fail", W("source 250 rows, target 251"));
    expect(&o, "public.events", "fail", W("source 600 rows, target 598"));
    expect(&o, "public.events_2024", "pass", W("365 rows"));
    expect(&o, "public.events_2025", "fail",
           W("source 235 rows, target 233", "partition of public.events"));
    expect(&o, "\"Odd ]]> Schema\".\"Tä \"\"q\"\"\"", "fail",
           W("missing on target"));
    expect(&o, "public.only_here", "fail", W("missing on source"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    outcome_free(&o);
}
END_TEST

START_TEST(test_tolerance_hides_small_difference)
{
    struct outcome o;

    make_db("pg_rowcount_tol");
    tu_pg_sql("target", "pg_rowcount_tol",
              "DELETE FROM users WHERE id IN (1, 2);"
              "DELETE FROM orders WHERE id <= 10;");
    run_db("pg_rowcount_tol", "tolerance: 2", &o);
    expect(&o, "public.users", "pass",
           W("source 100 rows, target 98", "within tolerance 2"));
    expect(&o, "public.orders", "fail", W("source 250 rows, target 240"));
    outcome_free(&o);

    /* a per-table allowance overrides the global one */
    run_db("pg_rowcount_tol", "tolerance: 2, tolerances: [\"public.ord*=10\"]",
           &o);
    expect(&o, "public.orders", "pass", W("within tolerance 10"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    outcome_free(&o);
}
END_TEST

START_TEST(test_estimate_mode_warns)
{
    struct outcome o;

    make_db("pg_rowcount_est");
    tu_pg_sql("source", "pg_rowcount_est", "ANALYZE;");
    tu_pg_sql("target", "pg_rowcount_est",
              "DELETE FROM orders WHERE id <= 125; ANALYZE;");
    run_db("pg_rowcount_est", "estimate: true", &o);
    expect(&o, "public.users", "pass",
           W("estimate", "source ~100 rows, target ~100"));
    expect(&o, "public.orders", "warn",
           W("estimate", "source ~250 rows, target ~125", "50%"));
    expect(&o, "public.events", "pass", W("estimate", "~600"));
    ck_assert_int_eq(count_status(&o, "fail"), 0);
    ck_assert_msg(o.status == 0, "%s", o.text);
    outcome_free(&o);
}
END_TEST

START_TEST(test_many_tables_summarised)
{
    struct outcome o;

    tu_pg_create("pg_rowcount_many");
    tu_pg_sql("source", "pg_rowcount_many",
              "DO $$ BEGIN FOR i IN 1..205 LOOP"
              " EXECUTE format('CREATE TABLE t%s (id int)', i);"
              " EXECUTE format('INSERT INTO t%s VALUES (1)', i);"
              " END LOOP; END $$;");
    tu_pg_copy("pg_rowcount_many");
    tu_pg_sql("target", "pg_rowcount_many", "DELETE FROM t7;");
    run_db("pg_rowcount_many", NULL, &o);
    expect(&o, "public.t7", "fail", W("source 1 row, target 0"));
    expect(&o, "tables", "pass", W("204 tables match"));
    ck_assert_int_eq(json_array_size(cases(&o)), 2);
    outcome_free(&o);
}
END_TEST

START_TEST(test_unreachable_target_is_error)
{
    struct outcome o;
    char *src, *tgt;

    make_db("pg_rowcount_down");
    src = tu_pg_url("source", "pg_rowcount_down");
    tgt = co_asprintf("postgres://cutover:x@127.0.0.1:%s/pg_rowcount_down"
                      "?sslmode=require",
                      tu_tb("CUTOVER_TB_CLOSED_PORT"));
    run_urls(src, tgt, NULL, &o);
    expect(&o, "target", "error", W("refused"));
    ck_assert_int_eq(count_status(&o, "pass"), 0);
    ck_assert_msg(o.status == 2, "%s", o.text);
    outcome_free(&o);
    free(src);
    free(tgt);
}
END_TEST

static Suite *rowcount_suite(void)
{
    Suite *s = suite_create("pg_rowcount");
    TCase *tc = tcase_create("binary");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_faithful_copy_passes);
    tcase_add_test(tc, test_drift_fails_with_counts);
    tcase_add_test(tc, test_tolerance_hides_small_difference);
    tcase_add_test(tc, test_estimate_mode_warns);
    tcase_add_test(tc, test_many_tables_summarised);
    tcase_add_test(tc, test_unreachable_target_is_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    tu_pg_require();
    sr = srunner_create(rowcount_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
