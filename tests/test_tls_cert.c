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
 *
 * Database hosts (postgres/redis resources with `tls: true`): the test
 * bed's two PostgreSQL clusters (SSLRequest, then TLS with a certificate
 * from the bed's CA), its TLS Redis and a plain Redis; and a listener
 * this test forks that checks the 8 SSLRequest bytes and answers 'N', as
 * a server with ssl = off does.
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/tls.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

/* ---- a self-signed TLS 1.1 server ------------------------------------ */

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
    for (int i = 0; i < 100 && !tu_port_open(port); i++)
        usleep(50 * 1000);
    ck_assert_msg(tu_port_open(port), "openssl s_server did not start");
    free(out);
    free(cmd);
    free(dir);
    return pid;
}

START_TEST(test_self_signed_and_old_protocol)
{
    int port = tu_free_port();
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
    /* A closed port was never looked at: could not check. */
    tu_expect(&o, "tls.cert", "closed", "app.cutover.test:443", "error",
              TU_WORDS("could not check the certificate", "connection "
                                                          "refused"));
    ck_assert_msg(o.took_ms < 6000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* ---- database hosts (tls: true) -------------------------------------- */

/* Words every message about the bed's database certificate holds. */
#define DB_CERT_WORDS                                                         \
    "subject CN=localhost,O=cutover test bed",                                \
        "issuer CN=cutover test CA,O=cutover test bed",                       \
        "SAN DNS:localhost, IP:127.0.0.1", "expires 20", "TLSv1.3 TLS_AES_"

START_TEST(test_database_hosts)
{
    const char *ca = tu_tb("CUTOVER_TB_CA");
    char pgs[32], pgt[32], rt[32], rp[32];
    struct tu_outcome o;
    char *cfg;

    cfg = co_asprintf(
        "version: 1\n"
        "settings: {timeout: 10s}\n"
        "postgres:\n"
        "  main: {source: \"%s\", target: \"%s\", tls: true, ca_file: "
        "\"%s\"}\n"
        "  noca: {source: \"%s\", tls: true}\n"
        "  unverified: {target: \"%s\", tls: true, tls_verify: false}\n"
        "  half: {source: \"%s\", target: "
        "\"postgres://cutover@127.0.0.1:%s/cutover\", tls: true, ca_file: "
        "\"%s\"}\n"
        "  notls: {source: \"%s\"}\n"
        "  rootcert: {source: \"%s&sslrootcert=%s\", tls: true}\n"
        "redis:\n"
        "  secure: {source: \"%s\", target: \"%s\", tls: true, ca_file: "
        "\"%s\"}\n"
        "  notls: {source: \"%s\"}\n",
        tu_tb("CUTOVER_TB_PG_SOURCE_URL"), tu_tb("CUTOVER_TB_PG_TARGET_URL"),
        ca, tu_tb("CUTOVER_TB_PG_SOURCE_URL"),
        tu_tb("CUTOVER_TB_PG_TARGET_URL"), tu_tb("CUTOVER_TB_PG_SOURCE_URL"),
        tu_tb("CUTOVER_TB_CLOSED_PORT"), ca, tu_tb("CUTOVER_TB_PG_SOURCE_URL"),
        tu_tb("CUTOVER_TB_PG_SOURCE_URL"), ca,
        tu_tb("CUTOVER_TB_REDIS_TLS_URL"),
        tu_tb("CUTOVER_TB_REDIS_SOURCE_URL"), ca,
        tu_tb("CUTOVER_TB_REDIS_TLS_URL"));
    tu_check_run(cfg, TU_WORDS("--phase", "pre", "--only", "tls.cert"), NULL,
                 60, &o);

    /* host:port of each server, as the messages name them */
    snprintf(pgs, sizeof(pgs), "127.0.0.1:%s",
             strrchr(tu_tb("CUTOVER_TB_PG_SOURCE_URL"), ':') + 1);
    pgs[strcspn(pgs, "/")] = '\0';
    snprintf(pgt, sizeof(pgt), "127.0.0.1:%s",
             strrchr(tu_tb("CUTOVER_TB_PG_TARGET_URL"), ':') + 1);
    pgt[strcspn(pgt, "/")] = '\0';
    snprintf(rt, sizeof(rt), "Redis 127.0.0.1:%s",
             strrchr(tu_tb("CUTOVER_TB_REDIS_TLS_URL"), ':') + 1);
    rt[strcspn(rt, "/")] = '\0';
    snprintf(rp, sizeof(rp), "Redis 127.0.0.1:%s",
             strrchr(tu_tb("CUTOVER_TB_REDIS_SOURCE_URL"), ':') + 1);
    rp[strcspn(rp, "/")] = '\0';

    ck_assert_uint_eq(tu_ncases(&o, "tls.cert", "main"), 2);
    tu_expect(&o, "tls.cert", "main", "source", "pass",
              TU_WORDS("PostgreSQL ", pgs, DB_CERT_WORDS));
    tu_expect(&o, "tls.cert", "main", "target", "pass",
              TU_WORDS("PostgreSQL ", pgt, DB_CERT_WORDS));
    /* the system store does not know the bed's CA */
    ck_assert_uint_eq(tu_ncases(&o, "tls.cert", "noca"), 1);
    tu_expect(
        &o, "tls.cert", "noca", "source", "fail",
        TU_WORDS("unknown CA: issuer CN=cutover test CA", pgs, DB_CERT_WORDS));
    tu_expect(
        &o, "tls.cert", "unverified", "target", "pass",
        TU_WORDS("verification off (tls_verify: false)", pgt, DB_CERT_WORDS));
    tu_expect(&o, "tls.cert", "half", "source", "pass", TU_WORDS(pgs));
    /* no ca_file: the URL's sslrootcert is the CA, as for libpq */
    tu_expect(&o, "tls.cert", "rootcert", "source", "pass",
              TU_WORDS(pgs, DB_CERT_WORDS));
    tu_expect(
        &o, "tls.cert", "half", "target", "error",
        TU_WORDS("could not check the certificate", "connection refused"));
    tu_expect(&o, "tls.cert", "secure", "source", "pass",
              TU_WORDS(rt, DB_CERT_WORDS));
    /* a plain-text Redis with tls: true: no TLS there, said at once */
    tu_expect(&o, "tls.cert", "secure", "target", "fail",
              TU_WORDS(rp, "no TLS: the port answers plain-text Redis"));
    /* tls: false (the default): tls.cert does not run on them */
    ck_assert_ptr_null(tu_cases(&o, "tls.cert", "notls"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    ck_assert_msg(o.took_ms < 5000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* Forks a listener on port that accepts one connection, reads 8 bytes,
 * answers 'N' and exits 0 when the bytes were an SSLRequest, 1 if not. */
static pid_t refusing_pg(int port)
{
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;

    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static const unsigned char want[8] = {0, 0, 0, 8, 4, 210, 22, 47};
        unsigned char got[8];
        size_t n = 0;
        ssize_t r = 1;
        int c;

        alarm(30);
        c = accept(fd, NULL, NULL);
        while (c >= 0 && n < sizeof(got) && r > 0) {
            r = read(c, got + n, sizeof(got) - n);
            n += r > 0 ? (size_t)r : 0;
        }
        if (c >= 0 && write(c, "N", 1) != 1)
            _exit(2);
        _exit(n == sizeof(want) && memcmp(got, want, n) == 0 ? 0 : 1);
    }
    close(fd);
    return pid;
}

START_TEST(test_pg_refuses_tls)
{
    int port = tu_free_port(), st = -1;
    pid_t pid = refusing_pg(port);
    struct tu_outcome o;
    char *cfg;

    cfg = co_asprintf("version: 1\n"
                      "settings: {timeout: 5s}\n"
                      "postgres:\n"
                      "  off: {source: \"postgres://u@127.0.0.1:%d/db\", "
                      "tls: true}\n",
                      port);
    tu_check_run(cfg, TU_WORDS("--phase", "pre", "--only", "tls.cert"), NULL,
                 30, &o);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the listener did not get an SSLRequest (status %d)", st);
    tu_expect(&o, "tls.cert", "off", "source", "fail",
              TU_WORDS("server refuses TLS", "answered 'N' to the SSLRequest",
                       "PostgreSQL 127.0.0.1:"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_pg_answers)
{
    char err[256];

    ck_assert_int_eq(co_tls_pg_answer('S', err, sizeof(err)), CO_NET_OK);
    ck_assert_int_eq(co_tls_pg_answer('N', err, sizeof(err)), CO_NET_REFUSED);
    ck_assert_ptr_nonnull(strstr(err, "server refuses TLS"));
    ck_assert_int_eq(co_tls_pg_answer('E', err, sizeof(err)), CO_NET_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "error message"));
    ck_assert_int_eq(co_tls_pg_answer(0x16, err, sizeof(err)), CO_NET_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "unexpected answer 0x16"));
    ck_assert_mem_eq(co_tls_pg_sslrequest, "\0\0\0\x08\x04\xd2\x16\x2f", 8);
}
END_TEST

static Suite *tls_cert_suite(void)
{
    Suite *s = suite_create("tls_cert");
    TCase *tc = tcase_create("binary");
    TCase *db = tcase_create("database hosts");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_certificates_told_apart);
    tcase_add_test(tc, test_unreachable);
    tcase_add_test(tc, test_self_signed_and_old_protocol);
    suite_add_tcase(s, tc);
    tcase_set_timeout(db, 60);
    tcase_add_test(db, test_pg_answers);
    tcase_add_test(db, test_database_hosts);
    tcase_add_test(db, test_pg_refuses_tls);
    suite_add_tcase(s, db);
    return s;
}

TU_SUITE(.make = tls_cert_suite,
         .testbed = TU_VARS(
             "CUTOVER_TB_DNS", "CUTOVER_TB_CA", "CUTOVER_TB_HTTPS_GOOD",
             "CUTOVER_TB_HTTPS_EXPIRED", "CUTOVER_TB_HTTPS_WRONGHOST",
             "CUTOVER_TB_HTTPS_EXPIRING", "CUTOVER_TB_HTTPS_UNKNOWNCA",
             "CUTOVER_TB_SILENT", "CUTOVER_TB_CLOSED_PORT",
             "CUTOVER_TB_PG_SOURCE_URL", "CUTOVER_TB_PG_TARGET_URL",
             "CUTOVER_TB_REDIS_TLS_URL", "CUTOVER_TB_REDIS_SOURCE_URL"));
