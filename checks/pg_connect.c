/*
 * pg_connect.c - the `pg.connect` check: can each configured side of a
 * postgres resource be reached, which server answers, and is the session
 * encrypted (and was the certificate verified)?
 *
 * One case per side, named `source` / `target`. Both sides connect at
 * once (a pool of one pair), so a silent source cannot use up the time
 * the target needs. TLS is read from the server's view of the session
 * (pg_stat_ssl), not only from libpq's: it names the protocol version.
 * The session's read-only pinning is checked as well: a connection
 * pooler that drops startup options would make every other check run
 * in a writable session, which the person reading the report must know.
 */
#include <stdio.h>
#include <string.h>

#include "cutover/check.h"
#include "cutover/pg.h"
#include "sides.h"

static const char *const connect_sql =
    "SELECT current_setting('server_version'), coalesce(s.ssl, false), "
    "s.version, current_setting('default_transaction_read_only') "
    "FROM (SELECT 1) AS one "
    "LEFT JOIN pg_stat_ssl s ON s.pid = pg_backend_pid()";

/* "15.18 (Debian 15.18-0+deb12u1)" -> "15.18" */
static void short_version(const char *v, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.*s", (int)strcspn(v, " "), v);
}

static void tls_text(const struct co_pg *pg, const char *proto, char *out,
                     size_t outlen)
{
    snprintf(out, outlen, "TLS (%s, %s: sslmode=%s)",
             proto && proto[0] ? proto : "unknown protocol",
             pg->tls_verified ? "verified" : "not verified", pg->sslmode);
}

/* The verdict for one side whose session is up and answered. */
static void report_side(struct co_run *run, const char *name,
                        const struct co_pg *pg, const PGresult *r)
{
    char ver[64], tls[128];
    const char *proto = PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2);
    bool ssl = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    bool ro = strcmp(PQgetvalue(r, 0, 3), "on") == 0;
    bool src = strcmp(name, "source") == 0;

    short_version(PQgetvalue(r, 0, 0), ver, sizeof(ver));
    if (!ro) {
        co_case_addf(run, CO_WARN, name, src ? ver : NULL, src ? NULL : ver,
                     "PostgreSQL %s, connected in %.1f ms, but the session "
                     "is not read-only (default_transaction_read_only=%s): "
                     "a connection pooler may drop startup options",
                     ver, pg->connect_ms, PQgetvalue(r, 0, 3));
        return;
    }
    if (!ssl) {
        co_case_addf(run, CO_WARN, name, src ? ver : NULL, src ? NULL : ver,
                     "PostgreSQL %s, connected without TLS (sslmode=%s) in "
                     "%.1f ms",
                     ver, pg->sslmode, pg->connect_ms);
        return;
    }
    tls_text(pg, proto, tls, sizeof(tls));
    co_case_addf(run, CO_PASS, name, src ? ver : NULL, src ? NULL : ver,
                 "PostgreSQL %s, %s, connected in %.1f ms", ver, tls,
                 pg->connect_ms);
}

static int pg_connect_run(struct co_run *run)
{
    const struct co_resource *res = run->res;
    const char *url[2] = {res->source, res->target};
    const char *names[2] = {"source", "target"};
    struct co_pg_pool pool;
    struct co_pg *pg[2];
    PGresult *out[2] = {NULL, NULL};
    struct co_run connect_run = *run;

    if (co_sides_configured(run) < 0)
        return -1;
    /* A side that never answers would hold the connect phase until the
     * deadline. */
    connect_run.deadline = co_sides_connect_deadline(run);
    co_pg_pool_open(&pool, &connect_run, 1);
    pg[0] = pool.src[0];
    pg[1] = pool.tgt[0];
    co_pg_pair_exec(pg, connect_sql, 0, NULL, run->deadline, run->cancel, out);
    for (int i = 0; i < 2; i++) {
        if (url[i] == NULL)
            continue;
        if (out[i] == NULL || PQntuples(out[i]) != 1)
            co_pg_case_error(run, names[i], pg[i]);
        else
            report_side(run, names[i], pg[i], out[i]);
        PQclear(out[i]);
    }
    co_pg_pool_close(&pool);
    return 0;
}

const struct co_check co_check_pg_connect = {
    .id = "pg.connect",
    .summary = "both sides reachable, server version, TLS in use",
    .kind = CO_KIND_POSTGRES,
    .phases = CO_ALL,
    .params = NULL, /* none */
    .run = pg_connect_run,
    .flags = CO_CHECK_ONE_SIDED,
};
