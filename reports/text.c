/*
 * text.c - the human report on stdout: cases grouped by check, one line
 * each, then a summary line and the verdict.
 *
 *   pg.rowcount
 *     FAIL  main/public.users: source 100 rows, target 99 (source: 100,
 *           target: 99)
 *
 *   3 passed, 0 warned, 1 failed, 0 errors, 0 skipped in 1.23s
 *   result: FAIL (exit 1)
 *
 * Names come from databases and DNS, which anyone may fill with escape
 * sequences; printed raw they could rewrite the terminal (or a CI log
 * viewer) to hide a failure. So every such string is shown with control
 * characters, C1 controls, bidi overrides and invalid UTF-8 escaped as
 * \xNN / \uXXXX, and colour comes only from us.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD  "\033[1m"

static const struct {
    const char *word;
    const char *color;
} status_look[CO_NSTATUS] = {
    [CO_PASS] = {"PASS", "\033[32m"}, [CO_WARN] = {"WARN", "\033[33m"},
    [CO_FAIL] = {"FAIL", "\033[31m"}, [CO_ERROR] = {"ERROR", "\033[35m"},
    [CO_SKIP] = {"SKIP", "\033[2m"},
};

/* Code points shown escaped although valid: C1 controls (some terminals
 * obey them as escapes) and the bidi controls that reorder what is shown
 * ("Trojan Source"). */
static int hidden_cp(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F ||
           cp == 0x061C;
}

static void add_escaped_byte(struct co_buf *b, unsigned char c)
{
    if (c == '\n')
        co_buf_puts(b, "\\n");
    else if (c == '\r')
        co_buf_puts(b, "\\r");
    else if (c == '\t')
        co_buf_puts(b, "\\t");
    else
        co_buf_addf(b, "\\x%02x", c);
}

/* Appends s with everything a terminal could act on made visible. */
static void add_safe(struct co_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    uint32_t cp;
    size_t n, k;

    while (*p != '\0') {
        n = co_utf8_next(p, &cp);
        if (cp == CO_UTF8_BAD) {
            for (k = 0; k < n; k++)
                add_escaped_byte(b, p[k]);
        } else if (cp < 0x20 || cp == 0x7F) {
            add_escaped_byte(b, (unsigned char)cp);
        } else if (hidden_cp(cp)) {
            co_buf_addf(b, "\\u%04x", (unsigned)cp);
        } else {
            co_buf_add(b, (const char *)p, n);
        }
        p += n;
    }
}

/* The status word, coloured on request; padded to one width (outside
 * the colour) when `pad`, so the names of a check line up. */
static void add_tag(struct co_buf *b, enum co_status st, bool color, bool pad)
{
    const char *word = (unsigned)st < CO_NSTATUS ? status_look[st].word : "?";
    size_t n = strlen(word);

    if (color && (unsigned)st < CO_NSTATUS)
        co_buf_addf(b, "%s%s%s", status_look[st].color, word, ANSI_RESET);
    else
        co_buf_puts(b, word);
    while (pad && n++ < 5)
        co_buf_puts(b, " ");
}

static void add_case(struct co_buf *b, const struct co_result *r,
                     const struct co_case *c, const struct co_report_opts *o)
{
    bool details = c->status != CO_PASS || o->verbose;

    co_buf_puts(b, "  ");
    add_tag(b, c->status, o->color, true);
    co_buf_puts(b, " ");
    add_safe(b, r->resource);
    co_buf_puts(b, "/");
    add_safe(b, c->name);
    if (details && c->message != NULL && c->message[0] != '\0') {
        co_buf_puts(b, ": ");
        add_safe(b, c->message);
    }
    if (details && (c->source != NULL || c->target != NULL)) {
        co_buf_puts(b, " (");
        if (c->source != NULL) {
            co_buf_puts(b, "source: ");
            add_safe(b, c->source);
        }
        if (c->target != NULL) {
            co_buf_puts(b, c->source != NULL ? ", target: " : "target: ");
            add_safe(b, c->target);
        }
        co_buf_puts(b, ")");
    }
    co_buf_puts(b, "\n");
}

static void add_check(struct co_buf *b, const struct co_report *rep,
                      size_t first, const struct co_report_opts *o)
{
    const char *id = rep->results[first].check;
    const struct co_result *r;
    size_t i, k;

    if (o->color)
        co_buf_puts(b, ANSI_BOLD);
    add_safe(b, id);
    co_buf_puts(b, o->color ? ANSI_RESET "\n" : "\n");
    for (i = first; i < rep->nresults; i++) {
        r = &rep->results[i];
        if (strcmp(r->check, id) != 0)
            continue;
        for (k = 0; k < r->ncases; k++)
            add_case(b, r, &r->cases[k], o);
        if (r->ncases == 0) {
            co_buf_puts(b, "  (no cases for ");
            add_safe(b, r->resource);
            co_buf_puts(b, ")\n");
        }
    }
    co_buf_puts(b, "\n");
}

/* The verdict word that matches the exit code. */
static enum co_status verdict(const struct co_summary *s, int code)
{
    if (code == 0)
        return CO_PASS;
    if (s->failed)
        return CO_FAIL;
    if (code == 2 || s->errors)
        return CO_ERROR;
    return CO_WARN; /* --strict turned warnings into a failing exit */
}

static void add_summary(struct co_buf *b, const struct co_report *rep,
                        const struct co_report_opts *o)
{
    struct co_summary s;
    enum co_status v;
    char secs[32];
    int code;

    co_report_summary(rep, &s);
    code = co_report_exit_code(rep);
    co_fmt_seconds(rep->duration_ms, 2, secs, sizeof secs);
    co_buf_addf(b,
                "%zu passed, %zu warned, %zu failed, %zu errors, "
                "%zu skipped in %ss\n",
                s.passed, s.warned, s.failed, s.errors, s.skipped, secs);
    v = verdict(&s, code);
    if (co_summary_nothing_checked(&s))
        co_buf_puts(b, "nothing was checked: every case was skipped\n");
    co_buf_puts(b, "result: ");
    add_tag(b, v, o->color, false);
    co_buf_addf(b, " (exit %d)\n", code);
}

static int text_write(const struct co_report *rep,
                      const struct co_report_opts *opts, FILE *out)
{
    static const struct co_report_opts none = {false, false, false};
    const struct co_report_opts *o = opts ? opts : &none;
    struct co_buf b;
    size_t i;

    co_buf_init(&b);
    for (i = 0; i < rep->nresults; i++)
        if (co_report_check_first(rep, i))
            add_check(&b, rep, i, o);
    if (rep->nresults == 0)
        co_buf_puts(&b, "no checks ran\n\n");
    add_summary(&b, rep, o);
    return co_report_put(&b, out);
}

const struct co_reporter co_reporter_text = {
    "text",                               /* name */
    text_write,                           /* write */
    "text",                               /* option */
    "FILE",                               /* metavar */
    "also write the text report to FILE", /* help */
    "report",                             /* noun */
    0,                                    /* flags */
};
