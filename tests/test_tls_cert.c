/*
 * label: net
 * test_tls_cert.c - the `tls.cert` check end to end against the test
 * bed's nginx TLS ports (good, expired, wrong host, expiring in 5 days,
 * unknown CA; all TLS 1.2), the built binary writing a JSON report that
 * is read back with jansson. Names resolve on the test bed's dnsmasq;
 * connect_to dials 127.0.0.1 while SNI and the name check keep the URL's
 * host. Also a silent listener (handshake timeout), a closed port, and
 * an `openssl s_server` this test starts with a fresh self-signed
 * certificate that only speaks TLS 1.1.
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutover/util.h"
#include "testutil.h"

/* ---- running the binary ----------------------------------------------- */

struct outcome {
    int status;
    int64_t took_ms;
    json_t *report;
    char *text;
};

static void run_check(const char *config, const char *phase, struct outcome *o)
{
    char *dir = tu_tmpdir();
    char *cfg = tu_write_file(dir, "cutover.yml", config);
    char *json = co_asprintf("%s/report.json", dir);
    const char *argv[] = {"cutover", "check",  "-c", cfg, "--phase",
                          phase,     "--json", json, NULL};
    struct tu_proc p;
    json_error_t jerr;
    int64_t t0 = co_now_ms();

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 60), 0);
    o->took_ms = co_now_ms() - t0;
    o->status = p.status;
    o->text = co_asprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", p.status,
                          p.out ? p.out : "", p.err ? p.err : "");
    o->report = json_load_file(json, 0, &jerr);
    ck_assert_msg(o->report != NULL, "no JSON report (%s): %s", jerr.text,
                  o->text);
    tu_proc_free(&p);
    free(json);
    free(cfg);
    free(dir);
}

static void outcome_free(struct outcome *o)
{
    json_decref(o->report);
    free(o->text);
}

static json_t *cases_of(const struct outcome *o, const char *check,
                        const char *resource)
{
    json_t *checks = json_object_get(o->report, "checks"), *c;
    size_t i;

    ck_assert_msg(json_is_array(checks), "no checks array: %s", o->text);
    json_array_foreach(checks, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "check"));
        const char *res = json_string_value(json_object_get(c, "resource"));
        if (id && res && strcmp(id, check) == 0 && strcmp(res, resource) == 0)
            return json_object_get(c, "cases");
    }
    return NULL;
}

/* Asserts the case `name` of check/resource: status and message words
 * (NULL-ended). */
static void expect_case(const struct outcome *o, const char *check,
                        const char *resource, const char *name,
                        const char *status, const char *const *words)
{
    json_t *cases = cases_of(o, check, resource), *c;
    size_t i;

    ck_assert_msg(cases != NULL, "no %s result for %s: %s", check, resource,
                  o->text);
    json_array_foreach(cases, i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        const char *st = json_string_value(json_object_get(c, "status"));
        const char *msg = json_string_value(json_object_get(c, "message"));
        if (n == NULL || strcmp(n, name) != 0)
            continue;
        ck_assert_msg(strcmp(st, status) == 0, "%s %s: want %s, got %s: %s",
                      check, name, status, st, msg);
        for (size_t w = 0; words[w] != NULL; w++)
            ck_assert_msg(strstr(msg, words[w]) != NULL,
                          "%s %s: \"%s\" not in \"%s\"", check, name, words[w],
                          msg);
        return;
    }
    ck_assert_msg(0, "%s/%s: no case \"%s\": %s", check, resource, name,
                  o->text);
}

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- a self-signed TLS 1.1 server ------------------------------------ */

/* A free port on 127.0.0.1 (bound then released: a small race that a
 * test can live with). */
static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    ck_assert_int_ge(fd, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool port_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* Starts openssl s_server; returns its pid. */
static pid_t self_signed_server(int port)
{
    char *dir = tu_tmpdir(), *cmd, *out = NULL;
    pid_t pid;

    cmd = co_asprintf(
        "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem "
        "-out c.pem -days 30 -subj /CN=app.cutover.test -addext "
        "subjectAltName=DNS:app.cutover.test >req.log 2>&1 && "
        "{ openssl s_server -accept 127.0.0.1:%d -cert c.pem -key k.pem "
        "-www -quiet -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null "
        ">srv.log 2>&1 & echo $!; }",
        dir, port);
    ck_assert_int_eq(tu_sh(cmd, &out), 0);
    pid = (pid_t)strtol(out, NULL, 10);
    ck_assert_int_gt(pid, 0);
    for (int i = 0; i < 100 && !port_open(port); i++)
        usleep(50 * 1000);
    ck_assert_msg(port_open(port), "openssl s_server did not start");
    free(out);
    free(cmd);
    free(dir);
    return pid;
}

START_TEST(test_self_signed_and_old_protocol)
{
    int port = free_port();
    pid_t pid = self_signed_server(port);
    struct outcome o;
    char *cfg;

    cfg = co_asprintf("version: 1\n"
                      "settings: {timeout: 5s}\n"
                      "endpoints:\n"
                      "  self: {url: \"https://app.cutover.test/\", "
                      "connect_to: \"127.0.0.1:%d\"}\n",
                      port);
    run_check(cfg, "pre", &o);
    kill(pid, SIGTERM);
    expect_case(&o, "tls.cert", "self", "app.cutover.test:443", "fail",
                W("self-signed certificate",
                  "protocol TLSv1.1 too old (tls_min_version 1.2)",
                  "issuer CN=app.cutover.test", "TLSv1.1"));
    outcome_free(&o);
    free(cfg);
}
END_TEST

/* ---- tests ------------------------------------------------------------ */

static const char *const detail_words[] = {
    "subject CN=app.cutover.test",
    "issuer CN=cutover test CA",
    "SAN DNS:localhost, DNS:app.cutover.test",
    "expires 20",
    "TLSv1.2",
    "ECDHE-",
    NULL};

static void expect_details(const struct outcome *o, const char *resource,
                           const char *name, const char *status)
{
    expect_case(o, "tls.cert", resource, name, status, detail_words);
}

START_TEST(test_certificates_told_apart)
{
    const char *ca = tu_tb("CUTOVER_TB_CA");
    struct outcome o;
    char *cfg;

    cfg = co_asprintf(
        "version: 1\n"
        "settings: {resolvers: [\"%s\"], timeout: 10s}\n"
        "endpoints:\n"
        "  good: {url: \"https://app.cutover.test:%s/healthz\", ca_file: "
        "\"%s\"}\n"
        "  via: {url: \"https://app.cutover.test/healthz\", connect_to: "
        "\"127.0.0.1:%s\", ca_file: \"%s\"}\n"
        "  expired: {url: \"https://app.cutover.test:%s/\", ca_file: "
        "\"%s\"}\n"
        "  wrong: {url: \"https://app.cutover.test:%s/\", ca_file: \"%s\"}\n"
        "  soon: {url: \"https://app.cutover.test:%s/\", ca_file: \"%s\"}\n"
        "  soonish: {url: \"https://app.cutover.test:%s/\", ca_file: \"%s\", "
        "cert_min_days: 3}\n"
        "  unknown: {url: \"https://app.cutover.test:%s/\", ca_file: "
        "\"%s\"}\n"
        "  old: {url: \"https://127.0.0.1:%s/\", ca_file: \"%s\", "
        "tls_min_version: \"1.3\"}\n"
        "  unverified: {url: \"https://app.cutover.test:%s/\", tls_verify: "
        "false}\n",
        tu_tb("CUTOVER_TB_DNS"), tu_tb("CUTOVER_TB_HTTPS_GOOD"), ca,
        tu_tb("CUTOVER_TB_HTTPS_GOOD"), ca, tu_tb("CUTOVER_TB_HTTPS_EXPIRED"),
        ca, tu_tb("CUTOVER_TB_HTTPS_WRONGHOST"), ca,
        tu_tb("CUTOVER_TB_HTTPS_EXPIRING"), ca,
        tu_tb("CUTOVER_TB_HTTPS_EXPIRING"), ca,
        tu_tb("CUTOVER_TB_HTTPS_UNKNOWNCA"), ca,
        tu_tb("CUTOVER_TB_HTTPS_GOOD"), ca,
        tu_tb("CUTOVER_TB_HTTPS_UNKNOWNCA"));
    run_check(cfg, "pre", &o);

    char good[64], name[64];
    snprintf(good, sizeof(good), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_GOOD"));
    expect_details(&o, "good", good, "pass");
    expect_details(&o, "via", "app.cutover.test:443", "pass");
    expect_case(&o, "tls.cert", "via", "app.cutover.test:443", "pass",
                W("via 127.0.0.1:"));

    snprintf(name, sizeof(name), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_EXPIRED"));
    expect_case(&o, "tls.cert", "expired", name, "fail",
                W("certificate expired on 2020-", "subject CN=", "SAN DNS:"));
    snprintf(name, sizeof(name), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_WRONGHOST"));
    expect_case(
        &o, "tls.cert", "wrong", name, "fail",
        W("wrong host", "hostname mismatch", "SAN DNS:wrong.example.invalid"));
    snprintf(name, sizeof(name), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_EXPIRING"));
    expect_case(&o, "tls.cert", "soon", name, "fail",
                W("expiring soon", "under cert_min_days 14"));
    expect_case(&o, "tls.cert", "soonish", name, "warn",
                W("expiring soon", "under twice cert_min_days 3"));
    snprintf(name, sizeof(name), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_UNKNOWNCA"));
    expect_case(&o, "tls.cert", "unknown", name, "fail",
                W("unknown CA", "issuer CN=cutover unknown CA"));
    /* Without ca_file the system store does not know the test CA either;
     * with tls_verify: false that is not held against the endpoint. */
    expect_case(&o, "tls.cert", "unverified", name, "pass",
                W("verification off"));
    snprintf(name, sizeof(name), "127.0.0.1:%s",
             tu_tb("CUTOVER_TB_HTTPS_GOOD"));
    expect_case(&o, "tls.cert", "old", name, "fail",
                W("protocol TLSv1.2 too old (tls_min_version 1.3)"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_unreachable)
{
    struct outcome o;
    char *cfg;

    cfg = co_asprintf("version: 1\n"
                      "settings: {timeout: 2s}\n"
                      "endpoints:\n"
                      "  silent: {url: \"https://app.cutover.test/\", "
                      "connect_to: \"%s\"}\n"
                      "  closed: {url: \"https://app.cutover.test/\", "
                      "connect_to: \"127.0.0.1:%s\"}\n",
                      tu_tb("CUTOVER_TB_SILENT"),
                      tu_tb("CUTOVER_TB_CLOSED_PORT"));
    run_check(cfg, "post", &o);
    json_t *silent = cases_of(&o, "tls.cert", "silent");
    ck_assert_msg(silent != NULL && json_array_size(silent) >= 1, "%s",
                  o.text);
    const char *msg = json_string_value(
        json_object_get(json_array_get(silent, 0), "message"));
    ck_assert_msg(msg != NULL && strstr(msg, "timed out") != NULL, "%s",
                  o.text);
    expect_case(&o, "tls.cert", "closed", "app.cutover.test:443", "fail",
                W("connection refused"));
    ck_assert_msg(o.took_ms < 6000, "took %lld ms", (long long)o.took_ms);
    outcome_free(&o);
    free(cfg);
}
END_TEST

static Suite *tls_cert_suite(void)
{
    Suite *s = suite_create("tls_cert");
    TCase *tc = tcase_create("binary");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_certificates_told_apart);
    tcase_add_test(tc, test_unreachable);
    tcase_add_test(tc, test_self_signed_and_old_protocol);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    tu_testbed_require(
        "CUTOVER_TB_DNS", "CUTOVER_TB_CA", "CUTOVER_TB_HTTPS_GOOD",
        "CUTOVER_TB_HTTPS_EXPIRED", "CUTOVER_TB_HTTPS_WRONGHOST",
        "CUTOVER_TB_HTTPS_EXPIRING", "CUTOVER_TB_HTTPS_UNKNOWNCA",
        "CUTOVER_TB_SILENT", "CUTOVER_TB_CLOSED_PORT", NULL);
    sr = srunner_create(tls_cert_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
