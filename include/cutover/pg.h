/*
 * pg.h - the PostgreSQL connection layer (core/pg.c), shared by every
 * pg.* check.
 *
 * Like hiredis' context, a `struct co_pg` carries its own error: `err`
 * (a code the checks map to a verdict) and `errstr` (a human message,
 * already masked). co_pg_connect() returns NULL only when out of memory;
 * otherwise check `pg->err`. An object in error refuses further work.
 *
 * Every session is read-only and pinned so both sides print values the
 * same way (see co_pg_connect). Everything is non-blocking under one
 * deadline and the run's cancel flag: a query past its deadline is
 * cancelled with PQcancel and reported as CO_PG_TIMEOUT.
 *
 * Name resolution goes through co_resolve (c-ares), and the address is
 * handed to libpq as `hostaddr` while `host` keeps the name for TLS
 * verification, so libpq never blocks in getaddrinfo.
 */
#ifndef CUTOVER_PG_H
#define CUTOVER_PG_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cutover/check.h"
#include "cutover/config.h"

enum co_pg_err {
    CO_PG_OK = 0,
    CO_PG_DNS,       /* host name did not resolve */
    CO_PG_REFUSED,   /* connection refused / unreachable */
    CO_PG_TIMEOUT,   /* deadline passed (connect or query) */
    CO_PG_AUTH,      /* authentication failed, no such role/database */
    CO_PG_TLS,       /* TLS required but failed, certificate problem */
    CO_PG_QUERY,     /* the server rejected a statement (SQLSTATE kept) */
    CO_PG_LOST,      /* the connection broke mid-way */
    CO_PG_CANCELLED, /* the run was interrupted */
    CO_PG_OTHER
};
/* "name not found", "refused", "timed out", "authentication failed",
 * "TLS", "query failed", "connection lost", "interrupted", "error" */
const char *co_pg_err_name(enum co_pg_err e);

struct co_pg {
    PGconn *conn;
    enum co_pg_err err;
    char errstr[CO_ERRLEN]; /* masked */
    char sqlstate[6];       /* of the last CO_PG_QUERY error */
    const char *side;       /* "source" or "target" (static) */
    char *host;             /* host as in the URL (owned) */
    int server_version;     /* PQserverVersion, e.g. 150004 */
    bool tls;               /* the session is encrypted */
    bool tls_verified;      /* sslmode verify-ca/verify-full */
    char sslmode[16];       /* effective sslmode */
    double connect_ms;      /* connect + session setup */
    /* baseline.h: answers are recorded into this tape (taking a
     * snapshot) or, with conn NULL, come from it (a baseline replaces
     * this side); NULL in a normal run. */
    struct co_pg_tape *tape;
};

/* Opens one read-only session to one side of a postgres resource
 * (source when `source` is true). When a baseline snapshot replaces that
 * side, the session answers from it and connects nowhere; while one is
 * being taken, both sides connect to the recorded side (baseline.h). sslmode:
 * the URL's if given; else verify-full when the resource has ca_file (used as
 * sslrootcert); else require (Heroku's certificates are not from a public CA),
 * or prefer when tls_verify is false and the URL says nothing. Session
 * settings: default_transaction_read_only=on, statement_timeout (settings),
 * lock_timeout, idle_in_transaction_session_timeout,
 * application_name=cutover, TimeZone=UTC, DateStyle=ISO,
 * IntervalStyle=postgres, extra_float_digits=3, bytea_output=hex.
 * Never NULL except on out-of-memory; check ->err. */
struct co_pg *co_pg_connect(const struct co_run *run, bool source);
/* Same with an explicit URL (tests, pg.query targets). */
struct co_pg *co_pg_connect_url(const char *url, const char *side,
                                const char *ca_file, bool tls_verify,
                                const struct co_config *cfg, int64_t deadline,
                                const atomic_int *cancel);
void co_pg_free(struct co_pg *pg); /* NULL is fine */
/* Both sides of run's resource at once (out[0] source, out[1] target),
 * so a silent side does not use up the other's time. Each is non-NULL;
 * check ->err. */
void co_pg_pair_connect(const struct co_run *run, struct co_pg *out[2]);

/* Runs one statement (with text params, may be NULL) and waits for the
 * whole result until the deadline. Returns the PGresult (PGRES_TUPLES_OK
 * or PGRES_COMMAND_OK; caller PQclear()s) or NULL with pg->err set. */
PGresult *co_pg_exec(struct co_pg *pg, const char *sql, int nparams,
                     const char *const *params, int64_t deadline,
                     const atomic_int *cancel);

/* The same statement on source (pg[0]) and target (pg[1]) concurrently:
 * wall time is the slower side, not the sum. out[i] is the result or
 * NULL with pg[i]->err set. Returns 0 when both succeeded. */
int co_pg_pair_exec(struct co_pg *pg[2], const char *sql, int nparams,
                    const char *const *params, int64_t deadline,
                    const atomic_int *cancel, PGresult *out[2]);

/* Streams a result row by row (single-row mode): fn is called for each
 * row with a one-row PGresult it must not keep; a non-zero return stops
 * the stream (the query is cancelled). Memory does not grow with the
 * number of rows. Returns 0, or -1 with pg->err set. */
typedef int (*co_pg_row_fn)(const PGresult *row, void *payload);
int co_pg_stream(struct co_pg *pg, const char *sql, int nparams,
                 const char *const *params, co_pg_row_fn fn, void *payload,
                 int64_t deadline, const atomic_int *cancel);

/* A pool of `n` source and `n` target sessions for parallel work over
 * many tables, opened for a run like co_pg_connect's sessions (a
 * baseline's side answers from it; see pg.c for which pairs are kept).
 * The pool owns its sessions; co_pg_pool_close() frees them.
 * co_pg_pool_map() runs njobs jobs: for job i it calls
 * sql_fn(i, payload) for the statement (an allocated string, the same
 * text on both sides), runs it on a free pair concurrently, and calls
 * done_fn(i, out, payload) with both results (NULL on error; the pool's
 * pg objects hold the reason). Jobs run up to n at a time. */
struct co_pg_pool {
    struct co_pg **src;
    struct co_pg **tgt;
    int n;
};
int co_pg_pool_open(struct co_pg_pool *pool, const struct co_run *run, int n);
void co_pg_pool_close(struct co_pg_pool *pool);
/* co_pg_pool_open for a check: when no pair can be opened, adds an `error`
 * case named "source" / "target" for each side that could not be
 * reached, closes the pool and returns -1. */
int co_pg_pool_open_or_report(struct co_pg_pool *pool, struct co_run *run,
                              int n);
typedef char *(*co_pg_sql_fn)(size_t job, void *payload);
typedef void (*co_pg_done_fn)(size_t job, PGresult *out[2],
                              struct co_pg *pair[2], void *payload);
int co_pg_pool_map(struct co_pg_pool *pool, size_t njobs, co_pg_sql_fn sql,
                   co_pg_done_fn done, void *payload, int64_t deadline,
                   const atomic_int *cancel);

/* Work that is a conversation rather than one statement (a check that
 * chooses its next statement from the last answer): calls
 * fn(ctx, unit, pair) once for every unit in [0, nunits), on up to
 * pool->n threads at once, each with one of the pool's session pairs
 * (pair[0] source, pair[1] target), so no two calls share a session.
 * Units are handed out in order as pairs free up. fn runs SQL on `pair`
 * with the layer's calls (passing this deadline and cancel flag on) and
 * may touch only state of its own unit. When fold is not NULL,
 * fold(ctx, unit, pair) follows each fn on the same thread and pair,
 * one fold at a time across the pool: the place to merge a unit's
 * answers into state units share (the caller needs no lock of its own).
 *
 * pair[] is borrowed for the call; the sessions stay the pool's, still
 * open, whatever fn did with them (a session whose statement failed
 * keeps being handed units; its err says why). The pool's sessions must
 * not be used by anything else during the run. Units are not handed out
 * once the cancel flag is set or the deadline passed (a unit already
 * started finishes; fn's own statements stop at the same deadline).
 *
 * Returns CO_PG_OK when every unit was handed out, else CO_PG_CANCELLED
 * (the flag) or CO_PG_TIMEOUT (the deadline): some units got no fn and
 * no fold call (which ones depends on timing, so the caller tells by its
 * own per-unit state; co_pg_err_name says "interrupted" or "timed out"
 * for the units it reports). CO_PG_OTHER when pool has no pair. nunits 0
 * returns CO_PG_OK without a call. Returns when every call returned. */
typedef void (*co_pg_unit_fn)(void *ctx, size_t unit, struct co_pg *pair[2]);
enum co_pg_err co_pg_pool_run(struct co_pg_pool *pool, size_t nunits,
                              co_pg_unit_fn fn, co_pg_unit_fn fold, void *ctx,
                              int64_t deadline, const atomic_int *cancel);

/* Quotes an identifier for SQL ("my ""table"""). Allocated. */
char *co_pg_quote_ident(const char *s);
/* "schema"."name", both quoted, for SQL text. Allocated. */
char *co_pg_quote_qualified(const char *schema, const char *name);
/* "schema.table" as people read it, for case names: unquoted unless
 * quoting is needed. Allocated. */
char *co_pg_qualname(const char *schema, const char *name);

/* The verdict for a side that could not be checked: adds an `error`
 * case named `name` saying "source: <errstr>". */
int co_pg_case_error(struct co_run *run, const char *name,
                     const struct co_pg *pg);

#endif
