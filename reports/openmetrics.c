/*
 * openmetrics.c - the run in the Prometheus text exposition format, for
 * node_exporter's textfile collector (`--openmetrics FILE`): a nightly
 * drift run leaves a .prom file that Prometheus scrapes and alerts on.
 *
 *   cutover_case_status{check,resource,case}     0 pass, 1 warn, 2 fail,
 *                                                3 error, 4 skip
 *   cutover_check_duration_seconds{check,resource}
 *   cutover_cases{status}                        the summary counts
 *   cutover_run_duration_seconds, cutover_exit_code,
 *   cutover_last_run_timestamp_seconds, cutover_info{version,phase}
 *
 * The collector reads the file whole and refuses all of it when one line
 * is wrong, so three things matter more than in the other formats:
 *  - label values are valid UTF-8 (co_utf8_sanitize) with '\\', '"' and
 *    newlines escaped the way the format says;
 *  - a series appears once: two cases that end up with the same labels
 *    (a hostile name, two names that sanitize alike) are merged into one
 *    series holding the worse verdict (co_status_worse), and the series
 *    are written sorted, so the file is stable from run to run;
 *  - the file is replaced atomically (co_report_write_file), so the
 *    collector never reads half a run.
 * Case strings were masked when they were stored; labels go through
 * co_mask once more on the way out, because a label is shipped to a
 * monitoring system that keeps it for months.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

/* One series: its label values (escaped, owned) and its value. */
struct series {
    char *check, *resource, *item; /* item: NULL for per-check series */
    enum co_status status;
    double ms;
};

/* The label value for s: masked, valid UTF-8, escaped. Allocated. */
static char *label(const char *s)
{
    char *masked = co_mask(s ? s : "");
    char *clean = co_utf8_sanitize(masked);
    struct co_buf b;

    free(masked);
    co_buf_init(&b);
    for (const char *p = clean; *p; p++) {
        if (*p == '\\')
            co_buf_puts(&b, "\\\\");
        else if (*p == '"')
            co_buf_puts(&b, "\\\"");
        else if (*p == '\n')
            co_buf_puts(&b, "\\n");
        else
            co_buf_add(&b, p, 1);
    }
    free(clean);
    if (b.s == NULL)
        co_buf_puts(&b, "");
    return co_buf_take(&b);
}

static int series_cmp(const void *a, const void *b)
{
    const struct series *x = a, *y = b;
    int c = strcmp(x->check, y->check);

    if (c == 0)
        c = strcmp(x->resource, y->resource);
    if (c == 0 && x->item && y->item)
        c = strcmp(x->item, y->item);
    return c;
}

static void series_free(struct series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].check);
        free(s[i].resource);
        free(s[i].item);
    }
    free(s);
}

/* Sorts s and merges series with equal labels: the worse verdict, the
 * summed duration. Returns the new count. */
static size_t merge(struct series *s, size_t n)
{
    size_t out = 0;

    if (n == 0)
        return 0;
    qsort(s, n, sizeof(*s), series_cmp);
    for (size_t i = 1; i < n; i++) {
        if (series_cmp(&s[out], &s[i]) == 0) {
            s[out].status = co_status_worse(s[out].status, s[i].status);
            s[out].ms += s[i].ms;
            free(s[i].check);
            free(s[i].resource);
            free(s[i].item);
            continue;
        }
        s[++out] = s[i];
    }
    return out + 1;
}

/* Every case (cases) or every result (per-check durations). */
static struct series *collect(const struct co_report *rep, bool cases,
                              size_t *n)
{
    struct series *s = NULL;
    size_t cap = 0;

    *n = 0;
    for (size_t i = 0; i < rep->nresults; i++) {
        const struct co_result *r = &rep->results[i];
        size_t k = cases ? r->ncases : 1;

        for (size_t j = 0; j < k; j++) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                s = co_realloc(s, cap * sizeof(*s));
            }
            s[*n].check = label(r->check);
            s[*n].resource = label(r->resource);
            s[*n].item = cases ? label(r->cases[j].name) : NULL;
            s[*n].status = cases ? r->cases[j].status : CO_PASS;
            s[*n].ms = cases ? 0 : r->duration_ms;
            (*n)++;
        }
    }
    *n = merge(s, *n);
    return s;
}

static void head(FILE *out, const char *name, const char *type,
                 const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The status value: the order of the issue (0 pass .. 4 skip), spelled
 * out so that a reordering of enum co_status cannot change a dashboard. */
static int status_value(enum co_status st)
{
    switch (st) {
    case CO_PASS:
        return 0;
    case CO_WARN:
        return 1;
    case CO_FAIL:
        return 2;
    case CO_ERROR:
        return 3;
    case CO_SKIP:
        return 4;
    }
    return 3;
}

static void write_cases(const struct co_report *rep, FILE *out)
{
    size_t n;
    struct series *s = collect(rep, true, &n);

    head(out, "cutover_case_status", "gauge",
         "Verdict of one case of the last run: 0 pass, 1 warn, 2 fail, "
         "3 error (could not check), 4 skip.");
    for (size_t i = 0; i < n; i++)
        fprintf(out,
                "cutover_case_status{check=\"%s\",resource=\"%s\","
                "case=\"%s\"} %d\n",
                s[i].check, s[i].resource, s[i].item,
                status_value(s[i].status));
    series_free(s, n);
}

static void write_durations(const struct co_report *rep, FILE *out)
{
    size_t n;
    struct series *s = collect(rep, false, &n);
    char secs[32];

    head(out, "cutover_check_duration_seconds", "gauge",
         "Wall time of one check on one resource in the last run.");
    for (size_t i = 0; i < n; i++) {
        co_fmt_seconds(s[i].ms, 3, secs, sizeof(secs));
        fprintf(out,
                "cutover_check_duration_seconds{check=\"%s\","
                "resource=\"%s\"} %s\n",
                s[i].check, s[i].resource, secs);
    }
    series_free(s, n);
}

static void write_summary(const struct co_report *rep, FILE *out)
{
    struct co_summary sum;
    static const char *const names[5] = {"pass", "warn", "fail", "error",
                                         "skip"};
    size_t counts[5];
    char *version = label(rep->tool_version ? rep->tool_version : "");
    char *phase = label(rep->phase ? rep->phase : "");
    char secs[32];
    double finished = rep->started + rep->duration_ms / 1000.0;

    co_report_summary(rep, &sum);
    counts[0] = sum.passed;
    counts[1] = sum.warned;
    counts[2] = sum.failed;
    counts[3] = sum.errors;
    counts[4] = sum.skipped;
    head(out, "cutover_cases", "gauge",
         "Cases of the last run with each verdict.");
    for (size_t i = 0; i < 5; i++)
        fprintf(out, "cutover_cases{status=\"%s\"} %zu\n", names[i],
                counts[i]);
    head(out, "cutover_exit_code", "gauge",
         "Exit code of the last run: 0 passed, 1 a case failed, 2 a case "
         "could not be checked.");
    fprintf(out, "cutover_exit_code %d\n", co_report_exit_code(rep));
    co_fmt_seconds(rep->duration_ms, 3, secs, sizeof(secs));
    head(out, "cutover_run_duration_seconds", "gauge",
         "Wall time of the last run.");
    fprintf(out, "cutover_run_duration_seconds %s\n", secs);
    co_fmt_seconds(finished > 0 ? finished * 1000.0 : 0, 3, secs,
                   sizeof(secs));
    head(out, "cutover_last_run_timestamp_seconds", "gauge",
         "Unix time at which the last run finished.");
    fprintf(out, "cutover_last_run_timestamp_seconds %s\n", secs);
    head(out, "cutover_info", "gauge",
         "Version of cutover and phase of the last run (always 1).");
    fprintf(out, "cutover_info{version=\"%s\",phase=\"%s\"} 1\n", version,
            phase);
    free(version);
    free(phase);
}

static int openmetrics_write(const struct co_report *rep,
                             const struct co_report_opts *opts, FILE *out)
{
    (void)opts;
    write_cases(rep, out);
    write_durations(rep, out);
    write_summary(rep, out);
    return co_report_written(out, false);
}

const struct co_reporter co_reporter_openmetrics = {
    "openmetrics",     /* name */
    openmetrics_write, /* write */
    "openmetrics",     /* option */
    "FILE",            /* metavar */
    "write the run as Prometheus metrics (for\n"
    "node_exporter's textfile collector)", /* help */
    "metrics",                             /* noun */
    0,                                     /* flags */
};
