/*
 * label: net
 * test_net.c - core/net.c resolving through the test bed's dnsmasq
 * (CUTOVER_TB_DNS, zone cutover.test) and dialling names it returns.
 *
 * The server-less parts (host:port parsing, literals, a silent DNS
 * server, refused and timed-out connects, cancel) are in
 * test_net_unit.c, which runs without the test bed.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutover/net.h"
#include "testutil.h"
#include "tu_suite.h"

static struct co_strlist tb_servers;

static enum co_net_err resolve(const char *host, int port, struct co_addrs *a,
                               char *err, size_t errlen)
{
    return co_resolve(host, port, &tb_servers, co_now_ms() + 3000, NULL, a,
                      err, errlen);
}

static bool has_addr(const struct co_addrs *a, const char *want)
{
    char buf[64];

    for (size_t i = 0; i < a->n; i++) {
        co_addr_format(&a->v[i], buf, sizeof(buf));
        if (strcmp(buf, want) == 0)
            return true;
    }
    return false;
}

START_TEST(test_resolve_a)
{
    struct co_addrs a;
    char err[CO_ERRLEN];
    enum co_net_err rc =
        resolve("open.cutover.test", 443, &a, err, sizeof(err));

    ck_assert_msg(rc == CO_NET_OK, "rc %d: %s", rc, err);
    ck_assert_uint_eq(a.n, 1);
    ck_assert(has_addr(&a, "127.0.0.1:443"));
    co_addrs_free(&a);
}
END_TEST

START_TEST(test_resolve_aaaa)
{
    struct co_addrs a;
    char err[CO_ERRLEN];
    enum co_net_err rc = resolve("v6.cutover.test", 53, &a, err, sizeof(err));

    ck_assert_msg(rc == CO_NET_OK, "rc %d: %s", rc, err);
    ck_assert(has_addr(&a, "[::1]:53"));
    co_addrs_free(&a);
}
END_TEST

START_TEST(test_resolve_cname_chain)
{
    struct co_addrs a;
    char err[CO_ERRLEN];
    enum co_net_err rc =
        resolve("app.cutover.test", 8443, &a, err, sizeof(err));

    ck_assert_msg(rc == CO_NET_OK, "rc %d: %s", rc, err);
    ck_assert(has_addr(&a, "127.0.0.1:8443"));
    co_addrs_free(&a);
}
END_TEST

START_TEST(test_resolve_nxdomain)
{
    struct co_addrs a;
    char err[CO_ERRLEN];
    int64_t t0 = co_now_ms();

    ck_assert_int_eq(resolve("nosuch.cutover.test", 443, &a, err, sizeof(err)),
                     CO_NET_NOTFOUND);
    ck_assert_str_eq(err, "name not found: nosuch.cutover.test");
    ck_assert_uint_eq(a.n, 0);
    ck_assert_ptr_null(a.v);
    /* An authoritative answer, not a timeout in disguise. */
    ck_assert_int_lt(co_now_ms() - t0, 1000);
}
END_TEST

/* With explicit resolvers /etc/hosts must not answer: the machine's own
 * name (listed in /etc/hosts on Debian) is a question for the DNS
 * server, which knows nothing about it. ("localhost" is answered without
 * any lookup: see test_net_unit.) */
START_TEST(test_resolve_skips_hosts_file)
{
    struct co_addrs a;
    char err[CO_ERRLEN], host[256] = "";
    enum co_net_err rc;

    ck_assert_int_eq(gethostname(host, sizeof(host) - 1), 0);
    rc = resolve(host, 443, &a, err, sizeof(err));
    ck_assert_msg(rc != CO_NET_OK, "%s answered from /etc/hosts", host);
    co_addrs_free(&a);
}
END_TEST

START_TEST(test_dial_name)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int l = socket(AF_INET, SOCK_STREAM, 0), fd = -1;
    char err[CO_ERRLEN];
    enum co_net_err rc;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    ck_assert_int_eq(listen(l, 8), 0);
    rc = co_tcp_dial("open.cutover.test", ntohs(sa.sin_port), &tb_servers,
                     co_now_ms() + 3000, NULL, &fd, err, sizeof(err));
    ck_assert_msg(rc == CO_NET_OK, "rc %d: %s", rc, err);
    ck_assert_int_ge(fd, 0);
    close(fd);

    rc = co_tcp_dial("nosuch.cutover.test", 443, &tb_servers,
                     co_now_ms() + 3000, NULL, &fd, err, sizeof(err));
    ck_assert_int_eq(rc, CO_NET_NOTFOUND);
    ck_assert_int_eq(fd, -1);
    close(l);
}
END_TEST

static Suite *net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("dnsmasq");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_resolve_a);
    tcase_add_test(tc, test_resolve_aaaa);
    tcase_add_test(tc, test_resolve_cname_chain);
    tcase_add_test(tc, test_resolve_nxdomain);
    tcase_add_test(tc, test_resolve_skips_hosts_file);
    tcase_add_test(tc, test_dial_name);
    suite_add_tcase(s, tc);
    return s;
}

static int net_setup(void)
{
    co_strlist_add(&tb_servers, tu_tb("CUTOVER_TB_DNS"));
    return 0;
}

static void net_teardown(void)
{
    co_strlist_free(&tb_servers);
}

TU_SUITE(.make = net_suite, .testbed = TU_VARS("CUTOVER_TB_DNS"),
         .setup = net_setup, .teardown = net_teardown);
