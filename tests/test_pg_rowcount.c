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

#include "checkrun.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define CHECK_ID "pg.rowcount"

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
    struct tu_outcome o;

    make_db("pg_rowcount_copy");
    tu_check_pg_db(CHECK_ID, "pg_rowcount_copy", NULL, &o);
    tu_expect(&o, CHECK_ID, NULL, "public.users", "pass",
              TU_WORDS("100 rows"));
    tu_expect(&o, CHECK_ID, NULL, "public.orders", "pass",
              TU_WORDS("250 rows"));
    tu_expect(&o, CHECK_ID, NULL, "public.events", "pass",
              TU_WORDS("600 rows", "all partitions"));
    tu_expect(&o, CHECK_ID, NULL, "public.events_2024", "pass",
              TU_WORDS("365 rows", "partition of public.events"));
    tu_expect(&o, CHECK_ID, NULL, "public.events_2025", "pass",
              TU_WORDS("235 rows"));
    tu_expect(&o, CHECK_ID, NULL, "\"Odd ]]> Schema\".\"Tä \"\"q\"\"\"",
              "pass", TU_WORDS("2 rows"));
    ck_assert_int_eq(tu_count_status(&o, CHECK_ID, "pass"), 6);
    ck_assert_int_eq(json_array_size(tu_need_cases(&o, CHECK_ID, NULL)), 6);
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_drift_fails_with_counts)
{
    struct tu_outcome o;
    json_t *c;

    make_db("pg_rowcount_drift");
    tu_pg_sql("target", "pg_rowcount_drift",
              "DELETE FROM users WHERE id = 17;"
              "INSERT INTO orders VALUES (9999, 1);"
              "DELETE FROM events WHERE id IN (400, 401);"
              "DROP TABLE \"Odd ]]> Schema\".\"Tä \"\"q\"\"\";"
              "CREATE TABLE only_here (id int);");
    tu_check_pg_db(CHECK_ID, "pg_rowcount_drift", NULL, &o);
    c = tu_expect(&o, CHECK_ID, NULL, "public.users", "fail",
                  TU_WORDS("source 100 rows, target 99"));
    ck_assert_str_eq(tu_field(c, "source"), "100");
    ck_assert_str_eq(tu_field(c, "target"), "99");
    tu_expect(&o, CHECK_ID, NULL, "public.orders", "fail",
              TU_WORDS("source 250 rows, target 251"));
    tu_expect(&o, CHECK_ID, NULL, "public.events", "fail",
              TU_WORDS("source 600 rows, target 598"));
    tu_expect(&o, CHECK_ID, NULL, "public.events_2024", "pass",
              TU_WORDS("365 rows"));
    tu_expect(
        &o, CHECK_ID, NULL, "public.events_2025", "fail",
        TU_WORDS("source 235 rows, target 233", "partition of public.events"));
    tu_expect(&o, CHECK_ID, NULL, "\"Odd ]]> Schema\".\"Tä \"\"q\"\"\"",
              "fail", TU_WORDS("missing on target"));
    tu_expect(&o, CHECK_ID, NULL, "public.only_here", "fail",
              TU_WORDS("missing on source"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_tolerance_hides_small_difference)
{
    struct tu_outcome o;

    make_db("pg_rowcount_tol");
    tu_pg_sql("target", "pg_rowcount_tol",
              "DELETE FROM users WHERE id IN (1, 2);"
              "DELETE FROM orders WHERE id <= 10;");
    tu_check_pg_db(CHECK_ID, "pg_rowcount_tol", "tolerance: 2", &o);
    tu_expect(&o, CHECK_ID, NULL, "public.users", "pass",
              TU_WORDS("source 100 rows, target 98", "within tolerance 2"));
    tu_expect(&o, CHECK_ID, NULL, "public.orders", "fail",
              TU_WORDS("source 250 rows, target 240"));
    tu_outcome_free(&o);

    /* a per-table allowance overrides the global one */
    tu_check_pg_db(CHECK_ID, "pg_rowcount_tol",
                   "tolerance: 2, tolerances: [\"public.ord*=10\"]", &o);
    tu_expect(&o, CHECK_ID, NULL, "public.orders", "pass",
              TU_WORDS("within tolerance 10"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_estimate_mode_warns)
{
    struct tu_outcome o;

    make_db("pg_rowcount_est");
    tu_pg_sql("source", "pg_rowcount_est", "ANALYZE;");
    tu_pg_sql("target", "pg_rowcount_est",
              "DELETE FROM orders WHERE id <= 125; ANALYZE;");
    tu_check_pg_db(CHECK_ID, "pg_rowcount_est", "estimate: true", &o);
    tu_expect(&o, CHECK_ID, NULL, "public.users", "pass",
              TU_WORDS("estimate", "source ~100 rows, target ~100"));
    tu_expect(&o, CHECK_ID, NULL, "public.orders", "warn",
              TU_WORDS("estimate", "source ~250 rows, target ~125", "50%"));
    tu_expect(&o, CHECK_ID, NULL, "public.events", "pass",
              TU_WORDS("estimate", "~600"));
    ck_assert_int_eq(tu_count_status(&o, CHECK_ID, "fail"), 0);
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_many_tables_summarised)
{
    struct tu_outcome o;

    tu_pg_create("pg_rowcount_many");
    tu_pg_sql("source", "pg_rowcount_many",
              "DO $$ BEGIN FOR i IN 1..205 LOOP"
              " EXECUTE format('CREATE TABLE t%s (id int)', i);"
              " EXECUTE format('INSERT INTO t%s VALUES (1)', i);"
              " END LOOP; END $$;");
    tu_pg_copy("pg_rowcount_many");
    tu_pg_sql("target", "pg_rowcount_many", "DELETE FROM t7;");
    tu_check_pg_db(CHECK_ID, "pg_rowcount_many", NULL, &o);
    tu_expect(&o, CHECK_ID, NULL, "public.t7", "fail",
              TU_WORDS("source 1 row, target 0"));
    tu_expect(&o, CHECK_ID, NULL, "tables", "pass",
              TU_WORDS("204 tables match"));
    ck_assert_int_eq(json_array_size(tu_need_cases(&o, CHECK_ID, NULL)), 2);
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_unreachable_target_is_error)
{
    make_db("pg_rowcount_down");
    tu_expect_pg_target_down(CHECK_ID, "pg_rowcount_down");
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

TU_SUITE(.make = rowcount_suite, .pg = true);
