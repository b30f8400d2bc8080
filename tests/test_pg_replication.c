/*
 * label: net
 * test_pg_replication.c - the `pg.replication` check end to end on real
 * logical replication between the two test-bed clusters: native
 * (publication on the source, subscription on the target) and pglogical
 * (provider and subscriber nodes), each in databases of its own.
 *
 * Replication leaves workers, slots and origins behind that would block
 * other suites (a slot pins its database on the source; a pglogical node
 * keeps a manager worker): every test cleans up before it starts and
 * when it ends, and the tcase teardown cleans up again whatever a failed
 * test left. Waits for replication are bounded.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define DB_NATIVE "pg_replication_native"
#define DB_STUCK  "pg_replication_stuck"
#define DB_PGL    "pg_replication_pgl"
#define DB_NONE   "pg_replication_none"
#define PROBE     "cutover_pgrepl_probe" /* a role without privileges */
#define WAIT_S    30

static bool db_exists(const char *side, const char *db)
{
    char *sql = co_asprintf("SELECT 1 FROM pg_database WHERE datname = "
                            "'%s'",
                            db);
    char *out = NULL;
    bool yes = tu_pg_try_sql(side, "postgres", sql, &out) == 0 &&
               out != NULL && out[0] == '1';

    free(out);
    free(sql);
    return yes;
}

/* Subscriptions (native and pglogical) and pglogical nodes on the
 * target; dropping a subscription drops its slot on the source. */
static const char clean_target_sql[] =
    "DO $$ DECLARE s record; BEGIN\n"
    "FOR s IN SELECT subname FROM pg_subscription WHERE subdbid = "
    "(SELECT oid FROM pg_database WHERE datname = current_database()) LOOP\n"
    "  EXECUTE format('ALTER SUBSCRIPTION %I DISABLE', s.subname);\n"
    "  EXECUTE format('ALTER SUBSCRIPTION %I SET (slot_name = NONE)', "
    "s.subname);\n"
    "  EXECUTE format('DROP SUBSCRIPTION %I', s.subname);\n"
    "END LOOP;\n"
    "IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pglogical') "
    "THEN\n"
    "  PERFORM pglogical.drop_subscription(sub_name, true) "
    "FROM pglogical.subscription;\n"
    "  PERFORM pglogical.drop_node(node_name, true) FROM pglogical.node;\n"
    "END IF;\n"
    "END $$;\n"
    "DROP EXTENSION IF EXISTS pglogical CASCADE;\n";

/* Whatever slots are left in the database on the source, after their
 * walsenders are gone. */
static const char clean_source_sql[] =
    "DO $$ DECLARE i int; BEGIN\n"
    "IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pglogical') "
    "THEN\n"
    "  PERFORM pglogical.drop_node(node_name, true) FROM pglogical.node;\n"
    "END IF;\n"
    "FOR i IN 1..100 LOOP\n"
    "  PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots\n"
    "   WHERE database = current_database() AND active_pid IS NOT NULL;\n"
    "  EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_replication_slots\n"
    "   WHERE database = current_database() AND active);\n"
    "  PERFORM pg_sleep(0.1);\n"
    "END LOOP;\n"
    "PERFORM pg_drop_replication_slot(slot_name) FROM pg_replication_slots\n"
    " WHERE database = current_database();\n"
    "END $$;\n"
    "DROP EXTENSION IF EXISTS pglogical CASCADE;\n";

static void repl_cleanup(const char *db)
{
    char *drop =
        co_asprintf("DROP DATABASE IF EXISTS \"%s\" WITH (FORCE);", db);
    char *out = NULL;

    if (db_exists("target", db)) {
        if (tu_pg_try_sql("target", db, clean_target_sql, &out) != 0)
            fprintf(stderr, "cleanup of target/%s: %s\n", db, out);
        free(out);
        out = NULL;
    }
    if (db_exists("source", db)) {
        if (tu_pg_try_sql("source", db, clean_source_sql, &out) != 0)
            fprintf(stderr, "cleanup of source/%s: %s\n", db, out);
        free(out);
        out = NULL;
    }
    tu_pg_try_sql("target", "postgres", drop, NULL);
    tu_pg_try_sql("source", "postgres", drop, NULL);
    free(drop);
}

static void probe_drop(void)
{
    tu_pg_try_sql("target", "postgres", "DROP ROLE IF EXISTS " PROBE ";",
                  NULL);
}

static void teardown_all(void)
{
    repl_cleanup(DB_NATIVE);
    repl_cleanup(DB_STUCK);
    repl_cleanup(DB_PGL);
    repl_cleanup(DB_NONE);
    probe_drop();
}

/* A libpq key=value string for the source's superuser: what a
 * subscription on the target dials. */
static char *source_dsn(const char *db)
{
    char *url = tu_pg_admin_url("source", db);
    struct co_url u;
    char err[256];
    char *dsn;

    ck_assert_int_eq(co_url_parse(url, &u, err, sizeof(err)), 0);
    dsn = co_asprintf("host=%s port=%d dbname=%s user=%s password=%s "
                      "sslmode=require",
                      u.host, u.port, db, u.user, u.password);
    co_url_free(&u);
    free(url);
    return dsn;
}

static char *target_dsn(const char *db)
{
    char *url = tu_pg_admin_url("target", db);
    struct co_url u;
    char err[256];
    char *dsn;

    ck_assert_int_eq(co_url_parse(url, &u, err, sizeof(err)), 0);
    dsn = co_asprintf("host=%s port=%d dbname=%s user=%s password=%s "
                      "sslmode=require",
                      u.host, u.port, db, u.user, u.password);
    co_url_free(&u);
    free(url);
    return dsn;
}

/* Polls `sql` (one boolean) on the target until it says true. */
static void wait_true(const char *db, const char *sql, const char *what)
{
    int64_t until = co_now_ms() + WAIT_S * 1000;
    char *out = NULL;

    for (;;) {
        out = NULL;
        if (tu_pg_try_sql("target", db, sql, &out) == 0 && out != NULL &&
            out[0] == 't')
            break;
        ck_assert_msg(co_now_ms() < until, "%s: not after %d s (%s)", what,
                      WAIT_S, out ? out : "");
        free(out);
        usleep(200 * 1000);
    }
    free(out);
}

/* The target-only lag bound needs the publisher's first report to the
 * apply worker, which a freshly (re)started worker has not had yet. */
static void wait_reported(void)
{
    wait_true(DB_NATIVE,
              "SELECT count(*) = 1 FROM pg_stat_subscription "
              "WHERE relid IS NULL AND latest_end_time IS NOT NULL",
              "the publisher's first report");
}

/* ---- running the binary ------------------------------------------------- */

/* `cutover check --only pg.replication --phase pre` on config; checkrun
 * asserts no test-bed password is in any output or report. */
static void run_check(const char *config, struct tu_outcome *o)
{
    tu_check_run(config,
                 TU_WORDS("--only", "pg.replication", "--phase", "pre"), NULL,
                 60, o);
}

/* Runs the check until the target-only case has a lag to judge: an apply
 * worker the test bed restarted (pglogical's DROP DATABASE kicker) has no
 * publisher report until its first feedback round trip. */
static void run_check_lag_known(const char *config, struct tu_outcome *o)
{
    for (int attempt = 0;; attempt++) {
        json_t *c;
        const char *msg;

        wait_reported();
        run_check(config, o);
        c = tu_find_case(o, "tonly", "pgrepl_native");
        msg = c ? json_string_value(json_object_get(c, "message")) : NULL;
        if (attempt == 4 || msg == NULL || strstr(msg, "lag unknown") == NULL)
            return;
        tu_outcome_free(o);
        usleep(500 * 1000);
    }
}

/* A config with resources "main" (both sides) and "tonly" (target only)
 * on db, plus `extra` YAML at the end. */
static char *config_for(const char *db, const char *extra)
{
    char *src = tu_pg_url("source", db), *tgt = tu_pg_url("target", db);
    char *cfg = co_asprintf("version: 1\n"
                            "settings: {timeout: 30s}\n"
                            "postgres:\n"
                            "  main:\n"
                            "    source: \"%s\"\n"
                            "    target: \"%s\"\n"
                            "  tonly:\n"
                            "    target: \"%s\"\n"
                            "%s",
                            src, tgt, tgt, extra ? extra : "");
    free(src);
    free(tgt);
    return cfg;
}

/* ---- native logical replication ----------------------------------------- */

static const char tables_sql[] =
    "CREATE TABLE public.accounts (id int PRIMARY KEY, name text);\n"
    "CREATE TABLE public.\"Order Items\" (id bigint PRIMARY KEY, qty int);\n";

START_TEST(test_native_synced)
{
    struct tu_outcome o;
    char *dsn, *sql, *cfg;

    repl_cleanup(DB_NATIVE);
    tu_pg_create(DB_NATIVE);
    tu_pg_sql("source", DB_NATIVE, tables_sql);
    tu_pg_sql("target", DB_NATIVE, tables_sql);
    tu_pg_sql("source", DB_NATIVE,
              "INSERT INTO accounts SELECT g, 'a' || g "
              "FROM generate_series(1, 500) g;\n"
              "INSERT INTO \"Order Items\" SELECT g, g FROM "
              "generate_series(1, 200) g;\n"
              "CREATE PUBLICATION pgrepl_pub FOR ALL TABLES;");
    dsn = source_dsn(DB_NATIVE);
    sql = co_asprintf("CREATE SUBSCRIPTION pgrepl_native CONNECTION '%s' "
                      "PUBLICATION pgrepl_pub;",
                      dsn);
    tu_pg_sql("target", DB_NATIVE, sql);
    wait_true(DB_NATIVE,
              "SELECT count(*) = 2 AND bool_and(srsubstate = 'r') "
              "FROM pg_subscription_rel",
              "initial sync");
    wait_true(DB_NATIVE,
              "SELECT count(*) = 1 FROM pg_stat_subscription "
              "WHERE relid IS NULL AND pid IS NOT NULL",
              "apply worker");

    cfg = config_for(DB_NATIVE, NULL);
    run_check_lag_known(cfg, &o);
    tu_expect_on(&o, "main", "pgrepl_native", "pass",
                 (const char *const[]){"native: replicating",
                                       "initial sync done (2 tables)",
                                       "s (measured on the source)", NULL});
    ck_assert_uint_eq(tu_ncases(&o, "pg.replication", "main"), 1);
    tu_expect_on(&o, "tonly", "pgrepl_native", "pass",
                 (const char *const[]){"initial sync done (2 tables)",
                                       "at most", NULL});
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);

    /* Without the source, lag is bounded by the publisher's last report,
     * always more than a millisecond ago. */
    cfg = config_for(DB_NATIVE, "checks:\n  pg.replication: {max_lag: 1ms}\n");
    run_check_lag_known(cfg, &o);
    tu_expect_on(&o, "tonly", "pgrepl_native", "fail",
                 (const char *const[]){"exceeds max_lag 1ms", NULL});
    ck_assert_int_eq(o.status, 1);
    tu_outcome_free(&o);
    free(cfg);

    /* A slot nobody consumes holds WAL back on the source. */
    tu_pg_sql("source", DB_NATIVE,
              "SELECT pg_create_logical_replication_slot('pgrepl_orphan', "
              "'pgoutput');");
    cfg = config_for(DB_NATIVE, NULL);
    run_check(cfg, &o);
    tu_expect_on(&o, "main", "pgrepl_native", "pass",
                 (const char *const[]){"initial sync done", NULL});
    tu_expect_on(&o, "main", "slot pgrepl_orphan", "warn",
                 (const char *const[]){"no subscriber", "of WAL", NULL});
    tu_outcome_free(&o);
    free(cfg);
    free(sql);
    free(dsn);
    repl_cleanup(DB_NATIVE);
}
END_TEST

/* One table whose copy cannot finish (a row with the same key already
 * on the target), and a disabled subscription whose table never
 * started: both fail and name the tables. */
START_TEST(test_native_unsynced)
{
    struct tu_outcome o;
    char *dsn, *sql, *cfg;

    repl_cleanup(DB_STUCK);
    tu_pg_create(DB_STUCK);
    for (int i = 0; i < 2; i++)
        tu_pg_sql(i ? "target" : "source", DB_STUCK,
                  "CREATE TABLE public.ready_t (id int PRIMARY KEY);\n"
                  "CREATE TABLE public.\"Stuck \"\"Table\"\"\" "
                  "(id int PRIMARY KEY);\n");
    tu_pg_sql("source", DB_STUCK,
              "INSERT INTO ready_t SELECT generate_series(1, 100);\n"
              "INSERT INTO \"Stuck \"\"Table\"\"\" "
              "SELECT generate_series(1, 100);\n"
              "CREATE PUBLICATION pgrepl_all FOR ALL TABLES;\n"
              "CREATE PUBLICATION pgrepl_ready FOR TABLE ready_t;");
    tu_pg_sql("target", DB_STUCK,
              "INSERT INTO \"Stuck \"\"Table\"\"\" VALUES (42);");
    dsn = source_dsn(DB_STUCK);
    sql = co_asprintf("CREATE SUBSCRIPTION pgrepl_stuck CONNECTION '%s' "
                      "PUBLICATION pgrepl_all;\n"
                      "CREATE SUBSCRIPTION pgrepl_off CONNECTION '%s' "
                      "PUBLICATION pgrepl_ready WITH (enabled = false, "
                      "create_slot = false, slot_name = NONE);",
                      dsn, dsn);
    tu_pg_sql("target", DB_STUCK, sql);
    wait_true(DB_STUCK,
              "SELECT bool_and(r.srsubstate = 'r') FROM pg_subscription_rel r "
              "JOIN pg_subscription s ON s.oid = r.srsubid "
              "WHERE s.subname = 'pgrepl_stuck' "
              "AND r.srrelid = 'public.ready_t'::regclass",
              "ready_t synced");

    cfg = config_for(DB_STUCK, NULL);
    run_check(cfg, &o);
    tu_expect_on(&o, "main", "pgrepl_stuck", "fail",
                 (const char *const[]){"native:", "initial sync unfinished",
                                       "1 of 2 tables not ready",
                                       "public.\"Stuck \"\"Table\"\"\" (",
                                       NULL});
    ck_assert_msg(
        strstr(json_string_value(json_object_get(
                   tu_find_case(&o, "main", "pgrepl_stuck"), "message")),
               "ready_t") == NULL,
        "a synced table named: %s", o.text);
    tu_expect_on(&o, "main", "pgrepl_off", "fail",
                 (const char *const[]){"disabled", "1 of 1 tables",
                                       "public.ready_t (initializing)", NULL});
    ck_assert_int_eq(o.status, 1);
    tu_outcome_free(&o);
    free(cfg);
    free(sql);
    free(dsn);
    repl_cleanup(DB_STUCK);
}
END_TEST

/* ---- pglogical -----------------------------------------------------------
 */

/* pglogical 2.4 starts a manager worker for every connectable database
 * of the cluster; when they do not fit in max_worker_processes its
 * supervisor dies at once and restarts every 5 s, and no subscription
 * ever starts. Say so instead of timing out without a reason. */
static void pgl_require_supervisor(void)
{
    int64_t until = co_now_ms() + 10000;
    char *out = NULL;

    for (;;) {
        out = NULL;
        if (tu_pg_try_sql("target", "postgres",
                          "SELECT count(*) FROM pg_stat_activity "
                          "WHERE backend_type = 'pglogical supervisor'",
                          &out) == 0 &&
            out != NULL && out[0] != '0')
            break;
        free(out);
        out = NULL;
        if (co_now_ms() >= until)
            break;
        usleep(200 * 1000);
    }
    if (out == NULL) {
        tu_pg_try_sql("target", "postgres",
                      "SELECT format('%s databases, max_worker_processes %s', "
                      "(SELECT count(*) FROM pg_database WHERE datallowconn), "
                      "current_setting('max_worker_processes'))",
                      &out);
        ck_abort_msg("the target's pglogical supervisor is not running "
                     "(%s): pglogical needs a worker per database; the "
                     "test bed's max_worker_processes is too low",
                     out ? out : "?");
    }
    free(out);
}

static void pgl_setup(void)
{
    char *sdsn = source_dsn(DB_PGL), *tdsn = target_dsn(DB_PGL), *sql;

    repl_cleanup(DB_PGL);
    tu_pg_create(DB_PGL);
    for (int i = 0; i < 2; i++)
        tu_pg_sql(i ? "target" : "source", DB_PGL,
                  "CREATE EXTENSION pglogical;\n"
                  "CREATE TABLE public.items (id int PRIMARY KEY, v text);\n"
                  "CREATE TABLE public.orders (id int PRIMARY KEY);\n");
    sql = co_asprintf(
        "INSERT INTO items SELECT g, 'v' FROM generate_series(1, 300) g;\n"
        "INSERT INTO orders SELECT generate_series(1, 50);\n"
        "SELECT pglogical.create_node(node_name := 'pgrepl_prov', "
        "dsn := '%s');\n"
        "SELECT pglogical.replication_set_add_all_tables('default', "
        "ARRAY['public']);",
        sdsn);
    tu_pg_sql("source", DB_PGL, sql);
    free(sql);
    sql = co_asprintf(
        "SELECT pglogical.create_node(node_name := 'pgrepl_subnode', "
        "dsn := '%s');\n"
        "SELECT pglogical.create_subscription(subscription_name := "
        "'pgrepl_pgl', provider_dsn := '%s', "
        "synchronize_structure := false);",
        tdsn, sdsn);
    tu_pg_sql("target", DB_PGL, sql);
    free(sql);
    pgl_require_supervisor();
    wait_true(DB_PGL,
              "SELECT (SELECT status = 'replicating' FROM "
              "pglogical.show_subscription_status('pgrepl_pgl')) AND "
              "(SELECT count(*) FILTER (WHERE sync_relname IS NOT NULL) = 2 "
              "AND bool_and(sync_status = 'r') FROM "
              "pglogical.local_sync_status)",
              "pglogical sync");
    free(sdsn);
    free(tdsn);
}

START_TEST(test_pglogical)
{
    struct tu_outcome o;
    char *cfg, *url, *sql;
    const char *pw = tu_tb("CUTOVER_TB_PG_PASSWORD");

    pgl_setup();
    cfg = config_for(DB_PGL, NULL);
    run_check(cfg, &o);
    tu_expect_on(&o, "main", "pgrepl_pgl", "pass",
                 (const char *const[]){"pglogical: replicating",
                                       "initial sync done (2 tables)",
                                       "(measured on the source)", NULL});
    ck_assert_uint_eq(tu_ncases(&o, "pg.replication", "main"), 1);
    /* Without the source, pglogical has no lag of its own to show. */
    tu_expect_on(&o, "tonly", "pgrepl_pgl", "warn",
                 (const char *const[]){"lag unknown", NULL});
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);

    /* A role that may not read pglogical's schema: an error that says
     * what to grant, and no crash. */
    ck_assert_ptr_nonnull(pw);
    probe_drop();
    sql = co_asprintf("CREATE ROLE " PROBE " LOGIN PASSWORD '%s';", pw);
    tu_pg_sql("target", "postgres", sql);
    free(sql);
    url = tu_pg_url("target", DB_PGL);
    sql = co_asprintf("version: 1\npostgres:\n  probe:\n    target: \"%s\"\n",
                      url);
    {
        /* same URL, other user */
        char *at = strstr(sql, "cutover:");
        ck_assert_ptr_nonnull(at);
        char *fixed = co_asprintf("%.*s" PROBE "%s", (int)(at - sql), sql,
                                  at + strlen("cutover"));
        free(sql);
        sql = fixed;
    }
    run_check(sql, &o);
    tu_expect_on(&o, "probe", "pglogical", "error",
                 (const char *const[]){"permission denied",
                                       "USAGE on schema pglogical",
                                       "pg_read_all_data", NULL});
    ck_assert_int_eq(o.status, 2);
    tu_outcome_free(&o);
    free(sql);
    free(url);
    probe_drop();

    /* A subscription that stopped replicating. */
    tu_pg_sql("target", DB_PGL,
              "SELECT pglogical.alter_subscription_disable('pgrepl_pgl', "
              "true);");
    run_check(cfg, &o);
    tu_expect_on(&o, "main", "pgrepl_pgl", "fail",
                 (const char *const[]){"pglogical", "status disabled",
                                       "not replicating", NULL});
    ck_assert_int_eq(o.status, 1);
    tu_outcome_free(&o);
    free(cfg);
    repl_cleanup(DB_PGL);
}
END_TEST

/* ---- nothing to inspect ------------------------------------------------- */

START_TEST(test_no_replication_skips)
{
    struct tu_outcome o;
    char *cfg, *down;

    tu_pg_create(DB_NONE);
    tu_pg_sql("source", DB_NONE, "CREATE TABLE t (id int PRIMARY KEY);");
    down = co_asprintf("  down:\n"
                       "    target: \"postgres://cutover:x@127.0.0.1:%s/%s"
                       "?sslmode=require\"\n",
                       tu_tb("CUTOVER_TB_CLOSED_PORT"), DB_NONE);
    cfg = config_for(DB_NONE, down);
    run_check(cfg, &o);
    tu_expect_on(
        &o, "main", "main", "skip",
        (const char *const[]){"no logical replication on the target", NULL});
    tu_expect_on(&o, "tonly", "tonly", "skip",
                 (const char *const[]){"no logical replication", NULL});
    tu_expect_on(&o, "down", "down", "error",
                 (const char *const[]){"target", "refused", NULL});
    ck_assert_int_eq(o.status, 2);
    tu_outcome_free(&o);
    free(cfg);
    free(down);
    repl_cleanup(DB_NONE);
}
END_TEST

static Suite *repl_suite(void)
{
    Suite *s = suite_create("pg_replication");
    TCase *tc = tcase_create("clusters");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, NULL, teardown_all);
    tcase_add_test(tc, test_no_replication_skips);
    tcase_add_test(tc, test_native_synced);
    tcase_add_test(tc, test_native_unsynced);
    tcase_add_test(tc, test_pglogical);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = repl_suite, .pg = true,
         .testbed = TU_VARS("CUTOVER_TB_PG_PASSWORD",
                            "CUTOVER_TB_CLOSED_PORT"));
