/*
 * dns.c - DNS queries that return the whole answer section with
 * per-record TTLs (see dns.h).
 *
 * c-ares 1.18 has no record API, so the raw reply is walked here by
 * co_dns_parse(), a pure function over the bytes (unit-tested on literal
 * replies); ares_expand_name() only decodes (possibly compressed) names.
 *
 * Every batch makes one channel per distinct server and drives them all
 * from one loop (co_ares_step, ares_loop.h, the one net.c uses too): each
 * poll capped at 100 ms so the cancel flag is seen, and capped by the
 * deadline. ARES_FLAG_NOCHECKRESP keeps c-ares from
 * retrying a SERVFAIL or REFUSED: the rcode is the answer we want.
 */
#include "cutover/dns.h"

#include "ares_loop.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DNS_HDR 12

/* ---- parsing ---------------------------------------------------------- */

const char *co_dns_type_name(int type)
{
    switch (type) {
    case CO_DNS_A:
        return "A";
    case CO_DNS_NS:
        return "NS";
    case CO_DNS_CNAME:
        return "CNAME";
    case CO_DNS_AAAA:
        return "AAAA";
    default:
        return "TYPE?";
    }
}

void co_dns_name_norm(char *name)
{
    size_t n;

    if (name == NULL)
        return;
    for (char *p = name; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    n = strlen(name);
    if (n > 1 && name[n - 1] == '.')
        name[n - 1] = '\0';
}

bool co_dns_name_eq(const char *a, const char *b)
{
    size_t na, nb;

    if (a == NULL || b == NULL)
        return false;
    na = strlen(a);
    nb = strlen(b);
    if (na > 1 && a[na - 1] == '.')
        na--;
    if (nb > 1 && b[nb - 1] == '.')
        nb--;
    return na == nb && strncasecmp(a, b, na) == 0;
}

void co_dns_answer_free(struct co_dns_answer *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].name);
        free(a->v[i].data);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | (unsigned)p[1];
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

/* Decodes the name at p into an owned, normalised string; *used is the
 * number of bytes it takes at p (pointers count as 2). */
static char *expand_name(const unsigned char *p, const unsigned char *buf,
                         size_t len, size_t *used)
{
    char *s = NULL, *out;
    long enclen = 0;

    if (ares_expand_name(p, buf, (int)len, &s, &enclen) != ARES_SUCCESS)
        return NULL;
    out = co_strdup(s);
    ares_free_string(s);
    co_dns_name_norm(out);
    *used = (size_t)enclen;
    return out;
}

/* The record data as text: an address, a target name, or "". */
static char *rdata_text(int type, const unsigned char *rd, size_t rdlen,
                        const unsigned char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN];
    size_t used;

    if (type == CO_DNS_A && rdlen == 4)
        return co_strdup(inet_ntop(AF_INET, rd, ip, sizeof(ip)));
    if (type == CO_DNS_AAAA && rdlen == 16)
        return co_strdup(inet_ntop(AF_INET6, rd, ip, sizeof(ip)));
    if (type == CO_DNS_CNAME || type == CO_DNS_NS)
        return expand_name(rd, buf, len, &used);
    if (type == CO_DNS_A || type == CO_DNS_AAAA)
        return NULL; /* wrong length: a bad reply */
    return co_strdup("");
}

static int parse_fail(struct co_dns_answer *out, char *err, size_t errlen,
                      const char *why)
{
    co_dns_answer_free(out);
    snprintf(err, errlen, "malformed DNS reply: %s", why);
    return -1;
}

/* Reads one answer record at buf[*off], appending it to out. */
static int parse_rr(const unsigned char *buf, size_t len, size_t *off,
                    struct co_dns_answer *out, char *err, size_t errlen)
{
    struct co_dns_rr rr;
    size_t used = 0, rdlen;
    const unsigned char *p;

    memset(&rr, 0, sizeof(rr));
    rr.name = expand_name(buf + *off, buf, len, &used);
    if (rr.name == NULL)
        return parse_fail(out, err, errlen, "bad owner name");
    *off += used;
    if (*off + 10 > len) {
        free(rr.name);
        return parse_fail(out, err, errlen, "truncated record");
    }
    p = buf + *off;
    rr.type = (int)get16(p);
    rr.ttl = get32(p + 4);
    rdlen = get16(p + 8);
    *off += 10;
    if (*off + rdlen > len) {
        free(rr.name);
        return parse_fail(out, err, errlen, "truncated record data");
    }
    rr.data = rdata_text(rr.type, buf + *off, rdlen, buf, len);
    if (rr.data == NULL) {
        free(rr.name);
        return parse_fail(out, err, errlen, "bad record data");
    }
    *off += rdlen;
    out->v = co_realloc(out->v, (out->n + 1) * sizeof(rr));
    out->v[out->n++] = rr;
    return 0;
}

int co_dns_parse(const unsigned char *buf, size_t len,
                 struct co_dns_answer *out, char *err, size_t errlen)
{
    unsigned qd, an;
    size_t off = DNS_HDR;

    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < DNS_HDR)
        return parse_fail(out, err, errlen, "shorter than a header");
    out->rcode = (int)(buf[3] & 0x0f);
    qd = get16(buf + 4);
    an = get16(buf + 6);
    for (unsigned i = 0; i < qd; i++) {
        size_t used = 0;
        char *q = expand_name(buf + off, buf, len, &used);
        if (q == NULL)
            return parse_fail(out, err, errlen, "bad question");
        free(q);
        off += used + 4;
        if (off > len)
            return parse_fail(out, err, errlen, "truncated question");
    }
    for (unsigned i = 0; i < an; i++)
        if (parse_rr(buf, len, &off, out, err, errlen) < 0)
            return -1;
    return 0;
}

/* ---- channels --------------------------------------------------------- */

static pthread_once_t dns_once = PTHREAD_ONCE_INIT;
static int dns_init_status = ARES_SUCCESS;

static void dns_init_once(void)
{
    dns_init_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* A channel and the server it asks (NULL: the system's). */
struct chan {
    ares_channel ch;
    const char *server;
};

/* Per-try timeout so that c-ares' tries (t + 2t + 4t) fit in what is
 * left, as in net.c: its defaults (5 s x 4) would outlive the deadline. */
static int try_timeout_ms(int64_t remaining)
{
    int64_t t = remaining / 7;

    if (t < 100)
        t = 100;
    if (t > 5000)
        t = 5000;
    return (int)t;
}

static int chan_open(struct chan *c, const char *server, int64_t deadline,
                     char *err, size_t errlen)
{
    struct ares_options opt;
    int rc;

    memset(&opt, 0, sizeof(opt));
    opt.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP;
    opt.timeout = try_timeout_ms(deadline - co_now_ms());
    opt.tries = 3;
    c->server = server;
    rc = ares_init_options(
        &c->ch, &opt, ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "could not start the resolver: %s",
                 ares_strerror(rc));
        return -1;
    }
    if (server == NULL)
        return 0;
    rc = ares_set_servers_ports_csv(c->ch, server);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "bad resolver \"%s\": %s", server,
                 ares_strerror(rc));
        ares_destroy(c->ch);
        return -1;
    }
    return 0;
}

static bool same_server(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* ---- answers ---------------------------------------------------------- */

static void map_status(struct co_dns_query *q, int status)
{
    char *e = q->err;
    size_t el = sizeof(q->err);

    switch (status) {
    case ARES_SUCCESS:
    case ARES_ENODATA:
        q->status = CO_NET_OK;
        return;
    case ARES_ENOTFOUND:
        q->status = CO_NET_NOTFOUND;
        snprintf(e, el, "no such name: %s (NXDOMAIN)", q->name);
        return;
    case ARES_ESERVFAIL:
        q->status = CO_NET_DNSFAIL;
        snprintf(e, el, "server failure (SERVFAIL) for %s", q->name);
        return;
    case ARES_EREFUSED:
    case ARES_ECONNREFUSED:
        q->status = CO_NET_REFUSED;
        snprintf(e, el, "query refused (REFUSED) for %s", q->name);
        return;
    case ARES_ETIMEOUT:
        q->status = CO_NET_TIMEOUT;
        snprintf(e, el, "timed out: no answer for %s", q->name);
        return;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        q->status = CO_NET_CANCELLED;
        snprintf(e, el, "interrupted asking for %s", q->name);
        return;
    case ARES_EBADRESP:
    case ARES_EFORMERR:
        /* garbage, not a verdict about the name: could not check */
        q->status = CO_NET_ERROR;
        snprintf(e, el, "unreadable answer for %s: %s", q->name,
                 ares_strerror(status));
        return;
    default:
        q->status = CO_NET_DNSFAIL;
        snprintf(e, el, "DNS failure for %s: %s", q->name,
                 ares_strerror(status));
        return;
    }
}

static void query_callback(void *arg, int status, int timeouts,
                           unsigned char *abuf, int alen)
{
    struct co_dns_query *q = arg;
    char why[128];

    (void)timeouts;
    if (q->done)
        return; /* already settled by the deadline or a cancel */
    q->done = true;
    map_status(q, status);
    if (abuf == NULL || alen <= 0)
        return;
    if (co_dns_parse(abuf, (size_t)alen, &q->ans, why, sizeof(why)) < 0 &&
        q->status == CO_NET_OK) {
        q->status = CO_NET_ERROR;
        snprintf(q->err, sizeof(q->err), "unreadable answer for %s: %s",
                 q->name, why);
    }
}

/* ---- the loop --------------------------------------------------------- */

static bool all_done(const struct co_dns_query *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!q[i].done)
            return false;
    return true;
}

/* Settles every query still pending (before the channels are destroyed,
 * whose callbacks then see done and leave them alone). */
static void settle_pending(struct co_dns_query *q, size_t n,
                           enum co_net_err st, int64_t waited)
{
    char ms[32];

    snprintf(ms, sizeof(ms), "%lld", (long long)waited);
    for (size_t i = 0; i < n; i++) {
        if (q[i].done)
            continue;
        q[i].done = true;
        q[i].status = st;
        if (st == CO_NET_TIMEOUT)
            snprintf(q[i].err, sizeof(q[i].err),
                     "timed out after %s ms: no answer for %s", ms, q[i].name);
        else
            snprintf(q[i].err, sizeof(q[i].err), "interrupted asking for %s",
                     q[i].name);
    }
}

static enum co_net_err run_loop(struct chan *chans, size_t nch,
                                struct co_dns_query *q, size_t n,
                                int64_t deadline, const atomic_int *cancel,
                                char *err, size_t errlen)
{
    int64_t started = co_now_ms();
    ares_channel *ch = co_calloc(nch, sizeof(*ch));
    enum co_net_err rc = CO_NET_OK;

    for (size_t i = 0; i < nch; i++)
        ch[i] = chans[i].ch;
    while (!all_done(q, n)) {
        if (co_cancelled(cancel)) {
            settle_pending(q, n, CO_NET_CANCELLED, 0);
            snprintf(err, errlen, "interrupted");
            rc = CO_NET_CANCELLED;
            break;
        }
        if (co_now_ms() >= deadline) {
            settle_pending(q, n, CO_NET_TIMEOUT, co_now_ms() - started);
            break;
        }
        if (co_ares_step(ch, nch, deadline) < 0) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            settle_pending(q, n, CO_NET_ERROR, 0);
            rc = CO_NET_ERROR;
            break;
        }
    }
    free(ch);
    return rc;
}

/* Index of the channel for server, opening it when new; -1 on error. */
static long chan_for(struct chan *chans, size_t *nch, const char *server,
                     int64_t deadline, char *err, size_t errlen)
{
    for (size_t i = 0; i < *nch; i++)
        if (same_server(chans[i].server, server))
            return (long)i;
    if (chan_open(&chans[*nch], server, deadline, err, errlen) < 0)
        return -1;
    return (long)(*nch)++;
}

enum co_net_err co_dns_run(struct co_dns_query *q, size_t n, int64_t deadline,
                           const atomic_int *cancel, char *err, size_t errlen)
{
    struct chan *chans;
    size_t nch = 0;
    enum co_net_err rc = CO_NET_OK;

    if (errlen > 0)
        err[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        memset(&q[i].ans, 0, sizeof(q[i].ans));
        q[i].done = false;
        q[i].status = CO_NET_ERROR;
        q[i].err[0] = '\0';
    }
    pthread_once(&dns_once, dns_init_once);
    if (dns_init_status != ARES_SUCCESS) {
        snprintf(err, errlen, "could not initialise c-ares: %s",
                 ares_strerror(dns_init_status));
        return CO_NET_ERROR;
    }
    chans = co_calloc(n > 0 ? n : 1, sizeof(*chans));
    for (size_t i = 0; i < n && rc == CO_NET_OK; i++) {
        long c = chan_for(chans, &nch, q[i].server, deadline, err, errlen);
        if (c < 0) {
            rc = CO_NET_ERROR;
            break;
        }
        ares_query(chans[c].ch, q[i].name, 1 /* C_IN */, q[i].type,
                   query_callback, &q[i]);
    }
    if (rc == CO_NET_OK)
        rc = run_loop(chans, nch, q, n, deadline, cancel, err, errlen);
    else
        settle_pending(q, n, CO_NET_ERROR, 0);
    for (size_t i = 0; i < nch; i++)
        ares_destroy(chans[i].ch);
    free(chans);
    return rc;
}

void co_dns_queries_free(struct co_dns_query *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        co_dns_answer_free(&q[i].ans);
}
