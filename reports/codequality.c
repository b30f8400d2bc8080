/*
 * codequality.c - a GitLab Code Quality report (`artifacts: reports:
 * codequality:`), so findings reach the merge request widget without a
 * JUnit consumer: a JSON array of CodeClimate issues, one per case that
 * did not pass or skip.
 *
 *   [{"type":"issue", "check_name":"pg.rowcount",
 *     "description":"pg.rowcount main/public.orders (post): ...",
 *     "categories":["Bug Risk"], "severity":"major",
 *     "fingerprint":"<sha-256 hex>",
 *     "location":{"path":"cutover.yml","lines":{"begin":12}}}]
 *
 * GitLab reads description, check_name, fingerprint, severity and
 * location. Severity: fail -> major, error (could not check) ->
 * critical, warn -> minor. The location is the config file at the line
 * that declares the resource (line 1 when unknown): the finding belongs
 * to what the config describes, never to an unrelated file.
 *
 * The fingerprint is what GitLab compares between the base and the head
 * of a merge request to tell new findings from fixed ones, so it is
 * stable (the same phase, check, resource and case give the same one
 * whatever the verdict or the message) and unique in the file (a
 * repeated case gets its occurrence number hashed in).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "cutover/result.h"
#include "cutover/util.h"
#include "reports.h"

static const char *severity(enum co_status st)
{
    switch (st) {
    case CO_FAIL:
        return "major";
    case CO_ERROR:
        return "critical";
    case CO_WARN:
        return "minor";
    default:
        return NULL;
    }
}

/* SHA-256 of the NUL-separated fields, as 64 hex digits into out[65]. */
static void fingerprint(const char *const *fields, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    size_t k;

    for (k = 0; ok && k < n; k++)
        ok = EVP_DigestUpdate(ctx, fields[k], strlen(fields[k]) + 1) == 1;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        mdlen = 0; /* out of memory: the caller sees an empty print */
    for (i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[2 * i] = '\0';
}

/* The config file as GitLab wants it: relative to the repository root.
 * "./" is dropped, and an absolute path inside $CI_PROJECT_DIR made
 * relative to it. */
static const char *location_path(const struct co_report *rep)
{
    const char *p = rep->config_path ? rep->config_path : "cutover.yml";
    const char *root = getenv("CI_PROJECT_DIR");
    size_t n = root ? strlen(root) : 0;

    if (p[0] == '/' && n > 1 && strncmp(p, root, n) == 0 && p[n] == '/')
        p += n + 1;
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    return p;
}

/* One line: the title, the phase, the message and the values. */
static char *description(const struct co_report *rep,
                         const struct co_result *r, const struct co_case *c)
{
    char *title = co_report_title(r, c);
    char *msg = co_report_case_message(c);
    struct co_buf b;
    char *out, *p;

    co_buf_init(&b);
    co_buf_addf(&b, "%s (%s): %s", title, rep->phase ? rep->phase : "all",
                msg);
    if (c->source != NULL || c->target != NULL)
        co_buf_addf(&b, " (source: %s, target: %s)",
                    c->source ? c->source : "-", c->target ? c->target : "-");
    free(msg);
    free(title);
    out = co_utf8_sanitize(b.s ? b.s : "");
    co_buf_free(&b);
    for (p = out; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return out;
}

/* A fingerprint not yet in `seen` (a JSON object used as a set). */
static void unique_print(json_t *seen, const struct co_report *rep,
                         const struct co_result *r, const struct co_case *c,
                         char out[65])
{
    char occ[32] = "";
    const char *f[6] = {"cutover",
                        rep->phase ? rep->phase : "",
                        r->check ? r->check : "",
                        r->resource ? r->resource : "",
                        c->name ? c->name : "",
                        occ};
    unsigned k;

    fingerprint(f, 6, out);
    for (k = 2; json_object_get(seen, out) != NULL; k++) {
        snprintf(occ, sizeof occ, "%u", k);
        fingerprint(f, 6, out);
    }
    json_object_set_new(seen, out, json_true());
}

static json_t *issue(json_t *seen, const struct co_report *rep,
                     const struct co_result *r, const struct co_case *c)
{
    char *desc = description(rep, r, c);
    char *check = co_utf8_sanitize(r->check ? r->check : "");
    char *path = co_utf8_sanitize(location_path(rep));
    char fp[65];
    json_t *o;

    unique_print(seen, rep, r, c, fp);
    o = json_pack("{s:s, s:s, s:s, s:[s], s:s, s:s, s:{s:s, s:{s:i}}}", "type",
                  "issue", "check_name", check, "description", desc,
                  "categories", "Bug Risk", "severity", severity(c->status),
                  "fingerprint", fp, "location", "path", path, "lines",
                  "begin", r->line > 0 ? r->line : 1);
    free(path);
    free(check);
    free(desc);
    return o;
}

static int codequality_write(const struct co_report *rep,
                             const struct co_report_opts *opts, FILE *out)
{
    json_t *root = json_array(), *seen = json_object(), *o;
    const struct co_result *r;
    size_t i, k;
    int rc = root && seen ? 0 : -1;

    (void)opts;
    for (i = 0; i < rep->nresults && rc == 0; i++) {
        r = &rep->results[i];
        for (k = 0; k < r->ncases && rc == 0; k++) {
            if (severity(r->cases[k].status) == NULL)
                continue;
            o = issue(seen, rep, r, &r->cases[k]);
            if (o == NULL || json_array_append_new(root, o) != 0)
                rc = -1;
        }
    }
    errno = 0;
    if (rc == 0)
        rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (rc == 0 && (fputc('\n', out) == EOF || ferror(out)))
        rc = -1;
    if (rc != 0 && errno == 0)
        errno = ENOMEM;
    json_decref(seen);
    json_decref(root);
    return rc;
}

const struct co_reporter co_reporter_codequality = {
    "codequality",                        /* name */
    codequality_write,                    /* write */
    "codequality",                        /* option */
    "FILE",                               /* metavar */
    "write a GitLab Code Quality report", /* help */
    "report",                             /* noun */
    CO_REPORTER_CLAIMS_STDOUT,            /* flags */
};
