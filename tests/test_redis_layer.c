/*
 * test_redis_layer.c - the Redis connection layer without a server: the
 * read-only allowlist, and RESP handling fed literal bytes through a
 * socketpair (the test plays the server on the other end).
 *
 * What is proved: refused commands never reach the socket; pipelined
 * requests go out as exact RESP and replies come back in order; an error
 * reply is a reply, not a layer error; bytes that are not RESP, an early
 * close and a half reply each become a clear error (protocol, lost,
 * timeout) without a hang; errstr never holds the URL's password.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cutover/redis.h"
#include "testutil.h"
#include "tu_suite.h"

/* ---- the allowlist ---------------------------------------------------- */

static int allowed(const char *const *argv)
{
    char why[CO_ERRLEN];
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    return co_redis_allowed(argc, argv, NULL, why, sizeof(why));
}

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(test_allowlist_read_only)
{
    ck_assert(allowed(ARGV("PING")));
    ck_assert(allowed(ARGV("ping")));
    ck_assert(allowed(ARGV("SCAN", "0", "MATCH", "a*", "COUNT", "10")));
    ck_assert(allowed(ARGV("config", "get", "maxmemory-policy")));
    ck_assert(allowed(ARGV("INFO", "keyspace")));
    ck_assert(allowed(ARGV("DUMP", "k")));
    ck_assert(allowed(ARGV("LLEN", "queue:default")));
    ck_assert(allowed(ARGV("MEMORY", "USAGE", "k")));
}
END_TEST

START_TEST(test_allowlist_refuses)
{
    const char *const *refused[] = {
        ARGV("KEYS", "*"),
        ARGV("keys", "*"),
        ARGV("FLUSHALL"),
        ARGV("FLUSHDB"),
        ARGV("DEBUG", "SLEEP", "1"),
        ARGV("MONITOR"),
        ARGV("BLPOP", "q", "0"),
        ARGV("BRPOPLPUSH", "a", "b", "0"),
        ARGV("SET", "k", "v"),
        ARGV("DEL", "k"),
        ARGV("EVAL", "return 1", "0"),
        ARGV("EVALSHA", "abc", "0"),
        ARGV("SCRIPT", "FLUSH"),
        ARGV("SHUTDOWN"),
        ARGV("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"),
        ARGV("CONFIG", "REWRITE"),
        ARGV("CONFIG", "RESETSTAT"),
        ARGV("CONFIG"),
        ARGV("MEMORY", "PURGE"),
        ARGV("PINGX"),
        ARGV("RESTORE", "k", "0", "x"),
    };
    char why[CO_ERRLEN];

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        ck_assert_msg(!allowed(refused[i]), "%s allowed", refused[i][0]);
    ck_assert(!co_redis_allowed(2, ARGV("KEYS", "*"), NULL, why, sizeof(why)));
    ck_assert_msg(strstr(why, "KEYS refused") != NULL, "%s", why);
    ck_assert_msg(strstr(why, "read-only") != NULL, "%s", why);
    ck_assert(!co_redis_allowed(3, ARGV("config", "set", "x"), NULL, why,
                                sizeof(why)));
    ck_assert_msg(strstr(why, "CONFIG set refused") != NULL, "%s", why);
    ck_assert_msg(strstr(why, "only CONFIG GET") != NULL, "%s", why);
    /* A name with a NUL inside must not pass as its prefix. */
    ck_assert(!co_redis_allowed(1, ARGV("PING\0X"), (size_t[]){6}, why,
                                sizeof(why)));
}
END_TEST

/* ---- a fake server on a socketpair ------------------------------------ */

struct fake {
    struct co_redis *r;
    int peer; /* the test's end: plays the server */
};

static void fake_open(struct fake *f, int64_t ms)
{
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    f->r = co_redis_open_fd(sv[0], "source", co_now_ms() + ms, NULL);
    ck_assert_ptr_nonnull(f->r);
    f->peer = sv[1];
}

static void fake_close(struct fake *f)
{
    co_redis_free(f->r);
    if (f->peer >= 0)
        close(f->peer);
}

static void peer_send(struct fake *f, const char *bytes, size_t n)
{
    ck_assert_int_eq(write(f->peer, bytes, n), (ssize_t)n);
}

/* Everything the layer wrote so far ("" when nothing). */
static char *peer_recv(struct fake *f)
{
    static char buf[4096];
    ssize_t n = read(f->peer, buf, sizeof(buf) - 1);

    if (n < 0) {
        ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
        n = 0;
    }
    buf[n] = '\0';
    return buf;
}

START_TEST(test_refused_never_reaches_socket)
{
    struct fake f;

    fake_open(&f, 1000);
    ck_assert_int_eq(co_redis_appendl(f.r, "FLUSHALL", NULL), -1);
    ck_assert_int_eq(f.r->err, CO_REDIS_FORBIDDEN);
    ck_assert_msg(strstr(f.r->errstr, "FLUSHALL refused") != NULL, "%s",
                  f.r->errstr);
    ck_assert_ptr_null(co_redis_call(f.r, "PING", NULL)); /* in error */
    ck_assert_str_eq(peer_recv(&f), "");
    fake_close(&f);

    fake_open(&f, 1000);
    ck_assert_ptr_null(co_redis_call(f.r, "KEYS", "*", NULL));
    ck_assert_int_eq(f.r->err, CO_REDIS_FORBIDDEN);
    ck_assert_str_eq(peer_recv(&f), "");
    fake_close(&f);
}
END_TEST

START_TEST(test_pipeline_in_order)
{
    static const char replies[] = "+PONG\r\n$5\r\nhello\r\n:3\r\n"
                                  "-ERR unknown command\r\n"
                                  "*2\r\n$1\r\n0\r\n*1\r\n$3\r\nk:1\r\n";
    struct fake f;
    redisReply *rep;

    fake_open(&f, 2000);
    ck_assert_int_eq(co_redis_appendl(f.r, "PING", NULL), 0);
    ck_assert_int_eq(co_redis_appendl(f.r, "INFO", "server", NULL), 0);
    ck_assert_int_eq(co_redis_appendl(f.r, "LLEN", "queue:a", NULL), 0);
    ck_assert_int_eq(co_redis_appendl(f.r, "TYPE", "k", NULL), 0);
    ck_assert_int_eq(co_redis_appendl(f.r, "SCAN", "0", NULL), 0);
    ck_assert_str_eq(peer_recv(&f), ""); /* nothing written before a read */
    peer_send(&f, replies, sizeof(replies) - 1);

    ck_assert_int_eq(co_redis_get_reply(f.r, &rep), 0);
    ck_assert_str_eq(peer_recv(&f),
                     "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"
                     "*2\r\n$4\r\nLLEN\r\n$7\r\nqueue:a\r\n"
                     "*2\r\n$4\r\nTYPE\r\n$1\r\nk\r\n"
                     "*2\r\n$4\r\nSCAN\r\n$1\r\n0\r\n");
    ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(rep->str, "PONG");
    freeReplyObject(rep);
    ck_assert_int_eq(co_redis_get_reply(f.r, &rep), 0);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(rep->str, "hello");
    freeReplyObject(rep);
    ck_assert_int_eq(co_redis_get_reply(f.r, &rep), 0);
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    ck_assert_int_eq(rep->integer, 3);
    freeReplyObject(rep);
    ck_assert_int_eq(co_redis_get_reply(f.r, &rep), 0);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR); /* a reply, not err */
    ck_assert_int_eq(f.r->err, CO_REDIS_OK);
    freeReplyObject(rep);
    ck_assert_int_eq(co_redis_get_reply(f.r, &rep), 0);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(rep->elements, 2);
    ck_assert_str_eq(rep->element[1]->element[0]->str, "k:1");
    freeReplyObject(rep);
    ck_assert_int_eq(f.r->pending, 0);
    fake_close(&f);
}
END_TEST

START_TEST(test_binary_key)
{
    struct fake f;
    redisReply *rep;
    const char *argv[2] = {"DUMP", "a\0b\r\n"};
    size_t len[2] = {4, 5};

    fake_open(&f, 2000);
    peer_send(&f, "$3\r\n\x00\x01\x02\r\n", 9);
    rep = co_redis_command(f.r, 2, argv, len);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->len, 3);
    ck_assert(memcmp(peer_recv(&f), "*2\r\n$4\r\nDUMP\r\n$5\r\na\0b\r\n\r\n",
                     25) == 0);
    freeReplyObject(rep);
    fake_close(&f);
}
END_TEST

START_TEST(test_not_resp_is_protocol_error)
{
    struct fake f;
    int64_t t0 = co_now_ms();

    fake_open(&f, 5000);
    /* A TLS alert record, as a TLS server may send to a plain client. */
    peer_send(&f, "\x15\x03\x03\x00\x02\x02\x46", 7);
    ck_assert_ptr_null(co_redis_call(f.r, "PING", NULL));
    ck_assert_int_eq(f.r->err, CO_REDIS_PROTOCOL);
    ck_assert_msg(strstr(f.r->errstr, "not RESP") != NULL, "%s", f.r->errstr);
    ck_assert_msg(strstr(f.r->errstr, "rediss://") != NULL, "%s", f.r->errstr);
    ck_assert_int_lt(co_now_ms() - t0, 1000);
    fake_close(&f);
}
END_TEST

START_TEST(test_close_is_lost)
{
    struct fake f;

    fake_open(&f, 5000);
    shutdown(f.peer, SHUT_WR);
    ck_assert_ptr_null(co_redis_call(f.r, "INFO", NULL));
    ck_assert_int_eq(f.r->err, CO_REDIS_LOST);
    ck_assert_msg(strstr(f.r->errstr, "closed by the server while waiting "
                                      "for a reply to INFO") != NULL,
                  "%s", f.r->errstr);
    fake_close(&f);
}
END_TEST

START_TEST(test_half_reply_times_out)
{
    struct fake f;
    int64_t t0 = co_now_ms();

    fake_open(&f, 300);
    peer_send(&f, "$10\r\nhel", 8);
    ck_assert_ptr_null(co_redis_call(f.r, "LLEN", "q", NULL));
    ck_assert_int_eq(f.r->err, CO_REDIS_TIMEOUT);
    ck_assert_msg(strstr(f.r->errstr, "timed out waiting for a reply to "
                                      "LLEN") != NULL,
                  "%s", f.r->errstr);
    ck_assert_int_lt(co_now_ms() - t0, 1500);
    fake_close(&f);
}
END_TEST

START_TEST(test_cancel_stops_wait)
{
    struct fake f;
    atomic_int cancel = 0;
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    f.r = co_redis_open_fd(sv[0], "target", co_now_ms() + 10000, &cancel);
    f.peer = sv[1];
    atomic_store(&cancel, 1);
    ck_assert_ptr_null(co_redis_call(f.r, "PING", NULL));
    ck_assert_int_eq(f.r->err, CO_REDIS_CANCELLED);
    fake_close(&f);
}
END_TEST

START_TEST(test_info_field)
{
    const char *info = "# Server\r\nredis_version:7.2.4\r\n"
                       "server_name:valkey\r\nvalkey_version:8.0.1\r\n";
    char v[32];

    ck_assert_int_eq(co_redis_info_field(info, "redis_version", v, sizeof(v)),
                     0);
    ck_assert_str_eq(v, "7.2.4");
    ck_assert_int_eq(co_redis_info_field(info, "valkey_version", v, sizeof(v)),
                     0);
    ck_assert_str_eq(v, "8.0.1");
    ck_assert_int_eq(co_redis_info_field(info, "redis", v, sizeof(v)), -1);
    ck_assert_int_eq(co_redis_info_field(info, "nope", v, sizeof(v)), -1);
}
END_TEST

/* A port on 127.0.0.1 where nothing listens. */
static int closed_port(int *fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    *fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

START_TEST(test_errors_never_hold_password)
{
    int fd, port = closed_port(&fd);
    char *url = co_asprintf("redis://u:s3cret-pw-here@127.0.0.1:%d/0", port);
    struct co_redis *r = co_redis_connect_url(url, "source", NULL, true, NULL,
                                              co_now_ms() + 2000, NULL);

    ck_assert_int_eq(r->err, CO_REDIS_REFUSED);
    ck_assert_msg(strstr(r->errstr, "refused") != NULL, "%s", r->errstr);
    ck_assert(strstr(r->errstr, "s3cret") == NULL);
    co_redis_free(r);
    free(url);

    url = co_asprintf("redis://:s3cret-pw-here@127.0.0.1:%d/x9", port);
    r = co_redis_connect_url(url, "target", NULL, true, NULL,
                             co_now_ms() + 2000, NULL);
    ck_assert_int_eq(r->err, CO_REDIS_OTHER);
    ck_assert_msg(strstr(r->errstr, "database number") != NULL, "%s",
                  r->errstr);
    ck_assert(strstr(r->errstr, "s3cret") == NULL);
    co_redis_free(r);
    free(url);

    r = co_redis_connect_url("postgres://a:s3cret-pw-here@h/db", "source",
                             NULL, true, NULL, co_now_ms() + 2000, NULL);
    ck_assert_int_eq(r->err, CO_REDIS_OTHER);
    ck_assert(strstr(r->errstr, "s3cret") == NULL);
    co_redis_free(r);
    co_redis_free(NULL);
    close(fd);
}
END_TEST

static Suite *redis_layer_suite(void)
{
    Suite *s = suite_create("redis_layer");
    TCase *tc = tcase_create("layer");

    tcase_add_test(tc, test_allowlist_read_only);
    tcase_add_test(tc, test_allowlist_refuses);
    tcase_add_test(tc, test_refused_never_reaches_socket);
    tcase_add_test(tc, test_pipeline_in_order);
    tcase_add_test(tc, test_binary_key);
    tcase_add_test(tc, test_not_resp_is_protocol_error);
    tcase_add_test(tc, test_close_is_lost);
    tcase_add_test(tc, test_half_reply_times_out);
    tcase_add_test(tc, test_cancel_stops_wait);
    tcase_add_test(tc, test_info_field);
    tcase_add_test(tc, test_errors_never_hold_password);
    suite_add_tcase(s, tc);
    return s;
}

TU_SUITE(.make = redis_layer_suite);
