/*
 * pg_schema_sql.c - the catalog queries of pg.schema, one per object kind
 * (see pg_schema.h for the row shape).
 *
 * What a faithful `pg_dump | pg_restore --no-owner --no-acl` copy changes
 * must not show up here: OIDs, attnums (dropped columns leave holes),
 * relfilenodes, tablespaces, statistics, owners and grants (compared only
 * on request). So objects are keyed by name, constraints and indexes by
 * their definition, and every expression is deparsed now, by the server
 * (pg_get_expr, pg_get_*def), never read from text stored at creation
 * time: the restore ran under another search_path. Aggregates that order
 * text use COLLATE "C" so two servers with different default collations
 * build the same string. Objects that belong to an extension (pg_depend
 * deptype 'e') are not user schema and are left out; pg.extensions
 * compares extensions.
 */
#include "pg_schema.h"

/* The SQL is laid out by hand, one clause a line: clang-format would
 * reflow the concatenated literals into something unreadable. */
/* clang-format off */

/* The object (classid, objid) was created by an extension. */
#define EXT_MEMBER(cat, oid)                                                 \
    "EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '" cat             \
    "'::regclass AND d.objid = " oid " AND d.deptype = 'e')"

/* The schemas compared: $1, or every non-system one. */
#define NS_CTE                                                               \
    "WITH ns AS (SELECT n.oid, n.nspname, n.nspowner, n.nspacl"              \
    " FROM pg_namespace n"                                                   \
    " WHERE CASE WHEN $1::text[] IS NULL"                                    \
    " THEN n.nspname NOT LIKE 'pg\\_%'"                                      \
    " AND n.nspname <> 'information_schema'"                                 \
    " ELSE n.nspname = ANY ($1::text[]) END"                                 \
    " AND NOT " EXT_MEMBER("pg_namespace", "n.oid") ")"

/* Their relations, extension members left out. */
#define REL_CTE                                                              \
    NS_CTE ", rel AS (SELECT c.*, ns.nspname FROM pg_class c"                \
    " JOIN ns ON ns.oid = c.relnamespace"                                    \
    " WHERE NOT " EXT_MEMBER("pg_class", "c.oid") ")"

#define OWNER(col) "pg_get_userbyid(" col ") AS owner"
/* NULL means the default grants: spell them out so that an explicit
 * grant equal to the default compares equal. */
#define PRIVS(acl, type, owner)                                              \
    "coalesce(" acl ", acldefault('" type "', " owner "))::text"             \
    " AS privileges"
#define COMMENT(oid, cat) "obj_description(" oid ", '" cat "') AS comment"

#define QUALNAME(nsp, name) "format('%I.%I', " nsp ", " name ")"

/* The name of a collation when it is not the type's default. */
#define COLLATION(coll, typcoll)                                             \
    "CASE WHEN " coll " <> " typcoll " THEN (SELECT "                        \
    QUALNAME("cn.nspname", "co.collname")                                    \
    " FROM pg_collation co JOIN pg_namespace cn"                             \
    " ON cn.oid = co.collnamespace WHERE co.oid = " coll ") END"

/* A schema that CREATE EXTENSION made because the extension's control
 * file names it (pglogical's) is not a member of the extension, but it
 * is no more user schema than the extension's tables. */
static const char schemas_sql[] =
    NS_CTE
    " SELECT ns.nspname, '', '', '', " OWNER("ns.nspowner") ", "
    PRIVS("ns.nspacl", "n", "ns.nspowner") ", "
    COMMENT("ns.oid", "pg_namespace")
    " FROM ns WHERE NOT EXISTS (SELECT 1 FROM pg_extension e"
    " JOIN pg_available_extension_versions v ON v.name = e.extname"
    " AND v.version = e.extversion"
    " WHERE e.extnamespace = ns.oid AND v.schema = ns.nspname)";

/* Parents through pg_inherits: the partition parent, or the list of
 * classic inheritance parents. */
#define PARENTS(cond)                                                        \
    "(SELECT string_agg(" QUALNAME("pn.nspname", "pc.relname")               \
    ", ', ' ORDER BY i.inhseqno) FROM pg_inherits i"                         \
    " JOIN pg_class pc ON pc.oid = i.inhparent"                              \
    " JOIN pg_namespace pn ON pn.oid = pc.relnamespace"                      \
    " WHERE i.inhrelid = r.oid AND " cond ")"

static const char tables_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname, '', '',"
    " CASE r.relkind WHEN 'p' THEN 'partitioned table'"
    " WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,"
    " CASE r.relpersistence WHEN 'u' THEN 'UNLOGGED' ELSE 'LOGGED' END"
    " AS persistence, "
    PARENTS("r.relispartition") " AS \"partition of\","
    " pg_get_expr(r.relpartbound, r.oid) AS \"partition bound\","
    " pg_get_partkeydef(r.oid) AS \"partition key\", "
    PARENTS("NOT r.relispartition") " AS inherits,"
    " CASE WHEN NOT r.relrowsecurity THEN 'disabled'"
    " WHEN r.relforcerowsecurity THEN 'enabled, forced' ELSE 'enabled' END"
    " AS \"row level security\", "
    OWNER("r.relowner") ", "
    PRIVS("r.relacl", "r", "r.relowner") ", "
    COMMENT("r.oid", "pg_class")
    " FROM rel r WHERE r.relkind IN ('r', 'p', 'f')";

static const char views_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname, '', '',"
    " pg_get_viewdef(r.oid, true) AS definition,"
    " array_to_string(r.reloptions, ', ') AS options, "
    OWNER("r.relowner") ", "
    PRIVS("r.relacl", "r", "r.relowner") ", "
    COMMENT("r.oid", "pg_class")
    " FROM rel r WHERE r.relkind = 'v'";

static const char matviews_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname, '', '',"
    " pg_get_viewdef(r.oid, true) AS definition,"
    " CASE WHEN r.relispopulated THEN 'yes' ELSE 'no' END AS populated,"
    " array_to_string(r.reloptions, ', ') AS options, "
    OWNER("r.relowner") ", "
    PRIVS("r.relacl", "r", "r.relowner") ", "
    COMMENT("r.oid", "pg_class")
    " FROM rel r WHERE r.relkind = 'm'";

/* Not last_value: that is data, and pg.sequences' business. */
static const char sequences_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname, '', '',"
    " format_type(s.seqtypid, NULL) AS type, s.seqstart::text AS start,"
    " s.seqincrement::text AS increment, s.seqmin::text AS minimum,"
    " s.seqmax::text AS maximum,"
    " CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END AS cycle,"
    " s.seqcache::text AS cache,"
    " (SELECT format('%I.%I.%I', tn.nspname, t.relname, a.attname)"
    " FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid"
    " JOIN pg_namespace tn ON tn.oid = t.relnamespace"
    " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid"
    " WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid"
    " AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0"
    " AND d.deptype IN ('a', 'i') LIMIT 1) AS \"owned by\", "
    OWNER("r.relowner") ", "
    PRIVS("r.relacl", "s", "r.relowner") ", "
    COMMENT("r.oid", "pg_class")
    " FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid"
    " WHERE r.relkind = 'S'";

/* By name, not attnum: a restore renumbers around dropped columns. */
static const char columns_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname, a.attname, a.attname,"
    " format_type(a.atttypid, a.atttypmod) AS type,"
    " CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END"
    " AS nullability,"
    " CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid)"
    " END AS \"default\","
    " CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS'"
    " WHEN 'd' THEN 'GENERATED BY DEFAULT' END AS identity,"
    " CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid)"
    " END AS generated, "
    COLLATION("a.attcollation", "t.typcollation") " AS \"collation\","
    " a.attacl::text AS privileges,"
    " col_description(a.attrelid, a.attnum) AS comment"
    " FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid"
    " AND a.attnum > 0 AND NOT a.attisdropped"
    " JOIN pg_type t ON t.oid = a.atttypid"
    " LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid"
    " AND ad.adnum = a.attnum"
    " WHERE r.relkind IN ('r', 'p', 'f')";

/* Keyed by definition (an auto-named constraint restored under another
 * name still matches; "#2" tells identical duplicates apart). Left out:
 * constraint triggers (see triggers), NOT NULL (see columns; a
 * constraint from PostgreSQL 18 on) and constraints cloned onto
 * partitions, which follow from their parent's. */
static const char constraints_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname,"
    " k.def || CASE WHEN k.dup > 1 THEN ' #' || k.dup ELSE '' END,"
    " k.conname, k.def AS definition, "
    COMMENT("k.oid", "pg_constraint")
    " FROM rel r JOIN (SELECT c.oid, c.conrelid, c.conname,"
    " pg_get_constraintdef(c.oid) AS def, row_number() OVER"
    " (PARTITION BY c.conrelid, pg_get_constraintdef(c.oid)"
    " ORDER BY c.conname COLLATE \"C\") AS dup"
    " FROM pg_constraint c WHERE c.conrelid <> 0"
    " AND c.contype NOT IN ('t', 'n') AND c.conparentid = 0) k"
    " ON k.conrelid = r.oid";

/* pg_get_indexdef without the index name: "INDEX ON public.t USING btree
 * (a) WHERE ...". Indexes that implement a constraint (primary key,
 * unique, exclusion) are compared as that constraint. */
static const char indexes_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname,"
    " x.def || CASE WHEN x.dup > 1 THEN ' #' || x.dup ELSE '' END,"
    " x.relname, x.def AS definition,"
    " CASE WHEN x.indisvalid THEN 'valid' ELSE 'INVALID' END AS validity, "
    COMMENT("x.indexrelid", "pg_class")
    " FROM rel r CROSS JOIN LATERAL (SELECT i.indexrelid, i.indisvalid,"
    " ic.relname, d.def, row_number() OVER (PARTITION BY d.def"
    " ORDER BY ic.relname COLLATE \"C\") AS dup"
    " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
    " CROSS JOIN LATERAL (SELECT pg_get_indexdef(i.indexrelid) AS idef,"
    " 'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END"
    " || 'INDEX ' || quote_ident(ic.relname) || ' ON ' AS head) h"
    " CROSS JOIN LATERAL (SELECT CASE"
    " WHEN left(h.idef, length(h.head)) = h.head"
    " THEN CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END"
    " || 'INDEX ON ' || substr(h.idef, length(h.head) + 1)"
    " ELSE h.idef END AS def) d"
    " WHERE i.indrelid = r.oid AND NOT EXISTS (SELECT 1 FROM pg_constraint k"
    " WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid"
    " AND k.contype IN ('p', 'u', 'x'))) x";

#define TRIGGERS_SQL(cond)                                                   \
    REL_CTE                                                                  \
    " SELECT r.nspname, r.relname, t.tgname, t.tgname,"                      \
    " pg_get_triggerdef(t.oid) AS definition,"                               \
    " CASE t.tgenabled WHEN 'D' THEN 'disabled'"                             \
    " WHEN 'R' THEN 'enabled on replica only'"                               \
    " WHEN 'A' THEN 'enabled always' ELSE 'enabled' END AS state, "          \
    COMMENT("t.oid", "pg_trigger")                                           \
    " FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid"                     \
    " WHERE NOT t.tgisinternal" cond

/* From 13 on, triggers cloned onto partitions are not internal; they
 * follow from their parent's like cloned constraints. (pglogical's
 * truncate triggers are internal.) */
static const char triggers_sql[] = TRIGGERS_SQL(" AND t.tgparentid = 0");
static const char triggers_sql_12[] = TRIGGERS_SQL("");

static const char policies_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname, p.polname, p.polname,"
    " CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'"
    " WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END"
    " AS command,"
    " CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END"
    " AS mode,"
    " (SELECT string_agg(o.n, ', ' ORDER BY o.n COLLATE \"C\")"
    " FROM (SELECT CASE WHEN u = 0 THEN 'PUBLIC'"
    " ELSE pg_get_userbyid(u)::text END AS n"
    " FROM unnest(p.polroles) u) o) AS roles,"
    " pg_get_expr(p.polqual, p.polrelid) AS \"using\","
    " pg_get_expr(p.polwithcheck, p.polrelid) AS \"with check\""
    " FROM rel r JOIN pg_policy p ON p.polrelid = r.oid";

#define FUNCTIONS_SQL(body)                                                  \
    NS_CTE                                                                   \
    " SELECT ns.nspname, p.proname,"                                         \
    " pg_get_function_identity_arguments(p.oid), '',"                        \
    " CASE p.prokind WHEN 'p' THEN 'procedure'"                              \
    " WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function'"             \
    " ELSE 'function' END AS kind,"                                          \
    " pg_get_function_arguments(p.oid) AS arguments,"                        \
    " pg_get_function_result(p.oid) AS result,"                              \
    " l.lanname AS language,"                                                \
    " CASE p.provolatile WHEN 'i' THEN 'IMMUTABLE'"                          \
    " WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END AS volatility,"             \
    " CASE WHEN p.proisstrict THEN 'STRICT'"                                 \
    " ELSE 'CALLED ON NULL INPUT' END AS \"null input\","                    \
    " CASE WHEN p.prosecdef THEN 'SECURITY DEFINER'"                         \
    " ELSE 'SECURITY INVOKER' END AS security,"                              \
    " CASE p.proparallel WHEN 's' THEN 'PARALLEL SAFE'"                      \
    " WHEN 'r' THEN 'PARALLEL RESTRICTED' ELSE 'PARALLEL UNSAFE' END"        \
    " AS parallel,"                                                          \
    " CASE WHEN p.proleakproof THEN 'LEAKPROOF'"                             \
    " ELSE 'NOT LEAKPROOF' END AS leakproof,"                                \
    " array_to_string(p.proconfig, ', ') AS settings, "                      \
    body " AS body, "                                                        \
    OWNER("p.proowner") ", "                                                 \
    PRIVS("p.proacl", "f", "p.proowner") ", "                                \
    COMMENT("p.oid", "pg_proc")                                              \
    " FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace"                     \
    " JOIN pg_language l ON l.oid = p.prolang"                               \
    " WHERE NOT " EXT_MEMBER("pg_proc", "p.oid")

/* From 14 on, a BEGIN ATOMIC body lives in prosqlbody, prosrc is empty. */
static const char functions_sql[] = FUNCTIONS_SQL(
    "CASE WHEN p.prosqlbody IS NOT NULL"
    " THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END");
static const char functions_sql_13[] = FUNCTIONS_SQL("p.prosrc");

#define TYPE_TAIL                                                            \
    OWNER("t.typowner") ", "                                                 \
    PRIVS("t.typacl", "T", "t.typowner") ", "                                \
    COMMENT("t.oid", "pg_type")                                              \
    " FROM pg_type t JOIN ns ON ns.oid = t.typnamespace"

static const char enums_sql[] =
    NS_CTE
    " SELECT ns.nspname, t.typname, '', '',"
    " (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder)::text"
    " FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels, "
    TYPE_TAIL
    " WHERE t.typtype = 'e' AND NOT " EXT_MEMBER("pg_type", "t.oid");

static const char domains_sql[] =
    NS_CTE
    " SELECT ns.nspname, t.typname, '', '',"
    " format_type(t.typbasetype, t.typtypmod) AS \"base type\","
    " CASE WHEN t.typnotnull THEN 'NOT NULL' ELSE 'NULL' END"
    " AS nullability,"
    " pg_get_expr(t.typdefaultbin, 0) AS \"default\", "
    COLLATION("t.typcollation", "b.typcollation") " AS \"collation\","
    " (SELECT string_agg(x.def, ', ' ORDER BY x.def COLLATE \"C\")"
    " FROM (SELECT pg_get_constraintdef(k.oid) AS def FROM pg_constraint k"
    " WHERE k.contypid = t.oid AND k.contype = 'c') x) AS constraints, "
    TYPE_TAIL
    " JOIN pg_type b ON b.oid = t.typbasetype"
    " WHERE t.typtype = 'd' AND NOT " EXT_MEMBER("pg_type", "t.oid");

static const char types_sql[] =
    NS_CTE
    " SELECT ns.nspname, t.typname, '', '',"
    " (SELECT string_agg(format('%I %s', a.attname,"
    " format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)"
    " FROM pg_attribute a WHERE a.attrelid = t.typrelid"
    " AND a.attnum > 0 AND NOT a.attisdropped) AS attributes, "
    TYPE_TAIL
    " JOIN pg_class c ON c.oid = t.typrelid"
    " WHERE t.typtype = 'c' AND c.relkind = 'c'"
    " AND NOT " EXT_MEMBER("pg_type", "t.oid");

/* clang-format on */

/* In this order: parents (schemas, relations) before their children, so
 * a missing parent hides what it contains. */
const struct pgs_kind co_pg_schema_kinds[] = {
    {.one = "schema",
     .many = "schemas",
     .sql = schemas_sql,
     .disp = PGS_SCHEMA,
     .flags = PGS_PARENT},
    {.one = "table",
     .many = "tables",
     .sql = tables_sql,
     .disp = PGS_REL,
     .flags = PGS_PARENT,
     .show = "partition of"},
    {.one = "view",
     .many = "views",
     .sql = views_sql,
     .disp = PGS_REL,
     .flags = PGS_PARENT},
    {.one = "materialized view",
     .many = "materialized views",
     .sql = matviews_sql,
     .disp = PGS_REL,
     .flags = PGS_PARENT},
    {.one = "sequence",
     .many = "sequences",
     .sql = sequences_sql,
     .disp = PGS_REL,
     .flags = PGS_PARENT,
     .show = "owned by"},
    {.one = "column",
     .many = "columns",
     .sql = columns_sql,
     .disp = PGS_CHILD,
     .flags = PGS_OF_REL,
     .show = "type"},
    {.one = "constraint",
     .many = "constraints",
     .sql = constraints_sql,
     .disp = PGS_CHILD,
     .flags = PGS_OF_REL | PGS_BY_DEF,
     .show = "definition"},
    {.one = "index",
     .many = "indexes",
     .sql = indexes_sql,
     .disp = PGS_INDEX,
     .flags = PGS_OF_REL | PGS_BY_DEF,
     .show = "definition"},
    {.one = "trigger",
     .many = "triggers",
     .sql = triggers_sql,
     .sql_old = triggers_sql_12,
     .min_version = 130000,
     .disp = PGS_CHILD,
     .flags = PGS_OF_REL,
     .show = "definition"},
    {.one = "policy",
     .many = "policies",
     .sql = policies_sql,
     .disp = PGS_CHILD,
     .flags = PGS_OF_REL,
     .show = "using"},
    {.one = "function",
     .many = "functions",
     .sql = functions_sql,
     .sql_old = functions_sql_13,
     .min_version = 140000,
     .disp = PGS_FUNC,
     .show = "kind"},
    {.one = "enum",
     .many = "enums",
     .sql = enums_sql,
     .disp = PGS_REL,
     .show = "labels"},
    {.one = "domain",
     .many = "domains",
     .sql = domains_sql,
     .disp = PGS_REL,
     .show = "base type"},
    {.one = "composite type",
     .many = "composite types",
     .sql = types_sql,
     .disp = PGS_REL,
     .show = "attributes"},
};

const size_t co_pg_schema_nkind =
    sizeof(co_pg_schema_kinds) / sizeof(co_pg_schema_kinds[0]);
