/*
 * pg_version.c - the `pg.version` check: can the target hold what the
 * source holds without changing its meaning?
 *
 * The target's major version must be at least the source's (a dump does
 * not restore into an older server). The database's encoding, collation
 * and ctype must match: a different collation silently changes ORDER BY,
 * unique constraints on text and the order of every text index - a
 * migration that "worked" and sorts differently. Where the servers say
 * (PostgreSQL 15+), the locale provider, the ICU locale and the
 * collation library version are compared too.
 *
 * One case per attribute: server_version, encoding, lc_collate,
 * lc_ctype, locale_provider, icu_locale (only when a side uses ICU or a
 * builtin provider), collation_version. A mismatch is a `fail` naming
 * both values.
 *
 * One statement serves every server version: columns that appeared in
 * later releases (datlocprovider, daticulocale/datlocale, datcollversion)
 * are read through to_jsonb(row), which yields NULL where they do not
 * exist instead of a parse error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/pg.h"

static const char *const version_sql =
    "SELECT current_setting('server_version_num'), "
    "current_setting('server_version'), "
    "pg_encoding_to_char(d.encoding), d.datcollate::text, "
    "d.datctype::text, to_jsonb(d)->>'datlocprovider', "
    "coalesce(to_jsonb(d)->>'datlocale', to_jsonb(d)->>'daticulocale') "
    "FROM pg_database d WHERE d.datname = current_database()";

/* PostgreSQL 15 added the function; older servers have no recorded
 * collation version for a database. */
static const char *const collversion_sql =
    "SELECT pg_database_collation_actual_version(d.oid) "
    "FROM pg_database d WHERE d.datname = current_database()";

enum {
    COL_NUM,
    COL_VERSION,
    COL_ENCODING,
    COL_COLLATE,
    COL_CTYPE,
    COL_PROVIDER,
    COL_LOCALE
};

static const char *val(const PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL : PQgetvalue(r, 0, col);
}

/* The major version as a comparable number: 150004 -> 150000, 90624 ->
 * 90600 (9.6 was a major version). */
static long major_of(const char *num)
{
    long v = strtol(num ? num : "0", NULL, 10);

    return v >= 100000 ? v / 10000 * 10000 : v / 100 * 100;
}

/* 150000 -> "15", 90600 -> "9.6" */
static void major_text(long m, char *out, size_t outlen)
{
    if (m >= 100000)
        snprintf(out, outlen, "%ld", m / 10000);
    else
        snprintf(out, outlen, "%ld.%ld", m / 10000, m / 100 % 100);
}

static void short_version(const char *v, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.*s", (int)strcspn(v ? v : "", " "), v ? v : "");
}

static void check_server_version(struct co_run *run, PGresult *r[2])
{
    long sm = major_of(val(r[0], COL_NUM)), tm = major_of(val(r[1], COL_NUM));
    char sv[64], tv[64], smt[48], tmt[48];

    short_version(val(r[0], COL_VERSION), sv, sizeof(sv));
    short_version(val(r[1], COL_VERSION), tv, sizeof(tv));
    major_text(sm, smt, sizeof(smt));
    major_text(tm, tmt, sizeof(tmt));
    if (tm < sm)
        co_case_addf(run, CO_FAIL, "server_version", sv, tv,
                     "target %s < source %s: a dump does not restore into "
                     "an older major version",
                     tmt, smt);
    else if (tm > sm)
        co_case_addf(run, CO_PASS, "server_version", sv, tv,
                     "target %s >= source %s (major upgrade %s -> %s)", tv, sv,
                     smt, tmt);
    else
        co_case_addf(run, CO_PASS, "server_version", sv, tv,
                     "source %s, target %s (same major version %s)", sv, tv,
                     smt);
}

/* glibc reads "en_US.UTF-8" and "en_US.utf8" as the same locale: compare
 * the codeset part lower-cased and without dashes. */
static char *locale_key(const char *s)
{
    const char *dot = strchr(s, '.'), *p;
    struct co_buf b;

    if (dot == NULL)
        return co_strdup(s);
    co_buf_init(&b);
    co_buf_add(&b, s, (size_t)(dot - s) + 1);
    for (p = dot + 1; *p != '\0' && *p != '@'; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (c != '-')
            co_buf_add(&b, &c, 1);
    }
    co_buf_puts(&b, p); /* the @modifier, as written */
    return co_buf_take(&b);
}

static bool same_locale(const char *a, const char *b)
{
    char *ka = locale_key(a), *kb = locale_key(b);
    bool same = strcmp(ka, kb) == 0;

    free(ka);
    free(kb);
    return same;
}

/* One attribute: equal -> pass, different -> fail naming both. */
static void compare_attr(struct co_run *run, const char *name,
                         const char *what, const char *s, const char *t,
                         bool locale)
{
    const char *sv = s ? s : "(none)", *tv = t ? t : "(none)";
    bool same = locale ? same_locale(sv, tv) : strcmp(sv, tv) == 0;

    if (same && strcmp(sv, tv) == 0)
        co_case_addf(run, CO_PASS, name, sv, tv, "%s %s on both", what, sv);
    else if (same)
        co_case_addf(run, CO_PASS, name, sv, tv,
                     "%s source %s, target %s (the same locale)", what, sv,
                     tv);
    else
        co_case_addf(run, CO_FAIL, name, sv, tv,
                     "%s differs: source %s, target %s", what, sv, tv);
}

static const char *provider_name(const char *code)
{
    if (code == NULL || strcmp(code, "c") == 0)
        return "libc"; /* before PostgreSQL 15, always libc */
    if (strcmp(code, "i") == 0)
        return "icu";
    if (strcmp(code, "b") == 0)
        return "builtin";
    return code;
}

static void check_locale(struct co_run *run, PGresult *r[2])
{
    const char *sp = provider_name(val(r[0], COL_PROVIDER));
    const char *tp = provider_name(val(r[1], COL_PROVIDER));

    compare_attr(run, "encoding", "encoding", val(r[0], COL_ENCODING),
                 val(r[1], COL_ENCODING), false);
    compare_attr(run, "lc_collate", "collation (datcollate)",
                 val(r[0], COL_COLLATE), val(r[1], COL_COLLATE), true);
    compare_attr(run, "lc_ctype", "character classification (datctype)",
                 val(r[0], COL_CTYPE), val(r[1], COL_CTYPE), true);
    compare_attr(run, "locale_provider", "locale provider", sp, tp, false);
    if (strcmp(sp, "libc") != 0 || strcmp(tp, "libc") != 0)
        compare_attr(run, "icu_locale", "provider locale",
                     val(r[0], COL_LOCALE), val(r[1], COL_LOCALE), false);
}

/* The collation library's version (glibc or ICU) as each server sees it
 * now: sort order can change between library versions. */
static void check_collversion(struct co_run *run, struct co_pg *pg[2],
                              PGresult *r[2])
{
    PGresult *out[2];

    if (pg[0]->server_version < 150000 || pg[1]->server_version < 150000) {
        co_case_addf(run, CO_SKIP, "collation_version", NULL, NULL,
                     "not recorded before PostgreSQL 15 (source %s, "
                     "target %s)",
                     val(r[0], COL_NUM), val(r[1], COL_NUM));
        return;
    }
    if (co_pg_pair_exec(pg, collversion_sql, 0, NULL, run->deadline,
                        run->cancel, out) < 0) {
        for (int i = 0; i < 2; i++)
            if (out[i] == NULL)
                co_pg_case_error(run, "collation_version", pg[i]);
    } else {
        const char *s = val(out[0], 0), *t = val(out[1], 0);
        if (s == NULL && t == NULL)
            co_case_addf(run, CO_PASS, "collation_version", NULL, NULL,
                         "no collation version on either side (C/POSIX "
                         "locale)");
        else
            compare_attr(run, "collation_version", "collation version", s, t,
                         false);
    }
    PQclear(out[0]);
    PQclear(out[1]);
}

static int pg_version_run(struct co_run *run)
{
    struct co_pg_pool pool;
    struct co_pg *pg[2];
    PGresult *r[2];

    if (co_pg_pool_open_or_report(&pool, run, 1) < 0)
        return 0;
    pg[0] = pool.src[0];
    pg[1] = pool.tgt[0];
    if (co_pg_pair_exec(pg, version_sql, 0, NULL, run->deadline, run->cancel,
                        r) < 0 ||
        PQntuples(r[0]) != 1 || PQntuples(r[1]) != 1) {
        for (int i = 0; i < 2; i++)
            if (r[i] == NULL || PQntuples(r[i]) != 1)
                co_pg_case_error(run, i == 0 ? "source" : "target", pg[i]);
    } else {
        check_server_version(run, r);
        check_locale(run, r);
        check_collversion(run, pg, r);
    }
    PQclear(r[0]);
    PQclear(r[1]);
    co_pg_pool_close(&pool);
    return 0;
}

const struct co_check co_check_pg_version = {
    .id = "pg.version",
    .summary = "target major version >= source; encoding, collation, "
               "ctype match",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_PRE,
    .params = NULL, /* none */
    .run = pg_version_run,
    .flags = CO_CHECK_PAIR | CO_CHECK_SNAPSHOT,
};
