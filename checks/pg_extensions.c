/*
 * pg_extensions.c - the `pg.extensions` check: is every extension the
 * source uses installed on the target, at the same version?
 *
 * One case per extension, named by the extension (plpgsql counts like
 * any other):
 *  - on both, same version: pass ("1.3 on both");
 *  - on both, other version: fail ("source 1.3, target 1.2");
 *  - missing on target: before the cutover (--phase pre) it is enough
 *    that the target can install it at the source's version
 *    (pg_available_extension_versions): warn "not installed on target
 *    (available: 1.3)"; if it cannot, fail. After the cutover (post, all,
 *    drift) a missing extension is a fail;
 *  - only on target: pass with a note. An extra extension breaks nothing
 *    the source relied on, and platforms pre-install some.
 *
 * Heroku moved extensions into schema `heroku_ext`; a restore elsewhere
 * puts them in `public`. Extensions are matched by name only, and when
 * either side has it in heroku_ext the message says where it lives on
 * each side ("in heroku_ext on source, public on target") without making
 * it a failure. Any other difference of schema is a warn: unqualified
 * references to the extension's functions depend on search_path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/pg.h"

/* extname is of type name (C collation): both sides sort alike. */
static const char *const ext_sql =
    "SELECT e.extname, e.extversion, n.nspname "
    "FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
    "ORDER BY e.extname";

/* What the target could install; versions are comma-separated. */
static const char *const avail_sql =
    "SELECT a.name, a.default_version, "
    "coalesce(string_agg(v.version, ', ' ORDER BY v.version), '') "
    "FROM pg_available_extensions a "
    "LEFT JOIN pg_available_extension_versions v ON v.name = a.name "
    "WHERE a.name = $1 GROUP BY a.name, a.default_version";

#define HEROKU_EXT "heroku_ext"

struct ext_ctx {
    struct co_run *run;
    struct co_pg *tgt;
    bool pre;
};

/* " (in heroku_ext on source, public on target)" or "" */
static void where_note(const char *ss, const char *ts, char *out,
                       size_t outlen)
{
    if (strcmp(ss, ts) == 0)
        out[0] = '\0';
    else
        snprintf(out, outlen, "in %s on source, %s on target", ss, ts);
}

static void on_both(struct ext_ctx *c, const char *name, const char *sv,
                    const char *ss, const char *tv, const char *ts)
{
    char where[300];
    bool heroku = strcmp(ss, HEROKU_EXT) == 0 || strcmp(ts, HEROKU_EXT) == 0;

    where_note(ss, ts, where, sizeof(where));
    if (strcmp(sv, tv) != 0)
        co_case_addf(c->run, CO_FAIL, name, sv, tv, "source %s, target %s%s%s",
                     sv, tv, where[0] ? "; " : "", where);
    else if (where[0] == '\0')
        co_case_addf(c->run, CO_PASS, name, sv, tv, "%s on both", sv);
    else if (heroku)
        co_case_addf(c->run, CO_PASS, name, sv, tv, "%s on both, %s", sv,
                     where);
    else
        co_case_addf(c->run, CO_WARN, name, sv, tv,
                     "%s on both, but in another schema: %s (unqualified "
                     "references depend on search_path)",
                     sv, where);
}

/* Is version v one of the comma-separated list? */
static bool in_list(const char *list, const char *v)
{
    size_t n = strlen(v);

    for (const char *p = list; p != NULL && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return false;
}

/* Before the cutover: can the target install it at the source's version? */
static void missing_pre(struct ext_ctx *c, const char *name, const char *sv,
                        const char *ss)
{
    const char *params[] = {name};
    PGresult *r = co_pg_exec(c->tgt, avail_sql, 1, params, c->run->deadline,
                             c->run->cancel);

    if (r == NULL) {
        co_pg_case_error(c->run, name, c->tgt);
        return;
    }
    if (PQntuples(r) == 0)
        co_case_addf(c->run, CO_FAIL, name, sv, NULL,
                     "not installed on target, and not available there "
                     "(source %s in %s)",
                     sv, ss);
    else if (in_list(PQgetvalue(r, 0, 2), sv))
        co_case_addf(c->run, CO_WARN, name, sv, NULL,
                     "not installed on target (available: %s)", sv);
    else
        co_case_addf(c->run, CO_FAIL, name, sv, NULL,
                     "not installed on target, and source's version %s is "
                     "not available there (available: %s)",
                     sv, PQgetvalue(r, 0, 2));
    PQclear(r);
}

static void missing(struct ext_ctx *c, const char *name, const char *sv,
                    const char *ss)
{
    if (c->pre)
        missing_pre(c, name, sv, ss);
    else
        co_case_addf(c->run, CO_FAIL, name, sv, NULL,
                     "not installed on target (source %s in %s)", sv, ss);
}

/* Walks both lists (sorted by name) side by side. */
static void compare(struct ext_ctx *c, const PGresult *s, const PGresult *t)
{
    int i = 0, j = 0, ns = PQntuples(s), nt = PQntuples(t);

    while (i < ns || j < nt) {
        int cmp = i >= ns   ? 1
                  : j >= nt ? -1
                            : strcmp(PQgetvalue(s, i, 0), PQgetvalue(t, j, 0));
        if (cmp == 0) {
            on_both(c, PQgetvalue(s, i, 0), PQgetvalue(s, i, 1),
                    PQgetvalue(s, i, 2), PQgetvalue(t, j, 1),
                    PQgetvalue(t, j, 2));
            i++, j++;
        } else if (cmp < 0) {
            missing(c, PQgetvalue(s, i, 0), PQgetvalue(s, i, 1),
                    PQgetvalue(s, i, 2));
            i++;
        } else {
            co_case_addf(c->run, CO_PASS, PQgetvalue(t, j, 0), NULL,
                         PQgetvalue(t, j, 1),
                         "only on target (%s in %s); the source does not "
                         "use it",
                         PQgetvalue(t, j, 1), PQgetvalue(t, j, 2));
            j++;
        }
    }
}

static int pg_extensions_run(struct co_run *run)
{
    struct co_pg_pool pool;
    struct co_pg *pg[2];
    PGresult *r[2];
    struct ext_ctx c;

    if (co_pg_pool_open_or_report(&pool, run, 1) < 0)
        return 0;
    pg[0] = pool.src[0];
    pg[1] = pool.tgt[0];
    c.run = run;
    c.tgt = pg[1];
    /* --phase all and drift take the post-cutover verdict, the strictest */
    c.pre = run->phase == CO_PRE;
    if (co_pg_pair_exec(pg, ext_sql, 0, NULL, run->deadline, run->cancel, r) <
        0) {
        for (int i = 0; i < 2; i++)
            if (r[i] == NULL)
                co_pg_case_error(run, i == 0 ? "source" : "target", pg[i]);
    } else {
        compare(&c, r[0], r[1]);
    }
    PQclear(r[0]);
    PQclear(r[1]);
    co_pg_pool_close(&pool);
    return 0;
}

const struct co_check co_check_pg_extensions = {
    .id = "pg.extensions",
    .summary = "every source extension installed (pre: available) on "
               "target, same version",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_PRE | CO_POST,
    .params = NULL, /* none */
    .run = pg_extensions_run,
    .flags = CO_CHECK_PAIR | CO_CHECK_SNAPSHOT,
};
