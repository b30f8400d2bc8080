/*
 * test_runner.c - the runner: ordering, parallelism, deadlines, sealing,
 * interruption, selection, params, masking. Uses its own check table so
 * it does not depend on any real check.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutover/cutover.h"
#include "runner.h"
#include "testutil.h"
#include "tu_suite.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int run_pass(struct co_run *run)
{
    co_case_addf(run, CO_PASS, "item-a", "1", "1", "same on %s",
                 run->res->name);
    co_case_addf(run, CO_FAIL, "item-b", "100", "99",
                 "source 100 rows, target 99");
    return 0;
}

static int run_sleep300(struct co_run *run)
{
    sleep_ms(300);
    co_case_addf(run, CO_PASS, NULL, NULL, NULL, "slept");
    return 0;
}

static int run_stuck(struct co_run *run)
{
    (void)run;
    sleep_ms(3500); /* ignores its deadline, like a hung library call */
    co_case_addf(run, CO_PASS, "late", NULL, NULL, "must be dropped");
    return 0;
}

static int run_polite(struct co_run *run)
{
    while (co_run_remaining_ms(run) > 0 && !co_run_cancelled(run))
        sleep_ms(10);
    co_case_addf(run, CO_ERROR, "wait", NULL, NULL, "timed out after %lldms",
                 (long long)(co_now_ms() - run->started));
    return 0;
}

static int run_sigint(struct co_run *run)
{
    kill(getpid(), SIGINT);
    for (int i = 0; i < 500 && !co_run_cancelled(run); i++)
        sleep_ms(10);
    return -1; /* no case, errstr empty: the runner says why */
}

static int run_errstr(struct co_run *run)
{
    snprintf(run->errstr, sizeof(run->errstr),
             "could not connect to postgres://u:hunter22@db/x");
    return -1;
}

static int run_secret(struct co_run *run)
{
    co_case_addf(run, CO_FAIL, "postgres://u:topsecret99@h/db",
                 "pw=topsecret99", NULL, "auth failed for topsecret99");
    return 0;
}

static const struct co_param test_params[] = {
    {"max_keys", CO_P_INT, "10", "how many keys"},
    {"tables", CO_P_LIST, "a, b", "tables"},
    {"wait", CO_P_DURATION, "1500ms", "a wait"},
    {"mode", CO_P_STRING, NULL, "unset"},
    {NULL, 0, NULL, NULL},
};

static int run_params(struct co_run *run)
{
    const struct co_strlist *l = co_param_list(run, "tables");

    co_case_addf(run, CO_PASS, "params", NULL, NULL,
                 "max_keys=%lld tables=%zu:%s,%s wait=%lld mode=%s",
                 (long long)co_param_int(run, "max_keys"), l->n,
                 l->n > 0 ? l->v[0] : "", l->n > 1 ? l->v[1] : "",
                 (long long)co_param_duration_ms(run, "wait"),
                 co_param_string(run, "mode") ? "set" : "unset");
    return 0;
}

#define CHECK(name, fn, ph, fl)                                               \
    static const struct co_check name = {.id = #name,                         \
                                         .summary = "test",                   \
                                         .kind = CO_KIND_OUTBOUND,            \
                                         .phases = ph,                        \
                                         .run = fn,                           \
                                         .flags = fl}

CHECK(t_pass, run_pass, CO_PRE | CO_POST, 0);
CHECK(t_sleep, run_sleep300, CO_ALL, 0);
CHECK(t_stuck, run_stuck, CO_ALL, 0);
CHECK(t_polite, run_polite, CO_ALL, 0);
CHECK(t_sigint, run_sigint, CO_ALL, 0);
CHECK(t_errstr, run_errstr, CO_ALL, 0);
CHECK(t_secret, run_secret, CO_ALL, 0);
CHECK(t_drift, run_pass, CO_DRIFT, 0);
static const struct co_check t_params = {.id = "t.params",
                                         .summary = "params",
                                         .kind = CO_KIND_OUTBOUND,
                                         .phases = CO_ALL,
                                         .params = test_params,
                                         .run = run_params};
static const struct co_check t_pair = {.id = "t.pair",
                                       .summary = "pair",
                                       .kind = CO_KIND_POSTGRES,
                                       .phases = CO_ALL,
                                       .run = run_pass,
                                       .flags = CO_CHECK_PAIR};

static struct co_config *make_config(int nout)
{
    struct co_config *c = co_calloc(1, sizeof(*c));

    c->version = 1;
    c->settings.jobs = 4;
    c->settings.timeout_ms = 5000;
    c->res = co_calloc((size_t)nout + 1, sizeof(*c->res));
    for (int i = 0; i < nout; i++) {
        c->res[i].kind = CO_KIND_OUTBOUND;
        c->res[i].name = co_asprintf("out%d", i);
        c->res[i].address = co_asprintf("127.0.0.1:%d", 1000 + i);
    }
    c->res[nout].kind = CO_KIND_POSTGRES;
    c->res[nout].name = co_strdup("main");
    c->res[nout].source = co_strdup("postgres://u:pw12345@src/db");
    c->nres = (size_t)nout + 1;
    return c;
}

static struct co_report run_with(const struct co_check *const *checks,
                                 size_t n, struct co_config *cfg,
                                 struct co_runner_opts *o, int *rc,
                                 bool *abandoned)
{
    struct co_report rep;

    memset(&rep, 0, sizeof(rep));
    o->checks = checks;
    o->ncheck = n;
    if (o->phase == 0)
        o->phase = CO_ALL;
    *rc = co_runner_run(cfg, o, &rep, abandoned);
    return rep;
}

START_TEST(order_and_cases)
{
    const struct co_check *checks[] = {&t_pass, &t_sleep};
    struct co_config *cfg = make_config(2);
    struct co_runner_opts o = {0};
    bool ab;
    int rc;
    struct co_report rep = run_with(checks, 2, cfg, &o, &rc, &ab);

    ck_assert_int_eq(rc, 0);
    ck_assert(!ab);
    ck_assert_uint_eq(rep.nresults, 4);
    ck_assert_str_eq(rep.results[0].check, "t_pass");
    ck_assert_str_eq(rep.results[0].resource, "out0");
    ck_assert_str_eq(rep.results[1].resource, "out1");
    ck_assert_str_eq(rep.results[2].check, "t_sleep");
    ck_assert_uint_eq(rep.results[0].ncases, 2);
    ck_assert_str_eq(rep.results[0].cases[0].message, "same on out0");
    ck_assert_int_eq(rep.results[0].cases[1].status, CO_FAIL);
    ck_assert_str_eq(rep.results[0].cases[1].source, "100");
    ck_assert_str_eq(rep.results[0].cases[1].target, "99");
    /* a NULL name means the resource name */
    ck_assert_str_eq(rep.results[2].cases[0].name, "out0");
    ck_assert_str_eq(rep.results[0].target, "127.0.0.1:1000");
    ck_assert_int_eq(co_report_exit_code(&rep), 1);
    co_report_free(&rep);
    co_config_free(cfg);
}
END_TEST

START_TEST(parallel_jobs)
{
    const struct co_check *checks[] = {&t_sleep};
    struct co_config *cfg = make_config(4);
    struct co_runner_opts o = {0};
    bool ab;
    int rc;
    int64_t t0 = co_now_ms();
    struct co_report rep;

    o.jobs = 4;
    rep = run_with(checks, 1, cfg, &o, &rc, &ab);
    /* four 300 ms tasks on four workers: about 300 ms, not 1200 */
    ck_assert_int_lt(co_now_ms() - t0, 900);
    ck_assert_uint_eq(rep.nresults, 4);
    co_report_free(&rep);

    o.jobs = 1;
    t0 = co_now_ms();
    rep = run_with(checks, 1, cfg, &o, &rc, &ab);
    ck_assert_int_ge(co_now_ms() - t0, 1150);
    co_report_free(&rep);
    co_config_free(cfg);
}
END_TEST

START_TEST(stuck_task_is_sealed)
{
    const struct co_check *checks[] = {&t_stuck, &t_pass};
    struct co_config *cfg = make_config(1);
    struct co_runner_opts o = {0};
    bool ab;
    int rc;
    int64_t t0 = co_now_ms();
    struct co_report rep;

    o.timeout_ms = 200;
    o.jobs = 2;
    rep = run_with(checks, 2, cfg, &o, &rc, &ab);
    /* deadline 200 ms + 2 s grace, not the 3.5 s the check sleeps */
    ck_assert_int_lt(co_now_ms() - t0, 3200);
    ck_assert(ab);
    ck_assert_uint_eq(rep.results[0].ncases, 1);
    ck_assert_int_eq(rep.results[0].cases[0].status, CO_ERROR);
    ck_assert_str_eq(rep.results[0].cases[0].name, "out0");
    ck_assert_ptr_nonnull(
        strstr(rep.results[0].cases[0].message, "timed out"));
    ck_assert_ptr_nonnull(strstr(rep.results[0].cases[0].message, "200ms"));
    /* the other check still ran */
    ck_assert_uint_eq(rep.results[1].ncases, 2);
    /* the late case is dropped after sealing */
    sleep_ms(3500);
    ck_assert_uint_eq(rep.results[0].ncases, 1);
    co_report_free(&rep);
    co_config_free(cfg);
}
END_TEST

START_TEST(polite_deadline)
{
    const struct co_check *checks[] = {&t_polite};
    struct co_config *cfg = make_config(1);
    struct co_runner_opts o = {0};
    bool ab;
    int rc;
    struct co_report rep;

    o.timeout_ms = 300;
    rep = run_with(checks, 1, cfg, &o, &rc, &ab);
    ck_assert(!ab);
    ck_assert_uint_eq(rep.results[0].ncases, 1);
    ck_assert_str_eq(rep.results[0].cases[0].name, "wait");
    ck_assert_ptr_nonnull(strstr(rep.results[0].cases[0].message, "timed"));
    ck_assert_int_eq(co_report_exit_code(&rep), 2);
    co_report_free(&rep);
    co_config_free(cfg);
}
END_TEST

START_TEST(sigint_interrupts)
{
    const struct co_check *checks[] = {&t_sigint, &t_sleep};
    struct co_config *cfg = make_config(3);
    struct co_runner_opts o = {0};
    bool ab;
    int rc;
    int64_t t0 = co_now_ms();
    struct co_report rep;

    o.handle_signals = true;
    o.jobs = 1;
    rep = run_with(checks, 2, cfg, &o, &rc, &ab);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_lt(co_now_ms() - t0, 3000);
    /* the first task noticed the cancel and returned without a case */
    ck_assert_uint_eq(rep.results[0].ncases, 1);
    ck_assert_int_eq(rep.results[0].cases[0].status, CO_ERROR);
    /* every task that never started says so */
    for (size_t i = 1; i < rep.nresults; i++) {
        ck_assert_uint_eq(rep.results[i].ncases, 1);
        ck_assert_int_eq(rep.results[i].cases[0].status, CO_ERROR);
        ck_assert_ptr_nonnull(
            strstr(rep.results[i].cases[0].message, "interrupted"));
    }
    ck_assert_int_eq(co_report_exit_code(&rep), 2);
    co_report_free(&rep);
    co_config_free(cfg);
}
END_TEST

START_TEST(selection)
{
    const struct co_check *checks[] = {&t_pass, &t_drift, &t_sleep};
    struct co_config *cfg = make_config(1);
    struct co_runner_opts o = {0};
    bool ab;
    int rc;
    struct co_report rep;

    o.phase = CO_DRIFT;
    rep = run_with(checks, 3, cfg, &o, &rc, &ab);
    ck_assert_uint_eq(rep.nresults, 2); /* t_drift, t_sleep (all) */
    ck_assert_str_eq(rep.results[0].check, "t_drift");
    co_report_free(&rep);

    memset(&o, 0, sizeof(o));
    co_strlist_add(&o.only, "t_*");
    co_strlist_add(&o.skip, "t_sl??p");
    rep = run_with(checks, 3, cfg, &o, &rc, &ab);
    ck_assert_uint_eq(rep.nresults, 2);
    ck_assert_str_eq(rep.results[0].check, "t_pass");
    ck_assert_str_eq(rep.results[1].check, "t_drift");
    co_report_free(&rep);
    co_strlist_free(&o.only);
    co_strlist_free(&o.skip);
    co_config_free(cfg);
}
END_TEST

START_TEST(params_defaults)
{
    const struct co_check *checks[] = {&t_params};
    struct co_config *cfg = make_config(1);
    struct co_runner_opts o = {0};
    bool ab;
    int rc;
    struct co_report rep = run_with(checks, 1, cfg, &o, &rc, &ab);

    ck_assert_str_eq(rep.results[0].cases[0].message,
                     "max_keys=10 tables=2:a,b wait=1500 mode=unset");
    co_report_free(&rep);
    co_config_free(cfg);
}
END_TEST

START_TEST(errstr_and_masking)
{
    const struct co_check *checks[] = {&t_errstr, &t_secret, &t_pair};
    struct co_config *cfg = make_config(1);
    struct co_runner_opts o = {0};
    bool ab;
    int rc;
    struct co_report rep;

    co_secret_register("topsecret99");
    rep = run_with(checks, 3, cfg, &o, &rc, &ab);
    ck_assert_int_eq(rep.results[0].cases[0].status, CO_ERROR);
    ck_assert_str_eq(rep.results[0].cases[0].message,
                     "could not connect to postgres://u:***@db/x");
    ck_assert_str_eq(rep.results[1].cases[0].name, "postgres://u:***@h/db");
    ck_assert_str_eq(rep.results[1].cases[0].source, "pw=***");
    ck_assert_str_eq(rep.results[1].cases[0].message, "auth failed for ***");
    /* a pair check on a one-sided resource is skipped, with the reason */
    ck_assert_str_eq(rep.results[2].check, "t.pair");
    ck_assert_int_eq(rep.results[2].cases[0].status, CO_SKIP);
    ck_assert_ptr_nonnull(strstr(rep.results[2].cases[0].message, "target"));
    ck_assert_str_eq(rep.results[2].source, "postgres://u:***@src/db");
    co_report_free(&rep);
    co_config_free(cfg);
}
END_TEST

static Suite *runner_suite(void)
{
    Suite *s = suite_create("runner");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, order_and_cases);
    tcase_add_test(tc, parallel_jobs);
    tcase_add_test(tc, stuck_task_is_sealed);
    tcase_add_test(tc, polite_deadline);
    tcase_add_test(tc, sigint_interrupts);
    tcase_add_test(tc, selection);
    tcase_add_test(tc, params_defaults);
    tcase_add_test(tc, errstr_and_masking);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = runner_suite);
