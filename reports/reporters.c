/*
 * reporters.c - the reporter table, the one place that lists the report
 * formats, and co_report_write_file, which writes any of them atomically.
 *
 * A report file is read by CI right after cutover exits, possibly while
 * a previous run's file is still there; writing to a temporary file in
 * the same directory and renaming it over the target means a reader sees
 * either the old report or the whole new one, never half of one.
 *
 * Also the helpers the formats share (reports.h): grouping by check and
 * number/time formatting that no locale can change.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

const struct co_reporter *const co_reporters[] = {
    &co_reporter_junit,
    &co_reporter_json,
    &co_reporter_markdown,
    &co_reporter_text,
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

/* ---- atomic file output --------------------------------------------------
 */

static int write_stdout(const struct co_report *rep,
                        const struct co_reporter *r,
                        const struct co_report_opts *opts, char *err,
                        size_t errlen)
{
    errno = 0;
    if (r->write(rep, opts, stdout) != 0 || fflush(stdout) != 0 ||
        ferror(stdout)) {
        snprintf(err, errlen, "cannot write %s report to stdout: %s", r->name,
                 strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

/* A path that exists and is not a regular file (a FIFO, /dev/stdout, a
 * terminal) cannot be replaced by rename: write to it in place. */
static int write_special(const struct co_report *rep,
                         const struct co_reporter *r,
                         const struct co_report_opts *opts, const char *path,
                         char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    int rc = 0, saved;

    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    errno = 0;
    if (r->write(rep, opts, f) != 0 || fflush(f) != 0 || ferror(f))
        rc = -1;
    saved = errno ? errno : EIO;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0)
        snprintf(err, errlen, "cannot write %s report to %s: %s", r->name,
                 path, strerror(saved));
    return rc;
}

/* "dir/.name.XXXXXX" next to path, so rename stays on one file system. */
static char *temp_template(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return co_asprintf(".%s.XXXXXX", path);
    return co_asprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path,
                       slash + 1);
}

/* Makes the durable copy of dir's entry for the renamed file; failure
 * here loses nothing that was promised, so it is not reported. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;

    if (slash == NULL)
        dir = co_strdup(".");
    else if (slash == path)
        dir = co_strdup("/");
    else
        dir = co_strndup(path, (size_t)(slash - path));
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Writes the report into the open temp file and makes it durable. On
 * failure returns -1 with errno set; f is closed either way. */
static int fill_temp(const struct co_report *rep, const struct co_reporter *r,
                     const struct co_report_opts *opts, FILE *f)
{
    mode_t mask;
    int saved;

    /* mkstemp makes the file 0600; a report is meant to be read by CI
     * tools, so give it the mode a plain fopen would have. */
    mask = umask(0);
    umask(mask);
    errno = 0;
    if (fchmod(fileno(f), 0666 & ~mask) != 0 || r->write(rep, opts, f) != 0 ||
        fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
        saved = errno ? errno : EIO;
        fclose(f);
        errno = saved;
        return -1;
    }
    return fclose(f);
}

int co_report_write_file(const struct co_report *rep, const char *name,
                         const struct co_report_opts *opts, const char *path,
                         char *err, size_t errlen)
{
    const struct co_reporter *r = co_reporter_find(name);
    struct stat st;
    char *tmp;
    FILE *f;
    int fd;

    if (r == NULL) {
        snprintf(err, errlen, "unknown report format '%s'",
                 name ? name : "(null)");
        return -1;
    }
    if (path == NULL || path[0] == '\0') {
        snprintf(err, errlen, "empty path for the %s report", r->name);
        return -1;
    }
    if (strcmp(path, "-") == 0)
        return write_stdout(rep, r, opts, err, errlen);
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return write_special(rep, r, opts, path, err, errlen);

    tmp = temp_template(path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file for %s: %s",
                 path, strerror(errno));
        free(tmp);
        return -1;
    }
    f = fdopen(fd, "w");
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    if (fill_temp(rep, r, opts, f) != 0) {
        snprintf(err, errlen, "cannot write %s report to %s: %s", r->name,
                 path, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
        goto fail;
    }
    free(tmp);
    sync_dir(path);
    return 0;

fail:
    unlink(tmp);
    free(tmp);
    return -1;
}
