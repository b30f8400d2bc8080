/*
 * pg_tables.c - lists the user tables of a postgres resource on both
 * sides and pairs them by name (see pg_tables.h).
 *
 * One catalog query per side, run on both concurrently. Arrays (key
 * columns, column names) come back as JSON and are read with jansson,
 * so no PostgreSQL array literal is ever parsed by hand. Both sides sort
 * with COLLATE "C", so pairing is a merge with strcmp whatever the
 * databases' collations are.
 */
#include "pg_tables.h"

#include "cutover/baseline.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Partition trees are listed at every level; a partitioned table's
 * estimate is the sum of its leaves' (unknown if any leaf is). The key
 * is the primary key, else the narrowest valid, non-partial, non-
 * expression unique index whose key columns are all NOT NULL. */
static const char list_sql[] =
    "SELECT n.nspname, c.relname, c.relkind::text,"
    " pn.nspname, pc.relname,"
    " CASE WHEN c.relkind = 'p' THEN"
    "  (SELECT CASE WHEN bool_or(l.reltuples < 0) THEN -1"
    "          ELSE coalesce(sum(l.reltuples), 0) END"
    "     FROM pg_partition_tree(c.oid) t"
    "     JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf)"
    " ELSE c.reltuples END::float8,"
    " CASE WHEN c.relkind = 'p' THEN"
    "  (SELECT coalesce(sum(pg_relation_size(t.relid)), 0)"
    "     FROM pg_partition_tree(c.oid) t WHERE t.isleaf)"
    " ELSE pg_relation_size(c.oid) END::float8,"
    " (SELECT json_agg(json_build_array(a.attname,"
    "    quote_ident(tn.nspname) || '.' || quote_ident(ty.typname),"
    "    coalesce(nullif(ty.typbasetype, 0), ty.oid) IN (20, 21, 23))"
    "    ORDER BY k.ord)"
    "   FROM unnest(ki.indkey) WITH ORDINALITY AS k(attnum, ord)"
    "   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"
    "   JOIN pg_type ty ON ty.oid = a.atttypid"
    "   JOIN pg_namespace tn ON tn.oid = ty.typnamespace"
    "  WHERE k.ord <= ki.indnkeyatts),"
    " coalesce(ki.indisprimary, false),"
    " (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a"
    "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)"
    " FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_inherits inh ON c.relispartition AND inh.inhrelid = c.oid"
    " LEFT JOIN pg_class pc ON pc.oid = inh.inhparent"
    " LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace"
    " LEFT JOIN LATERAL ("
    "  SELECT i.indkey, i.indnkeyatts, i.indisprimary FROM pg_index i"
    "   WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid"
    "     AND i.indpred IS NULL AND i.indexprs IS NULL"
    "     AND (i.indisprimary OR NOT EXISTS ("
    "       SELECT 1 FROM pg_attribute a"
    "        WHERE a.attrelid = c.oid"
    "          AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])"
    "          AND NOT a.attnotnull))"
    "   ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid"
    "   LIMIT 1) ki ON true"
    " WHERE c.relkind IN ('r', 'p')"
    "   AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    "   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'"
    "   AND NOT EXISTS (SELECT 1 FROM pg_depend d"
    "        WHERE d.classid = 'pg_class'::regclass"
    "          AND d.objid = c.oid AND d.deptype = 'e')"
    " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"";

enum {
    COL_SCHEMA,
    COL_NAME,
    COL_KIND,
    COL_PSCHEMA,
    COL_PNAME,
    COL_EST,
    COL_BYTES,
    COL_KEY,
    COL_ISPK,
    COL_COLS
};

const struct co_pgtab *co_pgtab_pair_any(const struct co_pgtab_pair *p)
{
    return p->src != NULL ? p->src : p->tgt;
}

bool co_pgtab_parse_i64(const char *s, long long *out)
{
    char *end;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/* One pattern against one object. */
static bool pattern_hits(const char *pat, const char *name, const char *dotted,
                         const char *qual)
{
    if (co_glob_match(pat, dotted) || co_glob_match(pat, qual))
        return true;
    return strchr(pat, '.') == NULL && co_glob_match(pat, name);
}

static bool list_hits(const struct co_strlist *l, const char *schema,
                      const char *name)
{
    char *dotted = co_asprintf("%s.%s", schema, name);
    char *qual = co_pg_qualname(schema, name);
    bool hit = false;

    for (size_t i = 0; l != NULL && i < l->n && !hit; i++)
        hit = pattern_hits(l->v[i], name, dotted, qual);
    free(dotted);
    free(qual);
    return hit;
}

/* A hit on the object itself or, for a partition, on its parent. */
static bool hits(const struct co_strlist *l, const char *schema,
                 const char *name, const char *pschema, const char *pname)
{
    if (list_hits(l, schema, name))
        return true;
    return pschema != NULL && pname != NULL && list_hits(l, pschema, pname);
}

static bool schema_wanted(const struct co_resource *res, const char *schema)
{
    if (res->schemas.n == 0)
        return true;
    for (size_t i = 0; i < res->schemas.n; i++)
        if (co_glob_match(res->schemas.v[i], schema))
            return true;
    return false;
}

bool co_pgtab_wanted(const struct co_run *run, const char *schema,
                     const char *name, const char *parent_schema,
                     const char *parent_name, const struct co_strlist *tables,
                     const struct co_strlist *exclude)
{
    if (!schema_wanted(run->res, schema))
        return false;
    if (hits(&run->res->exclude, schema, name, parent_schema, parent_name))
        return false;
    if (exclude != NULL &&
        hits(exclude, schema, name, parent_schema, parent_name))
        return false;
    if (tables != NULL && tables->n > 0)
        return hits(tables, schema, name, parent_schema, parent_name);
    return true;
}

static void parse_key(struct co_pgtab *t, const char *json)
{
    json_error_t jerr;
    json_t *arr = json_loads(json, 0, &jerr), *e;
    size_t i;

    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        json_decref(arr);
        return;
    }
    t->key = co_calloc(json_array_size(arr), sizeof(*t->key));
    json_array_foreach(arr, i, e)
    {
        const char *name = json_string_value(json_array_get(e, 0));
        const char *type = json_string_value(json_array_get(e, 1));

        t->key[i].name = co_strdup(name != NULL ? name : "?");
        t->key[i].type = co_strdup(type != NULL ? type : "text");
        t->key[i].is_int = json_is_true(json_array_get(e, 2));
    }
    t->nkey = json_array_size(arr);
    json_decref(arr);
}

static void parse_cols(struct co_pgtab *t, const char *json)
{
    json_error_t jerr;
    json_t *arr = json_loads(json, 0, &jerr), *e;
    size_t i;

    json_array_foreach(arr, i, e)
    {
        if (json_is_string(e))
            co_strlist_add(&t->cols, json_string_value(e));
    }
    json_decref(arr);
}

static void fill(struct co_pgtab *t, const PGresult *r, int row)
{
    const char *ps = PQgetisnull(r, row, COL_PSCHEMA)
                         ? NULL
                         : PQgetvalue(r, row, COL_PSCHEMA);
    const char *pn =
        PQgetisnull(r, row, COL_PNAME) ? NULL : PQgetvalue(r, row, COL_PNAME);

    memset(t, 0, sizeof(*t));
    t->schema = co_strdup(PQgetvalue(r, row, COL_SCHEMA));
    t->name = co_strdup(PQgetvalue(r, row, COL_NAME));
    t->qual = co_pg_qualname(t->schema, t->name);
    t->sql = co_pg_quote_qualified(t->schema, t->name);
    t->relkind = PQgetvalue(r, row, COL_KIND)[0];
    if (ps != NULL && pn != NULL)
        t->parent = co_pg_qualname(ps, pn);
    t->est = strtod(PQgetvalue(r, row, COL_EST), NULL);
    t->bytes = strtod(PQgetvalue(r, row, COL_BYTES), NULL);
    if (!PQgetisnull(r, row, COL_KEY))
        parse_key(t, PQgetvalue(r, row, COL_KEY));
    t->key_is_pk = t->nkey > 0 && PQgetvalue(r, row, COL_ISPK)[0] == 't';
    if (!PQgetisnull(r, row, COL_COLS))
        parse_cols(t, PQgetvalue(r, row, COL_COLS));
}

static void table_free(struct co_pgtab *t)
{
    free(t->schema);
    free(t->name);
    free(t->qual);
    free(t->sql);
    free(t->parent);
    for (size_t i = 0; i < t->nkey; i++) {
        free(t->key[i].name);
        free(t->key[i].type);
    }
    free(t->key);
    co_strlist_free(&t->cols);
}

void co_pgtab_list_free(struct co_pgtab_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        table_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void build_list(const struct co_run *run, const PGresult *r,
                       struct co_pgtab_list *out)
{
    const struct co_strlist *tables = co_param_list(run, "tables");
    const struct co_strlist *exclude = co_param_list(run, "exclude");
    int n = PQntuples(r);

    out->v = co_calloc((size_t)n, sizeof(*out->v));
    out->n = 0;
    for (int i = 0; i < n; i++) {
        const char *ps = PQgetisnull(r, i, COL_PSCHEMA)
                             ? NULL
                             : PQgetvalue(r, i, COL_PSCHEMA);
        const char *pn =
            PQgetisnull(r, i, COL_PNAME) ? NULL : PQgetvalue(r, i, COL_PNAME);

        if (!co_pgtab_wanted(run, PQgetvalue(r, i, COL_SCHEMA),
                             PQgetvalue(r, i, COL_NAME), ps, pn, tables,
                             exclude))
            continue;
        fill(&out->v[out->n++], r, i);
    }
}

static int cmp_tab(const struct co_pgtab *a, const struct co_pgtab *b)
{
    int c = strcmp(a->schema, b->schema);

    return c != 0 ? c : strcmp(a->name, b->name);
}

static void pair_up(const struct co_pgtab_list lists[2],
                    struct co_pgtab_pair **pairs, size_t *npairs)
{
    size_t i = 0, j = 0, n = 0;
    struct co_pgtab_pair *p =
        co_calloc(lists[0].n + lists[1].n + 1, sizeof(*p));

    while (i < lists[0].n || j < lists[1].n) {
        int c;

        if (i == lists[0].n)
            c = 1;
        else if (j == lists[1].n)
            c = -1;
        else
            c = cmp_tab(&lists[0].v[i], &lists[1].v[j]);
        p[n].src = c <= 0 ? &lists[0].v[i++] : NULL;
        p[n].tgt = c >= 0 ? &lists[1].v[j++] : NULL;
        n++;
    }
    *pairs = p;
    *npairs = n;
}

int co_pgtab_fetch(struct co_pg *pg[2], struct co_run *run,
                   struct co_pgtab_list lists[2], struct co_pgtab_pair **pairs,
                   size_t *npairs)
{
    PGresult *out[2] = {NULL, NULL};
    int rc = co_pg_pair_exec(pg, list_sql, 0, NULL, run->deadline, run->cancel,
                             out);

    memset(lists, 0, 2 * sizeof(*lists));
    *pairs = NULL;
    *npairs = 0;
    if (rc == 0) {
        build_list(run, out[0], &lists[0]);
        build_list(run, out[1], &lists[1]);
        pair_up(lists, pairs, npairs);
    }
    for (int i = 0; i < 2; i++)
        if (out[i] == NULL)
            co_pg_case_error(run, "tables", pg[i]);
    PQclear(out[0]);
    PQclear(out[1]);
    return rc == 0 ? 0 : -1;
}

void co_pgtab_grow(struct co_pg_pool *pool, const struct co_run *run, int n)
{
    struct co_pg_pool more;
    size_t total;

    if (n <= pool->n)
        return;
    if (co_pg_pool_open(&more, run, n - pool->n) != 0) {
        co_pg_pool_close(&more);
        return;
    }
    total = (size_t)pool->n + (size_t)more.n;
    pool->src = co_realloc(pool->src, total * sizeof(*pool->src));
    pool->tgt = co_realloc(pool->tgt, total * sizeof(*pool->tgt));
    for (int i = 0; i < more.n; i++) {
        pool->src[pool->n + i] = more.src[i];
        pool->tgt[pool->n + i] = more.tgt[i];
    }
    pool->n = (int)total;
    /* the sessions now belong to pool */
    free(more.src);
    free(more.tgt);
}

/* What a table costs to read, for --shard: its heap, plus 1 MiB for
 * the round trips and planning every table costs however small (about
 * what a server scans in the time of a statement's overhead), so a
 * thousand empty tables do not all land on one shard. Sizes come from
 * the side that does not move while the shards run: the recorded or
 * replayed side of a snapshot (co_run_anchor), else the source, which is
 * quiesced after cutover; the other side for a table it lacks. */
#define TABLE_OVERHEAD_BYTES (1024.0 * 1024.0)

static double table_weight(const struct co_run *run,
                           const struct co_pgtab_pair *p)
{
    const struct co_pgtab *t = co_run_anchor(run) == 1 ? p->tgt : p->src;

    if (t == NULL)
        t = co_pgtab_pair_any(p);
    return (t->bytes > 0 ? t->bytes : 0) + TABLE_OVERHEAD_BYTES;
}

/* Keeps this shard's pairs (--shard I/N), in order. Returns how many. */
static size_t shard_pairs(struct co_run *run, struct co_pgtab_pair *pairs,
                          size_t n)
{
    struct co_shard_unit *u = co_calloc(n + 1, sizeof(*u));
    bool *mine = co_calloc(n + 1, sizeof(*mine));
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        u[i].key = co_pgtab_pair_any(&pairs[i])->qual;
        u[i].weight = table_weight(run, &pairs[i]);
    }
    co_run_shard_pick(run, u, n, mine);
    for (size_t i = 0; i < n; i++)
        if (mine[i])
            pairs[k++] = pairs[i];
    free(u);
    free(mine);
    return k;
}

int co_pgtab_run(struct co_run *run, co_pgtab_fn fn, void *payload)
{
    struct co_pg_pool pool;
    struct co_pgtab_list lists[2];
    struct co_pgtab_pair *pairs = NULL;
    size_t npairs = 0;

    if (co_pg_pool_open_or_report(&pool, run, 1) != 0)
        return 0;
    if (co_pgtab_fetch((struct co_pg *[2]){pool.src[0], pool.tgt[0]}, run,
                       lists, &pairs, &npairs) != 0) {
        /* error cases added */
    } else if (npairs == 0) {
        if (co_run_shard_first(run))
            co_case_addf(run, CO_SKIP, "tables", NULL, NULL,
                         "no user tables on either side");
    } else if ((npairs = shard_pairs(run, pairs, npairs)) > 0) {
        fn(run, &pool, pairs, npairs, payload);
    }
    free(pairs);
    co_pgtab_list_free(&lists[0]);
    co_pgtab_list_free(&lists[1]);
    co_pg_pool_close(&pool);
    return 0;
}
