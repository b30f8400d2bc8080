/*
 * baseline.h - baseline snapshots: what the drift checks compare on one
 * side, saved as JSON (`cutover snapshot --side S -o FILE`) and used in
 * place of that side later (`cutover check --baseline FILE`), so the
 * target can be checked after Heroku is gone and nightly runs can
 * compare production against a blessed snapshot.
 *
 * A snapshot holds, per resource ("postgres.main", "redis.jobs",
 * "domain.app.example.com", "endpoint.web"):
 *  - for postgres, the answers the recorded side gave to the read-only
 *    catalog and aggregate queries of the snapshot-capable checks
 *    (normalised schema objects, table lists, exact row counts,
 *    per-segment row counts and hash sums, sequence values, extensions,
 *    encoding): the layer records them (co_pg sessions of a recording
 *    run) and answers the same queries from them when replaying, so the
 *    checks compare exactly as they would against the live server;
 *  - for other kinds, "facts" a check stores under its id (key counts,
 *    queue depths, DNS answers and TTLs, certificate fingerprints).
 * No URL, password or row content is stored: endpoints are masked, and
 * writing is refused if a registered secret appears anywhere.
 *
 * While a snapshot is being taken (recording), both sides of every pair
 * resource are the recorded side, so a pair check runs its usual
 * comparison against itself and asks the same questions a later run will
 * ask of the baseline; only the recorded side's sessions are taped.
 */
#ifndef CUTOVER_BASELINE_H
#define CUTOVER_BASELINE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "cutover/check.h"

/* The snapshot file format this cutover reads and writes. */
#define CO_SNAPSHOT_VERSION 1

struct co_baseline;

/* ---- files (the CLI) ---------------------------------------------------- */

/* Loads and validates a snapshot. NULL with a reason in err (the file,
 * and what is wrong: unreadable, not JSON (line:column), not a cutover
 * snapshot, a format version this cutover does not read). */
struct co_baseline *co_baseline_load(const char *path, char *err,
                                     size_t errlen);
/* An empty snapshot of one side (source when `source`), for recording. */
struct co_baseline *co_baseline_new(bool source);
/* Writes it atomically. -1 with a reason in err; refuses (without
 * writing) when a registered secret would appear in the file. */
int co_baseline_save(struct co_baseline *b, const char *path, char *err,
                     size_t errlen);
void co_baseline_free(struct co_baseline *b); /* NULL is fine */

/* Joins twin, a baseline standing in for the other side (a second
 * `--baseline`): both sides are then answered by snapshots and no server
 * is contacted for them: the comparison of two recorded sessions. b owns
 * twin from then on. -1 with a reason in err when both stand for the
 * same side (twin is the caller's still). */
int co_baseline_pair(struct co_baseline *b, struct co_baseline *twin,
                     char *err, size_t errlen);
/* The baseline standing in for a side: b, its twin, or NULL. */
struct co_baseline *co_baseline_side(const struct co_baseline *b, bool source);

/* The side it replaces: the side it was taken from unless set_side moved
 * it (`--baseline-as`). */
bool co_baseline_is_source(const struct co_baseline *b);
void co_baseline_set_side(struct co_baseline *b, bool source);
bool co_baseline_recording(const struct co_baseline *b);
/* "2026-11-24T11:00:00Z" and the cutover version that took it. */
const char *co_baseline_taken_at(const struct co_baseline *b);
const char *co_baseline_tool_version(const struct co_baseline *b);
/* "baseline FILE (source, taken 2026-...)": the endpoint reports show
 * for the side it stands for. Allocated. */
char *co_baseline_describe(const struct co_baseline *b);
/* Whether a baseline can stand in for a side of res: kinds whose sides
 * are servers (postgres, redis). Env files are read as they are: a
 * snapshot never holds config values. */
bool co_baseline_sided(const struct co_resource *res);
/* Whether the snapshot has an entry for resource res. */
bool co_baseline_has(const struct co_baseline *b,
                     const struct co_resource *res);
/* Totals for the CLI's summary line: resources, recorded queries, facts. */
void co_baseline_counts(const struct co_baseline *b, size_t *nres,
                        size_t *nqueries, size_t *nfacts);

/* ---- what a check sees ----------------------------------------------------
 */

/* Side `source` (true) or target of run's resource is answered by a
 * loaded baseline: its server is not contacted. */
bool co_run_replayed(const struct co_run *run, bool source);
/* The run is taking a snapshot. */
bool co_run_recording(const struct co_run *run);
/* The side being recorded or replayed: 0 source, 1 target; -1 when
 * neither (a normal run). Checks whose questions depend on data (e.g.
 * pg.checksum's segment boundaries) derive them from this side only, so
 * recording and replaying ask the same questions. */
int co_run_anchor(const struct co_run *run);
/* Where each side's data comes from in this run (from[0] source,
 * from[1] target): CO_SIDE_LIVE its server, asked now; CO_SIDE_BASELINE
 * a loaded baseline stands for it (read its facts); CO_SIDE_MIRROR a
 * snapshot is being taken and this side is the recorded side's server
 * too (copy the recorded side's data instead of asking twice). */
enum co_side_origin { CO_SIDE_LIVE, CO_SIDE_BASELINE, CO_SIDE_MIRROR };
void co_run_origins(const struct co_run *run, enum co_side_origin from[2]);
/* The `error` case for facts a loaded baseline does not hold: "the
 * baseline snapshot (...) holds no <what> (was it taken with another
 * config or cutover version?)". Returns co_case_addf's value. */
int co_run_baseline_lacks(struct co_run *run, const char *name,
                          const char *what);
/* The URL a side connects to: res->source/target, except while
 * recording, when both sides are the recorded side. */
const char *co_run_url(const struct co_run *run, bool source);

/* The URL to dial for a side now: co_run_url, or NULL when that side is
 * not asked (a baseline stands for it, or it mirrors the recorded side
 * while a snapshot is taken) or not configured. */
const char *co_run_live_url(const struct co_run *run, bool source);

/* Facts of a check on one resource. Recording: co_run_fact_put stores
 * value (reference stolen) under key for this check and resource.
 * Replaying: co_run_fact returns the stored value (borrowed; NULL when
 * the snapshot has none). Both are no-ops / NULL in a normal run. */
void co_run_fact_put(struct co_run *run, const char *key, json_t *value);
json_t *co_run_fact(const struct co_run *run, const char *key);

/* ---- facts of both sides: the one shape of a snapshot-capable check --------
 *
 * A check that is not PostgreSQL's (whose layer records and replays
 * queries) is written as: observe one side -> facts (JSON it can compare
 * later: counts, fingerprints, answers; never a secret or a row);
 * compare both sides' facts -> cases. co_run_facts decides, per side,
 * where the facts come from, so the check never branches on it:
 *  - its server, asked now (observe), both sides at once when both are;
 *  - a loaded baseline standing in for it (the stored facts);
 *  - while a snapshot is taken, the recorded side's facts (mirror: the
 *    other side is the same server);
 * and, while a snapshot is taken, stores the recorded side's facts under
 * the check, resource, key (and sub, e.g. a pattern). Work that needs both
 * servers live (naming the keys one side lacks) stays in the check,
 * behind co_run_both_live(). */

/* Observes side (0 source, 1 target): its facts (a new reference), or
 * NULL with the reason in err (a sentence that names the side, e.g.
 * "target: connection refused"). May run on its own thread, at the same
 * time as the other side's call: it must not add cases. */
typedef json_t *(*co_observe_fn)(struct co_run *run, int side, void *ctx,
                                 char *err, size_t errlen);

struct co_facts_req {
    const char *key;       /* facts key under the check and resource */
    const char *sub;       /* NULL, or a member of the object at key */
    const char *what;      /* what a baseline lacking them holds no of */
    const char *name;      /* the case an error is reported as */
    co_observe_fn observe; /* a side's live facts */
    void *ctx;             /* passed to observe */
};

/* Fills facts[0] (source) and facts[1] (target) with new references.
 * Returns 0; or -1 when a side has none, after adding one `error` case
 * (req->name) with observe's reason or what the baseline lacks, both
 * entries NULL. */
int co_run_facts(struct co_run *run, const struct co_facts_req *req,
                 json_t *facts[2]);
/* Both sides are their servers, asked now (no baseline, no snapshot). */
bool co_run_both_live(const struct co_run *run);
/* The first side whose server is asked now (0 or 1), -1 when none is:
 * where a check counts its progress. */
int co_run_live_side(const struct co_run *run);

/* A sentence for messages: "the baseline snapshot (source, taken
 * 2026-11-24T11:00:00Z)". */
void co_run_baseline_label(const struct co_run *run, char *out, size_t outlen);

/* ---- the PostgreSQL tape (core/pg.c) --------------------------------------
 */

struct co_pg_tape;
/* The tape of run's resource: to record into when recording and
 * `source` is the recorded side, to replay from when that side is
 * replaced; NULL otherwise. */
struct co_pg_tape *co_pg_tape_for(const struct co_run *run, bool source);
bool co_pg_tape_replaying(const struct co_pg_tape *t);
/* Stores a complete result of a statement (texts and column names and
 * types). Thread-safe. */
void co_pg_tape_put(struct co_pg_tape *t, const char *sql, int nparams,
                    const char *const *params, const PGresult *res);
/* For streamed statements: begin, add rows, commit (or drop). */
json_t *co_pg_tape_stream_begin(const PGresult *first_row);
void co_pg_tape_stream_row(json_t *rec, const PGresult *row);
void co_pg_tape_stream_commit(struct co_pg_tape *t, const char *sql,
                              int nparams, const char *const *params,
                              json_t *rec);
/* The recorded answer as a PGresult (PGRES_TUPLES_OK; the caller
 * PQclear()s it), or NULL when the statement was never recorded. */
PGresult *co_pg_tape_get(const struct co_pg_tape *t, const char *sql,
                         int nparams, const char *const *params);
/* The same, one single-row PGresult per row for streams: calls fn for
 * each; returns 0, 1 when fn stopped, -1 when not recorded. */
int co_pg_tape_stream(const struct co_pg_tape *t, const char *sql, int nparams,
                      const char *const *params,
                      int (*fn)(const PGresult *row, void *payload),
                      void *payload);
/* Session facts of the recorded side: server version. */
void co_pg_tape_set_server(struct co_pg_tape *t, int server_version);
int co_pg_tape_server(const struct co_pg_tape *t);

#endif
