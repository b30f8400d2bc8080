/*
 * label: net
 * test_init.c - `cutover init`: a starter cutover.yml from `heroku config
 * --json` and `aptible config` (lines or JSON) or .env files.
 *
 * Each input shape goes through the built binary; what init wrote is then
 * loaded by `cutover config` unchanged, with only the ${VAR}s it names
 * exported. The inputs hold sentinel secrets that must appear in neither
 * the file nor anything init prints. Ambiguous and unknown inputs end in
 * exit 78 and no file; an existing file survives without --force. Last,
 * the config written from the test bed's own URLs (`ci/services env`)
 * runs `cutover check` against the bed with no edit.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define PW1 "sentinel-init-pw-6c1f"
#define PW2 "sentinel-init-pw-9a2e"
#define PW3 "sentinel-init-pw-03b7"
#define PW4 "sentinel-init-pw-d4c8"

/* A realistic Heroku app: DATABASE_URL is the OLIVE database, a second
 * (RED) database, Heroku Redis under both of its names. */
static const char heroku_json[] =
    "{\n"
    "  \"DATABASE_URL\": \"postgres://u1:" PW1
    "@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc\",\n"
    "  \"HEROKU_POSTGRESQL_OLIVE_URL\": \"postgres://u1:" PW1
    "@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc\",\n"
    "  \"HEROKU_POSTGRESQL_RED_URL\": \"postgres://u2:" PW2
    "@ec2-5-6-7-8.compute-1.amazonaws.com:5432/d9xyz\",\n"
    "  \"REDIS_URL\": \"redis://:" PW3
    "@ec2-9-9-9-9.compute-1.amazonaws.com:12345\",\n"
    "  \"REDIS_TLS_URL\": \"rediss://:" PW3
    "@ec2-9-9-9-9.compute-1.amazonaws.com:12346\",\n"
    "  \"SECRET_KEY_BASE\": \"" PW4 "\",\n"
    "  \"RAILS_ENV\": \"production\"\n"
    "}\n";

/* The same app on Aptible, in each shape `aptible config` prints. */
static const char aptible_lines[] =
    "DATABASE_URL=postgresql://aptible:" PW2
    "@db-shared-us-east-1-1.aptible.in:23456/db\n"
    "HEROKU_POSTGRESQL_RED_URL=postgresql://aptible:" PW2
    "@db-shared-us-east-1-2.aptible.in:23457/db\n"
    "REDIS_URL=rediss://aptible:" PW3
    "@db-shared-us-east-1-3.aptible.in:23458\n"
    "SECRET_KEY_BASE=" PW4 "\n"
    "RAILS_ENV=production\n";

static const char aptible_json[] =
    "[{\"key\": \"DATABASE_URL\", \"value\": \"postgresql://aptible:" PW2
    "@db-shared-us-east-1-1.aptible.in:23456/db\"},\n"
    " {\"key\": \"HEROKU_POSTGRESQL_RED_URL\", \"value\": "
    "\"postgresql://aptible:" PW2
    "@db-shared-us-east-1-2.aptible.in:23457/db\"},\n"
    " {\"key\": \"REDIS_URL\", \"value\": \"rediss://aptible:" PW3
    "@db-shared-us-east-1-3.aptible.in:23458\"},\n"
    " {\"key\": \"SECRET_KEY_BASE\", \"value\": \"" PW4 "\"}]\n";

static const char aptible_dotenv[] =
    "# exported by hand\n"
    "export DATABASE_URL=\"postgresql://aptible:" PW2
    "@db-shared-us-east-1-1.aptible.in:23456/db\"\n"
    "HEROKU_POSTGRESQL_RED_URL='postgresql://aptible:" PW2
    "@db-shared-us-east-1-2.aptible.in:23457/db'\n"
    "REDIS_URL=rediss://aptible:" PW3
    "@db-shared-us-east-1-3.aptible.in:23458  # Aptible Redis\n";

static const char heroku_dotenv[] =
    "# heroku config --shell, edited\n"
    "export DATABASE_URL=\"postgres://u1:" PW1
    "@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc\"\n"
    "HEROKU_POSTGRESQL_OLIVE_URL=postgres://u1:" PW1
    "@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc\n"
    "HEROKU_POSTGRESQL_RED_URL=postgres://u2:" PW2
    "@ec2-5-6-7-8.compute-1.amazonaws.com:5432/d9xyz\n"
    "REDIS_URL=redis://:" PW3 "@ec2-9-9-9-9.compute-1.amazonaws.com:12345\n"
    "REDIS_TLS_URL=rediss://:" PW3
    "@ec2-9-9-9-9.compute-1.amazonaws.com:12346\n";

/* The variables the config above references, with harmless values. */
static const char *const realistic_env[] = {
    "HEROKU_DATABASE_URL=postgres://u@127.0.0.1:1/a",
    "APTIBLE_DATABASE_URL=postgres://u@127.0.0.1:1/b",
    "HEROKU_POSTGRESQL_RED_URL=postgres://u@127.0.0.1:1/c",
    "APTIBLE_HEROKU_POSTGRESQL_RED_URL=postgres://u@127.0.0.1:1/d",
    "HEROKU_REDIS_TLS_URL=rediss://127.0.0.1:1/0",
    "APTIBLE_REDIS_URL=rediss://127.0.0.1:2/0",
    NULL,
};

struct inited {
    char *dir, *cfg, *text;
    struct tu_proc p;
};

/* Writes the two inputs into a fresh directory and runs init there. */
static void run_init(struct inited *r, const char *heroku, const char *hname,
                     const char *aptible, const char *aname,
                     const char *const *extra)
{
    const char *argv[12] = {NULL,  "init",      "--heroku",
                            hname, "--aptible", aname};
    size_t n = 6;

    memset(r, 0, sizeof(*r));
    r->dir = tu_tmpdir();
    free(tu_write_file(r->dir, hname, heroku));
    free(tu_write_file(r->dir, aname, aptible));
    for (; extra && *extra && n < 11; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    ck_assert_int_eq(tu_run(&r->p, argv, NULL, r->dir, 30), 0);
    r->cfg = co_asprintf("%s/cutover.yml", r->dir);
    r->text = tu_read_file(r->cfg, NULL);
}

static void inited_free(struct inited *r)
{
    tu_proc_free(&r->p);
    free(r->dir);
    free(r->cfg);
    free(r->text);
}

static void assert_no_secret(const char *s)
{
    static const char *const pws[] = {PW1, PW2, PW3, PW4};

    for (size_t i = 0; s && i < 4; i++)
        ck_assert_msg(strstr(s, pws[i]) == NULL, "secret %s leaked:\n%s",
                      pws[i], s);
}

#define ASSERT_HAS(text, what)                                                \
    ck_assert_msg(strstr(text, what) != NULL, "missing \"%s\" in:\n%s", what, \
                  text)

/* `cutover config -c cfg` with env exported: exit 0. */
static void assert_loads(const char *cfg, const char *const *env)
{
    const char *argv[] = {NULL, "config", "-c", cfg, NULL};
    struct tu_proc p;

    ck_assert_int_eq(tu_run(&p, argv, env, NULL, 30), 0);
    ck_assert_msg(p.status == 0, "cutover config: exit %d: %s", p.status,
                  p.err);
    assert_no_secret(p.out);
    tu_proc_free(&p);
}

/* What every realistic shape gives. */
static void assert_realistic(struct inited *r, const char *hfmt,
                             const char *afmt)
{
    char *line;

    ck_assert_msg(r->p.status == 0, "init: exit %d: %s", r->p.status,
                  r->p.err);
    ck_assert_ptr_nonnull(r->text);
    assert_no_secret(r->text);
    assert_no_secret(r->p.out);
    assert_no_secret(r->p.err);
    ASSERT_HAS(r->p.err, "wrote cutover.yml: 2 postgres, 1 redis, env app");
    /* Two databases, named after their colours; DATABASE_URL is OLIVE. */
    ASSERT_HAS(r->text, "postgres:\n  olive:\n"
                        "    source: ${HEROKU_DATABASE_URL}");
    ASSERT_HAS(r->text, "# Heroku DATABASE_URL (also "
                        "HEROKU_POSTGRESQL_OLIVE_URL)\n"
                        "    target: ${APTIBLE_DATABASE_URL}");
    ASSERT_HAS(r->text, "  red:\n    source: ${HEROKU_POSTGRESQL_RED_URL}");
    ASSERT_HAS(r->text, "    target: ${APTIBLE_HEROKU_POSTGRESQL_RED_URL}");
    /* Heroku Redis over TLS, unverified, and why. */
    ASSERT_HAS(r->text, "redis:\n  main:\n"
                        "    source: ${HEROKU_REDIS_TLS_URL}");
    ASSERT_HAS(r->text, "# Heroku REDIS_TLS_URL (also REDIS_URL)");
    ASSERT_HAS(r->text, "    target: ${APTIBLE_REDIS_URL}");
    ASSERT_HAS(r->text, "self-signed certificate");
    ASSERT_HAS(r->text, "\n    tls_verify: false\n");
    /* The env pair, and the export list. */
    line =
        co_asprintf("env:\n  app:\n    source: \"heroku-config.%s\"  # %s"
                    "\n",
                    strcmp(hfmt, "heroku-json") == 0 ? "json" : "env", hfmt);
    ASSERT_HAS(r->text, line);
    free(line);
    line = co_asprintf("    target: \"aptible-config.env\"  # %s\n", afmt);
    ASSERT_HAS(r->text, line);
    free(line);
    ASSERT_HAS(r->text, "#   APTIBLE_HEROKU_POSTGRESQL_RED_URL  "
                        "HEROKU_POSTGRESQL_RED_URL of the Aptible app\n");
    ASSERT_HAS(r->text, "# domains:\n#   app.example.com:\n");
    ASSERT_HAS(r->text, "# endpoints:\n");
    ASSERT_HAS(r->text, "# outbound:");
    assert_loads(r->cfg, realistic_env);
}

/* Each shape of the two inputs, named as assert_realistic reports it. */
static const struct {
    const char *heroku, *heroku_file, *aptible, *aptible_file;
    const char *heroku_kind, *aptible_kind;
} shapes[] = {
    {heroku_json, "heroku-config.json", aptible_lines, "aptible-config.env",
     "heroku-json", "aptible"},
    {heroku_json, "heroku-config.json", aptible_json, "aptible-config.env",
     "heroku-json", "aptible-json"},
    {heroku_dotenv, "heroku-config.env", aptible_dotenv, "aptible-config.env",
     "dotenv", "dotenv"},
};

START_TEST(realistic_inputs)
{
    struct inited r;

    run_init(&r, shapes[_i].heroku, shapes[_i].heroku_file, shapes[_i].aptible,
             shapes[_i].aptible_file, NULL);
    assert_realistic(&r, shapes[_i].heroku_kind, shapes[_i].aptible_kind);
    inited_free(&r);
}
END_TEST

/* The bare minimum: one database, plain Heroku Redis (no TLS line). */
START_TEST(single_database_plain_redis)
{
    struct inited r;
    const char *env[] = {"HEROKU_DATABASE_URL=postgres://127.0.0.1/a",
                         "APTIBLE_DATABASE_URL=postgres://127.0.0.1/b",
                         "HEROKU_REDIS_URL=redis://127.0.0.1/0",
                         "APTIBLE_REDIS_URL=rediss://127.0.0.1/0", NULL};

    run_init(&r,
             "{\"DATABASE_URL\": \"postgres://a:" PW1 "@h1/d\", "
             "\"REDIS_URL\": \"redis://h:" PW3 "@r1:6379\"}",
             "heroku-config.json",
             "DATABASE_URL=postgres://b:" PW2 "@h2/d\n"
             "REDIS_URL=rediss://b:" PW3 "@r2:6380\n"
             "REPLICA_URL=postgres://b:" PW2 "@h3/d\n",
             "aptible-config.env", NULL);
    ck_assert_msg(r.p.status == 0, "exit %d: %s", r.p.status, r.p.err);
    assert_no_secret(r.text);
    ASSERT_HAS(r.text, "postgres:\n  main:\n    source: "
                       "${HEROKU_DATABASE_URL}");
    ASSERT_HAS(r.text, "redis:\n  main:\n    source: ${HEROKU_REDIS_URL}");
    ASSERT_HAS(r.text, "The Aptible side's certificate is verified");
    ck_assert_ptr_null(strstr(r.text, "tls_verify: false"));
    /* An Aptible database with no Heroku counterpart is said, not used. */
    ASSERT_HAS(r.text, "# not compared: REPLICA_URL in aptible-config.env");
    assert_loads(r.cfg, env);
    inited_free(&r);
}
END_TEST

START_TEST(existing_file_kept_without_force)
{
    struct inited r;
    const char *force[] = {"--force", NULL};
    char *path, *text;

    run_init(&r, heroku_json, "heroku-config.json", aptible_lines,
             "aptible-config.env", NULL);
    ck_assert_int_eq(r.p.status, 0);
    free(tu_write_file(r.dir, "cutover.yml", "# mine\n"));
    path = co_strdup(r.dir);
    inited_free(&r);
    /* Same directory again: refused, the file untouched. */
    {
        const char *argv[] = {NULL,        "init",
                              "--heroku",  "heroku-config.json",
                              "--aptible", "aptible-config.env",
                              NULL};
        struct tu_proc p;
        char *cfg = co_asprintf("%s/cutover.yml", path);

        ck_assert_int_eq(tu_run(&p, argv, NULL, path, 30), 0);
        ck_assert_int_eq(p.status, 64);
        ASSERT_HAS(p.err, "cutover.yml exists; use --force to replace it");
        text = tu_read_file(cfg, NULL);
        ck_assert_str_eq(text, "# mine\n");
        free(text);
        tu_proc_free(&p);
        free(cfg);
    }
    free(path);
    /* With --force: replaced. */
    run_init(&r, heroku_json, "heroku-config.json", aptible_lines,
             "aptible-config.env", NULL);
    free(tu_write_file(r.dir, "cutover.yml", "# mine\n"));
    path = co_strdup(r.dir);
    inited_free(&r);
    {
        const char *argv[] = {NULL,        "init",
                              "--heroku",  "heroku-config.json",
                              "--aptible", "aptible-config.env",
                              force[0],    NULL};
        struct tu_proc p;
        char *cfg = co_asprintf("%s/cutover.yml", path);

        ck_assert_int_eq(tu_run(&p, argv, NULL, path, 30), 0);
        ck_assert_int_eq(p.status, 0);
        text = tu_read_file(cfg, NULL);
        ASSERT_HAS(text, "version: 1\n");
        free(text);
        tu_proc_free(&p);
        free(cfg);
    }
    free(path);
}
END_TEST

/* -o - prints the config; -o into a directory that is not there is a
 * usage error before anything is read. */
START_TEST(output_stdout_and_bad_dir)
{
    struct inited r;
    const char *nodir[] = {"-o", "deploy/cutover.yml", NULL};
    const char *dash[] = {"-o", "-", NULL};

    run_init(&r, heroku_json, "heroku-config.json", aptible_lines,
             "aptible-config.env", nodir);
    ck_assert_int_eq(r.p.status, 64);
    ASSERT_HAS(r.p.err, "its directory does not exist");
    inited_free(&r);

    run_init(&r, heroku_json, "heroku-config.json", aptible_lines,
             "aptible-config.env", dash);
    ck_assert_msg(r.p.status == 0, "exit %d: %s", r.p.status, r.p.err);
    ck_assert_ptr_null(r.text); /* nothing written to cutover.yml */
    ASSERT_HAS(r.p.out, "version: 1\n");
    ASSERT_HAS(r.p.out, "    source: ${HEROKU_DATABASE_URL}");
    assert_no_secret(r.p.out);
    inited_free(&r);
}
END_TEST

/* -o into a subdirectory: the env paths are written so that the loader,
 * which resolves them from the config's directory, finds the files. */
START_TEST(env_paths_relative_to_config)
{
    char *dir = tu_tmpdir();
    char *sub = co_asprintf("%s/deploy", dir);
    char *h = tu_write_file(dir, "heroku-config.json", heroku_json);
    char *a = tu_write_file(dir, "aptible-config.env", aptible_lines);
    const char *argv[] = {NULL, "init", "--heroku",           h,   "--aptible",
                          a,    "-o",   "deploy/cutover.yml", NULL};
    struct tu_proc p;
    char *cfg = co_asprintf("%s/cutover.yml", sub);
    char *text, *want;

    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 30), 0);
    ck_assert_msg(p.status == 0, "exit %d: %s", p.status, p.err);
    text = tu_read_file(cfg, NULL);
    /* Not below deploy/: absolute. */
    want = co_asprintf("    source: \"%s\"", h);
    ASSERT_HAS(text, want);
    assert_loads(cfg, realistic_env);
    free(want);
    free(text);
    tu_proc_free(&p);
    free(cfg);
    free(a);
    free(h);
    free(sub);
    free(dir);
}
END_TEST

/* Inputs init cannot turn into a config: exit 78, a reason that names
 * variables and files but no value, and no file written. */
static const struct refused {
    const char *heroku, *aptible, *why;
} refused[] = {
    /* Two Heroku databases, two Aptible ones with other names. */
    {"{\"HEROKU_POSTGRESQL_RED_URL\": \"postgres://u:" PW1 "@h1/a\", "
     "\"HEROKU_POSTGRESQL_BLUE_URL\": \"postgres://u:" PW1 "@h2/b\"}",
     "DB1_URL=postgres://u:" PW2 "@a1/a\nDB2_URL=postgres://u:" PW2 "@a2/b\n",
     "ambiguous: cannot tell which Aptible PostgreSQL database (DB1_URL; "
     "DB2_URL, in aptible-config.env) replaces which Heroku one "
     "(HEROKU_POSTGRESQL_BLUE_URL; HEROKU_POSTGRESQL_RED_URL"},
    /* A Heroku database with nowhere to go. */
    {"{\"DATABASE_URL\": \"postgres://u:" PW1 "@h1/a\"}",
     "RAILS_ENV=production\n",
     "aptible-config.env has no PostgreSQL URL for the Heroku PostgreSQL "
     "database of heroku-config.json (DATABASE_URL)"},
    /* Aptible's DATABASE_URL still the Heroku one: no target known. */
    {"{\"DATABASE_URL\": \"postgres://u:" PW1 "@h1/a\"}",
     "DATABASE_URL=postgres://u:" PW1 "@h1/a\n",
     "DATABASE_URL in aptible-config.env still points at the Heroku "
     "PostgreSQL database (DATABASE_URL in heroku-config.json)"},
    /* Not a config dump. */
    {"{\"DATABASE_URL\": \"postgres://u:" PW1 "@h1/a\"",
     "RAILS_ENV=production\n", "cannot parse heroku-config.json"},
    {"{\"DATABASE_URL\": \"postgres://u:" PW1 "@h1/a\"}",
     "DATABASE_URL='postgres://u:" PW2 "@h1/a\n",
     "cannot parse aptible-config.env (Aptible config, read as "},
    {"{\"DATABASE_URL\": {\"nested\": \"" PW1 "\"}}", "A=1\n",
     "cannot parse heroku-config.json"},
};

START_TEST(refused_inputs)
{
    const struct refused *f = &refused[_i];
    struct inited r;

    run_init(&r, f->heroku, "heroku-config.json", f->aptible,
             "aptible-config.env", NULL);
    ck_assert_msg(r.p.status == 78, "exit %d: %s", r.p.status, r.p.err);
    ASSERT_HAS(r.p.err, f->why);
    assert_no_secret(r.p.err);
    ck_assert_ptr_null(r.text);
    inited_free(&r);
}
END_TEST

START_TEST(usage_and_missing_files)
{
    const char *one[] = {NULL, "init", "--heroku", "x.json", NULL};
    const char *missing[] = {NULL,        "init",          "--heroku",
                             "nope.json", "--aptible",     "nope.env",
                             "-o",        "/tmp/x-no.yml", NULL};
    struct tu_proc p;

    ck_assert_int_eq(tu_run(&p, one, NULL, NULL, 30), 0);
    ck_assert_int_eq(p.status, 64);
    ASSERT_HAS(p.err, "init needs --heroku FILE");
    tu_proc_free(&p);
    ck_assert_int_eq(tu_run(&p, missing, NULL, "/", 30), 0);
    ck_assert_int_eq(p.status, 78);
    ASSERT_HAS(p.err, "cannot read nope.json: No such file or directory");
    tu_proc_free(&p);
}
END_TEST

/* ---- against the test bed --------------------------------------------- */

/* The status of case `name` of check/resource in a JSON report. */
static const char *find_case(json_t *root, const char *check,
                             const char *resource, const char *name)
{
    json_t *checks = json_object_get(root, "checks"), *c, *k;
    size_t i, j;

    json_array_foreach(checks, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "check"));
        const char *res = json_string_value(json_object_get(c, "resource"));

        if (strcmp(id, check) != 0 || strcmp(res, resource) != 0)
            continue;
        json_array_foreach(json_object_get(c, "cases"), j, k)
        {
            const char *n = json_string_value(json_object_get(k, "name"));

            if (strcmp(n, name) == 0)
                return json_string_value(json_object_get(k, "status"));
        }
    }
    return NULL;
}

/* The bed as a Heroku app (source PostgreSQL, Heroku Redis under both
 * names: plain and TLS) and an Aptible one (target PostgreSQL and
 * Redis): init, then check with only init's variables exported. */
START_TEST(runs_against_the_test_bed)
{
    char *dir = tu_tmpdir();
    char *heroku = co_asprintf(
        "{\"DATABASE_URL\": \"%s\", \"REDIS_URL\": \"%s\", "
        "\"REDIS_TLS_URL\": \"%s\", \"RAILS_ENV\": \"production\"}\n",
        tu_tb("CUTOVER_TB_PG_SOURCE_URL"),
        tu_tb("CUTOVER_TB_REDIS_SOURCE_URL"),
        tu_tb("CUTOVER_TB_REDIS_TLS_URL"));
    char *aptible = co_asprintf("DATABASE_URL=%s\nREDIS_URL=%s\n"
                                "RAILS_ENV=production\n",
                                tu_tb("CUTOVER_TB_PG_TARGET_URL"),
                                tu_tb("CUTOVER_TB_REDIS_TARGET_URL"));
    const char *init[] = {NULL,        "init",
                          "--heroku",  "heroku-config.json",
                          "--aptible", "aptible-config.env",
                          NULL};
    const char *const check[] = {"--phase",   "pre", "--quiet",
                                 "--timeout", "20s", NULL};
    char *e1 = co_asprintf("HEROKU_DATABASE_URL=%s",
                           tu_tb("CUTOVER_TB_PG_SOURCE_URL"));
    char *e2 = co_asprintf("APTIBLE_DATABASE_URL=%s",
                           tu_tb("CUTOVER_TB_PG_TARGET_URL"));
    char *e3 = co_asprintf("HEROKU_REDIS_TLS_URL=%s",
                           tu_tb("CUTOVER_TB_REDIS_TLS_URL"));
    char *e4 = co_asprintf("APTIBLE_REDIS_URL=%s",
                           tu_tb("CUTOVER_TB_REDIS_TARGET_URL"));
    const char *env[] = {e1, e2, e3, e4, NULL};
    char *cfg = co_asprintf("%s/cutover.yml", dir);
    char *text;
    struct tu_proc p;
    struct tu_outcome o;
    json_t *root;

    free(tu_write_file(dir, "heroku-config.json", heroku));
    free(tu_write_file(dir, "aptible-config.env", aptible));
    ck_assert_int_eq(tu_run(&p, init, NULL, dir, 30), 0);
    ck_assert_msg(p.status == 0, "init: exit %d: %s", p.status, p.err);
    tu_proc_free(&p);
    text = tu_read_file(cfg, NULL);
    ck_assert_ptr_null(strstr(text, tu_tb("CUTOVER_TB_PG_PASSWORD")));
    free(text);
    tu_check_run_at(dir, "cutover.yml", check, env, 120, &o);
    /* 0 or 1 (the shared bed's databases may differ); never a config,
     * usage or could-not-check outcome. */
    ck_assert_msg(o.status == 0 || o.status == 1, "check: exit %d: %s",
                  o.status, o.err);
    root = o.report;
    ck_assert_str_eq(find_case(root, "pg.connect", "main", "source"), "pass");
    ck_assert_str_eq(find_case(root, "pg.connect", "main", "target"), "pass");
    /* Heroku Redis over TLS, unverified: reachable, and said so. */
    ck_assert_ptr_nonnull(find_case(root, "redis.connect", "main", "source"));
    ck_assert_str_ne(find_case(root, "redis.connect", "main", "source"),
                     "error");
    /* The bed's target Redis is plain: a warning, not an error. */
    ck_assert_ptr_nonnull(find_case(root, "redis.connect", "main", "target"));
    ck_assert_str_ne(find_case(root, "redis.connect", "main", "target"),
                     "error");
    ck_assert_ptr_nonnull(find_case(root, "env.diff", "app", "RAILS_ENV"));
    tu_outcome_free(&o);
    free(e1);
    free(e2);
    free(e3);
    free(e4);
    free(cfg);
    free(heroku);
    free(aptible);
    free(dir);
}
END_TEST

static Suite *init_suite(void)
{
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("init");
    TCase *bed = tcase_create("testbed");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, realistic_inputs, 0,
                        (int)(sizeof(shapes) / sizeof(shapes[0])));
    tcase_add_test(tc, single_database_plain_redis);
    tcase_add_test(tc, existing_file_kept_without_force);
    tcase_add_test(tc, output_stdout_and_bad_dir);
    tcase_add_test(tc, env_paths_relative_to_config);
    tcase_add_loop_test(tc, refused_inputs, 0,
                        (int)(sizeof(refused) / sizeof(refused[0])));
    tcase_add_test(tc, usage_and_missing_files);
    suite_add_tcase(s, tc);
    tcase_set_timeout(bed, 150);
    tcase_add_test(bed, runs_against_the_test_bed);
    suite_add_tcase(s, bed);
    return s;
}

TU_SUITE(.make = init_suite, .testbed = TU_VARS("CUTOVER_TB_PG_SOURCE_URL",
                                                "CUTOVER_TB_PG_TARGET_URL",
                                                "CUTOVER_TB_REDIS_SOURCE_URL",
                                                "CUTOVER_TB_REDIS_TARGET_URL",
                                                "CUTOVER_TB_REDIS_TLS_URL",
                                                "CUTOVER_TB_PG_PASSWORD"));
