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

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"

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
    struct tu_outcome o;
    char *cfg;

    cfg = co_asprintf("version: 1\n"
                      "settings: {timeout: 5s}\n"
                      "endpoints:\n"
                      "  self: {url: \"https://app.cutover.test/\", "
                      "connect_to: \"127.0.0.1:%d\"}\n",
                      port);
    tu_check_run(cfg, TU_WORDS("--phase", "pre"), NULL, 60, &o);
    kill(pid, SIGTERM);
    tu_expect(&o, "tls.cert", "self", "app.cutover.test:443", "fail",
              TU_WORDS("self-signed certificate",
                       "protocol TLSv1.1 too old (tls_min_version 1.2)",
                       "issuer CN=app.cutover.test", "TLSv1.1"));
    tu_outcome_free(&o);
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

static void expect_details(const struct tu_outcome *o, const char *resource,
                           const char *name, const char *status)
{
    tu_expect(o, "tls.cert", resource, name, status, detail_words);
}

START_TEST(test_certificates_told_apart)
{
    const char *ca = tu_tb("CUTOVER_TB_CA");
    struct tu_outcome o;
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
    tu_check_run(cfg, TU_WORDS("--phase", "pre"), NULL, 60, &o);

    char good[64], name[64];
    snprintf(good, sizeof(good), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_GOOD"));
    expect_details(&o, "good", good, "pass");
    expect_details(&o, "via", "app.cutover.test:443", "pass");
    tu_expect(&o, "tls.cert", "via", "app.cutover.test:443", "pass",
              TU_WORDS("via 127.0.0.1:"));

    snprintf(name, sizeof(name), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_EXPIRED"));
    tu_expect(
        &o, "tls.cert", "expired", name, "fail",
        TU_WORDS("certificate expired on 2020-", "subject CN=", "SAN DNS:"));
    snprintf(name, sizeof(name), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_WRONGHOST"));
    tu_expect(&o, "tls.cert", "wrong", name, "fail",
              TU_WORDS("wrong host", "hostname mismatch",
                       "SAN DNS:wrong.example.invalid"));
    snprintf(name, sizeof(name), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_EXPIRING"));
    tu_expect(&o, "tls.cert", "soon", name, "fail",
              TU_WORDS("expiring soon", "under cert_min_days 14"));
    tu_expect(&o, "tls.cert", "soonish", name, "warn",
              TU_WORDS("expiring soon", "under twice cert_min_days 3"));
    snprintf(name, sizeof(name), "app.cutover.test:%s",
             tu_tb("CUTOVER_TB_HTTPS_UNKNOWNCA"));
    tu_expect(&o, "tls.cert", "unknown", name, "fail",
              TU_WORDS("unknown CA", "issuer CN=cutover unknown CA"));
    /* Without ca_file the system store does not know the test CA either;
     * with tls_verify: false that is not held against the endpoint. */
    tu_expect(&o, "tls.cert", "unverified", name, "pass",
              TU_WORDS("verification off"));
    snprintf(name, sizeof(name), "127.0.0.1:%s",
             tu_tb("CUTOVER_TB_HTTPS_GOOD"));
    tu_expect(&o, "tls.cert", "old", name, "fail",
              TU_WORDS("protocol TLSv1.2 too old (tls_min_version 1.3)"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_unreachable)
{
    struct tu_outcome o;
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
    tu_check_run(cfg, TU_WORDS("--phase", "post"), NULL, 60, &o);
    json_t *silent = tu_cases(&o, "tls.cert", "silent");
    ck_assert_msg(silent != NULL && json_array_size(silent) >= 1, "%s",
                  o.text);
    const char *msg = json_string_value(
        json_object_get(json_array_get(silent, 0), "message"));
    ck_assert_msg(msg != NULL && strstr(msg, "timed out") != NULL, "%s",
                  o.text);
    tu_expect(&o, "tls.cert", "closed", "app.cutover.test:443", "fail",
              TU_WORDS("connection refused"));
    ck_assert_msg(o.took_ms < 6000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
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
