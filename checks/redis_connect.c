/*
 * redis_connect.c - the `redis.connect` check: can each configured side
 * of a redis resource be reached, does it answer PING, which server is
 * it (Redis or Valkey, and which version), and is the session encrypted
 * (and was the certificate verified)?
 *
 * One case per side, named `source` / `target`. Both sides connect at
 * once, so a silent side cannot use up the time the other needs. A side
 * that cannot be reached is `error` with the layer's precise reason
 * (refused, TLS handshake or certificate, authentication, timeout). A
 * session without TLS, or with TLS but no verification, is `warn`: the
 * person reading the report must know the traffic was not protected as
 * they may assume.
 */
#include <stdio.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/redis.h"
#include "sides.h"

/* "Redis 7.0.15" or "Valkey 8.0.1", from INFO server. */
static void server_name(const char *info, char *out, size_t outlen)
{
    char v[64], name[32];

    if (co_redis_info_field(info, "valkey_version", v, sizeof(v)) == 0) {
        snprintf(out, outlen, "Valkey %s", v);
        return;
    }
    if (co_redis_info_field(info, "server_name", name, sizeof(name)) == 0 &&
        co_redis_info_field(info, "redis_version", v, sizeof(v)) == 0) {
        snprintf(out, outlen, "%s %s",
                 strcmp(name, "valkey") == 0 ? "Valkey" : name, v);
        return;
    }
    if (co_redis_info_field(info, "redis_version", v, sizeof(v)) == 0)
        snprintf(out, outlen, "Redis %s", v);
    else
        snprintf(out, outlen, "unknown server");
}

/* PING then INFO server, pipelined. Returns 0 with the version in ver. */
static int probe(struct co_run *run, const char *name, struct co_redis *r,
                 char *ver, size_t verlen)
{
    redisReply *ping = NULL, *info = NULL;
    int rc = -1;

    co_redis_appendl(r, "PING", NULL);
    co_redis_appendl(r, "INFO", "server", NULL);
    if (co_redis_get_reply(r, &ping) < 0 || co_redis_get_reply(r, &info) < 0) {
        co_redis_case_error(run, name, r);
    } else if (ping->type == REDIS_REPLY_ERROR) {
        co_case_addf(run, CO_ERROR, name, NULL, NULL, "%s: PING failed: %s",
                     r->side, ping->str);
    } else if (info->type != REDIS_REPLY_STRING) {
        co_case_addf(run, CO_ERROR, name, NULL, NULL,
                     "%s: INFO server failed: %s", r->side,
                     info->type == REDIS_REPLY_ERROR ? info->str
                                                     : "unexpected reply");
    } else {
        server_name(info->str, ver, verlen);
        rc = 0;
    }
    freeReplyObject(ping);
    freeReplyObject(info);
    return rc;
}

static void report_side(struct co_run *run, const char *name,
                        struct co_redis *r)
{
    char ver[96];
    bool src = strcmp(name, "source") == 0;

    if (r == NULL || r->err != CO_REDIS_OK) {
        co_redis_case_error(run, name, r);
        return;
    }
    if (probe(run, name, r, ver, sizeof(ver)) < 0)
        return;
    if (!r->tls)
        co_case_addf(run, CO_WARN, name, src ? ver : NULL, src ? NULL : ver,
                     "%s, PING ok, connected without TLS (redis://) in "
                     "%.1f ms",
                     ver, r->connect_ms);
    else if (!r->tls_verified)
        co_case_addf(run, CO_WARN, name, src ? ver : NULL, src ? NULL : ver,
                     "%s, PING ok, TLS (%s, not verified: tls_verify: "
                     "false), connected in %.1f ms",
                     ver, r->tls_version, r->connect_ms);
    else
        co_case_addf(run, CO_PASS, name, src ? ver : NULL, src ? NULL : ver,
                     "%s, PING ok, TLS (%s, verified), connected in %.1f ms",
                     ver, r->tls_version, r->connect_ms);
}

static int redis_connect_run(struct co_run *run)
{
    const char *url[2] = {run->res->source, run->res->target};
    const char *names[2] = {"source", "target"};
    struct co_redis *r[2] = {NULL, NULL};

    if (co_sides_configured(run) < 0)
        return -1;
    co_redis_pair_connect(run, co_sides_connect_deadline(run), r);
    for (int i = 0; i < 2; i++) {
        if (url[i] == NULL)
            continue;
        report_side(run, names[i], r[i]);
        co_redis_free(r[i]);
    }
    return 0;
}

const struct co_check co_check_redis_connect = {
    .id = "redis.connect",
    .summary = "both sides reachable, PING, server version, TLS in use and "
               "verified",
    .kind = CO_KIND_REDIS,
    .phases = CO_ALL,
    .params = NULL, /* none */
    .run = redis_connect_run,
    .flags = CO_CHECK_ONE_SIDED,
};
