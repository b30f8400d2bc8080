/*
 * http.c - one libcurl request with resolution done by co_resolve()
 * (see http.h).
 *
 * curl's timeout comes from the caller's deadline, and the progress
 * callback polls the cancel flag, so neither a silent server nor a
 * Ctrl-C can hold a worker. CURLOPT_NOSIGNAL is set because the runner
 * calls this from worker threads.
 */
#include "cutover/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_BODY (64 * 1024)

struct sink {
    struct co_buf buf;
    size_t max;
};

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n, room = s->max - s->buf.len;

    if (s->buf.len < s->max)
        co_buf_add(&s->buf, p, len < room ? len : room);
    return len; /* keep reading: the status still counts */
}

static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
    const atomic_int *cancel = arg;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return cancel != NULL && atomic_load(cancel) != 0;
}

/* "127.0.0.1" / "[::1]" for curl's RESOLVE and CONNECT_TO entries. */
static void addr_host(const struct co_addr *a, char *out, size_t outlen)
{
    char hp[INET6_ADDRSTRLEN + 16];
    char *colon;

    co_addr_format(a, hp, sizeof(hp));
    colon = strrchr(hp, ':');
    if (colon != NULL)
        *colon = '\0';
    snprintf(out, outlen, "%s", hp);
}

/* Resolves host with co_resolve and returns curl's entry: for
 * connect_to "urlhost:urlport:addr:port", else "host:port:addr". */
static enum co_net_err
pin_address(const struct co_http_req *r, const struct co_url *u,
            int64_t deadline, const atomic_int *cancel,
            struct curl_slist **resolve, struct curl_slist **connect_to,
            struct co_http_resp *out, char *err, size_t errlen)
{
    int port = u->port > 0 ? u->port : co_url_default_port(u->scheme);
    char *host = NULL, *entry, ip[INET6_ADDRSTRLEN + 16];
    int dport = port;
    struct co_addrs addrs;
    enum co_net_err rc;
    double t0 = co_now_precise_ms();

    if (r->connect_to != NULL &&
        co_hostport_split(r->connect_to, port, &host, &dport) < 0) {
        snprintf(err, errlen, "bad connect_to \"%s\"", r->connect_to);
        return CO_NET_ERROR;
    }
    rc = co_resolve(host != NULL ? host : u->host, dport, r->resolvers,
                    deadline, cancel, &addrs, err, errlen);
    out->resolve_ms = co_now_precise_ms() - t0;
    free(host);
    if (rc != CO_NET_OK)
        return rc;
    addr_host(&addrs.v[0], ip, sizeof(ip));
    if (r->connect_to != NULL) {
        entry = co_asprintf("%s:%d:%s:%d", u->host, port, ip, dport);
        *connect_to = curl_slist_append(*connect_to, entry);
    } else {
        entry = co_asprintf("%s:%d:%s", u->host, port, ip);
        *resolve = curl_slist_append(*resolve, entry);
    }
    free(entry);
    co_addrs_free(&addrs);
    return CO_NET_OK;
}

static void setup(CURL *c, const struct co_http_req *r, int64_t deadline,
                  const atomic_int *cancel, struct sink *s,
                  struct curl_slist *hdrs, char *errbuf)
{
    long ms = (long)(deadline - co_now_ms());
    const char *m = r->method != NULL ? r->method : "GET";

    if (ms < 1)
        ms = 1;
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, r->follow_redirects ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, r->verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, r->verify ? 2L : 0L);
    if (r->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
    if (strcmp(m, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(m, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cancel);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "cutover");
}

static double info_ms(CURL *c, CURLINFO what)
{
    curl_off_t us = 0;

    curl_easy_getinfo(c, what, &us);
    return (double)us / 1000.0;
}

static void timings(CURL *c, struct co_http_resp *out)
{
    double lookup = info_ms(c, CURLINFO_NAMELOOKUP_TIME_T);
    double conn = info_ms(c, CURLINFO_CONNECT_TIME_T);
    double app = info_ms(c, CURLINFO_APPCONNECT_TIME_T);
    char *ip = NULL;
    long port = 0;

    out->connect_ms = conn > lookup ? conn - lookup : 0;
    out->tls_ms = app > conn ? app - conn : 0;
    out->first_byte_ms = info_ms(c, CURLINFO_STARTTRANSFER_TIME_T);
    out->total_ms = info_ms(c, CURLINFO_TOTAL_TIME_T);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(c, CURLINFO_PRIMARY_PORT, &port);
    if (ip != NULL && *ip != '\0')
        snprintf(out->addr, sizeof(out->addr),
                 strchr(ip, ':') ? "[%s]:%ld" : "%s:%ld", ip, port);
}

static enum co_net_err map_curl(CURL *c, CURLcode cc, const char *url,
                                const char *errbuf, int64_t waited, char *err,
                                size_t errlen)
{
    long oserr = 0;
    const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);

    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(err, errlen, "timed out after %lld ms waiting for %s",
                 (long long)waited, url);
        return CO_NET_TIMEOUT;
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(err, errlen, "interrupted");
        return CO_NET_CANCELLED;
    case CURLE_COULDNT_CONNECT:
        snprintf(err, errlen, "%s: %s",
                 oserr == ECONNREFUSED ? "connection refused"
                                       : "could not connect",
                 why);
        return oserr == ECONNREFUSED ? CO_NET_REFUSED : CO_NET_UNREACH;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(err, errlen, "name not found: %s", why);
        return CO_NET_NOTFOUND;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        snprintf(err, errlen, "TLS: %s", why);
        return CO_NET_TLS;
    default:
        snprintf(err, errlen, "%s", why);
        return CO_NET_ERROR;
    }
}

enum co_net_err co_http_do(const struct co_http_req *r, int64_t deadline,
                           const atomic_int *cancel, struct co_http_resp *out,
                           char *err, size_t errlen)
{
    struct curl_slist *resolve = NULL, *connect_to = NULL, *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct sink s;
    struct co_url u;
    enum co_net_err rc;
    CURLcode cc;
    CURL *c;
    int64_t t0;

    memset(out, 0, sizeof(*out));
    if (co_url_parse(r->url, &u, err, errlen) < 0)
        return CO_NET_ERROR;
    rc = pin_address(r, &u, deadline, cancel, &resolve, &connect_to, out, err,
                     errlen);
    co_url_free(&u);
    if (rc != CO_NET_OK) {
        curl_slist_free_all(resolve);
        curl_slist_free_all(connect_to);
        return rc;
    }
    c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errlen, "could not start libcurl");
        return CO_NET_ERROR;
    }
    for (size_t i = 0; r->headers != NULL && i < r->headers->n; i++)
        hdrs = curl_slist_append(hdrs, r->headers->v[i]);
    co_buf_init(&s.buf);
    co_buf_puts(&s.buf, "");
    s.max = r->max_body > 0 ? r->max_body : DEFAULT_MAX_BODY;
    setup(c, r, deadline, cancel, &s, hdrs, errbuf);
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
    t0 = co_now_ms();
    cc = curl_easy_perform(c);
    timings(c, out);
    out->body_len = s.buf.len;
    out->body = co_buf_take(&s.buf);
    rc = cc == CURLE_OK
             ? CO_NET_OK
             : map_curl(c, cc, r->url, errbuf, co_now_ms() - t0, err, errlen);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(resolve);
    curl_slist_free_all(connect_to);
    return rc;
}

void co_http_resp_free(struct co_http_resp *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
}
