/*
 * baseline.c - baseline snapshots (include/cutover/baseline.h): the file
 * format, the facts checks store, and the PostgreSQL tape.
 *
 *   {"format": "cutover-snapshot", "version": 1, "tool_version": "0.2.0",
 *    "side": "source", "taken_at": "2026-11-24T11:00:00Z",
 *    "resources": {
 *      "postgres.main": {"kind": "postgres", "endpoint":
 * "postgres://u:***@h/db", "server_version": 150004, "queries": [{"sql":
 * "SELECT ...", "params": ["1", null], "columns": [["name", 25], ...], "rows":
 * [["public.users", "..."], ...]}], "facts": {}}, "redis.jobs": {"kind":
 * "redis", "facts": {"redis.keyspace": {...}}}}}
 *
 * Strings that are not valid UTF-8 (a SQL_ASCII database) are stored as
 * {"hex": "..."} so the file stays JSON and the bytes come back exact.
 * Everything is guarded by one mutex: recording happens from every worker
 * of a run, replaying only reads, and both are small next to the queries.
 */
#include "cutover/baseline.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/cutover.h"
#include "cutover/util.h"

#define FORMAT_NAME "cutover-snapshot"

struct co_pg_tape {
    struct co_baseline *b;
    json_t *entry;   /* the resource's object (borrowed from root) */
    json_t *queries; /* its "queries" array (borrowed) */
    json_t *index;   /* key -> position in queries (owned) */
    bool replay;
};

/* Tapes are handed out to sessions for the whole run: each is its own
 * allocation, so adding one never moves another. */
struct tape_slot {
    char *key;
    struct co_pg_tape *tape;
};

struct co_baseline {
    json_t *root;
    json_t *resources; /* borrowed from root */
    bool taken_source; /* the side it was taken from */
    bool source;       /* the side it stands for */
    bool recording;
    char *path;         /* loaded from */
    pthread_mutex_t mu; /* guards everything below root */
    struct tape_slot *tapes;
    size_t ntapes;
    struct co_baseline *twin; /* the other side's (a second --baseline) */
};

/* ---- strings that survive any bytes ---------------------------------------
 */

static json_t *bytes_json(const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    json_t *j = json_stringn(s, n); /* NULL: not valid UTF-8 */
    char *h;

    if (j != NULL)
        return j;
    h = co_malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = hex[(unsigned char)s[i] >> 4];
        h[2 * i + 1] = hex[(unsigned char)s[i] & 15];
    }
    h[2 * n] = '\0';
    j = json_pack("{s:s}", "hex", h);
    free(h);
    return j;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The bytes of a string or {"hex"} value: allocated, *len set. NULL when
 * the value is JSON null or malformed. */
static char *json_bytes(const json_t *j, size_t *len)
{
    const char *h;
    size_t n;
    char *out;

    if (json_is_string(j)) {
        *len = json_string_length(j);
        out = co_malloc(*len + 1);
        memcpy(out, json_string_value(j), *len);
        out[*len] = '\0';
        return out;
    }
    h = json_string_value(json_object_get(j, "hex"));
    if (h == NULL || strlen(h) % 2 != 0)
        return NULL;
    n = strlen(h) / 2;
    out = co_malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);
        if (a < 0 || b < 0) {
            free(out);
            return NULL;
        }
        out[i] = (char)(a << 4 | b);
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* The lookup key of a statement: its text and parameters, separated by
 * bytes no SQL text or parameter holds. */
static char *query_key(const char *sql, int nparams, const char *const *params)
{
    struct co_buf b;

    co_buf_init(&b);
    co_buf_puts(&b, sql);
    for (int i = 0; i < nparams; i++) {
        co_buf_puts(&b, "\x1f");
        co_buf_puts(&b, params && params[i] ? params[i] : "\x1e");
    }
    return co_buf_take(&b);
}

static char *json_query_key(const json_t *q)
{
    const json_t *params = json_object_get(q, "params");
    size_t n = json_array_size(params);
    const char **pv = co_calloc(n ? n : 1, sizeof(*pv));
    char **owned = co_calloc(n ? n : 1, sizeof(*owned));
    const char *sql = json_string_value(json_object_get(q, "sql"));
    char *key = NULL;
    size_t len;

    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(params, i);
        pv[i] = owned[i] = json_is_null(p) ? NULL : json_bytes(p, &len);
    }
    if (sql != NULL)
        key = query_key(sql, (int)n, pv);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(pv);
    return key;
}

/* ---- the snapshot object
 * ---------------------------------------------------- */

static struct co_baseline *baseline_alloc(json_t *root, bool source)
{
    struct co_baseline *b = co_calloc(1, sizeof(*b));

    b->root = root;
    b->resources = json_object_get(root, "resources");
    b->taken_source = b->source = source;
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

static void now_iso(char *out, size_t outlen)
{
    time_t t = time(NULL);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, outlen, "1970-01-01T00:00:00Z");
}

struct co_baseline *co_baseline_new(bool source)
{
    struct co_baseline *b;
    char when[32];
    json_t *root;

    now_iso(when, sizeof(when));
    root = json_pack("{s:s, s:i, s:s, s:s, s:s, s:{}}", "format", FORMAT_NAME,
                     "version", CO_SNAPSHOT_VERSION, "tool_version",
                     CUTOVER_VERSION, "side", source ? "source" : "target",
                     "taken_at", when, "resources");
    if (root == NULL)
        co_oom();
    b = baseline_alloc(root, source);
    b->recording = true;
    return b;
}

/* Structure checks of a loaded file, before anything trusts it. */
static int validate(json_t *root, const char *path, char *err, size_t errlen)
{
    const char *fmt = json_string_value(json_object_get(root, "format"));
    json_t *ver = json_object_get(root, "version");
    const char *side = json_string_value(json_object_get(root, "side"));
    const char *key;
    json_t *res = json_object_get(root, "resources"), *e;

    if (!json_is_object(root) || fmt == NULL || strcmp(fmt, FORMAT_NAME)) {
        snprintf(err, errlen,
                 "%s: not a cutover snapshot (no \"format\": "
                 "\"" FORMAT_NAME "\")",
                 path);
        return -1;
    }
    if (!json_is_integer(ver)) {
        snprintf(err, errlen, "%s: snapshot has no format version", path);
        return -1;
    }
    if (json_integer_value(ver) != CO_SNAPSHOT_VERSION) {
        snprintf(err, errlen,
                 "%s: snapshot format version %lld is %s than this cutover "
                 "reads (version %d, cutover %s); take the snapshot again "
                 "with this version",
                 path, (long long)json_integer_value(ver),
                 json_integer_value(ver) > CO_SNAPSHOT_VERSION ? "newer"
                                                               : "older",
                 CO_SNAPSHOT_VERSION, CUTOVER_VERSION);
        return -1;
    }
    if (side == NULL || (strcmp(side, "source") && strcmp(side, "target"))) {
        snprintf(err, errlen, "%s: snapshot \"side\" must be source or target",
                 path);
        return -1;
    }
    if (!json_is_object(res)) {
        snprintf(err, errlen, "%s: snapshot has no \"resources\" object",
                 path);
        return -1;
    }
    json_object_foreach(res, key, e)
    {
        json_t *q = json_object_get(e, "queries");
        json_t *f = json_object_get(e, "facts");
        size_t i;
        json_t *v;

        if (!json_is_object(e) || (q && !json_is_array(q)) ||
            (f && !json_is_object(f))) {
            snprintf(err, errlen, "%s: resource \"%s\" is malformed", path,
                     key);
            return -1;
        }
        json_array_foreach(q, i, v)
        {
            if (!json_is_string(json_object_get(v, "sql")) ||
                !json_is_array(json_object_get(v, "columns")) ||
                !json_is_array(json_object_get(v, "rows"))) {
                snprintf(err, errlen,
                         "%s: resource \"%s\": query %zu is malformed", path,
                         key, i + 1);
                return -1;
            }
        }
    }
    return 0;
}

struct co_baseline *co_baseline_load(const char *path, char *err,
                                     size_t errlen)
{
    struct co_baseline *b;
    json_error_t je;
    json_t *root;
    const char *side;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (je.line <= 0)
            snprintf(err, errlen, "%s: %s", path, je.text);
        else
            snprintf(err, errlen, "%s:%d:%d: not valid JSON: %s", path,
                     je.line, je.column, je.text);
        return NULL;
    }
    if (validate(root, path, err, errlen) != 0) {
        json_decref(root);
        return NULL;
    }
    side = json_string_value(json_object_get(root, "side"));
    b = baseline_alloc(root, strcmp(side, "source") == 0);
    b->path = co_strdup(path);
    return b;
}

char *co_baseline_describe(const struct co_baseline *b)
{
    return co_asprintf(
        "baseline %s (%s, taken %s)", b->path ? b->path : "snapshot",
        b->taken_source ? "source" : "target", co_baseline_taken_at(b));
}

void co_baseline_free(struct co_baseline *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->ntapes; i++) {
        free(b->tapes[i].key);
        json_decref(b->tapes[i].tape->index);
        free(b->tapes[i].tape);
    }
    free(b->tapes);
    free(b->path);
    co_baseline_free(b->twin);
    pthread_mutex_destroy(&b->mu);
    json_decref(b->root);
    free(b);
}

int co_baseline_pair(struct co_baseline *b, struct co_baseline *twin,
                     char *err, size_t errlen)
{
    if (b->recording || twin->recording || b->twin != NULL ||
        b->source == twin->source) {
        snprintf(err, errlen,
                 "two baselines both stand for the %s: give one snapshot of "
                 "each side (--baseline-as moves the first)",
                 b->source ? "source" : "target");
        return -1;
    }
    b->twin = twin;
    return 0;
}

struct co_baseline *co_baseline_side(const struct co_baseline *b, bool source)
{
    if (b == NULL)
        return NULL;
    if (b->source == source)
        return (struct co_baseline *)b;
    if (b->twin != NULL && b->twin->source == source)
        return b->twin;
    return NULL;
}

bool co_baseline_is_source(const struct co_baseline *b)
{
    return b->source;
}

void co_baseline_set_side(struct co_baseline *b, bool source)
{
    b->source = source;
}

bool co_baseline_recording(const struct co_baseline *b)
{
    return b->recording;
}

const char *co_baseline_taken_at(const struct co_baseline *b)
{
    const char *s = json_string_value(json_object_get(b->root, "taken_at"));
    return s ? s : "?";
}

const char *co_baseline_tool_version(const struct co_baseline *b)
{
    const char *s =
        json_string_value(json_object_get(b->root, "tool_version"));
    return s ? s : "?";
}

static char *res_key(const struct co_resource *res)
{
    return co_asprintf("%s.%s", co_kind_name(res->kind), res->name);
}

bool co_baseline_has(const struct co_baseline *b,
                     const struct co_resource *res)
{
    char *key = res_key(res);
    bool has = json_object_get(b->resources, key) != NULL;

    free(key);
    return has;
}

void co_baseline_counts(const struct co_baseline *b, size_t *nres,
                        size_t *nqueries, size_t *nfacts)
{
    const char *key, *k2;
    json_t *e, *f;

    *nres = json_object_size(b->resources);
    *nqueries = *nfacts = 0;
    json_object_foreach(b->resources, key, e)
    {
        *nqueries += json_array_size(json_object_get(e, "queries"));
        json_object_foreach(json_object_get(e, "facts"), k2, f)
        {
            *nfacts += json_object_size(f);
        }
    }
}

/* The entry of a resource, created when recording. Caller holds mu. */
static json_t *entry_of(struct co_baseline *b, const struct co_resource *res,
                        const struct co_run *run)
{
    char *key = res_key(res);
    json_t *e = json_object_get(b->resources, key);

    if (e == NULL && b->recording) {
        const char *url = co_run_url(run, b->source);
        char *masked = co_mask(url);
        e = json_pack("{s:s, s:s?, s:[], s:{}}", "kind",
                      co_kind_name(res->kind), "endpoint", masked, "queries",
                      "facts");
        free(masked);
        json_object_set_new(b->resources, key, e);
    }
    free(key);
    return e;
}

/* ---- writing
 * ---------------------------------------------------------------- */

/* Every string in j that co_mask would change: a secret, refused. */
static void find_secrets(const json_t *j, const char *where,
                         struct co_buf *hits)
{
    const char *key;
    json_t *v;
    size_t i;

    if (json_is_string(j)) {
        char *m = co_mask(json_string_value(j));
        if (strcmp(m, json_string_value(j)) != 0 && hits->len < 512)
            co_buf_addf(hits, "%s%s", hits->len ? ", " : "", where);
        free(m);
        return;
    }
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) find_secrets(v, where, hits);
        return;
    }
    json_object_foreach((json_t *)j, key, v)
    {
        char *m = co_mask(key);
        if (strcmp(m, key) != 0 && hits->len < 512)
            co_buf_addf(hits, "%s%s", hits->len ? ", " : "", where);
        free(m);
        find_secrets(v, where, hits);
    }
}

static int fill_json(FILE *f, void *arg)
{
    if (json_dumpf(arg, f, JSON_COMPACT | JSON_SORT_KEYS) != 0)
        return -1;
    return fputc('\n', f) == EOF ? -1 : 0;
}

int co_baseline_save(struct co_baseline *b, const char *path, char *err,
                     size_t errlen)
{
    struct co_buf hits;
    const char *key;
    json_t *e;
    int rc;

    co_buf_init(&hits);
    pthread_mutex_lock(&b->mu);
    json_object_foreach(b->resources, key, e)
    {
        const char *k;
        json_t *v;

        json_object_foreach(e, k, v)
        {
            /* the masked endpoint is meant to show a masked secret */
            if (strcmp(k, "endpoint") != 0)
                find_secrets(v, key, &hits);
        }
    }
    if (hits.len > 0) {
        snprintf(err, errlen,
                 "%s not written: a password or token from the config "
                 "appears in the data recorded for %s",
                 path, hits.s);
        rc = -1;
    } else {
        rc =
            co_write_atomic(path, "snapshot", fill_json, b->root, err, errlen);
    }
    pthread_mutex_unlock(&b->mu);
    co_buf_free(&hits);
    return rc;
}

/* ---- what a check sees
 * ------------------------------------------------------ */

bool co_baseline_sided(const struct co_resource *res)
{
    return res->kind == CO_KIND_POSTGRES || res->kind == CO_KIND_REDIS;
}

bool co_run_recording(const struct co_run *run)
{
    return run->baseline != NULL && run->baseline->recording;
}

bool co_run_replayed(const struct co_run *run, bool source)
{
    const struct co_baseline *b = co_baseline_side(run->baseline, source);

    return b != NULL && !b->recording && co_baseline_sided(run->res) &&
           co_baseline_has(b, run->res);
}

int co_run_anchor(const struct co_run *run)
{
    const struct co_baseline *b = run->baseline;

    if (b == NULL || !co_baseline_sided(run->res))
        return -1;
    if (b->recording)
        return b->source ? 0 : 1;
    /* two baselines: the source's questions are asked of both */
    if (co_run_replayed(run, true))
        return 0;
    return co_run_replayed(run, false) ? 1 : -1;
}

void co_run_origins(const struct co_run *run, enum co_side_origin from[2])
{
    int anchor = co_run_anchor(run);

    for (int i = 0; i < 2; i++) {
        from[i] = CO_SIDE_LIVE;
        if (co_run_replayed(run, i == 0))
            from[i] = CO_SIDE_BASELINE;
        else if (co_run_recording(run) && i != anchor)
            from[i] = CO_SIDE_MIRROR;
    }
}

int co_run_baseline_lacks(struct co_run *run, const char *name,
                          const char *what)
{
    char label[160];

    co_run_baseline_label(run, label, sizeof(label));
    return co_case_addf(run, CO_ERROR, name, NULL, NULL,
                        "%s holds no %s (was it taken with another config "
                        "or cutover version?)",
                        label, what);
}

const char *co_run_url(const struct co_run *run, bool source)
{
    const struct co_resource *res = run->res;
    const struct co_baseline *b = run->baseline;

    if (res == NULL)
        return NULL;
    if (b != NULL && b->recording)
        source = b->source;
    return source ? res->source : res->target;
}

/* The facts of run's check in the recorded entry of its resource, made
 * when absent. Called with b->mu held. */
static json_t *mine_of(struct co_baseline *b, struct co_run *run)
{
    json_t *facts = json_object_get(entry_of(b, run->res, run), "facts");
    json_t *mine = json_object_get(facts, run->check->id);

    if (mine == NULL) {
        mine = json_object();
        json_object_set_new(facts, run->check->id, mine);
    }
    return mine;
}

void co_run_fact_put(struct co_run *run, const char *key, json_t *value)
{
    struct co_baseline *b = run->baseline;

    if (b == NULL || !b->recording) {
        json_decref(value);
        return;
    }
    pthread_mutex_lock(&b->mu);
    json_object_set_new(mine_of(b, run), key, value);
    pthread_mutex_unlock(&b->mu);
}

/* key of run's check and resource in the facts of baseline b. */
static json_t *fact_in(const struct co_baseline *b, const struct co_run *run,
                       const char *key)
{
    char *rk;
    json_t *v;

    if (b == NULL || b->recording)
        return NULL;
    rk = res_key(run->res);
    v = json_object_get(
        json_object_get(
            json_object_get(json_object_get(b->resources, rk), "facts"),
            run->check->id),
        key);
    free(rk);
    return v;
}

json_t *co_run_fact(const struct co_run *run, const char *key)
{
    return fact_in(run->baseline, run, key);
}

/* Stores value under key (and sub: a member of the object at key). */
static void fact_put_sub(struct co_run *run, const char *key, const char *sub,
                         json_t *value)
{
    struct co_baseline *b = run->baseline;
    json_t *mine, *at;

    if (sub == NULL || b == NULL || !b->recording) {
        co_run_fact_put(run, key, value);
        return;
    }
    pthread_mutex_lock(&b->mu);
    mine = mine_of(b, run);
    at = json_object_get(mine, key);
    if (!json_is_object(at)) {
        at = json_object();
        json_object_set_new(mine, key, at);
    }
    json_object_set_new(at, sub, value);
    pthread_mutex_unlock(&b->mu);
}

struct observe_job {
    struct co_run *run;
    const struct co_facts_req *req;
    enum co_side_origin from[2];
    json_t *facts[2];
    char err[2][CO_ERRLEN + 32];
};

static void observe_side(void *ctx, size_t i)
{
    struct observe_job *j = ctx;

    if (j->from[i] != CO_SIDE_LIVE)
        return;
    j->err[i][0] = '\0';
    j->facts[i] = j->req->observe(j->run, (int)i, j->req->ctx, j->err[i],
                                  sizeof(j->err[i]));
    if (j->facts[i] == NULL && j->err[i][0] == '\0')
        snprintf(j->err[i], sizeof(j->err[i]), "%s: no answer",
                 i == 0 ? "source" : "target");
}

int co_run_facts(struct co_run *run, const struct co_facts_req *req,
                 json_t *facts[2])
{
    struct observe_job j = {.run = run, .req = req};
    int anchor = co_run_anchor(run), bad = -1;

    co_run_origins(run, j.from);
    /* both sides at once when both are asked now */
    co_parallel(2,
                j.from[0] == CO_SIDE_LIVE && j.from[1] == CO_SIDE_LIVE ? 2 : 1,
                observe_side, &j);
    for (int i = 0; i < 2; i++)
        if (j.from[i] == CO_SIDE_BASELINE) {
            json_t *v = fact_in(co_baseline_side(run->baseline, i == 0), run,
                                req->key);
            if (req->sub != NULL)
                v = json_object_get(v, req->sub);
            j.facts[i] = json_incref(v);
        }
    for (int i = 0; i < 2; i++)
        if (j.from[i] == CO_SIDE_MIRROR)
            j.facts[i] = json_incref(j.facts[1 - i]);
    for (int i = 0; i < 2 && bad < 0; i++)
        if (j.facts[i] == NULL)
            bad = i;
    if (bad >= 0) {
        if (j.from[bad] == CO_SIDE_BASELINE)
            co_run_baseline_lacks(run, req->name, req->what);
        else
            co_case_addf(run, CO_ERROR, req->name, NULL, NULL, "%s",
                         j.err[bad]);
        for (int i = 0; i < 2; i++)
            json_decref(j.facts[i]);
        facts[0] = facts[1] = NULL;
        return -1;
    }
    if (co_run_recording(run) && anchor >= 0)
        fact_put_sub(run, req->key, req->sub, json_incref(j.facts[anchor]));
    facts[0] = j.facts[0];
    facts[1] = j.facts[1];
    return 0;
}

const char *co_run_live_url(const struct co_run *run, bool source)
{
    enum co_side_origin from[2];

    co_run_origins(run, from);
    return from[source ? 0 : 1] == CO_SIDE_LIVE ? co_run_url(run, source)
                                                : NULL;
}

bool co_run_both_live(const struct co_run *run)
{
    enum co_side_origin from[2];

    co_run_origins(run, from);
    return from[0] == CO_SIDE_LIVE && from[1] == CO_SIDE_LIVE;
}

int co_run_live_side(const struct co_run *run)
{
    enum co_side_origin from[2];

    co_run_origins(run, from);
    return from[0] == CO_SIDE_LIVE ? 0 : from[1] == CO_SIDE_LIVE ? 1 : -1;
}

void co_run_baseline_label(const struct co_run *run, char *out, size_t outlen)
{
    const struct co_baseline *b = run->baseline;

    if (b == NULL) {
        snprintf(out, outlen, "no baseline");
        return;
    }
    if (b->twin != NULL) {
        const struct co_baseline *s = co_baseline_side(b, true);
        const struct co_baseline *t = co_baseline_side(b, false);
        snprintf(out, outlen,
                 "the baseline snapshots (source taken %s, target taken %s)",
                 co_baseline_taken_at(s), co_baseline_taken_at(t));
        return;
    }
    snprintf(out, outlen, "the baseline snapshot (%s, taken %s)",
             b->taken_source ? "source" : "target", co_baseline_taken_at(b));
}

/* ---- the PostgreSQL tape
 * ---------------------------------------------------- */

static void index_build(struct co_pg_tape *t)
{
    size_t i;
    json_t *q;

    t->index = json_object();
    json_array_foreach(t->queries, i, q)
    {
        char *key = json_query_key(q);
        if (key != NULL)
            json_object_set_new_nocheck(t->index, key,
                                        json_integer((json_int_t)i));
        free(key);
    }
}

struct co_pg_tape *co_pg_tape_for(const struct co_run *run, bool source)
{
    struct co_baseline *b =
        run ? co_baseline_side(run->baseline, source) : NULL;
    struct co_pg_tape *t = NULL;
    json_t *e;
    char *key;

    if (b == NULL || run->res == NULL || run->res->kind != CO_KIND_POSTGRES)
        return NULL;
    if (!b->recording && !co_baseline_has(b, run->res))
        return NULL;
    key = res_key(run->res);
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < b->ntapes; i++)
        if (strcmp(b->tapes[i].key, key) == 0)
            t = b->tapes[i].tape;
    if (t == NULL && (e = entry_of(b, run->res, run)) != NULL) {
        b->tapes = co_realloc(b->tapes, (b->ntapes + 1) * sizeof(*b->tapes));
        b->tapes[b->ntapes].key = key;
        key = NULL;
        t = b->tapes[b->ntapes++].tape = co_calloc(1, sizeof(*t));
        t->b = b;
        t->entry = e;
        t->queries = json_object_get(e, "queries");
        if (t->queries == NULL) {
            t->queries = json_array();
            json_object_set_new(e, "queries", t->queries);
        }
        t->replay = !b->recording;
        index_build(t);
    }
    pthread_mutex_unlock(&b->mu);
    free(key);
    return t;
}

bool co_pg_tape_replaying(const struct co_pg_tape *t)
{
    return t != NULL && t->replay;
}

static json_t *columns_json(const PGresult *res)
{
    json_t *cols = json_array();

    for (int c = 0; c < PQnfields(res); c++)
        json_array_append_new(cols, json_pack("[s, I]", PQfname(res, c),
                                              (json_int_t)PQftype(res, c)));
    return cols;
}

static json_t *row_json(const PGresult *res, int r)
{
    json_t *row = json_array();

    for (int c = 0; c < PQnfields(res); c++)
        json_array_append_new(
            row, PQgetisnull(res, r, c)
                     ? json_null()
                     : bytes_json(PQgetvalue(res, r, c),
                                  (size_t)PQgetlength(res, r, c)));
    return row;
}

static json_t *params_json(int nparams, const char *const *params)
{
    json_t *a = json_array();

    for (int i = 0; i < nparams; i++)
        json_array_append_new(a, params && params[i]
                                     ? bytes_json(params[i], strlen(params[i]))
                                     : json_null());
    return a;
}

/* Adds rec (stolen) under its key, replacing an older answer. */
static void tape_store(struct co_pg_tape *t, const char *sql, int nparams,
                       const char *const *params, json_t *rec)
{
    char *key = query_key(sql, nparams, params);
    json_t *at;

    json_object_set_new(rec, "sql", bytes_json(sql, strlen(sql)));
    json_object_set_new(rec, "params", params_json(nparams, params));
    pthread_mutex_lock(&t->b->mu);
    at = json_object_get(t->index, key);
    if (at != NULL) {
        json_array_set_new(t->queries, (size_t)json_integer_value(at), rec);
    } else {
        json_object_set_new_nocheck(
            t->index, key,
            json_integer((json_int_t)json_array_size(t->queries)));
        json_array_append_new(t->queries, rec);
    }
    pthread_mutex_unlock(&t->b->mu);
    free(key);
}

void co_pg_tape_put(struct co_pg_tape *t, const char *sql, int nparams,
                    const char *const *params, const PGresult *res)
{
    json_t *rows;

    if (t == NULL || t->replay)
        return;
    rows = json_array();
    for (int r = 0; r < PQntuples(res); r++)
        json_array_append_new(rows, row_json(res, r));
    tape_store(
        t, sql, nparams, params,
        json_pack("{s:o, s:o}", "columns", columns_json(res), "rows", rows));
}

json_t *co_pg_tape_stream_begin(const PGresult *first_row)
{
    return json_pack("{s:o, s:[]}", "columns", columns_json(first_row),
                     "rows");
}

void co_pg_tape_stream_row(json_t *rec, const PGresult *row)
{
    for (int r = 0; r < PQntuples(row); r++)
        json_array_append_new(json_object_get(rec, "rows"), row_json(row, r));
}

void co_pg_tape_stream_commit(struct co_pg_tape *t, const char *sql,
                              int nparams, const char *const *params,
                              json_t *rec)
{
    if (t == NULL || t->replay) {
        json_decref(rec);
        return;
    }
    if (rec == NULL) /* no row came: an empty answer */
        rec = json_pack("{s:[], s:[]}", "columns", "rows");
    tape_store(t, sql, nparams, params, rec);
}

static const json_t *tape_find(const struct co_pg_tape *t, const char *sql,
                               int nparams, const char *const *params)
{
    char *key = query_key(sql, nparams, params);
    const json_t *q = NULL, *at;

    pthread_mutex_lock(&t->b->mu);
    at = json_object_get(t->index, key);
    if (at != NULL)
        q = json_array_get(t->queries, (size_t)json_integer_value(at));
    pthread_mutex_unlock(&t->b->mu);
    free(key);
    return q;
}

/* An empty result of status st with q's columns. */
static PGresult *result_shell(const json_t *q, ExecStatusType st)
{
    const json_t *cols = json_object_get(q, "columns");
    size_t n = json_array_size(cols);
    PGresAttDesc *att = co_calloc(n ? n : 1, sizeof(*att));
    PGresult *res = PQmakeEmptyPGresult(NULL, st);

    if (res == NULL)
        co_oom();
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(cols, i);
        const char *name = json_string_value(json_array_get(c, 0));
        att[i].name = (char *)(name ? name : "?");
        att[i].typid = (Oid)json_integer_value(json_array_get(c, 1));
        att[i].typlen = -1;
        att[i].atttypmod = -1;
    }
    if (!PQsetResultAttrs(res, (int)n, att))
        co_oom();
    free(att);
    return res;
}

/* Puts row r of q into res as row `at`. */
static void result_row(PGresult *res, const json_t *q, size_t r, int at)
{
    const json_t *row = json_array_get(json_object_get(q, "rows"), r);

    for (int c = 0; c < PQnfields(res); c++) {
        const json_t *v = json_array_get(row, (size_t)c);
        size_t len = 0;
        char *s = v == NULL || json_is_null(v) ? NULL : json_bytes(v, &len);

        if (!PQsetvalue(res, at, c, s, s ? (int)len : -1))
            co_oom();
        free(s);
    }
}

PGresult *co_pg_tape_get(const struct co_pg_tape *t, const char *sql,
                         int nparams, const char *const *params)
{
    const json_t *q = tape_find(t, sql, nparams, params);
    PGresult *res;
    size_t n;

    if (q == NULL)
        return NULL;
    res = result_shell(q, PGRES_TUPLES_OK);
    n = json_array_size(json_object_get(q, "rows"));
    for (size_t r = 0; r < n; r++)
        result_row(res, q, r, (int)r);
    return res;
}

int co_pg_tape_stream(const struct co_pg_tape *t, const char *sql, int nparams,
                      const char *const *params,
                      int (*fn)(const PGresult *row, void *payload),
                      void *payload)
{
    const json_t *q = tape_find(t, sql, nparams, params);
    size_t n;

    if (q == NULL)
        return -1;
    n = json_array_size(json_object_get(q, "rows"));
    for (size_t r = 0; r < n; r++) {
        PGresult *row = result_shell(q, PGRES_SINGLE_TUPLE);
        int stop;

        result_row(row, q, r, 0);
        stop = fn(row, payload);
        PQclear(row);
        if (stop != 0)
            return 1;
    }
    return 0;
}

void co_pg_tape_set_server(struct co_pg_tape *t, int server_version)
{
    if (t == NULL || t->replay)
        return;
    pthread_mutex_lock(&t->b->mu);
    json_object_set_new(t->entry, "server_version",
                        json_integer(server_version));
    pthread_mutex_unlock(&t->b->mu);
}

int co_pg_tape_server(const struct co_pg_tape *t)
{
    int v;

    pthread_mutex_lock(&t->b->mu);
    v = (int)json_integer_value(json_object_get(t->entry, "server_version"));
    pthread_mutex_unlock(&t->b->mu);
    return v;
}
