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

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

/* The side a loaded baseline stands for shows as the baseline. */
static void describe_baseline(struct co_result *r,
                              const struct co_resource *res,
                              const struct co_baseline *b)
{
    char **side;

    if (b == NULL || co_baseline_recording(b) || !co_baseline_sided(res) ||
        !co_baseline_has(b, res))
        return;
    side = co_baseline_is_source(b) ? &r->source : &r->target;
    free(*side);
    *side = co_baseline_describe(b);
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
        if (!co_baseline_has(b, res)) {
            *st = CO_ERROR;
            snprintf(why, whylen,
                     "the baseline snapshot (taken %s) has no %s resource "
                     "\"%s\"; take the snapshot again with this config",
                     co_baseline_taken_at(b), co_kind_name(res->kind),
                     res->name);
            return;
        }
        if (!(c->flags & CO_CHECK_SNAPSHOT)) {
            snprintf(why, whylen,
                     "the %s is replaced by the baseline snapshot (taken %s) "
                     "and this check needs the live server",
                     side, co_baseline_taken_at(b));
            return;
        }
        if (bs)
            src = true;
        else
            tgt = true;
    }
    if (pair && !(src && tgt))
        snprintf(why, whylen, "needs both sides; no %s configured",
                 src ? "target" : "source");
}

/* Does (c, res) get a result in this run? The phase and globs are
 * co_runner_selected's; this is whether the check runs on res at all. */
static bool planned(const struct co_check *c, const struct co_resource *res,
                    const struct co_runner_opts *o)
{
    return co_check_applies(c, res) &&
           !(o->baseline && co_baseline_recording(o->baseline) &&
             !(c->flags & CO_CHECK_SNAPSHOT));
}

size_t co_runner_count(const struct co_config *cfg,
                       const struct co_runner_opts *o)
{
    const struct co_check *const *checks = o->checks ? o->checks : co_checks;
    size_t ncheck = o->checks ? o->ncheck : co_ncheck;
    size_t n = 0;

    for (size_t ci = 0; ci < ncheck; ci++) {
        const struct co_check *c = checks[ci];

        if (!co_runner_selected(c, co_config_override(cfg, c->id), o))
            continue;
        for (size_t k = 0; k < cfg->nres; k++)
            n += planned(c, &cfg->res[k], o);
    }
    return n;
}

/* Counts, then fills rep->results and the task array. Checks that are
 * disabled, or that need two sides where one is missing, get a `skip`
 * case and no task. */
static struct co_task *plan(const struct co_config *cfg,
                            const struct co_runner_opts *o,
                            struct co_report *rep, size_t *ntasks)
{
    struct co_task *tasks = NULL;
    size_t nres = 0, nt = 0;

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

                if (!planned(c, res, o))
                    continue;
                why_not(c, ov, res, o, &st, why, sizeof(why));
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
                t->run.task = t;
                pthread_mutex_init(&t->lock, NULL);
                resolve_params(t, ov);
            }
        }
    }
    *ntasks = nt;
    return tasks;
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
            bool last = --p->live == 0 && p->orphaned;
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

static void progress(const struct pool *p, size_t settled)
{
    const struct co_task *cur = NULL;

    for (size_t i = 0; i < p->ntasks && cur == NULL; i++)
        if (p->tasks[i].state == T_RUNNING && !p->tasks[i].given_up)
            cur = &p->tasks[i];
    fprintf(stderr, "\r\033[K[%zu/%zu] %s%s%s", settled, p->ntasks,
            cur ? cur->run.check->id : "", cur ? " " : "",
            cur ? cur->run.res->name : "");
    fflush(stderr);
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

    pthread_mutex_lock(&p->lock);
    for (;;) {
        size_t settled;
        int sigs = atomic_load(&sw->count);

        if (sigs && cancel_at == 0)
            cancel_at = co_now_ms();
        settled = sweep(p, cancel_at, sigs > 1);
        if (o->progress)
            progress(p, settled);
        if (settled == p->ntasks)
            break;
        co_cond_wait_ms(&p->cond, &p->lock, TICK_MS);
    }
    pthread_mutex_unlock(&p->lock);
    if (o->progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

int co_runner_run(const struct co_config *cfg, const struct co_runner_opts *o,
                  struct co_report *rep, bool *abandoned)
{
    struct pool *p = co_calloc(1, sizeof(*p));
    struct sigwatch sw;
    pthread_t sigtid;
    int jobs = o->jobs > 0 ? o->jobs : cfg->settings.jobs;
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
    atomic_init(&sw.stop, 0);
    atomic_init(&sw.count, 0);
    if (o->handle_signals) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);
        /* Blocked here, inherited by every thread; only the signal
         * thread takes them, with sigtimedwait. */
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        pthread_create(&sigtid, NULL, signal_thread, &sw);
    }
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
    watch(p, &sw, o);
    /* The signal thread points at the pool: stop it before the pool can
     * be handed to a stuck worker. A late signal stays pending. */
    if (o->handle_signals) {
        atomic_store(&sw.stop, 1);
        pthread_kill(sigtid, SIGUSR1);
        pthread_join(sigtid, NULL);
    }

    /* Workers that are not stuck leave as soon as the queue is empty or
     * cancelled; wait for them so nothing runs while we free. */
    atomic_store(&p->cancel, 1);
    pthread_mutex_lock(&p->lock);
    {
        int64_t until = co_now_ms() + 200;
        while (p->live > 0 && co_now_ms() < until)
            co_cond_wait_ms(&p->cond, &p->lock, 20);
        *abandoned = p->live > 0;
        /* A stuck worker frees the pool when it finally leaves. */
        p->orphaned = *abandoned;
    }
    pthread_mutex_unlock(&p->lock);

    interrupted = atomic_load(&sw.count) > 0;
    rep->duration_ms = (co_wall_s() - rep->started) * 1000.0;
    if (!*abandoned)
        free_pool(p);
    return interrupted ? 1 : 0;
}
