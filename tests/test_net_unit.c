/*
 * test_net_unit.c - core/net.c without the test bed: host:port parsing,
 * literal addresses, and resolve/connect/wait against sockets this test
 * opens itself on 127.0.0.1 (a DNS server that never answers, a
 * listener, a bound port that refuses, a listener whose accept queue is
 * full so SYNs go unanswered).
 *
 * The full-queue trick: listen(fd, 0) lets one connection complete into
 * the accept queue; nobody accepts, so the kernel drops later SYNs and a
 * connect to it hangs until its deadline, like a firewall that drops.
 * Checked on Linux and on gVisor.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutover/net.h"
#include "testutil.h"
#include "tu_suite.h"

/* ---- helpers ---------------------------------------------------------- */

/* A socket of `type` bound to 127.0.0.1 on an ephemeral port. */
static int bound_socket(int type, int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct co_addr loopback(int port)
{
    struct co_addr a;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a.sa;

    memset(&a, 0, sizeof(a));
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s4->sin_port = htons((uint16_t)port);
    a.len = sizeof(*s4);
    return a;
}

/* A listener whose accept queue is full: connects to it hang. The
 * fillers stay open in fill[0..2] until the caller closes them. */
static int full_listener(int *port, int fill[3])
{
    int l = bound_socket(SOCK_STREAM, port);
    struct co_addr a = loopback(*port);

    ck_assert_int_eq(listen(l, 0), 0);
    for (int i = 0; i < 3; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(fill[i], 0);
        if (connect(fill[i], (struct sockaddr *)&a.sa, a.len) < 0)
            ck_assert_int_eq(errno, EINPROGRESS);
    }
    /* Let the first handshake land in the queue before anyone measures
     * the next one. */
    usleep(50 * 1000);
    return l;
}

static void close_all(int l, int fill[3])
{
    for (int i = 0; i < 3; i++)
        close(fill[i]);
    close(l);
}

struct canceller {
    atomic_int *flag;
    int after_ms;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    struct timespec ts = {c->after_ms / 1000,
                          (long)(c->after_ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
    atomic_store(c->flag, 1);
    return NULL;
}

/* ---- co_hostport_split ------------------------------------------------ */

static void split_ok(const char *s, int defport, const char *host, int port)
{
    char *h = NULL;
    int p = -1;

    ck_assert_msg(co_hostport_split(s, defport, &h, &p) == 0,
                  "split(\"%s\") failed", s);
    ck_assert_str_eq(h, host);
    ck_assert_int_eq(p, port);
    free(h);
}

static void split_bad(const char *s)
{
    char *h = NULL;
    int p = -1;

    ck_assert_msg(co_hostport_split(s, 443, &h, &p) == -1,
                  "split(\"%s\") accepted", s);
    ck_assert_ptr_null(h);
}

START_TEST(test_split_valid)
{
    split_ok("api.stripe.com:443", 0, "api.stripe.com", 443);
    split_ok("api.stripe.com", 443, "api.stripe.com", 443);
    split_ok("host", 0, "host", 0);
    split_ok("127.0.0.1:45480", 80, "127.0.0.1", 45480);
    split_ok("[::1]:53", 0, "::1", 53);
    split_ok("[::1]", 53, "::1", 53);
    split_ok("[2001:db8::1]:65535", 0, "2001:db8::1", 65535);
    split_ok("::1", 53, "::1", 53);
    split_ok("fe80::1", 22, "fe80::1", 22);
    split_ok("h:1", 0, "h", 1);
}
END_TEST

START_TEST(test_split_invalid)
{
    split_bad(NULL);
    split_bad("");
    split_bad(":443");
    split_bad("host:");
    split_bad("host:0");
    split_bad("host:65536");
    split_bad("host:99999999999");
    split_bad("host:-1");
    split_bad("host:+443");
    split_bad("host:44a");
    split_bad("host: 443");
    split_bad("ho st:443");
    split_bad("[::1");
    split_bad("[::1]443");
    split_bad("[::1]:");
    split_bad("[]:443");
    split_bad("[host]:443");
    split_bad("https://host:443");
    split_bad("user@host:22");
}
END_TEST

/* ---- names and formatting --------------------------------------------- */

START_TEST(test_err_names)
{
    ck_assert_str_eq(co_net_err_name(CO_NET_NOTFOUND), "name not found");
    ck_assert_str_eq(co_net_err_name(CO_NET_TIMEOUT), "timed out");
    ck_assert_str_eq(co_net_err_name(CO_NET_REFUSED), "connection refused");
    ck_assert_str_eq(co_net_err_name((enum co_net_err)99), "error");
}
END_TEST

/* ---- literal addresses ------------------------------------------------ */

START_TEST(test_resolve_literals)
{
    struct co_addrs a;
    char err[CO_ERRLEN], buf[64];
    /* An unreachable resolver: literals must never be sent to it. */
    struct co_strlist servers = {0};
    int64_t t0 = co_now_ms();

    co_strlist_add(&servers, "127.0.0.1:1");
    ck_assert_int_eq(co_resolve("127.0.0.1", 443, &servers, t0 + 1000, NULL,
                                &a, err, sizeof(err)),
                     CO_NET_OK);
    ck_assert_uint_eq(a.n, 1);
    co_addr_format(&a.v[0], buf, sizeof(buf));
    ck_assert_str_eq(buf, "127.0.0.1:443");
    co_addrs_free(&a);
    ck_assert_ptr_null(a.v);

    ck_assert_int_eq(
        co_resolve("::1", 53, &servers, t0 + 1000, NULL, &a, err, sizeof(err)),
        CO_NET_OK);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_int_eq(a.v[0].sa.ss_family, AF_INET6);
    co_addr_format(&a.v[0], buf, sizeof(buf));
    ck_assert_str_eq(buf, "[::1]:53");
    co_addrs_free(&a);

    ck_assert_int_eq(
        co_resolve("[::1]", 8080, NULL, t0 + 1000, NULL, &a, err, sizeof(err)),
        CO_NET_OK);
    co_addr_format(&a.v[0], buf, sizeof(buf));
    ck_assert_str_eq(buf, "[::1]:8080");
    co_addrs_free(&a);
    /* Instant: no network involved. */
    ck_assert_int_lt(co_now_ms() - t0, 100);

    ck_assert_int_eq(
        co_resolve("", 1, NULL, t0 + 1000, NULL, &a, err, sizeof(err)),
        CO_NET_ERROR);
    co_strlist_free(&servers);
}
END_TEST

/* localhost names are loopback without asking any resolver (RFC 6761):
 * the configured server here is dead, so a query would time out. */
START_TEST(test_resolve_localhost)
{
    static const char *const names[] = {"localhost", "LocalHost.",
                                        "app.localhost"};
    struct co_strlist servers = {0};
    struct co_addrs a;
    char err[CO_ERRLEN], buf[64];
    int64_t t0 = co_now_ms();

    co_strlist_add(&servers, "127.0.0.1:1");
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(co_resolve(names[i], 443, &servers, t0 + 1000, NULL,
                                    &a, err, sizeof(err)),
                         CO_NET_OK);
        ck_assert_uint_eq(a.n, 2);
        co_addr_format(&a.v[0], buf, sizeof(buf));
        ck_assert_str_eq(buf, "127.0.0.1:443");
        co_addr_format(&a.v[1], buf, sizeof(buf));
        ck_assert_str_eq(buf, "[::1]:443");
        co_addrs_free(&a);
    }
    ck_assert_int_lt(co_now_ms() - t0, 100);
    /* not a localhost name: goes to the dead resolver and fails */
    ck_assert_int_ne(co_resolve("notlocalhost", 443, &servers, t0 + 300, NULL,
                                &a, err, sizeof(err)),
                     CO_NET_OK);
    co_strlist_free(&servers);
}
END_TEST

START_TEST(test_resolve_bad_server_list)
{
    struct co_addrs a;
    char err[CO_ERRLEN];
    struct co_strlist servers = {0};

    co_strlist_add(&servers, "not an address");
    ck_assert_int_eq(co_resolve("open.cutover.test", 443, &servers,
                                co_now_ms() + 1000, NULL, &a, err,
                                sizeof(err)),
                     CO_NET_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "not an address"));
    ck_assert_uint_eq(a.n, 0);
    co_strlist_free(&servers);
}
END_TEST

/* ---- a DNS server that never answers ---------------------------------- */

START_TEST(test_resolve_silent_server_times_out)
{
    int port, udp = bound_socket(SOCK_DGRAM, &port);
    struct co_strlist servers = {0};
    struct co_addrs a;
    char err[CO_ERRLEN], srv[64];
    int64_t t0 = co_now_ms(), took;
    enum co_net_err rc;

    snprintf(srv, sizeof(srv), "127.0.0.1:%d", port);
    co_strlist_add(&servers, srv);
    rc = co_resolve("open.cutover.test", 443, &servers, t0 + 500, NULL, &a,
                    err, sizeof(err));
    took = co_now_ms() - t0;
    ck_assert_msg(rc == CO_NET_TIMEOUT, "rc %d: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(err, "timed out"));
    ck_assert_ptr_nonnull(strstr(err, "open.cutover.test"));
    ck_assert_int_ge(took, 250);
    ck_assert_int_le(took, 500 + 300);
    ck_assert_uint_eq(a.n, 0);

    /* Questions did reach it: the timeout is the server's silence. */
    struct pollfd p = {.fd = udp, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    co_strlist_free(&servers);
    close(udp);
}
END_TEST

START_TEST(test_resolve_cancel)
{
    int port, udp = bound_socket(SOCK_DGRAM, &port);
    struct co_strlist servers = {0};
    struct co_addrs a;
    char err[CO_ERRLEN], srv[64];
    atomic_int flag = 0;
    struct canceller c = {&flag, 200};
    pthread_t t;
    int64_t t0 = co_now_ms(), took;

    snprintf(srv, sizeof(srv), "127.0.0.1:%d", port);
    co_strlist_add(&servers, srv);
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
    ck_assert_int_eq(co_resolve("open.cutover.test", 443, &servers, t0 + 10000,
                                &flag, &a, err, sizeof(err)),
                     CO_NET_CANCELLED);
    took = co_now_ms() - t0;
    pthread_join(t, NULL);
    ck_assert_int_ge(took, 150);
    ck_assert_int_le(took, 800);
    co_strlist_free(&servers);
    close(udp);
}
END_TEST

/* ---- connect ---------------------------------------------------------- */

START_TEST(test_connect_ok)
{
    int port, l = bound_socket(SOCK_STREAM, &port), fd = -1, soerr = 0;
    struct co_addr a = loopback(port);
    char err[CO_ERRLEN];
    socklen_t sl = sizeof(soerr);

    ck_assert_int_eq(listen(l, 8), 0);
    ck_assert_int_eq(
        co_tcp_connect(&a, co_now_ms() + 2000, NULL, &fd, err, sizeof(err)),
        CO_NET_OK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl), 0);
    ck_assert_int_eq(soerr, 0);
    close(fd);
    close(l);
}
END_TEST

START_TEST(test_connect_refused)
{
    /* Bound but not listening: the port stays ours and refuses. */
    int port, s = bound_socket(SOCK_STREAM, &port), fd = 7;
    struct co_addr a = loopback(port);
    char err[CO_ERRLEN], want[64];

    ck_assert_int_eq(
        co_tcp_connect(&a, co_now_ms() + 2000, NULL, &fd, err, sizeof(err)),
        CO_NET_REFUSED);
    ck_assert_int_eq(fd, -1);
    snprintf(want, sizeof(want), "127.0.0.1:%d: connection refused", port);
    ck_assert_str_eq(err, want);
    close(s);
}
END_TEST

START_TEST(test_connect_timeout)
{
    int port, fill[3], l = full_listener(&port, fill), fd = 7;
    struct co_addr a = loopback(port);
    char err[CO_ERRLEN];
    int64_t t0 = co_now_ms(), took;
    enum co_net_err rc;

    rc = co_tcp_connect(&a, t0 + 300, NULL, &fd, err, sizeof(err));
    took = co_now_ms() - t0;
    ck_assert_msg(rc == CO_NET_TIMEOUT, "rc %d: %s", rc, err);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_ge(took, 250);
    ck_assert_int_le(took, 1500);
    ck_assert_ptr_nonnull(strstr(err, "timed out after"));
    ck_assert_ptr_nonnull(strstr(err, "127.0.0.1:"));
    close_all(l, fill);
}
END_TEST

START_TEST(test_connect_cancel)
{
    int port, fill[3], l = full_listener(&port, fill), fd = 7;
    struct co_addr a = loopback(port);
    char err[CO_ERRLEN];
    atomic_int flag = 0;
    struct canceller c = {&flag, 200};
    pthread_t t;
    int64_t t0 = co_now_ms(), took;

    ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
    ck_assert_int_eq(
        co_tcp_connect(&a, t0 + 10000, &flag, &fd, err, sizeof(err)),
        CO_NET_CANCELLED);
    took = co_now_ms() - t0;
    pthread_join(t, NULL);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_ge(took, 150);
    ck_assert_int_le(took, 800);
    close_all(l, fill);
}
END_TEST

START_TEST(test_dial_literal)
{
    int port, l = bound_socket(SOCK_STREAM, &port), fd = -1;
    char err[CO_ERRLEN];

    ck_assert_int_eq(listen(l, 8), 0);
    ck_assert_int_eq(co_tcp_dial("127.0.0.1", port, NULL, co_now_ms() + 2000,
                                 NULL, &fd, err, sizeof(err)),
                     CO_NET_OK);
    ck_assert_int_ge(fd, 0);
    close(fd);
    close(l);
}
END_TEST

/* ---- co_wait_fd ------------------------------------------------------- */

START_TEST(test_wait_fd)
{
    int sv[2];
    int64_t t0;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    t0 = co_now_ms();
    ck_assert_int_eq(co_wait_fd(sv[0], POLLIN, t0 + 250, NULL), 0);
    ck_assert_int_ge(co_now_ms() - t0, 240);
    ck_assert_int_eq(co_wait_fd(sv[0], POLLOUT, t0 + 250, NULL), 1);
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    /* Ready wins over a deadline already passed. */
    ck_assert_int_eq(co_wait_fd(sv[0], POLLIN, t0 - 1, NULL), 1);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_wait_fd_cancel)
{
    int sv[2];
    atomic_int flag = 0;
    struct canceller c = {&flag, 200};
    pthread_t t;
    int64_t t0, took;
    int rc;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, &c), 0);
    t0 = co_now_ms();
    rc = co_wait_fd(sv[0], POLLIN, t0 + 10000, &flag);
    took = co_now_ms() - t0;
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(errno, ECANCELED);
    pthread_join(t, NULL);
    ck_assert_int_ge(took, 150);
    ck_assert_int_le(took, 600);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

static Suite *net_unit_suite(void)
{
    Suite *s = suite_create("net_unit");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_split_valid);
    tcase_add_test(tc, test_split_invalid);
    tcase_add_test(tc, test_err_names);
    tcase_add_test(tc, test_resolve_literals);
    tcase_add_test(tc, test_resolve_localhost);
    tcase_add_test(tc, test_resolve_bad_server_list);
    tcase_add_test(tc, test_resolve_silent_server_times_out);
    tcase_add_test(tc, test_resolve_cancel);
    tcase_add_test(tc, test_connect_ok);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_connect_timeout);
    tcase_add_test(tc, test_connect_cancel);
    tcase_add_test(tc, test_dial_literal);
    tcase_add_test(tc, test_wait_fd);
    tcase_add_test(tc, test_wait_fd_cancel);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = net_unit_suite);
