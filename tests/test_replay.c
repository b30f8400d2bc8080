/*
 * test_replay.c - the comparisons of the snapshot-capable checks, tested
 * without a server: two recorded sessions (the JSON files in
 * tests/data/replay, taken from real servers by record.sh) stand in for both
 * sides
 * (`--baseline SOURCE --baseline TARGET`), and every URL in the config
 * points at a closed port, so a case that contacted a server would say
 * so. A matching pair passes; each recorded drift fails for its reason.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Every side at a closed port: nothing listens there. */
static const char *const closed_env[] = {
    "REPLAY_PG_SOURCE=postgres://cutover@127.0.0.1:45498/none",
    "REPLAY_PG_TARGET=postgres://cutover@127.0.0.1:45498/none",
    "REPLAY_REDIS_SOURCE=redis://127.0.0.1:45498/0",
    "REPLAY_REDIS_TARGET=redis://127.0.0.1:45498/0",
    NULL,
};

static char *data_path(const char *name)
{
    return co_asprintf("%s/tests/data/replay/%s", tu_source_dir(), name);
}

/* `cutover check --phase PHASE` on the recorded sessions source.json and
 * target (a file in tests/data/replay). */
static void replay(const char *phase, const char *target, struct tu_outcome *o)
{
    char *cfg_path = data_path("cutover.yml");
    char *src = data_path("source.json"), *tgt = data_path(target);
    char *cfg = tu_read_file(cfg_path, NULL);
    const char *const args[] = {"--phase",    phase, "--baseline", src,
                                "--baseline", tgt,   NULL};

    ck_assert_msg(cfg != NULL, "cannot read %s", cfg_path);
    tu_check_run(cfg, args, closed_env, 60, o);
    free(cfg);
    free(cfg_path);
    free(src);
    free(tgt);
}

/* No case may have reached for a server: every one of them is closed. */
static void assert_no_contact(const struct tu_outcome *o)
{
    ck_assert_msg(strstr(o->text, "refused") == NULL &&
                      strstr(o->text, "45498") == NULL,
                  "a server was contacted: %s", o->text);
}

START_TEST(test_matching_sessions_pass)
{
    struct tu_outcome o;

    replay("drift", "target-same.json", &o);
    ck_assert_msg(o.status == 0, "%s", o.text);
    assert_no_contact(&o);
    tu_expect(&o, "pg.rowcount", "main", "public.orders", "pass",
              W("1000 rows"));
    tu_expect(&o, "pg.checksum", "main", "public.accounts", "pass", NULL);
    tu_expect(&o, "pg.schema", "main", "indexes", "pass", NULL);
    tu_expect(&o, "redis.keyspace", "jobs", "db27", "pass",
              W("5 keys on both sides"));
    tu_expect(&o, "redis.keyspace", "jobs", "pattern user:*", "pass",
              W("source 3 keys, target 3"));
    /* a check that needs a live server says so, and is not a verdict */
    tu_expect(&o, "pg.connect", "main", "main", "skip",
              W("replaced by the baseline snapshot", "needs the live server"));
    tu_outcome_free(&o);
}
END_TEST

START_TEST(test_recorded_drift_fails)
{
    struct tu_outcome o;

    replay("post", "target.json", &o);
    ck_assert_msg(o.status == 1, "%s", o.text);
    assert_no_contact(&o);
    tu_expect(&o, "pg.extensions", "main", "pgcrypto", "fail",
              W("not installed on target"));
    tu_expect(&o, "pg.schema", "main", "public.orders_account_idx", "fail",
              W("missing on target"));
    tu_expect(&o, "pg.rowcount", "main", "public.orders", "fail",
              W("source 1000 rows, target 997 (-3)"));
    tu_expect(&o, "pg.rowcount", "main", "public.settings", "pass", NULL);
    tu_expect(&o, "pg.checksum", "main", "public.accounts", "fail",
              W("1 row differs", "id in [0, 499]", "rows are not named"));
    tu_expect(&o, "pg.checksum", "main", "public.settings", "pass", NULL);
    tu_expect(&o, "pg.sequences", "main", "public.orders_id_seq", "fail",
              W("target last_value 997 < source 1000"));
    tu_expect(&o, "redis.keyspace", "jobs", "db27", "fail",
              W("source 5 keys, target 3 (-2)"));
    tu_expect(&o, "redis.keyspace", "jobs", "pattern user:*", "fail",
              W("source 3 keys, target 2", "keeps no key names"));
    tu_expect(&o, "redis.queues", "jobs", "queue:default", "fail",
              W("source still holds 3 pending jobs (target 0)"));
    tu_outcome_free(&o);
}
END_TEST

/* Two snapshots of one side cannot be compared: a config error. */
START_TEST(test_two_of_one_side_refused)
{
    char *src = data_path("source.json"), *cfg_path = data_path("cutover.yml");
    const char *const argv[] = {CUTOVER_BIN,  "check",      "-c",
                                cfg_path,     "--baseline", src,
                                "--baseline", src,          NULL};
    struct tu_proc p;

    ck_assert_int_eq(tu_run(&p, argv, closed_env, NULL, 30), 0);
    ck_assert_msg(p.status == 78, "exit %d: %s", p.status, p.err);
    ck_assert_msg(strstr(p.err, "two baselines both stand for the source"),
                  "%s", p.err);
    tu_proc_free(&p);
    free(src);
    free(cfg_path);
}
END_TEST

static Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");

    tcase_add_test(tc, test_matching_sessions_pass);
    tcase_add_test(tc, test_recorded_drift_fails);
    tcase_add_test(tc, test_two_of_one_side_refused);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = replay_suite);
