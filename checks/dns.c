/*
 * dns.c - the `dns.ttl` and `dns.resolve` checks on `domains:`.
 *
 * dns.ttl (pre-cutover): a record cached for a day keeps clients on
 * Heroku for a day after the switch, and the CNAME's own TTL counts as
 * much as the address behind it, so every record of the answer chain
 * is held against ttl_max, on every resolver (a recursive resolver's
 * TTL counts down, hence `authoritative: true` also asks the zone's NS
 * servers).
 *
 * dns.resolve (post-cutover): the name resolves on every resolver, the
 * chain reaches expect_cname / expect_addresses, and the resolvers agree
 * (one still answering with the Heroku target is stale propagation and
 * is named). NXDOMAIN, SERVFAIL and silence are told apart: a silent
 * resolver is `error` (the check could not look), the others `fail`.
 *
 * Every lookup of a run goes out in one co_dns_run() batch, shared by
 * the tasks of both checks (see "the run's lookups" below).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/baseline.h"
#include "cutover/check.h"
#include "cutover/dns.h"

#define DEFAULT_TTL_MAX 300
#define MAX_CHAIN       16

static const struct co_param dns_params[] = {
    {"timeout", CO_P_DURATION, NULL,
     "deadline for the lookups (default: the task deadline, "
     "settings.timeout)"},
    {0},
};

/* A server to ask and how to name it in cases. */
struct resolver {
    char *addr;  /* NULL: the system's */
    char *label; /* "127.0.0.1:45353", "system resolver", ... */
};

struct resolvers {
    struct resolver *v;
    size_t n;
};

static void resolvers_add(struct resolvers *rs, const char *addr,
                          const char *label)
{
    rs->v = co_realloc(rs->v, (rs->n + 1) * sizeof(*rs->v));
    rs->v[rs->n].addr = co_strdup(addr);
    rs->v[rs->n].label = co_strdup(label);
    rs->n++;
}

static void resolvers_free(struct resolvers *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].addr);
        free(rs->v[i].label);
    }
    free(rs->v);
}

/* The domain's resolvers, else settings.resolvers, else the system's. */
static void resolvers_init(const struct co_config *cfg,
                           const struct co_resource *res, struct resolvers *rs)
{
    const struct co_strlist *l = &res->resolvers;

    memset(rs, 0, sizeof(*rs));
    if (l->n == 0)
        l = &cfg->settings.resolvers;
    for (size_t i = 0; i < l->n; i++)
        resolvers_add(rs, l->v[i], l->v[i]);
    if (rs->n == 0)
        resolvers_add(rs, NULL, "system resolver");
}

static int64_t lookup_deadline(const struct co_run *run)
{
    return co_deadline_cap(run->deadline,
                           co_param_duration_ms(run, "timeout"));
}

static int interrupted(struct co_run *run)
{
    snprintf(run->errstr, sizeof(run->errstr), "interrupted");
    return -1;
}

/* A and AAAA for name on every resolver: q[2i] and q[2i+1]. */
static void address_fill(struct co_dns_query *q, const char *name,
                         const struct resolvers *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        q[2 * i].name = name;
        q[2 * i].type = CO_DNS_A;
        q[2 * i].server = rs->v[i].addr;
        q[2 * i + 1] = q[2 * i];
        q[2 * i + 1].type = CO_DNS_AAAA;
    }
}

static struct co_dns_query *address_queries(const char *name,
                                            const struct resolvers *rs)
{
    struct co_dns_query *q = co_calloc(rs->n * 2, sizeof(*q));

    address_fill(q, name, rs);
    return q;
}

/* ---- the run's lookups, in one batch ------------------------------------ */

/* Every question of the run goes out in one co_dns_run(), made by the
 * first DNS task to start (co_run_shared) and read by the others: 100
 * names take about as long as one. dns.ttl and dns.resolve share it, so
 * it holds what either needs. Only `authoritative: true` lookups (whose
 * servers are known only after an NS lookup) stay in their task. */
#define LOOKUPS_KEY     "dns.lookups"
#define BATCH_MARGIN_MS 250

/* One domain's part of the batch, from q[first]: A and AAAA on each
 * resolver (q[first + 2i], q[first + 2i + 1]), then with acme_name the
 * _acme-challenge CNAME on each resolver (q[first + 2n + i]). */
struct slice {
    const struct co_resource *res;
    struct resolvers rs;
    char *acme_name; /* NULL: no acme lookups */
    size_t first;
};

struct lookups {
    struct co_dns_query *q;
    size_t nq;
    struct slice *s;
    size_t ns;
    enum co_net_err rc; /* of the batch: CO_NET_OK when it ran */
    char err[CO_ERRLEN];
};

static void lookups_free(void *arg)
{
    struct lookups *lk = arg;

    if (lk == NULL)
        return;
    co_dns_queries_free(lk->q, lk->nq);
    free(lk->q);
    for (size_t i = 0; i < lk->ns; i++) {
        resolvers_free(&lk->s[i].rs);
        free(lk->s[i].acme_name);
    }
    free(lk->s);
    free(lk);
}

/* Adds res's questions (owned by lk; names borrowed from res, which
 * outlives the run). */
static void lookups_add(struct lookups *lk, const struct co_config *cfg,
                        const struct co_resource *res)
{
    struct slice *s;
    size_t n;

    lk->s = co_realloc(lk->s, (lk->ns + 1) * sizeof(*lk->s));
    s = &lk->s[lk->ns++];
    memset(s, 0, sizeof(*s));
    s->res = res;
    s->first = lk->nq;
    resolvers_init(cfg, res, &s->rs);
    if (res->expect_acme_cname && res->expect_cname != NULL)
        s->acme_name = co_asprintf("_acme-challenge.%s", res->name);
    n = s->rs.n * (s->acme_name != NULL ? 3 : 2);
    lk->q = co_realloc(lk->q, (lk->nq + n) * sizeof(*lk->q));
    memset(&lk->q[lk->nq], 0, n * sizeof(*lk->q));
    address_fill(&lk->q[lk->nq], res->name, &s->rs);
    for (size_t i = 0; s->acme_name != NULL && i < s->rs.n; i++) {
        struct co_dns_query *q = &lk->q[lk->nq + 2 * s->rs.n + i];
        q->name = s->acme_name;
        q->type = CO_DNS_CNAME;
        q->server = s->rs.v[i].addr;
    }
    lk->nq += n;
}

/* Sends the batch, bounded by run's lookup deadline and cancel flag.
 * The tasks waiting for it give up at their own deadline, which can be
 * the very millisecond of run's (tasks start together): the batch ends
 * a little earlier so that a silent resolver's timeout reaches them as
 * answers ("timed out after ...") rather than as no batch at all. */
static void lookups_send(struct lookups *lk, struct co_run *run)
{
    int64_t d = lookup_deadline(run);
    int64_t margin = (run->deadline - co_now_ms()) / 10;

    if (margin > BATCH_MARGIN_MS)
        margin = BATCH_MARGIN_MS;
    if (margin > 0 && d > run->deadline - margin)
        d = run->deadline - margin;
    lk->rc =
        co_dns_run(lk->q, lk->nq, d, run->cancel, lk->err, sizeof(lk->err));
}

/* co_run_shared's make: every domain of the config. A domain whose
 * checks are all disabled is asked too; the batch costs the same. */
static void *lookups_make(struct co_run *run)
{
    struct lookups *lk = co_calloc(1, sizeof(*lk));

    for (size_t i = 0; i < run->cfg->nres; i++)
        if (run->cfg->res[i].kind == CO_KIND_DOMAIN)
            lookups_add(lk, run->cfg, &run->cfg->res[i]);
    lookups_send(lk, run);
    return lk;
}

static const struct slice *slice_find(const struct lookups *lk,
                                      const struct co_resource *res)
{
    for (size_t i = 0; lk != NULL && i < lk->ns; i++)
        if (lk->s[i].res == res)
            return &lk->s[i];
    return NULL;
}

/* The run's batch, or NULL when this task gave up waiting for it (its
 * deadline or an interrupt). A resource the batch does not know (not in
 * run->cfg) gets a batch of its own in *own, which the caller frees. */
static const struct lookups *lookups_get(struct co_run *run,
                                         struct lookups **own)
{
    const struct lookups *lk =
        co_run_shared(run, LOOKUPS_KEY, lookups_make, lookups_free);

    *own = NULL;
    if (lk != NULL && slice_find(lk, run->res) == NULL) {
        *own = co_calloc(1, sizeof(**own));
        lookups_add(*own, run->cfg, run->res);
        lookups_send(*own, run);
        lk = *own;
    }
    return lk;
}

/* Did the batch give this task answers? When not, says why (an error
 * case, or errstr "interrupted") and sets *ret to what run() returns. */
static bool lookups_usable(struct co_run *run, const struct lookups *lk,
                           int *ret)
{
    *ret = 0;
    if ((lk == NULL && co_run_cancelled(run)) ||
        (lk != NULL && lk->rc == CO_NET_CANCELLED)) {
        *ret = interrupted(run);
        return false;
    }
    if (lk == NULL)
        co_case_addf(run, CO_ERROR, run->res->name, NULL, NULL,
                     "timed out: the run's DNS lookups did not finish "
                     "before this check's deadline");
    else if (lk->rc != CO_NET_OK)
        co_case_addf(run, CO_ERROR, run->res->name, NULL, NULL, "%s", lk->err);
    return lk != NULL && lk->rc == CO_NET_OK;
}

/* The A and AAAA answers of one resolver taken together: the worse
 * outcome when either failed, else the union of their records. */
struct merged {
    enum co_net_err status;
    const char *err;
    const struct co_dns_rr *rr[64];
    size_t n;
};

static bool rr_same(const struct co_dns_rr *a, const struct co_dns_rr *b)
{
    return a->type == b->type && co_dns_name_eq(a->name, b->name) &&
           strcmp(a->data, b->data) == 0;
}

static void merge_add(struct merged *m, const struct co_dns_answer *a)
{
    for (size_t i = 0; i < a->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < m->n && !seen; j++)
            seen = rr_same(m->rr[j], &a->v[i]);
        if (!seen && m->n < sizeof(m->rr) / sizeof(m->rr[0]))
            m->rr[m->n++] = &a->v[i];
    }
}

static void merge(const struct co_dns_query *a, const struct co_dns_query *b,
                  struct merged *m)
{
    memset(m, 0, sizeof(*m));
    m->status = CO_NET_OK;
    if (a->status != CO_NET_OK || b->status != CO_NET_OK) {
        const struct co_dns_query *bad = a->status != CO_NET_OK ? a : b;
        m->status = bad->status;
        m->err = bad->err;
        return;
    }
    merge_add(m, &a->ans);
    merge_add(m, &b->ans);
}

/* "CNAME legacy.x -> app.y TTL 86400 s" / "A app.y 127.0.0.1 TTL 300 s" */
static void rr_describe(struct co_buf *b, const struct co_dns_rr *rr)
{
    if (rr->type == CO_DNS_CNAME)
        co_buf_addf(b, "CNAME %s -> %s TTL %lu s", rr->name, rr->data,
                    (unsigned long)rr->ttl);
    else
        co_buf_addf(b, "%s %s %s TTL %lu s", co_dns_type_name(rr->type),
                    rr->name, rr->data, (unsigned long)rr->ttl);
}

/* Not an answer: NXDOMAIN and SERVFAIL are what resolvers say of the
 * domain (its name does not exist, its own servers fail it): fail. A
 * resolver that refuses us (REFUSED: its ACL, not the domain), does not
 * answer or cannot be reached was never asked about the domain: error. */
static enum co_status lookup_status(enum co_net_err e)
{
    switch (e) {
    case CO_NET_NOTFOUND:
    case CO_NET_DNSFAIL:
        return CO_FAIL;
    default:
        return CO_ERROR;
    }
}

static const char *lookup_word(enum co_net_err e)
{
    switch (e) {
    case CO_NET_NOTFOUND:
        return "name not found (NXDOMAIN)";
    case CO_NET_DNSFAIL:
        return "server failure (SERVFAIL)";
    case CO_NET_REFUSED:
        return "refused (REFUSED)";
    case CO_NET_TIMEOUT:
        return "timed out (no answer)";
    default:
        return "lookup failed";
    }
}

static void add_lookup_failure(struct co_run *run, const char *cname,
                               const char *label, const struct merged *m)
{
    co_case_addf(run, lookup_status(m->status), cname, NULL, NULL,
                 "%s on %s: %s", lookup_word(m->status), label, m->err);
}

/* ---- dns.ttl ---------------------------------------------------------- */

static void ttl_verdict(struct co_run *run, const char *cname,
                        const char *label, const struct merged *m, int64_t max,
                        bool dflt)
{
    struct co_buf over, ok;
    size_t nover = 0;

    co_buf_init(&over);
    co_buf_init(&ok);
    co_buf_puts(&over, "");
    co_buf_puts(&ok, "");
    for (size_t i = 0; i < m->n; i++) {
        bool too_long = (int64_t)m->rr[i]->ttl > max;
        struct co_buf *b = too_long ? &over : &ok;
        nover += too_long;
        if (b->len > 0)
            co_buf_puts(b, "; ");
        rr_describe(b, m->rr[i]);
    }
    if (m->n == 0)
        co_case_addf(run, CO_FAIL, cname, NULL, NULL,
                     "no A, AAAA or CNAME record on %s (NODATA)", label);
    else if (nover > 0)
        co_case_addf(run, CO_FAIL, cname, NULL, NULL,
                     "%s over ttl_max %lld s%s on %s: %s%s%s%s",
                     nover == 1 ? "TTL" : "TTLs", (long long)max,
                     dflt ? " (default)" : "", label, over.s,
                     ok.len > 0 ? " (within: " : "", ok.s,
                     ok.len > 0 ? ")" : "");
    else
        co_case_addf(run, CO_PASS, cname, NULL, NULL,
                     "every record within ttl_max %lld s%s on %s: %s",
                     (long long)max, dflt ? " (default)" : "", label, ok.s);
    co_buf_free(&over);
    co_buf_free(&ok);
}

/* The zone's name servers, for `authoritative: true`: NS of the name
 * and of each parent, asked of the first resolver; the longest owner
 * with NS records wins; their addresses come from the same resolver.
 * The servers found are appended to rs. */
static void add_authoritative(struct co_run *run, const struct resolver *via,
                              struct resolvers *rs)
{
    const char *name = run->res->name, *p;
    struct co_dns_query q[MAX_CHAIN], aq[8];
    size_t nq = 0, naq = 0;
    char err[CO_ERRLEN];
    int64_t deadline = lookup_deadline(run);

    memset(q, 0, sizeof(q));
    for (p = name; p != NULL && nq < MAX_CHAIN; p = strchr(p, '.')) {
        if (*p == '.')
            p++;
        if (*p == '\0' || strchr(p, '.') == NULL)
            break; /* never ask for a top-level domain's servers */
        q[nq].name = p;
        q[nq].type = CO_DNS_NS;
        q[nq++].server = via->addr;
    }
    co_dns_run(q, nq, deadline, run->cancel, err, sizeof(err));
    memset(aq, 0, sizeof(aq));
    for (size_t i = 0; i < nq && naq == 0; i++)
        for (size_t j = 0; j < q[i].ans.n && naq < 8; j++)
            if (q[i].ans.v[j].type == CO_DNS_NS) {
                aq[naq].name = q[i].ans.v[j].data;
                aq[naq].type = CO_DNS_A;
                aq[naq++].server = via->addr;
            }
    if (naq == 0) {
        co_case_addf(run, CO_WARN, "authoritative", NULL, NULL,
                     "no NS records found for %s or its parents on %s: "
                     "only the recursive answers were checked",
                     name, via->label);
        co_dns_queries_free(q, nq);
        return;
    }
    co_dns_run(aq, naq, deadline, run->cancel, err, sizeof(err));
    for (size_t i = 0; i < naq; i++)
        for (size_t j = 0; j < aq[i].ans.n; j++) {
            const struct co_dns_rr *rr = &aq[i].ans.v[j];
            if (rr->type != CO_DNS_A || !co_dns_name_eq(rr->name, aq[i].name))
                continue;
            char *addr = co_asprintf("%s:53", rr->data);
            char *label =
                co_asprintf("authoritative %s (%s)", aq[i].name, rr->data);
            resolvers_add(rs, addr, label);
            free(addr);
            free(label);
        }
    co_dns_queries_free(aq, naq);
    co_dns_queries_free(q, nq);
}

/* ---- baseline snapshots (baseline.h) ------------------------------------ */

/* "CNAME a -> b" / "A a 127.0.0.1": a record without its TTL. */
static char *rr_key(const struct co_dns_rr *rr)
{
    if (rr->type == CO_DNS_CNAME)
        return co_asprintf("CNAME %s -> %s", rr->name, rr->data);
    return co_asprintf("%s %s %s", co_dns_type_name(rr->type), rr->name,
                       rr->data);
}

/* Taking a snapshot: each resolver's records and their TTLs. */
static json_t *ttl_facts(const struct merged *m)
{
    json_t *o = json_object();

    for (size_t i = 0; i < m->n; i++) {
        char *k = rr_key(m->rr[i]);
        json_object_set_new(o, k, json_integer((json_int_t)m->rr[i]->ttl));
        free(k);
    }
    return o;
}

/* Against a baseline: a TTL above the snapshot's was raised since (a
 * resolver's cached TTL only counts down). */
static void ttl_since(struct co_run *run, const char *label,
                      const struct merged *m, const json_t *was)
{
    char *cname = co_asprintf("%s since baseline @ %s", run->res->name, label);
    char when[160];
    struct co_buf up;

    co_run_baseline_label(run, when, sizeof(when));
    co_buf_init(&up);
    co_buf_puts(&up, "");
    for (size_t i = 0; i < m->n; i++) {
        char *k = rr_key(m->rr[i]);
        json_t *t = json_object_get(was, k);
        if (t != NULL && (json_int_t)m->rr[i]->ttl > json_integer_value(t))
            co_buf_addf(&up, "%s%s TTL %lld s -> %lu s", up.len ? "; " : "", k,
                        (long long)json_integer_value(t),
                        (unsigned long)m->rr[i]->ttl);
        free(k);
    }
    if (was == NULL)
        co_case_addf(run, CO_SKIP, cname, NULL, NULL,
                     "%s has no answer from %s", when, label);
    else if (up.len > 0)
        co_case_addf(run, CO_WARN, cname, NULL, NULL,
                     "TTL raised since %s: %s", when, up.s);
    else
        co_case_addf(run, CO_PASS, cname, NULL, NULL, "no TTL above %s's",
                     when);
    co_buf_free(&up);
    free(cname);
}

/* The verdicts of resolvers rs whose answers are q[2i], q[2i+1]; each
 * answer goes into facts (and is held against the baseline's, was). */
static void ttl_report(struct co_run *run, const struct resolvers *rs,
                       const struct co_dns_query *q, const json_t *was,
                       json_t *facts)
{
    int64_t max = run->res->ttl_max;
    bool dflt = max < 0;

    if (dflt)
        max = DEFAULT_TTL_MAX;
    for (size_t i = 0; i < rs->n; i++) {
        struct merged m;
        char *cname = co_asprintf("%s @ %s", run->res->name, rs->v[i].label);
        merge(&q[2 * i], &q[2 * i + 1], &m);
        if (m.status != CO_NET_OK) {
            add_lookup_failure(run, cname, rs->v[i].label, &m);
        } else {
            ttl_verdict(run, cname, rs->v[i].label, &m, max, dflt);
            json_object_set_new(facts, rs->v[i].label, ttl_facts(&m));
            if (was != NULL)
                ttl_since(run, rs->v[i].label, &m,
                          json_object_get(was, rs->v[i].label));
        }
        free(cname);
    }
}

/* `authoritative: true`: the zone's servers, found and asked by this
 * task (after the run's batch, which cannot know them). */
static int ttl_authoritative(struct co_run *run, const struct resolver *via,
                             const json_t *was, json_t *facts)
{
    struct resolvers auth;
    struct co_dns_query *q;
    char err[CO_ERRLEN];
    enum co_net_err rc;

    memset(&auth, 0, sizeof(auth));
    add_authoritative(run, via, &auth);
    if (auth.n == 0)
        return 0;
    q = address_queries(run->res->name, &auth);
    rc = co_dns_run(q, auth.n * 2, lookup_deadline(run), run->cancel, err,
                    sizeof(err));
    if (rc == CO_NET_OK)
        ttl_report(run, &auth, q, was, facts);
    else if (rc != CO_NET_CANCELLED)
        co_case_addf(run, CO_ERROR, run->res->name, NULL, NULL, "%s", err);
    co_dns_queries_free(q, auth.n * 2);
    free(q);
    resolvers_free(&auth);
    return rc == CO_NET_CANCELLED ? interrupted(run) : 0;
}

static int dns_ttl_run(struct co_run *run)
{
    struct lookups *own;
    const struct lookups *lk = lookups_get(run, &own);
    json_t *was = co_run_fact(run, "ttls");
    json_t *facts = json_object();
    int ret;

    if (lookups_usable(run, lk, &ret)) {
        const struct slice *s = slice_find(lk, run->res);
        ttl_report(run, &s->rs, lk->q + s->first, was, facts);
        if (run->res->authoritative)
            ret = ttl_authoritative(run, &s->rs.v[0], was, facts);
    }
    co_run_fact_put(run, "ttls", facts);
    lookups_free(own);
    return ret;
}

const struct co_check co_check_dns_ttl = {
    .id = "dns.ttl",
    .summary = "TTL of every record in each domain's answer chain <= "
               "ttl_max on every resolver",
    .kind = CO_KIND_DOMAIN,
    .phases = CO_PRE,
    .params = dns_params,
    .run = dns_ttl_run,
    .flags = CO_CHECK_ONE_SIDED | CO_CHECK_SNAPSHOT,
};

/* ---- dns.resolve ------------------------------------------------------ */

/* What one resolver says, ignoring TTLs: the CNAME chain from the name
 * and the sorted addresses at its end. */
struct view {
    const char *chain[MAX_CHAIN]; /* CNAME targets, in order */
    size_t nchain;
    const char *addrs[32];
    size_t naddrs;
    char *text; /* "a -> CNAME b -> 127.0.0.1, ::1" */
};

static int addr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *cname_of(const struct merged *m, const char *owner)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->rr[i]->type == CO_DNS_CNAME &&
            co_dns_name_eq(m->rr[i]->name, owner))
            return m->rr[i]->data;
    return NULL;
}

static void view_build(const char *name, const struct merged *m,
                       struct view *v)
{
    const char *cur = name, *next;
    struct co_buf b;

    memset(v, 0, sizeof(*v));
    while (v->nchain < MAX_CHAIN && (next = cname_of(m, cur)) != NULL) {
        v->chain[v->nchain++] = next;
        cur = next;
    }
    for (size_t i = 0; i < m->n && v->naddrs < 32; i++)
        if ((m->rr[i]->type == CO_DNS_A || m->rr[i]->type == CO_DNS_AAAA) &&
            co_dns_name_eq(m->rr[i]->name, cur))
            v->addrs[v->naddrs++] = m->rr[i]->data;
    qsort(v->addrs, v->naddrs, sizeof(v->addrs[0]), addr_cmp);
    co_buf_init(&b);
    co_buf_puts(&b, name);
    for (size_t i = 0; i < v->nchain; i++)
        co_buf_addf(&b, " -> CNAME %s", v->chain[i]);
    for (size_t i = 0; i < v->naddrs; i++)
        co_buf_addf(&b, "%s%s", i == 0 ? " -> " : ", ", v->addrs[i]);
    if (v->naddrs == 0)
        co_buf_puts(&b, " -> (no address)");
    v->text = co_buf_take(&b);
}

static bool chain_has(const struct view *v, const char *target)
{
    for (size_t i = 0; i < v->nchain; i++)
        if (co_dns_name_eq(v->chain[i], target))
            return true;
    return false;
}

/* Same address whatever its spelling ("::1" vs "0:0::1"). */
static bool addr_eq(const char *a, const char *b)
{
    unsigned char x[16], y[16];

    if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
        return memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
        return memcmp(x, y, 16) == 0;
    return false;
}

static const char *unexpected_addr(const struct view *v,
                                   const struct co_strlist *want)
{
    for (size_t i = 0; i < v->naddrs; i++) {
        bool ok = false;
        for (size_t j = 0; j < want->n && !ok; j++)
            ok = addr_eq(v->addrs[i], want->v[j]);
        if (!ok)
            return v->addrs[i];
    }
    return NULL;
}

/* The verdict of one resolver's answer against the expectations; true
 * when it met them. */
static bool resolve_verdict(struct co_run *run, const char *cname,
                            const char *label, const struct view *v)
{
    const struct co_resource *res = run->res;
    const char *bad;

    if (v->naddrs == 0) {
        co_case_addf(run, CO_FAIL, cname, NULL, NULL,
                     "no address on %s (NODATA): %s", label, v->text);
        return false;
    }
    if (res->expect_cname != NULL && !chain_has(v, res->expect_cname)) {
        co_case_addf(run, CO_FAIL, cname, NULL, NULL,
                     "%s does not reach the expected CNAME %s (stale "
                     "resolver?): %s",
                     label, res->expect_cname, v->text);
        return false;
    }
    if (res->expect_addresses.n > 0 &&
        (bad = unexpected_addr(v, &res->expect_addresses)) != NULL) {
        co_case_addf(run, CO_FAIL, cname, NULL, NULL,
                     "%s answers %s, not an expected address: %s", label, bad,
                     v->text);
        return false;
    }
    co_case_addf(run, CO_PASS, cname, NULL, NULL, "resolves on %s: %s", label,
                 v->text);
    return true;
}

/* With more than one resolver: do they agree? The most common answer
 * (the first resolver's on a tie) is taken as current; the others are
 * named as differing. */
static void agreement(struct co_run *run, const struct resolvers *rs,
                      const struct view *v, const bool *answered)
{
    size_t best = rs->n, best_votes = 0, nans = 0;
    struct co_buf differ, all;

    for (size_t i = 0; i < rs->n; i++) {
        size_t votes = 0;
        if (!answered[i])
            continue;
        nans++;
        for (size_t j = 0; j < rs->n; j++)
            votes += answered[j] && strcmp(v[i].text, v[j].text) == 0;
        if (votes > best_votes) {
            best = i;
            best_votes = votes;
        }
    }
    if (nans < 2)
        return;
    co_buf_init(&differ);
    co_buf_init(&all);
    co_buf_puts(&differ, "");
    for (size_t i = 0; i < rs->n; i++) {
        if (!answered[i] || strcmp(v[i].text, v[best].text) == 0)
            continue;
        co_buf_addf(&differ, "%s%s", differ.len > 0 ? ", " : "",
                    rs->v[i].label);
        co_buf_addf(&all, "; %s says %s", rs->v[i].label, v[i].text);
    }
    if (differ.len == 0)
        co_case_addf(run, CO_PASS, "resolvers agree", NULL, NULL,
                     "%zu resolvers agree: %s", nans, v[best].text);
    else
        co_case_addf(run, CO_FAIL, "resolvers agree", NULL, NULL,
                     "answers differ between resolvers; stale: %s (%s says "
                     "%s%s)",
                     differ.s, rs->v[best].label, v[best].text, all.s);
    co_buf_free(&differ);
    co_buf_free(&all);
}

/* _acme-challenge.NAME must be a CNAME to acme.<expect_cname> for
 * Aptible's dns-01 certificate renewal. */
static void acme_verdict(struct co_run *run, const struct co_dns_query *q,
                         const char *label)
{
    const char *want_base = run->res->expect_cname;
    char *want = co_asprintf("acme.%s", want_base);
    char *cname = co_asprintf("%s @ %s", q->name, label);
    const char *got = NULL;

    for (size_t i = 0; i < q->ans.n && got == NULL; i++)
        if (q->ans.v[i].type == CO_DNS_CNAME &&
            co_dns_name_eq(q->ans.v[i].name, q->name))
            got = q->ans.v[i].data;
    if (q->status != CO_NET_OK)
        co_case_addf(run, lookup_status(q->status), cname, NULL, NULL,
                     "%s on %s: %s (want a CNAME to %s)",
                     lookup_word(q->status), label, q->err, want);
    else if (got == NULL)
        co_case_addf(run, CO_FAIL, cname, NULL, NULL,
                     "no CNAME on %s (want one to %s)", label, want);
    else if (!co_dns_name_eq(got, want))
        co_case_addf(run, CO_FAIL, cname, NULL, NULL,
                     "CNAME to %s on %s, want %s", got, label, want);
    else
        co_case_addf(run, CO_PASS, cname, NULL, NULL, "CNAME to %s on %s", got,
                     label);
    free(cname);
    free(want);
}

/* Taking a snapshot, each resolver's answer is stored; against a
 * baseline, an answer that changed since is named with both. */
static void resolve_facts(struct co_run *run, const struct resolvers *rs,
                          const struct view *v, const bool *answered)
{
    json_t *was = co_run_fact(run, "answers");
    json_t *now = json_object();
    char when[160];

    co_run_baseline_label(run, when, sizeof(when));
    for (size_t i = 0; i < rs->n; i++) {
        const char *label = rs->v[i].label, *before;
        char *cname;

        if (!answered[i])
            continue;
        json_object_set_new(now, label, json_string(v[i].text));
        if (was == NULL)
            continue;
        cname = co_asprintf("%s since baseline @ %s", run->res->name, label);
        before = json_string_value(json_object_get(was, label));
        if (before == NULL)
            co_case_addf(run, CO_SKIP, cname, NULL, NULL,
                         "%s has no answer from %s", when, label);
        else if (strcmp(before, v[i].text) != 0)
            co_case_addf(run, CO_FAIL, cname, before, v[i].text,
                         "answer changed since %s: was %s, now %s", when,
                         before, v[i].text);
        else
            co_case_addf(run, CO_PASS, cname, NULL, NULL,
                         "same answer as %s: %s", when, v[i].text);
        free(cname);
    }
    co_run_fact_put(run, "answers", now);
}

static void resolve_report(struct co_run *run, const struct resolvers *rs,
                           const struct co_dns_query *q)
{
    const char *name = run->res->name;
    struct view *v = co_calloc(rs->n, sizeof(*v));
    bool *answered = co_calloc(rs->n, sizeof(*answered));

    for (size_t i = 0; i < rs->n; i++) {
        struct merged m;
        char *cname = co_asprintf("%s @ %s", name, rs->v[i].label);
        merge(&q[2 * i], &q[2 * i + 1], &m);
        if (m.status != CO_NET_OK) {
            add_lookup_failure(run, cname, rs->v[i].label, &m);
        } else {
            view_build(name, &m, &v[i]);
            answered[i] = true;
            resolve_verdict(run, cname, rs->v[i].label, &v[i]);
        }
        free(cname);
    }
    agreement(run, rs, v, answered);
    resolve_facts(run, rs, v, answered);
    for (size_t i = 0; i < rs->n; i++)
        free(v[i].text);
    free(v);
    free(answered);
}

static int dns_resolve_run(struct co_run *run)
{
    struct lookups *own;
    const struct lookups *lk = lookups_get(run, &own);
    int ret;

    if (lookups_usable(run, lk, &ret)) {
        const struct slice *s = slice_find(lk, run->res);
        const struct co_dns_query *q = lk->q + s->first;
        resolve_report(run, &s->rs, q);
        for (size_t i = 0; s->acme_name != NULL && i < s->rs.n; i++)
            acme_verdict(run, &q[2 * s->rs.n + i], s->rs.v[i].label);
    }
    lookups_free(own);
    return ret;
}

const struct co_check co_check_dns_resolve = {
    .id = "dns.resolve",
    .summary = "domain resolves on every resolver, to the expected "
               "CNAME/addresses",
    .kind = CO_KIND_DOMAIN,
    .phases = CO_POST,
    .params = dns_params,
    .run = dns_resolve_run,
    .flags = CO_CHECK_ONE_SIDED | CO_CHECK_SNAPSHOT,
};
