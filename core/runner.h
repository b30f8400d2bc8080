/*
 * runner.h - turns a config and a selection into a finished report.
 * Core-private: only the CLI and tests call it.
 */
#ifndef CUTOVER_RUNNER_H
#define CUTOVER_RUNNER_H

#include <stdbool.h>

#include "cutover/check.h"

/* How progress is shown on stderr (--progress). */
enum co_progress_mode {
    CO_PROGRESS_NONE,
    CO_PROGRESS_LIVE, /* a terminal: one live line per running task */
    CO_PROGRESS_PLAIN /* logs: a line per running task every few seconds */
};

struct co_runner_opts {
    unsigned phase;         /* CO_PRE, CO_POST, CO_DRIFT or CO_ALL */
    struct co_strlist only; /* globs over check ids; empty: all */
    struct co_strlist skip; /* globs over check ids */
    int jobs;               /* 0: settings.jobs */
    int64_t timeout_ms;     /* 0: settings.timeout */
    enum co_progress_mode progress;
    int64_t progress_every_ms; /* plain: 0 means 10 s */
    /* --shard I/N: run only part shard (1-based) of nshards; 0 and 0
     * (or 1 and 1): the whole run. Checks flagged CO_CHECK_SHARDED run in
     * every shard and pick their units; domain, endpoint and outbound
     * resources are units themselves (every check of one runs in its
     * shard); every other task runs in shard 1. */
    int shard, nshards;
    bool handle_signals; /* SIGINT/SIGTERM interrupt the run */
    /* The checks to consider; NULL: the registry (co_checks). Tests
     * pass their own table. */
    const struct co_check *const *checks;
    size_t ncheck;
    /* A snapshot being taken (only snapshot-capable checks run, both
     * sides of a pair are the recorded one) or a loaded baseline standing
     * in for one side; NULL: neither. */
    struct co_baseline *baseline;
};

/* Is check c selected by the phase and the --only/--skip globs? */
bool co_runner_selected(const struct co_check *c,
                        const struct co_check_override *ov,
                        const struct co_runner_opts *o);

/* How many (check x resource) results a run with o would make: 0 means
 * the selection leaves nothing to check on this config. Connects to
 * nothing. */
size_t co_runner_count(const struct co_config *cfg,
                       const struct co_runner_opts *o);

/* Runs every selected (check x resource) task on a pool of workers and
 * fills rep (which the caller zeroed; free with co_report_free). Returns
 * 0, or 1 when the run was interrupted by a signal (the report is still
 * complete: unfinished cases say "interrupted"). *abandoned is set when
 * a worker is still stuck in a check past its deadline: the caller must
 * then not free the config and should leave with _exit. */
int co_runner_run(const struct co_config *cfg, const struct co_runner_opts *o,
                  struct co_report *rep, bool *abandoned);

#endif
