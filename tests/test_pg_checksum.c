/*
 * label: net
 * test_pg_checksum.c - the `pg.checksum` check end to end: databases made
 * on both test-bed clusters, the built binary run on a temporary config,
 * the JSON report read back with jansson.
 *
 * A faithful pg_dump | pg_restore copy passes for every kind of key
 * (bigint, uuid, text, composite, a unique index, none) and for awkward
 * names. Rows deleted, changed and added on the target are named by key
 * with what happened to them, through every path of the search: several
 * bisect levels, a segment empty on one side, leaves merged, a composite
 * key narrowed column by column, the first pass split into block ranges
 * run concurrently. A table without a key says it differs without keys;
 * max_keys cuts the list with "and K more"; an unreachable side is an
 * error.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define CHECK_ID "pg.checksum"

/* ---- fixtures --------------------------------------------------------- */

static const char schema_sql[] =
    "CREATE TABLE ints (id bigserial PRIMARY KEY, name text,"
    " at timestamptz, amount numeric, f float8, b bytea, j jsonb);"
    "INSERT INTO ints (name, at, amount, f, b, j)"
    " SELECT 'n' || g, '2024-01-01'::timestamptz + g * interval '1 hour',"
    " g / 7.0, g / 3.0, decode(md5(g::text), 'hex'),"
    " jsonb_build_object('g', g) FROM generate_series(1, 3000) g;"
    "CREATE TABLE uids (id uuid PRIMARY KEY, v int);"
    "INSERT INTO uids SELECT md5(g::text)::uuid, g"
    " FROM generate_series(1, 2000) g;"
    "CREATE TABLE texts (k text PRIMARY KEY, v int);"
    "INSERT INTO texts SELECT 'key ' || g, g FROM generate_series(1, 2000) g;"
    "CREATE TABLE comp (tenant int, name text, v int,"
    " PRIMARY KEY (tenant, name));"
    "INSERT INTO comp SELECT g % 3, 'n' || g, g"
    " FROM generate_series(1, 2000) g;"
    "CREATE TABLE events (id int, at date, v text, PRIMARY KEY (id, at))"
    " PARTITION BY RANGE (at);"
    "CREATE TABLE events_2024 PARTITION OF events"
    " FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
    "CREATE TABLE events_2025 PARTITION OF events"
    " FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
    "INSERT INTO events SELECT g, '2024-01-01'::date + g, 'v' || g"
    " FROM generate_series(1, 600) g;"
    "CREATE TABLE nopk (a int, b text);"
    "INSERT INTO nopk SELECT g, 'x' FROM generate_series(1, 100) g;"
    "CREATE TABLE uq (a int NOT NULL UNIQUE, b text);"
    "INSERT INTO uq SELECT g, 'x' FROM generate_series(1, 100) g;"
    "CREATE TABLE empty (id int PRIMARY KEY);"
    "CREATE SCHEMA \"Odd ]]> Schema\";"
    "CREATE TABLE \"Odd ]]> Schema\".\"Tä \"\"q\"\"\""
    " (r int PRIMARY KEY, t text);"
    "INSERT INTO \"Odd ]]> Schema\".\"Tä \"\"q\"\"\""
    " SELECT g, 'ä' || g FROM generate_series(1, 50) g;";

#define ODD "\"Odd ]]> Schema\".\"Tä \"\"q\"\"\""

static void make_db(const char *db)
{
    tu_pg_create(db);
    tu_pg_sql("source", db, schema_sql);
    tu_pg_copy(db);
}

/* Small segments and leaves, so a few thousand rows go through several
 * bisect levels. */
#define DEEP "segment_rows: 100, bisect_rows: 4"

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_faithful_copy_passes)
{
    const char *const tables[] = {
        "public.ints", "public.uids",        "public.texts",
        "public.comp", "public.events_2024", "public.events_2025",
        "public.uq",   "public.empty",       ODD};
    struct tu_outcome o;
    json_t *c;

    make_db("pg_checksum_copy");
    tu_check_pg_db(CHECK_ID, "pg_checksum_copy", DEEP, &o);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        tu_expect(&o, CHECK_ID, NULL, tables[i], "pass",
                  TU_WORDS("rows, checksums match"));
    c = tu_expect(&o, CHECK_ID, NULL, "public.ints", "pass",
                  TU_WORDS("3000 rows, checksums match"));
    ck_assert_str_eq(tu_field(c, "source"), "3000 rows");
    ck_assert_str_eq(tu_field(c, "target"), "3000 rows");
    tu_expect(&o, CHECK_ID, NULL, "public.empty", "pass", TU_WORDS("0 rows"));
    tu_expect(&o, CHECK_ID, NULL, "public.nopk", "pass",
              TU_WORDS("100 rows, checksums match", "no primary key"));
    /* partitions are compared, their parent is not a table of its own */
    ck_assert_int_eq(json_array_size(tu_need_cases(&o, CHECK_ID, NULL)), 10);
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_drift_names_keys)
{
    struct tu_outcome o;
    char *uid, *want;

    make_db("pg_checksum_drift");
    tu_pg_sql("target", "pg_checksum_drift",
              "DELETE FROM ints WHERE id = 17;"
              "UPDATE ints SET amount = amount + 1 WHERE id = 42;"
              "INSERT INTO ints (id, name) VALUES (5000, 'extra');"
              "UPDATE uids SET v = -1 WHERE v = 777;"
              "UPDATE texts SET v = -1 WHERE k = 'key 1234';"
              "UPDATE comp SET v = -1 WHERE tenant = 1 AND name = 'n1000';"
              "UPDATE events SET v = 'x' WHERE id = 500;"
              "UPDATE nopk SET b = 'changed' WHERE a = 5;"
              "UPDATE uq SET b = 'changed' WHERE a = 7;"
              "UPDATE " ODD " SET t = 'changed' WHERE r = 3;");
    uid =
        tu_pg_query("source", "pg_checksum_drift", "SELECT md5('777')::uuid");
    want = co_asprintf("1 row differs: id=%s (changed)", uid);
    tu_check_pg_db(CHECK_ID, "pg_checksum_drift", DEEP, &o);
    tu_expect(
        &o, CHECK_ID, NULL, "public.ints", "fail",
        TU_WORDS("3 rows differ: id=17 (missing on target), id=42 (changed), "
                 "id=5000 (only on target)"));
    tu_expect(&o, CHECK_ID, NULL, "public.uids", "fail", TU_WORDS(want));
    tu_expect(&o, CHECK_ID, NULL, "public.texts", "fail",
              TU_WORDS("1 row differs: k=key 1234 (changed)"));
    tu_expect(&o, CHECK_ID, NULL, "public.comp", "fail",
              TU_WORDS("1 row differs: (tenant, name)=(1, n1000) (changed)"));
    tu_expect(&o, CHECK_ID, NULL, "public.events_2024", "pass",
              TU_WORDS("checksums match"));
    tu_expect(&o, CHECK_ID, NULL, "public.events_2025", "fail",
              TU_WORDS("1 row differs: (id, at)=(500, 2025-05-15) (changed)"));
    tu_expect(&o, CHECK_ID, NULL, "public.nopk", "fail",
              TU_WORDS("contents differ", "source 100 rows, target 100",
                       "no primary key"));
    tu_expect(&o, CHECK_ID, NULL, "public.uq", "fail",
              TU_WORDS("1 row differs: a=7 (changed)"));
    tu_expect(&o, CHECK_ID, NULL, ODD, "fail",
              TU_WORDS("1 row differs: r=3 (changed)"));
    tu_expect(&o, CHECK_ID, NULL, "public.empty", "pass", TU_WORDS("0 rows"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);

    /* the default segment sizes find the same rows */
    tu_check_pg_db(CHECK_ID, "pg_checksum_drift", NULL, &o);
    tu_expect(
        &o, CHECK_ID, NULL, "public.ints", "fail",
        TU_WORDS("3 rows differ: id=17 (missing on target), id=42 (changed), "
                 "id=5000 (only on target)"));
    tu_expect(&o, CHECK_ID, NULL, "public.comp", "fail",
              TU_WORDS("(tenant, name)=(1, n1000)"));
    tu_outcome_free(&o);
    free(want);
    free(uid);
}
END_TEST

START_TEST(test_max_keys_truncates)
{
    struct tu_outcome o;

    make_db("pg_checksum_many");
    tu_pg_sql("target", "pg_checksum_many",
              "UPDATE ints SET name = 'changed' WHERE id % 100 = 0;"
              "DELETE FROM texts;"
              "DELETE FROM comp WHERE tenant = 2;");
    tu_check_pg_db(CHECK_ID, "pg_checksum_many", DEEP ", max_keys: 3", &o);
    tu_expect(&o, CHECK_ID, NULL, "public.ints", "fail",
              TU_WORDS("30 rows differ: id=100 (changed), id=200 (changed), "
                       "id=300 (changed) and 27 more"));
    /* empty on the target: counted, and the first keys named */
    tu_expect(
        &o, CHECK_ID, NULL, "public.texts", "fail",
        TU_WORDS("2000 rows differ: k=key 1 (missing on target), k=key 10 "
                 "(missing on target), k=key 100 (missing on target) and "
                 "1997 more"));
    tu_expect(
        &o, CHECK_ID, NULL, "public.comp", "fail",
        TU_WORDS("667 rows differ", "(tenant, name)=(2, ", "and 664 more"));
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_chunked_first_pass)
{
    const char *log = tu_tb("CUTOVER_TB_PG_SOURCE_LOG");
    size_t before = 0, after = 0;
    struct tu_outcome o;
    char *text;

    make_db("pg_checksum_chunk");
    free(tu_read_file(log, &before));
    tu_check_pg_db(CHECK_ID, "pg_checksum_chunk", "chunk_bytes: 65536", &o);
    tu_expect(&o, CHECK_ID, NULL, "public.ints", "pass",
              TU_WORDS("3000 rows, checksums match"));
    tu_expect(&o, CHECK_ID, NULL, "public.uids", "pass",
              TU_WORDS("2000 rows, checksums match"));
    tu_expect(&o, CHECK_ID, NULL, "public.nopk", "pass", TU_WORDS("100 rows"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    /* the first pass of ints was cut into block ranges */
    text = tu_read_file(log, &after);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(after > before && strstr(text + before, "ctid >=") &&
                      strstr(text + before, "\"public\".\"ints\" r WHERE"),
                  "no block-range scan in the source log");
    free(text);

    tu_pg_sql("target", "pg_checksum_chunk",
              "DELETE FROM ints WHERE id IN (1, 1500, 3000);"
              "UPDATE uids SET v = -1 WHERE v = 5;");
    tu_check_pg_db(CHECK_ID, "pg_checksum_chunk", "chunk_bytes: 65536", &o);
    tu_expect(
        &o, CHECK_ID, NULL, "public.ints", "fail",
        TU_WORDS("3 rows differ: id=1 (missing on target), id=1500 (missing "
                 "on target), id=3000 (missing on target)"));
    tu_expect(&o, CHECK_ID, NULL, "public.uids", "fail",
              TU_WORDS("1 row differs: id="));
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_columns_differ_compares_common)
{
    struct tu_outcome o;

    make_db("pg_checksum_cols");
    tu_pg_sql("target", "pg_checksum_cols",
              "ALTER TABLE texts ADD COLUMN extra int DEFAULT 7;"
              "ALTER TABLE uq DROP COLUMN b;");
    tu_check_pg_db(CHECK_ID, "pg_checksum_cols", NULL, &o);
    tu_expect(
        &o, CHECK_ID, NULL, "public.texts", "pass",
        TU_WORDS("2000 rows, checksums match", "columns both sides have"));
    tu_expect(&o, CHECK_ID, NULL, "public.uq", "pass",
              TU_WORDS("columns both sides have"));
    tu_expect(&o, CHECK_ID, NULL, "public.ints", "pass",
              TU_WORDS("checksums match"));
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_unreachable_target_is_error)
{
    make_db("pg_checksum_down");
    tu_expect_pg_target_down(CHECK_ID, "pg_checksum_down");
}
END_TEST

static Suite *checksum_suite(void)
{
    Suite *s = suite_create("pg_checksum");
    TCase *tc = tcase_create("binary");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_faithful_copy_passes);
    tcase_add_test(tc, test_drift_names_keys);
    tcase_add_test(tc, test_max_keys_truncates);
    tcase_add_test(tc, test_chunked_first_pass);
    tcase_add_test(tc, test_columns_differ_compares_common);
    tcase_add_test(tc, test_unreachable_target_is_error);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = checksum_suite, .pg = true);
