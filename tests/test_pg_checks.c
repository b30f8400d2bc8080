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
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"

#define DB_COPY "pgchecks_copy"
#define DB_EXT  "pgchecks_ext"
#define DB_VER  "pgchecks_ver"
#define DB_ICU  "pgchecks_icu"

struct outcome {
    int status;
    json_t *report;
    char *text; /* stdout + stderr + JSON, for messages and leak checks */
};

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
                      struct outcome *o)
{
    char *dir = tu_tmpdir();
    char *cfg = tu_write_file(dir, "cutover.yml", config);
    char *json = co_asprintf("%s/report.json", dir);
    const char *argv[] = {"cutover", "check", "-c",     cfg,  "--phase", phase,
                          "--only",  only,    "--json", json, NULL};
    struct tu_proc p;
    json_error_t jerr;
    char *raw;

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 60), 0);
    raw = tu_read_file(json, NULL);
    o->status = p.status;
    o->text = co_asprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s\n--- "
                          "json\n%s",
                          p.status, p.out ? p.out : "", p.err ? p.err : "",
                          raw ? raw : "(none)");
    o->report = json_load_file(json, 0, &jerr);
    ck_assert_msg(o->report != NULL, "no JSON report (%s): %s", jerr.text,
                  o->text);
    ck_assert_msg(strstr(o->text, tu_tb("CUTOVER_TB_PG_PASSWORD")) == NULL,
                  "the password leaked: %s", o->text);
    tu_proc_free(&p);
    free(raw);
    free(json);
    free(cfg);
    free(dir);
}

static void outcome_free(struct outcome *o)
{
    json_decref(o->report);
    free(o->text);
}

static json_t *cases_of(const struct outcome *o, const char *check)
{
    json_t *checks = json_object_get(o->report, "checks"), *c;
    size_t i;

    json_array_foreach(checks, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "check"));
        if (id != NULL && strcmp(id, check) == 0)
            return json_object_get(c, "cases");
    }
    ck_abort_msg("no %s result: %s", check, o->text);
    return NULL;
}

static json_t *find_case(const struct outcome *o, const char *check,
                         const char *name)
{
    json_t *c;
    size_t i;

    json_array_foreach(cases_of(o, check), i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return c;
    }
    return NULL;
}

static const char *field(json_t *c, const char *key)
{
    const char *v = json_string_value(json_object_get(c, key));
    return v ? v : "";
}

/* Asserts a case: status, and every word (NULL-ended) in its message. */
static void expect(const struct outcome *o, const char *check,
                   const char *name, const char *status, ...)
{
    json_t *c = find_case(o, check, name);
    const char *msg, *w;
    va_list ap;

    ck_assert_msg(c != NULL, "%s: no case %s: %s", check, name, o->text);
    msg = field(c, "message");
    ck_assert_msg(strcmp(field(c, "status"), status) == 0,
                  "%s/%s is %s, want %s: %s", check, name, field(c, "status"),
                  status, msg);
    va_start(ap, status);
    while ((w = va_arg(ap, const char *)) != NULL)
        ck_assert_msg(strstr(msg, w) != NULL, "%s/%s: \"%s\" lacks \"%s\"",
                      check, name, msg, w);
    va_end(ap);
}

static size_t count_status(const struct outcome *o, const char *check,
                           const char *status)
{
    json_t *c;
    size_t i, n = 0;

    json_array_foreach(cases_of(o, check), i, c) n +=
        strcmp(field(c, "status"), status) == 0;
    return n;
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
        struct outcome o;
        run_check(cfg, phases[i], "pg.*", &o);
        if (i == 0) {
            expect(&o, "pg.connect", "source", "pass", "PostgreSQL 15.",
                   "TLS (TLSv1.3", "not verified: sslmode=require",
                   "connected in", NULL);
            expect(&o, "pg.connect", "target", "pass", "PostgreSQL 15.", NULL);
            expect(&o, "pg.version", "server_version", "pass", "source 15.",
                   "target 15.", NULL);
            expect(&o, "pg.version", "encoding", "pass", "UTF8", NULL);
            expect(&o, "pg.version", "lc_collate", "pass", "C.UTF-8", NULL);
            expect(&o, "pg.version", "lc_ctype", "pass", NULL);
            expect(&o, "pg.version", "locale_provider", "pass", "libc", NULL);
            expect(&o, "pg.version", "collation_version", "pass", NULL);
            ck_assert_ptr_null(find_case(&o, "pg.version", "icu_locale"));
        }
        expect(&o, "pg.extensions", "pgcrypto", "pass", "on both", NULL);
        expect(&o, "pg.extensions", "uuid-ossp", "pass", "1.1 on both", NULL);
        expect(&o, "pg.extensions", "hstore", "pass", "1.8 on both", NULL);
        expect(&o, "pg.extensions", "plpgsql", "pass", NULL);
        ck_assert_int_eq(count_status(&o, "pg.extensions", "pass"), 4);
        /* the other pg.* checks are not this suite's business: only
         * ours must be clean */
        ck_assert_int_eq(count_status(&o, "pg.extensions", "fail") +
                             count_status(&o, "pg.extensions", "error") +
                             count_status(&o, "pg.extensions", "warn"),
                         0);
        if (i == 0)
            ck_assert_int_eq(count_status(&o, "pg.version", "fail") +
                                 count_status(&o, "pg.version", "error"),
                             0);
        outcome_free(&o);
    }
    free(cfg);
}
END_TEST

/* ---- pg.extensions ----------------------------------------------------- */

START_TEST(extensions_drift_post)
{
    char *cfg = config_db(DB_EXT, NULL);
    struct outcome o;

    run_check(cfg, "post", "pg.extensions", &o);
    ck_assert_int_eq(o.status, 1);
    expect(&o, "pg.extensions", "pgcrypto", "fail", "not installed on target",
           "1.3", NULL);
    expect(&o, "pg.extensions", "uuid-ossp", "fail", "not installed on target",
           NULL);
    expect(&o, "pg.extensions", "hstore", "fail", "source 1.8, target 1.7",
           NULL);
    expect(&o, "pg.extensions", "citext", "pass", "1.6 on both",
           "in heroku_ext on source, public on target", NULL);
    expect(&o, "pg.extensions", "cube", "warn",
           "in public on source, extensions on target", NULL);
    expect(&o, "pg.extensions", "fuzzystrmatch", "pass", "only on target",
           NULL);
    expect(&o, "pg.extensions", "plpgsql", "pass", NULL);
    json_t *h = find_case(&o, "pg.extensions", "hstore");
    ck_assert_str_eq(field(h, "source"), "1.8");
    ck_assert_str_eq(field(h, "target"), "1.7");
    outcome_free(&o);

    /* --phase all takes the post-cutover verdict */
    run_check(cfg, "all", "pg.extensions", &o);
    expect(&o, "pg.extensions", "pgcrypto", "fail", "not installed on target",
           NULL);
    outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(extensions_drift_pre)
{
    char *cfg = config_db(DB_EXT, NULL);
    struct outcome o;

    run_check(cfg, "pre", "pg.extensions", &o);
    expect(&o, "pg.extensions", "pgcrypto", "warn",
           "not installed on target (available: 1.3)", NULL);
    expect(&o, "pg.extensions", "uuid-ossp", "warn",
           "not installed on target (available: 1.1)", NULL);
    /* a wrong version is wrong before the cutover too */
    expect(&o, "pg.extensions", "hstore", "fail", "source 1.8, target 1.7",
           NULL);
    ck_assert_int_eq(o.status, 1);
    outcome_free(&o);
    free(cfg);
}
END_TEST

/* ---- pg.version -------------------------------------------------------- */

START_TEST(version_collation_drift)
{
    char *cfg = config_db(DB_VER, NULL);
    struct outcome o;

    run_check(cfg, "pre", "pg.version", &o);
    ck_assert_int_eq(o.status, 1);
    expect(&o, "pg.version", "server_version", "pass", NULL);
    expect(&o, "pg.version", "lc_collate", "fail", "source C.UTF-8",
           "target C", NULL);
    expect(&o, "pg.version", "lc_ctype", "fail", "source C.UTF-8", "target C",
           NULL);
    expect(&o, "pg.version", "encoding", "fail", "source UTF8",
           "target LATIN1", NULL);
    expect(&o, "pg.version", "locale_provider", "pass", NULL);
    json_t *c = find_case(&o, "pg.version", "lc_collate");
    ck_assert_str_eq(field(c, "source"), "C.UTF-8");
    ck_assert_str_eq(field(c, "target"), "C");
    outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(version_icu_drift)
{
    char *cfg = config_db(DB_ICU, NULL);
    struct outcome o;

    run_check(cfg, "pre", "pg.version", &o);
    ck_assert_int_eq(o.status, 1);
    expect(&o, "pg.version", "locale_provider", "fail", "source libc",
           "target icu", NULL);
    expect(&o, "pg.version", "icu_locale", "fail", "target en-US", NULL);
    expect(&o, "pg.version", "collation_version", "fail", "source (none)",
           NULL);
    expect(&o, "pg.version", "lc_collate", "pass", NULL);
    outcome_free(&o);
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
    struct outcome o;

    run_check(cfg, "pre", "pg.connect", &o);
    ck_assert_int_eq(o.status, 2);
    expect(&o, "pg.connect", "source", "pass", "PostgreSQL", NULL);
    expect(&o, "pg.connect", "target", "error", "authentication failed", NULL);
    ck_assert_ptr_null(strstr(o.text, "sentinel-wrong-5b1e0c"));
    outcome_free(&o);

    /* pair checks report the side they could not reach */
    run_check(cfg, "pre", "pg.version", &o);
    expect(&o, "pg.version", "target", "error", "authentication failed", NULL);
    ck_assert_ptr_null(find_case(&o, "pg.version", "server_version"));
    outcome_free(&o);
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
    struct outcome o;

    run_check(full, "pre", "pg.connect", &o);
    ck_assert_int_eq(o.status, 2);
    expect(&o, "pg.connect", "source", "error", "connection refused",
           "127.0.0.1:45498", NULL);
    expect(&o, "pg.connect", "target", "error", "timed out", NULL);
    outcome_free(&o);

    run_check(full, "post", "pg.extensions", &o);
    expect(&o, "pg.extensions", "source", "error", "connection refused", NULL);
    outcome_free(&o);
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
    struct outcome o;

    run_check(cfg, "pre", "pg.connect", &o);
    expect(&o, "pg.connect", "source", "pass",
           "TLS (TLSv1.3, verified: sslmode=verify-full)", NULL);
    expect(&o, "pg.connect", "target", "warn", "connected without TLS",
           "sslmode=disable", NULL);
    outcome_free(&o);
    free(cfg);

    /* only a source: one case, and pair checks are skipped by the runner */
    cfg = config_for(src, NULL, NULL);
    run_check(cfg, "pre", "pg.connect", &o);
    expect(&o, "pg.connect", "source", "pass", NULL);
    ck_assert_int_eq(json_array_size(cases_of(&o, "pg.connect")), 1);
    outcome_free(&o);
    free(cfg);
    free(extra);
    free(tgt);
    free(src);
    free(up);
}
END_TEST

int main(void)
{
    Suite *s;
    TCase *tc;
    SRunner *sr;
    int failed;

    tu_pg_require();
    s = suite_create("pg_checks");
    tc = tcase_create("pg");
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
    sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
