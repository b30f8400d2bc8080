/*
 * check.h - the plugin API: check descriptors and what a check may do
 * while it runs.
 *
 * A check is a static `struct co_check` listed once in checks/registry.c.
 * The runner calls check->run() once per (check x resource) task, on a
 * worker thread, with a `struct co_run` that carries the resource, the
 * config, the phase, the deadline and the cancel flag. run() adds cases
 * with co_case_addf() and returns 0; it never exits and never prints.
 * A non-zero return with no case added makes the runner add an `error`
 * case holding run->errstr.
 *
 * Long operations must be non-blocking steps that honour
 * co_run_remaining_ms() and co_run_cancelled(): the runner seals a task
 * that overruns its deadline (adding "timed out" / "interrupted" cases)
 * and drops whatever it adds afterwards.
 */
#ifndef CUTOVER_CHECK_H
#define CUTOVER_CHECK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cutover/config.h"
#include "cutover/result.h"

/* A declared option of a check: the one source of config validation,
 * defaults, `cutover list --verbose` and the man page. Arrays end with a
 * zeroed entry. */
struct co_param {
    const char *name;
    enum co_ptype type;
    const char *def; /* default, as config text; NULL: no default */
    const char *help;
};

/* Capability flags of a check. */
enum co_check_flags {
    CO_CHECK_PAIR = 1u << 0,      /* needs both sides (source and target) */
    CO_CHECK_ONE_SIDED = 1u << 1, /* runs on whatever side is present */
    /* compares against a baseline snapshot (baseline.h): runs when
     * taking one, and in place of a side a baseline replaces */
    CO_CHECK_SNAPSHOT = 1u << 2,
    /* splits its own work across the shards of `--shard I/N` (tables,
     * patterns, ...: co_run_shard_pick) and so runs in every shard;
     * other checks run whole in one shard (see co_run_shard_pick) */
    CO_CHECK_SHARDED = 1u << 3
};

struct co_run;

struct co_check {
    const char *id;      /* "pg.rowcount": stable, used in config/reports */
    const char *summary; /* one line for `cutover list` */
    enum co_kind kind;   /* which resources it runs on */
    unsigned phases;     /* CO_PRE | CO_POST | CO_DRIFT: default phases */
    const struct co_param *params; /* may be NULL */
    int (*run)(struct co_run *run);
    unsigned flags; /* enum co_check_flags */
    /* Optional: which resources it runs on when that is not simply every
     * resource of `kind` (e.g. tls.cert also on postgres/redis resources
     * with `tls: true`); `runs_on` then says so for `cutover list`. */
    bool (*applies)(const struct co_resource *res);
    const char *runs_on;
};

/* Does check c run on resource res (its kind, or its applies hook)? */
bool co_check_applies(const struct co_check *c, const struct co_resource *res);

/* The registry: every check, in display order. Defined in
 * checks/registry.c, the only file that names them. */
extern const struct co_check *const co_checks[];
extern const size_t co_ncheck;
const struct co_check *co_check_find(const char *id);
const struct co_param *co_check_param(const struct co_check *c,
                                      const char *name);

/* What a task sees. Fields are read-only for the check. */
struct co_run {
    const struct co_check *check;
    const struct co_resource *res;
    const struct co_config *cfg;
    const struct co_check_override *override; /* NULL when none */
    unsigned phase;   /* CO_PRE, CO_POST, CO_DRIFT, or CO_ALL */
    int64_t started;  /* co_now_ms() at start */
    int64_t deadline; /* co_now_ms() value at which the task must end */
    const atomic_int *cancel; /* non-zero: stop now (SIGINT/SIGTERM) */
    char errstr[CO_ERRLEN];   /* why run() returned non-zero */
    /* A snapshot being taken or a loaded baseline standing in for one
     * side (baseline.h); NULL in a normal run. */
    struct co_baseline *baseline;

    /* `--shard I/N`: this run does part shard (1-based) of nshards; 0
     * and 0 when the run is whole. Checks flagged CO_CHECK_SHARDED pick
     * their part with co_run_shard_pick. */
    int shard, nshards;

    struct co_task *task; /* private to the runner */
    int64_t last_case;    /* private: for case durations */
};

/* Verdicts that depend on the phase use the post-cutover one for
 * --phase all (doc/DESIGN.md): true for CO_POST and CO_ALL. */
bool co_run_is_post(const struct co_run *run);
/* Milliseconds left before the deadline (0 when passed). */
int64_t co_run_remaining_ms(const struct co_run *run);
bool co_run_cancelled(const struct co_run *run);

/* Work shared by the tasks of a run, under `key` (e.g. every DNS lookup
 * of the run in one batch): the first task to ask calls make(run) and
 * the value is kept until the run ends (then free_fn(value)); the others
 * wait for it, at most until their own deadline or an interrupt (NULL
 * then). make must honour run's deadline and cancel flag; it may return
 * NULL. */
void *co_run_shared(struct co_run *run, const char *key,
                    void *(*make)(struct co_run *run),
                    void (*free_fn)(void *value));

/* ---- sharding (--shard I/N) ----------------------------------------------
 *
 * A work unit of a sharded check: key names it stably (a table's
 * "schema.name", "pattern cache:*"), weight estimates its cost in any
 * unit, the same for every unit of one call (bytes to scan, keys to
 * visit). Every shard process must see the same keys and weights, so
 * weights come from a side that does not move during the run (the
 * source after cutover, or a baseline snapshot: co_run_anchor). */
struct co_shard_unit {
    const char *key;
    double weight;
};

/* Assigns each of n units to one of nshards shards (owner[i] in
 * 0..nshards-1): deterministic, balanced by weight, stable (adding or
 * removing a unit moves few others). Pure; see core/shard.c. */
void co_shard_assign(const struct co_shard_unit *u, size_t n, int nshards,
                     int *owner);
/* Sets mine[i] for the units that belong to this run's shard; all true
 * when the run is whole. The resource's name is part of every key. */
void co_run_shard_pick(const struct co_run *run, const struct co_shard_unit *u,
                       size_t n, bool *mine);
/* Whether cases about the whole resource (nothing to compare, ...) are
 * this run's to add: true when whole or in shard 1. */
bool co_run_shard_first(const struct co_run *run);

/* ---- progress ------------------------------------------------------------
 *
 * Long checks say how far they are: done of total (an estimate, may be
 * revised) in unit ("rows", "keys"). Thread-safe, cheap (a few atomic
 * stores): call it whenever a piece of work ends. `done` never goes
 * back. The runner renders it on stderr (a live line per task on a
 * terminal, or a line every few seconds with --progress plain); it never
 * reaches a report. */
void co_run_progress(struct co_run *run, int64_t done, int64_t total,
                     const char *unit);

/* Adds a case. The message is formatted; name, source, target and message
 * are masked and copied. source/target may be NULL. duration is the time
 * since the previous case of this run (or since the start). Returns 0,
 * or -1 when the task was sealed (deadline/interrupt) and the case was
 * dropped: the check should return soon. */
int co_case_addf(struct co_run *run, enum co_status status, const char *name,
                 const char *source, const char *target, const char *fmt, ...)
    CO_PRINTF(6, 7);
/* Same with an explicit duration in milliseconds. */
int co_case_add_ms(struct co_run *run, enum co_status status, const char *name,
                   const char *source, const char *target, double duration_ms,
                   const char *fmt, ...) CO_PRINTF(7, 8);

/* Param values: the override from config, else the declared default.
 * Asking for an undeclared param or the wrong type is a programming
 * error (aborts in debug builds, returns the zero value otherwise). */
bool co_param_bool(const struct co_run *run, const char *name);
int64_t co_param_int(const struct co_run *run, const char *name);
double co_param_float(const struct co_run *run, const char *name);
int64_t co_param_duration_ms(const struct co_run *run, const char *name);
/* Borrowed; valid for the run. NULL when unset with no default. */
const char *co_param_string(const struct co_run *run, const char *name);
/* Borrowed list; empty when unset with no default. */
const struct co_strlist *co_param_list(const struct co_run *run,
                                       const char *name);

#endif
