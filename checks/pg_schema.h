/*
 * pg_schema.h - private to the pg.schema check: the table of object kinds
 * (checks/pg_schema_sql.c) that the diff engine (checks/pg_schema.c)
 * walks.
 *
 * Every kind is one catalog query, the same text on both sides. Each
 * query returns one row per object: four key columns, then one column per
 * compared attribute, named the way messages print it ("type",
 * "nullability", "definition"...):
 *
 *   nsp    schema name (raw)
 *   rel    the object's name; for a child (column, constraint, index,
 *          trigger, policy) the name of its table
 *   sub    what makes the object unique below rel: a column or trigger
 *          name, a function's identity arguments, or - for constraints
 *          and indexes - the definition itself, so an object restored
 *          under another name still matches
 *   label  the object's own name where rel is its parent
 *
 * Attribute columns named "owner", "privileges" and "comment" are only
 * compared when the params `owners`, `acls` and `comments` say so. Role
 * names in "owner" (a name), "privileges" (a JSON array of [grantee,
 * grantor, privilege, grantable] from aclexplode) and "roles" (a JSON
 * array of names, "" for PUBLIC) are mapped on the source side by the
 * resource's role_map, and printed canonically on both sides. The
 * query binds $1: a text[] of the resource's `schemas:` or NULL for
 * every non-system schema.
 */
#ifndef CUTOVER_CHECKS_PG_SCHEMA_H
#define CUTOVER_CHECKS_PG_SCHEMA_H

#include <stddef.h>

/* How a case name is built from the key columns. */
enum pgs_disp {
    PGS_SCHEMA, /* nsp */
    PGS_REL,    /* nsp.rel */
    PGS_CHILD,  /* nsp.rel.label */
    PGS_INDEX,  /* nsp.label (index names live in the schema) */
    PGS_FUNC,   /* nsp.rel(sub) */
    PGS_OPER,   /* nsp.rel(sub), rel unquoted: public.===(integer, integer) */
    PGS_USING,  /* nsp.rel USING sub (operator classes and families) */
    PGS_GLOBAL, /* rel: a database-wide object (nsp is '') */
    PGS_TEXT,   /* rel as the query spelled it: "(integer AS public.t)" */
    PGS_DEFACL, /* "ROLE: sub in nsp" (rel is the role) */
    PGS_SINGLE  /* one row for the whole database: the kind's name */
};

/* What a kind's objects are to the others (flag bits). */
enum pgs_flags {
    PGS_BY_DEF = 1u << 0,   /* keyed by definition; leftovers paired by name */
    PGS_PARENT = 1u << 1,   /* one missing on a side hides its children */
    PGS_OF_REL = 1u << 2,   /* a child: rel names its relation */
    PGS_WARN = 1u << 3,     /* differences are a `warn`, not a `fail` */
    PGS_ACLS = 1u << 4,     /* compared only with the `acls` param */
    PGS_ROLE_KEY = 1u << 5, /* rel is a role name: role_map applies */
    PGS_ORDER = 1u << 6     /* the attribute is a JSON array of names,
                               compared over the names both sides have */
};

struct pgs_kind {
    const char *one;     /* "table" */
    const char *many;    /* "tables" */
    const char *sql;     /* for servers >= min_version on both sides */
    const char *sql_old; /* otherwise; NULL when sql runs everywhere */
    int min_version;
    enum pgs_disp disp;
    unsigned flags;   /* enum pgs_flags */
    const char *show; /* attribute quoted when the object is missing */
};

extern const struct pgs_kind co_pg_schema_kinds[];
extern const size_t co_pg_schema_nkind;

#endif
