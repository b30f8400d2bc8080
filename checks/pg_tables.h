/*
 * pg_tables.h - the user tables of a postgres resource, listed once on
 * each side and paired by name, for the data checks (pg.rowcount,
 * pg.checksum, pg.sequences). Private to checks/.
 *
 * "User tables" are ordinary and partitioned tables (every level of a
 * partition tree is listed) outside the system schemas, not owned by an
 * extension (pglogical's own tables are not the application's data), in
 * the resource's `schemas:` (default: all), not matched by its
 * `exclude:`, and matched by a check's own `tables:` / `exclude:` params.
 * Each table carries the columns that identify a row: its primary key,
 * or failing that its narrowest non-partial unique index on NOT NULL
 * columns; none when it has neither.
 */
#ifndef CUTOVER_CHECKS_PG_TABLES_H
#define CUTOVER_CHECKS_PG_TABLES_H

#include <stdbool.h>
#include <stddef.h>

#include "cutover/check.h"
#include "cutover/pg.h"

/* A key column. `type` is the schema-qualified, quoted type name, fit
 * for a cast in SQL text ("pg_catalog.int8"). */
struct co_pgtab_col {
    char *name;
    char *type;
    bool is_int; /* smallint, integer or bigint (or a domain over one) */
};

struct co_pgtab {
    char *schema; /* as in the catalog */
    char *name;
    char *qual;   /* co_pg_qualname: the case name */
    char *sql;    /* "schema"."name", quoted for SQL text */
    char *parent; /* qualified name of the parent partitioned table */
    char relkind; /* 'r' ordinary (or leaf partition), 'p' partitioned */
    double est;   /* pg_class.reltuples (leaves summed); < 0: unknown */
    double bytes; /* on-disk size of the heap (leaves summed) */
    struct co_pgtab_col *key; /* identifying columns; NULL when none */
    size_t nkey;
    bool key_is_pk;
    struct co_strlist cols; /* every live column, in attnum order */
};

struct co_pgtab_list {
    struct co_pgtab *v; /* sorted by schema, name (bytewise) */
    size_t n;
};

/* One table as seen by both sides; a side is NULL when it lacks it. */
struct co_pgtab_pair {
    const struct co_pgtab *src;
    const struct co_pgtab *tgt;
};

/* The identity of a pair: whichever side has it. */
const struct co_pgtab *co_pgtab_pair_any(const struct co_pgtab_pair *p);

/* Whether schema.name (a table, sequence, ...) is wanted by the resource
 * filters and the check's `tables` (empty: all) and `exclude` lists.
 * Patterns are globs matched against "schema.name", the quoted-as-needed
 * qualified name, and the bare name when the pattern has no dot; a
 * partition is also matched through its parent (parent_schema may be
 * NULL). */
bool co_pgtab_wanted(const struct co_run *run, const char *schema,
                     const char *name, const char *parent_schema,
                     const char *parent_name, const struct co_strlist *tables,
                     const struct co_strlist *exclude);

/* Lists the user tables on both sides concurrently (pg[0] source,
 * pg[1] target) with the check's "tables" and "exclude" params applied,
 * and pairs them by name into *pairs (allocated, sorted). Returns 0, or
 * -1 after adding an `error` case named "tables" for each side that
 * could not be listed; lists[] are valid (maybe empty) either way and
 * freed with co_pgtab_list_free. */
int co_pgtab_fetch(struct co_pg *pg[2], struct co_run *run,
                   struct co_pgtab_list lists[2], struct co_pgtab_pair **pairs,
                   size_t *npairs);
void co_pgtab_list_free(struct co_pgtab_list *l);

/* The frame of every per-table check: opens one session pair (error
 * cases when a side is unreachable), lists and pairs the tables, adds a
 * `skip` when neither side has any, else calls fn with the pool and the
 * pairs; then frees everything. fn may grow the pool (co_pgtab_grow).
 * Under --shard I/N fn gets this shard's tables only (weighed by heap
 * size, see pg_tables.c) and is not called when it has none; the `skip`
 * is shard 1's. */
typedef void (*co_pgtab_fn)(struct co_run *run, struct co_pg_pool *pool,
                            struct co_pgtab_pair *pairs, size_t npairs,
                            void *payload);
int co_pgtab_run(struct co_run *run, co_pgtab_fn fn, void *payload);

/* Grows a pool opened with co_pg_pool_open_or_report (one pair, which
 * lists the tables) to n pairs, all connecting at once, for work on many
 * tables. Pairs that fail to connect are left out: the work runs on
 * fewer sessions (slower, still correct). */
void co_pgtab_grow(struct co_pg_pool *pool, const struct co_run *run, int n);

/* Parses a decimal int64 (the text of a count or a bigint). */
bool co_pgtab_parse_i64(const char *s, long long *out);

#endif
