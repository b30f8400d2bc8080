/*
 * checkrun.c - run `cutover check` with a JSON report and assert on the
 * report's cases; see checkrun.h. One copy of what each end-to-end suite
 * used to carry on its own.
 */
#include "checkrun.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"

/* The test bed's secrets: none of them may ever be printed or reported. */
static const char *const secret_vars[] = {"CUTOVER_TB_PG_PASSWORD",
                                          "CUTOVER_TB_PG_ADMIN_PASSWORD",
                                          "CUTOVER_TB_REDIS_PASSWORD", NULL};

static void assert_no_secret(const char *text, const char *report_path)
{
    char *report = tu_read_file(report_path, NULL);

    ck_assert_msg(report != NULL, "cannot read %s", report_path);
    for (size_t i = 0; secret_vars[i] != NULL; i++) {
        const char *pw = tu_tb(secret_vars[i]);
        if (pw == NULL || *pw == '\0')
            continue;
        ck_assert_msg(strstr(text, pw) == NULL && strstr(report, pw) == NULL,
                      "%s leaked: %s", secret_vars[i], text);
    }
    free(report);
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
    char *dir = tu_tmpdir();
    char *cfg = tu_write_file(dir, "cutover.yml", cfg_text);
    char *json = co_asprintf("%s/report.json", dir);
    const char **argv = build_argv(cfg, json, args);
    struct tu_proc p;
    json_error_t jerr;
    int64_t t0 = co_now_ms();

    ck_assert_int_eq(tu_run(&p, argv, env, dir, timeout_s), 0);
    o->took_ms = co_now_ms() - t0;
    o->status = p.status;
    o->text = co_asprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", p.status,
                          p.out ? p.out : "", p.err ? p.err : "");
    o->report = json_load_file(json, 0, &jerr);
    ck_assert_msg(o->report != NULL, "no JSON report (%s): %s", jerr.text,
                  o->text);
    assert_no_secret(o->text, json);
    tu_proc_free(&p);
    free(argv);
    free(json);
    free(cfg);
    free(dir);
}

void tu_outcome_free(struct tu_outcome *o)
{
    json_decref(o->report);
    free(o->text);
    o->report = NULL;
    o->text = NULL;
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

json_t *tu_expect(const struct tu_outcome *o, const char *check_id,
                  const char *resource, const char *name, const char *status,
                  const char *const *words)
{
    json_t *all = tu_need_cases(o, check_id, resource), *c;
    const char *res = resource ? resource : "*";
    size_t i;

    json_array_foreach(all, i, c)
    {
        const char *msg = tu_field(c, "message");
        if (strcmp(tu_field(c, "name"), name) != 0)
            continue;
        ck_assert_msg(strcmp(tu_field(c, "status"), status) == 0,
                      "%s %s: want %s, got %s: %s", check_id, name, status,
                      tu_field(c, "status"), msg);
        for (size_t w = 0; words && words[w]; w++)
            ck_assert_msg(strstr(msg, words[w]) != NULL,
                          "%s %s: \"%s\" not in \"%s\"", check_id, name,
                          words[w], msg);
        return c;
    }
    ck_abort_msg("%s/%s: no case \"%s\": %s", check_id, res, name, o->text);
    return NULL;
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
