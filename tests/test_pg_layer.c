/*
 * label: net
 * test_pg_layer.c - the PostgreSQL connection layer (core/pg.c) against
 * the test bed's two PostgreSQL 15 clusters: pinned read-only sessions,
 * error classification (auth, refused, timeout, TLS, DNS) with masked
 * messages, deadlines that really cancel the backend, the pair primitive
 * running both sides at once, streaming and the pool (statement jobs
 * with co_pg_pool_map, a function per unit with co_pg_pool_run).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cutover/config.h"
#include "cutover/pg.h"
#include "cutover/util.h"
#include "pgfixture.h"
#include "testutil.h"
#include "tu_suite.h"

#define DB "pglayer"

static char *src_url, *tgt_url;

static void setup_db(void)
{
    tu_pg_create(DB);
    tu_pg_sql("source", DB,
              "CREATE TABLE t (id int);"
              "INSERT INTO t VALUES (1), (2);");
    src_url = tu_pg_url("source", DB);
    tgt_url = tu_pg_url("target", DB);
}

static struct co_pg *connect_url(const char *url, const char *side,
                                 const char *ca, int64_t ms)
{
    struct co_pg *pg =
        co_pg_connect_url(url, side, ca, true, NULL, co_now_ms() + ms, NULL);
    ck_assert_ptr_nonnull(pg);
    return pg;
}

static struct co_pg *connect_ok(const char *url, const char *side)
{
    struct co_pg *pg = connect_url(url, side, NULL, 10000);
    ck_assert_msg(pg->err == CO_PG_OK, "connect failed: %s", pg->errstr);
    return pg;
}

/* One value of a one-row query. Allocated. */
static char *one(struct co_pg *pg, const char *sql)
{
    PGresult *r = co_pg_exec(pg, sql, 0, NULL, co_now_ms() + 10000, NULL);
    char *v;

    ck_assert_msg(r != NULL, "%s: %s", sql, pg->errstr);
    ck_assert_int_eq(PQntuples(r), 1);
    v = co_strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void assert_setting(struct co_pg *pg, const char *name,
                           const char *want)
{
    char *sql = co_asprintf("SHOW %s", name);
    char *v = one(pg, sql);

    ck_assert_msg(strcmp(v, want) == 0, "%s = %s, want %s", name, v, want);
    free(v);
    free(sql);
}

/* The test bed URL with another user:password and/or host:port. */
static char *url_with(const char *userpass, const char *hostport,
                      const char *query)
{
    return co_asprintf("postgres://%s@%s/%s%s", userpass, hostport, DB,
                       query ? query : "");
}

static char *cutover_userpass(void)
{
    return co_asprintf("cutover:%s", tu_tb("CUTOVER_TB_PG_PASSWORD"));
}

static void assert_no_secret(const char *s)
{
    const char *pw = tu_tb("CUTOVER_TB_PG_PASSWORD");
    ck_assert_msg(strstr(s, pw) == NULL, "password leaked: %s", s);
}

/* ---- connect ---------------------------------------------------------- */

START_TEST(connect_pinned_read_only)
{
    struct co_pg *pg = connect_ok(src_url, "source");
    PGresult *r;

    ck_assert_str_eq(pg->side, "source");
    ck_assert_str_eq(pg->host, "127.0.0.1");
    ck_assert_int_ge(pg->server_version, 150000);
    ck_assert(pg->tls);
    ck_assert(!pg->tls_verified);
    ck_assert_str_eq(pg->sslmode, "require");
    ck_assert(pg->connect_ms > 0.0 && pg->connect_ms < 10000.0);

    assert_setting(pg, "default_transaction_read_only", "on");
    assert_setting(pg, "TimeZone", "UTC");
    assert_setting(pg, "DateStyle", "ISO, MDY");
    assert_setting(pg, "IntervalStyle", "postgres");
    assert_setting(pg, "extra_float_digits", "3");
    assert_setting(pg, "bytea_output", "hex");
    assert_setting(pg, "application_name", "cutover");
    assert_setting(pg, "client_encoding", "UTF8");
    assert_setting(pg, "statement_timeout", "1min");
    assert_setting(pg, "lock_timeout", "10s");
    assert_setting(pg, "idle_in_transaction_session_timeout", "1min");

    /* Writes are refused by the server, and the error is per statement */
    r = co_pg_exec(pg, "INSERT INTO t VALUES (3)", 0, NULL, co_now_ms() + 5000,
                   NULL);
    ck_assert_ptr_null(r);
    ck_assert_msg(pg->err == CO_PG_QUERY, "err %d: %s", pg->err, pg->errstr);
    ck_assert_str_eq(pg->sqlstate, "25006");
    ck_assert_msg(strstr(pg->errstr, "source: query failed:") == pg->errstr,
                  "%s", pg->errstr);
    ck_assert_msg(strstr(pg->errstr, "read-only") != NULL, "%s", pg->errstr);
    char *n = one(pg, "SELECT count(*) FROM t");
    ck_assert_msg(pg->err == CO_PG_OK, "err %d: %s", pg->err, pg->errstr);
    ck_assert_str_eq(n, "2");
    free(n);
    co_pg_free(pg);
}
END_TEST

START_TEST(connect_config_settings)
{
    /* statement_timeout comes from settings; a name goes through c-ares
     * (the test bed's dnsmasq) and the result reaches libpq as hostaddr */
    char *up = cutover_userpass();
    char *url = url_with(up, "open.cutover.test:45433", "?sslmode=require");
    char *yaml = co_asprintf("version: 1\n"
                             "settings: {statement_timeout: 45s, "
                             "resolvers: [\"%s\"]}\n",
                             tu_tb("CUTOVER_TB_DNS"));
    char err[512] = "";
    struct co_config *cfg =
        co_config_load_buf("t.yml", yaml, strlen(yaml), err, sizeof(err));
    struct co_pg *pg;

    ck_assert_msg(cfg != NULL && err[0] == '\0', "config: %s", err);
    pg = co_pg_connect_url(url, "target", NULL, true, cfg, co_now_ms() + 10000,
                           NULL);
    ck_assert_msg(pg->err == CO_PG_OK, "%s", pg->errstr);
    ck_assert_str_eq(pg->host, "open.cutover.test");
    assert_setting(pg, "statement_timeout", "45s");
    char *addr = one(pg, "SELECT inet_server_addr()::text");
    ck_assert_str_eq(addr, "127.0.0.1/32");
    free(addr);
    co_pg_free(pg);

    /* a name the resolver does not know */
    free(url);
    url = url_with(up, "missing.cutover.test:45433", NULL);
    pg = co_pg_connect_url(url, "target", NULL, true, cfg, co_now_ms() + 5000,
                           NULL);
    ck_assert_msg(pg->err == CO_PG_DNS, "err %d: %s", pg->err, pg->errstr);
    ck_assert_str_eq(pg->errstr, "target: name not found: "
                                 "missing.cutover.test");
    ck_assert_ptr_null(pg->conn);
    /* an object in error refuses further work */
    ck_assert_ptr_null(
        co_pg_exec(pg, "SELECT 1", 0, NULL, co_now_ms() + 1000, NULL));
    ck_assert_msg(pg->err == CO_PG_DNS, "err %d: %s", pg->err, pg->errstr);
    co_pg_free(pg);
    co_config_free(cfg);
    free(yaml);
    free(url);
    free(up);
}
END_TEST

START_TEST(connect_wrong_password)
{
    const char *wrong = "sentinel-wrong-pw-5f1d3c9a7b";
    char *up = co_asprintf("cutover:%s", wrong);
    char *url = url_with(up, "127.0.0.1:45433", "?sslmode=require");
    struct co_pg *pg = connect_url(url, "target", NULL, 10000);

    ck_assert_msg(pg->err == CO_PG_AUTH, "err %d: %s", pg->err, pg->errstr);
    ck_assert_msg(strstr(pg->errstr, "target: authentication failed") ==
                      pg->errstr,
                  "%s", pg->errstr);
    ck_assert_msg(strstr(pg->errstr, "127.0.0.1:45433") != NULL, "%s",
                  pg->errstr);
    ck_assert_msg(strstr(pg->errstr, wrong) == NULL, "%s", pg->errstr);
    assert_no_secret(pg->errstr);
    ck_assert_str_eq(co_pg_err_name(pg->err), "authentication failed");
    co_pg_free(pg);
    free(url);
    free(up);
}
END_TEST

START_TEST(connect_missing_database)
{
    char *up = cutover_userpass();
    char *url = co_asprintf("postgres://%s@127.0.0.1:45432/no_such_db_x", up);
    struct co_pg *pg = connect_url(url, "source", NULL, 10000);

    ck_assert_msg(pg->err == CO_PG_AUTH, "err %d: %s", pg->err, pg->errstr);
    ck_assert_msg(strstr(pg->errstr, "database \"no_such_db_x\" does not "
                                     "exist") != NULL,
                  "%s", pg->errstr);
    assert_no_secret(pg->errstr);
    co_pg_free(pg);
    free(url);
    free(up);
}
END_TEST

START_TEST(connect_refused)
{
    char *up = cutover_userpass();
    char *url = url_with(up, "127.0.0.1:45498", NULL);
    struct co_pg *pg = connect_url(url, "target", NULL, 5000);

    ck_assert_msg(pg->err == CO_PG_REFUSED, "err %d: %s", pg->err, pg->errstr);
    ck_assert_str_eq(pg->errstr, "target: connection refused "
                                 "(127.0.0.1:45498)");
    co_pg_free(pg);
    free(url);
    free(up);
}
END_TEST

START_TEST(connect_timeout)
{
    char *up = cutover_userpass();
    char *url = url_with(up, tu_tb("CUTOVER_TB_SILENT"), NULL);
    int64_t t0 = co_now_ms();
    struct co_pg *pg = connect_url(url, "source", NULL, 500);
    int64_t took = co_now_ms() - t0;

    ck_assert_msg(pg->err == CO_PG_TIMEOUT, "err %d: %s", pg->err, pg->errstr);
    ck_assert_msg(took >= 450 && took < 1500, "took %lld ms", (long long)took);
    ck_assert_msg(strstr(pg->errstr, "source: timed out after") == pg->errstr,
                  "%s", pg->errstr);
    ck_assert_msg(strstr(pg->errstr, tu_tb("CUTOVER_TB_SILENT")) != NULL, "%s",
                  pg->errstr);
    co_pg_free(pg);
    free(url);
    free(up);
}
END_TEST

START_TEST(connect_cancel_flag)
{
    char *up = cutover_userpass();
    char *url = url_with(up, tu_tb("CUTOVER_TB_SILENT"), NULL);
    atomic_int cancel = 1;
    struct co_pg *pg = co_pg_connect_url(url, "source", NULL, true, NULL,
                                         co_now_ms() + 5000, &cancel);

    ck_assert_msg(pg->err == CO_PG_CANCELLED, "err %d: %s", pg->err,
                  pg->errstr);
    ck_assert_str_eq(pg->errstr, "source: interrupted");
    co_pg_free(pg);
    free(url);
    free(up);
}
END_TEST

START_TEST(connect_verify_full)
{
    /* no sslmode in the URL + ca_file: verify-full; by name and by IP */
    char *up = cutover_userpass();
    const char *hosts[] = {"localhost:45432", "127.0.0.1:45432"};

    for (int i = 0; i < 2; i++) {
        char *url = url_with(up, hosts[i], NULL);
        struct co_pg *pg =
            connect_url(url, "source", tu_tb("CUTOVER_TB_CA"), 10000);
        ck_assert_msg(pg->err == CO_PG_OK, "%s", pg->errstr);
        ck_assert_str_eq(pg->sslmode, "verify-full");
        ck_assert(pg->tls);
        ck_assert(pg->tls_verified);
        co_pg_free(pg);
        free(url);
    }
    free(up);
}
END_TEST

START_TEST(connect_verify_full_wrong_ca)
{
    char *dir = tu_tmpdir();
    char *cmd = co_asprintf(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/k.pem "
        "-out %s/ca.pem -days 2 -subj /CN=throwaway-ca >/dev/null 2>&1",
        dir, dir);
    char *ca = co_asprintf("%s/ca.pem", dir);
    char *up = cutover_userpass();
    char *url = url_with(up, "127.0.0.1:45433", NULL);
    struct co_pg *pg;

    ck_assert_int_eq(tu_sh(cmd, NULL), 0);
    pg = connect_url(url, "target", ca, 10000);
    ck_assert_msg(pg->err == CO_PG_TLS, "err %d: %s", pg->err, pg->errstr);
    ck_assert_msg(strstr(pg->errstr, "target: TLS: ") == pg->errstr, "%s",
                  pg->errstr);
    ck_assert_msg(strstr(pg->errstr, "certificate verify failed") != NULL,
                  "%s", pg->errstr);
    co_pg_free(pg);

    /* the right CA, but the name in the URL is not in the certificate */
    char *yaml = co_asprintf("version: 1\nsettings: {resolvers: [\"%s\"]}\n",
                             tu_tb("CUTOVER_TB_DNS"));
    char err[512] = "";
    struct co_config *cfg =
        co_config_load_buf("t.yml", yaml, strlen(yaml), err, sizeof(err));
    ck_assert_msg(err[0] == '\0', "%s", err);
    free(url);
    url = url_with(up, "open.cutover.test:45433", NULL);
    pg = co_pg_connect_url(url, "target", tu_tb("CUTOVER_TB_CA"), true, cfg,
                           co_now_ms() + 10000, NULL);
    ck_assert_msg(pg->err == CO_PG_TLS, "err %d: %s", pg->err, pg->errstr);
    ck_assert_msg(strstr(pg->errstr, "open.cutover.test") != NULL, "%s",
                  pg->errstr);
    co_pg_free(pg);
    co_config_free(cfg);
    free(yaml);
    free(url);
    free(up);
    free(ca);
    free(cmd);
    free(dir);
}
END_TEST

START_TEST(connect_unix_socket)
{
    char *up = cutover_userpass();
    char *url = co_asprintf("postgres://%s@/%s?host=%s/pg/run&port=45432", up,
                            DB, tu_tb("CUTOVER_TB_DIR"));
    struct co_pg *pg = connect_ok(url, "source");

    ck_assert(!pg->tls);
    assert_setting(pg, "default_transaction_read_only", "on");
    co_pg_free(pg);
    free(url);
    free(up);
}
END_TEST

/* ---- statements ------------------------------------------------------- */

START_TEST(exec_params_and_errors)
{
    struct co_pg *pg = connect_ok(src_url, "source");
    const char *params[] = {"it's \"quoted\" ]]> ü", "41"};
    PGresult *r = co_pg_exec(pg, "SELECT $1::text, $2::int + 1", 2, params,
                             co_now_ms() + 5000, NULL);

    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), params[0]);
    ck_assert_str_eq(PQgetvalue(r, 0, 1), "42");
    PQclear(r);
    r = co_pg_exec(pg, "SELECT 1/0", 0, NULL, co_now_ms() + 5000, NULL);
    ck_assert_ptr_null(r);
    ck_assert_msg(pg->err == CO_PG_QUERY, "err %d: %s", pg->err, pg->errstr);
    ck_assert_str_eq(pg->sqlstate, "22012");
    ck_assert_str_eq(pg->errstr,
                     "source: query failed: division by zero (SQLSTATE "
                     "22012)");
    /* two statements in one call are refused by the protocol */
    r = co_pg_exec(pg, "SELECT 1; SELECT 2", 0, NULL, co_now_ms() + 5000,
                   NULL);
    ck_assert_ptr_null(r);
    ck_assert_msg(pg->err == CO_PG_QUERY, "err %d: %s", pg->err, pg->errstr);
    char *v = one(pg, "SELECT '1 day 02:00'::interval::text || ' ' || "
                      "'2024-01-02 03:04:05+02'::timestamptz::text || ' ' "
                      "|| 0.1::float8::text || ' ' || '\\x01ff'::bytea");
    ck_assert_str_eq(v, "1 day 02:00:00 2024-01-02 01:04:05+00 0.1 "
                        "\\x01ff");
    free(v);
    co_pg_free(pg);
}
END_TEST

START_TEST(exec_timeout_cancels_backend)
{
    struct co_pg *pg = connect_ok(src_url, "source");
    char *admin = tu_pg_admin_url("source", DB);
    struct co_pg *adm = connect_ok(admin, "source");
    int64_t t0 = co_now_ms();
    PGresult *r =
        co_pg_exec(pg, "SELECT pg_sleep(5)", 0, NULL, co_now_ms() + 300, NULL);
    int64_t took = co_now_ms() - t0;

    ck_assert_ptr_null(r);
    ck_assert_msg(pg->err == CO_PG_TIMEOUT, "err %d: %s", pg->err, pg->errstr);
    ck_assert_str_eq(pg->errstr, "source: timed out after 300 ms");
    ck_assert_msg(took >= 290 && took < 1500, "took %lld ms", (long long)took);
    char *n = one(adm, "SELECT count(*) FROM pg_stat_activity WHERE "
                       "query LIKE 'SELECT pg_sleep(5)%' AND state = "
                       "'active' AND pid <> pg_backend_pid()");
    ck_assert_str_eq(n, "0");
    free(n);
    /* the session drained and works again */
    n = one(pg, "SELECT 7");
    ck_assert_str_eq(n, "7");
    free(n);
    co_pg_free(pg);
    co_pg_free(adm);
    free(admin);
}
END_TEST

static void *set_flag_later(void *arg)
{
    struct timespec ts = {0, 200 * 1000 * 1000};

    nanosleep(&ts, NULL);
    atomic_store((atomic_int *)arg, 1);
    return NULL;
}

START_TEST(exec_cancel_flag)
{
    struct co_pg *pg = connect_ok(src_url, "source");
    atomic_int cancel = 0;
    pthread_t th;
    int64_t t0 = co_now_ms();

    pthread_create(&th, NULL, set_flag_later, &cancel);
    PGresult *r = co_pg_exec(pg, "SELECT pg_sleep(5)", 0, NULL,
                             co_now_ms() + 10000, &cancel);
    pthread_join(th, NULL);
    ck_assert_ptr_null(r);
    ck_assert_msg(pg->err == CO_PG_CANCELLED, "err %d: %s", pg->err,
                  pg->errstr);
    ck_assert_str_eq(pg->errstr, "source: interrupted");
    ck_assert_int_lt(co_now_ms() - t0, 2000);
    /* interrupted is final */
    ck_assert_ptr_null(
        co_pg_exec(pg, "SELECT 1", 0, NULL, co_now_ms() + 1000, NULL));
    ck_assert_msg(pg->err == CO_PG_CANCELLED, "err %d: %s", pg->err,
                  pg->errstr);
    co_pg_free(pg);
}
END_TEST

START_TEST(exec_connection_lost)
{
    struct co_pg *pg = connect_ok(src_url, "source");
    char *admin = tu_pg_admin_url("source", DB);
    struct co_pg *adm = connect_ok(admin, "source");
    char *pid = one(pg, "SELECT pg_backend_pid()");
    const char *params[] = {pid};
    PGresult *r;

    /* the admin session is read-only too, but pg_terminate_backend is a
     * function call, not a write */
    r = co_pg_exec(adm, "SELECT pg_terminate_backend($1::int)", 1, params,
                   co_now_ms() + 5000, NULL);
    ck_assert_msg(r != NULL, "%s", adm->errstr);
    PQclear(r);
    usleep(100 * 1000);
    r = co_pg_exec(pg, "SELECT 1", 0, NULL, co_now_ms() + 5000, NULL);
    ck_assert_ptr_null(r);
    ck_assert_msg(pg->err == CO_PG_LOST, "err %d: %s", pg->err, pg->errstr);
    ck_assert_msg(strstr(pg->errstr, "source: connection lost") == pg->errstr,
                  "%s", pg->errstr);
    ck_assert_ptr_null(
        co_pg_exec(pg, "SELECT 1", 0, NULL, co_now_ms() + 1000, NULL));
    ck_assert_msg(pg->err == CO_PG_LOST, "err %d: %s", pg->err, pg->errstr);
    free(pid);
    co_pg_free(pg);
    co_pg_free(adm);
    free(admin);
}
END_TEST

START_TEST(pair_exec_concurrent)
{
    struct co_pg *pg[2] = {connect_ok(src_url, "source"),
                           connect_ok(tgt_url, "target")};
    PGresult *out[2];
    int64_t t0 = co_now_ms();
    int rc = co_pg_pair_exec(pg,
                             "SELECT pg_sleep(0.5), "
                             "current_setting('port')",
                             0, NULL, co_now_ms() + 5000, NULL, out);
    int64_t took = co_now_ms() - t0;

    ck_assert_int_eq(rc, 0);
    ck_assert_msg(took >= 490 && took < 900, "took %lld ms", (long long)took);
    ck_assert_str_eq(PQgetvalue(out[0], 0, 1), "45432");
    ck_assert_str_eq(PQgetvalue(out[1], 0, 1), "45433");
    PQclear(out[0]);
    PQclear(out[1]);

    /* an error on one side leaves the other's result */
    rc = co_pg_pair_exec(pg, "SELECT count(*) FROM t", 0, NULL,
                         co_now_ms() + 5000, NULL, out);
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_nonnull(out[0]);
    ck_assert_str_eq(PQgetvalue(out[0], 0, 0), "2");
    ck_assert_ptr_null(out[1]);
    ck_assert_msg(pg[1]->err == CO_PG_QUERY, "err %d: %s", pg[1]->err,
                  pg[1]->errstr);
    ck_assert_str_eq(pg[1]->sqlstate, "42P01");
    ck_assert_msg(strstr(pg[1]->errstr, "target: query failed") ==
                      pg[1]->errstr,
                  "%s", pg[1]->errstr);
    PQclear(out[0]);

    /* both time out together */
    t0 = co_now_ms();
    rc = co_pg_pair_exec(pg, "SELECT pg_sleep(5)", 0, NULL, co_now_ms() + 300,
                         NULL, out);
    ck_assert_int_eq(rc, -1);
    ck_assert_int_lt(co_now_ms() - t0, 1500);
    ck_assert_msg(pg[0]->err == CO_PG_TIMEOUT, "err %d: %s", pg[0]->err,
                  pg[0]->errstr);
    ck_assert_msg(pg[1]->err == CO_PG_TIMEOUT, "err %d: %s", pg[1]->err,
                  pg[1]->errstr);
    co_pg_free(pg[0]);
    co_pg_free(pg[1]);
}
END_TEST

struct counter {
    long rows;
    long long sum;
    long stop_at;
};

static int count_row(const PGresult *row, void *payload)
{
    struct counter *c = payload;

    ck_assert_int_eq(PQntuples(row), 1);
    c->rows++;
    c->sum += strtoll(PQgetvalue(row, 0, 0), NULL, 10);
    return c->stop_at > 0 && c->rows >= c->stop_at;
}

START_TEST(stream_rows)
{
    struct co_pg *pg = connect_ok(tgt_url, "target");
    struct counter c = {0, 0, 0};
    int rc = co_pg_stream(pg,
                          "SELECT g, repeat('x', 100) FROM "
                          "generate_series(1, 200000) g",
                          0, NULL, count_row, &c, co_now_ms() + 30000, NULL);

    ck_assert_msg(rc == 0, "%s", pg->errstr);
    ck_assert_int_eq(c.rows, 200000);
    ck_assert(c.sum == 200000LL * 200001LL / 2);

    /* the callback stops it early: not an error, the session goes on */
    memset(&c, 0, sizeof(c));
    c.stop_at = 10;
    rc = co_pg_stream(pg, "SELECT g FROM generate_series(1, 50000000) g", 0,
                      NULL, count_row, &c, co_now_ms() + 30000, NULL);
    ck_assert_msg(rc == 0, "%s", pg->errstr);
    ck_assert_int_eq(c.rows, 10);
    char *v = one(pg, "SELECT 'after'");
    ck_assert_str_eq(v, "after");
    free(v);

    /* an error mid-stream */
    memset(&c, 0, sizeof(c));
    rc = co_pg_stream(pg, "SELECT 1/(3 - g) FROM generate_series(1, 5) g", 0,
                      NULL, count_row, &c, co_now_ms() + 5000, NULL);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(pg->err == CO_PG_QUERY, "err %d: %s", pg->err, pg->errstr);
    ck_assert_str_eq(pg->sqlstate, "22012");
    co_pg_free(pg);
}
END_TEST

/* ---- pool ----------------------------------------------------------- */

struct pool_ctx {
    int seen[50];
    int bad;
    char pids[2][64][16];
    int npid[2];
};

static char *job_sql(size_t job, void *payload)
{
    (void)payload;
    return co_asprintf("SELECT %zu, pg_backend_pid(), pg_sleep(0.02)", job);
}

static void note_pid(struct pool_ctx *c, int side, const char *pid)
{
    for (int i = 0; i < c->npid[side]; i++)
        if (strcmp(c->pids[side][i], pid) == 0)
            return;
    if (c->npid[side] < 64)
        snprintf(c->pids[side][c->npid[side]++], 16, "%s", pid);
}

static void job_done(size_t job, PGresult *out[2], struct co_pg *pair[2],
                     void *payload)
{
    struct pool_ctx *c = payload;

    ck_assert_int_lt(job, 50);
    c->seen[job]++;
    for (int s = 0; s < 2; s++) {
        if (out[s] == NULL || pair[s]->err != CO_PG_OK) {
            c->bad++;
            continue;
        }
        if ((size_t)strtoul(PQgetvalue(out[s], 0, 0), NULL, 10) != job)
            c->bad++;
        note_pid(c, s, PQgetvalue(out[s], 0, 1));
    }
    ck_assert_str_eq(pair[0]->side, "source");
    ck_assert_str_eq(pair[1]->side, "target");
}

static struct co_config *pool_config(const char *target)
{
    char *yaml = co_asprintf("version: 1\n"
                             "postgres:\n  main:\n    source: '%s'\n"
                             "    target: '%s'\n",
                             src_url, target);
    char err[512] = "";
    struct co_config *cfg =
        co_config_load_buf("t.yml", yaml, strlen(yaml), err, sizeof(err));

    ck_assert_msg(cfg != NULL && err[0] == '\0', "config: %s", err);
    free(yaml);
    return cfg;
}

/* co_pg_pool_run: each call runs a statement on its pair and notes what
 * it saw (no ck_assert off the test's thread); the test checks after. */
#define RUN_UNITS 64

struct run_ctx {
    struct co_pg_pool *pool;
    const char *sql;
    size_t cancel_at; /* the unit that sets `cancel` (SIZE_MAX: none) */
    bool gather;      /* the first pool->n units wait for each other */
    atomic_int *cancel;
    atomic_int calls[RUN_UNITS], folds[RUN_UNITS];
    atomic_int busy[8], used[8]; /* per pair */
    atomic_int inflight, most, folding;
    atomic_int bad, shared_pair, fold_overlap, fold_early;
    atomic_int late; /* units started after `cancel` was set */
};

static void run_ctx_init(struct run_ctx *c, struct co_pg_pool *pool,
                         const char *sql, size_t cancel_at, atomic_int *cancel)
{
    memset(c, 0, sizeof(*c));
    c->pool = pool;
    c->sql = sql;
    c->cancel_at = cancel_at;
    c->cancel = cancel;
}

static int pair_index(const struct run_ctx *c, struct co_pg *pair[2])
{
    for (int k = 0; k < c->pool->n && k < 8; k++)
        if (c->pool->src[k] == pair[0] && c->pool->tgt[k] == pair[1])
            return k;
    return -1;
}

static void run_unit(void *arg, size_t unit, struct co_pg *pair[2])
{
    struct run_ctx *c = arg;
    int k = pair_index(c, pair), now, most;
    PGresult *out[2];

    if (k < 0 || unit >= RUN_UNITS) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    atomic_fetch_add(&c->calls[unit], 1);
    if (c->cancel != NULL && atomic_load(c->cancel))
        atomic_fetch_add(&c->late, 1);
    atomic_store(&c->used[k], 1);
    if (atomic_exchange(&c->busy[k], 1))
        atomic_fetch_add(&c->shared_pair, 1);
    now = atomic_fetch_add(&c->inflight, 1) + 1;
    most = atomic_load(&c->most);
    while (now > most && !atomic_compare_exchange_weak(&c->most, &most, now))
        ;
    /* all pairs at once, however slowly their threads start: wait (at
     * most 5 s) until every pair holds one of the first units */
    for (int64_t until = co_now_ms() + 5000;
         c->gather && unit < (size_t)c->pool->n &&
         atomic_load(&c->most) < c->pool->n && co_now_ms() < until;) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (unit == c->cancel_at) /* set while the others are mid-unit */
        atomic_store(c->cancel, 1);
    if (co_pg_pair_exec(pair, c->sql, 0, NULL, co_now_ms() + 10000, NULL,
                        out) != 0)
        atomic_fetch_add(&c->bad, 1);
    PQclear(out[0]);
    PQclear(out[1]);
    atomic_fetch_sub(&c->inflight, 1);
    atomic_store(&c->busy[k], 0);
}

static void run_fold(void *arg, size_t unit, struct co_pg *pair[2])
{
    struct run_ctx *c = arg;
    struct timespec ts = {0, 1000 * 1000};

    if (unit >= RUN_UNITS || pair_index(c, pair) < 0) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    if (atomic_exchange(&c->folding, 1))
        atomic_fetch_add(&c->fold_overlap, 1);
    if (atomic_load(&c->calls[unit]) != 1)
        atomic_fetch_add(&c->fold_early, 1);
    atomic_fetch_add(&c->folds[unit], 1);
    nanosleep(&ts, NULL); /* widen the window for an overlap */
    atomic_store(&c->folding, 0);
}

static int run_calls(struct run_ctx *c)
{
    int n = 0;

    for (int i = 0; i < RUN_UNITS; i++)
        n += atomic_load(&c->calls[i]);
    return n;
}

/* Every unit once, on all n pairs at once, folds one at a time. */
static void pool_run_all_units(struct co_pg_pool *pool)
{
    struct run_ctx c;
    int64_t t0 = co_now_ms();

    run_ctx_init(&c, pool, "SELECT pg_sleep(0.05)", SIZE_MAX, NULL);
    c.gather = true;
    ck_assert_int_eq(co_pg_pool_run(pool, 40, run_unit, run_fold, &c,
                                    co_now_ms() + 20000, NULL),
                     CO_PG_OK);
    /* 40 units of 50 ms, 4 at a time: about 500 ms; one at a time would
     * take at least 2000 ms */
    ck_assert_int_lt(co_now_ms() - t0, 1900);
    for (int i = 0; i < RUN_UNITS; i++) {
        ck_assert_int_eq(atomic_load(&c.calls[i]), i < 40 ? 1 : 0);
        ck_assert_int_eq(atomic_load(&c.folds[i]), i < 40 ? 1 : 0);
    }
    for (int k = 0; k < pool->n; k++)
        ck_assert_int_eq(atomic_load(&c.used[k]), 1);
    ck_assert_int_eq(atomic_load(&c.most), pool->n);
    ck_assert_int_eq(atomic_load(&c.shared_pair), 0);
    ck_assert_int_eq(atomic_load(&c.fold_overlap), 0);
    ck_assert_int_eq(atomic_load(&c.fold_early), 0);
    ck_assert_int_eq(atomic_load(&c.bad), 0);
}

/* The cancel flag set as unit 10 starts: no unit starts after it,
 * beyond the one each other pair already holds. */
static void pool_run_cancel_midway(struct co_pg_pool *pool)
{
    struct run_ctx c;
    atomic_int cancel = 0;
    int64_t t0 = co_now_ms();

    run_ctx_init(&c, pool, "SELECT pg_sleep(0.02)", 10, &cancel);
    ck_assert_int_eq(co_pg_pool_run(pool, 60, run_unit, NULL, &c,
                                    co_now_ms() + 20000, &cancel),
                     CO_PG_CANCELLED);
    ck_assert_int_eq(atomic_load(&c.calls[10]), 1);
    for (int i = 0; i < RUN_UNITS; i++)
        ck_assert_int_le(atomic_load(&c.calls[i]), 1);
    /* after the flag, each other pair starts at most the unit it had
     * already been handed */
    ck_assert_int_le(atomic_load(&c.late), pool->n - 1);
    ck_assert_int_lt(run_calls(&c), 60);
    /* 60 units of 20 ms would take 300 ms even 4 at a time */
    ck_assert_int_lt(co_now_ms() - t0, 1500);
    ck_assert_int_eq(atomic_load(&c.bad), 0);
}

/* Nothing is handed out past the deadline or after an interrupt. */
static void pool_run_stopped(struct co_pg_pool *pool)
{
    struct run_ctx c;
    atomic_int cancel = 1;

    run_ctx_init(&c, pool, "SELECT 1", SIZE_MAX, NULL);
    ck_assert_int_eq(co_pg_pool_run(pool, 10, run_unit, run_fold, &c,
                                    co_now_ms() - 1, NULL),
                     CO_PG_TIMEOUT);
    ck_assert_int_eq(co_pg_pool_run(pool, 10, run_unit, run_fold, &c,
                                    co_now_ms() + 10000, &cancel),
                     CO_PG_CANCELLED);
    ck_assert_int_eq(co_pg_pool_run(pool, 0, run_unit, run_fold, &c,
                                    co_now_ms() + 10000, NULL),
                     CO_PG_OK);
    ck_assert_int_eq(run_calls(&c), 0);
    ck_assert_int_eq(atomic_load(&c.folds[0]), 0);
    /* the sessions are still usable */
    ck_assert_int_eq(co_pg_pool_run(pool, 3, run_unit, run_fold, &c,
                                    co_now_ms() + 10000, NULL),
                     CO_PG_OK);
    ck_assert_int_eq(run_calls(&c), 3);
    ck_assert_int_eq(atomic_load(&c.bad), 0);
}

START_TEST(pool_map_jobs)
{
    struct co_config *cfg = pool_config(tgt_url);
    struct co_run run;
    struct co_pg_pool pool;
    struct pool_ctx ctx;
    int64_t t0;

    memset(&run, 0, sizeof(run));
    memset(&ctx, 0, sizeof(ctx));
    run.res = &cfg->res[0];
    run.cfg = cfg;
    run.deadline = co_now_ms() + 20000;
    ck_assert_msg(co_pg_pool_open(&pool, &run, 4) == 0, "pool: %s / %s",
                  pool.src[0]->errstr, pool.tgt[0]->errstr);
    ck_assert_int_eq(pool.n, 4);
    t0 = co_now_ms();
    ck_assert_int_eq(
        co_pg_pool_map(&pool, 50, job_sql, job_done, &ctx, run.deadline, NULL),
        0);
    /* 50 jobs of 20 ms, 4 at a time: about 13 rounds (260 ms); one at a
     * time would take at least 1000 ms */
    ck_assert_int_lt(co_now_ms() - t0, 950);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(ctx.seen[i], 1);
    ck_assert_int_eq(ctx.bad, 0);
    ck_assert_int_eq(ctx.npid[0], 4);
    ck_assert_int_eq(ctx.npid[1], 4);
    /* the same pool, a function per unit */
    pool_run_all_units(&pool);
    pool_run_stopped(&pool);
    pool_run_cancel_midway(&pool);
    co_pg_pool_close(&pool);
    co_config_free(cfg);
}
END_TEST

START_TEST(pool_open_failure)
{
    char *up = cutover_userpass();
    char *bad = url_with(up, "127.0.0.1:45498", NULL);
    struct co_config *cfg = pool_config(bad);
    struct co_run run;
    struct co_pg_pool pool;

    memset(&run, 0, sizeof(run));
    run.res = &cfg->res[0];
    run.cfg = cfg;
    run.deadline = co_now_ms() + 10000;
    ck_assert_int_eq(co_pg_pool_open(&pool, &run, 3), -1);
    ck_assert_int_eq(pool.n, 1);
    ck_assert_msg(pool.src[0]->err == CO_PG_OK, "err %d: %s", pool.src[0]->err,
                  pool.src[0]->errstr);
    ck_assert_msg(pool.tgt[0]->err == CO_PG_REFUSED, "err %d: %s",
                  pool.tgt[0]->err, pool.tgt[0]->errstr);
    ck_assert_str_eq(pool.tgt[0]->errstr, "target: connection refused "
                                          "(127.0.0.1:45498)");
    co_pg_pool_close(&pool);
    co_config_free(cfg);
    free(bad);
    free(up);
}
END_TEST

/* ---- names ---------------------------------------------------------- */

START_TEST(names)
{
    char *s;

    s = co_pg_quote_ident("my \"table\"");
    ck_assert_str_eq(s, "\"my \"\"table\"\"\"");
    free(s);
    s = co_pg_qualname("public", "users");
    ck_assert_str_eq(s, "public.users");
    free(s);
    s = co_pg_qualname("public", "Users");
    ck_assert_str_eq(s, "public.\"Users\"");
    free(s);
    s = co_pg_qualname("my schema", "order");
    ck_assert_str_eq(s, "\"my schema\".\"order\"");
    free(s);
    s = co_pg_qualname("public", "tëst");
    ck_assert_str_eq(s, "public.\"tëst\"");
    free(s);
    s = co_pg_qualname(NULL, "a]]>b");
    ck_assert_str_eq(s, "\"a]]>b\"");
    free(s);
    s = co_pg_qualname("s", "_ok1");
    ck_assert_str_eq(s, "s._ok1");
    free(s);
    ck_assert_str_eq(co_pg_err_name(CO_PG_TIMEOUT), "timed out");
    ck_assert_str_eq(co_pg_err_name(CO_PG_CANCELLED), "interrupted");
}
END_TEST

static Suite *pg_layer_suite(void)
{
    Suite *s;
    TCase *tc;

    s = suite_create("pg_layer");
    tc = tcase_create("pg");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, setup_db, NULL);
    tcase_add_test(tc, names);
    tcase_add_test(tc, connect_pinned_read_only);
    tcase_add_test(tc, connect_config_settings);
    tcase_add_test(tc, connect_wrong_password);
    tcase_add_test(tc, connect_missing_database);
    tcase_add_test(tc, connect_refused);
    tcase_add_test(tc, connect_timeout);
    tcase_add_test(tc, connect_cancel_flag);
    tcase_add_test(tc, connect_verify_full);
    tcase_add_test(tc, connect_verify_full_wrong_ca);
    tcase_add_test(tc, connect_unix_socket);
    tcase_add_test(tc, exec_params_and_errors);
    tcase_add_test(tc, exec_timeout_cancels_backend);
    tcase_add_test(tc, exec_cancel_flag);
    tcase_add_test(tc, exec_connection_lost);
    tcase_add_test(tc, pair_exec_concurrent);
    tcase_add_test(tc, stream_rows);
    tcase_add_test(tc, pool_map_jobs);
    tcase_add_test(tc, pool_open_failure);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = pg_layer_suite, .pg = true, .ck_env = true);
