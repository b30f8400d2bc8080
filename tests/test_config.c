/*
 * test_config.c - the config loader (core/config*.c): a complete config
 * loads into the right fields, every kind of mistake gives
 * "file:line:col: key.path: reason" pointing at the right node, ${VAR}
 * interpolation, typed values, and the promise that a password in a URL
 * never shows up in an error message or in `cutover config` output.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutover/cutover.h"
#include "testutil.h"
#include "tu_suite.h"

#define NAME     "cutover.yml"
#define SENTINEL "Sentinel-Pw-7391"

static char err[CO_ERRLEN];

static struct co_config *load(const char *yaml)
{
    snprintf(err, sizeof(err), "not cleared");
    return co_config_load_buf(NAME, yaml, strlen(yaml), err, sizeof(err));
}

static struct co_config *load_ok(const char *yaml)
{
    struct co_config *c = load(yaml);

    ck_assert_ptr_nonnull(c);
    ck_assert_msg(err[0] == '\0', "unexpected error: %s", err);
    return c;
}

/* yaml must fail with "cutover.yml:<where>: ..." holding reason. */
static void expect_error(const char *yaml, const char *where,
                         const char *reason)
{
    struct co_config *c = load(yaml);
    char prefix[256];

    ck_assert_ptr_nonnull(c);
    snprintf(prefix, sizeof(prefix), NAME ":%s", where);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
                  "error \"%s\" does not start with \"%s\"", err, prefix);
    ck_assert_msg(strstr(err, reason) != NULL, "error \"%s\" lacks \"%s\"",
                  err, reason);
    co_config_free(c);
}

static char *dump(const struct co_config *c)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(co_config_dump(c, f), 0);
    fclose(f);
    return out;
}

static const struct co_resource *find(const struct co_config *c,
                                      enum co_kind k, const char *name)
{
    for (size_t i = 0; i < c->nres; i++)
        if (c->res[i].kind == k && strcmp(c->res[i].name, name) == 0)
            return &c->res[i];
    ck_abort_msg("no %s resource %s", co_kind_name(k), name);
    return NULL;
}

/* ---- a complete config ------------------------------------------------ */

START_TEST(full_config_from_file)
{
    char path[1024], ca[1024];
    struct co_config *c;
    const struct co_resource *r;
    const struct co_check_override *o;

    snprintf(path, sizeof(path), "%s/tests/data/config/full.yml",
             tu_source_dir());
    snprintf(ca, sizeof(ca), "%s/tests/data/config/ca.pem", tu_source_dir());
    setenv("CO_TEST_PG_SOURCE", "postgres://u:pgpw-123@127.0.0.1:5432/app", 1);
    unsetenv("CO_TEST_PG_TARGET");
    setenv("CO_TEST_REDIS_SOURCE", "redis://127.0.0.1:6379/0", 1);
    unsetenv("CO_TEST_TOKEN");

    c = co_config_load(path, err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(err[0] == '\0', "unexpected error: %s", err);
    ck_assert_str_eq(c->path, path);
    ck_assert_int_eq(c->version, 1);

    ck_assert_int_eq(c->settings.jobs, 8);
    ck_assert_int_eq(c->settings.timeout_ms, 45000);
    ck_assert_int_eq(c->settings.statement_timeout_ms, 120000);
    ck_assert_uint_eq(c->settings.resolvers.n, 3);
    ck_assert_str_eq(c->settings.resolvers.v[2], "[::1]:53");

    /* grouped by kind, in kind order */
    ck_assert_uint_eq(c->nres, 8);
    for (size_t i = 1; i < c->nres; i++)
        ck_assert_int_le(c->res[i - 1].kind, c->res[i].kind);

    r = find(c, CO_KIND_POSTGRES, "main");
    ck_assert_int_eq(r->line, 9);
    ck_assert_int_eq(r->col, 3);
    ck_assert_str_eq(r->source, "postgres://u:pgpw-123@127.0.0.1:5432/app");
    ck_assert_str_eq(r->target, "postgresql://app@127.0.0.1:5433/app");
    ck_assert_uint_eq(r->schemas.n, 2);
    ck_assert_str_eq(r->schemas.v[1], "billing");
    ck_assert_uint_eq(r->exclude.n, 2);
    ck_assert_str_eq(r->exclude.v[1], "audit.*");
    ck_assert_str_eq(r->ca_file, ca);
    ck_assert_int_eq(r->quiesce_window_ms, 30000);
    ck_assert(!r->tls_verify);
    ck_assert(r->tls);

    r = find(c, CO_KIND_REDIS, "jobs");
    ck_assert_str_eq(r->source, "redis://127.0.0.1:6379/0");
    ck_assert_str_eq(r->target, "rediss://:pw-redis-target@127.0.0.1:6380/0");
    ck_assert(!r->tls_verify);
    ck_assert_str_eq(r->ca_file, ca);
    ck_assert_str_eq(r->queues, "sidekiq");
    ck_assert_uint_eq(r->patterns.n, 2);
    ck_assert_str_eq(r->patterns.v[0], "cache:*");
    ck_assert(r->tls);

    r = find(c, CO_KIND_DOMAIN, "app.example.com");
    ck_assert_int_eq(r->ttl_max, 300);
    ck_assert_str_eq(r->expect_cname, "elb-acme-12345.aptible.in");
    ck_assert_uint_eq(r->resolvers.n, 2);
    ck_assert(r->authoritative);
    ck_assert_uint_eq(r->expect_addresses.n, 2);
    ck_assert_str_eq(r->expect_addresses.v[1], "::1");
    ck_assert(r->expect_acme_cname);

    r = find(c, CO_KIND_ENDPOINT, "web");
    ck_assert_str_eq(r->url, "https://app.example.com/healthz");
    ck_assert_int_eq(r->expect_status, 204);
    ck_assert_int_eq(r->cert_min_days, 30);
    ck_assert_str_eq(r->tls_min_version, "1.3");
    ck_assert_str_eq(r->ca_file, ca);
    ck_assert(r->tls_verify);
    ck_assert_str_eq(r->connect_to, "elb-acme-12345.aptible.in:8443");
    ck_assert_str_eq(r->expect_body, "ok");
    ck_assert_str_eq(r->method, "HEAD");
    ck_assert_uint_eq(r->headers.n, 2);
    ck_assert_str_eq(r->headers.v[0], "X-Request-Source: cutover");
    ck_assert_str_eq(r->headers.v[1],
                     "Authorization: Bearer tok-fixture-1234");
    ck_assert(r->follow_redirects);

    r = find(c, CO_KIND_OUTBOUND, "stripe");
    ck_assert_str_eq(r->address, "api.stripe.com:443");
    ck_assert_str_eq(r->host, "api.stripe.com");
    ck_assert_int_eq(r->port, 443);
    r = find(c, CO_KIND_OUTBOUND, "mailer");
    ck_assert_str_eq(r->address, "[::1]:2525");
    ck_assert_str_eq(r->host, "::1");
    ck_assert_int_eq(r->port, 2525);

    r = find(c, CO_KIND_EGRESS, "egress");
    ck_assert_str_eq(r->url, "http://127.0.0.1:8080/ip");
    ck_assert_uint_eq(r->expect_cidrs.n, 3);
    ck_assert_str_eq(r->expect_cidrs.v[1], "2001:db8::/48");

    r = find(c, CO_KIND_ENV, "app");
    snprintf(ca, sizeof(ca), "%s/tests/data/config/heroku-config.json",
             tu_source_dir());
    ck_assert_str_eq(r->source, ca);
    ck_assert_str_eq(r->target, "/etc/cutover/aptible.env");

    ck_assert_uint_eq(c->noverrides, 1);
    o = co_config_override(c, "tcp.reach");
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_null(co_config_override(c, "pg.rowcount"));
    ck_assert(o->has_phases);
    ck_assert_uint_eq(o->phases, CO_PRE | CO_DRIFT);
    ck_assert(o->has_enabled);
    ck_assert(!o->enabled);
    ck_assert_uint_eq(o->nparams, 1);
    ck_assert_str_eq(o->params[0].name, "timeout");
    ck_assert_int_eq(o->params[0].value.type, CO_P_DURATION);
    ck_assert_int_eq(o->params[0].value.i, 1500);

    co_config_free(c);
}
END_TEST

/* The shipped example must stay loadable: copy it next to the CA files
 * it names and load it with its variables set. */
START_TEST(example_config_loads)
{
    char path[1024];
    char *text, *dir, *cfg;
    struct co_config *c;

    snprintf(path, sizeof(path), "%s/examples/cutover.yml", tu_source_dir());
    text = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    dir = tu_tmpdir();
    free(tu_write_file(dir, "aptible-ca.pem", "x\n"));
    free(tu_write_file(dir, "ca.pem", "x\n"));
    cfg = tu_write_file(dir, "cutover.yml", text);
    setenv("HEROKU_DATABASE_URL", "postgres://u:p1234@127.0.0.1:5432/a", 1);
    setenv("APTIBLE_DATABASE_URL", "postgres://u:p5678@127.0.0.1:5433/a", 1);
    setenv("HEROKU_REDIS_URL", "rediss://:r1234@127.0.0.1:6380", 1);
    setenv("APTIBLE_REDIS_URL", "redis://127.0.0.1:6379", 1);
    c = co_config_load(cfg, err, sizeof(err));
    ck_assert_msg(err[0] == '\0', "example: %s", err);
    ck_assert_uint_ge(c->nres, 7);
    co_config_free(c);
    free(cfg);
    free(dir);
    free(text);
}
END_TEST

/* The three ready configs of the README's three runs load as they are. */
START_TEST(example_runs_load)
{
    static const char *const names[] = {"readiness", "smoke", "drift"};
    char path[1024];

    setenv("HEROKU_DATABASE_URL", "postgres://u:p1234@127.0.0.1:5432/a", 1);
    setenv("APTIBLE_DATABASE_URL", "postgres://u:p5678@127.0.0.1:5433/a", 1);
    setenv("HEROKU_REDIS_URL", "rediss://:r1234@127.0.0.1:6380", 1);
    setenv("APTIBLE_REDIS_URL", "redis://127.0.0.1:6379", 1);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct co_config *c;

        snprintf(path, sizeof(path), "%s/examples/%s.yml", tu_source_dir(),
                 names[i]);
        c = co_config_load(path, err, sizeof(err));
        ck_assert_msg(c != NULL && err[0] == '\0', "%s: %s", names[i], err);
        ck_assert_uint_ge(c->nres, 2);
        co_config_free(c);
    }
    /* drift.yml runs with Heroku gone: no HEROKU_* at all */
    unsetenv("HEROKU_DATABASE_URL");
    unsetenv("HEROKU_REDIS_URL");
    snprintf(path, sizeof(path), "%s/examples/drift.yml", tu_source_dir());
    co_config_free(co_config_load(path, err, sizeof(err)));
    ck_assert_msg(err[0] == '\0', "drift without HEROKU_*: %s", err);
}
END_TEST

START_TEST(defaults)
{
    struct co_config *c = load_ok("postgres:\n"
                                  "  db: {source: \"postgres://h/db\"}\n"
                                  "redis:\n"
                                  "  r: {target: redis://h}\n"
                                  "endpoints:\n"
                                  "  web: {url: http://h/}\n"
                                  "domains:\n"
                                  "  example.com:\n");
    const struct co_resource *r;

    ck_assert_int_eq(c->version, 1);
    ck_assert_int_eq(c->settings.jobs, 4);
    ck_assert_int_eq(c->settings.timeout_ms, 30000);
    ck_assert_int_eq(c->settings.statement_timeout_ms, 60000);
    ck_assert_uint_eq(c->settings.resolvers.n, 0);
    ck_assert_str_eq(c->dir, ".");

    r = find(c, CO_KIND_POSTGRES, "db");
    ck_assert(r->tls_verify);
    ck_assert(!r->tls);
    ck_assert_ptr_null(r->target);
    ck_assert_int_eq(r->quiesce_window_ms, 0);
    r = find(c, CO_KIND_REDIS, "r");
    ck_assert_str_eq(r->queues, "none");
    ck_assert_ptr_null(r->source);
    r = find(c, CO_KIND_ENDPOINT, "web");
    ck_assert_int_eq(r->cert_min_days, 14);
    ck_assert_str_eq(r->tls_min_version, "1.2");
    ck_assert_str_eq(r->method, "GET");
    ck_assert_int_eq(r->expect_status, 0);
    ck_assert(r->tls_verify);
    ck_assert(!r->follow_redirects);
    r = find(c, CO_KIND_DOMAIN, "example.com");
    ck_assert_int_eq(r->ttl_max, -1);
    ck_assert(!r->expect_acme_cname);
    co_config_free(c);

    /* an empty file is an empty config */
    c = load_ok("");
    ck_assert_uint_eq(c->nres, 0);
    co_config_free(c);
    co_config_free(NULL);
}
END_TEST

/* ---- errors: file:line:col: key: reason ------------------------------- */

START_TEST(err_malformed_yaml)
{
    expect_error("version: 1\n"
                 "postgres:\n"
                 "  main: {source: x\n"
                 "  other: 1\n",
                 "4:8: syntax error: ", "did not find expected ',' or '}'");
    expect_error("a: 1\n b: 2\n",
                 "2:3: syntax error: ", "mapping values are not allowed");
    /* a syntax error names no key */
    ck_assert_ptr_null(strstr(err, "a: syntax"));
}
END_TEST

START_TEST(err_unset_variable)
{
    unsetenv("CO_TEST_UNSET_DB");
    expect_error(
        "version: 1\n"
        "postgres:\n"
        "  main:\n"
        "    source: ${CO_TEST_UNSET_DB}\n",
        "4:13: postgres.main.source: ", "${CO_TEST_UNSET_DB} is not set");
    expect_error("settings:\n  jobs: \"${CO_TEST_UNSET_DB\"\n",
                 "2:9: settings.jobs: ", "unterminated \"${\"");
}
END_TEST

START_TEST(err_unknown_key)
{
    expect_error("postgres:\n"
                 "  main:\n"
                 "    source: postgres://h/db\n"
                 "    sorce: postgres://h/db\n",
                 "4:5: postgres.main.sorce: ",
                 "unknown key (did you mean \"source\"?)");
    expect_error("version: 1\npostgress: {}\n", "2:1: postgress: ",
                 "unknown key (did you mean \"postgres\"?)");
    expect_error("settings:\n  zzzzzzzz: 1\n", "2:3: settings.zzzzzzzz: ",
                 "unknown key (expected one of: jobs, timeout, "
                 "statement_timeout, resolvers)");
}
END_TEST

START_TEST(err_bad_duration)
{
    expect_error(
        "settings:\n  jobs: 2\n  timeout: 30 seconds\n",
        "3:12: settings.timeout: ", "expected a duration like 500ms, 30s, 5m");
    ck_assert_ptr_nonnull(strstr(err, "got \"30 seconds\""));
    expect_error("settings:\n  statement_timeout: 0s\n",
                 "2:22: settings.statement_timeout: ", "must be at least 1ms");
}
END_TEST

START_TEST(err_bad_url_scheme)
{
    expect_error("postgres:\n"
                 "  main:\n"
                 "    source: mysql://u:" SENTINEL "@h/db\n",
                 "3:13: postgres.main.source: ",
                 "unsupported URL scheme \"mysql\" (expected postgres or "
                 "postgresql)");
    ck_assert_ptr_null(strstr(err, SENTINEL));
    expect_error("redis:\n  r: {source: 'postgres://h'}\n",
                 "2:15: redis.r.source: ", "(expected redis or rediss)");
    expect_error("endpoints:\n  web:\n    url: app.example.com\n",
                 "3:10: endpoints.web.url: ", "invalid URL: not a URL");
}
END_TEST

START_TEST(err_bad_port)
{
    expect_error("postgres:\n"
                 "  main:\n"
                 "    target: postgres://app:" SENTINEL "@db:99999/app\n",
                 "3:13: postgres.main.target: ", "invalid URL: invalid port");
    ck_assert_ptr_null(strstr(err, SENTINEL));
    expect_error("outbound:\n  stripe: api.stripe.com:70000\n",
                 "2:11: outbound.stripe: ", "bad port (expected 1..65535)");
    expect_error("outbound:\n  stripe: api.stripe.com\n",
                 "2:11: outbound.stripe: ", "missing port");
    expect_error("outbound:\n  v6: ::1:443\n",
                 "2:7: outbound.v6: ", "IPv6 addresses need brackets");
}
END_TEST

START_TEST(err_wrong_type)
{
    expect_error("postgres:\n  main:\n    source: [postgres://h/db]\n",
                 "3:13: postgres.main.source: ", "expected a URL, got a list");
    expect_error("postgres:\n  main:\n    source: postgres://h/db\n"
                 "    schemas: {public: 1}\n",
                 "4:14: postgres.main.schemas: ",
                 "expected a list of strings, got a mapping");
    expect_error("settings: [jobs]\n",
                 "1:11: settings: ", "expected a mapping, got a list");
    expect_error("settings:\n  jobs: 4x\n",
                 "2:9: settings.jobs: ", "expected an integer, got \"4x\"");
    expect_error("settings:\n  jobs: 300\n",
                 "2:9: settings.jobs: ", "out of range (1..256)");
    expect_error(
        "redis:\n  r:\n    source: redis://h\n    tls: maybe\n",
        "4:10: redis.r.tls: ", "expected a bool (true/false/yes/no/on/off)");
    expect_error("redis:\n  r:\n    source: redis://h\n"
                 "    queues: sidekik\n",
                 "4:13: redis.r.queues: ", "did you mean \"sidekiq\"?");
    expect_error(
        "settings:\n  resolvers: [[127.0.0.1]]\n",
        "2:15: settings.resolvers[0]: ", "expected a string, got a list");
    expect_error("version: 2\n", "1:10: version: ", "unsupported version 2");
}
END_TEST

START_TEST(err_duplicate_key)
{
    expect_error("postgres:\n"
                 "  main:\n"
                 "    source: postgres://h/a\n"
                 "    source: postgres://h/b\n",
                 "4:5: postgres.main.source: ",
                 "duplicate key (first at line 3, column 5)");
    expect_error("outbound:\n  a: h:1\n  a: h:2\n",
                 "3:3: outbound.a: ", "duplicate key");
    expect_error("settings: {}\nsettings: {}\n",
                 "2:1: settings: ", "duplicate key");
}
END_TEST

START_TEST(err_missing_required)
{
    expect_error("endpoints:\n  web:\n    method: GET\n",
                 "2:3: endpoints.web.url: ", "required key is missing");
    expect_error("postgres:\n  main:\n    schemas: [public]\n",
                 "2:3: postgres.main: ", "needs a source, a target or both");
    expect_error("postgres:\n  main:\n    source: ${CO_TEST_EMPTY:-}\n",
                 "2:3: postgres.main: ", "needs a source");
    expect_error(
        "domains:\n  a.example:\n    expect_acme_cname: true\n",
        "2:3: domains.a.example.expect_acme_cname: ", "needs expect_cname");
    expect_error("postgres:\n  \"\": {source: postgres://h/db}\n",
                 "2:3: postgres.: ", "resource name must not be empty");
}
END_TEST

START_TEST(err_checks_section)
{
    expect_error("checks:\n  tcp.rech: {}\n", "2:3: checks.tcp.rech: ",
                 "unknown check (did you mean \"tcp.reach\"?)");
    expect_error("checks:\n  tcp.reach:\n    timout: 5s\n",
                 "3:5: checks.tcp.reach.timout: ",
                 "unknown parameter (did you mean \"timeout\"?)");
    expect_error(
        "checks:\n  tcp.reach:\n    timeout: soon\n",
        "3:14: checks.tcp.reach.timeout: ", "expected a duration like 500ms");
    expect_error(
        "checks:\n  tcp.reach:\n    timeout: [5s]\n",
        "3:14: checks.tcp.reach.timeout: ", "expected a duration, got a list");
    expect_error("checks:\n  tcp.reach:\n    phases: [pre, postt]\n",
                 "3:13: checks.tcp.reach.phases: ",
                 "unknown phase \"postt\" (expected pre, post, drift or "
                 "all); did you mean \"post\"?");
    expect_error("checks:\n  tcp.reach:\n    phases: []\n",
                 "3:13: checks.tcp.reach.phases: ", "empty list of phases");
    /* null keeps the default */
    struct co_config *c = load_ok("checks:\n  tcp.reach: {timeout: ~}\n");
    ck_assert_uint_eq(c->overrides[0].nparams, 0);
    ck_assert(!c->overrides[0].has_phases);
    co_config_free(c);
    expect_error("checks:\n  tcp.reach:\n    enabled: nope\n",
                 "3:14: checks.tcp.reach.enabled: ", "expected a bool");
}
END_TEST

START_TEST(err_addresses)
{
    expect_error("egress:\n  url: https://h/ip\n"
                 "  expect_cidrs: [10.0.0.0/8, 10.1.0.0/33]\n",
                 "3:30: egress.expect_cidrs[1]: ", "bad prefix length");
    expect_error("egress:\n  url: https://h/ip\n"
                 "  expect_cidrs: [10.0.0/8]\n",
                 "3:18: egress.expect_cidrs[0]: ", "not a CIDR");
    expect_error("settings:\n  resolvers: [\"127.0.0.1\", 127.0.0.1:0]\n",
                 "2:28: settings.resolvers[1]: ",
                 "not a resolver address (expected ip, ip:port or "
                 "[ipv6]:port)");
    expect_error(
        "domains:\n  x.example:\n    resolvers: [dns.example]\n",
        "3:17: domains.x.example.resolvers[0]: ", "not a resolver address");
    expect_error("domains:\n  x.example:\n    expect_addresses: 10.0.0.1, x\n",
                 "3:23: domains.x.example.expect_addresses: ",
                 "not an IPv4 or IPv6 address (got \"x\")");
    expect_error("domains:\n  bad name.example: {}\n",
                 "2:3: domains.bad name.example: ", "not a valid host name");
}
END_TEST

START_TEST(err_missing_ca_file)
{
    char *dir = tu_tmpdir();
    char name[1024], yaml[512];
    struct co_config *c;

    snprintf(name, sizeof(name), "%s/cutover.yml", dir);
    snprintf(yaml, sizeof(yaml),
             "redis:\n  r:\n    source: rediss://h\n"
             "    ca_file: ./nope.pem\n");
    c = co_config_load_buf(name, yaml, strlen(yaml), err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, ":4:14: redis.r.ca_file: cannot read"));
    ck_assert_ptr_nonnull(strstr(err, "/nope.pem\": No such file"));
    ck_assert_int_eq(strncmp(err, name, strlen(name)), 0);
    co_config_free(c);

    /* found next to the config, not in the working directory */
    free(tu_write_file(dir, "nope.pem", "x"));
    c = co_config_load_buf(name, yaml, strlen(yaml), err, sizeof(err));
    ck_assert_str_eq(err, "");
    ck_assert_ptr_nonnull(strstr(c->res[0].ca_file, dir));
    co_config_free(c);
    free(dir);
}
END_TEST

START_TEST(err_other)
{
    expect_error("version: 1\n---\nversion: 1\n",
                 "3:1: ", "only one YAML document is allowed");
    expect_error("- a\n- b\n",
                 "1:1: ", "expected a mapping of sections at the top level");
    expect_error("endpoints:\n  w:\n    url: https://h\n"
                 "    headers: {\"Bad Header\": x}\n",
                 "4:15: endpoints.w.headers.Bad Header: ",
                 "not a valid HTTP header name");
    expect_error("endpoints:\n  w:\n    url: https://h\n    method: FETCH\n",
                 "4:13: endpoints.w.method: ", "expected one of: GET, HEAD");
    expect_error("endpoints:\n  w:\n    url: https://h\n"
                 "    tls_min_version: 1.4\n",
                 "4:22: endpoints.w.tls_min_version: ",
                 "(expected one of: 1.0, 1.1, 1.2, 1.3)");

    struct co_config *c =
        co_config_load("/nonexistent/cutover.yml", err, sizeof(err));
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(err, "/nonexistent/cutover.yml: cannot open: No such "
                          "file or directory");
    co_config_free(c);
}
END_TEST

/* ---- interpolation ------------------------------------------------------ */

START_TEST(interpolate)
{
    char why[CO_ERRLEN];
    char *s;

    setenv("CO_T_A", "alpha", 1);
    setenv("CO_T_EMPTY", "", 1);
    unsetenv("CO_T_UNSET");

    s = co_interpolate("x-${CO_T_A}-${CO_T_UNSET:-dflt}-$$-${CO_T_EMPTY}-"
                       "${CO_T_EMPTY:-e}-${CO_T_UNSET:-}-$5-$",
                       why, sizeof(why));
    ck_assert_str_eq(s, "x-alpha-dflt-$-"
                        "-e--$5-$");
    free(s);
    s = co_interpolate("$${CO_T_A}", why, sizeof(why));
    ck_assert_str_eq(s, "${CO_T_A}");
    free(s);

    ck_assert_ptr_null(co_interpolate("a ${CO_T_UNSET} b", why, sizeof(why)));
    ck_assert_str_eq(why, "${CO_T_UNSET} is not set");
    ck_assert_ptr_null(co_interpolate("${CO_T_A", why, sizeof(why)));
    ck_assert_ptr_nonnull(strstr(why, "unterminated"));
    ck_assert_ptr_null(
        co_interpolate("${CO_T_UNSET:-${CO_T_A}}", why, sizeof(why)));
    ck_assert_ptr_nonnull(strstr(why, "nested"));
    ck_assert_ptr_null(co_interpolate("${1BAD}", why, sizeof(why)));
    ck_assert_ptr_nonnull(strstr(why, "bad variable reference"));
    ck_assert_ptr_null(co_interpolate("${A:=x}", why, sizeof(why)));
    ck_assert_ptr_null(co_interpolate("${}", why, sizeof(why)));
}
END_TEST

START_TEST(interpolate_in_config)
{
    struct co_config *c;
    const struct co_resource *r;

    setenv("CO_T_HOST", "db.internal", 1);
    unsetenv("CO_T_UNSET");
    /* Keys are never interpolated; values everywhere are. */
    c = load_ok("postgres:\n"
                "  ${CO_T_HOST}:\n"
                "    source: postgres://u@${CO_T_HOST}/app\n"
                "    target: ${CO_T_UNSET:-postgres://u@fallback/app}\n"
                "    schemas: [\"${CO_T_UNSET:-public}\", cost$$]\n"
                "settings:\n"
                "  jobs: ${CO_T_UNSET:-6}\n");
    r = find(c, CO_KIND_POSTGRES, "${CO_T_HOST}");
    ck_assert_str_eq(r->source, "postgres://u@db.internal/app");
    ck_assert_str_eq(r->target, "postgres://u@fallback/app");
    ck_assert_str_eq(r->schemas.v[0], "public");
    ck_assert_str_eq(r->schemas.v[1], "cost$");
    ck_assert_int_eq(c->settings.jobs, 6);
    co_config_free(c);
}
END_TEST

/* ---- secrets -------------------------------------------------------------
 */

START_TEST(secrets_never_leak)
{
    struct co_config *c;
    char *out;

    setenv("CO_T_SECRET_URL", "postgres://app:" SENTINEL "@db:5432/app", 1);
    c = load_ok("postgres:\n"
                "  main:\n"
                "    source: ${CO_T_SECRET_URL}\n"
                "redis:\n"
                "  r:\n"
                "    target: rediss://h:6380/0?password=" SENTINEL "x\n"
                "endpoints:\n"
                "  web:\n"
                "    url: https://h/health?token=" SENTINEL "y\n"
                "    headers: {Authorization: \"Bearer " SENTINEL "z\"}\n");
    out = dump(c);
    ck_assert_msg(strstr(out, "Sentinel") == NULL, "leaked:\n%s", out);
    ck_assert_ptr_nonnull(strstr(out, "postgres://app:***@db:5432/app"));
    ck_assert_ptr_nonnull(strstr(out, "Authorization: Bearer ***"));
    free(out);
    co_config_free(c);

    /* messages that quote values mask them too */
    expect_error("postgres:\n  main:\n"
                 "    source: postgres://u:" SENTINEL "@h:0/db\n",
                 "3:13: postgres.main.source: ", "invalid URL");
    ck_assert_ptr_null(strstr(err, "Sentinel"));
    expect_error("postgres:\n  main:\n"
                 "    source: postgres://u:" SENTINEL "@h/db\n"
                 "    quiesce_window: ${CO_T_SECRET_URL}\n",
                 "4:21: postgres.main.quiesce_window: ",
                 "got \"postgres://app:***@db:5432/app\"");
    ck_assert_ptr_null(strstr(err, "Sentinel"));
    expect_error("postgres:\n  main:\n"
                 "    source: ${CO_T_SECRET_URL}\n"
                 "    schemas: {x: 1}\n",
                 "4:14: ", "expected a list");
    ck_assert_ptr_null(strstr(err, "Sentinel"));
}
END_TEST

START_TEST(dump_resolved)
{
    struct co_config *c, *back;
    char *out;

    c = load_ok("outbound:\n  stripe: api.stripe.com:443\n"
                "egress: {url: \"https://h/ip\", expect_cidrs: [10.0.0.0/8]}\n"
                "endpoints:\n  web: {url: \"https://h/\", expect_body: "
                "\"true\"}\n"
                "checks:\n  tcp.reach: {phases: [all], timeout: 90s}\n");
    out = dump(c);
    ck_assert_ptr_nonnull(strstr(out, "version: 1\n"));
    ck_assert_ptr_nonnull(strstr(out, "  jobs: 4\n"));
    ck_assert_ptr_nonnull(strstr(out, "  timeout: 30s\n"));
    ck_assert_ptr_nonnull(strstr(out, "  statement_timeout: 1m\n"));
    ck_assert_ptr_nonnull(strstr(out, "  resolvers: []\n"));
    ck_assert_ptr_nonnull(strstr(out, "outbound:\n  stripe: "
                                      "api.stripe.com:443\n"));
    ck_assert_ptr_nonnull(strstr(out, "tls_min_version: \"1.2\""));
    ck_assert_ptr_nonnull(strstr(out, "expect_body: \"true\""));
    ck_assert_ptr_nonnull(strstr(out, "phases: [pre, post, drift]"));
    ck_assert_ptr_nonnull(strstr(out, "timeout: 90s"));
    /* endpoints come before outbound, outbound before egress */
    ck_assert(strstr(out, "endpoints:") < strstr(out, "outbound:"));
    ck_assert(strstr(out, "outbound:") < strstr(out, "egress:"));

    /* what it prints reads back as the same config */
    back = co_config_load_buf("dump.yml", out, strlen(out), err, sizeof(err));
    ck_assert_msg(err[0] == '\0', "dump does not load: %s\n%s", err, out);
    ck_assert_uint_eq(back->nres, c->nres);
    ck_assert_str_eq(find(back, CO_KIND_ENDPOINT, "web")->expect_body, "true");
    ck_assert_int_eq(back->overrides[0].params[0].value.i, 90000);
    co_config_free(back);
    free(out);
    co_config_free(c);
}
END_TEST

/* ---- values and names ------------------------------------------------------
 */

START_TEST(value_parse)
{
    struct co_value v;
    char why[CO_ERRLEN];

    ck_assert_int_eq(co_value_parse(CO_P_BOOL, "Yes", &v, why, sizeof(why)),
                     0);
    ck_assert(v.b);
    ck_assert_int_eq(co_value_parse(CO_P_BOOL, "off", &v, why, sizeof(why)),
                     0);
    ck_assert(!v.b);
    ck_assert_int_eq(co_value_parse(CO_P_BOOL, "1", &v, why, sizeof(why)), -1);
    ck_assert_int_eq(co_value_parse(CO_P_INT, "-42", &v, why, sizeof(why)), 0);
    ck_assert_int_eq(v.i, -42);
    ck_assert_int_eq(co_value_parse(CO_P_INT, "42 ", &v, why, sizeof(why)),
                     -1);
    ck_assert_int_eq(co_value_parse(CO_P_INT, " 42", &v, why, sizeof(why)),
                     -1);
    ck_assert_int_eq(
        co_value_parse(CO_P_INT, "99999999999999999999", &v, why, sizeof(why)),
        -1);
    ck_assert_ptr_nonnull(strstr(why, "out of range"));
    ck_assert_int_eq(co_value_parse(CO_P_FLOAT, "0.25", &v, why, sizeof(why)),
                     0);
    ck_assert(v.f == 0.25);
    ck_assert_int_eq(co_value_parse(CO_P_FLOAT, "1e999", &v, why, sizeof(why)),
                     -1);
    ck_assert_int_eq(
        co_value_parse(CO_P_DURATION, "1m30s", &v, why, sizeof(why)), 0);
    ck_assert_int_eq(v.i, 90000);
    ck_assert_int_eq(
        co_value_parse(CO_P_DURATION, "500ms", &v, why, sizeof(why)), 0);
    ck_assert_int_eq(v.i, 500);
    ck_assert_int_eq(
        co_value_parse(CO_P_DURATION, "5 m", &v, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "500ms, 30s, 5m"));
    ck_assert_int_eq(co_value_parse(CO_P_STRING, "x y", &v, why, sizeof(why)),
                     0);
    ck_assert_str_eq(v.s, "x y");
    co_value_free(&v);
    ck_assert_int_eq(co_value_parse(CO_P_LIST, " public.users ,a,, b ", &v,
                                    why, sizeof(why)),
                     0);
    ck_assert_int_eq(v.type, CO_P_LIST);
    ck_assert_uint_eq(v.list.n, 3);
    ck_assert_str_eq(v.list.v[0], "public.users");
    ck_assert_str_eq(v.list.v[2], "b");
    co_value_free(&v);
    ck_assert_int_eq(co_value_parse(CO_P_LIST, "", &v, why, sizeof(why)), 0);
    ck_assert_uint_eq(v.list.n, 0);
    co_value_free(&v);
    co_value_free(NULL);
}
END_TEST

START_TEST(names)
{
    char buf[64];

    ck_assert_str_eq(co_kind_name(CO_KIND_POSTGRES), "postgres");
    ck_assert_str_eq(co_kind_name(CO_KIND_DOMAIN), "domain");
    ck_assert_str_eq(co_kind_name(CO_KIND_ENV), "env");
    ck_assert_int_eq(co_phase_parse("pre"), CO_PRE);
    ck_assert_int_eq(co_phase_parse("drift"), CO_DRIFT);
    ck_assert_int_eq(co_phase_parse("all"), CO_ALL);
    ck_assert_int_eq(co_phase_parse("PRE"), -1);
    ck_assert_str_eq(co_phase_name(CO_POST), "post");
    ck_assert_str_eq(co_phase_name(CO_ALL), "all");
    co_phases_format(CO_PRE | CO_POST, buf, sizeof(buf));
    ck_assert_str_eq(buf, "pre, post");
    co_phases_format(CO_ALL, buf, sizeof(buf));
    ck_assert_str_eq(buf, "pre, post, drift");
    co_phases_format(0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "");
    co_phases_format(CO_ALL, buf, 6);
    ck_assert_str_eq(buf, "pre");
    ck_assert_str_eq(co_ptype_name(CO_P_DURATION), "duration");
    ck_assert_str_eq(co_ptype_name(CO_P_LIST), "list");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_test(tc, full_config_from_file);
    tcase_add_test(tc, example_config_loads);
    tcase_add_test(tc, example_runs_load);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, err_malformed_yaml);
    tcase_add_test(tc, err_unset_variable);
    tcase_add_test(tc, err_unknown_key);
    tcase_add_test(tc, err_bad_duration);
    tcase_add_test(tc, err_bad_url_scheme);
    tcase_add_test(tc, err_bad_port);
    tcase_add_test(tc, err_wrong_type);
    tcase_add_test(tc, err_duplicate_key);
    tcase_add_test(tc, err_missing_required);
    tcase_add_test(tc, err_checks_section);
    tcase_add_test(tc, err_addresses);
    tcase_add_test(tc, err_missing_ca_file);
    tcase_add_test(tc, err_other);
    tcase_add_test(tc, interpolate);
    tcase_add_test(tc, interpolate_in_config);
    tcase_add_test(tc, secrets_never_leak);
    tcase_add_test(tc, dump_resolved);
    tcase_add_test(tc, value_parse);
    tcase_add_test(tc, names);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = config_suite);
