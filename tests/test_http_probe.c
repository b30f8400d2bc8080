/*
 * label: net
 * test_http_probe.c - the `http.probe` and `net.egress` checks end to
 * end: the built binary against the test bed's nginx (plain HTTP
 * /healthz 200 "ok", /fail 503, /redirect 302; the good TLS port), its
 * silent listener and closed port, and a small HTTP responder in this
 * process that records what the probe sent (method, headers) and serves
 * an egress "what is my IP" body. JSON report read back with jansson.
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

/* ---- a one-request-at-a-time HTTP responder ---------------------------- */

/* Answers every request with `response` and keeps the last request's
 * head, so tests can see what the probe sent. */
struct responder {
    int fd, port;
    const char *response;
    char request[4096];
    atomic_int stop;
    pthread_t th;
};

static void serve_one(struct responder *r, int c)
{
    size_t got = 0;

    memset(r->request, 0, sizeof(r->request));
    while (got < sizeof(r->request) - 1 &&
           strstr(r->request, "\r\n\r\n") == NULL) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        ssize_t n;
        if (poll(&p, 1, 2000) <= 0)
            break;
        n = read(c, r->request + got, sizeof(r->request) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (write(c, r->response, strlen(r->response)) < 0)
        perror("responder write");
}

static void *responder_main(void *arg)
{
    struct responder *r = arg;

    while (!atomic_load(&r->stop)) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        int c;
        if (poll(&p, 1, 50) <= 0)
            continue;
        c = accept(r->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_one(r, c);
        close(c);
    }
    return NULL;
}

static void responder_start(struct responder *r, const char *response)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    memset(r, 0, sizeof(*r));
    r->response = response;
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r->fd, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(r->fd, 8), 0);
    ck_assert_int_eq(getsockname(r->fd, (struct sockaddr *)&a, &len), 0);
    r->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&r->th, NULL, responder_main, r), 0);
}

static void responder_stop(struct responder *r)
{
    atomic_store(&r->stop, 1);
    pthread_join(r->th, NULL);
    close(r->fd);
}

/* ---- running the binary ----------------------------------------------- */

/* A proxy from the caller's environment would take the requests
 * elsewhere: the test bed is local. */
static const char *const no_proxy_env[] = {"no_proxy=*", "NO_PROXY=*", NULL};

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_statuses_and_latency)
{
    const char *http = tu_tb("CUTOVER_TB_HTTP");
    const char *good = tu_tb("CUTOVER_TB_HTTPS_GOOD");
    struct tu_outcome o;
    char *cfg, *u_ok, *u_fail, *u_redir, *u_tls, *u_ct, *u_closed;

    u_ok = co_asprintf("%s/healthz", http);
    u_fail = co_asprintf("%s/fail", http);
    u_redir = co_asprintf("%s/redirect", http);
    u_tls = co_asprintf("https://app.cutover.test:%s/healthz", good);
    u_ct = co_asprintf("https://app.cutover.test/healthz");
    u_closed =
        co_asprintf("http://127.0.0.1:%s/", tu_tb("CUTOVER_TB_CLOSED_PORT"));
    cfg = co_asprintf(
        "version: 1\n"
        "settings: {resolvers: [\"%s\"], timeout: 10s}\n"
        "endpoints:\n"
        "  ok: {url: \"%s\", expect_body: ok}\n"
        "  body: {url: \"%s\", expect_body: healthy}\n"
        "  fail: {url: \"%s\"}\n"
        "  redir: {url: \"%s\"}\n"
        "  redir200: {url: \"%s\", expect_status: 200}\n"
        "  follow: {url: \"%s\", expect_status: 200, follow_redirects: "
        "true}\n"
        "  tls: {url: \"%s\", ca_file: \"%s\", expect_body: ok}\n"
        "  via: {url: \"%s\", connect_to: \"127.0.0.1:%s\", ca_file: "
        "\"%s\"}\n"
        "  untrusted: {url: \"%s\"}\n"
        "  closed: {url: \"%s\"}\n"
        "checks:\n"
        "  tls.cert: {enabled: false}\n",
        tu_tb("CUTOVER_TB_DNS"), u_ok, u_ok, u_fail, u_redir, u_redir, u_redir,
        u_tls, tu_tb("CUTOVER_TB_CA"), u_ct, good, tu_tb("CUTOVER_TB_CA"),
        u_tls, u_closed);
    tu_check_run(cfg, TU_WORDS("--phase", "post"), no_proxy_env, 60, &o);
    tu_expect(&o, "http.probe", "ok", u_ok, "pass",
              TU_WORDS("HTTP 200, body matches", "connect ", "first byte ",
                       "total "));
    tu_expect(&o, "http.probe", "body", u_ok, "fail",
              TU_WORDS("HTTP 200 but the body does not contain \"healthy\""));
    tu_expect(&o, "http.probe", "fail", u_fail, "fail",
              TU_WORDS("HTTP 503, expected 2xx/3xx"));
    tu_expect(&o, "http.probe", "redir", u_redir, "pass",
              TU_WORDS("HTTP 302"));
    tu_expect(&o, "http.probe", "redir200", u_redir, "fail",
              TU_WORDS("HTTP 302, expected 200"));
    tu_expect(&o, "http.probe", "follow", u_redir, "pass",
              TU_WORDS("HTTP 200"));
    tu_expect(&o, "http.probe", "tls", u_tls, "pass",
              TU_WORDS("HTTP 200, body matches", "from 127.0.0.1:", "TLS "));
    tu_expect(&o, "http.probe", "via", u_ct, "pass",
              TU_WORDS("HTTP 200 from 127.0.0.1:", "TLS "));
    /* The system store does not know the test CA: the handshake is
     * tls.cert's subject, so http.probe could not look (error). */
    tu_expect(&o, "http.probe", "untrusted", u_tls, "error",
              TU_WORDS("TLS: "));
    tu_expect(&o, "http.probe", "closed", u_closed, "error",
              TU_WORDS("connection refused"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
    free(u_ok);
    free(u_fail);
    free(u_redir);
    free(u_tls);
    free(u_ct);
    free(u_closed);
}
END_TEST

/* A server that accepts and never answers: "timed out" within the
 * deadline, not a hung task. */
START_TEST(test_silent_times_out)
{
    struct tu_outcome o;
    char *cfg, *url = co_asprintf("http://%s/", tu_tb("CUTOVER_TB_SILENT"));

    cfg = co_asprintf("version: 1\n"
                      "settings: {timeout: 10s}\n"
                      "endpoints:\n"
                      "  silent: {url: \"%s\"}\n"
                      "checks:\n"
                      "  http.probe: {timeout: 1s}\n",
                      url);
    tu_check_run(cfg, TU_WORDS("--phase", "post"), no_proxy_env, 60, &o);
    tu_expect(&o, "http.probe", "silent", url, "error", TU_WORDS("timed out"));
    ck_assert_msg(o.took_ms < 4000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
    free(cfg);
    free(url);
}
END_TEST

START_TEST(test_method_and_headers_sent)
{
    struct responder r;
    struct tu_outcome o;
    char *cfg, *url;

    responder_start(&r, "HTTP/1.1 201 Created\r\nContent-Length: 7\r\n"
                        "Connection: close\r\n\r\ncreated");
    url = co_asprintf("http://open.cutover.test:%d/hook", r.port);
    cfg = co_asprintf("version: 1\n"
                      "settings: {resolvers: [\"%s\"]}\n"
                      "endpoints:\n"
                      "  hook:\n"
                      "    url: \"%s\"\n"
                      "    method: POST\n"
                      "    headers: {X-Probe: cutover-test}\n"
                      "    expect_status: 201\n"
                      "    expect_body: created\n",
                      tu_tb("CUTOVER_TB_DNS"), url);
    tu_check_run(cfg, TU_WORDS("--phase", "post"), no_proxy_env, 60, &o);
    tu_expect(&o, "http.probe", "hook", url, "pass",
              TU_WORDS("HTTP 201, body matches", "resolve "));
    ck_assert_msg(strncmp(r.request, "POST /hook HTTP/1.1", 19) == 0, "%s",
                  r.request);
    ck_assert_msg(strstr(r.request, "X-Probe: cutover-test\r\n") != NULL, "%s",
                  r.request);
    ck_assert_msg(strstr(r.request, "Host: open.cutover.test:") != NULL, "%s",
                  r.request);
    tu_outcome_free(&o);
    free(cfg);
    free(url);
    responder_stop(&r);
}
END_TEST

static void egress_run(const char *body, const char *cidrs,
                       struct tu_outcome *o)
{
    struct responder r;
    char *resp, *cfg;

    resp = co_asprintf("HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                       strlen(body), body);
    responder_start(&r, resp);
    cfg = co_asprintf("version: 1\n"
                      "egress: {url: \"http://127.0.0.1:%d/ip\", "
                      "expect_cidrs: [%s]}\n",
                      r.port, cidrs);
    tu_check_run(cfg, TU_WORDS("--phase", "post"), no_proxy_env, 60, o);
    free(cfg);
    responder_stop(&r);
    free(resp);
}

/* The echo service's answer is only a string here: nothing connects to
 * the addresses it names. */
START_TEST(test_egress)
{
    struct tu_outcome o;

    egress_run("10.20.30.40\n", "\"192.168.0.0/16\", \"10.20.30.0/24\"", &o);
    tu_expect(&o, "net.egress", "egress", "egress IP", "pass",
              TU_WORDS("10.20.30.40", "within 10.20.30.0/24"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);

    egress_run("{\"ip\": \"10.20.31.1\"}", "\"10.20.30.0/24\"", &o);
    tu_expect(&o, "net.egress", "egress", "egress IP", "fail",
              TU_WORDS("10.20.31.1", "not in", "10.20.30.0/24"));
    tu_outcome_free(&o);

    egress_run("fd00::5", "\"fd00::/64\"", &o);
    tu_expect(&o, "net.egress", "egress", "egress IP", "pass",
              TU_WORDS("fd00::5", "within fd00::/64"));
    tu_outcome_free(&o);

    egress_run("ok", "\"10.0.0.0/8\"", &o);
    tu_expect(&o, "net.egress", "egress", "egress IP", "error",
              TU_WORDS("not an IP address", "\"ok\""));
    ck_assert_msg(o.status == 2, "%s", o.text);
    tu_outcome_free(&o);
}
END_TEST

static Suite *http_probe_suite(void)
{
    Suite *s = suite_create("http_probe");
    TCase *tc = tcase_create("binary");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_statuses_and_latency);
    tcase_add_test(tc, test_silent_times_out);
    tcase_add_test(tc, test_method_and_headers_sent);
    tcase_add_test(tc, test_egress);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = http_probe_suite,
         .testbed = TU_VARS("CUTOVER_TB_DNS", "CUTOVER_TB_CA",
                            "CUTOVER_TB_HTTP", "CUTOVER_TB_HTTPS_GOOD",
                            "CUTOVER_TB_SILENT", "CUTOVER_TB_CLOSED_PORT"));
