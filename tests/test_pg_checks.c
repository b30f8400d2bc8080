/*
 * label: net
 * test_pg_checks.c - pg.connect, pg.version and pg.extensions end to end:
 * the built binary runs `cutover check` on a config naming databases on
 * the test bed's two clusters, and the JSON report is read back.
 *
 * A faithful copy (pg_dump -Fc | pg_restore --no-owner --no-acl) passes
 * all three; planted drift on the target (missing extensions, an older
 * extension version, heroku_ext placement, another collation, encoding
 * and locale provider, a wrong password, a closed port) gives the
 * verdicts the checks promise. The test bed password must never appear
 * in any output.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define DB_COPY "pgchecks_copy"
#define DB_EXT  "pgchecks_ext"
#define DB_VER  "pgchecks_ver"
#define DB_ICU  "pgchecks_icu"

/* postgres: {main: {source: S, target: T}} plus extra resource lines. */
static char *config_for(const char *src, const char *tgt, const char *extra)
{
    struct co_buf b;

    co_buf_init(&b);
    co_buf_puts(&b, "version: 1\npostgres:\n  main:\n");
    if (src != NULL)
        co_buf_addf(&b, "    source: '%s'\n", src);
    if (tgt != NULL)
        co_buf_addf(&b, "    target: '%s'\n", tgt);
    if (extra != NULL)
        co_buf_puts(&b, extra);
    return co_buf_take(&b);
}

static char *config_db(const char *db, const char *extra)
{
    char *s = tu_pg_url("source", db), *t = tu_pg_url("target", db);
    char *c = config_for(s, t, extra);

    free(s);
    free(t);
    return c;
}

static void run_check(const char *config, const char *phase, const char *only,
                      struct tu_outcome *o)
{
    const char *const args[] = {"--phase", phase, "--only", only, NULL};

    tu_check_run(config, args, NULL, 60, o);
}

/* ---- fixtures ----------------------------------------------------------- */

static void setup(void)
{
    tu_pg_create(DB_COPY);
    tu_pg_sql("source", DB_COPY,
              "CREATE EXTENSION pgcrypto; CREATE EXTENSION \"uuid-ossp\";"
              "CREATE EXTENSION hstore;"
              "CREATE TABLE users (id uuid PRIMARY KEY DEFAULT "
              "gen_random_uuid(), attrs hstore);"
              "INSERT INTO users (attrs) SELECT 'a=>1' FROM "
              "generate_series(1, 10);");
    tu_pg_copy(DB_COPY);

    tu_pg_create(DB_EXT);
    tu_pg_sql("source", DB_EXT,
              "CREATE EXTENSION pgcrypto; CREATE EXTENSION \"uuid-ossp\";"
              "CREATE EXTENSION hstore VERSION '1.8';"
              "CREATE SCHEMA heroku_ext;"
              "CREATE EXTENSION citext SCHEMA heroku_ext;"
              "CREATE EXTENSION cube;");
    tu_pg_sql("target", DB_EXT,
              "CREATE EXTENSION hstore VERSION '1.7';"
              "CREATE EXTENSION citext;"
              "CREATE SCHEMA extensions;"
              "CREATE EXTENSION cube SCHEMA extensions;"
              "CREATE EXTENSION fuzzystrmatch;");

    tu_pg_create(DB_VER);
    tu_pg_sql("target", "postgres",
              "DROP DATABASE " DB_VER " WITH (FORCE);"
              "CREATE DATABASE " DB_VER " ENCODING 'LATIN1' "
              "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;");

    tu_pg_create(DB_ICU);
    tu_pg_sql("target", "postgres",
              "DROP DATABASE " DB_ICU " WITH (FORCE);"
              "CREATE DATABASE " DB_ICU " LOCALE_PROVIDER icu "
              "ICU_LOCALE 'en-US' TEMPLATE template0;");
}

/* ---- faithful copy ----------------------------------------------------- */

START_TEST(faithful_copy_passes)
{
    char *cfg = config_db(DB_COPY, NULL);
    const char *phases[] = {"pre", "post"};

    for (int i = 0; i < 2; i++) {
        struct tu_outcome o;
        run_check(cfg, phases[i], "pg.*", &o);
        if (i == 0) {
            tu_expect(&o, "pg.connect", NULL, "source", "pass",
                      TU_WORDS("PostgreSQL 15.", "TLS (TLSv1.3",
                               "not verified: sslmode=require",
                               "connected in"));
            tu_expect(&o, "pg.connect", NULL, "target", "pass",
                      TU_WORDS("PostgreSQL 15."));
            tu_expect(&o, "pg.version", NULL, "server_version", "pass",
                      TU_WORDS("source 15.", "target 15."));
            tu_expect(&o, "pg.version", NULL, "encoding", "pass",
                      TU_WORDS("UTF8"));
            tu_expect(&o, "pg.version", NULL, "lc_collate", "pass",
                      TU_WORDS("C.UTF-8"));
            tu_expect(&o, "pg.version", NULL, "lc_ctype", "pass", NULL);
            tu_expect(&o, "pg.version", NULL, "locale_provider", "pass",
                      TU_WORDS("libc"));
            tu_expect(&o, "pg.version", NULL, "collation_version", "pass",
                      NULL);
            ck_assert_ptr_null(tu_case(&o, "pg.version", NULL, "icu_locale"));
        }
        tu_expect(&o, "pg.extensions", NULL, "pgcrypto", "pass",
                  TU_WORDS("on both"));
        tu_expect(&o, "pg.extensions", NULL, "uuid-ossp", "pass",
                  TU_WORDS("1.1 on both"));
        tu_expect(&o, "pg.extensions", NULL, "hstore", "pass",
                  TU_WORDS("1.8 on both"));
        tu_expect(&o, "pg.extensions", NULL, "plpgsql", "pass", NULL);
        ck_assert_int_eq(tu_count_status(&o, "pg.extensions", "pass"), 4);
        /* the other pg.* checks are not this suite's business: only
         * ours must be clean */
        ck_assert_int_eq(tu_count_status(&o, "pg.extensions", "fail") +
                             tu_count_status(&o, "pg.extensions", "error") +
                             tu_count_status(&o, "pg.extensions", "warn"),
                         0);
        if (i == 0)
            ck_assert_int_eq(tu_count_status(&o, "pg.version", "fail") +
                                 tu_count_status(&o, "pg.version", "error"),
                             0);
        tu_outcome_free(&o);
    }
    free(cfg);
}
END_TEST

/* ---- pg.extensions ----------------------------------------------------- */

START_TEST(extensions_drift_post)
{
    char *cfg = config_db(DB_EXT, NULL);
    struct tu_outcome o;

    run_check(cfg, "post", "pg.extensions", &o);
    ck_assert_int_eq(o.status, 1);
    tu_expect(&o, "pg.extensions", NULL, "pgcrypto", "fail",
              TU_WORDS("not installed on target", "1.3"));
    tu_expect(&o, "pg.extensions", NULL, "uuid-ossp", "fail",
              TU_WORDS("not installed on target"));
    tu_expect(&o, "pg.extensions", NULL, "hstore", "fail",
              TU_WORDS("source 1.8, target 1.7"));
    tu_expect(
        &o, "pg.extensions", NULL, "citext", "pass",
        TU_WORDS("1.6 on both", "in heroku_ext on source, public on target"));
    tu_expect(&o, "pg.extensions", NULL, "cube", "warn",
              TU_WORDS("in public on source, extensions on target"));
    tu_expect(&o, "pg.extensions", NULL, "fuzzystrmatch", "pass",
              TU_WORDS("only on target"));
    tu_expect(&o, "pg.extensions", NULL, "plpgsql", "pass", NULL);
    json_t *h = tu_case(&o, "pg.extensions", NULL, "hstore");
    ck_assert_str_eq(tu_field(h, "source"), "1.8");
    ck_assert_str_eq(tu_field(h, "target"), "1.7");
    tu_outcome_free(&o);

    /* --phase all takes the post-cutover verdict */
    run_check(cfg, "all", "pg.extensions", &o);
    tu_expect(&o, "pg.extensions", NULL, "pgcrypto", "fail",
              TU_WORDS("not installed on target"));
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(extensions_drift_pre)
{
    char *cfg = config_db(DB_EXT, NULL);
    struct tu_outcome o;

    run_check(cfg, "pre", "pg.extensions", &o);
    tu_expect(&o, "pg.extensions", NULL, "pgcrypto", "warn",
              TU_WORDS("not installed on target (available: 1.3)"));
    tu_expect(&o, "pg.extensions", NULL, "uuid-ossp", "warn",
              TU_WORDS("not installed on target (available: 1.1)"));
    /* a wrong version is wrong before the cutover too */
    tu_expect(&o, "pg.extensions", NULL, "hstore", "fail",
              TU_WORDS("source 1.8, target 1.7"));
    ck_assert_int_eq(o.status, 1);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* ---- pg.version -------------------------------------------------------- */

START_TEST(version_collation_drift)
{
    char *cfg = config_db(DB_VER, NULL);
    struct tu_outcome o;

    run_check(cfg, "pre", "pg.version", &o);
    ck_assert_int_eq(o.status, 1);
    tu_expect(&o, "pg.version", NULL, "server_version", "pass", NULL);
    tu_expect(&o, "pg.version", NULL, "lc_collate", "fail",
              TU_WORDS("source C.UTF-8", "target C"));
    tu_expect(&o, "pg.version", NULL, "lc_ctype", "fail",
              TU_WORDS("source C.UTF-8", "target C"));
    tu_expect(&o, "pg.version", NULL, "encoding", "fail",
              TU_WORDS("source UTF8", "target LATIN1"));
    tu_expect(&o, "pg.version", NULL, "locale_provider", "pass", NULL);
    json_t *c = tu_case(&o, "pg.version", NULL, "lc_collate");
    ck_assert_str_eq(tu_field(c, "source"), "C.UTF-8");
    ck_assert_str_eq(tu_field(c, "target"), "C");
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(version_icu_drift)
{
    char *cfg = config_db(DB_ICU, NULL);
    struct tu_outcome o;

    run_check(cfg, "pre", "pg.version", &o);
    ck_assert_int_eq(o.status, 1);
    tu_expect(&o, "pg.version", NULL, "locale_provider", "fail",
              TU_WORDS("source libc", "target icu"));
    tu_expect(&o, "pg.version", NULL, "icu_locale", "fail",
              TU_WORDS("target en-US"));
    tu_expect(&o, "pg.version", NULL, "collation_version", "fail",
              TU_WORDS("source (none)"));
    tu_expect(&o, "pg.version", NULL, "lc_collate", "pass", NULL);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* ---- pg.connect -------------------------------------------------------- */

static char *target_with(const char *userpass, const char *hostport,
                         const char *query)
{
    return co_asprintf("postgres://%s@%s/%s%s", userpass, hostport, DB_COPY,
                       query ? query : "");
}

START_TEST(connect_wrong_password_on_target)
{
    char *src = tu_pg_url("source", DB_COPY);
    char *tgt = target_with("cutover:sentinel-wrong-5b1e0c", "127.0.0.1:45433",
                            "?sslmode=require");
    char *cfg = config_for(src, tgt, NULL);
    struct tu_outcome o;

    run_check(cfg, "pre", "pg.connect", &o);
    ck_assert_int_eq(o.status, 2);
    tu_expect(&o, "pg.connect", NULL, "source", "pass",
              TU_WORDS("PostgreSQL"));
    tu_expect(&o, "pg.connect", NULL, "target", "error",
              TU_WORDS("authentication failed"));
    ck_assert(!tu_mentions(&o, "sentinel-wrong-5b1e0c"));
    tu_outcome_free(&o);

    /* pair checks report the side they could not reach */
    run_check(cfg, "pre", "pg.version", &o);
    tu_expect(&o, "pg.version", NULL, "target", "error",
              TU_WORDS("authentication failed"));
    ck_assert_ptr_null(tu_case(&o, "pg.version", NULL, "server_version"));
    tu_outcome_free(&o);
    free(cfg);
    free(tgt);
    free(src);
}
END_TEST

START_TEST(connect_refused_and_timeout)
{
    char *up = co_asprintf("cutover:%s", tu_tb("CUTOVER_TB_PG_PASSWORD"));
    char *src = target_with(up, "127.0.0.1:45498", NULL);
    char *tgt = target_with(up, tu_tb("CUTOVER_TB_SILENT"), NULL);
    char *cfg = config_for(src, tgt, NULL);
    char *full = co_asprintf("version: 1\nsettings: {timeout: 2s}\n%s",
                             cfg + strlen("version: 1\n"));
    struct tu_outcome o;

    run_check(full, "pre", "pg.connect", &o);
    ck_assert_int_eq(o.status, 2);
    tu_expect(&o, "pg.connect", NULL, "source", "error",
              TU_WORDS("connection refused", "127.0.0.1:45498"));
    tu_expect(&o, "pg.connect", NULL, "target", "error",
              TU_WORDS("timed out"));
    tu_outcome_free(&o);

    run_check(full, "post", "pg.extensions", &o);
    tu_expect(&o, "pg.extensions", NULL, "source", "error",
              TU_WORDS("connection refused"));
    tu_outcome_free(&o);
    free(full);
    free(cfg);
    free(tgt);
    free(src);
    free(up);
}
END_TEST

START_TEST(connect_verified_and_one_sided)
{
    char *up = co_asprintf("cutover:%s", tu_tb("CUTOVER_TB_PG_PASSWORD"));
    char *src = target_with(up, "localhost:45432", NULL);
    char *tgt = target_with(up, "127.0.0.1:45433", "?sslmode=disable");
    char *extra = co_asprintf("    ca_file: '%s'\n", tu_tb("CUTOVER_TB_CA"));
    char *cfg = config_for(src, tgt, extra);
    struct tu_outcome o;

    run_check(cfg, "pre", "pg.connect", &o);
    tu_expect(&o, "pg.connect", NULL, "source", "pass",
              TU_WORDS("TLS (TLSv1.3, verified: sslmode=verify-full)"));
    tu_expect(&o, "pg.connect", NULL, "target", "warn",
              TU_WORDS("connected without TLS", "sslmode=disable"));
    tu_outcome_free(&o);
    free(cfg);

    /* only a source: one case, and pair checks are skipped by the runner */
    cfg = config_for(src, NULL, NULL);
    run_check(cfg, "pre", "pg.connect", &o);
    tu_expect(&o, "pg.connect", NULL, "source", "pass", NULL);
    ck_assert_int_eq(tu_ncases(&o, "pg.connect", NULL), 1);
    tu_outcome_free(&o);
    free(cfg);
    free(extra);
    free(tgt);
    free(src);
    free(up);
}
END_TEST

static Suite *pg_checks_suite(void)
{
    Suite *s = suite_create("pg_checks");
    TCase *tc = tcase_create("pg");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_add_test(tc, faithful_copy_passes);
    tcase_add_test(tc, extensions_drift_post);
    tcase_add_test(tc, extensions_drift_pre);
    tcase_add_test(tc, version_collation_drift);
    tcase_add_test(tc, version_icu_drift);
    tcase_add_test(tc, connect_wrong_password_on_target);
    tcase_add_test(tc, connect_refused_and_timeout);
    tcase_add_test(tc, connect_verified_and_one_sided);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = pg_checks_suite, .pg = true, .ck_env = true);
