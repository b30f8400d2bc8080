/*
 * result.c - the result model: statuses, their precedence, cases,
 * summaries and the exit code doc/DESIGN.md promises.
 */
#include "cutover/result.h"

#include <stdlib.h>

#include "cutover/util.h"

static const char *const status_names[CO_NSTATUS] = {
    [CO_PASS] = "pass",   [CO_WARN] = "warn", [CO_FAIL] = "fail",
    [CO_ERROR] = "error", [CO_SKIP] = "skip",
};

/* Higher ranks win. "Looked and it is wrong" (fail) outranks "could not
 * look" (error): a person must fix the first either way. */
static const int status_rank[CO_NSTATUS] = {
    [CO_SKIP] = 0, [CO_PASS] = 1, [CO_WARN] = 2, [CO_ERROR] = 3, [CO_FAIL] = 4,
};

const char *co_status_name(enum co_status s)
{
    return (unsigned)s < CO_NSTATUS ? status_names[s] : "unknown";
}

enum co_status co_status_worse(enum co_status a, enum co_status b)
{
    return status_rank[a] >= status_rank[b] ? a : b;
}

void co_result_add(struct co_result *r, enum co_status st, const char *name,
                   const char *message, const char *source, const char *target,
                   double duration_ms)
{
    struct co_case *c;

    if (r->ncases == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->cases = co_realloc(r->cases, r->cap * sizeof(*r->cases));
    }
    c = &r->cases[r->ncases++];
    c->name = co_strdup(name ? name : "");
    c->status = st;
    c->message = co_strdup(message ? message : "");
    c->source = co_strdup(source);
    c->target = co_strdup(target);
    c->duration_ms = duration_ms < 0 ? 0 : duration_ms;
}

void co_result_free(struct co_result *r)
{
    for (size_t i = 0; i < r->ncases; i++) {
        free(r->cases[i].name);
        free(r->cases[i].message);
        free(r->cases[i].source);
        free(r->cases[i].target);
    }
    free(r->cases);
    free(r->source);
    free(r->target);
    r->cases = NULL;
    r->ncases = r->cap = 0;
    r->source = r->target = NULL;
}

void co_report_free(struct co_report *rep)
{
    if (rep == NULL)
        return;
    for (size_t i = 0; i < rep->nresults; i++)
        co_result_free(&rep->results[i]);
    free(rep->results);
    rep->results = NULL;
    rep->nresults = 0;
}

void co_report_summary(const struct co_report *rep, struct co_summary *out)
{
    size_t *slot[CO_NSTATUS] = {
        [CO_PASS] = &out->passed,  [CO_WARN] = &out->warned,
        [CO_FAIL] = &out->failed,  [CO_ERROR] = &out->errors,
        [CO_SKIP] = &out->skipped,
    };

    out->passed = out->warned = out->failed = out->errors = 0;
    out->skipped = 0;
    for (size_t i = 0; i < rep->nresults; i++)
        for (size_t j = 0; j < rep->results[i].ncases; j++)
            (*slot[rep->results[i].cases[j].status])++;
}

int co_report_exit_code(const struct co_report *rep)
{
    struct co_summary s;

    co_report_summary(rep, &s);
    if (s.failed || (rep->strict && s.warned))
        return 1;
    if (s.errors || co_summary_nothing_checked(&s))
        return 2;
    return 0;
}

bool co_summary_nothing_checked(const struct co_summary *s)
{
    return s->passed + s->warned + s->failed + s->errors == 0;
}
