/*
 * label: net
 * test_hostile.c - hostile peers: servers that speak garbage, stop
 * mid-reply, announce huge replies or accept and never answer, on the
 * PostgreSQL, Redis, TLS, HTTP and DNS paths (ci/testbed/hostile.py, on
 * free ports in 45500-45559). Each test runs `cutover check --timeout 3s`
 * on a config holding one resource per behaviour plus one healthy
 * resource of the test bed, and asserts:
 *  - every hostile resource gets cases that are not `pass`, and the
 *    case that says why names the reason (assert words);
 *  - the layers honour the deadline themselves: the run ends within the
 *    timeout plus the runner's grace, and no task had to be sealed by
 *    the runner ("did not finish within");
 *  - the healthy resource still checks out (no error, no fail);
 *  - the exit code (2: could not check; 1 where a check's own policy
 *    makes an unreachable endpoint a failure), and the JSON and JUnit
 *    reports parse, the JUnit against both schemas in tests/data/junit;
 *  - no crash (a signal would be exit 128+n) and no secret in any output.
 *
 * PostgreSQL and Redis failures are "could not check" (`error`). An
 * endpoint that answers something that is not TLS or HTTP has failed
 * (`fail`: tls.cert's and http.probe's subject answered wrongly); one that
 * never answers in time was not looked at (`error`), as the README's
 * "fail or error" table says. A DNS reply that cannot be parsed is "could
 * not check" (`error`), unlike a real SERVFAIL.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define W(...) TU_WORDS(__VA_ARGS__)
#define N(a)   (sizeof(a) / sizeof((a)[0]))

/* The password hostile URLs carry: it must stay out of every output. */
#define HOSTILE_PW "hostile-sentinel-pw-5d2a"
#define TIMEOUT_S  3
/* Timeout, the runner's 2 s grace before it seals a task, and slack for
 * a loaded CI machine. */
#define MAX_RUN_MS ((TIMEOUT_S + 2 + 3) * 1000)
#define MAX_PEERS  16

/* ---- the hostile peers ------------------------------------------------ */

struct peers {
    pid_t pid;
    int in; /* their stdin: closing it ends them */
    size_t n;
    char spec[MAX_PEERS][40];
    int port[MAX_PEERS];
};

/* One line from fd (blocking, bounded by deadline); "" at EOF. */
static void read_line(int fd, char *line, size_t len, int64_t deadline)
{
    size_t n = 0;

    while (n + 1 < len) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - co_now_ms();
        char c;
        ssize_t got;

        ck_assert_msg(left > 0, "hostile.py did not start in time");
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || c == '\n')
            break;
        line[n++] = c;
    }
    line[n] = '\0';
}

/* Starts ci/testbed/hostile.py with specs (NULL-ended) and reads the
 * port each one got. */
static void peers_start(struct peers *p, const char *const *specs)
{
    int in[2], out[2];
    char *script = co_asprintf("%s/ci/testbed/hostile.py", tu_source_dir());
    int64_t deadline = co_now_ms() + 20000;
    size_t n = 0;

    memset(p, 0, sizeof(*p));
    while (specs[n] != NULL)
        n++;
    ck_assert_int_le(n, MAX_PEERS);
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        const char **argv = calloc(n + 5, sizeof(*argv));
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        argv[0] = "python3";
        argv[1] = script;
        argv[2] = "--range";
        argv[3] = "45500-45559";
        for (size_t i = 0; i < n; i++)
            argv[4 + i] = specs[i];
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    /* cutover, run later, must not hold the peers' stdin open. */
    fcntl(in[1], F_SETFD, FD_CLOEXEC);
    p->in = in[1];
    for (;;) {
        char line[128], *sp;
        read_line(out[0], line, sizeof(line), deadline);
        if (strcmp(line, "ready") == 0)
            break;
        sp = strchr(line, ' ');
        ck_assert_msg(sp != NULL && p->n < MAX_PEERS, "hostile.py said \"%s\"",
                      line);
        *sp = '\0';
        snprintf(p->spec[p->n], sizeof(p->spec[0]), "%s", line);
        p->port[p->n] = (int)strtol(sp + 1, NULL, 10);
        p->n++;
    }
    close(out[0]);
    ck_assert_int_eq(p->n, n);
    free(script);
}

static int peers_port(const struct peers *p, const char *spec)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->spec[i], spec) == 0)
            return p->port[i];
    ck_abort_msg("no peer %s", spec);
    return -1;
}

static void peers_stop(struct peers *p)
{
    int st;

    close(p->in);
    for (int i = 0; i < 50; i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid)
            return;
        usleep(100 * 1000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
}

/* ---- expectations ------------------------------------------------------ */

/* What one hostile resource must show: the check whose case `name` says
 * why (status and words), and what every other case may be. */
struct want {
    const char *spec;     /* hostile.py PROTO:BEHAVIOUR */
    const char *check;    /* the check holding the telling case */
    const char *name;     /* that case; NULL: the resource's first case */
    const char *status;   /* its status */
    const char *words[4]; /* words its message holds */
};

/* The resource named after a spec: "pg:huge-row" -> "pg-huge-row". */
static void res_name(const char *spec, char *out, size_t len)
{
    snprintf(out, len, "%s", spec);
    for (char *c = out; *c; c++)
        if (*c == ':')
            *c = '-';
}

/* Every case of every check on resource: no pass; error or fail only
 * where allowed (skip is fine: a check that has nothing to look at). */
static void expect_no_pass(const struct tu_outcome *o, const char *resource,
                           bool fail_ok)
{
    json_t *checks = json_object_get(o->report, "checks"), *c, *k;
    size_t i, j, seen = 0;

    json_array_foreach(checks, i, c)
    {
        if (strcmp(tu_field(c, "resource"), resource) != 0)
            continue;
        json_array_foreach(json_object_get(c, "cases"), j, k)
        {
            const char *st = tu_field(k, "status");
            ck_assert_msg(strcmp(st, "error") == 0 ||
                              strcmp(st, "skip") == 0 ||
                              (fail_ok && strcmp(st, "fail") == 0),
                          "%s %s/%s: %s: %s", tu_field(c, "check"), resource,
                          tu_field(k, "name"), st, tu_field(k, "message"));
            seen++;
        }
    }
    ck_assert_msg(seen > 0, "no case on %s: %s", resource, o->text);
}

/* The healthy resource: something passed, nothing failed or errored. */
static void expect_healthy(const struct tu_outcome *o, const char *resource)
{
    json_t *checks = json_object_get(o->report, "checks"), *c, *k;
    size_t i, j, passed = 0;

    json_array_foreach(checks, i, c)
    {
        if (strcmp(tu_field(c, "resource"), resource) != 0)
            continue;
        json_array_foreach(json_object_get(c, "cases"), j, k)
        {
            const char *st = tu_field(k, "status");
            ck_assert_msg(strcmp(st, "error") != 0 && strcmp(st, "fail") != 0,
                          "healthy %s %s: %s: %s", tu_field(c, "check"),
                          tu_field(k, "name"), st, tu_field(k, "message"));
            passed += strcmp(st, "pass") == 0;
        }
    }
    ck_assert_msg(passed > 0, "nothing passed on %s: %s", resource, o->text);
}

/* The case of w->check on resource that says why. */
static void expect_reason(const struct tu_outcome *o, const char *resource,
                          const struct want *w)
{
    json_t *all = tu_need_cases(o, w->check, resource), *c;
    const char *msg;

    c = w->name ? tu_case(o, w->check, resource, w->name)
                : json_array_get(all, 0);
    ck_assert_msg(c != NULL, "%s %s: no case %s: %s", w->check, resource,
                  w->name ? w->name : "(first)", o->text);
    msg = tu_field(c, "message");
    ck_assert_msg(strcmp(tu_field(c, "status"), w->status) == 0,
                  "%s %s/%s: want %s, got %s: %s", w->check, resource,
                  tu_field(c, "name"), w->status, tu_field(c, "status"), msg);
    for (size_t i = 0; i < N(w->words) && w->words[i]; i++)
        ck_assert_msg(strstr(msg, w->words[i]) != NULL,
                      "%s %s: \"%s\" not in \"%s\"", w->check, resource,
                      w->words[i], msg);
}

/* Nothing was sealed by the runner: every layer gave up on its own. */
static void expect_no_seal(const struct tu_outcome *o)
{
    char *dump = json_dumps(o->report, 0);

    ck_assert_msg(strstr(dump, "did not finish within") == NULL,
                  "a task overran its deadline and was sealed: %s", o->text);
    free(dump);
}

/* xmllint against both JUnit schemas; no test-bed secret in the file. */
static void expect_junit_valid(const char *path)
{
    static const char *const xsd[] = {"ant-junit-windyroad.xsd",
                                      "jenkins-junit-10.xsd"};
    static const char *const secrets[] = {"CUTOVER_TB_PG_PASSWORD",
                                          "CUTOVER_TB_REDIS_PASSWORD"};
    char *body = tu_read_file(path, NULL);

    ck_assert_msg(body != NULL, "no JUnit report %s", path);
    for (size_t i = 0; i < N(secrets); i++) {
        const char *pw = tu_tb(secrets[i]);
        ck_assert_msg(pw == NULL || strstr(body, pw) == NULL,
                      "%s leaked in %s", secrets[i], path);
    }
    ck_assert_msg(strstr(body, HOSTILE_PW) == NULL, "password in %s", path);
    free(body);
    for (size_t i = 0; i < N(xsd); i++) {
        char *out = NULL;
        char *cmd = co_asprintf("xmllint --noout --nonet --schema '%s/%s'"
                                " '%s' 2>&1",
                                tu_xsd_dir(), xsd[i], path);
        int rc = tu_sh(cmd, &out);
        ck_assert_msg(rc == 0, "%s: %s", cmd, out ? out : "");
        free(out);
        free(cmd);
    }
}

/* Runs cutover on cfg (the hostile resources are in it) and checks all
 * of the above. fail_ok: checks may say `fail` for hostile resources
 * (then the exit code is 1, else 2). */
static void run_hostile(const char *cfg, const struct want *wants,
                        size_t nwants, const char *healthy, bool fail_ok)
{
    char *dir = tu_tmpdir();
    char *junit = co_asprintf("%s/junit.xml", dir);
    char timeout[16];
    const char *args[] = {"--phase", "all",     "--timeout", timeout, "--jobs",
                          "128",     "--junit", junit,       NULL};
    struct tu_outcome o;

    snprintf(timeout, sizeof(timeout), "%ds", TIMEOUT_S);
    tu_check_run_hiding(cfg, args, NULL, 60, HOSTILE_PW, &o);
    ck_assert_msg(o.status == (fail_ok ? 1 : 2), "exit %d: %.3000s", o.status,
                  o.text);
    ck_assert_msg(o.took_ms < MAX_RUN_MS, "took %lld ms (limit %d): %s",
                  (long long)o.took_ms, MAX_RUN_MS, o.text);
    expect_no_seal(&o);
    expect_healthy(&o, healthy);
    for (size_t i = 0; i < nwants; i++) {
        char res[64];
        res_name(wants[i].spec, res, sizeof(res));
        expect_no_pass(&o, res, fail_ok);
        expect_reason(&o, res, &wants[i]);
    }
    expect_junit_valid(junit);
    tu_outcome_free(&o);
    free(junit);
    free(dir);
}

/* The specs of wants, NULL-ended (for peers_start). */
static const char **specs_of(const struct want *wants, size_t n)
{
    const char **s = calloc(n + 1, sizeof(*s));

    for (size_t i = 0; i < n; i++)
        s[i] = wants[i].spec;
    return s;
}

/* ---- PostgreSQL ------------------------------------------------------- */

static const struct want pg_wants[] = {
    {"pg:ssl-garbage",
     "pg.connect",
     "source",
     "error",
     {"TLS", "invalid response to SSL negotiation"}},
    {"pg:ssl-no",
     "pg.connect",
     "source",
     "error",
     {"TLS", "server does not support SSL"}},
    {"pg:ssl-yes-garbage",
     "pg.connect",
     "source",
     "error",
     {"TLS", "SSL error"}},
    {"pg:garbage",
     "pg.connect",
     "source",
     "error",
     {"expected authentication request"}},
    {"pg:auth-partial",
     "pg.connect",
     "source",
     "error",
     {"timed out", "connecting"}},
    {"pg:auth-close",
     "pg.connect",
     "source",
     "error",
     {"server closed the connection unexpectedly"}},
    {"pg:huge-row", "pg.connect", "source", "error", {"connection lost"}},
    {"pg:close-mid-row",
     "pg.connect",
     "source",
     "error",
     {"connection lost", "closed the connection"}},
    {"pg:silent", "pg.connect", "source", "error", {"timed out"}},
};

START_TEST(postgres_peers)
{
    struct peers p;
    const char **specs = specs_of(pg_wants, N(pg_wants));
    struct co_buf cfg;

    peers_start(&p, specs);
    co_buf_init(&cfg);
    co_buf_puts(&cfg, "version: 1\n"
                      "postgres:\n"
                      "  healthy:\n"
                      "    source: ${CUTOVER_TB_PG_SOURCE_URL}\n"
                      "    target: ${CUTOVER_TB_PG_TARGET_URL}\n"
                      "    ca_file: ${CUTOVER_TB_CA}\n");
    for (size_t i = 0; i < N(pg_wants); i++) {
        char res[64], *url;
        /* SSL behaviours need libpq to insist on TLS; the others answer
         * 'N' and get a plain session. */
        const char *mode = strncmp(pg_wants[i].spec, "pg:ssl-", 7) == 0
                               ? "require"
                               : "prefer";
        res_name(pg_wants[i].spec, res, sizeof(res));
        url = co_asprintf("postgres://cutover:" HOSTILE_PW
                          "@127.0.0.1:%d/db?sslmode=%s",
                          peers_port(&p, pg_wants[i].spec), mode);
        co_buf_addf(&cfg, "  %s: {source: \"%s\", target: \"%s\"}\n", res, url,
                    url);
        free(url);
    }
    run_hostile(cfg.s, pg_wants, N(pg_wants), "healthy", false);
    peers_stop(&p);
    co_buf_free(&cfg);
    free(specs);
}
END_TEST

/* ---- Redis, plain and TLS --------------------------------------------- */

static const struct want redis_wants[] = {
    {"redis:garbage-auth",
     "redis.connect",
     "source",
     "error",
     {"not RESP", "Protocol error"}},
    {"redis:garbage",
     "redis.connect",
     "source",
     "error",
     {"not RESP", "Protocol error"}},
    {"redis:huge-bulk",
     "redis.connect",
     "source",
     "error",
     {"timed out waiting for a reply"}},
    {"redis:neg-array",
     "redis.connect",
     "source",
     "error",
     {"not RESP", "out of range"}},
    {"redis:huge-array",
     "redis.connect",
     "source",
     "error",
     {"2147483647 elements", "refused"}},
    {"redis:close-mid",
     "redis.connect",
     "source",
     "error",
     {"connection closed by the server"}},
    {"redis:silent",
     "redis.connect",
     "source",
     "error",
     {"timed out waiting for a reply to AUTH"}},
    {"tls:garbage",
     "redis.connect",
     "source",
     "error",
     {"TLS handshake failed"}},
    {"tls:huge-record",
     "redis.connect",
     "source",
     "error",
     {"TLS handshake failed"}},
    {"tls:close",
     "redis.connect",
     "source",
     "error",
     {"TLS handshake failed"}},
    {"tls:silent",
     "redis.connect",
     "source",
     "error",
     {"timed out", "TLS handshake"}},
};

/* A test-bed Redis URL on db 11, where nothing plants data. */
static char *redis_db11(const char *var)
{
    const char *url = tu_tb(var);
    const char *slash = strrchr(url, '/');

    return co_asprintf("%.*s/11", (int)(slash - url), url);
}

START_TEST(redis_peers)
{
    struct peers p;
    const char **specs = specs_of(redis_wants, N(redis_wants));
    char *src = redis_db11("CUTOVER_TB_REDIS_SOURCE_URL");
    char *tgt = redis_db11("CUTOVER_TB_REDIS_TARGET_URL");
    struct co_buf cfg;

    peers_start(&p, specs);
    co_buf_init(&cfg);
    co_buf_addf(&cfg,
                "version: 1\n"
                "redis:\n"
                "  healthy:\n"
                "    source: \"%s\"\n"
                "    target: \"%s\"\n"
                "    queues: sidekiq\n",
                src, tgt);
    for (size_t i = 0; i < N(redis_wants); i++) {
        char res[64], *url;
        bool tls = strncmp(redis_wants[i].spec, "tls:", 4) == 0;
        res_name(redis_wants[i].spec, res, sizeof(res));
        url = co_asprintf("%s://:" HOSTILE_PW "@127.0.0.1:%d/0",
                          tls ? "rediss" : "redis",
                          peers_port(&p, redis_wants[i].spec));
        /* A ca_file: the system store costs ~75 ms of CPU per TLS
         * context (OpenSSL 3), which dozens of parallel tasks notice. */
        co_buf_addf(&cfg,
                    "  %s: {source: \"%s\", target: \"%s\", queues: "
                    "sidekiq, patterns: [\"a:*\"]%s}\n",
                    res, url, url,
                    tls ? ", ca_file: \"${CUTOVER_TB_CA}\"" : "");
        free(url);
    }
    run_hostile(cfg.s, redis_wants, N(redis_wants), "healthy", false);
    peers_stop(&p);
    co_buf_free(&cfg);
    free(specs);
    free(src);
    free(tgt);
}
END_TEST

/* ---- HTTP and TLS endpoints ------------------------------------------- */

static const struct want endpoint_wants[] = {
    {"tls:garbage", "tls.cert", NULL, "fail", {"TLS handshake failed"}},
    {"tls:huge-record", "tls.cert", NULL, "fail", {"TLS handshake failed"}},
    {"tls:close", "tls.cert", NULL, "fail", {"TLS handshake failed"}},
    {"tls:silent", "tls.cert", NULL, "error", {"TLS handshake timed out"}},
    {"http:garbage-status", "http.probe", NULL, "fail", {"HTTP/0.9"}},
    {"http:endless-headers",
     "http.probe",
     NULL,
     "fail",
     {"Too large response headers"}},
    {"http:slow-headers", "http.probe", NULL, "error", {"timed out"}},
    {"http:endless-body", "http.probe", NULL, "error", {"timed out"}},
    {"http:huge-length", "http.probe", NULL, "error", {"timed out"}},
    {"http:close", "http.probe", NULL, "fail", {"Empty reply"}},
    {"http:silent", "http.probe", NULL, "error", {"timed out"}},
};

START_TEST(endpoint_peers)
{
    struct peers p;
    const char **specs = specs_of(endpoint_wants, N(endpoint_wants));
    struct co_buf cfg;

    peers_start(&p, specs);
    co_buf_init(&cfg);
    co_buf_puts(&cfg, "version: 1\n"
                      "endpoints:\n"
                      "  healthy: {url: \"${CUTOVER_TB_HTTP}/healthz\"}\n");
    for (size_t i = 0; i < N(endpoint_wants); i++) {
        char res[64];
        bool tls = strncmp(endpoint_wants[i].spec, "tls:", 4) == 0;
        res_name(endpoint_wants[i].spec, res, sizeof(res));
        /* The secret rides in the query string, which is masked. */
        co_buf_addf(&cfg,
                    "  %s: {url: \"%s://127.0.0.1:%d/healthz?token=" HOSTILE_PW
                    "\", ca_file: \"${CUTOVER_TB_CA}\"}\n",
                    res, tls ? "https" : "http",
                    peers_port(&p, endpoint_wants[i].spec));
    }
    run_hostile(cfg.s, endpoint_wants, N(endpoint_wants), "healthy", true);
    peers_stop(&p);
    co_buf_free(&cfg);
    free(specs);
}
END_TEST

/* ---- DNS ------------------------------------------------------------ */

static const struct want dns_wants[] = {
    {"dns:garbage", "dns.ttl", NULL, "error", {"timed out"}},
    {"dns:wrong-id", "dns.ttl", NULL, "error", {"timed out"}},
    {"dns:truncated",
     "dns.ttl",
     NULL,
     "error",
     {"unreadable answer", "malformed DNS reply"}},
    {"dns:pointer-loop", "dns.ttl", NULL, "error", {"timed out"}},
    {"dns:tc", "dns.ttl", NULL, "error", {"timed out"}},
    {"dns:silent", "dns.ttl", NULL, "error", {"timed out"}},
};

START_TEST(dns_peers)
{
    struct peers p;
    const char **specs = specs_of(dns_wants, N(dns_wants));
    struct co_buf cfg;

    peers_start(&p, specs);
    co_buf_init(&cfg);
    co_buf_puts(&cfg, "version: 1\n"
                      "settings: {resolvers: [\"${CUTOVER_TB_DNS}\"]}\n"
                      "domains:\n"
                      "  open.cutover.test: {ttl_max: 300}\n");
    for (size_t i = 0; i < N(dns_wants); i++) {
        char res[64];
        res_name(dns_wants[i].spec, res, sizeof(res));
        co_buf_addf(&cfg,
                    "  %s.cutover.test: {ttl_max: 300, resolvers: "
                    "[\"127.0.0.1:%d\"]}\n",
                    res, peers_port(&p, dns_wants[i].spec));
    }
    /* Domains are resources named after the domain. */
    struct want w[N(dns_wants)];
    char names[N(dns_wants)][64];
    for (size_t i = 0; i < N(dns_wants); i++) {
        w[i] = dns_wants[i];
        res_name(dns_wants[i].spec, names[i], sizeof(names[i]));
        strncat(names[i], ".cutover.test",
                sizeof(names[i]) - strlen(names[i]) - 1);
        w[i].spec = names[i];
    }
    run_hostile(cfg.s, w, N(w), "open.cutover.test", false);
    peers_stop(&p);
    co_buf_free(&cfg);
    free(specs);
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("peers");

    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, postgres_peers);
    tcase_add_test(tc, redis_peers);
    tcase_add_test(tc, endpoint_peers);
    tcase_add_test(tc, dns_peers);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = hostile_suite,
         .testbed = TU_VARS("CUTOVER_TB_PG_SOURCE_URL",
                            "CUTOVER_TB_PG_TARGET_URL", "CUTOVER_TB_CA",
                            "CUTOVER_TB_REDIS_SOURCE_URL",
                            "CUTOVER_TB_REDIS_TARGET_URL", "CUTOVER_TB_HTTP",
                            "CUTOVER_TB_DNS"));
