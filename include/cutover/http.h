/*
 * http.h - one HTTP(S) request with libcurl, bounded by a deadline and
 * a cancel flag, with the latency broken down (resolve, connect, TLS,
 * first byte, total).
 *
 * libcurl never resolves names itself: the URL's host (or connect_to's)
 * is resolved with co_resolve() on the configured resolvers and handed
 * to curl (CURLOPT_RESOLVE / CURLOPT_CONNECT_TO), so the probe asks the
 * same DNS as every other check. connect_to dials elsewhere while SNI,
 * the Host header and the certificate check keep the URL's name.
 * Proxies from the environment apply as curl applies them.
 */
#ifndef CUTOVER_HTTP_H
#define CUTOVER_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/net.h"
#include "cutover/util.h"

struct co_http_req {
    const char *url;
    const char *method;               /* NULL: GET */
    const struct co_strlist *headers; /* "Name: value"; may be NULL */
    bool follow_redirects;
    bool verify;                        /* TLS peer and host verification */
    const char *ca_file;                /* NULL: the system's store */
    const char *connect_to;             /* host[:port] or NULL */
    const struct co_strlist *resolvers; /* NULL/empty: the system's */
    size_t max_body;                    /* bytes kept; 0: 64 KiB */
};

struct co_http_resp {
    long status;
    char *body; /* NUL-terminated, at most max_body bytes */
    size_t body_len;
    char addr[64];        /* "127.0.0.1:45480": where it connected */
    double resolve_ms;    /* co_resolve, before curl started */
    double connect_ms;    /* TCP connect */
    double tls_ms;        /* TLS handshake; 0 for plain HTTP */
    double first_byte_ms; /* from the start of curl's transfer */
    double total_ms;
};

/* Performs the request. CO_NET_OK when a response came (any status);
 * otherwise CO_NET_TIMEOUT ("timed out"), CO_NET_REFUSED,
 * CO_NET_NOTFOUND, CO_NET_CANCELLED, CO_NET_ERROR (TLS and other
 * failures) with a reason in err. out is filled as far as it got; free
 * it with co_http_resp_free either way. */
enum co_net_err co_http_do(const struct co_http_req *r, int64_t deadline,
                           const atomic_int *cancel, struct co_http_resp *out,
                           char *err, size_t errlen);
void co_http_resp_free(struct co_http_resp *r);

#endif
