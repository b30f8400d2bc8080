/*
 * markdown.c - the Markdown reporter, for $GITHUB_STEP_SUMMARY or a merge
 * request note: a heading with the verdict, a table of status counts, and
 * a table of every case that did not pass, worst first.
 *
 * Two limits shape it. A cell must not break the table whatever a name
 * holds, so '|', backslashes, backticks, emphasis characters, line breaks
 * and HTML ('<', '>', '&') are escaped. And GitHub rejects a step summary
 * over 64 KiB, so the output stays under MD_LIMIT: long cells are cut and
 * the case table ends with "... and K more" when it would not fit.
 */
#include <stdlib.h>
#include <string.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

#define MD_LIMIT    (60 * 1024) /* whole document, bytes */
#define MD_RESERVE  256         /* kept free for the closing lines */
#define MD_CELL_MAX 400         /* bytes of one cell before escaping */

/* Cuts s (valid UTF-8) to at most max bytes on a character boundary,
 * marking the cut with "...". */
static void cut_utf8(char *s, size_t max)
{
    if (strlen(s) <= max)
        return;
    memcpy(s + co_utf8_floor(s, max - 3), "...", 4);
}

/* Appends s as the content of one table cell. */
static void add_cell(struct co_buf *b, const char *s)
{
    char *clean = co_utf8_sanitize(s ? s : "");
    const char *p;

    cut_utf8(clean, MD_CELL_MAX);
    for (p = clean; *p != '\0'; p++) {
        switch (*p) {
        case '<':
            co_buf_puts(b, "&lt;");
            break;
        case '>':
            co_buf_puts(b, "&gt;");
            break;
        case '&':
            co_buf_puts(b, "&amp;");
            break;
        case '\n':
        case '\r':
        case '\t':
            co_buf_puts(b, " ");
            break;
        case '|':
        case '\\':
        case '`':
        case '*':
        case '_':
        case '[':
        case ']':
        case '~':
            co_buf_add(b, "\\", 1);
            co_buf_add(b, p, 1);
            break;
        default:
            co_buf_add(b, p, 1);
        }
    }
    free(clean);
}

/* The message column: the message, then the values a failure compares. */
static char *case_message(const struct co_case *c)
{
    struct co_buf m;

    co_buf_init(&m);
    co_buf_puts(&m, c->message ? c->message : "");
    if (c->source != NULL || c->target != NULL) {
        co_buf_puts(&m, m.len ? " (" : "(");
        if (c->source != NULL)
            co_buf_addf(&m, "source: %s", c->source);
        if (c->source != NULL && c->target != NULL)
            co_buf_puts(&m, ", ");
        if (c->target != NULL)
            co_buf_addf(&m, "target: %s", c->target);
        co_buf_puts(&m, ")");
    }
    return co_buf_take(&m);
}

static void add_row(struct co_buf *b, const struct co_result *r,
                    const struct co_case *c)
{
    char *msg = case_message(c);

    co_buf_puts(b, "| ");
    add_cell(b, r->check);
    co_buf_puts(b, " | ");
    add_cell(b, r->resource);
    co_buf_puts(b, " | ");
    add_cell(b, c->name);
    co_buf_addf(b, " | %s | ", co_status_name(c->status));
    add_cell(b, msg);
    co_buf_puts(b, " |\n");
    free(msg);
}

/* The verdict matching the exit code (see co_report_exit_code). */
static const char *verdict(const struct co_summary *s, int code)
{
    if (code == 0)
        return "PASS";
    if (s->failed)
        return "FAIL";
    if (s->errors)
        return "ERROR";
    if (co_summary_nothing_checked(s))
        return "NOTHING CHECKED";
    return "WARN (strict)";
}

static void add_head(struct co_buf *b, const struct co_report *rep,
                     const struct co_summary *s)
{
    int code = co_report_exit_code(rep);
    char secs[32];

    co_fmt_seconds(rep->duration_ms, 2, secs, sizeof secs);
    co_buf_addf(b, "## cutover: %s\n\n", verdict(s, code));
    co_buf_puts(b, "Phase ");
    add_cell(b, rep->phase ? rep->phase : "?");
    co_buf_addf(b, ", %ss, exit code %d, cutover ", secs, code);
    add_cell(b, rep->tool_version ? rep->tool_version : "?");
    co_buf_puts(b, ".\n\n");
    co_buf_puts(b, "| Status | Cases |\n|---|---:|\n");
    co_buf_addf(b, "| pass | %zu |\n| warn | %zu |\n| fail | %zu |\n",
                s->passed, s->warned, s->failed);
    co_buf_addf(b, "| error | %zu |\n| skip | %zu |\n\n", s->errors,
                s->skipped);
}

/* Rows for every non-passing case, worst first, until the size budget
 * is spent. Returns how many were left out. */
static size_t add_rows(struct co_buf *b, const struct co_report *rep)
{
    static const enum co_status order[] = {CO_FAIL, CO_ERROR, CO_WARN,
                                           CO_SKIP};
    const struct co_result *r;
    size_t o, i, k, left = 0, mark;

    for (o = 0; o < sizeof order / sizeof order[0]; o++) {
        for (i = 0; i < rep->nresults; i++) {
            r = &rep->results[i];
            for (k = 0; k < r->ncases; k++) {
                if (r->cases[k].status != order[o])
                    continue;
                if (left > 0) {
                    left++;
                    continue;
                }
                mark = b->len;
                add_row(b, r, &r->cases[k]);
                if (b->len > MD_LIMIT - MD_RESERVE) {
                    b->len = mark; /* this row does not fit */
                    b->s[mark] = '\0';
                    left = 1;
                }
            }
        }
    }
    return left;
}

static int markdown_write(const struct co_report *rep,
                          const struct co_report_opts *opts, FILE *out)
{
    struct co_summary s;
    struct co_buf b;
    size_t left, total;

    (void)opts;
    co_report_summary(rep, &s);
    total = s.passed + s.warned + s.failed + s.errors + s.skipped;
    co_buf_init(&b);
    add_head(&b, rep, &s);
    if (total == 0) {
        co_buf_puts(&b, "No cases ran.\n");
    } else if (s.passed == total) {
        co_buf_addf(&b, "All %zu cases passed.\n", total);
    } else {
        co_buf_puts(&b, "| Check | Resource | Item | Status | Message |\n"
                        "|---|---|---|---|---|\n");
        left = add_rows(&b, rep);
        if (left > 0)
            co_buf_addf(&b, "\n... and %zu more\n", left);
    }
    return co_report_put(&b, out);
}

const struct co_reporter co_reporter_markdown = {
    "markdown",                 /* name */
    markdown_write,             /* write */
    "markdown",                 /* option */
    "FILE",                     /* metavar */
    "write a Markdown summary", /* help */
    "report",                   /* noun */
    CO_REPORTER_CLAIMS_STDOUT,  /* flags */
};
