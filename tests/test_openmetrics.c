/*
 * label: net
 * test_openmetrics.c - `--openmetrics FILE`: the Prometheus text format
 * for node_exporter's textfile collector.
 *
 * Hand-built reports hold what a hostile server could name things (quotes,
 * backslashes, newlines, invalid UTF-8, duplicates) and a registered
 * sentinel secret; a real run against the test bed (PostgreSQL pair,
 * Redis, a closed port) writes the file through the CLI. Every file is
 * judged by `promtool check metrics` from Debian's prometheus package,
 * the parser Prometheus itself uses, and read back line by line.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutover/cutover.h"
#include "cutover/result.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define SENTINEL "sentinel-om-5d1c0e9b7a"

/* ---- helpers ------------------------------------------------------------
 */

/* A result of check on resource that took ms. */
static struct co_result *add_result(struct co_report *rep, const char *check,
                                    const char *resource, double ms)
{
    struct co_result *r = tu_add_result(rep, check, resource, NULL, NULL);

    r->duration_ms = ms;
    return r;
}

static void report_init(struct co_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->tool_version = "0.1.0-test";
    rep->phase = "drift";
    rep->started = 1700000000.25;
    rep->duration_ms = 1234.5;
}

/* Writes rep with the openmetrics reporter into a fresh directory;
 * returns the file's path. */
static char *write_metrics(const struct co_report *rep)
{
    struct co_report_opts o = {false, false, false};
    char *dir = tu_tmpdir();
    char *path = co_asprintf("%s/cutover.prom", dir);
    char err[CO_ERRLEN] = "";

    ck_assert_msg(co_report_write_file(rep, "openmetrics", &o, path, err,
                                       sizeof err) == 0,
                  "write failed: %s", err);
    free(dir);
    return path;
}

/* `promtool check metrics < path`: 0 when the file is valid. */
static void assert_promtool_ok(const char *path)
{
    char *cmd = co_asprintf("promtool check metrics < '%s' 2>&1", path);
    char *out = NULL;
    int rc = tu_sh(cmd, &out);

    ck_assert_msg(rc == 0, "promtool rejected %s (rc %d): %s", path, rc,
                  out ? out : "");
    free(cmd);
    free(out);
}

/* Number of lines of text equal to line. */
static int count_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    int hits = 0;

    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);

        if (len == n && memcmp(p, line, n) == 0)
            hits++;
        p = nl ? nl + 1 : NULL;
    }
    return hits;
}

#define ASSERT_LINE(text, line)                                               \
    ck_assert_msg(count_line(text, line) == 1, "expected once: %s\n--\n%s",   \
                  line, text)

/* ---- hand-built reports ------------------------------------------------
 */

START_TEST(every_status_and_summary)
{
    struct co_report rep;
    struct co_result *r;
    char *path, *text;

    report_init(&rep);
    r = add_result(&rep, "pg.rowcount", "main", 12.0);
    co_result_add(r, CO_PASS, "public.users", "100 rows", "100", "100", 1);
    co_result_add(r, CO_WARN, "public.a", "m", NULL, NULL, 1);
    co_result_add(r, CO_FAIL, "public.orders", "m", "10", "9", 1);
    co_result_add(r, CO_ERROR, "public.b", "m", NULL, NULL, 1);
    co_result_add(r, CO_SKIP, "public.c", "m", NULL, NULL, 1);
    r = add_result(&rep, "redis.connect", "jobs", 2500.0);
    co_result_add(r, CO_PASS, "source", "ok", NULL, NULL, 1);
    path = write_metrics(&rep);
    assert_promtool_ok(path);
    text = tu_read_file(path, NULL);
    ASSERT_LINE(text, "# TYPE cutover_case_status gauge");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.rowcount\","
                      "resource=\"main\",case=\"public.users\"} 0");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.rowcount\","
                      "resource=\"main\",case=\"public.a\"} 1");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.rowcount\","
                      "resource=\"main\",case=\"public.orders\"} 2");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.rowcount\","
                      "resource=\"main\",case=\"public.b\"} 3");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.rowcount\","
                      "resource=\"main\",case=\"public.c\"} 4");
    ASSERT_LINE(text, "cutover_check_duration_seconds{check=\"pg.rowcount\","
                      "resource=\"main\"} 0.012");
    ASSERT_LINE(text, "cutover_check_duration_seconds{check=\"redis."
                      "connect\",resource=\"jobs\"} 2.500");
    ASSERT_LINE(text, "cutover_cases{status=\"pass\"} 2");
    ASSERT_LINE(text, "cutover_cases{status=\"warn\"} 1");
    ASSERT_LINE(text, "cutover_cases{status=\"fail\"} 1");
    ASSERT_LINE(text, "cutover_cases{status=\"error\"} 1");
    ASSERT_LINE(text, "cutover_cases{status=\"skip\"} 1");
    ASSERT_LINE(text, "cutover_exit_code 1");
    ASSERT_LINE(text, "cutover_run_duration_seconds 1.235");
    /* started 1700000000.25 + 1.2345 s */
    ASSERT_LINE(text, "cutover_last_run_timestamp_seconds 1700000001.485");
    ASSERT_LINE(text, "# TYPE cutover_last_run_timestamp_seconds gauge");
    ASSERT_LINE(text,
                "cutover_info{version=\"0.1.0-test\",phase=\"drift\"} 1");
    free(text);
    free(path);
    co_report_free(&rep);
}
END_TEST

START_TEST(hostile_labels_escaped_and_merged)
{
    struct co_report rep;
    struct co_result *r;
    char *path, *text;

    report_init(&rep);
    r = add_result(&rep, "pg.schema", "main", 1.0);
    co_result_add(r, CO_PASS, "a\"b\\c\nd", "m", NULL, NULL, 1);
    co_result_add(r, CO_PASS, "bad\xff utf8", "m", NULL, NULL, 1);
    co_result_add(r, CO_PASS, "", "m", NULL, NULL, 1);
    co_result_add(r, CO_PASS, "\xe2\x9c\x93 table", "m", NULL, NULL, 1);
    /* The same item twice: one series, the worse verdict. */
    co_result_add(r, CO_PASS, "dup", "m", NULL, NULL, 1);
    co_result_add(r, CO_FAIL, "dup", "m", NULL, NULL, 1);
    co_result_add(r, CO_SKIP, "dup", "m", NULL, NULL, 1);
    /* The same check and resource twice (e.g. two shards): one duration
     * series, the sum. */
    r = add_result(&rep, "pg.schema", "main", 2.0);
    co_result_add(r, CO_PASS, "other", "m", NULL, NULL, 1);
    path = write_metrics(&rep);
    assert_promtool_ok(path);
    text = tu_read_file(path, NULL);
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.schema\",resource="
                      "\"main\",case=\"a\\\"b\\\\c\\nd\"} 0");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.schema\",resource="
                      "\"main\",case=\"bad\xEF\xBF\xBD utf8\"} 0");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.schema\",resource="
                      "\"main\",case=\"\"} 0");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.schema\",resource="
                      "\"main\",case=\"\xe2\x9c\x93 table\"} 0");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.schema\",resource="
                      "\"main\",case=\"dup\"} 2");
    ASSERT_LINE(text, "cutover_check_duration_seconds{check=\"pg.schema\","
                      "resource=\"main\"} 0.003");
    free(text);
    free(path);
    co_report_free(&rep);
}
END_TEST

/* A secret that slipped into a name (a check that forgot to mask, a
 * resource named after a URL) never reaches a label. */
START_TEST(no_secret_in_a_label)
{
    struct co_report rep;
    struct co_result *r;
    char *path, *text;

    co_secret_register(SENTINEL);
    report_init(&rep);
    r = add_result(&rep, "pg.connect", "db-" SENTINEL, 1.0);
    co_result_add(r, CO_ERROR, "postgres://u:" SENTINEL "@db.example/app", "m",
                  NULL, NULL, 1);
    co_result_add(r, CO_PASS, "token " SENTINEL, "m", NULL, NULL, 1);
    path = write_metrics(&rep);
    assert_promtool_ok(path);
    text = tu_read_file(path, NULL);
    ck_assert_ptr_null(strstr(text, SENTINEL));
    ck_assert_ptr_nonnull(strstr(text, "case=\"token ***\""));
    free(text);
    free(path);
    co_report_free(&rep);
    co_secret_clear();
}
END_TEST

START_TEST(empty_report_is_valid)
{
    struct co_report rep;
    char *path, *text;

    report_init(&rep);
    path = write_metrics(&rep);
    assert_promtool_ok(path);
    text = tu_read_file(path, NULL);
    ASSERT_LINE(text, "cutover_cases{status=\"pass\"} 0");
    free(text);
    free(path);
}
END_TEST

START_TEST(in_the_reporter_table)
{
    ck_assert_ptr_nonnull(co_reporter_find("openmetrics"));
    ck_assert_str_eq(co_reporter_find("openmetrics")->name, "openmetrics");
}
END_TEST

/* ---- a real run --------------------------------------------------------
 */

static const char run_config[] =
    "version: 1\n"
    "postgres:\n"
    "  main:\n"
    "    source: ${CUTOVER_TB_PG_SOURCE_URL}\n"
    "    target: ${CUTOVER_TB_PG_TARGET_URL}\n"
    "redis:\n"
    "  jobs:\n"
    "    source: ${CUTOVER_TB_REDIS_SOURCE_URL}\n"
    "    target: ${CUTOVER_TB_REDIS_TARGET_URL}\n"
    "outbound:\n"
    "  closed: 127.0.0.1:${CUTOVER_TB_CLOSED_PORT}\n";

/* Files in dir whose name starts with '.': temporary files left by a
 * write that was not atomic. */
static int hidden_files(const char *dir)
{
    char *cmd = co_asprintf("ls -A '%s' | grep -c '^\\.'", dir);
    char *out = NULL;
    int n;

    tu_sh(cmd, &out);
    n = out ? (int)strtol(out, NULL, 10) : -1;
    free(cmd);
    free(out);
    return n;
}

START_TEST(real_run_passes_promtool)
{
    char *dir = tu_tmpdir();
    char *cfg = tu_write_file(dir, "cutover.yml", run_config);
    char *prom = co_asprintf("%s/cutover.prom", dir);
    char *json = co_asprintf("%s/cutover.json", dir);
    const char *argv[] = {NULL,  "check",     "-c",     cfg,  "--phase",
                          "pre", "--quiet",   "--json", json, "--openmetrics",
                          prom,  "--timeout", "10s",    NULL};
    struct tu_proc p;
    char *text, *line;
    json_t *root, *sum;
    const char *pw = tu_tb("CUTOVER_TB_PG_PASSWORD");
    const char *rpw = tu_tb("CUTOVER_TB_REDIS_PASSWORD");
    static const char *const names[] = {"passed", "warned", "failed", "errors",
                                        "skipped"};
    static const char *const labels[] = {"pass", "warn", "fail", "error",
                                         "skip"};

    /* An old file is replaced whole. */
    free(tu_write_file(dir, "cutover.prom", "stale\n"));
    ck_assert_int_eq(tu_run(&p, argv, NULL, NULL, 120), 0);
    ck_assert_msg(p.status == 1, "exit %d: %s", p.status, p.err);
    assert_promtool_ok(prom);
    text = tu_read_file(prom, NULL);
    ck_assert_ptr_null(strstr(text, "stale"));
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.connect\",resource="
                      "\"main\",case=\"source\"} 0");
    ASSERT_LINE(text, "cutover_case_status{check=\"pg.connect\",resource="
                      "\"main\",case=\"target\"} 0");
    line = co_asprintf("cutover_case_status{check=\"tcp.reach\",resource="
                       "\"closed\",case=\"127.0.0.1:%s\"} 2",
                       tu_tb("CUTOVER_TB_CLOSED_PORT"));
    ASSERT_LINE(text, line);
    free(line);
    ASSERT_LINE(text, "cutover_exit_code 1");
    ASSERT_LINE(text, "cutover_info{version=\"" CUTOVER_VERSION
                      "\",phase=\"pre\"} 1");
    ck_assert_ptr_nonnull(strstr(text, "cutover_check_duration_seconds{"
                                       "check=\"pg.schema\",resource="
                                       "\"main\"} "));
    /* The summary agrees with the JSON report of the same run. */
    root = json_load_file(json, 0, NULL);
    ck_assert_ptr_nonnull(root);
    sum = json_object_get(root, "summary");
    for (size_t i = 0; i < 5; i++) {
        line = co_asprintf(
            "cutover_cases{status=\"%s\"} %lld", labels[i],
            (long long)json_integer_value(json_object_get(sum, names[i])));
        ASSERT_LINE(text, line);
        free(line);
    }
    json_decref(root);
    /* No password of the test bed anywhere in the file. */
    ck_assert_ptr_nonnull(pw);
    ck_assert_ptr_null(strstr(text, pw));
    if (rpw)
        ck_assert_ptr_null(strstr(text, rpw));
    ck_assert_int_eq(hidden_files(dir), 0);
    free(text);
    tu_proc_free(&p);
    free(cfg);
    free(prom);
    free(json);
    free(dir);
}
END_TEST

START_TEST(usage_errors)
{
    const char *nodir[] = {NULL,
                           "check",
                           "-c",
                           "/nonexistent/cutover.yml",
                           "--openmetrics",
                           "/nonexistent/dir/m.prom",
                           NULL};
    const char *snap[] = {NULL,     "snapshot",      "--side",
                          "source", "--openmetrics", "/tmp/m.prom",
                          NULL};
    struct tu_proc p;

    ck_assert_int_eq(tu_run(&p, nodir, NULL, NULL, 30), 0);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "cannot write metrics"));
    tu_proc_free(&p);
    ck_assert_int_eq(tu_run(&p, snap, NULL, NULL, 30), 0);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "--openmetrics is not an option"));
    tu_proc_free(&p);
}
END_TEST

static Suite *openmetrics_suite(void)
{
    Suite *s = suite_create("openmetrics");
    TCase *tc = tcase_create("format");
    TCase *run = tcase_create("run");

    tcase_add_test(tc, every_status_and_summary);
    tcase_add_test(tc, hostile_labels_escaped_and_merged);
    tcase_add_test(tc, no_secret_in_a_label);
    tcase_add_test(tc, empty_report_is_valid);
    tcase_add_test(tc, in_the_reporter_table);
    tcase_add_test(tc, usage_errors);
    suite_add_tcase(s, tc);
    tcase_set_timeout(run, 150);
    tcase_add_test(run, real_run_passes_promtool);
    suite_add_tcase(s, run);
    return s;
}

static int openmetrics_setup(void)
{
    if (system("promtool --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_openmetrics: promtool is missing (Debian "
                        "package prometheus, installed by ci/deps)\n");
        return 1;
    }
    return 0;
}

TU_SUITE(.make = openmetrics_suite,
         .testbed = TU_VARS("CUTOVER_TB_PG_SOURCE_URL",
                            "CUTOVER_TB_PG_TARGET_URL",
                            "CUTOVER_TB_REDIS_SOURCE_URL",
                            "CUTOVER_TB_REDIS_TARGET_URL",
                            "CUTOVER_TB_CLOSED_PORT"),
         .setup = openmetrics_setup);
