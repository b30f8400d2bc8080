/*
 * label: net
 * test_tcp_reach.c - the `tcp.reach` check end to end: the built binary
 * runs `cutover check` on a temporary config and the JSON report is read
 * back with jansson.
 *
 * The test opens its own targets on 127.0.0.1: a listener (open), a bound
 * socket that does not listen (refused), a listener whose accept queue
 * is full so SYNs are dropped (a firewall's silence), and a UDP socket
 * that never answers (a dead DNS server). Names come from the test bed's
 * dnsmasq (CUTOVER_TB_DNS).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

/* ---- local targets ---------------------------------------------------- */

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

struct targets {
    int open_fd, open_port;       /* listening, never accepts */
    int refused_fd, refused_port; /* bound, not listening */
    int syn_fd, syn_port;         /* listening, accept queue full */
    int fill[3];
    int dns_fd, dns_port; /* UDP, never answers */
};

static void targets_open(struct targets *t)
{
    struct sockaddr_in a;

    t->open_fd = bound_socket(SOCK_STREAM, &t->open_port);
    ck_assert_int_eq(listen(t->open_fd, 16), 0);
    t->refused_fd = bound_socket(SOCK_STREAM, &t->refused_port);
    t->syn_fd = bound_socket(SOCK_STREAM, &t->syn_port);
    ck_assert_int_eq(listen(t->syn_fd, 0), 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)t->syn_port);
    for (int i = 0; i < 3; i++) {
        t->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(t->fill[i], (struct sockaddr *)&a, sizeof(a)) < 0)
            ck_assert_int_eq(errno, EINPROGRESS);
    }
    t->dns_fd = bound_socket(SOCK_DGRAM, &t->dns_port);
    usleep(50 * 1000); /* let the first filler land in the queue */
}

static void targets_close(struct targets *t)
{
    close(t->open_fd);
    close(t->refused_fd);
    close(t->syn_fd);
    for (int i = 0; i < 3; i++)
        close(t->fill[i]);
    close(t->dns_fd);
}

/* ---- reading the report ---------------------------------------------- */

/* Asserts the one case of `resource`: its name, status, and that its
 * message contains every word in words (NULL-ended). */
static void expect_case(const struct tu_outcome *o, const char *resource,
                        const char *name, const char *status,
                        const char *const *words)
{
    json_t *cases = tu_need_cases(o, "tcp.reach", resource), *c;

    ck_assert_msg(json_array_size(cases) == 1, "%s: %zu cases: %s", resource,
                  json_array_size(cases), o->text);
    c = tu_expect(o, "tcp.reach", resource, name, status, words);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(c, "message")));
}

static const char *tb_dns(void)
{
    return tu_tb("CUTOVER_TB_DNS");
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_each_outcome_told_apart)
{
    struct targets t;
    struct tu_outcome o;
    char *cfg, open[64], named[64], refused[64], syn[64], w1[160], w2[160];

    targets_open(&t);
    snprintf(open, sizeof(open), "127.0.0.1:%d", t.open_port);
    snprintf(named, sizeof(named), "open.cutover.test:%d", t.open_port);
    snprintf(refused, sizeof(refused), "127.0.0.1:%d", t.refused_port);
    snprintf(syn, sizeof(syn), "127.0.0.1:%d", t.syn_port);
    cfg = co_asprintf("version: 1\n"
                      "settings:\n"
                      "  timeout: 20s\n"
                      "  resolvers: [\"%s\"]\n"
                      "outbound:\n"
                      "  open: \"%s\"\n"
                      "  named: \"%s\"\n"
                      "  refused: \"%s\"\n"
                      "  syn: \"%s\"\n"
                      "  unknown: \"nosuch.cutover.test:443\"\n"
                      "checks:\n"
                      "  tcp.reach: {timeout: 500ms}\n",
                      tb_dns(), open, named, refused, syn);
    tu_check_run(cfg, TU_WORDS("--phase", "post"), NULL, 30, &o);

    snprintf(w1, sizeof(w1), "connected to %s in", open);
    expect_case(&o, "open", open, "pass",
                (const char *const[]){w1, " ms", NULL});
    expect_case(&o, "named", named, "pass",
                (const char *const[]){w1, "resolved in", NULL});
    snprintf(w1, sizeof(w1), "connection refused (%s)", refused);
    expect_case(&o, "refused", refused, "fail",
                (const char *const[]){w1, NULL});
    snprintf(w2, sizeof(w2), "timed out after 500 ms connecting to %s", syn);
    expect_case(&o, "syn", syn, "fail", (const char *const[]){w2, NULL});
    expect_case(
        &o, "unknown", "nosuch.cutover.test:443", "fail",
        (const char *const[]){"name not found: nosuch.cutover.test", NULL});
    ck_assert_msg(o.status == 1, "%s", o.text);
    /* One 500 ms timeout, everything else local: a few seconds at most
     * even with the tasks run one after another. */
    ck_assert_msg(o.took_ms < 5000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
    free(cfg);
    targets_close(&t);
}
END_TEST

START_TEST(test_pass_only_exits_zero)
{
    struct targets t;
    struct tu_outcome o;
    char *cfg, open[64], w[160];

    targets_open(&t);
    snprintf(open, sizeof(open), "127.0.0.1:%d", t.open_port);
    cfg = co_asprintf("version: 1\n"
                      "settings: {resolvers: [\"%s\"]}\n"
                      "outbound:\n"
                      "  open: \"%s\"\n"
                      "  named: \"open.cutover.test:%d\"\n",
                      tb_dns(), open, t.open_port);
    tu_check_run(cfg, TU_WORDS("--phase", "pre"), NULL, 30, &o);
    snprintf(w, sizeof(w), "connected to %s", open);
    expect_case(&o, "open", open, "pass", (const char *const[]){w, NULL});
    ck_assert_msg(o.status == 0, "%s", o.text);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(o.report, "summary"), "passed")),
                     2);
    tu_outcome_free(&o);
    free(cfg);
    targets_close(&t);
}
END_TEST

/* A resolver that never answers means the check could not look: error
 * (exit 2), not a failed path. */
START_TEST(test_dead_resolver_is_error)
{
    struct targets t;
    struct tu_outcome o;
    char *cfg, named[64];

    targets_open(&t);
    snprintf(named, sizeof(named), "open.cutover.test:%d", t.open_port);
    cfg = co_asprintf("version: 1\n"
                      "settings: {resolvers: [\"127.0.0.1:%d\"]}\n"
                      "outbound:\n"
                      "  named: \"%s\"\n"
                      "checks:\n"
                      "  tcp.reach: {timeout: 500ms}\n",
                      t.dns_port, named);
    tu_check_run(cfg, TU_WORDS("--phase", "post"), NULL, 30, &o);
    expect_case(&o, "named", named, "error",
                (const char *const[]){"could not resolve open.cutover.test",
                                      "timed out", NULL});
    ck_assert_msg(o.status == 2, "%s", o.text);
    ck_assert_msg(o.took_ms < 5000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
    free(cfg);
    targets_close(&t);
}
END_TEST

START_TEST(test_not_run_in_drift)
{
    struct targets t;
    struct tu_outcome o;
    char *cfg;

    targets_open(&t);
    cfg = co_asprintf("version: 1\n"
                      "outbound:\n"
                      "  open: \"127.0.0.1:%d\"\n"
                      "  refused: \"127.0.0.1:%d\"\n",
                      t.open_port, t.refused_port);
    /* With nothing else declared, a drift run would check nothing: a
     * usage error that says why, never a green run. */
    tu_check_try(cfg, TU_WORDS("--phase", "drift"), NULL, 30, &o);
    ck_assert_msg(o.status == 64, "exit %d: %s", o.status, o.err);
    ck_assert_msg(strstr(o.err, "no check selected for --phase drift runs "
                                "on what the config declares") != NULL,
                  "%s", o.err);
    tu_outcome_free(&o);
    /* Beside a resource that drift does check, tcp.reach does not run. */
    char *cfg2 = co_asprintf("%sredis:\n  r:\n    source: redis://"
                             "127.0.0.1:%d/0\n    target: redis://"
                             "127.0.0.1:%d/0\n",
                             cfg, t.refused_port, t.refused_port);
    tu_check_run(cfg2, TU_WORDS("--phase", "drift"), NULL, 30, &o);
    for (size_t i = 0; i < 2; i++) {
        json_t *cases = tu_cases(&o, "tcp.reach", i == 0 ? "open" : "refused");
        ck_assert_msg(cases == NULL || json_array_size(cases) == 0,
                      "tcp.reach ran in drift: %s", o.text);
    }
    tu_outcome_free(&o);
    free(cfg2);
    free(cfg);
    targets_close(&t);
}
END_TEST

static Suite *tcp_reach_suite(void)
{
    Suite *s = suite_create("tcp_reach");
    TCase *tc = tcase_create("binary");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_each_outcome_told_apart);
    tcase_add_test(tc, test_pass_only_exits_zero);
    tcase_add_test(tc, test_dead_resolver_is_error);
    tcase_add_test(tc, test_not_run_in_drift);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = tcp_reach_suite, .testbed = TU_VARS("CUTOVER_TB_DNS"));
