/*
 * redis.c - the Redis connection layer (include/cutover/redis.h).
 *
 * The layer owns the socket, plain or OpenSSL, and uses hiredis only to
 * format requests (redisFormatCommandArgv) and to parse replies
 * (redisReader): Debian's hiredis 0.14 has no TLS and no deadlines. The
 * loop is the one hiredis' own docs describe: read bytes, feed the
 * reader, ask for a reply; a NULL reply means "need more bytes".
 *
 * Every byte that goes out passes co_redis_append(), which checks the
 * command against a read-only allowlist first. Every wait goes through
 * co_wait_fd() with the object's deadline and cancel flag, so a server
 * that accepts and never answers costs the deadline, never a hang. Bytes
 * that are not RESP (a TLS server spoken to in plain text) become
 * CO_REDIS_PROTOCOL with a hint, never a crash.
 */
#include "cutover/redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cutover/baseline.h"
#include "cutover/net.h"
#include "cutover/tls.h"

#define REDIS_MAX_ARGS 64
/* A plain Redis that receives a TLS hello waits silently for the rest of
 * an inline command, so a handshake gets this long at most: a real TLS
 * server answers a hello within a round trip. */
#define TLS_HANDSHAKE_MS 5000
/* hiredis 0.14 callocs an array of whatever length a reply announces:
 * "*2147483647" from a hostile server costs 16 GB of address space and,
 * when the reader is freed, seconds walking it, past any deadline. No
 * reply a check reads comes near this (SCAN pages hold ~1000 keys). */
#define REDIS_MAX_ELEMENTS (1 << 22)

static const char *const redis_err_names[] = {
    [CO_REDIS_OK] = "ok",
    [CO_REDIS_DNS] = "name not found",
    [CO_REDIS_REFUSED] = "refused",
    [CO_REDIS_TIMEOUT] = "timed out",
    [CO_REDIS_TLS] = "TLS",
    [CO_REDIS_AUTH] = "authentication failed",
    [CO_REDIS_PROTOCOL] = "protocol error",
    [CO_REDIS_LOST] = "connection lost",
    [CO_REDIS_FORBIDDEN] = "not allowed",
    [CO_REDIS_CANCELLED] = "interrupted",
    [CO_REDIS_OTHER] = "error",
};

const char *co_redis_err_name(enum co_redis_err e)
{
    if ((size_t)e >= sizeof(redis_err_names) / sizeof(redis_err_names[0]))
        return "error";
    return redis_err_names[e];
}

/* Sets the error once: the first reason is the real one. The message is
 * masked here so no caller can leak a secret through errstr. */
static void set_err(struct co_redis *r, enum co_redis_err e, const char *fmt,
                    ...) CO_PRINTF(3, 4);
static void set_err(struct co_redis *r, enum co_redis_err e, const char *fmt,
                    ...)
{
    char raw[CO_ERRLEN];
    char *masked;
    va_list ap;

    if (r->err != CO_REDIS_OK)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    masked = co_mask(raw);
    snprintf(r->errstr, sizeof(r->errstr), "%s", masked);
    free(masked);
    r->err = e;
}

/* ---- the allowlist ---------------------------------------------------- */

/* Read-only commands the checks need, and nothing else. A subcommand,
 * when given, is the only one allowed (CONFIG GET, not CONFIG SET). */
static const struct {
    const char *name;
    const char *sub;
} allowlist[] = {
    {"PING", NULL},    {"AUTH", NULL},      {"SELECT", NULL},
    {"INFO", NULL},    {"DBSIZE", NULL},    {"SCAN", NULL},
    {"SSCAN", NULL},   {"HSCAN", NULL},     {"ZSCAN", NULL},
    {"TYPE", NULL},    {"TTL", NULL},       {"PTTL", NULL},
    {"EXISTS", NULL},  {"LLEN", NULL},      {"SCARD", NULL},
    {"ZCARD", NULL},   {"HLEN", NULL},      {"STRLEN", NULL},
    {"XLEN", NULL},    {"DUMP", NULL},      {"LRANGE", NULL},
    {"LINDEX", NULL},  {"ZRANGE", NULL},    {"ZCOUNT", NULL},
    {"ZSCORE", NULL},  {"SISMEMBER", NULL}, {"HEXISTS", NULL},
    {"CONFIG", "GET"}, {"MEMORY", "USAGE"}, {"OBJECT", "ENCODING"},
};

static bool word_eq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* The command name as printable text for messages (bounded, no bytes
 * that would garble a report). */
static void printable(const char *s, size_t n, char *out, size_t outlen)
{
    size_t j = 0;

    for (size_t i = 0; i < n && j + 1 < outlen && i < 32; i++)
        out[j++] = (s[i] > 32 && s[i] < 127) ? s[i] : '?';
    out[j] = '\0';
}

int co_redis_allowed(int argc, const char *const *argv, const size_t *argvlen,
                     char *why, size_t whylen)
{
    char name[40], sub[40];
    size_t n0, n1;

    if (argc < 1 || argv == NULL || argv[0] == NULL) {
        snprintf(why, whylen, "empty command");
        return 0;
    }
    n0 = argvlen ? argvlen[0] : strlen(argv[0]);
    printable(argv[0], n0, name, sizeof(name));
    for (size_t i = 0; i < sizeof(allowlist) / sizeof(allowlist[0]); i++) {
        if (!word_eq(argv[0], n0, allowlist[i].name))
            continue;
        if (allowlist[i].sub == NULL)
            return 1;
        n1 = argc > 1 ? (argvlen ? argvlen[1] : strlen(argv[1])) : 0;
        if (argc > 1 && word_eq(argv[1], n1, allowlist[i].sub))
            return 1;
        printable(argc > 1 ? argv[1] : "", n1, sub, sizeof(sub));
        snprintf(why, whylen,
                 "%s %s refused: cutover is read-only and allows only %s %s",
                 allowlist[i].name, sub, allowlist[i].name, allowlist[i].sub);
        return 0;
    }
    snprintf(why, whylen,
             "%s refused: not on cutover's read-only command allowlist", name);
    return 0;
}

/* ---- the reply parser ------------------------------------------------- */

/* hiredis' own reply functions, with createArray capped at
 * REDIS_MAX_ELEMENTS. A refused array makes hiredis report "Out of
 * memory"; the announced length is kept here (per thread: a co_redis is
 * driven by one thread at a time) so the error can say what happened. */
static redisReplyObjectFunctions capped_fn;
static void *(*hiredis_create_array)(const redisReadTask *, int);
static pthread_once_t capped_once = PTHREAD_ONCE_INIT;
static _Thread_local long long refused_elements;

static void *create_array_capped(const redisReadTask *task, int elements)
{
    if (elements > REDIS_MAX_ELEMENTS) {
        refused_elements = elements;
        return NULL;
    }
    return hiredis_create_array(task, elements);
}

static void capped_init(void)
{
    redisReader *probe = redisReaderCreate();

    if (probe == NULL)
        return;
    capped_fn = *probe->fn;
    hiredis_create_array = capped_fn.createArray;
    capped_fn.createArray = create_array_capped;
    redisReaderFree(probe);
}

static redisReader *reader_new(void)
{
    redisReader *rd = redisReaderCreate();

    pthread_once(&capped_once, capped_init);
    if (rd != NULL && hiredis_create_array != NULL)
        rd->fn = &capped_fn;
    return rd;
}

/* ---- socket I/O, plain or TLS ---------------------------------------- */

/* Waits for the socket; on failure sets the error. `what` says what we
 * were waiting for ("a reply to INFO"). */
static int io_wait(struct co_redis *r, short ev, const char *what)
{
    int64_t start = co_now_ms();
    int w = co_wait_fd(r->fd, ev, r->deadline, r->cancel);

    if (w == 1)
        return 0;
    if (w == 0)
        set_err(r, CO_REDIS_TIMEOUT, "timed out waiting for %s (%lld ms)",
                what, (long long)(co_now_ms() - start));
    else if (errno == ECANCELED || co_cancelled(r->cancel))
        set_err(r, CO_REDIS_CANCELLED, "interrupted");
    else
        set_err(r, CO_REDIS_LOST, "poll: %s", strerror(errno));
    return -1;
}

/* The OpenSSL reason of the last failure on this thread. */
static void ssl_reason(char *out, size_t outlen)
{
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(out, outlen, "connection closed by the server");
    else
        ERR_error_string_n(e, out, outlen);
    ERR_clear_error();
}

/* Reads some bytes. Returns n > 0, or -1 with the error set (EOF too:
 * a server never closes while we wait for a reply unless it gave up). */
static ssize_t io_read(struct co_redis *r, char *buf, size_t n,
                       const char *what)
{
    for (;;) {
        ssize_t got;
        short ev = POLLIN;

        if (r->ssl != NULL) {
            int rc = SSL_read(r->ssl, buf, (int)n);
            if (rc > 0)
                return rc;
            switch (SSL_get_error(r->ssl, rc)) {
            case SSL_ERROR_WANT_READ:
                break;
            case SSL_ERROR_WANT_WRITE:
                ev = POLLOUT;
                break;
            case SSL_ERROR_ZERO_RETURN:
                set_err(r, CO_REDIS_LOST,
                        "connection closed by the server while waiting "
                        "for %s",
                        what);
                return -1;
            default: {
                char why[256];
                ssl_reason(why, sizeof(why));
                set_err(r, CO_REDIS_LOST, "TLS read failed waiting for %s: %s",
                        what, why);
                return -1;
            }
            }
        } else {
            got = recv(r->fd, buf, n, 0);
            if (got > 0)
                return got;
            /* The TLS hint fits a server that never answered; one that
             * already did and then went away simply died. */
            const char *hint = r->sent == 0
                                   ? " (a TLS-only server spoken to in plain "
                                     "text? try rediss://)"
                                   : "";
            if (got == 0) {
                set_err(r, CO_REDIS_LOST,
                        "connection closed by the server while waiting for "
                        "%s%s",
                        what, hint);
                return -1;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                set_err(r, CO_REDIS_LOST, "read failed waiting for %s: %s%s",
                        what, strerror(errno),
                        errno == ECONNRESET ? hint : "");
                return -1;
            }
        }
        if (io_wait(r, ev, what) < 0)
            return -1;
    }
}

/* Writes the whole pending output. */
static int io_flush(struct co_redis *r)
{
    size_t off = 0;

    while (off < r->out.len) {
        short ev = POLLOUT;

        if (r->ssl != NULL) {
            int rc =
                SSL_write(r->ssl, r->out.s + off, (int)(r->out.len - off));
            if (rc > 0) {
                off += (size_t)rc;
                continue;
            }
            switch (SSL_get_error(r->ssl, rc)) {
            case SSL_ERROR_WANT_WRITE:
                break;
            case SSL_ERROR_WANT_READ:
                ev = POLLIN;
                break;
            default: {
                char why[256];
                ssl_reason(why, sizeof(why));
                set_err(r, CO_REDIS_LOST, "TLS write failed: %s", why);
                return -1;
            }
            }
        } else {
            ssize_t n =
                send(r->fd, r->out.s + off, r->out.len - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += (size_t)n;
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                errno != EINTR) {
                set_err(r, CO_REDIS_LOST, "write failed: %s", strerror(errno));
                return -1;
            }
        }
        if (io_wait(r, ev, "the server to take a request") < 0)
            return -1;
    }
    r->out.len = 0;
    if (r->out.s != NULL)
        r->out.s[0] = '\0';
    return 0;
}

/* ---- commands and replies -------------------------------------------- */

int co_redis_append(struct co_redis *r, int argc, const char *const *argv,
                    const size_t *argvlen)
{
    char why[CO_ERRLEN];
    char *cmd = NULL;
    int len;

    if (r->err != CO_REDIS_OK)
        return -1;
    if (!co_redis_allowed(argc, argv, argvlen, why, sizeof(why))) {
        set_err(r, CO_REDIS_FORBIDDEN, "%s", why);
        return -1;
    }
    len = redisFormatCommandArgv(&cmd, argc, (const char **)argv, argvlen);
    if (len < 0 || cmd == NULL) {
        set_err(r, CO_REDIS_OTHER, "could not format the command");
        return -1;
    }
    co_buf_add(&r->out, cmd, (size_t)len);
    redisFreeCommand(cmd);
    printable(argv[0], argvlen ? argvlen[0] : strlen(argv[0]),
              r->names[(r->sent + r->pending) % CO_REDIS_NAMES],
              sizeof(r->names[0]));
    r->pending++;
    return 0;
}

static int vappend(struct co_redis *r, const char *cmd, va_list ap)
{
    const char *argv[REDIS_MAX_ARGS];
    int argc = 0;
    const char *a;

    argv[argc++] = cmd;
    for (a = va_arg(ap, const char *); a != NULL;
         a = va_arg(ap, const char *)) {
        if (argc == REDIS_MAX_ARGS) {
            set_err(r, CO_REDIS_OTHER, "too many arguments");
            return -1;
        }
        argv[argc++] = a;
    }
    return co_redis_append(r, argc, argv, NULL);
}

int co_redis_appendl(struct co_redis *r, const char *cmd, ...)
{
    va_list ap;
    int rc;

    va_start(ap, cmd);
    rc = vappend(r, cmd, ap);
    va_end(ap);
    return rc;
}

int co_redis_get_reply(struct co_redis *r, redisReply **reply)
{
    char buf[16384], what[64];
    void *rep = NULL;

    *reply = NULL;
    if (r->err != CO_REDIS_OK)
        return -1;
    if (r->out.len > 0 && io_flush(r) < 0)
        return -1;
    snprintf(what, sizeof(what), "a reply to %s",
             r->pending > 0 ? r->names[r->sent % CO_REDIS_NAMES]
                            : "a command");
    for (;;) {
        ssize_t n;

        refused_elements = 0;
        if (redisReaderGetReply(r->reader, &rep) != REDIS_OK) {
            if (refused_elements > 0)
                set_err(r, CO_REDIS_PROTOCOL,
                        "the server's reply announces an array of %lld "
                        "elements (more than %d): refused",
                        refused_elements, REDIS_MAX_ELEMENTS);
            else
                set_err(
                    r, CO_REDIS_PROTOCOL,
                    "the server's reply is not RESP (%s)%s", r->reader->errstr,
                    r->ssl == NULL ? ": is it a TLS-only server? try rediss://"
                                   : "");
            return -1;
        }
        if (rep != NULL)
            break;
        n = io_read(r, buf, sizeof(buf), what);
        if (n < 0)
            return -1;
        if (redisReaderFeed(r->reader, buf, (size_t)n) != REDIS_OK) {
            set_err(r, CO_REDIS_PROTOCOL, "reply parser failed");
            return -1;
        }
    }
    if (r->pending > 0) {
        r->pending--;
        r->sent++;
    }
    *reply = rep;
    return 0;
}

redisReply *co_redis_command(struct co_redis *r, int argc,
                             const char *const *argv, const size_t *argvlen)
{
    redisReply *rep;

    if (co_redis_append(r, argc, argv, argvlen) < 0)
        return NULL;
    if (co_redis_get_reply(r, &rep) < 0)
        return NULL;
    return rep;
}

redisReply *co_redis_call(struct co_redis *r, const char *cmd, ...)
{
    redisReply *rep;
    va_list ap;
    int rc;

    va_start(ap, cmd);
    rc = vappend(r, cmd, ap);
    va_end(ap);
    if (rc < 0 || co_redis_get_reply(r, &rep) < 0)
        return NULL;
    return rep;
}

int co_redis_info_field(const char *info, const char *field, char *out,
                        size_t outlen)
{
    size_t fl = strlen(field);
    const char *p = info;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, field, fl) == 0 && p[fl] == ':') {
            size_t n = strcspn(p + fl + 1, "\r\n");
            snprintf(out, outlen, "%.*s", (int)n, p + fl + 1);
            return 0;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

/* ---- connecting ------------------------------------------------------- */

static struct co_redis *redis_new(const char *side, int64_t deadline,
                                  const atomic_int *cancel)
{
    struct co_redis *r = co_calloc(1, sizeof(*r));

    r->fd = -1;
    r->side = side;
    r->deadline = deadline;
    r->cancel = cancel;
    r->reader = reader_new();
    if (r->reader == NULL) {
        free(r);
        return NULL;
    }
    co_buf_init(&r->out);
    return r;
}

struct co_redis *co_redis_open_fd(int fd, const char *side, int64_t deadline,
                                  const atomic_int *cancel)
{
    struct co_redis *r = redis_new(side, deadline, cancel);

    if (r == NULL)
        return NULL;
    r->fd = fd;
    return r;
}

void co_redis_set_deadline(struct co_redis *r, int64_t deadline)
{
    if (r != NULL)
        r->deadline = deadline;
}

void co_redis_free(struct co_redis *r)
{
    if (r == NULL)
        return;
    if (r->ssl != NULL)
        SSL_free(r->ssl);
    if (r->ssl_ctx != NULL)
        SSL_CTX_free(r->ssl_ctx);
    if (r->fd >= 0)
        close(r->fd);
    if (r->reader != NULL)
        redisReaderFree(r->reader);
    co_buf_free(&r->out);
    free(r->host);
    free(r);
}

static bool is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

static int tls_setup(struct co_redis *r, const char *ca_file, bool verify)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl;

    if (ctx == NULL) {
        set_err(r, CO_REDIS_TLS, "cannot create a TLS context");
        return -1;
    }
    r->ssl_ctx = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (verify) {
        X509_STORE *st = co_tls_store(ca_file);
        if (st == NULL) {
            set_err(r, CO_REDIS_TLS, "cannot load %s%s",
                    ca_file ? "ca_file " : "the system's CA certificates",
                    ca_file ? ca_file : "");
            return -1;
        }
        SSL_CTX_set_cert_store(ctx, st); /* takes our reference */
    }
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, r->fd) != 1) {
        SSL_free(ssl);
        set_err(r, CO_REDIS_TLS, "cannot create a TLS session");
        return -1;
    }
    r->ssl = ssl;
    if (!is_ip_literal(r->host))
        SSL_set_tlsext_host_name(ssl, r->host);
    if (verify && is_ip_literal(r->host))
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), r->host);
    else if (verify)
        SSL_set1_host(ssl, r->host);
    return 0;
}

/* Why a handshake failed, as precisely as OpenSSL can say. */
static void tls_fail(struct co_redis *r, bool verify)
{
    long vr = SSL_get_verify_result(r->ssl);
    char why[256];

    if (verify && vr != X509_V_OK) {
        ERR_clear_error();
        set_err(r, CO_REDIS_TLS,
                "TLS certificate verification failed: %s (set ca_file:, or "
                "tls_verify: false for a self-signed server)",
                X509_verify_cert_error_string(vr));
        return;
    }
    ssl_reason(why, sizeof(why));
    set_err(r, CO_REDIS_TLS,
            "TLS handshake failed: %s (is the server "
            "speaking TLS on this port? try redis://)",
            why);
}

static int tls_handshake(struct co_redis *r, const char *ca_file, bool verify)
{
    int64_t deadline = r->deadline;
    int64_t cap = co_now_ms() + TLS_HANDSHAKE_MS;

    if (tls_setup(r, ca_file, verify) < 0)
        return -1;
    if (cap < r->deadline)
        r->deadline = cap;
    ERR_clear_error();
    for (;;) {
        int rc = SSL_connect(r->ssl);
        short ev;

        if (rc == 1)
            break;
        switch (SSL_get_error(r->ssl, rc)) {
        case SSL_ERROR_WANT_READ:
            ev = POLLIN;
            break;
        case SSL_ERROR_WANT_WRITE:
            ev = POLLOUT;
            break;
        default:
            tls_fail(r, verify);
            return -1;
        }
        if (io_wait(r, ev, "the TLS handshake") < 0) {
            r->deadline = deadline;
            if (r->err == CO_REDIS_TIMEOUT)
                snprintf(r->errstr + strlen(r->errstr),
                         sizeof(r->errstr) - strlen(r->errstr),
                         ": no TLS answer (a plain redis:// port waits "
                         "silently for a TLS hello)");
            return -1;
        }
    }
    r->deadline = deadline;
    r->tls = true;
    r->tls_verified = verify;
    snprintf(r->tls_version, sizeof(r->tls_version), "%s",
             SSL_get_version(r->ssl));
    return 0;
}

static enum co_redis_err map_net(enum co_net_err e)
{
    switch (e) {
    case CO_NET_NOTFOUND:
    case CO_NET_DNSFAIL:
        return CO_REDIS_DNS;
    case CO_NET_TIMEOUT:
        return CO_REDIS_TIMEOUT;
    case CO_NET_REFUSED:
    case CO_NET_UNREACH:
        return CO_REDIS_REFUSED;
    case CO_NET_CANCELLED:
        return CO_REDIS_CANCELLED;
    default:
        return CO_REDIS_OTHER;
    }
}

/* AUTH and SELECT, pipelined: one round trip. */
static int session_setup(struct co_redis *r, const struct co_url *u)
{
    redisReply *rep;
    bool auth = u->password != NULL;

    if (auth && u->user != NULL && u->user[0] != '\0')
        co_redis_appendl(r, "AUTH", u->user, u->password, NULL);
    else if (auth)
        co_redis_appendl(r, "AUTH", u->password, NULL);
    if (r->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->db);
        co_redis_appendl(r, "SELECT", db, NULL);
    }
    if (auth) {
        if (co_redis_get_reply(r, &rep) < 0)
            return -1;
        if (rep->type == REDIS_REPLY_ERROR) {
            set_err(r, CO_REDIS_AUTH, "authentication failed: %.*s",
                    (int)strcspn(rep->str, "\r\n"), rep->str);
            freeReplyObject(rep);
            return -1;
        }
        freeReplyObject(rep);
    }
    if (r->db != 0) {
        if (co_redis_get_reply(r, &rep) < 0)
            return -1;
        if (rep->type == REDIS_REPLY_ERROR) {
            enum co_redis_err e = strncmp(rep->str, "NOAUTH", 6) == 0
                                      ? CO_REDIS_AUTH
                                      : CO_REDIS_OTHER;
            set_err(r, e, "SELECT %d failed: %s", r->db, rep->str);
            freeReplyObject(rep);
            return -1;
        }
        freeReplyObject(rep);
    }
    return 0;
}

/* The db from the URL path: "" -> 0, "3" -> 3. */
static int parse_db(struct co_redis *r, const char *path)
{
    long v = 0;
    char *end;

    if (path == NULL || path[0] == '\0')
        return 0;
    errno = 0;
    v = strtol(path, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 100000 || end == path) {
        set_err(r, CO_REDIS_OTHER, "bad database number in URL path: %s",
                path);
        return -1;
    }
    r->db = (int)v;
    r->db_explicit = true;
    return 0;
}

static void dial(struct co_redis *r, const struct co_url *u,
                 const char *ca_file, bool tls_verify,
                 const struct co_strlist *resolvers)
{
    char err[CO_ERRLEN];
    enum co_net_err ne;
    int one = 1;

    r->host = co_strdup(u->host);
    r->port = u->port > 0 ? u->port : 6379;
    if (parse_db(r, u->path) < 0)
        return;
    ne = co_tcp_dial(r->host, r->port, resolvers, r->deadline, r->cancel,
                     &r->fd, err, sizeof(err));
    if (ne != CO_NET_OK) {
        r->fd = -1;
        set_err(r, map_net(ne), "%s", err); /* names the address */
        return;
    }
    /* Pipelines end with a small write while the previous one may be
     * unacknowledged: without NODELAY, Nagle and delayed ACKs add 40 ms
     * to every round trip. */
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (strcmp(u->scheme, "rediss") == 0 &&
        tls_handshake(r, ca_file, tls_verify) < 0)
        return;
    session_setup(r, u);
}

struct co_redis *co_redis_connect_url(const char *url, const char *side,
                                      const char *ca_file, bool tls_verify,
                                      const struct co_strlist *resolvers,
                                      int64_t deadline,
                                      const atomic_int *cancel)
{
    struct co_redis *r = redis_new(side, deadline, cancel);
    struct co_url u;
    char err[CO_ERRLEN];
    double t0 = co_now_precise_ms();

    if (r == NULL)
        return NULL;
    memset(&u, 0, sizeof(u));
    if (url == NULL || co_url_parse(url, &u, err, sizeof(err)) < 0) {
        set_err(r, CO_REDIS_OTHER, "bad URL: %s",
                url == NULL ? "not configured" : err);
        return r;
    }
    if (u.scheme == NULL || u.host == NULL ||
        (strcmp(u.scheme, "redis") != 0 && strcmp(u.scheme, "rediss") != 0))
        set_err(r, CO_REDIS_OTHER, "not a redis:// or rediss:// URL");
    else
        dial(r, &u, ca_file, tls_verify, resolvers);
    co_url_free(&u);
    r->connect_ms = co_now_precise_ms() - t0;
    return r;
}

struct co_redis *co_redis_connect(const struct co_run *run, bool source)
{
    const struct co_resource *res = run->res;

    return co_redis_connect_url(co_run_url(run, source),
                                source ? "source" : "target", res->ca_file,
                                res->tls_verify, &run->cfg->settings.resolvers,
                                run->deadline, run->cancel);
}

struct pair_job {
    const struct co_run *run;
    int64_t deadline;
    bool source;
    const char *url; /* NULL: not dialled */
    struct co_redis *out;
};

static void pair_connect_one(void *ctx, size_t i)
{
    struct pair_job *j = (struct pair_job *)ctx + i;
    const struct co_resource *res = j->run->res;

    if (j->url == NULL)
        return;
    j->out = co_redis_connect_url(
        j->url, j->source ? "source" : "target", res->ca_file, res->tls_verify,
        &j->run->cfg->settings.resolvers, j->deadline, j->run->cancel);
    if (j->out != NULL)
        co_redis_set_deadline(j->out, j->run->deadline);
}

void co_redis_pair_connect(const struct co_run *run, int64_t deadline,
                           struct co_redis *out[2])
{
    struct pair_job job[2];

    /* a side a baseline snapshot stands for is never contacted */
    for (int i = 0; i < 2; i++)
        job[i] = (struct pair_job){run, deadline, i == 0,
                                   co_run_live_url(run, i == 0), NULL};
    co_parallel(2, 2, pair_connect_one, job);
    out[0] = job[0].out;
    out[1] = job[1].out;
}

int co_redis_pair_ready(struct co_run *run, const char *name,
                        struct co_redis *const r[2])
{
    enum co_side_origin from[2];

    co_run_origins(run, from);
    for (int i = 0; i < 2; i++)
        if (from[i] == CO_SIDE_LIVE &&
            (r[i] == NULL || r[i]->err != CO_REDIS_OK)) {
            co_redis_case_error(run, name, r[i]);
            return -1;
        }
    return 0;
}

void co_redis_error_text(const struct co_redis *r, char *out, size_t outlen)
{
    /* errstr already says what kind of failure it was. */
    snprintf(out, outlen, "%s: %s", r->side ? r->side : "redis", r->errstr);
}

int co_redis_case_error(struct co_run *run, const char *name,
                        const struct co_redis *r)
{
    if (r == NULL)
        return co_case_addf(run, CO_ERROR, name, NULL, NULL,
                            "a side is not configured (source and target "
                            "are both needed)");
    char why[CO_ERRLEN + 16];

    co_redis_error_text(r, why, sizeof(why));
    return co_case_addf(run, CO_ERROR, name, NULL, NULL, "%s", why);
}
