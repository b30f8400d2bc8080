/*
 * pg_sequences.c - the `pg.sequences` check: every sequence on the
 * target is at least where the source's is, and past the largest value
 * already in the column it feeds.
 *
 * The classic post-cutover outage: a restore (or a logical replica,
 * which never copies sequence state) leaves the target's sequences at
 * their start, the application comes up, and the first INSERT fails on
 * a duplicate key. Serial, identity and free-standing sequences are all
 * covered; the column a sequence feeds is found through pg_depend
 * ('a' for serial/OWNED BY, 'i' for identity).
 *
 * What is compared is the value nextval() will return next: last_value
 * when is_called is false (a fresh sequence, or setval(s, v, false)),
 * last_value + increment otherwise. pg_sequences.last_value hides that
 * distinction (NULL when not called), so the sequences themselves are
 * read: `SELECT last_value, is_called FROM seq`, many per statement.
 * Descending sequences are compared the other way round, against the
 * column's minimum. Under --shard I/N each shard reads its share of the
 * sequences (shard_seqs).
 */
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/pg.h"
#include "pg_tables.h"

#define BATCH 200 /* sequences or columns read per statement */

static const struct co_param sequences_params[] = {
    {"margin", CO_P_INT, "0",
     "how far ahead of the source (and of the column's max) the target's "
     "next value must be"},
    {0},
};

static const char list_sql[] =
    "SELECT n.nspname, c.relname, s.seqincrement,"
    " has_sequence_privilege(c.oid, 'SELECT'),"
    " tn.nspname, tc.relname, a.attname"
    " FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_sequence s ON s.seqrelid = c.oid"
    " LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass"
    "  AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass"
    "  AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')"
    " LEFT JOIN pg_class tc ON tc.oid = d.refobjid"
    " LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace"
    " LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid"
    "  AND a.attnum = d.refobjsubid"
    " WHERE c.relkind = 'S'"
    "   AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    "   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'"
    "   AND NOT EXISTS (SELECT 1 FROM pg_depend e"
    "        WHERE e.classid = 'pg_class'::regclass"
    "          AND e.objid = c.oid AND e.deptype = 'e')"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"";

struct seq {
    char *schema, *name, *qual, *sql;
    long long inc;
    bool readable;
    char *table_sql; /* the table the sequence feeds, quoted; or NULL */
    char *column;    /* quoted column */
    char *fed;       /* "public.users.id", for messages */
    /* read afterwards */
    bool have_value;
    long long last;
    bool called;
    bool have_extreme; /* max (or min when descending) of the column */
    bool column_empty;
    long long extreme;
};

struct seqs {
    struct seq *v;
    size_t n;
};

/* ---- listing ------------------------------------------------------------ */

static void fill(struct seq *s, const PGresult *r, int i)
{
    memset(s, 0, sizeof(*s));
    s->schema = co_strdup(PQgetvalue(r, i, 0));
    s->name = co_strdup(PQgetvalue(r, i, 1));
    s->qual = co_pg_qualname(s->schema, s->name);
    s->sql = co_pg_quote_qualified(s->schema, s->name);
    co_pgtab_parse_i64(PQgetvalue(r, i, 2), &s->inc);
    s->readable = PQgetvalue(r, i, 3)[0] == 't';
    if (!PQgetisnull(r, i, 4) && !PQgetisnull(r, i, 6)) {
        char *t = co_pg_qualname(PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
        s->table_sql =
            co_pg_quote_qualified(PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
        s->column = co_pg_quote_ident(PQgetvalue(r, i, 6));
        s->fed = co_asprintf("%s.%s", t, PQgetvalue(r, i, 6));
        free(t);
    }
}

static void seq_free(struct seq *s)
{
    free(s->schema);
    free(s->name);
    free(s->qual);
    free(s->sql);
    free(s->table_sql);
    free(s->column);
    free(s->fed);
}

static void seqs_free(struct seqs *l)
{
    for (size_t i = 0; i < l->n; i++)
        seq_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void build(const struct co_run *run, const PGresult *r, struct seqs *l)
{
    int n = PQntuples(r);

    l->v = co_calloc((size_t)n + 1, sizeof(*l->v));
    l->n = 0;
    for (int i = 0; i < n; i++) {
        const char *ts = PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4);
        const char *tn = PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5);
        /* a sequence feeding an excluded table is excluded with it */
        if (co_pgtab_wanted(run, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), ts,
                            tn, NULL, NULL))
            fill(&l->v[l->n++], r, i);
    }
}

static int cmp_seq(const struct seq *a, const struct seq *b);

/* Keeps the entries of l whose keep flag is set, in order. */
static void keep_only(struct seqs *l, const bool *keep)
{
    size_t k = 0;

    for (size_t i = 0; i < l->n; i++) {
        if (!keep[i]) {
            seq_free(&l->v[i]);
            continue;
        }
        l->v[k++] = l->v[i];
    }
    l->n = k;
}

/* --shard I/N: keeps this shard's sequences on both sides. Units are the
 * sequences of either side, by name, all of one weight: reading one is
 * a row from the sequence and an index probe for max(column). */
static void shard_seqs(struct co_run *run, struct seqs l[2])
{
    size_t i = 0, j = 0, n = 0;
    struct co_shard_unit *u;
    bool *mine, *keep[2];

    if (run->nshards <= 1)
        return;
    u = co_calloc(l[0].n + l[1].n + 1, sizeof(*u));
    mine = co_calloc(l[0].n + l[1].n + 1, sizeof(*mine));
    keep[0] = co_calloc(l[0].n + 1, sizeof(bool));
    keep[1] = co_calloc(l[1].n + 1, sizeof(bool));
    while (i < l[0].n || j < l[1].n) { /* both sorted: merge */
        int c = i == l[0].n   ? 1
                : j == l[1].n ? -1
                              : cmp_seq(&l[0].v[i], &l[1].v[j]);
        u[n].key = c <= 0 ? l[0].v[i].qual : l[1].v[j].qual;
        u[n++].weight = 1;
        i += c <= 0;
        j += c >= 0;
    }
    co_run_shard_pick(run, u, n, mine);
    for (i = 0, j = 0, n = 0; i < l[0].n || j < l[1].n; n++) {
        int c = i == l[0].n   ? 1
                : j == l[1].n ? -1
                              : cmp_seq(&l[0].v[i], &l[1].v[j]);
        if (c <= 0)
            keep[0][i++] = mine[n];
        if (c >= 0)
            keep[1][j++] = mine[n];
    }
    keep_only(&l[0], keep[0]);
    keep_only(&l[1], keep[1]);
    free(u);
    free(mine);
    free(keep[0]);
    free(keep[1]);
}

/* ---- reading values ----------------------------------------------------- */

/* Runs one UNION ALL batch on one side; rows are (index, a, b). */
static int run_batch(struct co_run *run, struct co_pg *pg, struct co_buf *sql,
                     struct seqs *l, bool values)
{
    PGresult *r;

    if (sql->len == 0)
        return 0;
    r = co_pg_exec(pg, sql->s, 0, NULL, run->deadline, run->cancel);
    co_buf_free(sql);
    co_buf_init(sql);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        long long k;
        struct seq *s;
        if (!co_pgtab_parse_i64(PQgetvalue(r, i, 0), &k) || k < 0 ||
            (size_t)k >= l->n)
            continue;
        s = &l->v[k];
        if (values) {
            s->have_value = co_pgtab_parse_i64(PQgetvalue(r, i, 1), &s->last);
            s->called = PQgetvalue(r, i, 2)[0] == 't';
        } else if (PQgetisnull(r, i, 1)) {
            s->column_empty = true;
            s->have_extreme = true;
        } else {
            s->have_extreme =
                co_pgtab_parse_i64(PQgetvalue(r, i, 1), &s->extreme);
        }
    }
    PQclear(r);
    return 0;
}

/* Reads last_value/is_called of every readable sequence of one side, and
 * with `columns` also the max (min) of the columns they feed. The index
 * in the list is selected as a literal so rows find their sequence. */
static int read_side(struct co_run *run, struct co_pg *pg, struct seqs *l,
                     bool columns)
{
    struct co_buf sql;
    size_t inbatch = 0;
    int rc = 0;

    co_buf_init(&sql);
    for (int pass = 0; pass < (columns ? 2 : 1) && rc == 0; pass++) {
        for (size_t i = 0; i < l->n && rc == 0; i++) {
            struct seq *s = &l->v[i];
            if (pass == 0 && !s->readable)
                continue;
            if (pass == 1 && s->table_sql == NULL)
                continue;
            co_buf_puts(&sql, sql.len ? " UNION ALL " : "");
            if (pass == 0)
                co_buf_addf(&sql,
                            "SELECT %zu, last_value::text, is_called::text "
                            "FROM %s",
                            i, s->sql);
            else
                co_buf_addf(&sql, "SELECT %zu, %s(%s)::text, NULL FROM %s", i,
                            s->inc < 0 ? "min" : "max", s->column,
                            s->table_sql);
            if (++inbatch == BATCH) {
                rc = run_batch(run, pg, &sql, l, pass == 0);
                inbatch = 0;
            }
        }
        if (rc == 0)
            rc = run_batch(run, pg, &sql, l, pass == 0);
        inbatch = 0;
    }
    co_buf_free(&sql);
    return rc;
}

/* ---- verdicts ----------------------------------------------------------- */

/* The value nextval() returns next. */
static __int128 next_value(const struct seq *s)
{
    return s->called ? (__int128)s->last + s->inc : (__int128)s->last;
}

/* "1042", or "1 (not called)" when nextval() has not used it yet. */
static char *shown(const struct seq *s)
{
    return s->called ? co_asprintf("%lld", s->last)
                     : co_asprintf("%lld (not called)", s->last);
}

/* Is a ahead of b by at least margin, in the sequence's direction? */
static bool ahead(const struct seq *t, __int128 a, __int128 b,
                  long long margin)
{
    return t->inc >= 0 ? a >= b + margin : a <= b - margin;
}

static void judge_column(const struct seq *t, long long margin,
                         struct co_buf *why, struct co_buf *info)
{
    const char *op;
    char *tv;

    if (t->fed == NULL || !t->have_extreme)
        return;
    if (t->column_empty) {
        co_buf_addf(info, "; %s empty", t->fed);
        return;
    }
    /* the next value must be past the extreme: equal collides too */
    if (ahead(t, next_value(t), (__int128)t->extreme + (t->inc >= 0 ? 1 : -1),
              margin)) {
        co_buf_addf(info, "; %s(%s) %lld", t->inc >= 0 ? "max" : "min", t->fed,
                    t->extreme);
        return;
    }
    tv = shown(t);
    op = t->inc >= 0 ? (t->last < t->extreme ? "<" : "is not above")
                     : (t->last > t->extreme ? ">" : "is not below");
    if (why->len > 0) /* "target last_value 1 < source 9226" already */
        co_buf_addf(why, " and %s", op);
    else
        co_buf_addf(why, "target last_value %s %s", tv, op);
    co_buf_addf(why, " %s(%s) %lld: the next insert will collide",
                t->inc >= 0 ? "max" : "min", t->fed, t->extreme);
    free(tv);
}

static void judge(struct co_run *run, const struct seq *s, const struct seq *t)
{
    long long margin = co_param_int(run, "margin");
    struct co_buf why, info;
    char *sv = s != NULL && s->have_value ? shown(s) : NULL;
    char *tv = t->have_value ? shown(t) : NULL;

    co_buf_init(&why);
    co_buf_init(&info);
    if (s != NULL && s->have_value &&
        !ahead(t, next_value(t), next_value(s), margin))
        co_buf_addf(&why, "target last_value %s %s source %s%s", tv,
                    t->inc >= 0 ? "<" : ">", sv,
                    margin ? " (plus margin)" : "");
    judge_column(t, margin, &why, &info);
    if (why.len > 0)
        co_case_addf(run, CO_FAIL, t->qual, sv, tv, "%s", why.s);
    else if (s != NULL && !s->called && !t->called && s->last == t->last)
        co_case_addf(run, CO_PASS, t->qual, sv, tv,
                     "not used yet on either side (next value %lld)%s",
                     t->last, info.len ? info.s : "");
    else if (s == NULL)
        co_case_addf(run, CO_PASS, t->qual, NULL, tv,
                     "last_value %s (only on target)%s", tv,
                     info.len ? info.s : "");
    else
        co_case_addf(run, CO_PASS, t->qual, sv, tv,
                     "last_value %s (source %s)%s", tv, sv,
                     info.len ? info.s : "");
    co_buf_free(&why);
    co_buf_free(&info);
    free(sv);
    free(tv);
}

static bool unreadable(struct co_run *run, const struct seq *s,
                       const char *side)
{
    if (s == NULL || s->have_value)
        return false;
    co_case_addf(run, CO_ERROR, s->qual, NULL, NULL, "%s: %s", side,
                 s->readable ? "could not read the sequence"
                             : "no privilege to read the sequence (grant "
                               "pg_read_all_data or SELECT on it)");
    return true;
}

static int cmp_seq(const struct seq *a, const struct seq *b)
{
    int c = strcmp(a->schema, b->schema);

    return c != 0 ? c : strcmp(a->name, b->name);
}

static void report(struct co_run *run, struct seqs l[2], bool none)
{
    size_t i = 0, j = 0;

    if (none && co_run_shard_first(run))
        co_case_addf(run, CO_SKIP, "sequences", NULL, NULL,
                     "no sequences on either side");
    while (i < l[0].n || j < l[1].n) {
        int c = i == l[0].n   ? 1
                : j == l[1].n ? -1
                              : cmp_seq(&l[0].v[i], &l[1].v[j]);
        struct seq *s = c <= 0 ? &l[0].v[i++] : NULL;
        struct seq *t = c >= 0 ? &l[1].v[j++] : NULL;

        if (t == NULL) {
            co_case_addf(run, CO_FAIL, s->qual, "present", "missing",
                         "missing on target");
            continue;
        }
        if (unreadable(run, t, "target") || unreadable(run, s, "source"))
            continue;
        judge(run, s, t);
    }
}

/* ---- run ---------------------------------------------------------------- */

static int sequences_run(struct co_run *run)
{
    struct co_pg_pool pool;
    struct co_pg *pg[2];
    PGresult *out[2];
    struct seqs l[2];
    bool none;

    memset(l, 0, sizeof(l));
    if (co_pg_pool_open_or_report(&pool, run, 1) != 0)
        return 0;
    pg[0] = pool.src[0];
    pg[1] = pool.tgt[0];
    if (co_pg_pair_exec(pg, list_sql, 0, NULL, run->deadline, run->cancel,
                        out) != 0) {
        for (int i = 0; i < 2; i++)
            if (out[i] == NULL)
                co_pg_case_error(run, "sequences", pg[i]);
    } else {
        build(run, out[0], &l[0]);
        build(run, out[1], &l[1]);
        none = l[0].n == 0 && l[1].n == 0;
        shard_seqs(run, l);
        if (read_side(run, pg[0], &l[0], false) != 0)
            co_pg_case_error(run, "sequences", pg[0]);
        else if (read_side(run, pg[1], &l[1], true) != 0)
            co_pg_case_error(run, "sequences", pg[1]);
        else
            report(run, l, none);
    }
    PQclear(out[0]);
    PQclear(out[1]);
    seqs_free(&l[0]);
    seqs_free(&l[1]);
    co_pg_pool_close(&pool);
    return 0;
}

const struct co_check co_check_pg_sequences = {
    .id = "pg.sequences",
    .summary = "every sequence on target >= source and >= max of the "
               "column it feeds",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_POST,
    .params = sequences_params,
    .run = sequences_run,
    .flags = CO_CHECK_PAIR | CO_CHECK_SNAPSHOT | CO_CHECK_SHARDED,
};
