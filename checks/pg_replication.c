/*
 * pg_replication.c - the `pg.replication` check: is the logical
 * replication that feeds the target (pglogical or native) done with its
 * initial copy and caught up, so the cutover can happen?
 *
 * One case per subscription on the target, named by it:
 *  - native: pg_subscription (only the columns PUBLIC may read: never
 *    subconninfo, which holds the publisher's password),
 *    pg_subscription_rel.srsubstate (a table not 'r' is still syncing)
 *    and pg_stat_subscription (is an apply worker running);
 *  - pglogical: show_subscription_status() (must be 'replicating') and
 *    local_sync_status (a row not 'r' is still syncing).
 *
 * Lag is measured where it is known: on the source, the subscription's
 * slot (matched by slot name in the source database) and its walsender's
 * write/flush/replay lag in pg_stat_replication; those lags go NULL once
 * the subscriber has caught up and WAL is idle, which means 0. Without a
 * source (or without pg_monitor there), a native subscription's lag is
 * bounded by the time since the publisher last confirmed the position
 * (pg_stat_subscription.latest_end_time): an upper bound, since an idle
 * publisher reports only every few seconds.
 *
 * Privileges: native replication needs none beyond LOGIN (the columns
 * and views used are readable by PUBLIC); pglogical needs USAGE on its
 * schema and SELECT on pglogical.subscription and local_sync_status
 * (pg_read_all_data gives both); lag on the source needs
 * pg_read_all_stats (in pg_monitor). A missing privilege is an `error`
 * case that says which one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/pg.h"

/* How many still-syncing tables a message names before "and K more". */
#define REPL_MAX_NAMED 10

static const struct co_param repl_params[] = {
    {"max_lag", CO_P_DURATION, "60s",
     "the longest replication lag that still passes"},
    {0},
};

/* One subscription on the target, native or pglogical. */
struct sub {
    char *name;
    char *oid; /* native: pg_subscription.oid, to match table rows */
    bool pglogical;
    bool enabled;
    bool running;     /* native: an apply worker exists */
    char *status;     /* pglogical: show_subscription_status().status */
    char *slot;       /* slot name on the publisher; may be NULL */
    double since_ack; /* native: s since the publisher's last report */
    size_t ntables, nsyncing;
    bool whole_sync; /* pglogical: the subscription-level sync not done */
    struct co_buf syncing; /* "public.a (copying data), ..." */
};

/* One logical slot of the source database. */
struct slot {
    char *name;
    bool active;
    bool stats;       /* pg_stat_replication columns readable */
    double lag;       /* seconds; 0 when caught up */
    long long retain; /* WAL bytes the slot holds back; -1 unknown */
    bool matched;
};

struct repl {
    struct co_run *run;
    struct co_pg *tgt, *src;
    struct sub *subs;
    size_t nsubs;
    struct slot *slots;
    size_t nslots;
    bool have_source; /* slots were read from the source */
    int64_t max_lag_ms;
};

static PGresult *repl_exec(struct repl *r, struct co_pg *pg, const char *sql)
{
    return co_pg_exec(pg, sql, 0, NULL, r->run->deadline, r->run->cancel);
}

static char *dup_value(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return co_strdup(PQgetvalue(res, row, col));
}

static bool bool_value(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

static double num_value(const PGresult *res, int row, int col, double dflt)
{
    char *end;
    double v;

    if (PQgetisnull(res, row, col))
        return dflt;
    v = strtod(PQgetvalue(res, row, col), &end);
    return end == PQgetvalue(res, row, col) ? dflt : v;
}

static struct sub *sub_add(struct repl *r)
{
    struct sub *s;

    r->subs = co_realloc(r->subs, (r->nsubs + 1) * sizeof(*r->subs));
    s = &r->subs[r->nsubs++];
    memset(s, 0, sizeof(*s));
    s->since_ack = -1;
    co_buf_init(&s->syncing);
    return s;
}

static void subs_free(struct repl *r)
{
    for (size_t i = 0; i < r->nsubs; i++) {
        free(r->subs[i].name);
        free(r->subs[i].oid);
        free(r->subs[i].status);
        free(r->subs[i].slot);
        co_buf_free(&r->subs[i].syncing);
    }
    free(r->subs);
    for (size_t i = 0; i < r->nslots; i++)
        free(r->slots[i].name);
    free(r->slots);
}

/* A table that has not reached 'r' (ready): remember it for the
 * message, naming the first few. */
static void sub_syncing(struct sub *s, const char *schema, const char *table,
                        const char *state)
{
    s->nsyncing++;
    if (s->nsyncing > REPL_MAX_NAMED)
        return;
    char *q = co_pg_qualname(schema, table);
    co_buf_addf(&s->syncing, "%s%s (%s)", s->syncing.len ? ", " : "", q,
                state);
    free(q);
}

/* A catalog read failed: the error case, naming the privilege it
 * needed when it was refused for lack of one. Returns -1. */
static int repl_error(struct repl *r, const char *name, struct co_pg *pg,
                      const char *need)
{
    if (strcmp(pg->sqlstate, "42501") == 0 && need != NULL)
        co_case_addf(r->run, CO_ERROR, name, NULL, NULL,
                     "%s; the check needs %s", pg->errstr, need);
    else
        co_pg_case_error(r->run, name, pg);
    return -1;
}

/* ---- native logical replication (target) --------------------------- */

static const char native_subs_sql[] =
    "SELECT s.oid::text, s.subname, s.subenabled, s.subslotname, "
    "w.pid IS NOT NULL, "
    "extract(epoch FROM now() - w.latest_end_time) "
    "FROM pg_subscription s "
    "LEFT JOIN pg_stat_subscription w "
    "ON w.subid = s.oid AND w.relid IS NULL "
    "WHERE s.subdbid = (SELECT oid FROM pg_database "
    "WHERE datname = current_database()) "
    "ORDER BY s.subname";

static const char native_rels_sql[] =
    "SELECT r.srsubid::text, n.nspname, c.relname, r.srsubstate::text "
    "FROM pg_subscription_rel r "
    "JOIN pg_class c ON c.oid = r.srrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "ORDER BY 1, 2, 3";

static const char *native_state(const char *st)
{
    switch (st[0]) {
    case 'i':
        return "initializing";
    case 'd':
        return "copying data";
    case 'f':
        return "copy finished";
    case 's':
        return "synchronized, not ready";
    default:
        return st;
    }
}

static struct sub *sub_by_oid(struct repl *r, const char *oid)
{
    for (size_t i = 0; i < r->nsubs; i++)
        if (!r->subs[i].pglogical && strcmp(r->subs[i].oid, oid) == 0)
            return &r->subs[i];
    return NULL;
}

/* Returns 0, or -1 when an error case was added. */
static int native_read(struct repl *r)
{
    PGresult *res = repl_exec(r, r->tgt, native_subs_sql);

    if (res == NULL)
        return repl_error(r, r->run->res->name, r->tgt, NULL);
    for (int i = 0; i < PQntuples(res); i++) {
        struct sub *s = sub_add(r);
        s->oid = dup_value(res, i, 0);
        s->name = dup_value(res, i, 1);
        s->enabled = bool_value(res, i, 2);
        s->slot = dup_value(res, i, 3);
        s->running = bool_value(res, i, 4);
        s->since_ack = num_value(res, i, 5, -1);
    }
    PQclear(res);
    if (r->nsubs == 0)
        return 0;
    res = repl_exec(r, r->tgt, native_rels_sql);
    if (res == NULL)
        return repl_error(r, r->run->res->name, r->tgt, NULL);
    for (int i = 0; i < PQntuples(res); i++) {
        struct sub *s = sub_by_oid(r, PQgetvalue(res, i, 0));
        const char *st = PQgetvalue(res, i, 3);
        if (s == NULL)
            continue;
        s->ntables++;
        if (strcmp(st, "r") != 0)
            sub_syncing(s, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                        native_state(st));
    }
    PQclear(res);
    return 0;
}

/* ---- pglogical (target) --------------------------------------------- */

static const char pgl_schema_sql[] =
    "SELECT n.nspname FROM pg_extension e "
    "JOIN pg_namespace n ON n.oid = e.extnamespace "
    "WHERE e.extname = 'pglogical'";

static const char *pgl_state(const char *st)
{
    static const struct {
        char c;
        const char *name;
    } states[] = {
        {'i', "initializing"},
        {'s', "copying structure"},
        {'d', "copying data"},
        {'c', "creating constraints"},
        {'w', "waiting for catchup"},
        {'u', "catching up"},
        {'y', "synchronized, not ready"},
    };
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (st[0] == states[i].c)
            return states[i].name;
    return st;
}

static struct sub *pgl_by_name(struct repl *r, const char *name)
{
    for (size_t i = 0; i < r->nsubs; i++)
        if (r->subs[i].pglogical && strcmp(r->subs[i].name, name) == 0)
            return &r->subs[i];
    return NULL;
}

static const char pgl_need[] =
    "USAGE on schema pglogical and SELECT on pglogical.subscription and "
    "pglogical.local_sync_status (GRANT pg_read_all_data)";

static int pgl_read_status(struct repl *r, const char *ns)
{
    char *sql = co_asprintf("SELECT subscription_name, status, slot_name "
                            "FROM %s.show_subscription_status() ORDER BY 1",
                            ns);
    PGresult *res = repl_exec(r, r->tgt, sql);

    free(sql);
    if (res == NULL)
        return repl_error(r, "pglogical", r->tgt, pgl_need);
    for (int i = 0; i < PQntuples(res); i++) {
        struct sub *s = sub_add(r);
        s->pglogical = true;
        s->name = dup_value(res, i, 0);
        s->status = dup_value(res, i, 1);
        s->slot = dup_value(res, i, 2);
        s->enabled = s->status && strcmp(s->status, "disabled") != 0;
        if (s->name == NULL)
            s->name = co_strdup("(unnamed)");
    }
    PQclear(res);
    return 0;
}

static int pgl_read_sync(struct repl *r, const char *ns)
{
    char *sql = co_asprintf("SELECT s.sub_name, l.sync_nspname, "
                            "l.sync_relname, l.sync_status::text "
                            "FROM %s.local_sync_status l "
                            "JOIN %s.subscription s "
                            "ON s.sub_id = l.sync_subid ORDER BY 1, 2, 3",
                            ns, ns);
    PGresult *res = repl_exec(r, r->tgt, sql);

    free(sql);
    if (res == NULL)
        return repl_error(r, "pglogical", r->tgt, pgl_need);
    for (int i = 0; i < PQntuples(res); i++) {
        struct sub *s = pgl_by_name(r, PQgetvalue(res, i, 0));
        const char *st = PQgetvalue(res, i, 3);
        bool whole = PQgetisnull(res, i, 2);
        if (s == NULL)
            continue;
        s->ntables += !whole;
        if (strcmp(st, "r") == 0)
            continue;
        if (whole)
            s->whole_sync = true;
        else
            sub_syncing(s, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                        pgl_state(st));
    }
    PQclear(res);
    return 0;
}

static int pgl_read(struct repl *r)
{
    PGresult *res = repl_exec(r, r->tgt, pgl_schema_sql);
    char *ns;
    int rc;

    if (res == NULL)
        return repl_error(r, "pglogical", r->tgt, NULL);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    ns = co_pg_quote_ident(PQgetvalue(res, 0, 0));
    PQclear(res);
    rc = pgl_read_status(r, ns);
    if (rc == 0)
        rc = pgl_read_sync(r, ns);
    free(ns);
    return rc;
}

/* ---- the source: slots and walsenders ------------------------------- */

static const char slots_sql[] =
    "SELECT s.slot_name, s.active, r.state IS NOT NULL, "
    "extract(epoch FROM greatest(r.write_lag, r.flush_lag, r.replay_lag)), "
    "CASE WHEN pg_is_in_recovery() THEN NULL ELSE "
    "pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint END "
    "FROM pg_replication_slots s "
    "LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid "
    "WHERE s.slot_type = 'logical' AND s.database = current_database() "
    "ORDER BY 1";

/* Reads the source's logical slots. A source that cannot be reached is
 * an `error` case; the target's verdicts still follow. */
static void source_read(struct repl *r)
{
    PGresult *res;

    if (r->run->res->source == NULL)
        return;
    r->src = co_pg_connect(r->run, true);
    if (r->src == NULL || r->src->err != CO_PG_OK) {
        co_pg_case_error(r->run, r->run->res->name, r->src);
        return;
    }
    res = repl_exec(r, r->src, slots_sql);
    if (res == NULL) {
        co_pg_case_error(r->run, r->run->res->name, r->src);
        return;
    }
    r->have_source = true;
    r->nslots = (size_t)PQntuples(res);
    r->slots = co_calloc(r->nslots ? r->nslots : 1, sizeof(*r->slots));
    for (size_t i = 0; i < r->nslots; i++) {
        struct slot *sl = &r->slots[i];
        int row = (int)i;
        sl->name = co_strdup(PQgetvalue(res, row, 0));
        sl->active = bool_value(res, row, 1);
        sl->stats = bool_value(res, row, 2);
        sl->lag = num_value(res, row, 3, 0);
        sl->retain = (long long)num_value(res, row, 4, -1);
    }
    PQclear(res);
}

static struct slot *slot_find(struct repl *r, const char *name)
{
    for (size_t i = 0; name != NULL && i < r->nslots; i++)
        if (strcmp(r->slots[i].name, name) == 0)
            return &r->slots[i];
    return NULL;
}

/* ---- verdicts ------------------------------------------------------- */

static void format_bytes(long long n, char *out, size_t outlen)
{
    if (n >= 1024LL * 1024 * 1024)
        snprintf(out, outlen, "%.1f GB", (double)n / (1 << 30));
    else if (n >= 1024LL * 1024)
        snprintf(out, outlen, "%.1f MB", (double)n / (1 << 20));
    else if (n >= 1024)
        snprintf(out, outlen, "%.1f kB", (double)n / 1024);
    else
        snprintf(out, outlen, "%lld bytes", n);
}

/* The lag of one subscription and how it was measured. Returns the lag
 * in seconds, or -1 when it could not be measured (why in `how`). */
static double sub_lag(struct repl *r, const struct sub *s, char *how,
                      size_t howlen)
{
    struct slot *sl = r->have_source ? slot_find(r, s->slot) : NULL;

    if (sl != NULL && sl->active && sl->stats) {
        snprintf(how, howlen, "measured on the source");
        return sl->lag;
    }
    if (!s->pglogical && s->since_ack >= 0) {
        snprintf(how, howlen,
                 "at most: time since the publisher's last "
                 "report");
        return s->since_ack;
    }
    if (!r->have_source)
        snprintf(how, howlen, "no source configured or reachable");
    else if (sl == NULL)
        snprintf(how, howlen, "slot %s not found in the source database",
                 s->slot ? s->slot : "(none)");
    else
        snprintf(how, howlen,
                 "the source's pg_stat_replication needs "
                 "pg_read_all_stats (pg_monitor)");
    return -1;
}

static const char *sub_kind(const struct sub *s)
{
    return s->pglogical ? "pglogical" : "native";
}

/* What is wrong with a subscription before lag matters, every problem
 * joined in one message (a disabled subscription's unsynced tables are
 * named too). *state is the target value of the fail case. Returns false
 * when nothing is wrong. */
static bool sub_problem(const struct sub *s, struct co_buf *msg,
                        const char **state)
{
    const char *more = s->nsyncing > REPL_MAX_NAMED ? " and more" : "";

    *state = NULL;
    if (s->pglogical &&
        (s->status == NULL || strcmp(s->status, "replicating") != 0)) {
        *state = s->status ? s->status : "unknown";
        co_buf_addf(msg, "status %s, not replicating", *state);
    } else if (!s->pglogical && !s->enabled) {
        *state = "disabled";
        co_buf_puts(msg, "the subscription is disabled");
    } else if (!s->pglogical && !s->running) {
        *state = "stopped";
        co_buf_puts(msg, "enabled but no apply worker runs (see the "
                         "target's server log)");
    }
    if (s->whole_sync) {
        co_buf_puts(msg, msg->len ? "; " : "");
        co_buf_puts(msg, "initial sync of the subscription not finished");
        *state = *state ? *state : "syncing";
    }
    if (s->nsyncing > 0) {
        co_buf_puts(msg, msg->len ? "; " : "");
        co_buf_addf(msg,
                    "initial sync unfinished, %zu of %zu tables not "
                    "ready: %s%s",
                    s->nsyncing, s->ntables, s->syncing.s, more);
        *state = *state ? *state : "syncing";
    }
    return *state != NULL;
}

static void sub_verdict(struct repl *r, const struct sub *s)
{
    char how[160], lagbuf[32], max[32];
    struct co_buf msg;
    const char *state;
    double lag;

    co_buf_init(&msg);
    if (sub_problem(s, &msg, &state)) {
        co_case_addf(r->run, CO_FAIL, s->name, NULL, state, "%s: %s",
                     sub_kind(s), msg.s);
        co_buf_free(&msg);
        return;
    }
    co_buf_free(&msg);
    lag = sub_lag(r, s, how, sizeof(how));
    co_duration_format(r->max_lag_ms, max, sizeof(max));
    if (lag < 0) {
        /* Replicating, but nothing proves the lag is under max_lag:
         * say so rather than pass. */
        co_case_addf(r->run, CO_WARN, s->name, NULL, NULL,
                     "%s: replicating, initial sync done (%zu tables), "
                     "lag unknown (%s)",
                     sub_kind(s), s->ntables, how);
        return;
    }
    snprintf(lagbuf, sizeof(lagbuf), "%.1fs", lag);
    if (lag * 1000.0 > (double)r->max_lag_ms)
        co_case_addf(r->run, CO_FAIL, s->name, NULL, lagbuf,
                     "%s: lag %s exceeds max_lag %s (%s)", sub_kind(s), lagbuf,
                     max, how);
    else
        co_case_addf(r->run, CO_PASS, s->name, NULL, lagbuf,
                     "%s: replicating, initial sync done (%zu tables), "
                     "lag %s (%s)",
                     sub_kind(s), s->ntables, lagbuf, how);
}

/* Source slots of this database no subscription on the target uses:
 * an inactive one holds WAL back until the source's disk fills. */
static void orphan_slots(struct repl *r)
{
    for (size_t i = 0; i < r->nslots; i++) {
        const struct slot *sl = &r->slots[i];
        char *name, bytes[32] = "an unknown amount";
        if (sl->matched || sl->active)
            continue;
        if (sl->retain >= 0)
            format_bytes(sl->retain, bytes, sizeof(bytes));
        name = co_asprintf("slot %s", sl->name);
        co_case_addf(r->run, CO_WARN, name, "inactive", NULL,
                     "logical slot on the source has no subscriber "
                     "connected and retains %s of WAL",
                     bytes);
        free(name);
    }
}

static int repl_run(struct co_run *run)
{
    struct repl r;
    int rc;

    if (run->res->target == NULL) {
        co_case_addf(run, CO_SKIP, run->res->name, NULL, NULL,
                     "no target configured: replication is inspected on "
                     "the subscriber");
        return 0;
    }
    memset(&r, 0, sizeof(r));
    r.run = run;
    r.max_lag_ms = co_param_duration_ms(run, "max_lag");
    r.tgt = co_pg_connect(run, false);
    if (r.tgt == NULL || r.tgt->err != CO_PG_OK) {
        co_pg_case_error(run, run->res->name, r.tgt);
        co_pg_free(r.tgt);
        return 0;
    }
    rc = native_read(&r);
    rc |= pgl_read(&r);
    if (r.nsubs == 0 && rc == 0)
        co_case_addf(run, CO_SKIP, run->res->name, NULL, NULL,
                     "no logical replication on the target: no native "
                     "subscription and no pglogical subscription in this "
                     "database");
    if (r.nsubs > 0) {
        source_read(&r);
        for (size_t i = 0; i < r.nsubs; i++) {
            struct slot *sl = slot_find(&r, r.subs[i].slot);
            if (sl != NULL)
                sl->matched = true;
        }
        for (size_t i = 0; i < r.nsubs; i++)
            sub_verdict(&r, &r.subs[i]);
        orphan_slots(&r);
    }
    subs_free(&r);
    co_pg_free(r.src);
    co_pg_free(r.tgt);
    return 0;
}

const struct co_check co_check_pg_replication = {
    .id = "pg.replication",
    .summary = "logical replication (pglogical or native) initial sync "
               "done, lag under max_lag",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_PRE,
    .params = repl_params,
    .run = repl_run,
    .flags = CO_CHECK_ONE_SIDED,
};
