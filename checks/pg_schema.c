/*
 * pg_schema.c - the `pg.schema` check: an object-level diff of the user
 * schema of a postgres resource, source against target.
 *
 * For each object kind (the table in pg_schema_sql.c) one catalog query
 * runs on both sides concurrently and returns one normalised row per
 * object. Both row sets are sorted bytewise in C (never by a server's
 * collation, which may differ between the sides) and merged:
 *
 *   - an object on one side only is a `fail` ("missing on target", "only
 *     on target"), unless its schema or table is itself missing, which
 *     already says so (a dropped table is one case, not one per column);
 *   - an object on both sides whose attributes differ is one `fail` that
 *     names every differing attribute with both values;
 *   - constraints and indexes are keyed by definition, so a copy that
 *     named them differently still matches (a name difference alone is a
 *     `warn`); leftovers are paired by name, so an index whose predicate
 *     changed is one "definition differs" case, not a missing plus an
 *     extra one;
 *   - everything else that matches is counted: one `pass` case per kind
 *     ("42 tables match"), so a 10k-column database keeps a small report.
 *
 * Case names are built here from the raw catalog names with
 * co_pg_qualname, so quotes, spaces and non-ASCII survive intact. Owners,
 * grants and comments are compared only when the params ask: a restore
 * with --no-owner --no-acl changes them on purpose. Role names on the
 * source side are renamed first (the resource's role_map, and the
 * source's connecting user to the target's), and ACLs are printed in
 * one canonical order, so a move from Heroku's generated role to
 * Aptible's compares like for like. Kinds flagged PGS_WARN (column
 * order, publications) warn instead of failing.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/pg.h"
#include "pg_schema.h"

/* Column positions in every kind's rows (see pg_schema.h). */
enum { COL_NSP, COL_REL, COL_SUB, COL_LABEL, COL_ATTRS };

/* Values longer than this are shown as the first difference only. */
#define SHORT_VALUE 160
/* The window shown around the first difference of a long value. */
#define WINDOW_BEFORE 30
#define WINDOW_LEN    90
/* Cap on each value copied into a case's source/target fields. */
#define VALUE_CAP 4000

static const struct co_param pg_schema_params[] = {
    {"owners", CO_P_BOOL, "false",
     "also compare owners (a --no-owner restore changes them); source "
     "roles are renamed by the resource's role_map"},
    {"acls", CO_P_BOOL, "false",
     "also compare privileges and default privileges (a --no-acl restore "
     "drops them); source roles are renamed by the resource's role_map"},
    {"comments", CO_P_BOOL, "false", "also compare comments"},
    {0},
};

/* ---- objects of one kind on one side --------------------------------- */

struct pgs_obj {
    const char *nsp, *rel, *sub, *label; /* into the side's PGresult */
    int row;
    bool used; /* paired by name (constraints, indexes) */
};

struct pgs_side {
    PGresult *res;
    struct pgs_obj *v;
    size_t n;
    int nf;     /* fields per row */
    char **val; /* rows x nf: a cell's rewritten value, or NULL */
};

static int obj_cmp(const void *pa, const void *pb)
{
    const struct pgs_obj *a = pa, *b = pb;
    int c = strcmp(a->nsp, b->nsp);

    if (c == 0)
        c = strcmp(a->rel, b->rel);
    return c != 0 ? c : strcmp(a->sub, b->sub);
}

/* By parent and own name, for pairing constraints/indexes by name. */
static int obj_cmp_label(const void *pa, const void *pb)
{
    const struct pgs_obj *a = *(const struct pgs_obj *const *)pa;
    const struct pgs_obj *b = *(const struct pgs_obj *const *)pb;
    int c = strcmp(a->nsp, b->nsp);

    if (c == 0)
        c = strcmp(a->rel, b->rel);
    return c != 0 ? c : strcmp(a->label, b->label);
}

/* ---- the run ------------------------------------------------------------ */

struct pgs_ctx {
    struct co_run *run;
    struct co_pg *pg[2];
    const char *params[1]; /* $1: the schemas as a text[] literal, or NULL */
    char *schemas_lit;
    bool owners, acls, comments;
    int minver;                /* the older server's version */
    struct co_strset names;    /* case names used so far */
    struct co_strset gone_nsp; /* schemas on one side only */
    struct co_strset gone_rel; /* relations on one side only: nsp \x1f rel */
    struct co_strset seen_nsp; /* schemas present on either side */
    struct co_strlist roles;   /* role_map pairs, then source -> target user */
    size_t ncases;
    bool stop; /* the task was sealed or a side is gone */
};

/* Per kind: what the merge found. */
struct pgs_tally {
    size_t same, differ, missing, extra;
};

static bool has(const struct pgs_kind *k, unsigned flag)
{
    return (k->flags & flag) != 0;
}

static const char *side_name(int i)
{
    return i == 0 ? "source" : "target";
}

/* A case name not used before in this run: two objects of different
 * kinds can share a printed name (a column and a constraint "email"). */
static char *unique_name(struct pgs_ctx *c, const char *name, const char *kind)
{
    char *u = co_strdup(name);

    for (int i = 1; !co_strset_add(&c->names, u); i++) {
        free(u);
        u = i == 1 ? co_asprintf("%s (%s)", name, kind)
                   : co_asprintf("%s (%s %d)", name, kind, i);
    }
    return u;
}

static void add_case(struct pgs_ctx *c, enum co_status st, const char *name,
                     const char *kind, const char *src, const char *tgt,
                     const char *msg)
{
    char *u = unique_name(c, name, kind);

    if (co_case_addf(c->run, st, u, src, tgt, "%s", msg) != 0)
        c->stop = true;
    c->ncases++;
    free(u);
}

/* The printed name of an object, for cases and messages. */
static char *display_name(const struct pgs_kind *k, const struct pgs_obj *o)
{
    char *a, *b, *s;

    switch (k->disp) {
    case PGS_SCHEMA:
        return co_pg_qualname(NULL, o->nsp);
    case PGS_INDEX:
        return co_pg_qualname(o->nsp, o->label);
    case PGS_CHILD:
        a = co_pg_qualname(o->nsp, o->rel);
        b = co_pg_qualname(NULL, o->label);
        s = co_asprintf("%s.%s", a, b);
        free(a);
        free(b);
        return s;
    case PGS_FUNC:
        a = co_pg_qualname(o->nsp, o->rel);
        s = co_asprintf("%s(%s)", a, o->sub);
        free(a);
        return s;
    case PGS_OPER:
        a = co_pg_qualname(NULL, o->nsp);
        s = co_asprintf("%s.%s(%s)", a, o->rel, o->sub);
        free(a);
        return s;
    case PGS_USING:
        a = co_pg_qualname(o->nsp, o->rel);
        s = co_asprintf("%s USING %s", a, o->sub);
        free(a);
        return s;
    case PGS_GLOBAL:
        return co_pg_qualname(NULL, o->rel);
    case PGS_TEXT:
        return co_strdup(o->rel);
    case PGS_DEFACL:
        a = co_pg_qualname(NULL, o->rel);
        b = o->nsp[0] != '\0' ? co_pg_qualname(NULL, o->nsp) : NULL;
        s = b != NULL ? co_asprintf("%s: %s in %s", a, o->sub, b)
                      : co_asprintf("%s: %s", a, o->sub);
        free(a);
        free(b);
        return s;
    case PGS_SINGLE:
        return co_strdup(k->many);
    case PGS_REL:
    default:
        return co_pg_qualname(o->nsp, o->rel);
    }
}

static bool glob_any(const struct co_strlist *pats, const char *s)
{
    for (size_t i = 0; i < pats->n; i++)
        if (co_glob_match(pats->v[i], s))
            return true;
    return false;
}

/* `exclude:` globs match raw qualified names: "public.users" hides the
 * table and everything on it, "public.users.email" one column,
 * "public.f(integer)" one overload, "audit.*" a whole schema. */
static bool excluded(const struct pgs_ctx *c, const struct pgs_kind *k,
                     const struct pgs_obj *o)
{
    const struct co_strlist *ex = &c->run->res->exclude;
    char *s;
    bool hit;

    if (ex->n == 0 || k->disp == PGS_SINGLE || k->disp == PGS_DEFACL)
        return false;
    if (k->disp == PGS_GLOBAL || k->disp == PGS_TEXT)
        return glob_any(ex, o->rel);
    if (k->disp == PGS_SCHEMA) {
        s = co_asprintf("%s.*", o->nsp);
        hit = glob_any(ex, o->nsp) || glob_any(ex, s);
        free(s);
        return hit;
    }
    s = co_asprintf("%s.%s", o->nsp, o->rel);
    hit = glob_any(ex, s);
    free(s);
    if (hit || k->disp == PGS_REL || k->disp == PGS_USING)
        return hit;
    if (k->disp == PGS_CHILD)
        s = co_asprintf("%s.%s.%s", o->nsp, o->rel, o->label);
    else if (k->disp == PGS_INDEX)
        s = co_asprintf("%s.%s", o->nsp, o->label);
    else
        s = co_asprintf("%s.%s(%s)", o->nsp, o->rel, o->sub);
    hit = glob_any(ex, s);
    free(s);
    return hit;
}

/* ---- role names: role_map and canonical printing ------------------------ */

/* The target's name for a source role (itself when not mapped). */
static const char *map_role(const struct pgs_ctx *c, const char *name)
{
    for (size_t i = 0; i + 1 < c->roles.n; i += 2)
        if (strcmp(c->roles.v[i], name) == 0)
            return c->roles.v[i + 1];
    return name;
}

static const char *role_of(const struct pgs_ctx *c, int side, const char *n)
{
    return side == 0 ? map_role(c, n) : n;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the strings v[0..n) and joins them with sep; frees them. */
static char *join_sorted(char **v, size_t n, const char *sep)
{
    struct co_buf b;

    qsort(v, n, sizeof(*v), str_cmp);
    co_buf_init(&b);
    co_buf_puts(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            co_buf_puts(&b, sep);
        co_buf_puts(&b, v[i]);
        free(v[i]);
    }
    return co_buf_take(&b);
}

/* Privilege words of aclexplode, in the order aclitem prints their
 * letters (PostgreSQL's ACL_ALL_RIGHTS_STR). */
static const struct {
    const char *word;
    char letter;
} priv_letters[] = {
    {"INSERT", 'a'},  {"SELECT", 'r'},       {"UPDATE", 'w'},
    {"DELETE", 'd'},  {"TRUNCATE", 'D'},     {"REFERENCES", 'x'},
    {"TRIGGER", 't'}, {"EXECUTE", 'X'},      {"USAGE", 'U'},
    {"CREATE", 'C'},  {"TEMPORARY", 'T'},    {"CONNECT", 'c'},
    {"SET", 's'},     {"ALTER SYSTEM", 'A'}, {"MAINTAIN", 'm'},
};
#define NPRIV (sizeof(priv_letters) / sizeof(priv_letters[0]))

/* One grantee/grantor pair of an ACL and its privileges (bit i: the
 * i-th of priv_letters; grant: WITH GRANT OPTION). */
struct pgs_grant {
    const char *grantee, *grantor;
    unsigned bits, grant;
};

static void grant_add(struct pgs_grant *g, size_t *n, const char *grantee,
                      const char *grantor, const char *word, bool grantable)
{
    size_t i = 0, p = 0;

    while (i < *n && (strcmp(g[i].grantee, grantee) != 0 ||
                      strcmp(g[i].grantor, grantor) != 0))
        i++;
    if (i == *n) {
        g[i].grantee = grantee;
        g[i].grantor = grantor;
        g[i].bits = g[i].grant = 0;
        (*n)++;
    }
    while (p < NPRIV && strcmp(priv_letters[p].word, word) != 0)
        p++;
    if (p == NPRIV)
        return;
    g[i].bits |= 1u << p;
    if (grantable)
        g[i].grant |= 1u << p;
}

/* "grantee=arw*\/grantor" (an empty grantee is PUBLIC, as in aclitem). */
static char *grant_text(const struct pgs_grant *g)
{
    char *e = g->grantee[0] ? co_pg_qualname(NULL, g->grantee) : co_strdup("");
    char *r = co_pg_qualname(NULL, g->grantor);
    struct co_buf b;

    co_buf_init(&b);
    co_buf_addf(&b, "%s=", e);
    for (size_t p = 0; p < NPRIV; p++) {
        if (!(g->bits & (1u << p)))
            continue;
        co_buf_add(&b, &priv_letters[p].letter, 1);
        if (g->grant & (1u << p))
            co_buf_puts(&b, "*");
    }
    co_buf_addf(&b, "/%s", r);
    free(e);
    free(r);
    return co_buf_take(&b);
}

/* An ACL from its JSON form (see pg_schema.h) as "{a=r/b,c=rw/b}": role
 * names mapped on the source, entries in one order. NULL when the JSON
 * is not what the query makes. */
static char *format_acl(const struct pgs_ctx *c, int side, const char *js)
{
    json_t *a = json_loads(js, 0, NULL), *it;
    struct pgs_grant *g;
    char **txt, *s, *out;
    size_t i, n = 0;

    if (!json_is_array(a)) {
        json_decref(a);
        return NULL;
    }
    g = co_calloc(json_array_size(a) + 1, sizeof(*g));
    json_array_foreach(a, i, it)
    {
        const char *ee = json_string_value(json_array_get(it, 0));
        const char * or = json_string_value(json_array_get(it, 1));
        const char *w = json_string_value(json_array_get(it, 2));

        if (ee == NULL || or == NULL || w == NULL)
            continue;
        grant_add(g, &n, ee[0] ? role_of(c, side, ee) : "",
                  role_of(c, side, or), w,
                  json_is_true(json_array_get(it, 3)));
    }
    txt = co_calloc(n + 1, sizeof(*txt));
    for (i = 0; i < n; i++)
        txt[i] = grant_text(&g[i]);
    s = join_sorted(txt, n, ",");
    out = co_asprintf("{%s}", s);
    free(s);
    free(txt);
    free(g);
    json_decref(a);
    return out;
}

/* A JSON array of role names ("" PUBLIC) as a sorted "a, b" list. */
static char *format_roles(const struct pgs_ctx *c, int side, const char *js)
{
    json_t *a = json_loads(js, 0, NULL), *it;
    char **v, *out;
    size_t i, n = 0;

    if (!json_is_array(a)) {
        json_decref(a);
        return NULL;
    }
    v = co_calloc(json_array_size(a) + 1, sizeof(*v));
    json_array_foreach(a, i, it)
    {
        const char *r = json_string_value(it);

        if (r != NULL)
            v[n++] = r[0] ? co_pg_qualname(NULL, role_of(c, side, r))
                          : co_strdup("PUBLIC");
    }
    out = join_sorted(v, n, ", ");
    free(v);
    json_decref(a);
    return out;
}

/* The value a role-bearing cell compares and prints as; NULL when it is
 * compared as the server sent it. */
static char *rewrite_cell(const struct pgs_ctx *c, int side, const char *attr,
                          const char *v)
{
    if (strcmp(attr, "owner") == 0) {
        const char *m = role_of(c, side, v);
        return m != v ? co_strdup(m) : NULL;
    }
    if (strcmp(attr, "privileges") == 0)
        return format_acl(c, side, v);
    if (strcmp(attr, "roles") == 0)
        return format_roles(c, side, v);
    return NULL;
}

static void rewrite_row(struct pgs_ctx *c, const struct pgs_kind *k,
                        struct pgs_side *s, int side, int r)
{
    for (int f = COL_ATTRS; f < s->nf; f++) {
        if (PQgetisnull(s->res, r, f))
            continue;
        s->val[(size_t)r * (size_t)s->nf + (size_t)f] = rewrite_cell(
            c, side, PQfname(s->res, f), PQgetvalue(s->res, r, f));
    }
    if (has(k, PGS_ROLE_KEY) && side == 0) {
        const char *m = map_role(c, PQgetvalue(s->res, r, COL_REL));
        if (m != PQgetvalue(s->res, r, COL_REL))
            s->val[(size_t)r * (size_t)s->nf + COL_REL] = co_strdup(m);
    }
}

/* A cell as compared: rewritten, or as the server sent it (NULL for SQL
 * NULL). */
static const char *cell(const struct pgs_side *s, int row, int col)
{
    const char *v = s->val[(size_t)row * (size_t)s->nf + (size_t)col];

    if (v != NULL)
        return v;
    return PQgetisnull(s->res, row, col) ? NULL : PQgetvalue(s->res, row, col);
}

static void side_load(struct pgs_ctx *c, const struct pgs_kind *k,
                      struct pgs_side *s, int side, PGresult *res)
{
    int n = PQntuples(res);

    s->res = res;
    s->n = 0;
    s->nf = PQnfields(res);
    s->v = co_calloc((size_t)n + 1, sizeof(*s->v));
    s->val = co_calloc((size_t)n * (size_t)s->nf + 1, sizeof(*s->val));
    for (int r = 0; r < n; r++) {
        struct pgs_obj *o = &s->v[s->n];

        rewrite_row(c, k, s, side, r);
        o->nsp = PQgetvalue(res, r, COL_NSP);
        o->rel = cell(s, r, COL_REL);
        o->sub = PQgetvalue(res, r, COL_SUB);
        o->label = PQgetvalue(res, r, COL_LABEL);
        o->row = r;
        if (k->disp == PGS_SCHEMA)
            co_strset_add(&c->seen_nsp, o->nsp);
        if (!excluded(c, k, o))
            s->n++;
    }
    qsort(s->v, s->n, sizeof(*s->v), obj_cmp);
}

static void side_free(struct pgs_side *s)
{
    for (size_t i = 0;
         s->val != NULL && i < (size_t)PQntuples(s->res) * (size_t)s->nf; i++)
        free(s->val[i]);
    free(s->val);
    free(s->v);
    PQclear(s->res);
    memset(s, 0, sizeof(*s));
}

/* ---- describing a difference ------------------------------------------ */

static bool attr_enabled(const struct pgs_ctx *c, const char *attr)
{
    if (strcmp(attr, "owner") == 0)
        return c->owners;
    if (strcmp(attr, "privileges") == 0)
        return c->acls;
    if (strcmp(attr, "comment") == 0)
        return c->comments;
    return true;
}

static bool is_short(const char *v)
{
    return v == NULL || (strlen(v) <= SHORT_VALUE && strchr(v, '\n') == NULL);
}

/* Appends `...text...`: up to WINDOW_LEN bytes of the line [s, s+len)
 * around byte `at`, cut on character boundaries. */
static void add_window(struct co_buf *b, const char *s, size_t len, size_t at)
{
    size_t from = at > WINDOW_BEFORE ? at - WINDOW_BEFORE : 0;
    size_t to;

    from = co_utf8_floor(s, from);
    to = from + WINDOW_LEN < len ? co_utf8_floor(s, from + WINDOW_LEN) : len;
    co_buf_puts(b, "`");
    if (from > 0)
        co_buf_puts(b, "...");
    co_buf_add(b, s + from, to - from);
    if (to < len)
        co_buf_puts(b, "...");
    co_buf_puts(b, "`");
}

static size_t line_len(const char *s)
{
    const char *nl = strchr(s, '\n');

    return nl != NULL ? (size_t)(nl - s) : strlen(s);
}

/* "body differs at line 3: `RETURN x + 1;` on source, `RETURN x + 2;` on
 * target" - for values too long to print whole (bodies, views). */
static void add_long_diff(struct co_buf *b, const char *attr, const char *s,
                          const char *t)
{
    const char *ls = s, *lt = t;
    size_t line = 1, at = 0, ns, nt;
    bool multi = strchr(s, '\n') != NULL || strchr(t, '\n') != NULL;

    /* Find the first differing byte, counting lines on the way. */
    while (ls[at] != '\0' && ls[at] == lt[at]) {
        if (ls[at] == '\n') {
            ls += at + 1;
            lt += at + 1;
            at = 0;
            line++;
            continue;
        }
        at++;
    }
    ns = line_len(ls);
    nt = line_len(lt);
    at = co_utf8_floor(ls, at);
    if (multi)
        co_buf_addf(b, "%s differs at line %zu: ", attr, line);
    else
        co_buf_addf(b, "%s differs: ", attr);
    if (*ls == '\0')
        co_buf_puts(b, "(end)");
    else
        add_window(b, ls, ns, at < ns ? at : ns);
    co_buf_puts(b, " on source, ");
    if (*lt == '\0')
        co_buf_puts(b, "(end)");
    else
        add_window(b, lt, nt, at < nt ? at : nt);
    co_buf_puts(b, " on target");
}

static void add_diff(struct co_buf *b, const char *attr, const char *s,
                     const char *t)
{
    if (b->len > 0)
        co_buf_puts(b, "; ");
    if (s != NULL && t != NULL && (!is_short(s) || !is_short(t)))
        add_long_diff(b, attr, s, t);
    else
        co_buf_addf(b, "%s %s on source, %s on target", attr, s ? s : "(none)",
                    t ? t : "(none)");
}

/* Appends v capped at `cap` bytes (on a character boundary). */
static void add_capped(struct co_buf *b, const char *v, size_t cap)
{
    size_t n;

    if (v == NULL) {
        co_buf_puts(b, "(none)");
        return;
    }
    n = strlen(v);
    if (n <= cap) {
        co_buf_add(b, v, n);
        return;
    }
    co_buf_add(b, v, co_utf8_floor(v, cap));
    co_buf_puts(b, "...");
}

/* The source/target fields of a case: the one value that differs, or
 * "attr: value" pairs when several do. */
static void add_value(struct co_buf *b, const char *attr, const char *v,
                      int ndiff)
{
    if (ndiff == 1) {
        add_capped(b, v, VALUE_CAP);
        return;
    }
    if (b->len > 0)
        co_buf_puts(b, "; ");
    co_buf_addf(b, "%s: ", attr);
    add_capped(b, v, VALUE_CAP / 8);
}

static bool same_value(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int count_diffs(const struct pgs_ctx *c, const struct pgs_side *sd,
                       const struct pgs_obj *s, const struct pgs_side *td,
                       const struct pgs_obj *t)
{
    int n = 0, nf = PQnfields(sd->res);

    for (int f = COL_ATTRS; f < nf; f++)
        if (attr_enabled(c, PQfname(sd->res, f)) &&
            !same_value(cell(sd, s->row, f), cell(td, t->row, f)))
            n++;
    return n;
}

/* The message body and source/target fields for one object on both
 * sides: every differing attribute, then a name difference. */
struct pgs_text {
    struct co_buf msg, sv, tv;
};

static void describe_pair(const struct pgs_ctx *c, const struct pgs_side *sd,
                          const struct pgs_obj *s, const struct pgs_side *td,
                          const struct pgs_obj *t, int ndiff, bool renamed,
                          struct pgs_text *x)
{
    int nf = PQnfields(sd->res);

    for (int f = COL_ATTRS; f < nf && ndiff > 0; f++) {
        const char *attr = PQfname(sd->res, f);
        const char *a = cell(sd, s->row, f);
        const char *b = cell(td, t->row, f);

        if (!attr_enabled(c, attr) || same_value(a, b))
            continue;
        add_diff(&x->msg, attr, a, b);
        add_value(&x->sv, attr, a, ndiff);
        add_value(&x->tv, attr, b, ndiff);
    }
    if (renamed) {
        char *ns = co_pg_qualname(NULL, s->label);
        char *nt = co_pg_qualname(NULL, t->label);

        co_buf_addf(&x->msg, "%snamed %s on source, %s on target",
                    x->msg.len > 0 ? "; " : "", ns, nt);
        if (ndiff == 0) {
            co_buf_puts(&x->sv, ns);
            co_buf_puts(&x->tv, nt);
        }
        free(ns);
        free(nt);
    }
}

static bool json_has_string(const json_t *a, const char *s)
{
    size_t i;
    json_t *it;

    json_array_foreach(a, i, it)
    {
        const char *v = json_string_value(it);
        if (v != NULL && strcmp(v, s) == 0)
            return true;
    }
    return false;
}

/* The names of `mine` that `other` also has, in mine's order, quoted
 * and joined: "id, email, name". */
static char *common_order(const json_t *mine, const json_t *other)
{
    struct co_buf b;
    size_t i;
    json_t *it;

    co_buf_init(&b);
    co_buf_puts(&b, "");
    json_array_foreach(mine, i, it)
    {
        const char *v = json_string_value(it);
        char *q;

        if (v == NULL || !json_has_string(other, v))
            continue;
        q = co_pg_qualname(NULL, v);
        co_buf_addf(&b, "%s%s", b.len > 0 ? ", " : "", q);
        free(q);
    }
    return co_buf_take(&b);
}

/* Column order is compared over the columns both sides have: a missing
 * or extra column is the columns kind's case, not a reordering. */
static void order_cells(const struct pgs_side *sd, const struct pgs_obj *s,
                        const struct pgs_side *td, const struct pgs_obj *t)
{
    for (int f = COL_ATTRS; f < sd->nf; f++) {
        json_t *a = json_loads(PQgetvalue(sd->res, s->row, f), 0, NULL);
        json_t *b = json_loads(PQgetvalue(td->res, t->row, f), 0, NULL);
        size_t is = (size_t)s->row * (size_t)sd->nf + (size_t)f;
        size_t it = (size_t)t->row * (size_t)td->nf + (size_t)f;

        if (json_is_array(a) && json_is_array(b)) {
            free(sd->val[is]);
            free(td->val[it]);
            sd->val[is] = common_order(a, b);
            td->val[it] = common_order(b, a);
        }
        json_decref(a);
        json_decref(b);
    }
}

/* One object on both sides: a `fail` naming every attribute that
 * differs, a `warn` when only the name does, or counted as the same. */
static void compare_pair(struct pgs_ctx *c, const struct pgs_kind *k,
                         const struct pgs_side *sd, const struct pgs_obj *s,
                         const struct pgs_side *td, const struct pgs_obj *t,
                         struct pgs_tally *tally)
{
    int ndiff;
    bool renamed = has(k, PGS_BY_DEF) && strcmp(s->label, t->label) != 0;
    struct pgs_text x;
    char *name, *text;

    if (has(k, PGS_ORDER))
        order_cells(sd, s, td, t);
    ndiff = count_diffs(c, sd, s, td, t);

    if (ndiff == 0) {
        tally->same++;
        if (!renamed)
            return;
    } else {
        tally->differ++;
    }
    co_buf_init(&x.msg);
    co_buf_init(&x.sv);
    co_buf_init(&x.tv);
    describe_pair(c, sd, s, td, t, ndiff, renamed, &x);
    name = display_name(k, s);
    if (k->disp == PGS_SINGLE)
        text = co_asprintf("%s: %s", name, x.msg.s);
    else
        text = co_asprintf("%s %s: %s", k->one, name, x.msg.s);
    add_case(c, ndiff > 0 && !has(k, PGS_WARN) ? CO_FAIL : CO_WARN, name,
             k->one, x.sv.s, x.tv.s, text);
    free(text);
    free(name);
    co_buf_free(&x.msg);
    co_buf_free(&x.sv);
    co_buf_free(&x.tv);
}

static char *rel_key(const struct pgs_obj *o)
{
    return co_asprintf("%s\x1f%s", o->nsp, o->rel);
}

/* Whether a missing object is already covered by its missing schema or
 * table. */
static bool hidden(const struct pgs_ctx *c, const struct pgs_kind *k,
                   const struct pgs_obj *o)
{
    char *key;
    bool gone;

    if (k->disp == PGS_SCHEMA)
        return false;
    if (co_strset_has(&c->gone_nsp, o->nsp))
        return true;
    if (!has(k, PGS_OF_REL))
        return false;
    key = rel_key(o);
    gone = co_strset_has(&c->gone_rel, key);
    free(key);
    return gone;
}

/* An object on side `i` only: "missing on target" (i = 0) or "only on
 * target" (i = 1). */
static void report_alone(struct pgs_ctx *c, const struct pgs_kind *k,
                         const struct pgs_side *sd, const struct pgs_obj *o,
                         int i, struct pgs_tally *tally)
{
    const char *show = NULL;
    struct co_buf msg, val;
    char *name;
    int f;

    if (hidden(c, k, o))
        return;
    if (has(k, PGS_PARENT)) {
        char *key = k->disp == PGS_SCHEMA ? co_strdup(o->nsp) : rel_key(o);
        co_strset_add(k->disp == PGS_SCHEMA ? &c->gone_nsp : &c->gone_rel,
                      key);
        free(key);
    }
    f = k->show != NULL ? PQfnumber(sd->res, k->show) : -1;
    if (f >= 0)
        show = cell(sd, o->row, f);
    if (show != NULL && show[0] == '\0')
        show = NULL;
    name = display_name(k, o);
    co_buf_init(&msg);
    co_buf_init(&val);
    co_buf_addf(&msg, "%s %s %s", k->one, name,
                i == 0 ? "missing on target" : "only on target");
    if (show != NULL) {
        co_buf_puts(&msg, " (");
        if (strcmp(k->show, "definition") != 0)
            co_buf_addf(&msg, "%s ", k->show);
        add_capped(&msg, show, SHORT_VALUE);
        co_buf_puts(&msg, ")");
        add_capped(&val, show, VALUE_CAP);
    } else {
        co_buf_puts(&val, "present");
    }
    add_case(c, has(k, PGS_WARN) ? CO_WARN : CO_FAIL, name, k->one,
             i == 0 ? val.s : "absent", i == 0 ? "absent" : val.s, msg.s);
    if (i == 0)
        tally->missing++;
    else
        tally->extra++;
    free(name);
    co_buf_free(&msg);
    co_buf_free(&val);
}

/* Constraints and indexes whose definition matched nothing: pair them by
 * name (a changed definition), report the rest as missing or extra. */
static void pair_leftovers(struct pgs_ctx *c, const struct pgs_kind *k,
                           struct pgs_side *side[2], struct pgs_obj **ls,
                           size_t nls, struct pgs_obj **lt, size_t nlt,
                           struct pgs_tally *tally)
{
    qsort(lt, nlt, sizeof(*lt), obj_cmp_label);
    for (size_t i = 0; i < nls && !c->stop; i++) {
        struct pgs_obj **hit =
            bsearch(&ls[i], lt, nlt, sizeof(*lt), obj_cmp_label);
        if (hit != NULL && !(*hit)->used) {
            (*hit)->used = true;
            compare_pair(c, k, side[0], ls[i], side[1], *hit, tally);
        } else {
            report_alone(c, k, side[0], ls[i], 0, tally);
        }
    }
    for (size_t i = 0; i < nlt && !c->stop; i++)
        if (!lt[i]->used)
            report_alone(c, k, side[1], lt[i], 1, tally);
}

static void report_tally(struct pgs_ctx *c, const struct pgs_kind *k,
                         const struct pgs_tally *t)
{
    size_t all = t->same + t->differ + t->missing + t->extra;
    char *msg;

    if (t->same == 0)
        return;
    if (k->disp == PGS_SINGLE)
        msg = co_asprintf("%s match", k->many);
    else if (all == t->same)
        msg = co_asprintf("%zu %s match%s", t->same,
                          t->same == 1 ? k->one : k->many,
                          t->same == 1 ? "es" : "");
    else
        msg = co_asprintf("%zu of %zu %s match", t->same, all, k->many);
    add_case(c, CO_PASS, k->many, k->many, NULL, NULL, msg);
    free(msg);
}

/* Sorted merge of both sides of one kind. */
static void merge(struct pgs_ctx *c, const struct pgs_kind *k,
                  struct pgs_side *side[2])
{
    struct pgs_side *a = side[0], *b = side[1];
    struct pgs_obj **ls = co_calloc(a->n + 1, sizeof(*ls));
    struct pgs_obj **lt = co_calloc(b->n + 1, sizeof(*lt));
    struct pgs_tally tally = {0, 0, 0, 0};
    size_t i = 0, j = 0, nls = 0, nlt = 0;

    while ((i < a->n || j < b->n) && !c->stop) {
        int cmp = i >= a->n ? 1 : j >= b->n ? -1 : obj_cmp(&a->v[i], &b->v[j]);
        if (cmp == 0)
            compare_pair(c, k, a, &a->v[i++], b, &b->v[j++], &tally);
        else if (cmp < 0 && has(k, PGS_BY_DEF))
            ls[nls++] = &a->v[i++];
        else if (cmp < 0)
            report_alone(c, k, a, &a->v[i++], 0, &tally);
        else if (has(k, PGS_BY_DEF))
            lt[nlt++] = &b->v[j++];
        else
            report_alone(c, k, b, &b->v[j++], 1, &tally);
    }
    if (has(k, PGS_BY_DEF) && !c->stop)
        pair_leftovers(c, k, side, ls, nls, lt, nlt, &tally);
    if (!c->stop)
        report_tally(c, k, &tally);
    free(ls);
    free(lt);
}

/* A side that failed: its error case; true when the session is unusable
 * (anything but a rejected statement). */
static bool side_failed(struct pgs_ctx *c, const char *what, int i)
{
    char *name = unique_name(c, what, side_name(i));

    if (co_pg_case_error(c->run, name, c->pg[i]) != 0)
        c->stop = true;
    c->ncases++;
    free(name);
    return c->pg[i]->err != CO_PG_QUERY;
}

/* Returns true when both sides answered. */
static bool compare_kind(struct pgs_ctx *c, const struct pgs_kind *k)
{
    const char *sql =
        k->sql_old != NULL && c->minver < k->min_version ? k->sql_old : k->sql;
    PGresult *out[2] = {NULL, NULL};
    struct pgs_side sides[2], *side[2] = {&sides[0], &sides[1]};

    if (has(k, PGS_ACLS) && !c->acls)
        return true;
    if (co_pg_pair_exec(c->pg, sql, 1, c->params, c->run->deadline,
                        c->run->cancel, out) != 0) {
        for (int i = 0; i < 2; i++) {
            if (out[i] == NULL && side_failed(c, k->many, i))
                c->stop = true;
            PQclear(out[i]);
        }
        return false;
    }
    memset(sides, 0, sizeof(sides));
    side_load(c, k, side[0], 0, out[0]);
    side_load(c, k, side[1], 1, out[1]);
    merge(c, k, side);
    side_free(side[0]);
    side_free(side[1]);
    return true;
}

/* ---- setup -------------------------------------------------------------- */

/* `schemas:` as a text[] literal: {"a","b \"c\""}. */
static char *schemas_literal(const struct co_strlist *l)
{
    struct co_buf b;

    if (l->n == 0)
        return NULL;
    co_buf_init(&b);
    co_buf_puts(&b, "{");
    for (size_t i = 0; i < l->n; i++) {
        co_buf_puts(&b, i > 0 ? ",\"" : "\"");
        for (const char *p = l->v[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                co_buf_puts(&b, "\\");
            co_buf_add(&b, p, 1);
        }
        co_buf_puts(&b, "\"");
    }
    co_buf_puts(&b, "}");
    return co_buf_take(&b);
}

/* The resource's role_map, then the user each side connects as: on a
 * move, the app's role on one side (Heroku's generated name) is the
 * app's role on the other (Aptible's), unless role_map says otherwise. */
static void map_users(struct pgs_ctx *c, const char *src, const char *tgt)
{
    const struct co_strlist *m = &c->run->res->role_map;

    for (size_t i = 0; i < m->n; i++)
        co_strlist_add(&c->roles, m->v[i]);
    if (map_role(c, src) == src) {
        co_strlist_add(&c->roles, src);
        co_strlist_add(&c->roles, tgt);
    }
}

/* Definitions print names outside the search_path schema-qualified: two
 * sides with different effective search paths would print the same
 * object differently. Says so once, as a warning. Also learns each
 * side's user (map_users). Returns false when a side could not answer. */
static bool compare_search_path(struct pgs_ctx *c)
{
    /* No set_config() here, even for jit: the read-only audit counts any
     * call of it as a write (set_config can lift read-only), and no check
     * may change its session's settings after the startup options. */
    static const char sql[] =
        "SELECT current_schemas(false)::text, current_user::text";
    PGresult *out[2] = {NULL, NULL};

    if (co_pg_pair_exec(c->pg, sql, 0, NULL, c->run->deadline, c->run->cancel,
                        out) != 0) {
        for (int i = 0; i < 2; i++) {
            if (out[i] == NULL)
                side_failed(c, "search_path", i);
            PQclear(out[i]);
        }
        return false;
    }
    if (strcmp(PQgetvalue(out[0], 0, 0), PQgetvalue(out[1], 0, 0)) != 0) {
        char *msg =
            co_asprintf("effective search_path %s on source, %s on target: "
                        "definitions may name objects differently",
                        PQgetvalue(out[0], 0, 0), PQgetvalue(out[1], 0, 0));
        add_case(c, CO_WARN, "search_path", "setting",
                 PQgetvalue(out[0], 0, 0), PQgetvalue(out[1], 0, 0), msg);
        free(msg);
    }
    map_users(c, PQgetvalue(out[0], 0, 1), PQgetvalue(out[1], 0, 1));
    PQclear(out[0]);
    PQclear(out[1]);
    return true;
}

/* A schema named in `schemas:` that exists nowhere compares nothing:
 * most likely a typo, so not a silent pass. */
static void report_unknown_schemas(struct pgs_ctx *c)
{
    const struct co_strlist *l = &c->run->res->schemas;

    for (size_t i = 0; i < l->n && !c->stop; i++) {
        char *name, *msg;

        if (co_strset_has(&c->seen_nsp, l->v[i]))
            continue;
        name = co_pg_qualname(NULL, l->v[i]);
        msg = co_asprintf("schema %s (from schemas:) exists on neither side",
                          name);
        add_case(c, CO_WARN, name, "schema", NULL, NULL, msg);
        free(name);
        free(msg);
    }
}

static bool connect_both(struct pgs_ctx *c)
{
    bool ok = true;

    co_pg_pair_connect(c->run, c->pg);
    for (int i = 0; i < 2; i++) {
        if (c->pg[i] == NULL || c->pg[i]->err != CO_PG_OK) {
            char *name = unique_name(c, side_name(i), "connection");
            co_pg_case_error(c->run, name, c->pg[i]);
            free(name);
            ok = false;
        }
    }
    if (ok) {
        c->minver = c->pg[0]->server_version;
        if (c->pg[1]->server_version < c->minver)
            c->minver = c->pg[1]->server_version;
    }
    return ok;
}

static void ctx_free(struct pgs_ctx *c)
{
    co_pg_free(c->pg[0]);
    co_pg_free(c->pg[1]);
    free(c->schemas_lit);
    co_strset_free(&c->names);
    co_strset_free(&c->gone_nsp);
    co_strset_free(&c->gone_rel);
    co_strset_free(&c->seen_nsp);
    co_strlist_free(&c->roles);
}

static int pg_schema_run(struct co_run *run)
{
    struct pgs_ctx c;

    memset(&c, 0, sizeof(c));
    c.run = run;
    c.owners = co_param_bool(run, "owners");
    c.acls = co_param_bool(run, "acls");
    c.comments = co_param_bool(run, "comments");
    c.schemas_lit = schemas_literal(&run->res->schemas);
    c.params[0] = c.schemas_lit;
    if (connect_both(&c) && compare_search_path(&c)) {
        for (size_t i = 0; i < co_pg_schema_nkind && !c.stop; i++) {
            bool answered;

            if (co_run_cancelled(run))
                break;
            answered = compare_kind(&c, &co_pg_schema_kinds[i]);
            /* After the schemas kind: which listed ones exist. */
            if (i == 0 && answered && !c.stop)
                report_unknown_schemas(&c);
        }
        if (c.ncases == 0 && !c.stop && !co_run_cancelled(run))
            add_case(&c, CO_PASS, "schemas", "schemas", NULL, NULL,
                     "no user objects on either side");
    }
    ctx_free(&c);
    if (co_run_cancelled(run)) {
        snprintf(run->errstr, sizeof(run->errstr), "interrupted");
        return -1;
    }
    return 0;
}

const struct co_check co_check_pg_schema = {
    .id = "pg.schema",
    .summary = "object-level schema diff",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_PRE | CO_POST | CO_DRIFT,
    .params = pg_schema_params,
    .run = pg_schema_run,
    .flags = CO_CHECK_PAIR | CO_CHECK_SNAPSHOT,
};
