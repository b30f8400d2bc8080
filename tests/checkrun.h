/*
 * checkrun.h - the harness the end-to-end suites share: run the built
 * `cutover check` on a temporary config, read its JSON report back with
 * jansson, and assert on the cases in it (name, status, message words).
 *
 * Every run also asserts that no test-bed secret (the PostgreSQL and
 * Redis passwords the test bed exports) shows up in stdout, stderr or
 * the report: a leak fails whichever suite happens to trigger it.
 * Failures abort the current test (ck_abort).
 */
#ifndef CUTOVER_CHECKRUN_H
#define CUTOVER_CHECKRUN_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct tu_outcome {
    int status;      /* exit code of `cutover check` */
    int64_t took_ms; /* wall time of the run */
    json_t *report;  /* the parsed JSON report */
    char *text;      /* exit code, stdout and stderr, for failure messages */
    char *out;       /* stdout alone */
    char *err;       /* stderr alone */
    char *dir;       /* the run's directory: its config and reports */
};

/* Writes cfg_text to cutover.yml in a fresh temporary directory and runs
 * `cutover check -c CFG --json OUT` followed by args (NULL-ended, may be
 * NULL) in that directory, with env (NULL-ended "NAME=value", may be NULL)
 * added to the environment; killed after timeout_s seconds. Asserts the
 * report exists and parses, and that no secret leaked. */
void tu_check_run(const char *cfg_text, const char *const *args,
                  const char *const *env, int timeout_s, struct tu_outcome *o);
/* The same, also asserting that extra (may be NULL) appears in no output
 * and no report. Every file the run leaves in its directory (e.g. a
 * --junit report.xml given relative) is checked, not just the JSON. */
void tu_check_run_hiding(const char *cfg_text, const char *const *args,
                         const char *const *env, int timeout_s,
                         const char *extra, struct tu_outcome *o);
/* The same as tu_check_run for runs that may end before any report
 * (usage and config errors): o->report is NULL when cutover wrote none.
 * Still asserts that no secret leaked. */
void tu_check_try(const char *cfg_text, const char *const *args,
                  const char *const *env, int timeout_s, struct tu_outcome *o);
/* Runs `cutover check -c cfg_path --json REPORT` followed by args in
 * directory cwd, for configs that name files beside them (env files,
 * snapshots): REPORT is in a fresh o->dir, and what the run leaves there
 * (reports given as absolute paths under o->dir) is checked for
 * secrets, as is its output. Asserts the JSON report parses. */
void tu_check_run_at(const char *cwd, const char *cfg_path,
                     const char *const *args, const char *const *env,
                     int timeout_s, struct tu_outcome *o);
void tu_outcome_free(struct tu_outcome *o);

/* The cases array of check_id on resource (NULL: its first result, for
 * configs with one resource), or NULL when that check did not run.
 * Asserts the report has a checks array. */
json_t *tu_cases(const struct tu_outcome *o, const char *check_id,
                 const char *resource);
/* The same, asserting that the check ran. */
json_t *tu_need_cases(const struct tu_outcome *o, const char *check_id,
                      const char *resource);
/* A string member of a case, "" when absent. */
const char *tu_field(json_t *c, const char *key);
/* The case `name` of check_id on resource (NULL as in tu_cases),
 * asserting it exists, has `status`, and that its message holds every
 * word in words (NULL-ended, may be NULL). */
json_t *tu_expect(const struct tu_outcome *o, const char *check_id,
                  const char *resource, const char *name, const char *status,
                  const char *const *words);
/* How many cases of check_id (first result) have `status`; asserts the
 * check ran. */
size_t tu_count_status(const struct tu_outcome *o, const char *check_id,
                       const char *status);

/* The case `name` of check_id on resource (NULL as in tu_cases), or NULL
 * when there is none; asserts the check ran. */
json_t *tu_case(const struct tu_outcome *o, const char *check_id,
                const char *resource, const char *name);
/* The case `name` of any check on resource, or NULL. */
json_t *tu_find_case(const struct tu_outcome *o, const char *resource,
                     const char *name);
/* The same, asserting it exists, has `status` and that its message holds
 * every word in words (NULL-ended, may be NULL); returns the message. */
const char *tu_expect_on(const struct tu_outcome *o, const char *resource,
                         const char *name, const char *status,
                         const char *const *words);
/* Asserts check_id on resource has exactly one case, named after the
 * resource, with `status` and every word; returns its message. */
const char *tu_expect_sole(const struct tu_outcome *o, const char *check_id,
                           const char *resource, const char *status,
                           const char *const *words);
/* How many cases check_id has on resource; asserts the check ran. */
size_t tu_ncases(const struct tu_outcome *o, const char *check_id,
                 const char *resource);
/* Whether needle appears in the run's output or in its report. */
int tu_mentions(const struct tu_outcome *o, const char *needle);

/* `cutover check --phase post --only check_id` on one PostgreSQL resource
 * "main" with these source/target URLs; params, when not NULL, is the
 * body of the check's `checks:` entry (e.g. "tolerance: 2"). */
void tu_check_pg(const char *check_id, const char *src, const char *tgt,
                 const char *params, struct tu_outcome *o);
/* The same on database db of both test-bed clusters (cutover role). */
void tu_check_pg_db(const char *check_id, const char *db, const char *params,
                    struct tu_outcome *o);

/* Runs check_id with db's source and a target on the test bed's closed
 * port, asserting the case "target" is an error saying "refused", that
 * nothing passes, and that the run exits 2. */
void tu_expect_pg_target_down(const char *check_id, const char *db);

/* A NULL-ended word list for tu_expect: TU_WORDS("a", "b"). */
#define TU_WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
