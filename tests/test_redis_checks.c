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

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define W(...)   TU_WORDS(__VA_ARGS__)
#define N(a)     (sizeof(a) / sizeof((a)[0]))
#define WRONG_PW "wrong-sentinel-pw-7731"

static int src_port, tgt_port, tls_port;

/* ---- planting data ---------------------------------------------------- */

/* Runs redis-cli against port/db with the shell words in fmt. The
 * password travels in REDISCLI_AUTH, never on a command line. */
static char *cli(int port, int db, const char *fmt, ...) CO_PRINTF(3, 4);
static char *cli(int port, int db, const char *fmt, ...)
{
    char words[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(words, sizeof(words), fmt, ap);
    va_end(ap);
    return tu_sh_ok("redis-cli %s -h 127.0.0.1 -p %d -n %d %s 2>&1",
                    port == tls_port ? "--tls --cacert \"$CUTOVER_TB_CA\""
                                     : "",
                    port, db, words);
}

static void cli0(int port, int db, const char *words)
{
    free(cli(port, db, "%s", words));
}

/* Runs each command (shell words) in cmds, NULL-ended, on port/db. */
static void plant(int port, int db, const char *const *cmds)
{
    for (size_t i = 0; cmds[i] != NULL; i++)
        cli0(port, db, cmds[i]);
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

/* `cutover check` with a JUnit report too; checkrun asserts that neither
 * the test bed's password nor WRONG_PW is in any output or report. */
static void run_check(const char *config, const char *phase, const char *only,
                      struct tu_outcome *o)
{
    const char *const args[] = {"--phase",   phase,     "--only",
                                only,        "--junit", "report.xml",
                                "--timeout", "3s",      NULL};

    tu_check_run_hiding(config, args, NULL, 60, WRONG_PW, o);
}

/* A config with one resource per (name, options) pair in res (NULL-ended),
 * each on source and target db, plus the `checks:` body checks (may be
 * NULL). */
static char *config_pairs(int db, const char *const *res, const char *checks)
{
    char *s = url("redis", src_port, db), *t = url("redis", tgt_port, db);
    struct co_buf b;

    co_buf_init(&b);
    co_buf_puts(&b, "version: 1\nredis:\n");
    for (size_t i = 0; res[i] != NULL; i += 2)
        co_buf_addf(&b, "  %s: {source: \"%s\", target: \"%s\", %s}\n", res[i],
                    s, t, res[i + 1]);
    if (checks != NULL)
        co_buf_addf(&b, "checks:\n  %s\n", checks);
    free(s);
    free(t);
    return co_buf_take(&b);
}

/* One expected case, as tu_expect takes it. */
struct want {
    const char *check, *resource, *name, *status;
    const char *const *words;
};

/* Asserts every case in w[0..n). */
static void expect_all(const struct tu_outcome *o, const struct want *w,
                       size_t n)
{
    for (size_t i = 0; i < n; i++)
        tu_expect(o, w[i].check, w[i].resource, w[i].name, w[i].status,
                  w[i].words);
}

/* Runs config, asserts every case in w[0..n) and the exit code. */
static void run_expect(const char *config, const char *phase, const char *only,
                       const struct want *w, size_t n, int status)
{
    struct tu_outcome o;

    run_check(config, phase, only, &o);
    expect_all(&o, w, n);
    ck_assert_msg(o.status == status, "%s", o.text);
    tu_outcome_free(&o);
}

/* ---- redis.connect ---------------------------------------------------- */

START_TEST(test_connect_outcomes)
{
    const struct want want[] = {
        {"redis.connect", "plain", "source", "warn",
         W("Redis 7.", "PING ok", "without TLS")},
        {"redis.connect", "tls", "source", "pass",
         W("Redis 7.", "TLS (TLSv1.", "verified)")},
        {"redis.connect", "tls", "target", "error",
         W("TLS handshake", "plain redis:// port")},
        {"redis.connect", "noverify", "source", "warn",
         W("TLS (TLSv1.", "not verified: tls_verify: false")},
        {"redis.connect", "unknownca", "target", "error",
         W("TLS certificate verification failed", "ca_file")},
        {"redis.connect", "wrongpw", "source", "error",
         W("authentication failed", "WRONGPASS")},
        {"redis.connect", "wrongpw", "target", "error",
         W("connection refused")},
        {"redis.connect", "silent", "source", "error",
         W("timed out waiting for a reply to AUTH")},
        {"redis.connect", "silent", "target", "error", W("try rediss://")},
    };
    struct tu_outcome o;
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
    expect_all(&o, want, N(want));
    ck_assert_msg(o.status == 2, "%s", o.text);
    /* Each silent side costs at most its 3 s task deadline. */
    ck_assert_msg(o.took_ms < 15000, "took %lld ms", (long long)o.took_ms);
    tu_outcome_free(&o);
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
    const struct want want[] = {
        {"redis.config", "jobs", "target maxmemory-policy", "fail",
         W("allkeys-lru", "drops queued jobs", "noeviction")},
        {"redis.config", "jobs", "source maxmemory-policy", "pass",
         W("noeviction")},
        {"redis.config", "jobs", "source persistence", "warn",
         W("persistence off", "appendonly no", "every queued job")},
        {"redis.config", "jobs", "target persistence", "pass", W("AOF")},
        {"redis.config", "cache", "target maxmemory-policy", "pass",
         W("allkeys-lru", "no job queue configured")},
    };
    struct tu_outcome o;
    char *cfg = config_pairs(
        2, W("jobs", "queues: sidekiq", "cache", "queues: none"), NULL);

    /* Planted on the test server only, restored before any assert. */
    cli0(tgt_port, 0, "CONFIG SET maxmemory-policy allkeys-lru");
    run_check(cfg, "pre", "redis.config", &o);
    cli0(tgt_port, 0, "CONFIG SET maxmemory-policy noeviction");

    expect_all(&o, want, N(want));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* An ACL user without CONFIG, as managed Redis hands out. */
START_TEST(test_config_unavailable_skips)
{
    const struct want want[] = {
        {"redis.config", "managed", "source persistence", "skip",
         W("CONFIG GET unavailable", "NOPERM")},
        {"redis.config", "managed", "source maxmemory-policy", "pass",
         W("noeviction", "from INFO memory")},
    };
    struct tu_outcome o;
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

    expect_all(&o, want, N(want));
    ck_assert_msg(strstr(o.text, "noconfig-pw-1234") == NULL, "%s", o.text);
    tu_outcome_free(&o);
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
    const struct want want[] = {
        {"redis.keyspace", "app", "db3", "pass",
         W("10 keys on both sides", "1 with expiry")},
        {"redis.keyspace", "app", "pattern user:*", "pass",
         W("source 7 keys, target 7")},
        {"redis.keyspace", "app", "pattern session:*", "pass",
         W("source 1 keys, target 1")},
        {"redis.keyspace", "app", "sample", "pass",
         W("8 sampled keys have equal values", "TTLs ignored")},
    };
    char *cfg =
        config_pairs(3, W("app", "patterns: [\"user:*\", \"session:*\"]"),
                     "redis.keyspace: {sample: 20, scan_count: 2}");

    flush_dbs(3);
    plant_same(src_port, 3, 1000);
    plant_same(tgt_port, 3, 5000); /* TTLs differ: not drift */
    run_expect(cfg, "post", "redis.keyspace", want, N(want), 0);
    free(cfg);
}
END_TEST

START_TEST(test_keyspace_drift_found)
{
    const struct want want[] = {
        {"redis.keyspace", "app", "db4", "fail", W("source 5 keys, target 4")},
        {"redis.keyspace", "app", "pattern user:*", "fail",
         W("user:*: source 5 keys, target 4", "2 in source not in target",
           "1 in target not in source (e.g. user:9)")},
        {"redis.keyspace", "app", "sample", "fail",
         W("3 of 5 sampled keys differ", "user:1")},
    };
    struct tu_outcome o;
    char *cfg = config_pairs(4, W("app", "patterns: [\"user:*\"]"),
                             "redis.keyspace: {sample: 50}");
    json_t *c;

    flush_dbs(4);
    free(cli(src_port, 4, "MSET user:1 a user:2 b user:3 c user:4 d"));
    cli0(src_port, 4, "HSET user:5 f v");
    free(cli(tgt_port, 4, "MSET user:1 CHANGED user:2 b user:3 c user:9 z"));
    run_check(cfg, "post", "redis.keyspace", &o);
    expect_all(&o, want, N(want));
    c = tu_case(&o, "redis.keyspace", "app", "pattern user:*");
    ck_assert_str_eq(tu_field(c, "source"), "5 keys (hash 1, string 4)");
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* Source and target URLs that name different dbs (Heroku's db 25 moved
 * to db 26 of a shared server): each side's own db is compared, never
 * the target's db of the source's number. */
START_TEST(test_keyspace_named_dbs_differ)
{
    char *s = url("redis", src_port, 25), *t = url("redis", tgt_port, 26);
    char *cfg = co_asprintf("version: 1\nredis:\n  app: {source: \"%s\", "
                            "target: \"%s\"}\n",
                            s, t);
    const struct want same[] = {
        {"redis.keyspace", "app", "db25 -> db26", "pass",
         W("db25 -> db26: 3 keys on both sides")},
    };
    const struct want drift[] = {
        {"redis.keyspace", "app", "db25 -> db26", "fail",
         W("db25 -> db26: source 3 keys, target 2 (-1)")},
    };

    cli0(src_port, 25, "FLUSHDB");
    cli0(tgt_port, 26, "FLUSHDB");
    cli0(tgt_port, 25, "FLUSHDB");
    free(cli(src_port, 25, "MSET a 1 b 2 c 3"));
    free(cli(tgt_port, 26, "MSET a 1 b 2 c 3"));
    /* the target server's db 25 holds something else: not compared */
    free(cli(tgt_port, 25, "MSET x 1"));
    run_expect(cfg, "post", "redis.keyspace", same, N(same), 0);
    cli0(tgt_port, 26, "DEL c");
    run_expect(cfg, "post", "redis.keyspace", drift, N(drift), 1);
    cli0(src_port, 25, "FLUSHDB");
    cli0(tgt_port, 26, "FLUSHDB");
    cli0(tgt_port, 25, "FLUSHDB");
    free(cfg);
    free(s);
    free(t);
}
END_TEST

/* ---- redis.queues ----------------------------------------------------- */

START_TEST(test_sidekiq_undrained_post)
{
    const struct want want[] = {
        {"redis.queues", "jobs", "queue:default", "fail",
         W("queue:default: source still holds 3 pending jobs", "not drained")},
        {"redis.queues", "jobs", "queue:mailers", "pass",
         W("source drained (0)")},
        {"redis.queues", "jobs", "queue:critical", "pass",
         W("source drained")},
        {"redis.queues", "jobs", "retry", "pass", W("2 on both sides")},
        {"redis.queues", "jobs", "schedule", "pass", W("1 on both sides")},
        {"redis.queues", "jobs", "dead", "fail",
         W("source 1, target 0", "did not all move")},
    };
    struct tu_outcome o;
    char *cfg = config_pairs(5, W("jobs", "queues: sidekiq"),
                             "redis.queues: {queues: [critical]}");

    flush_dbs(5);
    plant(src_port, 5,
          W("SADD queues default mailers", "RPUSH queue:default j1 j2 j3",
            "ZADD retry 1 r1 2 r2", "ZADD dead 1 d1", "ZADD schedule 1 s1"));
    plant(tgt_port, 5,
          W("SADD queues default mailers", "ZADD retry 1 r1 2 r2",
            "ZADD schedule 1 s1"));
    run_expect(cfg, "post", "redis.queues", want, N(want), 1);

    /* Drained and moved: the same config passes. */
    cli0(src_port, 5, "DEL queue:default");
    cli0(tgt_port, 5, "ZADD dead 1 d1");
    run_check(cfg, "post", "redis.queues", &o);
    tu_expect(&o, "redis.queues", "jobs", "queue:default", "pass",
              W("source drained (0), target 0"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* No queue of the framework anywhere is a verdict, not an empty suite. */
START_TEST(test_queues_none_found_passes)
{
    const struct want want[] = {
        {"redis.queues", "jobs", "queues", "pass",
         W("no rq queue found on either side")},
    };
    char *cfg = config_pairs(5, W("jobs", "queues: rq"), NULL);

    flush_dbs(5);
    run_expect(cfg, "post", "redis.queues", want, N(want), 0);
    free(cfg);
}
END_TEST

START_TEST(test_sidekiq_pre_double_processing)
{
    const struct want want[] = {
        {"redis.queues", "jobs", "myapp:queue:default", "fail",
         W("target already holds 1 jobs while the source holds 2",
           "double processing")},
        {"redis.queues", "jobs", "myapp:queue:low", "warn",
         W("target already holds 1 jobs")},
        {"redis.queues", "jobs", "myapp:retry", "pass",
         W("source 0, target 0")},
    };
    char *cfg = config_pairs(6, W("jobs", "queues: sidekiq"),
                             "redis.queues: {namespace: myapp}");

    flush_dbs(6);
    plant(src_port, 6,
          W("SADD myapp:queues default low", "RPUSH myapp:queue:default a b"));
    plant(tgt_port, 6,
          W("RPUSH myapp:queue:default a", "RPUSH myapp:queue:low x"));
    run_expect(cfg, "pre", "redis.queues", want, N(want), 1);
    free(cfg);
}
END_TEST

START_TEST(test_other_frameworks_post)
{
    const struct want want[] = {
        {"redis.queues", "resque", "resque:queue:high", "fail",
         W("source still holds 2 pending jobs")},
        {"redis.queues", "resque", "resque:failed", "pass",
         W("1 on both sides")},
        {"redis.queues", "bull", "bull:email:wait", "fail",
         W("source still holds 4 pending jobs")},
        {"redis.queues", "bull", "bull:email:failed", "fail",
         W("source 1, target 0")},
        {"redis.queues", "bull", "bull:email:active", "pass",
         W("source drained")},
        {"redis.queues", "rq", "rq:queue:default", "fail",
         W("source still holds 1 pending jobs")},
        {"redis.queues", "celery", "celery", "fail",
         W("source still holds 3 pending jobs")},
        {"redis.queues", "celery", "unacked", "fail",
         W("source still holds 1 in-flight jobs")},
    };
    char *cfg =
        config_pairs(7,
                     W("resque", "queues: resque", "bull", "queues: bullmq",
                       "rq", "queues: rq", "celery", "queues: celery"),
                     NULL);

    flush_dbs(7);
    plant(src_port, 7,
          W("SADD resque:queues high", "RPUSH resque:queue:high a b",
            "RPUSH resque:failed f"));
    cli0(tgt_port, 7, "RPUSH resque:failed f");
    plant(src_port, 7,
          W("HSET bull:email:meta opts x", "RPUSH bull:email:wait 1 2 3 4",
            "ZADD bull:email:failed 1 x", "SADD rq:queues rq:queue:default",
            "RPUSH rq:queue:default job1"));
    cli0(src_port, 7,
         "SADD _kombu.binding.celery "
         "\"$(printf 'celery\\006\\026\\006\\026celery')\"");
    plant(src_port, 7,
          W("RPUSH celery m1 m2", "RPUSH \"$(printf 'celery\\006\\0263')\" m3",
            "HSET unacked tag1 m4"));
    run_expect(cfg, "post", "redis.queues", want, N(want), 1);
    free(cfg);
}
END_TEST

/* Key shapes the frameworks' clients do not make: a literal prefix
 * holding SCAN glob characters matches itself only, and an index of the
 * wrong type is an error, not zero jobs. */
START_TEST(test_queue_prefix_glob_and_wrong_type)
{
    const struct want want[] = {
        {"redis.queues", "celery", "a*[b]_q1", "fail",
         W("a*[b]_q1: source still holds 1 pending jobs")},
        {"redis.queues", "resque", "resque:delayed:*", "error",
         W("ZSCAN resque:delayed_queue_schedule", "not a sorted set")},
    };
    struct tu_outcome o;
    char *cfg = config_pairs(
        8, W("celery", "queues: celery", "resque", "queues: resque"),
        "redis.queues: {prefix: \"a*[b]_\"}");
    char *res = config_pairs(8, W("resque", "queues: resque"), NULL);

    flush_dbs(8);
    cli0(src_port, 8,
         "SADD 'a*[b]__kombu.binding.celery' "
         "\"$(printf 'q1\\006\\026\\006\\026q1')\"");
    cli0(src_port, 8,
         "SADD 'axb__kombu.binding.celery' "
         "\"$(printf 'decoy\\006\\026\\006\\026decoy')\"");
    plant(src_port, 8,
          W("RPUSH 'a*[b]_q1' m1", "RPUSH axb_decoy m2",
            "SET resque:delayed_queue_schedule 1"));
    run_check(cfg, "post", "redis.queues", &o);
    tu_expect(&o, "redis.queues", "celery", "a*[b]_q1", "fail", want[0].words);
    ck_assert_ptr_null(tu_case(&o, "redis.queues", "celery", "a*[b]_decoy"));
    tu_outcome_free(&o);
    run_expect(res, "post", "redis.queues", &want[1], 1, 2);
    flush_dbs(8);
    free(cfg);
    free(res);
}
END_TEST

/* Only read commands reach the servers: tests/test_audit.c proves it on
 * private servers (commandstats on the shared test bed would see other
 * suites' writes). */

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
    tcase_add_test(tc, test_keyspace_named_dbs_differ);
    tcase_add_test(tc, test_sidekiq_undrained_post);
    tcase_add_test(tc, test_queues_none_found_passes);
    tcase_add_test(tc, test_sidekiq_pre_double_processing);
    tcase_add_test(tc, test_other_frameworks_post);
    tcase_add_test(tc, test_queue_prefix_glob_and_wrong_type);
    suite_add_tcase(s, tc);
    return s;
}

static int redis_checks_setup(void)
{
    src_port = tu_tb_port("CUTOVER_TB_REDIS_SOURCE_URL");
    tgt_port = tu_tb_port("CUTOVER_TB_REDIS_TARGET_URL");
    tls_port = tu_tb_port("CUTOVER_TB_REDIS_TLS_URL");
    setenv("REDISCLI_AUTH", tu_tb("CUTOVER_TB_REDIS_PASSWORD"), 1);
    return 0;
}

TU_SUITE(.make = redis_checks_suite,
         .testbed = TU_VARS("CUTOVER_TB_REDIS_SOURCE_URL",
                            "CUTOVER_TB_REDIS_TARGET_URL",
                            "CUTOVER_TB_REDIS_TLS_URL",
                            "CUTOVER_TB_REDIS_PASSWORD", "CUTOVER_TB_CA",
                            "CUTOVER_TB_SILENT", "CUTOVER_TB_CLOSED_PORT"),
         .setup = redis_checks_setup);
