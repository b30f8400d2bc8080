/*
 * github.c - GitHub Actions workflow commands: one `::error` or
 * `::warning` line per case that did not pass, which the runner turns
 * into annotations on the run, no third-party action needed.
 *
 *   ::error title=pg.rowcount main/public.orders::source 100 rows, ...
 *
 * The runner parses every line of a step's output, so each command is
 * one line: in the message '%', CR and LF are escaped as %25, %0D, %0A,
 * and in a property value (title=) also ':' and ',' as %3A and %2C. A
 * name or message can hold anything a database names its tables, so
 * everything goes through the escapes; nothing else reaches the line.
 *
 * GitHub shows at most 10 error and 10 warning annotations a step and
 * drops the rest silently. So fail cases come first, then could-not-
 * check (`error`) ones, in report order; when there are more than fit,
 * the last slot is one line saying how many more there are and where to
 * read them. `fail` and `error` are both `::error` (GitHub has no third
 * level); an error's message starts "could not check: ". Warnings are
 * `::warning`. Passing and skipped cases print nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

#define GH_PER_LEVEL 10 /* annotations GitHub shows per level and step */

/* Appends s escaped for a workflow command: the message when prop is
 * false, a property value when true. s is sanitized first (no control
 * characters other than tab/CR/LF, valid UTF-8). */
static void add_escaped(struct co_buf *b, const char *s, bool prop)
{
    char *clean = co_utf8_sanitize(s ? s : "");
    const char *p;

    for (p = clean; *p != '\0'; p++) {
        if (*p == '%')
            co_buf_puts(b, "%25");
        else if (*p == '\r')
            co_buf_puts(b, "%0D");
        else if (*p == '\n')
            co_buf_puts(b, "%0A");
        else if (prop && *p == ':')
            co_buf_puts(b, "%3A");
        else if (prop && *p == ',')
            co_buf_puts(b, "%2C");
        else
            co_buf_add(b, p, 1);
    }
    free(clean);
}

/* The message: what the case says, then the two values it compares. */
static char *annotation_message(const struct co_case *c)
{
    char *msg = co_report_case_message(c);
    char *body = co_report_case_body(c, msg);

    free(msg);
    return body;
}

static void add_command(struct co_buf *b, const char *level,
                        const struct co_result *r, const struct co_case *c)
{
    char *title = co_report_title(r, c);
    char *msg = annotation_message(c);

    co_buf_addf(b, "::%s title=", level);
    add_escaped(b, title, true);
    co_buf_puts(b, "::");
    add_escaped(b, msg, false);
    co_buf_puts(b, "\n");
    free(msg);
    free(title);
}

static size_t count_status(const struct co_report *rep, enum co_status st)
{
    size_t i, k, n = 0;

    for (i = 0; i < rep->nresults; i++)
        for (k = 0; k < rep->results[i].ncases; k++)
            n += rep->results[i].cases[k].status == st;
    return n;
}

/* Emits the cases of the given statuses, in that order, at one level:
 * all of them when they fit in GH_PER_LEVEL, else GH_PER_LEVEL - 1 and a
 * line that says how many more. */
static void add_level(struct co_buf *b, const struct co_report *rep,
                      const char *level, const enum co_status *order,
                      size_t norder, const char *what)
{
    size_t total = 0, shown = 0, room, o, i, k;
    const struct co_result *r;

    for (o = 0; o < norder; o++)
        total += count_status(rep, order[o]);
    room = total > GH_PER_LEVEL ? GH_PER_LEVEL - 1 : total;
    for (o = 0; o < norder && shown < room; o++) {
        for (i = 0; i < rep->nresults && shown < room; i++) {
            r = &rep->results[i];
            for (k = 0; k < r->ncases && shown < room; k++) {
                if (r->cases[k].status != order[o])
                    continue;
                add_command(b, level, r, &r->cases[k]);
                shown++;
            }
        }
    }
    if (total > shown)
        co_buf_addf(b,
                    "::%s title=cutover %s::%zu more %s not annotated; "
                    "the job summary and the reports list every case\n",
                    level, rep->phase ? rep->phase : "", total - shown, what);
}

static int github_write(const struct co_report *rep,
                        const struct co_report_opts *opts, FILE *out)
{
    static const enum co_status bad[] = {CO_FAIL, CO_ERROR};
    static const enum co_status warn[] = {CO_WARN};
    struct co_buf b;

    (void)opts;
    co_buf_init(&b);
    add_level(&b, rep, "error", bad, 2, "failed or could-not-check cases");
    add_level(&b, rep, "warning", warn, 1, "warnings");
    return co_report_put(&b, out);
}

const struct co_reporter co_reporter_github = {
    "github",     /* name */
    github_write, /* write */
    NULL,         /* option */
    NULL,         /* metavar */
    NULL,         /* help */
    NULL,         /* noun */
    0,            /* flags */
};
