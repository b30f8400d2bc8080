/*
 * pg_rowcount.c - the `pg.rowcount` check: the same number of rows in
 * every user table on both sides.
 *
 * Exact mode runs `SELECT count(*)` per table on source and target
 * concurrently, tables in parallel over a pool of min(settings.jobs,
 * tables) sessions per side. Partitioned tables are counted as a whole
 * and each partition on its own (a partition that lost rows is named,
 * not only its parent). Estimate mode reads pg_class.reltuples instead:
 * instant on huge tables, but statistics are samples taken at different
 * times, so a difference is a `warn` and only beyond a margin.
 *
 * Cases: one per table that differs (fail, with both counts) or is
 * missing on a side. Matching tables get one pass case each up to
 * SUMMARY_LIMIT tables; above that they are summarised in one pass case
 * ("812 tables match") so a large schema does not bury the failures in
 * a report of thousands of lines. Under --shard I/N each shard counts
 * its own tables (pg_tables.h) and summarises its own matches.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/pg.h"
#include "pg_tables.h"

#define SUMMARY_LIMIT 200

static const struct co_param rowcount_params[] = {
    {"tolerance", CO_P_INT, "0",
     "allowed absolute difference in rows per table"},
    {"tolerances", CO_P_LIST, NULL,
     "per-table allowances as TABLE=N (globs allowed), overriding "
     "tolerance for the tables they match"},
    {"estimate", CO_P_BOOL, "false",
     "compare pg_class.reltuples estimates instead of counting (huge "
     "tables); a difference is a warning"},
    {"estimate_margin", CO_P_FLOAT, "0.1",
     "estimate mode: relative difference tolerated between the two "
     "estimates (0.1 = 10%)"},
    {"tables", CO_P_LIST, NULL, "only these tables (globs; default: all)"},
    {"exclude", CO_P_LIST, NULL, "skip these tables (globs)"},
    {0},
};

/* The outcome of one table's count. */
struct job {
    const struct co_pgtab_pair *pair;
    long long n[2];
    char *err; /* "source: reason" when a side could not count */
};

struct counts {
    struct job *jobs;
    size_t njobs;
    struct co_run *run;
    /* progress in source rows: counted so far, and the total as
     * estimated, each estimate replaced by the count once known */
    atomic_llong done, total;
};

struct tally {
    size_t matched; /* pass cases, maybe not added yet */
    bool summarise;
};

/* ---- tolerance ---------------------------------------------------------- */

/* The allowance for one table: the last `tolerances` entry matching it,
 * else `tolerance`. A malformed entry is reported once by the caller. */
static long long tolerance_for(const struct co_run *run,
                               const struct co_pgtab *t)
{
    const struct co_strlist *l = co_param_list(run, "tolerances");
    long long tol = co_param_int(run, "tolerance");
    char *dotted = co_asprintf("%s.%s", t->schema, t->name);

    for (size_t i = 0; i < l->n; i++) {
        const char *eq = strrchr(l->v[i], '=');
        char *pat;
        long long v;

        if (eq == NULL || !co_pgtab_parse_i64(eq + 1, &v) || v < 0)
            continue;
        pat = co_strndup(l->v[i], (size_t)(eq - l->v[i]));
        if (co_glob_match(pat, dotted) || co_glob_match(pat, t->qual) ||
            co_glob_match(pat, t->name))
            tol = v;
        free(pat);
    }
    free(dotted);
    return tol;
}

static void check_tolerances(struct co_run *run)
{
    const struct co_strlist *l = co_param_list(run, "tolerances");

    for (size_t i = 0; i < l->n; i++) {
        const char *eq = strrchr(l->v[i], '=');
        long long v;

        if (eq == NULL || eq == l->v[i] || !co_pgtab_parse_i64(eq + 1, &v) ||
            v < 0)
            co_case_addf(run, CO_ERROR, "tolerances", NULL, NULL,
                         "bad entry \"%s\": want TABLE=N with N >= 0",
                         l->v[i]);
    }
}

/* ---- verdicts ----------------------------------------------------------- */

/* " (partition of public.events)" or " (all partitions)" or "". */
static char *what(const struct co_pgtab *t)
{
    if (t->parent != NULL)
        return co_asprintf(" (partition of %s)", t->parent);
    if (t->relkind == 'p')
        return co_strdup(" (all partitions)");
    return co_strdup("");
}

static void report_missing(struct co_run *run, const struct co_pgtab_pair *p)
{
    if (p->tgt == NULL)
        co_case_addf(run, CO_FAIL, p->src->qual, "present", "missing",
                     "missing on target");
    else
        co_case_addf(run, CO_FAIL, p->tgt->qual, "missing", "present",
                     "missing on source (only on target)");
}

static const char *plural(long long n)
{
    return n == 1 ? "" : "s";
}

static void report_count(struct co_run *run, const struct job *j,
                         struct tally *tl)
{
    const struct co_pgtab *t = j->pair->src;
    long long tol = tolerance_for(run, t);
    long long d = llabs(j->n[0] - j->n[1]);
    char s[32], g[32], *w = what(t);

    snprintf(s, sizeof(s), "%lld", j->n[0]);
    snprintf(g, sizeof(g), "%lld", j->n[1]);
    if (d == 0) {
        tl->matched++;
        if (!tl->summarise)
            co_case_addf(run, CO_PASS, t->qual, s, g, "%s row%s%s", s,
                         plural(j->n[0]), w);
    } else if (d <= tol) {
        co_case_addf(run, CO_PASS, t->qual, s, g,
                     "source %s row%s, target %s (within tolerance %lld)%s", s,
                     plural(j->n[0]), g, tol, w);
    } else {
        co_case_addf(run, CO_FAIL, t->qual, s, g,
                     "source %s row%s, target %s (%+lld)%s", s,
                     plural(j->n[0]), g, j->n[1] - j->n[0], w);
    }
    free(w);
}

/* ---- exact counts over the pool ----------------------------------------- */

static char *count_sql(size_t i, void *payload)
{
    const struct counts *c = payload;
    const struct co_pgtab *t = c->jobs[i].pair->src;

    /* ONLY: inheritance children are tables of their own; a
     * partitioned table (which ONLY would make empty) counts its
     * partitions. */
    return co_asprintf("SELECT count(*) FROM %s%s",
                       t->relkind == 'p' ? "" : "ONLY ", t->sql);
}

static long long estimate(const struct job *j)
{
    return j->pair->src->est > 0 ? (long long)j->pair->src->est : 0;
}

static void report_progress(struct counts *c, const struct job *j)
{
    long long n = j->err == NULL ? j->n[0] : estimate(j);
    long long done = atomic_fetch_add(&c->done, n) + n;
    long long total =
        atomic_fetch_add(&c->total, n - estimate(j)) + n - estimate(j);

    co_run_progress(c->run, done, total, "rows");
}

static void count_done(size_t i, PGresult *out[2], struct co_pg *pair[2],
                       void *payload)
{
    struct counts *c = payload;
    struct job *j = &c->jobs[i];
    struct co_buf why;

    co_buf_init(&why);
    for (int s = 0; s < 2; s++) {
        if (out[s] != NULL && PQntuples(out[s]) == 1 &&
            co_pgtab_parse_i64(PQgetvalue(out[s], 0, 0), &j->n[s]))
            continue;
        if (out[s] == NULL)
            co_buf_addf(&why, "%s%s", why.len ? "; " : "", pair[s]->errstr);
        else
            co_buf_addf(&why, "%s%s: unexpected result", why.len ? "; " : "",
                        pair[s]->side);
    }
    if (why.len > 0)
        j->err = co_buf_take(&why);
    co_buf_free(&why);
    report_progress(c, j);
}

/* Counts on min(settings.jobs, tables) session pairs. */
static void run_counts(struct co_run *run, struct co_pg_pool *pool,
                       struct counts *c)
{
    size_t n = (size_t)run->cfg->settings.jobs;

    co_pgtab_grow(pool, run, (int)(n < c->njobs ? n : c->njobs));
    co_pg_pool_map(pool, c->njobs, count_sql, count_done, c, run->deadline,
                   run->cancel);
}

static void report_exact(struct co_run *run, struct co_pgtab_pair *pairs,
                         size_t npairs, struct co_pg_pool *pool)
{
    struct counts c;
    struct tally tl = {0, false};
    size_t k = 0;

    memset(&c, 0, sizeof(c));
    c.jobs = co_calloc(npairs + 1, sizeof(struct job));
    c.run = run;
    atomic_init(&c.done, 0);
    atomic_init(&c.total, 0);
    for (size_t i = 0; i < npairs; i++)
        if (pairs[i].src != NULL && pairs[i].tgt != NULL) {
            c.jobs[c.njobs].pair = &pairs[i];
            atomic_fetch_add(&c.total, estimate(&c.jobs[c.njobs++]));
        }
    co_run_progress(run, 0, atomic_load(&c.total), "rows");
    tl.summarise = c.njobs > SUMMARY_LIMIT;
    if (c.njobs > 0)
        run_counts(run, pool, &c);
    for (size_t i = 0; i < npairs; i++) {
        if (pairs[i].src == NULL || pairs[i].tgt == NULL) {
            report_missing(run, &pairs[i]);
            continue;
        }
        if (c.jobs[k].err != NULL)
            co_case_addf(run, CO_ERROR, pairs[i].src->qual, NULL, NULL, "%s",
                         c.jobs[k].err);
        else
            report_count(run, &c.jobs[k], &tl);
        free(c.jobs[k].err);
        k++;
    }
    if (tl.summarise && tl.matched > 0)
        co_case_addf(run, CO_PASS, "tables", NULL, NULL,
                     "%zu tables match (per-table cases are listed for up "
                     "to %d tables)",
                     tl.matched, SUMMARY_LIMIT);
    free(c.jobs);
}

/* ---- estimates ---------------------------------------------------------- */

static void report_estimate(struct co_run *run, const struct co_pgtab_pair *p)
{
    const struct co_pgtab *t = p->src;
    double a = p->src->est, b = p->tgt->est;
    double margin = co_param_float(run, "estimate_margin");
    double tol = (double)tolerance_for(run, t);
    double d = fabs(a - b), big = a > b ? a : b;
    char s[32], g[32], *w = what(t);

    snprintf(s, sizeof(s), "%.0f", a);
    snprintf(g, sizeof(g), "%.0f", b);
    if (a < 0 || b < 0)
        co_case_addf(run, CO_WARN, t->qual, a < 0 ? NULL : s, b < 0 ? NULL : g,
                     "estimate unavailable: never analysed on %s%s",
                     a < 0 && b < 0 ? "either side"
                     : a < 0        ? "source"
                                    : "target",
                     w);
    else if (d <= tol || d <= margin * big)
        co_case_addf(run, CO_PASS, t->qual, s, g,
                     "estimate: source ~%s rows, target ~%s%s", s, g, w);
    else
        co_case_addf(run, CO_WARN, t->qual, s, g,
                     "estimate: source ~%s rows, target ~%s (differs by "
                     "%.0f%%)%s",
                     s, g, big > 0 ? 100.0 * d / big : 100.0, w);
    free(w);
}

static void report_estimates(struct co_run *run, struct co_pgtab_pair *pairs,
                             size_t npairs)
{
    for (size_t i = 0; i < npairs; i++) {
        if (pairs[i].src == NULL || pairs[i].tgt == NULL)
            report_missing(run, &pairs[i]);
        else
            report_estimate(run, &pairs[i]);
    }
}

/* ---- run ---------------------------------------------------------------- */

static void report(struct co_run *run, struct co_pg_pool *pool,
                   struct co_pgtab_pair *pairs, size_t npairs, void *payload)
{
    (void)payload;
    if (co_param_bool(run, "estimate"))
        report_estimates(run, pairs, npairs);
    else
        report_exact(run, pairs, npairs, pool);
}

static int rowcount_run(struct co_run *run)
{
    if (co_run_shard_first(run))
        check_tolerances(run);
    return co_pgtab_run(run, report, NULL);
}

const struct co_check co_check_pg_rowcount = {
    .id = "pg.rowcount",
    .summary = "exact row counts per table equal (or within a declared "
               "tolerance)",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_POST | CO_DRIFT,
    .params = rowcount_params,
    .run = rowcount_run,
    .flags = CO_CHECK_PAIR | CO_CHECK_SNAPSHOT | CO_CHECK_SHARDED,
};
