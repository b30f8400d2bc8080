/*
 * net.c - name resolution with c-ares and TCP connect, both bounded by a
 * deadline and a cancel flag.
 *
 * c-ares never blocks and never owns a thread, so this file owns the
 * loop (co_ares_step, ares_loop.h; dns.c drives its channels with it
 * too): ares_getsock -> ares_timeout -> poll -> ares_process_fd, with
 * every poll capped at 100 ms so a cancel flag set by the signal handler
 * is seen quickly, and capped by the caller's deadline so one deadline
 * governs a whole task. Each co_resolve() call makes its own channel:
 * channels are not shared between threads, and the runner runs tasks on
 * a pool of them.
 *
 * Literal addresses never reach c-ares (nor the network). Every error
 * comes back as a code (enum co_net_err) plus a one-line message naming
 * what was resolved or dialled, so checks can say "name not found"
 * rather than "failed".
 */
#include "cutover/net.h"

#include "ares_loop.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Longest single sleep: how late a cancel flag may be noticed. */
#define NET_SLICE_MS 100

static const char *const net_err_names[] = {
    [CO_NET_OK] = "ok",
    [CO_NET_NOTFOUND] = "name not found",
    [CO_NET_TIMEOUT] = "timed out",
    [CO_NET_REFUSED] = "connection refused",
    [CO_NET_UNREACH] = "unreachable",
    [CO_NET_CANCELLED] = "cancelled",
    [CO_NET_DNSFAIL] = "DNS failure",
    [CO_NET_ERROR] = "error",
    [CO_NET_TLS] = "TLS failure",
};

const char *co_net_err_name(enum co_net_err e)
{
    if ((size_t)e >= sizeof(net_err_names) / sizeof(net_err_names[0]))
        return "error";
    return net_err_names[e];
}

void co_addrs_free(struct co_addrs *a)
{
    if (a == NULL)
        return;
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

void co_addr_format(const struct co_addr *a, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN];

    if (outlen == 0)
        return;
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(out, outlen, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
    } else if (a->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(out, outlen, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
    } else {
        snprintf(out, outlen, "(address family %d)", (int)a->sa.ss_family);
    }
}

/* ---- host:port -------------------------------------------------------- */

/* Host names and addresses never contain these; rejecting them early
 * turns "host :443" or a URL pasted by mistake into a config error. */
static bool host_ok(const char *h, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= ' ' || c == 0x7f || c == '/' || c == '[' || c == ']' ||
            c == '@')
            return false;
    }
    return true;
}

int co_hostport_split(const char *s, int defport, char **host, int *port)
{
    const char *h, *colon;
    size_t hn;
    int p = defport;

    *host = NULL;
    if (s == NULL || *s == '\0')
        return -1;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL)
            return -1;
        h = s + 1;
        hn = (size_t)(close - h);
        if (memchr(h, ':', hn) == NULL)
            return -1; /* brackets are for IPv6 only */
        if (close[1] == ':') {
            if (co_port_parse(close + 2, strlen(close + 2), &p) < 0)
                return -1;
        } else if (close[1] != '\0') {
            return -1;
        }
    } else {
        colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            /* Two colons and no brackets: a bare IPv6 address, which
             * cannot carry a port without them. */
            h = s;
            hn = strlen(s);
        } else if (colon != NULL) {
            h = s;
            hn = (size_t)(colon - s);
            if (co_port_parse(colon + 1, strlen(colon + 1), &p) < 0)
                return -1;
        } else {
            h = s;
            hn = strlen(s);
        }
    }
    if (!host_ok(h, hn))
        return -1;
    *host = co_strndup(h, hn);
    *port = p;
    return 0;
}

/* ---- waiting ---------------------------------------------------------- */

int co_wait_fd(int fd, short events, int64_t deadline,
               const atomic_int *cancel)
{
    struct pollfd p = {.fd = fd, .events = events};

    for (;;) {
        int ms, rc;

        if (co_cancelled(cancel)) {
            errno = ECANCELED;
            return -1;
        }
        /* Poll even when the deadline has passed: a socket that is
         * already ready wins over a deadline reached at the same time. */
        ms = co_slice_ms(deadline, NET_SLICE_MS);
        p.revents = 0;
        rc = poll(&p, 1, ms);
        if (rc > 0) {
            if (p.revents & POLLNVAL) {
                errno = EBADF;
                return -1;
            }
            return 1;
        }
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc == 0 && ms == 0)
            return 0;
    }
}

/* ---- resolution ------------------------------------------------------- */

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_status = ARES_SUCCESS;

/* main() initialises c-ares too; the library counts calls, so doing it
 * here as well lets tests and tools use co_resolve without a main. */
static void ares_init_once(void)
{
    ares_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* Fills out with host when it is a literal IPv4 or IPv6 address
 * (brackets allowed). Returns true if it was one. */
static bool resolve_literal(const char *host, int port, struct co_addrs *out)
{
    struct co_addr a;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);

    memset(&a, 0, sizeof(a));
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' &&
        n - 2 < sizeof(buf)) {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a.sa;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.sa;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        a.len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        a.len = sizeof(*s6);
    } else {
        return false;
    }
    set_port(&a.sa, port);
    out->v = co_malloc(sizeof(*out->v));
    out->v[0] = a;
    out->n = 1;
    return true;
}

/* "localhost" and "*.localhost" are loopback by definition (RFC 6761,
 * 6.3) and are answered here: a configured resolver (the zone's servers,
 * a test dnsmasq) would refuse or forward them, and no packet needs to
 * leave the machine for them. IPv4 first, as getaddrinfo orders it. */
static bool resolve_localhost(const char *host, int port, struct co_addrs *out)
{
    static const char suffix[] = ".localhost";
    size_t n = strlen(host), sl = sizeof(suffix) - 1;

    if (n > 0 && host[n - 1] == '.')
        n--;
    if (!((n == sl - 1 && strncasecmp(host, suffix + 1, n) == 0) ||
          (n > sl && strncasecmp(host + n - sl, suffix, sl) == 0)))
        return false;
    if (!resolve_literal("127.0.0.1", port, out))
        return false;
    struct co_addrs v6 = {NULL, 0};
    if (resolve_literal("::1", port, &v6)) {
        out->v = co_realloc(out->v, 2 * sizeof(*out->v));
        out->v[1] = v6.v[0];
        out->n = 2;
        co_addrs_free(&v6);
    }
    return true;
}

/* What the c-ares callback hands back to the loop. */
struct gai_state {
    bool done;
    int status;
    int port;
    struct co_addrs addrs;
};

static bool addr_seen(const struct co_addrs *a, const struct co_addr *x)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].len == x->len && memcmp(&a->v[i].sa, &x->sa, x->len) == 0)
            return true;
    return false;
}

/* Copies c-ares' answer into a co_addrs (in c-ares' RFC 6724 order),
 * dropping duplicates, so nothing of c-ares outlives the channel. */
static void gai_callback(void *arg, int status, int timeouts,
                         struct ares_addrinfo *res)
{
    struct gai_state *st = arg;
    size_t cap = 0;

    (void)timeouts;
    st->done = true;
    st->status = status;
    if (res == NULL)
        return;
    for (struct ares_addrinfo_node *n = res->nodes; n != NULL;
         n = n->ai_next) {
        struct co_addr a;
        if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
            n->ai_addrlen > sizeof(a.sa))
            continue;
        memset(&a, 0, sizeof(a));
        memcpy(&a.sa, n->ai_addr, n->ai_addrlen);
        a.len = n->ai_addrlen;
        set_port(&a.sa, st->port);
        if (addr_seen(&st->addrs, &a))
            continue;
        if (st->addrs.n == cap) {
            cap = cap ? cap * 2 : 4;
            st->addrs.v = co_realloc(st->addrs.v, cap * sizeof(a));
        }
        st->addrs.v[st->addrs.n++] = a;
    }
    ares_freeaddrinfo(res);
}

/* Per-try timeout and tries so that c-ares' own retries (each try waits
 * twice as long as the one before: t + 2t + 4t) fit in what is left,
 * instead of c-ares' defaults (5 s x 4) outliving the deadline. */
static void channel_timing(int64_t remaining, int *timeout_ms, int *tries)
{
    int64_t t = remaining / 7;

    if (t < 100)
        t = 100;
    if (t > 5000)
        t = 5000;
    *timeout_ms = (int)t;
    *tries = 3;
}

static char *servers_csv(const struct co_strlist *servers)
{
    struct co_buf b;

    co_buf_init(&b);
    for (size_t i = 0; i < servers->n; i++) {
        if (i > 0)
            co_buf_puts(&b, ",");
        co_buf_puts(&b, servers->v[i]);
    }
    return co_buf_take(&b);
}

static enum co_net_err make_channel(ares_channel *ch,
                                    const struct co_strlist *servers,
                                    int64_t deadline, char *err, size_t errlen)
{
    struct ares_options opt;
    bool explicit_servers = servers != NULL && servers->n > 0;
    int rc;

    memset(&opt, 0, sizeof(opt));
    /* Names in the config are absolute: a search domain from the
     * machine's resolv.conf must not turn "db" into "db.corp.local". */
    opt.flags = ARES_FLAG_NOSEARCH;
    channel_timing(deadline - co_now_ms(), &opt.timeout, &opt.tries);
    /* With explicit resolvers the question is what *they* answer, so
     * /etc/hosts must not answer first; otherwise behave like the
     * system (files, then DNS), so "localhost" works. */
    opt.lookups = explicit_servers ? "b" : "fb";
    rc = ares_init_options(ch, &opt,
                           ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS |
                               ARES_OPT_TRIES | ARES_OPT_LOOKUPS);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "could not start the resolver: %s",
                 ares_strerror(rc));
        return CO_NET_ERROR;
    }
    if (!explicit_servers)
        return CO_NET_OK;
    char *csv = servers_csv(servers);
    rc = ares_set_servers_ports_csv(*ch, csv);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "bad resolver list \"%s\": %s", csv,
                 ares_strerror(rc));
        free(csv);
        ares_destroy(*ch);
        return CO_NET_ERROR;
    }
    free(csv);
    return CO_NET_OK;
}

/* ---- the c-ares loop (ares_loop.h) ------------------------------------ */

/* Adds channel ci's sockets to pfd (owner[] remembers whose) and lowers
 * *ms to its next retry timer. */
static void ares_poll_set(ares_channel ch, size_t ci, struct pollfd *pfd,
                          size_t *owner, nfds_t *n, int *ms)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct timeval maxtv, tv, *tvp;
    int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);

    for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
        short ev = 0;
        /* c-ares' own ARES_GETSOCK_WRITABLE shifts a signed 1 into the
         * sign bit for the last socket: undefined behaviour. */
        if ((unsigned)bits & (1u << i))
            ev |= POLLIN;
        if ((unsigned)bits & (1u << (i + ARES_GETSOCK_MAXNUM)))
            ev |= POLLOUT;
        if (ev == 0)
            continue;
        pfd[*n].fd = socks[i];
        pfd[*n].events = ev;
        pfd[*n].revents = 0;
        owner[*n] = ci;
        (*n)++;
    }
    maxtv.tv_sec = *ms / 1000;
    maxtv.tv_usec = (*ms % 1000) * 1000;
    tvp = ares_timeout(ch, &maxtv, &tv);
    *ms = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
}

int co_ares_step(const ares_channel *ch, size_t nch, int64_t deadline)
{
    size_t cap = nch * ARES_GETSOCK_MAXNUM;
    struct pollfd *pfd = co_calloc(cap, sizeof(*pfd));
    size_t *owner = co_calloc(cap, sizeof(*owner));
    nfds_t n = 0;
    int ms = co_slice_ms(deadline, NET_SLICE_MS), rc;

    for (size_t i = 0; i < nch; i++)
        ares_poll_set(ch[i], i, pfd, owner, &n, &ms);
    rc = poll(pfd, n, ms);
    if (rc < 0 && errno != EINTR) {
        free(pfd);
        free(owner);
        return -1;
    }
    for (nfds_t i = 0; rc > 0 && i < n; i++) {
        short re = pfd[i].revents;
        ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;
        if (re & (POLLIN | POLLERR | POLLHUP))
            r = pfd[i].fd;
        if (re & POLLOUT)
            w = pfd[i].fd;
        if (r != ARES_SOCKET_BAD || w != ARES_SOCKET_BAD)
            ares_process_fd(ch[owner[i]], r, w);
    }
    for (size_t i = 0; i < nch; i++) /* retry timers */
        ares_process_fd(ch[i], ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    free(pfd);
    free(owner);
    return 0;
}

/* Turns a final c-ares status into our code and message. */
static enum co_net_err map_ares_status(int status, const char *host,
                                       int64_t elapsed, char *err,
                                       size_t errlen)
{
    switch (status) {
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        snprintf(err, errlen, "name not found: %s", host);
        return CO_NET_NOTFOUND;
    case ARES_ETIMEOUT:
        snprintf(err, errlen,
                 "timed out after %lldms resolving %s (no answer from the "
                 "DNS servers)",
                 (long long)elapsed, host);
        return CO_NET_TIMEOUT;
    case ARES_ECONNREFUSED:
        /* c-ares 1.18 also ends here when every server answered
         * REFUSED (its initial status), not only on a refused socket. */
        snprintf(err, errlen, "the DNS servers refused to answer for %s",
                 host);
        return CO_NET_REFUSED;
    case ARES_EREFUSED:
        snprintf(err, errlen, "DNS server refused the query for %s (REFUSED)",
                 host);
        return CO_NET_REFUSED;
    case ARES_ESERVFAIL:
        snprintf(err, errlen, "DNS server failure (SERVFAIL) resolving %s",
                 host);
        return CO_NET_DNSFAIL;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        snprintf(err, errlen, "interrupted resolving %s", host);
        return CO_NET_CANCELLED;
    case ARES_EBADNAME:
        snprintf(err, errlen, "not a valid host name: %s", host);
        return CO_NET_ERROR;
    case ARES_ENOMEM:
    case ARES_EBADFAMILY:
    case ARES_EBADFLAGS:
    case ARES_ENOTINITIALIZED:
        snprintf(err, errlen, "resolver error resolving %s: %s", host,
                 ares_strerror(status));
        return CO_NET_ERROR;
    default: /* EFORMERR, EBADRESP, ENOTIMP, ... */
        snprintf(err, errlen, "DNS failure resolving %s: %s", host,
                 ares_strerror(status));
        return CO_NET_DNSFAIL;
    }
}

/* Runs the loop until the callback fired, the deadline passed or the
 * cancel flag was set; always leaves no query pending. */
static enum co_net_err resolve_loop(ares_channel ch, struct gai_state *st,
                                    const char *host, int64_t started,
                                    int64_t deadline, const atomic_int *cancel,
                                    char *err, size_t errlen)
{
    while (!st->done) {
        if (co_cancelled(cancel)) {
            ares_cancel(ch);
            snprintf(err, errlen, "interrupted resolving %s", host);
            return CO_NET_CANCELLED;
        }
        if (co_now_ms() >= deadline) {
            ares_cancel(ch);
            snprintf(err, errlen, "timed out after %lldms resolving %s",
                     (long long)(co_now_ms() - started), host);
            return CO_NET_TIMEOUT;
        }
        if (co_ares_step(&ch, 1, deadline) < 0) {
            char why[128];
            if (strerror_r(errno, why, sizeof(why)) != 0)
                snprintf(why, sizeof(why), "error %d", errno);
            ares_cancel(ch);
            snprintf(err, errlen, "resolving %s: poll: %s", host, why);
            return CO_NET_ERROR;
        }
    }
    if (st->status == ARES_SUCCESS && st->addrs.n > 0)
        return CO_NET_OK;
    if (st->status == ARES_SUCCESS)
        st->status = ARES_ENODATA;
    return map_ares_status(st->status, host, co_now_ms() - started, err,
                           errlen);
}

enum co_net_err co_resolve(const char *host, int port,
                           const struct co_strlist *servers, int64_t deadline,
                           const atomic_int *cancel, struct co_addrs *out,
                           char *err, size_t errlen)
{
    struct ares_addrinfo_hints hints;
    struct gai_state st;
    ares_channel ch;
    enum co_net_err rc;
    int64_t started = co_now_ms();

    out->v = NULL;
    out->n = 0;
    if (errlen > 0)
        err[0] = '\0';
    if (host == NULL || *host == '\0') {
        snprintf(err, errlen, "empty host name");
        return CO_NET_ERROR;
    }
    if (resolve_literal(host, port, out) || resolve_localhost(host, port, out))
        return CO_NET_OK;
    if (co_cancelled(cancel)) {
        snprintf(err, errlen, "interrupted resolving %s", host);
        return CO_NET_CANCELLED;
    }
    if (started >= deadline) {
        snprintf(err, errlen, "timed out after 0ms resolving %s", host);
        return CO_NET_TIMEOUT;
    }
    pthread_once(&ares_once, ares_init_once);
    if (ares_init_status != ARES_SUCCESS) {
        snprintf(err, errlen, "could not initialise c-ares: %s",
                 ares_strerror(ares_init_status));
        return CO_NET_ERROR;
    }
    rc = make_channel(&ch, servers, deadline, err, errlen);
    if (rc != CO_NET_OK)
        return rc;

    memset(&st, 0, sizeof(st));
    st.port = port;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(ch, host, NULL, &hints, gai_callback, &st);
    rc = resolve_loop(ch, &st, host, started, deadline, cancel, err, errlen);
    /* Destroying the channel fires the callback of anything still
     * pending (it writes into st, which is still alive here). */
    ares_destroy(ch);
    if (rc == CO_NET_OK) {
        *out = st.addrs;
        return CO_NET_OK;
    }
    co_addrs_free(&st.addrs);
    return rc;
}

/* ---- connect ---------------------------------------------------------- */

static enum co_net_err connect_errno(int e, const char *addr, char *err,
                                     size_t errlen)
{
    char buf[128];

    switch (e) {
    case ECONNREFUSED:
        snprintf(err, errlen, "%s: connection refused", addr);
        return CO_NET_REFUSED;
    case ENETUNREACH:
    case ENETDOWN:
        snprintf(err, errlen, "%s: network unreachable", addr);
        return CO_NET_UNREACH;
    case EHOSTUNREACH:
    case EHOSTDOWN:
        snprintf(err, errlen, "%s: host unreachable", addr);
        return CO_NET_UNREACH;
    case ETIMEDOUT:
        snprintf(err, errlen, "%s: timed out (by the kernel)", addr);
        return CO_NET_TIMEOUT;
    default:
        if (strerror_r(e, buf, sizeof(buf)) != 0)
            snprintf(buf, sizeof(buf), "error %d", e);
        snprintf(err, errlen, "%s: %s", addr, buf);
        return CO_NET_ERROR;
    }
}

/* Waits for the handshake of a connect() in progress and reports how it
 * ended. */
static enum co_net_err connect_finish(int fd, const char *addr,
                                      int64_t started, int64_t deadline,
                                      const atomic_int *cancel, char *err,
                                      size_t errlen)
{
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    int w = co_wait_fd(fd, POLLOUT, deadline, cancel);

    if (w == 0) {
        snprintf(err, errlen, "%s: timed out after %lldms", addr,
                 (long long)(co_now_ms() - started));
        return CO_NET_TIMEOUT;
    }
    if (w < 0 && errno == ECANCELED) {
        snprintf(err, errlen, "%s: interrupted", addr);
        return CO_NET_CANCELLED;
    }
    if (w < 0)
        return connect_errno(errno, addr, err, errlen);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        return connect_errno(errno, addr, err, errlen);
    if (soerr != 0)
        return connect_errno(soerr, addr, err, errlen);
    return CO_NET_OK;
}

enum co_net_err co_tcp_connect(const struct co_addr *addr, int64_t deadline,
                               const atomic_int *cancel, int *fd, char *err,
                               size_t errlen)
{
    char name[INET6_ADDRSTRLEN + 16];
    int64_t started = co_now_ms();
    enum co_net_err rc;
    int s;

    *fd = -1;
    if (errlen > 0)
        err[0] = '\0';
    co_addr_format(addr, name, sizeof(name));
    if (co_cancelled(cancel)) {
        snprintf(err, errlen, "%s: interrupted", name);
        return CO_NET_CANCELLED;
    }
    s = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
               0);
    if (s < 0)
        return connect_errno(errno, name, err, errlen);
    if (connect(s, (const struct sockaddr *)&addr->sa, addr->len) == 0) {
        *fd = s;
        return CO_NET_OK;
    }
    if (errno != EINPROGRESS && errno != EINTR) {
        rc = connect_errno(errno, name, err, errlen);
        close(s);
        return rc;
    }
    rc = connect_finish(s, name, started, deadline, cancel, err, errlen);
    if (rc != CO_NET_OK) {
        close(s);
        return rc;
    }
    *fd = s;
    return CO_NET_OK;
}

enum co_net_err co_tcp_dial(const char *host, int port,
                            const struct co_strlist *servers, int64_t deadline,
                            const atomic_int *cancel, int *fd, char *err,
                            size_t errlen)
{
    struct co_addrs addrs;
    enum co_net_err rc;

    *fd = -1;
    rc =
        co_resolve(host, port, servers, deadline, cancel, &addrs, err, errlen);
    if (rc != CO_NET_OK)
        return rc;
    for (size_t i = 0; i < addrs.n; i++) {
        rc = co_tcp_connect(&addrs.v[i], deadline, cancel, fd, err, errlen);
        if (rc == CO_NET_OK || rc == CO_NET_CANCELLED)
            break;
        if (co_now_ms() >= deadline)
            break;
    }
    co_addrs_free(&addrs);
    return rc;
}
