/*
 * test_cli.c - the command line end to end through the built binary:
 * exit codes (0/1/2/64/78), config errors naming file:line:col and key,
 * list/config/--help/--version, masking of a sentinel password in every
 * output, and SIGINT/SIGTERM mid-run still writing every report.
 * Needs no test bed: the only server is a listener the test opens on
 * 127.0.0.1.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cutover/cutover.h"
#include "testutil.h"
#include "tu_suite.h"

#define SENTINEL "Sentinel-Pw-4242"

static struct tu_proc run(const char *cfgtext, const char *a1, const char *a2,
                          const char *a3, const char *a4)
{
    struct tu_proc p;
    char *dir = tu_tmpdir();
    char *cfg = cfgtext ? tu_write_file(dir, "cutover.yml", cfgtext) : NULL;
    const char *argv[] = {NULL, a1, a2, a3, a4, NULL};

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 30), 0);
    free(cfg);
    free(dir);
    return p;
}

START_TEST(help_version_usage)
{
    struct tu_proc p = run(NULL, "--help", NULL, NULL, NULL);
    ck_assert_int_eq(p.status, 0);
    ck_assert_ptr_nonnull(strstr(p.out, "cutover check"));
    ck_assert_ptr_nonnull(strstr(p.out, "78"));
    tu_proc_free(&p);

    p = run(NULL, "--version", NULL, NULL, NULL);
    ck_assert_int_eq(p.status, 0);
    ck_assert_ptr_nonnull(strstr(p.out, "cutover " CUTOVER_VERSION_STRING));
    tu_proc_free(&p);

    p = run(NULL, "chek", NULL, NULL, NULL);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "did you mean \"check\""));
    tu_proc_free(&p);

    p = run(NULL, "check", "--bogus", NULL, NULL);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "--bogus"));
    tu_proc_free(&p);

    p = run(NULL, "check", "--phase", "later", NULL);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "--phase"));
    tu_proc_free(&p);

    p = run(NULL, "check", "--timeout", "soon", NULL);
    ck_assert_int_eq(p.status, 64);
    tu_proc_free(&p);

    p = run(NULL, "check", "--jobs", "0", NULL);
    ck_assert_int_eq(p.status, 64);
    tu_proc_free(&p);

    p = run("version: 1\n", "check", "--junit", "/nonexistent/dir/j.xml",
            NULL);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "/nonexistent/dir/j.xml"));
    tu_proc_free(&p);

    p = run(NULL, "snapshot", NULL, NULL, NULL);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "needs --side source"));
    tu_proc_free(&p);

    p = run(NULL, "snapshot", "--side", "middle", NULL);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "--side must be source or target"));
    tu_proc_free(&p);

    p = run(NULL, "snapshot", "--side", "source", "--strict");
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(
        strstr(p.err, "--strict is not an option of `cutover snapshot`"));
    tu_proc_free(&p);

    p = run(NULL, "check", "--side", "source", NULL);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(
        strstr(p.err, "--side is not an option of `cutover check`"));
    tu_proc_free(&p);

    p = run("version: 1\n", "check", "--baseline-as", "source", NULL);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "--baseline-as needs --baseline"));
    tu_proc_free(&p);

    p = run(NULL, NULL, NULL, NULL, NULL);
    ck_assert_int_eq(p.status, 64);
    tu_proc_free(&p);
}
END_TEST

START_TEST(config_errors_exit_78)
{
    static const struct {
        const char *yaml;
        const char *want[3];
    } cases[] = {
        {"version: 1\noutbound:\n  a: [unclosed\n",
         {"cutover.yml:", "syntax error", NULL}},
        {"version: 1\npostgres:\n  main:\n    source: ${CUTOVER_NOPE_UNSET}\n",
         {"cutover.yml:4:", "postgres.main.source", "CUTOVER_NOPE_UNSET"}},
        {"version: 1\npostgres:\n  main:\n    sorce: postgres://h/db\n",
         {"cutover.yml:4:5", "postgres.main.sorce", "did you mean"}},
        {"version: 1\nsettings:\n  timeout: 30 seconds\n",
         {"cutover.yml:3:", "settings.timeout", NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tu_proc p = run(cases[i].yaml, "check", NULL, NULL, NULL);
        ck_assert_msg(p.status == 78, "case %zu: exit %d, stderr %s", i,
                      p.status, p.err);
        for (int j = 0; j < 3 && cases[i].want[j]; j++)
            ck_assert_msg(strstr(p.err, cases[i].want[j]) != NULL,
                          "case %zu: \"%s\" not in: %s", i, cases[i].want[j],
                          p.err);
        ck_assert_str_eq(p.out, "");
        tu_proc_free(&p);

        p = run(cases[i].yaml, "config", NULL, NULL, NULL);
        ck_assert_int_eq(p.status, 78);
        tu_proc_free(&p);
    }
    /* no config file at all */
    struct tu_proc p = run(NULL, "check", "-c", "missing.yml", NULL);
    ck_assert_int_eq(p.status, 78);
    ck_assert_ptr_nonnull(strstr(p.err, "missing.yml"));
    tu_proc_free(&p);
}
END_TEST

START_TEST(list_from_descriptors)
{
    struct tu_proc p = run(NULL, "list", NULL, NULL, NULL);
    ck_assert_int_eq(p.status, 0);
    ck_assert_ptr_nonnull(strstr(p.out, "tcp.reach"));
    ck_assert_ptr_nonnull(strstr(p.out, "pre, post"));
    ck_assert_ptr_null(strstr(p.out, "default:"));
    tu_proc_free(&p);

    p = run(NULL, "list", "--verbose", NULL, NULL);
    ck_assert_int_eq(p.status, 0);
    ck_assert_ptr_nonnull(strstr(p.out, "    timeout"));
    ck_assert_ptr_nonnull(strstr(p.out, "duration"));
    ck_assert_ptr_nonnull(strstr(p.out, "default:"));
    tu_proc_free(&p);

    p = run(NULL, "list", "--phase", "drift", NULL);
    ck_assert_int_eq(p.status, 0);
    ck_assert_ptr_null(strstr(p.out, "tcp.reach"));
    tu_proc_free(&p);
}
END_TEST

static const char secret_cfg[] =
    "version: 1\n"
    "postgres:\n"
    "  main:\n"
    "    source: postgres://app:" SENTINEL "@127.0.0.1:1/db\n"
    "    target: postgres://app:" SENTINEL "@127.0.0.1:2/db?sslmode=require\n"
    "redis:\n"
    "  jobs:\n"
    "    source: rediss://:" SENTINEL "@127.0.0.1:3/0\n"
    "outbound:\n"
    "  closed: 127.0.0.1:1\n";

START_TEST(sentinel_never_printed)
{
    struct tu_proc p = run(secret_cfg, "config", NULL, NULL, NULL);
    ck_assert_int_eq(p.status, 0);
    ck_assert_ptr_nonnull(strstr(p.out, "postgres://app:***@127.0.0.1:1/db"));
    ck_assert_ptr_null(strstr(p.out, SENTINEL));
    ck_assert_ptr_null(strstr(p.err, SENTINEL));
    tu_proc_free(&p);

    char *dir = tu_tmpdir();
    char *cfg = tu_write_file(dir, "c.yml", secret_cfg);
    char *junit = co_asprintf("%s/j.xml", dir);
    char *json = co_asprintf("%s/r.json", dir);
    char *md = co_asprintf("%s/r.md", dir);
    const char *argv[] = {NULL,         "check", "-c",        cfg,
                          "--junit",    junit,   "--json",    json,
                          "--markdown", md,      "--verbose", NULL};
    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 60), 0);
    ck_assert_int_eq(p.status, 1); /* the closed port fails */
    ck_assert_ptr_null(strstr(p.out, SENTINEL));
    ck_assert_ptr_null(strstr(p.err, SENTINEL));
    const char *files[] = {junit, json, md};
    for (int i = 0; i < 3; i++) {
        char *text = tu_read_file(files[i], NULL);
        ck_assert_ptr_nonnull(text);
        ck_assert_msg(strstr(text, SENTINEL) == NULL, "secret in %s",
                      files[i]);
        free(text);
    }
    tu_proc_free(&p);
    free(cfg);
    free(junit);
    free(json);
    free(md);
    free(dir);
}
END_TEST

/* A config that declares nothing is a config error, and writes no
 * report a CI could read as green. */
START_TEST(empty_config_is_78)
{
    char *dir = tu_tmpdir();
    char *cfg = tu_write_file(dir, "cutover.yml", "version: 1\n");
    char *junit = co_asprintf("%s/j.xml", dir);
    struct tu_proc p;
    const char *argv[] = {NULL, "check", "--junit", junit, NULL};

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 30), 0);
    ck_assert_int_eq(p.status, 78);
    ck_assert_ptr_nonnull(
        strstr(p.err, "cutover.yml declares nothing to check"));
    ck_assert_int_ne(access(junit, F_OK), 0);
    tu_proc_free(&p);
    free(cfg);
    free(junit);
    free(dir);
}
END_TEST

#define OUTBOUND_ONLY "version: 1\noutbound:\n  x: 127.0.0.1:45498\n"

/* A --only/--skip pattern that matches no check id is a usage error that
 * names the pattern and the closest ids; so is a selection that leaves
 * nothing to check on this config or in this phase. */
START_TEST(selection_that_checks_nothing_is_64)
{
    static const struct {
        const char *a[4];
        const char *want;
    } t[] = {
        {{"--only", "redis.conect"},
         "--only \"redis.conect\" matches no check (closest: "
         "redis.connect, redis.config, pg.connect;"},
        {{"--skip", "tcp.reach,tls.crt"},
         "--skip \"tls.crt\" matches no check (closest: tls.cert"},
        {{"--only", ","}, "--only needs a check id or glob"},
        {{"--only", "pg.schema,pg.extensions"},
         "no check selected for --phase all runs on what the config "
         "declares: pg.extensions (postgres), pg.schema (postgres)"},
        {{"--only", "pg.schema", "--only", "pg.extensions"},
         "pg.extensions (postgres), pg.schema (postgres)"},
        {{"--skip", "tcp.*,net.*,env.*"},
         "no check selected for --phase all runs on what the config "
         "declares: pg.connect (postgres)"},
        {{"--only", "tcp.reach", "--phase", "drift"},
         "no selected check runs in --phase drift: tcp.reach (runs in pre, "
         "post)"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct tu_proc p =
            run(OUTBOUND_ONLY, "check", t[i].a[0], t[i].a[1], t[i].a[2]);
        if (t[i].a[3]) {
            tu_proc_free(&p);
            char *dir = tu_tmpdir();
            char *cfg = tu_write_file(dir, "cutover.yml", OUTBOUND_ONLY);
            const char *argv[] = {NULL,      "check",   t[i].a[0], t[i].a[1],
                                  t[i].a[2], t[i].a[3], NULL};
            ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 30), 0);
            free(cfg);
            free(dir);
        }
        ck_assert_msg(p.status == 64, "%s %s: exit %d", t[i].a[0], t[i].a[1],
                      p.status);
        ck_assert_msg(strstr(p.err, t[i].want) != NULL, "%s %s: %s", t[i].a[0],
                      t[i].a[1], p.err);
        ck_assert_ptr_null(strstr(p.out, "PASS"));
        tu_proc_free(&p);
    }
}
END_TEST

/* A snapshot of checks it cannot record would be an empty baseline that
 * a later drift run compares nothing against: 64, never a file. */
START_TEST(snapshot_that_records_nothing_is_64)
{
    struct tu_proc p =
        run(OUTBOUND_ONLY, "snapshot", "--side", "source", NULL);

    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "a snapshot records only the checks "
                                        "a baseline can replay, and none of "
                                        "the selected ones runs on what the "
                                        "config declares: "));
    ck_assert_ptr_nonnull(strstr(p.err, "tcp.reach (outbound)"));
    ck_assert_ptr_null(strstr(p.err, "written"));
    tu_proc_free(&p);
}
END_TEST

/* Comma lists select each check named; spaces around items are fine. */
START_TEST(only_takes_comma_lists)
{
    struct tu_proc p =
        run(OUTBOUND_ONLY, "check", "--only", "tcp.reach, pg.schema", NULL);

    ck_assert_int_eq(p.status, 1);
    ck_assert_ptr_nonnull(strstr(p.out, "tcp.reach\n  FAIL  x/127.0.0.1:45498"
                                        ": connection refused"));
    tu_proc_free(&p);
}
END_TEST

/* A run whose every case is a skip looked at nothing: exit 2, never 0. */
START_TEST(only_skips_is_not_green)
{
    struct tu_proc p = run("version: 1\npostgres:\n  main:\n    source: "
                           "postgres://u@127.0.0.1:45498/x\n",
                           "check", "--only", "pg.schema", NULL);

    ck_assert_int_eq(p.status, 2);
    ck_assert_ptr_nonnull(
        strstr(p.out, "SKIP  main/main: needs both sides; no target"));
    ck_assert_ptr_nonnull(
        strstr(p.out, "nothing was checked: every case was skipped\n"
                      "result: ERROR (exit 2)"));
    tu_proc_free(&p);
}
END_TEST

/* A listener whose accept queue is full and that never accepts: on
 * Linux further SYNs are dropped, so connects hang until the deadline. */
static int full_listener(int *port)
{
    struct sockaddr_in a = {0};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 0), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    for (int i = 0; i < 3; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(c, (struct sockaddr *)&a, sizeof(a));
    }
    return fd;
}

static void interrupt_with(int sig)
{
    int port, lfd = full_listener(&port);
    char *dir = tu_tmpdir();
    char *yaml = co_asprintf("version: 1\nsettings: {timeout: 60s}\n"
                             "outbound:\n  hang1: 127.0.0.1:%d\n"
                             "  hang2: 127.0.0.1:%d\n  hang3: 127.0.0.1:%d\n",
                             port, port, port);
    char *cfg = tu_write_file(dir, "cutover.yml", yaml);
    char *junit = co_asprintf("%s/j.xml", dir);
    char *json = co_asprintf("%s/r.json", dir);
    int64_t t0;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    const char *argv[] = {NULL,  "check",  "--jobs", "1", "--junit",
                          junit, "--json", json,     NULL};
    pid_t pid = tu_spawn(argv, NULL, dir, null, null);

    ck_assert_int_ge(pid, 0);
    close(null);
    struct timespec ts = {0, 600 * 1000000L};
    nanosleep(&ts, NULL);
    t0 = co_now_ms();
    kill(pid, sig);
    /* exits 2 by itself: not killed by the signal (128+sig), nor hung */
    ck_assert_int_eq(tu_reap(pid, 30000), 2);
    ck_assert_int_lt(co_now_ms() - t0, 4000);

    json_error_t jerr;
    json_t *root = json_load_file(json, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    json_t *checks = json_object_get(root, "checks");
    ck_assert_int_eq(json_array_size(checks), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *cases = json_object_get(json_array_get(checks, i), "cases");
        json_t *c = json_array_get(cases, json_array_size(cases) - 1);
        ck_assert_str_eq(json_string_value(json_object_get(c, "status")),
                         "error");
        ck_assert_ptr_nonnull(strstr(
            json_string_value(json_object_get(c, "message")), "interrupted"));
    }
    json_decref(root);
    char *cmd = co_asprintf("xmllint --noout %s", junit);
    ck_assert_int_eq(tu_sh(cmd, NULL), 0);
    free(cmd);
    close(lfd);
    free(yaml);
    free(cfg);
    free(junit);
    free(json);
    free(dir);
}

START_TEST(sigint_writes_reports)
{
    interrupt_with(SIGINT);
}
END_TEST

START_TEST(sigterm_writes_reports)
{
    interrupt_with(SIGTERM);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, help_version_usage);
    tcase_add_test(tc, config_errors_exit_78);
    tcase_add_test(tc, list_from_descriptors);
    tcase_add_test(tc, sentinel_never_printed);
    tcase_add_test(tc, empty_config_is_78);
    tcase_add_test(tc, selection_that_checks_nothing_is_64);
    tcase_add_test(tc, only_takes_comma_lists);
    tcase_add_test(tc, snapshot_that_records_nothing_is_64);
    tcase_add_test(tc, only_skips_is_not_green);
    tcase_add_test(tc, sigint_writes_reports);
    tcase_add_test(tc, sigterm_writes_reports);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = cli_suite);
