/*
 * label: net
 * test_dns.c - `dns.ttl` and `dns.resolve` end to end: the built binary
 * runs on a temporary config against the test bed's two dnsmasq servers
 * (CUTOVER_TB_DNS, and CUTOVER_TB_DNS_STALE where app.cutover.test still
 * points at Heroku), and the JSON report is read back with jansson.
 *
 * Two more resolvers live in this process on 127.0.0.1: a UDP socket
 * that never answers (timeout) and a thread that answers every query
 * with SERVFAIL.
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

/* ---- local resolvers -------------------------------------------------- */

static int udp_socket(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

struct servfail {
    int fd, port;
    atomic_int stop;
    pthread_t th;
};

/* Echoes each query back as a SERVFAIL response with no records. */
static void *servfail_main(void *arg)
{
    struct servfail *s = arg;
    unsigned char buf[512];

    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n;

        if (poll(&p, 1, 50) <= 0)
            continue;
        n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
                     &fl);
        if (n < 12)
            continue;
        buf[2] |= 0x80;                     /* QR */
        buf[3] = (unsigned char)(0x80 | 2); /* RA, SERVFAIL */
        memset(buf + 6, 0, 6);              /* no records */
        sendto(s->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static void servfail_start(struct servfail *s)
{
    s->fd = udp_socket(&s->port);
    atomic_store(&s->stop, 0);
    ck_assert_int_eq(pthread_create(&s->th, NULL, servfail_main, s), 0);
}

static void servfail_stop(struct servfail *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_ttl_chain)
{
    const char *dns = tu_tb("CUTOVER_TB_DNS");
    struct tu_outcome o;
    char *cfg, name[128];

    cfg = co_asprintf("version: 1\n"
                      "settings: {resolvers: [\"%s\"]}\n"
                      "domains:\n"
                      "  legacy.cutover.test: {ttl_max: 300}\n"
                      "  app.cutover.test: {ttl_max: 300}\n"
                      "  slow-ttl.cutover.test: {ttl_max: 3600}\n"
                      "  open.cutover.test: {ttl_max: 60}\n",
                      dns);
    tu_check_run(cfg, TU_WORDS("--phase", "pre"), NULL, 60, &o);
    /* The 300 s A record is fine; the CNAME ahead of it is not. */
    snprintf(name, sizeof(name), "legacy.cutover.test @ %s", dns);
    tu_expect(&o, "dns.ttl", "legacy.cutover.test", name, "fail",
              TU_WORDS("CNAME legacy.cutover.test -> "
                       "app-1234.herokudns.cutover.test TTL 86400 s",
                       "over ttl_max 300 s", dns));
    snprintf(name, sizeof(name), "app.cutover.test @ %s", dns);
    tu_expect(
        &o, "dns.ttl", "app.cutover.test", name, "pass",
        TU_WORDS("CNAME app.cutover.test", "TTL 300 s", "127.0.0.1 TTL 60 s"));
    snprintf(name, sizeof(name), "slow-ttl.cutover.test @ %s", dns);
    tu_expect(&o, "dns.ttl", "slow-ttl.cutover.test", name, "fail",
              TU_WORDS("A slow-ttl.cutover.test 127.0.0.1 TTL 86400 s",
                       "ttl_max 3600 s"));
    snprintf(name, sizeof(name), "open.cutover.test @ %s", dns);
    tu_expect(&o, "dns.ttl", "open.cutover.test", name, "pass",
              TU_WORDS("within ttl_max 60 s"));
    ck_assert_msg(tu_cases(&o, "dns.resolve", "app.cutover.test") == NULL ||
                      json_array_size(tu_cases(&o, "dns.resolve",
                                               "app.cutover.test")) == 0,
                  "dns.resolve ran in pre: %s", o.text);
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

START_TEST(test_resolve_stale_and_acme)
{
    const char *dns = tu_tb("CUTOVER_TB_DNS");
    const char *stale = tu_tb("CUTOVER_TB_DNS_STALE");
    struct tu_outcome o;
    char *cfg, name[128], acme[128], stalew[128];

    cfg = co_asprintf(
        "version: 1\n"
        "settings: {resolvers: [\"%s\", \"%s\"]}\n"
        "domains:\n"
        "  app.cutover.test:\n"
        "    expect_cname: elb-demo-1234.aptible.cutover.test\n"
        "    expect_acme_cname: true\n"
        "  open.cutover.test: {expect_addresses: [\"127.0.0.1\"]}\n"
        "  v6.cutover.test: {expect_addresses: [\"::2\"], resolvers: "
        "[\"%s\"]}\n",
        dns, stale, dns);
    tu_check_run(cfg, TU_WORDS("--phase", "post"), NULL, 60, &o);
    snprintf(name, sizeof(name), "app.cutover.test @ %s", dns);
    tu_expect(
        &o, "dns.resolve", "app.cutover.test", name, "pass",
        TU_WORDS("-> CNAME elb-demo-1234.aptible.cutover.test -> 127.0.0.1"));
    snprintf(name, sizeof(name), "app.cutover.test @ %s", stale);
    tu_expect(&o, "dns.resolve", "app.cutover.test", name, "fail",
              TU_WORDS("does not reach the expected CNAME "
                       "elb-demo-1234.aptible.cutover.test",
                       "app-1234.herokudns.cutover.test"));
    snprintf(stalew, sizeof(stalew), "stale: %s", stale);
    tu_expect(&o, "dns.resolve", "app.cutover.test", "resolvers agree", "fail",
              TU_WORDS("answers differ between resolvers", stalew));
    snprintf(acme, sizeof(acme), "_acme-challenge.app.cutover.test @ %s", dns);
    tu_expect(&o, "dns.resolve", "app.cutover.test", acme, "pass",
              TU_WORDS("CNAME to acme.elb-demo-1234.aptible.cutover.test"));
    snprintf(name, sizeof(name), "open.cutover.test @ %s", stale);
    tu_expect(&o, "dns.resolve", "open.cutover.test", name, "pass",
              TU_WORDS("open.cutover.test -> 127.0.0.1"));
    tu_expect(&o, "dns.resolve", "open.cutover.test", "resolvers agree",
              "pass", TU_WORDS("2 resolvers agree"));
    snprintf(name, sizeof(name), "v6.cutover.test @ %s", dns);
    tu_expect(&o, "dns.resolve", "v6.cutover.test", name, "fail",
              TU_WORDS("answers ::1, not an expected address"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* NXDOMAIN and SERVFAIL are the domain's problem (fail, each named);
 * a resolver that never answers is error ("timed out"), within the
 * lookup timeout. */
START_TEST(test_failures_told_apart)
{
    const char *dns = tu_tb("CUTOVER_TB_DNS");
    struct servfail sf;
    struct tu_outcome o;
    int silent_port, silent = udp_socket(&silent_port);
    char *cfg, name[128];

    servfail_start(&sf);
    cfg = co_asprintf("version: 1\n"
                      "settings: {resolvers: [\"%s\"]}\n"
                      "domains:\n"
                      "  nosuch.cutover.test: {}\n"
                      "  open.cutover.test:\n"
                      "    resolvers: [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\n"
                      "checks:\n"
                      "  dns.resolve: {timeout: 1s}\n",
                      dns, sf.port, silent_port);
    tu_check_run(cfg, TU_WORDS("--phase", "post"), NULL, 60, &o);
    snprintf(name, sizeof(name), "nosuch.cutover.test @ %s", dns);
    tu_expect(&o, "dns.resolve", "nosuch.cutover.test", name, "fail",
              TU_WORDS("NXDOMAIN", "nosuch.cutover.test"));
    snprintf(name, sizeof(name), "open.cutover.test @ 127.0.0.1:%d", sf.port);
    tu_expect(&o, "dns.resolve", "open.cutover.test", name, "fail",
              TU_WORDS("SERVFAIL"));
    snprintf(name, sizeof(name), "open.cutover.test @ 127.0.0.1:%d",
             silent_port);
    tu_expect(&o, "dns.resolve", "open.cutover.test", name, "error",
              TU_WORDS("timed out"));
    ck_assert_msg(o.took_ms < 5000, "took %lld ms: %s", (long long)o.took_ms,
                  o.text);
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
    servfail_stop(&sf);
    close(silent);
}
END_TEST

/* authoritative: true asks for the zone's NS; the test bed's dnsmasq
 * serves none, so the check says it could only look at the recursive
 * answers (warn) and still checks them. */
START_TEST(test_authoritative_without_ns)
{
    const char *dns = tu_tb("CUTOVER_TB_DNS");
    struct tu_outcome o;
    char *cfg, name[128];

    cfg = co_asprintf("version: 1\n"
                      "domains:\n"
                      "  open.cutover.test:\n"
                      "    ttl_max: 300\n"
                      "    authoritative: true\n"
                      "    resolvers: [\"%s\"]\n",
                      dns);
    tu_check_run(cfg, TU_WORDS("--phase", "pre"), NULL, 60, &o);
    tu_expect(&o, "dns.ttl", "open.cutover.test", "authoritative", "warn",
              TU_WORDS("no NS records found for open.cutover.test"));
    snprintf(name, sizeof(name), "open.cutover.test @ %s", dns);
    tu_expect(&o, "dns.ttl", "open.cutover.test", name, "pass",
              TU_WORDS("TTL 60 s"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* 40 names x 2 resolvers: every lookup answered, each on its own case,
 * quickly (the lookups of a run go out in one batch). */
START_TEST(test_many_names)
{
    const char *dns = tu_tb("CUTOVER_TB_DNS");
    const char *stale = tu_tb("CUTOVER_TB_DNS_STALE");
    struct co_buf b;
    struct tu_outcome o;
    char name[128];

    co_buf_init(&b);
    co_buf_addf(&b,
                "version: 1\nsettings: {jobs: 4, resolvers: [\"%s\", "
                "\"%s\"]}\ndomains:\n",
                dns, stale);
    for (int i = 0; i < 40; i++)
        co_buf_addf(&b, "  n%d.cutover.test: {}\n", i);
    tu_check_run(b.s, TU_WORDS("--phase", "post"), NULL, 60, &o);
    snprintf(name, sizeof(name), "n39.cutover.test @ %s", stale);
    tu_expect(&o, "dns.resolve", "n39.cutover.test", name, "fail",
              TU_WORDS("NXDOMAIN"));
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(o.report, "summary"), "failed")),
                     80);
    ck_assert_msg(o.took_ms < 3000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
    co_buf_free(&b);
}
END_TEST

/* How often dnsmasq at CUTOVER_TB_DNS logged "query[TYPE] name " (its
 * log, under CUTOVER_TB_DIR, is written as queries arrive: polled for a
 * second until at least `want` show up); -1 when there is no log. */
static int logged_queries(const char *type, const char *name, int want)
{
    const char *dir = tu_tb("CUTOVER_TB_DIR");
    char *path, *needle;
    int n = -1;

    if (dir == NULL)
        return -1;
    path = co_asprintf("%s/logs/dns.log", dir);
    needle = co_asprintf("query[%s] %s from", type, name);
    for (int tries = 0; tries < 20; tries++) {
        char *log = tu_read_file(path, NULL);
        if (log == NULL)
            break;
        n = 0;
        for (const char *p = strstr(log, needle); p != NULL;
             p = strstr(p + 1, needle))
            n++;
        free(log);
        if (n >= want)
            break;
        usleep(50 * 1000);
    }
    free(needle);
    free(path);
    return n;
}

/* Every lookup of a run in one shared batch (issue 5): 30 domains, both
 * checks (--phase all), one domain on a resolver that never answers.
 * Each domain still gets its own answers on its own cases (22 of them
 * NXDOMAIN, named), the silent one is "timed out" on both checks with
 * nobody else held past the deadline, and each question went out once
 * although two checks needed it. */
START_TEST(test_run_batch)
{
    const char *dns = tu_tb("CUTOVER_TB_DNS");
    const char *stale = tu_tb("CUTOVER_TB_DNS_STALE");
    int silent_port, silent = udp_socket(&silent_port);
    long tag = (long)getpid();
    struct tu_outcome o;
    struct co_buf b;
    char name[160], nx[96], words[160];

    co_buf_init(&b);
    co_buf_addf(&b,
                "version: 1\n"
                "settings: {jobs: 4, timeout: 2s, resolvers: [\"%s\"]}\n"
                "domains:\n"
                "  app.cutover.test:\n"
                "    expect_cname: elb-demo-1234.aptible.cutover.test\n"
                "    expect_acme_cname: true\n"
                "    resolvers: [\"%s\", \"%s\"]\n"
                "  open.cutover.test: {expect_addresses: [\"127.0.0.1\"]}\n"
                "  legacy.cutover.test: {}\n"
                "  slow-ttl.cutover.test: {ttl_max: 3600}\n"
                "  v6.cutover.test: {}\n"
                "  app-1234.herokudns.cutover.test: {}\n"
                "  elb-demo-1234.aptible.cutover.test: {}\n"
                "  silent.cutover.test: {resolvers: [\"127.0.0.1:%d\"]}\n",
                dns, dns, stale, silent_port);
    for (int i = 0; i < 22; i++)
        co_buf_addf(&b, "  g%ld-nx%d.cutover.test: {}\n", tag, i);
    tu_check_run(b.s, TU_WORDS("--phase", "all"), NULL, 30, &o);

    /* Within the deadline (2 s) and its grace, never sealed. */
    ck_assert_msg(o.took_ms < 4500, "took %lld ms", (long long)o.took_ms);
    ck_assert_msg(!tu_mentions(&o, "did not finish"),
                  "a task gave up on the batch");
    snprintf(name, sizeof(name), "silent.cutover.test @ 127.0.0.1:%d",
             silent_port);
    tu_expect(&o, "dns.resolve", "silent.cutover.test", name, "error",
              TU_WORDS("timed out", "silent.cutover.test"));
    tu_expect(&o, "dns.ttl", "silent.cutover.test", name, "error",
              TU_WORDS("timed out", "silent.cutover.test"));

    for (int i = 0; i < 22; i++) {
        snprintf(nx, sizeof(nx), "g%ld-nx%d.cutover.test", tag, i);
        snprintf(name, sizeof(name), "%s @ %s", nx, dns);
        snprintf(words, sizeof(words), "no such name: %s (NXDOMAIN)", nx);
        tu_expect(&o, "dns.resolve", nx, name, "fail", TU_WORDS(words));
        tu_expect(&o, "dns.ttl", nx, name, "fail", TU_WORDS(words));
        ck_assert_int_eq(tu_ncases(&o, "dns.resolve", nx), 1);
    }

    snprintf(name, sizeof(name), "app.cutover.test @ %s", dns);
    tu_expect(&o, "dns.resolve", "app.cutover.test", name, "pass",
              TU_WORDS("app.cutover.test -> CNAME "
                       "elb-demo-1234.aptible.cutover.test -> 127.0.0.1"));
    snprintf(name, sizeof(name), "app.cutover.test @ %s", stale);
    tu_expect(&o, "dns.resolve", "app.cutover.test", name, "fail",
              TU_WORDS("app-1234.herokudns.cutover.test"));
    snprintf(words, sizeof(words), "stale: %s", stale);
    tu_expect(&o, "dns.resolve", "app.cutover.test", "resolvers agree", "fail",
              TU_WORDS(words));
    snprintf(name, sizeof(name), "_acme-challenge.app.cutover.test @ %s",
             stale);
    tu_expect(&o, "dns.resolve", "app.cutover.test", name, "pass",
              TU_WORDS("CNAME to acme.elb-demo-1234.aptible.cutover.test"));
    snprintf(name, sizeof(name), "app.cutover.test @ %s", stale);
    tu_expect(&o, "dns.ttl", "app.cutover.test", name, "pass",
              TU_WORDS("CNAME app.cutover.test -> "
                       "app-1234.herokudns.cutover.test TTL 300 s"));

    snprintf(name, sizeof(name), "open.cutover.test @ %s", dns);
    tu_expect(&o, "dns.resolve", "open.cutover.test", name, "pass",
              TU_WORDS("open.cutover.test -> 127.0.0.1"));
    tu_expect(&o, "dns.ttl", "open.cutover.test", name, "pass",
              TU_WORDS("A open.cutover.test 127.0.0.1 TTL 60 s"));
    snprintf(name, sizeof(name), "legacy.cutover.test @ %s", dns);
    tu_expect(&o, "dns.resolve", "legacy.cutover.test", name, "pass",
              TU_WORDS("legacy.cutover.test -> CNAME "
                       "app-1234.herokudns.cutover.test -> 127.0.0.1"));
    tu_expect(&o, "dns.ttl", "legacy.cutover.test", name, "fail",
              TU_WORDS("TTL 86400 s", "over ttl_max 300 s (default)"));
    snprintf(name, sizeof(name), "slow-ttl.cutover.test @ %s", dns);
    tu_expect(&o, "dns.ttl", "slow-ttl.cutover.test", name, "fail",
              TU_WORDS("A slow-ttl.cutover.test 127.0.0.1 TTL 86400 s",
                       "ttl_max 3600 s"));
    snprintf(name, sizeof(name), "v6.cutover.test @ %s", dns);
    tu_expect(&o, "dns.resolve", "v6.cutover.test", name, "pass",
              TU_WORDS("v6.cutover.test -> ::1"));
    snprintf(name, sizeof(name), "app-1234.herokudns.cutover.test @ %s", dns);
    tu_expect(&o, "dns.ttl", "app-1234.herokudns.cutover.test", name, "pass",
              TU_WORDS("A app-1234.herokudns.cutover.test 127.0.0.1 TTL 300"));
    snprintf(name, sizeof(name), "elb-demo-1234.aptible.cutover.test @ %s",
             dns);
    tu_expect(&o, "dns.resolve", "elb-demo-1234.aptible.cutover.test", name,
              "pass",
              TU_WORDS("elb-demo-1234.aptible.cutover.test -> "
                       "127.0.0.1"));

    /* dns.ttl and dns.resolve both needed these: asked once each. */
    snprintf(nx, sizeof(nx), "g%ld-nx7.cutover.test", tag);
    if (logged_queries("A", nx, 1) < 0) {
        fprintf(stderr, "test_run_batch: no dnsmasq log under "
                        "CUTOVER_TB_DIR, query count not checked\n");
    } else {
        ck_assert_int_eq(logged_queries("A", nx, 1), 1);
        ck_assert_int_eq(logged_queries("AAAA", nx, 1), 1);
    }
    ck_assert_int_eq(o.status, 1); /* NXDOMAIN etc. fail */
    tu_outcome_free(&o);
    co_buf_free(&b);
    close(silent);
}
END_TEST

static Suite *dns_suite(void)
{
    Suite *s = suite_create("dns");
    TCase *tc = tcase_create("binary");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ttl_chain);
    tcase_add_test(tc, test_resolve_stale_and_acme);
    tcase_add_test(tc, test_failures_told_apart);
    tcase_add_test(tc, test_authoritative_without_ns);
    tcase_add_test(tc, test_many_names);
    tcase_add_test(tc, test_run_batch);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = dns_suite,
         .testbed = TU_VARS("CUTOVER_TB_DNS", "CUTOVER_TB_DNS_STALE"));
