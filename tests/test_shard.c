/*
 * label: net
 * test_shard.c - `cutover check --shard I/N` on the real test bed.
 *
 * One config with several resources of every shardable kind: a
 * PostgreSQL database with tables of very different sizes (drift planted
 * in some), a Redis resource with several patterns, domains, endpoints
 * and outbound targets. For N = 1, 2, 3 and 7 the N shards' cases put
 * together must be exactly the unsharded run's, case for case and status
 * for status (the multiset of (check, resource, case, status)). Also:
 * the split follows sizes (the big table is alone in its shard), reports
 * say which shard they are, usage errors exit 64, and a snapshot taken
 * per shard serves that shard's --baseline run, again adding up to the
 * unsharded baseline run. The assignment itself (co_shard_assign) is
 * checked for balance and for stability when a table is added.
 *
 * Uses database shard_t on both clusters and keys "shard:*" in Redis db
 * 14 (no other suite uses them).
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkrun.h"
#include "cutover/check.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define DB       "shard_t"
#define REDIS_DB 14

static const char data_sql[] =
    "CREATE TABLE big (id bigint PRIMARY KEY, t text);"
    "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 150000) g;"
    "CREATE TABLE mid (id int PRIMARY KEY, t text);"
    "INSERT INTO mid SELECT g, md5(g::text) FROM generate_series(1, 8000) g;"
    "CREATE TABLE changed (id serial PRIMARY KEY, v int);"
    "INSERT INTO changed (v) SELECT g FROM generate_series(1, 3000) g;"
    "CREATE TABLE gone (id int PRIMARY KEY);"
    "INSERT INTO gone SELECT generate_series(1, 10);"
    "CREATE TABLE nokey (v text);"
    "INSERT INTO nokey SELECT 'v' || g FROM generate_series(1, 500) g;"
    "CREATE TABLE s1 (id serial PRIMARY KEY, v text);"
    "CREATE TABLE s2 (id serial PRIMARY KEY, v text);"
    "CREATE TABLE s3 (id uuid PRIMARY KEY);"
    "CREATE TABLE s4 (a int, b text, PRIMARY KEY (a, b));"
    "INSERT INTO s1 (v) SELECT 'x' FROM generate_series(1, 40) g;"
    "INSERT INTO s2 (v) SELECT 'y' FROM generate_series(1, 70) g;"
    "INSERT INTO s3 SELECT md5(g::text)::uuid FROM generate_series(1, 90) g;"
    "INSERT INTO s4 SELECT g % 3, 'k' || g FROM generate_series(1, 60) g;"
    "CREATE SEQUENCE free_seq;"
    "SELECT nextval('free_seq') FROM generate_series(1, 5);"
    "VACUUM ANALYZE;";

/* Drift on the target: changed rows, a row too many, a dropped table, a
 * sequence left behind. */
static const char drift_sql[] =
    "UPDATE changed SET v = -v WHERE id IN (7, 1500);"
    "INSERT INTO s2 (id, v) VALUES (1000, 'extra');"
    "DROP TABLE gone;"
    "SELECT setval('s1_id_seq', 1);"
    "VACUUM ANALYZE;";

static int src_port, tgt_port;

/* ---- the fixture -------------------------------------------------------- */

static void redis_cmds(int port, const char *cmds)
{
    char *sh = co_asprintf("printf '%%s\\n' %s | redis-cli -h 127.0.0.1 -p %d "
                           "-n %d >/dev/null 2>&1",
                           cmds, port, REDIS_DB);
    ck_assert_int_eq(tu_sh(sh, NULL), 0);
    free(sh);
}

static void redis_clean(void)
{
    int ports[2] = {src_port, tgt_port};

    for (int i = 0; i < 2; i++) {
        char *sh = co_asprintf(
            "redis-cli -h 127.0.0.1 -p %d -n %d --scan --pattern 'shard:*' | "
            "xargs -r redis-cli -h 127.0.0.1 -p %d -n %d DEL >/dev/null",
            ports[i], REDIS_DB, ports[i], REDIS_DB);
        ck_assert_int_eq(tu_sh(sh, NULL), 0);
        free(sh);
    }
}

/* Keys under five patterns; the target lacks two of "shard:c:*". */
static void redis_plant(void)
{
    static const char common[] =
        "'MSET shard:a:1 1 shard:a:2 2 shard:b:1 1 shard:d:1 1 shard:e:1 1'"
        " 'HSET shard:e:2 f v' 'RPUSH shard:d:2 x y'";

    redis_clean();
    redis_cmds(src_port, common);
    redis_cmds(tgt_port, common);
    redis_cmds(src_port, "'MSET shard:c:1 1 shard:c:2 2 shard:c:3 3'");
    redis_cmds(tgt_port, "'MSET shard:c:1 1'");
}

static void setup(void)
{
    tu_pg_create(DB);
    tu_pg_sql("source", DB, data_sql);
    tu_pg_copy(DB);
    tu_pg_sql("target", DB, drift_sql);
    redis_plant();
}

static void teardown(void)
{
    tu_pg_drop(DB);
    redis_clean();
}

static char *redis_url(int port)
{
    return co_asprintf("redis://:%s@127.0.0.1:%d/%d",
                       tu_tb("CUTOVER_TB_REDIS_PASSWORD"), port, REDIS_DB);
}

/* Every shardable kind, several of each, with passes and failures. */
static char *config(void)
{
    char *src = tu_pg_url("source", DB), *tgt = tu_pg_url("target", DB);
    char *rs = redis_url(src_port), *rt = redis_url(tgt_port);
    const char *good = tu_tb("CUTOVER_TB_HTTPS_GOOD");
    char *cfg = co_asprintf(
        "version: 1\n"
        "settings: {jobs: 4, timeout: 60s, resolvers: [\"%s\"]}\n"
        "postgres:\n"
        "  main:\n"
        "    source: \"%s\"\n"
        "    target: \"%s\"\n"
        "redis:\n"
        "  cache:\n"
        "    source: \"%s\"\n"
        "    target: \"%s\"\n"
        "    queues: none\n"
        "    patterns: [\"shard:a:*\", \"shard:b:*\", \"shard:c:*\", "
        "\"shard:d:*\", \"shard:e:*\", \"shard:none:*\"]\n"
        "domains:\n"
        "  app.cutover.test: {expect_cname: "
        "elb-demo-1234.aptible.cutover.test}\n"
        "  open.cutover.test: {expect_addresses: [\"127.0.0.1\"]}\n"
        "  legacy.cutover.test: {expect_cname: "
        "elb-demo-1234.aptible.cutover.test}\n"
        "  slow-ttl.cutover.test: {expect_addresses: [\"127.0.0.2\"]}\n"
        "  v6.cutover.test: {}\n"
        "endpoints:\n"
        "  good: {url: \"https://localhost:%s/\", ca_file: %s}\n"
        "  expired: {url: \"https://localhost:%s/\", ca_file: %s}\n"
        "  plain: {url: \"%s/healthz\"}\n"
        "outbound:\n"
        "  https: 127.0.0.1:%s\n"
        "  closed: 127.0.0.1:%s\n"
        "  http: %s\n",
        tu_tb("CUTOVER_TB_DNS"), src, tgt, rs, rt, good,
        tu_tb("CUTOVER_TB_CA"), tu_tb("CUTOVER_TB_HTTPS_EXPIRED"),
        tu_tb("CUTOVER_TB_CA"), tu_tb("CUTOVER_TB_HTTP"), good,
        tu_tb("CUTOVER_TB_CLOSED_PORT"), tu_tb("CUTOVER_TB_HTTP") + 7);
    free(src);
    free(tgt);
    free(rs);
    free(rt);
    return cfg;
}

/* ---- cases as a multiset ------------------------------------------------ */

struct tally {
    char **v;
    size_t n;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "check\tresource\tcase\tstatus" for every case of a report. */
static void tally_add(struct tally *t, json_t *report)
{
    json_t *checks = json_object_get(report, "checks"), *r, *c;
    size_t i, k;

    json_array_foreach(checks, i, r)
    {
        json_array_foreach(json_object_get(r, "cases"), k, c)
        {
            t->v = co_realloc(t->v, (t->n + 1) * sizeof(*t->v));
            t->v[t->n++] =
                co_asprintf("%s\t%s\t%s\t%s", tu_field(r, "check"),
                            tu_field(r, "resource"), tu_field(c, "name"),
                            tu_field(c, "status"));
        }
    }
}

static void tally_free(struct tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

/* Asserts both multisets are equal, naming the first difference. */
static void tally_same(struct tally *whole, struct tally *parts, int n)
{
    size_t i;

    qsort(whole->v, whole->n, sizeof(char *), cmp_str);
    qsort(parts->v, parts->n, sizeof(char *), cmp_str);
    for (i = 0; i < whole->n && i < parts->n; i++)
        ck_assert_msg(strcmp(whole->v[i], parts->v[i]) == 0,
                      "N=%d: unsharded has \"%s\" where the shards have "
                      "\"%s\"",
                      n, whole->v[i], parts->v[i]);
    ck_assert_msg(whole->n == parts->n,
                  "N=%d: %zu cases unsharded, %zu in the shards (first "
                  "extra: \"%s\")",
                  n, whole->n, parts->n,
                  i < whole->n ? whole->v[i] : parts->v[i]);
}

/* The JSON report's "shard" member: {"index": i, "total": n}. */
static void expect_shard_field(json_t *report, int i, int n)
{
    json_t *s = json_object_get(report, "shard");

    ck_assert_msg(json_is_object(s), "no \"shard\" member in the report");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "index")), i);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "total")), n);
}

/* Which shard (1..n) reported `name` for check on resource; 0: none. */
static int shard_of(json_t *const *reports, int n, const char *check,
                    const char *name)
{
    for (int i = 0; i < n; i++) {
        json_t *checks = json_object_get(reports[i], "checks"), *r, *c;
        size_t a, b;
        json_array_foreach(checks, a, r)
        {
            if (strcmp(tu_field(r, "check"), check) != 0)
                continue;
            json_array_foreach(json_object_get(r, "cases"), b, c)
            {
                if (strcmp(tu_field(c, "name"), name) == 0)
                    return i + 1;
            }
        }
    }
    return 0;
}

/* How many cases check has in one report. */
static size_t ncases(json_t *report, const char *check)
{
    json_t *checks = json_object_get(report, "checks"), *r;
    size_t a, n = 0;

    json_array_foreach(checks, a, r)
    {
        if (strcmp(tu_field(r, "check"), check) == 0)
            n += json_array_size(json_object_get(r, "cases"));
    }
    return n;
}

/* ---- union equality ----------------------------------------------------- */

static const char *const post_args[] = {"--phase", "post", NULL};

START_TEST(shards_add_up_to_the_whole_run)
{
    static const int ns[] = {1, 2, 3, 7};
    static const char *const spread[] = {"pg.rowcount",    "pg.checksum",
                                         "redis.keyspace", "dns.resolve",
                                         "http.probe",     "tcp.reach"};
    char *cfg = config();
    struct tu_outcome whole;
    struct tally w = {NULL, 0};

    tu_check_run(cfg, post_args, NULL, 120, &whole);
    ck_assert_msg(json_object_get(whole.report, "shard") == NULL,
                  "an unsharded run has no \"shard\" member");
    tally_add(&w, whole.report);
    /* the fixture's drift is there to be found, by someone */
    tu_expect(&whole, "pg.checksum", "main", "public.changed", "fail",
              TU_WORDS("id=7 (changed)", "id=1500 (changed)"));
    tu_expect(&whole, "redis.keyspace", "cache", "pattern shard:c:*", "fail",
              TU_WORDS("source 3 keys, target 1"));
    ck_assert_uint_ge(w.n, 40);
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        int n = ns[k];
        struct tally parts = {NULL, 0};
        json_t *reports[7];
        int worst = 0;

        for (int i = 1; i <= n; i++) {
            char shard[16];
            const char *args[] = {"--phase", "post", "--shard", shard, NULL};
            struct tu_outcome o;

            snprintf(shard, sizeof(shard), "%d/%d", i, n);
            tu_check_run(cfg, args, NULL, 120, &o);
            expect_shard_field(o.report, i, n);
            tally_add(&parts, o.report);
            if (o.status > worst && o.status != 2)
                worst = o.status;
            reports[i - 1] = json_incref(o.report);
            tu_outcome_free(&o);
        }
        tally_same(&w, &parts, n);
        /* the whole run fails; so does the shard holding a failure */
        ck_assert_int_eq(worst, 1);
        if (n > 1) {
            /* whole-resource checks are shard 1's alone */
            ck_assert_int_eq(
                shard_of(reports, n, "pg.connect", "public.big") == 0 &&
                    ncases(reports[0], "pg.schema") > 0,
                1);
            for (int i = 1; i < n; i++) {
                ck_assert_uint_eq(ncases(reports[i], "pg.schema"), 0);
                ck_assert_uint_eq(ncases(reports[i], "pg.connect"), 0);
            }
        }
        if (n == 3) /* the work is really spread */
            for (size_t c = 0; c < sizeof(spread) / sizeof(spread[0]); c++) {
                int busy = 0;
                for (int i = 0; i < n; i++)
                    busy += ncases(reports[i], spread[c]) > 0;
                ck_assert_msg(busy >= 2, "N=3: %s ran in %d shard(s)",
                              spread[c], busy);
            }
        for (int i = 0; i < n; i++)
            json_decref(reports[i]);
        tally_free(&parts);
    }
    tally_free(&w);
    tu_outcome_free(&whole);
    free(cfg);
}
END_TEST

/* Sizes, not counts: with two shards, the 150k-row table outweighs the
 * nine small ones together, so it is alone in its shard. */
START_TEST(split_follows_table_sizes)
{
    char *cfg = config();
    json_t *reports[2];
    int big;

    for (int i = 0; i < 2; i++) {
        const char *args[] = {"--phase",     "post",    "--only",
                              "pg.checksum", "--shard", i == 0 ? "1/2" : "2/2",
                              NULL};
        struct tu_outcome o;

        tu_check_run(cfg, args, NULL, 120, &o);
        reports[i] = json_incref(o.report);
        tu_outcome_free(&o);
    }
    big = shard_of(reports, 2, "pg.checksum", "public.big");
    ck_assert_int_ne(big, 0);
    ck_assert_uint_eq(ncases(reports[big - 1], "pg.checksum"), 1);
    ck_assert_uint_ge(ncases(reports[2 - big], "pg.checksum"), 8);
    json_decref(reports[0]);
    json_decref(reports[1]);
    free(cfg);
}
END_TEST

START_TEST(junit_names_the_shard)
{
    char *cfg = config();
    const char *const args[] = {"--phase", "post", "--only",  "pg.rowcount",
                                "--shard", "2/3",  "--junit", "report.xml",
                                "--quiet", NULL};
    struct tu_outcome o;
    char *path, *xml;

    tu_check_run(cfg, args, NULL, 120, &o);
    path = co_asprintf("%s/report.xml", o.dir);
    xml = tu_read_file(path, NULL);
    ck_assert_msg(xml != NULL, "no JUnit report (exit %d: %s)", o.status,
                  o.err);
    ck_assert_ptr_nonnull(strstr(xml, "<property name=\"shard\" "
                                      "value=\"2/3\"/>"));
    free(xml);
    free(path);
    tu_outcome_free(&o);
    free(cfg);
}
END_TEST

/* ---- usage ----------------------------------------------------------------
 */

START_TEST(bad_shards_are_usage_errors)
{
    static const char *const bad[] = {"0/3", "4/3",  "x",    "1/0",   "2/",
                                      "/2",  "1/2x", "-1/2", "1/1001"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[] = {NULL,      "check", "-c", "/nonexistent.yml",
                              "--shard", bad[i],  NULL};
        struct tu_proc p;

        ck_assert_int_eq(tu_run(&p, argv, NULL, NULL, 30), 0);
        ck_assert_msg(p.status == 64, "--shard %s: exit %d, want 64 (%s)",
                      bad[i], p.status, p.err);
        ck_assert_ptr_nonnull(strstr(p.err, "--shard must be I/N"));
        tu_proc_free(&p);
    }
}
END_TEST

START_TEST(bad_progress_is_a_usage_error)
{
    const char *argv[] = {NULL,         "check", "-c", "/nonexistent.yml",
                          "--progress", "loud",  NULL};
    struct tu_proc p;

    ck_assert_int_eq(tu_run(&p, argv, NULL, NULL, 30), 0);
    ck_assert_int_eq(p.status, 64);
    ck_assert_ptr_nonnull(strstr(p.err, "--progress must be auto, plain"));
    tu_proc_free(&p);
}
END_TEST

/* ---- snapshots per shard ------------------------------------------------ */

/* `cutover snapshot --side source [--shard S] -o FILE` in dir. */
static void snapshot(const char *dir, const char *shard, const char *out)
{
    const char *argv[] = {NULL,
                          "snapshot",
                          "-c",
                          "cutover.yml",
                          "--side",
                          "source",
                          "-o",
                          out,
                          "--only",
                          "pg.*",
                          "--only",
                          "redis.keyspace",
                          shard ? "--shard" : NULL,
                          shard,
                          NULL};
    struct tu_proc p;

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 120), 0);
    ck_assert_msg(p.status == 0, "snapshot %s: exit %d: %s",
                  shard ? shard : "", p.status, p.err);
    tu_proc_free(&p);
}

/* `cutover check --baseline FILE [--shard S]` in dir; its JSON report. */
static json_t *baseline_check(const char *dir, const char *shard,
                              const char *snap)
{
    const char *const args[] = {
        "--phase",     "drift",  "--baseline",     snap,
        "--quiet",     "--only", "pg.rowcount",    "--only",
        "pg.checksum", "--only", "redis.keyspace", shard ? "--shard" : NULL,
        shard,         NULL};
    struct tu_outcome o;
    json_t *r;

    tu_check_run_at(dir, "cutover.yml", args, NULL, 120, &o);
    ck_assert_msg(o.status == 1, "baseline check %s: exit %d: %s",
                  shard ? shard : "", o.status, o.err);
    r = json_incref(o.report);
    tu_outcome_free(&o);
    return r;
}

START_TEST(snapshots_and_baselines_per_shard)
{
    char *cfg = config();
    char *dir = tu_tmpdir();
    struct tally whole = {NULL, 0}, parts = {NULL, 0};
    json_t *r;

    free(tu_write_file(dir, "cutover.yml", cfg));
    snapshot(dir, NULL, "all.json");
    r = baseline_check(dir, NULL, "all.json");
    tally_add(&whole, r);
    json_decref(r);
    for (int i = 1; i <= 3; i++) {
        char shard[8], snap[32];

        snprintf(shard, sizeof(shard), "%d/3", i);
        snprintf(snap, sizeof(snap), "snap%d.json", i);
        snapshot(dir, shard, snap);
        r = baseline_check(dir, shard, snap);
        expect_shard_field(r, i, 3);
        tally_add(&parts, r);
        json_decref(r);
    }
    tally_same(&whole, &parts, 3);
    tally_free(&whole);
    tally_free(&parts);
    free(dir);
    free(cfg);
}
END_TEST

/* ---- the assignment ------------------------------------------------------
 */

static double lcg(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((*s >> 8) & 0xffffff) / 16777216.0;
}

/* n tables with log-normal sizes (a few huge, most small), like a real
 * schema; keys "public.tK". */
static struct co_shard_unit *tables(size_t n, char (**keys)[32])
{
    struct co_shard_unit *u = calloc(n, sizeof(*u));
    unsigned seed = 7;

    *keys = calloc(n, 32);
    for (size_t i = 0; i < n; i++) {
        double z = sqrt(-2 * log(lcg(&seed) + 1e-9)) * cos(6.283 * lcg(&seed));
        snprintf((*keys)[i], 32, "public.t%zu", i);
        u[i].key = (*keys)[i];
        u[i].weight = exp(16 + 2.5 * z) + 1048576;
    }
    return u;
}

START_TEST(assignment_is_balanced_and_stable)
{
    static const int ns[] = {2, 3, 7, 16};
    size_t n = 1000;
    char(*keys)[32];
    struct co_shard_unit *u = tables(n + 1, &keys);
    int *a = calloc(n + 1, sizeof(int)), *b = calloc(n + 1, sizeof(int));

    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        int N = ns[k];
        double load[16] = {0}, total = 0, biggest = 0, max = 0;
        size_t moved = 0;

        co_shard_assign(u, n, N, a);
        co_shard_assign(u, n, N, b);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq(a[i], b[i]); /* deterministic */
            ck_assert(a[i] >= 0 && a[i] < N);
            load[a[i]] += u[i].weight;
            total += u[i].weight;
            if (u[i].weight > biggest)
                biggest = u[i].weight;
        }
        for (int s = 0; s < N; s++)
            max = load[s] > max ? load[s] : max;
        /* at most the capacity (+15 %, +25 % for weight rounding), or
         * one unit over it */
        ck_assert_msg(max <= 1.15 * 1.25 * total / N + biggest,
                      "N=%d: busiest shard %.2f x the average", N,
                      max / (total / N));
        /* one table more moves few others (greedy moved 37-51 %) */
        co_shard_assign(u, n + 1, N, b);
        for (size_t i = 0; i < n; i++)
            moved += a[i] != b[i];
        ck_assert_msg(moved <= n / 20, "N=%d: adding a table moved %zu", N,
                      moved);
    }
    free(a);
    free(b);
    free(u);
    free(keys);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("shard");
    TCase *unit = tcase_create("assignment");
    TCase *bed = tcase_create("testbed");

    tcase_add_test(unit, assignment_is_balanced_and_stable);
    tcase_add_test(unit, bad_shards_are_usage_errors);
    tcase_add_test(unit, bad_progress_is_a_usage_error);
    suite_add_tcase(s, unit);
    tcase_add_unchecked_fixture(bed, setup, teardown);
    tcase_set_timeout(bed, 600);
    tcase_add_test(bed, shards_add_up_to_the_whole_run);
    tcase_add_test(bed, split_follows_table_sizes);
    tcase_add_test(bed, junit_names_the_shard);
    tcase_add_test(bed, snapshots_and_baselines_per_shard);
    suite_add_tcase(s, bed);
    return s;
}

static int shard_setup(void)
{
    /* redis-cli reads the password from there (never argv) */
    setenv("REDISCLI_AUTH", tu_tb("CUTOVER_TB_REDIS_PASSWORD"), 1);
    src_port = tu_tb_port("CUTOVER_TB_REDIS_SOURCE_URL");
    tgt_port = tu_tb_port("CUTOVER_TB_REDIS_TARGET_URL");
    return 0;
}

TU_SUITE(.make = suite, .pg = true,
         .testbed = TU_VARS("CUTOVER_TB_REDIS_PASSWORD",
                            "CUTOVER_TB_REDIS_SOURCE_URL", "CUTOVER_TB_DNS",
                            "CUTOVER_TB_HTTP"),
         .setup = shard_setup);
