/*
 * dns.h - DNS queries that keep the whole answer: every record of the
 * answer section (the CNAME chain and the addresses behind it) with its
 * own TTL, and an outcome that tells NXDOMAIN, "no record of that type",
 * SERVFAIL, REFUSED and silence apart.
 *
 * co_resolve() (net.h) answers "where do I connect"; this answers "what
 * does each resolver say", which the DNS checks compare. A batch of
 * queries goes out at once: one c-ares channel per distinct server (a
 * channel with several servers would fail over between them, and the
 * question is what each one says), all driven by one poll loop bounded
 * by the deadline and the cancel flag.
 */
#ifndef CUTOVER_DNS_H
#define CUTOVER_DNS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/net.h"
#include "cutover/util.h"

/* Record types, as on the wire (arpa/nameser.h's ns_t_*). */
enum { CO_DNS_A = 1, CO_DNS_NS = 2, CO_DNS_CNAME = 5, CO_DNS_AAAA = 28 };

/* One resource record of an answer section. */
struct co_dns_rr {
    char *name; /* owner, without the trailing dot */
    int type;
    uint32_t ttl;
    char *data; /* address text, or target name; "" for other types */
};

struct co_dns_answer {
    int rcode; /* 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ... */
    struct co_dns_rr *v;
    size_t n;
};

/* Parses a raw DNS response (header, question, answer section) into
 * out. Pure: no network, no c-ares state. Returns 0, or -1 with a reason
 * in err (out is then empty). */
int co_dns_parse(const unsigned char *buf, size_t len,
                 struct co_dns_answer *out, char *err, size_t errlen);
void co_dns_answer_free(struct co_dns_answer *a);
/* "A", "AAAA", "CNAME", "NS", or "TYPE<n>" in a static buffer per type
 * the tool knows ("TYPE?" otherwise). */
const char *co_dns_type_name(int type);

/* One question to one server, and what came back. */
struct co_dns_query {
    const char *name;   /* borrowed */
    int type;           /* CO_DNS_* */
    const char *server; /* "ip" / "ip:port" / "[v6]:port"; NULL: system */

    /* Filled by co_dns_run. status: CO_NET_OK (an answer, possibly
     * without a record of the type asked: NODATA), CO_NET_NOTFOUND
     * (NXDOMAIN), CO_NET_DNSFAIL (SERVFAIL, bad reply), CO_NET_REFUSED,
     * CO_NET_TIMEOUT, CO_NET_CANCELLED, CO_NET_ERROR. */
    enum co_net_err status;
    char err[256];
    struct co_dns_answer ans;
    bool done; /* private to co_dns_run */
};

/* Sends every query concurrently and waits for all answers, the deadline
 * or the cancel flag. Per-query outcomes land in q[i]. Returns CO_NET_OK
 * when the batch ran (whatever each query got), CO_NET_CANCELLED, or
 * CO_NET_ERROR with a reason when a channel could not start (bad server
 * string). */
enum co_net_err co_dns_run(struct co_dns_query *q, size_t n, int64_t deadline,
                           const atomic_int *cancel, char *err, size_t errlen);
void co_dns_queries_free(struct co_dns_query *q, size_t n);

/* Lower-cases name and drops one trailing dot, in place. */
void co_dns_name_norm(char *name);
/* Case-insensitive name equality, ignoring one trailing dot on either. */
bool co_dns_name_eq(const char *a, const char *b);

#endif
