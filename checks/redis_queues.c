/*
 * redis_queues.c - the `redis.queues` check: are the job queues safe to
 * cut over (pre), and were they drained with nothing lost (post)?
 *
 * Each framework's key layout is a table row, not code: where the queue
 * names are listed (a set, key-name discovery by SCAN, Celery's kombu
 * bindings), and which keys hold what for each queue and globally, with
 * a role that decides the verdict (enum qrole):
 *   PENDING   work waiting to run (Sidekiq queue:NAME, BullMQ wait, ...)
 *   INFLIGHT  work taken by a worker and not acknowledged (Celery unacked,
 *             RQ wip, BullMQ active)
 *   MOVED     work that runs by itself when due (scheduled, retry,
 *             delayed) and must move with the data
 *   KEPT      work that never runs by itself (dead, failed) and must move
 *   HISTORY   finished jobs kept as a record (BullMQ completed, RQ
 *             finished): counted, never a failure
 *   WORKERS   registered worker processes (Sidekiq `processes`)
 * One case per key (named by the key, as people know it), with both
 * depths, counted with the commands the framework's own API counts with.
 * pre: a PENDING/INFLIGHT/MOVED key that holds jobs on both sides means
 * both sides' workers would run them (`fail`); jobs only on the target
 * are `warn`. post: every source PENDING/INFLIGHT key must be empty
 * (`fail` naming the key and the count); a MOVED/KEPT key fails only when
 * the target holds fewer than the source (a source emptied after the
 * copy is "moved").
 *
 * Keys start with a prefix: `namespace` joined with ":" (the framework's
 * default when unset), or the literal `prefix` (kombu's global_keyprefix
 * need not end in ":").
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
#include <time.h>

#include "cutover/baseline.h"
#include "cutover/check.h"
#include "cutover/redis.h"

static const struct co_param redis_queues_params[] = {
    {"queues", CO_P_LIST, NULL,
     "queue names to check in addition to the ones each side lists"},
    {"namespace", CO_P_STRING, NULL,
     "key prefix of the framework's keys, joined with \":\" (Sidekiq "
     "redis-namespace \"myapp\" -> myapp:queue:default; BullMQ prefix "
     "\"{myapp}\" -> {myapp}:NAME:wait); default: the framework's own "
     "(resque, bull, rq) or none"},
    {"prefix", CO_P_STRING, NULL,
     "the literal text in front of every key, for prefixes that do not end "
     "in \":\" (kombu global_keyprefix \"myapp_\" -> myapp_celery, "
     "myapp__kombu.binding.*); instead of namespace, not with it"},
    {0},
};

/* What a key's count means for the verdict. */
enum qrole {
    Q_PENDING,  /* waiting to run: the source must be empty after */
    Q_INFLIGHT, /* taken by a worker, not acknowledged: likewise */
    Q_MOVED,    /* runs by itself when due (scheduled, retry, delayed):
                   travels with the data; pre: on both sides = run twice */
    Q_KEPT,     /* never runs by itself (dead, failed): travels */
    Q_HISTORY,  /* finished jobs kept as a record: counted, never a fail */
    Q_WORKERS   /* registered worker processes */
};

enum qtype {
    T_LIST,   /* LLEN */
    T_ZSET,   /* ZCARD */
    T_SET,    /* SCARD */
    T_HASH,   /* HLEN */
    T_ZLIVE,  /* ZCOUNT key (now +inf: RQ registries score entries by
                 expiry time, and RQ's own count drops expired ones */
    T_INDEX,  /* a zset whose members m name lists <each>m; the count is
                 the sum of their lengths (resque-scheduler delayed jobs) */
    T_SINDEX, /* a set whose members m name hashes <each>m<tail>; the count
                 is the sum of their lengths (Sidekiq's busy jobs) */
    T_SEXISTS /* a set whose members m name keys <each>m<tail>; the count
                 is how many exist (Resque's workers at work) */
};

/* A key of the layout; "{q}" in key stands for the queue name. */
struct qkey {
    const char *key;
    enum qtype type;
    enum qrole role;
    const char *label; /* case name when not the key itself, or NULL */
    const char *each;  /* T_INDEX, T_SINDEX: before the member */
    const char *tail;  /* T_SINDEX: after the member */
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

/* Sidekiq 6 (lib/sidekiq/api.rb): Queue#size is LLEN queue:NAME, the
 * sorted sets' #size ZCARD, ProcessSet#size SCARD processes; the jobs
 * running now (Sidekiq::WorkSet, "busy") are the <process>:workers
 * hashes, kept by each process's heartbeat (not namespaced members). */
static const struct qkey sidekiq_q[] = {
    {"queue:{q}", T_LIST, Q_PENDING, NULL, NULL, NULL},
    {0},
};
static const struct qkey sidekiq_g[] = {
    {"schedule", T_ZSET, Q_MOVED, NULL, NULL, NULL},
    {"retry", T_ZSET, Q_MOVED, NULL, NULL, NULL},
    {"dead", T_ZSET, Q_KEPT, NULL, NULL, NULL},
    {"processes", T_SET, Q_WORKERS, NULL, NULL, NULL},
    {"processes", T_SINDEX, Q_INFLIGHT, "busy", "", ":workers"},
    {0},
};
/* Resque, and resque-scheduler's delayed jobs: delayed:<ts> lists indexed
 * by the delayed_queue_schedule zset (whose size counts timestamps, not
 * jobs). A worker at work holds its job in worker:<member of workers>
 * (Resque.working; node-resque's workingOn). */
static const struct qkey resque_q[] = {
    {"queue:{q}", T_LIST, Q_PENDING, NULL, NULL, NULL},
    {0},
};
static const struct qkey resque_g[] = {
    {"delayed_queue_schedule", T_INDEX, Q_MOVED, "delayed:*",
     "delayed:", NULL},
    {"failed", T_LIST, Q_KEPT, NULL, NULL, NULL},
    {"workers", T_SET, Q_WORKERS, NULL, NULL, NULL},
    {"workers", T_SEXISTS, Q_INFLIGHT, "working", "worker:", ""},
    {0},
};
/* kombu's Redis transport: a queue is the list NAME plus NAME\x06\x16P
 * for each priority step; unacked messages are the unacked hash
 * (unacked_index only orders the same delivery tags by time, and kombu
 * restores nothing that is not in the hash: not counted twice). */
static const struct qkey celery_q[] = {
    {"{q}", T_LIST, Q_PENDING, NULL, NULL, NULL},
    {0},
};
static const struct qkey celery_g[] = {
    {"unacked", T_HASH, Q_INFLIGHT, NULL, NULL, NULL},
    {0},
};
/* BullMQ: every state Queue#getJobCounts() reports, same commands. */
static const struct qkey bullmq_q[] = {
    {"{q}:wait", T_LIST, Q_PENDING, NULL, NULL, NULL},
    {"{q}:paused", T_LIST, Q_PENDING, NULL, NULL, NULL},
    {"{q}:prioritized", T_ZSET, Q_PENDING, NULL, NULL, NULL},
    {"{q}:waiting-children", T_ZSET, Q_PENDING, NULL, NULL, NULL},
    {"{q}:active", T_LIST, Q_INFLIGHT, NULL, NULL, NULL},
    {"{q}:delayed", T_ZSET, Q_MOVED, NULL, NULL, NULL},
    {"{q}:failed", T_ZSET, Q_KEPT, NULL, NULL, NULL},
    {"{q}:completed", T_ZSET, Q_HISTORY, NULL, NULL, NULL},
    {0},
};
/* RQ 1.x: Queue.count is LLEN rq:queue:NAME; registries are zsets
 * whose .count first drops expired entries (wip, failed, finished);
 * Worker.count is SCARD rq:workers. */
static const struct qkey rq_q[] = {
    {"queue:{q}", T_LIST, Q_PENDING, NULL, NULL, NULL},
    {"wip:{q}", T_ZLIVE, Q_INFLIGHT, NULL, NULL, NULL},
    {"scheduled:{q}", T_ZSET, Q_MOVED, NULL, NULL, NULL},
    {"deferred:{q}", T_ZSET, Q_MOVED, NULL, NULL, NULL},
    {"failed:{q}", T_ZLIVE, Q_KEPT, NULL, NULL, NULL},
    {"finished:{q}", T_ZLIVE, Q_HISTORY, NULL, NULL, NULL},
    {"canceled:{q}", T_ZSET, Q_HISTORY, NULL, NULL, NULL},
    {0},
};
static const struct qkey rq_g[] = {
    {"workers", T_SET, Q_WORKERS, NULL, NULL, NULL},
    {0},
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
    {"rq", "rq", "queues", "queue:", NULL, NULL, false, false, rq_q, rq_g},
};

/* ---- keys and counts -------------------------------------------------- */

#define MAX_SUBKEYS 10

/* One case: a key (Celery: plus its priority lists) on both sides. */
struct item {
    char *name;              /* the key as people read it */
    char *keys[MAX_SUBKEYS]; /* full key names, summed */
    int nkeys;
    char *each;       /* T_INDEX, T_SINDEX: full key text before a member */
    const char *tail; /* T_SINDEX: after it */
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

/* pfx + key with "{q}" replaced by the queue name. */
static char *expand(const char *pfx, const char *key, const char *q)
{
    struct co_buf b;
    const char *at = strstr(key, "{q}");

    co_buf_init(&b);
    co_buf_puts(&b, pfx);
    if (at == NULL) {
        co_buf_puts(&b, key);
    } else {
        co_buf_add(&b, key, (size_t)(at - key));
        co_buf_puts(&b, q);
        co_buf_puts(&b, at + 3);
    }
    return co_buf_take(&b);
}

/* s with SCAN MATCH's glob characters escaped, then tail appended. */
static char *glob_of(const char *s, const char *tail)
{
    struct co_buf b;

    co_buf_init(&b);
    for (; *s != '\0'; s++) {
        if (strchr("*?[]\\", *s) != NULL)
            co_buf_puts(&b, "\\");
        co_buf_add(&b, s, 1);
    }
    co_buf_puts(&b, tail);
    return co_buf_take(&b);
}

static void items_add(struct items *it, const struct qframework *fw,
                      const char *pfx, const struct qkey *k, const char *q)
{
    struct item *x;

    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 16;
        it->v = co_realloc(it->v, it->cap * sizeof(*it->v));
    }
    x = &it->v[it->n++];
    memset(x, 0, sizeof(*x));
    x->name = expand(pfx, k->label ? k->label : k->key, q ? q : "");
    x->keys[x->nkeys++] = expand(pfx, k->key, q ? q : "");
    x->each = k->each ? expand(pfx, k->each, NULL) : NULL;
    x->tail = k->tail ? k->tail : "";
    x->type = k->type;
    x->role = k->role;
    /* kombu keeps priority steps in NAME\x06\x16P next to NAME (P is one
     * of its priority_steps, 3, 6 and 9 by default, any of 1..9). */
    if (fw->priority_lists && q != NULL)
        for (int p = 1; p <= 9; p++)
            x->keys[x->nkeys++] = co_asprintf("%s\x06\x16%d", x->keys[0], p);
}

static void items_free(struct items *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->v[i].name);
        free(it->v[i].each);
        for (int k = 0; k < it->v[i].nkeys; k++)
            free(it->v[i].keys[k]);
    }
    free(it->v);
}

static const char *count_cmd(enum qtype t)
{
    static const char *const cmds[] = {
        [T_LIST] = "LLEN",    [T_ZSET] = "ZCARD",   [T_SET] = "SCARD",
        [T_HASH] = "HLEN",    [T_ZLIVE] = "ZCOUNT", [T_INDEX] = "ZSCAN",
        [T_SINDEX] = "SSCAN", [T_SEXISTS] = "SSCAN"};
    return cmds[t];
}

/* Counted through an index: a scan first, then one command a member. */
static bool is_indexed(enum qtype t)
{
    return t == T_INDEX || t == T_SINDEX || t == T_SEXISTS;
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

/* Takes one reply per key of x (appended before) into side's count. */
static int take_counts(struct co_redis *r, struct item *x, int side,
                       char *const *keys, size_t nkeys, const char *cmd)
{
    for (size_t k = 0; k < nkeys; k++) {
        redisReply *rep;
        if (co_redis_get_reply(r, &rep) < 0)
            return -1;
        if (rep->type == REDIS_REPLY_INTEGER)
            x->count[side] = add_depth(x->count[side], rep->integer);
        else if (x->err[side][0] == '\0')
            snprintf(x->err[side], sizeof(x->err[side]), "%s: %s %s: %s",
                     r->side, cmd, keys[k],
                     rep->type == REDIS_REPLY_ERROR ? rep->str
                                                    : "unexpected reply");
        freeReplyObject(rep);
    }
    return 0;
}

static int scan_all(struct co_redis *r, const char *cmd, const char *key,
                    const char *match,
                    void (*fn)(const redisReply *e, void *p), void *payload);

/* Scanned members; with ZSCAN every other element is a score. */
struct members {
    struct co_strlist m;
    bool zset, score_next;
};

static void member(const redisReply *e, void *p)
{
    struct members *z = p;

    if (!z->score_next)
        co_strlist_add(&z->m, e->str);
    z->score_next = z->zset && !z->score_next;
}

/* T_INDEX / T_SINDEX / T_SEXISTS: scan the index, then LLEN / HLEN /
 * EXISTS the key each member names, in one pipelined round trip,
 * summed. */
static int count_index(struct co_redis *r, struct item *x, int side)
{
    bool zset = x->type == T_INDEX;
    const char *len = zset ? "LLEN" : x->type == T_SINDEX ? "HLEN" : "EXISTS";
    struct members z = {{NULL, 0}, zset, false};
    int rc = scan_all(r, count_cmd(x->type), x->keys[0], NULL, member, &z);
    char **keys;

    if (rc != 0) {
        if (rc > 0)
            snprintf(x->err[side], sizeof(x->err[side]), "%s: %s %s: not a %s",
                     r->side, count_cmd(x->type), x->keys[0],
                     zset ? "sorted set" : "set");
        co_strlist_free(&z.m);
        return rc < 0 ? -1 : 0;
    }
    keys = co_malloc((z.m.n + 1) * sizeof(*keys));
    for (size_t i = 0; i < z.m.n; i++) {
        keys[i] = co_asprintf("%s%s%s", x->each, z.m.v[i], x->tail);
        co_redis_appendl(r, len, keys[i], NULL);
    }
    rc = take_counts(r, x, side, keys, z.m.n, len);
    for (size_t i = 0; i < z.m.n; i++)
        free(keys[i]);
    free(keys);
    co_strlist_free(&z.m);
    return rc;
}

/* Every count of one side (of the items want marks; NULL: all) in one
 * pipelined round trip (and one more scan per indexed item). */
static int count_side(struct co_redis *r, struct items *it, int side,
                      const bool *want)
{
    char now[32];

    /* RQ drops registry entries whose expiry score is <= now (whole
     * seconds, UTC): count the others. */
    snprintf(now, sizeof(now), "(%lld", (long long)time(NULL));
    for (size_t i = 0; i < it->n; i++)
        for (int k = 0; k < it->v[i].nkeys && (!want || want[i]); k++) {
            const struct item *x = &it->v[i];
            if (x->type == T_ZLIVE)
                co_redis_appendl(r, "ZCOUNT", x->keys[k], now, "+inf", NULL);
            else if (!is_indexed(x->type))
                co_redis_appendl(r, count_cmd(x->type), x->keys[k], NULL);
        }
    for (size_t i = 0; i < it->n; i++) {
        struct item *x = &it->v[i];
        if ((!want || want[i]) && !is_indexed(x->type) &&
            take_counts(r, x, side, x->keys, (size_t)x->nkeys,
                        count_cmd(x->type)) < 0)
            return -1;
    }
    for (size_t i = 0; i < it->n; i++)
        if ((!want || want[i]) && is_indexed(it->v[i].type) &&
            count_index(r, &it->v[i], side) < 0)
            return -1;
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

/* SSCAN/ZSCAN (members) or SCAN MATCH (key names) until the cursor is
 * 0; fn gets each element. 0, or 1 when a reply is not a scan reply
 * (WRONGTYPE and the like), or -1 on a connection error. */
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
         * [members]] */
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return 1;
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

/* kombu's SADD goes through global_keyprefix: the bindings are
 * <prefix>_kombu.binding.<exchange>; their members are not prefixed. */
static int discover_kombu(struct co_redis *r, const char *pfx,
                          struct co_strlist *names)
{
    struct kombu k = {r, {NULL, 0}};
    struct disc d = {names, NULL, 0};
    char *glob = glob_of(pfx, "_kombu.binding.*");
    int rc = scan_all(r, "SCAN", NULL, glob, kombu_binding, &k);

    for (size_t i = 0; rc >= 0 && i < k.bindings.n; i++)
        rc = scan_all(r, "SSCAN", k.bindings.v[i], NULL, disc_kombu_key, &d);
    co_strlist_free(&k.bindings);
    free(glob);
    return rc < 0 ? -1 : 0;
}

/* Adds the queue names side r lists; a listing key of the wrong type
 * lists none. -1 on a connection error. */
static int discover(struct co_redis *r, const struct qframework *fw,
                    const char *pfx, struct co_strlist *names)
{
    int rc = 0;

    if (fw->queues_set != NULL) {
        char *key = expand(pfx, fw->queues_set, NULL);
        char *strip =
            fw->member_strip ? expand(pfx, fw->member_strip, NULL) : NULL;
        struct disc d = {names, strip, 0};
        rc = scan_all(r, "SSCAN", key, NULL, disc_member, &d);
        free(key);
        free(strip);
    }
    if (rc >= 0 && fw->discover_tail != NULL) {
        char *star = glob_of(pfx, "*");
        char *glob = co_asprintf("%s%s", star, fw->discover_tail);
        struct disc d = {names, pfx, strlen(fw->discover_tail)};
        rc = scan_all(r, "SCAN", NULL, glob, disc_member, &d);
        free(star);
        free(glob);
    }
    if (rc >= 0 && fw->kombu)
        rc = discover_kombu(r, pfx, names);
    return rc < 0 ? -1 : 0;
}

/* ---- where the keys live --------------------------------------------- */

/* The namespace as configured (else the framework's default; NULL with
 * a literal `prefix`, or when there is none), and the literal text in
 * front of every key of the layout. */
struct qprefix {
    const char *ns;
    char *pfx; /* owned */
};

/* "namespace \"myapp\"", "prefix \"myapp_\"" or "no key prefix", for
 * messages. */
static void prefix_describe(const char *ns, const char *pfx, char *out,
                            size_t outlen)
{
    if (ns != NULL)
        snprintf(out, outlen, "namespace \"%s\"", ns);
    else if (pfx[0] != '\0')
        snprintf(out, outlen, "prefix \"%s\"", pfx);
    else
        snprintf(out, outlen, "no key prefix");
}

/* ---- baseline facts --------------------------------------------------- */

/* {"framework": "sidekiq", "namespace": null, "prefix": "", "queues":
 * ["default", ...], "depths": {"queue:default": 3, "retry": 0, ...}}:
 * side `side` of it. */
static json_t *facts_json(const struct qframework *fw, const struct qprefix *p,
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
    return json_pack("{s:s, s:s?, s:s, s:o, s:o}", "framework", fw->name,
                     "namespace", p->ns, "prefix", p->pfx, "queues", q,
                     "depths", d);
}

/* Checks the facts are of that shape and were taken with the same
 * framework and key prefix (snapshots older than "prefix" have only the
 * namespace), then adds their queue names to names. -1 with the reason
 * in why. */
static int facts_names(json_t *f, const struct qframework *fw,
                       const struct qprefix *p, struct co_strlist *names,
                       char *why, size_t whylen)
{
    const char *bfw, *bns;
    json_t *q, *d, *v, *jns = NULL, *jpfx = NULL;
    char *bpfx, was[160], now[160];
    size_t i;
    bool same;

    if (json_unpack(f, "{s:s, s?o, s?o, s:o, s:o}", "framework", &bfw,
                    "namespace", &jns, "prefix", &jpfx, "queues", &q, "depths",
                    &d) < 0 ||
        !json_is_array(q) || !json_is_object(d) ||
        !(jns == NULL || json_is_null(jns) || json_is_string(jns)) ||
        !(jpfx == NULL || json_is_string(jpfx))) {
        snprintf(why, whylen,
                 "holds no queue depths (was it taken with another config "
                 "or cutover version?)");
        return -1;
    }
    bns = json_string_value(jns); /* NULL for null */
    if (jpfx != NULL)
        bpfx = co_strdup(json_string_value(jpfx));
    else
        bpfx = bns != NULL ? co_asprintf("%s:", bns) : co_strdup("");
    same = strcmp(bfw, fw->name) == 0 && strcmp(bpfx, p->pfx) == 0;
    if (!same) {
        prefix_describe(bns, bpfx, was, sizeof(was));
        prefix_describe(p->ns, p->pfx, now, sizeof(now));
        snprintf(why, whylen,
                 "was taken with queues: %s (%s); the config now says "
                 "queues: %s (%s)",
                 bfw, was, fw->name, now);
    }
    free(bpfx);
    if (!same)
        return -1;
    json_array_foreach(q, i, v)
    {
        if (json_is_string(v) && !co_strlist_has(names, json_string_value(v)))
            co_strlist_add(names, json_string_value(v));
    }
    return 0;
}

/* Side `side` of every item from its facts. An item they have no depth
 * for is marked in missing (a live side counts it then: a queue only the
 * other side lists), or, when missing is NULL (a baseline), gets a
 * per-item error. */
static void facts_depths(struct co_run *run, json_t *f, struct items *it,
                         int side, bool *missing)
{
    json_t *d = json_object_get(f, "depths");
    char label[160];

    co_run_baseline_label(run, label, sizeof(label));
    for (size_t i = 0; i < it->n; i++) {
        struct item *x = &it->v[i];
        json_t *v = json_object_get(d, x->name);
        if (json_is_integer(v))
            x->count[side] = json_integer_value(v);
        else if (missing != NULL)
            missing[i] = true;
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

    /* workers, dead and failed jobs and history never run by themselves:
     * on both sides they are no double processing */
    if (x->role == Q_WORKERS || x->role == Q_KEPT || x->role == Q_HISTORY ||
        t == 0)
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

/* Entries that travel with the data: lost only when the target holds
 * fewer than the source. A source emptied after the copy (MIGRATE, a
 * restore then FLUSHDB) is a move; a target that gained entries since
 * (new retries, new dead jobs) lost nothing. */
static void verdict_moved(struct co_run *run, const struct item *x,
                          const char *sv, const char *tv)
{
    long long s = x->count[0], t = x->count[1];

    if (t < s)
        co_case_addf(run, CO_FAIL, x->name, sv, tv,
                     "%s: source %lld, target %lld: entries did not all "
                     "move (%lld missing on the target)",
                     x->name, s, t, s - t);
    else if (s == t)
        co_case_addf(run, CO_PASS, x->name, sv, tv, "%s: %lld on both sides",
                     x->name, s);
    else if (s == 0)
        co_case_addf(run, CO_PASS, x->name, sv, tv,
                     "%s: moved: source 0, target %lld", x->name, t);
    else
        co_case_addf(run, CO_PASS, x->name, sv, tv,
                     "%s: source %lld, target %lld: the target holds at "
                     "least as many",
                     x->name, s, t);
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
    case Q_KEPT:
        verdict_moved(run, x, sv, tv);
        break;
    case Q_HISTORY:
        co_case_addf(run, CO_PASS, x->name, sv, tv,
                     "%s: source %lld, target %lld: jobs done or canceled, a "
                     "record that need not move",
                     x->name, s, t);
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
                        const char *pfx, const struct co_strlist *names)
{
    for (size_t q = 0; q < names->n; q++)
        for (const struct qkey *k = fw->per_queue; k->key != NULL; k++)
            items_add(it, fw, pfx, k, names->v[q]);
    for (const struct qkey *k = fw->global; k->key != NULL; k++)
        items_add(it, fw, pfx, k, NULL);
}

/* `prefix` is the literal text; `namespace` (or the framework's default)
 * is joined with ":", as redis-namespace, BullMQ and Resque join it. */
static void prefix_resolve(struct co_run *run, const struct qframework *fw,
                           struct qprefix *p)
{
    const char *lit = co_param_string(run, "prefix");

    p->ns = NULL;
    if (lit != NULL) {
        p->pfx = co_strdup(lit);
        return;
    }
    p->ns = co_param_string(run, "namespace");
    if (p->ns == NULL)
        p->ns = fw->prefix;
    p->pfx = p->ns != NULL && p->ns[0] != '\0' ? co_asprintf("%s:", p->ns)
                                               : co_strdup("");
}

/* What observing one side needs. */
struct qobs {
    const struct qframework *fw;
    const struct qprefix *p;
    const struct co_strlist *base; /* the default queue and declared ones */
    struct co_redis **r;
};

/* One side's facts: the queues it lists (after the default and declared
 * ones) and the depth of every item of theirs. */
static json_t *observe_queues(struct co_run *run, int side, void *ctx,
                              char *err, size_t errlen)
{
    const struct qobs *o = ctx;
    struct co_strlist names = {NULL, 0};
    struct items it = {NULL, 0, 0};
    json_t *f = NULL;

    (void)run;
    for (size_t i = 0; i < o->base->n; i++)
        co_strlist_add(&names, o->base->v[i]);
    if (discover(o->r[side], o->fw, o->p->pfx, &names) == 0) {
        build_items(&it, o->fw, o->p->pfx, &names);
        if (count_side(o->r[side], &it, side, NULL) == 0)
            f = facts_json(o->fw, o->p, &names, &it, side);
    }
    if (f == NULL)
        co_redis_error_text(o->r[side], err, errlen);
    items_free(&it);
    co_strlist_free(&names);
    return f;
}

/* Both sides' depths of every queue either lists, from their facts; a
 * live side counts the items only the other side's facts named. */
static int depths_of(struct co_run *run, json_t *f[2], struct co_redis *r[2],
                     struct items *it)
{
    bool *missing = co_calloc(it->n + 1, sizeof(*missing));
    int rc = 0;

    for (int i = 0; i < 2 && rc == 0; i++) {
        memset(missing, 0, (it->n + 1) * sizeof(*missing));
        facts_depths(run, f[i], it, i, r[i] != NULL ? missing : NULL);
        if (r[i] != NULL && count_side(r[i], it, i, missing) < 0)
            rc = co_redis_case_error(run, "queues", r[i]) < 0 ? -1 : 1;
    }
    free(missing);
    return rc;
}

static int run_framework(struct co_run *run, const struct qframework *fw,
                         struct co_redis *r[2])
{
    struct qprefix p;
    const struct co_strlist *declared = co_param_list(run, "queues");
    struct co_strlist base = {NULL, 0}, names = {NULL, 0};
    struct items it = {NULL, 0, 0};
    struct qobs o = {fw, &p, &base, r};
    const struct co_facts_req req = {"queues", NULL,           "queue depths",
                                     "queues", observe_queues, &o};
    json_t *f[2] = {NULL, NULL};
    char why[CO_ERRLEN], label[160];
    int rc;

    prefix_resolve(run, fw, &p);
    if (fw->default_queue != NULL)
        co_strlist_add(&base, fw->default_queue);
    for (size_t i = 0; i < declared->n; i++)
        if (!co_strlist_has(&base, declared->v[i]))
            co_strlist_add(&base, declared->v[i]);
    for (size_t i = 0; i < base.n; i++)
        co_strlist_add(&names, base.v[i]);
    rc = co_run_facts(run, &req, f) < 0 ? 1 : 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        if (facts_names(f[i], fw, &p, &names, why, sizeof(why)) < 0) {
            co_run_baseline_label(run, label, sizeof(label));
            rc = co_case_addf(run, CO_ERROR, "queues", NULL, NULL, "%s %s",
                              label, why) < 0
                     ? -1
                     : 1;
        }
    if (rc == 0) {
        build_items(&it, fw, p.pfx, &names);
        rc = depths_of(run, f, r, &it);
    }
    if (rc == 0 && names.n == 0) /* a verdict, not only global keys */
        co_case_addf(run, CO_PASS, "queues", NULL, NULL,
                     "no %s queue found on either side and none declared",
                     fw->name);
    if (rc == 0)
        report(run, &it);
    json_decref(f[0]);
    json_decref(f[1]);
    items_free(&it);
    co_strlist_free(&names);
    co_strlist_free(&base);
    free(p.pfx);
    return 0;
}

static int redis_queues_run(struct co_run *run)
{
    const char *q = run->res->queues;
    const struct qframework *fw;
    struct co_redis *r[2] = {NULL, NULL};

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
    if (co_param_string(run, "namespace") != NULL &&
        co_param_string(run, "prefix") != NULL) {
        co_case_addf(run, CO_ERROR, "queues", NULL, NULL,
                     "both namespace and prefix are set: give one (prefix "
                     "is the literal text, namespace is joined with \":\")");
        return 0;
    }
    co_redis_pair_connect(run, run->deadline, r);
    if (co_redis_pair_ready(run, "queues", r) == 0)
        run_framework(run, fw, r);
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
