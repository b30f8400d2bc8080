/*
 * pg_quiesced.c - the `pg.quiesced` check: did anything write to the
 * source database during the resource's `quiesce_window`? It is the
 * runbook's "confirm no writes occur between the final backup and the
 * DNS switch", measured instead of assumed.
 *
 * The write counters of every table (pg_stat_all_tables n_tup_ins/upd/
 * del) are sampled at the start and after the window; a user table whose
 * counters moved is a write, named with the numbers. Sessions still in a
 * transaction that holds a transaction id (pg_stat_activity.backend_xid)
 * are writing right now: their rows reach the counters only at commit.
 * pg_stat_database's tup_* totals ride along as the `source` value.
 *
 * What is deliberately not a write: xact_commit (read-only transactions
 * commit too, ours included), pg_statistic (ANALYZE, autovacuum),
 * shared catalogs (pg_database, pg_authid: other databases' DDL lands
 * there), temporary tables (session-private), extension-owned tables
 * (pglogical's queue) and what `schemas:`/`exclude:` leave out. Catalog
 * changes of this database (DDL, a temporary table being created) are a
 * `warn`, not a `fail`: no application row changed.
 *
 * Statistics lag behind: since PostgreSQL 15 a backend flushes its
 * counters at the end of a transaction at most once a second (an idle
 * backend within 10 s), so the second sample is taken a flush interval
 * after the window ends, and pg_stat_clear_snapshot() makes sure no
 * cached snapshot is compared with itself.
 *
 * Privileges: the counters are readable by any role; seeing other
 * roles' sessions (state, backend_xid) needs pg_read_all_stats (in
 * pg_monitor). Without it the check still compares counters and says
 * that sessions could not be inspected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/check.h"
#include "cutover/pg.h"
#include "pg_tables.h"

/* How long after the window the counters are read: PostgreSQL 15
 * backends flush statistics at most once per second (PGSTAT_MIN_INTERVAL)
 * when they end a transaction. */
#define QUIESCE_FLUSH_MS 1100
/* Time the queries themselves need, kept free of the task's deadline. */
#define QUIESCE_SLACK_MS 1000
/* Tables a message names before "and K more". */
#define QUIESCE_MAX_NAMED 10

/* Relations whose counters say something about writes to this database:
 * not toast (counted with their table), not temporary, not shared
 * catalogs, not pg_statistic (ANALYZE). `user` is false for system
 * catalogs and extension-owned tables. */
static const char tables_sql[] =
    "SELECT s.relid::bigint, s.schemaname, s.relname, "
    "s.schemaname NOT IN ('pg_catalog', 'information_schema') AND NOT "
    "EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
    "'pg_class'::regclass AND d.objid = s.relid AND d.deptype = 'e'), "
    "s.n_tup_ins, s.n_tup_upd, s.n_tup_del "
    "FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE NOT c.relisshared AND c.relpersistence <> 't' "
    "AND s.schemaname NOT LIKE 'pg\\_toast%' "
    "AND s.relid <> 'pg_catalog.pg_statistic'::regclass "
    "ORDER BY 1";

static const char db_sql[] =
    "SELECT tup_inserted, tup_updated, tup_deleted "
    "FROM pg_stat_database WHERE datname = current_database()";

/* Client sessions in this database other than ours that are doing
 * something: running, inside a transaction, or holding a transaction id
 * (which only a write takes). Other cutover sessions (read-only by
 * construction) are left out unless they hold one. */
static const char sessions_sql[] =
    "SELECT pid, coalesce(nullif(usename, ''), '?'), "
    "coalesce(nullif(application_name, ''), '-'), coalesce(state, '?'), "
    "backend_xid IS NOT NULL, state IS NULL "
    "FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend' "
    "AND (backend_xid IS NOT NULL OR state IS NULL OR (state <> 'idle' "
    "AND application_name IS DISTINCT FROM 'cutover')) "
    "ORDER BY pid";

struct tabstat {
    long long relid;
    char *qual;
    bool user;
    long long ins, upd, del;
};

struct sample {
    struct tabstat *v; /* sorted by relid */
    size_t n;
    long long db[3]; /* tup_inserted, tup_updated, tup_deleted */
};

struct quiesce {
    struct co_run *run;
    struct co_pg *pg;
    int64_t window_ms;
    char window[32];
    struct sample a, b;
};

static long long ll_value(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void sample_free(struct sample *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].qual);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static PGresult *q_exec(struct quiesce *q, const char *sql)
{
    return co_pg_exec(q->pg, sql, 0, NULL, q->run->deadline, q->run->cancel);
}

/* Reads every counter once. Returns 0, or -1 with q->pg->err set. */
static int sample_take(struct quiesce *q, struct sample *s)
{
    PGresult *r = q_exec(q, "SELECT pg_stat_clear_snapshot()");

    if (r == NULL)
        return -1;
    PQclear(r);
    if ((r = q_exec(q, tables_sql)) == NULL)
        return -1;
    s->n = (size_t)PQntuples(r);
    s->v = co_calloc(s->n ? s->n : 1, sizeof(*s->v));
    for (size_t i = 0; i < s->n; i++) {
        struct tabstat *t = &s->v[i];
        int row = (int)i;
        const char *schema = PQgetvalue(r, row, 1);
        const char *name = PQgetvalue(r, row, 2);
        t->relid = ll_value(r, row, 0);
        t->qual = co_pg_qualname(schema, name);
        t->user =
            PQgetvalue(r, row, 3)[0] == 't' &&
            co_pgtab_wanted(q->run, schema, name, NULL, NULL, NULL, NULL);
        t->ins = ll_value(r, row, 4);
        t->upd = ll_value(r, row, 5);
        t->del = ll_value(r, row, 6);
    }
    PQclear(r);
    if ((r = q_exec(q, db_sql)) == NULL)
        return -1;
    for (int i = 0; i < 3 && PQntuples(r) > 0; i++)
        s->db[i] = ll_value(r, 0, i);
    PQclear(r);
    return 0;
}

static const struct tabstat *sample_find(const struct sample *s,
                                         long long relid)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].relid == relid)
            return &s->v[mid];
        if (s->v[mid].relid < relid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Sleeps until `until` in short slices so an interrupt is noticed.
 * Returns -1 when the run was cancelled. */
static int wait_until(const struct co_run *run, int64_t until)
{
    for (;;) {
        int64_t left = until - co_now_ms();
        struct timespec ts;
        if (co_run_cancelled(run))
            return -1;
        if (left <= 0)
            return 0;
        if (left > 100)
            left = 100;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        nanosleep(&ts, NULL);
    }
}

/* "+12 inserted, +3 updated" for the counters that moved. */
static void describe_delta(struct co_buf *b, long long ins, long long upd,
                           long long del)
{
    const char *sep = "";

    if (ins != 0) {
        co_buf_addf(b, "%+lld inserted", ins);
        sep = ", ";
    }
    if (upd != 0) {
        co_buf_addf(b, "%s%+lld updated", sep, upd);
        sep = ", ";
    }
    if (del != 0)
        co_buf_addf(b, "%s%+lld deleted", sep, del);
}

/* Lists the tables (user or catalog) whose counters moved between the
 * samples into b; returns how many. Tables created during the window
 * count from zero. */
static size_t diff_tables(const struct quiesce *q, bool user, struct co_buf *b)
{
    size_t n = 0;

    for (size_t i = 0; i < q->b.n; i++) {
        const struct tabstat *t = &q->b.v[i];
        const struct tabstat *a = sample_find(&q->a, t->relid);
        long long ins = t->ins - (a ? a->ins : 0);
        long long upd = t->upd - (a ? a->upd : 0);
        long long del = t->del - (a ? a->del : 0);
        if (t->user != user || (ins == 0 && upd == 0 && del == 0))
            continue;
        if (++n > QUIESCE_MAX_NAMED)
            continue;
        co_buf_addf(b, "%s%s ", n > 1 ? "; " : "", t->qual);
        describe_delta(b, ins, upd, del);
        if (a == NULL)
            co_buf_puts(b, " (created during the window)");
    }
    if (n > QUIESCE_MAX_NAMED)
        co_buf_addf(b, "; and %zu more", n - QUIESCE_MAX_NAMED);
    return n;
}

/* Sessions doing something in this database besides us. Returns how
 * many hold a transaction id (writing now) in *writing, whether some
 * could not be inspected in *hidden, and describes them into b. */
static int read_sessions(struct quiesce *q, struct co_buf *b, int *writing,
                         bool *hidden)
{
    PGresult *r = q_exec(q, sessions_sql);
    int n;

    *writing = 0;
    *hidden = false;
    if (r == NULL)
        return -1;
    n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        bool xid = PQgetvalue(r, i, 4)[0] == 't';
        if (PQgetvalue(r, i, 5)[0] == 't') {
            *hidden = true;
            continue;
        }
        *writing += xid;
        co_buf_addf(b, "%spid %s (%s, %s, %s%s)", b->len ? ", " : "",
                    PQgetvalue(r, i, 0), PQgetvalue(r, i, 2),
                    PQgetvalue(r, i, 1), PQgetvalue(r, i, 3),
                    xid ? ", holds a transaction id" : "");
    }
    PQclear(r);
    return 0;
}

/* The verdict from the two samples and the sessions seen at the end. */
static void verdict(struct quiesce *q)
{
    struct co_buf user, cat, sess, msg;
    char dbv[128];
    int writing = 0;
    bool hidden = false;
    size_t nuser, ncat;
    enum co_status st = CO_PASS;

    co_buf_init(&user);
    co_buf_init(&cat);
    co_buf_init(&sess);
    co_buf_init(&msg);
    snprintf(dbv, sizeof(dbv),
             "tup_inserted %+lld, tup_updated %+lld, tup_deleted %+lld",
             q->b.db[0] - q->a.db[0], q->b.db[1] - q->a.db[1],
             q->b.db[2] - q->a.db[2]);
    nuser = diff_tables(q, true, &user);
    ncat = diff_tables(q, false, &cat);
    if (read_sessions(q, &sess, &writing, &hidden) < 0) {
        co_pg_case_error(q->run, q->run->res->name, q->pg);
        goto out;
    }
    if (nuser > 0) {
        st = CO_FAIL;
        co_buf_addf(&msg, "writes during the %s window: %s", q->window,
                    user.s);
    } else if (writing > 0) {
        st = CO_FAIL;
        co_buf_addf(&msg,
                    "no rows counted in %s, but %d session%s in an "
                    "open write transaction",
                    q->window, writing, writing == 1 ? " is" : "s are");
    } else if (ncat > 0) {
        st = CO_WARN;
        co_buf_addf(&msg,
                    "no writes to tables in %s, but the system "
                    "catalogs changed (DDL or temporary tables): %s",
                    q->window, cat.s);
    } else if (sess.len > 0) {
        st = CO_WARN;
        co_buf_addf(&msg, "no writes in %s, but other sessions are busy",
                    q->window);
    } else {
        co_buf_addf(&msg, "no writes in %s", q->window);
    }
    if (sess.len > 0)
        co_buf_addf(&msg, "; sessions: %s", sess.s);
    if (hidden)
        co_buf_puts(&msg, "; other roles' sessions not visible (grant "
                          "pg_read_all_stats or pg_monitor)");
    co_case_addf(q->run, st, q->run->res->name, dbv, NULL, "%s", msg.s);
out:
    co_buf_free(&user);
    co_buf_free(&cat);
    co_buf_free(&sess);
    co_buf_free(&msg);
}

/* Adds the skip or error case when the check cannot run; returns -1
 * then. */
static int preflight(struct co_run *run, struct quiesce *q)
{
    const struct co_resource *res = run->res;
    char tbuf[32];

    if (res->quiesce_window_ms <= 0) {
        co_case_addf(run, CO_SKIP, res->name, NULL, NULL,
                     "quiesce_window not set");
        return -1;
    }
    if (res->source == NULL) {
        co_case_addf(run, CO_SKIP, res->name, NULL, NULL,
                     "no source configured");
        return -1;
    }
    q->window_ms = res->quiesce_window_ms;
    co_duration_format(q->window_ms, q->window, sizeof(q->window));
    if (q->window_ms + QUIESCE_FLUSH_MS + QUIESCE_SLACK_MS >
        co_run_remaining_ms(run)) {
        co_duration_format(run->deadline - run->started, tbuf, sizeof(tbuf));
        co_case_addf(run, CO_ERROR, res->name, NULL, NULL,
                     "quiesce_window %s exceeds the task timeout %s (raise "
                     "settings.timeout or --timeout above the window)",
                     q->window, tbuf);
        return -1;
    }
    return 0;
}

static int quiesced_run(struct co_run *run)
{
    struct quiesce q;
    int rc = -1;

    memset(&q, 0, sizeof(q));
    q.run = run;
    if (preflight(run, &q) < 0)
        return 0;
    q.pg = co_pg_connect(run, true);
    if (q.pg != NULL && q.pg->err == CO_PG_OK && sample_take(&q, &q.a) == 0)
        rc = wait_until(run, co_now_ms() + q.window_ms + QUIESCE_FLUSH_MS);
    if (rc == 0)
        rc = sample_take(&q, &q.b);
    if (rc == 0)
        verdict(&q);
    else if (co_run_cancelled(run))
        snprintf(run->errstr, sizeof(run->errstr), "interrupted");
    else
        co_pg_case_error(run, run->res->name, q.pg);
    sample_free(&q.a);
    sample_free(&q.b);
    co_pg_free(q.pg);
    return co_run_cancelled(run) ? -1 : 0;
}

const struct co_check co_check_pg_quiesced = {
    .id = "pg.quiesced",
    .summary = "no writes on the source during quiesce_window (final "
               "backup taken safely)",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_PRE,
    .params = NULL,
    .run = quiesced_run,
    .flags = CO_CHECK_ONE_SIDED,
};
