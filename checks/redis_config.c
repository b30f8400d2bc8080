/*
 * redis_config.c - the `redis.config` check: is each side configured so
 * that a job queue survives on it?
 *
 * Two questions per side, one case each ("target maxmemory-policy",
 * "target persistence"):
 * - eviction: with a job queue on the resource (`queues:` other than
 *   none), any maxmemory-policy but `noeviction` lets Redis drop queued
 *   jobs under memory pressure: `fail`. Without queues it is reported.
 * - persistence: neither AOF nor RDB snapshots means a restart loses
 *   every queued job: `warn` (with queues).
 * Managed Redis often renames or forbids CONFIG; then the eviction policy
 * is still read from INFO memory (a real verdict beats none), and
 * persistence, which INFO cannot tell reliably, is `skip` with the reason.
 */
#include <stdio.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/redis.h"
#include "sides.h"

struct side_conf {
    char policy[64];
    char appendonly[16];
    char save[128];
    bool config_ok;
    char config_err[256]; /* why CONFIG GET was refused */
    bool policy_from_info;
};

static bool has_queues(const struct co_run *run)
{
    const char *q = run->res->queues;

    return q != NULL && q[0] != '\0' && strcmp(q, "none") != 0;
}

/* The value of a CONFIG GET reply ([name, value]); false when refused. */
static bool config_value(const redisReply *rep, char *out, size_t outlen,
                         char *err, size_t errlen)
{
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s", rep->str);
        return false;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
        rep->element[1]->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "unexpected reply to CONFIG GET");
        return false;
    }
    snprintf(out, outlen, "%s", rep->element[1]->str);
    return true;
}

/* CONFIG GET x3, pipelined; INFO memory as the fallback for the policy.
 * Returns 0, or -1 when the connection failed (r->err set). */
static int read_conf(struct co_redis *r, struct side_conf *c)
{
    static const char *const keys[] = {"maxmemory-policy", "appendonly",
                                       "save"};
    char *vals[] = {c->policy, c->appendonly, c->save};
    size_t lens[] = {sizeof(c->policy), sizeof(c->appendonly),
                     sizeof(c->save)};
    redisReply *rep;

    c->config_ok = true;
    for (int i = 0; i < 3; i++)
        co_redis_appendl(r, "CONFIG", "GET", keys[i], NULL);
    for (int i = 0; i < 3; i++) {
        if (co_redis_get_reply(r, &rep) < 0)
            return -1;
        if (!config_value(rep, vals[i], lens[i], c->config_err,
                          sizeof(c->config_err)))
            c->config_ok = false;
        freeReplyObject(rep);
    }
    if (c->config_ok)
        return 0;
    rep = co_redis_call(r, "INFO", "memory", NULL);
    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_STRING &&
        co_redis_info_field(rep->str, "maxmemory_policy", c->policy,
                            sizeof(c->policy)) == 0)
        c->policy_from_info = true;
    freeReplyObject(rep);
    return 0;
}

static void report_policy(struct co_run *run, const char *side,
                          const struct side_conf *c, bool queues)
{
    char name[64];
    bool src = strcmp(side, "source") == 0;
    const char *from = c->policy_from_info ? " (from INFO memory; CONFIG "
                                             "GET unavailable)"
                                           : "";

    snprintf(name, sizeof(name), "%s maxmemory-policy", side);
    if (!c->config_ok && !c->policy_from_info) {
        co_case_addf(run, CO_SKIP, name, NULL, NULL,
                     "%s: CONFIG GET unavailable (%s), and INFO does not "
                     "say: managed Redis often renames CONFIG",
                     side, c->config_err);
        return;
    }
    if (!queues || strcmp(c->policy, "noeviction") == 0) {
        co_case_addf(run, CO_PASS, name, src ? c->policy : NULL,
                     src ? NULL : c->policy, "%s maxmemory-policy is %s%s%s",
                     side, c->policy, from,
                     queues ? "" : " (no job queue configured)");
        return;
    }
    co_case_addf(run, CO_FAIL, name, src ? c->policy : NULL,
                 src ? NULL : c->policy,
                 "%s maxmemory-policy is %s%s: an evicting policy drops "
                 "queued jobs under memory pressure; set noeviction",
                 side, c->policy, from);
}

static void report_persistence(struct co_run *run, const char *side,
                               const struct side_conf *c, bool queues)
{
    char name[64], val[200];
    bool src = strcmp(side, "source") == 0;
    bool aof = strcmp(c->appendonly, "yes") == 0;
    bool rdb = c->save[0] != '\0';

    snprintf(name, sizeof(name), "%s persistence", side);
    if (!c->config_ok) {
        co_case_addf(run, CO_SKIP, name, NULL, NULL,
                     "%s: CONFIG GET unavailable (%s): persistence not "
                     "checked (managed Redis often renames CONFIG)",
                     side, c->config_err);
        return;
    }
    snprintf(val, sizeof(val), "appendonly %s, save \"%s\"", c->appendonly,
             c->save);
    if (aof || rdb)
        co_case_addf(run, CO_PASS, name, src ? val : NULL, src ? NULL : val,
                     "%s persistence on: %s%s%s", side, aof ? "AOF" : "",
                     aof && rdb ? " and " : "", rdb ? "RDB snapshots" : "");
    else
        co_case_addf(run, queues ? CO_WARN : CO_PASS, name, src ? val : NULL,
                     src ? NULL : val,
                     "%s persistence off (%s): a restart loses %s", side, val,
                     queues ? "every queued job" : "all data");
}

static int redis_config_run(struct co_run *run)
{
    const char *url[2] = {run->res->source, run->res->target};
    const char *names[2] = {"source", "target"};
    struct co_redis *r[2] = {NULL, NULL};
    bool queues = has_queues(run);

    if (co_sides_configured(run) < 0)
        return -1;
    co_redis_pair_connect(run, co_sides_connect_deadline(run), r);
    /* Target first: it is the side the cutover moves to. */
    for (int k = 1; k >= 0; k--) {
        struct side_conf c;
        char name[64];

        if (url[k] == NULL)
            continue;
        memset(&c, 0, sizeof(c));
        snprintf(name, sizeof(name), "%s maxmemory-policy", names[k]);
        if (r[k] == NULL || r[k]->err != CO_REDIS_OK ||
            read_conf(r[k], &c) < 0) {
            co_redis_case_error(run, name, r[k]);
            continue;
        }
        report_policy(run, names[k], &c, queues);
        report_persistence(run, names[k], &c, queues);
    }
    co_redis_free(r[0]);
    co_redis_free(r[1]);
    return 0;
}

const struct co_check co_check_redis_config = {
    .id = "redis.config",
    .summary = "eviction policy safe for queues (noeviction), persistence on",
    .kind = CO_KIND_REDIS,
    .phases = CO_PRE,
    .params = NULL, /* none */
    .run = redis_config_run,
    .flags = CO_CHECK_ONE_SIDED,
};
