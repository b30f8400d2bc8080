/*
 * tls_cert.c - the `tls.cert` check on `endpoints:`: is the endpoint's
 * certificate one browsers will accept, for long enough?
 *
 * The handshake uses the URL's host for SNI and the name check, even
 * when `connect_to:` dials elsewhere: that is how the Aptible endpoint
 * is checked under the custom domain before DNS moves. Each problem is
 * its own verdict with its own word (expired, wrong host, unknown CA,
 * self-signed, expiring soon, too old), and every message names
 * subject, issuer, SAN, expiry, protocol and cipher, so the report
 * alone shows which certificate was served.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutover/check.h"
#include "cutover/net.h"
#include "cutover/tls.h"

/* Where to dial and which name to ask for. */
struct target {
    struct co_url url;
    char *dial_host; /* connect_to's host, else the URL's */
    int dial_port;
    int port;   /* the URL's */
    char *name; /* the case name: "host:port" of the URL */
};

static void target_free(struct target *t)
{
    co_url_free(&t->url);
    free(t->dial_host);
    free(t->name);
}

/* Returns 0, or -1 after adding a case that says why not. */
static int target_init(struct co_run *run, struct target *t)
{
    const struct co_resource *res = run->res;
    char err[CO_ERRLEN];

    memset(t, 0, sizeof(*t));
    if (res->url == NULL ||
        co_url_parse(res->url, &t->url, err, sizeof(err)) < 0) {
        co_case_addf(run, CO_ERROR, res->name, NULL, NULL, "bad url: %s",
                     res->url ? err : "none");
        return -1;
    }
    t->port = t->url.port > 0 ? t->url.port : 443;
    t->name = co_asprintf("%s:%d", t->url.host, t->port);
    if (strcmp(t->url.scheme, "https") != 0) {
        co_case_addf(run, CO_SKIP, t->name, NULL, NULL,
                     "not an https URL: no certificate to check");
        return -1;
    }
    if (res->connect_to == NULL) {
        t->dial_host = co_strdup(t->url.host);
        t->dial_port = t->port;
    } else if (co_hostport_split(res->connect_to, t->port, &t->dial_host,
                                 &t->dial_port) < 0) {
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "bad connect_to \"%s\"", res->connect_to);
        return -1;
    }
    return 0;
}

static enum co_status connect_status(enum co_net_err e)
{
    switch (e) {
    case CO_NET_NOTFOUND:
    case CO_NET_REFUSED:
    case CO_NET_TIMEOUT:
    case CO_NET_UNREACH:
        return CO_FAIL;
    default:
        return CO_ERROR;
    }
}

/* "subject ...; issuer ...; SAN ...; expires ... (N days); TLSv1.2 X" */
static void details(struct co_buf *b, const struct co_tls_info *i)
{
    co_buf_addf(b,
                "subject %s; issuer %s; SAN %s; expires %s (%d days); %s "
                "%s",
                i->subject, i->issuer, i->san[0] ? i->san : "(none)",
                i->not_after, i->days_left, i->protocol, i->cipher);
}

/* The verification problems, in words; empty when none. */
static void problems(struct co_buf *b, const struct co_tls_info *i,
                     const char *host)
{
    if (i->problems & CO_TLS_EXPIRED)
        co_buf_addf(b, "certificate expired on %s (%d days ago); ",
                    i->not_after, -i->days_left);
    if (i->problems & CO_TLS_NOT_YET_VALID)
        co_buf_puts(b, "certificate not yet valid; ");
    if (i->problems & CO_TLS_WRONG_HOST)
        co_buf_addf(b,
                    "wrong host: certificate does not match %s "
                    "(hostname mismatch); ",
                    host);
    if (i->problems & CO_TLS_SELF_SIGNED)
        co_buf_puts(b, "self-signed certificate; ");
    if (i->problems & CO_TLS_UNKNOWN_CA)
        co_buf_addf(b, "unknown CA: issuer %s is not trusted (%s); ",
                    i->issuer, i->verify_msg);
    if (i->problems & CO_TLS_OTHER)
        co_buf_addf(b, "certificate not trusted: %s; ", i->verify_msg);
}

static void verdict(struct co_run *run, const struct target *t,
                    const struct co_tls_info *i)
{
    const struct co_resource *res = run->res;
    int min_days = res->cert_min_days;
    int min_ver = co_tls_version_parse(res->tls_min_version);
    struct co_buf why, info;
    enum co_status st = CO_PASS;

    co_buf_init(&why);
    co_buf_init(&info);
    co_buf_puts(&why, "");
    details(&info, i);
    if (res->tls_verify)
        problems(&why, i, t->url.host);
    else if (i->days_left < 0)
        co_buf_addf(&why, "certificate expired on %s; ", i->not_after);
    if (why.len > 0)
        st = CO_FAIL;
    if (min_ver > 0 && i->version < min_ver) {
        co_buf_addf(&why, "protocol %s too old (tls_min_version %s); ",
                    i->protocol, res->tls_min_version);
        st = CO_FAIL;
    }
    if (i->days_left >= 0 && i->days_left < min_days) {
        co_buf_addf(&why,
                    "expiring soon: %d days left, under cert_min_days "
                    "%d; ",
                    i->days_left, min_days);
        st = CO_FAIL;
    } else if (i->days_left >= 0 && i->days_left < 2 * min_days) {
        co_buf_addf(&why,
                    "expiring soon: %d days left, under twice "
                    "cert_min_days %d; ",
                    i->days_left, min_days);
        st = co_status_worse(st, CO_WARN);
    }
    if (!res->tls_verify)
        co_buf_puts(&why, "verification off (tls_verify: false); ");
    co_case_addf(run, st, t->name, NULL, NULL, "%s%s%s%s%s", why.s,
                 res->connect_to ? "via " : "",
                 res->connect_to ? res->connect_to : "",
                 res->connect_to ? ": " : "", info.s);
    co_buf_free(&why);
    co_buf_free(&info);
}

static int tls_cert_run(struct co_run *run)
{
    struct target t;
    struct co_tls_info info;
    struct co_tls_opts o;
    char err[CO_ERRLEN];
    enum co_net_err rc;
    bool dialled = false;
    int fd = -1;

    if (target_init(run, &t) < 0) {
        target_free(&t);
        return 0;
    }
    rc = co_tcp_dial(t.dial_host, t.dial_port, &run->cfg->settings.resolvers,
                     run->deadline, run->cancel, &fd, err, sizeof(err));
    if (rc == CO_NET_OK) {
        dialled = true;
        o.host = t.url.host;
        o.ca_file = run->res->ca_file;
        rc = co_tls_inspect(fd, &o, run->deadline, run->cancel, &info, err,
                            sizeof(err));
        close(fd);
    }
    if (rc == CO_NET_CANCELLED || co_run_cancelled(run)) {
        target_free(&t);
        snprintf(run->errstr, sizeof(run->errstr), "interrupted");
        return -1;
    }
    if (rc == CO_NET_OK)
        verdict(run, &t, &info);
    else
        co_case_addf(run, dialled ? CO_FAIL : connect_status(rc), t.name, NULL,
                     NULL, "could not check the certificate: %s", err);
    target_free(&t);
    return 0;
}

const struct co_check co_check_tls_cert = {
    .id = "tls.cert",
    .summary = "chain valid, hostname matches, days to expiry >= min, "
               "protocol >= min",
    .kind = CO_KIND_ENDPOINT,
    .phases = CO_PRE | CO_POST,
    .params = NULL,
    .run = tls_cert_run,
    .flags = CO_CHECK_ONE_SIDED,
};
