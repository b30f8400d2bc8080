/*
 * test_url.c - URL parsing and the one masking function. A sentinel
 * password must never survive co_mask, whatever text carries it.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/cutover.h"
#include "tu_suite.h"

START_TEST(parse_postgres)
{
    struct co_url u;
    char err[128];

    ck_assert_int_eq(co_url_parse("postgres://us%40er:p%3Ass@db.example:6543"
                                  "/app_db?sslmode=require&sslrootcert=x",
                                  &u, err, sizeof(err)),
                     0);
    ck_assert_str_eq(u.scheme, "postgres");
    ck_assert_str_eq(u.user, "us@er");
    ck_assert_str_eq(u.password, "p:ss");
    ck_assert_str_eq(u.host, "db.example");
    ck_assert_int_eq(u.port, 6543);
    ck_assert_str_eq(u.path, "app_db");
    char *v = co_url_query_get(&u, "sslmode");
    ck_assert_str_eq(v, "require");
    free(v);
    ck_assert_ptr_null(co_url_query_get(&u, "nope"));
    co_url_free(&u);
}
END_TEST

START_TEST(parse_redis_v6_and_errors)
{
    struct co_url u;
    char err[128];

    ck_assert_int_eq(
        co_url_parse("REDISS://:secretpw@[::1]:6380/2", &u, err, sizeof(err)),
        0);
    ck_assert_str_eq(u.scheme, "rediss");
    ck_assert_str_eq(u.user, "");
    ck_assert_str_eq(u.password, "secretpw");
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 6380);
    ck_assert_str_eq(u.path, "2");
    co_url_free(&u);

    ck_assert_int_eq(co_url_parse("https://h:99999/", &u, err, sizeof(err)),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "invalid port"));
    ck_assert_int_eq(co_url_parse("just-a-host", &u, err, sizeof(err)), -1);
    ck_assert_int_eq(co_url_parse("redis://", &u, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no host"));
    ck_assert_int_eq(co_url_parse("https://[::1", &u, err, sizeof(err)), -1);
    /* a raw '@' in the password: the last '@' ends the userinfo */
    ck_assert_int_eq(
        co_url_parse("postgres://u:p@ss@h/db", &u, err, sizeof(err)), 0);
    ck_assert_str_eq(u.password, "p@ss");
    ck_assert_str_eq(u.host, "h");
    co_url_free(&u);
    ck_assert_int_eq(co_url_default_port("rediss"), 6379);
    ck_assert_int_eq(co_url_default_port("postgresql"), 5432);
}
END_TEST

static void assert_masked(const char *in, const char *want)
{
    char *m = co_mask(in);
    ck_assert_str_eq(m, want);
    free(m);
}

START_TEST(mask_urls)
{
    co_secret_clear();
    assert_masked("postgres://u:hunter2@host/db", "postgres://u:***@host/db");
    assert_masked("redis://:pw@h:6379", "redis://:***@h:6379");
    assert_masked("no secret here", "no secret here");
    assert_masked("x postgres://u@host/db y", "x postgres://u@host/db y");
    assert_masked("conn to postgres://a:b@c/d and rediss://:e@f failed",
                  "conn to postgres://a:***@c/d and rediss://:***@f failed");
    assert_masked("https://h/p?token=abc&x=1&sig=zz",
                  "https://h/p?token=***&x=1&sig=***");
    assert_masked("password=s3cret dbname=x", "password=*** dbname=x");
    assert_masked("the key=value pairs", "the key=value pairs");
    assert_masked("primary_key=id", "primary_key=id");
    assert_masked("api_key=AKIA123", "api_key=***");
    ck_assert_ptr_null(co_mask(NULL));
}
END_TEST

START_TEST(mask_registered)
{
    const char *sentinel = "S3ntinel-Pa55";

    co_secret_clear();
    co_secret_register_url("postgres://u:S3ntinel-Pa55@db/x");
    co_secret_register_url("redis://:p%40ssword9@r:6379");
    co_secret_register("abc"); /* too short: ignored */
    /* a library error message that echoes the bare password */
    char *m = co_mask("FATAL: password S3ntinel-Pa55 rejected");
    ck_assert_ptr_null(strstr(m, sentinel));
    ck_assert_str_eq(m, "FATAL: password *** rejected");
    free(m);
    assert_masked("decoded p@ssword9 / raw p%40ssword9",
                  "decoded *** / raw ***");
    assert_masked("abc stays", "abc stays");
    co_secret_clear();
    assert_masked("S3ntinel-Pa55", "S3ntinel-Pa55");
}
END_TEST

START_TEST(durations)
{
    int64_t ms;
    char buf[32];

    ck_assert_int_eq(co_duration_parse("500ms", &ms), 0);
    ck_assert_int_eq(ms, 500);
    ck_assert_int_eq(co_duration_parse("30s", &ms), 0);
    ck_assert_int_eq(ms, 30000);
    ck_assert_int_eq(co_duration_parse("5m", &ms), 0);
    ck_assert_int_eq(ms, 300000);
    ck_assert_int_eq(co_duration_parse("1m30s", &ms), 0);
    ck_assert_int_eq(ms, 90000);
    ck_assert_int_eq(co_duration_parse("2h", &ms), 0);
    ck_assert_int_eq(ms, 7200000);
    ck_assert_int_eq(co_duration_parse("10", &ms), 0);
    ck_assert_int_eq(ms, 10000);
    ck_assert_int_eq(co_duration_parse("", &ms), -1);
    ck_assert_int_eq(co_duration_parse("10x", &ms), -1);
    ck_assert_int_eq(co_duration_parse("-5s", &ms), -1);
    ck_assert_int_eq(co_duration_parse("5s10", &ms), -1);
    ck_assert_int_eq(co_duration_parse("s", &ms), -1);
    ck_assert_int_eq(co_duration_parse("99999999999999999999s", &ms), -1);
    co_duration_format(30000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "30s");
    co_duration_format(1500, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1500ms");
    co_duration_format(300000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "5m");
}
END_TEST

START_TEST(suggest_and_glob)
{
    const char *keys[] = {"source", "target", "schemas", "exclude"};

    ck_assert_str_eq(co_suggest("sorce", keys, 4), "source");
    ck_assert_str_eq(co_suggest("targte", keys, 4), "target");
    ck_assert_ptr_null(co_suggest("zzzzzzzz", keys, 4));
    ck_assert(co_glob_match("pg.*", "pg.schema"));
    ck_assert(!co_glob_match("pg.*", "redis.keyspace"));
    ck_assert(co_glob_match("*.conn?ct", "redis.connect"));
}
END_TEST

static Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc = tcase_create("url");

    tcase_add_test(tc, parse_postgres);
    tcase_add_test(tc, parse_redis_v6_and_errors);
    tcase_add_test(tc, mask_urls);
    tcase_add_test(tc, mask_registered);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, suggest_and_glob);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = url_suite);
