/*
 * test_config_schema.c - `cutover config --schema`, the JSON Schema of
 * cutover.yml generated from the loader's key tables.
 * label: unit
 *
 * The committed doc/cutover.schema.json (the file the examples' modelines
 * point editors at) must equal what the binary prints. Debian's
 * python3-jsonschema (tests/schema/validate.py) then judges: every
 * example validates, and each deliberately wrong config is rejected at
 * the very key path `cutover config` names in its error. The schema is
 * also held against the loader and the registry: the same top-level
 * keys, every check id and param, a description on every key.
 */
#include <check.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define REGENERATE                                                            \
    "regenerate it: build/cutover config --schema > doc/cutover.schema.json"

static char *schema_text(void)
{
    const char *argv[] = {NULL, "config", "--schema", NULL};
    struct tu_proc p;
    char *out;

    ck_assert_int_eq(tu_run(&p, argv, NULL, "/", 30), 0);
    ck_assert_msg(p.status == 0, "exit %d: %s", p.status, p.err);
    out = co_strdup(p.out);
    tu_proc_free(&p);
    return out;
}

static json_t *schema_json(void)
{
    char *text = schema_text();
    json_error_t e;
    json_t *s = json_loads(text, 0, &e);

    ck_assert_msg(s != NULL, "not JSON: %s", e.text);
    free(text);
    return s;
}

static char *committed_path(void)
{
    return co_asprintf("%s/doc/cutover.schema.json", tu_source_dir());
}

/* validate.py's output for files (a shell-quoted list). */
static int validate(const char *files, char **out)
{
    char *path = committed_path();
    char *cmd = co_asprintf("python3 '%s/tests/schema/validate.py' '%s' %s "
                            "2>&1",
                            tu_source_dir(), path, files);
    int rc = tu_sh(cmd, out);

    free(cmd);
    free(path);
    return rc;
}

START_TEST(committed_file_is_current)
{
    char *now = schema_text();
    char *path = committed_path();
    char *file = tu_read_file(path, NULL);

    ck_assert_msg(file != NULL, "%s is missing; " REGENERATE, path);
    ck_assert_msg(strcmp(now, file) == 0, "%s is stale; " REGENERATE, path);
    free(now);
    free(path);
    free(file);
}
END_TEST

START_TEST(is_a_2020_12_schema)
{
    json_t *s = schema_json();
    char *cmd = co_asprintf(
        "python3 -c 'import json,sys,jsonschema; "
        "jsonschema.Draft202012Validator.check_schema(json.load(open(sys."
        "argv[1])))' '%s/doc/cutover.schema.json' 2>&1",
        tu_source_dir());
    char *out = NULL;

    ck_assert_str_eq(json_string_value(json_object_get(s, "$schema")),
                     "https://json-schema.org/draft/2020-12/schema");
    ck_assert_msg(tu_sh(cmd, &out) == 0, "not a valid schema: %s", out);
    free(out);
    free(cmd);
    json_decref(s);
}
END_TEST

/* Every example validates and points its editor at the committed file. */
START_TEST(examples_validate)
{
    char *pat = co_asprintf("%s/examples/*.yml", tu_source_dir());
    struct co_buf files;
    glob_t g;
    char *out = NULL;
    int rc;

    ck_assert_int_eq(glob(pat, 0, NULL, &g), 0);
    ck_assert_uint_ge(g.gl_pathc, 5);
    co_buf_init(&files);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *text = tu_read_file(g.gl_pathv[i], NULL);

        ck_assert_msg(strncmp(text,
                              "# yaml-language-server: "
                              "$schema=../doc/cutover.schema.json\n",
                              58) == 0,
                      "%s: no yaml-language-server modeline on line 1",
                      g.gl_pathv[i]);
        free(text);
        co_buf_addf(&files, "'%s' ", g.gl_pathv[i]);
    }
    rc = validate(files.s, &out);
    ck_assert_msg(rc == 0, "examples rejected:\n%s", out);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *line = co_asprintf("ok %s\n", g.gl_pathv[i]);
        ck_assert_ptr_nonnull(strstr(out, line));
        free(line);
    }
    free(out);
    co_buf_free(&files);
    globfree(&g);
    free(pat);
}
END_TEST

/* A wrong config and the key path both judges must name. */
static const struct bad {
    const char *yaml;
    const char *path;
} bad_configs[] = {
    {"postgres: {main: {sorce: x, target: \"${SCHEMA_T_PG}\"}}\n",
     "postgres.main.sorce"},
    {"settings: {jobs: 0}\n", "settings.jobs"},
    {"settings: {jobs: 257}\n", "settings.jobs"},
    {"settings: {timeout: 5 minutes}\n", "settings.timeout"},
    {"settings: {resolvers: [\"1.1.1.1\", \"\"]}\n", "settings.resolvers[1]"},
    {"redis: {jobs: {source: \"${SCHEMA_T_REDIS}\", queues: sidekik}}\n",
     "redis.jobs.queues"},
    {"postgres: {main: {target: \"mysql://h/db\"}}\n", "postgres.main.target"},
    {"postgres: {main: {target: \"${SCHEMA_T_PG}\", tls_verify: maybe}}\n",
     "postgres.main.tls_verify"},
    {"postgres: {main: {}}\n", "postgres.main"},
    {"endpoints: {web: {expect_status: 200}}\n", "endpoints.web.url"},
    {"endpoints: {web: {url: \"https://x.example\", expect_status: 700}}\n",
     "endpoints.web.expect_status"},
    {"endpoints: {web: {url: \"https://x.example\", "
     "headers: {\"Bad Header\": x}}}\n",
     "endpoints.web.headers.Bad Header"},
    {"domains: {a.example.com: {expect_acme_cname: true}}\n",
     "domains.a.example.com.expect_acme_cname"},
    {"outbound: {stripe: \"api.stripe.com\"}\n", "outbound.stripe"},
    {"checks: {pg.rowcount: {bogus: 1}}\n", "checks.pg.rowcount.bogus"},
    {"checks: {pg.rowcount: {phases: later}}\n", "checks.pg.rowcount.phases"},
    {"checks: {pg.nope: {}}\n", "checks.pg.nope"},
    {"version: 2\n", "version"},
    {"postgress: {}\n", "postgress"},
};

#define NBAD (sizeof(bad_configs) / sizeof(bad_configs[0]))

/* Each wrong config is rejected by `cutover config` (exit 78) naming a
 * key path, and by the schema at that same path and nowhere else. One
 * validate.py run judges them all: a Python start costs a second on a
 * busy machine. */
START_TEST(wrong_configs_same_path)
{
    char *dir = tu_tmpdir();
    char *cfg[NBAD];
    struct co_buf files;
    const char *env[] = {"SCHEMA_T_PG=postgres://u:pw@127.0.0.1/db",
                         "SCHEMA_T_REDIS=redis://127.0.0.1:6379/0", NULL};
    char *out = NULL;

    co_buf_init(&files);
    for (size_t i = 0; i < NBAD; i++) {
        char name[32];

        snprintf(name, sizeof(name), "bad%02zu.yml", i);
        cfg[i] = tu_write_file(dir, name, bad_configs[i].yaml);
        co_buf_addf(&files, "'%s' ", cfg[i]);
    }
    ck_assert_int_eq(validate(files.s, &out), 1);
    for (size_t i = 0; i < NBAD; i++) {
        const struct bad *b = &bad_configs[i];
        char *want = co_asprintf("error %s %s: ", cfg[i], b->path);
        char *mine = co_asprintf("error %s ", cfg[i]);
        char *cut = co_asprintf(": %s: ", b->path);
        const char *argv[] = {NULL, "config", "-c", cfg[i], NULL};
        struct tu_proc p;
        int lines = 0;

        /* The loader names the path... */
        ck_assert_int_eq(tu_run(&p, argv, env, NULL, 30), 0);
        ck_assert_msg(p.status == 78, "%s: exit %d", b->yaml, p.status);
        ck_assert_msg(strstr(p.err, cut) != NULL,
                      "%s: cutover config did not name %s: %s", b->yaml,
                      b->path, p.err);
        /* ...and the schema rejects the file there, and only there. */
        ck_assert_msg(strstr(out, want) != NULL,
                      "%s: schema did not name %s:\n%s", b->yaml, b->path,
                      out);
        for (const char *q = out; (q = strstr(q, mine)) != NULL; q++)
            lines++;
        ck_assert_msg(lines == 1, "%s: more than one place:\n%s", b->yaml,
                      out);
        tu_proc_free(&p);
        free(cut);
        free(mine);
        free(want);
        free(cfg[i]);
    }
    free(out);
    co_buf_free(&files);
    free(dir);
}
END_TEST

/* What `cutover init` writes is valid too (test_init.c loads it). */
START_TEST(init_output_validates)
{
    char *dir = tu_tmpdir();
    const char *argv[] = {NULL,        "init",
                          "--heroku",  "heroku-config.json",
                          "--aptible", "aptible-config.env",
                          NULL};
    struct tu_proc p;
    char *out = NULL, *files;

    free(tu_write_file(dir, "heroku-config.json",
                       "{\"DATABASE_URL\": \"postgres://u:p@h1/a\", "
                       "\"REDIS_TLS_URL\": \"rediss://:p@r1:1\"}"));
    free(tu_write_file(dir, "aptible-config.env",
                       "DATABASE_URL=postgres://u:p@h2/b\n"
                       "REDIS_URL=rediss://:p@r2:2\n"));
    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 30), 0);
    ck_assert_msg(p.status == 0, "init: exit %d: %s", p.status, p.err);
    files = co_asprintf("'%s/cutover.yml'", dir);
    ck_assert_msg(validate(files, &out) == 0, "init's config rejected: %s",
                  out);
    free(out);
    free(files);
    tu_proc_free(&p);
    free(dir);
}
END_TEST

/* The loader's top-level keys, from its own "expected one of" list. */
START_TEST(same_top_level_keys_as_loader)
{
    char *cfg = tu_write_file(NULL, "cutover.yml", "zzzzzzzzzzzz: 1\n");
    const char *argv[] = {NULL, "config", "-c", cfg, NULL};
    json_t *s = schema_json();
    json_t *props = json_object_get(s, "properties");
    struct tu_proc p;
    const char *list;
    size_t n = 1;

    ck_assert_int_eq(tu_run(&p, argv, NULL, NULL, 30), 0);
    list = strstr(p.err, "expected one of: ");
    ck_assert_ptr_nonnull(list);
    list += strlen("expected one of: ");
    for (const char *c = list; *c && *c != ')'; c++)
        n += *c == ',';
    ck_assert_uint_eq(json_object_size(props), n);
    for (const char *k = list; *k && *k != ')';) {
        size_t len = strcspn(k, ",)");
        char *name = co_strndup(k, len);

        ck_assert_msg(json_object_get(props, name) != NULL,
                      "top-level key %s missing from the schema", name);
        free(name);
        k += len;
        k += strspn(k, ", ");
    }
    tu_proc_free(&p);
    free(cfg);
    json_decref(s);
}
END_TEST

START_TEST(every_check_and_param)
{
    json_t *s = schema_json();
    json_t *checks = json_object_get(
        json_object_get(json_object_get(s, "properties"), "checks"),
        "properties");

    ck_assert_uint_eq(json_object_size(checks), co_ncheck);
    for (size_t i = 0; i < co_ncheck; i++) {
        const struct co_check *c = co_checks[i];
        json_t *cs = json_object_get(checks, c->id);
        json_t *props = json_object_get(cs, "properties");

        ck_assert_msg(cs != NULL, "%s missing", c->id);
        ck_assert_str_eq(json_string_value(json_object_get(cs, "description")),
                         c->summary);
        for (const struct co_param *p = c->params; p && p->name; p++) {
            json_t *ps = json_object_get(props, p->name);

            ck_assert_msg(ps != NULL, "%s.%s missing", c->id, p->name);
            ck_assert_str_eq(
                json_string_value(json_object_get(ps, "description")),
                p->help);
        }
    }
    json_decref(s);
}
END_TEST

/* Walks every "properties" map: each key has a non-empty description. */
static void all_described(json_t *node, const char *where)
{
    const char *k;
    json_t *v;

    if (json_is_array(node)) {
        size_t i;
        json_array_foreach(node, i, v) all_described(v, where);
        return;
    }
    if (!json_is_object(node))
        return;
    json_object_foreach(node, k, v)
    {
        if (strcmp(k, "properties") == 0 && json_is_object(v)) {
            const char *name;
            json_t *p;

            json_object_foreach(v, name, p)
            {
                const char *d =
                    json_string_value(json_object_get(p, "description"));
                ck_assert_msg(d && *d, "%s.%s has no description", where,
                              name);
            }
        }
        all_described(v, k);
    }
}

START_TEST(every_key_described)
{
    json_t *s = schema_json();

    all_described(s, "");
    json_decref(s);
}
END_TEST

static Suite *schema_suite(void)
{
    Suite *s = suite_create("config_schema");
    TCase *tc = tcase_create("schema");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, committed_file_is_current);
    tcase_add_test(tc, is_a_2020_12_schema);
    tcase_add_test(tc, examples_validate);
    tcase_add_test(tc, wrong_configs_same_path);
    tcase_add_test(tc, init_output_validates);
    tcase_add_test(tc, same_top_level_keys_as_loader);
    tcase_add_test(tc, every_check_and_param);
    tcase_add_test(tc, every_key_described);
    suite_add_tcase(s, tc);
    return s;
}

static int schema_setup(void)
{
    if (system("python3 -c 'import jsonschema, yaml' 2>/dev/null") != 0) {
        fprintf(stderr, "test_config_schema: python3-jsonschema and "
                        "python3-yaml are missing (ci/deps installs them)\n");
        return 1;
    }
    return 0;
}

TU_SUITE(.make = schema_suite, .setup = schema_setup);
