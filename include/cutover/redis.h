/*
 * redis.h - the Redis connection layer (core/redis.c), shared by every
 * redis.* check.
 *
 * Debian 12's hiredis (0.14) has no TLS, so the layer owns the socket:
 * resolution and connect through net.h (c-ares, deadlines), optional
 * OpenSSL TLS (SNI, verification on by default, ca_file), and hiredis is
 * used only for redisFormatCommandArgv (requests) and redisReader
 * (replies). Like hiredis' context, a `struct co_redis` carries its own
 * error: `err` (a code the checks map to a verdict) and `errstr` (a
 * human message, already masked). Constructors return NULL only when out
 * of memory; an object in error refuses further work.
 *
 * Read-only by construction: every command goes through an allowlist of
 * read-only commands before it is formatted. KEYS, FLUSH*, DEBUG,
 * MONITOR, blocking pops, writes, scripts, CONFIG SET and anything not
 * listed are refused with CO_REDIS_FORBIDDEN; nothing reaches the socket.
 *
 * Every operation is bounded by the object's deadline and cancel flag
 * (set at connect, movable with co_redis_set_deadline). Pipelining:
 * append many commands, then read the replies back in order; the first
 * read flushes what was appended.
 */
#ifndef CUTOVER_REDIS_H
#define CUTOVER_REDIS_H

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/check.h"
#include "cutover/util.h"

enum co_redis_err {
    CO_REDIS_OK = 0,
    CO_REDIS_DNS,       /* host name did not resolve */
    CO_REDIS_REFUSED,   /* connection refused / unreachable */
    CO_REDIS_TIMEOUT,   /* deadline passed */
    CO_REDIS_TLS,       /* TLS handshake or certificate failure */
    CO_REDIS_AUTH,      /* AUTH rejected, or NOAUTH */
    CO_REDIS_PROTOCOL,  /* the bytes were not RESP */
    CO_REDIS_LOST,      /* connection closed or broken mid-way */
    CO_REDIS_FORBIDDEN, /* refused by the read-only allowlist */
    CO_REDIS_CANCELLED, /* the run was interrupted */
    CO_REDIS_OTHER      /* bad URL, SELECT refused, ... */
};
/* "name not found", "refused", "timed out", "TLS", "authentication
 * failed", "protocol error", "connection lost", "not allowed",
 * "interrupted", "error" */
const char *co_redis_err_name(enum co_redis_err e);

#define CO_REDIS_NAMES 64

struct co_redis {
    int fd;
    void *ssl;     /* SSL *, NULL for plain TCP */
    void *ssl_ctx; /* SSL_CTX * */
    redisReader *reader;
    enum co_redis_err err;
    char errstr[CO_ERRLEN]; /* masked */
    const char *side;       /* "source" or "target" (static) */
    char *host;             /* as in the URL (owned) */
    int port;
    int db;               /* from the URL path, 0 by default */
    bool db_explicit;     /* the URL named a db */
    bool tls;             /* the session is encrypted */
    bool tls_verified;    /* the certificate chain and name were checked */
    char tls_version[16]; /* "TLSv1.3" */
    double connect_ms;    /* connect + TLS + AUTH + SELECT */
    int64_t deadline;     /* co_now_ms() value every operation ends by */
    const atomic_int *cancel;
    struct co_buf out; /* formatted commands not yet written */
    size_t pending;    /* commands appended whose replies are unread */
    size_t sent;       /* replies read so far */
    /* names of pending commands (a ring), for "timed out waiting for a
     * reply to AUTH" */
    char names[CO_REDIS_NAMES][16];
};

/* Opens one side of a redis resource (source when `source` is true) at
 * co_run_url(run, source) (baseline.h: while a snapshot is taken, both
 * sides are the recorded side): the URL's user/password (AUTH [user]
 * password), db (SELECT), TLS for rediss:// with the resource's ca_file
 * and tls_verify, resolvers from settings. Bounded by run->deadline and
 * run->cancel. Never NULL except on out-of-memory; check ->err. */
struct co_redis *co_redis_connect(const struct co_run *run, bool source);
/* Same with everything explicit (tests, tools). resolvers may be NULL. */
struct co_redis *co_redis_connect_url(const char *url, const char *side,
                                      const char *ca_file, bool tls_verify,
                                      const struct co_strlist *resolvers,
                                      int64_t deadline,
                                      const atomic_int *cancel);
/* Connects both sides of run's resource at once: a silent side does not
 * use up the other's time. A side stays NULL when it is not configured
 * or not live (co_run_origins: a baseline stands for it, or a snapshot
 * is being taken and it mirrors the recorded side). */
void co_redis_pair_connect(const struct co_run *run, int64_t deadline,
                           struct co_redis *out[2]);
/* Wraps an already connected plain socket (tests feed literal bytes
 * through a socketpair). The object owns fd. */
struct co_redis *co_redis_open_fd(int fd, const char *side, int64_t deadline,
                                  const atomic_int *cancel);
void co_redis_free(struct co_redis *r); /* NULL is fine */
void co_redis_set_deadline(struct co_redis *r, int64_t deadline);

/* Whether a command may be sent: 1 yes; 0 no, with the reason in why.
 * Names compare case-insensitively; CONFIG only with GET, MEMORY only
 * with USAGE, OBJECT only with ENCODING. */
int co_redis_allowed(int argc, const char *const *argv, const size_t *argvlen,
                     char *why, size_t whylen);

/* Appends one command to the pipeline (argvlen may be NULL: strlen).
 * Returns 0, or -1 with r->err set (CO_REDIS_FORBIDDEN for a command
 * off the allowlist: the object is then in error). */
int co_redis_append(struct co_redis *r, int argc, const char *const *argv,
                    const size_t *argvlen);
/* Same with NUL-terminated strings, the list ending with NULL. */
int co_redis_appendl(struct co_redis *r, const char *cmd, ...);
/* Writes whatever was appended and reads the next reply in order.
 * Returns 0 with *reply set (the caller freeReplyObject()s it; a
 * REDIS_REPLY_ERROR is a reply, not a layer error), or -1 with r->err
 * set. */
int co_redis_get_reply(struct co_redis *r, redisReply **reply);
/* One command, one reply; NULL with r->err set on failure. */
redisReply *co_redis_command(struct co_redis *r, int argc,
                             const char *const *argv, const size_t *argvlen);
redisReply *co_redis_call(struct co_redis *r, const char *cmd, ...);

/* The value of `field` in an INFO reply ("redis_version"), copied into
 * out. Returns 0, or -1 when absent. */
int co_redis_info_field(const char *info, const char *field, char *out,
                        size_t outlen);

/* After co_redis_pair_connect: 0 when every side asked now is
 * connected; otherwise adds the `error` case `name` for the first side
 * that is not (co_redis_case_error) and returns -1. */
int co_redis_pair_ready(struct co_run *run, const char *name,
                        struct co_redis *const r[2]);
/* "<side>: <errstr>" (the reason co_redis_case_error gives) into out. */
void co_redis_error_text(const struct co_redis *r, char *out, size_t outlen);

/* The verdict for a side that could not be checked: adds an `error`
 * case named `name` saying "<side>: <reason>: <errstr>". */
int co_redis_case_error(struct co_run *run, const char *name,
                        const struct co_redis *r);

#endif
