/*
 * net.h - name resolution (c-ares) and TCP connect with deadlines.
 *
 * Every lookup the tool makes goes through co_resolve(): it runs a c-ares
 * channel with ares_fds/ares_timeout/poll/ares_process until the answer,
 * the deadline or the cancel flag. Servers come from the caller (a
 * resource's resolvers, else settings.resolvers, else the system's);
 * "ip" or "ip:port" each, IPv6 as "[::1]:53".
 *
 * Errors are reported in a code plus a message, so checks can tell
 * "name not found" from "timed out" from "refused".
 */
#ifndef CUTOVER_NET_H
#define CUTOVER_NET_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cutover/util.h"

enum co_net_err {
    CO_NET_OK = 0,
    CO_NET_NOTFOUND,  /* NXDOMAIN / no address of any family */
    CO_NET_TIMEOUT,   /* deadline passed */
    CO_NET_REFUSED,   /* ECONNREFUSED (or DNS server refused) */
    CO_NET_UNREACH,   /* network/host unreachable */
    CO_NET_CANCELLED, /* cancel flag set */
    CO_NET_DNSFAIL,   /* SERVFAIL, bad reply, other resolver failure */
    CO_NET_ERROR,     /* anything else; see the message */
    CO_NET_TLS        /* TLS handshake or certificate verification failed */
};
const char *co_net_err_name(enum co_net_err e); /* "name not found", ... */

struct co_addr {
    struct sockaddr_storage sa;
    socklen_t len;
};

struct co_addrs {
    struct co_addr *v;
    size_t n;
};
void co_addrs_free(struct co_addrs *a);
/* "127.0.0.1:443" / "[::1]:443" */
void co_addr_format(const struct co_addr *a, char *out, size_t outlen);

/* Resolves host (a name or a literal address) for `port`, A and AAAA.
 * servers may be NULL or empty for the system's resolvers. Returns
 * CO_NET_OK with at least one address, or an error with a reason. */
enum co_net_err co_resolve(const char *host, int port,
                           const struct co_strlist *servers, int64_t deadline,
                           const atomic_int *cancel, struct co_addrs *out,
                           char *err, size_t errlen);

/* Non-blocking connect to one address, waiting until the deadline.
 * On CO_NET_OK *fd is a connected, non-blocking socket the caller owns. */
enum co_net_err co_tcp_connect(const struct co_addr *addr, int64_t deadline,
                               const atomic_int *cancel, int *fd, char *err,
                               size_t errlen);

/* Resolves then connects to each address in turn until one works.
 * The error of the last attempt is returned. */
enum co_net_err co_tcp_dial(const char *host, int port,
                            const struct co_strlist *servers, int64_t deadline,
                            const atomic_int *cancel, int *fd, char *err,
                            size_t errlen);

/* Splits "host:port", "[v6]:port" or "host" (port = defport). Returns 0
 * or -1 when malformed. host is allocated. */
int co_hostport_split(const char *s, int defport, char **host, int *port);

/* Waits for fd to become readable (events=POLLIN) or writable (POLLOUT)
 * until deadline, waking every 100 ms to check cancel. Returns 1 ready,
 * 0 timed out, -1 cancelled or error (errno set; ECANCELED). Shared by
 * every connection layer. */
int co_wait_fd(int fd, short events, int64_t deadline,
               const atomic_int *cancel);

#endif
