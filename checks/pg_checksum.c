/*
 * pg_checksum.c - the `pg.checksum` check: table contents equal on both
 * sides, and when they are not, which rows differ, by primary key.
 *
 * The idea is data-diff's, with the servers doing the work: rows are
 * never shipped to compare them, only to name the few that differ.
 *
 *  1. Root pass. Each server scans the table once and returns, per key
 *     range ("segment", about segment_rows rows), a row count and the
 *     sum of a 64-bit hash of every row's text:
 *         SELECT bucket, count(*), sum(hashtextextended(r::text, 0))
 *     The sum is exact (numeric) and order-independent, so no sort and
 *     no index are needed: it costs about what a bare hash aggregate
 *     over the table costs, parallel workers included (see split_sql). Integer
 * keys are bucketed arithmetically from min/max; other key types (uuid, text,
 * dates, ...) by width_bucket() over boundaries sampled with TABLESAMPLE on
 * the source. Both sides use the same boundaries, bound as parameters. On
 * request (chunk_bytes) a large table's root pass is cut into block ranges
 * (ctid ranges, a TID Range Scan each) run concurrently on several sessions,
 * the way parallel workers would: the partial sums of a bucket simply add up.
 * It is off by default: such scans read through shared_buffers instead of a
 * small ring, so with a buffer pool smaller than the table they contend and
 * evict, and one plain scan per side was faster on the benchmark's two cores.
 *  2. Bisect. A segment whose count or sum differs is split FANOUT ways
 *     by an index range scan (the same aggregate per sub-range), and only
 *     the differing sub-ranges are split again, until a segment holds at
 *     most bisect_rows rows. A segment empty on one side is not split:
 *     all its rows are missing (or extra) and their keys are listed.
 *  3. Leaves. Key and row hash of the few rows left are fetched from both
 *     sides, sorted and merged here: "id=17 (changed)", "id=42 (missing
 *     on target)", "id=99 (only on target)".
 *
 * Composite keys are split on their first column; a segment whose rows
 * all share one value there continues on the next column with that
 * value fixed, so any key (integer, uuid, text, composite) narrows down.
 * Tables without a key (primary key, else a unique index on NOT NULL
 * columns) get one whole-table hash: a fail says they differ, not where.
 * Partitioned tables are compared partition by partition.
 *
 * The row text is what both servers print for the row; the layer pins
 * every setting that changes it (DateStyle, TimeZone, IntervalStyle,
 * extra_float_digits, bytea_output). When the two sides' columns differ
 * (pg.schema reports that), the rows are hashed on the columns both have.
 *
 * Memory is bounded by the number of root segments (at most MAX_ROOT per
 * table), FANOUT per bisect level and bisect_rows per leaf, never by the
 * rows of a table. When very many rows differ, the search stops once
 * max_keys are named and a fetch budget is spent; the count is then a
 * lower bound ("at least 5000 rows differ").
 *
 * Work runs in three phases over a pool of min(settings.jobs, units)
 * session pairs, each phase one co_pg_pool_run (pg.h: a function per
 * unit, on whichever pair is free; this is a conversation, not one
 * statement per job): prepare each table's root segments, run every root
 * chunk (tables in parallel), then bisect each table that differs. A unit
 * only runs SQL and fills its own table's state; root chunks merge into
 * their table's buckets in the pool's fold step, one at a time. Cases are
 * added at the end, in table order, from the check's thread. Progress
 * (co_run_progress) counts the source rows of root chunks as they end;
 * under --shard I/N the check sees its shard's tables only.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/baseline.h"
#include "cutover/check.h"
#include "cutover/pg.h"
#include "pg_tables.h"

#define FANOUT            32     /* sub-segments per bisect step */
#define MAX_ROOT          10000  /* root segments at most */
#define MAX_LEVEL         64     /* bisect depth guard (data changing) */
#define SAMPLE_PER_BUCKET 30     /* sampled keys per root segment */
#define SAMPLE_MIN_ROWS   100000 /* smaller tables: exact percentiles */
#define BUDGET_LEAVES     20     /* leaves' worth of rows per named key */
#define VALUE_MAX         64     /* key values longer are cut in messages */

static const struct co_param checksum_params[] = {
    {"tables", CO_P_LIST, NULL, "only these tables (globs; default: all)"},
    {"exclude", CO_P_LIST, NULL, "skip these tables (globs)"},
    {"max_keys", CO_P_INT, "10",
     "differing primary keys named per table (then \"and K more\")"},
    {"segment_rows", CO_P_INT, "10000",
     "rows per segment of the first pass (fewer: more, smaller "
     "segments; bisecting a difference is cheaper)"},
    {"bisect_rows", CO_P_INT, "64",
     "segments of at most this many rows are compared row by row "
     "(key and row hash fetched) instead of split further"},
    {"chunk_bytes", CO_P_INT, "0",
     "split a large table's first pass into block ranges of this much "
     "heap, scanned concurrently on up to settings.jobs sessions (0: one "
     "scan per table). Worth it on servers with idle cores and "
     "shared_buffers larger than the table: a block-range scan does not "
     "use the small ring buffer a plain scan reads a large table through"},
    {0},
};

struct opts {
    long long max_keys, segment_rows, bisect_rows, budget, chunk_bytes;
    int jobs;
    int64_t deadline;
    const atomic_int *cancel;
    /* baseline.h: the side segment boundaries come from (-1: both), and
     * whether a baseline answers for a side (no bisecting into it) */
    int anchor;
    bool replay;
};

/* A table's verdict. */
struct verdict {
    bool done;
    enum co_status st;
    char *msg, *src, *tgt;
    double ms;
};

/* A key range: columns 0..depth-1 equal to prefix, column `depth` in
 * [lo, hi) or [lo, hi] (hi_incl); NULL bounds are open. */
struct seg {
    int depth;
    char **prefix;
    char *lo, *hi;
    bool hi_incl;
    long long n[2];
    int level;
};

/* Rows and hash sum of one segment on each side. Sums of 64-bit hashes
 * fit 128 bits up to 2^64 rows. */
struct bucket {
    long long n[2];
    __int128 sum[2];
};

/* How a segment is cut, and what each part holds. */
struct split {
    struct bucket *b;
    int nb;
    bool root;           /* the first pass: its counts are the totals */
    bool arith;          /* child i = [a + i*w, min(a + (i+1)*w - 1, top)] */
    long long a, w, top; /* arith */
    char **bounds;       /* else: width_bucket thresholds, sorted */
    int nbounds;
};

/* One table being compared. */
struct tctx {
    struct co_pg **pg; /* the pool's pair working on the table (per unit) */
    const struct opts *o;
    const struct co_pgtab_pair *pair;
    const struct co_pgtab_col *key;
    size_t nkey;
    char *from;   /* "ONLY "s"."t" r" */
    char *alias;  /* "r": not the name of any column */
    char *hash;   /* per-row hash expression */
    char *keys;   /* "r."a", r."b"" */
    bool partial; /* hashed on the columns both sides have */
    /* the root pass */
    struct seg root;
    struct split rs;
    int nchunks;
    int chunks_seen;     /* progress: root chunks done or skipped */
    long long rows_seen; /* progress: source rows of those chunks */
    bool empty;          /* no rows on either side: nothing to scan */
    /* findings */
    long long rows[2];
    long long ndiff;   /* rows known to differ */
    bool approx;       /* ndiff is a lower bound */
    bool seg_differs;  /* some segment's hash differed */
    long long nranges; /* differing segments named by range (baseline) */
    long long fetched;
    long long named;
    struct co_buf names;
    atomic_bool failed; /* read by chunk_unit while a fold may set it */
    char err[CO_ERRLEN];
    int64_t ms;
    struct verdict v;
};

/* One root chunk of one table, and its answers from chunk_unit until
 * chunk_fold merges them. */
struct unit {
    size_t t;
    int k;
    bool skipped; /* the table failed or is empty: nothing was run */
    int rc;
    PGresult *res[2];
    int64_t t0;
};

struct shared {
    struct tctx *t;
    size_t nt;
    struct unit *units;
    size_t nunits;
    struct opts o;
    /* why the phases stopped before every table was judged (CO_PG_OK:
     * they did not) */
    enum co_pg_err stop;
    /* progress (chunk_fold only): source rows hashed by the root pass,
     * and the total as estimated, each table's estimate replaced by its
     * count once all its chunks are in */
    struct co_run *run;
    long long pdone, ptotal;
};

/* ---- statements with bound parameters ----------------------------------- */

struct q {
    struct co_buf sql;
    char **p;
    int n, cap;
};

static void q_init(struct q *q)
{
    memset(q, 0, sizeof(*q));
    co_buf_init(&q->sql);
}

static void q_free(struct q *q)
{
    for (int i = 0; i < q->n; i++)
        free(q->p[i]);
    free(q->p);
    co_buf_free(&q->sql);
}

/* Binds v and appends "$n::type" to the statement. */
static void q_bind(struct q *q, const char *v, const char *type)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 8;
        q->p = co_realloc(q->p, (size_t)q->cap * sizeof(*q->p));
    }
    q->p[q->n++] = co_strdup(v);
    co_buf_addf(&q->sql, "$%d::%s", q->n, type);
}

static void q_bind_ll(struct q *q, long long v)
{
    char s[32];

    snprintf(s, sizeof(s), "%lld", v);
    q_bind(q, s, "int8");
}

static const char *const *q_params(const struct q *q)
{
    return (const char *const *)q->p;
}

static void key_ref(struct co_buf *b, const struct tctx *c, int col)
{
    char *n = co_pg_quote_ident(c->key[col].name);

    co_buf_addf(b, "%s.%s", c->alias, n);
    free(n);
}

static void q_where(struct q *q, const struct tctx *c, const struct seg *s)
{
    const struct co_pgtab_col *k = c->key;

    co_buf_puts(&q->sql, " WHERE true");
    for (int i = 0; i < s->depth; i++) {
        co_buf_puts(&q->sql, " AND ");
        key_ref(&q->sql, c, i);
        co_buf_puts(&q->sql, " = ");
        q_bind(q, s->prefix[i], k[i].type);
    }
    if (s->lo != NULL) {
        co_buf_puts(&q->sql, " AND ");
        key_ref(&q->sql, c, s->depth);
        co_buf_puts(&q->sql, " >= ");
        q_bind(q, s->lo, k[s->depth].type);
    }
    if (s->hi != NULL) {
        co_buf_puts(&q->sql, " AND ");
        key_ref(&q->sql, c, s->depth);
        co_buf_puts(&q->sql, s->hi_incl ? " <= " : " < ");
        q_bind(q, s->hi, k[s->depth].type);
    }
}

/* ---- running statements ------------------------------------------------- */

static void note_error(struct tctx *c, const struct co_pg *pg)
{
    if (!c->failed)
        snprintf(c->err, sizeof(c->err), "%s",
                 pg->errstr[0] ? pg->errstr : "query failed");
    c->failed = true;
}

static int run_pair(struct tctx *c, const struct q *q, PGresult *out[2])
{
    if (co_pg_pair_exec(c->pg, q->sql.s, q->n, q_params(q), c->o->deadline,
                        c->o->cancel, out) == 0)
        return 0;
    for (int i = 0; i < 2; i++) {
        if (out[i] == NULL)
            note_error(c, c->pg[i]);
        PQclear(out[i]);
        out[i] = NULL;
    }
    return -1;
}

static PGresult *run_one(struct tctx *c, int side, const struct q *q)
{
    PGresult *r = co_pg_exec(c->pg[side], q->sql.s, q->n, q_params(q),
                             c->o->deadline, c->o->cancel);

    if (r == NULL)
        note_error(c, c->pg[side]);
    return r;
}

static long long ll_value(const PGresult *r, int row, int col)
{
    long long v = 0;

    if (!PQgetisnull(r, row, col))
        co_pgtab_parse_i64(PQgetvalue(r, row, col), &v);
    return v;
}

/* A numeric's text as a 128-bit integer (a sum of int8 hashes). */
static bool parse_i128(const char *s, __int128 *out)
{
    const __int128 max = (((__int128)1) << 126) / 5; /* headroom for *10 */
    bool neg = *s == '-';
    __int128 v = 0;

    s += neg || *s == '+';
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > max)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = neg ? -v : v;
    return true;
}

/* ---- naming rows -------------------------------------------------------- */

static void add_value(struct co_buf *b, const char *v)
{
    size_t n = strlen(v);

    if (n <= VALUE_MAX) {
        co_buf_puts(b, v);
        return;
    }
    co_buf_add(b, v, co_utf8_floor(v, VALUE_MAX));
    co_buf_puts(b, "...");
}

/* "id=17 (changed)" or "(a, b)=(1, x) (changed)"; the key values are
 * columns 0..nkey-1 of row `row`. Counts the row either way. */
static void name_row(struct tctx *c, const PGresult *r, int row,
                     const char *why)
{
    struct co_buf *b = &c->names;

    c->ndiff++;
    if (c->named >= c->o->max_keys)
        return;
    c->named++;
    if (b->len > 0)
        co_buf_puts(b, ", ");
    if (c->nkey == 1) {
        co_buf_addf(b, "%s=", c->key[0].name);
        add_value(b, PQgetvalue(r, row, 0));
    } else {
        co_buf_puts(b, "(");
        for (size_t i = 0; i < c->nkey; i++)
            co_buf_addf(b, "%s%s", i ? ", " : "", c->key[i].name);
        co_buf_puts(b, ")=(");
        for (size_t i = 0; i < c->nkey; i++) {
            co_buf_puts(b, i ? ", " : "");
            add_value(b, PQgetvalue(r, row, (int)i));
        }
        co_buf_puts(b, ")");
    }
    co_buf_addf(b, " (%s)", why);
}

/* All rows of a segment exist on one side only: count them and name as
 * many as still wanted, in key order. */
static int list_side(struct tctx *c, const struct seg *s, int side)
{
    const char *why = side == 0 ? "missing on target" : "only on target";
    long long want = c->o->max_keys - c->named;
    struct q q;
    PGresult *r;
    int n;

    c->seg_differs = true;
    if (want <= 0) {
        c->ndiff += s->n[side];
        return 0;
    }
    q_init(&q);
    co_buf_addf(&q.sql, "SELECT %s FROM %s", c->keys, c->from);
    q_where(&q, c, s);
    co_buf_addf(&q.sql, " ORDER BY %s LIMIT ", c->keys);
    q_bind_ll(&q, want);
    r = run_one(c, side, &q);
    q_free(&q);
    if (r == NULL)
        return -1;
    n = PQntuples(r);
    for (int i = 0; i < n; i++)
        name_row(c, r, i, why);
    /* the rest of the segment's rows, counted but not named */
    if (s->n[side] > n)
        c->ndiff += s->n[side] - n;
    PQclear(r);
    return 0;
}

/* ---- leaves: key and hash of each row, merged here ---------------------- */

struct lrow {
    const struct tctx *c;
    const PGresult *r;
    int row;
};

static int cmp_value(const struct co_pgtab_col *k, const char *a,
                     const char *b)
{
    long long x, y;

    if (k->is_int && co_pgtab_parse_i64(a, &x) && co_pgtab_parse_i64(b, &y))
        return x < y ? -1 : x > y;
    return strcmp(a, b);
}

static int cmp_key(const struct lrow *a, const struct lrow *b)
{
    for (size_t i = 0; i < a->c->nkey; i++) {
        int d = cmp_value(&a->c->key[i], PQgetvalue(a->r, a->row, (int)i),
                          PQgetvalue(b->r, b->row, (int)i));
        if (d != 0)
            return d;
    }
    return 0;
}

static int cmp_lrow(const void *a, const void *b)
{
    return cmp_key(a, b);
}

static struct lrow *sorted_rows(const struct tctx *c, const PGresult *r)
{
    int n = PQntuples(r);
    struct lrow *v = co_calloc((size_t)n + 1, sizeof(*v));

    for (int i = 0; i < n; i++) {
        v[i].c = c;
        v[i].r = r;
        v[i].row = i;
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_lrow);
    return v;
}

/* Both sides' rows sorted by key here (the servers' collations play no
 * part), then merged. */
static void merge_rows(struct tctx *c, PGresult *res[2])
{
    int hcol = (int)c->nkey;
    int n0 = PQntuples(res[0]), n1 = PQntuples(res[1]), i = 0, j = 0;
    struct lrow *a = sorted_rows(c, res[0]), *b = sorted_rows(c, res[1]);

    while (i < n0 || j < n1) {
        int d = i == n0 ? 1 : j == n1 ? -1 : cmp_key(&a[i], &b[j]);

        if (d < 0) {
            name_row(c, res[0], a[i++].row, "missing on target");
        } else if (d > 0) {
            name_row(c, res[1], b[j++].row, "only on target");
        } else {
            if (strcmp(PQgetvalue(res[0], a[i].row, hcol),
                       PQgetvalue(res[1], b[j].row, hcol)) != 0)
                name_row(c, res[0], a[i].row, "changed");
            i++;
            j++;
        }
    }
    free(a);
    free(b);
}

static int leaf(struct tctx *c, const struct seg *s)
{
    PGresult *res[2];
    struct q q;
    int rc;

    c->seg_differs = true;
    q_init(&q);
    co_buf_addf(&q.sql, "SELECT %s, %s FROM %s", c->keys, c->hash, c->from);
    q_where(&q, c, s);
    rc = run_pair(c, &q, res);
    q_free(&q);
    if (rc != 0)
        return -1;
    c->fetched += PQntuples(res[0]) + PQntuples(res[1]);
    merge_rows(c, res);
    PQclear(res[0]);
    PQclear(res[1]);
    return 0;
}

/* ---- segments and splits ------------------------------------------------ */

static void seg_free(struct seg *s)
{
    for (int i = 0; i < s->depth; i++)
        free(s->prefix[i]);
    free(s->prefix);
    free(s->lo);
    free(s->hi);
    memset(s, 0, sizeof(*s));
}

/* A copy of s's prefix with one more value, for the next column. */
static void seg_narrow(const struct seg *s, const char *v, struct seg *out)
{
    memset(out, 0, sizeof(*out));
    out->depth = s->depth + 1;
    out->prefix = co_calloc((size_t)out->depth, sizeof(char *));
    for (int i = 0; i < s->depth; i++)
        out->prefix[i] = co_strdup(s->prefix[i]);
    out->prefix[s->depth] = co_strdup(v);
    out->n[0] = s->n[0];
    out->n[1] = s->n[1];
    out->level = s->level + 1;
}

static void split_free(struct split *sp)
{
    free(sp->b);
    for (int i = 0; i < sp->nbounds; i++)
        free(sp->bounds[i]);
    free(sp->bounds);
    memset(sp, 0, sizeof(*sp));
}

static void ll_text(char **out, long long v)
{
    *out = co_asprintf("%lld", v);
}

static void split_child(const struct seg *s, const struct split *sp, int i,
                        struct seg *ch)
{
    memset(ch, 0, sizeof(*ch));
    ch->depth = s->depth;
    ch->prefix = co_calloc((size_t)s->depth + 1, sizeof(char *));
    for (int k = 0; k < s->depth; k++)
        ch->prefix[k] = co_strdup(s->prefix[k]);
    ch->level = s->level + 1;
    ch->n[0] = sp->b[i].n[0];
    ch->n[1] = sp->b[i].n[1];
    if (sp->arith) {
        long long lo = sp->a + (long long)i * sp->w;
        __int128 hi = (__int128)lo + sp->w - 1;
        ll_text(&ch->lo, lo);
        ll_text(&ch->hi, hi > sp->top ? sp->top : (long long)hi);
        ch->hi_incl = true;
        return;
    }
    ch->lo = co_strdup(i == 0 ? s->lo : sp->bounds[i - 1]);
    if (i < sp->nbounds) {
        ch->hi = co_strdup(sp->bounds[i]);
    } else {
        ch->hi = co_strdup(s->hi);
        ch->hi_incl = s->hi_incl;
    }
}

static void array_literal(struct co_buf *arr, char **v, int n)
{
    co_buf_puts(arr, "{");
    for (int i = 0; i < n; i++) {
        co_buf_puts(arr, i ? ",\"" : "\"");
        for (const char *p = v[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                co_buf_puts(arr, "\\");
            co_buf_add(arr, p, 1);
        }
        co_buf_puts(arr, "\"");
    }
    co_buf_puts(arr, "}");
}

/* " AND r.ctid >= (...)::tid AND r.ctid < (...)::tid": block range k of
 * nk of the heap, computed by each server from its own heap size (the
 * two sides' layouts differ; only the buckets must agree). The bounds
 * are initplans, so the scan is a TID Range Scan; both ends are always
 * given (the last one past any block a growing table could reach): a
 * two-sided range makes the planner expect few rows, which keeps it from
 * JIT-compiling and planning hash spills for a few hundred groups. */
static void q_chunk(struct q *q, const struct tctx *c, int k, int nk)
{
    co_buf_addf(&q->sql,
                " AND %s.ctid >= (SELECT format('(%%s,0)', "
                "pg_relation_size(",
                c->alias);
    q_bind(q, c->pair->src->sql, "regclass");
    co_buf_puts(&q->sql, ") / current_setting('block_size')::int8 * ");
    q_bind_ll(q, k);
    co_buf_puts(&q->sql, " / ");
    q_bind_ll(q, nk);
    co_buf_puts(&q->sql, "))::tid");
    if (k + 1 == nk) {
        co_buf_addf(&q->sql, " AND %s.ctid <= '(4294967294,65535)'::tid",
                    c->alias);
        return;
    }
    co_buf_addf(&q->sql,
                " AND %s.ctid < (SELECT format('(%%s,0)', "
                "pg_relation_size(",
                c->alias);
    q_bind(q, c->pair->src->sql, "regclass");
    co_buf_puts(&q->sql, ") / current_setting('block_size')::int8 * ");
    q_bind_ll(q, k + 1);
    co_buf_puts(&q->sql, " / ");
    q_bind_ll(q, nk);
    co_buf_puts(&q->sql, "))::tid");
}

/* "SELECT <bucket> AS b, <row hash> AS h FROM t r WHERE <segment>". */
static void branch_sql(struct q *q, const struct tctx *c, const struct seg *s,
                       const struct split *sp)
{
    co_buf_puts(&q->sql, "SELECT ");
    if (sp->arith) {
        /* int4: the hash aggregate groups an int4 measurably faster than
         * an int8, and there are at most MAX_ROOT buckets */
        co_buf_puts(&q->sql, "((");
        key_ref(&q->sql, c, s->depth);
        if (sp->a != 0) {
            co_buf_puts(&q->sql, " - ");
            q_bind_ll(q, sp->a);
        }
        co_buf_puts(&q->sql, ") / ");
        q_bind_ll(q, sp->w);
        co_buf_puts(&q->sql, ")::int4");
    } else if (sp->nbounds == 0) {
        co_buf_puts(&q->sql, "0");
    } else {
        struct co_buf arr, type;
        co_buf_init(&arr);
        co_buf_init(&type);
        array_literal(&arr, sp->bounds, sp->nbounds);
        co_buf_addf(&type, "%s[]", c->key[s->depth].type);
        co_buf_puts(&q->sql, "width_bucket(");
        key_ref(&q->sql, c, s->depth);
        co_buf_puts(&q->sql, ", ");
        q_bind(q, arr.s, type.s);
        co_buf_puts(&q->sql, ")");
        co_buf_free(&arr);
        co_buf_free(&type);
    }
    co_buf_addf(&q->sql, " AS b, %s AS h FROM %s", c->hash, c->from);
    if (c->nkey > 0)
        q_where(q, c, s);
    else
        co_buf_puts(&q->sql, " WHERE true");
}

/* The aggregate per sub-segment: bucket, count, hash sum.
 *
 * Grouped by an expression of the key, the planner expects one group
 * per row: it plans a huge hash table, JIT-compiles with inlining and
 * never runs the aggregate in parallel, which on a few million rows
 * costs far more than the grouping. So the rows come from a subquery,
 * whose output it knows nothing about (a few hundred groups, then):
 *  - the root pass of a whole table is a UNION ALL with an empty twin
 *    (ctid < '(0,0)' matches nothing, for free), which the planner
 *    turns into a Parallel Append under a partial hash aggregate: the
 *    same parallel workers and ring-buffered scan as a plain
 *    count(*), sum() over the table;
 *  - a bisect step (an index range) or a block-range chunk sits behind
 *    OFFSET 0, a fence that leaves no trace in the plan. */
static void split_sql(struct q *q, const struct tctx *c, const struct seg *s,
                      const struct split *sp, int k, int nk)
{
    size_t at;

    co_buf_puts(&q->sql, "SELECT b, count(*), sum(h) FROM (");
    at = q->sql.len;
    branch_sql(q, c, s, sp);
    if (nk > 1) {
        q_chunk(q, c, k, nk);
        co_buf_puts(&q->sql, " OFFSET 0");
    } else if (sp->root) {
        /* the same text: the same $n, the same values */
        char *twin = co_strndup(q->sql.s + at, q->sql.len - at);
        co_buf_addf(&q->sql, " UNION ALL %s AND %s.ctid < '(0,0)'::tid", twin,
                    c->alias);
        free(twin);
    } else {
        co_buf_puts(&q->sql, " OFFSET 0");
    }
    co_buf_puts(&q->sql, ") s GROUP BY b");
}

/* Adds "bucket, count, sum" rows of both sides into sp->b. Returns 0,
 * or -1 with the reason in *why. */
static int accumulate(struct split *sp, PGresult *res[2], const char **why)
{
    for (int side = 0; side < 2; side++) {
        const PGresult *r = res[side];
        for (int row = 0; row < PQntuples(r); row++) {
            long long b = ll_value(r, row, 0);
            __int128 sum = 0;
            if (b < 0 || b >= sp->nb) {
                *why = "a row fell outside every segment (the table "
                       "changed while it was read?)";
                return -1;
            }
            if (!PQgetisnull(r, row, 2) &&
                !parse_i128(PQgetvalue(r, row, 2), &sum)) {
                *why = "hash sum out of range";
                return -1;
            }
            sp->b[b].n[side] += ll_value(r, row, 1);
            sp->b[b].sum[side] += sum;
        }
    }
    return 0;
}

static int run_split(struct tctx *c, const struct seg *s, struct split *sp)
{
    PGresult *res[2];
    const char *why = NULL;
    struct q q;
    int rc;

    q_init(&q);
    split_sql(&q, c, s, sp, 0, 1);
    rc = run_pair(c, &q, res);
    q_free(&q);
    if (rc != 0)
        return -1;
    sp->b = co_calloc((size_t)sp->nb, sizeof(*sp->b));
    rc = accumulate(sp, res, &why);
    if (rc != 0) {
        snprintf(c->err, sizeof(c->err), "%s", why);
        c->failed = true;
    }
    PQclear(res[0]);
    PQclear(res[1]);
    return rc;
}

static bool bucket_same(const struct bucket *b)
{
    return b->n[0] == b->n[1] && b->sum[0] == b->sum[1];
}

/* ---- bisecting ---------------------------------------------------------- */

static int descend(struct tctx *c, const struct seg *s);

/* Descends into each differing part of a split, in key order (so the
 * keys named first are the smallest). */
static int descend_parts(struct tctx *c, const struct seg *s,
                         const struct split *sp)
{
    int rc = 0;

    for (int i = 0; rc == 0 && i < sp->nb; i++) {
        struct seg ch;
        if (bucket_same(&sp->b[i]))
            continue;
        c->seg_differs = true;
        split_child(s, sp, i, &ch);
        rc = descend(c, &ch);
        seg_free(&ch);
    }
    return rc;
}

static int split_and_descend(struct tctx *c, const struct seg *s,
                             struct split *sp)
{
    int rc = run_split(c, s, sp);

    if (rc == 0)
        rc = descend_parts(c, s, sp);
    split_free(sp);
    return rc;
}

/* Integer column: nb equal ranges over [lo, hi]. At the root (no range
 * outside to collide with), keys that start near zero (serial ids) get
 * ranges anchored at 0, which spares the server a subtraction per row. */
static void arith_spec(struct split *sp, long long lo, long long hi,
                       long long nb, bool root)
{
    __int128 size = (__int128)hi - lo + 1;

    sp->arith = true;
    sp->w = (long long)((size + nb - 1) / nb);
    sp->a = root && lo >= 0 && lo < sp->w ? 0 : lo;
    sp->top = hi;
    sp->nb = (int)(((__int128)hi - sp->a) / sp->w + 1);
}

/* min and max of key column s->depth over both sides. Returns 1 when
 * found, 0 when both sides are empty, -1 on error. */
static int min_max(struct tctx *c, const struct seg *s, long long *lo,
                   long long *hi)
{
    PGresult *res[2];
    struct q q;
    int found = 0;

    q_init(&q);
    co_buf_puts(&q.sql, "SELECT min(");
    key_ref(&q.sql, c, s->depth);
    co_buf_puts(&q.sql, ")::int8, max(");
    key_ref(&q.sql, c, s->depth);
    co_buf_addf(&q.sql, ")::int8 FROM %s", c->from);
    q_where(&q, c, s);
    if (c->o->anchor >= 0) {
        int a = c->o->anchor;
        res[a] = run_one(c, a, &q);
        res[1 - a] = NULL;
        if (res[a] == NULL) {
            q_free(&q);
            return -1;
        }
    } else if (run_pair(c, &q, res) != 0) {
        q_free(&q);
        return -1;
    }
    q_free(&q);
    for (int i = 0; i < 2; i++) {
        long long a, b;
        if (res[i] == NULL || PQgetisnull(res[i], 0, 0))
            continue;
        a = ll_value(res[i], 0, 0);
        b = ll_value(res[i], 0, 1);
        if (!found || a < *lo)
            *lo = a;
        if (!found || b > *hi)
            *hi = b;
        found = 1;
    }
    PQclear(res[0]);
    PQclear(res[1]);
    return found;
}

/* Every row on both sides has the same value v in column s->depth:
 * fix it and continue on the next column. */
static int narrow(struct tctx *c, const struct seg *s, const char *v)
{
    struct seg ch;
    int rc;

    seg_narrow(s, v, &ch);
    rc = descend(c, &ch);
    seg_free(&ch);
    return rc;
}

/* Thresholds for width_bucket from one side's quantiles (min, inner
 * quantiles, max): distinct, above the minimum. Taking the max
 * guarantees that side's rows land in at least two parts. */
static void take_bounds(struct split *sp, const PGresult *r)
{
    int n = PQntuples(r);
    const char *prev = PQgetvalue(r, 0, 0);

    sp->bounds = co_calloc((size_t)n + 1, sizeof(char *));
    for (int i = 1; i < n; i++) {
        const char *v = PQgetvalue(r, i, 0);
        if (strcmp(v, prev) == 0)
            continue;
        sp->bounds[sp->nbounds++] = co_strdup(v);
        prev = v;
    }
    sp->nb = sp->nbounds + 1;
}

/* The percentile_disc() of key column `col` at 0, 1/n, ..., 1. */
static void quantiles_sql(struct q *q, const struct tctx *c, int col,
                          long long n)
{
    co_buf_puts(&q->sql, "SELECT v FROM unnest((SELECT percentile_disc("
                         "ARRAY(SELECT g::float8 / ");
    q_bind_ll(q, n);
    co_buf_puts(&q->sql, " FROM generate_series(0, ");
    q_bind_ll(q, n);
    co_buf_puts(&q->sql, ") g)) WITHIN GROUP (ORDER BY ");
    key_ref(&q->sql, c, col);
    co_buf_addf(&q->sql, ") FROM %s", c->from);
}

/* Any column type: quantiles of the segment on both sides decide. */
static int split_generic(struct tctx *c, const struct seg *s)
{
    PGresult *res[2];
    struct split sp;
    struct q q;
    int n0, n1, rc;
    const char *min0, *max0, *min1, *max1;

    q_init(&q);
    quantiles_sql(&q, c, s->depth, FANOUT);
    q_where(&q, c, s);
    co_buf_puts(&q.sql, ")) WITH ORDINALITY AS u(v, o) ORDER BY o");
    rc = run_pair(c, &q, res);
    q_free(&q);
    if (rc != 0)
        return -1;
    n0 = PQntuples(res[0]);
    n1 = PQntuples(res[1]);
    memset(&sp, 0, sizeof(sp));
    if (n0 == 0 || n1 == 0) { /* the data moved under us */
        struct seg t = *s;
        t.n[0] = n0 ? s->n[0] : 0;
        t.n[1] = n1 ? s->n[1] : 0;
        rc = n0 || n1 ? list_side(c, &t, n0 ? 0 : 1) : 0;
        PQclear(res[0]);
        PQclear(res[1]);
        return rc;
    }
    min0 = PQgetvalue(res[0], 0, 0);
    max0 = PQgetvalue(res[0], n0 - 1, 0);
    min1 = PQgetvalue(res[1], 0, 0);
    max1 = PQgetvalue(res[1], n1 - 1, 0);
    if (strcmp(min0, max0) == 0 && strcmp(min1, max1) == 0) {
        if (strcmp(min0, min1) == 0)
            rc = narrow(c, s, min0);
        else /* one value each, different: no row in common */
            rc = list_side(c, s, 0) == 0 ? list_side(c, s, 1) : -1;
        PQclear(res[0]);
        PQclear(res[1]);
        return rc;
    }
    take_bounds(&sp, res[strcmp(min0, max0) != 0 ? 0 : 1]);
    PQclear(res[0]);
    PQclear(res[1]);
    return split_and_descend(c, s, &sp);
}

static int split_seg(struct tctx *c, const struct seg *s)
{
    struct split sp;
    long long lo = 0, hi = 0;
    int found;

    if (!c->key[s->depth].is_int)
        return split_generic(c, s);
    if (s->lo != NULL && s->hi != NULL && co_pgtab_parse_i64(s->lo, &lo) &&
        co_pgtab_parse_i64(s->hi, &hi)) {
        if (!s->hi_incl)
            hi--;
        found = 1;
    } else {
        found = min_max(c, s, &lo, &hi);
    }
    if (found < 0)
        return -1;
    if (found == 0 || hi < lo)
        return 0;
    if (lo == hi) {
        char v[32];
        snprintf(v, sizeof(v), "%lld", lo);
        return narrow(c, s, v);
    }
    if ((__int128)hi - lo > (__int128)INT64_MAX)
        return split_generic(c, s);
    memset(&sp, 0, sizeof(sp));
    arith_spec(&sp, lo, hi, FANOUT, false);
    return split_and_descend(c, s, &sp);
}

/* Budget spent and enough keys named: stop looking closer. */
static bool exhausted(const struct tctx *c)
{
    return c->named >= c->o->max_keys && c->fetched >= c->o->budget;
}

static bool out_of_time(struct tctx *c)
{
    bool late = co_now_ms() >= c->o->deadline;

    if (!late && !(c->o->cancel && atomic_load(c->o->cancel)))
        return false;
    snprintf(c->err, sizeof(c->err), "%s", late ? "timed out" : "interrupted");
    c->failed = true;
    return true;
}

/* A baseline answers for one side: it holds the segments' counts and
 * hash sums, not the rows, so a differing segment is named by its key
 * range ("id in [10000, 20000)") rather than bisected. */
static void range_hint(struct tctx *c, const struct seg *s)
{
    long long d = s->n[0] - s->n[1];

    c->ndiff += d > 0 ? d : d < 0 ? -d : 1;
    c->approx = true;
    c->seg_differs = true;
    c->nranges++;
    if (c->named >= c->o->max_keys)
        return;
    if (c->named++)
        co_buf_puts(&c->names, ", ");
    for (int i = 0; i < s->depth; i++)
        co_buf_addf(&c->names, "%s=%s, ", c->key[i].name, s->prefix[i]);
    co_buf_addf(&c->names, "%s in %s%s, %s%s (source %lld rows, target %lld)",
                c->key[s->depth < (int)c->nkey ? s->depth : 0].name,
                s->lo ? "[" : "(", s->lo ? s->lo : "-inf",
                s->hi ? s->hi : "+inf", s->hi && s->hi_incl ? "]" : ")",
                s->n[0], s->n[1]);
}

static int descend(struct tctx *c, const struct seg *s)
{
    long long most = s->n[0] > s->n[1] ? s->n[0] : s->n[1];

    if (out_of_time(c))
        return -1;
    if (c->o->replay) {
        range_hint(c, s);
        return 0;
    }
    if (s->n[0] == 0 || s->n[1] == 0)
        return list_side(c, s, s->n[0] == 0 ? 1 : 0);
    if (exhausted(c) || s->level >= MAX_LEVEL) {
        long long d = s->n[0] - s->n[1];
        c->ndiff += d > 0 ? d : d < 0 ? -d : 1;
        c->approx = true;
        c->seg_differs = true;
        return 0;
    }
    if (most <= c->o->bisect_rows || (size_t)s->depth >= c->nkey)
        return leaf(c, s);
    return split_seg(c, s);
}

/* ---- phase 1: each table's root segments -------------------------------- */

static double larger(double a, double b)
{
    return a > b ? a : b;
}

/* Rows to plan for: the larger side's estimate, or only the anchor's
 * when a baseline is recorded or replayed (so both ask alike). */
static double table_rows(const struct co_pgtab_pair *p, int anchor)
{
    const struct co_pgtab *a = anchor == 1 ? p->tgt : p->src;
    double est = anchor >= 0 ? a->est : larger(p->src->est, p->tgt->est);

    if (est < 0) /* never analysed: guess from the heap size */
        est = (anchor >= 0 ? a->bytes : larger(p->src->bytes, p->tgt->bytes)) /
              100.0;
    return est;
}

static long long root_buckets(const struct tctx *c)
{
    double n =
        table_rows(c->pair, c->o->anchor) / (double)c->o->segment_rows + 1;

    if (n > MAX_ROOT)
        n = MAX_ROOT;
    return n < 1 ? 1 : (long long)n;
}

/* Boundaries sampled on one side (the source, else the target): a
 * TABLESAMPLE of a large table, the whole of a small one. */
static int sample_bounds(struct tctx *c, long long nb, struct split *sp)
{
    double est = table_rows(c->pair, c->o->anchor), pct = 100.0;
    PGresult *r = NULL;
    struct q q;
    char pcts[32];

    if (est > SAMPLE_MIN_ROWS)
        pct = 100.0 * (double)(nb * SAMPLE_PER_BUCKET) / est;
    if (pct > 100.0)
        pct = 100.0;
    snprintf(pcts, sizeof(pcts), "%.6f", pct);
    for (int side = 0; side < 2; side++) {
        if (c->o->anchor >= 0 && side != c->o->anchor)
            continue;
        q_init(&q);
        quantiles_sql(&q, c, 0, nb);
        if (pct < 100.0) {
            co_buf_puts(&q.sql, " TABLESAMPLE SYSTEM (");
            q_bind(&q, pcts, "float4");
            co_buf_puts(&q.sql, ")");
        }
        co_buf_puts(&q.sql, ")) WITH ORDINALITY AS u(v, o) ORDER BY o");
        r = run_one(c, side, &q);
        q_free(&q);
        if (r == NULL)
            return -1;
        if (PQntuples(r) > 1)
            break;
        PQclear(r);
        r = NULL;
    }
    if (r != NULL)
        take_bounds(sp, r);
    else
        sp->nb = 1;
    PQclear(r);
    return 0;
}

/* Decides the root segments: arithmetic over min..max for an integer
 * key, sampled boundaries for any other key, one bucket without key. */
static void prepare(struct tctx *c)
{
    long long lo = 0, hi = 0;
    int found;

    c->rs.root = true;
    if (c->nkey == 0) {
        c->rs.nb = 1;
        return;
    }
    if (c->key[0].is_int) {
        found = min_max(c, &c->root, &lo, &hi);
        if (found <= 0) {
            c->empty = found == 0;
            return;
        }
        /* no bounds in the WHERE clause: every row has its bucket, and
         * the scan is the bare one the floor does */
        if ((__int128)hi - lo <= (__int128)INT64_MAX) {
            arith_spec(&c->rs, lo, hi, root_buckets(c), true);
            return;
        }
    }
    sample_bounds(c, root_buckets(c), &c->rs);
}

/* ---- phase 2: root chunks ----------------------------------------------- */

static long long estimate(const struct tctx *c)
{
    return c->pair->src->est > 0 ? (long long)c->pair->src->est : 0;
}

/* Rows counted by a root chunk's result (bucket, count, sum). */
static long long result_rows(const PGresult *r)
{
    long long n = 0;

    for (int row = 0; row < PQntuples(r); row++)
        n += ll_value(r, row, 1);
    return n;
}

/* One root chunk of c done (or skipped: rows 0). From chunk_fold. */
static void chunk_progress(struct shared *sh, struct tctx *c, long long rows)
{
    c->rows_seen += rows;
    sh->pdone += rows;
    if (++c->chunks_seen == c->nchunks)
        sh->ptotal += c->rows_seen - estimate(c);
    co_run_progress(sh->run, sh->pdone, sh->ptotal, "rows");
}

/* Runs root chunk u on pair; chunk_fold takes the answers. */
static void chunk_unit(void *ctx, size_t i, struct co_pg *pair[2])
{
    struct shared *sh = ctx;
    struct unit *u = &sh->units[i];
    struct tctx *c = &sh->t[u->t];
    struct q q;

    u->t0 = co_now_ms();
    if (c->failed || c->empty) {
        u->skipped = true;
        return;
    }
    q_init(&q);
    split_sql(&q, c, &c->root, &c->rs, u->k, c->nchunks);
    u->rc = co_pg_pair_exec(pair, q.sql.s, q.n, q_params(&q), sh->o.deadline,
                            sh->o.cancel, u->res);
    q_free(&q);
}

/* Merges root chunk u into its table's buckets (one fold at a time). */
static void chunk_fold(void *ctx, size_t i, struct co_pg *pair[2])
{
    struct shared *sh = ctx;
    struct unit *u = &sh->units[i];
    struct tctx *c = &sh->t[u->t];
    const char *why = NULL;

    if (u->skipped) {
        chunk_progress(sh, c, 0);
        return;
    }
    if (u->rc != 0) {
        for (int s = 0; s < 2; s++)
            if (u->res[s] == NULL)
                note_error(c, pair[s]);
    } else if (accumulate(&c->rs, u->res, &why) != 0) {
        snprintf(c->err, sizeof(c->err), "%s", why);
        c->failed = true;
    }
    c->ms += co_now_ms() - u->t0;
    chunk_progress(sh, c, u->rc == 0 ? result_rows(u->res[0]) : 0);
    for (int s = 0; s < 2; s++) {
        PQclear(u->res[s]);
        u->res[s] = NULL;
    }
}

/* ---- phase 3: bisect and verdict ---------------------------------------- */

static void set_verdict(struct verdict *v, enum co_status st, char *msg,
                        const struct tctx *c)
{
    v->st = st;
    v->msg = msg;
    if (st != CO_ERROR) {
        v->src = co_asprintf("%lld rows", c->rows[0]);
        v->tgt = co_asprintf("%lld rows", c->rows[1]);
    }
    v->ms = (double)c->ms;
    v->done = true;
}

static char *diff_message(const struct tctx *c)
{
    const char *least = c->approx ? "at least " : "";
    struct co_buf b;

    co_buf_init(&b);
    co_buf_addf(&b, "%s%lld row%s differ%s", least, c->ndiff,
                c->ndiff == 1 ? "" : "s", c->ndiff == 1 ? "s" : "");
    if (c->named > 0)
        co_buf_addf(&b, ": %s", c->names.s);
    if (c->named > 0 && c->ndiff > c->named)
        co_buf_addf(&b, " and %s%lld more", least, c->ndiff - c->named);
    return co_buf_take(&b);
}

static void judge(struct tctx *c)
{
    const char *cols = c->partial ? " (on the columns both sides have)" : "";
    struct verdict *v = &c->v;

    if (c->failed) {
        set_verdict(v, CO_ERROR, co_strdup(c->err), c);
    } else if (c->nkey == 0 && c->seg_differs) {
        set_verdict(v, CO_FAIL,
                    co_asprintf("contents differ: source %lld rows, target "
                                "%lld%s (no primary key, so the rows "
                                "cannot be named)",
                                c->rows[0], c->rows[1], cols),
                    c);
    } else if (c->nranges > 0) {
        set_verdict(v, CO_FAIL,
                    co_asprintf("at least %lld row%s differ%s in %lld key "
                                "range%s: %s%s (the baseline keeps segment "
                                "hashes, not rows, so rows are not named)",
                                c->ndiff, c->ndiff == 1 ? "" : "s",
                                c->ndiff == 1 ? "s" : "", c->nranges,
                                c->nranges == 1 ? "" : "s", c->names.s,
                                c->nranges > c->named ? " and more" : ""),
                    c);
    } else if (c->ndiff > 0) {
        set_verdict(v, CO_FAIL, diff_message(c), c);
    } else if (c->seg_differs) {
        set_verdict(v, CO_FAIL,
                    co_asprintf("contents differ but no row could be named "
                                "(source %lld rows, target %lld): did the "
                                "data change while it was read?",
                                c->rows[0], c->rows[1]),
                    c);
    } else {
        set_verdict(v, CO_PASS,
                    co_asprintf("%lld rows, checksums match%s%s", c->rows[0],
                                c->nkey == 0 ? " (no primary key: compared "
                                               "as a whole)"
                                             : "",
                                cols),
                    c);
    }
}

static void finish(struct tctx *c)
{
    int64_t t0 = co_now_ms();

    for (int i = 0; i < c->rs.nb; i++) {
        c->rows[0] += c->rs.b[i].n[0];
        c->rows[1] += c->rs.b[i].n[1];
    }
    if (!c->failed && !c->empty) {
        if (c->nkey == 0)
            c->seg_differs = c->rs.nb > 0 && !bucket_same(&c->rs.b[0]);
        else
            descend_parts(c, &c->root, &c->rs);
    }
    c->ms += co_now_ms() - t0;
    judge(c);
}

/* ---- tables ------------------------------------------------------------- */

static bool has_col(const struct co_pgtab *t, const char *name)
{
    return co_strlist_has(&t->cols, name);
}

static bool same_cols(const struct co_pgtab *a, const struct co_pgtab *b)
{
    if (a->cols.n != b->cols.n)
        return false;
    for (size_t i = 0; i < a->cols.n; i++)
        if (strcmp(a->cols.v[i], b->cols.v[i]) != 0)
            return false;
    return true;
}

/* An alias no column of either side is called: a column named like the
 * alias would shadow the whole-row reference. */
static char *pick_alias(const struct co_pgtab_pair *p)
{
    struct co_buf b;

    co_buf_init(&b);
    co_buf_puts(&b, "r");
    while (has_col(p->src, b.s) || has_col(p->tgt, b.s))
        co_buf_puts(&b, "_");
    return co_buf_take(&b);
}

/* The row text is the whole row when both sides have the same columns
 * in the same order, else ROW() of the columns both have. (The whole-row
 * form is also the faster one to compute.) */
static char *hash_expr(struct tctx *c, const struct co_pgtab_pair *p)
{
    struct co_buf b;
    size_t n = 0;

    co_buf_init(&b);
    if (same_cols(p->src, p->tgt)) {
        co_buf_addf(&b, "hashtextextended(%s::text, 0)", c->alias);
        return co_buf_take(&b);
    }
    c->partial = true;
    co_buf_puts(&b, "hashtextextended(ROW(");
    for (size_t i = 0; i < p->src->cols.n; i++) {
        char *q;
        if (!has_col(p->tgt, p->src->cols.v[i]))
            continue;
        q = co_pg_quote_ident(p->src->cols.v[i]);
        co_buf_addf(&b, "%s%s.%s", n++ ? ", " : "", c->alias, q);
        free(q);
    }
    if (n == 0)
        co_buf_puts(&b, "NULL");
    co_buf_puts(&b, ")::text, 0)");
    return co_buf_take(&b);
}

/* The key is the source's, if the target has all its columns. */
static void pick_key(struct tctx *c, const struct co_pgtab_pair *p)
{
    for (size_t i = 0; i < p->src->nkey; i++)
        if (!has_col(p->tgt, p->src->key[i].name))
            return;
    c->key = p->src->key;
    c->nkey = p->src->nkey;
}

/* Root chunks: one per chunk_bytes of heap, at most one per session;
 * one when chunking is off. */
static int chunks_for(const struct co_pgtab_pair *p, const struct opts *o)
{
    double n;

    if (o->chunk_bytes <= 0 || o->anchor >= 0)
        return 1;
    n = larger(p->src->bytes, p->tgt->bytes) / (double)o->chunk_bytes;
    if (n > o->jobs)
        n = o->jobs;
    return n < 1 ? 1 : (int)n;
}

static void tctx_init(struct tctx *c, const struct opts *o,
                      const struct co_pgtab_pair *p)
{
    struct co_buf b;

    memset(c, 0, sizeof(*c));
    c->o = o;
    c->pair = p;
    pick_key(c, p);
    c->alias = pick_alias(p);
    c->from = co_asprintf("ONLY %s %s", p->src->sql, c->alias);
    c->hash = hash_expr(c, p);
    co_buf_init(&b);
    for (size_t i = 0; i < c->nkey; i++) {
        if (i)
            co_buf_puts(&b, ", ");
        key_ref(&b, c, (int)i);
    }
    c->keys = co_buf_take(&b);
    co_buf_init(&c->names);
    c->nchunks = chunks_for(p, o);
}

static void tctx_free(struct tctx *c)
{
    free(c->alias);
    free(c->from);
    free(c->hash);
    free(c->keys);
    seg_free(&c->root);
    split_free(&c->rs);
    co_buf_free(&c->names);
    free(c->v.msg);
    free(c->v.src);
    free(c->v.tgt);
}

/* ---- phases ------------------------------------------------------------ */

static void phase_prepare(void *ctx, size_t i, struct co_pg *pair[2])
{
    struct shared *sh = ctx;
    struct tctx *c = &sh->t[i];
    int64_t t0 = co_now_ms();

    c->pg = pair;
    if (c->o->replay && c->partial) {
        /* the baseline hashed whole rows of the columns it had */
        snprintf(c->err, sizeof(c->err),
                 "the columns differ from the baseline's (pg.schema names "
                 "them), so its row hashes cannot be compared");
        c->failed = true;
        c->empty = true;
    } else {
        prepare(c);
    }
    c->ms += co_now_ms() - t0;
    c->rs.b = co_calloc((size_t)c->rs.nb + 1, sizeof(*c->rs.b));
    c->pg = NULL;
}

static void phase_finish(void *ctx, size_t i, struct co_pg *pair[2])
{
    struct shared *sh = ctx;
    struct tctx *c = &sh->t[i];

    c->pg = pair;
    finish(c);
    c->pg = NULL;
}

static void build_units(struct shared *sh)
{
    size_t n = 0;

    for (size_t i = 0; i < sh->nt; i++)
        n += (size_t)sh->t[i].nchunks;
    sh->units = co_calloc(n + 1, sizeof(*sh->units));
    for (size_t i = 0; i < sh->nt; i++)
        for (int k = 0; k < sh->t[i].nchunks; k++) {
            sh->units[sh->nunits].t = i;
            sh->units[sh->nunits++].k = k;
        }
}

/* The three phases, each over the pool; a phase that stopped (deadline,
 * interrupt) leaves the next ones nothing to do. */
static void run_all(struct co_run *run, struct co_pg_pool *pool,
                    struct shared *sh)
{
    const struct opts *o = &sh->o;
    enum co_pg_err st;

    build_units(sh);
    co_pgtab_grow(pool, run,
                  (size_t)o->jobs < sh->nunits ? o->jobs : (int)sh->nunits);
    st = co_pg_pool_run(pool, sh->nt, phase_prepare, NULL, sh, o->deadline,
                        o->cancel);
    if (st == CO_PG_OK)
        st = co_pg_pool_run(pool, sh->nunits, chunk_unit, chunk_fold, sh,
                            o->deadline, o->cancel);
    if (st == CO_PG_OK)
        st = co_pg_pool_run(pool, sh->nt, phase_finish, NULL, sh, o->deadline,
                            o->cancel);
    sh->stop = st;
    free(sh->units);
}

/* ---- run ---------------------------------------------------------------- */

static void read_opts(struct co_run *run, struct opts *o)
{
    o->max_keys = co_param_int(run, "max_keys");
    o->segment_rows = co_param_int(run, "segment_rows");
    o->bisect_rows = co_param_int(run, "bisect_rows");
    if (o->max_keys < 0)
        o->max_keys = 0;
    if (o->segment_rows < 1)
        o->segment_rows = 1;
    if (o->bisect_rows < 1)
        o->bisect_rows = 1;
    o->chunk_bytes = co_param_int(run, "chunk_bytes");
    if (o->chunk_bytes > 0 && o->chunk_bytes < 8192)
        o->chunk_bytes = 8192;
    o->budget =
        BUDGET_LEAVES * o->bisect_rows * (o->max_keys > 0 ? o->max_keys : 1);
    o->jobs = run->cfg->settings.jobs > 0 ? run->cfg->settings.jobs : 1;
    o->deadline = run->deadline;
    o->cancel = run->cancel;
    o->anchor = co_run_anchor(run);
    o->replay = co_run_replayed(run, true) || co_run_replayed(run, false);
}

static bool comparable(const struct co_pgtab_pair *p)
{
    /* a partitioned table's rows are its partitions', compared there */
    return p->src != NULL && p->tgt != NULL &&
           p->src->relkind == p->tgt->relkind && p->src->relkind != 'p';
}

/* Cases for tables that are not compared row by row. */
static void report_other(struct co_run *run, const struct co_pgtab_pair *p)
{
    if (p->tgt == NULL)
        co_case_addf(run, CO_FAIL, p->src->qual, "present", "missing",
                     "missing on target");
    else if (p->src == NULL)
        co_case_addf(run, CO_FAIL, p->tgt->qual, "missing", "present",
                     "missing on source (only on target)");
    else if (p->src->relkind != p->tgt->relkind)
        co_case_addf(run, CO_FAIL, p->src->qual, NULL, NULL,
                     "partitioned on %s only: compare after pg.schema "
                     "passes",
                     p->src->relkind == 'p' ? "source" : "target");
}

static void report(struct co_run *run, struct co_pgtab_pair *pairs,
                   size_t npairs, struct shared *sh)
{
    size_t k = 0;

    for (size_t i = 0; i < npairs; i++) {
        struct verdict *v;
        if (k >= sh->nt || sh->t[k].pair != &pairs[i]) {
            report_other(run, &pairs[i]);
            continue;
        }
        v = &sh->t[k++].v;
        if (v->done)
            co_case_add_ms(run, v->st, pairs[i].src->qual, v->src, v->tgt,
                           v->ms, "%s", v->msg);
        else
            co_case_addf(run, CO_ERROR, pairs[i].src->qual, NULL, NULL,
                         "not compared: %s", co_pg_err_name(sh->stop));
    }
}

static void compare_all(struct co_run *run, struct co_pg_pool *pool,
                        struct co_pgtab_pair *pairs, size_t npairs,
                        void *payload)
{
    (void)payload;
    struct shared sh;

    memset(&sh, 0, sizeof(sh));
    read_opts(run, &sh.o);
    sh.t = co_calloc(npairs + 1, sizeof(*sh.t));
    sh.run = run;
    for (size_t i = 0; i < npairs; i++)
        if (comparable(&pairs[i])) {
            tctx_init(&sh.t[sh.nt], &sh.o, &pairs[i]);
            sh.ptotal += estimate(&sh.t[sh.nt++]);
        }
    co_run_progress(run, 0, sh.ptotal, "rows");
    if (sh.nt > 0)
        run_all(run, pool, &sh);
    report(run, pairs, npairs, &sh);
    for (size_t i = 0; i < sh.nt; i++)
        tctx_free(&sh.t[i]);
    free(sh.t);
}

static int checksum_run(struct co_run *run)
{
    return co_pgtab_run(run, compare_all, NULL);
}

const struct co_check co_check_pg_checksum = {
    .id = "pg.checksum",
    .summary = "table contents equal: chunked server-side hashes, bisected "
               "down to the differing primary keys",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_POST | CO_DRIFT,
    .params = checksum_params,
    .run = checksum_run,
    .flags = CO_CHECK_PAIR | CO_CHECK_SNAPSHOT | CO_CHECK_SHARDED,
};
