/*
 * label: net
 * test_redis_frameworks.c - redis.queues against job queues filled by the
 * frameworks' own client code (tests/frameworks/: Sidekiq, Celery with
 * kombu, RQ, BullMQ, and Resque's layout through node-resque), so the
 * key layouts cutover counts can never drift from the frameworks'.
 *
 * Each script fills a db with the framework's API and prints the
 * framework's own counts (Sidekiq::Queue#size, kombu's queue size, RQ's
 * Queue.count and registries, BullMQ's getJobCounts(), node-resque's
 * lengths) as {"<case name>": N}; every test asserts that cutover's
 * source and target values equal them, case by case, besides the verdict
 * and message of the cases that matter.
 *
 * Dbs 20 to 24 of both test-bed servers (ci/services gives Redis 32) are this
 * suite's alone (db 13 is test_redis_baseline's, 2..9 test_redis_checks'):
 * each test FLUSHDBs its own db on both sides first and last. cutover itself
 * only reads; the scripts write.
 */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

#define W(...) TU_WORDS(__VA_ARGS__)

#define DB_SIDEKIQ 20
#define DB_RQ      21
#define DB_BULLMQ  22
#define DB_RESQUE  23
#define DB_CELERY  24

static int src_port, tgt_port;

/* Debian's interpreters (a pyenv shim on PATH may lack the packages). */
#define PYTHON "/usr/bin/python3"
#define RUBY   "/usr/bin/ruby"
#define NODE   "node"

/* ---- running the frameworks' scripts ---------------------------------- */

/* Runs `INTERP tests/frameworks/SCRIPT ARGS` (ARGS: shell words) in
 * tests/frameworks; asserts it exits 0 and returns what it printed. The
 * password reaches the scripts as CUTOVER_TB_REDIS_PASSWORD only. */
static char *script(const char *interp, const char *name, const char *fmt, ...)
    CO_PRINTF(3, 4);
static char *script(const char *interp, const char *name, const char *fmt, ...)
{
    char words[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(words, sizeof(words), fmt, ap);
    va_end(ap);
    return tu_sh_ok("cd '%s/tests/frameworks' && %s %s %s 2>&1",
                    tu_source_dir(), interp, name, words);
}

/* The framework's counts: the last line of its output that is a JSON
 * object (libraries may log before it). */
static json_t *counts_of(char *out)
{
    char *line = NULL;
    json_error_t e;
    json_t *j;

    for (char *p = out; p != NULL && *p != '\0';) {
        char *nl = strchr(p, '\n');
        if (*p == '{')
            line = p;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    ck_assert_msg(line != NULL, "no counts in: %s", out);
    line = co_strndup(line, strcspn(line, "\n"));
    j = json_loads(line, 0, &e);
    ck_assert_msg(json_is_object(j), "counts %s: %s", line, e.text);
    free(line);
    free(out);
    return j;
}

static void flush_db(int db)
{
    int ports[2] = {src_port, tgt_port};

    for (int i = 0; i < 2; i++) {
        char *cmd = co_asprintf("redis-cli -h 127.0.0.1 -p %d -n %d FLUSHDB "
                                "2>&1",
                                ports[i], db);
        char *out = NULL;
        int rc = tu_sh(cmd, &out);
        ck_assert_msg(rc == 0 && out && strstr(out, "OK"), "%s: %s", cmd,
                      out ? out : "");
        free(out);
        free(cmd);
    }
}

/* move_keys.py: DUMP/RESTORE each key (or SCAN pattern) of db to the
 * target, then delete it on the source (copy: keep it). */
static void move_keys(int db, bool copy, const char *keys)
{
    free(script(PYTHON, "move_keys.py", "%s %d %d %d %s", copy ? "--copy" : "",
                src_port, tgt_port, db, keys));
}

/* ---- running cutover -------------------------------------------------- */

/* One redis resource "jobs" on db of both servers, queues: framework,
 * with the redis.queues params body (may be NULL). */
static char *config(int db, const char *framework, const char *params)
{
    return co_asprintf(
        "version: 1\nredis:\n  jobs:\n"
        "    source: "
        "\"redis://:${CUTOVER_TB_REDIS_PASSWORD}@127.0.0.1:%d/%d\"\n"
        "    target: "
        "\"redis://:${CUTOVER_TB_REDIS_PASSWORD}@127.0.0.1:%d/%d\"\n"
        "    queues: %s\n%s%s%s",
        src_port, db, tgt_port, db, framework,
        params ? "checks:\n  redis.queues: {" : "", params ? params : "",
        params ? "}\n" : "");
}

static void run_phase(const char *cfg, const char *phase, struct tu_outcome *o)
{
    const char *const args[] = {"--phase",   phase, "--only", "redis.queues",
                                "--timeout", "10s", NULL};

    tu_check_run(cfg, args, NULL, 60, o);
}

/* Every count the framework reported on either side equals cutover's
 * value for the case of that name (a key a side's framework did not
 * list is 0 there). */
static void expect_counts(const struct tu_outcome *o, json_t *src, json_t *tgt)
{
    json_t *sides[2] = {src, tgt};
    const char *fields[2] = {"source", "target"};

    for (int s = 0; s < 2; s++) {
        const char *key;
        json_t *v;
        json_object_foreach(sides[s], key, v)
        {
            json_t *c = tu_case(o, "redis.queues", "jobs", key);
            char want[2][32];
            for (int k = 0; k < 2; k++) {
                json_t *n = json_object_get(sides[k], key);
                snprintf(want[k], sizeof(want[k]), "%lld",
                         n ? (long long)json_integer_value(n) : 0LL);
            }
            ck_assert_msg(c != NULL, "no case %s: %s", key, o->text);
            for (int k = 0; k < 2; k++)
                ck_assert_msg(strcmp(tu_field(c, fields[k]), want[k]) == 0,
                              "%s: %s %s, the framework says %s", key,
                              fields[k], tu_field(c, fields[k]), want[k]);
        }
    }
}

/* The framework's counts on both sides (script counts ARG on each). */
struct both {
    json_t *src, *tgt;
};

static void counts_both(struct both *b, const char *interp, const char *name,
                        int db, const char *arg)
{
    b->src =
        counts_of(script(interp, name, "%d %d counts %s", src_port, db, arg));
    b->tgt =
        counts_of(script(interp, name, "%d %d counts %s", tgt_port, db, arg));
}

static void both_free(struct both *b)
{
    json_decref(b->src);
    json_decref(b->tgt);
}

/* Runs the phase, asserts the exit code and every count. */
static void run_counted(const char *cfg, const char *phase, int status,
                        const struct both *b, struct tu_outcome *o)
{
    run_phase(cfg, phase, o);
    ck_assert_msg(o->status == status, "want exit %d: %s", status, o->text);
    expect_counts(o, b->src, b->tgt);
}

static void expect(const struct tu_outcome *o, const char *name,
                   const char *status, const char *const *words)
{
    tu_expect(o, "redis.queues", "jobs", name, status, words);
}

/* ---- Sidekiq ---------------------------------------------------------- */

#define SIDEKIQ "sidekiq_jobs.rb"

START_TEST(test_sidekiq_pre_depths)
{
    char *cfg = config(DB_SIDEKIQ, "sidekiq", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_SIDEKIQ);
    free(script(RUBY, SIDEKIQ, "%d %d fill", src_port, DB_SIDEKIQ));
    counts_both(&b, RUBY, SIDEKIQ, DB_SIDEKIQ, "");
    run_counted(cfg, "pre", 0, &b, &o);
    expect(&o, "queue:default", "pass", W("source 3, target 0"));
    expect(&o, "queue:mailers", "pass", W("source 2, target 0"));
    expect(&o, "schedule", "pass", W("source 1, target 0"));
    expect(&o, "retry", "pass", W("source 2, target 0"));
    expect(&o, "dead", "pass", W("source 1, target 0"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_SIDEKIQ);
    free(cfg);
}
END_TEST

START_TEST(test_sidekiq_undrained_post_fails)
{
    char *cfg = config(DB_SIDEKIQ, "sidekiq", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_SIDEKIQ);
    free(script(RUBY, SIDEKIQ, "%d %d fill", src_port, DB_SIDEKIQ));
    counts_both(&b, RUBY, SIDEKIQ, DB_SIDEKIQ, "");
    ck_assert_int_eq(json_integer_value(json_object_get(b.src, "retry")), 2);
    run_counted(cfg, "post", 1, &b, &o);
    expect(
        &o, "queue:default", "fail",
        W("queue:default: source still holds 3 pending jobs", "not drained"));
    expect(&o, "queue:mailers", "fail",
           W("queue:mailers: source still holds 2 pending jobs"));
    expect(&o, "schedule", "fail",
           W("schedule: source 1, target 0", "did not all move"));
    expect(&o, "retry", "fail",
           W("retry: source 2, target 0", "did not all move", "2 missing"));
    expect(&o, "dead", "fail", W("dead: source 1, target 0"));
    expect(&o, "processes", "pass", W("no workers left on the source"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_SIDEKIQ);
    free(cfg);
}
END_TEST

/* Issue 17, case 4: the sets copied to the target, then emptied on the
 * source, is a move, not a loss. */
START_TEST(test_sidekiq_drained_and_moved_passes)
{
    char *cfg = config(DB_SIDEKIQ, "sidekiq", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_SIDEKIQ);
    free(script(RUBY, SIDEKIQ, "%d %d fill", src_port, DB_SIDEKIQ));
    free(script(RUBY, SIDEKIQ, "%d %d drain", src_port, DB_SIDEKIQ));
    move_keys(DB_SIDEKIQ, false, "schedule retry dead");
    counts_both(&b, RUBY, SIDEKIQ, DB_SIDEKIQ, "");
    ck_assert_int_eq(json_integer_value(json_object_get(b.tgt, "retry")), 2);
    run_counted(cfg, "post", 0, &b, &o);
    /* Queue#clear also drops the name from `queues`: mailers is gone */
    expect(&o, "queue:default", "pass", W("source drained (0), target 0"));
    ck_assert_ptr_null(tu_case(&o, "redis.queues", "jobs", "queue:mailers"));
    expect(&o, "schedule", "pass", W("schedule: moved: source 0, target 1"));
    expect(&o, "retry", "pass", W("retry: moved: source 0, target 2"));
    expect(&o, "dead", "pass", W("dead: moved: source 0, target 1"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_SIDEKIQ);
    free(cfg);
}
END_TEST

/* Copied but one entry lost on the way: fewer on the target fails. */
START_TEST(test_sidekiq_set_short_on_target_fails)
{
    char *cfg = config(DB_SIDEKIQ, "sidekiq", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_SIDEKIQ);
    free(script(RUBY, SIDEKIQ, "%d %d fill", src_port, DB_SIDEKIQ));
    free(script(RUBY, SIDEKIQ, "%d %d drain", src_port, DB_SIDEKIQ));
    move_keys(DB_SIDEKIQ, true, "schedule retry dead");
    free(script(RUBY, SIDEKIQ, "%d %d clear-sets", tgt_port, DB_SIDEKIQ));
    move_keys(DB_SIDEKIQ, true, "schedule dead");
    counts_both(&b, RUBY, SIDEKIQ, DB_SIDEKIQ, "");
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "retry", "fail",
           W("retry: source 2, target 0", "did not all move"));
    expect(&o, "schedule", "pass", W("schedule: 1 on both sides"));
    expect(&o, "dead", "pass", W("dead: 1 on both sides"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_SIDEKIQ);
    free(cfg);
}
END_TEST

/* redis-namespace, as Sidekiq's `namespace:` option uses it. */
START_TEST(test_sidekiq_namespace)
{
    char *cfg = config(DB_SIDEKIQ, "sidekiq", "namespace: myapp");
    struct both b;
    struct tu_outcome o;

    flush_db(DB_SIDEKIQ);
    free(script(RUBY, SIDEKIQ, "%d %d fill myapp", src_port, DB_SIDEKIQ));
    counts_both(&b, RUBY, SIDEKIQ, DB_SIDEKIQ, "myapp");
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "myapp:queue:default", "fail",
           W("myapp:queue:default: source still holds 3 pending jobs"));
    expect(&o, "myapp:queue:mailers", "fail",
           W("source still holds 2 pending jobs"));
    expect(&o, "myapp:retry", "fail", W("myapp:retry: source 2, target 0"));
    tu_outcome_free(&o);
    both_free(&b);

    free(script(RUBY, SIDEKIQ, "%d %d drain myapp", src_port, DB_SIDEKIQ));
    move_keys(DB_SIDEKIQ, false, "myapp:schedule myapp:retry myapp:dead");
    counts_both(&b, RUBY, SIDEKIQ, DB_SIDEKIQ, "myapp");
    run_counted(cfg, "post", 0, &b, &o);
    expect(&o, "myapp:queue:default", "pass", W("source drained (0)"));
    expect(&o, "myapp:retry", "pass", W("moved: source 0, target 2"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_SIDEKIQ);
    free(cfg);
}
END_TEST

/* A Sidekiq server running a job: its process is registered and the
 * job is busy (Sidekiq::WorkSet); stopped, Sidekiq puts the job back in
 * its queue. */
START_TEST(test_sidekiq_running_server)
{
    char *cfg = config(DB_SIDEKIQ, "sidekiq", NULL);
    char *cmd, *dir, *log, *out = NULL;
    struct both b;
    struct tu_outcome o;
    int pid, waited = 0;

    flush_db(DB_SIDEKIQ);
    free(script(RUBY, SIDEKIQ, "%d %d slow", src_port, DB_SIDEKIQ));
    /* `timeout` stops it even when this test aborts; $! is its pid */
    dir = tu_tmpdir();
    log = co_asprintf("%s/sidekiq.log", dir);
    free(dir);
    cmd =
        co_asprintf("cd '%s/tests/frameworks' || exit 1; SIDEKIQ_TEST_PORT=%d "
                    "SIDEKIQ_TEST_DB=%d timeout 180 " RUBY
                    " /usr/bin/sidekiq -r ./sidekiq_app.rb -q slow -c 1 "
                    "-t 1 >'%s' 2>&1 & echo $!",
                    tu_source_dir(), src_port, DB_SIDEKIQ, log);
    ck_assert_int_eq(tu_sh(cmd, &out), 0);
    pid = (int)strtol(out, NULL, 10);
    ck_assert_msg(pid > 0, "sidekiq pid: %s", out);
    free(out);
    free(cmd);
    free(script(RUBY, SIDEKIQ, "%d %d wait-busy", src_port, DB_SIDEKIQ));
    counts_both(&b, RUBY, SIDEKIQ, DB_SIDEKIQ, "");
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "busy", "fail",
           W("busy: source still holds 1 in-flight jobs", "not drained"));
    expect(&o, "processes", "warn",
           W("1 worker processes still registered on the source"));
    expect(&o, "queue:slow", "pass", W("source drained (0)"));
    tu_outcome_free(&o);
    both_free(&b);

    kill(pid, SIGTERM);
    while (kill(pid, 0) == 0 && waited++ < 150)
        usleep(100 * 1000);
    ck_assert_msg(kill(pid, 0) != 0, "sidekiq %d did not stop", pid);
    /* Sidekiq pushes the job back as it stops (-t 1). With one processor
     * (-c 1): with two, the idle one's BRPOP took the requeued job and was
     * killed with it, losing it (seen under load in CI simulations). */
    counts_both(&b, RUBY, SIDEKIQ, DB_SIDEKIQ, "");
    if (json_integer_value(json_object_get(b.src, "queue:slow")) != 1) {
        char *text = tu_read_file(log, NULL);
        ck_abort_msg("Sidekiq did not put the in-flight job back in "
                     "queue:slow (Sidekiq::Queue says %lld); its log:\n%s",
                     (long long)json_integer_value(
                         json_object_get(b.src, "queue:slow")),
                     text ? text : "(none)");
    }
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "queue:slow", "fail",
           W("queue:slow: source still holds 1 pending jobs"));
    free(log);
    expect(&o, "busy", "pass", W("source drained (0)"));
    expect(&o, "processes", "pass", W("no workers left on the source"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_SIDEKIQ);
    free(cfg);
}
END_TEST

/* ---- Celery ----------------------------------------------------------- */

static json_t *celery_counts(int port, const char *prefix)
{
    return counts_of(script(PYTHON, "celery_jobs.py", "%d %d counts '%s'",
                            port, DB_CELERY, prefix));
}

static void celery_both(struct both *b, const char *prefix)
{
    b->src = celery_counts(src_port, prefix);
    b->tgt = celery_counts(tgt_port, prefix);
}

START_TEST(test_celery_pre_depths)
{
    char *cfg = config(DB_CELERY, "celery", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_CELERY);
    free(script(PYTHON, "celery_jobs.py", "%d %d fill", src_port, DB_CELERY));
    celery_both(&b, "");
    ck_assert_int_eq(json_integer_value(json_object_get(b.src, "reports")), 3);
    run_counted(cfg, "pre", 0, &b, &o);
    expect(&o, "celery", "pass", W("celery: source 2, target 0"));
    /* the priority-9 message sits in reports\x06\x169, summed in */
    expect(&o, "reports", "pass", W("reports: source 3, target 0"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_CELERY);
    free(cfg);
}
END_TEST

/* Issue 17, case 1: kombu's global_keyprefix "myapp:" (namespace myapp):
 * the queues are found through myapp:_kombu.binding.*, and the jobs
 * left in myapp:reports fail. */
START_TEST(test_celery_keyprefix_colon_undrained_fails)
{
    char *cfg = config(DB_CELERY, "celery", "namespace: myapp");
    struct both b;
    struct tu_outcome o;

    flush_db(DB_CELERY);
    free(script(PYTHON, "celery_jobs.py", "%d %d fill myapp:", src_port,
                DB_CELERY));
    celery_both(&b, "myapp:");
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "myapp:reports", "fail",
           W("myapp:reports: source still holds 3 pending jobs"));
    expect(&o, "myapp:celery", "fail",
           W("myapp:celery: source still holds 2 pending jobs"));
    expect(&o, "myapp:unacked", "pass", W("source drained (0)"));
    ck_assert_ptr_null(tu_case(&o, "redis.queues", "jobs", "reports"));
    tu_outcome_free(&o);
    both_free(&b);

    free(script(PYTHON, "celery_jobs.py", "%d %d drain myapp:", src_port,
                DB_CELERY));
    celery_both(&b, "myapp:");
    run_counted(cfg, "post", 0, &b, &o);
    expect(&o, "myapp:reports", "pass", W("source drained (0), target 0"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_CELERY);
    free(cfg);
}
END_TEST

/* Issue 17, case 1: a prefix without a colon, given literally; a message
 * a killed worker left unacknowledged is in-flight. */
START_TEST(test_celery_keyprefix_no_colon_unacked_fails)
{
    char *cfg = config(DB_CELERY, "celery", "prefix: myapp_");
    struct both b;
    struct tu_outcome o;

    flush_db(DB_CELERY);
    free(script(PYTHON, "celery_jobs.py", "%d %d fill myapp_", src_port,
                DB_CELERY));
    free(script(PYTHON, "celery_jobs.py", "%d %d unacked myapp_", src_port,
                DB_CELERY));
    celery_both(&b, "myapp_");
    ck_assert_int_eq(
        json_integer_value(json_object_get(b.src, "myapp_unacked")), 1);
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "myapp_reports", "fail",
           W("myapp_reports: source still holds 2 pending jobs"));
    expect(&o, "myapp_unacked", "fail",
           W("myapp_unacked: source still holds 1 in-flight jobs"));
    tu_outcome_free(&o);
    both_free(&b);

    /* namespace and prefix together are refused */
    free(cfg);
    cfg = config(DB_CELERY, "celery", "prefix: myapp_, namespace: myapp");
    run_phase(cfg, "post", &o);
    expect(&o, "queues", "error", W("both namespace and prefix are set"));
    ck_assert_msg(o.status == 2, "%s", o.text);
    tu_outcome_free(&o);
    flush_db(DB_CELERY);
    free(cfg);
}
END_TEST

/* ---- RQ --------------------------------------------------------------- */

#define RQ "rq_jobs.py"

START_TEST(test_rq_pre_depths)
{
    char *cfg = config(DB_RQ, "rq", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_RQ);
    free(script(PYTHON, RQ, "%d %d fill", src_port, DB_RQ));
    counts_both(&b, PYTHON, RQ, DB_RQ, "");
    run_counted(cfg, "pre", 0, &b, &o);
    expect(&o, "rq:queue:default", "pass", W("source 3, target 0"));
    expect(&o, "rq:wip:default", "pass", W("source 1, target 0"));
    expect(&o, "rq:failed:work", "pass", W("source 1, target 0"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_RQ);
    free(cfg);
}
END_TEST

START_TEST(test_rq_undrained_post_fails)
{
    char *cfg = config(DB_RQ, "rq", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_RQ);
    free(script(PYTHON, RQ, "%d %d fill", src_port, DB_RQ));
    counts_both(&b, PYTHON, RQ, DB_RQ, "");
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "rq:queue:default", "fail",
           W("rq:queue:default: source still holds 3 pending jobs"));
    expect(&o, "rq:wip:default", "fail",
           W("rq:wip:default: source still holds 1 in-flight jobs"));
    expect(&o, "rq:scheduled:default", "fail",
           W("source 1, target 0", "did not all move"));
    expect(&o, "rq:deferred:default", "fail",
           W("source 1, target 0", "did not all move"));
    expect(&o, "rq:failed:work", "fail",
           W("source 1, target 0", "did not all move"));
    expect(&o, "rq:finished:work", "pass",
           W("source 1, target 0", "need not move"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_RQ);
    free(cfg);
}
END_TEST

START_TEST(test_rq_drained_and_moved_passes)
{
    char *cfg = config(DB_RQ, "rq", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_RQ);
    free(script(PYTHON, RQ, "%d %d fill", src_port, DB_RQ));
    free(script(PYTHON, RQ, "%d %d drain", src_port, DB_RQ));
    move_keys(DB_RQ, true, "rq:queues");
    move_keys(DB_RQ, false,
              "'rq:job:*' rq:scheduled:default rq:deferred:default "
              "rq:failed:work");
    counts_both(&b, PYTHON, RQ, DB_RQ, "");
    run_counted(cfg, "post", 0, &b, &o);
    expect(&o, "rq:queue:default", "pass", W("source drained (0)"));
    expect(&o, "rq:wip:default", "pass", W("source drained (0)"));
    expect(&o, "rq:scheduled:default", "pass", W("moved: source 0, target 1"));
    expect(&o, "rq:deferred:default", "pass", W("moved: source 0, target 1"));
    expect(&o, "rq:failed:work", "pass", W("moved: source 0, target 1"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_RQ);
    free(cfg);
}
END_TEST

/* ---- BullMQ ----------------------------------------------------------- */

#define BULLMQ "bullmq_jobs.js"

/* Issue 17, case 3: every state getJobCounts() reports, under a
 * {hash-tag} prefix. */
START_TEST(test_bullmq_every_state_hash_tag_prefix)
{
    char *cfg = config(DB_BULLMQ, "bullmq", "namespace: \"{myapp}\"");
    struct both b;
    struct tu_outcome o;

    flush_db(DB_BULLMQ);
    free(script(NODE, BULLMQ, "%d %d fill '{myapp}'", src_port, DB_BULLMQ));
    counts_both(&b, NODE, BULLMQ, DB_BULLMQ, "'{myapp}'");
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "{myapp}:emails:wait", "fail",
           W("source still holds 5 pending jobs"));
    expect(&o, "{myapp}:emails:prioritized", "fail",
           W("source still holds 1 pending jobs"));
    expect(&o, "{myapp}:emails:waiting-children", "fail",
           W("{myapp}:emails:waiting-children: source still holds 1 "
             "pending jobs"));
    expect(&o, "{myapp}:emails:active", "fail",
           W("source still holds 1 in-flight jobs"));
    expect(&o, "{myapp}:emails:delayed", "fail",
           W("source 2, target 0", "did not all move"));
    expect(&o, "{myapp}:emails:failed", "fail",
           W("source 1, target 0", "did not all move"));
    expect(&o, "{myapp}:emails:completed", "pass",
           W("source 1, target 0", "need not move"));
    expect(&o, "{myapp}:reports:wait", "fail",
           W("source still holds 2 pending jobs"));
    tu_outcome_free(&o);

    run_counted(cfg, "pre", 0, &b, &o);
    expect(&o, "{myapp}:emails:waiting-children", "pass",
           W("source 1, target 0"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_BULLMQ);
    free(cfg);
}
END_TEST

START_TEST(test_bullmq_drained_and_moved_passes)
{
    char *cfg = config(DB_BULLMQ, "bullmq", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_BULLMQ);
    free(script(NODE, BULLMQ, "%d %d fill", src_port, DB_BULLMQ));
    free(script(NODE, BULLMQ, "%d %d drain", src_port, DB_BULLMQ));
    move_keys(DB_BULLMQ, false, "'bull:*'");
    counts_both(&b, NODE, BULLMQ, DB_BULLMQ, "");
    run_counted(cfg, "post", 0, &b, &o);
    expect(&o, "bull:emails:wait", "pass", W("source drained (0), target 0"));
    expect(&o, "bull:emails:failed", "pass", W("moved: source 0, target 1"));
    /* the active job completed when drained: 2 on record */
    expect(&o, "bull:emails:completed", "pass",
           W("source 0, target 2", "need not move"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_BULLMQ);
    free(cfg);
}
END_TEST

/* ---- Resque (node-resque) --------------------------------------------- */

#define RESQUE "resque_jobs.js"

START_TEST(test_resque_undrained_post_fails)
{
    char *cfg = config(DB_RESQUE, "resque", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_RESQUE);
    free(script(NODE, RESQUE, "%d %d fill", src_port, DB_RESQUE));
    counts_both(&b, NODE, RESQUE, DB_RESQUE, "");
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "resque:queue:high", "fail",
           W("resque:queue:high: source still holds 2 pending jobs"));
    expect(&o, "resque:queue:low", "fail",
           W("source still holds 1 pending jobs"));
    expect(&o, "resque:delayed:*", "fail",
           W("resque:delayed:*: source 3, target 0", "did not all move"));
    expect(&o, "resque:failed", "fail", W("source 1, target 0"));
    tu_outcome_free(&o);

    run_counted(cfg, "pre", 0, &b, &o);
    expect(&o, "resque:queue:high", "pass", W("source 2, target 0"));
    expect(&o, "resque:delayed:*", "pass", W("source 3, target 0"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_RESQUE);
    free(cfg);
}
END_TEST

/* Issue 17, case 2: only delayed jobs left: 3 jobs at 2 timestamps count
 * 3 (not the 2 members of delayed_queue_schedule); moved, they pass. */
START_TEST(test_resque_delayed_only)
{
    char *cfg = config(DB_RESQUE, "resque", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_RESQUE);
    free(script(NODE, RESQUE, "%d %d delayed", src_port, DB_RESQUE));
    counts_both(&b, NODE, RESQUE, DB_RESQUE, "");
    ck_assert_int_eq(
        json_integer_value(json_object_get(b.src, "resque:delayed:*")), 3);
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "resque:delayed:*", "fail",
           W("resque:delayed:*: source 3, target 0", "3 missing"));
    ck_assert_uint_eq(tu_count_status(&o, "redis.queues", "fail"), 1);
    tu_outcome_free(&o);
    both_free(&b);

    move_keys(DB_RESQUE, false,
              "resque:delayed_queue_schedule 'resque:delayed:*' "
              "'resque:timestamps:*'");
    counts_both(&b, NODE, RESQUE, DB_RESQUE, "");
    run_counted(cfg, "post", 0, &b, &o);
    expect(&o, "resque:delayed:*", "pass",
           W("resque:delayed:*: moved: source 0, target 3"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_RESQUE);
    free(cfg);
}
END_TEST

/* A worker killed at work leaves its job in worker:<id>: in-flight. */
START_TEST(test_resque_worker_died_working)
{
    char *cfg = config(DB_RESQUE, "resque", NULL);
    struct both b;
    struct tu_outcome o;

    flush_db(DB_RESQUE);
    free(script(NODE, RESQUE, "%d %d working", src_port, DB_RESQUE));
    counts_both(&b, NODE, RESQUE, DB_RESQUE, "");
    ck_assert_int_eq(
        json_integer_value(json_object_get(b.src, "resque:working")), 1);
    run_counted(cfg, "post", 1, &b, &o);
    expect(&o, "resque:working", "fail",
           W("resque:working: source still holds 1 in-flight jobs"));
    expect(&o, "resque:workers", "warn",
           W("1 worker processes still registered"));
    expect(&o, "resque:queue:slow", "pass", W("source drained (0)"));
    tu_outcome_free(&o);
    both_free(&b);
    flush_db(DB_RESQUE);
    free(cfg);
}
END_TEST

static Suite *frameworks_suite(void)
{
    Suite *s = suite_create("redis_frameworks");
    TCase *tc = tcase_create("frameworks");

    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_sidekiq_pre_depths);
    tcase_add_test(tc, test_sidekiq_undrained_post_fails);
    tcase_add_test(tc, test_sidekiq_drained_and_moved_passes);
    tcase_add_test(tc, test_sidekiq_set_short_on_target_fails);
    tcase_add_test(tc, test_sidekiq_namespace);
    tcase_add_test(tc, test_sidekiq_running_server);
    tcase_add_test(tc, test_celery_pre_depths);
    tcase_add_test(tc, test_celery_keyprefix_colon_undrained_fails);
    tcase_add_test(tc, test_celery_keyprefix_no_colon_unacked_fails);
    tcase_add_test(tc, test_rq_pre_depths);
    tcase_add_test(tc, test_rq_undrained_post_fails);
    tcase_add_test(tc, test_rq_drained_and_moved_passes);
    tcase_add_test(tc, test_bullmq_every_state_hash_tag_prefix);
    tcase_add_test(tc, test_bullmq_drained_and_moved_passes);
    tcase_add_test(tc, test_resque_undrained_post_fails);
    tcase_add_test(tc, test_resque_delayed_only);
    tcase_add_test(tc, test_resque_worker_died_working);
    suite_add_tcase(s, tc);
    return s;
}

/* The frameworks' clients (ci/deps installs them): without them this
 * suite cannot say anything; skip loudly (fail under
 * CUTOVER_REQUIRE_TESTBED=1). */
static void require_clients(void)
{
    char *cmd = co_asprintf(
        "cd '%s/tests/frameworks' && " RUBY " -e 'require \"sidekiq/api\"; "
        "require \"redis/namespace\"' && " PYTHON
        " -c 'import celery, rq, redis' && " NODE
        " -e 'require(\"bullmq\"); require(\"node-resque\")' 2>&1",
        tu_source_dir());
    char *out = NULL;
    int rc = tu_sh(cmd, &out);
    const char *req = getenv("CUTOVER_REQUIRE_TESTBED");

    if (rc != 0) {
        fprintf(stderr,
                "test_redis_frameworks: SKIPPED: the job frameworks' "
                "clients are missing (run ci/deps): %s\n",
                out ? out : "");
        exit(req != NULL && strcmp(req, "1") == 0 ? 1 : TU_SKIP);
    }
    free(out);
    free(cmd);
}

static int frameworks_setup(void)
{
    require_clients();
    src_port = tu_tb_port("CUTOVER_TB_REDIS_SOURCE_URL");
    tgt_port = tu_tb_port("CUTOVER_TB_REDIS_TARGET_URL");
    setenv("REDISCLI_AUTH", tu_tb("CUTOVER_TB_REDIS_PASSWORD"), 1);
    return 0;
}

TU_SUITE(.make = frameworks_suite,
         .testbed = TU_VARS("CUTOVER_TB_REDIS_SOURCE_URL",
                            "CUTOVER_TB_REDIS_TARGET_URL",
                            "CUTOVER_TB_REDIS_PASSWORD"),
         .setup = frameworks_setup);
