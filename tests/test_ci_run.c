/*
 * test_ci_run.c - `cutover check` under GitHub Actions and GitLab, end to
 * end against the test bed: the workflow commands on stdout after the
 * text report, the Markdown appended to $GITHUB_STEP_SUMMARY, the Code
 * Quality file pointing at the config's lines, the options that turn
 * them off, and a sentinel password and config value in none of them.
 * label: net
 *
 * One run has every verdict: a PostgreSQL pair that passes, a target on
 * a closed port (error), a plain Redis source (a warning: no TLS), config
 * vars that differ (fail) and a Heroku-only one (skip).
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define SENTINEL "ci-run-s3ntinel-4b7e"

struct run_dir {
    char *dir, *cfg, *cfg_text;
};

static void run_dir_init(struct run_dir *d)
{
    char *heroku, *aptible;

    d->dir = tu_tmpdir();
    heroku = tu_write_file(d->dir, "heroku.json",
                           "{\"API_KEY\": \"" SENTINEL "-a\", "
                           "\"HEROKU_APP_NAME\": \"acme\", "
                           "\"LANG\": \"en_US.UTF-8\"}\n");
    aptible = tu_write_file(d->dir, "aptible.env",
                            "API_KEY=" SENTINEL "-b\nLANG=en_US.UTF-8\n");
    d->cfg_text =
        co_asprintf("version: 1\n"                                   /* 1 */
                    "settings: {timeout: 10s}\n"                     /* 2 */
                    "postgres:\n"                                    /* 3 */
                    "  main:\n"                                      /* 4 */
                    "    source: ${CUTOVER_TB_PG_SOURCE_URL}\n"      /* 5 */
                    "    target: ${CUTOVER_TB_PG_TARGET_URL}\n"      /* 6 */
                    "    ca_file: ${CUTOVER_TB_CA}\n"                /* 7 */
                    "  down:\n"                                      /* 8 */
                    "    source: ${CUTOVER_TB_PG_SOURCE_URL}\n"      /* 9 */
                    "    target: postgres://cutover:" SENTINEL       /* 10 */
                    "@127.0.0.1:${CUTOVER_TB_CLOSED_PORT}/cutover\n" /*    */
                    "redis:\n"                                       /* 11 */
                    "  jobs:\n"                                      /* 12 */
                    "    source: ${CUTOVER_TB_REDIS_SOURCE_URL}\n"   /* 13 */
                    "    target: ${CUTOVER_TB_REDIS_TLS_URL}\n"      /* 14 */
                    "    ca_file: ${CUTOVER_TB_CA}\n"                /* 15 */
                    "    queues: none\n"                             /* 16 */
                    "env:\n"                                         /* 17 */
                    "  app:\n"                                       /* 18 */
                    "    source: %s\n"                               /* 19 */
                    "    target: %s\n",                              /* 20 */
                    heroku, aptible);
    d->cfg = tu_write_file(d->dir, "cutover.yml", d->cfg_text);
    free(heroku);
    free(aptible);
}

static void run_dir_free(struct run_dir *d)
{
    free(d->dir);
    free(d->cfg);
    free(d->cfg_text);
}

/* Runs `cutover check -c cutover.yml --phase post` with the checks of
 * the config and the extra args, in d->dir. */
static void run(const struct run_dir *d, const char *const *extra,
                const char *const *env, struct tu_proc *p)
{
    const char *argv[32] = {NULL,     "check",      "-c",      "cutover.yml",
                            "--only", "pg.connect", "--only",  "redis.connect",
                            "--only", "env.diff",   "--color", "never"};
    size_t n = 12;

    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    ck_assert_int_eq(tu_run(p, argv, env, d->dir, 120), 0);
}

/* No secret in a text: the sentinel, nor a test-bed password. */
static void assert_no_secret(const char *what, const char *text)
{
    static const char *const vars[] = {"CUTOVER_TB_PG_PASSWORD",
                                       "CUTOVER_TB_REDIS_PASSWORD"};

    ck_assert_msg(text != NULL, "%s missing", what);
    ck_assert_msg(strstr(text, SENTINEL) == NULL, "sentinel in %s", what);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *pw = tu_tb(vars[i]);
        ck_assert_msg(pw == NULL || strstr(text, pw) == NULL, "%s in %s",
                      vars[i], what);
    }
}

static char *read_in(const struct run_dir *d, const char *name)
{
    char *path = co_asprintf("%s/%s", d->dir, name);
    char *text = tu_read_file(path, NULL);

    free(path);
    return text;
}

static bool has_line_starting(const char *text, const char *prefix)
{
    const char *p = text;

    while (p != NULL) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return true;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return false;
}

/* The issue of the Code Quality file whose description starts so. */
static json_t *issue(json_t *arr, const char *start)
{
    size_t i;
    json_t *it;

    json_array_foreach(arr, i, it)
    {
        const char *d = json_string_value(json_object_get(it, "description"));
        if (d && strncmp(d, start, strlen(start)) == 0)
            return it;
    }
    ck_abort_msg("no issue starting \"%s\"", start);
    return NULL;
}

static long long issue_line(json_t *it)
{
    return json_integer_value(json_object_get(
        json_object_get(json_object_get(it, "location"), "lines"), "begin"));
}

START_TEST(github_and_gitlab_surfaces)
{
    struct run_dir d;
    struct tu_proc p;
    const char *env[] = {"GITHUB_ACTIONS=true",
                         "GITHUB_STEP_SUMMARY=summary.md", NULL};
    const char *args[] = {"--phase",       "post",    "--junit", "junit.xml",
                          "--codequality", "cq.json", NULL};
    char *text, *result_line;
    json_error_t je;
    json_t *cq;

    run_dir_init(&d);
    free(tu_write_file(d.dir, "summary.md", "# build\n"));
    run(&d, args, env, &p);
    ck_assert_msg(p.status == 1, "exit %d: %s %s", p.status, p.out, p.err);
    assert_no_secret("stdout", p.out);
    assert_no_secret("stderr", p.err);

    /* Every verdict arrives as an annotation, after the text report. */
    result_line = strstr(p.out, "result: FAIL");
    ck_assert_ptr_nonnull(result_line);
    text = co_strndup(p.out, (size_t)(result_line - p.out));
    ck_assert(!has_line_starting(text, "::"));
    free(text);
    ck_assert(has_line_starting(result_line,
                                "::error title=env.diff app/API_KEY::"));
    ck_assert(has_line_starting(
        result_line, "::error title=pg.connect down/target::could not check: "
                     "target: connection refused"));
    ck_assert(has_line_starting(
        result_line, "::warning title=redis.connect jobs/source::"));
    ck_assert(!has_line_starting(result_line, "::error title=pg.connect "
                                              "main/"));
    ck_assert(!has_line_starting(result_line, "::error title=env.diff "
                                              "app/HEROKU_APP_NAME"));

    /* The step summary: appended, the earlier step's text kept. */
    text = read_in(&d, "summary.md");
    assert_no_secret("summary.md", text);
    ck_assert_msg(strncmp(text, "# build\n## cutover: FAIL", 24) == 0,
                  "%.300s", text);
    ck_assert_ptr_nonnull(
        strstr(text, "| env.diff | app | API\\_KEY | fail |"));
    free(text);

    /* Code Quality: the config file at the resource's line. */
    text = read_in(&d, "cq.json");
    assert_no_secret("cq.json", text);
    cq = json_loads(text, 0, &je);
    ck_assert_msg(cq != NULL, "cq.json: %s", je.text);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            issue(cq, "env.diff app/API_KEY (post): "), "severity")),
        "major");
    ck_assert_int_eq(issue_line(issue(cq, "env.diff app/API_KEY (post): ")),
                     18);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            issue(cq, "pg.connect down/target (post): could not check: "),
            "severity")),
        "critical");
    ck_assert_int_eq(
        issue_line(issue(cq, "pg.connect down/target (post): could not ")), 8);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            issue(cq, "redis.connect jobs/source (post): "), "severity")),
        "minor");
    ck_assert_int_eq(issue_line(issue(cq, "redis.connect jobs/source ")), 12);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(issue(cq, "redis.connect jobs/"), "location"),
            "path")),
        "cutover.yml");
    json_decref(cq);
    free(text);

    text = read_in(&d, "junit.xml");
    assert_no_secret("junit.xml", text);
    ck_assert_ptr_nonnull(strstr(text, "classname=\"env.diff.app (post)\""));
    ck_assert_ptr_nonnull(strstr(text, ">Heroku-only variable"));
    free(text);
    tu_proc_free(&p);
    run_dir_free(&d);
}
END_TEST

START_TEST(surfaces_opt_out)
{
    struct run_dir d;
    struct tu_proc p;
    const char *env[] = {"GITHUB_ACTIONS=true",
                         "GITHUB_STEP_SUMMARY=summary.md", NULL};
    const char *off[] = {"--phase",           "pre", "--annotations", "none",
                         "--no-step-summary", NULL};
    const char *plain[] = {"--phase", "pre", NULL};
    const char *json_out[] = {"--phase", "pre",           "--quiet", "--json",
                              "-",       "--annotations", "github",  NULL};
    json_error_t je;
    json_t *j;
    char *text;

    run_dir_init(&d);
    free(tu_write_file(d.dir, "summary.md", "# build\n"));
    run(&d, off, env, &p);
    ck_assert_msg(p.status == 1, "exit %d: %s %s", p.status, p.out, p.err);
    ck_assert(!has_line_starting(p.out, "::"));
    ck_assert(!has_line_starting(p.err, "::"));
    text = read_in(&d, "summary.md");
    ck_assert_str_eq(text, "# build\n");
    free(text);
    tu_proc_free(&p);

    /* Outside GitHub Actions nothing, unless asked; with a report on
     * stdout, the commands go to stderr (the runner reads both). */
    run(&d, plain, NULL, &p);
    ck_assert(!has_line_starting(p.out, "::"));
    tu_proc_free(&p);
    run(&d, json_out, NULL, &p);
    ck_assert_msg(p.status == 1, "exit %d: %s %s", p.status, p.out, p.err);
    j = json_loads(p.out, 0, &je);
    ck_assert_msg(j != NULL, "stdout is not the JSON report: %s", je.text);
    json_decref(j);
    ck_assert(
        has_line_starting(p.err, "::error title=env.diff app/API_KEY::"));
    assert_no_secret("stderr", p.err);
    tu_proc_free(&p);

    /* A bad value is a usage error. */
    const char *bad[] = {"--annotations", "gitlab", NULL};
    run(&d, bad, NULL, &p);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(
        strstr(p.err, "--annotations must be github or none"));
    tu_proc_free(&p);
    run_dir_free(&d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ci_run");
    TCase *tc = tcase_create("run");

    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, github_and_gitlab_surfaces);
    tcase_add_test(tc, surfaces_opt_out);
    suite_add_tcase(s, tc);
    return s;
}

/* The runs decide for themselves whether they are under GitHub Actions:
 * this suite may itself run there. */
static int ci_run_setup(void)
{
    unsetenv("GITHUB_ACTIONS");
    unsetenv("GITHUB_STEP_SUMMARY");
    return 0;
}

TU_SUITE(.make = suite,
         .testbed = TU_VARS("CUTOVER_TB_PG_SOURCE_URL",
                            "CUTOVER_TB_PG_TARGET_URL",
                            "CUTOVER_TB_REDIS_SOURCE_URL",
                            "CUTOVER_TB_REDIS_TLS_URL", "CUTOVER_TB_CA",
                            "CUTOVER_TB_CLOSED_PORT"),
         .setup = ci_run_setup);
