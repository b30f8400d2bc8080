/*
 * result.h - the result model and the reporter table.
 *
 * A run produces a `struct co_report`: one `struct co_result` per
 * (check x resource) task, each holding its cases in the order they were
 * added. Reporters (one file each in reports/, listed in reports/reporters.c)
 * turn a finished report into bytes; they never see a live task. Every string
 * in a report was masked when it was stored.
 */
#ifndef CUTOVER_RESULT_H
#define CUTOVER_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum co_status { CO_PASS, CO_WARN, CO_FAIL, CO_ERROR, CO_SKIP };
#define CO_NSTATUS 5

/* "pass", "warn", "fail", "error", "skip" */
const char *co_status_name(enum co_status s);
/* The worse of two verdicts, by explicit precedence (not numeric order):
 * fail > error > warn > pass > skip. */
enum co_status co_status_worse(enum co_status a, enum co_status b);

struct co_case {
    char *name; /* the item: a table, a queue, a record; never NULL */
    enum co_status status;
    char *message; /* never NULL */
    char *source;  /* may be NULL */
    char *target;  /* may be NULL */
    double duration_ms;
};

struct co_result {
    const char *check;    /* check id (static) */
    const char *resource; /* resource name (owned by the config) */
    const char *kind;     /* "postgres", ... (static) */
    char *source;         /* masked endpoint of the source side, or NULL */
    char *target;         /* masked endpoint of the target side, or NULL */
    struct co_case *cases;
    size_t ncases;
    size_t cap;
    double duration_ms; /* the whole task */
    int line;           /* where the resource is declared in the report's
                           config_path; 0 when unknown */
};

struct co_summary {
    size_t passed, warned, failed, errors, skipped;
};

struct co_report {
    const char *tool_version;
    const char *phase; /* "pre", "post", "drift", "all" */
    double started;    /* wall clock seconds */
    double duration_ms;
    char hostname[256];
    bool strict;
    int shard, nshards;        /* --shard I/N; 0 and 0: the whole run */
    struct co_result *results; /* grouped by check, in registry order */
    size_t nresults;
    const char *config_path; /* the config file as given, or NULL */
};

/* Adds a case to a result (strings copied; not masked: the runner's
 * co_case_addf masks). Used by the runner and by tests. */
void co_result_add(struct co_result *r, enum co_status st, const char *name,
                   const char *message, const char *source, const char *target,
                   double duration_ms);
void co_result_free(struct co_result *r);
void co_report_free(struct co_report *rep);

void co_report_summary(const struct co_report *rep, struct co_summary *out);
/* Exit code per doc/DESIGN.md: 0 pass (warnings allowed unless strict),
 * 1 a fail (with strict, a warning counts as one), 2 no fail but an
 * error, or nothing checked at all (every case skipped): a gate that
 * looked at nothing is never green. */
int co_report_exit_code(const struct co_report *rep);
/* True when no case passed, warned, failed or errored: only skips. */
bool co_summary_nothing_checked(const struct co_summary *s);

/* ---- reporters -------------------------------------------------------- */

struct co_report_opts {
    bool color;   /* text: ANSI colours */
    bool verbose; /* text: also list passing cases' details */
    bool quiet;
};

/* co_reporter.flags */
enum {
    /* Written to stdout ("-"), it is read by a program: GitHub workflow
     * commands then go to stderr, out of its way. */
    CO_REPORTER_CLAIMS_STDOUT = 1u << 0
};

struct co_reporter {
    /* "junit", "json", "markdown", "text", "openmetrics", "github"
     * (workflow commands), "codequality" (GitLab Code Quality JSON) */
    const char *name;
    /* Writes the whole report to out. Returns 0 or -1 (errno set). */
    int (*write)(const struct co_report *rep,
                 const struct co_report_opts *opts, FILE *out);
    /* The `cutover check` option that writes this format to a file
     * (--OPTION METAVAR), or NULL when the format has its own way out
     * (github). core/cli.c builds the option, its synopsis and --help
     * lines (so the completion scripts) and the writing from these
     * fields: a new format touches its file and the table only. */
    const char *option;
    const char *metavar; /* "FILE" */
    /* The --help text; a '\n' starts an indented continuation line. */
    const char *help;
    /* What a usage error calls the file ("cannot write NOUN ..."). */
    const char *noun;
    unsigned flags; /* CO_REPORTER_* */
};

extern const struct co_reporter *const co_reporters[];
extern const size_t co_nreporter;
const struct co_reporter *co_reporter_find(const char *name);

/* Writes rep with reporter `name` to path atomically (temp file in the
 * same directory, then rename), so a reader never sees half a report.
 * "-" means stdout. Returns 0, or -1 with a reason in err. */
int co_report_write_file(const struct co_report *rep, const char *name,
                         const struct co_report_opts *opts, const char *path,
                         char *err, size_t errlen);
/* Appends rep with reporter `name` to path (created when absent): for
 * files that collect the output of several steps, such as GitHub's
 * $GITHUB_STEP_SUMMARY. Returns 0, or -1 with a reason in err. */
int co_report_append_file(const struct co_report *rep, const char *name,
                          const struct co_report_opts *opts, const char *path,
                          char *err, size_t errlen);
/* Writes rep with reporter `name` to an open stream (stdout, stderr).
 * Returns 0, or -1 with a reason in err. */
int co_report_write_stream(const struct co_report *rep, const char *name,
                           const struct co_report_opts *opts, FILE *out,
                           char *err, size_t errlen);

/* Helpers for reporters: the XML 1.0-safe, valid-UTF-8 form of s
 * (invalid bytes and disallowed control characters become U+FFFD).
 * Allocated. */
char *co_utf8_sanitize(const char *s);

#endif
