/*
 * tcp_reach.c - the `tcp.reach` check: can this machine open a TCP
 * connection to an outbound host:port (a payment API, a partner SFTP, a
 * database allowlisted by IP) in time?
 *
 * A firewall that drops packets, a host that refuses and a name that
 * does not resolve need different fixes, so the verdict says which one
 * it was: "connection refused", "timed out after 500 ms", "name not
 * found". Resolution and connect are timed separately: a slow resolver
 * must not look like a slow network path. A resolver that cannot answer
 * at all (down, SERVFAIL) is `error`, not `fail`: the check could not
 * look at the path it was asked about.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutover/check.h"
#include "cutover/net.h"

static const struct co_param tcp_reach_params[] = {
    {"timeout", CO_P_DURATION, NULL,
     "connect deadline per address (default: the task deadline, "
     "settings.timeout)"},
    {0},
};

/* How the attempts on every address went, for one verdict. */
struct reach {
    struct co_run *run;
    const char *name; /* the case name: the address as written */
    int64_t timeout;  /* param, 0 when unset */
    double resolve_ms;
    bool literal;
    struct co_buf tried; /* "addr: reason" of each failed address */
    enum co_net_err last;
    char last_msg[CO_ERRLEN];
};

static bool is_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

/* The deadline for one step: the task's, or sooner with a timeout. */
static int64_t step_deadline(const struct reach *r, int64_t now)
{
    int64_t d = r->run->deadline;

    if (r->timeout > 0 && now + r->timeout < d)
        d = now + r->timeout;
    return d;
}

static int interrupted(struct co_run *run)
{
    snprintf(run->errstr, sizeof(run->errstr), "interrupted");
    return -1;
}

/* The resolver could not say whether the name exists: `error`. Only a
 * definite "no such name" is the check's business (`fail`). */
static int report_resolve(struct reach *r, enum co_net_err rc,
                          const char *host, const char *msg)
{
    if (rc == CO_NET_CANCELLED || co_run_cancelled(r->run))
        return interrupted(r->run);
    if (rc == CO_NET_NOTFOUND) {
        co_case_addf(r->run, CO_FAIL, r->name, NULL, NULL,
                     "name not found: %s (after %.1f ms)", host,
                     r->resolve_ms);
        return 0;
    }
    co_case_addf(r->run, CO_ERROR, r->name, NULL, NULL,
                 "could not resolve %s: %s", host, msg);
    return 0;
}

static void describe_failure(char *out, size_t outlen, enum co_net_err rc,
                             const char *addr, int64_t budget, const char *msg)
{
    switch (rc) {
    case CO_NET_REFUSED:
        snprintf(out, outlen, "connection refused (%s)", addr);
        break;
    case CO_NET_TIMEOUT:
        snprintf(out, outlen, "timed out after %lld ms connecting to %s",
                 (long long)budget, addr);
        break;
    case CO_NET_UNREACH:
        snprintf(out, outlen, "unreachable: %s", msg);
        break;
    default:
        snprintf(out, outlen, "could not connect: %s", msg);
        break;
    }
}

/* One address. Returns 1 connected (case added), 0 failed (recorded in
 * r), -1 interrupted. */
static int try_address(struct reach *r, const struct co_addr *a)
{
    char addr[INET6_ADDRSTRLEN + 16], msg[CO_ERRLEN];
    int64_t start = co_now_ms();
    int64_t deadline = step_deadline(r, start);
    double t0 = co_now_precise_ms();
    enum co_net_err rc;
    int fd = -1;

    co_addr_format(a, addr, sizeof(addr));
    rc = co_tcp_connect(a, deadline, r->run->cancel, &fd, msg, sizeof(msg));
    if (rc == CO_NET_OK) {
        double ms = co_now_precise_ms() - t0;
        close(fd);
        if (r->literal)
            co_case_addf(r->run, CO_PASS, r->name, NULL, NULL,
                         "connected to %s in %.1f ms", addr, ms);
        else
            co_case_addf(r->run, CO_PASS, r->name, NULL, NULL,
                         "connected to %s in %.1f ms (resolved in %.1f ms)",
                         addr, ms, r->resolve_ms);
        return 1;
    }
    if (rc == CO_NET_CANCELLED || co_run_cancelled(r->run))
        return -1;
    if (r->last_msg[0] != '\0') {
        co_buf_puts(&r->tried, r->tried.len > 0 ? "; " : "");
        co_buf_puts(&r->tried, r->last_msg);
    }
    r->last = rc;
    describe_failure(r->last_msg, sizeof(r->last_msg), rc, addr,
                     deadline - start, msg);
    return 0;
}

/* Every address failed: the last failure is the verdict, the others are
 * listed after it so a dual-stack half-outage is visible. */
static void report_failure(struct reach *r)
{
    enum co_status st = r->last == CO_NET_ERROR ? CO_ERROR : CO_FAIL;

    if (r->tried.len == 0)
        co_case_addf(r->run, st, r->name, NULL, NULL, "%s", r->last_msg);
    else
        co_case_addf(r->run, st, r->name, NULL, NULL, "%s (also tried: %s)",
                     r->last_msg, r->tried.s);
}

static int tcp_reach_run(struct co_run *run)
{
    const struct co_resource *res = run->res;
    const struct co_strlist *servers = &run->cfg->settings.resolvers;
    struct reach r;
    struct co_addrs addrs;
    char msg[CO_ERRLEN];
    enum co_net_err rc;
    double t0;
    int done = 0;

    memset(&r, 0, sizeof(r));
    r.run = run;
    r.name = res->address != NULL ? res->address : res->name;
    r.timeout = co_param_duration_ms(run, "timeout");
    if (res->host == NULL || res->port <= 0) {
        co_case_addf(run, CO_ERROR, r.name, NULL, NULL,
                     "no host:port to connect to");
        return 0;
    }
    if (res->resolvers.n > 0)
        servers = &res->resolvers;
    r.literal = is_literal(res->host);

    t0 = co_now_precise_ms();
    rc = co_resolve(res->host, res->port, servers,
                    step_deadline(&r, co_now_ms()), run->cancel, &addrs, msg,
                    sizeof(msg));
    r.resolve_ms = co_now_precise_ms() - t0;
    if (rc != CO_NET_OK)
        return report_resolve(&r, rc, res->host, msg);

    co_buf_init(&r.tried);
    for (size_t i = 0; i < addrs.n && done == 0; i++) {
        done = try_address(&r, &addrs.v[i]);
        if (done == 0 && co_now_ms() >= run->deadline)
            break;
    }
    co_addrs_free(&addrs);
    if (done == 0)
        report_failure(&r);
    co_buf_free(&r.tried);
    return done < 0 ? interrupted(run) : 0;
}

const struct co_check co_check_tcp_reach = {
    .id = "tcp.reach",
    .summary = "outbound host:port reachable in time; refused vs timeout "
               "vs DNS told apart",
    .kind = CO_KIND_OUTBOUND,
    .phases = CO_PRE | CO_POST,
    .params = tcp_reach_params,
    .run = tcp_reach_run,
    .flags = CO_CHECK_ONE_SIDED,
};
