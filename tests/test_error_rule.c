/*
 * label: net
 * test_error_rule.c - the one rule every check follows, row by row of
 * the README's table "fail or error": a case is `fail` only when cutover
 * looked at its subject and found it wrong; when it could not look
 * (connection refused or timed out, a TLS handshake with a service that
 * is not the subject, a resolver that refuses or does not answer, our own
 * credentials rejected, a file that cannot be read) it is `error`.
 *
 * One run of `cutover check --phase all` over a config where every
 * resource is out of reach in some way (a closed port, the silent
 * listener, wrong passwords, a CA that did not sign the servers, a
 * resolver that refuses) plus the few subjects that answer wrongly
 * (a plain-HTTP port for tls.cert, a Redis port for http.probe, a name
 * that does not exist). Each loop iteration is one row: one check and
 * the statuses its cases must have.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkrun.h"
#include "cutover/util.h"
#include "testutil.h"
#include "tu_suite.h"

static struct tu_outcome run;

struct expect {
    const char *resource, *name, *status, *word;
};

struct row {
    const char *check;
    struct expect e[5];
};

#define REFUSED "connection refused"

static const struct row rows[] = {
    {"pg.connect",
     {{"dead", "source", "error", REFUSED},
      {"badpw", "source", "error", "authentication failed"},
      {"badca", "target", "error", "certificate verify failed"}}},
    {"pg.version", {{"dead", "source", "error", REFUSED}}},
    {"pg.extensions", {{"badpw", "target", "error", "authentication"}}},
    {"pg.schema", {{"dead", "target", "error", REFUSED}}},
    {"pg.rowcount", {{"badca", "source", "error", "certificate verify"}}},
    {"pg.checksum", {{"dead", "source", "error", REFUSED}}},
    {"pg.sequences", {{"badpw", "source", "error", "authentication"}}},
    {"pg.replication", {{"dead", "dead", "error", REFUSED}}},
    {"pg.quiesced", {{"dead", "dead", "error", REFUSED}}},
    {"pg.query", {{"dead", "select 1", "error", REFUSED}}},
    {"redis.connect",
     {{"dead", "source", "error", REFUSED},
      {"badpw", "target", "error", "authentication failed"},
      {"badca", "source", "error", "certificate verification failed"}}},
    {"redis.config",
     {{"dead", "source maxmemory-policy", "error", REFUSED},
      {"badpw", "target maxmemory-policy", "error", "authentication"}}},
    {"redis.keyspace", {{"dead", "keyspace", "error", REFUSED}}},
    {"redis.queues", {{"badca", "queues", "error", "certificate"}}},
    {"dns.ttl",
     {{"refused.example.org", "refused.example.org @ 127.0.0.1:45353", "error",
       "REFUSED"},
      {"silent.cutover.test", "silent.cutover.test @ 127.0.0.1:45499", "error",
       "timed out"},
      {"nope.cutover.test", "nope.cutover.test @ 127.0.0.1:45353", "fail",
       "NXDOMAIN"}}},
    {"dns.resolve",
     {{"refused.example.org", "refused.example.org @ 127.0.0.1:45353", "error",
       "REFUSED"},
      {"silent.cutover.test", "silent.cutover.test @ 127.0.0.1:45499", "error",
       "timed out"},
      {"nope.cutover.test", "nope.cutover.test @ 127.0.0.1:45353", "fail",
       "NXDOMAIN"}}},
    {"tls.cert",
     {{"closed", "127.0.0.1:45498", "error",
       "could not check the certificate"},
      {"silent", "127.0.0.1:45499", "error", "timed out"},
      {"plain", "127.0.0.1:45480", "fail", "TLS failed"},
      {"expired", "127.0.0.1:45444", "fail", "certificate expired"}}},
    {"http.probe",
     {{"closed", "https://127.0.0.1:45498/healthz", "error", REFUSED},
      {"silent", "https://127.0.0.1:45499/healthz", "error", "timed out"},
      {"expired", "https://127.0.0.1:45444/", "error", "TLS"},
      {"notweb", "http://127.0.0.1:45379/", "fail", ""}}},
    {"tcp.reach", {{"partner", "127.0.0.1:45498", "fail", REFUSED}}},
    {"net.egress", {{"egress", "egress IP", "error", "could not ask"}}},
    {"env.diff",
     {{"app", "source", "error", "cannot read"},
      {"app", "target", "error", "cannot read"}}},
};

static const char config[] =
    "version: 1\n"
    "settings: { timeout: 4s }\n"
    "postgres:\n"
    "  dead:\n"
    "    source: postgres://cutover:pw@127.0.0.1:45498/x\n"
    "    target: postgres://cutover:pw@127.0.0.1:45498/y\n"
    "    quiesce_window: 1s\n"
    "  badpw:\n"
    "    source: postgres://cutover:Wr0ng-Pw-77@127.0.0.1:45432/cutover\n"
    "    target: postgres://cutover:Wr0ng-Pw-77@127.0.0.1:45433/cutover\n"
    "  badca:\n"
    "    source: postgres://cutover:${CUTOVER_TB_PG_PASSWORD}@localhost:45432/"
    "cutover\n"
    "    target: postgres://cutover:${CUTOVER_TB_PG_PASSWORD}@localhost:45433/"
    "cutover\n"
    "    ca_file: ${CUTOVER_TB_DIR}/certs/other-ca/ca.pem\n"
    "redis:\n"
    "  dead:\n"
    "    source: redis://127.0.0.1:45498/0\n"
    "    target: redis://127.0.0.1:45498/0\n"
    "  badpw:\n"
    "    source: redis://:Wr0ng-Pw-77@127.0.0.1:45379/0\n"
    "    target: redis://:Wr0ng-Pw-77@127.0.0.1:45380/0\n"
    "  badca:\n"
    "    source: ${CUTOVER_TB_REDIS_TLS_URL}\n"
    "    target: ${CUTOVER_TB_REDIS_TLS_URL}\n"
    "    ca_file: ${CUTOVER_TB_DIR}/certs/other-ca/ca.pem\n"
    "    queues: sidekiq\n"
    "domains:\n"
    "  refused.example.org: { resolvers: [\"127.0.0.1:45353\"] }\n"
    "  silent.cutover.test: { resolvers: [\"127.0.0.1:45499\"] }\n"
    "  nope.cutover.test: { resolvers: [\"127.0.0.1:45353\"] }\n"
    "endpoints:\n"
    "  closed: { url: \"https://127.0.0.1:45498/healthz\" }\n"
    "  silent: { url: \"https://127.0.0.1:45499/healthz\" }\n"
    "  plain: { url: \"https://127.0.0.1:45480/\" }\n"
    "  expired: { url: \"https://127.0.0.1:45444/\", ca_file: "
    "\"${CUTOVER_TB_CA}\" }\n"
    "  notweb: { url: \"http://127.0.0.1:45379/\" }\n"
    "outbound:\n"
    "  partner: 127.0.0.1:45498\n"
    "egress: { url: \"http://127.0.0.1:45498/ip\" }\n"
    "env:\n"
    "  app:\n"
    "    source: /nonexistent/heroku.json\n"
    "    target: /nonexistent/aptible.env\n"
    "checks:\n"
    "  pg.query: { sql: \"select 1\" }\n"
    "  tls.cert: { phases: [pre, post, drift] }\n";

/* Runs once in the parent (an unchecked fixture); each row's process
 * inherits the outcome. */
static void run_once(void)
{
    static const char *const args[] = {"--phase", "all", "--jobs", "8", NULL};

    tu_check_run(config, args, NULL, 120, &run);
}

static void free_run(void)
{
    tu_outcome_free(&run);
}

START_TEST(row)
{
    const struct row *r = &rows[_i];

    for (size_t k = 0; k < 5 && r->e[k].resource; k++) {
        const struct expect *e = &r->e[k];
        const char *words[] = {e->word, NULL};

        tu_expect(&run, r->check, e->resource, e->name, e->status,
                  e->word[0] ? words : NULL);
    }
}
END_TEST

/* Nothing in that run is a fail but the subjects that answered wrongly:
 * exactly the rows' "fail" entries. */
START_TEST(fails_are_only_wrong_subjects)
{
    size_t want = 0, got = 0;
    json_t *checks = json_object_get(run.report, "checks");
    size_t i, j;
    json_t *res, *c;
    struct co_buf seen;

    co_buf_init(&seen);
    co_buf_puts(&seen, "");

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        for (j = 0; j < 5 && rows[i].e[j].resource; j++)
            want += strcmp(rows[i].e[j].status, "fail") == 0;
    json_array_foreach(checks, i, res)
    {
        json_array_foreach(json_object_get(res, "cases"), j, c)
        {
            if (strcmp(tu_field(c, "status"), "fail") == 0) {
                got++;
                co_buf_addf(&seen, "%s %s/%s: %.80s\n", tu_field(res, "check"),
                            tu_field(res, "resource"), tu_field(c, "name"),
                            tu_field(c, "message"));
            }
        }
    }
    ck_assert_msg(got == want, "%zu fail cases, want %zu:\n%.3000s", got, want,
                  seen.s);
    co_buf_free(&seen);
    ck_assert_int_eq(run.status, 1);
}
END_TEST

static Suite *error_rule_suite(void)
{
    Suite *s = suite_create("error_rule");
    TCase *tc = tcase_create("rows");

    tcase_set_timeout(tc, 180);
    tcase_add_unchecked_fixture(tc, run_once, free_run);
    tcase_add_loop_test(tc, row, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, fails_are_only_wrong_subjects);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = error_rule_suite,
         .testbed = TU_VARS("CUTOVER_TB_PG_PASSWORD",
                            "CUTOVER_TB_REDIS_TLS_URL", "CUTOVER_TB_CA",
                            "CUTOVER_TB_DIR"));
