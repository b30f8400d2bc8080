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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"

#define CHECK_ID "pg.sequences"

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
    struct outcome o;
    json_t *c;

    make_db("pg_sequences_copy");
    run_db("pg_sequences_copy", NULL, &o);
    c = expect(
        &o, "public.users_id_seq", "pass",
        W("last_value 1042 (source 1042)", "max(public.users.id) 1042"));
    ck_assert_str_eq(field(c, "source"), "1042");
    ck_assert_str_eq(field(c, "target"), "1042");
    expect(&o, "public.items_id_seq", "pass",
           W("last_value 300", "max(public.items.id) 300"));
    expect(&o, "public.invoice_no", "pass", W("last_value 1001"));
    expect(&o, "public.unused_seq", "pass", W("not used yet"));
    expect(&o, "public.down_seq", "pass",
           W("last_value -5", "min(public.neg.id) -5"));
    expect(&o, ODD_SEQ, "pass", W("last_value 3"));
    ck_assert_int_eq(json_array_size(cases(&o)), 6);
    ck_assert_msg(o.status == 0, "%s", o.text);
    outcome_free(&o);

    /* a margin wants the target ahead of the source */
    run_db("pg_sequences_copy", "margin: 100", &o);
    expect(&o, "public.users_id_seq", "fail",
           W("target last_value 1042 < source 1042 (plus margin)"));
    expect(&o, "public.unused_seq", "fail", W("plus margin"));
    outcome_free(&o);
}
END_TEST

START_TEST(test_drift_fails)
{
    struct outcome o;
    json_t *c;

    make_db("pg_sequences_drift");
    tu_pg_sql("target", "pg_sequences_drift",
              "SELECT setval('users_id_seq', 1, false);"
              "ALTER TABLE items ALTER COLUMN id RESTART WITH 1;"
              "DROP SEQUENCE invoice_no;"
              "SELECT setval('down_seq', -1, false);"
              "INSERT INTO " ODD_TABLE " (id) VALUES (500);");
    run_db("pg_sequences_drift", NULL, &o);
    c = expect(&o, "public.users_id_seq", "fail",
               W("target last_value 1 (not called) < source 1042",
                 "< max(public.users.id) 1042: the next insert will "
                 "collide"));
    ck_assert_str_eq(field(c, "source"), "1042");
    ck_assert_str_eq(field(c, "target"), "1 (not called)");
    expect(&o, "public.items_id_seq", "fail",
           W("target last_value 1 (not called) < source 300",
             "max(public.items.id) 300"));
    expect(&o, "public.invoice_no", "fail", W("missing on target"));
    expect(&o, "public.down_seq", "fail",
           W("target last_value -1 (not called) > source -5",
             "min(public.neg.id) -5"));
    /* level with the source, behind the column */
    expect(&o, ODD_SEQ, "fail",
           W("target last_value 3 < max(" ODD_TABLE ".id) 500: the next "
             "insert will collide"));
    expect(&o, "public.unused_seq", "pass", W("not used yet"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    outcome_free(&o);
}
END_TEST

START_TEST(test_unreachable_target_is_error)
{
    struct outcome o;
    char *src, *tgt;

    make_db("pg_sequences_down");
    src = tu_pg_url("source", "pg_sequences_down");
    tgt = co_asprintf("postgres://cutover:x@127.0.0.1:%s/pg_sequences_down"
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

int main(void)
{
    SRunner *sr;
    int failed;

    tu_pg_require();
    sr = srunner_create(sequences_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
