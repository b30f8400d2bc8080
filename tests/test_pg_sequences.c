/*
 * label: net
 * test_pg_sequences.c - the `pg.sequences` check end to end: databases
 * made on both test-bed clusters, the built binary run on a temporary
 * config, the JSON report read back with jansson.
 *
 * A faithful pg_dump | pg_restore copy passes: serial, identity, free and
 * descending sequences, unused ones, awkward names. The classic outage
 * is caught: a sequence reset on the target (setval(s, 1, false)), an
 * identity restarted, a sequence behind the largest value already in the
 * column it feeds (the next insert collides), a descending sequence gone
 * the wrong way, a sequence missing on the target. A margin demands the
 * target be ahead; an unreachable side is an error.
 */
#include <check.h>
#include <jansson.h>

#include "checkrun.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define CHECK_ID "pg.sequences"

/* ---- fixtures --------------------------------------------------------- */

static const char schema_sql[] =
    "CREATE TABLE users (id bigserial PRIMARY KEY, name text);"
    "INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 1042)"
    " g;"
    "CREATE TABLE items (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " v text);"
    "INSERT INTO items (v) SELECT 'x' FROM generate_series(1, 300) g;"
    "CREATE SEQUENCE invoice_no START 1000;"
    "SELECT nextval('invoice_no'), nextval('invoice_no');"
    "CREATE SEQUENCE unused_seq;"
    "CREATE SEQUENCE down_seq INCREMENT -1 START -1 MINVALUE -1000"
    " MAXVALUE -1;"
    "CREATE TABLE neg (id int PRIMARY KEY DEFAULT nextval('down_seq'));"
    "ALTER SEQUENCE down_seq OWNED BY neg.id;"
    "INSERT INTO neg SELECT FROM generate_series(1, 5);"
    "CREATE SCHEMA \"Odd ]]> Schema\";"
    "CREATE TABLE \"Odd ]]> Schema\".\"Tä \"\"q\"\"\""
    " (id serial PRIMARY KEY);"
    "INSERT INTO \"Odd ]]> Schema\".\"Tä \"\"q\"\"\" SELECT FROM"
    " generate_series(1, 3);";

#define ODD_TABLE "\"Odd ]]> Schema\".\"Tä \"\"q\"\"\""
#define ODD_SEQ   "\"Odd ]]> Schema\".\"Tä \"\"q\"\"_id_seq\""

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
    json_t *c;

    make_db("pg_sequences_copy");
    tu_check_pg_db(CHECK_ID, "pg_sequences_copy", NULL, &o);
    c = tu_expect(&o, CHECK_ID, NULL, "public.users_id_seq", "pass",
                  TU_WORDS("last_value 1042 (source 1042)",
                           "max(public.users.id) 1042"));
    ck_assert_str_eq(tu_field(c, "source"), "1042");
    ck_assert_str_eq(tu_field(c, "target"), "1042");
    tu_expect(&o, CHECK_ID, NULL, "public.items_id_seq", "pass",
              TU_WORDS("last_value 300", "max(public.items.id) 300"));
    tu_expect(&o, CHECK_ID, NULL, "public.invoice_no", "pass",
              TU_WORDS("last_value 1001"));
    tu_expect(&o, CHECK_ID, NULL, "public.unused_seq", "pass",
              TU_WORDS("not used yet"));
    tu_expect(&o, CHECK_ID, NULL, "public.down_seq", "pass",
              TU_WORDS("last_value -5", "min(public.neg.id) -5"));
    tu_expect(&o, CHECK_ID, NULL, ODD_SEQ, "pass", TU_WORDS("last_value 3"));
    ck_assert_int_eq(json_array_size(tu_need_cases(&o, CHECK_ID, NULL)), 6);
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);

    /* a margin wants the target ahead of the source */
    tu_check_pg_db(CHECK_ID, "pg_sequences_copy", "margin: 100", &o);
    tu_expect(&o, CHECK_ID, NULL, "public.users_id_seq", "fail",
              TU_WORDS("target last_value 1042 < source 1042 (plus margin)"));
    tu_expect(&o, CHECK_ID, NULL, "public.unused_seq", "fail",
              TU_WORDS("plus margin"));
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_drift_fails)
{
    struct tu_outcome o;
    json_t *c;

    make_db("pg_sequences_drift");
    tu_pg_sql("target", "pg_sequences_drift",
              "SELECT setval('users_id_seq', 1, false);"
              "ALTER TABLE items ALTER COLUMN id RESTART WITH 1;"
              "DROP SEQUENCE invoice_no;"
              "SELECT setval('down_seq', -1, false);"
              "INSERT INTO " ODD_TABLE " (id) VALUES (500);");
    tu_check_pg_db(CHECK_ID, "pg_sequences_drift", NULL, &o);
    c = tu_expect(&o, CHECK_ID, NULL, "public.users_id_seq", "fail",
                  TU_WORDS("target last_value 1 (not called) < source 1042",
                           "< max(public.users.id) 1042: the next insert will "
                           "collide"));
    ck_assert_str_eq(tu_field(c, "source"), "1042");
    ck_assert_str_eq(tu_field(c, "target"), "1 (not called)");
    tu_expect(&o, CHECK_ID, NULL, "public.items_id_seq", "fail",
              TU_WORDS("target last_value 1 (not called) < source 300",
                       "max(public.items.id) 300"));
    tu_expect(&o, CHECK_ID, NULL, "public.invoice_no", "fail",
              TU_WORDS("missing on target"));
    tu_expect(&o, CHECK_ID, NULL, "public.down_seq", "fail",
              TU_WORDS("target last_value -1 (not called) > source -5",
                       "min(public.neg.id) -5"));
    /* level with the source, behind the column */
    tu_expect(&o, CHECK_ID, NULL, ODD_SEQ, "fail",
              TU_WORDS("target last_value 3 < max(" ODD_TABLE
                       ".id) 500: the next "
                       "insert will collide"));
    tu_expect(&o, CHECK_ID, NULL, "public.unused_seq", "pass",
              TU_WORDS("not used yet"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_unreachable_target_is_error)
{
    make_db("pg_sequences_down");
    tu_expect_pg_target_down(CHECK_ID, "pg_sequences_down");
}
END_TEST

static Suite *sequences_suite(void)
{
    Suite *s = suite_create("pg_sequences");
    TCase *tc = tcase_create("binary");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_faithful_copy_passes);
    tcase_add_test(tc, test_drift_fails);
    tcase_add_test(tc, test_unreachable_target_is_error);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = sequences_suite, .pg = true);
