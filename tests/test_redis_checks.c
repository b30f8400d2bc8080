/*
 * label: net
 * test_redis_checks.c - redis.connect, redis.config, redis.keyspace and
 * redis.queues end to end: the built binary runs `cutover check` on a
 * temporary config against the test bed's Redis servers (plain source
 * and target, TLS-only), and the JSON report is read back with jansson.
 *
 * Data is planted with redis-cli in dbs 2..9 only (FLUSHDB of exactly
 * those at each test's start), so other suites sharing the servers are
 * not disturbed. Every run also asserts that neither the test bed's
 * password nor a wrong sentinel password appears in any output.
 */
#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutover/util.h"
#include "testutil.h"

#define WRONG_PW "wrong-sentinel-pw-7731"

static int src_port, tgt_port, tls_port;

/* ---- planting data ---------------------------------------------------- */

/* Runs redis-cli against port/db with the shell words in fmt. The
 * password travels in REDISCLI_AUTH, never on a command line. */
static char *cli(int port, int db, const char *fmt, ...) CO_PRINTF(3, 4);
static char *cli(int port, int db, const char *fmt, ...)
{
    char words[2048];
    char *cmd, *out = NULL;
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(words, sizeof(words), fmt, ap);
    va_end(ap);
    cmd = co_asprintf("redis-cli %s -h 127.0.0.1 -p %d -n %d %s 2>&1",
                      port == tls_port ? "--tls --cacert \"$CUTOVER_TB_CA\""
                                       : "",
                      port, db, words);
    rc = tu_sh(cmd, &out);
    ck_assert_msg(rc == 0, "%s: %s", cmd, out ? out : "");
    free(cmd);
    return out;
}

static void cli0(int port, int db, const char *words)
{
    free(cli(port, db, "%s", words));
}

static void flush_dbs(int db)
{
    cli0(src_port, db, "FLUSHDB");
    cli0(tgt_port, db, "FLUSHDB");
}

/* redis://:${CUTOVER_TB_REDIS_PASSWORD}@127.0.0.1:port/db */
static char *url(const char *scheme, int port, int db)
{
    return co_asprintf("%s://:${CUTOVER_TB_REDIS_PASSWORD}@127.0.0.1:%d/%d",
                       scheme, port, db);
}

/* ---- running the binary ----------------------------------------------- */

struct outcome {
    int status;
    int64_t took_ms;
    json_t *report;
    char *text;
};

static void assert_no_secret(const char *what, const char *s)
{
    const char *pw = tu_tb("CUTOVER_TB_REDIS_PASSWORD");

    ck_assert_msg(s == NULL || strstr(s, pw) == NULL,
                  "the password appears in %s", what);
    ck_assert_msg(s == NULL || strstr(s, WRONG_PW) == NULL,
                  "the wrong password appears in %s", what);
}

static void run_check(const char *config, const char *phase, const char *only,
                      struct outcome *o)
{
    char *dir = tu_tmpdir();
    char *cfg = tu_write_file(dir, "cutover.yml", config);
    char *json = co_asprintf("%s/report.json", dir);
    char *junit = co_asprintf("%s/report.xml", dir);
    const char *argv[] = {"cutover",   "check", "-c",      cfg,
                          "--phase",   phase,   "--only",  only,
                          "--json",    json,    "--junit", junit,
                          "--timeout", "3s",    NULL};
    struct tu_proc p;
    json_error_t jerr;
    int64_t t0 = co_now_ms();
    char *raw;

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 60), 0);
    o->took_ms = co_now_ms() - t0;
    o->status = p.status;
    o->text = co_asprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", p.status,
                          p.out ? p.out : "", p.err ? p.err : "");
    assert_no_secret("stdout", p.out);
    assert_no_secret("stderr", p.err);
    raw = tu_read_file(json, NULL);
    assert_no_secret("the JSON report", raw);
    free(raw);
    raw = tu_read_file(junit, NULL);
    assert_no_secret("the JUnit report", raw);
    free(raw);
    o->report = json_load_file(json, 0, &jerr);
    ck_assert_msg(o->report != NULL, "no JSON report (%s): %s", jerr.text,
                  o->text);
    tu_proc_free(&p);
    free(json);
    free(junit);
    free(cfg);
    free(dir);
}

static void outcome_free(struct outcome *o)
{
    json_decref(o->report);
    free(o->text);
}

static json_t *find_case(const struct outcome *o, const char *check,
                         const char *resource, const char *name)
{
    json_t *checks = json_object_get(o->report, "checks"), *c, *k;
    size_t i, j;

    json_array_foreach(checks, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "check"));
        const char *res = json_string_value(json_object_get(c, "resource"));
        if (strcmp(id, check) != 0 || strcmp(res, resource) != 0)
            continue;
        json_array_foreach(json_object_get(c, "cases"), j, k)
        {
            const char *n = json_string_value(json_object_get(k, "name"));
            if (n != NULL && strcmp(n, name) == 0)
                return k;
        }
    }
    return NULL;
}

/* Asserts one case's status and that its message holds every word. */
static void expect(const struct outcome *o, const char *check,
                   const char *resource, const char *name, const char *status,
                   const char *const *words)
{
    json_t *c = find_case(o, check, resource, name);
    const char *msg, *st;

    ck_assert_msg(c != NULL, "no %s case %s/%s: %s", check, resource, name,
                  o->text);
    msg = json_string_value(json_object_get(c, "message"));
    st = json_string_value(json_object_get(c, "status"));
    ck_assert_msg(strcmp(st, status) == 0, "%s %s/%s: want %s, got %s: %s",
                  check, resource, name, status, st, msg);
    for (size_t i = 0; words[i] != NULL; i++)
        ck_assert_msg(strstr(msg, words[i]) != NULL,
                      "%s %s/%s: \"%s\" not in \"%s\"", check, resource, name,
                      words[i], msg);
}

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- redis.connect ---------------------------------------------------- */

START_TEST(test_connect_outcomes)
{
    struct outcome o;
    char *plain_s = url("redis", src_port, 2),
         *plain_t = url("redis", tgt_port, 2);
    char *tls = url("rediss", tls_port, 2),
         *tls_plain = url("rediss", tgt_port, 2);
    char *plain_tls = url("redis", tls_port, 2);
    char *cfg = co_asprintf(
        "version: 1\n"
        "redis:\n"
        "  plain: {source: \"%s\", target: \"%s\"}\n"
        "  tls: {source: \"%s\", target: \"%s\", ca_file: \"%s\"}\n"
        "  noverify: {source: \"%s\", tls_verify: false}\n"
        "  unknownca: {target: \"%s\"}\n"
        "  wrongpw: {source: \"redis://:" WRONG_PW "@127.0.0.1:%d/2\",\n"
        "            target: \"redis://:" WRONG_PW "@127.0.0.1:%s/2\"}\n"
        "  silent: {source: \"redis://:" WRONG_PW "@%s/2\", target: \"%s\"}\n",
        plain_s, plain_t, tls, tls_plain, tu_tb("CUTOVER_TB_CA"), tls, tls,
        src_port, tu_tb("CUTOVER_TB_CLOSED_PORT"), tu_tb("CUTOVER_TB_SILENT"),
        plain_tls);

    run_check(cfg, "pre", "redis.connect", &o);
    expect(&o, "redis.connect", "plain", "source", "warn",
           W("Redis 7.", "PING ok", "without TLS"));
    expect(&o, "redis.connect", "tls", "source", "pass",
           W("Redis 7.", "TLS (TLSv1.", "verified)"));
    expect(&o, "redis.connect", "tls", "target", "error",
           W("TLS handshake", "plain redis:// port"));
    expect(&o, "redis.connect", "noverify", "source", "warn",
           W("TLS (TLSv1.", "not verified: tls_verify: false"));
    expect(&o, "redis.connect", "unknownca", "target", "error",
           W("TLS certificate verification failed", "ca_file"));
    expect(&o, "redis.connect", "wrongpw", "source", "error",
           W("authentication failed", "WRONGPASS"));
    expect(&o, "redis.connect", "wrongpw", "target", "error",
           W("connection refused"));
    expect(&o, "redis.connect", "silent", "source", "error",
           W("timed out waiting for a reply to AUTH"));
    expect(&o, "redis.connect", "silent", "target", "error",
           W("try rediss://"));
    ck_assert_msg(o.status == 2, "%s", o.text);
    /* Each silent side costs at most its 3 s task deadline. */
    ck_assert_msg(o.took_ms < 15000, "took %lld ms", (long long)o.took_ms);
    outcome_free(&o);
    free(cfg);
    free(plain_s);
    free(plain_t);
    free(tls);
    free(tls_plain);
    free(plain_tls);
}
END_TEST

/* ---- redis.config ----------------------------------------------------- */

START_TEST(test_config_eviction_and_persistence)
{
    struct outcome o;
    char *s = url("redis", src_port, 2), *t = url("redis", tgt_port, 2);
    char *cfg = co_asprintf("version: 1\n"
                            "redis:\n"
                            "  jobs: {source: \"%s\", target: \"%s\", "
                            "queues: sidekiq}\n"
                            "  cache: {source: \"%s\", target: \"%s\", "
                            "queues: none}\n",
                            s, t, s, t);

    /* Planted on the test server only, restored before any assert. */
    cli0(tgt_port, 0, "CONFIG SET maxmemory-policy allkeys-lru");
    run_check(cfg, "pre", "redis.config", &o);
    cli0(tgt_port, 0, "CONFIG SET maxmemory-policy noeviction");

    expect(&o, "redis.config", "jobs", "target maxmemory-policy", "fail",
           W("allkeys-lru", "drops queued jobs", "noeviction"));
    expect(&o, "redis.config", "jobs", "source maxmemory-policy", "pass",
           W("noeviction"));
    expect(&o, "redis.config", "jobs", "source persistence", "warn",
           W("persistence off", "appendonly no", "every queued job"));
    expect(&o, "redis.config", "jobs", "target persistence", "pass", W("AOF"));
    expect(&o, "redis.config", "cache", "target maxmemory-policy", "pass",
           W("allkeys-lru", "no job queue configured"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    outcome_free(&o);
    free(cfg);
    free(s);
    free(t);
}
END_TEST

/* An ACL user without CONFIG, as managed Redis hands out. */
START_TEST(test_config_unavailable_skips)
{
    struct outcome o;
    char user[64], *cfg;

    snprintf(user, sizeof(user), "cutover-noconfig-%d", (int)getpid());
    free(cli(src_port, 0,
             "ACL SETUSER %s on '>noconfig-pw-1234' '~*' '+@all' '-config'",
             user));
    cfg = co_asprintf("version: 1\n"
                      "redis:\n"
                      "  managed: {source: \"redis://%s:noconfig-pw-1234@"
                      "127.0.0.1:%d/2\", queues: sidekiq}\n",
                      user, src_port);
    run_check(cfg, "pre", "redis.config", &o);
    free(cli(src_port, 0, "ACL DELUSER %s", user));

    expect(&o, "redis.config", "managed", "source persistence", "skip",
           W("CONFIG GET unavailable", "NOPERM"));
    expect(&o, "redis.config", "managed", "source maxmemory-policy", "pass",
           W("noeviction", "from INFO memory"));
    ck_assert_msg(strstr(o.text, "noconfig-pw-1234") == NULL, "%s", o.text);
    outcome_free(&o);
    free(cfg);
}
END_TEST

/* ---- redis.keyspace --------------------------------------------------- */

static void plant_same(int port, int db, int ttl)
{
    free(cli(port, db,
             "MSET user:1 alice user:2 bob user:3 carol user:4 dave "
             "user:5 erin"));
    cli0(port, db, "HSET user:6 name frank age 42");
    cli0(port, db, "RPUSH list:a 1 2 3");
    cli0(port, db, "SADD set:a x y");
    cli0(port, db, "ZADD user:z 1 a 2 b");
    free(cli(port, db, "SET session:1 v EX %d", ttl));
}

START_TEST(test_keyspace_matching_pair_passes)
{
    struct outcome o;
    char *s = url("redis", src_port, 3), *t = url("redis", tgt_port, 3);
    char *cfg = co_asprintf("version: 1\n"
                            "redis:\n"
                            "  app: {source: \"%s\", target: \"%s\",\n"
                            "        patterns: [\"user:*\", \"session:*\"]}\n"
                            "checks:\n"
                            "  redis.keyspace: {sample: 20, scan_count: 2}\n",
                            s, t);

    flush_dbs(3);
    plant_same(src_port, 3, 1000);
    plant_same(tgt_port, 3, 5000); /* TTLs differ: not drift */
    run_check(cfg, "post", "redis.keyspace", &o);
    expect(&o, "redis.keyspace", "app", "db3", "pass",
           W("10 keys on both sides", "1 with expiry"));
    expect(&o, "redis.keyspace", "app", "pattern user:*", "pass",
           W("source 7 keys, target 7"));
    expect(&o, "redis.keyspace", "app", "pattern session:*", "pass",
           W("source 1 keys, target 1"));
    expect(&o, "redis.keyspace", "app", "sample", "pass",
           W("8 sampled keys have equal values", "TTLs ignored"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    outcome_free(&o);
    free(cfg);
    free(s);
    free(t);
}
END_TEST

START_TEST(test_keyspace_drift_found)
{
    struct outcome o;
    char *s = url("redis", src_port, 4), *t = url("redis", tgt_port, 4);
    char *cfg = co_asprintf("version: 1\n"
                            "redis:\n"
                            "  app: {source: \"%s\", target: \"%s\",\n"
                            "        patterns: [\"user:*\"]}\n"
                            "checks:\n"
                            "  redis.keyspace: {sample: 50}\n",
                            s, t);
    json_t *c;

    flush_dbs(4);
    free(cli(src_port, 4, "MSET user:1 a user:2 b user:3 c user:4 d"));
    cli0(src_port, 4, "HSET user:5 f v");
    free(cli(tgt_port, 4, "MSET user:1 CHANGED user:2 b user:3 c user:9 z"));
    run_check(cfg, "post", "redis.keyspace", &o);
    expect(&o, "redis.keyspace", "app", "db4", "fail",
           W("source 5 keys, target 4"));
    expect(&o, "redis.keyspace", "app", "pattern user:*", "fail",
           W("user:*: source 5 keys, target 4", "2 in source not in target",
             "1 in target not in source (e.g. user:9)"));
    c = find_case(&o, "redis.keyspace", "app", "pattern user:*");
    ck_assert_str_eq(json_string_value(json_object_get(c, "source")),
                     "5 keys (hash 1, string 4)");
    expect(&o, "redis.keyspace", "app", "sample", "fail",
           W("3 of 5 sampled keys differ", "user:1"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    outcome_free(&o);
    free(cfg);
    free(s);
    free(t);
}
END_TEST

/* ---- redis.queues ----------------------------------------------------- */

START_TEST(test_sidekiq_undrained_post)
{
    struct outcome o;
    char *s = url("redis", src_port, 5), *t = url("redis", tgt_port, 5);
    char *cfg = co_asprintf("version: 1\n"
                            "redis:\n"
                            "  jobs: {source: \"%s\", target: \"%s\", "
                            "queues: sidekiq}\n"
                            "checks:\n"
                            "  redis.queues: {queues: [critical]}\n",
                            s, t);

    flush_dbs(5);
    cli0(src_port, 5, "SADD queues default mailers");
    cli0(src_port, 5, "RPUSH queue:default j1 j2 j3");
    cli0(src_port, 5, "ZADD retry 1 r1 2 r2");
    cli0(src_port, 5, "ZADD dead 1 d1");
    cli0(src_port, 5, "ZADD schedule 1 s1");
    cli0(tgt_port, 5, "SADD queues default mailers");
    cli0(tgt_port, 5, "ZADD retry 1 r1 2 r2");
    cli0(tgt_port, 5, "ZADD schedule 1 s1");
    run_check(cfg, "post", "redis.queues", &o);
    expect(
        &o, "redis.queues", "jobs", "queue:default", "fail",
        W("queue:default: source still holds 3 pending jobs", "not drained"));
    expect(&o, "redis.queues", "jobs", "queue:mailers", "pass",
           W("source drained (0)"));
    expect(&o, "redis.queues", "jobs", "queue:critical", "pass",
           W("source drained"));
    expect(&o, "redis.queues", "jobs", "retry", "pass", W("2 on both sides"));
    expect(&o, "redis.queues", "jobs", "schedule", "pass",
           W("1 on both sides"));
    expect(&o, "redis.queues", "jobs", "dead", "fail",
           W("source 1, target 0", "did not all move"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    outcome_free(&o);

    /* Drained and moved: the same config passes. */
    cli0(src_port, 5, "DEL queue:default");
    cli0(tgt_port, 5, "ZADD dead 1 d1");
    run_check(cfg, "post", "redis.queues", &o);
    expect(&o, "redis.queues", "jobs", "queue:default", "pass",
           W("source drained (0), target 0"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    outcome_free(&o);
    free(cfg);
    free(s);
    free(t);
}
END_TEST

START_TEST(test_sidekiq_pre_double_processing)
{
    struct outcome o;
    char *s = url("redis", src_port, 6), *t = url("redis", tgt_port, 6);
    char *cfg = co_asprintf("version: 1\n"
                            "redis:\n"
                            "  jobs: {source: \"%s\", target: \"%s\", "
                            "queues: sidekiq}\n"
                            "checks:\n"
                            "  redis.queues: {namespace: myapp}\n",
                            s, t);

    flush_dbs(6);
    cli0(src_port, 6, "SADD myapp:queues default low");
    cli0(src_port, 6, "RPUSH myapp:queue:default a b");
    cli0(tgt_port, 6, "RPUSH myapp:queue:default a");
    cli0(tgt_port, 6, "RPUSH myapp:queue:low x");
    run_check(cfg, "pre", "redis.queues", &o);
    expect(&o, "redis.queues", "jobs", "myapp:queue:default", "fail",
           W("target already holds 1 jobs while the source holds 2",
             "double processing"));
    expect(&o, "redis.queues", "jobs", "myapp:queue:low", "warn",
           W("target already holds 1 jobs"));
    expect(&o, "redis.queues", "jobs", "myapp:retry", "pass",
           W("source 0, target 0"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    outcome_free(&o);
    free(cfg);
    free(s);
    free(t);
}
END_TEST

START_TEST(test_other_frameworks_post)
{
    struct outcome o;
    char *s = url("redis", src_port, 7), *t = url("redis", tgt_port, 7);
    char *cfg = co_asprintf("version: 1\n"
                            "redis:\n"
                            "  resque: {source: \"%s\", target: \"%s\", "
                            "queues: resque}\n"
                            "  bull: {source: \"%s\", target: \"%s\", "
                            "queues: bullmq}\n"
                            "  rq: {source: \"%s\", target: \"%s\", "
                            "queues: rq}\n"
                            "  celery: {source: \"%s\", target: \"%s\", "
                            "queues: celery}\n",
                            s, t, s, t, s, t, s, t);

    flush_dbs(7);
    cli0(src_port, 7, "SADD resque:queues high");
    cli0(src_port, 7, "RPUSH resque:queue:high a b");
    cli0(src_port, 7, "RPUSH resque:failed f");
    cli0(tgt_port, 7, "RPUSH resque:failed f");
    cli0(src_port, 7, "HSET bull:email:meta opts x");
    cli0(src_port, 7, "RPUSH bull:email:wait 1 2 3 4");
    cli0(src_port, 7, "ZADD bull:email:failed 1 x");
    cli0(src_port, 7, "SADD rq:queues rq:queue:default");
    cli0(src_port, 7, "RPUSH rq:queue:default job1");
    cli0(src_port, 7,
         "SADD _kombu.binding.celery "
         "\"$(printf 'celery\\006\\026\\006\\026celery')\"");
    cli0(src_port, 7, "RPUSH celery m1 m2");
    cli0(src_port, 7, "RPUSH \"$(printf 'celery\\006\\0263')\" m3");
    cli0(src_port, 7, "HSET unacked tag1 m4");
    run_check(cfg, "post", "redis.queues", &o);
    expect(&o, "redis.queues", "resque", "resque:queue:high", "fail",
           W("source still holds 2 pending jobs"));
    expect(&o, "redis.queues", "resque", "resque:failed", "pass",
           W("1 on both sides"));
    expect(&o, "redis.queues", "bull", "bull:email:wait", "fail",
           W("source still holds 4 pending jobs"));
    expect(&o, "redis.queues", "bull", "bull:email:failed", "fail",
           W("source 1, target 0"));
    expect(&o, "redis.queues", "bull", "bull:email:active", "pass",
           W("source drained"));
    expect(&o, "redis.queues", "rq", "rq:queue:default", "fail",
           W("source still holds 1 pending jobs"));
    expect(&o, "redis.queues", "celery", "celery", "fail",
           W("source still holds 3 pending jobs"));
    expect(&o, "redis.queues", "celery", "unacked", "fail",
           W("source still holds 1 in-flight jobs"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    outcome_free(&o);
    free(cfg);
    free(s);
    free(t);
}
END_TEST

/* ---- safety: only read commands reach the servers --------------------- */

/* "cmdstat_scan:calls=12,..." lines into a JSON object name -> calls. */
static json_t *commandstats(int port)
{
    char *out = cli(port, 0, "INFO commandstats");
    json_t *o = json_object();
    char *line = out;

    while (line != NULL && *line != '\0') {
        char name[64];
        long long calls;
        if (sscanf(line, "cmdstat_%63[^:]:calls=%lld", name, &calls) == 2)
            json_object_set_new(o, name, json_integer(calls));
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    free(out);
    return o;
}

/* INFO keyspace without avg_ttl, which moves with the clock. */
static char *keyspace(int port)
{
    char *out = cli(port, 8, "INFO keyspace");
    char *p = strstr(out, ",avg_ttl=");

    while (p != NULL) {
        size_t n = strcspn(p + 1, "\r\n") + 1;
        memmove(p, p + n, strlen(p + n) + 1);
        p = strstr(p, ",avg_ttl=");
    }
    return out;
}

static const char *const read_commands[] = {
    "ping",  "auth",  "select", "info", "scan",   "sscan",      "type", "llen",
    "zcard", "scard", "hlen",   "dump", "exists", "config|get", NULL,
};

static void assert_only_reads(json_t *before, json_t *after, int port)
{
    const char *name;
    json_t *v;
    bool scanned = false;

    json_object_foreach(after, name, v)
    {
        long long b = json_integer_value(json_object_get(before, name));
        bool ok = false;
        if (json_integer_value(v) == b)
            continue;
        for (size_t i = 0; read_commands[i] != NULL; i++)
            ok = ok || strcmp(read_commands[i], name) == 0;
        ck_assert_msg(ok, "port %d: %s was called during the run", port, name);
        scanned = scanned || strcmp(name, "scan") == 0;
    }
    ck_assert_msg(scanned, "port %d: no SCAN seen: stats not measured", port);
}

START_TEST(test_full_run_sends_only_reads)
{
    struct outcome o;
    char *s = url("redis", src_port, 8), *t = url("redis", tgt_port, 8);
    char *cfg = co_asprintf("version: 1\n"
                            "redis:\n"
                            "  jobs: {source: \"%s\", target: \"%s\", "
                            "queues: sidekiq, patterns: [\"user:*\"]}\n"
                            "checks:\n"
                            "  redis.keyspace: {sample: 10}\n",
                            s, t);
    json_t *before[2], *after[2];
    char *ks[2], *ks2[2];

    flush_dbs(8);
    plant_same(src_port, 8, 1000);
    plant_same(tgt_port, 8, 1000);
    cli0(src_port, 8, "SADD queues default");
    cli0(src_port, 8, "RPUSH queue:default j");
    ks[0] = keyspace(src_port);
    ks[1] = keyspace(tgt_port);
    before[0] = commandstats(src_port);
    before[1] = commandstats(tgt_port);
    run_check(cfg, "all", "redis.*", &o);
    after[0] = commandstats(src_port);
    after[1] = commandstats(tgt_port);
    ks2[0] = keyspace(src_port);
    ks2[1] = keyspace(tgt_port);
    /* The run did look (cases exist) and changed nothing. */
    expect(&o, "redis.queues", "jobs", "queue:default", "fail",
           W("source still holds 1 pending jobs"));
    expect(&o, "redis.keyspace", "jobs", "pattern user:*", "pass",
           W("source 7 keys, target 7"));
    for (int i = 0; i < 2; i++) {
        assert_only_reads(before[i], after[i], i ? tgt_port : src_port);
        ck_assert_str_eq(ks[i], ks2[i]);
        json_decref(before[i]);
        json_decref(after[i]);
        free(ks[i]);
        free(ks2[i]);
    }
    outcome_free(&o);
    free(cfg);
    free(s);
    free(t);
}
END_TEST

static Suite *redis_checks_suite(void)
{
    Suite *s = suite_create("redis_checks");
    TCase *tc = tcase_create("binary");

    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_connect_outcomes);
    tcase_add_test(tc, test_config_eviction_and_persistence);
    tcase_add_test(tc, test_config_unavailable_skips);
    tcase_add_test(tc, test_keyspace_matching_pair_passes);
    tcase_add_test(tc, test_keyspace_drift_found);
    tcase_add_test(tc, test_sidekiq_undrained_post);
    tcase_add_test(tc, test_sidekiq_pre_double_processing);
    tcase_add_test(tc, test_other_frameworks_post);
    tcase_add_test(tc, test_full_run_sends_only_reads);
    suite_add_tcase(s, tc);
    return s;
}

static int port_of(const char *var)
{
    struct co_url u;
    char err[CO_ERRLEN];
    int port;

    if (co_url_parse(tu_tb(var), &u, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", var, err);
        exit(1);
    }
    port = u.port;
    co_url_free(&u);
    return port;
}

int main(void)
{
    SRunner *sr;
    int failed;

    tu_testbed_require(
        "CUTOVER_TB_REDIS_SOURCE_URL", "CUTOVER_TB_REDIS_TARGET_URL",
        "CUTOVER_TB_REDIS_TLS_URL", "CUTOVER_TB_REDIS_PASSWORD",
        "CUTOVER_TB_CA", "CUTOVER_TB_SILENT", "CUTOVER_TB_CLOSED_PORT", NULL);
    src_port = port_of("CUTOVER_TB_REDIS_SOURCE_URL");
    tgt_port = port_of("CUTOVER_TB_REDIS_TARGET_URL");
    tls_port = port_of("CUTOVER_TB_REDIS_TLS_URL");
    setenv("REDISCLI_AUTH", tu_tb("CUTOVER_TB_REDIS_PASSWORD"), 1);
    sr = srunner_create(redis_checks_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
