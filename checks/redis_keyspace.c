/*
 * redis_keyspace.c - the `redis.keyspace` check: did the keys move?
 *
 * Three kinds of cases:
 * - per db ("db0"): key count and keys with an expiry on both sides,
 *   from INFO keyspace (one command, no scan). When a side's URL names a
 *   db, only that db is compared: the app lives there, and other dbs on
 *   a shared server are not the migration's business.
 * - per configured `patterns:` glob ("pattern cache:*"): SCAN MATCH
 *   COUNT on both sides at once (never KEYS, so the server is never
 *   blocked), giving the count, the type distribution (TYPE of the first
 *   `types` keys, pipelined) and an order-independent fingerprint of the
 *   key names. Equal fingerprints prove the same key set with flat
 *   memory and no per-key round trip; only when they differ does a
 *   second pass ask the other side about each key (EXISTS, pipelined),
 *   to name the keys missing in each direction.
 * - `sample: N` ("sample"): N source keys picked uniformly while
 *   scanning (reservoir sampling; without patterns the first N of a
 *   SCAN) are DUMPed on both sides and compared by SHA-256 of the
 *   payload without its trailer (RDB version and CRC, which differ across
 *   server versions). DUMP carries no TTL, so TTLs are ignored: TTL
 *   noise is not drift.
 *
 * Baseline snapshots (baseline.h): each side's numbers are a plain struct
 * (struct dbside per db, struct side_scan per pattern) that converts to
 * and from JSON facts. Taking a snapshot asks the recorded side only and
 * stores its facts ("dbs", "patterns"); the other side, the same server,
 * mirrors them. Against a baseline, the side it stands for is read back
 * from the facts and never contacted, and the live side is compared
 * exactly as usual. Facts hold counts, type names and the key-set
 * fingerprint (an aggregate of key-name hashes), never a key name or a
 * value: keys missing against a baseline cannot be named, and `sample`
 * (values) is skipped.
 */
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/baseline.h"
#include "cutover/check.h"
#include "cutover/redis.h"

static const struct co_param redis_keyspace_params[] = {
    {"sample", CO_P_INT, "0",
     "compare the values of this many sampled source keys on both sides "
     "(hash of DUMP, TTLs ignored); 0: off"},
    {"scan_count", CO_P_INT, "1000", "COUNT hint for SCAN (keys per batch)"},
    {"types", CO_P_INT, "10000",
     "keys per pattern and side whose TYPE is read for the type "
     "distribution; 0: every key (one more command per key)"},
    {0},
};

#define MAX_TYPES    8
#define MAX_EXAMPLES 3

/* ---- where each side's numbers come from ------------------------------ */

/* ---- per db ----------------------------------------------------------- */

struct dbstat {
    long long keys, expires;
    bool present;
};

#define MAX_DBS 64

/* One side's keyspace: INFO keyspace and the db its URL names. */
struct dbside {
    struct dbstat db[MAX_DBS];
    int num;    /* the db the URL names, 0 by default */
    bool named; /* the URL names one */
};

/* {"db": 3, "db_named": true, "dbs": {"db3": {"keys": 10, "expires": 1}}}:
 * only the named db when the URL names one (the others on a shared server
 * are not the migration's business). */
static json_t *dbside_json(const struct dbside *d)
{
    json_t *dbs = json_object();

    for (int n = 0; n < MAX_DBS; n++) {
        char name[16];
        if (!d->db[n].present || (d->named && n != d->num % MAX_DBS))
            continue;
        snprintf(name, sizeof(name), "db%d", n);
        json_object_set_new(dbs, name,
                            json_pack("{s:I, s:I}", "keys",
                                      (json_int_t)d->db[n].keys, "expires",
                                      (json_int_t)d->db[n].expires));
    }
    return json_pack("{s:i, s:b, s:o}", "db", d->num, "db_named", d->named,
                     "dbs", dbs);
}

/* The reverse; -1 when j is NULL or not of that shape. */
static int dbside_from_json(json_t *j, struct dbside *d)
{
    json_t *dbs, *v;
    const char *key;
    int named = 0;

    memset(d, 0, sizeof(*d));
    if (json_unpack(j, "{s:i, s:b, s:o}", "db", &d->num, "db_named", &named,
                    "dbs", &dbs) < 0 ||
        d->num < 0 || !json_is_object(dbs))
        return -1;
    d->named = named != 0;
    json_object_foreach(dbs, key, v)
    {
        json_int_t k, e;
        int n;
        if (sscanf(key, "db%d", &n) != 1 || n < 0 || n >= MAX_DBS ||
            json_unpack(v, "{s:I, s:I}", "keys", &k, "expires", &e) < 0)
            return -1;
        d->db[n] = (struct dbstat){k, e, true};
    }
    return 0;
}

/* Parses the "dbN:keys=X,expires=Y,..." lines of INFO keyspace. */
static void parse_keyspace(const char *info, struct dbstat *db)
{
    const char *p = info;

    while (p != NULL && *p != '\0') {
        int n;
        long long k, e;
        if (sscanf(p, "db%d:keys=%lld,expires=%lld", &n, &k, &e) == 3 &&
            n >= 0 && n < MAX_DBS) {
            db[n].keys = k;
            db[n].expires = e;
            db[n].present = true;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
}

static int keyspace_info(struct co_redis *r, struct dbstat *db)
{
    redisReply *rep = co_redis_call(r, "INFO", "keyspace", NULL);

    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_STRING)
        parse_keyspace(rep->str, db);
    freeReplyObject(rep);
    return 0;
}

/* The db of side d a case compares: the one its URL names, or db k. */
static const struct dbstat *db_of(const struct dbside *d, bool named, int k)
{
    return &d->db[named ? d->num % MAX_DBS : k];
}

/* name: "db3", or "db0 -> db3" when the URLs name different dbs. */
static void report_db(struct co_run *run, const char *name,
                      const struct dbstat *s, const struct dbstat *t)
{
    char sv[64], tv[64];

    snprintf(sv, sizeof(sv), "%lld keys (%lld with expiry)", s->keys,
             s->expires);
    snprintf(tv, sizeof(tv), "%lld keys (%lld with expiry)", t->keys,
             t->expires);
    if (s->keys != t->keys)
        co_case_addf(run, CO_FAIL, name, sv, tv,
                     "%s: source %lld keys, target %lld (%+lld)", name,
                     s->keys, t->keys, t->keys - s->keys);
    else if (s->expires != t->expires)
        co_case_addf(run, CO_WARN, name, sv, tv,
                     "%s: %lld keys on both sides; keys with expiry: "
                     "source %lld, target %lld",
                     name, s->keys, s->expires, t->expires);
    else
        co_case_addf(run, CO_PASS, name, sv, tv,
                     "%s: %lld keys on both sides (%lld with expiry)", name,
                     s->keys, s->expires);
}

/* --shard I/N: each db case is a unit, all of one weight (INFO answers
 * for every db at once). When a URL names a db, that db of each side is
 * the one case. */
static void report_dbs(struct co_run *run, const struct dbside d[2])
{
    struct co_shard_unit u[MAX_DBS];
    char names[MAX_DBS][32];
    bool mine[MAX_DBS];
    int at[MAX_DBS];
    size_t n = 0;
    bool named = d[0].named || d[1].named;

    for (int k = 0; k < MAX_DBS; k++) {
        if (named ? k != d[0].num % MAX_DBS
                  : !d[0].db[k].present && !d[1].db[k].present)
            continue;
        if (named && d[0].num != d[1].num)
            snprintf(names[n], sizeof(names[n]), "db%d -> db%d", d[0].num,
                     d[1].num);
        else
            snprintf(names[n], sizeof(names[n]), "db%d", k);
        u[n].key = names[n];
        u[n].weight = 1;
        at[n++] = k;
    }
    co_run_shard_pick(run, u, n, mine);
    for (size_t i = 0; i < n; i++)
        if (mine[i])
            report_db(run, names[i], db_of(&d[0], named, at[i]),
                      db_of(&d[1], named, at[i]));
    if (n == 0 && co_run_shard_first(run)) /* a verdict, not an empty suite */
        co_case_addf(run, CO_PASS, "keyspace", "0 keys", "0 keys",
                     "no keys in any db on either side");
}

/* One side's keyspace as facts: INFO keyspace and the db its URL names. */
static json_t *observe_dbs(struct co_run *run, int side, void *ctx, char *err,
                           size_t errlen)
{
    struct co_redis **r = ctx;
    struct dbside d;

    (void)run;
    memset(&d, 0, sizeof(d));
    if (keyspace_info(r[side], d.db) < 0) {
        co_redis_error_text(r[side], err, errlen);
        return NULL;
    }
    d.num = r[side]->db;
    d.named = r[side]->db_explicit;
    return dbside_json(&d);
}

/* Fills d (both sides' key counts per db) and reports this shard's dbs. */
static int check_dbs(struct co_run *run, struct co_redis *r[2],
                     struct dbside d[2])
{
    const struct co_facts_req req = {
        "dbs", NULL, "key counts per db", "keyspace", observe_dbs, r};
    json_t *f[2];
    int rc = 0;

    memset(d, 0, 2 * sizeof(*d));
    if (co_run_facts(run, &req, f) < 0)
        return -1;
    for (int i = 0; i < 2 && rc == 0; i++)
        if (dbside_from_json(f[i], &d[i]) < 0)
            rc = co_run_baseline_lacks(run, "keyspace", req.what);
    json_decref(f[0]);
    json_decref(f[1]);
    if (rc == 0)
        report_dbs(run, d);
    return rc;
}

/* ---- sampling --------------------------------------------------------- */

struct sample {
    size_t want;
    size_t seen;
    struct co_buf *keys; /* want slots */
    size_t n;
    uint64_t rng;
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void sample_set(struct co_buf *slot, const char *k, size_t len)
{
    slot->len = 0;
    co_buf_add(slot, k, len);
}

/* Reservoir sampling (algorithm R): every key seen has the same chance. */
static void sample_offer(struct sample *s, const char *k, size_t len)
{
    uint64_t j;

    if (s->want == 0)
        return;
    s->seen++;
    if (s->n < s->want) {
        sample_set(&s->keys[s->n++], k, len);
        return;
    }
    j = rng_next(&s->rng) % s->seen;
    if (j < s->want)
        sample_set(&s->keys[j], k, len);
}

/* ---- per pattern ------------------------------------------------------ */

struct tcount {
    char name[16];
    long long n;
};

/* One side's view of a pattern. Pass 1 runs on both sides at once, each
 * on its own server: the key count, the type distribution of the first
 * `types` keys, and an order-independent fingerprint of the key set (a
 * sum and a xor of per-key hashes), so equal key sets are proved with
 * flat memory and no per-key command. Only when the fingerprints differ
 * does pass 2 ask the other side about every key, to name the missing. */
struct side_scan {
    struct co_redis *own, *other;
    const char *pattern, *count;
    int64_t types_max;  /* 0: every key */
    struct sample *smp; /* source only */
    long long total, typed;
    struct tcount types[MAX_TYPES];
    uint64_t fp_sum, fp_xor;
    long long missing;  /* on the other side (pass 2) */
    struct kprog *prog; /* progress is counted on this side; or NULL */
    long long visited;  /* keys SCAN walked past, estimated */
    char examples[MAX_EXAMPLES][80];
    int nexamples;
    int rc; /* 0; -1 own side failed; -2 other side; -3 odd reply */
};

/* Progress (co_run_progress) in keys SCAN visits: each call walks about
 * COUNT keys of the db, whatever MATCH keeps, and every pattern walks the
 * whole db. Counted on one live side only (pass 1). */
struct kprog {
    struct co_run *run;
    long long per_call; /* the COUNT hint */
    long long db_keys;  /* keys one pattern's scan visits */
    long long done, total;
    int side; /* the live side progress is counted on */
};

static void prog_step(struct side_scan *s, bool last)
{
    struct kprog *p = s->prog;
    long long step = last ? p->db_keys - s->visited : p->per_call;

    if (s->visited + step > p->db_keys)
        step = p->db_keys - s->visited;
    if (step <= 0)
        return;
    s->visited += step;
    p->done += step;
    co_run_progress(p->run, p->done, p->total, "keys");
}

typedef int (*batch_fn)(struct side_scan *s, const redisReply *keys);

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void count_type(struct side_scan *s, const char *t)
{
    for (int i = 0; i < MAX_TYPES; i++) {
        if (s->types[i].name[0] == '\0')
            snprintf(s->types[i].name, sizeof(s->types[i].name), "%s", t);
        if (strcmp(s->types[i].name, t) == 0) {
            s->types[i].n++;
            return;
        }
    }
}

static void add_example(struct side_scan *s, const char *k, size_t len)
{
    if (s->nexamples >= MAX_EXAMPLES)
        return;
    snprintf(s->examples[s->nexamples++], sizeof(s->examples[0]), "%.*s",
             (int)(len > 60 ? 60 : len), k);
}

static const char *type_of(const redisReply *rep)
{
    if (rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_STRING)
        return rep->str;
    return "?";
}

static int batch_count(struct side_scan *s, const redisReply *keys);

/* SCAN MATCH on the own side until the cursor is back to 0. */
static int scan_pattern(struct side_scan *s, batch_fn fn)
{
    char cursor[32] = "0";

    do {
        redisReply *rep = co_redis_call(s->own, "SCAN", cursor, "MATCH",
                                        s->pattern, "COUNT", s->count, NULL);
        int rc;
        if (rep == NULL)
            return -1;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return -3;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        rc = fn(s, rep->element[1]);
        freeReplyObject(rep);
        if (rc < 0)
            return rc;
        if (s->prog != NULL && fn == batch_count)
            prog_step(s, strcmp(cursor, "0") == 0);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* Pass 1: count, fingerprint, sample, and TYPE (pipelined) of the keys
 * still under the `types` budget. */
static int batch_count(struct side_scan *s, const redisReply *keys)
{
    size_t ntype = 0;

    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        uint64_t h = co_fnv1a(k->str, k->len);
        s->fp_sum += mix64(h);
        s->fp_xor ^= mix64(h ^ 0x9e3779b97f4a7c15ULL);
        s->total++;
        if (s->smp != NULL)
            sample_offer(s->smp, k->str, k->len);
        if (s->types_max == 0 || s->typed + (long long)ntype < s->types_max) {
            const char *argv[2] = {"TYPE", k->str};
            size_t len[2] = {4, k->len};
            co_redis_append(s->own, 2, argv, len);
            ntype++;
        }
    }
    for (size_t i = 0; i < ntype; i++) {
        redisReply *t;
        if (co_redis_get_reply(s->own, &t) < 0)
            return -1;
        if (strcmp(type_of(t), "none") != 0) /* not expired meanwhile */
            count_type(s, type_of(t));
        freeReplyObject(t);
    }
    s->typed += (long long)ntype;
    return 0;
}

/* Pass 2: which keys of this batch the other side lacks. */
static int batch_missing(struct side_scan *s, const redisReply *keys)
{
    for (size_t i = 0; i < keys->elements; i++) {
        const char *argv[2] = {"EXISTS", keys->element[i]->str};
        size_t len[2] = {6, keys->element[i]->len};
        co_redis_append(s->other, 2, argv, len);
    }
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *e;
        if (co_redis_get_reply(s->other, &e) < 0)
            return -2;
        if (e->type == REDIS_REPLY_INTEGER && e->integer == 0) {
            s->missing++;
            add_example(s, keys->element[i]->str, keys->element[i]->len);
        }
        freeReplyObject(e);
    }
    return 0;
}

static int tcount_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tcount *)a)->name,
                  ((const struct tcount *)b)->name);
}

/* "5 keys (hash 1, string 4)": types sorted by name, so both sides read
 * alike whatever order SCAN met the keys in; "(types of the first N:
 * ...)" when only part was typed. */
static void format_side(const struct side_scan *s, char *out, size_t outlen)
{
    struct tcount t[MAX_TYPES];
    struct co_buf b;
    int nt = 0;

    while (nt < MAX_TYPES && s->types[nt].name[0] != '\0') {
        t[nt] = s->types[nt];
        nt++;
    }
    qsort(t, (size_t)nt, sizeof(t[0]), tcount_cmp);
    co_buf_init(&b);
    co_buf_addf(&b, "%lld keys (", s->total);
    if (s->typed < s->total)
        co_buf_addf(&b, "types of the first %lld: ", s->typed);
    for (int i = 0; i < nt; i++)
        co_buf_addf(&b, "%s%s %lld", i ? ", " : "", t[i].name, t[i].n);
    co_buf_puts(&b, nt == 0 ? "-)" : ")");
    snprintf(out, outlen, "%s", b.s);
    co_buf_free(&b);
}

/* A pattern's facts: {"keys": 7, "typed": 7, "types": {"string": 5, ...},
 * "fingerprint": "<fp_sum><fp_xor>" (hex)}. No key name. */
static json_t *scan_json(const struct side_scan *s)
{
    json_t *types = json_object();
    char fp[40];

    for (int i = 0; i < MAX_TYPES && s->types[i].name[0] != '\0'; i++)
        json_object_set_new(types, s->types[i].name,
                            json_integer(s->types[i].n));
    snprintf(fp, sizeof(fp), "%016llx%016llx", (unsigned long long)s->fp_sum,
             (unsigned long long)s->fp_xor);
    return json_pack("{s:I, s:I, s:o, s:s}", "keys", (json_int_t)s->total,
                     "typed", (json_int_t)s->typed, "types", types,
                     "fingerprint", fp);
}

/* The reverse, into the counting fields of s; -1 when j is NULL or not
 * of that shape. */
static int scan_from_json(json_t *j, struct side_scan *s)
{
    json_int_t total, typed;
    json_t *types, *v;
    const char *fp, *name;
    unsigned long long sum, xor;
    int nt = 0;

    if (json_unpack(j, "{s:I, s:I, s:o, s:s}", "keys", &total, "typed", &typed,
                    "types", &types, "fingerprint", &fp) < 0 ||
        !json_is_object(types) || strlen(fp) != 32 ||
        strspn(fp, "0123456789abcdef") != 32 ||
        sscanf(fp, "%16llx%16llx", &sum, &xor) != 2)
        return -1;
    json_object_foreach(types, name, v)
    {
        if (nt == MAX_TYPES || !json_is_integer(v))
            return -1;
        snprintf(s->types[nt].name, sizeof(s->types[nt].name), "%s", name);
        s->types[nt++].n = json_integer_value(v);
    }
    s->total = total;
    s->typed = typed;
    s->fp_sum = sum;
    s->fp_xor = xor;
    return 0;
}

static void format_examples(const struct side_scan *s, struct co_buf *b)
{
    for (int i = 0; i < s->nexamples; i++)
        co_buf_addf(b, "%s%s", i ? ", " : "", s->examples[i]);
}

/* baseline: one side is a baseline snapshot, which keeps no key names. */
static void report_pattern(struct co_run *run, const char *pattern,
                           const struct side_scan *s,
                           const struct side_scan *t, bool baseline)
{
    char name[200], sv[256], tv[256];
    struct co_buf msg;
    bool same_set = s->total == t->total && s->fp_sum == t->fp_sum &&
                    s->fp_xor == t->fp_xor;

    snprintf(name, sizeof(name), "pattern %s", pattern);
    format_side(s, sv, sizeof(sv));
    format_side(t, tv, sizeof(tv));
    co_buf_init(&msg);
    co_buf_addf(&msg, "%s: source %lld keys, target %lld", pattern, s->total,
                t->total);
    if (s->missing > 0) {
        co_buf_addf(&msg, "; %lld in source not in target (e.g. ", s->missing);
        format_examples(s, &msg);
        co_buf_puts(&msg, ")");
    }
    if (t->missing > 0) {
        co_buf_addf(&msg, "; %lld in target not in source (e.g. ", t->missing);
        format_examples(t, &msg);
        co_buf_puts(&msg, ")");
    }
    if (!same_set && baseline)
        co_buf_puts(&msg, "; the key names differ from the baseline "
                          "snapshot's (it keeps no key names, so none can "
                          "be listed)");
    else if (!same_set && s->missing == 0 && t->missing == 0)
        co_buf_puts(&msg, "; the key sets differ (keys changed while "
                          "scanning?)");
    if (same_set)
        co_buf_puts(&msg, ", same key names on both sides");
    co_case_addf(run, same_set ? CO_PASS : CO_FAIL, name, sv, tv, "%s", msg.s);
    co_buf_free(&msg);
}

/* Pass 1 on one side: count, types, fingerprint (and the sample on the
 * source) as the pattern's facts. */
static json_t *observe_pattern(struct co_run *run, int side, void *ctx,
                               char *err, size_t errlen)
{
    struct side_scan *s = (struct side_scan *)ctx + side;

    (void)run;
    s->rc = scan_pattern(s, batch_count);
    if (s->rc == -3)
        snprintf(err, errlen, "%s: unexpected reply to SCAN", s->own->side);
    else if (s->rc < 0)
        co_redis_error_text(s->own, err, errlen);
    return s->rc < 0 ? NULL : scan_json(s);
}

/* Pass 2, with both servers live and the key sets differing: name the
 * keys each side lacks (a baseline keeps no key names). */
static int name_missing(struct co_run *run, struct side_scan s[2],
                        const char *name)
{
    for (int i = 0; i < 2; i++) {
        s[i].rc = scan_pattern(&s[i], batch_missing);
        if (s[i].rc == -3)
            return co_case_addf(run, CO_ERROR, name, NULL, NULL,
                                "%s: unexpected reply to SCAN",
                                s[i].own->side);
        if (s[i].rc < 0)
            return co_redis_case_error(run, name,
                                       s[i].rc == -1 ? s[i].own : s[i].other);
    }
    return 0;
}

/* One pattern on both sides. smp (may be NULL) samples the source's
 * keys; prog (may be NULL) counts progress on the first live side. */
static int check_pattern(struct co_run *run, struct co_redis *r[2],
                         const char *pattern, const char *count,
                         int64_t types_max, struct sample *smp,
                         struct kprog *prog)
{
    struct side_scan s[2];
    char name[200], what[240];
    const struct co_facts_req req = {"patterns", pattern,         what,
                                     name,       observe_pattern, s};
    json_t *f[2];
    int rc = 0;

    memset(s, 0, sizeof(s));
    for (int i = 0; i < 2; i++) {
        s[i].own = r[i];
        s[i].other = r[1 - i];
        s[i].pattern = pattern;
        s[i].count = count;
        s[i].types_max = types_max;
    }
    s[0].smp = smp;
    if (prog != NULL)
        s[prog->side].prog = prog;
    snprintf(name, sizeof(name), "pattern %s", pattern);
    snprintf(what, sizeof(what), "key counts for pattern %s", pattern);
    /* each side on its own server at once: wall time is the slower
     * side's scan, not the sum */
    if (co_run_facts(run, &req, f) < 0)
        return -1;
    for (int i = 0; i < 2 && rc == 0; i++)
        if (scan_from_json(f[i], &s[i]) < 0)
            rc = co_run_baseline_lacks(run, name, what);
    json_decref(f[0]);
    json_decref(f[1]);
    if (rc == 0 && co_run_both_live(run) &&
        (s[0].total != s[1].total || s[0].fp_sum != s[1].fp_sum ||
         s[0].fp_xor != s[1].fp_xor))
        rc = name_missing(run, s, name);
    if (rc == 0)
        report_pattern(run, pattern, &s[0], &s[1],
                       co_run_replayed(run, true) ||
                           co_run_replayed(run, false));
    return rc;
}

/* ---- value sample ----------------------------------------------------- */

/* SHA-256 of a DUMP payload without its 10-byte trailer (2 bytes RDB
 * version, 8 bytes CRC64): the same value dumped by two server versions
 * differs only there. */
static void dump_hash(const redisReply *rep, unsigned char *md)
{
    size_t n = rep->len > 10 ? rep->len - 10 : rep->len;
    unsigned int mdlen = 0;

    EVP_Digest(rep->str, n, md, &mdlen, EVP_sha256(), NULL);
}

/* The first `want` keys of the db, when no pattern scan filled the
 * sample. */
static int sample_any(struct co_redis *r, struct sample *smp,
                      const char *count)
{
    char cursor[32] = "0";

    do {
        redisReply *rep =
            co_redis_call(r, "SCAN", cursor, "COUNT", count, NULL);
        if (rep == NULL)
            return -1;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            freeReplyObject(rep);
            return 0;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++)
            if (smp->n < smp->want)
                sample_set(&smp->keys[smp->n++],
                           rep->element[1]->element[i]->str,
                           rep->element[1]->element[i]->len);
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0 && smp->n < smp->want);
    return 0;
}

static int compare_sample(struct co_run *run, struct co_redis *r[2],
                          struct sample *smp)
{
    struct co_buf bad;
    size_t ndiff = 0;
    redisReply *rep[2];
    unsigned char md[2][EVP_MAX_MD_SIZE];

    for (size_t k = 0; k < smp->n; k++)
        for (int i = 0; i < 2; i++) {
            const char *argv[2] = {"DUMP", smp->keys[k].s};
            size_t len[2] = {4, smp->keys[k].len};
            co_redis_append(r[i], 2, argv, len);
        }
    co_buf_init(&bad);
    for (size_t k = 0; k < smp->n; k++) {
        for (int i = 0; i < 2; i++)
            if (co_redis_get_reply(r[i], &rep[i]) < 0) {
                if (i == 1)
                    freeReplyObject(rep[0]);
                co_buf_free(&bad);
                return co_redis_case_error(run, "sample", r[i]);
            }
        bool differ = rep[0]->type != REDIS_REPLY_STRING ||
                      rep[1]->type != REDIS_REPLY_STRING;
        if (!differ) {
            dump_hash(rep[0], md[0]);
            dump_hash(rep[1], md[1]);
            differ = memcmp(md[0], md[1], 32) != 0;
        }
        if (differ && rep[0]->type == REDIS_REPLY_STRING) {
            ndiff++;
            if (ndiff <= MAX_EXAMPLES)
                co_buf_addf(
                    &bad, "%s%.*s%s", ndiff > 1 ? ", " : "",
                    (int)(smp->keys[k].len > 60 ? 60 : smp->keys[k].len),
                    smp->keys[k].s,
                    rep[1]->type == REDIS_REPLY_STRING
                        ? ""
                        : " (missing on target)");
        }
        freeReplyObject(rep[0]);
        freeReplyObject(rep[1]);
    }
    if (ndiff > 0)
        co_case_addf(run, CO_FAIL, "sample", NULL, NULL,
                     "%zu of %zu sampled keys differ (DUMP payloads, TTLs "
                     "ignored): %s",
                     ndiff, smp->n, bad.s);
    else
        co_case_addf(run, CO_PASS, "sample", NULL, NULL,
                     "%zu sampled keys have equal values on both sides "
                     "(DUMP payloads, TTLs ignored)",
                     smp->n);
    co_buf_free(&bad);
    return 0;
}

/* ---- the check -------------------------------------------------------- */

static void sample_init(struct sample *s, int64_t want)
{
    memset(s, 0, sizeof(*s));
    s->want = want > 0 ? (size_t)(want > 100000 ? 100000 : want) : 0;
    s->rng = (uint64_t)co_now_ms() * 2654435761u + 1;
    if (s->want > 0)
        s->keys = co_calloc(s->want, sizeof(*s->keys));
}

static void sample_free(struct sample *s)
{
    for (size_t i = 0; i < s->want; i++)
        co_buf_free(&s->keys[i]);
    free(s->keys);
}

/* `sample` compares values, which no snapshot keeps: skipped with the
 * reason when a side is a baseline or a snapshot is being taken. */
static void sample_skip(struct co_run *run)
{
    char label[160];

    if (co_run_recording(run)) {
        co_case_addf(run, CO_SKIP, "sample", NULL, NULL,
                     "values are not recorded: a snapshot keeps no values");
        return;
    }
    co_run_baseline_label(run, label, sizeof(label));
    co_case_addf(run, CO_SKIP, "sample", NULL, NULL,
                 "values cannot be compared against %s: it keeps no values "
                 "(sample needs both servers live)",
                 label);
}

/* --shard I/N: sets mine[i] for this shard's patterns; returns how
 * many. All weigh the same: each SCANs the whole db, whatever it
 * matches. */
static size_t pick_patterns(const struct co_run *run,
                            const struct co_strlist *pat, bool *mine)
{
    struct co_shard_unit *u = co_calloc(pat->n + 1, sizeof(*u));
    size_t n = 0;

    for (size_t i = 0; i < pat->n; i++) {
        u[i].key = co_asprintf("pattern %s", pat->v[i]);
        u[i].weight = 1;
    }
    co_run_shard_pick(run, u, pat->n, mine);
    for (size_t i = 0; i < pat->n; i++) {
        n += mine[i];
        free((char *)u[i].key);
    }
    free(u);
    return n;
}

/* Progress over this shard's patterns, in keys of the db their scans
 * walk, on the first live side. */
static void prog_init(struct kprog *p, struct co_run *run,
                      const struct dbside d[2], int64_t per_call, size_t npat)
{
    int side = co_run_live_side(run);

    memset(p, 0, sizeof(*p));
    p->run = run;
    p->per_call = per_call;
    if (side < 0 || npat == 0)
        return;
    p->side = side;
    p->db_keys = d[side].db[d[side].num % MAX_DBS].keys;
    /* a server's INFO is not trusted to keep the product in range */
    p->total = p->db_keys > LLONG_MAX / (long long)npat
                   ? LLONG_MAX
                   : p->db_keys * (long long)npat;
    co_run_progress(run, 0, p->total, "keys");
}

static int redis_keyspace_run(struct co_run *run)
{
    const struct co_strlist *pat = &run->res->patterns;
    struct co_redis *r[2] = {NULL, NULL};
    struct sample smp;
    char count[24];
    int64_t sc = co_param_int(run, "scan_count");
    int64_t types = co_param_int(run, "types");
    int64_t want = co_param_int(run, "sample");
    struct kprog prog;
    size_t npat;
    bool both = co_run_both_live(run);
    struct dbside d[2];
    bool *mine;

    snprintf(count, sizeof(count), "%lld", (long long)(sc > 0 ? sc : 1000));
    co_redis_pair_connect(run, run->deadline, r);
    if (co_redis_pair_ready(run, "keyspace", r) < 0) {
        co_redis_free(r[0]);
        co_redis_free(r[1]);
        return 0;
    }
    /* --shard I/N: the sample (values) is shard 1's */
    sample_init(&smp, both && co_run_shard_first(run) ? want : 0);
    check_dbs(run, r, d);
    mine = co_calloc(pat->n + 1, sizeof(*mine));
    npat = pick_patterns(run, pat, mine);
    prog_init(&prog, run, d, sc > 0 ? sc : 1000, npat);
    /* a snapshot's pattern facts start empty (this shard may have none) */
    co_run_fact_put(run, "patterns", json_object());
    for (size_t i = 0; i < pat->n && !co_run_cancelled(run); i++)
        if (mine[i])
            check_pattern(run, r, pat->v[i], count, types,
                          smp.want > 0 ? &smp : NULL,
                          prog.db_keys > 0 ? &prog : NULL);
    free(mine);
    if (!both && want > 0 && co_run_shard_first(run))
        sample_skip(run);
    if (smp.want > 0 && npat == 0 && r[0]->err == CO_REDIS_OK)
        sample_any(r[0], &smp, count);
    if (smp.want > 0 && r[0]->err == CO_REDIS_OK && r[1]->err == CO_REDIS_OK) {
        if (smp.n == 0)
            co_case_addf(run, CO_SKIP, "sample", NULL, NULL,
                         "no source keys to sample");
        else
            compare_sample(run, r, &smp);
    }
    sample_free(&smp);
    co_redis_free(r[0]);
    co_redis_free(r[1]);
    return 0;
}

const struct co_check co_check_redis_keyspace = {
    .id = "redis.keyspace",
    .summary = "key counts per db and per pattern match (SCAN-based), "
               "sampled values equal",
    .kind = CO_KIND_REDIS,
    .phases = CO_POST | CO_DRIFT,
    .params = redis_keyspace_params,
    .run = redis_keyspace_run,
    .flags = CO_CHECK_PAIR | CO_CHECK_SNAPSHOT | CO_CHECK_SHARDED,
};
