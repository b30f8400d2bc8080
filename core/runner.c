/*
 * runner.c - executes (check x resource) tasks on a pool of workers.
 *
 * Every task owns one co_result, allocated up front in registry order so
 * reports come out in a stable order whatever finishes first. Workers take
 * tasks in that order. The main thread only watches: it wakes when a task
 * ends, every 100 ms for deadlines and progress, and when the signal
 * thread reports SIGINT/SIGTERM.
 *
 * Nothing can stop a thread stuck in a library call, so a task is never
 * killed; it is *sealed*. Sealing adds an `error` case ("timed out" or
 * "interrupted") under the task's lock and makes every later
 * co_case_addf() a no-op, so main can read and report the result while the
 * worker is still inside the check. Checks are written to honour
 * run->deadline and run->cancel themselves; sealing is the safety net
 * that guarantees the process ends and every report is written.
 */
#include "runner.h"

#include "cutover/baseline.h"
#include "cutover/tls.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* How long past its deadline a task may take before it is sealed, and
 * how long checks get to notice a cancel before unfinished work is
 * sealed: long enough for a PQcancel round trip, short enough for CI. */
#define DEADLINE_GRACE_MS 2000
#define CANCEL_GRACE_MS   2000
#define TICK_MS           100

enum task_state { T_PENDING, T_RUNNING, T_DONE };

struct param_slot {
    const struct co_value *v; /* override, or &owned, or NULL */
    struct co_value owned;    /* the parsed default */
};

struct pool;

struct co_task {
    struct co_run run;
    struct pool *pool;
    struct co_result *result;
    struct param_slot *params;
    size_t nparams;
    pthread_mutex_t lock; /* guards result and sealed */
    bool sealed;
    enum task_state state; /* guarded by the pool lock */
    bool given_up;         /* main only */
    /* co_run_progress, from any of the check's threads */
    atomic_llong pdone, ptotal;
    _Atomic(const char *) punit; /* NULL: never reported */
};

/* Work every task of a run can share (co_run_shared). */
struct shared_slot {
    char *key;
    void *value;
    void (*free_fn)(void *);
    bool ready;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct co_task *tasks;
    size_t ntasks, next;
    int live;      /* workers still running */
    bool orphaned; /* main gave up on a stuck worker: last one frees */
    atomic_int cancel;
    int64_t timeout_ms;
    struct shared_slot *shared; /* co_run_shared; guarded by lock */
    size_t nshared;
};

/* ---- the check-facing API (check.h) ------------------------------------ */

bool co_run_is_post(const struct co_run *run)
{
    return run->phase == CO_POST || run->phase == CO_ALL;
}

int64_t co_run_remaining_ms(const struct co_run *run)
{
    int64_t left = run->deadline - co_now_ms();
    return left > 0 ? left : 0;
}

bool co_run_cancelled(const struct co_run *run)
{
    return co_cancelled(run->cancel);
}

static int case_add(struct co_run *run, enum co_status st, const char *name,
                    const char *source, const char *target, double ms,
                    const char *fmt, va_list ap)
{
    struct co_task *t = run->task;
    struct co_buf msg;
    char *mname, *mmsg, *msrc, *mtgt;
    int64_t now = co_now_ms();
    int rc = 0;

    co_buf_init(&msg);
    co_buf_vaddf(&msg, fmt, ap);
    mname = co_mask(name ? name : run->res->name);
    mmsg = co_mask(msg.s ? msg.s : "");
    msrc = co_mask(source);
    mtgt = co_mask(target);
    if (ms < 0)
        ms = (double)(now - run->last_case);
    pthread_mutex_lock(&t->lock);
    if (t->sealed) {
        rc = -1;
    } else {
        co_result_add(t->result, st, mname, mmsg, msrc, mtgt, ms);
        run->last_case = now;
    }
    pthread_mutex_unlock(&t->lock);
    free(mname);
    free(mmsg);
    free(msrc);
    free(mtgt);
    co_buf_free(&msg);
    return rc;
}

int co_case_addf(struct co_run *run, enum co_status status, const char *name,
                 const char *source, const char *target, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = case_add(run, status, name, source, target, -1, fmt, ap);
    va_end(ap);
    return rc;
}

int co_case_add_ms(struct co_run *run, enum co_status status, const char *name,
                   const char *source, const char *target, double duration_ms,
                   const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = case_add(run, status, name, source, target,
                  duration_ms < 0 ? 0 : duration_ms, fmt, ap);
    va_end(ap);
    return rc;
}

static const struct co_value *param_value(const struct co_run *run,
                                          const char *name, enum co_ptype type)
{
    const struct co_task *t = run->task;
    size_t i = 0;

    for (const struct co_param *p = run->check->params; p && p->name;
         p++, i++) {
        if (strcmp(p->name, name) != 0)
            continue;
        assert(p->type == type && "param read with the wrong type");
        if (p->type != type)
            return NULL;
        return t->params[i].v;
    }
    assert(!"param not declared by the check");
    return NULL;
}

bool co_param_bool(const struct co_run *run, const char *name)
{
    const struct co_value *v = param_value(run, name, CO_P_BOOL);
    return v ? v->b : false;
}

int64_t co_param_int(const struct co_run *run, const char *name)
{
    const struct co_value *v = param_value(run, name, CO_P_INT);
    return v ? v->i : 0;
}

double co_param_float(const struct co_run *run, const char *name)
{
    const struct co_value *v = param_value(run, name, CO_P_FLOAT);
    return v ? v->f : 0.0;
}

int64_t co_param_duration_ms(const struct co_run *run, const char *name)
{
    const struct co_value *v = param_value(run, name, CO_P_DURATION);
    return v ? v->i : 0;
}

const char *co_param_string(const struct co_run *run, const char *name)
{
    const struct co_value *v = param_value(run, name, CO_P_STRING);
    return v ? v->s : NULL;
}

const struct co_strlist *co_param_list(const struct co_run *run,
                                       const char *name)
{
    static const struct co_strlist empty = {NULL, 0};
    const struct co_value *v = param_value(run, name, CO_P_LIST);
    return v ? &v->list : &empty;
}

/* ---- progress and shards (check.h) ------------------------------------- */

void co_run_progress(struct co_run *run, int64_t done, int64_t total,
                     const char *unit)
{
    struct co_task *t = run->task;
    long long was = atomic_load(&t->pdone);

    /* several threads of one check may report: done only grows */
    while (was < done && !atomic_compare_exchange_weak(&t->pdone, &was, done))
        ;
    atomic_store(&t->ptotal, total);
    atomic_store(&t->punit, unit != NULL ? unit : "");
}

bool co_run_shard_first(const struct co_run *run)
{
    return run->nshards <= 1 || run->shard == 1;
}

void co_run_shard_pick(const struct co_run *run, const struct co_shard_unit *u,
                       size_t n, bool *mine)
{
    struct co_shard_unit *k;
    int *owner;

    if (run->nshards <= 1) {
        for (size_t i = 0; i < n; i++)
            mine[i] = true;
        return;
    }
    /* the resource is part of the key: two databases' public.users are
     * two units that need not land together */
    k = co_calloc(n + 1, sizeof(*k));
    owner = co_calloc(n + 1, sizeof(*owner));
    for (size_t i = 0; i < n; i++) {
        k[i].key = co_asprintf("%s/%s", run->res->name, u[i].key);
        k[i].weight = u[i].weight;
    }
    co_shard_assign(k, n, run->nshards, owner);
    for (size_t i = 0; i < n; i++) {
        mine[i] = owner[i] == run->shard - 1;
        free((char *)k[i].key);
    }
    free(k);
    free(owner);
}

/* ---- selection --------------------------------------------------------- */

static bool any_glob(const struct co_strlist *globs, const char *id)
{
    for (size_t i = 0; i < globs->n; i++)
        if (co_glob_match(globs->v[i], id))
            return true;
    return false;
}

bool co_runner_selected(const struct co_check *c,
                        const struct co_check_override *ov,
                        const struct co_runner_opts *o)
{
    unsigned phases = ov && ov->has_phases ? ov->phases : c->phases;

    if ((phases & o->phase) == 0)
        return false;
    if (o->only.n && !any_glob(&o->only, c->id))
        return false;
    return !any_glob(&o->skip, c->id);
}

void *co_run_shared(struct co_run *run, const char *key,
                    void *(*make)(struct co_run *run),
                    void (*free_fn)(void *value))
{
    struct pool *p = run->task->pool;
    struct shared_slot *slot = NULL;
    void *v;

    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nshared && slot == NULL; i++)
        if (strcmp(p->shared[i].key, key) == 0)
            slot = &p->shared[i];
    if (slot == NULL) { /* first to ask: make it, the others wait */
        size_t at = p->nshared++;
        p->shared = co_realloc(p->shared, p->nshared * sizeof(*p->shared));
        memset(&p->shared[at], 0, sizeof(p->shared[at]));
        p->shared[at].key = co_strdup(key);
        p->shared[at].free_fn = free_fn;
        pthread_mutex_unlock(&p->lock);
        v = make(run);
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->nshared; i++) /* shared may have moved */
            if (strcmp(p->shared[i].key, key) == 0) {
                p->shared[i].value = v;
                p->shared[i].ready = true;
            }
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return v;
    }
    for (;;) {
        int64_t wait = co_run_remaining_ms(run);

        for (size_t i = 0; i < p->nshared; i++)
            if (strcmp(p->shared[i].key, key) == 0)
                slot = &p->shared[i];
        if (slot->ready || wait <= 0 || co_run_cancelled(run))
            break;
        co_cond_wait_ms(&p->cond, &p->lock, wait < 100 ? wait : 100);
    }
    v = slot->ready ? slot->value : NULL;
    pthread_mutex_unlock(&p->lock);
    return v;
}

/* ---- building the task list -------------------------------------------- */

bool co_check_applies(const struct co_check *c, const struct co_resource *res)
{
    return c->applies ? c->applies(res) : res->kind == c->kind;
}

/* The masked endpoint a result shows for one side of a resource. */
static char *endpoint(const struct co_resource *r, bool source)
{
    switch (r->kind) {
    case CO_KIND_POSTGRES:
    case CO_KIND_REDIS:
    case CO_KIND_ENV:
        return co_mask(source ? r->source : r->target);
    case CO_KIND_ENDPOINT:
    case CO_KIND_EGRESS:
        return source ? NULL : co_mask(r->url);
    case CO_KIND_OUTBOUND:
        return source ? NULL : co_mask(r->address);
    case CO_KIND_DOMAIN:
    case CO_KIND__COUNT:
        break;
    }
    return NULL;
}

static void resolve_params(struct co_task *t,
                           const struct co_check_override *ov)
{
    const struct co_check *c = t->run.check;
    size_t n = 0;

    for (const struct co_param *p = c->params; p && p->name; p++)
        n++;
    t->params = co_calloc(n ? n : 1, sizeof(*t->params));
    t->nparams = n;
    for (size_t i = 0; i < n; i++) {
        const struct co_param *p = &c->params[i];
        char err[CO_ERRLEN];

        for (size_t j = 0; ov && j < ov->nparams; j++)
            if (strcmp(ov->params[j].name, p->name) == 0)
                t->params[i].v = &ov->params[j].value;
        if (t->params[i].v || p->def == NULL)
            continue;
        if (co_value_parse(p->type, p->def, &t->params[i].owned, err,
                           sizeof(err)) < 0) {
            /* A descriptor with a bad default is a bug in cutover. */
            fprintf(stderr, "cutover: bug: %s.%s default: %s\n", c->id,
                    p->name, err);
            abort();
        }
        t->params[i].v = &t->params[i].owned;
    }
}

static void init_result(struct co_result *r, const struct co_check *c,
                        const struct co_resource *res)
{
    memset(r, 0, sizeof(*r));
    r->check = c->id;
    r->resource = res->name;
    r->kind = co_kind_name(res->kind);
    r->source = endpoint(res, true);
    r->target = endpoint(res, false);
}

/* A side a loaded baseline stands for shows as the baseline. */
static void describe_baseline(struct co_result *r,
                              const struct co_resource *res,
                              const struct co_baseline *b)
{
    for (int i = 0; i < 2; i++) {
        const struct co_baseline *sb = co_baseline_side(b, i == 0);
        char **side = i == 0 ? &r->source : &r->target;

        if (sb == NULL || co_baseline_recording(sb) ||
            !co_baseline_sided(res) || !co_baseline_has(sb, res))
            continue;
        free(*side);
        *side = co_baseline_describe(sb);
    }
}

/* Why a check does not run on res when loaded baselines stand for its
 * sides (empty: it runs); marks the sides they stand for in have[]. */
static void why_not_replayed(const struct co_check *c,
                             const struct co_resource *res,
                             const struct co_baseline *b, enum co_status *st,
                             bool have[2], char *why, size_t whylen)
{
    for (int i = 0; i < 2 && why[0] == '\0'; i++) {
        const struct co_baseline *sb = co_baseline_side(b, i == 0);
        const char *side = i == 0 ? "source" : "target";

        if (sb == NULL)
            continue;
        if (!co_baseline_has(sb, res)) {
            *st = CO_ERROR;
            snprintf(why, whylen,
                     "the baseline snapshot (taken %s) has no %s resource "
                     "\"%s\"; take the snapshot again with this config",
                     co_baseline_taken_at(sb), co_kind_name(res->kind),
                     res->name);
        } else if (!(c->flags & CO_CHECK_SNAPSHOT)) {
            snprintf(why, whylen,
                     "the %s is replaced by the baseline snapshot (taken %s) "
                     "and this check needs the live server",
                     side, co_baseline_taken_at(sb));
        }
        have[i] = true;
    }
}

/* Why a (check x resource) task does not run, in why (empty: it runs),
 * with the verdict that says so in *st: disabled checks, pair checks
 * with a side missing, and sides a baseline snapshot stands for. */
static void why_not(const struct co_check *c,
                    const struct co_check_override *ov,
                    const struct co_resource *res,
                    const struct co_runner_opts *o, enum co_status *st,
                    char *why, size_t whylen)
{
    const struct co_baseline *b = o->baseline;
    bool pair = (c->flags & CO_CHECK_PAIR) != 0;
    bool src = res->source != NULL, tgt = res->target != NULL;

    why[0] = '\0';
    *st = CO_SKIP;
    if (ov && ov->has_enabled && !ov->enabled) {
        snprintf(why, whylen, "disabled in config (enabled: false)");
        return;
    }
    if (b != NULL && co_baseline_sided(res)) {
        bool bs = co_baseline_is_source(b);
        const char *side = bs ? "source" : "target";

        if (co_baseline_recording(b)) {
            if (!(bs ? src : tgt))
                snprintf(why, whylen, "no %s configured to snapshot", side);
            return;
        }
        bool have[2] = {src, tgt};

        why_not_replayed(c, res, b, st, have, why, whylen);
        if (why[0] != '\0')
            return;
        src = have[0];
        tgt = have[1];
    }
    if (pair && !(src && tgt))
        snprintf(why, whylen, "needs both sides; no %s configured",
                 src ? "target" : "source");
}

/* Resources that are work units of their own under --shard: each
 * domain, endpoint and outbound target (all its checks) runs in one
 * shard, spread evenly per kind. */
static bool unit_kind(enum co_kind k)
{
    return k == CO_KIND_DOMAIN || k == CO_KIND_ENDPOINT ||
           k == CO_KIND_OUTBOUND;
}

/* owner[k]: the shard (0-based) of resource k when its kind is a unit
 * kind, else 0 (whole-resource checks run in shard 1). */
static int *resource_owners(const struct co_config *cfg, int nshards)
{
    int *owner = co_calloc(cfg->nres + 1, sizeof(*owner));
    struct co_shard_unit *u = co_calloc(cfg->nres + 1, sizeof(*u));
    int *got = co_calloc(cfg->nres + 1, sizeof(*got));
    size_t *at = co_calloc(cfg->nres + 1, sizeof(*at));

    for (int kind = 0; kind < CO_KIND__COUNT; kind++) {
        size_t n = 0;

        if (!unit_kind((enum co_kind)kind))
            continue;
        for (size_t k = 0; k < cfg->nres; k++)
            if (cfg->res[k].kind == (enum co_kind)kind) {
                u[n].key = cfg->res[k].name;
                u[n].weight = 1;
                at[n++] = k;
            }
        co_shard_assign(u, n, nshards, got);
        for (size_t i = 0; i < n; i++)
            owner[at[i]] = got[i];
    }
    free(u);
    free(got);
    free(at);
    return owner;
}

/* Whether (c x resource k) belongs to this shard. A check that splits
 * its units runs everywhere, but a `skip` (why not empty) is said once,
 * in shard 1. */
static bool in_shard(const struct co_runner_opts *o, const struct co_check *c,
                     const struct co_config *cfg, size_t k, const int *owner,
                     const char *why)
{
    if (o->nshards <= 1)
        return true;
    if (!unit_kind(cfg->res[k].kind) && (c->flags & CO_CHECK_SHARDED) &&
        why[0] == '\0')
        return true;
    return owner[k] == o->shard - 1;
}

/* Does (c x resource k) get a result in this run (in this shard)? Sets
 * *st and why to the skip it gets instead of a task, why empty for a
 * task. The phase and globs are co_runner_selected's. */
static bool planned(const struct co_runner_opts *o, const struct co_check *c,
                    const struct co_check_override *ov,
                    const struct co_config *cfg, size_t k, const int *owner,
                    enum co_status *st, char *why, size_t whylen)
{
    const struct co_resource *res = &cfg->res[k];

    if (!co_check_applies(c, res) ||
        (o->baseline && co_baseline_recording(o->baseline) &&
         !(c->flags & CO_CHECK_SNAPSHOT)))
        return false;
    why_not(c, ov, res, o, st, why, whylen);
    return in_shard(o, c, cfg, k, owner, why);
}

size_t co_runner_count(const struct co_config *cfg,
                       const struct co_runner_opts *o)
{
    const struct co_check *const *checks = o->checks ? o->checks : co_checks;
    size_t ncheck = o->checks ? o->ncheck : co_ncheck;
    int *owner = resource_owners(cfg, o->nshards);
    size_t n = 0;

    for (size_t ci = 0; ci < ncheck; ci++) {
        const struct co_check *c = checks[ci];
        const struct co_check_override *ov = co_config_override(cfg, c->id);
        enum co_status st;
        char why[CO_ERRLEN];

        if (!co_runner_selected(c, ov, o))
            continue;
        for (size_t k = 0; k < cfg->nres; k++)
            n += planned(o, c, ov, cfg, k, owner, &st, why, sizeof(why));
    }
    free(owner);
    return n;
}

/* Counts, then fills rep->results and the task array. Checks that are
 * disabled, or that need two sides where one is missing, get a `skip`
 * case and no task. Under --shard, tasks of other shards are left out
 * altogether. */
static struct co_task *plan(const struct co_config *cfg,
                            const struct co_runner_opts *o,
                            struct co_report *rep, size_t *ntasks)
{
    struct co_task *tasks = NULL;
    size_t nres = 0, nt = 0;
    int *owner = resource_owners(cfg, o->nshards);

    for (int pass = 0; pass < 2; pass++) {
        size_t ri = 0;
        if (pass == 1) {
            rep->results = co_calloc(nres ? nres : 1, sizeof(*rep->results));
            rep->nresults = nres;
            tasks = co_calloc(nt ? nt : 1, sizeof(*tasks));
            nt = 0;
        }
        const struct co_check *const *checks =
            o->checks ? o->checks : co_checks;
        size_t ncheck = o->checks ? o->ncheck : co_ncheck;

        for (size_t ci = 0; ci < ncheck; ci++) {
            const struct co_check *c = checks[ci];
            const struct co_check_override *ov =
                co_config_override(cfg, c->id);

            if (!co_runner_selected(c, ov, o))
                continue;
            for (size_t k = 0; k < cfg->nres; k++) {
                const struct co_resource *res = &cfg->res[k];
                enum co_status st = CO_SKIP;
                char why[CO_ERRLEN];
                struct co_result *r;
                struct co_task *t;

                if (!planned(o, c, ov, cfg, k, owner, &st, why, sizeof(why)))
                    continue;
                if (pass == 0) {
                    nres++;
                    nt += why[0] == '\0';
                    continue;
                }
                r = &rep->results[ri++];
                init_result(r, c, res);
                describe_baseline(r, res, o->baseline);
                if (why[0] != '\0') {
                    co_result_add(r, st, res->name, why, NULL, NULL, 0);
                    continue;
                }
                t = &tasks[nt++];
                t->result = r;
                t->run.check = c;
                t->run.res = res;
                t->run.cfg = cfg;
                t->run.override = ov;
                t->run.phase = o->phase;
                t->run.baseline = o->baseline;
                if (o->nshards > 1) {
                    t->run.shard = o->shard;
                    t->run.nshards = o->nshards;
                }
                t->run.task = t;
                pthread_mutex_init(&t->lock, NULL);
                resolve_params(t, ov);
            }
        }
    }
    free(owner);
    *ntasks = nt;
    return tasks;
}

/* A shard whose part of a check is empty (all its tables are another
 * shard's) leaves that result out rather than report an empty suite. */
static void drop_empty(struct co_report *rep)
{
    size_t n = 0;

    for (size_t i = 0; i < rep->nresults; i++) {
        if (rep->results[i].ncases == 0) {
            co_result_free(&rep->results[i]);
            continue;
        }
        if (n != i)
            rep->results[n] = rep->results[i];
        n++;
    }
    rep->nresults = n;
}

/* ---- workers ----------------------------------------------------------- */

static void finish(struct co_task *t, int rc)
{
    int64_t now = co_now_ms();

    pthread_mutex_lock(&t->lock);
    if (!t->sealed) {
        if (rc != 0 && t->result->ncases == 0) {
            const char *why = t->run.errstr;
            char *m;

            if (why[0] == '\0')
                why = co_run_cancelled(&t->run)
                          ? "interrupted"
                          : "the check gave up without a reason";
            m = co_mask(why);
            co_result_add(t->result, CO_ERROR, t->run.res->name, m, NULL, NULL,
                          (double)(now - t->run.started));
            free(m);
        }
        t->result->duration_ms = (double)(now - t->run.started);
        t->sealed = true;
    }
    pthread_mutex_unlock(&t->lock);
}

static void free_tasks(struct co_task *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < tasks[i].nparams; j++)
            co_value_free(&tasks[i].params[j].owned);
        free(tasks[i].params);
        pthread_mutex_destroy(&tasks[i].lock);
    }
    free(tasks);
}

/* Frees the pool and its tasks; rep's results are the caller's. */
static void free_pool(struct pool *p)
{
    for (size_t i = 0; i < p->nshared; i++) {
        if (p->shared[i].ready && p->shared[i].free_fn != NULL)
            p->shared[i].free_fn(p->shared[i].value);
        free(p->shared[i].key);
    }
    free(p->shared);
    free_tasks(p->tasks, p->ntasks);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void *worker(void *arg)
{
    struct pool *p = arg;

    for (;;) {
        struct co_task *t;
        int rc;

        pthread_mutex_lock(&p->lock);
        if (atomic_load(&p->cancel) || p->next >= p->ntasks) {
            bool last;

            pthread_mutex_unlock(&p->lock);
            co_tls_thread_done(); /* before main can see this one leave */
            pthread_mutex_lock(&p->lock);
            last = --p->live == 0 && p->orphaned;
            pthread_cond_broadcast(&p->cond);
            pthread_mutex_unlock(&p->lock);
            if (last)
                free_pool(p);
            return NULL;
        }
        t = &p->tasks[p->next++];
        t->state = T_RUNNING;
        t->run.started = co_now_ms();
        t->run.last_case = t->run.started;
        t->run.deadline = t->run.started + p->timeout_ms;
        t->run.cancel = &p->cancel;
        pthread_mutex_unlock(&p->lock);

        rc = t->run.check->run(&t->run);
        finish(t, rc);

        pthread_mutex_lock(&p->lock);
        t->state = T_DONE;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
}

/* ---- signals ----------------------------------------------------------- */

struct sigwatch {
    struct pool *pool;
    atomic_int stop;
    atomic_int count; /* signals seen */
};

static void *signal_thread(void *arg)
{
    struct sigwatch *w = arg;
    struct timespec tick = {0, TICK_MS * 1000000L};
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1); /* "stop now", from co_runner_run */
    while (!atomic_load(&w->stop)) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            atomic_fetch_add(&w->count, 1);
            atomic_store(&w->pool->cancel, 1);
            pthread_mutex_lock(&w->pool->lock);
            pthread_cond_broadcast(&w->pool->cond);
            pthread_mutex_unlock(&w->pool->lock);
        }
    }
    return NULL;
}

/* ---- the watcher (main thread) ----------------------------------------- */

static void seal(struct co_task *t, const char *msg)
{
    int64_t now = co_now_ms();

    pthread_mutex_lock(&t->lock);
    if (!t->sealed) {
        int64_t started = t->run.started ? t->run.started : now;
        co_result_add(t->result, CO_ERROR, t->run.res->name, msg, NULL, NULL,
                      (double)(now - started));
        t->result->duration_ms = (double)(now - started);
        t->sealed = true;
    }
    pthread_mutex_unlock(&t->lock);
    t->given_up = true;
}

/* ---- progress on stderr ------------------------------------------------ */

#define PLAIN_EVERY_MS 10000
#define LIVE_MAX_TASKS 16

struct view {
    enum co_progress_mode mode;
    int64_t every_ms;
    int64_t next_plain;
    int lines; /* live: lines of the block on screen */
};

/* "950", "12.3k", "4.56M", "1.20G". */
static void fmt_count(double v, char *out, size_t len)
{
    static const char *const suffix[] = {"", "k", "M", "G", "T"};
    int i = 0;

    while (v >= 1000.0 && i < 4) {
        v /= 1000.0;
        i++;
    }
    if (i == 0)
        snprintf(out, len, "%.0f", v);
    else
        snprintf(out, len,
                 v < 10    ? "%.2f%s"
                 : v < 100 ? "%.1f%s"
                           : "%.0f%s",
                 v, suffix[i]);
}

/* "45s", "3m10s", "2h05m". */
static void fmt_secs(double s, char *out, size_t len)
{
    long long n = (long long)(s + 0.5);

    if (n < 60)
        snprintf(out, len, "%llds", n);
    else if (n < 3600)
        snprintf(out, len, "%lldm%02llds", n / 60, n % 60);
    else
        snprintf(out, len, "%lldh%02lldm", n / 3600, n % 3600 / 60);
}

/* "pg.checksum main: 1.20M of 30.0M rows (4%), 410k rows/s, ETA 1m10s",
 * or "pg.schema main: 3s" for a task that reports no progress. */
static void task_line(struct co_task *t, int64_t now, struct co_buf *b)
{
    const char *unit = atomic_load(&t->punit);
    double done = (double)atomic_load(&t->pdone);
    double total = (double)atomic_load(&t->ptotal);
    double secs = (double)(now - t->run.started) / 1000.0;
    char d[16], tot[16], rate[16], eta[16], el[16];

    co_buf_addf(b, "%s %s: ", t->run.check->id, t->run.res->name);
    fmt_secs(secs, el, sizeof(el));
    if (unit == NULL) {
        co_buf_puts(b, el);
        return;
    }
    if (total < done)
        total = done;
    fmt_count(done, d, sizeof(d));
    fmt_count(total, tot, sizeof(tot));
    co_buf_addf(b, "%s of %s%s %s", d, done < total ? "~" : "", tot, unit);
    if (total > 0)
        co_buf_addf(b, " (%.0f%%)", 100.0 * done / total);
    /* work is reported as pieces end: before 1 % is in (one small table
     * done, the big one still scanning) a rate would promise nonsense */
    if (done <= 0 || secs <= 0 || done * 100 < total) {
        co_buf_addf(b, ", %s", el);
        return;
    }
    fmt_count(done / secs, rate, sizeof(rate));
    fmt_secs((total - done) / (done / secs), eta, sizeof(eta));
    co_buf_addf(b, ", %s %s/s, ETA %s", rate, unit, eta);
}

/* The running tasks (not given up), in plan order. */
static bool running(const struct co_task *t)
{
    return t->state == T_RUNNING && !t->given_up;
}

/* Cuts b to width-1 columns (bytes; on a UTF-8 character boundary) so
 * no line wraps and the block can be redrawn in place. */
static void cut(struct co_buf *b, size_t from, int width)
{
    size_t max = width > 1 ? (size_t)width - 1 : 79;

    if (b->len - from <= max)
        return;
    max += from;
    while (max > from && ((unsigned char)b->s[max] & 0xC0) == 0x80)
        max--;
    b->len = max;
    b->s[max] = '\0';
}

static int term_width(void)
{
    struct winsize ws;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Live: redraws the block (a header, a line per running task) over the
 * previous one; final erases it. Called with p->lock. */
static void draw_live(struct pool *p, struct view *v, size_t settled,
                      bool final)
{
    int64_t now = co_now_ms();
    int width = term_width(), lines = 1, shown = 0, more = 0;
    struct co_buf b;

    if (final && v->lines == 0)
        return;
    co_buf_init(&b);
    if (v->lines > 1)
        co_buf_addf(&b, "\033[%dA", v->lines - 1);
    co_buf_puts(&b, "\r\033[J");
    if (!final) {
        size_t at = b.len;
        co_buf_addf(&b, "[%zu/%zu]", settled, p->ntasks);
        cut(&b, at, width);
        for (size_t i = 0; i < p->ntasks; i++) {
            if (!running(&p->tasks[i]))
                continue;
            if (shown == LIVE_MAX_TASKS) {
                more++;
                continue;
            }
            co_buf_puts(&b, "\n  ");
            at = b.len - 2;
            task_line(&p->tasks[i], now, &b);
            cut(&b, at, width);
            shown++;
            lines++;
        }
        if (more > 0) {
            co_buf_addf(&b, "\n  ... and %d more", more);
            lines++;
        }
    }
    fputs(b.s, stderr);
    fflush(stderr);
    co_buf_free(&b);
    v->lines = final ? 0 : lines;
}

/* Plain: every v->every_ms, a line per running task. */
static void draw_plain(struct pool *p, struct view *v, size_t settled)
{
    int64_t now = co_now_ms();
    struct co_buf b;

    if (now < v->next_plain)
        return;
    v->next_plain = now + v->every_ms;
    co_buf_init(&b);
    for (size_t i = 0; i < p->ntasks; i++) {
        if (!running(&p->tasks[i]))
            continue;
        co_buf_addf(&b, "cutover: [%zu/%zu] ", settled, p->ntasks);
        task_line(&p->tasks[i], now, &b);
        co_buf_puts(&b, "\n");
    }
    if (b.len > 0) {
        fputs(b.s, stderr);
        fflush(stderr);
    }
    co_buf_free(&b);
}

/* One look at every task: seal what overran or was interrupted. Returns
 * how many tasks are settled (done or sealed). Called with p->lock. */
static size_t sweep(struct pool *p, int64_t cancel_at, bool hard)
{
    int64_t now = co_now_ms();
    size_t settled = 0;

    for (size_t i = 0; i < p->ntasks; i++) {
        struct co_task *t = &p->tasks[i];
        char msg[128];

        if (t->state == T_DONE || t->given_up) {
            settled++;
            continue;
        }
        if (t->state == T_PENDING && cancel_at) {
            seal(t, "interrupted before it started");
        } else if (t->state == T_RUNNING && cancel_at &&
                   (hard || now - cancel_at >= CANCEL_GRACE_MS)) {
            seal(t, "interrupted");
        } else if (t->state == T_RUNNING &&
                   now - t->run.deadline >= DEADLINE_GRACE_MS) {
            char d[32];
            co_duration_format(p->timeout_ms, d, sizeof(d));
            snprintf(msg, sizeof(msg),
                     "timed out: the check did not finish within %s "
                     "(settings.timeout / --timeout)",
                     d);
            seal(t, msg);
        }
        if (t->given_up)
            settled++;
    }
    return settled;
}

static void watch(struct pool *p, struct sigwatch *sw,
                  const struct co_runner_opts *o)
{
    int64_t cancel_at = 0;
    struct view v = {o->progress, o->progress_every_ms, 0, 0};

    if (v.every_ms <= 0)
        v.every_ms = PLAIN_EVERY_MS;
    v.next_plain = co_now_ms() + v.every_ms;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        size_t settled;
        int sigs = atomic_load(&sw->count);

        if (sigs && cancel_at == 0)
            cancel_at = co_now_ms();
        settled = sweep(p, cancel_at, sigs > 1);
        if (v.mode == CO_PROGRESS_LIVE && settled < p->ntasks)
            draw_live(p, &v, settled, false);
        else if (v.mode == CO_PROGRESS_PLAIN)
            draw_plain(p, &v, settled);
        if (settled == p->ntasks)
            break;
        co_cond_wait_ms(&p->cond, &p->lock, TICK_MS);
    }
    if (v.mode == CO_PROGRESS_LIVE)
        draw_live(p, &v, 0, true);
    pthread_mutex_unlock(&p->lock);
}

/* Starts the thread that takes SIGINT/SIGTERM for the run (blocked in
 * every other thread, inherited from here). Returns whether it runs. */
static bool start_signal_thread(const struct co_runner_opts *o,
                                struct sigwatch *sw, pthread_t *tid)
{
    sigset_t set;

    atomic_init(&sw->stop, 0);
    atomic_init(&sw->count, 0);
    if (!o->handle_signals)
        return false;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    /* Blocked here, inherited by every thread; only the signal
     * thread takes them, with sigtimedwait. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_create(tid, NULL, signal_thread, sw);
    return true;
}

/* Starts up to jobs detached workers (never more than there are tasks). */
static void start_workers(struct pool *p, int jobs)
{
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > p->ntasks)
        jobs = (int)p->ntasks;
    for (int i = 0; i < jobs; i++) {
        pthread_t tid;
        pthread_attr_t attr;

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&tid, &attr, worker, p) == 0) {
            pthread_mutex_lock(&p->lock);
            p->live++;
            pthread_mutex_unlock(&p->lock);
        }
        pthread_attr_destroy(&attr);
    }
}

/* Workers that are not stuck leave as soon as the queue is empty or
 * cancelled; waits for them so nothing runs while we free. Returns
 * whether one is still inside a check (abandoned). */
static bool wait_workers(struct pool *p)
{
    bool abandoned;
    int64_t until;

    atomic_store(&p->cancel, 1);
    pthread_mutex_lock(&p->lock);
    until = co_now_ms() + 200;
    while (p->live > 0 && co_now_ms() < until)
        co_cond_wait_ms(&p->cond, &p->lock, 20);
    abandoned = p->live > 0;
    /* A stuck worker frees the pool when it finally leaves. */
    p->orphaned = abandoned;
    pthread_mutex_unlock(&p->lock);
    return abandoned;
}

int co_runner_run(const struct co_config *cfg, const struct co_runner_opts *o,
                  struct co_report *rep, bool *abandoned)
{
    struct pool *p = co_calloc(1, sizeof(*p));
    struct sigwatch sw;
    pthread_t sigtid;
    bool sigthread;
    int interrupted;

    *abandoned = false;
    rep->started = co_wall_s();
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    atomic_init(&p->cancel, 0);
    p->timeout_ms =
        o->timeout_ms > 0 ? o->timeout_ms : cfg->settings.timeout_ms;
    p->tasks = plan(cfg, o, rep, &p->ntasks);
    for (size_t i = 0; i < p->ntasks; i++)
        p->tasks[i].pool = p;

    sw.pool = p;
    sigthread = start_signal_thread(o, &sw, &sigtid);
    start_workers(p, o->jobs > 0 ? o->jobs : cfg->settings.jobs);
    watch(p, &sw, o);
    /* The signal thread points at the pool: stop it before the pool can
     * be handed to a stuck worker. A late signal stays pending. */
    if (sigthread) {
        atomic_store(&sw.stop, 1);
        pthread_kill(sigtid, SIGUSR1);
        pthread_join(sigtid, NULL);
    }
    *abandoned = wait_workers(p);

    interrupted = atomic_load(&sw.count) > 0;
    rep->duration_ms = (co_wall_s() - rep->started) * 1000.0;
    if (!*abandoned) {
        free_pool(p);
        if (o->nshards > 1)
            drop_empty(rep);
    }
    return interrupted ? 1 : 0;
}
