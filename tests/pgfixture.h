/*
 * pgfixture.h - PostgreSQL fixtures for integration suites: databases
 * made fresh on both test-bed clusters, SQL run as the superuser (to plant
 * data or drift), a faithful copy source -> target the way a real
 * migration does it (pg_dump -Fc | pg_restore --no-owner --no-acl), and
 * URLs for the unprivileged `cutover` role. Uses psql/pg_dump from
 * postgresql-client-15. Failures abort the current test (ck_abort).
 *
 * Each suite must use its own database names: CTest runs suites in
 * parallel against the same clusters.
 */
#ifndef CUTOVER_PGFIXTURE_H
#define CUTOVER_PGFIXTURE_H

/* Checked first by the main for suites declaring .pg: skips (77) unless the
 * test bed's PostgreSQL variables are set. */
void tu_pg_require(void);

/* Drops (WITH FORCE) and creates `db` on both clusters, owned by the
 * superuser; grants the cutover role read access (pg_read_all_data,
 * pg_monitor). */
void tu_pg_create(const char *db);
void tu_pg_drop(const char *db);

/* Runs SQL (any number of statements) as the superuser on side
 * "source" or "target" in db. */
void tu_pg_sql(const char *side, const char *db, const char *sql);
/* Same, tolerant of failure (cleanup): returns psql's exit code and, when
 * out is not NULL, its output (stdout and stderr, allocated). */
int tu_pg_try_sql(const char *side, const char *db, const char *sql,
                  char **out);
/* Same, returning psql -At output (allocated, trailing newline cut). */
char *tu_pg_query(const char *side, const char *db, const char *sql);

/* Makes target's db a faithful copy of source's db. */
void tu_pg_copy(const char *db);

/* postgres://cutover:PW@127.0.0.1:PORT/db?sslmode=require (allocated). */
char *tu_pg_url(const char *side, const char *db);
/* Same for the superuser. */
char *tu_pg_admin_url(const char *side, const char *db);

#endif
