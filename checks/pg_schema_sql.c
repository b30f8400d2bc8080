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
    "EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '" cat              \
    "'::regclass AND d.objid = " oid " AND d.deptype = 'e')"

/* The object was made along with another one (a range type's
 * constructors): pg_dump makes it by making that one. */
#define INTERNAL(cat, oid)                                                   \
    "EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '" cat             \
    "'::regclass AND d.objid = " oid " AND d.deptype = 'i')"

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
/* An ACL as a JSON array of [grantee, grantor, privilege, grantable]
 * ("" grantee: PUBLIC), so that pg_schema.c can map role names
 * (role_map) and print it in one canonical order, whatever order the
 * GRANTs ran in. */
#define ACL_JSON(acl)                                                        \
    "(SELECT coalesce(json_agg(json_build_array(CASE WHEN x.grantee = 0"     \
    " THEN '' ELSE pg_get_userbyid(x.grantee)::text END,"                    \
    " pg_get_userbyid(x.grantor)::text, x.privilege_type, x.is_grantable))," \
    " '[]')::text FROM aclexplode(" acl ") x)"
/* NULL means the default grants: spell them out so that an explicit
 * grant equal to the default compares equal. */
#define PRIVS(acl, type, owner)                                              \
    ACL_JSON("coalesce(" acl ", acldefault('" type "', " owner "))")         \
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
    " AS \"row level security\","
    " CASE r.relreplident WHEN 'd' THEN 'DEFAULT' WHEN 'n' THEN 'NOTHING'"
    " WHEN 'f' THEN 'FULL' ELSE 'USING INDEX ' || (SELECT"
    " quote_ident(ic.relname) FROM pg_index i JOIN pg_class ic"
    " ON ic.oid = i.indexrelid WHERE i.indrelid = r.oid"
    " AND i.indisreplident) END AS \"replica identity\","
    " (SELECT string_agg(o.o, ', ' ORDER BY o.o COLLATE \"C\")"
    " FROM (SELECT unnest(r.reloptions) AS o UNION ALL"
    " SELECT 'toast.' || unnest(t.reloptions) FROM pg_class t"
    " WHERE t.oid = r.reltoastrelid) o) AS \"storage parameters\","
    " (SELECT a.amname FROM pg_am a WHERE a.oid = r.relam)"
    " AS \"access method\","
    " CASE WHEN r.reloftype <> 0 THEN format_type(r.reloftype, NULL) END"
    " AS \"of type\","
    " (SELECT quote_ident(s.srvname) FROM pg_foreign_table f"
    " JOIN pg_foreign_server s ON s.oid = f.ftserver"
    " WHERE f.ftrelid = r.oid) AS server, "
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
    " CASE r.relpersistence WHEN 'u' THEN 'UNLOGGED' ELSE 'LOGGED' END"
    " AS persistence,"
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

/* By name, not attnum: a restore renumbers around dropped columns.
 * Views' and materialized views' columns too (ALTER VIEW ... ALTER
 * COLUMN ... SET DEFAULT, comments, statistics targets).
 * Storage and compression only where they are not the type's default
 * (compression: 14 on). The statistics target is -1 by default up to 16,
 * NULL from 17 on. */
#define COLUMNS_SQL(compression)                                             \
    REL_CTE                                                                  \
    " SELECT r.nspname, r.relname, a.attname, a.attname,"                    \
    " format_type(a.atttypid, a.atttypmod) AS type,"                         \
    " CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END"                \
    " AS nullability,"                                                       \
    " CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid)"  \
    " END AS \"default\","                                                   \
    " CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS'"                   \
    " WHEN 'd' THEN 'GENERATED BY DEFAULT' END AS identity,"                 \
    " CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid)" \
    " END AS generated, "                                                    \
    COLLATION("a.attcollation", "t.typcollation") " AS \"collation\","       \
    " CASE WHEN a.attstorage <> t.typstorage THEN CASE a.attstorage"         \
    " WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' WHEN 'm' THEN 'MAIN'"   \
    " ELSE 'EXTENDED' END END AS storage,"                                   \
    compression " AS compression,"                                           \
    " CASE WHEN a.attstattarget >= 0"                                        \
    " THEN a.attstattarget::text END AS \"statistics target\","              \
    " (SELECT string_agg(o, ', ' ORDER BY o COLLATE \"C\")"                  \
    " FROM unnest(a.attoptions) o) AS options, "                             \
    " CASE WHEN a.attacl IS NOT NULL THEN " ACL_JSON("a.attacl")            \
    " ELSE '[]' END AS privileges,"                                   \
    " col_description(a.attrelid, a.attnum) AS comment"                      \
    " FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid"                  \
    " AND a.attnum > 0 AND NOT a.attisdropped"                               \
    " JOIN pg_type t ON t.oid = a.atttypid"                                  \
    " LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid"                    \
    " AND ad.adnum = a.attnum"                                               \
    " WHERE r.relkind IN ('r', 'p', 'f', 'v', 'm')"

static const char columns_sql[] = COLUMNS_SQL(
    "CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END");
static const char columns_sql_13[] = COLUMNS_SQL("NULL::text");

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
    " CASE WHEN x.indisvalid THEN 'valid' ELSE 'INVALID' END AS validity,"
    " CASE WHEN x.indisclustered THEN 'CLUSTER ON' END AS cluster,"
    " (SELECT string_agg(a.attnum || ': ' || a.attstattarget, ', '"
    " ORDER BY a.attnum) FROM pg_attribute a"
    " WHERE a.attrelid = x.indexrelid AND a.attstattarget >= 0)"
    " AS \"statistics targets\","
    " (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits i"
    " JOIN pg_class pc ON pc.oid = i.inhparent"
    " JOIN pg_namespace pn ON pn.oid = pc.relnamespace"
    " WHERE i.inhrelid = x.indexrelid) AS \"attached to\", "
    COMMENT("x.indexrelid", "pg_class")
    " FROM rel r CROSS JOIN LATERAL (SELECT i.indexrelid, i.indisvalid,"
    " i.indisclustered,"
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
    " (SELECT json_agg(CASE WHEN u = 0 THEN '' ELSE pg_get_userbyid(u)::text"
    " END)::text FROM unnest(p.polroles) u) AS roles,"
    " pg_get_expr(p.polqual, p.polrelid) AS \"using\","
    " pg_get_expr(p.polwithcheck, p.polrelid) AS \"with check\", "
    COMMENT("p.oid", "pg_policy")
    " FROM rel r JOIN pg_policy p ON p.polrelid = r.oid";

/* An aggregate's parts as CREATE AGGREGATE spells them; NULL for other
 * functions (whose prosrc is their body). */
#define AGGREGATE                                                            \
    "(SELECT concat_ws(', ', 'SFUNC = ' || g.aggtransfn::regproc,"           \
    " 'STYPE = ' || format_type(g.aggtranstype, NULL),"                      \
    " 'FINALFUNC = ' || nullif(g.aggfinalfn, 0)::regproc,"                   \
    " 'COMBINEFUNC = ' || nullif(g.aggcombinefn, 0)::regproc,"               \
    " 'INITCOND = ' || quote_literal(g.agginitval),"                         \
    " 'MSFUNC = ' || nullif(g.aggmtransfn, 0)::regproc,"                     \
    " 'MINVFUNC = ' || nullif(g.aggminvtransfn, 0)::regproc,"                \
    " 'MSTYPE = ' || format_type(nullif(g.aggmtranstype, 0), NULL),"         \
    " 'MINITCOND = ' || quote_literal(g.aggminitval),"                       \
    " 'SORTOP = ' || nullif(g.aggsortop, 0)::regoperator,"                   \
    " 'KIND = ' || g.aggkind::text)"                                         \
    " FROM pg_aggregate g WHERE g.aggfnoid = p.oid) AS aggregate"

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
    " p.procost::text AS cost,"                                              \
    " CASE WHEN p.proretset THEN p.prorows::text END AS rows,"               \
    " nullif(p.prosupport, 0)::regproc::text AS support,"                    \
    " array_to_string(p.proconfig, ', ') AS settings, "                      \
    body " AS body, " AGGREGATE ", "                                         \
    OWNER("p.proowner") ", "                                                 \
    PRIVS("p.proacl", "f", "p.proowner") ", "                                \
    COMMENT("p.oid", "pg_proc")                                              \
    " FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace"                     \
    " JOIN pg_language l ON l.oid = p.prolang"                               \
    " WHERE NOT " EXT_MEMBER("pg_proc", "p.oid")                            \
    " AND NOT " INTERNAL("pg_proc", "p.oid")

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

/* Rules other than a view's own _RETURN rule. */
static const char rules_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname, w.rulename, w.rulename,"
    " pg_get_ruledef(w.oid, true) AS definition,"
    " CASE w.ev_enabled WHEN 'D' THEN 'disabled'"
    " WHEN 'R' THEN 'enabled on replica only'"
    " WHEN 'A' THEN 'enabled always' ELSE 'enabled' END AS state, "
    COMMENT("w.oid", "pg_rewrite")
    " FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid"
    " WHERE w.rulename <> '_RETURN'";

/* A table's own columns in attnum order, as a JSON array (pg_schema.c
 * compares the columns both sides have). Inherited columns are left
 * out: a restore puts them first (CREATE TABLE ... INHERITS), wherever
 * ALTER TABLE put them on the parent's children. */
static const char column_order_sql[] =
    REL_CTE
    " SELECT r.nspname, r.relname, '', '',"
    " (SELECT json_agg(a.attname ORDER BY a.attnum)::text"
    " FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0"
    " AND NOT a.attisdropped AND a.attinhcount = 0) AS \"column order\""
    " FROM rel r WHERE r.relkind IN ('r', 'p', 'f')";

/* CREATE STATISTICS objects. The default statistics target is -1 up to
 * PostgreSQL 16, NULL from 17 on. */
static const char statistics_sql[] =
    NS_CTE
    " SELECT ns.nspname, s.stxname, '', '',"
    " pg_get_statisticsobjdef(s.oid) AS definition,"
    " CASE WHEN (to_jsonb(s) ->> 'stxstattarget')::int >= 0"
    " THEN to_jsonb(s) ->> 'stxstattarget' END AS \"statistics target\", "
    OWNER("s.stxowner") ", "
    COMMENT("s.oid", "pg_statistic_ext")
    " FROM pg_statistic_ext s JOIN ns ON ns.oid = s.stxnamespace"
    " WHERE NOT " EXT_MEMBER("pg_statistic_ext", "s.oid");

/* Collations usable in this database's encoding. Not collversion: that
 * is the operating system's library version, not the schema. The ICU
 * locale is colliculocale in 15 and 16, colllocale from 17 on. */
static const char collations_sql[] =
    NS_CTE
    " SELECT ns.nspname, c.collname, '', '',"
    " CASE c.collprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu'"
    " WHEN 'b' THEN 'builtin' ELSE 'default' END AS provider,"
    " c.collcollate AS lc_collate, c.collctype AS lc_ctype,"
    " coalesce(to_jsonb(c) ->> 'colllocale',"
    " to_jsonb(c) ->> 'colliculocale') AS locale,"
    " to_jsonb(c) ->> 'collicurules' AS rules,"
    " CASE WHEN c.collisdeterministic THEN 'deterministic'"
    " ELSE 'nondeterministic' END AS deterministic, "
    OWNER("c.collowner") ", "
    COMMENT("c.oid", "pg_collation")
    " FROM pg_collation c JOIN ns ON ns.oid = c.collnamespace"
    " WHERE c.collencoding IN (-1, (SELECT d.encoding FROM pg_database d"
    " WHERE d.datname = current_database()))"
    " AND NOT " EXT_MEMBER("pg_collation", "c.oid");

/* Range types; the multirange type (14+) is made with its range. */
static const char ranges_sql[] =
    NS_CTE
    " SELECT ns.nspname, t.typname, '', '',"
    " format_type(g.rngsubtype, NULL) AS subtype,"
    " (SELECT format('%I.%I', cn.nspname, oc.opcname) FROM pg_opclass oc"
    " JOIN pg_namespace cn ON cn.oid = oc.opcnamespace"
    " WHERE oc.oid = g.rngsubopc) AS \"subtype operator class\","
    " (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co"
    " JOIN pg_namespace cn ON cn.oid = co.collnamespace"
    " WHERE co.oid = g.rngcollation) AS \"collation\","
    " nullif(g.rngcanonical, 0)::regproc::text AS canonical,"
    " nullif(g.rngsubdiff, 0)::regproc::text AS \"subtype diff\","
    " format_type(nullif((to_jsonb(g) ->> 'rngmultitypid')::oid, 0), NULL)"
    " AS multirange, "
    TYPE_TAIL
    " JOIN pg_range g ON g.rngtypid = t.oid"
    " WHERE t.typtype = 'r' AND NOT " EXT_MEMBER("pg_type", "t.oid");

static const char operators_sql[] =
    NS_CTE
    " SELECT ns.nspname, o.oprname,"
    " coalesce(format_type(nullif(o.oprleft, 0), NULL), 'NONE') || ', '"
    " || coalesce(format_type(nullif(o.oprright, 0), NULL), 'NONE'), '',"
    " format_type(o.oprresult, NULL) AS result,"
    " nullif(o.oprcode, 0)::regprocedure::text AS function,"
    " nullif(o.oprcom, 0)::regoperator::text AS commutator,"
    " nullif(o.oprnegate, 0)::regoperator::text AS negator,"
    " nullif(o.oprrest, 0)::regproc::text AS restrict,"
    " nullif(o.oprjoin, 0)::regproc::text AS \"join\","
    " CASE WHEN o.oprcanhash THEN 'HASHES' END AS hashes,"
    " CASE WHEN o.oprcanmerge THEN 'MERGES' END AS merges, "
    OWNER("o.oprowner") ", "
    COMMENT("o.oid", "pg_operator")
    " FROM pg_operator o JOIN ns ON ns.oid = o.oprnamespace"
    " WHERE NOT " EXT_MEMBER("pg_operator", "o.oid");

/* A family's operators and support functions, whichever statement
 * (CREATE OPERATOR CLASS or ALTER OPERATOR FAMILY ... ADD) put them
 * there. */
static const char opfamilies_sql[] =
    NS_CTE
    " SELECT ns.nspname, f.opfname, a.amname, '',"
    " (SELECT string_agg(m.m, ', ' ORDER BY m.m COLLATE \"C\") FROM"
    " (SELECT format('OPERATOR %s %s', o.amopstrategy,"
    " o.amopopr::regoperator) || CASE WHEN o.amoppurpose = 'o'"
    " THEN ' FOR ORDER BY ' || (SELECT format('%I.%I', sn.nspname,"
    " sf.opfname) FROM pg_opfamily sf JOIN pg_namespace sn"
    " ON sn.oid = sf.opfnamespace WHERE sf.oid = o.amopsortfamily)"
    " ELSE '' END AS m FROM pg_amop o WHERE o.amopfamily = f.oid"
    " UNION ALL SELECT format('FUNCTION %s (%s, %s) %s', p.amprocnum,"
    " format_type(p.amproclefttype, NULL),"
    " format_type(p.amprocrighttype, NULL), p.amproc::regprocedure)"
    " FROM pg_amproc p WHERE p.amprocfamily = f.oid) m) AS members, "
    OWNER("f.opfowner") ", "
    COMMENT("f.oid", "pg_opfamily")
    " FROM pg_opfamily f JOIN ns ON ns.oid = f.opfnamespace"
    " JOIN pg_am a ON a.oid = f.opfmethod"
    " WHERE NOT " EXT_MEMBER("pg_opfamily", "f.oid");

static const char opclasses_sql[] =
    NS_CTE
    " SELECT ns.nspname, c.opcname, a.amname, '',"
    " format_type(c.opcintype, NULL) AS \"input type\","
    " CASE WHEN c.opcdefault THEN 'DEFAULT' END AS \"default\","
    " (SELECT format('%I.%I', fn.nspname, f.opfname) FROM pg_opfamily f"
    " JOIN pg_namespace fn ON fn.oid = f.opfnamespace"
    " WHERE f.oid = c.opcfamily) AS family,"
    " CASE WHEN c.opckeytype <> 0 THEN format_type(c.opckeytype, NULL) END"
    " AS storage, "
    OWNER("c.opcowner") ", "
    COMMENT("c.oid", "pg_opclass")
    " FROM pg_opclass c JOIN ns ON ns.oid = c.opcnamespace"
    " JOIN pg_am a ON a.oid = c.opcmethod"
    " WHERE NOT " EXT_MEMBER("pg_opclass", "c.oid");

/* User-made casts (not the built-in ones, not an extension's, not a
 * range's cast to its multirange) that touch a compared schema: its
 * type on either end, or its function. */
static const char casts_sql[] =
    NS_CTE
    " SELECT '', format('(%s AS %s)', format_type(c.castsource, NULL),"
    " format_type(c.casttarget, NULL)), '', '',"
    " CASE c.castmethod WHEN 'f' THEN 'WITH FUNCTION '"
    " || c.castfunc::regprocedure::text WHEN 'i' THEN 'WITH INOUT'"
    " ELSE 'WITHOUT FUNCTION' END AS method,"
    " CASE c.castcontext WHEN 'e' THEN 'explicit' WHEN 'a'"
    " THEN 'AS ASSIGNMENT' ELSE 'AS IMPLICIT' END AS context, "
    COMMENT("c.oid", "pg_cast")
    " FROM pg_cast c WHERE c.oid >= 16384"
    " AND NOT " EXT_MEMBER("pg_cast", "c.oid")
    " AND NOT " INTERNAL("pg_cast", "c.oid")
    " AND EXISTS (SELECT 1 FROM ns WHERE ns.oid IN"
    " ((SELECT t.typnamespace FROM pg_type t WHERE t.oid = c.castsource),"
    " (SELECT t.typnamespace FROM pg_type t WHERE t.oid = c.casttarget),"
    " (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = c.castfunc)))";

static const char ts_dicts_sql[] =
    NS_CTE
    " SELECT ns.nspname, td.dictname, '', '',"
    " (SELECT format('%I.%I', tn.nspname, t.tmplname) FROM pg_ts_template t"
    " JOIN pg_namespace tn ON tn.oid = t.tmplnamespace"
    " WHERE t.oid = td.dicttemplate) AS template,"
    " td.dictinitoption AS options, "
    OWNER("td.dictowner") ", "
    COMMENT("td.oid", "pg_ts_dict")
    " FROM pg_ts_dict td JOIN ns ON ns.oid = td.dictnamespace"
    " WHERE NOT " EXT_MEMBER("pg_ts_dict", "td.oid");

/* Mappings as "token: dict dict", by token alias. */
static const char ts_configs_sql[] =
    NS_CTE
    " SELECT ns.nspname, c.cfgname, '', '',"
    " (SELECT format('%I.%I', pn.nspname, p.prsname) FROM pg_ts_parser p"
    " JOIN pg_namespace pn ON pn.oid = p.prsnamespace"
    " WHERE p.oid = c.cfgparser) AS parser,"
    " (SELECT string_agg(m.tok || ': ' || m.dicts, ', '"
    " ORDER BY m.tok COLLATE \"C\") FROM (SELECT tt.alias AS tok,"
    " string_agg(format('%I.%I', dn.nspname, d.dictname), ' '"
    " ORDER BY mp.mapseqno) AS dicts FROM pg_ts_config_map mp"
    " JOIN ts_token_type(c.cfgparser) tt ON tt.tokid = mp.maptokentype"
    " JOIN pg_ts_dict d ON d.oid = mp.mapdict"
    " JOIN pg_namespace dn ON dn.oid = d.dictnamespace"
    " WHERE mp.mapcfg = c.oid GROUP BY tt.alias) m) AS mappings, "
    OWNER("c.cfgowner") ", "
    COMMENT("c.oid", "pg_ts_config")
    " FROM pg_ts_config c JOIN ns ON ns.oid = c.cfgnamespace"
    " WHERE NOT " EXT_MEMBER("pg_ts_config", "c.oid");

/* Database-wide objects below (no schema): the queries still carry the
 * ns CTE, unused, so that $1 has the same type in every query. Options
 * of wrappers, servers and user mappings are never read: they hold
 * hosts, user names and passwords. */
static const char fdws_sql[] =
    NS_CTE
    " SELECT '', w.fdwname, '', '',"
    " nullif(w.fdwhandler, 0)::regproc::text AS handler,"
    " nullif(w.fdwvalidator, 0)::regproc::text AS validator, "
    OWNER("w.fdwowner") ", "
    PRIVS("w.fdwacl", "F", "w.fdwowner") ", "
    COMMENT("w.oid", "pg_foreign_data_wrapper")
    " FROM pg_foreign_data_wrapper w"
    " WHERE NOT " EXT_MEMBER("pg_foreign_data_wrapper", "w.oid");

static const char servers_sql[] =
    NS_CTE
    " SELECT '', s.srvname, '', '',"
    " (SELECT quote_ident(w.fdwname) FROM pg_foreign_data_wrapper w"
    " WHERE w.oid = s.srvfdw) AS wrapper,"
    " s.srvtype AS type, s.srvversion AS version, "
    OWNER("s.srvowner") ", "
    PRIVS("s.srvacl", "S", "s.srvowner") ", "
    COMMENT("s.oid", "pg_foreign_server")
    " FROM pg_foreign_server s"
    " WHERE NOT " EXT_MEMBER("pg_foreign_server", "s.oid");

/* Publications, with the tables of the compared schemas they name (and
 * from 15 on their column lists and row filters, and the schemas named
 * by TABLES IN SCHEMA). From pg_publication_rel, not the
 * pg_publication_tables view: the view's cost estimate wakes the JIT
 * compiler, which spends seconds on a handful of rows. */
#define PUBLICATIONS_SQL(cols, quals, schemas)                               \
    NS_CTE                                                                   \
    " SELECT '', p.pubname, '', '',"                                         \
    " CASE WHEN p.puballtables THEN 'yes' ELSE 'no' END AS \"all tables\","  \
    " concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END,"              \
    " CASE WHEN p.pubupdate THEN 'update' END,"                              \
    " CASE WHEN p.pubdelete THEN 'delete' END,"                              \
    " CASE WHEN p.pubtruncate THEN 'truncate' END) AS publish,"              \
    " CASE WHEN (to_jsonb(p) ->> 'pubviaroot')::boolean THEN 'yes'"          \
    " ELSE 'no' END AS \"via root\","                                        \
    " (SELECT string_agg(x.t, ', ' ORDER BY x.t COLLATE \"C\") FROM"         \
    " (SELECT format('%I.%I', n.nspname, c.relname)" cols quals " AS t"      \
    " FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid"      \
    " JOIN ns n ON n.oid = c.relnamespace"                                   \
    " WHERE pr.prpubid = p.oid) x) AS tables, "                              \
    schemas " AS schemas, "                                                  \
    OWNER("p.pubowner") ", "                                                 \
    COMMENT("p.oid", "pg_publication")                                       \
    " FROM pg_publication p"

static const char publications_sql[] = PUBLICATIONS_SQL(
    " || coalesce(' (' || (SELECT string_agg(quote_ident(a.attname), ', '"
    " ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = pr.prrelid"
    " AND a.attnum = ANY (pr.prattrs)) || ')', '')",
    " || coalesce(' WHERE ' || pg_get_expr(pr.prqual, pr.prrelid), '')",
    "(SELECT string_agg(quote_ident(n.nspname), ', '"
    " ORDER BY n.nspname COLLATE \"C\") FROM pg_publication_namespace pn"
    " JOIN ns n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid)");
static const char publications_sql_14[] = PUBLICATIONS_SQL("", "", "NULL");

static const char event_triggers_sql[] =
    NS_CTE
    " SELECT '', e.evtname, '', '',"
    " e.evtevent AS event,"
    " (SELECT string_agg(x, ', ' ORDER BY x COLLATE \"C\")"
    " FROM unnest(e.evttags) x) AS tags,"
    " e.evtfoid::regprocedure::text AS function,"
    " CASE e.evtenabled WHEN 'D' THEN 'disabled'"
    " WHEN 'R' THEN 'enabled on replica only'"
    " WHEN 'A' THEN 'enabled always' ELSE 'enabled' END AS state, "
    OWNER("e.evtowner") ", "
    COMMENT("e.oid", "pg_event_trigger")
    " FROM pg_event_trigger e"
    " WHERE NOT " EXT_MEMBER("pg_event_trigger", "e.oid");

/* ALTER DEFAULT PRIVILEGES: per role, schema (or all) and object type.
 * rel is the role, mapped by role_map on the source. */
static const char default_privileges_sql[] =
    NS_CTE
    " SELECT coalesce(ns.nspname, ''), pg_get_userbyid(d.defaclrole),"
    " CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'"
    " WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types'"
    " WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END, '', "
    ACL_JSON("d.defaclacl") " AS privileges"
    " FROM pg_default_acl d LEFT JOIN ns ON ns.oid = d.defaclnamespace"
    " WHERE d.defaclnamespace = 0 OR ns.oid IS NOT NULL";

/* How many: their contents are data (pg_dump writes them with it). */
static const char large_objects_sql[] =
    NS_CTE
    " SELECT '', '', '', '', count(*)::text AS count"
    " FROM pg_largeobject_metadata";

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
     .sql_old = columns_sql_13,
     .min_version = 140000,
     .disp = PGS_CHILD,
     .flags = PGS_OF_REL,
     .show = "type"},
    {.one = "column order",
     .many = "column orders",
     .sql = column_order_sql,
     .disp = PGS_REL,
     .flags = PGS_OF_REL | PGS_WARN | PGS_ORDER},
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
    {.one = "rule",
     .many = "rules",
     .sql = rules_sql,
     .disp = PGS_CHILD,
     .flags = PGS_OF_REL,
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
    {.one = "statistics object",
     .many = "statistics objects",
     .sql = statistics_sql,
     .disp = PGS_REL,
     .show = "definition"},
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
    {.one = "range type",
     .many = "range types",
     .sql = ranges_sql,
     .disp = PGS_REL,
     .show = "subtype"},
    {.one = "collation",
     .many = "collations",
     .sql = collations_sql,
     .disp = PGS_REL,
     .show = "provider"},
    {.one = "operator",
     .many = "operators",
     .sql = operators_sql,
     .disp = PGS_OPER,
     .show = "function"},
    {.one = "operator class",
     .many = "operator classes",
     .sql = opclasses_sql,
     .disp = PGS_USING,
     .show = "input type"},
    {.one = "operator family",
     .many = "operator families",
     .sql = opfamilies_sql,
     .disp = PGS_USING},
    {.one = "cast",
     .many = "casts",
     .sql = casts_sql,
     .disp = PGS_TEXT,
     .show = "method"},
    {.one = "text search dictionary",
     .many = "text search dictionaries",
     .sql = ts_dicts_sql,
     .disp = PGS_REL,
     .show = "template"},
    {.one = "text search configuration",
     .many = "text search configurations",
     .sql = ts_configs_sql,
     .disp = PGS_REL,
     .show = "parser"},
    {.one = "foreign data wrapper",
     .many = "foreign data wrappers",
     .sql = fdws_sql,
     .disp = PGS_GLOBAL,
     .show = "handler"},
    {.one = "foreign server",
     .many = "foreign servers",
     .sql = servers_sql,
     .disp = PGS_GLOBAL,
     .show = "wrapper"},
    {.one = "publication",
     .many = "publications",
     .sql = publications_sql,
     .sql_old = publications_sql_14,
     .min_version = 150000,
     .disp = PGS_GLOBAL,
     .flags = PGS_WARN,
     .show = "tables"},
    {.one = "event trigger",
     .many = "event triggers",
     .sql = event_triggers_sql,
     .disp = PGS_GLOBAL,
     .show = "event"},
    {.one = "default privileges",
     .many = "default privileges",
     .sql = default_privileges_sql,
     .disp = PGS_DEFACL,
     .flags = PGS_ACLS | PGS_ROLE_KEY,
     .show = "privileges"},
    {.one = "large objects",
     .many = "large objects",
     .sql = large_objects_sql,
     .disp = PGS_SINGLE},
};

const size_t co_pg_schema_nkind =
    sizeof(co_pg_schema_kinds) / sizeof(co_pg_schema_kinds[0]);
