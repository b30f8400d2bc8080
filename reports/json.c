/*
 * json.c - the JSON reporter: the machine-readable contract of
 * doc/DESIGN.md.
 *
 *   {"version":1, "tool":"cutover", "phase":..., "summary":{...},
 *    "checks":[{"check":..., "resource":..., "cases":[{"name", "status",
 *    "message", "source", "target", "duration_ms"}]}]}
 *
 * plus the extra top-level keys tool_version, started_at, duration_ms and
 * exit_code, and under --shard I/N "shard": {"index": I, "total": N}. One
 * "checks" entry per result, in report order. jansson refuses strings that are
 * not valid UTF-8 (json_string returns NULL), so every string goes through
 * co_utf8_sanitize first: a case is never lost because a table name holds odd
 * bytes.
 */
#include <errno.h>
#include <stdlib.h>

#include <jansson.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

/* A JSON string for s (sanitized), or JSON null when s is NULL. */
static json_t *jstr(const char *s)
{
    char *clean;
    json_t *v;

    if (s == NULL)
        return json_null();
    clean = co_utf8_sanitize(s);
    v = json_string(clean);
    free(clean);
    return v;
}

static json_t *jms(double ms)
{
    return json_integer((json_int_t)co_ms_round(ms));
}

/* Adds key -> v; jansson takes v (also on failure, freeing it). */
static int jset(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v);
}

/* o once every jset on it succeeded (rc 0); else NULL, o freed. */
static json_t *jdone(json_t *o, int rc)
{
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *case_json(const struct co_case *c)
{
    json_t *o = json_object();
    int rc = 0;

    if (o == NULL)
        return NULL;
    rc |= jset(o, "name", jstr(c->name ? c->name : ""));
    rc |= jset(o, "status", json_string(co_status_name(c->status)));
    rc |= jset(o, "message", jstr(c->message ? c->message : ""));
    rc |= jset(o, "source", jstr(c->source));
    rc |= jset(o, "target", jstr(c->target));
    rc |= jset(o, "duration_ms", jms(c->duration_ms));
    return jdone(o, rc);
}

static json_t *result_json(const struct co_result *r)
{
    json_t *o = json_object(), *cases = json_array();
    int rc = 0;
    size_t i;

    if (o == NULL || cases == NULL) {
        json_decref(o);
        json_decref(cases);
        return NULL;
    }
    for (i = 0; i < r->ncases && rc == 0; i++)
        rc |= json_array_append_new(cases, case_json(&r->cases[i]));
    rc |= jset(o, "check", jstr(r->check ? r->check : ""));
    rc |= jset(o, "resource", jstr(r->resource ? r->resource : ""));
    rc |= jset(o, "cases", cases);
    return jdone(o, rc);
}

static json_t *summary_json(const struct co_report *rep)
{
    struct co_summary s;
    json_t *o = json_object();
    int rc = 0;

    if (o == NULL)
        return NULL;
    co_report_summary(rep, &s);
    rc |= jset(o, "passed", json_integer((json_int_t)s.passed));
    rc |= jset(o, "warned", json_integer((json_int_t)s.warned));
    rc |= jset(o, "failed", json_integer((json_int_t)s.failed));
    rc |= jset(o, "errors", json_integer((json_int_t)s.errors));
    rc |= jset(o, "skipped", json_integer((json_int_t)s.skipped));
    return jdone(o, rc);
}

static json_t *report_json(const struct co_report *rep)
{
    json_t *o = json_object(), *checks = json_array();
    char stamp[32];
    int rc = 0;
    size_t i;

    if (o == NULL || checks == NULL) {
        json_decref(o);
        json_decref(checks);
        return NULL;
    }
    co_fmt_utc(rep->started, true, stamp, sizeof stamp);
    for (i = 0; i < rep->nresults && rc == 0; i++)
        rc |= json_array_append_new(checks, result_json(&rep->results[i]));
    rc |= jset(o, "version", json_integer(1));
    rc |= jset(o, "tool", json_string("cutover"));
    rc |= jset(o, "tool_version", jstr(rep->tool_version));
    rc |= jset(o, "phase", jstr(rep->phase));
    if (rep->nshards > 0) /* --shard I/N */
        rc |= jset(o, "shard",
                   json_pack("{s:i, s:i}", "index", rep->shard, "total",
                             rep->nshards));
    rc |= jset(o, "started_at", json_string(stamp));
    rc |= jset(o, "duration_ms", jms(rep->duration_ms));
    rc |= jset(o, "exit_code", json_integer(co_report_exit_code(rep)));
    rc |= jset(o, "summary", summary_json(rep));
    rc |= jset(o, "checks", checks);
    return jdone(o, rc);
}

static int json_write(const struct co_report *rep,
                      const struct co_report_opts *opts, FILE *out)
{
    json_t *root;
    int rc;

    (void)opts;
    root = report_json(rep);
    if (root == NULL) {
        errno = ENOMEM;
        return -1;
    }
    errno = 0;
    rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return co_report_written(out, rc != 0 || fputc('\n', out) == EOF);
}

const struct co_reporter co_reporter_json = {
    "json",                    /* name */
    json_write,                /* write */
    "json",                    /* option */
    "FILE",                    /* metavar */
    "write a JSON report",     /* help */
    "report",                  /* noun */
    CO_REPORTER_CLAIMS_STDOUT, /* flags */
};
