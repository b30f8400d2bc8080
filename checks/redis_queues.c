/*
 * redis_queues.c - the `redis.queues` check: are the job queues safe to
 * cut over (pre), and were they drained with nothing lost (post)?
 *
 * Each framework's key layout is a table row, not code: where the queue
 * names are listed (a set, key-name discovery by SCAN, Celery's kombu
 * bindings), and which keys hold what for each queue and globally, with
 * a role that decides the verdict:
 *   PENDING   work waiting to run (Sidekiq queue:NAME, BullMQ wait, ...)
 *   INFLIGHT  work taken by a worker and not acknowledged (Celery unacked,
 *             RQ wip, BullMQ active)
 *   MOVED     work that must move with the data (retry, dead, scheduled,
 *             failed): counts equal on both sides after the cutover
 *   WORKERS   registered worker processes (Sidekiq `processes`)
 * One case per key (named by the key, as people know it), with both
 * depths. pre: a key that holds jobs on both sides means both sides'
 * workers would run them (`fail`); jobs only on the target are `warn`.
 * post: every source PENDING/INFLIGHT key must be empty (`fail` naming
 * the key and the count), MOVED counts must be equal.
 *
 * Queue names are the union of the config's `queues` param and what both
 * sides list. Counting is one pipelined round trip per side.
 *
 * Baseline snapshots (baseline.h): a side's facts are the queue names it
 * knew and the depth of each key (struct item's count[side]), as JSON.
 * Taking a snapshot asks the recorded side only; the other side, the same
 * server, mirrors it. Against a baseline, the side it stands for is read
 * back and never contacted, and the verdicts are the usual ones. A key
 * the snapshot has no depth for (a queue it did not know) is an `error`.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/baseline.h"
#include "cutover/check.h"
#include "cutover/redis.h"

static const struct co_param redis_queues_params[] = {
    {"queues", CO_P_LIST, NULL,
     "queue names to check in addition to the ones each side lists"},
    {"namespace", CO_P_STRING, NULL,
     "key prefix of the framework's keys (Sidekiq redis-namespace "
     "\"myapp\" -> myapp:queue:default); default: the framework's own "
     "(resque, bull, rq) or none"},
    {0},
};

enum qrole { Q_PENDING, Q_INFLIGHT, Q_MOVED, Q_WORKERS };
enum qtype { T_LIST, T_ZSET, T_SET, T_HASH };

/* A key of the layout; "{q}" in key stands for the queue name. */
struct qkey {
    const char *key;
    enum qtype type;
    enum qrole role;
};

struct qframework {
    const char *name;
    const char *prefix;        /* default namespace, or NULL */
    const char *queues_set;    /* set listing queue names, or NULL */
    const char *member_strip;  /* strip from set members ("queue:") */
    const char *discover_tail; /* SCAN MATCH "*<tail>" names queues */
    const char *default_queue; /* always checked, or NULL */
    bool kombu;                /* Celery: names from _kombu.binding.* */
    bool priority_lists;       /* Celery: NAME\x06\x16N lists too */
    const struct qkey *per_queue;
    const struct qkey *global;
};

static const struct qkey sidekiq_q[] = {
    {"queue:{q}", T_LIST, Q_PENDING},
    {0},
};
static const struct qkey sidekiq_g[] = {
    {"schedule", T_ZSET, Q_MOVED},
    {"retry", T_ZSET, Q_MOVED},
    {"dead", T_ZSET, Q_MOVED},
    {"processes", T_SET, Q_WORKERS},
    {0},
};
static const struct qkey resque_q[] = {
    {"queue:{q}", T_LIST, Q_PENDING},
    {0},
};
static const struct qkey resque_g[] = {
    {"failed", T_LIST, Q_MOVED},
    {"workers", T_SET, Q_WORKERS},
    {0},
};
static const struct qkey celery_q[] = {
    {"{q}", T_LIST, Q_PENDING},
    {0},
};
static const struct qkey celery_g[] = {
    {"unacked", T_HASH, Q_INFLIGHT},
    {0},
};
static const struct qkey bullmq_q[] = {
    {"{q}:wait", T_LIST, Q_PENDING},
    {"{q}:paused", T_LIST, Q_PENDING},
    {"{q}:prioritized", T_ZSET, Q_PENDING},
    {"{q}:active", T_LIST, Q_INFLIGHT},
    {"{q}:delayed", T_ZSET, Q_MOVED},
    {"{q}:failed", T_ZSET, Q_MOVED},
    {0},
};
static const struct qkey rq_q[] = {
    {"queue:{q}", T_LIST, Q_PENDING},   {"wip:{q}", T_ZSET, Q_INFLIGHT},
    {"scheduled:{q}", T_ZSET, Q_MOVED}, {"deferred:{q}", T_ZSET, Q_MOVED},
    {"failed:{q}", T_ZSET, Q_MOVED},    {0},
};
static const struct qkey none_g[] = {{0}};

static const struct qframework frameworks[] = {
    {"sidekiq", NULL, "queues", NULL, NULL, "default", false, false, sidekiq_q,
     sidekiq_g},
    {"resque", "resque", "queues", NULL, NULL, NULL, false, false, resque_q,
     resque_g},
    {"celery", NULL, NULL, NULL, NULL, "celery", true, true, celery_q,
     celery_g},
    {"bullmq", "bull", NULL, NULL, ":meta", NULL, false, false, bullmq_q,
     none_g},
    {"rq", "rq", "queues", "queue:", NULL, NULL, false, false, rq_q, none_g},
};

/* ---- keys and counts -------------------------------------------------- */

#define MAX_SUBKEYS 10

/* One case: a key (Celery: plus its priority lists) on both sides. */
struct item {
    char *name;              /* the key as people read it */
    char *keys[MAX_SUBKEYS]; /* full key names, summed */
    int nkeys;
    enum qtype type;
    enum qrole role;
    long long count[2];
    char err[2][256]; /* a per-key error reply (WRONGTYPE), or no depth in
                         the baseline */
};

struct items {
    struct item *v;
    size_t n, cap;
};

/* ns + ":" + key with "{q}" replaced by the queue name. */
static char *expand(const char *ns, const char *key, const char *q)
{
    struct co_buf b;
    const char *at = strstr(key, "{q}");

    co_buf_init(&b);
    if (ns != NULL && ns[0] != '\0')
        co_buf_addf(&b, "%s:", ns);
    if (at == NULL) {
        co_buf_puts(&b, key);
    } else {
        co_buf_add(&b, key, (size_t)(at - key));
        co_buf_puts(&b, q);
        co_buf_puts(&b, at + 3);
    }
    return co_buf_take(&b);
}

static void items_add(struct items *it, const struct qframework *fw,
                      const char *ns, const struct qkey *k, const char *q)
{
    struct item *x;

    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 16;
        it->v = co_realloc(it->v, it->cap * sizeof(*it->v));
    }
    x = &it->v[it->n++];
    memset(x, 0, sizeof(*x));
    x->name = expand(ns, k->key, q ? q : "");
    x->keys[x->nkeys++] = co_strdup(x->name);
    x->type = k->type;
    x->role = k->role;
    /* Celery keeps priorities 1..9 in NAME\x06\x16N next to NAME. */
    if (fw->priority_lists && q != NULL)
        for (int p = 1; p <= 9; p++)
            x->keys[x->nkeys++] = co_asprintf("%s\x06\x16%d", x->name, p);
}

static void items_free(struct items *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->v[i].name);
        for (int k = 0; k < it->v[i].nkeys; k++)
            free(it->v[i].keys[k]);
    }
    free(it->v);
}

static const char *count_cmd(enum qtype t)
{
    static const char *const cmds[] = {[T_LIST] = "LLEN",
                                       [T_ZSET] = "ZCARD",
                                       [T_SET] = "SCARD",
                                       [T_HASH] = "HLEN"};
    return cmds[t];
}

/* Adds a depth a server reported. A broken or hostile server's numbers
 * must not overflow the sum (undefined behaviour): it saturates. */
static long long add_depth(long long sum, long long n)
{
    if (n > 0 && sum > LLONG_MAX - n)
        return LLONG_MAX;
    if (n < 0 && sum < LLONG_MIN - n)
        return LLONG_MIN;
    return sum + n;
}

/* Every count of one side in one pipelined round trip. */
static int count_side(struct co_redis *r, struct items *it, int side)
{
    for (size_t i = 0; i < it->n; i++)
        for (int k = 0; k < it->v[i].nkeys; k++)
            co_redis_appendl(r, count_cmd(it->v[i].type), it->v[i].keys[k],
                             NULL);
    for (size_t i = 0; i < it->n; i++) {
        struct item *x = &it->v[i];
        for (int k = 0; k < x->nkeys; k++) {
            redisReply *rep;
            if (co_redis_get_reply(r, &rep) < 0)
                return -1;
            if (rep->type == REDIS_REPLY_INTEGER)
                x->count[side] = add_depth(x->count[side], rep->integer);
            else if (x->err[side][0] == '\0')
                snprintf(x->err[side], sizeof(x->err[side]), "%s: %s %s: %s",
                         r->side, count_cmd(x->type), x->keys[k],
                         rep->type == REDIS_REPLY_ERROR ? rep->str
                                                        : "unexpected reply");
            freeReplyObject(rep);
        }
    }
    return 0;
}

/* ---- queue discovery -------------------------------------------------- */

static void add_name(struct co_strlist *names, const char *s, size_t len,
                     const char *strip)
{
    char *n = co_strndup(s, len);
    const char *v = n;
    size_t sl = strip ? strlen(strip) : 0;

    if (sl > 0 && strncmp(v, strip, sl) == 0)
        v += sl;
    if (v[0] != '\0' && !co_strlist_has(names, v))
        co_strlist_add(names, v);
    free(n);
}

/* SSCAN (set members) or SCAN MATCH (key names) until the cursor is 0;
 * fn gets each element. */
static int scan_all(struct co_redis *r, const char *cmd, const char *key,
                    const char *match,
                    void (*fn)(const redisReply *e, void *p), void *payload)
{
    char cursor[32] = "0";

    do {
        redisReply *rep =
            key != NULL
                ? co_redis_call(r, cmd, key, cursor, "COUNT", "1000", NULL)
                : co_redis_call(r, cmd, cursor, "MATCH", match, "COUNT",
                                "1000", NULL);
        if (rep == NULL)
            return -1;
        /* WRONGTYPE and the like, or a reply not shaped like [cursor,
         * [members]]: no names */
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return 0;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++)
            if (rep->element[1]->element[i]->type == REDIS_REPLY_STRING)
                fn(rep->element[1]->element[i], payload);
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

struct disc {
    struct co_strlist *names;
    const char *strip; /* leading text to drop */
    size_t tail;       /* trailing bytes to drop */
};

static void disc_member(const redisReply *e, void *p)
{
    struct disc *d = p;

    if (e->len > d->tail)
        add_name(d->names, e->str, e->len - d->tail, d->strip);
}

/* kombu binding members are "routing_key\x06\x16pattern\x06\x16queue". */
static void disc_kombu_key(const redisReply *e, void *p)
{
    struct disc *d = p;
    const char *q = e->str;
    const char *s = strstr(q, "\x06\x16");

    while (s != NULL) {
        q = s + 2;
        s = strstr(q, "\x06\x16");
    }
    if (q != e->str)
        add_name(d->names, q, strlen(q), NULL);
}

struct kombu {
    struct co_redis *r;
    struct co_strlist bindings;
};

static void kombu_binding(const redisReply *e, void *p)
{
    struct kombu *k = p;

    co_strlist_add(&k->bindings, e->str);
}

static int discover_kombu(struct co_redis *r, struct co_strlist *names)
{
    struct kombu k = {r, {NULL, 0}};
    struct disc d = {names, NULL, 0};
    int rc = scan_all(r, "SCAN", NULL, "_kombu.binding.*", kombu_binding, &k);

    for (size_t i = 0; rc == 0 && i < k.bindings.n; i++)
        rc = scan_all(r, "SSCAN", k.bindings.v[i], NULL, disc_kombu_key, &d);
    co_strlist_free(&k.bindings);
    return rc;
}

static int discover(struct co_redis *r, const struct qframework *fw,
                    const char *ns, struct co_strlist *names)
{
    int rc = 0;

    if (fw->queues_set != NULL) {
        char *key = expand(ns, fw->queues_set, NULL);
        char *strip =
            fw->member_strip ? expand(ns, fw->member_strip, NULL) : NULL;
        struct disc d = {names, strip, 0};
        rc = scan_all(r, "SSCAN", key, NULL, disc_member, &d);
        free(key);
        free(strip);
    }
    if (rc == 0 && fw->discover_tail != NULL) {
        char *match = expand(ns, "*", NULL);
        char *glob = co_asprintf("%s%s", match, fw->discover_tail);
        char *strip = expand(ns, "", NULL);
        struct disc d = {names, strip, strlen(fw->discover_tail)};
        rc = scan_all(r, "SCAN", NULL, glob, disc_member, &d);
        free(match);
        free(glob);
        free(strip);
    }
    if (rc == 0 && fw->kombu)
        rc = discover_kombu(r, names);
    return rc;
}

/* ---- baseline facts --------------------------------------------------- */

/* {"framework": "sidekiq", "namespace": null, "queues": ["default", ...],
 * "depths": {"queue:default": 3, "retry": 0, ...}}: side `side` of it. */
static json_t *facts_json(const struct qframework *fw, const char *ns,
                          const struct co_strlist *names,
                          const struct items *it, int side)
{
    json_t *q = json_array(), *d = json_object();

    for (size_t i = 0; i < names->n; i++)
        json_array_append_new(q, json_string(names->v[i]));
    for (size_t i = 0; i < it->n; i++)
        if (it->v[i].err[side][0] == '\0')
            json_object_set_new(d, it->v[i].name,
                                json_integer(it->v[i].count[side]));
    return json_pack("{s:s, s:s?, s:o, s:o}", "framework", fw->name,
                     "namespace", ns, "queues", q, "depths", d);
}

/* Checks the facts are of that shape and were taken with the same
 * framework and namespace, then adds their queue names to names.
 * -1 with the reason in why. */
static int facts_names(json_t *f, const struct qframework *fw, const char *ns,
                       struct co_strlist *names, char *why, size_t whylen)
{
    const char *bfw, *bns;
    json_t *q, *d, *v, *jns = NULL;
    size_t i;

    if (json_unpack(f, "{s:s, s?o, s:o, s:o}", "framework", &bfw, "namespace",
                    &jns, "queues", &q, "depths", &d) < 0 ||
        !json_is_array(q) || !json_is_object(d) ||
        !(jns == NULL || json_is_null(jns) || json_is_string(jns))) {
        snprintf(why, whylen,
                 "holds no queue depths (was it taken with another config "
                 "or cutover version?)");
        return -1;
    }
    bns = json_string_value(jns); /* NULL for null */
    if (strcmp(bfw, fw->name) != 0 ||
        strcmp(bns ? bns : "", ns ? ns : "") != 0) {
        snprintf(why, whylen,
                 "was taken with queues: %s (namespace \"%s\"); the config "
                 "now says queues: %s (namespace \"%s\")",
                 bfw, bns ? bns : "", fw->name, ns ? ns : "");
        return -1;
    }
    json_array_foreach(q, i, v)
    {
        if (json_is_string(v) && !co_strlist_has(names, json_string_value(v)))
            co_strlist_add(names, json_string_value(v));
    }
    return 0;
}

/* Side `side` of every item from the facts; an item they have no depth
 * for gets a per-item error. */
static void facts_depths(struct co_run *run, json_t *f, struct items *it,
                         int side)
{
    json_t *d = json_object_get(f, "depths");
    char label[160];

    co_run_baseline_label(run, label, sizeof(label));
    for (size_t i = 0; i < it->n; i++) {
        struct item *x = &it->v[i];
        json_t *v = json_object_get(d, x->name);
        if (json_is_integer(v))
            x->count[side] = json_integer_value(v);
        else
            snprintf(x->err[side], sizeof(x->err[side]),
                     "%s holds no depth for %s (taken with another config, "
                     "or before this queue existed?)",
                     label, x->name);
    }
}

/* ---- verdicts --------------------------------------------------------- */

static void verdict_pre(struct co_run *run, const struct item *x,
                        const char *sv, const char *tv)
{
    long long s = x->count[0], t = x->count[1];

    if (x->role == Q_WORKERS || t == 0)
        co_case_addf(run, CO_PASS, x->name, sv, tv,
                     "%s: source %lld, "
                     "target %lld",
                     x->name, s, t);
    else if (s > 0)
        co_case_addf(run, CO_FAIL, x->name, sv, tv,
                     "%s: target already holds %lld jobs while the source "
                     "holds %lld: workers on both sides would run them "
                     "(double processing)",
                     x->name, t, s);
    else
        co_case_addf(run, CO_WARN, x->name, sv, tv,
                     "%s: target already holds %lld jobs before the cutover "
                     "(source 0)",
                     x->name, t);
}

static void verdict_post(struct co_run *run, const struct item *x,
                         const char *sv, const char *tv)
{
    long long s = x->count[0], t = x->count[1];

    switch (x->role) {
    case Q_PENDING:
    case Q_INFLIGHT:
        if (s > 0)
            co_case_addf(run, CO_FAIL, x->name, sv, tv,
                         "%s: source still holds %lld %s jobs (target "
                         "%lld): workers not drained, jobs left behind",
                         x->name, s,
                         x->role == Q_PENDING ? "pending" : "in-flight", t);
        else
            co_case_addf(run, CO_PASS, x->name, sv, tv,
                         "%s: source drained (0), target %lld", x->name, t);
        break;
    case Q_MOVED:
        if (s != t)
            co_case_addf(run, CO_FAIL, x->name, sv, tv,
                         "%s: source %lld, target %lld: entries did not "
                         "all move",
                         x->name, s, t);
        else
            co_case_addf(run, CO_PASS, x->name, sv, tv,
                         "%s: %lld on both sides", x->name, s);
        break;
    case Q_WORKERS:
        if (s > 0)
            co_case_addf(run, CO_WARN, x->name, sv, tv,
                         "%s: %lld worker processes still registered on the "
                         "source (still running?); target %lld",
                         x->name, s, t);
        else
            co_case_addf(run, CO_PASS, x->name, sv, tv,
                         "%s: no workers left on the source; target %lld",
                         x->name, t);
        break;
    }
}

static void report(struct co_run *run, const struct items *it)
{
    for (size_t i = 0; i < it->n; i++) {
        const struct item *x = &it->v[i];
        char sv[32], tv[32];

        if (x->err[0][0] != '\0' || x->err[1][0] != '\0') {
            co_case_addf(run, CO_ERROR, x->name, NULL, NULL, "%s",
                         x->err[0][0] ? x->err[0] : x->err[1]);
            continue;
        }
        snprintf(sv, sizeof(sv), "%lld", x->count[0]);
        snprintf(tv, sizeof(tv), "%lld", x->count[1]);
        if (co_run_is_post(run))
            verdict_post(run, x, sv, tv);
        else
            verdict_pre(run, x, sv, tv);
    }
}

/* ---- the check -------------------------------------------------------- */

static const struct qframework *framework_find(const char *name)
{
    for (size_t i = 0; i < sizeof(frameworks) / sizeof(frameworks[0]); i++)
        if (strcmp(frameworks[i].name, name) == 0)
            return &frameworks[i];
    return NULL;
}

static void build_items(struct items *it, const struct qframework *fw,
                        const char *ns, const struct co_strlist *names)
{
    for (size_t q = 0; q < names->n; q++)
        for (const struct qkey *k = fw->per_queue; k->key != NULL; k++)
            items_add(it, fw, ns, k, names->v[q]);
    for (const struct qkey *k = fw->global; k->key != NULL; k++)
        items_add(it, fw, ns, k, NULL);
}

static int run_framework(struct co_run *run, const struct qframework *fw,
                         struct co_redis *r[2],
                         const enum co_side_origin from[2])
{
    const char *ns = co_param_string(run, "namespace");
    const struct co_strlist *declared = co_param_list(run, "queues");
    struct co_strlist names = {NULL, 0};
    struct items it = {NULL, 0, 0};
    json_t *facts = co_run_fact(run, "queues");
    char why[CO_ERRLEN], label[160];
    int rc = 0;

    if (ns == NULL)
        ns = fw->prefix;
    if (fw->default_queue != NULL)
        co_strlist_add(&names, fw->default_queue);
    for (size_t i = 0; i < declared->n; i++)
        if (!co_strlist_has(&names, declared->v[i]))
            co_strlist_add(&names, declared->v[i]);
    for (int i = 0; i < 2 && rc == 0; i++) {
        if (from[i] == CO_SIDE_LIVE && discover(r[i], fw, ns, &names) < 0)
            rc = co_redis_case_error(run, "queues", r[i]) < 0 ? -1 : 1;
        if (from[i] == CO_SIDE_BASELINE &&
            facts_names(facts, fw, ns, &names, why, sizeof(why)) < 0) {
            co_run_baseline_label(run, label, sizeof(label));
            rc = co_case_addf(run, CO_ERROR, "queues", NULL, NULL, "%s %s",
                              label, why) < 0
                     ? -1
                     : 1;
        }
    }
    if (rc == 0) {
        build_items(&it, fw, ns, &names);
        for (int i = 0; i < 2 && rc == 0; i++) {
            if (from[i] == CO_SIDE_LIVE && count_side(r[i], &it, i) < 0)
                rc = co_redis_case_error(run, "queues", r[i]) < 0 ? -1 : 1;
            if (from[i] == CO_SIDE_BASELINE)
                facts_depths(run, facts, &it, i);
        }
    }
    for (int i = 0; i < 2 && rc == 0; i++)
        if (from[i] == CO_SIDE_MIRROR)
            for (size_t k = 0; k < it.n; k++) {
                struct item *x = &it.v[k];
                x->count[i] = x->count[1 - i];
                memcpy(x->err[i], x->err[1 - i], sizeof(x->err[i]));
            }
    if (rc == 0 && co_run_recording(run))
        co_run_fact_put(run, "queues",
                        facts_json(fw, ns, &names, &it, co_run_anchor(run)));
    if (rc == 0 && it.n == 0) /* a verdict, not an empty suite */
        co_case_addf(run, CO_PASS, "queues", NULL, NULL,
                     "no %s queue found on either side and none declared",
                     fw->name);
    else if (rc == 0)
        report(run, &it);
    items_free(&it);
    co_strlist_free(&names);
    return 0;
}

static int redis_queues_run(struct co_run *run)
{
    const char *q = run->res->queues;
    const struct qframework *fw;
    struct co_redis *r[2] = {NULL, NULL};
    enum co_side_origin from[2];

    if (q == NULL || q[0] == '\0' || strcmp(q, "none") == 0) {
        co_case_addf(run, CO_SKIP, "queues", NULL, NULL,
                     "no job queue framework configured (queues: none)");
        return 0;
    }
    fw = framework_find(q);
    if (fw == NULL) {
        co_case_addf(run, CO_ERROR, "queues", NULL, NULL,
                     "unknown queue framework \"%s\" (sidekiq, resque, "
                     "celery, bullmq, rq)",
                     q);
        return 0;
    }
    co_run_origins(run, from);
    co_redis_pair_connect(run, run->deadline, r);
    if (from[0] == CO_SIDE_LIVE && (r[0] == NULL || r[0]->err != CO_REDIS_OK))
        co_redis_case_error(run, "queues", r[0]);
    else if (from[1] == CO_SIDE_LIVE &&
             (r[1] == NULL || r[1]->err != CO_REDIS_OK))
        co_redis_case_error(run, "queues", r[1]);
    else
        run_framework(run, fw, r, from);
    co_redis_free(r[0]);
    co_redis_free(r[1]);
    return 0;
}

const struct co_check co_check_redis_queues = {
    .id = "redis.queues",
    .summary = "queue depths per framework; post: source queues drained, "
               "nothing lost",
    .kind = CO_KIND_REDIS,
    .phases = CO_PRE | CO_POST,
    .params = redis_queues_params,
    .run = redis_queues_run,
    .flags = CO_CHECK_PAIR | CO_CHECK_SNAPSHOT,
};
