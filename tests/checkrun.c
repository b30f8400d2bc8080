/*
 * checkrun.c - run `cutover check` with a JSON report and assert on the
 * report's cases; see checkrun.h. One copy of what each end-to-end suite
 * used to carry on its own.
 */
#include "checkrun.h"

#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"

/* The test bed's secrets: none of them may ever be printed or reported. */
static const char *const secret_vars[] = {"CUTOVER_TB_PG_PASSWORD",
                                          "CUTOVER_TB_PG_ADMIN_PASSWORD",
                                          "CUTOVER_TB_REDIS_PASSWORD", NULL};

/* Asserts no test-bed secret, nor extra (may be NULL), is in text. */
static void assert_hidden(const char *what, const char *text,
                          const char *extra)
{
    for (size_t i = 0; secret_vars[i] != NULL; i++) {
        const char *pw = tu_tb(secret_vars[i]);
        if (pw == NULL || *pw == '\0')
            continue;
        ck_assert_msg(strstr(text, pw) == NULL, "%s leaked in %s",
                      secret_vars[i], what);
    }
    ck_assert_msg(extra == NULL || strstr(text, extra) == NULL,
                  "\"%s\" leaked in %s", extra, what);
}

/* The same for every file the run left in dir (the reports) except the
 * config, which holds the URLs on purpose. */
static void assert_hidden_in_dir(const char *dir, const char *extra)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    ck_assert_msg(d != NULL, "cannot list %s", dir);
    while ((e = readdir(d)) != NULL) {
        char *path, *body;
        if (e->d_name[0] == '.' || strcmp(e->d_name, "cutover.yml") == 0)
            continue;
        path = co_asprintf("%s/%s", dir, e->d_name);
        body = tu_read_file(path, NULL);
        if (body != NULL)
            assert_hidden(path, body, extra);
        free(body);
        free(path);
    }
    closedir(d);
}

/* "cutover check -c cfg --json json" followed by args, NULL-ended. */
static const char **build_argv(const char *cfg, const char *json,
                               const char *const *args)
{
    size_t n = 0, k = 0;
    const char **argv;

    while (args && args[n])
        n++;
    argv = calloc(6 + n + 1, sizeof(*argv)); /* fixed words, args, NULL */
    ck_assert_ptr_nonnull(argv);
    argv[k++] = "cutover";
    argv[k++] = "check";
    argv[k++] = "-c";
    argv[k++] = cfg;
    argv[k++] = "--json";
    argv[k++] = json;
    for (size_t i = 0; i < n; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    return argv;
}

void tu_check_run(const char *cfg_text, const char *const *args,
                  const char *const *env, int timeout_s, struct tu_outcome *o)
{
    tu_check_run_hiding(cfg_text, args, env, timeout_s, NULL, o);
}

/* Runs `cutover check -c cfg --json DIR/report.json` + args in cwd (NULL:
 * DIR), DIR a fresh temporary directory (o->dir); need_report, whether
 * the JSON report must be there. */
static void check_run(const char *cfg_path, const char *cwd,
                      const char *const *args, const char *const *env,
                      int timeout_s, const char *extra, bool need_report,
                      struct tu_outcome *o)
{
    char *json;
    const char **argv;
    struct tu_proc p;
    json_error_t jerr;
    int64_t t0 = co_now_ms();

    if (o->dir == NULL)
        o->dir = tu_tmpdir();
    json = co_asprintf("%s/report.json", o->dir);
    argv = build_argv(cfg_path, json, args);
    ck_assert_int_eq(tu_run(&p, argv, env, cwd ? cwd : o->dir, timeout_s), 0);
    o->took_ms = co_now_ms() - t0;
    o->status = p.status;
    o->text = co_asprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", p.status,
                          p.out ? p.out : "", p.err ? p.err : "");
    o->out = p.out ? p.out : co_strdup("");
    o->err = p.err ? p.err : co_strdup("");
    assert_hidden("the output", o->text, extra);
    assert_hidden_in_dir(o->dir, extra);
    o->report = json_load_file(json, 0, &jerr);
    ck_assert_msg(o->report != NULL || !need_report, "no JSON report (%s): %s",
                  jerr.text, o->text);
    free(argv);
    free(json);
}

/* The same on cfg_text, written to cutover.yml in a fresh o->dir. */
static void check_run_text(const char *cfg_text, const char *const *args,
                           const char *const *env, int timeout_s,
                           const char *extra, bool need_report,
                           struct tu_outcome *o)
{
    char *cfg;

    memset(o, 0, sizeof(*o));
    o->dir = tu_tmpdir();
    cfg = tu_write_file(o->dir, "cutover.yml", cfg_text);
    check_run(cfg, NULL, args, env, timeout_s, extra, need_report, o);
    free(cfg);
}

void tu_check_run_at(const char *cwd, const char *cfg_path,
                     const char *const *args, const char *const *env,
                     int timeout_s, struct tu_outcome *o)
{
    memset(o, 0, sizeof(*o));
    check_run(cfg_path, cwd, args, env, timeout_s, NULL, true, o);
}

void tu_check_run_hiding(const char *cfg_text, const char *const *args,
                         const char *const *env, int timeout_s,
                         const char *extra, struct tu_outcome *o)
{
    check_run_text(cfg_text, args, env, timeout_s, extra, true, o);
}

void tu_check_try(const char *cfg_text, const char *const *args,
                  const char *const *env, int timeout_s, struct tu_outcome *o)
{
    check_run_text(cfg_text, args, env, timeout_s, NULL, false, o);
}

void tu_outcome_free(struct tu_outcome *o)
{
    json_decref(o->report);
    free(o->text);
    free(o->out);
    free(o->err);
    free(o->dir);
    o->dir = NULL;
    o->report = NULL;
    o->text = o->out = o->err = NULL;
}

json_t *tu_cases(const struct tu_outcome *o, const char *check_id,
                 const char *resource)
{
    json_t *checks = json_object_get(o->report, "checks"), *c;
    size_t i;

    ck_assert_msg(json_is_array(checks), "no checks array: %s", o->text);
    json_array_foreach(checks, i, c)
    {
        if (strcmp(tu_field(c, "check"), check_id) != 0)
            continue;
        if (resource == NULL || strcmp(tu_field(c, "resource"), resource) == 0)
            return json_object_get(c, "cases");
    }
    return NULL;
}

json_t *tu_need_cases(const struct tu_outcome *o, const char *check_id,
                      const char *resource)
{
    json_t *all = tu_cases(o, check_id, resource);

    ck_assert_msg(all != NULL, "no %s result for %s: %s", check_id,
                  resource ? resource : "*", o->text);
    return all;
}

const char *tu_field(json_t *c, const char *key)
{
    const char *v = json_string_value(json_object_get(c, key));
    return v ? v : "";
}

json_t *tu_case(const struct tu_outcome *o, const char *check_id,
                const char *resource, const char *name)
{
    json_t *all = tu_need_cases(o, check_id, resource), *c;
    size_t i;

    json_array_foreach(all, i, c)
    {
        if (strcmp(tu_field(c, "name"), name) == 0)
            return c;
    }
    return NULL;
}

/* Asserts case c (called name on resource) has status and every word. */
static const char *expect_msg(json_t *c, const char *resource,
                              const char *name, const char *status,
                              const char *const *words)
{
    const char *msg = tu_field(c, "message");

    ck_assert_msg(strcmp(tu_field(c, "status"), status) == 0,
                  "%s/%s: want %s, got %s: %s", resource, name, status,
                  tu_field(c, "status"), msg);
    for (size_t w = 0; words && words[w]; w++)
        ck_assert_msg(strstr(msg, words[w]) != NULL,
                      "%s/%s: \"%s\" not in \"%s\"", resource, name, words[w],
                      msg);
    return msg;
}

json_t *tu_expect(const struct tu_outcome *o, const char *check_id,
                  const char *resource, const char *name, const char *status,
                  const char *const *words)
{
    json_t *c = tu_case(o, check_id, resource, name);

    ck_assert_msg(c != NULL, "%s/%s: no case \"%s\": %s", check_id,
                  resource ? resource : "*", name, o->text);
    expect_msg(c, resource ? resource : check_id, name, status, words);
    return c;
}

size_t tu_count_status(const struct tu_outcome *o, const char *check_id,
                       const char *status)
{
    json_t *all = tu_need_cases(o, check_id, NULL), *c;
    size_t i, n = 0;

    json_array_foreach(all, i, c) n +=
        strcmp(tu_field(c, "status"), status) == 0;
    return n;
}

json_t *tu_find_case(const struct tu_outcome *o, const char *resource,
                     const char *name)
{
    json_t *checks = json_object_get(o->report, "checks"), *c, *k;
    size_t i, j;

    ck_assert_msg(json_is_array(checks), "no checks array: %s", o->text);
    json_array_foreach(checks, i, c)
    {
        if (strcmp(tu_field(c, "resource"), resource) != 0)
            continue;
        json_array_foreach(json_object_get(c, "cases"), j, k)
        {
            if (strcmp(tu_field(k, "name"), name) == 0)
                return k;
        }
    }
    return NULL;
}

const char *tu_expect_on(const struct tu_outcome *o, const char *resource,
                         const char *name, const char *status,
                         const char *const *words)
{
    json_t *c = tu_find_case(o, resource, name);

    ck_assert_msg(c != NULL, "no case %s/%s: %s", resource, name, o->text);
    return expect_msg(c, resource, name, status, words);
}

const char *tu_expect_sole(const struct tu_outcome *o, const char *check_id,
                           const char *resource, const char *status,
                           const char *const *words)
{
    json_t *all = tu_need_cases(o, check_id, resource), *c;

    ck_assert_msg(json_array_size(all) == 1, "%s: %zu cases: %s", resource,
                  json_array_size(all), o->text);
    c = json_array_get(all, 0);
    ck_assert_str_eq(tu_field(c, "name"), resource);
    return expect_msg(c, resource, resource, status, words);
}

size_t tu_ncases(const struct tu_outcome *o, const char *check_id,
                 const char *resource)
{
    return json_array_size(tu_need_cases(o, check_id, resource));
}

int tu_mentions(const struct tu_outcome *o, const char *needle)
{
    char *dump = json_dumps(o->report, 0);
    int found = strstr(o->text, needle) != NULL ||
                (dump != NULL && strstr(dump, needle) != NULL);

    free(dump);
    return found;
}

void tu_check_pg(const char *check_id, const char *src, const char *tgt,
                 const char *params, struct tu_outcome *o)
{
    const char *const args[] = {"--phase", "post", "--only", check_id, NULL};
    char *cfg = co_asprintf("version: 1\n"
                            "settings: {timeout: 60s}\n"
                            "postgres:\n"
                            "  main:\n"
                            "    source: \"%s\"\n"
                            "    target: \"%s\"\n",
                            src, tgt);

    if (params != NULL) {
        char *more =
            co_asprintf("%schecks:\n  %s: {%s}\n", cfg, check_id, params);
        free(cfg);
        cfg = more;
    }
    tu_check_run(cfg, args, NULL, 120, o);
    free(cfg);
}

void tu_check_pg_db(const char *check_id, const char *db, const char *params,
                    struct tu_outcome *o)
{
    char *src = tu_pg_url("source", db), *tgt = tu_pg_url("target", db);

    tu_check_pg(check_id, src, tgt, params, o);
    free(src);
    free(tgt);
}

void tu_expect_pg_target_down(const char *check_id, const char *db)
{
    struct tu_outcome o;
    char *src = tu_pg_url("source", db);
    char *tgt = co_asprintf("postgres://cutover:x@127.0.0.1:%s/%s"
                            "?sslmode=require",
                            tu_tb("CUTOVER_TB_CLOSED_PORT"), db);

    tu_check_pg(check_id, src, tgt, NULL, &o);
    tu_expect(&o, check_id, NULL, "target", "error", TU_WORDS("refused"));
    ck_assert_int_eq(tu_count_status(&o, check_id, "pass"), 0);
    ck_assert_msg(o.status == 2, "%s", o.text);
    tu_outcome_free(&o);
    free(src);
    free(tgt);
}
