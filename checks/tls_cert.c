/*
 * tls_cert.c - the `tls.cert` check: is the certificate one clients will
 * accept, for long enough? It runs on every endpoint, and on postgres and
 * redis resources with `tls: true`, where it looks at the database hosts
 * of both sides (one case each, "source" and "target").
 *
 * Endpoints: the handshake uses the URL's host for SNI and the name
 * check, even when `connect_to:` dials elsewhere: that is how the Aptible
 * endpoint is checked under the custom domain before DNS moves.
 * PostgreSQL: the SSLRequest first (core/tls.c's start step), then the
 * same handshake; an 'N' answer is a `fail`, "server refuses TLS".
 * Redis: TLS from the first byte on the URL's host and port, whether
 * the URL says rediss:// or redis:// (tls: true says the host speaks
 * TLS). Both sides are looked at concurrently, so a silent source does
 * not eat the target's time.
 *
 * Each problem is its own verdict with its own word (expired, wrong
 * host, unknown CA, self-signed, expiring soon, too old), and every
 * message names subject, issuer, SAN, expiry, protocol and cipher, so
 * the report alone shows which certificate was served.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cutover/baseline.h"
#include "cutover/check.h"
#include "cutover/net.h"
#include "cutover/tls.h"

/* Defaults where the config has no key for them (postgres, redis). */
#define DEFAULT_MIN_DAYS    14
#define DEFAULT_MIN_VERSION "1.2"
/* How long a redis:// port may take to answer a plain-text PING. */
#define SNIFF_MS 2000

/* One certificate to look at, and what came of it. */
struct target {
    char *name;      /* the case name: the URL's "host:port", or the side */
    char *sni;       /* SNI and the name the certificate must match */
    char *dial_host; /* where to connect */
    int dial_port;
    char *ca_file; /* NULL: the system's store */
    enum co_tls_start start;
    char *where;      /* message prefix, "" or "via X: " or "Redis h:p: " */
    const char *hint; /* added to failed handshakes; may be NULL */
    bool sniff;       /* redis://: ask in plain text first (see sniff) */

    const struct co_run *run;
    bool ready; /* initialised; no case added yet */
    bool dialled;
    enum co_net_err rc;
    struct co_tls_info info;
    char err[CO_ERRLEN];
};

static void target_free(struct target *t)
{
    free(t->name);
    free(t->sni);
    free(t->dial_host);
    free(t->ca_file);
    free(t->where);
}

/* ---- what to dial ------------------------------------------------------- */

/* Returns 0, or -1 after adding a case that says why not. */
static int endpoint_init(struct co_run *run, struct target *t)
{
    const struct co_resource *res = run->res;
    struct co_url url;
    char err[CO_ERRLEN];
    int port, rc = 0;

    if (res->url == NULL ||
        co_url_parse(res->url, &url, err, sizeof(err)) < 0) {
        co_case_addf(run, CO_ERROR, res->name, NULL, NULL, "bad url: %s",
                     res->url ? err : "none");
        return -1;
    }
    port = url.port > 0 ? url.port : 443;
    t->name = co_asprintf("%s:%d", url.host, port);
    t->sni = co_strdup(url.host);
    t->ca_file = res->ca_file ? co_strdup(res->ca_file) : NULL;
    if (strcmp(url.scheme, "https") != 0) {
        co_case_addf(run, CO_SKIP, t->name, NULL, NULL,
                     "not an https URL: no certificate to check");
        rc = -1;
    } else if (res->connect_to == NULL) {
        t->dial_host = co_strdup(url.host);
        t->dial_port = port;
        t->where = co_strdup("");
    } else if (co_hostport_split(res->connect_to, port, &t->dial_host,
                                 &t->dial_port) < 0) {
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "bad connect_to \"%s\"", res->connect_to);
        rc = -1;
    } else {
        t->where = co_asprintf("via %s: ", res->connect_to);
    }
    co_url_free(&url);
    return rc;
}

static char *opt_value(const PQconninfoOption *o, const char *key)
{
    for (; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, key) == 0 && o->val != NULL && o->val[0])
            return co_strdup(o->val);
    return NULL;
}

static int port_value(const char *s, int def)
{
    char *end;
    long v;

    if (s == NULL)
        return def;
    v = strtol(s, &end, 10);
    return *end == '\0' && v >= 1 && v <= 65535 ? (int)v : -1;
}

/* A PostgreSQL side, parsed with libpq's own parser so that every form
 * libpq accepts (host= in the query, hostaddr, sslrootcert) means here
 * what it means to pg.connect. */
static int pg_init(struct co_run *run, struct target *t, const char *url)
{
    PQconninfoOption *o = PQconninfoParse(url, NULL);
    char *host, *hostaddr, *port, *root;
    int rc = -1;

    if (o == NULL) {
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "invalid PostgreSQL URL");
        return -1;
    }
    host = opt_value(o, "host");
    hostaddr = opt_value(o, "hostaddr");
    port = opt_value(o, "port");
    root = opt_value(o, "sslrootcert");
    PQconninfoFree(o);
    t->dial_port = port_value(port, 5432);
    if (host == NULL && hostaddr == NULL)
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "tls: true, but the URL names no host (a local "
                     "socket has no TLS)");
    else if (host != NULL && host[0] == '/')
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "tls: true, but the URL connects over the local "
                     "socket %s, which has no TLS",
                     host);
    else if (strchr(host ? host : hostaddr, ',') != NULL)
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "tls.cert needs one host; the URL lists \"%s\"",
                     host ? host : hostaddr);
    else if (t->dial_port < 0)
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "tls.cert needs one port; the URL has \"%s\"", port);
    else
        rc = 0;
    if (rc == 0) {
        t->sni = co_strdup(host ? host : hostaddr);
        t->dial_host = co_strdup(hostaddr ? hostaddr : host);
        t->where = co_asprintf("PostgreSQL %s:%d: ", t->sni, t->dial_port);
        t->start = CO_TLS_PG_SSLREQUEST;
        /* ca_file wins; else the CA the URL gives libpq, if a file */
        if (run->res->ca_file != NULL)
            t->ca_file = co_strdup(run->res->ca_file);
        else if (root != NULL && strcmp(root, "system") != 0)
            t->ca_file = co_strdup(root);
    }
    free(host);
    free(hostaddr);
    free(port);
    free(root);
    return rc;
}

static int redis_init(struct co_run *run, struct target *t, const char *url)
{
    struct co_url u;
    char err[CO_ERRLEN];

    if (co_url_parse(url, &u, err, sizeof(err)) < 0) {
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "invalid Redis URL: %s", err);
        return -1;
    }
    t->sni = co_strdup(u.host);
    t->dial_host = co_strdup(u.host);
    t->dial_port = u.port > 0 ? u.port : 6379;
    t->where = co_asprintf("Redis %s:%d: ", u.host, t->dial_port);
    t->ca_file = run->res->ca_file ? co_strdup(run->res->ca_file) : NULL;
    t->sniff = strcmp(u.scheme, "rediss") != 0;
    t->hint = " (does this port speak TLS?)";
    co_url_free(&u);
    return 0;
}

static int side_init(struct co_run *run, struct target *t, const char *side,
                     const char *url)
{
    t->name = co_strdup(side);
    if (run->res->kind == CO_KIND_POSTGRES)
        return pg_init(run, t, url);
    return redis_init(run, t, url);
}

/* ---- looking ------------------------------------------------------------ */

/* Does the first byte of a reply look like RESP (+OK, -ERR, :1, $, *)? */
static bool resp_byte(unsigned char c)
{
    return c != '\0' && strchr("+-:$*", c) != NULL;
}

/* A redis:// URL with tls: true says "plain-text URL, TLS port", which
 * only a TLS handshake can confirm; but a plain-text Redis never answers
 * a ClientHello (it waits for a line that never ends), so the handshake
 * would only time out. The URL promises plain text, so ask it first as
 * any client of that URL would: one PING. A Redis reply means no TLS
 * here, a clear `fail` in milliseconds; a TLS server drops the
 * connection at once, and silence for SNIFF_MS is not Redis either:
 * then the handshake decides. Returns 1 plain text, 0 go on, -1 an error
 * in t (could not connect, interrupted). */
static int sniff(struct target *t)
{
    const struct co_run *run = t->run;
    int64_t until = co_now_ms() + SNIFF_MS;
    unsigned char c = 0;
    ssize_t n = -1;
    int fd = -1, w;

    t->rc =
        co_tcp_dial(t->dial_host, t->dial_port, &run->cfg->settings.resolvers,
                    run->deadline, run->cancel, &fd, t->err, sizeof(t->err));
    if (t->rc != CO_NET_OK)
        return -1;
    if (until > run->deadline)
        until = run->deadline;
    if (send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
        w = co_wait_fd(fd, POLLIN, until, run->cancel);
        if (w > 0)
            n = recv(fd, &c, 1, 0);
        else if (w < 0 && errno == ECANCELED)
            t->rc = CO_NET_CANCELLED;
    }
    close(fd);
    if (t->rc == CO_NET_CANCELLED) {
        snprintf(t->err, sizeof(t->err), "interrupted");
        return -1;
    }
    if (n != 1 || !resp_byte(c))
        return 0;
    t->dialled = true;
    t->rc = CO_NET_ERROR;
    t->hint = NULL;
    snprintf(t->err, sizeof(t->err),
             "no TLS: the port answers plain-text Redis (it replied to a "
             "PING without a handshake); tls: true wants the server's TLS "
             "port, e.g. a rediss:// URL");
    return 1;
}

static void probe(struct target *t)
{
    const struct co_run *run = t->run;
    struct co_tls_opts o;
    int fd = -1;

    if (t->sniff && sniff(t) != 0)
        return;
    t->rc =
        co_tcp_dial(t->dial_host, t->dial_port, &run->cfg->settings.resolvers,
                    run->deadline, run->cancel, &fd, t->err, sizeof(t->err));
    if (t->rc != CO_NET_OK)
        return;
    t->dialled = true;
    memset(&o, 0, sizeof(o));
    o.host = t->sni;
    o.ca_file = t->ca_file;
    o.start = t->start;
    t->rc = co_tls_inspect(fd, &o, run->deadline, run->cancel, &t->info,
                           t->err, sizeof(t->err));
    close(fd);
}

static void probe_one(void *ctx, size_t i)
{
    struct target *t = (struct target *)ctx + i;

    if (t->ready)
        probe(t);
}

/* Probes every ready target, all at once. */
static void probe_all(struct target *t, size_t n)
{
    co_parallel(n, n, probe_one, t);
}

/* ---- the verdict -------------------------------------------------------- */

/* The subject of tls.cert is the TLS service: its certificate and its
 * handshake. A port that answered and whose handshake failed, or that
 * speaks no TLS, failed; one that could not be reached or resolved, or
 * that never answered, was not looked at: error. */
static enum co_status probe_status(const struct target *t)
{
    if (!t->dialled || t->rc == CO_NET_TIMEOUT || t->rc == CO_NET_CANCELLED)
        return CO_ERROR;
    return CO_FAIL;
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

/* cert_min_days and tls_min_version: the endpoint's, else the defaults
 * (postgres and redis resources have no such keys yet). */
static int min_days(const struct co_resource *res)
{
    if (res->kind == CO_KIND_ENDPOINT || res->cert_min_days > 0)
        return res->cert_min_days;
    return DEFAULT_MIN_DAYS;
}

static const char *min_version(const struct co_resource *res)
{
    return res->tls_min_version ? res->tls_min_version : DEFAULT_MIN_VERSION;
}

static void verdict(struct co_run *run, const struct target *t)
{
    const struct co_resource *res = run->res;
    const struct co_tls_info *i = &t->info;
    int days = min_days(res);
    const char *minv = min_version(res);
    int min_ver = co_tls_version_parse(minv);
    struct co_buf why, info;
    enum co_status st = CO_PASS;

    co_buf_init(&why);
    co_buf_init(&info);
    co_buf_puts(&why, "");
    details(&info, i);
    if (res->tls_verify)
        problems(&why, i, t->sni);
    else if (i->days_left < 0)
        co_buf_addf(&why, "certificate expired on %s; ", i->not_after);
    if (why.len > 0)
        st = CO_FAIL;
    if (min_ver > 0 && i->version < min_ver) {
        co_buf_addf(&why, "protocol %s too old (tls_min_version %s); ",
                    i->protocol, minv);
        st = CO_FAIL;
    }
    if (i->days_left >= 0 && i->days_left < days) {
        co_buf_addf(&why,
                    "expiring soon: %d days left, under cert_min_days "
                    "%d; ",
                    i->days_left, days);
        st = CO_FAIL;
    } else if (i->days_left >= 0 && i->days_left < 2 * days) {
        co_buf_addf(&why,
                    "expiring soon: %d days left, under twice "
                    "cert_min_days %d; ",
                    i->days_left, days);
        st = co_status_worse(st, CO_WARN);
    }
    if (!res->tls_verify)
        co_buf_puts(&why, "verification off (tls_verify: false); ");
    co_case_addf(run, st, t->name, NULL, NULL, "%s%s%s", why.s, t->where,
                 info.s);
    co_buf_free(&why);
    co_buf_free(&info);
}

static void report(struct co_run *run, const struct target *t)
{
    if (t->rc == CO_NET_OK)
        verdict(run, t);
    else if (probe_status(t) == CO_ERROR)
        co_case_addf(run, CO_ERROR, t->name, NULL, NULL,
                     "%scould not check the certificate: %s", t->where,
                     t->err);
    else
        co_case_addf(run, CO_FAIL, t->name, NULL, NULL, "%sTLS failed: %s%s",
                     t->where, t->err, t->hint ? t->hint : "");
}

/* ---- baseline snapshots (baseline.h) ---------------------------------------
 */

/* Taking a snapshot, an endpoint's certificate is kept (fingerprint,
 * names, expiry); against a baseline, a renewal (same subject and
 * issuer) passes and a different certificate warns, naming both. */
static void since_baseline(struct co_run *run, const struct co_tls_info *i)
{
    json_t *was = co_run_fact(run, "cert");
    const char *fp, *subj, *iss, *exp;
    char when[160];
    char *name;

    co_run_fact_put(run, "cert",
                    json_pack("{s:s, s:s, s:s, s:s}", "fingerprint",
                              i->fingerprint, "subject", i->subject, "issuer",
                              i->issuer, "not_after", i->not_after));
    if (was == NULL)
        return;
    co_run_baseline_label(run, when, sizeof(when));
    fp = json_string_value(json_object_get(was, "fingerprint"));
    subj = json_string_value(json_object_get(was, "subject"));
    iss = json_string_value(json_object_get(was, "issuer"));
    exp = json_string_value(json_object_get(was, "not_after"));
    name = co_asprintf("%s since baseline", run->res->name);
    if (fp == NULL || subj == NULL || iss == NULL || exp == NULL)
        co_run_baseline_lacks(run, name, "certificate of this endpoint");
    else if (strcmp(fp, i->fingerprint) == 0)
        co_case_addf(run, CO_PASS, name, NULL, NULL,
                     "same certificate as %s (SHA-256 %.23s..., expires %s)",
                     when, fp, exp);
    else if (strcmp(subj, i->subject) == 0 && strcmp(iss, i->issuer) == 0)
        co_case_addf(run, CO_PASS, name, exp, i->not_after,
                     "renewed since %s: same subject and issuer, expiry %s "
                     "-> %s",
                     when, exp, i->not_after);
    else
        co_case_addf(run, CO_WARN, name, fp, i->fingerprint,
                     "certificate changed since %s: subject %s -> %s, "
                     "issuer %s -> %s, expiry %s -> %s",
                     when, subj, i->subject, iss, i->issuer, exp,
                     i->not_after);
    free(name);
}

static int tls_cert_run(struct co_run *run)
{
    const struct co_resource *res = run->res;
    struct target t[2];
    size_t n = 0;
    bool cancelled = false;

    memset(t, 0, sizeof(t));
    if (res->kind == CO_KIND_ENDPOINT) {
        t[n].run = run;
        t[n].ready = endpoint_init(run, &t[n]) == 0;
        n++;
    } else {
        /* a side a baseline stands for (or that mirrors the recorded
         * side while a snapshot is taken) is not dialled */
        const char *url[2] = {co_run_live_url(run, true),
                              co_run_live_url(run, false)};
        const char *side[2] = {"source", "target"};

        for (size_t s = 0; s < 2; s++) {
            if (url[s] == NULL)
                continue;
            t[n].run = run;
            t[n].ready = side_init(run, &t[n], side[s], url[s]) == 0;
            n++;
        }
    }
    probe_all(t, n);
    for (size_t i = 0; i < n; i++)
        cancelled = cancelled || (t[i].ready && t[i].rc == CO_NET_CANCELLED);
    for (size_t i = 0; i < n && !cancelled && !co_run_cancelled(run); i++)
        if (t[i].ready)
            report(run, &t[i]);
    if (res->kind == CO_KIND_ENDPOINT && n == 1 && t[0].ready &&
        t[0].rc == CO_NET_OK && !cancelled)
        since_baseline(run, &t[0].info);
    for (size_t i = 0; i < n; i++)
        target_free(&t[i]);
    if (cancelled || co_run_cancelled(run)) {
        snprintf(run->errstr, sizeof(run->errstr), "interrupted");
        return -1;
    }
    return 0;
}

/* Endpoints always; postgres and redis resources when they say tls: true. */
static bool tls_cert_applies(const struct co_resource *res)
{
    switch (res->kind) {
    case CO_KIND_ENDPOINT:
        return true;
    case CO_KIND_POSTGRES:
    case CO_KIND_REDIS:
        return res->tls;
    default:
        return false;
    }
}

const struct co_check co_check_tls_cert = {
    .id = "tls.cert",
    .summary = "chain valid, hostname matches, days to expiry >= min, "
               "protocol >= min",
    .kind = CO_KIND_ENDPOINT,
    .phases = CO_PRE | CO_POST,
    .params = NULL,
    .run = tls_cert_run,
    .flags = CO_CHECK_ONE_SIDED | CO_CHECK_SNAPSHOT,
    .applies = tls_cert_applies,
    .runs_on = "endpoint resources, and postgres/redis resources with "
               "tls: true",
};
