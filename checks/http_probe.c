/*
 * http_probe.c - the `http.probe` check on `endpoints:`: does the app
 * answer as it should after the cutover, and how fast?
 *
 * The status must be expect_status (default: any 2xx or 3xx; redirects
 * are not followed unless follow_redirects, so a 302 to a login page is
 * seen as a 302), the body must contain expect_body when given, and the
 * message breaks the latency down (resolve, connect, TLS, first byte,
 * total) so a slow answer points at DNS, the network, TLS or the app.
 * A server that accepts and never answers fails with "timed out" within
 * the task deadline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/http.h"

static const struct co_param http_params[] = {
    {"timeout", CO_P_DURATION, NULL,
     "request deadline (default: the task deadline, settings.timeout)"},
    {0},
};

static int64_t request_deadline(const struct co_run *run)
{
    return co_deadline_cap(run->deadline,
                           co_param_duration_ms(run, "timeout"));
}

static void latency(struct co_buf *b, const struct co_http_resp *r)
{
    co_buf_addf(b,
                "resolve %.1f ms, connect %.1f ms, TLS %.1f ms, first byte "
                "%.1f ms, total %.1f ms",
                r->resolve_ms, r->connect_ms, r->tls_ms, r->first_byte_ms,
                r->total_ms);
}

static bool status_ok(const struct co_resource *res, long status)
{
    if (res->expect_status > 0)
        return status == res->expect_status;
    return status >= 200 && status < 400;
}

static void verdict(struct co_run *run, const struct co_http_resp *r)
{
    const struct co_resource *res = run->res;
    const char *name = res->url;
    struct co_buf lat;
    char want[32];

    co_buf_init(&lat);
    latency(&lat, r);
    if (res->expect_status > 0)
        snprintf(want, sizeof(want), "%d", res->expect_status);
    else
        snprintf(want, sizeof(want), "2xx/3xx");
    if (!status_ok(res, r->status))
        co_case_addf(run, CO_FAIL, name, NULL, NULL,
                     "HTTP %ld, expected %s, from %s (%s)", r->status, want,
                     r->addr, lat.s);
    else if (res->expect_body != NULL &&
             strstr(r->body, res->expect_body) == NULL)
        co_case_addf(run, CO_FAIL, name, NULL, NULL,
                     "HTTP %ld but the body does not contain \"%s\" (%zu "
                     "bytes read) from %s (%s)",
                     r->status, res->expect_body, r->body_len, r->addr, lat.s);
    else
        co_case_addf(run, CO_PASS, name, NULL, NULL,
                     "HTTP %ld%s from %s in %.1f ms (%s)", r->status,
                     res->expect_body != NULL ? ", body matches" : "", r->addr,
                     r->total_ms + r->resolve_ms, lat.s);
    co_buf_free(&lat);
}

/* The subject of http.probe is the HTTP answer. An endpoint that
 * answered something that is not HTTP failed (CO_NET_ERROR: a bad status
 * line, a reset mid-response); one that could not be reached, did not
 * answer in time, or whose TLS handshake failed was never looked at:
 * error (tls.cert judges the certificate and the handshake). */
static enum co_status failure_status(enum co_net_err e)
{
    return e == CO_NET_ERROR ? CO_FAIL : CO_ERROR;
}

static int http_probe_run(struct co_run *run)
{
    const struct co_resource *res = run->res;
    struct co_http_req req;
    struct co_http_resp resp;
    char err[CO_ERRLEN];
    enum co_net_err rc;

    memset(&req, 0, sizeof(req));
    req.url = res->url;
    req.method = res->method;
    req.headers = &res->headers;
    req.follow_redirects = res->follow_redirects;
    req.verify = res->tls_verify;
    req.ca_file = res->ca_file;
    req.connect_to = res->connect_to;
    req.resolvers = &run->cfg->settings.resolvers;
    rc = co_http_do(&req, request_deadline(run), run->cancel, &resp, err,
                    sizeof(err));
    if (rc == CO_NET_CANCELLED || co_run_cancelled(run)) {
        co_http_resp_free(&resp);
        snprintf(run->errstr, sizeof(run->errstr), "interrupted");
        return -1;
    }
    if (rc == CO_NET_OK)
        verdict(run, &resp);
    else
        co_case_addf(run, failure_status(rc), res->url, NULL, NULL, "%s%s%s",
                     err, res->connect_to ? " via " : "",
                     res->connect_to ? res->connect_to : "");
    co_http_resp_free(&resp);
    return 0;
}

const struct co_check co_check_http_probe = {
    .id = "http.probe",
    .summary = "status as expected, latency reported, optional body match",
    .kind = CO_KIND_ENDPOINT,
    .phases = CO_POST,
    .params = http_params,
    .run = http_probe_run,
    .flags = CO_CHECK_ONE_SIDED,
};
