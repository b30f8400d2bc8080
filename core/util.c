/*
 * util.c - growable strings, string lists and sets, UTF-8 cuts,
 * allocation, time, deadlines, durations, globbing, "did you mean" and
 * logging.
 *
 * Allocation failure aborts: cutover is a short-lived CLI and has no
 * useful way to continue without memory, and checking every strdup
 * would triple the error paths without making a report more truthful.
 */
#include "cutover/util.h"

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- allocation ------------------------------------------------------- */

_Noreturn void co_oom(void)
{
    fputs("cutover: out of memory\n", stderr);
    abort();
}

void *co_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        co_oom();
    return p;
}

void *co_calloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (p == NULL)
        co_oom();
    return p;
}

void *co_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        co_oom();
    return q;
}

char *co_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    return co_strndup(s, strlen(s));
}

char *co_strndup(const char *s, size_t n)
{
    char *p = co_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *co_asprintf(const char *fmt, ...)
{
    struct co_buf b;
    va_list ap;

    co_buf_init(&b);
    va_start(ap, fmt);
    co_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    return co_buf_take(&b);
}

/* ---- growable string -------------------------------------------------- */

void co_buf_init(struct co_buf *b)
{
    b->s = NULL;
    b->len = 0;
    b->cap = 0;
}

void co_buf_free(struct co_buf *b)
{
    free(b->s);
    co_buf_init(b);
}

static void buf_reserve(struct co_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 64;

    if (need <= b->cap)
        return;
    while (cap < need)
        cap *= 2;
    b->s = co_realloc(b->s, cap);
    b->cap = cap;
}

void co_buf_add(struct co_buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void co_buf_puts(struct co_buf *b, const char *s)
{
    co_buf_add(b, s, strlen(s));
}

void co_buf_vaddf(struct co_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    buf_reserve(b, (size_t)n);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void co_buf_addf(struct co_buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    co_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

char *co_buf_take(struct co_buf *b)
{
    char *s = b->s ? b->s : co_strdup("");

    co_buf_init(b);
    return s;
}

int co_buf_write(const struct co_buf *b, FILE *f)
{
    errno = 0;
    if (fwrite(b->s, 1, b->len, f) != b->len || ferror(f)) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* ---- UTF-8 ------------------------------------------------------------ */

size_t co_utf8_floor(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* ---- string list ------------------------------------------------------ */

void co_strlist_add(struct co_strlist *l, const char *s)
{
    l->v = co_realloc(l->v, (l->n + 1) * sizeof(*l->v));
    l->v[l->n++] = co_strdup(s);
}

void co_strlist_free(struct co_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

bool co_strlist_has(const struct co_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

/* ---- string set ------------------------------------------------------- */

uint64_t co_fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The slot of s: its own, or the empty one where it would go. The table
 * is never full (co_strset_add keeps it at most half full). */
static size_t strset_find(const struct co_strset *set, const char *s)
{
    size_t mask = set->cap - 1;
    size_t i = (size_t)co_fnv1a(s, strlen(s)) & mask;

    while (set->slot[i].key != NULL && strcmp(set->slot[i].key, s) != 0)
        i = (i + 1) & mask;
    return i;
}

static void strset_grow(struct co_strset *set)
{
    struct co_strset bigger = {NULL, set->cap ? set->cap * 2 : 64, set->n};

    bigger.slot = co_calloc(bigger.cap, sizeof(*bigger.slot));
    for (size_t i = 0; i < set->cap; i++)
        if (set->slot[i].key != NULL)
            bigger.slot[strset_find(&bigger, set->slot[i].key)] = set->slot[i];
    free(set->slot);
    *set = bigger;
}

bool co_strset_add(struct co_strset *set, const char *s)
{
    size_t i;

    if ((set->n + 1) * 2 > set->cap)
        strset_grow(set);
    i = strset_find(set, s);
    if (set->slot[i].key != NULL)
        return false;
    set->slot[i].key = co_strdup(s);
    set->slot[i].count = 0;
    set->n++;
    return true;
}

bool co_strset_has(const struct co_strset *set, const char *s)
{
    return set->cap > 0 && set->slot[strset_find(set, s)].key != NULL;
}

unsigned *co_strset_count(struct co_strset *set, const char *s)
{
    size_t i;

    if (set->cap == 0)
        return NULL;
    i = strset_find(set, s);
    return set->slot[i].key != NULL ? &set->slot[i].count : NULL;
}

void co_strset_free(struct co_strset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slot[i].key);
    free(set->slot);
    memset(set, 0, sizeof(*set));
}

/* ---- time ------------------------------------------------------------- */

int64_t co_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double co_now_precise_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double co_wall_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int co_slice_ms(int64_t deadline, int slice)
{
    int64_t left = deadline - co_now_ms();

    if (left <= 0)
        return 0;
    return left > slice ? slice : (int)left;
}

int64_t co_deadline_cap(int64_t deadline, int64_t ms)
{
    int64_t now = co_now_ms();

    if (ms > 0 && now + ms < deadline)
        return now + ms;
    return deadline;
}

bool co_cancelled(const atomic_int *cancel)
{
    return cancel != NULL && atomic_load(cancel) != 0;
}

int co_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(cond, lock, &ts);
}

/* ---- threads ----------------------------------------------------------- */

struct par {
    size_t n;
    atomic_size_t next;
    co_parallel_fn fn;
    void *ctx;
};

static void *par_main(void *arg)
{
    struct par *p = arg;

    for (size_t i = atomic_fetch_add(&p->next, 1); i < p->n;
         i = atomic_fetch_add(&p->next, 1))
        p->fn(p->ctx, i);
    return NULL;
}

void co_parallel(size_t n, size_t workers, co_parallel_fn fn, void *ctx)
{
    struct par p = {.n = n, .fn = fn, .ctx = ctx};
    pthread_t *th;
    size_t started = 0;

    atomic_init(&p.next, 0);
    if (workers > n)
        workers = n;
    th = workers > 1 ? co_calloc(workers - 1, sizeof(*th)) : NULL;
    for (size_t k = 0; k + 1 < workers; k++)
        if (pthread_create(&th[started], NULL, par_main, &p) == 0)
            started++;
    par_main(&p);
    for (size_t k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    free(th);
}

/* Unit table for durations, longest suffix first so "ms" wins over "m". */
static const struct {
    const char *suffix;
    int64_t ms;
} duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0},
};

int co_duration_parse(const char *s, int64_t *ms)
{
    int64_t total = 0;
    const char *p = s;

    if (s == NULL || *s == '\0')
        return -1;
    while (*p) {
        char *end;
        long long n;
        size_t i;

        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        n = strtoll(p, &end, 10);
        if (errno || n > 100LL * 24 * 3600 * 1000)
            return -1;
        if (*end == '\0') {
            /* A bare number is seconds, but only on its own. */
            if (p != s)
                return -1;
            total = n * 1000;
            break;
        }
        for (i = 0; duration_units[i].suffix; i++) {
            size_t l = strlen(duration_units[i].suffix);
            if (strncmp(end, duration_units[i].suffix, l) == 0 &&
                !(l == 1 && end[0] == 'm' && end[1] == 's'))
                break;
        }
        if (duration_units[i].suffix == NULL)
            return -1;
        total += n * duration_units[i].ms;
        p = end + strlen(duration_units[i].suffix);
    }
    if (total > 100LL * 24 * 3600 * 1000)
        return -1;
    *ms = total;
    return 0;
}

void co_duration_format(int64_t ms, char *out, size_t outlen)
{
    if (ms % 3600000 == 0 && ms >= 3600000)
        snprintf(out, outlen, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0 && ms >= 60000)
        snprintf(out, outlen, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(out, outlen, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, outlen, "%lldms", (long long)ms);
}

/* ---- ports ------------------------------------------------------------ */

int co_port_parse(const char *s, size_t n, int *port)
{
    long v = 0;

    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* ---- matching --------------------------------------------------------- */

bool co_glob_match(const char *pattern, const char *s)
{
    return fnmatch(pattern, s, 0) == 0;
}

size_t co_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = co_calloc(lb + 1, sizeof(*row));
    size_t d;

    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    d = row[lb];
    free(row);
    return d;
}

const char *co_suggest(const char *s, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    /* Allow about a third of the word to be wrong, at least 2 edits. */
    size_t limit = strlen(s) / 3 < 2 ? 2 : strlen(s) / 3;

    for (size_t i = 0; i < n; i++) {
        size_t d;

        if (candidates[i] == NULL)
            continue;
        d = co_edit_distance(s, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

/* ---- logging ---------------------------------------------------------- */

static enum co_loglevel log_level = CO_LOG_WARN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void co_log_set_level(enum co_loglevel lvl)
{
    log_level = lvl;
}

void co_log(enum co_loglevel lvl, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    struct co_buf b;
    va_list ap;
    char *masked;

    if (lvl > log_level)
        return;
    co_buf_init(&b);
    va_start(ap, fmt);
    co_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    masked = co_mask(b.s ? b.s : "");
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "cutover: %s: %s\n", names[lvl], masked);
    pthread_mutex_unlock(&log_lock);
    free(masked);
    co_buf_free(&b);
}
