/*
 * label: net
 * test_baseline.c - baseline snapshots end to end on the test bed's
 * PostgreSQL clusters: `cutover snapshot --side S -o FILE`, then
 * `cutover check --baseline FILE` with the snapshotted side unreachable.
 *
 * A snapshot of the source lets a later run with the source gone pass on
 * a faithful target and fail, naming the object, on a drifted one; a
 * snapshot of the target stands in as the source (--baseline-as) for
 * nightly drift runs; checks that need the live server are skipped with
 * the reason; a snapshot from another format version, a broken file, a
 * resource the snapshot lacks, an unreachable side while snapshotting and
 * a secret in the recorded data are each refused with a clear message.
 * No snapshot holds the password.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

static const char schema_sql[] =
    "CREATE EXTENSION IF NOT EXISTS citext;"
    "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
    "CREATE TABLE users (id bigserial PRIMARY KEY, email citext NOT NULL,"
    " m mood DEFAULT 'ok', at timestamptz DEFAULT '2024-01-01');"
    "INSERT INTO users (email) SELECT 'u' || g || '@x' FROM "
    "generate_series(1, 30000) g;"
    "CREATE TABLE tokens (id uuid PRIMARY KEY, v int);"
    "INSERT INTO tokens SELECT md5(g::text)::uuid, g FROM "
    "generate_series(1, 5000) g;"
    "CREATE TABLE pairs (a int, b text, PRIMARY KEY (a, b));"
    "INSERT INTO pairs SELECT g % 7, 'k' || g FROM generate_series(1, 700) g;"
    "CREATE TABLE log (line text);"
    "INSERT INTO log SELECT 'l' || g FROM generate_series(1, 50) g;"
    "CREATE VIEW active AS SELECT id, email FROM users WHERE m <> 'sad';"
    "CREATE INDEX users_at ON users (at);"
    "ANALYZE;";

/* A config with one postgres resource "main" (and "other" when asked). */
static char *config(const char *src, const char *tgt, bool other)
{
    const char *ca = tu_tb("CUTOVER_TB_CA");

    return co_asprintf(
        "version: 1\n"
        "settings: {jobs: 2, timeout: 60s}\n"
        "postgres:\n"
        "  main:\n"
        "    source: \"%s\"\n"
        "    target: \"%s\"\n"
        "    ca_file: %s\n"
        "%s",
        src, tgt, ca,
        other ? "  other:\n    source: \"postgres://u@127.0.0.1:1/x\"\n"
                "    target: \"postgres://u@127.0.0.1:1/x\"\n"
              : "");
}

static char *down_url(const char *db)
{
    return co_asprintf("postgres://cutover:nope@127.0.0.1:%s/%s",
                       tu_tb("CUTOVER_TB_CLOSED_PORT"), db);
}

/* Runs `cutover snapshot` in dir on cfg_text; returns its process. */
static struct tu_proc snapshot(const char *dir, const char *cfg_text,
                               const char *side, const char *out)
{
    struct tu_proc p;
    char *cfg = tu_write_file(dir, "snap.yml", cfg_text);
    const char *argv[] = {NULL, "snapshot", "-c", cfg, "--side",
                          side, "-o",       out,  NULL};

    ck_assert_int_eq(tu_run(&p, argv, NULL, dir, 120), 0);
    free(cfg);
    return p;
}

/* Snapshot of side `side` of db into dir/snap.json; asserts it worked
 * and that the file holds no password. Returns the path. */
static char *take(const char *dir, const char *db, const char *side)
{
    char *src = tu_pg_url("source", db), *tgt = tu_pg_url("target", db);
    char *cfg = config(src, tgt, false);
    char *path = co_asprintf("%s/snap.json", dir);
    struct tu_proc p = snapshot(dir, cfg, side, path);
    char *text;

    ck_assert_msg(p.status == 0, "snapshot: %d %s", p.status, p.err);
    ck_assert_ptr_nonnull(strstr(p.err, "snapshot of the"));
    text = tu_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_null(strstr(text, tu_tb("CUTOVER_TB_PG_PASSWORD")));
    ck_assert_ptr_nonnull(strstr(text, "\"format\":\"cutover-snapshot\""));
    free(text);
    tu_proc_free(&p);
    free(cfg);
    free(src);
    free(tgt);
    return path;
}

static void run_with(const char *cfg_text, const char *snap, const char *as,
                     struct tu_outcome *o)
{
    const char *args[] = {
        "--phase", "post", "--baseline", snap, as ? "--baseline-as" : NULL,
        as,        NULL};

    tu_check_run(cfg_text, args, NULL, 180, o);
}

/* A database made on the source from sql and copied to the target, a
 * snapshot of `side` taken, and the config of a later run whose source
 * is a closed port (Heroku gone). */
struct bl {
    char *dir, *snap, *down, *tgt, *cfg;
};

static void bl_setup(struct bl *f, const char *db, const char *sql,
                     const char *side)
{
    f->dir = tu_tmpdir();
    tu_pg_create(db);
    tu_pg_sql("source", db, sql);
    tu_pg_copy(db);
    f->snap = take(f->dir, db, side);
    f->down = down_url(db);
    f->tgt = tu_pg_url("target", db);
    f->cfg = config(f->down, f->tgt, false);
}

static void bl_free(struct bl *f)
{
    free(f->cfg);
    free(f->tgt);
    free(f->down);
    free(f->snap);
    free(f->dir);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_source_gone_faithful_target_passes)
{
    struct bl f;
    struct tu_outcome o;
    json_t *checks;
    size_t i;
    json_t *r;

    bl_setup(&f, "pg_baseline_copy", schema_sql, "source");
    run_with(f.cfg, f.snap, NULL, &o);
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_expect(&o, "pg.rowcount", "main", "public.users", "pass",
              TU_WORDS("30000 rows"));
    tu_expect(&o, "pg.checksum", "main", "public.tokens", "pass",
              TU_WORDS("checksums match"));
    tu_expect(&o, "pg.checksum", "main", "public.pairs", "pass", NULL);
    tu_expect(&o, "pg.checksum", "main", "public.log", "pass", NULL);
    tu_expect(&o, "pg.sequences", "main", "public.users_id_seq", "pass", NULL);
    tu_expect(&o, "pg.extensions", "main", "citext", "pass", NULL);
    tu_expect_sole(&o, "pg.connect", "main", "skip",
                   TU_WORDS("replaced by the baseline snapshot",
                            "needs the live server"));
    ck_assert_int_eq(tu_count_status(&o, "pg.schema", "fail"), 0);
    /* the source shows as the baseline in the report */
    checks = json_object_get(o.report, "checks");
    json_array_foreach(checks, i, r)
    {
        const char *s = json_string_value(json_object_get(r, "source"));
        if (s != NULL)
            ck_assert_msg(strstr(s, "baseline") != NULL, "source: %s", s);
    }
    tu_outcome_free(&o);
    bl_free(&f);
}
END_TEST

START_TEST(test_source_gone_drifted_target_fails)
{
    const char *db = "pg_baseline_drift";
    struct bl f;
    struct tu_outcome o;

    bl_setup(&f, db, schema_sql, "source");
    tu_pg_sql("target", db,
              "UPDATE users SET email = 'changed@x' WHERE id = 777;"
              "DELETE FROM tokens WHERE v IN (10, 20);"
              "INSERT INTO log VALUES ('extra');"
              "DROP VIEW active;"
              "SELECT setval('users_id_seq', 5);");
    run_with(f.cfg, f.snap, NULL, &o);
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_expect(&o, "pg.schema", "main", "public.active", "fail",
              TU_WORDS("missing on target"));
    tu_expect(&o, "pg.rowcount", "main", "public.tokens", "fail",
              TU_WORDS("5000", "4998"));
    tu_expect(&o, "pg.rowcount", "main", "public.log", "fail",
              TU_WORDS("50", "51"));
    tu_expect(&o, "pg.checksum", "main", "public.users", "fail",
              TU_WORDS("key range", "id in [", "segment hashes"));
    tu_expect(&o, "pg.checksum", "main", "public.tokens", "fail",
              TU_WORDS("at least 2 rows differ"));
    tu_expect(&o, "pg.checksum", "main", "public.log", "fail",
              TU_WORDS("no primary key"));
    tu_expect(&o, "pg.checksum", "main", "public.pairs", "pass", NULL);
    tu_expect(&o, "pg.sequences", "main", "public.users_id_seq", "fail",
              TU_WORDS("last_value 5"));
    tu_outcome_free(&o);
    bl_free(&f);
}
END_TEST

START_TEST(test_blessed_target_stands_in_as_source)
{
    const char *db = "pg_baseline_nightly";
    struct bl f;
    struct tu_outcome o;

    /* a blessed snapshot of the target; Heroku is gone */
    bl_setup(&f, db, schema_sql, "target");
    run_with(f.cfg, f.snap, "source", &o);
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_expect(&o, "pg.rowcount", "main", "public.tokens", "pass", NULL);
    tu_outcome_free(&o);

    tu_pg_sql("target", db, "DELETE FROM pairs WHERE a = 3 AND b = 'k10';");
    run_with(f.cfg, f.snap, "source", &o);
    ck_assert_msg(o.status == 1, "%s", o.text);
    tu_expect(&o, "pg.rowcount", "main", "public.pairs", "fail",
              TU_WORDS("700", "699"));
    tu_expect(&o, "pg.checksum", "main", "public.pairs", "fail",
              TU_WORDS("key range"));
    tu_outcome_free(&o);
    bl_free(&f);
}
END_TEST

/* A copy of the snapshot at path with `from` replaced by `to`. */
static char *edited(const char *dir, const char *path, const char *name,
                    const char *from, const char *to)
{
    char *text = tu_read_file(path, NULL), *at, *out, *p;

    ck_assert_ptr_nonnull(text);
    at = strstr(text, from);
    ck_assert_msg(at != NULL, "%s not in snapshot", from);
    out =
        co_asprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    p = tu_write_file(dir, name, out);
    free(out);
    free(text);
    return p;
}

static void expect_refused(const char *cfg, const char *snap, const char *word)
{
    struct tu_outcome o;

    tu_check_try(cfg, TU_WORDS("--baseline", snap), NULL, 60, &o);
    ck_assert_msg(o.status == 78, "status %d: %s", o.status, o.err);
    ck_assert_msg(strstr(o.err, word) != NULL, "stderr: %s", o.err);
    tu_outcome_free(&o);
}

START_TEST(test_bad_snapshots_are_refused)
{
    struct bl fx;
    struct tu_outcome o;
    char *f, *cfg;

    bl_setup(&fx, "pg_baseline_files", "CREATE TABLE t (id int PRIMARY KEY);",
             "source");

    f = edited(fx.dir, fx.snap, "v2.json", "\"version\":1", "\"version\":2");
    expect_refused(fx.cfg, f, "format version 2 is newer");
    free(f);
    f = edited(fx.dir, fx.snap, "v0.json", "\"version\":1", "\"version\":0");
    expect_refused(fx.cfg, f, "is older");
    free(f);
    f = edited(fx.dir, fx.snap, "nofmt.json", "cutover-snapshot", "something");
    expect_refused(fx.cfg, f, "not a cutover snapshot");
    free(f);
    f = tu_write_file(fx.dir, "broken.json", "{\"format\": \n  [1, 2");
    expect_refused(fx.cfg, f, "broken.json:2:");
    free(f);
    expect_refused(fx.cfg, "/nonexistent/snap.json", "/nonexistent/snap.json");

    /* a resource the snapshot does not know is an error, not a live run */
    cfg = config(fx.down, fx.tgt, true);
    run_with(cfg, fx.snap, NULL, &o);
    ck_assert_msg(o.status == 2, "%s", o.text);
    tu_expect(&o, "pg.schema", "other", "other", "error",
              TU_WORDS("has no postgres resource", "other"));
    tu_expect(&o, "pg.schema", "main", "tables", "pass", NULL);
    tu_outcome_free(&o);
    free(cfg);
    bl_free(&fx);
}
END_TEST

START_TEST(test_snapshot_refuses_errors_and_secrets)
{
    const char *db = "pg_baseline_refuse";
    char *dir = tu_tmpdir(), *down, *src, *tgt, *cfg, *sql;
    char *path = co_asprintf("%s/never.json", dir);
    struct tu_proc p;

    tu_pg_create(db);
    tu_pg_sql("source", db, "CREATE TABLE t (id int PRIMARY KEY);");
    tu_pg_copy(db);

    /* the side to record is down: nothing is written */
    down = down_url(db);
    tgt = tu_pg_url("target", db);
    cfg = config(down, tgt, false);
    p = snapshot(dir, cfg, "source", path);
    ck_assert_msg(p.status == 2, "status %d: %s", p.status, p.err);
    ck_assert_ptr_nonnull(strstr(p.err, "snapshot not written"));
    ck_assert_ptr_nonnull(strstr(p.err, "refused"));
    ck_assert_ptr_null(tu_read_file(path, NULL));
    tu_proc_free(&p);
    free(cfg);

    /* the password turns up in recorded data (a view's text) */
    sql = co_asprintf("CREATE VIEW leak AS SELECT '%s'::text AS x;",
                      tu_tb("CUTOVER_TB_PG_PASSWORD"));
    tu_pg_sql("source", db, sql);
    src = tu_pg_url("source", db);
    cfg = config(src, tgt, false);
    p = snapshot(dir, cfg, "source", path);
    ck_assert_msg(p.status == 2, "status %d: %s", p.status, p.err);
    ck_assert_ptr_nonnull(strstr(p.err, "not written"));
    ck_assert_ptr_nonnull(strstr(p.err, "postgres.main"));
    ck_assert_ptr_null(strstr(p.err, tu_tb("CUTOVER_TB_PG_PASSWORD")));
    ck_assert_ptr_null(tu_read_file(path, NULL));
    tu_proc_free(&p);
    free(sql);
    free(cfg);
    free(src);
    free(tgt);
    free(down);
    free(path);
    free(dir);
}
END_TEST

/* Domains: the answers and TTLs of every resolver are kept; a later run
 * names an answer that changed since and a TTL that was raised. The
 * snapshot is edited to stand for an earlier state of the zone. */
START_TEST(test_dns_answers_since_baseline)
{
    char *dir = tu_tmpdir(), *path = co_asprintf("%s/dns.json", dir), *cfg;
    char *f1;
    struct tu_proc p;
    struct tu_outcome o;
    const char *args[] = {"--baseline", NULL, NULL};

    cfg = co_asprintf("version: 1\n"
                      "domains:\n"
                      "  app.cutover.test:\n"
                      "    resolvers: [\"%s\", \"%s\"]\n",
                      tu_tb("CUTOVER_TB_DNS"), tu_tb("CUTOVER_TB_DNS_STALE"));
    p = snapshot(dir, cfg, "target", path);
    ck_assert_msg(p.status == 0, "snapshot: %d %s", p.status, p.err);
    tu_proc_free(&p);

    args[1] = path;
    tu_check_run(cfg, args, NULL, 60, &o);
    tu_expect(&o, "dns.resolve", "app.cutover.test",
              "app.cutover.test since baseline @ 127.0.0.1:45353", "pass",
              TU_WORDS("same answer", "elb-demo-1234"));
    tu_expect(&o, "dns.ttl", "app.cutover.test",
              "app.cutover.test since baseline @ 127.0.0.1:45354", "pass",
              TU_WORDS("no TTL above"));
    tu_outcome_free(&o);

    /* the Aptible CNAME was once something else; the A record's TTL was
     * once 10 s (it is 60 s now) */
    f1 = edited(dir, path, "dns-old.json",
                "-> CNAME elb-demo-1234.aptible.cutover.test -> 127.0.0.1\"",
                "-> CNAME old.herokudns.cutover.test -> 127.0.0.1\"");
    free(path);
    path = edited(dir, f1, "dns-old2.json",
                  "\"A elb-demo-1234.aptible.cutover.test 127.0.0.1\":60",
                  "\"A elb-demo-1234.aptible.cutover.test 127.0.0.1\":10");
    args[1] = path;
    tu_check_run(cfg, args, NULL, 60, &o);
    tu_expect(&o, "dns.resolve", "app.cutover.test",
              "app.cutover.test since baseline @ 127.0.0.1:45353", "fail",
              TU_WORDS("answer changed since",
                       "was app.cutover.test -> CNAME "
                       "old.herokudns.cutover.test",
                       "now app.cutover.test -> CNAME elb-demo-1234"));
    tu_expect(&o, "dns.resolve", "app.cutover.test",
              "app.cutover.test since baseline @ 127.0.0.1:45354", "pass",
              NULL);
    tu_expect(&o, "dns.ttl", "app.cutover.test",
              "app.cutover.test since baseline @ 127.0.0.1:45353", "warn",
              TU_WORDS("TTL raised", "10 s -> 60 s"));
    tu_outcome_free(&o);
    free(f1);
    free(cfg);
    free(path);
    free(dir);
}
END_TEST

/* Endpoints: the certificate's fingerprint, names and expiry are kept;
 * the same certificate passes, a renewal (same subject and issuer)
 * passes saying so, another issuer warns naming both. */
START_TEST(test_certificate_since_baseline)
{
    char *dir = tu_tmpdir(), *path = co_asprintf("%s/tls.json", dir), *cfg;
    char *renewed, *other, *text, *fp;
    struct tu_proc p;
    struct tu_outcome o;
    const char *args[] = {"--only", "tls.cert", "--baseline", NULL, NULL};

    cfg = co_asprintf("version: 1\n"
                      "endpoints:\n"
                      "  web:\n"
                      "    url: https://app.cutover.test:%s/healthz\n"
                      "    connect_to: 127.0.0.1\n"
                      "    ca_file: %s\n",
                      tu_tb("CUTOVER_TB_HTTPS_GOOD"), tu_tb("CUTOVER_TB_CA"));
    p = snapshot(dir, cfg, "target", path);
    ck_assert_msg(p.status == 0, "snapshot: %d %s", p.status, p.err);
    tu_proc_free(&p);
    text = tu_read_file(path, NULL);
    fp = strstr(text, "\"fingerprint\":\"");
    ck_assert_ptr_nonnull(fp);
    fp = co_strndup(fp, strlen("\"fingerprint\":\"") + 20);

    args[3] = path;
    tu_check_run(cfg, args, NULL, 60, &o);
    tu_expect(&o, "tls.cert", "web", "web since baseline", "pass",
              TU_WORDS("same certificate", "SHA-256"));
    tu_outcome_free(&o);

    renewed = edited(dir, path, "renewed.json", fp,
                     "\"fingerprint\":\"00:00:00:00:00:00:0");
    args[3] = renewed;
    tu_check_run(cfg, args, NULL, 60, &o);
    tu_expect(&o, "tls.cert", "web", "web since baseline", "pass",
              TU_WORDS("renewed since", "same subject and issuer"));
    tu_outcome_free(&o);

    other = edited(dir, renewed, "other.json", "CN=cutover test CA",
                   "CN=Heroku Old CA");
    args[3] = other;
    tu_check_run(cfg, args, NULL, 60, &o);
    tu_expect(&o, "tls.cert", "web", "web since baseline", "warn",
              TU_WORDS("certificate changed since", "issuer CN=Heroku Old CA",
                       "-> CN=cutover test CA"));
    ck_assert_msg(o.status == 0, "%s", o.text);
    tu_outcome_free(&o);
    free(other);
    free(renewed);
    free(fp);
    free(text);
    free(cfg);
    free(path);
    free(dir);
}
END_TEST

static Suite *baseline_suite(void)
{
    Suite *s = suite_create("baseline");
    TCase *tc = tcase_create("pg");

    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_source_gone_faithful_target_passes);
    tcase_add_test(tc, test_source_gone_drifted_target_fails);
    tcase_add_test(tc, test_blessed_target_stands_in_as_source);
    tcase_add_test(tc, test_bad_snapshots_are_refused);
    tcase_add_test(tc, test_snapshot_refuses_errors_and_secrets);
    tcase_add_test(tc, test_dns_answers_since_baseline);
    tcase_add_test(tc, test_certificate_since_baseline);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = baseline_suite, .pg = true);
