/*
 * util.h - small shared pieces every part of cutover uses: growable
 * strings, string lists and sets, UTF-8 cuts, monotonic time, deadlines
 * and cancel flags, durations, logging, URL parsing and the one
 * secret-masking function. Before writing a helper, look here first
 * (doc/INTERNALS.md says what lives where).
 *
 * Masking is the single choke point for secrets: every string that can
 * reach a report, a log line or an error message goes through co_mask()
 * (case strings are masked when they are stored, see result.h). co_mask
 * hides passwords in URLs, secret-looking query parameters, and every
 * value registered with co_secret_register() wherever it appears.
 */
#ifndef CUTOVER_UTIL_H
#define CUTOVER_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define CO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CO_PRINTF(f, a)
#endif

#define CO_ERRLEN 512

/* ---- growable string ------------------------------------------------- */

struct co_buf {
    char *s;    /* always NUL-terminated once anything was added */
    size_t len; /* bytes before the NUL */
    size_t cap;
};

void co_buf_init(struct co_buf *b);
void co_buf_free(struct co_buf *b);
void co_buf_add(struct co_buf *b, const char *s, size_t n);
void co_buf_puts(struct co_buf *b, const char *s);
void co_buf_addf(struct co_buf *b, const char *fmt, ...) CO_PRINTF(2, 3);
void co_buf_vaddf(struct co_buf *b, const char *fmt, va_list ap)
    CO_PRINTF(2, 0);
/* Hands the string to the caller (who frees it); b is left empty. */
char *co_buf_take(struct co_buf *b);
/* Writes b's bytes to f (a reporter's last step). Returns 0, or -1 with
 * errno set (EIO when the stream did not say why). */
int co_buf_write(const struct co_buf *b, FILE *f);

/* ---- UTF-8 ------------------------------------------------------------ */

/* The largest character boundary at or before byte n of s: n itself,
 * or moved back over continuation bytes (never before 0). Cutting s to
 * that many bytes never splits a character. s must have at least n + 1
 * readable bytes (its NUL counts). */
size_t co_utf8_floor(const char *s, size_t n);

/* ---- allocation: abort on out-of-memory (a CLI cannot do better) ----- */

/* Says "out of memory" and aborts (for libraries that return NULL). */
_Noreturn void co_oom(void);
void *co_malloc(size_t n);
void *co_calloc(size_t n, size_t m);
void *co_realloc(void *p, size_t n);
char *co_strdup(const char *s); /* NULL -> NULL */
char *co_strndup(const char *s, size_t n);
char *co_asprintf(const char *fmt, ...) CO_PRINTF(1, 2);

/* ---- files ------------------------------------------------------------ */

/* Writes path atomically (core/file.c): fill(f, arg) writes the content
 * into a temporary file next to it, which is made durable and renamed
 * over path, so a reader sees the old file or the whole new one. "-" is
 * stdout; a path that is not a regular file (FIFO, device) is written in
 * place. `what` names the content in errors ("json report"). Returns 0,
 * or -1 with a reason in err. fill returns non-zero on failure. */
typedef int (*co_fill_fn)(FILE *f, void *arg);
int co_write_atomic(const char *path, const char *what, co_fill_fn fill,
                    void *arg, char *err, size_t errlen);

/* ---- string list ------------------------------------------------------ */

struct co_strlist {
    char **v;
    size_t n;
};

void co_strlist_add(struct co_strlist *l, const char *s); /* copies s */
void co_strlist_free(struct co_strlist *l);
bool co_strlist_has(const struct co_strlist *l, const char *s);

/* ---- string set (open addressing) ------------------------------------- */

/* 64-bit FNV-1a of n bytes: spreads short strings well and is cheap. A
 * stable function: redis.keyspace fingerprints (stored in snapshots)
 * are built on it. */
uint64_t co_fnv1a(const void *p, size_t n);

/* A set of strings. Zero-initialise; free with co_strset_free. Each
 * member owns a copy of its string and a counter, 0 when added, that the
 * caller may use (e.g. to number repeats of a name). */
struct co_strset_item {
    char *key;
    unsigned count;
};
struct co_strset {
    struct co_strset_item *slot;
    size_t cap; /* a power of two, or 0 */
    size_t n;
};

/* Adds a copy of s. Returns false when s was already a member. */
bool co_strset_add(struct co_strset *set, const char *s);
bool co_strset_has(const struct co_strset *set, const char *s);
/* The counter of member s, or NULL when s is not a member. Valid until
 * the next co_strset_add. */
unsigned *co_strset_count(struct co_strset *set, const char *s);
void co_strset_free(struct co_strset *set); /* leaves it empty */

/* ---- time ------------------------------------------------------------- */

/* Monotonic milliseconds; the base is arbitrary. Deadlines are in it. */
int64_t co_now_ms(void);
/* Monotonic milliseconds with a fraction: loopback connects take well
 * under one, so whole milliseconds would report 0. */
double co_now_precise_ms(void);
/* Wall clock, for report timestamps. */
double co_wall_s(void);

/* Milliseconds to wait now before looking again: what is left until
 * deadline (co_now_ms), at most slice, 0 when past. Waiting in slices is
 * how a cancel flag set by a signal is noticed in time. */
int co_slice_ms(int64_t deadline, int slice);
/* The earlier of deadline and ms from now; deadline itself when ms <= 0
 * (a check's own `timeout` param within the task's deadline). */
int64_t co_deadline_cap(int64_t deadline, int64_t ms);
/* A cancel flag (the run's, see check.h) is set. NULL: never. */
bool co_cancelled(const atomic_int *cancel);
/* pthread_cond_timedwait for at most ms milliseconds from now (the
 * realtime clock the condition uses). Returns its result. */
int co_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ms);

/* ---- threads ----------------------------------------------------------- */

/* Calls fn(ctx, i) once for every i in [0, n), on up to `workers` threads
 * at once (the caller's own thread is one of them; workers <= 1 or n <= 1
 * runs them in order on the caller's thread). Items are handed out in
 * order as threads free up; a thread that cannot be started leaves its
 * share to the others. Returns when every call has returned. fn must be
 * safe to run concurrently for distinct i; it is never called twice for
 * one i. The one place cutover starts short-lived joined threads (both
 * sides of a pair at once, a check's sessions). */
typedef void (*co_parallel_fn)(void *ctx, size_t i);
void co_parallel(size_t n, size_t workers, co_parallel_fn fn, void *ctx);

/* Parses "500ms", "30s", "5m", "1h", "1m30s"; a bare number is seconds.
 * Returns 0 and sets *ms, or -1 when s is not a duration. */
int co_duration_parse(const char *s, int64_t *ms);
/* Formats ms the way the config accepts it ("30s", "1500ms"). */
void co_duration_format(int64_t ms, char *out, size_t outlen);

/* Parses a TCP/UDP port: 1-65535 in plain decimal (no sign, no spaces),
 * n bytes of s. Returns 0 or -1. */
int co_port_parse(const char *s, size_t n, int *port);

/* Glob match ('*', '?', '[...]') as fnmatch without flags. */
bool co_glob_match(const char *pattern, const char *s);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t co_edit_distance(const char *a, const char *b);
/* The candidate closest to s (within a small distance), or NULL. */
const char *co_suggest(const char *s, const char *const *candidates, size_t n);

/* ---- logging (stderr; every message is masked) ----------------------- */

enum co_loglevel { CO_LOG_ERROR, CO_LOG_WARN, CO_LOG_INFO, CO_LOG_DEBUG };
void co_log_set_level(enum co_loglevel lvl);
void co_log(enum co_loglevel lvl, const char *fmt, ...) CO_PRINTF(2, 3);

/* ---- URLs ------------------------------------------------------------- */

/* A parsed URL. Every field is an owned, percent-decoded copy or NULL.
 * Accepts scheme://[user[:password]@]host[:port][/path][?query][#frag],
 * IPv6 hosts in brackets. */
struct co_url {
    char *scheme; /* lower-cased: postgres, postgresql, redis, rediss, ... */
    char *user;
    char *password;
    char *host;  /* without brackets */
    int port;    /* 0 when absent */
    char *path;  /* without the leading '/', e.g. the database name */
    char *query; /* raw, without '?' */
};

/* Returns 0, or -1 with a reason in err (which never holds a secret). */
int co_url_parse(const char *s, struct co_url *u, char *err, size_t errlen);
void co_url_free(struct co_url *u);
/* The port the scheme implies when none is given (5432, 6379, 443, 80). */
int co_url_default_port(const char *scheme);
/* Value of query parameter `key` (decoded, owned) or NULL. */
char *co_url_query_get(const struct co_url *u, const char *key);

/* ---- secrets ---------------------------------------------------------- */

/* Registers a secret value (copied) that co_mask hides wherever it
 * appears. Thread-safe. Values shorter than 4 bytes are ignored (masking
 * "1" everywhere would destroy reports and hide nothing). */
void co_secret_register(const char *secret);
/* Registers the password and secret query parameters of a URL. */
void co_secret_register_url(const char *url);
void co_secret_clear(void);

/* Returns a newly allocated copy of s with secrets replaced by "***":
 * the password of any scheme://user:password@ URL, the values of
 * query parameters named like password, secret, token, key, auth,
 * credential, signature, and every registered secret. NULL -> NULL. */
char *co_mask(const char *s);

#endif
