/*
 * net_egress.c - the `net.egress` check: is the public IP this machine's
 * traffic leaves from inside the outbound pool that third parties
 * allowlist (the Aptible stack's NAT addresses)?
 *
 * It asks an echo service (`egress.url`, answering the caller's address
 * as plain text or as JSON {"ip": ...}) and holds the answer against
 * `expect_cidrs`. When the echo service cannot be asked, or answers
 * something that is not an address, the check could not look: `error`,
 * not `fail`.
 *
 * An https echo URL is verified like an endpoint: against the system
 * store or `ca_file:`, unless `tls_verify: false`, which the message then
 * says.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/http.h"

#define IP_TEXT 64

/* The address in the body: the first line, trimmed, or the "ip" (or
 * "origin") member of a JSON object. Empty when there is none. */
static void body_ip(const char *body, char *out, size_t outlen)
{
    const char *s = body, *e;

    out[0] = '\0';
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (*s == '{') {
        json_t *j = json_loads(s, 0, NULL);
        const char *v = json_string_value(json_object_get(j, "ip"));
        if (v == NULL)
            v = json_string_value(json_object_get(j, "origin"));
        snprintf(out, outlen, "%s", v != NULL ? v : "");
        json_decref(j);
        return;
    }
    e = s + strcspn(s, "\r\n");
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    snprintf(out, outlen, "%.*s", (int)(e - s), s);
}

/* Parses an address into bytes; returns its length (4 or 16) or 0. */
static int addr_bytes(const char *s, unsigned char *b)
{
    if (inet_pton(AF_INET, s, b) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, b) == 1)
        return 16;
    return 0;
}

/* Is ip (len bytes) inside "net/bits"? */
static bool in_cidr(const unsigned char *ip, int len, const char *cidr)
{
    char net[IP_TEXT];
    const char *slash = strchr(cidr, '/');
    unsigned char nb[16];
    long bits;
    char *end;

    if (slash == NULL || (size_t)(slash - cidr) >= sizeof(net))
        return false;
    snprintf(net, sizeof(net), "%.*s", (int)(slash - cidr), cidr);
    if (addr_bytes(net, nb) != len)
        return false;
    bits = strtol(slash + 1, &end, 10);
    if (*end != '\0' || bits < 0 || bits > len * 8)
        return false;
    for (long i = 0; i < bits; i++) {
        unsigned char m = (unsigned char)(0x80u >> (i % 8));
        if ((ip[i / 8] & m) != (nb[i / 8] & m))
            return false;
    }
    return true;
}

/* "; TLS verification off (tls_verify: false)" for an unverified https
 * echo URL, else "". */
static const char *verify_note(const struct co_resource *res)
{
    if (res->tls_verify || res->url == NULL ||
        strncmp(res->url, "https:", 6) != 0)
        return "";
    return "; TLS verification off (tls_verify: false)";
}

static void verdict(struct co_run *run, const char *ip, const char *body)
{
    const struct co_strlist *cidrs = &run->res->expect_cidrs;
    const char *note = verify_note(run->res);
    unsigned char b[16];
    int len = addr_bytes(ip, b);
    struct co_buf all;

    if (len == 0) {
        co_case_addf(run, CO_ERROR, "egress IP", NULL, NULL,
                     "%s answered \"%.60s\", which is not an IP address",
                     run->res->url, body);
        return;
    }
    if (cidrs->n == 0) {
        co_case_addf(run, CO_PASS, "egress IP", NULL, NULL,
                     "egress IP %s (no expect_cidrs to compare with)%s", ip,
                     note);
        return;
    }
    for (size_t i = 0; i < cidrs->n; i++)
        if (in_cidr(b, len, cidrs->v[i])) {
            co_case_addf(run, CO_PASS, "egress IP", NULL, NULL,
                         "egress IP %s is within %s%s", ip, cidrs->v[i], note);
            return;
        }
    co_buf_init(&all);
    for (size_t i = 0; i < cidrs->n; i++)
        co_buf_addf(&all, "%s%s", i > 0 ? ", " : "", cidrs->v[i]);
    co_case_addf(run, CO_FAIL, "egress IP", NULL, NULL,
                 "egress IP %s is not in the expected outbound pool (%s): "
                 "third-party allowlists will refuse it%s",
                 ip, all.s, note);
    co_buf_free(&all);
}

static int net_egress_run(struct co_run *run)
{
    const struct co_resource *res = run->res;
    struct co_http_req req;
    struct co_http_resp resp;
    char err[CO_ERRLEN], ip[IP_TEXT];
    enum co_net_err rc;

    memset(&req, 0, sizeof(req));
    req.url = res->url;
    req.verify = res->tls_verify;
    req.ca_file = res->ca_file;
    req.resolvers = &run->cfg->settings.resolvers;
    req.max_body = 4096;
    rc = co_http_do(&req, run->deadline, run->cancel, &resp, err, sizeof(err));
    if (rc == CO_NET_CANCELLED || co_run_cancelled(run)) {
        co_http_resp_free(&resp);
        snprintf(run->errstr, sizeof(run->errstr), "interrupted");
        return -1;
    }
    if (rc != CO_NET_OK)
        co_case_addf(run, CO_ERROR, "egress IP", NULL, NULL,
                     "could not ask %s: %s%s", res->url, err,
                     strstr(err, "certificate") != NULL && res->tls_verify
                         ? " (a private CA? set ca_file:, or tls_verify: "
                           "false)"
                         : "");
    else if (resp.status < 200 || resp.status > 299)
        co_case_addf(run, CO_ERROR, "egress IP", NULL, NULL,
                     "%s answered HTTP %ld", res->url, resp.status);
    else {
        body_ip(resp.body, ip, sizeof(ip));
        verdict(run, ip, resp.body);
    }
    co_http_resp_free(&resp);
    return 0;
}

const struct co_check co_check_net_egress = {
    .id = "net.egress",
    .summary = "the public IP the world sees is in the expected outbound "
               "pool",
    .kind = CO_KIND_EGRESS,
    .phases = CO_PRE | CO_POST,
    .params = NULL,
    .run = net_egress_run,
    .flags = CO_CHECK_ONE_SIDED,
};
