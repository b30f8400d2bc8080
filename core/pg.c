/*
 * pg.c - the PostgreSQL connection layer (include/cutover/pg.h): read-only,
 * pinned sessions; one statement, a pair of statements or a pool of
 * statements driven from one thread with one poll() over all sockets.
 *
 * How the parts fit:
 *  - A "plan" is what we know before dialling one side: the URL parsed by
 *    libpq itself (PQconninfoParse, so URIs and key=value strings behave
 *    exactly as libpq would), the host resolved with c-ares, the session
 *    options. Resolving here and handing libpq `hostaddr` (with `host`
 *    kept for certificate name checks) means libpq never blocks in
 *    getaddrinfo.
 *  - An "attempt" is one PGconn being connected: PQconnectStartParams,
 *    then PQconnectPoll whenever its socket is ready. Several attempts
 *    share one poll loop, so a pool's sessions connect concurrently and
 *    one deadline governs them all. A refused address falls through to
 *    the next one the name resolved to (dual-stack "localhost").
 *  - An "op" is one statement in flight on one session: sent with
 *    PQsendQueryParams (text format), read with PQconsumeInput/PQisBusy,
 *    results collected with PQgetResult. exec, pair_exec, stream and
 *    pool_map are all "run these ops in one poll loop".
 *  - co_pg_pool_run is the other way to use a pool: one thread per
 *    session pair (co_parallel's), each taking units and running the
 *    caller's function on its pair, for work that is a conversation
 *    (pg.checksum's bisection) rather than one statement per job.
 *
 * Cancelling: PQcancel (libpq 15 has no non-blocking cancel) opens a new
 * connection and waits for the server to close it; against a stopped
 * server that wait never ends. So it runs on a short-lived detached
 * thread, and the op waits a bounded grace period both for the
 * cancelled statement to drain and for the cancel request to be
 * delivered (a late cancel must not hit the session's next statement).
 * A session whose statement never drained stays "busy" and refuses
 * further work.
 *
 * Errors: connection failures (DNS, refused, TLS, auth, timeout, lost)
 * are sticky; an object in that state refuses further work. A statement
 * the server rejected (CO_PG_QUERY) or a statement cancelled at its
 * deadline (CO_PG_TIMEOUT, once drained) describes that statement only:
 * the next call on the same session clears err and runs.
 *
 * What pg.h leaves open, decided here:
 *  - co_pg_pool_open() keeps only pairs where both sides connected and
 *    returns 0 when at least one such pair exists (pool->n may shrink,
 *    e.g. when the server has too few connection slots). With none it
 *    returns -1 and keeps pair 0, whose objects say why: report them with
 *    co_pg_case_error(). Close the pool either way.
 *  - co_pg_pool_map(): done_fn's results are PQclear()ed by the pool
 *    when done_fn returns; done_fn may keep one by setting out[i] = NULL.
 *    sql_fn may return NULL to skip a job (no done_fn call). Jobs are
 *    not started once the deadline passed or the cancel flag is set; the
 *    call then returns -1 and those jobs get no done_fn call.
 *  - co_pg_stream(): a callback that stops the stream is not an error
 *    (returns 0); the statement is cancelled and drained.
 */
#include "cutover/pg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/baseline.h"
#include "cutover/net.h"
#include "cutover/util.h"

/* Longest single poll(): how late a cancel flag may be noticed. */
#define PG_SLICE_MS 100
/* After a cancel: how long to wait for the statement to drain (under the
 * runner's 2 s sealing grace, so a timed-out check still reports why;
 * a loaded machine can take more than a second to confirm a cancel). */
#define PG_CANCEL_GRACE_MS 1800
/* Defaults when there is no config (tests, tools). */
#define PG_DEFAULT_STATEMENT_MS 60000
/* A lock wait longer than this is an answer in itself ("the source is
 * being migrated right now"): do not queue behind an ALTER for a
 * whole statement timeout. */
#define PG_LOCK_TIMEOUT_MAX_MS 10000

static const char *const pg_err_names[] = {
    [CO_PG_OK] = "ok",
    [CO_PG_DNS] = "name not found",
    [CO_PG_REFUSED] = "refused",
    [CO_PG_TIMEOUT] = "timed out",
    [CO_PG_AUTH] = "authentication failed",
    [CO_PG_TLS] = "TLS",
    [CO_PG_QUERY] = "query failed",
    [CO_PG_LOST] = "connection lost",
    [CO_PG_CANCELLED] = "interrupted",
    [CO_PG_OTHER] = "error",
};

const char *co_pg_err_name(enum co_pg_err e)
{
    if ((size_t)e >= sizeof(pg_err_names) / sizeof(pg_err_names[0]))
        return "error";
    return pg_err_names[e];
}

/* ---- small helpers ---------------------------------------------------- */

/* Sets the object's error: "<side>: <message>", masked. */
static void pg_fail(struct co_pg *pg, enum co_pg_err e, const char *fmt, ...)
    CO_PRINTF(3, 4);
static void pg_fail(struct co_pg *pg, enum co_pg_err e, const char *fmt, ...)
{
    char msg[CO_ERRLEN];
    va_list ap;
    char *full, *masked;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    full = co_asprintf("%s: %s", pg->side ? pg->side : "postgres", msg);
    masked = co_mask(full);
    snprintf(pg->errstr, sizeof(pg->errstr), "%s", masked);
    free(masked);
    free(full);
    pg->err = e;
}

static void pg_clear_err(struct co_pg *pg)
{
    pg->err = CO_PG_OK;
    pg->errstr[0] = '\0';
    pg->sqlstate[0] = '\0';
}

/* The first line of a libpq message, without a trailing newline or the
 * "FATAL:  " / "ERROR:  " severity prefix. */
static void first_line(const char *msg, char *out, size_t outlen)
{
    size_t n;

    if (msg == NULL)
        msg = "";
    while (*msg == ' ' || *msg == '\n' || *msg == '\t')
        msg++;
    if (strncmp(msg, "FATAL:  ", 8) == 0 || strncmp(msg, "ERROR:  ", 8) == 0)
        msg += 8;
    n = strcspn(msg, "\n");
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '\r'))
        n--;
    snprintf(out, outlen, "%.*s", (int)n, msg);
}

/* libpq's connection failure text, reduced to the reason of the last
 * attempt: 'connection to server at "h", port 5432 failed: FATAL:  x'
 * becomes 'x'. Earlier lines are attempts libpq itself retried (e.g.
 * sslmode=prefer falling back to plain), the last one is the verdict. */
static void connect_reason(const char *msg, char *out, size_t outlen)
{
    const char *last = NULL, *p = msg ? msg : "";
    const char *f;

    for (f = strstr(p, " failed: "); f != NULL; f = strstr(f + 1, " failed: "))
        last = f;
    if (last != NULL)
        p = last + strlen(" failed: ");
    first_line(p, out, outlen);
}

static bool has(const char *s, const char *needle)
{
    return strstr(s, needle) != NULL;
}

/* Maps a connection failure to a code. Authentication first: "no
 * pg_hba.conf entry for host ..., SSL off" mentions SSL but is about
 * who may connect, not about TLS. */
static enum co_pg_err classify_connect(const char *r)
{
    if (has(r, "authentication failed") || has(r, "pg_hba.conf") ||
        has(r, "no password supplied") || has(r, "password is required") ||
        (has(r, "role \"") && has(r, "does not exist")) ||
        (has(r, "database \"") && has(r, "does not exist")) ||
        has(r, "permission denied for database") ||
        has(r, "not permitted to log in"))
        return CO_PG_AUTH;
    /* The server went away during the handshake: not a TLS problem. */
    if (has(r, "closed unexpectedly") || has(r, "SSL SYSCALL error") ||
        has(r, "terminated abnormally"))
        return CO_PG_OTHER;
    if (has(r, "SSL") || has(r, "certificate") || has(r, "TLS") ||
        has(r, "ssl"))
        return CO_PG_TLS;
    if (has(r, "Connection refused") || has(r, "No route to host") ||
        has(r, "Network is unreachable") || has(r, "Host is unreachable"))
        return CO_PG_REFUSED;
    if (has(r, "timeout expired") || has(r, "timed out"))
        return CO_PG_TIMEOUT;
    if (has(r, "could not translate host name"))
        return CO_PG_DNS;
    return CO_PG_OTHER;
}

/* ---- plan: what we know before dialling -------------------------------- */

struct plan {
    const char *side;
    const char *url;
    const char *ca_file;
    char *host;   /* as in the URL; NULL: libpq's default */
    int port;     /* for resolution and messages */
    bool resolve; /* one host name/address we resolve ourselves */
    struct co_addrs addrs;
    char where[300];  /* for messages when not resolved */
    char sslmode[16]; /* our default, the URL may override it */
    char *options;    /* the session's startup options */
    int64_t budget;   /* ms from the start to the deadline */
    enum co_pg_err err;
    char errmsg[CO_ERRLEN]; /* without the side */
};

static char *opt_value(const PQconninfoOption *o, const char *key)
{
    for (; o != NULL && o->keyword != NULL; o++)
        if (strcmp(o->keyword, key) == 0 && o->val != NULL && o->val[0])
            return co_strdup(o->val);
    return NULL;
}

static int parse_port(const char *s)
{
    long v = 0;

    if (s == NULL || *s == '\0' || strlen(s) > 5)
        return 5432;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 5432;
        v = v * 10 + (*p - '0');
    }
    return v >= 1 && v <= 65535 ? (int)v : 5432;
}

/* The startup options that make every session read-only and print values
 * the same way on every server version we meet (12 and later: older
 * servers print floats differently with extra_float_digits=3 and lack
 * idle_in_transaction_session_timeout). Options from the URL come first
 * so ours win (the last -c of a name counts). */
static char *session_options(const char *url_opts, const struct co_config *c)
{
    int64_t st =
        c ? c->settings.statement_timeout_ms : PG_DEFAULT_STATEMENT_MS;
    int64_t lock = st, idle;
    struct co_buf b;

    if (st <= 0)
        st = 0; /* 0: no limit, as PostgreSQL reads it */
    if (lock <= 0 || lock > PG_LOCK_TIMEOUT_MAX_MS)
        lock = PG_LOCK_TIMEOUT_MAX_MS;
    /* A check may think between statements of one transaction; a whole
     * minute idle in a transaction means it is gone. */
    idle = st > 60000 ? st : 60000;
    co_buf_init(&b);
    if (url_opts != NULL && url_opts[0] != '\0')
        co_buf_addf(&b, "%s ", url_opts);
    co_buf_addf(&b,
                "-c default_transaction_read_only=on "
                "-c statement_timeout=%lld -c lock_timeout=%lld "
                "-c idle_in_transaction_session_timeout=%lld "
                "-c TimeZone=UTC -c DateStyle=ISO,MDY "
                "-c IntervalStyle=postgres -c extra_float_digits=3 "
                "-c bytea_output=hex",
                (long long)st, (long long)lock, (long long)idle);
    return co_buf_take(&b);
}

static void plan_free(struct plan *p)
{
    free(p->host);
    free(p->options);
    co_addrs_free(&p->addrs);
}

static int plan_error(struct plan *p, enum co_pg_err e, const char *fmt, ...)
    CO_PRINTF(3, 4);
static int plan_error(struct plan *p, enum co_pg_err e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof(p->errmsg), fmt, ap);
    va_end(ap);
    p->err = e;
    return -1;
}

static int plan_resolve(struct plan *p, const struct co_config *cfg,
                        int64_t deadline, const atomic_int *cancel)
{
    const struct co_strlist *servers = cfg ? &cfg->settings.resolvers : NULL;
    char msg[CO_ERRLEN];
    enum co_net_err rc;

    rc = co_resolve(p->host, p->port, servers, deadline, cancel, &p->addrs,
                    msg, sizeof(msg));
    switch (rc) {
    case CO_NET_OK:
        return 0;
    case CO_NET_NOTFOUND:
        return plan_error(p, CO_PG_DNS, "name not found: %s", p->host);
    case CO_NET_TIMEOUT:
        return plan_error(p, CO_PG_TIMEOUT, "timed out resolving %s", p->host);
    case CO_NET_CANCELLED:
        return plan_error(p, CO_PG_CANCELLED, "interrupted");
    default:
        return plan_error(p, CO_PG_DNS, "could not resolve %s: %s", p->host,
                          msg);
    }
}

/* Parses the URL (with libpq's own parser), decides sslmode and options,
 * and resolves the host. Returns 0, or -1 with p->err/errmsg set. */
static int plan_init(struct plan *p, const char *url, const char *side,
                     const char *ca_file, bool tls_verify,
                     const struct co_config *cfg, int64_t deadline,
                     const atomic_int *cancel)
{
    PQconninfoOption *o;
    char *perr = NULL, *hostaddr, *port, *opts;

    memset(p, 0, sizeof(*p));
    p->side = side;
    p->url = url;
    p->ca_file = ca_file && ca_file[0] ? ca_file : NULL;
    p->budget = deadline - co_now_ms();
    snprintf(p->sslmode, sizeof(p->sslmode), "%s",
             p->ca_file   ? "verify-full"
             : tls_verify ? "require"
                          : "prefer");
    if (url == NULL || url[0] == '\0')
        return plan_error(p, CO_PG_OTHER, "not configured");
    o = PQconninfoParse(url, &perr);
    if (o == NULL) {
        char reason[CO_ERRLEN];
        first_line(perr ? perr : "out of memory", reason, sizeof(reason));
        PQfreemem(perr);
        return plan_error(p, CO_PG_OTHER, "invalid connection URL: %s",
                          reason);
    }
    p->host = opt_value(o, "host");
    hostaddr = opt_value(o, "hostaddr");
    port = opt_value(o, "port");
    opts = opt_value(o, "options");
    PQconninfoFree(o);
    p->port = parse_port(port);
    p->options = session_options(opts, cfg);
    /* Unix sockets, libpq multi-host lists and an explicit hostaddr are
     * left to libpq: none of them makes libpq resolve a name itself
     * except multi-host lists, which we do not try to split. */
    p->resolve = p->host != NULL && p->host[0] != '/' && p->host[0] != '@' &&
                 strchr(p->host, ',') == NULL && hostaddr == NULL &&
                 (port == NULL || !strchr(port, ','));
    snprintf(p->where, sizeof(p->where), "%s:%s",
             p->host ? p->host : "local socket", port ? port : "5432");
    free(hostaddr);
    free(port);
    free(opts);
    if (co_cancelled(cancel))
        return plan_error(p, CO_PG_CANCELLED, "interrupted");
    if (p->resolve)
        return plan_resolve(p, cfg, deadline, cancel);
    return 0;
}

/* ---- attempts: connecting one PGconn ----------------------------------- */

struct attempt {
    struct co_pg *pg;
    const struct plan *plan;
    PGconn *conn;
    PostgresPollingStatusType st;
    size_t idx; /* address being tried */
    char where[300];
    double t0;
    bool done;
};

static struct co_pg *pg_new(const char *side, const char *host)
{
    struct co_pg *pg = co_calloc(1, sizeof(*pg));

    pg->side = side;
    pg->host = co_strdup(host);
    return pg;
}

static void addr_ip(const struct co_addr *a, char *out, size_t outlen)
{
    const void *src;

    if (a->sa.ss_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)&a->sa)->sin6_addr;
    else
        src = &((const struct sockaddr_in *)&a->sa)->sin_addr;
    if (inet_ntop(a->sa.ss_family, src, out, (socklen_t)outlen) == NULL)
        snprintf(out, outlen, "?");
}

static void add_kw(const char **kw, const char **val, int *n, const char *k,
                   const char *v)
{
    kw[*n] = k;
    val[*n] = v;
    (*n)++;
}

/* Starts libpq on the current address. Keywords before dbname are
 * defaults the URL may override; those after it are ours and win. */
static void attempt_start(struct attempt *a)
{
    const struct plan *p = a->plan;
    const char *kw[12], *val[12];
    char ip[INET6_ADDRSTRLEN];
    int n = 0;

    add_kw(kw, val, &n, "sslmode", p->sslmode);
    /* GSS encryption would be tried first where a Kerberos cache
     * exists, with blocking calls; Heroku and Aptible do not use it. */
    add_kw(kw, val, &n, "gssencmode", "disable");
    add_kw(kw, val, &n, "dbname", p->url);
    if (p->resolve) {
        addr_ip(&p->addrs.v[a->idx], ip, sizeof(ip));
        co_addr_format(&p->addrs.v[a->idx], a->where, sizeof(a->where));
        add_kw(kw, val, &n, "hostaddr", ip);
    } else {
        snprintf(a->where, sizeof(a->where), "%s", p->where);
    }
    if (p->ca_file != NULL)
        add_kw(kw, val, &n, "sslrootcert", p->ca_file);
    add_kw(kw, val, &n, "application_name", "cutover");
    /* Both sides send text in one encoding, whatever the servers use. */
    add_kw(kw, val, &n, "client_encoding", "UTF8");
    add_kw(kw, val, &n, "options", p->options);
    kw[n] = NULL;
    val[n] = NULL;
    a->conn = PQconnectStartParams(kw, val, 1);
    a->st = PGRES_POLLING_WRITING;
}

static void attempt_finish(struct attempt *a)
{
    if (a->conn != NULL)
        PQfinish(a->conn);
    a->conn = NULL;
    a->done = true;
}

/* The session is up: record what the checks want to know about it. */
static void attempt_ok(struct attempt *a)
{
    struct co_pg *pg = a->pg;
    PQconninfoOption *o;

    pg->conn = a->conn;
    a->conn = NULL;
    a->done = true;
    PQsetnonblocking(pg->conn, 1);
    pg->server_version = PQserverVersion(pg->conn);
    pg->tls = PQsslInUse(pg->conn) != 0;
    o = PQconninfo(pg->conn);
    for (PQconninfoOption *i = o; i && i->keyword; i++)
        if (strcmp(i->keyword, "sslmode") == 0 && i->val)
            snprintf(pg->sslmode, sizeof(pg->sslmode), "%s", i->val);
    PQconninfoFree(o);
    pg->tls_verified = pg->tls && (strcmp(pg->sslmode, "verify-ca") == 0 ||
                                   strcmp(pg->sslmode, "verify-full") == 0);
    pg->connect_ms = co_now_precise_ms() - a->t0;
    pg_clear_err(pg);
}

/* libpq gave up on this address. A refused address is worth the next one
 * (a name may resolve to ::1 where nothing listens and 127.0.0.1 where
 * the server does); anything that came from the server is the answer. */
static void attempt_failed(struct attempt *a)
{
    char reason[CO_ERRLEN];
    enum co_pg_err e;

    connect_reason(a->conn ? PQerrorMessage(a->conn) : "out of memory", reason,
                   sizeof(reason));
    e = classify_connect(reason);
    PQfinish(a->conn);
    a->conn = NULL;
    if (e == CO_PG_REFUSED && a->plan->resolve &&
        a->idx + 1 < a->plan->addrs.n) {
        a->idx++;
        attempt_start(a);
        if (a->conn != NULL && PQstatus(a->conn) != CONNECTION_BAD)
            return;
        attempt_failed(a);
        return;
    }
    a->done = true;
    switch (e) {
    case CO_PG_REFUSED:
        pg_fail(a->pg, e, "connection refused (%s)", a->where);
        break;
    case CO_PG_TIMEOUT:
        pg_fail(a->pg, e, "timed out connecting (%s)", a->where);
        break;
    case CO_PG_AUTH:
        pg_fail(a->pg, e, "authentication failed: %s (%s)", reason, a->where);
        break;
    case CO_PG_TLS:
        pg_fail(a->pg, e, "TLS: %s (%s)", reason, a->where);
        break;
    default:
        pg_fail(a->pg, e, "could not connect: %s (%s)", reason, a->where);
        break;
    }
}

/* Begins an attempt for pg with a plan that succeeded. */
static void attempt_begin(struct attempt *a, struct co_pg *pg,
                          const struct plan *p)
{
    memset(a, 0, sizeof(*a));
    a->pg = pg;
    a->plan = p;
    a->t0 = co_now_precise_ms();
    attempt_start(a);
    if (a->conn == NULL || PQstatus(a->conn) == CONNECTION_BAD)
        attempt_failed(a);
}

/* Drives PQconnectPoll for one attempt whose socket is ready. */
static void attempt_step(struct attempt *a)
{
    a->st = PQconnectPoll(a->conn);
    if (a->st == PGRES_POLLING_OK)
        attempt_ok(a);
    else if (a->st == PGRES_POLLING_FAILED)
        attempt_failed(a);
}

static void attempts_stop(struct attempt *a, size_t n, enum co_pg_err e)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].done)
            continue;
        if (e == CO_PG_CANCELLED)
            pg_fail(a[i].pg, e, "interrupted");
        else
            pg_fail(a[i].pg, e, "timed out after %lld ms connecting (%s)",
                    (long long)(a[i].plan->budget > 0 ? a[i].plan->budget : 0),
                    a[i].where);
        attempt_finish(&a[i]);
    }
}

/* Runs every attempt to its end in one poll loop, until the deadline. */
static void attempts_run(struct attempt *a, size_t n, int64_t deadline,
                         const atomic_int *cancel)
{
    struct pollfd *pfd = co_calloc(n ? n : 1, sizeof(*pfd));
    size_t *map = co_calloc(n ? n : 1, sizeof(*map));

    for (;;) {
        size_t np = 0;
        int ms = co_slice_ms(deadline, PG_SLICE_MS);

        if (co_cancelled(cancel)) {
            attempts_stop(a, n, CO_PG_CANCELLED);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (a[i].done)
                continue;
            pfd[np].fd = PQsocket(a[i].conn);
            pfd[np].events =
                a[i].st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            pfd[np].revents = 0;
            map[np++] = i;
        }
        if (np == 0)
            break;
        int rc = poll(pfd, np, ms);
        if (rc < 0 && errno != EINTR) {
            attempts_stop(a, n, CO_PG_OTHER);
            break;
        }
        for (size_t k = 0; rc > 0 && k < np; k++)
            if (pfd[k].revents != 0)
                attempt_step(&a[map[k]]);
        if (rc == 0 && ms == 0) {
            attempts_stop(a, n, CO_PG_TIMEOUT);
            break;
        }
    }
    free(pfd);
    free(map);
}

/* A pg object carrying a plan's failure. */
static struct co_pg *pg_from_plan_error(const struct plan *p)
{
    struct co_pg *pg = pg_new(p->side, p->host);

    pg_fail(pg, p->err, "%s", p->errmsg);
    return pg;
}

/* ---- connecting -------------------------------------------------------- */

struct co_pg *co_pg_connect_url(const char *url, const char *side,
                                const char *ca_file, bool tls_verify,
                                const struct co_config *cfg, int64_t deadline,
                                const atomic_int *cancel)
{
    struct plan p;
    struct attempt a;
    struct co_pg *pg;
    double t0 = co_now_precise_ms();

    if (plan_init(&p, url, side, ca_file, tls_verify, cfg, deadline, cancel) <
        0) {
        pg = pg_from_plan_error(&p);
        plan_free(&p);
        return pg;
    }
    pg = pg_new(side, p.host);
    attempt_begin(&a, pg, &p);
    a.t0 = t0; /* resolution counts as connecting */
    attempts_run(&a, 1, deadline, cancel);
    if (pg->conn != NULL)
        pg->connect_ms = co_now_precise_ms() - t0;
    plan_free(&p);
    return pg;
}

/* A session answered by a baseline snapshot: no server behind it. */
static struct co_pg *pg_replay(const char *side, struct co_pg_tape *tape)
{
    struct co_pg *pg = pg_new(side, "baseline");

    pg->tape = tape;
    pg->server_version = co_pg_tape_server(tape);
    snprintf(pg->sslmode, sizeof(pg->sslmode), "baseline");
    return pg;
}

/* Ties a new session of `run` to the baseline tape of its side, if any. */
static void pg_tape_attach(struct co_pg *pg, struct co_pg_tape *tape)
{
    if (tape == NULL || pg->err != CO_PG_OK)
        return;
    pg->tape = tape;
    co_pg_tape_set_server(tape, pg->server_version);
}

struct co_pg *co_pg_connect(const struct co_run *run, bool source)
{
    const struct co_resource *res = run->res;
    struct co_pg_tape *tape = co_pg_tape_for(run, source);
    const char *side = source ? "source" : "target";
    struct co_pg *pg;

    if (co_pg_tape_replaying(tape))
        return pg_replay(side, tape);
    pg = co_pg_connect_url(
        co_run_url(run, source), side, res ? res->ca_file : NULL,
        res ? res->tls_verify : true, run->cfg, run->deadline, run->cancel);
    pg_tape_attach(pg, tape);
    return pg;
}

void co_pg_free(struct co_pg *pg)
{
    if (pg == NULL)
        return;
    if (pg->conn != NULL)
        PQfinish(pg->conn);
    free(pg->host);
    free(pg);
}

/* ---- cancelling --------------------------------------------------------- */

/* One PQcancel in flight on its own thread; freed by whichever of the
 * thread and the waiter lets go last. */
struct canceller {
    PGcancel *c;
    atomic_int refs;
    atomic_int done;
};

static void canceller_unref(struct canceller *k)
{
    if (atomic_fetch_sub(&k->refs, 1) == 1) {
        PQfreeCancel(k->c);
        free(k);
    }
}

static void *canceller_main(void *arg)
{
    struct canceller *k = arg;
    char buf[256];

    PQcancel(k->c, buf, sizeof(buf));
    atomic_store(&k->done, 1);
    canceller_unref(k);
    return NULL;
}

static struct canceller *canceller_start(PGconn *conn)
{
    struct canceller *k = co_calloc(1, sizeof(*k));
    pthread_attr_t attr;
    pthread_t th;
    int rc;

    k->c = PQgetCancel(conn);
    if (k->c == NULL) {
        free(k);
        return NULL;
    }
    atomic_init(&k->refs, 2);
    atomic_init(&k->done, 0);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&th, &attr, canceller_main, k);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        /* No thread: cancel inline (may block against a stopped
         * server, but a machine out of threads has bigger problems). */
        char buf[256];
        PQcancel(k->c, buf, sizeof(buf));
        PQfreeCancel(k->c);
        free(k);
        return NULL;
    }
    return k;
}

/* Waits until the cancel request was delivered or `until` passed, then
 * lets go of it. */
static void canceller_release(struct canceller *k, int64_t until)
{
    struct timespec ts = {0, 2 * 1000 * 1000};

    if (k == NULL)
        return;
    while (!atomic_load(&k->done) && co_now_ms() < until)
        nanosleep(&ts, NULL);
    canceller_unref(k);
}

/* ---- ops: one statement in flight --------------------------------------- */

enum op_state { OP_IDLE = 0, OP_BUSY, OP_DONE };

struct op {
    struct co_pg *pg;
    enum op_state state;
    bool flushing;       /* libpq still has bytes to send */
    bool copying;        /* draining COPY TO STDOUT data */
    bool cancelling;     /* a cancel was requested */
    bool stream_stopped; /* the row callback asked to stop */
    enum co_pg_err stop; /* why we cancelled: TIMEOUT / CANCELLED */
    struct canceller *k;
    int64_t t0, budget;  /* for "timed out after N ms" */
    int64_t grace_until; /* when a cancelled op is given up */
    PGresult *res;       /* the final result (not when streaming) */
    co_pg_row_fn fn;
    void *payload;
    /* the statement, kept for a baseline tape (recording) */
    const char *sql;
    int nparams;
    const char *const *params;
    json_t *rec; /* rows of a stream being recorded */
};

/* A session can take a statement: connected, not stuck in a statement
 * that never drained, not interrupted. */
static bool pg_usable(struct co_pg *pg)
{
    if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK ||
        pg->err == CO_PG_CANCELLED || pg->err == CO_PG_LOST)
        return false;
    if (PQtransactionStatus(pg->conn) == PQTRANS_ACTIVE) {
        if (pg->err == CO_PG_OK)
            pg_fail(pg, CO_PG_OTHER,
                    "a previous statement is still "
                    "running");
        return false;
    }
    return true;
}

/* Ends op without its result: drops what it was recording and hands its
 * canceller back (the result itself is dropped by the caller). */
static void op_drop(struct op *op)
{
    op->state = OP_DONE;
    json_decref(op->rec);
    op->rec = NULL;
    if (op->k != NULL) {
        canceller_release(op->k, co_now_ms());
        op->k = NULL;
    }
}

static void op_lost(struct op *op, const char *why)
{
    char reason[CO_ERRLEN];

    first_line(why ? why : PQerrorMessage(op->pg->conn), reason,
               sizeof(reason));
    if (reason[0] == '\0')
        snprintf(reason, sizeof(reason), "the server closed the connection");
    pg_fail(op->pg, CO_PG_LOST, "connection lost: %s", reason);
    op_drop(op);
    PQclear(op->res);
    op->res = NULL;
}

/* A session a baseline stands for answers at once from its tape. */
static void op_replay(struct op *op, int64_t deadline,
                      const atomic_int *cancel)
{
    struct co_pg *pg = op->pg;
    int rc = 0;

    pg_clear_err(pg);
    if (co_cancelled(cancel)) {
        pg_fail(pg, CO_PG_CANCELLED, "interrupted");
        return;
    }
    if (co_now_ms() >= deadline) {
        pg_fail(pg, CO_PG_TIMEOUT, "timed out before the query was sent");
        return;
    }
    if (op->fn != NULL)
        rc = co_pg_tape_stream(pg->tape, op->sql, op->nparams, op->params,
                               op->fn, op->payload);
    else if ((op->res = co_pg_tape_get(pg->tape, op->sql, op->nparams,
                                       op->params)) == NULL)
        rc = -1;
    if (rc < 0)
        pg_fail(pg, CO_PG_QUERY,
                "the baseline snapshot holds no answer to this query (was it "
                "taken with another config or cutover version?)");
}

static void op_start(struct op *op, struct co_pg *pg, const char *sql,
                     int nparams, const char *const *params, co_pg_row_fn fn,
                     void *payload, int64_t deadline, const atomic_int *cancel)
{
    int64_t now = co_now_ms();
    int rc;

    memset(op, 0, sizeof(*op));
    op->pg = pg;
    op->fn = fn;
    op->payload = payload;
    op->sql = sql;
    op->nparams = nparams;
    op->params = params;
    op->state = OP_DONE;
    if (pg != NULL && co_pg_tape_replaying(pg->tape)) {
        op_replay(op, deadline, cancel);
        return;
    }
    if (pg == NULL || !pg_usable(pg))
        return;
    pg_clear_err(pg);
    op->t0 = now;
    op->budget = deadline - now;
    if (co_cancelled(cancel)) {
        pg_fail(pg, CO_PG_CANCELLED, "interrupted");
        return;
    }
    if (now >= deadline) {
        pg_fail(pg, CO_PG_TIMEOUT, "timed out before the query was sent");
        return;
    }
    if (!PQsendQueryParams(pg->conn, sql, nparams, NULL, params, NULL, NULL,
                           0)) {
        op_lost(op, NULL);
        return;
    }
    if (fn != NULL && !PQsetSingleRowMode(pg->conn)) {
        pg_fail(pg, CO_PG_OTHER, "could not enter single-row mode");
        /* the statement is on its way: let it drain */
    }
    op->state = OP_BUSY;
    rc = PQflush(pg->conn);
    if (rc < 0)
        op_lost(op, NULL);
    op->flushing = rc == 1;
}

static void op_cancel(struct op *op, enum co_pg_err why)
{
    if (!op->cancelling) {
        op->cancelling = true;
        op->grace_until = co_now_ms() + PG_CANCEL_GRACE_MS;
        op->k = canceller_start(op->pg->conn);
    }
    if (why != CO_PG_OK && op->stop == CO_PG_OK)
        op->stop = why;
}

static void op_stop_message(struct op *op, const char *extra)
{
    if (op->stop == CO_PG_CANCELLED)
        pg_fail(op->pg, CO_PG_CANCELLED, "interrupted%s", extra);
    else
        pg_fail(op->pg, CO_PG_TIMEOUT, "timed out after %lld ms%s",
                (long long)(op->budget > 0 ? op->budget : 0), extra);
}

/* Taking a snapshot: a statement that completed goes on the tape (a
 * stream only when read to its end). */
static void op_record(struct op *op)
{
    struct co_pg_tape *t = op->pg->tape;
    bool whole = op->pg->err == CO_PG_OK && !op->stream_stopped;

    if (t != NULL && whole && op->fn == NULL && op->res != NULL &&
        PQresultStatus(op->res) == PGRES_TUPLES_OK)
        co_pg_tape_put(t, op->sql, op->nparams, op->params, op->res);
    if (t != NULL && whole && op->fn != NULL) {
        co_pg_tape_stream_commit(t, op->sql, op->nparams, op->params, op->rec);
        op->rec = NULL;
    }
    json_decref(op->rec);
    op->rec = NULL;
}

static void op_finish(struct op *op)
{
    op->state = OP_DONE;
    if (op->k != NULL) {
        canceller_release(op->k, op->grace_until);
        op->k = NULL;
    }
    if (op->stop != CO_PG_OK)
        op_stop_message(op, "");
    if (op->pg->err != CO_PG_OK) {
        PQclear(op->res);
        op->res = NULL;
    } else if (op->fn == NULL && op->res == NULL) {
        pg_fail(op->pg, CO_PG_OTHER, "the server returned no result");
    }
    op_record(op);
}

/* The server did not finish the cancelled statement in time: give up on
 * it. The session stays busy and refuses further work. */
static void op_abandon(struct op *op)
{
    op_drop(op);
    if (op->stop == CO_PG_OK) /* a stream the callback stopped */
        pg_fail(op->pg, CO_PG_TIMEOUT,
                "the cancelled statement did not end within %d ms",
                PG_CANCEL_GRACE_MS);
    else
        op_stop_message(op, " (the server did not confirm the cancel)");
    PQclear(op->res);
    op->res = NULL;
}

static bool lost_sqlstate(const char *s)
{
    return s != NULL &&
           (strncmp(s, "08", 2) == 0 || strncmp(s, "57P0", 4) == 0);
}

/* An error result: the first one describes the statement. */
static void op_error_result(struct op *op, const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    char reason[CO_ERRLEN];
    struct co_pg *pg = op->pg;

    if (op->stream_stopped && state && strcmp(state, "57014") == 0)
        return; /* the cancel we sent because the callback said stop */
    if (pg->err != CO_PG_OK)
        return;
    first_line(PQresultErrorMessage(r), reason, sizeof(reason));
    if (PQstatus(pg->conn) == CONNECTION_BAD || lost_sqlstate(state)) {
        pg_fail(pg, CO_PG_LOST, "connection lost: %s", reason);
        return;
    }
    if (state != NULL && state[0] != '\0')
        pg_fail(pg, CO_PG_QUERY, "query failed: %s (SQLSTATE %s)", reason,
                state);
    else
        pg_fail(pg, CO_PG_QUERY, "query failed: %s", reason);
    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
}

static void op_unsupported(struct op *op, const char *what)
{
    if (op->pg->err == CO_PG_OK)
        pg_fail(op->pg, CO_PG_QUERY, "%s is not supported", what);
}

static void op_result(struct op *op, PGresult *r)
{
    switch (PQresultStatus(r)) {
    case PGRES_SINGLE_TUPLE:
        if (op->pg->tape != NULL && !op->stream_stopped) {
            if (op->rec == NULL)
                op->rec = co_pg_tape_stream_begin(r);
            co_pg_tape_stream_row(op->rec, r);
        }
        if (op->fn != NULL && !op->stream_stopped && op->pg->err == CO_PG_OK &&
            op->fn(r, op->payload) != 0) {
            op->stream_stopped = true;
            op_cancel(op, CO_PG_OK);
        }
        break;
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
        if (op->fn == NULL) {
            PQclear(op->res);
            op->res = r;
            return;
        }
        break;
    case PGRES_COPY_OUT:
        op_unsupported(op, "COPY TO STDOUT");
        op->copying = true;
        break;
    case PGRES_COPY_IN:
        op_unsupported(op, "COPY FROM STDIN");
        PQputCopyEnd(op->pg->conn, "cutover sends no COPY data");
        op->flushing = true;
        break;
    case PGRES_EMPTY_QUERY:
        op_unsupported(op, "an empty statement");
        break;
    case PGRES_FATAL_ERROR:
    case PGRES_BAD_RESPONSE:
    case PGRES_NONFATAL_ERROR:
        op_error_result(op, r);
        break;
    default:
        op_unsupported(op, PQresStatus(PQresultStatus(r)));
        break;
    }
    PQclear(r);
}

/* COPY TO STDOUT data nobody asked for: read and drop it. Returns 1
 * when more input is needed, 0 when the copy is over. */
static int op_drain_copy(struct op *op)
{
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(op->pg->conn, &buf, 1);
        if (buf != NULL)
            PQfreemem(buf);
        if (n == 0)
            return 1;
        if (n < 0) {
            op->copying = false;
            return 0;
        }
    }
}

/* Takes every result libpq has complete, without blocking. */
static void op_collect(struct op *op)
{
    while (op->state == OP_BUSY) {
        PGresult *r;

        if (op->copying && op_drain_copy(op) == 1)
            return;
        if (PQisBusy(op->pg->conn))
            return;
        r = PQgetResult(op->pg->conn);
        if (r == NULL) {
            op_finish(op);
            return;
        }
        op_result(op, r);
    }
}

static void op_io(struct op *op, short revents)
{
    if (op->flushing && (revents & POLLOUT)) {
        int rc = PQflush(op->pg->conn);
        if (rc < 0) {
            op_lost(op, NULL);
            return;
        }
        op->flushing = rc == 1;
    }
    if (revents & (POLLIN | POLLERR | POLLHUP)) {
        if (!PQconsumeInput(op->pg->conn)) {
            op_lost(op, NULL);
            return;
        }
    }
    op_collect(op);
}

/* Checks deadline, cancel flag and grace periods of one busy op. */
static void op_check_time(struct op *op, int64_t now, int64_t deadline,
                          bool cancelled)
{
    if (cancelled && op->stop != CO_PG_CANCELLED) {
        op->stop = CO_PG_OK; /* an interrupt says more than a timeout */
        op_cancel(op, CO_PG_CANCELLED);
    } else if (now >= deadline && op->stop == CO_PG_OK) {
        op_cancel(op, CO_PG_TIMEOUT);
    }
    if (op->cancelling && now >= op->grace_until)
        op_abandon(op);
}

/* Milliseconds to sleep: the next deadline or grace end, at most a
 * slice. */
static int ops_sleep_ms(struct op **ops, size_t n, int64_t now,
                        int64_t deadline)
{
    int64_t next = now + PG_SLICE_MS;

    for (size_t i = 0; i < n; i++) {
        if (ops[i]->state != OP_BUSY)
            continue;
        if (ops[i]->stop == CO_PG_OK && deadline < next)
            next = deadline;
        if (ops[i]->cancelling && ops[i]->grace_until < next)
            next = ops[i]->grace_until;
    }
    return next <= now ? 0 : (int)(next - now);
}

/* Runs the busy ops in one poll loop until all are done or, with
 * `first`, until at least one finished. */
static void ops_run(struct op **ops, size_t n, int64_t deadline,
                    const atomic_int *cancel, bool first)
{
    struct pollfd *pfd = co_calloc(n ? n : 1, sizeof(*pfd));
    size_t *map = co_calloc(n ? n : 1, sizeof(*map));
    size_t busy0 = 0;

    for (size_t i = 0; i < n; i++)
        busy0 += ops[i]->state == OP_BUSY;
    for (;;) {
        int64_t now = co_now_ms();
        bool cancelled = co_cancelled(cancel);
        size_t np = 0;
        int rc;

        for (size_t i = 0; i < n; i++) {
            if (ops[i]->state != OP_BUSY)
                continue;
            op_check_time(ops[i], now, deadline, cancelled);
            if (ops[i]->state != OP_BUSY)
                continue;
            pfd[np].fd = PQsocket(ops[i]->pg->conn);
            pfd[np].events = ops[i]->flushing ? POLLIN | POLLOUT : POLLIN;
            pfd[np].revents = 0;
            map[np++] = i;
        }
        if (np == 0 || (first && np < busy0))
            break;
        rc = poll(pfd, np, ops_sleep_ms(ops, n, now, deadline));
        if (rc < 0 && errno != EINTR) {
            for (size_t k = 0; k < np; k++)
                op_lost(ops[map[k]], strerror(errno));
            break;
        }
        for (size_t k = 0; rc > 0 && k < np; k++)
            if (pfd[k].revents != 0)
                op_io(ops[map[k]], pfd[k].revents);
    }
    free(pfd);
    free(map);
}

/* ---- statements ----------------------------------------------------------
 */

PGresult *co_pg_exec(struct co_pg *pg, const char *sql, int nparams,
                     const char *const *params, int64_t deadline,
                     const atomic_int *cancel)
{
    struct op op;
    struct op *ops[1] = {&op};

    if (pg == NULL)
        return NULL;
    op_start(&op, pg, sql, nparams, params, NULL, NULL, deadline, cancel);
    ops_run(ops, 1, deadline, cancel, false);
    return op.res;
}

int co_pg_pair_exec(struct co_pg *pg[2], const char *sql, int nparams,
                    const char *const *params, int64_t deadline,
                    const atomic_int *cancel, PGresult *out[2])
{
    struct op op[2];
    struct op *ops[2] = {&op[0], &op[1]};

    for (int i = 0; i < 2; i++)
        op_start(&op[i], pg[i], sql, nparams, params, NULL, NULL, deadline,
                 cancel);
    ops_run(ops, 2, deadline, cancel, false);
    out[0] = op[0].res;
    out[1] = op[1].res;
    return out[0] != NULL && out[1] != NULL ? 0 : -1;
}

int co_pg_stream(struct co_pg *pg, const char *sql, int nparams,
                 const char *const *params, co_pg_row_fn fn, void *payload,
                 int64_t deadline, const atomic_int *cancel)
{
    struct op op;
    struct op *ops[1] = {&op};

    if (pg == NULL || fn == NULL)
        return -1;
    op_start(&op, pg, sql, nparams, params, fn, payload, deadline, cancel);
    ops_run(ops, 1, deadline, cancel, false);
    return pg->err == CO_PG_OK ? 0 : -1;
}

/* ---- pool ------------------------------------------------------------------
 */

/* Opens plan for one side, or gives every session of that side the
 * plan's error. */
static void pool_side(struct co_pg **pgs, struct attempt *a, int n,
                      struct plan *p, bool ok, struct co_pg_tape *tape)
{
    for (int i = 0; i < n; i++) {
        if (co_pg_tape_replaying(tape)) {
            pgs[i] = pg_replay(p->side, tape);
            a[i].done = true;
            continue;
        }
        if (!ok) {
            pgs[i] = pg_from_plan_error(p);
            a[i].done = true;
            continue;
        }
        pgs[i] = pg_new(p->side, p->host);
        attempt_begin(&a[i], pgs[i], p);
    }
}

/* Keeps the pairs where both sides connected, at the front. With none,
 * keeps pair 0 (its objects say why) and reports failure. */
static int pool_compact(struct co_pg_pool *pool)
{
    int good = 0;

    for (int i = 0; i < pool->n; i++) {
        if (pool->src[i]->err == CO_PG_OK && pool->tgt[i]->err == CO_PG_OK) {
            struct co_pg *s = pool->src[i], *t = pool->tgt[i];
            pool->src[i] = pool->src[good];
            pool->tgt[i] = pool->tgt[good];
            pool->src[good] = s;
            pool->tgt[good] = t;
            good++;
        }
    }
    for (int i = good > 0 ? good : 1; i < pool->n; i++) {
        co_pg_free(pool->src[i]);
        co_pg_free(pool->tgt[i]);
        pool->src[i] = pool->tgt[i] = NULL;
    }
    pool->n = good > 0 ? good : 1;
    return good > 0 ? 0 : -1;
}

int co_pg_pool_open(struct co_pg_pool *pool, const struct co_run *run, int n)
{
    const struct co_resource *res = run->res;
    struct plan p[2];
    struct attempt *a;
    struct co_pg_tape *tape[2];
    bool ok[2];

    memset(pool, 0, sizeof(*pool));
    if (n < 1)
        n = 1;
    pool->n = n;
    pool->src = co_calloc((size_t)n, sizeof(*pool->src));
    pool->tgt = co_calloc((size_t)n, sizeof(*pool->tgt));
    a = co_calloc((size_t)n * 2, sizeof(*a));
    for (int s = 0; s < 2; s++) {
        tape[s] = co_pg_tape_for(run, s == 0);
        if (co_pg_tape_replaying(tape[s])) {
            memset(&p[s], 0, sizeof(p[s]));
            p[s].side = s == 0 ? "source" : "target";
            ok[s] = true;
            continue;
        }
        ok[s] =
            plan_init(&p[s], co_run_url(run, s == 0),
                      s == 0 ? "source" : "target", res ? res->ca_file : NULL,
                      res ? res->tls_verify : true, run->cfg, run->deadline,
                      run->cancel) == 0;
    }
    pool_side(pool->src, a, n, &p[0], ok[0], tape[0]);
    pool_side(pool->tgt, a + n, n, &p[1], ok[1], tape[1]);
    attempts_run(a, (size_t)n * 2, run->deadline, run->cancel);
    for (int i = 0; i < n; i++) {
        pg_tape_attach(pool->src[i], tape[0]);
        pg_tape_attach(pool->tgt[i], tape[1]);
    }
    free(a);
    plan_free(&p[0]);
    plan_free(&p[1]);
    return pool_compact(pool);
}

void co_pg_pair_connect(const struct co_run *run, struct co_pg *out[2])
{
    struct co_pg_pool pool;

    co_pg_pool_open(&pool, run, 1); /* both sides connect at once */
    out[0] = pool.src[0];
    out[1] = pool.tgt[0];
    free(pool.src);
    free(pool.tgt);
}

void co_pg_pool_close(struct co_pg_pool *pool)
{
    if (pool == NULL)
        return;
    for (int i = 0; i < pool->n; i++) {
        if (pool->src)
            co_pg_free(pool->src[i]);
        if (pool->tgt)
            co_pg_free(pool->tgt[i]);
    }
    free(pool->src);
    free(pool->tgt);
    memset(pool, 0, sizeof(*pool));
}

int co_pg_pool_open_or_report(struct co_pg_pool *pool, struct co_run *run,
                              int n)
{
    if (co_pg_pool_open(pool, run, n) == 0)
        return 0;
    for (int i = 0; i < 2; i++) {
        const struct co_pg *pg = i == 0 ? pool->src[0] : pool->tgt[0];
        if (pg == NULL || pg->err != CO_PG_OK)
            co_pg_case_error(run, i == 0 ? "source" : "target", pg);
    }
    co_pg_pool_close(pool);
    return -1;
}

/* One pair of sessions working on one job. */
struct slot {
    struct op op[2];
    size_t job;
    bool busy;
    char *sql;
};

/* A session can be handed work: a baseline's, or a live connection
 * not interrupted. */
static bool pg_alive(const struct co_pg *pg)
{
    if (co_pg_tape_replaying(pg->tape))
        return pg->err != CO_PG_CANCELLED;
    return pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK &&
           pg->err != CO_PG_CANCELLED;
}

static bool slot_usable(const struct co_pg_pool *pool, int i)
{
    return pg_alive(pool->src[i]) && pg_alive(pool->tgt[i]);
}

/* A free slot, preferring pairs whose sessions are both alive; -1 when a
 * job should wait (only broken pairs free while good ones are busy). */
static int slot_pick(const struct co_pg_pool *pool, const struct slot *sl)
{
    int any = -1;
    bool good_busy = false;

    for (int i = 0; i < pool->n; i++) {
        bool usable = slot_usable(pool, i);
        if (sl[i].busy) {
            good_busy = good_busy || usable;
            continue;
        }
        if (usable)
            return i;
        if (any < 0)
            any = i;
    }
    return good_busy ? -1 : any;
}

/* Hands finished jobs to `done`; the pool PQclear()s the results after,
 * unless done took one by setting out[i] to NULL. */
static void slots_reap(struct co_pg_pool *pool, struct slot *sl,
                       co_pg_done_fn done, void *payload)
{
    for (int i = 0; i < pool->n; i++) {
        PGresult *out[2];
        struct co_pg *pair[2] = {pool->src[i], pool->tgt[i]};

        if (!sl[i].busy || sl[i].op[0].state == OP_BUSY ||
            sl[i].op[1].state == OP_BUSY)
            continue;
        out[0] = sl[i].op[0].res;
        out[1] = sl[i].op[1].res;
        if (done != NULL)
            done(sl[i].job, out, pair, payload);
        PQclear(out[0]);
        PQclear(out[1]);
        free(sl[i].sql);
        sl[i].sql = NULL;
        sl[i].busy = false;
    }
}

static void slot_start(struct co_pg_pool *pool, struct slot *sl, int i,
                       size_t job, char *sql, int64_t deadline)
{
    sl[i].job = job;
    sl[i].sql = sql;
    sl[i].busy = true;
    op_start(&sl[i].op[0], pool->src[i], sql, 0, NULL, NULL, NULL, deadline,
             NULL);
    op_start(&sl[i].op[1], pool->tgt[i], sql, 0, NULL, NULL, NULL, deadline,
             NULL);
}

int co_pg_pool_map(struct co_pg_pool *pool, size_t njobs, co_pg_sql_fn sql,
                   co_pg_done_fn done, void *payload, int64_t deadline,
                   const atomic_int *cancel)
{
    struct slot *sl;
    struct op **ops;
    size_t next = 0;

    if (pool == NULL || pool->n < 1 || sql == NULL)
        return -1;
    sl = co_calloc((size_t)pool->n, sizeof(*sl));
    ops = co_calloc((size_t)pool->n * 2, sizeof(*ops));
    for (int i = 0; i < pool->n; i++) {
        ops[2 * i] = &sl[i].op[0];
        ops[2 * i + 1] = &sl[i].op[1];
    }
    for (;;) {
        bool any_busy = false;

        while (next < njobs && !co_cancelled(cancel) &&
               co_now_ms() < deadline) {
            int i = slot_pick(pool, sl);
            char *text;
            if (i < 0)
                break;
            text = sql(next, payload);
            if (text == NULL) { /* the caller skips this job */
                next++;
                continue;
            }
            slot_start(pool, sl, i, next++, text, deadline);
            slots_reap(pool, sl, done, payload); /* refused at once */
        }
        for (int k = 0; k < pool->n; k++)
            any_busy = any_busy || sl[k].busy;
        if (!any_busy)
            break;
        ops_run(ops, (size_t)pool->n * 2, deadline, cancel, true);
        slots_reap(pool, sl, done, payload);
    }
    free(ops);
    free(sl);
    return next == njobs ? 0 : -1;
}

/* co_pg_pool_run: one loop per session pair, on co_parallel's threads. */
struct pool_run {
    struct co_pg_pool *pool;
    size_t nunits;
    atomic_size_t next;
    co_pg_unit_fn fn, fold;
    void *ctx;
    int64_t deadline;
    const atomic_int *cancel;
    atomic_int stop;      /* enum co_pg_err: why units stopped going out */
    pthread_mutex_t lock; /* one fold at a time */
};

/* Why no unit may start now, or CO_PG_OK. */
static enum co_pg_err pool_run_stopped(const struct pool_run *r)
{
    if (co_cancelled(r->cancel))
        return CO_PG_CANCELLED;
    if (co_now_ms() >= r->deadline)
        return CO_PG_TIMEOUT;
    return CO_PG_OK;
}

/* Pair i takes units until none are left or the run must stop. */
static void pool_run_pair(void *arg, size_t i)
{
    struct pool_run *r = arg;
    struct co_pg *pair[2] = {r->pool->src[i], r->pool->tgt[i]};

    for (;;) {
        size_t unit = atomic_fetch_add(&r->next, 1);
        enum co_pg_err why;
        int none = CO_PG_OK;

        if (unit >= r->nunits)
            return;
        why = pool_run_stopped(r);
        if (why != CO_PG_OK) {
            atomic_compare_exchange_strong(&r->stop, &none, (int)why);
            return;
        }
        r->fn(r->ctx, unit, pair);
        if (r->fold != NULL) {
            pthread_mutex_lock(&r->lock);
            r->fold(r->ctx, unit, pair);
            pthread_mutex_unlock(&r->lock);
        }
    }
}

enum co_pg_err co_pg_pool_run(struct co_pg_pool *pool, size_t nunits,
                              co_pg_unit_fn fn, co_pg_unit_fn fold, void *ctx,
                              int64_t deadline, const atomic_int *cancel)
{
    struct pool_run r = {.pool = pool,
                         .nunits = nunits,
                         .fn = fn,
                         .fold = fold,
                         .ctx = ctx,
                         .deadline = deadline,
                         .cancel = cancel};
    size_t pairs;

    if (pool == NULL || pool->n < 1 || fn == NULL)
        return CO_PG_OTHER;
    if (nunits == 0)
        return CO_PG_OK;
    atomic_init(&r.next, 0);
    atomic_init(&r.stop, CO_PG_OK);
    pthread_mutex_init(&r.lock, NULL);
    pairs = (size_t)pool->n < nunits ? (size_t)pool->n : nunits;
    co_parallel(pairs, pairs, pool_run_pair, &r);
    pthread_mutex_destroy(&r.lock);
    return (enum co_pg_err)atomic_load(&r.stop);
}

/* ---- names ---------------------------------------------------------------
 */

/* PostgreSQL's keywords that are not "unreserved" (pg_get_keywords()
 * catcode <> 'U', PostgreSQL 15): quote_ident() quotes these. Sorted. */
/* clang-format off */
static const char *const pg_keywords[] = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc",
    "asymmetric", "authorization", "between", "bigint", "binary", "bit",
    "boolean", "both", "case", "cast", "char", "character", "check",
    "coalesce", "collate", "collation", "column", "concurrently", "constraint",
    "create", "cross", "current_catalog", "current_date", "current_role",
    "current_schema", "current_time", "current_timestamp", "current_user",
    "dec", "decimal", "default", "deferrable", "desc", "distinct", "do",
    "else", "end", "except", "exists", "extract", "false", "fetch", "float",
    "for", "foreign", "freeze", "from", "full", "grant", "greatest", "group",
    "grouping", "having", "ilike", "in", "initially", "inner", "inout", "int",
    "integer", "intersect", "interval", "into", "is", "isnull", "join",
    "lateral", "leading", "least", "left", "like", "limit", "localtime",
    "localtimestamp", "national", "natural", "nchar", "none", "normalize",
    "not", "notnull", "null", "nullif", "numeric", "offset", "on", "only",
    "or", "order", "out", "outer", "overlaps", "overlay", "placing",
    "position", "precision", "primary", "real", "references", "returning",
    "right", "row", "select", "session_user", "setof", "similar", "smallint",
    "some", "substring", "symmetric", "table", "tablesample", "then", "time",
    "timestamp", "to", "trailing", "treat", "trim", "true", "union", "unique",
    "user", "using", "values", "varchar", "variadic", "verbose", "when",
    "where", "window", "with", "xmlattributes", "xmlconcat", "xmlelement",
    "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot",
    "xmlserialize", "xmltable",
};
/* clang-format on */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The same rule as the server's quote_identifier(): plain lower-case
 * identifiers that are not keywords stay bare. */
static bool ident_needs_quotes(const char *s)
{
    if (s[0] == '\0' || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return true;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return true;
    return bsearch(&s, pg_keywords, sizeof(pg_keywords) / sizeof(*pg_keywords),
                   sizeof(*pg_keywords), cmp_str) != NULL;
}

static void add_quoted(struct co_buf *b, const char *s)
{
    co_buf_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            co_buf_puts(b, "\"");
        co_buf_add(b, p, 1);
    }
    co_buf_puts(b, "\"");
}

char *co_pg_quote_ident(const char *s)
{
    struct co_buf b;

    co_buf_init(&b);
    add_quoted(&b, s ? s : "");
    return co_buf_take(&b);
}

char *co_pg_quote_qualified(const char *schema, const char *name)
{
    struct co_buf b;

    co_buf_init(&b);
    add_quoted(&b, schema ? schema : "");
    co_buf_puts(&b, ".");
    add_quoted(&b, name ? name : "");
    return co_buf_take(&b);
}

static void add_name(struct co_buf *b, const char *s)
{
    if (ident_needs_quotes(s))
        add_quoted(b, s);
    else
        co_buf_puts(b, s);
}

char *co_pg_qualname(const char *schema, const char *name)
{
    struct co_buf b;

    co_buf_init(&b);
    if (schema != NULL) {
        add_name(&b, schema);
        co_buf_puts(&b, ".");
    }
    add_name(&b, name ? name : "");
    return co_buf_take(&b);
}

/* ---- verdicts --------------------------------------------------------------
 */

int co_pg_case_error(struct co_run *run, const char *name,
                     const struct co_pg *pg)
{
    if (pg == NULL)
        return co_case_addf(run, CO_ERROR, name, NULL, NULL,
                            "could not connect: out of memory");
    if (pg->err == CO_PG_OK || pg->errstr[0] == '\0')
        return co_case_addf(
            run, CO_ERROR, name, NULL, NULL, "%s: could not check (%s)",
            pg->side ? pg->side : "postgres", co_pg_err_name(pg->err));
    return co_case_addf(run, CO_ERROR, name, NULL, NULL, "%s", pg->errstr);
}
