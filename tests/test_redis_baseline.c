/*
 * label: net
 * test_redis_baseline.c - baseline snapshots of redis.keyspace and
 * redis.queues end to end on the test bed's plain Redis pair: `cutover
 * snapshot --side S -o FILE`, then `cutover check --baseline FILE` with the
 * snapshotted side's URL on the closed port, so any attempt to contact it
 * would show as an error.
 *
 * A faithful live side passes; drift on it (keys missing under a pattern,
 * key names changed, a queue's depth changed, a source left undrained)
 * fails naming the pattern or queue with both counts; facts the snapshot
 * lacks are errors saying so; value sampling is skipped. No snapshot holds
 * the password, a value or a key name.
 *
 * Data lives in db 13 under keys starting "bl" (no other suite uses that
 * db); each test deletes exactly those keys, never a whole db.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define W(...) TU_WORDS(__VA_ARGS__)
#define DB     13
/* in every planted value: must never reach a snapshot or a report */
#define VALUE "val-sentinel-5150"

static int src_port, tgt_port;

/* ---- planting data ------------------------------------------------------ */

/* Runs the commands in cmds (NULL-ended; no single quotes) through one
 * redis-cli on port, db DB; asserts none failed. The password travels in
 * REDISCLI_AUTH. */
static void cli(int port, const char *const *cmds)
{
    struct co_buf b;
    char *out = NULL;
    int rc;

    co_buf_init(&b);
    co_buf_puts(&b, "printf '%s\\n'");
    for (size_t i = 0; cmds[i] != NULL; i++)
        co_buf_addf(&b, " '%s'", cmds[i]);
    co_buf_addf(&b, " | redis-cli -h 127.0.0.1 -p %d -n %d 2>&1", port, DB);
    rc = tu_sh(b.s, &out);
    ck_assert_msg(rc == 0 && (out == NULL || strstr(out, "ERR") == NULL),
                  "%s: %s", b.s, out ? out : "");
    free(out);
    co_buf_free(&b);
}

/* Deletes this suite's keys (and only those) on both servers. */
static void clean(void)
{
    int ports[2] = {src_port, tgt_port};

    for (int i = 0; i < 2; i++) {
        char *cmd = co_asprintf(
            "redis-cli -h 127.0.0.1 -p %d -n %d --scan --pattern 'bl*' | "
            "xargs -r redis-cli -h 127.0.0.1 -p %d -n %d DEL >/dev/null",
            ports[i], DB, ports[i], DB);
        ck_assert_int_eq(tu_sh(cmd, NULL), 0);
        free(cmd);
    }
}

/* The same data on port: users under a pattern, a session, a Sidekiq
 * namespace "blq" with two queues, retries and a dead job. */
static void plant_app(int port)
{
    cli(port, W("MSET bl:user:alice " VALUE "-a bl:user:bob " VALUE "-b",
                "HSET bl:user:carol name " VALUE,
                "SET bl:session:1 " VALUE " EX 1000",
                "SADD blq:queues default mailers",
                "ZADD blq:retry 1 sentinel-r1 2 sentinel-r2",
                "ZADD blq:dead 1 sentinel-d1"));
}

/* ---- configs and runs --------------------------------------------------- */

/* One redis resource "jobs" on db DB of both servers; a side whose port
 * is 0 points at the closed port instead. extra: more resource keys. */
static char *config(int sport, int tport, const char *extra)
{
    const char *closed = tu_tb("CUTOVER_TB_CLOSED_PORT");
    char sp[16], tp[16];

    snprintf(sp, sizeof(sp), "%d", sport);
    snprintf(tp, sizeof(tp), "%d", tport);
    return co_asprintf(
        "version: 1\n"
        "settings: {timeout: 20s}\n"
        "redis:\n"
        "  jobs:\n"
        "    source: "
        "\"redis://:${CUTOVER_TB_REDIS_PASSWORD}@127.0.0.1:%s/%d\"\n"
        "    target: "
        "\"redis://:${CUTOVER_TB_REDIS_PASSWORD}@127.0.0.1:%s/%d\"\n"
        "    queues: sidekiq\n"
        "    patterns: [\"bl:user:*\", \"bl:session:*\"%s]\n"
        "checks:\n"
        "  redis.queues: {namespace: blq%s}\n"
        "  redis.keyspace: {sample: 10}\n",
        sport ? sp : closed, DB, tport ? tp : closed, DB,
        extra ? ", \"bl:extra:*\"" : "", extra ? ", queues: [critical]" : "");
}

/* `cutover snapshot --side side` of cfg_text into dir/snap.json; asserts
 * it worked and that the file holds neither the password, nor a value,
 * nor a key name. Returns the path. */
static char *take(const char *dir, const char *cfg_text, const char *side)
{
    struct tu_proc p;
    char *cfg = tu_write_file(dir, "snap.yml", cfg_text);
    char *path = co_asprintf("%s/snap.json", dir);
    const char *argv[] = {NULL, "snapshot", "-c", cfg, "--side",
                          side, "-o",       path, NULL};
    const char *pw = tu_tb("CUTOVER_TB_REDIS_PASSWORD");
    char *text;

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 60), 0);
    ck_assert_msg(p.status == 0, "snapshot: %d %s", p.status, p.err);
    ck_assert_ptr_nonnull(strstr(p.err, "snapshot of the"));
    ck_assert_ptr_null(strstr(p.err, pw));
    ck_assert_ptr_null(strstr(p.out, pw));
    text = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_null(strstr(text, pw));
    ck_assert_msg(strstr(text, "sentinel") == NULL, "a value: %s", text);
    ck_assert_msg(strstr(text, "alice") == NULL, "a key name: %s", text);
    ck_assert_ptr_nonnull(strstr(text, "\"redis.keyspace\""));
    ck_assert_ptr_nonnull(strstr(text, "\"redis.queues\""));
    ck_assert_ptr_nonnull(strstr(text, "\"bl:user:*\""));
    free(text);
    tu_proc_free(&p);
    free(cfg);
    return path;
}

/* `cutover check --phase post --only redis.* --baseline snap`; asserts
 * no value appears in any output. */
static void run_with(const char *cfg_text, const char *snap,
                     struct tu_outcome *o)
{
    const char *args[] = {"--phase",    "post",    "--only",
                          "redis.*",    "--junit", "report.xml",
                          "--baseline", snap,      NULL};

    tu_check_run_hiding(cfg_text, args, NULL, 60, VALUE, o);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_source_gone_faithful_target_passes)
{
    char *dir = tu_tmpdir(), *cfg, *snap;
    struct tu_outcome o;

    clean();
    plant_app(src_port);
    plant_app(tgt_port);
    cfg = config(src_port, tgt_port, NULL);
    snap = take(dir, cfg, "source");
    free(cfg);

    /* Heroku is gone: its URL is a closed port */
    cfg = config(0, tgt_port, NULL);
    run_with(cfg, snap, &o);
    tu_expect(&o, "redis.keyspace", "jobs", "db13", "pass",
              W("on both sides"));
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:user:*", "pass",
              W("bl:user:*: source 3 keys, target 3",
                "same key names on both sides"));
    ck_assert_str_eq(
        tu_field(tu_case(&o, "redis.keyspace", "jobs", "pattern bl:user:*"),
                 "source"),
        "3 keys (hash 1, string 2)");
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:session:*", "pass",
              W("source 1 keys, target 1"));
    tu_expect(&o, "redis.keyspace", "jobs", "sample", "skip",
              W("cannot be compared against the baseline snapshot (source",
                "keeps no values"));
    tu_expect(&o, "redis.queues", "jobs", "blq:queue:default", "pass",
              W("source drained (0), target 0"));
    tu_expect(&o, "redis.queues", "jobs", "blq:queue:mailers", "pass",
              W("source drained (0), target 0"));
    tu_expect(&o, "redis.queues", "jobs", "blq:retry", "pass",
              W("2 on both sides"));
    tu_expect(&o, "redis.queues", "jobs", "blq:dead", "pass",
              W("1 on both sides"));
    tu_expect_sole(
        &o, "redis.connect", "jobs", "skip",
        W("replaced by the baseline snapshot", "needs the live server"));
    ck_assert_msg(!tu_mentions(&o, "refused"), "%s", o.text);
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
    free(snap);
    free(dir);
}
END_TEST

START_TEST(test_source_gone_drifted_target_fails)
{
    char *dir = tu_tmpdir(), *cfg, *snap;
    struct tu_outcome o;

    clean();
    plant_app(src_port);
    plant_app(tgt_port);
    /* jobs left on the source when it was snapshotted */
    cli(src_port, W("RPUSH blq:queue:default j1 j2"));
    cfg = config(src_port, tgt_port, NULL);
    snap = take(dir, cfg, "source");
    free(cfg);
    /* drift on the target afterwards */
    cli(tgt_port, W("DEL bl:user:bob", "DEL bl:session:1",
                    "SET bl:session:2 " VALUE, "ZADD blq:dead 2 sentinel-d2"));

    cfg = config(0, tgt_port, NULL);
    run_with(cfg, snap, &o);
    tu_expect(&o, "redis.keyspace", "jobs", "db13", "fail",
              W("db13: source 8 keys, target 6 (-2)"));
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:user:*", "fail",
              W("bl:user:*: source 3 keys, target 2",
                "key names differ from the baseline snapshot's"));
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:session:*", "fail",
              W("bl:session:*: source 1 keys, target 1",
                "key names differ from the baseline snapshot's"));
    tu_expect(&o, "redis.queues", "jobs", "blq:queue:default", "fail",
              W("blq:queue:default: source still holds 2 pending jobs "
                "(target 0)"));
    /* a dead job more on the target lost nothing (issue 17) */
    tu_expect(&o, "redis.queues", "jobs", "blq:dead", "pass",
              W("blq:dead: source 1, target 2", "at least as many"));
    tu_expect(&o, "redis.queues", "jobs", "blq:retry", "pass",
              W("2 on both sides"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
    free(snap);
    free(dir);
}
END_TEST

/* A snapshot of the target stands in for it while the source is live:
 * the recorded side is the second one. */
START_TEST(test_target_snapshot_replaces_target)
{
    char *dir = tu_tmpdir(), *cfg, *snap;
    struct tu_outcome o;

    clean();
    plant_app(src_port);
    plant_app(tgt_port);
    cfg = config(src_port, tgt_port, NULL);
    snap = take(dir, cfg, "target");
    free(cfg);
    cli(src_port, W("SET bl:user:dave " VALUE));

    cfg = config(src_port, 0, NULL);
    run_with(cfg, snap, &o);
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:user:*", "fail",
              W("bl:user:*: source 4 keys, target 3"));
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:session:*", "pass",
              W("source 1 keys, target 1"));
    tu_expect(&o, "redis.queues", "jobs", "blq:dead", "pass",
              W("1 on both sides"));
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);
    free(snap);
    free(dir);
}
END_TEST

/* A copy of the snapshot without the redis facts. */
static char *without_facts(const char *dir, const char *snap)
{
    json_error_t jerr;
    json_t *root = json_load_file(snap, 0, &jerr);
    json_t *facts;
    char *path = co_asprintf("%s/nofacts.json", dir);

    ck_assert_msg(root != NULL, "%s: %s", snap, jerr.text);
    facts = json_object_get(
        json_object_get(json_object_get(root, "resources"), "redis.jobs"),
        "facts");
    ck_assert_ptr_nonnull(facts);
    json_object_clear(facts);
    ck_assert_int_eq(json_dump_file(root, path, 0), 0);
    json_decref(root);
    return path;
}

START_TEST(test_missing_facts_are_errors)
{
    char *dir = tu_tmpdir(), *cfg, *snap, *bare, *ns;
    struct tu_outcome o;

    clean();
    plant_app(src_port);
    plant_app(tgt_port);
    cfg = config(src_port, tgt_port, NULL);
    snap = take(dir, cfg, "source");
    free(cfg);

    /* a pattern and a queue the snapshot did not know */
    cfg = config(0, tgt_port, "extra");
    run_with(cfg, snap, &o);
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:extra:*", "error",
              W("the baseline snapshot (source, taken",
                "holds no key counts for pattern bl:extra:*",
                "another config"));
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:user:*", "pass", NULL);
    tu_expect(&o, "redis.queues", "jobs", "blq:queue:critical", "error",
              W("holds no depth for blq:queue:critical"));
    tu_expect(&o, "redis.queues", "jobs", "blq:queue:default", "pass", NULL);
    ck_assert_msg(o.status == 2, "%s", o.text);
    tu_outcome_free(&o);
    free(cfg);

    /* another Sidekiq namespace than the snapshot's */
    cfg = config(0, tgt_port, NULL);
    ns = co_asprintf("%.*snamespace: other}\n",
                     (int)(strstr(cfg, "namespace: blq}") - cfg), cfg);
    run_with(ns, snap, &o);
    tu_expect(&o, "redis.queues", "jobs", "queues", "error",
              W("the baseline snapshot (source, taken",
                "was taken with queues: sidekiq (namespace \"blq\")",
                "now says queues: sidekiq (namespace \"other\")"));
    ck_assert_int_eq(tu_ncases(&o, "redis.queues", "jobs"), 1);
    tu_outcome_free(&o);
    free(ns);

    /* a snapshot with no redis facts at all */
    bare = without_facts(dir, snap);
    run_with(cfg, bare, &o);
    tu_expect(&o, "redis.keyspace", "jobs", "keyspace", "error",
              W("holds no key counts per db"));
    tu_expect(&o, "redis.keyspace", "jobs", "pattern bl:user:*", "error",
              W("holds no key counts for pattern bl:user:*"));
    tu_expect(&o, "redis.queues", "jobs", "queues", "error",
              W("holds no queue depths"));
    ck_assert_int_eq(tu_ncases(&o, "redis.queues", "jobs"), 1);
    ck_assert_msg(o.status == 2, "%s", o.text);
    tu_outcome_free(&o);
    free(bare);
    free(cfg);
    free(snap);
    free(dir);
    clean();
}
END_TEST

static int redis_baseline_setup(void)
{
    src_port = tu_tb_port("CUTOVER_TB_REDIS_SOURCE_URL");
    tgt_port = tu_tb_port("CUTOVER_TB_REDIS_TARGET_URL");
    setenv("REDISCLI_AUTH", tu_tb("CUTOVER_TB_REDIS_PASSWORD"), 1);
    return 0;
}

static Suite *redis_baseline_suite(void)
{
    Suite *s = suite_create("redis_baseline");
    TCase *tc = tcase_create("snapshot");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_source_gone_faithful_target_passes);
    tcase_add_test(tc, test_source_gone_drifted_target_fails);
    tcase_add_test(tc, test_target_snapshot_replaces_target);
    tcase_add_test(tc, test_missing_facts_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = redis_baseline_suite,
         .testbed = TU_VARS("CUTOVER_TB_REDIS_SOURCE_URL",
                            "CUTOVER_TB_REDIS_TARGET_URL",
                            "CUTOVER_TB_REDIS_PASSWORD",
                            "CUTOVER_TB_CLOSED_PORT"),
         .setup = redis_baseline_setup);
