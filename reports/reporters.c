/*
 * reporters.c - the reporter table, the one place that lists the report
 * formats, and co_report_write_file, which writes any of them atomically.
 *
 * A report file is read by CI right after cutover exits, possibly while
 * a previous run's file is still there; writing to a temporary file in
 * the same directory and renaming it over the target means a reader sees
 * either the old report or the whole new one, never half of one.
 *
 * Two other ways out: co_report_write_stream (GitHub workflow commands go
 * to stdout or stderr) and co_report_append_file, for files several steps
 * add to ($GITHUB_STEP_SUMMARY), written with one append so concurrent
 * writers do not interleave.
 *
 * Also the helpers the formats share (reports.h): grouping by check,
 * number/time formatting that no locale can change, and how a case is
 * titled on CI surfaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

const struct co_reporter *const co_reporters[] = {
    &co_reporter_junit,       &co_reporter_json,        &co_reporter_markdown,
    &co_reporter_text,        &co_reporter_openmetrics, &co_reporter_github,
    &co_reporter_codequality,
};
const size_t co_nreporter = sizeof co_reporters / sizeof co_reporters[0];

const struct co_reporter *co_reporter_find(const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < co_nreporter; i++)
        if (strcmp(co_reporters[i]->name, name) == 0)
            return co_reporters[i];
    return NULL;
}

/* ---- shared helpers ---------------------------------------------------- */

bool co_report_check_first(const struct co_report *rep, size_t i)
{
    const char *id = rep->results[i].check;
    size_t j;

    for (j = 0; j < i; j++)
        if (strcmp(rep->results[j].check, id) == 0)
            return false;
    return true;
}

long long co_ms_round(double ms)
{
    /* NaN compares false, so it lands here too. */
    if (!(ms > 0))
        return 0;
    if (ms > 9.0e15)
        return 9000000000000000LL;
    return llround(ms);
}

void co_fmt_seconds(double ms, int decimals, char *out, size_t outlen)
{
    static const long long scale[] = {1000, 100, 10, 1};
    long long units, div;

    if (decimals < 0)
        decimals = 0;
    if (decimals > 3)
        decimals = 3;
    /* Round once, to the precision shown: units of 10^-decimals s. */
    div = scale[decimals];
    units = co_ms_round(ms / (double)div);
    if (decimals == 0) {
        snprintf(out, outlen, "%lld", units);
        return;
    }
    div = 1000 / div; /* units per second */
    snprintf(out, outlen, "%lld.%0*lld", units / div, decimals, units % div);
}

void co_fmt_utc(double t, bool zulu, char *out, size_t outlen)
{
    time_t secs;
    struct tm tm;

    if (!(t > 0))
        secs = time(NULL);
    else
        secs = (time_t)t;
    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(out, outlen,
                 zulu ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(out, outlen, "1970-01-01T00:00:00%s", zulu ? "Z" : "");
}

#define COULD_NOT_CHECK "could not check"

char *co_report_title(const struct co_result *r, const struct co_case *c)
{
    char *raw =
        co_asprintf("%s %s/%s", r->check ? r->check : "",
                    r->resource ? r->resource : "", c->name ? c->name : "");
    char *title = co_utf8_sanitize(raw);

    free(raw);
    return title;
}

char *co_report_case_message(const struct co_case *c)
{
    const char *m = c->message ? c->message : "";

    if (c->status != CO_ERROR ||
        strncmp(m, COULD_NOT_CHECK, strlen(COULD_NOT_CHECK)) == 0)
        return co_strdup(m);
    return co_asprintf(COULD_NOT_CHECK ": %s", m);
}

char *co_report_case_body(const struct co_case *c, const char *message)
{
    struct co_buf b;

    co_buf_init(&b);
    co_buf_puts(&b, message);
    if (c->source != NULL)
        co_buf_addf(&b, "\nsource: %s", c->source);
    if (c->target != NULL)
        co_buf_addf(&b, "\ntarget: %s", c->target);
    return co_buf_take(&b);
}

int co_report_written(FILE *out, bool failed)
{
    if (failed || ferror(out)) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

int co_report_put(struct co_buf *b, FILE *out)
{
    int rc = b->len > 0 ? co_buf_write(b, out) : 0;

    co_buf_free(b);
    return rc;
}

/* ---- atomic file output --------------------------------------------------
 */

struct fill_arg {
    const struct co_report *rep;
    const struct co_reporter *r;
    const struct co_report_opts *opts;
};

static int fill_report(FILE *f, void *arg)
{
    const struct fill_arg *a = arg;

    return a->r->write(a->rep, a->opts, f);
}

int co_report_write_file(const struct co_report *rep, const char *name,
                         const struct co_report_opts *opts, const char *path,
                         char *err, size_t errlen)
{
    const struct co_reporter *r = co_reporter_find(name);
    struct fill_arg a = {rep, r, opts};
    char what[64];

    if (r == NULL) {
        snprintf(err, errlen, "unknown report format '%s'",
                 name ? name : "(null)");
        return -1;
    }
    snprintf(what, sizeof(what), "%s report", r->name);
    return co_write_atomic(path, what, fill_report, &a, err, errlen);
}

int co_report_write_stream(const struct co_report *rep, const char *name,
                           const struct co_report_opts *opts, FILE *out,
                           char *err, size_t errlen)
{
    const struct co_reporter *r = co_reporter_find(name);

    if (r == NULL) {
        snprintf(err, errlen, "unknown report format '%s'",
                 name ? name : "(null)");
        return -1;
    }
    errno = 0;
    if (r->write(rep, opts, out) != 0 || fflush(out) != 0) {
        snprintf(err, errlen, "cannot write the %s report: %s", r->name,
                 strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

/* The whole report is built in memory and appended with one write(2) on
 * an O_APPEND descriptor, so another step appending to the same file at
 * the same time cannot interleave with it. */
int co_report_append_file(const struct co_report *rep, const char *name,
                          const struct co_report_opts *opts, const char *path,
                          char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0, done = 0;
    FILE *mem = open_memstream(&buf, &len);
    ssize_t n;
    int fd, rc;

    if (mem == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rc = co_report_write_stream(rep, name, opts, mem, err, errlen);
    if (fclose(mem) != 0 && rc == 0) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    fd = rc == 0 ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)
                 : -1;
    if (rc == 0 && fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        rc = -1;
    }
    while (fd >= 0 && done < len) {
        n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot append to %s: %s", path,
                     strerror(n < 0 ? errno : EIO));
            rc = -1;
            break;
        }
        done += (size_t)n;
    }
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot append to %s: %s", path,
                 strerror(errno));
        rc = -1;
    }
    free(buf);
    return rc;
}
