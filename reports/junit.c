/*
 * junit.c - the JUnit XML reporter, valid against both schemas in
 * tests/data/junit (see its README for the intersection we target).
 *
 * Shape: a bare <testsuites>, one flat <testsuite> per check id holding
 * the cases of every resource it ran on, each suite's children in the
 * order the Ant schema demands (properties, testcases, system-out,
 * system-err). Warnings pass and are listed in the suite's system-out,
 * because the Ant schema allows no system-out inside a testcase.
 *
 * Two things the consumers need that libxml2 does not give for free:
 * every string is made XML 1.0-safe first (co_utf8_sanitize: the writer
 * would happily emit control bytes and broken UTF-8), and classname+name
 * pairs are unique across the file (GitLab drops repeats, some GitHub
 * actions count them as retries), by suffixing " (2)", " (3)", ...
 *
 * How the CI consumers read a case decides its classname,
 * "CHECK.RESOURCE (PHASE)" (README, "CI examples", has the evidence):
 *  - Jenkins splits a classname at its last '.' into package and class,
 *    and action-junit-report titles (and globs a file for) the last
 *    '.'-segment; so the only dots are the check id's, and a resource's
 *    own dots (domain names) are written as U+2024 ONE DOT LEADER,
 *    which looks the same: package "dns.ttl", class "app.example.com".
 *  - action-junit-report globs "**" "/SEGMENT.*" in the user's repository
 *    and annotates what it finds: a bare "main" or "sidekiq" landed on
 *    main.go or config/sidekiq.yml. " (PHASE)" makes the segment a name
 *    no file has, and keeps the pre and post reports distinct where
 *    GitLab keys cases by suite + classname + name.
 * An `error` reads "could not check: ..." in its message, because the
 * GitHub actions show <error> as a failure; a skip reason is the text of
 * <skipped> too, because GitLab reads the text only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

/* Appends s with XML Schema's token whitespace collapse applied, so two
 * names that a schema-aware reader sees as equal get one key. */
static void add_collapsed(struct co_buf *b, const char *s)
{
    bool pending = false, any = false;

    for (; *s != '\0'; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            pending = any;
            continue;
        }
        if (pending)
            co_buf_add(b, " ", 1);
        co_buf_add(b, s, 1);
        pending = false;
        any = true;
    }
}

static char *pair_key(const char *classname, const char *name)
{
    struct co_buf b;

    co_buf_init(&b);
    add_collapsed(&b, classname);
    co_buf_add(&b, "\n", 1); /* never inside a collapsed value */
    add_collapsed(&b, name);
    return co_buf_take(&b);
}

/* The name to write for this case: name itself, or the first free
 * "name (k)". Both inputs are sanitized already. Returns allocated. The
 * base key remembers the next suffix, so n repeats cost O(n), not n^2. */
static char *unique_name(struct co_strset *st, const char *classname,
                         const char *name)
{
    char *base = pair_key(classname, name);
    char *cand, *key;
    bool added;
    unsigned k;

    if (co_strset_add(st, base)) {
        free(base);
        return co_strdup(name);
    }
    for (;;) {
        /* Looked up afresh each time: an add may move the slots. */
        k = 2 + (*co_strset_count(st, base))++;
        cand = co_asprintf("%s (%u)", name, k);
        key = pair_key(classname, cand);
        added = co_strset_add(st, key);
        free(key);
        if (added)
            break;
        free(cand);
    }
    free(base);
    return cand;
}

/* ---- the writer ----------------------------------------------------------
 */

struct junit {
    xmlTextWriterPtr w;
    bool failed; /* once a write failed, everything else is skipped */
    const struct co_report *rep;
    struct co_strset seen;
    char stamp[32];
    const char *hostname;
};

static void j_check(struct junit *j, int rc)
{
    if (rc < 0)
        j->failed = true;
}

static void j_start(struct junit *j, const char *elem)
{
    if (!j->failed)
        j_check(j, xmlTextWriterStartElement(j->w, BAD_CAST elem));
}

static void j_end(struct junit *j)
{
    if (!j->failed)
        j_check(j, xmlTextWriterEndElement(j->w));
}

/* value is sanitized here, so callers may pass raw report strings. */
static void j_attr(struct junit *j, const char *name, const char *value)
{
    char *v;

    if (j->failed)
        return;
    v = co_utf8_sanitize(value ? value : "");
    j_check(j, xmlTextWriterWriteAttribute(j->w, BAD_CAST name, BAD_CAST v));
    free(v);
}

static void j_attr_size(struct junit *j, const char *name, size_t n)
{
    char num[32];

    snprintf(num, sizeof num, "%zu", n);
    j_attr(j, name, num);
}

/* Text content, escaped by the writer (never CDATA: "]]>" in a name
 * would end a CDATA section). */
static void j_text(struct junit *j, const char *text)
{
    char *v;

    if (j->failed || text == NULL || text[0] == '\0')
        return;
    v = co_utf8_sanitize(text);
    j_check(j, xmlTextWriterWriteString(j->w, BAD_CAST v));
    free(v);
}

static void j_property(struct junit *j, const char *name, const char *value)
{
    j_start(j, "property");
    j_attr(j, "name", name);
    j_attr(j, "value", value);
    j_end(j);
}

/* "shard" = "I/N" under --shard I/N. */
static void shard_property(struct junit *j)
{
    char shard[32];

    if (j->rep->nshards == 0)
        return;
    snprintf(shard, sizeof(shard), "%d/%d", j->rep->shard, j->rep->nshards);
    j_property(j, "shard", shard);
}

/* Phase, version, and each resource's masked endpoints. The strings in a
 * report were masked when stored, so they are written as they are. */
static void write_properties(struct junit *j, size_t first)
{
    const struct co_report *rep = j->rep;
    const char *id = rep->results[first].check;
    const struct co_result *r;
    char *name;
    size_t i;

    j_start(j, "properties");
    j_property(j, "phase", rep->phase ? rep->phase : "");
    j_property(j, "tool.version", rep->tool_version ? rep->tool_version : "");
    shard_property(j);
    for (i = first; i < rep->nresults; i++) {
        r = &rep->results[i];
        if (strcmp(r->check, id) != 0)
            continue;
        if (r->source != NULL) {
            name = co_asprintf("%s.source", r->resource ? r->resource : "");
            j_property(j, name, r->source);
            free(name);
        }
        if (r->target != NULL) {
            name = co_asprintf("%s.target", r->resource ? r->resource : "");
            j_property(j, name, r->target);
            free(name);
        }
    }
    j_end(j);
}

static void write_verdict(struct junit *j, const struct co_case *c)
{
    const char *elem = NULL;
    char *body, *msg;

    if (c->status == CO_FAIL)
        elem = "failure";
    else if (c->status == CO_ERROR)
        elem = "error";
    if (elem != NULL) {
        msg = co_report_case_message(c);
        j_start(j, elem);
        j_attr(j, "type", co_status_name(c->status));
        j_attr(j, "message", msg);
        /* Message in the text too: GitLab shows only the text. */
        body = co_report_case_body(c, msg);
        j_text(j, body);
        free(body);
        free(msg);
        j_end(j);
    } else if (c->status == CO_SKIP) {
        /* The reason as text as well: GitLab shows the element's text,
         * and with none it receives the attributes as a Hash. */
        j_start(j, "skipped");
        j_attr(j, "message", c->message);
        j_text(j, c->message);
        j_end(j);
    }
}

/* One line for the suite's system-out; line breaks inside the message
 * would split it, so they become spaces. */
static void add_warn_line(struct co_buf *out, const char *classname,
                          const char *name, const char *message)
{
    const char *p;

    co_buf_addf(out, "%s %s: ", classname, name);
    for (p = message ? message : ""; *p != '\0'; p++)
        co_buf_add(out, (*p == '\n' || *p == '\r') ? " " : p, 1);
    co_buf_add(out, "\n", 1);
}

static void write_case(struct junit *j, const char *classname,
                       const struct co_case *c, struct co_buf *sysout)
{
    char *raw = co_utf8_sanitize(c->name ? c->name : "");
    char *name = unique_name(&j->seen, classname, raw);
    char time_s[32];

    co_fmt_seconds(c->duration_ms, 3, time_s, sizeof time_s);
    j_start(j, "testcase");
    j_attr(j, "name", name);
    j_attr(j, "classname", classname);
    j_attr(j, "time", time_s);
    write_verdict(j, c);
    j_end(j);
    if (c->status == CO_WARN)
        add_warn_line(sysout, classname, name, c->message);
    free(name);
    free(raw);
}

struct suite_totals {
    size_t tests, failures, errors, skipped;
    double ms;
};

static double cases_ms(const struct co_result *r)
{
    double ms = 0;
    size_t k;

    for (k = 0; k < r->ncases; k++)
        if (r->cases[k].duration_ms > 0)
            ms += r->cases[k].duration_ms;
    return ms;
}

static void suite_totals(const struct co_report *rep, size_t first,
                         struct suite_totals *t)
{
    const char *id = rep->results[first].check;
    const struct co_result *r;
    size_t i, k;

    memset(t, 0, sizeof *t);
    for (i = first; i < rep->nresults; i++) {
        r = &rep->results[i];
        if (strcmp(r->check, id) != 0)
            continue;
        /* The task's wall time; without one, what its cases took. */
        t->ms += r->duration_ms > 0 ? r->duration_ms : cases_ms(r);
        for (k = 0; k < r->ncases; k++) {
            t->tests++;
            t->failures += r->cases[k].status == CO_FAIL;
            t->errors += r->cases[k].status == CO_ERROR;
            t->skipped += r->cases[k].status == CO_SKIP;
        }
    }
}

/* The attributes both schemas want, in the Ant schema's order. */
static void suite_head(struct junit *j, const char *name, size_t id,
                       const struct suite_totals *t)
{
    char time_s[32];

    co_fmt_seconds(t->ms, 3, time_s, sizeof time_s);
    j_start(j, "testsuite");
    j_attr(j, "name", name);
    j_attr(j, "package", "cutover");
    j_attr_size(j, "id", id);
    j_attr(j, "timestamp", j->stamp);
    j_attr(j, "hostname", j->hostname);
    j_attr_size(j, "tests", t->tests);
    j_attr_size(j, "failures", t->failures);
    j_attr_size(j, "errors", t->errors);
    j_attr_size(j, "skipped", t->skipped);
    j_attr(j, "time", time_s);
}

static void suite_tail(struct junit *j, const char *sysout)
{
    j_start(j, "system-out");
    j_text(j, sysout);
    j_end(j);
    j_start(j, "system-err");
    j_end(j);
    j_end(j); /* testsuite */
}

/* "CHECK.RESOURCE (PHASE)", the resource's dots as U+2024 (see the top
 * of the file). Allocated, not yet sanitized. */
static char *case_classname(const char *check, const char *resource,
                            const char *phase)
{
    struct co_buf b;
    const char *p;

    co_buf_init(&b);
    co_buf_addf(&b, "%s.", check);
    for (p = resource ? resource : ""; *p != '\0'; p++) {
        if (*p == '.')
            co_buf_puts(&b, "\xE2\x80\xA4");
        else
            co_buf_add(&b, p, 1);
    }
    co_buf_addf(&b, " (%s)", phase && phase[0] ? phase : "all");
    return co_buf_take(&b);
}

static void write_result_cases(struct junit *j, const char *check,
                               const struct co_result *r,
                               struct co_buf *sysout)
{
    char *raw = case_classname(check, r->resource, j->rep->phase);
    /* Sanitized once: it is also part of the uniqueness key. */
    char *classname = co_utf8_sanitize(raw);
    size_t k;

    for (k = 0; k < r->ncases && !j->failed; k++)
        write_case(j, classname, &r->cases[k], sysout);
    free(classname);
    free(raw);
}

static void write_suite(struct junit *j, size_t first, size_t id)
{
    const struct co_report *rep = j->rep;
    const char *check = rep->results[first].check;
    struct suite_totals t;
    struct co_buf sysout;
    size_t i;

    suite_totals(rep, first, &t);
    suite_head(j, check[0] != '\0' ? check : "cutover", id, &t);
    write_properties(j, first);
    co_buf_init(&sysout);
    for (i = first; i < rep->nresults && !j->failed; i++)
        if (strcmp(rep->results[i].check, check) == 0)
            write_result_cases(j, check, &rep->results[i], &sysout);
    suite_tail(j, sysout.s);
    co_buf_free(&sysout);
}

/* A report without results still names its run: one empty suite. The
 * schemas would accept a bare <testsuites/>, but several consumers treat
 * "no suite" as "no report" and fail the pipeline for the wrong reason. */
static void write_empty_suite(struct junit *j)
{
    struct suite_totals t;

    memset(&t, 0, sizeof t);
    suite_head(j, "cutover", 0, &t);
    j_start(j, "properties");
    j_property(j, "phase", j->rep->phase ? j->rep->phase : "");
    j_property(j, "tool.version",
               j->rep->tool_version ? j->rep->tool_version : "");
    shard_property(j);
    j_end(j);
    suite_tail(j, "");
}

static void write_document(struct junit *j)
{
    const struct co_report *rep = j->rep;
    size_t i, id = 0;

    j_check(j, xmlTextWriterSetIndent(j->w, 1));
    j_check(j, xmlTextWriterSetIndentString(j->w, BAD_CAST "  "));
    if (!j->failed)
        j_check(j, xmlTextWriterStartDocument(j->w, NULL, "UTF-8", NULL));
    j_start(j, "testsuites");
    for (i = 0; i < rep->nresults && !j->failed; i++)
        if (co_report_check_first(rep, i))
            write_suite(j, i, id++);
    if (id == 0)
        write_empty_suite(j);
    j_end(j);
    if (!j->failed)
        j_check(j, xmlTextWriterEndDocument(j->w));
    if (!j->failed)
        j_check(j, xmlTextWriterFlush(j->w));
}

/* hostname must be a non-blank token for the Ant schema. Copied with a
 * bound: the report's array is not trusted to hold a terminator. */
static void pick_hostname(const struct co_report *rep, char *out,
                          size_t outlen)
{
    const char *p;

    snprintf(out, outlen, "%.*s", (int)sizeof rep->hostname - 1,
             rep->hostname);
    for (p = out; *p != '\0'; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return;
    snprintf(out, outlen, "localhost");
}

/* libxml2 prints I/O errors on stderr by itself; the caller reports
 * them once, with the path, so the writer runs with this handler. */
static void quiet_xml_error(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static int junit_write(const struct co_report *rep,
                       const struct co_report_opts *opts, FILE *out)
{
    xmlOutputBufferPtr buf;
    char host[sizeof rep->hostname];
    xmlGenericErrorFunc old_handler;
    void *old_ctx;
    struct junit j;

    (void)opts;
    memset(&j, 0, sizeof j);
    j.rep = rep;
    pick_hostname(rep, host, sizeof host);
    j.hostname = host;
    co_fmt_utc(rep->started, false, j.stamp, sizeof j.stamp);
    buf = xmlOutputBufferCreateFile(out, NULL);
    if (buf == NULL) {
        errno = ENOMEM;
        return -1;
    }
    j.w = xmlNewTextWriter(buf); /* owns buf from here on */
    if (j.w == NULL) {
        xmlOutputBufferClose(buf);
        errno = ENOMEM;
        return -1;
    }
    old_handler = xmlGenericError;
    old_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, quiet_xml_error);
    errno = 0;
    write_document(&j);
    xmlFreeTextWriter(j.w);
    xmlSetGenericErrorFunc(old_ctx, old_handler);
    co_strset_free(&j.seen);
    return co_report_written(out, j.failed);
}

const struct co_reporter co_reporter_junit = {
    "junit",                    /* name */
    junit_write,                /* write */
    "junit",                    /* option */
    "FILE",                     /* metavar */
    "write a JUnit XML report", /* help */
    "report",                   /* noun */
    CO_REPORTER_CLAIMS_STDOUT,  /* flags */
};
